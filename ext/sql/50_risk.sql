/* ext/sql/50_risk.sql: the risk gate. Limits per user and mode, the state the breakers read (realized
 * P&L, trades and consecutive losses of the trading day, open positions), the report behind GET
 * /api/risk, and the record of refusals behind GET /api/risk/blocked. Which breaker trips is decided in
 * C (ext/risk.c, ex7.risk_decide); docs/risk.md explains the rules.
 *
 * Pools: "Paper losses do NOT consume live slots and vice versa" (ex7-api-reference.txt, Get Risk):
 * every query below is scoped by (user_id, mode). */

/* ---------------------------------------------------------------------------------------------------
 * The trading day. CME Globex equity futures trade Sunday 18:00 to Friday 17:00 America/New_York with a
 * daily break 17:00-18:00; the trading day starts at 18:00 New York time (facts.md, CME contract specs).
 * ------------------------------------------------------------------------------------------------- */

-- STABLE, not IMMUTABLE: the result depends on the time zone rules of the server's tz database, which
-- an update of the tz data can change.
CREATE OR REPLACE FUNCTION ex7.trading_day_start(p_at timestamptz)
RETURNS timestamptz
LANGUAGE sql STABLE STRICT PARALLEL SAFE
AS $$
    -- Computed on the New York wall clock, so the start stays at 18:00 local across DST changes (the
    -- trading day that contains a change lasts 23 or 25 hours). 18:00 exists on every calendar day:
    -- the US changes clocks at 02:00.
    SELECT pg_catalog.timezone('America/New_York',
               pg_catalog.date_trunc('day', l.t) + interval '18 hours'
               - CASE WHEN l.t::time < time '18:00' THEN interval '1 day' ELSE interval '0' END)
      FROM (SELECT pg_catalog.timezone('America/New_York', p_at) AS t) AS l;
$$;
COMMENT ON FUNCTION ex7.trading_day_start(timestamptz) IS
'Returns the start of the CME Globex trading day that contains p_at: the latest 18:00 America/New_York at or before p_at. Independent of the session TimeZone.';

/* ---------------------------------------------------------------------------------------------------
 * Decimal rendering shared by the risk JSON: money as a string with at least two decimals, the same
 * rule as ext/risk.c money_text ("-500.00").
 * ------------------------------------------------------------------------------------------------- */
CREATE OR REPLACE FUNCTION ex7._money_text(p_value numeric)
RETURNS text
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
AS $$
    SELECT CASE WHEN pg_catalog.scale(p_value) < 2 THEN pg_catalog.round(p_value, 2)::text
                ELSE p_value::text END;
$$;
COMMENT ON FUNCTION ex7._money_text(numeric) IS
'Returns p_value as text with at least two decimals (500 -> ''500.00''); never rounds digits away.';

/* ---------------------------------------------------------------------------------------------------
 * The decision (ext/risk.c).
 * ------------------------------------------------------------------------------------------------- */
CREATE OR REPLACE FUNCTION ex7.risk_decide(p_daily_loss_limit numeric, p_max_trades_per_day integer,
                                p_max_open_positions integer, p_max_consecutive_losses integer,
                                p_realized_pnl numeric, p_trades_today bigint, p_open_positions bigint,
                                p_consecutive_losses bigint)
RETURNS jsonb
AS 'MODULE_PATHNAME', 'risk_decide'
LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION ex7.risk_decide(numeric, integer, integer, integer, numeric, bigint, bigint, bigint) IS
'Returns {breaker, reason, observed, limit} of the first breaker that trips (daily_loss_limit, max_trades_per_day, max_open_positions, max_consecutive_losses, in that order; each at its limit inclusive), or NULL when trading is allowed. Raises an error for a NULL, NaN or negative input (the gate fails closed).';

/* ---------------------------------------------------------------------------------------------------
 * Limits. A missing row means the column defaults of ex7.risk_limits (ext/sql/10_schema.sql); the
 * defaults are repeated in _risk_limits below and sql/risk.sql checks that both agree.
 * ------------------------------------------------------------------------------------------------- */
CREATE OR REPLACE FUNCTION ex7._risk_limits(p_user uuid, p_mode text)
RETURNS ex7.risk_limits
LANGUAGE plpgsql STABLE
AS $$
DECLARE
    r ex7.risk_limits;
BEGIN
    SELECT * INTO r FROM ex7.risk_limits l WHERE l.user_id = p_user AND l.mode = p_mode;
    IF NOT FOUND THEN
        -- the column defaults of ex7.risk_limits (10_schema.sql); updated_at NULL marks "no row"
        r.user_id := p_user;
        r.mode := p_mode;
        r.daily_loss_limit := 500.00;
        r.max_trades_per_day := 20;
        r.max_open_positions := 3;
        r.max_consecutive_losses := 5;
    END IF;
    RETURN r;
END
$$;
COMMENT ON FUNCTION ex7._risk_limits(uuid, text) IS
'Returns the risk_limits row of (p_user, p_mode), or one filled with the column defaults (updated_at NULL) when the user has set none.';

CREATE OR REPLACE FUNCTION ex7._risk_limits_json(r ex7.risk_limits)
RETURNS jsonb
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
    SELECT pg_catalog.jsonb_build_object(
        'daily_loss_limit', ex7._money_text(r.daily_loss_limit),
        'max_trades_per_day', r.max_trades_per_day,
        'max_open_positions', r.max_open_positions,
        'max_consecutive_losses', r.max_consecutive_losses);
$$;
COMMENT ON FUNCTION ex7._risk_limits_json(ex7.risk_limits) IS
'Returns the four limits of a risk_limits row as {daily_loss_limit: "500.00", max_trades_per_day, max_open_positions, max_consecutive_losses}.';

CREATE OR REPLACE FUNCTION ex7._check_trade_mode(p_mode text, p_loc jsonb)
RETURNS text
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
AS $$
BEGIN
    -- "Mode: validated against {'paper', 'live'}, 422 on anything else" (ex7-api-reference.txt, Get Risk)
    IF p_mode IS NULL OR p_mode NOT IN ('paper', 'live') THEN
        PERFORM ex7._invalid(p_loc, 'mode must be one of: paper, live', 'value_error.enum');
    END IF;
    RETURN p_mode;
END
$$;
COMMENT ON FUNCTION ex7._check_trade_mode(text, jsonb) IS
'Returns p_mode when it is paper or live; raises X7422 at p_loc otherwise.';

CREATE OR REPLACE FUNCTION ex7.get_risk_limits(p_user uuid, p_mode text)
RETURNS jsonb
LANGUAGE plpgsql STABLE
AS $$
DECLARE
    r ex7.risk_limits;
BEGIN
    IF p_user IS NULL THEN
        PERFORM ex7._raise(401, 'acting user is required');
    END IF;
    PERFORM ex7._check_trade_mode(p_mode, '["query","mode"]');
    r := ex7._risk_limits(p_user, p_mode);
    RETURN ex7._risk_limits_json(r)
        || pg_catalog.jsonb_build_object('mode', p_mode, 'is_default', r.updated_at IS NULL,
                                         'updated_at', r.updated_at);
END
$$;
COMMENT ON FUNCTION ex7.get_risk_limits(uuid, text) IS
'Returns the user''s limits for one mode {mode, daily_loss_limit, max_trades_per_day, max_open_positions, max_consecutive_losses, is_default, updated_at}; the defaults when none were set. X7422 for a mode other than paper or live.';

/*
 * Upper bounds on the limits: ours (docs/risk.md, "Limits"), sanity caps so that a typo cannot disable
 * a breaker in practice; the lower bound 1 (0.01 for money) is the table's CHECK (> 0).
 */
CREATE OR REPLACE FUNCTION ex7.set_risk_limits(p_user uuid, p_mode text, p_limits jsonb)
RETURNS jsonb
LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
    cur ex7.risk_limits;
    errs jsonb := '[]';
    k text;
    v jsonb;
    v_loss numeric;
    v_int jsonb := '{}';
    v_num numeric;
    v_max integer;
BEGIN
    PERFORM ex7._check_trade_mode(p_mode, '["query","mode"]');
    IF p_limits IS NULL OR pg_catalog.jsonb_typeof(p_limits) <> 'object' THEN
        PERFORM ex7._invalid('["body"]', 'body must be a JSON object', 'type_error.dict');
    END IF;

    -- Validate every key and report every failure at once, the way FastAPI lists all its locators.
    FOR k, v IN SELECT e.key, e.value FROM pg_catalog.jsonb_each(p_limits) AS e ORDER BY e.key LOOP
        IF k = 'daily_loss_limit' THEN
            -- a JSON number or a decimal string ("500.00"), like a Pydantic Decimal field
            IF pg_catalog.jsonb_typeof(v) = 'number'
               OR (pg_catalog.jsonb_typeof(v) = 'string' AND (v #>> '{}') ~ '^[0-9]{1,9}(\.[0-9]+)?$') THEN
                v_num := (v #>> '{}')::numeric;
                IF v_num <= 0 OR v_num > 1000000 OR pg_catalog.scale(v_num) > 2 THEN
                    errs := errs || pg_catalog.jsonb_build_object('loc', pg_catalog.jsonb_build_array('body', k),
                        'msg', 'daily_loss_limit must be greater than 0 and at most 1000000, with at most 2 decimals',
                        'type', 'value_error.number.range');
                ELSE
                    v_loss := v_num;
                END IF;
            ELSE
                errs := errs || pg_catalog.jsonb_build_object('loc', pg_catalog.jsonb_build_array('body', k),
                    'msg', 'value is not a valid decimal', 'type', 'type_error.decimal');
            END IF;
        ELSIF k IN ('max_trades_per_day', 'max_open_positions', 'max_consecutive_losses') THEN
            v_max := CASE k WHEN 'max_trades_per_day' THEN 1000 ELSE 100 END;
            IF pg_catalog.jsonb_typeof(v) = 'number'
               AND (v #>> '{}')::numeric = pg_catalog.trunc((v #>> '{}')::numeric) THEN
                v_num := (v #>> '{}')::numeric;
                IF v_num < 1 OR v_num > v_max THEN
                    errs := errs || pg_catalog.jsonb_build_object('loc', pg_catalog.jsonb_build_array('body', k),
                        'msg', pg_catalog.format('%s must be between 1 and %s', k, v_max),
                        'type', 'value_error.number.range');
                ELSE
                    v_int := v_int || pg_catalog.jsonb_build_object(k, v_num::integer);
                END IF;
            ELSE
                errs := errs || pg_catalog.jsonb_build_object('loc', pg_catalog.jsonb_build_array('body', k),
                    'msg', 'value is not a valid integer', 'type', 'type_error.integer');
            END IF;
        ELSE
            errs := errs || pg_catalog.jsonb_build_object('loc', pg_catalog.jsonb_build_array('body', k),
                'msg', 'extra fields not permitted', 'type', 'value_error.extra');
        END IF;
    END LOOP;
    IF pg_catalog.jsonb_array_length(errs) > 0 THEN
        PERFORM ex7._raise(422, 'invalid risk limits', errs);
    END IF;

    -- The same lock as a fire: a concurrent gate check sees the old limits or the new ones, never half.
    PERFORM ex7._lock_user(p_user);
    cur := ex7._risk_limits(p_user, p_mode);
    INSERT INTO ex7.risk_limits AS l (user_id, mode, daily_loss_limit, max_trades_per_day, max_open_positions,
                                      max_consecutive_losses, updated_at)
    VALUES (p_user, p_mode,
            coalesce(v_loss, cur.daily_loss_limit),
            coalesce((v_int ->> 'max_trades_per_day')::integer, cur.max_trades_per_day),
            coalesce((v_int ->> 'max_open_positions')::integer, cur.max_open_positions),
            coalesce((v_int ->> 'max_consecutive_losses')::integer, cur.max_consecutive_losses),
            pg_catalog.now())
    ON CONFLICT (user_id, mode) DO UPDATE
       SET daily_loss_limit = EXCLUDED.daily_loss_limit,
           max_trades_per_day = EXCLUDED.max_trades_per_day,
           max_open_positions = EXCLUDED.max_open_positions,
           max_consecutive_losses = EXCLUDED.max_consecutive_losses,
           updated_at = EXCLUDED.updated_at;
    RETURN ex7.get_risk_limits(p_user, p_mode);
END
$$;
COMMENT ON FUNCTION ex7.set_risk_limits(uuid, text, jsonb) IS
'Returns the user''s limits for the mode after changing the keys given in p_limits (the others keep their value). Raises X7422 listing every bad key (["body", key]): daily_loss_limit 0 < x <= 1000000 with at most 2 decimals; max_trades_per_day 1..1000; max_open_positions and max_consecutive_losses 1..100; no other keys.';

/* ---------------------------------------------------------------------------------------------------
 * State and report.
 * ------------------------------------------------------------------------------------------------- */

/*
 * _risk_state: may raise; ex7._risk_check is the fail-closed wrapper every caller uses.
 *
 * consecutive_losses: the trailing run of losing closes (net_pnl < 0) among the mode's signals closed
 * since the trading-day start, newest first by (closed_at, id). A close with net_pnl >= 0 (a win, a
 * scratch, a force-close at zero P&L) ends the run; a new trading day starts at zero.
 *
 * p_at picks the trading day; rows are counted from its start with no upper bound. On purpose: a fire
 * that waited for the user lock runs with now() = its own transaction start, and the signal it waited
 * for may carry a later fired_at (its transaction started later); bounding by p_at would miss it.
 */
CREATE OR REPLACE FUNCTION ex7._risk_state(p_user uuid, p_mode text, p_at timestamptz, p_strategy_id uuid,
                                           p_instrument text, p_side text, p_size integer, p_bar_ts timestamptz)
RETURNS jsonb
LANGUAGE plpgsql STABLE
AS $$
DECLARE
    v_start timestamptz := ex7.trading_day_start(p_at);
    lim ex7.risk_limits := ex7._risk_limits(p_user, p_mode);
    v_realized numeric;
    v_trades bigint;
    v_open bigint;
    v_consec bigint;
    v_reason jsonb;
    ts record;
    lk record;
BEGIN
    -- signals_user_mode_closed_idx (user_id, mode, closed_at DESC) WHERE status <> 'open'
    SELECT coalesce(sum(s.net_pnl), 0) INTO v_realized
      FROM ex7.signals s
     WHERE s.user_id = p_user AND s.mode = p_mode AND s.status <> 'open' AND s.closed_at >= v_start;
    -- signals_user_fired_idx (user_id, fired_at DESC, id DESC)
    SELECT count(*) INTO v_trades
      FROM ex7.signals s
     WHERE s.user_id = p_user AND s.fired_at >= v_start AND s.mode = p_mode;
    -- signals_user_mode_open_idx (user_id, mode) WHERE status = 'open': every open signal, of any day
    SELECT count(*) INTO v_open
      FROM ex7.signals s
     WHERE s.user_id = p_user AND s.mode = p_mode AND s.status = 'open';
    SELECT count(*) INTO v_consec
      FROM (SELECT pg_catalog.bool_and(coalesce(s.net_pnl < 0, false))
                       OVER (ORDER BY s.closed_at DESC, s.id DESC) AS in_run
              FROM ex7.signals s
             WHERE s.user_id = p_user AND s.mode = p_mode AND s.status <> 'open'
               AND s.closed_at >= v_start) AS t
     WHERE t.in_run;

    -- first the trading state (docs/trading-state.md), then the locks of protections (docs/protections.md),
    -- then the breakers: a refusal names the first that refuses. A lock is judged at the entry's bar, never
    -- later than now (the bar clock: docs/protections.md). The report, with no entry in view, sees the
    -- state for every instrument (the user's and the service's '*') and the user-wide locks: a lock of one
    -- strategy or instrument, or the service's state of one instrument, refuses only those entries and is
    -- listed by GET /api/risk/locks and GET /api/risk/state.
    -- The state (ex7._trading_state, 81_trading_state.sql): halted refuses every entry; reducing one that
    -- does not reduce the net position (ex7._reduces). Inline, not a function of its own: one call and one
    -- query for every fire (docs/performance.md, "Protections and the trading state").
    SELECT * INTO ts FROM ex7._trading_state(p_user, p_mode, p_instrument);
    IF ts.state = 'halted' OR (ts.state = 'reducing' AND NOT ex7._reduces(p_user, p_mode, p_instrument, p_side, p_size)) THEN
        v_reason := pg_catalog.jsonb_build_object(
            'breaker', 'trading_state', 'reason', ts.state, 'observed', ts.source || coalesce(': ' || ts.reason, ''),
            'limit', CASE WHEN ts.state = 'reducing'
                          THEN 'net position ' || ex7._net_position(p_user, p_mode, p_instrument) END);
    END IF;
    IF v_reason IS NULL THEN
        SELECT * INTO lk FROM ex7._entry_lock(p_user, p_mode, p_strategy_id, p_instrument, LEAST(coalesce(p_bar_ts, p_at), p_at));
        IF lk.id IS NOT NULL THEN     -- a record: ex7.risk_locks is created after this file (80_protections_schema.sql)
            v_reason := pg_catalog.jsonb_build_object('breaker', lk.kind, 'reason', lk.kind || '_locked',
                                                      'observed', lk.observed,
                                                      'limit', 'until ' || ex7._iso(lk.until), 'lock_id', lk.id);
        END IF;
    END IF;
    IF v_reason IS NULL THEN
        v_reason := ex7.risk_decide(lim.daily_loss_limit, lim.max_trades_per_day, lim.max_open_positions,
                                    lim.max_consecutive_losses, v_realized, v_trades, v_open, v_consec);
    END IF;
    RETURN pg_catalog.jsonb_build_object(
        'mode', p_mode,
        'trading_allowed', v_reason IS NULL,
        'blocked_reason', v_reason,
        'trading_state', pg_catalog.jsonb_build_object('state', ts.state, 'source', ts.source, 'reason', ts.reason,
                                                       'changed_at', ts.changed_at),
        'limits', ex7._risk_limits_json(lim),
        'realized_pnl_today', ex7._money_text(v_realized),
        'trades_today', v_trades,
        'open_positions', v_open,
        'consecutive_losses', v_consec,
        'trading_day_start', v_start,
        'checked_at', p_at);
END
$$;
COMMENT ON FUNCTION ex7._risk_state(uuid, text, timestamptz, uuid, text, text, integer, timestamptz) IS
'Returns the risk state of (p_user, p_mode) at p_at, for an entry of strategy p_strategy_id on p_instrument (p_side, p_size) on the bar p_bar_ts when given: the trading state, then the protections'' locks (judged at the bar, never later than p_at), then the breakers (the trading day of p_at). May raise: callers use ex7._entry_check, which fails closed.';

CREATE OR REPLACE FUNCTION ex7._entry_check(p_user uuid, p_mode text, p_at timestamptz, p_strategy_id uuid,
                                            p_instrument text, p_side text, p_size integer, p_bar_ts timestamptz)
RETURNS jsonb
LANGUAGE plpgsql STABLE
AS $$
DECLARE
    v_sqlstate text;
    v_message text;
BEGIN
    RETURN ex7._risk_state(p_user, p_mode, p_at, p_strategy_id, p_instrument, p_side, p_size, p_bar_ts);
EXCEPTION WHEN OTHERS THEN
    -- "On DB error: returns trading_allowed=false with blocked_reason.breaker='error'. Never returns 500
    -- — fail-closed" (ex7-api-reference.txt, Get Risk). The message goes to the server log only; the
    -- SQLSTATE is the observed value, enough to tell a missing relation from a lock timeout.
    GET STACKED DIAGNOSTICS v_sqlstate = RETURNED_SQLSTATE, v_message = MESSAGE_TEXT;
    RAISE LOG 'ex7: risk state of user % (%) failed closed: % %', p_user, p_mode, v_sqlstate, v_message;
    RETURN pg_catalog.jsonb_build_object(
        'mode', p_mode,
        'trading_allowed', false,
        'blocked_reason', pg_catalog.jsonb_build_object('breaker', 'error', 'reason', 'risk_state_unavailable',
                                                        'observed', v_sqlstate, 'limit', NULL),
        'limits', NULL,
        'realized_pnl_today', NULL,
        'trades_today', NULL,
        'open_positions', NULL,
        'consecutive_losses', NULL,
        'trading_day_start', NULL,
        'checked_at', p_at);
END
$$;
COMMENT ON FUNCTION ex7._entry_check(uuid, text, timestamptz, uuid, text, text, integer, timestamptz) IS
'Returns the risk state of (p_user, p_mode) at p_at for an entry (ex7._risk_state); when computing it fails for any reason, a state with trading_allowed false and blocked_reason {breaker: error, reason: risk_state_unavailable, observed: <SQLSTATE>}. Never raises for a database error.';

/* _risk_check: the state with no entry in view (GET /api/risk); fails closed like ex7._entry_check */
CREATE OR REPLACE FUNCTION ex7._risk_check(p_user uuid, p_mode text, p_at timestamptz)
RETURNS jsonb
LANGUAGE sql STABLE
AS $$
    SELECT ex7._entry_check(p_user, p_mode, p_at, NULL, NULL, NULL, NULL, NULL);
$$;
COMMENT ON FUNCTION ex7._risk_check(uuid, text, timestamptz) IS
'Returns the risk state of (p_user, p_mode) at p_at with no entry in view; fails closed (ex7._entry_check).';

CREATE OR REPLACE FUNCTION ex7.risk_state(p_user uuid, p_mode text)
RETURNS jsonb
LANGUAGE plpgsql STABLE
AS $$
BEGIN
    IF p_user IS NULL THEN
        PERFORM ex7._raise(401, 'acting user is required');
    END IF;
    PERFORM ex7._check_trade_mode(p_mode, '["query","mode"]');
    RETURN ex7._risk_check(p_user, p_mode, pg_catalog.now());
END
$$;
COMMENT ON FUNCTION ex7.risk_state(uuid, text) IS
'Returns the user''s risk state for one mode (GET /api/risk): {mode, trading_allowed, blocked_reason: null | {breaker, reason, observed, limit}, limits, realized_pnl_today, trades_today, open_positions, consecutive_losses, trading_day_start, checked_at}. Fails closed (breaker error) instead of raising; X7422 at ["query","mode"] for a mode other than paper or live.';

/* ---------------------------------------------------------------------------------------------------
 * Refusals: ex7.signals_blocked (GET /api/risk/blocked).
 * ------------------------------------------------------------------------------------------------- */
CREATE OR REPLACE FUNCTION ex7._blocked_json(b ex7.signals_blocked)
RETURNS jsonb
LANGUAGE sql STABLE PARALLEL SAFE
AS $$
    -- the item shape of ex7-api-reference.txt, Get Blocked
    SELECT pg_catalog.jsonb_build_object(
        'id', b.id,
        'user_id', b.user_id,
        'strategy_id', b.strategy_id,
        'strategy_version', b.strategy_version,
        'instrument', b.instrument,
        'timeframe', b.timeframe,
        'bar_ts', b.bar_ts,
        'mode', b.mode,
        'side', b.side,
        'triggered_limit', b.triggered_limit,
        'reason', b.reason,
        'observed', b.observed,
        'limit', b."limit",
        'reason_json', b.reason_json,
        'blocked_at', b.blocked_at);
$$;
COMMENT ON FUNCTION ex7._blocked_json(ex7.signals_blocked) IS
'Returns one refusal as the Get Blocked item {id, user_id, strategy_id, strategy_version, instrument, timeframe, bar_ts, mode, side, triggered_limit, reason, observed, limit, reason_json, blocked_at}.';

CREATE OR REPLACE FUNCTION ex7._record_blocked(p_user uuid, p_strategy_id uuid, p_strategy_version integer,
                                    p_instrument text, p_timeframe text, p_bar_ts timestamptz, p_mode text,
                                    p_side text, p_state jsonb)
RETURNS ex7.signals_blocked
LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
    b ex7.signals_blocked;
BEGIN
    -- reason_json is the whole state the gate saw: "full BlockedReason snapshot (limits + checked_at)"
    INSERT INTO ex7.signals_blocked (user_id, strategy_id, strategy_version, instrument, timeframe, bar_ts,
                                     mode, side, triggered_limit, reason, observed, "limit", reason_json)
    VALUES (p_user, p_strategy_id, p_strategy_version, p_instrument, p_timeframe, p_bar_ts, p_mode, p_side,
            p_state #>> '{blocked_reason,breaker}', p_state #>> '{blocked_reason,reason}',
            p_state #>> '{blocked_reason,observed}', p_state #>> '{blocked_reason,limit}', p_state)
    RETURNING * INTO b;
    -- a refusal is an alert event (76_alerts.sql), in the same transaction
    PERFORM ex7._alert_blocked(b);
    RETURN b;
END
$$;
COMMENT ON FUNCTION ex7._record_blocked(uuid, uuid, integer, text, text, timestamptz, text, text, jsonb) IS
'Returns the new signals_blocked row recording that the gate refused a signal, with the refusing state p_state as reason_json, and hands it to the alerts (ex7._alert_blocked).';

CREATE OR REPLACE FUNCTION ex7.list_blocked(p_user uuid, p_limit integer DEFAULT 50, p_offset integer DEFAULT 0)
RETURNS jsonb
LANGUAGE plpgsql STABLE
AS $$
BEGIN
    -- "limit: Max rows to return (newest first). 1-200. offset: Rows to skip. >= 0." (Get Blocked)
    PERFORM ex7._check_limit(p_limit);
    IF p_offset IS NULL OR p_offset < 0 THEN
        PERFORM ex7._invalid('["query","offset"]', 'offset must be greater than or equal to 0',
                             'value_error.number.not_ge');
    END IF;
    RETURN pg_catalog.jsonb_build_object(
        'timestamp', pg_catalog.now(),
        'items', coalesce((SELECT pg_catalog.jsonb_agg(ex7._blocked_json(b) ORDER BY b.blocked_at DESC, b.id DESC)
                             FROM (SELECT * FROM ex7.signals_blocked sb
                                    WHERE sb.user_id = p_user
                                    ORDER BY sb.blocked_at DESC, sb.id DESC
                                    LIMIT p_limit OFFSET p_offset) AS b), '[]'),
        'total', (SELECT count(*) FROM ex7.signals_blocked sb WHERE sb.user_id = p_user),
        'limit', p_limit,
        'offset', p_offset);
END
$$;
COMMENT ON FUNCTION ex7.list_blocked(uuid, integer, integer) IS
'Returns a page of the user''s risk refusals, newest first: {timestamp, items, total, limit, offset} (GET /api/risk/blocked). X7422 for limit outside 1..200 or offset below 0.';
