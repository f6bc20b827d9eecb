# shellcheck shell=bash
# Shared by the chaos tests: the lab (deploy/lab/pair.sh), the traffic
# (turnmon.py) and assertions. Sourced, not run.
#
# Every test builds its own lab under its own prefix and removes it on exit,
# whatever happens (trap). Every wait is bounded.

CHAOS_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$CHAOS_DIR/../.." && pwd)
PAIR=$ROOT/deploy/lab/pair.sh
TURNMON=$CHAOS_DIR/turnmon.py
# One lab name per build: suites of other checkouts on the same machine run
# their own labs at the same time, and a shared name let one tear down the
# other's namespaces ("Cannot open network namespace twc-client"). Within a
# build, ctest's RESOURCE_LOCK runs one lab at a time, and each test's
# "pair.sh down" clears what a killed run left.
export TWIST_LAB=${TWIST_LAB:-twc$(printf '%s' "${TWIST_BIN:-$ROOT/build/bin}" | cksum | cut -c1-6)}
export TWIST_LAB_DIR=${TWIST_LAB_DIR:-/run/$TWIST_LAB-lab}
# The failover gap is measured and printed, never judged: the machine is
# shared (failover_runs.sh records its distribution). Every wait below is
# bounded, generously for ASan on a loaded 2-core machine.
OUT=${TWIST_CHAOS_OUT:-$PWD/chaos-out}
FAILS=0
TRAFFIC_PIDS=""

log() { printf '%s chaos: %s\n' "$(date +%T.%3N)" "$*"; }

fail() {
	log "FAIL: $*"
	FAILS=$((FAILS + 1))
}

# Chaos tests need root and network namespaces. Not having them is a
# failure, said loudly, never a silent skip.
chaos_require() {
	if [ "$(id -u)" != 0 ]; then
		echo "chaos: FAIL: these tests need root (network namespaces, VRRP, IP_FREEBIND);" \
			"run ctest -L chaos as root" >&2
		exit 1
	fi
	if ! ip netns add "$TWIST_LAB-probe" 2>/dev/null; then
		echo "chaos: FAIL: cannot create a network namespace here" \
			"(no CAP_SYS_ADMIN, or a container without netns)" >&2
		exit 1
	fi
	ip netns del "$TWIST_LAB-probe"
	for t in keepalived python3 curl; do
		command -v $t >/dev/null || {
			echo "chaos: FAIL: $t not found (apt-get install keepalived python3 curl)" >&2
			exit 1
		}
	done
	[ -n "${TWIST_BIN:-}" ] || export TWIST_BIN=$ROOT/build/bin
	for b in twist-relay twist-syncd twist-ha; do
		[ -x "$TWIST_BIN/$b" ] || {
			echo "chaos: FAIL: $TWIST_BIN/$b not built" >&2
			exit 1
		}
	done
	export TWIST_LAB_HA=1
	mkdir -p "$OUT"
}

chaos_cleanup() {
	local pid
	for pid in $TRAFFIC_PIDS; do
		[ -d "/proc/$pid" ] && kill -KILL "$pid" 2>/dev/null
	done
	if [ "${TWIST_CHAOS_KEEP:-0}" = 1 ]; then
		log "TWIST_CHAOS_KEEP=1: lab left up ($TWIST_LAB_DIR)"
		return
	fi
	# After a failure the lab's logs are kept for the report.
	if [ "$FAILS" != 0 ] && [ -d "$TWIST_LAB_DIR" ]; then
		rm -rf "$OUT/lab-$TEST_NAME"
		cp -r "$TWIST_LAB_DIR" "$OUT/lab-$TEST_NAME" 2>/dev/null
		log "lab logs kept in $OUT/lab-$TEST_NAME"
	fi
	"$PAIR" down >/dev/null 2>&1
}

lab_up() {
	"$PAIR" down >/dev/null 2>&1
	trap chaos_cleanup EXIT
	trap 'exit 1' INT TERM
	"$PAIR" up || {
		fail "lab did not come up"
		exit 1
	}
	eval "$("$PAIR" env)"
}

# traffic NAME ARGS...: turnmon in the client namespace, in the background.
# Waits (bounded) for its READY line. It sends for --duration seconds and on
# until traffic_wait NAME, so the event always happens under traffic. Report
# in $OUT/NAME.json.
traffic() {
	local name=$1
	shift
	rm -f "$OUT/$name.ready" "$OUT/$name.json" "$OUT/$name.stop"
	ip netns exec "$CLIENT_NS" python3 "$TURNMON" --server "$VIP:3478" \
		--peer "$PEER_IP:$ECHO_PORT" --whoami-port "$WHOAMI_PORT" \
		--until-file "$OUT/$name.stop" \
		--ready-file "$OUT/$name.ready" --json "$OUT/$name.json" --label "$name" "$@" \
		>"$OUT/$name.out" 2>&1 &
	TRAFFIC_PIDS="$TRAFFIC_PIDS $!"
	eval "PID_$name=$!"
	for _ in $(seq 900); do
		[ -f "$OUT/$name.ready" ] && return 0
		[ -d "/proc/$!" ] || break
		sleep 0.1
	done
	cat "$OUT/$name.out"
	fail "traffic $name did not get ready"
	exit 1
}

# event CMD...: the failure injected while the traffic runs. An event after
# the traffic ended would test nothing: that is a failure of its own.
event() {
	local pid
	for pid in $TRAFFIC_PIDS; do
		[ -d "/proc/$pid" ] || fail "traffic (pid $pid) ended before the event '$*'"
	done
	log "event: $*"
	"$@"
}

# traffic_wait NAME: the event is over: NAME must see its traffic resume,
# run its checks and end (bounded wait); its verdict counts.
traffic_wait() {
	local name=$1 pid
	eval "pid=\$PID_$name"
	: >"$OUT/$name.stop"
	for _ in $(seq 2400); do
		[ -d "/proc/$pid" ] || break
		sleep 0.1
	done
	if [ -d "/proc/$pid" ]; then
		kill -KILL "$pid"
		fail "traffic $name did not finish"
	fi
	wait "$pid"
	local rc=$?
	cat "$OUT/$name.out"
	[ $rc = 0 ] || fail "traffic $name: checks failed (see above, $OUT/$name.json)"
	if [ -f "$OUT/$name.json" ]; then
		python3 - "$OUT/$name.json" <<'EOF'
import json, sys
r = json.load(open(sys.argv[1]))
print("measured: gap_max_s=%.3f lost=%d lost_outside_gap=%d 437=%d 438=%d timeouts=%d"
      % (r["gap_max_s"], r["lost"], r["lost_outside_gap"], r["n_437"], r["n_438"], r["timeouts"]))
EOF
	fi
}

master() {
	"$PAIR" status 2>/dev/null | sed -n 's/.*master: \([a-z]*\).*/\1/p' | head -1
}

node_ns_of() { [ "$1" = a ] && echo "$NODE_A_NS" || echo "$NODE_B_NS"; }

metric() {
	ip netns exec "$(node_ns_of "$1")" curl -s -m 10 "http://$2/metrics" 2>/dev/null |
		awk -v k="$3" '$1 == k { print $2; exit }'
}

allocations() { metric "$1" "$RELAY_METRICS" twist_allocations; }

ready_code() {
	ip netns exec "$(node_ns_of "$1")" curl -s -o /dev/null -m 10 -w '%{http_code}' \
		"http://$SYNCD_METRICS/ready" 2>/dev/null
}

# wait_for TENTHS CMD...: bounded poll.
wait_for() {
	local n=$1
	shift
	for _ in $(seq "$n"); do
		"$@" && return 0
		sleep 0.1
	done
	return 1
}

# expect_master NODE: NODE holds the VIP, or gets it within a bounded wait
# (VRRP may still be moving it on a loaded machine).
expect_master() {
	local m
	_is_master() { [ "$(master)" = "$1" ]; }
	wait_for 600 _is_master "$1" && return 0
	m=$(master)
	fail "expected node $1 to hold the VIP (waited 60 s), got '${m:-none}'"
}

# The standby holds every allocation the master has.
# expect_synced STANDBY MASTER [TENTHS]: bounded wait (default 60 s).
expect_synced() {
	local s=$1 m=$2 n
	_same() { [ "$(allocations "$s")" = "$(allocations "$m")" ] && [ "$(ready_code "$s")" = 200 ]; }
	if ! wait_for "${3:-600}" _same; then
		fail "node $s not in sync with $m: allocations $(allocations "$s") vs" \
			"$(allocations "$m"), /ready $(ready_code "$s")"
		return
	fi
	n=$(allocations "$s")
	log "node $s in sync with $m: $n allocations, /ready 200"
}

kill_node_procs() {
	local n=$1 name pid pids=""
	for name in vrrp keepalived relay syncd ha; do
		pid=$(cat "$LAB_DIR/$n/$name.pid" 2>/dev/null) || continue
		[ -d "/proc/$pid" ] && pids="$pids $pid"
	done
	# shellcheck disable=SC2086
	[ -n "$pids" ] && kill -KILL $pids
}

chaos_done() {
	if [ "$FAILS" = 0 ]; then
		log "PASS: $TEST_NAME"
		exit 0
	fi
	log "$FAILS check(s) failed in $TEST_NAME"
	exit 1
}
