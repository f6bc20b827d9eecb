#!/usr/bin/env bash
# The ChannelData fast path (docs/fastpath.md) in a veth lab of its own
# (tests/integration/fastpath_lab.sh: namespaces fp15-*).
#
#   fastpath.sh RELAY_BINARY MODE
#
#   verifier  the relay loads and attaches the TC programs in the relay's
#             namespace; bpftool sees the program, its maps and the filters
#   uclient   turnutils_uclient in channel mode, IPv4 then IPv6, fast path
#             on: every message comes back, twist_fastpath_packets_total
#             proves the program carried them, and twist_packets_total and
#             twist_bytes_total equal what the clients and the peer sent
#   off       the same run with fastpath.enabled off, then with auto in a
#             relay without CAP_BPF, CAP_SYS_ADMIN, CAP_NET_ADMIN and
#             CAP_PERFMON: the user-space path, the one log line that says
#             why, no filter and no fast-path packet; totals exact
#   webrtc    Chromium's data channel with relay-only ICE in the client
#             namespace, its remote a second Chromium in the peer namespace
#             on its host address (webrtc/fastpath.mjs): every message
#             arrives in order, and twist_fastpath_packets_total grows both
#             ways: the program carried the DTLS/SCTP datagrams
#   cases     the relay as an HA standby: a twist-syncd pair and a fake
#             active relay (tests/bench/standby_ready feed) replicate one
#             flow whose permission has FP_PERM_LIFETIME s left; fastpath.py
#             checks the standby's maps hold it and carry it both ways,
#             that twistctl sessions shows the flow's bytes each way (the
#             program's per-channel counters) and the totals equal them,
#             that hostile ChannelData is never forwarded by the program,
#             and that nothing is forwarded once the permission expired
set -uo pipefail
BIN=${1:-}
MODE=${2:-}
# shellcheck disable=SC2034 # both read by lib.sh; named namespaces of its own
{
	TW_NAME=fastpath-${MODE:-?}
	TWIST_TEST_NETNS=0
}
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source=fastpath_lab.sh
. "$(dirname "$0")/fastpath_lab.sh"

HERE=$(cd "$(dirname "$0")" && pwd)
CLIENTS=${TWIST_UCLIENT_CLIENTS:-10}
MESSAGES=${TWIST_UCLIENT_MESSAGES:-200}
FP_METRICS_PORT=9715

[ -x "$BIN" ] || tw_fail "twist-relay binary '$BIN' not found (build first)"
[ "$(id -u)" = 0 ] || tw_fail "needs root (network namespaces, BPF)"
tw_need ip iproute2
tw_need curl curl
tw_need bpftool bpftool
tw_need turnutils_uclient coturn
tw_need turnutils_peer coturn
tw_need timeout coreutils
tw_need python3 python3

tw_trap
tw_tmpdir
fp_lab_up $$

# start_relay FASTPATH [EXTRA_YAML]; RELAY_WRAP: a command to run it under.
start_relay() {
	fp_lab_config "$TW_TMP/relay.yaml" "$1" "$FP_METRICS_PORT" "${2:-}"
	"$BIN" --check-config "$TW_TMP/relay.yaml" >"$TW_TMP/check.log" 2>&1 ||
		tw_fail "config refused: $(cat "$TW_TMP/check.log")"
	# shellcheck disable=SC2086 # RELAY_WRAP is a list of words
	tw_start twist-relay "$TW_TMP/relay.log" ip netns exec "$FP_RLY" ${RELAY_WRAP:-} "$BIN" \
		-c "$TW_TMP/relay.yaml"
	TW_RELAY_PID=$TW_LAST_PID
	local i
	for i in $(seq 1 300); do
		ip netns exec "$FP_RLY" curl -sf --max-time 2 "http://127.0.0.1:$FP_METRICS_PORT/health" \
			>/dev/null 2>&1 && break
		tw_running "$TW_RELAY_PID" || tw_fail "the relay exited at start"
		sleep 0.1
	done
	[ "$i" -lt 300 ] || tw_fail "the relay did not answer /health within 30 s"
}

start_peer() {
	tw_start turnutils_peer "$TW_TMP/peer.log" ip netns exec "$FP_PEER" \
		turnutils_peer -p 3480 -L "$FP_PEER_IP" -L "$FP_PEER_IP6"
	sleep 0.5
}

# uclient SERVER PEER: 10 clients x 200 messages over channels; sets SENT.
uclient() {
	local ulog=$TW_TMP/uclient-$1.log rc why
	TW_EXTRA_LOGS="${TW_EXTRA_LOGS:-} $ulog"
	tw_log "turnutils_uclient -m $CLIENTS -n $MESSAGES ... -e $2 $1"
	timeout -k 5 120 ip netns exec "$FP_CLI" turnutils_uclient -m "$CLIENTS" -n "$MESSAGES" \
		-u demo -w demo -e "$2" -r 3480 -p 3478 "$1" </dev/null >"$ulog" 2>&1
	rc=$?
	[ $rc -eq 124 ] && tw_fail "turnutils_uclient did not finish within 120 s"
	why=$(tw_uclient_check "$ulog" "$rc" "$((CLIENTS * MESSAGES))") || tw_fail "$1: $why"
	tw_log "$1: $why"
}

# totals_match MSGS LEN FASTPATH: the Prometheus totals equal what was sent.
totals_match() {
	local n=$1 len=$2 k v want
	for k in client_in peer_out peer_in client_out; do
		want=$n
		v=$(fp_metric "twist_packets_total{dir=\"$k\"}")
		[ "$v" = "$want" ] || tw_fail "twist_packets_total{dir=\"$k\"} is $v, clients and peer sent $want"
		want=$((n * len))
		[ $k = client_out ] && want=$((n * (len + 4)))
		v=$(fp_metric "twist_bytes_total{dir=\"$k\"}")
		[ "$v" = "$want" ] || tw_fail "twist_bytes_total{dir=\"$k\"} is $v, want $want"
	done
	tw_log "totals exact: $n packets, $((n * len)) data bytes each way"
}

fp_packets() {
	echo $(($(fp_metric 'twist_fastpath_packets_total{dir="client_to_peer"}') + \
		$(fp_metric 'twist_fastpath_packets_total{dir="peer_to_client"}')))
}

case $MODE in
verifier)
	start_relay on
	grep -q "fastpath: TC programs attached" "$TW_TMP/relay.log" || tw_fail "no attach line in the log"
	ip netns exec "$FP_RLY" bpftool prog show >"$TW_TMP/prog.txt" 2>&1
	grep -q "sched_cls  name fp_ingress" "$TW_TMP/prog.txt" ||
		tw_fail "bpftool prog does not show fp_ingress: $(cat "$TW_TMP/prog.txt")"
	ip netns exec "$FP_RLY" bpftool net show >"$TW_TMP/net.txt" 2>&1
	for dev in fp15r0 fp15r1; do
		grep -q "^$dev([0-9]*) clsact/ingress fp_ingress" "$TW_TMP/net.txt" ||
			tw_fail "fp_ingress not attached at $dev ingress: $(cat "$TW_TMP/net.txt")"
	done
	ip netns exec "$FP_RLY" bpftool map show >"$TW_TMP/map.txt" 2>&1
	for m in fp_c2p fp_p2c fp_chan fp_stats; do
		grep -q "name $m " "$TW_TMP/map.txt" || tw_fail "map $m missing: $(cat "$TW_TMP/map.txt")"
	done
	[ "$(fp_metric twist_fastpath_enabled)" = 1 ] || tw_fail "twist_fastpath_enabled is not 1"
	tw_stop_relay
	ip netns exec "$FP_RLY" bpftool net show >"$TW_TMP/net2.txt" 2>&1
	grep -q fp_ingress "$TW_TMP/net2.txt" && tw_fail "filters left after the relay stopped"
	tw_pass "programs pass the verifier, attach at ingress of both interfaces, and go at exit"
	;;
uclient)
	start_relay on
	start_peer
	# Packets from the client's socket arrive CHECKSUM_PARTIAL; the kernel
	# completes them from csum_start on the way out, and the ends verify.
	fp_lab_offload partial
	uclient "$FP_LISTEN_IP" "$FP_PEER_IP"
	fast=$(fp_packets)
	tw_log "fast path packets, IPv4, CHECKSUM_PARTIAL: $fast"
	# Offloads off: full checksums, verified by the peer's and client's stacks.
	fp_lab_offload off
	uclient "$FP_LISTEN_IP" "$FP_PEER_IP"
	fast4=$(($(fp_packets) - fast))
	tw_log "fast path packets, IPv4, offloads off: $fast4"
	uclient "$FP_LISTEN_IP6" "$FP_PEER_IP6"
	fast6=$(($(fp_packets) - fast - fast4))
	tw_log "fast path packets, IPv6, offloads off: $fast6"
	for n in "$fast" "$fast4" "$fast6"; do
		[ "$n" -gt 0 ] || tw_fail "twist_fastpath_packets_total did not grow in a run: the program carried nothing"
	done
	for ns in "$FP_CLI" "$FP_PEER"; do
		e=$(fp_csum_errors "$ns")
		[ "$e" = 0 ] || tw_fail "$ns dropped $e UDP datagrams for a bad checksum"
	done
	totals_match $((3 * CLIENTS * MESSAGES)) 100
	[ "$(fp_metric 'twist_fastpath_fallbacks_total{reason="dropped"}')" = 0 ] ||
		tw_fail "packets were lost after a helper failed"
	tw_stop_relay
	tw_pass "uclient over the fast path: $fast + $fast4 (IPv4) + $fast6 (IPv6) packets by the program, checksums verified, totals exact"
	;;
off)
	tw_need setpriv util-linux
	start_peer
	for how in off unprivileged; do
		if [ $how = off ]; then
			start_relay off
			line="fastpath: off (fastpath.enabled): ChannelData takes the user-space path"
		else
			RELAY_WRAP="setpriv --bounding-set -bpf,-sys_admin,-net_admin,-perfmon --inh-caps -all --"
			start_relay auto
			RELAY_WRAP=
			line="fastpath: cannot load the BPF programs: Operation not permitted (needs CAP_BPF"
		fi
		uclient "$FP_LISTEN_IP" "$FP_PEER_IP"
		grep -qF "$line" "$TW_TMP/relay.log" || tw_fail "$how: no log line '$line'"
		[ "$(grep -c "fastpath:" "$TW_TMP/relay.log")" = 1 ] || tw_fail "$how: more than one fastpath line"
		[ "$(fp_metric twist_fastpath_enabled)" = 0 ] || tw_fail "$how: twist_fastpath_enabled is not 0"
		[ "$(fp_packets)" = 0 ] || tw_fail "$how: fast path packets"
		ip netns exec "$FP_RLY" bpftool net show 2>&1 | grep -q fp_ingress && tw_fail "$how: a filter is attached"
		totals_match $((CLIENTS * MESSAGES)) 100
		tw_stop_relay
		tw_log "$how: user-space path, said in one line, totals exact"
	done
	tw_pass "fast path off and unprivileged: user-space path, logged, totals exact"
	;;
webrtc)
	tw_need node "nodejs (any node >= 18)"
	[ -x "${CHROMIUM:-/usr/bin/chromium}" ] ||
		tw_fail "${CHROMIUM:-/usr/bin/chromium} not found: apt-get install chromium (scripts/setup.sh does)"
	[ -f "$HERE/webrtc/node_modules/playwright-core/package.json" ] ||
		tw_fail "playwright-core missing: run 'npm ci' in $HERE/webrtc (scripts/setup.sh does)"
	start_relay on
	# Browser B, in the peer namespace: playwright talks to it over the
	# pipes it inherits through ip netns exec.
	printf '#!/bin/sh\nexec ip netns exec %s %s "$@"\n' "$FP_PEER" "${CHROMIUM:-/usr/bin/chromium}" \
		>"$TW_TMP/peer-chromium"
	chmod +x "$TW_TMP/peer-chromium"
	c0=$(fp_metric 'twist_fastpath_packets_total{dir="client_to_peer"}')
	p0=$(fp_metric 'twist_fastpath_packets_total{dir="peer_to_client"}')
	timeout -k 10 240 ip netns exec "$FP_CLI" node "$HERE/webrtc/fastpath.mjs" --host "$FP_LISTEN_IP" \
		--port 3478 --peer-chromium "$TW_TMP/peer-chromium" --count 200 --timeout 120 </dev/null ||
		tw_fail "Chromium's data channel through the fast path failed (see above)"
	c=$(($(fp_metric 'twist_fastpath_packets_total{dir="client_to_peer"}') - c0))
	p=$(($(fp_metric 'twist_fastpath_packets_total{dir="peer_to_client"}') - p0))
	tw_log "the program carried $c datagrams to the peer and $p to the client"
	[ "$c" -gt 0 ] && [ "$p" -gt 0 ] ||
		tw_fail "twist_fastpath_packets_total did not grow both ways ($c, $p): the program carried nothing"
	[ "$(fp_metric 'twist_fastpath_fallbacks_total{reason="dropped"}')" = 0 ] ||
		tw_fail "packets were lost after a helper failed"
	tw_stop_relay
	tw_pass "Chromium relay-only through the fast path: 200 messages, $c + $p datagrams by the program"
	;;
cases)
	SYNCD=$(dirname "$BIN")/twist-syncd
	HELPER=$(dirname "$BIN")/standby_ready
	TWISTCTL=$(dirname "$BIN")/twistctl
	[ -x "$TWISTCTL" ] || tw_fail "$TWISTCTL not found (build twistctl)"
	FP_CONTROL_SOCK=$TW_TMP/control.sock
	[ -x "$SYNCD" ] || tw_fail "$SYNCD not found (build twist-syncd)"
	[ -x "$HELPER" ] || tw_fail "$HELPER not found (build standby_ready)"
	mkdir -p "$TW_TMP/a" "$TW_TMP/b"
	echo master >"$TW_TMP/a/role"
	echo backup >"$TW_TMP/b/role"
	PERM_LIFETIME=20
	syncd() { # NAME NODE PEER LISTEN_PORT PEER_PORT METRICS_PORT
		tw_start "syncd-$1" "$TW_TMP/$1/syncd.log" ip netns exec "$FP_RLY" "$SYNCD" \
			--node-id "$2" --peer-id "$3" --listen "tcp://127.0.0.1:$4" --peer "tcp://127.0.0.1:$5" \
			--ipc-dir "$TW_TMP/$1" --role-file "$TW_TMP/$1/role" --metrics "127.0.0.1:$6"
	}
	# The active side: syncd A and a fake relay holding the one flow.
	syncd a 1 2 9721 9722 9723
	tw_start feed "$TW_TMP/a/feed.log" ip netns exec "$FP_RLY" "$HELPER" feed --ipc "$TW_TMP/a" \
		--n 1 --listen "$FP_LISTEN_IP:3478" --relay-ip "$FP_RELAY_IP" --port-min 50000 \
		--peer "$FP_PEER_IP:40001" --client-ip "$FP_CLI_IP" --client-port 40000 \
		--lifetime 600 --perm-lifetime $PERM_LIFETIME --timeout-ms 600000
	# The standby: this relay, then its syncd (the relay retries the ipc).
	start_relay on "ha: { enabled: true, ipc_dir: \"$TW_TMP/b\" }"
	syncd b 2 1 9722 9721 9724
	FP_CLI=$FP_CLI FP_PEER=$FP_PEER FP_RLY=$FP_RLY FP_METRICS_PORT=$FP_METRICS_PORT \
		FP_PERM_LIFETIME=$PERM_LIFETIME FP_TWISTCTL=$TWISTCTL FP_CONTROL_SOCK=$FP_CONTROL_SOCK \
		timeout -k 5 180 python3 "$HERE/fastpath.py" ||
		tw_fail "fastpath.py failed"
	tw_stop_relay
	tw_pass "standby maps filled from a replicated flow; per-allocation and total bytes exact; hostile ChannelData never forwarded by the program; nothing forwarded after the permission expired"
	;;
*) tw_fail "usage: fastpath.sh RELAY_BINARY verifier|uclient|off|webrtc|cases" ;;
esac
