#!/usr/bin/env bash
# iperf3 TCP through twist-relay's transport relay translator and through
# TAYGA (Debian's tayga, a packet NAT64 over TUN), on the same lab, side by
# side in one run (issue 12, "Against the anchor"): one stream and 4 streams,
# with the CPU each costs per GB.
#
#   trt_iperf.sh [--relay PATH/twist-relay] [--xlt twist,tayga] [--secs 10]
#                [--out DIR]
#
# In deploy/lab/trt.sh's lab (it takes the trt12-* lab down first and at the
# end): iperf3 -c in trt12-cli toward PREFIX::c633:640a, iperf3 -s on the
# IPv4-only server, the translator in trt12-xlt. --xlt picks which ones run
# (default: both; tayga alone needs no --relay).
#
# CPU per GB, two figures for each run, both honest about what they count:
#   xlt      utime + stime of the translator process (/proc/PID/stat, all
#            its threads). twist-relay's data path is mostly here (its
#            sockets' system time). TAYGA's process only reads and writes its
#            TUN: the routing, conntrack and masquerade it relies on run in
#            softirq and are not charged to it.
#   machine  busy time of every CPU (/proc/stat: user, nice, system, irq,
#            softirq, steal) over the run: the translator, the kernel's share
#            (TAYGA's data path mostly is), but also both iperf3 ends and
#            anything else the machine runs. Compare it between runs made
#            back to back on an otherwise quiet machine only.
# Build with -DCMAKE_BUILD_TYPE=Release and no sanitizers for numbers worth
# quoting. Writes DIR/trt-iperf.dat (for tests/bench/plot_trt.gp) and
# DIR/trt-iperf.txt (a short summary); docs/benchmarks.md explains them.
# STOP_GRACE is read by proc.sh; bench_exit is the EXIT trap; the lab's
# names come from eval "$(trt.sh env)".
# shellcheck disable=SC2034,SC1091,SC2317,SC2153
set -u

HERE=$(cd "$(dirname "$0")" && pwd)
LABSH=$HERE/../../deploy/lab/trt.sh
RELAY="" XLTS=twist,tayga SECS=10 OUT=$PWD
STOP_GRACE=10
STREAMS="1 4"
log() { printf '[trt_iperf] %s\n' "$*"; }
die() {
	printf '[trt_iperf] ERROR: %s\n' "$*" >&2
	exit 1
}
. "$HERE/proc.sh"

while [ $# -gt 0 ]; do
	case $1 in
	--relay) RELAY=$2; shift 2 ;;
	--xlt) XLTS=$2; shift 2 ;;
	--secs) SECS=$2; shift 2 ;;
	--out) OUT=$2; shift 2 ;;
	*) die "unknown argument $1" ;;
	esac
done
if ! [[ $SECS =~ ^[0-9]+$ ]] || [ "$SECS" -lt 1 ]; then
	die "--secs wants a whole number of seconds"
fi
case ,$XLTS, in *,twist,*) [ -x "$RELAY" ] || die "--relay PATH/twist-relay is required for twist (built)" ;; esac
for x in ${XLTS//,/ }; do
	case $x in twist | tayga) ;; *) die "--xlt takes twist and/or tayga, not '$x'" ;; esac
done
[ "$(id -u)" = 0 ] || die "needs root"
for t in iperf3:iperf3 tayga:tayga python3:python3 curl:curl; do
	command -v "${t%%:*}" >/dev/null || die "${t%%:*} not found: apt-get install ${t##*:}"
done
mkdir -p "$OUT" || die "mkdir $OUT"

TMP=$(mktemp -d /tmp/trt_iperf.XXXXXX) || die mktemp
bench_exit() {
	local rc=$?
	trap - EXIT
	( (exit "$rc"); stop_all_exit )
	"$LABSH" down
	rm -rf "$TMP"
	exit "$rc"
}
trap bench_exit EXIT
trap 'exit 1' INT TERM

"$LABSH" down
TRT_LAB_BIG_MB=1 TRT_LAB_FTP_MB=1 "$LABSH" up || die "lab up failed"
eval "$("$LABSH" env)"

ip netns exec "$SERVER_NS" iperf3 -s -B "$SERVER_IP" -p 5201 </dev/null >"$TMP/iperf3-server.log" 2>&1 &
PIDS+=("$!")
for ((i = 0; i < 100; i++)); do
	ip netns exec "$SERVER_NS" ss -H -ltn | grep -q "$SERVER_IP:5201" && break
	sleep 0.1
done

HZ=$(getconf CLK_TCK)

# Busy ticks of all CPUs: user nice system (not idle iowait) irq softirq steal.
busy() {
	awk '$1 == "cpu" { print $2 + $3 + $4 + $7 + $8 + $9; exit }' /proc/stat
}

xlt_pid() { cat "$LAB_DIR/pids/$1.pid"; }

start_xlt() {
	if [ "$1" = tayga ]; then
		"$LABSH" tayga || die "trt.sh tayga failed"
		return
	fi
	"$LABSH" config >"$TMP/relay.yaml"
	"$LABSH" relay "$RELAY" "$TMP/relay.yaml" || die "trt.sh relay failed"
}

# run XLT STREAMS: one iperf3 run; appends "xlt streams bps bytes xlt_s machine_s" to $TMP/rows.
run() {
	local x=$1 n=$2 pid t0 t1 b0 b1 bps bytes
	pid=$(xlt_pid "$([ "$x" = twist ] && echo relay || echo tayga)")
	log "$x: iperf3 -P $n, $SECS s"
	t0=$(ticks "$pid") b0=$(busy)
	timeout $((SECS + 60)) ip netns exec "$CLIENT_NS" iperf3 -c "$SERVER_IP6" -p 5201 -P "$n" -t "$SECS" -J \
		>"$TMP/$x-$n.json" 2>&1 || die "iperf3 ($x, $n streams) failed: $(tail -c 300 "$TMP/$x-$n.json")"
	t1=$(ticks "$pid") b1=$(busy)
	read -r bps bytes < <(python3 -c 'import json,sys; e=json.load(open(sys.argv[1]))["end"]["sum_received"]; print(int(e["bits_per_second"]), int(e["bytes"]))' \
		"$TMP/$x-$n.json") || die "no iperf3 result ($x, $n streams)"
	echo "$x $n $bps $bytes $((t1 - t0)) $((b1 - b0))" >>"$TMP/rows"
}

: >"$TMP/rows"
for x in ${XLTS//,/ }; do
	start_xlt "$x"
	for n in $STREAMS; do
		run "$x" "$n"
	done
	"$LABSH" stop-xlt
done

# The .dat: one line per stream count, twist and tayga side by side ("?"
# where one did not run), for plot_trt.gp.
DAT=$OUT/trt-iperf.dat
TXT=$OUT/trt-iperf.txt
awk -v hz="$HZ" -v streams="$STREAMS" -v date="$(date -u +%FT%TZ)" -v kern="$(uname -r)" \
	-v cpus="$(nproc)" -v secs="$SECS" '
	{ k = $1 " " $2; gbps[k] = $3 / 1e9; gb = $4 / 1e9
	  xc[k] = $5 / hz / gb; mc[k] = $6 / hz / gb }
	function v(a, k) { return (k in a) ? sprintf("%.3f", a[k]) : "?" }
	END {
		printf "# trt_iperf.sh %s, kernel %s, %d CPUs, %d s a run\n", date, kern, cpus, secs
		print "# streams twist_gbps tayga_gbps twist_xlt_cpu_s_per_gb tayga_xlt_cpu_s_per_gb twist_machine_cpu_s_per_gb tayga_machine_cpu_s_per_gb"
		n = split(streams, s, " ")
		for (i = 1; i <= n; i++) {
			t = "twist " s[i]; g = "tayga " s[i]
			print s[i], v(gbps, t), v(gbps, g), v(xc, t), v(xc, g), v(mc, t), v(mc, g)
		}
	}' "$TMP/rows" >"$DAT"
{
	head -n1 "$DAT" | sed 's/^# //'
	echo "iperf3 TCP, client trt12-cli -> PREFIX::c633:640a (server trt12-srv); CPU s per GB relayed"
	printf '%-7s %7s %10s %14s %18s\n' xlt streams Gbit/s "xlt CPU s/GB" "machine CPU s/GB"
	awk -v hz="$HZ" '{ gb = $4 / 1e9
		printf "%-7s %7d %10.3f %14.3f %18.3f\n", $1, $2, $3 / 1e9, $5 / hz / gb, $6 / hz / gb }' "$TMP/rows"
	echo "xlt: the translator process's utime+stime; machine: all CPUs' busy time (both iperf3 ends, the"
	echo "kernel's forwarding, and anything else running). TAYGA's routing and masquerade are kernel work"
	echo "that its process is not charged for."
} >"$TXT"
log "results in $DAT and $TXT:"
sed 's/^/    /' "$TXT"
exit 0
