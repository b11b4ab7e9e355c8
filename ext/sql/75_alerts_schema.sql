/* ext/sql/75_alerts_schema.sql: alerts and notifications (docs/alerts.md). Channels a user
 * verified, subscriptions that say which events go to which channel, the outbox of deliveries the
 * worker sends, the per-day usage the tier quota counts, in-app notifications with their preferences,
 * and price alerts with their log. DDL: runs once; new in 0.2.0, included whole by
 * ext/upgrade/0.1.0--0.2.0.sql. No trigger here: the functions that write the events call the alerts
 * (76_alerts.sql and 78_price_alerts.sql, re-runnable; docs/alerts.md). */

/* The key of unsubscribe tokens (ext/alerts.c): random per database, like the cursor key. */
INSERT INTO ex7.secrets (name, value)
VALUES ('alerts', pg_catalog.uuid_send(pg_catalog.gen_random_uuid()) || pg_catalog.uuid_send(pg_catalog.gen_random_uuid()));

/*
 * Every table here cascades from its user: a user's alert data goes with the user (the tests' teardowns
 * delete users; the product never does).
 *
 * Channels: where alerts go. A channel delivers only once verified (verified_at): email and sms by a
 * code sent to the destination, webhook by a code in a signed challenge, telegram by the user sending
 * "/start <verify_token>" to the bot (the chat becomes the destination). The code itself is never
 * stored: verify_hash is sha256(channel id || code). disabled_at stops deliveries for good (a hard
 * bounce, a complaint, an SMS STOP, an unsubscribe link).
 */
CREATE TABLE ex7.alert_channels (
    id                  uuid NOT NULL DEFAULT pg_catalog.gen_random_uuid(),
    user_id             uuid NOT NULL REFERENCES ex7.users (id) ON DELETE CASCADE,
    type                text NOT NULL CHECK (type IN ('email', 'telegram', 'sms', 'webhook')),
    destination         text CHECK (pg_catalog.length(destination) <= 2048),
    label               text NOT NULL DEFAULT '' CHECK (pg_catalog.length(label) <= 120),
    verified_at         timestamptz,
    verify_hash         bytea,
    verify_token        text,
    verify_expires_at   timestamptz,
    verify_attempts     integer NOT NULL DEFAULT 0 CHECK (verify_attempts >= 0),
    verify_sent_at      timestamptz,
    verify_window_start timestamptz,
    verify_window_sends integer NOT NULL DEFAULT 0 CHECK (verify_window_sends >= 0),
    signing_secret      text,
    disabled_at         timestamptz,
    disabled_reason     text CHECK (disabled_reason IN ('bounced', 'complained', 'stopped', 'unsubscribed')),
    created_at          timestamptz NOT NULL DEFAULT pg_catalog.now(),
    updated_at          timestamptz NOT NULL DEFAULT pg_catalog.now(),
    CHECK ((disabled_at IS NULL) = (disabled_reason IS NULL)),
    PRIMARY KEY (user_id, id)
);
SELECT pg_catalog.pg_extension_config_dump('ex7.alert_channels', '');
COMMENT ON TABLE ex7.alert_channels IS 'A user''s alert destinations (email, telegram, sms, webhook). Delivers only when verified and not disabled.';
COMMENT ON COLUMN ex7.alert_channels.verify_hash IS 'sha256(channel id || code) of the pending verification code; the code is not stored.';
COMMENT ON COLUMN ex7.alert_channels.verify_token IS 'telegram: the token of the pending "/start <token>" handshake.';
COMMENT ON COLUMN ex7.alert_channels.signing_secret IS 'webhook: whsec_<base64> key the deliveries are signed with (Svix scheme, facts.md).';
CREATE INDEX alert_channels_user_idx ON ex7.alert_channels (user_id, created_at, id);
-- the telegram handshake finds the channel by its token alone; unique with the user (a unique index must
-- hold the distribution column on Citus), and the token's 128 random bits keep it unique across users
CREATE UNIQUE INDEX alert_channels_verify_token_key ON ex7.alert_channels (verify_token, user_id) WHERE verify_token IS NOT NULL;
-- Twilio STOP and the Resend webhooks find channels by destination
CREATE INDEX alert_channels_destination_idx ON ex7.alert_channels (type, destination);

/*
 * Subscriptions: which events of which strategy (NULL: all of the user's) go to a channel. One per
 * (channel, strategy). unsubscribed_at is set by an unsubscribe link (the user may enable it again).
 */
CREATE TABLE ex7.alert_subscriptions (
    id              uuid NOT NULL DEFAULT pg_catalog.gen_random_uuid(),
    user_id         uuid NOT NULL REFERENCES ex7.users (id) ON DELETE CASCADE,
    channel_id      uuid NOT NULL,
    strategy_id     uuid,
    events          text[] NOT NULL CHECK (pg_catalog.cardinality(events) >= 1 AND
                        events <@ ARRAY['signal', 'signal_closed', 'blocked', 'runtime_error', 'price_alert']),
    enabled         boolean NOT NULL DEFAULT true,
    unsubscribed_at timestamptz,
    created_at      timestamptz NOT NULL DEFAULT pg_catalog.now(),
    updated_at      timestamptz NOT NULL DEFAULT pg_catalog.now(),
    PRIMARY KEY (user_id, id),
    CONSTRAINT alert_subscriptions_channel_fkey FOREIGN KEY (user_id, channel_id)
        REFERENCES ex7.alert_channels (user_id, id) ON DELETE CASCADE,
    -- SET NULL would clear user_id too: strategies are only soft-deleted, so the cascade never runs
    CONSTRAINT alert_subscriptions_strategy_fkey FOREIGN KEY (user_id, strategy_id)
        REFERENCES ex7.strategies (user_id, id) ON DELETE CASCADE
);
SELECT pg_catalog.pg_extension_config_dump('ex7.alert_subscriptions', '');
COMMENT ON TABLE ex7.alert_subscriptions IS 'Which events (signal, signal_closed, blocked, runtime_error, price_alert) of one strategy or all go to a channel.';
CREATE UNIQUE INDEX alert_subscriptions_channel_strategy_key ON ex7.alert_subscriptions (user_id, channel_id, strategy_id) NULLS NOT DISTINCT;
-- the one probe the signal path makes (ex7._alert_event): a user's enabled subscriptions
CREATE INDEX alert_subscriptions_user_idx ON ex7.alert_subscriptions (user_id) WHERE enabled;

/*
 * Deliveries: the outbox. One row per (event, subscription), written in the transaction that fired,
 * closed or blocked the signal (or stopped the runtime, or crossed the price alert); verification
 * messages have no subscription. The worker claims due rows (status queued, next_attempt_at passed)
 * with FOR UPDATE SKIP LOCKED and leases them by moving next_attempt_at past the lease (ex7.outbox_claim),
 * so a worker that dies between the send and ex7.outbox_record leaves the row due again after the lease.
 */
CREATE TABLE ex7.alert_deliveries (
    id                  uuid NOT NULL DEFAULT pg_catalog.gen_random_uuid(),
    user_id             uuid NOT NULL REFERENCES ex7.users (id) ON DELETE CASCADE,
    subscription_id     uuid,
    channel_id          uuid,
    channel_type        text NOT NULL,
    strategy_id         uuid,
    event               text NOT NULL CHECK (event IN ('signal', 'signal_closed', 'blocked', 'runtime_error',
                                                       'price_alert', 'verification')),
    event_key           text NOT NULL,
    message             jsonb NOT NULL,
    status              text NOT NULL DEFAULT 'queued'
                        CHECK (status IN ('queued', 'sent', 'delivered', 'bounced', 'complained', 'failed',
                                          'suppressed')),
    reason              text CHECK (reason IN ('quota', 'unsubscribed', 'unverified')),
    attempts            integer NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    next_attempt_at     timestamptz NOT NULL DEFAULT pg_catalog.now(),
    leased_by           text,
    provider_message_id text,
    last_error          text,
    created_at          timestamptz NOT NULL DEFAULT pg_catalog.now(),
    sent_at             timestamptz,
    updated_at          timestamptz NOT NULL DEFAULT pg_catalog.now(),
    CHECK ((status = 'suppressed') = (reason IS NOT NULL)),
    PRIMARY KEY (user_id, id)
);
SELECT pg_catalog.pg_extension_config_dump('ex7.alert_deliveries', '');
COMMENT ON TABLE ex7.alert_deliveries IS 'The alerts outbox: one row per (event, subscription) and per verification message, with its send status.';
COMMENT ON COLUMN ex7.alert_deliveries.event_key IS 'The event the row delivers (signal:<event id>, blocked:<id>, runtime_error:<runtime>:<time>, price_alert:<log id>, verify:<n>): unique per subscription.';
COMMENT ON COLUMN ex7.alert_deliveries.next_attempt_at IS 'When a queued row is due: the next retry, or the end of the current worker''s lease.';
COMMENT ON COLUMN ex7.alert_deliveries.strategy_id IS 'The strategy of the event (no foreign key: strategies are never removed, only soft-deleted).';
-- No foreign keys to the subscription and the channel: each would be a trigger and a lookup per delivery on
-- the signal path (docs/performance.md, "Alerts"). The history keeps the ids of a deleted subscription or
-- channel; the worker's claim joins them and suppresses a row whose subscription or channel is gone.
COMMENT ON COLUMN ex7.alert_deliveries.channel_id IS 'The channel (no foreign key: may name a deleted channel; channel_type is kept on the row).';
-- "one per (event, subscription)"
CREATE UNIQUE INDEX alert_deliveries_subscription_event_key ON ex7.alert_deliveries (user_id, subscription_id, event_key);
-- keyset order of ex7.list_deliveries: (created_at DESC, id DESC) per user
CREATE INDEX alert_deliveries_user_created_idx ON ex7.alert_deliveries (user_id, created_at DESC, id DESC);
-- the worker's claim: due queued rows, oldest first
CREATE INDEX alert_deliveries_due_idx ON ex7.alert_deliveries (next_attempt_at) WHERE status = 'queued';
-- provider webhooks find the row by the provider's message id
CREATE INDEX alert_deliveries_provider_idx ON ex7.alert_deliveries (provider_message_id)
    WHERE provider_message_id IS NOT NULL;

/* Deliveries sent per user and UTC day: the tier's alerts_per_day quota (ex7.tiers) counts here. */
CREATE TABLE ex7.alert_usage (
    user_id uuid NOT NULL REFERENCES ex7.users (id) ON DELETE CASCADE,
    day     date NOT NULL,
    sent    integer NOT NULL DEFAULT 0 CHECK (sent >= 0),
    PRIMARY KEY (user_id, day)
);
SELECT pg_catalog.pg_extension_config_dump('ex7.alert_usage', '');
COMMENT ON TABLE ex7.alert_usage IS 'Alert deliveries handed to a provider per user and UTC day (the quota resets at 00:00 UTC).';

/*
 * In-app notifications: every delivery-worthy event (signal, signal_closed, blocked, runtime_error,
 * price_alert) of a user, unless the user's preferences turned that type off.
 */
CREATE TABLE ex7.notifications (
    id          uuid NOT NULL DEFAULT pg_catalog.gen_random_uuid(),
    user_id     uuid NOT NULL REFERENCES ex7.users (id) ON DELETE CASCADE,
    type        text NOT NULL CHECK (type IN ('signal', 'signal_closed', 'blocked', 'runtime_error', 'price_alert',
                                              'system')),
    title       text NOT NULL,
    message     text NOT NULL,
    action_url  text,
    data        jsonb NOT NULL DEFAULT '{}',
    read_at     timestamptz,
    created_at  timestamptz NOT NULL DEFAULT pg_catalog.now(),
    PRIMARY KEY (user_id, id)
);
SELECT pg_catalog.pg_extension_config_dump('ex7.notifications', '');
COMMENT ON TABLE ex7.notifications IS 'A user''s in-app notifications, newest first; read_at is set when read.';
CREATE INDEX notifications_user_created_idx ON ex7.notifications (user_id, created_at DESC, id DESC);
CREATE INDEX notifications_user_unread_idx ON ex7.notifications (user_id, created_at DESC) WHERE read_at IS NULL;

CREATE TABLE ex7.notification_preferences (
    user_id     uuid PRIMARY KEY REFERENCES ex7.users (id) ON DELETE CASCADE,
    preferences jsonb NOT NULL DEFAULT '{}',
    updated_at  timestamptz NOT NULL DEFAULT pg_catalog.now()
);
SELECT pg_catalog.pg_extension_config_dump('ex7.notification_preferences', '');
COMMENT ON TABLE ex7.notification_preferences IS 'Per user: {type: boolean} for in-app notification types; a missing type is on.';

/*
 * Price alerts: a level on an instrument, crossed above or below, once or repeating. Bar ingestion
 * evaluates them (ex7._store_bar calls ex7._price_alerts_bars); last_price and last_ts are the reference the next bar is
 * compared with. Each crossing writes a log row, a notification and deliveries.
 */
CREATE TABLE ex7.price_alerts (
    id                  uuid NOT NULL DEFAULT pg_catalog.gen_random_uuid(),
    user_id             uuid NOT NULL REFERENCES ex7.users (id) ON DELETE CASCADE,
    instrument          text NOT NULL REFERENCES ex7.instruments (symbol),
    timeframe           ex7.timeframe NOT NULL,
    condition           text NOT NULL CHECK (condition IN ('crosses_above', 'crosses_below')),
    level               numeric NOT NULL CHECK (level > 0),
    repeat              boolean NOT NULL DEFAULT false,
    active              boolean NOT NULL DEFAULT true,
    note                text NOT NULL DEFAULT '' CHECK (pg_catalog.length(note) <= 200),
    last_price          numeric,
    last_ts             timestamptz,
    triggered_count     integer NOT NULL DEFAULT 0,
    last_triggered_at   timestamptz,
    created_at          timestamptz NOT NULL DEFAULT pg_catalog.now(),
    updated_at          timestamptz NOT NULL DEFAULT pg_catalog.now(),
    PRIMARY KEY (user_id, id)
);
SELECT pg_catalog.pg_extension_config_dump('ex7.price_alerts', '');
COMMENT ON TABLE ex7.price_alerts IS 'A user''s price levels on instruments (crosses_above, crosses_below; once or repeating), evaluated on every stored bar of one timeframe.';
COMMENT ON COLUMN ex7.price_alerts.timeframe IS 'The bar series the alert watches. One series only: its bars are ingested one transaction at a time (the series advisory lock of ex7._store_bar), so the alert row is never contended by two ingests.';
COMMENT ON COLUMN ex7.price_alerts.last_price IS 'The price the next bar is compared with: the last bar''s close seen (or the newest close when the alert was set).';
CREATE INDEX price_alerts_user_idx ON ex7.price_alerts (user_id, created_at DESC, id DESC);
-- the bar ingest's probe: active alerts of a series
CREATE INDEX price_alerts_series_idx ON ex7.price_alerts (instrument, timeframe) WHERE active;

CREATE TABLE ex7.price_alert_logs (
    id              bigint GENERATED ALWAYS AS IDENTITY,
    user_id         uuid NOT NULL REFERENCES ex7.users (id) ON DELETE CASCADE,
    alert_id        uuid,
    instrument      text NOT NULL,
    condition       text NOT NULL,
    level           numeric NOT NULL,
    price           numeric NOT NULL,
    timeframe       text NOT NULL,
    bar_ts          timestamptz NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT pg_catalog.now(),
    PRIMARY KEY (user_id, id)
);
SELECT pg_catalog.pg_extension_config_dump('ex7.price_alert_logs', '');
SELECT pg_catalog.pg_extension_config_dump('ex7.price_alert_logs_id_seq', '');
-- No foreign key to price_alerts: a deleted alert keeps its log with alert_id set to NULL by
-- ex7.delete_price_alert. The key would need ON DELETE SET NULL, which Citus does not support on a foreign
-- key that holds the distribution column (docs/scale-out.md).
COMMENT ON COLUMN ex7.price_alert_logs.alert_id IS 'The price alert that triggered; NULL once the alert was deleted (ex7.delete_price_alert).';
COMMENT ON TABLE ex7.price_alert_logs IS 'Each time a price alert triggered: the level, the bar''s close (price) and which bar.';
CREATE INDEX price_alert_logs_user_idx ON ex7.price_alert_logs (user_id, id DESC);
CREATE INDEX price_alert_logs_alert_idx ON ex7.price_alert_logs (user_id, alert_id);

/* Row-level security: as in 10_schema.sql, a bound role sees only its user's rows. */
DO $$
DECLARE
    t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['alert_channels', 'alert_subscriptions', 'alert_deliveries', 'alert_usage',
                             'notifications', 'notification_preferences', 'price_alerts', 'price_alert_logs']
    LOOP
        EXECUTE pg_catalog.format('ALTER TABLE ex7.%I ENABLE ROW LEVEL SECURITY', t);
        EXECUTE pg_catalog.format('ALTER TABLE ex7.%I FORCE ROW LEVEL SECURITY', t);
        EXECUTE pg_catalog.format(
            'CREATE POLICY %I ON ex7.%I USING (user_id = ex7.current_user_id()) '
            'WITH CHECK (user_id = ex7.current_user_id())', t || '_own', t);
    END LOOP;
END
$$;
