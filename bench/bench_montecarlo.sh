#!/usr/bin/env bash
# bench/bench_montecarlo.sh: the Monte Carlo of a backtest's trades (run by bench/run.sh; docs/performance.md,
# "Monte Carlo", and docs/research.md). A finished backtest of TRADES trades (net P&L a fixed pseudo-random
# series; the backtest and its trade chunk are written directly: a run that yields exactly these trades would
# need a strategy and bars made to measure, and the Monte Carlo reads only the trades).
# Side by side in one session, alternated three times, each side's best run counting:
#   one pass:  SELECT sum(net_pnl) over the backtest's trades (ex7.backtest_trades): the least any computation
#              over the trades in SQL costs;
#   one run:   ex7.monte_carlo with runs 1 (the fixed cost: reading the trades, the JSON answer);
#   bootstrap: ex7.monte_carlo with RUNS bootstrap runs; shuffle: the same with RUNS shuffles.
# Reported: the cost of a simulated run, (bootstrap - one run) / (RUNS - 1), against the one SQL pass.
# Goal: a simulated run of the trades costs at most a tenth of one SQL pass over them (>= 10 runs a pass).
# Memory: the backend's peak resident memory (VmHWM of /proc/self/status) in a fresh session after 1,000 runs
# and after the most runs the bound allows (10^8 / TRADES, at most 100,000): what is kept per run is 2 doubles
# and the fan's values, at most 2^21 (docs/research.md), never runs x trades doubles.
# Goal: the peak grows by at most 24 MB from 1,000 runs to the most (runs x trades doubles would be 800 MB).
# Correctness (a failure stops the run): the shuffle's final equity is the backtest's, in every percentile;
# the same seed gives the same answer.
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh
q() { psql -X -q -v ON_ERROR_STOP=1 "$@"; }
TRADES=${MC_TRADES:-$(smoke 1000 100)}
RUNS=${MC_RUNS:-$(smoke 10000 200)}
MAXRUNS=$((100000000 / TRADES))
[ "$MAXRUNS" -gt 100000 ] && MAXRUNS=100000
U=00000000-0000-4000-8000-9d00000000b1
bench_begin montecarlo

BT=$(q -tA <<SQL
SELECT ex7.ensure_user('$U') IS NOT NULL;
SELECT (ex7.create_strategy('$U', '{"name": "bench monte carlo", "instrument": "MES", "timeframe": "5m"}') ->> 'id') AS s \gset
INSERT INTO ex7.backtests (user_id, strategy_id, strategy_version, instrument, timeframe, range_from, range_to, params, status)
VALUES ('$U', :'s', 1, 'MES', '5m', '2026-01-05 00:00+00', '2026-06-05 00:00+00', '{"initial_capital": "10000.00"}', 'done')
RETURNING id \gset
INSERT INTO ex7.backtest_trade_chunks (backtest_id, first_seq, user_id, side, quantity, entry_time, entry_price, stop_price,
                                       target_price, exit_time, exit_price, exit_reason, gross_pnl, slippage_cost, commission,
                                       net_pnl, mae, mfe)
SELECT :'id', 1, '$U', array_agg('long'::text ORDER BY i), array_agg(1 ORDER BY i),
       array_agg(timestamptz '2026-01-05' + i * interval '1 hour' ORDER BY i), array_agg(5000.00 ORDER BY i),
       array_agg(NULL::numeric ORDER BY i), array_agg(NULL::numeric ORDER BY i),
       array_agg(timestamptz '2026-01-05 00:30' + i * interval '1 hour' ORDER BY i), array_agg(5000.00 ORDER BY i),
       array_agg('exit_signal'::text ORDER BY i), array_agg(p ORDER BY i), array_agg(0.00 ORDER BY i), array_agg(0.00 ORDER BY i),
       array_agg(p ORDER BY i), array_agg(0.00 ORDER BY i), array_agg(0.00 ORDER BY i)
  FROM (SELECT i, round((((i * 7919) % 101) - 48) * 2.5, 2) AS p FROM generate_series(1, $TRADES) i) t;
SELECT :'id';
SQL
)
BT=$(echo "$BT" | tail -1)

# correctness first: a shuffle keeps the final equity; a seed gives one answer
check=$(q -tA -c "SELECT (r -> 'final_equity' ->> 'p5') = (r -> 'observed' ->> 'final_equity')
                         AND (r -> 'final_equity' ->> 'p95') = (r -> 'observed' ->> 'final_equity')
                  FROM ex7.monte_carlo('$U', '$BT', '{\"runs\": 200, \"seed\": 3}') r")
[ "$check" = t ] || bench_fail "a shuffle changed the final equity"
check=$(q -tA -c "SELECT ex7.monte_carlo('$U', '$BT', '{\"method\": \"bootstrap\", \"runs\": 200, \"seed\": 3}')
                       = ex7.monte_carlo('$U', '$BT', '{\"method\": \"bootstrap\", \"runs\": 200, \"seed\": 3}')")
[ "$check" = t ] || bench_fail "the same seed gave two answers"

# one session per round: the four timings, in milliseconds, after one untimed call of each statement (the
# session's first call of a function plans and compiles it)
round() {
	q -tA <<SQL | sed -n 's/^Time: \([0-9.]*\) ms.*/\1/p' | tr '\n' ' '
SELECT sum(net_pnl) IS NOT NULL FROM ex7.backtest_trades WHERE user_id = '$U' AND backtest_id = '$BT';
SELECT ex7.monte_carlo('$U', '$BT', '{"runs": 1}') IS NOT NULL;
\timing on
SELECT sum(net_pnl) IS NOT NULL FROM ex7.backtest_trades WHERE user_id = '$U' AND backtest_id = '$BT';
SELECT ex7.monte_carlo('$U', '$BT', '{"runs": 1}') IS NOT NULL;
SELECT ex7.monte_carlo('$U', '$BT', '{"method": "bootstrap", "runs": $RUNS, "seed": 7}') IS NOT NULL;
SELECT ex7.monte_carlo('$U', '$BT', '{"method": "shuffle", "runs": $RUNS, "seed": 7}') IS NOT NULL;
SQL
}
# warm the cache, then three rounds
round >/dev/null
best_pass= best_one= best_boot= best_shuf=
min() { awk -v a="$1" -v b="$2" 'BEGIN { print (b == "" || a < b) ? a : b }'; }
for r in 1 2 3; do
	read -r pass one boot shuf <<<"$(round)"
	echo "round $r: one SQL pass $pass ms, one run $one ms, $RUNS bootstrap runs $boot ms, $RUNS shuffles $shuf ms"
	best_pass=$(min "$pass" "$best_pass"); best_one=$(min "$one" "$best_one")
	best_boot=$(min "$boot" "$best_boot"); best_shuf=$(min "$shuf" "$best_shuf")
	[ "$BENCH_SMOKE" = 1 ] && break
done
# the cost of one simulated run: the runs' time less the fixed cost of a call (at least 0.1 us: smoke sizes)
per() { awk -v b="$1" -v o="$best_one" -v n="$RUNS" 'BEGIN { v = (b - o) / (n - 1); printf "%.4f", (v > 0.0001) ? v : 0.0001 }'; }
per_run=$(per "$best_boot")
per_shuf=$(per "$best_shuf")
ratio=$(awk -v p="$best_pass" -v r="$per_run" 'BEGIN { printf "%.1f", p / r }')
ratio_shuf=$(awk -v p="$best_pass" -v r="$per_shuf" 'BEGIN { printf "%.1f", p / r }')
echo "Monte Carlo of $TRADES trades:"
echo "  one SQL pass over the trades: $best_pass ms; ex7.monte_carlo with one run: $best_one ms"
echo "  $RUNS bootstrap runs: $best_boot ms, $per_run ms a run: ${ratio} runs in the time of one SQL pass"
echo "  $RUNS shuffles: $best_shuf ms, $per_shuf ms a run: ${ratio_shuf} runs in the time of one SQL pass"
bench_goal "a bootstrap run of $TRADES trades costs 1/${ratio} of one SQL pass over them (>= 10 runs a pass)" 'r >= 10' r="$ratio"

# memory: the peak resident memory of a fresh backend after few and after the most runs
peak() {
	q -tA <<SQL | tail -1
SELECT ex7.monte_carlo('$U', '$BT', '{"method": "bootstrap", "runs": $1}') IS NOT NULL;
SELECT substring(pg_read_file('/proc/self/status') FROM 'VmHWM:\s+(\d+) kB');
SQL
}
mem_few=$(peak 1000)
mem_most=$(peak "$MAXRUNS")
grow=$(awk -v a="$mem_most" -v b="$mem_few" 'BEGIN { printf "%.1f", (a - b) / 1024 }')
naive=$(awk -v r="$MAXRUNS" -v t="$TRADES" 'BEGIN { printf "%.0f", r * t * 8 / 1048576 }')
echo "  peak backend memory (VmHWM): 1000 runs $mem_few kB, $MAXRUNS runs $mem_most kB: +$grow MB (runs x trades doubles: $naive MB)"
bench_goal "the peak memory grows by $grow MB from 1000 to $MAXRUNS runs (<= 24 MB)" 'g <= 24' g="$grow"
