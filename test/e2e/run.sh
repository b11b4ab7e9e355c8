#!/usr/bin/env bash
# test/e2e/run.sh: the end-to-end suites (ex7d over a real PostgreSQL), run by tools/test.sh with the
# test cluster's PGHOST, PGPORT and PGUSER exported. Installs the npm test dependencies when missing
# (package-lock.json pins them), then runs each *.test.mjs with Node's test runner, TAP output: every
# top-level "ok"/"not ok" line is one test.
set -uo pipefail
cd "$(dirname "$0")"
# (a lockfile newer than the installed tree means packages were added or changed since the last install)
if [ ! -d node_modules/jose ] || [ ! -d node_modules/@redocly/cli ] || [ ! -d node_modules/eventsource ] || [ ! -d node_modules/stripe ] || [ ! -d node_modules/svix ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
	npm ci --no-audit --no-fund --loglevel=error >/dev/null 2>&1 || npm install --no-audit --no-fund --loglevel=error >/dev/null ||
		{ echo "not ok - npm install of the e2e test dependencies failed"; exit 1; }
fi
export EX7_E2E_DB=ex7_e2e
# the cluster tools/test.sh started (its data directory), for the restart test
export EX7_E2E_PGDATA=${1:+$1/data}
psql -X -q -d postgres -c "DROP DATABASE IF EXISTS ex7_e2e WITH (FORCE)" >/dev/null 2>&1
rc=0
for f in *.test.mjs; do
	echo "# $f"
	timeout 300 node --test --test-reporter=tap "$f" || rc=1
done
exit $rc
