-- test/pgtap/search_path.sql: every function of ex7 runs with search_path pinned to pg_catalog, ex7, pg_temp
-- (ext/sql/99_search_path.sql; docs/extending.md, "Every function runs with search_path pinned"). A caller
-- whose search_path puts objects of its own before pg_catalog (public, or pg_temp first: PostgreSQL docs,
-- "Writing SECURITY DEFINER Functions Safely"; CVE-2007-2138) must get the same answers from ex7 as one
-- without: here an aggregate public.sum(numeric) that returns a constant, public.max, public.count(*), an
-- operator public.+ (numeric, numeric) that subtracts, a public.= for text that says the opposite,
-- public.now(), public.jsonb_build_object, public.lower/upper/length/round/abs/date_trunc/floor/to_char, and
-- temp tables and a temp type named like ex7's tables and pg_catalog's types. Risk state, the P&L and
-- performance summaries, the signal list, a backtest, the dispatcher on a bar and create_strategy are run
-- once without the shadows and once under them; the answers must be equal. Then: no function of schema ex7
-- lacks the pinned search_path, except the ones 99_search_path.sql lists (every name in them qualified).
BEGIN;
SELECT plan(26);

\set u '00000000-0000-4000-8000-00000000e501'
-- "long above 5000": close > 5000 enters 1 long with a 4-tick stop and an 8-tick target (sql/dispatch.sql)
CREATE FUNCTION pg_temp.graph() RETURNS jsonb LANGUAGE sql AS $$ SELECT '{
  "nodes": [{"id": "c", "type": "close"},
            {"id": "hi", "type": "constant", "params": {"value": 5000}},
            {"id": "lo", "type": "constant", "params": {"value": 5001.5}},
            {"id": "above", "type": "gt"}, {"id": "below", "type": "lt"},
            {"id": "buy", "type": "enter_long", "params": {"size": 1}},
            {"id": "sell", "type": "exit_long"},
            {"id": "stop", "type": "stop_loss_ticks", "params": {"ticks": 4}},
            {"id": "target", "type": "take_profit_ticks", "params": {"ticks": 8}}],
  "edges": [{"from": "c", "to": "above", "port": "a"}, {"from": "hi", "to": "above", "port": "b"},
            {"from": "c", "to": "below", "port": "a"}, {"from": "lo", "to": "below", "port": "b"},
            {"from": "above", "to": "buy", "port": "when"}, {"from": "below", "to": "sell", "port": "when"},
            {"from": "buy", "to": "stop", "port": "entry"},
            {"from": "buy", "to": "target", "port": "entry"}]}'::pg_catalog.jsonb $$;
\set range '{"from": "2026-03-02 14:00+00", "to": "2026-03-02 15:00+00"}'

-- a user with a running paper strategy on MES 5m ("long above 5000", 4-tick stop, 8-tick target): one signal
-- closed today by the user (realized P&L today), one open
SELECT ex7.ensure_user(:'u') IS NOT NULL AND ex7.accept_compliance(:'u', NULL, 'tap') IS NOT NULL
   AND ex7.set_risk_limits(:'u', 'paper', '{"max_trades_per_day": 100, "max_open_positions": 10,
       "daily_loss_limit": "100000", "max_consecutive_losses": 100}') IS NOT NULL AS ready \gset
SELECT ex7.create_strategy(:'u', pg_catalog.jsonb_build_object('name', 'pinned', 'instrument', 'MES',
       'timeframe', '5m', 'graph', pg_temp.graph())) ->> 'id' AS s \gset
SELECT ex7.promote_strategy(:'u', :'s') IS NOT NULL
   AND ex7.start_runtime(:'u', :'s', 'paper') IS NOT NULL AS started \gset
SELECT ex7.ingest_bar('MES', '5m', '2026-03-02 14:30+00', 4999, 5000, 4998, 4999.5, 100, false) IS NOT NULL
   AND ex7.ingest_bar('MES', '5m', '2026-03-02 14:35+00', 4999.5, 5001.25, 4999.25, 5001, 100) IS NOT NULL
   AND ex7.ingest_bar('MES', '5m', '2026-03-02 14:40+00', 5001, 5002.5, 5000.5, 5002, 100) IS NOT NULL AS bars \gset
SELECT id AS sig FROM ex7.signals WHERE strategy_id = :'s' AND status = 'open' \gset
SELECT ex7.close_signal(:'u', :'sig', 5002.75) IS NOT NULL AS closed \gset
SELECT ex7.ingest_bar('MES', '5m', '2026-03-02 14:45+00', 5002, 5002.5, 5001.75, 5002.25, 100) IS NOT NULL
       AS reopened \gset
SELECT ok(:'ready' AND :'started' AND :'bars' AND :'closed' AND :'reopened', 'the scenario is set up');

-- norm: j without the members that differ between two runs of the same call (new ids, etags, cursors, clock
-- readings; now() is the transaction's, the same in both), arrays in a canonical order
CREATE FUNCTION pg_temp.norm(j jsonb) RETURNS jsonb LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE pg_catalog.jsonb_typeof(j)
        WHEN 'object' THEN (SELECT COALESCE(pg_catalog.jsonb_object_agg(e.key, pg_temp.norm(e.value)), '{}')
                              FROM pg_catalog.jsonb_each(j) e
                             WHERE e.key OPERATOR(pg_catalog.<>) ALL (ARRAY['id', 'etag', 'next_cursor', 'signal_id',
                                    -- a backtest's clock readings
                                    'started_at', 'finished_at', 'duration_ms', 'elapsed_ms', 'store_ms',
                                    'bars_per_second']))
        -- sorted: rows made in one transaction tie on their times, and list order then follows the new ids
        WHEN 'array' THEN (SELECT COALESCE(pg_catalog.jsonb_agg(n ORDER BY n), '[]')
                             FROM pg_catalog.jsonb_array_elements(j) a(v), pg_temp.norm(a.v) n)
        ELSE j END
$$;

-- each call, first without the shadows; the writes (a new strategy, a backtest, the dispatcher on a bar)
-- are undone after each run so that both runs start from the same state
CREATE FUNCTION pg_temp.reads(u uuid, s uuid, OUT risk jsonb, OUT list jsonb, OUT sperf jsonb, OUT perf jsonb,
                               OUT dash jsonb, OUT port jsonb, OUT items jsonb) LANGUAGE sql AS $$
    SELECT ex7.risk_state(u, 'paper'), ex7.list_signals(u), ex7.strategy_performance(u, s), ex7.performance(u),
           ex7.dashboard(u, 'paper'), ex7.portfolio(u, 'paper'),
           -- the exceptions, inlined into this query: planned under the caller's search_path
           pg_catalog.jsonb_build_array(
               (SELECT pg_catalog.jsonb_agg(ex7._signal_json(x) ORDER BY x.bar_ts) FROM ex7.signals x
                 WHERE x.user_id OPERATOR(pg_catalog.=) u),
               (SELECT pg_catalog.jsonb_agg(pg_catalog.jsonb_build_array(ex7._bar_json(b),
                                                                         ex7._timeframe_interval(b.timeframe))
                                            ORDER BY b.ts)
                  FROM ex7.bars b WHERE b.instrument OPERATOR(pg_catalog.=) 'MES'),
               (SELECT pg_catalog.jsonb_agg(ex7._document_json(d) ORDER BY d.document, d.version)
                  FROM ex7.compliance_documents d),
               ex7._evaluate(s, 1, pg_temp.graph(), 'MES', '5m', '2026-03-02 14:45+00'))
$$;
CREATE FUNCTION pg_temp.writes(u uuid, s uuid, graph jsonb, range jsonb, OUT created jsonb, OUT backtest jsonb,
                                OUT dispatched jsonb) LANGUAGE sql AS $$
    SELECT ex7.create_strategy(u, pg_catalog.jsonb_build_object('name', 'Pinned Copy', 'instrument', 'MES',
               'timeframe', '5m', 'tags', pg_catalog.jsonb_build_array('A', 'b'), 'graph', graph)),
           ex7.backtest_strategy(u, s, range, true),
           -- falls to 5001: the open long's stop (5001.25) is hit
           ex7.ingest_bar('MES', '5m', '2026-03-02 14:50+00', 5002.25, 5004.5, 5001, 5001.25, 100)
$$;
CREATE FUNCTION pg_temp.after(u uuid, OUT list_after jsonb, OUT risk_after jsonb, OUT audit jsonb) LANGUAGE sql AS $$
    SELECT ex7.list_signals(u), ex7.risk_state(u, 'paper'),
           (SELECT pg_catalog.jsonb_agg(pg_catalog.to_jsonb(a) OPERATOR(pg_catalog.-) 'id'
                                        OPERATOR(pg_catalog.-) 'signal_id' ORDER BY a.bar_ts, a.id)
              FROM ex7.signal_audit a WHERE a.user_id OPERATOR(pg_catalog.=) u)
$$;

SET LOCAL search_path = pg_catalog, public;
SELECT * FROM pg_temp.reads(:'u', :'s') \gset base_
SAVEPOINT writes;
SELECT * FROM pg_temp.writes(:'u', :'s', pg_temp.graph(), :'range') \gset base_
SELECT * FROM pg_temp.after(:'u') \gset base_
ROLLBACK TO SAVEPOINT writes;

-- the shadows: in public, and in the session's temp schema
CREATE FUNCTION public.e5_keep(numeric, numeric) RETURNS numeric LANGUAGE sql IMMUTABLE AS 'SELECT $1';
CREATE AGGREGATE public.sum(numeric) (sfunc = public.e5_keep, stype = numeric, initcond = '-424242');
CREATE AGGREGATE public.max(numeric) (sfunc = public.e5_keep, stype = numeric, initcond = '424242');
CREATE FUNCTION public.e5_count(bigint) RETURNS bigint LANGUAGE sql IMMUTABLE AS 'SELECT $1';
CREATE AGGREGATE public.count(*) (sfunc = public.e5_count, stype = bigint, initcond = '4242');
CREATE FUNCTION public.e5_minus(numeric, numeric) RETURNS numeric LANGUAGE sql IMMUTABLE
    AS 'SELECT $1 OPERATOR(pg_catalog.-) $2';
CREATE OPERATOR public.+ (leftarg = numeric, rightarg = numeric, function = public.e5_minus);
CREATE FUNCTION public.e5_ne(text, text) RETURNS boolean LANGUAGE sql IMMUTABLE
    AS 'SELECT $1 OPERATOR(pg_catalog.<>) $2';
CREATE OPERATOR public.= (leftarg = text, rightarg = text, function = public.e5_ne);
CREATE FUNCTION public.now() RETURNS timestamptz LANGUAGE sql STABLE
    AS $$SELECT '2001-02-03 04:05:06+00'::pg_catalog.timestamptz$$;
CREATE FUNCTION public.jsonb_build_object(text, text) RETURNS jsonb LANGUAGE sql IMMUTABLE
    AS $$SELECT '{"shadowed": true}'::pg_catalog.jsonb$$;
CREATE FUNCTION public.jsonb_build_object(VARIADIC text[]) RETURNS jsonb LANGUAGE sql IMMUTABLE
    AS $$SELECT '{"shadowed": true}'::pg_catalog.jsonb$$;
CREATE FUNCTION public.lower(text) RETURNS text LANGUAGE sql IMMUTABLE AS $$SELECT 'SHADOWED'$$;
CREATE FUNCTION public.upper(text) RETURNS text LANGUAGE sql IMMUTABLE AS $$SELECT 'shadowed'$$;
CREATE FUNCTION public.length(text) RETURNS integer LANGUAGE sql IMMUTABLE AS 'SELECT -1';
CREATE FUNCTION public.round(numeric, integer) RETURNS numeric LANGUAGE sql IMMUTABLE AS 'SELECT 4242.42';
CREATE FUNCTION public.abs(numeric) RETURNS numeric LANGUAGE sql IMMUTABLE AS 'SELECT -4242';
CREATE FUNCTION public.floor(numeric) RETURNS numeric LANGUAGE sql IMMUTABLE AS 'SELECT 4242';
CREATE FUNCTION public.date_trunc(text, timestamptz) RETURNS timestamptz LANGUAGE sql IMMUTABLE
    AS $$SELECT '2001-02-03 00:00+00'::pg_catalog.timestamptz$$;
CREATE FUNCTION public.to_char(timestamptz, text) RETURNS text LANGUAGE sql IMMUTABLE AS $$SELECT 'shadowed'$$;
CREATE TEMP TABLE signals (id uuid, user_id uuid, status text, net_pnl numeric);
INSERT INTO pg_temp.signals VALUES (gen_random_uuid(), :'u', 'closed', -99999);
CREATE TEMP TABLE strategies (id uuid, user_id uuid, name text);
CREATE TEMP TABLE users (id uuid, tier text);
CREATE TEMP TABLE bars (instrument text, timeframe text, ts timestamptz);
CREATE TEMP TABLE risk_limits (user_id uuid, mode text);
CREATE TEMP TABLE pg_class (oid oid, relname name);
CREATE DOMAIN pg_temp.text AS varchar(3);

-- the shadows work: unqualified names in a query under this search_path reach them
SET LOCAL search_path = pg_temp, public, pg_catalog;
SELECT sum(x) AS p_sum, max(x) AS p_max, count(*) AS p_count, 1.5 + 1.5 AS p_plus, 'a' = 'a' AS p_eq,
       now() AS p_now, jsonb_build_object('a', 'b'::text) AS p_jbo, lower('X') AS p_lower,
       pg_catalog.pg_typeof('abc'::text)::oid AS p_type, (SELECT pg_catalog.count(*) FROM signals) AS p_table
  FROM (VALUES (1.5), (2.5)) v(x) \gset
SET LOCAL search_path = pg_catalog, public, pg_temp;
SELECT is(ARRAY[:'p_sum', :'p_max', :'p_count', :'p_plus', :'p_eq', :'p_lower', :'p_table'],
          ARRAY['-424242', '424242', '4242', '0.0', 'f', 'SHADOWED', '1'],
          'the shadows take over unqualified sum, max, count(*), +, text =, lower and a table name');
SELECT is(:'p_now'::timestamptz, '2001-02-03 04:05:06+00', 'and now()');
SELECT is(:'p_jbo'::jsonb, '{"shadowed": true}', 'and jsonb_build_object');
SELECT is(:'p_type'::oid, 'pg_temp.text'::regtype::oid, 'and a type name, from the temp schema');

-- the same calls under the shadows (pg_temp first, then public, then pg_catalog)
SET LOCAL search_path = pg_temp, public, pg_catalog;
SELECT * FROM pg_temp.reads(:'u', :'s') \gset sh_
SAVEPOINT writes;
SELECT * FROM pg_temp.writes(:'u', :'s', pg_temp.graph(), :'range') \gset sh_
SELECT * FROM pg_temp.after(:'u') \gset sh_
ROLLBACK TO SAVEPOINT writes;
SET LOCAL search_path = pg_catalog, public, pg_temp;

SELECT is(pg_temp.norm(:'sh_risk'), pg_temp.norm(:'base_risk'), 'risk_state: the same');
SELECT is((:'base_risk'::jsonb) ->> 'realized_pnl_today', '2.51',
          'risk_state: realized P&L today is the closed signal''s');
SELECT is(pg_temp.norm(:'sh_list'), pg_temp.norm(:'base_list'), 'list_signals: the same');
SELECT is(pg_catalog.jsonb_array_length((:'base_list'::jsonb) -> 'items'), 2, 'list_signals: both signals');
SELECT is(pg_temp.norm(:'sh_sperf'), pg_temp.norm(:'base_sperf'), 'strategy_performance: the same');
SELECT is(pg_temp.norm(:'sh_perf'), pg_temp.norm(:'base_perf'), 'performance: the same');
SELECT is(pg_temp.norm(:'sh_dash'), pg_temp.norm(:'base_dash'), 'dashboard: the same');
SELECT is(pg_temp.norm(:'sh_port'), pg_temp.norm(:'base_port'), 'portfolio: the same');
SELECT is(pg_temp.norm(:'sh_items'), pg_temp.norm(:'base_items'),
          'the exceptions (item builders, _timeframe_interval, _evaluate) under the shadows: the same');
SELECT is((:'base_items'::jsonb) #>> '{1,0,1}', '00:05:00', 'and they compute: a 5m bar is 5 minutes');
SELECT is(pg_temp.norm(:'sh_created'), pg_temp.norm(:'base_created'), 'create_strategy: the same strategy');
SELECT is((:'base_created'::jsonb) ->> 'name', 'Pinned Copy', 'create_strategy: the name as sent');
SELECT is(pg_temp.norm(:'sh_backtest'), pg_temp.norm(:'base_backtest'), 'backtest_strategy: the same run');
SELECT is((:'base_backtest'::jsonb) #>> '{result,trades}', '1', 'backtest_strategy: one trade');
SELECT is(pg_temp.norm(:'sh_dispatched'), pg_temp.norm(:'base_dispatched'),
          'the dispatcher on a bar: the same summary');
SELECT is(pg_temp.norm(:'sh_list_after'), pg_temp.norm(:'base_list_after'),
          'the dispatcher on a bar: the same signals');
SELECT is(pg_temp.norm(:'sh_risk_after'), pg_temp.norm(:'base_risk_after'),
          'the dispatcher on a bar: the same risk state');
SELECT is(pg_temp.norm(:'sh_audit'), pg_temp.norm(:'base_audit'), 'the dispatcher on a bar: the same audit rows');
SELECT isnt(pg_temp.norm(:'base_list_after'), pg_temp.norm(:'base_list'),
            'the bar changed the signals (its stop was hit, a new entry fired)');

-- the rule itself: every function of schema ex7 has the pinned search_path, except those
-- 99_search_path.sql lists (SQL item builders kept inlinable and the C evaluator, every name in them
-- qualified)
SELECT is_empty($$
    SELECT p.oid::regprocedure::text FROM pg_catalog.pg_proc p
     WHERE p.pronamespace = 'ex7'::regnamespace AND p.prokind <> 'a'
       AND NOT COALESCE(p.proconfig, '{}') @> ARRAY['search_path=pg_catalog, ex7, pg_temp']
       AND p.oid NOT IN (SELECT pg_catalog.to_regprocedure(e) FROM pg_catalog.unnest(ex7._search_path_exceptions()) e
                          WHERE pg_catalog.to_regprocedure(e) IS NOT NULL)
     ORDER BY 1 $$,
    'every function of schema ex7 runs with search_path = pg_catalog, ex7, pg_temp, but the listed exceptions');
SELECT is_empty($$
    SELECT e FROM pg_catalog.unnest(ex7._search_path_exceptions()) e
     WHERE pg_catalog.to_regprocedure(e) IS NULL
        OR (SELECT l.lanname NOT IN ('sql', 'c') OR p.prosecdef OR p.proconfig IS NOT NULL
              FROM pg_catalog.pg_proc p JOIN pg_catalog.pg_language l ON l.oid = p.prolang
             WHERE p.oid = pg_catalog.to_regprocedure(e)) $$,
    'each exception exists, is SQL (then inlinable) or C, and has no SET or SECURITY DEFINER');

SELECT * FROM finish();
ROLLBACK;
