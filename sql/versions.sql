-- sql/versions.sql: strategy versions (ext/sql/30_strategies.sql): the list with its integer cursor
-- ("last version integer from previous page (DESC pagination)"), one version with its graph, and rollback
-- ("Maps: StrategyNotFound -> 404 VersionNotFound -> 404 CannotRollbackToCurrent -> 409").
\set u1 '00000000-0000-4000-8000-000000000411'
\set u2 '00000000-0000-4000-8000-000000000412'
SELECT ex7.ensure_user(:'u1') ->> 'tier' AS u1_tier;
SELECT ex7.ensure_user(:'u2') ->> 'tier' AS u2_tier;

-- graph n: a chain of n + 2 nodes: a session filter, n "not" nodes, an entry
CREATE FUNCTION pg_temp.chain(n integer) RETURNS jsonb LANGUAGE sql AS $$
    SELECT jsonb_build_object(
        'nodes', '[{"id": "n0", "type": "session_filter"}]'::jsonb
                 || (SELECT jsonb_agg(jsonb_build_object('id', 'n' || i, 'type', 'not') ORDER BY i) FROM generate_series(1, n) i)
                 || jsonb_build_array(jsonb_build_object('id', 'n' || (n + 1), 'type', 'enter_long')),
        'edges', (SELECT jsonb_agg(jsonb_build_object('from', 'n' || i, 'to', 'n' || (i + 1)) ORDER BY i)
                    FROM generate_series(0, n) i));
$$;
-- a page without the creation times
CREATE FUNCTION pg_temp.shown(page jsonb) RETURNS jsonb LANGUAGE sql AS $$
    SELECT jsonb_build_object('items', coalesce(jsonb_agg(i - 'created_at' ORDER BY o), '[]'), 'next_cursor', page -> 'next_cursor')
      FROM jsonb_array_elements(page -> 'items') WITH ORDINALITY AS e (i, o);
$$;

-- five versions: the graph grows by one node each time
SELECT ex7.create_strategy(:'u1', jsonb_build_object('name', 'Chain', 'instrument', 'ES', 'timeframe', '5m',
    'graph', pg_temp.chain(1), 'note', 'one node')) ->> 'id' AS sid \gset
SELECT ex7.update_strategy(:'u1', :'sid', jsonb_build_object('graph', pg_temp.chain(n), 'note', n || ' nodes')) -> 'current_version' AS current_version
  FROM generate_series(2, 5) n;

--
-- List: newest first, next_cursor is the last version of the page
--
SELECT ex7.list_versions(:'u1', :'sid', p_limit => 2) AS p \gset
SELECT pg_temp.shown(:'p') AS page_1;
SELECT ex7.list_versions(:'u1', :'sid', p_cursor => :'p'::jsonb ->> 'next_cursor', p_limit => 2) AS p \gset
SELECT pg_temp.shown(:'p') AS page_2;
SELECT pg_temp.shown(ex7.list_versions(:'u1', :'sid', p_cursor => :'p'::jsonb ->> 'next_cursor', p_limit => 2)) AS page_3;
-- an exact page ends; a cursor past the newest lists all; cursor 1 is an empty last page; defaults
SELECT ex7.list_versions(:'u1', :'sid', p_limit => 5) -> 'next_cursor' AS exact_next;
SELECT jsonb_path_query_array(ex7.list_versions(:'u1', :'sid', p_cursor => '99'), '$.items[*].version') AS past_newest;
SELECT ex7.list_versions(:'u1', :'sid', p_cursor => '1') AS below_oldest;
SELECT jsonb_path_query_array(ex7.list_versions(:'u1', :'sid', p_cursor => '004'), '$.items[*].version') AS leading_zeros;
SELECT jsonb_array_length(ex7.list_versions(:'u1', :'sid') -> 'items') AS default_limit;
-- a cursor must be a positive integer; limit 1..200
SELECT c AS cursor, ex7_test.err(format('SELECT ex7.list_versions(%L, %L, %L)', :'u1', :'sid', c)) AS outcome
  FROM unnest(ARRAY['abc', '0', '-1', '1.5', '', ' 2', '9999999999']) AS c;
SELECT ex7_test.err(format('SELECT ex7.list_versions(%L, %L, p_limit => 0)', :'u1', :'sid'));
SELECT ex7_test.err(format('SELECT ex7.list_versions(%L, %L, p_limit => 201)', :'u1', :'sid'));
-- another user's strategy, an unknown one
SELECT ex7_test.err(format('SELECT ex7.list_versions(%L, %L)', :'u2', :'sid'));
SELECT ex7_test.err(format('SELECT ex7.list_versions(%L, %L)', :'u1', '00000000-0000-4000-8000-0000000004ff'));

--
-- Get one version: the summary plus strategy_id and graph
--
SELECT ex7.get_version(:'u1', :'sid', 2) - 'created_at' - 'strategy_id' AS v2,
       ex7.get_version(:'u1', :'sid', 2) ->> 'strategy_id' = :'sid' AS same_strategy;
SELECT (ex7.get_version(:'u1', :'sid', 5) -> 'is_current') AS v5_is_current;
SELECT ex7_test.err(format('SELECT ex7.get_version(%L, %L, 6)', :'u1', :'sid')) AS unknown_version;
SELECT ex7_test.err(format('SELECT ex7.get_version(%L, %L, 0)', :'u1', :'sid')) AS version_0;
SELECT ex7_test.err(format('SELECT ex7.get_version(%L, %L, 2)', :'u2', :'sid')) AS other_user;
SELECT ex7_test.err(format('SELECT ex7.get_version(%L, %L, 1)', :'u1', '00000000-0000-4000-8000-0000000004ff')) AS unknown_strategy;

--
-- Rollback: a new version copying the old graph, rolled_back_from set, etag bumped
--
SELECT etag AS etag_before FROM ex7.strategies WHERE id = :'sid' \gset
SELECT ex7.rollback_strategy(:'u1', :'sid', 2) AS r \gset
SELECT :'r'::jsonb ->> 'id' = :'sid' AS same_id, :'r'::jsonb -> 'current_version' AS current_version,
       :'r'::jsonb ->> 'etag' <> :'etag_before' AS etag_changed,
       :'r'::jsonb ->> 'etag' = (SELECT etag FROM ex7.strategies WHERE id = :'sid') AS etag_is_current;
SELECT pg_temp.shown(ex7.list_versions(:'u1', :'sid', p_limit => 3)) AS newest_3;
SELECT ex7.get_version(:'u1', :'sid', 6) -> 'graph' = pg_temp.chain(2) AS v6_is_v2,
       ex7.get_strategy(:'u1', :'sid') -> 'graph' = pg_temp.chain(2) AS head_is_v2,
       ex7.get_strategy(:'u1', :'sid') -> 'current_version' AS head;
-- the old etag no longer matches
SELECT regexp_replace(ex7_test.err(format('SELECT ex7.update_strategy(%L, %L, %L, %L)', :'u1', :'sid', '{"name": "x"}', :'etag_before')),
                      '"[0-9a-f]{16}"', '"<etag>"') AS stale;
-- rolling back to a version whose graph equals the head's is allowed: only the head itself is refused
SELECT ex7.rollback_strategy(:'u1', :'sid', 2) -> 'current_version' AS current_version;
SELECT version, rolled_back_from, note FROM ex7.strategy_versions WHERE strategy_id = :'sid' ORDER BY version;
-- StrategyNotFound -> 404, VersionNotFound -> 404, CannotRollbackToCurrent -> 409
SELECT ex7_test.err(format('SELECT ex7.rollback_strategy(%L, %L, 1)', :'u1', '00000000-0000-4000-8000-0000000004ff')) AS unknown_strategy;
SELECT ex7_test.err(format('SELECT ex7.rollback_strategy(%L, %L, 1)', :'u2', :'sid')) AS other_user;
SELECT ex7_test.err(format('SELECT ex7.rollback_strategy(%L, %L, 99)', :'u1', :'sid')) AS unknown_version;
SELECT ex7_test.err(format('SELECT ex7.rollback_strategy(%L, %L, 7)', :'u1', :'sid')) AS to_current;
SELECT ex7_test.err(format('SELECT ex7.rollback_strategy(%L, %L, NULL)', :'u1', :'sid')) AS no_version;
-- an archived strategy is frozen; a deleted one is gone (versions too)
SELECT ex7.archive_strategy(:'u1', :'sid') ->> 'status' AS status;
SELECT ex7_test.err(format('SELECT ex7.rollback_strategy(%L, %L, 1)', :'u1', :'sid')) AS archived;
SELECT ex7.unarchive_strategy(:'u1', :'sid') ->> 'status' AS status;
SELECT ex7.rollback_strategy(:'u1', :'sid', 1) -> 'current_version' AS after_unarchive;
SELECT ex7.delete_strategy(:'u1', :'sid');
SELECT ex7_test.err(format('SELECT ex7.list_versions(%L, %L)', :'u1', :'sid')) AS list_deleted;
SELECT ex7_test.err(format('SELECT ex7.get_version(%L, %L, 1)', :'u1', :'sid')) AS get_deleted;
SELECT ex7_test.err(format('SELECT ex7.rollback_strategy(%L, %L, 1)', :'u1', :'sid')) AS rollback_deleted;
-- versions are immutable: no function changes one, and a role bound to a user may only add them
SELECT has_table_privilege('ex7_user', 'ex7.strategy_versions', 'INSERT') AS may_insert,
       has_table_privilege('ex7_user', 'ex7.strategy_versions', 'UPDATE') AS may_update,
       has_table_privilege('ex7_user', 'ex7.strategy_versions', 'DELETE') AS may_delete,
       has_table_privilege('ex7_user', 'ex7.strategy_versions', 'TRUNCATE') AS may_truncate;
