#!/bin/bash
# Issue 14, anycast: deploy/lab/anycast.sh (two sites, BIRD 2, BGP + BFD to
# two routers, two clients) with the real twist-relay and twist-ha.
#
#   1. each client's Allocate to the anycast address (IPv4 and IPv6) is
#      answered by its nearest site with a 300 (with MESSAGE-INTEGRITY)
#      naming that node's own unicast address (cluster.anycast: the
#      allocation is pinned there); followed, it is served there (the
#      relayed address names the node);
#   2. drain A: router A's route moves to site B, a new Allocate from
#      client A lands at B, and two allocations keep relaying through the
#      drain until they end (their peer echo keeps answering): one made
#      at A's unicast address, one made through the anycast address and
#      its 300. An Allocate to A's unicast address gets a 300 naming B,
#      with integrity. The drain must come from the relay's own /serving
#      page (twistctl drain): the lab's stand-in for older relays fails;
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
	for pid in ${HOLD_PIDS:-}; do
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

# alloc CLIENT_NS SERVER [--follow]: the JSON line of one Allocate.
alloc() {
	ip netns exec "$1" python3 "$TURN" alloc "$2" "${@:3}" 2>&1
}

# served R SERVER UNICAST: answer R is an allocation relayed from UNICAST
# (IPv4: the relayed family is IPv4 whatever the client's); through the
# anycast address, only after an authenticated 300 naming that node's
# unicast address in the client's family (the allocation is pinned there).
served() {
	local alt=$3:3478
	if [ "$2" = "$ANYCAST_IP6" ]; then
		alt="[$UNICAST6_B]:3478"
		[ "$3" = "$UNICAST_A" ] && alt="[$UNICAST6_A]:3478"
	fi
	case $1 in *"\"relayed\": \"$3\""*) ;; *) return 1 ;; esac
	[ "$2" != "$ANYCAST_IP" ] && [ "$2" != "$ANYCAST_IP6" ] && return 0
	case $1 in *"\"alternate\": \"$alt\", \"integrity\": true"*) return 0 ;; esac
	return 1
}

# expect_site CLIENT_NS SERVER UNICAST WHAT: one Allocate, served at UNICAST.
expect_site() {
	local r
	r=$(alloc "$1" "$2" --follow)
	log "$4: $r"
	served "$r" "$2" "$3" || fail "$4: want an allocation relayed from $3 (pinned there by a 300 with integrity when made on the anycast address)"
}

# eventually_site: the same, retried (up to 30 s) while routes settle.
eventually_site() {
	local r end=$(($(date +%s) + 30))
	for _ in $(seq 30); do
		r=$(alloc "$1" "$2" --follow)
		if served "$r" "$2" "$3"; then
			log "$4: $r"
			return 0
		fi
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

n=$(ip netns exec "$SITE_A_NS" curl -s -m 2 "http://$RELAY_METRICS/metrics" |
	awk '$1 == "twist_redirects_total{reason=\"anycast\"}" { print $2 }')
log "site A pinned allocations (twist_redirects_total{reason=\"anycast\"}): ${n:-none}"
[ "${n:-0}" -ge 2 ] || fail "site A's anycast 300s not counted in twist_redirects_total{reason=\"anycast\"}"

log "2. drain A (/serving from $(cat "$ANY_LAB_DIR/a/serving_mode"))"
# hold NAME SERVER [--follow]: an allocation from client A relaying to the
# echo peer in the background until $OUT/hold.until exists.
HOLD_PIDS=
hold() {
	rm -f "$OUT/$1.ready" "$OUT/$1.out"
	ip netns exec "$CLIENT_A_NS" python3 "$TURN" hold "$2" "$CLIENT_B_IP" "$ECHO_PORT" \
		--ready-file "$OUT/$1.ready" --until-file "$OUT/hold.until" --max-seconds 90 \
		"${@:3}" >"$OUT/$1.out" 2>&1 &
	HOLD_PIDS="$HOLD_PIDS $!"
	eval "PID_$1=\$!"
}
# held NAME WHAT: it relayed before the drain (bounded wait).
held() {
	local pid
	eval "pid=\$PID_$1"
	for _ in $(seq 300); do
		[ -f "$OUT/$1.ready" ] || [ ! -d "/proc/$pid" ] && break
		sleep 0.1
	done
	[ -f "$OUT/$1.ready" ] || fail "$2 did not relay before the drain: $(cat "$OUT/$1.out")"
}
rm -f "$OUT/hold.until"
hold hold_unicast "$UNICAST_A"
hold hold_anycast "$ANYCAST_IP" --follow
held hold_unicast "the allocation held at A's unicast address"
held hold_anycast "the allocation made through the anycast address"
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
# Traffic through the drained node, then the end of the allocations.
sleep 1
: >"$OUT/hold.until"
if wait "$PID_hold_unicast"; then
	log "held allocation at A's unicast address: $(cat "$OUT/hold_unicast.out")"
else
	fail "the allocation held at A stopped relaying after the drain: $(cat "$OUT/hold_unicast.out")"
fi
if wait "$PID_hold_anycast"; then
	r=$(cat "$OUT/hold_anycast.out")
	log "held allocation made through $ANYCAST_IP: $r"
	served "$r" "$ANYCAST_IP" "$UNICAST_A" ||
		fail "the allocation made through $ANYCAST_IP was not pinned to $UNICAST_A by a 300 with integrity"
else
	fail "the allocation made through $ANYCAST_IP stopped relaying after the drain (not pinned to A's unicast address?): $(cat "$OUT/hold_anycast.out")"
fi
HOLD_PIDS=
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
