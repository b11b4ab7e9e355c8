-- sql/backtest_protections.sql: a backtest with protections equals the live dispatcher's replay
-- (docs/protections.md, "One decision for every path"; docs/backtests.md). The busy SMA strategy of
-- sql/backtest.sql (stops, targets, exits, reversals) with four protections of its own (a cooldown, a stop-loss
-- guard, a low-profit lock and a max-drawdown lock) runs live, the dispatcher fed 400 bars one by one; then a
-- backtest with risk_gate over the same bars: the same entries, the same closes, the same refusals by kind.
-- Bars: CL 5m (tick 0.01, 10.00 USD a tick; no other test stores CL bars), the walk of sql/backtest.sql.
-- User 00000000-0000-4000-8000-5c0000000001. The runtime is stopped at the end: a running runtime makes
-- its series a traded one for the market health of sql/market.sql.
\set u '00000000-0000-4000-8000-5c0000000001'
SELECT ex7.ensure_user(:'u') IS NOT NULL AS u, ex7_test.accept_compliance(ARRAY[:'u']::uuid[]) > 0 AS accepted;
-- wide limits: the live run fires within one transaction (one now(), one trading day); only the
-- protections refuse
SELECT ex7.set_risk_limits(:'u', 'paper', '{"max_trades_per_day": 1000, "max_open_positions": 100,
    "daily_loss_limit": "1000000", "max_consecutive_losses": 100}') IS NOT NULL AS limits;

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
SELECT jsonb_build_object('from', max(ts) FILTER (WHERE g = 200), 'to', max(ts), 'risk_gate', true) AS range FROM walk \gset
SELECT count(ex7.ingest_bar('CL', '5m', w.ts, w.o, w.h, w.l, w.c, 100, false)) AS history
  FROM (SELECT * FROM walk WHERE g <= 200 ORDER BY g) w;

SELECT (ex7.create_strategy(:'u', '{"name": "Fast SMA protected", "instrument": "CL", "timeframe": "5m", "graph": {
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
            {"from": "long", "to": "ls"}, {"from": "long", "to": "lt"}, {"from": "short", "to": "ss"}]}}') ->> 'id') AS s \gset
-- the protections, scoped to the strategy: the backtest runs it alone, so what it reads is the strategy's
SELECT p ->> 'kind' AS kind, p -> 'params' AS params
  FROM unnest(ARRAY[
    jsonb_build_object('kind', 'cooldown', 'strategy_id', :'s', 'bars', 2),
    jsonb_build_object('kind', 'stoploss_guard', 'strategy_id', :'s', 'trade_limit', 2, 'lookback_minutes', 60, 'lock_minutes', 120),
    jsonb_build_object('kind', 'low_profit', 'strategy_id', :'s', 'trade_limit', 4, 'lookback_minutes', 180,
                       'lock_minutes', 60, 'min_profit', '-200.00'),
    jsonb_build_object('kind', 'max_drawdown', 'strategy_id', :'s', 'trade_limit', 2, 'lookback_minutes', 240,
                       'lock_minutes', 30, 'max_drawdown', '300.00')]) AS b,
       LATERAL ex7.create_protection(:'u', b) AS p;
SELECT ex7.promote_strategy(:'u', :'s') ->> 'status' AS ready, ex7.promote_strategy(:'u', :'s') ->> 'status' AS live;
SELECT ex7.start_runtime(:'u', :'s', 'paper') ->> 'status' AS runtime;

-- LIVE: bars 201..600, one ingest each
DO $$
DECLARE r record;
BEGIN
    FOR r IN SELECT * FROM walk WHERE g > 200 ORDER BY g LOOP
        PERFORM ex7.ingest_bar('CL', '5m', r.ts, r.o, r.h, r.l, r.c, 100);
    END LOOP;
END $$;
SELECT a.decision, coalesce(a.detail ->> 'reason', a.detail ->> 'breaker', '') AS why, count(*)
  FROM ex7.signal_audit a WHERE a.user_id = :'u' GROUP BY 1, 2 ORDER BY 1, 2;
-- the locks the live run wrote, by kind, and what they refused
SELECT kind, count(*) AS locks FROM ex7.risk_locks WHERE user_id = :'u' GROUP BY 1 ORDER BY 1;
SELECT triggered_limit, count(*) AS refused FROM ex7.signals_blocked WHERE user_id = :'u' GROUP BY 1 ORDER BY 1;

-- BACKTEST with risk_gate: the user's paper protections and limits, in memory
SELECT ex7.backtest_strategy(:'u', :'s', :'range', true) AS b \gset
SELECT (:'b'::jsonb ->> 'id') AS bid \gset
SELECT :'b'::jsonb #> '{result,blocked}' AS backtest_blocked, :'b'::jsonb #> '{result,skipped}' AS backtest_skipped;

-- EQUAL: the same entries (side, bar, price, size, brackets) and closes (reason, price, P&L), the open one
-- being the backtest's end_of_range trade; the same refusals by kind; the same skips
WITH l AS (SELECT row_number() OVER (ORDER BY bar_ts, fired_at, id) AS n, * FROM ex7.signals WHERE strategy_id = :'s'),
     b AS (SELECT seq AS n, * FROM ex7.backtest_trades WHERE backtest_id = :'bid')
SELECT (SELECT count(*) FROM l) AS live_signals, (SELECT count(*) FROM b) AS backtest_trades,
       (SELECT count(*) FROM l FULL JOIN b ON b.n = l.n
         WHERE l.n IS NULL OR b.n IS NULL
            OR (l.side, l.bar_ts, l.entry_price, l.size, l.stop_price, l.target_price)
               IS DISTINCT FROM (b.side, b.entry_time, b.entry_price, b.quantity, b.stop_price, b.target_price)
            OR (l.close_reason IS NOT NULL
                AND (l.close_reason, l.close_price, l.net_pnl) IS DISTINCT FROM (b.exit_reason, b.exit_price, b.net_pnl))
            OR (l.close_reason IS NULL AND b.exit_reason <> 'end_of_range')) AS mismatches;
SELECT (SELECT jsonb_object_agg(k, coalesce(n, 0) ORDER BY k)
          FROM unnest(ARRAY['cooldown', 'stoploss_guard', 'low_profit', 'max_drawdown']) k
          LEFT JOIN (SELECT triggered_limit, count(*) n FROM ex7.signals_blocked WHERE user_id = :'u' GROUP BY 1) x
            ON x.triggered_limit = k)
       = (SELECT jsonb_object_agg(k, v ORDER BY k) FROM jsonb_each(:'b'::jsonb #> '{result,blocked}') e(k, v)
           WHERE k IN ('cooldown', 'stoploss_guard', 'low_profit', 'max_drawdown')) AS same_refusals,
       (SELECT jsonb_object_agg(r, (SELECT count(*) FROM ex7.signal_audit a WHERE a.strategy_id = :'s'
                                                                        AND a.detail ->> 'reason' = r) ORDER BY r)
          FROM unnest(ARRAY['long_and_short_entries_on_one_bar', 'position_open', 'runtime_draining', 'warming_up']) r)
       = :'b'::jsonb #> '{result,skipped}' AS same_skips;
-- without the protections the backtest trades more: they did refuse entries
SELECT (ex7.backtest_strategy(:'u', :'s', (:'range'::jsonb || '{"risk_gate": false}'), true) #>> '{result,entries}')::int
       > (:'b'::jsonb #>> '{result,entries}')::int AS protections_refused_entries;

-- done: flat and stopped
SELECT ex7.force_close_all(:'u', :'s') AS force_closed, ex7.stop_runtime(:'u', :'s', 'paper') ->> 'status' AS runtime;
