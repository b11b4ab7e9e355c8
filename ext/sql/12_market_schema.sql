/* ext/sql/12_market_schema.sql: market data. One row per closed bar of an instrument and timeframe,
 * keyed by the bar's close time (DDL: runs once; new in 0.2.0, included whole by ext/upgrade/0.1.0--0.2.0.sql). Bars are
 * market-wide, not per user: no row-level security, every bound role may read them. */

CREATE TABLE ex7.bars (
    instrument  text NOT NULL REFERENCES ex7.instruments (symbol),
    timeframe   ex7.timeframe NOT NULL,
    ts          timestamptz NOT NULL,
    open        numeric NOT NULL,
    high        numeric NOT NULL,
    low         numeric NOT NULL,
    close       numeric NOT NULL,
    volume      bigint NOT NULL CHECK (volume >= 0),
    received_at timestamptz NOT NULL DEFAULT pg_catalog.now(),
    PRIMARY KEY (instrument, timeframe, ts),
    CHECK (high >= low AND high >= open AND high >= close AND low <= open AND low <= close)
);
SELECT pg_catalog.pg_extension_config_dump('ex7.bars', '');
COMMENT ON TABLE ex7.bars IS 'Closed OHLCV bars per (instrument, timeframe, close time ts). Prices are on the instrument''s tick grid (checked on ingest). The primary key serves the engine''s "last N bars up to ts" reads, newest first.';
COMMENT ON COLUMN ex7.bars.ts IS 'The bar''s close time: a 5m bar covering 14:30-14:35 has ts 14:35.';

/*
 * Market closures: periods a session calendar is closed outside its weekly hours (exchange holidays,
 * early closes). The weekly CME Globex hours are code (ex7._globex_session); only the exceptions are
 * rows, kept by the operator: CME publishes its holiday calendar a year at a time, so ex7 seeds none.
 * An early close is a closure from the early close time to the next open.
 */
CREATE TABLE ex7.market_closures (
    session_calendar text NOT NULL,
    starts_at        timestamptz NOT NULL,
    ends_at          timestamptz NOT NULL,
    reason           text NOT NULL DEFAULT '' CHECK (pg_catalog.length(reason) <= 200),
    PRIMARY KEY (session_calendar, starts_at),
    CHECK (ends_at > starts_at)
);
COMMENT ON TABLE ex7.market_closures IS 'Closed periods of a session calendar beyond its weekly hours (holidays, early closes), kept by the operator. During one, ex7.market_session says closed and freshness is closed.';
SELECT pg_catalog.pg_extension_config_dump('ex7.market_closures', '');

/*
 * Bar blocks: a derived, columnar copy of ex7.bars for the backtest's bar stream (ext/barblocks.c has
 * the format and the reader; docs/market.md "Bar blocks"). One row per (instrument, timeframe, block)
 * with block = floor(epoch seconds of ts / (timeframe seconds * 64)): up to 64 bar slots (64 minutes of
 * 1m bars, 64 days of 1d bars). data holds the block's bars as arrays (ts, exact int64 mantissa and
 * display scale of each price, volume), ~3.3 kB for 64 bars: kept inline and uncompressed (STORAGE MAIN
 * and toast_tuple_target 8160, the largest, so the toaster leaves a row alone up to a page: a reader
 * decodes the block in place on its buffer page); only an oversized block (unaligned bars inserted
 * directly) is compressed or moved out of line. Kept in the writing transaction by the statement
 * triggers below; ex7.bar_blocks_rebuild and ex7.bar_blocks_check (64_bar_blocks.sql) are the
 * operator's. No foreign key: the rows follow ex7.bars, which has them.
 */
CREATE TABLE ex7.bar_blocks (
    instrument  text NOT NULL,
    timeframe   ex7.timeframe NOT NULL,
    block       bigint NOT NULL,
    data        bytea NOT NULL,
    PRIMARY KEY (instrument, timeframe, block)
) WITH (toast_tuple_target = 8160);
ALTER TABLE ex7.bar_blocks ALTER COLUMN data SET STORAGE MAIN;
COMMENT ON TABLE ex7.bar_blocks IS 'Derived columnar copy of ex7.bars, one row per block of 64 bar slots of a series (block = floor(epoch seconds of ts / (timeframe seconds * 64))), kept by triggers on ex7.bars in the writing transaction; read by the backtest (ext/barblocks.c). Rebuild with ex7.bar_blocks_rebuild, compare with ex7.bar_blocks_check.';
COMMENT ON COLUMN ex7.bar_blocks.data IS 'The block''s bars, ts ascending: version byte, bar count, then arrays of ts, open/high/low/close int64 mantissas, volume, open/high/low/close display scales (price = mantissa / 10^scale; scale 255: a raw bar whose mantissas hold the IEEE bits of numeric::float8, exact prices in ex7.bars). Format: ext/barblocks.c.';

-- the trigger function: C (ext/barblocks.c), run as the extension's owner so that any role that may
-- write bars keeps their blocks current without a privilege on ex7.bar_blocks
CREATE OR REPLACE FUNCTION ex7._bar_blocks_trigger()
RETURNS trigger
AS 'MODULE_PATHNAME', 'bar_blocks_trigger'
LANGUAGE C SECURITY DEFINER
SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION ex7._bar_blocks_trigger() IS
'Trigger (AFTER INSERT / UPDATE / DELETE with transition tables, AFTER TRUNCATE, FOR EACH STATEMENT on ex7.bars): merges the statement''s bars into ex7.bar_blocks, removes the deleted ones (an emptied block row is deleted), truncates with the bars.';
-- a trigger with transition tables has one event: three of them, and TRUNCATE
CREATE TRIGGER bars_blocks_insert AFTER INSERT ON ex7.bars
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION ex7._bar_blocks_trigger();
CREATE TRIGGER bars_blocks_update AFTER UPDATE ON ex7.bars
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION ex7._bar_blocks_trigger();
CREATE TRIGGER bars_blocks_delete AFTER DELETE ON ex7.bars
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION ex7._bar_blocks_trigger();
CREATE TRIGGER bars_blocks_truncate AFTER TRUNCATE ON ex7.bars
    FOR EACH STATEMENT EXECUTE FUNCTION ex7._bar_blocks_trigger();
