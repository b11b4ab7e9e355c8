/* ext/sql/40_pnl.sql: ex7.compute_pnl, the one and only P&L formula (ext/pnl.c, docs/pnl.md), and its
 * cache-invalidation trigger function (the trigger itself is in 41_pnl_schema.sql). */

CREATE OR REPLACE FUNCTION ex7.compute_pnl(p_instrument text, p_side text, p_size integer, p_entry_price numeric,
    p_close_price numeric, OUT points numeric, OUT ticks numeric, OUT gross_pnl numeric,
    OUT slippage_ticks numeric, OUT slippage_cost numeric, OUT commission numeric, OUT net_pnl numeric)
RETURNS record
AS 'MODULE_PATHNAME', 'compute_pnl'
LANGUAGE C STABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION ex7.compute_pnl(text, text, integer, numeric, numeric) IS
'Returns the P&L of a round trip of p_size contracts of p_instrument, p_side long or short, from p_entry_price to p_close_price, in exact numeric: points and ticks moved in the trader''s favour, gross_pnl = ticks * tick_value * size, slippage_ticks = 2.0 per side, slippage_cost = (2 + 2) * tick_value * size, commission = commission_per_side * 2 * size, net_pnl = gross_pnl - slippage_cost - commission. Raises X7422 for an unknown instrument, a side other than long or short, a size outside 1..100000, a NaN, infinite, out-of-range (|x| >= 10^16) or off-tick price, or a result out of range. The one and only P&L formula (docs/pnl.md).';

CREATE OR REPLACE FUNCTION ex7._pnl_invalidate()
RETURNS trigger
AS 'MODULE_PATHNAME', 'pnl_invalidate'
LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION ex7._pnl_invalidate() IS
'Trigger: returns NULL. Queues a relcache invalidation of ex7.instruments so that every backend drops the instrument cache of ex7.compute_pnl (this one at the next command, the others at commit).';
