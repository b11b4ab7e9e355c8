-- sql/dispatch.sql: the dispatcher (ext/sql/65_dispatch.sql, docs/dispatcher.md) on scripted bar sequences:
-- runtime transitions, entries through the risk gate, brackets (stop, target), exit nodes, one audit row per
-- evaluation, a failing strategy isolated from the others, draining, late and duplicate bars.
-- Users 00000000-0000-4000-8000-0000000d00xx. Bars: MES 5m on Monday 2026-03-02 from 14:35 UTC (09:35 New
-- York, the day session). MES tick 0.25 (facts.md).
\set u1 '00000000-0000-4000-8000-0000000d0001'
\set u2 '00000000-0000-4000-8000-0000000d0002'
SELECT ex7.ensure_user(:'u1') IS NOT NULL AS u1, ex7.ensure_user(:'u2') IS NOT NULL AS u2;
-- runtimes, closes and the stream need the compliance documents accepted (412 otherwise; docs/billing.md)
SELECT ex7_test.accept_compliance(ARRAY[:'u1', :'u2']::uuid[]) AS accepted;

-- "long above 5000, out below 5001.50": close > 5000 enters 1 long with a 4-tick stop (1 point) and an
-- 8-tick target (2 points); a close below 5001.50 exits the long (on a later bar)
CREATE FUNCTION pg_temp.graph() RETURNS jsonb LANGUAGE sql AS $$ SELECT '{
  "nodes": [{"id": "c", "type": "close"},
            {"id": "hi", "type": "constant", "params": {"value": 5000}},
            {"id": "lo", "type": "constant", "params": {"value": 5001.5}},
            {"id": "above", "type": "gt"}, {"id": "below", "type": "lt"},
            {"id": "buy", "type": "enter_long", "params": {"size": 1}},
            {"id": "sell", "type": "exit_long"},
            {"id": "stop", "type": "stop_loss_ticks", "params": {"ticks": 4}},
            {"id": "target", "type": "take_profit_ticks", "params": {"ticks": 8}}],
  "edges": [{"from": "c", "to": "above", "port": "a"}, {"from": "hi", "to": "above", "port": "b"},
            {"from": "c", "to": "below", "port": "a"}, {"from": "lo", "to": "below", "port": "b"},
            {"from": "above", "to": "buy", "port": "when"}, {"from": "below", "to": "sell", "port": "when"},
            {"from": "buy", "to": "stop", "port": "entry"}, {"from": "buy", "to": "target", "port": "entry"}]}'::jsonb $$;

-- a ready strategy of p_user with a paper runtime in status starting
CREATE FUNCTION pg_temp.runner(p_user uuid, p_name text) RETURNS uuid LANGUAGE plpgsql AS $$
DECLARE v uuid;
BEGIN
    v := (ex7.create_strategy(p_user, pg_catalog.jsonb_build_object('name', p_name, 'instrument', 'MES',
                                                                     'timeframe', '5m', 'graph', pg_temp.graph())) ->> 'id')::uuid;
    PERFORM ex7.promote_strategy(p_user, v);
    PERFORM ex7.start_runtime(p_user, v, 'paper');
    RETURN v;
END $$;

-- bar(minutes after 14:30, open, high, low, close): ingest one MES 5m bar; returns the dispatch summary
CREATE FUNCTION pg_temp.bar(p_min int, o numeric, h numeric, l numeric, c numeric) RETURNS jsonb LANGUAGE sql AS $$
    SELECT ex7.ingest_bar('MES', '5m', '2026-03-02 14:30+00'::timestamptz + p_min * interval '1 minute', o, h, l, c, 100)
$$;

-- what happened: the strategy's signals and audit rows, deterministic columns only
CREATE FUNCTION pg_temp.signals(p_strategy uuid) RETURNS TABLE (bar text, side text, status text, entry numeric,
    stop numeric, target numeric, reason text, close numeric, net numeric) LANGUAGE sql AS $$
    SELECT to_char(bar_ts AT TIME ZONE 'UTC', 'HH24:MI'), side, status, entry_price, stop_price, target_price,
           close_reason, close_price, net_pnl
      FROM ex7.signals WHERE strategy_id = p_strategy ORDER BY bar_ts, fired_at, id
$$;
CREATE FUNCTION pg_temp.audit(p_strategy uuid) RETURNS TABLE (bar text, decision text, why text, closed jsonb)
LANGUAGE sql AS $$
    SELECT to_char(bar_ts AT TIME ZONE 'UTC', 'HH24:MI'), decision,
           coalesce(detail ->> 'reason', detail ->> 'breaker', detail ->> 'message'),
           (SELECT jsonb_agg(x - 'signal_id') FROM jsonb_array_elements(detail -> 'closed') x)
      FROM ex7.signal_audit WHERE strategy_id = p_strategy ORDER BY bar_ts, id
$$;
CREATE FUNCTION pg_temp.runtime(p_strategy uuid) RETURNS text LANGUAGE sql AS $$
    SELECT status || coalesce(' @' || to_char(last_bar_ts AT TIME ZONE 'UTC', 'HH24:MI'), '') || coalesce(' ' || error, '')
      FROM ex7.strategy_runtimes WHERE strategy_id = p_strategy AND mode = 'paper'
$$;

SELECT pg_temp.runner(:'u1', 'Above 5000') AS s1 \gset
SELECT pg_temp.runtime(:'s1') AS before_any_bar;

-- 14:35 close 4995: nothing to do; the runtime's first bar makes it running
SELECT pg_temp.bar(5, 4994, 4996, 4993, 4995) - 'ts' AS bar_1435;
SELECT pg_temp.runtime(:'s1') AS after_first_bar;
-- 14:40 close 5001: a long at 5001, stop 5000, target 5003
SELECT pg_temp.bar(10, 4995, 5001.5, 4995, 5001) -> 'dispatch' -> 'decisions' AS bar_1440;
-- 14:45 inside the bracket (low 5000.50): still open, and the entry is skipped (a long is open)
SELECT pg_temp.bar(15, 5001, 5002, 5000.5, 5001.5) -> 'dispatch' -> 'decisions' AS bar_1445;
-- 14:50 high 5003.25 touches the target: closed at 5003 (take_profit); close 5003 > 5000 enters again
-- at 5003 (stop 5002, target 5005)
SELECT pg_temp.bar(20, 5001.5, 5003.25, 5001, 5003) -> 'dispatch' -> 'decisions' AS bar_1450;
-- 14:55 falls through the stop to 4989: closed at the stop 5002 (stop_loss), not at the bar's close
SELECT pg_temp.bar(25, 5003, 5003, 4989, 4989) -> 'dispatch' -> 'decisions' AS bar_1455;
-- 15:00 a bar touching both the stop and the target of a new long closes at the stop (the worse case):
-- enter at 15:00 close 5001 first, then 15:05 ranges 4999..5004
SELECT pg_temp.bar(30, 4989, 5001, 4989, 5001) -> 'dispatch' -> 'decisions' AS bar_1500;
SELECT pg_temp.bar(35, 5001, 5004, 4999, 5000) -> 'dispatch' -> 'decisions' AS bar_1505;
-- 15:10 close 5002 enters (stop 5001); 15:15 closes at 5001.25, above the stop but below 5001.50: the exit
-- node closes the long at the bar's close (exit_signal)
SELECT pg_temp.bar(40, 5000, 5002, 5000, 5002) -> 'dispatch' -> 'decisions' AS bar_1510;
SELECT pg_temp.bar(45, 5002, 5002, 5001.25, 5001.25) -> 'dispatch' -> 'decisions' AS bar_1515;

SELECT * FROM pg_temp.signals(:'s1');
SELECT * FROM pg_temp.audit(:'s1');
SELECT pg_temp.runtime(:'s1') AS running;
-- every close and fire is an event (signal / signal_closed), in order, dense per user
SELECT string_agg(kind, ' ' ORDER BY seq) AS events, max(seq) = count(*) AS dense
  FROM ex7.signal_events WHERE user_id = :'u1';

-- a duplicate bar dispatches nothing; a late bar (older than the newest) is stored, never dispatched
SELECT pg_temp.bar(45, 5002, 5002, 5001.25, 5001.25) - 'ts' AS duplicate;
SELECT count(*) AS audit_rows_before FROM ex7.signal_audit WHERE strategy_id = :'s1' \gset
SELECT ex7.ingest_bar('MES', '5m', '2026-03-02 14:30+00', 4990, 4991, 4989, 4990, 5) - 'ts' AS late;
SELECT count(*) = :audit_rows_before AS no_new_audit FROM ex7.signal_audit WHERE strategy_id = :'s1';

--
-- The risk gate: u2 may trade once a day. Its second entry is blocked (signals_blocked, audit blocked).
-- A strategy that fails is marked error and the others on the same bar go on.
--
SELECT ex7.set_risk_limits(:'u2', 'paper', '{"max_trades_per_day": 1}') ->> 'max_trades_per_day' AS u2_limit;
SELECT pg_temp.runner(:'u2', 'Gated') AS s2, pg_temp.runner(:'u2', 'Broken') AS s3 \gset
-- break s3: a version the engine cannot compile (written around the API, as a bad migration might)
INSERT INTO ex7.strategy_versions (strategy_id, version, user_id, graph)
VALUES (:'s3', 2, :'u2', '{"nodes": [{"id": "x", "type": "no_such_node"}], "edges": []}');
UPDATE ex7.strategies SET current_version = 2 WHERE id = :'s3';
SELECT pg_temp.runner(:'u1', 'Also above 5000') AS s4 \gset

SELECT (pg_temp.bar(50, 4990, 5001, 4990, 5001) -> 'dispatch') - 'bar_ts' AS bar_1520;
SELECT pg_temp.runtime(:'s2') AS gated, pg_temp.runtime(:'s3') AS broken, pg_temp.runtime(:'s4') AS other;
-- s2's long fired (its one trade of the day); s4 fired too
SELECT (SELECT count(*) FROM ex7.signals WHERE strategy_id = :'s2') AS s2_signals,
       (SELECT count(*) FROM ex7.signals WHERE strategy_id = :'s4') AS s4_signals;
-- 15:25 takes s2's target (5003): closed; 15:30 close 5001 would enter again: blocked by the gate
SELECT pg_temp.bar(55, 5001, 5003, 5000.5, 5002) -> 'dispatch' -> 'decisions' AS bar_1525;
SELECT pg_temp.bar(60, 5002, 5002, 5000.25, 5001) -> 'dispatch' -> 'decisions' AS bar_1530;
SELECT * FROM pg_temp.audit(:'s2');
SELECT * FROM pg_temp.audit(:'s3');
SELECT triggered_limit, side, observed, "limit" FROM ex7.signals_blocked WHERE strategy_id = :'s2';
-- the failure and the refusal are alert events (76_alerts.sql): the in-app notifications say so
SELECT type, title FROM ex7.notifications WHERE user_id = :'u2' AND type IN ('runtime_error', 'blocked') ORDER BY type;

--
-- Draining: a stop while running drains; the next bar still closes what it touches but enters nothing,
-- then the runtime is stopped and later bars pass it by.
--
SELECT ex7.stop_runtime(:'u1', :'s4', 'paper') ->> 'status' AS stop_s4;
SELECT pg_temp.bar(65, 5001, 5001, 4990, 4990) -> 'dispatch' -> 'decisions' AS bar_1535;
SELECT pg_temp.runtime(:'s4') AS drained;
SELECT * FROM pg_temp.audit(:'s4');
SELECT pg_temp.bar(70, 4990, 5002, 4990, 5002) -> 'dispatch' -> 'decisions' AS bar_1540;
SELECT count(*) AS s4_audit_rows FROM ex7.signal_audit WHERE strategy_id = :'s4';

-- the bar must be stored before it is dispatched
SELECT ex7_test.err($$SELECT ex7._dispatch_bar('MES', '5m', '2026-03-02 09:00+00')$$) AS no_such_bar;
