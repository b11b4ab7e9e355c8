-- sql/walk_forward.sql: walk-forward studies (ext/sql/89_studies.sql, docs/research.md "Walk-forward"): the
-- window arithmetic, rolling and anchored; a walk-forward run inline: each window optimised in sample, its best
-- feasible values tested out of sample; the stitched out-of-sample curve continuous and ending at the sum of
-- the windows' out-of-sample P&L; the efficiency on hand cases and on the run.
-- Users 00000000-0000-4000-8000-5c00000000NN. Bars: YM 1h of 2025-05 and 2025-06 (no other test file uses the
-- series), a scripted walk on the tick grid.
\set u1 '00000000-0000-4000-8000-5c0000000001'
\set u2 '00000000-0000-4000-8000-5c0000000002'
SELECT ex7.ensure_user(:'u1') IS NOT NULL AS u1, ex7.ensure_user(:'u2') IS NOT NULL AS u2;

-- windows over 30 days: 10 in sample, 5 out, step 5
SELECT 'rolling' AS mode, window_no, (is_from AT TIME ZONE 'UTC')::date AS is_from, (is_to AT TIME ZONE 'UTC')::date AS is_to, (oos_from AT TIME ZONE 'UTC')::date AS oos_from, (oos_to AT TIME ZONE 'UTC')::date AS oos_to
  FROM ex7._study_windows('rolling', '2025-05-01Z', '2025-05-31Z', 10, 5, 5)
UNION ALL
SELECT 'anchored', window_no, (is_from AT TIME ZONE 'UTC')::date AS is_from, (is_to AT TIME ZONE 'UTC')::date AS is_to, (oos_from AT TIME ZONE 'UTC')::date AS oos_from, (oos_to AT TIME ZONE 'UTC')::date AS oos_to
  FROM ex7._study_windows('anchored', '2025-05-01Z', '2025-05-31Z', 10, 5, 5)
ORDER BY 1 DESC, 2;
-- a step longer than the out-of-sample part leaves gaps; only whole windows
SELECT window_no, (is_from AT TIME ZONE 'UTC')::date AS is_from, (oos_from AT TIME ZONE 'UTC')::date AS oos_from, (oos_to AT TIME ZONE 'UTC')::date AS oos_to FROM ex7._study_windows('rolling', '2025-05-01Z', '2025-05-31Z', 7, 3, 8);
SELECT count(*) AS none_fits FROM ex7._study_windows('rolling', '2025-05-01Z', '2025-05-10Z', 7, 3, 3);

-- the efficiency: (oos net / oos days) / (is net / is days); null unless in sample made money
SELECT ex7._walk_forward_efficiency(1000, 10, 500, 5) AS same_rate,
       ex7._walk_forward_efficiency(1000, 10, 100, 5) AS a_fifth,
       ex7._walk_forward_efficiency(1000, 10, -200, 5) AS oos_loss,
       ex7._walk_forward_efficiency(1000, 10, 0, 5) AS oos_flat,
       ex7._walk_forward_efficiency(0, 10, 500, 5) AS is_flat,
       ex7._walk_forward_efficiency(-1000, 10, -500, 5) AS both_lost;

-- 1h bars on the Globex session from Sunday 2025-05-04 18:00 New York to the end of June
SELECT count(ex7.ingest_bar('YM', '1h', w.ts, w.o, w.h, w.l, w.c, 100, false)) AS bars
  FROM (WITH t AS (SELECT row_number() OVER (ORDER BY ts)::int AS g, ts
                     FROM generate_series(timestamptz '2025-05-05 00:00+00', '2025-06-30 00:00+00', interval '1 hour') ts
                    WHERE NOT ((ts AT TIME ZONE 'America/New_York')::time > '17:00'
                               AND (ts AT TIME ZONE 'America/New_York')::time <= '18:00')
                      AND EXTRACT(isodow FROM ts AT TIME ZONE 'America/New_York') <> 6
                      AND NOT (EXTRACT(isodow FROM ts AT TIME ZONE 'America/New_York') = 5
                               AND (ts AT TIME ZONE 'America/New_York')::time > '17:00')
                      AND NOT (EXTRACT(isodow FROM ts AT TIME ZONE 'America/New_York') = 7
                               AND (ts AT TIME ZONE 'America/New_York')::time <= '18:00')),
             s AS (SELECT g, ts, ((g * 7919) % 23 - 11) + CASE WHEN (g / 40) % 2 = 0 THEN 5 ELSE -4 END AS step FROM t),
             c AS (SELECT g, ts, 41000 + sum(step) OVER (ORDER BY g) AS c FROM s)
        SELECT g, ts, lag(c, 1, c) OVER (ORDER BY g) AS o, c,
               greatest(lag(c, 1, c) OVER (ORDER BY g), c) + (g * 31) % 7 AS h,
               least(lag(c, 1, c) OVER (ORDER BY g), c) - (g * 17) % 7 AS l
          FROM c ORDER BY g) w;

SELECT (ex7.create_strategy(:'u1', '{"name": "WF SMA", "instrument": "YM", "timeframe": "1h", "graph": {
  "nodes": [{"id": "c", "type": "close"},
            {"id": "fast", "type": "sma", "params": {"period": 3}}, {"id": "slow", "type": "sma", "params": {"period": 10}},
            {"id": "up", "type": "crosses_above"}, {"id": "dn", "type": "crosses_below"},
            {"id": "long", "type": "enter_long"}, {"id": "short", "type": "enter_short"},
            {"id": "ls", "type": "stop_loss_ticks", "params": {"ticks": 40}}],
  "edges": [{"from": "c", "to": "fast"}, {"from": "c", "to": "slow"},
            {"from": "fast", "to": "up", "port": "a"}, {"from": "slow", "to": "up", "port": "b"},
            {"from": "fast", "to": "dn", "port": "a"}, {"from": "slow", "to": "dn", "port": "b"},
            {"from": "up", "to": "long"}, {"from": "dn", "to": "short"}, {"from": "long", "to": "ls"}]}}') ->> 'id') AS s1 \gset

-- rolling: 14 days in sample, 7 out, over 2025-05-05 .. 2025-06-30: 6 windows of 4 trials and 1 test each
SELECT ex7.create_study(:'u1', :'s1', '{"from": "2025-05-05T00:00:00Z", "to": "2025-06-30T00:00:00Z", "evaluation": "fast",
    "objective": {"metric": "net_pnl"},
    "space": {"parameters": {"fast.period": {"values": [2, 4]}, "slow.period": {"values": [8, 16]}}},
    "walk_forward": {"mode": "rolling", "in_sample_days": 14, "out_of_sample_days": 7}}', true) AS st \gset
SELECT :'st'::jsonb ->> 'status' AS status, :'st'::jsonb ->> 'kind' AS kind, :'st'::jsonb -> 'progress' AS progress,
       :'st'::jsonb -> 'walk_forward' AS walk_forward, :'st'::jsonb -> 'best' AS best;
SELECT :'st'::jsonb ->> 'id' AS sid \gset
SELECT ex7.get_walk_forward(:'u1', :'sid') AS wf \gset
-- per window: the ranges, the chosen values are the in-sample winner's, the out-of-sample run used them
SELECT (w ->> 'window')::int AS window, ((w -> 'in_sample' ->> 'from')::timestamptz AT TIME ZONE 'UTC')::date AS is_from,
       ((w -> 'out_of_sample' ->> 'from')::timestamptz AT TIME ZONE 'UTC')::date AS oos_from, ((w -> 'out_of_sample' ->> 'to')::timestamptz AT TIME ZONE 'UTC')::date AS oos_to,
       w ->> 'status' AS status, w -> 'values' AS chosen,
       w -> 'values' = (SELECT t."values" FROM ex7.study_trials t WHERE t.study_id = :'sid' AND t.window_no = (w ->> 'window')::int
                          AND t.phase = 'in_sample' ORDER BY t.feasible DESC, t.objective DESC NULLS LAST, t.trial_no LIMIT 1) AS is_winner,
       (SELECT b.graph FROM ex7.backtests b WHERE b.id = (w ->> 'out_of_sample_backtest_id')::uuid)
       = ex7._study_graph((SELECT graph FROM ex7.strategy_versions WHERE strategy_id = :'s1' AND version = 1), w -> 'values') AS oos_ran_them,
       w ->> 'in_sample_net_pnl' AS is_net, w ->> 'out_of_sample_net_pnl' AS oos_net, w ->> 'efficiency' AS efficiency,
       (w ->> 'efficiency')::numeric IS NOT DISTINCT FROM ex7._walk_forward_efficiency((w ->> 'in_sample_net_pnl')::numeric, 14,
                                                                                       (w ->> 'out_of_sample_net_pnl')::numeric, 7) AS efficiency_by_formula
  FROM jsonb_array_elements(:'wf'::jsonb -> 'windows') w;
-- the overall efficiency: total out-of-sample P&L a day over total chosen in-sample P&L a day
SELECT :'wf'::jsonb ->> 'efficiency' AS efficiency,
       (:'wf'::jsonb ->> 'efficiency')::numeric IS NOT DISTINCT FROM
       ex7._walk_forward_efficiency((:'wf'::jsonb ->> 'in_sample_net_pnl')::numeric, 14 * 6,
                                    (:'wf'::jsonb ->> 'out_of_sample_net_pnl')::numeric, 7 * 6) AS by_formula,
       :'wf'::jsonb ->> 'windows_tested' AS windows_tested;
-- the stitched curve: starts at the capital at the first out-of-sample start, in time order, and ends at capital +
-- the sum of what each window's own curve gained (its last point less the capital; the last point is the run's
-- final equity unless a position closed at the end of the range on a bar already sampled, docs/backtests.md)
WITH c AS (SELECT (p ->> 'ts')::timestamptz AS ts, (p ->> 'equity')::numeric AS equity, i
             FROM jsonb_array_elements(:'wf'::jsonb -> 'equity') WITH ORDINALITY AS q (p, i))
SELECT (SELECT equity FROM c WHERE i = 1) AS first_equity, (SELECT ts FROM c WHERE i = 1) AT TIME ZONE 'UTC' AS first_ts,
       (SELECT bool_and(ts >= lag_ts) FROM (SELECT ts, lag(ts) OVER (ORDER BY i) AS lag_ts FROM c) x) AS in_time_order,
       (SELECT equity FROM c ORDER BY i DESC LIMIT 1) - 10000
       = (SELECT sum((SELECT e.equity FROM ex7.backtest_equity e WHERE e.backtest_id = t.backtest_id ORDER BY e.seq DESC LIMIT 1) - 10000)
            FROM ex7.study_trials t WHERE t.study_id = :'sid' AND t.phase = 'out_of_sample') AS ends_at_sum;
-- continuity: every point of window k's own curve appears in the stitched one shifted by the stitched value at
-- window k's start less the capital (no jump at a junction)
SELECT o.window_no,
       (SELECT bool_and(EXISTS (SELECT 1 FROM jsonb_array_elements(:'wf'::jsonb -> 'equity') p
                                 WHERE (p ->> 'ts')::timestamptz = e.ts
                                   AND (p ->> 'equity')::numeric = e.equity + (
                                       SELECT (q ->> 'equity')::numeric FROM jsonb_array_elements(:'wf'::jsonb -> 'equity') q
                                        WHERE (q ->> 'ts')::timestamptz <= o.range_from
                                        ORDER BY (q ->> 'ts')::timestamptz DESC LIMIT 1) - 10000))
          FROM ex7.backtest_equity e WHERE e.backtest_id = o.backtest_id AND e.seq > 1) AS shifted_by_previous_end
  FROM ex7.study_trials o WHERE o.study_id = :'sid' AND o.phase = 'out_of_sample' ORDER BY o.window_no;
-- the out-of-sample runs keep their trades (what the walk-forward traded), the in-sample trials do not
-- (the study did not ask for keep_trades); the out-of-sample trades sum to the window's net P&L
SELECT t.phase, bool_and(b.trades_kept) AS all_kept, bool_or(b.trades_kept) AS any_kept,
       bool_and((SELECT coalesce(sum(x.net_pnl), 0) FROM ex7.backtest_trades x
                  WHERE x.user_id = b.user_id AND x.backtest_id = b.id) = (b.result ->> 'net_pnl')::numeric)
           FILTER (WHERE b.trades_kept) AS kept_trades_sum_to_net
  FROM ex7.study_trials t JOIN ex7.backtests b ON b.user_id = t.user_id AND b.id = t.backtest_id
 WHERE t.study_id = :'sid' GROUP BY t.phase ORDER BY t.phase;
-- the picture
SELECT left(ex7.study_walk_forward_svg(:'u1', :'sid'), 5) AS svg,
       ex7.study_walk_forward_svg(:'u1', :'sid') LIKE '%CFTC Rule 4.41%' AS statement;

-- anchored: every in-sample part starts at from; the efficiency uses each window's own in-sample length
SELECT ex7.create_study(:'u1', :'s1', '{"from": "2025-05-05T00:00:00Z", "to": "2025-06-02T00:00:00Z", "evaluation": "fast",
    "objective": {"metric": "net_pnl", "max_drawdown": "100000"},
    "space": {"parameters": {"fast.period": {"values": [2, 4]}}},
    "walk_forward": {"mode": "anchored", "in_sample_days": 14, "out_of_sample_days": 7}}', true) ->> 'id' AS aid \gset
SELECT (w ->> 'window')::int AS window, ((w -> 'in_sample' ->> 'from')::timestamptz AT TIME ZONE 'UTC')::date AS is_from,
       ((w -> 'in_sample' ->> 'to')::timestamptz AT TIME ZONE 'UTC')::date AS is_to, (w ->> 'in_sample_days')::numeric::int AS is_days, w ->> 'status' AS status
  FROM jsonb_array_elements(ex7.get_walk_forward(:'u1', :'aid') -> 'windows') w;

-- an infeasible in-sample window is not tested: its out-of-sample trial fails with the reason, nothing to stitch
SELECT ex7.create_study(:'u1', :'s1', '{"from": "2025-05-05T00:00:00Z", "to": "2025-05-26T00:00:00Z", "evaluation": "fast",
    "objective": {"metric": "net_pnl", "max_drawdown": "0"},
    "space": {"parameters": {"fast.period": {"values": [2, 4]}}},
    "walk_forward": {"mode": "rolling", "in_sample_days": 14, "out_of_sample_days": 7}}', true) ->> 'id' AS nid \gset
SELECT w ->> 'status' AS status, w ->> 'error' AS error, ex7.get_walk_forward(:'u1', :'nid') -> 'equity' AS equity,
       ex7.get_walk_forward(:'u1', :'nid') ->> 'efficiency' AS efficiency
  FROM jsonb_array_elements(ex7.get_walk_forward(:'u1', :'nid') -> 'windows') w;

-- a grid of 16 trials over 41 weekdays: PBO over the trials' daily returns (CSCV, 16 partitions) and the best
-- trial's deflated Sharpe ratio (docs/research.md)
SELECT ex7.create_study(:'u1', :'s1', '{"from": "2025-05-05T00:00:00Z", "to": "2025-06-30T00:00:00Z", "evaluation": "fast",
    "objective": {"metric": "sharpe"},
    "space": {"parameters": {"fast.period": {"min": 2, "max": 5, "step": 1}, "slow.period": {"values": [8, 12, 16, 24]}}}}', true) AS g \gset
SELECT :'g'::jsonb #>> '{result,trials_run}' AS trials, :'g'::jsonb #>> '{result,pbo,partitions}' AS partitions,
       :'g'::jsonb #>> '{result,pbo,combinations}' AS combinations, :'g'::jsonb #>> '{result,pbo,periods}' AS periods,
       (:'g'::jsonb #>> '{result,pbo,pbo}')::float8 BETWEEN 0 AND 1 AS pbo_is_probability,
       (:'g'::jsonb #>> '{result,deflated_sharpe,value}')::float8 BETWEEN 0 AND 1 AS dsr_is_probability,
       :'g'::jsonb #>> '{result,deflated_sharpe,trials}' AS dsr_trials;
-- the same matrix by hand: pbo_cscv of the trials' daily returns (rows days, columns trials in trial_no order)
SELECT (SELECT ex7.pbo_cscv(array_agg(row ORDER BY i), 16) ->> 'pbo'
          FROM (SELECT i, array_agg(r[i] ORDER BY trial_no) AS row
                  FROM (SELECT t.trial_no, ex7._backtest_daily_returns(:'u1', t.backtest_id) AS r FROM ex7.study_trials t
                         WHERE t.study_id = (:'g'::jsonb ->> 'id')::uuid) x, generate_series(1, cardinality(x.r)) i GROUP BY i) m)
       = :'g'::jsonb #>> '{result,pbo,pbo}' AS pbo_by_hand;

-- another user's, or a study that is not a walk-forward: 404
SELECT ex7_test.err(pg_catalog.format('SELECT ex7.get_walk_forward(%L, %L)', :'u2', :'sid')) AS other_user,
       ex7_test.err(pg_catalog.format('SELECT ex7.study_walk_forward_svg(%L, %L)', :'u2', :'sid')) AS other_user_svg,
       ex7_test.err(pg_catalog.format('SELECT ex7.get_walk_forward(%L, %L)', :'u1',
           ex7.create_study(:'u1', :'s1', '{"from": "2025-05-05T00:00:00Z", "to": "2025-05-12T00:00:00Z", "evaluation": "fast",
               "objective": {"metric": "net_pnl"}, "space": {"parameters": {"fast.period": {"values": [2]}}}}', true) ->> 'id')) AS not_walk_forward;
