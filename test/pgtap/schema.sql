-- test/pgtap/schema.sql: schema facts of the ex7 extension: tables, keys, row-level security enabled and
-- forced with the per-user policy, every object documented with COMMENT ON, and the indexes that serve
-- each keyset order actually used by the planner (checked with EXPLAIN on a realistic table).
BEGIN;
SELECT plan(71);

SELECT has_schema('ex7');
SELECT tables_are('ex7', ARRAY['users', 'tiers', 'role_bindings', 'secrets', 'instruments', 'strategies',
    'strategy_versions', 'strategy_runtimes', 'signals', 'signal_events', 'signal_audit', 'signals_blocked',
    'risk_limits', 'rate_counters', 'bars', 'bar_blocks', 'market_closures',
    -- backtests and the Judge (docs/backtests.md)
    'backtests', 'backtest_trade_chunks', 'backtest_equity_chunks', 'validation_policy', 'strategy_validations',
    -- account, Vix, billing and compliance (docs/account.md, docs/billing.md)
    'vix_usage', 'waitlist', 'auth_accounts', 'auth_attempts', 'exchange_keys', 'compliance_documents',
    'compliance_acceptances', 'billing_accounts', 'stripe_events',
    -- alerts, notifications, price alerts (docs/alerts.md)
    'alert_channels', 'alert_subscriptions', 'alert_deliveries', 'alert_usage', 'notifications',
    'notification_preferences', 'price_alerts', 'price_alert_logs',
    -- webhook intake (docs/webhooks.md)
    'hooks', 'hook_events',
    -- the paper account (docs/paper-account.md)
    'paper_accounts',
    -- protections, their locks, the trading state (docs/protections.md, docs/trading-state.md)
    'risk_protections', 'risk_locks', 'trading_states', 'trading_halts',
    -- single-use tickets of the signal stream (docs/stream.md)
    'stream_tickets',
    -- parameter studies and their trials (docs/research.md)
    'studies', 'study_trials',
    -- the run state of the jobs on a clock (docs/jobs.md)
    'jobs',
    -- the digests of the install's seed rows, which pg_dump leaves out (docs/operations.md, "Backup and restore")
    'seed_rows']);
-- secrets stay out of a bound role's reach: exchange-key ciphertext, password hashes, Stripe's event log,
-- and the service paths (webhooks, the outbox worker) are not a user's to call
SELECT ok(NOT has_column_privilege('ex7_user', 'ex7.exchange_keys', 'ciphertext', 'SELECT')
          AND has_column_privilege('ex7_user', 'ex7.exchange_keys', 'hint', 'SELECT'),
          'a bound role sees its exchange keys'' hints, never their ciphertext');
SELECT ok(NOT has_table_privilege('ex7_user', 'ex7.auth_accounts', 'SELECT')
          AND NOT has_table_privilege('ex7_user', 'ex7.stripe_events', 'SELECT')
          AND NOT has_table_privilege('ex7_user', 'ex7.waitlist', 'SELECT'),
          'password accounts, the Stripe event log and the waitlist are hidden from bound roles');
SELECT ok(NOT has_table_privilege('ex7_user', 'ex7.seed_rows', 'SELECT')
          AND NOT has_table_privilege('ex7_user', 'ex7.secrets', 'SELECT'),
          'the keys and the digests of the seed rows are hidden from bound roles');
SELECT ok(NOT has_function_privilege('ex7_user', 'ex7.stripe_apply_event(jsonb)', 'EXECUTE')
          AND NOT has_function_privilege('ex7_user', 'ex7.billing_comp(uuid, jsonb)', 'EXECUTE')
          AND NOT has_function_privilege('ex7_user', 'ex7.outbox_claim(text, integer, jsonb, integer)', 'EXECUTE')
          AND NOT has_function_privilege('ex7_user', 'ex7.alerts_resend_event(jsonb)', 'EXECUTE')
          AND NOT has_function_privilege('ex7_user', 'ex7.auth_login(text, text, text)', 'EXECUTE'),
          'webhooks, comps, the outbox worker and the login are not callable by bound roles');
SELECT ok(NOT has_column_privilege('ex7_user', 'ex7.hooks', 'secret_hash', 'SELECT')
          AND has_column_privilege('ex7_user', 'ex7.hooks', 'label', 'SELECT')
          AND NOT has_function_privilege('ex7_user', 'ex7.hook_intake(text, text, timestamptz)', 'EXECUTE'),
          'a bound role sees its hooks, never their secret''s digest, and does not call the public intake');
SELECT ok(NOT has_column_privilege('ex7_user', 'ex7.stream_tickets', 'digest', 'SELECT')
          AND has_column_privilege('ex7_user', 'ex7.stream_tickets', 'expires_at', 'SELECT')
          AND has_function_privilege('ex7_user', 'ex7.create_stream_ticket(uuid)', 'EXECUTE')
          AND NOT has_function_privilege('ex7_user', 'ex7.redeem_stream_ticket(text)', 'EXECUTE'),
          'a bound role creates and sees its stream tickets, never their digest, and does not redeem them');
SELECT ok(NOT has_function_privilege('ex7_user', 'ex7.set_validation_policy(jsonb)', 'EXECUTE'),
          'the Judge''s policy is the operator''s');
SELECT ok(NOT has_function_privilege('ex7_user', 'ex7._backtest_launch(uuid)', 'EXECUTE'),
          'background backtest workers are started by the front, not by bound roles');
SELECT ok(NOT has_function_privilege('ex7_user', 'ex7._study_launch(uuid, integer)', 'EXECUTE'),
          'study workers are started by the front, not by bound roles (their studies run inline)');
-- the shared rate counters: unlogged (no WAL on the request path); a bound role reads only its own row
-- (RLS, test/pgtap/rls.sql) and writes none
SELECT is((SELECT relpersistence FROM pg_class WHERE oid = 'ex7.rate_counters'::regclass), 'u'::"char",
          'ex7.rate_counters is UNLOGGED');
SELECT ok(NOT has_table_privilege('ex7_user', 'ex7.rate_counters', 'INSERT, UPDATE, DELETE, TRUNCATE')
          AND (SELECT relrowsecurity AND relforcerowsecurity FROM pg_class WHERE oid = 'ex7.rate_counters'::regclass)
          AND NOT has_function_privilege('ex7_user', 'ex7.rate_take(text, integer, integer, integer, integer, timestamptz)', 'EXECUTE')
          AND NOT has_function_privilege('ex7_user', 'ex7.ingest_bars(jsonb, boolean)', 'EXECUTE'),
          'bound roles can neither write the rate counters (RLS forced) nor take quota nor ingest bars');

SELECT col_is_pk('ex7', 'users', 'id', 'users keyed by the JWT sub');
SELECT col_is_pk('ex7', 'strategy_versions', ARRAY['user_id', 'strategy_id', 'version'], 'one row per (strategy, version), keyed by user first');
SELECT col_is_pk('ex7', 'signal_events', ARRAY['user_id', 'seq'], 'event ids are per user');
SELECT col_is_pk('ex7', 'risk_limits', ARRAY['user_id', 'mode'], 'risk limits per user and mode');
SELECT col_is_pk('ex7', 'paper_accounts', ARRAY['user_id', 'mode'], 'one paper account per user and mode');
SELECT col_is_unique('ex7', 'strategy_runtimes', ARRAY['user_id', 'strategy_id', 'mode'], 'one runtime per (strategy, mode)');

-- Distributable by user (docs/scale-out.md): every table with a NOT NULL user_id, but the reference tables
-- that hold a global lookup key, has a primary key and unique indexes that hold user_id, and every foreign
-- key between two such tables pairs user_id with user_id
SELECT is_empty($$
    SELECT c.relname || ' ' || i.indexrelid::regclass
      FROM pg_class c
      JOIN pg_attribute a ON a.attrelid = c.oid AND a.attname = 'user_id' AND a.attnotnull
      JOIN pg_index i ON i.indrelid = c.oid AND i.indisunique
     WHERE c.relnamespace = 'ex7'::regnamespace AND c.relkind = 'r'
       AND c.relname NOT IN ('role_bindings', 'auth_accounts', 'billing_accounts')
       AND NOT a.attnum = ANY (i.indkey::int2[])
$$, 'every unique index of a per-user table holds user_id');
SELECT is_empty($$
    SELECT f.conname
      FROM pg_constraint f
      JOIN pg_attribute a ON a.attrelid = f.conrelid AND a.attname = 'user_id'
      JOIN pg_attribute b ON b.attrelid = f.confrelid AND b.attname = 'user_id'
     WHERE f.connamespace = 'ex7'::regnamespace AND f.contype = 'f'
       AND pg_catalog.array_position(f.conkey, a.attnum) IS DISTINCT FROM pg_catalog.array_position(f.confkey, b.attnum)
$$, 'every foreign key between per-user tables pairs user_id with user_id');
SELECT is_empty($$
    SELECT t.tgrelid::regclass || ' ' || t.tgname
      FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid
     WHERE c.relnamespace = 'ex7'::regnamespace AND NOT t.tgisinternal
       AND (c.relname = 'users' OR EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attname = 'user_id'))
$$, 'no per-user table has a trigger');

-- the CME contracts of facts.md are seeded with their tick sizes and values
SELECT results_eq(
    $$SELECT symbol, tick_size, tick_value FROM ex7.instruments ORDER BY symbol$$,
    $$VALUES ('CL', 0.01, 10.00), ('ES', 0.25, 12.50), ('GC', 0.10, 10.00), ('M2K', 0.10, 0.50),
             ('MCL', 0.01, 1.00), ('MES', 0.25, 1.25), ('MGC', 0.10, 1.00), ('MNQ', 0.25, 0.50),
             ('MYM', 1.00, 0.50), ('NQ', 0.25, 5.00), ('RTY', 0.10, 5.00), ('YM', 1.00, 5.00)$$,
    'instruments seeded with the CME specs of facts.md');

-- the service-wide trading state is service_role's: a bound role reads it, never sets it
SELECT ok(NOT has_function_privilege('ex7_user', 'ex7.set_service_trading_state(jsonb)', 'EXECUTE')
          AND NOT has_table_privilege('ex7_user', 'ex7.trading_halts', 'INSERT')
          AND has_table_privilege('ex7_user', 'ex7.trading_halts', 'SELECT'),
    'a bound role reads the service''s trading state and cannot change it');

-- row-level security: enabled AND forced on every per-user table, with its _own policy
SELECT is(c.relrowsecurity AND c.relforcerowsecurity, true, 'RLS enabled and forced on ex7.' || c.relname)
  FROM pg_class c
 WHERE c.relnamespace = 'ex7'::regnamespace
   AND c.relname IN ('users', 'role_bindings', 'strategies', 'strategy_versions', 'strategy_runtimes', 'signals',
                     'signal_events', 'signal_audit', 'signals_blocked', 'risk_limits',
                     'paper_accounts', 'risk_protections', 'risk_locks', 'trading_states', 'stream_tickets',
                     'studies', 'study_trials')
 ORDER BY c.relname;
SELECT policies_are('ex7', t, ARRAY[t || '_own'], 'the per-user policy on ex7.' || t)
  FROM unnest(ARRAY['users', 'role_bindings', 'strategies', 'strategy_versions', 'strategy_runtimes', 'signals',
                    'signal_events', 'signal_audit', 'signals_blocked', 'risk_limits',
                    'paper_accounts', 'risk_protections', 'risk_locks', 'trading_states', 'stream_tickets',
                    'studies', 'study_trials']) AS t
 ORDER BY t;

-- every table, and every function of the extension, has a COMMENT
SELECT is_empty(
    $$SELECT c.relname FROM pg_class c
       WHERE c.relnamespace = 'ex7'::regnamespace AND c.relkind = 'r'
         AND obj_description(c.oid, 'pg_class') IS NULL$$,
    'every ex7 table has a comment');
SELECT is_empty(
    $$SELECT p.oid::regprocedure::text FROM pg_proc p
       WHERE p.pronamespace = 'ex7'::regnamespace AND obj_description(p.oid, 'pg_proc') IS NULL$$,
    'every ex7 function has a comment');
SELECT is_empty(
    $$SELECT p.oid::regprocedure::text FROM pg_proc p
       WHERE p.pronamespace = 'ex7'::regnamespace AND p.prokind = 'f'
         AND p.prosecdef AND NOT EXISTS (SELECT 1 FROM unnest(p.proconfig) c WHERE c LIKE 'search_path=%')$$,
    'every SECURITY DEFINER function pins its search_path');

-- the keyset orders: build a realistic table (100 users; the one we page for owns half of the 2k
-- strategies, 20k signals and 10k audit rows, the rest is spread over the others) and check that the
-- page queries read the matching index in order, with no sort and no sequential scan
CREATE FUNCTION pg_temp.plan_of(q text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE p json;
BEGIN
    EXECUTE 'EXPLAIN (FORMAT JSON) ' || q INTO p;
    RETURN p::text;
END $$;

INSERT INTO ex7.users (id)
SELECT ('00000000-0000-4000-8000-000000000' || to_hex(3840 + u))::uuid FROM generate_series(1, 100) u;
INSERT INTO ex7.strategies (id, user_id, name, instrument, timeframe, etag, updated_at)
SELECT ('00000000-0000-4000-8000-' || lpad(to_hex(i), 12, '0'))::uuid,
       ('00000000-0000-4000-8000-000000000' || to_hex(CASE WHEN i % 2 = 0 THEN 3841 ELSE 3842 + i % 99 END))::uuid,
       'tap ' || i, 'MNQ', '5m', 'e', '2026-01-01'::timestamptz + i * interval '1 minute'
  FROM generate_series(1, 2000) i;
INSERT INTO ex7.signals (user_id, strategy_id, strategy_version, instrument, timeframe, mode, side, size, entry_price, bar_ts, fired_at)
SELECT s.user_id, s.id, 1, 'MNQ', '5m', 'paper', 'long', 1, 18000, '2026-01-01'::timestamptz + g * interval '1 minute',
       '2026-01-01'::timestamptz + g * interval '1 minute'
  FROM generate_series(1, 20000) g
  JOIN ex7.strategies s ON s.id = ('00000000-0000-4000-8000-' || lpad(to_hex(1 + g % 2000), 12, '0'))::uuid;
INSERT INTO ex7.signal_audit (user_id, strategy_id, bar_ts, decision)
SELECT s.user_id, s.id, '2026-01-01'::timestamptz + g * interval '1 minute', 'no_signal'
  FROM generate_series(1, 10000) g
  JOIN ex7.strategies s ON s.id = ('00000000-0000-4000-8000-' || lpad(to_hex(1 + g % 2000), 12, '0'))::uuid;
ANALYZE ex7.strategies, ex7.signals, ex7.signal_audit;

SELECT matches(pg_temp.plan_of($$
    SELECT * FROM ex7.signals WHERE user_id = '00000000-0000-4000-8000-000000000f01'
       AND (fired_at, id) < ('2026-01-05', '00000000-0000-4000-8000-000000000001')
     ORDER BY fired_at DESC, id DESC LIMIT 51$$), '"Index Name": "signals_user_fired_idx"',
    'the signals page reads signals_user_fired_idx');
SELECT doesnt_match(pg_temp.plan_of($$
    SELECT * FROM ex7.signals WHERE user_id = '00000000-0000-4000-8000-000000000f01'
       AND (fired_at, id) < ('2026-01-05', '00000000-0000-4000-8000-000000000001')
     ORDER BY fired_at DESC, id DESC LIMIT 51$$), '"Node Type": "(Sort|Seq Scan)"',
    'the signals page neither sorts nor scans the table');
SELECT matches(pg_temp.plan_of($$
    SELECT * FROM ex7.strategies WHERE user_id = '00000000-0000-4000-8000-000000000f01' AND deleted_at IS NULL
       AND (updated_at, id) < ('2026-01-02', '00000000-0000-4000-8000-000000000001')
     ORDER BY updated_at DESC, id DESC LIMIT 51$$), '"Index Name": "strategies_user_updated_idx"',
    'the strategies page reads strategies_user_updated_idx');
SELECT doesnt_match(pg_temp.plan_of($$
    SELECT * FROM ex7.strategies WHERE user_id = '00000000-0000-4000-8000-000000000f01' AND deleted_at IS NULL
       AND (updated_at, id) < ('2026-01-02', '00000000-0000-4000-8000-000000000001')
     ORDER BY updated_at DESC, id DESC LIMIT 51$$), '"Node Type": "(Sort|Seq Scan)"',
    'the strategies page neither sorts nor scans the table');
SELECT matches(pg_temp.plan_of($$
    SELECT * FROM ex7.signal_audit WHERE user_id = '00000000-0000-4000-8000-000000000f01'
       AND (bar_ts, id) < ('2026-01-05', 5000)
     ORDER BY bar_ts DESC, id DESC LIMIT 101$$), '"Index Name": "signal_audit_user_bar_idx"',
    'the audit page reads signal_audit_user_bar_idx');
SELECT doesnt_match(pg_temp.plan_of($$
    SELECT * FROM ex7.signal_audit WHERE user_id = '00000000-0000-4000-8000-000000000f01'
       AND (bar_ts, id) < ('2026-01-05', 5000)
     ORDER BY bar_ts DESC, id DESC LIMIT 101$$), '"Node Type": "(Sort|Seq Scan)"',
    'the audit page neither sorts nor scans the table');
SELECT matches(pg_temp.plan_of($$
    SELECT * FROM ex7.signals_blocked WHERE user_id = '00000000-0000-4000-8000-000000000f01'
     ORDER BY blocked_at DESC, id DESC LIMIT 50$$), '"Index Name": "signals_blocked_user_idx"',
    'the blocked list reads signals_blocked_user_idx');
SELECT matches(pg_temp.plan_of($$
    SELECT * FROM ex7.signal_events WHERE user_id = '00000000-0000-4000-8000-000000000f01' AND seq > 10
     ORDER BY seq LIMIT 1000$$), '"Index Name": "signal_events_pkey"',
    'the SSE replay reads signal_events by (user_id, seq)');

-- the paper ledger's page (ex7.list_paper_ledger, docs/paper-account.md): the user's signals closed but one in
-- ten, as an account's mostly are; a page below a cursor read newest first on signals_user_mode_closed_id_idx
UPDATE ex7.signals SET status = 'closed', close_reason = 'exit_signal', close_price = entry_price,
       closed_at = fired_at + interval '1 minute', net_pnl = 0
 WHERE user_id = '00000000-0000-4000-8000-000000000f01' AND (extract(epoch FROM fired_at)::bigint / 60) % 10 <> 1;
ANALYZE ex7.signals;
SELECT matches(pg_temp.plan_of($$
    SELECT * FROM ex7.signals WHERE user_id = '00000000-0000-4000-8000-000000000f01' AND mode = 'paper'
       AND status <> 'open' AND net_pnl IS NOT NULL AND closed_at >= '-infinity'
       AND (closed_at, id) < ('2026-01-05', '00000000-0000-4000-8000-000000000001')
     ORDER BY closed_at DESC, id DESC LIMIT 51$$), '"Index Name": "signals_user_mode_closed_id_idx"',
    'the paper ledger page reads signals_user_mode_closed_id_idx');
SELECT doesnt_match(pg_temp.plan_of($$
    SELECT * FROM ex7.signals WHERE user_id = '00000000-0000-4000-8000-000000000f01' AND mode = 'paper'
       AND status <> 'open' AND net_pnl IS NOT NULL AND closed_at >= '-infinity'
       AND (closed_at, id) < ('2026-01-05', '00000000-0000-4000-8000-000000000001')
     ORDER BY closed_at DESC, id DESC LIMIT 51$$), '"Node Type": "(Sort|Seq Scan)"',
    'the paper ledger page neither sorts nor scans the table');

SELECT * FROM finish();
ROLLBACK;
