#!/usr/bin/env bash
# test/checks/fuzz.sh: the libFuzzer target of ex7d's request path (test/fuzz/fuzz_edge.c) builds, every
# seed of test/fuzz/corpus runs clean under ASan and UBSan, and a short deterministic run (a fixed seed,
# 200,000 executions) finds nothing. The long run is `make fuzz` (tools/fuzz.sh). Run by tools/test.sh.
set -uo pipefail
cd "$(dirname "$0")/../.."
DIR=${1:-$(mktemp -d)}
mkdir -p "$DIR"
if ! make -s test/fuzz/fuzz_edge >"$DIR/fuzz-build.log" 2>&1; then
	sed 's/^/# /' "$DIR/fuzz-build.log"
	echo "not ok - the fuzz target builds with clang and libFuzzer"
	exit 1
fi
echo "ok - the fuzz target builds with clang and libFuzzer"
if test/fuzz/fuzz_edge -runs=0 test/fuzz/corpus >"$DIR/fuzz-seeds.log" 2>&1 && grep -q 'INITED' "$DIR/fuzz-seeds.log"; then
	echo "ok - fuzz: all $(ls test/fuzz/corpus | wc -l) seed inputs run clean"
else
	sed 's/^/# /' "$DIR/fuzz-seeds.log" | tail -40
	echo "not ok - fuzz: a seed input fails"
fi
work=$DIR/fuzz-corpus
rm -rf "$work" && mkdir -p "$work" && cp test/fuzz/corpus/* "$work/"
if test/fuzz/fuzz_edge -seed=1 -runs=200000 -max_len=4096 -artifact_prefix="$DIR/fuzz-" "$work" >"$DIR/fuzz-run.log" 2>&1; then
	echo "ok - fuzz: 200,000 executions (seed 1) with no crash, leak or sanitizer report"
else
	grep -E -A30 'ERROR: |runtime error:' "$DIR/fuzz-run.log" | sed 's/^/# /' | head -50
	echo "not ok - fuzz: the short run found a crash, a leak or a sanitizer report"
fi
