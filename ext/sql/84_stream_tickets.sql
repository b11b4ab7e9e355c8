/* ext/sql/84_stream_tickets.sql: single-use tickets for the signal stream (docs/stream.md, "Tickets for
 * browsers"; the table: 84_stream_tickets_schema.sql). A ticket stands in for the bearer token on one
 * request, GET /api/signals/stream?ticket=..., because a browser's EventSource cannot send a header. It is
 * valid for 30 s, bound to the user who asked for it, and opens one stream once. */

/* the lifetime of a ticket, in seconds: long enough for a page to open the EventSource after the POST */
CREATE OR REPLACE FUNCTION ex7._stream_ticket_ttl()
RETURNS integer
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT 30 $$;
COMMENT ON FUNCTION ex7._stream_ticket_ttl() IS 'Returns the seconds a stream ticket stays valid (30).';

/* the most tickets a user may create in one minute (beyond the tier's rate limit on the route) */
CREATE OR REPLACE FUNCTION ex7._stream_ticket_per_minute()
RETURNS integer
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT 30 $$;
COMMENT ON FUNCTION ex7._stream_ticket_per_minute() IS 'Returns the most stream tickets a user may create in a minute (30).';

CREATE OR REPLACE FUNCTION ex7._stream_ticket_digest(p_ticket text)
RETURNS bytea
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
AS $$
    SELECT pg_catalog.sha256(pg_catalog.convert_to(p_ticket, 'UTF8'));
$$;
COMMENT ON FUNCTION ex7._stream_ticket_digest(text) IS 'Returns the SHA-256 digest of a stream ticket, as ex7.stream_tickets.digest stores it.';

CREATE OR REPLACE FUNCTION ex7.create_stream_ticket(p_user uuid)
RETURNS jsonb
LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
    c_ttl CONSTANT integer := ex7._stream_ticket_ttl();
    c_cap CONSTANT integer := ex7._stream_ticket_per_minute();
    v_now timestamptz := pg_catalog.now();
    v_ticket text;
    v_expires timestamptz;
    v_recent integer;
    v_oldest timestamptz;
BEGIN
    IF p_user IS NULL THEN
        PERFORM ex7._raise(401, 'acting user is required');
    END IF;
    -- the user's tickets of the last minute (the primary key's user_id prefix; a user has few rows: the
    -- retention job deletes them once expired)
    SELECT pg_catalog.count(*), pg_catalog.min(t.created_at) INTO v_recent, v_oldest
      FROM ex7.stream_tickets t
     WHERE t.user_id = p_user AND t.created_at > v_now - interval '1 minute';
    IF v_recent >= c_cap THEN
        PERFORM ex7._raise(429, pg_catalog.format('too many stream tickets: at most %s a minute', c_cap),
                           pg_catalog.jsonb_build_object(
                               'code', 'stream_tickets_rate_limited', 'limit', c_cap,
                               'retry_after', GREATEST(pg_catalog.ceil(EXTRACT(epoch FROM
                                   v_oldest + interval '1 minute' - v_now))::integer, 1)));
    END IF;
    -- 'stk_' and 64 hex digits: two version-4 uuids, 244 random bits (as a hook secret, 79_webhooks.sql)
    v_ticket := 'stk_' || pg_catalog.encode(pg_catalog.uuid_send(pg_catalog.gen_random_uuid())
                                            || pg_catalog.uuid_send(pg_catalog.gen_random_uuid()), 'hex');
    v_expires := v_now + pg_catalog.make_interval(secs => c_ttl);
    INSERT INTO ex7.stream_tickets (user_id, digest, created_at, expires_at)
    VALUES (p_user, ex7._stream_ticket_digest(v_ticket), v_now, v_expires);
    RETURN pg_catalog.jsonb_build_object('ticket', v_ticket, 'expires_at', v_expires, 'expires_in', c_ttl);
END
$$;
COMMENT ON FUNCTION ex7.create_stream_ticket(uuid) IS
'Returns {ticket, expires_at, expires_in}: a new single-use ticket of the user for the signal stream (POST /api/signals/stream/ticket), which GET /api/signals/stream?ticket=<ticket> accepts once instead of a bearer token within expires_in (30) seconds (docs/stream.md). Only its SHA-256 digest is stored: the ticket is shown here once. X7429 stream_tickets_rate_limited (with limit and retry_after) beyond 30 tickets of the user in a minute.';

CREATE OR REPLACE FUNCTION ex7.redeem_stream_ticket(p_ticket text)
RETURNS jsonb
LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
    v_user uuid;
    v_created timestamptz;
BEGIN
    -- the message never repeats the ticket: ex7d logs failed statements (docs/observability.md)
    IF p_ticket IS NULL OR p_ticket !~ '^stk_[0-9a-f]{64}$' THEN
        PERFORM ex7._raise(401, 'invalid stream ticket: unknown, expired or already used');
    END IF;
    -- one winner: a concurrent redemption waits for the row lock, then sees used_at set and matches nothing
    -- (READ COMMITTED re-checks the WHERE clause on the updated row; specs/stream_ticket.spec)
    UPDATE ex7.stream_tickets t
       SET used_at = pg_catalog.now()
     WHERE t.digest = ex7._stream_ticket_digest(p_ticket)
       AND t.used_at IS NULL AND t.expires_at > pg_catalog.now()
    RETURNING t.user_id, t.created_at INTO v_user, v_created;
    IF v_user IS NULL THEN
        PERFORM ex7._raise(401, 'invalid stream ticket: unknown, expired or already used');
    END IF;
    RETURN pg_catalog.jsonb_build_object('user_id', v_user,
                                         'issued_at', pg_catalog.floor(EXTRACT(epoch FROM v_created))::bigint);
END
$$;
COMMENT ON FUNCTION ex7.redeem_stream_ticket(text) IS
'Returns {user_id, issued_at (epoch seconds of the ticket''s creation)} and marks the ticket used: ex7d''s authentication of GET /api/signals/stream?ticket=... (docs/stream.md). Each ticket is accepted once, before it expires; of two concurrent redemptions exactly one wins. X7401 for a ticket that is malformed, unknown, expired or already used (one message for all). Not a bound role''s: only the service calls it.';
