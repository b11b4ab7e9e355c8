-- sql/paper.sql: the paper account (ext/sql/82_paper_schema.sql, 83_paper.sql, docs/paper-account.md): the
-- default account, positions netted per instrument across strategies at the mark of the last bar (break-even
-- average price, gross and net unrealized P&L, an instrument without a bar), the ledger of closes in keyset
-- pages with the account's balance, the equity per CME trading day across the 18:00 New York boundary (a
-- close at 23:30Z is the next day's, a position open at the boundary marked there, the weekend, the DST
-- change), the realized curve a max-drawdown protection reads, the reset (refused with open positions, a new
-- capital and start, the ledger counting the closes after it), performance, dashboard and portfolio reading
-- the account's capital, the 422 locators, 401 and another user's strategy (404).
-- Instruments of the test's own (PAPQ like MNQ, PAPE like ES, PAPG with no bar), so no other file's bars
-- can be a mark here.
\set u1 '00000000-0000-4000-8000-8a0000000001'
\set u2 '00000000-0000-4000-8000-8a0000000002'
\set s1 '00000000-0000-4000-8000-8a00000001a1'
\set s2 '00000000-0000-4000-8000-8a00000001a2'
\set s3 '00000000-0000-4000-8000-8a00000001a3'
\set s5 '00000000-0000-4000-8000-8a00000001a5'
\set s4 '00000000-0000-4000-8000-8a00000002a1'

INSERT INTO ex7.instruments (symbol, name, tick_size, tick_value, commission_per_side) VALUES
    ('PAPQ', 'Paper test contract like MNQ', 0.25, 0.50, 0.62),
    ('PAPE', 'Paper test contract like ES', 0.25, 12.50, 2.25),
    ('PAPG', 'Paper test contract without bars', 0.10, 1.00, 0.75);
SELECT ex7.ensure_user(u) IS NOT NULL AS ready FROM unnest(ARRAY[:'u1', :'u2']::uuid[]) AS u;
SELECT ex7_test.accept_compliance(ARRAY[:'u1', :'u2']::uuid[]) AS accepted;
INSERT INTO ex7.strategies (id, user_id, name, instrument, timeframe, etag, status) VALUES
    (:'s1', :'u1', 'alpha', 'PAPQ', '1m', 'e1', 'live'),
    (:'s2', :'u1', 'beta', 'PAPQ', '1m', 'e2', 'live'),
    (:'s3', :'u1', 'gamma', 'PAPE', '1m', 'e3', 'live'),
    (:'s5', :'u1', 'delta', 'PAPG', '1m', 'e5', 'live'),
    (:'s4', :'u2', 'theirs', 'PAPQ', '1m', 'e4', 'live');
INSERT INTO ex7.strategy_versions (strategy_id, version, user_id, graph)
SELECT s.id, 1, s.user_id, '{}' FROM ex7.strategies s WHERE s.user_id IN (:'u1', :'u2');

-- ---------------------------------------------------------------------------------------------------
-- The default account: never reset, 10000.00 (the column default and ex7._paper_capital() agree), no start.
-- ---------------------------------------------------------------------------------------------------
SELECT pg_get_expr(d.adbin, d.adrelid) = ex7._paper_capital()::text AS defaults_agree
  FROM pg_attrdef d JOIN pg_attribute a ON a.attrelid = d.adrelid AND a.attnum = d.adnum
 WHERE d.adrelid = 'ex7.paper_accounts'::regclass AND a.attname = 'starting_capital';
SELECT jsonb_pretty(ex7.get_paper_account(:'u1') - 'as_of' - 'today' - 'disclaimer');
SELECT ex7.get_paper_account(:'u1') -> 'disclaimer' = ex7.compliance_banner() AS has_statement;

-- Signals, priced by ex7.compute_pnl (PAPQ: tick 0.25 = 0.50, 0.62 a side; PAPE: tick 0.25 = 12.50, 2.25 a
-- side; PAPG: tick 0.10 = 1.00, 0.75 a side). UTC; 2026-03-02 is a Monday; New York is UTC-5 until the
-- DST change of 2026-03-08, so the trading days start at 23:00Z.
--   n  user strategy mode  side  size entry     close     fired        closed        net
--   a  u1   alpha    paper long  1    18000.00  18010.25  03-02 14:00  03-02 14:30    17.26  (41 ticks)
--   b  u1   beta     paper long  1    18000.00  17990.00  03-03 14:00  03-03 15:00   -23.24  (-40 ticks)
--   c  u1   gamma    paper short 1     5000.00   4990.00  03-03 22:00  03-03 23:30   445.50  (40 ticks x 12.50)
--   d  u1   alpha    paper long  1    18000.00  force     03-04 09:00  03-04 10:00     0.00  (force-close)
--   e  u1   alpha    paper long  2    18000.00  open      03-04 14:00
--   f  u1   beta     paper short 1    18010.00  open      03-04 15:00
--   g  u1   gamma    paper long  1     5000.00  open      03-04 15:30
--   h  u1   delta    paper long  1     2000.0   open      03-04 15:45                 (PAPG: no bar)
--   i  u1   alpha    live  long  1    18000.00  18005.00  03-02 15:00  03-02 15:30     6.76  (another pool)
--   j  u2   theirs   paper long  1    18000.00  18100.00  03-02 14:00  03-02 15:00          (another user)
--   k  u2   theirs   paper long  1    18000.00  open      03-04 14:00                       (another user)
--   m  u2   theirs   paper short 1    18004.00  open      03-04 14:30                       (u2: flat on PAPQ)
CREATE TEMP TABLE fx (n text, u uuid, s uuid, mode text, side text, size int, entry numeric, close numeric,
                      fired timestamptz, closed timestamptz, reason text);
INSERT INTO fx VALUES
    ('a', :'u1', :'s1', 'paper', 'long',  1, 18000.00, 18010.25, '2026-03-02 14:00+00', '2026-03-02 14:30+00', 'exit_signal'),
    ('b', :'u1', :'s2', 'paper', 'long',  1, 18000.00, 17990.00, '2026-03-03 14:00+00', '2026-03-03 15:00+00', 'stop_loss'),
    ('c', :'u1', :'s3', 'paper', 'short', 1,  5000.00,  4990.00, '2026-03-03 22:00+00', '2026-03-03 23:30+00', 'take_profit'),
    ('d', :'u1', :'s1', 'paper', 'long',  1, 18000.00, NULL,     '2026-03-04 09:00+00', '2026-03-04 10:00+00', 'force_close'),
    ('e', :'u1', :'s1', 'paper', 'long',  2, 18000.00, NULL,     '2026-03-04 14:00+00', NULL, NULL),
    ('f', :'u1', :'s2', 'paper', 'short', 1, 18010.00, NULL,     '2026-03-04 15:00+00', NULL, NULL),
    ('g', :'u1', :'s3', 'paper', 'long',  1,  5000.00, NULL,     '2026-03-04 15:30+00', NULL, NULL),
    ('h', :'u1', :'s5', 'paper', 'long',  1,  2000.0,  NULL,     '2026-03-04 15:45+00', NULL, NULL),
    ('i', :'u1', :'s1', 'live',  'long',  1, 18000.00, 18005.00, '2026-03-02 15:00+00', '2026-03-02 15:30+00', 'exit_signal'),
    ('j', :'u2', :'s4', 'paper', 'long',  1, 18000.00, 18100.00, '2026-03-02 14:00+00', '2026-03-02 15:00+00', 'exit_signal'),
    ('k', :'u2', :'s4', 'paper', 'long',  1, 18000.00, NULL,     '2026-03-04 14:00+00', NULL, NULL),
    ('m', :'u2', :'s4', 'paper', 'short', 1, 18004.00, NULL,     '2026-03-04 14:30+00', NULL, NULL);
INSERT INTO ex7.signals (id, user_id, strategy_id, strategy_version, instrument, timeframe, mode, side, size, entry_price,
                         bar_ts, fired_at, status, close_reason, close_price, closed_at, pnl_points, pnl_ticks,
                         gross_pnl, slippage_ticks, slippage_cost, commission, net_pnl)
SELECT ('00000000-0000-4000-8000-8a00000000' || to_hex(ascii(fx.n)))::uuid, fx.u, fx.s, 1, st.instrument, st.timeframe, fx.mode,
       fx.side, fx.size, fx.entry, fx.fired, fx.fired,
       CASE WHEN fx.reason IS NULL THEN 'open' WHEN fx.reason = 'force_close' THEN 'cancelled' ELSE 'closed' END,
       fx.reason, CASE WHEN fx.reason = 'force_close' THEN fx.entry ELSE fx.close END, fx.closed,
       CASE WHEN fx.reason = 'force_close' THEN 0 ELSE p.points END, CASE WHEN fx.reason = 'force_close' THEN 0 ELSE p.ticks END,
       CASE WHEN fx.reason = 'force_close' THEN 0.00 ELSE p.gross_pnl END, CASE WHEN fx.reason = 'force_close' THEN 0 ELSE p.slippage_ticks END,
       CASE WHEN fx.reason = 'force_close' THEN 0.00 ELSE p.slippage_cost END,
       CASE WHEN fx.reason = 'force_close' THEN 0.00 ELSE p.commission END,
       CASE WHEN fx.reason = 'force_close' THEN 0.00 ELSE p.net_pnl END
  FROM fx JOIN ex7.strategies st ON st.id = fx.s
  LEFT JOIN LATERAL ex7.compute_pnl(st.instrument, fx.side, fx.size, fx.entry, fx.close) p ON true;
SELECT fx.n, s.id, s.status, s.net_pnl FROM fx JOIN ex7.signals s ON s.id = ('00000000-0000-4000-8000-8a00000000' || to_hex(ascii(fx.n)))::uuid
 ORDER BY fx.n;

-- The bars: PAPQ 1m closing 03-04 15:58 at 18015.00 and 15:59 at 18020.00 (the mark at 16:00, fresh), PAPE 1m
-- closing 03-03 21:59 at 4995.00 (the mark at the 23:00Z day end and, stale, at 03-04 16:00). PAPG: none.
SELECT ex7.ingest_bar('PAPQ', '1m', '2026-03-04 15:58+00', 18010.00, 18016.00, 18009.00, 18015.00, 10, false) ->> 'status' AS q1,
       ex7.ingest_bar('PAPQ', '1m', '2026-03-04 15:59+00', 18015.00, 18021.00, 18014.00, 18020.00, 10, false) ->> 'status' AS q2,
       ex7.ingest_bar('PAPE', '1m', '2026-03-03 21:59+00', 4996.00, 4997.00, 4994.00, 4995.00, 10, false) ->> 'status' AS e1;

-- ---------------------------------------------------------------------------------------------------
-- Positions at 03-04 16:00Z, netted per instrument across strategies.
--   PAPQ: alpha long 2 @ 18000.00, beta short 1 @ 18010.00: net long 1; break-even (2 * 18000 - 18010) / 1 =
--     17990.00. At the mark 18020.00: long 2 x 80 ticks = 80.00 gross, net 80.00 - 4.00 - 2.48 = 73.52; short 1
--     x -40 ticks = -20.00 gross, net -20.00 - 2.00 - 1.24 = -23.24. Gross 60.00 = 1 x (18020 - 17990) x 2.00 a
--     point; net 50.28.
--   PAPE: gamma long 1 @ 5000.00 at the stale mark 4995.00: -20 ticks = -250.00 gross, net -250.00 - 50.00 -
--     4.50 = -304.50.
--   PAPG: delta long 1, no bar: mark and P&L null.
-- ---------------------------------------------------------------------------------------------------
SELECT jsonb_pretty(ex7._paper_positions(:'u1', 'paper', '2026-03-04 16:00+00'));
SELECT jsonb_pretty(ex7._paper_positions_doc(:'u1', 'paper', '2026-03-04 16:00+00') - 'items' - 'disclaimer');
-- flat: u2's long 1 @ 18000.00 and short 1 @ 18004.00 cancel out: no size, no average price, but the 4 points
-- between them are locked in (8.00 gross) and each signal still pays its round trip: 8.00 - 4.00 - 2.48 = 1.52
SELECT p ->> 'instrument' AS instrument, p ->> 'side' AS side, p -> 'size' AS size, p ->> 'average_price' AS average_price,
       p ->> 'long_average_price' AS long_avg, p ->> 'short_average_price' AS short_avg,
       p ->> 'unrealized_gross_pnl' AS gross, p ->> 'unrealized_pnl' AS net
  FROM jsonb_array_elements(ex7._paper_positions(:'u2', 'paper', '2026-03-04 16:00+00')) AS p;
-- a position is the signals open at the instant: at 14:30 only e (alpha long 2) on PAPQ, before it none;
-- at 16:00 c is closed and the live pool has nothing open
SELECT p ->> 'instrument' AS instrument, p ->> 'side' AS side, p -> 'size' AS size, p ->> 'average_price' AS average_price,
       p -> 'strategy_ids' AS strategies, p ->> 'mark_price' AS mark
  FROM jsonb_array_elements(ex7._paper_positions(:'u1', 'paper', '2026-03-04 14:30+00')) AS p;
SELECT jsonb_array_length(ex7._paper_positions(:'u1', 'paper', '2026-03-03 22:30+00')) AS at_2230_only_c,
       jsonb_array_length(ex7._paper_positions(:'u1', 'paper', '2026-03-03 13:00+00')) AS before_any,
       jsonb_array_length(ex7._paper_positions(:'u1', 'live', '2026-03-04 16:00+00')) AS live_positions;

-- ---------------------------------------------------------------------------------------------------
-- The account at 03-04 16:00Z: closes a, b, c, d (17.26 - 23.24 + 445.50 + 0.00 = 439.52); unrealized 50.28 -
-- 304.50 = -254.22 (PAPG unmarked); equity 10000 + 439.52 - 254.22 = 10185.30. Today (from 03-03 23:00Z): c
-- (23:30Z, after the boundary) and d.
-- ---------------------------------------------------------------------------------------------------
SELECT jsonb_pretty(ex7._paper_account(:'u1', 'paper', '2026-03-04 16:00+00'));
-- at 03-03 16:00Z, after b: the realized curve peaked at 10017.26 (after a) and stands at 9994.02
SELECT a -> 'realized_drawdown' AS drawdown, a ->> 'realized_pnl' AS realized, a -> 'today' AS today
  FROM ex7._paper_account(:'u1', 'paper', '2026-03-03 16:00+00') AS a;
-- the live pool is its own account: i only
SELECT a ->> 'realized_pnl' AS live_realized, a -> 'closes' AS live_closes, a ->> 'equity' AS live_equity
  FROM ex7._paper_account(:'u1', 'live', '2026-03-04 16:00+00') AS a;

-- the realized curve (what a max-drawdown protection reads): the start, then every close since it
SELECT c.ts, c.signal_id, c.net_pnl, c.equity FROM ex7._paper_realized_curve(:'u1', 'paper') AS c;
SELECT count(*) AS points_until_0303 FROM ex7._paper_realized_curve(:'u1', 'paper', '2026-03-03 16:00+00');

-- ---------------------------------------------------------------------------------------------------
-- The ledger: every close since the start (force-close d at 0.00 included, the live i and u2's j not),
-- newest first by (closed_at, id), with the account's balance after each: 10017.26, 9994.02, 10439.52,
-- 10439.52.
-- ---------------------------------------------------------------------------------------------------
SELECT e ->> 'signal_id' AS signal_id, e ->> 'closed_at' AS closed_at, e ->> 'close_reason' AS reason,
       e ->> 'gross_pnl' AS gross, e ->> 'slippage_cost' AS slippage, e ->> 'commission' AS commission,
       e ->> 'net_pnl' AS net, e ->> 'balance' AS balance
  FROM jsonb_array_elements(ex7.list_paper_ledger(:'u1') -> 'items') AS e;
SELECT jsonb_pretty(ex7.list_paper_ledger(:'u1') -> 'items' -> 1);
-- keyset pages of 1: the same entries in the same order, and the last page has no cursor
CREATE FUNCTION pg_temp.pages(u uuid, lim int, strat uuid DEFAULT NULL) RETURNS TABLE (page int, signal_id text, balance text, has_next boolean)
LANGUAGE plpgsql AS $$
DECLARE
    c text;
    p jsonb;
    k int := 0;
BEGIN
    LOOP
        k := k + 1;
        p := ex7.list_paper_ledger(u, 'paper', strat, NULL, c, lim);
        RETURN QUERY SELECT k, e ->> 'signal_id', e ->> 'balance', p ->> 'next_cursor' IS NOT NULL
                       FROM jsonb_array_elements(p -> 'items') AS e;
        c := p ->> 'next_cursor';
        EXIT WHEN c IS NULL OR k > 10;
    END LOOP;
END
$$;
SELECT * FROM pg_temp.pages(:'u1', 1);
SELECT * FROM pg_temp.pages(:'u1', 3);
-- one strategy's closes (alpha: d and a) with the account's balance; one instrument's
SELECT * FROM pg_temp.pages(:'u1', 1, :'s1');
SELECT jsonb_agg(e ->> 'signal_id') AS pape_only
  FROM jsonb_array_elements(ex7.list_paper_ledger(:'u1', 'paper', NULL, 'pape') -> 'items') AS e;
-- u2 sees only j; live only i
SELECT jsonb_agg(e ->> 'signal_id') AS u2_ledger FROM jsonb_array_elements(ex7.list_paper_ledger(:'u2') -> 'items') AS e;
SELECT jsonb_agg(e ->> 'signal_id') AS live_ledger FROM jsonb_array_elements(ex7.list_paper_ledger(:'u1', 'live') -> 'items') AS e;

-- ---------------------------------------------------------------------------------------------------
-- Equity per trading day at 03-04 16:00Z, from the first signal (03-02 14:00Z: the day 03-01 23:00Z to
-- 03-02 23:00Z, named 03-02):
--   03-02: a (17.26): 10017.26, nothing open at its end.
--   03-03: b (-23.24): realized 9994.02; c (short PAPE, fired 22:00Z) is open at the 23:00Z end, marked at
--          4995.00: +20 ticks = 250.00 - 50.00 - 4.50 = 195.50: equity 10189.52.
--   03-04 (cut at 16:00, not complete): c closed at 23:30Z the day before in UTC but after the boundary, and
--          d: 445.50, realized 10439.52; open e, f, g, h as the positions above: equity 10185.30.
-- ---------------------------------------------------------------------------------------------------
SELECT jsonb_pretty(ex7._paper_equity_daily(:'u1', 'paper', NULL, NULL, '2026-03-04 16:00+00') - 'days' - 'disclaimer');
SELECT d ->> 'trading_day' AS day, d ->> 'start' AS start, d ->> 'end' AS "end", d -> 'complete' AS complete,
       d -> 'closes' AS closes, d ->> 'realized_pnl' AS realized, d ->> 'realized_equity' AS realized_equity,
       d -> 'open_signals' AS open, d -> 'unmarked_signals' AS unmarked, d ->> 'unrealized_pnl' AS unrealized,
       d ->> 'equity' AS equity
  FROM jsonb_array_elements(ex7._paper_equity_daily(:'u1', 'paper', NULL, NULL, '2026-03-04 16:00+00') -> 'days') AS d;
-- the last day's equity is the account's
SELECT (ex7._paper_equity_daily(:'u1', 'paper', NULL, NULL, '2026-03-04 16:00+00') -> 'days' -> -1 ->> 'equity')
       = ex7._paper_account(:'u1', 'paper', '2026-03-04 16:00+00') ->> 'equity' AS same_equity;
-- 03-05 to 03-10: the weekend days (starting Friday and Saturday 18:00 New York) are left out; the DST change
-- of Sunday 03-08 moves the start to 22:00Z; e, f, g, h stay open, marked at the last bars
SELECT d ->> 'trading_day' AS day, d ->> 'start' AS start, d ->> 'end' AS "end", d -> 'closes' AS closes,
       d ->> 'equity' AS equity
  FROM jsonb_array_elements(ex7._paper_equity_daily(:'u1', 'paper', '2026-03-05 00:00+00', '2026-03-10 12:00+00',
                                                    '2026-03-11 00:00+00') -> 'days') AS d;
-- a range before the first signal: the capital; a from in the future: no day
SELECT d ->> 'trading_day' AS day, d ->> 'equity' AS equity
  FROM jsonb_array_elements(ex7._paper_equity_daily(:'u1', 'paper', '2026-02-26 12:00+00', '2026-02-27 12:00+00',
                                                    '2026-03-11 00:00+00') -> 'days') AS d;
SELECT ex7._paper_equity_daily(:'u1', 'paper', '2026-04-01', NULL, '2026-03-11 00:00+00') -> 'days' AS future;

-- ---------------------------------------------------------------------------------------------------
-- Errors: 422 with the locator, 401 without a user, 404 for another user's strategy.
-- ---------------------------------------------------------------------------------------------------
SELECT ex7_test.err(format('SELECT ex7.get_paper_account(%L, %L)', :'u1', 'Paper')) AS bad_mode,
       ex7_test.err(format('SELECT ex7.list_paper_positions(%L, NULL)', :'u1')) AS null_mode,
       ex7_test.err('SELECT ex7.get_paper_account(NULL)') AS no_user,
       ex7_test.err('SELECT ex7.list_paper_positions(NULL)') AS no_user_positions;
SELECT ex7_test.err(format('SELECT ex7.list_paper_ledger(%L, %L, NULL, NULL, NULL, 0)', :'u1', 'paper')) AS limit_0,
       ex7_test.err(format('SELECT ex7.list_paper_ledger(%L, %L, NULL, NULL, %L)', :'u1', 'paper', 'garbage')) AS bad_cursor,
       ex7_test.err(format('SELECT ex7.list_paper_ledger(%L, %L, NULL, NULL, %L)', :'u2', 'paper',
                           ex7.list_paper_ledger(:'u1', 'paper', NULL, NULL, NULL, 1) ->> 'next_cursor')) AS others_cursor,
       ex7_test.err(format('SELECT ex7.list_paper_ledger(%L, %L, NULL, NULL, %L)', :'u1', 'paper',
                           ex7.list_signals(:'u1', NULL, NULL, NULL, NULL, NULL, NULL, NULL, 1) ->> 'next_cursor')) AS signals_cursor;
SELECT ex7_test.err(format('SELECT ex7.list_paper_ledger(%L, %L, %L)', :'u1', 'paper', :'s4')) AS others_strategy,
       ex7_test.err(format('SELECT ex7.list_paper_ledger(%L, %L, %L)', :'u2', 'paper', :'s1')) AS others_strategy_reverse,
       ex7_test.err(format('SELECT ex7.list_paper_ledger(%L, %L, %L)', :'u1', 'paper', '00000000-0000-4000-8000-8a00000001ff')) AS missing;
SELECT ex7_test.err(format('SELECT ex7.paper_equity_daily(%L, %L, %L, %L)', :'u1', 'paper', '2026-03-04', '2026-03-04')) AS empty_range,
       ex7_test.err(format('SELECT ex7.paper_equity_daily(%L, %L, %L, %L)', :'u1', 'paper', '2025-01-01', '2026-03-04')) AS long_range,
       ex7_test.err(format('SELECT ex7.paper_equity_daily(%L, %L)', :'u1', 'demo')) AS bad_mode;
SELECT ex7_test.err(format('SELECT ex7.reset_paper_account(%L, %L)', :'u1', 'demo')) AS bad_mode,
       ex7_test.err(format('SELECT ex7.reset_paper_account(%L, NULL)', :'u1')) AS null_mode;
SELECT c AS capital, ex7_test.err(format('SELECT ex7.reset_paper_account(%L, %L, %s)', :'u1', 'paper', c)) AS bad_capital
  FROM unnest(ARRAY['0', '-1', '1000000000000', '100.005', '''NaN''']) AS c;
SELECT ex7_test.err('SELECT ex7.reset_paper_account(NULL)') AS no_user;

-- ---------------------------------------------------------------------------------------------------
-- Performance reads the account's capital: before any reset 10000.00 (alpha's paper trade a: 17.26 is
-- 0.1726%); the dashboard too.
-- ---------------------------------------------------------------------------------------------------
SELECT m ->> 'initial_capital' AS capital, m -> 'net_pnl_percent' AS pct, m ->> 'final_equity' AS final_equity
  FROM (SELECT ex7._live_metrics(:'u1', :'s1', 'paper', NULL, NULL, '2026-03-05 00:00+00') -> 'metrics' AS m) x;

-- ---------------------------------------------------------------------------------------------------
-- Reset: refused while the mode has open signals (409 open_positions); the live pool has none.
-- ---------------------------------------------------------------------------------------------------
SELECT ex7_test.err(format('SELECT ex7.reset_paper_account(%L, %L, 20000)', :'u1', 'paper')) AS with_open_positions;
SELECT count(*) AS rows_after_refusal FROM ex7.paper_accounts WHERE user_id = :'u1';
-- flatten: force-close every strategy's open signals (zero P&L), then reset on 20000
SELECT sum(ex7.force_close_all(:'u1', s)::int) AS force_closed FROM unnest(ARRAY[:'s1', :'s2', :'s3', :'s5']::uuid[]) AS s;
SELECT ex7.reset_paper_account(:'u1', 'paper', 20000) AS r \gset
SELECT r -> 'previous' AS previous, r ->> 'starting_capital' AS capital, r -> 'is_default' AS is_default,
       r -> 'resets' AS resets, r -> 'closes' AS closes, r ->> 'realized_pnl' AS realized, r ->> 'equity' AS equity,
       r -> 'positions' AS positions, (r ->> 'started_at')::timestamptz = a.started_at AS started_is_row,
       a.started_at > '2026-03-05' AS started_now, r -> 'disclaimer' = ex7.compliance_banner() AS has_statement
  FROM (SELECT :'r'::jsonb AS r) AS x
  JOIN ex7.paper_accounts a ON a.user_id = :'u1' AND a.mode = 'paper';
-- after the reset: no close in the account, the ledger is empty; the closes are still signals
SELECT a ->> 'starting_capital' AS capital, a -> 'closes' AS closes, a ->> 'equity' AS equity, a -> 'is_default' AS is_default
  FROM ex7.get_paper_account(:'u1') AS a;
SELECT ex7.list_paper_ledger(:'u1') -> 'items' AS ledger_after_reset,
       (SELECT count(*) FROM ex7.signals WHERE user_id = :'u1' AND mode = 'paper' AND status <> 'open') AS closes_kept;
-- the live account is untouched
SELECT a -> 'is_default' AS live_default, a ->> 'starting_capital' AS live_capital FROM ex7.get_paper_account(:'u1', 'live') AS a;

-- a close after the reset: beta long 1 PAPQ 18000.00 -> 18005.00 = 20 ticks: 10.00 - 2.00 - 1.24 = 6.76
INSERT INTO ex7.signals (id, user_id, strategy_id, strategy_version, instrument, timeframe, mode, side, size, entry_price,
                         bar_ts, fired_at, status, close_reason, close_price, closed_at, pnl_points, pnl_ticks,
                         gross_pnl, slippage_ticks, slippage_cost, commission, net_pnl)
SELECT '00000000-0000-4000-8000-8a000000006c', :'u1', :'s2', 1, 'PAPQ', '1m', 'paper', 'long', 1, 18000.00,
       now(), now(), 'closed', 'exit_signal', 18005.00, now(), p.points, p.ticks, p.gross_pnl, p.slippage_ticks,
       p.slippage_cost, p.commission, p.net_pnl
  FROM ex7.compute_pnl('PAPQ', 'long', 1, 18000.00, 18005.00) AS p;
SELECT e ->> 'signal_id' AS signal_id, e ->> 'net_pnl' AS net, e ->> 'balance' AS balance
  FROM jsonb_array_elements(ex7.list_paper_ledger(:'u1') -> 'items') AS e;
SELECT a ->> 'realized_pnl' AS realized, a ->> 'equity' AS equity, a -> 'return_percent' AS return_percent
  FROM ex7.get_paper_account(:'u1') AS a;
SELECT c.signal_id, c.net_pnl, c.equity, c.ts = (SELECT started_at FROM ex7.paper_accounts WHERE user_id = :'u1' AND mode = 'paper') AS at_start
  FROM ex7._paper_realized_curve(:'u1', 'paper') AS c;
-- the equity per day starts at the reset
SELECT d -> 'closes' AS closes, d ->> 'realized_equity' AS realized_equity, d ->> 'equity' AS equity
  FROM jsonb_array_elements(ex7.paper_equity_daily(:'u1') -> 'days') AS d;

-- performance's percents follow the capital: alpha's 17.26 is now 0.0863% of 20000.00
SELECT m ->> 'initial_capital' AS capital, m -> 'net_pnl_percent' AS pct, m ->> 'final_equity' AS final_equity
  FROM (SELECT ex7._live_metrics(:'u1', :'s1', 'paper', NULL, NULL, '2026-03-05 00:00+00') -> 'metrics' AS m) x;
SELECT e ->> 'equity' AS first_equity
  FROM jsonb_array_elements(ex7._live_metrics(:'u1', :'s1', 'paper', NULL, NULL, '2026-03-05 00:00+00') -> 'equity_curve') WITH ORDINALITY AS x (e, i)
 WHERE i = 1;
SELECT p ->> 'initial_capital' AS performance_capital,
       (SELECT i -> 'live' -> 'paper' -> 'net_pnl_percent' FROM jsonb_array_elements(p -> 'strategies') AS i
         WHERE i ->> 'name' = 'alpha') AS alpha_pct,
       (SELECT i -> 'live' -> 'live' ->> 'initial_capital' FROM jsonb_array_elements(p -> 'strategies') AS i
         WHERE i ->> 'name' = 'alpha') AS live_capital
  FROM ex7._performance(:'u1', '2026-03-05 00:00+00') AS p;
SELECT d ->> 'initial_capital' AS capital, d -> 'pnl_percent' AS pct
  FROM ex7._strategy_performance(:'u1', :'s1', NULL, NULL, 'paper', '2026-03-05 00:00+00') AS d;
SELECT i ->> 'name' AS name, i ->> 'pnl' AS pnl, i -> 'pnl_percent' AS pct
  FROM jsonb_array_elements(ex7._dashboard(:'u1', 'paper', '2026-03-05 00:00+00') -> 'strategies') AS i;
SELECT ex7._dashboard(:'u1', 'paper', '2026-03-05 00:00+00') -> 'aggregate' -> 'total_pnl_percent' AS total_pct;
-- u2 never reset: 10000.00 as before (j: 196.76 is 1.9676%)
SELECT p ->> 'initial_capital' AS u2_capital, p -> 'strategies' -> 0 -> 'live' -> 'paper' -> 'net_pnl_percent' AS u2_pct
  FROM ex7._performance(:'u2', '2026-03-05 00:00+00') AS p;

-- the portfolio carries the same account
SELECT p -> 'account' = ex7._paper_account(:'u1', 'paper', p_at) AS same_account,
       p -> 'account' ->> 'starting_capital' AS capital
  FROM (SELECT now() AS p_at) t, ex7._portfolio(:'u1', 'paper', t.p_at) AS p;
SELECT p -> 'account' ->> 'starting_capital' AS u2_capital, p -> 'account' -> 'is_default' AS u2_default,
       p -> 'account' -> 'open_signals' AS u2_open
  FROM ex7._portfolio(:'u2', 'paper', '2026-03-05 00:00+00') AS p;

-- a second reset without a capital keeps 20000.00; resets counts
SELECT r -> 'previous' ->> 'realized_pnl' AS previous_realized, r -> 'previous' ->> 'equity' AS previous_equity,
       r ->> 'starting_capital' AS capital, r -> 'resets' AS resets, r -> 'closes' AS closes
  FROM ex7.reset_paper_account(:'u1') AS r;
SELECT mode, starting_capital, resets FROM ex7.paper_accounts WHERE user_id = :'u1' ORDER BY mode;

-- row-level security: a bound role sees its own account only
DO $$ BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'ex7_paper_test') THEN CREATE ROLE ex7_paper_test NOLOGIN; END IF;
END $$;
SELECT ex7.bind_role('ex7_paper_test', :'u2') IS NOT NULL AS bound;
SELECT ex7_test.err(format('SELECT ex7.reset_paper_account(%L, %L, 5000)', :'u2', 'paper')) AS u2_paper_open,
       ex7.reset_paper_account(:'u2', 'live', 5000) ->> 'starting_capital' AS u2_live_capital;
SET ROLE ex7_paper_test;
SELECT user_id, mode, starting_capital, resets FROM ex7.paper_accounts ORDER BY mode;
RESET ROLE;
