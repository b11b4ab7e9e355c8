/* ext/upgrade/0.1.0--0.2.0.sql: the DDL delta from 0.1.0 to 0.2.0 (new tables, columns, indexes,
 * policies, triggers; DROP FUNCTION for a function whose signature changed). The Makefile appends every
 * re-runnable file of ext/sql/ (functions, comments, grants) to make ext/ex7--0.1.0--0.2.0.sql.
 * tools/upgrade_check.sh proves that 0.1.0 + this upgrade has the same catalog as a fresh 0.2.0. */

\echo Use "ALTER EXTENSION ex7 UPDATE TO '0.2.0'" to load this file. \quit

-- 0.2.0 moved the instrument cache trigger into ext/sql/41_pnl_schema.sql; it is unchanged.

-- ext/sql/12_market_schema.sql: market data
CREATE TABLE ex7.bars (
    instrument  text NOT NULL REFERENCES ex7.instruments (symbol),
    timeframe   ex7.timeframe NOT NULL,
    ts          timestamptz NOT NULL,
    open        numeric NOT NULL,
    high        numeric NOT NULL,
    low         numeric NOT NULL,
    close       numeric NOT NULL,
    volume      bigint NOT NULL CHECK (volume >= 0),
    received_at timestamptz NOT NULL DEFAULT pg_catalog.now(),
    PRIMARY KEY (instrument, timeframe, ts),
    CHECK (high >= low AND high >= open AND high >= close AND low <= open AND low <= close)
);
COMMENT ON TABLE ex7.bars IS 'Closed OHLCV bars per (instrument, timeframe, close time ts). Prices are on the instrument''s tick grid (checked on ingest). The primary key serves the engine''s "last N bars up to ts" reads, newest first.';
COMMENT ON COLUMN ex7.bars.ts IS 'The bar''s close time: a 5m bar covering 14:30-14:35 has ts 14:35.';

-- ext/sql/06_rate_schema.sql: rate-limit counters shared by every ex7d process
CREATE UNLOGGED TABLE ex7.rate_counters (
    subject      text PRIMARY KEY CHECK (pg_catalog.length(subject) BETWEEN 1 AND 100),
    minute_start timestamptz NOT NULL,
    minute_used  integer NOT NULL CHECK (minute_used >= 0),
    day_start    timestamptz NOT NULL,
    day_used     integer NOT NULL CHECK (day_used >= 0)
);
COMMENT ON TABLE ex7.rate_counters IS 'Requests counted per rate-limit subject (user:<uuid> for bearer subjects, addr:<ip> for public routes) in the current minute and UTC day, across every ex7d process. Written only through ex7.rate_take.';

-- ext/sql/12_market_schema.sql: market closures (holidays, early closes) of a session calendar
CREATE TABLE ex7.market_closures (
    session_calendar text NOT NULL,
    starts_at        timestamptz NOT NULL,
    ends_at          timestamptz NOT NULL,
    reason           text NOT NULL DEFAULT '' CHECK (pg_catalog.length(reason) <= 200),
    PRIMARY KEY (session_calendar, starts_at),
    CHECK (ends_at > starts_at)
);
COMMENT ON TABLE ex7.market_closures IS 'Closed periods of a session calendar beyond its weekly hours (holidays, early closes), kept by the operator. During one, ex7.market_session says closed and freshness is closed.';
SELECT pg_catalog.pg_extension_config_dump('ex7.market_closures', '');

-- ext/sql/72_account_schema.sql: waitlist, Vix quotas (tiers.vix_per_day, vix_usage), self-hosted login, exchange keys (issue 6)

/*
 * Vix generations per UTC day and tier. The contract lists Vix (POST /api/vix/generate-strategy, GET
 * /api/vix/quota) without numbers; ex7-api-introduction.txt says "daily quotas reset at 00:00 UTC".
 * The caps are ours (docs/account.md), in the tiers table so the operator can change them.
 */
ALTER TABLE ex7.tiers ADD COLUMN vix_per_day integer NOT NULL DEFAULT 0 CHECK (vix_per_day >= 0);
COMMENT ON COLUMN ex7.tiers.vix_per_day IS 'Vix strategy generations per UTC day (POST /api/vix/generate-strategy); 0 turns Vix off for the tier.';
UPDATE ex7.tiers SET vix_per_day = CASE tier WHEN 'free' THEN 5 WHEN 'operator' THEN 50 ELSE 250 END;

CREATE TABLE ex7.vix_usage (
    user_id uuid NOT NULL REFERENCES ex7.users (id) ON DELETE CASCADE,
    day     date NOT NULL,
    used    integer NOT NULL CHECK (used >= 0),
    PRIMARY KEY (user_id, day)
);
COMMENT ON TABLE ex7.vix_usage IS 'Vix generations a user made on a UTC day (counted by ex7.vix_generate, read by ex7.vix_quota).';

/* The waitlist: one row per address, lower-cased. Nobody but the functions reads it. */
CREATE TABLE ex7.waitlist (
    email      text PRIMARY KEY CHECK (pg_catalog.length(email) BETWEEN 3 AND 254 AND email = pg_catalog.lower(email)),
    created_at timestamptz NOT NULL DEFAULT pg_catalog.now()
);
COMMENT ON TABLE ex7.waitlist IS 'Waitlist signups (POST /api/waitlist): lower-cased addresses, first signup time. Read only through ex7.waitlist_count.';

/*
 * Self-hosted login (deployments without Supabase): one password per user, scrypt (ext/auth.c). The user
 * id is the token's sub, so everything else in ex7 works the same whichever issued the token.
 */
CREATE TABLE ex7.auth_accounts (
    user_id             uuid PRIMARY KEY REFERENCES ex7.users (id) ON DELETE CASCADE,
    email               text NOT NULL UNIQUE CHECK (email = pg_catalog.lower(email)),
    password_hash       text NOT NULL,
    created_at          timestamptz NOT NULL DEFAULT pg_catalog.now(),
    password_changed_at timestamptz NOT NULL DEFAULT pg_catalog.now()
);
COMMENT ON TABLE ex7.auth_accounts IS 'Self-hosted login accounts: lower-cased email and the scrypt hash string ($scrypt$ln=..,r=..,p=..$salt$hash). Not readable by ex7_user.';

/*
 * Attempt counters of the login and of the public sign-up paths, per subject (login:<email>,
 * login-addr:<ip>, signup-addr:<ip>, waitlist-addr:<ip>) in fixed windows. Logged: a crash must not
 * hand an attacker a fresh allowance.
 */
CREATE TABLE ex7.auth_attempts (
    subject      text PRIMARY KEY CHECK (pg_catalog.length(subject) BETWEEN 1 AND 300),
    window_start timestamptz NOT NULL,
    count        integer NOT NULL CHECK (count >= 0)
);
COMMENT ON TABLE ex7.auth_attempts IS 'Failed logins (login:<email>, login-addr:<ip>) and sign-ups (signup-addr:<ip>, waitlist-addr:<ip>) counted in fixed windows; written only through ex7._attempt_gate and ex7._attempt_count.';

/*
 * Exchange keys (peer-capandex-api.txt, "Exchange Keys"): the API key, secret and passphrase are one
 * AES-256-GCM ciphertext made by ex7d under the master key kid (EX7_MASTER_KEYS); the database never
 * sees them in clear. iv 12 bytes (NIST SP 800-38D 8.2), tag 16 bytes. The ciphertext columns are
 * revoked from ex7_user (99_grants.sql).
 */
CREATE TABLE ex7.exchange_keys (
    id             uuid PRIMARY KEY,
    user_id        uuid NOT NULL REFERENCES ex7.users (id) ON DELETE CASCADE,
    exchange       text NOT NULL,
    label          text NOT NULL DEFAULT '',
    hint           text NOT NULL,
    has_passphrase boolean NOT NULL DEFAULT false,
    kid            text NOT NULL CHECK (kid ~ '^[A-Za-z0-9_.-]{1,32}$'),
    iv             bytea NOT NULL CHECK (pg_catalog.length(iv) = 12),
    ciphertext     bytea NOT NULL CHECK (pg_catalog.length(ciphertext) BETWEEN 1 AND 8192),
    tag            bytea NOT NULL CHECK (pg_catalog.length(tag) = 16),
    created_at     timestamptz NOT NULL DEFAULT pg_catalog.now(),
    rekeyed_at     timestamptz
);
COMMENT ON TABLE ex7.exchange_keys IS 'Exchange API credentials: exchange, label and a masked hint in clear; api key, secret and passphrase as one AES-256-GCM ciphertext (JSON {api_key, secret, passphrase}) under master key kid, AAD "<user_id>|<id>|<exchange>". docs/account.md.';
CREATE INDEX exchange_keys_user ON ex7.exchange_keys (user_id, created_at DESC, id DESC);

ALTER TABLE ex7.vix_usage ENABLE ROW LEVEL SECURITY;
ALTER TABLE ex7.vix_usage FORCE ROW LEVEL SECURITY;
CREATE POLICY vix_usage_own ON ex7.vix_usage USING (user_id = (SELECT ex7.current_user_id()))
    WITH CHECK (user_id = (SELECT ex7.current_user_id()));
ALTER TABLE ex7.exchange_keys ENABLE ROW LEVEL SECURITY;
ALTER TABLE ex7.exchange_keys FORCE ROW LEVEL SECURITY;
CREATE POLICY exchange_keys_own ON ex7.exchange_keys USING (user_id = (SELECT ex7.current_user_id()))
    WITH CHECK (user_id = (SELECT ex7.current_user_id()));
-- no policy: nobody bound to a user reads these (the functions run as their definer or the front)
ALTER TABLE ex7.waitlist ENABLE ROW LEVEL SECURITY;
ALTER TABLE ex7.auth_accounts ENABLE ROW LEVEL SECURITY;
ALTER TABLE ex7.auth_attempts ENABLE ROW LEVEL SECURITY;
