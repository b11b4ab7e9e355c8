-- sql/runtimes.sql: the runtimes API (ext/sql/80_runtimes.sql): Start Runtime's gates in the contract's
-- order, the idempotent start and the 409 on an active row, Stop Runtime's semantics, List Runtimes'
-- order (started_at DESC NULLS LAST), Signals Health Me, and what delete and archive do to runtimes.
\set u1 '00000000-0000-4000-8000-000000000431'
\set u2 '00000000-0000-4000-8000-000000000432'
SELECT ex7.ensure_user(:'u1') ->> 'tier' AS u1_tier;
SELECT ex7.ensure_user(:'u2') ->> 'tier' AS u2_tier;
-- runtimes, closes and the stream need the compliance documents accepted (412 otherwise; docs/billing.md)
SELECT ex7_test.accept_compliance(ARRAY[:'u1', :'u2']::uuid[]) AS accepted;

-- runtime JSON without its random id and now() timestamps; which timestamps are set is shown instead
CREATE FUNCTION pg_temp.shown(r jsonb) RETURNS jsonb LANGUAGE sql AS $$
    SELECT r - 'id' - 'strategy_id' - 'started_at' - 'stopped_at' - 'updated_at'
        || jsonb_build_object('started', r -> 'started_at' <> 'null', 'stopped', r -> 'stopped_at' <> 'null');
$$;
-- an error whose detail carries a runtime row: the row shown like above
CREATE FUNCTION pg_temp.err(q text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    e text := ex7_test.err(q);
    d jsonb;
BEGIN
    IF e LIKE '% | {%"runtime"%' THEN
        d := split_part(e, ' | ', 2)::jsonb;
        RETURN split_part(e, ' | ', 1) || ' | ' || jsonb_set(d, '{runtime}', pg_temp.shown(d -> 'runtime'))::text;
    END IF;
    RETURN e;
END
$$;

-- one strategy per status, with names saying which
CREATE FUNCTION pg_temp.make(u uuid, name text, steps text[]) RETURNS uuid LANGUAGE plpgsql AS $$
DECLARE
    id uuid := (ex7.create_strategy(u, jsonb_build_object('name', name, 'instrument', 'MES', 'timeframe', '5m')) ->> 'id')::uuid;
    s text;
BEGIN
    FOREACH s IN ARRAY steps LOOP
        EXECUTE format('SELECT ex7.%s_strategy($1, $2)', s) USING u, id;
    END LOOP;
    RETURN id;
END
$$;
SELECT pg_temp.make(:'u1', 'Draft', '{}') AS s_draft,
       pg_temp.make(:'u1', 'Ready', '{promote}') AS s_ready,
       pg_temp.make(:'u1', 'Live', '{promote,promote}') AS s_live,
       pg_temp.make(:'u1', 'Paused', '{promote,promote,pause}') AS s_paused,
       pg_temp.make(:'u1', 'Archived', '{promote,archive}') AS s_archived,
       pg_temp.make(:'u1', 'Deleted', '{promote}') AS s_deleted,
       pg_temp.make(:'u2', 'Theirs', '{promote}') AS s_theirs \gset
SELECT ex7.delete_strategy(:'u1', :'s_deleted');

--
-- Start: the gates in order
--
-- (0) a mode other than paper / live is a 422 before any gate, even for an unknown strategy
SELECT ex7_test.err(format('SELECT ex7.start_runtime(%L, %L, %L)', :'u1', '00000000-0000-4000-8000-0000000004ff', 'sim')) AS bad_mode;
SELECT ex7_test.err(format('SELECT ex7.start_runtime(%L, %L, NULL)', :'u1', :'s_ready')) AS null_mode;
-- (1) missing or soft-deleted -> 404, whoever asks
SELECT ex7_test.err(format('SELECT ex7.start_runtime(%L, %L)', :'u1', '00000000-0000-4000-8000-0000000004ff')) AS gate_1_missing;
SELECT ex7_test.err(format('SELECT ex7.start_runtime(%L, %L)', :'u1', :'s_deleted')) AS gate_1_deleted;
SELECT ex7_test.err(format('SELECT ex7.start_runtime(%L, %L, %L)', :'u2', :'s_deleted', 'live')) AS gate_1_before_2;
-- (2) another user's -> 403, not 404, and before the status and mode gates
SELECT ex7_test.err(format('SELECT ex7.start_runtime(%L, %L)', :'u1', :'s_theirs')) AS gate_2;
SELECT ex7_test.err(format('SELECT ex7.start_runtime(%L, %L, %L)', :'u2', :'s_draft', 'live')) AS gate_2_before_3_4;
-- (3) draft and archived are not startable -> 409, before the live-mode gate
SELECT ex7_test.err(format('SELECT ex7.start_runtime(%L, %L)', :'u1', :'s_draft')) AS gate_3_draft;
SELECT ex7_test.err(format('SELECT ex7.start_runtime(%L, %L)', :'u1', :'s_archived')) AS gate_3_archived;
SELECT ex7_test.err(format('SELECT ex7.start_runtime(%L, %L, %L)', :'u1', :'s_draft', 'live')) AS gate_3_before_4;
-- (4) live mode is disabled in v1 -> 403, for every startable status
SELECT s AS status, ex7_test.err(format('SELECT ex7.start_runtime(%L, %L, %L)', :'u1', id, 'live')) AS gate_4
  FROM (VALUES ('ready', :'s_ready'::uuid), ('live', :'s_live'::uuid), ('paused', :'s_paused'::uuid)) AS v (s, id);
SELECT count(*) AS runtimes_so_far FROM ex7.strategy_runtimes WHERE user_id IN (:'u1', :'u2');
-- (5) ready, live and paused start in paper mode (the default)
SELECT pg_temp.shown(ex7.start_runtime(:'u1', :'s_ready')) AS started;
SELECT ex7.start_runtime(:'u1', :'s_live', 'paper') ->> 'status' AS live_strategy,
       ex7.start_runtime(:'u1', :'s_paused') ->> 'status' AS paused_strategy;
-- idempotent while starting: the same row, started_at unchanged
SELECT id AS rt_id, started_at AS rt_started FROM ex7.strategy_runtimes WHERE strategy_id = :'s_ready' \gset
SELECT pg_temp.shown(ex7.start_runtime(:'u1', :'s_ready')) AS again;
SELECT id = :'rt_id' AS same_row, started_at = :'rt_started' AS same_started_at, count(*) OVER () AS rows
  FROM ex7.strategy_runtimes WHERE strategy_id = :'s_ready';
-- running or draining -> 409 runtime_active with the row, which stays as it was
UPDATE ex7.strategy_runtimes SET status = 'running', last_bar_ts = '2026-04-20 13:30+00' WHERE strategy_id = :'s_ready';
SELECT pg_temp.err(format('SELECT ex7.start_runtime(%L, %L)', :'u1', :'s_ready')) AS running;
UPDATE ex7.strategy_runtimes SET status = 'draining' WHERE strategy_id = :'s_ready';
SELECT pg_temp.err(format('SELECT ex7.start_runtime(%L, %L)', :'u1', :'s_ready')) AS draining;
SELECT status, started_at = :'rt_started' AS same_started_at FROM ex7.strategy_runtimes WHERE strategy_id = :'s_ready';
-- stopped or error -> starting again: new started_at, stopped_at and error cleared, same row
UPDATE ex7.strategy_runtimes SET status = 'stopped', stopped_at = '2026-04-20 14:00+00', started_at = '2026-04-20 13:00+00'
 WHERE strategy_id = :'s_ready';
SELECT pg_temp.shown(ex7.start_runtime(:'u1', :'s_ready')) AS from_stopped;
SELECT id = :'rt_id' AS same_row, started_at > '2026-04-20 14:00+00' AS restarted, stopped_at IS NULL AS stopped_cleared
  FROM ex7.strategy_runtimes WHERE strategy_id = :'s_ready';
UPDATE ex7.strategy_runtimes SET status = 'error', error = 'feed lost', stopped_at = '2026-04-20 14:00+00' WHERE strategy_id = :'s_ready';
SELECT pg_temp.shown(ex7.start_runtime(:'u1', :'s_ready')) AS from_error;

--
-- Stop: running -> draining while it has an open signal to finish (one paper signal of Ready, open until
-- the end of this file); everything else unchanged; no row -> 404. A running runtime with nothing open
-- stops at once, and the close of a draining runtime's last signal stops it: sql/runtime_drain.sql.
--
SELECT ex7.fire_signal(:'u1', :'s_ready', 'paper', 'long', 1, 5000.00, '2026-04-20 13:30+00') ->> 'decision' AS open_signal;
UPDATE ex7.strategy_runtimes SET status = 'running' WHERE strategy_id = :'s_ready';
SELECT pg_temp.shown(ex7.stop_runtime(:'u1', :'s_ready')) AS running_to_draining;
SELECT pg_temp.shown(ex7.stop_runtime(:'u1', :'s_ready', 'paper')) AS draining_unchanged;
SELECT ex7.stop_runtime(:'u1', :'s_live') ->> 'status' AS starting_unchanged;
UPDATE ex7.strategy_runtimes SET status = 'stopped', stopped_at = '2026-04-20 15:00+00' WHERE strategy_id = :'s_ready';
SELECT ex7.stop_runtime(:'u1', :'s_ready') ->> 'status' AS stopped_unchanged;
UPDATE ex7.strategy_runtimes SET status = 'error', error = 'bad bar' WHERE strategy_id = :'s_ready';
SELECT ex7.stop_runtime(:'u1', :'s_ready') ->> 'status' AS error_unchanged;
SELECT status, error, stopped_at = '2026-04-20 15:00+00' AS stopped_at_kept FROM ex7.strategy_runtimes WHERE strategy_id = :'s_ready';
-- no row: another mode, a strategy never started, another user's runtime (the user_id predicate)
SELECT ex7_test.err(format('SELECT ex7.stop_runtime(%L, %L, %L)', :'u1', :'s_ready', 'live')) AS other_mode;
SELECT ex7_test.err(format('SELECT ex7.stop_runtime(%L, %L)', :'u1', :'s_draft')) AS never_started;
SELECT ex7_test.err(format('SELECT ex7.stop_runtime(%L, %L)', :'u2', :'s_ready')) AS other_user;
SELECT ex7_test.err(format('SELECT ex7.stop_runtime(%L, %L, %L)', :'u1', :'s_ready', 'Paper')) AS bad_mode;

--
-- List: most recently started first, never started (started_at NULL) last
--
UPDATE ex7.strategy_runtimes SET started_at = '2026-04-20 09:00+00', status = 'running', stopped_at = NULL, error = NULL
 WHERE strategy_id = :'s_ready';
UPDATE ex7.strategy_runtimes SET started_at = '2026-04-21 09:00+00' WHERE strategy_id = :'s_live';
UPDATE ex7.strategy_runtimes SET started_at = NULL WHERE strategy_id = :'s_paused';
-- a live-mode row (written by an operator: the API cannot start one in v1), started in between
INSERT INTO ex7.strategy_runtimes (strategy_id, user_id, mode, status, started_at, stopped_at, updated_at)
VALUES (:'s_live', :'u1', 'live', 'stopped', '2026-04-20 12:00+00', '2026-04-20 12:30+00', '2026-04-20 12:30+00');
SELECT i ->> 'strategy_name' AS strategy, i ->> 'mode' AS mode, i ->> 'status' AS status, i ->> 'started_at' AS started_at
  FROM jsonb_array_elements(ex7.list_runtimes(:'u1') -> 'items') WITH ORDINALITY AS e (i, o) ORDER BY o;
SELECT ARRAY(SELECT jsonb_object_keys(ex7.list_runtimes(:'u1') -> 'items' -> 0) ORDER BY 1) AS item_keys;
SELECT ex7.list_runtimes(:'u2') AS u2_runtimes;

--
-- Signals Health Me: the same rows plus the strategy's status, instrument and timeframe
--
SELECT i ->> 'strategy_name' AS strategy, i ->> 'mode' AS mode, i ->> 'status' AS status,
       i ->> 'strategy_status' AS strategy_status, i ->> 'instrument' AS instrument, i ->> 'timeframe' AS timeframe
  FROM jsonb_array_elements(ex7.signals_health_me(:'u1') -> 'items') WITH ORDINALITY AS e (i, o) ORDER BY o;
SELECT ex7.signals_health_me(:'u2') AS u2_health;

--
-- What the strategy lifecycle does to runtimes
--
-- archive drains: running -> draining, starting -> stopped (it never ran), stopped stays; Paused is untouched
SELECT ex7.archive_strategy(:'u1', :'s_ready') ->> 'status' AS archived_ready;
SELECT ex7.archive_strategy(:'u1', :'s_live') ->> 'status' AS archived_live;
SELECT s.name, r.mode, r.status, r.stopped_at IS NOT NULL AS stopped_at_set
  FROM ex7.strategy_runtimes r JOIN ex7.strategies s ON s.id = r.strategy_id
 WHERE r.user_id = :'u1' ORDER BY s.name, r.mode;
-- pause leaves runtimes alone (paused strategies are startable: gate 3)
SELECT pg_temp.make(:'u1', 'Pausing', '{promote,promote}') AS s_pausing \gset
SELECT ex7.start_runtime(:'u1', :'s_pausing') ->> 'status' AS started;
UPDATE ex7.strategy_runtimes SET status = 'running' WHERE strategy_id = :'s_pausing';
SELECT ex7.pause_strategy(:'u1', :'s_pausing') ->> 'status' AS paused,
       (SELECT status FROM ex7.strategy_runtimes WHERE strategy_id = :'s_pausing') AS runtime;
-- delete stops every active runtime at once, in the same transaction
SELECT ex7.delete_strategy(:'u1', :'s_pausing');
SELECT status, stopped_at IS NOT NULL AS stopped_at_set FROM ex7.strategy_runtimes WHERE strategy_id = :'s_pausing';
-- its row stays in List Runtimes (every row the caller owns) and leaves Health Me (not their strategy any more)
SELECT (SELECT count(*) FROM jsonb_array_elements(ex7.list_runtimes(:'u1') -> 'items') i WHERE i ->> 'strategy_name' = 'Pausing') AS in_list,
       (SELECT count(*) FROM jsonb_array_elements(ex7.signals_health_me(:'u1') -> 'items') i WHERE i ->> 'strategy_name' = 'Pausing') AS in_health;
-- stop on a deleted strategy's runtime: it is stopped, returned unchanged
SELECT ex7.stop_runtime(:'u1', :'s_pausing') ->> 'status' AS stop_deleted;
