-- sql/bar_blocks.sql: bar blocks (ext/barblocks.c, ext/sql/64_bar_blocks.sql, docs/market.md "Bar blocks"):
-- no trigger keeps ex7.bar_blocks (Citus: docs/market.md); ingest_bar / ingest_bars bring a stored bar's
-- block up to date themselves, and every other write of ex7.bars (single, multi-row and bulk inserts, late
-- bars, updates of prices and keys, deletes, truncate) is followed here by ex7._bar_blocks_sync of the range
-- written or by ex7.bar_blocks_rebuild: after each, the blocks equal the bars (ex7.bar_blocks_check). The
-- raw fallback for prices a block cannot hold, the doubles bit-identical to numeric::float8, the C reader
-- (blocks_scan + bar_exact_numeric through ex7._bar_blocks_read), check and rebuild, privileges.
-- Data of this file: YM and GC bars of 2019 (no other test uses that year); role bb_feed.
SET timezone = 'UTC';

-- the block rows of a series: block, bars, raw bars, bytes a bar (16-byte header)
CREATE FUNCTION pg_temp.blocks(p_instrument text, p_timeframe text)
RETURNS TABLE (block bigint, bars integer, raw integer, bytes_a_bar numeric) LANGUAGE sql AS $$
    SELECT k.block, ex7._bar_blocks_count(k.data), ex7._bar_blocks_raw(k.data),
           round((length(k.data) - 16)::numeric / ex7._bar_blocks_count(k.data), 1)
      FROM ex7.bar_blocks k WHERE k.instrument = p_instrument AND k.timeframe = p_timeframe ORDER BY k.block;
$$;
-- a numeric shown whole up to 24 characters, else as its first 12 and its length
CREATE FUNCTION pg_temp.short(x numeric) RETURNS text LANGUAGE sql AS $$
    SELECT CASE WHEN length(x::text) <= 24 THEN x::text ELSE left(x::text, 12) || '...(' || length(x::text) || ' chars)' END;
$$;
-- ex7.bar_blocks_check of a series, its counts only
CREATE FUNCTION pg_temp.chk(p_instrument text, p_timeframe text DEFAULT NULL) RETURNS text LANGUAGE sql AS $$
    SELECT format('ok %s bars %s block_bars %s missing %s extra %s different %s', r->'ok', r->'bars', r->'block_bars',
                  r->'missing', r->'extra', r->'different')
      FROM ex7.bar_blocks_check(p_instrument, p_timeframe) r;
$$;

--
-- Block numbers: floor(epoch seconds / (timeframe seconds * 64))
--
SELECT tf, ex7._bar_block_of(tf, '2019-03-04 15:01Z') AS block,
       floor(extract(epoch FROM timestamptz '2019-03-04 15:01Z') / (extract(epoch FROM ex7._timeframe_interval(tf)) * 64)) AS expected
  FROM unnest(ex7._timeframes()) AS tf;
SELECT ex7._bar_block_of('1m', '1969-12-31 23:59:59.999999Z') AS before_epoch, ex7._bar_block_of('1m', '1970-01-01 00:00Z') AS epoch,
       ex7._bar_block_of('1m', '1970-01-01 01:03:59.999999Z') AS last_of_0, ex7._bar_block_of('1m', '1970-01-01 01:04Z') AS first_of_1,
       ex7._bar_block_of('3m', now()) AS not_a_timeframe;

--
-- Inserts: one bar, several in one statement, a bulk statement over many blocks
--
INSERT INTO ex7.bars (instrument, timeframe, ts, open, high, low, close, volume)
VALUES ('YM', '1m', '2019-03-04 15:01Z', 25000, 25010, 24990, 25005, 10);
-- nothing follows a direct write by itself
SELECT count(*) AS blocks_before_sync FROM ex7.bar_blocks WHERE instrument = 'YM';
SELECT ex7._bar_blocks_sync('YM', '1m', '2019-03-04 15:01Z', '2019-03-04 15:01Z') AS synced;
SELECT * FROM pg_temp.blocks('YM', '1m');
SELECT * FROM ex7._bar_blocks_decode('YM', '1m');
-- two into the same block, one into the next, in one statement (1m blocks span 64 minutes from the Unix
-- epoch: block 404091 is 14:24 to 15:28, 404092 starts at 15:28)
INSERT INTO ex7.bars (instrument, timeframe, ts, open, high, low, close, volume)
VALUES ('YM', '1m', '2019-03-04 15:03Z', 25005, 25020, 25001, 25019, 12),
       ('YM', '1m', '2019-03-04 15:02Z', 25005, 25006, 25000, 25005, 11),
       ('YM', '1m', '2019-03-04 15:28Z', 25019, 25030, 25010, 25025, 13);
SELECT ex7._bar_blocks_sync('YM', '1m', '2019-03-04 15:02Z', '2019-03-04 15:28Z') AS synced;
SELECT * FROM pg_temp.blocks('YM', '1m');
SELECT ts, open, high, low, close, volume, block FROM ex7._bar_blocks_decode('YM', '1m');
-- a late bar into an existing block lands in ts order
INSERT INTO ex7.bars (instrument, timeframe, ts, open, high, low, close, volume)
VALUES ('YM', '1m', '2019-03-04 15:00Z', 24995, 25001, 24990, 25000, 9);
SELECT ex7._bar_blocks_sync('YM', '1m', '2019-03-04 15:00Z', '2019-03-04 15:00Z') AS synced;
SELECT ts, close, block FROM ex7._bar_blocks_decode('YM', '1m', '2019-03-04 15:00Z', '2019-03-04 15:03Z');
SELECT pg_temp.chk('YM', '1m');

-- one statement of 70,000 2m bars (more than the sync's 65,536-bar chunk: it ends at a block's end), 64 to a block but the first
-- (from 22:56 the day before: 32 bars) and the last; prices on YM's 1.00 grid at scale 2 (26005.00), whole-second times:
-- every column in its narrow form, 24 bytes a bar
INSERT INTO ex7.bars (instrument, timeframe, ts, open, high, low, close, volume)
SELECT 'YM', '2m', timestamptz '2019-06-03 00:00Z' + g * interval '2 minutes', p, p + 5, p - 5, p + 1, g
  FROM (SELECT g, (26000 + (g * 7919) % 1000)::numeric(10, 2) AS p FROM generate_series(0, 69999) g) x;
SELECT ex7._bar_blocks_sync('YM', '2m', '-infinity', 'infinity') AS synced;
SELECT count(*) AS blocks, sum(bars) AS bars, min(bars), max(bars), max(bytes_a_bar) AS bytes_a_bar
  FROM pg_temp.blocks('YM', '2m');
SELECT pg_temp.chk('YM', '2m');

--
-- Updates: prices (same key), keys (a bar moves to another block: the range spans both)
--
UPDATE ex7.bars SET close = 25004, low = 24989 WHERE instrument = 'YM' AND timeframe = '1m' AND ts = '2019-03-04 15:01Z';
SELECT ex7._bar_blocks_sync('YM', '1m', '2019-03-04 15:01Z', '2019-03-04 15:01Z') AS synced;
SELECT ts, low, close FROM ex7._bar_blocks_decode('YM', '1m') WHERE ts = '2019-03-04 15:01Z';
UPDATE ex7.bars SET ts = ts + interval '2 hours' WHERE instrument = 'YM' AND timeframe = '1m' AND ts = '2019-03-04 15:02Z';
SELECT ex7._bar_blocks_sync('YM', '1m', '2019-03-04 15:02Z', '2019-03-04 17:02Z') AS synced;
SELECT * FROM pg_temp.blocks('YM', '1m');
SELECT pg_temp.chk('YM', '1m');
-- a bulk update (more bars than one chunk): every price + 1; before the sync the check sees every bar differ
UPDATE ex7.bars SET open = open + 1, high = high + 1, low = low + 1, close = close + 1
 WHERE instrument = 'YM' AND timeframe = '2m';
SELECT pg_temp.chk('YM', '2m') AS before_sync;
SELECT ex7._bar_blocks_sync('YM', '2m', '2019-06-03 00:00Z', '2019-12-31') AS synced;
SELECT pg_temp.chk('YM', '2m');
SELECT ts, open, close FROM ex7._bar_blocks_decode('YM', '2m', '-infinity', '2019-06-03 00:02Z');

--
-- Deletes: a bar, a whole block (its row goes), a bulk delete
--
DELETE FROM ex7.bars WHERE instrument = 'YM' AND timeframe = '1m' AND ts = '2019-03-04 15:03Z';
DELETE FROM ex7.bars WHERE instrument = 'YM' AND timeframe = '1m' AND ts = '2019-03-04 17:02Z';
SELECT ex7._bar_blocks_sync('YM', '1m', '2019-03-04 15:03Z', '2019-03-04 15:03Z') AS synced_one,
       ex7._bar_blocks_sync('YM', '1m', '2019-03-04 17:02Z', '2019-03-04 17:02Z') AS synced_block;
SELECT * FROM pg_temp.blocks('YM', '1m');
SELECT pg_temp.chk('YM', '1m');
DELETE FROM ex7.bars WHERE instrument = 'YM' AND timeframe = '2m' AND ts >= '2019-08-01';
-- a range that starts inside a block: the block keeps its bars before the range
SELECT ex7._bar_blocks_sync('YM', '2m', '2019-08-01', 'infinity') AS synced;
SELECT count(*) AS blocks, sum(bars) AS bars FROM pg_temp.blocks('YM', '2m');
SELECT pg_temp.chk('YM', '2m');

--
-- TRUNCATE, then the rebuild: no block is left (rolled back: other files' bars stay)
--
BEGIN;
TRUNCATE ex7.bars;
SELECT r -> 'bars' AS bars, r -> 'blocks' AS blocks FROM ex7.bar_blocks_rebuild() r;
SELECT count(*) AS block_rows_after_truncate FROM ex7.bar_blocks;
ROLLBACK;
SELECT count(*) > 0 AS blocks_back FROM pg_temp.blocks('YM', '1m');

--
-- Raw bars: prices a block cannot hold as int64 / 10^scale are kept as doubles; the exact values are
-- read from ex7.bars by key
--
INSERT INTO ex7.bars (instrument, timeframe, ts, open, high, low, close, volume) VALUES
    ('GC', '4h', '2019-03-04 15:00Z', 123456789012345678901.5, 123456789012345678901.5, 1, 2, 5),
    ('GC', '4h', '2019-03-04 19:00Z', 'NaN', 'NaN', 'NaN', 'NaN', 6),
    ('GC', '4h', '2019-03-04 23:00Z', 1, 'Infinity', '-Infinity', 1, 7),
    -- a display scale of 300 (beyond 254)
    ('GC', '4h', '2019-03-05 03:00Z', 1.5::numeric(400, 300), 2, 1, 1.5, 8),
    -- 10^400: no double (numeric::float8 raises); the block keeps infinity
    ('GC', '4h', '2019-03-05 07:00Z', 1, 1e400, 1, 1, 9),
    ('GC', '4h', '2019-03-05 11:00Z', 1300.1, 1301.2, 1299.9, 1300.5, 10);
SELECT ex7._bar_blocks_sync('GC', '4h', '2019-03-04', '2019-03-06') AS synced;
SELECT ts, pg_temp.short(open) AS open, pg_temp.short(high) AS high, low, close, open_d, high_d, low_d, close_d, raw
  FROM ex7._bar_blocks_decode('GC', '4h');
SELECT * FROM pg_temp.blocks('GC', '4h');
SELECT pg_temp.chk('GC', '4h');
-- the reader: blocks_scan doubles, bar_exact_numeric's exact high, low, close (raw ones from ex7.bars)
SELECT ts, high_d, close_d, volume_d, pg_temp.short(high) AS high, low, close, raw, scale(close) AS close_scale
  FROM ex7._bar_blocks_read('GC', '4h', '-infinity', 'infinity');

--
-- Doubles bit-identical to numeric::float8, exact values identical to the stored numerics (value and
-- display scale), over many prices: random, negative, large, many decimals, integers, and the fallbacks
-- (|mantissa| >= 2^53 or scale > 22: through numeric_float8; mantissa beyond int64: raw)
--
SELECT setseed(0.25);
CREATE TEMP TABLE prices AS
SELECT g, CASE g % 12
    WHEN 0 THEN round((random() * 100000)::numeric, 2)                       -- a tick grid price
    WHEN 1 THEN -round((random() * 100000)::numeric, g % 7)                  -- negative, 0 to 6 decimals
    WHEN 2 THEN round((random() * 1e15)::numeric, 0)                         -- large integer
    WHEN 3 THEN (floor(random() * 1e6))::numeric                             -- integer
    WHEN 4 THEN round(random()::numeric, 15)                                 -- many decimals
    WHEN 5 THEN round((random() * 10)::numeric, 17)                          -- mantissa >= 2^53: fallback
    WHEN 6 THEN round((random() * 1e-20)::numeric, 24)                       -- scale 24 > 22: fallback
    WHEN 7 THEN round((random() * 1e6)::numeric, 20)                         -- mantissa beyond int64: raw
    WHEN 8 THEN trim_scale(round((random() * 1000)::numeric, 4))            -- mixed scales
    WHEN 9 THEN round((random() * 1e9)::numeric, 4) * 1.0000                 -- trailing zeros kept
    WHEN 10 THEN round(((random() - 0.5) * 2e-3)::numeric, 9)               -- tiny, either sign
    ELSE round((random() * 9007199254740992)::numeric, 0) END AS x          -- around 2^53
  FROM generate_series(0, 11999) g;
INSERT INTO ex7.bars (instrument, timeframe, ts, open, high, low, close, volume)
SELECT 'GC', '5m', timestamptz '2019-09-02 00:00Z' + g * interval '5 minutes', x, x, x, x, g FROM prices;
SELECT ex7._bar_blocks_sync('GC', '5m', '-infinity', 'infinity') AS synced;
SELECT count(*) AS bars,
       count(*) FILTER (WHERE d.close_d = b.close::float8) AS same_float8,
       count(*) FILTER (WHERE float8send(d.close_d) = float8send(b.close::float8)) AS same_bits,
       count(*) FILTER (WHERE d.close::text = b.close::text AND scale(d.close) = scale(b.close)) AS same_numeric,
       count(*) FILTER (WHERE d.raw) AS raw_bars,
       count(*) FILTER (WHERE p.g % 12 = 7) AS beyond_int64
  FROM ex7.bars b
  JOIN ex7._bar_blocks_decode('GC', '5m') d ON d.ts = b.ts
  JOIN prices p ON b.ts = timestamptz '2019-09-02 00:00Z' + p.g * interval '5 minutes'
 WHERE b.instrument = 'GC' AND b.timeframe = '5m';
-- the same through the reader, in chunks of 7 bars (a chunk ends mid-block)
SELECT count(*) AS bars,
       count(*) FILTER (WHERE float8send(r.close_d) = float8send(b.close::float8)
                          AND float8send(r.open_d) = float8send(b.open::float8)) AS same_bits,
       count(*) FILTER (WHERE r.close::text = b.close::text AND r.high::text = b.high::text
                          AND r.low::text = b.low::text) AS same_numeric,
       count(*) FILTER (WHERE r.volume_d = b.volume) AS same_volume
  FROM ex7._bar_blocks_read('GC', '5m', '-infinity', 'infinity', 7) r
  JOIN ex7.bars b ON b.instrument = 'GC' AND b.timeframe = '5m' AND b.ts = r.ts;
SELECT pg_temp.chk('GC', '5m');
-- blocks whose price columns all have one scale and int32 mantissas (the reader's two-lane SSE2 division):
-- one series a scale, random prices of either sign
INSERT INTO ex7.bars (instrument, timeframe, ts, open, high, low, close, volume)
SELECT 'GC', tf, timestamptz '2019-09-02 00:00Z' + g * ex7._timeframe_interval(tf), x, x, x, x, g
  FROM (VALUES ('1m', 2), ('2m', 5), ('1d', 9)) AS s (tf, sc),
       LATERAL (SELECT g, round(((random() - 0.3) * 2 * 10 ^ (9 - sc))::numeric, sc) AS x
                  FROM generate_series(0, 3999) g) x;
SELECT tf, ex7._bar_blocks_sync('GC', tf, '2019-01-01', '2031-01-01') AS synced FROM unnest(ARRAY['1m', '2m', '1d']) tf;
SELECT r.tf, count(*) AS bars, min(scale(b.close)) AS scale, count(*) FILTER (WHERE b.close < 0) AS negative,
       count(*) FILTER (WHERE float8send(r.open_d) = float8send(b.open::float8) AND float8send(r.high_d) = float8send(b.high::float8)
                          AND float8send(r.low_d) = float8send(b.low::float8) AND float8send(r.close_d) = float8send(b.close::float8)) AS same_bits,
       max(k.bytes_a_bar) AS bytes_a_bar
  FROM unnest(ARRAY['1m', '2m', '1d']) AS r0 (tf)
  CROSS JOIN LATERAL (SELECT r0.tf, x.* FROM ex7._bar_blocks_read('GC', r0.tf, '-infinity', 'infinity', 1000) x) r
  JOIN ex7.bars b ON b.instrument = 'GC' AND b.timeframe = r.tf AND b.ts = r.ts
  CROSS JOIN LATERAL (SELECT max(bytes_a_bar) AS bytes_a_bar FROM pg_temp.blocks('GC', r.tf)) k
 GROUP BY r.tf ORDER BY r.tf;

--
-- The reader's range: after < ts <= upto, oldest first, whichever chunk size
--
-- (2m blocks span 128 minutes: one starts at 2019-06-03 01:04)
SELECT a AS after, u AS upto,
       (SELECT count(*) FROM ex7.bars b WHERE b.instrument = 'YM' AND b.timeframe = '2m' AND b.ts > a AND b.ts <= u) AS in_bars,
       ex7._bar_blocks_scan_bench('YM', '2m', a, u) AS blocks_scan,
       ex7._bar_blocks_scan_bench('YM', '2m', a, u, 'bars') AS bars_scan,
       (SELECT count(*) FROM ex7._bar_blocks_read('YM', '2m', a, u, 100)) AS read_100,
       (SELECT min(ts) FROM ex7._bar_blocks_read('YM', '2m', a, u, 3)) AS first_ts,
       (SELECT max(ts) FROM ex7._bar_blocks_read('YM', '2m', a, u, 3)) AS last_ts
  FROM (VALUES ('-infinity'::timestamptz, 'infinity'::timestamptz),
               ('2019-06-03 00:00Z', '2019-06-03 01:04Z'),       -- upto: the first bar of a block
               ('2019-06-03 01:03Z', '2019-06-03 01:03Z'),       -- empty
               ('2019-06-03 01:01Z', '2019-06-03 01:02Z'),       -- one bar, the last of its block
               ('2019-06-05 10:00Z', '2019-06-08 00:00Z'),
               ('2019-07-31 23:00Z', '2020-01-01 00:00Z'),
               ('2020-01-01 00:00Z', '2019-01-01 00:00Z')) AS r (a, u);
SELECT ts FROM ex7._bar_blocks_read('YM', '2m', '2019-06-03 01:01Z', '2019-06-03 01:09Z', 2);
SELECT ex7._bar_blocks_scan_bench('YM', '1m', '-infinity', 'infinity', 'neither') AS bad_source;
SELECT ex7._bar_blocks_read('YM', '1m', '-infinity', 'infinity', 0) AS bad_chunk;

--
-- ingest_bar and ingest_bars keep the blocks current (in their transaction, like every write)
--
SELECT ex7.ingest_bar('YM', '5m', '2019-03-05 14:35Z', 25100, 25110, 25090, 25105, 100, false) ->> 'status' AS single;
SELECT ex7.ingest_bar('YM', '5m', '2019-03-05 14:35Z', 25100, 25110, 25090, 25105, 100, false) ->> 'status' AS again;
SELECT ex7.ingest_bars(jsonb_build_object('dispatch', false, 'bars', jsonb_build_array(
    jsonb_build_object('instrument', 'YM', 'timeframe', '5m', 'ts', '2019-03-05T14:40:00Z', 'open', '25105', 'high', '25120',
                       'low', '25100', 'close', '25115', 'volume', 90),
    jsonb_build_object('instrument', 'YM', 'timeframe', '5m', 'ts', '2019-03-05T14:30:00Z', 'open', '25095', 'high', '25101',
                       'low', '25090', 'close', '25100', 'volume', 80)))) - 'dispatch' AS batch;
SELECT ts, open, close, volume FROM ex7._bar_blocks_decode('YM', '5m');
SELECT pg_temp.chk('YM', '5m');

--
-- Check finds what differs; rebuild repairs it (direct writes without a sync, a tampered block)
--
INSERT INTO ex7.bars (instrument, timeframe, ts, open, high, low, close, volume)
SELECT 'YM', '15m', timestamptz '2019-03-06 00:00Z' + g * interval '15 minutes', 25000, 25000, 25000, 25000, 1
  FROM generate_series(1, 100) g;
DELETE FROM ex7.bars WHERE instrument = 'YM' AND timeframe = '5m' AND ts = '2019-03-05 14:30Z';
-- the mantissa of the first close of a block, one byte of it changed (header 16, ts 4n, open/high/low 4n each)
UPDATE ex7.bar_blocks SET data = set_byte(data, 16 + 16 * ex7._bar_blocks_count(data),
                                          get_byte(data, 16 + 16 * ex7._bar_blocks_count(data)) # 1)
 WHERE instrument = 'YM' AND timeframe = '1m' AND block = 404091;
SELECT ex7.bar_blocks_check('YM', '5m') -> 'examples' AS extra_example;
SELECT pg_temp.chk('YM', '5m') AS "5m", pg_temp.chk('YM', '15m') AS "15m", pg_temp.chk('YM', '1m') AS "1m";
SELECT e ->> 'ts' AS ts, e ->> 'problem' AS problem
  FROM jsonb_array_elements(ex7.bar_blocks_check('YM', '1m') -> 'examples') e;
-- a malformed block: reported as such; the reader refuses it, and so does an ingest into its block (and a
-- sync of a range that holds it)
UPDATE ex7.bar_blocks SET data = '\x00' WHERE instrument = 'YM' AND timeframe = '1m' AND block = 404092;
SELECT ex7.bar_blocks_check('YM', '1m');
SELECT ex7_test.err($$SELECT ex7._bar_blocks_scan_bench('YM', '1m', '-infinity', 'infinity')$$) AS reader;
SELECT ex7_test.err($$SELECT ex7.ingest_bar('YM', '1m', '2019-03-04 15:29Z', 25001, 25001, 25001, 25001, 1, false)$$) AS writer;
SELECT ex7_test.err($$SELECT ex7._bar_blocks_sync('YM', '1m', '2019-03-04 15:40Z', '2019-03-04 15:50Z')$$) AS sync;
SELECT ex7.bar_blocks_rebuild('YM');
SELECT pg_temp.chk('YM');
SELECT ex7.bar_blocks_rebuild('YM', '15m') AS again_15m;
-- blocks of a series with no bar left are dropped
INSERT INTO ex7.bar_blocks SELECT 'GC', '30m', block, data FROM ex7.bar_blocks WHERE instrument = 'GC' AND timeframe = '4h';
SELECT r -> 'ok' AS ok, r -> 'malformed' AS malformed, r -> 'examples' -> 0 AS first FROM ex7.bar_blocks_check('GC', '30m') r;
SELECT ex7.bar_blocks_rebuild('GC', '30m');
BEGIN ISOLATION LEVEL REPEATABLE READ;
SELECT ex7_test.err($$SELECT ex7.bar_blocks_rebuild('GC')$$) AS repeatable_read;
ROLLBACK;

--
-- Privileges: a bound role reads the blocks like the bars, never rebuilds, checks or syncs them; a role that
-- may write bars brings their blocks up to date without any privilege on them (the sync writes them as the
-- table's owner), through ingest_bar or a sync after its own writes
--
SELECT has_table_privilege('ex7_user', 'ex7.bar_blocks', 'SELECT') AS user_reads,
       has_table_privilege('ex7_user', 'ex7.bar_blocks', 'INSERT') AS user_writes,
       has_function_privilege('ex7_user', 'ex7.bar_blocks_rebuild(text, text)', 'EXECUTE') AS user_rebuilds,
       has_function_privilege('ex7_user', 'ex7.bar_blocks_check(text, text)', 'EXECUTE') AS user_checks;
CREATE ROLE bb_reader;
GRANT USAGE ON SCHEMA ex7, ex7_test TO bb_reader;
GRANT SELECT ON ex7.bars, ex7.bar_blocks TO bb_reader;
SET ROLE bb_reader;
SELECT ex7_test.err($$SELECT ex7._bar_blocks_sync('YM', '30m', '-infinity', 'infinity')$$) AS reader_syncs;
RESET ROLE;
CREATE ROLE bb_feed;
GRANT USAGE ON SCHEMA ex7, ex7_test TO bb_feed;
GRANT INSERT, UPDATE, DELETE, SELECT ON ex7.bars TO bb_feed;
-- (ingest reads the instrument and the price alerts of the series as the writer)
GRANT SELECT ON ex7.instruments, ex7.price_alerts TO bb_feed;
GRANT EXECUTE ON FUNCTION ex7.ingest_bar(text, text, timestamptz, numeric, numeric, numeric, numeric, bigint, boolean) TO bb_feed;
SET ROLE bb_feed;
INSERT INTO ex7.bars (instrument, timeframe, ts, open, high, low, close, volume)
VALUES ('YM', '30m', '2019-03-07 15:00Z', 25200, 25210, 25190, 25205, 5);
SELECT ex7._bar_blocks_sync('YM', '30m', '2019-03-07 15:00Z', '2019-03-07 15:00Z') AS synced;
DELETE FROM ex7.bars WHERE instrument = 'YM' AND timeframe = '30m';
SELECT ex7._bar_blocks_sync('YM', '30m', '2019-03-07 15:00Z', '2019-03-07 15:00Z') AS synced;
SELECT ex7.ingest_bar('YM', '30m', '2019-03-07 15:30Z', 25200, 25210, 25190, 25206, 5, false) ->> 'status' AS ingested;
SELECT ex7_test.err($$SELECT count(*) FROM ex7.bar_blocks$$) AS feed_reads_blocks;
-- blocks_scan checks SELECT on ex7.bar_blocks itself
SELECT ex7_test.err($$SELECT count(*) FROM ex7._bar_blocks_read('YM', '30m', '-infinity', 'infinity')$$) AS feed_scans_blocks;
RESET ROLE;
SELECT ts, close FROM ex7._bar_blocks_decode('YM', '30m');
REVOKE ALL ON ex7.bars, ex7.instruments, ex7.price_alerts FROM bb_feed;
REVOKE ALL ON FUNCTION ex7.ingest_bar(text, text, timestamptz, numeric, numeric, numeric, numeric, bigint, boolean) FROM bb_feed;
REVOKE ALL ON SCHEMA ex7, ex7_test FROM bb_feed;
DROP ROLE bb_feed;
REVOKE ALL ON ex7.bars, ex7.bar_blocks FROM bb_reader;
REVOKE ALL ON SCHEMA ex7, ex7_test FROM bb_reader;
DROP ROLE bb_reader;
SELECT pg_temp.chk('YM') AS ym, pg_temp.chk('GC') AS gc;

-- the bars of this file go, and their blocks with them (other tests read GC and YM series: tests do not
-- depend on each other's data)
DELETE FROM ex7.bars WHERE instrument IN ('GC', 'YM');
SELECT ex7.bar_blocks_rebuild('GC') ->> 'blocks' AS gc_blocks, ex7.bar_blocks_rebuild('YM') ->> 'blocks' AS ym_blocks;
SELECT (SELECT count(*) FROM ex7.bars WHERE instrument IN ('GC', 'YM')) AS bars_left,
       (SELECT count(*) FROM ex7.bar_blocks WHERE instrument IN ('GC', 'YM')) AS blocks_left;
