/* ext/sql/86_jobs.sql: the jobs on a clock (docs/jobs.md) and the entry point a scheduler calls,
 * ex7.run_due_jobs. Each job is a function of the clock it is given (p_now), so tests move the clock
 * instead of waiting, and is idempotent: run twice with the same clock, the second run finds nothing to
 * do. The catalog of jobs and their run state are in ext/sql/85_jobs_schema.sql.
 *
 * Who runs them: a superuser (pg_cron runs the scheduled command as the role that scheduled it) or a
 * BYPASSRLS role, like the HTTP front: the jobs act across every user, and several of the tables they
 * touch force row-level security. None is granted to roles bound to a user (99_grants.sql). */

/* ---------------------------------------------------------------------------------------------------
 * The jobs.
 * ------------------------------------------------------------------------------------------------- */

/*
 * billing_expire: what the clock ends in billing (docs/billing.md). Readers of the caps already stop
 * counting an ended comp at its end (ex7._current_tier); this writes it into ex7.users.tier, which
 * notifies the HTTP fronts, for users who make no request. A subscription the user set to cancel at the
 * period end is ended by Stripe at current_period_end, which then sends customer.subscription.deleted
 * (Stripe's documentation of cancel_at_period_end); when that webhook has not arrived an hour later
 * (lost, or the endpoint was down), this applies the end itself. The webhook stays authoritative: a later
 * event of the subscription is applied over it as usual (ex7.stripe_apply_event). Comps end by the
 * database's real clock (ex7._billing_effective_tier reads now()); p_now chooses which users to look at.
 * The user row lock comes first, as in every billing writer.
 */
CREATE OR REPLACE FUNCTION ex7.job_billing_expire(p_now timestamptz)
RETURNS jsonb
LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
    v_user uuid;
    v_before text;
    n_subs integer := 0;
    n_comps integer := 0;
BEGIN
    FOR v_user IN
        SELECT a.user_id FROM ex7.billing_accounts a
         WHERE a.cancel_at_period_end AND a.subscription_status IN ('active', 'trialing', 'past_due')
           AND a.current_period_end <= p_now - interval '1 hour'
         ORDER BY a.user_id
    LOOP
        PERFORM ex7._lock_user(v_user);
        -- again under the lock: a webhook may have changed the subscription since the scan
        UPDATE ex7.billing_accounts a
           SET subscription_status = 'canceled', updated_at = pg_catalog.now()
         WHERE a.user_id = v_user AND a.cancel_at_period_end
           AND a.subscription_status IN ('active', 'trialing', 'past_due')
           AND a.current_period_end <= p_now - interval '1 hour';
        IF FOUND THEN
            n_subs := n_subs + 1;
            PERFORM ex7._billing_sync_tier(v_user);
        END IF;
    END LOOP;
    FOR v_user IN
        SELECT a.user_id FROM ex7.billing_accounts a JOIN ex7.users u ON u.id = a.user_id
         WHERE a.comp_until <= p_now AND u.tier = a.comp_tier
         ORDER BY a.user_id
    LOOP
        PERFORM ex7._lock_user(v_user);
        SELECT u.tier INTO v_before FROM ex7.users u WHERE u.id = v_user;
        IF ex7._billing_sync_tier(v_user) IS DISTINCT FROM v_before THEN
            n_comps := n_comps + 1;
        END IF;
    END LOOP;
    RETURN pg_catalog.jsonb_build_object('comps_ended', n_comps, 'subscriptions_ended', n_subs);
END
$$;
COMMENT ON FUNCTION ex7.job_billing_expire(timestamptz) IS
'Returns {comps_ended, subscriptions_ended}: moves users whose complimentary tier ended (comp_until at or before p_now; the end itself is judged by the real clock) to their tier without it, and cancels subscriptions set to cancel at period end whose period ended at least an hour before p_now with no webhook saying so, writing ex7.users.tier. Idempotent. The job billing_expire (docs/jobs.md).';

/*
 * runtimes_settle: Stop Runtime "let[s] the dispatcher finish the current bar before it settles on
 * 'stopped'" (ex7-api-reference.txt), but a market that closes (a weekend, a holiday) or a feed that
 * stops sends no bar, and the runtime would stay draining (and counted against the tier's running
 * runtimes, and answering 409 runtime_active to a start) until one comes. The bar being finished closes
 * at most one timeframe length after the stop; when none has come for two lengths, the threshold at which
 * ex7.signals_health calls a runtime's data stale, there is no bar to finish and the runtime is settled
 * stopped, as the dispatcher would have. Same lock order as the dispatcher (ex7._dispatch_bar): user
 * rows in id order, then the runtime row, re-checked under the lock; a bar that was dispatched first has
 * already stopped it.
 */
CREATE OR REPLACE FUNCTION ex7.job_runtimes_settle(p_now timestamptz)
RETURNS jsonb
LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
    r record;
    v_locked uuid;
    n integer := 0;
BEGIN
    FOR r IN
        SELECT x.id, x.user_id, s.timeframe
          FROM ex7.strategy_runtimes x JOIN ex7.strategies s ON s.user_id = x.user_id AND s.id = x.strategy_id
         WHERE x.status = 'draining'
           AND x.updated_at + 2 * ex7._timeframe_interval(s.timeframe) <= p_now
         ORDER BY x.user_id, x.id
    LOOP
        IF v_locked IS DISTINCT FROM r.user_id THEN
            PERFORM ex7._lock_user(r.user_id);
            v_locked := r.user_id;
        END IF;
        -- the threshold is computed here, not over the row's columns in the UPDATE: Citus refuses a STABLE
        -- function (timestamptz + interval) applied to a column in an UPDATE of a distributed table. The
        -- timeframe read above is re-checked under the lock (a length in hours: the two forms are equal)
        UPDATE ex7.strategy_runtimes x
           SET status = 'stopped', stopped_at = pg_catalog.now(), updated_at = pg_catalog.now()
          FROM ex7.strategies s
         WHERE x.user_id = r.user_id AND x.id = r.id AND s.user_id = r.user_id AND s.id = x.strategy_id
           AND x.status = 'draining' AND s.timeframe = r.timeframe
           AND x.updated_at <= p_now - 2 * ex7._timeframe_interval(r.timeframe);
        IF FOUND THEN
            n := n + 1;
        END IF;
    END LOOP;
    RETURN pg_catalog.jsonb_build_object('stopped', n);
END
$$;
COMMENT ON FUNCTION ex7.job_runtimes_settle(timestamptz) IS
'Returns {stopped}: settles on stopped every draining runtime whose stop (updated_at) is at least two lengths of its strategy''s timeframe before p_now with no bar since (a bar would have stopped it). Idempotent. The job runtimes_settle (docs/jobs.md).';

/*
 * backtests_reap: a background backtest whose worker died (a server restart, a killed process) is shown
 * failed to its owner when the owner looks (ex7._backtests_reap in get_backtest and list_backtests); this
 * does it for every user, so the row stops counting against the two background runs a user may have and
 * the operator's view is right without anyone looking. The rule and the one-minute grace for a queued
 * row are ex7._backtests_reap's (judged by the real clock); p_now chooses the users to look at.
 *
 * The same for parameter studies (docs/research.md, "Studies"), whose trials are backtests run by study
 * workers: ex7._studies_reap puts a running trial whose worker is gone back to pending, and fails a queued
 * or running study of a user none of whose study workers is alive a minute after they were asked for (its
 * owner resumes it). The result counts those repairs as studies.
 *
 * On Citus the rule needs the node that runs the backtest: its worker process holds its advisory lock on
 * the node where the call that launched it ran, the user's worker (a delegated call), and advisory locks
 * are per node. So the coordinator asks every node (run_command_on_all_nodes) to reap the users whose
 * backtests shard it holds (ex7._job_backtests_reap_here), and adds up their answers.
 */
CREATE OR REPLACE FUNCTION ex7.job_backtests_reap(p_now timestamptz)
RETURNS jsonb
LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
    v_user uuid;
    n integer := 0;
    m integer := 0;
    v_failed text;
BEGIN
    IF ex7._citus_class('ex7.backtests'::regclass) IS NOT NULL THEN
        -- dynamic SQL: run_command_on_all_nodes exists only where Citus is installed
        EXECUTE $q$
            SELECT coalesce(sum((r.result::jsonb ->> 'failed')::integer) FILTER (WHERE r.success), 0)::integer,
                   coalesce(sum((r.result::jsonb ->> 'studies')::integer) FILTER (WHERE r.success), 0)::integer,
                   pg_catalog.string_agg(r.nodeid || ': ' || r.result, '; ') FILTER (WHERE NOT r.success)
              FROM pg_catalog.run_command_on_all_nodes($1) r
        $q$ INTO n, m, v_failed
        USING pg_catalog.format('SELECT ex7._job_backtests_reap_here(%L)', p_now);
        IF v_failed IS NOT NULL THEN
            RAISE EXCEPTION 'backtests_reap failed on node(s) %', v_failed;
        END IF;
        RETURN pg_catalog.jsonb_build_object('failed', n, 'studies', m);
    END IF;
    FOR v_user IN
        SELECT DISTINCT b.user_id FROM ex7.backtests b
         WHERE b.status IN ('queued', 'running')
           AND (b.status = 'running' OR b.created_at < p_now - interval '1 minute')
         ORDER BY b.user_id
    LOOP
        n := n + ex7._backtests_reap(v_user);
    END LOOP;
    FOR v_user IN
        SELECT DISTINCT y.user_id FROM ex7.studies y WHERE y.status IN ('queued', 'running') ORDER BY y.user_id
    LOOP
        m := m + ex7._studies_reap(v_user);
    END LOOP;
    RETURN pg_catalog.jsonb_build_object('failed', n, 'studies', m);
END
$$;
COMMENT ON FUNCTION ex7.job_backtests_reap(timestamptz) IS
'Returns {failed, studies}: marks failed, for every user, the background backtests whose worker is gone (ex7._backtests_reap: running with no worker holding it, or queued for over a minute with none); and repairs the studies whose workers are gone (ex7._studies_reap: a running trial without its worker back to pending, a queued or running study with no live worker a minute after the launch failed, to be resumed), counted as studies. Idempotent. On a Citus coordinator every node reaps the users whose shard it holds (ex7._job_backtests_reap_here), where their workers hold their locks. The job backtests_reap (docs/jobs.md).';

CREATE OR REPLACE FUNCTION ex7._job_backtests_reap_here(p_now timestamptz)
RETURNS jsonb
LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
    v_group integer;
    v_shards bigint[];
    v_user uuid;
    n integer := 0;
    m integer := 0;
BEGIN
    IF ex7._citus_class('ex7.backtests'::regclass) IS NULL THEN
        RETURN ex7.job_backtests_reap(p_now);      -- not distributed: the one node is every node
    END IF;
    -- this node's shards of ex7.backtests (dynamic SQL: Citus's catalogs exist only where it is installed)
    EXECUTE $q$
        SELECT pg_catalog.array_agg(p.shardid)
          FROM pg_catalog.pg_dist_placement p
          JOIN pg_catalog.pg_dist_shard s ON s.shardid = p.shardid
         WHERE s.logicalrelid = 'ex7.backtests'::pg_catalog.regclass
           AND p.groupid = (SELECT g.groupid FROM pg_catalog.pg_dist_local_group g)
    $q$ INTO v_shards;
    IF v_shards IS NULL THEN
        RETURN pg_catalog.jsonb_build_object('failed', 0, 'studies', 0);
    END IF;
    FOR v_user IN
        SELECT DISTINCT b.user_id FROM ex7.backtests b
         WHERE b.status IN ('queued', 'running')
           AND (b.status = 'running' OR b.created_at < p_now - interval '1 minute')
         ORDER BY b.user_id
    LOOP
        CONTINUE WHEN NOT pg_catalog.get_shard_id_for_distribution_column('ex7.backtests', v_user) = ANY (v_shards);
        n := n + ex7._backtests_reap(v_user);
    END LOOP;
    -- ex7.studies is colocated with ex7.backtests (distributed by user): the same node holds both
    FOR v_user IN
        SELECT DISTINCT y.user_id FROM ex7.studies y WHERE y.status IN ('queued', 'running') ORDER BY y.user_id
    LOOP
        CONTINUE WHEN NOT pg_catalog.get_shard_id_for_distribution_column('ex7.backtests', v_user) = ANY (v_shards);
        m := m + ex7._studies_reap(v_user);
    END LOOP;
    RETURN pg_catalog.jsonb_build_object('failed', n, 'studies', m);
END
$$;
COMMENT ON FUNCTION ex7._job_backtests_reap_here(timestamptz) IS
'Returns {failed, studies}: on one node of a Citus cluster, ex7._backtests_reap for each user with a queued or running background backtest, and ex7._studies_reap for each user with a queued or running study, whose ex7.backtests shard this node holds (their workers run here and hold their locks here). Called on every node by ex7.job_backtests_reap. Service only.';

/*
 * retention: the operational tables that grow with traffic, and how long their rows are kept (the
 * periods and why are in docs/jobs.md, "Retention"). Each table gives at most ex7._retention_batch()
 * candidate rows, read without a lock; they are then locked and deleted one distribution key at a time
 * (per user for per-user tables, per row for the tables keyed by a subject or an event id), skipping rows
 * another transaction holds (a counter being updated right now is not old) and re-checking the condition
 * under the lock. Per key, because Citus runs no SELECT ... FOR UPDATE over several shards
 * (docs/scale-out.md); on one node it deletes what one statement over the table did. When a table gives a
 * whole batch of candidates, the result says more and the job is due again at the next tick, so a first
 * run over a large backlog is spread over short transactions.
 */
CREATE OR REPLACE FUNCTION ex7._retention_batch()
RETURNS integer
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
    SELECT 10000;
$$;
COMMENT ON FUNCTION ex7._retention_batch() IS
'Returns the most rows the retention job deletes from one table in one run (10000).';

CREATE OR REPLACE FUNCTION ex7.job_retention(p_now timestamptz)
RETURNS jsonb
LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
    c_batch CONSTANT integer := ex7._retention_batch();
    -- UTC days, as every daily count of ex7 (ex7-api-introduction.txt: "daily quotas reset at 00:00 UTC")
    v_day timestamptz := pg_catalog.date_trunc('day', p_now AT TIME ZONE 'UTC') AT TIME ZONE 'UTC';
    v_date date := (p_now AT TIME ZONE 'UTC')::date;
    v_res jsonb := '{}';
    v_more boolean := false;
    v_seen integer;         -- candidates of the table
    n integer;              -- rows of the table deleted
    m integer;
    v_key text;
    v_user uuid;
    v_ids uuid[];
    v_nums bigint[];
    v_days date[];
BEGIN
    -- request counters of an earlier UTC day count nothing any more: ex7.rate_take starts them afresh
    v_seen := 0;
    n := 0;
    FOR v_key IN SELECT c.subject FROM ex7.rate_counters c WHERE c.day_start < v_day LIMIT c_batch LOOP
        v_seen := v_seen + 1;
        DELETE FROM ex7.rate_counters x WHERE x.subject = v_key AND x.subject = ANY (ARRAY(
            SELECT c.subject FROM ex7.rate_counters c WHERE c.subject = v_key AND c.day_start < v_day
               FOR UPDATE SKIP LOCKED));
        GET DIAGNOSTICS m = ROW_COUNT;
        n := n + m;
    END LOOP;
    v_more := v_more OR v_seen = c_batch;
    v_res := v_res || pg_catalog.jsonb_build_object('rate_counters', n);

    -- attempt counters: the longest window is one hour (sign-up and waitlist per address); a day later a
    -- counter is certain to be past its window
    v_seen := 0;
    n := 0;
    FOR v_key IN
        SELECT a.subject FROM ex7.auth_attempts a WHERE a.window_start < p_now - interval '1 day' LIMIT c_batch
    LOOP
        v_seen := v_seen + 1;
        DELETE FROM ex7.auth_attempts x WHERE x.subject = v_key AND x.subject = ANY (ARRAY(
            SELECT a.subject FROM ex7.auth_attempts a
             WHERE a.subject = v_key AND a.window_start < p_now - interval '1 day' FOR UPDATE SKIP LOCKED));
        GET DIAGNOSTICS m = ROW_COUNT;
        n := n + m;
    END LOOP;
    v_more := v_more OR v_seen = c_batch;
    v_res := v_res || pg_catalog.jsonb_build_object('auth_attempts', n);

    -- alert deliveries that are finished (never a queued one), 90 days after they were made
    v_seen := 0;
    n := 0;
    FOR v_user, v_ids IN
        SELECT d.user_id, pg_catalog.array_agg(d.id)
          FROM (SELECT d.user_id, d.id FROM ex7.alert_deliveries d
                 WHERE d.status <> 'queued' AND d.created_at < p_now - interval '90 days' LIMIT c_batch) d
         GROUP BY d.user_id
    LOOP
        v_seen := v_seen + pg_catalog.cardinality(v_ids);
        DELETE FROM ex7.alert_deliveries x WHERE x.user_id = v_user AND x.id = ANY (ARRAY(
            SELECT d.id FROM ex7.alert_deliveries d
             WHERE d.user_id = v_user AND d.id = ANY (v_ids)
               AND d.status <> 'queued' AND d.created_at < p_now - interval '90 days'
               FOR UPDATE SKIP LOCKED));
        GET DIAGNOSTICS m = ROW_COUNT;
        n := n + m;
    END LOOP;
    v_more := v_more OR v_seen = c_batch;
    v_res := v_res || pg_catalog.jsonb_build_object('alert_deliveries', n);

    -- per-day usage counters (alert quota, Vix quota): only today's is read; 31 days kept for the operator
    v_seen := 0;
    n := 0;
    FOR v_user, v_days IN
        SELECT u.user_id, pg_catalog.array_agg(u.day)
          FROM (SELECT u.user_id, u.day FROM ex7.alert_usage u WHERE u.day < v_date - 31 LIMIT c_batch) u
         GROUP BY u.user_id
    LOOP
        v_seen := v_seen + pg_catalog.cardinality(v_days);
        DELETE FROM ex7.alert_usage x WHERE x.user_id = v_user AND x.day = ANY (ARRAY(
            SELECT u.day FROM ex7.alert_usage u
             WHERE u.user_id = v_user AND u.day = ANY (v_days) AND u.day < v_date - 31 FOR UPDATE SKIP LOCKED));
        GET DIAGNOSTICS m = ROW_COUNT;
        n := n + m;
    END LOOP;
    v_more := v_more OR v_seen = c_batch;
    v_res := v_res || pg_catalog.jsonb_build_object('alert_usage', n);
    v_seen := 0;
    n := 0;
    FOR v_user, v_days IN
        SELECT u.user_id, pg_catalog.array_agg(u.day)
          FROM (SELECT u.user_id, u.day FROM ex7.vix_usage u WHERE u.day < v_date - 31 LIMIT c_batch) u
         GROUP BY u.user_id
    LOOP
        v_seen := v_seen + pg_catalog.cardinality(v_days);
        DELETE FROM ex7.vix_usage x WHERE x.user_id = v_user AND x.day = ANY (ARRAY(
            SELECT u.day FROM ex7.vix_usage u
             WHERE u.user_id = v_user AND u.day = ANY (v_days) AND u.day < v_date - 31 FOR UPDATE SKIP LOCKED));
        GET DIAGNOSTICS m = ROW_COUNT;
        n := n + m;
    END LOOP;
    v_more := v_more OR v_seen = c_batch;
    v_res := v_res || pg_catalog.jsonb_build_object('vix_usage', n);

    -- in-app notifications: read ones 90 days after they were made, unread ones after 365 days
    v_seen := 0;
    n := 0;
    FOR v_user, v_ids IN
        SELECT x.user_id, pg_catalog.array_agg(x.id)
          FROM (SELECT x.user_id, x.id FROM ex7.notifications x
                 WHERE x.created_at < p_now - interval '365 days'
                    OR (x.read_at IS NOT NULL AND x.created_at < p_now - interval '90 days')
                 LIMIT c_batch) x
         GROUP BY x.user_id
    LOOP
        v_seen := v_seen + pg_catalog.cardinality(v_ids);
        DELETE FROM ex7.notifications y WHERE y.user_id = v_user AND y.id = ANY (ARRAY(
            SELECT x.id FROM ex7.notifications x
             WHERE x.user_id = v_user AND x.id = ANY (v_ids)
               AND (x.created_at < p_now - interval '365 days'
                    OR (x.read_at IS NOT NULL AND x.created_at < p_now - interval '90 days'))
               FOR UPDATE SKIP LOCKED));
        GET DIAGNOSTICS m = ROW_COUNT;
        n := n + m;
    END LOOP;
    v_more := v_more OR v_seen = c_batch;
    v_res := v_res || pg_catalog.jsonb_build_object('notifications', n);

    -- price alert logs, 90 days (the alert itself stays)
    v_seen := 0;
    n := 0;
    FOR v_user, v_nums IN
        SELECT l.user_id, pg_catalog.array_agg(l.id)
          FROM (SELECT l.user_id, l.id FROM ex7.price_alert_logs l
                 WHERE l.created_at < p_now - interval '90 days' LIMIT c_batch) l
         GROUP BY l.user_id
    LOOP
        v_seen := v_seen + pg_catalog.cardinality(v_nums);
        DELETE FROM ex7.price_alert_logs x WHERE x.user_id = v_user AND x.id = ANY (ARRAY(
            SELECT l.id FROM ex7.price_alert_logs l
             WHERE l.user_id = v_user AND l.id = ANY (v_nums) AND l.created_at < p_now - interval '90 days'
               FOR UPDATE SKIP LOCKED));
        GET DIAGNOSTICS m = ROW_COUNT;
        n := n + m;
    END LOOP;
    v_more := v_more OR v_seen = c_batch;
    v_res := v_res || pg_catalog.jsonb_build_object('price_alert_logs', n);

    -- Stripe event ids: Stripe retries a webhook for up to 3 days and resends no event older than 30 days,
    -- so after 90 days no delivery of the id can come again
    v_seen := 0;
    n := 0;
    FOR v_key IN
        SELECT e.id FROM ex7.stripe_events e WHERE e.received_at < p_now - interval '90 days' LIMIT c_batch
    LOOP
        v_seen := v_seen + 1;
        DELETE FROM ex7.stripe_events x WHERE x.id = v_key AND x.id = ANY (ARRAY(
            SELECT e.id FROM ex7.stripe_events e
             WHERE e.id = v_key AND e.received_at < p_now - interval '90 days' FOR UPDATE SKIP LOCKED));
        GET DIAGNOSTICS m = ROW_COUNT;
        n := n + m;
    END LOOP;
    v_more := v_more OR v_seen = c_batch;
    v_res := v_res || pg_catalog.jsonb_build_object('stripe_events', n);

    -- stream tickets (docs/stream.md): a ticket opens nothing once expired, used or not
    v_seen := 0;
    n := 0;
    FOR v_user, v_ids IN
        SELECT t.user_id, pg_catalog.array_agg(t.id)
          FROM (SELECT t.user_id, t.id FROM ex7.stream_tickets t WHERE t.expires_at < p_now LIMIT c_batch) t
         GROUP BY t.user_id
    LOOP
        v_seen := v_seen + pg_catalog.cardinality(v_ids);
        DELETE FROM ex7.stream_tickets x WHERE x.user_id = v_user AND x.id = ANY (ARRAY(
            SELECT t.id FROM ex7.stream_tickets t
             WHERE t.user_id = v_user AND t.id = ANY (v_ids) AND t.expires_at < p_now FOR UPDATE SKIP LOCKED));
        GET DIAGNOSTICS m = ROW_COUNT;
        n := n + m;
    END LOOP;
    v_more := v_more OR v_seen = c_batch;
    v_res := v_res || pg_catalog.jsonb_build_object('stream_tickets', n);

    RETURN v_res || pg_catalog.jsonb_build_object('more', v_more);
END
$$;
COMMENT ON FUNCTION ex7.job_retention(timestamptz) IS
'Returns {<table>: rows deleted, ..., more}: deletes, as of p_now, rate counters of past UTC days, attempt counters a day past their window, finished alert deliveries after 90 days, alert and Vix usage counters after 31 days, read notifications after 90 days and unread ones after 365, price alert logs after 90 days, Stripe event ids after 90 days and stream tickets once expired; at most ex7._retention_batch() rows a table, skipping rows another transaction holds (more: a table had a whole batch of candidates). Idempotent. The job retention (docs/jobs.md).';

/* ---------------------------------------------------------------------------------------------------
 * Running them.
 * ------------------------------------------------------------------------------------------------- */

/* One job by name. A CASE rather than dynamic SQL: the jobs are a fixed list (ex7._job_catalog). */
CREATE OR REPLACE FUNCTION ex7._job_call(p_name text, p_now timestamptz)
RETURNS jsonb
LANGUAGE plpgsql VOLATILE
AS $$
BEGIN
    RETURN CASE p_name
        WHEN 'billing_expire' THEN ex7.job_billing_expire(p_now)
        WHEN 'runtimes_settle' THEN ex7.job_runtimes_settle(p_now)
        WHEN 'backtests_reap' THEN ex7.job_backtests_reap(p_now)
        WHEN 'retention' THEN ex7.job_retention(p_now) END;
END
$$;
COMMENT ON FUNCTION ex7._job_call(text, timestamptz) IS
'Returns the result of job p_name run with clock p_now (NULL for a name that is not a job).';

/*
 * _job_step: runs one job in a subtransaction of its own and records the outcome on its ex7.jobs row. The
 * row is taken FOR UPDATE SKIP LOCKED: a second scheduler running at the same moment (two pg_cron
 * entries, an operator's call) skips a job the first is running instead of running it twice or waiting,
 * and the first's commit moves next_run_at past its clock. A failure is caught, recorded, and raised
 * as a WARNING (the server log shows it, with the job's name), and the caller goes on with the next job.
 */
CREATE OR REPLACE FUNCTION ex7._job_step(p_name text, p_now timestamptz, p_force boolean,
                                         OUT ran boolean, OUT ok boolean, OUT result jsonb, OUT error text)
LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
    j ex7.jobs;
    c record;
    v_t0 timestamptz;
    v_state text;
    v_msg text;
    v_every interval;
BEGIN
    ran := false;
    SELECT * INTO c FROM ex7._job_catalog() x WHERE x.name = p_name;
    IF NOT FOUND THEN
        RETURN;
    END IF;
    -- the state row, made on first use; inserted only when missing, so schedulers that find it never
    -- wait on each other's insert
    IF NOT EXISTS (SELECT 1 FROM ex7.jobs x WHERE x.name = p_name) THEN
        INSERT INTO ex7.jobs (name) VALUES (p_name) ON CONFLICT (name) DO NOTHING;
    END IF;
    SELECT * INTO j FROM ex7.jobs x WHERE x.name = p_name FOR UPDATE SKIP LOCKED;
    IF NOT FOUND THEN
        RETURN;   -- another transaction is running it right now
    END IF;
    IF NOT p_force AND (NOT j.enabled OR j.next_run_at > p_now) THEN
        RETURN;
    END IF;
    v_every := COALESCE(j.run_every, c.run_every);
    ran := true;
    v_t0 := pg_catalog.clock_timestamp();
    BEGIN
        result := ex7._job_call(p_name, p_now);
        ok := true;
    EXCEPTION WHEN OTHERS THEN
        GET STACKED DIAGNOSTICS v_state = RETURNED_SQLSTATE, v_msg = MESSAGE_TEXT;
        ok := false;
        error := v_state || ': ' || v_msg;
        RAISE WARNING 'ex7 job % failed: %', p_name, error
            USING DETAIL = 'The job''s work was rolled back; the other jobs ran. It runs again when next due.',
                  HINT = 'SELECT * FROM ex7.job_status shows every job''s last error.';
    END;
    UPDATE ex7.jobs x
       SET last_run_at = p_now,
           last_ok_at = CASE WHEN ok THEN p_now ELSE x.last_ok_at END,
           last_error_at = CASE WHEN ok THEN x.last_error_at ELSE p_now END,
           last_error = CASE WHEN ok THEN x.last_error ELSE pg_catalog.left(error, 2000) END,
           last_result = CASE WHEN ok THEN result ELSE x.last_result END,
           last_duration_ms = EXTRACT(epoch FROM pg_catalog.clock_timestamp() - v_t0) * 1000,
           runs = x.runs + 1,
           failures = x.failures + (NOT ok)::integer,
           -- a job that left work behind (more) is due again at the next tick. Otherwise the period counts
           -- from the minute the job ran: pg_cron starts a minute's commands some milliseconds after the
           -- minute, and a period counted from p_now itself would fall just after the next tick's clock
           -- and skip it
           next_run_at = CASE WHEN ok AND COALESCE((result ->> 'more')::boolean, false) THEN p_now
                              ELSE pg_catalog.date_trunc('minute', p_now) + v_every END
     WHERE x.name = p_name;
END
$$;
COMMENT ON FUNCTION ex7._job_step(text, timestamptz, boolean) IS
'Returns (ran, ok, result, error): runs job p_name with clock p_now when it is enabled and due (or p_force) and no other transaction is running it, in its own subtransaction, and records the outcome in ex7.jobs; a failure is recorded and raised as a WARNING, not an error. ran false: not a job, not due, disabled, or running elsewhere.';

CREATE OR REPLACE FUNCTION ex7.run_due_jobs(p_now timestamptz DEFAULT pg_catalog.now())
RETURNS TABLE (name text, ok boolean, result jsonb, error text)
LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
    c record;
    s record;
BEGIN
    IF p_now IS NULL OR NOT pg_catalog.isfinite(p_now) THEN
        PERFORM ex7._invalid('["now"]', 'now must be a finite time');
    END IF;
    FOR c IN SELECT x.name FROM ex7._job_catalog() x LOOP
        s := ex7._job_step(c.name, p_now, false);
        IF s.ran THEN
            name := c.name;
            ok := s.ok;
            result := s.result;
            error := s.error;
            RETURN NEXT;
        END IF;
    END LOOP;
END
$$;
COMMENT ON FUNCTION ex7.run_due_jobs(timestamptz) IS
'Returns (name, ok, result, error), one row per job it ran: runs every enabled job of ex7.job_status that is due at p_now (default now), each in its own subtransaction (a failing job is recorded, logged as a WARNING and does not stop the others), skipping a job another transaction is running. What a scheduler calls every minute (pg_cron: tools/cron_setup.sh). X7422 for a NULL or infinite p_now. Operator only.';

CREATE OR REPLACE FUNCTION ex7.run_job(p_name text, p_now timestamptz DEFAULT pg_catalog.now())
RETURNS jsonb
LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
    s record;
BEGIN
    IF NOT EXISTS (SELECT 1 FROM ex7._job_catalog() x WHERE x.name = p_name) THEN
        PERFORM ex7._raise(404, 'job not found');
    END IF;
    IF p_now IS NULL OR NOT pg_catalog.isfinite(p_now) THEN
        PERFORM ex7._invalid('["now"]', 'now must be a finite time');
    END IF;
    s := ex7._job_step(p_name, p_now, true);
    IF NOT s.ran THEN
        PERFORM ex7._raise(409, 'job is running', pg_catalog.jsonb_build_object('code', 'job_running', 'job', p_name));
    END IF;
    RETURN pg_catalog.jsonb_build_object('name', p_name, 'ok', s.ok, 'result', s.result, 'error', s.error);
END
$$;
COMMENT ON FUNCTION ex7.run_job(text, timestamptz) IS
'Returns {name, ok, result, error}: runs job p_name now with clock p_now (default now), due or not, enabled or not, and records it like a scheduled run (a failure is returned and logged, not raised). X7404 for an unknown job, X7409 job_running while another transaction runs it, X7422 for a NULL or infinite p_now. Operator only.';

CREATE OR REPLACE FUNCTION ex7.job_configure(p_name text, p_enabled boolean DEFAULT NULL, p_run_every interval DEFAULT NULL)
RETURNS jsonb
LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
    v jsonb;
BEGIN
    IF NOT EXISTS (SELECT 1 FROM ex7._job_catalog() x WHERE x.name = p_name) THEN
        PERFORM ex7._raise(404, 'job not found');
    END IF;
    -- pg_cron's finest schedule is a minute: a shorter period would only mean "every tick"
    IF p_run_every IS NOT NULL AND (p_run_every < interval '1 minute' OR p_run_every > interval '366 days') THEN
        PERFORM ex7._invalid('["run_every"]', 'run_every must be between 1 minute and 366 days');
    END IF;
    INSERT INTO ex7.jobs AS j (name, enabled, run_every)
    VALUES (p_name, COALESCE(p_enabled, true), p_run_every)
    ON CONFLICT (name) DO UPDATE
       SET enabled = COALESCE(p_enabled, j.enabled),
           run_every = COALESCE(p_run_every, j.run_every);
    SELECT pg_catalog.to_jsonb(s) INTO v FROM ex7.job_status s WHERE s.name = p_name;
    RETURN v;
END
$$;
COMMENT ON FUNCTION ex7.job_configure(text, boolean, interval) IS
'Returns the job''s ex7.job_status row as jsonb after setting what is given: p_enabled (false: ex7.run_due_jobs skips it), p_run_every (its period instead of the catalog''s). X7404 for an unknown job, X7422 for a period outside 1 minute..366 days. Operator only.';
