-- sql/market.sql: market data (ext/sql/63_market.sql, docs/market.md): the timestamp reader, the CME
-- Globex session across a DST change, every ingest rule with its SQLSTATE and locator, duplicates and
-- conflicts, late bars, batches (all or nothing, sorted, locators), the dispatcher call, freshness,
-- Get Instruments and Signals Health with a fixed "now".
-- Data of this file: instruments MYM (tick 1.00), M2K (tick 0.10), MCL (tick 0.01), bars of 2025.
SET timezone = 'America/New_York';
\set u1 '00000000-0000-4000-8000-000000000701'
SELECT ex7.ensure_user(:'u1') ->> 'tier' AS u1_tier;
-- runtimes, closes and the stream need the compliance documents accepted (412 otherwise; docs/billing.md)
SELECT ex7_test.accept_compliance(ARRAY[:'u1']::uuid[]) AS accepted;

--
-- ex7._parse_ts: RFC 3339 with an explicit offset, NULL for anything else
--
SELECT t, ex7._parse_ts(t) AS parsed
  FROM unnest(ARRAY['2025-03-05T19:35:00Z', '2025-03-05 14:35:00-05:00', '2025-03-05t19:35z', '2025-03-05T14:35-0500',
                    '2025-03-05T14:35:00.25-05', '2024-02-29T12:00:00+00:00', '2025-03-05T14:35:00.123456+05:30',
                    -- refused: no offset, bad calendar dates and times, leap second, junk around it
                    '2025-03-05T14:35:00', '2025-02-29T12:00Z', '2025-13-01T00:00Z', '2025-04-31T00:00Z',
                    '2025-03-05T24:00Z', '2025-03-05T12:60Z', '2025-03-05T12:00:60Z', '2025-03-05T12:00:00.1234567Z',
                    '2025-03-05T12:00:00.Z', '2025-03-05T12:00+16:00', '2025-03-05T12:00+05:', '2025-03-05T12:00+05:6',
                    ' 2025-03-05T12:00Z', '2025-03-05T12:00Z ', '2025-3-5T12:00Z', 'now', '', '0000-01-01T00:00Z']) AS t;

--
-- Sessions: Sunday 18:00 to Friday 17:00 New York, break 17:00-18:00, DST-correct
--
SELECT at, extract(isodow FROM at) AS dow, ex7.market_session('MYM', at) AS session
  FROM unnest(ARRAY[
    '2025-03-05 14:00 America/New_York',   -- Wednesday, EST (UTC-5)
    '2025-03-05 16:59:59 America/New_York',
    '2025-03-05 17:00 America/New_York',   -- daily break
    '2025-03-05 17:59:59 America/New_York',
    '2025-03-05 18:00 America/New_York',
    '2025-03-07 16:59 America/New_York',   -- Friday close
    '2025-03-07 17:00 America/New_York',
    '2025-03-08 12:00 America/New_York',   -- Saturday
    '2025-03-09 17:59 America/New_York',   -- Sunday: clocks went forward at 02:00
    '2025-03-09 18:00 America/New_York',   -- the open, now EDT (UTC-4)
    '2025-03-10 17:30 America/New_York',   -- Monday break in EDT
    '2025-11-02 17:00 America/New_York',   -- back to EST that morning
    '2025-11-02 18:00 America/New_York']::timestamptz[]) AS at;
-- the same UTC instant on both sides of the change: 22:30Z is 17:30 EST (break) but 18:30 EDT (open)
SELECT ex7.market_session('MYM', '2025-03-05 22:30Z') AS wed_before_dst, ex7.market_session('MYM', '2025-03-12 22:30Z') AS wed_after_dst;
SELECT ex7_test.err($$SELECT ex7.market_session('XX', now())$$) AS unknown_instrument;
-- a closure (a holiday) closes the session; the open period restarts at its end
INSERT INTO ex7.market_closures (session_calendar, starts_at, ends_at, reason)
VALUES ('cme_globex', '2025-07-03 13:00 America/New_York', '2025-07-06 18:00 America/New_York', 'Independence Day');
SELECT ex7.market_session('MYM', '2025-07-03 12:59 America/New_York') AS before_closure,
       ex7.market_session('MYM', '2025-07-03 13:00 America/New_York') AS closure_start,
       ex7.market_session('MYM', '2025-07-04 10:00 America/New_York') AS holiday,
       ex7.market_session('MYM', '2025-07-06 18:00 America/New_York') AS reopened;
SELECT ex7._session_opened_at('cme_globex', '2025-03-05 10:00 America/New_York') AS opened_wed_morning,
       ex7._session_opened_at('cme_globex', '2025-03-09 19:00 America/New_York') AS opened_sun_evening;
DELETE FROM ex7.market_closures WHERE reason = 'Independence Day';
-- an unknown calendar is never open
SELECT ex7._session_at('lse', '2025-03-05 10:00 America/New_York') AS unknown_calendar;

--
-- Ingest rules: each a 422 with the locator of the field (["body", field] for the single form)
--
-- a 422 shown as "SQLSTATE locator type: msg" (its detail is [{loc, msg, type}]); any other result as is
CREATE FUNCTION pg_temp.e(q text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    r text := ex7_test.err(q);
    d jsonb;
BEGIN
    IF r LIKE 'X7422: % | [%' THEN
        d := split_part(r, ' | ', 2)::jsonb;
        RETURN 'X7422 ' || (d -> 0 -> 'loc')::text || ' ' || (d -> 0 ->> 'type') || ': ' || (d -> 0 ->> 'msg')
            || CASE WHEN jsonb_array_length(d) <> 1 THEN ' (and more)' ELSE '' END;
    END IF;
    RETURN r;
END
$$;
CREATE FUNCTION pg_temp.bar(i text = 'MYM', tf text = '5m', ts timestamptz = '2025-03-05 10:05 America/New_York',
    o numeric = 43000, h numeric = 43010, l numeric = 42990, c numeric = 43005, v bigint = 120)
RETURNS text LANGUAGE sql AS $$
    SELECT pg_temp.e(format('SELECT ex7.ingest_bar(%L, %L, %L, %L, %L, %L, %L, %L)', i, tf, ts, o, h, l, c, v));
$$;
SELECT pg_temp.bar(i => NULL) AS instrument_missing;
SELECT pg_temp.bar(i => 'XYZ') AS instrument_unknown;
UPDATE ex7.instruments SET active = false WHERE symbol = 'MGC';
SELECT pg_temp.bar(i => 'MGC', o => 2900, h => 2901, l => 2899, c => 2900) AS instrument_inactive;
UPDATE ex7.instruments SET active = true, session_calendar = 'lse' WHERE symbol = 'MGC';
SELECT pg_temp.bar(i => 'MGC', o => 2900, h => 2901, l => 2899, c => 2900) AS instrument_unknown_calendar;
UPDATE ex7.instruments SET session_calendar = 'cme_globex' WHERE symbol = 'MGC';
SELECT pg_temp.bar(tf => NULL) AS timeframe_missing;
SELECT pg_temp.bar(tf => '3m') AS timeframe_bad;
SELECT pg_temp.bar(ts => NULL) AS ts_missing;
SELECT pg_temp.bar(ts => '2100-01-05 10:05 America/New_York') AS ts_future;
SELECT pg_temp.bar(ts => '2025-03-05 10:07 America/New_York') AS ts_off_5m_grid;
SELECT pg_temp.bar(ts => '2025-03-05 10:05:30 America/New_York') AS ts_seconds;
SELECT pg_temp.bar(tf => '1h', ts => '2025-03-05 10:30 America/New_York') AS ts_off_1h_grid;
SELECT pg_temp.bar(tf => '4h', ts => '2025-03-05 12:00 America/New_York') AS ts_off_4h_grid;
SELECT pg_temp.bar(tf => '1d', ts => '2025-03-05 16:00 America/New_York') AS ts_1d_not_1700;
SELECT pg_temp.bar(tf => '1m', ts => '2025-03-05 17:30 America/New_York') AS ts_in_break;
SELECT pg_temp.bar(tf => '1m', ts => '2025-03-05 18:00 America/New_York') AS ts_last_minute_of_break;
SELECT pg_temp.bar(tf => '1m', ts => '2025-03-08 10:00 America/New_York') AS ts_saturday;
SELECT pg_temp.bar(tf => '1d', ts => '2025-03-09 17:00 America/New_York') AS ts_1d_sunday;
SELECT pg_temp.bar(o => NULL) AS open_missing;
SELECT pg_temp.bar(c => 43005.5) AS close_off_tick;
SELECT pg_temp.bar(i => 'M2K', o => 2100.0, h => 2100.25, l => 2099.9, c => 2100.1) AS high_off_tick;
SELECT pg_temp.bar(l => 'NaN') AS low_nan;
SELECT pg_temp.bar(h => 1e16) AS high_too_large;
SELECT pg_temp.bar(h => 43004) AS high_below_close;
SELECT pg_temp.bar(l => 43001) AS low_above_open;
SELECT pg_temp.bar(h => 42980) AS high_below_low;
SELECT pg_temp.bar(v => NULL) AS volume_missing;
SELECT pg_temp.bar(v => -1) AS volume_negative;
-- negative prices are prices (CL settled at -37.63 on 2020-04-20); zero volume is a bar without trades
SELECT pg_temp.bar(i => 'MCL', tf => '1d', ts => '2025-03-04 17:00 America/New_York', o => -37.63, h => -37.00, l => -40.32, c => -37.63, v => 0) AS negative_price;
SELECT count(*) AS stored_so_far FROM ex7.bars WHERE instrument IN ('MYM', 'M2K', 'MCL', 'MGC');

--
-- Stored, duplicate, conflict, late
--
SELECT ex7.ingest_bar('MYM', '5m', '2025-03-05 10:05 America/New_York', 43000, 43010, 42990, 43005, 120) AS first;
-- an identical re-send (the same values at another scale) is a no-op
SELECT ex7.ingest_bar('MYM', '5m', '2025-03-05 10:05 America/New_York', 43000.0, 43010, 42990.00, 43005, 120) AS again;
-- the same key with other values: 409 with both bars
SELECT split_part(e, ' | ', 1) AS conflict, jsonb_pretty(split_part(e, ' | ', 2)::jsonb) AS detail
  FROM ex7_test.err($$SELECT ex7.ingest_bar('MYM', '5m', '2025-03-05 10:05 America/New_York', 43000, 43010, 42990, 43006, 120)$$) AS e;
SELECT split_part(e, ' | ', 1) AS conflict_volume, split_part(e, ' | ', 2)::jsonb #> '{sent,volume}' AS sent,
       split_part(e, ' | ', 2)::jsonb #> '{stored,volume}' AS stored
  FROM ex7_test.err($$SELECT ex7.ingest_bar('MYM', '5m', '2025-03-05 10:05 America/New_York', 43000, 43010, 42990, 43005, 121)$$) AS e;
-- prices are stored at the tick size's scale
SELECT ex7.ingest_bar('MYM', '5m', '2025-03-05 10:10 America/New_York', 43005.000, 43020, 43001, 43019, 80) ->> 'status' AS stored,
       ex7.ingest_bar('M2K', '15m', '2025-03-05 10:15 America/New_York', 2100.1, 2101, 2099.90, 2100.3, 5) ->> 'status' AS stored_m2k;
SELECT instrument, timeframe, ts, open, high, low, close, volume FROM ex7.bars WHERE instrument IN ('MYM', 'M2K') ORDER BY 1, 2, 3;
-- older than the newest bar of its series: stored, not dispatched
SELECT ex7.ingest_bar('MYM', '5m', '2025-03-05 09:55 America/New_York', 42990, 43000, 42980, 43000, 50) AS late;
-- the grids that pass: 4h from the 18:00 start (the 14:00-17:00 bar closes at 17:00), 1d at 17:00, 1m at 18:01
SELECT tf, ts, ex7.ingest_bar('MYM', tf, ts, 43000, 43000, 43000, 43000, 1, false) ->> 'status' AS status
  FROM (VALUES ('4h', '2025-03-04 22:00 America/New_York'::timestamptz), ('4h', '2025-03-05 02:00 America/New_York'),
               ('4h', '2025-03-05 17:00 America/New_York'), ('1d', '2025-03-05 17:00 America/New_York'),
               ('1m', '2025-03-05 18:01 America/New_York'), ('1h', '2025-03-09 19:00 America/New_York'),
               ('30m', '2025-03-09 18:30 America/New_York'), ('2m', '2025-03-07 17:00 America/New_York')) AS v (tf, ts);

--
-- The dispatcher: a starting runtime on MYM 5m runs after the first new bar; duplicates and late bars
-- do not reach it
--
SELECT ex7.create_strategy(:'u1', '{"name": "Dow 5m", "instrument": "MYM", "timeframe": "5m"}') ->> 'id' AS s_dow \gset
SELECT ex7.promote_strategy(:'u1', :'s_dow') ->> 'status' AS promoted;
SELECT ex7.start_runtime(:'u1', :'s_dow') ->> 'status' AS runtime;
SELECT r ->> 'status' AS status, r -> 'dispatch' ->> 'started' AS started, r -> 'dispatch' ->> 'bar_ts' AS bar_ts
  FROM ex7.ingest_bar('MYM', '5m', '2025-03-05 10:15 America/New_York', 43019, 43030, 43010, 43025, 60) AS r;
SELECT status, last_bar_ts FROM ex7.strategy_runtimes WHERE strategy_id = :'s_dow';
SELECT r ->> 'status' AS status, r -> 'dispatch' AS dispatch
  FROM ex7.ingest_bar('MYM', '5m', '2025-03-05 10:15 America/New_York', 43019, 43030, 43010, 43025, 60) AS r;
SELECT r ->> 'status' AS status, r -> 'dispatch' AS dispatch
  FROM ex7.ingest_bar('MYM', '5m', '2025-03-05 10:00 America/New_York', 43000, 43000, 42990, 43000, 10) AS r;
-- without dispatch (a history backfill): stored, the runtime does not move
SELECT ex7.ingest_bar('MYM', '5m', '2025-03-05 10:20 America/New_York', 43025, 43025, 43025, 43025, 1, false) AS no_dispatch;
SELECT status, last_bar_ts FROM ex7.strategy_runtimes WHERE strategy_id = :'s_dow';

--
-- Batches: all or nothing, the first bad element (in the order sent) named, then sorted storage
--
SELECT pg_temp.e($$SELECT ex7.ingest_bars(NULL)$$) AS null_body;
SELECT pg_temp.e($$SELECT ex7.ingest_bars('{}')$$) AS bars_missing;
SELECT pg_temp.e($$SELECT ex7.ingest_bars('{"bars": {}}')$$) AS bars_not_list;
SELECT pg_temp.e($$SELECT ex7.ingest_bars('"x"')$$) AS body_scalar;
SELECT pg_temp.e($$SELECT ex7.ingest_bars('{"bars": [], "dispatch": "no"}')$$) AS dispatch_not_bool;
SELECT pg_temp.e(format('SELECT ex7.ingest_bars(%L)', jsonb_build_object('bars',
    (SELECT jsonb_agg('{}'::jsonb) FROM generate_series(1, 10001))))) AS too_many;
SELECT ex7.ingest_bars('{"bars": []}') AS empty;
CREATE FUNCTION pg_temp.b(ts text, c text = '43030', extra jsonb = '{}') RETURNS jsonb LANGUAGE sql AS $$
    SELECT jsonb_build_object('instrument', 'MYM', 'timeframe', '5m', 'ts', ts, 'open', '43025', 'high', '43040',
                              'low', '43020', 'close', c, 'volume', 7) || extra;
$$;
SELECT what, pg_temp.e(format('SELECT ex7.ingest_bars(%L)', jsonb_build_object('bars', jsonb_build_array(
           pg_temp.b('2025-03-05T15:25:00Z'), pg_temp.b('2025-03-05T15:30:00Z'), e)))) AS third_element_bad
  FROM (VALUES ('an array', '[1]'::jsonb), ('a string', '"bar"'),
               ('close off the tick grid', pg_temp.b('2025-03-05T15:35:00Z', '43030.5')),
               ('close not a number', pg_temp.b('2025-03-05T15:35:00Z', 'abc')),
               ('close with an exponent', pg_temp.b('2025-03-05T15:35:00Z', '1e3')),
               ('close NaN', pg_temp.b('2025-03-05T15:35:00Z', 'NaN')),
               ('ts without offset', pg_temp.b('2025-03-05T10:35:00')),
               ('ts off the grid', pg_temp.b('2025-03-05T15:36:00Z')),
               ('ts a word', pg_temp.b('yesterday')),
               ('ts a number', pg_temp.b('2025-03-05T15:35:00Z', extra => '{"ts": 1741189500}')),
               ('volume a fraction', pg_temp.b('2025-03-05T15:35:00Z', extra => '{"volume": 1.5}')),
               ('volume negative string', pg_temp.b('2025-03-05T15:35:00Z', extra => '{"volume": "-3"}')),
               ('volume 2^63', pg_temp.b('2025-03-05T15:35:00Z', extra => '{"volume": 9223372036854775808}')),
               ('instrument a number', pg_temp.b('2025-03-05T15:35:00Z', extra => '{"instrument": 7}')),
               ('high null', pg_temp.b('2025-03-05T15:35:00Z', extra => '{"high": null}')),
               ('timeframe 5M', pg_temp.b('2025-03-05T15:35:00Z', extra => '{"timeframe": "5M"}')),
               ('bad ts and unknown instrument: shape first', pg_temp.b('yesterday', extra => '{"instrument": "ZZ"}'))) AS v (what, e);
-- nothing of a rejected batch is stored
SELECT count(*) AS stored_at_1525_1530 FROM ex7.bars WHERE instrument = 'MYM' AND ts IN ('2025-03-05T15:25:00Z', '2025-03-05T15:30:00Z');
-- a bare array: locators without "bars"
SELECT pg_temp.e(format('SELECT ex7.ingest_bars(%L)', jsonb_build_array(pg_temp.b('2025-03-05T15:25:00Z', '1.5')))) AS bare_array;
-- a conflict inside a batch names the element too
SELECT split_part(e, ' | ', 1) AS conflict_in_batch, split_part(e, ' | ', 2)::jsonb -> 'loc' AS loc,
       split_part(e, ' | ', 2)::jsonb #>> '{stored,close}' AS stored_close, split_part(e, ' | ', 2)::jsonb #>> '{sent,close}' AS sent_close
  FROM ex7_test.err(format('SELECT ex7.ingest_bars(%L)', jsonb_build_object('bars', jsonb_build_array(
    pg_temp.b('2025-03-05T15:25:00Z'), pg_temp.b('2025-03-05T15:10:00Z', '43026'))))) AS e;
SELECT split_part(e, ' | ', 1) AS conflict_within_batch, split_part(e, ' | ', 2)::jsonb -> 'loc' AS loc,
       split_part(e, ' | ', 2)::jsonb #>> '{stored,close}' AS stored_close, split_part(e, ' | ', 2)::jsonb #>> '{sent,close}' AS sent_close
  FROM ex7_test.err(format('SELECT ex7.ingest_bars(%L)', jsonb_build_object('bars', jsonb_build_array(
    pg_temp.b('2025-03-05T15:25:00Z'), pg_temp.b('2025-03-05T15:25:00Z', '43031'))))) AS e;
-- sent out of order, with an in-batch duplicate, a re-sent stored bar, a late bar and another series:
-- stored sorted, so the runtime's last bar is the newest; numbers and strings both accepted
SELECT ex7.ingest_bars(jsonb_build_object('bars', jsonb_build_array(
    pg_temp.b('2025-03-05T15:35:00Z'), pg_temp.b('2025-03-05T15:25:00Z'), pg_temp.b('2025-03-05T15:30:00Z'),
    pg_temp.b('2025-03-05T15:35:00Z'),
    '{"instrument": "MYM", "timeframe": "5m", "ts": "2025-03-05T10:15:00-05:00", "open": 43019, "high": 43030, "low": 43010, "close": 43025, "volume": 60}'::jsonb,
    pg_temp.b('2025-03-05T14:50:00Z', extra => '{"open": "43030", "high": "43030.00", "low": 43020, "close": 43020}'),
    '{"instrument": "MCL", "timeframe": "1m", "ts": "2025-03-05T15:31:00Z", "open": "68.10", "high": 68.2, "low": "68.05", "close": "68.15", "volume": "12", "note": "extra members are ignored"}'::jsonb))) AS batch;
SELECT status, last_bar_ts FROM ex7.strategy_runtimes WHERE strategy_id = :'s_dow';
SELECT ts, close FROM ex7.bars WHERE instrument = 'MYM' AND timeframe = '5m' AND ts >= '2025-03-05T14:50:00Z' ORDER BY ts;
-- dispatch false in the body, and in the argument
SELECT ex7.ingest_bars(jsonb_build_object('bars', jsonb_build_array(pg_temp.b('2025-03-05T15:40:00Z')), 'dispatch', false)) -> 'dispatched' AS body_false,
       ex7.ingest_bars(jsonb_build_array(pg_temp.b('2025-03-05T15:45:00Z')), false) -> 'dispatched' AS arg_false;

--
-- Freshness, Get Instruments and Signals Health, as of fixed instants. Other test files' runtimes and
-- bars are hidden inside a transaction that is rolled back, so this output depends on this file only.
--
BEGIN;
DELETE FROM ex7.strategy_runtimes WHERE user_id <> :'u1';
DELETE FROM ex7.bars WHERE instrument NOT IN ('MYM', 'M2K', 'MCL');
-- the runtime as if started that morning and fed up to the 10:45 bar
UPDATE ex7.strategy_runtimes SET started_at = '2025-03-05 09:00 America/New_York', last_bar_ts = '2025-03-05 10:45 America/New_York'
 WHERE strategy_id = :'s_dow';
-- MYM is traded on 5m by the running runtime: its reference series; its last bar closed 15:45Z (10:45 EST)
SELECT at, h -> 'market_data' -> 'MYM' AS mym, h ->> 'dispatcher' AS dispatcher, h -> 'stale_runtimes' AS stale
  FROM unnest(ARRAY['2025-03-05 10:50 America/New_York',   -- 5 min after: fresh
                    '2025-03-05 10:55 America/New_York',   -- 2 bar lengths: still fresh
                    '2025-03-05 10:55:01 America/New_York', -- stale, and the runtime has seen no bar for as long
                    '2025-03-05 17:30 America/New_York',   -- the break: closed
                    '2025-03-08 12:00 America/New_York',   -- the weekend: closed
                    '2025-03-09 18:05 America/New_York']::timestamptz[]) AS at,  -- 5 min after the open: no bar due yet
       ex7.signals_health(at) AS h;
SELECT jsonb_pretty(ex7.signals_health('2025-03-05 10:50 America/New_York')) AS health;
-- M2K has no runtime: its reference series is the shortest with bars (15m, last bar 10:15 EST)
SELECT ex7.signals_health('2025-03-05 10:45 America/New_York') -> 'market_data' -> 'M2K' AS m2k_fresh,
       ex7.signals_health('2025-03-05 10:45:01 America/New_York') -> 'market_data' -> 'M2K' ->> 'status' AS m2k_after_30_min;
-- the runtimes by status, every status present
UPDATE ex7.strategy_runtimes SET status = 'draining' WHERE strategy_id = :'s_dow';
SELECT ex7.signals_health('2025-03-05 10:50 America/New_York') -> 'runtimes' AS runtimes;
-- a starting runtime that never saw a bar counts from its start
UPDATE ex7.strategy_runtimes SET status = 'starting', last_bar_ts = NULL, started_at = '2025-03-05 10:00 America/New_York'
 WHERE strategy_id = :'s_dow';
SELECT ex7.signals_health('2025-03-05 10:10 America/New_York') ->> 'dispatcher' AS within_2_bars,
       ex7.signals_health('2025-03-05 10:10:01 America/New_York') ->> 'dispatcher' AS after_2_bars;
-- Get Instruments: every instrument by symbol, spec as exact strings, market data
SELECT jsonb_pretty(i) AS mym
  FROM jsonb_array_elements(ex7.list_instruments(:'u1', '2025-03-05 10:50 America/New_York') -> 'items') AS i
 WHERE i ->> 'symbol' = 'MYM';
SELECT i ->> 'symbol' AS symbol, i ->> 'tick_size' AS tick_size, i ->> 'tick_value' AS tick_value, i -> 'active' AS active,
       i -> 'market' ->> 'status' AS status, i -> 'market' ->> 'timeframe' AS timeframe, i -> 'market' ->> 'last_bar_ts' AS last_bar_ts
  FROM jsonb_array_elements(ex7.list_instruments(:'u1', '2025-03-05 10:50 America/New_York') -> 'items') AS i;
SELECT ex7_test.err($$SELECT ex7.list_instruments(NULL)$$) AS no_user;
ROLLBACK;
