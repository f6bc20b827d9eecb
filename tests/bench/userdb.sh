#!/usr/bin/env bash
# userdb.sh: authenticated set-ups against twist-relay with its user in the
# YAML list ("yaml") and with the same user among --users others in a SQLite
# user database ("db"), side by side in one run, alternating over rounds.
# docs/benchmarks.md ("User database") holds the results.
#
#   userdb.sh [--quick] [--users N] [--rounds N] [--client turnload|uclient|both]
#             [--setup-n N] [--uclient-m M] [--uclient-procs P] [--out DIR]
#             [--twist BIN] [--twistctl BIN] [--turnload BIN]
#
# The database is filled by tests/integration/userdb_fill.py (rows
# user0000000.. with passwords pw0000000..); the user measured is the
# middle row, and the "yaml" relay lists that same name and password.
# Per round, client and mode: start the relay fresh, read its RSS, time one
# `twistctl reload` (db), run the client as that user, stop the relay.
#   turnload  `turnload --setup` (401 + Allocate + CreatePermission +
#             ChannelBind per set-up), --setup-n set-ups, 64 in flight.
#   uclient   coturn's turnutils_uclient: P processes at once, each
#             `-m M -n 1` (M sessions, each an allocation and uclient's RTCP
#             allocation, a permission, a channel and one echoed message
#             through turnutils_peer). Allocations are counted in the
#             relay's log; their rate is over the span from the first to the
#             last, and relay CPU is /proc/PID/stat utime+stime around the
#             run. uclient pauses between its sessions, so its wall rate is
#             mostly its own pace; the CPU figure is the relay's cost.
# Reports medians per mode and client, and db/yaml ratios.
# Runs in a private network namespace when `unshare -n` works. No timing is
# ever asserted: --quick (ctest bench_userdb_smoke) only checks that every
# step ran and reported.
set -uo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
ARGS=("$@")
TWIST=$ROOT/build-bench/bin/twist-relay
TWISTCTL=$ROOT/build-bench/bin/twistctl
TURNLOAD=$ROOT/build-bench/bin/turnload
FILL=$ROOT/tests/integration/userdb_fill.py
USERS=100000
ROUNDS=5
CLIENT=turnload
SETUP_N=6000 # the open-file limit here allows 10000 allocations
WINDOW=64
UC_M=100
UC_PROCS=4
OUT=""
PORT=3596
PEER_PORT=3597
STOP_GRACE=10
NETNS=${TWIST_BENCH_NETNS:-auto}

while [ $# -gt 0 ]; do
	case $1 in
	--twist) TWIST=$2; shift ;;
	--twistctl) TWISTCTL=$2; shift ;;
	--turnload) TURNLOAD=$2; shift ;;
	--users) USERS=$2; shift ;;
	--rounds) ROUNDS=$2; shift ;;
	--client) CLIENT=$2; shift ;;
	--setup-n) SETUP_N=$2; shift ;;
	--uclient-m) UC_M=$2; shift ;;
	--uclient-procs) UC_PROCS=$2; shift ;;
	--out) OUT=$2; shift ;;
	--netns) NETNS=$2; shift ;;
	--quick) USERS=1000 ROUNDS=1 SETUP_N=100 WINDOW=16 UC_M=4 UC_PROCS=1 ;;
	-h | --help) sed -n '2,/^set -uo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
	*) echo "userdb.sh: unknown option '$1' (--help)" >&2; exit 2 ;;
	esac
	shift
done

log() { printf '[userdb-bench %3ds] %s\n' "$SECONDS" "$*"; }
fail() {
	printf '\n[userdb-bench] FAIL: %s\n' "$*" >&2
	exit 1
}

case $CLIENT in
turnload | uclient) CLIENTS=("$CLIENT") ;;
both) CLIENTS=(turnload uclient) ;;
*) fail "--client must be turnload, uclient or both, not '$CLIENT'" ;;
esac
[ "$USERS" -ge 3 ] 2>/dev/null || fail "--users must be a number >= 3"

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
fi

for b in "$TWIST" "$TWISTCTL"; do
	[ -x "$b" ] || fail "'$b' not found (build it, or pass --twist/--twistctl)"
done
for c in "${CLIENTS[@]}"; do
	case $c in
	turnload) [ -x "$TURNLOAD" ] || fail "'$TURNLOAD' not found (build it, or pass --turnload)" ;;
	uclient)
		for t in turnutils_uclient turnutils_peer; do
			command -v $t >/dev/null || fail "'$t' not found: apt-get install coturn"
		done
		;;
	esac
done
[ -f "$FILL" ] || fail "'$FILL' not found"
command -v python3 >/dev/null || fail "'python3' not found: apt-get install python3"
command -v ss >/dev/null || fail "'ss' not found: apt-get install iproute2"
[ -n "$OUT" ] || OUT=$PWD/userdb-bench-$(date +%Y%m%d-%H%M%S)
mkdir -p "$OUT" || fail "cannot create $OUT"
OUT=$(cd "$OUT" && pwd)
HZ=$(getconf CLK_TCK) || fail "getconf CLK_TCK"

# shellcheck source=proc.sh
. "$HERE/proc.sh"
trap stop_all_exit EXIT
trap 'fail "interrupted"' INT TERM

DB=$OUT/users.db
rm -f "$DB" "$DB-wal" "$DB-shm"
"$TWISTCTL" --db "$DB" --socket "$OUT/none.sock" secret list >/dev/null || fail "twistctl cannot create $DB"
t0=$SECONDS
ans=$(python3 "$FILL" "$DB" "$USERS") || fail "cannot fill $DB"
log "database in $((SECONDS - t0))s: $ans, $(du -k "$DB" | cut -f1) KiB"
ROW=$((USERS / 2))
NAME=$(printf 'user%07d' "$ROW")
PASS=$(printf 'pw%07d' "$ROW")

config() { # MODE FILE
	{
		echo "listen: [{ address: 127.0.0.1, port: $PORT, transports: [udp] }]"
		echo "relay: { addresses: [127.0.0.1], port_min: 20000, port_max: 65000 }"
		if [ "$1" = yaml ]; then
			echo "auth: { realm: twist.local, users: [{ name: $NAME, password: $PASS }], unauth_rate: 100000, unauth_burst: 100000 }"
		else
			echo "auth: { realm: twist.local, database: \"$DB\", unauth_rate: 100000, unauth_burst: 100000 }"
		fi
		echo "peers: { allow_loopback: true, allow_self: true }"
		echo "limits: { max_allocations: 200000 }"
		echo "metrics: { enabled: false }"
		echo "control: { socket: \"$OUT/relay.sock\" }"
		echo "compat: { rfc5766_channels: true }" # uclient's channel numbers
	} >"$2"
}

wait_udp() { # PORT PID
	local i
	for ((i = 0; i < 300; i++)); do
		ss -H -u -l -n "sport = :$1" 2>/dev/null | grep -q . && return 0
		running "$2" || return 1
		sleep 0.1
	done
	return 1
}

kv() { sed -n "s/.* $1=\([^ ]*\).*/\1/p" <<<"$2"; }
rss_kib() { awk '/^VmRSS/ { print $2 }' "/proc/$1/status"; }
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }

# start_relay MODE TAG: sets pid, rlog, rss, load_ms, load_cpu, snap.
start_relay() {
	config "$1" "$OUT/$1.yaml"
	rlog=$OUT/relay-$2.log
	"$TWIST" --config "$OUT/$1.yaml" </dev/null >"$rlog" 2>&1 &
	pid=$!
	PIDS+=("$pid")
	wait_udp "$PORT" "$pid" || fail "$1 relay did not start: $(tail -5 "$rlog")"
	load_ms=- load_cpu=- snap=-
	if [ "$1" = db ]; then
		ans=$("$TWISTCTL" --db "$DB" --socket "$OUT/relay.sock" reload) || fail "twistctl reload: $ans"
		load_ms=$(kv load_ms "$ans")
		load_cpu=$(kv load_cpu_ms "$ans")
		snap=$(kv kib "$ans")
		[ -n "$load_ms" ] && [ -n "$load_cpu" ] && [ -n "$snap" ] || fail "no load_ms, load_cpu_ms or kib in '$ans'"
	fi
	rss=$(rss_kib "$pid")
}

stop_relay() { # MODE
	stop_pid "$pid"
	[ "$STOP_STATUS" = 0 ] || fail "$1 relay exited with $STOP_STATUS"
}

run_turnload() { # MODE ROUND
	local res rc sps cpu
	start_relay "$1" "turnload-$1-r$2"
	res=$(timeout 600 "$TURNLOAD" --setup -s "127.0.0.1:$PORT" -n "$SETUP_N" -w "$WINDOW" \
		-u "$NAME" -k "$PASS" --pid "$pid" --label "$1" -q)
	rc=$?
	stop_relay "$1"
	[ $rc -eq 0 ] || fail "turnload --setup against $1 failed ($rc): $res"
	sps=$(kv setups_per_s "$res")
	cpu=$(kv cpu_ms_per_setup "$res")
	[ -n "$sps" ] && [ -n "$cpu" ] || fail "turnload reported no rate: $res"
	echo "$1,$2,$sps,$cpu,$(kv ok "$res"),$(kv failed "$res"),$rss,$load_ms,$load_cpu,$snap" >>"$OUT/userdb.csv"
	log "round $2 $1 turnload: $sps set-ups/s, $cpu CPU ms each, RSS $rss KiB, load $load_ms ms"
}

# The relay logs "<ISO time> info  allocation ..." for each one: the count,
# and ms from the earliest to the latest. Two workers write the log, so the
# times are not in order; a run crossing midnight has times more than 12 h
# apart, and the morning ones move a day on.
alloc_span() { # LOG: prints "COUNT SPAN_MS"
	awk '$3 == "allocation" {
		split(substr($1, 12, 12), t, ":")
		ms[n++] = (t[1] * 3600 + t[2] * 60 + t[3]) * 1000
	}
	function span(   i, lo, hi) {
		lo = hi = ms[0]
		for (i = 1; i < n; i++) {
			if (ms[i] < lo) lo = ms[i]
			if (ms[i] > hi) hi = ms[i]
		}
		return hi - lo
	}
	END {
		s = n ? span() : 0
		if (s > 43200000) {
			for (i = 0; i < n; i++) if (ms[i] < 43200000) ms[i] += 86400000
			s = span()
		}
		printf "%d %d\n", n, s
	}' "$1"
}

run_uclient() { # MODE ROUND
	local i c0 c1 w0 w1 n span cpu_ms ulog sent recv r437 bad=""
	local -a ups=()
	start_relay "$1" "uclient-$1-r$2"
	c0=$(cpu_ticks "$pid")
	w0=$(date +%s%N)
	for ((i = 0; i < UC_PROCS; i++)); do
		ulog=$OUT/uclient-$1-r$2-p$i.log
		timeout -k 5 600 turnutils_uclient -m "$UC_M" -n 1 -u "$NAME" -w "$PASS" \
			-e 127.0.0.1 -r "$PEER_PORT" -p "$PORT" 127.0.0.1 </dev/null >"$ulog" 2>&1 &
		ups+=($!)
	done
	for i in "${!ups[@]}"; do
		wait "${ups[$i]}" || bad="$bad p$i:$?"
	done
	w1=$(date +%s%N)
	c1=$(cpu_ticks "$pid")
	stop_relay "$1"
	[ -z "$bad" ] || fail "turnutils_uclient against $1 failed ($bad): $(tail -3 "$OUT/uclient-$1-r$2-p0.log")"
	for ((i = 0; i < UC_PROCS; i++)); do
		ulog=$OUT/uclient-$1-r$2-p$i.log
		read -r sent recv < <(sed -n 's/.*start_mclient: tot_send_msgs=\([0-9]*\), tot_recv_msgs=\([0-9]*\)$/\1 \2/p' "$ulog")
		[ -n "${sent:-}" ] && [ "$sent" = "$recv" ] && [ "$sent" -ge "$UC_M" ] ||
			fail "uclient p$i against $1: sent '${sent:-}' received '${recv:-}' (log $ulog)"
	done
	# uclient retries an Allocate refused with 437 about a second later:
	# those pauses show in the span, so they are counted beside it.
	r437=$(cat "$OUT/uclient-$1-r$2"-p*.log | grep -c 'error 437')
	read -r n span < <(alloc_span "$rlog")
	[ "$n" -ge $((UC_PROCS * UC_M)) ] || fail "$1 relay logged $n allocations, fewer than $((UC_PROCS * UC_M)) sessions"
	[ "$span" -gt 0 ] || fail "$1 relay's allocations span 0 ms ($n allocations)"
	cpu_ms=$(((c1 - c0) * 1000 / HZ))
	echo "$1,$2,$((UC_PROCS * UC_M)),$n,$span,$(((w1 - w0) / 1000000)),$cpu_ms,$r437,$rss,$load_ms" >>"$OUT/uclient.csv"
	log "round $2 $1 uclient: $n allocations in $span ms ($((n * 1000 / span))/s), relay CPU $cpu_ms ms, $r437 retries after 437, RSS $rss KiB"
}

echo "mode,round,setups_per_s,cpu_ms_per_setup,ok,failed,rss_kib,load_ms,load_cpu_ms,snapshot_kib" >"$OUT/userdb.csv"
echo "mode,round,sessions,allocations,span_ms,wall_ms,relay_cpu_ms,retries_437,rss_kib,load_ms" >"$OUT/uclient.csv"
if [[ " ${CLIENTS[*]} " = *" uclient "* ]]; then
	turnutils_peer -p "$PEER_PORT" -L 127.0.0.1 </dev/null >"$OUT/peer.log" 2>&1 &
	PIDS+=($!)
	wait_udp "$PEER_PORT" $! || fail "turnutils_peer did not start: $(tail -3 "$OUT/peer.log")"
fi
for ((round = 1; round <= ROUNDS; round++)); do
	for client in "${CLIENTS[@]}"; do
		for mode in yaml db; do
			[ $((round % 2)) = 0 ] && mode=$([ "$mode" = yaml ] && echo db || echo yaml)
			"run_$client" "$mode" "$round"
		done
	done
done

# Medians per mode, and db over yaml.
python3 - "$OUT" "$USERS" "${CLIENTS[@]}" <<'PY' | tee "$OUT/table.md" || fail "no table"
import csv, statistics, sys
out, users, clients = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
def med(rows, mode, f):
    v = [f(r) for r in rows if r["mode"] == mode]
    v = [x for x in v if x is not None]
    return statistics.median(v) if v else float("nan")
def num(k):
    return lambda r: None if r[k] in ("", "-") else float(r[k])
def spread(rows, mode, f):
    return "/".join("%.0f" % f(r) for r in rows if r["mode"] == mode)
def div(a, b):
    # --quick runs are short enough for a CPU reading of 0 ticks: no ratio then.
    return a / b if b else float("nan")
def line(label, y, d, ratio):
    print("| %s | %.0f | %.0f | %s |" % (label, y, d, ratio))
if "turnload" in clients:
    rows = list(csv.DictReader(open(out + "/userdb.csv")))
    y, d = med(rows, "yaml", num("setups_per_s")), med(rows, "db", num("setups_per_s"))
    yc, dc = med(rows, "yaml", num("cpu_ms_per_setup")), med(rows, "db", num("cpu_ms_per_setup"))
    print("turnload --setup, %d users in the database:\n" % users)
    print("| medians | yaml | db | db/yaml |")
    print("|---|---|---|---|")
    line("set-ups per second", y, d, "%.3f" % div(d, y))
    line("set-ups per relay CPU-second", div(1000, yc), div(1000, dc), "%.3f" % div(yc, dc))
    ry, rd = med(rows, "yaml", num("rss_kib")), med(rows, "db", num("rss_kib"))
    line("relay RSS after start, KiB", ry, rd, "+%.0f" % (rd - ry))
    print("| database load (twistctl reload), wall ms | - | %.0f | |" % med(rows, "db", num("load_ms")))
    print("| database load, loader thread CPU ms | - | %.0f | |" % med(rows, "db", num("load_cpu_ms")))
    print("| snapshot user table, KiB | - | %.0f | |" % med(rows, "db", num("snapshot_kib")))
    print("\nper round, set-ups/s: yaml %s; db %s\n" % (spread(rows, "yaml", num("setups_per_s")),
          spread(rows, "db", num("setups_per_s"))))
if "uclient" in clients:
    rows = list(csv.DictReader(open(out + "/uclient.csv")))
    rate = lambda r: float(r["allocations"]) * 1000 / float(r["span_ms"])
    per_cpu = lambda r: (float(r["allocations"]) * 1000 / float(r["relay_cpu_ms"])
                         if float(r["relay_cpu_ms"]) > 0 else None)
    print("turnutils_uclient, %d users in the database:\n" % users)
    print("| medians | yaml | db | db/yaml |")
    print("|---|---|---|---|")
    for label, f in (("allocations per second (first to last)", rate),
                     ("allocations per relay CPU-second", per_cpu),
                     ("relay CPU ms for the run", num("relay_cpu_ms")),
                     ("uclient retries after a 437", num("retries_437")),
                     ("allocations per run", num("allocations"))):
        y, d = med(rows, "yaml", f), med(rows, "db", f)
        line(label, y, d, "%.3f" % (d / y) if y else "-")
    for label, f in (("allocations/s", rate), ("allocations per CPU-s", per_cpu)):
        print("\nper round, %s: yaml %s; db %s" % (label, spread(rows, "yaml", lambda r: f(r) or 0),
              spread(rows, "db", lambda r: f(r) or 0)))
PY
log "results in $OUT (userdb.csv, uclient.csv, table.md)"
