#!/usr/bin/env bash
# compare.sh: the same load against twist-relay, coturn's turnserver and
# barefwd (the ceiling), alternating them over several rounds, then a table
# of medians and ratios, CSV files and PNG plots. docs/benchmarks.md says
# how to read them.
#
#   compare.sh [--quick] [--rounds N] [--out DIR] [--servers "twist coturn bare"]
#              [--uclient] [--tls] [--twist BIN] [--turnload BIN] [--barefwd BIN]
#              [--base BIN] ...
#
# --base BIN adds "base", another twist-relay build run exactly like twist
# (an earlier commit, say), and a second table of twist against it: a
# change's cost measured side by side in one run.
#
# Per round and server: start it fresh, then
#   fixed    channels at --rate for --duration: relayed packets per CPU-second,
#            round-trip latency; the same with Send indications (TURN only)
#   steps    offered rate stepped up (--steps); max lossless throughput is the
#            highest offered rate whose loss stays <= --loss-max
#   setup    --setup-n authenticated set-ups (TURN only)
#   uclient  with --uclient: coturn's turnutils_uclient against turnutils_peer
#            (TURN only), server CPU read from /proc
#   tls      with --tls: turnutils_uclient -t -S (TURN over TLS, UDP relayed;
#            turnload has no TLS) against twist's and coturn's TLS listeners
#            on --tls-port, with a certificate made here: --tls-clients
#            clients (-c: one allocation each) with one message each (TLS
#            set-ups per second and per
#            relay CPU-second), then -c --uclient-args (relayed packets per
#            relay CPU-second over TLS)
# and stop it. The next round starts with the next server, so slow drifts of a
# shared machine do not always hit the same one.
#
# Runs in a private network namespace (lo only) when `unshare -n` works, so it
# cannot collide with anything on the host's ports; --netns 0 to stay in the
# host's. Processes are stopped by PID only; every step has a time limit.
# --quick is the smoke test (ctest bench_smoke): tiny loads, one round, and
# checks that every tool ran and reported; never a performance threshold.
set -uo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
ARGS=("$@")

TWIST=$ROOT/build-bench/bin/twist-relay
BASE=""
TURNLOAD=$ROOT/build-bench/bin/turnload
BAREFWD=$ROOT/build-bench/bin/barefwd
OUT=""
ROUNDS=2
SERVERS="twist coturn bare"
RATE=50000          # fixed-rate tests, packets/s
DURATION=5          # seconds measured per fixed-rate test
WARMUP=1
DRAIN=0.5
SIZE=100            # payload bytes
ALLOCS=16           # sessions in the data tests
STEPS="25000 50000 75000 100000 125000 150000 175000 200000 250000 300000"
STEP_DURATION=3
LOSS_MAX=0.001      # "lossless": at most 0.1% lost on the round trip
STOP_AFTER=2        # steps above --loss-max in a row that end the search
SETUP_N=2000
SETUP_WINDOW=64
UCLIENT=0
UCLIENT_ARGS="-m 40 -n 1500 -l 120 -z 2"
UCLIENT_VARIANTS="channel send" # -c, and -c -s (Send indications)
TLS=0
TLS_PORT=3582
TLS_CLIENTS=200
PLOTS=1
QUICK=0
NETNS=${TWIST_BENCH_NETNS:-auto}
PORT=3578
FWD_PORT=3579
PEER_PORT=3580
UPEER_PORT=3581
METRICS_PORT=9741
STOP_GRACE=10

usage() {
	sed -n '2,/^set -uo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//'
	cat <<EOF
Options (defaults in brackets):
  --twist BIN --turnload BIN --barefwd BIN   [$ROOT/build-bench/bin/...]
  --base BIN           another twist-relay, run as server "base" beside twist
  --out DIR            results [./bench-results-DATE]
  --servers LIST       [$SERVERS]
  --rounds N           [$ROUNDS]
  --rate PPS           fixed-rate tests [$RATE]
  --duration S         fixed-rate seconds [$DURATION]
  --steps "R1 R2 ..."  offered rates for the search [$STEPS]
  --step-duration S    [$STEP_DURATION]
  --loss-max F         lossless means loss <= F [$LOSS_MAX]
  --allocs N           sessions in data tests [$ALLOCS]
  --size BYTES         payload [$SIZE]
  --setup-n N          set-ups per setup test [$SETUP_N]
  --setup-window N     set-ups in flight [$SETUP_WINDOW]
  --uclient            also run turnutils_uclient
  --uclient-args "..." [$UCLIENT_ARGS]
  --tls                also TURN over TLS with turnutils_uclient -t -S
  --tls-port PORT      [$TLS_PORT]
  --tls-clients N      TLS set-ups per set-up run [$TLS_CLIENTS]
  --no-plots           skip gnuplot
  --netns auto|1|0     private network namespace [auto]
  --quick              smoke test: tiny, one round, checks the tools work
EOF
}

while [ $# -gt 0 ]; do
	case $1 in
	--twist) TWIST=$2; shift ;;
	--base) BASE=$2; shift ;;
	--turnload) TURNLOAD=$2; shift ;;
	--barefwd) BAREFWD=$2; shift ;;
	--out) OUT=$2; shift ;;
	--servers) SERVERS=$2; shift ;;
	--rounds) ROUNDS=$2; shift ;;
	--rate) RATE=$2; shift ;;
	--duration) DURATION=$2; shift ;;
	--steps) STEPS=$2; shift ;;
	--step-duration) STEP_DURATION=$2; shift ;;
	--loss-max) LOSS_MAX=$2; shift ;;
	--allocs) ALLOCS=$2; shift ;;
	--size) SIZE=$2; shift ;;
	--setup-n) SETUP_N=$2; shift ;;
	--setup-window) SETUP_WINDOW=$2; shift ;;
	--uclient) UCLIENT=1 ;;
	--uclient-args) UCLIENT_ARGS=$2; shift ;;
	--tls) TLS=1 ;;
	--tls-port) TLS_PORT=$2; shift ;;
	--tls-clients) TLS_CLIENTS=$2; shift ;;
	--no-plots) PLOTS=0 ;;
	--netns) NETNS=$2; shift ;;
	--quick)
		# uclient waits about 5 s after its last packet: one variant only.
		QUICK=1 ROUNDS=1 RATE=5000 DURATION=0.3 WARMUP=0.1 DRAIN=0.2
		STEPS="5000 20000" STEP_DURATION=0.3 ALLOCS=4 SETUP_N=100 SETUP_WINDOW=16
		UCLIENT=1 UCLIENT_ARGS="-m 4 -n 50 -l 120 -z 5" UCLIENT_VARIANTS=send STOP_AFTER=9
		TLS_CLIENTS=10
		;;
	-h | --help) usage; exit 0 ;;
	*) echo "compare.sh: unknown option '$1' (--help)" >&2; exit 2 ;;
	esac
	shift
done

log() { printf '[bench %3ds] %s\n' "$SECONDS" "$*"; }
warn() { printf '[bench] WARNING: %s\n' "$*" >&2; }
fail() {
	printf '\n[bench] FAIL: %s\n' "$*" >&2
	exit 1
}

# Into a private network namespace: nothing else on the host shares these
# ports, and nothing can leave the host. At top level on purpose.
if [ "${TWIST_BENCH_IN_NETNS:-}" != 1 ] && [ "$NETNS" != 0 ]; then
	if command -v unshare >/dev/null && command -v ip >/dev/null && unshare -n true 2>/dev/null; then
		export TWIST_BENCH_IN_NETNS=1
		exec unshare -n -- bash "${BASH_SOURCE[0]}" "${ARGS[@]}"
	elif [ "$NETNS" = 1 ]; then
		fail "--netns 1 but 'unshare -n' does not work here (needs root)"
	fi
fi
if [ "${TWIST_BENCH_IN_NETNS:-}" = 1 ]; then
	ip link set lo up || fail "cannot bring up lo in the private namespace"
	log "in a private network namespace (lo only)"
fi

[ -n "$BASE" ] && [[ " $SERVERS " != *" base "* ]] && SERVERS="$SERVERS base"
need() { command -v "$1" >/dev/null 2>&1 || fail "'$1' not found: apt-get install $2"; }
need ss iproute2
need timeout coreutils
for s in $SERVERS; do
	case $s in
	twist) [ -x "$TWIST" ] || fail "twist-relay '$TWIST' not found (build it, or --twist BIN)" ;;
	base) [ -x "$BASE" ] || fail "base twist-relay '$BASE' not found (--base BIN)" ;;
	coturn) need turnserver coturn ;;
	bare) [ -x "$BAREFWD" ] || fail "barefwd '$BAREFWD' not found (or --barefwd BIN)" ;;
	*) fail "unknown server '$s' (twist, coturn, bare, base)" ;;
	esac
done
[ -x "$TURNLOAD" ] || fail "turnload '$TURNLOAD' not found (or --turnload BIN)"
if [ $UCLIENT = 1 ] || [ $TLS = 1 ]; then
	need turnutils_uclient coturn
	need turnutils_peer coturn
fi
[ $TLS = 1 ] && need openssl openssl
[ $PLOTS = 1 ] && need gnuplot gnuplot-nox

[ -n "$OUT" ] || OUT=$PWD/bench-results-$(date +%Y%m%d-%H%M%S)
mkdir -p "$OUT/logs" || fail "cannot create $OUT"
OUT=$(cd "$OUT" && pwd)
rm -f "$OUT"/*.csv "$OUT"/*.dat "$OUT"/*.png "$OUT"/raw.txt "$OUT"/table.md

# ---- processes: started here, stopped by PID only ----
start_bg() { # LOG CMD...: sets LAST_PID
	local logf=$1
	shift
	"$@" </dev/null >"$logf" 2>&1 &
	LAST_PID=$!
	PIDS+=("$LAST_PID")
}

# shellcheck source=proc.sh
. "$HERE/proc.sh"

trap stop_all_exit EXIT
trap 'fail "interrupted"' INT TERM

wait_listen() { # -u|-t PORT PID: until something listens on PORT
	local i
	for ((i = 0; i < 150; i++)); do
		ss -H "$1" -l -n "sport = :$2" 2>/dev/null | grep -q . && return 0
		running "$3" || return 1
		sleep 0.1
	done
	return 1
}
wait_udp() { wait_listen -u "$@"; }
wait_tcp() { wait_listen -t "$@"; }

port_free() {
	! ss -H -u -l -n "sport = :$1" 2>/dev/null | grep -q . ||
		fail "udp port $1 is in use (another relay?); --netns auto avoids this"
}

# ---- servers ----
server_start() { # NAME ROUND: sets SRV_PID
	local name=$1 round=$2 dir=$OUT/logs
	case $name in
	twist | base)
		cat >"$dir/twist.yaml" <<EOF
listen: [{ address: 127.0.0.1, port: $PORT, transports: [udp] }$TWIST_TLS_LISTEN]
relay: { addresses: [127.0.0.1], port_min: 20000, port_max: 65000 }
workers: 1$TWIST_TLS_KEYS
auth: { realm: twist.local, users: [{ name: demo, password: demo }], unauth_rate: 100000, unauth_burst: 100000 }
peers: { allow_loopback: true, allow_self: true }
metrics: { enabled: true, listen: "127.0.0.1:$METRICS_PORT" }
log: { level: warn }
# turnutils_uclient picks channels up to 0x7FFF (RFC 5766), as coturn allows
compat: { rfc5766_channels: true }
EOF
		# A base from before peers.allow_self refuses the key; such a relay
		# has no self rule to lift, so it runs without it.
		[ "$name" = base ] && ! "$BASE" --check-config "$dir/twist.yaml" >/dev/null 2>&1 &&
			sed -i 's/, allow_self: true//' "$dir/twist.yaml"
		port_free "$PORT"
		start_bg "$dir/$name-r$round.log" "$([ "$name" = base ] && echo "$BASE" || echo "$TWIST")" \
			--config "$dir/twist.yaml"
		;;
	coturn)
		# One relay thread (-m 1); coturn adds its listener and auth
		# threads, whose CPU counts too. Its default logging is kept.
		local cdir=$dir/coturn-r$round
		mkdir -p "$cdir"
		port_free "$PORT"
		start_bg "$dir/coturn-r$round.out" turnserver -n \
			--listening-ip 127.0.0.1 --relay-ip 127.0.0.1 --listening-port "$PORT" \
			--min-port 20000 --max-port 65000 --relay-threads 1 \
			--realm twist.local --lt-cred-mech --user demo:demo \
			--allow-loopback-peers --no-cli "${COTURN_TLS[@]}" --no-dtls --no-tcp --no-rfc5780 \
			--log-file "$cdir/turnserver.log" --simple-log --no-stdout-log \
			--pidfile "$cdir/turnserver.pid" --db "$cdir/turndb"
		;;
	bare)
		port_free "$FWD_PORT"
		start_bg "$dir/bare-r$round.log" "$BAREFWD" --listen "127.0.0.1:$FWD_PORT" \
			--peer "127.0.0.1:$PEER_PORT" --duration 7200
		;;
	esac
	SRV_PID=$LAST_PID
	SRV_NAME=$name
	wait_udp "$([ "$name" = bare ] && echo "$FWD_PORT" || echo "$PORT")" "$SRV_PID" ||
		fail "$name did not start (log in $dir)"
	if [ $TLS = 1 ] && [ "$name" != bare ]; then
		wait_tcp "$TLS_PORT" "$SRV_PID" || fail "$name: no TLS listener on $TLS_PORT (log in $dir)"
	fi
	log "$name started, pid $SRV_PID"
}

server_stop() {
	stop_pid "$SRV_PID"
	# twist-relay and barefwd exit 0 on SIGTERM; coturn's status is its own.
	if [ "$SRV_NAME" != coturn ] && [ "$STOP_STATUS" != 0 ]; then
		warn "$SRV_NAME (pid $SRV_PID) exited with status $STOP_STATUS on SIGTERM"
		RELAY_NOTES+=("$SRV_NAME exited with status $STOP_STATUS on SIGTERM")
	fi
}

# ---- turnload ----
kv() { # KEY LINE: the value of KEY=... in a result line
	sed -n "s/.* $1=\([^ ]*\).*/\1/p" <<<" $2"
}

csv_of() { # LINE KEY...: the values as CSV
	local line=$1 out="" k
	shift
	for k; do out+=,$(kv "$k" "$line"); done
	printf '%s\n' "${out#,}"
}

TL_FAILS=0
tl() { # SERVER LABEL TURNLOAD-ARGS...: sets RES, the result line
	local srv=$1 label=$2 limit
	shift 2
	local -a target=(-s "127.0.0.1:$PORT")
	[ "$srv" = bare ] && target=(--bare -s "127.0.0.1:$FWD_PORT" -p "127.0.0.1:$PEER_PORT")
	limit=$(awk -v d="$STEP_DURATION" -v e="$DURATION" 'BEGIN { print int(d + e) + 90 }')
	RES=$(timeout -k 5 "$limit" "$TURNLOAD" "${target[@]}" --pid "$SRV_PID" --label "$label" -q \
		"$@" 2>>"$OUT/logs/turnload.err" | grep '^turnload ' | tail -n 1)
	[ -n "$RES" ] || fail "turnload printed no result for $label (see $OUT/logs/turnload.err)"
	printf '%s\n' "$RES" >>"$OUT/raw.txt"
	if [ "$(kv exit "$RES")" != 0 ]; then
		TL_FAILS=$((TL_FAILS + 1))
		warn "$label: turnload says the run did not work: $RES"
		[ $QUICK = 1 ] && fail "$label: turnload run failed"
	fi
	running "$SRV_PID" || {
		RELAY_NOTES+=("$srv died during $label")
		fail "$srv (pid $SRV_PID) died during $label: see $OUT/logs"
	}
}

le() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a + 0 <= b + 0) }'; }

test_fixed() { # SERVER ROUND
	local srv=$1 round=$2 data
	for data in channel send; do
		[ "$srv" = bare ] && [ "$data" = send ] && continue
		local -a flag=()
		[ "$data" = send ] && flag=(--send)
		tl "$srv" "$srv/fixed-$data/r$round" -n "$ALLOCS" -r "$RATE" -l "$SIZE" \
			-d "$DURATION" --warmup "$WARMUP" --drain "$DRAIN" ${flag[@]+"${flag[@]}"}
		echo "$srv,$round,$data,$(csv_of "$RES" target_pps offered_pps delivered_pps loss \
			rtt_p50_us rtt_p99_us rtt_max_us relayed_per_cpu_s relay_cpu_s gen_cpu_frac \
			kdrops_other misrouted)" >>"$OUT/fixed.csv"
		log "$srv $data @$RATE: $(kv relayed_per_cpu_s "$RES") pkt/CPU-s," \
			"rtt p50 $(kv rtt_p50_us "$RES") us p99 $(kv rtt_p99_us "$RES") us, loss $(kv loss "$RES")"
	done
}

test_steps() { # SERVER ROUND
	local srv=$1 round=$2 rate over=0 best=0 offered loss
	for rate in $STEPS; do
		tl "$srv" "$srv/step/r$round/$rate" -n "$ALLOCS" -r "$rate" -l "$SIZE" \
			-d "$STEP_DURATION" --warmup "$WARMUP" --drain "$DRAIN"
		offered=$(kv offered_pps "$RES")
		loss=$(kv loss "$RES")
		echo "$srv,$round,$(csv_of "$RES" target_pps offered_pps delivered_pps loss \
			rtt_p50_us rtt_p99_us relayed_per_cpu_s gen_cpu_frac)" >>"$OUT/steps.csv"
		log "$srv step $rate: offered $offered delivered $(kv delivered_pps "$RES") loss $loss" \
			"p99 $(kv rtt_p99_us "$RES") us, gen cpu $(kv gen_cpu_frac "$RES")"
		if le "$loss" "$LOSS_MAX"; then
			le "$offered" "$best" || best=$offered
			over=0
		else
			over=$((over + 1))
			[ $over -ge $STOP_AFTER ] && break
		fi
	done
	echo "$srv,$round,$best" >>"$OUT/maxrate.csv"
	log "$srv round $round: max lossless $best pkt/s"
}

test_setup() { # SERVER ROUND
	local srv=$1 round=$2
	[ "$srv" = bare ] && return
	tl "$srv" "$srv/setup/r$round" --setup -n "$SETUP_N" -w "$SETUP_WINDOW"
	echo "$srv,$round,$(csv_of "$RES" allocs ok failed setups_per_s txn_per_s cpu_ms_per_setup \
		setup_p50_ms setup_p99_ms)" >>"$OUT/setup.csv"
	log "$srv setup: $(kv setups_per_s "$RES")/s, $(kv cpu_ms_per_setup "$RES") CPU ms each"
}

# uclient's summary lines (coturn 4.6.1):
#   N: : start_mclient: tot_send_msgs=400, tot_recv_msgs=400
#   N: : Total lost packets 0 (0.000000%), total send dropped 0 (0.000000%)
#   N: : Average round trip delay 0.250000 ms; min = 0 ms, max = 3 ms
test_uclient() { # SERVER ROUND
	local srv=$1 round=$2 variant flags ulog rc c0 c1 sent recv lost rtt status cpu pps
	[ "$srv" = bare ] && return
	for variant in $UCLIENT_VARIANTS; do
		flags=-c
		[ $variant = send ] && flags="-c -s"
		ulog=$OUT/logs/uclient-$srv-$variant-r$round.log
		c0=$(proc_cpu "$SRV_PID")
		# shellcheck disable=SC2086 # word splitting of the flags is wanted
		timeout -k 5 300 turnutils_uclient $flags $UCLIENT_ARGS -u demo -w demo \
			-p "$PORT" -e 127.0.0.1 -r "$UPEER_PORT" 127.0.0.1 </dev/null >"$ulog" 2>&1
		rc=$?
		c1=$(proc_cpu "$SRV_PID")
		read -r sent recv < <(sed -n 's/.*start_mclient: tot_send_msgs=\([0-9]*\), tot_recv_msgs=\([0-9]*\)$/\1 \2/p' "$ulog" | tail -n 1)
		lost=$(sed -n 's/.*Total lost packets [0-9]* (\([0-9.]*\)%).*/\1/p' "$ulog" | tail -n 1)
		rtt=$(sed -n 's/.*Average round trip delay \([0-9.]*\) ms.*/\1/p' "$ulog" | tail -n 1)
		status=ok
		if [ $rc -ne 0 ] || [ -z "${sent:-}" ]; then
			status="failed: $(grep -m 1 -i 'error' "$ulog" | sed 's/^[0-9]*: : //; s/,/;/g')"
			[ "$status" = "failed: " ] && status="failed: exit $rc"
		fi
		cpu=$(awk -v a="$c0" -v b="$c1" 'BEGIN { printf "%.3f", b - a }')
		pps=$(awk -v s="${sent:-0}" -v r="${recv:-0}" -v c="$cpu" \
			'BEGIN { if (c > 0) printf "%.0f", (s + r) / c; else print 0 }')
		[ "$status" = ok ] || pps=""
		echo "$srv,$round,$variant,${sent:-},${recv:-},${lost:-},${rtt:-},$cpu,$pps,$status" >>"$OUT/uclient.csv"
		log "$srv uclient $variant: $status, sent ${sent:-?} recv ${recv:-?}, rtt ${rtt:-?} ms, $pps pkt/CPU-s"
	done
}

proc_cpu() { # PID: utime+stime in seconds
	awk -v hz="$(getconf CLK_TCK)" '{ sub(/.*\) /, ""); print ($12 + $13) / hz }' "/proc/$1/stat"
}

# tls_uclient SERVER ROUND KIND ARGS...: one turnutils_uclient -t -S run on
# the TLS port; a line of tls.csv. uclient offers TLS 1.0 to 1.3 and retries
# a refused version, against both servers alike. "Total connect time" is
# its own figure, whole seconds, for all clients' TLS + Allocate +
# permission/channel; relay CPU is read from /proc around the whole run.
tls_uclient() {
	local srv=$1 round=$2 kind=$3 ulog rc c0 c1 sent recv conn cpu status
	shift 3
	ulog=$OUT/logs/uclient-tls-$srv-$kind-r$round.log
	c0=$(proc_cpu "$SRV_PID")
	timeout -k 5 300 turnutils_uclient -t -S "$@" -u demo -w demo \
		-p "$TLS_PORT" -e 127.0.0.1 -r "$UPEER_PORT" 127.0.0.1 </dev/null >"$ulog" 2>&1
	rc=$?
	c1=$(proc_cpu "$SRV_PID")
	read -r sent recv < <(sed -n 's/.*start_mclient: tot_send_msgs=\([0-9]*\), tot_recv_msgs=\([0-9]*\)$/\1 \2/p' "$ulog" | tail -n 1)
	conn=$(sed -n 's/.*Total connect time is \([0-9]*\).*/\1/p' "$ulog" | tail -n 1)
	status=ok
	[ $rc -eq 0 ] && [ -n "${sent:-}" ] || status="failed: exit $rc"
	cpu=$(awk -v a="$c0" -v b="$c1" 'BEGIN { printf "%.3f", b - a }')
	echo "$srv,$round,$kind,${sent:-},${recv:-},${conn:-},$cpu,$status" >>"$OUT/tls.csv"
	log "$srv tls $kind: $status, sent ${sent:-?} recv ${recv:-?}, connect ${conn:-?} s, relay CPU $cpu s"
}

test_tls() { # SERVER ROUND
	[ "$1" = bare ] && return
	tls_uclient "$1" "$2" setup -c -m "$TLS_CLIENTS" -n 1 -l 120 -z 5
	# shellcheck disable=SC2086 # word splitting of the arguments is wanted
	tls_uclient "$1" "$2" data -c $UCLIENT_ARGS
}

# ---- the runs ----
RELAY_NOTES=()
echo "server,round,data,target_pps,offered_pps,delivered_pps,loss,rtt_p50_us,rtt_p99_us,rtt_max_us,relayed_per_cpu_s,relay_cpu_s,gen_cpu_frac,kdrops_other,misrouted" >"$OUT/fixed.csv"
echo "server,round,target_pps,offered_pps,delivered_pps,loss,rtt_p50_us,rtt_p99_us,relayed_per_cpu_s,gen_cpu_frac" >"$OUT/steps.csv"
echo "server,round,max_lossless_pps" >"$OUT/maxrate.csv"
echo "server,round,allocs,ok,failed,setups_per_s,txn_per_s,cpu_ms_per_setup,setup_p50_ms,setup_p99_ms" >"$OUT/setup.csv"
echo "server,round,variant,sent,recv,lost_pct,rtt_ms,relay_cpu_s,relayed_per_cpu_s,status" >"$OUT/uclient.csv"
echo "server,round,kind,sent,recv,connect_s,relay_cpu_s,status" >"$OUT/tls.csv"

# TLS: one throwaway certificate for both servers (uclient does not verify).
TWIST_TLS_LISTEN="" TWIST_TLS_KEYS="" COTURN_TLS=(--no-tls)
if [ $TLS = 1 ]; then
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
		-subj "/CN=twist bench" -addext "subjectAltName=IP:127.0.0.1" \
		-keyout "$OUT/logs/tls.key" -out "$OUT/logs/tls.pem" >"$OUT/logs/openssl.log" 2>&1 ||
		fail "openssl could not make the TLS certificate (see $OUT/logs/openssl.log)"
	TWIST_TLS_LISTEN=", { address: 127.0.0.1, port: $TLS_PORT, transports: [tls] }"
	# Every uclient connection comes from 127.0.0.1: lift the per-source
	# TCP caps (64, 8 before authentication) as unauth_rate is lifted.
	TWIST_TLS_KEYS=$'\n'"tls: { cert: \"$OUT/logs/tls.pem\", key: \"$OUT/logs/tls.key\" }"
	TWIST_TLS_KEYS+=$'\n'"limits: { tcp_per_source: 10000, tcp_unauth_per_source: 10000 }"
	COTURN_TLS=(--tls-listening-port "$TLS_PORT" --cert "$OUT/logs/tls.pem" --pkey "$OUT/logs/tls.key")
fi

{
	echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
	echo "host: $(uname -srm), $(nproc) CPUs, $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)"
	echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)"
	echo "twist: $TWIST"
	echo "coturn: $(turnserver --version 2>/dev/null | head -n 1)"
	echo "settings: tls=$TLS tls_clients=$TLS_CLIENTS rounds=$ROUNDS rate=$RATE duration=$DURATION steps='$STEPS' step_duration=$STEP_DURATION loss_max=$LOSS_MAX allocs=$ALLOCS size=$SIZE setup_n=$SETUP_N window=$SETUP_WINDOW uclient=$UCLIENT ($UCLIENT_ARGS)"
} >"$OUT/env.txt"

if [ $UCLIENT = 1 ] || [ $TLS = 1 ]; then
	port_free "$UPEER_PORT"
	start_bg "$OUT/logs/turnutils_peer.log" turnutils_peer -p "$UPEER_PORT" -L 127.0.0.1
	UPEER_PID=$LAST_PID
	wait_udp "$UPEER_PORT" "$UPEER_PID" || fail "turnutils_peer did not start"
fi

read -r -a SRV_LIST <<<"$SERVERS"
NSRV=${#SRV_LIST[@]}
T0=$SECONDS
for ((round = 1; round <= ROUNDS; round++)); do
	for ((k = 0; k < NSRV; k++)); do
		srv=${SRV_LIST[$(((k + round - 1) % NSRV))]}
		log "=== round $round/$ROUNDS: $srv ==="
		server_start "$srv" "$round"
		test_fixed "$srv" "$round"
		test_steps "$srv" "$round"
		test_setup "$srv" "$round"
		[ $UCLIENT = 1 ] && test_uclient "$srv" "$round"
		[ $TLS = 1 ] && test_tls "$srv" "$round"
		server_stop
	done
done
log "all rounds done in $((SECONDS - T0)) s"
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)" >>"$OUT/env.txt"

# ---- medians, table, plot data ----
median() { # numbers on stdin, one a line
	grep -E '^-?[0-9.]+(e[-+]?[0-9]+)?$' | sort -g |
		awk '{ a[NR] = $1 } END { if (NR == 0) exit; if (NR % 2) print a[(NR + 1) / 2]; else print (a[NR / 2] + a[NR / 2 + 1]) / 2 }'
}

col() { # FILE SERVER COLUMN [FILTER-COLUMN VALUE]: the column for that server
	awk -F, -v s="$2" -v c="$3" -v fc="${4:-0}" -v fv="${5:-}" \
		'NR > 1 && $1 == s && (fc == 0 || $fc == fv) { print $c }' "$1"
}

med() { col "$@" | median; }

fmt() { # a number for the table
	[ -n "$1" ] || { echo "–"; return; }
	awk -v v="$1" 'BEGIN { if (v >= 100) printf "%.0f", v; else if (v >= 10) printf "%.1f", v; else printf "%.3g", v }'
}

ratio() { # A B: A/B
	[ -n "$1" ] && [ -n "$2" ] || { echo "–"; return; }
	awk -v a="$1" -v b="$2" 'BEGIN { if (b + 0 == 0) print "–"; else printf "%.2f", a / b }'
}

has() { [[ " $SERVERS " == *" $1 "* ]]; }

declare -A M
for s in $SERVERS; do
	M[$s.cpu]=$(med "$OUT/fixed.csv" "$s" 11 3 channel)
	M[$s.cpu_send]=$(med "$OUT/fixed.csv" "$s" 11 3 send)
	M[$s.p50]=$(med "$OUT/fixed.csv" "$s" 8 3 channel)
	M[$s.p99]=$(med "$OUT/fixed.csv" "$s" 9 3 channel)
	M[$s.loss]=$(med "$OUT/fixed.csv" "$s" 7 3 channel)
	M[$s.max]=$(med "$OUT/maxrate.csv" "$s" 3)
	M[$s.setup]=$(med "$OUT/setup.csv" "$s" 6)
	M[$s.setup_cpu]=$(med "$OUT/setup.csv" "$s" 8)
	M[$s.setup_per_cpu]=$(awk -v ms="${M[$s.setup_cpu]}" 'BEGIN { if (ms + 0 > 0) printf "%.0f", 1000 / ms }')
	M[$s.uc_cpu]=$(med "$OUT/uclient.csv" "$s" 9 3 channel)
	M[$s.uc_rtt]=$(med "$OUT/uclient.csv" "$s" 7 3 channel)
	M[$s.ucs_cpu]=$(med "$OUT/uclient.csv" "$s" 9 3 send)
	M[$s.ucs_rtt]=$(med "$OUT/uclient.csv" "$s" 7 3 send)
	# TLS, runs that went through only (status ok): per run, then medians.
	M[$s.tls_setup]=$(awk -F, -v s="$s" '$1 == s && $3 == "setup" && $8 == "ok" && $6 > 0 { print $4 / $6 }' "$OUT/tls.csv" | median)
	M[$s.tls_setup_cpu]=$(awk -F, -v s="$s" '$1 == s && $3 == "setup" && $8 == "ok" && $7 > 0 { print $4 / $7 }' "$OUT/tls.csv" | median)
	M[$s.tls_cpu]=$(awk -F, -v s="$s" '$1 == s && $3 == "data" && $8 == "ok" && $7 > 0 { print ($4 + $5) / $7 }' "$OUT/tls.csv" | median)
	M[$s.tls_loss]=$(awk -F, -v s="$s" '$1 == s && $3 == "data" && $8 == "ok" && $4 > 0 { print ($4 - $5) / $4 }' "$OUT/tls.csv" | median)
done

row() { # LABEL KEY: one table row
	local t=${M[twist.$2]:-} c=${M[coturn.$2]:-} b=${M[bare.$2]:-}
	printf '| %s | %s | %s | %s | %s | %s |\n' "$1" "$(fmt "$t")" "$(fmt "$c")" "$(fmt "$b")" \
		"$(ratio "$t" "$c")" "$(ratio "$t" "$b")"
}

{
	echo "| metric (median of $ROUNDS rounds) | twist | coturn | bare | twist/coturn | twist/bare |"
	echo "|---|---:|---:|---:|---:|---:|"
	row "relayed pkt per CPU-second, channels, $RATE pkt/s offered" cpu
	row "relayed pkt per CPU-second, Send indications, $RATE pkt/s" cpu_send
	row "max lossless throughput, pkt/s offered (loss <= $LOSS_MAX)" max
	row "round trip p50 at $RATE pkt/s, us (lower is better)" p50
	row "round trip p99 at $RATE pkt/s, us (lower is better)" p99
	row "loss at $RATE pkt/s (fraction)" loss
	row "set-ups per second (401 + Allocate + CreatePermission + ChannelBind)" setup
	row "relay CPU ms per set-up (lower is better)" setup_cpu
	row "set-ups per relay CPU-second (the relay's own capacity)" setup_per_cpu
	if [ $UCLIENT = 1 ]; then
		row "uclient channels: relayed pkt per CPU-second" uc_cpu
		row "uclient channels: mean round trip, ms" uc_rtt
		row "uclient Send: relayed pkt per CPU-second" ucs_cpu
		row "uclient Send: mean round trip, ms" ucs_rtt
	fi
	if [ $TLS = 1 ]; then
		row "TLS: set-ups per second (uclient -t -S, $TLS_CLIENTS clients; whole-second clock)" tls_setup
		row "TLS: set-ups per relay CPU-second" tls_setup_cpu
		row "TLS: relayed pkt (sent + received) per relay CPU-second (uclient -t -S -c $UCLIENT_ARGS)" tls_cpu
		row "TLS: loss in that run (fraction)" tls_loss
	fi
	if has base; then
		echo
		echo "| metric (median of $ROUNDS rounds) | twist | base | twist/base |"
		echo "|---|---:|---:|---:|"
		for k in cpu cpu_send max p50 p99 setup setup_cpu setup_per_cpu; do
			printf '| %s | %s | %s | %s |\n' "$k" "$(fmt "${M[twist.$k]:-}")" \
				"$(fmt "${M[base.$k]:-}")" "$(ratio "${M[twist.$k]:-}" "${M[base.$k]:-}")"
		done
	fi
} >"$OUT/table.md"

# Plot data: per server, per offered step, medians over the rounds.
for s in $SERVERS; do
	{
		echo "# target offered delivered loss rtt_p50_us rtt_p99_us cpu_us_per_pkt"
		for t in $(col "$OUT/steps.csv" "$s" 3 | sort -gu); do
			o=$(med "$OUT/steps.csv" "$s" 4 3 "$t")
			d=$(med "$OUT/steps.csv" "$s" 5 3 "$t")
			l=$(med "$OUT/steps.csv" "$s" 6 3 "$t")
			p50=$(med "$OUT/steps.csv" "$s" 7 3 "$t")
			p99=$(med "$OUT/steps.csv" "$s" 8 3 "$t")
			c=$(med "$OUT/steps.csv" "$s" 9 3 "$t")
			cu=$(awk -v c="${c:-0}" 'BEGIN { if (c > 0) printf "%.4f", 1e6 / c; else print "NaN" }')
			echo "$t ${o:-NaN} ${d:-NaN} ${l:-NaN} ${p50:-NaN} ${p99:-NaN} $cu"
		done
	} >"$OUT/steps_$s.dat"
done

echo
cat "$OUT/env.txt"
echo
cat "$OUT/table.md"
if [ $UCLIENT = 1 ]; then
	echo
	echo "uclient runs (status per run; $OUT/uclient.csv):"
	awk -F, 'NR > 1 { printf "  %s r%s %-7s %s\n", $1, $2, $3, $10 }' "$OUT/uclient.csv"
fi
if [ $TLS = 1 ]; then
	echo
	echo "TLS runs (status per run; $OUT/tls.csv):"
	awk -F, 'NR > 1 { printf "  %s r%s %-7s %s\n", $1, $2, $3, $8 }' "$OUT/tls.csv"
fi
for n in ${RELAY_NOTES[@]+"${RELAY_NOTES[@]}"}; do warn "$n"; done
[ $TL_FAILS -eq 0 ] || warn "$TL_FAILS turnload runs reported failure (grep 'exit=1' $OUT/raw.txt)"

if [ $PLOTS = 1 ]; then
	gnuplot -e "dir='$OUT'; servers='$SERVERS'; rate='$RATE'" "$HERE/plot.gp" \
		>"$OUT/logs/gnuplot.log" 2>&1 || fail "gnuplot failed: $(tail -n 5 "$OUT/logs/gnuplot.log")"
	log "plots: $(cd "$OUT" && ls ./*.png | tr '\n' ' ')"
fi
log "results in $OUT"

# ---- the smoke test's checks: the tools ran and reported, whatever the numbers ----
if [ $QUICK = 1 ]; then
	for s in $SERVERS; do
		[ -n "${M[$s.cpu]}" ] || fail "no relayed-per-CPU-second figure for $s"
		[ -n "${M[$s.max]}" ] || fail "no step results for $s"
		[ -n "${M[$s.p50]}" ] || fail "no latency for $s"
		n=$(col "$OUT/fixed.csv" "$s" 12 3 channel | awk '$1 >= 0' | wc -l)
		[ "$n" -ge 1 ] || fail "relay CPU could not be read for $s"
		if [ "$s" != bare ]; then
			[ -n "${M[$s.cpu_send]}" ] || fail "no Send-indication result for $s"
			[ -n "${M[$s.setup]}" ] || fail "no set-up rate for $s"
			[ $UCLIENT = 1 ] && [ -z "${M[$s.ucs_cpu]}" ] &&
				fail "turnutils_uclient (Send indications) did not complete against $s"
			[ $TLS = 1 ] && [ -z "${M[$s.tls_cpu]}" ] &&
				fail "turnutils_uclient over TLS did not complete against $s"
		fi
		d=$(col "$OUT/fixed.csv" "$s" 6 3 channel | head -n 1)
		le "${d:-0}" 0 && fail "nothing was delivered through $s"
		m=$(col "$OUT/fixed.csv" "$s" 15 | awk '{ t += $1 } END { print t + 0 }')
		[ "$m" = 0 ] || fail "$m packets came back to the wrong session through $s"
	done
	if [ $PLOTS = 1 ]; then
		for p in throughput cpu latency; do
			[ -s "$OUT/$p.png" ] || fail "plot $p.png was not written"
		done
	fi
	log "smoke test passed: every tool ran and reported"
fi
exit 0
