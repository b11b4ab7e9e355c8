-- test/pgtap/rls.sql: a database role bound to user A (ex7.bind_role) sees and writes only A's rows, in
-- every per-user table, and cannot reach the cursor key or raise its own tier.
BEGIN;
SELECT plan(23);

-- A and B each own a strategy, a version, a runtime, a signal, an event, an audit row, a block and limits
INSERT INTO ex7.users (id, tier) VALUES ('00000000-0000-4000-8000-000000000e0a', 'free'),
                                        ('00000000-0000-4000-8000-000000000e0b', 'strategist');
INSERT INTO ex7.strategies (id, user_id, name, instrument, timeframe, etag)
VALUES ('00000000-0000-4000-8000-0000000e0a01', '00000000-0000-4000-8000-000000000e0a', 'A strat', 'MNQ', '5m', 'e'),
       ('00000000-0000-4000-8000-0000000e0b01', '00000000-0000-4000-8000-000000000e0b', 'B strat', 'ES', '1h', 'e');
INSERT INTO ex7.strategy_versions (strategy_id, version, user_id, graph)
SELECT id, 1, user_id, '{"nodes": [], "edges": []}' FROM ex7.strategies WHERE name IN ('A strat', 'B strat');
INSERT INTO ex7.strategy_runtimes (strategy_id, user_id, mode)
SELECT id, user_id, 'paper' FROM ex7.strategies WHERE name IN ('A strat', 'B strat');
INSERT INTO ex7.signals (id, user_id, strategy_id, strategy_version, instrument, timeframe, mode, side, size, entry_price, bar_ts)
VALUES ('00000000-0000-4000-8000-0000000e0a02', '00000000-0000-4000-8000-000000000e0a', '00000000-0000-4000-8000-0000000e0a01', 1, 'MNQ', '5m', 'paper', 'long', 1, 18000, '2026-04-20 13:30+00'),
       ('00000000-0000-4000-8000-0000000e0b02', '00000000-0000-4000-8000-000000000e0b', '00000000-0000-4000-8000-0000000e0b01', 1, 'ES', '1h', 'paper', 'short', 2, 5000, '2026-04-20 13:00+00');
DO $$ BEGIN
    PERFORM ex7._emit_event(user_id, 'signal', id, strategy_id, '{}') FROM ex7.signals
     WHERE id IN ('00000000-0000-4000-8000-0000000e0a02', '00000000-0000-4000-8000-0000000e0b02');
END $$;
INSERT INTO ex7.signal_audit (user_id, strategy_id, bar_ts, decision)
SELECT user_id, strategy_id, bar_ts, 'fired' FROM ex7.signals
 WHERE id IN ('00000000-0000-4000-8000-0000000e0a02', '00000000-0000-4000-8000-0000000e0b02');
INSERT INTO ex7.signals_blocked (user_id, instrument, mode, triggered_limit, reason, reason_json)
VALUES ('00000000-0000-4000-8000-000000000e0a', 'MNQ', 'paper', 'max_open_positions', 'max_open_positions_reached', '{}'),
       ('00000000-0000-4000-8000-000000000e0b', 'ES', 'paper', 'max_open_positions', 'max_open_positions_reached', '{}');
INSERT INTO ex7.risk_limits (user_id, mode) VALUES ('00000000-0000-4000-8000-000000000e0a', 'paper'),
                                                   ('00000000-0000-4000-8000-000000000e0b', 'paper');

INSERT INTO ex7.rate_counters (subject, minute_start, minute_used, day_start, day_used)
VALUES ('user:00000000-0000-4000-8000-000000000e0a', now(), 1, now(), 1),
       ('user:00000000-0000-4000-8000-000000000e0b', now(), 2, now(), 2), ('addr:192.0.2.7', now(), 3, now(), 3);

CREATE ROLE ex7_tap_alice NOLOGIN;
SELECT lives_ok($$SELECT ex7.bind_role('ex7_tap_alice', '00000000-0000-4000-8000-000000000e0a')$$, 'bind a role to A');
SELECT throws_ok($$SELECT ex7.bind_role('ex7_tap_nobody', '00000000-0000-4000-8000-000000000e0a')$$, 'X7404',
    'role ex7_tap_nobody does not exist', 'binding a missing role is X7404');

SET ROLE ex7_tap_alice;
SELECT is(ex7.current_user_id(), '00000000-0000-4000-8000-000000000e0a'::uuid, 'the bound role acts as A');

-- every per-user table shows exactly A's rows
SELECT results_eq('SELECT count(*)::int, bool_and(id = ''00000000-0000-4000-8000-000000000e0a'') FROM ex7.users',
    'VALUES (1, true)', 'users: only A');
SELECT results_eq(format('SELECT count(*)::int, bool_and(user_id = %L) FROM ex7.%I',
                         '00000000-0000-4000-8000-000000000e0a', t),
                  'VALUES (1, true)', t || ': only A''s row')
  FROM unnest(ARRAY['strategies', 'strategy_versions', 'strategy_runtimes', 'signals', 'signal_events',
                    'signal_audit', 'signals_blocked', 'risk_limits', 'role_bindings']) AS t
 ORDER BY t;

SELECT results_eq('SELECT subject FROM ex7.rate_counters',
    $$VALUES ('user:00000000-0000-4000-8000-000000000e0a')$$, 'rate_counters: only A''s own subject');
SELECT throws_ok($$UPDATE ex7.rate_counters SET day_used = 0$$, '42501', NULL, 'A cannot reset its request count');

-- looking B's rows up by id finds nothing
SELECT is_empty($$SELECT 1 FROM ex7.signals WHERE id = '00000000-0000-4000-8000-0000000e0b02'$$, 'B''s signal is invisible to A');
SELECT is_empty($$SELECT 1 FROM ex7.strategies WHERE id = '00000000-0000-4000-8000-0000000e0b01'$$, 'B''s strategy is invisible to A');

-- writes: A cannot create rows for B, nor change B's rows, nor raise A's own tier, nor read the cursor key
SELECT throws_ok($$INSERT INTO ex7.strategies (user_id, name, instrument, timeframe, etag)
                   VALUES ('00000000-0000-4000-8000-000000000e0b', 'sneaky', 'MNQ', '5m', 'e')$$,
    '42501', NULL, 'A cannot insert a strategy owned by B');
UPDATE ex7.signals SET size = 99 WHERE id = '00000000-0000-4000-8000-0000000e0b02';
SELECT throws_ok($$UPDATE ex7.users SET tier = 'strategist'$$, '42501', NULL, 'A cannot change its tier');
SELECT throws_ok($$SELECT * FROM ex7.secrets$$, '42501', NULL, 'the cursor key is out of reach');
SELECT throws_ok($$SELECT ex7.bind_role('ex7_tap_alice', '00000000-0000-4000-8000-000000000e0b')$$,
    '42501', NULL, 'A cannot rebind itself to B');

-- the cursor functions still work for A (SECURITY DEFINER reads the key)
SELECT ok((SELECT id FROM ex7.cursor_decode('signals', '00000000-0000-4000-8000-000000000e0a',
    ex7.cursor_encode('signals', '00000000-0000-4000-8000-000000000e0a', now(), 'x'))) = 'x', 'A can use cursors');

RESET ROLE;
SELECT is((SELECT size FROM ex7.signals WHERE id = '00000000-0000-4000-8000-0000000e0b02'), 2,
    'an UPDATE by A aimed at B''s signal changed nothing');
SELECT * FROM finish();
ROLLBACK;
