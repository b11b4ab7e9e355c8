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
