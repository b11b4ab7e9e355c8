/* ext/sql/80_protections_schema.sql: protections, their locks and the trading state (docs/protections.md,
 * docs/trading-state.md). DDL only: new in 0.3.0, included whole by ext/upgrade/0.2.0--0.3.0.sql.
 *
 * - risk_protections: a user's rules, per mode, optionally for one strategy or one instrument, that lock
 *   trading for a while after what the closes show (cooldown, stoploss_guard, max_drawdown, low_profit).
 * - risk_locks: what a triggered rule wrote: a scope, an expiry on the bar clock, the reason. A lock
 *   blocks entries in its scope until it expires or the user lifts it; never an exit.
 * - trading_states: a user's kill switch per mode: halted or reducing (no row: active).
 * - trading_halts: service-wide states set by service_role: every instrument ('*') or one.
 */

CREATE TABLE ex7.risk_protections (
    id                uuid NOT NULL DEFAULT pg_catalog.gen_random_uuid(),
    user_id           uuid NOT NULL REFERENCES ex7.users (id),
    mode              ex7.trade_mode NOT NULL DEFAULT 'paper',
    kind              text NOT NULL CHECK (kind IN ('cooldown', 'stoploss_guard', 'max_drawdown', 'low_profit')),
    -- the scope: the closes the rule reads and the entries its lock blocks; neither: all of the mode's
    strategy_id       uuid,
    instrument        text REFERENCES ex7.instruments (symbol),
    bars              integer CHECK (bars BETWEEN 1 AND 1000),
    trade_limit       integer CHECK (trade_limit BETWEEN 1 AND 1000),
    lookback_minutes  integer CHECK (lookback_minutes BETWEEN 1 AND 525600),
    lock_minutes      integer CHECK (lock_minutes BETWEEN 1 AND 525600),
    max_drawdown      numeric CHECK (max_drawdown > 0 AND max_drawdown <= 1000000),
    min_profit        numeric CHECK (min_profit BETWEEN -1000000 AND 1000000),
    enabled           boolean NOT NULL DEFAULT true,
    created_at        timestamptz NOT NULL DEFAULT pg_catalog.now(),
    updated_at        timestamptz NOT NULL DEFAULT pg_catalog.now(),
    PRIMARY KEY (user_id, id),
    CONSTRAINT risk_protections_strategy_fkey FOREIGN KEY (user_id, strategy_id) REFERENCES ex7.strategies (user_id, id),
    -- each kind has exactly its parameters (docs/protections.md, "Rules")
    CONSTRAINT risk_protections_params CHECK (CASE kind
        WHEN 'cooldown' THEN bars IS NOT NULL AND trade_limit IS NULL AND lookback_minutes IS NULL
                             AND lock_minutes IS NULL AND max_drawdown IS NULL AND min_profit IS NULL
        WHEN 'stoploss_guard' THEN bars IS NULL AND trade_limit IS NOT NULL AND lookback_minutes IS NOT NULL
                             AND lock_minutes IS NOT NULL AND max_drawdown IS NULL AND min_profit IS NULL
        WHEN 'max_drawdown' THEN bars IS NULL AND trade_limit IS NOT NULL AND lookback_minutes IS NOT NULL
                             AND lock_minutes IS NOT NULL AND max_drawdown IS NOT NULL AND min_profit IS NULL
        WHEN 'low_profit' THEN bars IS NULL AND trade_limit IS NOT NULL AND lookback_minutes IS NOT NULL
                             AND lock_minutes IS NOT NULL AND max_drawdown IS NULL AND min_profit IS NOT NULL
        END)
);
SELECT pg_catalog.pg_extension_config_dump('ex7.risk_protections', '');
COMMENT ON TABLE ex7.risk_protections IS 'A user''s protections per mode: rules that lock entries for a while after closes (docs/protections.md).';
CREATE INDEX risk_protections_user_mode_idx ON ex7.risk_protections (user_id, mode) WHERE enabled;

CREATE TABLE ex7.risk_locks (
    id              uuid NOT NULL DEFAULT pg_catalog.gen_random_uuid(),
    user_id         uuid NOT NULL REFERENCES ex7.users (id),
    mode            ex7.trade_mode NOT NULL,
    protection_id   uuid,
    kind            text NOT NULL,
    -- what the lock blocks: one strategy, one instrument, or (both NULL) every entry of the mode
    strategy_id     uuid,
    instrument      text,
    -- the bar clock: the bar of the close that triggered it, and the expiry
    locked_at       timestamptz NOT NULL,
    until           timestamptz NOT NULL CHECK (until > locked_at),
    observed        text,
    "limit"         text,
    signal_id       uuid,
    created_at      timestamptz NOT NULL DEFAULT pg_catalog.now(),
    lifted_at       timestamptz,
    PRIMARY KEY (user_id, id),
    CONSTRAINT risk_locks_strategy_fkey FOREIGN KEY (user_id, strategy_id) REFERENCES ex7.strategies (user_id, id)
);
SELECT pg_catalog.pg_extension_config_dump('ex7.risk_locks', '');
COMMENT ON TABLE ex7.risk_locks IS 'Locks written by triggered protections: entries in the scope are refused until the expiry (bar clock) unless lifted (GET /api/risk/locks).';
-- the gate's probe: the user's unlifted locks of a mode, by expiry
CREATE INDEX risk_locks_active_idx ON ex7.risk_locks (user_id, mode, until) WHERE lifted_at IS NULL;
CREATE INDEX risk_locks_user_created_idx ON ex7.risk_locks (user_id, created_at DESC, id DESC);

CREATE TABLE ex7.trading_states (
    user_id     uuid NOT NULL REFERENCES ex7.users (id),
    mode        ex7.trade_mode NOT NULL,
    state       text NOT NULL CHECK (state IN ('halted', 'reducing')),
    reason      text CHECK (pg_catalog.length(reason) <= 200),
    changed_at  timestamptz NOT NULL DEFAULT pg_catalog.now(),
    PRIMARY KEY (user_id, mode)
);
SELECT pg_catalog.pg_extension_config_dump('ex7.trading_states', '');
COMMENT ON TABLE ex7.trading_states IS 'A user''s kill switch per mode: halted (no entries) or reducing (only entries that reduce the net position); no row is active.';

-- service-wide: scope '*' (every instrument) or an instrument symbol; no row is active
CREATE TABLE ex7.trading_halts (
    scope       text NOT NULL PRIMARY KEY CHECK (scope = '*' OR scope ~ '^[A-Z0-9]{1,16}$'),
    state       text NOT NULL CHECK (state IN ('halted', 'reducing')),
    reason      text CHECK (pg_catalog.length(reason) <= 200),
    changed_at  timestamptz NOT NULL DEFAULT pg_catalog.now()
);
SELECT pg_catalog.pg_extension_config_dump('ex7.trading_halts', '');
COMMENT ON TABLE ex7.trading_halts IS 'Service-wide trading states set by service_role: every instrument (scope *) or one, halted or reducing; no row is active.';

/*
 * signals: the bar a signal closed on (the bar clock of protections): the dispatcher's bar, or the time
 * of a close made outside a bar (manual, webhook, force close, kill switch). The kill switch's flatten is
 * a close reason of its own. Closes made before this column existed take their closed_at.
 */
ALTER TABLE ex7.signals ADD COLUMN close_bar_ts timestamptz;
UPDATE ex7.signals SET close_bar_ts = closed_at WHERE status <> 'open';
COMMENT ON COLUMN ex7.signals.close_bar_ts IS 'The bar the signal closed on (the dispatcher''s bar; the close time for a close made outside a bar): the clock protections read.';
ALTER TABLE ex7.signals DROP CONSTRAINT signals_close_reason_check;
ALTER TABLE ex7.signals ADD CONSTRAINT signals_close_reason_check
    CHECK (close_reason IN ('user', 'force_close', 'stop_loss', 'take_profit', 'exit_signal', 'reverse',
                            'session_end', 'runtime_stop', 'kill_switch'));
-- protections read a user's closes of a mode on the bar clock
CREATE INDEX signals_user_mode_close_bar_idx ON ex7.signals (user_id, mode, close_bar_ts) WHERE status <> 'open';

/*
 * The stream and the alerts carry two more kinds of event: risk_lock (a protection locked) and
 * trading_state (the user's or the service's state changed). They name no signal.
 */
ALTER TABLE ex7.signal_events ALTER COLUMN signal_id DROP NOT NULL;
ALTER TABLE ex7.signal_events DROP CONSTRAINT signal_events_kind_check;
ALTER TABLE ex7.signal_events ADD CONSTRAINT signal_events_kind_check
    CHECK (kind IN ('signal', 'signal_closed', 'risk_lock', 'trading_state')
           AND (signal_id IS NOT NULL) = (kind IN ('signal', 'signal_closed')));
ALTER TABLE ex7.signal_events ALTER COLUMN strategy_id DROP NOT NULL;
ALTER TABLE ex7.alert_subscriptions DROP CONSTRAINT alert_subscriptions_events_check;
ALTER TABLE ex7.alert_subscriptions ADD CONSTRAINT alert_subscriptions_events_check
    CHECK (pg_catalog.cardinality(events) >= 1 AND
           events <@ ARRAY['signal', 'signal_closed', 'blocked', 'runtime_error', 'price_alert', 'risk_lock',
                           'trading_state']);
ALTER TABLE ex7.alert_deliveries DROP CONSTRAINT alert_deliveries_event_check;
ALTER TABLE ex7.alert_deliveries ADD CONSTRAINT alert_deliveries_event_check
    CHECK (event IN ('signal', 'signal_closed', 'blocked', 'runtime_error', 'price_alert', 'verification',
                     'risk_lock', 'trading_state'));
ALTER TABLE ex7.notifications DROP CONSTRAINT notifications_type_check;
ALTER TABLE ex7.notifications ADD CONSTRAINT notifications_type_check
    CHECK (type IN ('signal', 'signal_closed', 'blocked', 'runtime_error', 'price_alert', 'system', 'risk_lock',
                    'trading_state'));

/* Row-level security: as in 10_schema.sql, a bound role sees only its user's rows. */
DO $$
DECLARE
    t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['risk_protections', 'risk_locks', 'trading_states'] LOOP
        EXECUTE pg_catalog.format('ALTER TABLE ex7.%I ENABLE ROW LEVEL SECURITY', t);
        EXECUTE pg_catalog.format('ALTER TABLE ex7.%I FORCE ROW LEVEL SECURITY', t);
        EXECUTE pg_catalog.format(
            'CREATE POLICY %I ON ex7.%I USING (user_id = ex7.current_user_id()) '
            'WITH CHECK (user_id = ex7.current_user_id())', t || '_own', t);
    END LOOP;
END
$$;
