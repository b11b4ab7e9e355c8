#!/usr/bin/env bash
# tools/test.sh: the README's test command (make test; .ci/run calls it). Installs what is missing, builds
# with -Wall -Wextra -Werror, installs the extension, starts a throwaway cluster in a temporary directory
# on a free port, runs pg_regress, the isolation specs, the pgTAP suites, the upgrade check, the
# whole-system checks (test/checks/) and the end-to-end tests, printing each as it runs, stops the cluster,
# prints regression.diffs on failure and ends with one line "N passed, N failed" (non-zero exit on any
# failure).
set -uo pipefail
cd "$(dirname "$0")/.."
TOP=$PWD
. tools/cluster.sh

bash tools/deps.sh || exit 1
# one build/install/test cycle at a time in this checkout (tools/try.sh takes the same lock)
exec 9>"${TRY_LOCK:-/tmp/ex7-try.lock}"   # another lock only for a private PostgreSQL install (PATH)
flock -n 9 || { echo "== waiting for another build/test run in this checkout (/tmp/ex7-try.lock)"; flock 9; }
echo "== build (ex7.so, ex7d) and make install"
make -s clean >/dev/null 2>&1
make -s 2>&1 || { echo "build failed"; echo "0 passed, 1 failed"; exit 1; }
install_ext || { echo "0 passed, 1 failed"; exit 1; }
echo "== test cluster"

TMP=$(mktemp -d /tmp/ex7-test.XXXXXX)
cleanup() { [ -n "${EX7_KEEP_TMP:-}" ] && { echo "kept $TMP"; return; }; cluster_stop "$TMP"; rm -rf "$TMP"; }
trap cleanup EXIT
cluster_init "$TMP" && cluster_start_any "$TMP" 55432 "-c fsync=off -c max_connections=50" ||
	{ echo "0 passed, 1 failed"; exit 1; }
export PGHOST=$TMP PGPORT=$CLUSTER_PORT PGUSER=postgres

passed=0
failed=0
# count_regress LOG: add pg_regress' per-test verdicts ("... ok" / "... FAILED") to the totals.
count_regress() {
	local ok bad
	ok=$(grep -cE '\.\.\. ok|^ok ' "$1" || true)
	bad=$(grep -cE '\.\.\. FAILED|\.\.\. failed|^not ok ' "$1" || true)
	passed=$((passed + ok))
	failed=$((failed + bad))
}

echo "== pg_regress"
rm -rf results output_iso regression.diffs
make -s installcheck ISOLATION= 2>&1 | tee "$TMP/regress.log"
count_regress "$TMP/regress.log"
[ -f regression.diffs ] && { echo "== regression.diffs"; cat regression.diffs; }

echo "== isolation"
if ls specs/*.spec >/dev/null 2>&1; then
	make -s installcheck REGRESS= 2>&1 | tee "$TMP/iso.log"
	count_regress "$TMP/iso.log"
	[ -f output_iso/regression.diffs ] && { echo "== output_iso/regression.diffs"; cat output_iso/regression.diffs; }
fi

echo "== pgTAP"
if ls test/pgtap/*.sql >/dev/null 2>&1; then
	psql -X -q -d postgres -c "DROP DATABASE IF EXISTS ex7_tap" -c "CREATE DATABASE ex7_tap" >/dev/null
	psql -X -q -d ex7_tap -c "CREATE EXTENSION pgtap" -c "CREATE EXTENSION ex7" >/dev/null
	pg_prove -d ex7_tap --verbose test/pgtap/*.sql >"$TMP/tap.log" 2>&1
	grep -vE '^ok ' "$TMP/tap.log" | grep -vE '^\s*$' || true
	ok=$(grep -cE '^\s*ok [0-9]' "$TMP/tap.log" || true)
	bad=$(grep -cE '^\s*not ok [0-9]' "$TMP/tap.log" || true)
	grep -q '^Result: PASS' "$TMP/tap.log" || [ "$bad" -gt 0 ] || bad=1
	echo "pgTAP: $ok assertions passed, $bad failed"
	passed=$((passed + ok))
	failed=$((failed + bad))
fi

echo "== upgrades"
tools/upgrade_check.sh >"$TMP/upgrade.log" 2>&1
cat "$TMP/upgrade.log"
passed=$((passed + $(grep -cE '^ok ' "$TMP/upgrade.log" || true)))
failed=$((failed + $(grep -cE '^not ok ' "$TMP/upgrade.log" || true)))
grep -qE '^(ok|not ok) ' "$TMP/upgrade.log" || { echo "upgrade check printed no verdict"; failed=$((failed + 1)); }

# test/checks/*.sh: whole-system checks (backup and restore, packages, benchmark smoke runs, ...), one
# script each, run with the cluster's PGHOST/PGPORT/PGUSER exported and the test directory as $1. Each
# prints one "ok - ..." or "not ok - ..." line per check (anything else is its log) and says what it is
# doing as it goes; a script that prints no verdict counts as one failure.
for c in test/checks/*.sh; do
	[ -e "$c" ] || continue
	name=$(basename "$c" .sh)
	echo "== check: $name"
	bash "$c" "$TMP" 2>&1 | tee "$TMP/check-$name.log"
	ok=$(grep -cE '^ok ' "$TMP/check-$name.log" || true)
	bad=$(grep -cE '^not ok ' "$TMP/check-$name.log" || true)
	[ $((ok + bad)) -eq 0 ] && { echo "not ok - $name printed no verdict"; bad=1; }
	passed=$((passed + ok))
	failed=$((failed + bad))
done

if [ -d test/e2e ] && [ -x test/e2e/run.sh ]; then
	# the end-to-end suite runs against ex7d built with AddressSanitizer and UndefinedBehaviorSanitizer:
	# a finding aborts the server (the test that caused it fails) and leaves a report in $TMP/sanitizers,
	# which fails the run on its own too (docs/http.md, "Sanitizers and fuzzing")
	echo "== build ex7d with ASan and UBSan"
	make -s http/ex7d-asan 2>&1 || { echo "not ok - ex7d with sanitizers does not build"; failed=$((failed + 1)); }
	mkdir -p "$TMP/sanitizers"
	echo "== end-to-end (ex7d with ASan and UBSan)"
	EX7D_BIN=$PWD/http/ex7d-asan ASAN_OPTIONS=log_path=$TMP/sanitizers/asan:detect_leaks=1:abort_on_error=1 \
		UBSAN_OPTIONS=log_path=$TMP/sanitizers/ubsan:print_stacktrace=1 \
		test/e2e/run.sh "$TMP" 2>&1 | tee "$TMP/e2e.log"
	ok=$(grep -cE '^ok ' "$TMP/e2e.log" || true)
	bad=$(grep -cE '^not ok ' "$TMP/e2e.log" || true)
	reports=$(find "$TMP/sanitizers" -type f | wc -l)
	if [ "$reports" -eq 0 ]; then
		echo "ok - no sanitizer report from ex7d during the end-to-end suite"
		ok=$((ok + 1))
	else
		echo "not ok - $reports sanitizer report(s) from ex7d:"
		head -60 "$TMP"/sanitizers/*
		bad=$((bad + 1))
	fi
	passed=$((passed + ok))
	failed=$((failed + bad))
fi

[ $((passed + failed)) -eq 0 ] && failed=1
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
