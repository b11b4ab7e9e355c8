/* ext/sql/79_hooks_schema.sql: webhook intake (docs/webhooks.md). Signals from outside ex7: a TradingView
 * alert, a TradersPost-style body or any tool that can POST JSON, sent to a hook of the user's that points
 * at one of the user's strategies. DDL only: new in 0.3.0, included whole by ext/upgrade/0.2.0--0.3.0.sql.
 *
 * Per-user tables keyed (user_id, id), like every other (docs/scale-out.md): on Citus they are distributed
 * by user. The public intake names a hook by its id alone (the URL is all TradingView can send), so the
 * hooks have an index on id too: on one server the intake finds its hook through it; on Citus the read
 * goes to every shard, and every write after it names the user (docs/citus-statements.md).
 */

CREATE TABLE ex7.hooks (
    id                uuid NOT NULL DEFAULT pg_catalog.gen_random_uuid(),
    user_id           uuid NOT NULL REFERENCES ex7.users (id),
    strategy_id       uuid NOT NULL,
    label             text NOT NULL CHECK (pg_catalog.length(label) BETWEEN 1 AND 100),
    mode              ex7.trade_mode NOT NULL DEFAULT 'paper',
    -- SHA-256 of the secret: the secret itself is shown once, at creation and at each rotation
    secret_hash       bytea NOT NULL CHECK (pg_catalog.length(secret_hash) = 32),
    -- an alert whose own time is older than this is refused as stale
    max_age_seconds   integer NOT NULL DEFAULT 120 CHECK (max_age_seconds BETWEEN 5 AND 86400),
    -- a body repeated within this many seconds (no order id) is a duplicate
    dedupe_seconds    integer NOT NULL DEFAULT 60 CHECK (dedupe_seconds BETWEEN 0 AND 86400),
    paused_at         timestamptz,
    created_at        timestamptz NOT NULL DEFAULT pg_catalog.now(),
    updated_at        timestamptz NOT NULL DEFAULT pg_catalog.now(),
    secret_rotated_at timestamptz,
    PRIMARY KEY (user_id, id),
    CONSTRAINT hooks_strategy_fkey FOREIGN KEY (user_id, strategy_id) REFERENCES ex7.strategies (user_id, id)
);
SELECT pg_catalog.pg_extension_config_dump('ex7.hooks', '');
COMMENT ON TABLE ex7.hooks IS 'Webhook intake endpoints: each belongs to a user and fires and closes signals of one of the user''s strategies (docs/webhooks.md).';
-- the public intake: POST /api/hooks/{hook_id} names the hook by id alone
CREATE INDEX hooks_id_idx ON ex7.hooks (id);
CREATE INDEX hooks_user_strategy_idx ON ex7.hooks (user_id, strategy_id);

/*
 * Every authenticated call of a hook, with its outcome: accepted (something fired or closed, or nothing
 * was open to close), duplicate (the first result again), stale, blocked (the risk gate refused the
 * entry), invalid (the body), rejected (the strategy is not ready or live, the hook is paused),
 * rate_limited. A call with a wrong secret is not recorded (it is not the owner's: docs/webhooks.md).
 */
CREATE TABLE ex7.hook_events (
    id           uuid NOT NULL DEFAULT pg_catalog.gen_random_uuid(),
    user_id      uuid NOT NULL REFERENCES ex7.users (id),
    hook_id      uuid NOT NULL,
    received_at  timestamptz NOT NULL DEFAULT pg_catalog.now(),
    outcome      text NOT NULL CHECK (outcome IN ('accepted', 'duplicate', 'stale', 'blocked', 'invalid',
                                                  'rejected', 'rate_limited')),
    http_status  integer NOT NULL,
    -- 'id:<order id>' or 'body:<sha-256 of the body>': what makes a repeat a duplicate
    dedupe_key   text,
    action       text,
    body         jsonb,
    result       jsonb NOT NULL,
    PRIMARY KEY (user_id, id),
    CONSTRAINT hook_events_hook_fkey FOREIGN KEY (user_id, hook_id) REFERENCES ex7.hooks (user_id, id)
        ON DELETE CASCADE
);
SELECT pg_catalog.pg_extension_config_dump('ex7.hook_events', '');
COMMENT ON TABLE ex7.hook_events IS 'Each authenticated call of a hook and its outcome, newest first per hook (GET /api/hooks/{id}/events).';
CREATE INDEX hook_events_hook_idx ON ex7.hook_events (user_id, hook_id, received_at DESC, id DESC);
CREATE INDEX hook_events_dedupe_idx ON ex7.hook_events (user_id, hook_id, dedupe_key, received_at DESC)
    WHERE outcome IN ('accepted', 'blocked');

/* where a signal came from: the graph engine (the dispatcher or a direct fire), or a hook */
ALTER TABLE ex7.signals
    ADD COLUMN source text NOT NULL DEFAULT 'engine' CHECK (source IN ('engine', 'webhook')),
    ADD COLUMN hook_id uuid;
COMMENT ON COLUMN ex7.signals.source IS 'engine (the dispatcher, fire_signal) or webhook (a hook''s alert: hook_id names it).';

/*
 * The tier's caps on hooks (docs/billing.md, docs/webhooks.md): how many a user may have, and how many alerts
 * each hook takes a minute and a day. On an upgrade a tier row still exactly as the install seeded it
 * stays seed (ex7.seed_rows, 01_backup_schema.sql): its new digest is recorded, so pg_dump keeps leaving it
 * out. (A fresh install records every seeded row in 98_seed_schema.sql, after this.)
 */
DO $$
DECLARE
    v_pristine text[];
BEGIN
    SELECT pg_catalog.array_agg(t.tier) INTO v_pristine FROM ex7.tiers t WHERE ex7._seed_row('tiers', t);
    ALTER TABLE ex7.tiers
        ADD COLUMN hooks_max integer NOT NULL DEFAULT 0 CHECK (hooks_max >= 0),
        ADD COLUMN hook_alerts_per_minute integer NOT NULL DEFAULT 60 CHECK (hook_alerts_per_minute > 0),
        ADD COLUMN hook_alerts_per_day integer NOT NULL DEFAULT 5000 CHECK (hook_alerts_per_day > 0);
    UPDATE ex7.tiers SET hooks_max = CASE tier WHEN 'free' THEN 2 WHEN 'operator' THEN 20 ELSE 100 END;
    INSERT INTO ex7.seed_rows (table_name, digest)
    SELECT 'tiers', ex7._row_digest(t) FROM ex7.tiers t WHERE t.tier = ANY (v_pristine)
    ON CONFLICT DO NOTHING;
END
$$;
COMMENT ON COLUMN ex7.tiers.hooks_max IS 'Hooks a user may have; creating one more is 403 tier_limit_reached.';
COMMENT ON COLUMN ex7.tiers.hook_alerts_per_minute IS 'Alerts one hook takes a minute; more are 429 (rate_limited in its log).';
COMMENT ON COLUMN ex7.tiers.hook_alerts_per_day IS 'Alerts one hook takes a UTC day; more are 429 (rate_limited in its log).';

/* Row-level security: as in 10_schema.sql, a bound role sees only its user's rows. */
DO $$
DECLARE
    t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['hooks', 'hook_events'] LOOP
        EXECUTE pg_catalog.format('ALTER TABLE ex7.%I ENABLE ROW LEVEL SECURITY', t);
        EXECUTE pg_catalog.format('ALTER TABLE ex7.%I FORCE ROW LEVEL SECURITY', t);
        EXECUTE pg_catalog.format(
            'CREATE POLICY %I ON ex7.%I USING (user_id = ex7.current_user_id()) '
            'WITH CHECK (user_id = ex7.current_user_id())', t || '_own', t);
    END LOOP;
END
$$;
