#!/bin/bash
# vrrp_soak.sh: no spurious failover under load (docs/ha.md, "Spurious
# failover"). The HA pair of deploy/lab/pair.sh runs with short VRRP adverts
# while turnload saturates the active node's relay (and, with --burn, busy
# loops take whatever CPU is left). At the end it counts the VRRP
# transitions that happened under load, three ways:
#   - keepalived's "Entering ... STATE" log lines, both nodes;
#   - twist-ha's state changes (twist_ha_state_changes_total, both nodes)
#     and its role file, which must still say master on A, backup on B;
#   - which node holds the VIP.
# It also records every advert B heard from A with kernel timestamps
# (vrrp_adverts.py): the longest interval shows how close a run came to
# B's takeover (3 adverts plus the skew).
#
#   vrrp_soak.sh [--duration S] [--advert S] [--rt PRIO|0] [--rate PPS]
#                [--allocs N] [--burn N] [--out DIR] [--label TEXT]
#
# Defaults: 600 s, the lab's advert_int (0.02) and real-time priority (50),
# 60,000 packets/s offered over 64 allocations, no burners. Needs root,
# keepalived, and TWIST_BIN with twist-relay, twist-syncd, twist-ha and
# turnload. Exit status 0 when no transition happened. Run as a benchmark
# (10 minutes) and, with --duration 60, as the chaos test chaos_vrrp_load.
set -u
# shellcheck disable=SC2034 # read by chaos_done (lib.sh)
TEST_NAME=vrrp_load
DURATION=600
ADVERT=""
RT=""
RATE=60000
ALLOCS=64
BURN=0
LABEL=""
PEER_PORT=9100

usage() { sed -n '2,/^set -u/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//'; }
while [ $# -gt 0 ]; do
	case $1 in
	--duration) DURATION=$2; shift ;;
	--advert) ADVERT=$2; shift ;;
	--rt) RT=$2; shift ;;
	--rate) RATE=$2; shift ;;
	--allocs) ALLOCS=$2; shift ;;
	--burn) BURN=$2; shift ;;
	--out) export TWIST_CHAOS_OUT=$2; shift ;;
	--label) LABEL=$2; shift ;;
	-h | --help) usage; exit 0 ;;
	*) echo "vrrp_soak.sh: unknown option '$1' (--help)" >&2; exit 2 ;;
	esac
	shift
done
for v in DURATION RATE ALLOCS BURN; do
	[[ ${!v} =~ ^[0-9]+$ ]] || { echo "vrrp_soak.sh: --${v,,} wants a whole number" >&2; exit 2; }
done
[ "$DURATION" -ge 10 ] && [ "$DURATION" -le 3600 ] || { echo "--duration: 10..3600" >&2; exit 2; }
[ "$BURN" -le 16 ] || { echo "--burn: at most 16" >&2; exit 2; }
[ -n "$ADVERT" ] && export TWIST_LAB_ADVERT=$ADVERT
[ -n "$RT" ] && export TWIST_LAB_RT=$RT

. "$(dirname "$0")/../chaos/lib.sh"
chaos_require
TURNLOAD=$TWIST_BIN/turnload
[ -x "$TURNLOAD" ] || { echo "vrrp_soak: FAIL: $TURNLOAD not built (target turnload)" >&2; exit 1; }
BURN_PIDS=""

soak_cleanup() {
	local pid
	for pid in $BURN_PIDS; do
		[ -d "/proc/$pid" ] && kill -KILL "$pid" 2>/dev/null
	done
	chaos_cleanup
}

# Transitions so far: keepalived's state lines on both nodes, then twist-ha's
# state changes on both nodes.
kd_entering() {
	cat "$LAB_DIR"/[ab]/keepalived.log 2>/dev/null | grep -c 'Entering .* STATE'
}
ha_changes() {
	local n sum=0 v
	for n in a b; do
		v=$(ip netns exec "$(node_ns_of "$n")" curl -s -m 10 "http://$HA_METRICS/metrics" 2>/dev/null |
			awk '/^twist_ha_state_changes_total/ { s += $2 } END { print s + 0 }')
		sum=$((sum + v))
	done
	echo "$sum"
}

# Health verdict changes (demotions, faults) on both nodes: reported, not
# judged. A demoted master keeps the VIPs (nopreempt); a fault would not,
# and shows up as a transition.
ha_verdicts() {
	local n sum=0 v
	for n in a b; do
		v=$(ip netns exec "$(node_ns_of "$n")" curl -s -m 10 "http://$HA_METRICS/metrics" 2>/dev/null |
			awk '/^twist_ha_health_changes_total/ { s += $2 } END { print s + 0 }')
		sum=$((sum + v))
	done
	echo "$sum"
}

cpu_busy() { awk '/^cpu / { print $2 + $3 + $4 + $7 + $8, $5 + $6 }' /proc/stat; }

lab_up
trap soak_cleanup EXIT
ADV=$(awk '/advert_int/ { print $2 }' "$LAB_DIR/a/keepalived.conf")
RTP=$(awk '/vrrp_rt_priority/ { print $2 }' "$LAB_DIR/a/keepalived.conf")
log "lab up: advert_int $ADV, vrrp_rt_priority ${RTP:-none}, master $(master)"
expect_master a

kd0=$(kd_entering)
ha0=$(ha_changes)
hv0=$(ha_verdicts)
read -r busy0 idle0 < <(cpu_busy)

ip netns exec "$NODE_B_NS" python3 "$ROOT/tests/bench/vrrp_adverts.py" --src 203.0.113.2 \
	--advert "$ADV" --duration $((DURATION + 5)) --json "$OUT/adverts.json" \
	>"$OUT/adverts.out" 2>&1 &
APID=$!
TRAFFIC_PIDS="$TRAFFIC_PIDS $APID"
ip netns exec "$PEER_NS" timeout -k 5 $((DURATION + 120)) "$TURNLOAD" --peer-only \
	--peer "$PEER_IP:$PEER_PORT" -d $((DURATION + 60)) >"$OUT/peer.out" 2>&1 &
TRAFFIC_PIDS="$TRAFFIC_PIDS $!"
for _ in $(seq "$BURN"); do
	timeout -k 5 $((DURATION + 30)) sh -c 'while :; do :; done' &
	BURN_PIDS="$BURN_PIDS $!"
done
log "load: $ALLOCS allocations, $RATE packets/s offered, $BURN burners, $DURATION s"
ip netns exec "$CLIENT_NS" timeout -k 5 $((DURATION + 120)) "$TURNLOAD" -s "$VIP:3478" \
	--peer "$PEER_IP:$PEER_PORT" --external-peer -n "$ALLOCS" -r "$RATE" -d "$DURATION" \
	--pid "$(cat "$LAB_DIR/a/relay.pid")" --label "vrrp-soak" >"$OUT/turnload.out" 2>&1
tl_rc=$?
read -r busy1 idle1 < <(cpu_busy)
for pid in $BURN_PIDS; do
	kill -KILL "$pid" 2>/dev/null
done
BURN_PIDS=""
kill -TERM "$APID" 2>/dev/null
for _ in $(seq 100); do
	[ -d "/proc/$APID" ] || break
	sleep 0.1
done
cat "$OUT/turnload.out"
[ "$tl_rc" = 0 ] || fail "turnload exited $tl_rc: the load did not run as asked"

kd=$(($(kd_entering) - kd0))
ha=$(($(ha_changes) - ha0))
hv=$(($(ha_verdicts) - hv0))
m=$(master)
role_a=$(cat "$LAB_DIR/a/role" 2>/dev/null)
role_b=$(cat "$LAB_DIR/b/role" 2>/dev/null)
busy=$(awk -v b0="$busy0" -v b1="$busy1" -v i0="$idle0" -v i1="$idle1" \
	'BEGIN { d = (b1 - b0) + (i1 - i0); printf "%.0f", (d > 0 ? 100 * (b1 - b0) / d : 0) }')
adv=$(cat "$OUT/adverts.out" 2>/dev/null)
line="${LABEL:+$LABEL: }advert_int $ADV, rt ${RTP:-none}, $DURATION s, $RATE pps offered,"
line="$line $BURN burners, CPU busy $busy%, load $(cut -d' ' -f1-3 /proc/loadavg);"
line="$line transitions: keepalived $kd, twist-ha $ha (health verdict changes $hv); master $m, roles a=$role_a b=$role_b;"
line="$line ${adv:-no advert record}"
log "$line"
echo "$line" >>"$OUT/summary.txt"

[ "$kd" = 0 ] || fail "$kd keepalived state change(s) under load: $(grep -h 'Entering .* STATE' "$LAB_DIR"/[ab]/keepalived.log | tail -n "$kd" | tr '\n' ';')"
[ "$ha" = 0 ] || fail "$ha twist-ha state change(s) under load"
[ "$m" = a ] || fail "the VIP moved to '${m:-none}'"
[ "$role_a" = master ] && [ "$role_b" = backup ] || fail "role files a=$role_a b=$role_b"
[ -n "$adv" ] || fail "no advert record from vrrp_adverts.py ($OUT/adverts.out)"
chaos_done
