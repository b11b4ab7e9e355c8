-- sql/signal_close.sql: ending open signals. The manual close, step by step as the contract lists them
-- (ex7-api-reference.txt, Close Signal), the emergency force-close-all of a strategy, and the
-- signal_closed events both write, read back through ex7.replay_since_event_id.
\set uc '00000000-0000-4000-8000-000000000231'
\set ux '00000000-0000-4000-8000-000000000232'
\set sc1 '00000000-0000-4000-8000-0000023100a1'
\set sc2 '00000000-0000-4000-8000-0000023100a2'
\set sdel '00000000-0000-4000-8000-0000023100a3'
\set sx '00000000-0000-4000-8000-0000023200a1'

SELECT ex7.ensure_user(u) IS NOT NULL AS ready FROM unnest(ARRAY[:'uc', :'ux']::uuid[]) AS u;
-- runtimes, closes and the stream need the compliance documents accepted (412 otherwise; docs/billing.md)
SELECT ex7_test.accept_compliance(ARRAY[:'uc', :'ux']::uuid[]) AS accepted;
INSERT INTO ex7.strategies (id, user_id, name, instrument, timeframe, etag, deleted_at) VALUES
    (:'sc1', :'uc', 'nq', 'MNQ', '2m', 'etag-1', NULL),
    (:'sc2', :'uc', 'es', 'ES', '5m', 'etag-2', NULL),
    (:'sdel', :'uc', 'deleted', 'MNQ', '2m', 'etag-3', '2026-04-01 00:00+00'),
    (:'sx', :'ux', 'theirs', 'MNQ', '2m', 'etag-4', NULL);
INSERT INTO ex7.strategy_versions (strategy_id, version, user_id, graph) VALUES
    (:'sc1', 1, :'uc', '{}'), (:'sc2', 1, :'uc', '{}'), (:'sdel', 1, :'uc', '{}'), (:'sx', 1, :'ux', '{}');
SELECT ex7.set_risk_limits(:'uc', m, '{"max_open_positions": 100, "max_trades_per_day": 1000}') IS NOT NULL AS roomy
  FROM unnest(ARRAY['paper', 'live']) AS m;

-- ex7_test.try_json(sql): the error of sql as (SQLSTATE, message, detail as jsonb), or 'ok'. Used where
-- the detail holds timestamps of now() that must not reach the expected output.
CREATE FUNCTION ex7_test.try_json(q text, OUT state text, OUT message text, OUT detail jsonb) LANGUAGE plpgsql AS $$
DECLARE
    d text;
BEGIN
    EXECUTE q;
    state := 'ok';
EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS state = RETURNED_SQLSTATE, message = MESSAGE_TEXT, d = PG_EXCEPTION_DETAIL;
    detail := nullif(d, '')::jsonb;
END
$$;
-- the id of uc's signal tagged t
CREATE FUNCTION ex7_test.sig(t text) RETURNS uuid LANGUAGE sql AS $$
    SELECT id FROM ex7.signals WHERE user_id = '00000000-0000-4000-8000-000000000231' AND tag = t;
$$;

-- Fixtures through fire_signal, one statement (one transaction, one fired_at) each: paper longs and
-- shorts on MNQ (tick 0.25, 0.50 USD, 0.62 a side) and ES (tick 0.25, 12.50 USD, 2.25 a side), two live.
\set fire 'SELECT ex7.fire_signal(:''uc'', :''s'', :''m'', :''side'', :size, :price, ''2026-11-20 14:30+00'', :''tag'') ->> ''event_id'' AS event_id'
\set s :sc1
\set m paper
\set side long
\set size 2
\set price 20000.25
\set tag nq-long
:fire;
\set side short
\set size 1
\set price 20000.50
\set tag nq-short
:fire;
\set m live
\set side long
\set price 20000.25
\set tag nq-live
:fire;
\set s :sc2
\set m paper
\set price 5000.00
\set tag es-1
:fire;
\set side short
\set size 3
\set price 5001.25
\set tag es-2
:fire;
\set m live
\set side long
\set size 1
\set price 5002.50
\set tag es-live
:fire;
\set m paper
\set price 5003.00
\set tag es-closed
:fire;

-- ===================================================================================================
-- close_signal
-- ===================================================================================================
-- the body first, as FastAPI validates it: reason is the Literal 'user'. close_price is optional: without
-- it the close is at the mark, and with no recent MNQ bar there is none (sql/signal_close_price.sql)
SELECT ex7_test.err(format('SELECT ex7.close_signal(%L, %L, 20010.50, %L)', :'uc', ex7_test.sig('nq-long'), 'stop_loss'));
SELECT t.state, t.detail ->> 'code' AS code
  FROM ex7_test.try_json(format('SELECT ex7.close_signal(%L, %L, NULL)', :'uc', ex7_test.sig('nq-long'))) AS t;
-- 1. "Missing → 404 (either not found or not owned — we do not leak the distinction)"
SELECT ex7_test.err(format('SELECT ex7.close_signal(%L, %L, 20010.50)', :'uc', '00000000-0000-4000-8000-00000023ffff'));
SELECT ex7_test.err(format('SELECT ex7.close_signal(%L, %L, 20010.50)', :'ux', ex7_test.sig('nq-long')));
-- 3. "If mode != 'paper' → 403" (v1 has no broker path)
SELECT ex7_test.err(format('SELECT ex7.close_signal(%L, %L, 20010.50)', :'uc', ex7_test.sig('nq-live')))
       = format('X7403: manual close is disabled for live signals | {"code": "live_close_disabled", "signal_id": "%s"}', ex7_test.sig('nq-live')) AS live_403;
-- 4. compute_pnl refuses a close price off the tick grid (its locator)
SELECT ex7_test.err(format('SELECT ex7.close_signal(%L, %L, 20010.40)', :'uc', ex7_test.sig('nq-long')));
-- none of the refusals changed anything or emitted an event
SELECT count(*) FILTER (WHERE status = 'open') AS open, ex7.last_event_id(:'uc') AS events
  FROM ex7.signals WHERE user_id = :'uc';

-- 4-6. the close: long 2 MNQ from 20000.25 to 20010.50 = 10.25 points = 41 ticks; gross 41 * 0.50 * 2 =
-- 41.00; slippage 2 ticks a side = 4 * 0.50 * 2 = 4.00; commission 0.62 * 2 sides * 2 = 2.48; net 34.52
SELECT ex7.close_signal(:'uc', ex7_test.sig('nq-long'), 20010.50) AS closed \gset
SELECT jsonb_pretty(:'closed'::jsonb - ARRAY['id', 'fired_at', 'closed_at']) AS closed;
SELECT (:'closed'::jsonb ->> 'closed_at')::timestamptz = e.created_at AS closed_at_is_event_time
  FROM ex7.signal_events e WHERE e.user_id = :'uc' AND e.kind = 'signal_closed';
-- the P&L fields are compute_pnl's, nothing else
SELECT s.pnl_points = p.points AND s.pnl_ticks = p.ticks AND s.gross_pnl = p.gross_pnl
       AND s.slippage_ticks = p.slippage_ticks AND s.slippage_cost = p.slippage_cost
       AND s.commission = p.commission AND s.net_pnl = p.net_pnl AS from_compute_pnl
  FROM ex7.signals s, ex7.compute_pnl('MNQ', 'long', 2, 20000.25, 20010.50) AS p
 WHERE s.id = ex7_test.sig('nq-long');
-- a losing short: 20000.50 -> 20010.00 is -9.50 points = -38 ticks; gross -19.00, net -22.24
SELECT r ->> 'status' AS status, r ->> 'close_reason' AS reason, r ->> 'close_price' AS close_price,
       r ->> 'pnl_points' AS points, r ->> 'pnl_ticks' AS ticks, r ->> 'gross_pnl' AS gross,
       r ->> 'slippage_cost' AS slippage, r ->> 'commission' AS commission, r ->> 'net_pnl' AS net
  FROM ex7.close_signal(:'uc', ex7_test.sig('nq-short'), 20010.00) AS r;
-- ES, 3 contracts short from 5001.25 to 5010.00: -35 ticks * 12.50 * 3 = -1312.50 gross; slippage
-- 4 * 12.50 * 3 = 150.00; commission 2.25 * 2 * 3 = 13.50
SELECT r ->> 'gross_pnl' AS gross, r ->> 'slippage_cost' AS slippage, r ->> 'commission' AS commission,
       r ->> 'net_pnl' AS net
  FROM ex7.close_signal(:'uc', ex7_test.sig('es-2'), 5010.00) AS r;
-- one already closed by the engine (a closed signal, not cancelled)
UPDATE ex7.signals SET status = 'closed', close_reason = 'take_profit', close_price = 5010.00,
       closed_at = '2026-11-20 15:00+00', net_pnl = 85.00
 WHERE id = ex7_test.sig('es-closed');

-- 2. "If status != 'open' → 409 with the current row in the detail so the UI can reconcile without a
--    refetch": the detail's signal is exactly what get_signal returns now.
SELECT t.state, t.message, t.detail ->> 'code' AS code, t.detail #>> '{signal,status}' AS status,
       t.detail #>> '{signal,close_reason}' AS close_reason, t.detail #>> '{signal,net_pnl}' AS net_pnl,
       t.detail -> 'signal' = ex7.get_signal(:'uc', ex7_test.sig(tag)) AS current_row
  FROM unnest(ARRAY['nq-long', 'es-closed']) AS tag,
       LATERAL ex7_test.try_json(format('SELECT ex7.close_signal(%L, %L, 20010.50)', :'uc', ex7_test.sig(tag))) AS t;
-- the live check comes after the status check: a closed live signal is a 409, not a 403
UPDATE ex7.signals SET status = 'closed', close_reason = 'exit_signal', close_price = 20001.00,
       closed_at = '2026-11-20 15:00+00', net_pnl = 0 WHERE id = ex7_test.sig('nq-live');
SELECT t.state, t.detail ->> 'code' AS code
  FROM ex7_test.try_json(format('SELECT ex7.close_signal(%L, %L, 20010.50)', :'uc', ex7_test.sig('nq-live'))) AS t;

-- 5. the guard "WHERE status='open' makes the UPDATE a no-op if a concurrent writer already closed the
--    row — in which case we re-raise as 409". Under _lock_user and FOR UPDATE no ex7 writer can get
--    there first (specs/signal_close_race.spec shows the real race ending at step 2); a writer outside
--    ex7 is simulated by a trigger that swallows the UPDATE, in a transaction rolled back.
BEGIN;
CREATE FUNCTION ex7_test.swallow() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NULL; END $$;
CREATE TRIGGER swallow BEFORE UPDATE ON ex7.signals FOR EACH ROW EXECUTE FUNCTION ex7_test.swallow();
SELECT t.state, t.message, t.detail ->> 'code' AS code, t.detail #>> '{signal,status}' AS status
  FROM ex7_test.try_json(format('SELECT ex7.close_signal(%L, %L, 5010.00)', :'uc', ex7_test.sig('es-1'))) AS t;
SELECT status FROM ex7.signals WHERE id = ex7_test.sig('es-1');
ROLLBACK;

-- ===================================================================================================
-- force_close_all (ex7-api-reference.txt, Force Close All)
-- ===================================================================================================
-- "404 if it doesn't exist (or is soft-deleted); 403 if someone else owns it"
SELECT ex7_test.err(format('SELECT ex7.force_close_all(%L, %L)', :'uc', '00000000-0000-4000-8000-0000023100ff'));
SELECT ex7_test.err(format('SELECT ex7.force_close_all(%L, %L)', :'uc', :'sdel'));
SELECT ex7_test.err(format('SELECT ex7.force_close_all(%L, %L)', :'ux', :'sc2'));
SELECT ex7_test.err(format('SELECT ex7.force_close_all(NULL, %L)', :'sc2'));
-- the owner of a strategy with nothing open: zero, and no event
SELECT ex7.force_close_all(:'ux', :'sx') AS nothing_open, ex7.last_event_id(:'ux') AS ux_events;

-- sc2 has es-1 (paper) and es-live (live) open; es-2 (closed by the user) and es-closed stay as they are.
-- Every open signal is cancelled, paper and live: close_price = entry_price and zero P&L ("no realized
-- PnL for an emergency cancel"), one signal_closed event each, in the order they fired.
SELECT ex7.last_event_id(:'uc') AS events_before \gset
SELECT r ->> 'realized_pnl_today' AS realized, r ->> 'consecutive_losses' AS consecutive_losses
  FROM ex7.risk_state(:'uc', 'paper') AS r;
-- "Returns the number of signals that transitioned to 'cancelled'": a JSON number
SELECT ex7.force_close_all(:'uc', :'sc2') AS closed;
SELECT tag, mode, status, close_reason, close_price = entry_price AS at_entry, pnl_points, pnl_ticks, gross_pnl,
       slippage_ticks, slippage_cost, commission, net_pnl
  FROM ex7.signals WHERE strategy_id = :'sc2' ORDER BY fired_at, id;
SELECT e.event_id - :events_before AS nth_new_event, e.kind, s.tag, e.payload ->> 'status' AS status,
       e.payload ->> 'close_reason' AS close_reason, e.payload = ex7.get_signal(:'uc', e.signal_id) AS payload_is_signal
  FROM ex7.replay_since_event_id(:'uc', :events_before) AS e JOIN ex7.signals s ON s.id = e.signal_id;
-- other strategies' signals are untouched, and a second force-close finds nothing
SELECT tag, status, close_reason FROM ex7.signals WHERE strategy_id = :'sc1' ORDER BY fired_at, id;
SELECT ex7.force_close_all(:'uc', :'sc2') AS again, ex7.last_event_id(:'uc') - :events_before AS new_events;
-- a zero-P&L cancel is not a loss: it ends the run of two consecutive losses (docs/risk.md); the
-- force-close is not gated by the daily loss limit that the two losses tripped
SELECT r ->> 'realized_pnl_today' AS realized, r ->> 'consecutive_losses' AS consecutive_losses
  FROM ex7.risk_state(:'uc', 'paper') AS r;

-- ===================================================================================================
-- Events: every fire and close wrote one, densely numbered; replay them after any id, per strategy
-- ===================================================================================================
SELECT e.event_id, e.kind, s.tag, e.payload ->> 'status' AS status, e.strategy_id = :'sc1' AS sc1
  FROM ex7.replay_since_event_id(:'uc', 0) AS e JOIN ex7.signals s ON s.id = e.signal_id ORDER BY e.event_id;
SELECT e.event_id, e.kind, s.tag FROM ex7.replay_since_event_id(:'uc', 8) AS e JOIN ex7.signals s ON s.id = e.signal_id;
SELECT e.event_id, e.kind, s.tag FROM ex7.replay_since_event_id(:'uc', 0, :'sc1') AS e JOIN ex7.signals s ON s.id = e.signal_id;
SELECT count(*) AS after_last FROM ex7.replay_since_event_id(:'uc', ex7.last_event_id(:'uc'));

DROP FUNCTION ex7_test.try_json(text), ex7_test.sig(text);
