/* ext/upgrade/0.1.0--0.2.0.sql: the DDL delta from 0.1.0 to 0.2.0 (new tables, columns, indexes,
 * policies, triggers; DROP FUNCTION for a function whose signature changed). The Makefile replaces each
 * "-- include ext/sql/FILE.sql" line with that file (a schema file that is new in this version, whole),
 * then appends every re-runnable file of ext/sql/ (functions, comments, grants) to make
 * ext/ex7--0.1.0--0.2.0.sql. tools/upgrade_check.sh proves that 0.1.0 + this upgrade has the same catalog
 * as a fresh 0.2.0. */

\echo Use "ALTER EXTENSION ex7 UPDATE TO '0.2.0'" to load this file. \quit

-- 0.2.0 moved the instrument cache trigger into ext/sql/41_pnl_schema.sql; it is unchanged.

-- The schema files that 0.2.0 adds, in install order (docs/extending.md):
-- include ext/sql/06_rate_schema.sql
-- include ext/sql/12_market_schema.sql
-- include ext/sql/66_backtest_schema.sql
-- include ext/sql/72_account_schema.sql
-- include ext/sql/72_billing_schema.sql
-- include ext/sql/75_alerts_schema.sql
