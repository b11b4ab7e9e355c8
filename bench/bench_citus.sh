#!/usr/bin/env bash
# bench/bench_citus.sh: scale-out on Citus (run by bench/run.sh; results in docs/performance.md, "Scale-out on
# Citus"; the design in docs/scale-out.md). The same workload, in the same run, against
#   one node  the plain PostgreSQL cluster bench/run.sh started (a database of our own, bench/lib.sh), and
#   Citus     a coordinator and two workers on this machine (tools/citus.sh start: ex7 created on every node,
#             SELECT ex7.distribute() run), the calls sent to the coordinator, which delegates each to the
#             worker holding the user's shard.
# The workload: USERS users made through the public functions (ex7.ensure_user, ex7.accept_compliance,
# ex7.set_risk_limits, ex7.create_strategy: one strategy each), then pgbench clients each looping over:
# pick a user at random, fire a paper signal of the user's strategy (ex7.fire_signal: risk gate, signal row,
# event, audit) and close it (ex7.close_signal: P&L, event). Each call is its own transaction and has the
# shape ex7d sends (http/pool.c: a prepared statement SELECT ex7.f(<parameters>), nothing around the call),
# the only shape Citus delegates to a worker (docs/scale-out.md, "Where things run"). The close takes the
# signal id out of the fire's answer in an argument expression ($n::jsonb #>> '{signal,id}')::uuid, which
# the planner folds to a constant before Citus looks at it.
# Printed per side: transactions per second (one transaction = one fire + one close, so two calls), the
# latency of a transaction (average, p50, p95, p99 from pgbench's per-transaction log), and the ratios
# Citus / one node. The sides alternate (one node, Citus, one node, Citus); each side's numbers are the mean
# (tps), the sum (transactions) and the whole log (latencies) of its two runs. Where the time goes: the
# time inside ex7.fire_signal and ex7.close_signal per call on one node and on the workers
# (pg_stat_user_functions), and per Citus node the single- and multi-shard queries it ran per transaction
# and the connections it opened (citus_stat_counters).
# What it shows: on this machine's 2 cores the three Citus nodes, the one-node cluster and pgbench share the
# same CPUs, so Citus cannot be faster here; the ratio is the price of running the calls through Citus (the
# coordinator's planning and round trip, and on the worker Citus's handling of each statement on a shard),
# not a scale-out result. No speed goal is judged.
# Correctness checks (a failure fails the benchmark, bench/lib.sh): no fire refused by the risk gate and no
# signal left open on either side, as many signals as fires; and on Citus, that the calls were delegated:
# EXPLAIN of each call on the coordinator is a Citus custom scan with one task, and with track_functions on
# every node, the coordinator ran ex7.fire_signal and ex7.close_signal zero times while the two workers ran
# each exactly once per transaction pgbench counted (pg_stat_user_functions, printed per node).
# A call that fails on Citus stops the benchmark with the error pgbench reported (function, SQLSTATE, text).
# Smoke mode: 8 users, 2-second runs; without Citus installed the smoke run says so and succeeds (the
# full run fails: tools/citus.sh then says how to install it).
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh
SECS=${BENCH_SECONDS:-$(smoke 15 2)}
USERS=${BENCH_USERS:-$(smoke 200 8)}
CLIENTS=${BENCH_CLIENTS:-4}
THREADS=2
CDB=ex7bench

if [ "$BENCH_SMOKE" = 1 ] && ! [ -f "$(pg_config --pkglibdir)/citus.so" ]; then
	echo "citus: Citus is not installed in $(pg_config --pkglibdir): smoke run skipped (docs/scale-out.md, \"Installing Citus\")"
	exit 0
fi

bench_begin citus
# the Citus nodes live under $W/citus: stopped before bench_end removes $W, whatever ends the run (set +e:
# under set -e the `(exit $st)` that hands bench_end a failure's status would end the trap before it)
trap 'st=$?; set +e; bash tools/citus.sh stop "$W/citus" >/dev/null 2>&1; (exit $st); bench_end' EXIT

one() { psql -X -q -v ON_ERROR_STOP=1 "$@"; }

# the Citus cluster (about 20 s: three initdb, CREATE EXTENSION on each node, ex7.distribute())
t0=$SECONDS
if ! bash tools/citus.sh start "$W/citus" "$CDB" >"$W/citus.log" 2>&1; then
	cat "$W/citus.log" >&2
	bench_fail "the Citus cluster could not be made (tools/citus.sh start; its output above): $(grep -m1 '^ERROR:' "$W/citus.log" || tail -1 "$W/citus.log")"
fi
CHOST=$(. "$W/citus/ports" && echo "$PGHOST")
COORD=$(. "$W/citus/ports" && echo "$COORD_PORT")
WORKER1=$(. "$W/citus/ports" && echo "$WORKER1_PORT")
WORKER2=$(. "$W/citus/ports" && echo "$WORKER2_PORT")
echo "Citus 3 nodes up and distributed in $((SECONDS - t0)) s: coordinator :$COORD, workers :$WORKER1 :$WORKER2 ($(grep -m1 'distributed in' "$W/citus.log" | sed 's/^citus: //'))"
# node PORT ARGS...: psql on one Citus node's database
node() { local p=$1; shift; psql -X -q -v ON_ERROR_STOP=1 -h "$CHOST" -p "$p" -U postgres -d "$CDB" "$@"; }

# function call counts on every node (pg_stat_user_functions needs track_functions; set on the Citus nodes
# alone, not propagated) and, for the same cost on both sides, in the one-node database; Citus's own
# counters of the shard queries each node ran and the connections it opened (citus_stat_counters, off by
# default)
for p in "$COORD" "$WORKER1" "$WORKER2"; do
	node "$p" -c "ALTER SYSTEM SET track_functions = 'pl'" -c "ALTER SYSTEM SET citus.enable_stat_counters = on" \
		-c "SELECT pg_reload_conf()" >/dev/null
done
one -c "ALTER DATABASE $BENCH_DB SET track_functions = 'pl'" >/dev/null

uid() { printf '00000000-0000-4000-8000-%012x' $((4096 + $1)); }

# the users, each call its own statement and transaction (on Citus each delegated like the runs' calls)
for i in $(seq 1 "$USERS"); do
	u=$(uid "$i")
	cat <<SQL
SELECT ex7.ensure_user('$u');
SELECT ex7.accept_compliance('$u', NULL, 'bench');
SELECT ex7.set_risk_limits('$u', 'paper', '{"max_trades_per_day": 1000, "max_open_positions": 100, "max_consecutive_losses": 100, "daily_loss_limit": "1000000"}');
SELECT ex7.create_strategy('$u', '{"name": "citus bench", "instrument": "MES", "timeframe": "5m"}');
SQL
done >"$W/setup.sql"
t0=$SECONDS
one -f "$W/setup.sql" >/dev/null 2>"$W/setup.err" || { cat "$W/setup.err" >&2; bench_fail "setting up the users failed on one node"; }
echo "one node: $USERS users set up in $((SECONDS - t0)) s (4 calls each)"
t0=$SECONDS
node "$COORD" -f "$W/setup.sql" >/dev/null 2>"$W/setup.err" ||
	{ cat "$W/setup.err" >&2; bench_fail "setting up the users failed on Citus: $(grep -m1 'ERROR:' "$W/setup.err")"; }
echo "Citus: $USERS users set up in $((SECONDS - t0)) s (4 calls each)"

# the pgbench script of each side: a user at random, its fire, then the close of that signal. pgbench has
# no strings in its expressions, so a ladder of \if picks the fire statement of the user's strategy (the
# strategy's id is a literal there; one -D variable per user instead crashed pgbench 15 at 200 users). The
# user's id is computed from the random index in the argument, so each statement has a parameter, as ex7d's
# do; with -M prepared Citus then plans each execution with the parameter's value and the planner folds the
# argument to a constant, which Citus needs to route the call.
UEXPR="('00000000-0000-4000-8000-' || lpad(to_hex(4096 + :u::integer), 12, '0'))::uuid"
script() {
	local side=$1 i u s
	declare -A strat=()
	while IFS='|' read -r u s; do strat[$u]=$s; done <"$W/strategies.$side"
	echo "\\set u random(1, $USERS)"
	for i in $(seq 1 "$USERS"); do
		u=$(uid "$i")
		s=${strat[$u]:-}
		[ -n "$s" ] || { echo "user $u has no strategy on $side" >&2; return 1; }
		if [ "$i" = 1 ]; then echo "\\if :u = 1"; else echo "\\elif :u = $i"; fi
		echo "SELECT ex7.fire_signal($UEXPR, '$s'::uuid, 'paper', 'long', 1, 5000, now()) AS fired \\gset"
	done
	echo "\\endif"
	echo "SELECT ex7.close_signal($UEXPR, (:fired::jsonb #>> '{signal,id}')::uuid, 5002.50)"
}
sq="SELECT user_id, id FROM ex7.strategies"
one -At -c "$sq" >"$W/strategies.one"
node "$COORD" -At -c "$sq" >"$W/strategies.citus"
script one >"$W/fire.one.pgbench" || bench_fail "could not write the one-node script"
script citus >"$W/fire.citus.pgbench" || bench_fail "could not write the Citus script"

# EXPLAIN on the coordinator: a delegated call is one Citus task on the worker of the user's shard
# (function_call_delegation.c); a call Citus would run on the coordinator has no Custom Scan
explain_check() {
	local what=$1 sql=$2 plan
	plan=$(node "$COORD" -At -c "EXPLAIN (VERBOSE, COSTS OFF) $sql") || bench_fail "EXPLAIN of $what failed on Citus"
	# here-strings, not pipes: under pipefail, grep -q leaving at its first match can fail the echo (SIGPIPE)
	grep -q 'Custom Scan (Citus Adaptive)' <<<"$plan" && grep -q 'Task Count: 1$' <<<"$plan" || {
		echo "$plan" >&2
		bench_fail "Citus does not delegate $what (no Citus custom scan with one task: plan above)"
	}
	echo "EXPLAIN $what on the coordinator: Custom Scan (Citus Adaptive), Task Count: 1, $(echo "$plan" | grep -m1 -o 'Node: host=[^ ]* port=[0-9]*')"
}
U1=$(uid 1)
S1=$(grep "^$U1|" "$W/strategies.citus" | cut -d'|' -f2)
explain_check "ex7.fire_signal" "SELECT ex7.fire_signal('$U1'::uuid, '$S1'::uuid, 'paper', 'long', 1, 5000, now())"
explain_check "ex7.close_signal" "SELECT ex7.close_signal('$U1'::uuid, '00000000-0000-4000-8000-000000000000'::uuid, 5002.50)"

# the counters start at zero after the setup (its calls are not the runs')
for p in "$COORD" "$WORKER1" "$WORKER2"; do
	node "$p" -c "SELECT pg_stat_reset()" -c "SELECT citus_stat_counters_reset()" >/dev/null
done
one -c "SELECT pg_stat_reset()" >/dev/null

# run SIDE N: one pgbench run against SIDE (one or citus), log and output under $W/SIDE.N.*; prints
# "tps transactions"
run() {
	local side=$1 n=$2 conn=() st=0
	[ "$side" = citus ] && conn=(-h "$CHOST" -p "$COORD" -U postgres "$CDB")
	pgbench -n -M prepared -c "$CLIENTS" -j "$THREADS" -T "$SECS" -l --log-prefix="$W/$side.$n.lat" \
		-f "$W/fire.$side.pgbench" "${conn[@]}" >"$W/$side.$n.out" 2>"$W/$side.$n.err" || st=$?
	if [ "$st" != 0 ] || grep -q 'aborted' "$W/$side.$n.err"; then
		# the first client's error with its context (the function and the statement Citus refused)
		awk '/aborted|ERROR:/ { on = 1; n++ } on && n == 2 && /^pgbench:/ { exit } on { print "  " $0 }' \
			"$W/$side.$n.err" | head -30 >&2
		bench_fail "pgbench against $side failed (exit $st): $(grep -m1 -o 'ERROR: .*' "$W/$side.$n.err" || tail -1 "$W/$side.$n.err")"
	fi
	echo "$(sed -n 's/^tps = \([0-9.]*\).*/\1/p' "$W/$side.$n.out") $(sed -n 's/^number of transactions actually processed: \([0-9]*\).*/\1/p' "$W/$side.$n.out")"
}
echo "runs: $CLIENTS clients, $THREADS threads, $SECS s each, $USERS users; one node, Citus, one node, Citus"
r=$(run one 1); read -r o1 on1 <<<"$r"
r=$(run citus 1); read -r c1 cn1 <<<"$r"
r=$(run one 2); read -r o2 on2 <<<"$r"
r=$(run citus 2); read -r c2 cn2 <<<"$r"
[ -n "${on2:-}" ] && [ -n "${cn2:-}" ] || bench_fail "a pgbench run printed no result"
echo "  one node: $o1, $o2 tps; Citus: $c1, $c2 tps"
one_n=$((on1 + on2))
citus_n=$((cn1 + cn2))

# lat SIDE: "avg p50 p95 p99" in ms over both runs' transactions (pgbench -l: the 3rd field, microseconds)
lat() {
	cat "$W/$1".*.lat* | awk '{ print $3 }' | sort -n | awk '
		{ v[NR] = $1; s += $1 }
		END { if (NR == 0) exit 1
		      printf "%.2f %.2f %.2f %.2f", s / NR / 1000, v[int(NR * 0.50) + 1] / 1000, v[int(NR * 0.95) + 1] / 1000, v[int(NR * 0.99) + 1] / 1000 }'
}
r=$(lat one); read -r oavg o50 o95 o99 <<<"$r"
r=$(lat citus); read -r cavg c50 c95 c99 <<<"$r"
otps=$(awk -v a="$o1" -v b="$o2" 'BEGIN { printf "%.0f", (a + b) / 2 }')
ctps=$(awk -v a="$c1" -v b="$c2" 'BEGIN { printf "%.0f", (a + b) / 2 }')

# correctness, both sides: no refusal, nothing left open, one signal per transaction
check_side() {
	local side=$1 n=$2 q=one blocked open total
	[ "$side" = citus ] && q="node $COORD"
	blocked=$($q -At -c "SELECT count(*) FROM ex7.signals_blocked")
	read -r open total <<<"$($q -At -F' ' -c "SELECT count(*) FILTER (WHERE status = 'open'), count(*) FROM ex7.signals")"
	[ "$blocked" = 0 ] || bench_fail "$side: the risk gate blocked $blocked fires: the runs measured refusals"
	[ "$open" = 0 ] || bench_fail "$side: $open signals left open"
	[ "$total" = "$n" ] || bench_fail "$side: $total signals for $n transactions"
}
check_side one "$one_n"
check_side citus "$citus_n"

# delegation, counted: the workers ran each call once per transaction, the coordinator never. A worker
# backend reports its counts when it goes idle or exits, so wait for them (at most 20 s).
# fstats PSQL...: "fire_calls close_calls fire_ms close_ms" of ex7.fire_signal and ex7.close_signal there
# (total_time: the time inside the function, its statements included)
fstats() {
	"$@" -At -F' ' -c "SELECT coalesce(sum(calls) FILTER (WHERE funcname = 'fire_signal'), 0),
	                          coalesce(sum(calls) FILTER (WHERE funcname = 'close_signal'), 0),
	                          round(coalesce(sum(total_time) FILTER (WHERE funcname = 'fire_signal'), 0)),
	                          round(coalesce(sum(total_time) FILTER (WHERE funcname = 'close_signal'), 0))
	                   FROM pg_stat_user_functions WHERE schemaname = 'ex7'"
}
for _ in $(seq 1 40); do
	read -r w1f w1c w1ft w1ct <<<"$(fstats node "$WORKER1")"
	read -r w2f w2c w2ft w2ct <<<"$(fstats node "$WORKER2")"
	[ $((w1f + w2f)) -ge "$citus_n" ] && [ $((w1c + w2c)) -ge "$citus_n" ] && break
	sleep 0.5
done
read -r cof coc _ _ <<<"$(fstats node "$COORD")"
echo "calls run on each Citus node (pg_stat_user_functions, fire/close): coordinator $cof/$coc, worker :$WORKER1 $w1f/$w1c, worker :$WORKER2 $w2f/$w2c; pgbench transactions $citus_n"
[ "$cof" = 0 ] && [ "$coc" = 0 ] || bench_fail "the coordinator ran ex7.fire_signal $cof and ex7.close_signal $coc times itself: not delegated"
[ $((w1f + w2f)) = "$citus_n" ] && [ $((w1c + w2c)) = "$citus_n" ] ||
	bench_fail "the workers ran $((w1f + w2f)) fires and $((w1c + w2c)) closes for $citus_n transactions"
[ "$BENCH_SMOKE" = 1 ] || { [ "$w1f" -gt 0 ] && [ "$w2f" -gt 0 ]; } || bench_fail "one worker ran no call: the users are not spread"
# time inside the functions per call: one node against the workers; the rest of a transaction's latency is
# the client's round trips and, on Citus, the coordinator's planning and its round trip to the worker
read -r of oc oft oct <<<"$(fstats one)"
[ "$of" = "$one_n" ] || echo "(one node: pg_stat_user_functions counted $of fires for $one_n transactions)"
inside=$(awk -v of="$of" -v oc="$oc" -v oft="$oft" -v oct="$oct" -v cf=$((w1f + w2f)) -v cc=$((w1c + w2c)) \
	-v cft=$((w1ft + w2ft)) -v cct=$((w1ct + w2ct)) 'BEGIN {
	printf "%.2f %.2f %.2f %.2f", of ? oft / of : 0, oc ? oct / oc : 0, cf ? cft / cf : 0, cc ? cct / cc : 0 }')
read -r ofm ocm cfm ccm <<<"$inside"
echo "time inside the function per call: fire_signal one node $ofm ms, on the workers $cfm ms; close_signal one node $ocm ms, on the workers $ccm ms"

# what each Citus node executed per transaction: single-shard and multi-shard queries (a delegated call is
# one single-shard query on the coordinator; a worker counts the shard queries its functions ran), and the
# connections it opened to other nodes
for p in "$COORD" "$WORKER1" "$WORKER2"; do
	node "$p" -At -F' ' -c "SELECT c.query_execution_single_shard, c.query_execution_multi_shard, c.connection_establishment_succeeded
	                        FROM pg_database d, citus_stat_counters(d.oid) c WHERE d.datname = current_database()"
done | awk -v ports="$COORD $WORKER1 $WORKER2" -v tx="$citus_n $w1f $w2f" 'BEGIN { split(ports, p, " "); split(tx, t, " ") }
	{ s = s sprintf("%s :%s %d transactions: %.1f single-shard, %.2f multi-shard queries each, %d connections opened; ",
	                NR == 1 ? "coordinator" : "worker", p[NR], t[NR], t[NR] ? $1 / t[NR] : 0, t[NR] ? $2 / t[NR] : 0, $3) }
	END { sub(/; $/, "", s); print "Citus per node (citus_stat_counters): " s }'

echo "one node: $otps tps ($one_n transactions), latency avg $oavg ms, p50 $o50, p95 $o95, p99 $o99"
echo "Citus:    $ctps tps ($citus_n transactions), latency avg $cavg ms, p50 $c50, p95 $c95, p99 $c99"
awk -v ot="$otps" -v ct="$ctps" -v oa="$oavg" -v ca="$cavg" -v o95="$o95" -v c95="$c95" 'BEGIN {
	printf "Citus / one node: throughput %.2fx, latency avg %.2fx, p95 %.2fx; added per transaction (2 calls) %.2f ms\n",
	       ct / ot, ca / oa, c95 / o95, ca - oa }'
echo "(2 shared cores: three Citus nodes, the one-node cluster and pgbench compete for the same CPUs; the ratio is the cost of going through Citus, not a scale-out result)"
