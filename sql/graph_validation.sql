-- sql/graph_validation.sql: the graph validator (ext/graph.c, ex7.validate_graph and ex7._validate_graph,
-- used by create, update, import and clone): every rule, each a 422 (X7422) whose locator points at the
-- offending element (docs/engine.md, "Validation": unknown node type, missing or extra inputs, port type
-- mismatch (series vs boolean), a cycle, unknown edge endpoints, parameters out of range, no entry node), the
-- limits, and
-- what a valid graph returns.
\set u1 '00000000-0000-4000-8000-0000000e0001'
SELECT ex7.ensure_user(:'u1') ->> 'tier' AS u1_tier;

-- the graph every case edits: close above its 20-bar SMA -> long, with a stop
--   nodes: 0 c close, 1 k constant, 2 gt gt, 3 avg sma, 4 e enter_long, 5 s stop_loss_ticks
--   edges: 0 c -> avg (port implied: sma has one input), 1 c -> gt.a, 2 avg -> gt.b, 3 gt -> e.when,
--          4 e -> s.entry
CREATE FUNCTION pg_temp.g() RETURNS jsonb LANGUAGE sql AS $$
    SELECT '{"nodes": [{"id": "c", "type": "close"},
                       {"id": "k", "type": "constant", "params": {"value": 20000}},
                       {"id": "gt", "type": "gt"},
                       {"id": "avg", "type": "sma", "params": {"period": 20}, "position": {"x": 10, "y": 20}},
                       {"id": "e", "type": "enter_long", "params": {"size": 1}},
                       {"id": "s", "type": "stop_loss_ticks", "params": {"ticks": 8}}],
            "edges": [{"from": "c", "to": "avg"},
                      {"from": "c", "to": "gt", "port": "a"},
                      {"from": "avg", "to": "gt", "port": "b", "id": "edge-2"},
                      {"from": "gt", "to": "e", "port": "when"},
                      {"from": "e", "to": "s", "port": "entry"}],
            "meta": {"layout": "auto"}}'::jsonb;
$$;
-- chain(n, period): session filter -> n nodes of the given type in a row -> entry
CREATE FUNCTION pg_temp.chain(n integer, type text DEFAULT 'not', params jsonb DEFAULT '{}') RETURNS jsonb LANGUAGE sql AS $$
    SELECT jsonb_build_object(
        'nodes', CASE WHEN type = 'not' THEN '[{"id": "n0", "type": "session_filter"}]'::jsonb ELSE '[{"id": "n0", "type": "close"}]' END
                 || (SELECT jsonb_agg(jsonb_build_object('id', 'n' || i, 'type', type, 'params', params) ORDER BY i) FROM generate_series(1, n) i)
                 || CASE WHEN type = 'not' THEN jsonb_build_array(jsonb_build_object('id', 'n' || (n + 1), 'type', 'enter_long'))
                         ELSE jsonb_build_array(jsonb_build_object('id', 'z', 'type', 'constant'), jsonb_build_object('id', 'g', 'type', 'gt'),
                                                jsonb_build_object('id', 'n' || (n + 1), 'type', 'enter_long')) END,
        'edges', (SELECT jsonb_agg(jsonb_build_object('from', 'n' || i, 'to', CASE WHEN i = n AND type <> 'not' THEN 'g' ELSE 'n' || (i + 1) END)
                                   || CASE WHEN i = n AND type <> 'not' THEN '{"port": "a"}'::jsonb ELSE '{}' END ORDER BY i)
                    FROM generate_series(0, n) i)
                 || CASE WHEN type = 'not' THEN '[]'::jsonb
                         ELSE jsonb_build_array(jsonb_build_object('from', 'z', 'to', 'g', 'port', 'b'),
                                                jsonb_build_object('from', 'g', 'to', 'n' || (n + 1))) END);
$$;

--
-- Valid graphs
--
-- the summary: counts, the lookback (SMA(20): 20 bars), the entries with their brackets. Other node keys
-- (positions) and edge keys (ids) belong to the builder and are kept as they are.
SELECT ex7.validate_graph(pg_temp.g()) AS summary;
-- the empty canvas a strategy starts from (create without a graph) is valid: no entry needed yet
SELECT ex7.validate_graph('{"nodes": [], "edges": []}') AS empty_canvas;
-- 200 nodes in a row (the limit): no recursion on depth, lookback 1
SELECT ex7.validate_graph(pg_temp.chain(198)) - 'entries' AS two_hundred_nodes;
-- every fixture graph is valid (sql/engines.sql checks them further)
SELECT f ->> 'slug' AS fixture, ex7.validate_graph(f #> '{body,graph}') -> 'lookback' AS lookback
  FROM jsonb_array_elements(ex7._fixtures()) f;

--
-- Every rule, with its locator. The first failure in this order is reported: the graph object; nodes in
-- order (shape, id, type, params); edges in order (shape, endpoints, port, one edge per port, port types);
-- meta; unknown top-level keys; unconnected inputs; cycles; duplicate brackets; the entry node; lookback.
--
SELECT n, label, ex7_test.err(format('SELECT ex7.validate_graph(%L)', graph)) AS outcome
  FROM (VALUES
    -- the graph
    (1, 'graph: a list', '[]'::jsonb),
    (2, 'graph: a string', '"close > sma"'),
    -- nodes
    (3, 'nodes: missing', pg_temp.g() - 'nodes'),
    (4, 'nodes: not a list', jsonb_set(pg_temp.g(), '{nodes}', '{"c": "close"}')),
    (5, 'nodes: 201 (at most 200)', pg_temp.chain(199)),
    (6, 'node: not an object', jsonb_set(pg_temp.g(), '{nodes,2}', '"gt"')),
    (7, 'node: id missing', pg_temp.g() #- '{nodes,2,id}'),
    (8, 'node: id not a string', jsonb_set(pg_temp.g(), '{nodes,2,id}', '7')),
    (9, 'node: id empty', jsonb_set(pg_temp.g(), '{nodes,2,id}', '""')),
    (10, 'node: id of 65 characters', jsonb_set(pg_temp.g(), '{nodes,2,id}', to_jsonb(repeat('x', 65)))),
    (11, 'node: id repeated', jsonb_set(pg_temp.g(), '{nodes,5,id}', '"c"')),
    (12, 'node: type missing', pg_temp.g() #- '{nodes,2,type}'),
    (13, 'node: type not a string', jsonb_set(pg_temp.g(), '{nodes,2,type}', '["gt"]')),
    (14, 'node: unknown type', jsonb_set(pg_temp.g(), '{nodes,2,type}', '"ema_cross"')),
    (15, 'node: a 1000-character type (quoted clipped)', jsonb_set(pg_temp.g(), '{nodes,2,type}', to_jsonb(repeat('t', 1000)))),
    -- parameters
    (16, 'params: not an object', jsonb_set(pg_temp.g(), '{nodes,3,params}', '[20]')),
    (17, 'params: unknown name', jsonb_set(pg_temp.g(), '{nodes,3,params,length}', '20')),
    (18, 'params: int given as a string', jsonb_set(pg_temp.g(), '{nodes,3,params,period}', '"20"')),
    (19, 'params: int with a fraction', jsonb_set(pg_temp.g(), '{nodes,3,params,period}', '2.5')),
    (20, 'params: period 0 (at least 1)', jsonb_set(pg_temp.g(), '{nodes,3,params,period}', '0')),
    (21, 'params: period 5001 (at most 5000)', jsonb_set(pg_temp.g(), '{nodes,3,params,period}', '5001')),
    (22, 'params: period beyond double range', jsonb_set(pg_temp.g(), '{nodes,3,params,period}', ('1' || repeat('0', 400))::jsonb)),
    (23, 'params: number given as a string', jsonb_set(pg_temp.g(), '{nodes,1,params,value}', '"20000"')),
    (24, 'params: number out of range', jsonb_set(pg_temp.g(), '{nodes,1,params,value}', '1e13')),
    (25, 'params: size 0', jsonb_set(pg_temp.g(), '{nodes,4,params,size}', '0')),
    (26, 'params: ticks 10001', jsonb_set(pg_temp.g(), '{nodes,5,params,ticks}', '10001')),
    (27, 'params: enum not a member', jsonb_set(pg_temp.g(), '{nodes,3}', '{"id": "avg", "type": "bollinger", "params": {"band": "top"}}')),
    (28, 'params: time not HH:MM', jsonb_set(pg_temp.g(), '{nodes,3}', '{"id": "avg", "type": "vwap", "params": {"reset": "9:30"}}')),
    (29, 'params: time 24:00', jsonb_set(pg_temp.g(), '{nodes,3}', '{"id": "avg", "type": "vwap", "params": {"reset": "24:00"}}')),
    (30, 'params: time zone not offered', jsonb_set(pg_temp.g(), '{nodes,3}', '{"id": "avg", "type": "vwap", "params": {"tz": "Europe/Paris"}}')),
    (31, 'params: macd fast not below slow', jsonb_set(pg_temp.g(), '{nodes,3}', '{"id": "avg", "type": "macd", "params": {"fast": 26, "slow": 12}}')),
    (32, 'params: session start = end', jsonb_set(pg_temp.g(), '{nodes,0}', '{"id": "c", "type": "session_filter", "params": {"start": "09:30", "end": "09:30"}}')),
    -- edges
    (33, 'edges: missing', pg_temp.g() - 'edges'),
    (34, 'edges: not a list', jsonb_set(pg_temp.g(), '{edges}', '"c->avg"')),
    (35, 'edges: 1001 (at most 1000)', jsonb_set(pg_temp.g(), '{edges}', (SELECT jsonb_agg('{"from": "c", "to": "avg"}'::jsonb) FROM generate_series(1, 1001)))),
    (36, 'edge: not an object', jsonb_set(pg_temp.g(), '{edges,1}', '["c", "gt"]')),
    (37, 'edge: from missing', pg_temp.g() #- '{edges,1,from}'),
    (38, 'edge: from not a string', jsonb_set(pg_temp.g(), '{edges,1,from}', '0')),
    (39, 'edge: from an unknown node', jsonb_set(pg_temp.g(), '{edges,1,from}', '"open"')),
    (40, 'edge: to an unknown node', jsonb_set(pg_temp.g(), '{edges,4,to}', '"stop"')),
    (41, 'edge: into a node without inputs', pg_temp.g() || '{"edges": [{"from": "k", "to": "c"}]}'),
    (42, 'edge: port missing (two inputs)', pg_temp.g() #- '{edges,1,port}'),
    (43, 'edge: port not a string', jsonb_set(pg_temp.g(), '{edges,1,port}', '0')),
    (44, 'edge: unknown port', jsonb_set(pg_temp.g(), '{edges,1,port}', '"left"')),
    (45, 'edge: extra input (port taken)', jsonb_insert(pg_temp.g(), '{edges,5}', '{"from": "k", "to": "gt", "port": "b"}')),
    (46, 'edge: series into a boolean port', jsonb_set(pg_temp.g(), '{edges,3,from}', '"c"')),
    (47, 'edge: boolean into a series port', jsonb_set(pg_temp.g(), '{edges,0}', '{"from": "gt", "to": "avg"}')),
    (48, 'edge: bracket on a non-entry', jsonb_set(pg_temp.g(), '{edges,4,from}', '"gt"')),
    (49, 'edge: an exit feeds nothing', jsonb_insert(jsonb_set(pg_temp.g(), '{edges,3,from}', '"x"'), '{nodes,6}', '{"id": "x", "type": "exit_long"}')),
    -- the rest of the graph object
    (50, 'meta: not an object', jsonb_set(pg_temp.g(), '{meta}', '"auto"')),
    (51, 'unknown top-level key', pg_temp.g() || '{"viewport": {"zoom": 1}}'),
    -- structure
    (52, 'input not connected (missing input)', pg_temp.g() #- '{edges,2}'),
    (53, 'cycle of two nodes', pg_temp.g() || jsonb_build_object(
        'nodes', pg_temp.g() -> 'nodes' || '[{"id": "n1", "type": "not"}, {"id": "n2", "type": "not"}]',
        'edges', pg_temp.g() -> 'edges' || '[{"from": "n1", "to": "n2"}, {"from": "n2", "to": "n1"}]')),
    (54, 'cycle through a node and itself', pg_temp.g() || jsonb_build_object(
        'nodes', pg_temp.g() -> 'nodes' || '[{"id": "loop", "type": "not"}]',
        'edges', pg_temp.g() -> 'edges' || '[{"from": "loop", "to": "loop"}]')),
    (55, 'cycle of three series nodes', pg_temp.g() || jsonb_build_object(
        'nodes', pg_temp.g() -> 'nodes' || '[{"id": "a", "type": "abs"}, {"id": "b", "type": "lag"}, {"id": "d", "type": "ema"}]',
        'edges', pg_temp.g() -> 'edges' || '[{"from": "d", "to": "a"}, {"from": "a", "to": "b"}, {"from": "b", "to": "d"}]')),
    (56, 'two stops on one entry', jsonb_insert(pg_temp.g() || jsonb_build_object('edges', pg_temp.g() -> 'edges' || '[{"from": "e", "to": "s2"}]'),
                                                '{nodes,6}', '{"id": "s2", "type": "stop_loss_ticks"}')),
    (57, 'no entry node', jsonb_build_object('nodes', (pg_temp.g() -> 'nodes') - 5 - 4, 'edges', (pg_temp.g() -> 'edges') - 4 - 3)),
    (58, 'lookback over 20000 bars (5 SMA(5000) in a row)', pg_temp.chain(5, 'sma', '{"period": 5000}'))
  ) AS cases (n, label, graph)
 ORDER BY n;
-- NULL is not a graph
SELECT ex7_test.err('SELECT ex7.validate_graph(NULL)') AS null_graph;
-- 4 SMA(5000) in a row need 4 * 5000 - 3 = 19997 bars: within the limit
SELECT ex7.validate_graph(pg_temp.chain(4, 'sma', '{"period": 5000}')) -> 'lookback' AS lookback_19997;

--
-- The locator base is the caller's
--
SELECT ex7_test.err(format('SELECT ex7.validate_graph(%L, %L)', jsonb_set(pg_temp.g(), '{nodes,3,params,period}', '0'), '[]')) AS bare;
SELECT ex7_test.err(format('SELECT ex7.validate_graph(%L, %L)', jsonb_set(pg_temp.g(), '{nodes,3,params,period}', '0'), '["path", "source_id", "graph"]')) AS under_path;
SELECT ex7_test.err(format('SELECT ex7.validate_graph(%L, %L)', pg_temp.g(), '{"loc": 1}')) AS locator_not_a_list;

--
-- Through the API: create, update, import (clone: sql/import_export.sql) report the same locators
--
-- the example of docs/engine.md, "Validation": ["body","graph","nodes",3,"params","period"]
SELECT ex7_test.err(format('SELECT ex7.create_strategy(%L, %L)', :'u1', jsonb_build_object('name', 'SMA', 'instrument', 'ES', 'timeframe', '5m',
    'graph', jsonb_set(pg_temp.g(), '{nodes,3,params,period}', '0')))) AS create_period_0;
SELECT ex7.create_strategy(:'u1', jsonb_build_object('name', 'SMA', 'instrument', 'ES', 'timeframe', '5m', 'graph', pg_temp.g())) ->> 'id' AS sid \gset
SELECT ex7_test.err(format('SELECT ex7.update_strategy(%L, %L, %L)', :'u1', :'sid', jsonb_build_object('graph',
    pg_temp.g() || jsonb_build_object('nodes', pg_temp.g() -> 'nodes' || '[{"id": "loop", "type": "not"}]',
                                      'edges', pg_temp.g() -> 'edges' || '[{"from": "loop", "to": "loop"}]')))) AS update_cycle;
SELECT ex7_test.err(format('SELECT ex7.import_strategy(%L, %L)', :'u1', ex7.export_strategy(:'u1', :'sid')
    || jsonb_build_object('name', 'SMA 2', 'graph', jsonb_set(pg_temp.g(), '{edges,3,from}', '"c"'))))  AS import_port_type;
-- nothing refused was stored: one strategy, one version
SELECT count(*) AS strategies, (SELECT count(*) FROM ex7.strategy_versions v WHERE v.user_id = :'u1') AS versions
  FROM ex7.strategies WHERE user_id = :'u1';

--
-- The bars of ex7.evaluate_graph_on / evaluate_graph_series: 422 at ["body","bars",i,field]
--
SELECT n, label, ex7_test.err(format('SELECT ex7.evaluate_graph_on(%L, %L)', pg_temp.g(), bars)) AS outcome
  FROM (VALUES
    (1, 'not a list', '{"close": 1}'::jsonb),
    (2, 'a bar neither a number nor an object', '[1, "2"]'),
    (3, 'close missing', '[{"close": 1}, {"open": 1}]'),
    (4, 'close not a number', '[{"close": "1.5x"}]'),
    (5, 'close null', '[{"close": null}]'),
    (6, 'volume negative', '[{"close": 1, "volume": -1}]'),
    (7, 'unknown key', '[{"close": 1, "vol": 5}]'),
    (8, 'ts on the first bar only', '[{"ts": "2026-01-05T09:35:00-05:00", "close": 1}, {"close": 2}]'),
    (9, 'ts on a later bar only', '[{"close": 1}, {"ts": "2026-01-05T09:35:00-05:00", "close": 2}]'),
    (10, 'ts not increasing', '[{"ts": "2026-01-05T09:35:00-05:00", "close": 1}, {"ts": "2026-01-05T09:35:00-05:00", "close": 2}]'),
    (11, 'ts not a date', '[{"ts": "the open", "close": 1}]'),
    (12, 'ts not a string', '[{"ts": 1767623700, "close": 1}]'),
    (13, 'ts in year 20000', '[{"ts": "20000-01-05T09:35:00Z", "close": 1}]'),
    (14, '50001 bars (at most 50000)', (SELECT jsonb_agg(1) FROM generate_series(1, 50001)))
  ) AS cases (n, label, bars)
 ORDER BY n;
-- numeric strings are numbers (exact decimals travel as strings); a bar without ts needs none later
SELECT ex7.evaluate_graph_on(pg_temp.g(), '[{"close": "20000.25", "high": "20001", "low": 19999.75}, 20000.5]') #> '{values,c}' AS close;
-- the per-bar view is bounded too: bars times nodes at most 1,000,000 (200 nodes, 5001 bars)
SELECT ex7_test.err(format('SELECT ex7.evaluate_graph_series(%L, %L)', pg_temp.chain(198),
                           (SELECT jsonb_agg(1) FROM generate_series(1, 5001)))) AS series_too_big;
