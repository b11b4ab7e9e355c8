-- sql/strategy_delete.sql: Delete Strategy with open signals (docs/strategies.md, "Delete"). The
-- reference's Delete Strategy says only 204; left open, a deleted strategy's signals would be orphans:
-- force-close-all answers 404 for the strategy, a live signal cannot be closed by hand, and the risk gate
-- counts them as open positions for ever. So deleting cancels them in the same transaction, as
-- force-close-all would, and stops the runtimes; the rows stay readable as history.
-- specs/strategy_delete_race.spec races the delete against a close and a fire.
\set u '00000000-0000-4000-8000-00000000e501'
\set v '00000000-0000-4000-8000-00000000e502'
SELECT ex7.ensure_user(x) ->> 'tier' AS tier FROM unnest(ARRAY[:'u', :'v']::uuid[]) AS x;
SELECT ex7_test.accept_compliance(ARRAY[:'u', :'v']::uuid[]) AS accepted;
SELECT ex7.set_risk_limits(:'u', m, '{"max_open_positions": 100, "max_trades_per_day": 1000}') IS NOT NULL AS roomy
  FROM unnest(ARRAY['paper', 'live']) AS m;
SELECT ex7.create_strategy(:'u', '{"name": "doomed", "instrument": "MNQ", "timeframe": "5m"}') ->> 'id' AS s,
       ex7.create_strategy(:'u', '{"name": "kept", "instrument": "MNQ", "timeframe": "5m"}') ->> 'id' AS k \gset
SELECT ex7.promote_strategy(:'u', :'s') ->> 'status' AS ready;
SELECT ex7.start_runtime(:'u', :'s') ->> 'status' AS runtime;
UPDATE ex7.strategy_runtimes SET status = 'running' WHERE strategy_id = :'s';

-- three open signals of the doomed strategy (two paper, one live), one already closed, one of the other
-- strategy; one statement each (one fired_at)
SELECT ex7.fire_signal(:'u', :'s', 'paper', 'long', 1, 20000.00, '2026-11-20 14:30+00', 'p1') ->> 'decision' AS decision;
SELECT ex7.fire_signal(:'u', :'s', 'paper', 'short', 1, 20001.00, '2026-11-20 14:35+00', 'p2') ->> 'decision' AS decision;
SELECT ex7.fire_signal(:'u', :'s', 'live', 'long', 1, 20002.00, '2026-11-20 14:40+00', 'l1') ->> 'decision' AS decision;
SELECT ex7.fire_signal(:'u', :'s', 'paper', 'long', 1, 20003.00, '2026-11-20 14:45+00', 'c1') ->> 'decision' AS decision;
SELECT ex7.fire_signal(:'u', :'k', 'paper', 'long', 1, 20004.00, '2026-11-20 14:50+00', 'k1') ->> 'decision' AS decision;
SELECT ex7.close_signal(:'u', id, 20010.00) ->> 'status' AS c1_closed FROM ex7.signals WHERE user_id = :'u' AND tag = 'c1';
SELECT m AS mode, ex7.risk_state(:'u', m) ->> 'open_positions' AS open_positions FROM unnest(ARRAY['paper', 'live']) AS m;
SELECT ex7.last_event_id(:'u') AS events_before \gset

-- another user cannot delete it (404, as for every strategy function), and nothing changes
SELECT ex7_test.err(format('SELECT ex7.delete_strategy(%L, %L)', :'v', :'s')) AS other_user;
SELECT count(*) FILTER (WHERE status = 'open') AS still_open FROM ex7.signals WHERE strategy_id = :'s';

-- the delete: every open signal of the strategy cancelled with close_reason force_close, at its entry
-- price with zero P&L, paper and live; the closed one and the other strategy's are untouched
SELECT ex7.delete_strategy(:'u', :'s') AS deleted;
SELECT tag, mode, status, close_reason, close_price = entry_price AS at_entry, net_pnl, closed_at IS NOT NULL AS closed_at
  FROM ex7.signals WHERE user_id = :'u' ORDER BY tag;
-- one signal_closed event each, in the order they fired, whose payload is the signal as get_signal shows it
SELECT e.event_id - :events_before AS nth, e.kind, s.tag, e.payload = ex7.get_signal(:'u', e.signal_id) AS payload_is_signal
  FROM ex7.replay_since_event_id(:'u', :events_before) AS e JOIN ex7.signals s ON s.id = e.signal_id
 ORDER BY e.event_id;
-- the runtime is stopped, not draining; the risk gate no longer counts the positions
SELECT mode, status, stopped_at IS NOT NULL AS stopped_at FROM ex7.strategy_runtimes WHERE strategy_id = :'s';
SELECT m AS mode, ex7.risk_state(:'u', m) ->> 'open_positions' AS open_positions FROM unnest(ARRAY['paper', 'live']) AS m;

-- history stays readable: the signals by id and in the list, the audit rows; the strategy itself is 404
SELECT ex7.get_signal(:'u', id) ->> 'close_reason' AS by_id FROM ex7.signals WHERE user_id = :'u' AND tag = 'l1';
SELECT count(*) AS listed FROM jsonb_array_elements(ex7.list_signals(:'u', p_strategy_id => :'s') -> 'items');
SELECT count(*) AS audit_rows FROM jsonb_array_elements(ex7.list_audit(:'u', p_strategy_id => :'s') -> 'items');
SELECT ex7_test.err(format('SELECT ex7.get_strategy(%L, %L)', :'u', :'s')) AS get_deleted;
SELECT ex7_test.err(format('SELECT ex7.force_close_all(%L, %L)', :'u', :'s')) AS force_close_deleted;
SELECT ex7_test.err(format('SELECT ex7.delete_strategy(%L, %L)', :'u', :'s')) AS delete_again;

-- the foreign key: signals reference strategies with no ON DELETE action (a), so a strategy with signals
-- cannot be removed outright; the API never does (delete is soft) and a raw DELETE is refused (23503)
SELECT conname, confdeltype FROM pg_constraint
 WHERE conrelid = 'ex7.signals'::regclass AND confrelid = 'ex7.strategies'::regclass AND contype = 'f';
SELECT split_part(ex7_test.err(format('DELETE FROM ex7.strategies WHERE id = %L', :'s')), ':', 1) AS hard_delete;

-- a deleted strategy's fire is refused (404), so no signal can open after the delete
SELECT ex7_test.err(format('SELECT ex7.fire_signal(%L, %L, %L, %L, 1, 20000.00, now())', :'u', :'s', 'paper', 'long')) AS fire_after;
