-- test/checks/backup_tables.sql: one line per table and sequence of the ex7 extension: its name, its row
-- count and a SHA-256 of its rows (each row's text form, sorted), with the settings that shape that text
-- fixed. test/checks/backup.sh diffs it between a database and its restored copy.
-- ex7.seed_rows is left out: it holds each install's own digests (of its random keys too), made by the
-- restore's CREATE EXTENSION rather than restored (ext/sql/01_backup_schema.sql).
\pset tuples_only on
\pset format unaligned
SET TimeZone = 'UTC';
SET DateStyle = 'ISO, YMD';
SET IntervalStyle = 'postgres';
SET extra_float_digits = 1;
SELECT c.relname || ' ' || r.line
  FROM pg_depend d
  JOIN pg_class c ON c.oid = d.objid AND d.classid = 'pg_class'::regclass
 CROSS JOIN LATERAL (
    SELECT (xpath('/row/line/text()', query_to_xml(
        CASE WHEN c.relkind = 'S'
             THEN format('SELECT last_value || '' '' || is_called AS line FROM %s', c.oid::regclass)
             ELSE format('SELECT count(*) || '' '' || coalesce(encode(sha256(convert_to(string_agg(t::text, E''\n'' ORDER BY t::text), ''UTF8'')), ''hex''), ''-'') AS line FROM %s t',
                         c.oid::regclass)
        END, false, true, '')))[1]::text AS line) AS r
 WHERE d.refobjid = (SELECT oid FROM pg_extension WHERE extname = 'ex7') AND d.deptype = 'e'
   AND c.relkind IN ('r', 'p', 'u', 'S') AND c.relname <> 'seed_rows'
 ORDER BY c.relname;
