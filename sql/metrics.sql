-- sql/metrics.sql: ex7.compute_metrics and ex7.equity_svg (ext/metrics.c, docs/metrics.md) against
-- hand-computed fixtures: trade statistics, streaks, excursions, exposure, breakdowns (fixture A); the
-- daily returns series, Sharpe, Sortino, CAGR, Calmar and drawdown dates (fixture B); weekends and
-- midnight day ends (fixture C); undefined ratios, the unrecovered drawdown, every input error; the SVG
-- parsed as XML with the CFTC 4.41 statement under the chart.
SELECT p.proname, p.provolatile, p.proparallel, p.proisstrict, pg_get_function_result(p.oid) AS result
  FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
 WHERE n.nspname = 'ex7' AND p.proname IN ('compute_metrics', 'equity_svg', '_equity_svg')
 ORDER BY 1;

-- ---------------------------------------------------------------------------------------------------
-- Fixture A: 7 trades, initial capital 10000.00 (UTC; 2026-01-05 is a Monday).
--   #  entry             exit              pnl      mae    mfe    tag
--   1  01-05 14:00       01-05 15:00      100.00   20.00 120.00  breakout   W
--   2  01-06 14:00       01-06 16:00      -50.00   60.00  10.00  breakout   L
--   3  01-07 14:00       01-07 14:30      -30.00   40.00   5.00  fade       L
--   4  01-08 14:00       01-08 18:00      200.00   10.00 250.00  (none)     W
--   5  01-12 14:00       01-12 15:00        0.00    5.00   5.00  fade       breakeven
--   6  02-02 14:00       02-02 16:00       40.00   null   null   breakout   W
--   7  02-02 15:00       02-02 17:00       10.00   null   null   breakout   W (overlaps #6)
-- Equity at each close, from 10000.00 at 01-05 14:00 to 10270.00 at 02-02 17:00.
-- By hand:
--   trades 7, wins 4, losses 2, breakeven 1; gross profit 100+200+40+10 = 350.00; gross loss 50+30 = 80.00;
--   net 270.00 = 2.7% of 10000.00; win rate 4/7 = 0.571429, loss rate 2/7 = 0.285714;
--   avg win 350/4 = 87.50, avg loss 80/2 = 40.00, avg trade 270/7 = 38.5714 -> 38.57;
--   expectancy 4/7 * 87.50 - 2/7 * 40.00 = 50 - 11.428571 = 38.571429 -> 38.57;
--   profit factor 350/80 = 4.375; payoff 87.50/40.00 = 2.1875; largest win 200.00, largest loss 50.00;
--   streaks W L L W 0 W W: 2 wins (the breakeven ends the first run), 2 losses;
--   drawdown: peak 10100.00 at 01-05 15:00, trough 10020.00 at 01-07 14:30 (80.00 = 80/10100 =
--   0.792079%), recovered at 01-08 18:00 (10220.00): 3 days 3 hours = 270000 s;
--   exposure: 1h + 2h + 0.5h + 4h + 1h + (14:00-17:00 union of #6, #7) 3h = 11.5 h of the span
--   01-05 14:00 .. 02-02 17:00 = 28 d 3 h = 675 h: 0.017037;
--   excursions (trades 1-5 know them): avg MAE 135/5 = 27.00, max 60.00; avg MFE 390/5 = 78.00, max
--   250.00; avg MAE of winners (#1, #4) 30/2 = 15.00; avg MFE of losers (#2, #3) 15/2 = 7.50.
-- ---------------------------------------------------------------------------------------------------
CREATE TEMP TABLE fx_a AS SELECT ex7.compute_metrics(
  '[{"entry_time": "2026-01-05T14:00:00Z", "exit_time": "2026-01-05T15:00:00Z", "side": "long", "quantity": 1,
     "entry_price": "18000.00", "exit_price": "18100.00", "pnl": "100.00", "mae": "20.00", "mfe": "120.00", "tag": "breakout"},
    {"entry_time": "2026-01-06T14:00:00Z", "exit_time": "2026-01-06T16:00:00Z", "side": "short", "quantity": 1,
     "entry_price": "18000.00", "exit_price": "18050.00", "pnl": "-50.00", "mae": "60.00", "mfe": "10.00", "tag": "breakout"},
    {"entry_time": "2026-01-07T14:00:00Z", "exit_time": "2026-01-07T14:30:00Z", "side": "long", "quantity": 1,
     "entry_price": "18000.00", "exit_price": "17970.00", "pnl": "-30.00", "mae": "40.00", "mfe": "5.00", "tag": "fade"},
    {"entry_time": "2026-01-08T14:00:00Z", "exit_time": "2026-01-08T18:00:00Z", "side": "long", "quantity": 2,
     "entry_price": "18000.00", "exit_price": "18100.00", "pnl": "200.00", "mae": "10.00", "mfe": "250.00", "tag": null},
    {"entry_time": "2026-01-12T14:00:00Z", "exit_time": "2026-01-12T15:00:00Z", "side": "long", "quantity": 1,
     "entry_price": "18000.00", "exit_price": "18000.00", "pnl": "0.00", "mae": "5.00", "mfe": "5.00", "tag": "fade"},
    {"entry_time": "2026-02-02T14:00:00Z", "exit_time": "2026-02-02T16:00:00Z", "side": "long", "quantity": 1,
     "entry_price": "18000.00", "exit_price": "18040.00", "pnl": "40.00", "mae": null, "mfe": null, "tag": "breakout"},
    {"entry_time": "2026-02-02T15:00:00Z", "exit_time": "2026-02-02T17:00:00Z", "side": "long", "quantity": 1,
     "entry_price": "18000.00", "exit_price": "18010.00", "pnl": "10.00", "tag": "breakout"}]',
  '[{"ts": "2026-01-05T14:00:00Z", "equity": "10000.00"}, {"ts": "2026-01-05T15:00:00Z", "equity": "10100.00"},
    {"ts": "2026-01-06T16:00:00Z", "equity": "10050.00"}, {"ts": "2026-01-07T14:30:00Z", "equity": "10020.00"},
    {"ts": "2026-01-08T18:00:00Z", "equity": "10220.00"}, {"ts": "2026-01-12T15:00:00Z", "equity": "10220.00"},
    {"ts": "2026-02-02T16:00:00Z", "equity": "10260.00"}, {"ts": "2026-02-02T17:00:00Z", "equity": "10270.00"}]',
  '{"initial_capital": "10000.00"}') AS m;

SELECT jsonb_pretty(m - 'breakdowns') FROM fx_a;

SELECT m->'trades' = '7' AND m->'winning_trades' = '4' AND m->'losing_trades' = '2'
       AND m->'breakeven_trades' = '1' AND m->>'gross_profit' = '350.00' AND m->>'gross_loss' = '80.00'
       AND m->>'net_pnl' = '270.00' AND m->'net_pnl_percent' = '2.7' AND m->>'final_equity' = '10270.00'
       AND m->'win_rate' = '0.571429' AND m->'loss_rate' = '0.285714'
       AND m->>'avg_win' = '87.50' AND m->>'avg_loss' = '40.00' AND m->>'avg_trade' = '38.57'
       AND m->>'expectancy' = '38.57' AND m->'profit_factor' = '4.375' AND m->'payoff_ratio' = '2.1875'
       AND m->>'largest_win' = '200.00' AND m->>'largest_loss' = '50.00'
       AND m->'max_consecutive_wins' = '2' AND m->'max_consecutive_losses' = '2'
       AND m->'exposure' = '0.017037' AS trade_stats_ok,
       m->'max_drawdown' = '{"amount": "80.00", "percent": 0.792079, "peak_equity": "10100.00",
                             "start": "2026-01-05T15:00:00+00:00", "trough": "2026-01-07T14:30:00+00:00",
                             "recovery": "2026-01-08T18:00:00+00:00", "duration": 270000}' AS drawdown_ok,
       m->'excursions' = '{"trades": 5, "avg_mae": "27.00", "max_mae": "60.00", "avg_mfe": "78.00",
                           "max_mfe": "250.00", "avg_mae_winners": "15.00", "avg_mfe_losers": "7.50"}' AS excursions_ok
  FROM fx_a;

-- Breakdowns by the UTC day, ISO week and month of the exit and by entry tag (untagged last):
--   days 01-05 +100, 01-06 -50, 01-07 -30, 01-08 +200, 01-12 0 (neither win nor loss), 02-02 +50 (2 wins);
--   weeks 2026-W02 (01-05..01-11) +220 2W 2L, W03 0, W06 +50; months 2026-01 +220, 2026-02 +50;
--   tags breakout 100-50+40+10 = 100 (3W 1L, 0.75), fade -30+0 = -30, untagged +200.
SELECT b.k AS breakdown, e->>'key' AS key, e->'trades' AS trades, e->'wins' AS wins, e->'losses' AS losses,
       e->'win_rate' AS win_rate, e->>'net_pnl' AS net_pnl, e->>'gross_profit' AS gp, e->>'gross_loss' AS gl
  FROM fx_a, unnest(ARRAY['by_day', 'by_week', 'by_month', 'by_tag']) WITH ORDINALITY b(k, o),
       jsonb_array_elements(m->'breakdowns'->b.k) WITH ORDINALITY e(e, i)
 ORDER BY b.o, e.i;

-- ---------------------------------------------------------------------------------------------------
-- Fixture B: the returns series and the annualised ratios. Initial 1000.00; day-end samples stamped at
-- midnight (each closes the day before): Mon 01-05 1010.00, Tue 999.90, Wed 1020.00, Thu 1020.00.
-- Daily returns: 1010/1000 - 1 = 0.01; 999.90/1010 - 1 = -0.01; 1020/999.90 - 1 = 0.0201020102...; 0.
--   mean = (0.01 - 0.01 + 0.0201020102 + 0)/4 = 0.00502550255
--   Sortino (risk-free 0): downside deviation sqrt((-0.01)^2 / 4) = 0.005;
--     0.00502550255 / 0.005 * sqrt(252) = 1.0051005 * 15.874508 = 15.955476
--   Sharpe: mean / stddev_samp * sqrt(252) (stddev computed below by PostgreSQL's stddev_samp)
--   CAGR: 1020/1000 over 4 days: 1.02^(365.25/4) - 1 = 5.099...; drawdown 10.10 from 1010.00 (01-06
--   00:00) to 999.90 (01-07 00:00) = 1%, recovered 01-08 00:00 (2 days); Calmar = CAGR / 0.01.
-- ---------------------------------------------------------------------------------------------------
CREATE TEMP TABLE fx_b_eq AS SELECT
  '[{"ts": "2026-01-05T00:00:00Z", "equity": "1000.00"}, {"ts": "2026-01-06T00:00:00Z", "equity": "1010.00"},
    {"ts": "2026-01-07T00:00:00Z", "equity": "999.90"}, {"ts": "2026-01-08T00:00:00Z", "equity": "1020.00"},
    {"ts": "2026-01-09T00:00:00Z", "equity": "1020.00"}]'::jsonb AS eq;
CREATE TEMP TABLE fx_b_r (r float8);
INSERT INTO fx_b_r VALUES (1010.00/1000.00 - 1), (999.90/1010.00 - 1), (1020.00/999.90 - 1), (0);

SELECT m->'sharpe' AS sharpe, m->'sortino' AS sortino, m->'annual_volatility' AS vol, m->'cagr' AS cagr,
       m->'calmar' AS calmar, m->'returns' AS returns, m->'max_drawdown' AS drawdown
  FROM fx_b_eq, ex7.compute_metrics('[]', eq, '{"initial_capital": "1000.00"}') m;

SELECT round(((m->>'sharpe')::numeric), 6) = round((avg(r) / stddev_samp(r) * sqrt(252))::numeric, 6) AS sharpe_ok,
       round(((m->>'sortino')::numeric), 6) = round((avg(r) / 0.005 * sqrt(252))::numeric, 6) AS sortino_ok,
       (m->>'sortino')::numeric = 15.955476 AS sortino_by_hand,
       round(((m->>'annual_volatility')::numeric), 6) = round((stddev_samp(r) * sqrt(252))::numeric, 6) AS vol_ok,
       round(((m->>'cagr')::numeric), 6) = round((power(1.02::float8, 365.25 / 4) - 1)::numeric, 6) AS cagr_ok,
       round(((m->>'calmar')::numeric), 3) = round(((power(1.02::float8, 365.25 / 4) - 1) / 0.01)::numeric, 3) AS calmar_ok
  FROM fx_b_eq, fx_b_r, ex7.compute_metrics('[]', eq, '{"initial_capital": "1000.00"}') m
 GROUP BY m;

-- A risk-free rate of 5% a year: each daily return is reduced by 1.05^(1/252) - 1 before the ratios.
-- With periods_per_year 365 that daily rate is 1.05^(1/365) - 1 and the factor sqrt(365).
SELECT round(((m->>'sharpe')::numeric), 6)
         = round((avg(r - (power(1.05, 1.0/252) - 1)) / stddev_samp(r) * sqrt(252))::numeric, 6) AS sharpe_rf_ok,
       round(((m->>'sortino')::numeric), 6)
         = round((avg(r - (power(1.05, 1.0/252) - 1))
                  / sqrt(sum(power(least(r - (power(1.05, 1.0/252) - 1), 0), 2)) / 4) * sqrt(252))::numeric, 6)
           AS sortino_rf_ok,
       m->'returns' AS returns
  FROM fx_b_eq, fx_b_r, ex7.compute_metrics('[]', eq, '{"initial_capital": "1000.00", "risk_free_rate": "0.05"}') m
 GROUP BY m;
SELECT round(((m->>'sharpe')::numeric), 6)
         = round((avg(r - (power(1.05, 1.0/365) - 1)) / stddev_samp(r) * sqrt(365))::numeric, 6) AS sharpe_365_ok,
       m->'returns'->'periods_per_year' AS ppy
  FROM fx_b_eq, fx_b_r,
       ex7.compute_metrics('[]', eq, '{"initial_capital": "1000.00", "risk_free_rate": 0.05, "periods_per_year": 365}') m
 GROUP BY m;

-- ---------------------------------------------------------------------------------------------------
-- Fixture C: weekends. Fri 01-09 ends at 1010.00 (sample at 21:59, the CME close), a Sunday-evening
-- trade makes Sun 01-11 23:00 1030.00, Mon ends 1020.00 (sample at 22:00), Tue ends 1040.00.
-- Series (weekdays only; the weekend's change lands in Monday): Fri 1010/1000 - 1 = 0.01,
-- Mon 1020/1010 - 1 = 0.00990099, Tue 1040/1020 - 1 = 0.01960784: 3 periods.
-- ---------------------------------------------------------------------------------------------------
SELECT m->'returns' AS returns,
       round(((m->>'sharpe')::numeric), 6)
         = round((SELECT avg(r) / stddev_samp(r) * sqrt(252)
                    FROM (VALUES (1010.0/1000 - 1), (1020.0/1010 - 1), (1040.0/1020 - 1)) v(r))::numeric, 6)
         AS weekend_sharpe_ok,
       m->'max_drawdown'->>'amount' AS dd, m->'max_drawdown'->>'start' AS dd_start,
       m->'max_drawdown'->>'recovery' AS dd_recovery
  FROM ex7.compute_metrics('[]',
         '[{"ts": "2026-01-09T00:00:00Z", "equity": "1000.00"}, {"ts": "2026-01-09T21:59:00Z", "equity": "1010.00"},
           {"ts": "2026-01-11T23:00:00Z", "equity": "1030.00"}, {"ts": "2026-01-12T22:00:00Z", "equity": "1020.00"},
           {"ts": "2026-01-13T22:00:00Z", "equity": "1040.00"}]', '{"initial_capital": "1000.00"}') m;

-- A drawdown never recovered: 1000 -> 1100 -> 900 -> 1000. 200.00 from 1100.00 = 18.181818%, recovery
-- null, duration from the peak (01-06) to the end of the curve (01-08): 172800 s. 1000 -> 1000 over
-- 3 days: CAGR 0, so Calmar 0.
SELECT m->'max_drawdown' AS drawdown, m->'cagr' AS cagr, m->'calmar' AS calmar
  FROM ex7.compute_metrics('[]',
         '[{"ts": "2026-01-05T00:00:00Z", "equity": "1000"}, {"ts": "2026-01-06T00:00:00Z", "equity": "1100"},
           {"ts": "2026-01-07T00:00:00Z", "equity": "900"}, {"ts": "2026-01-08T00:00:00Z", "equity": "1000"}]',
         '{"initial_capital": "1000"}') m;

-- Undefined ratios are null, never an error: no trades and no curve; two winners in one day (no profit
-- factor, no average loss, no payoff, one return period so no Sharpe, in the market the whole span); a
-- flat curve (volatility 0, so no Sharpe or Sortino; no drawdown, so no Calmar).
SELECT jsonb_pretty(ex7.compute_metrics('[]', '[]', '{"initial_capital": "5000"}'));
SELECT m->'win_rate' AS win_rate, m->'profit_factor' AS pf, m->'avg_loss' AS avg_loss, m->'payoff_ratio' AS payoff,
       m->'largest_loss' AS largest_loss, m->'max_consecutive_wins' AS run, m->'sharpe' AS sharpe,
       m->'returns'->'periods' AS periods, m->'exposure' AS exposure, m->'excursions'->'trades' AS exc
  FROM ex7.compute_metrics(
         '[{"entry_time": "2026-01-05T14:00:00Z", "exit_time": "2026-01-05T15:00:00Z", "pnl": 12.5},
           {"entry_time": "2026-01-05T15:00:00Z", "exit_time": "2026-01-05T16:00:00Z", "pnl": "7.50"}]',
         '[{"ts": "2026-01-05T14:00:00Z", "equity": "1000.00"}, {"ts": "2026-01-05T16:00:00Z", "equity": "1020.00"}]',
         '{"initial_capital": "1000.00"}') m;
SELECT m->'sharpe' AS sharpe, m->'sortino' AS sortino, m->'annual_volatility' AS vol,
       m->'max_drawdown'->'amount' AS dd, m->'calmar' AS calmar, m->'cagr' AS cagr
  FROM ex7.compute_metrics('[]',
         '[{"ts": "2026-01-05T00:00:00Z", "equity": "1000.00"}, {"ts": "2026-01-09T00:00:00Z", "equity": "1000.00"}]',
         '{"initial_capital": "1000.00"}') m;

-- ISO weeks at a year's edge: Fri 2027-01-01 is in 2026-W53 (2026 has 53 ISO weeks), Mon 2027-01-04 in 2027-W01.
SELECT e->>'key' AS week, e->'trades' AS trades
  FROM jsonb_array_elements(ex7.compute_metrics(
         '[{"entry_time": "2026-12-31T14:00:00Z", "exit_time": "2027-01-01T15:00:00Z", "pnl": "1.00"},
           {"entry_time": "2027-01-04T14:00:00Z", "exit_time": "2027-01-04T15:00:00Z", "pnl": "-1.00"}]',
         '[]', '{"initial_capital": "100"}')->'breakdowns'->'by_week') e;

-- Money stays exact: a thousand trades of 0.01 and one of 1e-10 sum to 10.0000000001, never float.
SELECT m->>'net_pnl' AS net, m->>'gross_profit' AS gp, m->>'avg_win' AS avg_win
  FROM ex7.compute_metrics(
         (SELECT jsonb_agg(jsonb_build_object('entry_time', '2026-01-05T14:00:00Z', 'exit_time', '2026-01-05T15:00:00Z',
                                              'pnl', CASE WHEN g = 1 THEN '0.0000000001' ELSE '0.01' END))
            FROM generate_series(1, 1001) g),
         '[]', '{"initial_capital": "1000"}') m;

-- The result does not depend on the session's TimeZone (timestamps are printed in UTC): IMMUTABLE holds.
SET TimeZone = 'Asia/Tokyo';
SELECT ex7.compute_metrics(t, e, p) = (SELECT m FROM fx_a) AS same_in_tokyo,
       ex7.compute_metrics(t, e, p)->'max_drawdown'->>'start' AS start
  FROM (SELECT '[{"entry_time": "2026-01-05T14:00:00Z", "exit_time": "2026-01-05T15:00:00Z", "pnl": "100.00", "mae": "20.00", "mfe": "120.00", "tag": "breakout"},
    {"entry_time": "2026-01-06T14:00:00Z", "exit_time": "2026-01-06T16:00:00Z", "pnl": "-50.00", "mae": "60.00", "mfe": "10.00", "tag": "breakout"},
    {"entry_time": "2026-01-07T23:00:00+09:00", "exit_time": "2026-01-07T23:30:00+09:00", "pnl": "-30.00", "mae": "40.00", "mfe": "5.00", "tag": "fade"},
    {"entry_time": "2026-01-08T14:00:00Z", "exit_time": "2026-01-08T18:00:00Z", "pnl": "200.00", "mae": "-10.00", "mfe": "250.00"},
    {"entry_time": "2026-01-12T14:00:00Z", "exit_time": "2026-01-12T15:00:00Z", "pnl": "0.00", "mae": "5.00", "mfe": "5.00", "tag": "fade"},
    {"entry_time": "2026-02-02T14:00:00Z", "exit_time": "2026-02-02T16:00:00Z", "pnl": "40.00", "tag": "breakout"},
    {"entry_time": "2026-02-02T15:00:00Z", "exit_time": "2026-02-02T17:00:00Z", "pnl": "10.00", "tag": "breakout"}]'::jsonb,
    '[{"ts": "2026-01-05T14:00:00Z", "equity": "10000.00"}, {"ts": "2026-01-05T15:00:00Z", "equity": "10100.00"},
      {"ts": "2026-01-06T16:00:00Z", "equity": "10050.00"}, {"ts": "2026-01-07T14:30:00Z", "equity": "10020.00"},
      {"ts": "2026-01-08T18:00:00Z", "equity": "10220.00"}, {"ts": "2026-01-12T15:00:00Z", "equity": "10220.00"},
      {"ts": "2026-02-02T16:00:00Z", "equity": "10260.00"}, {"ts": "2026-02-02T17:00:00Z", "equity": "10270.00"}]'::jsonb,
    '{"initial_capital": "10000.00"}'::jsonb) x(t, e, p);
RESET TimeZone;

-- Input errors: SQLSTATE 22023 (a caller's bug, not a client's 422: the engine and the statistics
-- build these arrays), naming the element and the field.
SELECT ex7_test.err($$SELECT ex7.compute_metrics('{}', '[]', '{"initial_capital": "1"}')$$) AS trades_not_array,
       ex7_test.err($$SELECT ex7.compute_metrics('[1]', '[]', '{"initial_capital": "1"}')$$) AS trade_not_object,
       ex7_test.err($$SELECT ex7.compute_metrics('[]', '[]', '[]')$$) AS params_not_object;
SELECT ex7_test.err($$SELECT ex7.compute_metrics('[]', '[]', '{}')$$) AS no_capital,
       ex7_test.err($$SELECT ex7.compute_metrics('[]', '[]', '{"initial_capital": "0"}')$$) AS zero_capital,
       ex7_test.err($$SELECT ex7.compute_metrics('[]', '[]', '{"initial_capital": "NaN"}')$$) AS nan_capital,
       ex7_test.err($$SELECT ex7.compute_metrics('[]', '[]', '{"initial_capital": true}')$$) AS bool_capital;
SELECT ex7_test.err($$SELECT ex7.compute_metrics('[]', '[]', '{"initial_capital": "1", "risk_free_rate": "4"}')$$) AS rf_percent,
       ex7_test.err($$SELECT ex7.compute_metrics('[]', '[]', '{"initial_capital": "1", "periods_per_year": 0}')$$) AS ppy_zero;
SELECT ex7_test.err($$SELECT ex7.compute_metrics('[{"exit_time": "2026-01-05T15:00:00Z", "pnl": "1"}]', '[]', '{"initial_capital": "1"}')$$) AS no_entry,
       ex7_test.err($$SELECT ex7.compute_metrics('[{"entry_time": "2026-01-05T14:00:00Z", "exit_time": "2026-01-05T15:00:00Z"}]', '[]', '{"initial_capital": "1"}')$$) AS no_pnl,
       ex7_test.err($$SELECT ex7.compute_metrics('[{"entry_time": "2026-01-05T14:00:00Z", "exit_time": "2026-01-05T15:00:00Z", "pnl": "x"}]', '[]', '{"initial_capital": "1"}')$$) AS bad_pnl;
SELECT ex7_test.err($$SELECT ex7.compute_metrics('[{"entry_time": "2026-01-05T16:00:00Z", "exit_time": "2026-01-05T15:00:00Z", "pnl": "1"}]', '[]', '{"initial_capital": "1"}')$$) AS exit_before_entry,
       ex7_test.err($$SELECT ex7.compute_metrics('[{"entry_time": "2026-01-05T14:00:00Z", "exit_time": "2026-01-05T16:00:00Z", "pnl": "1"}, {"entry_time": "2026-01-05T14:00:00Z", "exit_time": "2026-01-05T15:00:00Z", "pnl": "1"}]', '[]', '{"initial_capital": "1"}')$$) AS not_exit_order;
SELECT ex7_test.err($$SELECT ex7.compute_metrics('[{"entry_time": "2026-01-05T14:00:00Z", "exit_time": "infinity", "pnl": "1"}]', '[]', '{"initial_capital": "1"}')$$) AS infinite_exit,
       ex7_test.err($$SELECT ex7.compute_metrics('[{"entry_time": "2026-01-05T14:00:00Z", "exit_time": "2026-01-05T15:00:00Z", "pnl": "1", "tag": 5}]', '[]', '{"initial_capital": "1"}')$$) AS tag_number,
       ex7_test.err($$SELECT ex7.compute_metrics('[{"entry_time": "2026-01-05T14:00:00Z", "exit_time": "2026-01-05T15:00:00Z", "pnl": "1", "mae": "Infinity"}]', '[]', '{"initial_capital": "1"}')$$) AS mae_infinite;
SELECT ex7_test.err($$SELECT ex7.compute_metrics('[]', '[{"ts": "2026-01-05T15:00:00Z", "equity": "1"}, {"ts": "2026-01-05T14:00:00Z", "equity": "1"}]', '{"initial_capital": "1"}')$$) AS equity_order,
       ex7_test.err($$SELECT ex7.compute_metrics('[]', '[{"ts": "2026-01-05T15:00:00Z"}]', '{"initial_capital": "1"}')$$) AS no_equity;
SELECT ex7.compute_metrics(NULL, '[]', '{}') IS NULL AS strict;

-- ---------------------------------------------------------------------------------------------------
-- ex7.equity_svg: a well-formed XML document (xmlparse), the SVG namespace, no script or external
-- reference, the title escaped, the axes labelled, and the CFTC Rule 4.41 statement in full under the
-- chart (its wrapped lines, joined by spaces, are the banner's text).
-- ---------------------------------------------------------------------------------------------------
CREATE TEMP TABLE svg AS
SELECT ex7.equity_svg(eq, 'Backtest <ORB> & "MNQ" ''5m''' || chr(1)) AS s FROM fx_b_eq;
SELECT xmlparse(document s) IS DOCUMENT AS parses,
       (xpath('/svg:svg/svg:title/text()', xmlparse(document s), ARRAY[ARRAY['svg', 'http://www.w3.org/2000/svg']]))[1]::text AS title,
       s !~* '<script|href|url\(|<style|<foreignObject' AS self_contained,
       (SELECT string_agg(x::text, ' ') FROM unnest(xpath('//svg:text[@class="disclaimer"]/text()', xmlparse(document s),
               ARRAY[ARRAY['svg', 'http://www.w3.org/2000/svg']])) x) = ex7.compliance_banner()->>'text' AS statement_in_full,
       (xpath('//svg:text[@class="disclaimer-rule"]/text()', xmlparse(document s),
              ARRAY[ARRAY['svg', 'http://www.w3.org/2000/svg']]))[1]::text AS rule,
       (SELECT array_agg(x::text) FROM unnest(xpath('//svg:text[@class="x-label"]/text()', xmlparse(document s),
               ARRAY[ARRAY['svg', 'http://www.w3.org/2000/svg']])) x) AS dates,
       (SELECT array_agg(x::text) FROM unnest(xpath('//svg:text[@class="y-label"]/text()', xmlparse(document s),
               ARRAY[ARRAY['svg', 'http://www.w3.org/2000/svg']])) x) AS values,
       s ~ '<polyline class="equity"' AND s ~ '<polygon class="drawdown"' AS has_curves
  FROM svg;
-- The picture itself (fixture B), for a reviewer's eye.
SELECT s FROM svg;
-- No data and a single point still draw a valid document with the statement; NULL title is an empty one.
SELECT xmlparse(document ex7.equity_svg('[]', NULL)) IS DOCUMENT AS empty_ok,
       ex7.equity_svg('[]', NULL) ~ 'no equity data' AS says_so,
       xmlparse(document ex7.equity_svg('[{"ts": "2026-01-05T00:00:00Z", "equity": "1000"}]', 'one')) IS DOCUMENT AS one_ok,
       xmlparse(document ex7.equity_svg(ex7_e, 'big')) IS DOCUMENT AS many_ok
  FROM (SELECT jsonb_agg(jsonb_build_object('ts', '2026-01-01'::timestamptz + g * interval '1 hour',
                                            'equity', (100000 + g * 3 - (g % 17) * 40)::text)) AS ex7_e
          FROM generate_series(1, 2000) g) x;
