/* ext/upgrade/0.1.0--0.2.0.sql: the DDL delta from 0.1.0 to 0.2.0 (new tables, columns, indexes,
 * policies, triggers; DROP FUNCTION for a function whose signature changed). The Makefile replaces each
 * "-- include ext/sql/FILE.sql" line with that file (a schema file that is new in this version, whole),
 * then appends every re-runnable file of ext/sql/ (functions, comments, grants) to make
 * ext/ex7--0.1.0--0.2.0.sql. tools/upgrade_check.sh proves that 0.1.0 + this upgrade has the same catalog
 * as a fresh 0.2.0. */

\echo Use "ALTER EXTENSION ex7 UPDATE TO '0.2.0'" to load this file. \quit

-- 0.2.0 moved the instrument cache trigger into ext/sql/41_pnl_schema.sql; it is unchanged.

-- The schema files that 0.2.0 adds, in install order (docs/extending.md):
-- include ext/sql/01_backup_schema.sql

-- 0.2.0 registers every table for pg_dump (01_backup_schema.sql): 10_schema.sql's tables of 0.1.0.
SELECT pg_catalog.pg_extension_config_dump('ex7.instruments', 'WHERE NOT ex7._seed_row(''instruments'', instruments)');
CREATE TRIGGER instruments_seed_merge BEFORE INSERT ON ex7.instruments
    FOR EACH ROW EXECUTE FUNCTION ex7._seed_merge();
SELECT pg_catalog.pg_extension_config_dump('ex7.strategies', '');
SELECT pg_catalog.pg_extension_config_dump('ex7.strategy_versions', '');
SELECT pg_catalog.pg_extension_config_dump('ex7.strategy_runtimes', '');
SELECT pg_catalog.pg_extension_config_dump('ex7.signals', '');
SELECT pg_catalog.pg_extension_config_dump('ex7.signal_events', '');
SELECT pg_catalog.pg_extension_config_dump('ex7.signal_audit', '');
SELECT pg_catalog.pg_extension_config_dump('ex7.signal_audit_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('ex7.signals_blocked', '');
SELECT pg_catalog.pg_extension_config_dump('ex7.risk_limits', '');

-- include ext/sql/06_rate_schema.sql
-- include ext/sql/12_market_schema.sql
-- include ext/sql/66_backtest_schema.sql
-- include ext/sql/72_account_schema.sql
-- include ext/sql/72_billing_schema.sql
-- include ext/sql/75_alerts_schema.sql
-- include ext/sql/85_jobs_schema.sql

-- The seed rows of 0.2.0 (98_seed_schema.sql) as an upgraded database holds them. The tiers (with the
-- columns 72_billing_schema.sql added), the keys, the compliance documents and the Judge's policy are
-- the same as a fresh install's; the instruments a 0.1.0 install seeded are not (their updated_at is that
-- install's time, where 0.2.0 seeds a fixed one), so they stay unmarked and every dump keeps them.
SELECT ex7._seed_mark(t)
  FROM pg_catalog.unnest(ARRAY['ex7.tiers', 'ex7.secrets', 'ex7.compliance_documents',
                               'ex7.validation_policy']::regclass[]) AS t;
