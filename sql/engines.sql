-- sql/engines.sql: the strategy graph engine's SQL surface (ext/sql/62_engines.sql): the node catalog of
-- GET /api/engines, the fixture strategies of POST /api/strategies/from-fixture/{slug} (each valid, each
-- surviving export -> import), and ex7._evaluate, the dispatcher's call, on bars read from ex7.bars with
-- its per-backend plan cache. Indicator values: sql/indicators.sql; validation: sql/graph_validation.sql.
\set u1 '00000000-0000-4000-8000-0000000e0011'
\set u2 '00000000-0000-4000-8000-0000000e0012'
SELECT ex7.ensure_user(:'u1') ->> 'tier' AS u1_tier;
SELECT ex7.ensure_user(:'u2') ->> 'tier' AS u2_tier;

--
-- The catalog
--
SELECT jsonb_object_keys(ex7.list_engines()) AS key ORDER BY 1;
SELECT ex7.list_engines() -> 'port_types' AS port_types, ex7.list_engines() -> 'limits' AS limits;
-- every node type: category, inputs, output, parameter names
SELECT e ->> 'category' AS category, e ->> 'type' AS type,
       (SELECT coalesce(string_agg(i ->> 'port' || ':' || (i ->> 'type'), ' '), '-') FROM jsonb_array_elements(e -> 'inputs') i) AS inputs,
       e ->> 'output' AS output,
       (SELECT coalesce(string_agg(p ->> 'name', ' '), '-') FROM jsonb_array_elements(e -> 'params') p) AS params
  FROM jsonb_array_elements(ex7.list_engines() -> 'engines') WITH ORDINALITY AS c (e, o)
 ORDER BY o;
-- two entries in full: a number parameter with its range, and time and enum parameters
SELECT jsonb_pretty(e) AS ema FROM jsonb_array_elements(ex7.list_engines() -> 'engines') e WHERE e ->> 'type' = 'ema';
SELECT jsonb_pretty(e -> 'params') AS session_filter_params FROM jsonb_array_elements(ex7.list_engines() -> 'engines') e
 WHERE e ->> 'type' = 'session_filter';
-- sanity over the whole table: types unique, every default within its range or among its values, every
-- port and output type known, int/number parameters have a range, the others none
SELECT count(*) AS node_types, count(DISTINCT e ->> 'type') AS distinct_types,
       bool_and(e ->> 'output' IN ('series', 'boolean', 'entry', 'action')) AS outputs_known,
       bool_and(NOT EXISTS (SELECT 1 FROM jsonb_array_elements(e -> 'inputs') i
                             WHERE i ->> 'type' NOT IN ('series', 'boolean', 'entry'))) AS inputs_known,
       bool_and(NOT EXISTS (SELECT 1 FROM jsonb_array_elements(e -> 'params') p
                             WHERE CASE p ->> 'type'
                                       WHEN 'int' THEN NOT ((p ->> 'default')::numeric BETWEEN (p ->> 'min')::numeric AND (p ->> 'max')::numeric)
                                                        OR (p ->> 'default')::numeric <> trunc((p ->> 'default')::numeric)
                                       WHEN 'number' THEN NOT ((p ->> 'default')::numeric BETWEEN (p ->> 'min')::numeric AND (p ->> 'max')::numeric)
                                       WHEN 'enum' THEN NOT (p -> 'values' @> jsonb_build_array(p -> 'default')) OR p -> 'min' <> 'null'
                                       WHEN 'time' THEN p ->> 'default' !~ '^([01][0-9]|2[0-3]):[0-5][0-9]$' OR p -> 'min' <> 'null'
                                       ELSE true END)) AS params_sound
  FROM jsonb_array_elements(ex7.list_engines() -> 'engines') e;
-- the node types tools/demo.sql uses are all there
SELECT t AS demo_type, EXISTS (SELECT 1 FROM jsonb_array_elements(ex7.list_engines() -> 'engines') e WHERE e ->> 'type' = t) AS known
  FROM unnest(ARRAY['close', 'ema', 'crosses_above', 'enter_long', 'stop_loss_ticks', 'take_profit_ticks', 'rsi', 'constant',
                    'lt', 'gt', 'enter_short', 'high', 'highest', 'session_filter', 'and']) AS t;

--
-- Fixtures
--
SELECT f ->> 'slug' AS slug, f ->> 'name' AS name, f ->> 'instrument' AS instrument, f ->> 'timeframe' AS timeframe, f -> 'tags' AS tags
  FROM jsonb_array_elements(ex7.strategy_fixtures() -> 'fixtures') f;
-- every fixture graph validates, has both sides and brackets on every entry
SELECT f ->> 'slug' AS slug, s -> 'nodes' AS nodes, s -> 'edges' AS edges, s -> 'lookback' AS lookback,
       (SELECT string_agg(format('%s %s stop %s target %s', x ->> 'side', x ->> 'size', x ->> 'stop_loss_ticks', x ->> 'take_profit_ticks'), ', ')
          FROM jsonb_array_elements(s -> 'entries') x) AS entries
  FROM jsonb_array_elements(ex7._fixtures()) f, LATERAL ex7.validate_graph(f #> '{body,graph}') s;

-- from-fixture: a draft at version 1, created through the create path (201 body with the graph)
CREATE FUNCTION pg_temp.shown(j jsonb) RETURNS jsonb LANGUAGE sql AS $$
    SELECT j - 'id' - 'etag' - 'created_at' - 'updated_at' - 'graph' - 'description';
$$;
CREATE TEMP TABLE made AS
SELECT f ->> 'slug' AS slug, ex7.create_from_fixture(:'u1', f ->> 'slug') AS j
  FROM jsonb_array_elements(ex7._fixtures()) WITH ORDINALITY AS x (f, o) ORDER BY o;
SELECT slug, pg_temp.shown(j) AS strategy, j -> 'graph' = (SELECT f #> '{body,graph}' FROM jsonb_array_elements(ex7._fixtures()) f
                                                            WHERE f ->> 'slug' = made.slug) AS fixture_graph
  FROM made;
SELECT s.name, v.version, v.note FROM ex7.strategies s JOIN ex7.strategy_versions v ON v.strategy_id = s.id
 WHERE s.user_id = :'u1' ORDER BY s.name COLLATE "C";
-- the same fixture again: a second copy, named like an import with name_on_conflict "suffix"
SELECT ex7.create_from_fixture(:'u1', 'ema-crossover') ->> 'name' AS second_copy;
-- an unknown slug is 404; no user is 401
SELECT ex7_test.err(format('SELECT ex7.create_from_fixture(%L, %L)', :'u1', 'macd-magic')) AS unknown_slug;
SELECT ex7_test.err(format('SELECT ex7.create_from_fixture(%L, %L)', :'u1', repeat('x', 500))) AS long_slug;
SELECT ex7_test.err($$SELECT ex7.create_from_fixture(NULL, 'ema-crossover')$$) AS no_user;

-- import/export round-trips every fixture: export -> import into another account -> export is the same
-- document (but exported_at)
-- (one statement per step: a STABLE export does not see what an import in its own statement wrote)
CREATE TEMP TABLE exported AS
SELECT m.slug, ex7.export_strategy(:'u1', (m.j ->> 'id')::uuid) AS x FROM made m;
CREATE TEMP TABLE imported AS
SELECT e.slug, ex7.import_strategy(:'u2', e.x) ->> 'id' AS id FROM exported e;
SELECT e.slug, ex7.export_strategy(:'u2', i.id::uuid) - 'exported_at' = e.x - 'exported_at' AS round_trip
  FROM exported e JOIN imported i USING (slug);
-- and clone keeps the graph
SELECT m.slug, ex7.clone_strategy(:'u1', (m.j ->> 'id')::uuid) -> 'graph' = m.j -> 'graph' AS clone_same_graph FROM made m;

--
-- ex7._evaluate: the dispatcher's call, on bars read from ex7.bars
--
-- a contract of its own, so that no other test's bars are in the way (removed at the end)
INSERT INTO ex7.instruments (symbol, name, tick_size, tick_value, commission_per_side)
VALUES ('X7ENG', 'Engine test contract', 0.25, 1.25, 0.62);
-- 200 five-minute bars closing from Sunday 2026-03-01 18:05 New York time (EST) on: the close falls a
-- quarter point a bar for 185 bars, then rises 2 points a bar; bar 186 closes at 09:35 on Monday
INSERT INTO ex7.bars (instrument, timeframe, ts, open, high, low, close, volume)
SELECT 'X7ENG', '5m', timestamptz '2026-03-01 18:00-05' + i * interval '5 minutes', p, p, p, p, 100
  FROM generate_series(1, 200) i,
       LATERAL (SELECT CASE WHEN i <= 185 THEN 5000 - (i - 1) * 0.25 ELSE 5000 - 184 * 0.25 + (i - 185) * 2 END AS p) x;
-- a direct write: its blocks follow by a sync (docs/market.md, "Bar blocks")
SELECT ex7._bar_blocks_sync('X7ENG', '5m', '-infinity', 'infinity') AS synced;

-- close above its 3-bar SMA -> long with an 8-tick stop: lookback 3
CREATE FUNCTION pg_temp.g() RETURNS jsonb LANGUAGE sql AS $$
    SELECT '{"nodes": [{"id": "c", "type": "close"}, {"id": "avg", "type": "sma", "params": {"period": 3}},
                       {"id": "up", "type": "gt"}, {"id": "e", "type": "enter_long", "params": {"size": 2}},
                       {"id": "s", "type": "stop_loss_ticks", "params": {"ticks": 8}}],
            "edges": [{"from": "c", "to": "avg"}, {"from": "c", "to": "up", "port": "a"}, {"from": "avg", "to": "up", "port": "b"},
                      {"from": "up", "to": "e"}, {"from": "e", "to": "s"}]}'::jsonb;
$$;
\set sid '00000000-0000-4000-8000-0000000e0a01'
SELECT ex7._graph_cache_stats() - 'capacity' AS cache_before;
-- the last bar (10:40 New York): it reads 3 bars, newest first through the primary key; close as exact text
SELECT ex7._evaluate(:'sid', 1, pg_temp.g(), 'X7ENG', '5m', '2026-03-02 10:40-05') AS last_bar;
-- a bar in the fall (bar 100): close below its average, nothing fires
SELECT ex7._evaluate(:'sid', 1, pg_temp.g(), 'X7ENG', '5m', timestamptz '2026-03-01 18:00-05' + 100 * interval '5 minutes') - 'bar_ts' AS falling;
-- the second bar there is: two bars, SMA(3) undefined, not warm
SELECT ex7._evaluate(:'sid', 1, pg_temp.g(), 'X7ENG', '5m', '2026-03-01 18:10-05') - 'bar_ts' AS second_bar;
-- no bar closes at that time (between two bars), another timeframe, an unknown instrument: nothing
SELECT ex7._evaluate(:'sid', 1, pg_temp.g(), 'X7ENG', '5m', '2026-03-02 10:37-05') - 'bar_ts' AS between_bars;
SELECT ex7._evaluate(:'sid', 1, pg_temp.g(), 'X7ENG', '15m', '2026-03-02 10:40-05') ->> 'bars' AS other_timeframe,
       ex7._evaluate(:'sid', 1, pg_temp.g(), 'NOPE', '5m', '2026-03-02 10:40-05') ->> 'bars' AS unknown_instrument;
-- one compile for (sid, 1), every later call a hit
SELECT ex7._graph_cache_stats() - 'capacity' AS cache_after;
-- the same key with another graph (a caller's mistake: versions are immutable): compiled afresh, and the
-- new graph is what runs (SMA(200) needs 200 bars: all of them, warm)
SELECT ex7._evaluate(:'sid', 1, jsonb_set(pg_temp.g(), '{nodes,1,params,period}', '200'), 'X7ENG', '5m', '2026-03-02 10:40-05') #> '{values,avg}' AS sma200,
       (SELECT round(avg(close), 4) FROM ex7.bars WHERE instrument = 'X7ENG') AS sma200_by_sql,
       ex7._graph_cache_stats() -> 'compiles' AS compiles;
-- an invalid graph is a 422 (and is not cached)
SELECT ex7_test.err(format('SELECT ex7._evaluate(%L, 2, %L, %L, %L, %L)', :'sid', pg_temp.g() #- '{edges,4}' #- '{edges,3}',
                           'X7ENG', '5m', '2026-03-02 10:40-05')) AS invalid;
SELECT ex7._graph_cache_stats() -> 'entries' AS entries;
-- bounded: capacity + 44 more keys leave capacity plans, the least recently used evicted (the 2 keys
-- above, then the first 43 new ones); all of them one bar, read once (the bar window)
SELECT count(*) AS evaluated FROM generate_series(1, (ex7._graph_cache_stats() ->> 'capacity')::int + 44) i,
       LATERAL ex7._evaluate(md5(i::text)::uuid, 1, pg_temp.g(), 'X7ENG', '5m', '2026-03-02 10:40-05') r;
SELECT s ->> 'capacity' AS capacity, (s ->> 'entries') = (s ->> 'capacity') AS full, s -> 'evictions' AS evictions,
       s -> 'window_reads' AS window_reads, s -> 'window_hits' AS window_hits
  FROM ex7._graph_cache_stats() s;
-- the most recently used key is still there (a hit), the first new key is not (a compile)
SELECT ex7._graph_cache_stats() -> 'compiles' AS compiles_before;
SELECT ex7._evaluate(md5(((ex7._graph_cache_stats() ->> 'capacity')::int + 44)::text)::uuid, 1, pg_temp.g(), 'X7ENG', '5m', '2026-03-02 10:40-05') -> 'bars' AS newest,
       ex7._graph_cache_stats() -> 'compiles' AS compiles_after_newest;
SELECT ex7._evaluate(md5('1')::uuid, 1, pg_temp.g(), 'X7ENG', '5m', '2026-03-02 10:40-05') -> 'bars' AS oldest,
       ex7._graph_cache_stats() -> 'compiles' AS compiles_after_oldest;

-- the EMA crossover fixture: on the bar where the 9 EMA crosses above the 21 EMA inside the session, the
-- dispatcher's view (the graph's 119-bar lookback from the table) fires the long with its brackets, like
-- the backtest's view over every bar (ex7.evaluate_graph_series) does on the same bar
SELECT f #> '{body,graph}' AS ema_graph FROM jsonb_array_elements(ex7._fixtures()) f WHERE f ->> 'slug' = 'ema-crossover' \gset
SELECT jsonb_agg(jsonb_build_object('ts', ts, 'close', close, 'volume', volume) ORDER BY ts) AS all_bars
  FROM ex7.bars WHERE instrument = 'X7ENG' \gset
SELECT (r ->> 'bar_ts')::timestamptz AT TIME ZONE 'America/New_York' AS cross_bar_new_york, r -> 'values' -> 'cross_up' AS cross_up, r -> 'enter_long' AS enter_long,
       r -> 'warm' AS warm
  FROM jsonb_array_elements(ex7.evaluate_graph_series(:'ema_graph', :'all_bars')) r
 WHERE r -> 'values' -> 'cross_up' = 'true';
SELECT r - 'values' - 'bar_ts' AS dispatcher_view, r ->> 'bar_ts' AS bar_ts
  FROM ex7._evaluate('00000000-0000-4000-8000-0000000e0a02', 1, :'ema_graph', 'X7ENG', '5m', '2026-03-02 09:45-05') r;
-- on that bar, the two views' EMAs differ only by the seed's residual weight (at most 1e-4 of it)
SELECT abs((d #>> '{values,fast}')::numeric - (b #>> '{values,fast}')::numeric) < 0.01 AS fast_close,
       abs((d #>> '{values,slow}')::numeric - (b #>> '{values,slow}')::numeric) < 0.01 AS slow_close
  FROM ex7._evaluate('00000000-0000-4000-8000-0000000e0a02', 1, :'ema_graph', 'X7ENG', '5m', '2026-03-02 09:45-05') d,
       jsonb_array_elements(ex7.evaluate_graph_series(:'ema_graph', :'all_bars')) b
 WHERE (b ->> 'bar_ts')::timestamptz = '2026-03-02 09:45-05';

DELETE FROM ex7.bars WHERE instrument = 'X7ENG';
SELECT ex7._bar_blocks_sync('X7ENG', '5m', '-infinity', 'infinity') AS synced;
DELETE FROM ex7.instruments WHERE symbol = 'X7ENG';
