/* ext/upgrade/0.2.0--0.3.0.sql: the DDL delta from 0.2.0 to 0.3.0 (the re-runnable function files follow it in
 * the built script, see Makefile). 0.3.0 makes the schema distributable on Citus (docs/scale-out.md): per-user
 * tables keyed by (user_id, id), foreign keys between them including user_id, row-level security without
 * sub-selects, and no trigger that writes another table. Existing rows are kept: keys are rebuilt in place. */

-- Bars and their blocks without triggers
-- (ext/sql/12_market_schema.sql, the end of 75_alerts_schema.sql; docs/market.md "Bar blocks"): the ingest functions now write the bar's block (ex7._bar_blocks_sync) and
-- evaluate the price alerts (ex7._price_alerts_bars) themselves, and pg_dump keeps the blocks. The blocks
-- are current here: the triggers kept them so up to this statement.
DROP TRIGGER bars_blocks_insert ON ex7.bars;
DROP TRIGGER bars_blocks_update ON ex7.bars;
DROP TRIGGER bars_blocks_delete ON ex7.bars;
DROP TRIGGER bars_blocks_truncate ON ex7.bars;
DROP TRIGGER bars_price_alerts ON ex7.bars;
DROP FUNCTION ex7._bar_blocks_trigger();
DROP FUNCTION ex7._bars_price_alerts();
-- the trigger's block helpers, replaced by ex7._bar_blocks_splice / _bar_blocks_cut (64_bar_blocks.sql)
DROP FUNCTION ex7._bar_blocks_merge(bytea, bytea);
DROP FUNCTION ex7._bar_blocks_remove(bytea, bytea);
SELECT pg_catalog.pg_extension_config_dump('ex7.bar_blocks', '');

