/* ext/sql/84_stream_tickets_schema.sql: single-use tickets for the signal stream (docs/stream.md, "Tickets
 * for browsers"). DDL only: new in 0.3.0, included whole by ext/upgrade/0.2.0--0.3.0.sql.
 *
 * A browser's EventSource cannot send an Authorization header (WHATWG HTML, "Server-sent events": the
 * constructor takes a URL and withCredentials only). A page holding a token asks for a ticket
 * (ex7.create_stream_ticket, POST /api/signals/stream/ticket) and opens GET /api/signals/stream?ticket=...;
 * ex7d redeems it once (ex7.redeem_stream_ticket) before the stream opens. Only the SHA-256 digest of a
 * ticket is stored, so the table (and a dump of it) holds nothing that opens a stream.
 *
 * Per-user, keyed (user_id, id) and distributed by user on Citus (docs/scale-out.md). A redemption knows
 * the ticket alone, not the user: it finds the row by its digest (stream_tickets_digest_idx), which on Citus
 * asks every shard.
 */

CREATE TABLE ex7.stream_tickets (
    user_id     uuid NOT NULL REFERENCES ex7.users (id),
    id          uuid NOT NULL DEFAULT pg_catalog.gen_random_uuid(),
    -- SHA-256 of the ticket (ex7._stream_ticket_digest); the ticket itself is shown once, when created
    digest      bytea NOT NULL CHECK (pg_catalog.length(digest) = 32),
    created_at  timestamptz NOT NULL DEFAULT pg_catalog.now(),
    expires_at  timestamptz NOT NULL,
    used_at     timestamptz,
    PRIMARY KEY (user_id, id),
    CHECK (expires_at > created_at)
);
-- the redemption's lookup (a ticket names no user); not unique: a unique index must hold user_id
-- (test/pgtap/schema.sql), and 244 random bits do not collide
CREATE INDEX stream_tickets_digest_idx ON ex7.stream_tickets (digest);
SELECT pg_catalog.pg_extension_config_dump('ex7.stream_tickets', '');
COMMENT ON TABLE ex7.stream_tickets IS 'Single-use tickets that open the signal stream without an Authorization header (GET /api/signals/stream?ticket=..., docs/stream.md): the digest of each, valid about 30 s, used once. Deleted by the retention job once expired (docs/jobs.md).';
COMMENT ON COLUMN ex7.stream_tickets.digest IS 'SHA-256 of the ticket text; the ticket is not stored.';
COMMENT ON COLUMN ex7.stream_tickets.used_at IS 'When ex7d redeemed the ticket (NULL: not yet); a used ticket opens nothing.';

/* Row-level security: as in 10_schema.sql, a bound role sees only its user's rows. */
ALTER TABLE ex7.stream_tickets ENABLE ROW LEVEL SECURITY;
ALTER TABLE ex7.stream_tickets FORCE ROW LEVEL SECURITY;
CREATE POLICY stream_tickets_own ON ex7.stream_tickets USING (user_id = ex7.current_user_id())
    WITH CHECK (user_id = ex7.current_user_id());
