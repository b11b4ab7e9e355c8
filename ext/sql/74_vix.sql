/* ext/sql/74_vix.sql: Vix, strategy generation from a plain-language request (ex7-api-reference.txt,
 * "Vix": POST /api/vix/generate-strategy, GET /api/vix/quota; docs/account.md, "Vix").
 *
 * The generator is deterministic and offline: a small grammar over the request (instrument, timeframe,
 * one trading idea among the engine's indicators and patterns, direction, size, stop and target, a
 * session window, a trend filter, a flat-at-the-close exit) that builds a graph of the engine's nodes
 * (docs/engine.md) and runs the engine's validator on it. What it assumed is listed; what it cannot
 * read is a 422 saying what it did understand. The same request always gives the same graph. */

/* _vix_node / _vix_edge: one graph node or edge (docs/engine.md, "The graph"). */
CREATE OR REPLACE FUNCTION ex7._vix_node(p_id text, p_type text, p_params jsonb DEFAULT NULL)
RETURNS jsonb
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
    SELECT CASE WHEN p_params IS NULL THEN pg_catalog.jsonb_build_object('id', p_id, 'type', p_type)
                ELSE pg_catalog.jsonb_build_object('id', p_id, 'type', p_type, 'params', p_params) END;
$$;
COMMENT ON FUNCTION ex7._vix_node(text, text, jsonb) IS 'Returns the graph node {id, type, params?}.';

CREATE OR REPLACE FUNCTION ex7._vix_edge(p_from text, p_to text, p_port text)
RETURNS jsonb
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
    SELECT pg_catalog.jsonb_build_object('from', p_from, 'to', p_to, 'port', p_port);
$$;
COMMENT ON FUNCTION ex7._vix_edge(text, text, text) IS 'Returns the graph edge {from, to, port}.';

/* _vix_int: the integer a matched number stands for, or NULL when it is absurdly large. */
CREATE OR REPLACE FUNCTION ex7._vix_int(p_text text)
RETURNS integer
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
    SELECT CASE WHEN p_text ~ '^\d{1,7}$' THEN p_text::integer END;
$$;
COMMENT ON FUNCTION ex7._vix_int(text) IS 'Returns p_text as an integer when it is 1 to 7 digits, else NULL.';

/* _vix_fail: the 422 for a request Vix cannot build, with what it understood (docs/account.md). */
CREATE OR REPLACE FUNCTION ex7._vix_fail(p_msg text, p_understood jsonb, p_type text DEFAULT 'value_error.vix')
RETURNS void
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
    SELECT ex7._raise(422, p_msg, pg_catalog.jsonb_build_array(pg_catalog.jsonb_build_object(
        'loc', '["body","prompt"]'::jsonb, 'msg', p_msg, 'type', p_type,
        'ctx', pg_catalog.jsonb_build_object('understood', p_understood) || CASE WHEN p_type = 'value_error.vix_not_understood'
            THEN pg_catalog.jsonb_build_object(
                'ideas', '["rsi mean reversion", "ema or sma crossover", "price crossing a moving average", "macd crossover", "bollinger band reversion or breakout", "n-bar breakout", "opening range breakout", "vwap cross"]'::jsonb,
                'example', 'RSI mean reversion on MNQ 5m with a 20 tick stop and a 40 tick target')
            ELSE '{}'::jsonb END)));
$$;
COMMENT ON FUNCTION ex7._vix_fail(text, jsonb, text) IS
'Never returns: X7422 at ["body","prompt"] with ctx {understood}: what Vix read of the request; for a request without a trading idea (type value_error.vix_not_understood) also {ideas, example}: what it can build.';

/* _vix_prompt_check: the request text's own rules, before any generator reads it (docs/account.md). */
CREATE OR REPLACE FUNCTION ex7._vix_prompt_check(p_prompt text)
RETURNS void
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
AS $$
BEGIN
    IF p_prompt IS NULL OR pg_catalog.btrim(p_prompt) = '' THEN
        PERFORM ex7._invalid('["body","prompt"]', 'field required', 'value_error.missing');
    END IF;
    IF pg_catalog.length(p_prompt) > 2000 THEN
        PERFORM ex7._invalid('["body","prompt"]', 'ensure this value has at most 2000 characters',
                             'value_error.any_str.max_length');
    END IF;
END
$$;
COMMENT ON FUNCTION ex7._vix_prompt_check(text) IS
'Returns nothing; X7422 at ["body","prompt"] when the request is missing, blank or longer than 2000 characters.';

/*
 * _vix_parse: the generator. Reads the request in a fixed order, removing each construct it has read
 * from a working copy so that later rules do not read the same words again (a "20 tick stop" is not a
 * period of 20, "first 30 minutes" is not a 30m timeframe). Returns {graph, summary, assumptions,
 * understood, name, instrument, timeframe, tags}. STABLE: it reads ex7.instruments.
 */
CREATE OR REPLACE FUNCTION ex7._vix_parse(p_prompt text)
RETURNS jsonb
LANGUAGE plpgsql STABLE
AS $$
DECLARE
    c_timeframes CONSTANT text[] := ARRAY['1m', '2m', '5m', '15m', '30m', '1h', '4h', '1d'];
    c_tf_minutes CONSTANT integer[] := ARRAY[1, 2, 5, 15, 30, 60, 240, 1440];
    -- docs/engine.md: bracket ticks 1..10000, entry size 1..1000; default brackets are the engine's (20 / 40)
    c_default_stop CONSTANT integer := 20;
    w text;                       -- the working copy
    m text[];
    v_assume text[] := '{}';
    v_und jsonb := '{}';
    v_instr text;
    v_tick numeric;
    v_tf text;
    v_tf_min integer;
    v_stop integer;
    v_target integer;
    v_no_stop boolean := false;
    v_no_target boolean := false;
    v_rr numeric;
    v_size integer;
    v_dir text;
    v_has_long boolean;
    v_has_short boolean;
    v_sess_start text;
    v_sess_end text;
    v_tz text := 'America/New_York';
    v_eod boolean := false;
    v_or_minutes integer;
    v_family text;
    v_pos integer;
    v_best integer;
    v_filter_type text;
    v_filter_period integer;
    v_filter_side text;
    -- the graph
    n jsonb := '[]';
    e jsonb := '[]';
    v_long_when text;
    v_short_when text;
    v_long_exit text;
    v_short_exit text;
    v_idea text;                  -- summary of the signal
    v_exit_text text;
    v_short_name text;
    v_tag text;
    -- family parameters
    v_p1 integer;
    v_p2 integer;
    v_p3 integer;
    v_t1 text;
    v_t2 text;
    v_lo numeric;
    v_hi numeric;
    v_dev numeric;
    v_breakout boolean;
    v_periods integer[];
    v_types text[];
    v_summary text;
    v_name text;
BEGIN
    PERFORM ex7._vix_prompt_check(p_prompt);
    w := ' ' || pg_catalog.lower(p_prompt) || ' ';
    w := pg_catalog.translate(w, E'\u2013\u2014\u2019\t\n\r', '--''   ');
    w := pg_catalog.regexp_replace(w, '\s+', ' ', 'g');

    /* 1. instrument: a symbol of ex7.instruments, else a market's name ("micro nasdaq", "gold") */
    SELECT i.symbol, i.tick_size INTO v_instr, v_tick
      FROM ex7.instruments i
     WHERE i.active AND w ~ ('\m' || pg_catalog.lower(i.symbol) || '\M')
     ORDER BY pg_catalog.strpos(w, ' ' || pg_catalog.lower(i.symbol)), pg_catalog.length(i.symbol) DESC
     LIMIT 1;
    IF v_instr IS NULL THEN
        v_instr := CASE
            WHEN w ~ '\mmicro\s*(e-?mini\s*)?(nasdaq|nq)' THEN 'MNQ'
            WHEN w ~ '\mmicro\s*(e-?mini\s*)?(s\s*&\s*p|sp\s*500|spx)' THEN 'MES'
            WHEN w ~ '\mmicro\s*(e-?mini\s*)?dow' THEN 'MYM'
            WHEN w ~ '\mmicro\s*(e-?mini\s*)?russell' THEN 'M2K'
            WHEN w ~ '\mmicro\s*(wti\s*)?(crude|oil)' THEN 'MCL'
            WHEN w ~ '\mmicro\s*gold' THEN 'MGC'
            WHEN w ~ '\mnasdaq' THEN 'NQ'
            WHEN w ~ '(s\s*&\s*p|\msp\s*500|\mspx\M|\mspy\M)' THEN 'ES'
            WHEN w ~ '\mdow\M' THEN 'YM'
            WHEN w ~ '\mrussell' THEN 'RTY'
            WHEN w ~ '\m(crude|oil|wti)\M' THEN 'CL'
            WHEN w ~ '\mgold\M' THEN 'GC'
        END;
        IF v_instr IS NULL THEN
            v_instr := 'MNQ';
            v_assume := v_assume || 'no instrument named: MNQ (Micro E-mini Nasdaq-100)'::text;
        END IF;
        SELECT i.tick_size INTO v_tick FROM ex7.instruments i WHERE i.symbol = v_instr AND i.active;
        IF v_tick IS NULL THEN
            PERFORM ex7._vix_fail(pg_catalog.format('instrument %s is not offered', v_instr),
                                  pg_catalog.jsonb_build_object('instrument', v_instr));
        END IF;
    END IF;
    v_und := v_und || pg_catalog.jsonb_build_object('instrument', v_instr);

    /* 2. risk/reward ("1:2", "2r target", "risk reward of 3"), before anything reads "n:m" as a time */
    m := pg_catalog.regexp_match(w, '(?:risk[- ]?(?:to[- ]?)?reward|r:r|\mrr\M|reward[- ]?(?:to[- ]?)?risk)(?: ratio)?\s*(?:of|=|:|is)?\s*(?:1\s*:\s*|1\s*to\s*)?(\d+(?:\.\d+)?)');
    IF m IS NULL THEN
        m := pg_catalog.regexp_match(w, '\m1\s*:\s*(\d+(?:\.\d+)?)(?!\d)(?!\s*(?:am|pm))');
    END IF;
    IF m IS NULL THEN
        m := pg_catalog.regexp_match(w, '\m(\d+(?:\.\d+)?)\s*r\s*(?:target|take[- ]?profit|tp|profit)');
    END IF;
    IF m IS NOT NULL THEN
        v_rr := m[1]::numeric;
        w := pg_catalog.regexp_replace(w, '(?:risk[- ]?(?:to[- ]?)?reward|r:r|\mrr\M|reward[- ]?(?:to[- ]?)?risk)(?: ratio)?\s*(?:of|=|:|is)?\s*(?:1\s*:\s*|1\s*to\s*)?\d+(?:\.\d+)?|\m1\s*:\s*\d+(?:\.\d+)?(?!\d)|\m\d+(?:\.\d+)?\s*r(?=\s*(?:target|take[- ]?profit|tp|profit))', ' ');
    END IF;

    /* 3. stop and target, in ticks or points ("20 tick stop", "stop loss of 5 points", "tp 40") */
    m := pg_catalog.regexp_match(w, '\m(\d+(?:\.\d+)?)\s*-?\s*(ticks?|points?|pts?|handles?)\s*(?:stop|sl\M)');
    IF m IS NULL THEN
        m := pg_catalog.regexp_match(w, '(?:stop[- ]?loss|\mstop|\msl)\s*(?:of|at|=|:|is)?\s*(\d+(?:\.\d+)?)\s*-?\s*(ticks?|points?|pts?|handles?)?');
    END IF;
    IF m IS NOT NULL THEN
        v_stop := CASE WHEN m[2] IS NULL OR m[2] LIKE 'tick%' THEN pg_catalog.round(m[1]::numeric)
                       ELSE pg_catalog.round(m[1]::numeric / v_tick) END;
        IF m[2] IS NULL THEN
            v_assume := v_assume || pg_catalog.format('stop of %s read as ticks', m[1]);
        END IF;
        w := pg_catalog.regexp_replace(w, '\m\d+(?:\.\d+)?\s*-?\s*(?:ticks?|points?|pts?|handles?)\s*(?:stop[- ]?loss|stop|sl\M)|(?:stop[- ]?loss|\mstop|\msl)\s*(?:of|at|=|:|is)?\s*\d+(?:\.\d+)?\s*-?\s*(?:ticks?|points?|pts?|handles?)?', ' ');
    ELSIF w ~ '\m(no|without( a)?)\s+stop' THEN
        v_no_stop := true;
    END IF;
    m := pg_catalog.regexp_match(w, '\m(\d+(?:\.\d+)?)\s*-?\s*(ticks?|points?|pts?|handles?)\s*(?:profit target|target|take[- ]?profit|tp\M|profit)');
    IF m IS NULL THEN
        m := pg_catalog.regexp_match(w, '(?:profit target|\mtarget|take[- ]?profit|\mtp|\mpt)\s*(?:of|at|=|:|is)?\s*(\d+(?:\.\d+)?)\s*-?\s*(ticks?|points?|pts?|handles?)?');
    END IF;
    IF m IS NOT NULL THEN
        v_target := CASE WHEN m[2] IS NULL OR m[2] LIKE 'tick%' THEN pg_catalog.round(m[1]::numeric)
                         ELSE pg_catalog.round(m[1]::numeric / v_tick) END;
        IF m[2] IS NULL THEN
            v_assume := v_assume || pg_catalog.format('target of %s read as ticks', m[1]);
        END IF;
        w := pg_catalog.regexp_replace(w, '\m\d+(?:\.\d+)?\s*-?\s*(?:ticks?|points?|pts?|handles?)\s*(?:profit target|target|take[- ]?profit|tp\M|profit)|(?:profit target|\mtarget|take[- ]?profit|\mtp|\mpt)\s*(?:of|at|=|:|is)?\s*\d+(?:\.\d+)?\s*-?\s*(?:ticks?|points?|pts?|handles?)?', ' ');
    ELSIF w ~ '\m(no|without( a)?)\s+(profit )?target' THEN
        v_no_target := true;
    END IF;
    IF v_stop IS NULL AND NOT v_no_stop THEN
        v_stop := CASE WHEN v_target IS NOT NULL AND v_rr IS NOT NULL THEN pg_catalog.round(v_target / v_rr)
                       ELSE c_default_stop END;
        v_assume := v_assume || pg_catalog.format('no stop given: %s ticks', v_stop);
    END IF;
    IF v_target IS NULL AND NOT v_no_target THEN
        v_target := pg_catalog.round(COALESCE(v_stop, c_default_stop) * COALESCE(v_rr, 2));
        IF v_rr IS NULL THEN
            v_assume := v_assume || pg_catalog.format('no target given: %s ticks (twice the stop)', v_target);
        END IF;
    END IF;
    IF v_stop IS NOT NULL AND v_stop NOT BETWEEN 1 AND 10000 OR v_target IS NOT NULL AND v_target NOT BETWEEN 1 AND 10000 THEN
        PERFORM ex7._vix_fail('stop and target must be 1 to 10000 ticks',
                              v_und || pg_catalog.jsonb_build_object('stop_loss_ticks', v_stop, 'take_profit_ticks', v_target));
    END IF;
    v_und := v_und || pg_catalog.jsonb_build_object('stop_loss_ticks', v_stop, 'take_profit_ticks', v_target);

    /* 4. size ("2 contracts", "size 3") */
    m := pg_catalog.regexp_match(w, '\m(\d+)\s*(?:contracts?|lots?|cars?)\M');
    IF m IS NULL THEN
        m := pg_catalog.regexp_match(w, '\m(?:size|qty|quantity|position size)\s*(?:of|=|:|is)?\s*(\d+)');
    END IF;
    IF m IS NOT NULL THEN
        v_size := ex7._vix_int(m[1]);
        IF v_size IS NULL OR v_size NOT BETWEEN 1 AND 1000 THEN
            PERFORM ex7._vix_fail('size must be 1 to 1000 contracts', v_und || pg_catalog.jsonb_build_object('size', m[1]));
        END IF;
        w := pg_catalog.regexp_replace(w, '\m\d+\s*(?:contracts?|lots?|cars?)\M|\m(?:size|qty|quantity|position size)\s*(?:of|=|:|is)?\s*\d+', ' ');
    ELSE
        v_size := 1;
    END IF;
    v_und := v_und || pg_catalog.jsonb_build_object('size', v_size);

    /* 5. opening range minutes ("first 30 minutes", "15 minute opening range") */
    m := pg_catalog.regexp_match(w, '\mfirst\s+(\d+)\s*-?\s*(?:minutes?|mins?|m)\M');
    IF m IS NULL THEN
        m := pg_catalog.regexp_match(w, '\m(\d+)\s*-?\s*(?:minutes?|mins?|m)\s+(?:opening range|orb)');
    END IF;
    IF m IS NOT NULL THEN
        v_or_minutes := ex7._vix_int(m[1]);
        w := pg_catalog.regexp_replace(w, '\mfirst\s+\d+\s*-?\s*(?:minutes?|mins?|m)\M|\m\d+\s*-?\s*(?:minutes?|mins?|m)(?=\s+(?:opening range|orb))', ' ');
    ELSIF w ~ '\mfirst hour\M' THEN
        v_or_minutes := 60;
        w := pg_catalog.regexp_replace(w, '\mfirst hour\M', ' ');
    END IF;

    /* 6. session: "rth", "between 9:30 and 11:00", "10am-12pm"; time zone; flat at the close */
    IF w ~ '\m(chicago|central time|ct)\M' THEN
        v_tz := 'America/Chicago';
    ELSIF w ~ '\m(london|uk time|gmt|bst)\M' THEN
        v_tz := 'Europe/London';
    ELSIF w ~ '\m(utc)\M' THEN
        v_tz := 'UTC';
    ELSIF w ~ '\m(tokyo)\M' THEN
        v_tz := 'Asia/Tokyo';
    END IF;
    m := pg_catalog.regexp_match(w, '\m(\d{1,2})(?::(\d{2}))?\s*(am|pm)?\s*(?:-|to|and|until|till|through)\s*(\d{1,2})(?::(\d{2}))?\s*(am|pm)?\M');
    IF m IS NOT NULL AND (m[2] IS NOT NULL OR m[5] IS NOT NULL OR m[3] IS NOT NULL OR m[6] IS NOT NULL) THEN
        v_p1 := m[1]::integer + CASE WHEN m[3] = 'pm' AND m[1]::integer < 12 THEN 12 WHEN m[3] = 'am' AND m[1]::integer = 12 THEN -12 ELSE 0 END;
        v_p2 := m[4]::integer + CASE WHEN m[6] = 'pm' AND m[4]::integer < 12 THEN 12 WHEN m[6] = 'am' AND m[4]::integer = 12 THEN -12 ELSE 0 END;
        -- "1-3pm" is 13:00-15:00, "10-2pm" 10:00-14:00: an unmarked first hour below the second is pm too
        IF m[3] IS NULL AND m[6] = 'pm' AND m[1]::integer < m[4]::integer AND m[1]::integer < 12 THEN
            v_p1 := v_p1 + 12;
        END IF;
        IF v_p1 > 23 OR v_p2 > 23 OR COALESCE(m[2], '00')::integer > 59 OR COALESCE(m[5], '00')::integer > 59 THEN
            PERFORM ex7._vix_fail('the session window is not a valid time range', v_und);
        END IF;
        v_sess_start := pg_catalog.lpad(v_p1::text, 2, '0') || ':' || COALESCE(m[2], '00');
        v_sess_end := pg_catalog.lpad(v_p2::text, 2, '0') || ':' || COALESCE(m[5], '00');
        IF v_sess_start = v_sess_end THEN
            PERFORM ex7._vix_fail('the session window starts and ends at the same time', v_und);
        END IF;
        w := pg_catalog.regexp_replace(w, '\m\d{1,2}(?::\d{2})?\s*(?:am|pm)?\s*(?:-|to|and|until|till|through)\s*\d{1,2}(?::\d{2})?\s*(?:am|pm)?\M', ' ');
    ELSIF w ~ '\m(rth|regular (trading )?hours|day session|cash session|market hours|(new york|ny) session)\M' THEN
        v_sess_start := '09:30';
        v_sess_end := '16:00';
        v_tz := 'America/New_York';
    END IF;
    IF v_sess_start IS NOT NULL THEN
        v_und := v_und || pg_catalog.jsonb_build_object('session', pg_catalog.jsonb_build_object(
            'start', v_sess_start, 'end', v_sess_end, 'tz', v_tz));
    END IF;
    IF w ~ '\m(flat|flatten|exit|close( out)?( all)?( positions?)?)\s+(by|at|before|into)\s+(the\s+)?(close|end of (the )?day|eod|session end)\M'
       OR w ~ '\mno overnight|\mintraday only|\mday ?trade only' THEN
        v_eod := true;
        v_und := v_und || '{"flat_at_close": true}'::jsonb;
    END IF;

    /* 7. timeframe ("5m", "15 minute", "1 hour", "hourly", "daily") */
    m := pg_catalog.regexp_match(w, '\m(\d+)\s*-?\s*(m|mins?|minutes?|h|hrs?|hours?|d|days?)\M(?!\s*(?:rsi|ema|sma|wma|macd|high|low|range|bollinger|channel|breakout|moving))');
    IF m IS NOT NULL THEN
        v_tf := COALESCE(ex7._vix_int(m[1])::text, m[1]) || CASE WHEN m[2] ~ '^m' THEN 'm' WHEN m[2] ~ '^h' THEN 'h' ELSE 'd' END;
        IF v_tf = '60m' THEN v_tf := '1h'; ELSIF v_tf = '240m' THEN v_tf := '4h'; ELSIF v_tf = '24h' THEN v_tf := '1d'; END IF;
        IF NOT v_tf = ANY (c_timeframes) THEN
            PERFORM ex7._vix_fail(pg_catalog.format('timeframe %s is not offered; one of %s', v_tf,
                                  pg_catalog.array_to_string(c_timeframes, ', ')),
                                  v_und || pg_catalog.jsonb_build_object('timeframe', v_tf), 'value_error.timeframe');
        END IF;
        w := pg_catalog.regexp_replace(w, '\m\d+\s*-?\s*(?:m|mins?|minutes?|h|hrs?|hours?|d|days?)\M(?!\s*(?:rsi|ema|sma|wma|macd|high|low|range|bollinger|channel|breakout|moving))', ' ');
    ELSIF w ~ '\mhourly\M' THEN
        v_tf := '1h';
    ELSIF w ~ '\m(daily|day bars|swing)\M' THEN
        v_tf := '1d';
    ELSE
        v_tf := '5m';
        v_assume := v_assume || 'no timeframe given: 5m'::text;
    END IF;
    v_tf_min := c_tf_minutes[pg_catalog.array_position(c_timeframes, v_tf)];
    v_und := v_und || pg_catalog.jsonb_build_object('timeframe', v_tf);

    /* 8. direction: words for either side ("short-term", "short ema" are not a side) */
    w := pg_catalog.regexp_replace(w, '\m(short|long)(?:[- ]?term|er)?\s+(?=(ema|sma|wma|ma|moving|period|average|lookback|window))|\m(short|long)[- ]term\M', ' ', 'g');
    v_has_long := w ~ '\m(long|longs|buy|buys|buying|bullish)\M';
    v_has_short := w ~ '\m(short|shorts|sell|sells|selling|bearish)\M';
    IF w ~ '\m(long[- ]only|only\s+(go\s+)?longs?|longs\s+only|buy[- ]only|only\s+buy)\M' THEN
        v_has_long := true; v_has_short := false;
    ELSIF w ~ '\m(short[- ]only|only\s+(go\s+)?shorts?|shorts\s+only|sell[- ]only|only\s+sell)\M' THEN
        v_has_long := false; v_has_short := true;
    ELSIF w ~ '\m(both (sides|ways|directions)|long\s*(and|&|/)\s*short|longs\s*(and|&|/)\s*shorts)\M' THEN
        v_has_long := true; v_has_short := true;
    END IF;
    v_dir := CASE WHEN v_has_long AND NOT v_has_short THEN 'long'
                  WHEN v_has_short AND NOT v_has_long THEN 'short' ELSE 'both' END;
    IF NOT v_has_long AND NOT v_has_short THEN
        v_assume := v_assume || 'no side given: long and short'::text;
    END IF;
    v_und := v_und || pg_catalog.jsonb_build_object('direction', v_dir);

    /* 9. a trend filter ("only above the 200 sma"): an MA level not crossed, with another idea present */
    m := pg_catalog.regexp_match(w, '(?<!cross)(?<!crosses)(?<!crossing)\s(above|below|over|under)\s+(?:the\s+)?(\d+)\s*-?\s*(?:period\s+|day\s+|bar\s+)?(ema|sma|wma|ma\M|moving average)');
    IF m IS NOT NULL AND w ~ '\m(rsi|macd|bollinger|bb|breakout|donchian|opening range|orb|vwap)\M' THEN
        v_filter_type := CASE m[3] WHEN 'ema' THEN 'ema' WHEN 'wma' THEN 'wma' ELSE 'sma' END;
        v_filter_period := ex7._vix_int(m[2]);
        v_filter_side := CASE WHEN m[1] IN ('above', 'over') THEN 'above' ELSE 'below' END;
        w := pg_catalog.regexp_replace(w, '(above|below|over|under)\s+(?:the\s+)?\d+\s*-?\s*(?:period\s+|day\s+|bar\s+)?(?:ema|sma|wma|ma\M|moving average)', ' ');
        v_und := v_und || pg_catalog.jsonb_build_object('trend_filter', pg_catalog.jsonb_build_object(
            'type', v_filter_type, 'period', v_filter_period));
    END IF;

    /* 10. the idea: the first one named wins; the others are reported as not used ("breakout" is a
     *     mode of the Bollinger and opening-range ideas, not another idea) */
    SELECT d.name, pg_catalog.regexp_instr(w, d.re) INTO v_family, v_best
      FROM (VALUES ('rsi', '\mrsi\M'),
                   ('macd', '\mmacd\M'),
                   ('bollinger', '\m(bollinger|bb|bands?)\M'),
                   ('opening_range', '\m(opening range|orb)\M'),
                   ('vwap', '\mvwap\M'),
                   ('breakout', '\m(breakout|breaks? out|donchian|channel|(\d+)\s*-?\s*(bar|period|day|candle)s?\s+(high|low|range))\M'),
                   ('moving_average', '\m(ema|sma|wma|moving averages?|golden cross|death cross|ma cross(over)?|ma)\M')) AS d (name, re)
     WHERE pg_catalog.regexp_instr(w, d.re) > 0
     ORDER BY 2
     LIMIT 1;
    FOR v_t1 IN
        SELECT d.name FROM (VALUES ('rsi', '\mrsi\M'), ('macd', '\mmacd\M'), ('bollinger', '\m(bollinger|bb)\M'),
                                   ('opening_range', '\m(opening range|orb)\M'), ('vwap', '\mvwap\M'),
                                   ('breakout', '\m(breakout|donchian|channel)\M'),
                                   ('moving_average', '\m(ema|sma|wma|moving averages?|golden cross|death cross)\M')) AS d (name, re)
         WHERE w ~ d.re AND d.name <> v_family
           AND NOT (d.name = 'breakout' AND v_family IN ('bollinger', 'opening_range'))
    LOOP
        v_assume := v_assume || pg_catalog.format('one idea per strategy: %s not used', pg_catalog.replace(v_t1, '_', ' '));
    END LOOP;
    IF v_family IS NULL AND v_filter_period IS NOT NULL THEN
        v_family := 'moving_average';  -- unreachable (the filter needs another idea), kept for clarity
    END IF;
    IF v_family IS NULL THEN
        PERFORM ex7._vix_fail('Vix could not find a trading idea in the request: name an indicator or pattern (RSI, an EMA or SMA crossover, MACD, Bollinger bands, a breakout, an opening range, VWAP)', v_und, 'value_error.vix_not_understood');
    END IF;

    n := pg_catalog.jsonb_build_array(ex7._vix_node('close', 'close'));

    IF v_family = 'rsi' THEN
        m := pg_catalog.regexp_match(w, 'rsi\s*\(?\s*(\d+)(?!\d)(?!\s*/)');
        v_p1 := ex7._vix_int(m[1]);
        IF v_p1 IS NULL THEN
            v_p1 := ex7._vix_int((pg_catalog.regexp_match(w, '\m(\d+)\s*-?\s*(?:period\s+|bar\s+|day\s+)?rsi'))[1]);
        END IF;
        IF v_p1 IS NULL THEN
            v_p1 := 14;
            v_assume := v_assume || 'RSI period not given: 14 (Wilder)'::text;
        END IF;
        m := pg_catalog.regexp_match(w, '\m(\d+(?:\.\d+)?)\s*/\s*(\d+(?:\.\d+)?)\M');
        IF m IS NOT NULL AND m[1]::numeric < m[2]::numeric THEN
            v_lo := m[1]::numeric; v_hi := m[2]::numeric;
        END IF;
        v_lo := COALESCE((pg_catalog.regexp_match(w, '(?:oversold|below|under|<)\s*(?:at\s+|of\s+|level\s+|=\s*)?(\d+(?:\.\d+)?)'))[1]::numeric, v_lo);
        v_hi := COALESCE((pg_catalog.regexp_match(w, '(?:overbought|above|over|>)\s*(?:at\s+|of\s+|level\s+|=\s*)?(\d+(?:\.\d+)?)'))[1]::numeric, v_hi);
        IF v_lo IS NULL AND v_hi IS NULL THEN
            v_assume := v_assume || 'RSI levels not given: 30 / 70'::text;
        END IF;
        v_lo := COALESCE(v_lo, CASE WHEN v_hi IS NOT NULL AND v_hi > 50 THEN 100 - v_hi ELSE 30 END);
        v_hi := COALESCE(v_hi, CASE WHEN v_lo < 50 THEN 100 - v_lo ELSE 70 END);
        IF NOT (v_lo > 0 AND v_lo < v_hi AND v_hi < 100) THEN
            PERFORM ex7._vix_fail(pg_catalog.format('RSI levels must satisfy 0 < oversold < overbought < 100, read %s and %s', v_lo, v_hi),
                                  v_und || pg_catalog.jsonb_build_object('idea', 'rsi_mean_reversion'));
        END IF;
        n := n || ex7._vix_node('rsi', 'rsi', pg_catalog.jsonb_build_object('period', v_p1))
               || ex7._vix_node('oversold', 'constant', pg_catalog.jsonb_build_object('value', v_lo))
               || ex7._vix_node('overbought', 'constant', pg_catalog.jsonb_build_object('value', v_hi))
               || ex7._vix_node('midline', 'constant', '{"value": 50}')
               || ex7._vix_node('long_signal', 'crosses_above') || ex7._vix_node('short_signal', 'crosses_below')
               || ex7._vix_node('long_exit_signal', 'gt') || ex7._vix_node('short_exit_signal', 'lt');
        e := e || ex7._vix_edge('close', 'rsi', 'in')
               || ex7._vix_edge('rsi', 'long_signal', 'a') || ex7._vix_edge('oversold', 'long_signal', 'b')
               || ex7._vix_edge('rsi', 'short_signal', 'a') || ex7._vix_edge('overbought', 'short_signal', 'b')
               || ex7._vix_edge('rsi', 'long_exit_signal', 'a') || ex7._vix_edge('midline', 'long_exit_signal', 'b')
               || ex7._vix_edge('rsi', 'short_exit_signal', 'a') || ex7._vix_edge('midline', 'short_exit_signal', 'b');
        v_long_when := 'long_signal'; v_short_when := 'short_signal';
        v_long_exit := 'long_exit_signal'; v_short_exit := 'short_exit_signal';
        v_idea := pg_catalog.format('RSI(%s) mean reversion: long when the RSI crosses back above %s, short when it crosses back below %s', v_p1, v_lo, v_hi);
        v_exit_text := 'a long exits above the 50 line, a short below it';
        v_short_name := pg_catalog.format('RSI(%s) %s/%s mean reversion', v_p1, v_lo, v_hi);
        v_tag := 'mean-reversion';
        v_und := v_und || pg_catalog.jsonb_build_object('idea', 'rsi_mean_reversion', 'rsi',
                     pg_catalog.jsonb_build_object('period', v_p1, 'oversold', v_lo, 'overbought', v_hi));

    ELSIF v_family = 'macd' THEN
        m := pg_catalog.regexp_match(w, 'macd\s*\(?\s*(\d+)\s*[,/ ]\s*(\d+)\s*[,/ ]\s*(\d+)');
        v_p1 := COALESCE(ex7._vix_int(m[1]), 12); v_p2 := COALESCE(ex7._vix_int(m[2]), 26); v_p3 := COALESCE(ex7._vix_int(m[3]), 9);
        IF m IS NULL THEN
            v_assume := v_assume || 'MACD settings not given: 12, 26, 9'::text;
        END IF;
        IF v_p1 >= v_p2 THEN
            PERFORM ex7._vix_fail(pg_catalog.format('MACD fast period %s must be below the slow period %s', v_p1, v_p2),
                                  v_und || '{"idea": "macd_crossover"}'::jsonb);
        END IF;
        n := n || ex7._vix_node('macd', 'macd', pg_catalog.jsonb_build_object('fast', v_p1, 'slow', v_p2, 'signal', v_p3, 'output', 'macd'))
               || ex7._vix_node('macd_signal', 'macd', pg_catalog.jsonb_build_object('fast', v_p1, 'slow', v_p2, 'signal', v_p3, 'output', 'signal'));
        IF w ~ '\mzero(\s*line)?\M|\m0 line\M' THEN
            n := n || ex7._vix_node('zero', 'constant', '{"value": 0}')
                   || ex7._vix_node('long_signal', 'crosses_above') || ex7._vix_node('short_signal', 'crosses_below');
            e := e || ex7._vix_edge('close', 'macd', 'in') || ex7._vix_edge('close', 'macd_signal', 'in')
                   || ex7._vix_edge('macd', 'long_signal', 'a') || ex7._vix_edge('zero', 'long_signal', 'b')
                   || ex7._vix_edge('macd', 'short_signal', 'a') || ex7._vix_edge('zero', 'short_signal', 'b');
            v_idea := pg_catalog.format('MACD(%s, %s, %s) zero-line cross: long when the MACD line crosses above 0, short when it crosses below', v_p1, v_p2, v_p3);
            v_short_name := pg_catalog.format('MACD(%s,%s,%s) zero-line cross', v_p1, v_p2, v_p3);
            -- the signal line is not used: drop it rather than leave a dangling node
            n := (SELECT pg_catalog.jsonb_agg(x) FROM pg_catalog.jsonb_array_elements(n) x WHERE x ->> 'id' <> 'macd_signal');
            e := (SELECT pg_catalog.jsonb_agg(x) FROM pg_catalog.jsonb_array_elements(e) x WHERE x ->> 'to' <> 'macd_signal');
        ELSE
            n := n || ex7._vix_node('long_signal', 'crosses_above') || ex7._vix_node('short_signal', 'crosses_below');
            e := e || ex7._vix_edge('close', 'macd', 'in') || ex7._vix_edge('close', 'macd_signal', 'in')
                   || ex7._vix_edge('macd', 'long_signal', 'a') || ex7._vix_edge('macd_signal', 'long_signal', 'b')
                   || ex7._vix_edge('macd', 'short_signal', 'a') || ex7._vix_edge('macd_signal', 'short_signal', 'b');
            v_idea := pg_catalog.format('MACD(%s, %s, %s) crossover: long when the MACD line crosses above its signal line, short when it crosses below', v_p1, v_p2, v_p3);
        END IF;
        v_long_when := 'long_signal'; v_short_when := 'short_signal';
        v_long_exit := 'short_signal'; v_short_exit := 'long_signal';
        v_exit_text := 'each side exits on the opposite cross';
        v_short_name := COALESCE(v_short_name, pg_catalog.format('MACD(%s,%s,%s) crossover', v_p1, v_p2, v_p3));
        v_tag := 'momentum';
        v_und := v_und || pg_catalog.jsonb_build_object('idea', 'macd_crossover', 'macd',
                     pg_catalog.jsonb_build_object('fast', v_p1, 'slow', v_p2, 'signal', v_p3));

    ELSIF v_family = 'bollinger' THEN
        v_p1 := COALESCE(ex7._vix_int((pg_catalog.regexp_match(w, '(?:bollinger|bb)\s*(?:bands?)?\s*\(?\s*(\d+)'))[1]),
                         ex7._vix_int((pg_catalog.regexp_match(w, '\m(\d+)\s*-?\s*(?:period\s+|bar\s+)?(?:bollinger|bb)'))[1]));
        v_dev := (pg_catalog.regexp_match(w, '(\d+(?:\.\d+)?)\s*-?\s*(?:std|sd|stdev|standard dev\w*|sigma|deviations?)'))[1]::numeric;
        IF v_dev IS NULL THEN
            v_dev := (pg_catalog.regexp_match(w, '(?:bollinger|bb)\s*(?:bands?)?\s*\(?\s*\d+\s*[, ]\s*(\d+(?:\.\d+)?)'))[1]::numeric;
        END IF;
        IF v_p1 IS NULL OR v_dev IS NULL THEN
            v_assume := v_assume || pg_catalog.format('Bollinger settings not given in full: %s bars, %s standard deviations',
                                                      COALESCE(v_p1, 20), COALESCE(v_dev, 2));
        END IF;
        v_p1 := COALESCE(v_p1, 20); v_dev := COALESCE(v_dev, 2);
        v_breakout := w ~ '\m(breakout|breaks? out|squeeze|momentum|expansion)\M';
        n := n || ex7._vix_node('upper', 'bollinger', pg_catalog.jsonb_build_object('period', v_p1, 'stddev', v_dev, 'band', 'upper'))
               || ex7._vix_node('middle', 'bollinger', pg_catalog.jsonb_build_object('period', v_p1, 'stddev', v_dev, 'band', 'middle'))
               || ex7._vix_node('lower', 'bollinger', pg_catalog.jsonb_build_object('period', v_p1, 'stddev', v_dev, 'band', 'lower'))
               || ex7._vix_node('long_signal', 'crosses_above') || ex7._vix_node('short_signal', 'crosses_below')
               || ex7._vix_node('long_exit_signal', CASE WHEN v_breakout THEN 'crosses_below' ELSE 'crosses_above' END)
               || ex7._vix_node('short_exit_signal', CASE WHEN v_breakout THEN 'crosses_above' ELSE 'crosses_below' END);
        e := e || ex7._vix_edge('close', 'upper', 'in') || ex7._vix_edge('close', 'middle', 'in') || ex7._vix_edge('close', 'lower', 'in')
               || ex7._vix_edge('close', 'long_signal', 'a') || ex7._vix_edge(CASE WHEN v_breakout THEN 'upper' ELSE 'lower' END, 'long_signal', 'b')
               || ex7._vix_edge('close', 'short_signal', 'a') || ex7._vix_edge(CASE WHEN v_breakout THEN 'lower' ELSE 'upper' END, 'short_signal', 'b')
               || ex7._vix_edge('close', 'long_exit_signal', 'a') || ex7._vix_edge('middle', 'long_exit_signal', 'b')
               || ex7._vix_edge('close', 'short_exit_signal', 'a') || ex7._vix_edge('middle', 'short_exit_signal', 'b');
        v_long_when := 'long_signal'; v_short_when := 'short_signal';
        v_long_exit := 'long_exit_signal'; v_short_exit := 'short_exit_signal';
        IF v_breakout THEN
            v_idea := pg_catalog.format('Bollinger(%s, %s) breakout: long when the close crosses above the upper band, short when it crosses below the lower band', v_p1, v_dev);
            v_exit_text := 'a long exits when the close crosses back below the middle band, a short above it';
            v_short_name := pg_catalog.format('Bollinger(%s,%s) breakout', v_p1, v_dev);
            v_tag := 'breakout';
        ELSE
            v_idea := pg_catalog.format('Bollinger(%s, %s) reversion: long when the close crosses back above the lower band, short when it crosses back below the upper band', v_p1, v_dev);
            v_exit_text := 'a long exits when the close crosses above the middle band, a short below it';
            v_short_name := pg_catalog.format('Bollinger(%s,%s) reversion', v_p1, v_dev);
            v_tag := 'mean-reversion';
        END IF;
        v_und := v_und || pg_catalog.jsonb_build_object('idea', CASE WHEN v_breakout THEN 'bollinger_breakout' ELSE 'bollinger_reversion' END,
                     'bollinger', pg_catalog.jsonb_build_object('period', v_p1, 'stddev', v_dev));

    ELSIF v_family = 'opening_range' THEN
        IF v_or_minutes IS NULL THEN
            v_or_minutes := 30;
            v_assume := v_assume || 'opening range length not given: the first 30 minutes after 09:30 New York'::text;
        END IF;
        IF v_tf_min > 60 OR v_or_minutes % v_tf_min <> 0 OR v_or_minutes < v_tf_min OR v_or_minutes > 390 THEN
            PERFORM ex7._vix_fail(pg_catalog.format('an opening range of %s minutes is not a whole number of %s bars', v_or_minutes, v_tf),
                                  v_und || pg_catalog.jsonb_build_object('idea', 'opening_range_breakout', 'minutes', v_or_minutes));
        END IF;
        v_p1 := v_or_minutes / v_tf_min;
        n := n || ex7._vix_node('range_high', 'opening_range', pg_catalog.jsonb_build_object('start', '09:30', 'bars', v_p1, 'edge', 'high', 'tz', 'America/New_York'))
               || ex7._vix_node('range_low', 'opening_range', pg_catalog.jsonb_build_object('start', '09:30', 'bars', v_p1, 'edge', 'low', 'tz', 'America/New_York'))
               || ex7._vix_node('long_signal', 'crosses_above') || ex7._vix_node('short_signal', 'crosses_below');
        e := e || ex7._vix_edge('close', 'long_signal', 'a') || ex7._vix_edge('range_high', 'long_signal', 'b')
               || ex7._vix_edge('close', 'short_signal', 'a') || ex7._vix_edge('range_low', 'short_signal', 'b');
        v_long_when := 'long_signal'; v_short_when := 'short_signal';
        IF NOT v_eod THEN
            v_eod := true;
            v_assume := v_assume || 'an opening range breakout is a day trade: flat on the bars from 15:45 to 16:00 New York'::text;
        END IF;
        v_idea := pg_catalog.format('opening range breakout: the range is the first %s minutes after 09:30 New York (%s bars); long when the close crosses above its high, short when it crosses below its low', v_or_minutes, v_p1);
        v_exit_text := NULL;
        v_short_name := pg_catalog.format('%s-minute opening range breakout', v_or_minutes);
        v_tag := 'breakout';
        v_und := v_und || pg_catalog.jsonb_build_object('idea', 'opening_range_breakout', 'opening_range',
                     pg_catalog.jsonb_build_object('minutes', v_or_minutes, 'bars', v_p1, 'start', '09:30'));

    ELSIF v_family = 'vwap' THEN
        n := n || ex7._vix_node('vwap', 'vwap', '{"reset": "18:00", "tz": "America/New_York"}')
               || ex7._vix_node('long_signal', 'crosses_above') || ex7._vix_node('short_signal', 'crosses_below');
        e := e || ex7._vix_edge('close', 'long_signal', 'a') || ex7._vix_edge('vwap', 'long_signal', 'b')
               || ex7._vix_edge('close', 'short_signal', 'a') || ex7._vix_edge('vwap', 'short_signal', 'b');
        v_long_when := 'long_signal'; v_short_when := 'short_signal';
        v_long_exit := 'short_signal'; v_short_exit := 'long_signal';
        v_idea := 'VWAP cross: long when the close crosses above the session VWAP (reset 18:00 New York), short when it crosses below';
        v_exit_text := 'each side exits on the opposite cross';
        v_short_name := 'VWAP cross';
        v_tag := 'vwap';
        v_und := v_und || '{"idea": "vwap_cross"}'::jsonb;

    ELSIF v_family = 'breakout' THEN
        v_p1 := COALESCE(ex7._vix_int((pg_catalog.regexp_match(w, '\m(\d+)\s*-?\s*(?:bar|period|day|candle)s?\s+(?:high|low|range|channel|breakout)'))[1]),
                         ex7._vix_int((pg_catalog.regexp_match(w, '(?:donchian|channel|breakout)\s*(?:channel\s*)?\(?\s*(?:of\s+)?(\d+)'))[1]));
        IF v_p1 IS NULL THEN
            v_p1 := 20;
            v_assume := v_assume || 'breakout length not given: the 20-bar high and low'::text;
        END IF;
        IF v_p1 NOT BETWEEN 2 AND 5000 THEN
            PERFORM ex7._vix_fail('the breakout length must be 2 to 5000 bars', v_und || '{"idea": "channel_breakout"}'::jsonb);
        END IF;
        -- the highest high of the n bars before this one (highest includes the bar itself: docs/engine.md)
        n := n || ex7._vix_node('high', 'high') || ex7._vix_node('low', 'low')
               || ex7._vix_node('highest', 'highest', pg_catalog.jsonb_build_object('period', v_p1))
               || ex7._vix_node('lowest', 'lowest', pg_catalog.jsonb_build_object('period', v_p1))
               || ex7._vix_node('channel_high', 'lag', '{"bars": 1}') || ex7._vix_node('channel_low', 'lag', '{"bars": 1}')
               || ex7._vix_node('long_signal', 'crosses_above') || ex7._vix_node('short_signal', 'crosses_below');
        e := e || ex7._vix_edge('high', 'highest', 'in') || ex7._vix_edge('low', 'lowest', 'in')
               || ex7._vix_edge('highest', 'channel_high', 'in') || ex7._vix_edge('lowest', 'channel_low', 'in')
               || ex7._vix_edge('close', 'long_signal', 'a') || ex7._vix_edge('channel_high', 'long_signal', 'b')
               || ex7._vix_edge('close', 'short_signal', 'a') || ex7._vix_edge('channel_low', 'short_signal', 'b');
        v_long_when := 'long_signal'; v_short_when := 'short_signal';
        v_long_exit := 'short_signal'; v_short_exit := 'long_signal';
        v_idea := pg_catalog.format('%s-bar channel breakout: long when the close crosses above the highest high of the previous %s bars, short when it crosses below the lowest low', v_p1, v_p1);
        v_exit_text := 'each side exits on a break of the other side of the channel';
        v_short_name := pg_catalog.format('%s-bar breakout', v_p1);
        v_tag := 'breakout';
        v_und := v_und || pg_catalog.jsonb_build_object('idea', 'channel_breakout', 'channel', pg_catalog.jsonb_build_object('bars', v_p1));

    ELSE -- moving_average
        -- "ema 9/21", "9/21 ema", "9 and 21 ema"; else every "<type> <n>" and "<n> <type>" in order
        m := pg_catalog.regexp_match(w, '\m(ema|sma|wma|ma)\s*\(?\s*(\d+)\s*(?:/|,|and|&|x)\s*(\d+)');
        IF m IS NOT NULL THEN
            v_periods := ARRAY[ex7._vix_int(m[2]), ex7._vix_int(m[3])];
            v_types := ARRAY[NULLIF(m[1], 'ma'), NULLIF(m[1], 'ma')];
        ELSE
            m := pg_catalog.regexp_match(w, '\m(\d+)\s*(?:/|,|and|&|x)\s*(\d+)\s*-?\s*(?:period\s+|bar\s+|day\s+)?(ema|sma|wma|ma\M|moving averages?)');
            IF m IS NOT NULL THEN
                v_periods := ARRAY[ex7._vix_int(m[1]), ex7._vix_int(m[2])];
                v_types := ARRAY[NULLIF(pg_catalog.left(m[3], 3), 'ma'), NULLIF(pg_catalog.left(m[3], 3), 'ma')];
                v_types := ARRAY[CASE WHEN v_types[1] IN ('ema', 'sma', 'wma') THEN v_types[1] END,
                                 CASE WHEN v_types[2] IN ('ema', 'sma', 'wma') THEN v_types[2] END];
            END IF;
        END IF;
        IF v_periods IS NULL OR NULL = ANY (v_periods) THEN
        SELECT pg_catalog.array_agg(p ORDER BY o), pg_catalog.array_agg(t ORDER BY o) INTO v_periods, v_types
          FROM (SELECT ex7._vix_int(COALESCE(x[2], x[3])) AS p,
                       CASE COALESCE(x[1], x[4]) WHEN 'ema' THEN 'ema' WHEN 'wma' THEN 'wma'
                            WHEN 'sma' THEN 'sma' ELSE NULL END AS t, o
                  FROM pg_catalog.regexp_matches(w,
                       '\m(ema|sma|wma)\s*\(?\s*(\d+)|\m(\d+)\s*-?\s*(?:period\s+|bar\s+|day\s+)?(ema|sma|wma|ma\M|moving average)',
                       'g') WITH ORDINALITY AS r (x, o)) s
         WHERE p IS NOT NULL;
        END IF;
        v_t1 := COALESCE((pg_catalog.regexp_match(w, '\m(ema|sma|wma)\M'))[1],
                         CASE WHEN w ~ '\mexponential\M' THEN 'ema' END, 'sma');
        IF w ~ '\mgolden cross|\mdeath cross' AND v_periods IS NULL THEN
            v_periods := ARRAY[50, 200]; v_types := ARRAY['sma', 'sma'];
        END IF;
        IF v_periods IS NULL AND w ~ '\mcross(over|es|ing)?\M' THEN
            v_periods := ARRAY[9, 21]; v_types := ARRAY[v_t1, v_t1];
            v_assume := v_assume || pg_catalog.format('crossover periods not given: %s 9 and 21', pg_catalog.upper(v_t1));
        END IF;
        IF v_periods IS NULL THEN
            v_periods := ARRAY[20]; v_types := ARRAY[v_t1];
            v_assume := v_assume || pg_catalog.format('moving average period not given: %s 20', pg_catalog.upper(v_t1));
        END IF;
        IF pg_catalog.cardinality(v_periods) > 2 THEN
            v_assume := v_assume || 'more than two moving averages named: the first two are used'::text;
        END IF;
        FOR i IN 1 .. LEAST(pg_catalog.cardinality(v_periods), 2) LOOP
            IF v_periods[i] NOT BETWEEN 1 AND (CASE WHEN COALESCE(v_types[i], v_t1) = 'ema' THEN 1000 ELSE 5000 END) THEN
                PERFORM ex7._vix_fail(pg_catalog.format('moving average period %s is out of range', v_periods[i]),
                                      v_und || '{"idea": "moving_average"}'::jsonb);
            END IF;
        END LOOP;
        IF pg_catalog.cardinality(v_periods) >= 2 AND v_periods[1] <> v_periods[2] THEN
            -- fast is the shorter period whatever the order written
            IF v_periods[1] < v_periods[2] THEN
                v_p1 := v_periods[1]; v_p2 := v_periods[2];
                v_t2 := COALESCE(v_types[1], v_types[2], v_t1); v_t1 := COALESCE(v_types[2], v_types[1], v_t1);
            ELSE
                v_p1 := v_periods[2]; v_p2 := v_periods[1];
                v_t2 := COALESCE(v_types[2], v_types[1], v_t1); v_t1 := COALESCE(v_types[1], v_types[2], v_t1);
            END IF;
            -- now v_t2 is the fast type, v_t1 the slow type
            n := n || ex7._vix_node('fast', v_t2, pg_catalog.jsonb_build_object('period', v_p1))
                   || ex7._vix_node('slow', v_t1, pg_catalog.jsonb_build_object('period', v_p2))
                   || ex7._vix_node('long_signal', 'crosses_above') || ex7._vix_node('short_signal', 'crosses_below');
            e := e || ex7._vix_edge('close', 'fast', 'in') || ex7._vix_edge('close', 'slow', 'in')
                   || ex7._vix_edge('fast', 'long_signal', 'a') || ex7._vix_edge('slow', 'long_signal', 'b')
                   || ex7._vix_edge('fast', 'short_signal', 'a') || ex7._vix_edge('slow', 'short_signal', 'b');
            v_idea := pg_catalog.format('%s(%s) / %s(%s) crossover: long when the fast average crosses above the slow one, short when it crosses below',
                                        pg_catalog.upper(v_t2), v_p1, pg_catalog.upper(v_t1), v_p2);
            v_short_name := pg_catalog.format('%s %s/%s crossover', pg_catalog.upper(v_t2), v_p1, v_p2);
            v_und := v_und || pg_catalog.jsonb_build_object('idea', 'moving_average_crossover', 'fast',
                         pg_catalog.jsonb_build_object('type', v_t2, 'period', v_p1), 'slow',
                         pg_catalog.jsonb_build_object('type', v_t1, 'period', v_p2));
        ELSE
            v_p1 := v_periods[1]; v_t1 := COALESCE(v_types[1], v_t1);
            n := n || ex7._vix_node('average', v_t1, pg_catalog.jsonb_build_object('period', v_p1))
                   || ex7._vix_node('long_signal', 'crosses_above') || ex7._vix_node('short_signal', 'crosses_below');
            e := e || ex7._vix_edge('close', 'average', 'in')
                   || ex7._vix_edge('close', 'long_signal', 'a') || ex7._vix_edge('average', 'long_signal', 'b')
                   || ex7._vix_edge('close', 'short_signal', 'a') || ex7._vix_edge('average', 'short_signal', 'b');
            v_idea := pg_catalog.format('price and %s(%s): long when the close crosses above the average, short when it crosses below',
                                        pg_catalog.upper(v_t1), v_p1);
            v_short_name := pg_catalog.format('close x %s(%s)', pg_catalog.upper(v_t1), v_p1);
            v_und := v_und || pg_catalog.jsonb_build_object('idea', 'price_moving_average_cross', 'average',
                         pg_catalog.jsonb_build_object('type', v_t1, 'period', v_p1));
        END IF;
        v_long_when := 'long_signal'; v_short_when := 'short_signal';
        v_long_exit := 'short_signal'; v_short_exit := 'long_signal';
        v_exit_text := 'each side exits on the opposite cross';
        v_tag := 'trend';
    END IF;

    /* 11. filters on the entries: trend filter and session window, each an AND */
    IF v_filter_period IS NOT NULL THEN
        IF v_filter_period NOT BETWEEN 1 AND (CASE WHEN v_filter_type = 'ema' THEN 1000 ELSE 5000 END) THEN
            PERFORM ex7._vix_fail(pg_catalog.format('trend filter period %s is out of range', v_filter_period), v_und);
        END IF;
        n := n || ex7._vix_node('trend', v_filter_type, pg_catalog.jsonb_build_object('period', v_filter_period))
               || ex7._vix_node('above_trend', 'gt') || ex7._vix_node('below_trend', 'lt')
               || ex7._vix_node('long_trend_ok', 'and') || ex7._vix_node('short_trend_ok', 'and');
        e := e || ex7._vix_edge('close', 'trend', 'in')
               || ex7._vix_edge('close', 'above_trend', 'a') || ex7._vix_edge('trend', 'above_trend', 'b')
               || ex7._vix_edge('close', 'below_trend', 'a') || ex7._vix_edge('trend', 'below_trend', 'b')
               || ex7._vix_edge(v_long_when, 'long_trend_ok', 'a') || ex7._vix_edge('above_trend', 'long_trend_ok', 'b')
               || ex7._vix_edge(v_short_when, 'short_trend_ok', 'a') || ex7._vix_edge('below_trend', 'short_trend_ok', 'b');
        v_long_when := 'long_trend_ok'; v_short_when := 'short_trend_ok';
        -- "only above the 200 sma" usually means longs only
        IF v_filter_side = 'above' AND v_dir = 'both' AND w ~ '\monly\M' THEN
            v_dir := 'long';
            v_und := v_und || '{"direction": "long"}'::jsonb;
        END IF;
    END IF;
    IF v_sess_start IS NOT NULL THEN
        n := n || ex7._vix_node('session', 'session_filter', pg_catalog.jsonb_build_object('start', v_sess_start, 'end', v_sess_end, 'tz', v_tz))
               || ex7._vix_node('long_ok', 'and') || ex7._vix_node('short_ok', 'and');
        e := e || ex7._vix_edge(v_long_when, 'long_ok', 'a') || ex7._vix_edge('session', 'long_ok', 'b')
               || ex7._vix_edge(v_short_when, 'short_ok', 'a') || ex7._vix_edge('session', 'short_ok', 'b');
        v_long_when := 'long_ok'; v_short_when := 'short_ok';
    END IF;
    IF v_eod THEN
        n := n || ex7._vix_node('flatten', 'session_filter', '{"start": "15:45", "end": "16:00", "tz": "America/New_York"}');
    END IF;

    /* 12. entries, brackets and exits per side */
    FOR v_t1 IN SELECT s FROM pg_catalog.unnest(ARRAY['long', 'short']) s
                 WHERE v_dir = 'both' OR v_dir = s LOOP
        n := n || ex7._vix_node(v_t1, 'enter_' || v_t1, pg_catalog.jsonb_build_object('size', v_size));
        e := e || ex7._vix_edge(CASE v_t1 WHEN 'long' THEN v_long_when ELSE v_short_when END, v_t1, 'when');
        IF v_stop IS NOT NULL THEN
            n := n || ex7._vix_node(v_t1 || '_stop', 'stop_loss_ticks', pg_catalog.jsonb_build_object('ticks', v_stop));
            e := e || ex7._vix_edge(v_t1, v_t1 || '_stop', 'entry');
        END IF;
        IF v_target IS NOT NULL THEN
            n := n || ex7._vix_node(v_t1 || '_target', 'take_profit_ticks', pg_catalog.jsonb_build_object('ticks', v_target));
            e := e || ex7._vix_edge(v_t1, v_t1 || '_target', 'entry');
        END IF;
        IF (CASE v_t1 WHEN 'long' THEN v_long_exit ELSE v_short_exit END) IS NOT NULL THEN
            n := n || ex7._vix_node(v_t1 || '_exit', 'exit_' || v_t1);
            e := e || ex7._vix_edge(CASE v_t1 WHEN 'long' THEN v_long_exit ELSE v_short_exit END, v_t1 || '_exit', 'when');
        END IF;
        IF v_eod THEN
            n := n || ex7._vix_node(v_t1 || '_flat', 'exit_' || v_t1);
            e := e || ex7._vix_edge('flatten', v_t1 || '_flat', 'when');
        END IF;
    END LOOP;

    /* 13. drop nodes nothing reads (a one-sided strategy leaves the other side's signal unused) */
    LOOP
        v_pos := pg_catalog.jsonb_array_length(n);
        n := (SELECT pg_catalog.jsonb_agg(x ORDER BY o) FROM pg_catalog.jsonb_array_elements(n) WITH ORDINALITY AS a (x, o)
               WHERE x ->> 'type' IN ('enter_long', 'enter_short', 'exit_long', 'exit_short', 'stop_loss_ticks', 'take_profit_ticks')
                  OR EXISTS (SELECT 1 FROM pg_catalog.jsonb_array_elements(e) y WHERE y ->> 'from' = x ->> 'id'));
        e := (SELECT COALESCE(pg_catalog.jsonb_agg(y ORDER BY o), '[]') FROM pg_catalog.jsonb_array_elements(e) WITH ORDINALITY AS b (y, o)
               WHERE EXISTS (SELECT 1 FROM pg_catalog.jsonb_array_elements(n) x WHERE x ->> 'id' = y ->> 'to'));
        EXIT WHEN pg_catalog.jsonb_array_length(n) = v_pos;
    END LOOP;

    /* 14. the words */
    v_summary := pg_catalog.format('%s on %s %s bars. %s%s%s%s%s. %s contract%s.',
        v_idea, v_instr, v_tf,
        CASE v_dir WHEN 'long' THEN 'Long entries only. ' WHEN 'short' THEN 'Short entries only. ' ELSE '' END,
        CASE WHEN v_filter_period IS NOT NULL THEN pg_catalog.format('Longs only above the %s(%s), shorts only below it. ', pg_catalog.upper(v_filter_type), v_filter_period) ELSE '' END,
        CASE WHEN v_sess_start IS NOT NULL THEN pg_catalog.format('Entries from %s to %s %s. ', v_sess_start, v_sess_end, v_tz) ELSE '' END,
        CASE WHEN v_exit_text IS NOT NULL THEN pg_catalog.upper(pg_catalog.left(v_exit_text, 1)) || pg_catalog.substr(v_exit_text, 2) || '. ' ELSE '' END
        || CASE WHEN v_eod THEN 'Flat on the bars from 15:45 to 16:00 New York. ' ELSE '' END,
        pg_catalog.concat_ws(', ',
            CASE WHEN v_stop IS NOT NULL THEN pg_catalog.format('%s-tick stop (%s points)', v_stop, pg_catalog.trim_scale(v_stop * v_tick)) ELSE 'no stop' END,
            CASE WHEN v_target IS NOT NULL THEN pg_catalog.format('%s-tick target (%s points)', v_target, pg_catalog.trim_scale(v_target * v_tick)) ELSE 'no target' END),
        v_size, CASE WHEN v_size = 1 THEN '' ELSE 's' END);
    v_name := pg_catalog.left(pg_catalog.format('Vix: %s %s %s%s', v_short_name, v_instr, v_tf,
                              CASE v_dir WHEN 'both' THEN '' ELSE ' ' || v_dir || ' only' END), 120);

    RETURN pg_catalog.jsonb_build_object(
        'graph', pg_catalog.jsonb_build_object('nodes', n, 'edges', e,
                     'meta', pg_catalog.jsonb_build_object('generator', 'vix', 'version', 1)),
        'summary', v_summary,
        'assumptions', pg_catalog.to_jsonb(v_assume),
        'understood', v_und,
        'name', v_name,
        'instrument', v_instr,
        'timeframe', v_tf,
        'tags', pg_catalog.jsonb_build_array('vix', v_tag));
END
$$;
COMMENT ON FUNCTION ex7._vix_parse(text) IS
'Returns {graph, summary, assumptions, understood, name, instrument, timeframe, tags}: the strategy Vix''s deterministic generator reads in plain-language request p_prompt (docs/account.md, "Vix"). The graph is not validated here (ex7.vix_generate does). X7422 at ["body","prompt"] with ctx.understood when it finds no trading idea or a value out of range.';

/* ---------------------------------------------------------------------------------------------------
 * Quota and the routes.
 *
 * Both paths of POST /api/vix/generate-strategy share the steps below: the body's shape (_vix_body), the
 * day's quota (_vix_quota_check, under the user's row lock), a generator, the engine's validator, then
 * _vix_finish, which counts the generation and creates the draft in the same transaction. Without a
 * language model ex7d calls ex7.vix_generate; with one (EX7_VIX_LLM_BASE, http/vix.c) it calls
 * ex7.vix_llm_request, sends the request it returns, and hands the answer to ex7.vix_llm_result.
 * ------------------------------------------------------------------------------------------------- */

CREATE OR REPLACE FUNCTION ex7.vix_quota(p_user uuid, p_now timestamptz DEFAULT pg_catalog.statement_timestamp())
RETURNS jsonb
LANGUAGE plpgsql STABLE
AS $$
DECLARE
    -- ex7-api-introduction.txt: "daily quotas reset at 00:00 UTC"
    v_day date := (p_now AT TIME ZONE 'UTC')::date;
    v_tier text;
    v_limit integer;
    v_used integer;
BEGIN
    PERFORM ex7._ensure_user(p_user);
    SELECT t.tier, t.vix_per_day INTO v_tier, v_limit FROM ex7.tiers t WHERE t.tier = ex7._current_tier(p_user);
    SELECT used INTO v_used FROM ex7.vix_usage WHERE user_id = p_user AND day = v_day;
    v_used := COALESCE(v_used, 0);
    RETURN pg_catalog.jsonb_build_object('tier', v_tier, 'limit', v_limit, 'used', v_used,
        'remaining', GREATEST(v_limit - v_used, 0), 'day', v_day,
        'resets_at', (v_day + 1)::timestamp AT TIME ZONE 'UTC');
END
$$;
COMMENT ON FUNCTION ex7.vix_quota(uuid, timestamptz) IS
'Returns {tier, limit, used, remaining, day, resets_at}: p_user''s Vix generations today (UTC day of p_now) against the tier''s vix_per_day (GET /api/vix/quota).';

/* _vix_body: the body's shape: {prompt, create?, name?} (the prompt's text is _vix_prompt_check's). */
CREATE OR REPLACE FUNCTION ex7._vix_body(p_body jsonb)
RETURNS boolean
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
AS $$
DECLARE
BEGIN
    IF p_body IS NULL OR pg_catalog.jsonb_typeof(p_body) <> 'object' THEN
        PERFORM ex7._invalid('["body"]', 'value is not a valid dict', 'type_error.dict');
    END IF;
    PERFORM ex7._refuse_extra(p_body, ARRAY['prompt', 'create', 'name']);
    IF pg_catalog.jsonb_typeof(p_body -> 'prompt') IS DISTINCT FROM 'string' THEN
        PERFORM ex7._invalid('["body","prompt"]', CASE WHEN p_body ? 'prompt' THEN 'str type expected' ELSE 'field required' END,
                             CASE WHEN p_body ? 'prompt' THEN 'type_error.str' ELSE 'value_error.missing' END);
    END IF;
    IF p_body ? 'create' AND pg_catalog.jsonb_typeof(p_body -> 'create') <> 'boolean' THEN
        PERFORM ex7._invalid('["body","create"]', 'value could not be parsed to a boolean', 'type_error.bool');
    END IF;
    IF p_body ? 'name' AND pg_catalog.jsonb_typeof(p_body -> 'name') <> 'string' THEN
        PERFORM ex7._invalid('["body","name"]', 'str type expected', 'type_error.str');
    END IF;
    RETURN COALESCE((p_body ->> 'create')::boolean, false);
END
$$;
COMMENT ON FUNCTION ex7._vix_body(jsonb) IS
'Returns body.create (false when absent) of a Vix request body {prompt, create?, name?}; X7422 with a ["body", ...] locator for any other shape (an extra key is value_error.extra).';

/*
 * _vix_quota_check: the day's Vix quota of p_user, read under the caller's lock of the user row. It
 * counts nothing: _vix_finish does, in the transaction that generates.
 */
CREATE OR REPLACE FUNCTION ex7._vix_quota_check(p_user uuid, p_now timestamptz)
RETURNS jsonb
LANGUAGE plpgsql STABLE
AS $$
DECLARE
    v_day date := (p_now AT TIME ZONE 'UTC')::date;
    v_reset timestamptz := (v_day + 1)::timestamp AT TIME ZONE 'UTC';
    v_limit integer;
    v_used integer;
BEGIN
    SELECT t.vix_per_day INTO v_limit FROM ex7.tiers t WHERE t.tier = ex7._current_tier(p_user);
    SELECT q.used INTO v_used FROM ex7.vix_usage q WHERE q.user_id = p_user AND q.day = v_day;
    v_used := COALESCE(v_used, 0);
    IF v_used >= v_limit THEN
        PERFORM ex7._raise(429, pg_catalog.format('Vix quota of %s generations a day reached; it resets at 00:00 UTC', v_limit),
            pg_catalog.jsonb_build_object('code', 'vix_quota_exceeded', 'limit', v_limit, 'used', v_used,
                'resets_at', v_reset,
                'retry_after', GREATEST(pg_catalog.ceil(EXTRACT(epoch FROM v_reset - p_now))::integer, 1)));
    END IF;
    RETURN pg_catalog.jsonb_build_object('limit', v_limit, 'used', v_used, 'day', v_day, 'resets_at', v_reset);
END
$$;
COMMENT ON FUNCTION ex7._vix_quota_check(uuid, timestamptz) IS
'Returns {limit, used, day, resets_at}: p_user''s Vix quota on the UTC day of p_now, counting nothing; X7429 {code: vix_quota_exceeded, limit, used, resets_at, retry_after} when it is used up. Call it holding the user row lock (ex7._lock_user).';

/* _vix_deterministic: the offline generator's graph, validated by the engine. */
CREATE OR REPLACE FUNCTION ex7._vix_deterministic(p_prompt text)
RETURNS jsonb
LANGUAGE plpgsql STABLE
AS $$
DECLARE
    v_gen jsonb;
    v_check jsonb;
BEGIN
    v_gen := ex7._vix_parse(p_prompt);
    -- the engine's validator has the last word (docs/engine.md, "Validation")
    BEGIN
        v_check := ex7.validate_graph(v_gen -> 'graph');
    EXCEPTION WHEN SQLSTATE 'X7422' THEN
        PERFORM ex7._vix_fail('Vix built a graph the engine refuses; please rephrase the request', v_gen -> 'understood');
    END;
    RETURN pg_catalog.jsonb_build_object('gen', v_gen, 'check', v_check);
END
$$;
COMMENT ON FUNCTION ex7._vix_deterministic(text) IS
'Returns {gen, check}: what ex7._vix_parse builds from p_prompt and the engine validator''s verdict on its graph; X7422 at ["body","prompt"] when Vix cannot read the request or (a Vix bug) the engine refuses the graph.';

/*
 * _vix_finish: counts one generation of the quota and, with body.create, makes the draft; returns the
 * route's answer. p_gen is a generator's {graph, summary, assumptions, understood, name, instrument,
 * timeframe, tags}, p_check the validator's verdict on its graph, p_quota _vix_quota_check's answer,
 * p_extra the keys that say which generator answered.
 */
CREATE OR REPLACE FUNCTION ex7._vix_finish(p_user uuid, p_body jsonb, p_gen jsonb, p_check jsonb, p_quota jsonb,
                                           p_extra jsonb, p_note text)
RETURNS jsonb
LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
    v_limit integer := (p_quota ->> 'limit')::integer;
    v_used integer;
    v_name text;
    v_row ex7.strategies;
    v_strategy jsonb;
BEGIN
    INSERT INTO ex7.vix_usage AS q (user_id, day, used) VALUES (p_user, (p_quota ->> 'day')::date, 1)
    ON CONFLICT (user_id, day) DO UPDATE SET used = q.used + 1
    RETURNING q.used INTO v_used;

    IF ex7._vix_body(p_body) THEN
        v_name := COALESCE(NULLIF(pg_catalog.btrim(p_body ->> 'name'), ''), p_gen ->> 'name');
        v_row := ex7._insert_strategy(p_user,
            ex7._strategy_fields(pg_catalog.jsonb_build_object('name', v_name, 'description', p_gen -> 'summary',
                'instrument', p_gen -> 'instrument', 'timeframe', p_gen -> 'timeframe', 'tags', p_gen -> 'tags',
                'graph', p_gen -> 'graph'), false),
            'suffix', pg_catalog.left(p_note || (p_body ->> 'prompt'), 1000));
        -- a statement of its own: _strategy_json is STABLE and reads the version row inserted just now
        v_strategy := ex7._strategy_json(v_row);
    END IF;

    RETURN p_gen - 'tags' || p_extra || pg_catalog.jsonb_build_object(
        'validation', pg_catalog.jsonb_build_object('lookback', p_check -> 'lookback', 'entries', p_check -> 'entries'),
        'strategy', v_strategy,
        'quota', pg_catalog.jsonb_build_object('limit', v_limit, 'used', v_used,
                     'remaining', GREATEST(v_limit - v_used, 0), 'resets_at', p_quota -> 'resets_at'));
END
$$;
COMMENT ON FUNCTION ex7._vix_finish(uuid, jsonb, jsonb, jsonb, jsonb, jsonb, text) IS
'Returns the answer of POST /api/vix/generate-strategy for generator output p_gen (validated: p_check) plus p_extra ({generator, fallback_reason?}): counts one generation of p_user''s quota on p_quota''s day and, when body.create is true, creates the draft strategy (version note p_note followed by the prompt).';

CREATE OR REPLACE FUNCTION ex7.vix_generate(p_user uuid, p_body jsonb,
                                            p_now timestamptz DEFAULT pg_catalog.statement_timestamp())
RETURNS jsonb
LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
    v_quota jsonb;
    v_det jsonb;
BEGIN
    PERFORM ex7._lock_user(p_user);
    PERFORM ex7._vix_body(p_body);
    -- the quota: counted in this transaction, so a request that fails (422) costs nothing
    v_quota := ex7._vix_quota_check(p_user, p_now);
    v_det := ex7._vix_deterministic(p_body ->> 'prompt');
    RETURN ex7._vix_finish(p_user, p_body, v_det -> 'gen', v_det -> 'check', v_quota,
                           '{"generator": "deterministic"}', 'generated by Vix from: ');
END
$$;
COMMENT ON FUNCTION ex7.vix_generate(uuid, jsonb, timestamptz) IS
'Returns {graph, summary, assumptions, understood, name, instrument, timeframe, generator, validation {lookback, entries}, strategy, quota {limit, used, remaining, resets_at}}: the strategy graph Vix builds from body.prompt, validated by the engine, and, when body.create is true, the draft strategy created from it (named body.name or the generated name, suffixed when taken; strategy is null otherwise). Counts one generation of p_user''s daily quota; X7429 {code: vix_quota_exceeded, limit, used, resets_at, retry_after} over it; X7422 at ["body","prompt"] (with ctx.understood) for a request Vix cannot read, and for bad body fields.';

/* ---------------------------------------------------------------------------------------------------
 * The language-model path (docs/account.md, "Vix with a language model"): if an LLM endpoint is
 * configured (OpenAI-compatible base URL and key) Vix may use it, and must still validate the result.
 * ex7d only moves bytes: the request it sends is built here, and what the model answered is judged here.
 * The endpoint's key never reaches the database.
 * ------------------------------------------------------------------------------------------------- */

/*
 * _vix_llm_system_prompt: what the model is told: the answer's JSON shape, the graph's rules, every node
 * type of the engine's catalog (ex7.list_engines, so a new node type is offered at once), the active
 * instruments and the timeframes, and one worked example made by the deterministic generator.
 */
CREATE OR REPLACE FUNCTION ex7._vix_llm_system_prompt()
RETURNS text
LANGUAGE sql STABLE
AS $$
    WITH engines AS (
        SELECT x, o FROM pg_catalog.jsonb_array_elements(ex7.list_engines() -> 'engines') WITH ORDINALITY AS a (x, o)
    ), node_lines AS (
        SELECT pg_catalog.string_agg(pg_catalog.format('- %s [%s]: %s -> %s%s. %s',
                   x ->> 'type', x ->> 'category',
                   COALESCE((SELECT pg_catalog.string_agg(pg_catalog.format('%s (%s)', i ->> 'port', i ->> 'type'), ', ' ORDER BY io)
                               FROM pg_catalog.jsonb_array_elements(COALESCE(x -> 'inputs', '[]')) WITH ORDINALITY AS b (i, io)),
                            'no inputs'),
                   x ->> 'output',
                   COALESCE('; params: ' || (SELECT pg_catalog.string_agg(pg_catalog.concat(p ->> 'name', ' ', p ->> 'type',
                               CASE WHEN pg_catalog.jsonb_typeof(p -> 'values') = 'array'
                                    THEN ' one of ' || (SELECT pg_catalog.string_agg(v, '|') FROM pg_catalog.jsonb_array_elements_text(p -> 'values') v)
                                    WHEN p ->> 'min' IS NOT NULL OR p ->> 'max' IS NOT NULL
                                    THEN pg_catalog.format(' %s..%s', p ->> 'min', p ->> 'max') END,
                               CASE WHEN p ->> 'default' IS NOT NULL THEN ' default ' || (p ->> 'default') END), ', ' ORDER BY po)
                             FROM pg_catalog.jsonb_array_elements(COALESCE(x -> 'params', '[]')) WITH ORDINALITY AS c (p, po)), ''),
                   x ->> 'description'), E'\n' ORDER BY o) AS t
          FROM engines
    ), instruments AS (
        SELECT pg_catalog.string_agg(pg_catalog.format('%s (%s, tick %s)', i.symbol, i.name, i.tick_size), '; ' ORDER BY i.symbol) AS t
          FROM ex7.instruments i WHERE i.active
    ), example AS (
        SELECT g FROM ex7._vix_parse('RSI mean reversion on MNQ 5m with a 20 tick stop') AS g
    )
    SELECT pg_catalog.concat_ws(E'\n',
        'You are Vix, the strategy generator of a futures trading-signal platform. Turn the user''s plain-language request into one trading strategy for the platform''s graph engine.',
        'Answer with a single JSON object and nothing else (no Markdown, no prose):',
        '{"name": a short name (at most 80 characters), "summary": one paragraph saying when it enters, exits, and its stop and target, "instrument": one symbol of the list below, "timeframe": one of 1m 2m 5m 15m 30m 1h 4h 1d, "assumptions": [one string per default you chose], "graph": {"nodes": [...], "edges": [...]}}',
        '',
        'The graph:',
        '- nodes: [{"id": a unique short readable id, "type": one of the node types below, "params": {name: value}}]; at most 200 nodes; a parameter left out takes its default.',
        '- edges: [{"from": node id, "to": node id, "port": the input port of "to" it feeds}]; every input port of every node takes exactly one edge; an output may feed any number of ports; no cycles.',
        '- Port types must match exactly: series to series, boolean to boolean, entry to entry. Nothing converts implicitly: comparisons (gt, lt, crosses_above, ...) turn two series into a boolean.',
        '- At least one entry node (enter_long or enter_short) whose "when" port takes a boolean. exit_long / exit_short take a boolean on "when". The brackets stop_loss_ticks and take_profit_ticks take an entry node''s output on their "entry" port, at most one of each per entry. Sizes are contracts; brackets are ticks of the instrument.',
        '- Times are "HH:MM"; tz is one of America/New_York, America/Chicago, Europe/London, Asia/Tokyo, UTC.',
        '- If the request names no instrument use MNQ, no timeframe 5m, no stop a 20 tick stop, no target twice the stop; list each such choice in assumptions.',
        '',
        'Node types (type [category]: input ports (type) -> output type; params):',
        (SELECT t FROM node_lines),
        '',
        'Instruments: ' || (SELECT t FROM instruments),
        '',
        'Example. Request: "RSI mean reversion on MNQ 5m with a 20 tick stop". Answer:',
        (SELECT pg_catalog.jsonb_build_object('name', g -> 'name', 'summary', g -> 'summary', 'instrument', g -> 'instrument',
                    'timeframe', g -> 'timeframe', 'assumptions', g -> 'assumptions', 'graph', (g -> 'graph') - 'meta')::text
           FROM example));
$$;
COMMENT ON FUNCTION ex7._vix_llm_system_prompt() IS
'Returns the system message Vix sends a language model: the answer''s JSON shape, the graph rules, the engine''s node catalog (ex7.list_engines), the active instruments, the timeframes and one example made by the deterministic generator.';

CREATE OR REPLACE FUNCTION ex7.vix_llm_request(p_user uuid, p_body jsonb, p_model text,
                                               p_now timestamptz DEFAULT pg_catalog.statement_timestamp())
RETURNS jsonb
LANGUAGE plpgsql VOLATILE
AS $$
BEGIN
    -- the checks of vix_generate, in its order, so that a 422 or a 429 never reaches the provider
    PERFORM ex7._lock_user(p_user);
    PERFORM ex7._vix_body(p_body);
    PERFORM ex7._vix_quota_check(p_user, p_now);
    PERFORM ex7._vix_prompt_check(p_body ->> 'prompt');
    IF p_model IS NULL OR pg_catalog.btrim(p_model) = '' THEN
        RAISE EXCEPTION 'vix_llm_request: no model named';
    END IF;
    -- OpenAI's Chat Completions request; response_format json_object asks for one JSON object (the
    -- system message says "JSON", which that mode requires). No temperature: reasoning models refuse one.
    RETURN pg_catalog.jsonb_build_object(
        'model', p_model,
        'messages', pg_catalog.jsonb_build_array(
            pg_catalog.jsonb_build_object('role', 'system', 'content', ex7._vix_llm_system_prompt()),
            pg_catalog.jsonb_build_object('role', 'user', 'content', p_body ->> 'prompt')),
        'response_format', '{"type": "json_object"}'::jsonb);
END
$$;
COMMENT ON FUNCTION ex7.vix_llm_request(uuid, jsonb, text, timestamptz) IS
'Returns the Chat Completions request body {model, messages, response_format} ex7d POSTs to the configured language model for Vix request p_body (POST /api/vix/generate-strategy with EX7_VIX_LLM_BASE set). Checks first what ex7.vix_generate checks, counting nothing: X7422 for a bad body or prompt, X7429 vix_quota_exceeded over the quota.';

/*
 * _vix_llm_candidate: what the model answered, judged: {gen, check} when its answer holds a graph the
 * engine accepts (with at least one entry) on an active instrument and a known timeframe, else
 * {reason: {code, message[, detail]}}. Never raises for anything the provider sent. Reasons say what
 * went wrong in our words; the provider's error text is not repeated (it may quote credentials).
 */
CREATE OR REPLACE FUNCTION ex7._vix_llm_candidate(p_status integer, p_answer text, p_error text, p_prompt text)
RETURNS jsonb
LANGUAGE plpgsql STABLE
AS $$
DECLARE
    c_timeframes CONSTANT text[] := ARRAY['1m', '2m', '5m', '15m', '30m', '1h', '4h', '1d'];
    v_answer jsonb;
    v_content text;
    v_obj jsonb;
    v_graph jsonb;
    v_instr text;
    v_tf text;
    v_check jsonb;
    v_msg text;
    v_detail text;
    v_name text;
    v_summary text;
    v_model text;
BEGIN
    IF p_error IS NOT NULL THEN
        RETURN pg_catalog.jsonb_build_object('reason', pg_catalog.jsonb_build_object(
            'code', CASE WHEN p_error = 'timeout' THEN 'provider_timeout' ELSE 'provider_unreachable' END,
            'message', 'the language model did not answer: ' || pg_catalog.left(p_error, 200)));
    END IF;
    IF p_status IS NULL OR p_status NOT BETWEEN 200 AND 299 THEN
        RETURN pg_catalog.jsonb_build_object('reason', pg_catalog.jsonb_build_object('code', 'provider_error',
            'message', pg_catalog.format('the language model endpoint answered HTTP %s', COALESCE(p_status::text, 'nothing'))));
    END IF;
    BEGIN
        v_answer := p_answer::jsonb;
    EXCEPTION WHEN data_exception THEN
        v_answer := NULL;
    END;
    -- Chat Completions: {choices: [{message: {content, refusal?}, finish_reason}], model, ...}
    v_content := v_answer #>> '{choices,0,message,content}';
    IF pg_catalog.jsonb_typeof(v_answer #> '{choices,0,message,content}') IS DISTINCT FROM 'string' THEN
        RETURN pg_catalog.jsonb_build_object('reason', pg_catalog.jsonb_build_object('code', 'invalid_answer',
            'message', CASE WHEN v_answer IS NULL THEN 'the language model endpoint did not answer JSON'
                            WHEN pg_catalog.jsonb_typeof(v_answer #> '{choices,0,message,refusal}') = 'string' THEN 'the language model refused the request'
                            ELSE 'the language model''s answer has no message content' END));
    END IF;
    IF pg_catalog.jsonb_typeof(v_answer -> 'model') = 'string' THEN
        v_model := pg_catalog.left(v_answer ->> 'model', 100);
    END IF;
    -- a Markdown code fence around the JSON, which some models add despite the instruction
    v_content := pg_catalog.regexp_replace(v_content, '^\s*```[A-Za-z]*\s*|\s*```\s*$', '', 'g');
    BEGIN
        v_obj := v_content::jsonb;
    EXCEPTION WHEN data_exception THEN
        v_obj := NULL;
    END;
    IF pg_catalog.jsonb_typeof(v_obj) IS DISTINCT FROM 'object' THEN
        RETURN pg_catalog.jsonb_build_object('reason', pg_catalog.jsonb_build_object('code', 'invalid_answer',
            'message', CASE WHEN v_answer #>> '{choices,0,finish_reason}' = 'length' THEN 'the language model''s answer was cut off'
                            ELSE 'the language model''s message is not a JSON object' END));
    END IF;
    IF pg_catalog.jsonb_typeof(v_obj -> 'graph') = 'object' THEN
        v_graph := v_obj -> 'graph';
    ELSIF v_obj ? 'nodes' THEN
        v_graph := pg_catalog.jsonb_build_object('nodes', v_obj -> 'nodes', 'edges', COALESCE(v_obj -> 'edges', '[]'));
    ELSE
        RETURN pg_catalog.jsonb_build_object('reason', pg_catalog.jsonb_build_object('code', 'invalid_answer',
            'message', 'the language model''s answer has no graph'));
    END IF;
    -- meta is free for a builder: ours says who made the graph
    v_graph := (v_graph - 'meta') || pg_catalog.jsonb_build_object('meta', pg_catalog.jsonb_strip_nulls(
        pg_catalog.jsonb_build_object('generator', 'vix-llm', 'model', v_model, 'version', 1)));

    IF pg_catalog.jsonb_typeof(v_obj -> 'instrument') = 'string' THEN
        SELECT i.symbol INTO v_instr FROM ex7.instruments i
         WHERE i.active AND i.symbol = pg_catalog.upper(pg_catalog.btrim(v_obj ->> 'instrument'));
    END IF;
    IF v_instr IS NULL THEN
        RETURN pg_catalog.jsonb_build_object('reason', pg_catalog.jsonb_build_object('code', 'invalid_answer',
            'message', pg_catalog.format('the language model named no active instrument (%s)',
                                         pg_catalog.left(COALESCE(v_obj ->> 'instrument', 'none'), 20))));
    END IF;
    v_tf := pg_catalog.lower(pg_catalog.btrim(v_obj ->> 'timeframe'));
    IF pg_catalog.jsonb_typeof(v_obj -> 'timeframe') IS DISTINCT FROM 'string' OR v_tf <> ALL (c_timeframes) THEN
        RETURN pg_catalog.jsonb_build_object('reason', pg_catalog.jsonb_build_object('code', 'invalid_answer',
            'message', pg_catalog.format('the language model named no timeframe of %s (%s)', pg_catalog.array_to_string(c_timeframes, ' '),
                                         pg_catalog.left(COALESCE(v_obj ->> 'timeframe', 'none'), 20))));
    END IF;

    -- the engine's validator has the last word here too (a model's answer is validated like any graph)
    BEGIN
        v_check := ex7.validate_graph(v_graph, '["graph"]');
    EXCEPTION WHEN SQLSTATE 'X7422' THEN
        GET STACKED DIAGNOSTICS v_msg = MESSAGE_TEXT, v_detail = PG_EXCEPTION_DETAIL;
        BEGIN
            RETURN pg_catalog.jsonb_build_object('reason', pg_catalog.jsonb_build_object('code', 'invalid_graph',
                'message', 'the engine refused the language model''s graph: ' || v_msg, 'detail', v_detail::jsonb));
        EXCEPTION WHEN data_exception THEN
            RETURN pg_catalog.jsonb_build_object('reason', pg_catalog.jsonb_build_object('code', 'invalid_graph',
                'message', 'the engine refused the language model''s graph: ' || v_msg));
        END;
    END;
    IF pg_catalog.jsonb_array_length(v_check -> 'entries') = 0 THEN
        RETURN pg_catalog.jsonb_build_object('reason', pg_catalog.jsonb_build_object('code', 'invalid_graph',
            'message', 'the language model''s graph has no entry'));
    END IF;

    -- the words: the model's, cut to the strategy fields' sizes, without control characters
    IF pg_catalog.jsonb_typeof(v_obj -> 'name') = 'string' THEN
        v_name := NULLIF(pg_catalog.btrim(pg_catalog.regexp_replace(v_obj ->> 'name', '[[:cntrl:]]+', ' ', 'g')), '');
    END IF;
    v_name := COALESCE(v_name, pg_catalog.btrim(pg_catalog.regexp_replace(pg_catalog.left(p_prompt, 80), '[[:cntrl:]]+', ' ', 'g')));
    v_name := pg_catalog.left(CASE WHEN v_name ILIKE 'vix:%' THEN v_name ELSE 'Vix: ' || v_name END, 120);
    IF pg_catalog.jsonb_typeof(v_obj -> 'summary') = 'string' THEN
        v_summary := NULLIF(pg_catalog.btrim(pg_catalog.left(v_obj ->> 'summary', 2000)), '');
    END IF;
    RETURN pg_catalog.jsonb_build_object('check', v_check, 'gen', pg_catalog.jsonb_build_object(
        'graph', v_graph,
        'summary', COALESCE(v_summary, 'A strategy a language model built from the request; the engine validated its graph.'),
        'assumptions', COALESCE((SELECT pg_catalog.jsonb_agg(pg_catalog.left(a, 300) ORDER BY o)
                                   FROM pg_catalog.jsonb_array_elements(CASE WHEN pg_catalog.jsonb_typeof(v_obj -> 'assumptions') = 'array'
                                                                             THEN v_obj -> 'assumptions' ELSE '[]' END) WITH ORDINALITY AS x (j, o),
                                        LATERAL (SELECT j #>> '{}' AS a) y
                                  WHERE pg_catalog.jsonb_typeof(j) = 'string' AND o <= 20), '[]'),
        'understood', pg_catalog.jsonb_strip_nulls(pg_catalog.jsonb_build_object('instrument', v_instr, 'timeframe', v_tf, 'model', v_model)),
        'name', v_name,
        'instrument', v_instr,
        'timeframe', v_tf,
        'tags', '["vix", "llm"]'::jsonb));
END
$$;
COMMENT ON FUNCTION ex7._vix_llm_candidate(integer, text, text, text) IS
'Returns {gen, check} when a language model''s Chat Completions answer (HTTP p_status, body p_answer; p_error when there was none) holds a JSON object with a graph the engine accepts, with an entry, on an active instrument and a known timeframe; else {reason: {code: provider_timeout | provider_unreachable | provider_error | invalid_answer | invalid_graph, message, detail?}}. Never raises for what the provider sent.';

CREATE OR REPLACE FUNCTION ex7.vix_llm_result(p_user uuid, p_body jsonb, p_status integer, p_answer text,
                                              p_error text DEFAULT NULL,
                                              p_now timestamptz DEFAULT pg_catalog.statement_timestamp())
RETURNS jsonb
LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
    v_quota jsonb;
    v_cand jsonb;
    v_det jsonb;
    v_msg text;
    v_detail text;
BEGIN
    -- the checks again, under the lock this time: the quota may have gone while the model was thinking
    PERFORM ex7._lock_user(p_user);
    PERFORM ex7._vix_body(p_body);
    v_quota := ex7._vix_quota_check(p_user, p_now);
    PERFORM ex7._vix_prompt_check(p_body ->> 'prompt');

    v_cand := ex7._vix_llm_candidate(p_status, p_answer, p_error, p_body ->> 'prompt');
    IF v_cand ? 'gen' THEN
        RETURN ex7._vix_finish(p_user, p_body, v_cand -> 'gen', v_cand -> 'check', v_quota,
                               '{"generator": "llm"}', 'generated by Vix (language model) from: ');
    END IF;

    -- any failure of the model: the deterministic generator answers, and says why
    BEGIN
        v_det := ex7._vix_deterministic(p_body ->> 'prompt');
    EXCEPTION WHEN SQLSTATE 'X7422' THEN
        -- it cannot read the request either: its 422, with the model's failure in ctx
        GET STACKED DIAGNOSTICS v_msg = MESSAGE_TEXT, v_detail = PG_EXCEPTION_DETAIL;
        PERFORM ex7._raise(422, v_msg, (
            SELECT pg_catalog.jsonb_agg(CASE WHEN o = 1 THEN d || pg_catalog.jsonb_build_object('ctx',
                        COALESCE(d -> 'ctx', '{}') || pg_catalog.jsonb_build_object('fallback_reason', v_cand -> 'reason'))
                        ELSE d END ORDER BY o)
              FROM pg_catalog.jsonb_array_elements(v_detail::jsonb) WITH ORDINALITY AS a (d, o)));
    END;
    RETURN ex7._vix_finish(p_user, p_body, v_det -> 'gen', v_det -> 'check', v_quota,
                           pg_catalog.jsonb_build_object('generator', 'deterministic', 'fallback_reason', v_cand -> 'reason'),
                           'generated by Vix from: ');
END
$$;
COMMENT ON FUNCTION ex7.vix_llm_result(uuid, jsonb, integer, text, text, timestamptz) IS
'Returns the answer of POST /api/vix/generate-strategy (the shape of ex7.vix_generate) from a language model''s Chat Completions answer (HTTP status p_status and body p_answer, or p_error when none came: "timeout", "connect failed: ..."): generator "llm" when it holds a graph the engine accepts, else the deterministic generator''s with generator "deterministic" and fallback_reason {code, message, detail?}. Counts one generation in the same transaction; X7429 over the quota, X7422 for a bad body and, when the deterministic generator cannot read the request either, its 422 with ctx.fallback_reason.';
