#!/usr/bin/env bash
# test/checks/json_strict.sh: the strict RFC 8259 validator ex7d runs on every request body before json-c
# (http/json_strict.c, docs/http.md "Request bodies"). Builds test/checks/json_strict_test.c with the
# validator under AddressSanitizer and UndefinedBehaviorSanitizer and runs it: the grammar and UTF-8 cases
# with their byte offsets and locators, the depth limit (and json-c agreeing at it), then 300,000 random
# and mutated texts that must not trip a sanitizer and that json-c must parse whenever the validator
# accepts them; then json_strict_diff.py compares its verdicts on 200,000 more with Python's json module.
# Needs no cluster ($1 is ignored).
set -uo pipefail
cd "$(dirname "$0")/../.."
OUT=$(mktemp -d /tmp/ex7-json-strict.XXXXXX)
trap 'rm -rf "$OUT"' EXIT
echo "== json_strict: build with ASan and UBSan"
if ! cc -std=gnu11 -g -O1 -fsanitize=address,undefined -fno-sanitize-recover=all -Wall -Wextra -Werror \
	-Ihttp -I/usr/include/json-c http/json_strict.c test/checks/json_strict_test.c -ljson-c \
	-o "$OUT/json_strict_test" 2>&1; then
	echo "not ok - json_strict_test does not build"
	exit 0
fi
ASAN_OPTIONS=detect_leaks=1 "$OUT/json_strict_test" 300000 || echo "not ok - json_strict_test exited with status $?"
python3 test/checks/json_strict_diff.py "$OUT/json_strict_test"
