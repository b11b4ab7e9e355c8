-- tools/schema_fingerprint.sql: one sorted line per catalog fact of the ex7 extension (functions with
-- their definitions, comments and ACLs; relations, columns in order, defaults, constraints, indexes,
-- triggers, policies, domains; extension membership and pg_dump registration; the seeded rows of
-- instruments and tiers).
-- tools/upgrade_check.sh diffs it between a fresh install and an upgraded one.
\pset tuples_only on
\pset format unaligned
WITH facts(line) AS (
    SELECT 'function ' || p.oid::regprocedure || ' ' || md5(pg_get_functiondef(p.oid))
           || ' comment=' || coalesce(md5(obj_description(p.oid, 'pg_proc')), '-')
           || ' acl=' || coalesce(p.proacl::text, '-')
      FROM pg_proc p WHERE p.pronamespace = 'ex7'::regnamespace AND p.prokind IN ('f', 'p')
    UNION ALL
    SELECT 'relation ' || c.relname || ' kind=' || c.relkind::text || ' acl=' || coalesce(c.relacl::text, '-')
           || ' rls=' || c.relrowsecurity || '/' || c.relforcerowsecurity
           || ' persistence=' || c.relpersistence::text || ' options=' || coalesce(c.reloptions::text, '-')
           || ' comment=' || coalesce(md5(obj_description(c.oid, 'pg_class')), '-')
      FROM pg_class c WHERE c.relnamespace = 'ex7'::regnamespace AND c.relkind <> 'i'
    UNION ALL
    SELECT 'column ' || c.relname || ' #' || row_number() OVER (PARTITION BY c.oid ORDER BY a.attnum)
           || ' ' || a.attname || ' ' || format_type(a.atttypid, a.atttypmod) || ' notnull=' || a.attnotnull
           || ' default=' || coalesce(pg_get_expr(d.adbin, d.adrelid), '-')
           || ' generated=' || a.attgenerated::text || ' identity=' || a.attidentity::text
           || ' acl=' || coalesce(a.attacl::text, '-')
           || ' comment=' || coalesce(md5(col_description(c.oid, a.attnum)), '-')
      FROM pg_class c JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
      LEFT JOIN pg_attrdef d ON d.adrelid = c.oid AND d.adnum = a.attnum
     WHERE c.relnamespace = 'ex7'::regnamespace AND c.relkind IN ('r', 'p', 'v', 'm', 'c')
    UNION ALL
    SELECT 'index ' || pg_get_indexdef(i.indexrelid)
      FROM pg_index i JOIN pg_class c ON c.oid = i.indrelid WHERE c.relnamespace = 'ex7'::regnamespace
    UNION ALL
    SELECT 'constraint ' || conrelid::regclass || ' ' || contypid::regtype || ' ' || conname || ' '
           || pg_get_constraintdef(oid)
      FROM pg_constraint WHERE connamespace = 'ex7'::regnamespace
    UNION ALL
    SELECT 'trigger ' || pg_get_triggerdef(t.oid) || ' enabled=' || t.tgenabled::text
      FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid
     WHERE c.relnamespace = 'ex7'::regnamespace AND NOT t.tgisinternal
    UNION ALL
    SELECT 'policy ' || tablename || ' ' || policyname || ' ' || permissive || ' ' || roles::text || ' '
           || cmd || ' ' || coalesce(qual, '-') || ' ' || coalesce(with_check, '-')
      FROM pg_policies WHERE schemaname = 'ex7'
    UNION ALL
    SELECT 'type ' || t.oid::regtype || ' ' || t.typtype::text || ' base=' || t.typbasetype::regtype
           || ' comment=' || coalesce(md5(obj_description(t.oid, 'pg_type')), '-')
      FROM pg_type t WHERE t.typnamespace = 'ex7'::regnamespace AND t.typtype IN ('d', 'e')
    UNION ALL
    SELECT 'member ' || pg_describe_object(d.classid, d.objid, 0)
      FROM pg_depend d JOIN pg_extension e ON e.oid = d.refobjid
     WHERE d.refclassid = 'pg_extension'::regclass AND d.deptype = 'e' AND e.extname = 'ex7'
    UNION ALL
    SELECT 'dump ' || c.conf::regclass || ' ' || coalesce(c.cond, '-')
      FROM pg_extension e, unnest(e.extconfig, e.extcondition) AS c(conf, cond) WHERE e.extname = 'ex7'
    UNION ALL
    SELECT 'schema comment=' || coalesce(md5(obj_description('ex7'::regnamespace, 'pg_namespace')), '-')
    UNION ALL
    SELECT 'rows instruments ' || md5(string_agg(to_jsonb(i)::text, ',' ORDER BY i.symbol))
      FROM (SELECT symbol, name, exchange, tick_size, tick_value, commission_per_side, currency,
                   session_calendar, active FROM ex7.instruments) i
    UNION ALL
    SELECT 'rows tiers ' || md5(string_agg(to_jsonb(t)::text, ',' ORDER BY t.tier)) FROM ex7.tiers t
)
SELECT line FROM facts ORDER BY line;
