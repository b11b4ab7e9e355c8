-- sql/events.sql: the per-user event log behind the SSE stream (ext/sql/55_events.sql) as fire and close
-- write it: ids dense per user whatever other users do, nothing consumed by a rollback or a refusal,
-- replay after an id (the Last-Event-ID of a reconnecting client), per strategy, and its 422s. The
-- ordering under concurrency is specs/event_order.spec.
\set ue '00000000-0000-4000-8000-000000000241'
\set ue2 '00000000-0000-4000-8000-000000000242'
\set se1 '00000000-0000-4000-8000-0000024100a1'
\set se2 '00000000-0000-4000-8000-0000024100a2'
\set se3 '00000000-0000-4000-8000-0000024200a1'

SELECT ex7.ensure_user(u) IS NOT NULL AS ready FROM unnest(ARRAY[:'ue', :'ue2']::uuid[]) AS u;
-- runtimes, closes and the stream need the compliance documents accepted (412 otherwise; docs/billing.md)
SELECT ex7_test.accept_compliance(ARRAY[:'ue', :'ue2']::uuid[]) AS accepted;
INSERT INTO ex7.strategies (id, user_id, name, instrument, timeframe, etag) VALUES
    (:'se1', :'ue', 'one', 'MNQ', '2m', 'etag-1'),
    (:'se2', :'ue', 'two', 'MES', '5m', 'etag-2'),
    (:'se3', :'ue2', 'other', 'MNQ', '2m', 'etag-3');
INSERT INTO ex7.strategy_versions (strategy_id, version, user_id, graph) VALUES
    (:'se1', 1, :'ue', '{}'), (:'se2', 1, :'ue', '{}'), (:'se3', 1, :'ue2', '{}');
SELECT ex7.set_risk_limits(u, 'paper', '{"max_open_positions": 100}') IS NOT NULL AS roomy
  FROM unnest(ARRAY[:'ue', :'ue2']::uuid[]) AS u;
-- a new user starts at 0: a stream without Last-Event-ID starts after the newest committed event
SELECT ex7.last_event_id(:'ue') AS ue_last, ex7.last_event_id('00000000-0000-4000-8000-0000000002ff') AS unknown_user;

-- two users fire in turn; each one's ids count 1, 2, 3 ... on their own
SELECT who, ex7.fire_signal(u, s, 'paper', 'long', 1, 20000.00, '2026-11-20 14:30+00', tag) ->> 'event_id' AS event_id
  FROM (VALUES (1, 'ue', :'ue'::uuid, :'se1'::uuid, 'e1'), (2, 'ue2', :'ue2'::uuid, :'se3'::uuid, 'x1'),
               (3, 'ue', :'ue'::uuid, :'se2'::uuid, 'e2'), (4, 'ue2', :'ue2'::uuid, :'se3'::uuid, 'x2'),
               (5, 'ue', :'ue'::uuid, :'se1'::uuid, 'e3')) AS f(n, who, u, s, tag)
 ORDER BY n;

-- a rolled-back fire gives its id back: the counter is a column of the user row, rolled back with it
BEGIN;
SELECT ex7.fire_signal(:'ue', :'se2', 'paper', 'long', 1, 20000.00, '2026-11-20 14:32+00', 'rolled back') ->> 'event_id' AS event_id;
ROLLBACK;
-- refusals write no event: a 409 close, a 422 fire, a fire the gate blocks
SELECT id AS e1 FROM ex7.signals WHERE user_id = :'ue' AND tag = 'e1' \gset
SELECT ex7.close_signal(:'ue', :'e1', 20001.00) ->> 'status' AS closed;
SELECT ex7_test.err(format('SELECT ex7.close_signal(%L, %L, 20001.00)', :'ue', :'e1')) LIKE 'X7409: signal is not open |%' AS second_close_409;
SELECT ex7_test.err(format('SELECT ex7.fire_signal(%L, %L, %L, %L, 1, 20000.10, %L)', :'ue', :'se1', 'paper', 'long', '2026-11-20 14:32+00'));
SELECT ex7.set_risk_limits(:'ue', 'live', '{"max_trades_per_day": 1}') IS NOT NULL AS live_one_trade;
SELECT ex7.fire_signal(:'ue', :'se1', 'live', 'long', 1, 20000.00, '2026-11-20 14:34+00', 'live one') ->> 'event_id' AS event_id;
SELECT ex7.fire_signal(:'ue', :'se1', 'live', 'long', 1, 20000.00, '2026-11-20 14:36+00', 'live two') ->> 'decision' AS decision;
SELECT ex7.fire_signal(:'ue', :'se2', 'paper', 'short', 1, 20000.00, '2026-11-20 14:38+00', 'e4') ->> 'event_id' AS event_id;

-- the log: dense ids 1..n per user, each with the signal as it was at that moment
SELECT e.event_id, e.kind, e.payload ->> 'tag' AS tag, e.payload ->> 'status' AS status, e.payload ->> 'mode' AS mode,
       e.strategy_id = :'se1' AS se1, e.payload ->> 'id' = e.signal_id::text AS payload_of_signal
  FROM ex7.replay_since_event_id(:'ue', 0) AS e;
SELECT ex7.last_event_id(:'ue') AS ue_last, ex7.last_event_id(:'ue2') AS ue2_last,
       (SELECT max(seq) = count(*) FROM ex7.signal_events WHERE user_id = :'ue') AS dense;
SELECT e.event_id, e.payload ->> 'tag' AS tag FROM ex7.replay_since_event_id(:'ue2', 0) AS e;

-- replay after an id: strictly greater, oldest first; after the newest, nothing
SELECT e.event_id, e.kind, e.payload ->> 'tag' AS tag FROM ex7.replay_since_event_id(:'ue', 3) AS e;
SELECT count(*) AS after_newest FROM ex7.replay_since_event_id(:'ue', ex7.last_event_id(:'ue'));
SELECT count(*) AS beyond_newest FROM ex7.replay_since_event_id(:'ue', 1000000);
-- one strategy's events (the stream's strategy_id filter); another user's strategy gives nothing
SELECT e.event_id, e.kind, e.payload ->> 'tag' AS tag FROM ex7.replay_since_event_id(:'ue', 0, :'se2') AS e;
SELECT count(*) AS foreign_strategy FROM ex7.replay_since_event_id(:'ue', 0, :'se3');
-- at most p_limit events, the oldest ones: a client far behind catches up in batches
SELECT e.event_id FROM ex7.replay_since_event_id(:'ue', 0, NULL, 2) AS e;
SELECT e.event_id FROM ex7.replay_since_event_id(:'ue', 2, NULL, 2) AS e;

-- 422: Last-Event-ID must be a non-negative integer; limit 1..10000
SELECT ex7_test.err(format('SELECT * FROM ex7.replay_since_event_id(%L, -1)', :'ue'));
SELECT ex7_test.err(format('SELECT * FROM ex7.replay_since_event_id(%L, NULL)', :'ue'));
SELECT ex7_test.err(format('SELECT * FROM ex7.replay_since_event_id(%L, 0, NULL, 0)', :'ue'));
SELECT ex7_test.err(format('SELECT * FROM ex7.replay_since_event_id(%L, 0, NULL, 10001)', :'ue'));

-- The NOTIFY payload (ex7._event_notification): ids and instrument for ex7d's filters, then the signal
-- JSON as the log stores it, last; without the signal when that would reach the 8000-byte limit.
SELECT e.event_id, n.note::jsonb - 'signal' = pg_catalog.jsonb_build_object('event_id', e.event_id, 'user_id', :'ue',
           'kind', e.kind, 'signal_id', e.signal_id, 'strategy_id', e.strategy_id, 'instrument', e.payload ->> 'instrument') AS head_ok,
       n.note LIKE '%, "signal": ' || e.payload::text || '}' AS signal_last_as_logged,
       (pg_catalog.left(n.note, pg_catalog.strpos(n.note, ', "signal": ') - 1) || '}')::jsonb = n.note::jsonb - 'signal' AS header_first
  FROM ex7.replay_since_event_id(:'ue', 0, NULL, 2) AS e,
       LATERAL (SELECT ex7._event_notification(e.event_id, :'ue', e.kind, e.signal_id, e.strategy_id, e.payload) AS note) AS n;
SELECT ex7._event_notification(7, :'ue', 'signal', :'se1', :'se1', pg_catalog.jsonb_build_object('instrument', 'MNQ', 'tag', repeat('x', 7700)))::jsonb ? 'signal' AS big_keeps_signal,
       ex7._event_notification(7, :'ue', 'signal', :'se1', :'se1', pg_catalog.jsonb_build_object('instrument', 'MNQ', 'tag', repeat('x', 7900))) AS too_big;

-- ex7.stream_replay: the banner row first (event_id = where the replay starts), then the events
SELECT s.head, s.event_id, s.event, s.instrument, s.data::jsonb = ex7.compliance_banner() AS banner
  FROM ex7.stream_replay(:'ue') AS s;
SELECT ex7.compliance_banner() ->> 'rule' AS rule, pg_catalog.length(ex7.compliance_banner() ->> 'text') AS text_length,
       ex7.compliance_banner() ->> 'text' LIKE 'HYPOTHETICAL OR SIMULATED PERFORMANCE RESULTS HAVE CERTAIN INHERENT LIMITATIONS.%SIMILAR TO THOSE SHOWN.' AS verbatim;
-- with Last-Event-ID: the events after it, the signal JSON as logged; the instrument of each for the filter
SELECT s.head, s.event_id, s.event, s.instrument, s.data::jsonb ->> 'tag' AS tag,
       s.data = (SELECT e.payload::text FROM ex7.signal_events e WHERE e.user_id = :'ue' AND e.seq = s.event_id) AS as_logged
  FROM ex7.stream_replay(:'ue', '3') AS s;
-- one strategy, a batch limit, an empty header as none, an id beyond head starts at head, the filter normalized
SELECT s.event_id, s.event, s.data::jsonb ->> 'tag' AS tag FROM ex7.stream_replay(:'ue', '0', :'se2') AS s WHERE s.event <> 'compliance';
SELECT s.event_id, s.event FROM ex7.stream_replay(:'ue', '1', NULL, NULL, 2) AS s;
SELECT s.event_id, s.event FROM ex7.stream_replay(:'ue', '') AS s;
SELECT s.head, s.event_id, s.event FROM ex7.stream_replay(:'ue', '99') AS s;
SELECT s.event_id, s.instrument FROM ex7.stream_replay(:'ue', NULL, NULL, 'mnq') AS s;
-- another user's log is not reachable: the same ids, their own events
SELECT s.event_id, s.data::jsonb ->> 'tag' AS tag FROM ex7.stream_replay(:'ue2', '0') AS s WHERE s.event <> 'compliance';
-- 422 with the HTTP locators
SELECT ex7_test.err(format('SELECT * FROM ex7.stream_replay(%L, %L)', :'ue', 'abc'));
SELECT ex7_test.err(format('SELECT * FROM ex7.stream_replay(%L, %L)', :'ue', '-1'));
SELECT ex7_test.err(format('SELECT * FROM ex7.stream_replay(%L, %L)', :'ue', '1234567890123456789'));
SELECT ex7_test.err(format('SELECT * FROM ex7.stream_replay(%L, NULL, NULL, %L)', :'ue', repeat('x', 33)));
SELECT ex7_test.err(format('SELECT * FROM ex7.stream_replay(%L, NULL, NULL, %L)', :'ue', ''));
SELECT ex7_test.err(format('SELECT * FROM ex7.stream_replay(%L, %L, NULL, NULL, 0)', :'ue', '1'));
