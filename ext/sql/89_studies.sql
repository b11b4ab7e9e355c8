/* ext/sql/89_studies.sql: parameter studies and walk-forward analysis (docs/research.md, "Studies" and
 * "Walk-forward"). Tables in 88_studies_schema.sql; the background workers in ext/study.c.
 *
 * A study is a set of trials; a trial is a backtest (purpose 'study') of the study's strategy version with
 * the trial's parameter values substituted into its graph, run by ext/backtest.c like any other. Workers
 * (one process each, at most the tier's study_workers_max per user) claim a user's pending trials one at a
 * time under the study row lock (ex7._study_claim), run them with progress commits, and record each
 * (ex7._study_trial_finish), which emits a study_progress event; the last one summarises the study.
 * Lock order: the study row, then the user row (ex7._emit_event).
 */

/* ---------------------------------------------------------------------------------------------------
 * Limits.
 * ------------------------------------------------------------------------------------------------- */

CREATE OR REPLACE FUNCTION ex7._study_limits()
RETURNS jsonb
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
    SELECT '{"parameters": 6, "values_per_parameter": 1000, "grid_points": 100000, "trials": 1000,
             "constraints": 20, "windows": 50}'::jsonb;
$$;
COMMENT ON FUNCTION ex7._study_limits() IS
'Returns the limits of a study: parameters 6, values per parameter 1000, points of the full grid before constraints 100000 (the space is enumerated), trials 1000 (the tier''s study_trials_max may lower it; walk-forward: per window), constraints 20, walk-forward windows 50.';

/* ---------------------------------------------------------------------------------------------------
 * The space: parameters, their values, constraints.
 * ------------------------------------------------------------------------------------------------- */

/*
 * _study_graph: p_graph with p_values ({"node.param": value}) substituted: each named node's params get the
 * value (added when absent). The name splits at its last dot: parameter names have none, node ids may.
 */
CREATE OR REPLACE FUNCTION ex7._study_graph(p_graph jsonb, p_values jsonb)
RETURNS jsonb
LANGUAGE plpgsql IMMUTABLE
AS $$
DECLARE
    v_key text;
    v_val jsonb;
    v_node text;
    v_param text;
    v_i integer;
    v_params jsonb;
BEGIN
    FOR v_key, v_val IN SELECT e.key, e.value FROM pg_catalog.jsonb_each(p_values) e LOOP
        v_node := pg_catalog.substring(v_key, '^(.*)\.[^.]*$');
        v_param := pg_catalog.substring(v_key, '\.([^.]*)$');
        SELECT (n.i - 1)::integer INTO v_i
          FROM pg_catalog.jsonb_array_elements(p_graph -> 'nodes') WITH ORDINALITY AS n (node, i)
         WHERE n.node ->> 'id' = v_node
         LIMIT 1;
        IF v_i IS NULL THEN
            RAISE EXCEPTION 'ex7._study_graph: no node %', v_node;
        END IF;
        v_params := p_graph -> 'nodes' -> v_i -> 'params';
        IF v_params IS NULL OR pg_catalog.jsonb_typeof(v_params) <> 'object' THEN
            v_params := '{}';
        END IF;
        p_graph := pg_catalog.jsonb_set(p_graph, ARRAY['nodes', v_i::text, 'params'],
                                        v_params || pg_catalog.jsonb_build_object(v_param, v_val));
    END LOOP;
    RETURN p_graph;
END
$$;
COMMENT ON FUNCTION ex7._study_graph(jsonb, jsonb) IS
'Returns the graph with the values {"node.param": value} substituted into the named nodes'' params (the name splits at its last dot).';

/*
 * _study_check_graph: runs the engine's validator on a substituted graph; a failure is re-raised as X7422 at
 * p_loc (a place in the request body) with the validator's message and type, prefixed by p_what.
 */
CREATE OR REPLACE FUNCTION ex7._study_check_graph(p_graph jsonb, p_loc jsonb, p_what text)
RETURNS void
LANGUAGE plpgsql STABLE
AS $$
DECLARE
    v_msg text;
    v_detail text;
BEGIN
    PERFORM ex7.validate_graph(p_graph, '["graph"]');
EXCEPTION WHEN SQLSTATE 'X7422' THEN
    GET STACKED DIAGNOSTICS v_msg = MESSAGE_TEXT, v_detail = PG_EXCEPTION_DETAIL;
    PERFORM ex7._invalid(p_loc, p_what || ': ' || v_msg,
                         coalesce(v_detail::jsonb -> 0 ->> 'type', 'value_error'));
END
$$;
COMMENT ON FUNCTION ex7._study_check_graph(jsonb, jsonb, text) IS
'Returns nothing when the graph passes the engine''s validator (ex7.validate_graph); otherwise raises X7422 at p_loc with p_what, the validator''s message and its error type.';

/*
 * _study_space: the space of a request checked against the version's graph, normalised:
 * {parameters: [{name, values: [...]}] in name order, constraints: [{left, op, right} | {left, op, value}]}.
 * X7422 at ["body","space",...] for every fault.
 */
CREATE OR REPLACE FUNCTION ex7._study_space(p_graph jsonb, p_space jsonb)
RETURNS jsonb
LANGUAGE plpgsql STABLE
AS $$
DECLARE
    lim jsonb := ex7._study_limits();
    v_key text;
    v_spec jsonb;
    v_loc jsonb;
    v_node text;
    v_values jsonb;
    v_min numeric;
    v_max numeric;
    v_step numeric;
    v_n numeric;
    v_i integer;
    v_v jsonb;
    v_params jsonb := '[]';
    v_names text[] := '{}';
    v_numeric text[] := '{}';
    v_cons jsonb := '[]';
    v_c jsonb;
    v_m text[];
    v_points numeric := 1;
BEGIN
    IF p_space IS NULL OR pg_catalog.jsonb_typeof(p_space) <> 'object' THEN
        PERFORM ex7._invalid('["body","space"]', 'value is not a valid dict', 'type_error.dict');
    END IF;
    FOR v_key IN SELECT k FROM pg_catalog.jsonb_object_keys(p_space) k ORDER BY k LOOP
        IF v_key NOT IN ('parameters', 'constraints') THEN
            PERFORM ex7._invalid(pg_catalog.jsonb_build_array('body', 'space', v_key), 'extra fields not permitted',
                                 'value_error.extra');
        END IF;
    END LOOP;
    IF pg_catalog.jsonb_typeof(p_space -> 'parameters') IS DISTINCT FROM 'object' THEN
        PERFORM ex7._invalid('["body","space","parameters"]', 'parameters must be an object of "node.param": {min, max, step} or {values}',
                             'type_error.dict');
    END IF;
    IF (SELECT count(*) FROM pg_catalog.jsonb_object_keys(p_space -> 'parameters')) NOT BETWEEN 1 AND (lim ->> 'parameters')::integer THEN
        PERFORM ex7._invalid('["body","space","parameters"]',
                             pg_catalog.format('a space has 1 to %s parameters', lim ->> 'parameters'), 'value_error.list.size');
    END IF;
    FOR v_key, v_spec IN SELECT e.key, e.value FROM pg_catalog.jsonb_each(p_space -> 'parameters') e ORDER BY e.key COLLATE "C" LOOP
        v_loc := pg_catalog.jsonb_build_array('body', 'space', 'parameters', v_key);
        v_node := pg_catalog.substring(v_key, '^(.*)\.[^.]*$');
        IF v_node IS NULL OR v_node = '' OR pg_catalog.substring(v_key, '\.([^.]*)$') = '' THEN
            PERFORM ex7._invalid(v_loc, 'a parameter is named "<node id>.<parameter>"', 'value_error.parameter');
        END IF;
        IF NOT EXISTS (SELECT 1 FROM pg_catalog.jsonb_array_elements(p_graph -> 'nodes') n WHERE n ->> 'id' = v_node) THEN
            PERFORM ex7._invalid(v_loc, pg_catalog.format('unknown node id "%s"', pg_catalog.left(v_node, 64)),
                                 'value_error.unknown_node');
        END IF;
        IF pg_catalog.jsonb_typeof(v_spec) IS DISTINCT FROM 'object' THEN
            PERFORM ex7._invalid(v_loc, 'value is not a valid dict', 'type_error.dict');
        END IF;
        IF v_spec ? 'values' THEN
            IF (SELECT count(*) FROM pg_catalog.jsonb_object_keys(v_spec)) > 1 THEN
                PERFORM ex7._invalid(v_loc, 'give either {values} or {min, max, step}', 'value_error.extra');
            END IF;
            v_values := v_spec -> 'values';
            IF pg_catalog.jsonb_typeof(v_values) <> 'array' OR pg_catalog.jsonb_array_length(v_values) = 0
               OR pg_catalog.jsonb_array_length(v_values) > (lim ->> 'values_per_parameter')::integer THEN
                PERFORM ex7._invalid(v_loc || '["values"]',
                                     pg_catalog.format('values must be a list of 1 to %s values', lim ->> 'values_per_parameter'),
                                     'value_error.list.size');
            END IF;
            FOR v_v, v_i IN SELECT x.v, (x.i - 1)::integer FROM pg_catalog.jsonb_array_elements(v_values) WITH ORDINALITY x (v, i) LOOP
                IF pg_catalog.jsonb_typeof(v_v) NOT IN ('number', 'string', 'boolean') THEN
                    PERFORM ex7._invalid(v_loc || pg_catalog.jsonb_build_array('values', v_i),
                                         'a value is a number, a string or a boolean', 'type_error');
                END IF;
                IF EXISTS (SELECT 1 FROM pg_catalog.jsonb_array_elements(v_values) WITH ORDINALITY y (v, j)
                            WHERE y.j <= v_i AND y.v = v_v) THEN
                    PERFORM ex7._invalid(v_loc || pg_catalog.jsonb_build_array('values', v_i),
                                         'a value is listed twice', 'value_error.duplicate');
                END IF;
            END LOOP;
        ELSE
            FOR v_i IN SELECT 1 FROM pg_catalog.jsonb_object_keys(v_spec) k WHERE k NOT IN ('min', 'max', 'step') LOOP
                PERFORM ex7._invalid(v_loc, 'give either {values} or {min, max, step}', 'value_error.extra');
            END LOOP;
            FOREACH v_node IN ARRAY ARRAY['min', 'max', 'step'] LOOP
                IF pg_catalog.jsonb_typeof(v_spec -> v_node) IS DISTINCT FROM 'number' THEN
                    PERFORM ex7._invalid(v_loc || pg_catalog.jsonb_build_array(v_node),
                                         CASE WHEN v_spec ? v_node THEN 'value is not a valid number' ELSE 'field required' END,
                                         CASE WHEN v_spec ? v_node THEN 'type_error.number' ELSE 'value_error.missing' END);
                END IF;
            END LOOP;
            v_min := (v_spec ->> 'min')::numeric;
            v_max := (v_spec ->> 'max')::numeric;
            v_step := (v_spec ->> 'step')::numeric;
            IF v_step <= 0 THEN
                PERFORM ex7._invalid(v_loc || '["step"]', 'step must be greater than 0', 'value_error.number.not_gt');
            END IF;
            IF v_max < v_min THEN
                PERFORM ex7._invalid(v_loc || '["max"]', 'max must be at least min', 'value_error.number.not_ge');
            END IF;
            v_n := pg_catalog.floor((v_max - v_min) / v_step) + 1;
            IF v_n > (lim ->> 'values_per_parameter')::integer THEN
                PERFORM ex7._invalid(v_loc || '["step"]',
                                     pg_catalog.format('the range has %s values, more than %s', v_n, lim ->> 'values_per_parameter'),
                                     'value_error.list.size');
            END IF;
            SELECT pg_catalog.jsonb_agg(pg_catalog.to_jsonb(pg_catalog.trim_scale(v_min + k * v_step)) ORDER BY k)
              INTO v_values FROM pg_catalog.generate_series(0, v_n::integer - 1) k;
        END IF;
        -- every value alone must make a valid graph: the parameter exists on the node type and takes it
        FOR v_v, v_i IN SELECT x.v, (x.i - 1)::integer FROM pg_catalog.jsonb_array_elements(v_values) WITH ORDINALITY x (v, i) LOOP
            PERFORM ex7._study_check_graph(ex7._study_graph(p_graph, pg_catalog.jsonb_build_object(v_key, v_v)),
                                           CASE WHEN v_spec ? 'values' THEN v_loc || pg_catalog.jsonb_build_array('values', v_i)
                                                ELSE v_loc END,
                                           pg_catalog.format('%s = %s', v_key, v_v));
        END LOOP;
        v_points := v_points * pg_catalog.jsonb_array_length(v_values);
        v_params := v_params || pg_catalog.jsonb_build_array(pg_catalog.jsonb_build_object('name', v_key, 'values', v_values));
        v_names := v_names || v_key;
        IF NOT EXISTS (SELECT 1 FROM pg_catalog.jsonb_array_elements(v_values) x WHERE pg_catalog.jsonb_typeof(x) <> 'number') THEN
            v_numeric := v_numeric || v_key;
        END IF;
    END LOOP;
    IF v_points > (lim ->> 'grid_points')::numeric THEN
        PERFORM ex7._invalid('["body","space","parameters"]',
                             pg_catalog.format('the grid has %s points, more than %s', v_points, lim ->> 'grid_points'),
                             'value_error.grid_points');
    END IF;

    -- constraints: "param op param" or "param op number", op one of < <= > >= !=
    IF p_space ? 'constraints' AND p_space -> 'constraints' <> 'null' THEN
        IF pg_catalog.jsonb_typeof(p_space -> 'constraints') <> 'array'
           OR pg_catalog.jsonb_array_length(p_space -> 'constraints') > (lim ->> 'constraints')::integer THEN
            PERFORM ex7._invalid('["body","space","constraints"]',
                                 pg_catalog.format('constraints must be a list of at most %s strings', lim ->> 'constraints'),
                                 'type_error.list');
        END IF;
        FOR v_c, v_i IN SELECT x.v, (x.i - 1)::integer FROM pg_catalog.jsonb_array_elements(p_space -> 'constraints') WITH ORDINALITY x (v, i) LOOP
            v_loc := pg_catalog.jsonb_build_array('body', 'space', 'constraints', v_i);
            IF pg_catalog.jsonb_typeof(v_c) <> 'string' THEN
                PERFORM ex7._invalid(v_loc, 'str type expected', 'type_error.str');
            END IF;
            v_m := pg_catalog.regexp_match(v_c #>> '{}', '^\s*(\S+)\s*(<=|>=|!=|<|>)\s*(\S+)\s*$');
            IF v_m IS NULL THEN
                PERFORM ex7._invalid(v_loc, 'a constraint is "<parameter> <op> <parameter or number>", op one of < <= > >= !=',
                                     'value_error.constraint');
            END IF;
            IF NOT v_m[1] = ANY (v_names) THEN
                PERFORM ex7._invalid(v_loc, pg_catalog.format('"%s" is not a parameter of the space', pg_catalog.left(v_m[1], 64)),
                                     'value_error.constraint');
            END IF;
            IF v_m[2] <> '!=' AND NOT v_m[1] = ANY (v_numeric) THEN
                PERFORM ex7._invalid(v_loc, pg_catalog.format('"%s" has values that are not numbers: only != applies', v_m[1]),
                                     'value_error.constraint');
            END IF;
            IF v_m[3] = ANY (v_names) THEN
                IF v_m[2] <> '!=' AND NOT v_m[3] = ANY (v_numeric) THEN
                    PERFORM ex7._invalid(v_loc, pg_catalog.format('"%s" has values that are not numbers: only != applies', v_m[3]),
                                         'value_error.constraint');
                END IF;
                v_cons := v_cons || pg_catalog.jsonb_build_array(pg_catalog.jsonb_build_object('left', v_m[1], 'op', v_m[2], 'right', v_m[3]));
            ELSIF v_m[3] ~ '^-?[0-9]+(\.[0-9]+)?$' THEN
                v_cons := v_cons || pg_catalog.jsonb_build_array(pg_catalog.jsonb_build_object('left', v_m[1], 'op', v_m[2],
                                                                                         'value', v_m[3]::numeric));
            ELSE
                PERFORM ex7._invalid(v_loc, pg_catalog.format('"%s" is neither a parameter of the space nor a number', pg_catalog.left(v_m[3], 64)),
                                     'value_error.constraint');
            END IF;
        END LOOP;
    END IF;
    RETURN pg_catalog.jsonb_build_object('parameters', v_params, 'constraints', v_cons);
END
$$;
COMMENT ON FUNCTION ex7._study_space(jsonb, jsonb) IS
'Returns the space {parameters: {"node.param": {min, max, step} | {values: [...]}}, constraints: ["a.p < b.q", "a.p >= 5", ...]} checked against a version''s graph and normalised to {parameters: [{name, values}] in name order, constraints: [{left, op, right | value}]}: every node exists, every value alone makes a graph the engine accepts, the grid is at most 100000 points. X7422 at ["body","space",...] otherwise.';

/* _study_admits: whether the values meet every constraint of the normalised space */
CREATE OR REPLACE FUNCTION ex7._study_admits(p_values jsonb, p_constraints jsonb)
RETURNS boolean
LANGUAGE plpgsql IMMUTABLE
AS $$
DECLARE
    c jsonb;
    a jsonb;
    b jsonb;
    ok boolean;
BEGIN
    FOR c IN SELECT x FROM pg_catalog.jsonb_array_elements(p_constraints) x LOOP
        a := p_values -> (c ->> 'left');
        b := CASE WHEN c ? 'right' THEN p_values -> (c ->> 'right') ELSE c -> 'value' END;
        IF c ->> 'op' = '!=' THEN
            ok := a <> b;
        ELSE
            ok := CASE c ->> 'op'
                WHEN '<' THEN (a #>> '{}')::numeric < (b #>> '{}')::numeric
                WHEN '<=' THEN (a #>> '{}')::numeric <= (b #>> '{}')::numeric
                WHEN '>' THEN (a #>> '{}')::numeric > (b #>> '{}')::numeric
                WHEN '>=' THEN (a #>> '{}')::numeric >= (b #>> '{}')::numeric END;
        END IF;
        IF NOT ok THEN
            RETURN false;
        END IF;
    END LOOP;
    RETURN true;
END
$$;
COMMENT ON FUNCTION ex7._study_admits(jsonb, jsonb) IS
'Returns true when the values {"node.param": value} meet every constraint [{left, op, right | value}] of a normalised space.';

/*
 * _study_points: the trials' values in order. grid: every point of the grid that meets the constraints,
 * the first parameter (in name order) varying slowest and each parameter's values in the order given
 * (ranges ascending). random: p_trials of those points, chosen by the seed: the points ordered by
 * md5(seed ':' grid position) and the first p_trials taken (deterministic, no repeats), then in grid order.
 */
CREATE OR REPLACE FUNCTION ex7._study_points(p_space jsonb, p_method text, p_trials integer DEFAULT NULL,
                                             p_seed bigint DEFAULT NULL)
RETURNS TABLE (ord integer, "values" jsonb)
LANGUAGE plpgsql STABLE
AS $$
DECLARE
    v_rows jsonb[] := ARRAY['{}'::jsonb];
    p jsonb;
BEGIN
    FOR p IN SELECT x FROM pg_catalog.jsonb_array_elements(p_space -> 'parameters') x LOOP
        SELECT pg_catalog.array_agg(r.r || pg_catalog.jsonb_build_object(p ->> 'name', v.v) ORDER BY r.i, v.j)
          INTO v_rows
          FROM pg_catalog.unnest(v_rows) WITH ORDINALITY r (r, i),
               pg_catalog.jsonb_array_elements(p -> 'values') WITH ORDINALITY v (v, j);
    END LOOP;
    IF p_method = 'grid' THEN
        RETURN QUERY
        SELECT (pg_catalog.row_number() OVER (ORDER BY g.i))::integer, g.r
          FROM pg_catalog.unnest(v_rows) WITH ORDINALITY g (r, i)
         WHERE ex7._study_admits(g.r, p_space -> 'constraints')
         ORDER BY g.i;
    ELSE
        RETURN QUERY
        SELECT (pg_catalog.row_number() OVER (ORDER BY s.i))::integer, s.r
          FROM (SELECT g.r, g.i
                  FROM pg_catalog.unnest(v_rows) WITH ORDINALITY g (r, i)
                 WHERE ex7._study_admits(g.r, p_space -> 'constraints')
                 ORDER BY pg_catalog.md5(p_seed::text || ':' || g.i::text), g.i
                 LIMIT p_trials) s
         ORDER BY s.i;
    END IF;
END
$$;
COMMENT ON FUNCTION ex7._study_points(jsonb, text, integer, bigint) IS
'Returns the trials'' values (ord, values) of a normalised space: grid, every point meeting the constraints (first parameter in name order slowest, values in the order given); random, p_trials of them chosen by md5(seed:position) (deterministic for a seed, no repeats), in grid order.';

/* ---------------------------------------------------------------------------------------------------
 * Walk-forward windows.
 * ------------------------------------------------------------------------------------------------- */

/*
 * _study_windows: the windows over [p_from, p_to]. rolling: window k (from 1) has in-sample
 * [from + (k-1) step, + in_sample_days) and out-of-sample the out_of_sample_days after it; anchored: the
 * in-sample starts at from and ends where the rolling one would. A window is kept while its out-of-sample
 * part ends at or before p_to (every window is whole).
 */
CREATE OR REPLACE FUNCTION ex7._study_windows(p_mode text, p_from timestamptz, p_to timestamptz, p_is_days integer,
                                              p_oos_days integer, p_step_days integer)
RETURNS TABLE (window_no integer, is_from timestamptz, is_to timestamptz, oos_from timestamptz, oos_to timestamptz)
LANGUAGE sql IMMUTABLE
AS $$
    SELECT k, CASE WHEN p_mode = 'anchored' THEN p_from ELSE p_from + (k - 1) * p_step_days * interval '1 day' END,
           p_from + ((k - 1) * p_step_days + p_is_days) * interval '1 day',
           p_from + ((k - 1) * p_step_days + p_is_days) * interval '1 day',
           p_from + ((k - 1) * p_step_days + p_is_days + p_oos_days) * interval '1 day'
      FROM pg_catalog.generate_series(1, 1000) k
     WHERE p_from + ((k - 1) * p_step_days + p_is_days + p_oos_days) * interval '1 day' <= p_to;
$$;
COMMENT ON FUNCTION ex7._study_windows(text, timestamptz, timestamptz, integer, integer, integer) IS
'Returns the walk-forward windows over [p_from, p_to]: (window_no, is_from, is_to, oos_from, oos_to). rolling: the in-sample of window k starts (k-1)*step days after from and lasts in_sample days; anchored: it starts at from and ends where the rolling one would. The out-of-sample part follows for out_of_sample days; only whole windows (ending at or before p_to).';

/* ---------------------------------------------------------------------------------------------------
 * Creating.
 * ------------------------------------------------------------------------------------------------- */

/* _study_body: the study-specific parts of the body checked: {search, objective, walk_forward} normalised */
CREATE OR REPLACE FUNCTION ex7._study_body(p_body jsonb, p_max_trials integer)
RETURNS jsonb
LANGUAGE plpgsql STABLE
AS $$
DECLARE
    v_search jsonb := p_body -> 'search';
    v_obj jsonb := p_body -> 'objective';
    v_wf jsonb := p_body -> 'walk_forward';
    v_key text;
    v_dd numeric;
    v_trials integer;
    v_seed bigint;
    v_days integer[];
BEGIN
    -- search
    IF v_search IS NULL OR v_search = 'null' THEN
        v_search := '{"method": "grid"}';
    END IF;
    IF pg_catalog.jsonb_typeof(v_search) <> 'object' THEN
        PERFORM ex7._invalid('["body","search"]', 'value is not a valid dict', 'type_error.dict');
    END IF;
    FOR v_key IN SELECT k FROM pg_catalog.jsonb_object_keys(v_search) k ORDER BY k LOOP
        IF v_key NOT IN ('method', 'trials', 'seed') THEN
            PERFORM ex7._invalid(pg_catalog.jsonb_build_array('body', 'search', v_key), 'extra fields not permitted',
                                 'value_error.extra');
        END IF;
    END LOOP;
    IF v_search ->> 'method' IS NULL OR v_search ->> 'method' NOT IN ('grid', 'random')
       OR pg_catalog.jsonb_typeof(v_search -> 'method') <> 'string' THEN
        PERFORM ex7._invalid('["body","search","method"]', 'method must be one of: grid, random', 'type_error.enum');
    END IF;
    IF v_search ->> 'method' = 'grid' THEN
        IF v_search ? 'trials' OR v_search ? 'seed' THEN
            PERFORM ex7._invalid(pg_catalog.jsonb_build_array('body', 'search', CASE WHEN v_search ? 'trials' THEN 'trials' ELSE 'seed' END),
                                 'a grid runs every point: trials and seed are for method random', 'value_error.extra');
        END IF;
    ELSE
        IF pg_catalog.jsonb_typeof(v_search -> 'trials') IS DISTINCT FROM 'number'
           OR (v_search ->> 'trials')::numeric <> pg_catalog.trunc((v_search ->> 'trials')::numeric)
           OR (v_search ->> 'trials')::numeric NOT BETWEEN 1 AND p_max_trials THEN
            PERFORM ex7._invalid('["body","search","trials"]',
                                 pg_catalog.format('trials must be an integer from 1 to %s', p_max_trials), 'value_error.number.range');
        END IF;
        v_trials := (v_search ->> 'trials')::integer;
        IF pg_catalog.jsonb_typeof(v_search -> 'seed') IS DISTINCT FROM 'number'
           OR (v_search ->> 'seed')::numeric <> pg_catalog.trunc((v_search ->> 'seed')::numeric)
           OR (v_search ->> 'seed')::numeric NOT BETWEEN 0 AND 9007199254740991 THEN
            PERFORM ex7._invalid('["body","search","seed"]', 'seed must be an integer from 0 to 2^53 - 1',
                                 'value_error.number.range');
        END IF;
        v_seed := (v_search ->> 'seed')::bigint;
        v_search := pg_catalog.jsonb_build_object('method', 'random', 'trials', v_trials, 'seed', v_seed);
    END IF;

    -- objective
    IF v_obj IS NULL OR pg_catalog.jsonb_typeof(v_obj) <> 'object' THEN
        PERFORM ex7._invalid('["body","objective"]', CASE WHEN v_obj IS NULL THEN 'field required' ELSE 'value is not a valid dict' END,
                             CASE WHEN v_obj IS NULL THEN 'value_error.missing' ELSE 'type_error.dict' END);
    END IF;
    FOR v_key IN SELECT k FROM pg_catalog.jsonb_object_keys(v_obj) k ORDER BY k LOOP
        IF v_key NOT IN ('metric', 'max_drawdown') THEN
            PERFORM ex7._invalid(pg_catalog.jsonb_build_array('body', 'objective', v_key), 'extra fields not permitted',
                                 'value_error.extra');
        END IF;
    END LOOP;
    IF pg_catalog.jsonb_typeof(v_obj -> 'metric') IS DISTINCT FROM 'string'
       OR v_obj ->> 'metric' NOT IN ('net_pnl', 'sharpe', 'sortino', 'profit_factor') THEN
        PERFORM ex7._invalid('["body","objective","metric"]', 'metric must be one of: net_pnl, sharpe, sortino, profit_factor',
                             'type_error.enum');
    END IF;
    IF v_obj ? 'max_drawdown' AND v_obj -> 'max_drawdown' <> 'null' THEN
        BEGIN
            v_dd := (v_obj ->> 'max_drawdown')::numeric;
        EXCEPTION WHEN invalid_text_representation THEN
            v_dd := NULL;
        END;
        IF v_dd IS NULL OR pg_catalog.jsonb_typeof(v_obj -> 'max_drawdown') NOT IN ('string', 'number')
           OR v_dd = 'NaN' OR v_dd < 0 OR v_dd >= 1e12 THEN
            PERFORM ex7._invalid('["body","objective","max_drawdown"]', 'max_drawdown must be a decimal from 0 to 10^12 (money)',
                                 'type_error.decimal');
        END IF;
    END IF;
    v_obj := pg_catalog.jsonb_build_object('metric', v_obj ->> 'metric', 'max_drawdown', v_dd::text);

    -- walk-forward
    IF v_wf IS NOT NULL AND v_wf <> 'null' THEN
        IF pg_catalog.jsonb_typeof(v_wf) <> 'object' THEN
            PERFORM ex7._invalid('["body","walk_forward"]', 'value is not a valid dict', 'type_error.dict');
        END IF;
        FOR v_key IN SELECT k FROM pg_catalog.jsonb_object_keys(v_wf) k ORDER BY k LOOP
            IF v_key NOT IN ('mode', 'in_sample_days', 'out_of_sample_days', 'step_days') THEN
                PERFORM ex7._invalid(pg_catalog.jsonb_build_array('body', 'walk_forward', v_key), 'extra fields not permitted',
                                     'value_error.extra');
            END IF;
        END LOOP;
        IF pg_catalog.jsonb_typeof(v_wf -> 'mode') IS DISTINCT FROM 'string' OR v_wf ->> 'mode' NOT IN ('rolling', 'anchored') THEN
            PERFORM ex7._invalid('["body","walk_forward","mode"]', 'mode must be one of: rolling, anchored', 'type_error.enum');
        END IF;
        FOREACH v_key IN ARRAY ARRAY['in_sample_days', 'out_of_sample_days', 'step_days'] LOOP
            IF v_key = 'step_days' AND (NOT v_wf ? v_key OR v_wf -> v_key = 'null') THEN
                v_days := v_days || (v_days[2]);
                CONTINUE;
            END IF;
            IF pg_catalog.jsonb_typeof(v_wf -> v_key) IS DISTINCT FROM 'number'
               OR (v_wf ->> v_key)::numeric <> pg_catalog.trunc((v_wf ->> v_key)::numeric)
               OR (v_wf ->> v_key)::numeric NOT BETWEEN 1 AND 3660 THEN
                PERFORM ex7._invalid(pg_catalog.jsonb_build_array('body', 'walk_forward', v_key),
                                     pg_catalog.format('%s must be an integer from 1 to 3660', v_key), 'value_error.number.range');
            END IF;
            v_days := v_days || (v_wf ->> v_key)::integer;
        END LOOP;
        v_wf := pg_catalog.jsonb_build_object('mode', v_wf ->> 'mode', 'in_sample_days', v_days[1],
                                              'out_of_sample_days', v_days[2], 'step_days', v_days[3]);
    ELSE
        v_wf := NULL;
    END IF;
    -- keep_trades: whether every trial stores its trades (docs/research.md, "Studies")
    IF p_body ? 'keep_trades' AND pg_catalog.jsonb_typeof(p_body -> 'keep_trades') <> 'boolean' THEN
        PERFORM ex7._invalid('["body","keep_trades"]', 'value could not be parsed to a boolean', 'type_error.bool');
    END IF;
    RETURN pg_catalog.jsonb_build_object('search', v_search, 'objective', v_obj, 'walk_forward', v_wf,
                                         'keep_trades', coalesce((p_body ->> 'keep_trades')::boolean, false));
END
$$;
COMMENT ON FUNCTION ex7._study_body(jsonb, integer) IS
'Returns {search, objective, walk_forward, keep_trades} of a study body checked and completed: keep_trades a boolean (default false); search {method: grid} (the default) or {method: random, trials 1..p_max_trials, seed 0..2^53-1}; objective {metric: net_pnl | sharpe | sortino | profit_factor, max_drawdown: decimal string or null}; walk_forward null or {mode: rolling | anchored, in_sample_days, out_of_sample_days, step_days (default out_of_sample_days)}, days 1..3660. X7422 at ["body", ...] otherwise.';

/* _study_bars: the bars of the strategy's series in (p_from, p_to] (a trial's bars_total) */
CREATE OR REPLACE FUNCTION ex7._study_bars(p_instrument text, p_timeframe text, p_from timestamptz, p_to timestamptz)
RETURNS bigint
LANGUAGE sql STABLE
AS $$
    SELECT count(*) FROM ex7.bars x
     WHERE x.instrument = p_instrument AND x.timeframe = p_timeframe::ex7.timeframe AND x.ts > p_from AND x.ts <= p_to;
$$;
COMMENT ON FUNCTION ex7._study_bars(text, text, timestamptz, timestamptz) IS
'Returns the count of stored bars of a series in (p_from, p_to].';

/*
 * create_study: POST /api/strategies/{id}/studies. Checks the body, creates the study and all its trials in
 * this transaction, and starts the background workers (ex7._study_start); p_sync (tests, tools) or a role
 * bound to a user runs every trial here instead and answers done.
 */
CREATE OR REPLACE FUNCTION ex7.create_study(p_user uuid, p_strategy_id uuid, p_body jsonb, p_sync boolean DEFAULT false)
RETURNS jsonb
LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
    s ex7.strategies;
    v_bt jsonb;
    v_st jsonb;
    v_version integer;
    v_graph jsonb;
    v_space jsonb;
    v_max integer;
    v_n integer;
    v_windows integer;
    v_total integer;
    v_from timestamptz;
    v_to timestamptz;
    v_kind text;
    v_wf jsonb;
    v_pt record;
    v_id uuid;
    w record;
    v_is_bars bigint;
    v_oos_bars bigint;
    v_bars bigint;
    v_no integer := 0;
BEGIN
    s := ex7._backtest_strategy(p_user, p_strategy_id);
    IF p_body IS NULL OR pg_catalog.jsonb_typeof(p_body) <> 'object' THEN
        PERFORM ex7._invalid('["body"]', 'value is not a valid dict', 'type_error.dict');
    END IF;
    -- the backtests' own fields, checked as POST /api/strategies/{id}/backtest checks them
    v_bt := ex7._backtest_params(p_body - 'space' - 'search' - 'objective' - 'walk_forward' - 'keep_trades');
    v_from := (v_bt ->> 'from')::timestamptz;
    v_to := (v_bt ->> 'to')::timestamptz;
    v_version := coalesce((v_bt ->> 'version')::integer, s.current_version);
    SELECT v.graph INTO v_graph FROM ex7.strategy_versions v
     WHERE v.user_id = s.user_id AND v.strategy_id = s.id AND v.version = v_version;
    IF NOT FOUND THEN
        PERFORM ex7._raise(404, 'version not found');
    END IF;
    SELECT least(t.study_trials_max, (ex7._study_limits() ->> 'trials')::integer) INTO v_max
      FROM ex7.tiers t WHERE t.tier = ex7._current_tier(p_user);
    v_max := coalesce(v_max, 1);
    IF NOT p_body ? 'space' THEN
        PERFORM ex7._invalid('["body","space"]', 'field required', 'value_error.missing');
    END IF;
    v_space := ex7._study_space(v_graph, p_body -> 'space');
    v_st := ex7._study_body(p_body, v_max);
    v_wf := v_st -> 'walk_forward';
    v_kind := CASE WHEN v_wf IS NOT NULL AND v_wf <> 'null' THEN 'walk_forward' ELSE v_st #>> '{search,method}' END;

    CREATE TEMP TABLE IF NOT EXISTS pg_temp.ex7_study_points (ord integer PRIMARY KEY, "values" jsonb) ON COMMIT DROP;
    TRUNCATE pg_temp.ex7_study_points;
    INSERT INTO pg_temp.ex7_study_points
    SELECT p.ord, p."values"
      FROM ex7._study_points(v_space, v_st #>> '{search,method}', (v_st #>> '{search,trials}')::integer,
                             (v_st #>> '{search,seed}')::bigint) p;
    GET DIAGNOSTICS v_n = ROW_COUNT;
    IF v_n = 0 THEN
        PERFORM ex7._invalid('["body","space","constraints"]', 'no point of the space meets the constraints',
                             'value_error.constraint');
    END IF;
    IF v_n > v_max THEN
        PERFORM ex7._invalid('["body","space"]',
                             pg_catalog.format('the grid has %s trials, more than %s (the tier''s cap); narrow the space or use method random',
                                               v_n, v_max), 'value_error.trials');
    END IF;
    -- every trial's graph must be one the engine accepts (rules between parameters, such as macd fast < slow)
    FOR v_pt IN SELECT x.ord, x."values" FROM pg_temp.ex7_study_points x ORDER BY x.ord LOOP
        PERFORM ex7._study_check_graph(ex7._study_graph(v_graph, v_pt."values"), '["body","space"]',
                                       pg_catalog.format('the values %s', v_pt."values"));
    END LOOP;

    IF v_kind = 'walk_forward' THEN
        SELECT count(*) INTO v_windows
          FROM ex7._study_windows(v_wf ->> 'mode', v_from, v_to, (v_wf ->> 'in_sample_days')::integer,
                                  (v_wf ->> 'out_of_sample_days')::integer, (v_wf ->> 'step_days')::integer);
        IF v_windows = 0 THEN
            PERFORM ex7._invalid('["body","walk_forward"]',
                                 'no whole window fits: in_sample_days + out_of_sample_days must fit between from and to',
                                 'value_error.range');
        END IF;
        IF v_windows > (ex7._study_limits() ->> 'windows')::integer THEN
            PERFORM ex7._invalid('["body","walk_forward","step_days"]',
                                 pg_catalog.format('%s windows, more than %s', v_windows, ex7._study_limits() ->> 'windows'),
                                 'value_error.range');
        END IF;
        v_total := v_windows * (v_n + 1);
    ELSE
        v_total := v_n;
    END IF;

    INSERT INTO ex7.studies (user_id, strategy_id, strategy_version, kind, space, search, objective, range_from,
                             range_to, params, keep_trades, walk_forward, trials_total, launched_at)
    VALUES (p_user, s.id, v_version, v_kind, v_space, v_st -> 'search', v_st -> 'objective', v_from, v_to,
            v_bt - 'from' - 'to' - 'version', (v_st ->> 'keep_trades')::boolean,
            CASE WHEN v_kind = 'walk_forward' THEN v_wf END, v_total, pg_catalog.now())
    RETURNING id INTO v_id;

    IF v_kind = 'walk_forward' THEN
        FOR w IN SELECT * FROM ex7._study_windows(v_wf ->> 'mode', v_from, v_to, (v_wf ->> 'in_sample_days')::integer,
                                                  (v_wf ->> 'out_of_sample_days')::integer,
                                                  (v_wf ->> 'step_days')::integer) ORDER BY 1 LOOP
            v_is_bars := ex7._study_bars(s.instrument, s.timeframe, w.is_from, w.is_to);
            v_oos_bars := ex7._study_bars(s.instrument, s.timeframe, w.oos_from, w.oos_to);
            INSERT INTO ex7.study_trials (user_id, study_id, trial_no, "values", window_no, phase, range_from, range_to,
                                          bars_total)
            SELECT p_user, v_id, v_no + x.ord, x."values", w.window_no, 'in_sample', w.is_from, w.is_to, v_is_bars
              FROM pg_temp.ex7_study_points x;
            v_no := v_no + v_n + 1;
            INSERT INTO ex7.study_trials (user_id, study_id, trial_no, window_no, phase, range_from, range_to, status,
                                          bars_total)
            VALUES (p_user, v_id, v_no, w.window_no, 'out_of_sample', w.oos_from, w.oos_to, 'waiting', v_oos_bars);
        END LOOP;
    ELSE
        v_bars := ex7._study_bars(s.instrument, s.timeframe, v_from, v_to);
        INSERT INTO ex7.study_trials (user_id, study_id, trial_no, "values", range_from, range_to, bars_total)
        SELECT p_user, v_id, x.ord, x."values", v_from, v_to, v_bars FROM pg_temp.ex7_study_points x;
    END IF;
    TRUNCATE pg_temp.ex7_study_points;

    -- a role bound to a user runs its studies in its own session: background workers are the HTTP front's
    IF p_sync OR NOT pg_catalog.has_function_privilege('ex7._study_launch(uuid, integer)', 'EXECUTE') THEN
        PERFORM ex7._study_run_inline(p_user, v_id);
    ELSE
        PERFORM ex7._study_start(p_user, v_id);
    END IF;
    RETURN ex7.get_study(p_user, v_id);
END
$$;
COMMENT ON FUNCTION ex7.create_study(uuid, uuid, jsonb, boolean) IS
'Returns the new study (GET /api/studies/{id} shape) of the caller''s strategy p_strategy_id with body {from, to, version?, initial_capital?, risk_free_rate?, risk_gate?, evaluation?, space, search?, objective, walk_forward?}: the study and every trial are created in this transaction and background workers are started (status queued); with p_sync, or for a role bound to a user, every trial runs here and the study comes back done. X7404 for a strategy or version that is missing, deleted or another user''s; X7422 at ["body", ...] for a bad body, a space the version''s graph does not take, no trial meeting the constraints, or more trials than the tier''s study_trials_max (1000 at most).';

/* ---------------------------------------------------------------------------------------------------
 * Workers: starting them, claiming and recording trials, reaping.
 * ------------------------------------------------------------------------------------------------- */

/* the session advisory lock the p_slot-th study worker of a user holds for its life (0 <= slot < 16) */
CREATE OR REPLACE FUNCTION ex7._study_slot_key(p_user uuid, p_slot integer)
RETURNS bigint
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
AS $$
    SELECT ('x' || pg_catalog.substr(pg_catalog.md5('ex7 study worker ' || p_user::text || ' ' || p_slot::text), 1, 16))::bit(64)::bigint;
$$;
COMMENT ON FUNCTION ex7._study_slot_key(uuid, integer) IS
'Returns the advisory lock key of study worker slot p_slot (0..15) of user p_user: a worker holds its slot''s lock for its whole life, so at most the tier''s study_workers_max run per user, and a slot whose lock is free has no worker.';

/* _study_workers_alive: how many of the user's study worker slots are held (by a live worker) */
CREATE OR REPLACE FUNCTION ex7._study_workers_alive(p_user uuid)
RETURNS integer
LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
    v_n integer := 0;
BEGIN
    FOR i IN 0..15 LOOP
        -- a shared try succeeds unless a worker holds the slot exclusively; released at the end of this
        -- transaction (a worker starting meanwhile waits for it)
        IF NOT pg_catalog.pg_try_advisory_xact_lock_shared(ex7._study_slot_key(p_user, i)) THEN
            v_n := v_n + 1;
        END IF;
    END LOOP;
    RETURN v_n;
END
$$;
COMMENT ON FUNCTION ex7._study_workers_alive(uuid) IS
'Returns how many study worker slots of the user a live worker holds (0..16).';

CREATE OR REPLACE FUNCTION ex7._study_launch(p_user uuid, p_workers integer)
RETURNS integer
AS 'MODULE_PATHNAME', 'study_launch'
LANGUAGE C VOLATILE STRICT;
COMMENT ON FUNCTION ex7._study_launch(uuid, integer) IS
'Returns how many background study workers (up to p_workers) were registered for user p_user: each starts once the calling transaction ends, takes a free slot of the user''s study_workers_max (or exits), and runs the user''s pending trials, oldest study first, until none is left. Fewer than asked when the server''s worker slots (max_worker_processes) run out. The HTTP front''s: revoked from ex7_user.';

/*
 * _study_start: asks for k = min(free slots of the tier's study_workers_max, pending trials) workers; the
 * server's free worker slots bound it further (ex7._study_launch registers until none is free). Workers
 * serve all of a user's studies, oldest first, so a study created while the user's workers are busy is
 * taken up when they finish the earlier ones.
 */
CREATE OR REPLACE FUNCTION ex7._study_start(p_user uuid, p_study uuid)
RETURNS integer
LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
    v_cap integer;
    v_pending integer;
    v_want integer;
BEGIN
    SELECT t.study_workers_max INTO v_cap FROM ex7.tiers t WHERE t.tier = ex7._current_tier(p_user);
    SELECT count(*) INTO v_pending FROM ex7.study_trials x
     WHERE x.user_id = p_user AND x.status IN ('pending', 'waiting')
       AND x.study_id IN (SELECT y.id FROM ex7.studies y WHERE y.user_id = p_user AND y.status IN ('queued', 'running'));
    v_want := least(coalesce(v_cap, 1) - ex7._study_workers_alive(p_user), v_pending);
    IF v_want <= 0 THEN
        RETURN 0;
    END IF;
    RETURN ex7._study_launch(p_user, v_want);
END
$$;
COMMENT ON FUNCTION ex7._study_start(uuid, uuid) IS
'Returns how many background workers were registered for the user''s studies: min(the tier''s study_workers_max less the workers alive, the pending trials), fewer when the server''s worker slots run out.';

/*
 * _study_trial_metrics: a finished trial's figures. The counts and money come from its backtest's result;
 * sharpe and sortino from ex7.compute_metrics of its equity curve alone, reduced to the samples its daily
 * returns read (they are functions of those: docs/metrics.md, "Returns, Sharpe, Sortino"); profit_factor and win_rate from the result's
 * sums by compute_metrics' own formulas (6 decimals, trailing zeros trimmed; profit_factor null without a
 * losing trade). Reading the trades as JSON for compute_metrics cost more than the run itself (0.5 s for
 * 3,800 trades, docs/performance.md "Studies"); sql/studies.sql checks these figures equal the backtest's
 * full metrics.
 */
CREATE OR REPLACE FUNCTION ex7._study_trial_metrics(p_user uuid, p_backtest uuid)
RETURNS jsonb
LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
    b ex7.backtests := ex7._own_backtest(p_user, p_backtest);
    m jsonb;
    r jsonb := b.result;
    v_trades bigint := (r ->> 'trades')::bigint;
    v_losses bigint := (r ->> 'losses')::bigint;
    v_curve jsonb;
BEGIN
    -- the curve reduced to what the daily returns read (docs/metrics.md): its first sample and the last one
    -- of each UTC day (a day ends at the next midnight inclusive); a million bars' 40,000 points become
    -- some 700, so the metrics cost little. The days' last samples come from a grouping by day (the curve is
    -- in time order, so a day's last sample has its largest seq), not from a window over the whole curve:
    -- the grouping keeps one row a day in memory, a window's sort every sample of the run
    WITH last AS (
        SELECT pg_catalog.max(e.seq) AS seq
          FROM ex7.backtest_equity e WHERE e.user_id = b.user_id AND e.backtest_id = b.id
         GROUP BY ((e.ts - interval '1 microsecond') AT TIME ZONE 'UTC')::date
        UNION
        SELECT 1)
    SELECT pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object('ts', e.ts, 'equity', e.equity::text) ORDER BY e.seq)
      INTO v_curve
      FROM ex7.backtest_equity e
     WHERE e.user_id = b.user_id AND e.backtest_id = b.id AND e.seq IN (SELECT l.seq FROM last l);
    m := ex7.compute_metrics('[]', coalesce(v_curve, '[]'),
                             pg_catalog.jsonb_build_object('initial_capital', b.params -> 'initial_capital',
                                                           'risk_free_rate', b.params -> 'risk_free_rate'));
    RETURN pg_catalog.jsonb_build_object(
        'net_pnl', r ->> 'net_pnl', 'gross_profit', r ->> 'gross_profit', 'gross_loss', r ->> 'gross_loss',
        'max_drawdown', r ->> 'max_drawdown', 'final_equity', r ->> 'final_equity',
        'trades', v_trades, 'wins', (r ->> 'wins')::bigint, 'losses', v_losses,
        'win_rate', CASE WHEN v_trades > 0
                         THEN pg_catalog.trim_scale(pg_catalog.round(((r ->> 'wins')::float8 / v_trades)::numeric, 6)) END,
        'sharpe', m -> 'sharpe', 'sortino', m -> 'sortino',
        'profit_factor', CASE WHEN v_losses > 0
                              THEN pg_catalog.trim_scale(pg_catalog.round(((r ->> 'gross_profit')::float8
                                                                           / -(r ->> 'gross_loss')::float8)::numeric, 6)) END,
        'bars', (r ->> 'bars')::bigint);
END
$$;
COMMENT ON FUNCTION ex7._study_trial_metrics(uuid, uuid) IS
'Returns a finished trial''s figures: net_pnl, gross_profit, gross_loss, max_drawdown (every bar close), final_equity, trades, wins, losses and bars from its backtest''s result; sharpe and sortino from ex7.compute_metrics of its equity curve (its first sample and each UTC day''s last, all the daily returns read); win_rate and profit_factor from the result''s counts and sums by compute_metrics'' formulas (docs/metrics.md).';

/*
 * _study_objective: the objective of a trial's metrics. profit_factor without a losing trade is +Infinity
 * when something was won (it beats every finite factor) and NULL when nothing was; NULL ranks last.
 */
CREATE OR REPLACE FUNCTION ex7._study_objective(p_metric text, m jsonb)
RETURNS float8
LANGUAGE sql IMMUTABLE
AS $$
    SELECT CASE p_metric
        WHEN 'net_pnl' THEN (m ->> 'net_pnl')::float8
        WHEN 'sharpe' THEN (m ->> 'sharpe')::float8
        WHEN 'sortino' THEN (m ->> 'sortino')::float8
        WHEN 'profit_factor' THEN CASE WHEN m -> 'profit_factor' IS NOT NULL AND m -> 'profit_factor' <> 'null'
                                       THEN (m ->> 'profit_factor')::float8
                                       WHEN (m ->> 'gross_profit')::numeric > 0 THEN 'Infinity'::float8 END
    END;
$$;
COMMENT ON FUNCTION ex7._study_objective(text, jsonb) IS
'Returns the objective p_metric (net_pnl, sharpe, sortino, profit_factor) of a trial''s metrics as float8: profit_factor without losses is Infinity when something was won, NULL when nothing was; NULL when the metric is undefined (ranked last).';

/*
 * _study_claim: the next trial of the user's oldest study that has one pending (queued or running), under
 * that study's row lock (a cancel waits, or is waited for): its backtest row is created (purpose study, the
 * trial's graph) and the trial marked running. Returns no row when nothing is pending.
 */
CREATE OR REPLACE FUNCTION ex7._study_claim(p_user uuid)
RETURNS TABLE (study_id uuid, trial_no integer, backtest_id uuid)
LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
    v_study uuid;
    st ex7.studies;
    t ex7.study_trials;
    v_graph jsonb;
    v_bt uuid;
    v_now timestamptz := pg_catalog.clock_timestamp();
BEGIN
    FOR v_study IN SELECT y.id FROM ex7.studies y WHERE y.user_id = p_user AND y.status IN ('queued', 'running')
                    ORDER BY y.created_at, y.id LOOP
        SELECT * INTO st FROM ex7.studies y WHERE y.user_id = p_user AND y.id = v_study FOR UPDATE;
        IF st.status NOT IN ('queued', 'running') THEN
            CONTINUE;
        END IF;
        SELECT * INTO t FROM ex7.study_trials x
         WHERE x.user_id = p_user AND x.study_id = v_study AND x.status = 'pending'
         ORDER BY x.trial_no LIMIT 1 FOR UPDATE SKIP LOCKED;
        IF NOT FOUND THEN
            CONTINUE;
        END IF;
        SELECT v.graph INTO v_graph FROM ex7.strategy_versions v
         WHERE v.user_id = p_user AND v.strategy_id = st.strategy_id AND v.version = st.strategy_version;
        INSERT INTO ex7.backtests (user_id, strategy_id, strategy_version, instrument, timeframe, range_from, range_to,
                                   params, purpose, bars_total, graph, trades_kept)
        SELECT p_user, st.strategy_id, st.strategy_version, s.instrument, s.timeframe, t.range_from, t.range_to,
               st.params, 'study', t.bars_total, ex7._study_graph(v_graph, t."values"),
               st.keep_trades OR t.phase IS NOT DISTINCT FROM 'out_of_sample'
          FROM ex7.strategies s WHERE s.user_id = p_user AND s.id = st.strategy_id
        RETURNING id INTO v_bt;
        UPDATE ex7.study_trials x SET status = 'running', backtest_id = v_bt, started_at = v_now, error = NULL
         WHERE x.user_id = p_user AND x.study_id = v_study AND x.trial_no = t.trial_no;
        IF st.status = 'queued' THEN
            UPDATE ex7.studies y SET status = 'running', started_at = coalesce(y.started_at, v_now)
             WHERE y.user_id = p_user AND y.id = v_study;
        END IF;
        study_id := v_study;
        trial_no := t.trial_no;
        backtest_id := v_bt;
        RETURN NEXT;
        RETURN;
    END LOOP;
END
$$;
COMMENT ON FUNCTION ex7._study_claim(uuid) IS
'Returns (study_id, trial_no, backtest_id) of the trial claimed for a worker: the lowest pending trial of the user''s oldest queued or running study that has one, taken under the study row lock, marked running, with its backtest row created (purpose study, the version''s graph with the trial''s values, trades_kept when the study keeps trades or the trial is a walk-forward''s out-of-sample run); no row when nothing is pending.';

/* _study_rank: the order of trials: feasible first, then by objective (NULL last), then by trial_no */
CREATE OR REPLACE FUNCTION ex7._study_best(p_user uuid, p_study uuid, p_window integer DEFAULT NULL)
RETURNS ex7.study_trials
LANGUAGE plpgsql STABLE
AS $$
DECLARE
    t ex7.study_trials;
BEGIN
    SELECT * INTO t FROM ex7.study_trials x
     WHERE x.user_id = p_user AND x.study_id = p_study AND x.status = 'done'
       AND (p_window IS NULL AND x.window_no IS NULL OR x.window_no = p_window AND x.phase = 'in_sample')
     ORDER BY x.feasible DESC, x.objective DESC NULLS LAST, x.trial_no
     LIMIT 1;
    RETURN t;
END
$$;
COMMENT ON FUNCTION ex7._study_best(uuid, uuid, integer) IS
'Returns the best done trial of a study (for p_window, the best in-sample trial of that walk-forward window): feasible before infeasible, then by objective descending (NULL last), then the lowest trial_no; a NULL row when none is done.';

/* the study_progress event's data (docs/stream.md) */
CREATE OR REPLACE FUNCTION ex7._study_progress_json(st ex7.studies)
RETURNS jsonb
LANGUAGE plpgsql STABLE
AS $$
DECLARE
    b ex7.study_trials;
BEGIN
    IF st.best_trial IS NOT NULL THEN
        SELECT * INTO b FROM ex7.study_trials x WHERE x.user_id = st.user_id AND x.study_id = st.id AND x.trial_no = st.best_trial;
    END IF;
    RETURN pg_catalog.jsonb_build_object(
        'study_id', st.id, 'strategy_id', st.strategy_id, 'status', st.status,
        'trials_done', st.trials_done, 'trials_total', st.trials_total,
        'percent', pg_catalog.round(100.0 * st.trials_done / st.trials_total, 1),
        'best', CASE WHEN b.trial_no IS NOT NULL THEN pg_catalog.jsonb_build_object(
                    'trial_no', b.trial_no, 'values', b."values", 'objective', ex7._float_json(b.objective),
                    'feasible', b.feasible) END);
END
$$;
COMMENT ON FUNCTION ex7._study_progress_json(ex7.studies) IS
'Returns the data of a study_progress event: {study_id, strategy_id, status, trials_done, trials_total, percent, best: {trial_no, values, objective, feasible} | null}.';

/* a float8 as JSON: a number, or the strings "Infinity" / "-Infinity", or null */
CREATE OR REPLACE FUNCTION ex7._float_json(p float8)
RETURNS jsonb
LANGUAGE sql IMMUTABLE
AS $$
    SELECT CASE WHEN p IS NULL OR p = 'NaN'::float8 THEN 'null'::jsonb
                WHEN p = 'Infinity'::float8 THEN '"Infinity"'::jsonb
                WHEN p = '-Infinity'::float8 THEN '"-Infinity"'::jsonb
                ELSE pg_catalog.to_jsonb(p) END;
$$;
COMMENT ON FUNCTION ex7._float_json(float8) IS
'Returns a float8 as JSON: a number, "Infinity" or "-Infinity" (JSON has no infinite number), null for NULL or NaN.';

/*
 * _study_trial_finish: records a trial whose backtest ended (p_error NULL: done; else failed with it), under
 * the study row lock: its metrics, objective and feasibility, the study's trials_done and best trial; for
 * walk-forward, a window whose in-sample trials are all finished gets its out-of-sample trial (the best
 * feasible values, pending). The last trial summarises the study (done). Emits study_progress.
 */
CREATE OR REPLACE FUNCTION ex7._study_trial_finish(p_user uuid, p_study uuid, p_trial integer, p_error text)
RETURNS void
LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
    st ex7.studies;
    t ex7.study_trials;
    b ex7.study_trials;
    m jsonb;
    v_obj float8;
    v_feasible boolean;
    v_now timestamptz := pg_catalog.clock_timestamp();
BEGIN
    -- the trial's figures before the study row's lock, which every other worker's claim and finish takes:
    -- they read only this trial's backtest, finished in this transaction
    IF p_error IS NULL THEN
        SELECT x.backtest_id INTO t.backtest_id FROM ex7.study_trials x
         WHERE x.user_id = p_user AND x.study_id = p_study AND x.trial_no = p_trial;
        IF t.backtest_id IS NOT NULL THEN
            m := ex7._study_trial_metrics(p_user, t.backtest_id);
        END IF;
    END IF;
    SELECT * INTO st FROM ex7.studies y WHERE y.user_id = p_user AND y.id = p_study FOR UPDATE;
    SELECT * INTO t FROM ex7.study_trials x WHERE x.user_id = p_user AND x.study_id = p_study AND x.trial_no = p_trial FOR UPDATE;
    IF t.status <> 'running' THEN
        RETURN;   -- reaped or abandoned meanwhile
    END IF;
    IF p_error IS NULL THEN
        v_obj := ex7._study_objective(st.objective ->> 'metric', m);
        v_feasible := st.objective ->> 'max_drawdown' IS NULL
                      OR (m ->> 'max_drawdown')::numeric <= (st.objective ->> 'max_drawdown')::numeric;
        UPDATE ex7.study_trials x SET status = 'done', metrics = m, objective = v_obj, feasible = v_feasible,
               finished_at = v_now
         WHERE x.user_id = p_user AND x.study_id = p_study AND x.trial_no = p_trial;
    ELSE
        UPDATE ex7.study_trials x SET status = 'failed', error = p_error, finished_at = v_now
         WHERE x.user_id = p_user AND x.study_id = p_study AND x.trial_no = p_trial;
    END IF;

    IF st.kind = 'walk_forward' AND t.phase = 'in_sample'
       AND NOT EXISTS (SELECT 1 FROM ex7.study_trials x
                        WHERE x.user_id = p_user AND x.study_id = p_study AND x.window_no = t.window_no
                          AND x.phase = 'in_sample' AND x.status IN ('pending', 'running', 'waiting')) THEN
        b := ex7._study_best(p_user, p_study, t.window_no);
        IF b.trial_no IS NOT NULL AND b.feasible THEN
            UPDATE ex7.study_trials x SET status = 'pending', "values" = b."values"
             WHERE x.user_id = p_user AND x.study_id = p_study AND x.window_no = t.window_no
               AND x.phase = 'out_of_sample' AND x.status = 'waiting';
        ELSE
            UPDATE ex7.study_trials x SET status = 'failed', finished_at = v_now,
                   error = 'no feasible in-sample trial: the window is not tested out of sample'
             WHERE x.user_id = p_user AND x.study_id = p_study AND x.window_no = t.window_no
               AND x.phase = 'out_of_sample' AND x.status = 'waiting';
        END IF;
    END IF;

    PERFORM ex7._study_settle(p_user, p_study);
END
$$;
COMMENT ON FUNCTION ex7._study_trial_finish(uuid, uuid, integer, text) IS
'Returns nothing. Records the end of a running trial under the study row lock: done with its metrics, objective and feasibility (max_drawdown of the run at most the objective''s), or failed with p_error; for walk-forward, when a window''s in-sample trials are all finished its out-of-sample trial gets the best feasible values and becomes pending (failed when none is feasible). Then ex7._study_settle.';

/*
 * _study_settle: recounts trials_done and the best trial, finishes the study when nothing is left (done,
 * with its summary; a cancelled study stays cancelled), and emits study_progress. The caller holds the
 * study row lock.
 */
CREATE OR REPLACE FUNCTION ex7._study_settle(p_user uuid, p_study uuid)
RETURNS void
LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
    st ex7.studies;
    v_done integer;
    v_left integer;
    v_best integer;
    v_result jsonb;
    v_now timestamptz := pg_catalog.clock_timestamp();
BEGIN
    SELECT count(*) FILTER (WHERE x.status IN ('done', 'failed')),
           count(*) FILTER (WHERE x.status IN ('pending', 'running', 'waiting'))
      INTO v_done, v_left
      FROM ex7.study_trials x WHERE x.user_id = p_user AND x.study_id = p_study;
    SELECT * INTO st FROM ex7.studies y WHERE y.user_id = p_user AND y.id = p_study;
    IF st.kind <> 'walk_forward' THEN
        v_best := (ex7._study_best(p_user, p_study)).trial_no;
    END IF;
    UPDATE ex7.studies y SET trials_done = v_done, best_trial = v_best
     WHERE y.user_id = p_user AND y.id = p_study;
    IF v_left = 0 AND st.status IN ('queued', 'running') THEN
        -- the summary first, then the row: Citus refuses a VOLATILE function in an UPDATE of a distributed table
        v_result := ex7._study_summary(p_user, p_study);
        UPDATE ex7.studies y SET status = 'done', finished_at = v_now, result = v_result
         WHERE y.user_id = p_user AND y.id = p_study;
    END IF;
    SELECT * INTO st FROM ex7.studies y WHERE y.user_id = p_user AND y.id = p_study;
    PERFORM ex7._emit_event(p_user, 'study_progress', NULL, st.strategy_id, ex7._study_progress_json(st));
END
$$;
COMMENT ON FUNCTION ex7._study_settle(uuid, uuid) IS
'Returns nothing. Recounts a study''s finished trials and best trial, marks it done with its summary (ex7._study_summary) when no trial is left, and emits a study_progress event on the user''s stream. The caller holds the study row lock.';

/*
 * _study_trial_requeue: a running trial back to pending, its partial backtest deleted (it runs again from the
 * start), under the study row lock. Both ways a trial stops short share it: a worker that sees its study
 * cancelled (_study_trial_abandon), and a worker that died (_studies_reap).
 */
CREATE OR REPLACE FUNCTION ex7._study_trial_requeue(p_user uuid, p_study uuid, p_trial integer)
RETURNS boolean
LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
    v_bt uuid;
BEGIN
    PERFORM 1 FROM ex7.studies y WHERE y.user_id = p_user AND y.id = p_study FOR UPDATE;
    SELECT x.backtest_id INTO v_bt FROM ex7.study_trials x
     WHERE x.user_id = p_user AND x.study_id = p_study AND x.trial_no = p_trial AND x.status = 'running' FOR UPDATE;
    IF NOT FOUND THEN
        RETURN false;
    END IF;
    UPDATE ex7.study_trials x SET status = 'pending', backtest_id = NULL, started_at = NULL
     WHERE x.user_id = p_user AND x.study_id = p_study AND x.trial_no = p_trial;
    IF v_bt IS NOT NULL THEN
        DELETE FROM ex7.backtests b WHERE b.user_id = p_user AND b.id = v_bt;
    END IF;
    RETURN true;
END
$$;
COMMENT ON FUNCTION ex7._study_trial_requeue(uuid, uuid, integer) IS
'Returns whether the trial was running and is now pending again, its partial backtest deleted; takes the study row lock.';

/*
 * _study_trial_abandon: a worker saw its study cancelled (or failed) between chunks: the trial goes back to
 * pending, its partial backtest is deleted.
 */
CREATE OR REPLACE FUNCTION ex7._study_trial_abandon(p_user uuid, p_study uuid, p_trial integer)
RETURNS void
LANGUAGE sql VOLATILE
AS $$
    SELECT ex7._study_trial_requeue(p_user, p_study, p_trial);
$$;
COMMENT ON FUNCTION ex7._study_trial_abandon(uuid, uuid, integer) IS
'Returns nothing. Puts a running trial of a cancelled study back to pending and deletes its partial backtest (resume runs it again from the start).';

/* _study_status: the status a worker checks between chunks of a trial */
CREATE OR REPLACE FUNCTION ex7._study_status(p_user uuid, p_study uuid)
RETURNS text
LANGUAGE plpgsql STABLE
AS $$
DECLARE
    v text;
BEGIN
    SELECT y.status INTO v FROM ex7.studies y WHERE y.user_id = p_user AND y.id = p_study;
    RETURN v;
END
$$;
COMMENT ON FUNCTION ex7._study_status(uuid, uuid) IS
'Returns the status of the user''s study (NULL when there is none).';

/*
 * _studies_reap: a running trial whose worker is gone (its backtest's advisory lock free: the worker holds
 * it while it runs the trial) goes back to pending and its backtest is deleted; a queued or running study
 * with no worker of the user alive, asked for over a minute ago, is failed ("interrupted": resume it).
 */
CREATE OR REPLACE FUNCTION ex7._studies_reap(p_user uuid)
RETURNS integer
LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
    r record;
    v_n integer := 0;
    v_now timestamptz;
BEGIN
    FOR r IN SELECT x.study_id, x.trial_no, x.backtest_id FROM ex7.study_trials x
              WHERE x.user_id = p_user AND x.status = 'running' LOOP
        IF pg_catalog.pg_try_advisory_xact_lock_shared(ex7._backtest_lock_key(r.backtest_id))
           AND ex7._study_trial_requeue(p_user, r.study_id, r.trial_no) THEN
            v_n := v_n + 1;
        END IF;
    END LOOP;
    IF EXISTS (SELECT 1 FROM ex7.studies y WHERE y.user_id = p_user AND y.status IN ('queued', 'running')
                  AND y.launched_at < pg_catalog.now() - interval '1 minute')
       AND ex7._study_workers_alive(p_user) = 0 THEN
        v_now := pg_catalog.clock_timestamp();
        UPDATE ex7.studies y SET status = 'failed', finished_at = v_now,
               error = 'interrupted: no background worker is running it (a server restart, or the worker was ended); resume it'
         WHERE y.user_id = p_user AND y.status IN ('queued', 'running') AND y.launched_at < v_now - interval '1 minute';
        v_n := v_n + 1;
    END IF;
    RETURN v_n;
END
$$;
COMMENT ON FUNCTION ex7._studies_reap(uuid) IS
'Returns how many things were repaired: running trials whose worker is gone (the advisory lock of their backtest free) put back to pending with their backtest deleted, and (counted once) the user''s queued or running studies failed because no study worker of the user is alive a minute after workers were asked for. Called before a study is shown, listed or resumed.';

/*
 * _study_run_inline: runs every pending trial of the user's study in this transaction (p_sync, and roles
 * bound to a user, which start no background workers): claim, the backtest, record, until none is left.
 */
CREATE OR REPLACE FUNCTION ex7._study_run_inline(p_user uuid, p_study uuid)
RETURNS void
LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
    c record;
    v_err text;
BEGIN
    LOOP
        SELECT * INTO c FROM ex7._study_claim(p_user) x WHERE x.study_id = p_study;
        EXIT WHEN c.study_id IS NULL;
        BEGIN
            PERFORM ex7._backtest_exec(p_user, c.backtest_id);
            v_err := NULL;
        EXCEPTION WHEN OTHERS THEN
            GET STACKED DIAGNOSTICS v_err = MESSAGE_TEXT;
        END;
        PERFORM ex7._study_trial_finish(p_user, p_study, c.trial_no, v_err);
    END LOOP;
END
$$;
COMMENT ON FUNCTION ex7._study_run_inline(uuid, uuid) IS
'Returns nothing. Runs the pending trials of the user''s study one after the other in the caller''s transaction (create_study with p_sync, resume_study with p_sync, and roles bound to a user), as the background workers do: claim, backtest, record. A trial whose backtest raises is failed with the message.';

/* ---------------------------------------------------------------------------------------------------
 * The summary of a finished study.
 * ------------------------------------------------------------------------------------------------- */

/*
 * _backtest_daily_returns: a backtest's daily returns (a study trial's, or the Judge's validation run's,
 * ext/sql/67_backtest.sql): the equity at the end of each UTC weekday from the range's first day to the last
 * sample's (carried forward over days without a sample), against the previous weekday's (the first against
 * the initial capital); the same days for every trial of a study (their curves all end with a sample at the
 * range's last bar), so the trials' columns line up (PBO).
 */
CREATE OR REPLACE FUNCTION ex7._backtest_daily_returns(p_user uuid, p_backtest uuid)
RETURNS float8[]
LANGUAGE plpgsql STABLE
AS $$
DECLARE
    b ex7.backtests := ex7._own_backtest(p_user, p_backtest);
    v_capital numeric := (b.params ->> 'initial_capital')::numeric;
    v float8[];
BEGIN
    -- one pass over the curve: each UTC day's last sample; every day from the range's first to the last
    -- sample's, carried forward over days without one; then the weekdays' returns
    -- (a grouping by day, not a sort of the whole curve: see ex7._study_trial_metrics)
    WITH last AS (
        SELECT (e.ts AT TIME ZONE 'UTC')::date AS d, pg_catalog.max(e.seq) AS seq
          FROM ex7.backtest_equity e WHERE e.user_id = p_user AND e.backtest_id = p_backtest
         GROUP BY 1),
    pts AS (
        SELECT l.d, e.equity
          FROM last l JOIN ex7.backtest_equity e ON e.seq = l.seq
         WHERE e.user_id = p_user AND e.backtest_id = p_backtest),
    days AS (
        SELECT g::date AS d, p.equity,
               count(p.equity) OVER (ORDER BY g) AS grp
          FROM pg_catalog.generate_series((b.range_from AT TIME ZONE 'UTC')::date, (SELECT max(x.d) FROM pts x),
                                          interval '1 day') g
          LEFT JOIN pts p ON p.d = g::date),
    filled AS (
        SELECT d, coalesce(pg_catalog.first_value(equity) OVER (PARTITION BY grp ORDER BY d), v_capital) AS equity
          FROM days),
    wk AS (
        SELECT d, equity, coalesce(pg_catalog.lag(equity) OVER (ORDER BY d), v_capital) AS prev
          FROM filled WHERE EXTRACT(isodow FROM d) < 6)
    SELECT pg_catalog.array_agg((wk.equity / wk.prev - 1)::float8 ORDER BY wk.d) INTO v FROM wk;
    RETURN coalesce(v, '{}');
END
$$;
COMMENT ON FUNCTION ex7._backtest_daily_returns(uuid, uuid) IS
'Returns a backtest''s daily returns over the UTC weekdays from its range''s first day to the day of its curve''s last sample (the last bar: the same day for every trial of a study): equity at each day''s end (the day''s last curve sample, carried forward; the initial capital before the first) over the previous weekday''s (the first over the initial capital), minus 1; a weekend''s change lands in Monday''s return.';

/* _study_summary: the result of a finished study; walk-forward in ex7._walk_forward_summary */
CREATE OR REPLACE FUNCTION ex7._study_summary(p_user uuid, p_study uuid)
RETURNS jsonb
LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
    st ex7.studies;
    b ex7.study_trials;
    v jsonb;
BEGIN
    SELECT * INTO st FROM ex7.studies y WHERE y.user_id = p_user AND y.id = p_study;
    IF st.kind = 'walk_forward' THEN
        RETURN ex7._walk_forward_summary(p_user, p_study);
    END IF;
    b := ex7._study_best(p_user, p_study);
    SELECT pg_catalog.jsonb_build_object(
               'trials_run', count(*) FILTER (WHERE x.status = 'done'),
               'trials_failed', count(*) FILTER (WHERE x.status = 'failed'),
               'feasible', count(*) FILTER (WHERE x.status = 'done' AND x.feasible),
               'best_trial', b.trial_no, 'best_values', b."values", 'best_objective', ex7._float_json(b.objective),
               'best_feasible', b.feasible, 'best_metrics', b.metrics)
      INTO v
      FROM ex7.study_trials x WHERE x.user_id = p_user AND x.study_id = p_study;
    -- the statistics describe the study; an error in them must not keep it from finishing
    BEGIN
        v := v || ex7._study_statistics(p_user, p_study);
    EXCEPTION WHEN OTHERS THEN
        v := v || pg_catalog.jsonb_build_object('statistics_error', SQLERRM);
    END;
    RETURN v;
END
$$;
COMMENT ON FUNCTION ex7._study_summary(uuid, uuid) IS
'Returns the result of a finished study: {trials_run, trials_failed, feasible, best_trial, best_values, best_objective, best_feasible, best_metrics} and the statistics of ex7._study_statistics; a walk-forward study''s is ex7._walk_forward_summary.';

/* the fewest trials (and daily periods) a study needs for its PBO (ex7.pbo_cscv with 16 partitions) */
CREATE OR REPLACE FUNCTION ex7._study_pbo_min_trials()
RETURNS integer
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT 16 $$;
COMMENT ON FUNCTION ex7._study_pbo_min_trials() IS
'Returns 16: the fewest done trials, and daily periods, for which a study reports its probability of backtest overfitting (CSCV with 16 partitions needs at least 16 periods; with fewer trials the ranks out of sample are too coarse to mean much).';

/*
 * _study_statistics: the overfitting statistics of a finished grid or random study (docs/research.md,
 * "Studies"): the best trial's deflated Sharpe ratio (Bailey & Lopez de Prado 2014) over its daily returns,
 * deflated for the number of trials run and the variance of their per-period Sharpe ratios; and, with at
 * least ex7._study_pbo_min_trials() done trials and as many daily periods, the probability of backtest
 * overfitting by CSCV (Bailey et al. 2015) over the matrix of the trials' daily returns (rows days, columns
 * trials in trial_no order). A statistic that is undefined (too few days, no variance) is null with the
 * reason.
 */
CREATE OR REPLACE FUNCTION ex7._study_statistics(p_user uuid, p_study uuid)
RETURNS jsonb
LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
    b ex7.study_trials := ex7._study_best(p_user, p_study);
    v_n integer;
    v_var float8;
    m record;
    v_dsr float8;
    v_dsr_reason text;
    v_pbo jsonb;
    v_pbo_reason text;
    v_matrix float8[];
    v_periods integer;
BEGIN
    CREATE TEMP TABLE IF NOT EXISTS pg_temp.ex7_study_returns (trial_no integer PRIMARY KEY, r float8[], sharpe float8)
        ON COMMIT DROP;
    TRUNCATE pg_temp.ex7_study_returns;
    INSERT INTO pg_temp.ex7_study_returns
    SELECT x.trial_no, r.r, (ex7.return_moments(r.r)).sharpe
      FROM ex7.study_trials x
     CROSS JOIN LATERAL (SELECT ex7._backtest_daily_returns(p_user, x.backtest_id) AS r) r
     WHERE x.user_id = p_user AND x.study_id = p_study AND x.status = 'done';
    SELECT count(*), pg_catalog.var_samp(y.sharpe) INTO v_n, v_var FROM pg_temp.ex7_study_returns y;
    IF b.trial_no IS NOT NULL THEN
        SELECT (ex7.return_moments(y.r)).* INTO m FROM pg_temp.ex7_study_returns y WHERE y.trial_no = b.trial_no;
        BEGIN
            IF m.sharpe IS NULL THEN
                v_dsr_reason := 'the best trial''s daily returns have no variance';
            ELSE
                v_dsr := ex7.deflated_sharpe(m.sharpe, m.observations, m.skewness, m.kurtosis, v_n, coalesce(v_var, 0));
            END IF;
        EXCEPTION WHEN SQLSTATE 'X7422' THEN
            v_dsr_reason := SQLERRM;
        END;
    END IF;
    SELECT pg_catalog.max(pg_catalog.cardinality(y.r)) INTO v_periods FROM pg_temp.ex7_study_returns y;
    IF v_n < ex7._study_pbo_min_trials() THEN
        v_pbo_reason := pg_catalog.format('%s trials: PBO needs at least %s', v_n, ex7._study_pbo_min_trials());
    ELSIF v_periods < ex7._study_pbo_min_trials() THEN
        v_pbo_reason := pg_catalog.format('%s daily periods: PBO needs at least %s', v_periods, ex7._study_pbo_min_trials());
    ELSE
        -- rows: the days; columns: the trials in trial_no order
        SELECT pg_catalog.array_agg(d.row ORDER BY d.i) INTO v_matrix
          FROM (SELECT i, pg_catalog.array_agg(y.r[i] ORDER BY y.trial_no) AS row
                  FROM pg_temp.ex7_study_returns y, pg_catalog.generate_series(1, v_periods) i
                 GROUP BY i) d;
        BEGIN
            v_pbo := ex7.pbo_cscv(v_matrix, 16);
        EXCEPTION WHEN SQLSTATE 'X7422' THEN
            v_pbo_reason := SQLERRM;
        END;
    END IF;
    TRUNCATE pg_temp.ex7_study_returns;
    RETURN pg_catalog.jsonb_build_object(
        'deflated_sharpe', pg_catalog.jsonb_build_object(
            'value', ex7._float_json(v_dsr), 'reason', v_dsr_reason,
            'sharpe_per_period', ex7._float_json(m.sharpe), 'observations', m.observations,
            'skewness', ex7._float_json(m.skewness), 'kurtosis', ex7._float_json(m.kurtosis),
            'trials', v_n, 'trials_sharpe_variance', ex7._float_json(v_var)),
        'pbo', CASE WHEN v_pbo IS NOT NULL THEN v_pbo ELSE pg_catalog.jsonb_build_object('pbo', NULL, 'reason', v_pbo_reason) END);
END
$$;
COMMENT ON FUNCTION ex7._study_statistics(uuid, uuid) IS
'Returns {deflated_sharpe: {value, reason, sharpe_per_period, observations, skewness, kurtosis, trials, trials_sharpe_variance}, pbo: ex7.pbo_cscv of the trials'' daily returns (rows days, columns trials) or {pbo: null, reason}} of a finished grid or random study: the best trial''s deflated Sharpe ratio over its daily returns (ex7._backtest_daily_returns) for the trials run and the variance of their per-period Sharpe ratios; PBO with at least ex7._study_pbo_min_trials() trials and daily periods.';

/* ---------------------------------------------------------------------------------------------------
 * Reading.
 * ------------------------------------------------------------------------------------------------- */

CREATE OR REPLACE FUNCTION ex7._own_study(p_user uuid, p_id uuid, p_lock boolean DEFAULT false)
RETURNS ex7.studies
LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
    st ex7.studies;
BEGIN
    IF p_lock THEN
        SELECT * INTO st FROM ex7.studies x WHERE x.user_id = p_user AND x.id = p_id FOR UPDATE;
    ELSE
        SELECT * INTO st FROM ex7.studies x WHERE x.user_id = p_user AND x.id = p_id;
    END IF;
    IF NOT FOUND THEN
        PERFORM ex7._raise(404, 'study not found');
    END IF;
    RETURN st;
END
$$;
COMMENT ON FUNCTION ex7._own_study(uuid, uuid, boolean) IS
'Returns study p_id when it is p_user''s (locked FOR UPDATE with p_lock); X7404 otherwise, another user''s included.';

CREATE OR REPLACE FUNCTION ex7._study_trial_json(t ex7.study_trials)
RETURNS jsonb
LANGUAGE sql STABLE
AS $$
    SELECT pg_catalog.jsonb_build_object(
        'trial_no', t.trial_no, 'values', t."values", 'window', t.window_no, 'phase', t.phase,
        'from', t.range_from, 'to', t.range_to, 'status', t.status, 'backtest_id', t.backtest_id,
        'objective', ex7._float_json(t.objective), 'feasible', t.feasible, 'metrics', t.metrics, 'error', t.error,
        'started_at', t.started_at, 'finished_at', t.finished_at);
$$;
COMMENT ON FUNCTION ex7._study_trial_json(ex7.study_trials) IS
'Returns a trial: {trial_no, values, window, phase, from, to, status, backtest_id, objective, feasible, metrics, error, started_at, finished_at} (window and phase null outside walk-forward; objective a number, "Infinity" or null).';

CREATE OR REPLACE FUNCTION ex7._study_json(st ex7.studies)
RETURNS jsonb
LANGUAGE plpgsql STABLE
AS $$
DECLARE
    b ex7.study_trials;
BEGIN
    IF st.best_trial IS NOT NULL THEN
        SELECT * INTO b FROM ex7.study_trials x WHERE x.user_id = st.user_id AND x.study_id = st.id AND x.trial_no = st.best_trial;
    END IF;
    RETURN pg_catalog.jsonb_build_object(
        'id', st.id, 'strategy_id', st.strategy_id, 'strategy_version', st.strategy_version, 'kind', st.kind,
        'space', st.space, 'search', st.search, 'objective', st.objective, 'from', st.range_from, 'to', st.range_to,
        'params', st.params, 'keep_trades', st.keep_trades, 'walk_forward', st.walk_forward, 'status', st.status,
        'progress', pg_catalog.jsonb_build_object('trials_done', st.trials_done, 'trials_total', st.trials_total,
                                                  'percent', pg_catalog.round(100.0 * st.trials_done / st.trials_total, 1)),
        'best', CASE WHEN b.trial_no IS NOT NULL THEN ex7._study_trial_json(b) END,
        'applied_version', st.applied_version, 'result', st.result, 'error', st.error,
        'created_at', st.created_at, 'started_at', st.started_at, 'finished_at', st.finished_at,
        'compliance', ex7.compliance_banner());
END
$$;
COMMENT ON FUNCTION ex7._study_json(ex7.studies) IS
'Returns a study: {id, strategy_id, strategy_version, kind, space, search, objective, from, to, params, keep_trades, walk_forward, status, progress: {trials_done, trials_total, percent}, best (the best trial so far, null for walk-forward), applied_version, result, error, created_at, started_at, finished_at, compliance (CFTC Rule 4.41)}.';

CREATE OR REPLACE FUNCTION ex7.get_study(p_user uuid, p_id uuid)
RETURNS jsonb
LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
    st ex7.studies := ex7._own_study(p_user, p_id);
BEGIN
    IF st.status IN ('queued', 'running') AND ex7._studies_reap(p_user) > 0 THEN
        st := ex7._own_study(p_user, p_id);
    END IF;
    RETURN ex7._study_json(st);
END
$$;
COMMENT ON FUNCTION ex7.get_study(uuid, uuid) IS
'Returns the caller''s study (GET /api/studies/{id}): status, progress {trials_done, trials_total, percent}, the best trial so far, the result once done, with the CFTC Rule 4.41 statement. Trials whose worker is gone are put back to pending first, and a study with no worker left is failed (resume it). X7404 when missing or another user''s.';

CREATE OR REPLACE FUNCTION ex7.list_studies(p_user uuid, p_strategy_id uuid, p_limit integer DEFAULT 50,
                                            p_cursor text DEFAULT NULL)
RETURNS jsonb
LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
    v_limit integer := ex7._check_limit(p_limit);
    v_ts timestamptz := 'infinity';
    v_id uuid := 'ffffffff-ffff-ffff-ffff-ffffffffffff';
    v_rows ex7.studies[];
    v_items jsonb;
    v_n integer;
    v_page jsonb;
BEGIN
    PERFORM ex7._backtest_strategy(p_user, p_strategy_id);
    PERFORM ex7._studies_reap(p_user);
    IF p_cursor IS NOT NULL THEN
        SELECT c.ts, c.id::uuid INTO v_ts, v_id FROM ex7.cursor_decode('studies', p_user, p_cursor) c;
    END IF;
    -- The page's rows first, then their JSON: _study_json reads the best trial from ex7.study_trials, and on
    -- Citus a query on a shard may not call a function that reads another distributed table ("cannot execute
    -- a distributed query from a query on a shard", docs/citus-statements.md).
    SELECT pg_catalog.array_agg(p.x ORDER BY p.created_at DESC, p.id DESC)
      INTO v_rows
      FROM (SELECT ROW(x.*)::ex7.studies AS x, x.created_at, x.id
              FROM ex7.studies x
             WHERE x.user_id = p_user AND x.strategy_id = p_strategy_id AND (x.created_at, x.id) < (v_ts, v_id)
             ORDER BY x.created_at DESC, x.id DESC
             LIMIT v_limit + 1) p;
    v_n := coalesce(pg_catalog.cardinality(v_rows), 0);
    SELECT coalesce(pg_catalog.jsonb_agg(ex7._study_json(v_rows[i]) - 'space' ORDER BY i), '[]')
      INTO v_items
      FROM pg_catalog.generate_series(1, v_n) i;
    v_page := ex7._keyset_page(v_items, v_n, v_limit, 'studies', p_user, 'created_at');
    RETURN v_page || pg_catalog.jsonb_build_object('compliance', ex7.compliance_banner());
END
$$;
COMMENT ON FUNCTION ex7.list_studies(uuid, uuid, integer, text) IS
'Returns {items, next_cursor, compliance}: the studies of the caller''s strategy, newest first by (created_at, id), each without its space. X7404 for a strategy that is missing, deleted or another user''s; X7422 for a bad limit (1..200) or cursor.';

/*
 * list_study_trials: the trials in trial_no order (the order they were enumerated and are claimed in; a
 * client wanting the ranking sorts a page or reads best / the heatmap). Keyset on trial_no.
 */
CREATE OR REPLACE FUNCTION ex7.list_study_trials(p_user uuid, p_id uuid, p_limit integer DEFAULT 50,
                                                 p_cursor text DEFAULT NULL)
RETURNS jsonb
LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
    st ex7.studies := ex7._own_study(p_user, p_id);
    v_limit integer := ex7._check_limit(p_limit);
    v_after integer := 0;
    v_items jsonb;
    v_n integer;
    v_last integer;
BEGIN
    IF p_cursor IS NOT NULL THEN
        SELECT c.id::integer INTO v_after FROM ex7.cursor_decode('study_trials:' || st.id::text, p_user, p_cursor) c;
    END IF;
    SELECT coalesce(pg_catalog.jsonb_agg(ex7._study_trial_json(p.x) ORDER BY p.no) FILTER (WHERE p.rn <= v_limit), '[]'),
           count(*), max(p.no) FILTER (WHERE p.rn <= v_limit)
      INTO v_items, v_n, v_last
      FROM (SELECT ROW(x.*)::ex7.study_trials AS x, x.trial_no AS no,
                   pg_catalog.row_number() OVER (ORDER BY x.trial_no) AS rn
              FROM ex7.study_trials x
             WHERE x.user_id = p_user AND x.study_id = st.id AND x.trial_no > v_after
             ORDER BY x.trial_no
             LIMIT v_limit + 1) p;
    RETURN pg_catalog.jsonb_build_object(
        'items', v_items,
        'next_cursor', CASE WHEN v_n > v_limit
                            THEN ex7.cursor_encode('study_trials:' || st.id::text, p_user, st.created_at, v_last::text) END,
        'compliance', ex7.compliance_banner());
END
$$;
COMMENT ON FUNCTION ex7.list_study_trials(uuid, uuid, integer, text) IS
'Returns {items, next_cursor, compliance}: the trials of the caller''s study in trial_no order (keyset on trial_no; the cursor is bound to the study), each {trial_no, values, window, phase, from, to, status, backtest_id, objective, feasible, metrics, error, started_at, finished_at}. X7404 when missing or another user''s; X7422 for a bad limit (1..200) or cursor.';

/* ---------------------------------------------------------------------------------------------------
 * Cancel, resume, apply.
 * ------------------------------------------------------------------------------------------------- */

CREATE OR REPLACE FUNCTION ex7.cancel_study(p_user uuid, p_id uuid)
RETURNS jsonb
LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
    st ex7.studies := ex7._own_study(p_user, p_id, true);
    v_now timestamptz := pg_catalog.clock_timestamp();
BEGIN
    IF st.status NOT IN ('queued', 'running') THEN
        PERFORM ex7._raise(409, pg_catalog.format('the study is %s: only a queued or running study can be cancelled', st.status),
                           pg_catalog.jsonb_build_object('code', 'study_finished', 'status', st.status));
    END IF;
    UPDATE ex7.studies y SET status = 'cancelled', finished_at = v_now WHERE y.user_id = p_user AND y.id = p_id;
    SELECT * INTO st FROM ex7.studies y WHERE y.user_id = p_user AND y.id = p_id;
    PERFORM ex7._emit_event(p_user, 'study_progress', NULL, st.strategy_id, ex7._study_progress_json(st));
    RETURN ex7._study_json(st);
END
$$;
COMMENT ON FUNCTION ex7.cancel_study(uuid, uuid) IS
'Returns the caller''s study cancelled (POST /api/studies/{id}/cancel): no further trial is claimed, and a running trial''s worker stops within a chunk of bars and puts it back to pending (resume runs it again). Emits study_progress. X7404 when missing or another user''s; X7409 study_finished when it is not queued or running.';

CREATE OR REPLACE FUNCTION ex7.resume_study(p_user uuid, p_id uuid, p_sync boolean DEFAULT false)
RETURNS jsonb
LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
    st ex7.studies := ex7._own_study(p_user, p_id);
BEGIN
    PERFORM ex7._studies_reap(p_user);
    st := ex7._own_study(p_user, p_id, true);
    IF st.status NOT IN ('cancelled', 'failed') THEN
        PERFORM ex7._raise(409, pg_catalog.format('the study is %s: only a cancelled or failed study can be resumed', st.status),
                           pg_catalog.jsonb_build_object('code', 'study_not_resumable', 'status', st.status));
    END IF;
    UPDATE ex7.studies y SET status = CASE WHEN y.started_at IS NULL THEN 'queued' ELSE 'running' END,
           finished_at = NULL, error = NULL, launched_at = pg_catalog.now()
     WHERE y.user_id = p_user AND y.id = p_id;
    IF NOT EXISTS (SELECT 1 FROM ex7.study_trials x WHERE x.user_id = p_user AND x.study_id = p_id
                      AND x.status IN ('pending', 'running', 'waiting')) THEN
        PERFORM ex7._study_settle(p_user, p_id);   -- nothing left: done now
    ELSIF p_sync OR NOT pg_catalog.has_function_privilege('ex7._study_launch(uuid, integer)', 'EXECUTE') THEN
        PERFORM ex7._study_run_inline(p_user, p_id);
    ELSE
        PERFORM ex7._study_start(p_user, p_id);
    END IF;
    RETURN ex7.get_study(p_user, p_id);
END
$$;
COMMENT ON FUNCTION ex7.resume_study(uuid, uuid, boolean) IS
'Returns the caller''s cancelled or failed study resumed (POST /api/studies/{id}/resume): its pending trials (and those whose worker died) are run by new background workers, or here with p_sync or for a role bound to a user; finished trials are kept. X7404 when missing or another user''s; X7409 study_not_resumable when it is queued, running or done.';

/*
 * apply_study: the best feasible trial's values (or trial p_trial's) become a new version of the strategy:
 * ex7.update_strategy with the study version's graph with those values substituted, so every rule of an
 * update holds (archived 409, the same graph makes no version).
 */
CREATE OR REPLACE FUNCTION ex7.apply_study(p_user uuid, p_id uuid, p_body jsonb DEFAULT NULL)
RETURNS jsonb
LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
    st ex7.studies := ex7._own_study(p_user, p_id);
    t ex7.study_trials;
    v_graph jsonb;
    v_strategy jsonb;
    v_key text;
    v_trial integer;
BEGIN
    IF p_body IS NOT NULL AND p_body <> 'null' THEN
        IF pg_catalog.jsonb_typeof(p_body) <> 'object' THEN
            PERFORM ex7._invalid('["body"]', 'value is not a valid dict', 'type_error.dict');
        END IF;
        FOR v_key IN SELECT k FROM pg_catalog.jsonb_object_keys(p_body) k ORDER BY k LOOP
            IF v_key <> 'trial' THEN
                PERFORM ex7._invalid(pg_catalog.jsonb_build_array('body', v_key), 'extra fields not permitted', 'value_error.extra');
            END IF;
        END LOOP;
        IF p_body ? 'trial' AND p_body -> 'trial' <> 'null' THEN
            IF pg_catalog.jsonb_typeof(p_body -> 'trial') <> 'number'
               OR (p_body ->> 'trial')::numeric <> pg_catalog.trunc((p_body ->> 'trial')::numeric)
               OR (p_body ->> 'trial')::numeric NOT BETWEEN 1 AND 2147483647 THEN
                PERFORM ex7._invalid('["body","trial"]', 'trial must be a positive integer', 'type_error.integer');
            END IF;
            v_trial := (p_body ->> 'trial')::integer;
        END IF;
    END IF;
    IF v_trial IS NOT NULL THEN
        SELECT * INTO t FROM ex7.study_trials x WHERE x.user_id = p_user AND x.study_id = p_id AND x.trial_no = v_trial;
        IF NOT FOUND THEN
            PERFORM ex7._raise(404, 'trial not found');
        END IF;
        IF t.status <> 'done' THEN
            PERFORM ex7._raise(409, pg_catalog.format('trial %s is %s: only a done trial can be applied', v_trial, t.status),
                               pg_catalog.jsonb_build_object('code', 'trial_not_done', 'status', t.status));
        END IF;
    ELSE
        IF st.kind = 'walk_forward' THEN
            -- the latest window's chosen values: what the walk-forward would trade next
            SELECT * INTO t FROM ex7.study_trials x
             WHERE x.user_id = p_user AND x.study_id = p_id AND x.phase = 'out_of_sample' AND x."values" IS NOT NULL
             ORDER BY x.window_no DESC LIMIT 1;
        ELSE
            t := ex7._study_best(p_user, p_id);
        END IF;
        IF t.trial_no IS NULL OR (st.kind <> 'walk_forward' AND NOT t.feasible) THEN
            PERFORM ex7._raise(409, 'the study has no feasible done trial to apply',
                               pg_catalog.jsonb_build_object('code', 'no_feasible_trial', 'status', st.status));
        END IF;
    END IF;
    SELECT ex7._study_graph(v.graph, t."values") INTO v_graph FROM ex7.strategy_versions v
     WHERE v.user_id = p_user AND v.strategy_id = st.strategy_id AND v.version = st.strategy_version;
    v_strategy := ex7.update_strategy(p_user, st.strategy_id, pg_catalog.jsonb_build_object(
        'graph', v_graph,
        'note', pg_catalog.left(pg_catalog.format('study %s trial %s: %s', st.id, t.trial_no, t."values"), 1000)));
    UPDATE ex7.studies y SET applied_version = (v_strategy ->> 'current_version')::integer
     WHERE y.user_id = p_user AND y.id = p_id;
    RETURN ex7.get_version(p_user, st.strategy_id, (v_strategy ->> 'current_version')::integer)
           || pg_catalog.jsonb_build_object('study_id', st.id, 'trial_no', t.trial_no, 'values', t."values");
END
$$;
COMMENT ON FUNCTION ex7.apply_study(uuid, uuid, jsonb) IS
'Returns the strategy version (ex7.get_version shape, with study_id, trial_no and values) made from the caller''s study (POST /api/studies/{id}/apply, body {trial?}): the study version''s graph with the values of trial `trial`, by default the best feasible done trial (walk-forward: the last window''s chosen values), saved through ex7.update_strategy (a graph equal to the current one makes no new version); applied_version is recorded. X7404 for a study or trial not found; X7409 trial_not_done, no_feasible_trial, or update_strategy''s conflicts (strategy_archived); X7422 for a bad body.';

/* ---------------------------------------------------------------------------------------------------
 * Walk-forward: the windows' results, the stitched out-of-sample curve, the efficiency.
 * ------------------------------------------------------------------------------------------------- */

/*
 * _walk_forward_windows: per window its ranges, the chosen values (the best feasible in-sample trial's),
 * the in-sample and out-of-sample objective and net P&L, and the window's efficiency.
 *
 * Walk-forward efficiency (Pardo, "The Evaluation and Optimization of Trading Strategies", 2nd ed. 2008,
 * ch. 11): the annualized out-of-sample net P&L over the annualized in-sample net P&L of the chosen
 * parameters, (oos_net / oos_days) / (is_net / is_days) (the 365 of both annualizations cancels; days are
 * the windows' calendar lengths). Defined only when the in-sample net P&L is positive (the optimiser found
 * a profit to carry forward): then it is negative when out-of-sample lost money, 0 flat, 1 as profitable
 * per day as in-sample. With in-sample net P&L <= 0 it is null (a ratio of a loss would read a double loss
 * as a success).
 */
CREATE OR REPLACE FUNCTION ex7._walk_forward_windows(p_user uuid, p_study uuid)
RETURNS jsonb
LANGUAGE plpgsql STABLE
AS $$
DECLARE
    v jsonb;
BEGIN
    WITH w AS (
        SELECT o.window_no, i.range_from AS is_from, i.range_to AS is_to, o.range_from AS oos_from, o.range_to AS oos_to,
               o."values", o.status AS oos_status, o.error AS oos_error, o.trial_no AS oos_trial, o.backtest_id AS oos_backtest,
               b.trial_no AS is_trial, b.objective AS is_objective, (b.metrics ->> 'net_pnl')::numeric AS is_net,
               o.objective AS oos_objective, (o.metrics ->> 'net_pnl')::numeric AS oos_net,
               EXTRACT(epoch FROM i.range_to - i.range_from) / 86400 AS is_days,
               EXTRACT(epoch FROM o.range_to - o.range_from) / 86400 AS oos_days
          FROM ex7.study_trials o
          JOIN LATERAL (SELECT x.range_from, x.range_to FROM ex7.study_trials x
                         WHERE x.user_id = p_user AND x.study_id = p_study AND x.window_no = o.window_no
                           AND x.phase = 'in_sample' LIMIT 1) i ON true
          LEFT JOIN LATERAL (SELECT x.trial_no, x.objective, x.metrics FROM ex7.study_trials x
                              WHERE x.user_id = p_user AND x.study_id = p_study AND x.window_no = o.window_no
                                AND x.phase = 'in_sample' AND x.status = 'done' AND x."values" = o."values"
                              ORDER BY x.feasible DESC, x.objective DESC NULLS LAST, x.trial_no LIMIT 1) b ON o."values" IS NOT NULL
         WHERE o.user_id = p_user AND o.study_id = p_study AND o.phase = 'out_of_sample')
    SELECT coalesce(pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object(
               'window', w.window_no,
               'in_sample', pg_catalog.jsonb_build_object('from', w.is_from, 'to', w.is_to),
               'out_of_sample', pg_catalog.jsonb_build_object('from', w.oos_from, 'to', w.oos_to),
               'values', w."values", 'in_sample_trial', w.is_trial, 'out_of_sample_trial', w.oos_trial,
               'out_of_sample_backtest_id', w.oos_backtest, 'status', w.oos_status, 'error', w.oos_error,
               'in_sample_objective', ex7._float_json(w.is_objective),
               'out_of_sample_objective', ex7._float_json(w.oos_objective),
               'in_sample_net_pnl', w.is_net::text, 'out_of_sample_net_pnl', w.oos_net::text,
               'in_sample_days', w.is_days, 'out_of_sample_days', w.oos_days,
               'efficiency', ex7._walk_forward_efficiency(w.is_net, w.is_days, w.oos_net, w.oos_days))
             ORDER BY w.window_no), '[]')
      INTO v FROM w;
    RETURN v;
END
$$;
COMMENT ON FUNCTION ex7._walk_forward_windows(uuid, uuid) IS
'Returns the windows of a walk-forward study: [{window, in_sample {from, to}, out_of_sample {from, to}, values (chosen in sample), in_sample_trial, out_of_sample_trial, out_of_sample_backtest_id, status, error, in_sample_objective, out_of_sample_objective, in_sample_net_pnl, out_of_sample_net_pnl, in_sample_days, out_of_sample_days, efficiency}].';

CREATE OR REPLACE FUNCTION ex7._walk_forward_efficiency(p_is_net numeric, p_is_days numeric, p_oos_net numeric,
                                                        p_oos_days numeric)
RETURNS numeric
LANGUAGE sql IMMUTABLE
AS $$
    SELECT CASE WHEN p_is_net > 0 AND p_is_days > 0 AND p_oos_days > 0 AND p_oos_net IS NOT NULL
                THEN pg_catalog.round((p_oos_net / p_oos_days) / (p_is_net / p_is_days), 4) END;
$$;
COMMENT ON FUNCTION ex7._walk_forward_efficiency(numeric, numeric, numeric, numeric) IS
'Returns the walk-forward efficiency (Pardo): (oos_net / oos_days) / (is_net / is_days), 4 decimals; NULL when the in-sample net P&L is not positive or a part is missing (docs/research.md).';

/*
 * _walk_forward_curve: the stitched out-of-sample equity curve: each window's out-of-sample curve, in window
 * order, shifted so that it starts where the previous one ended (the first starts at the initial capital);
 * a window not tested out of sample adds nothing (the curve carries on flat across it). [{ts, equity}].
 */
CREATE OR REPLACE FUNCTION ex7._walk_forward_curve(p_user uuid, p_study uuid)
RETURNS jsonb
LANGUAGE plpgsql STABLE
AS $$
DECLARE
    st ex7.studies;
    v_capital numeric;
    v_offset numeric := 0;
    v_curve jsonb := '[]';
    v_last numeric;
    r record;
    v_part jsonb;
BEGIN
    SELECT * INTO st FROM ex7.studies y WHERE y.user_id = p_user AND y.id = p_study;
    v_capital := (st.params ->> 'initial_capital')::numeric;
    v_last := v_capital;
    FOR r IN SELECT x.window_no, x.backtest_id FROM ex7.study_trials x
              WHERE x.user_id = p_user AND x.study_id = p_study AND x.phase = 'out_of_sample' AND x.status = 'done'
              ORDER BY x.window_no LOOP
        v_offset := v_last - v_capital;
        SELECT pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object('ts', e.ts, 'equity', (e.equity + v_offset)::text)
                                    ORDER BY e.seq),
               (pg_catalog.array_agg(e.equity + v_offset ORDER BY e.seq DESC))[1]
          INTO v_part, v_last
          FROM ex7.backtest_equity e WHERE e.user_id = p_user AND e.backtest_id = r.backtest_id;
        -- the first point of a later window (its start, at its capital) repeats the previous end: dropped
        IF pg_catalog.jsonb_array_length(v_curve) > 0 THEN
            v_part := v_part - 0;
        END IF;
        v_curve := v_curve || coalesce(v_part, '[]');
        v_last := coalesce(v_last, v_capital + v_offset);
    END LOOP;
    RETURN v_curve;
END
$$;
COMMENT ON FUNCTION ex7._walk_forward_curve(uuid, uuid) IS
'Returns the stitched out-of-sample equity curve of a walk-forward study, [{ts, equity}]: each done window''s out-of-sample curve in window order, offset to start where the previous ended (the first at the initial capital; a later window''s opening point, equal to the previous end, is left out).';

/* _walk_forward_summary: the result of a finished walk-forward study */
CREATE OR REPLACE FUNCTION ex7._walk_forward_summary(p_user uuid, p_study uuid)
RETURNS jsonb
LANGUAGE plpgsql STABLE
AS $$
DECLARE
    v_windows jsonb := ex7._walk_forward_windows(p_user, p_study);
    v_is numeric;
    v_oos numeric;
    v_is_days numeric;
    v_oos_days numeric;
    v_tested integer;
BEGIN
    SELECT sum((w ->> 'in_sample_net_pnl')::numeric), sum((w ->> 'out_of_sample_net_pnl')::numeric),
           sum((w ->> 'in_sample_days')::numeric), sum((w ->> 'out_of_sample_days')::numeric), count(*)
      INTO v_is, v_oos, v_is_days, v_oos_days, v_tested
      FROM pg_catalog.jsonb_array_elements(v_windows) w
     WHERE w ->> 'status' = 'done';
    RETURN pg_catalog.jsonb_build_object(
        'windows', v_windows, 'windows_tested', v_tested,
        'in_sample_net_pnl', v_is::text, 'out_of_sample_net_pnl', v_oos::text,
        'efficiency', ex7._walk_forward_efficiency(v_is, v_is_days, v_oos, v_oos_days));
END
$$;
COMMENT ON FUNCTION ex7._walk_forward_summary(uuid, uuid) IS
'Returns the result of a walk-forward study: {windows (ex7._walk_forward_windows), windows_tested, in_sample_net_pnl and out_of_sample_net_pnl summed over the tested windows, efficiency: the walk-forward efficiency over them, total out-of-sample P&L per out-of-sample day over total chosen in-sample P&L per in-sample day}.';

CREATE OR REPLACE FUNCTION ex7.get_walk_forward(p_user uuid, p_id uuid)
RETURNS jsonb
LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
    st ex7.studies := ex7._own_study(p_user, p_id);
    v jsonb;
BEGIN
    IF st.kind <> 'walk_forward' THEN
        PERFORM ex7._raise(404, 'the study is not a walk-forward study');
    END IF;
    v := ex7._walk_forward_summary(p_user, p_id);
    RETURN pg_catalog.jsonb_build_object('study_id', st.id, 'status', st.status, 'walk_forward', st.walk_forward)
           || v || pg_catalog.jsonb_build_object('equity', ex7._walk_forward_curve(p_user, p_id),
                                                 'compliance', ex7.compliance_banner());
END
$$;
COMMENT ON FUNCTION ex7.get_walk_forward(uuid, uuid) IS
'Returns the walk-forward analysis of the caller''s study (GET /api/studies/{id}/walk-forward), also while it runs (the windows finished so far): {study_id, status, walk_forward, windows, windows_tested, in_sample_net_pnl, out_of_sample_net_pnl, efficiency, equity: the stitched out-of-sample curve [{ts, equity}], compliance}. X7404 when missing, another user''s, or not a walk-forward study.';

/* ---------------------------------------------------------------------------------------------------
 * Pictures: the objective over two parameters, the walk-forward's out-of-sample curve.
 * ------------------------------------------------------------------------------------------------- */

/*
 * study_heatmap_svg: GET /api/studies/{id}/heatmap.svg?x=&y=. Each cell is the best objective among the done
 * feasible trials with that x and y value (the other parameters free); a cell with none is drawn infeasible.
 * x and y default to the space's first two parameters (name order).
 */
CREATE OR REPLACE FUNCTION ex7.study_heatmap_svg(p_user uuid, p_id uuid, p_x text DEFAULT NULL, p_y text DEFAULT NULL)
RETURNS text
LANGUAGE plpgsql STABLE
AS $$
DECLARE
    st ex7.studies;
    v_names text[];
    v_cells jsonb;
    v_name text;
BEGIN
    SELECT * INTO st FROM ex7.studies x WHERE x.user_id = p_user AND x.id = p_id;
    IF NOT FOUND THEN
        PERFORM ex7._raise(404, 'study not found');
    END IF;
    SELECT pg_catalog.array_agg(p ->> 'name' ORDER BY i) INTO v_names
      FROM pg_catalog.jsonb_array_elements(st.space -> 'parameters') WITH ORDINALITY AS q (p, i);
    p_x := coalesce(p_x, v_names[1]);
    p_y := coalesce(p_y, v_names[2]);
    IF NOT p_x = ANY (v_names) THEN
        PERFORM ex7._invalid('["query","x"]', pg_catalog.format('x must be a parameter of the study: %s', pg_catalog.array_to_string(v_names, ', ')),
                             'type_error.enum');
    END IF;
    IF p_y IS NULL OR NOT p_y = ANY (v_names) OR p_y = p_x THEN
        PERFORM ex7._invalid('["query","y"]', pg_catalog.format('y must be another parameter of the study: %s', pg_catalog.array_to_string(v_names, ', ')),
                             'type_error.enum');
    END IF;
    SELECT coalesce(pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object('x', c.x, 'y', c.y, 'value', c.v)), '[]') INTO v_cells
      FROM (SELECT t."values" -> p_x AS x, t."values" -> p_y AS y,
                   max(t.objective) FILTER (WHERE t.status = 'done' AND t.feasible
                                                  AND t.objective NOT IN ('Infinity', '-Infinity')) AS v
              FROM ex7.study_trials t
             WHERE t.user_id = p_user AND t.study_id = p_id AND t."values" IS NOT NULL AND t.phase IS DISTINCT FROM 'out_of_sample'
             GROUP BY 1, 2) c;
    v_name := (SELECT s.name FROM ex7.strategies s WHERE s.user_id = p_user AND s.id = st.strategy_id);
    RETURN ex7.heatmap_svg(v_cells, p_x, p_y,
                           pg_catalog.format('%s v%s: %s by %s and %s (%s), %s to %s', v_name, st.strategy_version,
                                             st.objective ->> 'metric', p_x, p_y, st.status,
                                             pg_catalog.to_char(st.range_from AT TIME ZONE 'UTC', 'YYYY-MM-DD'),
                                             pg_catalog.to_char(st.range_to AT TIME ZONE 'UTC', 'YYYY-MM-DD')));
END
$$;
COMMENT ON FUNCTION ex7.study_heatmap_svg(uuid, uuid, text, text) IS
'Returns the SVG heatmap (ex7.heatmap_svg, with the CFTC Rule 4.41 statement) of the caller''s study''s objective over parameters x and y (default the first two, name order): each cell the best objective of the done feasible trials with those two values (walk-forward: in-sample trials of every window), infeasible when none (an infinite profit factor is drawn as none). X7404 when missing or another user''s; X7422 at ["query","x"] or ["query","y"] for a name that is not a parameter of the study (y must differ from x).';

CREATE OR REPLACE FUNCTION ex7.study_walk_forward_svg(p_user uuid, p_id uuid)
RETURNS text
LANGUAGE plpgsql STABLE
AS $$
DECLARE
    st ex7.studies;
    v_bounds jsonb;
    v_name text;
BEGIN
    SELECT * INTO st FROM ex7.studies x WHERE x.user_id = p_user AND x.id = p_id;
    IF NOT FOUND OR st.kind <> 'walk_forward' THEN
        PERFORM ex7._raise(404, CASE WHEN st.id IS NULL THEN 'study not found' ELSE 'the study is not a walk-forward study' END);
    END IF;
    -- boundary i opens window i + 1: the out-of-sample starts of the windows after the first
    SELECT coalesce(pg_catalog.jsonb_agg(pg_catalog.to_jsonb(t.range_from) ORDER BY t.window_no), '[]') INTO v_bounds
      FROM ex7.study_trials t
     WHERE t.user_id = p_user AND t.study_id = p_id AND t.phase = 'out_of_sample' AND t.window_no > 1;
    v_name := (SELECT s.name FROM ex7.strategies s WHERE s.user_id = p_user AND s.id = st.strategy_id);
    RETURN ex7.walk_forward_svg(ex7._walk_forward_curve(p_user, p_id), v_bounds,
                                pg_catalog.format('%s v%s: walk-forward (%s, %s/%s/%s days), out of sample, %s to %s', v_name,
                                                  st.strategy_version, st.walk_forward ->> 'mode',
                                                  st.walk_forward ->> 'in_sample_days', st.walk_forward ->> 'out_of_sample_days',
                                                  st.walk_forward ->> 'step_days',
                                                  pg_catalog.to_char(st.range_from AT TIME ZONE 'UTC', 'YYYY-MM-DD'),
                                                  pg_catalog.to_char(st.range_to AT TIME ZONE 'UTC', 'YYYY-MM-DD')));
END
$$;
COMMENT ON FUNCTION ex7.study_walk_forward_svg(uuid, uuid) IS
'Returns the SVG (ex7.walk_forward_svg, with the CFTC Rule 4.41 statement) of the caller''s walk-forward study''s stitched out-of-sample equity curve with the windows'' boundaries. X7404 when missing, another user''s, or not a walk-forward study.';
