-- sql/indicators.sql: the compute functions of the graph engine (ext/nodes.c) against values worked out
-- by hand. The source of every expected value is in the comment above its query: a published reference
-- (Wilder's RSI as worked in StockCharts' ChartSchool spreadsheet) or a small series computed by hand,
-- with the arithmetic written out. Values are doubles (docs/engine.md, "Numbers"), shown rounded to 4
-- places (2 where the reference publishes 2). "null" is "no value (yet)".

-- ind(node): a graph computing node "x" (wired by edges_in: from the close "c" by default; "k" is a
-- constant k) that also carries the entry every valid graph needs: enter_long when x > 0, or when x for
-- a boolean node (the catalog says which).
CREATE FUNCTION pg_temp.ind(node jsonb, edges_in jsonb DEFAULT '[{"from": "c", "to": "x"}]', k numeric DEFAULT 0)
RETURNS jsonb LANGUAGE sql AS $$
    SELECT CASE WHEN o.boolean_out THEN
               jsonb_build_object('nodes', base || '[{"id": "e", "type": "enter_long"}]',
                                  'edges', edges_in || '[{"from": "x", "to": "e"}]')
           ELSE
               jsonb_build_object('nodes', base || '[{"id": "zero", "type": "constant"}, {"id": "g", "type": "gt"}, {"id": "e", "type": "enter_long"}]',
                                  'edges', edges_in || '[{"from": "x", "to": "g", "port": "a"}, {"from": "zero", "to": "g", "port": "b"}, {"from": "g", "to": "e"}]')
           END
      FROM (SELECT jsonb_build_array('{"id": "c", "type": "close"}'::jsonb,
                                     jsonb_build_object('id', 'k', 'type', 'constant', 'params', jsonb_build_object('value', k)),
                                     node || '{"id": "x"}') AS base,
                   coalesce((SELECT d ->> 'output' = 'boolean' FROM jsonb_array_elements(ex7.list_engines() -> 'engines') d
                              WHERE d ->> 'type' = node ->> 'type'), false) AS boolean_out) o;
$$;
-- series(graph, bars): node id's value on every bar (ex7.evaluate_graph_series), numbers rounded
CREATE FUNCTION pg_temp.series(g jsonb, bars jsonb, id text DEFAULT 'x', places integer DEFAULT 4)
RETURNS text LANGUAGE sql AS $$
    SELECT string_agg(CASE jsonb_typeof(r.v -> 'values' -> id)
                          WHEN 'number' THEN round((r.v -> 'values' ->> id)::numeric, places)::text
                          WHEN 'null' THEN 'null'
                          ELSE r.v -> 'values' ->> id END, ' ' ORDER BY r.o)
      FROM jsonb_array_elements(ex7.evaluate_graph_series(g, bars)) WITH ORDINALITY AS r (v, o);
$$;
-- a 2-input node fed by the close (port a) and the constant k (port b)
CREATE FUNCTION pg_temp.ab(node jsonb, k numeric) RETURNS jsonb LANGUAGE sql AS $$
    SELECT pg_temp.ind(node, '[{"from": "c", "to": "x", "port": "a"}, {"from": "k", "to": "x", "port": "b"}]', k);
$$;

--
-- Moving averages
--
-- SMA(3) of 1..6: (1+2+3)/3 = 2, (2+3+4)/3 = 3, 4, 5; nothing before the third bar
SELECT pg_temp.series(pg_temp.ind('{"type": "sma", "params": {"period": 3}}'), '[1, 2, 3, 4, 5, 6]') AS sma3;
-- SMA(3) of prices far from zero (sums are taken around a shift): (20000.25 + 20000.50 + 20000.75) / 3 = 20000.50,
-- then 20000.75, 20001.00
SELECT pg_temp.series(pg_temp.ind('{"type": "sma", "params": {"period": 3}}'), '[20000.25, 20000.50, 20000.75, 20001.00, 20001.25]') AS sma3_prices;
-- EMA(3): alpha = 2/(3+1) = 0.5, seeded with SMA(3) of the first three closes = (1+2+3)/3 = 2; then
-- 0.5*4 + 0.5*2 = 3, 0.5*5 + 0.5*3 = 4, 0.5*4 + 0.5*4 = 4, 0.5*3 + 0.5*4 = 3.5
SELECT pg_temp.series(pg_temp.ind('{"type": "ema", "params": {"period": 3}}'), '[1, 2, 3, 4, 5, 4, 3]') AS ema3;
-- EMA(2): alpha = 2/3, seed (1+2)/2 = 1.5; 2/3*3 + 1/3*1.5 = 2.5; 2/3*4 + 1/3*2.5 = 3.5; 4.5;
-- 2/3*4 + 1/3*4.5 = 4.1667; 2/3*3 + 1/3*4.1667 = 3.3889; 2/3*2 + 1/3*3.3889 = 2.4630
SELECT pg_temp.series(pg_temp.ind('{"type": "ema", "params": {"period": 2}}'), '[1, 2, 3, 4, 5, 4, 3, 2]') AS ema2;
-- WMA(3), weights 1, 2, 3 (newest heaviest) over 6: (1*1 + 2*2 + 3*3)/6 = 14/6 = 2.3333, (2 + 6 + 12)/6 =
-- 3.3333; on a rising line every value is x - 2/3 (6x - 4 over 6), across the exact recomputation every 3 bars
SELECT pg_temp.series(pg_temp.ind('{"type": "wma", "params": {"period": 3}}'), '[1, 2, 3, 4, 5, 6, 7, 8]') AS wma3;

--
-- RSI with Wilder smoothing
--
-- Reference: StockCharts ChartSchool, "Relative Strength Index (RSI)", spreadsheet cs-rsi.xls: 33 closes,
-- RSI(14) published to 2 places from the 15th close on: 70.53 66.32 66.55 69.41 66.36 57.97 62.93 63.26
-- 56.06 62.38 54.71 50.42 39.99 41.46 41.87 45.46 37.30 33.08 37.77. First average gain/loss = mean of
-- the first 14 changes, then avg = (prev * 13 + current) / 14 (Wilder, New Concepts in Technical Trading
-- Systems, 1978).
SELECT pg_temp.series(pg_temp.ind('{"type": "rsi", "params": {"period": 14}}'),
    '[44.3389, 44.0902, 44.1497, 43.6124, 44.3278, 44.8264, 45.0955, 45.4245, 45.8433, 46.0826, 45.8931,
      46.0328, 45.6140, 46.2820, 46.2820, 46.0028, 46.0328, 46.4116, 46.2222, 45.6439, 46.2122, 46.2521,
      45.7137, 46.4515, 45.7835, 45.3548, 44.0288, 44.1783, 44.2181, 44.5672, 43.4205, 42.6628, 43.1314]',
    places => 2) AS rsi14_stockcharts;
-- RSI(3) by hand on 1 2 3 4 5 4 3: changes +1 +1 +1 +1 -1 -1. Bar 4: gains 1, losses 0 -> 100 (no loss);
-- bar 5: gain (1*2 + 1)/3 = 1 -> 100; bar 6: gain (1*2 + 0)/3 = 2/3, loss (0*2 + 1)/3 = 1/3, RS = 2,
-- 100 - 100/3 = 66.6667; bar 7: gain 4/9, loss 5/9, RS = 0.8 -> 44.4444
SELECT pg_temp.series(pg_temp.ind('{"type": "rsi", "params": {"period": 3}}'), '[1, 2, 3, 4, 5, 4, 3]') AS rsi3;
-- a flat market has neither gains nor losses: 50 (docs/engine.md)
SELECT pg_temp.series(pg_temp.ind('{"type": "rsi", "params": {"period": 2}}'), '[7, 7, 7, 7]') AS rsi_flat;

--
-- MACD (fast 2, slow 3, signal 2) on 1 2 3 4 5 4 3 2
--
-- line = EMA(2) - EMA(3): EMA(2) above; EMA(3) = 2, 3, 4, 4, 3.5, 2.75 from the third bar, so the line is
-- 2.5-2 = 0.5, 3.5-3 = 0.5, 4.5-4 = 0.5, 4.1667-4 = 0.1667, 3.3889-3.5 = -0.1111, 2.4630-2.75 = -0.2870
SELECT pg_temp.series(pg_temp.ind('{"type": "macd", "params": {"fast": 2, "slow": 3, "signal": 2}}'), '[1, 2, 3, 4, 5, 4, 3, 2]') AS macd_line;
-- signal = EMA(2) of the line, seeded with (0.5 + 0.5)/2 = 0.5 on the 4th bar; 2/3*0.5 + 1/3*0.5 = 0.5;
-- 2/3*0.1667 + 1/3*0.5 = 0.2778; 2/3*(-0.1111) + 1/3*0.2778 = 0.0185; 2/3*(-0.2870) + 1/3*0.0185 = -0.1852
SELECT pg_temp.series(pg_temp.ind('{"type": "macd", "params": {"fast": 2, "slow": 3, "signal": 2, "output": "signal"}}'), '[1, 2, 3, 4, 5, 4, 3, 2]') AS macd_signal;
-- histogram = line - signal: 0, 0, 0.1667-0.2778 = -0.1111, -0.1111-0.0185 = -0.1296, -0.2870+0.1852 = -0.1019
SELECT pg_temp.series(pg_temp.ind('{"type": "macd", "params": {"fast": 2, "slow": 3, "signal": 2, "output": "histogram"}}'), '[1, 2, 3, 4, 5, 4, 3, 2]') AS macd_histogram;

--
-- Bollinger bands and standard deviation (population, as Bollinger defines the bands)
--
-- period 3, 2 deviations on 1 2 3 5 8. [1 2 3]: mean 2, variance (1+0+1)/3 = 2/3, sd 0.8165 -> upper 3.6330,
-- lower 0.3670. [2 3 5]: mean 3.3333, variance (16+1+25)/27 = 1.5556, sd 1.2472 -> 5.8278 / 0.8389.
-- [3 5 8]: mean 5.3333, variance (49+1+64)/27 = 4.2222, sd 2.0548 -> 9.4429 / 1.2237
SELECT pg_temp.series(pg_temp.ind('{"type": "bollinger", "params": {"period": 3, "stddev": 2}}'), '[1, 2, 3, 5, 8]') AS bb_upper,
       pg_temp.series(pg_temp.ind('{"type": "bollinger", "params": {"period": 3, "band": "middle"}}'), '[1, 2, 3, 5, 8]') AS bb_middle,
       pg_temp.series(pg_temp.ind('{"type": "bollinger", "params": {"period": 3, "stddev": 2, "band": "lower"}}'), '[1, 2, 3, 5, 8]') AS bb_lower;
SELECT pg_temp.series(pg_temp.ind('{"type": "stddev", "params": {"period": 3}}'), '[1, 2, 3, 5, 8]') AS stddev3;
-- prices near 20000 one tick apart: [20000, 20000.25, 20000.5] has sd sqrt((0.0625 + 0 + 0.0625)/3) = 0.2041
-- exactly like [0, 0.25, 0.5] (no cancellation)
SELECT pg_temp.series(pg_temp.ind('{"type": "stddev", "params": {"period": 3}}'), '[20000, 20000.25, 20000.5, 20000.75]') AS stddev_prices;

--
-- ATR with Wilder smoothing
--
-- bars (high, low, close): (10, 8, 9) (11, 9, 10.5) (12, 10, 11) (14, 11.5, 13) (13, 10, 10.5) (11, 10.5, 10.75)
-- (13, 12.5, 12.75). True range: 2 (first bar: high - low), max(2, |11-9|, |9-9|) = 2, max(2, 1.5, 0.5) = 2,
-- max(2.5, |14-11| = 3, 0.5) = 3, max(3, 0, |10-13| = 3) = 3, max(0.5, 0.5, 0) = 0.5, gap up max(0.5,
-- |13-10.75| = 2.25, 1.75) = 2.25. ATR(3): (2+2+2)/3 = 2, (2*2 + 3)/3 = 7/3 = 2.3333, (7/3*2 + 3)/3 = 23/9 =
-- 2.5556, (23/9*2 + 0.5)/3 = 101/54 = 1.8704, (101/54*2 + 2.25)/3 = 647/324 = 1.9969
SELECT pg_temp.series(pg_temp.ind('{"type": "atr", "params": {"period": 3}}', '[]'),
    '[{"high": 10, "low": 8, "close": 9}, {"high": 11, "low": 9, "close": 10.5}, {"high": 12, "low": 10, "close": 11},
      {"high": 14, "low": 11.5, "close": 13}, {"high": 13, "low": 10, "close": 10.5}, {"high": 11, "low": 10.5, "close": 10.75},
      {"high": 13, "low": 12.5, "close": 12.75}]') AS atr3;

--
-- Highest, lowest, lag, change
--
-- window of 3 over 5 3 4 6 2 7 1: highest 5 6 6 7 7, lowest 3 3 2 2 1 from the third bar
SELECT pg_temp.series(pg_temp.ind('{"type": "highest", "params": {"period": 3}}'), '[5, 3, 4, 6, 2, 7, 1]') AS highest3,
       pg_temp.series(pg_temp.ind('{"type": "lowest", "params": {"period": 3}}'), '[5, 3, 4, 6, 2, 7, 1]') AS lowest3;
-- on 1 2 4 8: one bar back (the default) 1 2 4 from the second bar; the change over two bars 4-1 = 3, 8-2 = 6
SELECT pg_temp.series(pg_temp.ind('{"type": "lag"}'), '[1, 2, 4, 8]') AS lag1,
       pg_temp.series(pg_temp.ind('{"type": "change", "params": {"bars": 2}}'), '[1, 2, 4, 8]') AS change2;

--
-- VWAP (typical price (h+l+c)/3 weighted by volume), reset at 09:30 New York time
--
-- 2026-01-05 (EST, UTC-5): 09:35 tp (102+98+100)/3 = 100, vol 100 -> 100; 09:40 tp 102, vol 300 -> (10000 +
-- 30600)/400 = 101.5; 09:45 tp 102, vol 100 -> 50800/500 = 101.6. 2026-01-06 09:30: closes at the reset
-- time, so it ends the old period: tp 105, vol 100 -> 61300/600 = 102.1667. 09:35: a new period, tp 108 -> 108.
SELECT pg_temp.series(pg_temp.ind('{"type": "vwap", "params": {"reset": "09:30"}}', '[]'),
    '[{"ts": "2026-01-05T09:35:00-05:00", "high": 102, "low": 98, "close": 100, "volume": 100},
      {"ts": "2026-01-05T09:40:00-05:00", "high": 104, "low": 100, "close": 102, "volume": 300},
      {"ts": "2026-01-05T09:45:00-05:00", "high": 103, "low": 101, "close": 102, "volume": 100},
      {"ts": "2026-01-06T09:30:00-05:00", "high": 106, "low": 104, "close": 105, "volume": 100},
      {"ts": "2026-01-06T09:35:00-05:00", "high": 110, "low": 106, "close": 108, "volume": 50}]') AS vwap;
-- without times there is no anchor: no value
SELECT pg_temp.series(pg_temp.ind('{"type": "vwap"}', '[]'), '[1, 2]') AS vwap_no_ts;

--
-- Opening range: the first 2 bars closing after 09:30 New York time
--
-- 2026-07-01 (EDT, UTC-4) in UTC: 13:25 (09:25, before the start), 13:35 (09:35: high 11, low 9), 13:40
-- (09:40: high 12, low 10; the range is complete: high max(11, 12) = 12, low min(9, 10) = 9), 13:45 (still
-- 12 / 9: later bars do not move it); 2026-07-02 13:35: a new day, one bar of the range so far -> null
SELECT pg_temp.series(pg_temp.ind(n, '[]'),
    '[{"ts": "2026-07-01T13:25:00Z", "high": 15, "low": 5, "close": 10},
      {"ts": "2026-07-01T13:35:00Z", "high": 11, "low": 9, "close": 10},
      {"ts": "2026-07-01T13:40:00Z", "high": 12, "low": 10, "close": 11},
      {"ts": "2026-07-01T13:45:00Z", "high": 20, "low": 1, "close": 11},
      {"ts": "2026-07-02T13:35:00Z", "high": 11, "low": 9, "close": 10}]') AS opening_range
  FROM (VALUES ('{"type": "opening_range", "params": {"bars": 2}}'::jsonb),
               ('{"type": "opening_range", "params": {"bars": 2, "edge": "low"}}')) AS v (n);

--
-- Session filter: (start, end] by the bar's close time, local
--
-- 09:30-16:00 New York. 2026-01-05 EST: 09:30 no (that bar opened at 09:25), 09:35 yes, 16:00 yes, 16:05
-- no; 2026-07-01 13:35 UTC = 09:35 EDT yes (the zone's daylight time), 13:30 UTC = 09:30 EDT no
SELECT pg_temp.series(pg_temp.ind('{"type": "session_filter"}', '[]'),
    '[{"ts": "2026-01-05T09:30:00-05:00", "close": 1}, {"ts": "2026-01-05T09:35:00-05:00", "close": 1},
      {"ts": "2026-01-05T16:00:00-05:00", "close": 1}, {"ts": "2026-01-05T16:05:00-05:00", "close": 1},
      {"ts": "2026-07-01T13:30:00Z", "close": 1}, {"ts": "2026-07-01T13:35:00Z", "close": 1}]') AS rth;
-- overnight (end before start): 18:00-09:30 Chicago time: 18:05 yes, 23:55 yes, 00:00 yes, 09:30 yes,
-- 09:35 no, 17:59 no (2026-01-05/06 CST, UTC-6)
SELECT pg_temp.series(pg_temp.ind('{"type": "session_filter", "params": {"start": "18:00", "end": "09:30", "tz": "America/Chicago"}}', '[]'),
    '[{"ts": "2026-01-05T18:05:00-06:00", "close": 1}, {"ts": "2026-01-05T23:55:00-06:00", "close": 1},
      {"ts": "2026-01-06T00:00:00-06:00", "close": 1}, {"ts": "2026-01-06T09:30:00-06:00", "close": 1},
      {"ts": "2026-01-06T09:35:00-06:00", "close": 1}, {"ts": "2026-01-06T17:59:00-06:00", "close": 1}]') AS overnight;

--
-- Comparisons, crosses, math, logic
--
-- close vs the constant 3 on 1 3 4 2 3 5: crosses_above on the bar where close > 3 after close <= 3 on the
-- bar before: bar 3 (4 after 3) and bar 6 (5 after 3); crosses_below: bar 4 (2 after 4); bar 5 (3 after 2)
-- is not a cross below (3 is not < 3). The first bar has no previous bar: never a cross.
SELECT pg_temp.series(pg_temp.ab('{"type": "crosses_above"}', 3), '[1, 3, 4, 2, 3, 5]') AS crosses_above_3,
       pg_temp.series(pg_temp.ab('{"type": "crosses_below"}', 3), '[1, 3, 4, 2, 3, 5]') AS crosses_below_3;
SELECT t AS op, pg_temp.series(pg_temp.ab(jsonb_build_object('type', t), 3), '[2, 3, 4]') AS vs_3
  FROM unnest(ARRAY['gt', 'gte', 'lt', 'lte', 'add', 'sub', 'mul', 'div', 'min', 'max']) AS t;
-- division by zero is no value; abs
SELECT pg_temp.series(pg_temp.ab('{"type": "div"}', 0), '[1, 2]') AS div_by_0,
       pg_temp.series(pg_temp.ind('{"type": "abs"}'), '[-2.5, 0, 3]') AS abs;
-- a crossing against a series that had no value on the bar before is no crossing: on 1 1 9 1 9 the SMA(3)
-- exists from bar 3 on (11/3 = 3.67); bar 3 closes above it but bar 2 had nothing to compare: false;
-- bar 4: 1 < 3.67; bar 5: 9 > (9+1+9)/3 = 6.33 after 1 <= 3.67: true
SELECT pg_temp.series(jsonb_build_object(
    'nodes', '[{"id": "c", "type": "close"}, {"id": "s", "type": "sma", "params": {"period": 3}},
               {"id": "x", "type": "crosses_above"}, {"id": "e", "type": "enter_long"}]'::jsonb,
    'edges', '[{"from": "c", "to": "s"}, {"from": "c", "to": "x", "port": "a"}, {"from": "s", "to": "x", "port": "b"},
               {"from": "x", "to": "e"}]'::jsonb), '[1, 1, 9, 1, 9]') AS cross_sma;
-- logic on two comparisons of the close with 2 and 4: and / or / not
SELECT n ->> 'type' AS op, pg_temp.series(jsonb_build_object(
    'nodes', jsonb_build_array('{"id": "c", "type": "close"}'::jsonb, '{"id": "two", "type": "constant", "params": {"value": 2}}'::jsonb,
                               '{"id": "four", "type": "constant", "params": {"value": 4}}'::jsonb,
                               '{"id": "above2", "type": "gt"}'::jsonb, '{"id": "below4", "type": "lt"}'::jsonb,
                               n || '{"id": "x"}', '{"id": "e", "type": "enter_long"}'::jsonb),
    'edges', '[{"from": "c", "to": "above2", "port": "a"}, {"from": "two", "to": "above2", "port": "b"},
               {"from": "c", "to": "below4", "port": "a"}, {"from": "four", "to": "below4", "port": "b"},
               {"from": "x", "to": "e"}]'::jsonb
             || CASE WHEN n ->> 'type' = 'not' THEN '[{"from": "above2", "to": "x"}]'::jsonb
                     ELSE '[{"from": "above2", "to": "x", "port": "a"}, {"from": "below4", "to": "x", "port": "b"}]' END),
    '[1, 3, 5]') AS on_1_3_5
  FROM (VALUES ('{"type": "and"}'::jsonb), ('{"type": "or"}'), ('{"type": "not"}')) AS v (n);
-- bar fields: open, high, low, close, volume, hl2 = (12+8)/2 = 10, hlc3 = (12+8+11)/3 = 10.3333,
-- ohlc4 = (9+12+8+11)/4 = 10
SELECT t AS field, pg_temp.series(pg_temp.ind(jsonb_build_object('type', t), '[]'),
                                  '[{"open": 9, "high": 12, "low": 8, "close": 11, "volume": 250}]') AS value
  FROM unnest(ARRAY['open', 'high', 'low', 'close', 'volume', 'hl2', 'hlc3', 'ohlc4']) AS t;

--
-- Warm-up: values appear as soon as they are defined; "warm" says the whole graph has its lookback
--
-- SMA(3) needs 3 bars (lookback 3): warm from the third bar on
SELECT ex7.validate_graph(pg_temp.ind('{"type": "sma", "params": {"period": 3}}')) -> 'lookback' AS sma3_lookback,
       pg_temp.series(pg_temp.ind('{"type": "sma", "params": {"period": 3}}'), '[1, 2, 3, 4]', 'x') AS sma3,
       (SELECT string_agg(r ->> 'warm', ' ') FROM jsonb_array_elements(
            ex7.evaluate_graph_series(pg_temp.ind('{"type": "sma", "params": {"period": 3}}'), '[1, 2, 3, 4]')) r) AS warm;
-- EMA(3) is defined from the third bar but settles later: its seed must weigh at most 1e-4, (1 - 0.5)^k <=
-- 1e-4 for k >= 14, so the lookback is 3 + 14 = 17 (docs/engine.md); RSI(14): 14 + 1 + 125 = 140
-- ((13/14)^125 = 0.0000964)
SELECT ex7.validate_graph(pg_temp.ind('{"type": "ema", "params": {"period": 3}}')) -> 'lookback' AS ema3_lookback,
       ex7.validate_graph(pg_temp.ind('{"type": "rsi", "params": {"period": 14}}')) -> 'lookback' AS rsi14_lookback,
       ex7.validate_graph(pg_temp.ind('{"type": "vwap"}', '[]')) -> 'lookback' AS vwap_lookback;

--
-- Actions on the closing bar (the fields the dispatcher reads)
--
-- long (size 2) when close > 2 with a 8-tick stop and a 16-tick target, a second long (size 5) when
-- close > 2 too, short (size 1) when close > 3 with a 4-tick stop, exit_long when close < 2
CREATE FUNCTION pg_temp.actions(bars jsonb) RETURNS jsonb LANGUAGE sql AS $$
    SELECT ex7.evaluate_graph_on('{
        "nodes": [{"id": "c", "type": "close"}, {"id": "two", "type": "constant", "params": {"value": 2}},
                  {"id": "three", "type": "constant", "params": {"value": 3}},
                  {"id": "above2", "type": "gt"}, {"id": "above3", "type": "gt"}, {"id": "below2", "type": "lt"},
                  {"id": "long", "type": "enter_long", "params": {"size": 2}},
                  {"id": "long5", "type": "enter_long", "params": {"size": 5}},
                  {"id": "short", "type": "enter_short"},
                  {"id": "out", "type": "exit_long"},
                  {"id": "stop", "type": "stop_loss_ticks", "params": {"ticks": 8}},
                  {"id": "target", "type": "take_profit_ticks", "params": {"ticks": 16}},
                  {"id": "short_stop", "type": "stop_loss_ticks", "params": {"ticks": 4}}],
        "edges": [{"from": "c", "to": "above2", "port": "a"}, {"from": "two", "to": "above2", "port": "b"},
                  {"from": "c", "to": "above3", "port": "a"}, {"from": "three", "to": "above3", "port": "b"},
                  {"from": "c", "to": "below2", "port": "a"}, {"from": "two", "to": "below2", "port": "b"},
                  {"from": "above2", "to": "long"}, {"from": "above2", "to": "long5"}, {"from": "above3", "to": "short"},
                  {"from": "below2", "to": "out"},
                  {"from": "long", "to": "stop"}, {"from": "long", "to": "target"}, {"from": "short", "to": "short_stop"}]}',
        bars) - 'values';
$$;
-- close 3: both longs fire, the first in node order gives the size (2) and the brackets; close 4: the short
-- fires as well: a conflict, no bracket; close 1: only the exit
SELECT pg_temp.actions('[3]') AS long_only;
SELECT pg_temp.actions('[4]') AS both_sides;
SELECT pg_temp.actions('[1]') AS exit_only;
-- no bars at all: nothing is defined and nothing fires
SELECT pg_temp.actions('[]') AS no_bars;
