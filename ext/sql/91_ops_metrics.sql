/* ext/sql/91_ops_metrics.sql: the database's part of ex7d's GET /metrics (docs/observability.md). These are
 * operational figures of the whole installation (queues, runtimes, the dispatcher), read once per scrape;
 * they have nothing to do with the trading metrics of ext/sql/68_metrics.sql (docs/metrics.md). Every
 * label a row carries comes from a closed set (a CHECK constraint or the instrument table), so the
 * number of series stays bounded whatever users do. */

CREATE OR REPLACE FUNCTION ex7.metrics_snapshot(p_now timestamptz DEFAULT pg_catalog.now())
RETURNS jsonb
LANGUAGE plpgsql STABLE PARALLEL SAFE
AS $$
DECLARE
    v_outbox jsonb;
    v_deliveries jsonb;
    v_runtimes jsonb;
    v_dispatcher jsonb;
    v_jobs jsonb;
BEGIN
    -- the alerts outbox (docs/alerts.md): rows still to send, through the partial index of queued rows
    SELECT pg_catalog.jsonb_build_object(
               'queued', pg_catalog.count(*),
               'due', pg_catalog.count(*) FILTER (WHERE d.next_attempt_at <= p_now),
               'oldest_age_seconds',
               pg_catalog.round(EXTRACT(epoch FROM p_now - pg_catalog.min(d.created_at)), 3))
      INTO v_outbox
      FROM ex7.alert_deliveries d
     WHERE d.status = 'queued';

    -- deliveries by provider (the worker's names, ext/sql/76_alerts.sql ex7._outbox_request) and status
    SELECT coalesce(pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object('provider', x.provider, 'status', x.status,
                                                                       'count', x.n)
                                         ORDER BY x.provider, x.status), '[]')
      INTO v_deliveries
      FROM (SELECT CASE d.channel_type WHEN 'email' THEN 'resend' WHEN 'sms' THEN 'twilio'
                                       ELSE d.channel_type END AS provider,
                   d.status, pg_catalog.count(*) AS n
              FROM ex7.alert_deliveries d
             GROUP BY 1, 2) x;

    -- runtimes by state and mode (docs/runtimes.md)
    SELECT coalesce(pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object('status', x.status, 'mode', x.mode,
                                                                       'count', x.n)
                                         ORDER BY x.status, x.mode), '[]')
      INTO v_runtimes
      FROM (SELECT r.status, r.mode::text AS mode, pg_catalog.count(*) AS n
              FROM ex7.strategy_runtimes r
             GROUP BY 1, 2) x;

    -- the dispatcher (docs/dispatcher.md): per instrument and timeframe, the newest bar it evaluated for
    -- a runtime and when it did (ex7._dispatch_bar sets last_bar_ts and updated_at together)
    SELECT coalesce(pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object(
                        'instrument', x.instrument, 'timeframe', x.timeframe,
                        'last_bar_ts', EXTRACT(epoch FROM x.last_bar_ts),
                        'evaluated_at', EXTRACT(epoch FROM x.evaluated_at))
                    ORDER BY x.instrument, x.timeframe), '[]')
      INTO v_dispatcher
      FROM (SELECT s.instrument, s.timeframe, pg_catalog.max(r.last_bar_ts) AS last_bar_ts,
                   pg_catalog.max(r.updated_at) AS evaluated_at
              FROM ex7.strategy_runtimes r
              JOIN ex7.strategies s ON s.user_id = r.user_id AND s.id = r.strategy_id
             WHERE r.last_bar_ts IS NOT NULL
             GROUP BY 1, 2) x;

    -- the jobs on a clock (docs/jobs.md, the stable columns of ex7.job_status), read by name at run time so
    -- that this function does not depend on the view's install order
    IF pg_catalog.to_regclass('ex7.job_status') IS NOT NULL THEN
        EXECUTE $q$
            SELECT coalesce(pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object(
                       'name', j.name, 'enabled', j.enabled, 'runs', j.runs, 'failures', j.failures,
                       'failing', j.failing, 'last_run_at', EXTRACT(epoch FROM j.last_run_at),
                       'last_error_at', EXTRACT(epoch FROM j.last_error_at), 'last_error', j.last_error,
                       'last_duration_ms', j.last_duration_ms) ORDER BY j.name), '[]')
              FROM ex7.job_status j
        $q$ INTO v_jobs;
    END IF;

    RETURN pg_catalog.jsonb_build_object('outbox', v_outbox, 'deliveries', v_deliveries,
                                         'runtimes', v_runtimes, 'dispatcher', v_dispatcher,
                                         'jobs', v_jobs);
END
$$;
COMMENT ON FUNCTION ex7.metrics_snapshot(timestamptz) IS
'Returns {outbox: {queued, due, oldest_age_seconds}, deliveries: [{provider, status, count}], runtimes: [{status, mode, count}], dispatcher: [{instrument, timeframe, last_bar_ts, evaluated_at}] (epoch seconds), jobs: [{name, enabled, runs, failures, failing, last_run_at, last_error_at, last_error, last_duration_ms}] from ex7.job_status, or null without it}: the database figures ex7d reports at GET /metrics (docs/observability.md). Operator only; p_now is the clock of the ages (tests move it).';
