#!/usr/bin/env bash
# twist's one entry point (README quick start). Run as root on Debian 12.
#
#   ./twist.sh run [ARGS...]  install what is missing, build Release in build/,
#                             then run build/bin/twist-relay in the foreground
#                             (embedded default config unless ARGS say else)
#   ./twist.sh test           install what is missing; build with clang,
#                             ASan+UBSan and the fuzzers in build-test/ and
#                             run every test with ctest (two at a time;
#                             TWIST_TEST_JOBS=1 for one); then build with gcc
#                             and ASan+UBSan in build-gcc/ and run the suite
#                             again (all but the fuzzers, which need clang);
#                             exits non-zero if either pass fails
set -euo pipefail
cd "$(dirname "$0")"

say() { printf '[twist] %s\n' "$*"; }
usage() {
	sed -n '2,13s/^# \{0,1\}//p' "$0" >&2
	exit 2
}

mode=${1:-}
[ $# -gt 0 ] && shift
case $mode in
run)
	./scripts/setup.sh
	say "configuring the Release build in build/"
	cmake -S . -B build -DCMAKE_BUILD_TYPE=Release
	say "building"
	cmake --build build -j "$(nproc)"
	say "starting build/bin/twist-relay${*:+ $*} (Ctrl-C or SIGTERM stops it)"
	exec build/bin/twist-relay "$@"
	;;
test)
	[ $# -eq 0 ] || usage
	./scripts/setup.sh
	# Any sanitizer report fails the test that triggered it, with a stack.
	export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:halt_on_error=1:print_stacktrace=1}
	export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}
	export LSAN_OPTIONS=${LSAN_OPTIONS:-print_suppressions=0}
	# Two tests at a time: most wait on the network, not the CPU. Tests that
	# share a port or a lab's names hold a RESOURCE_LOCK, so ctest never runs
	# them together. TWIST_TEST_JOBS=1 runs the suite serially.
	jobs=${TWIST_TEST_JOBS:-2}
	t0=$SECONDS
	say "1/2: configuring the ASan+UBSan+fuzzer build in build-test/ (clang)"
	CC=clang cmake -S . -B build-test -DTWIST_SANITIZE=ON -DTWIST_FUZZ=ON -DCMAKE_BUILD_TYPE=Debug
	say "1/2: building"
	cmake --build build-test -j2
	say "1/2: running ctest (ASAN_OPTIONS=$ASAN_OPTIONS UBSAN_OPTIONS=$UBSAN_OPTIONS)"
	clang_rc=0
	# --no-tests=error: a suite that finds no test fails instead of passing.
	ctest --test-dir build-test -j "$jobs" --output-on-failure --no-tests=error || clang_rc=$?
	t1=$SECONDS
	# The same suite built by gcc: it warns where clang does not, and its
	# sanitizers catch other things. No fuzz smoke tests: libFuzzer needs
	# clang, so TWIST_FUZZ=OFF registers none.
	say "2/2: configuring the ASan+UBSan build in build-gcc/ (gcc; TWIST_FUZZ=OFF: the fuzz smoke tests are not registered)"
	gcc_rc=0
	if CC=gcc cmake -S . -B build-gcc -DTWIST_SANITIZE=ON -DTWIST_FUZZ=OFF -DCMAKE_BUILD_TYPE=Debug &&
		say "2/2: building" && cmake --build build-gcc -j2; then
		say "2/2: running ctest (everything but the fuzz smoke tests)"
		ctest --test-dir build-gcc -j "$jobs" --output-on-failure --no-tests=error || gcc_rc=$?
	else
		gcc_rc=1
	fi
	t2=$SECONDS
	verdict() { [ "$1" -eq 0 ] && echo passed || echo "FAILED (status $1)"; }
	say "clang build-test/: $(verdict $clang_rc) in $((t1 - t0)) s;" \
		"gcc build-gcc/: $(verdict $gcc_rc) in $((t2 - t1)) s"
	[ $clang_rc -eq 0 ] && [ $gcc_rc -eq 0 ]
	;;
*)
	usage
	;;
esac
