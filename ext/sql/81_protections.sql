/* ext/sql/81_protections.sql: protections and their locks (docs/protections.md). A protection is a rule of
 * the user's that, after a close, may lock entries for a while: cooldown, stoploss_guard, max_drawdown,
 * low_profit. Which rule locks, and until when, is decided in C (ext/protect.c, ex7.protection_decide):
 * the backtest (ext/backtest.c) runs the same code. Locks block entries in their scope, never exits
 * (ex7._entry_lock, read by the gate in ex7._risk_state). Times are on the bar clock: a close's time is
 * the bar it closed on (signals.close_bar_ts), a lock's expiry is that plus its duration, and an entry is
 * judged at its bar (never later than now), so a replay of bars locks what the live run locked. */

CREATE OR REPLACE FUNCTION ex7.protection_decide(p_kind text, p_bars integer, p_trade_limit integer,
                                                 p_lookback interval, p_lock interval, p_threshold numeric,
                                                 p_bar interval, p_close_at timestamptz[], p_close_net numeric[],
                                                 p_close_stop boolean[],
                                                 OUT until timestamptz, OUT observed text, OUT "limit" text)
RETURNS record
AS 'MODULE_PATHNAME', 'protection_decide_sql'
LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION ex7.protection_decide(text, integer, integer, interval, interval, numeric, interval, timestamptz[], numeric[], boolean[]) IS
'Returns (until, observed, limit) of the lock protection p_kind writes after the last of the closes it watches (p_close_at oldest first, with their net P&L and whether each was a stop-out), or a NULL row when it does not lock. cooldown: p_bars bars of length p_bar; stoploss_guard: p_trade_limit stop-outs within p_lookback, the last close a stop-out; max_drawdown: a drawdown of the running net P&L >= p_threshold over at least p_trade_limit closes within p_lookback; low_profit: net P&L < p_threshold over at least p_trade_limit closes within p_lookback; the last three lock for p_lock. The one decision of ext/protect.c, which the backtest runs too.';

/* the defaults of a new protection's parameters (docs/protections.md, "Rules") */
CREATE OR REPLACE FUNCTION ex7._protection_defaults(p_kind text)
RETURNS jsonb
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
    SELECT CASE p_kind
        WHEN 'cooldown' THEN '{"bars": 2}'
        WHEN 'stoploss_guard' THEN '{"trade_limit": 3, "lookback_minutes": 60, "lock_minutes": 60}'
        WHEN 'max_drawdown' THEN '{"trade_limit": 1, "lookback_minutes": 1440, "lock_minutes": 720}'
        WHEN 'low_profit' THEN '{"trade_limit": 1, "lookback_minutes": 1440, "lock_minutes": 720, "min_profit": "0.00"}'
    END::jsonb;
$$;
COMMENT ON FUNCTION ex7._protection_defaults(text) IS
'Returns the default parameters of a protection kind: cooldown bars 2; stoploss_guard 3 stop-outs in 60 minutes lock 60; max_drawdown and low_profit 1 close, lookback 1440 minutes, lock 720 (min_profit 0.00; max_drawdown has no default).';

CREATE OR REPLACE FUNCTION ex7._protection_params(p_kind text)
RETURNS text[]
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
    SELECT CASE p_kind
        WHEN 'cooldown' THEN ARRAY['bars']
        WHEN 'stoploss_guard' THEN ARRAY['trade_limit', 'lookback_minutes', 'lock_minutes']
        WHEN 'max_drawdown' THEN ARRAY['trade_limit', 'lookback_minutes', 'lock_minutes', 'max_drawdown']
        WHEN 'low_profit' THEN ARRAY['trade_limit', 'lookback_minutes', 'lock_minutes', 'min_profit']
    END;
$$;
COMMENT ON FUNCTION ex7._protection_params(text) IS 'Returns the names of the parameters of a protection kind.';

CREATE OR REPLACE FUNCTION ex7._protection_json(p ex7.risk_protections)
RETURNS jsonb
LANGUAGE sql STABLE PARALLEL SAFE
AS $$
    SELECT pg_catalog.jsonb_build_object(
        'id', p.id, 'mode', p.mode, 'kind', p.kind,
        'scope', CASE WHEN p.strategy_id IS NOT NULL THEN 'strategy' WHEN p.instrument IS NOT NULL THEN 'instrument'
                      ELSE 'all' END,
        'strategy_id', p.strategy_id, 'instrument', p.instrument,
        'params', pg_catalog.jsonb_strip_nulls(pg_catalog.jsonb_build_object(
            'bars', p.bars, 'trade_limit', p.trade_limit, 'lookback_minutes', p.lookback_minutes,
            'lock_minutes', p.lock_minutes, 'max_drawdown', ex7._money_text(p.max_drawdown),
            'min_profit', ex7._money_text(p.min_profit))),
        'enabled', p.enabled, 'created_at', p.created_at, 'updated_at', p.updated_at);
$$;
COMMENT ON FUNCTION ex7._protection_json(ex7.risk_protections) IS
'Returns a protection as the API shows it: {id, mode, kind, scope (strategy, instrument or all), strategy_id, instrument, params: {the kind''s parameters}, enabled, created_at, updated_at}.';

/*
 * _protection_set: p with the keys of p_body applied, every bad key reported at once at ["body", key].
 * p_create: the body may also name kind, mode, strategy_id and instrument (fixed afterwards: a protection
 * of another scope is another protection). Parameters are top-level keys, as the JSON shows them under
 * params; a key that is not a parameter of the kind is refused.
 */
CREATE OR REPLACE FUNCTION ex7._protection_set(p ex7.risk_protections, p_body jsonb, p_create boolean)
RETURNS ex7.risk_protections
LANGUAGE plpgsql STABLE
AS $$
DECLARE
    errs jsonb := '[]';
    k text;
    v jsonb;
    v_num numeric;
    v_max integer;
    v_params text[];
    v_fixed text[] := ARRAY['kind', 'mode', 'strategy_id', 'instrument'];
BEGIN
    IF p_body IS NULL OR pg_catalog.jsonb_typeof(p_body) <> 'object' THEN
        PERFORM ex7._invalid('["body"]', 'body must be a JSON object', 'type_error.dict');
    END IF;
    IF p_create THEN
        IF NOT p_body ? 'kind' THEN
            PERFORM ex7._invalid('["body","kind"]', 'field required', 'value_error.missing');
        END IF;
        IF p_body ->> 'kind' IS NULL
           OR p_body ->> 'kind' NOT IN ('cooldown', 'stoploss_guard', 'max_drawdown', 'low_profit') THEN
            PERFORM ex7._invalid('["body","kind"]',
                                 'kind must be one of: cooldown, stoploss_guard, max_drawdown, low_profit',
                                 'value_error.enum');
        END IF;
        p.kind := p_body ->> 'kind';
        -- the kind's defaults under what the body gives
        p_body := ex7._protection_defaults(p.kind) || p_body;
    END IF;
    v_params := ex7._protection_params(p.kind);

    FOR k, v IN SELECT e.key, e.value FROM pg_catalog.jsonb_each(p_body) AS e ORDER BY e.key LOOP
        IF k = 'kind' AND p_create THEN
            CONTINUE;
        ELSIF k = ANY (v_fixed) AND NOT p_create THEN
            errs := errs || pg_catalog.jsonb_build_object('loc', pg_catalog.jsonb_build_array('body', k),
                'msg', k || ' cannot change; delete the protection and create another', 'type', 'value_error.const');
        ELSIF k = 'mode' THEN
            IF v #>> '{}' IS NULL OR pg_catalog.jsonb_typeof(v) <> 'string' OR v #>> '{}' NOT IN ('paper', 'live') THEN
                errs := errs || pg_catalog.jsonb_build_object('loc', '["body","mode"]'::jsonb,
                    'msg', 'mode must be one of: paper, live', 'type', 'value_error.enum');
            ELSE
                p.mode := v #>> '{}';
            END IF;
        ELSIF k = 'strategy_id' THEN
            IF pg_catalog.jsonb_typeof(v) = 'null' THEN
                p.strategy_id := NULL;
            ELSIF pg_catalog.jsonb_typeof(v) <> 'string'
                  OR (v #>> '{}') !~* '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$' THEN
                errs := errs || pg_catalog.jsonb_build_object('loc', '["body","strategy_id"]'::jsonb,
                    'msg', 'value is not a valid uuid', 'type', 'type_error.uuid');
            ELSIF NOT EXISTS (SELECT 1 FROM ex7.strategies t WHERE t.user_id = p.user_id
                                 AND t.id = (v #>> '{}')::uuid AND t.deleted_at IS NULL) THEN
                errs := errs || pg_catalog.jsonb_build_object('loc', '["body","strategy_id"]'::jsonb,
                    'msg', 'strategy not found', 'type', 'value_error.not_found');
            ELSE
                p.strategy_id := (v #>> '{}')::uuid;
            END IF;
        ELSIF k = 'instrument' THEN
            IF pg_catalog.jsonb_typeof(v) = 'null' THEN
                p.instrument := NULL;
            ELSIF pg_catalog.jsonb_typeof(v) <> 'string'
                  OR NOT EXISTS (SELECT 1 FROM ex7.instruments i WHERE i.symbol = pg_catalog.upper(v #>> '{}')) THEN
                errs := errs || pg_catalog.jsonb_build_object('loc', '["body","instrument"]'::jsonb,
                    'msg', 'unknown instrument', 'type', 'value_error.instrument');
            ELSE
                p.instrument := pg_catalog.upper(v #>> '{}');
            END IF;
        ELSIF k = 'enabled' THEN
            IF pg_catalog.jsonb_typeof(v) <> 'boolean' THEN
                errs := errs || pg_catalog.jsonb_build_object('loc', '["body","enabled"]'::jsonb,
                    'msg', 'value could not be parsed to a boolean', 'type', 'type_error.bool');
            ELSE
                p.enabled := (v #>> '{}')::boolean;
            END IF;
        ELSIF k = ANY (v_params) AND k IN ('bars', 'trade_limit', 'lookback_minutes', 'lock_minutes') THEN
            v_max := CASE WHEN k IN ('bars', 'trade_limit') THEN 1000 ELSE 525600 END;     -- a year of minutes
            IF pg_catalog.jsonb_typeof(v) = 'number' AND (v #>> '{}')::numeric = pg_catalog.trunc((v #>> '{}')::numeric)
               AND (v #>> '{}')::numeric BETWEEN 1 AND v_max THEN
                v_num := (v #>> '{}')::numeric;
                CASE k
                    WHEN 'bars' THEN p.bars := v_num;
                    WHEN 'trade_limit' THEN p.trade_limit := v_num;
                    WHEN 'lookback_minutes' THEN p.lookback_minutes := v_num;
                    ELSE p.lock_minutes := v_num;
                END CASE;
            ELSE
                errs := errs || pg_catalog.jsonb_build_object('loc', pg_catalog.jsonb_build_array('body', k),
                    'msg', pg_catalog.format('%s must be an integer between 1 and %s', k, v_max),
                    'type', 'value_error.number.range');
            END IF;
        ELSIF k = ANY (v_params) AND k IN ('max_drawdown', 'min_profit') THEN
            -- money: a JSON number or a decimal string, at most 2 decimals
            v_num := CASE WHEN pg_catalog.jsonb_typeof(v) = 'number'
                                   OR (pg_catalog.jsonb_typeof(v) = 'string' AND (v #>> '{}') ~ '^-?[0-9]{1,9}(\.[0-9]+)?$')
                          THEN (v #>> '{}')::numeric END;
            IF v_num IS NOT NULL AND pg_catalog.scale(v_num) <= 2 AND pg_catalog.abs(v_num) <= 1000000
               AND (k = 'min_profit' OR v_num > 0) THEN
                IF k = 'max_drawdown' THEN
                    p.max_drawdown := (v #>> '{}')::numeric;
                ELSE
                    p.min_profit := (v #>> '{}')::numeric;
                END IF;
            ELSE
                errs := errs || pg_catalog.jsonb_build_object('loc', pg_catalog.jsonb_build_array('body', k),
                    'msg', CASE k WHEN 'max_drawdown' THEN 'max_drawdown must be money greater than 0 and at most 1000000, with at most 2 decimals'
                                  ELSE 'min_profit must be money between -1000000 and 1000000, with at most 2 decimals' END,
                    'type', 'value_error.decimal');
            END IF;
        ELSE
            errs := errs || pg_catalog.jsonb_build_object('loc', pg_catalog.jsonb_build_array('body', k),
                'msg', CASE WHEN k IN ('bars', 'trade_limit', 'lookback_minutes', 'lock_minutes', 'max_drawdown',
                                       'min_profit')
                            THEN pg_catalog.format('%s is not a parameter of %s', k, p.kind)
                            ELSE 'extra fields not permitted' END,
                'type', 'value_error.extra');
        END IF;
    END LOOP;
    IF p_create AND p.kind = 'max_drawdown' AND p.max_drawdown IS NULL AND NOT p_body ? 'max_drawdown' THEN
        errs := errs || '{"loc": ["body", "max_drawdown"], "msg": "field required", "type": "value_error.missing"}'::jsonb;
    END IF;
    IF p.strategy_id IS NOT NULL AND p.instrument IS NOT NULL THEN
        errs := errs || '{"loc": ["body", "instrument"], "msg": "a protection has one scope: a strategy or an instrument, not both", "type": "value_error.scope"}'::jsonb;
    END IF;
    IF pg_catalog.jsonb_array_length(errs) > 0 THEN
        PERFORM ex7._raise(422, 'invalid protection', errs);
    END IF;
    RETURN p;
END
$$;
COMMENT ON FUNCTION ex7._protection_set(ex7.risk_protections, jsonb, boolean) IS
'Returns protection p with the keys of p_body applied (p_create: also kind, mode, strategy_id, instrument, over the kind''s defaults). Raises X7422 listing every bad key at ["body", key].';

CREATE OR REPLACE FUNCTION ex7._protections_max()
RETURNS integer
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT 20 $$;
COMMENT ON FUNCTION ex7._protections_max() IS 'Returns 20: the protections a user may have (both modes together).';

CREATE OR REPLACE FUNCTION ex7.create_protection(p_user uuid, p_body jsonb)
RETURNS jsonb
LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
    p ex7.risk_protections;
BEGIN
    IF p_user IS NULL THEN
        PERFORM ex7._raise(401, 'acting user is required');
    END IF;
    p.user_id := p_user;
    p.mode := 'paper';
    p.enabled := true;
    p := ex7._protection_set(p, p_body, true);
    -- the user row lock: the count below and the insert are one step against a concurrent create
    PERFORM ex7._lock_user(p_user);
    IF (SELECT count(*) FROM ex7.risk_protections x WHERE x.user_id = p_user) >= ex7._protections_max() THEN
        PERFORM ex7._raise(409, pg_catalog.format('a user may have at most %s protections', ex7._protections_max()),
                           pg_catalog.jsonb_build_object('code', 'protections_limit', 'limit', ex7._protections_max()));
    END IF;
    INSERT INTO ex7.risk_protections (user_id, mode, kind, strategy_id, instrument, bars, trade_limit,
                                      lookback_minutes, lock_minutes, max_drawdown, min_profit, enabled)
    VALUES (p_user, p.mode, p.kind, p.strategy_id, p.instrument, p.bars, p.trade_limit, p.lookback_minutes,
            p.lock_minutes, p.max_drawdown, p.min_profit, p.enabled)
    RETURNING * INTO p;
    RETURN ex7._protection_json(p);
END
$$;
COMMENT ON FUNCTION ex7.create_protection(uuid, jsonb) IS
'Returns the new protection (POST /api/risk/protections, 201). Body {kind, mode (paper), strategy_id or instrument (neither: all of the mode''s trading), the kind''s parameters (defaults in ex7._protection_defaults), enabled}. X7422 listing every bad key; X7409 protections_limit beyond 20.';

CREATE OR REPLACE FUNCTION ex7.list_protections(p_user uuid, p_mode text DEFAULT NULL)
RETURNS jsonb
LANGUAGE plpgsql STABLE
AS $$
BEGIN
    IF p_user IS NULL THEN
        PERFORM ex7._raise(401, 'acting user is required');
    END IF;
    IF p_mode IS NOT NULL THEN
        PERFORM ex7._check_trade_mode(p_mode, '["query","mode"]');
    END IF;
    RETURN pg_catalog.jsonb_build_object('items', coalesce(
        (SELECT pg_catalog.jsonb_agg(ex7._protection_json(ROW(x.*)::ex7.risk_protections) ORDER BY x.created_at, x.id)
           FROM ex7.risk_protections x
          WHERE x.user_id = p_user AND (p_mode IS NULL OR x.mode = p_mode::ex7.trade_mode)), '[]'));
END
$$;
COMMENT ON FUNCTION ex7.list_protections(uuid, text) IS
'Returns {items}: the user''s protections, oldest first, of one mode or both (GET /api/risk/protections). X7422 for a mode other than paper or live.';

CREATE OR REPLACE FUNCTION ex7._protection_get(p_user uuid, p_id uuid)
RETURNS ex7.risk_protections
LANGUAGE plpgsql STABLE
AS $$
DECLARE
    p ex7.risk_protections;
BEGIN
    IF p_user IS NULL THEN
        PERFORM ex7._raise(401, 'acting user is required');
    END IF;
    SELECT * INTO p FROM ex7.risk_protections x WHERE x.user_id = p_user AND x.id = p_id;
    IF NOT FOUND THEN
        PERFORM ex7._raise(404, 'protection not found');
    END IF;
    RETURN p;
END
$$;
COMMENT ON FUNCTION ex7._protection_get(uuid, uuid) IS 'Returns the user''s protection p_id; X7404 when it is not the user''s.';

CREATE OR REPLACE FUNCTION ex7.get_protection(p_user uuid, p_id uuid)
RETURNS jsonb
LANGUAGE sql STABLE
AS $$ SELECT ex7._protection_json(ex7._protection_get(p_user, p_id)) $$;
COMMENT ON FUNCTION ex7.get_protection(uuid, uuid) IS
'Returns one of the user''s protections (GET /api/risk/protections/{id}); X7404 when it is not the user''s.';

CREATE OR REPLACE FUNCTION ex7.update_protection(p_user uuid, p_id uuid, p_body jsonb)
RETURNS jsonb
LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
    p ex7.risk_protections;
BEGIN
    PERFORM ex7._lock_user(p_user);
    p := ex7._protection_set(ex7._protection_get(p_user, p_id), p_body, false);
    UPDATE ex7.risk_protections x
       SET bars = p.bars, trade_limit = p.trade_limit, lookback_minutes = p.lookback_minutes,
           lock_minutes = p.lock_minutes, max_drawdown = p.max_drawdown, min_profit = p.min_profit,
           enabled = p.enabled, updated_at = pg_catalog.now()
     WHERE x.user_id = p_user AND x.id = p_id
    RETURNING * INTO p;
    RETURN ex7._protection_json(p);
END
$$;
COMMENT ON FUNCTION ex7.update_protection(uuid, uuid, jsonb) IS
'Returns the protection after changing its parameters or enabled (PATCH /api/risk/protections/{id}); kind, mode and scope are fixed (X7422 value_error.const). Locks it wrote stay. X7404 when not the user''s.';

CREATE OR REPLACE FUNCTION ex7.delete_protection(p_user uuid, p_id uuid)
RETURNS void
LANGUAGE plpgsql VOLATILE
AS $$
BEGIN
    IF p_user IS NULL THEN
        PERFORM ex7._raise(401, 'acting user is required');
    END IF;
    PERFORM ex7._lock_user(p_user);
    DELETE FROM ex7.risk_protections x WHERE x.user_id = p_user AND x.id = p_id;
    IF NOT FOUND THEN
        PERFORM ex7._raise(404, 'protection not found');
    END IF;
END
$$;
COMMENT ON FUNCTION ex7.delete_protection(uuid, uuid) IS
'Returns nothing (204) after deleting the protection; the locks it wrote stay until they expire or are lifted. X7404 when not the user''s.';

/* ---------------------------------------------------------------------------------------------------
 * Locks.
 * ------------------------------------------------------------------------------------------------- */
CREATE OR REPLACE FUNCTION ex7._lock_json(l ex7.risk_locks)
RETURNS jsonb
LANGUAGE sql STABLE PARALLEL SAFE
AS $$
    SELECT pg_catalog.jsonb_build_object(
        'id', l.id, 'mode', l.mode, 'kind', l.kind, 'protection_id', l.protection_id,
        'scope', CASE WHEN l.strategy_id IS NOT NULL THEN 'strategy' WHEN l.instrument IS NOT NULL THEN 'instrument'
                      ELSE 'all' END,
        'strategy_id', l.strategy_id, 'instrument', l.instrument,
        'reason', l.kind || '_locked', 'observed', l.observed, 'limit', l."limit", 'signal_id', l.signal_id,
        'locked_at', l.locked_at, 'until', l.until, 'created_at', l.created_at, 'lifted_at', l.lifted_at,
        'active', l.lifted_at IS NULL AND l.until > pg_catalog.now());
$$;
COMMENT ON FUNCTION ex7._lock_json(ex7.risk_locks) IS
'Returns a lock as the API shows it: {id, mode, kind, protection_id, scope, strategy_id, instrument, reason (<kind>_locked), observed, limit, signal_id (the close that triggered it), locked_at, until, created_at, lifted_at, active (not lifted and until in the future)}.';

/*
 * _entry_lock: the lock that refuses an entry of the strategy p_strategy_id on p_instrument at p_at (the
 * bar clock), the one expiring last when several do; NULL when none. risk_locks_active_idx.
 */
CREATE OR REPLACE FUNCTION ex7._entry_lock(p_user uuid, p_mode text, p_strategy_id uuid, p_instrument text,
                                           p_at timestamptz)
RETURNS ex7.risk_locks
LANGUAGE plpgsql STABLE
AS $$
DECLARE
    l ex7.risk_locks;
BEGIN
    SELECT * INTO l FROM ex7.risk_locks x
     WHERE x.user_id = p_user AND x.mode = p_mode::ex7.trade_mode AND x.lifted_at IS NULL AND x.until > p_at
       AND (x.strategy_id IS NULL OR x.strategy_id = p_strategy_id)
       AND (x.instrument IS NULL OR x.instrument = p_instrument)
     ORDER BY x.until DESC, x.id
     LIMIT 1;
    RETURN l;
END
$$;
COMMENT ON FUNCTION ex7._entry_lock(uuid, text, uuid, text, timestamptz) IS
'Returns the user''s unlifted lock of the mode that refuses an entry of the strategy on the instrument at p_at (the one expiring last), or a NULL row.';

/* the alert of a lock (docs/alerts.md): the lock, its scope and how long */
CREATE OR REPLACE FUNCTION ex7._alert_lock(l ex7.risk_locks)
RETURNS void
LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
    v_scope text := CASE WHEN l.strategy_id IS NOT NULL THEN ex7._alert_strategy_name(l.user_id, l.strategy_id)
                         WHEN l.instrument IS NOT NULL THEN l.instrument ELSE 'all trading' END;
BEGIN
    PERFORM ex7._alert_event(l.user_id, 'risk_lock', l.strategy_id, 'risk_lock:' || l.id,
        pg_catalog.jsonb_build_object(
            'title', pg_catalog.format('Locked: %s (%s)', v_scope, l.kind),
            'text', pg_catalog.format('Protection %s locked new entries of %s (%s) until %s (observed %s, limit %s). Exits go on.',
                                      l.kind, v_scope, l.mode, ex7._utc_text(l.until), coalesce(l.observed, '-'),
                                      coalesce(l."limit", '-')),
            'action_url', '/risk',
            'data', pg_catalog.jsonb_build_object('lock', ex7._lock_json(l))));
END
$$;
COMMENT ON FUNCTION ex7._alert_lock(ex7.risk_locks) IS
'Returns nothing: the alert event (notification and outbox rows) of a lock a protection wrote.';

/*
 * _protections_after_close: after the close of signal s (the caller holds the user row lock), every
 * enabled protection of the user and mode whose scope holds s reads its closes on the bar clock and
 * ex7.protection_decide says whether it locks. A lock is written unless an unlifted lock of the same
 * protection and scope already lasts as long; it is an event on the stream (risk_lock) and an alert.
 * The lock's scope is the protection's, but a cooldown without an instrument scope locks the strategy
 * that exited (a cooldown is about the trade that just ended, freqtrade's CooldownPeriod locks its pair).
 */
CREATE OR REPLACE FUNCTION ex7._protections_after_close(s ex7.signals)
RETURNS integer
LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
    v_at timestamptz := coalesce(s.close_bar_ts, s.closed_at);
    v_bar interval := ex7._timeframe_interval(s.timeframe);
    d record;
    v_strategy uuid;
    l ex7.risk_locks;
    v_n integer := 0;
BEGIN
    -- One statement for every protection (a close is on the dispatcher's path: docs/performance.md): each
    -- enabled protection of the user and mode whose scope holds the signal, the closes of its scope within
    -- its lookback, oldest first with the close just made last (a cooldown reads that close alone), and
    -- ex7.protection_decide's verdict; only the ones that lock come back.
    FOR d IN
        SELECT p.id, p.kind, p.strategy_id, p.instrument, x.until, x.observed, x."limit"
          FROM ex7.risk_protections p
          CROSS JOIN LATERAL (
                SELECT pg_catalog.array_agg(y.close_bar_ts ORDER BY y.close_bar_ts, y.id = s.id, y.closed_at, y.id) AS ts,
                       pg_catalog.array_agg(coalesce(y.net_pnl, 0) ORDER BY y.close_bar_ts, y.id = s.id, y.closed_at, y.id) AS net,
                       pg_catalog.array_agg(y.close_reason = 'stop_loss' ORDER BY y.close_bar_ts, y.id = s.id, y.closed_at, y.id) AS stop
                  FROM ex7.signals y
                 WHERE p.kind <> 'cooldown'
                   AND y.user_id = s.user_id AND y.mode = s.mode AND y.status <> 'open'
                   AND y.close_bar_ts > v_at - pg_catalog.make_interval(mins => p.lookback_minutes)
                   AND y.close_bar_ts <= v_at
                   AND (p.strategy_id IS NULL OR y.strategy_id = p.strategy_id)
                   AND (p.instrument IS NULL OR y.instrument = p.instrument)) AS w
          CROSS JOIN LATERAL ex7.protection_decide(
                p.kind, p.bars, p.trade_limit, pg_catalog.make_interval(mins => p.lookback_minutes),
                pg_catalog.make_interval(mins => p.lock_minutes), coalesce(p.max_drawdown, p.min_profit),
                v_bar,
                CASE WHEN p.kind = 'cooldown' THEN ARRAY[v_at] ELSE w.ts END,
                CASE WHEN p.kind = 'cooldown' THEN ARRAY[coalesce(s.net_pnl, 0)] ELSE w.net END,
                CASE WHEN p.kind = 'cooldown' THEN ARRAY[s.close_reason = 'stop_loss'] ELSE w.stop END) AS x
         WHERE p.user_id = s.user_id AND p.mode = s.mode AND p.enabled
           AND (p.strategy_id IS NULL OR p.strategy_id = s.strategy_id)
           AND (p.instrument IS NULL OR p.instrument = s.instrument)
           -- a stop-loss guard locks only on a stop-out (ext/protect.c): no window to read otherwise
           AND (p.kind <> 'stoploss_guard' OR s.close_reason = 'stop_loss')
           AND x.until IS NOT NULL
         ORDER BY p.created_at, p.id
    LOOP
        v_strategy := CASE WHEN d.kind = 'cooldown' AND d.instrument IS NULL THEN s.strategy_id ELSE d.strategy_id END;
        CONTINUE WHEN EXISTS (SELECT 1 FROM ex7.risk_locks k
                               WHERE k.user_id = s.user_id AND k.mode = s.mode AND k.lifted_at IS NULL
                                 AND k.until >= d.until AND k.protection_id = d.id
                                 AND k.strategy_id IS NOT DISTINCT FROM v_strategy
                                 AND k.instrument IS NOT DISTINCT FROM d.instrument);
        INSERT INTO ex7.risk_locks (user_id, mode, protection_id, kind, strategy_id, instrument, locked_at, until,
                                    observed, "limit", signal_id)
        VALUES (s.user_id, s.mode, d.id, d.kind, v_strategy, d.instrument, v_at, d.until, d.observed, d."limit", s.id)
        RETURNING * INTO l;
        PERFORM ex7._emit_event(s.user_id, 'risk_lock', NULL, v_strategy, ex7._lock_json(l));
        PERFORM ex7._alert_lock(l);
        v_n := v_n + 1;
    END LOOP;
    RETURN v_n;
END
$$;
COMMENT ON FUNCTION ex7._protections_after_close(ex7.signals) IS
'Returns how many locks the close of signal s wrote: each enabled protection of its user and mode whose scope holds it decides through ex7.protection_decide on the closes of its lookback (bar clock, signals.close_bar_ts); a lock is an event (risk_lock) and an alert. The caller holds the user row lock.';

/*
 * list_locks: GET /api/risk/locks, newest first by (created_at, id), keyset pages. p_state: active (the
 * default: not lifted, not expired), or all.
 */
CREATE OR REPLACE FUNCTION ex7.list_locks(p_user uuid, p_mode text DEFAULT NULL, p_state text DEFAULT 'active',
                                          p_cursor text DEFAULT NULL, p_limit integer DEFAULT 50)
RETURNS jsonb
LANGUAGE plpgsql STABLE
AS $$
DECLARE
    v_limit integer := ex7._check_limit(p_limit);
    v_ts timestamptz := 'infinity';
    v_id uuid := 'ffffffff-ffff-ffff-ffff-ffffffffffff';
    v_items jsonb;
    v_n integer;
BEGIN
    IF p_user IS NULL THEN
        PERFORM ex7._raise(401, 'acting user is required');
    END IF;
    IF p_mode IS NOT NULL THEN
        PERFORM ex7._check_trade_mode(p_mode, '["query","mode"]');
    END IF;
    IF p_state IS NULL OR p_state NOT IN ('active', 'all') THEN
        PERFORM ex7._invalid('["query","state"]', 'state must be one of: active, all', 'value_error.enum');
    END IF;
    IF p_cursor IS NOT NULL THEN
        SELECT c.ts, c.id::uuid INTO v_ts, v_id FROM ex7.cursor_decode('risk_locks', p_user, p_cursor) c;
    END IF;
    SELECT pg_catalog.jsonb_agg(ex7._lock_json(ROW(l.*)::ex7.risk_locks) ORDER BY l.created_at DESC, l.id DESC), count(*)
      INTO v_items, v_n
      FROM (SELECT x.* FROM ex7.risk_locks x
             WHERE x.user_id = p_user AND (x.created_at, x.id) < (v_ts, v_id)
               AND (p_mode IS NULL OR x.mode = p_mode::ex7.trade_mode)
               AND (p_state = 'all' OR (x.lifted_at IS NULL AND x.until > pg_catalog.now()))
             ORDER BY x.created_at DESC, x.id DESC
             LIMIT v_limit + 1) l;
    RETURN ex7._keyset_page(v_items, v_n, v_limit, 'risk_locks', p_user, 'created_at');
END
$$;
COMMENT ON FUNCTION ex7.list_locks(uuid, text, text, text, integer) IS
'Returns {items, next_cursor}: the user''s locks newest first (GET /api/risk/locks), active ones (state active, the default) or all, of one mode or both. X7422 for a bad mode, state, cursor or limit (1..200).';

CREATE OR REPLACE FUNCTION ex7.lift_lock(p_user uuid, p_id uuid)
RETURNS jsonb
LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
    l ex7.risk_locks;
BEGIN
    IF p_user IS NULL THEN
        PERFORM ex7._raise(401, 'acting user is required');
    END IF;
    -- the user row lock: a fire judging this lock runs before or after, never half
    PERFORM ex7._lock_user(p_user);
    SELECT * INTO l FROM ex7.risk_locks x WHERE x.user_id = p_user AND x.id = p_id;
    IF NOT FOUND THEN
        PERFORM ex7._raise(404, 'lock not found');
    END IF;
    IF l.lifted_at IS NOT NULL OR l.until <= pg_catalog.now() THEN
        PERFORM ex7._raise(409, 'lock is not active',
                           pg_catalog.jsonb_build_object('code', 'lock_not_active', 'lock', ex7._lock_json(l)));
    END IF;
    UPDATE ex7.risk_locks x SET lifted_at = pg_catalog.now()
     WHERE x.user_id = p_user AND x.id = p_id
    RETURNING * INTO l;
    RETURN ex7._lock_json(l);
END
$$;
COMMENT ON FUNCTION ex7.lift_lock(uuid, uuid) IS
'Returns the lock after lifting it early (DELETE /api/risk/locks/{id}): entries in its scope pass again. X7404 when not the user''s; X7409 lock_not_active when already lifted or expired.';
