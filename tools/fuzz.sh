#!/usr/bin/env bash
# tools/fuzz.sh (make fuzz): libFuzzer over ex7d's request path (test/fuzz/fuzz_edge.c: framing, request
# targets and the route table, JSON bodies, bearer tokens, signed claims) for a bounded time, starting from
# the seed corpus test/fuzz/corpus and keeping what it learns in .run/fuzz-corpus for the next run.
#   FUZZ_SECONDS  how long to run (default 600: about 10 million executions on one core of this machine)
#   FUZZ_JOBS     parallel fuzzing processes (default 1)
# Prints the executions and the findings; exits 1 when libFuzzer found a crash, a leak or a sanitizer report
# (the input that caused it is kept in .run/fuzz-findings, reproduce with: test/fuzz/fuzz_edge FILE).
set -uo pipefail
cd "$(dirname "$0")/.."
secs=${FUZZ_SECONDS:-600}
jobs=${FUZZ_JOBS:-1}

# clang with libFuzzer's runtime (Debian: clang, libclang-rt-14-dev); installed when missing, as the
# other commands do (tools/deps.sh)
if ! command -v clang >/dev/null 2>&1 || ! ls /usr/lib/llvm-*/lib/clang/*/lib/linux/libclang_rt.fuzzer-x86_64.a >/dev/null 2>&1; then
	echo "fuzz: installing clang and libFuzzer's runtime"
	bash tools/deps.sh test || exit 1
fi
echo "fuzz: building test/fuzz/fuzz_edge (clang, -fsanitize=fuzzer,address,undefined)"
make -s test/fuzz/fuzz_edge || exit 1
mkdir -p .run/fuzz-corpus .run/fuzz-findings
cp -n test/fuzz/corpus/* .run/fuzz-corpus/ 2>/dev/null
log=.run/fuzz.log
echo "fuzz: running for $secs s with $jobs process(es) over $(ls .run/fuzz-corpus | wc -l) corpus inputs (log: $log)"
if [ "$jobs" -gt 1 ]; then
	test/fuzz/fuzz_edge -fork="$jobs" -max_total_time="$secs" -max_len=8192 -print_final_stats=1 \
		-artifact_prefix=.run/fuzz-findings/ .run/fuzz-corpus >"$log" 2>&1
else
	test/fuzz/fuzz_edge -max_total_time="$secs" -max_len=8192 -print_final_stats=1 \
		-artifact_prefix=.run/fuzz-findings/ .run/fuzz-corpus >"$log" 2>&1
fi
st=$?
runs=$(grep -oE 'stat::number_of_executed_units: [0-9]+' "$log" | awk '{s += $2} END {print s + 0}')
[ "$runs" -eq 0 ] && runs=$(grep -oE '^#[0-9]+' "$log" | tail -1 | tr -d '#')
findings=$(ls .run/fuzz-findings | wc -l)
reports=$(grep -cE 'ERROR: (AddressSanitizer|LeakSanitizer|libFuzzer)|runtime error:' "$log")
echo "fuzz: ${runs:-0} executions in $secs s, $findings finding(s) kept, $reports sanitizer/libFuzzer report(s)"
if [ $st -ne 0 ] || [ "$findings" -gt 0 ] || [ "$reports" -gt 0 ]; then
	grep -E -A30 'ERROR: |runtime error:' "$log" | head -60
	exit 1
fi
