-- sql/strategies.sql: the strategies API (ext/sql/30_strategies.sql): create with every 422 locator, get,
-- list filters and keyset paging, update with and without If-Match, new versions on graph change, name
-- conflicts, soft delete, and every lifecycle transition through the API.
\set u1 '00000000-0000-4000-8000-000000000401'
\set u2 '00000000-0000-4000-8000-000000000402'
\set u3 '00000000-0000-4000-8000-000000000403'
SELECT ex7.ensure_user(:'u1', 'strategies-1@example.com') ->> 'tier' AS u1_tier;
SELECT ex7.ensure_user(:'u2', 'strategies-2@example.com') ->> 'tier' AS u2_tier;

-- ids, etags and timestamps are random or now(): checked on their own, then masked for display
CREATE FUNCTION pg_temp.shown(j jsonb) RETURNS jsonb LANGUAGE sql AS $$
    SELECT j - 'id' - 'etag' - 'created_at' - 'updated_at';
$$;
CREATE FUNCTION pg_temp.err(q text) RETURNS text LANGUAGE sql AS $$
    SELECT regexp_replace(ex7_test.err(q), '"[0-9a-f]{16}"', '"<etag>"', 'g');
$$;
-- a retired contract: refused for new strategies, kept by the strategies that already use it
INSERT INTO ex7.instruments (symbol, name, tick_size, tick_value, commission_per_side, active)
VALUES ('X7OLD', 'Retired test contract', 0.25, 1.25, 0.62, false);

--
-- Create
--
-- a minimal body: name trimmed, description '', no tags, the empty graph, draft at version 1
SELECT ex7.create_strategy(:'u1', '{"name": "  Opening Range  ", "instrument": "MNQ", "timeframe": "5m"}') AS j \gset
SELECT pg_temp.shown(:'j');
SELECT (:'j'::jsonb ->> 'id') ~ '^[0-9a-f-]{36}$' AS id_is_uuid,
       (:'j'::jsonb ->> 'etag') ~ '^[0-9a-f]{16}$' AS etag_16_hex,
       :'j'::jsonb ->> 'etag' = ex7._strategy_etag((:'j'::jsonb ->> 'id')::uuid, 1) AS etag_of_revision_1,
       :'j'::jsonb -> 'created_at' = :'j'::jsonb -> 'updated_at' AS created_is_updated;
SELECT :'j'::jsonb ->> 'id' AS orb_id, :'j'::jsonb ->> 'etag' AS orb_etag0 \gset
SELECT version, note, graph, rolled_back_from FROM ex7.strategy_versions WHERE strategy_id = :'orb_id';

-- a full body: tags trimmed and deduplicated in first-seen order, graph with meta, note on version 1
SELECT pg_temp.shown(ex7.create_strategy(:'u1', '{
    "name": "Trend", "description": "EMA cross on ES", "instrument": "ES", "timeframe": "15m",
    "tags": ["trend", " ema ", "trend", "ema"],
    "graph": {"nodes": [{"id": "bar", "type": "close"}, {"id": "fast", "type": "ema", "params": {"period": 9}},
                        {"id": "x", "type": "crosses_above"}, {"id": "buy", "type": "enter_long"}],
              "edges": [{"from": "bar", "to": "fast"}, {"from": "bar", "to": "x", "port": "a"},
                        {"from": "fast", "to": "x", "port": "b"}, {"from": "x", "to": "buy"}], "meta": {"zoom": 1}},
    "note": "first cut"}'));
SELECT s.name, v.version, v.note FROM ex7.strategies s JOIN ex7.strategy_versions v ON v.strategy_id = s.id
 WHERE s.user_id = :'u1' AND s.name = 'Trend';

-- every 422, with the locator the HTTP route reports
WITH base (b) AS (SELECT '{"name": "N", "instrument": "MNQ", "timeframe": "5m"}'::jsonb),
     g (ok) AS (SELECT '{"nodes": [{"id": "a", "type": "session_filter"}, {"id": "b", "type": "enter_long"}], "edges": [{"from": "a", "to": "b"}]}'::jsonb),
     cases (n, label, body) AS (
    SELECT v.n, v.label, v.body FROM base, g, LATERAL (VALUES
        (1, 'body not an object', '[]'::jsonb),
        (2, 'unknown key', b || '{"timefram": "5m"}'),
        (3, 'name missing', b - 'name'),
        (4, 'name null', b || '{"name": null}'),
        (5, 'name not a string', b || '{"name": 7}'),
        (6, 'name blank', b || '{"name": "   "}'),
        (7, 'name 121 chars', b || jsonb_build_object('name', repeat('n', 121))),
        (8, 'description not a string', b || '{"description": ["x"]}'),
        (9, 'description 4001 chars', b || jsonb_build_object('description', repeat('d', 4001))),
        (10, 'instrument missing', b - 'instrument'),
        (11, 'instrument unknown', b || '{"instrument": "ZZZ"}'),
        (12, 'instrument inactive', b || '{"instrument": "X7OLD"}'),
        (13, 'timeframe missing', b - 'timeframe'),
        (14, 'timeframe unknown', b || '{"timeframe": "3m"}'),
        (15, 'tags not a list', b || '{"tags": "orb"}'),
        (16, 'tag not a string', b || '{"tags": ["orb", 5]}'),
        (17, 'tag blank', b || '{"tags": ["orb", "ok", " "]}'),
        (18, 'tag 33 chars', b || jsonb_build_object('tags', jsonb_build_array(repeat('t', 33)))),
        (19, '21 distinct tags', b || jsonb_build_object('tags', (SELECT jsonb_agg('t' || i) FROM generate_series(1, 21) i))),
        (20, 'graph null', b || '{"graph": null}'),
        (21, 'graph not an object', b || '{"graph": []}'),
        (22, 'graph: nodes missing', b || '{"graph": {"edges": []}}'),
        (23, 'graph: nodes not a list', b || '{"graph": {"nodes": {}, "edges": []}}'),
        (24, 'graph: node not an object', b || jsonb_build_object('graph', ok || '{"nodes": [{"id": "a", "type": "session_filter"}, 3]}')),
        (25, 'graph: node id missing', b || jsonb_build_object('graph', ok || '{"nodes": [{"id": "a", "type": "session_filter"}, {"type": "enter_long"}]}')),
        (26, 'graph: node id not a string', b || jsonb_build_object('graph', ok || '{"nodes": [{"id": 1, "type": "session_filter"}]}')),
        (27, 'graph: node id empty', b || jsonb_build_object('graph', ok || '{"nodes": [{"id": "", "type": "session_filter"}]}')),
        (28, 'graph: node type missing', b || jsonb_build_object('graph', ok || '{"nodes": [{"id": "a"}]}')),
        (29, 'graph: node id duplicated', b || jsonb_build_object('graph', ok || '{"nodes": [{"id": "a", "type": "session_filter"}, {"id": "b", "type": "enter_long"}, {"id": "c", "type": "not"}, {"id": "a", "type": "not"}]}')),
        (30, 'graph: edges missing', b || jsonb_build_object('graph', ok - 'edges')),
        (31, 'graph: edges not a list', b || jsonb_build_object('graph', ok || '{"edges": "a->b"}')),
        (32, 'graph: edge not an object', b || jsonb_build_object('graph', ok || '{"edges": [{"from": "a", "to": "b"}, ["a", "b"]]}')),
        (33, 'graph: edge from missing', b || jsonb_build_object('graph', ok || '{"edges": [{"to": "b"}]}')),
        (34, 'graph: edge from not a string', b || jsonb_build_object('graph', ok || '{"edges": [{"from": 1, "to": "b"}]}')),
        (35, 'graph: edge to an unknown node', b || jsonb_build_object('graph', ok || '{"edges": [{"from": "a", "to": "b"}, {"from": "b", "to": "zz"}]}')),
        (36, 'graph: meta not an object', b || jsonb_build_object('graph', ok || '{"meta": "x"}')),
        (37, 'graph: unknown key', b || jsonb_build_object('graph', ok || '{"viewport": {}}')),
        (38, 'note not a string', b || '{"note": 1}'),
        (39, 'note 1001 chars', b || jsonb_build_object('note', repeat('n', 1001)))
    ) AS v (n, label, body))
SELECT n, label, ex7_test.err(format('SELECT ex7.create_strategy(%L, %L)', :'u1', body)) AS outcome
  FROM cases ORDER BY n;
-- nothing of the refused bodies was stored
SELECT count(*) AS u1_strategies FROM ex7.strategies WHERE user_id = :'u1';
-- 25 tags that deduplicate to 20 are fine; an acting user NULL is a 401
SELECT ex7.create_strategy(:'u1', jsonb_build_object('name', 'Many tags', 'instrument', 'MNQ', 'timeframe', '1h',
           'tags', (SELECT jsonb_agg('t' || (i % 20)) FROM generate_series(0, 24) i))) -> 'tags' AS tags;
SELECT ex7_test.err($$SELECT ex7.create_strategy(NULL, '{"name": "N", "instrument": "MNQ", "timeframe": "5m"}')$$);

-- names are unique per owner (after trimming); another user may reuse one
SELECT ex7_test.err(format('SELECT ex7.create_strategy(%L, %L)', :'u1',
    '{"name": "Opening Range ", "instrument": "ES", "timeframe": "1m"}'));
SELECT pg_temp.shown(ex7.create_strategy(:'u2', '{"name": "Opening Range", "instrument": "ES", "timeframe": "1m"}')) ->> 'name' AS u2_name;

--
-- Get
--
SELECT pg_temp.shown(ex7.get_strategy(:'u1', :'orb_id'));
SELECT ex7.get_strategy(:'u1', :'orb_id') = :'j'::jsonb AS get_equals_create;
-- another user's strategy and an unknown id are the same 404
SELECT ex7_test.err(format('SELECT ex7.get_strategy(%L, %L)', :'u2', :'orb_id'));
SELECT ex7_test.err(format('SELECT ex7.get_strategy(%L, %L)', :'u1', '00000000-0000-4000-8000-0000000004ff'));

--
-- List: fixtures with fixed ids and updated_at (ties on purpose) for user u3
--
SELECT ex7.ensure_user(:'u3') ->> 'tier' AS u3_tier;
INSERT INTO ex7.strategies (id, user_id, name, instrument, timeframe, tags, status, etag, created_at, updated_at, deleted_at)
VALUES ('00000000-0000-4000-8000-00000004a001', :'u3', 'L1', 'MNQ', '5m', '{orb}', 'draft', 'e1', '2026-02-01 12:00+00', '2026-03-02 09:00+00', NULL),
       ('00000000-0000-4000-8000-00000004a002', :'u3', 'L2', 'ES', '5m', '{orb,trend}', 'ready', 'e2', '2026-02-01 12:00+00', '2026-03-01 10:00+00', NULL),
       ('00000000-0000-4000-8000-00000004a003', :'u3', 'L3', 'MNQ', '5m', '{trend}', 'live', 'e3', '2026-02-01 12:00+00', '2026-03-01 10:00+00', NULL),
       ('00000000-0000-4000-8000-00000004a004', :'u3', 'L4', 'MNQ', '5m', '{}', 'draft', 'e4', '2026-02-01 12:00+00', '2026-03-01 10:00+00', NULL),
       ('00000000-0000-4000-8000-00000004a005', :'u3', 'L5', 'CL', '5m', '{orb}', 'archived', 'e5', '2026-02-01 12:00+00', '2026-02-27 08:00+00', NULL),
       ('00000000-0000-4000-8000-00000004a006', :'u3', 'L6', 'MNQ', '5m', '{orb}', 'paused', 'e6', '2026-02-01 12:00+00', '2026-02-27 08:00+00', NULL),
       ('00000000-0000-4000-8000-00000004a007', :'u3', 'L7 deleted', 'MNQ', '5m', '{orb}', 'draft', 'e7', '2026-02-01 12:00+00', '2026-03-03 00:00+00', '2026-03-04 00:00+00');
INSERT INTO ex7.strategy_versions (strategy_id, version, user_id, graph)
SELECT id, 1, user_id, '{"nodes": [], "edges": []}' FROM ex7.strategies WHERE user_id = :'u3';

CREATE FUNCTION pg_temp.names(page jsonb) RETURNS text LANGUAGE sql AS $$
    SELECT coalesce(string_agg(i ->> 'name', ' ' ORDER BY o), '-') || CASE WHEN page -> 'next_cursor' = 'null' THEN ' | end' ELSE ' | more' END
      FROM jsonb_array_elements(page -> 'items') WITH ORDINALITY AS e (i, o);
$$;
-- (updated_at DESC, id DESC): L1, then the 03-01 tie by id DESC (L4 L3 L2), then L6 L5; L7 is deleted
SELECT pg_temp.names(ex7.list_strategies(:'u3')) AS all_items;
-- list items are summaries: no graph
SELECT ex7.list_strategies(:'u3', p_limit => 1) -> 'items' -> 0 AS first_item;

-- pages of 2 cross the tie group: every row exactly once, in order
SELECT ex7.list_strategies(:'u3', p_limit => 2) AS p \gset
SELECT pg_temp.names(:'p') AS page_1;
SELECT ex7.list_strategies(:'u3', p_cursor => :'p'::jsonb ->> 'next_cursor', p_limit => 2) AS p \gset
SELECT pg_temp.names(:'p') AS page_2;
SELECT ex7.list_strategies(:'u3', p_cursor => :'p'::jsonb ->> 'next_cursor', p_limit => 2) AS p \gset
SELECT pg_temp.names(:'p') AS page_3;
-- pages of 3; an exact last page says end
SELECT ex7.list_strategies(:'u3', p_limit => 3) AS p \gset
SELECT pg_temp.names(:'p') AS page_1;
SELECT pg_temp.names(ex7.list_strategies(:'u3', p_cursor => :'p'::jsonb ->> 'next_cursor', p_limit => 3)) AS page_2;
SELECT pg_temp.names(ex7.list_strategies(:'u3', p_limit => 6)) AS exact;

-- filters, alone, combined and paged
SELECT pg_temp.names(ex7.list_strategies(:'u3', p_status => 'draft')) AS drafts;
SELECT pg_temp.names(ex7.list_strategies(:'u3', p_instrument => 'MNQ')) AS mnq;
SELECT pg_temp.names(ex7.list_strategies(:'u3', p_tag => 'orb')) AS tag_orb;
SELECT pg_temp.names(ex7.list_strategies(:'u3', p_tag => 'orb', p_status => 'archived')) AS orb_archived;
SELECT pg_temp.names(ex7.list_strategies(:'u3', p_instrument => 'NQ')) AS nq;
SELECT ex7.list_strategies(:'u3', p_instrument => 'MNQ', p_limit => 2) AS p \gset
SELECT pg_temp.names(:'p') AS mnq_page_1;
SELECT pg_temp.names(ex7.list_strategies(:'u3', p_instrument => 'MNQ', p_cursor => :'p'::jsonb ->> 'next_cursor', p_limit => 2)) AS mnq_page_2;
-- another user sees none of them
SELECT ex7.list_strategies(:'u2', p_instrument => 'MNQ') AS u2_mnq;

-- bad input: status, limit bounds, a tampered cursor, another user's cursor, another list's cursor
SELECT ex7_test.err(format('SELECT ex7.list_strategies(%L, p_status => %L)', :'u3', 'deleted'));
SELECT ex7_test.err(format('SELECT ex7.list_strategies(%L, p_limit => 0)', :'u3'));
SELECT ex7_test.err(format('SELECT ex7.list_strategies(%L, p_limit => 201)', :'u3'));
SELECT jsonb_array_length(ex7.list_strategies(:'u3', p_limit => 200) -> 'items') AS limit_200;
SELECT ex7.list_strategies(:'u3', p_limit => 2) ->> 'next_cursor' AS c \gset
SELECT ex7_test.err(format('SELECT ex7.list_strategies(%L, p_cursor => %L)', :'u3',
    left(:'c', 4) || CASE substr(:'c', 5, 1) WHEN 'A' THEN 'B' ELSE 'A' END || substr(:'c', 6)));
SELECT ex7_test.err(format('SELECT ex7.list_strategies(%L, p_cursor => %L)', :'u2', :'c'));
SELECT ex7_test.err(format('SELECT ex7.list_strategies(%L, p_cursor => %L)', :'u3',
    ex7.cursor_encode('signals', :'u3', '2026-03-01 10:00+00', '00000000-0000-4000-8000-00000004a004')));

--
-- Update
--
-- without If-Match: a rename bumps revision, etag and updated_at; no new version
SELECT ex7.update_strategy(:'u1', :'orb_id', '{"name": "ORB"}') AS j \gset
SELECT :'j'::jsonb ->> 'name' AS name, :'j'::jsonb -> 'current_version' AS current_version,
       :'j'::jsonb ->> 'etag' = ex7._strategy_etag(:'orb_id', 2) AS etag_of_revision_2,
       (:'j'::jsonb ->> 'updated_at')::timestamptz > (:'j'::jsonb ->> 'created_at')::timestamptz AS updated_later;
SELECT :'j'::jsonb ->> 'etag' AS orb_etag1 \gset
-- If-Match as the HTTP header sends it (quoted), as the bare token, in a list, and "*"
SELECT ex7.update_strategy(:'u1', :'orb_id', '{"description": "first 30 minutes"}', '"' || :'orb_etag1' || '"') ->> 'description' AS quoted;
SELECT ex7.update_strategy(:'u1', :'orb_id', '{"tags": ["orb"]}', ex7._strategy_etag(:'orb_id', 3)) -> 'tags' AS bare;
SELECT ex7.update_strategy(:'u1', :'orb_id', '{"timeframe": "1m"}', '"0000000000000000", "' || ex7._strategy_etag(:'orb_id', 4) || '"') ->> 'timeframe' AS listed;
SELECT ex7.update_strategy(:'u1', :'orb_id', '{"timeframe": "5m"}', '*') ->> 'etag' = ex7._strategy_etag(:'orb_id', 6) AS star;
-- a stale etag, and a weak one (If-Match compares strongly), are 409 with the current etag
SELECT pg_temp.err(format('SELECT ex7.update_strategy(%L, %L, %L, %L)', :'u1', :'orb_id', '{"name": "Stale"}', :'orb_etag1'));
SELECT pg_temp.err(format('SELECT ex7.update_strategy(%L, %L, %L, %L)', :'u1', :'orb_id', '{"name": "Weak"}',
    'W/"' || ex7._strategy_etag(:'orb_id', 6) || '"'));
SELECT name, revision FROM ex7.strategies WHERE id = :'orb_id';
-- a request that changes nothing keeps the etag (the same values, a note without a graph, {})
SELECT ex7.update_strategy(:'u1', :'orb_id', '{"name": " ORB ", "timeframe": "5m", "tags": ["orb", "orb"]}') ->> 'etag' = ex7._strategy_etag(:'orb_id', 6) AS unchanged;
SELECT ex7.update_strategy(:'u1', :'orb_id', '{"note": "nothing"}') ->> 'etag' = ex7._strategy_etag(:'orb_id', 6) AS note_alone;
SELECT ex7.update_strategy(:'u1', :'orb_id', '{}') ->> 'etag' = ex7._strategy_etag(:'orb_id', 6) AS empty_patch;
-- a new graph makes version 2 with the note; the same graph again (keys in another order) does not
SELECT pg_temp.shown(ex7.update_strategy(:'u1', :'orb_id',
    '{"graph": {"nodes": [{"id": "bar", "type": "close"}, {"id": "orb", "type": "opening_range"}, {"id": "up", "type": "crosses_above"}, {"id": "buy", "type": "enter_long"}],
                "edges": [{"from": "bar", "to": "up", "port": "a"}, {"from": "orb", "to": "up", "port": "b"}, {"from": "up", "to": "buy"}]}, "note": "range node"}'));
SELECT ex7.update_strategy(:'u1', :'orb_id',
    '{"graph": {"edges": [{"port": "a", "to": "up", "from": "bar"}, {"to": "up", "from": "orb", "port": "b"}, {"to": "buy", "from": "up"}],
                "nodes": [{"type": "close", "id": "bar"}, {"type": "opening_range", "id": "orb"}, {"id": "up", "type": "crosses_above"}, {"type": "enter_long", "id": "buy"}]}, "note": "same"}') -> 'current_version' AS still_2;
SELECT version, note, jsonb_array_length(graph -> 'nodes') AS nodes FROM ex7.strategy_versions WHERE strategy_id = :'orb_id' ORDER BY version;
-- 422 before anything else; 404 for another user's strategy; 409 for a taken name
SELECT ex7_test.err(format('SELECT ex7.update_strategy(%L, %L, %L)', :'u1', :'orb_id', '{"status": "live"}'));
SELECT ex7_test.err(format('SELECT ex7.update_strategy(%L, %L, %L)', :'u1', :'orb_id', '{"name": null}'));
SELECT ex7_test.err(format('SELECT ex7.update_strategy(%L, %L, %L)', :'u1', :'orb_id', '{"graph": {"nodes": []}}'));
SELECT ex7_test.err(format('SELECT ex7.update_strategy(%L, %L, %L)', :'u1', :'orb_id', '{"instrument": "X7OLD"}'));
SELECT ex7_test.err(format('SELECT ex7.update_strategy(%L, %L, %L)', :'u2', :'orb_id', '{"name": "Mine"}'));
SELECT ex7_test.err(format('SELECT ex7.update_strategy(%L, %L, %L)', :'u1', :'orb_id', '{"name": "Trend"}'));
-- a strategy whose instrument was retired keeps it, and can still be edited
UPDATE ex7.strategies SET instrument = 'X7OLD' WHERE id = :'orb_id';
SELECT ex7.update_strategy(:'u1', :'orb_id', '{"instrument": "X7OLD", "description": "on a retired contract"}') ->> 'instrument' AS kept;
SELECT ex7.update_strategy(:'u1', :'orb_id', '{"instrument": "MNQ"}') ->> 'instrument' AS moved;
DELETE FROM ex7.instruments WHERE symbol = 'X7OLD';

--
-- Lifecycle through the API: every edge, with the allowed set after each step
--
SELECT ex7.promote_strategy(:'u1', :'orb_id') AS j \gset
SELECT :'j'::jsonb ->> 'status' AS status, :'j'::jsonb -> 'allowed_transitions' AS allowed;
SELECT ex7.promote_strategy(:'u1', :'orb_id') AS j \gset
SELECT :'j'::jsonb ->> 'status' AS status, :'j'::jsonb -> 'allowed_transitions' AS allowed;
SELECT ex7_test.err(format('SELECT ex7.promote_strategy(%L, %L)', :'u1', :'orb_id')) AS promote_live;
SELECT ex7_test.err(format('SELECT ex7.resume_strategy(%L, %L)', :'u1', :'orb_id')) AS resume_live;
SELECT ex7_test.err(format('SELECT ex7.unarchive_strategy(%L, %L)', :'u1', :'orb_id')) AS unarchive_live;
SELECT ex7.pause_strategy(:'u1', :'orb_id') AS j \gset
SELECT :'j'::jsonb ->> 'status' AS status, :'j'::jsonb -> 'allowed_transitions' AS allowed;
SELECT ex7_test.err(format('SELECT ex7.pause_strategy(%L, %L)', :'u1', :'orb_id')) AS pause_paused;
SELECT ex7_test.err(format('SELECT ex7.promote_strategy(%L, %L)', :'u1', :'orb_id')) AS promote_paused;
SELECT ex7.resume_strategy(:'u1', :'orb_id') AS j \gset
SELECT :'j'::jsonb ->> 'status' AS status, :'j'::jsonb -> 'allowed_transitions' AS allowed;
SELECT ex7.archive_strategy(:'u1', :'orb_id') AS j \gset
SELECT :'j'::jsonb ->> 'status' AS status, :'j'::jsonb -> 'allowed_transitions' AS allowed;
SELECT ex7_test.err(format('SELECT ex7.archive_strategy(%L, %L)', :'u1', :'orb_id')) AS archive_archived;
SELECT ex7_test.err(format('SELECT ex7.promote_strategy(%L, %L)', :'u1', :'orb_id')) AS promote_archived;
-- an archived strategy is frozen: update is 409 strategy_archived
SELECT ex7_test.err(format('SELECT ex7.update_strategy(%L, %L, %L)', :'u1', :'orb_id', '{"name": "Thawed"}'));
SELECT ex7.unarchive_strategy(:'u1', :'orb_id') AS j \gset
SELECT :'j'::jsonb ->> 'status' AS status, :'j'::jsonb -> 'allowed_transitions' AS allowed;
SELECT ex7_test.err(format('SELECT ex7.unarchive_strategy(%L, %L)', :'u1', :'orb_id')) AS unarchive_draft;
SELECT ex7_test.err(format('SELECT ex7.pause_strategy(%L, %L)', :'u1', :'orb_id')) AS pause_draft;
SELECT ex7_test.err(format('SELECT ex7.resume_strategy(%L, %L)', :'u1', :'orb_id')) AS resume_draft;
-- draft and ready archive too; every change and every transition bumped the revision
SELECT ex7.archive_strategy(:'u1', :'orb_id') ->> 'status' AS draft_archived;
SELECT ex7.unarchive_strategy(:'u1', :'orb_id') ->> 'status' AS status;
SELECT ex7.promote_strategy(:'u1', :'orb_id') ->> 'status' AS status;
SELECT ex7.archive_strategy(:'u1', :'orb_id') ->> 'status' AS ready_archived;
SELECT revision, etag = ex7._strategy_etag(id, revision) AS etag_follows FROM ex7.strategies WHERE id = :'orb_id';
-- another user's strategy is a 404 for every action
SELECT a AS action, ex7_test.err(format('SELECT ex7.%s_strategy(%L, %L)', a, :'u2', :'orb_id')) AS outcome
  FROM unnest(ARRAY['promote', 'pause', 'resume', 'archive', 'unarchive']) AS a;

--
-- Delete: soft, 404 afterwards, the name is free again
--
SELECT ex7.create_strategy(:'u1', '{"name": "Doomed", "instrument": "GC", "timeframe": "1d"}') ->> 'id' AS doomed_id \gset
SELECT ex7_test.err(format('SELECT ex7.delete_strategy(%L, %L)', :'u2', :'doomed_id')) AS other_user;
SELECT ex7.delete_strategy(:'u1', :'doomed_id');
SELECT deleted_at IS NOT NULL AS soft_deleted, revision FROM ex7.strategies WHERE id = :'doomed_id';
SELECT ex7_test.err(format('SELECT ex7.delete_strategy(%L, %L)', :'u1', :'doomed_id')) AS again;
SELECT ex7_test.err(format('SELECT ex7.get_strategy(%L, %L)', :'u1', :'doomed_id')) AS get;
SELECT ex7_test.err(format('SELECT ex7.update_strategy(%L, %L, %L)', :'u1', :'doomed_id', '{"name": "Back"}')) AS update;
SELECT ex7_test.err(format('SELECT ex7.promote_strategy(%L, %L)', :'u1', :'doomed_id')) AS promote;
SELECT pg_temp.shown(ex7.create_strategy(:'u1', '{"name": "Doomed", "instrument": "GC", "timeframe": "1d"}')) ->> 'name' AS reborn;
SELECT pg_temp.names(ex7.list_strategies(:'u1')) AS u1_list;
