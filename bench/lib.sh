# bench/lib.sh: sourced by every bench/bench_*.sh. What makes a benchmark independent of the others and of
# the order they run in (docs/performance.md, "Running the benchmarks"):
#   - bench_begin NAME creates a database of its own, ex7_bench_NAME (a leftover of an interrupted run is
#     dropped first), with a fresh CREATE EXTENSION ex7, and exports PGDATABASE for it. The benchmark sets up
#     everything it needs there, through the public SQL functions where they can, and never finds the state
#     of another one.
#   - On exit, whatever the cause (success, error, Ctrl-C), the processes the benchmark started (PIDS) are
#     stopped, the database is dropped and the work directory $W is removed: nothing is left behind.
#   - Smoke mode (EX7_BENCH_SMOKE=1, bench/run.sh --smoke, test/checks/bench_smoke.sh in make test): the same
#     code paths with tiny sizes and one-second measurements, so that a benchmark cannot break unseen; its
#     correctness checks still fail the run, its speed goals are not judged (bench_goal).
# It needs PGHOST/PGPORT/PGUSER of a cluster with the extension installed (bench/run.sh starts one).
# Exit status of a benchmark: 0 when it ran (a goal missed is a "goal missed:" line, not a failure), non-zero
# when it could not run or a correctness check failed.

BENCH_SMOKE=${EX7_BENCH_SMOKE:-0}
W=
PIDS=()
BENCH_DB=

# smoke FULL SMOKE: prints FULL, or SMOKE in smoke mode (sizes, durations, counts).
smoke() { if [ "$BENCH_SMOKE" = 1 ]; then echo "$2"; else echo "$1"; fi; }

# bench_begin NAME: the benchmark's own database and work directory, removed again on exit.
bench_begin() {
	local db=ex7_bench_$1
	W=$(mktemp -d "/tmp/ex7-bench-$1.XXXXXX")
	trap bench_end EXIT
	trap 'exit 130' INT
	trap 'exit 143' TERM
	psql -X -q -d postgres -v ON_ERROR_STOP=1 -c "SET client_min_messages = warning" \
		-c "DROP DATABASE IF EXISTS $db WITH (FORCE)" -c "CREATE DATABASE $db" >/dev/null || exit 1
	BENCH_DB=$db
	export PGDATABASE=$db
	psql -X -q -v ON_ERROR_STOP=1 -c "CREATE EXTENSION ex7" >/dev/null || exit 1
	[ "$BENCH_SMOKE" = 1 ] && echo "$1: smoke mode (tiny sizes, goals not judged)"
	return 0
}

# bench_mes_walk N: N MES 1-minute bars from 2023-01-02 00:01 UTC, a seeded random walk on the tick grid
# (0.25), written directly as an import would; their blocks (what the backtest reads) follow by a sync
# (docs/market.md). The bars of bench_backtest.sh and bench_studies.sh.
bench_mes_walk() {
	psql -X -q -v ON_ERROR_STOP=1 >/dev/null <<SQL
SELECT setseed(0.5);
INSERT INTO ex7.bars (instrument, timeframe, ts, open, high, low, close, volume)
SELECT 'MES', '1m', ts, o, greatest(o, c) + 0.25 * (g % 3), least(o, c) - 0.25 * (g % 2), c, 10
  FROM (SELECT g, ts, c, lag(c, 1, c) OVER (ORDER BY g) AS o
          FROM (SELECT g, timestamptz '2023-01-02 00:00+00' + g * interval '1 minute' AS ts,
                       4000 + 0.25 * sum(floor(random() * 9)::int - 4) OVER (ORDER BY g) AS c
                  FROM generate_series(1, $1) g) w) b;
SELECT ex7._bar_blocks_sync('MES', '1m', '-infinity', 'infinity');
ANALYZE ex7.bars;
SQL
}

# bench_sma_crossover USER NAME: creates USER's ten-node SMA 10/30 crossover on MES 1m (long and short
# entries, stops and a long target) named NAME; prints its id. The strategy of bench_backtest.sh and
# bench_studies.sh.
bench_sma_crossover() {
	psql -X -q -v ON_ERROR_STOP=1 -tA -c "SELECT ex7.create_strategy('$1', '{\"name\": \"$2\", \"instrument\": \"MES\", \"timeframe\": \"1m\", \"graph\": {
  \"nodes\": [{\"id\": \"c\", \"type\": \"close\"},
            {\"id\": \"f\", \"type\": \"sma\", \"params\": {\"period\": 10}}, {\"id\": \"s\", \"type\": \"sma\", \"params\": {\"period\": 30}},
            {\"id\": \"up\", \"type\": \"crosses_above\"}, {\"id\": \"dn\", \"type\": \"crosses_below\"},
            {\"id\": \"long\", \"type\": \"enter_long\"}, {\"id\": \"short\", \"type\": \"enter_short\"},
            {\"id\": \"ls\", \"type\": \"stop_loss_ticks\", \"params\": {\"ticks\": 12}},
            {\"id\": \"lt\", \"type\": \"take_profit_ticks\", \"params\": {\"ticks\": 24}},
            {\"id\": \"ss\", \"type\": \"stop_loss_ticks\", \"params\": {\"ticks\": 16}}],
  \"edges\": [{\"from\": \"c\", \"to\": \"f\"}, {\"from\": \"c\", \"to\": \"s\"},
            {\"from\": \"f\", \"to\": \"up\", \"port\": \"a\"}, {\"from\": \"s\", \"to\": \"up\", \"port\": \"b\"},
            {\"from\": \"f\", \"to\": \"dn\", \"port\": \"a\"}, {\"from\": \"s\", \"to\": \"dn\", \"port\": \"b\"},
            {\"from\": \"up\", \"to\": \"long\"}, {\"from\": \"dn\", \"to\": \"short\"},
            {\"from\": \"long\", \"to\": \"ls\"}, {\"from\": \"long\", \"to\": \"lt\"}, {\"from\": \"short\", \"to\": \"ss\"}]}}') ->> 'id'"
}

# bench_end: the EXIT trap. Stops the benchmark's processes, drops its database, removes $W; keeps the
# exit status.
bench_end() {
	local rc=$? p
	trap - EXIT INT TERM
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
	for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
	if [ -n "$BENCH_DB" ]; then
		psql -X -q -d postgres -c "SET client_min_messages = warning" \
			-c "DROP DATABASE IF EXISTS $BENCH_DB WITH (FORCE)" >/dev/null 2>&1 ||
			{ echo "could not drop database $BENCH_DB"; [ "$rc" = 0 ] && rc=1; }
	fi
	[ -n "$W" ] && rm -rf "$W"
	exit "$rc"
}

# bench_goal TEXT AWK_CONDITION [VAR=VALUE ...]: judges one speed goal and prints one line, "goal met: TEXT"
# or "goal missed: TEXT" (bench/run.sh lists the misses at the end); in smoke mode "goal not judged (smoke):
# TEXT". Never fails the benchmark: a goal missed is a result, not a failure to run.
bench_goal() {
	local text=$1 cond=$2 args=() a
	shift 2
	for a in "$@"; do args+=(-v "$a"); done
	if [ "$BENCH_SMOKE" = 1 ]; then
		echo "goal not judged (smoke): $text"
	elif awk "${args[@]}" "BEGIN { exit !($cond) }"; then
		echo "goal met: $text"
	else
		echo "goal missed: $text"
	fi
}

# bench_fail TEXT: a correctness check failed (wrong results, missing events, refusals measured instead of
# work): the benchmark's numbers mean nothing, so it stops with a failure, in smoke mode too. The message
# goes to stderr, so that it is seen when raised inside $(...) too.
bench_fail() {
	echo "FAILED: $1" >&2
	exit 1
}

# free_tcp_port: a TCP port on 127.0.0.1 that nobody listens on now.
free_tcp_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# ex7d_exec VAR=VALUE... [-- ARGS]: replaces the calling (sub)shell with http/ex7d ARGS against the benchmark's
# database, with the given settings and no other EX7_* variable (ex7d refuses unknown ones, and
# EX7_BENCH_SMOKE is ours). Run it in the background: `ex7d_exec ... &` then PIDS+=($!).
ex7d_exec() {
	local unset=() sets=() v
	for v in $(compgen -e | grep '^EX7_' || true); do unset+=(-u "$v"); done
	while [ $# -gt 0 ] && [ "$1" != -- ]; do sets+=("$1"); shift; done
	[ "${1:-}" = -- ] && shift
	exec env "${unset[@]}" "${sets[@]}" DATABASE_URL="host=$PGHOST port=$PGPORT dbname=$PGDATABASE user=$PGUSER" \
		http/ex7d "$@"
}

# start_ex7d LOG VAR=VALUE...: starts the HTTP server with the given settings (EX7_LISTEN among them) in the
# background (ex7d_exec), adds it to PIDS, sets EX7D_PID and waits until /api/health answers.
start_ex7d() {
	local log=$1 listen= v
	shift
	for v in "$@"; do case "$v" in EX7_LISTEN=*) listen=${v#EX7_LISTEN=} ;; esac; done
	ex7d_exec "$@" >/dev/null 2>"$log" &
	EX7D_PID=$!
	PIDS+=("$EX7D_PID")
	for _ in $(seq 1 100); do
		curl -s -o /dev/null "http://$listen/api/health" && return 0
		kill -0 "$EX7D_PID" 2>/dev/null || break
		sleep 0.1
	done
	echo "ex7d did not start:"
	cat "$log"
	return 1
}
