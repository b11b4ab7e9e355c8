/* ext/sql/64_bar_blocks.sql: bar blocks, the columnar copy of ex7.bars the backtest reads (table:
 * 12_market_schema.sql; format, writer and reader: ext/barblocks.c; docs/market.md "Bar blocks"). The sync
 * every writer of ex7.bars calls, the block helpers it runs, the decoder, and the operator's rebuild and
 * check. None takes a p_user: bars are market-wide, and rebuild and check are the operator's (99_grants.sql).
 */

CREATE OR REPLACE FUNCTION ex7._bar_blocks_sync(p_instrument text, p_timeframe text, p_from timestamptz,
    p_to timestamptz)
RETURNS bigint
AS 'MODULE_PATHNAME', 'bar_blocks_sync'
LANGUAGE C VOLATILE STRICT;
COMMENT ON FUNCTION ex7._bar_blocks_sync(text, text, timestamptz, timestamptz) IS
'Returns the number of bars of series (p_instrument, p_timeframe) with p_from <= ts <= p_to it read from ex7.bars: makes ex7.bar_blocks hold exactly those bars for that range (the blocks'' bars outside it stay; a block left without a bar is deleted), in the caller''s transaction. The ingest functions call it for every bar they store; a direct write to ex7.bars must be followed by it for the range written (or by ex7.bar_blocks_rebuild). Only for a role that may write ex7.bars (42501 otherwise); the blocks are written as their table''s owner. XX001 for a malformed block in the range.';

CREATE OR REPLACE FUNCTION ex7._bar_blocks_splice(p_old bytea, p_new bytea, p_from timestamptz, p_to timestamptz)
RETURNS bytea
AS 'MODULE_PATHNAME', 'bar_blocks_splice'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION ex7._bar_blocks_splice(bytea, bytea, timestamptz, timestamptz) IS
'Returns the block holding the bars of p_old outside [p_from, p_to] and every bar of p_new, ts ascending, a bar of p_new replacing one of p_old at the same ts (ex7._bar_blocks_sync''s ON CONFLICT update). XX001 for a malformed block or two different blocks.';

CREATE OR REPLACE FUNCTION ex7._bar_blocks_cut(p_old bytea, p_from timestamptz, p_to timestamptz)
RETURNS bytea
AS 'MODULE_PATHNAME', 'bar_blocks_cut'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION ex7._bar_blocks_cut(bytea, timestamptz, timestamptz) IS
'Returns block p_old without its bars in [p_from, p_to]; the result may hold no bar. XX001 for a malformed block.';

CREATE OR REPLACE FUNCTION ex7._bar_blocks_count_between(p_data bytea, p_from timestamptz, p_to timestamptz)
RETURNS integer
AS 'MODULE_PATHNAME', 'bar_blocks_count_between'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION ex7._bar_blocks_count_between(bytea, timestamptz, timestamptz) IS
'Returns the number of bars of a block with p_from <= ts <= p_to. XX001 for a malformed block.';

CREATE OR REPLACE FUNCTION ex7._bar_blocks_count(p_data bytea)
RETURNS integer
AS 'MODULE_PATHNAME', 'bar_blocks_count'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION ex7._bar_blocks_count(bytea) IS
'Returns the number of bars in a block. XX001 for a malformed block.';

CREATE OR REPLACE FUNCTION ex7._bar_blocks_raw(p_data bytea)
RETURNS integer
AS 'MODULE_PATHNAME', 'bar_blocks_raw'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION ex7._bar_blocks_raw(bytea) IS
'Returns the number of raw bars in a block: bars with a price that has no int64 mantissa at a display scale up to 254 (NaN, infinity, too many digits), whose exact prices a reader takes from ex7.bars. XX001 for a malformed block.';

CREATE OR REPLACE FUNCTION ex7._bar_block_of(p_timeframe text, p_ts timestamptz)
RETURNS bigint
AS 'MODULE_PATHNAME', 'bar_block_of'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION ex7._bar_block_of(text, timestamptz) IS
'Returns the block of a bar of timeframe p_timeframe closing at p_ts: floor(epoch seconds of p_ts / (timeframe seconds * 64)); NULL when p_timeframe is not a timeframe.';

CREATE OR REPLACE FUNCTION ex7._bar_blocks_problem(p_data bytea, p_timeframe text, p_block bigint)
RETURNS text
AS 'MODULE_PATHNAME', 'bar_blocks_problem'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION ex7._bar_blocks_problem(bytea, text, bigint) IS
'Returns what is wrong with block row (p_timeframe, p_block, p_data), NULL when nothing is: not a version 1 block, an unknown timeframe, no bar, bars out of order, a bar outside the block, a bar raw in some prices only.';

CREATE OR REPLACE FUNCTION ex7._bar_blocks_build(p_instrument text, p_timeframe text)
RETURNS bigint
AS 'MODULE_PATHNAME', 'bar_blocks_build'
LANGUAGE C VOLATILE STRICT;
COMMENT ON FUNCTION ex7._bar_blocks_build(text, text) IS
'Returns the number of bars of series (p_instrument, p_timeframe) it wrote from ex7.bars into ex7.bar_blocks (ex7._bar_blocks_sync over all time). For ex7.bar_blocks_rebuild, which empties the series'' blocks first and keeps writers out.';

CREATE OR REPLACE FUNCTION ex7._bar_blocks_decode(p_instrument text, p_timeframe text,
    p_from timestamptz DEFAULT '-infinity', p_to timestamptz DEFAULT 'infinity')
RETURNS TABLE (ts timestamptz, open numeric, high numeric, low numeric, close numeric, volume bigint,
               open_d float8, high_d float8, low_d float8, close_d float8, raw boolean, block bigint)
AS 'MODULE_PATHNAME', 'bar_blocks_decode'
LANGUAGE C STABLE STRICT ROWS 1000;
COMMENT ON FUNCTION ex7._bar_blocks_decode(text, text, timestamptz, timestamptz) IS
'Returns the bars of series (p_instrument, p_timeframe) with p_from <= ts <= p_to as ex7.bar_blocks holds them, oldest first: exact prices (a raw bar''s from ex7.bars by key, NULL when it is not there), the doubles the backtest reads (equal to numeric::float8 of the prices), raw, the block. For ex7.bar_blocks_check and tests.';

CREATE OR REPLACE FUNCTION ex7._bar_blocks_read(p_instrument text, p_timeframe text, p_after timestamptz,
    p_upto timestamptz, p_chunk integer DEFAULT 8192)
RETURNS TABLE (ts timestamptz, open_d float8, high_d float8, low_d float8, close_d float8, volume_d float8,
               high numeric, low numeric, close numeric, raw boolean)
AS 'MODULE_PATHNAME', 'bar_blocks_read'
LANGUAGE C STABLE STRICT ROWS 1000;
COMMENT ON FUNCTION ex7._bar_blocks_read(text, text, timestamptz, timestamptz, integer) IS
'Returns the bars of series (p_instrument, p_timeframe) with p_after < ts <= p_upto as the backtest reads them: blocks_scan in chunks of p_chunk bars (1 to 100000), doubles for every price and the volume, exact high, low and close through bar_exact_numeric (a raw bar''s from ex7.bars). For tests of the C reader (ext/barblocks.h).';

CREATE OR REPLACE FUNCTION ex7._bar_blocks_scan_bench(p_instrument text, p_timeframe text, p_after timestamptz,
    p_upto timestamptz, p_source text DEFAULT 'blocks', p_exact boolean DEFAULT false)
RETURNS bigint
AS 'MODULE_PATHNAME', 'bar_blocks_scan_bench'
LANGUAGE C STABLE STRICT;
COMMENT ON FUNCTION ex7._bar_blocks_scan_bench(text, text, timestamptz, timestamptz, text, boolean) IS
'Returns the number of bars of series (p_instrument, p_timeframe) with p_after < ts <= p_upto read in chunks of 8192 as the backtest does, through the blocks (p_source blocks, ext/barblocks.c) or ex7.bars'' primary key (bars, ext/barscan.c), with the exact prices (bars: tuple ids) when p_exact. For bench/bench_bar_blocks.sh.';

CREATE OR REPLACE FUNCTION ex7._bar_blocks_series(p_instrument text, p_timeframe text)
RETURNS TABLE (instrument text, timeframe text)
LANGUAGE sql STABLE
AS $$
    -- every series of ex7.bars (an instrument of ex7.instruments, a timeframe of the domain: one probe of
    -- the primary key each) and every series ex7.bar_blocks has, even without bars
    SELECT i.symbol, t.tf
      FROM ex7.instruments i CROSS JOIN pg_catalog.unnest(ex7._timeframes()) AS t (tf)
     WHERE (p_instrument IS NULL OR i.symbol = p_instrument) AND (p_timeframe IS NULL OR t.tf = p_timeframe)
       AND EXISTS (SELECT 1 FROM ex7.bars b WHERE b.instrument = i.symbol AND b.timeframe = t.tf)
    UNION
    SELECT k.instrument, k.timeframe::text FROM ex7.bar_blocks k
     WHERE (p_instrument IS NULL OR k.instrument = p_instrument) AND (p_timeframe IS NULL OR k.timeframe = p_timeframe)
    ORDER BY 1, 2;
$$;
COMMENT ON FUNCTION ex7._bar_blocks_series(text, text) IS
'Returns the series (instrument, timeframe) that have bars or bar blocks, restricted to p_instrument and p_timeframe when not NULL, in order.';

/*
 * bar_blocks_rebuild: after a write to ex7.bars that did not go through the ingest functions (a bulk
 * load, an operator's UPDATE or DELETE, a logical replica; docs/market.md). The SHARE lock keeps every
 * writer of bars out until commit (readers go on), so the blocks are rebuilt from one state of the bars
 * and no ingest syncs into a block being replaced. Only at
 * READ COMMITTED: the statements after the lock then read every bar committed before it; an older
 * transaction snapshot would rebuild from bars that are no longer current.
 */
CREATE OR REPLACE FUNCTION ex7.bar_blocks_rebuild(p_instrument text DEFAULT NULL, p_timeframe text DEFAULT NULL)
RETURNS jsonb
LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
    s record;
    n bigint;
    v_series integer := 0;
    v_bars bigint := 0;
    v_replaced bigint := 0;
    v_blocks bigint;
    v_raw bigint;
BEGIN
    IF pg_catalog.current_setting('transaction_isolation') <> 'read committed' THEN
        RAISE EXCEPTION 'ex7.bar_blocks_rebuild runs at READ COMMITTED only'
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  HINT = 'Its transaction snapshot must be taken after it locks ex7.bars.';
    END IF;
    LOCK TABLE ex7.bars IN SHARE MODE;
    FOR s IN SELECT x.instrument, x.timeframe FROM ex7._bar_blocks_series(p_instrument, p_timeframe) x LOOP
        DELETE FROM ex7.bar_blocks k WHERE k.instrument = s.instrument AND k.timeframe = s.timeframe;
        GET DIAGNOSTICS n = ROW_COUNT;
        v_replaced := v_replaced + n;
        v_bars := v_bars + ex7._bar_blocks_build(s.instrument, s.timeframe);
        v_series := v_series + 1;
    END LOOP;
    SELECT pg_catalog.count(*), coalesce(pg_catalog.sum(ex7._bar_blocks_raw(k.data)), 0) INTO v_blocks, v_raw
      FROM ex7.bar_blocks k
     WHERE (p_instrument IS NULL OR k.instrument = p_instrument) AND (p_timeframe IS NULL OR k.timeframe = p_timeframe);
    RETURN pg_catalog.jsonb_build_object('series', v_series, 'bars', v_bars, 'blocks', v_blocks, 'raw_bars', v_raw,
                                         'blocks_replaced', v_replaced);
END
$$;
COMMENT ON FUNCTION ex7.bar_blocks_rebuild(text, text) IS
'Returns {series, bars, blocks, raw_bars, blocks_replaced}: rebuilds ex7.bar_blocks from ex7.bars for every series, or those of p_instrument and/or p_timeframe (blocks of series without bars are dropped). Locks ex7.bars in SHARE mode until commit (writers wait, readers do not). Operator only; READ COMMITTED only (55000 otherwise).';

/* _bar_blocks_float_same: does a block's double equal numeric::float8 of the bar's price? (true where
 * numeric::float8 has no value: beyond the double's range) */
CREATE OR REPLACE FUNCTION ex7._bar_blocks_float_same(p_n numeric, p_d float8)
RETURNS boolean
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
AS $$
    SELECT CASE WHEN NOT (p_n > '-Infinity' AND p_n < 'Infinity') OR p_n = 0
                     OR pg_catalog.abs(p_n) BETWEEN 1e-300 AND 1e300
                THEN pg_catalog.float8send(p_n::float8) = pg_catalog.float8send(p_d)
                ELSE true END;
$$;
COMMENT ON FUNCTION ex7._bar_blocks_float_same(numeric, float8) IS
'Returns true when p_d has the same IEEE bits as p_n::float8, or when p_n is finite beyond the range of float8 (p_n::float8 would raise).';

CREATE OR REPLACE FUNCTION ex7.bar_blocks_check(p_instrument text DEFAULT NULL, p_timeframe text DEFAULT NULL)
RETURNS jsonb
LANGUAGE plpgsql STABLE
AS $$
DECLARE
    v_malformed jsonb;
    r jsonb;
BEGIN
    -- malformed block rows first: the decoder refuses them
    SELECT pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object('instrument', x.instrument, 'timeframe', x.timeframe,
               'block', x.block, 'problem', x.problem) ORDER BY x.instrument, x.timeframe, x.block)
      INTO v_malformed
      FROM (SELECT k.instrument, k.timeframe, k.block, ex7._bar_blocks_problem(k.data, k.timeframe, k.block) AS problem
              FROM ex7.bar_blocks k
             WHERE (p_instrument IS NULL OR k.instrument = p_instrument)
               AND (p_timeframe IS NULL OR k.timeframe = p_timeframe)) x
     WHERE x.problem IS NOT NULL;
    IF v_malformed IS NOT NULL THEN
        RETURN pg_catalog.jsonb_build_object('ok', false, 'malformed', pg_catalog.jsonb_array_length(v_malformed),
            'examples', (SELECT pg_catalog.jsonb_agg(e.value ORDER BY e.n)
                           FROM pg_catalog.jsonb_array_elements(v_malformed) WITH ORDINALITY e (value, n)
                          WHERE e.n <= 10));
    END IF;

    WITH s AS (SELECT x.instrument, x.timeframe FROM ex7._bar_blocks_series(p_instrument, p_timeframe) x),
    b AS (SELECT b.instrument, b.timeframe::text AS timeframe, b.ts, b.open, b.high, b.low, b.close, b.volume
            FROM s JOIN ex7.bars b ON b.instrument = s.instrument AND b.timeframe = s.timeframe),
    k AS (SELECT s.instrument, s.timeframe, d.ts, d.open, d.high, d.low, d.close, d.volume,
                 d.open_d, d.high_d, d.low_d, d.close_d
            FROM s CROSS JOIN LATERAL ex7._bar_blocks_decode(s.instrument, s.timeframe) d),
    j AS (SELECT coalesce(b.instrument, k.instrument) AS instrument, coalesce(b.timeframe, k.timeframe) AS timeframe,
                 coalesce(b.ts, k.ts) AS ts, b.ts IS NOT NULL AS in_bars, k.ts IS NOT NULL AS in_blocks,
                 CASE WHEN k.ts IS NULL THEN 'missing'
                      WHEN b.ts IS NULL THEN 'extra'
                      -- numeric::text compares value and display scale
                      WHEN (b.open::text, b.high::text, b.low::text, b.close::text, b.volume)
                           IS DISTINCT FROM (k.open::text, k.high::text, k.low::text, k.close::text, k.volume)
                        OR NOT (ex7._bar_blocks_float_same(b.open, k.open_d) AND ex7._bar_blocks_float_same(b.high, k.high_d)
                                AND ex7._bar_blocks_float_same(b.low, k.low_d)
                                AND ex7._bar_blocks_float_same(b.close, k.close_d))
                      THEN 'different' END AS problem
            FROM b FULL JOIN k ON k.instrument = b.instrument AND k.timeframe = b.timeframe AND k.ts = b.ts)
    SELECT pg_catalog.jsonb_build_object(
               'ok', pg_catalog.count(j.problem) = 0,
               'series', (SELECT pg_catalog.count(*) FROM s),
               'bars', pg_catalog.count(*) FILTER (WHERE j.in_bars),
               'block_bars', pg_catalog.count(*) FILTER (WHERE j.in_blocks),
               'missing', pg_catalog.count(*) FILTER (WHERE j.problem = 'missing'),
               'extra', pg_catalog.count(*) FILTER (WHERE j.problem = 'extra'),
               'different', pg_catalog.count(*) FILTER (WHERE j.problem = 'different'),
               'examples', coalesce((SELECT pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object('instrument', e.instrument,
                                         'timeframe', e.timeframe, 'ts', e.ts, 'problem', e.problem)
                                         ORDER BY e.instrument, e.timeframe, e.ts)
                                       FROM (SELECT * FROM j WHERE j.problem IS NOT NULL
                                              ORDER BY j.instrument, j.timeframe, j.ts LIMIT 10) e), '[]'))
      INTO r
      FROM j;
    RETURN r;
END
$$;
COMMENT ON FUNCTION ex7.bar_blocks_check(text, text) IS
'Returns {ok, series, bars, block_bars, missing, extra, different, examples} comparing ex7.bar_blocks with ex7.bars for every series, or those of p_instrument and/or p_timeframe: missing (a bar no block holds), extra (a block bar with no bar), different (other prices, display scale, volume or double); examples lists the first 10 {instrument, timeframe, ts, problem}. ok is true when all three are 0. Malformed block rows return {ok: false, malformed, examples: [{instrument, timeframe, block, problem}]} instead. Operator only.';
