/* ext/upgrade/0.1.0--0.2.0.sql: the DDL delta from 0.1.0 to 0.2.0 (new tables, columns, indexes,
 * policies, triggers; DROP FUNCTION for a function whose signature changed). The Makefile appends every
 * re-runnable file of ext/sql/ (functions, comments, grants) to make ext/ex7--0.1.0--0.2.0.sql.
 * tools/upgrade_check.sh proves that 0.1.0 + this upgrade has the same catalog as a fresh 0.2.0. */

\echo Use "ALTER EXTENSION ex7 UPDATE TO '0.2.0'" to load this file. \quit

-- 0.2.0 moved the instrument cache trigger into ext/sql/41_pnl_schema.sql; it is unchanged.

-- ext/sql/12_market_schema.sql: market data
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

-- ext/sql/06_rate_schema.sql: rate-limit counters shared by every ex7d process
CREATE UNLOGGED TABLE ex7.rate_counters (
    subject      text PRIMARY KEY CHECK (pg_catalog.length(subject) BETWEEN 1 AND 100),
    minute_start timestamptz NOT NULL,
    minute_used  integer NOT NULL CHECK (minute_used >= 0),
    day_start    timestamptz NOT NULL,
    day_used     integer NOT NULL CHECK (day_used >= 0)
);
COMMENT ON TABLE ex7.rate_counters IS 'Requests counted per rate-limit subject (user:<uuid> for bearer subjects, addr:<ip> for public routes) in the current minute and UTC day, across every ex7d process. Written only through ex7.rate_take.';

-- ext/sql/12_market_schema.sql: market closures (holidays, early closes) of a session calendar
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
