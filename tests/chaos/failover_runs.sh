#!/bin/bash
# The failover gap, measured: N SIGKILL and N link-down failovers, each in a
# fresh lab (up, traffic, fail-active, checks, down), then one run of coturn's
# turnutils_uclient -> turnutils_peer through the VIP with a failover in the
# middle.
#
#   failover_runs.sh [N]        N >= 1 (default 20)
#
# Output (TWIST_CHAOS_OUT, default ./failover-runs):
#   runs.csv      mode,run,gap_ms,gap_p50_ms,lost,lost_outside_gap,
#                 allocations_lost,n437,n438,timeouts,ok,send_stall_ms
#                 (send_stall_ms: turnmon's longest pause between two
#                 sends, its own scheduling delay, part of the gap)
#   summary.txt   p50 / p99 / max of the gap per mode, failures, uclient
#   failover-gap.png (gnuplot), also copied to docs/img/ with the CSV
#                 when TWIST_CHAOS_DOCS=1
# Exit status 0 when every run passed its checks.
set -u
N=${1:-20}
case $N in '' | *[!0-9]*) echo "usage: $0 [N]" >&2; exit 2 ;; esac
[ "$N" -ge 1 ] && [ "$N" -le 500 ] || { echo "N must be 1..500" >&2; exit 2; }
TEST_NAME=runs
export TWIST_CHAOS_OUT=${TWIST_CHAOS_OUT:-$PWD/failover-runs}
. "$(dirname "$0")/lib.sh"
chaos_require
CSV=$OUT/runs.csv
SUMMARY=$OUT/summary.txt
CLIENTS=${TWIST_CHAOS_CLIENTS:-4}
RATE=${TWIST_CHAOS_RATE:-100}

echo "mode,run,gap_ms,gap_p50_ms,lost,lost_outside_gap,allocations_lost,n437,n438,timeouts,ok,send_stall_ms" >"$CSV"

# The observers (turnmon and the lab's UDP echo, both Python) get a
# real-time priority below keepalived's: on a shared, loaded machine a
# monitor kept off the CPU sends nothing and reads late, and that silence
# would be counted as failover gap. The relay and keepalived run as
# deployed. TWIST_CHAOS_MON_RT=0 leaves them at normal priority.
MON_RT=${TWIST_CHAOS_MON_RT:-10}
observer_rt() {
	local pid
	[ "$MON_RT" = 0 ] && return
	# shellcheck disable=SC2154 # PID_run is set by traffic (lib.sh)
	for pid in "$PID_run" "$(cat "$LAB_DIR/peer/echo.pid" 2>/dev/null)"; do
		[ -n "$pid" ] && chrt -r -p "$MON_RT" "$pid" >/dev/null ||
			fail "chrt -r -p $MON_RT $pid failed (util-linux; needs CAP_SYS_NICE)"
	done
}

one_run() {
	local mode=$1 i=$2 row
	"$PAIR" down >/dev/null 2>&1
	trap chaos_cleanup EXIT
	if ! "$PAIR" up >"$OUT/up.log" 2>&1; then
		cat "$OUT/up.log"
		echo "$mode,$i,,,,,,,,,lab-failed," >>"$CSV"
		FAILS=$((FAILS + 1))
		return
	fi
	eval "$("$PAIR" env)"
	traffic run --clients "$CLIENTS" --rate "$RATE" --duration 4 >/dev/null
	observer_rt
	sleep 1.5
	"$PAIR" fail-active "$mode" >/dev/null
	traffic_wait run >"$OUT/run.log" 2>&1
	grep -q FAIL "$OUT/run.log" && cp "$OUT/run.json" "$OUT/failed-$mode-$i.json"
	row=$(python3 - "$OUT/run.json" <<'EOF'
import json, sys
try:
    r = json.load(open(sys.argv[1]))
except Exception:
    print(",,,,,,,,no-report,")
    sys.exit(0)
print("%.1f,%.1f,%d,%d,%d,%d,%d,%d,%s,%.1f" % (
    r["gap_max_s"] * 1000, r["gap_p50_s"] * 1000, r["lost"], r["lost_outside_gap"],
    r["allocations_lost"], r["n_437"], r["n_438"], r["timeouts"], "ok" if r["ok"] else "FAIL",
    r.get("send_stall_max_s", 0) * 1000))
EOF
)
	echo "$mode,$i,$row" >>"$CSV"
	log "$mode run $i/$N: $row"
	"$PAIR" down >/dev/null 2>&1
}

uclient_run() {
	local ppid rc sent recv lost
	"$PAIR" down >/dev/null 2>&1
	"$PAIR" up >/dev/null || { fail "lab did not come up for uclient"; return; }
	eval "$("$PAIR" env)"
	ip netns exec "$PEER_NS" turnutils_peer -p 3480 -L "$PEER_IP" >"$OUT/uclient-peer.log" 2>&1 &
	ppid=$!
	TRAFFIC_PIDS="$TRAFFIC_PIDS $ppid"
	sleep 0.5
	ip netns exec "$CLIENT_NS" timeout -k 5 120 turnutils_uclient -u demo -w demo -m 4 \
		-n 500 -e "$PEER_IP" -r 3480 -p 3478 "$VIP" >"$OUT/uclient.log" 2>&1 &
	local upid=$!
	TRAFFIC_PIDS="$TRAFFIC_PIDS $upid"
	sleep 5
	"$PAIR" fail-active kill
	wait "$upid"
	rc=$?
	kill -TERM "$ppid" 2>/dev/null
	read -r sent recv < <(sed -n 's/.*start_mclient: tot_send_msgs=\([0-9]*\), tot_recv_msgs=\([0-9]*\)$/\1 \2/p' "$OUT/uclient.log" | tail -n1)
	lost=$(sed -n 's/.*Total lost packets \([0-9]*\) .*/\1/p' "$OUT/uclient.log" | tail -n1)
	echo "turnutils_uclient (4 clients x 500 messages) with fail-active kill at 5 s:" \
		"exit $rc, sent ${sent:-?}, received ${recv:-?}, lost ${lost:-?}," \
		"$(grep -c ERROR "$OUT/uclient.log") ERROR lines" | tee -a "$SUMMARY"
	[ "$rc" = 0 ] || fail "turnutils_uclient exited $rc"
	grep -q ERROR "$OUT/uclient.log" && fail "turnutils_uclient reported errors"
	"$PAIR" down >/dev/null 2>&1
}

: >"$SUMMARY"
for mode in kill link; do
	for i in $(seq "$N"); do
		one_run "$mode" "$i"
	done
done

python3 - "$CSV" "$SUMMARY" <<'EOF'
import csv, sys
rows = list(csv.DictReader(open(sys.argv[1])))
out = open(sys.argv[2], "a")
def pct(xs, p):
    xs = sorted(xs)
    if not xs:
        return float("nan")
    k = max(0, min(len(xs) - 1, int(round(p / 100.0 * len(xs) + 0.5)) - 1))
    return xs[k]
for mode in ("kill", "link"):
    g = [float(r["gap_ms"]) for r in rows if r["mode"] == mode and r["gap_ms"]]
    bad = [r for r in rows if r["mode"] == mode and r["ok"] != "ok"]
    lost = sum(int(r["allocations_lost"] or 0) for r in rows if r["mode"] == mode)
    e = sum(int(r["n437"] or 0) + int(r["n438"] or 0) for r in rows if r["mode"] == mode)
    line = ("%s: %d runs, gap p50 %.0f ms, p99 %.0f ms, max %.0f ms; allocations lost %d, "
            "437/438 responses %d, failed runs %d" % (mode, len(g), pct(g, 50), pct(g, 99),
            max(g) if g else float("nan"), lost, e, len(bad)))
    print(line)
    out.write(line + "\n")
EOF

ADV=${TWIST_LAB_ADVERT:-$(sed -n 's/^ADVERT=${TWIST_LAB_ADVERT:-\(.*\)}$/\1/p' "$PAIR")}
bash "$CHAOS_DIR/failover_plot.sh" runs "$CSV" "$OUT/failover-gap.png" \
	"twist pair failover, advert_int $ADV s: longest time without a delivered packet ($CLIENTS clients x $RATE pps, $N runs each)" ||
	fail "no plot (failover_plot.sh)"

if command -v turnutils_uclient >/dev/null; then
	uclient_run
else
	fail "turnutils_uclient not found (apt-get install coturn)"
fi

if [ "${TWIST_CHAOS_DOCS:-0}" = 1 ]; then
	cp "$OUT/failover-gap.png" "$ROOT/docs/img/failover-gap.png"
	cp "$CSV" "$ROOT/docs/img/failover-runs.csv"
	cp "$SUMMARY" "$ROOT/docs/img/failover-summary.txt"
fi
cat "$SUMMARY"
bad=$(awk -F, 'NR > 1 && $11 != "ok"' "$CSV" | wc -l)
[ "$bad" = 0 ] || fail "$bad run(s) failed their checks (see $CSV, $OUT/failed-*.json)"
# shellcheck disable=SC2034 # read by chaos_done (lib.sh)
TEST_NAME=failover_runs
chaos_done
