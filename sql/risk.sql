-- sql/risk.sql: the risk gate (ext/risk.c, ext/sql/50_risk.sql). The trading day across 18:00 New York
-- and DST, the limits and their 422s, each breaker at exactly its limit, the order of the breakers, the
-- separate paper and live pools, fail-closed, and the record of refusals (list_blocked).
\set u1 '00000000-0000-4000-8000-000000000201'
\set u2 '00000000-0000-4000-8000-000000000202'
\set u3 '00000000-0000-4000-8000-000000000203'
\set u4 '00000000-0000-4000-8000-000000000204'
\set u5 '00000000-0000-4000-8000-000000000205'
\set u6 '00000000-0000-4000-8000-000000000206'
\set u7 '00000000-0000-4000-8000-000000000207'
\set u8 '00000000-0000-4000-8000-000000000208'
\set u9 '00000000-0000-4000-8000-000000000209'
\set u10 '00000000-0000-4000-8000-000000000210'

-- Fixtures. Each user gets one MNQ strategy (id: the user id with 'a' in front of its last group);
-- signals are inserted directly with the times and net P&L each case needs.
CREATE FUNCTION ex7_test.risk_user(p_user uuid) RETURNS uuid LANGUAGE plpgsql AS $$
DECLARE
    v_sid uuid := overlay(p_user::text placing 'a' from 25 for 1)::uuid;
BEGIN
    PERFORM ex7.ensure_user(p_user);
    INSERT INTO ex7.strategies (id, user_id, name, instrument, timeframe, etag)
    VALUES (v_sid, p_user, 'risk fixture', 'MNQ', '2m', 'etag-fixture');
    INSERT INTO ex7.strategy_versions (strategy_id, version, user_id, graph) VALUES (v_sid, 1, p_user, '{}');
    RETURN v_sid;
END
$$;
-- p_count signals: open when p_closed_at is NULL, otherwise closed with net P&L p_net
CREATE PROCEDURE ex7_test.risk_sig(p_user uuid, p_mode text, p_fired_at timestamptz, p_closed_at timestamptz DEFAULT NULL,
                                   p_net numeric DEFAULT NULL, p_count integer DEFAULT 1) LANGUAGE sql AS $$
    INSERT INTO ex7.signals (user_id, strategy_id, strategy_version, instrument, timeframe, mode, side, size,
                             entry_price, bar_ts, fired_at, status, close_reason, close_price, closed_at, net_pnl)
    SELECT p_user, overlay(p_user::text placing 'a' from 25 for 1)::uuid, 1, 'MNQ', '2m', p_mode, 'long', 1,
            20000.00, p_fired_at, p_fired_at, CASE WHEN p_closed_at IS NULL THEN 'open' ELSE 'closed' END,
            CASE WHEN p_closed_at IS NOT NULL THEN 'exit_signal' END,
            CASE WHEN p_closed_at IS NOT NULL THEN 20000.00 END, p_closed_at, p_net
    FROM generate_series(1, p_count);
$$;
-- the state as one row
CREATE FUNCTION ex7_test.risk_row(j jsonb, OUT allowed text, OUT breaker text, OUT reason text, OUT observed text,
                                  OUT "limit" text, OUT realized text, OUT trades text, OUT open text, OUT consec text)
LANGUAGE sql AS $$
    SELECT j ->> 'trading_allowed', j #>> '{blocked_reason,breaker}', j #>> '{blocked_reason,reason}',
           j #>> '{blocked_reason,observed}', j #>> '{blocked_reason,limit}', j ->> 'realized_pnl_today',
           j ->> 'trades_today', j ->> 'open_positions', j ->> 'consecutive_losses';
$$;

-- ===================================================================================================
-- The trading day: the latest 18:00 America/New_York at or before the instant (facts.md, CME Globex).
-- ===================================================================================================
SELECT t AS at, ex7.trading_day_start(t::timestamptz) AT TIME ZONE 'America/New_York' AS starts_new_york,
       ex7.trading_day_start(t::timestamptz) AT TIME ZONE 'UTC' AS starts_utc
  FROM unnest(ARRAY[
    '2026-04-20 17:59:59.999999 America/New_York',   -- Monday, one microsecond before the open
    '2026-04-20 18:00:00 America/New_York',          -- exactly 18:00: a new trading day
    '2026-04-20 18:00:00.000001 America/New_York',
    '2026-04-21 00:30:00 America/New_York',          -- after midnight: still Monday evening's day
    '2026-04-21 16:59:00 America/New_York',          -- end of the session
    '2026-04-21 17:30:00 America/New_York',          -- the daily break belongs to the closing day
    '2026-04-18 12:00:00 America/New_York',          -- Saturday: Friday 18:00 (no signals fire then)
    '2026-04-19 18:30:00 America/New_York'           -- Sunday's reopen starts Monday's trading day
  ]) AS t;

-- DST: 2026-03-08 02:00 (EST -> EDT) and 2026-11-01 02:00 (EDT -> EST). The start stays 18:00 New York
-- time, so the trading day containing the change lasts 23 hours, and 25 hours in November.
SELECT t AS at, ex7.trading_day_start(t::timestamptz) AT TIME ZONE 'America/New_York' AS starts_new_york,
       ex7.trading_day_start(t::timestamptz) AT TIME ZONE 'UTC' AS starts_utc
  FROM unnest(ARRAY[
    '2026-03-08 01:59:59 America/New_York',          -- EST, just before the change
    '2026-03-08 03:00:00 America/New_York',          -- EDT, just after it: same day, started in EST
    '2026-03-08 18:00:00 America/New_York',          -- first start in EDT: 22:00 UTC
    '2026-11-01 01:30:00 EDT',                       -- the first 01:30
    '2026-11-01 01:30:00 EST',                       -- the second 01:30, same trading day
    '2026-11-01 18:00:00 America/New_York'           -- first start in EST: 23:00 UTC
  ]) AS t;
SELECT ex7.trading_day_start('2026-03-08 18:00 America/New_York') - ex7.trading_day_start('2026-03-08 12:00 America/New_York') AS march_day,
       ex7.trading_day_start('2026-11-01 18:00 America/New_York') - ex7.trading_day_start('2026-11-01 12:00 America/New_York') AS november_day,
       ex7.trading_day_start('2026-04-21 18:00 America/New_York') - ex7.trading_day_start('2026-04-21 12:00 America/New_York') AS april_day;

-- independent of the session time zone; STABLE (tz rules can change), STRICT
SET TimeZone = 'Asia/Tokyo';
SELECT ex7.trading_day_start('2026-04-20 22:00:00+00') = '2026-04-20 22:00:00+00' AS tokyo_session_same;
RESET TimeZone;
SELECT ex7.trading_day_start('2026-04-20 22:00:00+00') = '2026-04-20 22:00:00+00' AS default_session_same,
       ex7.trading_day_start(NULL) IS NULL AS strict;
SELECT provolatile, proisstrict, proparallel FROM pg_proc WHERE oid = 'ex7.trading_day_start(timestamptz)'::regprocedure;

-- ===================================================================================================
-- The decision (C): each breaker one below its limit passes, at its limit trips; first match wins.
-- ===================================================================================================
SELECT c.name, ex7.risk_decide(500.00, 6, 3, 5, c.realized, c.trades, c.open, c.consec) AS blocked_reason
  FROM (VALUES ('nothing',                 0.00::numeric, 0, 0, 0),
               ('loss one cent short',     -499.99, 0, 0, 0),
               ('loss at the limit',       -500.00, 0, 0, 0),
               ('loss beyond the limit',   -512.5, 0, 0, 0),
               ('profit',                  1000.00, 0, 0, 0),
               ('trades one below',        0.00, 5, 0, 0),
               ('trades at the limit',     0.00, 6, 0, 0),
               ('open one below',          0.00, 0, 2, 0),
               ('open at the limit',       0.00, 0, 3, 0),
               ('losses one below',        0.00, 0, 0, 4),
               ('losses at the limit',     0.00, 0, 0, 5),
               ('all four: loss first',    -500.00, 6, 3, 5),
               ('trades, open, losses',    -499.99, 6, 3, 5),
               ('open and losses',         -499.99, 5, 3, 5),
               ('only losses',             -499.99, 5, 2, 5)) AS c(name, realized, trades, open, consec);
-- money keeps its digits and gets at least two decimals; a limit of 500 reads "-500.00"
SELECT ex7.risk_decide(500, 6, 3, 5, -500.125, 0, 0, 0) ->> 'observed' AS observed,
       ex7.risk_decide(500, 6, 3, 5, -500.125, 0, 0, 0) ->> 'limit' AS "limit",
       ex7.risk_decide(0.5, 6, 3, 5, -1, 0, 0, 0) ->> 'limit' AS half_dollar;
-- bad inputs never read as "allowed": they raise (and the wrapper fails closed, below)
SELECT ex7_test.err($$SELECT ex7.risk_decide(500, 6, 3, 5, NULL, 0, 0, 0)$$);
SELECT ex7_test.err($$SELECT ex7.risk_decide(NULL, 6, 3, 5, 0, 0, 0, 0)$$);
SELECT ex7_test.err($$SELECT ex7.risk_decide('NaN', 6, 3, 5, 0, 0, 0, 0)$$);
SELECT ex7_test.err($$SELECT ex7.risk_decide('Infinity', 6, 3, 5, 0, 0, 0, 0)$$);
SELECT ex7_test.err($$SELECT ex7.risk_decide(500, 6, 3, 5, 0, -1, 0, 0)$$);

-- ===================================================================================================
-- Limits: defaults, get, set, and every 422.
-- ===================================================================================================
SELECT ex7_test.risk_user(:'u1') IS NOT NULL AS u1_ready;
-- the defaults _risk_limits repeats are the table's column defaults (10_schema.sql)
SELECT c.column_name, c.column_default,
       ex7.get_risk_limits(:'u1', 'paper') ->> c.column_name AS effective,
       (ex7.get_risk_limits(:'u1', 'paper') ->> c.column_name)::numeric = c.column_default::numeric AS agree
  FROM information_schema.columns c
 WHERE c.table_schema = 'ex7' AND c.table_name = 'risk_limits'
   AND c.column_name IN ('daily_loss_limit', 'max_trades_per_day', 'max_open_positions', 'max_consecutive_losses')
 ORDER BY c.ordinal_position;
SELECT ex7.get_risk_limits(:'u1', 'live') - 'updated_at' AS live_defaults;

-- set: only the keys given change; a decimal string or a JSON number for money
SELECT ex7.set_risk_limits(:'u1', 'paper', '{"max_trades_per_day": 6}') - 'updated_at' AS set_trades;
SELECT ex7.set_risk_limits(:'u1', 'paper', '{"daily_loss_limit": "250.5"}') - 'updated_at' AS set_loss_string;
SELECT ex7.set_risk_limits(:'u1', 'paper', '{"daily_loss_limit": 300, "max_open_positions": 2, "max_consecutive_losses": 4}') - 'updated_at' AS set_three;
SELECT ex7.set_risk_limits(:'u1', 'paper', '{}') - 'updated_at' AS set_nothing;
SELECT (ex7.get_risk_limits(:'u1', 'paper') ->> 'updated_at') IS NOT NULL AS paper_has_row,
       ex7.get_risk_limits(:'u1', 'live') ->> 'is_default' AS live_still_default;

-- 422s, each with its locator; several bad keys are reported together
SELECT ex7_test.err(format('SELECT ex7.set_risk_limits(%L, %L, %L)', :'u1', 'demo', '{}'));
SELECT ex7_test.err(format('SELECT ex7.set_risk_limits(%L, NULL, %L)', :'u1', '{}'));
SELECT ex7_test.err(format('SELECT ex7.set_risk_limits(%L, %L, %L)', :'u1', 'paper', '[1]'));
SELECT ex7_test.err(format('SELECT ex7.set_risk_limits(%L, %L, NULL)', :'u1', 'paper'));
SELECT ex7_test.err(format('SELECT ex7.set_risk_limits(%L, %L, %L)', :'u1', 'paper', '{"daily_loss_limit": 0}'));
SELECT ex7_test.err(format('SELECT ex7.set_risk_limits(%L, %L, %L)', :'u1', 'paper', '{"daily_loss_limit": -5}'));
SELECT ex7_test.err(format('SELECT ex7.set_risk_limits(%L, %L, %L)', :'u1', 'paper', '{"daily_loss_limit": 10.001}'));
SELECT ex7_test.err(format('SELECT ex7.set_risk_limits(%L, %L, %L)', :'u1', 'paper', '{"daily_loss_limit": 1000000.01}'));
SELECT ex7_test.err(format('SELECT ex7.set_risk_limits(%L, %L, %L)', :'u1', 'paper', '{"daily_loss_limit": "NaN"}'));
SELECT ex7_test.err(format('SELECT ex7.set_risk_limits(%L, %L, %L)', :'u1', 'paper', '{"daily_loss_limit": null}'));
SELECT ex7_test.err(format('SELECT ex7.set_risk_limits(%L, %L, %L)', :'u1', 'paper', '{"max_trades_per_day": 0}'));
SELECT ex7_test.err(format('SELECT ex7.set_risk_limits(%L, %L, %L)', :'u1', 'paper', '{"max_trades_per_day": 1001}'));
SELECT ex7_test.err(format('SELECT ex7.set_risk_limits(%L, %L, %L)', :'u1', 'paper', '{"max_open_positions": 2.5}'));
SELECT ex7_test.err(format('SELECT ex7.set_risk_limits(%L, %L, %L)', :'u1', 'paper', '{"max_open_positions": "3"}'));
SELECT ex7_test.err(format('SELECT ex7.set_risk_limits(%L, %L, %L)', :'u1', 'paper', '{"max_consecutive_losses": 101}'));
SELECT ex7_test.err(format('SELECT ex7.set_risk_limits(%L, %L, %L)', :'u1', 'paper',
    '{"max_loss": 1, "max_open_positions": 0, "daily_loss_limit": "lots"}'));
-- nothing changed by the refused calls
SELECT ex7.get_risk_limits(:'u1', 'paper') - 'updated_at' AS unchanged;
SELECT ex7_test.err(format('SELECT ex7.get_risk_limits(%L, %L)', :'u1', 'PAPER'));

-- ===================================================================================================
-- Each breaker at exactly its limit, through the state at a fixed instant. Tuesday 2026-04-21 10:00
-- New York; its trading day started Monday 2026-04-20 18:00 New York (22:00 UTC).
-- ===================================================================================================
\set at '''2026-04-21 10:00 America/New_York'''
\set today '''2026-04-21 09:00 America/New_York'''

-- daily_loss_limit (default 500.00): -499.99 passes, -500.00 trips
SELECT ex7_test.risk_user(:'u2') IS NOT NULL AS u2_ready;
CALL ex7_test.risk_sig(:'u2', 'paper', :today, '2026-04-21 09:01 America/New_York', -300.00);
CALL ex7_test.risk_sig(:'u2', 'paper', :today, '2026-04-21 09:02 America/New_York', -199.99);
SELECT * FROM ex7_test.risk_row(ex7._risk_check(:'u2', 'paper', :at));
CALL ex7_test.risk_sig(:'u2', 'paper', :today, '2026-04-21 09:03 America/New_York', 5.00);
CALL ex7_test.risk_sig(:'u2', 'paper', :today, '2026-04-21 09:04 America/New_York', -5.01);
SELECT * FROM ex7_test.risk_row(ex7._risk_check(:'u2', 'paper', :at));
-- the whole report at the fixed instant
SELECT jsonb_pretty(ex7._risk_check(:'u2', 'paper', :at)) AS state;

-- max_trades_per_day (set to 3): every signal fired since the start counts, open or closed, win or loss
SELECT ex7_test.risk_user(:'u3') IS NOT NULL AS u3_ready;
SELECT ex7.set_risk_limits(:'u3', 'paper', '{"max_trades_per_day": 3}') ->> 'max_trades_per_day' AS max_trades;
CALL ex7_test.risk_sig(:'u3', 'paper', :today, :today, 10.00);
CALL ex7_test.risk_sig(:'u3', 'paper', :today, :today, 10.00);
SELECT * FROM ex7_test.risk_row(ex7._risk_check(:'u3', 'paper', :at));
CALL ex7_test.risk_sig(:'u3', 'paper', '2026-04-20 18:00 America/New_York', '2026-04-20 18:05 America/New_York', 10.00);
SELECT * FROM ex7_test.risk_row(ex7._risk_check(:'u3', 'paper', :at));

-- max_open_positions (default 3): open signals of any day count, closed ones do not
SELECT ex7_test.risk_user(:'u4') IS NOT NULL AS u4_ready;
CALL ex7_test.risk_sig(:'u4', 'paper', '2026-04-15 11:00 America/New_York');   -- open for a week
CALL ex7_test.risk_sig(:'u4', 'paper', :today);
CALL ex7_test.risk_sig(:'u4', 'paper', :today, :today, 1.00);
SELECT * FROM ex7_test.risk_row(ex7._risk_check(:'u4', 'paper', :at));
CALL ex7_test.risk_sig(:'u4', 'paper', :today);
SELECT * FROM ex7_test.risk_row(ex7._risk_check(:'u4', 'paper', :at));

-- max_consecutive_losses (set to 3): the trailing run of losing closes today, newest first. A win (or
-- a zero, as a force-close) ends the run; yesterday's losses are not in it.
SELECT ex7_test.risk_user(:'u5') IS NOT NULL AS u5_ready;
SELECT ex7.set_risk_limits(:'u5', 'paper', '{"max_consecutive_losses": 3}') ->> 'max_consecutive_losses' AS max_losses;
CALL ex7_test.risk_sig(:'u5', 'paper', '2026-04-20 10:00 America/New_York', '2026-04-20 16:00 America/New_York', -1.00);
CALL ex7_test.risk_sig(:'u5', 'paper', '2026-04-20 10:00 America/New_York', '2026-04-20 16:01 America/New_York', -1.00);
CALL ex7_test.risk_sig(:'u5', 'paper', :today, '2026-04-21 09:01 America/New_York', -1.00);
CALL ex7_test.risk_sig(:'u5', 'paper', :today, '2026-04-21 09:02 America/New_York', -1.00);
SELECT * FROM ex7_test.risk_row(ex7._risk_check(:'u5', 'paper', :at));
CALL ex7_test.risk_sig(:'u5', 'paper', :today, '2026-04-21 09:03 America/New_York', 0.00);
CALL ex7_test.risk_sig(:'u5', 'paper', :today, '2026-04-21 09:04 America/New_York', -1.00);
CALL ex7_test.risk_sig(:'u5', 'paper', :today, '2026-04-21 09:05 America/New_York', -1.00);
SELECT * FROM ex7_test.risk_row(ex7._risk_check(:'u5', 'paper', :at));
CALL ex7_test.risk_sig(:'u5', 'paper', :today, '2026-04-21 09:06 America/New_York', -1.00);
SELECT * FROM ex7_test.risk_row(ex7._risk_check(:'u5', 'paper', :at));

-- ===================================================================================================
-- Order: with all four tripped the report names daily_loss_limit; lifting each limit in turn reveals
-- the next breaker, in the order daily_loss_limit, max_trades_per_day, max_open_positions,
-- max_consecutive_losses.
-- ===================================================================================================
SELECT ex7_test.risk_user(:'u6') IS NOT NULL AS u6_ready;
SELECT ex7.set_risk_limits(:'u6', 'paper', '{"daily_loss_limit": 100, "max_trades_per_day": 6, "max_open_positions": 2, "max_consecutive_losses": 4}') - 'updated_at' AS limits;
CALL ex7_test.risk_sig(:'u6', 'paper', :today, :today, -25.00, 4);
CALL ex7_test.risk_sig(:'u6', 'paper', :today, NULL, NULL, 2);
SELECT 'all four' AS lifted, * FROM ex7_test.risk_row(ex7._risk_check(:'u6', 'paper', :at));
SELECT ex7.set_risk_limits(:'u6', 'paper', '{"daily_loss_limit": 1000}') IS NOT NULL AS lifted_loss;
SELECT 'loss' AS lifted, * FROM ex7_test.risk_row(ex7._risk_check(:'u6', 'paper', :at));
SELECT ex7.set_risk_limits(:'u6', 'paper', '{"max_trades_per_day": 1000}') IS NOT NULL AS lifted_trades;
SELECT 'trades' AS lifted, * FROM ex7_test.risk_row(ex7._risk_check(:'u6', 'paper', :at));
SELECT ex7.set_risk_limits(:'u6', 'paper', '{"max_open_positions": 100}') IS NOT NULL AS lifted_open;
SELECT 'open' AS lifted, * FROM ex7_test.risk_row(ex7._risk_check(:'u6', 'paper', :at));
SELECT ex7.set_risk_limits(:'u6', 'paper', '{"max_consecutive_losses": 100}') IS NOT NULL AS lifted_losses;
SELECT 'losses' AS lifted, * FROM ex7_test.risk_row(ex7._risk_check(:'u6', 'paper', :at));

-- ===================================================================================================
-- Pools: "Paper losses do NOT consume live slots and vice versa" (Get Risk). u6's paper trades,
-- losses and open positions leave its live pool untouched; live limits are separate too.
-- ===================================================================================================
SELECT 'live' AS pool, * FROM ex7_test.risk_row(ex7._risk_check(:'u6', 'live', :at));
CALL ex7_test.risk_sig(:'u6', 'live', :today, NULL, NULL, 3);
SELECT 'live' AS pool, * FROM ex7_test.risk_row(ex7._risk_check(:'u6', 'live', :at));
SELECT 'paper' AS pool, * FROM ex7_test.risk_row(ex7._risk_check(:'u6', 'paper', :at));
SELECT ex7.get_risk_limits(:'u6', 'live') ->> 'max_open_positions' AS live_max_open,
       ex7.get_risk_limits(:'u6', 'paper') ->> 'max_open_positions' AS paper_max_open;
-- another user's losses are not ours
SELECT 'u1' AS whose, * FROM ex7_test.risk_row(ex7._risk_check(:'u1', 'paper', :at));

-- ===================================================================================================
-- The trading-day boundary. A close one microsecond before Monday 18:00 New York belongs to Monday's
-- day and does not count on Tuesday; one exactly at 18:00 counts. Trades likewise by fired_at.
-- ===================================================================================================
SELECT ex7_test.risk_user(:'u7') IS NOT NULL AS u7_ready;
CALL ex7_test.risk_sig(:'u7', 'paper', '2026-04-20 17:59:59.999999 America/New_York',
                         '2026-04-20 17:59:59.999999 America/New_York', -1000.00);
SELECT * FROM ex7_test.risk_row(ex7._risk_check(:'u7', 'paper', :at));
SELECT * FROM ex7_test.risk_row(ex7._risk_check(:'u7', 'paper', '2026-04-20 17:59:59.999999 America/New_York'));
CALL ex7_test.risk_sig(:'u7', 'paper', '2026-04-20 18:00 America/New_York', '2026-04-20 18:00 America/New_York', -1.00);
SELECT * FROM ex7_test.risk_row(ex7._risk_check(:'u7', 'paper', :at));
-- the report says which day it counted
SELECT ex7._risk_check(:'u7', 'paper', :at) ->> 'trading_day_start' AS trading_day_start;

-- DST: on Monday 2026-03-09 the day started Sunday 2026-03-08 18:00 EDT = 22:00 UTC (not 23:00 as in
-- winter). A close at 22:30 UTC is inside it; one at 21:59:59 UTC (17:59:59 EDT) is not. (A fresh
-- user: the state counts everything since the day start, so later rows would count too.)
SELECT ex7_test.risk_user(:'u10') IS NOT NULL AS u10_ready;
CALL ex7_test.risk_sig(:'u10', 'paper', '2026-03-08 21:59:59+00', '2026-03-08 21:59:59+00', -400.00);
CALL ex7_test.risk_sig(:'u10', 'paper', '2026-03-08 22:30:00+00', '2026-03-08 22:30:00+00', -7.50);
SELECT * FROM ex7_test.risk_row(ex7._risk_check(:'u10', 'paper', '2026-03-09 10:00 America/New_York'));
-- November: Monday 2026-11-02's day started Sunday 18:00 EST = 23:00 UTC; a close at 22:30 UTC
-- (17:30 EST, in the break) belongs to the day before.
CALL ex7_test.risk_sig(:'u10', 'paper', '2026-11-01 22:30:00+00', '2026-11-01 22:30:00+00', -400.00);
CALL ex7_test.risk_sig(:'u10', 'paper', '2026-11-01 23:00:00+00', '2026-11-01 23:00:00+00', -2.25);
SELECT * FROM ex7_test.risk_row(ex7._risk_check(:'u10', 'paper', '2026-11-02 10:00 America/New_York'));

-- ===================================================================================================
-- risk_state: the public report at now(). Mode 422; fail-closed.
-- ===================================================================================================
SELECT ex7_test.risk_user(:'u8') IS NOT NULL AS u8_ready;
SELECT * FROM ex7_test.risk_row(ex7.risk_state(:'u8', 'paper'));
SELECT jsonb_object_keys(ex7.risk_state(:'u8', 'paper')) AS report_keys ORDER BY 1;
SELECT ex7.risk_state(:'u8', 'paper') -> 'trading_day_start' = to_jsonb(ex7.trading_day_start(now())) AS day_of_now,
       ex7.risk_state(:'u8', 'paper') -> 'checked_at' = to_jsonb(now()) AS checked_now;
SELECT ex7_test.err(format('SELECT ex7.risk_state(%L, %L)', :'u8', 'demo'));
SELECT ex7_test.err(format('SELECT ex7.risk_state(%L, NULL)', :'u8'));
SELECT ex7_test.err($$SELECT ex7.risk_state(NULL, 'paper')$$);

-- Fail closed, 1: the state cannot be computed (a column the query needs is gone, inside a
-- transaction rolled back afterwards). "Never returns 500 — fail-closed" (Get Risk): the report says
-- trading is not allowed, breaker 'error', the SQLSTATE as the observed value; and the gate refuses a
-- fire for the same reason and records it.
BEGIN;
ALTER TABLE ex7.signals RENAME COLUMN net_pnl TO net_pnl_gone;
SELECT ex7.risk_state(:'u8', 'paper') - 'checked_at' AS failed_closed;
SELECT ex7.fire_signal(:'u8', overlay(:'u8' placing 'a' from 25 for 1)::uuid, 'paper', 'long', 1, 20000.25,
                       '2026-04-21 14:00+00') #>> '{blocked,triggered_limit}' AS fire_blocked_by;
SELECT triggered_limit, reason, observed, "limit", reason_json ->> 'trading_allowed' AS allowed
  FROM ex7.signals_blocked WHERE user_id = :'u8';
ROLLBACK;

-- Fail closed, 2: a limit that passes the table's CHECK (> 0) but is no number to compare with. NaN and
-- Infinity are "greater than 0" for numeric; the C decision refuses them, so the gate refuses to trade.
INSERT INTO ex7.risk_limits (user_id, mode, daily_loss_limit) VALUES (:'u8', 'live', 'NaN');
SELECT * FROM ex7_test.risk_row(ex7.risk_state(:'u8', 'live'));
UPDATE ex7.risk_limits SET daily_loss_limit = 'Infinity' WHERE user_id = :'u8' AND mode = 'live';
SELECT * FROM ex7_test.risk_row(ex7.risk_state(:'u8', 'live'));
DELETE FROM ex7.risk_limits WHERE user_id = :'u8' AND mode = 'live';
SELECT * FROM ex7_test.risk_row(ex7.risk_state(:'u8', 'live'));

-- ===================================================================================================
-- The gate in fire_signal at now(), and the record of refusals (Get Blocked). max_trades_per_day 2:
-- the first two fires pass, the third is refused with observed '2', limit '2'.
-- ===================================================================================================
SELECT ex7_test.risk_user(:'u9') AS s9 \gset
SELECT ex7.set_risk_limits(:'u9', 'paper', '{"max_trades_per_day": 2}') ->> 'max_trades_per_day' AS max_trades;
SELECT n, ex7.fire_signal(:'u9', :'s9', 'paper', 'long', 1, 20000.25, '2026-04-21 14:00+00'::timestamptz + n * interval '2 minutes') ->> 'decision' AS decision
  FROM generate_series(1, 2) AS n;
SELECT ex7.fire_signal(:'u9', :'s9', 'paper', 'short', 2, 20001.00, '2026-04-21 14:06+00') AS r \gset
SELECT :'r'::jsonb ->> 'decision' AS decision,
       (:'r'::jsonb -> 'blocked') - ARRAY['id', 'blocked_at', 'reason_json'] AS blocked,
       :'r'::jsonb #> '{blocked,reason_json,blocked_reason}' AS snapshot_reason,
       :'r'::jsonb #> '{blocked,reason_json,limits}' AS snapshot_limits,
       :'r'::jsonb #>> '{blocked,reason_json,checked_at}' = :'r'::jsonb #>> '{blocked,blocked_at}' AS checked_when_blocked;
-- the refusal is in the audit too, and nothing was inserted or emitted
SELECT decision, signal_id IS NOT NULL AS has_signal, detail - 'blocked_id' AS detail,
       detail ->> 'blocked_id' = :'r'::jsonb #>> '{blocked,id}' AS links_the_block
  FROM ex7.signal_audit WHERE user_id = :'u9' ORDER BY id;
SELECT count(*) AS signals, ex7.last_event_id(:'u9') AS events FROM ex7.signals WHERE user_id = :'u9';
-- live is its own pool: the same strategy fires live
SELECT ex7.fire_signal(:'u9', :'s9', 'live', 'long', 1, 20000.25, '2026-04-21 14:08+00') ->> 'decision' AS live_decision;

-- five refusals in all (one statement each, so blocked_at increases), listed newest first
SELECT ex7.fire_signal(:'u9', :'s9', 'paper', 'long', 1, 20000.25, '2026-04-21 14:10+00') ->> 'decision' AS decision;
SELECT ex7.fire_signal(:'u9', :'s9', 'paper', 'long', 1, 20000.25, '2026-04-21 14:12+00') ->> 'decision' AS decision;
SELECT ex7.fire_signal(:'u9', :'s9', 'paper', 'long', 1, 20000.25, '2026-04-21 14:14+00') ->> 'decision' AS decision;
SELECT ex7.fire_signal(:'u9', :'s9', 'paper', 'long', 1, 20000.25, '2026-04-21 14:16+00') ->> 'decision' AS decision;
SELECT o AS "offset", l ->> 'total' AS total, l ->> 'limit' AS "limit", l ->> 'offset' AS off,
       (SELECT string_agg(i ->> 'bar_ts', ', ' ORDER BY n) FROM jsonb_array_elements(l -> 'items') WITH ORDINALITY AS e(i, n)) AS bar_ts
  FROM generate_series(0, 6, 2) AS o, LATERAL (SELECT ex7.list_blocked(:'u9', 2, o) AS l) AS x;
SELECT jsonb_object_keys(ex7.list_blocked(:'u9')) AS page_keys ORDER BY 1;
SELECT jsonb_object_keys(ex7.list_blocked(:'u9') -> 'items' -> 0) AS item_keys ORDER BY 1;
SELECT (ex7.list_blocked(:'u9') ->> 'timestamp')::timestamptz = now() AS timestamp_now,
       jsonb_array_length(ex7.list_blocked(:'u9') -> 'items') AS default_page;
-- another user sees none of them
SELECT ex7.list_blocked(:'u1') - 'timestamp' AS other_user;
-- limit 1..200, offset >= 0
SELECT ex7_test.err(format('SELECT ex7.list_blocked(%L, 0)', :'u9'));
SELECT ex7_test.err(format('SELECT ex7.list_blocked(%L, 201)', :'u9'));
SELECT ex7_test.err(format('SELECT ex7.list_blocked(%L, NULL)', :'u9'));
SELECT ex7_test.err(format('SELECT ex7.list_blocked(%L, 50, -1)', :'u9'));
SELECT ex7_test.err(format('SELECT ex7.list_blocked(%L, 50, NULL)', :'u9'));
SELECT jsonb_array_length(ex7.list_blocked(:'u9', 200, 0) -> 'items') AS max_limit_ok;

DROP PROCEDURE ex7_test.risk_sig(uuid, text, timestamptz, timestamptz, numeric, integer);
DROP FUNCTION ex7_test.risk_user(uuid), ex7_test.risk_row(jsonb);
