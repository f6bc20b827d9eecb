#!/bin/bash
# Issue 10 "TCP survives" in deploy/lab/twist_pair.sh (the HA pair with
# TWIST, a twist-client host behind a NAT, a peer with an HTTP server):
#
#   twist_failover.sh kill    curl downloads big.bin (200 MB) through
#                             twist-client (connect, transport mode) while
#                             the active node is SIGKILLed (keepalived, relay,
#                             syncd, twist-ha, by PID)
#   twist_failover.sh link    the same with the active node's links cut
#   twist_failover.sh kill-tunnel
#                             kill, with twist-client --mode tunnel (RFC 3948
#                             ESP): the standby holds the flow's SPI too
#   twist_failover.sh listen  a peer's open TCP connection to the client's
#                             listen flow, echoing a line every 20 ms across
#                             a SIGKILL of the active
#
# Verdicts: the download's SHA-256 is right, the client's TUN sees no RST,
# the standby held the flow before the failover and the VIP moved; for
# listen, every line comes back on the same connection. The stall (longest
# gap between data segments from the peer on the client's TUN, or between
# echoes) is printed and recorded in $TWIST_CHAOS_OUT, never judged: the
# machine is shared. Needs root; a missing tool fails, naming its package.
set -u
CASE=${1:?usage: twist_failover.sh kill|link|kill-tunnel|listen}
MODE=transport
[ "$CASE" = kill-tunnel ] && MODE=tunnel
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
LABSH=$ROOT/deploy/lab/twist_pair.sh
LISTEN_PY=$HERE/twist_listen.py
OUT=${TWIST_CHAOS_OUT:-$PWD/chaos-out}
RATE=${TWIST_FAILOVER_RATE:-25M} # ~8 s for 200 MB: the failover lands mid-transfer
FAILS=0
PIDS=""

log() { printf '%s twist_failover %s: %s\n' "$(date +%T.%3N)" "$CASE" "$*"; }
fail() {
	log "FAIL: $*"
	FAILS=$((FAILS + 1))
}
die() {
	fail "$*"
	exit 1
}

need() {
	command -v "$1" >/dev/null || die "$1 not found (apt-get install $2)"
}

[ "$(id -u)" = 0 ] || die "needs root (network namespaces, VRRP, TUN devices)"
need keepalived keepalived
need curl curl
need tcpdump tcpdump
need nft nftables
need python3 python3
need sha256sum coreutils
export TWIST_BIN=${TWIST_BIN:-$ROOT/build/bin}
for b in twist-relay twist-syncd twist-ha twist-client; do
	[ -x "$TWIST_BIN/$b" ] || die "$TWIST_BIN/$b not built"
done
mkdir -p "$OUT"
TMP=$(mktemp -d "/tmp/twist_failover_$CASE.XXXXXX")

# start NAME NS CMD...: in the background, PID remembered for cleanup.
start() {
	local name=$1 ns=$2
	shift 2
	(exec ip netns exec "$ns" setsid "$@" </dev/null >"$TMP/$name.log" 2>&1) &
	LAST_PID=$!
	PIDS="$PIDS $LAST_PID"
}

cleanup() {
	local pid
	for pid in $PIDS; do
		[ -d "/proc/$pid" ] && kill -TERM "$pid" 2>/dev/null
	done
	sleep 0.5
	for pid in $PIDS; do
		[ -d "/proc/$pid" ] && kill -KILL "$pid" 2>/dev/null
	done
	if [ "$FAILS" != 0 ] && [ -d "${LAB_DIR:-/nonexistent}" ]; then
		rm -rf "$OUT/twist_failover-$CASE-lab"
		cp -r "$LAB_DIR" "$OUT/twist_failover-$CASE-lab" 2>/dev/null
		cp "$TMP"/*.log "$OUT/twist_failover-$CASE-lab/" 2>/dev/null
		log "logs kept in $OUT/twist_failover-$CASE-lab"
	fi
	"$LABSH" down >/dev/null 2>&1
	rm -rf "$TMP"
}

# wait_for TENTHS CMD...: bounded.
wait_for() {
	local n=$1
	shift
	for _ in $(seq "$n"); do
		"$@" >/dev/null 2>&1 && return 0
		sleep 0.1
	done
	return 1
}

metric() {
	ip netns exec "$1" curl -s -m 1 "http://$RELAY_METRICS/metrics" 2>/dev/null |
		awk -v k="$2" '$1 == k { print $2; exit }'
}

# The standby holds a TWIST flow of that type/proto.
standby_has() {
	[ "$(metric "$NODE_B_NS" "twist_twist_flows{type=\"$1\",proto=\"tcp\"}")" -ge 1 ] 2>/dev/null
}

has_vip_b() {
	ip -n "$NODE_B_NS" -4 addr show dev eth-c | grep -q " $VIP/"
}

fail_active() {
	case $CASE in
	link) "$LABSH" cut-active ;;
	*) "$LABSH" kill-active ;;
	esac
}

start_client() {
	start client "$TWIST_CLIENT_NS" "$TWIST_BIN/twist-client" --server "$VIP:3478" \
		--user demo --password demo --tun twc0 --mode "$MODE" "$@"
	wait_for 200 ip -n "$TWIST_CLIENT_NS" link show twc0 ||
		die "twist-client made no twc0: $(tail -n 3 "$TMP/client.log" | tr '\n' ' ')"
}

capture_on_tun() {
	start tcpdump "$TWIST_CLIENT_NS" tcpdump -i twc0 -n -U -s 96 -w "$TMP/tun.pcap" tcp
	CAP_PID=$LAST_PID
	wait_for 100 grep -q 'listening on' "$TMP/tcpdump.log" || die "tcpdump did not start"
}

# Longest gap between data segments from the peer on the client's TUN.
tun_stall() {
	tcpdump -tt -r "$TMP/tun.pcap" -n "src host $PEER_IP and greater 100" 2>/dev/null |
		awk '{ if (p && $1 - p > m) m = $1 - p; p = $1; n++ }
			END { printf "%d %.3f\n", n, m }'
}

case_download() {
	local want got rsts stall n
	start_client --route "$PEER_IP/32"
	capture_on_tun
	want=$(cat "$BIG_SHA256_FILE")
	start curl "$TWIST_CLIENT_NS" sh -c "curl -sS --limit-rate $RATE --max-time 300 \
		http://$PEER_IP:$HTTP_PORT/big.bin | sha256sum >$TMP/got.sha256"
	CURL_PID=$LAST_PID
	wait_for 200 standby_has connect || die "the standby never held the connect flow"
	sleep 2 # well into the transfer
	log "standby holds the flow; failing the active node ($CASE)"
	fail_active
	wait_for 3000 sh -c "! [ -d /proc/$CURL_PID ]" || fail "curl did not finish in 300 s"
	sleep 1 # the capture's last packets
	kill -TERM "$CAP_PID" 2>/dev/null
	wait_for 50 sh -c "! [ -d /proc/$CAP_PID ]"
	got=$(cut -d' ' -f1 "$TMP/got.sha256" 2>/dev/null)
	rsts=$(tcpdump -r "$TMP/tun.pcap" -n 'tcp[tcpflags] & tcp-rst != 0' 2>/dev/null | wc -l)
	read -r n stall <<<"$(tun_stall)"
	log "SHA-256 $got (want $want), $n data segments from the peer, $rsts RST on the TUN," \
		"stall ${stall} s"
	echo "twist_failover $CASE stall_s $stall segments $n rst $rsts" >>"$OUT/twist_failover.txt"
	[ "$got" = "$want" ] || fail "SHA-256 $got, want $want ($(cat "$TMP/curl.log"))"
	[ "$rsts" = 0 ] || fail "$rsts RST seen by the client's TCP"
	has_vip_b || fail "the VIP did not move to node B"
	# twist-client logs each flow's mode ("relayed ADDR, tunnel mode").
	grep -q "relayed .*, $MODE mode" "$TMP/client.log" ||
		fail "no flow in $MODE mode in twist-client's log"
}

case_listen() {
	local line port res
	start server "$TWIST_CLIENT_NS" python3 "$LISTEN_PY" serve 8000
	start_client --listen tcp:8000
	wait_for 200 grep -q '^listen tcp:8000 relayed ' "$TMP/client.log" ||
		die "twist-client printed no relayed address for tcp:8000"
	line=$(grep -m1 '^listen tcp:8000 relayed ' "$TMP/client.log")
	port=${line##*:}
	log "client's listen flow: ${line#listen tcp:8000 relayed }"
	start peer "$PEER_NS" python3 "$LISTEN_PY" peer "$TWIST_RELAY_IP" "$port" 12
	PEER_PID=$LAST_PID
	wait_for 200 standby_has listen || die "the standby never held the listen flow"
	sleep 4 # the connection latched and carrying lines
	log "failing the active node (kill) under an open connection"
	"$LABSH" kill-active
	wait_for 400 sh -c "! [ -d /proc/$PEER_PID ]" || fail "the peer did not finish"
	res=$(cat "$TMP/peer.log")
	log "peer: $res"
	echo "twist_failover listen $res" >>"$OUT/twist_failover.txt"
	case $res in
	"sent "*" error none") ;;
	*) fail "the peer's connection broke: $res" ;;
	esac
	read -r _ s _ r _ <<<"$res"
	{ [ -n "$s" ] && [ "$s" = "$r" ] && [ "$s" -gt 0 ]; } || fail "sent $s, received $r"
	has_vip_b || fail "the VIP did not move to node B"
}

trap cleanup EXIT
trap 'exit 1' INT TERM
"$LABSH" down >/dev/null 2>&1
"$LABSH" up || die "deploy/lab/twist_pair.sh up failed"
eval "$("$LABSH" env)"
case $CASE in
kill | link | kill-tunnel) case_download ;;
listen) case_listen ;;
*) die "unknown case $CASE" ;;
esac
[ "$FAILS" = 0 ] && log "PASS" || log "$FAILS failure(s)"
exit $((FAILS != 0))
