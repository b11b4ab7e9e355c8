-- sql/bar_window.sql: the bar window of ex7._evaluate (ext/graph.c, docs/engine.md "The bar window"): the
-- bars one call reads are kept for the rest of the transaction and sliced by later calls, but only while a
-- read would return exactly the same rows. Each case shows what the evaluations see and how many reads and
-- window hits they took. Another session's commit in READ COMMITTED: specs/bar_window_commit.spec.

-- a contract of its own (removed at the end); 5-minute bars closing 10:05 .. 10:50 New York, every close
-- = 100 * i, with two gaps: no bar 5 (10:25) and no bar 8 (10:40)
INSERT INTO ex7.instruments (symbol, name, tick_size, tick_value, commission_per_side)
VALUES ('X7WIN', 'Bar window test contract', 0.25, 1.25, 0.62);
INSERT INTO ex7.bars (instrument, timeframe, ts, open, high, low, close, volume)
SELECT 'X7WIN', '5m', timestamptz '2026-03-02 10:00-05' + i * interval '5 minutes', 100 * i, 100 * i, 100 * i, 100 * i, 10
  FROM generate_series(1, 10) i WHERE i NOT IN (5, 8);
-- a direct write: its blocks follow by a sync (docs/market.md, "Bar blocks"); the window reads ex7.bars
SELECT ex7._bar_blocks_sync('X7WIN', '5m', '-infinity', 'infinity') AS synced;

-- prev = the close one bar before, avg = SMA(4) of the close; long when the close is above it. Lookback 4.
CREATE FUNCTION pg_temp.g() RETURNS jsonb LANGUAGE sql AS $$
    SELECT '{"nodes": [{"id": "c", "type": "close"}, {"id": "prev", "type": "lag", "params": {"bars": 1}},
                       {"id": "avg", "type": "sma", "params": {"period": 4}}, {"id": "up", "type": "gt"},
                       {"id": "e", "type": "enter_long"}],
            "edges": [{"from": "c", "to": "prev"}, {"from": "c", "to": "avg"}, {"from": "c", "to": "up", "port": "a"},
                      {"from": "avg", "to": "up", "port": "b"}, {"from": "up", "to": "e"}]}'::jsonb;
$$;
-- ev(k, hh:mm): strategy key k evaluated on the bar closing at hh:mm New York time: bars read, close, prev, avg
CREATE FUNCTION pg_temp.ev(k int, t text) RETURNS text LANGUAGE sql STABLE AS $$
    SELECT format('%s bars, close %s, prev %s, avg %s', r -> 'bars', r ->> 'close', r #> '{values,prev}', r #> '{values,avg}')
      FROM ex7._evaluate(('00000000-0000-4000-8000-0000000e0b' || lpad(k::text, 2, '0'))::uuid, 1, pg_temp.g(),
                         'X7WIN', '5m', ('2026-03-02 ' || t || '-05')::timestamptz) r;
$$;
-- reads and window hits since the previous call of this function (kept in sequences: setval is not undone
-- by a rollback)
CREATE TEMP SEQUENCE last_reads MINVALUE 0;
CREATE TEMP SEQUENCE last_hits MINVALUE 0;
CREATE FUNCTION pg_temp.window_delta() RETURNS text LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    s jsonb := ex7._graph_cache_stats();
    d text;
BEGIN
    SELECT format('%s reads, %s hits', (s ->> 'window_reads')::bigint - r.last_value, (s ->> 'window_hits')::bigint - h.last_value)
      INTO d FROM pg_temp.last_reads r, pg_temp.last_hits h;
    PERFORM setval('pg_temp.last_reads', (s ->> 'window_reads')::bigint, true),
            setval('pg_temp.last_hits', (s ->> 'window_hits')::bigint, true);
    RETURN d;
END
$$;
SELECT pg_temp.window_delta() IS NOT NULL AS start;

--
-- One statement: the first evaluation reads, the others (other strategies, the same bar) slice
--
SELECT k, pg_temp.ev(k, '10:50') AS at_1050 FROM generate_series(1, 4) k;
SELECT pg_temp.window_delta() AS one_statement;
-- an earlier bar without its whole history in the window (10:50 reads 4 bars: 10:30, 10:35, 10:45, 10:50):
-- read further back, keeping the newer bars; then bars in between are slices
SELECT pg_temp.ev(1, '10:50') AS at_1050, pg_temp.ev(2, '10:30') AS at_1030, pg_temp.ev(3, '10:45') AS at_1045,
       pg_temp.ev(4, '10:50') AS at_1050_again;
SELECT pg_temp.window_delta() AS earlier_bars;
-- no bar closes at 10:40 (the gap): nothing is evaluated, the window tells; nor at 11:00, after the window:
-- read to find out
SELECT pg_temp.ev(1, '10:50') AS at_1050, pg_temp.ev(2, '10:40') AS at_1040_gap, pg_temp.ev(3, '11:00') AS at_1100;
SELECT pg_temp.window_delta() AS no_bar;
-- the series' first bars: fewer than the lookback exist; the window knows it holds them all
SELECT pg_temp.ev(1, '10:15') AS at_1015, pg_temp.ev(2, '10:05') AS at_1005, pg_temp.ev(3, '10:00') AS at_1000_none;
SELECT pg_temp.window_delta() AS series_start;

--
-- Another statement: another transaction, read again
--
SELECT pg_temp.ev(1, '10:50') AS at_1050;
SELECT pg_temp.window_delta() AS next_transaction;

--
-- A late bar stored inside the transaction between two evaluations (ex7.ingest_bars stores a batch, then
-- dispatches): the second evaluation sees it. Writes to other tables do not drop the window.
--
BEGIN;
SELECT pg_temp.ev(1, '10:50') AS before_late_bar;
-- the bar closing at 10:40, into the past of the window
INSERT INTO ex7.bars (instrument, timeframe, ts, open, high, low, close, volume)
VALUES ('X7WIN', '5m', '2026-03-02 10:40-05', 800, 800, 800, 800, 10);
SELECT pg_temp.ev(2, '10:50') AS after_late_bar;
SELECT pg_temp.window_delta() AS late_bar;
-- a next statement with no write in between has the same command id: it sees what the read saw (a slice)
SELECT pg_temp.ev(3, '10:50') AS no_write_between;
-- writes to other tables move the command id on: the first evaluation after them reads again, and that
-- read is clean (an evaluation in an earlier command saw as many writes to ex7.bars): later ones slice it
CREATE TEMP TABLE unrelated (x int);
INSERT INTO unrelated VALUES (1);
SELECT pg_temp.ev(4, '10:50') AS after_a_write;
INSERT INTO unrelated VALUES (2);
SELECT pg_temp.ev(1, '10:50') AS after_another_write;
SELECT pg_temp.ev(2, '10:50') AS later;
SELECT pg_temp.window_delta() AS clean_window;
ROLLBACK;

--
-- A subtransaction that stored a bar and rolled back: the bar is gone, and so is the window that held it
--
BEGIN;
SELECT pg_temp.ev(1, '10:50') AS before;
SAVEPOINT s;
INSERT INTO ex7.bars (instrument, timeframe, ts, open, high, low, close, volume)
VALUES ('X7WIN', '5m', '2026-03-02 10:40-05', 800, 800, 800, 800, 10);
SELECT pg_temp.ev(2, '10:50') AS in_savepoint;
ROLLBACK TO SAVEPOINT s;
SELECT pg_temp.ev(3, '10:50') AS rolled_back;
SELECT pg_temp.window_delta() AS subtransaction;
-- the same inside one statement: a PL/pgSQL block that stores a bar, evaluates, and fails
CREATE FUNCTION pg_temp.store_eval_fail() RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    seen text;
BEGIN
    BEGIN
        INSERT INTO ex7.bars (instrument, timeframe, ts, open, high, low, close, volume)
        VALUES ('X7WIN', '5m', '2026-03-02 10:40-05', 800, 800, 800, 800, 10);
        seen := pg_temp.ev(1, '10:50');
        RAISE EXCEPTION 'undo';
    EXCEPTION WHEN raise_exception THEN
        RETURN 'inside: ' || seen || '; after: ' || pg_temp.ev(2, '10:50');
    END;
END
$$;
SELECT pg_temp.store_eval_fail() AS failed_block;
SELECT pg_temp.window_delta() AS failed_block;
COMMIT;

--
-- A write in the evaluating statement itself (a data-modifying WITH): that statement does not see the new
-- bar (its command id is the one of the read before it, which it slices), the next one does
--
BEGIN;
SELECT pg_temp.ev(1, '10:50') AS before;
WITH late AS (INSERT INTO ex7.bars (instrument, timeframe, ts, open, high, low, close, volume)
              VALUES ('X7WIN', '5m', '2026-03-02 10:40-05', 800, 800, 800, 800, 10) RETURNING ts)
SELECT pg_temp.ev(2, '10:50') AS same_statement FROM late;
SELECT pg_temp.ev(3, '10:50') AS next_statement;
SELECT pg_temp.window_delta() AS with_insert;
-- and a delete (bars are never deleted by ex7; an operator may): seen at once
DELETE FROM ex7.bars WHERE instrument = 'X7WIN' AND ts = '2026-03-02 10:45-05';
SELECT pg_temp.ev(4, '10:50') AS after_delete;
SELECT pg_temp.window_delta() AS delete;
ROLLBACK;

--
-- A statement's snapshot is older than the commands of the functions it calls: a window read inside such a
-- function after it stored a bar (clean, in a later command) does not serve the statement's own evaluations,
-- which do not see that bar
--
CREATE TEMP TABLE unrelated2 (x int);
CREATE FUNCTION pg_temp.write_then_eval(p_bar boolean) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
    IF p_bar THEN
        INSERT INTO ex7.bars (instrument, timeframe, ts, open, high, low, close, volume)
        VALUES ('X7WIN', '5m', '2026-03-02 10:40-05', 800, 800, 800, 800, 10);
    ELSE
        INSERT INTO unrelated2 VALUES (1);
    END IF;
    RETURN pg_temp.ev(1, '10:50');
END
$$;
BEGIN;
SELECT k, pg_temp.write_then_eval(k = 1) AS in_function, pg_temp.ev(2, '10:50') AS in_statement
  FROM generate_series(1, 3) k ORDER BY k;
SELECT pg_temp.ev(3, '10:50') AS next_statement;
SELECT pg_temp.window_delta() AS function_snapshots;
ROLLBACK;

--
-- Another user (SET ROLE) reads for itself: the read checks its privileges
--
BEGIN;
SELECT pg_temp.ev(1, '10:50') AS as_owner;
SET LOCAL ROLE ex7_user;
SELECT pg_temp.ev(2, '10:50') AS as_ex7_user;
SELECT pg_temp.ev(3, '10:50') AS as_ex7_user_again;
RESET ROLE;
SELECT pg_temp.window_delta() AS other_user;
ROLLBACK;

--
-- The table rewritten inside the transaction (a new relfilenode): read again
--
BEGIN;
SELECT pg_temp.ev(1, '10:50') AS before;
ALTER TABLE ex7.bars ALTER COLUMN volume TYPE numeric;
SELECT pg_temp.ev(2, '10:50') AS after_rewrite;
SELECT pg_temp.window_delta() AS rewrite;
ROLLBACK;

--
-- REPEATABLE READ: one snapshot for the transaction; without writes, one command id too
--
BEGIN ISOLATION LEVEL REPEATABLE READ;
SELECT pg_temp.ev(1, '10:50') AS first;
SELECT pg_temp.ev(2, '10:50') AS second;
SELECT pg_temp.window_delta() AS repeatable_read;
COMMIT;

DELETE FROM ex7.bars WHERE instrument = 'X7WIN';
SELECT ex7._bar_blocks_sync('X7WIN', '5m', '-infinity', 'infinity') AS synced;
DELETE FROM ex7.instruments WHERE symbol = 'X7WIN';
