-- sql/protections.sql: protections, their locks and the trading state (docs/protections.md,
-- docs/trading-state.md). The C decision (ex7.protection_decide) for each rule at its edges; the
-- protections' CRUD and its refusals; locks written by closes on the bar clock, refusing entries of their
-- scope (recorded in the blocked log), never exits, with a risk_lock event and notification; lifting a lock;
-- the kill switch: halted, reducing (only entries that shrink the net position), flatten at the mark (all
-- or nothing), the service-wide state for every instrument or one; GET /api/risk's view of all of it.
-- Instruments: GC and MGC, whose bars no other test stores at these times.
\set ua '00000000-0000-4000-8000-7e0000000051'
\set ub '00000000-0000-4000-8000-7e0000000052'
SELECT ex7.ensure_user(u) IS NOT NULL AS ready FROM unnest(ARRAY[:'ua', :'ub']::uuid[]) AS u;
SELECT ex7_test.accept_compliance(ARRAY[:'ua', :'ub']::uuid[]) AS accepted;

-- ===================================================================================================
-- The decision (ext/protect.c). Closes oldest first; the last is the close just made.
-- ===================================================================================================
CREATE FUNCTION pg_temp.decide(kind text, bars int, lim int, lookback text, lck text, threshold numeric,
                               ats text[], nets numeric[], stops boolean[]) RETURNS text LANGUAGE sql AS $$
    SELECT coalesce(to_char(d.until AT TIME ZONE 'UTC', 'HH24:MI') || ' ' || d.observed || ' / ' || d."limit", 'no lock')
      FROM ex7.protection_decide(kind, bars, lim, lookback::interval, lck::interval, threshold, '5 minutes',
                                 (SELECT array_agg(('2026-03-02 ' || a || '+00')::timestamptz ORDER BY o)
                                    FROM unnest(ats) WITH ORDINALITY AS t(a, o)), nets, stops) AS d;
$$;
SELECT 'cooldown 3 bars of 5m' AS rule, pg_temp.decide('cooldown', 3, NULL, NULL, NULL, NULL, '{10:00}', '{5}', '{f}') AS lock
UNION ALL
-- two stop-outs in the last 30 minutes (09:35 and 10:00; 09:20 is out), the limit 2: locks 60 minutes
SELECT 'stoploss_guard 2 in 30m', pg_temp.decide('stoploss_guard', NULL, 2, '30 minutes', '60 minutes', NULL,
                                                 '{09:20,09:35,09:40,10:00}', '{-5,-5,1,-5}', '{t,t,f,t}')
UNION ALL
-- the first stop-out is exactly 30 minutes before: outside the window (close - lookback, close]
SELECT 'stoploss_guard window edge', pg_temp.decide('stoploss_guard', NULL, 2, '30 minutes', '60 minutes', NULL,
                                                    '{09:30,10:00}', '{-5,-5}', '{t,t}')
UNION ALL
-- the close just made is not a stop-out: no new lock, whatever the count
SELECT 'stoploss_guard after a target', pg_temp.decide('stoploss_guard', NULL, 1, '30 minutes', '60 minutes', NULL,
                                                       '{09:50,10:00}', '{-5,7}', '{t,f}')
UNION ALL
-- running sum 10, 4, -6, -1: peak 10, trough -6: a drawdown of 16.00, at the limit (inclusive)
SELECT 'max_drawdown at the limit', pg_temp.decide('max_drawdown', NULL, 1, '1 day', '2 hours', 16.00,
                                                   '{08:00,08:30,09:00,10:00}', '{10,-6,-10,5}', '{f,f,f,f}')
UNION ALL
SELECT 'max_drawdown under the limit', pg_temp.decide('max_drawdown', NULL, 1, '1 day', '2 hours', 16.01,
                                                      '{08:00,08:30,09:00,10:00}', '{10,-6,-10,5}', '{f,f,f,f}')
UNION ALL
-- a drawdown from the window's start (peak 0)
SELECT 'max_drawdown from zero', pg_temp.decide('max_drawdown', NULL, 1, '1 day', '2 hours', 3.00,
                                                '{09:00,10:00}', '{-1.50,-1.50}', '{f,f}')
UNION ALL
SELECT 'max_drawdown too few closes', pg_temp.decide('max_drawdown', NULL, 3, '1 day', '2 hours', 3.00,
                                                     '{09:00,10:00}', '{-1.50,-1.50}', '{f,f}')
UNION ALL
-- low profit: -2.50 over the window is under 0.00
SELECT 'low_profit under', pg_temp.decide('low_profit', NULL, 2, '1 hour', '30 minutes', 0.00,
                                          '{08:00,09:30,10:00}', '{100,-5,2.50}', '{f,f,f}')
UNION ALL
-- exactly at the threshold is not under it
SELECT 'low_profit at the threshold', pg_temp.decide('low_profit', NULL, 1, '1 hour', '30 minutes', -2.50,
                                                     '{09:30,10:00}', '{-5,2.50}', '{f,f}');
-- the decision refuses what it cannot judge
SELECT ex7_test.err($$SELECT ex7.protection_decide('panic', 1, 1, '1h', '1h', 1, '5m', '{}', '{}', '{}')$$) AS bad_kind;
SELECT ex7_test.err($$SELECT ex7.protection_decide('cooldown', 0, NULL, NULL, NULL, NULL, '5m', '{now}', '{1}', '{f}')$$) AS no_bars;
SELECT ex7_test.err($$SELECT ex7.protection_decide('low_profit', NULL, 1, '1h', '1h', NULL, '5m', '{now}', '{1}', '{f}')$$) AS no_threshold;
SELECT ex7_test.err($$SELECT ex7.protection_decide('cooldown', 1, NULL, NULL, NULL, NULL, '5m', '{now}', '{1,2}', '{f}')$$) AS lengths;
SELECT ex7_test.err($$SELECT ex7.protection_decide('cooldown', 1, NULL, NULL, NULL, NULL, '5m', '{2026-01-02,2026-01-01}', '{1,2}', '{f,f}')$$) AS order_;

-- ===================================================================================================
-- Protections: create, list, get, update, delete.
-- ===================================================================================================
SELECT (ex7.create_strategy(:'ua', '{"name": "Gold 5m", "instrument": "GC", "timeframe": "5m"}') ->> 'id') AS s_gc,
       (ex7.create_strategy(:'ua', '{"name": "Micro gold 5m", "instrument": "MGC", "timeframe": "5m"}') ->> 'id') AS s_mgc,
       (ex7.create_strategy(:'ub', '{"name": "Theirs", "instrument": "GC", "timeframe": "5m"}') ->> 'id') AS s_theirs \gset
CREATE FUNCTION pg_temp.shown(j jsonb) RETURNS jsonb LANGUAGE sql AS $$
    SELECT j - ARRAY['id', 'created_at', 'updated_at', 'strategy_id'];
$$;
-- each kind with its defaults
SELECT pg_temp.shown(ex7.create_protection(:'ua', b::jsonb)) AS created
  FROM unnest(ARRAY['{"kind": "cooldown"}', '{"kind": "stoploss_guard", "instrument": "mgc"}',
                    '{"kind": "low_profit", "mode": "live", "min_profit": "-25.50"}',
                    '{"kind": "max_drawdown", "max_drawdown": 100, "lock_minutes": 30}']) AS b;
SELECT ex7_test.err(format('SELECT ex7.create_protection(%L, %L)', :'ua', b)) AS create_errors
  FROM unnest(ARRAY[
    '[]',
    '{}',
    '{"kind": "panic"}',
    '{"kind": "max_drawdown"}',
    '{"kind": "cooldown", "bars": 0, "lock_minutes": 5, "colour": "red"}',
    '{"kind": "low_profit", "min_profit": "1.005", "mode": "real", "instrument": "XYZ"}',
    jsonb_build_object('kind', 'cooldown', 'strategy_id', :'s_theirs')::text,
    jsonb_build_object('kind', 'cooldown', 'strategy_id', :'s_gc', 'instrument', 'GC')::text,
    '{"kind": "stoploss_guard", "trade_limit": 2.5, "lookback_minutes": "60", "enabled": "yes"}']) AS b;
SELECT jsonb_array_length(ex7.list_protections(:'ua') -> 'items') AS both_modes,
       jsonb_array_length(ex7.list_protections(:'ua', 'live') -> 'items') AS live,
       jsonb_array_length(ex7.list_protections(:'ub') -> 'items') AS theirs;
SELECT ex7_test.err(format('SELECT ex7.list_protections(%L, %L)', :'ua', 'demo')) AS bad_mode;
SELECT x ->> 'id' AS p_low FROM jsonb_array_elements(ex7.list_protections(:'ua', 'live') -> 'items') AS x \gset
SELECT pg_temp.shown(ex7.update_protection(:'ua', :'p_low', '{"lookback_minutes": 120, "enabled": false}')) AS updated;
SELECT ex7_test.err(format('SELECT ex7.update_protection(%L, %L, %L)', :'ua', :'p_low', b)) AS update_errors
  FROM unnest(ARRAY['{"kind": "cooldown"}', '{"bars": 3}', '{"mode": "paper", "min_profit": "x"}']) AS b;
SELECT ex7_test.err(format('SELECT ex7.get_protection(%L, %L)', :'ub', :'p_low')) AS theirs_get,
       ex7_test.err(format('SELECT ex7.update_protection(%L, %L, %L)', :'ub', :'p_low', '{"enabled": true}')) AS theirs_update,
       ex7_test.err(format('SELECT ex7.delete_protection(%L, %L)', :'ub', :'p_low')) AS theirs_delete;
SELECT ex7.delete_protection(:'ua', :'p_low') IS NULL AS deleted,
       ex7_test.err(format('SELECT ex7.get_protection(%L, %L)', :'ua', :'p_low')) AS gone;
-- at most 20 protections a user
SELECT count(ex7.create_protection(:'ub', '{"kind": "cooldown", "enabled": false}')) AS made FROM generate_series(1, 20);
SELECT ex7_test.err(format('SELECT ex7.create_protection(%L, %L)', :'ub', '{"kind": "cooldown"}')) AS over_cap;
DELETE FROM ex7.risk_protections WHERE user_id = :'ub';
-- the drawdown protection waits for the part on now's clock (user C, below)
SELECT ex7.update_protection(:'ua', id, '{"enabled": false}') ->> 'enabled' AS dd_enabled
  FROM ex7.risk_protections WHERE user_id = :'ua' AND kind = 'max_drawdown';

-- ===================================================================================================
-- Locks from closes, on the bar clock. Paper GC: a cooldown of 2 bars (default) for every strategy, the
-- stop-loss guard on MGC (3 stop-outs in 60 minutes lock 60), a max drawdown of 100.00 locking 30 minutes.
-- ===================================================================================================
-- a fire on a bar, and a close on a bar, as the dispatcher does them
CREATE FUNCTION pg_temp.fire(u uuid, s uuid, side text, price numeric, bar text) RETURNS text LANGUAGE sql AS $$
    SELECT r ->> 'decision' || coalesce(' ' || (r #>> '{blocked,triggered_limit}') || ' ' || (r #>> '{blocked,reason}'), '')
      FROM ex7.fire_signal(u, s, 'paper', side, 1, price, ('2026-03-02 ' || bar || '+00')::timestamptz) AS r;
$$;
CREATE FUNCTION pg_temp.close(u uuid, s uuid, price numeric, reason text, bar text) RETURNS text LANGUAGE sql AS $$
    SELECT string_agg(c.close_reason || ' ' || c.net_pnl, ', ')
      FROM ex7.signals x,
           LATERAL ex7._close_at(x, price, 'closed', reason, ('2026-03-02 ' || bar || '+00')::timestamptz) AS c
     WHERE x.user_id = u AND x.strategy_id = s AND x.status = 'open';
$$;
SELECT pg_temp.fire(:'ua', :'s_gc', 'long', 2000.0, '10:00') AS fire_1,
       pg_temp.close(:'ua', :'s_gc', 2001.0, 'take_profit', '10:05') AS close_1;
-- the cooldown locked the strategy for 2 bars of 5m: 10:05 to 10:15
SELECT kind, strategy_id = :'s_gc' AS on_strategy, instrument, locked_at AT TIME ZONE 'UTC' AS locked_at,
       until AT TIME ZONE 'UTC' AS until, observed, "limit"
  FROM ex7.risk_locks WHERE user_id = :'ua' ORDER BY created_at, id;
-- an entry on the bar of the close and on the next is refused; the one on 10:15 passes
SELECT pg_temp.fire(:'ua', :'s_gc', 'long', 2001.0, '10:05') AS same_bar,
       pg_temp.fire(:'ua', :'s_gc', 'short', 2001.0, '10:10') AS next_bar,
       pg_temp.fire(:'ua', :'s_mgc', 'long', 2001.0, '10:10') AS other_strategy,
       pg_temp.fire(:'ua', :'s_gc', 'long', 2001.0, '10:15') AS expired;
-- the refusal is in the blocked log like a breaker's, with the lock in its snapshot
SELECT triggered_limit, reason, observed, "limit", reason_json #>> '{blocked_reason,lock_id}' IS NOT NULL AS names_lock
  FROM ex7.signals_blocked WHERE user_id = :'ua' ORDER BY blocked_at, bar_ts;
-- the lock is an event on the stream (no signal) and a notification
SELECT kind, signal_id, payload ->> 'kind' AS lock_kind, payload ->> 'reason' AS reason
  FROM ex7.signal_events WHERE user_id = :'ua' AND kind = 'risk_lock' ORDER BY seq;
SELECT type, title FROM ex7.notifications WHERE user_id = :'ua' AND type = 'risk_lock' ORDER BY created_at;
-- a lock never blocks an exit: the position opened at 10:15 closes on 10:20, and a new cooldown follows
SELECT pg_temp.close(:'ua', :'s_gc', 1999.0, 'stop_loss', '10:20') AS exit_ok,
       pg_temp.fire(:'ua', :'s_gc', 'long', 1999.0, '10:25') AS locked_again;

-- stop-loss guard on MGC: three stop-outs within 60 minutes (the MGC long of 10:10 exits first, at a
-- profit: not a stop-out)
SELECT pg_temp.close(:'ua', :'s_mgc', 2002.0, 'exit_signal', '10:30') AS flat_mgc;
SELECT pg_temp.fire(:'ua', :'s_mgc', 'long', 2000.0, b) || ' / ' || pg_temp.close(:'ua', :'s_mgc', 1999.0, 'stop_loss', c) AS round
  FROM (VALUES ('11:00', '11:05'), ('11:20', '11:25'), ('11:40', '11:45')) AS v(b, c);
SELECT kind, strategy_id IS NULL AS all_strategies, instrument, until AT TIME ZONE 'UTC' AS until, observed, "limit"
  FROM ex7.risk_locks WHERE user_id = :'ua' AND kind = 'stoploss_guard';
-- the guard's lock blocks the instrument MGC (not GC, whose cooldown has run out by 12:00)
SELECT pg_temp.fire(:'ua', :'s_mgc', 'long', 1999.0, '12:00') AS mgc,
       pg_temp.fire(:'ua', :'s_gc', 'long', 2000.0, '12:00') AS gc;

-- the report: no user-wide lock, so trading is allowed; the locks are listed
SELECT (ex7.risk_state(:'ua', 'paper') ->> 'trading_allowed') AS allowed;
SELECT x ->> 'kind' AS kind, x ->> 'scope' AS scope, x ->> 'reason' AS reason, x ->> 'active' AS active
  FROM jsonb_array_elements(ex7.list_locks(:'ua', 'paper', 'all') -> 'items') AS x
 ORDER BY x ->> 'locked_at', x ->> 'kind';
-- pages of one, newest first, by cursor
SELECT jsonb_array_length(p1 -> 'items') AS page_1, p1 ->> 'next_cursor' IS NOT NULL AS more,
       (ex7.list_locks(:'ua', NULL, 'all', p1 ->> 'next_cursor', 1) #>> '{items,0,id}') <> (p1 #>> '{items,0,id}') AS page_2_differs
  FROM ex7.list_locks(:'ua', NULL, 'all', NULL, 1) AS p1;
-- locks of 2026-03-02 are long expired by the wall clock: none is active, none can be lifted
SELECT jsonb_array_length(ex7.list_locks(:'ua') -> 'items') AS active_now;
SELECT id AS l_guard FROM ex7.risk_locks WHERE user_id = :'ua' AND kind = 'stoploss_guard' \gset
SELECT ex7_test.err(format('SELECT ex7.lift_lock(%L, %L)', :'ua', :'l_guard')) ~ '^X7409: lock is not active' AS lift_expired,
       ex7_test.err(format('SELECT ex7.lift_lock(%L, %L)', :'ub', :'l_guard')) AS lift_theirs,
       ex7_test.err(format('SELECT ex7.list_locks(%L, NULL, %L)', :'ua', 'expired')) AS bad_state;

-- ===================================================================================================
-- A lock that lasts into the future (user C, on now's clock): a user-wide max drawdown refuses every
-- strategy, GET /api/risk reports it, and lifting it lets entries through again.
-- ===================================================================================================
\set uc '00000000-0000-4000-8000-7e0000000053'
SELECT ex7.ensure_user(:'uc') IS NOT NULL AS ready_c, ex7_test.accept_compliance(ARRAY[:'uc']::uuid[]) AS accepted_c;
SELECT (ex7.create_strategy(:'uc', '{"name": "Gold", "instrument": "GC", "timeframe": "5m"}') ->> 'id') AS c_gc,
       (ex7.create_strategy(:'uc', '{"name": "Micro gold", "instrument": "MGC", "timeframe": "5m"}') ->> 'id') AS c_mgc \gset
SELECT ex7.set_risk_limits(:'uc', 'paper', '{"max_open_positions": 10, "max_trades_per_day": 100, "daily_loss_limit": 100000}') ->> 'max_open_positions' AS roomy;
SELECT ex7.create_protection(:'uc', '{"kind": "max_drawdown", "max_drawdown": "5.00", "lock_minutes": 30}') ->> 'kind' AS dd;
SELECT ex7.fire_signal(:'uc', :'c_gc', 'paper', 'long', 1, 2000.0, now()) ->> 'decision' AS fired_now;
SELECT string_agg(c.close_reason || ' ' || c.net_pnl, ', ') AS lost
  FROM ex7.signals x, LATERAL ex7._close_at(x, 1999.0, 'closed', 'stop_loss', now()) AS c
 WHERE x.user_id = :'uc' AND x.status = 'open';
SELECT l.kind, l.strategy_id IS NULL AND l.instrument IS NULL AS user_wide, l.observed, l."limit",
       l.until - l.locked_at AS lasts
  FROM ex7.risk_locks l WHERE l.user_id = :'uc';
SELECT r ->> 'trading_allowed' AS allowed, r #>> '{blocked_reason,breaker}' AS breaker, r #>> '{blocked_reason,reason}' AS reason
  FROM ex7.risk_state(:'uc', 'paper') AS r;
SELECT ex7.fire_signal(:'uc', :'c_mgc', 'paper', 'short', 1, 2000.0, now()) #>> '{blocked,triggered_limit}' AS mgc_refused;
SELECT jsonb_array_length(ex7.list_locks(:'uc') -> 'items') AS active_now;
SELECT id AS l_dd FROM ex7.risk_locks WHERE user_id = :'uc' \gset
SELECT r ->> 'active' AS active_after, (r ->> 'lifted_at') IS NOT NULL AS lifted
  FROM ex7.lift_lock(:'uc', :'l_dd') AS r;
SELECT ex7_test.err(format('SELECT ex7.lift_lock(%L, %L)', :'uc', :'l_dd')) ~ '^X7409: lock is not active \| \{"code": "lock_not_active"' AS lift_again;
SELECT ex7.fire_signal(:'uc', :'c_mgc', 'paper', 'short', 1, 2000.0, now()) ->> 'decision' AS after_lift;

-- ===================================================================================================
-- The trading state (user C): reducing, halted, flatten, and the service's.
-- ===================================================================================================
DELETE FROM ex7.risk_protections WHERE user_id = :'uc';
CREATE FUNCTION pg_temp.state(j jsonb) RETURNS jsonb LANGUAGE sql AS $$
    SELECT (j - ARRAY['changed_at', 'event_id', 'flattened', 'service'])
           || jsonb_build_object('service', (SELECT coalesce(jsonb_agg(x - 'changed_at'), '[]') FROM jsonb_array_elements(j -> 'service') x));
$$;
SELECT pg_temp.state(ex7.get_trading_state(:'uc', 'paper')) AS initial;
SELECT ex7_test.err(format('SELECT ex7.set_trading_state(%L, %L, %L)', :'uc', m, b)) AS state_errors
  FROM (VALUES ('paper', '[]'), ('paper', '{}'), ('paper', '{"state": "paused", "flatten": 1, "why": "x"}'),
               ('paper', '{"state": "reducing", "flatten": true}'), ('demo', '{"state": "halted"}')) AS v(m, b);
-- open: MGC short 1; reducing lets a long of 1 through (net -1 to 0), not a long of 2 (it would flip)
SELECT ex7._net_position(:'uc', 'paper', 'MGC') AS net_mgc;
SELECT pg_temp.state(ex7.set_trading_state(:'uc', 'paper', '{"state": "reducing", "reason": "wind down"}')) AS reducing;
SELECT pg_temp.fire(:'uc', :'c_gc', 'long', 2000.0, '13:00') AS gc_no_position,
       (ex7.fire_signal(:'uc', :'c_mgc', 'paper', 'long', 2, 2000.0, now()) #>> '{blocked,reason}') AS flips,
       (ex7.fire_signal(:'uc', :'c_mgc', 'paper', 'long', 1, 2000.0, now()) ->> 'decision') AS reduces;
SELECT triggered_limit, reason, observed, "limit" FROM ex7.signals_blocked
 WHERE user_id = :'uc' AND triggered_limit = 'trading_state' ORDER BY blocked_at, "limit";
-- halted refuses every entry, and GET /api/risk says so; live is another pool
SELECT pg_temp.state(ex7.set_trading_state(:'uc', 'paper', '{"state": "halted"}')) AS halted;
SELECT (ex7.fire_signal(:'uc', :'c_mgc', 'paper', 'short', 1, 2000.0, now()) #>> '{blocked,reason}') AS refused;
SELECT r ->> 'trading_allowed' AS allowed, r -> 'blocked_reason' AS blocked_reason, r #>> '{trading_state,state}' AS state
  FROM ex7.risk_state(:'uc', 'paper') AS r;
SELECT ex7.get_trading_state(:'uc', 'live') ->> 'state' AS live_state;
-- exits go on while halted
SELECT (ex7.close_signal(:'uc', x.id, 2000.0)) ->> 'status' AS closed_while_halted
  FROM ex7.signals x WHERE x.user_id = :'uc' AND x.status = 'open' AND x.instrument = 'MGC' AND x.side = 'long';
-- flatten: GC and MGC are open; GC has no bar, so nothing is closed nor changed
SELECT (ex7.set_trading_state(:'uc', 'paper', '{"state": "active"}')) ->> 'state' AS active,
       ex7.fire_signal(:'uc', :'c_gc', 'paper', 'short', 2, 2000.0, now()) ->> 'decision' AS gc_short;
SELECT instrument, side, size FROM ex7.signals WHERE user_id = :'uc' AND status = 'open' ORDER BY instrument, fired_at;
SELECT ex7_test.err(format('SELECT ex7.set_trading_state(%L, %L, %L)', :'uc', 'paper', '{"state": "halted", "flatten": true}')) AS no_mark;
SELECT count(*) AS still_open, (SELECT ex7.get_trading_state(:'uc', 'paper') ->> 'state') AS unchanged
  FROM ex7.signals WHERE user_id = :'uc' AND status = 'open';
-- with fresh marks for both (a bar of this minute, written directly: the session calendar may be closed
-- now), every open signal closes at its mark: close_reason kill_switch, P&L by compute_pnl
INSERT INTO ex7.bars (instrument, timeframe, ts, open, high, low, close, volume)
VALUES ('GC', '1m', date_trunc('minute', now()), 2003.0, 2004.0, 2002.0, 2003.0, 10),
       ('MGC', '1m', date_trunc('minute', now()), 1998.0, 1999.0, 1997.0, 1998.0, 10);
SELECT r ->> 'state' AS state,
       (SELECT string_agg((x ->> 'instrument') || ' ' || (x ->> 'side') || ' ' || (x ->> 'close_reason') || ' '
                          || (x ->> 'close_price') || ' ' || (x ->> 'net_pnl'), ', ' ORDER BY x ->> 'instrument')
          FROM jsonb_array_elements(r -> 'flattened') x) AS flattened
  FROM ex7.set_trading_state(:'uc', 'paper', '{"state": "halted", "flatten": true, "reason": "kill"}') AS r;
SELECT count(*) AS open_after FROM ex7.signals WHERE user_id = :'uc' AND status = 'open';
DELETE FROM ex7.bars WHERE instrument IN ('GC', 'MGC') AND timeframe = '1m' AND ts = date_trunc('minute', now());
-- each change is a trading_state event (no signal, no strategy) and a notification
SELECT count(*) AS state_events, count(*) FILTER (WHERE signal_id IS NULL AND strategy_id IS NULL) AS bare,
       array_agg(payload ->> 'state' ORDER BY seq) AS states
  FROM ex7.signal_events WHERE user_id = :'uc' AND kind = 'trading_state';
SELECT title FROM ex7.notifications WHERE user_id = :'uc' AND type = 'trading_state' ORDER BY created_at, id;
SELECT (ex7.set_trading_state(:'uc', 'paper', '{"state": "active"}')) ->> 'state' AS active_again,
       pg_temp.fire(:'uc', :'c_gc', 'long', 2000.0, '14:00') AS fires;

-- the service: every instrument, or one
SELECT ex7_test.err(format('SELECT ex7.set_service_trading_state(%L)', b)) AS service_errors
  FROM unnest(ARRAY['{"state": "halted", "scope": "XYZ"}', '{"scope": "*"}', '{"state": "halted", "flatten": true}']) AS b;
SELECT (SELECT jsonb_agg(x - 'changed_at') FROM jsonb_array_elements(r -> 'items') x) AS service,
       (ex7.service_trading_states() = r) AS listed
  FROM ex7.set_service_trading_state('{"scope": "mgc", "state": "halted", "reason": "exchange incident"}') AS r;
SELECT pg_temp.fire(:'uc', :'c_mgc', 'long', 2000.0, '14:05') AS mgc_halted,
       pg_temp.fire(:'ub', :'s_theirs', 'long', 2000.0, '14:05') AS other_user_gc;
SELECT observed FROM ex7.signals_blocked WHERE user_id = :'uc' ORDER BY blocked_at DESC, id DESC LIMIT 1;
SELECT (SELECT jsonb_agg(x - 'changed_at') FROM jsonb_array_elements(ex7.set_service_trading_state('{"state": "reducing"}') -> 'items') x) AS both_scopes;
SELECT r ->> 'effective' AS effective, r ->> 'effective_source' AS source, r ->> 'state' AS own
  FROM ex7.get_trading_state(:'ub', 'paper') AS r;
-- B is long 1 GC: a short of 1 reduces it, a second short would open the other side
SELECT pg_temp.fire(:'ub', :'s_theirs', 'short', 2000.0, '14:10') AS reduces_their_long,
       pg_temp.fire(:'ub', :'s_theirs', 'short', 2000.0, '14:10') AS would_flip;
SELECT ex7.set_service_trading_state('{"scope": "*", "state": "active"}') -> 'items' -> 0 ->> 'instrument' AS left,
       ex7.set_service_trading_state('{"scope": "MGC", "state": "active"}') -> 'items' AS none;
-- bound roles may not set the service's state
SELECT has_function_privilege('ex7_user', 'ex7.set_service_trading_state(jsonb)', 'EXECUTE') AS user_may_halt_service;
