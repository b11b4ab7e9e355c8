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

-- ext/sql/66_backtest_schema.sql: backtests, trades, equity curves, the Judge's policy and verdicts (issue 5)

CREATE TABLE ex7.backtests (
    id                  uuid PRIMARY KEY DEFAULT pg_catalog.gen_random_uuid(),
    user_id             uuid NOT NULL REFERENCES ex7.users (id),
    strategy_id         uuid NOT NULL REFERENCES ex7.strategies (id),
    strategy_version    integer NOT NULL,
    instrument          text NOT NULL,
    timeframe           ex7.timeframe NOT NULL,
    range_from          timestamptz NOT NULL,
    range_to            timestamptz NOT NULL,
    params              jsonb NOT NULL DEFAULT '{}',
    purpose             text NOT NULL DEFAULT 'user' CHECK (purpose IN ('user', 'validation')),
    status              text NOT NULL DEFAULT 'queued' CHECK (status IN ('queued', 'running', 'done', 'failed')),
    bars_total          bigint,
    bars_done           bigint NOT NULL DEFAULT 0,
    result              jsonb,
    error               text,
    created_at          timestamptz NOT NULL DEFAULT pg_catalog.now(),
    started_at          timestamptz,
    finished_at         timestamptz,
    FOREIGN KEY (strategy_id, strategy_version) REFERENCES ex7.strategy_versions (strategy_id, version),
    CHECK (range_to > range_from)
);
COMMENT ON TABLE ex7.backtests IS 'A strategy version run over the stored bars of (range_from, range_to]: parameters, status (queued, running, done, failed), progress in bars, the summary (result) and timings. Trades and the equity curve are in backtest_trades and backtest_equity.';
COMMENT ON COLUMN ex7.backtests.purpose IS 'user: POST /api/strategies/{id}/backtest; validation: run by the Judge.';
COMMENT ON COLUMN ex7.backtests.bars_done IS 'Bars of the range processed so far (committed every chunk by a background run).';
-- keyset order of ex7.list_backtests: (created_at DESC, id DESC) per user and strategy
CREATE INDEX backtests_strategy_idx ON ex7.backtests (user_id, strategy_id, created_at DESC, id DESC);
-- background runs still to finish (the per-user cap)
CREATE INDEX backtests_active_idx ON ex7.backtests (user_id) WHERE status IN ('queued', 'running');

CREATE TABLE ex7.backtest_trades (
    backtest_id         uuid NOT NULL,             -- checked per statement (below)
    seq                 integer NOT NULL CHECK (seq >= 1),
    -- the backtest's user, for row security. No key to ex7.users: backtest_id already ties the row to
    -- a backtest of an existing user, and a per-row check of users cost a fifth of storing the rows
    user_id             uuid NOT NULL,
    side                text NOT NULL CHECK (side IN ('long', 'short')),
    quantity            integer NOT NULL CHECK (quantity > 0),
    entry_time          timestamptz NOT NULL,
    entry_price         numeric NOT NULL,
    stop_price          numeric,
    target_price        numeric,
    exit_time           timestamptz NOT NULL,
    exit_price          numeric NOT NULL,
    exit_reason         text NOT NULL CHECK (exit_reason IN ('stop_loss', 'take_profit', 'exit_signal', 'reverse',
                                                             'end_of_range')),
    gross_pnl           numeric NOT NULL,
    slippage_cost       numeric NOT NULL,
    commission          numeric NOT NULL,
    net_pnl             numeric NOT NULL,
    mae                 numeric NOT NULL CHECK (mae >= 0),
    mfe                 numeric NOT NULL CHECK (mfe >= 0),
    PRIMARY KEY (backtest_id, seq)
);
COMMENT ON TABLE ex7.backtest_trades IS 'The closed trades of a backtest in exit order, priced by ex7.compute_pnl (net of slippage and commission). mae / mfe: the largest adverse / favourable excursion while open, gross money, as magnitudes.';

CREATE TABLE ex7.backtest_equity (
    backtest_id         uuid NOT NULL,             -- checked per statement (below)
    seq                 integer NOT NULL CHECK (seq >= 1),
    -- the backtest's user, for row security. No key to ex7.users: backtest_id already ties the row to
    -- a backtest of an existing user, and a per-row check of users cost a fifth of storing the rows
    user_id             uuid NOT NULL,
    ts                  timestamptz NOT NULL,
    equity              numeric NOT NULL,
    PRIMARY KEY (backtest_id, seq)
);
COMMENT ON TABLE ex7.backtest_equity IS 'The equity curve of a backtest: initial capital + realized net P&L + the open position marked gross at the bar''s close, sampled at every trade close and at the last bar of every UTC day, in time order.';

/* The Judge. One policy, the operator's: a criterion left NULL is not checked. Seeded with every
 * criterion NULL, so a fresh install promotes as before until the operator sets the criteria
 * (docs/backtests.md, "The Judge"). */
CREATE TABLE ex7.validation_policy (
    id                  boolean PRIMARY KEY DEFAULT true CHECK (id),
    window_days         integer NOT NULL DEFAULT 90 CHECK (window_days BETWEEN 1 AND 3660),
    min_trades          integer CHECK (min_trades >= 0),
    max_drawdown        numeric CHECK (max_drawdown >= 0),
    min_profit_factor   numeric CHECK (min_profit_factor >= 0),
    min_net_pnl         numeric,
    min_win_rate        numeric CHECK (min_win_rate BETWEEN 0 AND 1),
    updated_at          timestamptz NOT NULL DEFAULT pg_catalog.now()
);
COMMENT ON TABLE ex7.validation_policy IS 'The Judge''s criteria for promoting a strategy to live (one row, the operator''s): a backtest of the current version over the window_days before the newest stored bar must meet every criterion that is not NULL.';
INSERT INTO ex7.validation_policy (id) VALUES (true);
SELECT pg_catalog.pg_extension_config_dump('ex7.validation_policy', '');

CREATE TABLE ex7.strategy_validations (
    id                  uuid PRIMARY KEY DEFAULT pg_catalog.gen_random_uuid(),
    user_id             uuid NOT NULL REFERENCES ex7.users (id),
    strategy_id         uuid NOT NULL REFERENCES ex7.strategies (id),
    strategy_version    integer NOT NULL,
    backtest_id         uuid NOT NULL REFERENCES ex7.backtests (id),
    passed              boolean NOT NULL,
    criteria            jsonb NOT NULL,
    observed            jsonb NOT NULL,
    failed              jsonb NOT NULL,
    trigger             text NOT NULL CHECK (trigger IN ('promotion', 'request')),
    created_at          timestamptz NOT NULL DEFAULT pg_catalog.now()
);
COMMENT ON TABLE ex7.strategy_validations IS 'The Judge''s verdicts: the policy applied, the observed values, the failed criteria, and the backtest they come from.';
CREATE INDEX strategy_validations_strategy_idx ON ex7.strategy_validations (user_id, strategy_id, created_at DESC, id DESC);

DO $$
DECLARE
    t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['backtests', 'backtest_trades', 'backtest_equity', 'strategy_validations']
    LOOP
        EXECUTE pg_catalog.format('ALTER TABLE ex7.%I ENABLE ROW LEVEL SECURITY', t);
        EXECUTE pg_catalog.format('ALTER TABLE ex7.%I FORCE ROW LEVEL SECURITY', t);
        EXECUTE pg_catalog.format(
            'CREATE POLICY %I ON ex7.%I USING (user_id = (SELECT ex7.current_user_id())) '
            'WITH CHECK (user_id = (SELECT ex7.current_user_id()))', t || '_own', t);
    END LOOP;
END
$$;

/*
 * The backtest_id of trades and curve points is checked once per statement, not once per row: a foreign
 * key's per-row check was half the time of storing them (docs/performance.md, session 5). The backtests a
 * statement's new rows name must exist, and they are locked FOR KEY SHARE as a foreign key's check locks
 * them (a concurrent delete of one waits for the writer, or the writer fails after the delete commits);
 * deleting backtests deletes their trades and curve (what ON DELETE CASCADE did). The check runs as the
 * writing role, so a role bound to a user can name only its own backtests (row security).
 * specs/backtest_rows.spec and sql/backtest.sql test it. (Runs once: a change here is repeated in
 * ext/upgrade/.)
 */
CREATE FUNCTION ex7._backtest_rows_check()
RETURNS trigger
LANGUAGE plpgsql
AS $$
DECLARE
    v_want bigint;
    v_have bigint;
BEGIN
    SELECT pg_catalog.count(DISTINCT r.backtest_id) INTO v_want FROM new_rows r;
    SELECT pg_catalog.count(*) INTO v_have
      FROM (SELECT b.id FROM ex7.backtests b WHERE b.id IN (SELECT r.backtest_id FROM new_rows r)
               FOR KEY SHARE OF b) x;
    IF v_have < v_want THEN
        RAISE EXCEPTION USING ERRCODE = 'foreign_key_violation',
            MESSAGE = pg_catalog.format('insert or update on table "%s" names a backtest that does not exist',
                                        TG_TABLE_NAME);
    END IF;
    RETURN NULL;
END
$$;
COMMENT ON FUNCTION ex7._backtest_rows_check() IS
'Trigger (per statement, on backtest_trades and backtest_equity): raises foreign_key_violation (23503) when the new rows name a backtest that does not exist (or that the writing role cannot see), and locks the named backtests FOR KEY SHARE.';
CREATE FUNCTION ex7._backtests_deleted()
RETURNS trigger
LANGUAGE plpgsql
AS $$
BEGIN
    DELETE FROM ex7.backtest_trades t WHERE t.backtest_id IN (SELECT o.id FROM old_rows o);
    DELETE FROM ex7.backtest_equity e WHERE e.backtest_id IN (SELECT o.id FROM old_rows o);
    RETURN NULL;
END
$$;
COMMENT ON FUNCTION ex7._backtests_deleted() IS
'Trigger (per statement, after a delete on backtests): deletes the trades and curve points of the deleted backtests.';
CREATE TRIGGER backtest_trades_insert AFTER INSERT ON ex7.backtest_trades
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION ex7._backtest_rows_check();
CREATE TRIGGER backtest_trades_update AFTER UPDATE ON ex7.backtest_trades
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION ex7._backtest_rows_check();
CREATE TRIGGER backtest_equity_insert AFTER INSERT ON ex7.backtest_equity
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION ex7._backtest_rows_check();
CREATE TRIGGER backtest_equity_update AFTER UPDATE ON ex7.backtest_equity
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION ex7._backtest_rows_check();
CREATE TRIGGER backtests_deleted AFTER DELETE ON ex7.backtests
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION ex7._backtests_deleted();

-- ext/sql/75_alerts_schema.sql: alerts, notifications, price alerts (issue 7)
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
    id                  uuid PRIMARY KEY DEFAULT pg_catalog.gen_random_uuid(),
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
    CHECK ((disabled_at IS NULL) = (disabled_reason IS NULL))
);
COMMENT ON TABLE ex7.alert_channels IS 'A user''s alert destinations (email, telegram, sms, webhook). Delivers only when verified and not disabled.';
COMMENT ON COLUMN ex7.alert_channels.verify_hash IS 'sha256(channel id || code) of the pending verification code; the code is not stored.';
COMMENT ON COLUMN ex7.alert_channels.verify_token IS 'telegram: the token of the pending "/start <token>" handshake.';
COMMENT ON COLUMN ex7.alert_channels.signing_secret IS 'webhook: whsec_<base64> key the deliveries are signed with (Svix scheme, facts.md).';
CREATE INDEX alert_channels_user_idx ON ex7.alert_channels (user_id, created_at, id);
CREATE UNIQUE INDEX alert_channels_verify_token_key ON ex7.alert_channels (verify_token) WHERE verify_token IS NOT NULL;
-- Twilio STOP and the Resend webhooks find channels by destination
CREATE INDEX alert_channels_destination_idx ON ex7.alert_channels (type, destination);

/*
 * Subscriptions: which events of which strategy (NULL: all of the user's) go to a channel. One per
 * (channel, strategy). unsubscribed_at is set by an unsubscribe link (the user may enable it again).
 */
CREATE TABLE ex7.alert_subscriptions (
    id              uuid PRIMARY KEY DEFAULT pg_catalog.gen_random_uuid(),
    user_id         uuid NOT NULL REFERENCES ex7.users (id) ON DELETE CASCADE,
    channel_id      uuid NOT NULL REFERENCES ex7.alert_channels (id) ON DELETE CASCADE,
    strategy_id     uuid REFERENCES ex7.strategies (id) ON DELETE CASCADE,
    events          text[] NOT NULL CHECK (pg_catalog.cardinality(events) >= 1 AND
                        events <@ ARRAY['signal', 'signal_closed', 'blocked', 'runtime_error', 'price_alert']),
    enabled         boolean NOT NULL DEFAULT true,
    unsubscribed_at timestamptz,
    created_at      timestamptz NOT NULL DEFAULT pg_catalog.now(),
    updated_at      timestamptz NOT NULL DEFAULT pg_catalog.now()
);
COMMENT ON TABLE ex7.alert_subscriptions IS 'Which events (signal, signal_closed, blocked, runtime_error, price_alert) of one strategy or all go to a channel.';
CREATE UNIQUE INDEX alert_subscriptions_channel_strategy_key ON ex7.alert_subscriptions (channel_id, strategy_id) NULLS NOT DISTINCT;
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
    id                  uuid PRIMARY KEY DEFAULT pg_catalog.gen_random_uuid(),
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
    CHECK ((status = 'suppressed') = (reason IS NOT NULL))
);
COMMENT ON TABLE ex7.alert_deliveries IS 'The alerts outbox: one row per (event, subscription) and per verification message, with its send status.';
COMMENT ON COLUMN ex7.alert_deliveries.event_key IS 'The event the row delivers (signal:<event id>, blocked:<id>, runtime_error:<runtime>:<time>, price_alert:<log id>, verify:<n>): unique per subscription.';
COMMENT ON COLUMN ex7.alert_deliveries.next_attempt_at IS 'When a queued row is due: the next retry, or the end of the current worker''s lease.';
COMMENT ON COLUMN ex7.alert_deliveries.strategy_id IS 'The strategy of the event (no foreign key: strategies are never removed, only soft-deleted).';
-- No foreign keys to the subscription and the channel: each would be a trigger and a lookup per delivery on
-- the signal path (docs/performance.md, "Alerts"). The history keeps the ids of a deleted subscription or
-- channel; the worker's claim joins them and suppresses a row whose subscription or channel is gone.
COMMENT ON COLUMN ex7.alert_deliveries.channel_id IS 'The channel (no foreign key: may name a deleted channel; channel_type is kept on the row).';
-- "one per (event, subscription)"
CREATE UNIQUE INDEX alert_deliveries_subscription_event_key ON ex7.alert_deliveries (subscription_id, event_key);
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
COMMENT ON TABLE ex7.alert_usage IS 'Alert deliveries handed to a provider per user and UTC day (the quota resets at 00:00 UTC).';

/*
 * In-app notifications: every delivery-worthy event (signal, signal_closed, blocked, runtime_error,
 * price_alert) of a user, unless the user's preferences turned that type off.
 */
CREATE TABLE ex7.notifications (
    id          uuid PRIMARY KEY DEFAULT pg_catalog.gen_random_uuid(),
    user_id     uuid NOT NULL REFERENCES ex7.users (id) ON DELETE CASCADE,
    type        text NOT NULL CHECK (type IN ('signal', 'signal_closed', 'blocked', 'runtime_error', 'price_alert',
                                              'system')),
    title       text NOT NULL,
    message     text NOT NULL,
    action_url  text,
    data        jsonb NOT NULL DEFAULT '{}',
    read_at     timestamptz,
    created_at  timestamptz NOT NULL DEFAULT pg_catalog.now()
);
COMMENT ON TABLE ex7.notifications IS 'A user''s in-app notifications, newest first; read_at is set when read.';
CREATE INDEX notifications_user_created_idx ON ex7.notifications (user_id, created_at DESC, id DESC);
CREATE INDEX notifications_user_unread_idx ON ex7.notifications (user_id, created_at DESC) WHERE read_at IS NULL;

CREATE TABLE ex7.notification_preferences (
    user_id     uuid PRIMARY KEY REFERENCES ex7.users (id) ON DELETE CASCADE,
    preferences jsonb NOT NULL DEFAULT '{}',
    updated_at  timestamptz NOT NULL DEFAULT pg_catalog.now()
);
COMMENT ON TABLE ex7.notification_preferences IS 'Per user: {type: boolean} for in-app notification types; a missing type is on.';

/*
 * Price alerts: a level on an instrument, crossed above or below, once or repeating. Bar ingestion
 * evaluates them (trigger bars_price_alerts); last_price and last_ts are the reference the next bar is
 * compared with. Each trigger writes a log row, a notification and deliveries.
 */
CREATE TABLE ex7.price_alerts (
    id                  uuid PRIMARY KEY DEFAULT pg_catalog.gen_random_uuid(),
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
    updated_at          timestamptz NOT NULL DEFAULT pg_catalog.now()
);
COMMENT ON TABLE ex7.price_alerts IS 'A user''s price levels on instruments (crosses_above, crosses_below; once or repeating), evaluated on every stored bar of one timeframe.';
COMMENT ON COLUMN ex7.price_alerts.timeframe IS 'The bar series the alert watches. One series only: its bars are ingested one transaction at a time (the series advisory lock of ex7._store_bar), so the alert row is never contended by two ingests.';
COMMENT ON COLUMN ex7.price_alerts.last_price IS 'The price the next bar is compared with: the last bar''s close seen (or the newest close when the alert was set).';
CREATE INDEX price_alerts_user_idx ON ex7.price_alerts (user_id, created_at DESC, id DESC);
-- the bar trigger's probe: active alerts of a series
CREATE INDEX price_alerts_series_idx ON ex7.price_alerts (instrument, timeframe) WHERE active;

CREATE TABLE ex7.price_alert_logs (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id         uuid NOT NULL REFERENCES ex7.users (id) ON DELETE CASCADE,
    alert_id        uuid REFERENCES ex7.price_alerts (id) ON DELETE SET NULL,
    instrument      text NOT NULL,
    condition       text NOT NULL,
    level           numeric NOT NULL,
    price           numeric NOT NULL,
    timeframe       text NOT NULL,
    bar_ts          timestamptz NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT pg_catalog.now()
);
COMMENT ON TABLE ex7.price_alert_logs IS 'Each time a price alert triggered: the level, the bar''s close (price) and which bar.';
CREATE INDEX price_alert_logs_user_idx ON ex7.price_alert_logs (user_id, id DESC);
CREATE INDEX price_alert_logs_alert_idx ON ex7.price_alert_logs (alert_id);

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
            'CREATE POLICY %I ON ex7.%I USING (user_id = (SELECT ex7.current_user_id())) '
            'WITH CHECK (user_id = (SELECT ex7.current_user_id()))', t || '_own', t);
    END LOOP;
END
$$;

/*
 * Events that are not signal events: a refusal of the risk gate and a runtime that stopped with an
 * error. The triggers hand the row to ex7._alert_blocked / ex7._alert_runtime_error (76_alerts.sql),
 * so the writers (50_risk.sql, 65_dispatch.sql) need not know about alerts. Signal events go through
 * ex7._emit_event (55_events.sql) instead, which has the event id.
 */
CREATE OR REPLACE FUNCTION ex7._signals_blocked_alert()
RETURNS trigger
LANGUAGE plpgsql
AS $$
BEGIN
    PERFORM ex7._alert_blocked(NEW);
    RETURN NULL;
END
$$;
COMMENT ON FUNCTION ex7._signals_blocked_alert() IS 'Trigger: a refusal of the risk gate is an alert event (ex7._alert_blocked).';
CREATE TRIGGER signals_blocked_alert AFTER INSERT ON ex7.signals_blocked
    FOR EACH ROW EXECUTE FUNCTION ex7._signals_blocked_alert();

CREATE OR REPLACE FUNCTION ex7._runtime_error_alert()
RETURNS trigger
LANGUAGE plpgsql
AS $$
BEGIN
    PERFORM ex7._alert_runtime_error(NEW);
    RETURN NULL;
END
$$;
COMMENT ON FUNCTION ex7._runtime_error_alert() IS 'Trigger: a runtime entering status error is an alert event (ex7._alert_runtime_error).';
CREATE TRIGGER strategy_runtimes_error_alert AFTER UPDATE OF status ON ex7.strategy_runtimes
    FOR EACH ROW WHEN (NEW.status = 'error' AND OLD.status IS DISTINCT FROM 'error')
    EXECUTE FUNCTION ex7._runtime_error_alert();

/*
 * Price alerts: every INSERT statement on ex7.bars hands its new rows (the transition table, which only
 * the trigger function itself can read) to ex7._price_alerts_bars when an active alert watches one of
 * their series: one index probe per ingest otherwise.
 */
CREATE OR REPLACE FUNCTION ex7._bars_price_alerts()
RETURNS trigger
LANGUAGE plpgsql
AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM new_bars n JOIN ex7.price_alerts a
                 ON a.instrument = n.instrument AND a.timeframe = n.timeframe AND a.active) THEN
        PERFORM ex7._price_alerts_bars(ARRAY(SELECT ROW(n.*)::ex7.bars FROM new_bars n ORDER BY n.ts, n.timeframe));
    END IF;
    RETURN NULL;
END
$$;
COMMENT ON FUNCTION ex7._bars_price_alerts() IS 'Trigger: evaluates the active price alerts on the bars the statement stored (transition table new_bars) with ex7._price_alerts_bars.';
CREATE TRIGGER bars_price_alerts AFTER INSERT ON ex7.bars
    REFERENCING NEW TABLE AS new_bars
    FOR EACH STATEMENT EXECUTE FUNCTION ex7._bars_price_alerts();

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

-- ext/sql/72_billing_schema.sql: tiers' prices and caps, compliance documents and acceptances, billing state, Stripe events (issue 6)
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
SELECT pg_catalog.pg_extension_config_dump('ex7.compliance_documents', '');

CREATE TABLE ex7.compliance_acceptances (
    user_id     uuid NOT NULL REFERENCES ex7.users (id) ON DELETE CASCADE,
    document    text NOT NULL,
    version     text NOT NULL,
    accepted_at timestamptz NOT NULL DEFAULT pg_catalog.now(),
    client_addr text CHECK (pg_catalog.length(client_addr) <= 64),
    PRIMARY KEY (user_id, document, version),
    FOREIGN KEY (document, version) REFERENCES ex7.compliance_documents (document, version)
);
COMMENT ON TABLE ex7.compliance_acceptances IS 'Which document versions a user accepted, when and from which client address (POST /api/billing/compliance/accept). Kept: a version a user accepted cannot be deleted.';
ALTER TABLE ex7.compliance_acceptances ENABLE ROW LEVEL SECURITY;
ALTER TABLE ex7.compliance_acceptances FORCE ROW LEVEL SECURITY;
CREATE POLICY compliance_acceptances_own ON ex7.compliance_acceptances
    USING (user_id = (SELECT ex7.current_user_id())) WITH CHECK (user_id = (SELECT ex7.current_user_id()));

/*
 * A user's billing state: the Stripe customer and subscription as the webhook (and our own calls) last
 * reported them, and a complimentary tier granted by an operator. ex7.users.tier is derived from these
 * (ex7._billing_sync_tier), so the rate limits and caps read one column.
 */
CREATE TABLE ex7.billing_accounts (
    user_id                uuid PRIMARY KEY REFERENCES ex7.users (id) ON DELETE CASCADE,
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
COMMENT ON TABLE ex7.billing_accounts IS 'Per user: the Stripe customer and subscription (status, tier, period end, cancel at period end) and an operator''s complimentary tier. ex7.users.tier follows from it.';
COMMENT ON COLUMN ex7.billing_accounts.subscription_event_at IS 'Creation time of the newest Stripe event applied to the subscription: an older event arriving later changes nothing (events come out of order).';
ALTER TABLE ex7.billing_accounts ENABLE ROW LEVEL SECURITY;
ALTER TABLE ex7.billing_accounts FORCE ROW LEVEL SECURITY;
CREATE POLICY billing_accounts_own ON ex7.billing_accounts
    USING (user_id = (SELECT ex7.current_user_id())) WITH CHECK (user_id = (SELECT ex7.current_user_id()));
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
COMMENT ON TABLE ex7.stripe_events IS 'Every Stripe event id processed, with what it did: applied, ignored (a type or customer we do not handle) or stale (older than the state it would change). A replay of a recorded id changes nothing.';

/* A role bound to a user reads its own counter only (GET /api/billing/me's usage); the fronts bypass RLS. */
ALTER TABLE ex7.rate_counters ENABLE ROW LEVEL SECURITY;
ALTER TABLE ex7.rate_counters FORCE ROW LEVEL SECURITY;
CREATE POLICY rate_counters_own ON ex7.rate_counters FOR SELECT
    USING (subject = 'user:' || (SELECT ex7.current_user_id())::text);

/*
 * Sessions a password change ends (docs/account.md): bearer tokens issued (iat) before this second are
 * refused by ex7d. Changing it notifies ex7_user_changed like a tier change, so every front re-reads it
 * before the user's next request.
 */
ALTER TABLE ex7.users ADD COLUMN tokens_valid_after timestamptz;
COMMENT ON COLUMN ex7.users.tokens_valid_after IS 'Bearer tokens issued (iat) before this time are refused by the HTTP front (set by a password change); NULL: no such cut.';
CREATE TRIGGER users_tokens_revoked AFTER UPDATE OF tokens_valid_after ON ex7.users
    FOR EACH ROW WHEN (OLD.tokens_valid_after IS DISTINCT FROM NEW.tokens_valid_after)
    EXECUTE FUNCTION ex7._users_tier_changed();
