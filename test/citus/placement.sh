#!/usr/bin/env bash
# test/citus/placement.sh DIR [DB]: on the Citus cluster tools/citus.sh started in DIR, after the suites wrote their
# rows: every user's rows of every per-user table (class "user" in ex7._distribution_plan()) live on exactly one
# node, the node Citus places the user on (get_shard_id_for_distribution_column over ex7.users). Reads the shard
# tables themselves on every node that holds placements (pg_dist_shard, pg_dist_placement, pg_dist_node), so it
# checks where rows are, not where the metadata says they should be. One "ok - ..." / "not ok - ..." per check.
set -uo pipefail
DIR=${1:?usage: test/citus/placement.sh DIR [DB]}
. "$DIR/ports"
DB=${2:-$DB}
q() { local port=$1; shift; psql -X -qAt -v ON_ERROR_STOP=1 -h "$PGHOST" -p "$port" -U postgres -d "$DB" "$@"; }
out=$DIR/placement-$DB
mkdir -p "$out"
rm -f "$out"/rows

# one query per node: for every shard placed there, the distinct users in it (shard tables are named
# <table>_<shardid> in the table's schema)
q "$COORD_PORT" -F $'\t' -c "
    SELECT n.nodeport, pg_catalog.string_agg(pg_catalog.format(
               'SELECT %L, %L, %I::text, pg_catalog.get_shard_id_for_distribution_column(%L, %I) = %s '
               'FROM ex7.%I GROUP BY 3, 4', pl.table_name, n.nodeport, pl.column_name, 'ex7.' || pl.table_name,
               pl.column_name, s.shardid, pl.table_name || '_' || s.shardid), ' UNION ALL ')
    FROM ex7._distribution_plan() pl
    JOIN pg_catalog.pg_dist_shard s ON s.logicalrelid = ('ex7.' || pl.table_name)::regclass
    JOIN pg_catalog.pg_dist_placement p ON p.shardid = s.shardid
    JOIN pg_catalog.pg_dist_node n ON n.groupid = p.groupid AND n.noderole = 'primary'
    WHERE pl.class = 'user'
    GROUP BY n.nodeport" >"$out/queries" || { echo "not ok - placement: reading the shard placements failed"; exit 0; }
[ -s "$out/queries" ] || { echo "not ok - placement: no shard placements of the per-user tables (not distributed?)"; exit 0; }
while IFS=$'\t' read -r port sql; do
	q "$port" -F $'\t' -c "$sql" >>"$out/rows" || { echo "not ok - placement: reading the shards on port $port failed"; exit 0; }
done <"$out/queries"

users=$(cut -f3 "$out/rows" | sort -u | wc -l)
tables=$(cut -f1 "$out/rows" | sort -u | wc -l)
nodes=$(cut -f2 "$out/rows" | sort -u | wc -l)
# (with ten users or more, all on one of two workers has odds of 2 in 1,024 or less: the spread is checked)
if [ "$users" -gt 0 ] && { [ "$nodes" -gt 1 ] || [ "$users" -lt 10 ]; }; then
	echo "ok - placement: rows of $users users in $tables per-user tables, on $nodes nodes"
else
	echo "not ok - placement: rows of $users users in $tables per-user tables on $nodes node(s)"
fi

# each user on exactly one node across every per-user table
split=$(awk -F'\t' '{ k = $3; if (!(k SUBSEP $2 in seen)) { seen[k SUBSEP $2] = 1; n[k]++; where[k] = where[k] " " $2 } }
	END { for (k in n) if (n[k] > 1) print k ":" where[k] }' "$out/rows")
if [ -z "$split" ]; then
	echo "ok - placement: every user's rows in every per-user table are on one node"
else
	echo "not ok - placement: $(echo "$split" | wc -l) users have rows on more than one node, e.g. $(echo "$split" | head -3 | tr '\n' ';')"
fi

# ... in the shard Citus computes for the user (get_shard_id_for_distribution_column, evaluated on the node
# that holds the shard): with the tables colocated, that puts them on the node of the user's ex7.users shard
wrong=$(awk -F'\t' '$4 != "t" { print $1 " " $3 " in a shard of port " $2 }' "$out/rows")
if [ -z "$wrong" ]; then
	echo "ok - placement: every row is in the shard Citus computes for its user ($(wc -l <"$out/rows") table-user-shard triples)"
else
	echo "not ok - placement: $(echo "$wrong" | wc -l) table-user pairs in a shard not theirs, e.g. $(echo "$wrong" | head -3 | tr '\n' ';')"
fi
