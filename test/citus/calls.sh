#!/usr/bin/env bash
# test/citus/calls.sh DIR: on the Citus cluster tools/citus.sh started in DIR, the single-user API of
# strategies, versions, runtimes, signals, the risk gate and the event log answers as on one server, and the
# dispatcher feeds two users' runtimes from one bar (docs/scale-out.md, "Where things run"). Each call is made
# twice over: as ex7d sends it (SELECT ex7.f(args) outside a transaction block, which Citus delegates whole to
# the user's worker) and inside BEGIN ... COMMIT (which Citus does not delegate: the function runs on the
# coordinator and each of its statements must be a router query on the user's shard). What a real cluster
# refused before these functions were made single-user, every item one line here: a whole-row argument of the
# shard's row type, a SQL function's parameters in a distributed statement, now() in a CASE of an UPDATE or in
# ON CONFLICT DO UPDATE SET, a function that queries called inside a statement on a shard, an array of
# anonymous records from a worker.
# The job backtests_reap run on the coordinator reaps on each node (a run without its worker fails, one whose
# worker holds its lock on the user's node stays).
# One "ok - ..." / "not ok - ..." line per check. Needs M2K 1h bars at 2026-03-04 15:00 and 16:00 UTC not yet
# stored (a fresh cluster).
set -uo pipefail
DIR=${1:?usage: test/citus/calls.sh DIR}
CHECK_PREFIX="calls"
. "$(dirname "$0")/lib.sh"

U1=$(q -c "SELECT pg_catalog.gen_random_uuid()")
U2=$(q -c "SELECT pg_catalog.gen_random_uuid()")
q -c "SELECT ex7.ensure_user('$U1')" -c "SELECT ex7.ensure_user('$U2')" \
	-c "SELECT ex7.accept_compliance('$U1', NULL, 'citus calls')" -c "SELECT ex7.accept_compliance('$U2', NULL, 'citus calls')" \
	>/dev/null || { echo "not ok - calls: two users with their compliance documents accepted"; exit 0; }
[ -z "$(q -c "SELECT 1 FROM ex7.bars WHERE instrument = 'M2K' AND timeframe = '1h' LIMIT 1")" ] ||
	{ echo "not ok - calls: M2K 1h bars are stored already (run on a fresh cluster)"; exit 0; }

# close > 2000 enters one long with an 8-tick target (0.80)
GRAPH='{"nodes": [{"id": "c", "type": "close"}, {"id": "k", "type": "constant", "params": {"value": 2000}},
 {"id": "gt", "type": "gt"}, {"id": "buy", "type": "enter_long", "params": {"size": 1}},
 {"id": "tp", "type": "take_profit_ticks", "params": {"ticks": 8}}],
 "edges": [{"from": "c", "to": "gt", "port": "a"}, {"from": "k", "to": "gt", "port": "b"},
 {"from": "gt", "to": "buy", "port": "when"}, {"from": "buy", "to": "tp", "port": "entry"}]}'
body() { echo "{\"name\": \"$1\", \"instrument\": \"M2K\", \"timeframe\": \"1h\", \"tags\": [\"citus\"], \"graph\": $GRAPH}"; }
S1=$(q -c "SELECT ex7.create_strategy('$U1', '$(body one)') ->> 'id'")
S2=$(q -c "SELECT ex7.create_strategy('$U2', '$(body two)') ->> 'id'")
S3=$(q -c "BEGIN" -c "SELECT ex7.create_strategy('$U2', '$(body three)') ->> 'id'" -c "COMMIT" | head -1)
for s in "$S1" "$S2" "$S3"; do
	case "$s" in ????????-????-????-????-????????????) ;; *) echo "not ok - calls: create_strategy: $s"; exit 0 ;; esac
done
echo "ok - calls: create_strategy, as a call and in a transaction block"

check "get_strategy" "one" "SELECT ex7.get_strategy('$U1', '$S1') ->> 'name'"
check "list_strategies" "1" "SELECT pg_catalog.jsonb_array_length(ex7.list_strategies('$U1') -> 'items')"
check_tx "list_strategies" "2" "SELECT pg_catalog.jsonb_array_length(ex7.list_strategies('$U2') -> 'items')"
check "update_strategy with a new graph" "2" \
	"SELECT ex7.update_strategy('$U1', '$S1', '{\"description\": \"d\", \"graph\": $(echo "$GRAPH" | sed 's/}$/, "meta": {"v": 2}}/')}') ->> 'current_version'"
check "list_versions" "2" "SELECT pg_catalog.jsonb_array_length(ex7.list_versions('$U1', '$S1') -> 'items')"
check_tx "get_version" "1" "SELECT ex7.get_version('$U1', '$S1', 1) ->> 'version'"
check "rollback_strategy" "3" "SELECT ex7.rollback_strategy('$U1', '$S1', 1) ->> 'current_version'"
check "clone_strategy" "one (copy)" "SELECT ex7.clone_strategy('$U1', '$S1') ->> 'name'"
check "export and import_strategy" "one (2)" \
	"SELECT ex7.import_strategy('$U1', ex7.export_strategy('$U1', '$S1') || '{\"name_on_conflict\": \"suffix\"}') ->> 'name'"
check "promote_strategy" "ready" "SELECT ex7.promote_strategy('$U1', '$S1') ->> 'status'"
check_tx "promote_strategy" "ready" "SELECT ex7.promote_strategy('$U2', '$S2') ->> 'status'"
check "promote_strategy" "ready" "SELECT ex7.promote_strategy('$U2', '$S3') ->> 'status'"

check "start_runtime" "starting" "SELECT ex7.start_runtime('$U1', '$S1', 'paper') ->> 'status'"
check_tx "start_runtime" "starting" "SELECT ex7.start_runtime('$U2', '$S2', 'paper') ->> 'status'"
check "start_runtime again (ON CONFLICT)" "starting" "SELECT ex7.start_runtime('$U1', '$S1', 'paper') ->> 'status'"
check "start_runtime of another user's strategy is 403" "ERROR:  strategy belongs to another user" \
	"SELECT ex7.start_runtime('$U2', '$S1', 'paper')"
check "list_runtimes" "1" "SELECT pg_catalog.jsonb_array_length(ex7.list_runtimes('$U1') -> 'items')"
check_tx "signals_health_me" "1" "SELECT pg_catalog.jsonb_array_length(ex7.signals_health_me('$U2') -> 'items')"

# the dispatcher, on the coordinator: both users' runtimes fire on the first bar; the second touches their targets
# (closed at 2001.80) and, no position left open, both enter again
check "a bar dispatched to two users' runtimes" '{"fired": 2}' \
	"SELECT ex7.ingest_bar('M2K', '1h', '2026-03-04 15:00+00', 2000, 2001, 1999.5, 2001, 10) #>> '{dispatch,decisions}'"
check "the next bar: the targets close, both enter again" '{"fired": 2}' \
	"SELECT ex7.ingest_bar('M2K', '1h', '2026-03-04 16:00+00', 2001, 2002, 2000.5, 2001.5, 10) #>> '{dispatch,decisions}'"
check "the take profits closed at the target" "2" \
	"SELECT pg_catalog.count(*) FROM ex7.signals WHERE user_id IN ('$U1', '$U2') AND close_reason = 'take_profit' AND close_price = 2001.80"
check "runtimes running after their bars" "running running" \
	"SELECT pg_catalog.string_agg(status, ' ') FROM ex7.strategy_runtimes WHERE user_id IN ('$U1', '$U2')"

check "fire_signal" "fired" "SELECT ex7.fire_signal('$U1', '$S1', 'paper', 'short', 1, 2001.0, '2026-03-04 16:00+00') ->> 'decision'"
SIG=$(q -c "SELECT ex7.list_signals('$U1', p_status => 'open', p_limit => 1) #>> '{items,0,id}'")
check "list_signals" "open" "SELECT ex7.list_signals('$U1', p_limit => 1) #>> '{items,0,status}'"
check_tx "get_signal" "open" "SELECT ex7.get_signal('$U1', '$SIG') ->> 'status'"
check "legacy_signals" "t" "SELECT pg_catalog.jsonb_array_length(ex7.legacy_signals('$U1', 720)) >= 0"
check "list_audit" "3" "SELECT pg_catalog.jsonb_array_length(ex7.list_audit('$U1') -> 'items')"
check "close_signal" "cancelled" "SELECT ex7.close_signal('$U1', '$SIG', 2001.0) ->> 'status'"
check "close_signal again is 409" "ERROR:  signal is not open" "SELECT ex7.close_signal('$U1', '$SIG', 2001.0)"
check_tx "set_risk_limits" "1" "SELECT ex7.set_risk_limits('$U1', 'paper', '{\"max_trades_per_day\": 1}') ->> 'max_trades_per_day'"
check "fire_signal past the limit is blocked" "blocked" \
	"SELECT ex7.fire_signal('$U1', '$S1', 'paper', 'long', 1, 2001.0, '2026-03-04 16:00+00') ->> 'decision'"
check "list_blocked" "1" "SELECT pg_catalog.jsonb_array_length(ex7.list_blocked('$U1') -> 'items')"
check "risk_state" "false" "SELECT ex7.risk_state('$U1', 'paper') ->> 'trading_allowed'"
check "stop_runtime with an open signal drains" "draining" "SELECT ex7.stop_runtime('$U1', '$S1', 'paper') ->> 'status'"
check "force_close_all of another user's strategy is 403" "ERROR:  strategy belongs to another user" \
	"SELECT ex7.force_close_all('$U2', '$S1')"
check "force_close_all" "1" "SELECT ex7.force_close_all('$U1', '$S1')"
check "the draining runtime left with no open signal stopped" "stopped" \
	"SELECT ex7.list_runtimes('$U1') #>> '{items,0,status}'"
# six events: the two entries and the target of the bars, the fire and close by hand, the force-close
check "replay_since_event_id" "6" "SELECT pg_catalog.count(*) FROM ex7.replay_since_event_id('$U1', 0)"
check_tx "stream_replay (the banner first)" "7" "SELECT pg_catalog.count(*) FROM ex7.stream_replay('$U1', '0')"
check_tx "archive_strategy" "archived" "SELECT ex7.archive_strategy('$U2', '$S2') ->> 'status'"
check "unarchive_strategy" "draft" "SELECT ex7.unarchive_strategy('$U2', '$S2') ->> 'status'"
check_tx "delete_strategy" "" "SELECT ex7.delete_strategy('$U2', '$S3')"
check "a deleted strategy is 404" "ERROR:  strategy not found" "SELECT ex7.get_strategy('$U2', '$S3')"

# backtests_reap from the coordinator: a background backtest's worker holds its lock on the node where it was
# launched, the user's worker, so each node reaps the users whose shard it holds. One run per user: U1's with
# no worker (failed), U2's with its lock held by a session on U2's node, as a live worker holds it (left alone).
bt() {
	q -c "INSERT INTO ex7.backtests (user_id, strategy_id, strategy_version, instrument, timeframe, range_from,
	                                 range_to, status, started_at)
	      VALUES ('$1', '$2', 1, 'M2K', '1h', '2026-01-01', '2026-02-01', 'running', pg_catalog.now()) RETURNING id"
}
B1=$(bt "$U1" "$S1")
B2=$(bt "$U2" "$S2")
PORT2=$(q -c "SELECT n.nodeport FROM pg_catalog.pg_dist_placement p
              JOIN pg_catalog.pg_dist_node n ON n.groupid = p.groupid AND n.noderole = 'primary'
              WHERE p.shardid = pg_catalog.get_shard_id_for_distribution_column('ex7.backtests', '$U2'::uuid)")
psql -X -qAt -h "$PGHOST" -p "$PORT2" -U postgres -d "$DB" \
	-c "SELECT pg_catalog.pg_advisory_lock(ex7._backtest_lock_key('$B2'))" -c "SELECT pg_catalog.pg_sleep(60)" \
	>/dev/null 2>&1 &
HOLDER=$!
for _ in $(seq 1 50); do
	[ "$(psql -X -qAt -h "$PGHOST" -p "$PORT2" -U postgres -d "$DB" \
		-c "SELECT count(*) FROM pg_catalog.pg_locks WHERE locktype = 'advisory' AND granted")" -ge 1 ] && break
	sleep 0.1
done
check "backtests_reap on the coordinator fails the run without a worker" '{"failed": 1, "studies": 0}' \
	"SELECT ex7.run_job('backtests_reap', pg_catalog.now()) -> 'result'"
check "backtests_reap leaves the run whose worker holds its lock on the user's node" "failed running" \
	"SELECT pg_catalog.string_agg(status, ' ' ORDER BY user_id = '$U2') FROM ex7.backtests WHERE id IN ('$B1', '$B2')"
psql -X -qAt -h "$PGHOST" -p "$PORT2" -U postgres -d "$DB" >/dev/null \
	-c "SELECT pg_catalog.pg_terminate_backend(pid) FROM pg_catalog.pg_locks WHERE locktype = 'advisory' AND granted"
wait "$HOLDER" 2>/dev/null
