-- sql/ops_metrics.sql: ex7.metrics_snapshot (ext/sql/91_ops_metrics.sql, docs/observability.md), the database
-- part of ex7d's GET /metrics. Earlier files leave rows behind, so each figure is checked as the change this
-- file's own actions make to it, inside a transaction that is rolled back.
\set u '00000000-0000-4000-8000-000000000911'
SELECT ex7.ensure_user(:'u') IS NOT NULL AS u;
SELECT ex7_test.accept_compliance(ARRAY[:'u']::uuid[]) AS accepted;

-- count(snapshot, array, match): the count of the entry of that array matching every member of match (0: none)
CREATE FUNCTION pg_temp.n(s jsonb, a text, m jsonb) RETURNS bigint LANGUAGE sql AS $$
    SELECT coalesce((SELECT (x ->> 'count')::bigint FROM jsonb_array_elements(s -> a) x WHERE x @> m), 0)
$$;

-- the shape: every part present, the jobs part null or an array
SELECT array(SELECT jsonb_object_keys(ex7.metrics_snapshot()) ORDER BY 1) AS parts,
       jsonb_typeof(ex7.metrics_snapshot() -> 'outbox') AS outbox,
       jsonb_typeof(ex7.metrics_snapshot() -> 'jobs') IN ('null', 'array') AS jobs_null_or_array;

BEGIN;
SELECT ex7.metrics_snapshot() AS s0 \gset
-- a running paper runtime on MES 5m, then one closed bar (Monday 2026-03-09 14:35 UTC, the day session)
SELECT (ex7.create_strategy(:'u', '{"name": "Ops", "instrument": "MES", "timeframe": "5m"}') ->> 'id') AS st \gset
SELECT ex7.promote_strategy(:'u', :'st') IS NOT NULL AS promoted;
SELECT ex7.start_runtime(:'u', :'st', 'paper') ->> 'status' AS started;
SELECT pg_temp.n(ex7.metrics_snapshot(), 'runtimes', '{"status": "starting", "mode": "paper"}')
     - pg_temp.n(:'s0', 'runtimes', '{"status": "starting", "mode": "paper"}') AS starting_delta;
SELECT ex7.ingest_bar('MES', '5m', '2026-03-09 14:35+00', 5000, 5001, 4999, 5000.5, 10) IS NOT NULL AS ingested;
SELECT pg_temp.n(ex7.metrics_snapshot(), 'runtimes', '{"status": "starting", "mode": "paper"}')
     - pg_temp.n(:'s0', 'runtimes', '{"status": "starting", "mode": "paper"}') AS starting_after_bar,
       (SELECT count(*) FROM ex7.strategy_runtimes r WHERE r.strategy_id = :'st' AND r.status IN ('running', 'error')) AS moved_on;
-- the dispatcher's entry of MES 5m: the newest bar any runtime saw there is at least this one
SELECT to_timestamp((x ->> 'last_bar_ts')::numeric) >= '2026-03-09 14:35+00' AS last_bar_at_least_this_one,
       (x ->> 'evaluated_at')::numeric > 0 AS evaluated_at_set
  FROM jsonb_array_elements(ex7.metrics_snapshot() -> 'dispatcher') x
 WHERE x @> '{"instrument": "MES", "timeframe": "5m"}';

-- the outbox: queued rows only, their age on the clock passed in
DELETE FROM ex7.alert_deliveries WHERE status = 'queued';
INSERT INTO ex7.alert_deliveries (user_id, channel_type, event, event_key, message, status, created_at, next_attempt_at)
VALUES (:'u', 'email', 'verification', 'verify:ops1', '{}', 'queued', '2026-03-09 12:00+00', '2026-03-09 12:00+00'),
       (:'u', 'sms', 'verification', 'verify:ops2', '{}', 'queued', '2026-03-09 12:30+00', '2026-03-09 13:00+00'),
       (:'u', 'telegram', 'verification', 'verify:ops3', '{}', 'sent', '2026-03-09 11:00+00', '2026-03-09 11:00+00');
SELECT ex7.metrics_snapshot('2026-03-09 12:45+00') -> 'outbox' AS outbox_at_1245;
SELECT ex7.metrics_snapshot('2026-03-09 13:00+00') -> 'outbox' AS outbox_at_1300;
-- deliveries by provider (email goes through Resend, sms through Twilio) and status
SELECT pg_temp.n(ex7.metrics_snapshot(), 'deliveries', '{"provider": "resend", "status": "queued"}') AS resend_queued,
       pg_temp.n(ex7.metrics_snapshot(), 'deliveries', '{"provider": "twilio", "status": "queued"}') AS twilio_queued,
       pg_temp.n(ex7.metrics_snapshot(), 'deliveries', '{"provider": "telegram", "status": "sent"}')
     - pg_temp.n(:'s0', 'deliveries', '{"provider": "telegram", "status": "sent"}') AS telegram_sent_delta;
DELETE FROM ex7.alert_deliveries WHERE status = 'queued';
SELECT ex7.metrics_snapshot() -> 'outbox' AS outbox_empty;
ROLLBACK;

-- an operator's function: a role bound to a user may not call it
SELECT has_function_privilege('ex7_user', 'ex7.metrics_snapshot(timestamptz)', 'EXECUTE') AS bound_role_may_call;
