#!/usr/bin/env bash
# test/checks/bench_smoke.sh: every benchmark in smoke mode (bench/lib.sh: tiny sizes, seconds each, the same
# code paths, speed goals not judged), so that none can break unseen between two `make bench` runs. Run by
# tools/test.sh (make test) and `tools/try.sh bench_smoke.check` with the test cluster's PGHOST/PGPORT/PGUSER
# exported and the built, installed extension and http/ex7d; each benchmark makes and drops a database of its
# own on that cluster. One "ok - bench NAME smoke" / "not ok - bench NAME smoke" line per benchmark; the log
# of a failed one is printed before its verdict.
set -uo pipefail
cd "$(dirname "$0")/../.."
DIR=${1:-$(mktemp -d)}
export EX7_BENCH_SMOKE=1
unset PGDATABASE
[ -x http/ex7d ] || { echo "not ok - bench smoke: http/ex7d is not built"; exit 1; }

for s in bench/bench_*.sh; do
	name=$(basename "$s" .sh)
	name=${name#bench_}
	echo "# bench $name (smoke)"
	start=$SECONDS
	# 300 s: a hung benchmark must not hang make test
	timeout -k 10 300 bash "$s" >"$DIR/bench-$name.log" 2>&1
	st=$?
	if [ $st = 0 ]; then
		echo "ok - bench $name smoke ($((SECONDS - start)) s)"
	else
		sed 's/^/# /' "$DIR/bench-$name.log"
		echo "not ok - bench $name smoke (exit $st)"
	fi
done
# nothing may be left behind: every benchmark drops its database
left=$(psql -X -qAt -d postgres -c "SELECT string_agg(datname, ', ') FROM pg_database WHERE datname LIKE 'ex7\_bench\_%'")
[ -z "$left" ] && echo "ok - bench smoke left no database behind" || echo "not ok - bench smoke left databases behind: $left"
