/* ext/sql/55_events.sql: the per-user event log behind the SSE stream, and its ordering guarantee.
 *
 * The problem (ex7-api-reference.txt, Signal Stream: Last-Event-ID replay; docs/signals.md, "Events and
 * their order"): two transactions fire events for one user; if ids came from a global sequence, the one
 * holding the higher id could commit first, a client could read it and resume from it later, and the lower
 * id committing afterwards would never be replayed.
 *
 * The mechanism: the id is the user's own counter users.last_event_seq, incremented by an UPDATE of the
 * user row. The row lock it takes is held until commit, so a second transaction of the same user waits
 * for the first to commit or abort before it can take the next number. For one user, ids are dense and
 * become visible in id order: whoever sees id N has every id below N available. specs/event_order.spec
 * proves it. Cost: one user's event writers serialize (a user fires a handful of signals per bar).
 */

/*
 * The NOTIFY payload of an event (channel signal_fired or signal_closed). It carries the signal itself,
 * so ex7d's one LISTEN connection fans it out to its SSE subscribers without a query per event: the ids
 * and the instrument (what the stream filters on) as a JSON object whose last member "signal" is the
 * signal JSON exactly as the log stores it (the bytes a replay sends). Only under the 8000-byte limit
 * of a payload (facts.md): beyond it "signal" is left out and the listener reads the log instead.
 */
CREATE OR REPLACE FUNCTION ex7._event_notification(p_seq bigint, p_user uuid, p_kind text, p_signal_id uuid,
                                        p_strategy_id uuid, p_payload jsonb)
RETURNS text
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
AS $$
DECLARE
    v_head text := pg_catalog.jsonb_build_object('event_id', p_seq, 'user_id', p_user, 'kind', p_kind,
                                                 'signal_id', p_signal_id, 'strategy_id', p_strategy_id,
                                                 'instrument', p_payload ->> 'instrument')::text;
    v_note text := pg_catalog.left(v_head, -1) || ', "signal": ' || p_payload::text || '}';
BEGIN
    IF pg_catalog.octet_length(v_note) >= 8000 THEN
        RETURN v_head;
    END IF;
    RETURN v_note;
END
$$;
COMMENT ON FUNCTION ex7._event_notification(bigint, uuid, text, uuid, uuid, jsonb) IS
'Returns the NOTIFY payload of an event: {event_id, user_id, kind, signal_id, strategy_id, instrument, signal} with signal last, or without signal when that would reach the 8000-byte payload limit.';

CREATE OR REPLACE FUNCTION ex7._emit_event(p_user uuid, p_kind text, p_signal_id uuid, p_strategy_id uuid, p_payload jsonb)
RETURNS bigint
LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
    v_seq bigint;
    v_now timestamptz := pg_catalog.now();     -- a variable: Citus refuses now() in a CASE of an UPDATE
BEGIN
    UPDATE ex7.users
       SET last_event_seq = last_event_seq + 1,
           last_signal_at = CASE WHEN p_kind = 'signal' THEN v_now ELSE last_signal_at END
     WHERE id = p_user
    RETURNING last_event_seq INTO v_seq;
    IF v_seq IS NULL THEN
        PERFORM ex7._raise(404, 'user not found');
    END IF;
    INSERT INTO ex7.signal_events (user_id, seq, kind, signal_id, strategy_id, payload)
    VALUES (p_user, v_seq, p_kind, p_signal_id, p_strategy_id, p_payload);
    -- alerts (docs/alerts.md, ext/sql/76_alerts.sql): the in-app notification and the outbox rows of this event,
    -- written in this transaction so they commit (or roll back) with the signal
    -- (the risk events, risk_lock and trading_state, have their alerts written by their callers, who know
    -- what to say: ex7._alert_lock, ex7._alert_trading_state)
    IF p_kind IN ('signal', 'signal_closed') THEN
        PERFORM ex7._alert_signal_event(p_user, p_kind, v_seq, p_strategy_id, p_payload);
    END IF;
    -- NOTIFY is delivered on commit only, in commit order (facts.md): ex7d's LISTEN connection sees the
    -- event once it is visible to a replay. Distinct seq values keep payloads distinct, so none is merged.
    -- Channels: signal_fired, signal_closed, and risk_event for risk_lock, trading_state and study_progress.
    PERFORM pg_catalog.pg_notify(CASE p_kind WHEN 'signal' THEN 'signal_fired' WHEN 'signal_closed' THEN 'signal_closed'
                                             ELSE 'risk_event' END,
                                 ex7._event_notification(v_seq, p_user, p_kind, p_signal_id, p_strategy_id, p_payload));
    RETURN v_seq;
END
$$;
COMMENT ON FUNCTION ex7._emit_event(uuid, text, uuid, uuid, jsonb) IS
'Returns the new event id. Appends an event (signal, signal_closed, the risk events risk_lock and trading_state, or study_progress; the last three name no signal) to the user''s log under the user row lock and notifies signal_fired, signal_closed or risk_event on commit with ex7._event_notification.';

CREATE OR REPLACE FUNCTION ex7.replay_since_event_id(p_user uuid, p_last_event_id bigint, p_strategy_id uuid DEFAULT NULL,
                                          p_limit integer DEFAULT 1000)
RETURNS TABLE (event_id bigint, kind text, signal_id uuid, strategy_id uuid, payload jsonb, created_at timestamptz)
LANGUAGE plpgsql STABLE
AS $$
BEGIN
    IF p_last_event_id IS NULL OR p_last_event_id < 0 THEN
        PERFORM ex7._invalid('["header","Last-Event-ID"]', 'Last-Event-ID must be a non-negative integer');
    END IF;
    PERFORM ex7._check_limit(p_limit, '["query","limit"]', 10000);
    RETURN QUERY
        SELECT e.seq, e.kind, e.signal_id, e.strategy_id, e.payload, e.created_at
          FROM ex7.signal_events e
         WHERE e.user_id = p_user AND e.seq > p_last_event_id
           -- an event of no strategy (a user-wide lock, the trading state) concerns every strategy
           AND (p_strategy_id IS NULL OR e.strategy_id IS NULL OR e.strategy_id = p_strategy_id)
         ORDER BY e.seq
         LIMIT p_limit;
END
$$;
COMMENT ON FUNCTION ex7.replay_since_event_id(uuid, bigint, uuid, integer) IS
'Returns the user''s events with id greater than p_last_event_id (optionally one strategy''s), oldest first, at most p_limit (default 1000, max 10000). Raises X7422 for a negative id.';

CREATE OR REPLACE FUNCTION ex7.last_event_id(p_user uuid)
RETURNS bigint
LANGUAGE plpgsql STABLE
AS $$
-- PL/pgSQL: Citus plans no statement on a distributed table with the parameters of a SQL function
-- (docs/scale-out.md)
DECLARE
    v_seq bigint;
BEGIN
    SELECT u.last_event_seq INTO v_seq FROM ex7.users u WHERE u.id = p_user;
    RETURN coalesce(v_seq, 0);
END
$$;
COMMENT ON FUNCTION ex7.last_event_id(uuid) IS
'Returns the id of the user''s newest committed event (0 when none): where a new stream without Last-Event-ID starts.';

/*
 * The compliance banner every signal stream opens with (ex7-api-reference.txt, Signal Stream: "2. Emit
 * one-time compliance banner"). The signals are hypothetical (paper) performance, so the banner is the
 * CFTC Rule 4.41(b)(1)(i) statement, verbatim (facts.md), which must be shown "prominently and in
 * immediate proximity to any hypothetical (backtest, paper) performance".
 */
CREATE OR REPLACE FUNCTION ex7.compliance_banner()
RETURNS jsonb
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
    SELECT pg_catalog.jsonb_build_object(
        'rule', 'CFTC Rule 4.41(b)(1)(i)',
        'text', 'HYPOTHETICAL OR SIMULATED PERFORMANCE RESULTS HAVE CERTAIN INHERENT LIMITATIONS. UNLIKE AN ACTUAL PERFORMANCE RECORD, SIMULATED RESULTS DO NOT REPRESENT ACTUAL TRADING. ALSO, SINCE THE TRADES HAVE NOT ACTUALLY BEEN EXECUTED, THE RESULTS MAY HAVE UNDER- OR OVER-COMPENSATED FOR THE IMPACT, IF ANY, OF CERTAIN MARKET FACTORS, SUCH AS LACK OF LIQUIDITY. SIMULATED TRADING PROGRAMS IN GENERAL ARE ALSO SUBJECT TO THE FACT THAT THEY ARE DESIGNED WITH THE BENEFIT OF HINDSIGHT. NO REPRESENTATION IS BEING MADE THAT ANY ACCOUNT WILL OR IS LIKELY TO ACHIEVE PROFITS OR LOSSES SIMILAR TO THOSE SHOWN.');
$$;
COMMENT ON FUNCTION ex7.compliance_banner() IS
'Returns {rule, text}: the CFTC Rule 4.41(b)(1)(i) hypothetical-performance statement, verbatim, that opens every signal stream.';

/*
 * stream_replay: the frames that open a signal stream, and what ex7d reads when a subscriber has to
 * catch up. The reference's lifecycle (Signal Stream): "1. Emit retry hint (client reconnect delay).
 * 2. Emit one-time compliance banner. 3. If Last-Event-ID provided, replay any signals fired after that
 * id via replay_since_event_id(user_id, last_event_id, strategy_id). 4. Subscribe [...]". ex7d
 * subscribes to the NOTIFY fan-out BEFORE it runs this, holds back the live events that arrive
 * meanwhile, and drops those with an id it replayed: head and the rows come from one snapshot, so
 * nothing committed in between is missed (docs/stream.md).
 *
 * The first row is the banner: its event_id is the id the replay starts after (the client's
 * Last-Event-ID, or head when the client sent none: a new stream starts after the newest committed
 * event; an id beyond head, from a log that was since reset, also starts at head), its instrument the
 * stream's instrument filter as ex7d applies it (upper case: like List Signals, case-insensitive). The
 * rows after it are the events after that id, oldest first, at most p_limit, with the SSE event name
 * (signal or signal_closed) and the signal JSON as logged. The instrument filter is not applied here:
 * "Instrument filter is post-queue", so ex7d applies it to replayed and live events alike (and a batch
 * of p_limit rows tells it that more may follow).
 */
CREATE OR REPLACE FUNCTION ex7.stream_replay(p_user uuid, p_last_event_id text DEFAULT NULL,
                                  p_strategy_id uuid DEFAULT NULL, p_instrument text DEFAULT NULL,
                                  p_limit integer DEFAULT 1000)
RETURNS TABLE (head bigint, event_id bigint, event text, instrument text, data text)
LANGUAGE plpgsql STABLE
AS $$
DECLARE
    v_head bigint := ex7.last_event_id(p_user);
    v_after bigint;
BEGIN
    PERFORM ex7._require_compliance(p_user);    -- the stream delivers signals: 412 until accepted (docs/billing.md)
    IF p_last_event_id IS NULL OR p_last_event_id = '' THEN
        v_after := v_head;
    ELSIF p_last_event_id ~ '^[0-9]{1,18}$' THEN
        v_after := LEAST(p_last_event_id::bigint, v_head);
    ELSE
        PERFORM ex7._invalid('["header","Last-Event-ID"]', 'Last-Event-ID must be a non-negative integer',
                             'type_error.integer');
    END IF;
    IF p_instrument IS NOT NULL AND pg_catalog.length(p_instrument) NOT BETWEEN 1 AND 32 THEN
        PERFORM ex7._invalid('["query","instrument"]', 'instrument must be 1 to 32 characters',
                             'value_error.any_str.max_length');
    END IF;
    RETURN QUERY SELECT v_head, v_after, 'compliance'::text, pg_catalog.upper(p_instrument),
                        ex7.compliance_banner()::text;
    RETURN QUERY
        SELECT v_head, e.event_id, e.kind, e.payload ->> 'instrument', e.payload::text
          FROM ex7.replay_since_event_id(p_user, v_after, p_strategy_id, p_limit) AS e;
END
$$;
COMMENT ON FUNCTION ex7.stream_replay(uuid, text, uuid, text, integer) IS
'Returns the rows (head, event_id, event, instrument, data) a signal stream starts with: first the compliance banner (event_id = the id the replay starts after: Last-Event-ID, or head, the newest committed event id, when absent or beyond head; instrument = the normalized instrument filter), then the user''s events after that id (optionally one strategy''s), oldest first, at most p_limit (1..10000). X7422 for a Last-Event-ID that is not a non-negative integer or an instrument longer than 32 characters.';
