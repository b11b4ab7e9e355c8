/* ext/sql/83_paper.sql: the paper account (docs/paper-account.md). Per user and mode: a starting capital
 * and a start (ex7.paper_accounts, 82_paper_schema.sql; no row: 10000.00 and no start), the open positions
 * netted per instrument across strategies and marked at the close of the instrument's last bar, the ledger
 * of closes since the start with the P&L ex7.compute_pnl gave each, and the equity per CME trading day.
 * Nothing here is stored but the account row: every figure is read from ex7.signals, so the account, the
 * performance documents (69_performance.sql: their capital is the account's) and a max-drawdown protection
 * (ex7._paper_realized_curve) read the same closes.
 *
 * Every function that reads ex7.signals is PL/pgSQL and calls no table-reading function inside a query over
 * it: the lots and the closes are read into variables first, then marked and priced in queries over those
 * (docs/citus-statements.md). Internal functions take the instant p_at; the public ones pass now(). */

/* ---------------------------------------------------------------------------------------------------
 * The account row and its capital.
 * ------------------------------------------------------------------------------------------------- */
CREATE OR REPLACE FUNCTION ex7._paper_account_row(p_user uuid, p_mode text)
RETURNS ex7.paper_accounts
LANGUAGE plpgsql STABLE
AS $$
DECLARE
    a ex7.paper_accounts;
BEGIN
    SELECT * INTO a FROM ex7.paper_accounts x WHERE x.user_id = p_user AND x.mode = p_mode;
    IF NOT FOUND THEN
        -- never reset: the default capital (the column default, ex7._paper_capital()), no start, no reset
        a.user_id := p_user;
        a.mode := p_mode;
        a.starting_capital := ex7._paper_capital();
        a.resets := 0;
    END IF;
    RETURN a;
END
$$;
COMMENT ON FUNCTION ex7._paper_account_row(uuid, text) IS
'Returns the paper_accounts row of (p_user, p_mode), or, when the account was never reset, one with starting_capital ex7._paper_capital() (10000.00), resets 0 and started_at, created_at, updated_at NULL.';

CREATE OR REPLACE FUNCTION ex7._paper_capital(p_user uuid, p_mode text)
RETURNS numeric
LANGUAGE plpgsql STABLE
AS $$
DECLARE
    v numeric;
BEGIN
    SELECT a.starting_capital INTO v FROM ex7.paper_accounts a WHERE a.user_id = p_user AND a.mode = p_mode;
    RETURN coalesce(v, ex7._paper_capital());
END
$$;
COMMENT ON FUNCTION ex7._paper_capital(uuid, text) IS
'Returns the starting capital of the user''s paper account of p_mode (10000.00 when never reset): the base of the performance percents (69_performance.sql) and of the account''s equity.';

/* a break-even or average price: 6 decimals at most, trailing zeros trimmed, never fewer than the tick's */
CREATE OR REPLACE FUNCTION ex7._paper_price_text(p_price numeric, p_tick numeric)
RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
    SELECT pg_catalog.round(t.v, GREATEST(pg_catalog.scale(t.v), pg_catalog.scale(p_tick)))::pg_catalog.text
      FROM (SELECT pg_catalog.trim_scale(pg_catalog.round(p_price, 6)) AS v) AS t;
$$;
COMMENT ON FUNCTION ex7._paper_price_text(numeric, numeric) IS
'Returns p_price rounded to 6 decimals with trailing zeros trimmed, but with at least the decimals of p_tick (18000.5 on a 0.25 tick: ''18000.50''); NULL for NULL.';

/* a percent of a base, as compute_metrics prints its ratios: a JSON number rounded to 6 decimals */
CREATE OR REPLACE FUNCTION ex7._paper_percent(p_amount numeric, p_base numeric)
RETURNS numeric
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
    SELECT pg_catalog.trim_scale(pg_catalog.round(p_amount / NULLIF(p_base, 0) * 100, 6));
$$;
COMMENT ON FUNCTION ex7._paper_percent(numeric, numeric) IS
'Returns p_amount as a percent of p_base rounded to 6 decimals (trailing zeros trimmed); NULL when p_base is 0 or NULL.';

/* ---------------------------------------------------------------------------------------------------
 * The realized curve: what a max-drawdown protection reads.
 * ------------------------------------------------------------------------------------------------- */
/*
 * One point at the start, then one per close of the mode since the account's start (the ledger's entries,
 * oldest first): the equity after that close is the starting capital plus every net P&L realized since the
 * start up to it. A force-close is a point that changes nothing (net 0.00). Unrealized P&L is not in it: the
 * curve moves only when a close books P&L, so a protection sees the same figures as the ledger, the
 * account's realized_drawdown and the performance documents.
 */
CREATE OR REPLACE FUNCTION ex7._paper_realized_curve(p_user uuid, p_mode text, p_at timestamptz DEFAULT NULL)
RETURNS TABLE (ts timestamptz, signal_id uuid, net_pnl numeric, equity numeric)
LANGUAGE plpgsql STABLE
AS $$
DECLARE
    a ex7.paper_accounts := ex7._paper_account_row(p_user, p_mode);
BEGIN
    ts := a.started_at;
    signal_id := NULL;
    net_pnl := 0.00;
    equity := a.starting_capital;
    RETURN NEXT;
    -- signals_user_mode_closed_id_idx (user_id, mode, closed_at DESC, id DESC) WHERE status <> 'open'
    RETURN QUERY
    SELECT s.closed_at, s.id, s.net_pnl,
           a.starting_capital + sum(s.net_pnl) OVER (ORDER BY s.closed_at, s.id)
      FROM ex7.signals s
     WHERE s.user_id = p_user AND s.mode = p_mode AND s.status <> 'open' AND s.net_pnl IS NOT NULL
       AND s.closed_at >= coalesce(a.started_at, '-infinity')
       AND s.closed_at <= coalesce(p_at, 'infinity')
     ORDER BY s.closed_at, s.id;
END
$$;
COMMENT ON FUNCTION ex7._paper_realized_curve(uuid, text, timestamptz) IS
'Returns the realized equity of the user''s paper account of p_mode, the figures a max-drawdown protection reads: a first row (ts = the account''s started_at, NULL when never reset; signal_id NULL; net_pnl 0.00; equity = starting capital), then one row per close since the start (up to p_at when given), oldest first by (closed_at, id): the close time, the signal, its net_pnl (ex7.compute_pnl; 0.00 for a force-close) and the starting capital plus the net P&L realized since the start up to it. Internal: no ownership or mode check.';

/* ---------------------------------------------------------------------------------------------------
 * Positions: the open signals of the mode, netted per instrument across strategies.
 * ------------------------------------------------------------------------------------------------- */
/*
 * _paper_lots: the signals open at p_at (fired at or before it, not closed at it) as a JSON array, each
 * {signal_id, strategy_id, instrument, side, size, entry_price, fired_at, closed_at}. Two index reads:
 * the open ones (signals_user_mode_open_idx) and, for an instant in the past, those closed after it
 * (signals_user_mode_closed_idx).
 */
CREATE OR REPLACE FUNCTION ex7._paper_lots(p_user uuid, p_mode text, p_from timestamptz, p_at timestamptz)
RETURNS jsonb
LANGUAGE plpgsql STABLE
AS $$
DECLARE
    v jsonb;
BEGIN
    SELECT coalesce(pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object(
               'signal_id', l.id, 'strategy_id', l.strategy_id, 'instrument', l.instrument, 'side', l.side,
               'size', l.size, 'entry_price', l.entry_price, 'fired_at', l.fired_at, 'closed_at', l.closed_at)
               ORDER BY l.instrument, l.fired_at, l.id), '[]')
      INTO v
      FROM (SELECT o.id, o.strategy_id, o.instrument, o.side, o.size, o.entry_price, o.fired_at, o.closed_at
              FROM ex7.signals o
             WHERE o.user_id = p_user AND o.mode = p_mode AND o.status = 'open' AND o.fired_at <= p_at
            UNION ALL
            SELECT c.id, c.strategy_id, c.instrument, c.side, c.size, c.entry_price, c.fired_at, c.closed_at
              FROM ex7.signals c
             WHERE c.user_id = p_user AND c.mode = p_mode AND c.status <> 'open' AND c.closed_at > p_from
               AND c.fired_at <= p_at) AS l;
    RETURN v;
END
$$;
COMMENT ON FUNCTION ex7._paper_lots(uuid, text, timestamptz, timestamptz) IS
'Returns the user''s signals of p_mode fired at or before p_at that are open, or were closed after p_from, as a JSON array of {signal_id, strategy_id, instrument, side, size, entry_price, fired_at, closed_at} (instrument, then fired order). With p_from = p_at: the signals open at p_at.';

/* _paper_marks: {instrument: {price, bar_ts, timeframe, fresh}} of every instrument of p_lots at p_at */
CREATE OR REPLACE FUNCTION ex7._paper_marks(p_lots jsonb, p_at timestamptz)
RETURNS jsonb
LANGUAGE plpgsql STABLE
AS $$
DECLARE
    v_inst text;
    m record;
    v jsonb := '{}';
BEGIN
    FOR v_inst IN SELECT DISTINCT l ->> 'instrument' FROM pg_catalog.jsonb_array_elements(p_lots) AS l LOOP
        m := ex7._mark_price(v_inst, p_at);
        v := v || pg_catalog.jsonb_build_object(v_inst, pg_catalog.jsonb_build_object(
                 'price', m.price, 'bar_ts', m.bar_ts, 'timeframe', m.timeframe, 'fresh', m.fresh));
    END LOOP;
    RETURN v;
END
$$;
COMMENT ON FUNCTION ex7._paper_marks(jsonb, timestamptz) IS
'Returns {instrument: {price, bar_ts, timeframe, fresh}}: ex7._mark_price at p_at of every instrument of the lots p_lots (price null when the instrument has no bar).';

/*
 * _paper_positions: the positions at p_at, one per instrument with an open signal, by instrument. Netting:
 * each open signal is a lot of +size (long) or -size (short); the position's size is the sum, its side the
 * sign (flat when the lots cancel out), and its average_price the break-even price sum(lot * entry) / sum(lot),
 * so that size * (mark - average_price) is the position's gross P&L at the mark in points. Each side's own
 * average entry is shown beside it. The unrealized P&L is what closing every open signal at the mark would
 * book: ex7.compute_pnl of each signal at the mark, gross and net (net of the slippage and commission of
 * both sides, as the ledger will show it): each signal closes on its own, so a flat position still costs
 * the round trips of its signals. No bar at all for the instrument: the mark and the P&L are null.
 */
CREATE OR REPLACE FUNCTION ex7._paper_positions(p_user uuid, p_mode text, p_at timestamptz)
RETURNS jsonb
LANGUAGE plpgsql STABLE
AS $$
DECLARE
    v_lots jsonb := ex7._paper_lots(p_user, p_mode, p_at, p_at);
    v_marks jsonb;
    v_ticks jsonb;
    v jsonb;
BEGIN
    v_marks := ex7._paper_marks(v_lots, p_at);
    -- the tick sizes first: the query below calls ex7.compute_pnl, which reads ex7.instruments itself, so it
    -- reads no table (docs/citus-statements.md, "Functions inside statements")
    SELECT pg_catalog.jsonb_object_agg(i.symbol, i.tick_size) INTO v_ticks
      FROM ex7.instruments i
     WHERE i.symbol IN (SELECT l ->> 'instrument' FROM pg_catalog.jsonb_array_elements(v_lots) AS l);
    WITH l AS (
        SELECT x.*, CASE x.side WHEN 'long' THEN x.size ELSE -x.size END AS qty,
               (v_marks -> x.instrument ->> 'price')::numeric AS mark
          FROM pg_catalog.jsonb_to_recordset(v_lots) AS x (signal_id uuid, strategy_id uuid, instrument text,
                                                           side text, size integer, entry_price numeric,
                                                           fired_at timestamptz)
    ), priced AS (
        SELECT l.*, p.gross_pnl, p.net_pnl
          FROM l LEFT JOIN LATERAL ex7.compute_pnl(l.instrument, l.side, l.size, l.entry_price, l.mark) AS p ON true
    ), g AS (
        SELECT priced.instrument, sum(priced.qty) AS net, sum(priced.qty * priced.entry_price) AS cost,
               coalesce(sum(priced.size) FILTER (WHERE priced.side = 'long'), 0) AS long_size,
               sum(priced.size * priced.entry_price) FILTER (WHERE priced.side = 'long') AS long_cost,
               coalesce(sum(priced.size) FILTER (WHERE priced.side = 'short'), 0) AS short_size,
               sum(priced.size * priced.entry_price) FILTER (WHERE priced.side = 'short') AS short_cost,
               count(*) AS n, min(priced.fired_at) AS opened_at,
               pg_catalog.array_agg(DISTINCT priced.strategy_id) AS strategies,
               sum(priced.gross_pnl) AS gross, sum(priced.net_pnl) AS net_pnl,
               (v_ticks ->> priced.instrument)::numeric AS tick
          FROM priced
         GROUP BY priced.instrument
    )
    SELECT coalesce(pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object(
               'instrument', g.instrument,
               'side', CASE WHEN g.net > 0 THEN 'long' WHEN g.net < 0 THEN 'short' ELSE 'flat' END,
               'size', pg_catalog.abs(g.net),
               'average_price', ex7._paper_price_text(g.cost / NULLIF(g.net, 0), g.tick),
               'long_size', g.long_size,
               'long_average_price', ex7._paper_price_text(g.long_cost / NULLIF(g.long_size, 0), g.tick),
               'short_size', g.short_size,
               'short_average_price', ex7._paper_price_text(g.short_cost / NULLIF(g.short_size, 0), g.tick),
               'open_signals', g.n,
               'strategy_ids', pg_catalog.to_jsonb(g.strategies),
               'opened_at', g.opened_at,
               'mark_price', v_marks -> g.instrument ->> 'price',
               'mark_bar_time', v_marks -> g.instrument -> 'bar_ts',
               'mark_timeframe', v_marks -> g.instrument -> 'timeframe',
               'mark_fresh', v_marks -> g.instrument -> 'fresh',
               'unrealized_gross_pnl', ex7._money_text(g.gross),
               'unrealized_pnl', ex7._money_text(g.net_pnl))
               ORDER BY g.instrument), '[]')
      INTO v
      FROM g;
    RETURN v;
END
$$;
COMMENT ON FUNCTION ex7._paper_positions(uuid, text, timestamptz) IS
'Returns the paper positions of (p_user, p_mode) at p_at, one per instrument with an open signal: {instrument, side (long, short, flat), size (net contracts), average_price (break-even: sum(lot * entry) / net; null when flat), long_size, long_average_price, short_size, short_average_price, open_signals, strategy_ids, opened_at, mark_price, mark_bar_time, mark_timeframe, mark_fresh, unrealized_gross_pnl, unrealized_pnl (ex7.compute_pnl of every open signal at the mark: net of both sides'' slippage and commission; null without a bar)}.';

/* ---------------------------------------------------------------------------------------------------
 * The account.
 * ------------------------------------------------------------------------------------------------- */
CREATE OR REPLACE FUNCTION ex7._paper_account(p_user uuid, p_mode text, p_at timestamptz)
RETURNS jsonb
LANGUAGE plpgsql STABLE
AS $$
DECLARE
    a ex7.paper_accounts := ex7._paper_account_row(p_user, p_mode);
    v_start timestamptz := coalesce(a.started_at, '-infinity');
    v_day timestamptz := ex7.trading_day_start(p_at);
    v_realized numeric;
    v_closes bigint;
    v_today numeric;
    v_today_n bigint;
    v_peak numeric;
    v_pos jsonb;
    v_unreal numeric;
    v_unreal_gross numeric;
    v_unmarked bigint;
    v_open bigint;
    v_equity numeric;
    v_realized_equity numeric;
BEGIN
    -- signals_user_mode_closed_id_idx (user_id, mode, closed_at DESC, id DESC) WHERE status <> 'open'
    SELECT coalesce(sum(s.net_pnl), 0), count(*),
           coalesce(sum(s.net_pnl) FILTER (WHERE s.closed_at >= v_day), 0),
           count(*) FILTER (WHERE s.closed_at >= v_day)
      INTO v_realized, v_closes, v_today, v_today_n
      FROM ex7.signals s
     WHERE s.user_id = p_user AND s.mode = p_mode AND s.status <> 'open' AND s.net_pnl IS NOT NULL
       AND s.closed_at >= v_start AND s.closed_at <= p_at;
    SELECT max(c.equity) INTO v_peak FROM ex7._paper_realized_curve(p_user, p_mode, p_at) AS c;
    v_pos := ex7._paper_positions(p_user, p_mode, p_at);
    SELECT coalesce(sum((p ->> 'unrealized_pnl')::numeric), 0),
           coalesce(sum((p ->> 'unrealized_gross_pnl')::numeric), 0),
           count(*) FILTER (WHERE p ->> 'mark_price' IS NULL),
           coalesce(sum((p ->> 'open_signals')::bigint), 0)
      INTO v_unreal, v_unreal_gross, v_unmarked, v_open
      FROM pg_catalog.jsonb_array_elements(v_pos) AS p;
    v_realized_equity := a.starting_capital + v_realized;
    v_equity := v_realized_equity + v_unreal;
    RETURN pg_catalog.jsonb_build_object(
        'mode', p_mode,
        'starting_capital', ex7._money_text(a.starting_capital),
        'started_at', a.started_at,
        'is_default', a.updated_at IS NULL,
        'resets', a.resets,
        'updated_at', a.updated_at,
        'closes', v_closes,
        'realized_pnl', ex7._money_text(v_realized),
        'open_signals', v_open,
        'positions', pg_catalog.jsonb_array_length(v_pos),
        'unmarked_positions', v_unmarked,
        'unrealized_gross_pnl', ex7._money_text(v_unreal_gross),
        'unrealized_pnl', ex7._money_text(v_unreal),
        'equity', ex7._money_text(v_equity),
        'return_percent', ex7._paper_percent(v_equity - a.starting_capital, a.starting_capital),
        'realized_drawdown', pg_catalog.jsonb_build_object(
            'peak_equity', ex7._money_text(v_peak),
            'equity', ex7._money_text(v_realized_equity),
            'amount', ex7._money_text(v_peak - v_realized_equity),
            'percent', ex7._paper_percent(v_peak - v_realized_equity, v_peak)),
        'today', pg_catalog.jsonb_build_object(
            'trading_day', (pg_catalog.timezone('America/New_York', v_day) + interval '1 day')::date,
            'trading_day_start', v_day,
            'closes', v_today_n,
            'realized_pnl', ex7._money_text(v_today)),
        'as_of', p_at);
END
$$;
COMMENT ON FUNCTION ex7._paper_account(uuid, text, timestamptz) IS
'Returns the paper account of (p_user, p_mode) as of p_at, as ex7.get_paper_account shows it (without the disclaimer). Internal: no ownership or mode check.';

CREATE OR REPLACE FUNCTION ex7.get_paper_account(p_user uuid, p_mode text DEFAULT 'paper')
RETURNS jsonb
LANGUAGE plpgsql STABLE
AS $$
BEGIN
    IF p_user IS NULL THEN
        PERFORM ex7._raise(401, 'acting user is required');
    END IF;
    PERFORM ex7._check_trade_mode(p_mode, '["query","mode"]');
    RETURN ex7._paper_account(p_user, p_mode, pg_catalog.now())
        || pg_catalog.jsonb_build_object('disclaimer', ex7.compliance_banner());
END
$$;
COMMENT ON FUNCTION ex7.get_paper_account(uuid, text) IS
'Returns the user''s paper account of one mode (GET /api/account/paper): {mode, starting_capital, started_at (the last reset; null when never reset), is_default, resets, updated_at, closes and realized_pnl (closes since the start), open_signals, positions, unmarked_positions, unrealized_gross_pnl, unrealized_pnl (every open signal at the mark of its instrument''s last bar, net of costs), equity (starting capital + realized + unrealized), return_percent, realized_drawdown {peak_equity, equity, amount, percent} of ex7._paper_realized_curve, today {trading_day, trading_day_start, closes, realized_pnl}, as_of, disclaimer}. X7422 at ["query","mode"] for a mode other than paper or live (docs/paper-account.md).';

CREATE OR REPLACE FUNCTION ex7._paper_positions_doc(p_user uuid, p_mode text, p_at timestamptz)
RETURNS jsonb
LANGUAGE plpgsql STABLE
AS $$
DECLARE
    v_pos jsonb := ex7._paper_positions(p_user, p_mode, p_at);
BEGIN
    RETURN (SELECT pg_catalog.jsonb_build_object(
                'mode', p_mode,
                'as_of', p_at,
                'items', v_pos,
                'open_signals', coalesce(sum((p ->> 'open_signals')::bigint), 0),
                'unrealized_gross_pnl', ex7._money_text(coalesce(sum((p ->> 'unrealized_gross_pnl')::numeric), 0)),
                'unrealized_pnl', ex7._money_text(coalesce(sum((p ->> 'unrealized_pnl')::numeric), 0)),
                'unmarked_positions', count(*) FILTER (WHERE p ->> 'mark_price' IS NULL),
                'disclaimer', ex7.compliance_banner())
              FROM pg_catalog.jsonb_array_elements(v_pos) AS p);
END
$$;
COMMENT ON FUNCTION ex7._paper_positions_doc(uuid, text, timestamptz) IS
'Returns ex7.list_paper_positions''s document as of p_at.';

CREATE OR REPLACE FUNCTION ex7.list_paper_positions(p_user uuid, p_mode text DEFAULT 'paper')
RETURNS jsonb
LANGUAGE plpgsql STABLE
AS $$
BEGIN
    IF p_user IS NULL THEN
        PERFORM ex7._raise(401, 'acting user is required');
    END IF;
    PERFORM ex7._check_trade_mode(p_mode, '["query","mode"]');
    RETURN ex7._paper_positions_doc(p_user, p_mode, pg_catalog.now());
END
$$;
COMMENT ON FUNCTION ex7.list_paper_positions(uuid, text) IS
'Returns the user''s paper positions of one mode (GET /api/account/paper/positions): {mode, as_of, items: [{instrument, side (long, short, flat), size, average_price (break-even of the net position), long_size, long_average_price, short_size, short_average_price, open_signals, strategy_ids, opened_at, mark_price, mark_bar_time, mark_timeframe, mark_fresh, unrealized_gross_pnl, unrealized_pnl}], open_signals, unrealized_gross_pnl, unrealized_pnl, unmarked_positions, disclaimer}: the open signals netted per instrument across strategies, marked at the close of the instrument''s last bar. X7422 at ["query","mode"] for a mode other than paper or live.';

/* ---------------------------------------------------------------------------------------------------
 * The ledger: one entry per close since the start, newest first, in keyset pages.
 * ------------------------------------------------------------------------------------------------- */
/*
 * The page is the signals_user_mode_closed_id_idx range below the cursor, (closed_at, id) < (cursor) as one row
 * comparison ((+infinity, max uuid) without a cursor), N + 1 rows. Each entry's balance is the account's
 * realized equity after it: the starting capital, the net P&L of every close of the account before the
 * page's oldest entry (one sum), and a running sum over the closes the page spans (every close of the
 * account, whatever the filters), so a filtered page still shows the account's balance.
 */
CREATE OR REPLACE FUNCTION ex7.list_paper_ledger(p_user uuid, p_mode text DEFAULT 'paper', p_strategy_id uuid DEFAULT NULL,
                                                 p_instrument text DEFAULT NULL, p_cursor text DEFAULT NULL,
                                                 p_limit integer DEFAULT 50)
RETURNS jsonb
LANGUAGE plpgsql STABLE
AS $$
DECLARE
    v_limit integer := ex7._check_limit(p_limit);
    a ex7.paper_accounts;
    v_start timestamptz;
    v_ts timestamptz := 'infinity';
    v_id uuid := 'ffffffff-ffff-ffff-ffff-ffffffffffff';
    v_rows jsonb;
    v_n integer;
    v_first jsonb;
    v_last jsonb;
    v_before numeric;
    v_span jsonb;
    v_items jsonb;
BEGIN
    IF p_user IS NULL THEN
        PERFORM ex7._raise(401, 'acting user is required');
    END IF;
    PERFORM ex7._check_trade_mode(p_mode, '["query","mode"]');
    IF p_cursor IS NOT NULL THEN
        SELECT c.ts, c.id::uuid INTO v_ts, v_id FROM ex7.cursor_decode('paper_ledger', p_user, p_cursor) AS c;
    END IF;
    IF p_strategy_id IS NOT NULL THEN
        -- the user's strategy, deleted or not (its closes stay in the ledger); another user's is 404
        PERFORM 1 FROM ex7.strategies t WHERE t.user_id = p_user AND t.id = p_strategy_id;
        IF NOT FOUND THEN
            PERFORM ex7._raise(404, 'strategy not found');
        END IF;
    END IF;
    a := ex7._paper_account_row(p_user, p_mode);
    v_start := coalesce(a.started_at, '-infinity');

    SELECT pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object(
               'signal_id', e.id, 'strategy_id', e.strategy_id, 'instrument', e.instrument, 'side', e.side,
               'size', e.size, 'entry_price', e.entry_price::text, 'close_price', e.close_price::text,
               'fired_at', e.fired_at, 'closed_at', e.closed_at, 'status', e.status, 'close_reason', e.close_reason,
               'gross_pnl', ex7._money_text(e.gross_pnl), 'slippage_cost', ex7._money_text(e.slippage_cost),
               'commission', ex7._money_text(e.commission), 'net_pnl', ex7._money_text(e.net_pnl))
               ORDER BY e.closed_at DESC, e.id DESC),
           count(*)
      INTO v_rows, v_n
      FROM (SELECT x.id, x.strategy_id, x.instrument, x.side, x.size, x.entry_price, x.close_price, x.fired_at,
                   x.closed_at, x.status, x.close_reason, x.gross_pnl, x.slippage_cost, x.commission, x.net_pnl
              FROM ex7.signals x
             WHERE x.user_id = p_user AND x.mode = p_mode AND x.status <> 'open' AND x.net_pnl IS NOT NULL
               AND x.closed_at >= v_start
               AND (x.closed_at, x.id) < (v_ts, v_id)
               AND (p_strategy_id IS NULL OR x.strategy_id = p_strategy_id)
               AND (p_instrument IS NULL OR x.instrument = pg_catalog.upper(p_instrument))
             ORDER BY x.closed_at DESC, x.id DESC
             LIMIT v_limit + 1) AS e;
    IF v_n > v_limit THEN
        v_rows := v_rows - v_limit;
        v_last := v_rows -> (v_limit - 1);
    END IF;
    IF v_n = 0 THEN
        v_items := '[]';
    ELSE
        v_first := v_rows -> 0;
        -- the balance before the page's oldest entry, then the running balance over the span of the page
        SELECT coalesce(sum(s.net_pnl), 0) INTO v_before
          FROM ex7.signals s
         WHERE s.user_id = p_user AND s.mode = p_mode AND s.status <> 'open' AND s.net_pnl IS NOT NULL
           AND s.closed_at >= v_start
           AND (s.closed_at, s.id) < (((v_rows -> -1) ->> 'closed_at')::timestamptz, ((v_rows -> -1) ->> 'signal_id')::uuid);
        SELECT pg_catalog.jsonb_object_agg(w.id, w.cum) INTO v_span
          FROM (SELECT s.id, sum(s.net_pnl) OVER (ORDER BY s.closed_at, s.id) AS cum
                  FROM ex7.signals s
                 WHERE s.user_id = p_user AND s.mode = p_mode AND s.status <> 'open' AND s.net_pnl IS NOT NULL
                   AND s.closed_at >= v_start
                   AND (s.closed_at, s.id) >= (((v_rows -> -1) ->> 'closed_at')::timestamptz, ((v_rows -> -1) ->> 'signal_id')::uuid)
                   AND (s.closed_at, s.id) <= ((v_first ->> 'closed_at')::timestamptz, (v_first ->> 'signal_id')::uuid)) AS w;
        SELECT pg_catalog.jsonb_agg(r.e || pg_catalog.jsonb_build_object('balance',
                   ex7._money_text(a.starting_capital + v_before + (v_span ->> (r.e ->> 'signal_id'))::numeric))
                   ORDER BY r.i)
          INTO v_items
          FROM pg_catalog.jsonb_array_elements(v_rows) WITH ORDINALITY AS r (e, i);
    END IF;
    RETURN pg_catalog.jsonb_build_object(
        'mode', p_mode,
        'starting_capital', ex7._money_text(a.starting_capital),
        'started_at', a.started_at,
        'items', v_items,
        'next_cursor', CASE WHEN v_last IS NOT NULL
                            THEN ex7.cursor_encode('paper_ledger', p_user, (v_last ->> 'closed_at')::timestamptz,
                                                   v_last ->> 'signal_id') END,
        'disclaimer', ex7.compliance_banner());
END
$$;
COMMENT ON FUNCTION ex7.list_paper_ledger(uuid, text, uuid, text, text, integer) IS
'Returns a page of the user''s paper ledger of one mode (GET /api/account/paper/ledger), newest first by (closed_at, id): {mode, starting_capital, started_at, items: [{signal_id, strategy_id, instrument, side, size, entry_price, close_price, fired_at, closed_at, status, close_reason, gross_pnl, slippage_cost, commission, net_pnl (from ex7.compute_pnl; zero for a force-close), balance (the account''s realized equity after the close)}], next_cursor (null on the last page), disclaimer}: every close of the mode since the account''s start, optionally of one strategy or instrument. X7404 for a strategy that is not the user''s; X7422 for a bad mode, cursor or limit (1..200).';

/* ---------------------------------------------------------------------------------------------------
 * Equity per trading day.
 * ------------------------------------------------------------------------------------------------- */
/*
 * The CME trading days (ex7.trading_day_start: 18:00 New York to 18:00 the next day, named by the date they
 * end) from p_from to p_to, each ending at its end or at p_to / p_at when earlier. Per day: the closes and
 * the net P&L realized in it, the realized equity at its end (starting capital + every net P&L since the
 * account's start up to the end), the unrealized P&L of the signals open at the end marked at each
 * instrument's last bar at or before it (as the positions are), and the equity. The days that start on a
 * Friday or Saturday evening (Globex is closed until Sunday 18:00) are listed only when a close fell in
 * them. p_from defaults to the account's start (never reset: the first signal of the mode) and is never
 * before it; at most 366 days are listed (a longer explicit range is X7422 at ["query","from"], a default
 * one starts 366 days before the end).
 */
CREATE OR REPLACE FUNCTION ex7._paper_equity_daily(p_user uuid, p_mode text, p_from timestamptz, p_to timestamptz,
                                                   p_at timestamptz)
RETURNS jsonb
LANGUAGE plpgsql STABLE
AS $$
DECLARE
    a ex7.paper_accounts := ex7._paper_account_row(p_user, p_mode);
    v_start timestamptz := coalesce(a.started_at, '-infinity');
    v_to timestamptz := LEAST(coalesce(p_to, p_at), p_at);
    v_from timestamptz;
    v_d timestamptz;
    v_next timestamptz;
    v_ds timestamptz[] := '{}';
    v_de timestamptz[] := '{}';
    v_end timestamptz[] := '{}';
    v_before numeric := 0;
    v_closes jsonb;
    v_lots jsonb;
    v_marks jsonb := '[]';
    v_inst text;
    v_k integer;
    m record;
    v_days jsonb;
BEGIN
    PERFORM ex7._check_range(p_from, p_to);
    IF p_from IS NOT NULL THEN
        v_from := GREATEST(p_from, v_start);
        IF v_to - v_from > interval '366 days' THEN
            PERFORM ex7._invalid('["query","from"]', 'the range spans more than 366 days', 'value_error.range');
        END IF;
    ELSE
        v_from := a.started_at;
        IF v_from IS NULL THEN
            -- signals_user_fired_idx (user_id, fired_at DESC, id DESC)
            SELECT min(s.fired_at) INTO v_from FROM ex7.signals s WHERE s.user_id = p_user AND s.mode = p_mode;
        END IF;
        v_from := GREATEST(coalesce(v_from, v_to), v_to - interval '366 days');
    END IF;

    -- the days: [start, next start), the last one cut at v_to
    IF v_from <= v_to THEN
        v_d := ex7.trading_day_start(v_from);
        WHILE v_d <= v_to LOOP
            -- a trading day lasts 23 to 25 hours: 26 hours on is inside the next one
            v_next := ex7.trading_day_start(v_d + interval '26 hours');
            v_ds := v_ds || v_d;
            v_de := v_de || v_next;
            v_end := v_end || LEAST(v_next, v_to);
            v_d := v_next;
        END LOOP;
    END IF;
    IF pg_catalog.cardinality(v_ds) = 0 THEN
        v_days := '[]';
    ELSE
        -- the realized P&L before the first day (since the account's start), and the closes of the days
        SELECT coalesce(sum(s.net_pnl), 0) INTO v_before
          FROM ex7.signals s
         WHERE s.user_id = p_user AND s.mode = p_mode AND s.status <> 'open' AND s.net_pnl IS NOT NULL
           AND s.closed_at >= v_start AND s.closed_at < v_ds[1];
        SELECT coalesce(pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object('closed_at', s.closed_at, 'net_pnl', s.net_pnl)), '[]')
          INTO v_closes
          FROM ex7.signals s
         WHERE s.user_id = p_user AND s.mode = p_mode AND s.status <> 'open' AND s.net_pnl IS NOT NULL
           AND s.closed_at >= GREATEST(v_start, v_ds[1]) AND s.closed_at <= v_to;
        -- the signals open at some day's end, and the marks each day's end needs
        v_lots := ex7._paper_lots(p_user, p_mode, v_end[1], v_to);
        FOR v_k IN 1 .. pg_catalog.cardinality(v_end) LOOP
            FOR v_inst IN SELECT DISTINCT l ->> 'instrument' FROM pg_catalog.jsonb_array_elements(v_lots) AS l
                           WHERE (l ->> 'fired_at')::timestamptz <= v_end[v_k]
                             AND (l ->> 'closed_at' IS NULL OR (l ->> 'closed_at')::timestamptz > v_end[v_k]) LOOP
                m := ex7._mark_price(v_inst, v_end[v_k]);
                v_marks := v_marks || pg_catalog.jsonb_build_object('k', v_k, 'instrument', v_inst, 'price', m.price);
            END LOOP;
        END LOOP;

        WITH d AS (
            SELECT x.k, x.ds, x.de, x.e
              FROM ROWS FROM (pg_catalog.unnest(v_ds), pg_catalog.unnest(v_de), pg_catalog.unnest(v_end))
                   WITH ORDINALITY AS x (ds, de, e, k)
        ), c AS (
            SELECT y.closed_at, y.net_pnl
              FROM pg_catalog.jsonb_to_recordset(v_closes) AS y (closed_at timestamptz, net_pnl numeric)
        ), lots AS (
            SELECT z.* FROM pg_catalog.jsonb_to_recordset(v_lots) AS z (instrument text, side text, size integer,
                                                                       entry_price numeric, fired_at timestamptz,
                                                                       closed_at timestamptz)
        ), mk AS (
            SELECT w.k, w.instrument, w.price
              FROM pg_catalog.jsonb_to_recordset(v_marks) AS w (k bigint, instrument text, price numeric)
        ), u AS (
            -- the signals open at each day's end, priced at that end's mark
            SELECT d.k, sum(p.net_pnl) AS unrealized, count(*) FILTER (WHERE mk.price IS NULL) AS unmarked,
                   count(*) AS n
              FROM d
              JOIN lots ON lots.fired_at <= d.e AND (lots.closed_at IS NULL OR lots.closed_at > d.e)
              JOIN mk ON mk.k = d.k AND mk.instrument = lots.instrument
              LEFT JOIN LATERAL ex7.compute_pnl(lots.instrument, lots.side, lots.size, lots.entry_price, mk.price) AS p
                ON true
             GROUP BY d.k
        ), r AS (
            SELECT d.k, d.ds, d.de, d.e,
                   (SELECT count(*) FROM c WHERE c.closed_at >= d.ds AND c.closed_at < d.de) AS closes,
                   (SELECT coalesce(sum(c.net_pnl), 0) FROM c WHERE c.closed_at >= d.ds AND c.closed_at < d.de) AS realized,
                   v_before + (SELECT coalesce(sum(c.net_pnl), 0) FROM c WHERE c.closed_at < d.de) AS cum,
                   (pg_catalog.timezone('America/New_York', d.ds) + interval '1 day')::date AS day
              FROM d
        )
        SELECT coalesce(pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object(
                   'trading_day', r.day,
                   'start', r.ds,
                   'end', r.e,
                   'complete', r.e = r.de,
                   'closes', r.closes,
                   'realized_pnl', ex7._money_text(r.realized),
                   'realized_equity', ex7._money_text(a.starting_capital + r.cum),
                   'open_signals', coalesce(u.n, 0),
                   'unmarked_signals', coalesce(u.unmarked, 0),
                   'unrealized_pnl', ex7._money_text(coalesce(u.unrealized, 0)),
                   'equity', ex7._money_text(a.starting_capital + r.cum + coalesce(u.unrealized, 0)))
                   ORDER BY r.k), '[]')
          INTO v_days
          FROM r LEFT JOIN u ON u.k = r.k
         WHERE EXTRACT(isodow FROM r.day) < 6 OR r.closes > 0;
    END IF;
    RETURN pg_catalog.jsonb_build_object(
        'mode', p_mode,
        'starting_capital', ex7._money_text(a.starting_capital),
        'started_at', a.started_at,
        'from', v_ds[1],
        'to', v_to,
        'days', v_days,
        'as_of', p_at,
        'disclaimer', ex7.compliance_banner());
END
$$;
COMMENT ON FUNCTION ex7._paper_equity_daily(uuid, text, timestamptz, timestamptz, timestamptz) IS
'Returns ex7.paper_equity_daily''s document as of p_at.';

CREATE OR REPLACE FUNCTION ex7.paper_equity_daily(p_user uuid, p_mode text DEFAULT 'paper', p_from timestamptz DEFAULT NULL,
                                                  p_to timestamptz DEFAULT NULL)
RETURNS jsonb
LANGUAGE plpgsql STABLE
AS $$
BEGIN
    IF p_user IS NULL THEN
        PERFORM ex7._raise(401, 'acting user is required');
    END IF;
    PERFORM ex7._check_trade_mode(p_mode, '["query","mode"]');
    RETURN ex7._paper_equity_daily(p_user, p_mode, p_from, p_to, pg_catalog.now());
END
$$;
COMMENT ON FUNCTION ex7.paper_equity_daily(uuid, text, timestamptz, timestamptz) IS
'Returns the user''s paper equity per CME trading day of one mode (GET /api/account/paper/equity): {mode, starting_capital, started_at, from (the first day''s start), to, days: [{trading_day (the date it ends, New York), start, end, complete, closes, realized_pnl, realized_equity, open_signals, unmarked_signals, unrealized_pnl, equity}], as_of, disclaimer}. Days from p_from (default: the account''s start, never before it) to p_to (default and at most: now), at most 366 days; a day ends at 18:00 New York, and its unrealized P&L marks the signals open then at each instrument''s last bar. X7422 at ["query","to"] when to <= from, at ["query","from"] for a range over 366 days, at ["query","mode"] for a mode other than paper or live.';

/* ---------------------------------------------------------------------------------------------------
 * Reset.
 * ------------------------------------------------------------------------------------------------- */
/*
 * A reset starts the account over: a new start time (this transaction's) and a starting capital (the body's,
 * or the current one). The ledger, the realized P&L and the equity count only the closes from then on; the
 * closes before it stay in the signals (GET /api/signals, performance) and come back in no account figure.
 * Refused while the mode has open signals (409 open_positions): a position opened before the reset would
 * bring P&L from before it into the new account; close or force-close them first. The same user lock as a
 * fire or close (00_base.sql), so no signal opens or closes of this user while the reset runs.
 */
CREATE OR REPLACE FUNCTION ex7.reset_paper_account(p_user uuid, p_mode text DEFAULT 'paper',
                                                   p_starting_capital numeric DEFAULT NULL)
RETURNS jsonb
LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
    v_capital numeric := p_starting_capital;
    v_open bigint;
    v_now timestamptz := pg_catalog.now();
    v_prev jsonb;
BEGIN
    IF p_user IS NULL THEN
        PERFORM ex7._raise(401, 'acting user is required');
    END IF;
    PERFORM ex7._check_trade_mode(p_mode, '["body","mode"]');
    IF v_capital IS NOT NULL AND (v_capital = 'NaN' OR v_capital <= 0 OR v_capital >= 1e12
                                  OR pg_catalog.scale(v_capital) > 2) THEN
        PERFORM ex7._invalid('["body","starting_capital"]',
                             'starting_capital must be greater than 0 and less than 10^12, with at most 2 decimals',
                             'value_error.number.range');
    END IF;

    PERFORM ex7._lock_user(p_user);
    -- signals_user_mode_open_idx (user_id, mode) WHERE status = 'open'
    SELECT count(*) INTO v_open FROM ex7.signals s WHERE s.user_id = p_user AND s.mode = p_mode AND s.status = 'open';
    IF v_open > 0 THEN
        PERFORM ex7._raise(409, 'the account has open positions: close them before a reset',
                           pg_catalog.jsonb_build_object('code', 'open_positions', 'mode', p_mode, 'open_signals', v_open));
    END IF;
    v_prev := ex7._paper_account(p_user, p_mode, v_now);
    -- stored in cents (20000 -> 20000.00), as every figure of the account shows it
    v_capital := pg_catalog.round(coalesce(v_capital, (v_prev ->> 'starting_capital')::numeric), 2);
    INSERT INTO ex7.paper_accounts AS x (user_id, mode, starting_capital, started_at, resets, created_at, updated_at)
    VALUES (p_user, p_mode, v_capital, v_now, 1, v_now, v_now)
    ON CONFLICT (user_id, mode) DO UPDATE
       SET starting_capital = EXCLUDED.starting_capital, started_at = EXCLUDED.started_at,
           resets = x.resets + 1, updated_at = EXCLUDED.updated_at;
    RETURN ex7._paper_account(p_user, p_mode, v_now)
        || pg_catalog.jsonb_build_object(
               'previous', pg_catalog.jsonb_build_object(
                   'starting_capital', v_prev -> 'starting_capital', 'started_at', v_prev -> 'started_at',
                   'closes', v_prev -> 'closes', 'realized_pnl', v_prev -> 'realized_pnl', 'equity', v_prev -> 'equity'),
               'disclaimer', ex7.compliance_banner());
END
$$;
COMMENT ON FUNCTION ex7.reset_paper_account(uuid, text, numeric) IS
'Returns the user''s paper account of p_mode after a reset (POST /api/account/paper/reset, body {mode, starting_capital}): get_paper_account''s document plus previous {starting_capital, started_at, closes, realized_pnl, equity} of the account before it. The account starts over now, with p_starting_capital (0 < x < 10^12, at most 2 decimals; NULL: the current capital); its ledger, realized P&L and equity count the closes from then on. X7409 open_positions while the mode has open signals; X7422 at ["body","mode"] for a mode other than paper or live, at ["body","starting_capital"] for a capital out of range (docs/paper-account.md).';
