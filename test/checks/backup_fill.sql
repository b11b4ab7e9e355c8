-- test/checks/backup_fill.sql: fills a database with rows in every table of the ex7 extension, through
-- the public SQL functions (the acting-user API of docs/sql-api.md) wherever a function writes the table.
-- test/checks/backup.sh runs it, dumps the database, restores it and compares every table; a table left
-- empty here fails that check, so a new table gets its rows here in the same change that adds it.
-- One section per area, each ending in the tables it fills.
\set ON_ERROR_STOP 1
SET client_min_messages = warning;

\set ua 'b0000000-0000-4000-8000-00000000000a'
\set ub 'b0000000-0000-4000-8000-00000000000b'
\set graph '{"nodes": [{"id": "close", "type": "close"}, {"id": "fast", "type": "ema", "params": {"period": 3}}, {"id": "slow", "type": "ema", "params": {"period": 8}}, {"id": "up", "type": "crosses_above"}, {"id": "entry", "type": "enter_long", "params": {"size": 1}}, {"id": "stop", "type": "stop_loss_ticks", "params": {"ticks": 16}}, {"id": "target", "type": "take_profit_ticks", "params": {"ticks": 16}}], "edges": [{"from": "close", "to": "fast", "port": "in"}, {"from": "close", "to": "slow", "port": "in"}, {"from": "fast", "to": "up", "port": "a"}, {"from": "slow", "to": "up", "port": "b"}, {"from": "up", "to": "entry", "port": "when"}, {"from": "entry", "to": "stop", "port": "entry"}, {"from": "entry", "to": "target", "port": "entry"}], "meta": {}}'

-- The operator's tables: a seeded row changed, rows added (tiers, instruments, compliance_documents,
-- market_closures, validation_policy), and a database role bound to a user (role_bindings).
UPDATE ex7.tiers SET alerts_per_day = 25 WHERE tier = 'free';
UPDATE ex7.instruments SET commission_per_side = 0.55, updated_at = '2026-11-30 12:00+00' WHERE symbol = 'MES';
INSERT INTO ex7.instruments (symbol, name, tick_size, tick_value, commission_per_side, updated_at)
VALUES ('MBT', 'Micro Bitcoin', 5, 0.50, 2.50, '2026-11-30 12:00+00');
INSERT INTO ex7.compliance_documents (document, version, title, url, effective_at)
VALUES ('tos', '2', 'Terms of Service', 'https://ex7capital.com/legal/terms-2', '2030-01-01 00:00+00');
INSERT INTO ex7.market_closures (session_calendar, starts_at, ends_at, reason)
VALUES ('cme_globex', '2026-12-25 00:00+00', '2026-12-26 00:00+00', 'Christmas');
SELECT ex7.set_validation_policy('{"min_trades": 1}') IS NOT NULL AS policy;
SELECT ex7.ensure_user(u.id, u.email) IS NOT NULL AS users
  FROM (VALUES (:'ua'::uuid, 'alice@example.com'), (:'ub'::uuid, 'bob@example.com')) AS u(id, email);
DO $$ BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'ex7_backup_check') THEN CREATE ROLE ex7_backup_check NOLOGIN; END IF;
END $$;
SELECT ex7.bind_role('ex7_backup_check', :'ua') IS NOT NULL AS bound;

-- Rate limits (rate_counters) and compliance (compliance_acceptances)
SELECT ex7.rate_take('user:' || :'ua', 30, 500, 1, 0, now()) IS NOT NULL AS rate;
SELECT ex7.accept_compliance(u, NULL, '192.0.2.1') IS NOT NULL AS accepted FROM unnest(ARRAY[:'ua', :'ub']::uuid[]) AS u;

-- Strategies, versions, risk limits, runtimes
SELECT ex7.create_strategy(:'ua', jsonb_build_object('name', 'fill ema', 'instrument', 'MNQ', 'timeframe', '1m',
       'tags', jsonb_build_array('fill'), 'graph', :'graph'::jsonb)) ->> 'id' AS sa \gset
SELECT ex7.create_strategy(:'ub', '{"name": "fill draft", "instrument": "ES", "timeframe": "5m"}') ->> 'id' AS sb \gset
SELECT ex7.update_strategy(:'ua', :'sa', '{"description": "EMA 3/8 crossover on 1m bars"}') IS NOT NULL AS updated;
SELECT ex7.update_strategy(:'ub', :'sb', jsonb_build_object('graph', :'graph'::jsonb)) IS NOT NULL AS versioned;
SELECT ex7.set_risk_limits(:'ua', 'paper', '{"max_open_positions": 1}') IS NOT NULL AS limits;
SELECT ex7.promote_strategy(:'ua', :'sa') IS NOT NULL AS promoted;
SELECT ex7.start_runtime(:'ua', :'sa', 'paper') IS NOT NULL AS started;

-- Bars (bars; bar_blocks follow them) on a wave that crosses its averages: the running runtime
-- dispatches them (signals, signal_events, signal_audit), and they feed the backtest below.
SELECT count(ex7.ingest_bar('MNQ', '1m', ts, c - 1, c + 2, c - 2, c, 100)) AS bars
  FROM (SELECT '2026-11-30 15:00+00'::timestamptz + g * interval '1 minute' AS ts,
               round((18000 + 12 * sin(g / 5.0))::numeric * 4) / 4 AS c
          FROM generate_series(1, 240) AS g) AS w;

-- Signals by hand: one closed, one refused by the risk gate (signals_blocked, at most 1 open position)
SELECT ex7.fire_signal(:'ub', :'sb', 'paper', 'short', 1, 5100.25, '2026-11-30 15:05+00') #>> '{signal,id}' AS sig_b \gset
SELECT ex7.close_signal(:'ub', :'sig_b', 5090.00) IS NOT NULL AS closed;
SELECT ex7.fire_signal(:'ua', :'sa', 'paper', 'long', 1, 18001.00, '2026-11-30 19:05+00') ->> 'decision' AS first;
SELECT ex7.fire_signal(:'ua', :'sa', 'paper', 'long', 1, 18002.00, '2026-11-30 19:06+00') ->> 'decision' AS refused;

-- Backtests and the Judge (backtests, backtest_trade_chunks, backtest_equity_chunks, strategy_validations)
SELECT ex7.backtest_strategy(:'ua', :'sa', '{"from": "2026-11-30 15:00+00", "to": "2026-11-30 19:00+00"}', true) ->> 'id' AS bt \gset
SELECT ex7.validate_strategy(:'ua', :'sa') IS NOT NULL AS judged;

-- Parameter studies (studies, study_trials; the trials' backtests carry their graph)
SELECT ex7.create_study(:'ua', :'sa', '{"from": "2026-11-30 15:00+00", "to": "2026-11-30 19:00+00",
    "objective": {"metric": "net_pnl"}, "space": {"parameters": {"fast.period": {"values": [2, 3]}}}}', true) ->> 'status' AS studied;

-- Accounts (auth_accounts, auth_attempts, waitlist, vix_usage, exchange_keys)
SELECT ex7.auth_signup('carol@example.com', 'hunter2hunter2', '192.0.2.2') IS NOT NULL AS signed_up;
SELECT ex7.auth_login('carol@example.com', 'not her password', '192.0.2.2') ->> 'status' AS failed_login;
SELECT ex7.waitlist_add('dave@example.com', '192.0.2.3') IS NOT NULL AS waitlisted;
SELECT ex7.vix_generate(:'ua', '{"prompt": "RSI mean reversion on MNQ 5m with a 20 tick stop"}', now()) IS NOT NULL AS vix;
SELECT ex7.create_exchange_key(:'ua', 'b0000000-0000-4000-8000-0000000000e1', 'binance', 'Main account', '****wxyz',
       false, 'k1', '\x000102030405060708090a0b', '\xdeadbeef', '\x00112233445566778899aabbccddeeff') IS NOT NULL AS key;

-- Billing (billing_accounts, stripe_events): the webhook of a completed checkout
SELECT ex7.stripe_apply_event(jsonb_build_object('id', 'evt_fill_1', 'type', 'checkout.session.completed',
       'created', extract(epoch FROM now())::bigint - 60,
       'data', jsonb_build_object('object', jsonb_build_object('id', 'cs_fill', 'object', 'checkout.session',
           'mode', 'subscription', 'client_reference_id', :'ub', 'customer', 'cus_fill', 'subscription', 'sub_fill',
           'payment_status', 'paid', 'metadata', jsonb_build_object('user_id', :'ub', 'tier', 'operator'))))) ->> 'outcome' AS stripe;

-- Alerts (alert_channels, alert_subscriptions, alert_deliveries, alert_usage, notifications,
-- notification_preferences): a verified email channel subscribed to A's strategy, a signal it hears
-- about, and a worker that claims and sends the delivery
SELECT ex7.create_channel(:'ua', '{"type": "email", "destination": "alice@example.com", "label": "work"}') ->> 'id' AS ch \gset
SELECT ex7.verify_channel(:'ua', :'ch', (SELECT message ->> 'code' FROM ex7.alert_deliveries
                                          WHERE channel_id = :'ch' AND event = 'verification')) ->> 'status' AS verified;
SELECT ex7.create_subscription(:'ua', jsonb_build_object('channel_id', :'ch', 'strategy_id', :'sa')) IS NOT NULL AS subscribed;
SELECT ex7.set_notification_preferences(:'ua', '{"notification_preferences": {"runtime_error": false}}') IS NOT NULL AS prefs;
SELECT ex7.force_close_all(:'ua', :'sa') IS NOT NULL AS flat;
SELECT ex7.fire_signal(:'ua', :'sa', 'paper', 'long', 1, 18003.00, '2026-11-30 19:10+00') ->> 'decision' AS alerted;
SELECT count(ex7.outbox_record('fill', (j ->> 'id')::uuid, 200, '{"id": "re_fill"}')) AS sent
  FROM jsonb_array_elements(ex7.outbox_claim('fill', 10, '{"base_url": "https://ex7.example/", "email_from": "ex7 <alerts@ex7.example>"}')) AS j;

-- Price alerts (price_alerts, price_alert_logs): one level the next bar crosses
SELECT ex7.create_price_alert(:'ua', '{"instrument": "MNQ", "condition": "crosses_above", "level": 18100, "note": "fill"}') IS NOT NULL AS price_alert;
SELECT ex7.ingest_bar('MNQ', '1m', '2026-11-30 19:01+00', 18090, 18120, 18090, 18110, 100) ->> 'status' AS crossing_bar;

-- Jobs on a clock (jobs): the operator's setting of one job, a run of another (docs/jobs.md)
SELECT ex7.job_configure('retention', true, interval '2 hours') IS NOT NULL AS configured;
SELECT ex7.run_job('backtests_reap', now()) IS NOT NULL AS reaped;

-- Webhook intake (hooks, hook_events): a hook on A's ready strategy and one TradingView alert it accepts
SELECT ex7.create_hook(:'ua', jsonb_build_object('strategy_id', :'sa', 'label', 'fill tv')) AS hook \gset
SELECT ex7.hook_intake(:'hook'::jsonb ->> 'id', jsonb_build_object('passphrase', :'hook'::jsonb ->> 'secret',
           'ticker', 'CME_MINI:MNQ1!', 'action', 'buy', 'contracts', 1, 'price', 18105, 'sentiment', 'long',
           'id', 'fill-1')::text) ->> 'outcome' AS hooked;

-- Paper account (paper_accounts): B's account, flat since its one close, reset on 25,000.00
SELECT ex7.reset_paper_account(:'ub', 'paper', 25000) ->> 'starting_capital' AS paper_capital;

-- Protections, locks, the trading state (risk_protections, risk_locks, trading_states, trading_halts): a
-- cooldown of B's that B's next close triggers, A's live trading reducing, the service halting GC
SELECT ex7.create_protection(:'ub', '{"kind": "cooldown", "bars": 3}') ->> 'kind' AS protection;
SELECT ex7.fire_signal(:'ub', :'sb', 'paper', 'long', 1, 5100.25, now()) ->> 'decision' AS b_fired;
SELECT count(ex7._close_at(x, 5101.25, 'closed', 'exit_signal', now())) AS b_closed
  FROM ex7.signals x WHERE x.user_id = :'ub' AND x.status = 'open';
SELECT ex7.set_trading_state(:'ua', 'live', '{"state": "reducing", "reason": "fill"}') ->> 'state' AS a_live;
SELECT ex7.set_service_trading_state('{"scope": "GC", "state": "halted", "reason": "fill"}') IS NOT NULL AS service;

-- Stream tickets (stream_tickets): two of A's, one redeemed, one not (only their digests are stored)
SELECT ex7.redeem_stream_ticket(ex7.create_stream_ticket(:'ua') ->> 'ticket') ->> 'user_id' = :'ua' AS redeemed;
SELECT ex7.create_stream_ticket(:'ua') ? 'ticket' AS ticket;
