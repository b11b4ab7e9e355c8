/* ext/sql/72_account_schema.sql: the account area (docs/account.md): the waitlist, Vix
 * strategy generation quotas, the self-hosted login (password accounts and attempt counters) and
 * encrypted exchange keys. DDL: runs once; new in 0.2.0, included whole by
 * ext/upgrade/0.1.0--0.2.0.sql. */

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
SELECT pg_catalog.pg_extension_config_dump('ex7.vix_usage', '');
COMMENT ON TABLE ex7.vix_usage IS 'Vix generations a user made on a UTC day (counted by ex7.vix_generate, read by ex7.vix_quota).';

/* The waitlist: one row per address, lower-cased. Nobody but the functions reads it. */
CREATE TABLE ex7.waitlist (
    email      text PRIMARY KEY CHECK (pg_catalog.length(email) BETWEEN 3 AND 254 AND email = pg_catalog.lower(email)),
    created_at timestamptz NOT NULL DEFAULT pg_catalog.now()
);
SELECT pg_catalog.pg_extension_config_dump('ex7.waitlist', '');
COMMENT ON TABLE ex7.waitlist IS 'Waitlist signups (POST /api/waitlist): lower-cased addresses, first signup time. Read only through ex7.waitlist_count.';

/*
 * Self-hosted login (deployments without Supabase): one password per user, scrypt (ext/auth.c). The user
 * id is the token's sub, so everything else in ex7 works the same whichever issued the token.
 */
CREATE TABLE ex7.auth_accounts (
    user_id             uuid PRIMARY KEY,   -- no foreign key: a Citus reference table (docs/scale-out.md)
    email               text NOT NULL UNIQUE CHECK (email = pg_catalog.lower(email)),
    password_hash       text NOT NULL,
    created_at          timestamptz NOT NULL DEFAULT pg_catalog.now(),
    password_changed_at timestamptz NOT NULL DEFAULT pg_catalog.now()
);
SELECT pg_catalog.pg_extension_config_dump('ex7.auth_accounts', '');
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
SELECT pg_catalog.pg_extension_config_dump('ex7.auth_attempts', '');
COMMENT ON TABLE ex7.auth_attempts IS 'Failed logins (login:<email>, login-addr:<ip>) and sign-ups (signup-addr:<ip>, waitlist-addr:<ip>) counted in fixed windows; written only through ex7._attempt_gate and ex7._attempt_count.';

/*
 * Exchange keys (peer-capandex-api.txt, "Exchange Keys"): the API key, secret and passphrase are one
 * AES-256-GCM ciphertext made by ex7d under the master key kid (EX7_MASTER_KEYS); the database never
 * sees them in clear. iv 12 bytes (NIST SP 800-38D 8.2), tag 16 bytes. The ciphertext columns are
 * revoked from ex7_user (99_grants.sql).
 */
CREATE TABLE ex7.exchange_keys (
    id             uuid NOT NULL,
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
    rekeyed_at     timestamptz,
    PRIMARY KEY (user_id, id)
);
SELECT pg_catalog.pg_extension_config_dump('ex7.exchange_keys', '');
COMMENT ON TABLE ex7.exchange_keys IS 'Exchange API credentials: exchange, label and a masked hint in clear; api key, secret and passphrase as one AES-256-GCM ciphertext (JSON {api_key, secret, passphrase}) under master key kid, AAD "<user_id>|<id>|<exchange>". docs/account.md.';
CREATE INDEX exchange_keys_user ON ex7.exchange_keys (user_id, created_at DESC, id DESC);

ALTER TABLE ex7.vix_usage ENABLE ROW LEVEL SECURITY;
ALTER TABLE ex7.vix_usage FORCE ROW LEVEL SECURITY;
CREATE POLICY vix_usage_own ON ex7.vix_usage USING (user_id = ex7.current_user_id())
    WITH CHECK (user_id = ex7.current_user_id());
ALTER TABLE ex7.exchange_keys ENABLE ROW LEVEL SECURITY;
ALTER TABLE ex7.exchange_keys FORCE ROW LEVEL SECURITY;
CREATE POLICY exchange_keys_own ON ex7.exchange_keys USING (user_id = ex7.current_user_id())
    WITH CHECK (user_id = ex7.current_user_id());
-- no policy: nobody bound to a user reads these (the functions run as their definer or the front)
ALTER TABLE ex7.waitlist ENABLE ROW LEVEL SECURITY;
ALTER TABLE ex7.auth_accounts ENABLE ROW LEVEL SECURITY;
ALTER TABLE ex7.auth_attempts ENABLE ROW LEVEL SECURITY;

/*
 * Sessions a password change ends (docs/account.md): bearer tokens issued (iat) before this second are
 * refused by ex7d. The function that sets it notifies ex7_user_changed like a tier change
 * (ex7._user_changed), so every front re-reads it before the user's next request.
 */
ALTER TABLE ex7.users ADD COLUMN tokens_valid_after timestamptz;
COMMENT ON COLUMN ex7.users.tokens_valid_after IS 'Bearer tokens issued (iat) before this time are refused by the HTTP front (set by a password change); NULL: no such cut.';
