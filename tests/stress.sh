#!/usr/bin/env bash
# The test suite under CPU load: finds the tests that pass only on an idle
# machine. Runs `stress-ng --cpu 2` beside N runs of ctest on an existing
# build, then reports each run's result and the tests that failed.
#
#   tests/stress.sh [N]          N runs (default 2), one after the other
#
# Environment (all optional):
#   TWIST_STRESS_BUILD   build directory to test (default build-test, as
#                        built by ./twist.sh test)
#   TWIST_STRESS_CTEST   more ctest arguments, e.g. "-LE chaos" or "-L unit"
#   TWIST_STRESS_CPUS    stress-ng CPU workers (default 2)
#
# stress-ng is started once, bounded by --timeout (N x 30 min), and stopped by
# its PID when the runs end, whatever happens. Logs: BUILD/stress/run-I.log.
# Exit status 0 when every run passed.
set -uo pipefail
cd "$(dirname "$0")/.."

N=${1:-2}
case $N in '' | *[!0-9]*) echo "usage: tests/stress.sh [N]" >&2; exit 2 ;; esac
[ "$N" -ge 1 ] && [ "$N" -le 50 ] || { echo "N must be 1..50" >&2; exit 2; }
BUILD=${TWIST_STRESS_BUILD:-build-test}
CPUS=${TWIST_STRESS_CPUS:-2}
read -r -a EXTRA <<<"${TWIST_STRESS_CTEST:-}"

say() { printf '[stress] %s\n' "$*"; }
[ -f "$BUILD/CTestTestfile.cmake" ] || { say "no build in $BUILD: run ./twist.sh test first" >&2; exit 2; }
command -v stress-ng >/dev/null || { say "stress-ng not found: scripts/setup.sh installs it" >&2; exit 2; }

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:halt_on_error=1:print_stacktrace=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}
export LSAN_OPTIONS=${LSAN_OPTIONS:-print_suppressions=0}

LOGS=$BUILD/stress
mkdir -p "$LOGS"
STRESS_PID=""

# SIGTERM to stress-ng's parent, which stops its workers; SIGKILL to it and
# to its own children (by PID) if it has not ended after 15 s.
stop_stress() {
	local pid=$STRESS_PID i kids
	[ -n "$pid" ] || return 0
	STRESS_PID=""
	kill -TERM "$pid" 2>/dev/null || { wait "$pid" 2>/dev/null; return 0; }
	for ((i = 0; i < 150; i++)); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	if kill -0 "$pid" 2>/dev/null; then
		kids=$(cat /proc/"$pid"/task/*/children 2>/dev/null)
		say "stress-ng (pid $pid) ignored SIGTERM: SIGKILL to it${kids:+ and its workers $kids}"
		# shellcheck disable=SC2086 # one PID a word
		kill -KILL "$pid" $kids 2>/dev/null
	fi
	wait "$pid" 2>/dev/null
	say "stress-ng (pid $pid) stopped"
}
trap stop_stress EXIT
trap 'exit 130' INT TERM

stress-ng --cpu "$CPUS" --timeout "$((N * 30))m" --quiet &
STRESS_PID=$!
say "stress-ng --cpu $CPUS (pid $STRESS_PID) running beside $N run(s) of ctest on $BUILD${EXTRA[*]:+ (${EXTRA[*]})}"

results=()
bad=0
for ((i = 1; i <= N; i++)); do
	log=$LOGS/run-$i.log
	kill -0 "$STRESS_PID" 2>/dev/null || say "WARNING: stress-ng is no longer running"
	say "run $i/$N: ctest (log $log)"
	t=$SECONDS
	ctest --test-dir "$BUILD" --output-on-failure --no-tests=error ${EXTRA[@]+"${EXTRA[@]}"} >"$log" 2>&1
	rc=$?
	failed=$(sed -n '/The following tests FAILED:/,$s/^[[:space:]]*[0-9]* - \([^ ]*\).*/\1/p' "$log" | tr '\n' ' ')
	summary=$(grep -E '^[0-9]+% tests passed' "$log" | tail -n1)
	if [ $rc -eq 0 ]; then
		results+=("run $i: PASS in $((SECONDS - t)) s: ${summary:-?}")
	else
		bad=$((bad + 1))
		results+=("run $i: FAIL (ctest status $rc) in $((SECONDS - t)) s: ${summary:-?}; failed: ${failed:-see $log}")
	fi
	say "${results[-1]}"
done
stop_stress
say "summary, $N run(s) under stress-ng --cpu $CPUS:"
for r in "${results[@]}"; do say "  $r"; done
[ $bad -eq 0 ]
