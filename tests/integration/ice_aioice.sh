#!/usr/bin/env bash
# The ICE agent (client/ice, through tests/client/ice_peer) against Debian's
# python3-aioice (ice_aioice.py), in a private network namespace:
#
#   ice_aioice.sh TWIST-RELAY ICE_PEER CASE
#
#   direct-controlling, direct-controlled   host candidates on a dummy link
#       (veth ice13a-v0/v1: 192.0.2.1, 192.0.2.2; aioice skips loopback)
#   relay-udp-*, relay-tcp-*   relay-only on both sides through twist-relay
#       (TURN over UDP or TCP, user demo/demo, 127.0.0.1:3697)
#   conflict-487-recv   both controlling; ours has the smaller tie-breaker
#       and checks first: aioice answers 487, we switch
#   conflict-487-sent   both controlling; ours has the larger one and
#       aioice checks first: we answer 487, aioice switches
#   nice-direct, nice-relay   the other side is libnice (tests/client/
#       nice_peer.c, the 4th argument) instead of aioice: direct, and
#       relayed through twist-relay over TURN UDP (libnice force-relay)
#   unreachable60   no aioice: 60 remote candidates nobody answers, two
#       local addresses (120 pairs): at most 100 checks, one per Ta tick
#       (the agent's own tick numbers, from its debug log)
#
# Every connecting case sends 1,000 datagrams each way and wants all back.
set -u
RELAY=${1:?usage: ice_aioice.sh TWIST-RELAY ICE_PEER CASE}
PEER=${2:?}
CASE=${3:?}
NICE_PEER=${4:-}
TW_NAME=ice_aioice_$CASE
TW_PORT=3697
TW_METRICS_PORT=9697
. "$(dirname "$0")/lib.sh"

PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3
"$PY" -c 'import aioice' 2>/dev/null || tw_fail "aioice missing: apt-get install python3-aioice"
[ -x "$PEER" ] || tw_fail "ice_peer '$PEER' not built"
tw_need ip iproute2
[ "${TW_IN_NETNS:-}" = 1 ] || tw_fail "needs a private network namespace (root, unshare -n)"
tw_tmpdir
tw_trap

# Both ends of one veth pair in this namespace (no dummy module needed).
ip link add ice13a-v0 type veth peer name ice13a-v1 && ip addr add 192.0.2.1/24 dev ice13a-v0 &&
	ip addr add 192.0.2.2/24 dev ice13a-v1 && ip link set ice13a-v0 up &&
	ip link set ice13a-v1 up || tw_fail "veth pair ice13a-v0/ice13a-v1"

COUNT=1000
TURN=127.0.0.1:$TW_PORT
C_ARGS=(--dir "$TW_TMP" --name c --peer py --count $COUNT --timeout 90)
P_ARGS=(--dir "$TW_TMP" --name py --peer c --count $COUNT --timeout 90)

# run_pair: both sides; each must exit 0 within the bound.
run_pair() {
	local cpid ppid i
	if [[ $CASE == nice-* ]]; then
		[ -x "$NICE_PEER" ] || tw_fail "nice_peer '$NICE_PEER' not built (libnice-dev)"
		tw_start libnice "$TW_TMP/py.log" "$NICE_PEER" "${P_ARGS[@]}"
	else
		tw_start aioice "$TW_TMP/py.log" "$PY" "$(dirname "$0")/ice_aioice.py" "${P_ARGS[@]}"
	fi
	ppid=$TW_LAST_PID
	tw_start ice_peer "$TW_TMP/c.log" "$PEER" "${C_ARGS[@]}"
	cpid=$TW_LAST_PID
	for ((i = 0; i < 1200; i++)); do
		tw_running $cpid || tw_running $ppid || break
		sleep 0.1
	done
	tw_stop $cpid
	C_RC=$TW_STOP_STATUS
	tw_forget $cpid
	tw_stop $ppid
	P_RC=$TW_STOP_STATUS
	tw_forget $ppid
	C_RES=$(grep '^RESULT' "$TW_TMP/c.log" | tail -n 1)
	P_RES=$(grep '^RESULT' "$TW_TMP/py.log" | tail -n 1)
	tw_log "ice_peer: ${C_RES:-no RESULT} (exit $C_RC)"
	tw_log "aioice:   ${P_RES:-no RESULT} (exit $P_RC)"
	[ "$C_RC" = 0 ] || tw_fail "ice_peer exited with $C_RC"
	[ "$P_RC" = 0 ] || tw_fail "aioice side exited with $P_RC"
}

# field LINE KEY: the value of KEY=... in a RESULT line.
field() { sed -n "s/.* $2=\([^ ]*\).*/\1/p" <<<"$1"; }

check_stream() {
	[ "$(field "$C_RES" pongs)" = $COUNT ] || tw_fail "ice_peer got $(field "$C_RES" pongs) of $COUNT pongs"
	[ "$(field "$P_RES" pongs)" = $COUNT ] || tw_fail "aioice got $(field "$P_RES" pongs) of $COUNT pongs"
	[ "$(field "$C_RES" pings_in)" -ge $COUNT ] || tw_fail "ice_peer answered $(field "$C_RES" pings_in) pings"
	[ "$(field "$C_RES" checks_same_tick)" = 0 ] || tw_fail "two checks in one Ta tick"
}

# want_selected RESULT LOCALTYPE REMOTETYPE_REGEX
want_selected() {
	local s
	s=$(field "$1" selected)
	[[ $s =~ ^$2:($3)$ ]] || tw_fail "selected pair $s, expected $2:$3"
}

case $CASE in
direct-controlling | direct-controlled)
	role=${CASE#direct-}
	other=controlled
	[ "$role" = controlled ] && other=controlling
	C_ARGS+=(--role "$role" --host 192.0.2.1)
	P_ARGS+=(--role $other)
	run_pair
	check_stream
	want_selected "$C_RES" host 'host|prflx'
	[ "$(field "$C_RES" role)" = "$role" ] || tw_fail "ice_peer ended $(field "$C_RES" role)"
	;;
relay-udp-* | relay-tcp-*)
	role=${CASE##*-}
	other=controlled
	[ "$role" = controlled ] && other=controlling
	tr=udp
	[[ $CASE == relay-tcp-* ]] && tr=tcp
	tw_start_relay "$RELAY"
	C_ARGS+=(--role "$role" --relay-only --turn $TURN --turn-user demo --turn-pass demo)
	[ $tr = tcp ] && C_ARGS+=(--turn-tcp)
	P_ARGS+=(--role $other --relay-only --turn $TURN --turn-transport $tr)
	run_pair
	check_stream
	want_selected "$C_RES" relay 'relay|prflx'
	tw_stop_relay
	;;
conflict-487-recv)
	C_ARGS+=(--role controlling --host 192.0.2.1 --tie-breaker 1)
	P_ARGS+=(--role controlling --delay-ms 2000)
	run_pair
	check_stream
	[ "$(field "$C_RES" resp_487_recv)" -ge 1 ] || tw_fail "no 487 reached ice_peer"
	[ "$(field "$C_RES" role)" = controlled ] || tw_fail "ice_peer did not switch to controlled"
	;;
conflict-487-sent)
	C_ARGS+=(--role controlling --host 192.0.2.1 --tie-breaker 18446744073709551615 --delay-ms 2000)
	P_ARGS+=(--role controlling)
	run_pair
	check_stream
	[ "$(field "$C_RES" resp_487_sent)" -ge 1 ] || tw_fail "ice_peer sent no 487"
	[ "$(field "$C_RES" role)" = controlling ] || tw_fail "ice_peer lost its role"
	[ "$(field "$P_RES" role)" = controlled ] || tw_fail "aioice did not switch to controlled"
	;;
nice-direct)
	C_ARGS+=(--role controlling --host 192.0.2.1)
	P_ARGS+=(--role controlled --host 192.0.2.2)
	run_pair
	check_stream
	want_selected "$C_RES" host 'host|prflx'
	;;
nice-relay)
	tw_start_relay "$RELAY"
	C_ARGS+=(--role controlled --relay-only --turn $TURN --turn-user demo --turn-pass demo)
	P_ARGS+=(--role controlling --turn 127.0.0.1 --turn-port $TW_PORT)
	run_pair
	check_stream
	want_selected "$C_RES" relay 'relay|prflx'
	[ "$(field "$P_RES" selected)" = relay:relay ] || tw_fail "libnice selected $(field "$P_RES" selected)"
	tw_stop_relay
	;;
unreachable60)
	ip route add 203.0.113.0/24 dev ice13a-v0 || tw_fail "route to 203.0.113.0/24"
	{
		echo abcd
		echo 0123456789012345678901
		for i in $(seq 1 60); do echo "f$i 1 udp $((2130706431 - i)) 203.0.113.$i $((5000 + i)) typ host"; done
		echo end
	} >"$TW_TMP/py.offer"
	timeout -k 5 60 "$PEER" "${C_ARGS[@]}" --role controlling --host 192.0.2.1 --host 192.0.2.2 \
		--unreachable 10 -v >"$TW_TMP/c.log" 2>&1 || tw_fail "ice_peer failed: $(tail -n 5 "$TW_TMP/c.log")"
	C_RES=$(grep '^RESULT' "$TW_TMP/c.log" | tail -n 1)
	tw_log "ice_peer: $C_RES"
	checks=$(field "$C_RES" checks_sent)
	lines=$(grep -c 'ice: check [0-9]* tick [0-9]*' "$TW_TMP/c.log")
	ticks=$(sed -n 's/.*ice: check [0-9]* tick \([0-9]*\) .*/\1/p' "$TW_TMP/c.log" | sort -u | wc -l)
	tw_log "checks sent $checks, logged $lines, in $ticks distinct Ta ticks"
	[ "$checks" -le 100 ] || tw_fail "$checks checks for 60 unreachable candidates (cap 100)"
	[ "$checks" -ge 60 ] || tw_fail "only $checks checks in 10 s (the list was not worked through)"
	[ "$lines" = "$checks" ] || tw_fail "the log shows $lines checks, the counter $checks"
	[ "$ticks" = "$lines" ] || tw_fail "$lines checks in only $ticks Ta ticks: not paced"
	[ "$(field "$C_RES" checks_same_tick)" = 0 ] || tw_fail "checks_same_tick is not 0"
	;;
*) tw_fail "unknown case $CASE" ;;
esac
tw_pass "$CASE"
