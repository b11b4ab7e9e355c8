/* ext/sql/63_market.sql: market data (docs/market.md). Ingest of closed bars from SQL
 * (ex7.ingest_bar, ex7.ingest_bars), REST (POST /api/market/bars) and CSV (ex7d import-bars), each new bar
 * handed to the dispatcher (ex7._dispatch_bar) inside the ingest transaction; the CME Globex session
 * calendar; freshness; GET /api/instruments and GET /api/signals/health. docs/market.md has the rules.
 */

/* ---------------------------------------------------------------------------------------------------
 * Timeframes and the session calendar
 * ------------------------------------------------------------------------------------------------- */

CREATE OR REPLACE FUNCTION ex7._parse_ts(p_text text)
RETURNS timestamptz
AS 'MODULE_PATHNAME', 'parse_ts'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION ex7._parse_ts(text) IS
'Returns the instant named by an RFC 3339 timestamp with an explicit offset (2026-04-20T13:30:00Z, 2026-04-20 09:30:00-04:00), or NULL for anything else, a local time without offset included. Never raises (ext/market.c).';

CREATE OR REPLACE FUNCTION ex7._timeframes()
RETURNS text[]
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
    SELECT '{1m,2m,5m,15m,30m,1h,4h,1d}'::text[];
$$;
COMMENT ON FUNCTION ex7._timeframes() IS
'Returns the timeframes of the ex7.timeframe domain, shortest first.';

CREATE OR REPLACE FUNCTION ex7._timeframe_interval(p_timeframe text)
RETURNS interval
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
    SELECT CASE
        WHEN p_timeframe OPERATOR(pg_catalog.=) '1m' THEN interval '1 minute'
        WHEN p_timeframe OPERATOR(pg_catalog.=) '2m' THEN interval '2 minutes'
        WHEN p_timeframe OPERATOR(pg_catalog.=) '5m' THEN interval '5 minutes'
        WHEN p_timeframe OPERATOR(pg_catalog.=) '15m' THEN interval '15 minutes'
        WHEN p_timeframe OPERATOR(pg_catalog.=) '30m' THEN interval '30 minutes'
        WHEN p_timeframe OPERATOR(pg_catalog.=) '1h' THEN interval '1 hour'
        WHEN p_timeframe OPERATOR(pg_catalog.=) '4h' THEN interval '4 hours'
        WHEN p_timeframe OPERATOR(pg_catalog.=) '1d' THEN interval '24 hours' END;
$$;
COMMENT ON FUNCTION ex7._timeframe_interval(text) IS
'Returns the length of one bar of the timeframe (1d: 24 hours), or NULL for a value that is not a timeframe.';

CREATE OR REPLACE FUNCTION ex7._iso(p_ts timestamptz)
RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE
AS $$
    SELECT pg_catalog.to_jsonb(p_ts) #>> '{}';
$$;
COMMENT ON FUNCTION ex7._iso(timestamptz) IS
'Returns p_ts as ISO-8601 text with the session''s UTC offset, as the JSON of the API shows it (error messages use it).';

/*
 * _globex_session: the weekly CME Globex hours. facts.md: "CME Globex equity futures trade Sunday 18:00
 * to Friday 17:00 America/New_York with a daily break 17:00-18:00; the trading day starts at 18:00 New
 * York time" (the energy and metals contracts of ex7.instruments keep the same hours). Reading the
 * instant in New York local time makes every rule DST-correct; US clocks change at 02:00 on a Sunday,
 * inside the weekend closure, so no session edge ever falls in a skipped or repeated hour.
 */
CREATE OR REPLACE FUNCTION ex7._globex_session(p_at timestamptz)
RETURNS text
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
AS $$
    SELECT CASE
        WHEN l.dow = 6 THEN 'closed'                                              -- Saturday
        WHEN l.dow = 7 THEN CASE WHEN l.t >= time '18:00' THEN 'open' ELSE 'closed' END  -- Sunday
        WHEN l.dow = 5 THEN CASE WHEN l.t < time '17:00' THEN 'open' ELSE 'closed' END   -- Friday
        WHEN l.t >= time '17:00' AND l.t < time '18:00' THEN 'break'            -- Monday to Thursday
        ELSE 'open' END
      FROM (SELECT pg_catalog.date_part('isodow', x.local)::integer AS dow, x.local::time AS t
              FROM (SELECT pg_catalog.timezone('America/New_York', p_at) AS local) x) l;
$$;
COMMENT ON FUNCTION ex7._globex_session(timestamptz) IS
'Returns open, break (Monday to Thursday 17:00-18:00 New York) or closed (Friday 17:00 to Sunday 18:00 New York) for the weekly CME Globex hours at p_at. Ignores ex7.market_closures.';

CREATE OR REPLACE FUNCTION ex7._session_at(p_calendar text, p_at timestamptz)
RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE
AS $$
    SELECT CASE
        -- a calendar ex7 does not know is never claimed open, so nothing on it is ever called fresh
        WHEN p_calendar IS DISTINCT FROM 'cme_globex' THEN 'closed'
        WHEN EXISTS (SELECT 1 FROM ex7.market_closures c
                      WHERE c.session_calendar = p_calendar AND c.starts_at <= p_at AND c.ends_at > p_at)
            THEN 'closed'
        ELSE ex7._globex_session(p_at) END;
$$;
COMMENT ON FUNCTION ex7._session_at(text, timestamptz) IS
'Returns open, break or closed for session calendar p_calendar at p_at: the weekly hours, closed during a row of ex7.market_closures, and always closed for a calendar other than cme_globex.';

/*
 * _session_opened_at: when the open period that contains p_at began: the last 18:00 New York at or
 * before p_at, or the end of a closure when one ended later. Freshness counts a bar's lag from here at
 * the earliest, so that the minutes after Sunday's open (no bar has closed yet) are not "stale".
 */
CREATE OR REPLACE FUNCTION ex7._session_opened_at(p_calendar text, p_at timestamptz)
RETURNS timestamptz
LANGUAGE sql STABLE PARALLEL SAFE
AS $$
    SELECT GREATEST(
        pg_catalog.timezone('America/New_York',
            pg_catalog.date_trunc('day', x.local) + interval '18 hours'
            - CASE WHEN x.local::time >= time '18:00' THEN interval '0' ELSE interval '1 day' END),
        (SELECT pg_catalog.max(c.ends_at) FROM ex7.market_closures c
          WHERE c.session_calendar = p_calendar AND c.ends_at <= p_at))
      FROM (SELECT pg_catalog.timezone('America/New_York', p_at) AS local) x;
$$;
COMMENT ON FUNCTION ex7._session_opened_at(text, timestamptz) IS
'Returns the start of the open period containing p_at: the latest 18:00 New York at or before it, or the end of a later ex7.market_closures row. Meaningful while the session is open.';

CREATE OR REPLACE FUNCTION ex7.market_session(p_instrument text, p_at timestamptz DEFAULT pg_catalog.now())
RETURNS text
LANGUAGE plpgsql STABLE
AS $$
DECLARE
    v_calendar text;
BEGIN
    SELECT i.session_calendar INTO v_calendar FROM ex7.instruments i WHERE i.symbol = p_instrument;
    IF NOT FOUND THEN
        PERFORM ex7._raise(404, pg_catalog.format('unknown instrument %s', p_instrument));
    END IF;
    RETURN ex7._session_at(v_calendar, coalesce(p_at, pg_catalog.now()));
END
$$;
COMMENT ON FUNCTION ex7.market_session(text, timestamptz) IS
'Returns open, break or closed: the session of the instrument''s calendar at p_at (default now). cme_globex: Sunday 18:00 to Friday 17:00 America/New_York, break 17:00-18:00 Monday to Thursday, closed during ex7.market_closures rows (holidays are not built in). X7404 for an unknown instrument.';

/*
 * _bar_aligned: is p_ts a close time of a p_timeframe bar? Minute and hour bars close on whole multiples
 * of their length (New York's UTC offsets are whole hours, so the UTC grid is the New York grid). 4h
 * bars are counted from the trading day's start at 18:00 New York (facts.md) and close at 22:00, 02:00,
 * 06:00, 10:00 and 14:00, and at the session end 17:00 (that last one covers three hours). A 1d bar is
 * one trading day and closes at 17:00 New York.
 */
CREATE OR REPLACE FUNCTION ex7._bar_aligned(p_timeframe text, p_ts timestamptz)
RETURNS boolean
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
AS $$
    SELECT CASE p_timeframe
        WHEN '1d' THEN pg_catalog.timezone('America/New_York', p_ts)::time = time '17:00'
        WHEN '4h' THEN pg_catalog.timezone('America/New_York', p_ts)::time
                       IN (time '22:00', time '02:00', time '06:00', time '10:00', time '14:00', time '17:00')
        ELSE EXTRACT(epoch FROM p_ts) % EXTRACT(epoch FROM ex7._timeframe_interval(p_timeframe)) = 0 END;
$$;
COMMENT ON FUNCTION ex7._bar_aligned(text, timestamptz) IS
'Returns true when p_ts is a close time of a p_timeframe bar: minute and hour bars on multiples of their length, 4h bars at 22:00 02:00 06:00 10:00 14:00 and 17:00 New York (counted from the 18:00 trading-day start), 1d bars at 17:00 New York.';

/* ---------------------------------------------------------------------------------------------------
 * Bars: JSON, validation, storage
 * ------------------------------------------------------------------------------------------------- */

CREATE OR REPLACE FUNCTION ex7._bar_json(p_b ex7.bars)
RETURNS jsonb
LANGUAGE sql STABLE PARALLEL SAFE
AS $$
    SELECT pg_catalog.jsonb_build_object(
        'instrument', p_b.instrument, 'timeframe', p_b.timeframe, 'ts', p_b.ts,
        'open', p_b.open::pg_catalog.text, 'high', p_b.high::pg_catalog.text,
        'low', p_b.low::pg_catalog.text, 'close', p_b.close::pg_catalog.text,
        'volume', p_b.volume);
$$;
COMMENT ON FUNCTION ex7._bar_json(ex7.bars) IS
'Returns the API JSON of a bar: instrument, timeframe, ts (the close time), open, high, low, close as exact decimal strings, volume.';

/*
 * _check_bar: the rules every bar passes before it is stored, whichever way it came (docs/market.md,
 * "Rules"): bars off the tick grid (facts.md's contract specs) or for unknown instruments are rejected
 * with clear errors. Each failure is a 422
 * whose locator is p_loc plus the field. Order: instrument, timeframe, ts (future, grid, session),
 * prices (range, tick grid), OHLC consistency, volume.
 */
CREATE OR REPLACE FUNCTION ex7._check_bar(p_loc jsonb, p_instrument text, p_timeframe text, p_ts timestamptz,
    p_open numeric, p_high numeric, p_low numeric, p_close numeric, p_volume bigint)
RETURNS ex7.bars
LANGUAGE plpgsql STABLE
AS $$
DECLARE
    i ex7.instruments;
    v_names text[] := '{open,high,low,close}';
    v_prices numeric[] := ARRAY[p_open, p_high, p_low, p_close];
    v_scale integer;
    b ex7.bars;
BEGIN
    IF p_instrument IS NULL THEN
        PERFORM ex7._invalid(p_loc || '["instrument"]', 'field required', 'value_error.missing');
    END IF;
    SELECT * INTO i FROM ex7.instruments x WHERE x.symbol = p_instrument;
    IF NOT FOUND THEN
        PERFORM ex7._invalid(p_loc || '["instrument"]', pg_catalog.format('unknown instrument %s', p_instrument),
                             'value_error.instrument');
    ELSIF NOT i.active THEN
        PERFORM ex7._invalid(p_loc || '["instrument"]', pg_catalog.format('instrument %s is not active', p_instrument),
                             'value_error.instrument');
    ELSIF i.session_calendar <> 'cme_globex' THEN
        PERFORM ex7._invalid(p_loc || '["instrument"]',
            pg_catalog.format('instrument %s uses session calendar %s, which ex7 does not know', p_instrument,
                              i.session_calendar), 'value_error.instrument');
    END IF;

    IF p_timeframe IS NULL THEN
        PERFORM ex7._invalid(p_loc || '["timeframe"]', 'field required', 'value_error.missing');
    ELSIF NOT p_timeframe = ANY (ex7._timeframes()) THEN
        PERFORM ex7._invalid(p_loc || '["timeframe"]',
            'value is not a valid enumeration member; permitted: 1m, 2m, 5m, 15m, 30m, 1h, 4h, 1d', 'type_error.enum');
    END IF;

    IF p_ts IS NULL THEN
        PERFORM ex7._invalid(p_loc || '["ts"]', 'field required', 'value_error.missing');
    ELSIF p_ts > pg_catalog.now() + interval '60 seconds' THEN
        -- a bar exists once it has closed; 60 s absorbs clock skew between the feed and the database
        -- (the same leeway ex7d gives a token's exp, docs/http.md)
        PERFORM ex7._invalid(p_loc || '["ts"]',
            pg_catalog.format('ts %s is in the future: a bar is ingested once it has closed', ex7._iso(p_ts)),
            'value_error.datetime.future');
    ELSIF NOT ex7._bar_aligned(p_timeframe, p_ts) THEN
        PERFORM ex7._invalid(p_loc || '["ts"]',
            pg_catalog.format('ts %s is not a close time of a %s bar (%s)', ex7._iso(p_ts), p_timeframe,
                CASE p_timeframe
                    WHEN '1d' THEN 'they close at 17:00 America/New_York'
                    WHEN '4h' THEN 'they close at 22:00, 02:00, 06:00, 10:00, 14:00 and 17:00 America/New_York'
                    WHEN '1h' THEN 'they close on the hour'
                    ELSE pg_catalog.format('they close on whole multiples of %s minutes past the hour',
                                           pg_catalog.rtrim(p_timeframe, 'm')) END),
            'value_error.bar_alignment');
    ELSIF ex7._globex_session(p_ts - interval '1 microsecond') <> 'open' THEN
        -- the bar's last instant: a bar that covers no trading time cannot exist (holidays of
        -- ex7.market_closures are not applied: the feed knows better than the operator's table)
        PERFORM ex7._invalid(p_loc || '["ts"]',
            pg_catalog.format('a %s bar closing at %s covers no trading time of the cme_globex session', p_timeframe,
                              ex7._iso(p_ts)),
            'value_error.session');
    END IF;

    v_scale := pg_catalog.scale(i.tick_size);
    FOR k IN 1..4 LOOP
        IF v_prices[k] IS NULL THEN
            PERFORM ex7._invalid(p_loc || pg_catalog.to_jsonb(v_names[k]), 'field required', 'value_error.missing');
        ELSIF v_prices[k] = 'NaN'::numeric OR pg_catalog.abs(v_prices[k]) >= 1e16 THEN
            -- the bound of ex7.compute_pnl (docs/pnl.md): every stored bar can be priced
            PERFORM ex7._invalid(p_loc || pg_catalog.to_jsonb(v_names[k]),
                pg_catalog.format('%s must be a finite decimal below 10^16 in magnitude', v_names[k]),
                'value_error.number.range');
        ELSIF v_prices[k] % i.tick_size <> 0 THEN
            PERFORM ex7._invalid(p_loc || pg_catalog.to_jsonb(v_names[k]),
                pg_catalog.format('%s %s is not on the %s tick grid (tick size %s)', v_names[k], v_prices[k],
                                  p_instrument, i.tick_size),
                'value_error.tick_size');
        END IF;
        -- on the grid, so exact: stored with the tick size's scale (ES 5012.50, CL 71.23)
        v_prices[k] := pg_catalog.round(v_prices[k], v_scale);
    END LOOP;

    IF p_high < GREATEST(p_open, p_low, p_close) THEN
        PERFORM ex7._invalid(p_loc || '["high"]',
            pg_catalog.format('high %s is below open, low or close (open %s, low %s, close %s)', p_high, p_open,
                              p_low, p_close), 'value_error.ohlc');
    ELSIF p_low > LEAST(p_open, p_close) THEN
        PERFORM ex7._invalid(p_loc || '["low"]',
            pg_catalog.format('low %s is above open or close (open %s, close %s)', p_low, p_open, p_close),
            'value_error.ohlc');
    END IF;

    IF p_volume IS NULL THEN
        PERFORM ex7._invalid(p_loc || '["volume"]', 'field required', 'value_error.missing');
    ELSIF p_volume < 0 THEN
        PERFORM ex7._invalid(p_loc || '["volume"]', 'ensure this value is greater than or equal to 0',
                             'value_error.number.not_ge');
    END IF;

    b.instrument := p_instrument;
    b.timeframe := p_timeframe;
    b.ts := p_ts;
    b.open := v_prices[1];
    b.high := v_prices[2];
    b.low := v_prices[3];
    b.close := v_prices[4];
    b.volume := p_volume;
    RETURN b;
END
$$;
COMMENT ON FUNCTION ex7._check_bar(jsonb, text, text, timestamptz, numeric, numeric, numeric, numeric, bigint) IS
'Returns the bar as an ex7.bars row (prices at the tick size''s scale) when it passes every ingest rule; raises X7422 with locator p_loc + field otherwise: unknown or inactive instrument, bad timeframe, ts in the future (> 60 s), off the timeframe''s close grid or covering no session time, a price missing, out of range or off the tick grid, high/low inconsistent with open and close, volume missing or negative.';

/*
 * _store_bar: stores one checked bar, brings its block up to date (ex7._bar_blocks_sync), evaluates the
 * price alerts of its series on it (ex7._price_alerts_bars) and hands it to the dispatcher. Per (instrument, timeframe) one
 * ingest at a time (a transaction-level advisory lock), so "newest bar of the series" is well defined
 * and the dispatcher sees a series' bars in ts order even with concurrent feeds.
 *   stored    a new bar, newer than every stored bar of its series: dispatched (when p_dispatch)
 *   late      a new bar older than the newest stored one: stored, not dispatched: the runtimes of
 *             the series have already moved past it (docs/market.md, "Storing" and "Left open")
 *   duplicate the same bar again (equal prices and volume): nothing happens, no second dispatch
 *   a different bar under the same key: X7409 bar_conflict with the stored and the sent bar.
 */
CREATE OR REPLACE FUNCTION ex7._store_bar(p_loc jsonb, p_b ex7.bars, p_dispatch boolean)
RETURNS jsonb
LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
    v_latest timestamptz;
    s ex7.bars;
BEGIN
    -- class 1702377314 = 'ex7b' in ASCII: keeps these keys apart from other users of advisory locks
    PERFORM pg_catalog.pg_advisory_xact_lock(1702377314, pg_catalog.hashtext(p_b.instrument || '/' || p_b.timeframe));
    -- ORDER BY ... LIMIT 1 rather than max(): a backward scan of the primary key reads one row, where
    -- the planner, misled by a young table's statistics, ran max() over the whole series
    SELECT b.ts INTO v_latest FROM ex7.bars b
     WHERE b.instrument = p_b.instrument AND b.timeframe = p_b.timeframe
     ORDER BY b.ts DESC LIMIT 1;
    INSERT INTO ex7.bars (instrument, timeframe, ts, open, high, low, close, volume)
    VALUES (p_b.instrument, p_b.timeframe, p_b.ts, p_b.open, p_b.high, p_b.low, p_b.close, p_b.volume)
    ON CONFLICT (instrument, timeframe, ts) DO NOTHING;
    IF FOUND THEN
        -- what triggers on ex7.bars did before 0.3.0 (none may write another table on Citus, docs/market.md
        -- "Bar blocks"), in their order: the bar into its block, then the price alerts of its series (one
        -- index probe when no active alert watches it, docs/alerts.md), then the dispatcher
        PERFORM ex7._bar_blocks_sync(p_b.instrument, p_b.timeframe, p_b.ts, p_b.ts);
        IF EXISTS (SELECT 1 FROM ex7.price_alerts a
                    WHERE a.instrument = p_b.instrument AND a.timeframe = p_b.timeframe AND a.active) THEN
            PERFORM ex7._price_alerts_bars(ARRAY[p_b]);
        END IF;
        IF v_latest IS NOT NULL AND p_b.ts < v_latest THEN
            RETURN pg_catalog.jsonb_build_object('status', 'late', 'dispatch', NULL);
        END IF;
        RETURN pg_catalog.jsonb_build_object('status', 'stored', 'dispatch',
            CASE WHEN p_dispatch THEN ex7._dispatch_bar(p_b.instrument, p_b.timeframe, p_b.ts) END);
    END IF;
    SELECT * INTO s FROM ex7.bars b
     WHERE b.instrument = p_b.instrument AND b.timeframe = p_b.timeframe AND b.ts = p_b.ts;
    IF (s.open, s.high, s.low, s.close, s.volume) = (p_b.open, p_b.high, p_b.low, p_b.close, p_b.volume) THEN
        RETURN pg_catalog.jsonb_build_object('status', 'duplicate', 'dispatch', NULL);
    END IF;
    PERFORM ex7._raise(409,
        pg_catalog.format('a different %s %s bar closing at %s is already stored', p_b.instrument, p_b.timeframe,
                          ex7._iso(p_b.ts)),
        pg_catalog.jsonb_build_object('code', 'bar_conflict', 'loc', p_loc, 'stored', ex7._bar_json(s),
                                      'sent', ex7._bar_json(p_b)));
    RETURN NULL;
END
$$;
COMMENT ON FUNCTION ex7._store_bar(jsonb, ex7.bars, boolean) IS
'Returns {status, dispatch}: stored (new and newest of its series; dispatch is ex7._dispatch_bar''s result when p_dispatch, else null), late (new but older than the newest stored bar: stored, not dispatched) or duplicate (identical re-send: no-op). A new bar (stored or late) is also written to its bar block and evaluated by the active price alerts of its series, in this transaction. X7409 bar_conflict {loc, stored, sent} when a different bar has the same key.';

/*
 * ingest_bar: one bar from SQL. Locators are those of a REST body holding the bar: ["body", field].
 */
CREATE OR REPLACE FUNCTION ex7.ingest_bar(p_instrument text, p_timeframe text, p_ts timestamptz,
    p_open numeric, p_high numeric, p_low numeric, p_close numeric, p_volume bigint,
    p_dispatch boolean DEFAULT true)
RETURNS jsonb
LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
    b ex7.bars := ex7._check_bar('["body"]', p_instrument, p_timeframe, p_ts, p_open, p_high, p_low, p_close,
                                 p_volume);
BEGIN
    RETURN pg_catalog.jsonb_build_object('instrument', b.instrument, 'timeframe', b.timeframe, 'ts', b.ts)
        || ex7._store_bar('["body"]', b, coalesce(p_dispatch, true));
END
$$;
COMMENT ON FUNCTION ex7.ingest_bar(text, text, timestamptz, numeric, numeric, numeric, numeric, bigint, boolean) IS
'Returns {instrument, timeframe, ts, status, dispatch}: status stored (new; dispatch holds ex7._dispatch_bar''s result, null when p_dispatch is false), late (new but older than the newest stored bar of the series: stored, never dispatched) or duplicate (identical re-send: no-op). X7422 for a bar that breaks an ingest rule (see ex7._check_bar), X7409 bar_conflict when a different bar with the same key is stored.';

/* _json_* : one member of a bar object, typed, or NULL when absent or null (the checks say "required") */
CREATE OR REPLACE FUNCTION ex7._json_text(p_loc jsonb, p_o jsonb, p_key text)
RETURNS text
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
AS $$
DECLARE
    v jsonb := p_o -> p_key;
BEGIN
    IF v IS NULL OR pg_catalog.jsonb_typeof(v) = 'null' THEN
        RETURN NULL;
    ELSIF pg_catalog.jsonb_typeof(v) <> 'string' THEN
        PERFORM ex7._invalid(p_loc || pg_catalog.to_jsonb(p_key), 'str type expected', 'type_error.str');
    END IF;
    RETURN v #>> '{}';
END
$$;
COMMENT ON FUNCTION ex7._json_text(jsonb, jsonb, text) IS
'Returns member p_key of object p_o as text, NULL when absent or null; X7422 at p_loc + key when it is not a string.';

CREATE OR REPLACE FUNCTION ex7._json_numeric(p_loc jsonb, p_o jsonb, p_key text)
RETURNS numeric
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
AS $$
DECLARE
    v jsonb := p_o -> p_key;
    t text;
BEGIN
    IF v IS NULL OR pg_catalog.jsonb_typeof(v) = 'null' THEN
        RETURN NULL;
    ELSIF pg_catalog.jsonb_typeof(v) = 'number' THEN
        RETURN v::numeric;
    END IF;
    -- exact decimals travel as JSON strings (Pydantic's Decimal); no exponent, no NaN or Infinity
    t := pg_catalog.btrim(v #>> '{}');
    IF pg_catalog.jsonb_typeof(v) <> 'string' OR pg_catalog.length(t) > 40
       OR t !~ '^[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)$' THEN
        PERFORM ex7._invalid(p_loc || pg_catalog.to_jsonb(p_key), 'value is not a valid decimal', 'type_error.decimal');
    END IF;
    RETURN t::numeric;
END
$$;
COMMENT ON FUNCTION ex7._json_numeric(jsonb, jsonb, text) IS
'Returns member p_key of object p_o as an exact numeric (a JSON number, or a string of at most 40 characters holding a plain decimal), NULL when absent or null; X7422 type_error.decimal at p_loc + key otherwise.';

CREATE OR REPLACE FUNCTION ex7._json_bigint(p_loc jsonb, p_o jsonb, p_key text)
RETURNS bigint
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
AS $$
DECLARE
    v jsonb := p_o -> p_key;
    n numeric;
BEGIN
    IF v IS NULL OR pg_catalog.jsonb_typeof(v) = 'null' THEN
        RETURN NULL;
    ELSIF pg_catalog.jsonb_typeof(v) = 'number' THEN
        n := v::numeric;
    ELSIF pg_catalog.jsonb_typeof(v) = 'string' AND (v #>> '{}') ~ '^\s*[+-]?[0-9]{1,19}\s*$' THEN
        n := pg_catalog.btrim(v #>> '{}')::numeric;
    END IF;
    -- bigint's range: -2^63 .. 2^63 - 1
    IF n IS NULL OR n <> pg_catalog.trunc(n) OR n < -9223372036854775808 OR n > 9223372036854775807 THEN
        PERFORM ex7._invalid(p_loc || pg_catalog.to_jsonb(p_key), 'value is not a valid integer', 'type_error.integer');
    END IF;
    RETURN n::bigint;
END
$$;
COMMENT ON FUNCTION ex7._json_bigint(jsonb, jsonb, text) IS
'Returns member p_key of object p_o as a bigint (a whole JSON number or a string of digits), NULL when absent or null; X7422 type_error.integer at p_loc + key otherwise.';

CREATE OR REPLACE FUNCTION ex7._bar_from_json(p_loc jsonb, p_o jsonb)
RETURNS ex7.bars
LANGUAGE plpgsql STABLE
AS $$
DECLARE
    v_instrument text;
    v_timeframe text;
    v_ts text;
    v_at timestamptz;
BEGIN
    IF p_o IS NULL OR pg_catalog.jsonb_typeof(p_o) <> 'object' THEN
        PERFORM ex7._invalid(p_loc, 'value is not a valid dict', 'type_error.dict');
    END IF;
    -- shape first (types, the timestamp's format) in the order of the CSV header, then the rules
    v_instrument := ex7._json_text(p_loc, p_o, 'instrument');
    v_timeframe := ex7._json_text(p_loc, p_o, 'timeframe');
    v_ts := ex7._json_text(p_loc, p_o, 'ts');
    IF v_ts IS NOT NULL THEN
        v_at := ex7._parse_ts(v_ts);
        IF v_at IS NULL THEN
            PERFORM ex7._invalid(p_loc || '["ts"]',
                'invalid datetime format: expected ISO-8601 with a UTC offset, e.g. 2026-04-20T13:35:00Z',
                'value_error.datetime');
        END IF;
    END IF;
    RETURN ex7._check_bar(p_loc, v_instrument, v_timeframe, v_at,
        ex7._json_numeric(p_loc, p_o, 'open'), ex7._json_numeric(p_loc, p_o, 'high'),
        ex7._json_numeric(p_loc, p_o, 'low'), ex7._json_numeric(p_loc, p_o, 'close'),
        ex7._json_bigint(p_loc, p_o, 'volume'));
END
$$;
COMMENT ON FUNCTION ex7._bar_from_json(jsonb, jsonb) IS
'Returns the bar described by JSON object p_o ({instrument, timeframe, ts, open, high, low, close, volume}; prices as numbers or decimal strings, ts ISO-8601 with offset), checked by ex7._check_bar; X7422 at p_loc + field for the first problem.';

/*
 * ingest_bars: a batch. All or nothing: every element is read and checked first, in the order sent, so
 * the error names the first bad element; then the bars are stored and dispatched sorted by
 * (instrument, timeframe, ts): a series' bars reach the dispatcher in time order whatever order they
 * came in, and two batches take their series locks in the same order.
 */
CREATE OR REPLACE FUNCTION ex7.ingest_bars(p_bars jsonb, p_dispatch boolean DEFAULT true)
RETURNS jsonb
LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
    v_arr jsonb;
    v_loc jsonb;
    v_dispatch boolean := coalesce(p_dispatch, true);
    v_n integer;
    v_bars ex7.bars[] := '{}';
    e jsonb;
    k bigint;
    r jsonb;
    v_totals jsonb := '{}';
    d record;
    v_stored integer := 0;
    v_late integer := 0;
    v_dup integer := 0;
    v_dispatched integer := 0;
BEGIN
    IF pg_catalog.jsonb_typeof(p_bars) = 'object' THEN
        -- the REST body {"bars": [...], "dispatch": true}
        v_arr := p_bars -> 'bars';
        v_loc := '["body","bars"]';
        IF p_bars ? 'dispatch' THEN
            IF pg_catalog.jsonb_typeof(p_bars -> 'dispatch') <> 'boolean' THEN
                PERFORM ex7._invalid('["body","dispatch"]', 'value could not be parsed to a boolean', 'type_error.bool');
            END IF;
            v_dispatch := v_dispatch AND (p_bars -> 'dispatch')::boolean;
        END IF;
    ELSE
        v_arr := p_bars;
        v_loc := '["body"]';
    END IF;
    IF v_arr IS NULL OR pg_catalog.jsonb_typeof(v_arr) = 'null' THEN
        PERFORM ex7._invalid(v_loc, 'field required', 'value_error.missing');
    ELSIF pg_catalog.jsonb_typeof(v_arr) <> 'array' THEN
        PERFORM ex7._invalid(v_loc, 'value is not a valid list', 'type_error.list');
    END IF;
    v_n := pg_catalog.jsonb_array_length(v_arr);
    IF v_n > 10000 THEN
        -- one transaction holds its series locks until commit; the CSV importer sends 1000 at a time
        PERFORM ex7._invalid(v_loc, 'ensure this value has at most 10000 items', 'value_error.list.max_items');
    END IF;

    FOR e, k IN SELECT x.value, x.ordinality FROM pg_catalog.jsonb_array_elements(v_arr) WITH ORDINALITY x LOOP
        v_bars := v_bars || ex7._bar_from_json(v_loc || pg_catalog.to_jsonb(k - 1), e);
    END LOOP;

    FOR k IN SELECT u.ordinality FROM pg_catalog.unnest(v_bars) WITH ORDINALITY u
              ORDER BY u.instrument COLLATE "C", u.timeframe COLLATE "C", u.ts, u.ordinality LOOP
        r := ex7._store_bar(v_loc || pg_catalog.to_jsonb(k - 1), v_bars[k], v_dispatch);
        CASE r ->> 'status'
            WHEN 'stored' THEN v_stored := v_stored + 1;
            WHEN 'late' THEN v_stored := v_stored + 1; v_late := v_late + 1;
            ELSE v_dup := v_dup + 1;
        END CASE;
        IF pg_catalog.jsonb_typeof(r -> 'dispatch') = 'object' THEN
            v_dispatched := v_dispatched + 1;
            -- the dispatcher's counters (started, stopped, and whatever the engine adds), summed
            FOR d IN SELECT x.key, x.value FROM pg_catalog.jsonb_each(r -> 'dispatch') x
                      WHERE pg_catalog.jsonb_typeof(x.value) = 'number' LOOP
                v_totals := v_totals || pg_catalog.jsonb_build_object(d.key,
                    coalesce((v_totals ->> d.key)::numeric, 0) + d.value::numeric);
            END LOOP;
        END IF;
    END LOOP;
    RETURN pg_catalog.jsonb_build_object('received', v_n, 'stored', v_stored, 'late', v_late, 'duplicates', v_dup,
                                         'dispatched', v_dispatched, 'dispatch', v_totals);
END
$$;
COMMENT ON FUNCTION ex7.ingest_bars(jsonb, boolean) IS
'Returns {received, stored, late, duplicates, dispatched, dispatch}: counts of a batch of bars (stored includes late; dispatch sums the numeric counters of the dispatcher''s results). p_bars is {"bars": [...], "dispatch": bool} (the REST body, locators ["body","bars",i,field]) or a bare array (locators ["body",i,field]). All or nothing: the first bad element in the order sent raises X7422 (see ex7._check_bar), a different bar under a stored key X7409 bar_conflict; at most 10000 bars. Bars are stored and dispatched sorted by instrument, timeframe, ts; p_dispatch false (or "dispatch": false) stores without dispatching (history backfills).';

/* ---------------------------------------------------------------------------------------------------
 * Freshness, instruments, pipeline health
 * ------------------------------------------------------------------------------------------------- */

/*
 * _market_status: the market data of one instrument as of p_now. The reference timeframe is p_traded_tf
 * (the shortest timeframe an active runtime trades on it: the bars that matter), else the shortest one
 * that has bars. Status:
 *   closed  the session is not open (weekend, daily break, a market_closures row)
 *   fresh   open, and the reference series' last bar is at most 2 bar lengths old, counted from the
 *           session's opening at the earliest (no bar can have closed in the first minutes after 18:00)
 *   stale   open otherwise (also when the instrument has no bar at all)
 * Two bar lengths: the bar that closed last is always at most one length old when the feed is on
 * time; one more length absorbs a feed that delivers a bar late without calling a healthy feed stale.
 */
CREATE OR REPLACE FUNCTION ex7._market_status(p_instrument text, p_calendar text, p_traded_tf text,
    p_now timestamptz)
RETURNS jsonb
LANGUAGE plpgsql STABLE
AS $$
DECLARE
    v_tf text := p_traded_tf;
    v_session text := ex7._session_at(p_calendar, p_now);
    v_status text;
    b ex7.bars;
BEGIN
    IF v_tf IS NULL THEN
        SELECT t INTO v_tf FROM pg_catalog.unnest(ex7._timeframes()) WITH ORDINALITY AS x(t, n)
         WHERE EXISTS (SELECT 1 FROM ex7.bars y WHERE y.instrument = p_instrument AND y.timeframe = x.t)
         ORDER BY x.n LIMIT 1;
    END IF;
    IF v_tf IS NOT NULL THEN
        SELECT * INTO b FROM ex7.bars y
         WHERE y.instrument = p_instrument AND y.timeframe = v_tf AND y.ts <= p_now
         ORDER BY y.ts DESC LIMIT 1;
    END IF;
    v_status := CASE
        WHEN v_session <> 'open' THEN 'closed'
        WHEN b.ts IS NOT NULL
             AND p_now - GREATEST(b.ts, ex7._session_opened_at(p_calendar, p_now)) <= 2 * ex7._timeframe_interval(v_tf)
            THEN 'fresh'
        ELSE 'stale' END;
    RETURN pg_catalog.jsonb_build_object(
        'session', v_session,
        'status', v_status,
        'timeframe', v_tf,
        'last_bar_ts', b.ts,
        'lag_seconds', pg_catalog.date_part('epoch', p_now - b.ts),
        'last_bar', CASE WHEN b.ts IS NOT NULL THEN ex7._bar_json(b) END);
END
$$;
COMMENT ON FUNCTION ex7._market_status(text, text, text, timestamptz) IS
'Returns {session, status, timeframe, last_bar_ts, lag_seconds, last_bar} of an instrument at p_now: status closed when the session is not open, fresh when the last bar of the reference timeframe (p_traded_tf, else the shortest with bars) is at most two bar lengths old counted from the session opening at the earliest, stale otherwise.';

/* _traded_timeframes: the shortest timeframe each instrument is traded on by an active runtime */
CREATE OR REPLACE FUNCTION ex7._traded_timeframes()
RETURNS TABLE (instrument text, timeframe text)
LANGUAGE plpgsql STABLE
AS $$
BEGIN
    -- PL/pgSQL, and the join on user_id grouped first: on Citus a SQL function's body is inlined into the
    -- caller's join with the instruments (a reference table), and a join of runtimes and strategies that
    -- does not pair user_id needs a repartition Citus refuses (docs/citus-statements.md)
    RETURN QUERY
    SELECT DISTINCT ON (g.instrument) g.instrument, g.timeframe
      FROM (SELECT s.instrument, s.timeframe::text AS timeframe
              FROM ex7.strategy_runtimes rt
              JOIN ex7.strategies s ON s.user_id = rt.user_id AND s.id = rt.strategy_id AND s.deleted_at IS NULL
             WHERE rt.status IN ('starting', 'running', 'draining')
             GROUP BY s.instrument, s.timeframe) g
     ORDER BY g.instrument, ex7._timeframe_interval(g.timeframe);
END
$$;
COMMENT ON FUNCTION ex7._traded_timeframes() IS
'Returns (instrument, timeframe): for each instrument with an active (starting, running, draining) runtime, the shortest timeframe such a runtime trades.';

/*
 * list_instruments: Get Instruments: "List all instruments with current market data." Every instrument
 * (inactive ones too, with active false), by symbol; exact decimals as strings.
 */
CREATE OR REPLACE FUNCTION ex7.list_instruments(p_user uuid, p_now timestamptz DEFAULT pg_catalog.now())
RETURNS jsonb
LANGUAGE plpgsql STABLE
AS $$
DECLARE
    v_now timestamptz := coalesce(p_now, pg_catalog.now());
BEGIN
    IF p_user IS NULL THEN
        PERFORM ex7._raise(401, 'acting user is required');
    END IF;
    RETURN pg_catalog.jsonb_build_object('items', coalesce(pg_catalog.jsonb_agg(
        pg_catalog.jsonb_build_object(
            'symbol', i.symbol, 'name', i.name, 'exchange', i.exchange,
            'tick_size', i.tick_size::text, 'tick_value', i.tick_value::text,
            'commission_per_side', i.commission_per_side::text, 'currency', i.currency,
            'session_calendar', i.session_calendar, 'active', i.active,
            'market', ex7._market_status(i.symbol, i.session_calendar, t.timeframe, v_now))
        ORDER BY i.symbol), '[]'))
      FROM ex7.instruments i
      LEFT JOIN ex7._traded_timeframes() t ON t.instrument = i.symbol;
END
$$;
COMMENT ON FUNCTION ex7.list_instruments(uuid, timestamptz) IS
'Returns {items}: every instrument by symbol with its spec (tick_size, tick_value, commission_per_side as exact decimal strings, currency, session_calendar, active) and market: {session, status fresh|stale|closed, timeframe, last_bar_ts, lag_seconds, last_bar} as of p_now (default now). X7401 without an acting user.';

/*
 * signals_health: Signals Health: '{ "dispatcher": "ok" | "stale", "market_data": { "<instrument>":
 * {"last_bar_ts": iso, "lag_seconds": float, "status": "fresh"|"stale"|"closed"}, ... }, "runtimes":
 * {"<status>": count, ...}, "now": iso8601-utc } Not user-scoped ... No PII, no user_ids.'
 *   market_data: every active instrument (an instrument without bars shows null last_bar_ts and
 *     lag_seconds), with its session and reference timeframe added.
 *   dispatcher: stale when an active runtime (starting, running, draining) whose market is open has seen
 *     no bar for more than 2 lengths of its timeframe, counted from the latest of its last bar, its start
 *     and the session opening; stale_runtimes counts them. Bars are dispatched inside the ingest
 *     transaction, so this is "bars stopped reaching the runtimes", whatever the cause.
 *   runtimes: a count for each of the five statuses, zeros included.
 */
CREATE OR REPLACE FUNCTION ex7.signals_health(p_now timestamptz DEFAULT pg_catalog.now())
RETURNS jsonb
LANGUAGE plpgsql STABLE
AS $$
DECLARE
    v_now timestamptz := coalesce(p_now, pg_catalog.now());
    v_market jsonb;
    v_runtimes jsonb;
    v_stale integer;
    v_open_syms text[];
    v_opened timestamptz[];
BEGIN
    SELECT coalesce(pg_catalog.jsonb_object_agg(i.symbol,
               ex7._market_status(i.symbol, i.session_calendar, t.timeframe, v_now) - 'last_bar'
               ORDER BY i.symbol), '{}')
      INTO v_market
      FROM ex7.instruments i
      LEFT JOIN ex7._traded_timeframes() t ON t.instrument = i.symbol
     WHERE i.active;

    SELECT pg_catalog.jsonb_object_agg(st.status, coalesce(c.n, 0))
      INTO v_runtimes
      FROM pg_catalog.unnest('{starting,running,draining,stopped,error}'::text[]) AS st(status)
      LEFT JOIN (SELECT rt.status, pg_catalog.count(*) AS n FROM ex7.strategy_runtimes rt GROUP BY rt.status) c
             ON c.status = st.status;

    -- the instruments whose session is open, and since when, first: the count below runs on every shard,
    -- and on Citus a query on a shard may not call a function that reads another table (the calendar's
    -- closures, a reference table): "cannot execute a distributed query from a query on a shard"
    SELECT pg_catalog.array_agg(i.symbol), pg_catalog.array_agg(ex7._session_opened_at(i.session_calendar, v_now))
      INTO v_open_syms, v_opened
      FROM ex7.instruments i
     WHERE ex7._session_at(i.session_calendar, v_now) = 'open';
    SELECT pg_catalog.count(*)::integer INTO v_stale
      FROM ex7.strategy_runtimes rt
      JOIN ex7.strategies s ON s.user_id = rt.user_id AND s.id = rt.strategy_id AND s.deleted_at IS NULL
      JOIN ROWS FROM (pg_catalog.unnest(v_open_syms), pg_catalog.unnest(v_opened)) AS o (symbol, opened_at)
        ON o.symbol = s.instrument
     WHERE rt.status IN ('starting', 'running', 'draining')
       AND v_now - GREATEST(rt.last_bar_ts, rt.started_at, o.opened_at) > 2 * ex7._timeframe_interval(s.timeframe);

    RETURN pg_catalog.jsonb_build_object(
        'dispatcher', CASE WHEN v_stale > 0 THEN 'stale' ELSE 'ok' END,
        'stale_runtimes', v_stale,
        'market_data', v_market,
        'runtimes', v_runtimes,
        'now', pg_catalog.to_char(pg_catalog.timezone('UTC', v_now), 'YYYY-MM-DD"T"HH24:MI:SS.US"+00:00"'));
END
$$;
COMMENT ON FUNCTION ex7.signals_health(timestamptz) IS
'Returns {dispatcher ok|stale, stale_runtimes, market_data: {<instrument>: {last_bar_ts, lag_seconds, status fresh|stale|closed, session, timeframe}}, runtimes: {<status>: count}, now (UTC)} as of p_now (default now): the body of GET /api/signals/health, public, no user data. dispatcher is stale when an active runtime on an open market has seen no bar for more than two lengths of its timeframe.';
