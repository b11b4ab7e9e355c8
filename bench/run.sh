#!/usr/bin/env bash
# bench/run.sh: make bench. Builds and installs, starts a throwaway cluster tuned for the runs and runs every
# bench/bench_*.sh (or the ones named on the command line: bench/run.sh pnl keyset) with PGHOST, PGPORT and
# PGUSER exported. Each benchmark makes its own database and removes it, with everything else it started,
# when it ends (bench/lib.sh), so they run in any order and after any other. Each measures its baseline in
# the same run and prints ratios and one "goal met:" / "goal missed:" line per goal; docs/performance.md
# records the results and says how the goals are judged.
# bench_citus.sh also starts a three-node Citus cluster of its own (tools/citus.sh) and compares the two.
#   bench/run.sh --smoke [NAME...]   the same benchmarks with tiny sizes, seconds each, goals not judged
#                                    (make test runs this through test/checks/bench_smoke.sh)
# Ends with one line per benchmark and exits non-zero when one could not run (or failed a correctness
# check); a goal missed is listed, not a failure. Not part of make test.
set -uo pipefail
cd "$(dirname "$0")/.."
. tools/cluster.sh

if [ "${1:-}" = --smoke ]; then
	export EX7_BENCH_SMOKE=1
	shift
fi
scripts=()
for n in "$@"; do
	[ -f "bench/bench_$n.sh" ] || { echo "no benchmark bench/bench_$n.sh"; exit 2; }
	scripts+=("bench/bench_$n.sh")
done
[ ${#scripts[@]} -gt 0 ] || scripts=(bench/bench_*.sh)

bash tools/deps.sh || exit 1
exec 9>/tmp/ex7-try.lock
flock 9
make -s || exit 1
install_ext || exit 1

TMP=$(mktemp -d /tmp/ex7-bench.XXXXXX)
trap 'cluster_stop "$TMP"; rm -rf "$TMP"' EXIT
cluster_init "$TMP" &&
	cluster_start_any "$TMP" 57432 "-c fsync=off -c shared_buffers=1GB -c work_mem=64MB -c max_wal_size=8GB" || exit 1
export PGHOST=$TMP PGPORT=$CLUSTER_PORT PGUSER=postgres
unset PGDATABASE

summary=()
rc=0
for s in "${scripts[@]}"; do
	name=$(basename "$s" .sh)
	name=${name#bench_}
	# the load average before and after: the 2 cores may be shared, and the ratios say how much that mattered
	echo "== $s ($(date -u +%H:%M:%S) UTC, load $(cut -d' ' -f1-3 /proc/loadavg))"
	start=$SECONDS
	bash "$s" 2>&1 | tee "$TMP/$name.log"
	st=${PIPESTATUS[0]}
	took=$((SECONDS - start))
	echo "== $name: exit $st after ${took} s, load $(cut -d' ' -f1-3 /proc/loadavg)"
	if [ "$st" != 0 ]; then
		summary+=("FAILED  $name (exit $st, ${took} s)")
		rc=1
	elif grep -q '^goal missed:' "$TMP/$name.log"; then
		summary+=("ran     $name (${took} s): $(grep -c '^goal missed:' "$TMP/$name.log") goal(s) missed")
	else
		summary+=("ran     $name (${took} s)$([ "${EX7_BENCH_SMOKE:-0}" = 1 ] && echo ", smoke" || echo ": goals met")")
	fi
done
echo "== summary"
printf '%s\n' "${summary[@]}"
grep -h '^goal missed:' "$TMP"/*.log 2>/dev/null | sed 's/^/  /'
exit $rc
