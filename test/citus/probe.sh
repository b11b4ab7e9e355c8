#!/usr/bin/env bash
# test/citus/probe.sh DIR: after ex7.distribute() failed on the Citus cluster tools/citus.sh started in DIR,
# tries what it does one step at a time, each in a transaction of its own, and prints one "ok - ..." /
# "not ok - ..." line per table (in ex7._distribution_order()) and one summary line for the functions, so one
# run shows every statement Citus refuses and why (distribute() itself stops at the first). A table whose
# referenced table failed fails too; its own error says so. Leaves the cluster as far as it got.
set -uo pipefail
DIR=${1:?usage: test/citus/probe.sh DIR}
. "$DIR/ports"
q() { psql -X -qAt -v ON_ERROR_STOP=1 -h "$PGHOST" -p "$COORD_PORT" -U postgres -d "$DB" "$@"; }

q -F $'\t' -c "SELECT o.table_name, o.class, COALESCE(o.column_name, ''), ex7._distribute_statement(o.table_name, o.class, o.column_name),
                      COALESCE(ex7._citus_class(('ex7.' || o.table_name)::regclass), '')
               FROM ex7._distribution_order() o WHERE o.class <> 'local' ORDER BY o.ord" >"$DIR/probe.plan" ||
	{ echo "not ok - probe: reading ex7._distribution_order() failed"; exit 1; }
while IFS=$'\t' read -r t class col stmt have; do
	want=reference
	[ "$class" != reference ] && want="distributed by $col"
	if [ -n "$have" ] && [ "$have" != "citus local" ]; then
		if [ "$have" = "$want" ]; then echo "ok - ex7.$t is $want"; else echo "not ok - ex7.$t is $have, planned $want"; fi
		continue
	fi
	trig=off
	[ "$class" = reference ] && trig=on
	if err=$(q -c "SET citus.multi_shard_modify_mode = sequential" -c "SET citus.enable_unsafe_triggers = $trig" \
		-c "SET client_min_messages = warning" -c "$stmt" 2>&1 >/dev/null); then
		echo "ok - ex7.$t is $want"
	else
		echo "not ok - ex7.$t ($want): $(echo "$err" | grep -E '^(ERROR|DETAIL|HINT):' | tr '\n' ' ')"
	fi
done <"$DIR/probe.plan"

if [ "$(q -c "SELECT ex7._citus_class('ex7.users')")" = "distributed by id" ]; then
	q -c "SELECT f.oid::regprocedure FROM pg_catalog.pg_proc f
	      WHERE f.pronamespace = 'ex7'::regnamespace AND f.proname !~ '^_' AND f.prokind IN ('f', 'p')
	        AND f.pronargs >= 1 AND f.proargtypes[0] = 'uuid'::regtype AND f.proargnames[1] = 'p_user'
	      ORDER BY 1" >"$DIR/probe.functions"
	bad=0
	while read -r f; do
		err=$(q -c "SET client_min_messages = warning" \
			-c "SELECT pg_catalog.create_distributed_function('$f', '\$1', colocate_with := 'ex7.users')" 2>&1 >/dev/null) ||
			{ bad=$((bad + 1)); echo "# $f: $(echo "$err" | grep -E '^ERROR:' | head -1)"; }
	done <"$DIR/probe.functions"
	n=$(wc -l <"$DIR/probe.functions")
	if [ "$bad" -eq 0 ]; then echo "ok - $n functions distributed by p_user"; else echo "not ok - $bad of $n functions refused"; fi
else
	echo "not ok - functions not tried: ex7.users is not distributed"
fi
