-- sql/jobs.sql: jobs on a clock (ext/sql/85_jobs_schema.sql, ext/sql/86_jobs.sql, docs/jobs.md). Each job
-- driven with the clock moved (p_now) and its effect checked: billing_expire, runtimes_settle,
-- backtests_reap, retention (with its batches); the schedule of ex7.run_due_jobs (due, not due, disabled,
-- a period of the operator's); a failing job logged as a WARNING without stopping the others; the errors
-- and who may call them.
--
-- The whole file is one transaction rolled back at the end: the jobs act on every user of the database,
-- and the files that run after this one must find their rows as they left them. In a transaction now()
-- stands still, so every clock below is now() plus an exact offset.
BEGIN;
\set u1 '00000000-0000-4000-8000-0000000008a1'
\set u2 '00000000-0000-4000-8000-0000000008a2'
\set u3 '00000000-0000-4000-8000-0000000008a3'
SELECT ex7.ensure_user(:'u1') ->> 'tier' AS u1_tier, ex7.ensure_user(:'u2') ->> 'tier' AS u2_tier,
       ex7.ensure_user(:'u3') ->> 'tier' AS u3_tier;
SELECT ex7_test.accept_compliance(ARRAY[:'u1', :'u2', :'u3']::uuid[]) AS accepted;

-- Whatever the files before this one left behind is settled first, far in the future, so that the counts
-- below are this file's rows only; then the jobs start with no history.
SELECT count(*) AS cleared FROM ex7.run_due_jobs(now() + interval '1000 days');
DELETE FROM ex7.jobs;

-- every job is listed, with no run yet and due at once
SELECT name, enabled, run_every, last_run_at, next_run_at, runs, failures, failing FROM ex7.job_status ORDER BY name;

--
-- billing_expire
--
-- a comp of one day (u1); a subscription set to cancel at the end of a period that ends in a day (u2); the
-- same without the cancel flag (u3)
SELECT ex7.billing_comp(NULL, jsonb_build_object('user_id', :'u1', 'tier', 'operator', 'days', 1)) ->> 'tier' AS u1_comped;
INSERT INTO ex7.billing_accounts (user_id, stripe_customer_id, stripe_subscription_id, subscription_tier,
                                  subscription_status, current_period_end, cancel_at_period_end)
VALUES (:'u2', 'cus_jobs2', 'sub_jobs2', 'strategist', 'active', now() + interval '1 day', true),
       (:'u3', 'cus_jobs3', 'sub_jobs3', 'operator', 'active', now() + interval '1 day', false);
SELECT ex7._billing_sync_tier(:'u2') AS u2_tier, ex7._billing_sync_tier(:'u3') AS u3_tier;
-- now: nothing has ended
SELECT ex7.run_job('billing_expire', now()) -> 'result' AS at_now;
-- an hour less a minute after the period end: the webhook may still come, nothing is done
SELECT ex7.run_job('billing_expire', now() + interval '1 day 59 minutes') -> 'result' AS before_grace;
-- an hour after it: u2's subscription is canceled and u2 is free; u3's renews (no cancel flag) and stays
SELECT ex7.run_job('billing_expire', now() + interval '1 day 1 hour') -> 'result' AS after_grace;
SELECT u.id = :'u2' AS is_u2, u.tier, a.subscription_status
  FROM ex7.users u JOIN ex7.billing_accounts a ON a.user_id = u.id WHERE u.id IN (:'u2', :'u3') ORDER BY u.id;
-- the comp's end is judged by the database's real clock (ex7._billing_effective_tier reads now()): a later
-- p_now alone does not end it, and the comp is still in force
SELECT (SELECT tier FROM ex7.users WHERE id = :'u1') AS u1_tier_still;
-- with the comp's end moved into the past (the test's way of moving the real clock), the job ends it
UPDATE ex7.billing_accounts SET comp_until = now() - interval '1 second' WHERE user_id = :'u1';
SELECT ex7.run_job('billing_expire', now()) -> 'result' AS comp_ended;
SELECT tier AS u1_tier_after FROM ex7.users WHERE id = :'u1';
-- idempotent: the same clock again finds nothing
SELECT ex7.run_job('billing_expire', now() + interval '1 day 1 hour') -> 'result' AS again;

--
-- runtimes_settle
--
CREATE FUNCTION pg_temp.runtime(u uuid, name text, tf text) RETURNS uuid LANGUAGE plpgsql AS $$
DECLARE
    v_id uuid := (ex7.create_strategy(u, jsonb_build_object('name', name, 'instrument', 'MES', 'timeframe', tf)) ->> 'id')::uuid;
BEGIN
    PERFORM ex7.promote_strategy(u, v_id);
    PERFORM ex7.start_runtime(u, v_id);
    -- the dispatcher's first bar makes it running (docs/runtimes.md)
    UPDATE ex7.strategy_runtimes SET status = 'running', last_bar_ts = now() - interval '1 hour' WHERE strategy_id = v_id;
    -- an open signal for a stop to drain (with nothing to finish a stop is stopped at once: docs/runtimes.md);
    -- written directly, so that no event or notification of it reaches the retention counts below
    INSERT INTO ex7.signals (user_id, strategy_id, strategy_version, instrument, timeframe, mode, side, size, entry_price, bar_ts)
    VALUES (u, v_id, 1, 'MES', tf, 'paper', 'long', 1, 5000.00, now() - interval '1 hour');
    RETURN v_id;
END
$$;
SELECT pg_temp.runtime(:'u1', 'Five', '5m') AS s5, pg_temp.runtime(:'u1', 'Hourly', '1h') AS s60,
       pg_temp.runtime(:'u2', 'Running', '5m') AS srun \gset
SELECT ex7.stop_runtime(:'u1', :'s5') ->> 'status' AS s5_stop, ex7.stop_runtime(:'u1', :'s60') ->> 'status' AS s60_stop;
-- a draining runtime answers 409 runtime_active to a start until it has settled
SELECT split_part(ex7_test.err(format('SELECT ex7.start_runtime(%L, %L)', :'u1', :'s5')), ' | ', 1) AS start_while_draining;
-- no bar for two lengths of 5m less a microsecond: still draining (the bar could still come)
SELECT ex7.run_job('runtimes_settle', now() + interval '10 minutes' - interval '1 microsecond') -> 'result' AS before;
-- two lengths: stopped, as the dispatcher would have; the 1h one and the running one are untouched
SELECT ex7.run_job('runtimes_settle', now() + interval '10 minutes') -> 'result' AS after_10m;
SELECT s.name, r.status, r.stopped_at IS NOT NULL AS stopped_at_set, r.last_bar_ts = now() - interval '1 hour' AS last_bar_kept
  FROM ex7.strategy_runtimes r JOIN ex7.strategies s ON s.id = r.strategy_id
 WHERE r.strategy_id IN (:'s5', :'s60', :'srun') ORDER BY s.name;
SELECT ex7.run_job('runtimes_settle', now() + interval '2 hours') -> 'result' AS after_2h;
SELECT ex7.run_job('runtimes_settle', now() + interval '2 hours') -> 'result' AS again;
-- a stopped runtime starts again
SELECT ex7.start_runtime(:'u1', :'s5') ->> 'status' AS restarted;

--
-- backtests_reap
--
CREATE FUNCTION pg_temp.backtest(u uuid, s uuid, st text, created timestamptz) RETURNS uuid LANGUAGE sql AS $$
    INSERT INTO ex7.backtests (user_id, strategy_id, strategy_version, instrument, timeframe, range_from, range_to,
                               status, started_at, created_at)
    VALUES (u, s, 1, 'MES', '5m', '2026-01-01', '2026-02-01', st, CASE WHEN st = 'running' THEN created END, created)
    RETURNING id;
$$;
-- running with no worker holding its lock (a worker that died); queued two minutes without a worker;
-- queued just now (its worker may still be starting). A run whose worker lives is left alone: that takes a
-- second session (specs/jobs_race.spec), since a session's own advisory lock does not exclude itself.
SELECT pg_temp.backtest(:'u1', :'s5', 'running', now()) AS b_dead,
       pg_temp.backtest(:'u2', :'srun', 'queued', now() - interval '2 minutes') AS b_stuck,
       pg_temp.backtest(:'u2', :'srun', 'queued', now()) AS b_new \gset
SELECT ex7.run_job('backtests_reap', now()) -> 'result' AS reaped;
SELECT CASE id WHEN :'b_dead' THEN 'dead' WHEN :'b_stuck' THEN 'stuck' ELSE 'new' END AS run, status, error
  FROM ex7.backtests WHERE id IN (:'b_dead', :'b_stuck', :'b_new') ORDER BY 1;
SELECT ex7.run_job('backtests_reap', now()) -> 'result' AS again;

--
-- retention
--
-- request counters of yesterday and of today
SELECT ex7.rate_take('user:jobs-old', 10, 100, 1, 0, now() - interval '1 day') -> 'granted' AS old_take,
       ex7.rate_take('user:jobs-new', 10, 100, 1, 0, now()) -> 'granted' AS new_take;
-- attempt counters opened two days ago and now
SELECT ex7._attempt_gate('login:old@example.com', 5, interval '15 minutes', now() - interval '2 days') AS old_gate,
       ex7._attempt_gate('login:new@example.com', 5, interval '15 minutes', now()) AS new_gate;
-- deliveries: sent 91 days ago, queued 91 days ago (never deleted), sent 89 days ago
INSERT INTO ex7.alert_deliveries (user_id, channel_type, event, event_key, message, status, created_at)
VALUES (:'u1', 'email', 'signal', 'jobs:1', '{}', 'sent', now() - interval '91 days'),
       (:'u1', 'email', 'signal', 'jobs:2', '{}', 'queued', now() - interval '91 days'),
       (:'u1', 'email', 'signal', 'jobs:3', '{}', 'delivered', now() - interval '89 days');
-- usage counters 32 and 31 days before today (UTC)
INSERT INTO ex7.alert_usage (user_id, day, sent)
VALUES (:'u1', (now() AT TIME ZONE 'UTC')::date - 32, 3), (:'u1', (now() AT TIME ZONE 'UTC')::date - 31, 4);
INSERT INTO ex7.vix_usage (user_id, day, used)
VALUES (:'u1', (now() AT TIME ZONE 'UTC')::date - 32, 1), (:'u1', (now() AT TIME ZONE 'UTC')::date - 31, 2);
-- notifications: read 91 days ago (deleted), unread 91 days ago (kept), unread 366 days ago (deleted)
INSERT INTO ex7.notifications (user_id, type, title, message, read_at, created_at)
VALUES (:'u1', 'system', 'read old', 'x', now() - interval '90 days', now() - interval '91 days'),
       (:'u1', 'system', 'unread old', 'x', NULL, now() - interval '91 days'),
       (:'u1', 'system', 'unread older', 'x', NULL, now() - interval '366 days');
INSERT INTO ex7.price_alert_logs (user_id, instrument, condition, level, price, timeframe, bar_ts, created_at)
VALUES (:'u1', 'MES', 'crosses_above', 5000, 5001, '5m', now() - interval '91 days', now() - interval '91 days'),
       (:'u1', 'MES', 'crosses_above', 5000, 5001, '5m', now() - interval '89 days', now() - interval '89 days');
INSERT INTO ex7.stripe_events (id, type, outcome, received_at)
VALUES ('evt_jobs_old', 'invoice.paid', 'ignored', now() - interval '91 days'),
       ('evt_jobs_new', 'invoice.paid', 'ignored', now() - interval '89 days');
SELECT ex7.run_job('retention', now()) -> 'result' AS retention;
SELECT (SELECT array_agg(subject ORDER BY subject) FROM ex7.rate_counters) AS rate_counters,
       (SELECT array_agg(subject ORDER BY subject) FROM ex7.auth_attempts) AS auth_attempts,
       (SELECT array_agg(event_key ORDER BY event_key) FROM ex7.alert_deliveries WHERE user_id = :'u1') AS deliveries;
SELECT (SELECT array_agg(sent) FROM ex7.alert_usage WHERE user_id = :'u1') AS alert_usage,
       (SELECT array_agg(used) FROM ex7.vix_usage WHERE user_id = :'u1') AS vix_usage,
       (SELECT array_agg(title ORDER BY title) FROM ex7.notifications WHERE user_id = :'u1') AS notifications,
       (SELECT count(*) FROM ex7.price_alert_logs WHERE user_id = :'u1') AS price_alert_logs,
       (SELECT array_agg(id) FROM ex7.stripe_events WHERE id LIKE 'evt_jobs%') AS stripe_events;
-- idempotent
SELECT ex7.run_job('retention', now()) -> 'result' AS again;
-- a backlog larger than a batch goes in batches: the first run says more and is due again at once
INSERT INTO ex7.auth_attempts (subject, window_start, count)
SELECT 'login-addr:10.0.' || g, now() - interval '2 days', 1 FROM generate_series(1, ex7._retention_batch() + 1) g;
SELECT r -> 'auth_attempts' AS first_batch, r -> 'more' AS more
  FROM (SELECT ex7.run_job('retention', now()) -> 'result' AS r) x;
SELECT next_run_at = now() AS due_at_once FROM ex7.jobs WHERE name = 'retention';
SELECT r -> 'auth_attempts' AS second_batch, r -> 'more' AS more
  FROM (SELECT ex7.run_job('retention', now()) -> 'result' AS r) x;
SELECT next_run_at = date_trunc('minute', now()) + interval '1 hour' AS due_in_an_hour FROM ex7.jobs WHERE name = 'retention';

--
-- The schedule: ex7.run_due_jobs runs what is due at its clock. A period counts from the minute a job
-- ran (pg_cron's ticks come a little after the minute); t0 is half a minute past one.
--
SELECT date_trunc('minute', now()) + interval '30 seconds' AS t0 \gset
DELETE FROM ex7.jobs;
SELECT name, ok FROM ex7.run_due_jobs(:'t0');
SELECT name, ok FROM ex7.run_due_jobs(:'t0'::timestamptz + interval '29 seconds');   -- nothing due
SELECT name, ok FROM ex7.run_due_jobs(:'t0'::timestamptz + interval '30 seconds');   -- the next minute: the minute jobs
SELECT name, runs, last_run_at - :'t0' AS last_run, next_run_at - :'t0' AS next_run, failing
  FROM ex7.job_status ORDER BY name;
-- the operator turns one off and slows another
SELECT ex7.job_configure('backtests_reap', false) ->> 'enabled' AS reap_enabled;
SELECT ex7.job_configure('billing_expire', p_run_every => interval '5 minutes') ->> 'run_every' AS billing_every;
SELECT name FROM ex7.run_due_jobs(:'t0'::timestamptz + interval '90 seconds');
SELECT name FROM ex7.run_due_jobs(:'t0'::timestamptz + interval '1 hour');
SELECT ex7.job_configure('backtests_reap', true) ->> 'enabled' AS reap_enabled_again;

--
-- A failing job: logged (WARNING), recorded, and the others run
--
CREATE FUNCTION pg_temp.refuse() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'runtime rows are read-only in this test' USING ERRCODE = 'P0001';
END
$$;
SELECT ex7.stop_runtime(:'u2', :'srun') ->> 'status' AS srun_draining;
-- every update of a runtime row now fails: runtimes_settle cannot stop it
CREATE TRIGGER jobs_test_refuse BEFORE UPDATE ON ex7.strategy_runtimes FOR EACH ROW EXECUTE FUNCTION pg_temp.refuse();
SELECT name, ok, error FROM ex7.run_due_jobs(now() + interval '3 hours');
SELECT name, runs, failures, failing, last_error FROM ex7.job_status ORDER BY name;
SELECT status AS srun_still FROM ex7.strategy_runtimes WHERE strategy_id = :'srun';
-- fixed: the next run succeeds, and failing clears (the last error stays for the record)
DROP TRIGGER jobs_test_refuse ON ex7.strategy_runtimes;
SELECT name, ok, result FROM ex7.run_due_jobs(now() + interval '3 hours 1 minute') WHERE name = 'runtimes_settle';
SELECT runs, failures, failing, last_error IS NOT NULL AS error_kept FROM ex7.job_status WHERE name = 'runtimes_settle';

--
-- Errors, and who may call
--
SELECT ex7_test.err($$SELECT ex7.run_job('nope')$$) AS unknown_job;
SELECT ex7_test.err($$SELECT ex7.job_configure('nope', false)$$) AS configure_unknown;
SELECT ex7_test.err($$SELECT ex7.job_configure('retention', p_run_every => interval '30 seconds')$$) AS too_often;
SELECT ex7_test.err($$SELECT * FROM ex7.run_due_jobs(NULL)$$) AS null_clock;
SELECT ex7_test.err($$SELECT * FROM ex7.run_due_jobs('infinity')$$) AS infinite_clock;
SELECT has_function_privilege('ex7_user', 'ex7.run_due_jobs(timestamptz)', 'EXECUTE') AS user_runs_jobs,
       has_function_privilege('ex7_user', 'ex7.job_retention(timestamptz)', 'EXECUTE') AS user_runs_retention,
       has_table_privilege('ex7_user', 'ex7.job_status', 'SELECT') AS user_reads_status;
ROLLBACK;
