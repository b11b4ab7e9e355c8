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

-- Seed rows carry a fixed updated_at (when these specs were set), not the install's clock, so every
-- install seeds the same rows and a restore's CREATE EXTENSION re-creates them exactly (01_backup_schema.sql).
INSERT INTO ex7.instruments (symbol, name, tick_size, tick_value, commission_per_side, updated_at)
SELECT v.*, timestamptz '2026-01-01 00:00:00+00' FROM (VALUES
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
    ('MGC', 'Micro Gold',              0.10,  1.00, 0.75)) AS v;
-- seeded: dumped only where changed since the install (ext/sql/01_backup_schema.sql, 98_seed_schema.sql)
SELECT pg_catalog.pg_extension_config_dump('ex7.instruments', 'WHERE NOT ex7._seed_row(''instruments'', instruments)');
CREATE TRIGGER instruments_seed_merge BEFORE INSERT ON ex7.instruments
    FOR EACH ROW EXECUTE FUNCTION ex7._seed_merge();

/* ---------------------------------------------------------------------------------------------------
 * Strategies and their immutable versions.
 * ------------------------------------------------------------------------------------------------- */
CREATE TABLE ex7.strategies (
    id              uuid NOT NULL DEFAULT pg_catalog.gen_random_uuid(),
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
    deleted_at      timestamptz,
    PRIMARY KEY (user_id, id)
);
SELECT pg_catalog.pg_extension_config_dump('ex7.strategies', '');
COMMENT ON TABLE ex7.strategies IS 'A user''s strategies. Soft-deleted rows keep deleted_at; names are unique per owner among live rows.';
COMMENT ON COLUMN ex7.strategies.etag IS 'Opaque version of the row for optimistic concurrency (If-Match); changes on every update.';
COMMENT ON COLUMN ex7.strategies.revision IS 'Counts the updates of the row; the etag is derived from it.';
CREATE UNIQUE INDEX strategies_user_name_key ON ex7.strategies (user_id, name) WHERE deleted_at IS NULL;
-- keyset order of ex7.list_strategies: (updated_at DESC, id DESC) per user among live rows
CREATE INDEX strategies_user_updated_idx ON ex7.strategies (user_id, updated_at DESC, id DESC) WHERE deleted_at IS NULL;

CREATE TABLE ex7.strategy_versions (
    strategy_id         uuid NOT NULL,
    version             integer NOT NULL CHECK (version >= 1),
    user_id             uuid NOT NULL REFERENCES ex7.users (id),
    graph               jsonb NOT NULL,
    note                text CHECK (pg_catalog.length(note) <= 1000),
    rolled_back_from    integer,
    created_at          timestamptz NOT NULL DEFAULT pg_catalog.now(),
    PRIMARY KEY (user_id, strategy_id, version),
    CONSTRAINT strategy_versions_strategy_fkey FOREIGN KEY (user_id, strategy_id) REFERENCES ex7.strategies (user_id, id)
);
SELECT pg_catalog.pg_extension_config_dump('ex7.strategy_versions', '');
COMMENT ON TABLE ex7.strategy_versions IS 'Immutable history of a strategy''s graph. A rollback adds a version whose graph equals an older one.';
COMMENT ON COLUMN ex7.strategy_versions.rolled_back_from IS 'For a rollback version: the version number whose graph it copies.';
-- Immutable: no function updates or deletes a version, and no role is granted UPDATE, DELETE or TRUNCATE on
-- it (99_grants.sql). A trigger refusing them would keep the table from being distributed on Citus
-- (docs/scale-out.md, "Triggers").

/* ---------------------------------------------------------------------------------------------------
 * Runtimes: one row per (strategy, mode), the worker state the dispatcher drives.
 * ------------------------------------------------------------------------------------------------- */
CREATE TABLE ex7.strategy_runtimes (
    id              uuid NOT NULL DEFAULT pg_catalog.gen_random_uuid(),
    strategy_id     uuid NOT NULL,
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
    PRIMARY KEY (user_id, id),
    CONSTRAINT strategy_runtimes_strategy_id_mode_key UNIQUE (user_id, strategy_id, mode),
    CONSTRAINT strategy_runtimes_strategy_fkey FOREIGN KEY (user_id, strategy_id) REFERENCES ex7.strategies (user_id, id)
);
SELECT pg_catalog.pg_extension_config_dump('ex7.strategy_runtimes', '');
COMMENT ON TABLE ex7.strategy_runtimes IS 'Runtime state per (strategy, mode): starting, running, draining, stopped or error.';
-- order of ex7.list_runtimes: started_at DESC NULLS LAST per user
CREATE INDEX strategy_runtimes_user_started_idx ON ex7.strategy_runtimes (user_id, started_at DESC NULLS LAST, id);

/* ---------------------------------------------------------------------------------------------------
 * Signals and what surrounds them: the event log (SSE ids), the audit of dispatcher decisions and the
 * risk gate's refusals.
 * ------------------------------------------------------------------------------------------------- */
CREATE TABLE ex7.signals (
    id                  uuid NOT NULL DEFAULT pg_catalog.gen_random_uuid(),
    user_id             uuid NOT NULL REFERENCES ex7.users (id),
    strategy_id         uuid NOT NULL,
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
        OR (status <> 'open' AND closed_at IS NOT NULL AND close_reason IS NOT NULL AND close_price IS NOT NULL)),
    PRIMARY KEY (user_id, id),
    CONSTRAINT signals_strategy_fkey FOREIGN KEY (user_id, strategy_id) REFERENCES ex7.strategies (user_id, id)
);
SELECT pg_catalog.pg_extension_config_dump('ex7.signals', '');
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
    signal_id       uuid NOT NULL,
    strategy_id     uuid NOT NULL,
    payload         jsonb NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT pg_catalog.now(),
    PRIMARY KEY (user_id, seq),
    CONSTRAINT signal_events_signal_fkey FOREIGN KEY (user_id, signal_id) REFERENCES ex7.signals (user_id, id),
    CONSTRAINT signal_events_strategy_fkey FOREIGN KEY (user_id, strategy_id) REFERENCES ex7.strategies (user_id, id)
);
SELECT pg_catalog.pg_extension_config_dump('ex7.signal_events', '');
COMMENT ON TABLE ex7.signal_events IS 'Append-only per-user event log. seq is the SSE event id; it is handed out under the user row lock, so a user''s events commit in seq order.';

CREATE TABLE ex7.signal_audit (
    id                  bigint GENERATED ALWAYS AS IDENTITY,
    user_id             uuid NOT NULL REFERENCES ex7.users (id),
    strategy_id         uuid,
    strategy_version    integer,
    instrument          text,
    timeframe           text,
    mode                ex7.trade_mode,
    bar_ts              timestamptz NOT NULL,
    decision            text NOT NULL CHECK (decision IN ('fired', 'no_signal', 'blocked', 'exit', 'error', 'skipped')),
    signal_id           uuid,
    detail              jsonb NOT NULL DEFAULT '{}',
    created_at          timestamptz NOT NULL DEFAULT pg_catalog.now(),
    PRIMARY KEY (user_id, id),
    CONSTRAINT signal_audit_strategy_fkey FOREIGN KEY (user_id, strategy_id) REFERENCES ex7.strategies (user_id, id),
    CONSTRAINT signal_audit_signal_fkey FOREIGN KEY (user_id, signal_id) REFERENCES ex7.signals (user_id, id)
);
SELECT pg_catalog.pg_extension_config_dump('ex7.signal_audit', '');
SELECT pg_catalog.pg_extension_config_dump('ex7.signal_audit_id_seq', '');
COMMENT ON TABLE ex7.signal_audit IS 'Every dispatcher decision (fired, no_signal, blocked, exit, error, skipped) with its context.';
-- keyset order of ex7.list_audit: (bar_ts DESC, id DESC) per user
CREATE INDEX signal_audit_user_bar_idx ON ex7.signal_audit (user_id, bar_ts DESC, id DESC);

CREATE TABLE ex7.signals_blocked (
    id                  uuid NOT NULL DEFAULT pg_catalog.gen_random_uuid(),
    user_id             uuid NOT NULL REFERENCES ex7.users (id),
    strategy_id         uuid,
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
    blocked_at          timestamptz NOT NULL DEFAULT pg_catalog.now(),
    PRIMARY KEY (user_id, id),
    CONSTRAINT signals_blocked_strategy_fkey FOREIGN KEY (user_id, strategy_id) REFERENCES ex7.strategies (user_id, id)
);
SELECT pg_catalog.pg_extension_config_dump('ex7.signals_blocked', '');
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
SELECT pg_catalog.pg_extension_config_dump('ex7.risk_limits', '');
COMMENT ON TABLE ex7.risk_limits IS 'Per-user, per-mode risk limits; no row means the column defaults.';

/* ---------------------------------------------------------------------------------------------------
 * Row-level security. Every per-user table: enabled and forced, one policy "<table>_own" that lets a
 * role bound to a user (ex7.current_user_id()) see and write only that user's rows. The function is called
 * directly, not in a sub-select: Citus refuses sub-queries in the policies of distributed tables
 * (docs/scale-out.md); ex7.current_user_id() is STABLE, so an index scan on user_id evaluates it once.
 * Roles that act for many users (the HTTP front) bypass RLS and every function checks ownership explicitly.
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
            'CREATE POLICY %I ON ex7.%I USING (user_id = ex7.current_user_id()) '
            'WITH CHECK (user_id = ex7.current_user_id())', t || '_own', t);
    END LOOP;
END
$$;

ALTER TABLE ex7.users ENABLE ROW LEVEL SECURITY;
ALTER TABLE ex7.users FORCE ROW LEVEL SECURITY;
CREATE POLICY users_own ON ex7.users USING (id = ex7.current_user_id());

ALTER TABLE ex7.role_bindings ENABLE ROW LEVEL SECURITY;
ALTER TABLE ex7.role_bindings FORCE ROW LEVEL SECURITY;
CREATE POLICY role_bindings_own ON ex7.role_bindings FOR SELECT USING (role_name = CURRENT_USER);
