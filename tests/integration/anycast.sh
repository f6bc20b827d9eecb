#!/bin/bash
# Issue 14, anycast: deploy/lab/anycast.sh (two sites, BIRD 2, BGP + BFD to
# two routers, two clients) with the real twist-relay and twist-ha.
#
#   1. each client's Allocate to the anycast address (IPv4 and IPv6) is
#      served by its nearest site (the relayed address names the node);
#   2. drain A: router A's route moves to site B, a new Allocate from
#      client A lands at B, and an allocation held at A's unicast address
#      keeps relaying through the drain (its peer echo keeps answering).
#      An Allocate to A's unicast address gets a 300 naming B, with
#      integrity. The drain must come from the relay's own /serving page
#      (twistctl drain): the lab's stand-in for older relays fails the test;
#   3. fail-site A (SIGKILL of the relay) and fail-site A links (packets
#      dropped: BFD): router A's route moves to site B, and a new Allocate
#      from client A succeeds at B.
#
# Times from each event to router A's new route are measured and printed,
# never judged (tests/bench/anycast_convergence.sh records them). Every
# wait is bounded. Needs root, bird2, nftables, curl.
#
# usage: anycast.sh BIN_DIR
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
LABSH=$ROOT/deploy/lab/anycast.sh
TURN=$HERE/anycast_turn.py
export TWIST_BIN=${1:?usage: anycast.sh BIN_DIR}
# One lab name per build tree: another checkout's suite may run its own.
TWIST_ANY_LAB=any14-$(printf '%s' "$TWIST_BIN" | cksum | cut -c1-4)
export TWIST_ANY_LAB
export TWIST_ANY_LAB_DIR=/run/$TWIST_ANY_LAB-lab
OUT=$PWD/anycast-out
FAILS=0

log() { printf '%s anycast: %s\n' "$(date +%T.%3N)" "$*"; }
fail() {
	log "FAIL: $*"
	FAILS=$((FAILS + 1))
}

[ "$(id -u)" = 0 ] || {
	echo "anycast: FAIL: needs root (network namespaces, routes, TUN)" >&2
	exit 1
}
for t in bird:bird2 birdc:bird2 nft:nftables curl:curl python3:python3; do
	command -v "${t%%:*}" >/dev/null || {
		echo "anycast: FAIL: ${t%%:*} not found (apt-get install ${t#*:})" >&2
		exit 1
	}
done

cleanup() {
	local pid
	for pid in ${HOLD_PID:-}; do
		[ -d "/proc/$pid" ] && kill -KILL "$pid" 2>/dev/null
	done
	if [ "$FAILS" != 0 ] && [ -d "$TWIST_ANY_LAB_DIR" ]; then
		rm -rf "$OUT/lab"
		cp -r "$TWIST_ANY_LAB_DIR" "$OUT/lab" 2>/dev/null
		log "lab logs kept in $OUT/lab"
	fi
	"$LABSH" down >/dev/null 2>&1
}

mkdir -p "$OUT"
rm -f "$OUT/times"
"$LABSH" down >/dev/null 2>&1
trap cleanup EXIT
trap 'exit 1' INT TERM
"$LABSH" up || {
	fail "lab did not come up"
	exit 1
}
eval "$("$LABSH" env)"

# alloc CLIENT_NS SERVER: the JSON line of one Allocate.
alloc() {
	ip netns exec "$1" python3 "$TURN" alloc "$2" 2>&1
}

# expect_site CLIENT_NS SERVER UNICAST WHAT: one Allocate, relayed from UNICAST.
expect_site() {
	local r
	r=$(alloc "$1" "$2")
	log "$4: $r"
	case $r in
	*"\"relayed\": \"$3\""*) ;;
	*) fail "$4: want an allocation relayed from $3" ;;
	esac
}

# eventually_site: the same, retried (up to 30 s) while routes settle.
eventually_site() {
	local r end=$(($(date +%s) + 30))
	for _ in $(seq 30); do
		r=$(alloc "$1" "$2")
		case $r in *"\"relayed\": \"$3\""*)
			log "$4: $r"
			return 0
			;;
		esac
		[ "$(date +%s)" -ge "$end" ] && break
		sleep 0.5
	done
	fail "$4: no allocation relayed from $3 within 30 s (last: $r)"
}

# measure NAME ROUTER SITE CMD...: run the event, time router's new route.
measure() {
	local name=$1 r=$2 s=$3 t0 secs
	shift 3
	t0=$(date +%s.%N)
	"$LABSH" "$@" || fail "$name: '$*' failed"
	if secs=$("$LABSH" wait-route "$r" "$s" "$t0" 30); then
		log "MEASURED $name: router $r sends the service to site $s after $secs s"
		echo "$name $secs" >>"$OUT/times"
	else
		fail "$name: router $r did not move the service to site $s within 30 s"
	fi
}

log "1. nearest site"
expect_site "$CLIENT_A_NS" "$ANYCAST_IP" "$UNICAST_A" "client A -> $ANYCAST_IP"
expect_site "$CLIENT_A_NS" "$ANYCAST_IP6" "$UNICAST_A" "client A -> $ANYCAST_IP6"
expect_site "$CLIENT_B_NS" "$ANYCAST_IP" "$UNICAST_B" "client B -> $ANYCAST_IP"
expect_site "$CLIENT_B_NS" "$ANYCAST_IP6" "$UNICAST_B" "client B -> $ANYCAST_IP6"

log "2. drain A (/serving from $(cat "$ANY_LAB_DIR/a/serving_mode"))"
rm -f "$OUT/hold.ready" "$OUT/hold.until"
ip netns exec "$CLIENT_A_NS" python3 "$TURN" hold "$UNICAST_A" "$CLIENT_B_IP" "$ECHO_PORT" \
	--ready-file "$OUT/hold.ready" --until-file "$OUT/hold.until" --max-seconds 90 \
	>"$OUT/hold.out" 2>&1 &
HOLD_PID=$!
for _ in $(seq 300); do
	[ -f "$OUT/hold.ready" ] || [ ! -d "/proc/$HOLD_PID" ] && break
	sleep 0.1
done
[ -f "$OUT/hold.ready" ] || fail "the allocation held at A did not relay before the drain: $(cat "$OUT/hold.out")"
measure drain a b drain A
eventually_site "$CLIENT_A_NS" "$ANYCAST_IP" "$UNICAST_B" "drained: client A -> $ANYCAST_IP"
expect_site "$CLIENT_B_NS" "$ANYCAST_IP" "$UNICAST_B" "drained: client B -> $ANYCAST_IP"
[ "$(cat "$ANY_LAB_DIR/a/serving_mode")" = relay ] ||
	fail "site A's twist-relay has no /serving page: the lab drained a stand-in, not the relay"
r=$(alloc "$CLIENT_A_NS" "$UNICAST_A")
log "drained: client A -> $UNICAST_A: $r"
case $r in
*'"result": "redirect"'*"\"alternate\": \"$UNICAST_B:3478\""*'"integrity": true'*) ;;
*) fail "drained A must answer 300 naming $UNICAST_B:3478 with integrity" ;;
esac
# Traffic through the drained node, then the end of the allocation.
sleep 1
: >"$OUT/hold.until"
if wait "$HOLD_PID"; then
	log "held allocation at A: $(cat "$OUT/hold.out")"
else
	fail "the allocation held at A stopped relaying after the drain: $(cat "$OUT/hold.out")"
fi
HOLD_PID=
measure undrain a a undrain A
expect_site "$CLIENT_A_NS" "$ANYCAST_IP" "$UNICAST_A" "undrained: client A -> $ANYCAST_IP"

log "3. fail-site A (kill)"
measure fail_kill a b fail-site A kill
eventually_site "$CLIENT_A_NS" "$ANYCAST_IP" "$UNICAST_B" "A dead: client A -> $ANYCAST_IP"
eventually_site "$CLIENT_A_NS" "$ANYCAST_IP6" "$UNICAST_B" "A dead: client A -> $ANYCAST_IP6"
"$LABSH" restore A || fail "restore A"
expect_site "$CLIENT_A_NS" "$ANYCAST_IP" "$UNICAST_A" "restored: client A -> $ANYCAST_IP"

log "3b. fail-site A links (BFD)"
measure fail_links a b fail-site A links
eventually_site "$CLIENT_A_NS" "$ANYCAST_IP" "$UNICAST_B" "A cut off: client A -> $ANYCAST_IP"
"$LABSH" restore A || fail "restore A"
expect_site "$CLIENT_A_NS" "$ANYCAST_IP" "$UNICAST_A" "restored: client A -> $ANYCAST_IP"

# twist-ha counted what it did.
n=$(ip netns exec "$SITE_A_NS" curl -s -m 2 "http://$HA_METRICS/metrics" |
	awk '$1 == "twist_ha_anycast_changes_total{to=\"withdrawn\"}" { print $2 }')
log "site A twist-ha withdrawals: ${n:-none}"
[ "${n:-0}" -ge 1 ] || fail "twist_ha_anycast_changes_total{to=\"withdrawn\"} not counted"

log "times (s): $(tr '\n' ' ' <"$OUT/times" 2>/dev/null)"
if [ "$FAILS" != 0 ]; then
	log "$FAILS check(s) failed"
	exit 1
fi
log "all checks passed"
