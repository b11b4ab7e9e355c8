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
-- The instruments a 0.1.0 install seeded carry its install time in updated_at, unlike 0.2.0's fixed seed
-- rows, so they are not marked as seed rows: a dump keeps them as they are.
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
