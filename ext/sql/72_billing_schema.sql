/* ext/sql/72_billing_schema.sql: tiers' prices and caps, the compliance documents a user must accept and
 * the acceptances, Stripe billing state and the processed Stripe events (docs/billing.md).
 * DDL only: new in 0.2.0, included whole by ext/upgrade/0.1.0--0.2.0.sql. */

/*
 * Tiers (ex7-api-reference.txt, List Tiers: "every tier with prices + feature caps"). The request and
 * alert caps are the introduction's table (00_base.sql), Vix's are 72_account_schema.sql's; these are
 * ours (the contract names no prices and no strategy or runtime caps): the operator edits the rows, and
 * sets stripe_price_id to the Stripe Price each paid tier is sold at.
 */
ALTER TABLE ex7.tiers
    ADD COLUMN name text NOT NULL DEFAULT '' CHECK (pg_catalog.length(name) <= 60),
    ADD COLUMN price_monthly numeric(10,2) NOT NULL DEFAULT 0 CHECK (price_monthly >= 0),
    ADD COLUMN currency text NOT NULL DEFAULT 'usd' CHECK (currency ~ '^[a-z]{3}$'),
    ADD COLUMN stripe_price_id text CHECK (stripe_price_id ~ '^[A-Za-z0-9_]{1,255}$'),
    ADD COLUMN strategies_max integer NOT NULL DEFAULT 0 CHECK (strategies_max >= 0),
    ADD COLUMN running_runtimes_max integer NOT NULL DEFAULT 0 CHECK (running_runtimes_max >= 0);
COMMENT ON COLUMN ex7.tiers.price_monthly IS 'Price per month in currency (display; Stripe charges stripe_price_id).';
COMMENT ON COLUMN ex7.tiers.stripe_price_id IS 'The Stripe Price a checkout for this tier subscribes to (NULL: not sold; free).';
COMMENT ON COLUMN ex7.tiers.strategies_max IS 'Strategies a user may keep (not deleted); creating one more is 403 tier_limit_reached.';
COMMENT ON COLUMN ex7.tiers.running_runtimes_max IS 'Runtimes a user may have starting, running or draining at once; starting one more is 403 tier_limit_reached.';
UPDATE ex7.tiers SET name = CASE tier WHEN 'free' THEN 'Free' WHEN 'operator' THEN 'Operator' ELSE 'Strategist' END,
    price_monthly = CASE tier WHEN 'free' THEN 0 WHEN 'operator' THEN 49 ELSE 149 END,
    strategies_max = CASE tier WHEN 'free' THEN 25 WHEN 'operator' THEN 100 ELSE 500 END,
    running_runtimes_max = CASE tier WHEN 'free' THEN 5 WHEN 'operator' THEN 25 ELSE 100 END;

/*
 * Compliance documents (ex7-api-introduction.txt, 412: "user has not yet accepted ToS / Risk / Privacy").
 * One row per version; the current version of a document is its newest row already in effect, so an
 * operator publishes a new version by inserting it (effective now or at a later time), and every user
 * must accept it before trading or delivery resumes.
 */
CREATE TABLE ex7.compliance_documents (
    document     text NOT NULL CHECK (document ~ '^[a-z][a-z0-9_]{0,31}$'),
    version      text NOT NULL CHECK (version ~ '^[A-Za-z0-9._-]{1,32}$'),
    title        text NOT NULL CHECK (pg_catalog.length(title) BETWEEN 1 AND 200),
    url          text CHECK (pg_catalog.length(url) <= 2000),
    effective_at timestamptz NOT NULL,
    PRIMARY KEY (document, version)
);
COMMENT ON TABLE ex7.compliance_documents IS 'Versions of the documents users must accept (tos, risk, privacy). The current version of a document is its newest row with effective_at <= now(). Kept by the operator.';
INSERT INTO ex7.compliance_documents (document, version, title, url, effective_at) VALUES
    ('tos', '1', 'Terms of Service', 'https://ex7capital.com/legal/terms', '2026-01-01 00:00:00+00'),
    ('risk', '1', 'Risk Disclosure', 'https://ex7capital.com/legal/risk', '2026-01-01 00:00:00+00'),
    ('privacy', '1', 'Privacy Policy', 'https://ex7capital.com/legal/privacy', '2026-01-01 00:00:00+00');
-- seeded: dumped only where changed since the install (ext/sql/01_backup_schema.sql, 98_seed_schema.sql)
SELECT pg_catalog.pg_extension_config_dump('ex7.compliance_documents', 'WHERE NOT ex7._seed_row(''compliance_documents'', compliance_documents)');
CREATE TRIGGER compliance_documents_seed_merge BEFORE INSERT ON ex7.compliance_documents
    FOR EACH ROW EXECUTE FUNCTION ex7._seed_merge();

CREATE TABLE ex7.compliance_acceptances (
    user_id     uuid NOT NULL REFERENCES ex7.users (id) ON DELETE CASCADE,
    document    text NOT NULL,
    version     text NOT NULL,
    accepted_at timestamptz NOT NULL DEFAULT pg_catalog.now(),
    client_addr text CHECK (pg_catalog.length(client_addr) <= 64),
    PRIMARY KEY (user_id, document, version),
    FOREIGN KEY (document, version) REFERENCES ex7.compliance_documents (document, version)
);
SELECT pg_catalog.pg_extension_config_dump('ex7.compliance_acceptances', '');
COMMENT ON TABLE ex7.compliance_acceptances IS 'Which document versions a user accepted, when and from which client address (POST /api/billing/compliance/accept). Kept: a version a user accepted cannot be deleted.';
ALTER TABLE ex7.compliance_acceptances ENABLE ROW LEVEL SECURITY;
ALTER TABLE ex7.compliance_acceptances FORCE ROW LEVEL SECURITY;
CREATE POLICY compliance_acceptances_own ON ex7.compliance_acceptances
    USING (user_id = ex7.current_user_id()) WITH CHECK (user_id = ex7.current_user_id());

/*
 * A user's billing state: the Stripe customer and subscription as the webhook (and our own calls) last
 * reported them, and a complimentary tier granted by an operator. ex7.users.tier is derived from these
 * (ex7._billing_sync_tier), so the rate limits and caps read one column.
 */
CREATE TABLE ex7.billing_accounts (
    user_id                uuid PRIMARY KEY,   -- no foreign key: a Citus reference table (docs/scale-out.md)
    stripe_customer_id     text UNIQUE CHECK (pg_catalog.length(stripe_customer_id) <= 255),
    stripe_subscription_id text UNIQUE CHECK (pg_catalog.length(stripe_subscription_id) <= 255),
    subscription_tier      text REFERENCES ex7.tiers (tier),
    subscription_status    text CHECK (pg_catalog.length(subscription_status) <= 40),
    current_period_end     timestamptz,
    cancel_at_period_end   boolean NOT NULL DEFAULT false,
    subscription_event_at  timestamptz,
    comp_tier              text REFERENCES ex7.tiers (tier),
    comp_until             timestamptz,
    checkout_session_id    text CHECK (pg_catalog.length(checkout_session_id) <= 255),
    updated_at             timestamptz NOT NULL DEFAULT pg_catalog.now(),
    CHECK ((comp_tier IS NULL) = (comp_until IS NULL))
);
SELECT pg_catalog.pg_extension_config_dump('ex7.billing_accounts', '');
COMMENT ON TABLE ex7.billing_accounts IS 'Per user: the Stripe customer and subscription (status, tier, period end, cancel at period end) and an operator''s complimentary tier. ex7.users.tier follows from it.';
COMMENT ON COLUMN ex7.billing_accounts.subscription_event_at IS 'Creation time of the newest Stripe event applied to the subscription: an older event arriving later changes nothing (events come out of order).';
ALTER TABLE ex7.billing_accounts ENABLE ROW LEVEL SECURITY;
ALTER TABLE ex7.billing_accounts FORCE ROW LEVEL SECURITY;
CREATE POLICY billing_accounts_own ON ex7.billing_accounts
    USING (user_id = ex7.current_user_id()) WITH CHECK (user_id = ex7.current_user_id());
CREATE INDEX billing_accounts_comp_idx ON ex7.billing_accounts (comp_until) WHERE comp_until IS NOT NULL;

/* Stripe events already processed (facts.md: "Events arrive more than once ... record processed event.id durably"). */
CREATE TABLE ex7.stripe_events (
    id          text PRIMARY KEY CHECK (pg_catalog.length(id) BETWEEN 1 AND 255),
    type        text NOT NULL CHECK (pg_catalog.length(type) <= 100),
    created     timestamptz,
    user_id     uuid,
    outcome     text NOT NULL CHECK (outcome IN ('applied', 'ignored', 'stale')),
    received_at timestamptz NOT NULL DEFAULT pg_catalog.now()
);
SELECT pg_catalog.pg_extension_config_dump('ex7.stripe_events', '');
COMMENT ON TABLE ex7.stripe_events IS 'Every Stripe event id processed, with what it did: applied, ignored (a type or customer we do not handle) or stale (older than the state it would change). A replay of a recorded id changes nothing.';
