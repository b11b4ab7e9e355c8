/* ext/upgrade/0.2.0--0.3.0.sql: the DDL delta from 0.2.0 to 0.3.0 (the re-runnable function files follow it in
 * the built script, see Makefile). 0.3.0 makes the schema distributable on Citus (docs/scale-out.md): per-user
 * tables keyed by (user_id, id), foreign keys between them including user_id, row-level security without
 * sub-selects, and no trigger that writes another table. Existing rows are kept: keys are rebuilt in place. */

-- Bars and their blocks without triggers

