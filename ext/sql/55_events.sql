/* ext/sql/55_events.sql: the per-user event log behind the SSE stream, and its ordering guarantee.
 *
 * The problem (issue "extension core"): two transactions fire events for one user; if ids came from a
 * global sequence, the one holding the higher id could commit first, a client could read it and resume
 * from it later, and the lower id committing afterwards would never be replayed.
 *
 * The mechanism: the id is the user's own counter users.last_event_seq, incremented by an UPDATE of the
 * user row. The row lock it takes is held until commit, so a second transaction of the same user waits
 * for the first to commit or abort before it can take the next number. For one user, ids are dense and
 * become visible in id order: whoever sees id N has every id below N available. specs/event_order.spec
 * proves it. Cost: one user's event writers serialize (a user fires a handful of signals per bar).
 */

CREATE OR REPLACE FUNCTION ex7._emit_event(p_user uuid, p_kind text, p_signal_id uuid, p_strategy_id uuid, p_payload jsonb)
RETURNS bigint
LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
    v_seq bigint;
BEGIN
    UPDATE ex7.users
       SET last_event_seq = last_event_seq + 1,
           last_signal_at = CASE WHEN p_kind = 'signal' THEN pg_catalog.now() ELSE last_signal_at END
     WHERE id = p_user
    RETURNING last_event_seq INTO v_seq;
    IF v_seq IS NULL THEN
        PERFORM ex7._raise(404, 'user not found');
    END IF;
    INSERT INTO ex7.signal_events (user_id, seq, kind, signal_id, strategy_id, payload)
    VALUES (p_user, v_seq, p_kind, p_signal_id, p_strategy_id, p_payload);
    -- NOTIFY is delivered on commit only, in commit order (facts.md). The channel names the kind of event
    -- (signal_fired, signal_closed); the payload stays far below the 8000-byte limit: ids only, the
    -- listener fetches the signal itself. Distinct seq values keep payloads distinct, so none is merged.
    PERFORM pg_catalog.pg_notify(
        CASE p_kind WHEN 'signal' THEN 'signal_fired' ELSE p_kind END,
        pg_catalog.jsonb_build_object('event_id', v_seq, 'user_id', p_user, 'kind', p_kind,
                                      'signal_id', p_signal_id, 'strategy_id', p_strategy_id)::text);
    RETURN v_seq;
END
$$;
COMMENT ON FUNCTION ex7._emit_event(uuid, text, uuid, uuid, jsonb) IS
'Returns the new event id. Appends a signal or signal_closed event to the user''s log under the user row lock and notifies signal_fired or signal_closed on commit.';

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
           AND (p_strategy_id IS NULL OR e.strategy_id = p_strategy_id)
         ORDER BY e.seq
         LIMIT p_limit;
END
$$;
COMMENT ON FUNCTION ex7.replay_since_event_id(uuid, bigint, uuid, integer) IS
'Returns the user''s events with id greater than p_last_event_id (optionally one strategy''s), oldest first, at most p_limit (default 1000, max 10000). Raises X7422 for a negative id.';

CREATE OR REPLACE FUNCTION ex7.last_event_id(p_user uuid)
RETURNS bigint
LANGUAGE sql STABLE
AS $$
    SELECT coalesce((SELECT u.last_event_seq FROM ex7.users u WHERE u.id = p_user), 0);
$$;
COMMENT ON FUNCTION ex7.last_event_id(uuid) IS
'Returns the id of the user''s newest committed event (0 when none): where a new stream without Last-Event-ID starts.';
