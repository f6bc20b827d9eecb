#!/bin/sh
# Short libFuzzer run for the suite: seeds from the corpus, fresh finds go to a
# scratch directory so the tree stays clean. A crash, leak or timeout fails
# the test and leaves its input in the log. Long runs: docs/fuzzing.md.
set -u
bin=$1
corpus=$2
secs=${TWIST_FUZZ_SECONDS:-10}
work=$(mktemp -d)
# -timeout catches an input that hangs; it is no speed limit, so it is far
# above what any input takes even under ASan on a loaded machine.
"$bin" -max_total_time="$secs" -timeout=120 -rss_limit_mb=2048 \
	-artifact_prefix="$work/" "$work" "$corpus"
rc=$?
if [ $rc -ne 0 ]; then
	for f in "$work"/crash-* "$work"/leak-* "$work"/timeout-*; do
		[ -f "$f" ] && { echo "artifact $f:"; od -An -tx1 "$f" | head -20; }
	done
fi
rm -rf "$work"
exit $rc
