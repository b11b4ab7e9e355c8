-- sql/judge.sql: the Judge, the live-promotion validation (ext/sql/67_backtest.sql, docs/backtests.md):
-- promotion ready -> live (and again after unarchive) runs a backtest of the current version over the
-- policy's window and is refused with X7409 validation_failed listing each failed criterion with observed
-- and required values; the operator's policy; verdicts stored and shown.
-- Users 00000000-0000-4000-8000-5a00000000NN. Bars: NQ 15m (tick 0.25, 5.00 USD a tick; no other test file
-- uses the series), 300 bars of a scripted walk ending Friday 2026-03-06. The policy is global: this file
-- switches every criterion off again at its end.
\set u3 '00000000-0000-4000-8000-5a0000000003'
\set u4 '00000000-0000-4000-8000-5a0000000004'
SELECT ex7.ensure_user(:'u3') IS NOT NULL AS u3, ex7.ensure_user(:'u4') IS NOT NULL AS u4;

-- stored through ex7.ingest_bar without dispatching, as a feed's history: the bars and their blocks
SELECT count(ex7.ingest_bar('NQ', '15m', b.ts, b.o, b.h, b.l, b.c, 100, false)) AS stored
  FROM (
      WITH t AS (SELECT row_number() OVER (ORDER BY ts)::int AS g, ts
                   FROM generate_series(timestamptz '2026-03-02 00:15+00', '2026-03-06 21:00+00', interval '15 minutes') ts
                  WHERE NOT ((ts AT TIME ZONE 'America/New_York')::time > '17:00'
                             AND (ts AT TIME ZONE 'America/New_York')::time <= '18:00')),
           s AS (SELECT g, ts, ((g * 7919) % 13 - 6) + CASE WHEN (g / 30) % 2 = 0 THEN 2 ELSE -2 END AS step
                   FROM t WHERE g > (SELECT count(*) FROM t) - 300),
           c AS (SELECT g, ts, 18000 + 0.25 * sum(step) OVER (ORDER BY g) AS c FROM s),
           o AS (SELECT g, ts, c, lag(c, 1, c) OVER (ORDER BY g) AS o FROM c)
      SELECT ts, o, greatest(o, c) + 0.25 * (g % 4) AS h, least(o, c) - 0.25 * (g % 3) AS l, c FROM o ORDER BY ts) b;
SELECT count(*) AS bars, min(ts) AS first, max(ts) AS last FROM ex7.bars WHERE instrument = 'NQ' AND timeframe = '15m';

-- SMA(3) / SMA(8): long above, short on the cross below, 6 / 8-tick stops, 14-tick target
CREATE FUNCTION pg_temp.graph(p_size int) RETURNS jsonb LANGUAGE sql AS $$ SELECT jsonb_build_object(
  'nodes', jsonb_build_array('{"id": "c", "type": "close"}'::jsonb,
            '{"id": "f", "type": "sma", "params": {"period": 3}}'::jsonb, '{"id": "s", "type": "sma", "params": {"period": 8}}'::jsonb,
            '{"id": "above", "type": "gt"}'::jsonb, '{"id": "down", "type": "crosses_below"}'::jsonb,
            jsonb_build_object('id', 'long', 'type', 'enter_long', 'params', jsonb_build_object('size', p_size)),
            '{"id": "short", "type": "enter_short", "params": {"size": 1}}'::jsonb,
            '{"id": "ls", "type": "stop_loss_ticks", "params": {"ticks": 6}}'::jsonb,
            '{"id": "lt", "type": "take_profit_ticks", "params": {"ticks": 14}}'::jsonb,
            '{"id": "ss", "type": "stop_loss_ticks", "params": {"ticks": 8}}'::jsonb),
  'edges', '[{"from": "c", "to": "f"}, {"from": "c", "to": "s"},
            {"from": "f", "to": "above", "port": "a"}, {"from": "s", "to": "above", "port": "b"},
            {"from": "f", "to": "down", "port": "a"}, {"from": "s", "to": "down", "port": "b"},
            {"from": "above", "to": "long"}, {"from": "down", "to": "short"},
            {"from": "long", "to": "ls"}, {"from": "long", "to": "lt"}, {"from": "short", "to": "ss"}]'::jsonb) $$;
SELECT (ex7.create_strategy(:'u3', jsonb_build_object('name', 'Judged', 'instrument', 'NQ', 'timeframe', '15m',
                                                       'graph', pg_temp.graph(1))) ->> 'id') AS s \gset
-- a refusal without the verdict's ids and times: SQLSTATE, message, code and the failed criteria
CREATE FUNCTION pg_temp.refusal(q text) RETURNS text LANGUAGE sql AS $$
    SELECT CASE WHEN e LIKE '%|%' THEN split_part(e, ' | ', 1) || ' | ' || (split_part(e, ' | ', 2)::jsonb - 'validation')::text
                ELSE e END
      FROM ex7_test.err(q) e
$$;
-- a verdict without ids and times
CREATE FUNCTION pg_temp.verdict(v jsonb) RETURNS jsonb LANGUAGE sql AS $$
    SELECT v - 'id' - 'strategy_id' - 'backtest_id' - 'validated_at' - 'compliance'
$$;

-- 1. THE DEFAULT POLICY checks nothing (criteria off until the operator sets them): promotion passes
-- and leaves a verdict with what it observed
SELECT ex7.get_validation_policy() AS policy;
SELECT ex7.promote_strategy(:'u3', :'s') ->> 'status' AS ready;
SELECT ex7.get_validation(:'u3', :'s') -> 'latest' AS before_live;
SELECT ex7.promote_strategy(:'u3', :'s') ->> 'status' AS live;
SELECT pg_temp.verdict(ex7.get_validation(:'u3', :'s') -> 'latest') AS verdict;
SELECT ex7.get_validation(:'u3', :'s') -> 'compliance' = ex7.compliance_banner() AS compliance;
-- the verdict's backtest is one of the strategy's backtests, purpose validation, over the 90 days before
-- the newest NQ 15m bar
SELECT b.purpose, b.status, b.range_to = (SELECT max(ts) FROM ex7.bars WHERE instrument = 'NQ' AND timeframe = '15m') AS to_newest_bar,
       b.range_to - b.range_from AS window
  FROM ex7.backtests b WHERE b.id = (ex7.get_validation(:'u3', :'s') #>> '{latest,backtest_id}')::uuid;

-- 2. THE OPERATOR sets criteria; bad settings are refused
SELECT ex7.set_validation_policy('{"window_days": 3, "min_trades": 5, "max_drawdown": "10000", "min_profit_factor": 0.5}') AS policy;
SELECT p AS policy, ex7_test.err(format('SELECT ex7.set_validation_policy(%L)', p)) AS error
  FROM (VALUES ('[]'), ('{"colour": 1}'), ('{"min_win_rate": 2}'), ('{"window_days": 0}'), ('{"window_days": "x"}'),
               ('{"max_drawdown": "lots"}'), ('{"min_trades": true}')) AS t (p);
SELECT ex7.get_validation_policy() AS unchanged;
-- a user role may read the policy, not set it
SELECT has_function_privilege('ex7_user', 'ex7.set_validation_policy(jsonb)', 'EXECUTE') AS user_may_set,
       has_function_privilege('ex7_user', 'ex7.get_validation_policy()', 'EXECUTE') AS user_may_read;

-- 3. REFUSALS: a strategy that fails every criterion is not promoted: X7409 validation_failed, each failed
-- criterion with its observed and required values; it stays ready
SELECT ex7.set_validation_policy('{"window_days": 30, "min_trades": 1000, "max_drawdown": "50.00",
    "min_profit_factor": 3, "min_net_pnl": "100000", "min_win_rate": 0.9}') IS NOT NULL AS strict;
SELECT (ex7.create_strategy(:'u3', jsonb_build_object('name', 'Weak', 'instrument', 'NQ', 'timeframe', '15m',
                                                       'graph', pg_temp.graph(3))) ->> 'id') AS w \gset
SELECT ex7.promote_strategy(:'u3', :'w') ->> 'status' AS ready;
SELECT pg_temp.refusal(format('SELECT ex7.promote_strategy(%L, %L)', :'u3', :'w')) AS refused;
-- the detail also carries the whole verdict
SELECT pg_temp.verdict(split_part(ex7_test.err(format('SELECT ex7.promote_strategy(%L, %L)', :'u3', :'w')), ' | ', 2)::jsonb
                       -> 'validation') - 'failed' AS validation;
SELECT ex7.get_strategy(:'u3', :'w') ->> 'status' AS still;
-- the refusal rolled its verdict back with the promotion; POST .../validation keeps one, passed or not
SELECT ex7.get_validation(:'u3', :'w') -> 'latest' AS latest_after_refusal;
SELECT pg_temp.verdict(ex7.validate_strategy(:'u3', :'w')) AS requested;
SELECT ex7.get_validation(:'u3', :'w') #> '{latest,passed}' AS latest_passed,
       ex7.get_validation(:'u3', :'w') #> '{latest,trigger}' AS latest_trigger,
       ex7.get_strategy(:'u3', :'w') ->> 'status' AS status_unchanged;
-- one criterion at a time: only the failing one is listed
SELECT ex7.set_validation_policy('{"min_trades": 1, "max_drawdown": null, "min_profit_factor": null,
    "min_net_pnl": null, "min_win_rate": null}') IS NOT NULL AS just_trades;
SELECT ex7.promote_strategy(:'u3', :'w') ->> 'status' AS live_with_trades;

-- 4. RE-PROMOTION after unarchive is judged again
SELECT ex7.archive_strategy(:'u3', :'w') ->> 'status' AS archived, ex7.unarchive_strategy(:'u3', :'w') ->> 'status' AS draft;
SELECT ex7.promote_strategy(:'u3', :'w') ->> 'status' AS ready;
SELECT ex7.set_validation_policy('{"min_net_pnl": "100000"}') -> 'min_net_pnl' AS min_net_pnl;
SELECT pg_temp.refusal(format('SELECT ex7.promote_strategy(%L, %L)', :'u3', :'w')) AS refused_again;
SELECT ex7.set_validation_policy('{"min_net_pnl": null}') -> 'min_net_pnl' AS off;
SELECT ex7.promote_strategy(:'u3', :'w') ->> 'status' AS live_again;
SELECT count(*) FILTER (WHERE trigger = 'promotion') AS promotions, count(*) FILTER (WHERE trigger = 'request') AS requests,
       count(*) FILTER (WHERE NOT passed) AS failed_kept
  FROM ex7.strategy_validations WHERE strategy_id = :'w';

-- 5. THE CURRENT VERSION is judged: version 2 of a ready strategy
SELECT (ex7.create_strategy(:'u3', jsonb_build_object('name', 'Versioned', 'instrument', 'NQ', 'timeframe', '15m',
                                                       'graph', pg_temp.graph(1))) ->> 'id') AS v \gset
SELECT ex7.update_strategy(:'u3', :'v', jsonb_build_object('graph', pg_temp.graph(2)),
                           ex7.get_strategy(:'u3', :'v') ->> 'etag') ->> 'current_version' AS version;
SELECT ex7.promote_strategy(:'u3', :'v') ->> 'status' AS ready, ex7.validate_strategy(:'u3', :'v') -> 'strategy_version' AS judged_version;

-- 6. NO BARS: nothing traded; a minimum of trades refuses, observed 0
SELECT (ex7.create_strategy(:'u3', jsonb_build_object('name', 'Dataless', 'instrument', 'NQ', 'timeframe', '1h',
                                                       'graph', pg_temp.graph(1))) ->> 'id') AS d \gset
SELECT ex7.promote_strategy(:'u3', :'d') ->> 'status' AS ready;
SELECT pg_temp.refusal(format('SELECT ex7.promote_strategy(%L, %L)', :'u3', :'d')) AS refused_without_bars;
SELECT pg_temp.verdict(ex7.validate_strategy(:'u3', :'d')) -> 'observed' AS observed;

-- 7. OWNERSHIP: another user's strategy is not found
SELECT ex7_test.err(format('SELECT ex7.validate_strategy(%L, %L)', :'u4', :'s')) AS other_validate,
       ex7_test.err(format('SELECT ex7.get_validation(%L, %L)', :'u4', :'s')) AS other_get,
       ex7_test.err(format('SELECT ex7.get_validation(%L, %L)', :'u3', gen_random_uuid())) AS missing;

-- 8. RESEARCH CRITERIA (docs/research.md, "The Judge"): every verdict observes the deflated Sharpe ratio of the
-- validation backtest's daily returns, deflated by the trials of the study whose apply made the current version,
-- and the efficiency of the strategy's newest finished walk-forward study
SELECT (ex7.create_strategy(:'u3', jsonb_build_object('name', 'Researched', 'instrument', 'NQ', 'timeframe', '15m',
                                                       'graph', pg_temp.graph(1))) ->> 'id') AS r \gset
-- version 1 came from no study: one trial, so the probabilistic Sharpe ratio against 0
SELECT ex7.validate_strategy(:'u3', :'r') AS v1 \gset
SELECT (:'v1'::jsonb #>> '{observed,trials}')::int AS trials, :'v1'::jsonb #> '{observed,trials_study_id}' AS study,
       (:'v1'::jsonb #>> '{observed,deflated_sharpe}')::numeric
         = round(ex7.deflated_sharpe(m.sharpe, m.observations, m.skewness, m.kurtosis, 1, 0)::numeric, 4) AS dsr_is_psr,
       (:'v1'::jsonb #>> '{observed,days}')::int = m.observations AS days_are_the_returns
  FROM ex7.return_moments(ex7._backtest_daily_returns(:'u3', (:'v1'::jsonb ->> 'backtest_id')::uuid)) m;
-- a 6-trial grid over the last week, run inline, its best applied as version 2
SELECT ex7.create_study(:'u3', :'r', '{"from": "2026-03-02T00:00:00Z", "to": "2026-03-07T00:00:00Z", "evaluation": "fast",
    "objective": {"metric": "net_pnl"},
    "space": {"parameters": {"f.period": {"values": [2, 3, 4]}, "s.period": {"values": [8, 10]}}}}', true) AS st \gset
SELECT :'st'::jsonb ->> 'status' AS status, :'st'::jsonb #>> '{result,deflated_sharpe,trials}' AS study_trials;
SELECT ex7.apply_study(:'u3', (:'st'::jsonb ->> 'id')::uuid) ->> 'version' AS applied_version;
SELECT ex7.validate_strategy(:'u3', :'r') AS v2 \gset
-- the verdict on version 2 deflates by the study's 6 trials and the variance of their Sharpe ratios: lower than
-- the same returns judged as one trial
SELECT (:'v2'::jsonb ->> 'strategy_version')::int AS judged_version, (:'v2'::jsonb #>> '{observed,trials}')::int AS trials,
       :'v2'::jsonb #>> '{observed,trials_study_id}' = :'st'::jsonb ->> 'id' AS from_the_study,
       (:'v2'::jsonb #>> '{observed,deflated_sharpe}')::numeric
         = round(ex7.deflated_sharpe(m.sharpe, m.observations, m.skewness, m.kurtosis, 6,
                                     (:'st'::jsonb #>> '{result,deflated_sharpe,trials_sharpe_variance}')::float8)::numeric, 4)
         AS dsr_recomputed,
       (:'v2'::jsonb #>> '{observed,deflated_sharpe}')::numeric
         < round(ex7.deflated_sharpe(m.sharpe, m.observations, m.skewness, m.kurtosis, 1, 0)::numeric, 4) AS deflated
  FROM ex7.return_moments(ex7._backtest_daily_returns(:'u3', (:'v2'::jsonb ->> 'backtest_id')::uuid)) m;
-- the minimum: above the observed value refuses, at or below it passes; no value (no bars) refuses
SELECT ex7.set_validation_policy(jsonb_build_object('min_deflated_sharpe', (:'v2'::jsonb #>> '{observed,deflated_sharpe}')::numeric + 0.0001))
       -> 'min_deflated_sharpe' IS NOT NULL AS set;
SELECT v -> 'passed' AS passed, v -> 'failed' -> 0 ->> 'criterion' AS criterion,
       v -> 'failed' -> 0 -> 'observed' = :'v2'::jsonb #> '{observed,deflated_sharpe}' AS observed_as_before
  FROM ex7.validate_strategy(:'u3', :'r') v;
SELECT ex7.set_validation_policy(jsonb_build_object('min_deflated_sharpe', (:'v2'::jsonb #>> '{observed,deflated_sharpe}')::numeric))
       -> 'min_deflated_sharpe' IS NOT NULL AS set;
SELECT ex7.validate_strategy(:'u3', :'r') -> 'passed' AS passed_at_the_minimum;
SELECT v -> 'passed' AS passed, v -> 'failed' AS failed FROM ex7.validate_strategy(:'u3', :'d') v;
SELECT ex7.set_validation_policy('{"min_deflated_sharpe": null}') -> 'min_deflated_sharpe' AS off;
-- walk-forward: none finished yet, so a minimum efficiency refuses with nothing observed
SELECT ex7.set_validation_policy('{"min_walk_forward_efficiency": -1000}') -> 'min_walk_forward_efficiency' AS min_wfe;
SELECT v -> 'passed' AS passed, v -> 'failed' AS failed FROM ex7.validate_strategy(:'u3', :'r') v;
-- a rolling walk-forward over the week (2 days in sample, 1 out), run inline: its efficiency is the one observed
SELECT ex7.create_study(:'u3', :'r', '{"from": "2026-03-02T00:00:00Z", "to": "2026-03-07T00:00:00Z", "evaluation": "fast",
    "objective": {"metric": "net_pnl"},
    "space": {"parameters": {"f.period": {"values": [2, 4]}, "s.period": {"values": [8, 10]}}},
    "walk_forward": {"mode": "rolling", "in_sample_days": 2, "out_of_sample_days": 1}}', true) AS wf \gset
SELECT :'wf'::jsonb ->> 'status' AS status, :'wf'::jsonb #>> '{result,efficiency}' AS efficiency;
SELECT v #> '{observed,walk_forward_efficiency}' AS observed_efficiency,
       v #>> '{observed,walk_forward_study_id}' = :'wf'::jsonb ->> 'id' AS from_the_study,
       v -> 'passed' AS passed, v -> 'failed' AS failed
  FROM ex7.validate_strategy(:'u3', :'r') v;
SELECT ex7.set_validation_policy(jsonb_build_object('min_walk_forward_efficiency', (:'wf'::jsonb #>> '{result,efficiency}')::numeric + 1))
       -> 'min_walk_forward_efficiency' IS NOT NULL AS set;
SELECT v -> 'passed' AS passed, v -> 'failed' -> 0 ->> 'criterion' AS criterion FROM ex7.validate_strategy(:'u3', :'r') v;
-- bad values change nothing
SELECT p AS policy, ex7_test.err(format('SELECT ex7.set_validation_policy(%L)', p)) AS error
  FROM unnest(ARRAY['{"min_deflated_sharpe": 1.5}', '{"min_deflated_sharpe": -0.1}', '{"min_deflated_sharpe": "high"}',
                    '{"min_walk_forward_efficiency": true}']) p;
SELECT ex7.get_validation_policy() -> 'min_deflated_sharpe' AS dsr_unchanged;

-- every curve ends at its run's final equity, net of the costs of the exits that closed the range, also when
-- the range closed on a bar whose own sample had marked the position gross (docs/backtests.md)
SELECT count(*) > 0 AS some_done,
       bool_and((SELECT e.equity FROM ex7.backtest_equity e WHERE e.user_id = b.user_id AND e.backtest_id = b.id
                                ORDER BY e.seq DESC LIMIT 1) = (b.result ->> 'final_equity')::numeric) AS every_curve_ends_at_final_equity
  FROM ex7.backtests b WHERE b.user_id = :'u3' AND b.status = 'done';

-- every criterion off again: the default policy for the other files
SELECT ex7.set_validation_policy('{"window_days": 90, "min_trades": null, "max_drawdown": null, "min_profit_factor": null,
    "min_net_pnl": null, "min_win_rate": null, "min_deflated_sharpe": null, "min_walk_forward_efficiency": null}') AS reset;
