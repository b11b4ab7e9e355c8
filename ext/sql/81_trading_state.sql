/* ext/sql/81_trading_state.sql: the trading state, a kill switch (docs/trading-state.md). After
 * nautilus_trader's TradingState: active, reducing (only entries that reduce the net position of their
 * instrument), halted (no entry at all). A user sets it per mode, optionally flattening every open
 * position at the mark in the same call; service_role sets it for every instrument ('*') or one (an
 * exchange incident). Exits always go on: a halted account still closes at its stops.
 *
 * Ordering against fires (specs/trading_halt.spec):
 * - the user's state is written under the user row lock, which every fire holds (ex7._lock_user): a fire
 *   runs wholly before the change or wholly after it;
 * - a service state is written under FOR UPDATE of the instrument rows it covers, and every fire takes
 *   FOR KEY SHARE of its instrument's row before it reads the state (ex7._fire_signal): a fire that
 *   locked first commits before the change can, a fire that comes later waits for the change to commit
 *   and then reads it. Lock order: a fire takes the user row, then the instrument; a service change takes
 *   instruments only, so the two never wait on each other in a cycle. */

/*
 * _hold_instrument: FOR KEY SHARE of the instrument's row, which a fire takes before it reads the trading
 * state. SECURITY DEFINER: a row lock needs UPDATE privilege on the table, which a bound role does not have
 * on ex7.instruments (99_grants.sql); this function locks and reads nothing else.
 */
CREATE OR REPLACE FUNCTION ex7._hold_instrument(p_symbol text)
RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    PERFORM 1 FROM ex7.instruments i WHERE i.symbol = p_symbol FOR KEY SHARE;
END
$$;
COMMENT ON FUNCTION ex7._hold_instrument(text) IS
'Returns nothing; takes FOR KEY SHARE of the instrument''s row until the transaction ends, so that a service-wide trading state change (which locks it FOR UPDATE) is ordered with this fire.';

CREATE OR REPLACE FUNCTION ex7._state_rank(p_state text)
RETURNS integer
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT CASE p_state WHEN 'halted' THEN 2 WHEN 'reducing' THEN 1 ELSE 0 END $$;
COMMENT ON FUNCTION ex7._state_rank(text) IS 'Returns how restrictive a trading state is: halted 2, reducing 1, active 0.';

/*
 * _trading_state: the state an entry of p_instrument in (p_user, p_mode) meets: the most restrictive of
 * the service's state for every instrument, the service's for p_instrument (when given) and the user's;
 * source says whose (service, instrument, user; active when none).
 */
CREATE OR REPLACE FUNCTION ex7._trading_state(p_user uuid, p_mode text, p_instrument text,
                                              OUT state text, OUT source text, OUT reason text,
                                              OUT changed_at timestamptz)
RETURNS record
LANGUAGE plpgsql STABLE
AS $$
BEGIN
    SELECT t.state, t.source, t.reason, t.changed_at INTO state, source, reason, changed_at
      FROM (SELECT h.state, CASE h.scope WHEN '*' THEN 'service' ELSE 'instrument' END AS source, h.reason,
                   h.changed_at, CASE h.scope WHEN '*' THEN 1 ELSE 2 END AS o
              FROM ex7.trading_halts h WHERE h.scope = '*' OR h.scope = p_instrument
            UNION ALL
            SELECT u.state, 'user', u.reason, u.changed_at, 3
              FROM ex7.trading_states u WHERE u.user_id = p_user AND u.mode = p_mode::ex7.trade_mode) AS t
     ORDER BY ex7._state_rank(t.state) DESC, t.o
     LIMIT 1;
    IF state IS NULL THEN
        state := 'active';
        source := NULL;
    END IF;
END
$$;
COMMENT ON FUNCTION ex7._trading_state(uuid, text, text) IS
'Returns (state, source, reason, changed_at): the most restrictive trading state an entry of p_instrument by the user in the mode meets, of the service''s for every instrument (source service), the service''s for the instrument (instrument) and the user''s (user); active with source NULL when none is set.';

/*
 * _net_position: the user's net open size of the instrument in the mode, long positive, across
 * strategies: what a reducing state lets an entry shrink.
 */
CREATE OR REPLACE FUNCTION ex7._net_position(p_user uuid, p_mode text, p_instrument text)
RETURNS bigint
LANGUAGE plpgsql STABLE
AS $$
BEGIN
    RETURN coalesce((SELECT sum(CASE WHEN s.side = 'long' THEN s.size ELSE -s.size END)
                       FROM ex7.signals s
                      WHERE s.user_id = p_user AND s.mode = p_mode::ex7.trade_mode AND s.status = 'open'
                        AND s.instrument = p_instrument), 0);
END
$$;
COMMENT ON FUNCTION ex7._net_position(uuid, text, text) IS
'Returns the user''s net open size of the instrument in the mode (long positive, short negative) over every strategy.';

/*
 * _reduces: whether an entry (side, size) of the instrument reduces the user's net position in the mode:
 * of the side opposite it and no larger than it (it shrinks the exposure, never flips it). What a reducing
 * state lets through (ex7._risk_state).
 */
CREATE OR REPLACE FUNCTION ex7._reduces(p_user uuid, p_mode text, p_instrument text, p_side text, p_size integer)
RETURNS boolean
LANGUAGE plpgsql STABLE
AS $$
DECLARE
    v_net bigint := ex7._net_position(p_user, p_mode, p_instrument);
BEGIN
    RETURN p_side IS NOT NULL AND v_net <> 0 AND (p_side = 'short') = (v_net > 0) AND p_size <= pg_catalog.abs(v_net);
END
$$;
COMMENT ON FUNCTION ex7._reduces(uuid, text, text, text, integer) IS
'Returns whether an entry of p_side and p_size on the instrument reduces the user''s net position in the mode (the side opposite it, at most its size): what a reducing trading state lets through.';

CREATE OR REPLACE FUNCTION ex7._trading_state_json(p_user uuid, p_mode text)
RETURNS jsonb
LANGUAGE plpgsql STABLE
AS $$
DECLARE
    u ex7.trading_states;
    t record := ex7._trading_state(p_user, p_mode, NULL);
BEGIN
    SELECT * INTO u FROM ex7.trading_states x WHERE x.user_id = p_user AND x.mode = p_mode::ex7.trade_mode;
    RETURN pg_catalog.jsonb_build_object(
        'mode', p_mode,
        'state', coalesce(u.state, 'active'), 'reason', u.reason, 'changed_at', u.changed_at,
        'effective', t.state, 'effective_source', t.source,
        -- the service's states as GET /api/risk/service-state lists them (ex7.service_trading_states, below)
        'service', ex7.service_trading_states() -> 'items');
END
$$;
COMMENT ON FUNCTION ex7._trading_state_json(uuid, text) IS
'Returns {mode, state, reason, changed_at (the user''s own state; active without a row), effective, effective_source (with the service''s state for every instrument), service: [{scope all | instrument, instrument, state, reason, changed_at}]}.';

CREATE OR REPLACE FUNCTION ex7.get_trading_state(p_user uuid, p_mode text)
RETURNS jsonb
LANGUAGE plpgsql STABLE
AS $$
BEGIN
    IF p_user IS NULL THEN
        PERFORM ex7._raise(401, 'acting user is required');
    END IF;
    PERFORM ex7._check_trade_mode(p_mode, '["query","mode"]');
    RETURN ex7._trading_state_json(p_user, p_mode);
END
$$;
COMMENT ON FUNCTION ex7.get_trading_state(uuid, text) IS
'Returns the user''s trading state for the mode (GET /api/risk/state): see ex7._trading_state_json. X7422 for a mode other than paper or live.';

/* the body of a state change: {state, reason?} plus, for a user, flatten; every bad key at once */
CREATE OR REPLACE FUNCTION ex7._state_body(p_body jsonb, p_keys text[])
RETURNS jsonb
LANGUAGE plpgsql IMMUTABLE
AS $$
DECLARE
    errs jsonb := '[]';
    k text;
    v jsonb;
BEGIN
    IF p_body IS NULL OR pg_catalog.jsonb_typeof(p_body) <> 'object' THEN
        PERFORM ex7._invalid('["body"]', 'body must be a JSON object', 'type_error.dict');
    END IF;
    IF NOT p_body ? 'state' THEN
        errs := errs || '{"loc": ["body", "state"], "msg": "field required", "type": "value_error.missing"}'::jsonb;
    END IF;
    FOR k, v IN SELECT e.key, e.value FROM pg_catalog.jsonb_each(p_body) AS e ORDER BY e.key LOOP
        IF NOT k = ANY (p_keys) THEN
            errs := errs || pg_catalog.jsonb_build_object('loc', pg_catalog.jsonb_build_array('body', k),
                'msg', 'extra fields not permitted', 'type', 'value_error.extra');
        ELSIF k = 'state' AND (pg_catalog.jsonb_typeof(v) <> 'string' OR v #>> '{}' NOT IN ('active', 'halted', 'reducing')) THEN
            errs := errs || '{"loc": ["body", "state"], "msg": "state must be one of: active, halted, reducing", "type": "value_error.enum"}'::jsonb;
        ELSIF k = 'reason' AND pg_catalog.jsonb_typeof(v) <> 'null'
              AND (pg_catalog.jsonb_typeof(v) <> 'string' OR pg_catalog.length(v #>> '{}') > 200) THEN
            errs := errs || '{"loc": ["body", "reason"], "msg": "reason must be a string of at most 200 characters", "type": "value_error.any_str.max_length"}'::jsonb;
        ELSIF k = 'flatten' AND pg_catalog.jsonb_typeof(v) <> 'boolean' THEN
            errs := errs || '{"loc": ["body", "flatten"], "msg": "value could not be parsed to a boolean", "type": "type_error.bool"}'::jsonb;
        END IF;
    END LOOP;
    IF pg_catalog.jsonb_array_length(errs) = 0 AND (p_body -> 'flatten') = 'true'::jsonb
       AND p_body ->> 'state' <> 'halted' THEN
        errs := '[{"loc": ["body", "flatten"], "msg": "flatten goes with state halted", "type": "value_error.flatten"}]';
    END IF;
    IF pg_catalog.jsonb_array_length(errs) > 0 THEN
        PERFORM ex7._raise(422, 'invalid trading state', errs);
    END IF;
    RETURN p_body;
END
$$;
COMMENT ON FUNCTION ex7._state_body(jsonb, text[]) IS
'Returns p_body after checking it is {state: active | halted | reducing, reason?: text <= 200, flatten?: boolean (only with halted)} with no key outside p_keys; X7422 listing every bad key.';

/*
 * set_trading_state: PUT /api/risk/state. Under the user row lock: with flatten, every open signal of the
 * mode closes at its instrument's mark (close_reason kill_switch, P&L from compute_pnl), all or nothing: an
 * instrument without a fresh mark refuses the whole call (409 no_mark_price) and nothing changes. Then the
 * state, and a trading_state event on the stream with an alert.
 */
CREATE OR REPLACE FUNCTION ex7.set_trading_state(p_user uuid, p_mode text, p_body jsonb)
RETURNS jsonb
LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
    v_body jsonb;
    s ex7.signals;
    m record;
    v_marks jsonb := '{}';
    v_missing text[];
    v_closed jsonb := '[]';
    v_json jsonb;
    v_seq bigint;
BEGIN
    IF p_user IS NULL THEN
        PERFORM ex7._raise(401, 'acting user is required');
    END IF;
    PERFORM ex7._check_trade_mode(p_mode, '["query","mode"]');
    v_body := ex7._state_body(p_body, ARRAY['state', 'reason', 'flatten']);
    PERFORM ex7._lock_user(p_user);

    IF (v_body -> 'flatten') = 'true'::jsonb THEN
        -- every mark first: all or nothing
        FOR m IN SELECT i.instrument, mp.price, mp.fresh
                   FROM (SELECT DISTINCT x.instrument FROM ex7.signals x
                          WHERE x.user_id = p_user AND x.mode = p_mode::ex7.trade_mode AND x.status = 'open') AS i,
                        LATERAL ex7._mark_price(i.instrument, pg_catalog.now()) AS mp
                  ORDER BY i.instrument LOOP
            IF m.fresh THEN
                v_marks := v_marks || pg_catalog.jsonb_build_object(m.instrument, m.price::text);
            ELSE
                v_missing := v_missing || m.instrument;
            END IF;
        END LOOP;
        IF v_missing IS NOT NULL THEN
            PERFORM ex7._raise(409, pg_catalog.format('no mark price for %s: nothing was flattened nor changed',
                                                      pg_catalog.array_to_string(v_missing, ', ')),
                               pg_catalog.jsonb_build_object('code', 'no_mark_price', 'instruments', pg_catalog.to_jsonb(v_missing)));
        END IF;
        FOR s IN SELECT * FROM ex7.signals x
                  WHERE x.user_id = p_user AND x.mode = p_mode::ex7.trade_mode AND x.status = 'open'
                  ORDER BY x.fired_at, x.id FOR UPDATE LOOP
            s := ex7._close_at(s, (v_marks ->> s.instrument)::numeric, 'closed', 'kill_switch', pg_catalog.now());
            IF s.id IS NOT NULL THEN
                v_closed := v_closed || pg_catalog.jsonb_build_array(ex7._signal_json(s));
                PERFORM ex7._settle_drained(p_user, s.strategy_id, s.mode);
            END IF;
        END LOOP;
    END IF;

    IF v_body ->> 'state' = 'active' THEN
        DELETE FROM ex7.trading_states x WHERE x.user_id = p_user AND x.mode = p_mode::ex7.trade_mode;
    ELSE
        INSERT INTO ex7.trading_states AS t (user_id, mode, state, reason, changed_at)
        VALUES (p_user, p_mode::ex7.trade_mode, v_body ->> 'state', v_body ->> 'reason', pg_catalog.now())
        ON CONFLICT (user_id, mode) DO UPDATE
           SET state = EXCLUDED.state, reason = EXCLUDED.reason, changed_at = EXCLUDED.changed_at;
    END IF;
    v_json := ex7._trading_state_json(p_user, p_mode);
    v_seq := ex7._emit_event(p_user, 'trading_state', NULL, NULL, v_json);
    PERFORM ex7._alert_trading_state(p_user, v_json, v_seq);
    RETURN v_json || pg_catalog.jsonb_build_object('flattened', v_closed, 'event_id', v_seq);
END
$$;
COMMENT ON FUNCTION ex7.set_trading_state(uuid, text, jsonb) IS
'Returns the user''s trading state for the mode plus flattened (the signals closed) and event_id, after setting it (PUT /api/risk/state): body {state: active | halted | reducing, reason?, flatten?: true closes every open signal of the mode at its mark, close_reason kill_switch; only with halted}. A trading_state event and alert. X7409 no_mark_price (nothing changed) when an instrument to flatten has no fresh mark; X7422 for a bad mode or body.';

/*
 * set_service_trading_state: PUT /api/risk/service-state (service_role). p_scope '*' (every instrument) or
 * an instrument symbol. The instrument rows it covers are locked FOR UPDATE first (see the head of this
 * file); the change is broadcast on commit on channel trading_halt, which ex7d sends to every stream.
 */
CREATE OR REPLACE FUNCTION ex7.set_service_trading_state(p_body jsonb)
RETURNS jsonb
LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
    v_body jsonb := ex7._state_body(p_body, ARRAY['scope', 'state', 'reason']);
    v_scope text := coalesce(p_body ->> 'scope', '*');
BEGIN
    -- "all" as the answers and the broadcast name it, or "*"
    IF v_scope = 'all' THEN
        v_scope := '*';
    END IF;
    IF v_scope <> '*' THEN
        v_scope := pg_catalog.upper(v_scope);
        IF NOT EXISTS (SELECT 1 FROM ex7.instruments i WHERE i.symbol = v_scope) THEN
            PERFORM ex7._invalid('["body","scope"]', 'scope must be all (or *: every instrument) or a known instrument',
                                 'value_error.instrument');
        END IF;
    END IF;
    PERFORM 1 FROM ex7.instruments i WHERE v_scope = '*' OR i.symbol = v_scope ORDER BY i.symbol FOR UPDATE;
    IF v_body ->> 'state' = 'active' THEN
        DELETE FROM ex7.trading_halts h WHERE h.scope = v_scope;
    ELSE
        INSERT INTO ex7.trading_halts AS h (scope, state, reason, changed_at)
        VALUES (v_scope, v_body ->> 'state', v_body ->> 'reason', pg_catalog.now())
        ON CONFLICT (scope) DO UPDATE SET state = EXCLUDED.state, reason = EXCLUDED.reason, changed_at = EXCLUDED.changed_at;
    END IF;
    PERFORM pg_catalog.pg_notify('trading_halt', pg_catalog.jsonb_build_object(
        'scope', CASE v_scope WHEN '*' THEN 'all' ELSE 'instrument' END, 'instrument', NULLIF(v_scope, '*'),
        'state', v_body ->> 'state', 'reason', v_body ->> 'reason', 'changed_at', pg_catalog.now())::text);
    RETURN ex7.service_trading_states();
END
$$;
COMMENT ON FUNCTION ex7.set_service_trading_state(jsonb) IS
'Returns the service''s trading states after setting one (PUT /api/risk/service-state, service_role): body {scope: all or * (the default: every instrument) or an instrument, state: active | halted | reducing, reason?}. Waits for fires in flight on the instruments covered; broadcast to every stream on channel trading_halt. X7422 for a bad body or scope.';

CREATE OR REPLACE FUNCTION ex7.service_trading_states()
RETURNS jsonb
LANGUAGE sql STABLE
AS $$
    SELECT pg_catalog.jsonb_build_object('items', coalesce(pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object(
               'scope', CASE h.scope WHEN '*' THEN 'all' ELSE 'instrument' END, 'instrument', NULLIF(h.scope, '*'),
               'state', h.state, 'reason', h.reason, 'changed_at', h.changed_at) ORDER BY h.scope), '[]'))
      FROM ex7.trading_halts h;
$$;
COMMENT ON FUNCTION ex7.service_trading_states() IS
'Returns {items: [{scope: all | instrument, instrument, state, reason, changed_at}]}: the service''s trading states in force (GET /api/risk/service-state).';
