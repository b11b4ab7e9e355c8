#!/usr/bin/env bash
# test/checks/jwt.sh: unit checks of the one base64url (ext/base64url.h) and of ex7d's JWT verifier
# (http/jwt.c, docs/http.md "Authentication"). Builds test/checks/jwt_test.c with jwt.c, json_strict.c and
# util.c under AddressSanitizer and UndefinedBehaviorSanitizer and runs it: base64url round trips and a
# differential run against an RFC 4648 reference decoder, the strict refusals, and jwt_verify (with its
# token cache) answering exactly as jwt_verify_nocache at every time, audience and issuer asked. The
# hostile tokens over HTTP are test/e2e/tokens.test.mjs. Needs no cluster ($1 is ignored).
set -uo pipefail
cd "$(dirname "$0")/../.."
OUT=$(mktemp -d /tmp/ex7-jwt.XXXXXX)
trap 'rm -rf "$OUT"' EXIT
echo "== jwt: build with ASan and UBSan"
if ! cc -std=gnu11 -g -O1 -fsanitize=address,undefined -fno-sanitize-recover=all -Wall -Wextra -Werror \
	-D_GNU_SOURCE -Ihttp -I/usr/include/json-c test/checks/jwt_test.c http/jwt.c http/json_strict.c http/util.c \
	-ljson-c -lcrypto -o "$OUT/jwt_test" 2>&1; then
	echo "not ok - jwt_test does not build"
	exit 0
fi
ASAN_OPTIONS=detect_leaks=1 "$OUT/jwt_test" || echo "not ok - jwt_test exited with status $?"
