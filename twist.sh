#!/usr/bin/env bash
# twist's one entry point (README quick start). Run as root on Debian 12.
#
#   ./twist.sh run [ARGS...]  install what is missing, build Release in build/,
#                             then run build/bin/twist-relay in the foreground
#                             (embedded default config unless ARGS say else)
#   ./twist.sh test           install what is missing, build with clang,
#                             ASan+UBSan and the fuzzers in build-test/, run
#                             every test with ctest; exits with ctest's status
set -euo pipefail
cd "$(dirname "$0")"

say() { printf '[twist] %s\n' "$*"; }
usage() {
	sed -n '2,9s/^# \{0,1\}//p' "$0" >&2
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
	say "configuring the ASan+UBSan+fuzzer build in build-test/ (clang)"
	CC=clang cmake -S . -B build-test -DTWIST_SANITIZE=ON -DTWIST_FUZZ=ON -DCMAKE_BUILD_TYPE=Debug
	say "building"
	cmake --build build-test -j2
	# Any sanitizer report fails the test that triggered it, with a stack.
	export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:halt_on_error=1:print_stacktrace=1}
	export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}
	export LSAN_OPTIONS=${LSAN_OPTIONS:-print_suppressions=0}
	say "running ctest (ASAN_OPTIONS=$ASAN_OPTIONS UBSAN_OPTIONS=$UBSAN_OPTIONS)"
	rc=0
	# --no-tests=error: a suite that finds no test fails instead of passing.
	ctest --test-dir build-test --output-on-failure --no-tests=error || rc=$?
	exit $rc
	;;
*)
	usage
	;;
esac
