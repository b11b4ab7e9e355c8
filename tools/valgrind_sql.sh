#!/usr/bin/env bash
# tools/valgrind_sql.sh DATADIR DB FILE.sql: runs the statements of FILE.sql in a single-user backend
# (postgres --single) under valgrind memcheck, the extension's C code included, and prints the errors
# that name ex7.so (and their count). The cluster in DATADIR must be stopped. Exit 1 when ex7.so has an
# error. As root the backend runs as the postgres user, as the cluster does (tools/cluster.sh).
# Example (docs/backtests.md): a backtest fast and exact with the risk gate, its SVG and its metrics.
set -uo pipefail
cd "$(dirname "$0")/.."
. tools/cluster.sh
data=$1 db=$2 file=$3
log=$(mktemp /tmp/ex7-valgrind.XXXXXX)
chmod 666 "$log"
as_pg valgrind --quiet --error-limit=no --num-callers=30 --suppressions="$PWD/tools/valgrind.supp" \
	--log-file="$log" "$PGBIN/postgres" --single -D "$data" -c timezone=UTC "$db" <"$file" >/dev/null 2>&1
errors=$(grep -c '^==[0-9]*== [A-Z]' "$log" || true)
ours=$(awk '/^==[0-9]*== $/ { if (blk ~ /ex7\.so/) n++; blk = ""; next } { blk = blk $0 "\n" } END { print n + 0 }' "$log")
echo "valgrind: $errors error lines in all, $ours error blocks through ex7.so (log: $log)"
[ "$ours" -eq 0 ]
