#!/usr/bin/env bash
# fastpath.sh: coturn, twist in user space and twist with the TC fast path
# (docs/fastpath.md) side by side in one run, on a veth lab (client ns,
# relay ns, peer ns: tests/integration/fastpath_lab.sh, namespaces fp15-*).
# docs/benchmarks.md ("Fast path") reads the results.
#
#   fastpath.sh [--twist BIN] [--turnload BIN] [--out DIR] [--rounds N]
#               [--rate PPS] [--duration S] [--steps "R1 R2 ..."] [--quick]
#               [--napi threaded|backlog]
#
# Per round and server (coturn, user, fast; the order turns each round):
#   fixed  turnload at --rate for --duration, 16 channels, 100-byte payloads,
#          echoed by a turnload peer in the peer namespace. CPU per relayed
#          packet: busy time of the whole machine from /proc/stat (softirq
#          included) over the run, minus the busy time an idle window of the
#          same length just before had (other tenants of a shared machine),
#          minus the generator's and the peer's own CPU time, divided by the
#          packets relayed (to the peer and back). p99 round trip from
#          turnload.
#          --napi threaded (the default): every veth end receives in a NAPI
#          kernel thread of its own (fp_lab_napi), so the generator's and
#          the peer's own time is their process plus their veth end's
#          thread, and a second, direct count is the relay's process plus
#          its two veth ends' threads. --napi backlog leaves veth at its
#          default, where a receive runs in the softirq of the process that
#          sent the packet: this kernel has no IRQ_TIME_ACCOUNTING, so that
#          work lands in the sender's stime and the machine count can go
#          negative (the generator's sends carry the whole fast path).
#   steps  offered rates stepped up; max lossless throughput is the highest
#          whose round-trip loss stays <= 0.1%.
# The medians of the rounds go to DIR/fastpath.dat, and gnuplot draws
# DIR/bench-fastpath.png. Processes are stopped by PID only; every wait is
# bounded; the lab is deleted at exit.
set -uo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
TWIST=$ROOT/build-bench/bin/twist-relay
TURNLOAD=$ROOT/build-bench/bin/turnload
OUT=""
ROUNDS=3
RATE=20000
DURATION=5
STEPS="20000 40000 60000 80000 100000 120000 150000 180000 220000 260000 300000 350000"
STEP_DURATION=3
LOSS_MAX=0.001
ALLOCS=16
SIZE=100
QUICK=0
NAPI=threaded
while [ $# -gt 0 ]; do
	case $1 in
	--twist) TWIST=$2; shift ;;
	--turnload) TURNLOAD=$2; shift ;;
	--out) OUT=$2; shift ;;
	--rounds) ROUNDS=$2; shift ;;
	--rate) RATE=$2; shift ;;
	--duration) DURATION=$2; shift ;;
	--steps) STEPS=$2; shift ;;
	--napi) NAPI=$2; shift ;;
	--quick) QUICK=1 ROUNDS=1 RATE=2000 DURATION=1 STEPS="2000 4000" STEP_DURATION=1 ;;
	-h | --help) sed -n '2,/^set -uo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
	*) echo "fastpath.sh: unknown option '$1'" >&2; exit 2 ;;
	esac
	shift
done
OUT=${OUT:-$PWD/bench-fastpath-$(date +%Y%m%d-%H%M%S)}
mkdir -p "$OUT" || exit 1

# shellcheck disable=SC2034 # both read by lib.sh; named namespaces of its own
{
	TW_NAME=bench-fastpath
	TWIST_TEST_NETNS=0
}
# shellcheck source=../integration/lib.sh
. "$ROOT/tests/integration/lib.sh"
# shellcheck source=../integration/fastpath_lab.sh
. "$ROOT/tests/integration/fastpath_lab.sh"

[ "$(id -u)" = 0 ] || tw_fail "needs root (namespaces, BPF)"
[ -x "$TWIST" ] || tw_fail "twist-relay '$TWIST' not found (--twist BIN; a Release build)"
[ -x "$TURNLOAD" ] || tw_fail "turnload '$TURNLOAD' not found (--turnload BIN)"
tw_need turnserver coturn
tw_need gnuplot gnuplot-nox
tw_need curl curl
tw_trap
tw_tmpdir
fp_lab_up b$$
case $NAPI in
threaded) fp_lab_napi ;;
backlog) ;;
*) tw_fail "--napi threaded|backlog, not '$NAPI'" ;;
esac
FP_METRICS_PORT=9716
PEER_PORT=3480

# /proc/stat's cpu line: "idle+iowait softirq" jiffies of the whole machine.
stat() { awk '/^cpu / { print $5 + $6, $8 }' /proc/stat; }
NCPU=$(nproc)
# busy: the CPUs' time over the window (nproc x wall clock) less their idle
# and iowait. Idle is measured exactly on a tickless kernel, while user,
# system and softirq are sampled at ticks and miss the short bursts of
# threads that sleep between packets (the NAPI threads): their sum fell
# 25-30 % short of the processes' own exact run times here.
# busy_jiffies T0_NS T1_NS IDLE0 IDLE1
busy_jiffies() {
	awk -v t="$(($2 - $1))" -v i0="$3" -v i1="$4" -v n="$NCPU" -v hz="$HZ" \
		'BEGIN { print n * hz * t / 1e9 - (i1 - i0) }'
}
# utime + stime of a process (all its threads), in jiffies.
proc_cpu() { awk '{ print $14 + $15 }' "/proc/$1/stat" 2>/dev/null || echo 0; }
# napi_cpu DEV...: jiffies of those veth ends' NAPI threads (0 with --napi backlog).
napi_cpu() {
	local d e n=0
	for d in "$@"; do
		for e in $FP_NAPI_PIDS; do
			[ "${e%%:*}" = "$d" ] && n=$((n + $(proc_cpu "${e##*:}")))
		done
	done
	echo $n
}
now_ns() { date +%s%N; }
kv() { sed -n "s/.* $1=\([^ ]*\).*/\1/p" <<<"$2"; }
HZ=$(getconf CLK_TCK)

start_server() { # coturn|user|fast
	case $1 in
	coturn)
		mkdir -p "$TW_TMP/coturn"
		tw_start turnserver "$TW_TMP/coturn.out" ip netns exec "$FP_RLY" turnserver -n \
			--listening-ip "$FP_LISTEN_IP" --relay-ip "$FP_RELAY_IP" --listening-port 3478 \
			--min-port 49152 --max-port 65535 --realm twist.local --lt-cred-mech \
			--user demo:demo --fingerprint --no-cli --no-tls --no-dtls --no-rfc5780 \
			--log-file "$TW_TMP/coturn/turnserver.log" --simple-log --no-stdout-log \
			--pidfile "$TW_TMP/coturn/turnserver.pid" --db "$TW_TMP/coturn/turndb"
		;;
	user | fast)
		local mode=off
		[ "$1" = fast ] && mode=on
		fp_lab_config "$TW_TMP/relay.yaml" $mode "$FP_METRICS_PORT" "log: { level: warn }"
		tw_start twist-relay "$TW_TMP/relay-$1.log" ip netns exec "$FP_RLY" "$TWIST" \
			-c "$TW_TMP/relay.yaml"
		;;
	esac
	SERVER_PID=$TW_LAST_PID
	sleep 1
	tw_running "$SERVER_PID" || tw_fail "$1 did not start"
}

stop_server() {
	tw_stop "$SERVER_PID" || tw_fail "the server did not stop"
	tw_forget "$SERVER_PID"
}

# load RATE DURATION: one turnload run through the relay; prints its line.
load() {
	timeout -k 5 $((${2%.*} + 60)) ip netns exec "$FP_CLI" "$TURNLOAD" -q \
		-s "$FP_LISTEN_IP:3478" -p "$FP_PEER_IP:$PEER_PORT" --external-peer \
		-n "$ALLOCS" -r "$1" -l "$SIZE" -d "$2" --warmup 0 --drain 0.5 -u demo -k demo
}

# fixed SERVER ROUND: CPU per relayed packet and p99 at RATE. Two counts:
#   machine  the issue's: busy jiffies of the whole machine over the run,
#            less what an idle window just before had per second (other
#            tenants), less the generator's and the peer's own CPU
#            (with --napi threaded, their veth ends' NAPI threads too)
#   path     with --napi threaded: the relay process's CPU plus its two
#            veth ends' NAPI threads (where the TC program and the
#            redirect run), counted directly. With --napi backlog: softirq
#            jiffies of the whole machine less the idle window's rate, plus
#            the relay process's own CPU
fixed() {
	local w0 w1 t0 t1 s0 s1 p0 p1 r0 r1 n0 n1 line gen relayed
	read -r -a w0 <<<"$(stat)"
	t0=$(now_ns)
	sleep "$DURATION"
	read -r -a w1 <<<"$(stat)"
	t1=$(now_ns)
	local idle_busy idle_soft
	idle_busy=$(awk -v b="$(busy_jiffies "$t0" "$t1" "${w0[0]}" "${w1[0]}")" -v t="$((t1 - t0))" \
		'BEGIN { print b / (t / 1e9) }')
	idle_soft=$(awk -v a="${w0[1]}" -v b="${w1[1]}" -v t="$((t1 - t0))" 'BEGIN { print (b - a) / (t / 1e9) }')
	p0=$(($(proc_cpu "$PEER_PID") + $(napi_cpu fp15c fp15p)))
	r0=$(proc_cpu "$SERVER_PID")
	n0=$(napi_cpu fp15r0 fp15r1)
	read -r -a s0 <<<"$(stat)"
	t0=$(now_ns)
	line=$(load "$RATE" "$DURATION")
	t1=$(now_ns)
	read -r -a s1 <<<"$(stat)"
	p1=$(($(proc_cpu "$PEER_PID") + $(napi_cpu fp15c fp15p)))
	r1=$(proc_cpu "$SERVER_PID")
	n1=$(napi_cpu fp15r0 fp15r1)
	echo "$2 $1 $line" >>"$OUT/fixed.log"
	# The parts of both counts, in CPU seconds, for the record.
	local busy
	busy=$(busy_jiffies "$t0" "$t1" "${s0[0]}" "${s1[0]}")
	awk -v b="$busy" -v ib="$idle_busy" -v t="$((t1 - t0))" -v hz="$HZ" \
		-v gen="$(kv gen_cpu_s "$line")" -v peer="$((p1 - p0))" -v relay="$((r1 - r0))" \
		-v napi="$((n1 - n0))" -v s="$1" -v r="$2" \
		'BEGIN { printf "%s %s parts: busy %.2f idle-rate %.2f generator %.2f peer+edge-napi %.2f relay %.2f relay-napi %.2f\n",
		         r, s, b / hz, ib * t / 1e9 / hz, gen, peer / hz, relay / hz, napi / hz }' >>"$OUT/fixed.log"
	[ "$(kv exit "$line")" = 0 ] || tw_fail "$1: turnload failed: $line"
	gen=$(kv gen_cpu_s "$line")
	relayed=$(($(kv peer_rx "$line") + $(kv rx "$line")))
	# With an external peer turnload cannot see the peer's count: each
	# round trip is two relayed packets.
	[ "$(kv peer_rx "$line")" -gt 0 ] || relayed=$((2 * $(kv rx "$line")))
	local m p
	m=$(awk -v b0=0 -v b1="$busy" -v ib="$idle_busy" -v t="$((t1 - t0))" -v gen="$gen" \
		-v p0="$p0" -v p1="$p1" -v hz="$HZ" -v n="$relayed" \
		'BEGIN { s = ((b1 - b0) - ib * t / 1e9) / hz - gen - (p1 - p0) / hz;
		         printf "%.0f", (n > 0 ? s / n * 1e9 : 0) }')
	if [ "$NAPI" = threaded ]; then
		p=$(awk -v r="$((r1 - r0 + n1 - n0))" -v hz="$HZ" -v n="$relayed" \
			'BEGIN { printf "%.0f", (n > 0 ? r / hz / n * 1e9 : 0) }')
	else
		p=$(awk -v a="${s0[1]}" -v b="${s1[1]}" -v is="$idle_soft" -v t="$((t1 - t0))" \
			-v r0="$r0" -v r1="$r1" -v hz="$HZ" -v n="$relayed" \
			'BEGIN { s = ((b - a) - is * t / 1e9 + (r1 - r0)) / hz;
			         printf "%.0f", (n > 0 ? s / n * 1e9 : 0) }')
	fi
	printf '%s %s %s %s %s %s %s\n' "$1" "$2" "$m" "$p" "$(kv rtt_p99_us "$line")" \
		"$(kv loss "$line")" "$(awk -v i="$idle_busy" -v hz="$HZ" 'BEGIN { printf "%.2f", i / hz }')" \
		>>"$OUT/fixed.txt"
	tw_log "$1 round $2: CPU per relayed packet ${m} ns (machine), ${p} ns (path); p99 $(kv rtt_p99_us "$line") us, loss $(kv loss "$line"), $relayed relayed; other tenants kept $(awk -v i="$idle_busy" -v hz="$HZ" 'BEGIN { printf "%.2f", i / hz }') CPUs busy"
}

# steps SERVER ROUND: the highest lossless offered rate.
steps() {
	local r line best=0 over=0
	for r in $STEPS; do
		line=$(load "$r" "$STEP_DURATION")
		echo "$2 $1 $line" >>"$OUT/steps.log"
		if [ "$(kv exit "$line")" = 0 ] &&
			awk -v l="$(kv loss "$line")" -v m="$LOSS_MAX" 'BEGIN { exit !(l <= m) }'; then
			best=$(kv delivered_pps "$line")
			over=0
		else
			over=$((over + 1))
			[ $over -ge 2 ] && break
		fi
	done
	echo "$1 $2 $best" >>"$OUT/steps.txt"
	tw_log "$1 round $2: max lossless $best pkt/s (each way)"
}

tw_start turnload-peer "$TW_TMP/peer.log" ip netns exec "$FP_PEER" "$TURNLOAD" --peer-only \
	--peer "$FP_PEER_IP:$PEER_PORT" -d 3600
PEER_PID=$TW_LAST_PID
: >"$OUT/fixed.txt"
: >"$OUT/steps.txt"
order=(coturn user fast)
for round in $(seq 1 "$ROUNDS"); do
	for s in "${order[@]}"; do
		start_server "$s"
		if [ "$s" = fast ]; then
			# One packet each way first, so that the neighbours are known.
			load 1000 1 >/dev/null
		fi
		fixed "$s" "$round"
		steps "$s" "$round"
		if [ "$s" = fast ]; then
			v=$(fp_metric 'twist_fastpath_packets_total{dir="client_to_peer"}')
			[ "$v" -gt 0 ] || tw_fail "fast: the program carried nothing"
			tw_log "fast: the program carried $v packets client to peer"
		fi
		stop_server
	done
	order=("${order[@]:1}" "${order[0]}")
done

# Medians over the rounds.
med() { sort -g | awk '{ a[NR] = $1 } END { print NR ? a[int((NR + 1) / 2)] : 0 }'; }
col() { awk -v s="$1" -v c="$2" '$1 == s { print $c }' "$3" | med; }
{
	echo "# medians of $ROUNDS rounds; fixed rate $RATE pkt/s each way, $ALLOCS channels, $SIZE-byte payloads"
	echo "# server cpu_machine_ns cpu_path_ns rtt_p99_us max_lossless_pps busy_cpus_idle"
	for s in coturn user fast; do
		printf '%s %s %s %s %s %s\n' "$s" "$(col $s 3 "$OUT/fixed.txt")" \
			"$(col $s 4 "$OUT/fixed.txt")" "$(col $s 5 "$OUT/fixed.txt")" \
			"$(col $s 3 "$OUT/steps.txt")" "$(col $s 7 "$OUT/fixed.txt")"
	done
} >"$OUT/fastpath.dat"
cat "$OUT/fastpath.dat"
if [ $QUICK = 0 ]; then
	gnuplot -e "dat='$OUT/fastpath.dat'; out='$OUT/bench-fastpath.png'" "$HERE/fastpath.gp" ||
		tw_fail "gnuplot"
fi
tw_pass "results in $OUT"
