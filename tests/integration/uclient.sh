#!/usr/bin/env bash
# coturn's turnutils_uclient against the relay under test.
#
#   uclient.sh RELAY_BINARY MODE
#
# RELAY_BINARY is twist-relay (ignored when TWIST_TEST_SERVER=coturn, which
# validates this test against coturn's turnserver). MODE is one of:
#   udp       UDP client, data over channels (ChannelData), IPv4
#   udp-send  UDP client, data in Send/Data indications (-s), IPv4
#   tcp       TCP client (-t), IPv4
#   udp6      UDP client over ::1, IPv6 relay address (-x), IPv6 peer
#   tcp6      TCP client over ::1, IPv6 relay address (-x), IPv6 peer
#   udp-4to6  UDP client over 127.0.0.1, IPv6 relay address (-x), IPv6 peer
#             (REQUESTED-ADDRESS-FAMILY, RFC 8656 §6.2)
#   rest      TURN REST credentials (-W secret); relay started from a config
#             file with rest_secret
#   badauth   wrong password: uclient must fail, and the output check must
#             reject canned failure outputs (proves this test can fail)
#
# Each run: turnutils_peer (UDP echo) on 127.0.0.1 and ::1, then uclient with
# 10 clients x 200 messages (each client also holds an RTCP allocation made
# with EVEN-PORT/RESERVATION-TOKEN, uclient's default). Pass = uclient exits 0,
# sent == received == 2000, 0 lost, 0 send-dropped, no ERROR line.
set -uo pipefail
# shellcheck disable=SC2034 # read by lib.sh
TW_NAME="uclient-${2:-?}"
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"

BIN=${1:-}
MODE=${2:-}
CLIENTS=${TWIST_UCLIENT_CLIENTS:-10}
MESSAGES=${TWIST_UCLIENT_MESSAGES:-200}
UCLIENT_TIMEOUT=${TWIST_UCLIENT_TIMEOUT:-120}
read -r -a EXTRA <<<"${TWIST_UCLIENT_EXTRA:-}" # e.g. -v, for debugging

# The checker itself must reject failures; canned outputs from real runs.
selftest_check_output() {
	local f=$TW_TMP/canned.log why
	printf '%s\n' '10: : start_mclient: tot_send_msgs=2000, tot_recv_msgs=2000' \
		'10: : Total lost packets 0 (0.000000%), total send dropped 0 (0.000000%)' >"$f"
	why=$(tw_uclient_check "$f" 0 2000) || tw_fail "checker rejects a clean run: $why"
	why=$(tw_uclient_check "$f" 255 2000) && tw_fail "checker accepts exit status 255"
	why=$(tw_uclient_check "$f" 0 4000) && tw_fail "checker accepts too few sent messages"
	printf '%s\n' '16: : start_mclient: tot_send_msgs=40, tot_recv_msgs=0' \
		'16: : Total lost packets 40 (100.000000%), total send dropped 0 (0.000000%)' >"$f"
	why=$(tw_uclient_check "$f" 0 40) && tw_fail "checker accepts 100% loss"
	printf '%s\n' '10: : start_mclient: tot_send_msgs=2000, tot_recv_msgs=1999' \
		'10: : Total lost packets 0 (0.000000%), total send dropped 0 (0.000000%)' >"$f"
	why=$(tw_uclient_check "$f" 0 2000) && tw_fail "checker accepts a missing message"
	printf '%s\n' '0: : ERROR: Cannot complete Allocation' >"$f"
	why=$(tw_uclient_check "$f" 0 2000) && tw_fail "checker accepts an ERROR line"
	: >"$f"
	why=$(tw_uclient_check "$f" 0 2000) && tw_fail "checker accepts empty output"
	tw_log "output checker rejects all canned failures"
}

[ -n "$MODE" ] || tw_fail "usage: uclient.sh RELAY_BINARY MODE"
server=127.0.0.1
peer=127.0.0.1
relay_mode=plain
auth=(-u "$TW_USER" -w "$TW_PASS")
flags=()
case $MODE in
udp) ;;
udp-send) flags=(-s) ;;
tcp) flags=(-t) ;;
udp6) server=::1 peer=::1 flags=(-x) ;;
tcp6) server=::1 peer=::1 flags=(-t -x) ;;
udp-4to6) peer=::1 flags=(-x) ;;
rest)
	relay_mode=rest
	auth=(-u "$TW_USER" -W "$TW_REST_SECRET")
	;;
badauth) auth=(-u "$TW_USER" -w "not-$TW_PASS") ;;
*) tw_fail "unknown mode '$MODE' (udp udp-send tcp udp6 tcp6 udp-4to6 rest badauth)" ;;
esac

tw_need turnutils_uclient coturn
tw_need turnutils_peer coturn
tw_need timeout coreutils
tw_trap
tw_tmpdir
[ "$MODE" = badauth ] && selftest_check_output

tw_start_relay "$BIN" "$relay_mode"

tw_port_free udp 127.0.0.1 "$TW_PEER_PORT"
tw_port_free udp ::1 "$TW_PEER_PORT"
tw_start turnutils_peer "$TW_TMP/peer.log" turnutils_peer -p "$TW_PEER_PORT" -L 127.0.0.1 -L ::1
peer_pid=$TW_LAST_PID
tw_wait_port udp 127.0.0.1 "$TW_PEER_PORT" "$peer_pid" 10
tw_wait_port udp ::1 "$TW_PEER_PORT" "$peer_pid" 10

expected=$((CLIENTS * MESSAGES))
cmd=(turnutils_uclient "${flags[@]}" ${EXTRA[@]+"${EXTRA[@]}"} -m "$CLIENTS" -n "$MESSAGES" "${auth[@]}"
	-e "$peer" -r "$TW_PEER_PORT" -p "$TW_PORT" "$server")
tw_log "running (at most ${UCLIENT_TIMEOUT}s): ${cmd[*]}"
ulog=$TW_TMP/uclient.log
TW_EXTRA_LOGS="${TW_EXTRA_LOGS:-} $ulog"
start=$SECONDS
timeout -k 5 "$UCLIENT_TIMEOUT" "${cmd[@]}" </dev/null >"$ulog" 2>&1
rc=$?
tw_log "turnutils_uclient exited with status $rc after $((SECONDS - start))s; summary:"
grep -iE 'tot_send_msgs=[0-9]+, tot_recv_msgs=[0-9]+$|Total lost|round trip|error' "$ulog" | head -n 20 | sed 's/^/    /'
[ $rc -eq 124 ] && tw_fail "turnutils_uclient did not finish within ${UCLIENT_TIMEOUT}s"

if [ "$MODE" = badauth ]; then
	why=$(tw_uclient_check "$ulog" "$rc" "$expected") &&
		tw_fail "uclient succeeded with a wrong password: the relay does not check credentials"
	grep -q 'Cannot complete Allocation' "$ulog" ||
		tw_fail "uclient failed, but not with 'Cannot complete Allocation': $why"
	tw_log "rejected as it should be: $why"
	tw_stop_relay
	tw_pass "wrong password refused, output checker proven"
	exit 0
fi

why=$(tw_uclient_check "$ulog" "$rc" "$expected") || tw_fail "$why"
tw_log "$why"
tw_stop_relay
tw_pass "$MODE: $expected messages relayed, none lost"
