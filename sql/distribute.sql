-- sql/distribute.sql: ex7.distribute() and ex7.distribution() on plain PostgreSQL (docs/scale-out.md). Without
-- Citus the call refuses with X7501; the plan it would follow classifies every table of the schema, and its
-- order puts each table after the tables of its class it references. make test-citus runs it on Citus.

-- no Citus in this database: X7501, code citus_not_installed
SELECT ex7_test.err('SELECT ex7.distribute()');

-- the read-only view: Citus absent, no distributed functions, every table local
SELECT d->'citus' AS citus, d->'coordinator' AS coordinator, d->'distributed_functions' AS functions
FROM ex7.distribution() d;
SELECT pg_catalog.count(*) AS tables, pg_catalog.count(*) FILTER (WHERE v->>'class' = 'local') AS local
FROM pg_catalog.jsonb_each(ex7.distribution()->'tables') AS t(k, v);

-- every table of the schema has a class (a new table without one would stop distribute())
SELECT c.relname AS table_without_class
FROM pg_catalog.pg_class c
WHERE c.relnamespace = 'ex7'::regnamespace AND c.relkind IN ('r', 'p') AND NOT c.relispartition
  AND c.relname::text NOT IN (SELECT table_name FROM ex7._distribution_plan());
SELECT p.table_name AS planned_but_missing FROM ex7._distribution_plan() p
WHERE pg_catalog.to_regclass('ex7.' || p.table_name) IS NULL;
SELECT v->>'planned' AS class, pg_catalog.count(*) AS tables
FROM pg_catalog.jsonb_each(ex7.distribution()->'tables') AS t(k, v) GROUP BY 1 ORDER BY 1;

-- the class of each table (the design in docs/scale-out.md, "Table classes"); the order distribute() takes them
-- in depends on the foreign keys and is checked below rather than listed
SELECT class, column_name, table_name FROM ex7._distribution_plan() ORDER BY 1, 2, 3;

-- the order: classes in turn (reference, user, own, local), users first of its class, and no table before a
-- table of its own class that it references
SELECT class, pg_catalog.min(ord) AS first, pg_catalog.max(ord) AS last FROM ex7._distribution_order() GROUP BY 1 ORDER BY 2;
SELECT table_name AS first_user_table FROM ex7._distribution_order() WHERE class = 'user' ORDER BY ord LIMIT 1;
SELECT c.table_name AS referencing, r.table_name AS referenced_later
FROM pg_catalog.pg_constraint k
JOIN ex7._distribution_order() c ON ('ex7.' || c.table_name)::regclass = k.conrelid
JOIN ex7._distribution_order() r ON ('ex7.' || r.table_name)::regclass = k.confrelid
WHERE k.contype = 'f' AND c.class = r.class AND k.conrelid <> k.confrelid AND c.ord <= r.ord;

-- the statements it runs
SELECT ex7._distribute_statement('instruments', 'reference', NULL);
SELECT ex7._distribute_statement('users', 'user', 'id');
SELECT ex7._distribute_statement('signals', 'user', 'user_id');
SELECT ex7._distribute_statement('waitlist', 'own', 'email');

-- the functions it would distribute: public, first argument p_user uuid (at least the core API calls)
SELECT pg_catalog.count(*) >= 50 AS many,
       pg_catalog.bool_and(f.proname !~ '^_') AS none_internal,
       pg_catalog.count(*) FILTER (WHERE f.proname IN ('list_signals', 'get_strategy', 'fire_signal', 'close_signal')) AS core
FROM pg_catalog.pg_proc f
WHERE f.pronamespace = 'ex7'::regnamespace AND f.proname !~ '^_' AND f.prokind IN ('f', 'p')
  AND f.pronargs >= 1 AND f.proargtypes[0] = 'uuid'::regtype AND f.proargnames[1] = 'p_user';

-- without Citus the helpers say so rather than fail
SELECT ex7._citus_class('ex7.users') IS NULL AS not_in_citus;
SELECT ex7_test.err($$SELECT ex7._citus_error('citus_not_installed', 'm', 'h')$$);
