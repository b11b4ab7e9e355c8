-- sql/studies.sql: parameter studies (ext/sql/89_studies.sql, ext/study.c, docs/research.md "Studies"):
-- the space and its 422 locators, grid order and constraints, random search determined by its seed, a grid
-- run inline, every trial equal to a stand-alone backtest of a version with its values, apply, cancel and
-- resume, another user's study, a run by real background workers with its progress events.
-- Users 00000000-0000-4000-8000-5b00000000NN. Bars: YM 30m (tick 1.00, 5.00 USD a tick) of 2025-03 (no
-- other test file uses the series), a scripted walk on the tick grid.
\set u1 '00000000-0000-4000-8000-5b0000000001'
\set u2 '00000000-0000-4000-8000-5b0000000002'
SELECT ex7.ensure_user(:'u1') IS NOT NULL AS u1, ex7.ensure_user(:'u2') IS NOT NULL AS u2;

-- 480 bars of 30 minutes on the Globex session from Monday 2025-03-03 (none in the daily break after 17:00
-- and up to 18:00 New York, none over the weekend): a 30-bar drift of 4 ticks a bar up then down, plus a
-- cycle of -9..+9 ticks
SELECT count(ex7.ingest_bar('YM', '30m', w.ts, w.o, w.h, w.l, w.c, 100, false)) AS bars,
       min(w.ts) AS first_bar, max(w.ts) AS last_bar
  FROM (WITH t AS (SELECT row_number() OVER (ORDER BY ts)::int AS g, ts
                     FROM generate_series(timestamptz '2025-03-03 00:30+00', '2025-03-20 00:00+00', interval '30 minutes') ts
                    WHERE NOT ((ts AT TIME ZONE 'America/New_York')::time > '17:00'
                               AND (ts AT TIME ZONE 'America/New_York')::time <= '18:00')
                      AND EXTRACT(isodow FROM ts AT TIME ZONE 'America/New_York') <> 6
                      AND NOT (EXTRACT(isodow FROM ts AT TIME ZONE 'America/New_York') = 5
                               AND (ts AT TIME ZONE 'America/New_York')::time > '17:00')
                      AND NOT (EXTRACT(isodow FROM ts AT TIME ZONE 'America/New_York') = 7
                               AND (ts AT TIME ZONE 'America/New_York')::time <= '18:00')),
             s AS (SELECT g, ts, ((g * 7919) % 19 - 9) + CASE WHEN (g / 30) % 2 = 0 THEN 4 ELSE -4 END AS step
                     FROM t WHERE g <= 480),
             c AS (SELECT g, ts, 40000 + sum(step) OVER (ORDER BY g) AS c FROM s)
        SELECT g, ts, lag(c, 1, c) OVER (ORDER BY g) AS o, c,
               greatest(lag(c, 1, c) OVER (ORDER BY g), c) + (g * 31) % 5 AS h,
               least(lag(c, 1, c) OVER (ORDER BY g), c) - (g * 17) % 5 AS l
          FROM c ORDER BY g) w;

-- a crossover: long when SMA(fast) crosses above SMA(slow), short when below (reversing), a 30-tick stop
SELECT (ex7.create_strategy(:'u1', '{"name": "Study SMA", "instrument": "YM", "timeframe": "30m", "graph": {
  "nodes": [{"id": "c", "type": "close"},
            {"id": "fast", "type": "sma", "params": {"period": 3}}, {"id": "slow", "type": "sma", "params": {"period": 10}},
            {"id": "up", "type": "crosses_above"}, {"id": "dn", "type": "crosses_below"},
            {"id": "long", "type": "enter_long"}, {"id": "short", "type": "enter_short"},
            {"id": "ls", "type": "stop_loss_ticks", "params": {"ticks": 30}}],
  "edges": [{"from": "c", "to": "fast"}, {"from": "c", "to": "slow"},
            {"from": "fast", "to": "up", "port": "a"}, {"from": "slow", "to": "up", "port": "b"},
            {"from": "fast", "to": "dn", "port": "a"}, {"from": "slow", "to": "dn", "port": "b"},
            {"from": "up", "to": "long"}, {"from": "dn", "to": "short"}, {"from": "long", "to": "ls"}]}}') ->> 'id') AS s1 \gset

-- the body's common part
SELECT '{"from": "2025-03-03T00:00:00Z", "to": "2025-03-15T00:00:00Z", "evaluation": "fast",
         "objective": {"metric": "net_pnl"}}'::jsonb AS base \gset

-- ---------------------------------------------------------------------------------------------------
-- The space: every fault is a 422 with a locator into the body, and nothing is created
-- ---------------------------------------------------------------------------------------------------
SELECT t.n, ex7_test.err(pg_catalog.format('SELECT ex7.create_study(%L, %L, %L, true)', :'u1', :'s1',
                                           (:'base'::jsonb || t.b)::text)) AS error
  FROM (VALUES
    (1, '{}'::jsonb),
    (2, '{"space": {"parameters": {}}}'),
    (3, '{"space": {"parameters": {"nope.period": {"values": [1]}}}}'),
    (4, '{"space": {"parameters": {"fast": {"values": [1]}}}}'),
    (5, '{"space": {"parameters": {"fast.period": {"values": [3, 0]}}}}'),
    (6, '{"space": {"parameters": {"fast.period": {"values": [3, 2.5]}}}}'),
    (7, '{"space": {"parameters": {"fast.colour": {"values": [1]}}}}'),
    (8, '{"space": {"parameters": {"fast.period": {"min": 2, "max": 1, "step": 1}}}}'),
    (9, '{"space": {"parameters": {"fast.period": {"min": 2, "max": 8, "step": 0}}}}'),
    (10, '{"space": {"parameters": {"fast.period": {"min": 2, "max": 8}}}}'),
    (11, '{"space": {"parameters": {"fast.period": {"values": [2, 3, 2]}}}}'),
    (12, '{"space": {"parameters": {"fast.period": {"values": [2, 3]}}, "constraints": ["fast.period < slow.period"]}}'),
    (13, '{"space": {"parameters": {"fast.period": {"values": [2, 3]}}, "constraints": ["fast.period ~ 3"]}}'),
    (14, '{"space": {"parameters": {"fast.period": {"values": [2, 3]}}, "constraints": ["fast.period > 5"]}}'),
    (15, '{"space": {"parameters": {"fast.period": {"min": 1, "max": 5000, "step": 1}, "slow.period": {"min": 1, "max": 200, "step": 1}}}}'),
    (16, '{"space": {"parameters": {"fast.period": {"min": 1, "max": 40, "step": 1}, "slow.period": {"min": 1, "max": 40, "step": 1}}}}'),
    (17, '{"space": {"parameters": {"fast.period": {"values": [2]}}}, "search": {"method": "random", "trials": 5}}'),
    (18, '{"space": {"parameters": {"fast.period": {"values": [2]}}}, "search": {"method": "grid", "seed": 1}}'),
    (19, '{"space": {"parameters": {"fast.period": {"values": [2]}}}, "objective": {"metric": "cagr"}}'),
    (20, '{"space": {"parameters": {"fast.period": {"values": [2]}}}, "objective": {"metric": "sharpe", "max_drawdown": "-1"}}'),
    (21, '{"space": {"parameters": {"fast.period": {"values": [2]}}}, "frm": "2025-03-03T00:00:00Z"}'),
    (22, '{"space": {"parameters": {"fast.period": {"values": [2]}}}, "walk_forward": {"mode": "rolling", "in_sample_days": 10, "out_of_sample_days": 3}}'),
    (23, '{"space": {"parameters": {"ls.ticks": {"values": [10, "x"]}}}}')
  ) AS t (n, b)
 ORDER BY t.n;
SELECT count(*) AS studies_after_refusals FROM ex7.studies WHERE user_id = :'u1';

-- ---------------------------------------------------------------------------------------------------
-- Grid order, constraints, random search
-- ---------------------------------------------------------------------------------------------------
-- parameters in name order, the first varying slowest; values in the order given (a range ascending)
SELECT p.ord, p."values"
  FROM ex7._study_points(ex7._study_space((SELECT graph FROM ex7.strategy_versions WHERE strategy_id = :'s1'),
           '{"parameters": {"slow.period": {"values": [12, 8]}, "fast.period": {"min": 2, "max": 6, "step": 2}},
             "constraints": ["fast.period < slow.period", "fast.period != 4", "slow.period >= 8"]}'), 'grid') p;
-- a fractional step on a number parameter: exact decimal values
SELECT ex7._study_space('{"nodes": [{"id": "c", "type": "close"}, {"id": "k", "type": "constant"}, {"id": "g", "type": "gt"},
                                    {"id": "l", "type": "enter_long"}],
                          "edges": [{"from": "c", "to": "g", "port": "a"}, {"from": "k", "to": "g", "port": "b"},
                                    {"from": "g", "to": "l"}]}'::jsonb,
                        '{"parameters": {"k.value": {"min": 0.1, "max": 0.5, "step": 0.15}}}') -> 'parameters' AS decimal_range;
-- random: the same seed, the same trials; another seed, others; no repeats; constraints hold
CREATE TEMP TABLE sp AS SELECT ex7._study_space((SELECT graph FROM ex7.strategy_versions WHERE strategy_id = :'s1'),
    '{"parameters": {"fast.period": {"min": 2, "max": 20, "step": 1}, "slow.period": {"min": 5, "max": 40, "step": 1}},
      "constraints": ["fast.period < slow.period"]}') AS s;
SELECT (SELECT jsonb_agg("values" ORDER BY ord) FROM ex7._study_points((SELECT s FROM sp), 'random', 12, 7))
     = (SELECT jsonb_agg("values" ORDER BY ord) FROM ex7._study_points((SELECT s FROM sp), 'random', 12, 7)) AS same_seed_same_trials,
       (SELECT jsonb_agg("values" ORDER BY ord) FROM ex7._study_points((SELECT s FROM sp), 'random', 12, 7))
    <> (SELECT jsonb_agg("values" ORDER BY ord) FROM ex7._study_points((SELECT s FROM sp), 'random', 12, 8)) AS other_seed_other_trials,
       (SELECT count(DISTINCT "values") FROM ex7._study_points((SELECT s FROM sp), 'random', 200, 7)) AS distinct_of_200,
       (SELECT bool_and(("values" ->> 'fast.period')::int < ("values" ->> 'slow.period')::int)
          FROM ex7._study_points((SELECT s FROM sp), 'random', 200, 7)) AS constraint_holds,
       (SELECT count(*) FROM ex7._study_points((SELECT s FROM sp), 'grid')) AS grid_points;
-- the first trials of seed 7, fixed for ever (md5 of "seed:position")
SELECT ord, "values" FROM ex7._study_points((SELECT s FROM sp), 'random', 5, 7);

-- ---------------------------------------------------------------------------------------------------
-- A grid run inline: 3 x 2 points less the constraint's, every trial keeping its trades
-- ---------------------------------------------------------------------------------------------------
SELECT ex7.create_study(:'u1', :'s1', :'base'::jsonb || '{"keep_trades": true, "space": {"parameters": {
           "fast.period": {"min": 2, "max": 6, "step": 2}, "slow.period": {"values": [6, 12]}},
           "constraints": ["fast.period < slow.period"]}}', true) AS st \gset
SELECT :'st'::jsonb ->> 'status' AS status, :'st'::jsonb -> 'progress' AS progress, :'st'::jsonb ->> 'kind' AS kind,
       :'st'::jsonb -> 'best' ->> 'trial_no' AS best_trial, :'st'::jsonb -> 'compliance' ->> 'rule' AS rule;
SELECT :'st'::jsonb ->> 'id' AS sid \gset
SELECT t.trial_no, t."values", t.status, b.purpose, b.status AS backtest_status, t.feasible,
       t.metrics ->> 'trades' AS trades, t.metrics ->> 'net_pnl' AS net_pnl, t.objective = (t.metrics ->> 'net_pnl')::float8 AS objective_is_net
  FROM ex7.study_trials t JOIN ex7.backtests b ON b.user_id = t.user_id AND b.id = t.backtest_id
 WHERE t.study_id = :'sid' ORDER BY t.trial_no;
-- the best is the highest objective (ties: the lowest trial_no)
SELECT (:'st'::jsonb -> 'best' ->> 'trial_no')::int
     = (SELECT trial_no FROM ex7.study_trials WHERE study_id = :'sid' ORDER BY objective DESC, trial_no LIMIT 1) AS best_is_highest,
       :'st'::jsonb -> 'result' ->> 'trials_run' AS trials_run;
-- the statistics: the best trial's deflated Sharpe ratio for 5 trials; too few trials for PBO (sql/walk_forward.sql
-- has a study with enough)
SELECT jsonb_typeof(:'st'::jsonb #> '{result,deflated_sharpe,value}') AS dsr_type,
       (:'st'::jsonb #>> '{result,deflated_sharpe,value}')::float8 BETWEEN 0 AND 1 AS dsr_is_probability,
       :'st'::jsonb #>> '{result,deflated_sharpe,trials}' AS dsr_trials,
       :'st'::jsonb #>> '{result,deflated_sharpe,observations}' AS daily_returns,
       :'st'::jsonb #> '{result,pbo}' AS pbo;
-- the heatmap: one cell per (x, y) pair, the statement under it; bad axes are 422 at the query parameter
SELECT left(ex7.study_heatmap_svg(:'u1', :'sid'), 5) AS svg,
       ex7.study_heatmap_svg(:'u1', :'sid', 'slow.period', 'fast.period') LIKE '%CFTC Rule 4.41%' AS statement,
       ex7_test.err(pg_catalog.format('SELECT ex7.study_heatmap_svg(%L, %L, %L, %L)', :'u1', :'sid', 'fast.period', 'fast.period')) AS same_axis,
       ex7_test.err(pg_catalog.format('SELECT ex7.study_heatmap_svg(%L, %L, %L, NULL)', :'u1', :'sid', 'nope')) AS bad_x,
       ex7_test.err(pg_catalog.format('SELECT ex7.study_heatmap_svg(%L, %L)', :'u2', :'sid')) AS other_user;
-- the trials' backtests are not in the strategy's backtest list (they are the study's), nor its latest backtest
SELECT jsonb_array_length(ex7.list_backtests(:'u1', :'s1') -> 'items') AS listed_backtests,
       ex7._latest_backtest(:'u1', :'s1') IS NULL AS no_latest_backtest;

-- ---------------------------------------------------------------------------------------------------
-- Every trial equals a stand-alone backtest: apply its values as a version, backtest that version
-- ---------------------------------------------------------------------------------------------------
CREATE TEMP TABLE eq (trial int, trades_equal boolean, equity_equal boolean, result_equal boolean, metrics_equal boolean, n_trades int);
DO $$
DECLARE
    u uuid := '00000000-0000-4000-8000-5b0000000001';
    r record;
    v jsonb;
    a jsonb;
    b jsonb;
BEGIN
    FOR r IN SELECT t.trial_no, t.backtest_id, s.strategy_id, s.id AS study
               FROM ex7.study_trials t JOIN ex7.studies s ON s.user_id = t.user_id AND s.id = t.study_id
              WHERE s.user_id = u AND s.kind = 'grid' ORDER BY t.trial_no LOOP
        v := ex7.apply_study(u, r.study, jsonb_build_object('trial', r.trial_no));
        b := ex7.backtest_strategy(u, r.strategy_id, jsonb_build_object('from', '2025-03-03T00:00:00Z', 'to', '2025-03-15T00:00:00Z',
                                   'evaluation', 'fast', 'version', (v ->> 'version')::int), true);
        a := ex7.get_backtest(u, r.backtest_id);
        INSERT INTO eq VALUES (r.trial_no, a -> 'trades' = b -> 'trades', a -> 'equity' = b -> 'equity',
                               (a -> 'result') - 'elapsed_ms' - 'store_ms' - 'bars_per_second'
                               = (b -> 'result') - 'elapsed_ms' - 'store_ms' - 'bars_per_second',
                               a -> 'metrics' = b -> 'metrics', jsonb_array_length(a -> 'trades'));
    END LOOP;
END
$$;
SELECT * FROM eq ORDER BY trial;
SELECT count(*) FILTER (WHERE n_trades > 0) >= 3 AS trades_in_most, count(DISTINCT n_trades) > 1 AS trials_differ FROM eq;
-- a trial's figures are its backtest's full metrics (ex7.compute_metrics of trades and curve), read cheaply
SELECT t.trial_no, jsonb_build_array(t.metrics -> 'sharpe', t.metrics -> 'sortino', t.metrics -> 'profit_factor', t.metrics -> 'win_rate')
     = jsonb_build_array(m -> 'sharpe', m -> 'sortino', m -> 'profit_factor', m -> 'win_rate') AS same_as_full_metrics,
       t.metrics -> 'sharpe' IS NOT NULL AND t.metrics -> 'sharpe' <> 'null' AS sharpe_defined
  FROM ex7.study_trials t CROSS JOIN LATERAL (SELECT ex7.get_backtest(t.user_id, t.backtest_id) -> 'metrics' AS m) x
 WHERE t.study_id = :'sid' ORDER BY t.trial_no;

-- ---------------------------------------------------------------------------------------------------
-- By default a trial keeps no trades and a daily curve: the same runs (result, figures) as the study that
-- kept everything; its curve is exactly the points of the whole curve that the figures read (the first, and
-- each UTC day's last, a day taken both as [midnight, midnight) and as (midnight, midnight]); no trade
-- stored; its backtest says so, and a Monte Carlo of it is 409 trades_not_kept
-- ---------------------------------------------------------------------------------------------------
CREATE FUNCTION pg_temp.curve(u uuid, b uuid) RETURNS jsonb LANGUAGE sql AS $$
    SELECT jsonb_agg(jsonb_build_array(e.ts, e.equity) ORDER BY e.seq)
      FROM ex7.backtest_equity e WHERE e.user_id = u AND e.backtest_id = b;
$$;
CREATE FUNCTION pg_temp.daily(u uuid, b uuid) RETURNS jsonb LANGUAGE sql AS $$
    SELECT jsonb_agg(jsonb_build_array(e.ts, e.equity) ORDER BY e.seq)
      FROM ex7.backtest_equity e
     WHERE e.user_id = u AND e.backtest_id = b
       AND (e.seq = 1
            OR e.seq IN (SELECT max(x.seq) FROM ex7.backtest_equity x WHERE x.user_id = u AND x.backtest_id = b
                          GROUP BY ((x.ts - interval '1 microsecond') AT TIME ZONE 'UTC')::date)
            OR e.seq IN (SELECT max(x.seq) FROM ex7.backtest_equity x WHERE x.user_id = u AND x.backtest_id = b
                          GROUP BY (x.ts AT TIME ZONE 'UTC')::date));
$$;
SELECT ex7.create_study(:'u1', :'s1', :'base'::jsonb || '{"space": {"parameters": {
           "fast.period": {"min": 2, "max": 6, "step": 2}, "slow.period": {"values": [6, 12]}},
           "constraints": ["fast.period < slow.period"]}}', true) AS lean \gset
SELECT :'lean'::jsonb ->> 'keep_trades' AS keep_trades, :'lean'::jsonb ->> 'status' AS status,
       :'lean'::jsonb -> 'best' ->> 'trial_no' = :'st'::jsonb -> 'best' ->> 'trial_no' AS same_best,
       round((:'lean'::jsonb #>> '{result,deflated_sharpe,value}')::numeric, 9) = round((:'st'::jsonb #>> '{result,deflated_sharpe,value}')::numeric, 9) AS same_deflated_sharpe;
SELECT t.trial_no, b.trades_kept,
       (SELECT count(*) FROM ex7.backtest_trade_chunks c WHERE c.user_id = b.user_id AND c.backtest_id = b.id) AS trade_chunks,
       b.result - 'elapsed_ms' - 'store_ms' - 'bars_per_second' = k.result - 'elapsed_ms' - 'store_ms' - 'bars_per_second' AS same_result,
       pg_temp.curve(b.user_id, b.id) = pg_temp.daily(k.user_id, k.id) AS daily_curve,
       jsonb_array_length(pg_temp.curve(b.user_id, b.id)) < jsonb_array_length(pg_temp.curve(k.user_id, k.id)) AS fewer_points,
       t.metrics = kt.metrics AS same_metrics, (t.metrics ->> 'trades')::int > 0 AS counted_trades
  FROM ex7.study_trials t JOIN ex7.backtests b ON b.user_id = t.user_id AND b.id = t.backtest_id
  JOIN ex7.study_trials kt ON kt.user_id = t.user_id AND kt.study_id = :'sid' AND kt.trial_no = t.trial_no
  JOIN ex7.backtests k ON k.user_id = kt.user_id AND k.id = kt.backtest_id
 WHERE t.study_id = (:'lean'::jsonb ->> 'id')::uuid ORDER BY t.trial_no;
SELECT ex7.get_backtest(:'u1', backtest_id) AS lean_bt FROM ex7.study_trials
 WHERE study_id = (:'lean'::jsonb ->> 'id')::uuid AND trial_no = 1 \gset
SELECT :'lean_bt'::jsonb -> 'trades_kept' AS trades_kept, :'lean_bt'::jsonb -> 'trades' AS trades,
       :'lean_bt'::jsonb -> 'metrics' AS metrics, jsonb_array_length(:'lean_bt'::jsonb -> 'equity') > 0 AS has_curve,
       ex7_test.err(pg_catalog.format('SELECT ex7.monte_carlo(%L, %L, %L)', :'u1', :'lean_bt'::jsonb ->> 'id', '{}')) AS monte_carlo;
SELECT ex7_test.err(pg_catalog.format('SELECT ex7.create_study(%L, %L, %L, true)', :'u1', :'s1',
                                      (:'base'::jsonb || '{"keep_trades": "yes", "space": {"parameters": {"fast.period": {"values": [2]}}}}')::text)) AS keep_trades_not_bool;

-- ---------------------------------------------------------------------------------------------------
-- Apply: the best by default, a new version with a note; the same values again make no new version
-- ---------------------------------------------------------------------------------------------------
SELECT ex7.apply_study(:'u1', :'sid') AS ap \gset
SELECT (:'ap'::jsonb ->> 'trial_no')::int = (:'st'::jsonb -> 'best' ->> 'trial_no')::int AS applied_best,
       (SELECT n -> 'params' FROM jsonb_array_elements(:'ap'::jsonb -> 'graph' -> 'nodes') n WHERE n ->> 'id' = 'fast')
       = jsonb_build_object('period', :'ap'::jsonb -> 'values' -> 'fast.period') AS fast_substituted,
       :'ap'::jsonb ->> 'note' LIKE 'study % trial %' AS noted,
       (SELECT applied_version FROM ex7.studies WHERE id = :'sid') = (:'ap'::jsonb ->> 'version')::int AS recorded;
SELECT ex7_test.err(pg_catalog.format('SELECT ex7.apply_study(%L, %L, %L)', :'u1', :'sid', '{"trial": 99}')) AS no_such_trial,
       ex7_test.err(pg_catalog.format('SELECT ex7.apply_study(%L, %L, %L)', :'u1', :'sid', '{"trial": "1"}')) AS bad_trial,
       ex7_test.err(pg_catalog.format('SELECT ex7.apply_study(%L, %L, %L)', :'u1', :'sid', '{"trail": 1}')) AS extra;
-- infeasible everywhere (max_drawdown 0 with losing trades): nothing to apply by default
SELECT ex7.create_study(:'u1', :'s1', :'base'::jsonb || '{"space": {"parameters": {"fast.period": {"values": [2, 4]}}},
           "objective": {"metric": "sharpe", "max_drawdown": "0"}}', true) ->> 'id' AS infeasible \gset
SELECT (SELECT jsonb_agg(jsonb_build_array(trial_no, feasible) ORDER BY trial_no) FROM ex7.study_trials WHERE study_id = :'infeasible') AS trials,
       ex7_test.err(pg_catalog.format('SELECT ex7.apply_study(%L, %L)', :'u1', :'infeasible')) AS apply_default;

-- ---------------------------------------------------------------------------------------------------
-- Pages of trials, the list, another user's study
-- ---------------------------------------------------------------------------------------------------
SELECT ex7.list_study_trials(:'u1', :'sid', 2) AS p1 \gset
SELECT jsonb_path_query_array(:'p1'::jsonb, '$.items[*].trial_no') AS page1,
       jsonb_path_query_array(ex7.list_study_trials(:'u1', :'sid', 2, :'p1'::jsonb ->> 'next_cursor'), '$.items[*].trial_no') AS page2,
       ex7.list_study_trials(:'u1', :'sid', 10) ->> 'next_cursor' AS last_page_cursor,
       ex7_test.err(pg_catalog.format('SELECT ex7.list_study_trials(%L, %L, 2, %L)', :'u1', :'infeasible',
                                      :'p1'::jsonb ->> 'next_cursor')) AS cursor_of_another_study;
SELECT jsonb_array_length(ex7.list_studies(:'u1', :'s1') -> 'items') AS studies,
       ex7.list_studies(:'u1', :'s1') -> 'items' -> 0 ->> 'id' = :'infeasible' AS newest_first,
       ex7.list_studies(:'u1', :'s1') -> 'items' -> 0 ? 'space' AS items_have_space;
SELECT ex7_test.err(pg_catalog.format('SELECT ex7.get_study(%L, %L)', :'u2', :'sid')) AS get_other,
       ex7_test.err(pg_catalog.format('SELECT ex7.list_study_trials(%L, %L)', :'u2', :'sid')) AS trials_other,
       ex7_test.err(pg_catalog.format('SELECT ex7.cancel_study(%L, %L)', :'u2', :'sid')) AS cancel_other,
       ex7_test.err(pg_catalog.format('SELECT ex7.resume_study(%L, %L)', :'u2', :'sid')) AS resume_other,
       ex7_test.err(pg_catalog.format('SELECT ex7.apply_study(%L, %L)', :'u2', :'sid')) AS apply_other,
       ex7_test.err(pg_catalog.format('SELECT ex7.create_study(%L, %L, %L)', :'u2', :'s1',
                                      (:'base'::jsonb || '{"space": {"parameters": {"fast.period": {"values": [2]}}}}')::text)) AS create_other;

-- ---------------------------------------------------------------------------------------------------
-- Cancel and resume (inline: the states; the workers' side is specs/study_claim.spec and below)
-- ---------------------------------------------------------------------------------------------------
SELECT ex7_test.err(pg_catalog.format('SELECT ex7.cancel_study(%L, %L)', :'u1', :'sid')) AS cancel_done,
       ex7_test.err(pg_catalog.format('SELECT ex7.resume_study(%L, %L)', :'u1', :'sid')) AS resume_done;
-- a study left running by a worker after one trial (rewound from an inline run), then cancelled, resumed inline
DO $$
DECLARE
    u uuid := '00000000-0000-4000-8000-5b0000000001';
    s uuid := (SELECT id FROM ex7.strategies WHERE user_id = u AND name = 'Study SMA');
    v jsonb;
BEGIN
    -- what create_study does before it starts workers: the study and its trials, queued
    PERFORM set_config('ex7_test.sid', (ex7.create_study(u, s, '{"from": "2025-03-03T00:00:00Z", "to": "2025-03-15T00:00:00Z",
        "evaluation": "fast", "objective": {"metric": "net_pnl"},
        "space": {"parameters": {"fast.period": {"values": [2, 3, 4]}}}}', true) ->> 'id'), false);
END
$$;
-- rewind it to queued with one trial done, as a worker would leave it after one trial
UPDATE ex7.study_trials SET status = 'pending', backtest_id = NULL, metrics = NULL, objective = NULL, feasible = NULL
 WHERE study_id = current_setting('ex7_test.sid')::uuid AND trial_no > 1;
UPDATE ex7.studies SET status = 'running', trials_done = 1, result = NULL, finished_at = NULL
 WHERE id = current_setting('ex7_test.sid')::uuid;
SELECT ex7.cancel_study(:'u1', current_setting('ex7_test.sid')::uuid) -> 'progress' AS cancelled_progress;
SELECT status, finished_at IS NOT NULL AS finished FROM ex7.studies WHERE id = current_setting('ex7_test.sid')::uuid;
SELECT ex7_test.err(pg_catalog.format('SELECT ex7.cancel_study(%L, %L)', :'u1', current_setting('ex7_test.sid'))) AS cancel_again;
-- a cancelled study is claimed no more
SELECT count(*) AS claimed_after_cancel FROM ex7._study_claim(:'u1');
SELECT ex7.resume_study(:'u1', current_setting('ex7_test.sid')::uuid, true) AS resumed \gset
SELECT :'resumed'::jsonb ->> 'status' AS status, :'resumed'::jsonb -> 'progress' AS progress,
       (SELECT jsonb_agg(jsonb_build_array(trial_no, status) ORDER BY trial_no) FROM ex7.study_trials
         WHERE study_id = current_setting('ex7_test.sid')::uuid) AS trials;
-- the progress events: one per trial recorded, one for the cancel
SELECT kind, payload ->> 'status' AS status, payload ->> 'trials_done' AS done, payload ->> 'percent' AS percent
  FROM ex7.signal_events WHERE user_id = :'u1' AND payload ->> 'study_id' = current_setting('ex7_test.sid') ORDER BY seq;

-- ---------------------------------------------------------------------------------------------------
-- Real background workers: the study comes back queued, workers (the tier's study_workers_max: free 1)
-- claim every trial, the progress events arrive, the study ends done with the same trials as inline
-- ---------------------------------------------------------------------------------------------------
SELECT ex7.create_study(:'u1', :'s1', :'base'::jsonb || '{"space": {"parameters": {
           "fast.period": {"min": 2, "max": 6, "step": 2}, "slow.period": {"values": [6, 12]}},
           "constraints": ["fast.period < slow.period"]}}') AS bg \gset
SELECT :'bg'::jsonb ->> 'status' AS status_at_create, :'bg'::jsonb -> 'progress' ->> 'trials_total' AS trials_total;
SELECT set_config('ex7_test.bg', :'bg'::jsonb ->> 'id', false) IS NOT NULL AS bg;
-- the worker commits as it goes: wait for the study to finish (at most 30 s)
DO $$
BEGIN
    FOR i IN 1..600 LOOP
        EXIT WHEN (SELECT status FROM ex7.studies WHERE id = current_setting('ex7_test.bg')::uuid) NOT IN ('queued', 'running');
        PERFORM pg_sleep(0.05);
    END LOOP;
END
$$;
SELECT status, trials_done, trials_total, result ->> 'trials_run' AS trials_run FROM ex7.studies WHERE id = current_setting('ex7_test.bg')::uuid;
-- the same trials as the inline run: values, trades, net P&L, objective
SELECT (SELECT jsonb_agg(jsonb_build_array(trial_no, "values", metrics -> 'trades', metrics -> 'net_pnl', objective) ORDER BY trial_no)
          FROM ex7.study_trials WHERE study_id = current_setting('ex7_test.bg')::uuid)
     = (SELECT jsonb_agg(jsonb_build_array(trial_no, "values", metrics -> 'trades', metrics -> 'net_pnl', objective) ORDER BY trial_no)
          FROM ex7.study_trials WHERE study_id = :'sid') AS same_as_inline,
       (SELECT bool_and(b.status = 'done' AND b.purpose = 'study')
          FROM ex7.study_trials t JOIN ex7.backtests b ON b.user_id = t.user_id AND b.id = t.backtest_id
         WHERE t.study_id = current_setting('ex7_test.bg')::uuid) AS backtests_done;
-- one study_progress event per trial, trials_done counting up to the total, the last one done
SELECT jsonb_agg(jsonb_build_array(payload -> 'trials_done', payload ->> 'status') ORDER BY seq) AS events
  FROM ex7.signal_events WHERE user_id = :'u1' AND kind = 'study_progress' AND payload ->> 'study_id' = current_setting('ex7_test.bg');
-- the worker exits when nothing is pending, releasing its slot (wait at most 10 s); nothing to reap
DO $$
BEGIN
    FOR i IN 1..200 LOOP
        PERFORM pg_stat_clear_snapshot();
        EXIT WHEN NOT EXISTS (SELECT 1 FROM pg_stat_activity WHERE backend_type = 'ex7 study');
        PERFORM pg_sleep(0.05);
    END LOOP;
END
$$;
SELECT ex7._study_workers_alive(:'u1') AS workers_alive, ex7._studies_reap(:'u1') AS reaped;

-- ---------------------------------------------------------------------------------------------------
-- Workers that die: the job backtests_reap repairs every user's studies without anyone looking. The
-- resumed study above, left as a killed worker leaves it: trial 3 running with no worker holding its
-- backtest's lock, trial 2 pending, the study running, its workers asked for two minutes ago, none alive.
-- ---------------------------------------------------------------------------------------------------
UPDATE ex7.study_trials SET status = 'running', metrics = NULL, objective = NULL, feasible = NULL, finished_at = NULL
 WHERE study_id = current_setting('ex7_test.sid')::uuid AND trial_no = 3;
UPDATE ex7.study_trials SET status = 'pending', backtest_id = NULL, metrics = NULL, objective = NULL, feasible = NULL,
       started_at = NULL, finished_at = NULL
 WHERE study_id = current_setting('ex7_test.sid')::uuid AND trial_no = 2;
SELECT backtest_id AS dead_backtest FROM ex7.study_trials
 WHERE study_id = current_setting('ex7_test.sid')::uuid AND trial_no = 3 \gset
UPDATE ex7.studies SET status = 'running', trials_done = 1, result = NULL, finished_at = NULL,
       launched_at = now() - interval '2 minutes'
 WHERE id = current_setting('ex7_test.sid')::uuid;
-- one trial back to pending (its backtest deleted) and the study failed: two repairs (its count of failed
-- backtests depends on what earlier files left running, so only the studies' count is shown)
SELECT ex7.run_job('backtests_reap', now()) #> '{result,studies}' AS reaped_studies;
SELECT status, error FROM ex7.studies WHERE id = current_setting('ex7_test.sid')::uuid;
SELECT jsonb_agg(jsonb_build_array(trial_no, status, backtest_id IS NOT NULL) ORDER BY trial_no) AS trials
  FROM ex7.study_trials WHERE study_id = current_setting('ex7_test.sid')::uuid;
SELECT count(*) AS dead_backtest_left FROM ex7.backtests WHERE id = :'dead_backtest';
SELECT ex7.run_job('backtests_reap', now()) #> '{result,studies}' AS again;
-- resumed, it runs the two trials left and ends as it did
SELECT ex7.resume_study(:'u1', current_setting('ex7_test.sid')::uuid, true) -> 'progress' AS resumed_progress;
SELECT status, error IS NULL AS no_error FROM ex7.studies WHERE id = current_setting('ex7_test.sid')::uuid;
