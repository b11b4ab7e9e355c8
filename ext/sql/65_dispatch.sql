/* ext/sql/65_dispatch.sql: the dispatcher. Ingesting a closed bar calls ex7._dispatch_bar inside the ingest
 * transaction; it walks every runtime in starting, running or draining whose strategy trades that
 * instrument and timeframe. Issue 4: "starting becomes running on its first bar, draining finishes the
 * bar and becomes stopped". Evaluation of the strategy graph is added by the engine (ext/graph.c). */

CREATE OR REPLACE FUNCTION ex7._dispatch_bar(p_instrument text, p_timeframe text, p_bar_ts timestamptz)
RETURNS jsonb
LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
    r record;
    v_status text;
    v_started integer := 0;
    v_stopped integer := 0;
BEGIN
    -- one lock order for every writer: the user row first (ex7._lock_user), then the runtime row;
    -- users in id order so that two concurrent ingests cannot deadlock on each other's users
    FOR r IN
        SELECT rt.id, rt.user_id
          FROM ex7.strategy_runtimes rt
          JOIN ex7.strategies s ON s.id = rt.strategy_id
         WHERE s.instrument = p_instrument AND s.timeframe = p_timeframe AND s.deleted_at IS NULL
           AND rt.status IN ('starting', 'running', 'draining')
         ORDER BY rt.user_id, rt.id
    LOOP
        PERFORM ex7._lock_user(r.user_id);
        -- re-read under the lock: a stop or delete may have committed since the scan
        SELECT rt.status INTO v_status FROM ex7.strategy_runtimes rt WHERE rt.id = r.id FOR UPDATE;
        CONTINUE WHEN v_status NOT IN ('starting', 'running', 'draining');
        UPDATE ex7.strategy_runtimes rt
           SET status = CASE v_status WHEN 'starting' THEN 'running' WHEN 'draining' THEN 'stopped'
                                      ELSE v_status END,
               stopped_at = CASE WHEN v_status = 'draining' THEN pg_catalog.now() ELSE rt.stopped_at END,
               last_bar_ts = GREATEST(rt.last_bar_ts, p_bar_ts),
               updated_at = pg_catalog.now()
         WHERE rt.id = r.id;
        v_started := v_started + (v_status = 'starting')::integer;
        v_stopped := v_stopped + (v_status = 'draining')::integer;
    END LOOP;
    RETURN pg_catalog.jsonb_build_object('instrument', p_instrument, 'timeframe', p_timeframe,
                                         'bar_ts', p_bar_ts, 'started', v_started, 'stopped', v_stopped);
END
$$;
COMMENT ON FUNCTION ex7._dispatch_bar(text, text, timestamptz) IS
'Returns {instrument, timeframe, bar_ts, started, stopped}: the dispatcher step for one closed bar, called by the ingest functions inside their transaction. Moves starting runtimes to running and draining runtimes to stopped, and records last_bar_ts.';
