/* ext/sql/01_backup_schema.sql: what makes a plain pg_dump keep every row of ex7 (docs/operations.md,
 * "Backup and restore"). DDL: runs once; new in 0.2.0, included whole by ext/upgrade/0.1.0--0.2.0.sql.
 *
 * pg_dump leaves an extension's tables out of a dump unless the extension registers them with
 * pg_extension_config_dump (PostgreSQL documentation, "Extension Configuration Tables"), and a restore
 * runs CREATE EXTENSION before it loads their data. So:
 *   - every table whose rows are not made by CREATE EXTENSION is registered with an empty filter right
 *     after its CREATE TABLE, in the file that creates it (sequences of identity columns too);
 *   - a table the install seeds (tiers, instruments, compliance documents, the Judge's policy) is
 *     registered with the filter "WHERE NOT ex7._seed_row(...)": a row is dumped unless it is, byte for
 *     byte, a row the install made (ex7.seed_rows keeps their digests). An unchanged seed row comes back
 *     from the restore's own CREATE EXTENSION (of the version restored into); a seed row the operator
 *     changed is dumped, and ex7._seed_merge puts it over the freshly seeded one, so the restore never
 *     collides with the seed;
 *   - ex7.secrets is dumped whole: its keys are random per database, and a restore must keep them so that
 *     cursors and unsubscribe links handed out before the backup stay valid;
 *   - ex7.bar_blocks is dumped like any table: no trigger rebuilds it from ex7.bars as they are restored
 *     (on Citus none may; docs/market.md "Bar blocks"), so the restore loads the blocks with the bars.
 *     ex7.bar_blocks_check() compares the two after a restore, ex7.bar_blocks_rebuild() makes the
 *     blocks again from the bars (needed after a restore onto a server of the other byte order).
 * test/checks/backup.sh proves it: a database with rows in every table, dumped and restored, compares
 * equal table by table, and a table that is neither registered nor named there as derived fails it.
 */

/* The digests of the rows the install seeded. Install-made, so not dumped: each database has its own. */
CREATE TABLE ex7.seed_rows (
    table_name  name NOT NULL,
    digest      text NOT NULL,
    PRIMARY KEY (table_name, digest)
);
COMMENT ON TABLE ex7.seed_rows IS 'Digests (ex7._row_digest) of the rows CREATE EXTENSION seeded, per ex7 table: pg_dump leaves out a seeded table''s rows that are still exactly as seeded (docs/operations.md, "Backup and restore").';

CREATE OR REPLACE FUNCTION ex7._row_digest(p_row anyelement)
RETURNS text
LANGUAGE sql STABLE
SET "TimeZone" = 'UTC' SET "DateStyle" = 'ISO, YMD' SET "IntervalStyle" = 'postgres' SET extra_float_digits = '1'
AS $$
    SELECT pg_catalog.encode(pg_catalog.sha256(pg_catalog.convert_to(p_row::text, 'UTF8')), 'hex');
$$;
COMMENT ON FUNCTION ex7._row_digest(anyelement) IS
'Returns the SHA-256 (hex) of a row''s text form, with the settings that shape that text (time zone, date and interval styles, float digits) fixed: the same row gives the same digest in any session.';

CREATE OR REPLACE FUNCTION ex7._seed_mark(p_table regclass)
RETURNS integer
LANGUAGE plpgsql
AS $$
DECLARE
    n integer;
BEGIN
    EXECUTE pg_catalog.format(
        'INSERT INTO ex7.seed_rows (table_name, digest) SELECT %L, ex7._row_digest(t) FROM %s t ON CONFLICT DO NOTHING',
        (SELECT relname FROM pg_catalog.pg_class WHERE oid = p_table), p_table);
    GET DIAGNOSTICS n = ROW_COUNT;
    RETURN n;
END
$$;
COMMENT ON FUNCTION ex7._seed_mark(regclass) IS
'Returns how many digests it added. Records every current row of an ex7 table as install-made (ex7.seed_rows); the install calls it right after seeding a table.';

CREATE OR REPLACE FUNCTION ex7._seed_row(p_table name, p_row anyelement)
RETURNS boolean
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT EXISTS (SELECT 1 FROM ex7.seed_rows s WHERE s.table_name = p_table AND s.digest = ex7._row_digest(p_row));
$$;
COMMENT ON FUNCTION ex7._seed_row(name, anyelement) IS
'True when the row of ex7.<p_table> is exactly as CREATE EXTENSION seeded it. The dump filter of the seeded tables (pg_dump runs it as the dumping role, hence SECURITY DEFINER over ex7.seed_rows).';

CREATE OR REPLACE FUNCTION ex7._in_copy(p_rel regclass)
RETURNS boolean
AS 'MODULE_PATHNAME', 'in_copy'
LANGUAGE C STABLE STRICT;
COMMENT ON FUNCTION ex7._in_copy(regclass) IS
'True while the client''s command is a COPY FROM into p_rel: how a restore (psql of a plain dump, pg_restore) loads the rows of the extension''s tables, whose triggers CREATE EXTENSION has already made live (ext/restore.c).';

/*
 * _seed_merge: BEFORE INSERT on a seeded table. A row a COPY brings (a restore) whose primary key
 * names a row that is still exactly as the install seeded it replaces that row instead of colliding with
 * it; the operator's change of a seeded row survives the restore that way. Every other insert, and a
 * COPY over a row that is not pristine seed, goes on as usual (a duplicate key is still an error).
 */
CREATE OR REPLACE FUNCTION ex7._seed_merge()
RETURNS trigger
LANGUAGE plpgsql
AS $$
DECLARE
    keys text;
    key_args text;
    cols text;
    col_args text;
    seeded boolean;
BEGIN
    IF NOT ex7._in_copy(TG_RELID) THEN
        RETURN NEW;
    END IF;
    SELECT pg_catalog.string_agg(pg_catalog.quote_ident(a.attname), ', ' ORDER BY k.ord),
           pg_catalog.string_agg('($1).' || pg_catalog.quote_ident(a.attname), ', ' ORDER BY k.ord)
      INTO keys, key_args
      FROM pg_catalog.pg_index i
     CROSS JOIN LATERAL pg_catalog.unnest(i.indkey) WITH ORDINALITY AS k(attnum, ord)
      JOIN pg_catalog.pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
     WHERE i.indrelid = TG_RELID AND i.indisprimary;
    SELECT pg_catalog.string_agg(pg_catalog.quote_ident(a.attname), ', ' ORDER BY a.attnum),
           pg_catalog.string_agg('($1).' || pg_catalog.quote_ident(a.attname), ', ' ORDER BY a.attnum)
      INTO cols, col_args
      FROM pg_catalog.pg_attribute a
     WHERE a.attrelid = TG_RELID AND a.attnum > 0 AND NOT a.attisdropped AND a.attgenerated = '';
    EXECUTE pg_catalog.format('SELECT ex7._seed_row(%L, t) FROM %I.%I t WHERE (%s) = (%s)',
                              TG_TABLE_NAME, TG_TABLE_SCHEMA, TG_TABLE_NAME, keys, key_args)
       INTO seeded USING NEW;
    IF seeded IS NOT TRUE THEN
        RETURN NEW;
    END IF;
    EXECUTE pg_catalog.format('UPDATE %I.%I SET (%s) = ROW(%s) WHERE (%s) = (%s)',
                              TG_TABLE_SCHEMA, TG_TABLE_NAME, cols, col_args, keys, key_args)
       USING NEW;
    RETURN NULL;
END
$$;
COMMENT ON FUNCTION ex7._seed_merge() IS
'Trigger (BEFORE INSERT on the seeded tables): during a COPY (a restore), a row whose key names an untouched seed row replaces that row instead of colliding with it.';

/* The tables 00_base.sql seeded: the tier caps and the keys (random per database). */
SELECT pg_catalog.pg_extension_config_dump('ex7.tiers', 'WHERE NOT ex7._seed_row(''tiers'', tiers)');
SELECT pg_catalog.pg_extension_config_dump('ex7.secrets', '');
CREATE TRIGGER tiers_seed_merge BEFORE INSERT ON ex7.tiers
    FOR EACH ROW EXECUTE FUNCTION ex7._seed_merge();
CREATE TRIGGER secrets_seed_merge BEFORE INSERT ON ex7.secrets
    FOR EACH ROW EXECUTE FUNCTION ex7._seed_merge();

/* 00_base.sql's other tables, made only by the SQL API and the operator. */
SELECT pg_catalog.pg_extension_config_dump('ex7.users', '');
SELECT pg_catalog.pg_extension_config_dump('ex7.role_bindings', '');
