-- sql/runtime_drain.sql: a stopped runtime finishes draining without waiting for a bar when it has nothing
-- left to do (docs/runtimes.md, "Stop Runtime"). Stop Runtime drains a running runtime "and let[s] the
-- dispatcher finish the current bar before it settles on 'stopped'"; what it finishes is its open signals.
-- With none, stop (and archive) stop it at once; with some it drains, and the close of its last open
-- signal (close_signal, force_close_all) stops it in the same transaction. The dispatcher still stops the
-- others after their bar (sql/dispatch.sql), the job runtimes_settle those no bar reaches (sql/jobs.sql).
\set u '00000000-0000-4000-8000-00000000e601'
SELECT ex7.ensure_user(:'u') ->> 'tier' AS tier;
SELECT ex7_test.accept_compliance(ARRAY[:'u']::uuid[]) AS accepted;
SELECT ex7.set_risk_limits(:'u', m, '{"max_open_positions": 100, "max_trades_per_day": 1000}') IS NOT NULL AS roomy
  FROM unnest(ARRAY['paper', 'live']) AS m;
-- a ready strategy with a paper runtime that is running
CREATE FUNCTION pg_temp.running(name text) RETURNS uuid LANGUAGE plpgsql AS $$
DECLARE
    v_id uuid := (ex7.create_strategy('00000000-0000-4000-8000-00000000e601',
                                      jsonb_build_object('name', name, 'instrument', 'MES', 'timeframe', '5m')) ->> 'id')::uuid;
BEGIN
    PERFORM ex7.promote_strategy('00000000-0000-4000-8000-00000000e601', v_id);
    PERFORM ex7.start_runtime('00000000-0000-4000-8000-00000000e601', v_id);
    UPDATE ex7.strategy_runtimes SET status = 'running', last_bar_ts = '2026-11-20 14:30+00' WHERE strategy_id = v_id;
    RETURN v_id;
END
$$;
CREATE FUNCTION pg_temp.fire(s uuid, m text, tag text) RETURNS uuid LANGUAGE sql AS $$
    SELECT (ex7.fire_signal('00000000-0000-4000-8000-00000000e601', s, m, 'long', 1, 5000.00,
                            '2026-11-20 14:30+00', tag) #>> '{signal,id}')::uuid;
$$;
CREATE FUNCTION pg_temp.rt(s uuid) RETURNS text LANGUAGE sql AS $$
    SELECT status || CASE WHEN stopped_at IS NOT NULL THEN ' (stopped_at set)' ELSE '' END
      FROM ex7.strategy_runtimes WHERE strategy_id = s AND mode = 'paper';
$$;

-- nothing open: stop is stopped at once, stopped_at set; a second stop returns it unchanged
SELECT pg_temp.running('idle') AS s_idle \gset
SELECT ex7.stop_runtime(:'u', :'s_idle') ->> 'status' AS stop, ex7.stop_runtime(:'u', :'s_idle') ->> 'stopped_at' IS NOT NULL AS stopped_at;
-- a live signal of the strategy is not the paper runtime's to finish: still stopped at once
SELECT pg_temp.running('live only') AS s_live \gset
SELECT pg_temp.fire(:'s_live', 'live', 'lv') IS NOT NULL AS live_open;
SELECT ex7.stop_runtime(:'u', :'s_live') ->> 'status' AS stop_with_live_signal;

-- open signals: draining; closing one of two keeps it draining, closing the last one stops it
SELECT pg_temp.running('busy') AS s_busy \gset
SELECT pg_temp.fire(:'s_busy', 'paper', 'b1') AS b1, pg_temp.fire(:'s_busy', 'paper', 'b2') AS b2 \gset
SELECT ex7.stop_runtime(:'u', :'s_busy') ->> 'status' AS stop;
SELECT ex7.close_signal(:'u', :'b1', 5001.00) ->> 'status' AS close_b1, pg_temp.rt(:'s_busy') AS runtime;
SELECT ex7.close_signal(:'u', :'b2', 5001.00) ->> 'status' AS close_b2, pg_temp.rt(:'s_busy') AS runtime;

-- force-close-all of a draining runtime's signals stops it too
SELECT pg_temp.running('forced') AS s_forced \gset
SELECT pg_temp.fire(:'s_forced', 'paper', 'f1') IS NOT NULL AS f1, pg_temp.fire(:'s_forced', 'paper', 'f2') IS NOT NULL AS f2;
SELECT ex7.stop_runtime(:'u', :'s_forced') ->> 'status' AS stop;
SELECT ex7.force_close_all(:'u', :'s_forced') AS cancelled, pg_temp.rt(:'s_forced') AS runtime;

-- a close that leaves a running (not draining) runtime alone
SELECT pg_temp.running('running') AS s_running \gset
SELECT pg_temp.fire(:'s_running', 'paper', 'r1') AS r1 \gset
SELECT ex7.close_signal(:'u', :'r1', 5001.00) ->> 'status' AS close_r1, pg_temp.rt(:'s_running') AS runtime;

-- archive, the other drain: with an open signal the runtime drains, without it stops at once
SELECT pg_temp.running('archived busy') AS s_ab, pg_temp.running('archived idle') AS s_ai \gset
SELECT pg_temp.fire(:'s_ab', 'paper', 'a1') IS NOT NULL AS a1;
SELECT ex7.archive_strategy(:'u', :'s_ab') ->> 'status' AS busy, pg_temp.rt(:'s_ab') AS runtime;
SELECT ex7.archive_strategy(:'u', :'s_ai') ->> 'status' AS idle, pg_temp.rt(:'s_ai') AS runtime;

-- a stranger's stop is still a 404, and creates no user row
SELECT ex7_test.err(format('SELECT ex7.stop_runtime(%L, %L)', '00000000-0000-4000-8000-00000000e6ff', :'s_busy')) AS stranger;
SELECT count(*) AS stranger_rows FROM ex7.users WHERE id = '00000000-0000-4000-8000-00000000e6ff';
