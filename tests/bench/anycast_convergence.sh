#!/bin/bash
# Anycast convergence in deploy/lab/anycast.sh (issue 14): N runs each of
#   fail_kill   SIGKILL of site A's relay -> twist-ha withdraws (3 missed
#               100 ms checks), BIRD withdraws, router A moves to site B
#   fail_links  site A's uplink drops every packet -> BFD (3 x 100 ms) at
#               router A takes the session down
#   drain       the drain (twistctl, or the lab's /serving stand-in)
#   undrain     back: twist-ha wants 3 good checks in a row first
# and prints, per event, every time and min / median / max: seconds from
# the event to router A's kernel route for both anycast addresses pointing
# at the new site (polled every 10 ms, so ~10-20 ms of resolution).
#
# usage: anycast_convergence.sh [RUNS (5)] [BIN_DIR (build/bin)]
# Needs root and bird2; builds and removes its own lab (any14-bench-*).
set -u
RUNS=${1:-5}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
LABSH=$ROOT/deploy/lab/anycast.sh
export TWIST_BIN=${2:-$ROOT/build/bin}
export TWIST_ANY_LAB=any14-bench
OUT=$(mktemp -d /tmp/anycast-bench.XXXXXX)

trap '"$LABSH" down >/dev/null 2>&1; rm -rf "$OUT"' EXIT
trap 'exit 1' INT TERM
"$LABSH" down >/dev/null 2>&1
"$LABSH" up >"$OUT/up.log" 2>&1 || {
	cat "$OUT/up.log"
	exit 1
}
grep -h "up;" "$OUT/up.log"

# one NAME ROUTER SITE CMD...: the seconds, or "timeout".
one() {
	local name=$1 r=$2 s=$3 t0 secs
	shift 3
	t0=$(date +%s.%N)
	"$LABSH" "$@" >/dev/null || {
		echo "$name: '$*' failed" >&2
		return 1
	}
	secs=$("$LABSH" wait-route "$r" "$s" "$t0" 30) || secs=timeout
	echo "$secs" >>"$OUT/$name"
}

for i in $(seq "$RUNS"); do
	one fail_kill a b fail-site A kill
	"$LABSH" restore A >/dev/null || exit 1
	one fail_links a b fail-site A links
	"$LABSH" restore A >/dev/null || exit 1
	one drain a b drain A
	one undrain a a undrain A
	# Let BGP and BFD settle between runs.
	sleep 2
	echo "run $i of $RUNS done" >&2
done

printf '%-10s %5s %7s %7s %7s  %s\n' event runs min median max "all (s)"
for e in fail_kill fail_links drain undrain; do
	# A run that timed out (30 s) is listed, not averaged in.
	sort -g "$OUT/$e" | awk -v e="$e" '
		$1 == "timeout" { t++; next }
		{ v[++n] = $1; all = all " " $1 }
		END {
			if (!n) { printf "%-10s %5d all timed out\n", e, t; exit }
			m = (n % 2) ? v[(n + 1) / 2] : (v[n / 2] + v[n / 2 + 1]) / 2
			printf "%-10s %5d %7.3f %7.3f %7.3f %s%s\n", e, n, v[1], m, v[n], all,
			       t ? sprintf(" (+%d timed out)", t) : ""
		}'
done
