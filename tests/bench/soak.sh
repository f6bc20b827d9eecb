#!/usr/bin/env bash
# soak.sh: many allocations held for a long time, refreshed and relaying,
# with the relay's memory sampled all along (docs/benchmarks.md, "Scale and
# memory"). Loopback only, in a private network namespace when it can.
#
#   soak.sh [--server twist|coturn] [--allocs N] [--duration S] [--rate PPS]
#           [--refresh S] [--settle S] [--sample S] [--out DIR]
#           [--twist BIN] [--turnload BIN] [--netns auto|1|0] [--quick]
#
# Starts the server fresh, reads its RSS (VmRSS) and the kernel's slab
# (/proc/meminfo) before any allocation, then runs turnload: N sessions, each
# an allocation with a channel, --rate packets/s round trips in all, refreshed
# (allocation and channel) every --refresh s, for --duration s. Every --sample
# s it records the relay's RSS and the slab. At the end:
#   - turnload's own verdict: sessions up, loss, refreshes ok/failed;
#   - user-space memory per allocation: (median RSS after --settle - RSS
#     before) / N;
#   - RSS drift after --settle: (last - first sample) and the max - min spread;
#   - kernel slab per allocation (both ends' sockets: see the note printed).
# N defaults to 50,000, cut to what the descriptor limit allows: the relay
# needs 2 per UDP allocation (relayed socket, connected per-client socket)
# and turnload 1 per session; each process has the same hard RLIMIT_NOFILE.
# Every wait has a time limit; processes are stopped by PID only.
# --quick is the smoke test (ctest bench_soak_smoke): 40 allocations for 6 s,
# refreshed every 3 s; it checks that every session came up, refreshed and
# got its own packets back, and that a figure per allocation came out; it
# never judges a size or a rate.
set -uo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
ARGS=("$@")

SERVER=twist
TWIST=$ROOT/build-bench/bin/twist-relay
TURNLOAD=$ROOT/build-bench/bin/turnload
ALLOCS=50000
DURATION=600
RATE=""
REFRESH=60
SETTLE=60
SAMPLE=10
QUICK=0
OUT=""
NETNS=${TWIST_BENCH_NETNS:-auto}
PORT=3578
METRICS_PORT=9742
STOP_GRACE=20

usage() { sed -n '2,/^set -uo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//'; }

while [ $# -gt 0 ]; do
	case $1 in
	--server) SERVER=$2; shift ;;
	--allocs) ALLOCS=$2; shift ;;
	--duration) DURATION=$2; shift ;;
	--rate) RATE=$2; shift ;;
	--refresh) REFRESH=$2; shift ;;
	--settle) SETTLE=$2; shift ;;
	--sample) SAMPLE=$2; shift ;;
	--out) OUT=$2; shift ;;
	--twist) TWIST=$2; shift ;;
	--turnload) TURNLOAD=$2; shift ;;
	--netns) NETNS=$2; shift ;;
	--quick) QUICK=1 ALLOCS=40 DURATION=6 SETTLE=2 SAMPLE=1 REFRESH=3 ;;
	-h | --help) usage; exit 0 ;;
	*) echo "soak.sh: unknown option '$1' (--help)" >&2; exit 2 ;;
	esac
	shift
done

log() { printf '[soak %4ds] %s\n' "$SECONDS" "$*"; }
fail() {
	printf '[soak] FAIL: %s\n' "$*" >&2
	exit 1
}
isnum() { [[ $1 =~ ^[0-9]+$ ]]; }
for v in ALLOCS DURATION REFRESH SETTLE SAMPLE; do
	isnum "${!v}" || fail "--${v,,} wants a whole number, got '${!v}'"
done
[ -z "$RATE" ] || isnum "$RATE" || fail "--rate wants a whole number, got '$RATE'"
[ "$DURATION" -ge 1 ] && [ "$DURATION" -le 3600 ] || fail "--duration must be 1..3600 s"
[ "$SAMPLE" -ge 1 ] || fail "--sample must be at least 1 s"
case $SERVER in
twist) [ -x "$TWIST" ] || fail "twist-relay '$TWIST' not found (build build-bench, or --twist)" ;;
coturn) command -v turnserver >/dev/null || fail "turnserver not found: apt-get install coturn" ;;
*) fail "--server is twist or coturn" ;;
esac
[ -x "$TURNLOAD" ] || fail "turnload '$TURNLOAD' not found (or --turnload)"

if [ "${TWIST_BENCH_IN_NETNS:-}" != 1 ] && [ "$NETNS" != 0 ]; then
	if command -v unshare >/dev/null && unshare -n true 2>/dev/null; then
		export TWIST_BENCH_IN_NETNS=1
		exec unshare -n -- bash "${BASH_SOURCE[0]}" "${ARGS[@]}"
	elif [ "$NETNS" = 1 ]; then
		fail "--netns 1 but 'unshare -n' does not work here (needs root)"
	fi
fi
[ "${TWIST_BENCH_IN_NETNS:-}" = 1 ] && { ip link set lo up || fail "cannot bring up lo"; }

# Descriptors: raise the soft limit to the hard one (children inherit it).
HARD=$(ulimit -Hn)
[ "$HARD" = unlimited ] && HARD=1048576
ulimit -n "$HARD" || fail "cannot raise the soft RLIMIT_NOFILE to $HARD"
FIT=$(((HARD - 200) / 2))
if [ "$ALLOCS" -gt "$FIT" ]; then
	log "NOTE: $ALLOCS allocations need $((2 * ALLOCS + 200)) descriptors in the relay;" \
		"the hard RLIMIT_NOFILE here is $HARD (raising it needs CAP_SYS_RESOURCE)." \
		"Running $FIT instead."
	ALLOCS=$FIT
fi
[ "$ALLOCS" -ge 1 ] || fail "no allocation fits in $HARD descriptors"
[ -n "$RATE" ] || RATE=$ALLOCS # one round trip per allocation per second
PORT_MAX=$((10000 + ALLOCS + 1000))
[ $PORT_MAX -le 65535 ] || PORT_MAX=65535

[ -n "$OUT" ] || OUT=$PWD/soak-$SERVER-$(date +%Y%m%d-%H%M%S)
mkdir -p "$OUT" || fail "cannot create $OUT"
OUT=$(cd "$OUT" && pwd)

# shellcheck source=proc.sh
. "$HERE/proc.sh"
trap stop_all_exit EXIT
trap 'fail "interrupted"' INT TERM

case $SERVER in
twist)
	cat >"$OUT/twist.yaml" <<EOF
listen: [{ address: 127.0.0.1, port: $PORT, transports: [udp] }]
relay: { addresses: [127.0.0.1], port_min: 10000, port_max: $PORT_MAX }
workers: 1
auth: { realm: twist.local, users: [{ name: demo, password: demo }], unauth_rate: 100000, unauth_burst: 100000 }
limits: { max_allocations: $((ALLOCS + 100)), user_quota: $((ALLOCS + 100)) }
peers: { allow_loopback: true, allow_self: true }
metrics: { enabled: true, listen: "127.0.0.1:$METRICS_PORT" }
log: { level: warn }
EOF
	"$TWIST" --config "$OUT/twist.yaml" </dev/null >"$OUT/server.log" 2>&1 &
	;;
coturn)
	mkdir -p "$OUT/coturn"
	turnserver -n --listening-ip 127.0.0.1 --relay-ip 127.0.0.1 --listening-port "$PORT" \
		--min-port 10000 --max-port "$PORT_MAX" --relay-threads 1 \
		--realm twist.local --lt-cred-mech --user demo:demo --allow-loopback-peers \
		--no-cli --no-tls --no-dtls --no-tcp --no-rfc5780 --total-quota 0 --user-quota 0 \
		--log-file "$OUT/coturn/turnserver.log" --simple-log --no-stdout-log \
		--pidfile "$OUT/coturn/turnserver.pid" --db "$OUT/coturn/turndb" \
		</dev/null >"$OUT/server.log" 2>&1 &
	;;
esac
SRV=$!
PIDS+=("$SRV")
for ((i = 0; i < 100; i++)); do
	ss -H -u -l -n "sport = :$PORT" 2>/dev/null | grep -q . && break
	running "$SRV" || fail "$SERVER exited at start (see $OUT/server.log)"
	sleep 0.1
done
sleep 1
rss_kib() { sed -n 's/^VmRSS:[[:space:]]*\([0-9]*\) kB/\1/p' "/proc/$1/status" 2>/dev/null; }
slab_kib() { sed -n 's/^Slab:[[:space:]]*\([0-9]*\) kB/\1/p' /proc/meminfo; }
RSS0=$(rss_kib "$SRV")
SLAB0=$(slab_kib)
[ -n "$RSS0" ] || fail "cannot read $SERVER's RSS"
log "$SERVER pid $SRV: RSS $RSS0 KiB before any allocation; $ALLOCS allocations," \
	"$RATE pkt/s, refresh every $REFRESH s, $DURATION s"

WARMUP=5
timeout -k 5 $((DURATION + WARMUP + 300)) "$TURNLOAD" -s "127.0.0.1:$PORT" --pid "$SRV" \
	-n "$ALLOCS" -r "$RATE" -l 100 -d "$DURATION" --warmup "$WARMUP" --refresh "$REFRESH" \
	--setup-timeout 240 --label "soak/$SERVER/$ALLOCS" -q \
	>"$OUT/turnload.out" 2>"$OUT/turnload.err" &
TL=$!
PIDS+=("$TL")

# Samples until turnload ends: seconds since start, RSS, slab.
echo "t_s,rss_kib,slab_kib" >"$OUT/samples.csv"
T0=$SECONDS
while running "$TL"; do
	r=$(rss_kib "$SRV")
	[ -n "$r" ] || fail "$SERVER (pid $SRV) died during the soak (see $OUT/server.log)"
	echo "$((SECONDS - T0)),$r,$(slab_kib)" >>"$OUT/samples.csv"
	sleep "$SAMPLE"
done
wait "$TL"
TLRC=$?
RES=$(grep '^turnload ' "$OUT/turnload.out" | tail -n 1)
[ -n "$RES" ] || fail "turnload printed no result (exit $TLRC, see $OUT/turnload.err)"
running "$SRV" || fail "$SERVER died during the soak"
stop_pid "$SRV"

kv() { sed -n "s/.* $1=\([^ ]*\).*/\1/p" <<<" $RES"; }
# Samples after the settle time and before turnload's deletes at the end.
awk -F, -v s="$SETTLE" -v end="$((DURATION + WARMUP))" 'NR > 1 && $1 >= s && $1 <= end' \
	"$OUT/samples.csv" >"$OUT/steady.csv"
NS=$(wc -l <"$OUT/steady.csv")
[ "$NS" -ge 2 ] || fail "fewer than 2 samples after --settle $SETTLE s: run longer"
median() { sort -n | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
MED=$(cut -d, -f2 "$OUT/steady.csv" | median)
SLABMED=$(cut -d, -f3 "$OUT/steady.csv" | median)
FIRST=$(head -n 1 "$OUT/steady.csv" | cut -d, -f2)
LAST=$(tail -n 1 "$OUT/steady.csv" | cut -d, -f2)
MIN=$(cut -d, -f2 "$OUT/steady.csv" | sort -n | head -n 1)
MAX=$(cut -d, -f2 "$OUT/steady.csv" | sort -n | tail -n 1)
READY=$(kv ready)
{
	echo "server: $SERVER"
	echo "allocations: asked $ALLOCS, up $READY, failed $(kv failed)"
	echo "traffic: offered $(kv offered_pps) pkt/s, delivered $(kv delivered_pps), loss $(kv loss)," \
		"misrouted $(kv misrouted), refreshes ok $(kv refresh_ok) failed $(kv refresh_fail)"
	awk -v a="$RSS0" -v m="$MED" -v n="$READY" -v f="$FIRST" -v l="$LAST" -v lo="$MIN" -v hi="$MAX" \
		-v s0="$SLAB0" -v sm="$SLABMED" -v ns="$NS" -v st="$SETTLE" 'BEGIN {
		if (n < 1) { print "no allocation came up"; exit }
		printf "user space: RSS %d KiB before, %d KiB median after %d s (%d samples):" \
			" %.0f bytes per allocation\n", a, m, st, ns, (m - a) * 1024 / n
		printf "RSS after %d s: first %d KiB, last %d KiB (drift %+d KiB, %+.1f bytes per" \
			" allocation); spread %d KiB\n", st, f, l, l - f, (l - f) * 1024 / n, hi - lo
		printf "kernel: slab +%.0f KiB = %.0f bytes per allocation (includes turnload'\''s" \
			" own socket per session)\n", sm - s0, (sm - s0) * 1024 / n
	}'
	echo "turnload: $RES"
} | tee "$OUT/summary.txt"
[ "$(kv exit)" = 0 ] || fail "turnload says the run did not work (see $OUT/turnload.err)"
if [ $QUICK = 1 ]; then
	[ "$READY" = "$ALLOCS" ] || fail "quick: $READY of $ALLOCS sessions came up"
	[ "$(kv refresh_ok)" -gt 0 ] 2>/dev/null || fail "quick: no refresh succeeded"
	[ "$(kv refresh_fail)" = 0 ] || fail "quick: $(kv refresh_fail) refreshes failed"
	[ "$(kv misrouted)" = 0 ] || fail "quick: packets came back to the wrong session"
	[ "$(kv rx)" -gt 0 ] 2>/dev/null || fail "quick: nothing came back"
	grep -q 'bytes per allocation' "$OUT/summary.txt" || fail "quick: no memory figure"
	log "quick: ok"
fi
