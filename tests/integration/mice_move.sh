#!/usr/bin/env bash
# Issue 13's "Move" in the M-ICE lab (deploy/lab/mice.sh): twist-relay is
# the home agent, twist-ice the correspondent and the mobile node; the MN
# moves MOVES times (default 10) between access networks A and B, each
# behind its own NAT, mid-stream. After each move the echo stream must
# resume on a new pair whose local address is the MN's new one (bounded
# wait: 30 s); the gap from the move to the first echo of a datagram sent
# on the new pair is measured from the MN's own timestamps and printed,
# never asserted. Then every replaced pair must be reported lapsed
# (RFC 7675, 30 s after its last consent answer; bounded wait), and when
# is printed. The distribution goes through tests/bench/mice_move.sh.
#
#   mice_move.sh PATH/TO/twist-relay PATH/TO/twist-ice [MOVES]
#
# Environment: MICE_MOVE_RESULTS, a file for the per-move lines (kept).
# shellcheck disable=SC2153 # MICE_* come from eval "$(mice.sh env)"
# shellcheck disable=SC2034 # TW_NAME, TW_EXTRA_LOGS: read by lib.sh
set -u
export TWIST_TEST_NETNS=0 # the lab builds its own namespaces
TW_NAME=mice_move
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"

RELAY=${1:?usage: mice_move.sh PATH/TO/twist-relay PATH/TO/twist-ice [MOVES]}
ICE=${2:?usage: mice_move.sh PATH/TO/twist-relay PATH/TO/twist-ice [MOVES]}
MOVES=${3:-10}
HERE=$(cd "$(dirname "$0")" && pwd)
LABSH=$HERE/../../deploy/lab/mice.sh
SUMMARY=$HERE/../bench/mice_move.sh

[ "$(id -u)" -eq 0 ] || tw_fail "needs root (network namespaces)"
tw_need ip iproute2
tw_need nft nftables
[ -x "$RELAY" ] || tw_fail "twist-relay binary '$RELAY' not found (build first)"
[ -x "$ICE" ] || tw_fail "twist-ice binary '$ICE' not found (build first)"
[ -x "$LABSH" ] || tw_fail "$LABSH missing or not executable"

tw_tmpdir
export MICE_LAB_DIR=$TW_TMP/lab
RESULTS=${MICE_MOVE_RESULTS:-$TW_TMP/moves.txt}
: >"$RESULTS"
"$LABSH" down >/dev/null 2>&1 # what a killed run may have left
tw_lab_trap "$LABSH"
"$LABSH" up "$RELAY" || tw_fail "the lab did not come up"
eval "$("$LABSH" env)"
TW_EXTRA_LOGS="$MICE_LAB_DIR/logs/relay.log"
MN_LOG=$TW_TMP/mn.log
CN_LOG=$TW_TMP/cn.log

# wait_line FILE REGEX SECONDS: the first matching line, or fail.
wait_line() {
	local i line
	for ((i = 0; i < $3 * 10; i++)); do
		line=$(grep -E -m1 -- "$2" "$1")
		[ -n "$line" ] && { echo "$line"; return 0; }
		sleep 0.1
	done
	return 1
}

# field LINE KEY: the value of KEY=... in a line.
field() { sed -n "s/.*[ ^]$2=\([^ ]*\).*/\1/p; s/^$2=\([^ ]*\).*/\1/p" <<<"$1" | head -1; }

last_echoed() { grep -E '^t=[0-9.]+ sent=' "$MN_LOG" | tail -1 | sed -n 's/.* echoed=\([0-9]*\).*/\1/p'; }

common=(--ha "$MICE_HA" --stun "$MICE_STUN")
tw_start cn "$CN_LOG" ip netns exec "$MICE_NS_CN" "$ICE" --role cn --spi "$MICE_CN_SPI" \
	--key "$MICE_CN_KEY" --home "$MICE_CN_HOME" "${common[@]}"
CN_PID=$TW_LAST_PID
wait_line "$CN_LOG" '^registered ' 30 >/dev/null || tw_fail "the CN did not register with the home agent"
tw_start mn "$MN_LOG" ip netns exec "$MICE_NS_MN" "$ICE" --role mn --spi "$MICE_MN_SPI" \
	--key "$MICE_MN_KEY" --home "$MICE_MN_HOME" --peer "$MICE_CN_HOME" --interval 20 "${common[@]}"
MN_PID=$TW_LAST_PID
wait_line "$MN_LOG" '^answer ' 30 >/dev/null || tw_fail "no answer from the CN through the home agent"
wait_line "$MN_LOG" '^t=[0-9.]+ sent=[0-9]+ echoed=([5-9][0-9]|[0-9]{3,}) ' 30 >/dev/null ||
	tw_fail "no echo stream within 30 s"
pair=$(field "$(grep -E '^pair ' "$MN_LOG" | tail -1)" pair)
tw_log "stream up on $pair"

declare -a OLD MOVE_T
for ((i = 1; i <= MOVES; i++)); do
	OLD[i]=$pair
	"$LABSH" move >/dev/null || tw_fail "move $i failed"
	eval "$("$LABSH" env)"
	mv_line=$(wait_line "$MN_LOG" "^move n=$i " 30) || tw_fail "move $i: the MN did not notice"
	MOVE_T[i]=$(field "$mv_line" t)
	line=$(wait_line "$MN_LOG" "^resumed move=$i " 30) ||
		tw_fail "move $i: no echo on a new pair within 30 s (was $pair)"
	pair=$(field "$line" pair)
	[ "$pair" != "${OLD[i]}" ] || tw_fail "move $i: the pair did not change ($pair)"
	case $pair in
	*:"$MICE_MN_ADDR":*"->"*) ;;
	*) tw_fail "move $i: the new pair $pair is not from the MN's new address $MICE_MN_ADDR" ;;
	esac
	gap=$(field "$line" gap_ms)
	tw_log "move $i to $MICE_MN_AT ($MICE_MN_ADDR): echo resumed after $gap ms on $pair"
	echo "move $i gap_ms $gap t ${MOVE_T[i]} old ${OLD[i]} new $pair" >>"$RESULTS"
	# the stream goes on over the new pair before the next move
	e0=$(last_echoed)
	for ((k = 0; k < 100; k++)); do
		[ "$(($(last_echoed) - e0))" -ge 100 ] && break
		sleep 0.1
	done
	[ "$(($(last_echoed) - e0))" -ge 100 ] || tw_fail "move $i: the stream did not go on after resuming"
done

# RFC 7675: each replaced pair lapses 30 s after its last consent answer.
for ((i = 1; i <= MOVES; i++)); do
	line=$(wait_line "$MN_LOG" "^lapsed .* pair=${OLD[i]}\$" 45) ||
		tw_fail "move $i: consent on the old pair ${OLD[i]} was not reported lapsed"
	after=$(awk -v a="$(field "$line" t)" -v b="${MOVE_T[i]}" 'BEGIN { printf "%.1f", a - b }')
	tw_log "move $i: the old pair ${OLD[i]} lapsed ${after} s after the move"
	echo "lapse $i after_s $after" >>"$RESULTS"
done

tw_stop "$MN_PID"
tw_forget "$MN_PID"
tw_stop "$CN_PID"
tw_forget "$CN_PID"
grep -h '^RESULT' "$MN_LOG" "$CN_LOG"
if grep -lE 'AddressSanitizer|LeakSanitizer|runtime error' "$MN_LOG" "$CN_LOG"; then
	tw_fail "sanitizer reports in twist-ice's output (above)"
fi
bash "$SUMMARY" --summarize "$RESULTS"
tw_pass "$MOVES moves: the echo resumed on the new pair each time, every old pair lapsed"
