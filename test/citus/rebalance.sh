#!/usr/bin/env bash
# test/citus/rebalance.sh DIR [EX7D_LOG]: on the Citus cluster tools/citus.sh started in DIR, after the suites
# wrote their rows, an operator's scale-out as docs/scale-out.md ("Adding a worker and rebalancing") says it:
# a third worker is added (tools/citus.sh add DIR w3: citus and ex7 there, citus_add_node, SELECT
# ex7.distribute() again), then SELECT citus_rebalance_start(shard_transfer_mode := 'block_writes') and
# citus_rebalance_wait(). Checks:
#   - the new worker has its own range of every identity sequence (ex7.distribute() gave it one);
#   - shards of the per-user tables moved onto it, and every table holds the rows it held before;
#   - test/citus/placement.sh: each user's rows are still on one node, in the shard Citus computes;
#   - a user whose shard moved to the new worker is served: its strategies as before, a new one written there;
#   - with EX7_LOG, the ex7d writing that log found the new node and LISTENs there (its discovery runs every
#     30 s: docs/stream.md, "Every node's notifications").
# One "ok - ..." / "not ok - ..." line per check.
set -uo pipefail
DIR=${1:?usage: test/citus/rebalance.sh DIR [EX7D_LOG]}
EX7D_LOG=${2:-}
cd "$(dirname "$0")/../.."
. "$DIR/ports"
q() { psql -X -qAt -v ON_ERROR_STOP=1 -h "$PGHOST" -p "$COORD_PORT" -U postgres -d "$DB" "$@"; }
verdict() { if [ "$1" = ok ]; then echo "ok - rebalance: $2"; else echo "not ok - rebalance: $2"; fi; }

# every distributed table's row count, one "table count" line each
counts() {
	q -c "SELECT pg_catalog.string_agg(pg_catalog.format('SELECT %L || '' '' || count(*) FROM ex7.%I', p.table_name,
	                                                     p.table_name), ' UNION ALL ' ORDER BY p.table_name)
	        FROM ex7._distribution_plan() p WHERE p.class IN ('user', 'own')" | q -f - | sort
}
counts >"$DIR/rebalance-before" || { verdict not "counting the rows before failed"; exit 0; }

if ! bash tools/citus.sh add "$DIR" w3 >"$DIR/rebalance-add.log" 2>&1; then
	verdict not "tools/citus.sh add $DIR w3: $(tail -2 "$DIR/rebalance-add.log" | tr '\n' ' ')"
	exit 0
fi
. "$DIR/ports"
verdict ok "a third worker added on port $W3_PORT"

w3() { psql -X -qAt -v ON_ERROR_STOP=1 -h "$PGHOST" -p "$W3_PORT" -U postgres -d "$DB" "$@"; }
bad=$(w3 -c "SELECT pg_catalog.string_agg(c.relname::text, ', ')
               FROM pg_catalog.pg_sequence s JOIN pg_catalog.pg_class c ON c.oid = s.seqrelid
              WHERE c.relnamespace = 'ex7'::regnamespace
                AND s.seqmin <> ((SELECT g.groupid FROM pg_catalog.pg_dist_local_group g)::bigint << 48) + 1" 2>&1)
n=$(w3 -c "SELECT count(*) FROM pg_catalog.pg_sequence s JOIN pg_catalog.pg_class c ON c.oid = s.seqrelid
            WHERE c.relnamespace = 'ex7'::regnamespace" 2>&1)
if [ -z "$bad" ] && [ "$n" -ge 1 ] 2>/dev/null; then
	verdict ok "the new worker draws its $n identity sequence(s) from its own range"
else
	verdict not "the new worker's sequences without its range: ${bad:-none found ($n)}"
fi

# block_writes: the rebalancer's default moves by logical replication, which PostgreSQL refuses for the
# unlogged ex7.rate_counters ("cannot add relation ... to publication"); docs/scale-out.md says so
t=$(date +%s)
out=$(q -c "SET client_min_messages = warning" -c "SELECT citus_rebalance_start(shard_transfer_mode := 'block_writes')" \
	-c "SELECT citus_rebalance_wait()" 2>&1)
state=$(q -c "SELECT state FROM pg_catalog.citus_rebalance_status() ORDER BY job_id DESC LIMIT 1" 2>&1)
if [ "$state" = finished ]; then
	verdict ok "citus_rebalance_start and citus_rebalance_wait: $state in $(($(date +%s) - t)) s"
else
	verdict not "rebalance: $state $(echo "$out" | tail -2 | tr '\n' ' ')"
fi

moved=$(q -c "SELECT count(*) FROM pg_catalog.pg_dist_placement p
               JOIN pg_catalog.pg_dist_shard s ON s.shardid = p.shardid
               JOIN pg_catalog.pg_dist_node n ON n.groupid = p.groupid
              WHERE n.nodeport = $W3_PORT
                AND s.logicalrelid::text IN (SELECT 'ex7.' || x.table_name FROM ex7._distribution_plan() x
                                              WHERE x.class = 'user')")
if [ "${moved:-0}" -gt 0 ] 2>/dev/null; then
	verdict ok "$moved shards of the per-user tables moved to the new worker"
else
	verdict not "no shard of a per-user table on the new worker ($moved)"
fi
counts >"$DIR/rebalance-after"
if diff -q "$DIR/rebalance-before" "$DIR/rebalance-after" >/dev/null; then
	verdict ok "every distributed table holds the rows it held before ($(wc -l <"$DIR/rebalance-after") tables)"
else
	verdict not "row counts changed: $(diff "$DIR/rebalance-before" "$DIR/rebalance-after" | grep '^[<>]' | head -6 | tr '\n' ' ')"
fi

bash test/citus/placement.sh "$DIR" | sed 's/^\(not \)\{0,1\}ok - /&rebalance, /'

# a user with strategies whose shard is now on the new worker
U=$(q -c "SELECT s.user_id FROM ex7.strategies s
           JOIN pg_catalog.pg_dist_placement p
             ON p.shardid = pg_catalog.get_shard_id_for_distribution_column('ex7.strategies', s.user_id)
           JOIN pg_catalog.pg_dist_node n ON n.groupid = p.groupid
          WHERE n.nodeport = $W3_PORT AND s.deleted_at IS NULL
          GROUP BY s.user_id ORDER BY count(*) DESC, s.user_id LIMIT 1")
if [ -z "$U" ]; then
	verdict not "no user with strategies on the new worker"
else
	want=$(q -c "SELECT count(*) FROM ex7.strategies WHERE user_id = '$U' AND deleted_at IS NULL")
	got=$(q -c "SELECT ex7.list_strategies('$U') -> 'items'" | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))' 2>&1)
	[ "$got" = "$want" ] && verdict ok "a moved user's strategies are served: $got" ||
		verdict not "list_strategies of a moved user: $got, wanted $want"
	id=$(q -c "SELECT ex7.create_strategy('$U', '{\"name\": \"after the rebalance\", \"instrument\": \"MES\",
	           \"timeframe\": \"5m\", \"graph\": {\"nodes\": [], \"edges\": [], \"meta\": {}}}') ->> 'id'" 2>&1)
	there=$(w3 -c "SELECT count(*) FROM ex7.strategies_$(q -c "SELECT pg_catalog.get_shard_id_for_distribution_column('ex7.strategies', '$U'::uuid)") WHERE id = '$id'" 2>&1)
	[ "$there" = 1 ] && verdict ok "a moved user's new strategy is written on the new worker" ||
		verdict not "a moved user's new strategy: $id, on the new worker: $there"
fi

if [ -n "$EX7D_LOG" ]; then
	for _ in $(seq 1 45); do
		grep -q "\"event\":\"listen_nodes\".*127.0.0.1:$W3_PORT" "$EX7D_LOG" && break
		sleep 1
	done
	grep -q "\"event\":\"listen_nodes\".*127.0.0.1:$W3_PORT" "$EX7D_LOG" &&
		verdict ok "ex7d found the new worker and LISTENs there" ||
		verdict not "ex7d did not LISTEN on the new worker within 45 s: $(grep listen_nodes "$EX7D_LOG" | tail -1)"
fi
