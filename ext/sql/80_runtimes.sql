/* ext/sql/80_runtimes.sql: the runtimes API (contract section "Signals": List Runtimes, Start Runtime,
 * Stop Runtime, Signals Health Me). A runtime is the worker state of one (strategy, mode): starting,
 * running, draining, stopped or error. These functions record what the user asks for; the dispatcher
 * moves starting -> running and draining -> stopped (and so does the close of a draining runtime's last
 * open signal, below). docs/runtimes.md describes the JSON.
 */

CREATE OR REPLACE FUNCTION ex7._runtime_json(p_r ex7.strategy_runtimes, p_strategy_name text)
RETURNS jsonb
LANGUAGE sql STABLE PARALLEL SAFE
AS $$
    SELECT pg_catalog.jsonb_build_object(
        'id', p_r.id,
        'strategy_id', p_r.strategy_id,
        'strategy_name', p_strategy_name,
        'mode', p_r.mode,
        'status', p_r.status,
        'started_at', p_r.started_at,
        'stopped_at', p_r.stopped_at,
        'last_bar_ts', p_r.last_bar_ts,
        'error', p_r.error,
        'updated_at', p_r.updated_at);
$$;
COMMENT ON FUNCTION ex7._runtime_json(ex7.strategy_runtimes, text) IS
'Returns the API JSON of a runtime: id, strategy_id, strategy_name, mode, status, started_at, stopped_at, last_bar_ts, error, updated_at.';

CREATE OR REPLACE FUNCTION ex7._check_mode(p_mode text)
RETURNS text
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
AS $$
BEGIN
    -- the values of the ex7.trade_mode domain (ext/sql/10_schema.sql)
    IF p_mode IS NULL OR p_mode NOT IN ('paper', 'live') THEN
        PERFORM ex7._invalid('["body","mode"]', 'value is not a valid enumeration member; permitted: paper, live',
                             'type_error.enum');
    END IF;
    RETURN p_mode;
END
$$;
COMMENT ON FUNCTION ex7._check_mode(text) IS
'Returns p_mode when it is paper or live; raises X7422 ["body","mode"] otherwise.';

/*
 * Draining. Stop Runtime: "Graceful drain: flip 'running' to 'draining' and let the dispatcher finish the
 * current bar before it settles on 'stopped'." What a draining runtime finishes is its open signals
 * (ex7._fill_decide still applies their brackets and exits on that bar, and takes no entry). A runtime
 * with no open signal of its (strategy, mode) has nothing to finish: it stops at once instead of waiting
 * for a bar that, over a weekend or with a stopped feed, may not come for days (docs/runtimes.md,
 * "Stop Runtime"). And a draining runtime whose last open signal is closed by the user (close_signal,
 * force_close_all, delete_strategy) stops in that same transaction (ex7._settle_drained). The
 * dispatcher still settles the others after their bar, and the job runtimes_settle (86_jobs.sql) those
 * whose market sends no bar. Every caller holds the user row lock (ex7._lock_user), the lock the
 * signal writers take first, so no signal opens or closes between the check and the update.
 *
 * _runtime_open_signals: whether the runtime's (strategy, mode) of user p_user has an open signal
 * (signals_strategy_open_idx).
 *
 * The statements that change runtimes compute this first and pass the answer in, or ask it with an EXISTS
 * of their own, rather than call the function inside an UPDATE: on Citus a statement on a user's shard must
 * not call a function that queries, and an UPDATE must not call a STABLE function with a column argument
 * (docs/scale-out.md).
 */
CREATE OR REPLACE FUNCTION ex7._runtime_open_signals(p_user uuid, p_strategy_id uuid, p_mode text)
RETURNS boolean
LANGUAGE plpgsql STABLE
AS $$
-- PL/pgSQL: Citus plans no statement on a distributed table with the parameters of a SQL function
-- (docs/scale-out.md)
BEGIN
    RETURN EXISTS (SELECT 1 FROM ex7.signals x
                    WHERE x.user_id = p_user AND x.strategy_id = p_strategy_id AND x.mode = p_mode
                      AND x.status = 'open');
END
$$;
COMMENT ON FUNCTION ex7._runtime_open_signals(uuid, uuid, text) IS
'Returns true when user p_user''s strategy has an open signal in p_mode: what a draining runtime of (strategy, mode) still has to finish.';

CREATE OR REPLACE FUNCTION ex7._settle_drained(p_user uuid, p_strategy_id uuid, p_mode text)
RETURNS integer
LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
    v_now timestamptz := pg_catalog.now();
    v_n integer;
BEGIN
    UPDATE ex7.strategy_runtimes r
       SET status = 'stopped', stopped_at = v_now, updated_at = v_now
     WHERE r.user_id = p_user AND r.strategy_id = p_strategy_id AND (p_mode IS NULL OR r.mode = p_mode)
       AND r.status = 'draining'
       AND NOT EXISTS (SELECT 1 FROM ex7.signals x
                        WHERE x.user_id = r.user_id AND x.strategy_id = r.strategy_id AND x.mode = r.mode
                          AND x.status = 'open');
    GET DIAGNOSTICS v_n = ROW_COUNT;
    RETURN v_n;
END
$$;
COMMENT ON FUNCTION ex7._settle_drained(uuid, uuid, text) IS
'Returns how many draining runtimes of user p_user''s strategy (in p_mode, or any mode when NULL) it stopped because no open signal of theirs is left. The caller holds the user row lock.';

/*
 * _stop_runtimes: what happens to a strategy's runtimes when the strategy goes away. Called with the
 * user row and then the strategy row locked (ex7.delete_strategy, ex7._transition).
 *   p_drain (archive, a "soft-stop"): running -> draining, as Stop Runtime does, or stopped when it has
 *     no open signal to finish; starting -> stopped (it never ran a bar, there is nothing to drain);
 *     draining, stopped and error stay.
 *   not p_drain (delete): starting, running and draining -> stopped at once; stopped and error stay
 *     (error keeps its message for the user to read).
 */
CREATE OR REPLACE FUNCTION ex7._stop_runtimes(p_user uuid, p_strategy_id uuid, p_drain boolean)
RETURNS integer
LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
    v_now timestamptz := pg_catalog.now();
    v_n integer;
BEGIN
    WITH d AS (
        SELECT r.id,
               p_drain AND r.status = 'running'
               AND EXISTS (SELECT 1 FROM ex7.signals x
                            WHERE x.user_id = r.user_id AND x.strategy_id = r.strategy_id AND x.mode = r.mode
                              AND x.status = 'open') AS drains
          FROM ex7.strategy_runtimes r
         WHERE r.user_id = p_user AND r.strategy_id = p_strategy_id
           AND r.status IN ('starting', 'running', 'draining')
           AND NOT (p_drain AND r.status = 'draining'))
    UPDATE ex7.strategy_runtimes r
       SET status = CASE WHEN d.drains THEN 'draining' ELSE 'stopped' END,
           stopped_at = CASE WHEN d.drains THEN r.stopped_at ELSE v_now END,
           updated_at = v_now
      FROM d
     WHERE r.user_id = p_user AND r.id = d.id;
    GET DIAGNOSTICS v_n = ROW_COUNT;
    RETURN v_n;
END
$$;
COMMENT ON FUNCTION ex7._stop_runtimes(uuid, uuid, boolean) IS
'Returns how many runtimes of user p_user''s strategy changed: with p_drain running ones drain (or stop when they have no open signal) and starting ones stop; without, every active one stops at once.';

/*
 * list_runtimes: List Runtimes: "Return every (strategy, mode) runtime row owned by the caller. Ordered so
 * the most recently started worker bubbles up; never-started rows (started_at IS NULL) sink to the
 * bottom with NULLS LAST." Every row means every: those of soft-deleted strategies too (they are
 * stopped). Ties break on id, the order of strategy_runtimes_user_started_idx.
 */
CREATE OR REPLACE FUNCTION ex7.list_runtimes(p_user uuid)
RETURNS jsonb
LANGUAGE plpgsql STABLE
AS $$
-- PL/pgSQL: Citus plans no statement on a distributed table with the parameters of a SQL function; and
-- ROW(r.*)::ex7.strategy_runtimes, not the whole-row r: on Citus a shard's row has the shard table's type,
-- which _runtime_json does not take (docs/scale-out.md)
BEGIN
    RETURN (
    SELECT pg_catalog.jsonb_build_object('items', coalesce(
        pg_catalog.jsonb_agg(ex7._runtime_json(ROW(r.*)::ex7.strategy_runtimes, s.name)
                             ORDER BY r.started_at DESC NULLS LAST, r.id), '[]'))
      FROM ex7.strategy_runtimes r
      JOIN ex7.strategies s ON s.user_id = r.user_id AND s.id = r.strategy_id
     WHERE r.user_id = p_user);
END
$$;
COMMENT ON FUNCTION ex7.list_runtimes(uuid) IS
'Returns {items}: every runtime of the user, most recently started first, never-started ones last.';

/*
 * start_runtime: Start Runtime. "Gates (in order):
 *   1. Strategy exists and is not soft-deleted -> 404 otherwise.
 *   2. Strategy belongs to caller -> 403 otherwise (NOT 404, to avoid timing-based strategy id
 *      enumeration).
 *   3. Strategy status is one of ('ready','live','paused') -> 409 with code strategy_not_startable
 *      otherwise.
 *   4. body.mode == 'live' -> 403 live_mode_disabled_v1 (§6). v1 blocks all live starts regardless of
 *      tier until the live gate ships.
 *   5. UPSERT into strategy_runtimes. The ON CONFLICT clause preserves an already-active row's status.
 *      If the returned status is still 'running' / 'draining' we raise 409 ... Idempotent: a caller that
 *      POSTs /start while the row is already 'starting' gets a clean 200 status='starting'."
 * A mode that is neither paper nor live is a 422 before any gate (body validation comes first).
 * The strategy row is read FOR SHARE: a concurrent archive or delete (FOR UPDATE) waits for this start
 * to commit and then stops the runtime it created, or this start sees the new status.
 */
CREATE OR REPLACE FUNCTION ex7.start_runtime(p_user uuid, p_strategy_id uuid, p_mode text DEFAULT 'paper')
RETURNS jsonb
LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
    v   ex7.strategies;
    r   ex7.strategy_runtimes;
    v_now timestamptz := pg_catalog.now();
BEGIN
    PERFORM ex7._require_compliance(p_user);    -- 412 until ToS, risk and privacy are accepted (docs/billing.md)
    PERFORM ex7._check_mode(p_mode);
    PERFORM ex7._ensure_user(p_user);
    PERFORM ex7._lock_user(p_user);             -- the running-runtimes cap below counts under it (user row first)

    -- the caller's own row, locked; only when the caller has none, a lookup by id alone (every shard on
    -- Citus, docs/scale-out.md) tells gate 2 from gate 1, on that refusal path only
    SELECT * INTO v FROM ex7.strategies s WHERE s.user_id = p_user AND s.id = p_strategy_id FOR SHARE;
    IF NOT FOUND THEN
        PERFORM 1 FROM ex7.strategies s WHERE s.id = p_strategy_id AND s.deleted_at IS NULL;
        IF FOUND THEN                                                                       -- gate 2
            PERFORM ex7._raise(403, 'strategy belongs to another user',
                               pg_catalog.jsonb_build_object('code', 'not_owner'));
        END IF;
    END IF;
    IF v.id IS NULL OR v.deleted_at IS NOT NULL THEN                                        -- gate 1
        PERFORM ex7._raise(404, 'strategy not found');
    END IF;
    IF v.status NOT IN ('ready', 'live', 'paused') THEN                                     -- gate 3
        PERFORM ex7._raise(409, pg_catalog.format('a strategy in status %s cannot be started', v.status),
                           pg_catalog.jsonb_build_object('code', 'strategy_not_startable', 'status', v.status));
    END IF;
    IF p_mode = 'live' THEN                                                                 -- gate 4
        PERFORM ex7._raise(403, 'live mode is disabled in v1',
                           pg_catalog.jsonb_build_object('code', 'live_mode_disabled_v1'));
    END IF;
    PERFORM ex7._check_runtime_cap(p_user, v.id, p_mode);                                 -- tier cap (docs/billing.md)

    -- v_now, not now(), in DO UPDATE SET: Citus requires IMMUTABLE functions there (docs/scale-out.md)
    INSERT INTO ex7.strategy_runtimes AS x (strategy_id, user_id, mode, status, started_at)        -- gate 5
    VALUES (v.id, v.user_id, p_mode, 'starting', v_now)
    ON CONFLICT (user_id, strategy_id, mode) DO UPDATE
       SET status = CASE WHEN x.status IN ('stopped', 'error') THEN 'starting' ELSE x.status END,
           started_at = CASE WHEN x.status IN ('stopped', 'error') THEN v_now ELSE x.started_at END,
           stopped_at = CASE WHEN x.status IN ('stopped', 'error') THEN NULL ELSE x.stopped_at END,
           error = CASE WHEN x.status IN ('stopped', 'error') THEN NULL ELSE x.error END,
           updated_at = CASE WHEN x.status IN ('stopped', 'error') THEN v_now ELSE x.updated_at END
    RETURNING * INTO r;

    IF r.status IN ('running', 'draining') THEN
        -- "so the client sees the current state instead of a silent no-op"; raising also undoes the
        -- no-op update of the upsert
        PERFORM ex7._raise(409, pg_catalog.format('runtime is already %s', r.status),
                           pg_catalog.jsonb_build_object('code', 'runtime_active', 'runtime',
                                                         ex7._runtime_json(r, v.name)));
    END IF;
    RETURN ex7._runtime_json(r, v.name);
END
$$;
COMMENT ON FUNCTION ex7.start_runtime(uuid, uuid, text) IS
'Returns the runtime (status starting) of the strategy in p_mode, creating or restarting it; idempotent while starting. Gates in order: X7404 missing or deleted, X7403 another user''s, X7409 strategy_not_startable (not ready/live/paused), X7403 live_mode_disabled_v1, X7409 runtime_active (running or draining, with the row). X7422 for a mode other than paper or live.';

/*
 * stop_runtime: Stop Runtime: "Row in 'running' -> flipped to 'draining' ... Row already 'stopped' /
 * 'error' / 'draining' / 'starting' -> return the current status unchanged (200). Stop is idempotent
 * and side-effect-free for non-running states. No such row -> 404. We do NOT check the strategies table
 * here: ownership is already enforced by the user_id predicate on the UPDATE."
 * Where ex7 differs: a running runtime with no open signal has nothing to drain and becomes stopped at
 * once (above, "Draining"). The user row is locked first (if the user exists: a stranger's stop is a 404
 * either way), the lock order of every signal writer, so no signal opens between the check and the update.
 */
CREATE OR REPLACE FUNCTION ex7.stop_runtime(p_user uuid, p_strategy_id uuid, p_mode text DEFAULT 'paper')
RETURNS jsonb
LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
    r ex7.strategy_runtimes;
    v_now timestamptz := pg_catalog.now();
    v_open boolean;
BEGIN
    PERFORM ex7._check_mode(p_mode);
    PERFORM ex7._lock_existing_user(p_user);
    -- asked before the UPDATE, which then holds no query and no now() in a CASE (80_runtimes.sql, above)
    v_open := ex7._runtime_open_signals(p_user, p_strategy_id, p_mode);
    UPDATE ex7.strategy_runtimes x
       SET status = CASE WHEN v_open THEN 'draining' ELSE 'stopped' END,
           stopped_at = CASE WHEN v_open THEN x.stopped_at ELSE v_now END,
           updated_at = v_now
     WHERE x.user_id = p_user AND x.strategy_id = p_strategy_id AND x.mode = p_mode AND x.status = 'running'
    RETURNING * INTO r;
    IF NOT FOUND THEN
        SELECT * INTO r FROM ex7.strategy_runtimes x
         WHERE x.strategy_id = p_strategy_id AND x.mode = p_mode AND x.user_id = p_user;
        IF NOT FOUND THEN
            PERFORM ex7._raise(404, 'runtime not found');
        END IF;
    END IF;
    RETURN ex7._runtime_json(r, (SELECT s.name FROM ex7.strategies s
                                  WHERE s.user_id = r.user_id AND s.id = r.strategy_id));
END
$$;
COMMENT ON FUNCTION ex7.stop_runtime(uuid, uuid, text) IS
'Returns the runtime after a stop request: running becomes draining when it has open signals to finish (the dispatcher then settles it on stopped after a bar, a close of its last open signal at once) and stopped at once when it has none; any other status is returned unchanged. X7404 when the user has no runtime for (strategy, mode).';

/*
 * signals_health_me: Signals Health Me: "Per-user runtime rows - the data behind 'my strategies are
 * running'. Returns {"items": [...]} where each item mirrors strategy_runtimes fields the UI needs.
 * Scoped to user_id via the strategies join". Items are those of list_runtimes plus the strategy's
 * status, instrument and timeframe; runtimes of soft-deleted strategies are left out (they are no longer
 * the user's strategies). Same order as list_runtimes.
 */
CREATE OR REPLACE FUNCTION ex7.signals_health_me(p_user uuid)
RETURNS jsonb
LANGUAGE plpgsql STABLE
AS $$
-- PL/pgSQL and ROW(r.*): as list_runtimes
BEGIN
    RETURN (
    SELECT pg_catalog.jsonb_build_object('items', coalesce(
        pg_catalog.jsonb_agg(ex7._runtime_json(ROW(r.*)::ex7.strategy_runtimes, s.name)
                             || pg_catalog.jsonb_build_object('strategy_status', s.status,
                                                              'instrument', s.instrument,
                                                              'timeframe', s.timeframe)
                             ORDER BY r.started_at DESC NULLS LAST, r.id), '[]'))
      FROM ex7.strategy_runtimes r
      JOIN ex7.strategies s ON s.user_id = r.user_id AND s.id = r.strategy_id AND s.deleted_at IS NULL
     WHERE r.user_id = p_user);
END
$$;
COMMENT ON FUNCTION ex7.signals_health_me(uuid) IS
'Returns {items}: the user''s runtimes of live (not deleted) strategies, each the runtime JSON plus strategy_status, instrument and timeframe, most recently started first.';
