-- sql/stream_tickets.sql: single-use tickets for the signal stream (ext/sql/84_stream_tickets_schema.sql,
-- 84_stream_tickets.sql, docs/stream.md "Tickets for browsers"): a ticket's shape and lifetime, only its
-- digest stored, redeemed once for its own user, a second redemption, an expired, an unknown and a
-- malformed ticket 401 (one message for all, never the ticket), the per-minute cap (429), a bound role
-- that creates its own tickets, cannot create another user's, cannot read the digests nor redeem, and the
-- retention job deleting expired tickets.
\set u1 '00000000-0000-4000-8000-84000000000a'
\set u2 '00000000-0000-4000-8000-84000000000b'
SELECT ex7.ensure_user(u) IS NOT NULL AS ready FROM unnest(ARRAY[:'u1', :'u2']::uuid[]) AS u;

-- create: 'stk_' + 64 hex digits, valid 30 s; the row holds the digest, not the ticket
SELECT ex7.create_stream_ticket(:'u1') AS t \gset
SELECT :'t'::jsonb ->> 'ticket' ~ '^stk_[0-9a-f]{64}$' AS ticket_shape,
       (:'t'::jsonb ->> 'expires_at')::timestamptz = (SELECT created_at + interval '30 seconds' FROM ex7.stream_tickets
                                                          WHERE user_id = :'u1') AS expires_at,
       :'t'::jsonb -> 'expires_in' AS expires_in,
       (SELECT array_agg(k ORDER BY k) FROM jsonb_object_keys(:'t'::jsonb) k) AS keys;
SELECT :'t'::jsonb ->> 'ticket' AS ticket \gset
SELECT count(*) AS rows, bool_and(digest = sha256(convert_to(:'ticket', 'UTF8'))) AS digest_stored,
       bool_and(used_at IS NULL) AS unused,
       bool_and(position(convert_to(:'ticket', 'UTF8') IN digest) = 0) AS ticket_not_stored
  FROM ex7.stream_tickets WHERE user_id = :'u1';
-- two tickets are never the same
SELECT ex7.create_stream_ticket(:'u1') ->> 'ticket' <> :'ticket' AS another_ticket;

-- redeem: the user once (with the ticket's creation time, which ex7d checks against a password change),
-- then 401
SELECT ex7.redeem_stream_ticket(:'ticket') AS r \gset
SELECT :'r'::jsonb ->> 'user_id' = :'u1' AS redeemed_for_u1,
       (:'r'::jsonb ->> 'issued_at')::bigint = (SELECT floor(extract(epoch FROM created_at))::bigint FROM ex7.stream_tickets
                                                  WHERE digest = sha256(convert_to(:'ticket', 'UTF8'))) AS issued_at,
       (SELECT array_agg(k ORDER BY k) FROM jsonb_object_keys(:'r'::jsonb) k) AS keys;
SELECT ex7_test.err(format('SELECT ex7.redeem_stream_ticket(%L)', :'ticket')) AS second_use;
SELECT used_at IS NOT NULL AS marked_used FROM ex7.stream_tickets
 WHERE digest = sha256(convert_to(:'ticket', 'UTF8'));

-- expired: a ticket whose 30 s have passed (moved into the past here) is 401, and stays unused
SELECT ex7.create_stream_ticket(:'u2') ->> 'ticket' AS old \gset
UPDATE ex7.stream_tickets SET created_at = created_at - interval '31 seconds', expires_at = expires_at - interval '31 seconds'
 WHERE digest = sha256(convert_to(:'old', 'UTF8'));
SELECT ex7_test.err(format('SELECT ex7.redeem_stream_ticket(%L)', :'old')) AS expired;
SELECT used_at IS NULL AS expired_unused FROM ex7.stream_tickets WHERE digest = sha256(convert_to(:'old', 'UTF8'));

-- unknown, malformed, NULL: the same 401, whose message never repeats the ticket
SELECT ex7_test.err($$SELECT ex7.redeem_stream_ticket('stk_' || repeat('0', 64))$$) AS unknown;
SELECT ex7_test.err($$SELECT ex7.redeem_stream_ticket('stk_' || repeat('A', 64))$$) AS upper_case;
SELECT ex7_test.err($$SELECT ex7.redeem_stream_ticket('eyJhbGciOiJIUzI1NiJ9.e30.x')$$) AS a_jwt;
SELECT ex7_test.err($$SELECT ex7.redeem_stream_ticket(NULL)$$) AS null_ticket;
SELECT ex7_test.err($$SELECT ex7.create_stream_ticket(NULL)$$) AS no_user;

-- cross-user: u2's ticket opens u2's stream, never u1's; u1's rows are not u2's
SELECT ex7.create_stream_ticket(:'u2') ->> 'ticket' AS t2 \gset
SELECT ex7.redeem_stream_ticket(:'t2') ->> 'user_id' = :'u2' AS u2_ticket_is_u2s;
SELECT user_id = :'u1' AS owner, count(*) FROM ex7.stream_tickets WHERE user_id IN (:'u1', :'u2')
 GROUP BY 1 ORDER BY 1;

-- the cap: 30 tickets of a user a minute (u1 has 2), then 429 with retry_after; u2 is not affected
SELECT count(ex7.create_stream_ticket(:'u1')) AS created FROM generate_series(1, 28);
SELECT ex7_test.err(format('SELECT ex7.create_stream_ticket(%L)', :'u1')) AS over_cap;
UPDATE ex7.stream_tickets SET created_at = created_at - interval '61 seconds', expires_at = expires_at - interval '61 seconds'
 WHERE user_id = :'u1';
SELECT ex7.create_stream_ticket(:'u1') ? 'ticket' AS a_minute_later;
SELECT ex7.create_stream_ticket(:'u2') ? 'ticket' AS u2_unaffected;

-- a bound role: creates its own tickets, not another user's; reads them without the digest; never redeems
CREATE ROLE ex7_stk_role;
SELECT ex7.bind_role('ex7_stk_role', :'u2');
GRANT USAGE ON SCHEMA ex7_test TO ex7_stk_role;
SET ROLE ex7_stk_role;
SELECT ex7.create_stream_ticket(:'u2') ->> 'ticket' AS t3 \gset
SELECT count(*) > 0 AS sees_own, bool_and(user_id = :'u2') AS only_own FROM ex7.stream_tickets;
SELECT ex7_test.err(format('SELECT ex7.create_stream_ticket(%L)', :'u1')) AS for_another_user;
SELECT ex7_test.err($$SELECT digest FROM ex7.stream_tickets$$) AS digest_hidden;
SELECT ex7_test.err(format('SELECT ex7.redeem_stream_ticket(%L)', :'t3')) AS role_redeems;
SELECT ex7_test.err($$DELETE FROM ex7.stream_tickets$$) AS role_deletes;
RESET ROLE;
SELECT ex7.redeem_stream_ticket(:'t3') ->> 'user_id' = :'u2' AS service_redeems;
DELETE FROM ex7.role_bindings WHERE role_name = 'ex7_stk_role';
DROP OWNED BY ex7_stk_role;
DROP ROLE ex7_stk_role;

-- retention: expired tickets go (used or not), valid ones stay
SELECT count(*) FILTER (WHERE expires_at < now()) AS expired, count(*) FILTER (WHERE expires_at >= now()) AS valid
  FROM ex7.stream_tickets WHERE user_id IN (:'u1', :'u2');
SELECT ex7.job_retention(now()) -> 'stream_tickets' >= '31' AS deleted;
SELECT count(*) FILTER (WHERE expires_at < now()) AS expired, count(*) FILTER (WHERE expires_at >= now()) AS valid
  FROM ex7.stream_tickets WHERE user_id IN (:'u1', :'u2');
