#!/usr/bin/env bash
# test/citus/router.sh DIR [DB]: on the Citus cluster tools/citus.sh started in DIR, single-user work issued on the
# coordinator runs on one worker, the one holding the user's shard:
#   - EXPLAIN of representative API calls in the form ex7d sends them (SELECT ex7.f(args): one function call as
#     the whole target list) shows Citus delegating the call: "Custom Scan (Citus Adaptive)", "Task Count: 1",
#     and the task's node is the user's (get_shard_id_for_distribution_column over ex7.users);
#   - the same through a prepared statement with parameters, as ex7d's libpq calls are;
#   - a call run for real is sent to that worker whole (citus.log_remote_commands shows the statement issued);
#   - a plain single-user SELECT on a per-user table is a router query (one task, on that node).
# One "ok - ..." / "not ok - ..." line per check.
set -uo pipefail
DIR=${1:?usage: test/citus/router.sh DIR [DB]}
. "$DIR/ports"
DB=${2:-$DB}
q() { psql -X -qAt -v ON_ERROR_STOP=1 -h "$PGHOST" -p "$COORD_PORT" -U postgres -d "$DB" "$@"; }

U=00000000-0000-4000-8000-00000000c175
q -c "SELECT ex7.ensure_user('$U', 'router-check@example.com')" >/dev/null ||
	{ echo "not ok - router: ex7.ensure_user on the coordinator failed"; exit 0; }
port=$(q -c "SELECT n.nodeport FROM pg_catalog.pg_dist_placement p
             JOIN pg_catalog.pg_dist_node n ON n.groupid = p.groupid AND n.noderole = 'primary'
             WHERE p.shardid = pg_catalog.get_shard_id_for_distribution_column('ex7.users', '$U'::uuid)")
[ -n "$port" ] || { echo "not ok - router: no placement for the user's ex7.users shard"; exit 0; }
echo "# user $U lives on the node at port $port"

# check_plan NAME SQL...: the EXPLAIN output of the last statement shows one task on the user's node
check_plan() {
	local name=$1 plan
	shift
	plan=$(q "$@" 2>&1)
	if echo "$plan" | grep -q 'Custom Scan (Citus Adaptive)' && echo "$plan" | grep -q 'Task Count: 1$' &&
		echo "$plan" | grep -q "Node: host=[^ ]* port=$port "; then
		echo "ok - router: $name runs on the user's worker (one task, port $port)"
	else
		echo "not ok - router: $name is not delegated to port $port as one task:"
		echo "$plan" | sed 's/^/#   /' | head -15
	fi
}

S=00000000-0000-4000-8000-0000000c1751
G=00000000-0000-4000-8000-0000000c1752
check_plan "SELECT ex7.list_signals(user)" -c "EXPLAIN SELECT ex7.list_signals('$U')"
check_plan "SELECT ex7.get_strategy(user, id)" -c "EXPLAIN SELECT ex7.get_strategy('$U', '$S')"
check_plan "SELECT ex7.list_strategies(user)" -c "EXPLAIN SELECT ex7.list_strategies('$U')"
check_plan "SELECT ex7.fire_signal(user, ...)" \
	-c "EXPLAIN SELECT ex7.fire_signal('$U', '$S', 'paper', 'long', 1, 100.25, '2026-01-05T15:00:00Z')"
check_plan "SELECT ex7.close_signal(user, id)" -c "EXPLAIN SELECT ex7.close_signal('$U', '$G', 101.5)"
check_plan "a prepared SELECT ex7.list_signals(\$1, ...) with parameters" \
	-c "PREPARE ls(uuid, integer) AS SELECT ex7.list_signals(\$1, p_limit => \$2)" -c "EXPLAIN EXECUTE ls('$U', 20)"
check_plan "SELECT * FROM ex7.signals WHERE user_id = user" -c "EXPLAIN SELECT * FROM ex7.signals WHERE user_id = '$U'"
check_plan "SELECT ... FROM ex7.strategies WHERE user_id = user AND id = ..." \
	-c "EXPLAIN SELECT id, name FROM ex7.strategies WHERE user_id = '$U' AND id = '$S'"

# run for real: the coordinator issues the call itself to the worker (log_remote_commands prints it). The bare
# form only: Citus delegates SELECT f(args) and nothing around it (no cast, no IS NOT NULL).
for call in "ex7.list_signals('$U')" "ex7.list_strategies('$U')"; do
	fn=${call%%(*}
	log=$(q -c "SET citus.log_remote_commands = on" -c "SET client_min_messages = notice" -c "SELECT $call" 2>&1)
	rc=$?
	if echo "$log" | grep -q "^NOTICE:  issuing SELECT $fn(" &&
		echo "$log" | grep -A1 "^NOTICE:  issuing SELECT $fn(" | grep -q "127.0.0.1:$port " &&
		[ "$(echo "$log" | grep -c '^NOTICE:  issuing')" -eq 1 ]; then
		echo "ok - router: $fn run on the coordinator is one statement issued to port $port"
	else
		echo "not ok - router: $fn was not sent whole to port $port:"
		echo "$log" | cut -c1-300 | sed 's/^/#   /' | head -8
	fi
	if [ $rc -eq 0 ]; then
		echo "ok - router: $fn answers on the worker"
	else
		echo "not ok - router: $fn fails on the worker: $(echo "$log" | grep -m1 '^ERROR:')"
	fi
done
