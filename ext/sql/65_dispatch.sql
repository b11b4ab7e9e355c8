/* ext/sql/65_dispatch.sql: the dispatcher (docs/dispatcher.md). Ingesting a closed bar calls
 * ex7._dispatch_bar inside the ingest transaction. The rules (docs/dispatcher.md, "One bar" and
 * "Failures"): ingesting a closed bar evaluates every runtime in starting or running whose strategy trades
 * that instrument and timeframe, inside the ingest transaction; starting becomes running on its first bar,
 * draining finishes the bar and becomes stopped (ex7-api-reference.txt, Stop Runtime). Each evaluation
 * writes one signal_audit row with its decision. Entries go through the risk gate (docs/risk.md); open
 * signals exit on an exit node, a stop or a target touched by the bar (the close price is the stop/target
 * level; P&L through compute_pnl; close_reason says which), and each change is an event with a
 * notification. A failure in one strategy marks that runtime error with the reason and does not stop the
 * others. The graph itself is evaluated in C by ex7._evaluate (ext/graph.c, docs/engine.md). */

/*
 * _fill_decide: the per-bar decision of a strategy (ext/fills.c), shared with the backtest
 * (ext/backtest.c, docs/backtests.md): brackets touched by the bar (stop first when both), exit nodes,
 * and the entry with its skip rules, reversal and bracket levels. The open signals come as parallel
 * arrays in the order they opened; nothing is read or written here: the caller applies the closes
 * (ex7._close_at) and the entry (ex7.fire_signal).
 */
CREATE OR REPLACE FUNCTION ex7._fill_decide(p_sides text[], p_earlier boolean[], p_stops numeric[],
                                            p_targets numeric[], p_high numeric, p_low numeric,
                                            p_close numeric, p_tick numeric, p_ev jsonb, p_draining boolean,
                                            OUT closes integer[], OUT close_prices numeric[],
                                            OUT close_reasons text[], OUT decision text, OUT reason text,
                                            OUT side text, OUT size integer, OUT stop_price numeric,
                                            OUT target_price numeric)
RETURNS record
AS 'MODULE_PATHNAME', 'fill_decide'
LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION ex7._fill_decide(text[], boolean[], numeric[], numeric[], numeric, numeric, numeric, numeric, jsonb, boolean) IS
'Returns (closes, close_prices, close_reasons, decision, reason, side, size, stop_price, target_price): the decision of one strategy on one bar for its open signals (parallel arrays p_sides, p_earlier = opened on an earlier bar, p_stops, p_targets, in opening order) and the graph''s result p_ev (ex7._evaluate). closes are 1-based indexes into the arrays in the order they close (brackets, exit nodes, reversals) with their price and close_reason; decision is no_signal, exit, skipped (reason: long_and_short_entries_on_one_bar, runtime_draining, warming_up, position_open) or enter (side, size and the bracket levels, NULL when none). The live dispatcher and the backtest share it (ext/fills.c).';

/*
 * _run_strategy: one runtime on one bar. Returns the audit decision and its detail. Called by
 * _dispatch_bar inside a subtransaction, so an error here undoes only this strategy's work.
 * The decision is ex7._fill_decide's (ext/fills.c, the same code the backtest runs); this function
 * reads the open signals and applies it:
 *   1. brackets: every open signal of the strategy and mode fired on an earlier bar closes at its stop or
 *      target when this bar touched it;
 *   2. the graph (ex7._evaluate) on the bars up to this one;
 *   3. exit nodes close open signals of their side at the bar's close (exit_signal);
 *   4. an entry (not while draining, not before warm-up) fires through ex7.fire_signal and the risk gate;
 *      a position of the same side already open skips it; one of the other side is closed first
 *      (reverse). Brackets: stop and target are the entry price -/+ ticks * tick size.
 * fire_signal writes the fired or blocked audit row itself; otherwise this function's caller writes one.
 */
CREATE OR REPLACE FUNCTION ex7._run_strategy(p_rt ex7.strategy_runtimes, p_s ex7.strategies, p_bar ex7.bars,
                                             OUT decision text, OUT signal_id uuid, OUT detail jsonb)
RETURNS record
LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
    v_graph jsonb;
    v_tick numeric;
    ev jsonb;
    sg ex7.signals;
    v_sigs ex7.signals[];
    v_sides text[];
    v_earlier boolean[];
    v_stops numeric[];
    v_targets numeric[];
    d record;
    v_closed jsonb := '[]';
    v_fire jsonb;
BEGIN
    SELECT i.tick_size, v.graph INTO v_tick, v_graph
      FROM ex7.strategy_versions v, ex7.instruments i
     WHERE v.user_id = p_s.user_id AND v.strategy_id = p_s.id AND v.version = p_s.current_version
       AND i.symbol = p_s.instrument;

    -- the open signals of the strategy and mode, locked, in the order they opened; then the columns the
    -- decision reads, as arrays in that order. One ordered aggregate and a loop over the (few) rows: five
    -- ordered aggregates cost five sorts a call, whether or not a row is open, which made this statement
    -- most of the dispatcher's time per runtime (docs/performance.md, 2026-12-05). ROW(x.*)::ex7.signals, not
    -- the whole-row x: on Citus the array comes back from the user's worker as text, and an array of
    -- anonymous records cannot be read (docs/scale-out.md)
    SELECT pg_catalog.array_agg(ROW(x.*)::ex7.signals ORDER BY x.fired_at, x.id)
      INTO v_sigs
      FROM (SELECT * FROM ex7.signals y
             WHERE y.user_id = p_rt.user_id AND y.strategy_id = p_s.id AND y.mode = p_rt.mode
               AND y.status = 'open'
               FOR UPDATE) AS x;
    FOR k IN 1 .. coalesce(pg_catalog.array_length(v_sigs, 1), 0) LOOP
        v_sides := v_sides || v_sigs[k].side;
        v_earlier := v_earlier || (v_sigs[k].bar_ts < p_bar.ts);
        v_stops := v_stops || v_sigs[k].stop_price;
        v_targets := v_targets || v_sigs[k].target_price;
    END LOOP;

    -- the graph, then the decision (ext/fills.c)
    ev := ex7._evaluate(p_s.id, p_s.current_version, v_graph, p_s.instrument, p_s.timeframe, p_bar.ts);
    d := ex7._fill_decide(v_sides, v_earlier, v_stops, v_targets, p_bar.high, p_bar.low, p_bar.close, v_tick,
                          ev, p_rt.status = 'draining');

    -- the closes in the decision's order: brackets and exits (reported in the audit), then reversals
    FOR k IN 1 .. coalesce(pg_catalog.array_length(d.closes, 1), 0) LOOP
        sg := v_sigs[d.closes[k]];
        IF (ex7._close_at(sg, d.close_prices[k], 'closed', d.close_reasons[k], p_bar.ts)).id IS NOT NULL
           AND d.close_reasons[k] <> 'reverse' THEN
            v_closed := v_closed || pg_catalog.jsonb_build_object('signal_id', sg.id, 'reason', d.close_reasons[k],
                                                                  'price', d.close_prices[k]::text);
        END IF;
    END LOOP;

    detail := pg_catalog.jsonb_build_object('closed', v_closed, 'warm', ev -> 'warm', 'bars', ev -> 'bars',
                                            'values', ev -> 'values', 'close', p_bar.close::text);
    IF d.decision <> 'enter' THEN
        decision := d.decision;
        IF d.reason IS NOT NULL THEN
            detail := detail || pg_catalog.jsonb_build_object('reason', d.reason);
        END IF;
        RETURN;
    END IF;

    v_fire := ex7.fire_signal(p_rt.user_id, p_s.id, p_rt.mode, d.side, d.size, p_bar.close, p_bar.ts, NULL,
                              d.stop_price, d.target_price);
    decision := v_fire ->> 'decision';              -- fired or blocked, audited by fire_signal
    signal_id := (v_fire #>> '{signal,id}')::uuid;
    -- fire_signal's audit row is this evaluation's one row: it also tells what closed on this bar
    IF pg_catalog.jsonb_array_length(v_closed) > 0 THEN
        UPDATE ex7.signal_audit a SET detail = a.detail || pg_catalog.jsonb_build_object('closed', v_closed)
         WHERE a.user_id = p_rt.user_id AND a.strategy_id = p_s.id AND a.mode = p_rt.mode AND a.bar_ts = p_bar.ts
           AND a.decision IN ('fired', 'blocked');
    END IF;
END
$$;
COMMENT ON FUNCTION ex7._run_strategy(ex7.strategy_runtimes, ex7.strategies, ex7.bars) IS
'Returns (decision, signal_id, detail) of one runtime on one bar: evaluates the graph (ex7._evaluate), decides with ex7._fill_decide (the backtest''s decision too), closes open signals whose stop or target the bar touched or whose exit node fired, and fires an entry through ex7.fire_signal (decision fired or blocked, audited there) or returns exit, no_signal or skipped (with detail.reason) for the caller to audit.';

/*
 * _dispatch_settle: user p_user's runtimes that ex7._dispatch_bar evaluated on the bar at p_bar_ts without an
 * error (p_ids, with the statuses they had then, p_statuses) move on: starting becomes running, draining
 * stopped, and the bar is their last. One UPDATE for all of one user's runtimes, their rows locked since
 * their turn. Per user rather than one for every user: on Citus a statement that changes rows is routed to
 * the one shard holding its user (docs/scale-out.md).
 */
CREATE OR REPLACE FUNCTION ex7._dispatch_settle(p_user uuid, p_ids uuid[], p_statuses text[], p_bar_ts timestamptz)
RETURNS void
LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
    v_now timestamptz := pg_catalog.now();      -- a variable: Citus refuses now() inside a CASE of an UPDATE
BEGIN
    UPDATE ex7.strategy_runtimes x
       SET status = CASE d.status WHEN 'starting' THEN 'running' WHEN 'draining' THEN 'stopped' ELSE d.status END,
           stopped_at = CASE WHEN d.status = 'draining' THEN v_now ELSE x.stopped_at END,
           last_bar_ts = p_bar_ts,
           updated_at = v_now
      FROM ROWS FROM (pg_catalog.unnest(p_ids), pg_catalog.unnest(p_statuses)) AS d (id, status)
     WHERE x.user_id = p_user AND x.id = d.id;
END
$$;
COMMENT ON FUNCTION ex7._dispatch_settle(uuid, uuid[], text[], timestamptz) IS
'Returns nothing. Moves user p_user''s runtimes p_ids, evaluated without error on the bar at p_bar_ts while in statuses p_statuses, on: starting to running, draining to stopped, last_bar_ts to the bar.';

CREATE OR REPLACE FUNCTION ex7._dispatch_bar(p_instrument text, p_timeframe text, p_bar_ts timestamptz)
RETURNS jsonb
LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
    r record;
    rt ex7.strategy_runtimes;
    v_failed ex7.strategy_runtimes;
    st ex7.strategies;
    b ex7.bars;
    res record;
    v_decision text;
    v_err text;
    v_state text;
    v_locked uuid;
    v_done uuid[] := '{}';
    v_done_status text[] := '{}';
    -- decisions counted per kind (the six of signal_audit's CHECK), a jsonb object built once at the end
    n_fired integer := 0;
    n_blocked integer := 0;
    n_exit integer := 0;
    n_no_signal integer := 0;
    n_skipped integer := 0;
    n_error integer := 0;
    v_started integer := 0;
    v_stopped integer := 0;
    v_errors integer := 0;
BEGIN
    SELECT * INTO b FROM ex7.bars x WHERE x.instrument = p_instrument AND x.timeframe = p_timeframe AND x.ts = p_bar_ts;
    IF NOT FOUND THEN
        PERFORM ex7._raise(404, 'bar not found');
    END IF;
    -- one lock order for every writer: the user row first (ex7._lock_user), then the runtime row;
    -- users in id order so that two concurrent ingests cannot deadlock on each other's users. The scan
    -- locks nothing (on Citus it reads every shard, where a multi-shard SELECT ... FOR UPDATE is refused);
    -- each runtime is then locked by its (user_id, id), one user at a time (docs/scale-out.md).
    FOR r IN
        SELECT x.id, x.user_id
          FROM ex7.strategy_runtimes x
          JOIN ex7.strategies s ON s.user_id = x.user_id AND s.id = x.strategy_id
         WHERE s.instrument = p_instrument AND s.timeframe = p_timeframe AND s.deleted_at IS NULL
           AND x.status IN ('starting', 'running', 'draining')
         ORDER BY x.user_id, x.id
    LOOP
        -- once per user: the lock is held until the transaction ends
        IF v_locked IS DISTINCT FROM r.user_id THEN
            -- the previous user's runtimes are done: they move on before the next user's turn
            IF pg_catalog.cardinality(v_done) > 0 THEN
                PERFORM ex7._dispatch_settle(v_locked, v_done, v_done_status, p_bar_ts);
                v_done := '{}';
                v_done_status := '{}';
            END IF;
            PERFORM ex7._lock_user(r.user_id);
            v_locked := r.user_id;
        END IF;
        -- re-read under the lock: a stop or delete may have committed since the scan
        SELECT * INTO rt FROM ex7.strategy_runtimes x WHERE x.user_id = r.user_id AND x.id = r.id FOR UPDATE;
        CONTINUE WHEN rt.status NOT IN ('starting', 'running', 'draining');
        -- a bar at or before the last one this runtime saw is not evaluated again
        CONTINUE WHEN rt.last_bar_ts IS NOT NULL AND rt.last_bar_ts >= p_bar_ts;
        SELECT * INTO st FROM ex7.strategies s WHERE s.user_id = rt.user_id AND s.id = rt.strategy_id;

        v_err := NULL;
        BEGIN
            res := ex7._run_strategy(rt, st, b);
            v_decision := res.decision;
            IF res.decision NOT IN ('fired', 'blocked') THEN
                -- the row ex7._audit writes, written here: this statement's plan is kept from one runtime
                -- to the next, where a SQL function called in each runtime's subtransaction is planned
                -- anew every time
                INSERT INTO ex7.signal_audit (user_id, strategy_id, strategy_version, instrument, timeframe, mode,
                                              bar_ts, decision, signal_id, detail)
                VALUES (rt.user_id, st.id, st.current_version, st.instrument, st.timeframe, rt.mode, p_bar_ts,
                        res.decision, res.signal_id, coalesce(res.detail, '{}'));
            END IF;
        EXCEPTION WHEN OTHERS THEN
            GET STACKED DIAGNOSTICS v_state = RETURNED_SQLSTATE, v_err = MESSAGE_TEXT;
            v_decision := 'error';
        END;

        IF v_err IS NOT NULL THEN
            -- "A failure in one strategy marks that runtime error with the reason and does not stop the
            -- others": the subtransaction undid its partial work; record why it stopped
            UPDATE ex7.strategy_runtimes x
               SET status = 'error', error = pg_catalog.left(v_err, 1000), stopped_at = pg_catalog.now(),
                   last_bar_ts = p_bar_ts, updated_at = pg_catalog.now()
             WHERE x.user_id = rt.user_id AND x.id = rt.id
            RETURNING * INTO v_failed;
            -- a runtime entering status error is an alert event (76_alerts.sql). The updated row is passed in
            -- rather than read by a statement that calls the alert: on Citus a statement on a user's shard
            -- must not call a function that queries or writes (docs/scale-out.md)
            IF rt.status IS DISTINCT FROM 'error' THEN
                PERFORM ex7._alert_runtime_error(v_failed);
            END IF;
            PERFORM ex7._audit(rt.user_id, st.id, st.current_version, st.instrument, st.timeframe, rt.mode,
                               p_bar_ts, 'error', NULL,
                               pg_catalog.jsonb_build_object('sqlstate', v_state, 'message', v_err));
            v_errors := v_errors + 1;
        ELSE
            -- moved on with the user's other runtimes, in one statement (ex7._dispatch_settle)
            v_done := pg_catalog.array_append(v_done, rt.id);
            v_done_status := pg_catalog.array_append(v_done_status, rt.status);
            v_started := v_started + (rt.status = 'starting')::integer;
            v_stopped := v_stopped + (rt.status = 'draining')::integer;
        END IF;
        CASE v_decision
            WHEN 'no_signal' THEN n_no_signal := n_no_signal + 1;
            WHEN 'fired' THEN n_fired := n_fired + 1;
            WHEN 'blocked' THEN n_blocked := n_blocked + 1;
            WHEN 'exit' THEN n_exit := n_exit + 1;
            WHEN 'skipped' THEN n_skipped := n_skipped + 1;
            ELSE n_error := n_error + 1;       -- 'error': the audit's CHECK admits no other decision
        END CASE;
    END LOOP;
    -- the last user's runtimes evaluated without error move on (the others did at the next user's turn): one
    -- UPDATE per user rather than one per runtime; the rows have been locked since their turn (FOR UPDATE
    -- above) and nothing in the loop reads another runtime's row, so the result is the same.
    IF pg_catalog.cardinality(v_done) > 0 THEN
        PERFORM ex7._dispatch_settle(v_locked, v_done, v_done_status, p_bar_ts);
    END IF;
    RETURN pg_catalog.jsonb_build_object('instrument', p_instrument, 'timeframe', p_timeframe,
                                         'bar_ts', p_bar_ts, 'started', v_started, 'stopped', v_stopped,
                                         'errors', v_errors,
                                         'decisions', pg_catalog.jsonb_strip_nulls(pg_catalog.jsonb_build_object(
                                             'fired', NULLIF(n_fired, 0), 'blocked', NULLIF(n_blocked, 0),
                                             'exit', NULLIF(n_exit, 0), 'no_signal', NULLIF(n_no_signal, 0),
                                             'skipped', NULLIF(n_skipped, 0), 'error', NULLIF(n_error, 0))));
END
$$;
COMMENT ON FUNCTION ex7._dispatch_bar(text, text, timestamptz) IS
'Returns {instrument, timeframe, bar_ts, started, stopped, errors, decisions: {decision: count}}: the dispatcher step for one stored closed bar, called by the ingest functions inside their transaction. For every runtime in starting, running or draining whose strategy trades that instrument and timeframe (users in id order, each under its user row lock): brackets, the graph, exits and an entry through the risk gate (ex7._run_strategy), one audit row per evaluation; starting becomes running, draining becomes stopped, a failure marks only that runtime error. X7404 when the bar is not stored.';
