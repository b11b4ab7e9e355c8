/* ext/sql/95_distribute.sql: scale-out on Citus (docs/scale-out.md). ex7.distribute() turns a Citus coordinator
 * that has the extension and its workers into a distributed ex7: each user's rows on one worker, every
 * single-user call run on that worker. ex7.distribution() shows how Citus sees each table. Re-runnable
 * (functions and comments only): on plain PostgreSQL both exist, distribute() refuses with X7501.
 *
 * The table classes are the design's (docs/scale-out.md, "Table classes"):
 *   reference  a full copy on every node: small, read by every user's calls, written rarely
 *   user       distributed by the user (users by id, every other table by user_id), colocated with ex7.users,
 *              so a user's rows of every table sit in one shard group on one node
 *   own        distributed by a key of their own, not colocated with users (rate counters and attempt counters
 *              by subject, the waitlist by email, Stripe events by id)
 *   local      stays on the coordinator only (the restore path's seed digests, the job clock)
 */

CREATE OR REPLACE FUNCTION ex7._distribution_plan()
RETURNS TABLE (table_name text, class text, column_name text)
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
    VALUES
        -- reference tables; distribute() orders them by their foreign keys (instruments and tiers first)
        ('instruments', 'reference', NULL::text), ('tiers', 'reference', NULL), ('secrets', 'reference', NULL),
        ('market_closures', 'reference', NULL), ('bars', 'reference', NULL), ('bar_blocks', 'reference', NULL),
        ('validation_policy', 'reference', NULL), ('compliance_documents', 'reference', NULL),
        ('role_bindings', 'reference', NULL), ('auth_accounts', 'reference', NULL),
        ('billing_accounts', 'reference', NULL), ('trading_halts', 'reference', NULL),
        -- distributed by user, colocated with ex7.users
        ('users', 'user', 'id'), ('strategies', 'user', 'user_id'), ('strategy_versions', 'user', 'user_id'),
        ('strategy_runtimes', 'user', 'user_id'), ('signals', 'user', 'user_id'), ('signal_events', 'user', 'user_id'),
        ('signal_audit', 'user', 'user_id'), ('signals_blocked', 'user', 'user_id'), ('risk_limits', 'user', 'user_id'),
        ('backtests', 'user', 'user_id'), ('backtest_trade_chunks', 'user', 'user_id'),
        ('backtest_equity_chunks', 'user', 'user_id'), ('strategy_validations', 'user', 'user_id'),
        ('vix_usage', 'user', 'user_id'), ('exchange_keys', 'user', 'user_id'),
        ('compliance_acceptances', 'user', 'user_id'), ('alert_channels', 'user', 'user_id'),
        ('alert_subscriptions', 'user', 'user_id'), ('alert_deliveries', 'user', 'user_id'),
        ('alert_usage', 'user', 'user_id'), ('notifications', 'user', 'user_id'),
        ('notification_preferences', 'user', 'user_id'), ('price_alerts', 'user', 'user_id'),
        ('price_alert_logs', 'user', 'user_id'), ('hooks', 'user', 'user_id'), ('hook_events', 'user', 'user_id'),
        ('paper_accounts', 'user', 'user_id'),
        ('risk_protections', 'user', 'user_id'), ('risk_locks', 'user', 'user_id'),
        ('trading_states', 'user', 'user_id'), ('stream_tickets', 'user', 'user_id'),
        ('studies', 'user', 'user_id'), ('study_trials', 'user', 'user_id'),
        -- distributed by their own key
        ('rate_counters', 'own', 'subject'), ('auth_attempts', 'own', 'subject'), ('waitlist', 'own', 'email'),
        ('stripe_events', 'own', 'id'),
        -- local to the coordinator
        ('seed_rows', 'local', NULL), ('jobs', 'local', NULL)
$$;
COMMENT ON FUNCTION ex7._distribution_plan() IS
'The class of every ex7 table on Citus (reference, user: distributed by user colocated with ex7.users, own: distributed by its own key, local) and its distribution column. ex7.distribute() follows it; a table missing here stops distribute().';

-- _distribution_order: the tables in the order ex7.distribute() distributes them: reference tables first (the
-- others reference them), then users and the tables distributed with it, then those with a key of their own;
-- within a class each table after every table of the same class it references (Citus refuses a foreign key
-- to a table that is not distributed yet). A cycle of foreign keys within a class raises.
CREATE OR REPLACE FUNCTION ex7._distribution_order()
RETURNS TABLE (ord integer, table_name text, class text, column_name text)
LANGUAGE plpgsql STABLE
AS $$
DECLARE
    v_n integer;
BEGIN
    RETURN QUERY
    WITH RECURSIVE edge AS (
        SELECT DISTINCT c.relname::text COLLATE "default" AS child, r.relname::text COLLATE "default" AS parent
        FROM pg_catalog.pg_constraint k
        JOIN pg_catalog.pg_class c ON c.oid = k.conrelid
        JOIN pg_catalog.pg_class r ON r.oid = k.confrelid
        JOIN ex7._distribution_plan() pc ON pc.table_name = c.relname::text
        JOIN ex7._distribution_plan() pr ON pr.table_name = r.relname::text AND pr.class = pc.class
        WHERE k.contype = 'f' AND c.relnamespace = 'ex7'::regnamespace AND r.relnamespace = 'ex7'::regnamespace
          AND k.conrelid <> k.confrelid
    ), depth(t, d) AS (
        SELECT p.table_name, 0 FROM ex7._distribution_plan() p
        UNION
        SELECT edge.child, depth.d + 1 FROM depth JOIN edge ON edge.parent = depth.t WHERE depth.d < 60
    )
    SELECT (pg_catalog.row_number() OVER (ORDER BY pg_catalog.array_position(ARRAY['reference', 'user', 'own', 'local'], p.class),
                                          pg_catalog.max(depth.d), p.table_name))::integer,
           p.table_name, p.class, p.column_name
    FROM ex7._distribution_plan() p JOIN depth ON depth.t = p.table_name
    GROUP BY p.table_name, p.class, p.column_name
    HAVING pg_catalog.max(depth.d) < 60
    ORDER BY 1;
    GET DIAGNOSTICS v_n = ROW_COUNT;
    IF v_n < (SELECT pg_catalog.count(*) FROM ex7._distribution_plan()) THEN
        -- a chain of 60 foreign keys within a class means a cycle (there are 41 tables)
        RAISE EXCEPTION 'ex7._distribution_order: the foreign keys within a class form a cycle';
    END IF;
END
$$;
COMMENT ON FUNCTION ex7._distribution_order() IS
'The tables of ex7._distribution_plan() numbered in the order ex7.distribute() distributes them: by class (reference, user, own, local), then each after the tables of its class it references.';

-- _distribute_statement: the Citus call that gives one table its class.
CREATE OR REPLACE FUNCTION ex7._distribute_statement(p_table text, p_class text, p_column text)
RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
    SELECT CASE p_class
        WHEN 'reference' THEN pg_catalog.format('SELECT pg_catalog.create_reference_table(%L)', 'ex7.' || p_table)
        WHEN 'user' THEN pg_catalog.format('SELECT pg_catalog.create_distributed_table(%L, %L, colocate_with => %L)',
                                           'ex7.' || p_table, p_column, CASE WHEN p_table = 'users' THEN 'none' ELSE 'ex7.users' END)
        WHEN 'own' THEN pg_catalog.format('SELECT pg_catalog.create_distributed_table(%L, %L, colocate_with => %L)',
                                          'ex7.' || p_table, p_column, 'none')
    END;
$$;
COMMENT ON FUNCTION ex7._distribute_statement(text, text, text) IS
'The statement that gives ex7.<p_table> its Citus class: create_reference_table, or create_distributed_table by p_column (users in a colocation group of its own, the per-user tables colocated with ex7.users, the own-key tables apart).';

-- _citus_error: raises X7501 (the database lacks what the call needs: Citus, or the coordinator role) with
-- a machine-readable code in the detail and the way out in the hint.
CREATE OR REPLACE FUNCTION ex7._citus_error(p_code text, p_message text, p_hint text)
RETURNS void
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
AS $$
BEGIN
    RAISE EXCEPTION USING ERRCODE = 'X7501', MESSAGE = p_message,
        DETAIL = pg_catalog.jsonb_build_object('code', p_code)::text, HINT = p_hint;
END
$$;
COMMENT ON FUNCTION ex7._citus_error(text, text, text) IS
'Never returns: raises X7501 (Citus missing or not the coordinator, docs/errors.md) with detail {"code": p_code} and the hint.';

-- _sequence_ranges: gives this node its own range of every named bigint sequence, Citus's convention for
-- sequences used on several nodes (src/backend/distributed/worker/worker_data_fetch_protocol.c,
-- AlterSequenceMinMax): the node of group g draws from (g << 48) + 1 up to (g + 1) << 48. The coordinator
-- (group 0) keeps its position (rows already there drew from 1 upwards) and gets only the upper bound.
-- Returns how many sequences it changed (0 when every one already had this node's range).
CREATE OR REPLACE FUNCTION ex7._sequence_ranges(p_sequences text[])
RETURNS integer
LANGUAGE plpgsql
AS $$
DECLARE
    v_group bigint;
    v_lo bigint;
    v_hi bigint;
    v_seq text;
    v_min bigint;
    v_max bigint;
    v_changed integer := 0;
    v_propagation text := pg_catalog.current_setting('citus.enable_ddl_propagation');
BEGIN
    EXECUTE 'SELECT groupid FROM pg_catalog.pg_dist_local_group' INTO v_group;
    v_lo := (v_group << 48) + 1;
    v_hi := (v_group + 1) << 48;
    -- ALTER SEQUENCE here is this node's own business: Citus must neither forward it nor refuse it for a
    -- sequence a distributed table uses (it does both only while DDL propagation is on)
    PERFORM pg_catalog.set_config('citus.enable_ddl_propagation', 'off', true);
    FOREACH v_seq IN ARRAY p_sequences LOOP
        SELECT s.seqmin, s.seqmax INTO v_min, v_max FROM pg_catalog.pg_sequence s WHERE s.seqrelid = v_seq::regclass;
        CONTINUE WHEN v_min = v_lo AND v_max = v_hi;
        IF v_group = 0 THEN
            EXECUTE pg_catalog.format('ALTER SEQUENCE %s MINVALUE %s MAXVALUE %s', v_seq, v_lo, v_hi);
        ELSE
            EXECUTE pg_catalog.format('ALTER SEQUENCE %s MINVALUE %s MAXVALUE %s START %s RESTART %s',
                                      v_seq, v_lo, v_hi, v_lo, v_lo);
        END IF;
        v_changed := v_changed + 1;
    END LOOP;
    PERFORM pg_catalog.set_config('citus.enable_ddl_propagation', v_propagation, true);
    RETURN v_changed;
END
$$;
COMMENT ON FUNCTION ex7._sequence_ranges(text[]) IS
'On a Citus node: gives each named bigint sequence this node''s range ((group << 48) + 1 .. (group + 1) << 48; the coordinator keeps its position). Returns how many it changed. Run on every node by ex7.distribute().';

-- _citus_class: how Citus's metadata (pg_dist_partition) sees a table: 'reference', 'distributed by <column>',
-- 'distributed' (one shard, no column), 'citus local' (a coordinator table in the metadata), or NULL when it
-- is not in the metadata (or Citus is not installed). (The view citus_tables leaves out tables that belong to an
-- extension, which all of ours do.)
CREATE OR REPLACE FUNCTION ex7._citus_class(p_table regclass)
RETURNS text
LANGUAGE plpgsql STABLE
AS $$
DECLARE
    v_class text;
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_extension WHERE extname = 'citus') THEN
        RETURN NULL;
    END IF;
    EXECUTE $q$
        SELECT CASE WHEN p.partmethod = 'h' THEN 'distributed by ' || pg_catalog.column_to_column_name(p.logicalrelid, p.partkey)
                    WHEN p.repmodel = 't' THEN 'reference'
                    WHEN p.colocationid = 0 THEN 'citus local'
                    ELSE 'distributed' END
        FROM pg_catalog.pg_dist_partition p WHERE p.logicalrelid = $1
    $q$ INTO v_class USING p_table;
    RETURN v_class;
END
$$;
COMMENT ON FUNCTION ex7._citus_class(regclass) IS
'How Citus sees the table: reference, distributed by <column>, distributed (single shard), citus local, or NULL when it is not in Citus''s metadata or Citus is not installed.';

CREATE OR REPLACE FUNCTION ex7.distribute()
RETURNS jsonb
LANGUAGE plpgsql
AS $$
DECLARE
    v_group integer;
    v_missing text;
    v_seqs text[];
    v_class text;
    v_table text;
    v_column text;
    v_have text;
    v_want text;
    v_users_colocation integer;
    v_fn regprocedure;
    v_bad text;
    v_new integer := 0;
    v_already integer := 0;
    v_fns integer := 0;
    v_seq_changed integer := 0;
    v_moved text[] := '{}';
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_extension WHERE extname = 'citus') THEN
        PERFORM ex7._citus_error('citus_not_installed', 'citus is not installed in this database',
            'install Citus on every node (docs/scale-out.md), put citus first in shared_preload_libraries, '
            'CREATE EXTENSION citus, add the workers with citus_add_node, then SELECT ex7.distribute() on the coordinator');
    END IF;
    EXECUTE 'SELECT groupid FROM pg_catalog.pg_dist_local_group' INTO v_group;
    IF v_group IS DISTINCT FROM 0 THEN
        PERFORM ex7._citus_error('not_citus_coordinator',
            pg_catalog.format('this node is a Citus worker (group %s), not the coordinator', v_group),
            'run SELECT ex7.distribute() on the coordinator');
    END IF;

    -- every table of the schema needs a class: a table added without one would stay local and break the
    -- calls that join it with distributed tables
    SELECT pg_catalog.string_agg(c.relname::text, ', ' ORDER BY c.relname) INTO v_missing
    FROM pg_catalog.pg_class c
    WHERE c.relnamespace = 'ex7'::regnamespace AND c.relkind IN ('r', 'p') AND NOT c.relispartition
      AND c.relname::text NOT IN (SELECT p.table_name FROM ex7._distribution_plan() p);
    IF v_missing IS NOT NULL THEN
        RAISE EXCEPTION 'ex7.distribute: no distribution class for table(s) %: add them to ex7._distribution_plan()', v_missing;
    END IF;
    SELECT pg_catalog.string_agg(p.table_name, ', ') INTO v_missing
    FROM ex7._distribution_plan() p
    WHERE pg_catalog.to_regclass('ex7.' || p.table_name) IS NULL;
    IF v_missing IS NOT NULL THEN
        RAISE EXCEPTION 'ex7.distribute: ex7._distribution_plan() names table(s) that do not exist: %', v_missing;
    END IF;

    -- Citus runs the DDL and copies of a multi-table transaction over one connection per node when tables
    -- reference each other (a reference table created in the same transaction as its referencing tables)
    PERFORM pg_catalog.set_config('citus.multi_shard_modify_mode', 'sequential', true);
    PERFORM pg_catalog.set_config('client_min_messages', 'warning', true);

    -- 1. disjoint sequence ranges on every node, before the tables are distributed (Citus refuses ALTER
    --    SEQUENCE on a sequence a distributed table uses)
    SELECT pg_catalog.array_agg(s.oid::regclass::text ORDER BY s.oid::regclass::text) INTO v_seqs
    FROM pg_catalog.pg_class s
    JOIN pg_catalog.pg_sequence q ON q.seqrelid = s.oid
    JOIN pg_catalog.pg_depend d ON d.classid = 'pg_catalog.pg_class'::regclass AND d.objid = s.oid
        AND d.refclassid = 'pg_catalog.pg_class'::regclass AND d.deptype IN ('a', 'i')
    JOIN pg_catalog.pg_class t ON t.oid = d.refobjid
    JOIN ex7._distribution_plan() p ON p.table_name = t.relname::text AND p.class <> 'local'
    WHERE s.relkind = 'S' AND t.relnamespace = 'ex7'::regnamespace AND q.seqtypid = 'pg_catalog.int8'::regtype;
    IF v_seqs IS NOT NULL THEN
        v_seq_changed := ex7._sequence_ranges(v_seqs);
        EXECUTE 'SELECT pg_catalog.string_agg(nodeport::text || '': '' || result, ''; '')
                 FROM pg_catalog.run_command_on_workers($1) WHERE NOT success'
            INTO v_bad USING pg_catalog.format('SELECT ex7._sequence_ranges(%L)', v_seqs);
        IF v_bad IS NOT NULL THEN
            RAISE EXCEPTION 'ex7.distribute: setting the sequence ranges failed on a worker: %', v_bad;
        END IF;
    END IF;

    -- 2. tables in ex7._distribution_order(): reference tables first, then users and its colocated tables, then
    --    the own-key tables, each after the tables of its class it references.
    --    With DDL propagation off: every table, constraint and function already exists on every node (the
    --    extension made them there), so Citus is to record its metadata and make the shards, nothing more. With
    --    it on, making a reference table that a still-local table references (compliance_documents from
    --    compliance_acceptances) re-adds that foreign key through Citus's ALTER TABLE path, which turns the local
    --    table into a "citus local" table and creates it on the workers, where it exists: "relation ... already
    --    exists". Citus itself skips the workers' tables of an extension (metadata_sync.c, CreateShellTableOnWorkers).
    PERFORM pg_catalog.set_config('citus.enable_ddl_propagation', 'off', true);
    FOR v_table, v_class, v_column IN
        SELECT o.table_name, o.class, o.column_name FROM ex7._distribution_order() o WHERE o.class <> 'local' ORDER BY o.ord
    LOOP
        -- reference tables keep their node-local triggers (seed merge, the P&L cache, the tiers NOTIFY);
        -- Citus accepts triggers only with this setting. Distributed tables have none (Citus refuses them).
        PERFORM pg_catalog.set_config('citus.enable_unsafe_triggers', CASE WHEN v_class = 'reference' THEN 'on' ELSE 'off' END, true);
        v_have := ex7._citus_class(('ex7.' || v_table)::regclass);
        v_want := CASE WHEN v_class = 'reference' THEN 'reference' ELSE 'distributed by ' || v_column END;
        IF v_have IS NOT NULL AND v_have <> 'citus local' THEN
            IF v_have <> v_want THEN
                RAISE EXCEPTION USING ERRCODE = 'X7409',
                    MESSAGE = pg_catalog.format('table ex7.%s is already %s on Citus, not %s', v_table, v_have, v_want),
                    DETAIL = pg_catalog.jsonb_build_object('code', 'distribution_mismatch', 'table', v_table,
                                                           'citus', v_have, 'planned', v_want)::text,
                    HINT = 'undistribute_table(''ex7.' || v_table || ''') first, then run ex7.distribute() again';
            END IF;
            v_already := v_already + 1;
            CONTINUE;
        END IF;
        -- (the statement names the table: an error's CONTEXT line shows which one failed)
        EXECUTE ex7._distribute_statement(v_table, v_class, v_column);
        v_new := v_new + 1;
        v_moved := v_moved || v_table;
    END LOOP;
    -- Citus copied the rows a table already had into its shards and left the originals, invisible, in the
    -- coordinator's own table ("still on disk", its notice says); they would only take space and could come
    -- back in a dump of the coordinator. Its function for that removes them (each table once everything is
    -- distributed: the truncation cascades over the foreign keys to the other tables' local rows).
    FOREACH v_table IN ARRAY v_moved LOOP
        IF pg_catalog.pg_relation_size(('ex7.' || v_table)::regclass) > 0 THEN
            EXECUTE pg_catalog.format('SELECT pg_catalog.truncate_local_data_after_distributing_table(%L)', 'ex7.' || v_table);
        END IF;
    END LOOP;

    -- 3. every public function whose first argument is the acting user runs on the node holding that user's
    --    shard: Citus delegates SELECT ex7.f($1, ...) there (create_distributed_function, distribution
    --    argument $1, colocated with ex7.users)
    EXECUTE 'SELECT colocationid FROM pg_catalog.pg_dist_partition WHERE logicalrelid = ''ex7.users''::regclass'
        INTO v_users_colocation;
    FOR v_fn IN
        SELECT f.oid::regprocedure FROM pg_catalog.pg_proc f
        WHERE f.pronamespace = 'ex7'::regnamespace AND f.proname !~ '^_' AND f.prokind IN ('f', 'p')
          AND f.pronargs >= 1 AND f.proargtypes[0] = 'uuid'::regtype AND f.proargnames[1] = 'p_user'
        ORDER BY f.oid::regprocedure::text
    LOOP
        EXECUTE 'SELECT 1 FROM pg_catalog.pg_dist_object o
                 WHERE o.classid = ''pg_catalog.pg_proc''::regclass AND o.objid = $1
                   AND o.distribution_argument_index = 0 AND o.colocationid = $2'
            INTO v_have USING v_fn::oid, v_users_colocation;
        IF v_have IS NULL THEN
            EXECUTE pg_catalog.format('SELECT pg_catalog.create_distributed_function(%L, %L, colocate_with := %L)',
                                      v_fn::text, '$1', 'ex7.users');
        END IF;
        v_fns := v_fns + 1;
    END LOOP;

    RETURN (SELECT pg_catalog.jsonb_build_object(
        'reference', pg_catalog.count(*) FILTER (WHERE p.class = 'reference'),
        'distributed_by_user', pg_catalog.count(*) FILTER (WHERE p.class = 'user'),
        'distributed_by_own_key', pg_catalog.count(*) FILTER (WHERE p.class = 'own'),
        'local', pg_catalog.count(*) FILTER (WHERE p.class = 'local'),
        'tables_distributed_now', v_new,
        'tables_already_distributed', v_already,
        'distributed_functions', v_fns,
        'identity_sequences', COALESCE(pg_catalog.cardinality(v_seqs), 0),
        'sequence_ranges_changed_here', v_seq_changed,
        'shard_count', pg_catalog.current_setting('citus.shard_count')::integer)
        FROM ex7._distribution_plan() p);
END
$$;
COMMENT ON FUNCTION ex7.distribute() IS
'Operator call on a Citus coordinator with ex7 and its workers (docs/scale-out.md): makes the reference tables, distributes users by id and the per-user tables by user_id colocated with ex7.users, the counters, waitlist and Stripe events by their own key, gives every node its own identity-sequence range and makes every function whose first argument is p_user a distributed function. Rows already there move with their tables. Idempotent: a re-run distributes only what is not yet (after an upgrade added tables or functions). Returns {reference, distributed_by_user, distributed_by_own_key, local, tables_distributed_now, tables_already_distributed, distributed_functions, identity_sequences, sequence_ranges_changed_here (on the coordinator), shard_count}. X7501 without Citus or on a worker; X7409 when a table is distributed otherwise than its class.';

CREATE OR REPLACE FUNCTION ex7.distribution()
RETURNS jsonb
LANGUAGE plpgsql STABLE
AS $$
DECLARE
    v_citus boolean := EXISTS (SELECT 1 FROM pg_catalog.pg_extension WHERE extname = 'citus');
    v_tables jsonb;
    v_functions integer := 0;
    v_coordinator boolean := false;
BEGIN
    IF NOT v_citus THEN
        SELECT pg_catalog.jsonb_object_agg(c.relname, pg_catalog.jsonb_build_object(
                   'class', 'local', 'planned', COALESCE(p.class, 'none')) ORDER BY c.relname)
        INTO v_tables
        FROM pg_catalog.pg_class c
        LEFT JOIN ex7._distribution_plan() p ON p.table_name = c.relname::text
        WHERE c.relnamespace = 'ex7'::regnamespace AND c.relkind IN ('r', 'p') AND NOT c.relispartition;
    ELSE
        EXECUTE $q$
            SELECT pg_catalog.jsonb_object_agg(c.relname, pg_catalog.jsonb_strip_nulls(pg_catalog.jsonb_build_object(
                       'class', COALESCE(ex7._citus_class(c.oid::regclass), 'local'),
                       'planned', COALESCE(p.class, 'none'),
                       'colocated_with_users', CASE WHEN d.partmethod = 'h' THEN d.colocationid = u.colocationid END,
                       'shards', (SELECT pg_catalog.count(*) FROM pg_catalog.pg_dist_shard s WHERE s.logicalrelid = c.oid)))
                   ORDER BY c.relname)
            FROM pg_catalog.pg_class c
            LEFT JOIN ex7._distribution_plan() p ON p.table_name = c.relname::text
            LEFT JOIN pg_catalog.pg_dist_partition d ON d.logicalrelid = c.oid
            LEFT JOIN pg_catalog.pg_dist_partition u ON u.logicalrelid = 'ex7.users'::regclass
            WHERE c.relnamespace = 'ex7'::regnamespace AND c.relkind IN ('r', 'p') AND NOT c.relispartition
        $q$ INTO v_tables;
        EXECUTE $q$
            SELECT pg_catalog.count(*)::integer FROM pg_catalog.pg_dist_object o
            JOIN pg_catalog.pg_proc f ON o.classid = 'pg_catalog.pg_proc'::regclass AND o.objid = f.oid
            WHERE f.pronamespace = 'ex7'::regnamespace AND o.distribution_argument_index IS NOT NULL
        $q$ INTO v_functions;
        EXECUTE 'SELECT groupid = 0 FROM pg_catalog.pg_dist_local_group' INTO v_coordinator;
    END IF;
    RETURN pg_catalog.jsonb_build_object('citus', v_citus, 'coordinator', v_coordinator,
                                         'distributed_functions', v_functions, 'tables', v_tables);
END
$$;
COMMENT ON FUNCTION ex7.distribution() IS
'Read-only (docs/scale-out.md): {citus, coordinator, distributed_functions, tables: {name: {class: reference | distributed by <column> | local, planned: the class ex7.distribute() gives it, colocated_with_users, shards}}}: how Citus sees every ex7 table. Without Citus every table is local.';
