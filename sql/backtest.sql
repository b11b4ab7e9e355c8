-- sql/backtest.sql: backtests (ext/backtest.c, ext/sql/67_backtest.sql, docs/backtests.md): the live
-- dispatcher and a backtest fed the same bars give the same signals and P&L; a backtest is deterministic;
-- the risk gate option; body checks; ownership; the list; a background run with its progress.
-- Users 00000000-0000-4000-8000-5a00000000NN. Bars: RTY 5m (tick 0.10, 5.00 USD a tick; no other test file
-- uses the series) from Monday 2026-03-02 00:05 UTC, a scripted walk on the tick grid (integer steps: the
-- same numbers on every platform).
\set u1 '00000000-0000-4000-8000-5a0000000001'
\set u2 '00000000-0000-4000-8000-5a0000000002'
SELECT ex7.ensure_user(:'u1') IS NOT NULL AS u1, ex7.ensure_user(:'u2') IS NOT NULL AS u2;
-- runtimes start only for users who accepted the compliance documents (sql/init.sql)
SELECT ex7_test.accept_compliance(ARRAY[:'u1']::uuid[]) > 0 AS accepted;
-- the live run below fires every trade within one transaction (one now(), one trading day): room for all
SELECT ex7.set_risk_limits(:'u1', 'paper', '{"max_trades_per_day": 1000, "max_open_positions": 100,
    "daily_loss_limit": "1000000", "max_consecutive_losses": 100}') IS NOT NULL AS limits;

-- 600 bars: a 40-bar up / 40-bar down drift of 3 ticks a bar plus a 17-bar cycle of -8..+8 ticks, on
-- the Globex session (none closes in the daily break, after 17:00 and up to 18:00 New York)
CREATE TEMP TABLE walk AS
WITH t AS (SELECT row_number() OVER (ORDER BY ts)::int AS g, ts
             FROM generate_series(timestamptz '2026-03-02 00:05+00', '2026-03-05 00:00+00', interval '5 minutes') ts
            WHERE NOT ((ts AT TIME ZONE 'America/New_York')::time > '17:00'
                       AND (ts AT TIME ZONE 'America/New_York')::time <= '18:00')),
     s AS (SELECT g, ts, ((g * 7919) % 17 - 8) + CASE WHEN (g / 40) % 2 = 0 THEN 3 ELSE -3 END AS step
             FROM t WHERE g <= 600),
     c AS (SELECT g, ts, 2000 + 0.10 * sum(step) OVER (ORDER BY g) AS c FROM s),
     o AS (SELECT g, ts, c, lag(c, 1, c) OVER (ORDER BY g) AS o FROM c)
SELECT g, ts, o,
       greatest(o, c) + 0.10 * ((g * 31) % 5) AS h, least(o, c) - 0.10 * ((g * 17) % 5) AS l, c
  FROM o;
SELECT count(*) AS bars, min(c) AS lowest, max(c) AS highest,
       to_char(max(ts) FILTER (WHERE g = 200) AT TIME ZONE 'UTC', 'MM-DD HH24:MI') AS bar_200,
       to_char(max(ts) AT TIME ZONE 'UTC', 'MM-DD HH24:MI') AS bar_600 FROM walk;
-- the range the live run covers: (bar 200, bar 600]
SELECT jsonb_build_object('from', max(ts) FILTER (WHERE g = 200), 'to', max(ts)) AS range FROM walk \gset

-- the first 200 bars are history, stored before the strategy runs (through ex7.ingest_bar without
-- dispatching, as a feed's backfill: the bars and their blocks)
SELECT count(ex7.ingest_bar('RTY', '5m', w.ts, w.o, w.h, w.l, w.c, 100, false)) AS history
  FROM (SELECT * FROM walk WHERE g <= 200 ORDER BY g) w;

-- the EMA 9/21 crossover fixture (day session, 16-tick stop, 32-tick target, exits on the opposite cross)
-- on RTY 5m, live in paper mode
SELECT (ex7.create_strategy(:'u1', (SELECT f -> 'body' FROM jsonb_array_elements(ex7._fixtures()) f
                                     WHERE f ->> 'slug' = 'ema-crossover') || '{"instrument": "RTY"}') ->> 'id') AS s1 \gset
SELECT ex7.promote_strategy(:'u1', :'s1') ->> 'status' AS ready;
SELECT ex7.promote_strategy(:'u1', :'s1') ->> 'status' AS live;
SELECT ex7.start_runtime(:'u1', :'s1', 'paper') ->> 'status' AS runtime;
-- and a busier one, around the clock: long while SMA(3) > SMA(8) (level-triggered: "position_open" skips),
-- short on SMA(3) crossing below SMA(8) (reversing a long), a long exits when the close crosses below
-- SMA(8), a short when above; long 6-tick stop and 14-tick target, size 2; short 8-tick stop, no target
SELECT (ex7.create_strategy(:'u1', '{"name": "Fast SMA", "instrument": "RTY", "timeframe": "5m", "graph": {
  "nodes": [{"id": "c", "type": "close"},
            {"id": "f", "type": "sma", "params": {"period": 3}}, {"id": "s", "type": "sma", "params": {"period": 8}},
            {"id": "above", "type": "gt"}, {"id": "down", "type": "crosses_below"},
            {"id": "c_dn", "type": "crosses_below"}, {"id": "c_up", "type": "crosses_above"},
            {"id": "long", "type": "enter_long", "params": {"size": 2}},
            {"id": "short", "type": "enter_short", "params": {"size": 1}},
            {"id": "xl", "type": "exit_long"}, {"id": "xs", "type": "exit_short"},
            {"id": "ls", "type": "stop_loss_ticks", "params": {"ticks": 6}},
            {"id": "lt", "type": "take_profit_ticks", "params": {"ticks": 14}},
            {"id": "ss", "type": "stop_loss_ticks", "params": {"ticks": 8}}],
  "edges": [{"from": "c", "to": "f"}, {"from": "c", "to": "s"},
            {"from": "f", "to": "above", "port": "a"}, {"from": "s", "to": "above", "port": "b"},
            {"from": "f", "to": "down", "port": "a"}, {"from": "s", "to": "down", "port": "b"},
            {"from": "c", "to": "c_dn", "port": "a"}, {"from": "s", "to": "c_dn", "port": "b"},
            {"from": "c", "to": "c_up", "port": "a"}, {"from": "s", "to": "c_up", "port": "b"},
            {"from": "above", "to": "long"}, {"from": "down", "to": "short"},
            {"from": "c_dn", "to": "xl"}, {"from": "c_up", "to": "xs"},
            {"from": "long", "to": "ls"}, {"from": "long", "to": "lt"}, {"from": "short", "to": "ss"}]}}') ->> 'id') AS s3 \gset
SELECT ex7.promote_strategy(:'u1', :'s3') ->> 'status' AS ready;
SELECT ex7.promote_strategy(:'u1', :'s3') ->> 'status' AS live;
SELECT ex7.start_runtime(:'u1', :'s3', 'paper') ->> 'status' AS runtime;

-- LIVE: bars 201..600 ingested one at a time, each dispatched (ex7._dispatch_bar)
DO $$
DECLARE r record;
BEGIN
    FOR r IN SELECT * FROM walk WHERE g > 200 ORDER BY g LOOP
        PERFORM ex7.ingest_bar('RTY', '5m', r.ts, r.o, r.h, r.l, r.c, 100);
    END LOOP;
END $$;
SELECT s.name, a.decision, coalesce(a.detail ->> 'reason', '') AS reason, count(*)
  FROM ex7.signal_audit a JOIN ex7.strategies s ON s.id = a.strategy_id
 WHERE a.user_id = :'u1' GROUP BY 1, 2, 3 ORDER BY 1, 2, 3;

-- pg_temp.compare(strategy, backtest): the live signals against the backtest's trades, in order: the
-- count of differences in entry (side, bar, price, size, brackets) and exit (reason, price, net P&L); a
-- signal still open live must be the backtest's end_of_range trade
CREATE FUNCTION pg_temp.compare(p_strategy uuid, p_backtest uuid, OUT live_signals bigint, OUT backtest_trades bigint,
                                OUT mismatches bigint) LANGUAGE sql AS $$
    WITH l AS (SELECT row_number() OVER (ORDER BY bar_ts, fired_at, id) AS n, * FROM ex7.signals WHERE strategy_id = p_strategy),
         b AS (SELECT seq AS n, * FROM ex7.backtest_trades WHERE backtest_id = p_backtest)
    SELECT (SELECT count(*) FROM l), (SELECT count(*) FROM b),
           (SELECT count(*) FROM l FULL JOIN b ON b.n = l.n
             WHERE l.n IS NULL OR b.n IS NULL
                OR (l.side, l.bar_ts, l.entry_price, l.size, l.stop_price, l.target_price)
                   IS DISTINCT FROM (b.side, b.entry_time, b.entry_price, b.quantity, b.stop_price, b.target_price)
                OR (l.close_reason IS NOT NULL
                    AND (l.close_reason, l.close_price, l.net_pnl, l.gross_pnl, l.commission, l.slippage_cost)
                        IS DISTINCT FROM (b.exit_reason, b.exit_price, b.net_pnl, b.gross_pnl, b.commission, b.slippage_cost))
                OR (l.close_reason IS NULL AND b.exit_reason <> 'end_of_range'))
$$;
-- the skips the dispatcher audited, by reason
CREATE FUNCTION pg_temp.live_skips(p_strategy uuid) RETURNS jsonb LANGUAGE sql AS $$
    SELECT jsonb_object_agg(r, (SELECT count(*) FROM ex7.signal_audit a WHERE a.strategy_id = p_strategy
                                                                       AND a.detail ->> 'reason' = r) ORDER BY r)
      FROM unnest(ARRAY['long_and_short_entries_on_one_bar', 'position_open', 'runtime_draining', 'warming_up']) r
$$;

-- BACKTEST: the same version over the same bars, (bar 200, bar 600]
SELECT ex7.backtest_strategy(:'u1', :'s1', :'range', true) AS b1 \gset
SELECT :'b1'::jsonb ->> 'status' AS status, :'b1'::jsonb -> 'progress' AS progress,
       (:'b1'::jsonb -> 'result') - 'elapsed_ms' - 'store_ms' - 'bars_per_second' AS result;
SELECT (:'b1'::jsonb ->> 'id') AS b1id \gset

-- EQUAL: every live signal is a backtest trade with the same entry, brackets, close and net P&L; one
-- still open live is the backtest's end_of_range trade; the skips are the audit's
CREATE TEMP VIEW bt AS SELECT * FROM ex7.backtest_trades WHERE backtest_id = :'b1id';
SELECT to_char(entry_time AT TIME ZONE 'UTC', 'DD HH24:MI') AS entry, side, quantity, entry_price, stop_price,
       target_price, to_char(exit_time AT TIME ZONE 'UTC', 'DD HH24:MI') AS exit, exit_reason, exit_price, net_pnl,
       mae, mfe
  FROM bt ORDER BY seq;
SELECT * FROM pg_temp.compare(:'s1', :'b1id');
SELECT pg_temp.live_skips(:'s1') = :'b1'::jsonb #> '{result,skipped}' AS same_skips;

SELECT ex7.backtest_strategy(:'u1', :'s3', :'range', true) AS b6 \gset
SELECT (:'b6'::jsonb ->> 'id') AS b6id \gset
SELECT to_char(entry_time AT TIME ZONE 'UTC', 'DD HH24:MI') AS entry, side, quantity, entry_price, stop_price,
       target_price, to_char(exit_time AT TIME ZONE 'UTC', 'DD HH24:MI') AS exit, exit_reason, exit_price, net_pnl,
       mae, mfe
  FROM ex7.backtest_trades WHERE backtest_id = :'b6id' ORDER BY seq LIMIT 12;
SELECT exit_reason, count(*), sum(net_pnl) AS net FROM ex7.backtest_trades WHERE backtest_id = :'b6id'
 GROUP BY 1 ORDER BY 1;
SELECT * FROM pg_temp.compare(:'s3', :'b6id');
SELECT pg_temp.live_skips(:'s3') AS live_skips, :'b6'::jsonb #> '{result,skipped}' AS backtest_skips;
SELECT (SELECT sum(net_pnl) FROM ex7.signals WHERE strategy_id = :'s3' AND status <> 'open') AS live_net,
       (SELECT sum(net_pnl) FROM ex7.backtest_trades WHERE backtest_id = :'b6id' AND exit_reason <> 'end_of_range') AS backtest_net;

-- the equity curve: initial capital + realized + open gross P&L, at the range's start (the initial
-- capital), then at every close and UTC day end
SELECT count(*) AS samples,
       (SELECT ts = (:'range'::jsonb ->> 'from')::timestamptz AND equity = 10000.00
          FROM ex7.backtest_equity WHERE backtest_id = :'b1id' ORDER BY seq LIMIT 1) AS starts_at_from_with_capital,
       (SELECT ts FROM ex7.backtest_equity WHERE backtest_id = :'b1id' ORDER BY seq OFFSET 1 LIMIT 1)
           = (SELECT min(exit_time) FROM bt) AS then_first_close,
       (SELECT equity FROM ex7.backtest_equity WHERE backtest_id = :'b1id' ORDER BY seq DESC LIMIT 1)
           = 10000.00 + (SELECT sum(net_pnl) FROM bt) AS ends_at_realized
  FROM ex7.backtest_equity WHERE backtest_id = :'b1id';
SELECT to_char(ts AT TIME ZONE 'UTC', 'DD HH24:MI') AS ts, equity FROM ex7.backtest_equity
 WHERE backtest_id = :'b1id' AND (ts AT TIME ZONE 'UTC')::time = '23:55' ORDER BY seq;

-- THE DRAWDOWN is over the equity marked at every bar close while a position is open (initial capital +
-- realized net P&L + the open positions gross at the close: whole ticks, truncated toward zero, times tick
-- value and size), from the initial capital; the curve keeps only its samples. pg_temp.bar_drawdown
-- computes it from the bars and the trades, bar by bar.
CREATE FUNCTION pg_temp.bar_drawdown(p_backtest uuid) RETURNS numeric LANGUAGE sql AS $$
    WITH b AS (SELECT x.*, coalesce((x.params ->> 'initial_capital')::numeric, 10000) AS capital
                 FROM ex7.backtests x WHERE x.id = p_backtest),
         i AS (SELECT i.* FROM ex7.instruments i JOIN b ON i.symbol = b.instrument),
         t AS (SELECT * FROM ex7.backtest_trades WHERE backtest_id = p_backtest),
         e AS (SELECT b.range_from AS ts, b.capital AS equity FROM b
               UNION ALL
               SELECT r.ts, b.capital + coalesce((SELECT sum(t.net_pnl) FROM t WHERE t.exit_time <= r.ts), 0)
                      + coalesce((SELECT sum(trunc(CASE WHEN t.side = 'long' THEN r.close - t.entry_price
                                                        ELSE t.entry_price - r.close END / i.tick_size)
                                             * i.tick_value * t.quantity)
                                    FROM t, i WHERE t.entry_time <= r.ts AND t.exit_time > r.ts), 0)
                 FROM b JOIN ex7.bars r ON r.instrument = b.instrument AND r.timeframe = b.timeframe
                                       AND r.ts > b.range_from AND r.ts <= b.range_to)
    SELECT max(peak - equity) FROM (SELECT equity, max(equity) OVER (ORDER BY ts ROWS UNBOUNDED PRECEDING) AS peak
                                      FROM e) m
$$;
-- the EMA run: four winners, never a closed loss, yet open trades went against it (MAE 10.00 to 45.00).
-- The fourth trade (long at 2004.50, after three wins: 10406.50) closes its second bar 1 tick up
-- (10411.50, the peak) and its fourth 6 ticks down at 2003.90 (10376.50): 35.00, the deepest fall. The
-- sampled curve (what the metrics read) has the start, the closes and the day ends, each at a new high:
-- its drawdown is 0.
SELECT to_char(r.ts AT TIME ZONE 'UTC', 'DD HH24:MI') AS bar, r.close,
       ((r.close - t.entry_price) / 0.10 * 5.00)::numeric(10, 2) AS open_gross,
       (10000.00 + 406.50 + (r.close - t.entry_price) / 0.10 * 5.00)::numeric(10, 2) AS equity
  FROM bt t JOIN ex7.bars r ON r.instrument = 'RTY' AND r.timeframe = '5m' AND r.ts >= t.entry_time AND r.ts < t.exit_time
 WHERE t.seq = 4 ORDER BY r.ts;
SELECT :'b1'::jsonb #>> '{result,max_drawdown}' AS max_drawdown, pg_temp.bar_drawdown(:'b1id') AS by_hand,
       (SELECT min(mae) || '..' || max(mae) FROM bt) AS mae,
       ex7.get_backtest(:'u1', :'b1id') #>> '{metrics,max_drawdown,amount}' AS sampled_curve_drawdown;

-- DETERMINISM: the same input twice gives the same trades, curve and summary
SELECT (ex7.backtest_strategy(:'u1', :'s3', :'range', true) ->> 'id') AS b2id \gset
SELECT (SELECT count(*) FROM (
            (SELECT seq, side, quantity, entry_time, entry_price, stop_price, target_price, exit_time, exit_price,
                    exit_reason, gross_pnl, slippage_cost, commission, net_pnl, mae, mfe
               FROM ex7.backtest_trades WHERE backtest_id = :'b6id'
             EXCEPT ALL
             SELECT seq, side, quantity, entry_time, entry_price, stop_price, target_price, exit_time, exit_price,
                    exit_reason, gross_pnl, slippage_cost, commission, net_pnl, mae, mfe
               FROM ex7.backtest_trades WHERE backtest_id = :'b2id')) d) AS trades_differing,
       (SELECT count(*) FROM (
            (SELECT seq, ts, equity FROM ex7.backtest_equity WHERE backtest_id = :'b6id'
             EXCEPT ALL
             SELECT seq, ts, equity FROM ex7.backtest_equity WHERE backtest_id = :'b2id')) d) AS samples_differing,
       (SELECT result - 'elapsed_ms' - 'store_ms' - 'bars_per_second' FROM ex7.backtests WHERE id = :'b6id')
         = (SELECT result - 'elapsed_ms' - 'store_ms' - 'bars_per_second' FROM ex7.backtests WHERE id = :'b2id') AS same_summary;

-- the fast evaluation (one graph run per chunk, more history than live's window) on these bars
SELECT (ex7.backtest_strategy(:'u1', :'s3', (:'range'::jsonb || '{"evaluation": "fast"}'), true) ->> 'id') AS b3id \gset
SELECT (SELECT result ->> 'evaluation' FROM ex7.backtests WHERE id = :'b3id') AS evaluation,
       (SELECT count(*) FROM (
            (SELECT side, entry_time, exit_time, exit_price, net_pnl FROM ex7.backtest_trades WHERE backtest_id = :'b6id'
             EXCEPT ALL
             SELECT side, entry_time, exit_time, exit_price, net_pnl FROM ex7.backtest_trades WHERE backtest_id = :'b3id')) d)
           AS trades_differing_from_exact;

-- THE RISK GATE: with the generous limits nothing is blocked; with 2 trades a day the third entry of a
-- trading day (18:00 New York) is refused, as live's gate would
SELECT ex7.backtest_strategy(:'u1', :'s3', (:'range'::jsonb || '{"risk_gate": true}'), true) #> '{result,blocked}' AS blocked_generous;
SELECT ex7.set_risk_limits(:'u1', 'paper', '{"max_trades_per_day": 2}') IS NOT NULL AS two_a_day;
SELECT ex7.backtest_strategy(:'u1', :'s3', (:'range'::jsonb || '{"risk_gate": true}'), true) AS b4 \gset
SELECT :'b4'::jsonb #> '{result,blocked}' AS blocked, :'b4'::jsonb #> '{result,entries}' AS entries;
SELECT to_char(ex7.trading_day_start(entry_time) AT TIME ZONE 'America/New_York', 'MM-DD HH24:MI') AS trading_day,
       count(*) AS entries
  FROM ex7.backtest_trades WHERE backtest_id = (:'b4'::jsonb ->> 'id')::uuid GROUP BY 1 ORDER BY 1;

-- the drawdown of the busy SMA runs (stops, reversals, size 2): exact, fast and with the risk gate, each
-- equal to the bar-by-bar one; the sampled curve's (the metrics') is never deeper
SELECT b.params ->> 'evaluation' AS evaluation, b.params ->> 'risk_gate' AS risk_gate,
       b.result ->> 'max_drawdown' AS max_drawdown, pg_temp.bar_drawdown(b.id) AS by_hand,
       (b.result ->> 'max_drawdown')::numeric = pg_temp.bar_drawdown(b.id) AS equal,
       ex7.get_backtest(:'u1', b.id) #>> '{metrics,max_drawdown,amount}' AS sampled_curve_drawdown
  FROM ex7.backtests b WHERE b.id IN (:'b6id', :'b3id', (:'b4'::jsonb ->> 'id')::uuid) ORDER BY 1, 2;

-- GET: the trades as compute_metrics reads them, the curve, metrics, the 4.41 statement
SELECT ex7.get_backtest(:'u1', :'b1id') AS g \gset
SELECT jsonb_array_length(:'g'::jsonb -> 'trades') AS trades, jsonb_array_length(:'g'::jsonb -> 'equity') AS samples,
       (:'g'::jsonb -> 'trades' -> 0) - 'entry_time' - 'exit_time' AS first_trade,
       jsonb_typeof(:'g'::jsonb -> 'metrics') AS metrics,
       :'g'::jsonb -> 'compliance' = ex7.compliance_banner() AS compliance;
SELECT left(ex7.backtest_equity_svg(:'u1', :'b1id'), 4) AS svg,
       strpos(ex7.backtest_equity_svg(:'u1', :'b1id'), 'HYPOTHETICAL OR SIMULATED') > 0 AS svg_has_statement;

-- the list: newest first, pages with an opaque cursor
SELECT jsonb_array_length(ex7.list_backtests(:'u1', :'s3') -> 'items') AS all_items,
       ex7.list_backtests(:'u1', :'s3') -> 'compliance' = ex7.compliance_banner() AS list_compliance;
SELECT ex7.list_backtests(:'u1', :'s3', 2) AS p1 \gset
SELECT ex7.list_backtests(:'u1', :'s3', 2, :'p1'::jsonb ->> 'next_cursor') AS p2 \gset
SELECT ex7.list_backtests(:'u1', :'s3', 2, :'p2'::jsonb ->> 'next_cursor') AS p3 \gset
SELECT jsonb_array_length(:'p1'::jsonb -> 'items') AS p1, jsonb_array_length(:'p2'::jsonb -> 'items') AS p2,
       jsonb_array_length(:'p3'::jsonb -> 'items') AS p3, :'p3'::jsonb -> 'next_cursor' AS p3_next,
       (:'p1'::jsonb #>> '{items,0,created_at}') >= (:'p2'::jsonb #>> '{items,0,created_at}') AS newest_first;
SELECT ex7_test.err(format('SELECT ex7.list_backtests(%L, %L, 2, %L)', :'u1', :'s1', 'garbage')) AS bad_cursor;
SELECT ex7_test.err(format('SELECT ex7.list_backtests(%L, %L, 0)', :'u1', :'s1')) AS bad_limit;

-- ownership: another user's strategy and backtest are not found, on every function
SELECT ex7_test.err(format('SELECT ex7.backtest_strategy(%L, %L, %L, true)', :'u2', :'s1',
                           '{"from": "2026-03-02", "to": "2026-03-03"}')) AS other_backtest_post;
SELECT ex7_test.err(format('SELECT ex7.get_backtest(%L, %L)', :'u2', :'b1id')) AS other_get;
SELECT ex7_test.err(format('SELECT ex7.list_backtests(%L, %L)', :'u2', :'s1')) AS other_list;
SELECT ex7_test.err(format('SELECT ex7.backtest_equity_svg(%L, %L)', :'u2', :'b1id')) AS other_svg;
SELECT ex7_test.err(format('SELECT ex7.get_backtest(%L, %L)', :'u1', gen_random_uuid())) AS missing;

-- the body, field by field
SELECT b AS body, ex7_test.err(format('SELECT ex7.backtest_strategy(%L, %L, %L, true)', :'u1', :'s1', b)) AS error
  FROM (VALUES ('[]'), ('{}'), ('{"from": "2026-03-02"}'), ('{"from": 5, "to": "2026-03-03"}'),
               ('{"from": "yesterday-ish", "to": "2026-03-03"}'), ('{"from": "2026-03-03", "to": "2026-03-02"}'),
               ('{"from": "2010-03-02", "to": "2026-03-03"}'), ('{"from": "2026-03-02", "to": "2026-03-03", "color": 1}'),
               ('{"from": "2026-03-02", "to": "2026-03-03", "version": 1.5}'),
               ('{"from": "2026-03-02", "to": "2026-03-03", "version": 9}'),
               ('{"from": "2026-03-02", "to": "2026-03-03", "initial_capital": "-5"}'),
               ('{"from": "2026-03-02", "to": "2026-03-03", "initial_capital": "lots"}'),
               ('{"from": "2026-03-02", "to": "2026-03-03", "risk_free_rate": 2}'),
               ('{"from": "2026-03-02", "to": "2026-03-03", "risk_gate": "yes"}'),
               ('{"from": "2026-03-02", "to": "2026-03-03", "evaluation": "quick"}')) AS t (b);

-- an empty canvas trades nothing; a range without bars is done at once with nothing in it
SELECT (ex7.create_strategy(:'u1', '{"name": "Empty", "instrument": "RTY", "timeframe": "5m"}') ->> 'id') AS s2 \gset
SELECT (ex7.backtest_strategy(:'u1', :'s2', '{"from": "2026-03-02", "to": "2026-03-04"}', true) -> 'result')
       - 'elapsed_ms' - 'store_ms' - 'bars_per_second' AS empty_graph;
SELECT (ex7.backtest_strategy(:'u1', :'s1', '{"from": "2025-01-01", "to": "2025-02-01"}', true) -> 'result')
       - 'elapsed_ms' - 'store_ms' - 'bars_per_second' AS no_bars;

-- A BACKGROUND RUN: queued in one transaction, run by a worker after it commits, progress committed as
-- it goes, done with the same trades as inline
SELECT (ex7._backtest_create(s, s.current_version, (:'range'::jsonb ->> 'from')::timestamptz,
                             (:'range'::jsonb ->> 'to')::timestamptz,
                             '{"initial_capital": "10000.00", "risk_free_rate": "0", "risk_gate": false,
                               "evaluation": "exact"}', 'user')).id AS b5id
  FROM ex7.strategies s WHERE s.id = :'s1' \gset
SELECT status, bars_done, bars_total FROM ex7.backtests WHERE id = :'b5id';
-- the worker holds the backtest's advisory lock from its start, before the launching transaction commits
BEGIN;
SELECT ex7._backtest_launch(:'b5id') AS launched, set_config('ex7_test.b5', :'b5id', false) IS NOT NULL AS noted;
DO $$
BEGIN
    FOR i IN 1..300 LOOP
        EXIT WHEN EXISTS (SELECT 1 FROM pg_locks l WHERE l.locktype = 'advisory' AND l.granted AND l.pid <> pg_backend_pid()
                             AND ((l.classid::bigint << 32) | l.objid::bigint) = ex7._backtest_lock_key(current_setting('ex7_test.b5')::uuid));
        PERFORM pg_sleep(0.05);
    END LOOP;
END $$;
SELECT l.mode, a.backend_type FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
 WHERE l.locktype = 'advisory' AND l.granted AND ((l.classid::bigint << 32) | l.objid::bigint) = ex7._backtest_lock_key(:'b5id');
COMMIT;
DO $$
BEGIN
    FOR i IN 1..300 LOOP
        EXIT WHEN (SELECT status FROM ex7.backtests WHERE id = current_setting('ex7_test.b5')::uuid) IN ('done', 'failed');
        PERFORM pg_sleep(0.1);
    END LOOP;
END $$;
SELECT status, bars_done, bars_total, error FROM ex7.backtests WHERE id = :'b5id';
SELECT (SELECT count(*) FROM (
            (SELECT seq, side, entry_time, exit_time, exit_price, net_pnl, mae, mfe FROM ex7.backtest_trades WHERE backtest_id = :'b1id'
             EXCEPT ALL
             SELECT seq, side, entry_time, exit_time, exit_price, net_pnl, mae, mfe FROM ex7.backtest_trades WHERE backtest_id = :'b5id')) d)
       AS trades_differing_from_inline;
-- ... and releases it when it ends
SELECT count(*) AS lock_left FROM pg_locks l
 WHERE l.locktype = 'advisory' AND ((l.classid::bigint << 32) | l.objid::bigint) = ex7._backtest_lock_key(:'b5id');

-- A RUN WHOSE WORKER IS GONE (killed, terminated, a restart: the row stays queued or running and the
-- lock is free) is failed when it is next shown or counted; a queued one gets a minute to start
SELECT (ex7._backtest_create(s, s.current_version, (:'range'::jsonb ->> 'from')::timestamptz,
                             (:'range'::jsonb ->> 'to')::timestamptz, '{}', 'user')).id AS b6id
  FROM ex7.strategies s WHERE s.id = :'s1' \gset
SELECT (ex7._backtest_create(s, s.current_version, (:'range'::jsonb ->> 'from')::timestamptz,
                             (:'range'::jsonb ->> 'to')::timestamptz, '{}', 'user')).id AS b7id
  FROM ex7.strategies s WHERE s.id = :'s1' \gset
UPDATE ex7.backtests SET status = 'running', started_at = now() WHERE id = :'b6id';
SELECT ex7.get_backtest(:'u1', :'b7id') ->> 'status' AS young_queued;
SELECT j ->> 'status' AS orphan_running, j ->> 'error' AS error, j ->> 'finished_at' IS NOT NULL AS finished
  FROM ex7.get_backtest(:'u1', :'b6id') AS j;
UPDATE ex7.backtests SET created_at = now() - interval '2 minutes' WHERE id = :'b7id';
SELECT jsonb_path_query(ex7.list_backtests(:'u1', :'s1', 50), '$.items[*] ? (@.status == "failed")') ->> 'error' AS listed_failed;
-- a real worker ended (pg_terminate_backend) while its launching transaction was still open: the row
-- commits queued, nobody runs it, and it is failed once its minute has passed
SELECT (ex7._backtest_create(s, s.current_version, (:'range'::jsonb ->> 'from')::timestamptz,
                             (:'range'::jsonb ->> 'to')::timestamptz, '{}', 'user')).id AS b8id
  FROM ex7.strategies s WHERE s.id = :'s1' \gset
BEGIN;
SELECT ex7._backtest_launch(:'b8id') AS launched, set_config('ex7_test.b8', :'b8id', false) IS NOT NULL AS noted;
DO $$
DECLARE
    v_pid integer;
BEGIN
    FOR i IN 1..300 LOOP
        SELECT l.pid INTO v_pid FROM pg_locks l WHERE l.locktype = 'advisory' AND l.granted AND l.pid <> pg_backend_pid()
           AND ((l.classid::bigint << 32) | l.objid::bigint) = ex7._backtest_lock_key(current_setting('ex7_test.b8')::uuid);
        EXIT WHEN v_pid IS NOT NULL;
        PERFORM pg_sleep(0.05);
    END LOOP;
    PERFORM pg_terminate_backend(v_pid, 10000);
END $$;
COMMIT;
SELECT ex7.get_backtest(:'u1', :'b8id') ->> 'status' AS after_kill_within_the_minute;
UPDATE ex7.backtests SET created_at = now() - interval '2 minutes' WHERE id = :'b8id';
SELECT j ->> 'status' AS after_kill, j ->> 'error' AS error FROM ex7.get_backtest(:'u1', :'b8id') AS j;

-- trades and curve chunks name an existing backtest of their own user (a foreign key; with row security a
-- role bound to a user can add chunks only to its own backtests), and go with it
SELECT split_part(ex7_test.err($$INSERT INTO ex7.backtest_equity_chunks (backtest_id, first_seq, user_id, ts, equity)
                      VALUES ('00000000-0000-4000-8000-5b00000000ff', 1, '00000000-0000-4000-8000-5b0000000001', ARRAY[now()], '{1}')$$), ' | ', 1) AS orphan_point;
SELECT split_part(ex7_test.err(format($$INSERT INTO ex7.backtest_equity_chunks (backtest_id, first_seq, user_id, ts, equity)
                      VALUES (%L, 1000, %L, ARRAY[now()], '{1}')$$, :'b5id', :'u2')), ' | ', 1) AS other_users_point;
SELECT split_part(ex7_test.err(format($$INSERT INTO ex7.backtest_trade_chunks (backtest_id, first_seq, user_id, side, quantity,
                      entry_time, entry_price, stop_price, target_price, exit_time, exit_price, exit_reason, gross_pnl,
                      slippage_cost, commission, net_pnl, mae, mfe)
                      VALUES (%L, 1000, %L, '{long,flat}', '{1,1}', ARRAY[now(), now()], '{1,1}', '{NULL,NULL}',
                      '{NULL,NULL}', ARRAY[now(), now()], '{1,1}', '{stop_loss,stop_loss}', '{0,0}', '{0,0}', '{0,0}',
                      '{0,0}', '{0,0}', '{0,0}')$$, :'b5id', :'u1')), ' | ', 1) AS bad_side;
SELECT split_part(ex7_test.err(format($$INSERT INTO ex7.backtest_trade_chunks (backtest_id, first_seq, user_id, side, quantity,
                      entry_time, entry_price, stop_price, target_price, exit_time, exit_price, exit_reason, gross_pnl,
                      slippage_cost, commission, net_pnl, mae, mfe)
                      VALUES (%L, 1000, %L, '{long,long}', '{1}', ARRAY[now(), now()], '{1,1}', '{NULL,NULL}',
                      '{NULL,NULL}', ARRAY[now(), now()], '{1,1}', '{stop_loss,stop_loss}', '{0,0}', '{0,0}', '{0,0}',
                      '{0,0}', '{0,0}', '{0,0}')$$, :'b5id', :'u1')), ' | ', 1) AS ragged_columns;
SELECT split_part(ex7_test.err(format($$INSERT INTO ex7.backtest_trade_chunks (backtest_id, first_seq, user_id, side, quantity,
                      entry_time, entry_price, stop_price, target_price, exit_time, exit_price, exit_reason, gross_pnl,
                      slippage_cost, commission, net_pnl, mae, mfe)
                      VALUES (%L, 1000, %L, '{long}', '{1}', ARRAY[now()], '{1}', '{NULL}', '{NULL}', ARRAY[now()],
                      '{NULL}', '{stop_loss}', '{0}', '{0}', '{0}', '{0}', '{0}', '{0}')$$, :'b5id', :'u1')), ' | ', 1) AS null_exit_price;
SELECT count(*) > 0 AS had_points FROM ex7.backtest_equity WHERE backtest_id = :'b5id';
DELETE FROM ex7.backtests WHERE id = :'b5id';
SELECT (SELECT count(*) FROM ex7.backtest_trades WHERE backtest_id = :'b5id') AS trades_left,
       (SELECT count(*) FROM ex7.backtest_equity WHERE backtest_id = :'b5id') AS points_left;

-- every curve ends at its run's final equity, net of the costs of the exits that closed the range
SELECT count(*) > 0 AS some_done,
       bool_and((SELECT e.equity FROM ex7.backtest_equity e WHERE e.user_id = b.user_id AND e.backtest_id = b.id
                                ORDER BY e.seq DESC LIMIT 1) = (b.result ->> 'final_equity')::numeric) AS every_curve_ends_at_final_equity
  FROM ex7.backtests b WHERE b.status = 'done';
