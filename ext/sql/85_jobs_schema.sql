/* ext/sql/85_jobs_schema.sql: jobs on a clock (docs/jobs.md). Every rule of ex7 that changes something
 * by the passing of time alone (a complimentary tier that ends, a stopped runtime whose market sends no
 * more bars, a backtest whose worker died, operational rows past their retention period) is a job of the
 * extension, run inside the database by ex7.run_due_jobs (ext/sql/86_jobs.sql), which a scheduler calls
 * every minute (pg_cron in `make run` and the test cluster; tools/cron_setup.sh). DDL: runs once; new in
 * 0.2.0, included whole by ext/upgrade/0.1.0--0.2.0.sql.
 *
 * The jobs themselves are code, not data: ex7._job_catalog() lists them (name, default period, what it
 * does), so a new version adds or changes a job by replacing that function (in its upgrade delta, like
 * any DDL of this file). ex7.jobs holds only what happened: one row per job that has run or that the
 * operator configured, made on first use. It seeds nothing, so a dump restores its rows into a fresh
 * CREATE EXTENSION without colliding with anything the install made.
 */

CREATE TABLE ex7.jobs (
    name             text PRIMARY KEY CHECK (name ~ '^[a-z][a-z0-9_]{0,39}$'),
    enabled          boolean NOT NULL DEFAULT true,
    run_every        interval CHECK (run_every >= interval '1 minute'),
    next_run_at      timestamptz NOT NULL DEFAULT '-infinity',
    last_run_at      timestamptz,
    last_ok_at       timestamptz,
    last_error_at    timestamptz,
    last_error       text,
    last_result      jsonb,
    last_duration_ms double precision,
    runs             bigint NOT NULL DEFAULT 0 CHECK (runs >= 0),
    failures         bigint NOT NULL DEFAULT 0 CHECK (failures >= 0)
);
SELECT pg_catalog.pg_extension_config_dump('ex7.jobs', '');
COMMENT ON TABLE ex7.jobs IS 'Run state of each job of ex7._job_catalog() (docs/jobs.md): when it last ran (the clock it was given), last succeeded and last failed with what error, its result, when it is next due, and run and failure counts. Rows are made by ex7.run_due_jobs and ex7.job_configure; enabled and run_every are the operator''s (NULL run_every: the catalog''s period).';
COMMENT ON COLUMN ex7.jobs.last_run_at IS 'The clock (p_now) of the job''s last run, successful or not.';
COMMENT ON COLUMN ex7.jobs.next_run_at IS 'The job is due at a run of ex7.run_due_jobs whose clock is at or past this time (-infinity: never ran).';
COMMENT ON COLUMN ex7.jobs.last_error IS 'SQLSTATE and message of the last failed run; kept after later successes (compare last_error_at with last_ok_at).';
-- nobody bound to a user reads or writes it (99_grants.sql revokes it); no policy means deny for them
ALTER TABLE ex7.jobs ENABLE ROW LEVEL SECURITY;

/*
 * The catalog, in the order the jobs run: the ones that lock user rows (ex7._lock_user, the first lock of
 * every user's writer) last, so that a tick holds those locks for the shortest time. Periods: the three rules that settle state by the clock run every minute, the resolution
 * pg_cron schedules at ("* * * * *") and the finest any of them needs (a backtest is reaped after one
 * minute without its worker); retention deletes rows that are days old, hourly is plenty.
 */
CREATE OR REPLACE FUNCTION ex7._job_catalog()
RETURNS TABLE (name text, run_every interval, description text)
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
    VALUES ('retention', interval '1 hour',
            'Deletes operational rows past their retention period: rate counters of past days, attempt counters, finished alert deliveries, usage counters, old notifications, price alert logs and Stripe event ids (docs/jobs.md).'),
           ('backtests_reap', interval '1 minute',
            'Marks failed the background backtests whose worker is gone (running without it, or queued over a minute with none), and repairs the studies whose workers are gone (a trial back to pending, a study with no live worker failed, to be resumed), for every user (docs/backtests.md, docs/research.md).'),
           ('billing_expire', interval '1 minute',
            'Ends complimentary tiers past comp_until and subscriptions set to cancel at period end whose period ended over an hour ago with no webhook saying so; writes ex7.users.tier (docs/billing.md).'),
           ('runtimes_settle', interval '1 minute',
            'Stops draining runtimes that got no bar for two lengths of their timeframe since the stop (market closed, feed gone), as the dispatcher would have on that bar (docs/runtimes.md).');
$$;
COMMENT ON FUNCTION ex7._job_catalog() IS
'Returns (name, run_every, description): every job of ex7, with its default period, in the order ex7.run_due_jobs runs them.';

/* The one place that lists every job with its state, for operators and for ex7d's /metrics. */
CREATE VIEW ex7.job_status AS
SELECT c.name,
       c.description,
       COALESCE(j.enabled, true) AS enabled,
       COALESCE(j.run_every, c.run_every) AS run_every,
       j.last_run_at,
       j.last_ok_at,
       j.last_error_at,
       j.last_error,
       j.last_result,
       j.last_duration_ms,
       COALESCE(j.next_run_at, '-infinity'::timestamptz) AS next_run_at,
       COALESCE(j.runs, 0)::bigint AS runs,
       COALESCE(j.failures, 0)::bigint AS failures,
       (j.last_error_at IS NOT NULL AND (j.last_ok_at IS NULL OR j.last_error_at >= j.last_ok_at)) AS failing
  FROM ex7._job_catalog() WITH ORDINALITY AS c (name, run_every, description, pos)
  LEFT JOIN ex7.jobs j ON j.name = c.name
 ORDER BY c.pos;
COMMENT ON VIEW ex7.job_status IS 'Every job of ex7 (docs/jobs.md, stable columns): name, description, enabled, run_every, last_run_at, last_ok_at, last_error_at, last_error, last_result, last_duration_ms, next_run_at (-infinity: due at once), runs, failures, failing (its last run failed).';
