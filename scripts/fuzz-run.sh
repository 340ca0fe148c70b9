#!/bin/bash
# fuzz-run.sh - run libFuzzer harnesses for a while each.
#   scripts/fuzz-run.sh SECONDS JOBS build-fuzz/fuzz_X ...
# Each harness starts from its seeds (tests/fuzz/corpus/NAME) and its own
# growing corpus (build-fuzz/corpus-fuzz_NAME); a crash leaves its input
# as build-fuzz/fuzz_NAME-crash-... and the log as build-fuzz/fuzz_NAME.log.
# Without KEEP_GOING they run one after another and the first failure
# stops the run; `make fuzz-short` and `make fuzz-long` set KEEP_GOING=1:
# JOBS at once, all of them, and then every failure is listed.
set -u
secs=$1 jobs=$2
shift 2

run_one() {
	local f=$1 n
	n=$(basename "$1")
	mkdir -p "build-fuzz/corpus-$n"
	echo "== $n (${secs}s)"
	if ! "$f" -max_total_time="$secs" -print_final_stats=0 \
	    -artifact_prefix="build-fuzz/$n-" \
	    "build-fuzz/corpus-$n" "tests/fuzz/corpus/${n#fuzz_}" \
	    2>"build-fuzz/$n.log"; then
		tail -50 "build-fuzz/$n.log"
		echo "FAILED: $n (build-fuzz/$n.log)"
		return 1
	fi
}

if [ "${KEEP_GOING:-0}" = 0 ]; then
	for f in "$@"; do run_one "$f" || exit 1; done
	exit 0
fi
for f in "$@"; do
	while [ "$(jobs -rp | wc -l)" -ge "$jobs" ]; do wait -n; done
	run_one "$f" >"build-fuzz/$(basename "$f").out" 2>&1 &
done
wait
failed=0
for f in "$@"; do
	out="build-fuzz/$(basename "$f").out"
	cat "$out"
	grep -q '^FAILED: ' "$out" && failed=$((failed + 1))
done
if [ "$failed" -gt 0 ]; then
	echo "fuzz: $failed harness(es) failed:"
	cat build-fuzz/*.out | sed -n 's/^FAILED: /  /p'
	exit 1
fi
echo "fuzz: $# harnesses ran ${secs}s each without a failure"
