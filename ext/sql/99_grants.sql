/* ext/sql/99_grants.sql: the end of the install script. What roles bound to a user (ex7_user) may do;
 * row-level security narrows every grant to that user's rows. */

GRANT USAGE ON SCHEMA ex7 TO ex7_user;
GRANT SELECT ON ALL TABLES IN SCHEMA ex7 TO ex7_user;
-- every role may read its own binding (the policy role_bindings_own shows no other row): the row-level
-- security of the per-user tables calls ex7.current_user_id() for whichever role queries them
GRANT SELECT ON ex7.role_bindings TO PUBLIC;
REVOKE ALL ON ex7.secrets FROM ex7_user;
-- the digests of the install's seed rows (01_backup_schema.sql) are pg_dump's business, not a user's
REVOKE ALL ON ex7.seed_rows FROM ex7_user;
GRANT INSERT, UPDATE ON ex7.strategies, ex7.strategy_runtimes, ex7.signals,
    ex7.signal_events, ex7.signal_audit, ex7.signals_blocked, ex7.risk_limits TO ex7_user;
-- versions are immutable (10_schema.sql): added, never changed or removed
GRANT INSERT ON ex7.strategy_versions TO ex7_user;
REVOKE UPDATE, DELETE, TRUNCATE ON ex7.strategy_versions FROM PUBLIC, ex7_user;
-- a bound role may create its own user row and advance its event counter, never change its tier
GRANT INSERT (id, email) ON ex7.users TO ex7_user;
GRANT UPDATE (last_event_seq, last_signal_at, email) ON ex7.users TO ex7_user;
GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA ex7 TO ex7_user;
REVOKE EXECUTE ON FUNCTION ex7.bind_role(name, uuid) FROM PUBLIC, ex7_user;
GRANT USAGE ON ALL SEQUENCES IN SCHEMA ex7 TO ex7_user;
-- operator and service paths, not a user's: market data ingest (a feed or a service_role front) and the
-- fronts' shared rate counters (which name other users' subjects)
REVOKE EXECUTE ON FUNCTION ex7.ingest_bar(text, text, timestamptz, numeric, numeric, numeric, numeric, bigint, boolean),
    ex7.ingest_bars(jsonb, boolean),
    ex7.rate_take(text, integer, integer, integer, integer, timestamptz) FROM PUBLIC, ex7_user;
REVOKE ALL ON ex7.rate_counters FROM ex7_user;
-- ... but a bound role may read its own counter (RLS, 06_rate_schema.sql): usage in ex7.billing_me
GRANT SELECT ON ex7.rate_counters TO ex7_user;
-- alerts (76_alerts.sql): the worker's and the providers' paths are ex7d's, not a user's; unsubscribe
-- tokens are minted only by the server. A bound role reads its channels and deliveries without the
-- verification secrets (a code's hash, a verification message's code) and the webhook signing secret.
REVOKE EXECUTE ON FUNCTION ex7.outbox_claim(text, integer, jsonb, integer),
    ex7.outbox_record(text, uuid, integer, text, text, integer),
    ex7.alerts_resend_event(jsonb), ex7.alerts_telegram_update(jsonb), ex7.alerts_twilio_event(jsonb),
    ex7._alert_token(text, uuid) FROM PUBLIC, ex7_user;
REVOKE ALL ON ex7.alert_channels, ex7.alert_deliveries FROM ex7_user;
GRANT SELECT (id, user_id, type, destination, label, verified_at, disabled_at, disabled_reason, created_at,
              updated_at) ON ex7.alert_channels TO ex7_user;
GRANT SELECT (id, user_id, subscription_id, channel_id, channel_type, strategy_id, event, event_key, status, reason,
              attempts, next_attempt_at, provider_message_id, last_error, created_at, sent_at, updated_at)
    ON ex7.alert_deliveries TO ex7_user;
-- a bound role that fires or closes its own signals writes their notification and outbox rows (RLS keeps
-- them its own)
GRANT INSERT ON ex7.notifications, ex7.alert_deliveries TO ex7_user;
-- backtests (ext/sql/66_backtest_schema.sql): a run replaces its own trades and curve and records its progress;
-- the Judge records its verdicts. ex7.validation_policy stays read-only: the operator's
GRANT INSERT, UPDATE, DELETE ON ex7.backtests, ex7.backtest_trade_chunks, ex7.backtest_equity_chunks TO ex7_user;
GRANT INSERT ON ex7.strategy_validations TO ex7_user;
-- the Judge's policy is the operator's to set (ext/sql/67_backtest.sql)
REVOKE EXECUTE ON FUNCTION ex7.set_validation_policy(jsonb) FROM PUBLIC, ex7_user;
-- the operator's: distributing the database on Citus (95_distribute.sql)
REVOKE EXECUTE ON FUNCTION ex7.distribute() FROM PUBLIC, ex7_user;
-- the operator's: a tier's caps and prices (05_users.sql)
REVOKE EXECUTE ON FUNCTION ex7.set_tier_caps(text, jsonb) FROM PUBLIC, ex7_user;
-- account (ext/sql/72_account_schema.sql, docs/account.md): the waitlist, password accounts and attempt
-- counters are the front's alone; exchange keys show a bound role its rows without the ciphertext
-- columns; password hashing, the login and the rekey batches are not a user's to call
REVOKE ALL ON ex7.waitlist, ex7.auth_accounts, ex7.auth_attempts FROM ex7_user;
REVOKE SELECT ON ex7.exchange_keys FROM ex7_user;
GRANT SELECT (id, user_id, exchange, label, hint, has_passphrase, kid, created_at, rekeyed_at) ON ex7.exchange_keys TO ex7_user;
GRANT INSERT, DELETE ON ex7.exchange_keys TO ex7_user;
GRANT INSERT, UPDATE ON ex7.vix_usage TO ex7_user;
REVOKE EXECUTE ON FUNCTION ex7._password_hash(text), ex7._password_verify(text, text),
    ex7.auth_signup(text, text, text), ex7.auth_login(text, text, text),
    ex7._attempt_gate(text, integer, interval, timestamptz), ex7._attempt_count(text),
    ex7._exchange_keys_to_rekey(text, uuid, integer),
    ex7._exchange_key_rekey(uuid, text, text, bytea, bytea, bytea), ex7._exchange_key_kids() FROM PUBLIC, ex7_user;
-- billing (ext/sql/72_billing_schema.sql, docs/billing.md): a bound role records its own acceptances and
-- reads its own billing row; the Stripe event log is the webhook's alone. Recording Stripe's answers, the
-- webhook and complimentary tiers are ex7d's and the operator's, never a user's to call
GRANT INSERT ON ex7.compliance_acceptances TO ex7_user;
REVOKE ALL ON ex7.stripe_events FROM ex7_user;
REVOKE EXECUTE ON FUNCTION ex7.stripe_apply_event(jsonb), ex7.billing_stripe_result(uuid, text, jsonb, jsonb),
    ex7._stripe_apply_subscription(uuid, jsonb, timestamptz, boolean), ex7.billing_comp(uuid, jsonb),
    ex7._billing_sync_tier(uuid), ex7.billing_expire() FROM PUBLIC, ex7_user;
-- Vix with a language model (ext/sql/74_vix.sql, docs/account.md): ex7d's two steps around the provider
-- call are not a user's to call (a forged "model answer" would be judged as the provider's)
REVOKE EXECUTE ON FUNCTION ex7.vix_llm_request(uuid, jsonb, text, timestamptz),
    ex7.vix_llm_result(uuid, jsonb, integer, text, text, timestamptz) FROM PUBLIC, ex7_user;
-- backtests (ext/sql/67_backtest.sql): background workers are server processes the HTTP front starts for
-- users (at most 2 each); a bound role's backtests run in its own session (ex7.backtest_strategy)
REVOKE EXECUTE ON FUNCTION ex7._backtest_launch(uuid), ex7._backtest_launch(uuid, uuid) FROM PUBLIC, ex7_user;
-- studies (ext/sql/89_studies.sql): the same for their workers; a bound role runs its studies' trials in its
-- own session, and writes its studies, their trials and the trials' backtests (row security keeps them its own)
REVOKE EXECUTE ON FUNCTION ex7._study_launch(uuid, integer) FROM PUBLIC, ex7_user;
GRANT INSERT, UPDATE, DELETE ON ex7.studies, ex7.study_trials TO ex7_user;
-- bar blocks (ext/sql/64_bar_blocks.sql): rebuilding and checking them are the operator's (a rebuild locks
-- ex7.bars against every writer); a bound role reads ex7.bar_blocks like ex7.bars (the grant above)
REVOKE EXECUTE ON FUNCTION ex7.bar_blocks_rebuild(text, text), ex7.bar_blocks_check(text, text),
    ex7._bar_blocks_build(text, text), ex7._bar_blocks_scan_bench(text, text, timestamptz, timestamptz, text, boolean)
    FROM PUBLIC, ex7_user;
-- operations (ext/sql/91_ops_metrics.sql): installation-wide figures for ex7d's /metrics, the operator's
REVOKE EXECUTE ON FUNCTION ex7.metrics_snapshot(timestamptz) FROM PUBLIC, ex7_user;
-- jobs on a clock (ext/sql/86_jobs.sql, docs/jobs.md): the operator's and the scheduler's; they act across
-- every user, so a bound role neither runs them nor reads their state
REVOKE ALL ON ex7.jobs, ex7.job_status FROM ex7_user;
REVOKE EXECUTE ON FUNCTION ex7.run_due_jobs(timestamptz), ex7.run_job(text, timestamptz),
    ex7.job_configure(text, boolean, interval), ex7._job_step(text, timestamptz, boolean),
    ex7._job_call(text, timestamptz), ex7.job_billing_expire(timestamptz), ex7.job_runtimes_settle(timestamptz),
    ex7.job_backtests_reap(timestamptz), ex7._job_backtests_reap_here(timestamptz), ex7.job_retention(timestamptz)
    FROM PUBLIC, ex7_user;
-- hooks (79_hooks_schema.sql, docs/webhooks.md): a bound role manages its hooks and reads their log, never
-- the secret's digest; the public intake is ex7d's (it authenticates the caller by the secret)
REVOKE ALL ON ex7.hooks FROM ex7_user;
GRANT SELECT (id, user_id, strategy_id, label, mode, max_age_seconds, dedupe_seconds, paused_at, created_at,
              updated_at, secret_rotated_at) ON ex7.hooks TO ex7_user;
GRANT INSERT, DELETE ON ex7.hooks TO ex7_user;
GRANT UPDATE (label, paused_at, max_age_seconds, dedupe_seconds, updated_at, secret_hash, secret_rotated_at)
    ON ex7.hooks TO ex7_user;
GRANT DELETE ON ex7.hook_events TO ex7_user;
REVOKE EXECUTE ON FUNCTION ex7.hook_intake(text, text, timestamptz), ex7._hook_log(uuid, uuid, timestamptz, text,
    integer, text, text, jsonb, jsonb) FROM PUBLIC, ex7_user;
-- protections, locks and the trading state (80_protections_schema.sql, docs/protections.md,
-- docs/trading-state.md): a bound role manages its protections and state, and its closes write locks; the
-- service-wide state is service_role's
GRANT INSERT, UPDATE, DELETE ON ex7.risk_protections, ex7.trading_states TO ex7_user;
GRANT INSERT, UPDATE ON ex7.risk_locks TO ex7_user;
REVOKE ALL ON ex7.trading_halts FROM ex7_user;
GRANT SELECT ON ex7.trading_halts TO ex7_user;
REVOKE EXECUTE ON FUNCTION ex7.set_service_trading_state(jsonb) FROM PUBLIC, ex7_user;
-- the paper account (82_paper_schema.sql, docs/paper-account.md): a bound role resets its own account (RLS keeps
-- it to its rows)
GRANT INSERT, UPDATE ON ex7.paper_accounts TO ex7_user;
-- stream tickets (84_stream_tickets_schema.sql, docs/stream.md): a bound role creates its own (RLS keeps them
-- its rows) and sees them without their digest; redeeming one is ex7d's authentication, not a user's call
REVOKE ALL ON ex7.stream_tickets FROM ex7_user;
GRANT SELECT (user_id, id, created_at, expires_at, used_at) ON ex7.stream_tickets TO ex7_user;
GRANT INSERT ON ex7.stream_tickets TO ex7_user;
REVOKE EXECUTE ON FUNCTION ex7.redeem_stream_ticket(text) FROM PUBLIC, ex7_user;
