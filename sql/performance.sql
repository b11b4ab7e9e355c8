-- sql/performance.sql: the performance, portfolio and dashboard documents (ext/sql/69_performance.sql,
-- docs/metrics.md "Performance API"): live (paper) statistics of closed signals through
-- ex7.compute_metrics, checked against hand-computed values; the equity curve built from the closes and
-- the UTC day ends; the from/to range; today as the risk gate's trading day; the dashboard's totals;
-- the CFTC 4.41 statement on every document; and another user's strategy as a 404 (BOLA).
\set u1 '00000000-0000-4000-8000-5b0000000001'
\set u2 '00000000-0000-4000-8000-5b0000000002'
\set s1 '00000000-0000-4000-8000-5b00000001a1'
\set s2 '00000000-0000-4000-8000-5b00000001a2'
\set s3 '00000000-0000-4000-8000-5b00000001a3'
\set s4 '00000000-0000-4000-8000-5b00000002a1'

SELECT ex7.ensure_user(u) IS NOT NULL AS ready FROM unnest(ARRAY[:'u1', :'u2']::uuid[]) AS u;
INSERT INTO ex7.strategies (id, user_id, name, instrument, timeframe, etag, status, deleted_at) VALUES
    (:'s1', :'u1', 'alpha', 'MNQ', '5m', 'e1', 'live', NULL),
    (:'s2', :'u1', 'beta', 'ES', '2m', 'e2', 'ready', NULL),
    (:'s3', :'u1', 'gone', 'ES', '2m', 'e3', 'draft', '2026-03-01 00:00+00'),
    (:'s4', :'u2', 'theirs', 'MNQ', '5m', 'e4', 'live', NULL);
INSERT INTO ex7.strategy_versions (strategy_id, version, user_id, graph) VALUES
    (:'s1', 1, :'u1', '{}'), (:'s2', 1, :'u1', '{}'), (:'s3', 1, :'u1', '{}'), (:'s4', 1, :'u2', '{}');

-- Signals, priced by ex7.compute_pnl (docs/pnl.md; MNQ tick 0.25 = 0.50 USD, 0.62 a side; ES tick
-- 12.50 USD, 2.25 a side). UTC; 2026-03-02 is a Monday.
--   n  strategy mode  side  size entry     close     fired        closed        net      tag
--   a  alpha    paper long  1    18000.00  18010.25  03-02 14:00  03-02 14:30    17.26  orb  (41 ticks)
--   b  alpha    paper long  1    18000.00  17990.00  03-03 14:00  03-03 15:00   -23.24  orb  (-40 ticks)
--   c  alpha    paper short 2    18000.00  17950.00  03-04 14:00  03-04 16:00   193.52       (200 t x 2)
--   d  alpha    paper long  1    18000.00  force     03-04 20:00  03-04 21:00     0.00       (force-close)
--   e  alpha    paper long  1    18000.00  open      03-04 21:30
--   f  alpha    live  long  1    18000.00  18005.00  03-02 15:00  03-02 15:30     6.76
--   g  beta     paper long  1     5000.00   5012.50  03-03 14:00  03-03 15:00   570.50
--   h  theirs   paper long  1    18000.00  18100.00  03-02 14:00  03-02 15:00   (another user)
CREATE TEMP TABLE fx (n text, u uuid, s uuid, mode text, side text, size int, entry numeric, close numeric,
                      fired timestamptz, closed timestamptz, reason text, tag text);
INSERT INTO fx VALUES
    ('a', :'u1', :'s1', 'paper', 'long',  1, 18000.00, 18010.25, '2026-03-02 14:00+00', '2026-03-02 14:30+00', 'exit_signal', 'orb'),
    ('b', :'u1', :'s1', 'paper', 'long',  1, 18000.00, 17990.00, '2026-03-03 14:00+00', '2026-03-03 15:00+00', 'stop_loss', 'orb'),
    ('c', :'u1', :'s1', 'paper', 'short', 2, 18000.00, 17950.00, '2026-03-04 14:00+00', '2026-03-04 16:00+00', 'take_profit', NULL),
    ('d', :'u1', :'s1', 'paper', 'long',  1, 18000.00, NULL,     '2026-03-04 20:00+00', '2026-03-04 21:00+00', 'force_close', NULL),
    ('e', :'u1', :'s1', 'paper', 'long',  1, 18000.00, NULL,     '2026-03-04 21:30+00', NULL, NULL, NULL),
    ('f', :'u1', :'s1', 'live',  'long',  1, 18000.00, 18005.00, '2026-03-02 15:00+00', '2026-03-02 15:30+00', 'exit_signal', NULL),
    ('g', :'u1', :'s2', 'paper', 'long',  1,  5000.00,  5012.50, '2026-03-03 14:00+00', '2026-03-03 15:00+00', 'exit_signal', NULL),
    ('h', :'u2', :'s4', 'paper', 'long',  1, 18000.00, 18100.00, '2026-03-02 14:00+00', '2026-03-02 15:00+00', 'exit_signal', NULL);
INSERT INTO ex7.signals (user_id, strategy_id, strategy_version, instrument, timeframe, mode, side, size, entry_price,
                         bar_ts, fired_at, status, close_reason, close_price, closed_at, pnl_points, pnl_ticks,
                         gross_pnl, slippage_ticks, slippage_cost, commission, net_pnl, tag)
SELECT fx.u, fx.s, 1, st.instrument, st.timeframe, fx.mode, fx.side, fx.size, fx.entry, fx.fired, fx.fired,
       CASE WHEN fx.reason IS NULL THEN 'open' WHEN fx.reason = 'force_close' THEN 'cancelled' ELSE 'closed' END,
       fx.reason, CASE WHEN fx.reason = 'force_close' THEN fx.entry ELSE fx.close END, fx.closed,
       p.points, p.ticks, p.gross_pnl, p.slippage_ticks, p.slippage_cost, p.commission,
       CASE WHEN fx.reason = 'force_close' THEN 0.00 ELSE p.net_pnl END, fx.tag
  FROM fx JOIN ex7.strategies st ON st.id = fx.s
  LEFT JOIN LATERAL ex7.compute_pnl(st.instrument, fx.side, fx.size, fx.entry, fx.close) p ON true;
SELECT fx.n, s.status, s.net_pnl FROM fx JOIN ex7.signals s ON s.strategy_id = fx.s AND s.fired_at = fx.fired AND s.mode = fx.mode
 ORDER BY fx.n;

-- ---------------------------------------------------------------------------------------------------
-- The live statistics of alpha (paper), by hand, on the 10000.00 paper capital. Trades a, b, c (the
-- force-close d is no trade; e is open):
--   net 17.26 - 23.24 + 193.52 = 187.54 (1.8754%); gross profit 210.78, gross loss 23.24; 2 wins 1 loss;
--   win rate 0.666667; avg win 105.39, avg loss 23.24; expectancy 187.54 / 3 = 62.5133 -> 62.51;
--   profit factor 210.78 / 23.24 = 9.069707; streaks W L W: 1 and 1.
-- The curve: 03-02 14:00 10000.00 (first entry), 14:30 10017.26, day end 03-03 00:00 10017.26,
--   03-03 15:00 9994.02, day end 03-04 00:00 9994.02, 03-04 16:00 10187.54 (the last close ends it).
-- Drawdown 23.24 from 10017.26, starting at the last instant at that peak (the 03-03 00:00 day end),
--   trough 03-03 15:00, recovered 03-04 16:00: 40 h = 144000 s; 23.24 / 10017.26 = 0.232000%.
-- Daily returns (weekdays): Mon 10017.26/10000 - 1, Tue 9994.02/10017.26 - 1, Wed 10187.54/9994.02 - 1.
-- ---------------------------------------------------------------------------------------------------
SELECT jsonb_pretty(ex7._live_metrics(:'u1', :'s1', 'paper', NULL, NULL, '2026-03-05 00:00+00')->'equity_curve');
SELECT m->>'net_pnl' = '187.54' AND m->'net_pnl_percent' = '1.8754' AND m->>'gross_profit' = '210.78'
       AND m->>'gross_loss' = '23.24' AND m->'trades' = '3' AND m->'winning_trades' = '2'
       AND m->'losing_trades' = '1' AND m->'win_rate' = '0.666667' AND m->>'avg_win' = '105.39'
       AND m->>'avg_loss' = '23.24' AND m->>'expectancy' = '62.51' AND m->'profit_factor' = '9.069707'
       AND m->'max_consecutive_wins' = '1' AND m->'max_consecutive_losses' = '1'
       AND m->>'final_equity' = '10187.54' AS stats_ok,
       m->'max_drawdown' = jsonb_build_object('amount', '23.24', 'percent', round(23.24 / 10017.26 * 100, 6),
                             'peak_equity', '10017.26', 'start', '2026-03-03T00:00:00+00:00',
                             'trough', '2026-03-03T15:00:00+00:00', 'recovery', '2026-03-04T16:00:00+00:00',
                             'duration', 144000) AS drawdown_ok,
       round((m->>'sharpe')::numeric, 6) = round((SELECT avg(r) / stddev_samp(r) * sqrt(252) FROM (VALUES
           (10017.26 / 10000.00 - 1), (9994.02 / 10017.26 - 1), (10187.54 / 9994.02 - 1)) v(r))::numeric, 6)
         AS sharpe_ok,
       m->'returns'->'periods' AS periods, m->'excursions'->'trades' AS excursions_known,
       m->'breakdowns'->'by_tag' AS by_tag
  FROM (SELECT ex7._live_metrics(:'u1', :'s1', 'paper', NULL, NULL, '2026-03-05 00:00+00')->'metrics' AS m) x;

-- A range [03-03, 03-04): only b. The curve starts at from with the capital and ends at to.
SELECT jsonb_pretty(ex7._live_metrics(:'u1', :'s1', 'paper', '2026-03-03 00:00+00', '2026-03-04 00:00+00',
                                      '2026-03-05 00:00+00')->'equity_curve');
-- A to in the future ends the curve at the present (p_at): 03-04 18:00, after c's close.
SELECT e->>'ts' AS last_ts, e->>'equity' AS last_equity
  FROM jsonb_array_elements(ex7._live_metrics(:'u1', :'s1', 'paper', '2026-03-04 00:00+00', '2027-01-01 00:00+00',
                                              '2026-03-04 18:00+00')->'equity_curve') WITH ORDINALITY AS x(e, i)
 ORDER BY i DESC LIMIT 1;
-- live mode is its own pool: f only (6.76).
SELECT m->>'net_pnl' AS live_net, m->'trades' AS live_trades
  FROM (SELECT ex7._live_metrics(:'u1', :'s1', 'live', NULL, NULL, '2026-03-05 00:00+00')->'metrics' AS m) x;

-- ---------------------------------------------------------------------------------------------------
-- strategy_performance: the peer's summary fields beside the full metrics, the curve and the statement.
-- ---------------------------------------------------------------------------------------------------
SELECT jsonb_pretty(ex7._strategy_performance(:'u1', :'s1', NULL, NULL, 'paper', '2026-03-05 00:00+00')
                    - 'metrics' - 'equity_curve' - 'disclaimer');
SELECT d->'disclaimer' = ex7.compliance_banner() AS has_statement,
       d->'metrics' = ex7._live_metrics(:'u1', :'s1', 'paper', NULL, NULL, '2026-03-05 00:00+00')->'metrics' AS same_metrics,
       jsonb_array_length(d->'equity_curve') AS curve_points
  FROM ex7.strategy_performance(:'u1', :'s1') AS d;
SELECT d->>'pnl' AS pnl, d->'total_trades' AS trades, d->>'from' AS "from", d->>'to' AS "to"
  FROM ex7._strategy_performance(:'u1', :'s1', '2026-03-03 00:00+00', '2026-03-04 00:00+00', 'paper',
                                 '2026-03-05 00:00+00') AS d;
-- BOLA: another user's strategy, a deleted one and a missing one are the same 404; bad input is 422.
SELECT ex7_test.err(format('SELECT ex7.strategy_performance(%L, %L)', :'u1', :'s4')) AS others,
       ex7_test.err(format('SELECT ex7.strategy_performance(%L, %L)', :'u2', :'s1')) AS others_reverse,
       ex7_test.err(format('SELECT ex7.strategy_performance(%L, %L)', :'u1', :'s3')) AS deleted,
       ex7_test.err(format('SELECT ex7.strategy_performance(%L, %L)', :'u1', '00000000-0000-4000-8000-5b00000001ff')) AS missing;
SELECT ex7_test.err(format('SELECT ex7.strategy_performance(%L, %L, %L, %L)', :'u1', :'s1', '2026-03-04', '2026-03-03')) AS reversed,
       ex7_test.err(format('SELECT ex7.strategy_performance(%L, %L, %L, %L)', :'u1', :'s1', '2026-03-04', '2026-03-04')) AS empty_range,
       ex7_test.err(format('SELECT ex7.strategy_performance(%L, %L, NULL, NULL, %L)', :'u1', :'s1', 'demo')) AS bad_mode;

-- ---------------------------------------------------------------------------------------------------
-- performance: every live strategy of the user (not the deleted one, not another user's), with the
-- newest finished backtest beside the paper and live statistics. alpha has three backtests: an older
-- done one, the newest done one (bt2) and a newer one still running, which is not shown; beta has none.
-- bt2's trades, by hand on 10000.00: +100.00 (MAE 5.00, MFE 120.00), -40.00 (MAE 45.00, MFE 10.00):
-- net 60.00, profit factor 2.5, win rate 0.5; drawdown 40.00 from 10100.00 (0.39604%), not recovered.
-- ---------------------------------------------------------------------------------------------------
INSERT INTO ex7.backtests (id, user_id, strategy_id, strategy_version, instrument, timeframe, range_from, range_to,
                           params, status, result, created_at, finished_at) VALUES
    ('00000000-0000-4000-8000-5b00000b0001', :'u1', :'s1', 1, 'MNQ', '5m', '2026-01-01 00:00+00', '2026-02-01 00:00+00',
     '{"initial_capital": "10000.00"}', 'done', '{"trades": 0}', '2026-03-01 10:00+00', '2026-03-01 10:01+00'),
    ('00000000-0000-4000-8000-5b00000b0002', :'u1', :'s1', 1, 'MNQ', '5m', '2026-02-02 00:00+00', '2026-02-04 00:00+00',
     '{"initial_capital": "10000.00"}', 'done', '{"trades": 2, "bars": 576}', '2026-03-01 11:00+00', '2026-03-01 11:01+00'),
    ('00000000-0000-4000-8000-5b00000b0003', :'u1', :'s1', 1, 'MNQ', '5m', '2026-02-02 00:00+00', '2026-02-04 00:00+00',
     '{"initial_capital": "10000.00"}', 'running', NULL, '2026-03-01 12:00+00', NULL);
-- trades and curve are stored one row per chunk of the run, one array per column (66_backtest_schema.sql)
INSERT INTO ex7.backtest_trade_chunks (backtest_id, first_seq, user_id, side, quantity, entry_time, entry_price,
                                       stop_price, target_price, exit_time, exit_price, exit_reason, gross_pnl,
                                       slippage_cost, commission, net_pnl, mae, mfe) VALUES
    ('00000000-0000-4000-8000-5b00000b0002', 1, :'u1', '{long,long}', '{1,1}',
     '{"2026-02-02 14:00+00","2026-02-03 14:00+00"}', '{18000.00,18000.00}', '{NULL,NULL}', '{NULL,NULL}',
     '{"2026-02-02 15:00+00","2026-02-03 15:00+00"}', '{18103.25,17926.50}', '{take_profit,stop_loss}',
     '{103.24,-36.76}', '{2.00,2.00}', '{1.24,1.24}', '{100.00,-40.00}', '{5.00,45.00}', '{120.00,10.00}');
INSERT INTO ex7.backtest_equity_chunks (backtest_id, first_seq, user_id, ts, equity) VALUES
    ('00000000-0000-4000-8000-5b00000b0002', 1, :'u1',
     '{"2026-02-02 15:00+00","2026-02-03 00:00+00","2026-02-03 15:00+00","2026-02-04 00:00+00"}',
     '{10100.00,10100.00,10060.00,10060.00}');
SELECT i->>'name' AS name, i->'backtest'->>'id' AS backtest_id, i->'backtest'->'summary' AS summary,
       i->'backtest'->'metrics'->>'net_pnl' AS bt_net, i->'backtest'->'metrics'->'profit_factor' AS bt_pf,
       i->'backtest'->'metrics'->'win_rate' AS bt_win_rate, i->'backtest'->'metrics'->'max_drawdown' AS bt_drawdown,
       i->'backtest'->'metrics'->'excursions'->>'avg_mae' AS bt_avg_mae,
       i->'backtest'->'metrics' ? 'breakdowns' AS bt_has_breakdowns
  FROM jsonb_array_elements(ex7._performance(:'u1', '2026-03-05 00:00+00')->'strategies') AS i;
-- another user's backtest never shows: u2's performance has none, and u1's strategy is not u2's
SELECT i->>'name' AS name, i->'backtest' AS backtest
  FROM jsonb_array_elements(ex7._performance(:'u2', '2026-03-05 00:00+00')->'strategies') AS i;

SELECT i->>'name' AS name, i->>'status' AS status, i->'backtest'->>'id' AS backtest,
       i->'live'->'paper'->>'net_pnl' AS paper_net, i->'live'->'paper'->'trades' AS paper_trades,
       i->'live'->'live'->>'net_pnl' AS live_net, i->'live'->'paper' ? 'breakdowns' AS has_breakdowns
  FROM jsonb_array_elements(ex7._performance(:'u1', '2026-03-05 00:00+00')->'strategies') AS i;
SELECT p->'disclaimer' = ex7.compliance_banner() AS has_statement, p->>'initial_capital' AS capital,
       jsonb_array_length(p->'strategies') AS n
  FROM ex7.performance(:'u1') AS p;
SELECT i->>'name' AS name, i->'live'->'paper'->>'net_pnl' AS paper_net
  FROM jsonb_array_elements(ex7.performance(:'u2')->'strategies') AS i;
SELECT ex7.performance('00000000-0000-4000-8000-5b00000000ff')->'strategies' AS unknown_user;

-- ---------------------------------------------------------------------------------------------------
-- portfolio at 2026-03-04 17:00Z (12:00 in New York, EST): the trading day started 03-03 18:00 New York
-- = 23:00Z. Today: c fired (14:00Z) and closed (193.52); d and e fire later. Cumulative to then: a, b, c
-- (paper) and g (570.50): 758.04 over 4 trades, 3 wins. Open positions are those open now (e).
-- ---------------------------------------------------------------------------------------------------
SELECT jsonb_pretty(ex7._portfolio(:'u1', 'paper', '2026-03-04 17:00+00') - 'positions' - 'disclaimer');
SELECT (p->'positions'->0->>'fired_at')::timestamptz = '2026-03-04 21:30+00' AS open_is_e,
       jsonb_array_length(p->'positions') AS n, p->'disclaimer' = ex7.compliance_banner() AS has_statement
  FROM ex7._portfolio(:'u1', 'paper', '2026-03-04 17:00+00') AS p;
-- at 03-04 22:00Z (17:00 New York, the break: still the same day) d is a force-close today: counted apart
SELECT p->'today' AS today FROM ex7._portfolio(:'u1', 'paper', '2026-03-04 22:00+00') AS p;
-- live mode; another user sees only their own; a bad mode is 422
SELECT p->'cumulative' AS live_cumulative, p->'open_positions' AS open
  FROM ex7._portfolio(:'u1', 'live', '2026-03-04 17:00+00') AS p;
SELECT p->'cumulative'->>'realized_pnl' AS u2_realized, p->'open_positions' AS u2_open
  FROM ex7.portfolio(:'u2', 'paper') AS p;
SELECT ex7_test.err(format('SELECT ex7.portfolio(%L, %L)', :'u1', 'Paper')) AS bad_mode,
       ex7_test.err(format('SELECT ex7.portfolio(%L, NULL)', :'u1')) AS null_mode;

-- ---------------------------------------------------------------------------------------------------
-- dashboard: alpha running (paper), beta's runtime in error with two audit errors in the last 24 hours
-- and one older; totals over both strategies (20000.00 of notional capital).
-- ---------------------------------------------------------------------------------------------------
INSERT INTO ex7.strategy_runtimes (strategy_id, user_id, mode, status, started_at, last_bar_ts, error) VALUES
    (:'s1', :'u1', 'paper', 'running', '2026-03-02 13:00+00', '2026-03-04 16:55+00', NULL),
    (:'s2', :'u1', 'paper', 'error', '2026-03-02 13:00+00', '2026-03-04 10:00+00', 'graph evaluation failed'),
    (:'s4', :'u2', 'paper', 'running', '2026-03-02 13:00+00', NULL, NULL);
INSERT INTO ex7.signal_audit (user_id, strategy_id, strategy_version, instrument, timeframe, mode, bar_ts, decision, detail)
VALUES (:'u1', :'s2', 1, 'ES', '2m', 'paper', '2026-03-04 09:58+00', 'error', '{}'),
       (:'u1', :'s2', 1, 'ES', '2m', 'paper', '2026-03-04 10:00+00', 'error', '{}'),
       (:'u1', :'s2', 1, 'ES', '2m', 'paper', '2026-03-02 10:00+00', 'error', '{}'),
       (:'u1', :'s1', 1, 'MNQ', '5m', 'paper', '2026-03-04 10:00+00', 'no_signal', '{}');
SELECT i->>'name' AS name, i->>'status' AS status, i->>'runtime_status' AS runtime, i->>'instrument' AS instr,
       i->>'pnl' AS pnl, i->'pnl_percent' AS pct, i->'trade_count' AS trades, i->'win_rate' AS win_rate,
       i->'open_positions' AS open, i->'error_count' AS errors, i->>'runtime_error' AS runtime_error
  FROM jsonb_array_elements(ex7._dashboard(:'u1', 'paper', '2026-03-04 17:00+00')->'strategies') AS i;
-- totals: 187.54 + 570.50 = 758.04 over 20000.00 = 3.7902%; 4 trades, 3 wins
SELECT jsonb_pretty(d->'aggregate') AS aggregate, d->'disclaimer' = ex7.compliance_banner() AS has_statement
  FROM ex7._dashboard(:'u1', 'paper', '2026-03-04 17:00+00') AS d;
SELECT i->>'name' AS name, i->>'runtime_status' AS runtime, i->'trade_count' AS trades
  FROM jsonb_array_elements(ex7._dashboard(:'u1', 'live', '2026-03-04 17:00+00')->'strategies') AS i;
SELECT i->>'name' AS u2_sees FROM jsonb_array_elements(ex7.dashboard(:'u2')->'strategies') AS i;
SELECT ex7_test.err(format('SELECT ex7.dashboard(%L, %L)', :'u1', 'x')) AS bad_mode;
SELECT ex7.dashboard('00000000-0000-4000-8000-5b00000000ff')->'aggregate' AS unknown_user;
