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

CREATE FUNCTION ex7._raise(p_status integer, p_message text, p_detail jsonb DEFAULT NULL)
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

CREATE FUNCTION ex7._invalid(p_loc jsonb, p_msg text, p_type text DEFAULT 'value_error')
RETURNS void
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
    SELECT ex7._raise(422, p_msg,
        pg_catalog.jsonb_build_array(pg_catalog.jsonb_build_object('loc', p_loc, 'msg', p_msg, 'type', p_type)));
$$;
COMMENT ON FUNCTION ex7._invalid(jsonb, text, text) IS
'Never returns: raises X7422 whose detail is the FastAPI-shaped list [{loc, msg, type}] pointing at the failing input.';

CREATE FUNCTION ex7._check_limit(p_limit integer, p_loc jsonb DEFAULT '["query","limit"]', p_max integer DEFAULT 200)
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
    user_id     uuid NOT NULL REFERENCES ex7.users (id) ON DELETE CASCADE
);
COMMENT ON TABLE ex7.role_bindings IS 'Binds a database role to one ex7 user: RLS lets that role see only the user''s rows. Managed by the operator.';

CREATE FUNCTION ex7.current_user_id()
RETURNS uuid
LANGUAGE sql STABLE PARALLEL SAFE
AS $$
    SELECT b.user_id FROM ex7.role_bindings b WHERE b.role_name = CURRENT_USER;
$$;
COMMENT ON FUNCTION ex7.current_user_id() IS
'Returns the ex7 user id bound to the current database role (ex7.role_bindings), or NULL when it is bound to none. Used by the row-level security policies.';

CREATE FUNCTION ex7.bind_role(p_role name, p_user uuid)
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

CREATE FUNCTION ex7._ensure_user(p_user uuid)
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
SELECT pg_catalog.pg_extension_config_dump('ex7.tiers', '');

CREATE FUNCTION ex7.ensure_user(p_user uuid, p_email text DEFAULT NULL)
RETURNS jsonb
LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
    u ex7.users;
    t ex7.tiers;
BEGIN
    PERFORM ex7._ensure_user(p_user);
    IF p_email IS NOT NULL AND p_email <> '' THEN
        UPDATE ex7.users SET email = p_email WHERE id = p_user AND email IS DISTINCT FROM p_email;
    END IF;
    SELECT * INTO u FROM ex7.users WHERE id = p_user;
    SELECT * INTO t FROM ex7.tiers WHERE tier = u.tier;
    RETURN pg_catalog.jsonb_build_object('id', u.id, 'email', u.email, 'tier', u.tier, 'created_at', u.created_at,
        'limits', pg_catalog.jsonb_build_object('requests_per_minute', t.requests_per_minute,
                                                'requests_per_day', t.requests_per_day,
                                                'alerts_per_day', t.alerts_per_day));
END
$$;
COMMENT ON FUNCTION ex7.ensure_user(uuid, text) IS
'Returns the user {id, email, tier, created_at, limits {requests_per_minute, requests_per_day, alerts_per_day}}, creating the row (tier free) on the first authenticated request and recording the email claim when given.';

/*
 * A tier change must reach the HTTP front's cache before the user's next request ("Tier changes take
 * effect on the next request"): notify on commit, the front drops its cached caps for that user.
 */
CREATE FUNCTION ex7._users_tier_changed()
RETURNS trigger
LANGUAGE plpgsql
AS $$
BEGIN
    PERFORM pg_catalog.pg_notify('ex7_user_changed', NEW.id::text);
    RETURN NULL;
END
$$;
COMMENT ON FUNCTION ex7._users_tier_changed() IS 'Trigger: notifies ex7_user_changed with the user id when a tier changes.';
CREATE TRIGGER users_tier_changed AFTER UPDATE OF tier ON ex7.users
    FOR EACH ROW WHEN (OLD.tier IS DISTINCT FROM NEW.tier) EXECUTE FUNCTION ex7._users_tier_changed();

CREATE FUNCTION ex7._tiers_changed()
RETURNS trigger
LANGUAGE plpgsql
AS $$
BEGIN
    PERFORM pg_catalog.pg_notify('ex7_user_changed', '*');
    RETURN NULL;
END
$$;
COMMENT ON FUNCTION ex7._tiers_changed() IS 'Trigger: notifies ex7_user_changed with * (every user) when the tier caps change.';
CREATE TRIGGER tiers_changed AFTER INSERT OR UPDATE OR DELETE ON ex7.tiers
    FOR EACH STATEMENT EXECUTE FUNCTION ex7._tiers_changed();

/*
 * _lock_user: every writer that touches a user's signals or events takes the user row first. One lock
 * order (user row, then signal rows) rules out deadlocks between fire, close and force-close-all, and it
 * is what orders SSE event ids by commit (ext/sql/55_events.sql).
 */
CREATE FUNCTION ex7._lock_user(p_user uuid)
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
SELECT pg_catalog.pg_extension_config_dump('ex7.secrets', '');
/* ext/sql/10_schema.sql: the tables of ex7, their indexes (one for every keyset order the API pages by)
 * and row-level security. */

CREATE DOMAIN ex7.timeframe AS text
    CHECK (VALUE IN ('1m', '2m', '5m', '15m', '30m', '1h', '4h', '1d'));
COMMENT ON DOMAIN ex7.timeframe IS 'Bar timeframes a strategy can trade: 1m 2m 5m 15m 30m 1h 4h 1d.';

CREATE DOMAIN ex7.trade_mode AS text CHECK (VALUE IN ('paper', 'live'));
COMMENT ON DOMAIN ex7.trade_mode IS 'paper (simulated fills) or live. Paper and live have separate risk pools.';

/* ---------------------------------------------------------------------------------------------------
 * Instruments: contract specs. Seeded with the CME contracts of facts.md (CME Group product pages);
 * commission_per_side is all-in per contract per side (broker + exchange + NFA) and is the operator's to
 * configure: facts.md gives micros about 0.50-1.00 USD and full-size about 2.00-3.00 USD.
 * ------------------------------------------------------------------------------------------------- */
CREATE TABLE ex7.instruments (
    symbol              text PRIMARY KEY CHECK (symbol ~ '^[A-Z0-9]{1,12}$'),
    name                text NOT NULL,
    exchange            text NOT NULL DEFAULT 'CME',
    tick_size           numeric NOT NULL CHECK (tick_size > 0),
    tick_value          numeric NOT NULL CHECK (tick_value > 0),
    commission_per_side numeric NOT NULL CHECK (commission_per_side >= 0),
    currency            text NOT NULL DEFAULT 'USD' CHECK (currency ~ '^[A-Z]{3}$'),
    session_calendar    text NOT NULL DEFAULT 'cme_globex',
    active              boolean NOT NULL DEFAULT true,
    updated_at          timestamptz NOT NULL DEFAULT pg_catalog.now()
);
COMMENT ON TABLE ex7.instruments IS 'Tradable contracts: tick size and value, per-side commission, currency and session calendar. Editable by the operator.';
COMMENT ON COLUMN ex7.instruments.session_calendar IS 'cme_globex: Sunday 18:00 to Friday 17:00 America/New_York with a daily break 17:00-18:00.';

INSERT INTO ex7.instruments (symbol, name, tick_size, tick_value, commission_per_side) VALUES
    ('ES',  'E-mini S&P 500',          0.25, 12.50, 2.25),
    ('MES', 'Micro E-mini S&P 500',    0.25,  1.25, 0.62),
    ('NQ',  'E-mini Nasdaq-100',       0.25,  5.00, 2.25),
    ('MNQ', 'Micro E-mini Nasdaq-100', 0.25,  0.50, 0.62),
    ('YM',  'E-mini Dow ($5)',         1.00,  5.00, 2.25),
    ('MYM', 'Micro E-mini Dow',        1.00,  0.50, 0.62),
    ('RTY', 'E-mini Russell 2000',     0.10,  5.00, 2.25),
    ('M2K', 'Micro E-mini Russell 2000', 0.10, 0.50, 0.62),
    ('CL',  'Crude Oil',               0.01, 10.00, 2.50),
    ('MCL', 'Micro WTI Crude Oil',     0.01,  1.00, 0.75),
    ('GC',  'Gold',                    0.10, 10.00, 2.50),
    ('MGC', 'Micro Gold',              0.10,  1.00, 0.75);
SELECT pg_catalog.pg_extension_config_dump('ex7.instruments', '');

/* ---------------------------------------------------------------------------------------------------
 * Strategies and their immutable versions.
 * ------------------------------------------------------------------------------------------------- */
CREATE TABLE ex7.strategies (
    id              uuid PRIMARY KEY DEFAULT pg_catalog.gen_random_uuid(),
    user_id         uuid NOT NULL REFERENCES ex7.users (id),
    name            text NOT NULL CHECK (pg_catalog.length(name) BETWEEN 1 AND 120),
    description     text NOT NULL DEFAULT '' CHECK (pg_catalog.length(description) <= 4000),
    instrument      text NOT NULL REFERENCES ex7.instruments (symbol),
    timeframe       ex7.timeframe NOT NULL,
    tags            text[] NOT NULL DEFAULT '{}',
    status          text NOT NULL DEFAULT 'draft'
                    CHECK (status IN ('draft', 'ready', 'live', 'paused', 'archived')),
    current_version integer NOT NULL DEFAULT 1 CHECK (current_version >= 1),
    revision        integer NOT NULL DEFAULT 1 CHECK (revision >= 1),
    etag            text NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT pg_catalog.now(),
    updated_at      timestamptz NOT NULL DEFAULT pg_catalog.now(),
    deleted_at      timestamptz
);
COMMENT ON TABLE ex7.strategies IS 'A user''s strategies. Soft-deleted rows keep deleted_at; names are unique per owner among live rows.';
COMMENT ON COLUMN ex7.strategies.etag IS 'Opaque version of the row for optimistic concurrency (If-Match); changes on every update.';
COMMENT ON COLUMN ex7.strategies.revision IS 'Counts the updates of the row; the etag is derived from it.';
CREATE UNIQUE INDEX strategies_user_name_key ON ex7.strategies (user_id, name) WHERE deleted_at IS NULL;
-- keyset order of ex7.list_strategies: (updated_at DESC, id DESC) per user among live rows
CREATE INDEX strategies_user_updated_idx ON ex7.strategies (user_id, updated_at DESC, id DESC) WHERE deleted_at IS NULL;

CREATE TABLE ex7.strategy_versions (
    strategy_id         uuid NOT NULL REFERENCES ex7.strategies (id),
    version             integer NOT NULL CHECK (version >= 1),
    user_id             uuid NOT NULL REFERENCES ex7.users (id),
    graph               jsonb NOT NULL,
    note                text CHECK (pg_catalog.length(note) <= 1000),
    rolled_back_from    integer,
    created_at          timestamptz NOT NULL DEFAULT pg_catalog.now(),
    PRIMARY KEY (strategy_id, version)
);
COMMENT ON TABLE ex7.strategy_versions IS 'Immutable history of a strategy''s graph. A rollback adds a version whose graph equals an older one.';
COMMENT ON COLUMN ex7.strategy_versions.rolled_back_from IS 'For a rollback version: the version number whose graph it copies.';

CREATE FUNCTION ex7._versions_immutable()
RETURNS trigger
LANGUAGE plpgsql
AS $$
BEGIN
    PERFORM ex7._raise(409, 'strategy versions are immutable',
        pg_catalog.jsonb_build_object('code', 'version_immutable'));
    RETURN NULL;
END
$$;
COMMENT ON FUNCTION ex7._versions_immutable() IS 'Trigger: refuses UPDATE and DELETE on strategy_versions (X7409).';
CREATE TRIGGER strategy_versions_immutable BEFORE UPDATE OR DELETE ON ex7.strategy_versions
    FOR EACH ROW EXECUTE FUNCTION ex7._versions_immutable();

/* ---------------------------------------------------------------------------------------------------
 * Runtimes: one row per (strategy, mode), the worker state the dispatcher drives.
 * ------------------------------------------------------------------------------------------------- */
CREATE TABLE ex7.strategy_runtimes (
    id              uuid PRIMARY KEY DEFAULT pg_catalog.gen_random_uuid(),
    strategy_id     uuid NOT NULL REFERENCES ex7.strategies (id),
    user_id         uuid NOT NULL REFERENCES ex7.users (id),
    mode            ex7.trade_mode NOT NULL,
    status          text NOT NULL DEFAULT 'starting'
                    CHECK (status IN ('starting', 'running', 'draining', 'stopped', 'error')),
    started_at      timestamptz,
    stopped_at      timestamptz,
    last_bar_ts     timestamptz,
    error           text,
    created_at      timestamptz NOT NULL DEFAULT pg_catalog.now(),
    updated_at      timestamptz NOT NULL DEFAULT pg_catalog.now(),
    UNIQUE (strategy_id, mode)
);
COMMENT ON TABLE ex7.strategy_runtimes IS 'Runtime state per (strategy, mode): starting, running, draining, stopped or error.';
-- order of ex7.list_runtimes: started_at DESC NULLS LAST per user
CREATE INDEX strategy_runtimes_user_started_idx ON ex7.strategy_runtimes (user_id, started_at DESC NULLS LAST, id);

/* ---------------------------------------------------------------------------------------------------
 * Signals and what surrounds them: the event log (SSE ids), the audit of dispatcher decisions and the
 * risk gate's refusals.
 * ------------------------------------------------------------------------------------------------- */
CREATE TABLE ex7.signals (
    id                  uuid PRIMARY KEY DEFAULT pg_catalog.gen_random_uuid(),
    user_id             uuid NOT NULL REFERENCES ex7.users (id),
    strategy_id         uuid NOT NULL REFERENCES ex7.strategies (id),
    strategy_version    integer NOT NULL,
    instrument          text NOT NULL REFERENCES ex7.instruments (symbol),
    timeframe           ex7.timeframe NOT NULL,
    mode                ex7.trade_mode NOT NULL,
    side                text NOT NULL CHECK (side IN ('long', 'short')),
    size                integer NOT NULL CHECK (size > 0),
    entry_price         numeric NOT NULL,
    stop_price          numeric,
    target_price        numeric,
    bar_ts              timestamptz NOT NULL,
    fired_at            timestamptz NOT NULL DEFAULT pg_catalog.now(),
    status              text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'closed', 'cancelled')),
    close_reason        text CHECK (close_reason IN ('user', 'force_close', 'stop_loss', 'take_profit',
                                                     'exit_signal', 'reverse', 'session_end', 'runtime_stop')),
    close_price         numeric,
    closed_at           timestamptz,
    pnl_points          numeric,
    pnl_ticks           numeric,
    gross_pnl           numeric,
    slippage_ticks      numeric,
    slippage_cost       numeric,
    commission          numeric,
    net_pnl             numeric,
    tag                 text CHECK (pg_catalog.length(tag) <= 64),
    CONSTRAINT signals_close_consistent CHECK (
        (status = 'open' AND closed_at IS NULL AND close_reason IS NULL AND close_price IS NULL)
        OR (status <> 'open' AND closed_at IS NOT NULL AND close_reason IS NOT NULL AND close_price IS NOT NULL))
);
COMMENT ON TABLE ex7.signals IS 'Published trade signals with their outcome. P&L fields come only from ex7.compute_pnl.';
-- keyset order of ex7.list_signals: (fired_at DESC, id DESC) per user
CREATE INDEX signals_user_fired_idx ON ex7.signals (user_id, fired_at DESC, id DESC);
CREATE INDEX signals_strategy_open_idx ON ex7.signals (strategy_id) WHERE status = 'open';
CREATE INDEX signals_user_mode_open_idx ON ex7.signals (user_id, mode) WHERE status = 'open';
CREATE INDEX signals_user_mode_closed_idx ON ex7.signals (user_id, mode, closed_at DESC) WHERE status <> 'open';

CREATE TABLE ex7.signal_events (
    user_id         uuid NOT NULL REFERENCES ex7.users (id),
    seq             bigint NOT NULL CHECK (seq >= 1),
    kind            text NOT NULL CHECK (kind IN ('signal', 'signal_closed')),
    signal_id       uuid NOT NULL REFERENCES ex7.signals (id),
    strategy_id     uuid NOT NULL REFERENCES ex7.strategies (id),
    payload         jsonb NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT pg_catalog.now(),
    PRIMARY KEY (user_id, seq)
);
COMMENT ON TABLE ex7.signal_events IS 'Append-only per-user event log. seq is the SSE event id; it is handed out under the user row lock, so a user''s events commit in seq order.';

CREATE TABLE ex7.signal_audit (
    id                  bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id             uuid NOT NULL REFERENCES ex7.users (id),
    strategy_id         uuid REFERENCES ex7.strategies (id),
    strategy_version    integer,
    instrument          text,
    timeframe           text,
    mode                ex7.trade_mode,
    bar_ts              timestamptz NOT NULL,
    decision            text NOT NULL CHECK (decision IN ('fired', 'no_signal', 'blocked', 'exit', 'error', 'skipped')),
    signal_id           uuid REFERENCES ex7.signals (id),
    detail              jsonb NOT NULL DEFAULT '{}',
    created_at          timestamptz NOT NULL DEFAULT pg_catalog.now()
);
COMMENT ON TABLE ex7.signal_audit IS 'Every dispatcher decision (fired, no_signal, blocked, exit, error, skipped) with its context.';
-- keyset order of ex7.list_audit: (bar_ts DESC, id DESC) per user
CREATE INDEX signal_audit_user_bar_idx ON ex7.signal_audit (user_id, bar_ts DESC, id DESC);

CREATE TABLE ex7.signals_blocked (
    id                  uuid PRIMARY KEY DEFAULT pg_catalog.gen_random_uuid(),
    user_id             uuid NOT NULL REFERENCES ex7.users (id),
    strategy_id         uuid REFERENCES ex7.strategies (id),
    strategy_version    integer,
    instrument          text NOT NULL,
    timeframe           text,
    bar_ts              timestamptz,
    mode                ex7.trade_mode NOT NULL,
    side                text CHECK (side IN ('long', 'short')),
    triggered_limit     text NOT NULL,
    reason              text NOT NULL,
    observed            text,
    "limit"             text,
    reason_json         jsonb NOT NULL,
    blocked_at          timestamptz NOT NULL DEFAULT pg_catalog.now()
);
COMMENT ON TABLE ex7.signals_blocked IS 'The risk gate''s refusals: which breaker, why, the observed value and the limit, and the full state.';
CREATE INDEX signals_blocked_user_idx ON ex7.signals_blocked (user_id, blocked_at DESC, id DESC);

/* Risk limits per user and mode. A missing row means the defaults below (docs/risk.md). */
CREATE TABLE ex7.risk_limits (
    user_id                 uuid NOT NULL REFERENCES ex7.users (id),
    mode                    ex7.trade_mode NOT NULL,
    daily_loss_limit        numeric NOT NULL DEFAULT 500.00 CHECK (daily_loss_limit > 0),
    max_trades_per_day      integer NOT NULL DEFAULT 20 CHECK (max_trades_per_day > 0),
    max_open_positions      integer NOT NULL DEFAULT 3 CHECK (max_open_positions > 0),
    max_consecutive_losses  integer NOT NULL DEFAULT 5 CHECK (max_consecutive_losses > 0),
    updated_at              timestamptz NOT NULL DEFAULT pg_catalog.now(),
    PRIMARY KEY (user_id, mode)
);
COMMENT ON TABLE ex7.risk_limits IS 'Per-user, per-mode risk limits; no row means the column defaults.';

/* ---------------------------------------------------------------------------------------------------
 * Row-level security. Every per-user table: enabled and forced, one policy "<table>_own" that lets a
 * role bound to a user (ex7.current_user_id()) see and write only that user's rows. The sub-select makes
 * the lookup run once per statement (facts.md, PostgreSQL). Roles that act for many users (the HTTP front)
 * bypass RLS and every function checks ownership explicitly.
 * ------------------------------------------------------------------------------------------------- */
DO $$
DECLARE
    t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['strategies', 'strategy_versions', 'strategy_runtimes', 'signals',
                             'signal_events', 'signal_audit', 'signals_blocked', 'risk_limits']
    LOOP
        EXECUTE pg_catalog.format('ALTER TABLE ex7.%I ENABLE ROW LEVEL SECURITY', t);
        EXECUTE pg_catalog.format('ALTER TABLE ex7.%I FORCE ROW LEVEL SECURITY', t);
        EXECUTE pg_catalog.format(
            'CREATE POLICY %I ON ex7.%I USING (user_id = (SELECT ex7.current_user_id())) '
            'WITH CHECK (user_id = (SELECT ex7.current_user_id()))', t || '_own', t);
    END LOOP;
END
$$;

ALTER TABLE ex7.users ENABLE ROW LEVEL SECURITY;
ALTER TABLE ex7.users FORCE ROW LEVEL SECURITY;
CREATE POLICY users_own ON ex7.users USING (id = (SELECT ex7.current_user_id()));

ALTER TABLE ex7.role_bindings ENABLE ROW LEVEL SECURITY;
ALTER TABLE ex7.role_bindings FORCE ROW LEVEL SECURITY;
CREATE POLICY role_bindings_own ON ex7.role_bindings FOR SELECT USING (role_name = CURRENT_USER);
/* ext/sql/20_cursor.sql: opaque keyset cursors (ext/cursor.c). Every list that pages by keyset encodes
 * the (sort key, id) of the last row it returned and decodes what the client sends back. */

CREATE FUNCTION ex7.cursor_encode(p_kind text, p_user uuid, p_ts timestamptz, p_id text)
RETURNS text
AS 'MODULE_PATHNAME', 'cursor_encode'
LANGUAGE C STABLE STRICT PARALLEL SAFE SECURITY DEFINER SET search_path = pg_catalog, ex7;
COMMENT ON FUNCTION ex7.cursor_encode(text, uuid, timestamptz, text) IS
'Returns an opaque, signed cursor for position (p_ts, p_id) of list p_kind as seen by user p_user.';

CREATE FUNCTION ex7.cursor_decode(p_kind text, p_user uuid, p_cursor text, OUT ts timestamptz, OUT id text)
RETURNS record
AS 'MODULE_PATHNAME', 'cursor_decode'
LANGUAGE C STABLE STRICT PARALLEL SAFE SECURITY DEFINER SET search_path = pg_catalog, ex7;
COMMENT ON FUNCTION ex7.cursor_decode(text, uuid, text) IS
'Returns the (ts, id) position a cursor of list p_kind for user p_user encodes. Raises X7422 (loc ["query","cursor"]) when the cursor is malformed, edited, or belongs to another list or user.';
/* ext/sql/30_strategies.sql: the strategies API. CRUD, lifecycle transitions (on top of the state machine
 * of ext/lifecycle.c), immutable versions with rollback, clone, export and import. docs/strategies.md
 * describes every function and the JSON it returns.
 *
 * Functions here are PL/pgSQL where they call objects defined later in the install script
 * (ex7.lifecycle_* in 35_lifecycle.sql, ex7._stop_runtimes in 80_runtimes.sql): PL/pgSQL resolves names
 * when it runs, a LANGUAGE sql body is checked when it is created.
 *
 * Locks: a strategy writer locks the strategy row (FOR UPDATE, scoped by owner) before it touches the
 * strategy's versions or runtimes; ex7.start_runtime takes the same row FOR SHARE before its runtime row.
 * One order (strategy row, then runtime rows), so none of them can deadlock with another.
 */

/* ---------------------------------------------------------------------------------------------------
 * Validation. Errors are FastAPI/Pydantic (v1) shaped 422s: {loc, msg, type} with the locator the HTTP
 * route uses (ex7-api-introduction.txt: "For 422 we include the failed-validation locator path so clients
 * can map the error to a specific field"). The first failure in document order is reported.
 * ------------------------------------------------------------------------------------------------- */

/*
 * _validate_graph: SHAPE ONLY. A later issue replaces this one function with a C validator that also
 * knows node types, ports and cycles ("422 ... e.g., strategy graph cycle", ex7-api-introduction.txt);
 * callers only rely on "returns, or raises X7422 with a locator under p_loc".
 */
CREATE FUNCTION ex7._validate_graph(p_graph jsonb, p_loc jsonb)
RETURNS void
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
AS $$
DECLARE
    v_key       text;
    v_elem      jsonb;
    v_i         bigint;
    v_field     text;
    v_ids       jsonb;
BEGIN
    IF p_graph IS NULL OR pg_catalog.jsonb_typeof(p_graph) <> 'object' THEN
        PERFORM ex7._invalid(p_loc, 'value is not a valid dict', 'type_error.dict');
    END IF;

    -- nodes: a list of objects, each with a non-empty string "id" (unique) and "type"
    IF NOT p_graph ? 'nodes' THEN
        PERFORM ex7._invalid(p_loc || '"nodes"', 'field required', 'value_error.missing');
    END IF;
    IF pg_catalog.jsonb_typeof(p_graph -> 'nodes') <> 'array' THEN
        PERFORM ex7._invalid(p_loc || '"nodes"', 'value is not a valid list', 'type_error.list');
    END IF;
    SELECT e.o - 1, e.v INTO v_i, v_elem
      FROM pg_catalog.jsonb_array_elements(p_graph -> 'nodes') WITH ORDINALITY AS e (v, o)
     WHERE pg_catalog.jsonb_typeof(e.v) <> 'object'
        OR pg_catalog.jsonb_typeof(e.v -> 'id') IS DISTINCT FROM 'string' OR e.v ->> 'id' = ''
        OR pg_catalog.jsonb_typeof(e.v -> 'type') IS DISTINCT FROM 'string' OR e.v ->> 'type' = ''
     ORDER BY e.o
     LIMIT 1;
    IF FOUND THEN
        IF pg_catalog.jsonb_typeof(v_elem) <> 'object' THEN
            PERFORM ex7._invalid(p_loc || pg_catalog.jsonb_build_array('nodes', v_i),
                                 'value is not a valid dict', 'type_error.dict');
        END IF;
        FOREACH v_field IN ARRAY ARRAY['id', 'type'] LOOP
            IF NOT v_elem ? v_field THEN
                PERFORM ex7._invalid(p_loc || pg_catalog.jsonb_build_array('nodes', v_i, v_field),
                                     'field required', 'value_error.missing');
            ELSIF pg_catalog.jsonb_typeof(v_elem -> v_field) <> 'string' THEN
                PERFORM ex7._invalid(p_loc || pg_catalog.jsonb_build_array('nodes', v_i, v_field),
                                     'str type expected', 'type_error.str');
            ELSIF v_elem ->> v_field = '' THEN
                PERFORM ex7._invalid(p_loc || pg_catalog.jsonb_build_array('nodes', v_i, v_field),
                                     'ensure this value has at least 1 characters',
                                     'value_error.any_str.min_length');
            END IF;
        END LOOP;
    END IF;
    -- the first node whose id an earlier node already has
    SELECT d.o - 1, d.id INTO v_i, v_key
      FROM (SELECT e.o, e.v ->> 'id' AS id,
                   pg_catalog.row_number() OVER (PARTITION BY e.v ->> 'id' ORDER BY e.o) AS nth
              FROM pg_catalog.jsonb_array_elements(p_graph -> 'nodes') WITH ORDINALITY AS e (v, o)) d
     WHERE d.nth > 1
     ORDER BY d.o
     LIMIT 1;
    IF FOUND THEN
        PERFORM ex7._invalid(p_loc || pg_catalog.jsonb_build_array('nodes', v_i, 'id'),
                             pg_catalog.format('duplicate node id "%s"', v_key), 'value_error.duplicate');
    END IF;
    -- node ids as the keys of one object: "?" on it is a binary search, not a scan per edge
    SELECT coalesce(pg_catalog.jsonb_object_agg(e.v ->> 'id', true), '{}') INTO v_ids
      FROM pg_catalog.jsonb_array_elements(p_graph -> 'nodes') AS e (v);

    -- edges: a list of objects whose "from" and "to" name existing node ids
    IF NOT p_graph ? 'edges' THEN
        PERFORM ex7._invalid(p_loc || '"edges"', 'field required', 'value_error.missing');
    END IF;
    IF pg_catalog.jsonb_typeof(p_graph -> 'edges') <> 'array' THEN
        PERFORM ex7._invalid(p_loc || '"edges"', 'value is not a valid list', 'type_error.list');
    END IF;
    SELECT e.o - 1, e.v INTO v_i, v_elem
      FROM pg_catalog.jsonb_array_elements(p_graph -> 'edges') WITH ORDINALITY AS e (v, o)
     WHERE pg_catalog.jsonb_typeof(e.v) <> 'object'
        OR pg_catalog.jsonb_typeof(e.v -> 'from') IS DISTINCT FROM 'string' OR NOT v_ids ? (e.v ->> 'from')
        OR pg_catalog.jsonb_typeof(e.v -> 'to') IS DISTINCT FROM 'string' OR NOT v_ids ? (e.v ->> 'to')
     ORDER BY e.o
     LIMIT 1;
    IF FOUND THEN
        IF pg_catalog.jsonb_typeof(v_elem) <> 'object' THEN
            PERFORM ex7._invalid(p_loc || pg_catalog.jsonb_build_array('edges', v_i),
                                 'value is not a valid dict', 'type_error.dict');
        END IF;
        FOREACH v_field IN ARRAY ARRAY['from', 'to'] LOOP
            IF NOT v_elem ? v_field THEN
                PERFORM ex7._invalid(p_loc || pg_catalog.jsonb_build_array('edges', v_i, v_field),
                                     'field required', 'value_error.missing');
            ELSIF pg_catalog.jsonb_typeof(v_elem -> v_field) <> 'string' THEN
                PERFORM ex7._invalid(p_loc || pg_catalog.jsonb_build_array('edges', v_i, v_field),
                                     'str type expected', 'type_error.str');
            ELSIF NOT v_ids ? (v_elem ->> v_field) THEN
                PERFORM ex7._invalid(p_loc || pg_catalog.jsonb_build_array('edges', v_i, v_field),
                                     pg_catalog.format('unknown node id "%s"', v_elem ->> v_field),
                                     'value_error.unknown_node');
            END IF;
        END LOOP;
    END IF;

    -- meta: optional, an object when present
    IF p_graph ? 'meta' AND pg_catalog.jsonb_typeof(p_graph -> 'meta') <> 'object' THEN
        PERFORM ex7._invalid(p_loc || '"meta"', 'value is not a valid dict', 'type_error.dict');
    END IF;

    -- anything else at the top level is refused, like the strategy body (extra="forbid"): a builder that
    -- needs more state keeps it under "meta"
    SELECT k INTO v_key
      FROM pg_catalog.jsonb_object_keys(p_graph) AS k
     WHERE k NOT IN ('nodes', 'edges', 'meta')
     ORDER BY k
     LIMIT 1;
    IF FOUND THEN
        PERFORM ex7._invalid(p_loc || pg_catalog.to_jsonb(v_key), 'extra fields not permitted', 'value_error.extra');
    END IF;
END
$$;
COMMENT ON FUNCTION ex7._validate_graph(jsonb, jsonb) IS
'Returns nothing when p_graph has the shape of a strategy graph ({nodes: [{id, type, ...}], edges: [{from, to, ...}], meta?: {}}, node ids unique, edges naming existing nodes); raises X7422 with a locator under p_loc otherwise. Shape only: node types, ports and cycles are checked by a later validator.';

/*
 * _strategy_fields: the one validator of strategy bodies (create, update, clone name, import). Returns the
 * normalized fields: name trimmed; description '' when null; tags trimmed, deduplicated in first-seen
 * order; graph validated. With p_partial (update) only the keys present are returned; otherwise name,
 * instrument and timeframe are required and description, tags and graph get their defaults.
 * p_keep_instrument: an instrument accepted even when no longer active (the strategy's current one).
 */
CREATE FUNCTION ex7._strategy_fields(p_body jsonb, p_partial boolean, p_keep_instrument text DEFAULT NULL)
RETURNS jsonb
LANGUAGE plpgsql STABLE PARALLEL SAFE
AS $$
DECLARE
    -- the values of the ex7.timeframe domain (ext/sql/10_schema.sql)
    c_timeframes CONSTANT text[] := ARRAY['1m', '2m', '5m', '15m', '30m', '1h', '4h', '1d'];
    -- bounds of the strategies and strategy_versions columns (ext/sql/10_schema.sql)
    c_name_max   CONSTANT integer := 120;
    c_desc_max   CONSTANT integer := 4000;
    c_note_max   CONSTANT integer := 1000;
    -- tags: the bounds the task sets for the strategy builder (docs/strategies.md)
    c_tag_max    CONSTANT integer := 32;
    c_tags_max   CONSTANT integer := 20;
    v_out        jsonb := '{}';
    v_key        text;
    v_val        jsonb;
    v_str        text;
    v_active     boolean;
    v_tags       text[] := '{}';
    v_i          bigint;
BEGIN
    IF p_body IS NULL OR pg_catalog.jsonb_typeof(p_body) <> 'object' THEN
        PERFORM ex7._invalid('["body"]', 'value is not a valid dict', 'type_error.dict');
    END IF;
    -- unknown keys are refused (Pydantic extra="forbid"): a misspelt field would otherwise be dropped
    -- silently and the user would believe it saved
    SELECT k INTO v_key
      FROM pg_catalog.jsonb_object_keys(p_body) AS k
     WHERE k NOT IN ('name', 'description', 'instrument', 'timeframe', 'tags', 'graph', 'note')
     ORDER BY k
     LIMIT 1;
    IF FOUND THEN
        PERFORM ex7._invalid(pg_catalog.jsonb_build_array('body', v_key), 'extra fields not permitted',
                             'value_error.extra');
    END IF;
    -- required fields: missing (create only) or null (always) is refused
    FOREACH v_key IN ARRAY ARRAY['name', 'instrument', 'timeframe', 'graph'] LOOP
        IF NOT p_body ? v_key THEN
            IF NOT p_partial AND v_key <> 'graph' THEN
                PERFORM ex7._invalid(pg_catalog.jsonb_build_array('body', v_key), 'field required',
                                     'value_error.missing');
            END IF;
        ELSIF pg_catalog.jsonb_typeof(p_body -> v_key) = 'null' THEN
            PERFORM ex7._invalid(pg_catalog.jsonb_build_array('body', v_key), 'none is not an allowed value',
                                 'type_error.none.not_allowed');
        END IF;
    END LOOP;
    -- string fields must be strings
    FOREACH v_key IN ARRAY ARRAY['name', 'description', 'instrument', 'timeframe', 'note'] LOOP
        v_val := p_body -> v_key;
        IF v_val IS NOT NULL AND pg_catalog.jsonb_typeof(v_val) NOT IN ('string', 'null') THEN
            PERFORM ex7._invalid(pg_catalog.jsonb_build_array('body', v_key), 'str type expected', 'type_error.str');
        END IF;
    END LOOP;

    IF p_body ? 'name' THEN
        v_str := pg_catalog.btrim(p_body ->> 'name', E' \t\r\n');
        IF pg_catalog.length(v_str) < 1 THEN
            PERFORM ex7._invalid('["body","name"]', 'ensure this value has at least 1 characters',
                                 'value_error.any_str.min_length');
        ELSIF pg_catalog.length(v_str) > c_name_max THEN
            PERFORM ex7._invalid('["body","name"]',
                                 pg_catalog.format('ensure this value has at most %s characters', c_name_max),
                                 'value_error.any_str.max_length');
        END IF;
        v_out := v_out || pg_catalog.jsonb_build_object('name', v_str);
    END IF;

    IF p_body ? 'description' OR NOT p_partial THEN
        v_str := coalesce(p_body ->> 'description', '');
        IF pg_catalog.length(v_str) > c_desc_max THEN
            PERFORM ex7._invalid('["body","description"]',
                                 pg_catalog.format('ensure this value has at most %s characters', c_desc_max),
                                 'value_error.any_str.max_length');
        END IF;
        v_out := v_out || pg_catalog.jsonb_build_object('description', v_str);
    END IF;

    IF p_body ? 'instrument' THEN
        v_str := p_body ->> 'instrument';
        SELECT i.active INTO v_active FROM ex7.instruments i WHERE i.symbol = v_str;
        IF NOT FOUND THEN
            PERFORM ex7._invalid('["body","instrument"]', pg_catalog.format('unknown instrument "%s"', v_str),
                                 'value_error.instrument');
        ELSIF NOT v_active AND v_str IS DISTINCT FROM p_keep_instrument THEN
            PERFORM ex7._invalid('["body","instrument"]', pg_catalog.format('instrument "%s" is not active', v_str),
                                 'value_error.instrument');
        END IF;
        v_out := v_out || pg_catalog.jsonb_build_object('instrument', v_str);
    END IF;

    IF p_body ? 'timeframe' THEN
        v_str := p_body ->> 'timeframe';
        IF NOT v_str = ANY (c_timeframes) THEN
            PERFORM ex7._invalid('["body","timeframe"]',
                                 'value is not a valid enumeration member; permitted: '
                                 || pg_catalog.array_to_string(c_timeframes, ', '),
                                 'type_error.enum');
        END IF;
        v_out := v_out || pg_catalog.jsonb_build_object('timeframe', v_str);
    END IF;

    IF p_body ? 'tags' OR NOT p_partial THEN
        v_val := coalesce(p_body -> 'tags', '[]');
        IF pg_catalog.jsonb_typeof(v_val) = 'null' THEN
            v_val := '[]';
        ELSIF pg_catalog.jsonb_typeof(v_val) <> 'array' THEN
            PERFORM ex7._invalid('["body","tags"]', 'value is not a valid list', 'type_error.list');
        END IF;
        FOR v_i, v_key IN
            SELECT e.o - 1, CASE WHEN pg_catalog.jsonb_typeof(e.v) = 'string' THEN e.v #>> '{}' END
              FROM pg_catalog.jsonb_array_elements(v_val) WITH ORDINALITY AS e (v, o)
             ORDER BY e.o
        LOOP
            IF v_key IS NULL THEN
                PERFORM ex7._invalid(pg_catalog.jsonb_build_array('body', 'tags', v_i), 'str type expected',
                                     'type_error.str');
            END IF;
            v_str := pg_catalog.btrim(v_key, E' \t\r\n');
            IF pg_catalog.length(v_str) < 1 OR pg_catalog.length(v_str) > c_tag_max THEN
                PERFORM ex7._invalid(pg_catalog.jsonb_build_array('body', 'tags', v_i),
                                     pg_catalog.format('ensure this value has 1 to %s characters', c_tag_max),
                                     'value_error.any_str.length');
            END IF;
            IF NOT v_str = ANY (v_tags) THEN
                -- refused at the first tag over the bound: v_tags stays small, the = ANY above cheap
                IF pg_catalog.cardinality(v_tags) = c_tags_max THEN
                    PERFORM ex7._invalid('["body","tags"]',
                                         pg_catalog.format('ensure this value has at most %s items', c_tags_max),
                                         'value_error.list.max_items');
                END IF;
                v_tags := v_tags || v_str;
            END IF;
        END LOOP;
        v_out := v_out || pg_catalog.jsonb_build_object('tags', pg_catalog.to_jsonb(v_tags));
    END IF;

    IF p_body ? 'graph' THEN
        PERFORM ex7._validate_graph(p_body -> 'graph', '["body","graph"]');
        v_out := v_out || pg_catalog.jsonb_build_object('graph', p_body -> 'graph');
    ELSIF NOT p_partial THEN
        -- no graph: the empty canvas a builder starts from (docs/strategies.md)
        v_out := v_out || '{"graph": {"nodes": [], "edges": []}}';
    END IF;

    IF p_body ? 'note' THEN
        IF pg_catalog.length(p_body ->> 'note') > c_note_max THEN
            PERFORM ex7._invalid('["body","note"]',
                                 pg_catalog.format('ensure this value has at most %s characters', c_note_max),
                                 'value_error.any_str.max_length');
        END IF;
        v_out := v_out || pg_catalog.jsonb_build_object('note', p_body -> 'note');
    END IF;
    RETURN v_out;
END
$$;
COMMENT ON FUNCTION ex7._strategy_fields(jsonb, boolean, text) IS
'Returns the normalized strategy fields of a request body (name trimmed, tags trimmed and deduplicated, defaults filled unless p_partial); raises X7422 with a ["body", ...] locator for the first invalid field. Unknown keys are refused.';

/* ---------------------------------------------------------------------------------------------------
 * JSON and etags.
 * ------------------------------------------------------------------------------------------------- */

/*
 * _strategy_etag: a strong validator that changes with every update because revision does. The JSON
 * carries the bare token; the HTTP front sends it quoted in ETag (RFC 9110 entity-tag syntax).
 */
CREATE FUNCTION ex7._strategy_etag(p_id uuid, p_revision integer)
RETURNS text
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
AS $$
    -- 16 hex digits = 64 bits of md5: an etag only needs to differ between revisions of one row
    SELECT pg_catalog.left(pg_catalog.md5(p_id::text || ':' || p_revision::text), 16);
$$;
COMMENT ON FUNCTION ex7._strategy_etag(uuid, integer) IS
'Returns the etag of revision p_revision of strategy p_id: the first 16 hex digits of md5(id:revision), unquoted.';

/*
 * _etag_matches: If-Match evaluation (RFC 9110 section 13.1.1): "*" matches any current representation;
 * otherwise a comma-separated list of entity-tags compared with the strong comparison, so a weak tag
 * (W/"...") never matches. A bare token (the JSON "etag" as is) is accepted as well.
 */
CREATE FUNCTION ex7._etag_matches(p_current text, p_if_match text)
RETURNS boolean
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
AS $$
    SELECT pg_catalog.btrim(p_if_match) = '*'
        OR EXISTS (SELECT 1
                     FROM pg_catalog.regexp_split_to_table(p_if_match, ',') AS t (tag)
                    WHERE pg_catalog.btrim(t.tag) IN (p_current, '"' || p_current || '"'));
$$;
COMMENT ON FUNCTION ex7._etag_matches(text, text) IS
'Returns true when the If-Match header value p_if_match ("*", a list of quoted entity-tags, or the bare etag) matches etag p_current by strong comparison.';

/*
 * _strategy_json: the one JSON shape of a strategy. With p_with_graph (every single-strategy response)
 * it carries the current version's graph; list items are summaries without it (a graph can be large and a
 * page holds up to 200 strategies).
 */
CREATE FUNCTION ex7._strategy_json(p_s ex7.strategies, p_with_graph boolean DEFAULT true)
RETURNS jsonb
LANGUAGE plpgsql STABLE PARALLEL SAFE
AS $$
DECLARE
    v_out jsonb;
BEGIN
    v_out := pg_catalog.jsonb_build_object(
        'id', p_s.id,
        'name', p_s.name,
        'description', p_s.description,
        'instrument', p_s.instrument,
        'timeframe', p_s.timeframe,
        'tags', pg_catalog.to_jsonb(p_s.tags),
        'status', p_s.status,
        'current_version', p_s.current_version,
        'etag', p_s.etag,
        'created_at', p_s.created_at,
        'updated_at', p_s.updated_at,
        'allowed_transitions', pg_catalog.to_jsonb(ex7.lifecycle_allowed(p_s.status)));
    IF p_with_graph THEN
        v_out := v_out || pg_catalog.jsonb_build_object('graph',
            (SELECT v.graph FROM ex7.strategy_versions v
              WHERE v.strategy_id = p_s.id AND v.version = p_s.current_version));
    END IF;
    RETURN v_out;
END
$$;
COMMENT ON FUNCTION ex7._strategy_json(ex7.strategies, boolean) IS
'Returns the API JSON of a strategy: id, name, description, instrument, timeframe, tags, status, current_version, etag, created_at, updated_at, allowed_transitions, and graph (the current version''s) when p_with_graph.';

/*
 * _version_json: one JSON shape of a version. The summary (list) has counts; the full shape (get) adds
 * the graph and the strategy id.
 */
CREATE FUNCTION ex7._version_json(p_v ex7.strategy_versions, p_current_version integer, p_with_graph boolean)
RETURNS jsonb
LANGUAGE sql STABLE PARALLEL SAFE
AS $$
    SELECT pg_catalog.jsonb_build_object(
               'version', p_v.version,
               'created_at', p_v.created_at,
               'note', p_v.note,
               'rolled_back_from', p_v.rolled_back_from,
               'node_count', coalesce(pg_catalog.jsonb_array_length(p_v.graph -> 'nodes'), 0),
               'edge_count', coalesce(pg_catalog.jsonb_array_length(p_v.graph -> 'edges'), 0),
               'is_current', p_v.version = p_current_version)
        || CASE WHEN p_with_graph
                THEN pg_catalog.jsonb_build_object('strategy_id', p_v.strategy_id, 'graph', p_v.graph)
                ELSE '{}' END;
$$;
COMMENT ON FUNCTION ex7._version_json(ex7.strategy_versions, integer, boolean) IS
'Returns the API JSON of a strategy version: version, created_at, note, rolled_back_from, node_count, edge_count, is_current, and with p_with_graph also strategy_id and graph.';

/* ---------------------------------------------------------------------------------------------------
 * Row access.
 * ------------------------------------------------------------------------------------------------- */

/*
 * _lock_strategy: the caller's live strategy row, locked FOR UPDATE. Ownership is part of the predicate,
 * so another user's strategy is a 404 exactly like a missing one (ex7-api-introduction.txt: "404 Not
 * Found: Resource does not exist or is not owned by the authenticated user").
 */
CREATE FUNCTION ex7._lock_strategy(p_user uuid, p_id uuid)
RETURNS ex7.strategies
LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
    v ex7.strategies;
BEGIN
    SELECT * INTO v
      FROM ex7.strategies s
     WHERE s.id = p_id AND s.user_id = p_user AND s.deleted_at IS NULL
       FOR UPDATE;
    IF NOT FOUND THEN
        PERFORM ex7._raise(404, 'strategy not found');
    END IF;
    RETURN v;
END
$$;
COMMENT ON FUNCTION ex7._lock_strategy(uuid, uuid) IS
'Returns the strategy p_id of user p_user locked FOR UPDATE; raises X7404 when it is missing, soft-deleted or another user''s.';

CREATE FUNCTION ex7._get_strategy(p_user uuid, p_id uuid)
RETURNS ex7.strategies
LANGUAGE plpgsql STABLE
AS $$
DECLARE
    v ex7.strategies;
BEGIN
    SELECT * INTO v
      FROM ex7.strategies s
     WHERE s.id = p_id AND s.user_id = p_user AND s.deleted_at IS NULL;
    IF NOT FOUND THEN
        PERFORM ex7._raise(404, 'strategy not found');
    END IF;
    RETURN v;
END
$$;
COMMENT ON FUNCTION ex7._get_strategy(uuid, uuid) IS
'Returns the strategy p_id of user p_user (no lock); raises X7404 when it is missing, soft-deleted or another user''s.';

CREATE FUNCTION ex7._name_conflict(p_name text)
RETURNS void
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
    SELECT ex7._raise(409, pg_catalog.format('a strategy named "%s" already exists', p_name),
                      pg_catalog.jsonb_build_object('code', 'name_conflict', 'name', p_name));
$$;
COMMENT ON FUNCTION ex7._name_conflict(text) IS
'Never returns: raises X7409 with detail {code: name_conflict, name}.';

/*
 * _name_candidate: the n-th name to try when p_mode disambiguates:
 *   error:  n = 1: the name itself
 *   suffix: the name, "Name (2)", "Name (3)", ... (Import: name_on_conflict "suffix")
 *   copy:   "Name (copy)", "Name (copy 2)", ... (Clone)
 * The base is shortened so that the result stays within the 120 characters of strategies.name.
 */
CREATE FUNCTION ex7._name_candidate(p_base text, p_mode text, p_n integer)
RETURNS text
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
AS $$
    SELECT pg_catalog.rtrim(pg_catalog.left(p_base, 120 - pg_catalog.length(x.suffix))) || x.suffix
      FROM (SELECT CASE
                       WHEN p_mode = 'copy' AND p_n = 1 THEN ' (copy)'
                       WHEN p_mode = 'copy' THEN ' (copy ' || p_n || ')'
                       WHEN p_n = 1 THEN ''
                       ELSE ' (' || p_n || ')'
                   END AS suffix) x;
$$;
COMMENT ON FUNCTION ex7._name_candidate(text, text, integer) IS
'Returns the p_n-th candidate name for base p_base under mode error, suffix ("Name (2)") or copy ("Name (copy 2)"), at most 120 characters.';

/*
 * _insert_strategy: creates the strategy (status draft, version 1, revision 1) from validated fields.
 * p_mode says what a taken name does: error -> 409 name_conflict; suffix / copy -> the next free
 * candidate of ex7._name_candidate. The unique index strategies_user_name_key is the arbiter: a
 * concurrent insert of the same name makes this one wait, then fail over to the next candidate (or 409).
 */
CREATE FUNCTION ex7._insert_strategy(p_user uuid, p_fields jsonb, p_mode text, p_note text DEFAULT NULL)
RETURNS ex7.strategies
LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
    -- how many "Name (n)" candidates to try before giving up with 409: far more copies than anyone keeps
    c_max_tries CONSTANT integer := 1000;
    v_id        uuid := pg_catalog.gen_random_uuid();
    v_name      text;
    v_con       text;
    v           ex7.strategies;
BEGIN
    PERFORM ex7._ensure_user(p_user);
    FOR n IN 1 .. CASE WHEN p_mode = 'error' THEN 1 ELSE c_max_tries END LOOP
        v_name := ex7._name_candidate(p_fields ->> 'name', p_mode, n);
        CONTINUE WHEN p_mode <> 'error' AND EXISTS (
            SELECT 1 FROM ex7.strategies s WHERE s.user_id = p_user AND s.name = v_name AND s.deleted_at IS NULL);
        BEGIN
            INSERT INTO ex7.strategies (id, user_id, name, description, instrument, timeframe, tags, etag)
            VALUES (v_id, p_user, v_name, p_fields ->> 'description', p_fields ->> 'instrument',
                    p_fields ->> 'timeframe',
                    ARRAY(SELECT pg_catalog.jsonb_array_elements_text(p_fields -> 'tags')),
                    ex7._strategy_etag(v_id, 1))
            RETURNING * INTO v;
        EXCEPTION WHEN unique_violation THEN
            GET STACKED DIAGNOSTICS v_con = CONSTRAINT_NAME;
            IF v_con <> 'strategies_user_name_key' THEN
                RAISE;
            END IF;
            CONTINUE;
        END;
        INSERT INTO ex7.strategy_versions (strategy_id, version, user_id, graph, note)
        VALUES (v.id, 1, p_user, p_fields -> 'graph', coalesce(p_note, p_fields ->> 'note'));
        RETURN v;
    END LOOP;
    PERFORM ex7._name_conflict(CASE WHEN p_mode = 'error' THEN p_fields ->> 'name' ELSE v_name END);
    RETURN NULL;
END
$$;
COMMENT ON FUNCTION ex7._insert_strategy(uuid, jsonb, text, text) IS
'Returns the new strategy row (draft, version 1) built from validated fields; a taken name raises X7409 name_conflict (p_mode error) or moves on to the next candidate name (suffix, copy).';

/* ---------------------------------------------------------------------------------------------------
 * CRUD.
 * ------------------------------------------------------------------------------------------------- */

CREATE FUNCTION ex7.create_strategy(p_user uuid, p_body jsonb)
RETURNS jsonb
LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
    v ex7.strategies;
BEGIN
    PERFORM ex7._ensure_user(p_user);
    v := ex7._insert_strategy(p_user, ex7._strategy_fields(p_body, false), 'error');
    -- a statement of its own: _strategy_json is STABLE and reads the version row inserted just now
    RETURN ex7._strategy_json(v);
END
$$;
COMMENT ON FUNCTION ex7.create_strategy(uuid, jsonb) IS
'Returns the created strategy (201 body, with graph): status draft, version 1. Body: name (required), description, instrument (required, active), timeframe (required), tags, graph (default empty), note. X7422 for invalid or unknown fields, X7409 name_conflict when the owner already has a live strategy of that name.';

CREATE FUNCTION ex7.get_strategy(p_user uuid, p_id uuid)
RETURNS jsonb
LANGUAGE plpgsql STABLE
AS $$
BEGIN
    RETURN ex7._strategy_json(ex7._get_strategy(p_user, p_id));
END
$$;
COMMENT ON FUNCTION ex7.get_strategy(uuid, uuid) IS
'Returns the strategy with its current graph. X7404 when it is missing, soft-deleted or another user''s.';

/*
 * list_strategies: keyset page on (updated_at DESC, id DESC) read from strategies_user_updated_idx
 * (contract, List Strategies: "cursor: updated_at cursor from previous page"). Fetches limit + 1 rows to
 * know whether another page exists without counting. Without a cursor the position is (infinity, max
 * uuid), so one query shape serves both cases and the row comparison stays an index condition.
 */
CREATE FUNCTION ex7.list_strategies(p_user uuid, p_status text DEFAULT NULL, p_instrument text DEFAULT NULL,
                                    p_tag text DEFAULT NULL, p_cursor text DEFAULT NULL, p_limit integer DEFAULT 50)
RETURNS jsonb
LANGUAGE plpgsql STABLE
AS $$
DECLARE
    v_limit  integer := ex7._check_limit(p_limit);
    v_ts     timestamptz := 'infinity';
    v_id     uuid := 'ffffffff-ffff-ffff-ffff-ffffffffffff';
    v_items  jsonb;
    v_count  bigint;
    v_last_ts timestamptz;
    v_last_id uuid;
BEGIN
    IF p_status IS NOT NULL AND p_status NOT IN ('draft', 'ready', 'live', 'paused', 'archived') THEN
        PERFORM ex7._invalid('["query","status"]',
                             'value is not a valid enumeration member; permitted: draft, ready, live, paused, archived',
                             'type_error.enum');
    END IF;
    IF p_cursor IS NOT NULL THEN
        SELECT c.ts, c.id::uuid INTO v_ts, v_id FROM ex7.cursor_decode('strategies', p_user, p_cursor) c;
    END IF;

    WITH page AS MATERIALIZED (
        SELECT s
          FROM ex7.strategies s
         WHERE s.user_id = p_user AND s.deleted_at IS NULL
           AND (s.updated_at, s.id) < (v_ts, v_id)
           AND (p_status IS NULL OR s.status = p_status)
           AND (p_instrument IS NULL OR s.instrument = p_instrument)
           AND (p_tag IS NULL OR s.tags @> ARRAY[p_tag])
         ORDER BY s.updated_at DESC, s.id DESC
         LIMIT v_limit + 1
    ), numbered AS (
        SELECT p.s, pg_catalog.row_number() OVER (ORDER BY (p.s).updated_at DESC, (p.s).id DESC) AS rn
          FROM page p
    )
    SELECT coalesce(pg_catalog.jsonb_agg(ex7._strategy_json(n.s, false) ORDER BY n.rn)
                        FILTER (WHERE n.rn <= v_limit), '[]'),
           pg_catalog.count(*),
           (pg_catalog.array_agg((n.s).updated_at) FILTER (WHERE n.rn = v_limit))[1],
           (pg_catalog.array_agg((n.s).id) FILTER (WHERE n.rn = v_limit))[1]
      INTO v_items, v_count, v_last_ts, v_last_id
      FROM numbered n;

    RETURN pg_catalog.jsonb_build_object(
        'items', v_items,
        'next_cursor', CASE WHEN v_count > v_limit
                            THEN ex7.cursor_encode('strategies', p_user, v_last_ts, v_last_id::text) END);
END
$$;
COMMENT ON FUNCTION ex7.list_strategies(uuid, text, text, text, text, integer) IS
'Returns {items, next_cursor}: one page of the user''s strategies (summaries without graph), most recently updated first, filtered by status, instrument and tag. next_cursor is null on the last page. X7422 for a bad status, cursor or limit (1..200).';

/*
 * update_strategy: PUT with patch semantics: only the keys present change. Order of checks: body (422),
 * strategy (404), If-Match (409 etag_mismatch: ex7-api-introduction.txt "409 Conflict: Optimistic-
 * concurrency clash. The If-Match etag did not match the current row."), archived (409), name (409).
 * A graph that differs from the current version's creates version current + 1 carrying note; note
 * alone changes nothing. A request that changes nothing keeps revision and etag.
 */
CREATE FUNCTION ex7.update_strategy(p_user uuid, p_id uuid, p_patch jsonb, p_if_match text DEFAULT NULL)
RETURNS jsonb
LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
    v        ex7.strategies;
    v_f      jsonb;
    v_graph  jsonb;
    v_name   text;
    v_desc   text;
    v_instr  text;
    v_tf     text;
    v_tags   text[];
    v_new_graph boolean := false;
    v_con    text;
BEGIN
    -- the strategy's current instrument stays acceptable even if it was deactivated since
    v_f := ex7._strategy_fields(p_patch, true,
        (SELECT s.instrument FROM ex7.strategies s WHERE s.id = p_id AND s.user_id = p_user));
    v := ex7._lock_strategy(p_user, p_id);
    IF p_if_match IS NOT NULL AND NOT ex7._etag_matches(v.etag, p_if_match) THEN
        PERFORM ex7._raise(409, 'strategy was modified since it was read (etag mismatch)',
                           pg_catalog.jsonb_build_object('code', 'etag_mismatch', 'etag', v.etag));
    END IF;
    IF v.status = 'archived' THEN
        -- an archived strategy is frozen until unarchived (Archive Strategy: "Soft-stop ... Reversible via
        -- /unarchive"); unarchive first, which resets it to draft
        PERFORM ex7._raise(409, 'an archived strategy cannot be modified; unarchive it first',
                           pg_catalog.jsonb_build_object('code', 'strategy_archived', 'status', v.status));
    END IF;

    v_name := coalesce(v_f ->> 'name', v.name);
    v_desc := coalesce(v_f ->> 'description', v.description);
    v_instr := coalesce(v_f ->> 'instrument', v.instrument);
    v_tf := coalesce(v_f ->> 'timeframe', v.timeframe);
    v_tags := CASE WHEN v_f ? 'tags' THEN ARRAY(SELECT pg_catalog.jsonb_array_elements_text(v_f -> 'tags'))
                   ELSE v.tags END;
    IF v_f ? 'graph' THEN
        SELECT sv.graph INTO v_graph FROM ex7.strategy_versions sv
         WHERE sv.strategy_id = v.id AND sv.version = v.current_version;
        v_new_graph := v_graph IS DISTINCT FROM v_f -> 'graph';
    END IF;

    IF NOT v_new_graph AND (v_name, v_desc, v_instr, v_tf, v_tags)
                           IS NOT DISTINCT FROM (v.name, v.description, v.instrument, v.timeframe::text, v.tags) THEN
        RETURN ex7._strategy_json(v);
    END IF;

    BEGIN
        UPDATE ex7.strategies s
           SET name = v_name, description = v_desc, instrument = v_instr, timeframe = v_tf, tags = v_tags,
               current_version = s.current_version + CASE WHEN v_new_graph THEN 1 ELSE 0 END,
               revision = s.revision + 1,
               etag = ex7._strategy_etag(s.id, s.revision + 1),
               updated_at = pg_catalog.now()
         WHERE s.id = v.id
        RETURNING * INTO v;
    EXCEPTION WHEN unique_violation THEN
        GET STACKED DIAGNOSTICS v_con = CONSTRAINT_NAME;
        IF v_con <> 'strategies_user_name_key' THEN
            RAISE;
        END IF;
        PERFORM ex7._name_conflict(v_name);
    END;
    IF v_new_graph THEN
        INSERT INTO ex7.strategy_versions (strategy_id, version, user_id, graph, note)
        VALUES (v.id, v.current_version, v.user_id, v_f -> 'graph', v_f ->> 'note');
    END IF;
    RETURN ex7._strategy_json(v);
END
$$;
COMMENT ON FUNCTION ex7.update_strategy(uuid, uuid, jsonb, text) IS
'Returns the updated strategy (with graph). Patchable: name, description, instrument, timeframe, tags, graph, note; a changed graph adds a version. p_if_match: the If-Match header (or the bare etag). X7404 missing, X7409 etag_mismatch / strategy_archived / name_conflict, X7422 invalid fields.';

/*
 * delete_strategy: soft delete (deleted_at); the name becomes free again. Its runtimes stop in the same
 * transaction, without draining: a deleted strategy has nothing left to finish a bar for.
 */
CREATE FUNCTION ex7.delete_strategy(p_user uuid, p_id uuid)
RETURNS void
LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
    v ex7.strategies;
BEGIN
    v := ex7._lock_strategy(p_user, p_id);
    UPDATE ex7.strategies s
       SET deleted_at = pg_catalog.now(), updated_at = pg_catalog.now(), revision = s.revision + 1,
           etag = ex7._strategy_etag(s.id, s.revision + 1)
     WHERE s.id = v.id;
    PERFORM ex7._stop_runtimes(v.id, false);
END
$$;
COMMENT ON FUNCTION ex7.delete_strategy(uuid, uuid) IS
'Returns nothing (204). Soft-deletes the strategy and stops its active runtimes (status stopped) in the same transaction. X7404 when it is missing, already deleted or another user''s.';

/* ---------------------------------------------------------------------------------------------------
 * Lifecycle: every transition goes through ex7._transition and the state machine of ext/lifecycle.c.
 * ------------------------------------------------------------------------------------------------- */

CREATE FUNCTION ex7._transition(p_user uuid, p_id uuid, p_action text)
RETURNS jsonb
LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
    v        ex7.strategies;
    v_target text;
BEGIN
    v := ex7._lock_strategy(p_user, p_id);
    -- raises X7409 invalid_transition with the allowed set (Promote Strategy: "Any other source status
    -- yields 409 with the per-status allowed set so the client can render a helpful message")
    v_target := ex7.lifecycle_target(v.status, p_action);

    IF v.status = 'ready' AND v_target = 'live' THEN
        -- HOOK live_promotion_validation (The Judge, a later issue): validate the current version before
        -- ready -> live and raise here when it fails (Unarchive Strategy: "re-promote explicitly, which
        -- re-triggers the live-promotion validation"). Nothing is checked yet.
        NULL;
    END IF;

    UPDATE ex7.strategies s
       SET status = v_target, revision = s.revision + 1, etag = ex7._strategy_etag(s.id, s.revision + 1),
           updated_at = pg_catalog.now()
     WHERE s.id = v.id
    RETURNING * INTO v;

    IF v_target = 'archived' THEN
        -- Archive Strategy: "Soft-stop": running runtimes drain (the dispatcher finishes the bar, then
        -- settles on stopped), ones that never ran stop at once
        PERFORM ex7._stop_runtimes(v.id, true);
    END IF;
    RETURN ex7._strategy_json(v);
END
$$;
COMMENT ON FUNCTION ex7._transition(uuid, uuid, text) IS
'Returns the strategy after lifecycle action p_action (promote, pause, resume, archive, unarchive). X7404 when missing, X7409 invalid_transition with the allowed set. Archiving drains the strategy''s runtimes.';

CREATE FUNCTION ex7.promote_strategy(p_user uuid, p_id uuid)
RETURNS jsonb
LANGUAGE plpgsql VOLATILE
AS $$
BEGIN
    RETURN ex7._transition(p_user, p_id, 'promote');
END
$$;
COMMENT ON FUNCTION ex7.promote_strategy(uuid, uuid) IS
'Returns the strategy moved one step forward: draft -> ready or ready -> live. X7409 invalid_transition (with the allowed set) from any other status, X7404 when missing.';

CREATE FUNCTION ex7.pause_strategy(p_user uuid, p_id uuid)
RETURNS jsonb
LANGUAGE plpgsql VOLATILE
AS $$
BEGIN
    RETURN ex7._transition(p_user, p_id, 'pause');
END
$$;
COMMENT ON FUNCTION ex7.pause_strategy(uuid, uuid) IS
'Returns the strategy moved live -> paused. X7409 invalid_transition from any other status, X7404 when missing.';

CREATE FUNCTION ex7.resume_strategy(p_user uuid, p_id uuid)
RETURNS jsonb
LANGUAGE plpgsql VOLATILE
AS $$
BEGIN
    RETURN ex7._transition(p_user, p_id, 'resume');
END
$$;
COMMENT ON FUNCTION ex7.resume_strategy(uuid, uuid) IS
'Returns the strategy moved paused -> live. X7409 invalid_transition from any other status, X7404 when missing.';

CREATE FUNCTION ex7.archive_strategy(p_user uuid, p_id uuid)
RETURNS jsonb
LANGUAGE plpgsql VOLATILE
AS $$
BEGIN
    RETURN ex7._transition(p_user, p_id, 'archive');
END
$$;
COMMENT ON FUNCTION ex7.archive_strategy(uuid, uuid) IS
'Returns the strategy archived (from any non-archived status) and drains its runtimes. X7409 when already archived, X7404 when missing.';

CREATE FUNCTION ex7.unarchive_strategy(p_user uuid, p_id uuid)
RETURNS jsonb
LANGUAGE plpgsql VOLATILE
AS $$
BEGIN
    RETURN ex7._transition(p_user, p_id, 'unarchive');
END
$$;
COMMENT ON FUNCTION ex7.unarchive_strategy(uuid, uuid) IS
'Returns the strategy moved archived -> draft (not the pre-archive status, which is not recorded). X7409 when not archived, X7404 when missing.';

/* ---------------------------------------------------------------------------------------------------
 * Versions.
 * ------------------------------------------------------------------------------------------------- */

/*
 * list_versions: newest first. The cursor is plain: "last version integer from previous page (DESC
 * pagination)" and the response is { "items": [VersionSummary, ...], "next_cursor": int | null } (List
 * Strategy Versions). It comes as text (a query string) and must be a positive integer.
 */
CREATE FUNCTION ex7.list_versions(p_user uuid, p_id uuid, p_cursor text DEFAULT NULL, p_limit integer DEFAULT 50)
RETURNS jsonb
LANGUAGE plpgsql STABLE
AS $$
DECLARE
    v_limit  integer := ex7._check_limit(p_limit);
    v        ex7.strategies;
    v_before integer := 2147483647;
    v_items  jsonb;
    v_count  bigint;
    v_last   integer;
BEGIN
    IF p_cursor IS NOT NULL THEN
        -- at most 9 digits: always within integer
        IF p_cursor !~ '^[0-9]{1,9}$' OR p_cursor::integer < 1 THEN
            PERFORM ex7._invalid('["query","cursor"]', 'cursor must be a positive integer (a version number)',
                                 'type_error.integer');
        END IF;
        v_before := p_cursor::integer;
    END IF;
    v := ex7._get_strategy(p_user, p_id);

    WITH page AS MATERIALIZED (
        SELECT sv
          FROM ex7.strategy_versions sv
         WHERE sv.strategy_id = v.id AND sv.version < v_before
         ORDER BY sv.version DESC
         LIMIT v_limit + 1
    ), numbered AS (
        SELECT p.sv, pg_catalog.row_number() OVER (ORDER BY (p.sv).version DESC) AS rn FROM page p
    )
    SELECT coalesce(pg_catalog.jsonb_agg(ex7._version_json(n.sv, v.current_version, false) ORDER BY n.rn)
                        FILTER (WHERE n.rn <= v_limit), '[]'),
           pg_catalog.count(*),
           pg_catalog.max((n.sv).version) FILTER (WHERE n.rn = v_limit)
      INTO v_items, v_count, v_last
      FROM numbered n;

    RETURN pg_catalog.jsonb_build_object('items', v_items,
                                         'next_cursor', CASE WHEN v_count > v_limit THEN v_last END);
END
$$;
COMMENT ON FUNCTION ex7.list_versions(uuid, uuid, text, integer) IS
'Returns {items, next_cursor}: one page of the strategy''s version summaries, newest first; next_cursor is the last version number of the page (an integer) or null. X7404 unknown strategy, X7422 bad cursor or limit.';

CREATE FUNCTION ex7.get_version(p_user uuid, p_id uuid, p_version integer)
RETURNS jsonb
LANGUAGE plpgsql STABLE
AS $$
DECLARE
    v   ex7.strategies := ex7._get_strategy(p_user, p_id);
    vv  ex7.strategy_versions;
BEGIN
    SELECT * INTO vv FROM ex7.strategy_versions sv WHERE sv.strategy_id = v.id AND sv.version = p_version;
    IF NOT FOUND THEN
        PERFORM ex7._raise(404, 'strategy version not found');
    END IF;
    RETURN ex7._version_json(vv, v.current_version, true);
END
$$;
COMMENT ON FUNCTION ex7.get_version(uuid, uuid, integer) IS
'Returns one version of the strategy with its graph. X7404 for an unknown strategy or version.';

/*
 * rollback_strategy: Rollback Strategy: "Create a new version whose graph matches `to_version`. Returns
 * { id, current_version }. Maps: StrategyNotFound -> 404 VersionNotFound -> 404 CannotRollbackToCurrent
 * -> 409". The response also carries the new etag (an additive field) for the front's ETag header.
 */
CREATE FUNCTION ex7.rollback_strategy(p_user uuid, p_id uuid, p_to_version integer)
RETURNS jsonb
LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
    v       ex7.strategies;
    v_graph jsonb;
BEGIN
    IF p_to_version IS NULL THEN
        PERFORM ex7._invalid('["body","to_version"]', 'field required', 'value_error.missing');
    END IF;
    v := ex7._lock_strategy(p_user, p_id);
    SELECT sv.graph INTO v_graph FROM ex7.strategy_versions sv
     WHERE sv.strategy_id = v.id AND sv.version = p_to_version;
    IF NOT FOUND THEN
        PERFORM ex7._raise(404, 'strategy version not found');
    END IF;
    IF p_to_version = v.current_version THEN
        PERFORM ex7._raise(409, 'cannot roll back to the current version',
                           pg_catalog.jsonb_build_object('code', 'cannot_rollback_to_current',
                                                         'current_version', v.current_version));
    END IF;
    IF v.status = 'archived' THEN
        -- like update_strategy: an archived strategy is frozen until unarchived
        PERFORM ex7._raise(409, 'an archived strategy cannot be modified; unarchive it first',
                           pg_catalog.jsonb_build_object('code', 'strategy_archived', 'status', v.status));
    END IF;

    UPDATE ex7.strategies s
       SET current_version = s.current_version + 1, revision = s.revision + 1,
           etag = ex7._strategy_etag(s.id, s.revision + 1), updated_at = pg_catalog.now()
     WHERE s.id = v.id
    RETURNING * INTO v;
    INSERT INTO ex7.strategy_versions (strategy_id, version, user_id, graph, rolled_back_from)
    VALUES (v.id, v.current_version, v.user_id, v_graph, p_to_version);
    RETURN pg_catalog.jsonb_build_object('id', v.id, 'current_version', v.current_version, 'etag', v.etag);
END
$$;
COMMENT ON FUNCTION ex7.rollback_strategy(uuid, uuid, integer) IS
'Returns {id, current_version, etag} after adding a version whose graph equals version p_to_version (rolled_back_from set). X7404 unknown strategy or version, X7409 cannot_rollback_to_current / strategy_archived.';

/* ---------------------------------------------------------------------------------------------------
 * Clone, export, import.
 * ------------------------------------------------------------------------------------------------- */

/*
 * clone_strategy: Clone Strategy: "Clone one of the caller's strategies into a new strategies row at
 * version 1." The copy is a draft with the source's current graph, whatever the source's status.
 * Without p_name it is "<name> (copy)", then "<name> (copy 2)", ...; an explicit name that is taken is a
 * 409 like create.
 */
CREATE FUNCTION ex7.clone_strategy(p_user uuid, p_source_id uuid, p_name text DEFAULT NULL)
RETURNS jsonb
LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
    v_src   ex7.strategies := ex7._get_strategy(p_user, p_source_id);
    v_f     jsonb;
    v_new   ex7.strategies;
BEGIN
    v_f := pg_catalog.jsonb_build_object(
        'name', CASE WHEN p_name IS NULL THEN v_src.name
                     ELSE ex7._strategy_fields(pg_catalog.jsonb_build_object('name', p_name), true) ->> 'name' END,
        'description', v_src.description,
        'instrument', v_src.instrument,
        'timeframe', v_src.timeframe,
        'tags', pg_catalog.to_jsonb(v_src.tags),
        'graph', (SELECT sv.graph FROM ex7.strategy_versions sv
                   WHERE sv.strategy_id = v_src.id AND sv.version = v_src.current_version));
    v_new := ex7._insert_strategy(p_user, v_f, CASE WHEN p_name IS NULL THEN 'copy' ELSE 'error' END,
        pg_catalog.format('cloned from "%s" version %s', v_src.name, v_src.current_version));
    RETURN ex7._strategy_json(v_new);
END
$$;
COMMENT ON FUNCTION ex7.clone_strategy(uuid, uuid, text) IS
'Returns the new strategy (201 body, with graph): a draft at version 1 with the source''s current graph, named p_name or "<name> (copy)", "<name> (copy 2)", ... X7404 unknown source, X7409 name_conflict for a taken explicit name, X7422 bad name.';

/*
 * export_strategy: Export Strategy: "format stamp, exported_at ISO8601, name/description/instrument/
 * timeframe/tags, and the full graph (nodes, edges, meta). Internal ids, user_id, and timestamps other
 * than `exported_at` are stripped".
 */
CREATE FUNCTION ex7.export_strategy(p_user uuid, p_id uuid)
RETURNS jsonb
LANGUAGE plpgsql STABLE
AS $$
DECLARE
    v ex7.strategies := ex7._get_strategy(p_user, p_id);
BEGIN
    RETURN pg_catalog.jsonb_build_object(
        'format', 'ex7.strategy/v1',
        'exported_at', pg_catalog.now(),
        'name', v.name,
        'description', v.description,
        'instrument', v.instrument,
        'timeframe', v.timeframe,
        'tags', pg_catalog.to_jsonb(v.tags),
        'graph', (SELECT sv.graph FROM ex7.strategy_versions sv
                   WHERE sv.strategy_id = v.id AND sv.version = v.current_version));
END
$$;
COMMENT ON FUNCTION ex7.export_strategy(uuid, uuid) IS
'Returns the portable export of the strategy''s head version: {format: "ex7.strategy/v1", exported_at, name, description, instrument, timeframe, tags, graph}; no ids, no other timestamps. X7404 when missing.';

/*
 * import_strategy: Import Strategy: "Body is a JSON document that matches the ExportPayload shape, plus
 * two import-only keys: format - must equal "ex7.strategy/v1". name_on_conflict - "suffix" to
 * auto-disambiguate, else errors out with 409 on name collision." Other keys (exported_at, anything a
 * newer exporter adds) are ignored, as the contract's ImportPayload does (extra="ignore").
 */
CREATE FUNCTION ex7.import_strategy(p_user uuid, p_payload jsonb)
RETURNS jsonb
LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
    c_format CONSTANT text := 'ex7.strategy/v1';
    v_f      jsonb;
    v        ex7.strategies;
BEGIN
    PERFORM ex7._ensure_user(p_user);
    IF p_payload IS NULL OR pg_catalog.jsonb_typeof(p_payload) <> 'object' THEN
        PERFORM ex7._invalid('["body"]', 'value is not a valid dict', 'type_error.dict');
    END IF;
    IF NOT p_payload ? 'format' THEN
        PERFORM ex7._invalid('["body","format"]', 'field required', 'value_error.missing');
    END IF;
    IF p_payload -> 'format' IS DISTINCT FROM pg_catalog.to_jsonb(c_format) THEN
        PERFORM ex7._invalid('["body","format"]', pg_catalog.format('unsupported format; expected "%s"', c_format),
                             'value_error.const');
    END IF;
    v_f := ex7._strategy_fields(
        (SELECT coalesce(pg_catalog.jsonb_object_agg(e.key, e.value), '{}')
           FROM pg_catalog.jsonb_each(p_payload) e
          WHERE e.key IN ('name', 'description', 'instrument', 'timeframe', 'tags', 'graph')),
        false);
    v := ex7._insert_strategy(p_user, v_f,
        CASE WHEN p_payload -> 'name_on_conflict' = '"suffix"' THEN 'suffix' ELSE 'error' END);
    RETURN ex7._strategy_json(v);
END
$$;
COMMENT ON FUNCTION ex7.import_strategy(uuid, jsonb) IS
'Returns the created strategy (201 body, with graph) from an export payload. format must be "ex7.strategy/v1" (X7422 ["body","format"]); name_on_conflict "suffix" picks "Name (2)", ... when the name is taken, anything else makes a taken name X7409 name_conflict. Fields validate like create; unknown keys are ignored.';
/* ext/sql/35_lifecycle.sql: the strategy lifecycle state machine (ext/lifecycle.c). The transition
 * functions that change rows live with the strategies (ext/sql/30_strategies.sql). */

CREATE FUNCTION ex7.lifecycle_allowed(p_status text)
RETURNS text[]
AS 'MODULE_PATHNAME', 'lifecycle_allowed'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION ex7.lifecycle_allowed(text) IS
'Returns the statuses a strategy in p_status may move to. Raises X7422 for an unknown status.';

CREATE FUNCTION ex7.lifecycle_target(p_status text, p_action text)
RETURNS text
AS 'MODULE_PATHNAME', 'lifecycle_target'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION ex7.lifecycle_target(text, text) IS
'Returns the status that action p_action (promote, pause, resume, archive, unarchive) leads to from p_status. Raises X7409 with detail {code: invalid_transition, status, action, allowed} when the edge does not exist, X7422 for an unknown status or action.';
/* ext/sql/40_pnl.sql: ex7.compute_pnl, the one and only P&L formula (ext/pnl.c, docs/pnl.md), and the
 * statement trigger that keeps its backend-local cache of ex7.instruments current. */

CREATE FUNCTION ex7.compute_pnl(p_instrument text, p_side text, p_size integer, p_entry_price numeric,
    p_close_price numeric, OUT points numeric, OUT ticks numeric, OUT gross_pnl numeric,
    OUT slippage_ticks numeric, OUT slippage_cost numeric, OUT commission numeric, OUT net_pnl numeric)
RETURNS record
AS 'MODULE_PATHNAME', 'compute_pnl'
LANGUAGE C STABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION ex7.compute_pnl(text, text, integer, numeric, numeric) IS
'Returns the P&L of a round trip of p_size contracts of p_instrument, p_side long or short, from p_entry_price to p_close_price, in exact numeric: points and ticks moved in the trader''s favour, gross_pnl = ticks * tick_value * size, slippage_ticks = 2.0 per side, slippage_cost = (2 + 2) * tick_value * size, commission = commission_per_side * 2 * size, net_pnl = gross_pnl - slippage_cost - commission. Raises X7422 for an unknown instrument, a side other than long or short, a size outside 1..100000, a NaN, infinite, out-of-range (|x| >= 10^16) or off-tick price, or a result out of range. The one and only P&L formula (docs/pnl.md).';

CREATE FUNCTION ex7._pnl_invalidate()
RETURNS trigger
AS 'MODULE_PATHNAME', 'pnl_invalidate'
LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION ex7._pnl_invalidate() IS
'Trigger: returns NULL. Queues a relcache invalidation of ex7.instruments so that every backend drops the instrument cache of ex7.compute_pnl (this one at the next command, the others at commit).';

-- ENABLE ALWAYS: also fires under session_replication_role = replica (logical replication apply)
CREATE TRIGGER instruments_pnl_cache
    AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON ex7.instruments
    FOR EACH STATEMENT EXECUTE FUNCTION ex7._pnl_invalidate();
ALTER TABLE ex7.instruments ENABLE ALWAYS TRIGGER instruments_pnl_cache;
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
CREATE FUNCTION ex7.trading_day_start(p_at timestamptz)
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
CREATE FUNCTION ex7._money_text(p_value numeric)
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
CREATE FUNCTION ex7.risk_decide(p_daily_loss_limit numeric, p_max_trades_per_day integer,
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
CREATE FUNCTION ex7._risk_limits(p_user uuid, p_mode text)
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

CREATE FUNCTION ex7._risk_limits_json(r ex7.risk_limits)
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

CREATE FUNCTION ex7._check_trade_mode(p_mode text, p_loc jsonb)
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

CREATE FUNCTION ex7.get_risk_limits(p_user uuid, p_mode text)
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
CREATE FUNCTION ex7.set_risk_limits(p_user uuid, p_mode text, p_limits jsonb)
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
CREATE FUNCTION ex7._risk_state(p_user uuid, p_mode text, p_at timestamptz)
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

    v_reason := ex7.risk_decide(lim.daily_loss_limit, lim.max_trades_per_day, lim.max_open_positions,
                                lim.max_consecutive_losses, v_realized, v_trades, v_open, v_consec);
    RETURN pg_catalog.jsonb_build_object(
        'mode', p_mode,
        'trading_allowed', v_reason IS NULL,
        'blocked_reason', v_reason,
        'limits', ex7._risk_limits_json(lim),
        'realized_pnl_today', ex7._money_text(v_realized),
        'trades_today', v_trades,
        'open_positions', v_open,
        'consecutive_losses', v_consec,
        'trading_day_start', v_start,
        'checked_at', p_at);
END
$$;
COMMENT ON FUNCTION ex7._risk_state(uuid, text, timestamptz) IS
'Returns the risk state of (p_user, p_mode) at p_at. May raise: callers use ex7._risk_check, which fails closed.';

CREATE FUNCTION ex7._risk_check(p_user uuid, p_mode text, p_at timestamptz)
RETURNS jsonb
LANGUAGE plpgsql STABLE
AS $$
DECLARE
    v_sqlstate text;
    v_message text;
BEGIN
    RETURN ex7._risk_state(p_user, p_mode, p_at);
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
COMMENT ON FUNCTION ex7._risk_check(uuid, text, timestamptz) IS
'Returns the risk state of (p_user, p_mode) at p_at; when computing it fails for any reason, a state with trading_allowed false and blocked_reason {breaker: error, reason: risk_state_unavailable, observed: <SQLSTATE>}. Never raises for a database error.';

CREATE FUNCTION ex7.risk_state(p_user uuid, p_mode text)
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
CREATE FUNCTION ex7._blocked_json(b ex7.signals_blocked)
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

CREATE FUNCTION ex7._record_blocked(p_user uuid, p_strategy_id uuid, p_strategy_version integer,
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
    RETURN b;
END
$$;
COMMENT ON FUNCTION ex7._record_blocked(uuid, uuid, integer, text, text, timestamptz, text, text, jsonb) IS
'Returns the new signals_blocked row recording that the gate refused a signal, with the refusing state p_state as reason_json.';

CREATE FUNCTION ex7.list_blocked(p_user uuid, p_limit integer DEFAULT 50, p_offset integer DEFAULT 0)
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

CREATE FUNCTION ex7._emit_event(p_user uuid, p_kind text, p_signal_id uuid, p_strategy_id uuid, p_payload jsonb)
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

CREATE FUNCTION ex7.replay_since_event_id(p_user uuid, p_last_event_id bigint, p_strategy_id uuid DEFAULT NULL,
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

CREATE FUNCTION ex7.last_event_id(p_user uuid)
RETURNS bigint
LANGUAGE sql STABLE
AS $$
    SELECT coalesce((SELECT u.last_event_seq FROM ex7.users u WHERE u.id = p_user), 0);
$$;
COMMENT ON FUNCTION ex7.last_event_id(uuid) IS
'Returns the id of the user''s newest committed event (0 when none): where a new stream without Last-Event-ID starts.';
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
CREATE FUNCTION ex7._signal_json(s ex7.signals)
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
        'entry_price', s.entry_price::text,
        'stop_price', s.stop_price::text,
        'target_price', s.target_price::text,
        'bar_ts', s.bar_ts,
        'fired_at', s.fired_at,
        'status', s.status,
        'close_reason', s.close_reason,
        'close_price', s.close_price::text,
        'closed_at', s.closed_at,
        'pnl_points', s.pnl_points::text,
        'pnl_ticks', s.pnl_ticks::text,
        'gross_pnl', s.gross_pnl::text,
        'slippage_ticks', s.slippage_ticks::text,
        'slippage_cost', s.slippage_cost::text,
        'commission', s.commission::text,
        'net_pnl', s.net_pnl::text,
        'tag', s.tag);
$$;
COMMENT ON FUNCTION ex7._signal_json(ex7.signals) IS
'Returns a signal as the API shows it (SignalOut): ids, instrument, timeframe, mode, side, size, prices, bar_ts, fired_at, status, close fields, P&L fields and tag; decimals as strings.';

CREATE FUNCTION ex7._audit_json(a ex7.signal_audit)
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
CREATE FUNCTION ex7._audit(p_user uuid, p_strategy_id uuid, p_strategy_version integer, p_instrument text,
                           p_timeframe text, p_mode text, p_bar_ts timestamptz, p_decision text,
                           p_signal_id uuid DEFAULT NULL, p_detail jsonb DEFAULT '{}')
RETURNS bigint
LANGUAGE sql VOLATILE
AS $$
    INSERT INTO ex7.signal_audit (user_id, strategy_id, strategy_version, instrument, timeframe, mode, bar_ts,
                                  decision, signal_id, detail)
    VALUES (p_user, p_strategy_id, p_strategy_version, p_instrument, p_timeframe, p_mode, p_bar_ts,
            p_decision, p_signal_id, coalesce(p_detail, '{}'))
    RETURNING id;
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
CREATE FUNCTION ex7._check_price(p_price numeric, p_tick numeric, p_loc jsonb)
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

CREATE FUNCTION ex7.fire_signal(p_user uuid, p_strategy_id uuid, p_mode text, p_side text, p_size integer,
                                p_entry_price numeric, p_bar_ts timestamptz, p_tag text DEFAULT NULL,
                                p_stop_price numeric DEFAULT NULL, p_target_price numeric DEFAULT NULL)
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

    -- The gate (IRON LAW §4). A refusal is recorded and returned, not raised: the engine goes on with
    -- the next strategy. _risk_check fails closed, so an error here is a refusal too.
    v_state := ex7._risk_check(p_user, p_mode, pg_catalog.now());
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
                             entry_price, stop_price, target_price, bar_ts, tag)
    VALUES (p_user, st.id, st.current_version, st.instrument, st.timeframe, p_mode, p_side, p_size,
            p_entry_price, p_stop_price, p_target_price, p_bar_ts, p_tag)
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
COMMENT ON FUNCTION ex7.fire_signal(uuid, uuid, text, text, integer, numeric, timestamptz, text, numeric, numeric) IS
'Returns {decision: fired, signal, event_id} after publishing a signal of the user''s strategy through the risk gate, or {decision: blocked, blocked: <Get Blocked item>} when the gate refuses (recorded in signals_blocked and the audit; not an error). X7404 for a strategy that is missing, soft-deleted or another user''s; X7422 for bad input or a price off the tick grid.';

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
CREATE FUNCTION ex7.list_signals(p_user uuid, p_strategy_id uuid DEFAULT NULL, p_from timestamptz DEFAULT NULL,
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
              FROM (SELECT x AS s, x.fired_at, x.id FROM ex7.signals x
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

CREATE FUNCTION ex7.get_signal(p_user uuid, p_signal_id uuid)
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
CREATE FUNCTION ex7.legacy_signals(p_user uuid, p_hours integer DEFAULT 24, p_instrument text DEFAULT NULL)
RETURNS jsonb
LANGUAGE plpgsql STABLE
AS $$
BEGIN
    IF p_hours IS NULL OR p_hours < 1 OR p_hours > 720 THEN
        PERFORM ex7._invalid('["query","hours"]', 'hours must be between 1 and 720', 'value_error.number.range');
    END IF;
    RETURN coalesce(
        (SELECT pg_catalog.jsonb_agg(ex7._signal_json(q.s) ORDER BY q.fired_at DESC, q.id DESC)
           FROM (SELECT x AS s, x.fired_at, x.id FROM ex7.signals x
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
CREATE FUNCTION ex7.list_audit(p_user uuid, p_strategy_id uuid DEFAULT NULL, p_from timestamptz DEFAULT NULL,
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
              FROM (SELECT x AS a, x.bar_ts, x.id FROM ex7.signal_audit x
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
 * close_signal follows the six steps of ex7-api-reference.txt, Close Signal ("Workflow (§7.3)"), after
 * the body validation FastAPI would do (reason, close_price) and after _lock_user.
 */
CREATE FUNCTION ex7.close_signal(p_user uuid, p_signal_id uuid, p_close_price numeric, p_reason text DEFAULT 'user')
RETURNS jsonb
LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
    s ex7.signals;
    pnl record;
    v_json jsonb;
BEGIN
    -- "status='cancelled' (per SignalClose.reason Literal 'user')": the only reason a client may send
    IF p_reason IS DISTINCT FROM 'user' THEN
        PERFORM ex7._invalid('["body","reason"]', 'reason must be: user', 'value_error.const');
    END IF;
    IF p_close_price IS NULL THEN
        PERFORM ex7._invalid('["body","close_price"]', 'close_price is required', 'value_error.missing');
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

    -- 4. "Compute P&L via compute_pnl(instrument, side, size, entry_price, close_price) — this is the
    --    one-and-only P&L formula (2-tick slippage 2-sided, per-instrument commission, all Decimal)."
    --    It raises X7422 at ["body","close_price"] for a price off the tick grid.
    SELECT * INTO pnl FROM ex7.compute_pnl(p_instrument => s.instrument, p_side => s.side, p_size => s.size,
                                           p_entry_price => s.entry_price, p_close_price => p_close_price);

    -- 5. "UPDATE with status='cancelled', close_reason='user', pnl fields populated, and
    --    slippage_ticks=2.0 (IRON LAW §7). The WHERE status='open' guard makes the UPDATE a no-op if a
    --    concurrent writer already closed the row — in which case we re-raise as 409."
    --    slippage_ticks is compute_pnl's, the one formula's 2 ticks.
    UPDATE ex7.signals x
       SET status = 'cancelled', close_reason = 'user', close_price = p_close_price,
           closed_at = pg_catalog.now(),
           pnl_points = pnl.points, pnl_ticks = pnl.ticks, gross_pnl = pnl.gross_pnl,
           slippage_ticks = pnl.slippage_ticks, slippage_cost = pnl.slippage_cost,
           commission = pnl.commission, net_pnl = pnl.net_pnl
     WHERE x.id = s.id AND x.status = 'open'
    RETURNING * INTO s;
    IF NOT FOUND THEN
        SELECT * INTO s FROM ex7.signals x WHERE x.id = p_signal_id;
        PERFORM ex7._raise(409, 'signal is not open',
                           pg_catalog.jsonb_build_object('code', 'signal_not_open', 'signal', ex7._signal_json(s)));
    END IF;

    -- 6. "pg_notify('signal_closed', <json>) inside the same transaction so the SSE broadcaster sees the
    --    close on commit only": _emit_event appends the event and notifies signal_closed.
    v_json := ex7._signal_json(s);
    PERFORM ex7._emit_event(p_user, 'signal_closed', s.id, s.strategy_id, v_json);
    RETURN v_json;
END
$$;
COMMENT ON FUNCTION ex7.close_signal(uuid, uuid, numeric, text) IS
'Returns the closed signal after a manual close of one of the user''s open paper signals at p_close_price (status cancelled, close_reason user, P&L from ex7.compute_pnl), emitting a signal_closed event. X7404 missing or not owned; X7409 {code: signal_not_open, signal} when not open; X7403 {code: live_close_disabled} for a live signal; X7422 for a missing or off-grid close_price or a reason other than user.';

/*
 * force_close_all: ex7-api-reference.txt, Force Close All. "close_price falls back to entry_price (safe
 * null-free default — no realized PnL for an emergency cancel)": the P&L fields are all zero, not
 * compute_pnl's figures (which at close = entry would still charge slippage and commission). Zero also
 * means a force-close is not a loss for the risk gate: it ends a run of consecutive losses. Every open
 * signal of the strategy is cancelled, paper and live alike: the contract makes no exception, and an
 * emergency lever that skipped some positions would not be one.
 */
CREATE FUNCTION ex7.force_close_all(p_user uuid, p_strategy_id uuid)
RETURNS jsonb
LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
    v_owner uuid;
    s ex7.signals;
    v_ids uuid[] := '{}';
BEGIN
    IF p_user IS NULL THEN
        PERFORM ex7._raise(401, 'acting user is required');
    END IF;
    -- 1. "404 if it doesn't exist (or is soft-deleted); 403 if someone else owns it."
    SELECT t.user_id INTO v_owner FROM ex7.strategies t WHERE t.id = p_strategy_id AND t.deleted_at IS NULL;
    IF NOT FOUND THEN
        PERFORM ex7._raise(404, 'strategy not found');
    END IF;
    IF v_owner <> p_user THEN
        PERFORM ex7._raise(403, 'strategy belongs to another user',
                           pg_catalog.jsonb_build_object('code', 'not_owner'));
    END IF;

    PERFORM ex7._lock_user(p_user);

    -- 2. "UPDATE every open signal with close_reason='force_close'."
    WITH u AS (
        UPDATE ex7.signals x
           SET status = 'cancelled', close_reason = 'force_close', close_price = x.entry_price,
               closed_at = pg_catalog.now(),
               pnl_points = 0, pnl_ticks = 0, gross_pnl = 0.00, slippage_ticks = 0, slippage_cost = 0.00,
               commission = 0.00, net_pnl = 0.00
         WHERE x.strategy_id = p_strategy_id AND x.user_id = p_user AND x.status = 'open'
        RETURNING x.id, x.fired_at)
    SELECT coalesce(pg_catalog.array_agg(u.id ORDER BY u.fired_at, u.id), '{}') INTO v_ids FROM u;

    -- 3. "For every closed signal id, emit pg_notify('signal_closed', ...)": one event per signal, in
    --    the order the signals fired.
    FOR s IN SELECT x.* FROM ex7.signals x WHERE x.id = ANY (v_ids) ORDER BY x.fired_at, x.id LOOP
        PERFORM ex7._emit_event(p_user, 'signal_closed', s.id, s.strategy_id, ex7._signal_json(s));
    END LOOP;

    -- "Returns the number of signals that transitioned to 'cancelled'."
    RETURN pg_catalog.jsonb_build_object(
        'closed', pg_catalog.cardinality(v_ids),
        'signal_ids', pg_catalog.to_jsonb(v_ids));
END
$$;
COMMENT ON FUNCTION ex7.force_close_all(uuid, uuid) IS
'Returns {closed: n, signal_ids: [...]} after cancelling every open signal of the user''s strategy (close_reason force_close, close_price = entry_price, zero P&L), one signal_closed event each in fired order. X7404 when the strategy does not exist or is soft-deleted, X7403 when another user owns it.';
/* ext/sql/80_runtimes.sql: the runtimes API (contract section "Signals": List Runtimes, Start Runtime,
 * Stop Runtime, Signals Health Me). A runtime is the worker state of one (strategy, mode): starting,
 * running, draining, stopped or error. These functions record what the user asks for; the dispatcher
 * moves starting -> running and draining -> stopped. docs/runtimes.md describes the JSON.
 */

CREATE FUNCTION ex7._runtime_json(p_r ex7.strategy_runtimes, p_strategy_name text)
RETURNS jsonb
LANGUAGE sql STABLE PARALLEL SAFE
AS $$
    SELECT pg_catalog.jsonb_build_object(
        'id', p_r.id,
        'strategy_id', p_r.strategy_id,
        'strategy_name', p_strategy_name,
        'mode', p_r.mode,
        'status', p_r.status,
        'started_at', p_r.started_at,
        'stopped_at', p_r.stopped_at,
        'last_bar_ts', p_r.last_bar_ts,
        'error', p_r.error,
        'updated_at', p_r.updated_at);
$$;
COMMENT ON FUNCTION ex7._runtime_json(ex7.strategy_runtimes, text) IS
'Returns the API JSON of a runtime: id, strategy_id, strategy_name, mode, status, started_at, stopped_at, last_bar_ts, error, updated_at.';

CREATE FUNCTION ex7._check_mode(p_mode text)
RETURNS text
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
AS $$
BEGIN
    -- the values of the ex7.trade_mode domain (ext/sql/10_schema.sql)
    IF p_mode IS NULL OR p_mode NOT IN ('paper', 'live') THEN
        PERFORM ex7._invalid('["body","mode"]', 'value is not a valid enumeration member; permitted: paper, live',
                             'type_error.enum');
    END IF;
    RETURN p_mode;
END
$$;
COMMENT ON FUNCTION ex7._check_mode(text) IS
'Returns p_mode when it is paper or live; raises X7422 ["body","mode"] otherwise.';

/*
 * _stop_runtimes: what happens to a strategy's runtimes when the strategy goes away. Called with the
 * strategy row already locked (ex7.delete_strategy, ex7._transition).
 *   p_drain (archive, a "soft-stop"): running -> draining, as Stop Runtime does; starting -> stopped
 *     (it never ran a bar, there is nothing to drain); draining, stopped and error stay.
 *   not p_drain (delete): starting, running and draining -> stopped at once; stopped and error stay
 *     (error keeps its message for the user to read).
 */
CREATE FUNCTION ex7._stop_runtimes(p_strategy_id uuid, p_drain boolean)
RETURNS integer
LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
    v_n integer;
BEGIN
    UPDATE ex7.strategy_runtimes r
       SET status = CASE WHEN p_drain AND r.status = 'running' THEN 'draining' ELSE 'stopped' END,
           stopped_at = CASE WHEN p_drain AND r.status = 'running' THEN r.stopped_at ELSE pg_catalog.now() END,
           updated_at = pg_catalog.now()
     WHERE r.strategy_id = p_strategy_id
       AND r.status IN ('starting', 'running', 'draining')
       AND NOT (p_drain AND r.status = 'draining');
    GET DIAGNOSTICS v_n = ROW_COUNT;
    RETURN v_n;
END
$$;
COMMENT ON FUNCTION ex7._stop_runtimes(uuid, boolean) IS
'Returns how many runtimes of the strategy changed: with p_drain running ones drain and starting ones stop; without, every active one stops at once.';

/*
 * list_runtimes: List Runtimes: "Return every (strategy, mode) runtime row owned by the caller. Ordered so
 * the most recently started worker bubbles up; never-started rows (started_at IS NULL) sink to the
 * bottom with NULLS LAST." Every row means every: those of soft-deleted strategies too (they are
 * stopped). Ties break on id, the order of strategy_runtimes_user_started_idx.
 */
CREATE FUNCTION ex7.list_runtimes(p_user uuid)
RETURNS jsonb
LANGUAGE sql STABLE
AS $$
    SELECT pg_catalog.jsonb_build_object('items', coalesce(
        pg_catalog.jsonb_agg(ex7._runtime_json(r, s.name) ORDER BY r.started_at DESC NULLS LAST, r.id), '[]'))
      FROM ex7.strategy_runtimes r
      JOIN ex7.strategies s ON s.id = r.strategy_id
     WHERE r.user_id = p_user;
$$;
COMMENT ON FUNCTION ex7.list_runtimes(uuid) IS
'Returns {items}: every runtime of the user, most recently started first, never-started ones last.';

/*
 * start_runtime: Start Runtime. "Gates (in order):
 *   1. Strategy exists and is not soft-deleted -> 404 otherwise.
 *   2. Strategy belongs to caller -> 403 otherwise (NOT 404, to avoid timing-based strategy id
 *      enumeration).
 *   3. Strategy status is one of ('ready','live','paused') -> 409 with code strategy_not_startable
 *      otherwise.
 *   4. body.mode == 'live' -> 403 live_mode_disabled_v1 (§6). v1 blocks all live starts regardless of
 *      tier until the live gate ships.
 *   5. UPSERT into strategy_runtimes. The ON CONFLICT clause preserves an already-active row's status.
 *      If the returned status is still 'running' / 'draining' we raise 409 ... Idempotent: a caller that
 *      POSTs /start while the row is already 'starting' gets a clean 200 status='starting'."
 * A mode that is neither paper nor live is a 422 before any gate (body validation comes first).
 * The strategy row is read FOR SHARE: a concurrent archive or delete (FOR UPDATE) waits for this start
 * to commit and then stops the runtime it created, or this start sees the new status.
 */
CREATE FUNCTION ex7.start_runtime(p_user uuid, p_strategy_id uuid, p_mode text DEFAULT 'paper')
RETURNS jsonb
LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
    v   ex7.strategies;
    r   ex7.strategy_runtimes;
BEGIN
    PERFORM ex7._check_mode(p_mode);
    PERFORM ex7._ensure_user(p_user);

    SELECT * INTO v FROM ex7.strategies s WHERE s.id = p_strategy_id FOR SHARE;
    IF NOT FOUND OR v.deleted_at IS NOT NULL THEN                                           -- gate 1
        PERFORM ex7._raise(404, 'strategy not found');
    END IF;
    IF v.user_id <> p_user THEN                                                             -- gate 2
        PERFORM ex7._raise(403, 'strategy belongs to another user',
                           pg_catalog.jsonb_build_object('code', 'not_owner'));
    END IF;
    IF v.status NOT IN ('ready', 'live', 'paused') THEN                                     -- gate 3
        PERFORM ex7._raise(409, pg_catalog.format('a strategy in status %s cannot be started', v.status),
                           pg_catalog.jsonb_build_object('code', 'strategy_not_startable', 'status', v.status));
    END IF;
    IF p_mode = 'live' THEN                                                                 -- gate 4
        PERFORM ex7._raise(403, 'live mode is disabled in v1',
                           pg_catalog.jsonb_build_object('code', 'live_mode_disabled_v1'));
    END IF;

    INSERT INTO ex7.strategy_runtimes AS x (strategy_id, user_id, mode, status, started_at)        -- gate 5
    VALUES (v.id, v.user_id, p_mode, 'starting', pg_catalog.now())
    ON CONFLICT (strategy_id, mode) DO UPDATE
       SET status = CASE WHEN x.status IN ('stopped', 'error') THEN 'starting' ELSE x.status END,
           started_at = CASE WHEN x.status IN ('stopped', 'error') THEN pg_catalog.now() ELSE x.started_at END,
           stopped_at = CASE WHEN x.status IN ('stopped', 'error') THEN NULL ELSE x.stopped_at END,
           error = CASE WHEN x.status IN ('stopped', 'error') THEN NULL ELSE x.error END,
           updated_at = CASE WHEN x.status IN ('stopped', 'error') THEN pg_catalog.now() ELSE x.updated_at END
    RETURNING * INTO r;

    IF r.status IN ('running', 'draining') THEN
        -- "so the client sees the current state instead of a silent no-op"; raising also undoes the
        -- no-op update of the upsert
        PERFORM ex7._raise(409, pg_catalog.format('runtime is already %s', r.status),
                           pg_catalog.jsonb_build_object('code', 'runtime_active', 'runtime',
                                                         ex7._runtime_json(r, v.name)));
    END IF;
    RETURN ex7._runtime_json(r, v.name);
END
$$;
COMMENT ON FUNCTION ex7.start_runtime(uuid, uuid, text) IS
'Returns the runtime (status starting) of the strategy in p_mode, creating or restarting it; idempotent while starting. Gates in order: X7404 missing or deleted, X7403 another user''s, X7409 strategy_not_startable (not ready/live/paused), X7403 live_mode_disabled_v1, X7409 runtime_active (running or draining, with the row). X7422 for a mode other than paper or live.';

/*
 * stop_runtime: Stop Runtime: "Row in 'running' -> flipped to 'draining' ... Row already 'stopped' /
 * 'error' / 'draining' / 'starting' -> return the current status unchanged (200). Stop is idempotent
 * and side-effect-free for non-running states. No such row -> 404. We do NOT check the strategies table
 * here: ownership is already enforced by the user_id predicate on the UPDATE."
 */
CREATE FUNCTION ex7.stop_runtime(p_user uuid, p_strategy_id uuid, p_mode text DEFAULT 'paper')
RETURNS jsonb
LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
    r ex7.strategy_runtimes;
BEGIN
    PERFORM ex7._check_mode(p_mode);
    UPDATE ex7.strategy_runtimes x
       SET status = 'draining', updated_at = pg_catalog.now()
     WHERE x.strategy_id = p_strategy_id AND x.mode = p_mode AND x.user_id = p_user AND x.status = 'running'
    RETURNING * INTO r;
    IF NOT FOUND THEN
        SELECT * INTO r FROM ex7.strategy_runtimes x
         WHERE x.strategy_id = p_strategy_id AND x.mode = p_mode AND x.user_id = p_user;
        IF NOT FOUND THEN
            PERFORM ex7._raise(404, 'runtime not found');
        END IF;
    END IF;
    RETURN ex7._runtime_json(r, (SELECT s.name FROM ex7.strategies s WHERE s.id = r.strategy_id));
END
$$;
COMMENT ON FUNCTION ex7.stop_runtime(uuid, uuid, text) IS
'Returns the runtime after a stop request: running becomes draining (the dispatcher then settles it on stopped); any other status is returned unchanged. X7404 when the user has no runtime for (strategy, mode).';

/*
 * signals_health_me: Signals Health Me: "Per-user runtime rows - the data behind 'my strategies are
 * running'. Returns {"items": [...]} where each item mirrors strategy_runtimes fields the UI needs.
 * Scoped to user_id via the strategies join". Items are those of list_runtimes plus the strategy's
 * status, instrument and timeframe; runtimes of soft-deleted strategies are left out (they are no longer
 * the user's strategies). Same order as list_runtimes.
 */
CREATE FUNCTION ex7.signals_health_me(p_user uuid)
RETURNS jsonb
LANGUAGE sql STABLE
AS $$
    SELECT pg_catalog.jsonb_build_object('items', coalesce(
        pg_catalog.jsonb_agg(ex7._runtime_json(r, s.name)
                             || pg_catalog.jsonb_build_object('strategy_status', s.status,
                                                              'instrument', s.instrument,
                                                              'timeframe', s.timeframe)
                             ORDER BY r.started_at DESC NULLS LAST, r.id), '[]'))
      FROM ex7.strategy_runtimes r
      JOIN ex7.strategies s ON s.id = r.strategy_id AND s.user_id = p_user AND s.deleted_at IS NULL
     WHERE r.user_id = p_user;
$$;
COMMENT ON FUNCTION ex7.signals_health_me(uuid) IS
'Returns {items}: the user''s runtimes of live (not deleted) strategies, each the runtime JSON plus strategy_status, instrument and timeframe, most recently started first.';
/* ext/sql/90_health.sql: liveness for /api/health (ex7-api-introduction.txt, "One quick request": "A live
 * API returns 200 with a JSON body that includes status, postgresql, and last_signal_time"). */

CREATE FUNCTION ex7.health()
RETURNS jsonb
LANGUAGE sql STABLE PARALLEL SAFE
AS $$
    SELECT pg_catalog.jsonb_build_object(
        'status', 'ok',
        'postgresql', 'ok',
        'extension_version', (SELECT e.extversion FROM pg_catalog.pg_extension e WHERE e.extname = 'ex7'),
        'last_signal_time', (SELECT u.last_signal_at FROM ex7.users u
                              WHERE u.last_signal_at IS NOT NULL ORDER BY u.last_signal_at DESC LIMIT 1));
$$;
COMMENT ON FUNCTION ex7.health() IS
'Returns {status, postgresql, extension_version, last_signal_time}: the body of GET /api/health. Not user-scoped; reads the newest users.last_signal_at through users_last_signal_idx.';
/* ext/sql/99_grants.sql: the end of the install script. What roles bound to a user (ex7_user) may do;
 * row-level security narrows every grant to that user's rows. */

GRANT USAGE ON SCHEMA ex7 TO ex7_user;
GRANT SELECT ON ALL TABLES IN SCHEMA ex7 TO ex7_user;
REVOKE ALL ON ex7.secrets FROM ex7_user;
GRANT INSERT, UPDATE ON ex7.strategies, ex7.strategy_versions, ex7.strategy_runtimes, ex7.signals,
    ex7.signal_events, ex7.signal_audit, ex7.signals_blocked, ex7.risk_limits TO ex7_user;
-- a bound role may create its own user row and advance its event counter, never change its tier
GRANT INSERT (id, email) ON ex7.users TO ex7_user;
GRANT UPDATE (last_event_seq, last_signal_at, email) ON ex7.users TO ex7_user;
GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA ex7 TO ex7_user;
REVOKE EXECUTE ON FUNCTION ex7.bind_role(name, uuid) FROM PUBLIC, ex7_user;
GRANT USAGE ON ALL SEQUENCES IN SCHEMA ex7 TO ex7_user;
