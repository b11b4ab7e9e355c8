/* ext/sql/62_engines.sql: the strategy graph engine (ext/graph.c, ext/nodes.c): the node catalog of
 * GET /api/engines, graph validation, evaluation (on the bars table for the dispatcher, on explicit
 * bars for tests and backtests), and the fixture strategies of
 * POST /api/strategies/from-fixture/{slug}. docs/engine.md describes the graph format, the node types
 * and the evaluation semantics. */

CREATE OR REPLACE FUNCTION ex7.list_engines()
RETURNS jsonb
AS 'MODULE_PATHNAME', 'list_engines'
LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION ex7.list_engines() IS
'Returns {engines: [{type, category, description, params: [{name, type, min, max, default, values?, description}], inputs: [{port, type}], output}], port_types, limits}: every node type a strategy graph may use (GET /api/engines). The same for every user.';

CREATE OR REPLACE FUNCTION ex7.validate_graph(p_graph jsonb, p_loc jsonb DEFAULT '["body","graph"]')
RETURNS jsonb
AS 'MODULE_PATHNAME', 'validate_graph'
LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION ex7.validate_graph(jsonb, jsonb) IS
'Returns {nodes, edges, lookback, entries: [{id, side, size, stop_loss_ticks, take_profit_ticks}]} for a valid strategy graph; raises X7422 whose locator (under p_loc) points at the first offending element: unknown node type, bad or out-of-range parameter, unknown edge endpoint or port, an input connected twice or not at all, a port type mismatch, a cycle, no entry node, too much history.';

CREATE OR REPLACE FUNCTION ex7.evaluate_graph_on(p_graph jsonb, p_bars jsonb)
RETURNS jsonb
AS 'MODULE_PATHNAME', 'evaluate_graph_on'
LANGUAGE C STABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION ex7.evaluate_graph_on(jsonb, jsonb) IS
'Returns {bar_ts, bars, warm, conflict, enter_long, enter_short, exit_long, exit_short, stop_loss_ticks, take_profit_ticks, values} for the last of p_bars (a list, oldest first, of closes or {ts?, open?, high?, low?, close, volume?}), the bars being all the history there is. X7422 for an invalid graph (["body","graph",...]) or bar (["body","bars",i,...]).';

CREATE OR REPLACE FUNCTION ex7.evaluate_graph_series(p_graph jsonb, p_bars jsonb)
RETURNS jsonb
AS 'MODULE_PATHNAME', 'evaluate_graph_series'
LANGUAGE C STABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION ex7.evaluate_graph_series(jsonb, jsonb) IS
'Returns a list with the result of ex7.evaluate_graph_on for every bar of p_bars in turn (each with the bars before it as history): the per-bar view a backtest replays.';

/*
 * _evaluate: the dispatcher's call (docs/dispatcher.md). p_graph is the graph of (p_strategy_id,
 * p_version); the compiled plan is cached per backend under that key, and the bars one call reads serve
 * the other calls of the transaction while a read would return the same rows (docs/engine.md,
 * "Caching").
 */
CREATE OR REPLACE FUNCTION ex7._evaluate(p_strategy_id uuid, p_version integer, p_graph jsonb,
                                         p_instrument text, p_timeframe text, p_bar_ts timestamptz)
RETURNS jsonb
AS 'MODULE_PATHNAME', 'graph_evaluate'
LANGUAGE C STABLE STRICT PARALLEL RESTRICTED;
COMMENT ON FUNCTION ex7._evaluate(uuid, integer, jsonb, text, text, timestamptz) IS
'Returns {bar_ts, bars, close, warm, conflict, enter_long, enter_short, exit_long, exit_short, stop_loss_ticks, take_profit_ticks, values}: the graph of strategy version (p_strategy_id, p_version) evaluated on the bar of (p_instrument, p_timeframe) closing at p_bar_ts, with the graph''s lookback of bars up to it read from ex7.bars. bars = 0 (nothing fires) when no bar closes at p_bar_ts. The compiled graph is cached per backend, the bars read for the rest of the transaction while they are what a read would return. X7422 for an invalid graph.';

CREATE OR REPLACE FUNCTION ex7._graph_cache_stats()
RETURNS jsonb
AS 'MODULE_PATHNAME', 'graph_cache_stats'
LANGUAGE C VOLATILE PARALLEL RESTRICTED;
COMMENT ON FUNCTION ex7._graph_cache_stats() IS
'Returns {entries, capacity, hits, compiles, evictions, window_reads, window_hits}: this backend''s cache of compiled graphs (ex7._evaluate) and its reads of bars and the calls its bar window served instead, since the backend started.';

/* ---------------------------------------------------------------------------------------------------
 * Fixtures: real strategies a new user starts from (Create Strategy From Fixture in
 * ex7-api-reference.txt; docs/engine.md, "Fixtures"): an EMA crossover, an RSI mean reversion, an
 * opening-range breakout and a Bollinger reversion. Each is a create body;
 * sql/engines.sql checks that every one validates and survives export -> import.
 * ------------------------------------------------------------------------------------------------- */

CREATE OR REPLACE FUNCTION ex7._fixtures()
RETURNS jsonb
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
    SELECT pg_catalog.jsonb_build_array(
        pg_catalog.jsonb_build_object('slug', 'ema-crossover', 'body', $j${
            "name": "EMA 9/21 crossover",
            "description": "Trend following on MES 5-minute bars: long when the 9-bar EMA of the close crosses above the 21-bar EMA, short when it crosses below, entries during the New York day session (09:30-16:00). Each side exits on the opposite cross. 16-tick stop (4 points), 32-tick target.",
            "instrument": "MES", "timeframe": "5m", "tags": ["trend", "ema", "fixture"],
            "graph": {
                "nodes": [
                    {"id": "close", "type": "close"},
                    {"id": "fast", "type": "ema", "params": {"period": 9}},
                    {"id": "slow", "type": "ema", "params": {"period": 21}},
                    {"id": "cross_up", "type": "crosses_above"},
                    {"id": "cross_down", "type": "crosses_below"},
                    {"id": "rth", "type": "session_filter", "params": {"start": "09:30", "end": "16:00", "tz": "America/New_York"}},
                    {"id": "long_ok", "type": "and"},
                    {"id": "short_ok", "type": "and"},
                    {"id": "long", "type": "enter_long", "params": {"size": 1}},
                    {"id": "short", "type": "enter_short", "params": {"size": 1}},
                    {"id": "long_exit", "type": "exit_long"},
                    {"id": "short_exit", "type": "exit_short"},
                    {"id": "long_stop", "type": "stop_loss_ticks", "params": {"ticks": 16}},
                    {"id": "long_target", "type": "take_profit_ticks", "params": {"ticks": 32}},
                    {"id": "short_stop", "type": "stop_loss_ticks", "params": {"ticks": 16}},
                    {"id": "short_target", "type": "take_profit_ticks", "params": {"ticks": 32}}],
                "edges": [
                    {"from": "close", "to": "fast", "port": "in"},
                    {"from": "close", "to": "slow", "port": "in"},
                    {"from": "fast", "to": "cross_up", "port": "a"}, {"from": "slow", "to": "cross_up", "port": "b"},
                    {"from": "fast", "to": "cross_down", "port": "a"}, {"from": "slow", "to": "cross_down", "port": "b"},
                    {"from": "cross_up", "to": "long_ok", "port": "a"}, {"from": "rth", "to": "long_ok", "port": "b"},
                    {"from": "cross_down", "to": "short_ok", "port": "a"}, {"from": "rth", "to": "short_ok", "port": "b"},
                    {"from": "long_ok", "to": "long", "port": "when"},
                    {"from": "short_ok", "to": "short", "port": "when"},
                    {"from": "cross_down", "to": "long_exit", "port": "when"},
                    {"from": "cross_up", "to": "short_exit", "port": "when"},
                    {"from": "long", "to": "long_stop", "port": "entry"},
                    {"from": "long", "to": "long_target", "port": "entry"},
                    {"from": "short", "to": "short_stop", "port": "entry"},
                    {"from": "short", "to": "short_target", "port": "entry"}],
                "meta": {"fixture": "ema-crossover"}}}$j$::jsonb),
        pg_catalog.jsonb_build_object('slug', 'rsi-mean-reversion', 'body', $j${
            "name": "RSI(14) mean reversion",
            "description": "Mean reversion on ES 15-minute bars with Wilder's RSI(14): long when the RSI crosses back above 30 (leaving oversold), short when it crosses back below 70; a long exits when the RSI is above 50, a short when it is below 50. 12-tick stop (3 points), 24-tick target.",
            "instrument": "ES", "timeframe": "15m", "tags": ["mean-reversion", "rsi", "fixture"],
            "graph": {
                "nodes": [
                    {"id": "close", "type": "close"},
                    {"id": "rsi", "type": "rsi", "params": {"period": 14}},
                    {"id": "oversold", "type": "constant", "params": {"value": 30}},
                    {"id": "overbought", "type": "constant", "params": {"value": 70}},
                    {"id": "midline", "type": "constant", "params": {"value": 50}},
                    {"id": "leaves_oversold", "type": "crosses_above"},
                    {"id": "leaves_overbought", "type": "crosses_below"},
                    {"id": "above_mid", "type": "gt"},
                    {"id": "below_mid", "type": "lt"},
                    {"id": "long", "type": "enter_long", "params": {"size": 1}},
                    {"id": "short", "type": "enter_short", "params": {"size": 1}},
                    {"id": "long_exit", "type": "exit_long"},
                    {"id": "short_exit", "type": "exit_short"},
                    {"id": "long_stop", "type": "stop_loss_ticks", "params": {"ticks": 12}},
                    {"id": "long_target", "type": "take_profit_ticks", "params": {"ticks": 24}},
                    {"id": "short_stop", "type": "stop_loss_ticks", "params": {"ticks": 12}},
                    {"id": "short_target", "type": "take_profit_ticks", "params": {"ticks": 24}}],
                "edges": [
                    {"from": "close", "to": "rsi", "port": "in"},
                    {"from": "rsi", "to": "leaves_oversold", "port": "a"}, {"from": "oversold", "to": "leaves_oversold", "port": "b"},
                    {"from": "rsi", "to": "leaves_overbought", "port": "a"}, {"from": "overbought", "to": "leaves_overbought", "port": "b"},
                    {"from": "rsi", "to": "above_mid", "port": "a"}, {"from": "midline", "to": "above_mid", "port": "b"},
                    {"from": "rsi", "to": "below_mid", "port": "a"}, {"from": "midline", "to": "below_mid", "port": "b"},
                    {"from": "leaves_oversold", "to": "long", "port": "when"},
                    {"from": "leaves_overbought", "to": "short", "port": "when"},
                    {"from": "above_mid", "to": "long_exit", "port": "when"},
                    {"from": "below_mid", "to": "short_exit", "port": "when"},
                    {"from": "long", "to": "long_stop", "port": "entry"},
                    {"from": "long", "to": "long_target", "port": "entry"},
                    {"from": "short", "to": "short_stop", "port": "entry"},
                    {"from": "short", "to": "short_target", "port": "entry"}],
                "meta": {"fixture": "rsi-mean-reversion"}}}$j$::jsonb),
        pg_catalog.jsonb_build_object('slug', 'opening-range-breakout', 'body', $j${
            "name": "Opening range breakout (30 min)",
            "description": "MNQ 5-minute bars: the opening range is the high and low of the first six bars after 09:30 New York time. Long when the close crosses above the range high, short when it crosses below the range low, entries from 10:00 to 12:00 only; everything still open is closed on the bars from 15:50 to 16:00. 40-tick stop (10 points), 80-tick target.",
            "instrument": "MNQ", "timeframe": "5m", "tags": ["breakout", "opening-range", "fixture"],
            "graph": {
                "nodes": [
                    {"id": "close", "type": "close"},
                    {"id": "range_high", "type": "opening_range", "params": {"start": "09:30", "bars": 6, "edge": "high", "tz": "America/New_York"}},
                    {"id": "range_low", "type": "opening_range", "params": {"start": "09:30", "bars": 6, "edge": "low", "tz": "America/New_York"}},
                    {"id": "entry_window", "type": "session_filter", "params": {"start": "10:00", "end": "12:00", "tz": "America/New_York"}},
                    {"id": "flatten", "type": "session_filter", "params": {"start": "15:50", "end": "16:00", "tz": "America/New_York"}},
                    {"id": "breaks_up", "type": "crosses_above"},
                    {"id": "breaks_down", "type": "crosses_below"},
                    {"id": "long_ok", "type": "and"},
                    {"id": "short_ok", "type": "and"},
                    {"id": "long", "type": "enter_long", "params": {"size": 1}},
                    {"id": "short", "type": "enter_short", "params": {"size": 1}},
                    {"id": "long_exit", "type": "exit_long"},
                    {"id": "short_exit", "type": "exit_short"},
                    {"id": "long_stop", "type": "stop_loss_ticks", "params": {"ticks": 40}},
                    {"id": "long_target", "type": "take_profit_ticks", "params": {"ticks": 80}},
                    {"id": "short_stop", "type": "stop_loss_ticks", "params": {"ticks": 40}},
                    {"id": "short_target", "type": "take_profit_ticks", "params": {"ticks": 80}}],
                "edges": [
                    {"from": "close", "to": "breaks_up", "port": "a"}, {"from": "range_high", "to": "breaks_up", "port": "b"},
                    {"from": "close", "to": "breaks_down", "port": "a"}, {"from": "range_low", "to": "breaks_down", "port": "b"},
                    {"from": "breaks_up", "to": "long_ok", "port": "a"}, {"from": "entry_window", "to": "long_ok", "port": "b"},
                    {"from": "breaks_down", "to": "short_ok", "port": "a"}, {"from": "entry_window", "to": "short_ok", "port": "b"},
                    {"from": "long_ok", "to": "long", "port": "when"},
                    {"from": "short_ok", "to": "short", "port": "when"},
                    {"from": "flatten", "to": "long_exit", "port": "when"},
                    {"from": "flatten", "to": "short_exit", "port": "when"},
                    {"from": "long", "to": "long_stop", "port": "entry"},
                    {"from": "long", "to": "long_target", "port": "entry"},
                    {"from": "short", "to": "short_stop", "port": "entry"},
                    {"from": "short", "to": "short_target", "port": "entry"}],
                "meta": {"fixture": "opening-range-breakout"}}}$j$::jsonb),
        pg_catalog.jsonb_build_object('slug', 'bollinger-reversion', 'body', $j${
            "name": "Bollinger band reversion",
            "description": "MES 15-minute bars with 20-bar, 2-standard-deviation Bollinger bands: long when the close crosses back above the lower band, short when it crosses back below the upper band; a long exits when the close crosses above the middle band, a short when it crosses below. 20-tick stop (5 points), 30-tick target.",
            "instrument": "MES", "timeframe": "15m", "tags": ["mean-reversion", "bollinger", "fixture"],
            "graph": {
                "nodes": [
                    {"id": "close", "type": "close"},
                    {"id": "upper", "type": "bollinger", "params": {"period": 20, "stddev": 2, "band": "upper"}},
                    {"id": "middle", "type": "bollinger", "params": {"period": 20, "stddev": 2, "band": "middle"}},
                    {"id": "lower", "type": "bollinger", "params": {"period": 20, "stddev": 2, "band": "lower"}},
                    {"id": "back_above_lower", "type": "crosses_above"},
                    {"id": "back_below_upper", "type": "crosses_below"},
                    {"id": "above_middle", "type": "crosses_above"},
                    {"id": "below_middle", "type": "crosses_below"},
                    {"id": "long", "type": "enter_long", "params": {"size": 1}},
                    {"id": "short", "type": "enter_short", "params": {"size": 1}},
                    {"id": "long_exit", "type": "exit_long"},
                    {"id": "short_exit", "type": "exit_short"},
                    {"id": "long_stop", "type": "stop_loss_ticks", "params": {"ticks": 20}},
                    {"id": "long_target", "type": "take_profit_ticks", "params": {"ticks": 30}},
                    {"id": "short_stop", "type": "stop_loss_ticks", "params": {"ticks": 20}},
                    {"id": "short_target", "type": "take_profit_ticks", "params": {"ticks": 30}}],
                "edges": [
                    {"from": "close", "to": "upper", "port": "in"},
                    {"from": "close", "to": "middle", "port": "in"},
                    {"from": "close", "to": "lower", "port": "in"},
                    {"from": "close", "to": "back_above_lower", "port": "a"}, {"from": "lower", "to": "back_above_lower", "port": "b"},
                    {"from": "close", "to": "back_below_upper", "port": "a"}, {"from": "upper", "to": "back_below_upper", "port": "b"},
                    {"from": "close", "to": "above_middle", "port": "a"}, {"from": "middle", "to": "above_middle", "port": "b"},
                    {"from": "close", "to": "below_middle", "port": "a"}, {"from": "middle", "to": "below_middle", "port": "b"},
                    {"from": "back_above_lower", "to": "long", "port": "when"},
                    {"from": "back_below_upper", "to": "short", "port": "when"},
                    {"from": "above_middle", "to": "long_exit", "port": "when"},
                    {"from": "below_middle", "to": "short_exit", "port": "when"},
                    {"from": "long", "to": "long_stop", "port": "entry"},
                    {"from": "long", "to": "long_target", "port": "entry"},
                    {"from": "short", "to": "short_stop", "port": "entry"},
                    {"from": "short", "to": "short_target", "port": "entry"}],
                "meta": {"fixture": "bollinger-reversion"}}}$j$::jsonb));
$$;
COMMENT ON FUNCTION ex7._fixtures() IS
'Returns [{slug, body}]: the fixture strategies, each body a create_strategy body (name, description, instrument, timeframe, tags, graph).';

/*
 * list_fixtures: GET /api/strategies/fixtures, the slugs a client may pass to POST
 * /api/strategies/from-fixture/{slug} (the reference names that route but no way to learn its slugs).
 * A JSON array in the fixtures' order, each item the create body without its graph. The same for every
 * user, like GET /api/engines, so it takes no acting user.
 */
CREATE OR REPLACE FUNCTION ex7.list_fixtures()
RETURNS jsonb
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
    SELECT coalesce(pg_catalog.jsonb_agg(
               pg_catalog.jsonb_build_object('slug', f.v ->> 'slug', 'name', f.v #> '{body,name}',
                                             'description', f.v #> '{body,description}',
                                             'instrument', f.v #> '{body,instrument}',
                                             'timeframe', f.v #> '{body,timeframe}', 'tags', f.v #> '{body,tags}')
               ORDER BY f.o), '[]')
      FROM pg_catalog.jsonb_array_elements(ex7._fixtures()) WITH ORDINALITY AS f (v, o);
$$;
COMMENT ON FUNCTION ex7.list_fixtures() IS
'Returns a JSON array [{slug, name, description, instrument, timeframe, tags}]: the fixture strategies POST /api/strategies/from-fixture/{slug} can create, in a fixed order (GET /api/strategies/fixtures). The same for every user.';

CREATE OR REPLACE FUNCTION ex7.strategy_fixtures()
RETURNS jsonb
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
    SELECT pg_catalog.jsonb_build_object('fixtures', ex7.list_fixtures());
$$;
COMMENT ON FUNCTION ex7.strategy_fixtures() IS
'Returns {fixtures: [{slug, name, description, instrument, timeframe, tags}]}: ex7.list_fixtures() wrapped in an object, the strategies POST /api/strategies/from-fixture/{slug} can create.';

/*
 * create_from_fixture: the create path (ex7._strategy_fields, ex7._insert_strategy), so a fixture obeys
 * every rule a client's body does. A second copy of one fixture gets "Name (2)", as an import with
 * name_on_conflict "suffix" would: starting from the same template twice is not a mistake.
 */
CREATE OR REPLACE FUNCTION ex7.create_from_fixture(p_user uuid, p_slug text)
RETURNS jsonb
LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
    v_body jsonb;
    v      ex7.strategies;
BEGIN
    PERFORM ex7._ensure_user(p_user);
    SELECT f -> 'body' INTO v_body
      FROM pg_catalog.jsonb_array_elements(ex7._fixtures()) AS f
     WHERE f ->> 'slug' = p_slug;
    IF v_body IS NULL THEN
        PERFORM ex7._raise(404, pg_catalog.format('fixture "%s" not found', pg_catalog.left(p_slug, 64)));
    END IF;
    v := ex7._insert_strategy(p_user, ex7._strategy_fields(v_body, false), 'suffix',
                              pg_catalog.format('created from fixture %s', p_slug));
    RETURN ex7._strategy_json(v);
END
$$;
COMMENT ON FUNCTION ex7.create_from_fixture(uuid, text) IS
'Returns the created strategy (201 body, with graph): a draft at version 1 made from fixture p_slug (ex7.strategy_fixtures()), named "Name (2)", ... when the name is taken. X7404 for an unknown slug.';
