#!/usr/bin/env bash
# tools/try.sh: the developer's quick loop. Builds, installs, starts a throwaway cluster and runs only the
# named pg_regress tests (init always first) and isolation specs, with results in a directory of its own.
#   tools/try.sh pnl signals            # sql/pnl.sql, sql/signals.sql
#   tools/try.sh signal_close.spec      # specs/signal_close.spec
#   tools/try.sh rls.tap                # test/pgtap/rls.sql through pg_prove
#   tools/try.sh api.e2e                # test/e2e/api.test.mjs (a real ex7d on the throwaway cluster)
#   tools/try.sh upgrade                # tools/upgrade_check.sh
#   tools/try.sh backup.check           # test/checks/backup.sh (any test/checks/NAME.sh)
#   tools/try.sh --accept pnl           # also copy the results over expected/ (read the diff first!)
# Several developers may share one checkout: the whole run holds a lock, so one build/install/test
# cycle cannot replace the library under another's running tests.
set -uo pipefail
cd "$(dirname "$0")/.."
. tools/cluster.sh

accept=0
[ "${1:-}" = "--accept" ] && { accept=1; shift; }
regress=(init)
iso=()
tap=()
e2e=()
upgrade=0
checks=()
for t in "$@"; do
	case "$t" in
		*.spec) iso+=("${t%.spec}") ;;
		*.tap) tap+=("test/pgtap/${t%.tap}.sql") ;;
		*.e2e) e2e+=("${t%.e2e}.test.mjs") ;;
		*.check) checks+=("test/checks/${t%.check}.sh") ;;
		upgrade) upgrade=1 ;;
		init) ;;
		*) regress+=("$t") ;;
	esac
done

exec 9>"${TRY_LOCK:-/tmp/ex7-try.lock}"   # another lock only for a private PostgreSQL install (PATH)
flock 9

make -s 2>&1 || exit 1
install_ext || exit 1
TMP=$(mktemp -d /tmp/ex7-try.XXXXXX)
OUT=$TMP/out
mkdir -p "$OUT"
[ "$(id -u)" -eq 0 ] && chown postgres: "$OUT"
trap 'cluster_stop "$TMP"; rm -rf "$TMP"' EXIT
cluster_init "$TMP" && cluster_start_any "$TMP" 56432 "-c fsync=off" || exit 1
export PGHOST=$TMP PGPORT=$CLUSTER_PORT PGUSER=postgres
PGXS_DIR=$(dirname "$(pg_config --pgxs)")/..
rc=0
if [ ${#regress[@]} -gt 1 ] || [ $((${#iso[@]} + ${#tap[@]} + ${#e2e[@]} + ${#checks[@]} + upgrade)) -eq 0 ]; then
	"$PGXS_DIR/../src/test/regress/pg_regress" --inputdir=. --outputdir="$OUT" --bindir="$(pg_config --bindir)" \
		--dbname=contrib_regression "${regress[@]}" || rc=1
	[ -f "$OUT/regression.diffs" ] && cat "$OUT/regression.diffs"
	if [ $accept = 1 ]; then
		for t in "${regress[@]}"; do cp "$OUT/results/$t.out" "expected/$t.out"; done
	fi
fi
if [ ${#iso[@]} -gt 0 ]; then
	mkdir -p "$OUT/iso"
	"$PGXS_DIR/../src/test/isolation/pg_isolation_regress" --inputdir=. --outputdir="$OUT/iso" \
		--bindir="$(pg_config --bindir)" --dbname=isolation_regression "${iso[@]}" || rc=1
	[ -f "$OUT/iso/regression.diffs" ] && cat "$OUT/iso/regression.diffs"
	if [ $accept = 1 ]; then
		for t in "${iso[@]}"; do cp "$OUT/iso/results/$t.out" "expected/$t.out"; done
	fi
fi
if [ ${#tap[@]} -gt 0 ]; then
	psql -X -q -d postgres -c "CREATE DATABASE ex7_tap" >/dev/null
	psql -X -q -d ex7_tap -c "CREATE EXTENSION pgtap" -c "CREATE EXTENSION ex7" >/dev/null
	pg_prove -d ex7_tap --verbose "${tap[@]}" || rc=1
fi
if [ ${#e2e[@]} -gt 0 ]; then
	[ -d test/e2e/node_modules/jose ] && [ -d test/e2e/node_modules/stripe ] && [ -d test/e2e/node_modules/svix ] || (cd test/e2e && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
	psql -X -q -d postgres -c "DROP DATABASE IF EXISTS ex7_e2e WITH (FORCE)" >/dev/null 2>&1
	for f in "${e2e[@]}"; do
		(cd test/e2e && EX7_E2E_DB=ex7_e2e EX7_E2E_PGDATA=$TMP/data timeout 300 node --test --test-reporter=spec "$f") || rc=1
	done
fi
[ $upgrade = 1 ] && { tools/upgrade_check.sh || rc=1; }
for c in "${checks[@]}"; do
	bash "$c" "$TMP" | tee "$TMP/check.log"
	grep -q '^not ok ' "$TMP/check.log" && rc=1
	grep -qE '^(ok|not ok) ' "$TMP/check.log" || rc=1
done
exit $rc
