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
 * Bar blocks: a columnar copy of ex7.bars for the backtest's bar stream (ext/barblocks.c has the format,
 * the writer and the reader; docs/market.md "Bar blocks"). One row per (instrument, timeframe, block) with
 * block = floor(epoch seconds of ts / (timeframe seconds * 64)): up to 64 bar slots (64 minutes of 1m bars,
 * 64 days of 1d bars). data holds the block's bars as arrays (ts, exact int64 mantissa and display scale of
 * each price, volume), ~3.3 kB for 64 bars: kept inline and uncompressed (STORAGE MAIN and
 * toast_tuple_target 8160, the largest, so the toaster leaves a row alone up to a page: a reader decodes
 * the block in place on its buffer page); only an oversized block (unaligned bars inserted directly) is
 * compressed or moved out of line. No trigger keeps it: on Citus both tables are reference tables, where a
 * trigger writing the other one would be a nested distributed write. The writers of ex7.bars call
 * ex7._bar_blocks_sync in their transaction (the ingest functions do, 63_market.sql); after any other
 * write, ex7.bar_blocks_rebuild (64_bar_blocks.sql) brings the blocks back. Dumped by pg_dump like every
 * table (01_backup_schema.sql): a restore loads the blocks with the bars, no trigger rebuilds them. No
 * foreign key: the rows follow ex7.bars, which has them.
 */
CREATE TABLE ex7.bar_blocks (
    instrument  text NOT NULL,
    timeframe   ex7.timeframe NOT NULL,
    block       bigint NOT NULL,
    data        bytea NOT NULL,
    PRIMARY KEY (instrument, timeframe, block)
) WITH (toast_tuple_target = 8160);
SELECT pg_catalog.pg_extension_config_dump('ex7.bar_blocks', '');
ALTER TABLE ex7.bar_blocks ALTER COLUMN data SET STORAGE MAIN;
COMMENT ON TABLE ex7.bar_blocks IS 'Columnar copy of ex7.bars, one row per block of 64 bar slots of a series (block = floor(epoch seconds of ts / (timeframe seconds * 64))), brought up to date by ex7._bar_blocks_sync, which the ingest functions call in their transaction (after any other write to ex7.bars: ex7.bar_blocks_rebuild); read by the backtest (ext/barblocks.c). Compare with ex7.bar_blocks_check.';
COMMENT ON COLUMN ex7.bar_blocks.data IS 'The block''s bars, ts ascending: version byte, bar count, then arrays of ts, open/high/low/close int64 mantissas, volume, open/high/low/close display scales (price = mantissa / 10^scale; scale 255: a raw bar whose mantissas hold the IEEE bits of numeric::float8, exact prices in ex7.bars). Format: ext/barblocks.c.';
