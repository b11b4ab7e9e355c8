-- sql/import_export.sql: export ("format stamp, exported_at ISO8601, name/description/instrument/timeframe/
-- tags, and the full graph ... Internal ids, user_id, and timestamps other than exported_at are stripped"),
-- import (format must equal "ex7.strategy/v1"; name_on_conflict "suffix" or 409), the round trip, and
-- clone ("into a new strategies row at version 1").
\set u1 '00000000-0000-4000-8000-000000000421'
\set u2 '00000000-0000-4000-8000-000000000422'
SELECT ex7.ensure_user(:'u1') ->> 'tier' AS u1_tier;
SELECT ex7.ensure_user(:'u2') ->> 'tier' AS u2_tier;

CREATE FUNCTION pg_temp.shown(j jsonb) RETURNS jsonb LANGUAGE sql AS $$
    SELECT j - 'id' - 'etag' - 'created_at' - 'updated_at';
$$;

SELECT ex7.create_strategy(:'u1', '{
    "name": "Gold Breakout", "description": "Asia range break", "instrument": "MGC", "timeframe": "15m",
    "tags": ["breakout", "metals"],
    "graph": {"nodes": [{"id": "bars", "type": "close"}, {"id": "rng", "type": "opening_range", "params": {"start": "20:00", "bars": 12, "tz": "Asia/Tokyo"}},
                        {"id": "brk", "type": "crosses_above"}, {"id": "sig", "type": "enter_long", "params": {"size": 1}}],
              "edges": [{"from": "bars", "to": "brk", "port": "a"}, {"from": "rng", "to": "brk", "port": "b"}, {"from": "brk", "to": "sig", "port": "when"}],
              "meta": {"layout": {"bars": [0, 0], "rng": [200, 0]}, "author_note": "v1"}},
    "note": "initial"}') ->> 'id' AS sid \gset
-- export the head version, not version 1
SELECT ex7.update_strategy(:'u1', :'sid', '{"graph": {"nodes": [{"id": "bars", "type": "close"}, {"id": "rng", "type": "opening_range", "params": {"start": "20:00", "bars": 12, "tz": "Asia/Tokyo"}}, {"id": "brk", "type": "crosses_above"}, {"id": "sig", "type": "enter_long", "params": {"size": 1}}], "edges": [{"from": "bars", "to": "brk", "port": "a"}, {"from": "rng", "to": "brk", "port": "b"}, {"from": "brk", "to": "sig", "port": "when"}], "meta": {"layout": {"bars": [0, 0], "rng": [200, 0]}, "author_note": "v2"}}}') -> 'current_version' AS head;

--
-- Export
--
SELECT ex7.export_strategy(:'u1', :'sid') AS x \gset
SELECT k AS key, jsonb_typeof(:'x'::jsonb -> k) AS type FROM jsonb_object_keys(:'x'::jsonb) AS k ORDER BY k;
SELECT :'x'::jsonb - 'exported_at' AS export;
SELECT (:'x'::jsonb ->> 'exported_at') ~ '^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d' AS iso8601,
       (:'x'::jsonb ->> 'exported_at')::timestamptz BETWEEN now() - interval '1 minute' AND now() AS exported_recently,
       :'x'::jsonb -> 'graph' -> 'meta' ->> 'author_note' AS head_graph;
-- nothing internal in it: no id, user id or other timestamp anywhere in the document
SELECT position(:'sid' IN :'x') = 0 AS no_strategy_id, position(:'u1' IN :'x') = 0 AS no_user_id,
       NOT (:'x'::jsonb ?| ARRAY['id', 'user_id', 'created_at', 'updated_at', 'etag', 'status', 'current_version']) AS no_internal_keys;
-- another user's strategy, an unknown one
SELECT ex7_test.err(format('SELECT ex7.export_strategy(%L, %L)', :'u2', :'sid')) AS other_user;
SELECT ex7_test.err(format('SELECT ex7.export_strategy(%L, %L)', :'u1', '00000000-0000-4000-8000-0000000004ff')) AS unknown;

--
-- Import
--
-- round trip into another account: every exported field comes back
SELECT ex7.import_strategy(:'u2', :'x') AS imp \gset
SELECT pg_temp.shown(:'imp') AS imported;
SELECT ex7.export_strategy(:'u2', (:'imp'::jsonb ->> 'id')::uuid) - 'exported_at' = :'x'::jsonb - 'exported_at' AS round_trip_u2;
SELECT version, note, rolled_back_from FROM ex7.strategy_versions WHERE strategy_id = (:'imp'::jsonb ->> 'id')::uuid;
-- the same account: the name is taken -> 409 unless name_on_conflict is "suffix"
SELECT ex7_test.err(format('SELECT ex7.import_strategy(%L, %L)', :'u1', :'x')) AS taken;
SELECT ex7_test.err(format('SELECT ex7.import_strategy(%L, %L)', :'u1', :'x'::jsonb || '{"name_on_conflict": "error"}')) AS taken_error;
SELECT ex7_test.err(format('SELECT ex7.import_strategy(%L, %L)', :'u1', :'x'::jsonb || '{"name_on_conflict": "overwrite"}')) AS taken_other;
SELECT ex7.import_strategy(:'u1', :'x'::jsonb || '{"name_on_conflict": "suffix"}') AS imp \gset
SELECT :'imp'::jsonb ->> 'name' AS suffixed;
SELECT ex7.export_strategy(:'u1', (:'imp'::jsonb ->> 'id')::uuid) - 'exported_at' - 'name'
     = :'x'::jsonb - 'exported_at' - 'name' AS round_trip_but_name;
SELECT ex7.import_strategy(:'u1', :'x'::jsonb || '{"name_on_conflict": "suffix"}') ->> 'name' AS suffixed_again;
-- suffix on a free name changes nothing; the suffix of a 120-character name replaces its tail
SELECT ex7.import_strategy(:'u1', :'x'::jsonb || '{"name": "Fresh", "name_on_conflict": "suffix"}') ->> 'name' AS free_name;
SELECT ex7.import_strategy(:'u1', :'x'::jsonb || jsonb_build_object('name', repeat('L', 120))) ->> 'name' = repeat('L', 120) AS long_name;
SELECT length(n) AS length, right(n, 6) AS tail
  FROM (SELECT ex7.import_strategy(:'u1', :'x'::jsonb || jsonb_build_object('name', repeat('L', 120), 'name_on_conflict', 'suffix')) ->> 'name' AS n) s;
-- a deleted strategy frees its name for an import
SELECT ex7.delete_strategy(:'u1', :'sid');
SELECT ex7.import_strategy(:'u1', :'x') ->> 'name' AS after_delete;
-- unknown keys are ignored (the contract's ImportPayload is extra="ignore"), fields validate like create
SELECT ex7.import_strategy(:'u1', :'x'::jsonb || '{"name": "Extra keys", "id": "x", "status": "live", "future_field": {"a": 1}}') ->> 'status' AS status;
SELECT ex7_test.err(format('SELECT ex7.import_strategy(%L, %L)', :'u1', :'x'::jsonb - 'format')) AS no_format;
SELECT ex7_test.err(format('SELECT ex7.import_strategy(%L, %L)', :'u1', :'x'::jsonb || '{"format": "ex7.strategy/v2"}')) AS v2;
SELECT ex7_test.err(format('SELECT ex7.import_strategy(%L, %L)', :'u1', :'x'::jsonb || '{"format": null}')) AS null_format;
SELECT ex7_test.err(format('SELECT ex7.import_strategy(%L, %L)', :'u1', '[1, 2]')) AS not_an_object;
SELECT ex7_test.err(format('SELECT ex7.import_strategy(%L, %L)', :'u1', :'x'::jsonb || '{"name": "T", "timeframe": "7m"}')) AS bad_timeframe;
SELECT ex7_test.err(format('SELECT ex7.import_strategy(%L, %L)', :'u1', :'x'::jsonb - 'name')) AS no_name;
SELECT ex7_test.err(format('SELECT ex7.import_strategy(%L, %L)', :'u1',
    jsonb_set(:'x'::jsonb || '{"name": "G"}', '{graph,edges,1,to}', '"nowhere"'))) AS bad_graph;

--
-- Clone
--
SELECT ex7.create_strategy(:'u1', '{"name": "Source", "instrument": "NQ", "timeframe": "1m", "tags": ["a"], "description": "src",
    "graph": {"nodes": [{"id": "a", "type": "session_filter"}, {"id": "e", "type": "enter_long"}], "edges": [{"from": "a", "to": "e"}]}}') ->> 'id' AS src \gset
SELECT ex7.update_strategy(:'u1', :'src', '{"graph": {"nodes": [{"id": "a", "type": "session_filter"}, {"id": "b", "type": "not"}, {"id": "e", "type": "enter_long"}], "edges": [{"from": "a", "to": "b"}, {"from": "b", "to": "e"}]}}') -> 'current_version' AS src_version;
SELECT ex7.promote_strategy(:'u1', :'src') ->> 'status' AS src_status;
-- a draft at version 1 with the source's head graph, named "<name> (copy)"
SELECT ex7.clone_strategy(:'u1', :'src') AS c \gset
SELECT pg_temp.shown(:'c') AS clone;
SELECT :'c'::jsonb ->> 'id' <> :'src' AS new_row, :'c'::jsonb -> 'graph' = ex7.get_strategy(:'u1', :'src') -> 'graph' AS same_graph;
SELECT version, note FROM ex7.strategy_versions WHERE strategy_id = (:'c'::jsonb ->> 'id')::uuid;
-- the next ones: "(copy 2)", "(copy 3)"; a clone of a clone
SELECT ex7.clone_strategy(:'u1', :'src') ->> 'name' AS second;
SELECT ex7.clone_strategy(:'u1', :'src') ->> 'name' AS third;
SELECT ex7.clone_strategy(:'u1', (:'c'::jsonb ->> 'id')::uuid) ->> 'name' AS clone_of_clone;
-- an explicit name, trimmed; taken -> 409; invalid -> 422
SELECT ex7.clone_strategy(:'u1', :'src', '  Named copy ') ->> 'name' AS named;
SELECT ex7_test.err(format('SELECT ex7.clone_strategy(%L, %L, %L)', :'u1', :'src', 'Named copy')) AS named_taken;
SELECT ex7_test.err(format('SELECT ex7.clone_strategy(%L, %L, %L)', :'u1', :'src', '  ')) AS blank_name;
-- a graph stored before the engine's validator (0.1.0 checked the shape only) is not copied: 422 naming the source
INSERT INTO ex7.strategies (id, user_id, name, instrument, timeframe, etag)
VALUES ('00000000-0000-4000-8000-00000004c001', :'u1', 'Legacy graph', 'ES', '5m', 'legacy');
INSERT INTO ex7.strategy_versions (strategy_id, version, user_id, graph)
VALUES ('00000000-0000-4000-8000-00000004c001', 1, :'u1', '{"nodes": [{"id": "a", "type": "bars"}], "edges": []}');
SELECT ex7_test.err(format('SELECT ex7.clone_strategy(%L, %L)', :'u1', '00000000-0000-4000-8000-00000004c001')) AS legacy_graph;
-- another user's source, an unknown one, a deleted one: 404
SELECT ex7_test.err(format('SELECT ex7.clone_strategy(%L, %L)', :'u2', :'src')) AS other_user;
SELECT ex7_test.err(format('SELECT ex7.clone_strategy(%L, %L)', :'u1', '00000000-0000-4000-8000-0000000004ff')) AS unknown;
SELECT ex7_test.err(format('SELECT ex7.clone_strategy(%L, %L)', :'u1', :'sid')) AS deleted;
SELECT name, status, current_version FROM ex7.strategies WHERE user_id = :'u1' AND deleted_at IS NULL ORDER BY name COLLATE "C";
