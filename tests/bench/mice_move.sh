#!/usr/bin/env bash
# The M-ICE move's distribution (docs/mice.md, "Moving"): runs
# tests/integration/mice_move.sh and prints min, median, p90 and max of
# the gaps (move to the first echo on the new pair, the mobile node's own
# clock) and of the old pairs' consent lapses after their move.
#
#   mice_move.sh BUILD_DIR [MOVES]     run the move test (root), then summarize
#   mice_move.sh --summarize FILE      summarize a results file of the test
set -u

# dist NAME UNIT VALUES...: nearest-rank percentiles.
dist() {
	local name=$1 unit=$2
	shift 2
	printf '%s\n' "$@" | sort -n | awk -v name="$name" -v unit="$unit" '
		{ v[NR] = $1 }
		function rank(p) { r = int(p * NR + 0.999999); return v[r < 1 ? 1 : r] }
		END {
			if (NR == 0) { print name ": no values"; exit 1 }
			printf "%s (n=%d, %s): min %s median %s p90 %s max %s\n", name, NR, unit,
				v[1], rank(0.5), rank(0.9), v[NR]
		}'
}

summarize() {
	local f=$1
	[ -r "$f" ] || { echo "mice_move.sh: cannot read $f" >&2; exit 1; }
	mapfile -t gaps < <(awk '$1 == "move" { print $4 }' "$f")
	mapfile -t lapses < <(awk '$1 == "lapse" { print $4 }' "$f")
	dist "echo resumed after a move" ms "${gaps[@]}" || exit 1
	dist "old pair's consent lapsed after its move" s "${lapses[@]}" || exit 1
}

if [ "${1:-}" = --summarize ]; then
	summarize "${2:?usage: mice_move.sh --summarize FILE}"
	exit 0
fi
B=${1:?usage: mice_move.sh BUILD_DIR [MOVES] | --summarize FILE}
OUT=$(mktemp)
trap 'rm -f "$OUT"' EXIT
MICE_MOVE_RESULTS=$OUT bash "$(dirname "$0")/../integration/mice_move.sh" \
	"$B/bin/twist-relay" "$B/bin/twist-ice" "${2:-10}" || exit 1
echo "per move:"
cat "$OUT"
