/* ext/sql/69_performance.sql: performance and portfolio (ex7-api-reference.txt, Account: Get Performance,
 * Get Portfolio; the peer's dashboard/multi-flow and flows/{id}/performance, peer-capandex-api.txt).
 *
 * The live (paper) statistics of a strategy are ex7.compute_metrics over its closed signals, the same
 * formulas as a backtest (docs/metrics.md): trades are the closed signals of the strategy and mode in
 * close order, the equity curve is the notional capital plus the cumulative realized net P&L at each
 * close and at each UTC day end. Every payload carries the CFTC Rule 4.41 statement: paper results
 * are hypothetical performance (facts.md). docs/metrics.md, "Performance API", has the shapes. */

/*
 * The default starting capital of a paper account: 10,000 USD, the starting equity of the peer's examples
 * (peer-capandex-api.txt: "equity": 10000). The capital of the live statistics below is the user's paper
 * account's (ex7._paper_capital(user, mode), ext/sql/83_paper.sql): this until a reset sets another
 * (docs/paper-account.md); the column default of ex7.paper_accounts.starting_capital is the same value.
 */
CREATE OR REPLACE FUNCTION ex7._paper_capital()
RETURNS numeric
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
    SELECT 10000.00::numeric;
$$;
COMMENT ON FUNCTION ex7._paper_capital() IS
'Returns 10000.00: the starting capital of a paper account that was never reset (docs/paper-account.md), the base of the live statistics'' percents for such an account.';

/*
 * _live_metrics: {"metrics": compute_metrics(...), "equity_curve": [{ts, equity}]} of the strategy's
 * signals of p_mode closed in [p_from, p_to) (NULL: unbounded). A force-close is not a trade: the
 * contract gives it no realized P&L ("no realized PnL for an emergency cancel"), so it is left out
 * rather than counted as a breakeven. The curve starts at p_from (or the first included trade's entry)
 * at the capital, and ends at p_to (not after p_at) or the last close. The capital is the starting capital
 * of the user's paper account of p_mode. The caller checks ownership.
 */
CREATE OR REPLACE FUNCTION ex7._live_metrics(p_user uuid, p_strategy uuid, p_mode text, p_from timestamptz,
                                             p_to timestamptz, p_at timestamptz)
RETURNS jsonb
LANGUAGE plpgsql STABLE
AS $$
DECLARE
    v jsonb;
    -- read before the query over ex7.signals: Citus runs no table-reading function inside it
    v_capital numeric := ex7._paper_capital(p_user, p_mode);
BEGIN
    -- PL/pgSQL, not SQL: Citus plans no statement on a distributed table that uses an SQL function's
    -- parameters, while PL/pgSQL hands it their values (docs/scale-out.md)
    WITH t AS (
        -- signals_user_mode_closed_idx (user_id, mode, closed_at DESC) WHERE status <> 'open'
        SELECT s.id, LEAST(s.fired_at, s.closed_at) AS entry_time, s.closed_at AS exit_time, s.side, s.size,
               s.entry_price, s.close_price, s.net_pnl, s.tag,
               sum(s.net_pnl) OVER (ORDER BY s.closed_at, s.id) AS cum
          FROM ex7.signals s
         WHERE s.user_id = p_user AND s.mode = p_mode AND s.status <> 'open' AND s.strategy_id = p_strategy
           AND s.close_reason <> 'force_close' AND s.net_pnl IS NOT NULL
           AND s.closed_at >= coalesce(p_from, '-infinity') AND s.closed_at < coalesce(p_to, 'infinity')
    ), b AS (
        SELECT coalesce(p_from, min(t.entry_time)) AS lo,
               CASE WHEN p_to IS NULL THEN max(t.exit_time) ELSE LEAST(p_to, p_at) END AS hi,
               coalesce(sum(t.net_pnl), 0) AS total
          FROM t
    ), eq AS (
        -- the start, every close, every UTC day end strictly inside (lo, hi), and the end
        SELECT b.lo AS ts, 0 AS k, v_capital AS equity FROM b WHERE b.lo IS NOT NULL
        UNION ALL
        SELECT t.exit_time, 1, v_capital + t.cum FROM t
        UNION ALL
        SELECT d.ts, 2, v_capital
                        + coalesce((SELECT sum(t.net_pnl) FROM t WHERE t.exit_time <= d.ts), 0)
          FROM b, LATERAL (
                SELECT pg_catalog.timezone('UTC', g) AS ts
                  FROM pg_catalog.generate_series(pg_catalog.date_trunc('day', pg_catalog.timezone('UTC', b.lo))
                                                      + interval '1 day',
                                                  pg_catalog.timezone('UTC', b.hi), interval '1 day') AS g) AS d
         WHERE b.lo IS NOT NULL AND b.hi > b.lo AND d.ts < b.hi
        UNION ALL
        SELECT b.hi, 3, v_capital + b.total FROM b
         WHERE b.hi > b.lo AND b.hi > coalesce((SELECT max(t.exit_time) FROM t), '-infinity')
    ), curve AS (
        SELECT coalesce(pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object('ts', eq.ts, 'equity', eq.equity::text)
                                             ORDER BY eq.ts, eq.k), '[]') AS j
          FROM eq WHERE eq.ts >= (SELECT b.lo FROM b)
    ), trades AS (
        SELECT coalesce(pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object(
                   'entry_time', t.entry_time, 'exit_time', t.exit_time, 'side', t.side, 'quantity', t.size,
                   'entry_price', t.entry_price::text, 'exit_price', t.close_price::text,
                   'pnl', t.net_pnl::text, 'mae', NULL, 'mfe', NULL, 'tag', t.tag)
                   ORDER BY t.exit_time, t.id), '[]') AS j
          FROM t
    )
    SELECT pg_catalog.jsonb_build_object(
               'metrics', ex7.compute_metrics(trades.j, curve.j,
                              pg_catalog.jsonb_build_object('initial_capital', v_capital::text)),
               'equity_curve', curve.j)
      INTO v
      FROM trades, curve;
    RETURN v;
END
$$;
COMMENT ON FUNCTION ex7._live_metrics(uuid, uuid, text, timestamptz, timestamptz, timestamptz) IS
'Returns {metrics, equity_curve}: ex7.compute_metrics over the strategy''s signals of p_mode closed in [p_from, p_to) (force-closes excluded), on the starting capital of the user''s paper account of p_mode, with its curve [{ts, equity}] (start, every close, UTC day ends, end). Does not check ownership.';

/* the summary fields of the peer's performance views, from a compute_metrics result */
CREATE OR REPLACE FUNCTION ex7._metrics_summary(m jsonb)
RETURNS jsonb
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
    SELECT pg_catalog.jsonb_build_object(
        'total_trades', m->'trades',
        'winning_trades', m->'winning_trades',
        'losing_trades', m->'losing_trades',
        'win_rate', m->'win_rate',
        'pnl', m->'net_pnl',
        'pnl_percent', m->'net_pnl_percent',
        'max_drawdown', m->'max_drawdown'->'amount',
        'max_drawdown_percent', m->'max_drawdown'->'percent',
        'sharpe_ratio', m->'sharpe',
        'profit_factor', m->'profit_factor',
        'expectancy', m->'expectancy');
$$;
COMMENT ON FUNCTION ex7._metrics_summary(jsonb) IS
'Returns {total_trades, winning_trades, losing_trades, win_rate, pnl, pnl_percent, max_drawdown, max_drawdown_percent, sharpe_ratio, profit_factor, expectancy} of a compute_metrics result (the peer''s field names, snake_case).';

CREATE OR REPLACE FUNCTION ex7._check_range(p_from timestamptz, p_to timestamptz)
RETURNS void
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
AS $$
BEGIN
    IF p_from IS NOT NULL AND p_to IS NOT NULL AND p_to <= p_from THEN
        PERFORM ex7._invalid('["query","to"]', 'to must be later than from', 'value_error.range');
    END IF;
END
$$;
COMMENT ON FUNCTION ex7._check_range(timestamptz, timestamptz) IS
'Returns nothing when [p_from, p_to) is a range (either end may be NULL); raises X7422 at ["query","to"] when p_to <= p_from.';

/*
 * _latest_backtest: the strategy's newest finished backtest as Get Performance shows it, or NULL. The
 * backtest tables and their JSON belong to the backtest engine (ext/sql/66_backtest_schema.sql,
 * 67_backtest.sql); the metrics are the same ex7.compute_metrics its own GET shows, without the
 * breakdowns, and summary is the engine's run summary (backtests.result).
 */
CREATE OR REPLACE FUNCTION ex7._latest_backtest(p_user uuid, p_strategy uuid)
RETURNS jsonb
LANGUAGE plpgsql STABLE
AS $$
DECLARE
    b ex7.backtests;
BEGIN
    -- backtests_strategy_idx (user_id, strategy_id, created_at DESC, id DESC)
    SELECT * INTO b
      FROM ex7.backtests x
     WHERE x.user_id = p_user AND x.strategy_id = p_strategy AND x.status = 'done'
       AND x.purpose <> 'study'   -- a study's trials are the study's (docs/research.md), as in list_backtests
     ORDER BY x.created_at DESC, x.id DESC
     LIMIT 1;
    IF NOT FOUND THEN
        RETURN NULL;
    END IF;
    RETURN pg_catalog.jsonb_build_object(
               'id', b.id, 'strategy_version', b.strategy_version, 'purpose', b.purpose,
               'range_from', b.range_from, 'range_to', b.range_to, 'finished_at', b.finished_at,
               'summary', b.result,
               'metrics', ex7._backtest_metrics(b, ex7._backtest_trades_json(b.user_id, b.id), ex7._backtest_equity_json(b.user_id, b.id))
                          - 'breakdowns');
END
$$;
COMMENT ON FUNCTION ex7._latest_backtest(uuid, uuid) IS
'Returns {id, strategy_version, purpose, range_from, range_to, finished_at, summary, metrics (compute_metrics without breakdowns)} of the strategy''s newest finished (done) backtest that is not a study''s trial, or NULL when it has none.';

/* ---------------------------------------------------------------------------------------------------
 * Get Performance: "Per-strategy backtest performance and live stats."
 * ------------------------------------------------------------------------------------------------- */
CREATE OR REPLACE FUNCTION ex7._performance(p_user uuid, p_at timestamptz)
RETURNS jsonb
LANGUAGE plpgsql STABLE
AS $$
DECLARE
    s record;
    v_items jsonb := '[]';
BEGIN
    -- a loop, not one query calling the readers per row: the backtest and live figures are queries of
    -- their own, and Citus runs no query from inside a query over a distributed table (docs/scale-out.md)
    FOR s IN
        SELECT x.id, x.name, x.instrument, x.timeframe, x.status, x.current_version
          FROM ex7.strategies x
         WHERE x.user_id = p_user AND x.deleted_at IS NULL
         ORDER BY x.name, x.id
    LOOP
        v_items := v_items || pg_catalog.jsonb_build_array(pg_catalog.jsonb_build_object(
            'strategy_id', s.id,
            'name', s.name,
            'instrument', s.instrument,
            'timeframe', s.timeframe,
            'status', s.status,
            'current_version', s.current_version,
            'backtest', ex7._latest_backtest(p_user, s.id),
            'live', pg_catalog.jsonb_build_object(
                'paper', (ex7._live_metrics(p_user, s.id, 'paper', NULL, NULL, p_at)->'metrics') - 'breakdowns',
                'live', (ex7._live_metrics(p_user, s.id, 'live', NULL, NULL, p_at)->'metrics') - 'breakdowns')));
    END LOOP;
    RETURN pg_catalog.jsonb_build_object(
        'strategies', v_items,
        'initial_capital', ex7._paper_capital(p_user, 'paper')::text,
        'as_of', p_at,
        'disclaimer', ex7.compliance_banner());
END
$$;
COMMENT ON FUNCTION ex7._performance(uuid, timestamptz) IS
'Returns ex7.performance''s document as of p_at.';

CREATE OR REPLACE FUNCTION ex7.performance(p_user uuid)
RETURNS jsonb
LANGUAGE sql STABLE
AS $$
    SELECT ex7._performance(p_user, pg_catalog.now());
$$;
COMMENT ON FUNCTION ex7.performance(uuid) IS
'Returns {strategies: [{strategy_id, name, instrument, timeframe, status, current_version, backtest: newest done backtest {id, strategy_version, purpose, range_from, range_to, finished_at, summary, metrics} | null, live: {paper, live}: compute_metrics of the closed signals without breakdowns, each on the starting capital of the user''s paper account of that mode}], initial_capital (the paper account''s), as_of, disclaimer} for the user''s strategies (GET /api/performance).';

/* ---------------------------------------------------------------------------------------------------
 * Per-strategy performance with a range (the peer's flows/{flowId}/performance).
 * ------------------------------------------------------------------------------------------------- */
CREATE OR REPLACE FUNCTION ex7._strategy_performance(p_user uuid, p_strategy uuid, p_from timestamptz,
                                                     p_to timestamptz, p_mode text, p_at timestamptz)
RETURNS jsonb
LANGUAGE plpgsql STABLE
AS $$
DECLARE
    st ex7.strategies;
    v jsonb;
BEGIN
    PERFORM ex7._check_trade_mode(p_mode, '["query","mode"]');
    PERFORM ex7._check_range(p_from, p_to);
    SELECT * INTO st FROM ex7.strategies s WHERE s.id = p_strategy AND s.user_id = p_user AND s.deleted_at IS NULL;
    IF NOT FOUND THEN
        PERFORM ex7._raise(404, 'strategy not found');
    END IF;
    v := ex7._live_metrics(p_user, p_strategy, p_mode, p_from, p_to, p_at);
    RETURN pg_catalog.jsonb_build_object(
               'strategy_id', st.id, 'name', st.name, 'instrument', st.instrument, 'timeframe', st.timeframe,
               'status', st.status, 'mode', p_mode, 'from', p_from, 'to', p_to,
               'initial_capital', ex7._paper_capital(p_user, p_mode)::text)
           || ex7._metrics_summary(v->'metrics')
           || pg_catalog.jsonb_build_object('metrics', v->'metrics', 'equity_curve', v->'equity_curve',
                                            'disclaimer', ex7.compliance_banner());
END
$$;
COMMENT ON FUNCTION ex7._strategy_performance(uuid, uuid, timestamptz, timestamptz, text, timestamptz) IS
'Returns ex7.strategy_performance''s document as of p_at.';

CREATE OR REPLACE FUNCTION ex7.strategy_performance(p_user uuid, p_strategy uuid, p_from timestamptz DEFAULT NULL,
                                                    p_to timestamptz DEFAULT NULL, p_mode text DEFAULT 'paper')
RETURNS jsonb
LANGUAGE sql STABLE
AS $$
    SELECT ex7._strategy_performance(p_user, p_strategy, p_from, p_to, p_mode, pg_catalog.now());
$$;
COMMENT ON FUNCTION ex7.strategy_performance(uuid, uuid, timestamptz, timestamptz, text) IS
'Returns the performance of one of the user''s strategies from its signals of p_mode closed in [p_from, p_to): {strategy_id, name, instrument, timeframe, status, mode, from, to, initial_capital, total_trades, winning_trades, losing_trades, win_rate, pnl, pnl_percent, max_drawdown, max_drawdown_percent, sharpe_ratio, profit_factor, expectancy, metrics (compute_metrics), equity_curve [{ts, equity}], disclaimer}. X7404 when the strategy is missing, deleted or another user''s; X7422 at ["query","to"] when to <= from, at ["query","mode"] for a mode other than paper or live (GET /api/strategies/{strategy_id}/performance).';

/* ---------------------------------------------------------------------------------------------------
 * Get Portfolio: "Portfolio summary: signals taken today, cumulative stats." Today is the CME trading
 * day of the risk gate (ex7.trading_day_start, docs/risk.md), so the two never disagree on "today".
 * ------------------------------------------------------------------------------------------------- */
/* win_rate of a counting object rounded to 6 decimals like compute_metrics' ratios (NULL stays null) */
CREATE OR REPLACE FUNCTION ex7._round_rates(p jsonb)
RETURNS jsonb
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
    SELECT CASE WHEN pg_catalog.jsonb_typeof(p->'win_rate') = 'number'
                THEN p || pg_catalog.jsonb_build_object('win_rate',
                              pg_catalog.trim_scale(pg_catalog.round((p->>'win_rate')::numeric, 6)))
                ELSE p END;
$$;
COMMENT ON FUNCTION ex7._round_rates(jsonb) IS
'Returns p with its numeric win_rate rounded to 6 decimals (trailing zeros trimmed), as compute_metrics prints ratios.';

CREATE OR REPLACE FUNCTION ex7._portfolio(p_user uuid, p_mode text, p_at timestamptz)
RETURNS jsonb
LANGUAGE plpgsql STABLE
AS $$
DECLARE
    v_start timestamptz;
    v_today jsonb;
    v_cum jsonb;
    v_open jsonb;
    v_open_n bigint;
    v_account jsonb;
BEGIN
    PERFORM ex7._check_trade_mode(p_mode, '["query","mode"]');
    v_start := ex7.trading_day_start(p_at);
    -- the paper account's figures (83_paper.sql): starting capital, realized since its start, the netted
    -- positions at their marks, equity; the same document as GET /api/account/paper
    v_account := ex7._paper_account(p_user, p_mode, p_at);
    -- a trade is a close with P&L: force-closes are counted apart (no realized P&L, docs/signals.md)
    SELECT pg_catalog.jsonb_build_object(
               'signals_taken', (SELECT count(*) FROM ex7.signals s
                                  WHERE s.user_id = p_user AND s.fired_at >= v_start AND s.fired_at <= p_at
                                    AND s.mode = p_mode),
               'closed', count(*) FILTER (WHERE c.close_reason <> 'force_close'),
               'force_closed', count(*) FILTER (WHERE c.close_reason = 'force_close'),
               'wins', count(*) FILTER (WHERE c.close_reason <> 'force_close' AND c.net_pnl > 0),
               'losses', count(*) FILTER (WHERE c.close_reason <> 'force_close' AND c.net_pnl < 0),
               'realized_pnl', ex7._money_text(coalesce(sum(c.net_pnl), 0)),
               'win_rate', (count(*) FILTER (WHERE c.close_reason <> 'force_close' AND c.net_pnl > 0))::numeric
                           / NULLIF(count(*) FILTER (WHERE c.close_reason <> 'force_close'), 0))
      INTO v_today
      FROM ex7.signals c
     WHERE c.user_id = p_user AND c.mode = p_mode AND c.status <> 'open'
       AND c.closed_at >= v_start AND c.closed_at <= p_at;
    SELECT pg_catalog.jsonb_build_object(
               'signals_taken', (SELECT count(*) FROM ex7.signals s
                                  WHERE s.user_id = p_user AND s.mode = p_mode AND s.fired_at <= p_at),
               'closed', count(*) FILTER (WHERE c.close_reason <> 'force_close'),
               'force_closed', count(*) FILTER (WHERE c.close_reason = 'force_close'),
               'wins', count(*) FILTER (WHERE c.close_reason <> 'force_close' AND c.net_pnl > 0),
               'losses', count(*) FILTER (WHERE c.close_reason <> 'force_close' AND c.net_pnl < 0),
               'realized_pnl', ex7._money_text(coalesce(sum(c.net_pnl), 0)),
               'gross_profit', ex7._money_text(coalesce(sum(c.net_pnl) FILTER (WHERE c.net_pnl > 0), 0)),
               'gross_loss', ex7._money_text(coalesce(-sum(c.net_pnl) FILTER (WHERE c.net_pnl < 0), 0)),
               'win_rate', (count(*) FILTER (WHERE c.close_reason <> 'force_close' AND c.net_pnl > 0))::numeric
                           / NULLIF(count(*) FILTER (WHERE c.close_reason <> 'force_close'), 0))
      INTO v_cum
      FROM ex7.signals c
     WHERE c.user_id = p_user AND c.mode = p_mode AND c.status <> 'open' AND c.closed_at <= p_at;
    -- signals_user_mode_open_idx (user_id, mode) WHERE status = 'open'
    -- ROW(s.*)::ex7.signals, not the whole-row s: on Citus a shard's row has the shard table's type
    SELECT coalesce(pg_catalog.jsonb_agg(ex7._signal_json(ROW(s.*)::ex7.signals) ORDER BY s.fired_at DESC, s.id DESC), '[]'),
           count(*)
      INTO v_open, v_open_n
      FROM ex7.signals s
     WHERE s.user_id = p_user AND s.mode = p_mode AND s.status = 'open';
    RETURN pg_catalog.jsonb_build_object(
        'mode', p_mode,
        'trading_day_start', v_start,
        'as_of', p_at,
        'today', ex7._round_rates(v_today),
        'cumulative', ex7._round_rates(v_cum),
        'open_positions', v_open_n,
        'positions', v_open,
        'account', v_account,
        'disclaimer', ex7.compliance_banner());
END
$$;
COMMENT ON FUNCTION ex7._portfolio(uuid, text, timestamptz) IS
'Returns ex7.portfolio''s document as of p_at.';

CREATE OR REPLACE FUNCTION ex7.portfolio(p_user uuid, p_mode text DEFAULT 'paper')
RETURNS jsonb
LANGUAGE sql STABLE
AS $$
    SELECT ex7._portfolio(p_user, p_mode, pg_catalog.now());
$$;
COMMENT ON FUNCTION ex7.portfolio(uuid, text) IS
'Returns the user''s portfolio for one mode (GET /api/portfolio): {mode, trading_day_start, as_of, today: {signals_taken, closed, force_closed, wins, losses, realized_pnl, win_rate}, cumulative: {the same, gross_profit, gross_loss}, open_positions (count), positions (the open signals, newest first), account (the paper account of the mode as GET /api/account/paper shows it, without the disclaimer), disclaimer}. Today is the CME trading day of the risk gate. X7422 at ["query","mode"] for a mode other than paper or live.';

/* ---------------------------------------------------------------------------------------------------
 * The dashboard: every strategy at a glance with totals (the peer's dashboard/multi-flow).
 * ------------------------------------------------------------------------------------------------- */
CREATE OR REPLACE FUNCTION ex7._dashboard(p_user uuid, p_mode text, p_at timestamptz)
RETURNS jsonb
LANGUAGE plpgsql STABLE
AS $$
DECLARE
    v_items jsonb;
    v_capital numeric;
BEGIN
    PERFORM ex7._check_trade_mode(p_mode, '["query","mode"]');
    -- the paper account's starting capital (83_paper.sql), read before the queries over per-user tables
    v_capital := ex7._paper_capital(p_user, p_mode);
    WITH st AS (
        SELECT s.*
          FROM ex7.strategies s
         WHERE s.user_id = p_user AND s.deleted_at IS NULL
    ), closed AS (
        -- signals_user_mode_closed_idx; force-closes are not trades (no realized P&L). user_id is kept for
        -- the joins below: joins of per-user rows equate the user too (docs/scale-out.md)
        SELECT c.user_id, c.strategy_id, count(*) AS n, count(*) FILTER (WHERE c.net_pnl > 0) AS wins,
               sum(c.net_pnl) AS pnl
          FROM ex7.signals c
         WHERE c.user_id = p_user AND c.mode = p_mode AND c.status <> 'open' AND c.close_reason <> 'force_close'
           AND c.closed_at <= p_at
         GROUP BY c.user_id, c.strategy_id
    ), open AS (
        -- signals_user_mode_open_idx
        SELECT o.user_id, o.strategy_id, count(*) AS n
          FROM ex7.signals o
         WHERE o.user_id = p_user AND o.mode = p_mode AND o.status = 'open'
         GROUP BY o.user_id, o.strategy_id
    ), errs AS (
        -- signal_audit_user_bar_idx (user_id, bar_ts DESC, id DESC): the last 24 hours only
        SELECT a.user_id, a.strategy_id, count(*) AS n
          FROM ex7.signal_audit a
         WHERE a.user_id = p_user AND a.bar_ts > p_at - interval '24 hours' AND a.bar_ts <= p_at
           AND a.decision = 'error' AND (a.mode = p_mode OR a.mode IS NULL)
         GROUP BY a.user_id, a.strategy_id
    )
    SELECT coalesce(pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object(
               'strategy_id', st.id,
               'name', st.name,
               'status', st.status,
               'runtime_status', r.status,
               'instrument', st.instrument,
               'timeframe', st.timeframe,
               'pnl', ex7._money_text(coalesce(closed.pnl, 0)),
               'pnl_percent', pg_catalog.trim_scale(pg_catalog.round(
                                  coalesce(closed.pnl, 0) / v_capital * 100, 6)),
               'trade_count', coalesce(closed.n, 0),
               'wins', coalesce(closed.wins, 0),
               'win_rate', pg_catalog.trim_scale(pg_catalog.round(closed.wins::numeric / NULLIF(closed.n, 0), 6)),
               'open_positions', coalesce(open.n, 0),
               'error_count', coalesce(errs.n, 0),
               'runtime_error', r.error,
               'started_at', r.started_at,
               'last_bar_ts', r.last_bar_ts)
               ORDER BY st.name, st.id), '[]')
      INTO v_items
      FROM st
      LEFT JOIN ex7.strategy_runtimes r ON r.user_id = st.user_id AND r.strategy_id = st.id AND r.mode = p_mode
      LEFT JOIN closed ON closed.user_id = st.user_id AND closed.strategy_id = st.id
      LEFT JOIN open ON open.user_id = st.user_id AND open.strategy_id = st.id
      LEFT JOIN errs ON errs.user_id = st.user_id AND errs.strategy_id = st.id;

    RETURN pg_catalog.jsonb_build_object(
        'mode', p_mode,
        'as_of', p_at,
        'strategies', v_items,
        'aggregate', (
            SELECT pg_catalog.jsonb_build_object(
                       'strategies', count(*),
                       'total_pnl', ex7._money_text(coalesce(sum((i->>'pnl')::numeric), 0)),
                       -- each strategy trades its own notional capital: the total's base is their sum
                       'total_pnl_percent', pg_catalog.trim_scale(pg_catalog.round(
                           coalesce(sum((i->>'pnl')::numeric), 0)
                           / NULLIF(count(*) * v_capital, 0) * 100, 6)),
                       'total_trades', coalesce(sum((i->>'trade_count')::bigint), 0),
                       'win_rate', pg_catalog.trim_scale(pg_catalog.round(
                           sum((i->>'wins')::numeric) / NULLIF(sum((i->>'trade_count')::numeric), 0), 6)),
                       'running_strategies', count(*) FILTER (WHERE i->>'runtime_status' = 'running'),
                       'error_strategies', count(*) FILTER (WHERE i->>'runtime_status' = 'error'
                                                              OR (i->>'error_count')::bigint > 0),
                       'total_errors', coalesce(sum((i->>'error_count')::bigint), 0),
                       'total_open_positions', coalesce(sum((i->>'open_positions')::bigint), 0))
              FROM pg_catalog.jsonb_array_elements(v_items) AS i),
        'disclaimer', ex7.compliance_banner());
END
$$;
COMMENT ON FUNCTION ex7._dashboard(uuid, text, timestamptz) IS
'Returns ex7.dashboard''s document as of p_at.';

CREATE OR REPLACE FUNCTION ex7.dashboard(p_user uuid, p_mode text DEFAULT 'paper')
RETURNS jsonb
LANGUAGE sql STABLE
AS $$
    SELECT ex7._dashboard(p_user, p_mode, pg_catalog.now());
$$;
COMMENT ON FUNCTION ex7.dashboard(uuid, text) IS
'Returns every strategy of the user at a glance for one mode (GET /api/dashboard): {mode, as_of, strategies: [{strategy_id, name, status, runtime_status, instrument, timeframe, pnl, pnl_percent, trade_count, wins, win_rate, open_positions, error_count (audit errors of the last 24 hours), runtime_error, started_at, last_bar_ts}], aggregate: {strategies, total_pnl, total_pnl_percent, total_trades, win_rate, running_strategies, error_strategies, total_errors, total_open_positions}, disclaimer}. X7422 at ["query","mode"] for a mode other than paper or live.';
