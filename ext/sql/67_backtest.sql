/* ext/sql/67_backtest.sql: backtests and the Judge, the live-promotion validation (docs/backtests.md).
 * The run is C (ext/backtest.c) on the live path's pieces: the compiled graph (ext/graph.c), the per-bar
 * decision (ext/fills.c, ex7._fill_decide for the dispatcher), ex7.compute_pnl and ex7.risk_decide. */

/* bars a backtest runs inline (in the request's transaction); longer ranges go to a background worker */
CREATE OR REPLACE FUNCTION ex7._backtest_inline_bars()
RETURNS integer
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT 20000 $$;
COMMENT ON FUNCTION ex7._backtest_inline_bars() IS
'Returns 20000: the most bars a backtest runs inline, in the request''s transaction; a longer range runs in a background worker (POST answers at once with status queued). About 0.1 to 0.5 s of work.';

/*
 * The run and the launch name the backtest by its user and id, the key of its rows (per-user tables are
 * keyed and, on Citus, distributed by user_id: docs/scale-out.md). The one-argument forms are kept for
 * tests and benchmarks; they find the user from the id alone, a read without the key (ext/backtest.c).
 */
CREATE OR REPLACE FUNCTION ex7._backtest_exec(p_user uuid, p_id uuid)
RETURNS jsonb
AS 'MODULE_PATHNAME', 'backtest_exec'
LANGUAGE C VOLATILE STRICT;
COMMENT ON FUNCTION ex7._backtest_exec(uuid, uuid) IS
'Returns the summary of p_user''s backtest p_id after running it to the end in the caller''s transaction: status running then done, trades in ex7.backtest_trades, the equity curve in ex7.backtest_equity, the summary and timings in the row. X7404 when it does not exist (or the caller''s row security hides it).';

CREATE OR REPLACE FUNCTION ex7._backtest_exec(p_id uuid)
RETURNS jsonb
AS 'MODULE_PATHNAME', 'backtest_exec'
LANGUAGE C VOLATILE STRICT;
COMMENT ON FUNCTION ex7._backtest_exec(uuid) IS
'Returns ex7._backtest_exec(user, p_id) with the backtest''s user looked up by its id alone (for tests and benchmarks; the extension passes the user). X7404 when it does not exist (or the caller''s row security hides it).';

CREATE OR REPLACE FUNCTION ex7._backtest_launch(p_user uuid, p_id uuid)
RETURNS boolean
AS 'MODULE_PATHNAME', 'backtest_launch'
LANGUAGE C VOLATILE STRICT;
COMMENT ON FUNCTION ex7._backtest_launch(uuid, uuid) IS
'Returns true when a background worker was registered to run p_user''s backtest p_id after the calling transaction commits (committing its progress every 65,536 bars), false when no worker slot is free. Requires EXECUTE on ex7._backtest_launch(uuid) as well (42501 otherwise): starting workers is not a bound role''s.';

CREATE OR REPLACE FUNCTION ex7._backtest_launch(p_id uuid)
RETURNS boolean
AS 'MODULE_PATHNAME', 'backtest_launch'
LANGUAGE C VOLATILE STRICT;
COMMENT ON FUNCTION ex7._backtest_launch(uuid) IS
'Returns ex7._backtest_launch(user, p_id) with the backtest''s user looked up by its id alone (for tests; the extension passes the user): true when a background worker was registered to run backtest p_id after the calling transaction commits, false when no worker slot is free. X7404 when it does not exist.';

/* ---------------------------------------------------------------------------------------------------
 * JSON.
 * ------------------------------------------------------------------------------------------------- */

/*
 * 0.3.0 names the backtest by its user as well (the key of the chunk rows); the id-only forms went (the
 * upgrade script drops them). The readers of per-user tables here are PL/pgSQL, not SQL functions: Citus
 * plans no statement on a distributed table that uses an SQL function's parameters ("could not create
 * distributed plan"), while PL/pgSQL hands it their values (docs/scale-out.md).
 */

CREATE OR REPLACE FUNCTION ex7._backtest_trades_json(p_user uuid, p_id uuid)
RETURNS jsonb
LANGUAGE plpgsql STABLE
AS $$
DECLARE
    v jsonb;
BEGIN
    SELECT coalesce(pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object(
               'seq', t.seq, 'entry_time', t.entry_time, 'exit_time', t.exit_time, 'side', t.side,
               'quantity', t.quantity, 'entry_price', t.entry_price::text, 'exit_price', t.exit_price::text,
               'stop_price', t.stop_price::text, 'target_price', t.target_price::text,
               'exit_reason', t.exit_reason, 'gross_pnl', t.gross_pnl::text,
               'slippage_cost', t.slippage_cost::text, 'commission', t.commission::text,
               'pnl', t.net_pnl::text, 'mae', t.mae::text, 'mfe', t.mfe::text, 'tag', NULL)
               ORDER BY t.seq), '[]')
      INTO v
      FROM ex7.backtest_trades t
     WHERE t.user_id = p_user AND t.backtest_id = p_id;
    RETURN v;
END
$$;
COMMENT ON FUNCTION ex7._backtest_trades_json(uuid, uuid) IS
'Returns the trades of p_user''s backtest p_id in exit order: [{seq, entry_time, exit_time, side, quantity, entry_price, exit_price, stop_price, target_price, exit_reason, gross_pnl, slippage_cost, commission, pnl (net), mae, mfe, tag}], money as decimal strings: the trades ex7.compute_metrics reads.';

CREATE OR REPLACE FUNCTION ex7._backtest_equity_json(p_user uuid, p_id uuid)
RETURNS jsonb
LANGUAGE plpgsql STABLE
AS $$
DECLARE
    v jsonb;
BEGIN
    SELECT coalesce(pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object('ts', e.ts, 'equity', e.equity::text)
                                         ORDER BY e.seq), '[]')
      INTO v
      FROM ex7.backtest_equity e
     WHERE e.user_id = p_user AND e.backtest_id = p_id;
    RETURN v;
END
$$;
COMMENT ON FUNCTION ex7._backtest_equity_json(uuid, uuid) IS
'Returns the equity curve of p_user''s backtest p_id: [{ts, equity}] in time order (every trade close and the last bar of every UTC day), equity as a decimal string.';

/* _backtest_json: the row without trades, equity and metrics (the list's item) */
CREATE OR REPLACE FUNCTION ex7._backtest_json(b ex7.backtests)
RETURNS jsonb
LANGUAGE sql STABLE
AS $$
    SELECT pg_catalog.jsonb_build_object(
        'id', b.id, 'strategy_id', b.strategy_id, 'strategy_version', b.strategy_version,
        'instrument', b.instrument, 'timeframe', b.timeframe, 'from', b.range_from, 'to', b.range_to,
        'params', b.params, 'purpose', b.purpose, 'trades_kept', b.trades_kept, 'status', b.status,
        'progress', pg_catalog.jsonb_build_object(
            'bars_done', b.bars_done, 'bars_total', b.bars_total,
            'percent', CASE WHEN b.status = 'done' THEN 100
                            WHEN coalesce(b.bars_total, 0) = 0 THEN 0
                            ELSE pg_catalog.round(100.0 * b.bars_done / b.bars_total, 1) END),
        'result', b.result, 'error', b.error,
        'created_at', b.created_at, 'started_at', b.started_at, 'finished_at', b.finished_at,
        'duration_ms', pg_catalog.round(EXTRACT(epoch FROM b.finished_at - b.started_at) * 1000, 3),
        'compliance', ex7.compliance_banner());
$$;
COMMENT ON FUNCTION ex7._backtest_json(ex7.backtests) IS
'Returns a backtest without its trades and equity: {id, strategy_id, strategy_version, instrument, timeframe, from, to, params, purpose, trades_kept (false only for a study trial run without storing its trades), status, progress: {bars_done, bars_total, percent}, result, error, created_at, started_at, finished_at, duration_ms, compliance}. compliance is the CFTC Rule 4.41 statement: hypothetical performance.';

CREATE OR REPLACE FUNCTION ex7._backtest_metrics(b ex7.backtests, p_trades jsonb, p_equity jsonb)
RETURNS jsonb
LANGUAGE plpgsql STABLE
AS $$
BEGIN
    IF b.status <> 'done' THEN
        RETURN NULL;
    END IF;
    RETURN ex7.compute_metrics(p_trades, p_equity,
                               pg_catalog.jsonb_build_object('initial_capital', b.params -> 'initial_capital',
                                                             'risk_free_rate', b.params -> 'risk_free_rate'));
END
$$;
COMMENT ON FUNCTION ex7._backtest_metrics(ex7.backtests, jsonb, jsonb) IS
'Returns ex7.compute_metrics of a finished backtest''s trades and equity curve with its initial capital and risk-free rate; NULL while it has not finished.';

/* _own_backtest: the caller's backtest or X7404 (another user's is not found, never a leak) */
CREATE OR REPLACE FUNCTION ex7._own_backtest(p_user uuid, p_id uuid)
RETURNS ex7.backtests
LANGUAGE plpgsql STABLE
AS $$
DECLARE
    b ex7.backtests;
BEGIN
    SELECT * INTO b FROM ex7.backtests x WHERE x.id = p_id AND x.user_id = p_user;
    IF NOT FOUND THEN
        PERFORM ex7._raise(404, 'backtest not found');
    END IF;
    RETURN b;
END
$$;
COMMENT ON FUNCTION ex7._own_backtest(uuid, uuid) IS
'Returns backtest p_id when it is p_user''s; X7404 otherwise.';

/* ---------------------------------------------------------------------------------------------------
 * Running.
 * ------------------------------------------------------------------------------------------------- */

/* _own_strategy: the caller's live (not deleted) strategy or X7404 */
CREATE OR REPLACE FUNCTION ex7._backtest_strategy(p_user uuid, p_id uuid)
RETURNS ex7.strategies
LANGUAGE plpgsql STABLE
AS $$
DECLARE
    s ex7.strategies;
BEGIN
    SELECT * INTO s FROM ex7.strategies x WHERE x.id = p_id AND x.user_id = p_user AND x.deleted_at IS NULL;
    IF NOT FOUND THEN
        PERFORM ex7._raise(404, 'strategy not found');
    END IF;
    RETURN s;
END
$$;
COMMENT ON FUNCTION ex7._backtest_strategy(uuid, uuid) IS
'Returns strategy p_id when it is p_user''s and not deleted; X7404 otherwise.';

/*
 * _backtest_params: the body of POST /api/strategies/{id}/backtest checked, with the defaults filled in:
 * {from, to, version, initial_capital, risk_free_rate, risk_gate, evaluation}. X7422 at ["body", field].
 */
CREATE OR REPLACE FUNCTION ex7._backtest_params(p_body jsonb)
RETURNS jsonb
LANGUAGE plpgsql STABLE
AS $$
DECLARE
    v_key text;
    v_from timestamptz;
    v_to timestamptz;
    v_capital numeric;
    v_rate numeric;
    v_eval text;
BEGIN
    IF p_body IS NULL OR pg_catalog.jsonb_typeof(p_body) <> 'object' THEN
        PERFORM ex7._invalid('["body"]', 'value is not a valid dict', 'type_error.dict');
    END IF;
    PERFORM ex7._refuse_extra(p_body, ARRAY['from', 'to', 'version', 'initial_capital', 'risk_free_rate', 'risk_gate', 'evaluation']);
    FOREACH v_key IN ARRAY ARRAY['from', 'to'] LOOP
        IF p_body -> v_key IS NULL OR p_body -> v_key = 'null' THEN
            PERFORM ex7._invalid(pg_catalog.jsonb_build_array('body', v_key), 'field required', 'value_error.missing');
        END IF;
        IF pg_catalog.jsonb_typeof(p_body -> v_key) <> 'string' THEN
            PERFORM ex7._invalid(pg_catalog.jsonb_build_array('body', v_key), 'invalid datetime format',
                                 'type_error.datetime');
        END IF;
        BEGIN
            IF v_key = 'from' THEN
                v_from := (p_body ->> 'from')::timestamptz;
            ELSE
                v_to := (p_body ->> 'to')::timestamptz;
            END IF;
        EXCEPTION WHEN invalid_datetime_format OR datetime_field_overflow OR invalid_text_representation THEN
            PERFORM ex7._invalid(pg_catalog.jsonb_build_array('body', v_key), 'invalid datetime format',
                                 'value_error.datetime');
        END;
    END LOOP;
    IF NOT pg_catalog.isfinite(v_from) OR NOT pg_catalog.isfinite(v_to) THEN
        PERFORM ex7._invalid('["body","from"]', 'from and to must be finite', 'value_error.datetime');
    END IF;
    IF v_to <= v_from THEN
        PERFORM ex7._invalid('["body","to"]', 'to must be after from', 'value_error.range');
    END IF;
    IF v_to - v_from > interval '3660 days' THEN
        PERFORM ex7._invalid('["body","to"]', 'the range must be at most 3660 days', 'value_error.range');
    END IF;
    IF p_body ? 'version' AND p_body -> 'version' <> 'null'
       AND (pg_catalog.jsonb_typeof(p_body -> 'version') <> 'number'
            OR (p_body ->> 'version')::numeric <> pg_catalog.trunc((p_body ->> 'version')::numeric)
            OR (p_body ->> 'version')::numeric NOT BETWEEN 1 AND 2147483647) THEN
        PERFORM ex7._invalid('["body","version"]', 'version must be a positive integer', 'type_error.integer');
    END IF;
    BEGIN
        v_capital := coalesce(p_body ->> 'initial_capital', '10000.00')::numeric;
    EXCEPTION WHEN invalid_text_representation THEN
        PERFORM ex7._invalid('["body","initial_capital"]', 'value is not a valid decimal', 'type_error.decimal');
    END;
    IF pg_catalog.jsonb_typeof(p_body -> 'initial_capital') NOT IN ('string', 'number', 'null')
       OR v_capital = 'NaN' OR v_capital <= 0 OR v_capital >= 1e12 THEN
        PERFORM ex7._invalid('["body","initial_capital"]', 'initial_capital must be greater than 0 and less than 10^12',
                             'value_error.number.not_gt');
    END IF;
    BEGIN
        v_rate := coalesce(p_body ->> 'risk_free_rate', '0')::numeric;
    EXCEPTION WHEN invalid_text_representation THEN
        PERFORM ex7._invalid('["body","risk_free_rate"]', 'value is not a valid decimal', 'type_error.decimal');
    END;
    IF pg_catalog.jsonb_typeof(p_body -> 'risk_free_rate') NOT IN ('string', 'number', 'null')
       OR v_rate = 'NaN' OR v_rate < 0 OR v_rate > 1 THEN
        PERFORM ex7._invalid('["body","risk_free_rate"]', 'risk_free_rate must be between 0 and 1',
                             'value_error.number.not_le');
    END IF;
    IF p_body ? 'risk_gate' AND pg_catalog.jsonb_typeof(p_body -> 'risk_gate') NOT IN ('boolean', 'null') THEN
        PERFORM ex7._invalid('["body","risk_gate"]', 'value could not be parsed to a boolean', 'type_error.bool');
    END IF;
    v_eval := coalesce(p_body ->> 'evaluation', 'exact');
    IF pg_catalog.jsonb_typeof(p_body -> 'evaluation') NOT IN ('string', 'null') OR v_eval NOT IN ('exact', 'fast') THEN
        PERFORM ex7._invalid('["body","evaluation"]', 'evaluation must be one of: exact, fast', 'type_error.enum');
    END IF;
    RETURN pg_catalog.jsonb_build_object(
        'from', v_from, 'to', v_to, 'version', (p_body ->> 'version')::integer,
        'initial_capital', v_capital::text, 'risk_free_rate', v_rate::text,
        'risk_gate', coalesce((p_body ->> 'risk_gate')::boolean, false), 'evaluation', v_eval);
END
$$;
COMMENT ON FUNCTION ex7._backtest_params(jsonb) IS
'Returns the backtest body {from, to, version?, initial_capital?, risk_free_rate?, risk_gate?, evaluation?} checked and completed (initial_capital 10000.00, risk_free_rate 0, risk_gate false, evaluation exact); X7422 at ["body", field] for a missing or bad field, an unknown field, to <= from or a range over 3660 days.';

/*
 * _backtest_create: the backtest row (queued) of strategy s, version p_version, over (p_from, p_to], with
 * the count of bars in the range for the progress.
 */
CREATE OR REPLACE FUNCTION ex7._backtest_create(s ex7.strategies, p_version integer, p_from timestamptz,
                                                p_to timestamptz, p_params jsonb, p_purpose text)
RETURNS ex7.backtests
LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
    b ex7.backtests;
    v_bars bigint;
BEGIN
    -- counted first: Citus plans no subquery inside INSERT ... VALUES into a distributed table
    SELECT count(*) INTO v_bars FROM ex7.bars x
     WHERE x.instrument = s.instrument AND x.timeframe = s.timeframe AND x.ts > p_from AND x.ts <= p_to;
    INSERT INTO ex7.backtests (user_id, strategy_id, strategy_version, instrument, timeframe, range_from,
                               range_to, params, purpose, bars_total)
    VALUES (s.user_id, s.id, p_version, s.instrument, s.timeframe, p_from, p_to, p_params, p_purpose, v_bars)
    RETURNING * INTO b;
    RETURN b;
END
$$;
COMMENT ON FUNCTION ex7._backtest_create(ex7.strategies, integer, timestamptz, timestamptz, jsonb, text) IS
'Returns a new queued backtest row of strategy s at p_version over the bars of (p_from, p_to], bars_total counted.';

/*
 * A background worker holds a session advisory lock on its backtest for its whole life (ext/backtest.c,
 * backtest_worker_main), from before the launching transaction commits. A worker that stops without
 * finishing (killed, terminated, a server restart) releases it with its process, and leaves the row
 * queued or running. _backtests_reap finds such rows by taking the lock: it is free only when no worker
 * holds it. A queued row is given a minute for its worker to start.
 */
CREATE OR REPLACE FUNCTION ex7._backtest_lock_key(p_id uuid)
RETURNS bigint
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
AS $$
    SELECT ('x' || pg_catalog.substr(pg_catalog.md5('ex7 backtest ' || p_id::text), 1, 16))::bit(64)::bigint;
$$;
COMMENT ON FUNCTION ex7._backtest_lock_key(uuid) IS
'Returns the advisory lock key (bigint) the background worker running backtest p_id holds for its whole life.';

CREATE OR REPLACE FUNCTION ex7._backtests_reap(p_user uuid)
RETURNS integer
LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
    v_id uuid;
    v_status text;
    v_n integer := 0;
    v_now timestamptz;
    v_error text;
BEGIN
    FOR v_id, v_status IN
        SELECT b.id, b.status FROM ex7.backtests b
         WHERE b.user_id = p_user AND b.status IN ('queued', 'running')
           AND (b.status = 'running' OR b.created_at < pg_catalog.now() - interval '1 minute')
    LOOP
        -- free: no worker holds it (held until this transaction ends, so no worker starts on it meanwhile)
        IF pg_catalog.pg_try_advisory_xact_lock_shared(ex7._backtest_lock_key(v_id)) THEN
            -- both read before the UPDATE: Citus refuses a VOLATILE function in an UPDATE of a distributed
            -- table, and sends a CASE over a parameter to the worker in a form it cannot run
            v_now := pg_catalog.clock_timestamp();
            v_error := CASE v_status
                WHEN 'running' THEN 'interrupted: the background worker running it stopped (a server restart, or the process was ended); run the backtest again'
                ELSE 'not started: no background worker took it up; run the backtest again' END;
            UPDATE ex7.backtests b
               SET status = 'failed', finished_at = v_now, error = v_error
             WHERE b.user_id = p_user AND b.id = v_id AND b.status = v_status;
            v_n := v_n + 1;
        END IF;
    END LOOP;
    RETURN v_n;
END
$$;
COMMENT ON FUNCTION ex7._backtests_reap(uuid) IS
'Returns how many of the user''s background backtests were marked failed because no worker runs them any more (running with its worker gone, or queued for over a minute with none): the error says so. Called before they are counted or shown.';

/*
 * backtest_strategy: POST /api/strategies/{id}/backtest. A range of at most ex7._backtest_inline_bars()
 * bars (or p_sync) runs at once in this transaction and comes back done; a longer one is handed to a
 * background worker and comes back queued (GET /api/backtests/{id} follows its progress). At most 2 of a
 * user's backtests may be queued or running at once.
 */
CREATE OR REPLACE FUNCTION ex7.backtest_strategy(p_user uuid, p_strategy_id uuid, p_body jsonb,
                                                 p_sync boolean DEFAULT false)
RETURNS jsonb
LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
    s ex7.strategies;
    v_params jsonb;
    v_version integer;
    b ex7.backtests;
BEGIN
    s := ex7._backtest_strategy(p_user, p_strategy_id);
    v_params := ex7._backtest_params(p_body);
    v_version := coalesce((v_params ->> 'version')::integer, s.current_version);
    IF NOT EXISTS (SELECT 1 FROM ex7.strategy_versions v
                    WHERE v.user_id = s.user_id AND v.strategy_id = s.id AND v.version = v_version) THEN
        PERFORM ex7._raise(404, 'version not found');
    END IF;
    v_params := v_params - 'from' - 'to' - 'version';
    b := ex7._backtest_create(s, v_version, (p_body ->> 'from')::timestamptz, (p_body ->> 'to')::timestamptz,
                              v_params, 'user');
    IF p_sync OR b.bars_total <= ex7._backtest_inline_bars() THEN
        PERFORM ex7._backtest_exec(p_user, b.id);
        RETURN ex7.get_backtest(p_user, b.id);
    END IF;
    -- a role bound to a user runs its backtests in its own session: background workers (server
    -- processes, max_worker_processes) are the HTTP front's to start (99_grants.sql)
    IF NOT pg_catalog.has_function_privilege('ex7._backtest_launch(uuid)', 'EXECUTE') THEN
        PERFORM ex7._backtest_exec(p_user, b.id);
        RETURN ex7.get_backtest(p_user, b.id);
    END IF;
    -- the per-user cap on background runs (each holds a worker process for its whole run); runs whose
    -- worker is gone do not count (they are failed first)
    PERFORM ex7._lock_user(p_user);
    PERFORM ex7._backtests_reap(p_user);
    -- (a study's trials run on the study workers, under their own cap: docs/research.md)
    IF (SELECT count(*) FROM ex7.backtests x
         WHERE x.user_id = p_user AND x.status IN ('queued', 'running') AND x.id <> b.id AND x.purpose <> 'study') >= 2 THEN
        PERFORM ex7._raise(429, 'too many backtests running: wait for one to finish',
                           pg_catalog.jsonb_build_object('code', 'backtests_running', 'limit', 2, 'retry_after', 10));
    END IF;
    IF NOT ex7._backtest_launch(p_user, b.id) THEN
        -- no worker slot free: run it here, as a short one would
        PERFORM ex7._backtest_exec(p_user, b.id);
    END IF;
    RETURN ex7.get_backtest(p_user, b.id);
END
$$;
COMMENT ON FUNCTION ex7.backtest_strategy(uuid, uuid, jsonb, boolean) IS
'Returns the backtest (GET /api/backtests/{id} shape) of the caller''s strategy p_strategy_id over the stored bars of (from, to] with body {from, to, version?, initial_capital?, risk_free_rate?, risk_gate?, evaluation?}: done when the range has at most 20000 bars or p_sync (run in this transaction), else queued for a background worker. X7404 for a strategy (or version) that is missing, deleted or another user''s; X7422 for a bad body; X7429 backtests_running when 2 are already queued or running.';

/* ---------------------------------------------------------------------------------------------------
 * Reading.
 * ------------------------------------------------------------------------------------------------- */

CREATE OR REPLACE FUNCTION ex7.get_backtest(p_user uuid, p_id uuid)
RETURNS jsonb
LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
    b ex7.backtests;
    v_trades jsonb;
    v_equity jsonb;
BEGIN
    b := ex7._own_backtest(p_user, p_id);
    IF b.status IN ('queued', 'running') AND ex7._backtests_reap(p_user) > 0 THEN
        b := ex7._own_backtest(p_user, p_id);   -- its worker is gone: now failed
    END IF;
    v_equity := ex7._backtest_equity_json(b.user_id, b.id);
    IF NOT b.trades_kept THEN
        -- a study trial run without its trades (docs/research.md, "Studies"): no trade list, and no metrics
        -- that would read one; the trial's figures are its study trial's metrics
        RETURN ex7._backtest_json(b) || pg_catalog.jsonb_build_object('trades', NULL, 'equity', v_equity, 'metrics', NULL);
    END IF;
    v_trades := ex7._backtest_trades_json(b.user_id, b.id);
    RETURN ex7._backtest_json(b) || pg_catalog.jsonb_build_object(
        'trades', v_trades, 'equity', v_equity, 'metrics', ex7._backtest_metrics(b, v_trades, v_equity));
END
$$;
COMMENT ON FUNCTION ex7.get_backtest(uuid, uuid) IS
'Returns the caller''s backtest with its trades, equity curve [{ts, equity}] and metrics (ex7.compute_metrics; null until done); trades and metrics are null for a study trial whose trades were not kept (trades_kept false), with the CFTC Rule 4.41 statement under compliance. X7404 when missing or another user''s.';

CREATE OR REPLACE FUNCTION ex7.list_backtests(p_user uuid, p_strategy_id uuid, p_limit integer DEFAULT 50,
                                              p_cursor text DEFAULT NULL)
RETURNS jsonb
LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
    v_limit integer := ex7._check_limit(p_limit);
    -- the position: after (created_at, id) of the previous page's last item; the first page starts above all
    v_ts timestamptz := 'infinity';
    v_id uuid := 'ffffffff-ffff-ffff-ffff-ffffffffffff';
    v_items jsonb;
    v_next text;
    v_n integer;
    v_last record;
BEGIN
    PERFORM ex7._backtest_strategy(p_user, p_strategy_id);
    PERFORM ex7._backtests_reap(p_user);   -- runs whose worker is gone show as failed
    IF p_cursor IS NOT NULL THEN
        SELECT c.ts, c.id::uuid INTO v_ts, v_id FROM ex7.cursor_decode('backtests', p_user, p_cursor) c;
    END IF;
    -- limit + 1 rows: one more than the page says whether there is a next one
    SELECT coalesce(pg_catalog.jsonb_agg(ex7._backtest_json(p.x) ORDER BY p.rn) FILTER (WHERE p.rn <= v_limit), '[]'),
           count(*)
      INTO v_items, v_n
      -- ROW(x.*)::ex7.backtests, not the whole-row x: on Citus a shard's row has the shard table's type
      FROM (SELECT ROW(x.*)::ex7.backtests AS x,
                   pg_catalog.row_number() OVER (ORDER BY x.created_at DESC, x.id DESC) AS rn
              FROM ex7.backtests x
             WHERE x.user_id = p_user AND x.strategy_id = p_strategy_id AND (x.created_at, x.id) < (v_ts, v_id)
               AND x.purpose <> 'study'   -- a study's trials are listed by the study (list_study_trials)
             ORDER BY x.created_at DESC, x.id DESC
             LIMIT v_limit + 1) p;
    IF v_n > v_limit THEN
        SELECT x.created_at, x.id INTO v_last FROM ex7.backtests x
         WHERE x.user_id = p_user AND x.id = ((v_items -> (v_limit - 1)) ->> 'id')::uuid;
        v_next := ex7.cursor_encode('backtests', p_user, v_last.created_at, v_last.id::text);
    END IF;
    RETURN pg_catalog.jsonb_build_object('items', v_items, 'next_cursor', v_next,
                                         'compliance', ex7.compliance_banner());
END
$$;
COMMENT ON FUNCTION ex7.list_backtests(uuid, uuid, integer, text) IS
'Returns {items, next_cursor, compliance}: the backtests of the caller''s strategy, newest first by (created_at, id), without trades and equity; the trials of studies are not listed (GET /api/studies/{id}/trials lists them). X7404 for a strategy that is missing, deleted or another user''s; X7422 for a bad limit (1..200) or cursor.';

CREATE OR REPLACE FUNCTION ex7.backtest_equity_svg(p_user uuid, p_id uuid)
RETURNS text
LANGUAGE plpgsql STABLE
AS $$
DECLARE
    b ex7.backtests := ex7._own_backtest(p_user, p_id);
    v_name text;
BEGIN
    SELECT s.name INTO v_name FROM ex7.strategies s WHERE s.user_id = b.user_id AND s.id = b.strategy_id;
    RETURN ex7.equity_svg(ex7._backtest_equity_json(b.user_id, b.id),
                          pg_catalog.format('%s v%s, %s %s: backtest %s to %s', v_name, b.strategy_version,
                                            b.instrument, b.timeframe,
                                            pg_catalog.to_char(b.range_from AT TIME ZONE 'UTC', 'YYYY-MM-DD'),
                                            pg_catalog.to_char(b.range_to AT TIME ZONE 'UTC', 'YYYY-MM-DD')));
END
$$;
COMMENT ON FUNCTION ex7.backtest_equity_svg(uuid, uuid) IS
'Returns the SVG picture (ex7.equity_svg) of the caller''s backtest''s equity curve and drawdown, titled with the strategy, version, series and range (UTC dates), with the CFTC Rule 4.41 statement under it. X7404 when missing or another user''s.';

/* ---------------------------------------------------------------------------------------------------
 * The Judge: live-promotion validation (ex7-api-reference.txt, Unarchive Strategy: "re-promote
 * explicitly, which re-triggers the live-promotion validation"; docs/backtests.md, "The Judge").
 * Promotion ready -> live runs a backtest of the current version over the policy's window (the
 * window_days before the newest stored bar of the strategy's series) and refuses it with X7409
 * validation_failed when a criterion of ex7.validation_policy is not met.
 * ------------------------------------------------------------------------------------------------- */

CREATE OR REPLACE FUNCTION ex7._validation_policy()
RETURNS ex7.validation_policy
LANGUAGE plpgsql STABLE
AS $$
DECLARE
    p ex7.validation_policy;
BEGIN
    SELECT * INTO p FROM ex7.validation_policy x WHERE x.id;
    IF NOT FOUND THEN
        -- the seeded row was deleted: the column defaults, nothing checked
        p.id := true;
        p.window_days := 90;
    END IF;
    RETURN p;
END
$$;
COMMENT ON FUNCTION ex7._validation_policy() IS
'Returns the Judge''s policy row (window_days and the criteria; NULL criteria are not checked), the defaults when the row is missing.';

CREATE OR REPLACE FUNCTION ex7._validation_policy_json(p ex7.validation_policy)
RETURNS jsonb
LANGUAGE sql STABLE
AS $$
    SELECT pg_catalog.jsonb_build_object(
        'window_days', p.window_days, 'min_trades', p.min_trades, 'max_drawdown', p.max_drawdown::text,
        'min_profit_factor', p.min_profit_factor, 'min_net_pnl', p.min_net_pnl::text,
        'min_win_rate', p.min_win_rate, 'min_deflated_sharpe', p.min_deflated_sharpe,
        'min_walk_forward_efficiency', p.min_walk_forward_efficiency);
$$;
COMMENT ON FUNCTION ex7._validation_policy_json(ex7.validation_policy) IS
'Returns the policy as {window_days, min_trades, max_drawdown, min_profit_factor, min_net_pnl, min_win_rate, min_deflated_sharpe, min_walk_forward_efficiency}: money as decimal strings, ratios as numbers, null for a criterion not checked.';

CREATE OR REPLACE FUNCTION ex7.get_validation_policy()
RETURNS jsonb
LANGUAGE sql STABLE
AS $$
    SELECT ex7._validation_policy_json(ex7._validation_policy());
$$;
COMMENT ON FUNCTION ex7.get_validation_policy() IS
'Returns the Judge''s policy {window_days, min_trades, max_drawdown, min_profit_factor, min_net_pnl, min_win_rate, min_deflated_sharpe, min_walk_forward_efficiency} (null: not checked). The same for every user.';

/*
 * set_validation_policy: the operator's. Every key of p_policy that is present replaces that setting (null
 * switches a criterion off); other keys are refused. Not callable by roles bound to a user (99_grants.sql).
 */
CREATE OR REPLACE FUNCTION ex7.set_validation_policy(p_policy jsonb)
RETURNS jsonb
LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
    p ex7.validation_policy := ex7._validation_policy();
    v_key text;
BEGIN
    IF p_policy IS NULL OR pg_catalog.jsonb_typeof(p_policy) <> 'object' THEN
        PERFORM ex7._invalid('["body"]', 'value is not a valid dict', 'type_error.dict');
    END IF;
    PERFORM ex7._refuse_extra(p_policy, ARRAY['window_days', 'min_trades', 'max_drawdown', 'min_profit_factor',
                                               'min_net_pnl', 'min_win_rate', 'min_deflated_sharpe',
                                               'min_walk_forward_efficiency']);
    FOR v_key IN SELECT k FROM pg_catalog.jsonb_object_keys(p_policy) AS k ORDER BY k LOOP
        IF v_key <> 'window_days' AND pg_catalog.jsonb_typeof(p_policy -> v_key) NOT IN ('number', 'string', 'null')
           OR v_key = 'window_days' AND pg_catalog.jsonb_typeof(p_policy -> v_key) <> 'number' THEN
            PERFORM ex7._invalid(pg_catalog.jsonb_build_array('body', v_key), 'value is not a valid number',
                                 'type_error.number');
        END IF;
    END LOOP;
    BEGIN
        IF p_policy ? 'window_days' THEN p.window_days := (p_policy ->> 'window_days')::integer; END IF;
        IF p_policy ? 'min_trades' THEN p.min_trades := (p_policy ->> 'min_trades')::integer; END IF;
        IF p_policy ? 'max_drawdown' THEN p.max_drawdown := (p_policy ->> 'max_drawdown')::numeric; END IF;
        IF p_policy ? 'min_profit_factor' THEN p.min_profit_factor := (p_policy ->> 'min_profit_factor')::numeric; END IF;
        IF p_policy ? 'min_net_pnl' THEN p.min_net_pnl := (p_policy ->> 'min_net_pnl')::numeric; END IF;
        IF p_policy ? 'min_win_rate' THEN p.min_win_rate := (p_policy ->> 'min_win_rate')::numeric; END IF;
        IF p_policy ? 'min_deflated_sharpe' THEN
            p.min_deflated_sharpe := (p_policy ->> 'min_deflated_sharpe')::numeric;
        END IF;
        IF p_policy ? 'min_walk_forward_efficiency' THEN
            p.min_walk_forward_efficiency := (p_policy ->> 'min_walk_forward_efficiency')::numeric;
        END IF;
        INSERT INTO ex7.validation_policy AS x (id, window_days, min_trades, max_drawdown, min_profit_factor,
                                                min_net_pnl, min_win_rate, updated_at, min_deflated_sharpe,
                                                min_walk_forward_efficiency)
        VALUES (true, p.window_days, p.min_trades, p.max_drawdown, p.min_profit_factor, p.min_net_pnl,
                p.min_win_rate, pg_catalog.now(), p.min_deflated_sharpe, p.min_walk_forward_efficiency)
        ON CONFLICT (id) DO UPDATE
           SET window_days = excluded.window_days, min_trades = excluded.min_trades,
               max_drawdown = excluded.max_drawdown, min_profit_factor = excluded.min_profit_factor,
               min_net_pnl = excluded.min_net_pnl, min_win_rate = excluded.min_win_rate,
               min_deflated_sharpe = excluded.min_deflated_sharpe,
               min_walk_forward_efficiency = excluded.min_walk_forward_efficiency,
               updated_at = excluded.updated_at;
    EXCEPTION WHEN invalid_text_representation OR numeric_value_out_of_range OR check_violation THEN
        PERFORM ex7._invalid('["body"]', 'invalid policy: ' || SQLERRM, 'value_error');
    END;
    RETURN ex7.get_validation_policy();
END
$$;
COMMENT ON FUNCTION ex7.set_validation_policy(jsonb) IS
'Returns the Judge''s policy after setting the keys of p_policy (window_days 1..3660, min_trades >= 0, max_drawdown >= 0, min_profit_factor >= 0, min_net_pnl, min_win_rate 0..1, min_deflated_sharpe 0..1, min_walk_forward_efficiency; null switches a criterion off). The operator''s: not granted to user roles. X7422 for an unknown key or a bad value.';

/* _validation_json: a stored verdict */
-- PL/pgSQL: it reads the verdict's backtest with the row's values (see the JSON readers above)
CREATE OR REPLACE FUNCTION ex7._validation_json(v ex7.strategy_validations)
RETURNS jsonb
LANGUAGE plpgsql STABLE
AS $$
DECLARE
    w jsonb;
BEGIN
    SELECT pg_catalog.jsonb_build_object('from', b.range_from, 'to', b.range_to, 'bars', b.bars_total)
      INTO w
      FROM ex7.backtests b WHERE b.user_id = v.user_id AND b.id = v.backtest_id;
    RETURN pg_catalog.jsonb_build_object(
        'id', v.id, 'strategy_id', v.strategy_id, 'strategy_version', v.strategy_version,
        'backtest_id', v.backtest_id, 'passed', v.passed, 'trigger', v.trigger,
        'window', w,
        'criteria', v.criteria, 'observed', v.observed, 'failed', v.failed, 'validated_at', v.created_at,
        'compliance', ex7.compliance_banner());
END
$$;
COMMENT ON FUNCTION ex7._validation_json(ex7.strategy_validations) IS
'Returns a verdict of the Judge: {id, strategy_id, strategy_version, backtest_id, passed, trigger, window: {from, to, bars}, criteria, observed, failed: [{criterion, observed, required}], validated_at, compliance}.';

/*
 * _judge_research: what the Judge observes beyond the backtest's summary (docs/research.md). The deflated
 * Sharpe ratio (Bailey and Lopez de Prado, 2014) of the validation backtest's daily returns
 * (ex7._backtest_daily_returns: UTC weekdays of the window), deflated by the trials of the study whose
 * parameters made the current version (its newest apply): the parameters were picked as the best of that
 * many, so the Sharpe they show must clear the best of that many tries of luck. A version that did not come
 * from a study counts as one trial, which leaves the probabilistic Sharpe ratio against 0. And the
 * walk-forward efficiency of the strategy's newest finished walk-forward study (any version: it judges the
 * way the parameters are chosen, not one set of them).
 */
CREATE OR REPLACE FUNCTION ex7._judge_research(s ex7.strategies, p_backtest uuid)
RETURNS jsonb
LANGUAGE plpgsql STABLE
AS $$
DECLARE
    m record;
    v_trials integer := 1;
    v_var float8 := 0;
    v_study uuid;
    v_dsr float8;
    w record;
BEGIN
    SELECT y.id, (y.result #>> '{deflated_sharpe,trials}')::integer AS trials,
           (y.result #>> '{deflated_sharpe,trials_sharpe_variance}')::float8 AS var
      INTO w
      FROM ex7.studies y
     WHERE y.user_id = s.user_id AND y.strategy_id = s.id AND y.applied_version = s.current_version
     ORDER BY y.finished_at DESC NULLS LAST, y.id
     LIMIT 1;
    IF FOUND THEN
        v_study := w.id;
        v_trials := greatest(coalesce(w.trials, 1), 1);
        v_var := coalesce(w.var, 0);
    END IF;
    SELECT (ex7.return_moments(ex7._backtest_daily_returns(s.user_id, p_backtest))).* INTO m;
    IF m.observations >= 2 AND m.sd > 0 THEN
        v_dsr := ex7.deflated_sharpe(m.sharpe, m.observations, m.skewness, m.kurtosis, v_trials, v_var);
    END IF;
    SELECT y.id, (y.result ->> 'efficiency')::numeric AS efficiency
      INTO w
      FROM ex7.studies y
     WHERE y.user_id = s.user_id AND y.strategy_id = s.id AND y.kind = 'walk_forward' AND y.status = 'done'
     ORDER BY y.finished_at DESC, y.id
     LIMIT 1;
    RETURN pg_catalog.jsonb_build_object(
        'deflated_sharpe', pg_catalog.round(v_dsr::numeric, 4),
        'sharpe_per_day', pg_catalog.round(m.sharpe::numeric, 4),
        'days', m.observations,
        'trials', v_trials, 'trials_study_id', v_study,
        'walk_forward_efficiency', w.efficiency, 'walk_forward_study_id', w.id);
END
$$;
COMMENT ON FUNCTION ex7._judge_research(ex7.strategies, uuid) IS
'Returns {deflated_sharpe (4 decimals; null with fewer than 2 daily returns or none varying), sharpe_per_day, days, trials, trials_study_id (the study whose apply made the current version, or null: 1 trial), walk_forward_efficiency, walk_forward_study_id (the strategy''s newest finished walk-forward study, or null)} for strategy s and its validation backtest p_backtest (docs/research.md).';

/*
 * _judge: validates strategy s's current version: a backtest (purpose validation, fast evaluation, run inline) over the
 * policy's window_days before the newest stored bar of its series (before now() when there is none), then
 * every criterion that is set. Observed values come from the backtest's summary: trades, max_drawdown
 * (peak to trough of the equity curve, money), profit_factor (gross profit / gross loss of net P&L; no
 * losing trade: null, which meets any minimum when something was won), net_pnl, win_rate (wins / trades);
 * the deflated Sharpe ratio and the walk-forward efficiency from ex7._judge_research.
 * Stores and returns the verdict.
 */
CREATE OR REPLACE FUNCTION ex7._judge(s ex7.strategies, p_trigger text)
RETURNS jsonb
LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
    p ex7.validation_policy := ex7._validation_policy();
    v_to timestamptz;
    b ex7.backtests;
    r jsonb;
    v_trades bigint;
    v_dd numeric;
    v_gp numeric;
    v_gl numeric;
    v_net numeric;
    v_pf numeric;
    v_wr numeric;
    v_failed jsonb := '[]';
    v_research jsonb;
    v ex7.strategy_validations;
BEGIN
    SELECT max(x.ts) INTO v_to FROM ex7.bars x WHERE x.instrument = s.instrument AND x.timeframe = s.timeframe;
    v_to := coalesce(v_to, pg_catalog.now());
    -- fast evaluation: the promotion request waits for this run, whose cost must not grow with the lookback
    -- (a day-anchored node on 1-minute bars would make exact evaluation 1,440 graph bars per bar)
    b := ex7._backtest_create(s, s.current_version, v_to - p.window_days * interval '1 day', v_to,
                              '{"initial_capital": "10000.00", "risk_free_rate": "0", "risk_gate": false,
                                "evaluation": "fast"}', 'validation');
    r := ex7._backtest_exec(b.user_id, b.id);
    v_trades := (r ->> 'trades')::bigint;
    v_dd := (r ->> 'max_drawdown')::numeric;
    v_gp := (r ->> 'gross_profit')::numeric;
    v_gl := -(r ->> 'gross_loss')::numeric;
    v_net := (r ->> 'net_pnl')::numeric;
    v_pf := CASE WHEN v_gl > 0 THEN pg_catalog.round(v_gp / v_gl, 4) END;
    v_wr := CASE WHEN v_trades > 0 THEN pg_catalog.round((r ->> 'wins')::numeric / v_trades, 4) END;
    v_research := ex7._judge_research(s, b.id);

    IF p.min_trades IS NOT NULL AND v_trades < p.min_trades THEN
        v_failed := v_failed || pg_catalog.jsonb_build_object('criterion', 'min_trades', 'observed', v_trades,
                                                              'required', p.min_trades);
    END IF;
    IF p.max_drawdown IS NOT NULL AND v_dd > p.max_drawdown THEN
        v_failed := v_failed || pg_catalog.jsonb_build_object('criterion', 'max_drawdown', 'observed', v_dd::text,
                                                              'required', p.max_drawdown::text);
    END IF;
    IF p.min_profit_factor IS NOT NULL
       AND (CASE WHEN v_pf IS NULL THEN v_gp <= 0 ELSE v_pf < p.min_profit_factor END) THEN
        v_failed := v_failed || pg_catalog.jsonb_build_object('criterion', 'min_profit_factor', 'observed', v_pf,
                                                              'required', p.min_profit_factor);
    END IF;
    IF p.min_net_pnl IS NOT NULL AND v_net < p.min_net_pnl THEN
        v_failed := v_failed || pg_catalog.jsonb_build_object('criterion', 'min_net_pnl', 'observed', v_net::text,
                                                              'required', p.min_net_pnl::text);
    END IF;
    IF p.min_win_rate IS NOT NULL AND coalesce(v_wr < p.min_win_rate, true) THEN
        v_failed := v_failed || pg_catalog.jsonb_build_object('criterion', 'min_win_rate', 'observed', v_wr,
                                                              'required', p.min_win_rate);
    END IF;
    IF p.min_deflated_sharpe IS NOT NULL
       AND coalesce((v_research ->> 'deflated_sharpe')::numeric < p.min_deflated_sharpe, true) THEN
        v_failed := v_failed || pg_catalog.jsonb_build_object('criterion', 'min_deflated_sharpe',
                                                              'observed', v_research -> 'deflated_sharpe',
                                                              'required', p.min_deflated_sharpe);
    END IF;
    IF p.min_walk_forward_efficiency IS NOT NULL
       AND coalesce((v_research ->> 'walk_forward_efficiency')::numeric < p.min_walk_forward_efficiency, true) THEN
        v_failed := v_failed || pg_catalog.jsonb_build_object('criterion', 'min_walk_forward_efficiency',
                                                              'observed', v_research -> 'walk_forward_efficiency',
                                                              'required', p.min_walk_forward_efficiency);
    END IF;

    INSERT INTO ex7.strategy_validations (user_id, strategy_id, strategy_version, backtest_id, passed, criteria,
                                          observed, failed, trigger)
    VALUES (s.user_id, s.id, s.current_version, b.id, pg_catalog.jsonb_array_length(v_failed) = 0,
            ex7._validation_policy_json(p),
            pg_catalog.jsonb_build_object('trades', v_trades, 'max_drawdown', v_dd::text, 'profit_factor', v_pf,
                                          'net_pnl', v_net::text, 'win_rate', v_wr, 'bars', (r ->> 'bars')::bigint)
            || v_research,
            v_failed, p_trigger)
    RETURNING * INTO v;
    RETURN ex7._validation_json(v);
END
$$;
COMMENT ON FUNCTION ex7._judge(ex7.strategies, text) IS
'Returns the verdict of the Judge on strategy s''s current version (stored in ex7.strategy_validations): a backtest over the policy''s window before the newest stored bar of its series, its observed trades, max_drawdown, profit_factor, net_pnl and win_rate, the research observations of ex7._judge_research (deflated_sharpe, walk_forward_efficiency ...), and every criterion of ex7.validation_policy it fails as {criterion, observed, required}.';

/* _judge_promotion: the hook of ex7._transition for ready -> live: the verdict, or X7409 validation_failed */
CREATE OR REPLACE FUNCTION ex7._judge_promotion(s ex7.strategies)
RETURNS jsonb
LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
    v jsonb := ex7._judge(s, 'promotion');
BEGIN
    IF NOT (v ->> 'passed')::boolean THEN
        PERFORM ex7._raise(409, 'promotion to live refused: the strategy failed validation',
                           pg_catalog.jsonb_build_object('code', 'validation_failed', 'failed', v -> 'failed',
                                                         'validation', v - 'compliance'));
    END IF;
    RETURN v;
END
$$;
COMMENT ON FUNCTION ex7._judge_promotion(ex7.strategies) IS
'Returns the passing verdict of the Judge on strategy s (ready -> live); raises X7409 with detail {code: validation_failed, failed: [{criterion, observed, required}], validation} when a criterion fails (the refusal rolls the verdict back with the promotion: POST /api/strategies/{id}/validation keeps one).';

CREATE OR REPLACE FUNCTION ex7.validate_strategy(p_user uuid, p_id uuid)
RETURNS jsonb
LANGUAGE plpgsql VOLATILE
AS $$
BEGIN
    RETURN ex7._judge(ex7._backtest_strategy(p_user, p_id), 'request');
END
$$;
COMMENT ON FUNCTION ex7.validate_strategy(uuid, uuid) IS
'Returns the Judge''s verdict on the caller''s strategy now (POST /api/strategies/{id}/validation), stored whether it passes or not; the strategy''s status does not change. X7404 when missing, deleted or another user''s.';

CREATE OR REPLACE FUNCTION ex7.get_validation(p_user uuid, p_id uuid)
RETURNS jsonb
LANGUAGE plpgsql STABLE
AS $$
DECLARE
    s ex7.strategies := ex7._backtest_strategy(p_user, p_id);
    v ex7.strategy_validations;
BEGIN
    SELECT * INTO v FROM ex7.strategy_validations x
     WHERE x.user_id = p_user AND x.strategy_id = s.id
     ORDER BY x.created_at DESC, x.id DESC LIMIT 1;
    RETURN pg_catalog.jsonb_build_object(
        'strategy_id', s.id, 'current_version', s.current_version,
        'policy', ex7.get_validation_policy(),
        'latest', CASE WHEN v.id IS NOT NULL THEN ex7._validation_json(v) END,
        'compliance', ex7.compliance_banner());
END
$$;
COMMENT ON FUNCTION ex7.get_validation(uuid, uuid) IS
'Returns {strategy_id, current_version, policy, latest, compliance}: the Judge''s policy and its latest stored verdict on the caller''s strategy (null when none: a verdict is stored by a promotion that passed and by POST /api/strategies/{id}/validation). X7404 when missing, deleted or another user''s.';
