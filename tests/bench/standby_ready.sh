#!/usr/bin/env bash
# standby_ready.sh: how soon after a bulk resync a standby twist-relay holds
# N replicated allocations, every socket bound (docs/ha.md, "Standby
# readiness"). Loopback only (127.0.0.0/8).
#
#   standby_ready.sh [--bin DIR] [--n "1000 5000 9000"] [--runs 3] [--out DIR]
#                    [--workers 0] [--budget-ms 2000] [--sockbench N]
#                    [--netns auto|1|0] [--keep]
#
# Per N and run, in a fresh temp dir:
#  1. twist-syncd A (node 1, role master) with a fake active relay
#     (standby_ready feed) that answers A's start-up dump with N UDP flow
#     tuples: client 127.0.(1+i/250).(1+i%250):15000, local 127.0.0.1:3978,
#     relayed 127.0.0.3:(20000+i), one permission and channel 0x4000 for the
#     peer 127.0.0.9:19999, user "demo", lifetime 600.
#  2. a real twist-relay B (ha.enabled, nonce_secret, UDP 127.0.0.1:3978,
#     relay address 127.0.0.3 ports 20000-29999, its own metrics port), then
#     twist-syncd B (node 2, role backup). B's syncd loads (its relay has no
#     flows), meets A, and A sends the bulk.
#  3. standby_ready wait polls relay B's /metrics every 10 ms until
#     twist_allocations == N and twist_sync_imported_total >= N, and counts
#     /proc/<relay>/fd then. BulkEnd is syncd B's "bulk resync complete" log
#     line (ms stamps, the same CLOCK_REALTIME); the figure is ready - BulkEnd.
#  4. standby_ready probe, for flows 0 and N-1: ChannelData from the client's
#     ip:port to 127.0.0.1:3978 must leave 127.0.0.3:(20000+i) to the peer,
#     and the peer's answer must reach the client as ChannelData from
#     127.0.0.1:3978. No Allocate is ever sent to B.
# --sockbench N (e.g. 19900) then runs the kernel part alone, without a relay:
# N client sockets bound to the listener and connected, as an import opens
# them, timed per 1000 (N + 10 descriptors fit where the relay's 2N do not).
# Processes are stopped by PID only; every wait has a time limit; temp dirs
# are removed (unless --keep). Results: DIR/standby-ready.csv, summary on stdout.
#
# The relay needs two descriptors per allocation (relayed socket, connected
# per-client socket). It raises its soft RLIMIT_NOFILE to the hard limit, and
# the hard limit only with CAP_SYS_RESOURCE: an N that cannot fit is refused.
set -uo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
ARGS=("$@")

BIN=$ROOT/build/bin
NS="1000 5000 9000"
RUNS=3
OUT=""
SOCKBENCH=0
WORKERS=0
NETNS=${TWIST_BENCH_NETNS:-auto}
KEEP=0
LISTEN_IP=127.0.0.1
LISTEN_PORT=3978
RELAY_IP=127.0.0.3
PORT_MIN=20000
PORT_MAX=29999
PEER=127.0.0.9:19999
CLIENT_PORT=15000
READY_TIMEOUT_MS=60000
BUDGET_MS=2000      # the goal: ready within 2 s of BulkEnd (reported, not enforced)
STOP_GRACE=5

usage() {
	sed -n '2,/^set -uo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//'
	exit "${1:-0}"
}
log() { printf '%s standby_ready: %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
fail() {
	log "FAIL: $*"
	exit 1
}

while [ $# -gt 0 ]; do
	case $1 in
	--bin) BIN=$2; shift ;;
	--n) NS=$2; shift ;;
	--runs) RUNS=$2; shift ;;
	--out) OUT=$2; shift ;;
	--workers) WORKERS=$2; shift ;;
	--budget-ms) BUDGET_MS=$2; shift ;;
	--sockbench) SOCKBENCH=$2; shift ;;
	--netns) NETNS=$2; shift ;;
	--keep) KEEP=1 ;;
	-h | --help) usage 0 ;;
	*) log "unknown argument '$1'"; usage 2 ;;
	esac
	shift
done

# A private network namespace (lo only) when possible: no other process on
# the host shares these ports. At top level on purpose.
if [ "${TWIST_BENCH_IN_NETNS:-}" != 1 ] && [ "$NETNS" != 0 ]; then
	if command -v unshare >/dev/null && command -v ip >/dev/null && unshare -n true 2>/dev/null; then
		export TWIST_BENCH_IN_NETNS=1
		exec unshare -n -- bash "${BASH_SOURCE[0]}" "${ARGS[@]}"
	elif [ "$NETNS" = 1 ]; then
		fail "--netns 1 but 'unshare -n' does not work here"
	fi
fi
if [ "${TWIST_BENCH_IN_NETNS:-}" = 1 ]; then
	ip link set lo up || fail "cannot bring up lo in the private namespace"
	log "in a private network namespace (lo only)"
fi

RELAY=$BIN/twist-relay
SYNCD=$BIN/twist-syncd
HELPER=$BIN/standby_ready
for b in "$RELAY" "$SYNCD" "$HELPER"; do
	[ -x "$b" ] || fail "'$b' not found: build it (cmake --build ...), or --bin DIR"
done
command -v timeout >/dev/null || fail "'timeout' (coreutils) not found"
[ -n "$OUT" ] || OUT=${TMPDIR:-/tmp}/standby-ready-results
mkdir -p "$OUT" || fail "cannot create $OUT"
CSV=$OUT/standby-ready.csv

HARD_NOFILE=$(ulimit -Hn)
for n in $NS; do
	[[ $n =~ ^[0-9]+$ ]] && [ "$n" -ge 1 ] || fail "bad N '$n'"
	[ "$n" -le $((PORT_MAX - PORT_MIN + 1)) ] || fail "N=$n exceeds the relay port range"
	if [ "$HARD_NOFILE" != unlimited ] && [ $((2 * n + 200)) -gt "$HARD_NOFILE" ]; then
		fail "N=$n needs ~$((2 * n + 200)) descriptors; the hard RLIMIT_NOFILE here is" \
			"$HARD_NOFILE and raising it needs CAP_SYS_RESOURCE"
	fi
done
[[ $SOCKBENCH =~ ^[0-9]+$ ]] || fail "bad --sockbench '$SOCKBENCH'"
if [ "$SOCKBENCH" -gt 0 ] && [ "$HARD_NOFILE" != unlimited ] &&
	[ $((SOCKBENCH + 10)) -gt "$HARD_NOFILE" ]; then
	fail "--sockbench $SOCKBENCH needs $((SOCKBENCH + 10)) descriptors (hard limit $HARD_NOFILE)"
fi

TMP=""
# shellcheck source=proc.sh
. "$HERE/proc.sh"

stop_all() {
	local i
	for ((i = ${#PIDS[@]} - 1; i >= 0; i--)); do stop_pid "${PIDS[i]}"; done
}
cleanup_run() {
	stop_all
	if [ -n "$TMP" ] && [ -d "$TMP" ]; then
		if [ "$KEEP" = 1 ]; then log "kept $TMP"; else rm -rf "$TMP"; fi
	fi
	TMP=""
}
trap 'cleanup_run' EXIT
trap 'log "interrupted"; exit 130' INT TERM

freeport() { "$HELPER" freeport; }
metric() { timeout 3 "$HELPER" metric --port "$1" --name "$2" 2>/dev/null || echo -1; }
wait_metric() { # PORT NAME VALUE TIMEOUT_S: until the metric equals VALUE
	local end=$((SECONDS + $4)) v
	while [ $SECONDS -lt $end ]; do
		v=$(metric "$1" "$2")
		[ "$v" = "$3" ] && return 0
		sleep 0.05
	done
	log "$2 on port $1 is '$v', wanted '$3' (after $4 s)"
	return 1
}
log_ms() { # FILE PATTERN: the first matching log line's stamp as epoch ms, or empty
	local ts
	ts=$(grep -m1 -- "$2" "$1" | cut -d' ' -f1)
	[ -n "$ts" ] && date -u -d "$ts" +%s%3N
}
kv() { sed -n "s/^$1=//p" "$2" | head -1; }

FLOWOPTS=(--listen "$LISTEN_IP:$LISTEN_PORT" --relay-ip "$RELAY_IP" --port-min "$PORT_MIN"
	--peer "$PEER" --client-port "$CLIENT_PORT" --lifetime 600)

write_relay_conf() { # FILE IPCDIR METRICSPORT
	cat >"$1" <<EOF
# standby_ready.sh: the standby relay B
listen:
  - address: $LISTEN_IP
    port: $LISTEN_PORT
    transports: [udp]
relay:
  addresses: [$RELAY_IP]
  port_min: $PORT_MIN
  port_max: $PORT_MAX
workers: $WORKERS
auth:
  realm: twist.local
  users:
    - { name: demo, password: demo }
  nonce_secret: "standby-ready-bench-shared-nonce-secret"
peers:
  allow_loopback: true
limits:
  max_allocations: 100000
metrics:
  enabled: true
  listen: 127.0.0.1:$3
log:
  level: info
ha:
  enabled: true
  ipc_dir: $2
EOF
}

# One run: appends a CSV line; returns non-zero if anything failed.
one_run() { # N RUN
	local n=$1 run=$2 pa pb ma mb mr sa feed relay sb waiter fds0
	TMP=$(mktemp -d /tmp/standby-ready.XXXXXX) || fail "mktemp"
	mkdir -p "$TMP/a" "$TMP/b"
	echo master >"$TMP/a/role"
	echo backup >"$TMP/b/role"
	pa=$(freeport) pb=$(freeport) ma=$(freeport) mb=$(freeport) mr=$(freeport)

	# 1. syncd A (master) and its fake relay holding N flows.
	"$SYNCD" --node-id 1 --peer-id 2 --listen "tcp://127.0.0.1:$pa" --peer "tcp://127.0.0.1:$pb" \
		--ipc-dir "$TMP/a" --role-file "$TMP/a/role" --metrics "127.0.0.1:$ma" \
		2>"$TMP/a/syncd.log" &
	sa=$!
	PIDS+=("$sa")
	"$HELPER" feed --ipc "$TMP/a" --n "$n" "${FLOWOPTS[@]}" --timeout-ms 600000 \
		>"$TMP/a/feed.out" 2>&1 &
	feed=$!
	PIDS+=("$feed")
	wait_metric "$ma" twist_syncd_flows "$n" 30 || { log "syncd A did not load $n flows"; return 1; }

	# 2. relay B first (it retries the ipc until syncd B binds it), then syncd B.
	write_relay_conf "$TMP/b/relay.yaml" "$TMP/b" "$mr"
	"$RELAY" --config "$TMP/b/relay.yaml" 2>"$TMP/b/relay.log" &
	relay=$!
	PIDS+=("$relay")
	wait_metric "$mr" twist_allocations 0 10 || { log "relay B did not start"; return 1; }
	fds0=$(ls "/proc/$relay/fd" | wc -l)
	# 3. the poller runs before syncd B exists, so it cannot miss the bulk.
	timeout $((READY_TIMEOUT_MS / 1000 + 10)) "$HELPER" wait --metrics "$mr" --pid "$relay" \
		--n "$n" --syncd-metrics "$mb" --timeout-ms "$READY_TIMEOUT_MS" --period-ms 10 \
		>"$TMP/b/wait.out" 2>&1 &
	waiter=$!
	PIDS+=("$waiter")
	"$SYNCD" --node-id 2 --peer-id 1 --listen "tcp://127.0.0.1:$pb" --peer "tcp://127.0.0.1:$pa" \
		--ipc-dir "$TMP/b" --role-file "$TMP/b/role" --metrics "127.0.0.1:$mb" \
		2>"$TMP/b/syncd.log" &
	sb=$!
	PIDS+=("$sb")
	wait "$waiter"
	local wrc=$?
	PIDS=($(for p in "${PIDS[@]}"; do [ "$p" = "$waiter" ] || echo "$p"; done))
	[ "$wrc" = 0 ] || { log "relay B not ready: $(tr '\n' ' ' <"$TMP/b/wait.out")"; return 1; }

	local ready begin_ms end_ms bulk_ms synced_seen fds_ready failed
	ready=$(kv ready_rt_ms "$TMP/b/wait.out")
	synced_seen=$(kv syncd_ready_rt_ms "$TMP/b/wait.out")
	fds_ready=$(kv fds_ready "$TMP/b/wait.out")
	failed=$(kv import_failed "$TMP/b/wait.out")
	# BulkEnd is logged when it is applied; give the log a moment to reach the file.
	for _ in 1 2 3 4 5 6 7 8 9 10; do
		grep -q "bulk resync complete" "$TMP/b/syncd.log" && break
		sleep 0.1
	done
	begin_ms=$(log_ms "$TMP/b/syncd.log" "bulk resync from peer node")
	end_ms=$(log_ms "$TMP/b/syncd.log" "bulk resync complete")
	bulk_ms=$(sed -n 's/.*bulk resync complete: [0-9]* flows in \([0-9.]*\) ms.*/\1/p' "$TMP/b/syncd.log" | head -1)
	[ -n "$begin_ms" ] && [ -n "$end_ms" ] || { log "no bulk resync in syncd B's log"; return 1; }

	# 4. the standby relays without any Allocate, in both directions.
	local probe_ok=1 idx
	for idx in 0 $((n - 1)); do
		if ! timeout 10 "$HELPER" probe --index "$idx" "${FLOWOPTS[@]}" --timeout-ms 2000 \
			>"$TMP/b/probe.$idx.out" 2>&1; then
			probe_ok=0
			log "probe of flow $idx failed: $(tr '\n' ' ' <"$TMP/b/probe.$idx.out")"
		fi
	done
	local fds_after pkts
	fds_after=$(ls "/proc/$relay/fd" | wc -l)
	pkts=$(metric "$mr" 'twist_packets_total{dir="peer_out"}')

	# Stop in reverse order; the relay must exit 0 on SIGTERM.
	stop_pid "$sb"
	stop_pid "$relay"
	local relay_rc=$STOP_STATUS
	stop_all
	[ "$relay_rc" = 0 ] || log "relay B exited with status $relay_rc on SIGTERM"

	local after_end=$((ready - end_ms)) after_begin=$((ready - begin_ms))
	local seen_lag=""
	[ -n "$synced_seen" ] && [ "$synced_seen" != 0 ] && seen_lag=$((ready - synced_seen))
	echo "$n,$run,$bulk_ms,$after_begin,$after_end,$seen_lag,$fds0,$fds_ready,$fds_after,$((fds_ready - fds0)),$failed,$probe_ok,$pkts,$relay_rc" >>"$CSV"
	log "N=$n run $run: bulk ${bulk_ms} ms; ready $after_end ms after BulkEnd ($after_begin ms after" \
		"BulkBegin); fds $fds0 -> $fds_ready (+$((fds_ready - fds0)), 2N=$((2 * n))); import" \
		"failures $failed; probes $([ $probe_ok = 1 ] && echo ok || echo FAILED)"
	cleanup_run
	[ "$probe_ok" = 1 ] && [ "$failed" = 0 ] && [ "$relay_rc" = 0 ]
}

echo "n,run,bulk_ms,ready_after_bulkbegin_ms,ready_after_bulkend_ms,ready_after_syncd_ready_ms,fds_idle,fds_ready,fds_after_probe,fds_added,import_failed,probe_ok,peer_out_pkts,relay_exit" >"$CSV"
log "nproc $(nproc), load $(cut -d' ' -f1-3 /proc/loadavg), hard RLIMIT_NOFILE $HARD_NOFILE," \
	"N = $NS, $RUNS runs each"
FAILS=0
for n in $NS; do
	for ((r = 1; r <= RUNS; r++)); do
		one_run "$n" "$r" || { FAILS=$((FAILS + 1)); cleanup_run; }
	done
done

# Summary: per N, median and max of ready - BulkEnd; a least-squares line and
# a parabola through the medians, both extrapolated to 20,000 allocations.
summary() {
	local n
	printf '%-7s %5s %9s %9s %9s %9s %9s %9s %9s %7s %s\n' N runs 'bulk p50' \
		'rdy p50' 'rdy max' 'rdyB p50' 'rdyB max' 'rdyR p50' "<=${BUDGET_MS}ms" 'fds+' 'probes'
	for n in $NS; do
		awk -F, -v n="$n" 'NR > 1 && $1 == n' "$CSV" >"$OUT/.rows" || true
		[ -s "$OUT/.rows" ] || { printf '%-7s %5s\n' "$n" 0; continue; }
		local runs med max bmed bmax rmed bulk fds probes within
		runs=$(wc -l <"$OUT/.rows")
		med=$(cut -d, -f5 "$OUT/.rows" | sort -n | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}')
		max=$(cut -d, -f5 "$OUT/.rows" | sort -n | tail -1)
		bmed=$(cut -d, -f4 "$OUT/.rows" | sort -n | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}')
		bmax=$(cut -d, -f4 "$OUT/.rows" | sort -n | tail -1)
		bulk=$(cut -d, -f3 "$OUT/.rows" | sort -n | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}')
		fds=$(cut -d, -f10 "$OUT/.rows" | sort -n | uniq | tr '\n' '/' | sed 's|/$||')
		probes=$(awk -F, '{ok += $12} END {print ok "/" NR}' "$OUT/.rows")
		within=$(awk -F, -v b="$BUDGET_MS" '{ok += ($5 <= b)} END {print ok "/" NR}' "$OUT/.rows")
		rmed=$(cut -d, -f6 "$OUT/.rows" | grep . | sort -n | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}')
		printf '%-7s %5s %9s %9s %9s %9s %9s %9s %9s %7s %s\n' "$n" "$runs" "$bulk" "$med" "$max" \
			"$bmed" "$bmax" "$rmed" "$within" "$fds" "$probes"
		echo "$n $med $bmed" >>"$OUT/.medians"
	done
	rm -f "$OUT/.rows"
	if [ -s "$OUT/.medians" ] && [ "$(wc -l <"$OUT/.medians")" -ge 2 ]; then
		# Linear: t = a + b N. Quadratic (3+ sizes): t = a + b N + c N^2, by the
		# normal equations (Cramer's rule); the kernel's bind cost per socket
		# grows with the sockets already on the port, so the total is ~N^2.
		awk 'function det3(a, b, c, d, e, f, g, h, i) { return a * (e * i - f * h) - b * (d * i - f * g) + c * (d * h - e * g) }
		{
			x = $1 / 1000; y = $2
			s0++; s1 += x; s2 += x * x; s3 += x * x * x; s4 += x * x * x * x
			t0 += y; t1 += x * y; t2 += x * x * y
		}
		END {
			d = s0 * s2 - s1 * s1
			b = (s0 * t1 - s1 * t0) / d; a = (t0 - b * s1) / s0
			printf "linear fit of the medians (ready - BulkEnd): %.0f ms + %.1f ms per 1000 allocations; at 20000: %.0f ms\n", a, b, a + b * 20
			if (s0 >= 3) {
				D = det3(s0, s1, s2, s1, s2, s3, s2, s3, s4)
				qa = det3(t0, s1, s2, t1, s2, s3, t2, s3, s4) / D
				qb = det3(s0, t0, s2, s1, t1, s3, s2, t2, s4) / D
				qc = det3(s0, s1, t0, s1, s2, t1, s2, s3, t2) / D
				printf "quadratic fit of the medians: %.0f + %.1f k + %.2f k^2 ms (k = N/1000); at 20000: %.0f ms\n", qa, qb, qc, qa + qb * 20 + qc * 400
			}
		}' "$OUT/.medians"
	fi
	rm -f "$OUT/.medians"
	echo "rdy = ready - BulkEnd, rdyB = ready - BulkBegin, rdyR = ready - syncd B's first /ready 200" \
		"(ms, 10 ms poll); <=${BUDGET_MS}ms = runs within the goal; fds+ = relay descriptors added (want ~2N)"
}
{
	echo "# $(date -u +%FT%TZ), $(uname -r), nproc $(nproc), load $(cut -d' ' -f1-3 /proc/loadavg)," \
		"workers $WORKERS, hard RLIMIT_NOFILE $HARD_NOFILE"
	summary
} | tee "$OUT/standby-ready-summary.txt"
if [ "$SOCKBENCH" -gt 0 ]; then
	log "kernel only: $SOCKBENCH connected UDP sockets on $LISTEN_IP:$LISTEN_PORT"
	(
		ulimit -n "$HARD_NOFILE" 2>/dev/null
		timeout 300 "$HELPER" sockbench --n "$SOCKBENCH" --listen "$LISTEN_IP:$LISTEN_PORT" \
			--client-port "$CLIENT_PORT"
	) | tee "$OUT/sockbench.txt" || { log "sockbench failed"; FAILS=$((FAILS + 1)); }
fi
log "results: $CSV"
[ "$FAILS" = 0 ] || fail "$FAILS run(s) failed"
