/* ext/sql/00_base.sql: the start of the ex7 install script (ext/ex7--<version>.sql is assembled from
 * ext/sql/NN_*.sql in name order). Roles, the error helpers, users and the binding of database roles to
 * users that row-level security relies on. */

-- complain if script is sourced in psql, rather than via CREATE EXTENSION
\echo Use "CREATE EXTENSION ex7" to load this file. \quit

COMMENT ON SCHEMA ex7 IS 'ex7: trading strategies, signals, P&L and the risk gate. Public API: the functions documented in docs/sql-api.md.';

/*
 * Roles. ex7_user is the group role of database roles bound to one ex7 user (ex7.role_bindings): they
 * see and change only that user's rows (row-level security). The HTTP front acts for many users, so it
 * connects as a role that bypasses RLS (superuser or BYPASSRLS) and every function checks ownership
 * itself as well. Roles are cluster-wide and outlive DROP EXTENSION; creating them only when missing keeps
 * CREATE EXTENSION repeatable in other databases of the same cluster.
 */
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = 'ex7_user') THEN
        CREATE ROLE ex7_user NOLOGIN;
    END IF;
END
$$;

/* ---------------------------------------------------------------------------------------------------
 * Errors. Every user-facing error has SQLSTATE 'X7' || <HTTP status> (docs/errors.md). DETAIL, when
 * present, is JSON and is what the HTTP front returns as "detail".
 * ------------------------------------------------------------------------------------------------- */

CREATE OR REPLACE FUNCTION ex7._raise(p_status integer, p_message text, p_detail jsonb DEFAULT NULL)
RETURNS void
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
AS $$
BEGIN
    IF p_status NOT IN (400, 401, 403, 404, 409, 412, 422, 429, 503) THEN
        RAISE EXCEPTION 'ex7._raise: unknown status %', p_status;
    END IF;
    IF p_detail IS NULL THEN
        RAISE EXCEPTION USING ERRCODE = 'X7' || p_status::text, MESSAGE = p_message;
    END IF;
    RAISE EXCEPTION USING ERRCODE = 'X7' || p_status::text, MESSAGE = p_message, DETAIL = p_detail::text;
END
$$;
COMMENT ON FUNCTION ex7._raise(integer, text, jsonb) IS
'Never returns: raises SQLSTATE X7<status> with the message and, when given, the JSON detail. Internal helper of the ex7 functions.';

CREATE OR REPLACE FUNCTION ex7._invalid(p_loc jsonb, p_msg text, p_type text DEFAULT 'value_error')
RETURNS void
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
    SELECT ex7._raise(422, p_msg,
        pg_catalog.jsonb_build_array(pg_catalog.jsonb_build_object('loc', p_loc, 'msg', p_msg, 'type', p_type)));
$$;
COMMENT ON FUNCTION ex7._invalid(jsonb, text, text) IS
'Never returns: raises X7422 whose detail is the FastAPI-shaped list [{loc, msg, type}] pointing at the failing input.';

CREATE OR REPLACE FUNCTION ex7._check_limit(p_limit integer, p_loc jsonb DEFAULT '["query","limit"]', p_max integer DEFAULT 200)
RETURNS integer
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
AS $$
BEGIN
    IF p_limit IS NULL OR p_limit < 1 OR p_limit > p_max THEN
        PERFORM ex7._invalid(p_loc, pg_catalog.format('limit must be between 1 and %s', p_max), 'value_error.number.range');
    END IF;
    RETURN p_limit;
END
$$;
COMMENT ON FUNCTION ex7._check_limit(integer, jsonb, integer) IS
'Returns the page size when it lies in 1..p_max (200 by default); raises X7422 pointing at the limit parameter otherwise.';

/* ---------------------------------------------------------------------------------------------------
 * Users: id is the JWT sub (a uuid issued by Supabase auth). The first authenticated request creates the
 * row with tier free. last_event_seq is the user's SSE event counter (ext/sql/55_events.sql).
 * ------------------------------------------------------------------------------------------------- */

CREATE TABLE ex7.users (
    id              uuid PRIMARY KEY,
    email           text CHECK (email IS NULL OR pg_catalog.length(email) <= 320),
    tier            text NOT NULL DEFAULT 'free' CHECK (tier IN ('free', 'operator', 'strategist')),
    created_at      timestamptz NOT NULL DEFAULT pg_catalog.now(),
    last_event_seq  bigint NOT NULL DEFAULT 0 CHECK (last_event_seq >= 0),
    last_signal_at  timestamptz
);
COMMENT ON TABLE ex7.users IS 'One row per authenticated user (id = JWT sub). tier decides rate limits and caps.';
COMMENT ON COLUMN ex7.users.last_event_seq IS 'The last SSE event id handed out for this user (signal_events.seq).';
COMMENT ON COLUMN ex7.users.last_signal_at IS 'When the user''s newest signal fired. Set with last_event_seq under the user row lock; /api/health reads the newest of all.';
-- /api/health's last_signal_time. An index on signals(fired_at) would serve it too, but the planner then
-- weighs it against signals_user_fired_idx for every keyset page (test/pgtap/schema.sql).
CREATE INDEX users_last_signal_idx ON ex7.users (last_signal_at DESC NULLS LAST);

/*
 * role_bindings: which ex7 user a database role acts as. Row-level security uses it through
 * ex7.current_user_id(); a role can read only its own binding and cannot change it.
 */
CREATE TABLE ex7.role_bindings (
    role_name   name PRIMARY KEY,
    user_id     uuid NOT NULL       -- no foreign key: a Citus reference table (docs/scale-out.md); users are never deleted
);
COMMENT ON TABLE ex7.role_bindings IS 'Binds a database role to one ex7 user: RLS lets that role see only the user''s rows. Managed by the operator.';

CREATE OR REPLACE FUNCTION ex7.current_user_id()
RETURNS uuid
LANGUAGE sql STABLE PARALLEL SAFE
AS $$
    SELECT b.user_id FROM ex7.role_bindings b WHERE b.role_name = CURRENT_USER;
$$;
COMMENT ON FUNCTION ex7.current_user_id() IS
'Returns the ex7 user id bound to the current database role (ex7.role_bindings), or NULL when it is bound to none. Used by the row-level security policies.';

CREATE OR REPLACE FUNCTION ex7.bind_role(p_role name, p_user uuid)
RETURNS void
LANGUAGE plpgsql VOLATILE
AS $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = p_role) THEN
        PERFORM ex7._raise(404, pg_catalog.format('role %s does not exist', p_role));
    END IF;
    PERFORM ex7._ensure_user(p_user);
    INSERT INTO ex7.role_bindings (role_name, user_id) VALUES (p_role, p_user)
    ON CONFLICT (role_name) DO UPDATE SET user_id = EXCLUDED.user_id;
    EXECUTE pg_catalog.format('GRANT ex7_user TO %I', p_role);
END
$$;
COMMENT ON FUNCTION ex7.bind_role(name, uuid) IS
'Returns nothing. Operator only: binds database role p_role to ex7 user p_user (creating the user row when missing) and grants it ex7_user, so RLS shows that role only p_user''s rows.';

CREATE OR REPLACE FUNCTION ex7._ensure_user(p_user uuid)
RETURNS void
LANGUAGE plpgsql VOLATILE
AS $$
BEGIN
    IF p_user IS NULL THEN
        PERFORM ex7._raise(401, 'acting user is required');
    END IF;
    INSERT INTO ex7.users (id) VALUES (p_user) ON CONFLICT (id) DO NOTHING;
END
$$;
COMMENT ON FUNCTION ex7._ensure_user(uuid) IS
'Returns nothing. Creates the user row (tier free) on first use; raises X7401 when the acting user is NULL.';

/*
 * Tiers and their caps (ex7-api-introduction.txt, "Rate limits + quotas": Free 30/min 500/day 20 alerts,
 * Operator 120/min 10,000/day 200 alerts, Strategist 600/min 100,000/day 2,000 alerts). A table so the
 * operator can change a cap without a release; the HTTP front reads a user's caps through ensure_user.
 */
CREATE TABLE ex7.tiers (
    tier                text PRIMARY KEY CHECK (tier IN ('free', 'operator', 'strategist')),
    rank                integer NOT NULL UNIQUE,
    requests_per_minute integer NOT NULL CHECK (requests_per_minute > 0),
    requests_per_day    integer NOT NULL CHECK (requests_per_day > 0),
    alerts_per_day      integer NOT NULL CHECK (alerts_per_day >= 0)
);
COMMENT ON TABLE ex7.tiers IS 'Per-tier caps: requests per minute and per day (enforced by the HTTP front per bearer subject), alert deliveries per day. Editable by the operator.';
INSERT INTO ex7.tiers (tier, rank, requests_per_minute, requests_per_day, alerts_per_day) VALUES
    ('free', 0, 30, 500, 20),
    ('operator', 1, 120, 10000, 200),
    ('strategist', 2, 600, 100000, 2000);

/*
 * A tier change must reach the HTTP front's cache before the user's next request ("Tier changes take
 * effect on the next request"): the functions that change ex7.users.tier or tokens_valid_after call
 * ex7._user_changed (05_users.sql), which notifies on commit; the front drops its cached caps for that user.
 * A change of the caps themselves goes through ex7.set_tier_caps (05_users.sql), which notifies '*' (every
 * user). Not a trigger: on Citus ex7.tiers is a reference table, written on every node in one two-phase
 * commit, and a transaction that ran NOTIFY cannot be prepared (docs/scale-out.md, "Triggers").
 */

/*
 * _lock_user: every writer that touches a user's signals or events takes the user row first. One lock
 * order (user row, then signal rows) rules out deadlocks between fire, close and force-close-all, and it
 * is what orders SSE event ids by commit (ext/sql/55_events.sql).
 */
CREATE OR REPLACE FUNCTION ex7._lock_user(p_user uuid)
RETURNS void
LANGUAGE plpgsql VOLATILE
AS $$
BEGIN
    PERFORM ex7._ensure_user(p_user);
    PERFORM 1 FROM ex7.users WHERE id = p_user FOR NO KEY UPDATE;
END
$$;
COMMENT ON FUNCTION ex7._lock_user(uuid) IS
'Returns nothing. Locks the user row until commit (FOR NO KEY UPDATE), creating it when missing: the first lock every signal or event writer takes.';

/* Secrets: the key that signs keyset cursors. Random at install; kept out of reach of ex7_user. */
CREATE TABLE ex7.secrets (
    name    text PRIMARY KEY,
    value   bytea NOT NULL CHECK (pg_catalog.length(value) >= 16)
);
COMMENT ON TABLE ex7.secrets IS 'Server-side keys (cursor signing). Not readable by ex7_user.';
-- gen_random_uuid() draws from pg_strong_random: two v4 uuids give 244 random bits.
INSERT INTO ex7.secrets (name, value)
VALUES ('cursor', pg_catalog.uuid_send(pg_catalog.gen_random_uuid()) || pg_catalog.uuid_send(pg_catalog.gen_random_uuid()));
