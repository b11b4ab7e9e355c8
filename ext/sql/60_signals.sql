/* ext/sql/60_signals.sql: signals. Firing one through the risk gate (the engine's entry point), the
 * read side of /api/signals (list, get, legacy, audit) and the two ways a user ends an open signal:
 * the manual close of a paper signal and the emergency force-close-all of a strategy.
 *
 * Locks: every writer calls ex7._lock_user(p_user) before it reads or locks any signal row (00_base.sql).
 * That single order (user row, then signal rows) means fire, close and force-close of one user run one
 * at a time: the gate sees every earlier fire, a close never races a force-close on the same row, and
 * event ids commit in id order (55_events.sql). docs/signals.md explains the shapes and the rules. */

/* ---------------------------------------------------------------------------------------------------
 * JSON shapes. Decimals (prices, P&L, slippage ticks) are strings, timestamps ISO strings, integers
 * numbers (ext/ex7.h conventions; Pydantic's Decimal serializes the same way).
 * ------------------------------------------------------------------------------------------------- */
CREATE OR REPLACE FUNCTION ex7._signal_json(s ex7.signals)
RETURNS jsonb
LANGUAGE sql STABLE PARALLEL SAFE
AS $$
    SELECT pg_catalog.jsonb_build_object(
        'id', s.id,
        'user_id', s.user_id,
        'strategy_id', s.strategy_id,
        'strategy_version', s.strategy_version,
        'instrument', s.instrument,
        'timeframe', s.timeframe,
        'mode', s.mode,
        'side', s.side,
        'size', s.size,
        'entry_price', s.entry_price::pg_catalog.text,
        'stop_price', s.stop_price::pg_catalog.text,
        'target_price', s.target_price::pg_catalog.text,
        'bar_ts', s.bar_ts,
        'fired_at', s.fired_at,
        'status', s.status,
        'close_reason', s.close_reason,
        'close_price', s.close_price::pg_catalog.text,
        'closed_at', s.closed_at,
        'pnl_points', s.pnl_points::pg_catalog.text,
        'pnl_ticks', s.pnl_ticks::pg_catalog.text,
        'gross_pnl', s.gross_pnl::pg_catalog.text,
        'slippage_ticks', s.slippage_ticks::pg_catalog.text,
        'slippage_cost', s.slippage_cost::pg_catalog.text,
        'commission', s.commission::pg_catalog.text,
        'net_pnl', s.net_pnl::pg_catalog.text,
        'tag', s.tag,
        'source', s.source,
        'hook_id', s.hook_id);
$$;
COMMENT ON FUNCTION ex7._signal_json(ex7.signals) IS
'Returns a signal as the API shows it (SignalOut): ids, instrument, timeframe, mode, side, size, prices, bar_ts, fired_at, status, close fields, P&L fields, tag, and where it came from (source engine|webhook, hook_id); decimals as strings.';

CREATE OR REPLACE FUNCTION ex7._audit_json(a ex7.signal_audit)
RETURNS jsonb
LANGUAGE sql STABLE PARALLEL SAFE
AS $$
    SELECT pg_catalog.jsonb_build_object(
        'id', a.id,
        'user_id', a.user_id,
        'strategy_id', a.strategy_id,
        'strategy_version', a.strategy_version,
        'instrument', a.instrument,
        'timeframe', a.timeframe,
        'mode', a.mode,
        'bar_ts', a.bar_ts,
        'decision', a.decision,
        'signal_id', a.signal_id,
        'detail', a.detail,
        'created_at', a.created_at);
$$;
COMMENT ON FUNCTION ex7._audit_json(ex7.signal_audit) IS
'Returns one audit row as the API shows it: {id, user_id, strategy_id, strategy_version, instrument, timeframe, mode, bar_ts, decision, signal_id, detail, created_at}.';

/* The audit writer: one row per dispatcher decision. Used by fire_signal now and by the engine later. */
CREATE OR REPLACE FUNCTION ex7._audit(p_user uuid, p_strategy_id uuid, p_strategy_version integer, p_instrument text,
                           p_timeframe text, p_mode text, p_bar_ts timestamptz, p_decision text,
                           p_signal_id uuid DEFAULT NULL, p_detail jsonb DEFAULT '{}')
RETURNS bigint
LANGUAGE plpgsql VOLATILE
AS $$
-- PL/pgSQL: Citus plans no statement on a distributed table with the parameters of a SQL function
-- (docs/scale-out.md)
DECLARE
    v_id bigint;
BEGIN
    INSERT INTO ex7.signal_audit (user_id, strategy_id, strategy_version, instrument, timeframe, mode, bar_ts,
                                  decision, signal_id, detail)
    VALUES (p_user, p_strategy_id, p_strategy_version, p_instrument, p_timeframe, p_mode, p_bar_ts,
            p_decision, p_signal_id, coalesce(p_detail, '{}'))
    RETURNING id INTO v_id;
    RETURN v_id;
END
$$;
COMMENT ON FUNCTION ex7._audit(uuid, uuid, integer, text, text, text, timestamptz, text, uuid, jsonb) IS
'Returns the id of the new signal_audit row recording one dispatcher decision (fired, no_signal, blocked, exit, error, skipped) for a bar.';

/* ---------------------------------------------------------------------------------------------------
 * Fire.
 * ------------------------------------------------------------------------------------------------- */

/*
 * _check_price: a price must lie on the instrument's tick grid (facts.md, CME contract specs: ES 0.25,
 * CL 0.01 ...), the same rule as ex7.compute_pnl applies to entry and close prices.
 */
CREATE OR REPLACE FUNCTION ex7._check_price(p_price numeric, p_tick numeric, p_loc jsonb)
RETURNS void
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
AS $$
BEGIN
    IF p_price IS NULL THEN
        PERFORM ex7._invalid(p_loc, 'price is required', 'value_error.missing');
    END IF;
    IF p_price <= 0 OR pg_catalog.mod(p_price, p_tick) <> 0 THEN
        PERFORM ex7._invalid(p_loc,
                             pg_catalog.format('price must be a positive multiple of the tick size %s', p_tick),
                             'value_error.tick');
    END IF;
END
$$;
COMMENT ON FUNCTION ex7._check_price(numeric, numeric, jsonb) IS
'Returns nothing when p_price is a positive multiple of p_tick; raises X7422 at p_loc otherwise (also when it is NULL).';

CREATE OR REPLACE FUNCTION ex7.fire_signal(p_user uuid, p_strategy_id uuid, p_mode text, p_side text, p_size integer,
                                p_entry_price numeric, p_bar_ts timestamptz, p_tag text DEFAULT NULL,
                                p_stop_price numeric DEFAULT NULL, p_target_price numeric DEFAULT NULL)
RETURNS jsonb
LANGUAGE plpgsql VOLATILE
AS $$
BEGIN
    RETURN ex7._fire_signal(p_user, p_strategy_id, p_mode, p_side, p_size, p_entry_price, p_bar_ts, p_tag,
                            p_stop_price, p_target_price, 'engine', NULL);
END
$$;
COMMENT ON FUNCTION ex7.fire_signal(uuid, uuid, text, text, integer, numeric, timestamptz, text, numeric, numeric) IS
'Returns {decision: fired, signal, event_id} after publishing a signal of the user''s strategy through the risk gate, or {decision: blocked, blocked: <Get Blocked item>} when the gate refuses (recorded in signals_blocked and the audit; not an error). X7404 for a strategy that is missing, soft-deleted or another user''s; X7422 for bad input or a price off the tick grid.';

/*
 * _fire_signal: fire_signal's work, for every source of signals: the engine (fire_signal, the dispatcher's
 * path) and the webhook intake (ex7.hook_intake, 79_webhooks.sql), which records where the signal came
 * from (p_source, p_hook_id). One gate for all of them.
 */
CREATE OR REPLACE FUNCTION ex7._fire_signal(p_user uuid, p_strategy_id uuid, p_mode text, p_side text, p_size integer,
                                p_entry_price numeric, p_bar_ts timestamptz, p_tag text,
                                p_stop_price numeric, p_target_price numeric, p_source text, p_hook_id uuid)
RETURNS jsonb
LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
    st ex7.strategies;
    v_tick numeric;
    v_state jsonb;
    b ex7.signals_blocked;
    s ex7.signals;
    v_json jsonb;
    v_event bigint;
BEGIN
    -- First the user row: the user's fires, closes and force-closes run one at a time, so the gate
    -- below counts every signal fired before this one (00_base.sql, _lock_user).
    PERFORM ex7._lock_user(p_user);

    PERFORM ex7._check_trade_mode(p_mode, '["body","mode"]');
    IF p_side IS NULL OR p_side NOT IN ('long', 'short') THEN
        PERFORM ex7._invalid('["body","side"]', 'side must be one of: long, short', 'value_error.enum');
    END IF;
    IF p_size IS NULL OR p_size < 1 THEN
        PERFORM ex7._invalid('["body","size"]', 'size must be at least 1', 'value_error.number.not_ge');
    END IF;
    IF p_bar_ts IS NULL THEN
        PERFORM ex7._invalid('["body","bar_ts"]', 'bar_ts is required', 'value_error.missing');
    END IF;
    IF pg_catalog.length(p_tag) > 64 THEN
        PERFORM ex7._invalid('["body","tag"]', 'tag must be at most 64 characters', 'value_error.any_str.max_length');
    END IF;

    SELECT * INTO st FROM ex7.strategies t
     WHERE t.id = p_strategy_id AND t.user_id = p_user AND t.deleted_at IS NULL;
    IF NOT FOUND THEN
        PERFORM ex7._raise(404, 'strategy not found');
    END IF;

    SELECT i.tick_size INTO v_tick FROM ex7.instruments i WHERE i.symbol = st.instrument;
    PERFORM ex7._check_price(p_entry_price, v_tick, '["body","entry_price"]');
    IF p_stop_price IS NOT NULL THEN
        PERFORM ex7._check_price(p_stop_price, v_tick, '["body","stop_price"]');
    END IF;
    IF p_target_price IS NOT NULL THEN
        PERFORM ex7._check_price(p_target_price, v_tick, '["body","target_price"]');
    END IF;

    -- The instrument's row FOR KEY SHARE before the trading state is read: a service-wide halt locks it
    -- FOR UPDATE, so it waits for this fire to commit, or this fire waits for it and then reads it
    -- (ext/sql/81_trading_state.sql; specs/trading_halt.spec).
    PERFORM ex7._hold_instrument(st.instrument);

    -- The gate (IRON LAW §4): the trading state, the protections' locks (judged at the bar), the
    -- breakers. A refusal is recorded and returned, not raised: the engine goes on with the next
    -- strategy. _entry_check fails closed, so an error here is a refusal too.
    v_state := ex7._entry_check(p_user, p_mode, pg_catalog.now(), st.id, st.instrument, p_side, p_size, p_bar_ts);
    IF (v_state ->> 'trading_allowed')::boolean IS NOT TRUE THEN
        b := ex7._record_blocked(p_user, st.id, st.current_version, st.instrument, st.timeframe, p_bar_ts,
                                 p_mode, p_side, v_state);
        PERFORM ex7._audit(p_user, st.id, st.current_version, st.instrument, st.timeframe, p_mode, p_bar_ts,
                           'blocked', NULL,
                           pg_catalog.jsonb_build_object('blocked_id', b.id, 'side', p_side, 'size', p_size,
                                                         'breaker', b.triggered_limit, 'reason', b.reason,
                                                         'observed', b.observed, 'limit', b."limit"));
        RETURN pg_catalog.jsonb_build_object('decision', 'blocked', 'blocked', ex7._blocked_json(b));
    END IF;

    INSERT INTO ex7.signals (user_id, strategy_id, strategy_version, instrument, timeframe, mode, side, size,
                             entry_price, stop_price, target_price, bar_ts, tag, source, hook_id)
    VALUES (p_user, st.id, st.current_version, st.instrument, st.timeframe, p_mode, p_side, p_size,
            p_entry_price, p_stop_price, p_target_price, p_bar_ts, p_tag, p_source, p_hook_id)
    RETURNING * INTO s;
    v_json := ex7._signal_json(s);
    v_event := ex7._emit_event(p_user, 'signal', s.id, s.strategy_id, v_json);
    PERFORM ex7._audit(p_user, st.id, st.current_version, st.instrument, st.timeframe, p_mode, p_bar_ts,
                       'fired', s.id,
                       pg_catalog.jsonb_build_object('event_id', v_event, 'side', p_side, 'size', p_size,
                                                     'entry_price', p_entry_price::text));
    RETURN pg_catalog.jsonb_build_object('decision', 'fired', 'signal', v_json, 'event_id', v_event);
END
$$;
COMMENT ON FUNCTION ex7._fire_signal(uuid, uuid, text, text, integer, numeric, timestamptz, text, numeric, numeric, text, uuid) IS
'Returns what ex7.fire_signal returns, for a signal of source p_source (engine or webhook, with the hook p_hook_id): the one path of every fire through the risk gate.';

/* ---------------------------------------------------------------------------------------------------
 * Read side.
 * ------------------------------------------------------------------------------------------------- */

/*
 * list_signals: "Ordering is (fired_at DESC, id DESC) — stable even for signals that fire on the same
 * bar close. [...] we fetch N+1 rows where N = limit. If we got back N+1, the Nth row's (fired_at, id)
 * becomes next_cursor and we truncate to N rows" (ex7-api-reference.txt, List Signals).
 *
 * The position is one row comparison (fired_at, id) < (cursor), with (+infinity, max uuid) standing for
 * "no cursor", never an "IS NULL OR": it stays an index condition of signals_user_fired_idx in a generic
 * plan, so page k costs N+1 index entries, not k*N (sql/signals.sql counts them). from is inclusive,
 * to exclusive, both on fired_at and both index conditions too.
 */
CREATE OR REPLACE FUNCTION ex7.list_signals(p_user uuid, p_strategy_id uuid DEFAULT NULL, p_from timestamptz DEFAULT NULL,
                                 p_to timestamptz DEFAULT NULL, p_side text DEFAULT NULL,
                                 p_status text DEFAULT NULL, p_instrument text DEFAULT NULL,
                                 p_cursor text DEFAULT NULL, p_limit integer DEFAULT 50)
RETURNS jsonb
LANGUAGE plpgsql STABLE
AS $$
DECLARE
    v_limit integer := ex7._check_limit(p_limit);
    v_ts timestamptz := 'infinity';
    v_id uuid := 'ffffffff-ffff-ffff-ffff-ffffffffffff';
    v_items jsonb;
    v_more boolean;
    v_last_ts timestamptz;
    v_last_id uuid;
BEGIN
    IF p_side IS NOT NULL AND p_side NOT IN ('long', 'short') THEN
        PERFORM ex7._invalid('["query","side"]', 'side must be one of: long, short', 'value_error.enum');
    END IF;
    IF p_status IS NOT NULL AND p_status NOT IN ('open', 'closed', 'cancelled') THEN
        PERFORM ex7._invalid('["query","status"]', 'status must be one of: open, closed, cancelled',
                             'value_error.enum');
    END IF;
    IF p_cursor IS NOT NULL THEN
        SELECT c.ts, c.id::uuid INTO v_ts, v_id FROM ex7.cursor_decode('signals', p_user, p_cursor) AS c;
    END IF;

    SELECT pg_catalog.jsonb_agg(ex7._signal_json(p.s) ORDER BY p.rn) FILTER (WHERE p.rn <= v_limit),
           count(*) > v_limit,
           pg_catalog.max(p.fired_at) FILTER (WHERE p.rn = v_limit),
           (pg_catalog.array_agg(p.id) FILTER (WHERE p.rn = v_limit))[1]
      INTO v_items, v_more, v_last_ts, v_last_id
      FROM (SELECT q.s, q.fired_at, q.id,
                   pg_catalog.row_number() OVER (ORDER BY q.fired_at DESC, q.id DESC) AS rn
              -- ROW(x.*)::ex7.signals, not the whole-row x: on Citus a shard's row has the shard table's type,
              -- which _signal_json does not take (docs/scale-out.md)
              FROM (SELECT ROW(x.*)::ex7.signals AS s, x.fired_at, x.id FROM ex7.signals x
                     WHERE x.user_id = p_user
                       AND (x.fired_at, x.id) < (v_ts, v_id)
                       AND x.fired_at >= coalesce(p_from, '-infinity')
                       AND x.fired_at < coalesce(p_to, 'infinity')
                       AND (p_strategy_id IS NULL OR x.strategy_id = p_strategy_id)
                       AND (p_side IS NULL OR x.side = p_side)
                       AND (p_status IS NULL OR x.status = p_status)
                       AND (p_instrument IS NULL OR x.instrument = pg_catalog.upper(p_instrument))
                     ORDER BY x.fired_at DESC, x.id DESC
                     LIMIT v_limit + 1) AS q) AS p;

    RETURN pg_catalog.jsonb_build_object(
        'items', coalesce(v_items, '[]'),
        'next_cursor', CASE WHEN v_more THEN ex7.cursor_encode('signals', p_user, v_last_ts, v_last_id::text) END);
END
$$;
COMMENT ON FUNCTION ex7.list_signals(uuid, uuid, timestamptz, timestamptz, text, text, text, text, integer) IS
'Returns a page of the user''s signals, newest first by (fired_at, id): {items, next_cursor} (next_cursor null on the last page). Filters: strategy, fired_at from (inclusive) and to (exclusive), side, status, instrument (case-insensitive). X7422 for a bad side, status, limit (1..200) or cursor.';

CREATE OR REPLACE FUNCTION ex7.get_signal(p_user uuid, p_signal_id uuid)
RETURNS jsonb
LANGUAGE plpgsql STABLE
AS $$
DECLARE
    s ex7.signals;
BEGIN
    -- "404 if missing or not owned [...] leaking existence-of-resource to an unauthorized user is an
    -- info-disclosure smell" (ex7-api-reference.txt, Get Signal)
    SELECT * INTO s FROM ex7.signals x WHERE x.id = p_signal_id AND x.user_id = p_user;
    IF NOT FOUND THEN
        PERFORM ex7._raise(404, 'signal not found');
    END IF;
    RETURN ex7._signal_json(s);
END
$$;
COMMENT ON FUNCTION ex7.get_signal(uuid, uuid) IS
'Returns one of the user''s signals. X7404 when it does not exist or belongs to another user (no distinction).';

/*
 * legacy_signals: "Get all signals from the last N hours" / "Get signals for a specific instrument"
 * (ex7-api-reference.txt, Get Signals and Get Signals By Instrument). The contract lists 200 and 422
 * only: an instrument that matches nothing gives an empty list, like any filter. Ours: hours 1..720 (30
 * days) and at most 1000 signals, newest first; page older history with list_signals.
 */
CREATE OR REPLACE FUNCTION ex7.legacy_signals(p_user uuid, p_hours integer DEFAULT 24, p_instrument text DEFAULT NULL)
RETURNS jsonb
LANGUAGE plpgsql STABLE
AS $$
BEGIN
    IF p_hours IS NULL OR p_hours < 1 OR p_hours > 720 THEN
        PERFORM ex7._invalid('["query","hours"]', 'hours must be between 1 and 720', 'value_error.number.range');
    END IF;
    RETURN coalesce(
        (SELECT pg_catalog.jsonb_agg(ex7._signal_json(q.s) ORDER BY q.fired_at DESC, q.id DESC)
           FROM (SELECT ROW(x.*)::ex7.signals AS s, x.fired_at, x.id FROM ex7.signals x    -- (list_signals)
                  WHERE x.user_id = p_user
                    AND x.fired_at >= pg_catalog.now() - pg_catalog.make_interval(hours => p_hours)
                    AND (p_instrument IS NULL OR x.instrument = pg_catalog.upper(p_instrument))
                  ORDER BY x.fired_at DESC, x.id DESC
                  LIMIT 1000) AS q),
        '[]');
END
$$;
COMMENT ON FUNCTION ex7.legacy_signals(uuid, integer, text) IS
'Returns a JSON array of the user''s signals fired in the last p_hours hours (1..720, default 24), optionally of one instrument (case-insensitive; unknown gives []), newest first, at most 1000. X7422 at ["query","hours"] otherwise.';

/*
 * list_audit: "Ordering is newest-first (bar_ts DESC, id DESC). Pagination uses the keyset cursor
 * returned as next_cursor" (ex7-api-reference.txt, Get Audit). Same scheme as list_signals on
 * signal_audit_user_bar_idx; the id is a bigint, carried in the cursor as text.
 */
CREATE OR REPLACE FUNCTION ex7.list_audit(p_user uuid, p_strategy_id uuid DEFAULT NULL, p_from timestamptz DEFAULT NULL,
                               p_to timestamptz DEFAULT NULL, p_decision text DEFAULT NULL,
                               p_cursor text DEFAULT NULL, p_limit integer DEFAULT 100)
RETURNS jsonb
LANGUAGE plpgsql STABLE
AS $$
DECLARE
    v_limit integer := ex7._check_limit(p_limit);
    v_ts timestamptz := 'infinity';
    v_id bigint := 9223372036854775807;     -- the largest bigint: "no cursor"
    v_items jsonb;
    v_more boolean;
    v_last_ts timestamptz;
    v_last_id bigint;
BEGIN
    IF p_decision IS NOT NULL
       AND p_decision NOT IN ('fired', 'no_signal', 'blocked', 'exit', 'error', 'skipped') THEN
        PERFORM ex7._invalid('["query","decision"]',
                             'decision must be one of: fired, no_signal, blocked, exit, error, skipped',
                             'value_error.enum');
    END IF;
    IF p_cursor IS NOT NULL THEN
        -- a cursor we signed carries digits only; the MAC guarantees it
        SELECT c.ts, c.id::bigint INTO v_ts, v_id FROM ex7.cursor_decode('audit', p_user, p_cursor) AS c;
    END IF;

    SELECT pg_catalog.jsonb_agg(ex7._audit_json(p.a) ORDER BY p.rn) FILTER (WHERE p.rn <= v_limit),
           count(*) > v_limit,
           pg_catalog.max(p.bar_ts) FILTER (WHERE p.rn = v_limit),
           pg_catalog.max(p.id) FILTER (WHERE p.rn = v_limit)
      INTO v_items, v_more, v_last_ts, v_last_id
      FROM (SELECT q.a, q.bar_ts, q.id,
                   pg_catalog.row_number() OVER (ORDER BY q.bar_ts DESC, q.id DESC) AS rn
              FROM (SELECT ROW(x.*)::ex7.signal_audit AS a, x.bar_ts, x.id FROM ex7.signal_audit x  -- (list_signals)
                     WHERE x.user_id = p_user
                       AND (x.bar_ts, x.id) < (v_ts, v_id)
                       AND x.bar_ts >= coalesce(p_from, '-infinity')
                       AND x.bar_ts < coalesce(p_to, 'infinity')
                       AND (p_strategy_id IS NULL OR x.strategy_id = p_strategy_id)
                       AND (p_decision IS NULL OR x.decision = p_decision)
                     ORDER BY x.bar_ts DESC, x.id DESC
                     LIMIT v_limit + 1) AS q) AS p;

    RETURN pg_catalog.jsonb_build_object(
        'items', coalesce(v_items, '[]'),
        'next_cursor', CASE WHEN v_more THEN ex7.cursor_encode('audit', p_user, v_last_ts, v_last_id::text) END);
END
$$;
COMMENT ON FUNCTION ex7.list_audit(uuid, uuid, timestamptz, timestamptz, text, text, integer) IS
'Returns a page of the user''s audit rows, newest first by (bar_ts, id): {items, next_cursor}. Filters: strategy, bar_ts from (inclusive) and to (exclusive), decision. X7422 for a bad decision, limit (1..200) or cursor.';

/* ---------------------------------------------------------------------------------------------------
 * Close.
 * ------------------------------------------------------------------------------------------------- */

/*
 * _close_at: the one way a signal closes with P&L (close_signal for the user, the dispatcher for stops,
 * targets, exits and reversals, the webhook intake, the kill switch's flatten): P&L from ex7.compute_pnl
 * (the one formula; X7422 at ["body","close_price"] for a price off the tick grid), the UPDATE guarded by
 * status = 'open', the signal_closed event, then the user's protections (docs/protections.md), which may
 * lock entries. p_at is the bar the close belongs to (the dispatcher's bar; the close's own time
 * otherwise): the clock protections read. The caller holds the user row lock (ex7._lock_user) and has
 * the row locked.
 */
CREATE OR REPLACE FUNCTION ex7._close_at(p_signal ex7.signals, p_price numeric, p_status text, p_reason text,
                                         p_at timestamptz)
RETURNS ex7.signals
LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
    pnl record;
    s ex7.signals;
BEGIN
    SELECT * INTO pnl FROM ex7.compute_pnl(p_instrument => p_signal.instrument, p_side => p_signal.side,
                                           p_size => p_signal.size, p_entry_price => p_signal.entry_price,
                                           p_close_price => p_price);
    UPDATE ex7.signals x
       SET status = p_status, close_reason = p_reason, close_price = p_price, closed_at = pg_catalog.now(),
           close_bar_ts = p_at, pnl_points = pnl.points, pnl_ticks = pnl.ticks, gross_pnl = pnl.gross_pnl,
           slippage_ticks = pnl.slippage_ticks, slippage_cost = pnl.slippage_cost,
           commission = pnl.commission, net_pnl = pnl.net_pnl
     WHERE x.user_id = p_signal.user_id AND x.id = p_signal.id AND x.status = 'open'
    RETURNING * INTO s;
    IF NOT FOUND THEN
        RETURN NULL;
    END IF;
    PERFORM ex7._emit_event(s.user_id, 'signal_closed', s.id, s.strategy_id, ex7._signal_json(s));
    PERFORM ex7._protections_after_close(s);
    RETURN s;
END
$$;
COMMENT ON FUNCTION ex7._close_at(ex7.signals, numeric, text, text, timestamptz) IS
'Returns the signal closed at p_price with status p_status (cancelled for a manual close, closed for the engine) and close_reason p_reason on the bar p_at (close_bar_ts), with P&L from ex7.compute_pnl, a signal_closed event and the protections'' locks it triggers; NULL when it was no longer open. The caller holds the user row lock.';

/*
 * The close price of a manual close. The contract's sample sends no body (ex7-api-reference.txt, Close
 * Signal: `curl -X POST .../close` with no -d) and its step 4 needs a close_price, so ex7 makes it
 * optional: without one the close is at the mark, and an explicit one must be plausible (docs/signals.md,
 * "The close price"). Both read ex7.bars (docs/market.md); ts is a bar's close time.
 *
 * _mark_max_age: the oldest a mark may be. Two lengths of the mark bar's timeframe, the threshold at
 * which docs/market.md ("Freshness") calls a series stale (on time, the last closed bar is at most one
 * length old; one more absorbs a late delivery), and never more than an hour: the close of a 4h or 1d bar
 * is not the price of now. PL/pgSQL: ex7._timeframe_interval is created later (63_market.sql).
 */
CREATE OR REPLACE FUNCTION ex7._mark_max_age(p_timeframe text)
RETURNS interval
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
AS $$
BEGIN
    RETURN LEAST(2 * ex7._timeframe_interval(p_timeframe), interval '1 hour');
END
$$;
COMMENT ON FUNCTION ex7._mark_max_age(text) IS
'Returns how old the close of a p_timeframe bar may be to serve as the mark price: two bar lengths (the staleness threshold of docs/market.md), at most one hour.';

/*
 * _mark_price: the instrument's most recent bar at or before p_at over every timeframe (the shortest
 * timeframe wins a tie of close times), its close being the mark. fresh says whether it is recent enough
 * to close at (ex7._mark_max_age). One index probe per timeframe on the bars' primary key.
 */
CREATE OR REPLACE FUNCTION ex7._mark_price(p_instrument text, p_at timestamptz,
                                           OUT price numeric, OUT bar_ts timestamptz, OUT timeframe text,
                                           OUT fresh boolean)
RETURNS record
LANGUAGE plpgsql STABLE
AS $$
BEGIN
    SELECT b.close, b.ts, b.tf INTO price, bar_ts, timeframe
      FROM pg_catalog.unnest(ex7._timeframes()) WITH ORDINALITY AS t (tf, n),
           LATERAL (SELECT y.close, y.ts, t.tf FROM ex7.bars y
                     WHERE y.instrument = p_instrument AND y.timeframe = t.tf AND y.ts <= p_at
                     ORDER BY y.ts DESC LIMIT 1) AS b
     ORDER BY b.ts DESC, t.n
     LIMIT 1;
    fresh := bar_ts IS NOT NULL AND p_at - bar_ts <= ex7._mark_max_age(timeframe);
END
$$;
COMMENT ON FUNCTION ex7._mark_price(text, timestamptz) IS
'Returns (price, bar_ts, timeframe, fresh): the close of the instrument''s most recent bar at or before p_at (any timeframe; the shortest wins a tie), its close time and timeframe, and whether it is at most ex7._mark_max_age old. All NULL (fresh false) when the instrument has no bar.';

/*
 * _close_band: the close prices a manual close may use. The reference range is the entry price, the
 * [low, high] of the instrument's bars (any timeframe) that closed from the signal's bar to p_at, and
 * the mark (the latest bar at or before p_at, however old). It is widened on both sides by a margin of
 * its largest absolute price:
 *   7%  when the mark is fresh (the bars reach now): the price cannot have run far since the last bar;
 *       7% is the first level of CME's equity index price limits (CME Group, "Equity Price Limits":
 *       7%, 13%, 20% of the previous settlement), a move that halts the market;
 *   20% otherwise (the bars stop before now, or there is none but the entry): CME's widest equity
 *       limit, the most a day can move before trading stops for the day.
 * The band is rounded outwards to the tick grid. basis names what the range came from: bars (bars since
 * the entry), mark (no bar since the entry, an older one), entry (no bar at all).
 */
CREATE OR REPLACE FUNCTION ex7._close_band(p_signal ex7.signals, p_at timestamptz,
                                           OUT low numeric, OUT high numeric, OUT basis text)
RETURNS record
LANGUAGE plpgsql STABLE
AS $$
DECLARE
    m record;
    v_lo numeric;
    v_hi numeric;
    v_tick numeric;
    v_margin numeric;
BEGIN
    m := ex7._mark_price(p_signal.instrument, p_at);
    SELECT pg_catalog.min(b.lo), pg_catalog.max(b.hi) INTO v_lo, v_hi
      FROM pg_catalog.unnest(ex7._timeframes()) AS t (tf),
           LATERAL (SELECT pg_catalog.min(y.low) AS lo, pg_catalog.max(y.high) AS hi FROM ex7.bars y
                     WHERE y.instrument = p_signal.instrument AND y.timeframe = t.tf
                       AND y.ts >= p_signal.bar_ts AND y.ts <= p_at) AS b;
    basis := CASE WHEN v_lo IS NOT NULL THEN 'bars' WHEN m.price IS NOT NULL THEN 'mark' ELSE 'entry' END;
    -- LEAST and GREATEST skip NULLs: the entry price is always there
    v_lo := LEAST(v_lo, m.price, p_signal.entry_price);
    v_hi := GREATEST(v_hi, m.price, p_signal.entry_price);
    v_margin := CASE WHEN m.fresh THEN 0.07 ELSE 0.20 END * GREATEST(pg_catalog.abs(v_lo), pg_catalog.abs(v_hi));
    SELECT i.tick_size INTO v_tick FROM ex7.instruments i WHERE i.symbol = p_signal.instrument;
    low := pg_catalog.floor((v_lo - v_margin) / v_tick) * v_tick;
    high := pg_catalog.ceil((v_hi + v_margin) / v_tick) * v_tick;
END
$$;
COMMENT ON FUNCTION ex7._close_band(ex7.signals, timestamptz) IS
'Returns (low, high, basis): the plausible close prices of the signal at p_at, the range of its entry price, the instrument''s bars since the signal''s bar and the latest bar, widened by 7% (fresh mark) or 20% (none) and rounded outwards to the tick grid; basis is bars, mark or entry.';

/*
 * close_signal follows the six steps of ex7-api-reference.txt, Close Signal ("Workflow (§7.3)"), after
 * the body validation FastAPI would do (reason) and after _lock_user. Between steps 3 and 4 it settles
 * the close price: p_close_price when given and inside ex7._close_band (else X7422 at
 * ["body","close_price"]), the mark when not (else X7409 no_mark_price). The answer is the signal plus
 * close_price_source (request or mark) and, for the mark, mark_bar_time and mark_timeframe.
 */
CREATE OR REPLACE FUNCTION ex7.close_signal(p_user uuid, p_signal_id uuid, p_close_price numeric DEFAULT NULL,
                                            p_reason text DEFAULT 'user')
RETURNS jsonb
LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
    s ex7.signals;
    m record;
    band record;
    v_price numeric;
    v_source jsonb;
    v_msg text;
BEGIN
    PERFORM ex7._require_compliance(p_user);    -- 412 until ToS, risk and privacy are accepted (docs/billing.md)
    -- "status='cancelled' (per SignalClose.reason Literal 'user')": the only reason a client may send
    IF p_reason IS DISTINCT FROM 'user' THEN
        PERFORM ex7._invalid('["body","reason"]', 'reason must be: user', 'value_error.const');
    END IF;

    PERFORM ex7._lock_user(p_user);

    -- 1. "SELECT ... FOR UPDATE on the target row scoped by (id, user_id). Missing → 404 (either not
    --    found or not owned — we do not leak the distinction to avoid a user-enumeration oracle)."
    SELECT * INTO s FROM ex7.signals x WHERE x.id = p_signal_id AND x.user_id = p_user FOR UPDATE;
    IF NOT FOUND THEN
        PERFORM ex7._raise(404, 'signal not found');
    END IF;

    -- 2. "If status != 'open' → 409 with the current row in the detail so the UI can reconcile without
    --    a refetch."
    IF s.status <> 'open' THEN
        PERFORM ex7._raise(409, 'signal is not open',
                           pg_catalog.jsonb_build_object('code', 'signal_not_open', 'signal', ex7._signal_json(s)));
    END IF;

    -- 3. "If mode != 'paper' → 403. v1 has no broker path; a manual close on a live-mode signal would
    --    desync our book from the market."
    IF s.mode <> 'paper' THEN
        PERFORM ex7._raise(403, 'manual close is disabled for live signals',
                           pg_catalog.jsonb_build_object('code', 'live_close_disabled', 'signal_id', s.id));
    END IF;

    -- The close price (docs/signals.md, "The close price"): the client's, if plausible, else the mark.
    IF p_close_price IS NULL THEN
        m := ex7._mark_price(s.instrument, pg_catalog.now());
        IF NOT m.fresh THEN
            PERFORM ex7._raise(409,
                CASE WHEN m.bar_ts IS NULL
                     THEN pg_catalog.format('no mark price: %s has no bar; send close_price', s.instrument)
                     ELSE pg_catalog.format('no mark price: the last %s bar closed at %s, more than %s minutes ago; send close_price',
                                            s.instrument, ex7._iso(m.bar_ts),
                                            pg_catalog.date_part('epoch', ex7._mark_max_age(m.timeframe))::integer / 60) END,
                pg_catalog.jsonb_build_object('code', 'no_mark_price', 'instrument', s.instrument,
                                              'last_bar_time', m.bar_ts, 'last_bar_timeframe', m.timeframe,
                                              'max_age_seconds',
                                              pg_catalog.date_part('epoch', ex7._mark_max_age(m.timeframe))::integer));
        END IF;
        v_price := m.price;
        v_source := pg_catalog.jsonb_build_object('close_price_source', 'mark', 'mark_bar_time', m.bar_ts,
                                                  'mark_timeframe', m.timeframe);
    ELSE
        band := ex7._close_band(s, pg_catalog.now());
        IF p_close_price < band.low OR p_close_price > band.high THEN
            v_msg := pg_catalog.format('close_price must be between %s and %s (the %s range since the entry, widened)',
                                       band.low, band.high, s.instrument);
            PERFORM ex7._raise(422, v_msg, pg_catalog.jsonb_build_array(pg_catalog.jsonb_build_object(
                'loc', '["body","close_price"]'::jsonb, 'msg', v_msg, 'type', 'value_error.close_price.band',
                'ctx', pg_catalog.jsonb_build_object('min', band.low::text, 'max', band.high::text,
                                                     'basis', band.basis))));
        END IF;
        v_price := p_close_price;
        v_source := '{"close_price_source": "request"}';
    END IF;

    -- 4. "Compute P&L via compute_pnl(instrument, side, size, entry_price, close_price) — this is the
    --    one-and-only P&L formula (2-tick slippage 2-sided, per-instrument commission, all Decimal)."
    --    It raises X7422 at ["body","close_price"] for a price off the tick grid.
    -- 5. "UPDATE with status='cancelled', close_reason='user', pnl fields populated, and
    --    slippage_ticks=2.0 (IRON LAW §7). The WHERE status='open' guard makes the UPDATE a no-op if a
    --    concurrent writer already closed the row — in which case we re-raise as 409."
    --    slippage_ticks is compute_pnl's, the one formula's 2 ticks.
    -- 6. "pg_notify('signal_closed', <json>) inside the same transaction so the SSE broadcaster sees the
    --    close on commit only": _close_at appends the event and notifies signal_closed.
    s := ex7._close_at(s, v_price, 'cancelled', 'user', pg_catalog.now());
    IF s.id IS NULL THEN
        SELECT * INTO s FROM ex7.signals x WHERE x.user_id = p_user AND x.id = p_signal_id;
        PERFORM ex7._raise(409, 'signal is not open',
                           pg_catalog.jsonb_build_object('code', 'signal_not_open', 'signal', ex7._signal_json(s)));
    END IF;
    -- a draining runtime whose last open signal this was has nothing left to finish (docs/runtimes.md)
    PERFORM ex7._settle_drained(p_user, s.strategy_id, s.mode);
    RETURN ex7._signal_json(s) || v_source;
END
$$;
COMMENT ON FUNCTION ex7.close_signal(uuid, uuid, numeric, text) IS
'Returns the closed signal plus close_price_source (request, or mark with mark_bar_time and mark_timeframe) after a manual close of one of the user''s open paper signals (status cancelled, close_reason user, P&L from ex7.compute_pnl), emitting a signal_closed event; a draining runtime left with no open signal stops. p_close_price NULL closes at the mark, the close of the instrument''s latest bar (X7409 {code: no_mark_price} when there is none or it is older than two bar lengths, at most an hour); a given one must lie in ex7._close_band and on the tick grid (X7422 at ["body","close_price"]). X7404 missing or not owned; X7409 {code: signal_not_open, signal} when not open; X7403 {code: live_close_disabled} for a live signal; X7422 for a reason other than user.';

/*
 * _force_close: cancel every open signal of the strategy: close_reason force_close, close_price =
 * entry_price and zero P&L (ex7-api-reference.txt, Force Close All: "close_price falls back to
 * entry_price (safe null-free default — no realized PnL for an emergency cancel)"; compute_pnl at
 * close = entry would still charge slippage and commission). Zero also means a force-close is not a loss
 * for the risk gate: it ends a run of consecutive losses. Paper and live alike: the contract makes no
 * exception, and an emergency lever that skipped some positions would not be one. One signal_closed
 * event per signal in the order they fired ("For every closed signal id, emit pg_notify('signal_closed',
 * ...)"); then a draining runtime of the strategy has nothing left to finish and stops. The caller holds
 * the user row lock (ex7._lock_user): force_close_all, and delete_strategy (docs/strategies.md, "Delete").
 */
CREATE OR REPLACE FUNCTION ex7._force_close(p_user uuid, p_strategy_id uuid)
RETURNS uuid[]
LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
    s ex7.signals;
    v_ids uuid[];
BEGIN
    WITH u AS (
        UPDATE ex7.signals x
           SET status = 'cancelled', close_reason = 'force_close', close_price = x.entry_price,
               closed_at = pg_catalog.now(), close_bar_ts = pg_catalog.now(),
               pnl_points = 0, pnl_ticks = 0, gross_pnl = 0.00, slippage_ticks = 0, slippage_cost = 0.00,
               commission = 0.00, net_pnl = 0.00
         WHERE x.strategy_id = p_strategy_id AND x.user_id = p_user AND x.status = 'open'
        RETURNING x.id, x.fired_at)
    SELECT coalesce(pg_catalog.array_agg(u.id ORDER BY u.fired_at, u.id), '{}') INTO v_ids FROM u;

    FOR s IN SELECT x.* FROM ex7.signals x WHERE x.user_id = p_user AND x.id = ANY (v_ids)
              ORDER BY x.fired_at, x.id LOOP
        PERFORM ex7._emit_event(p_user, 'signal_closed', s.id, s.strategy_id, ex7._signal_json(s));
        PERFORM ex7._protections_after_close(s);
    END LOOP;
    PERFORM ex7._settle_drained(p_user, p_strategy_id, NULL);
    RETURN v_ids;
END
$$;
COMMENT ON FUNCTION ex7._force_close(uuid, uuid) IS
'Returns the ids, in fired order, of the user''s open signals of the strategy it cancelled (close_reason force_close, close_price = entry_price, zero P&L), with one signal_closed event each; then stops the strategy''s draining runtimes left with no open signal. The caller holds the user row lock.';

/*
 * force_close_all: ex7-api-reference.txt, Force Close All. The ownership gate, then ex7._force_close.
 * The answer is what the contract says it returns, "the number of signals that transitioned to
 * 'cancelled'": a JSON number (the ids are in the signal_closed events).
 */
CREATE OR REPLACE FUNCTION ex7.force_close_all(p_user uuid, p_strategy_id uuid)
RETURNS jsonb
LANGUAGE plpgsql VOLATILE
AS $$
BEGIN
    IF p_user IS NULL THEN
        PERFORM ex7._raise(401, 'acting user is required');
    END IF;
    PERFORM ex7._require_compliance(p_user);    -- 412 until ToS, risk and privacy are accepted (docs/billing.md)
    -- 1. "404 if it doesn't exist (or is soft-deleted); 403 if someone else owns it." The caller's own
    --    row first, by (user_id, id); only when it is not the caller's, a lookup by id alone (every shard
    --    on Citus, docs/scale-out.md) tells 403 from 404, on that refusal path only.
    PERFORM 1 FROM ex7.strategies t WHERE t.user_id = p_user AND t.id = p_strategy_id AND t.deleted_at IS NULL;
    IF NOT FOUND THEN
        PERFORM 1 FROM ex7.strategies t WHERE t.id = p_strategy_id AND t.deleted_at IS NULL;
        IF NOT FOUND THEN
            PERFORM ex7._raise(404, 'strategy not found');
        END IF;
        PERFORM ex7._raise(403, 'strategy belongs to another user',
                           pg_catalog.jsonb_build_object('code', 'not_owner'));
    END IF;

    PERFORM ex7._lock_user(p_user);
    -- 2. "UPDATE every open signal with close_reason='force_close'." 3. one signal_closed event each.
    -- "Returns the number of signals that transitioned to 'cancelled'."
    RETURN pg_catalog.to_jsonb(pg_catalog.cardinality(ex7._force_close(p_user, p_strategy_id)));
END
$$;
COMMENT ON FUNCTION ex7.force_close_all(uuid, uuid) IS
'Returns the number of signals cancelled (a JSON number, as the contract says) after cancelling every open signal of the user''s strategy, paper and live (close_reason force_close, close_price = entry_price, zero P&L), one signal_closed event each in fired order; a draining runtime of the strategy then stops. X7404 when the strategy does not exist or is soft-deleted, X7403 when another user owns it, X7401 without a user.';
