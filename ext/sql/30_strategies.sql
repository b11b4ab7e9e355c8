/* ext/sql/30_strategies.sql: the strategies API. CRUD, lifecycle transitions (on top of the state machine
 * of ext/lifecycle.c), immutable versions with rollback, clone, export and import. docs/strategies.md
 * describes every function and the JSON it returns.
 *
 * Functions here are PL/pgSQL where they call objects defined later in the install script
 * (ex7.lifecycle_* in 35_lifecycle.sql, ex7._stop_runtimes in 80_runtimes.sql): PL/pgSQL resolves names
 * when it runs, a LANGUAGE sql body is checked when it is created.
 *
 * Locks: a strategy writer locks the strategy row (FOR UPDATE, scoped by owner) before it touches the
 * strategy's versions or runtimes; ex7.start_runtime takes the same row FOR SHARE before its runtime row.
 * One order (strategy row, then runtime rows), so none of them can deadlock with another. Delete and
 * archive also change signals and decide on open signals (they cancel them, or stop a runtime with none
 * to drain), so they first take the user row, the first lock of every signal writer (ex7._lock_user,
 * start_runtime and the dispatcher included): user row, strategy row, runtime and signal rows.
 */

/* ---------------------------------------------------------------------------------------------------
 * Validation. Errors are FastAPI/Pydantic (v1) shaped 422s: {loc, msg, type} with the locator the HTTP
 * route uses (ex7-api-introduction.txt: "For 422 we include the failed-validation locator path so clients
 * can map the error to a specific field"). The first failure in document order is reported.
 * ------------------------------------------------------------------------------------------------- */

/*
 * _validate_graph: the C validator of ext/graph.c (docs/engine.md, "Validation"): shape, node types,
 * parameters, ports and their types, cycles ("422 ... e.g., strategy graph cycle",
 * ex7-api-introduction.txt), the entry node. Callers only rely on "returns, or raises X7422 with a
 * locator under p_loc". ex7.validate_graph (62_engines.sql) is the same check returning a summary.
 */
CREATE OR REPLACE FUNCTION ex7._validate_graph(p_graph jsonb, p_loc jsonb)
RETURNS void
AS 'MODULE_PATHNAME', 'graph_check'
LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION ex7._validate_graph(jsonb, jsonb) IS
'Returns nothing when p_graph is a valid strategy graph (docs/engine.md: known node types, parameters in range, every input connected once by an edge of the right type, no cycle, an entry node; the empty graph is the empty canvas); raises X7422 with a locator under p_loc for the first offending element otherwise.';

/*
 * _strategy_fields: the one validator of strategy bodies (create, update, clone name, import). Returns the
 * normalized fields: name trimmed; description '' when null; tags trimmed, deduplicated in first-seen
 * order; graph validated. With p_partial (update) only the keys present are returned; otherwise name,
 * instrument and timeframe are required and description, tags and graph get their defaults.
 * p_keep_instrument: an instrument accepted even when no longer active (the strategy's current one).
 */
CREATE OR REPLACE FUNCTION ex7._strategy_fields(p_body jsonb, p_partial boolean, p_keep_instrument text DEFAULT NULL)
RETURNS jsonb
LANGUAGE plpgsql STABLE PARALLEL SAFE
AS $$
DECLARE
    -- the values of the ex7.timeframe domain (ext/sql/10_schema.sql)
    c_timeframes CONSTANT text[] := ARRAY['1m', '2m', '5m', '15m', '30m', '1h', '4h', '1d'];
    -- bounds of the strategies and strategy_versions columns (ext/sql/10_schema.sql)
    c_name_max   CONSTANT integer := 120;
    c_desc_max   CONSTANT integer := 4000;
    c_note_max   CONSTANT integer := 1000;
    -- tags: the bounds the task sets for the strategy builder (docs/strategies.md)
    c_tag_max    CONSTANT integer := 32;
    c_tags_max   CONSTANT integer := 20;
    v_out        jsonb := '{}';
    v_key        text;
    v_val        jsonb;
    v_str        text;
    v_active     boolean;
    v_tags       text[] := '{}';
    v_i          bigint;
BEGIN
    IF p_body IS NULL OR pg_catalog.jsonb_typeof(p_body) <> 'object' THEN
        PERFORM ex7._invalid('["body"]', 'value is not a valid dict', 'type_error.dict');
    END IF;
    -- unknown keys are refused (Pydantic extra="forbid"): a misspelt field would otherwise be dropped
    -- silently and the user would believe it saved
    PERFORM ex7._refuse_extra(p_body, ARRAY['name', 'description', 'instrument', 'timeframe', 'tags', 'graph', 'note']);
    -- required fields: missing (create only) or null (always) is refused
    FOREACH v_key IN ARRAY ARRAY['name', 'instrument', 'timeframe', 'graph'] LOOP
        IF NOT p_body ? v_key THEN
            IF NOT p_partial AND v_key <> 'graph' THEN
                PERFORM ex7._invalid(pg_catalog.jsonb_build_array('body', v_key), 'field required',
                                     'value_error.missing');
            END IF;
        ELSIF pg_catalog.jsonb_typeof(p_body -> v_key) = 'null' THEN
            PERFORM ex7._invalid(pg_catalog.jsonb_build_array('body', v_key), 'none is not an allowed value',
                                 'type_error.none.not_allowed');
        END IF;
    END LOOP;
    -- string fields must be strings
    FOREACH v_key IN ARRAY ARRAY['name', 'description', 'instrument', 'timeframe', 'note'] LOOP
        v_val := p_body -> v_key;
        IF v_val IS NOT NULL AND pg_catalog.jsonb_typeof(v_val) NOT IN ('string', 'null') THEN
            PERFORM ex7._invalid(pg_catalog.jsonb_build_array('body', v_key), 'str type expected', 'type_error.str');
        END IF;
    END LOOP;

    IF p_body ? 'name' THEN
        v_str := pg_catalog.btrim(p_body ->> 'name', E' \t\r\n');
        IF pg_catalog.length(v_str) < 1 THEN
            PERFORM ex7._invalid('["body","name"]', 'ensure this value has at least 1 characters',
                                 'value_error.any_str.min_length');
        ELSIF pg_catalog.length(v_str) > c_name_max THEN
            PERFORM ex7._invalid('["body","name"]',
                                 pg_catalog.format('ensure this value has at most %s characters', c_name_max),
                                 'value_error.any_str.max_length');
        END IF;
        v_out := v_out || pg_catalog.jsonb_build_object('name', v_str);
    END IF;

    IF p_body ? 'description' OR NOT p_partial THEN
        v_str := coalesce(p_body ->> 'description', '');
        IF pg_catalog.length(v_str) > c_desc_max THEN
            PERFORM ex7._invalid('["body","description"]',
                                 pg_catalog.format('ensure this value has at most %s characters', c_desc_max),
                                 'value_error.any_str.max_length');
        END IF;
        v_out := v_out || pg_catalog.jsonb_build_object('description', v_str);
    END IF;

    IF p_body ? 'instrument' THEN
        v_str := p_body ->> 'instrument';
        SELECT i.active INTO v_active FROM ex7.instruments i WHERE i.symbol = v_str;
        IF NOT FOUND THEN
            PERFORM ex7._invalid('["body","instrument"]', pg_catalog.format('unknown instrument "%s"', v_str),
                                 'value_error.instrument');
        ELSIF NOT v_active AND v_str IS DISTINCT FROM p_keep_instrument THEN
            PERFORM ex7._invalid('["body","instrument"]', pg_catalog.format('instrument "%s" is not active', v_str),
                                 'value_error.instrument');
        END IF;
        v_out := v_out || pg_catalog.jsonb_build_object('instrument', v_str);
    END IF;

    IF p_body ? 'timeframe' THEN
        v_str := p_body ->> 'timeframe';
        IF NOT v_str = ANY (c_timeframes) THEN
            PERFORM ex7._invalid('["body","timeframe"]',
                                 'value is not a valid enumeration member; permitted: '
                                 || pg_catalog.array_to_string(c_timeframes, ', '),
                                 'type_error.enum');
        END IF;
        v_out := v_out || pg_catalog.jsonb_build_object('timeframe', v_str);
    END IF;

    IF p_body ? 'tags' OR NOT p_partial THEN
        v_val := coalesce(p_body -> 'tags', '[]');
        IF pg_catalog.jsonb_typeof(v_val) = 'null' THEN
            v_val := '[]';
        ELSIF pg_catalog.jsonb_typeof(v_val) <> 'array' THEN
            PERFORM ex7._invalid('["body","tags"]', 'value is not a valid list', 'type_error.list');
        END IF;
        FOR v_i, v_key IN
            SELECT e.o - 1, CASE WHEN pg_catalog.jsonb_typeof(e.v) = 'string' THEN e.v #>> '{}' END
              FROM pg_catalog.jsonb_array_elements(v_val) WITH ORDINALITY AS e (v, o)
             ORDER BY e.o
        LOOP
            IF v_key IS NULL THEN
                PERFORM ex7._invalid(pg_catalog.jsonb_build_array('body', 'tags', v_i), 'str type expected',
                                     'type_error.str');
            END IF;
            v_str := pg_catalog.btrim(v_key, E' \t\r\n');
            IF pg_catalog.length(v_str) < 1 OR pg_catalog.length(v_str) > c_tag_max THEN
                PERFORM ex7._invalid(pg_catalog.jsonb_build_array('body', 'tags', v_i),
                                     pg_catalog.format('ensure this value has 1 to %s characters', c_tag_max),
                                     'value_error.any_str.length');
            END IF;
            IF NOT v_str = ANY (v_tags) THEN
                -- refused at the first tag over the bound: v_tags stays small, the = ANY above cheap
                IF pg_catalog.cardinality(v_tags) = c_tags_max THEN
                    PERFORM ex7._invalid('["body","tags"]',
                                         pg_catalog.format('ensure this value has at most %s items', c_tags_max),
                                         'value_error.list.max_items');
                END IF;
                v_tags := v_tags || v_str;
            END IF;
        END LOOP;
        v_out := v_out || pg_catalog.jsonb_build_object('tags', pg_catalog.to_jsonb(v_tags));
    END IF;

    IF p_body ? 'graph' THEN
        PERFORM ex7._validate_graph(p_body -> 'graph', '["body","graph"]');
        v_out := v_out || pg_catalog.jsonb_build_object('graph', p_body -> 'graph');
    ELSIF NOT p_partial THEN
        -- no graph: the empty canvas a builder starts from (docs/strategies.md)
        v_out := v_out || '{"graph": {"nodes": [], "edges": []}}';
    END IF;

    IF p_body ? 'note' THEN
        IF pg_catalog.length(p_body ->> 'note') > c_note_max THEN
            PERFORM ex7._invalid('["body","note"]',
                                 pg_catalog.format('ensure this value has at most %s characters', c_note_max),
                                 'value_error.any_str.max_length');
        END IF;
        v_out := v_out || pg_catalog.jsonb_build_object('note', p_body -> 'note');
    END IF;
    RETURN v_out;
END
$$;
COMMENT ON FUNCTION ex7._strategy_fields(jsonb, boolean, text) IS
'Returns the normalized strategy fields of a request body (name trimmed, tags trimmed and deduplicated, defaults filled unless p_partial); raises X7422 with a ["body", ...] locator for the first invalid field. Unknown keys are refused.';

/* ---------------------------------------------------------------------------------------------------
 * JSON and etags.
 * ------------------------------------------------------------------------------------------------- */

/*
 * _strategy_etag: a strong validator that changes with every update because revision does. The JSON
 * carries the bare token; the HTTP front sends it quoted in ETag (RFC 9110 entity-tag syntax).
 */
CREATE OR REPLACE FUNCTION ex7._strategy_etag(p_id uuid, p_revision integer)
RETURNS text
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
AS $$
    -- 16 hex digits = 64 bits of md5: an etag only needs to differ between revisions of one row
    SELECT pg_catalog.left(pg_catalog.md5(p_id::text || ':' || p_revision::text), 16);
$$;
COMMENT ON FUNCTION ex7._strategy_etag(uuid, integer) IS
'Returns the etag of revision p_revision of strategy p_id: the first 16 hex digits of md5(id:revision), unquoted.';

/*
 * _etag_matches: If-Match evaluation (RFC 9110 section 13.1.1): "*" matches any current representation;
 * otherwise a comma-separated list of entity-tags compared with the strong comparison, so a weak tag
 * (W/"...") never matches. A bare token (the JSON "etag" as is) is accepted as well.
 */
CREATE OR REPLACE FUNCTION ex7._etag_matches(p_current text, p_if_match text)
RETURNS boolean
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
AS $$
    SELECT pg_catalog.btrim(p_if_match) = '*'
        OR EXISTS (SELECT 1
                     FROM pg_catalog.regexp_split_to_table(p_if_match, ',') AS t (tag)
                    WHERE pg_catalog.btrim(t.tag) IN (p_current, '"' || p_current || '"'));
$$;
COMMENT ON FUNCTION ex7._etag_matches(text, text) IS
'Returns true when the If-Match header value p_if_match ("*", a list of quoted entity-tags, or the bare etag) matches etag p_current by strong comparison.';

/*
 * _strategy_json: the one JSON shape of a strategy. With p_with_graph (every single-strategy response)
 * it carries the current version's graph; list items are summaries without it (a graph can be large and a
 * page holds up to 200 strategies).
 */
CREATE OR REPLACE FUNCTION ex7._strategy_json(p_s ex7.strategies, p_with_graph boolean DEFAULT true)
RETURNS jsonb
LANGUAGE plpgsql STABLE PARALLEL SAFE
AS $$
DECLARE
    v_out jsonb;
BEGIN
    v_out := pg_catalog.jsonb_build_object(
        'id', p_s.id,
        'name', p_s.name,
        'description', p_s.description,
        'instrument', p_s.instrument,
        'timeframe', p_s.timeframe,
        'tags', pg_catalog.to_jsonb(p_s.tags),
        'status', p_s.status,
        'current_version', p_s.current_version,
        'etag', p_s.etag,
        'created_at', p_s.created_at,
        'updated_at', p_s.updated_at,
        'allowed_transitions', pg_catalog.to_jsonb(ex7.lifecycle_allowed(p_s.status)));
    IF p_with_graph THEN
        v_out := v_out || pg_catalog.jsonb_build_object('graph',
            (SELECT v.graph FROM ex7.strategy_versions v
              WHERE v.user_id = p_s.user_id AND v.strategy_id = p_s.id AND v.version = p_s.current_version));
    END IF;
    RETURN v_out;
END
$$;
COMMENT ON FUNCTION ex7._strategy_json(ex7.strategies, boolean) IS
'Returns the API JSON of a strategy: id, name, description, instrument, timeframe, tags, status, current_version, etag, created_at, updated_at, allowed_transitions, and graph (the current version''s) when p_with_graph.';

/*
 * _version_json: one JSON shape of a version. The summary (list) has counts; the full shape (get) adds
 * the graph and the strategy id.
 */
CREATE OR REPLACE FUNCTION ex7._version_json(p_v ex7.strategy_versions, p_current_version integer, p_with_graph boolean)
RETURNS jsonb
LANGUAGE sql STABLE PARALLEL SAFE
AS $$
    SELECT pg_catalog.jsonb_build_object(
               'version', p_v.version,
               'created_at', p_v.created_at,
               'note', p_v.note,
               'rolled_back_from', p_v.rolled_back_from,
               'node_count', coalesce(pg_catalog.jsonb_array_length(p_v.graph -> 'nodes'), 0),
               'edge_count', coalesce(pg_catalog.jsonb_array_length(p_v.graph -> 'edges'), 0),
               'is_current', p_v.version = p_current_version)
        || CASE WHEN p_with_graph
                THEN pg_catalog.jsonb_build_object('strategy_id', p_v.strategy_id, 'graph', p_v.graph)
                ELSE '{}' END;
$$;
COMMENT ON FUNCTION ex7._version_json(ex7.strategy_versions, integer, boolean) IS
'Returns the API JSON of a strategy version: version, created_at, note, rolled_back_from, node_count, edge_count, is_current, and with p_with_graph also strategy_id and graph.';

/* ---------------------------------------------------------------------------------------------------
 * Row access.
 * ------------------------------------------------------------------------------------------------- */

/*
 * _lock_strategy: the caller's live strategy row, locked FOR UPDATE. Ownership is part of the predicate,
 * so another user's strategy is a 404 exactly like a missing one (ex7-api-introduction.txt: "404 Not
 * Found: Resource does not exist or is not owned by the authenticated user").
 */
CREATE OR REPLACE FUNCTION ex7._lock_strategy(p_user uuid, p_id uuid)
RETURNS ex7.strategies
LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
    v ex7.strategies;
BEGIN
    SELECT * INTO v
      FROM ex7.strategies s
     WHERE s.id = p_id AND s.user_id = p_user AND s.deleted_at IS NULL
       FOR UPDATE;
    IF NOT FOUND THEN
        PERFORM ex7._raise(404, 'strategy not found');
    END IF;
    RETURN v;
END
$$;
COMMENT ON FUNCTION ex7._lock_strategy(uuid, uuid) IS
'Returns the strategy p_id of user p_user locked FOR UPDATE; raises X7404 when it is missing, soft-deleted or another user''s.';

/*
 * _lock_existing_user: ex7._lock_user's lock (the user row, FOR NO KEY UPDATE, until commit) for writers
 * that may be called for a user who does not exist: it creates no row and raises nothing, because such a
 * user owns nothing and the caller answers 404 by itself.
 */
CREATE OR REPLACE FUNCTION ex7._lock_existing_user(p_user uuid)
RETURNS void
LANGUAGE plpgsql VOLATILE
AS $$
BEGIN
    PERFORM 1 FROM ex7.users u WHERE u.id = p_user FOR NO KEY UPDATE;
END
$$;
COMMENT ON FUNCTION ex7._lock_existing_user(uuid) IS
'Returns nothing. Locks the user row until commit (FOR NO KEY UPDATE, as ex7._lock_user) when the user exists; creates nothing.';

CREATE OR REPLACE FUNCTION ex7._get_strategy(p_user uuid, p_id uuid)
RETURNS ex7.strategies
LANGUAGE plpgsql STABLE
AS $$
DECLARE
    v ex7.strategies;
BEGIN
    SELECT * INTO v
      FROM ex7.strategies s
     WHERE s.id = p_id AND s.user_id = p_user AND s.deleted_at IS NULL;
    IF NOT FOUND THEN
        PERFORM ex7._raise(404, 'strategy not found');
    END IF;
    RETURN v;
END
$$;
COMMENT ON FUNCTION ex7._get_strategy(uuid, uuid) IS
'Returns the strategy p_id of user p_user (no lock); raises X7404 when it is missing, soft-deleted or another user''s.';

CREATE OR REPLACE FUNCTION ex7._name_conflict(p_name text)
RETURNS void
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
    SELECT ex7._raise(409, pg_catalog.format('a strategy named "%s" already exists', p_name),
                      pg_catalog.jsonb_build_object('code', 'name_conflict', 'name', p_name));
$$;
COMMENT ON FUNCTION ex7._name_conflict(text) IS
'Never returns: raises X7409 with detail {code: name_conflict, name}.';

/*
 * _name_candidate: the n-th name to try when p_mode disambiguates:
 *   error:  n = 1: the name itself
 *   suffix: the name, "Name (2)", "Name (3)", ... (Import: name_on_conflict "suffix")
 *   copy:   "Name (copy)", "Name (copy 2)", ... (Clone)
 * The base is shortened so that the result stays within the 120 characters of strategies.name.
 */
CREATE OR REPLACE FUNCTION ex7._name_candidate(p_base text, p_mode text, p_n integer)
RETURNS text
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
AS $$
    SELECT pg_catalog.rtrim(pg_catalog.left(p_base, 120 - pg_catalog.length(x.suffix))) || x.suffix
      FROM (SELECT CASE
                       WHEN p_mode = 'copy' AND p_n = 1 THEN ' (copy)'
                       WHEN p_mode = 'copy' THEN ' (copy ' || p_n || ')'
                       WHEN p_n = 1 THEN ''
                       ELSE ' (' || p_n || ')'
                   END AS suffix) x;
$$;
COMMENT ON FUNCTION ex7._name_candidate(text, text, integer) IS
'Returns the p_n-th candidate name for base p_base under mode error, suffix ("Name (2)") or copy ("Name (copy 2)"), at most 120 characters.';

/*
 * _insert_strategy: creates the strategy (status draft, version 1, revision 1) from validated fields.
 * p_mode says what a taken name does: error -> 409 name_conflict; suffix / copy -> the next free
 * candidate of ex7._name_candidate. The unique index strategies_user_name_key is the arbiter: a
 * concurrent insert of the same name makes this one wait, then fail over to the next candidate (or 409).
 */
CREATE OR REPLACE FUNCTION ex7._insert_strategy(p_user uuid, p_fields jsonb, p_mode text, p_note text DEFAULT NULL)
RETURNS ex7.strategies
LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
    -- how many "Name (n)" candidates to try before giving up with 409: far more copies than anyone keeps
    c_max_tries CONSTANT integer := 1000;
    v_id        uuid := pg_catalog.gen_random_uuid();
    v_name      text;
    v_con       text;
    v_tags      text[];
    v           ex7.strategies;
BEGIN
    PERFORM ex7._ensure_user(p_user);
    PERFORM ex7._check_strategy_cap(p_user);    -- the tier's strategies cap (docs/billing.md, 73_billing.sql)
    -- a variable, not a sub-select in the INSERT: Citus refuses subqueries in INSERT ... VALUES
    -- (docs/scale-out.md)
    v_tags := ARRAY(SELECT pg_catalog.jsonb_array_elements_text(p_fields -> 'tags'));
    FOR n IN 1 .. CASE WHEN p_mode = 'error' THEN 1 ELSE c_max_tries END LOOP
        v_name := ex7._name_candidate(p_fields ->> 'name', p_mode, n);
        CONTINUE WHEN p_mode <> 'error' AND EXISTS (
            SELECT 1 FROM ex7.strategies s WHERE s.user_id = p_user AND s.name = v_name AND s.deleted_at IS NULL);
        BEGIN
            INSERT INTO ex7.strategies (id, user_id, name, description, instrument, timeframe, tags, etag)
            VALUES (v_id, p_user, v_name, p_fields ->> 'description', p_fields ->> 'instrument',
                    p_fields ->> 'timeframe', v_tags, ex7._strategy_etag(v_id, 1))
            RETURNING * INTO v;
        EXCEPTION WHEN unique_violation THEN
            GET STACKED DIAGNOSTICS v_con = CONSTRAINT_NAME;
            -- on Citus the index is a shard's: its name ends in _<shard id>
            IF v_con !~ '^strategies_user_name_key(_[0-9]+)?$' THEN
                RAISE;
            END IF;
            CONTINUE;
        END;
        INSERT INTO ex7.strategy_versions (strategy_id, version, user_id, graph, note)
        VALUES (v.id, 1, p_user, p_fields -> 'graph', coalesce(p_note, p_fields ->> 'note'));
        RETURN v;
    END LOOP;
    PERFORM ex7._name_conflict(CASE WHEN p_mode = 'error' THEN p_fields ->> 'name' ELSE v_name END);
    RETURN NULL;
END
$$;
COMMENT ON FUNCTION ex7._insert_strategy(uuid, jsonb, text, text) IS
'Returns the new strategy row (draft, version 1) built from validated fields; a taken name raises X7409 name_conflict (p_mode error) or moves on to the next candidate name (suffix, copy).';

/* ---------------------------------------------------------------------------------------------------
 * CRUD.
 * ------------------------------------------------------------------------------------------------- */

CREATE OR REPLACE FUNCTION ex7.create_strategy(p_user uuid, p_body jsonb)
RETURNS jsonb
LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
    v ex7.strategies;
BEGIN
    PERFORM ex7._ensure_user(p_user);
    v := ex7._insert_strategy(p_user, ex7._strategy_fields(p_body, false), 'error');
    -- a statement of its own: _strategy_json is STABLE and reads the version row inserted just now
    RETURN ex7._strategy_json(v);
END
$$;
COMMENT ON FUNCTION ex7.create_strategy(uuid, jsonb) IS
'Returns the created strategy (201 body, with graph): status draft, version 1. Body: name (required), description, instrument (required, active), timeframe (required), tags, graph (default empty), note. X7422 for invalid or unknown fields, X7409 name_conflict when the owner already has a live strategy of that name.';

CREATE OR REPLACE FUNCTION ex7.get_strategy(p_user uuid, p_id uuid)
RETURNS jsonb
LANGUAGE plpgsql STABLE
AS $$
BEGIN
    RETURN ex7._strategy_json(ex7._get_strategy(p_user, p_id));
END
$$;
COMMENT ON FUNCTION ex7.get_strategy(uuid, uuid) IS
'Returns the strategy with its current graph. X7404 when it is missing, soft-deleted or another user''s.';

/*
 * list_strategies: keyset page on (updated_at DESC, id DESC) read from strategies_user_updated_idx
 * (contract, List Strategies: "cursor: updated_at cursor from previous page"). Fetches limit + 1 rows to
 * know whether another page exists without counting. Without a cursor the position is (infinity, max
 * uuid), so one query shape serves both cases and the row comparison stays an index condition.
 */
CREATE OR REPLACE FUNCTION ex7.list_strategies(p_user uuid, p_status text DEFAULT NULL, p_instrument text DEFAULT NULL,
                                    p_tag text DEFAULT NULL, p_cursor text DEFAULT NULL, p_limit integer DEFAULT 50)
RETURNS jsonb
LANGUAGE plpgsql STABLE
AS $$
DECLARE
    v_limit  integer := ex7._check_limit(p_limit);
    v_ts     timestamptz := 'infinity';
    v_id     uuid := 'ffffffff-ffff-ffff-ffff-ffffffffffff';
    v_items  jsonb;
    v_count  bigint;
    v_last_ts timestamptz;
    v_last_id uuid;
BEGIN
    IF p_status IS NOT NULL AND p_status NOT IN ('draft', 'ready', 'live', 'paused', 'archived') THEN
        PERFORM ex7._invalid('["query","status"]',
                             'value is not a valid enumeration member; permitted: draft, ready, live, paused, archived',
                             'type_error.enum');
    END IF;
    IF p_cursor IS NOT NULL THEN
        SELECT c.ts, c.id::uuid INTO v_ts, v_id FROM ex7.cursor_decode('strategies', p_user, p_cursor) c;
    END IF;

    -- ROW(s.*)::ex7.strategies, not the whole-row s: on Citus a shard's row has the shard table's type, which
    -- the JSON builder does not take (docs/scale-out.md)
    WITH page AS MATERIALIZED (
        SELECT ROW(s.*)::ex7.strategies AS s
          FROM ex7.strategies s
         WHERE s.user_id = p_user AND s.deleted_at IS NULL
           AND (s.updated_at, s.id) < (v_ts, v_id)
           AND (p_status IS NULL OR s.status = p_status)
           AND (p_instrument IS NULL OR s.instrument = p_instrument)
           AND (p_tag IS NULL OR s.tags @> ARRAY[p_tag])
         ORDER BY s.updated_at DESC, s.id DESC
         LIMIT v_limit + 1
    ), numbered AS (
        SELECT p.s, pg_catalog.row_number() OVER (ORDER BY (p.s).updated_at DESC, (p.s).id DESC) AS rn
          FROM page p
    )
    SELECT coalesce(pg_catalog.jsonb_agg(ex7._strategy_json(n.s, false) ORDER BY n.rn)
                        FILTER (WHERE n.rn <= v_limit), '[]'),
           pg_catalog.count(*),
           (pg_catalog.array_agg((n.s).updated_at) FILTER (WHERE n.rn = v_limit))[1],
           (pg_catalog.array_agg((n.s).id) FILTER (WHERE n.rn = v_limit))[1]
      INTO v_items, v_count, v_last_ts, v_last_id
      FROM numbered n;

    RETURN pg_catalog.jsonb_build_object(
        'items', v_items,
        'next_cursor', CASE WHEN v_count > v_limit
                            THEN ex7.cursor_encode('strategies', p_user, v_last_ts, v_last_id::text) END);
END
$$;
COMMENT ON FUNCTION ex7.list_strategies(uuid, text, text, text, text, integer) IS
'Returns {items, next_cursor}: one page of the user''s strategies (summaries without graph), most recently updated first, filtered by status, instrument and tag. next_cursor is null on the last page. X7422 for a bad status, cursor or limit (1..200).';

/*
 * update_strategy: PUT with patch semantics: only the keys present change. Order of checks: body (422),
 * strategy (404), If-Match (409 etag_mismatch: ex7-api-introduction.txt "409 Conflict: Optimistic-
 * concurrency clash. The If-Match etag did not match the current row."), archived (409), name (409).
 * A graph that differs from the current version's creates version current + 1 carrying note; note
 * alone changes nothing. A request that changes nothing keeps revision and etag.
 */
CREATE OR REPLACE FUNCTION ex7.update_strategy(p_user uuid, p_id uuid, p_patch jsonb, p_if_match text DEFAULT NULL)
RETURNS jsonb
LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
    v        ex7.strategies;
    v_f      jsonb;
    v_graph  jsonb;
    v_name   text;
    v_desc   text;
    v_instr  text;
    v_tf     text;
    v_tags   text[];
    v_new_graph boolean := false;
    v_con    text;
BEGIN
    -- the strategy's current instrument stays acceptable even if it was deactivated since. Read by a
    -- statement of its own: on Citus a statement on a user's shard must not call a function that queries
    -- (_strategy_fields reads ex7.instruments), docs/scale-out.md
    SELECT s.instrument INTO v_instr FROM ex7.strategies s WHERE s.user_id = p_user AND s.id = p_id;
    v_f := ex7._strategy_fields(p_patch, true, v_instr);
    v := ex7._lock_strategy(p_user, p_id);
    IF p_if_match IS NOT NULL AND NOT ex7._etag_matches(v.etag, p_if_match) THEN
        PERFORM ex7._raise(409, 'strategy was modified since it was read (etag mismatch)',
                           pg_catalog.jsonb_build_object('code', 'etag_mismatch', 'etag', v.etag));
    END IF;
    IF v.status = 'archived' THEN
        -- an archived strategy is frozen until unarchived (Archive Strategy: "Soft-stop ... Reversible via
        -- /unarchive"); unarchive first, which resets it to draft
        PERFORM ex7._raise(409, 'an archived strategy cannot be modified; unarchive it first',
                           pg_catalog.jsonb_build_object('code', 'strategy_archived', 'status', v.status));
    END IF;

    v_name := coalesce(v_f ->> 'name', v.name);
    v_desc := coalesce(v_f ->> 'description', v.description);
    v_instr := coalesce(v_f ->> 'instrument', v.instrument);
    v_tf := coalesce(v_f ->> 'timeframe', v.timeframe);
    v_tags := CASE WHEN v_f ? 'tags' THEN ARRAY(SELECT pg_catalog.jsonb_array_elements_text(v_f -> 'tags'))
                   ELSE v.tags END;
    IF v_f ? 'graph' THEN
        SELECT sv.graph INTO v_graph FROM ex7.strategy_versions sv
         WHERE sv.user_id = v.user_id AND sv.strategy_id = v.id AND sv.version = v.current_version;
        v_new_graph := v_graph IS DISTINCT FROM v_f -> 'graph';
    END IF;

    IF NOT v_new_graph AND (v_name, v_desc, v_instr, v_tf, v_tags)
                           IS NOT DISTINCT FROM (v.name, v.description, v.instrument, v.timeframe::text, v.tags) THEN
        RETURN ex7._strategy_json(v);
    END IF;

    BEGIN
        UPDATE ex7.strategies s
           SET name = v_name, description = v_desc, instrument = v_instr, timeframe = v_tf, tags = v_tags,
               current_version = s.current_version + CASE WHEN v_new_graph THEN 1 ELSE 0 END,
               revision = s.revision + 1,
               etag = ex7._strategy_etag(s.id, s.revision + 1),
               updated_at = pg_catalog.now()
         WHERE s.user_id = v.user_id AND s.id = v.id
        RETURNING * INTO v;
    EXCEPTION WHEN unique_violation THEN
        GET STACKED DIAGNOSTICS v_con = CONSTRAINT_NAME;
        IF v_con !~ '^strategies_user_name_key(_[0-9]+)?$' THEN     -- (a shard's name on Citus: _insert_strategy)
            RAISE;
        END IF;
        PERFORM ex7._name_conflict(v_name);
    END;
    IF v_new_graph THEN
        INSERT INTO ex7.strategy_versions (strategy_id, version, user_id, graph, note)
        VALUES (v.id, v.current_version, v.user_id, v_f -> 'graph', v_f ->> 'note');
    END IF;
    RETURN ex7._strategy_json(v);
END
$$;
COMMENT ON FUNCTION ex7.update_strategy(uuid, uuid, jsonb, text) IS
'Returns the updated strategy (with graph). Patchable: name, description, instrument, timeframe, tags, graph, note; a changed graph adds a version. p_if_match: the If-Match header (or the bare etag). X7404 missing, X7409 etag_mismatch / strategy_archived / name_conflict, X7422 invalid fields.';

/*
 * delete_strategy: soft delete (deleted_at); the name becomes free again. In the same transaction its
 * open signals are cancelled as force-close-all cancels them (ex7._force_close: close_reason force_close,
 * zero P&L, one signal_closed event each) and its runtimes stop without draining: a deleted strategy has
 * nothing left to finish a bar for, and no route reaches its signals any more (force-close-all and start
 * answer 404 for it, a live signal cannot be closed by hand), so left open they would count in the risk
 * gate's open positions for ever (docs/strategies.md, "Delete"). The rows stay: signals, their events and
 * the audit are history (signals.strategy_id references strategies without ON DELETE, and the strategy
 * row is never removed).
 * Locks: the user row first (ex7._lock_existing_user), then the strategy row. A fire or close of the
 * same user that got the user row first commits before the delete reads the open signals, so it
 * cancels what they opened; one that comes after finds the strategy deleted (fire: 404) or its signal
 * cancelled (close: 409 signal_not_open). specs/strategy_delete_race.spec.
 */
CREATE OR REPLACE FUNCTION ex7.delete_strategy(p_user uuid, p_id uuid)
RETURNS void
LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
    v ex7.strategies;
BEGIN
    PERFORM ex7._lock_existing_user(p_user);
    v := ex7._lock_strategy(p_user, p_id);
    UPDATE ex7.strategies s
       SET deleted_at = pg_catalog.now(), updated_at = pg_catalog.now(), revision = s.revision + 1,
           etag = ex7._strategy_etag(s.id, s.revision + 1)
     WHERE s.user_id = v.user_id AND s.id = v.id;
    PERFORM ex7._stop_runtimes(p_user, v.id, false);
    PERFORM ex7._force_close(p_user, v.id);
END
$$;
COMMENT ON FUNCTION ex7.delete_strategy(uuid, uuid) IS
'Returns nothing (204). Soft-deletes the strategy and, in the same transaction, stops its active runtimes (status stopped) and cancels its open signals, paper and live, as force_close_all does (close_reason force_close, zero P&L, a signal_closed event each). X7404 when it is missing, already deleted or another user''s.';

/* ---------------------------------------------------------------------------------------------------
 * Lifecycle: every transition goes through ex7._transition and the state machine of ext/lifecycle.c.
 * ------------------------------------------------------------------------------------------------- */

CREATE OR REPLACE FUNCTION ex7._transition(p_user uuid, p_id uuid, p_action text)
RETURNS jsonb
LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
    v        ex7.strategies;
    v_target text;
BEGIN
    IF p_action = 'archive' THEN
        -- archive stops runtimes that have no open signal to drain: the user row first (file header)
        PERFORM ex7._lock_existing_user(p_user);
    END IF;
    v := ex7._lock_strategy(p_user, p_id);
    -- raises X7409 invalid_transition with the allowed set (Promote Strategy: "Any other source status
    -- yields 409 with the per-status allowed set so the client can render a helpful message")
    v_target := ex7.lifecycle_target(v.status, p_action);

    IF v.status = 'ready' AND v_target = 'live' THEN
        -- The Judge (ext/sql/67_backtest.sql, docs/backtests.md): a backtest of the current version must meet
        -- the validation policy before ready -> live, or X7409 validation_failed (Unarchive Strategy:
        -- "re-promote explicitly, which re-triggers the live-promotion validation")
        PERFORM ex7._judge_promotion(v);
    END IF;

    UPDATE ex7.strategies s
       SET status = v_target, revision = s.revision + 1, etag = ex7._strategy_etag(s.id, s.revision + 1),
           updated_at = pg_catalog.now()
     WHERE s.user_id = v.user_id AND s.id = v.id
    RETURNING * INTO v;

    IF v_target = 'archived' THEN
        -- Archive Strategy: "Soft-stop": running runtimes drain (the dispatcher finishes the bar, then
        -- settles on stopped), ones that never ran or have no open signal stop at once
        PERFORM ex7._stop_runtimes(p_user, v.id, true);
    END IF;
    RETURN ex7._strategy_json(v);
END
$$;
COMMENT ON FUNCTION ex7._transition(uuid, uuid, text) IS
'Returns the strategy after lifecycle action p_action (promote, pause, resume, archive, unarchive). X7404 when missing, X7409 invalid_transition with the allowed set. Archiving drains the strategy''s runtimes.';

CREATE OR REPLACE FUNCTION ex7.promote_strategy(p_user uuid, p_id uuid)
RETURNS jsonb
LANGUAGE plpgsql VOLATILE
AS $$
BEGIN
    RETURN ex7._transition(p_user, p_id, 'promote');
END
$$;
COMMENT ON FUNCTION ex7.promote_strategy(uuid, uuid) IS
'Returns the strategy moved one step forward: draft -> ready or ready -> live. X7409 invalid_transition (with the allowed set) from any other status, X7404 when missing.';

CREATE OR REPLACE FUNCTION ex7.pause_strategy(p_user uuid, p_id uuid)
RETURNS jsonb
LANGUAGE plpgsql VOLATILE
AS $$
BEGIN
    RETURN ex7._transition(p_user, p_id, 'pause');
END
$$;
COMMENT ON FUNCTION ex7.pause_strategy(uuid, uuid) IS
'Returns the strategy moved live -> paused. X7409 invalid_transition from any other status, X7404 when missing.';

CREATE OR REPLACE FUNCTION ex7.resume_strategy(p_user uuid, p_id uuid)
RETURNS jsonb
LANGUAGE plpgsql VOLATILE
AS $$
BEGIN
    RETURN ex7._transition(p_user, p_id, 'resume');
END
$$;
COMMENT ON FUNCTION ex7.resume_strategy(uuid, uuid) IS
'Returns the strategy moved paused -> live. X7409 invalid_transition from any other status, X7404 when missing.';

CREATE OR REPLACE FUNCTION ex7.archive_strategy(p_user uuid, p_id uuid)
RETURNS jsonb
LANGUAGE plpgsql VOLATILE
AS $$
BEGIN
    RETURN ex7._transition(p_user, p_id, 'archive');
END
$$;
COMMENT ON FUNCTION ex7.archive_strategy(uuid, uuid) IS
'Returns the strategy archived (from any non-archived status) and drains its runtimes. X7409 when already archived, X7404 when missing.';

CREATE OR REPLACE FUNCTION ex7.unarchive_strategy(p_user uuid, p_id uuid)
RETURNS jsonb
LANGUAGE plpgsql VOLATILE
AS $$
BEGIN
    RETURN ex7._transition(p_user, p_id, 'unarchive');
END
$$;
COMMENT ON FUNCTION ex7.unarchive_strategy(uuid, uuid) IS
'Returns the strategy moved archived -> draft (not the pre-archive status, which is not recorded). X7409 when not archived, X7404 when missing.';

/* ---------------------------------------------------------------------------------------------------
 * Versions.
 * ------------------------------------------------------------------------------------------------- */

/*
 * list_versions: newest first. The cursor is plain: "last version integer from previous page (DESC
 * pagination)" and the response is { "items": [VersionSummary, ...], "next_cursor": int | null } (List
 * Strategy Versions). It comes as text (a query string) and must be a positive integer.
 */
CREATE OR REPLACE FUNCTION ex7.list_versions(p_user uuid, p_id uuid, p_cursor text DEFAULT NULL, p_limit integer DEFAULT 50)
RETURNS jsonb
LANGUAGE plpgsql STABLE
AS $$
DECLARE
    v_limit  integer := ex7._check_limit(p_limit);
    v        ex7.strategies;
    v_before integer := 2147483647;
    v_items  jsonb;
    v_count  bigint;
    v_last   integer;
BEGIN
    IF p_cursor IS NOT NULL THEN
        -- at most 9 digits: always within integer
        IF p_cursor !~ '^[0-9]{1,9}$' OR p_cursor::integer < 1 THEN
            PERFORM ex7._invalid('["query","cursor"]', 'cursor must be a positive integer (a version number)',
                                 'type_error.integer');
        END IF;
        v_before := p_cursor::integer;
    END IF;
    v := ex7._get_strategy(p_user, p_id);

    WITH page AS MATERIALIZED (
        SELECT ROW(sv.*)::ex7.strategy_versions AS sv      -- not the whole-row sv (list_strategies)
          FROM ex7.strategy_versions sv
         WHERE sv.user_id = v.user_id AND sv.strategy_id = v.id AND sv.version < v_before
         ORDER BY sv.version DESC
         LIMIT v_limit + 1
    ), numbered AS (
        SELECT p.sv, pg_catalog.row_number() OVER (ORDER BY (p.sv).version DESC) AS rn FROM page p
    )
    SELECT coalesce(pg_catalog.jsonb_agg(ex7._version_json(n.sv, v.current_version, false) ORDER BY n.rn)
                        FILTER (WHERE n.rn <= v_limit), '[]'),
           pg_catalog.count(*),
           pg_catalog.max((n.sv).version) FILTER (WHERE n.rn = v_limit)
      INTO v_items, v_count, v_last
      FROM numbered n;

    RETURN pg_catalog.jsonb_build_object('items', v_items,
                                         'next_cursor', CASE WHEN v_count > v_limit THEN v_last END);
END
$$;
COMMENT ON FUNCTION ex7.list_versions(uuid, uuid, text, integer) IS
'Returns {items, next_cursor}: one page of the strategy''s version summaries, newest first; next_cursor is the last version number of the page (an integer) or null. X7404 unknown strategy, X7422 bad cursor or limit.';

CREATE OR REPLACE FUNCTION ex7.get_version(p_user uuid, p_id uuid, p_version integer)
RETURNS jsonb
LANGUAGE plpgsql STABLE
AS $$
DECLARE
    v   ex7.strategies := ex7._get_strategy(p_user, p_id);
    vv  ex7.strategy_versions;
BEGIN
    SELECT * INTO vv FROM ex7.strategy_versions sv
     WHERE sv.user_id = v.user_id AND sv.strategy_id = v.id AND sv.version = p_version;
    IF NOT FOUND THEN
        PERFORM ex7._raise(404, 'strategy version not found');
    END IF;
    RETURN ex7._version_json(vv, v.current_version, true);
END
$$;
COMMENT ON FUNCTION ex7.get_version(uuid, uuid, integer) IS
'Returns one version of the strategy with its graph. X7404 for an unknown strategy or version.';

/*
 * rollback_strategy: Rollback Strategy: "Create a new version whose graph matches `to_version`. Returns
 * { id, current_version }. Maps: StrategyNotFound -> 404 VersionNotFound -> 404 CannotRollbackToCurrent
 * -> 409". The response also carries the new etag (an additive field) for the front's ETag header.
 */
CREATE OR REPLACE FUNCTION ex7.rollback_strategy(p_user uuid, p_id uuid, p_to_version integer)
RETURNS jsonb
LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
    v       ex7.strategies;
    v_graph jsonb;
BEGIN
    IF p_to_version IS NULL THEN
        PERFORM ex7._invalid('["body","to_version"]', 'field required', 'value_error.missing');
    END IF;
    v := ex7._lock_strategy(p_user, p_id);
    SELECT sv.graph INTO v_graph FROM ex7.strategy_versions sv
     WHERE sv.user_id = v.user_id AND sv.strategy_id = v.id AND sv.version = p_to_version;
    IF NOT FOUND THEN
        PERFORM ex7._raise(404, 'strategy version not found');
    END IF;
    IF p_to_version = v.current_version THEN
        PERFORM ex7._raise(409, 'cannot roll back to the current version',
                           pg_catalog.jsonb_build_object('code', 'cannot_rollback_to_current',
                                                         'current_version', v.current_version));
    END IF;
    IF v.status = 'archived' THEN
        -- like update_strategy: an archived strategy is frozen until unarchived
        PERFORM ex7._raise(409, 'an archived strategy cannot be modified; unarchive it first',
                           pg_catalog.jsonb_build_object('code', 'strategy_archived', 'status', v.status));
    END IF;

    UPDATE ex7.strategies s
       SET current_version = s.current_version + 1, revision = s.revision + 1,
           etag = ex7._strategy_etag(s.id, s.revision + 1), updated_at = pg_catalog.now()
     WHERE s.user_id = v.user_id AND s.id = v.id
    RETURNING * INTO v;
    INSERT INTO ex7.strategy_versions (strategy_id, version, user_id, graph, rolled_back_from)
    VALUES (v.id, v.current_version, v.user_id, v_graph, p_to_version);
    RETURN pg_catalog.jsonb_build_object('id', v.id, 'current_version', v.current_version, 'etag', v.etag);
END
$$;
COMMENT ON FUNCTION ex7.rollback_strategy(uuid, uuid, integer) IS
'Returns {id, current_version, etag} after adding a version whose graph equals version p_to_version (rolled_back_from set). X7404 unknown strategy or version, X7409 cannot_rollback_to_current / strategy_archived.';

/* ---------------------------------------------------------------------------------------------------
 * Clone, export, import.
 * ------------------------------------------------------------------------------------------------- */

/*
 * clone_strategy: Clone Strategy: "Clone one of the caller's strategies into a new strategies row at
 * version 1." The copy is a draft with the source's current graph, whatever the source's status.
 * Without p_name it is "<name> (copy)", then "<name> (copy 2)", ...; an explicit name that is taken is a
 * 409 like create.
 */
CREATE OR REPLACE FUNCTION ex7.clone_strategy(p_user uuid, p_source_id uuid, p_name text DEFAULT NULL)
RETURNS jsonb
LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
    v_src   ex7.strategies := ex7._get_strategy(p_user, p_source_id);
    v_f     jsonb;
    v_new   ex7.strategies;
BEGIN
    v_f := pg_catalog.jsonb_build_object(
        'name', CASE WHEN p_name IS NULL THEN v_src.name
                     ELSE ex7._strategy_fields(pg_catalog.jsonb_build_object('name', p_name), true) ->> 'name' END,
        'description', v_src.description,
        'instrument', v_src.instrument,
        'timeframe', v_src.timeframe,
        'tags', pg_catalog.to_jsonb(v_src.tags),
        'graph', (SELECT sv.graph FROM ex7.strategy_versions sv
                   WHERE sv.user_id = v_src.user_id AND sv.strategy_id = v_src.id
                     AND sv.version = v_src.current_version));
    -- the source's graph passed the validator of its day; a graph stored before the engine's (0.1.0 checked
    -- the shape only) must not be copied into a new strategy unchecked. The locator names the source.
    PERFORM ex7._validate_graph(v_f -> 'graph', '["path","source_id","graph"]');
    v_new := ex7._insert_strategy(p_user, v_f, CASE WHEN p_name IS NULL THEN 'copy' ELSE 'error' END,
        pg_catalog.format('cloned from "%s" version %s', v_src.name, v_src.current_version));
    RETURN ex7._strategy_json(v_new);
END
$$;
COMMENT ON FUNCTION ex7.clone_strategy(uuid, uuid, text) IS
'Returns the new strategy (201 body, with graph): a draft at version 1 with the source''s current graph, named p_name or "<name> (copy)", "<name> (copy 2)", ... X7404 unknown source, X7409 name_conflict for a taken explicit name, X7422 bad name, or a source graph the engine refuses (locator ["path","source_id","graph",...]).';

/*
 * export_strategy: Export Strategy: "format stamp, exported_at ISO8601, name/description/instrument/
 * timeframe/tags, and the full graph (nodes, edges, meta). Internal ids, user_id, and timestamps other
 * than `exported_at` are stripped".
 */
CREATE OR REPLACE FUNCTION ex7.export_strategy(p_user uuid, p_id uuid)
RETURNS jsonb
LANGUAGE plpgsql STABLE
AS $$
DECLARE
    v ex7.strategies := ex7._get_strategy(p_user, p_id);
BEGIN
    RETURN pg_catalog.jsonb_build_object(
        'format', 'ex7.strategy/v1',
        'exported_at', pg_catalog.now(),
        'name', v.name,
        'description', v.description,
        'instrument', v.instrument,
        'timeframe', v.timeframe,
        'tags', pg_catalog.to_jsonb(v.tags),
        'graph', (SELECT sv.graph FROM ex7.strategy_versions sv
                   WHERE sv.user_id = v.user_id AND sv.strategy_id = v.id AND sv.version = v.current_version));
END
$$;
COMMENT ON FUNCTION ex7.export_strategy(uuid, uuid) IS
'Returns the portable export of the strategy''s head version: {format: "ex7.strategy/v1", exported_at, name, description, instrument, timeframe, tags, graph}; no ids, no other timestamps. X7404 when missing.';

/*
 * import_strategy: Import Strategy: "Body is a JSON document that matches the ExportPayload shape, plus
 * two import-only keys: format - must equal "ex7.strategy/v1". name_on_conflict - "suffix" to
 * auto-disambiguate, else errors out with 409 on name collision." Other keys (exported_at, anything a
 * newer exporter adds) are ignored, as the contract's ImportPayload does (extra="ignore").
 */
CREATE OR REPLACE FUNCTION ex7.import_strategy(p_user uuid, p_payload jsonb)
RETURNS jsonb
LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
    c_format CONSTANT text := 'ex7.strategy/v1';
    v_f      jsonb;
    v        ex7.strategies;
BEGIN
    PERFORM ex7._ensure_user(p_user);
    IF p_payload IS NULL OR pg_catalog.jsonb_typeof(p_payload) <> 'object' THEN
        PERFORM ex7._invalid('["body"]', 'value is not a valid dict', 'type_error.dict');
    END IF;
    IF NOT p_payload ? 'format' THEN
        PERFORM ex7._invalid('["body","format"]', 'field required', 'value_error.missing');
    END IF;
    IF p_payload -> 'format' IS DISTINCT FROM pg_catalog.to_jsonb(c_format) THEN
        PERFORM ex7._invalid('["body","format"]', pg_catalog.format('unsupported format; expected "%s"', c_format),
                             'value_error.const');
    END IF;
    v_f := ex7._strategy_fields(
        (SELECT coalesce(pg_catalog.jsonb_object_agg(e.key, e.value), '{}')
           FROM pg_catalog.jsonb_each(p_payload) e
          WHERE e.key IN ('name', 'description', 'instrument', 'timeframe', 'tags', 'graph')),
        false);
    v := ex7._insert_strategy(p_user, v_f,
        CASE WHEN p_payload -> 'name_on_conflict' = '"suffix"' THEN 'suffix' ELSE 'error' END);
    RETURN ex7._strategy_json(v);
END
$$;
COMMENT ON FUNCTION ex7.import_strategy(uuid, jsonb) IS
'Returns the created strategy (201 body, with graph) from an export payload. format must be "ex7.strategy/v1" (X7422 ["body","format"]); name_on_conflict "suffix" picks "Name (2)", ... when the name is taken, anything else makes a taken name X7409 name_conflict. Fields validate like create; unknown keys are ignored.';
