#!/usr/bin/env bash
# tools/test_citus.sh: make test-citus (docs/scale-out.md, "make test-citus"). ex7 distributed on a three-node
# Citus cluster on this machine, tested whole:
#   1. build, make install (holding the lock tools/try.sh and tools/test.sh take: nobody replaces the library
#      under the running nodes);
#   2. tools/citus.sh start: coordinator and two workers in a throwaway folder, database ex7_e2e, SELECT
#      ex7.distribute(); when distribute() fails, test/citus/probe.sh tries each table on its own and the run
#      stops there (every Citus refusal listed);
#   3. ex7.distribution(): every table as its class says;
#   4. ex7d pointed at the coordinator: /api/health, one authenticated call; it keeps running through the
#      suites and must still answer at the end;
#   5. the end-to-end suites (test/e2e/*.test.mjs, or CITUS_E2E="api sse ..." for some) against the coordinator,
#      each failing test listed with its first error line;
#   6. test/citus/placement.sh (each user's rows on one node) and test/citus/router.sh (single-user calls run on
#      the user's worker);
#   7. test/citus/existing.sh: a second database filled by test/checks/backup_fill.sql before it is distributed,
#      then distributed: the rows move (same counts, nothing left on the coordinator, placement as above);
#   8. test/citus/rebalance.sh: a third worker added and the shards rebalanced onto it, the rows and their
#      placement kept, a moved user served, ex7d listening on the new node;
#   9. the errors the nodes logged (SQLSTATE outside class X7, which the suites provoke on purpose), counted by
#      message: where the Citus error texts are.
# Prints "ok - ..." / "not ok - ..." per check and ends with "N passed, N failed" (non-zero exit on failure).
# Not part of make test: it takes far longer than make test's 15-minute budget on two cores and needs Citus.
# CITUS_KEEP=1 keeps the cluster running and its folder for a look afterwards (stop: tools/citus.sh stop DIR).
set -uo pipefail
cd "$(dirname "$0")/.."
TOP=$PWD
. tools/cluster.sh
T0=$(date +%s)

if [ -n "${CITUS_NO_BUILD:-}" ]; then
	# the extension and ex7d as they are installed and built now, without the lock (another run may install
	# a newer build meanwhile: for a quick look, not for a verdict)
	echo "== CITUS_NO_BUILD: the installed extension and http/ex7d as they are, no lock"
else
	exec 9>/tmp/ex7-try.lock
	flock -n 9 || { echo "== waiting for another build/test run in this checkout (/tmp/ex7-try.lock)"; flock 9; }
	echo "== build (ex7.so, ex7d) and make install"
	make -s 2>&1 || { echo "not ok - build"; echo "0 passed, 1 failed"; exit 1; }
	install_ext || { echo "not ok - make install"; echo "0 passed, 1 failed"; exit 1; }
fi

TMP=$(mktemp -d /tmp/ex7-citus.XXXXXX)
[ "$(id -u)" -eq 0 ] && chmod 755 "$TMP"
EX7D_PID=
cleanup() {
	[ -n "$EX7D_PID" ] && kill "$EX7D_PID" 2>/dev/null
	if [ -n "${CITUS_KEEP:-}" ]; then echo "kept $TMP (tools/citus.sh stop $TMP/citus)"; return; fi
	bash tools/citus.sh stop "$TMP/citus" >/dev/null 2>&1
	rm -rf "$TMP"
}
trap cleanup EXIT

passed=0
failed=0
# count LOG: add the "ok" / "not ok" lines of LOG to the totals
count() {
	passed=$((passed + $(grep -cE '^ok ' "$1" || true)))
	failed=$((failed + $(grep -cE '^not ok ' "$1" || true)))
}
verdict() { # verdict OK|NOT message
	if [ "$1" = ok ]; then echo "ok - $2"; passed=$((passed + 1)); else echo "not ok - $2"; failed=$((failed + 1)); fi
}
finish() {
	echo "== test-citus took $(($(date +%s) - T0)) s"
	[ $((passed + failed)) -eq 0 ] && failed=1
	echo "$passed passed, $failed failed"
	[ "$failed" -eq 0 ]
	exit
}

echo "== three-node Citus cluster, database ex7_e2e, SELECT ex7.distribute()"
t=$(date +%s)
bash tools/citus.sh start "$TMP/citus" ex7_e2e 2>&1 | tee "$TMP/citus.log"
rc=${PIPESTATUS[0]}
if [ "$rc" -eq 2 ]; then
	verdict not "ex7.distribute() on the coordinator: $(grep -m1 '^ERROR:' "$TMP/citus.log")"
	echo "== each table on its own (test/citus/probe.sh)"
	bash test/citus/probe.sh "$TMP/citus" | tee "$TMP/probe.log"
	count "$TMP/probe.log"
	echo "# the suites need a distributed database: not run"
	finish
elif [ "$rc" -ne 0 ]; then
	verdict not "the Citus cluster did not start (tools/citus.sh start)"
	finish
fi
verdict ok "three Citus nodes up and ex7 distributed in $(($(date +%s) - t)) s: $(grep -m1 'distributed in' "$TMP/citus.log" | sed 's/^citus: distributed in [0-9]* s: //')"
. "$TMP/citus/ports"
export PGHOST PGPORT=$COORD_PORT PGUSER=postgres
q() { psql -X -qAt -v ON_ERROR_STOP=1 -d ex7_e2e "$@"; }

echo "== ex7.distribution()"
off=$(q -c "SELECT k || ' is ' || (v->>'class') || ', planned ' || (v->>'planned')
            FROM pg_catalog.jsonb_each(ex7.distribution()->'tables') AS t(k, v)
            WHERE v->>'class' <> CASE v->>'planned' WHEN 'reference' THEN 'reference' WHEN 'local' THEN 'local'
                                     ELSE 'distributed by ' || (SELECT p.column_name FROM ex7._distribution_plan() p WHERE p.table_name = k) END
               OR (v->>'planned' = 'user' AND v->>'colocated_with_users' <> 'true')
               OR (v->>'planned' = 'own' AND v->>'colocated_with_users' = 'true')" 2>&1)
if [ -z "$off" ]; then
	verdict ok "ex7.distribution(): every table as its class says ($(q -c "SELECT ex7.distribution()->'distributed_functions'") distributed functions)"
else
	verdict not "ex7.distribution(): $(echo "$off" | tr '\n' ';')"
fi

# before the suites: it stores bars of its own series and needs them not yet stored
echo "== single-user calls and the dispatcher, bare and in a transaction block (test/citus/calls.sh)"
bash test/citus/calls.sh "$TMP/citus" | tee "$TMP/calls.log"
count "$TMP/calls.log"

echo "== ex7d on the coordinator"
SECRET=test-citus-hs256-secret-0123456789abcdef
HTTP_PORT=$(free_port 18700)
DATABASE_URL="host=$PGHOST port=$COORD_PORT dbname=ex7_e2e user=postgres application_name=ex7d-citus" \
	EX7_JWT_SECRET=$SECRET EX7_LISTEN=127.0.0.1:$HTTP_PORT http/ex7d >"$TMP/ex7d.log" 2>&1 &
EX7D_PID=$!
for _ in $(seq 1 100); do curl -s -o /dev/null "http://127.0.0.1:$HTTP_PORT/api/health" && break; sleep 0.1; done
health() { curl -s -o "$TMP/health.json" -w '%{http_code}' "http://127.0.0.1:$HTTP_PORT/api/health"; }
code=$(health)
if [ "$code" = 200 ] && grep -q '"status": *"ok"' "$TMP/health.json"; then
	verdict ok "ex7d on the coordinator: GET /api/health 200"
else
	verdict not "ex7d on the coordinator: GET /api/health $code $(head -c 300 "$TMP/health.json"; tail -3 "$TMP/ex7d.log")"
fi
U=00000000-0000-4000-8000-0000000c1700
TOK=$(EX7_JWT_SECRET=$SECRET http/ex7d token --sub "$U")
code=$(curl -s -o "$TMP/strategies.json" -w '%{http_code}' -H "Authorization: Bearer $TOK" "http://127.0.0.1:$HTTP_PORT/api/strategies")
if [ "$code" = 200 ]; then
	verdict ok "ex7d on the coordinator: GET /api/strategies with a token 200"
else
	verdict not "ex7d on the coordinator: GET /api/strategies $code $(head -c 300 "$TMP/strategies.json")"
fi

echo "== end-to-end suites against the coordinator"
if [ ! -d test/e2e/node_modules/jose ] || [ ! -d test/e2e/node_modules/@redocly/cli ] || [ ! -d test/e2e/node_modules/eventsource ] ||
	[ ! -d test/e2e/node_modules/stripe ] || [ ! -d test/e2e/node_modules/svix ] || [ test/e2e/package-lock.json -nt test/e2e/node_modules/.package-lock.json ]; then
	(cd test/e2e && { npm ci --no-audit --no-fund --loglevel=error >/dev/null 2>&1 || npm install --no-audit --no-fund --loglevel=error >/dev/null; }) ||
		verdict not "npm install of the e2e test dependencies"
fi
suites=()
if [ -n "${CITUS_E2E:-}" ]; then
	for s in $CITUS_E2E; do suites+=("test/e2e/$s.test.mjs"); done
else
	suites=(test/e2e/*.test.mjs)
fi
for f in "${suites[@]}"; do
	name=$(basename "$f" .test.mjs)
	t=$(date +%s)
	# ensureDb (test/e2e/lib.mjs) finds the database and the extension there: the distributed one
	(cd test/e2e && EX7_E2E_DB=ex7_e2e EX7_E2E_PGDATA=$TMP/citus/coord/data timeout 300 \
		node --test --test-reporter=tap "$(basename "$f")") >"$TMP/e2e-$name.log" 2>&1
	# one line per top-level test: ok, or not ok with the first line of its error (the TAP reporter's YAML
	# block: error: 'text', or error: |- with the text on the next lines, where a failed psql's ERROR line
	# is added to the first)
	awk -v suite="$name" '
	     function title(l) { return suite ": " substr(l, index(l, "- ") + 2) }
	     function say(m) { print "not ok - " title(name) ": " substr(m, 1, 400); want = 0; block = 0 }
	     want && /^(ok|not ok) / { if (block == 2) say(first); else say("(no error text)") }
	     /^ok / { print "ok - " title($0); next }
	     /^not ok / { name = $0; want = 1; block = 0; next }
	     block == 1 && NF { sub(/^ +/, ""); first = $0; block = 2; next }
	     block == 2 && /ERROR: / { sub(/^ +/, ""); say(first " | " $0); next }
	     block == 2 && (/^ +[a-zA-Z]+:( |$)/ || /^ *\.\.\./) { say(first) }
	     want && /^  +error: *[|>]-?$/ { block = 1; next }
	     want && /^  +error: / { sub(/^ +error: /, ""); say($0); next }
	     END { if (block == 2) say(first); else if (want) say("(no error text)") }' "$TMP/e2e-$name.log" >"$TMP/e2e-$name.verdicts"
	[ -s "$TMP/e2e-$name.verdicts" ] ||
		echo "not ok - $name printed no verdict: $(tail -3 "$TMP/e2e-$name.log" | tr '\n' ' ')" >"$TMP/e2e-$name.verdicts"
	cat "$TMP/e2e-$name.verdicts"
	count "$TMP/e2e-$name.verdicts"
	echo "# $name: $(grep -c '^ok ' "$TMP/e2e-$name.verdicts") passed, $(grep -c '^not ok ' "$TMP/e2e-$name.verdicts") failed ($(($(date +%s) - t)) s)"
done

echo "== ex7d after the suites"
code=$(health)
if kill -0 "$EX7D_PID" 2>/dev/null && [ "$code" = 200 ]; then
	verdict ok "ex7d on the coordinator still answers /api/health after the suites"
else
	verdict not "ex7d on the coordinator after the suites: /api/health $code $(tail -3 "$TMP/ex7d.log")"
fi

echo "== shard placement"
bash test/citus/placement.sh "$TMP/citus" | tee "$TMP/placement.log"
count "$TMP/placement.log"
echo "== router plans"
bash test/citus/router.sh "$TMP/citus" | tee "$TMP/router.log"
count "$TMP/router.log"
echo "== the alerts' calls on the cluster (test/citus/alerts_calls.sh)"
bash test/citus/alerts_calls.sh "$TMP/citus" | tee "$TMP/alerts_calls.log"
count "$TMP/alerts_calls.log"

echo "== distributing a database that already holds data (test/citus/existing.sh)"
bash test/citus/existing.sh "$TMP/citus" | tee "$TMP/existing.log"
count "$TMP/existing.log"

echo "== a third worker and a rebalance (test/citus/rebalance.sh)"
bash test/citus/rebalance.sh "$TMP/citus" "$TMP/ex7d.log" | tee "$TMP/rebalance.log"
count "$TMP/rebalance.log"
code=$(health)
if kill -0 "$EX7D_PID" 2>/dev/null && [ "$code" = 200 ]; then
	verdict ok "ex7d on the coordinator still answers /api/health after the rebalance"
else
	verdict not "ex7d on the coordinator after the rebalance: /api/health $code $(tail -3 "$TMP/ex7d.log")"
fi

echo "== errors the nodes logged outside class X7, by message (count, node, SQLSTATE: message)"
for n in coord w1 w2 w3; do
	[ -f "$TMP/citus/$n/postgresql.log" ] || continue
	# log_line_prefix (tools/citus.sh) puts the SQLSTATE first: "XX000:2026-... UTC:[pid]:ERROR:  ..."; an
	# error's DETAIL line (Citus's reason behind "could not create distributed plan") is joined to it
	awk -v node="$n" '
	     function flush() { if (msg != "") print node " " msg; msg = "" }
	     /^[0-9A-Z][0-9A-Z][0-9A-Z][0-9A-Z][0-9A-Z]:.*\]:ERROR: / { flush(); if ($0 ~ /^X7/) next; st = substr($0, 1, 5); m = $0
	                                  sub(/^[^\]]*\]:ERROR: +/, "", m); msg = st ": " m; next }
	     /^[0-9A-Z][0-9A-Z][0-9A-Z][0-9A-Z][0-9A-Z]:.*\]:DETAIL: / && msg != "" { d = $0; sub(/^[^\]]*\]:DETAIL: +/, "", d); msg = msg " | " d; flush(); next }
	     /^[0-9A-Z][0-9A-Z][0-9A-Z][0-9A-Z][0-9A-Z]:.*\]:(STATEMENT|CONTEXT|HINT|LOG|WARNING|NOTICE|FATAL):/ { flush() }
	     END { flush() }' "$TMP/citus/$n/postgresql.log" 2>/dev/null |
		sed -E 's/_[0-9]{6}\b/_N/g; s/[0-9a-f]{8}-[0-9a-f-]{27}/UUID/g; s/ at character [0-9]+//' | cut -c1-300
done | sort | uniq -c | sort -rn | head -40
finish
