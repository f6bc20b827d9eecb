#!/usr/bin/env bash
# userdb.sh: authenticated set-ups against twist-relay with its user in the
# YAML list ("yaml") and with the same user among --users others in a SQLite
# user database ("db"), side by side in one run, alternating over rounds.
# docs/benchmarks.md ("User database") holds the results.
#
#   userdb.sh [--quick] [--users N] [--rounds N] [--setup-n N] [--out DIR]
#             [--twist BIN] [--twistctl BIN] [--turnload BIN]
#
# Per round and mode: start the relay fresh, read its RSS, time one
# `twistctl reload` (db), run `turnload --setup` (401 + Allocate +
# CreatePermission + ChannelBind per set-up) as that user, stop the relay.
# Reports medians of set-ups/s and set-ups per relay CPU-second, their
# db/yaml ratios, the database's load time and the relay's RSS.
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
USERS=100000
ROUNDS=5
SETUP_N=6000 # the open-file limit here allows 10000 allocations
WINDOW=64
OUT=""
PORT=3596
STOP_GRACE=10
NETNS=${TWIST_BENCH_NETNS:-auto}

while [ $# -gt 0 ]; do
	case $1 in
	--twist) TWIST=$2; shift ;;
	--twistctl) TWISTCTL=$2; shift ;;
	--turnload) TURNLOAD=$2; shift ;;
	--users) USERS=$2; shift ;;
	--rounds) ROUNDS=$2; shift ;;
	--setup-n) SETUP_N=$2; shift ;;
	--out) OUT=$2; shift ;;
	--netns) NETNS=$2; shift ;;
	--quick) USERS=1000 ROUNDS=1 SETUP_N=100 WINDOW=16 ;;
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

for b in "$TWIST" "$TWISTCTL" "$TURNLOAD"; do
	[ -x "$b" ] || fail "'$b' not found (build it, or pass --twist/--twistctl/--turnload)"
done
command -v python3 >/dev/null || fail "'python3' not found: apt-get install python3"
command -v ss >/dev/null || fail "'ss' not found: apt-get install iproute2"
[ -n "$OUT" ] || OUT=$PWD/userdb-bench-$(date +%Y%m%d-%H%M%S)
mkdir -p "$OUT" || fail "cannot create $OUT"
OUT=$(cd "$OUT" && pwd)

# shellcheck source=proc.sh
. "$HERE/proc.sh"
trap stop_all_exit EXIT
trap 'fail "interrupted"' INT TERM

DB=$OUT/users.db
rm -f "$DB" "$DB-wal" "$DB-shm"
"$TWISTCTL" --db "$DB" --socket "$OUT/none.sock" secret list >/dev/null || fail "twistctl cannot create $DB"
# Keys as RFC 8489 §9.2.2 defines them, computed here by Python's hashlib:
# the same values twistctl would store, made in bulk.
t0=$SECONDS
python3 - "$DB" "$USERS" <<'PY' || fail "cannot fill $DB"
import hashlib, sqlite3, sys, time
db, n = sys.argv[1], int(sys.argv[2])
realm = "twist.local"
def row(name, pw):
    s = ("%s:%s:%s" % (name, realm, pw)).encode()
    return (name, realm, hashlib.md5(s).digest(), hashlib.sha256(s).digest(), int(time.time()))
c = sqlite3.connect(db)
rows = (row("user%07d" % i, "pw%07d" % i) for i in range(n - 1))
c.executemany("INSERT INTO users (name, realm, key_md5, key_sha256, created) VALUES (?,?,?,?,?)", rows)
c.execute("INSERT INTO users (name, realm, key_md5, key_sha256, created) VALUES (?,?,?,?,?)",
          row("bench", "benchpw"))
c.commit()
PY
log "database with $USERS users in $((SECONDS - t0))s: $(du -k "$DB" | cut -f1) KiB"

config() { # MODE FILE
	{
		echo "listen: [{ address: 127.0.0.1, port: $PORT, transports: [udp] }]"
		echo "relay: { addresses: [127.0.0.1], port_min: 20000, port_max: 65000 }"
		if [ "$1" = yaml ]; then
			echo "auth: { realm: twist.local, users: [{ name: bench, password: benchpw }], unauth_rate: 100000, unauth_burst: 100000 }"
		else
			echo "auth: { realm: twist.local, database: \"$DB\", unauth_rate: 100000, unauth_burst: 100000 }"
		fi
		echo "peers: { allow_loopback: true, allow_self: true }"
		echo "limits: { max_allocations: 200000 }"
		echo "metrics: { enabled: false }"
		echo "control: { socket: \"$OUT/relay.sock\" }"
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

echo "mode,round,setups_per_s,cpu_ms_per_setup,ok,failed,rss_kib,load_ms,load_cpu_ms,snapshot_kib" >"$OUT/userdb.csv"
for ((round = 1; round <= ROUNDS; round++)); do
	for mode in yaml db; do
		[ $((round % 2)) = 0 ] && mode=$([ "$mode" = yaml ] && echo db || echo yaml)
		config "$mode" "$OUT/$mode.yaml"
		"$TWIST" --config "$OUT/$mode.yaml" </dev/null >"$OUT/relay-$mode-r$round.log" 2>&1 &
		pid=$!
		PIDS+=("$pid")
		wait_udp "$PORT" "$pid" || fail "$mode relay did not start: $(tail -5 "$OUT/relay-$mode-r$round.log")"
		load_ms=- load_cpu=- snap=-
		if [ "$mode" = db ]; then
			ans=$("$TWISTCTL" --db "$DB" --socket "$OUT/relay.sock" reload) || fail "twistctl reload: $ans"
			load_ms=$(kv load_ms "$ans")
			load_cpu=$(kv load_cpu_ms "$ans")
			snap=$(kv kib "$ans")
			[ -n "$load_ms" ] && [ -n "$load_cpu" ] && [ -n "$snap" ] || fail "no load_ms, load_cpu_ms or kib in '$ans'"
		fi
		rss=$(rss_kib "$pid")
		res=$(timeout 600 "$TURNLOAD" --setup -s "127.0.0.1:$PORT" -n "$SETUP_N" -w "$WINDOW" \
			-u bench -k benchpw --pid "$pid" --label "$mode" -q)
		rc=$?
		stop_pid "$pid"
		[ "$STOP_STATUS" = 0 ] || fail "$mode relay exited with $STOP_STATUS"
		[ $rc -eq 0 ] || fail "turnload --setup against $mode failed ($rc): $res"
		sps=$(kv setups_per_s "$res")
		cpu=$(kv cpu_ms_per_setup "$res")
		[ -n "$sps" ] && [ -n "$cpu" ] || fail "turnload reported no rate: $res"
		echo "$mode,$round,$sps,$cpu,$(kv ok "$res"),$(kv failed "$res"),$rss,$load_ms,$load_cpu,$snap" >>"$OUT/userdb.csv"
		log "round $round $mode: $sps set-ups/s, $cpu CPU ms each, RSS $rss KiB, load $load_ms ms"
	done
done

# Medians per mode, and db over yaml.
python3 - "$OUT/userdb.csv" "$USERS" <<'PY' | tee "$OUT/table.md" || fail "no table"
import csv, statistics, sys
rows = list(csv.DictReader(open(sys.argv[1])))
def med(mode, k):
    v = [float(r[k]) for r in rows if r["mode"] == mode and r[k] not in ("", "-")]
    return statistics.median(v) if v else float("nan")
y, d = med("yaml", "setups_per_s"), med("db", "setups_per_s")
yc, dc = med("yaml", "cpu_ms_per_setup"), med("db", "cpu_ms_per_setup")
print("| %d users in the database | yaml | db | db/yaml |" % int(sys.argv[2]))
print("|---|---|---|---|")
print("| set-ups per second | %.0f | %.0f | %.3f |" % (y, d, d / y))
print("| set-ups per relay CPU-second | %.0f | %.0f | %.3f |" % (1000 / yc, 1000 / dc, yc / dc))
print("| relay RSS after start, KiB | %.0f | %.0f | +%.0f |" % (med("yaml", "rss_kib"), med("db", "rss_kib"),
      med("db", "rss_kib") - med("yaml", "rss_kib")))
print("| database load (twistctl reload), wall ms | - | %.0f | |" % med("db", "load_ms"))
print("| database load, loader thread CPU ms | - | %.0f | |" % med("db", "load_cpu_ms"))
print("| snapshot user table, KiB | - | %.0f | |" % med("db", "snapshot_kib"))
PY
log "results in $OUT (userdb.csv, table.md)"
