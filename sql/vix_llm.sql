-- sql/vix_llm.sql: Vix with a language model (ext/sql/74_vix.sql; docs/account.md, "Vix with a language
-- model"): ex7.vix_llm_request builds the Chat Completions request after the checks of vix_generate (a 422
-- or 429 never reaches the provider, nothing counted); ex7.vix_llm_result judges the answer: a graph the
-- engine accepts is generator "llm", anything else falls back to the deterministic generator with a
-- fallback_reason; one generation counted either way. Users: 00000000-0000-4000-8000-6e...
\set VERBOSITY terse
\set u1 '''00000000-0000-4000-8000-6e0000000001'''
\set u2 '''00000000-0000-4000-8000-6e0000000002'''
\set now '''2026-04-01 12:00+00'''
SELECT ex7.ensure_user(:u1) IS NOT NULL AS u1, ex7.ensure_user(:u2) IS NOT NULL AS u2;
UPDATE ex7.users SET tier = 'strategist' WHERE id = :u1;

-- the answers a model might give: ex7_test.chat(content) wraps a message the way Chat Completions does
CREATE FUNCTION ex7_test.chat(p_content text, p_finish text DEFAULT 'stop') RETURNS text LANGUAGE sql AS $$
    SELECT jsonb_build_object('id', 'chatcmpl-e2e', 'object', 'chat.completion', 'model', 'stub-model-1',
        'choices', jsonb_build_array(jsonb_build_object('index', 0, 'finish_reason', p_finish,
            'message', jsonb_build_object('role', 'assistant', 'content', p_content))))::text;
$$;
-- a valid answer: long ES 15m when the close crosses above the 50 SMA, 12 tick stop
CREATE TEMP TABLE answer AS SELECT '{
  "name": "SMA 50 trend follow",
  "summary": "Long when the close crosses above the 50 SMA; 12 tick stop, 24 tick target.",
  "instrument": "es", "timeframe": "15m",
  "assumptions": ["long only", 5, "size 1"],
  "graph": {"nodes": [{"id": "c", "type": "close"}, {"id": "avg", "type": "sma", "params": {"period": 50}},
                      {"id": "x", "type": "crosses_above"}, {"id": "long", "type": "enter_long"},
                      {"id": "stop", "type": "stop_loss_ticks", "params": {"ticks": 12}},
                      {"id": "tp", "type": "take_profit_ticks", "params": {"ticks": 24}}],
            "edges": [{"from": "c", "to": "avg", "port": "in"}, {"from": "c", "to": "x", "port": "a"},
                      {"from": "avg", "to": "x", "port": "b"}, {"from": "x", "to": "long", "port": "when"},
                      {"from": "long", "to": "stop", "port": "entry"}, {"from": "long", "to": "tp", "port": "entry"}],
            "meta": {"by": "the model"}}}'::jsonb AS a;

-- 1. the request: what vix_generate checks, in its order, before anything is sent; nothing counted
SELECT jsonb_object_keys(ex7.vix_llm_request(:u1, '{"prompt": "rsi on ES 5m"}', 'gpt-test', :now)) AS request_keys ORDER BY 1;
SELECT r ->> 'model' AS model, r -> 'response_format' AS response_format,
       jsonb_path_query_array(r, '$.messages[*].role') AS roles,
       r #>> '{messages,1,content}' AS user_content
  FROM ex7.vix_llm_request(:u1, '{"prompt": "RSI mean reversion on MNQ 5m, 20 tick stop", "create": true}', 'gpt-test', :now) r;
-- the system message: the answer's shape, the catalog's node types, the instruments, a worked example
SELECT s LIKE 'You are Vix%' AS starts, s ~ 'single JSON object' AS json_only,
       (SELECT bool_and(strpos(s, '- ' || (e ->> 'type') || ' [') > 0) FROM jsonb_array_elements(ex7.list_engines() -> 'engines') e) AS every_node_type,
       (SELECT bool_and(strpos(s, symbol || ' (') > 0) FROM ex7.instruments WHERE active) AS every_instrument,
       s ~ '1m 2m 5m 15m 30m 1h 4h 1d' AS timeframes,
       s ~ 'Example. Request: "RSI mean reversion on MNQ 5m with a 20 tick stop"' AS example,
       ex7.validate_graph((substring(s FROM 'Answer:\n(\{.*\})$')::jsonb) -> 'graph') -> 'lookback' AS example_valid_lookback
  FROM ex7._vix_llm_system_prompt() s;
SELECT ex7_test.err(format('SELECT ex7.vix_llm_request(%L, %L, %L)', :u1, b, 'gpt-test')) AS checks
  FROM unnest(ARRAY['[]', '{}', '{"prompt": 5}', '{"prompt": "   "}', '{"prompt": "rsi", "model": "x"}',
                    '{"prompt": "rsi", "create": "yes"}', '{"prompt": "rsi", "name": 3}',
                    jsonb_build_object('prompt', repeat('x', 2001))::text]) WITH ORDINALITY AS t (b, o) ORDER BY o;
SELECT ex7_test.err($$SELECT ex7.vix_llm_request('00000000-0000-4000-8000-6e0000000001', '{"prompt": "rsi"}', '')$$) AS no_model;
SELECT ex7.vix_quota(:u1, :now) ->> 'used' AS used_after_requests;

-- 2. a valid answer: generator llm, the model's words, our meta, the engine's verdict, one generation
SELECT g - 'graph' - 'validation' AS result, g #> '{graph,meta}' AS meta, g -> 'validation' AS validation
  FROM ex7.vix_llm_result(:u1, '{"prompt": "trend follow ES 15m above the 50 sma"}', 200, ex7_test.chat((SELECT a::text FROM answer)), NULL, :now) g;
SELECT ex7.vix_quota(:u1, :now) ->> 'used' AS used;
-- a Markdown fence around the JSON is taken off; a bare graph (nodes and edges at the top) is read too,
-- with the prompt as the name and a default summary
SELECT g ->> 'generator' AS generator, g ->> 'name' AS name
  FROM ex7.vix_llm_result(:u1, '{"prompt": "trend follow"}', 200,
       ex7_test.chat(E'```json\n' || (SELECT a::text FROM answer) || E'\n```'), NULL, :now) g;
SELECT g ->> 'generator' AS generator, g ->> 'name' AS name, g ->> 'summary' AS summary, g -> 'assumptions' AS assumptions
  FROM ex7.vix_llm_result(:u1, '{"prompt": "trend\nfollow"}', 200,
       ex7_test.chat((SELECT ((a -> 'graph') - 'meta' || '{"instrument": "NQ", "timeframe": "1h"}')::text FROM answer)), NULL, :now) g;
-- with create: the draft, tagged llm, noted
SELECT g #>> '{strategy,name}' AS name, g #> '{strategy,tags}' AS tags, g #>> '{strategy,instrument}' AS instrument,
       g #> '{strategy,graph}' = g -> 'graph' AS same_graph, g #>> '{strategy,id}' AS sid
  FROM ex7.vix_llm_result(:u1, '{"prompt": "trend follow ES", "create": true}', 200, ex7_test.chat((SELECT a::text FROM answer)), NULL, :now) g \gset
SELECT :'name' AS name, :'tags' AS tags, :'instrument' AS instrument, :'same_graph' AS same_graph,
       (SELECT note FROM ex7.strategy_versions WHERE strategy_id = :'sid') AS note;
SELECT ex7.vix_quota(:u1, :now) ->> 'used' AS used;

-- 3. every failure falls back to the deterministic generator, which says why; counted once all the same
CREATE TEMP TABLE failures (n int, status int, answer text, error text);
INSERT INTO failures VALUES
 (1, NULL, NULL, 'timeout'),
 (2, NULL, NULL, 'connect failed: 127.0.0.1:9 (Connection refused)'),
 (3, 500, '{"error": {"message": "Incorrect API key provided: sk-...abcd"}}', NULL),
 (4, 200, 'garbage, not JSON', NULL),
 (5, 200, '{"choices": []}', NULL),
 (6, 200, ex7_test.chat('Sure! Here is a strategy: buy low, sell high.'), NULL),
 (7, 200, ex7_test.chat('{"name": "cut', 'length'), NULL),
 (8, 200, ex7_test.chat('{"name": "no graph here"}'), NULL),
 (9, 200, ex7_test.chat((SELECT (a || '{"instrument": "BTCUSD"}')::text FROM answer)), NULL),
 (10, 200, ex7_test.chat((SELECT (a || '{"timeframe": "3m"}')::text FROM answer)), NULL),
 (11, 200, ex7_test.chat((SELECT jsonb_set(a, '{graph,nodes,1,type}', '"supertrend"')::text FROM answer)), NULL),
 (12, 200, ex7_test.chat((SELECT jsonb_set(a, '{graph,nodes,1,params,period}', '0')::text FROM answer)), NULL),
 (13, 200, ex7_test.chat((SELECT jsonb_set(a, '{graph}', '{"nodes": [], "edges": []}')::text FROM answer)), NULL),
 (14, 200, ex7_test.chat((SELECT jsonb_set(a, '{graph,edges}', '[]')::text FROM answer)), NULL),
 (15, 200, '{"choices": [{"message": {"role": "assistant", "content": null, "refusal": "I cannot help with that."}}]}', NULL),
 (16, 200, ex7_test.chat('[1, 2]'), NULL);
SELECT n, g ->> 'generator' AS generator, g -> 'fallback_reason' AS fallback_reason, g ->> 'name' AS name,
       g #>> '{quota,used}' AS used
  FROM failures, LATERAL ex7.vix_llm_result(:u1, '{"prompt": "RSI mean reversion on MNQ 5m with a 20 tick stop"}',
                                            status, answer, error, :now) g
 ORDER BY n;
-- the fallback's result is vix_generate's, key for key, but for fallback_reason and the count
SELECT (SELECT g - 'fallback_reason' - 'quota' FROM ex7.vix_llm_result(:u1, '{"prompt": "macd on CL 15m"}', 500, '', NULL, :now) g)
     = (SELECT g - 'quota' FROM ex7.vix_generate(:u1, '{"prompt": "macd on CL 15m"}', :now) g) AS same_as_deterministic;
-- a request neither can build: the deterministic generator's 422, with the model's failure in ctx; nothing counted
SELECT ex7.vix_quota(:u1, :now) ->> 'used' AS used_before;
SELECT ex7_test.err(format('SELECT ex7.vix_llm_result(%L, %L, 200, %L, NULL, %L)', :u1, '{"prompt": "make me rich"}',
                           ex7_test.chat('no'), :now)) AS unreadable;
SELECT ex7.vix_quota(:u1, :now) ->> 'used' AS used_after;
-- the body is checked again
SELECT ex7_test.err(format('SELECT ex7.vix_llm_result(%L, %L, 200, %L)', :u1, '{"prompt": "rsi", "extra": 1}', ex7_test.chat('{}'))) AS extra_key;

-- 4. the quota: 429 from the request (the provider is never called) and from the result (the quota went
-- while the model answered); a free user has 5
SELECT ex7.vix_llm_result(:u2, '{"prompt": "trend"}', 200, ex7_test.chat((SELECT a::text FROM answer)), NULL, :now) #>> '{quota,remaining}' AS remaining
  FROM generate_series(1, 4);
SELECT ex7_test.err(format('SELECT ex7.vix_llm_request(%L, %L, %L, %L)', :u2, '{"prompt": "rsi"}', 'm', :now)) AS fifth_request;
SELECT ex7.vix_llm_result(:u2, '{"prompt": "trend"}', 200, ex7_test.chat((SELECT a::text FROM answer)), NULL, :now) #> '{quota}' AS fifth;
SELECT ex7_test.err(format('SELECT ex7.vix_llm_request(%L, %L, %L, %L)', :u2, '{"prompt": "rsi"}', 'm', :now)) AS sixth_request;
SELECT ex7_test.err(format('SELECT ex7.vix_llm_result(%L, %L, 200, %L, NULL, %L)', :u2, '{"prompt": "rsi"}', ex7_test.chat('{}'), :now)) AS sixth_result;
SELECT ex7.vix_quota(:u2, :now) ->> 'used' AS used;

-- 5. only ex7d calls the two steps
SELECT has_function_privilege('ex7_user', 'ex7.vix_llm_request(uuid, jsonb, text, timestamptz)', 'EXECUTE') AS user_request,
       has_function_privilege('ex7_user', 'ex7.vix_llm_result(uuid, jsonb, integer, text, text, timestamptz)', 'EXECUTE') AS user_result,
       has_function_privilege('ex7_user', 'ex7.vix_generate(uuid, jsonb, timestamptz)', 'EXECUTE') AS user_generate;
