/* ext/upgrade/0.2.0--0.3.0.sql: the DDL delta from 0.2.0 to 0.3.0 (the re-runnable function files follow it in
 * the built script, see Makefile). 0.3.0 makes the schema distributable on Citus (docs/scale-out.md): per-user
 * tables keyed by (user_id, id), foreign keys between them including user_id, row-level security without
 * sub-selects, and no trigger that writes another table. Existing rows are kept: keys are rebuilt in place. */

-- Triggers that wrote elsewhere or guarded a per-user table: their work is now done by the functions that
-- write those rows (ex7._user_changed, ex7._record_blocked, ex7._dispatch_bar), docs/scale-out.md "Triggers"
DROP TRIGGER users_tier_changed ON ex7.users;
DROP TRIGGER users_tokens_revoked ON ex7.users;
DROP FUNCTION ex7._users_tier_changed();
DROP TRIGGER tiers_changed ON ex7.tiers;
DROP FUNCTION ex7._tiers_changed();
DROP TRIGGER strategy_versions_immutable ON ex7.strategy_versions;
DROP FUNCTION ex7._versions_immutable();
DROP TRIGGER signals_blocked_alert ON ex7.signals_blocked;
DROP FUNCTION ex7._signals_blocked_alert();
DROP TRIGGER strategy_runtimes_error_alert ON ex7.strategy_runtimes;
DROP FUNCTION ex7._runtime_error_alert();

-- Functions of 0.2.0 that named a row by its id alone: their (user, id) forms replace them
DROP FUNCTION ex7._backtest_trades_json(uuid);
DROP FUNCTION ex7._backtest_equity_json(uuid);
DROP FUNCTION ex7._channel_send_verification(uuid);
DROP FUNCTION ex7._alert_strategy_name(uuid);
DROP FUNCTION ex7._channel_disable(uuid, text);
DROP FUNCTION ex7._runtime_open_signals(uuid, text);
DROP FUNCTION ex7._settle_drained(uuid, text);
DROP FUNCTION ex7._stop_runtimes(uuid, boolean);

-- Foreign keys to the keys that change, and those that become (user_id, ...) pairs
ALTER TABLE ex7.strategy_versions DROP CONSTRAINT strategy_versions_strategy_id_fkey;
ALTER TABLE ex7.strategy_runtimes DROP CONSTRAINT strategy_runtimes_strategy_id_fkey;
ALTER TABLE ex7.signals DROP CONSTRAINT signals_strategy_id_fkey;
ALTER TABLE ex7.signal_events DROP CONSTRAINT signal_events_signal_id_fkey,
                              DROP CONSTRAINT signal_events_strategy_id_fkey;
ALTER TABLE ex7.signal_audit DROP CONSTRAINT signal_audit_strategy_id_fkey,
                             DROP CONSTRAINT signal_audit_signal_id_fkey;
ALTER TABLE ex7.signals_blocked DROP CONSTRAINT signals_blocked_strategy_id_fkey;
ALTER TABLE ex7.backtests DROP CONSTRAINT backtests_strategy_id_fkey,
                          DROP CONSTRAINT backtests_strategy_id_strategy_version_fkey;
ALTER TABLE ex7.backtest_trade_chunks DROP CONSTRAINT backtest_trade_chunks_backtest_id_user_id_fkey;
ALTER TABLE ex7.backtest_equity_chunks DROP CONSTRAINT backtest_equity_chunks_backtest_id_user_id_fkey;
ALTER TABLE ex7.strategy_validations DROP CONSTRAINT strategy_validations_strategy_id_fkey,
                                     DROP CONSTRAINT strategy_validations_backtest_id_fkey;
ALTER TABLE ex7.alert_subscriptions DROP CONSTRAINT alert_subscriptions_channel_id_fkey,
                                    DROP CONSTRAINT alert_subscriptions_strategy_id_fkey;
ALTER TABLE ex7.price_alert_logs DROP CONSTRAINT price_alert_logs_alert_id_fkey;
-- reference tables on Citus, which may not point at a distributed table; users are never deleted
ALTER TABLE ex7.role_bindings DROP CONSTRAINT role_bindings_user_id_fkey;
ALTER TABLE ex7.auth_accounts DROP CONSTRAINT auth_accounts_user_id_fkey;
ALTER TABLE ex7.billing_accounts DROP CONSTRAINT billing_accounts_user_id_fkey;

-- Keys: (user_id, id), rebuilt in place (every row is kept; a row whose user differs from its parent's
-- would fail the new foreign keys below, and the upgrade with it: the functions never wrote one)
ALTER TABLE ex7.strategies DROP CONSTRAINT strategies_pkey, ADD PRIMARY KEY (user_id, id);
ALTER TABLE ex7.strategy_versions DROP CONSTRAINT strategy_versions_pkey, ADD PRIMARY KEY (user_id, strategy_id, version);
ALTER TABLE ex7.strategy_runtimes DROP CONSTRAINT strategy_runtimes_pkey, ADD PRIMARY KEY (user_id, id),
    DROP CONSTRAINT strategy_runtimes_strategy_id_mode_key,
    ADD CONSTRAINT strategy_runtimes_strategy_id_mode_key UNIQUE (user_id, strategy_id, mode);
ALTER TABLE ex7.signals DROP CONSTRAINT signals_pkey, ADD PRIMARY KEY (user_id, id);
ALTER TABLE ex7.signal_audit DROP CONSTRAINT signal_audit_pkey, ADD PRIMARY KEY (user_id, id);
ALTER TABLE ex7.signals_blocked DROP CONSTRAINT signals_blocked_pkey, ADD PRIMARY KEY (user_id, id);
ALTER TABLE ex7.backtests DROP CONSTRAINT backtests_pkey, DROP CONSTRAINT backtests_id_user_id_key, ADD PRIMARY KEY (user_id, id);
ALTER TABLE ex7.backtest_trade_chunks DROP CONSTRAINT backtest_trade_chunks_pkey, ADD PRIMARY KEY (user_id, backtest_id, first_seq);
ALTER TABLE ex7.backtest_equity_chunks DROP CONSTRAINT backtest_equity_chunks_pkey, ADD PRIMARY KEY (user_id, backtest_id, first_seq);
ALTER TABLE ex7.strategy_validations DROP CONSTRAINT strategy_validations_pkey, ADD PRIMARY KEY (user_id, id);
ALTER TABLE ex7.exchange_keys DROP CONSTRAINT exchange_keys_pkey, ADD PRIMARY KEY (user_id, id);
ALTER TABLE ex7.alert_channels DROP CONSTRAINT alert_channels_pkey, ADD PRIMARY KEY (user_id, id);
ALTER TABLE ex7.alert_subscriptions DROP CONSTRAINT alert_subscriptions_pkey, ADD PRIMARY KEY (user_id, id);
ALTER TABLE ex7.alert_deliveries DROP CONSTRAINT alert_deliveries_pkey, ADD PRIMARY KEY (user_id, id);
ALTER TABLE ex7.notifications DROP CONSTRAINT notifications_pkey, ADD PRIMARY KEY (user_id, id);
ALTER TABLE ex7.price_alerts DROP CONSTRAINT price_alerts_pkey, ADD PRIMARY KEY (user_id, id);
ALTER TABLE ex7.price_alert_logs DROP CONSTRAINT price_alert_logs_pkey, ADD PRIMARY KEY (user_id, id);

-- Unique indexes hold user_id (Citus: a unique index must contain the distribution column)
DROP INDEX ex7.alert_channels_verify_token_key;
CREATE UNIQUE INDEX alert_channels_verify_token_key ON ex7.alert_channels (verify_token, user_id) WHERE verify_token IS NOT NULL;
DROP INDEX ex7.alert_subscriptions_channel_strategy_key;
CREATE UNIQUE INDEX alert_subscriptions_channel_strategy_key ON ex7.alert_subscriptions (user_id, channel_id, strategy_id) NULLS NOT DISTINCT;
DROP INDEX ex7.alert_deliveries_subscription_event_key;
CREATE UNIQUE INDEX alert_deliveries_subscription_event_key ON ex7.alert_deliveries (user_id, subscription_id, event_key);
DROP INDEX ex7.price_alert_logs_alert_idx;
CREATE INDEX price_alert_logs_alert_idx ON ex7.price_alert_logs (user_id, alert_id);

-- Foreign keys between per-user tables, with user_id
ALTER TABLE ex7.strategy_versions ADD CONSTRAINT strategy_versions_strategy_fkey
    FOREIGN KEY (user_id, strategy_id) REFERENCES ex7.strategies (user_id, id);
ALTER TABLE ex7.strategy_runtimes ADD CONSTRAINT strategy_runtimes_strategy_fkey
    FOREIGN KEY (user_id, strategy_id) REFERENCES ex7.strategies (user_id, id);
ALTER TABLE ex7.signals ADD CONSTRAINT signals_strategy_fkey
    FOREIGN KEY (user_id, strategy_id) REFERENCES ex7.strategies (user_id, id);
ALTER TABLE ex7.signal_events
    ADD CONSTRAINT signal_events_signal_fkey FOREIGN KEY (user_id, signal_id) REFERENCES ex7.signals (user_id, id),
    ADD CONSTRAINT signal_events_strategy_fkey FOREIGN KEY (user_id, strategy_id) REFERENCES ex7.strategies (user_id, id);
ALTER TABLE ex7.signal_audit
    ADD CONSTRAINT signal_audit_strategy_fkey FOREIGN KEY (user_id, strategy_id) REFERENCES ex7.strategies (user_id, id),
    ADD CONSTRAINT signal_audit_signal_fkey FOREIGN KEY (user_id, signal_id) REFERENCES ex7.signals (user_id, id);
ALTER TABLE ex7.signals_blocked ADD CONSTRAINT signals_blocked_strategy_fkey
    FOREIGN KEY (user_id, strategy_id) REFERENCES ex7.strategies (user_id, id);
ALTER TABLE ex7.backtests
    ADD CONSTRAINT backtests_strategy_fkey FOREIGN KEY (user_id, strategy_id) REFERENCES ex7.strategies (user_id, id),
    ADD CONSTRAINT backtests_strategy_version_fkey FOREIGN KEY (user_id, strategy_id, strategy_version)
        REFERENCES ex7.strategy_versions (user_id, strategy_id, version);
ALTER TABLE ex7.backtest_trade_chunks ADD CONSTRAINT backtest_trade_chunks_backtest_fkey
    FOREIGN KEY (user_id, backtest_id) REFERENCES ex7.backtests (user_id, id) ON DELETE CASCADE;
ALTER TABLE ex7.backtest_equity_chunks ADD CONSTRAINT backtest_equity_chunks_backtest_fkey
    FOREIGN KEY (user_id, backtest_id) REFERENCES ex7.backtests (user_id, id) ON DELETE CASCADE;
ALTER TABLE ex7.strategy_validations
    ADD CONSTRAINT strategy_validations_strategy_fkey FOREIGN KEY (user_id, strategy_id) REFERENCES ex7.strategies (user_id, id),
    ADD CONSTRAINT strategy_validations_backtest_fkey FOREIGN KEY (user_id, backtest_id) REFERENCES ex7.backtests (user_id, id);
ALTER TABLE ex7.alert_subscriptions
    ADD CONSTRAINT alert_subscriptions_channel_fkey FOREIGN KEY (user_id, channel_id)
        REFERENCES ex7.alert_channels (user_id, id) ON DELETE CASCADE,
    ADD CONSTRAINT alert_subscriptions_strategy_fkey FOREIGN KEY (user_id, strategy_id)
        REFERENCES ex7.strategies (user_id, id) ON DELETE CASCADE;
COMMENT ON COLUMN ex7.price_alert_logs.alert_id IS 'The price alert that triggered; NULL once the alert was deleted (ex7.delete_price_alert).';

-- Row-level security without sub-selects (Citus refuses sub-queries in policies)
DO $$
DECLARE
    t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['strategies', 'strategy_versions', 'strategy_runtimes', 'signals',
                             'signal_events', 'signal_audit', 'signals_blocked', 'risk_limits',
                             'backtests', 'backtest_trade_chunks', 'backtest_equity_chunks', 'strategy_validations',
                             'alert_channels', 'alert_subscriptions', 'alert_deliveries', 'alert_usage',
                             'notifications', 'notification_preferences', 'price_alerts', 'price_alert_logs',
                             'vix_usage', 'exchange_keys', 'compliance_acceptances', 'billing_accounts']
    LOOP
        EXECUTE pg_catalog.format('ALTER POLICY %I ON ex7.%I USING (user_id = ex7.current_user_id()) '
                                  'WITH CHECK (user_id = ex7.current_user_id())', t || '_own', t);
    END LOOP;
END
$$;
ALTER POLICY users_own ON ex7.users USING (id = ex7.current_user_id());
ALTER POLICY rate_counters_own ON ex7.rate_counters USING (subject = 'user:' || ex7.current_user_id()::text);

-- Bars and their blocks without triggers
-- (ext/sql/12_market_schema.sql, the end of 75_alerts_schema.sql; docs/market.md "Bar blocks"): the ingest
-- functions now write the bar's block (ex7._bar_blocks_sync) and evaluate the price alerts
-- (ex7._price_alerts_bars) themselves, and pg_dump keeps the blocks. The blocks are current here: the
-- triggers kept them so up to this statement.
DROP TRIGGER bars_blocks_insert ON ex7.bars;
DROP TRIGGER bars_blocks_update ON ex7.bars;
DROP TRIGGER bars_blocks_delete ON ex7.bars;
DROP TRIGGER bars_blocks_truncate ON ex7.bars;
DROP TRIGGER bars_price_alerts ON ex7.bars;
DROP FUNCTION ex7._bar_blocks_trigger();
DROP FUNCTION ex7._bars_price_alerts();
-- the trigger's block helpers, replaced by ex7._bar_blocks_splice / _bar_blocks_cut (64_bar_blocks.sql)
DROP FUNCTION ex7._bar_blocks_merge(bytea, bytea);
DROP FUNCTION ex7._bar_blocks_remove(bytea, bytea);
SELECT pg_catalog.pg_extension_config_dump('ex7.bar_blocks', '');
COMMENT ON TABLE ex7.bar_blocks IS 'Columnar copy of ex7.bars, one row per block of 64 bar slots of a series (block = floor(epoch seconds of ts / (timeframe seconds * 64))), brought up to date by ex7._bar_blocks_sync, which the ingest functions call in their transaction (after any other write to ex7.bars: ex7.bar_blocks_rebuild); read by the backtest (ext/barblocks.c). Compare with ex7.bar_blocks_check.';


-- Webhook intake (docs/webhooks.md): hooks, their log, where a signal came from, the tier cap on hooks
-- include ext/sql/79_hooks_schema.sql

-- Protections, their locks and the trading state (docs/protections.md, docs/trading-state.md)
-- include ext/sql/80_protections_schema.sql
-- the gate now sees an entry (strategy, instrument, side, size, bar: ex7._entry_check); a close records its bar
DROP FUNCTION ex7._risk_state(uuid, text, timestamptz);
DROP FUNCTION ex7._close_at(ex7.signals, numeric, text, text);

-- Paper account (docs/paper-account.md): starting capital and start per user and mode
-- include ext/sql/82_paper_schema.sql

-- Single-use tickets for the signal stream (docs/stream.md, "Tickets for browsers")
-- include ext/sql/84_stream_tickets_schema.sql

-- Parameter studies and walk-forward (docs/research.md): studies, their trials, a trial's graph on its backtest,
-- the tier caps of studies, the study_progress event
-- include ext/sql/88_studies_schema.sql

-- The Judge's research criteria (docs/backtests.md, "The policy"). The policy row, when still exactly as the
-- install seeded it, stays seed: its new digest is recorded (ext/sql/01_backup_schema.sql).
DO $$
DECLARE
    v_pristine boolean;
BEGIN
    SELECT bool_or(ex7._seed_row('validation_policy', p)) INTO v_pristine FROM ex7.validation_policy p;
    ALTER TABLE ex7.validation_policy
        ADD COLUMN min_deflated_sharpe numeric CHECK (min_deflated_sharpe BETWEEN 0 AND 1),
        ADD COLUMN min_walk_forward_efficiency numeric;
    IF v_pristine THEN
        PERFORM ex7._seed_mark('ex7.validation_policy');
    END IF;
END
$$;
COMMENT ON COLUMN ex7.validation_policy.min_deflated_sharpe IS 'The deflated Sharpe ratio (a probability, 0..1) the validation backtest''s daily returns must reach, deflated by the trials of the study the version came from (docs/research.md).';
COMMENT ON COLUMN ex7.validation_policy.min_walk_forward_efficiency IS 'The walk-forward efficiency the strategy''s newest finished walk-forward study must reach (docs/research.md).';

-- The job backtests_reap also repairs studies whose workers are gone (docs/jobs.md): its description
CREATE OR REPLACE FUNCTION ex7._job_catalog()
RETURNS TABLE (name text, run_every interval, description text)
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
    VALUES ('retention', interval '1 hour',
            'Deletes operational rows past their retention period: rate counters of past days, attempt counters, finished alert deliveries, usage counters, old notifications, price alert logs and Stripe event ids (docs/jobs.md).'),
           ('backtests_reap', interval '1 minute',
            'Marks failed the background backtests whose worker is gone (running without it, or queued over a minute with none), and repairs the studies whose workers are gone (a trial back to pending, a study with no live worker failed, to be resumed), for every user (docs/backtests.md, docs/research.md).'),
           ('billing_expire', interval '1 minute',
            'Ends complimentary tiers past comp_until and subscriptions set to cancel at period end whose period ended over an hour ago with no webhook saying so; writes ex7.users.tier (docs/billing.md).'),
           ('runtimes_settle', interval '1 minute',
            'Stops draining runtimes that got no bar for two lengths of their timeframe since the stop (market closed, feed gone), as the dispatcher would have on that bar (docs/runtimes.md).');
$$;
COMMENT ON FUNCTION ex7._job_catalog() IS
'Returns (name, run_every, description): every job of ex7, with its default period, in the order ex7.run_due_jobs runs them.';
