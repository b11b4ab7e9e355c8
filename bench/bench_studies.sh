#!/usr/bin/env bash
# bench/bench_studies.sh: parameter studies on background workers (run by bench/run.sh; the goals in
# docs/performance.md, "Studies"; docs/research.md, "Studies"). MES 1-minute bars (a seeded random walk on the
# 0.25 grid, as bench_backtest.sh) and the SMA crossover of bench_backtest.sh; a 100-trial grid on it:
#   f.period 5..14 (10 values) x s.period 20, 25, ..., 65 (10 values), evaluation fast.
# Side by side in one run, one cluster, baselines measured in the same run:
#   single:   one backtest of the same strategy over the same bars (inline, ex7.backtest_strategy p_sync): its
#             bars per second (the result's, reading the bars to storing the result).
#   1 worker: the grid with the tier's study_workers_max at 1: bars per second per worker = the trials' bars /
#             the study's wall time (created to finished: claims, runs, metrics, events, the summary with its
#             deflated Sharpe and PBO included).
#   2 workers: the same grid with study_workers_max at 2 (a study of its own, the same trials). The speedup is
#             judged over the trials (created to the last trial recorded); the summary after them (the
#             statistics over all trials, one worker) is printed with it, and timed alone.
#   The 1-worker and 2-worker studies run ROUNDS times (3), alternately; the fastest of each counts, the
#   run least disturbed by whatever else shares the two cores (every time is printed).
#   The trials keep no trades (the default, docs/research.md "Studies"); for comparison, not judged, the
#   same grid with keep_trades (every trial storing its trades, as the single backtest does) once with
#   each number of workers.
# Goals (the requirement): per-worker bars/s of the 1-worker study >= 0.9x the single backtest's; the 2-worker
# study >= 1.7x the 1-worker one (this machine has 2 cores, shared). The machine's own ceiling is measured
# beside it: two single backtests at once in two sessions against one.
# Memory: each study worker's private memory (RssAnon of /proc/PID/status, sampled every 0.2 s while trials
# remain, the largest; the summary, a matrix of trials x days, is the last trial's and timed apart) for 100 trials over a tenth of the bars, 100 trials over all of them, and 10 trials over all
# of them: it must not grow with the bars or the trials (within 25%).
# Correctness: every trial done, and the 2-worker study's trials equal the 1-worker study's (values, trades,
# net P&L); a difference fails the run.
# STUDY_BARS overrides the size (the full goal is 1,000,000 bars: docs/performance.md says which size ran).
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh
q() { psql -X -q -v ON_ERROR_STOP=1 "$@"; }
N=${STUDY_BARS:-$(smoke 1000000 5000)}
U=00000000-0000-4000-8000-5d00000000b1
bench_begin studies

bench_mes_walk "$N"
q >/dev/null <<SQL
SELECT ex7.ensure_user('$U');
SQL
S=$(bench_sma_crossover "$U" "SMA study")
TO_ALL=2030-01-01T00:00:00Z
TO_TENTH=$(q -tA -c "SELECT to_char(ts AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"') FROM ex7.bars
                      WHERE instrument = 'MES' AND timeframe = '1m' ORDER BY ts OFFSET $((N / 10 - 1)) LIMIT 1")
SPACE100='{"parameters": {"f.period": {"min": 5, "max": 14, "step": 1}, "s.period": {"min": 20, "max": 65, "step": 5}}}'
SPACE10='{"parameters": {"f.period": {"min": 5, "max": 14, "step": 1}, "s.period": {"values": [30]}}}'

# the tier cap of study workers: the user's tier (free) set to 1 or 2 workers and 1000 trials
workers() { q -tA -c "SELECT ex7.set_tier_caps('free', '{\"study_workers_max\": $1, \"study_trials_max\": 1000}') IS NULL" >/dev/null; }

# study TO SPACE [FIELDS]: creates the study (background workers, as over HTTP; FIELDS: more body fields,
# each followed by a comma), waits for it to finish while sampling its workers' private memory; prints
# "id wall_ms trials_ms bars trials max_rss_kB workers_seen" (trials_ms: created to the last trial recorded,
# before the summary). The wait is one session sampling every 0.2 s inside the server: a client process
# started at each sample would take CPU from the workers, and from two workers more than from one.
study() {
	local id
	id=$(q -tA -c "SELECT ex7.create_study('$U', '$S', '{${3:-} \"from\": \"2023-01-01T00:00:00Z\", \"to\": \"$1\",
	         \"evaluation\": \"fast\", \"initial_capital\": \"1000000\", \"objective\": {\"metric\": \"sharpe\"}, \"space\": $2}') ->> 'id'")
	q -tA -F ' ' <<SQL || bench_fail "study $id did not finish"
SET client_min_messages = warning;
CREATE TEMP TABLE watched (rss integer, seen integer);
DO \$\$
DECLARE
    v_status text;
    v_rss integer;
    v_n integer;
    v_peak integer := 0;
    v_seen integer := 0;
BEGIN
    LOOP
        PERFORM pg_stat_clear_snapshot();
        SELECT status INTO v_status FROM ex7.studies WHERE id = '$id';
        -- sampled while trials remain: the last trial's transaction also computes the summary (the statistics
        -- over every trial's daily returns: a matrix of trials x days), measured apart (summary_ms)
        SELECT coalesce(max(substring(pg_read_file('/proc/' || pid || '/status') FROM 'RssAnon:\s+(\d+) kB')::int)
                        FILTER (WHERE (SELECT trials_done < trials_total - 1 FROM ex7.studies WHERE id = '$id')), 0),
               count(*)
          INTO v_rss, v_n
          FROM pg_stat_activity WHERE backend_type = 'ex7 study';
        v_peak := greatest(v_peak, v_rss);
        v_seen := greatest(v_seen, v_n);
        EXIT WHEN v_status NOT IN ('queued', 'running');
        PERFORM pg_sleep(0.2);
    END LOOP;
    IF v_status <> 'done' THEN
        RAISE EXCEPTION 'study % ended %', '$id', v_status;
    END IF;
    INSERT INTO watched VALUES (v_peak, v_seen);
END
\$\$;
SELECT '$id', round(extract(epoch FROM s.finished_at - s.created_at) * 1000),
       round(extract(epoch FROM (SELECT max(t.finished_at) FROM ex7.study_trials t
                                  WHERE t.user_id = s.user_id AND t.study_id = s.id) - s.created_at) * 1000),
       (SELECT sum((t.metrics ->> 'bars')::bigint) FROM ex7.study_trials t
         WHERE t.user_id = s.user_id AND t.study_id = s.id AND t.status = 'done'),
       s.trials_done, w.rss, w.seen
  FROM ex7.studies s, watched w WHERE s.user_id = '$U' AND s.id = '$id';
SQL
}
# wait until no study worker is left (a worker exits when nothing is pending)
idle() { for _ in $(seq 1 200); do [ "$(q -tA -c "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'ex7 study'")" = 0 ] && return; sleep 0.1; done; }

# the single backtest: a warm-up on a small range, then the whole range inline; bars/s as the result says
q -tA -c "SELECT ex7.backtest_strategy('$U', '$S', '{\"from\": \"2023-01-02T00:00:00Z\", \"to\": \"2023-01-03T00:00:00Z\"}', true) IS NULL" >/dev/null
single() { q -tA -F ' ' -c "SELECT r ->> 'bars', r ->> 'bars_per_second', r ->> 'trades'
    FROM (SELECT ex7.backtest_strategy('$U', '$S', '{\"from\": \"2023-01-01T00:00:00Z\", \"to\": \"$TO_ALL\", \"evaluation\": \"fast\", \"initial_capital\": \"1000000\"}', true) -> 'result' AS r) x"; }
read -r bars single_bps trades <<<"$(single)"
# the machine's own ceiling for two processes: the same run alone, then two at once in two sessions (wall
# times); on shared cores this bounds what two workers can reach
wall() { local t0 t1; t0=$(date +%s%N); "$@" >/dev/null; t1=$(date +%s%N); echo $(( (t1 - t0) / 1000000 )); }
# the run alone (ex7._backtest_exec of a new row: what a worker runs per trial, without the answer's JSON)
run() { q -tA -c "SELECT ex7._backtest_exec('$U', (ex7._backtest_create(s, s.current_version, '2023-01-01T00:00:00Z', '$TO_ALL',
                    '{\"evaluation\": \"fast\", \"initial_capital\": \"1000000\"}', 'user')).id) IS NULL
                    FROM ex7.strategies s WHERE s.user_id = '$U' AND s.id = '$S'"; }
one_ms=$(wall run)
two_ms=$(wall bash -c "$(declare -f q run); U=$U S=$S TO_ALL=$TO_ALL; run & run & wait")
pair=$(awk -v a="$one_ms" -v b="$two_ms" 'BEGIN { printf "%.2f", 2 * a / b }')

# ROUNDS alternate runs of the 1-worker and the 2-worker study; the fastest of each counts (its values kept)
ROUNDS=$(smoke 3 1)
tr1=0 tr2=0 times1= times2=
for _ in $(seq 1 "$ROUNDS"); do
	workers 1
	read -r i w t b n r sn <<<"$(study "$TO_ALL" "$SPACE100")"
	idle
	times1="$times1 $t"
	if [ "$tr1" = 0 ] || [ "$t" -lt "$tr1" ]; then id1=$i wall1=$w tr1=$t bars1=$b n1=$n rss1=$r seen1=$sn; fi
	workers 2
	read -r i w t b n r sn <<<"$(study "$TO_ALL" "$SPACE100")"
	idle
	times2="$times2 $t"
	if [ "$tr2" = 0 ] || [ "$t" -lt "$tr2" ]; then id2=$i wall2=$w tr2=$t bars2=$b n2=$n rss2=$r seen2=$sn; fi
done
read -r _ single_bps2 _ <<<"$(single)"		# again after the studies: the machine's state on both sides
# for comparison, not judged: every trial keeping its trades (what the single backtest stores)
workers 1
read -r _ _ keep_tr1 keep_bars1 _ _ _ <<<"$(study "$TO_ALL" "$SPACE100" '"keep_trades": true,')"
idle
workers 2
read -r _ _ keep_tr2 _ _ _ _ <<<"$(study "$TO_ALL" "$SPACE100" '"keep_trades": true,')"
idle
# memory against bars and trials (1 worker each)
workers 1
read -r _ _ _ _ _ rss_tenth _ <<<"$(study "$TO_TENTH" "$SPACE100")"
idle
read -r _ _ _ _ n10 rss_ten_trials _ <<<"$(study "$TO_ALL" "$SPACE10")"
idle

# the trials of both studies must be the same runs
same=$(q -tA -c "SELECT (SELECT jsonb_agg(jsonb_build_array(trial_no, \"values\", metrics -> 'trades', metrics -> 'net_pnl') ORDER BY trial_no)
                           FROM ex7.study_trials WHERE user_id = '$U' AND study_id = '$id1')
                      = (SELECT jsonb_agg(jsonb_build_array(trial_no, \"values\", metrics -> 'trades', metrics -> 'net_pnl') ORDER BY trial_no)
                           FROM ex7.study_trials WHERE user_id = '$U' AND study_id = '$id2')")
[ "$n1" = 100 ] && [ "$n2" = 100 ] || bench_fail "trials done: $n1 and $n2 of 100"
[ "$same" = t ] || bench_fail "the 2-worker study's trials differ from the 1-worker study's"

# the summary alone (statistics over the 100 trials), timed again in this session, and its memory
summary_ms=$(q -c '\timing on' -tA -c "SELECT ex7._study_summary('$U', '$id1') IS NULL" | sed -n 's/^Time: \([0-9.]*\) ms.*/\1/p')
best_single=$(awk -v a="$single_bps" -v b="$single_bps2" 'BEGIN { printf "%.0f", (a > b ? a : b) }')
per_worker1=$(awk -v b="$bars1" -v ms="$wall1" 'BEGIN { printf "%.0f", b / (ms / 1000) }')
per_worker2=$(awk -v b="$bars2" -v ms="$tr2" 'BEGIN { printf "%.0f", b / (ms / 1000) / 2 }')
speedup=$(awk -v a="$tr1" -v b="$tr2" 'BEGIN { printf "%.2f", a / b }')
speedup_all=$(awk -v a="$wall1" -v b="$wall2" 'BEGIN { printf "%.2f", a / b }')
ratio1=$(awk -v a="$per_worker1" -v b="$best_single" 'BEGIN { printf "%.2f", a / b }')
keep_per_worker1=$(awk -v b="$keep_bars1" -v ms="$keep_tr1" 'BEGIN { printf "%.0f", b / (ms / 1000) }')
keep_ratio1=$(awk -v a="$keep_per_worker1" -v b="$best_single" 'BEGIN { printf "%.2f", a / b }')
keep_speedup=$(awk -v a="$keep_tr1" -v b="$keep_tr2" 'BEGIN { printf "%.2f", a / b }')
echo "100-trial grid over $bars 1-minute bars (ten-node SMA crossover, evaluation fast; the single backtest: $trades trades):"
echo "  single backtest: $single_bps and $single_bps2 bars/s (before and after the 1-worker study; the better one counts)"
echo "  1 worker:  $n1 trials, $bars1 bars in $wall1 ms (the trials $tr1 ms): $per_worker1 bars/s per worker over the whole study (${ratio1}x the single backtest); workers seen $seen1"
echo "  2 workers: $n2 trials, $bars2 bars in $wall2 ms (the trials $tr2 ms): $per_worker2 bars/s per worker over the trials, ${speedup}x the 1-worker study's trials (${speedup_all}x over the whole study); workers seen $seen2"
echo "  the trials' times of the $ROUNDS rounds (the fastest counts): 1 worker$times1 ms; 2 workers$times2 ms"
echo "  with keep_trades (not judged): 1 worker $keep_tr1 ms for the trials ($keep_per_worker1 bars/s, ${keep_ratio1}x the single backtest), 2 workers $keep_tr2 ms (${keep_speedup}x)"
echo "  two runs of the single backtest at once in two sessions: ${pair}x the throughput of one ($two_ms ms for both, $one_ms ms for one): the machine's ceiling for 2 processes"
echo "  the summary (deflated Sharpe, PBO over 100 trials' daily returns), run again alone: $summary_ms ms"
echo "  worker private memory (largest sample): 100 trials x $((N / 10)) bars $rss_tenth kB, 100 trials x $bars bars $rss1 kB" \
	"(2 workers: $rss2 kB), $n10 trials x $bars bars $rss_ten_trials kB"
bench_goal "bars/s per worker of the 1-worker study ${ratio1}x a single backtest's (>= 0.9x)" 'a / b >= 0.9' a="$per_worker1" b="$best_single"
bench_goal "2 workers ${speedup}x 1 worker over the trials (>= 1.7x; ${speedup_all}x with the summary)" 'a / b >= 1.7' a="$tr1" b="$tr2"
bench_goal "worker memory flat in the bars: $rss1 kB for $bars bars, $rss_tenth kB for $((N / 10)) (within 25%)" 'm2 <= 1.25 * m1' \
	m1="$rss_tenth" m2="$rss1"
bench_goal "worker memory flat in the trials: $rss1 kB for 100 trials, $rss_ten_trials kB for $n10 (within 25%)" 'm2 <= 1.25 * m1' \
	m1="$rss_ten_trials" m2="$rss1"
