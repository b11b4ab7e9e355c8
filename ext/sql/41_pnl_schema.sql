/* ext/sql/41_pnl_schema.sql: the statement trigger that keeps the instrument cache of ex7.compute_pnl
 * current (DDL: runs once; a change here is repeated in ext/upgrade/). */

-- ENABLE ALWAYS: also fires under session_replication_role = replica (logical replication apply)
CREATE TRIGGER instruments_pnl_cache
    AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON ex7.instruments
    FOR EACH STATEMENT EXECUTE FUNCTION ex7._pnl_invalidate();
ALTER TABLE ex7.instruments ENABLE ALWAYS TRIGGER instruments_pnl_cache;
