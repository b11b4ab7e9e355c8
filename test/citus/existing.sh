#!/usr/bin/env bash
# test/citus/existing.sh DIR: distributing a database that already holds data (docs/scale-out.md, "An existing
# one"), on the Citus nodes tools/citus.sh started in DIR. Database ex7_existing: citus and ex7 on the workers,
# on the coordinator ex7 filled through the SQL API by test/checks/backup_fill.sql while it is still a single
# server (nothing distributed, no workers known), then the workers added and SELECT ex7.distribute(). Checks that
# every table keeps its row count (Citus copied the rows into the shards), that the coordinator's own copies
# are emptied, and where the users' rows went (test/citus/placement.sh). One "ok - ..." / "not ok - ..." a check.
set -uo pipefail
DIR=${1:?usage: test/citus/existing.sh DIR}
. "$DIR/ports"
TOP=$(cd "$(dirname "$0")/../.." && pwd)
X=ex7_existing
q() { local port=$1; shift; psql -X -qAt -v ON_ERROR_STOP=1 -h "$PGHOST" -p "$port" -U postgres "$@"; }
out=$DIR/existing
mkdir -p "$out"

for port in "$WORKER1_PORT" "$WORKER2_PORT" "$COORD_PORT"; do
	q "$port" -d postgres -c "CREATE DATABASE $X" &&
		q "$port" -d "$X" -c "SET client_min_messages = warning" -c "CREATE EXTENSION citus" -c "CREATE EXTENSION ex7" ||
		{ echo "not ok - existing: creating $X with citus and ex7 on port $port failed"; exit 0; }
done
if ! q "$COORD_PORT" -d "$X" -f "$TOP/test/checks/backup_fill.sql" >"$out/fill.log" 2>&1; then
	echo "not ok - existing: test/checks/backup_fill.sql on the undistributed coordinator: $(grep -m1 'ERROR' "$out/fill.log")"
	exit 0
fi
# rows of every table that gets distributed, as the coordinator answers for them
counts() {
	q "$COORD_PORT" -d "$X" -F ' ' <<'SQL'
SELECT pg_catalog.format('SELECT %L, pg_catalog.count(*) FROM ex7.%I', table_name, table_name)
FROM ex7._distribution_plan() WHERE class <> 'local' ORDER BY table_name
\gexec
SQL
}
counts >"$out/before" || { echo "not ok - existing: counting the rows before failed"; exit 0; }
empty=$(awk '$2 == 0 { print $1 }' "$out/before" | tr '\n' ' ')
if [ -z "$empty" ]; then
	echo "ok - existing: $(awk '{ n += $2 } END { print n }' "$out/before") rows in $(wc -l <"$out/before") tables before distributing"
else
	echo "not ok - existing: the fill left tables empty, their move is not checked: $empty"
fi

if ! q "$COORD_PORT" -d "$X" -c "SET client_min_messages = warning" \
	-c "SELECT citus_set_coordinator_host('127.0.0.1', $COORD_PORT)" \
	-c "SELECT citus_add_node('127.0.0.1', $WORKER1_PORT)" -c "SELECT citus_add_node('127.0.0.1', $WORKER2_PORT)" \
	-c "SELECT ex7.distribute()" >"$out/distribute.log" 2>&1; then
	echo "not ok - existing: ex7.distribute() over the filled database: $(grep -m1 'ERROR' "$out/distribute.log")"
	exit 0
fi
echo "ok - existing: ex7.distribute() over the filled database: $(tail -1 "$out/distribute.log")"

counts >"$out/after" || { echo "not ok - existing: counting the rows after failed"; exit 0; }
if diff "$out/before" "$out/after" >"$out/diff"; then
	echo "ok - existing: every table has the same row count after distributing"
else
	echo "not ok - existing: row counts changed (table before / after): $(grep '^[<>]' "$out/diff" | tr '\n' ' ')"
fi
# the coordinator's own tables (not the shards) are empty: Citus's copy left nothing behind
left=$(q "$COORD_PORT" -d "$X" -c "SELECT pg_catalog.string_agg(table_name, ' ') FROM ex7._distribution_plan()
                                 WHERE class <> 'local' AND pg_catalog.pg_relation_size(('ex7.' || table_name)::regclass) > 0")
if [ -z "$left" ]; then
	echo "ok - existing: no rows left behind in the coordinator's own copies of the distributed tables"
else
	echo "not ok - existing: rows left in the coordinator's own copies of: $left"
fi
bash "$TOP/test/citus/placement.sh" "$DIR" "$X" | sed 's/ - placement:/ - existing, placement:/'
