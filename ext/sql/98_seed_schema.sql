/* ext/sql/98_seed_schema.sql: the last DDL of the install. Records the rows CREATE EXTENSION seeded, as
 * they stand once every schema file has run (later files add columns to seeded tables and fill them), in
 * ex7.seed_rows: pg_dump leaves out the rows that are still exactly so, and a restore takes a dumped row
 * over one of them (ext/sql/01_backup_schema.sql; docs/operations.md, "Backup and restore"). A table the
 * install seeds is listed here; the upgrade delta marks what an upgraded database holds of the same seed. */
SELECT ex7._seed_mark(t)
  FROM pg_catalog.unnest(ARRAY['ex7.tiers', 'ex7.secrets', 'ex7.instruments', 'ex7.compliance_documents',
                               'ex7.validation_policy']::regclass[]) AS t;
