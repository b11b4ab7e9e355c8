#!/usr/bin/env bash
# bench/run.sh: make bench. Builds and installs, starts a throwaway cluster tuned for the runs, creates
# database ex7_bench with the extension and runs every bench/bench_*.sh (or the ones named on the command
# line) with PGHOST, PGPORT, PGUSER and PGDATABASE exported. Each benchmark measures its baseline in the
# same run and prints ratios; docs/performance.md records the results. Not part of make test.
set -uo pipefail
cd "$(dirname "$0")/.."
. tools/cluster.sh

bash tools/deps.sh || exit 1
exec 9>/tmp/ex7-try.lock
flock 9
make -s || exit 1
install_ext || exit 1

TMP=$(mktemp -d /tmp/ex7-bench.XXXXXX)
trap 'cluster_stop "$TMP"; rm -rf "$TMP"' EXIT
cluster_init "$TMP" &&
	cluster_start_any "$TMP" 57432 "-c fsync=off -c shared_buffers=1GB -c work_mem=64MB -c max_wal_size=8GB" || exit 1
export PGHOST=$TMP PGPORT=$CLUSTER_PORT PGUSER=postgres PGDATABASE=ex7_bench
psql -X -q -d postgres -c "CREATE DATABASE ex7_bench" && psql -X -q -c "CREATE EXTENSION ex7" || exit 1

if [ $# -gt 0 ]; then
	scripts=()
	for n in "$@"; do scripts+=("bench/bench_$n.sh"); done
else
	scripts=(bench/bench_*.sh)
fi
rc=0
for s in "${scripts[@]}"; do
	echo "== $s"
	bash "$s" || { echo "$s: FAILED"; rc=1; }
done
exit $rc
# bench/bench_backtest.sh: backtest throughput on 1,000,000 one-minute bars beside SQL window functions, and memory flat in the bars; run by the bench/bench_*.sh loop above
