-- sql/vix.sql: Vix, strategy generation from plain language (ext/sql/74_vix.sql; docs/account.md).
-- Every generated graph goes through the engine's validator; the quota is per user and UTC day.
\set VERBOSITY terse
CREATE TEMP TABLE prompts (n int PRIMARY KEY, prompt text);
INSERT INTO prompts VALUES
 (1, 'RSI mean reversion on MNQ 5m with a 20 tick stop'),
 (2, 'EMA 9/21 crossover on ES 15 minute bars, 2 contracts, stop 8 ticks, target 16 ticks, RTH only'),
 (3, 'Go long NQ when price crosses above the 50 sma on the 1 hour chart, 10 point stop, 1:3 risk reward'),
 (4, 'MACD(12,26,9) crossover on CL 15m, long and short, 15 tick stop and 30 tick target'),
 (5, 'bollinger band reversion on gold 30 minute, 20 period 2.5 std, short only'),
 (6, 'opening range breakout on micro nasdaq, first 15 minutes, 5m bars, 40 tick stop, 80 tick target'),
 (7, '20 bar breakout on crude oil 1h, long only, stop 25 ticks'),
 (8, 'VWAP cross on MES 2m between 9:45 and 11:30, 3 contracts, flat by the close'),
 (9, 'RSI(2) below 10 above 90 on ES daily, longs only above the 200 sma'),
 (10, 'golden cross on YM daily'),
 (11, 'rsi 25/75 on M2K 15m, 12 tick stop, no target'),
 (12, 'bollinger breakout on RTY 5m, 4 point stop, 2r target, 10am-2pm chicago time'),
 (13, 'macd zero line cross on MGC 4h with 30 tick stop'),
 (14, 'donchian channel 55 on GC 1d, long only'),
 (15, '9 and 21 ema crossover MCL 5m, stop loss of 20 ticks, take profit of 40 ticks, short only'),
 (16, 'Sell when the short-term EMA 12 crosses below the EMA 26 on NQ 30m'),
 (17, 'buy the s&p when the 14 period rsi is oversold at 25, exit at 50, 1:2 rr, 6 point stop');

-- what Vix read of each request, and the engine validator's verdict on every graph
SELECT n, g -> 'understood' AS understood, g -> 'assumptions' AS assumptions
  FROM prompts, LATERAL ex7._vix_parse(prompt) AS g ORDER BY n;
SELECT n, g ->> 'name' AS name, g ->> 'summary' AS summary
  FROM prompts, LATERAL ex7._vix_parse(prompt) AS g ORDER BY n;
SELECT n, jsonb_array_length(g #> '{graph,nodes}') AS nodes, jsonb_array_length(g #> '{graph,edges}') AS edges,
       ex7_test.err(format('SELECT ex7.validate_graph(%L)', g -> 'graph')) AS valid,
       (ex7.validate_graph(g -> 'graph')) -> 'lookback' AS lookback,
       (ex7.validate_graph(g -> 'graph')) -> 'entries' AS entries
  FROM prompts, LATERAL ex7._vix_parse(prompt) AS g ORDER BY n;
-- deterministic: the same request, the same graph
SELECT bool_and(ex7._vix_parse(prompt) = ex7._vix_parse(prompt)) AS deterministic FROM prompts;
-- one graph in full
SELECT jsonb_pretty(ex7._vix_parse(prompt) -> 'graph') FROM prompts WHERE n = 1;

-- requests Vix cannot build: 422 at ["body","prompt"] saying what it understood
SELECT ex7_test.err($$SELECT ex7._vix_parse('make me rich on ES 5m, 2 contracts')$$);
SELECT ex7_test.err($$SELECT ex7._vix_parse('rsi on ES 3m')$$);
SELECT ex7_test.err($$SELECT ex7._vix_parse('ema crossover on ES 5m with a 0 tick stop')$$);
SELECT ex7_test.err($$SELECT ex7._vix_parse('opening range breakout, first 7 minutes, 5m')$$);
SELECT ex7_test.err($$SELECT ex7._vix_parse('macd 26,12,9 on CL')$$);
SELECT ex7_test.err($$SELECT ex7._vix_parse('rsi on ES with 5000 contracts')$$);
SELECT ex7_test.err($$SELECT ex7._vix_parse('rsi(14) oversold 60 overbought 40')$$);
SELECT ex7_test.err($$SELECT ex7._vix_parse('ema 5000 cross on ES')$$);
SELECT ex7_test.err($$SELECT ex7._vix_parse('   ')$$);
SELECT ex7_test.err(format('SELECT ex7._vix_parse(%L)', repeat('rsi ', 501)));

-- the routes: quota per user and UTC day from ex7.tiers.vix_per_day
SELECT tier, vix_per_day FROM ex7.tiers ORDER BY rank;
SELECT ex7.ensure_user('00000000-0000-4000-8000-6d0000000001') IS NOT NULL AS u1;
SELECT ex7.vix_quota('00000000-0000-4000-8000-6d0000000001', '2026-03-02 15:00+00');
SELECT i, ex7_test.err(format($q$SELECT ex7.vix_generate('00000000-0000-4000-8000-6d0000000001', %L, '2026-03-02 15:00+00')$q$,
                              jsonb_build_object('prompt', prompt))) AS outcome
  FROM generate_series(1, 6) i JOIN prompts ON n = i ORDER BY i;
SELECT ex7.vix_quota('00000000-0000-4000-8000-6d0000000001', '2026-03-02 23:59:59+00');
-- the next UTC day starts afresh
SELECT ex7.vix_quota('00000000-0000-4000-8000-6d0000000001', '2026-03-03 00:00+00') ->> 'remaining' AS remaining_next_day;
-- a failed generation costs nothing
SELECT ex7_test.err($$SELECT ex7.vix_generate('00000000-0000-4000-8000-6d0000000001', '{"prompt": "hello"}', '2026-03-03 01:00+00')$$);
SELECT ex7.vix_quota('00000000-0000-4000-8000-6d0000000001', '2026-03-03 01:00+00') ->> 'used' AS used_after_failure;
-- the result, and a draft strategy when asked
SELECT g - 'graph' - 'understood' - 'summary' - 'assumptions' AS result
  FROM ex7.vix_generate('00000000-0000-4000-8000-6d0000000001', '{"prompt": "RSI mean reversion on MNQ 5m with a 20 tick stop"}', '2026-03-03 01:00+00') g;
SELECT g #>> '{strategy,name}' AS name, g #>> '{strategy,status}' AS status, g #> '{strategy,tags}' AS tags,
       g #>> '{strategy,instrument}' AS instrument, g #>> '{strategy,timeframe}' AS timeframe,
       g #> '{strategy,graph}' = g -> 'graph' AS same_graph, g #>> '{quota,used}' AS used
  FROM ex7.vix_generate('00000000-0000-4000-8000-6d0000000001', '{"prompt": "golden cross on YM daily", "create": true}', '2026-03-03 01:00+00') g;
SELECT g #>> '{strategy,name}' AS name
  FROM ex7.vix_generate('00000000-0000-4000-8000-6d0000000001', '{"prompt": "golden cross on YM daily", "create": true}', '2026-03-03 01:00+00') g;
SELECT g #>> '{strategy,name}' AS name
  FROM ex7.vix_generate('00000000-0000-4000-8000-6d0000000001', '{"prompt": "vwap on ES", "create": true, "name": "My VWAP"}', '2026-03-03 01:00+00') g;
SELECT name, status, current_version FROM ex7.strategies WHERE user_id = '00000000-0000-4000-8000-6d0000000001' ORDER BY name;
-- body shape
SELECT ex7_test.err($$SELECT ex7.vix_generate('00000000-0000-4000-8000-6d0000000001', '{}')$$);
SELECT ex7_test.err($$SELECT ex7.vix_generate('00000000-0000-4000-8000-6d0000000001', '{"prompt": 5}')$$);
SELECT ex7_test.err($$SELECT ex7.vix_generate('00000000-0000-4000-8000-6d0000000001', '{"prompt": "rsi", "create": "yes"}')$$);
SELECT ex7_test.err($$SELECT ex7.vix_generate('00000000-0000-4000-8000-6d0000000001', '{"prompt": "rsi", "model": "gpt"}')$$);
SELECT ex7_test.err($$SELECT ex7.vix_generate(NULL, '{"prompt": "rsi"}')$$);
-- over quota: 429 with the reset time, then a tier change lifts the cap at once
SELECT ex7_test.err($$SELECT ex7.vix_generate('00000000-0000-4000-8000-6d0000000001', '{"prompt": "rsi"}', '2026-03-03 01:00+00')$$);
SELECT ex7_test.err($$SELECT ex7.vix_generate('00000000-0000-4000-8000-6d0000000001', '{"prompt": "rsi"}', '2026-03-03 01:00+00')$$);
UPDATE ex7.users SET tier = 'operator' WHERE id = '00000000-0000-4000-8000-6d0000000001';
SELECT ex7.vix_quota('00000000-0000-4000-8000-6d0000000001', '2026-03-03 01:00+00');
SELECT ex7_test.err($$SELECT ex7.vix_generate('00000000-0000-4000-8000-6d0000000001', '{"prompt": "rsi"}', '2026-03-03 01:00+00')$$);
