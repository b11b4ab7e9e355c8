/* ext/sql/68_metrics.sql: performance metrics and the equity picture (ext/metrics.c, docs/metrics.md).
 * One formula set for backtests and for the live (paper) statistics of closed signals. */

CREATE OR REPLACE FUNCTION ex7.compute_metrics(p_trades jsonb, p_equity jsonb, p_params jsonb)
RETURNS jsonb
AS 'MODULE_PATHNAME', 'compute_metrics'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION ex7.compute_metrics(jsonb, jsonb, jsonb) IS
'Returns the performance metrics of closed trades (exit order) and an equity curve [{ts, equity}] given {initial_capital, risk_free_rate, periods_per_year}: P&L sums, win rate, averages, expectancy, profit factor, Sharpe, Sortino, Calmar, CAGR, max drawdown with its dates, streaks, exposure, MAE/MFE summary and breakdowns by day, ISO week, month and tag. Money as decimal strings, ratios as numbers, null where undefined (docs/metrics.md).';

CREATE OR REPLACE FUNCTION ex7._equity_svg(p_equity jsonb, p_title text, p_rule text, p_statement text)
RETURNS text
AS 'MODULE_PATHNAME', '_equity_svg'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION ex7._equity_svg(jsonb, text, text, text) IS
'Returns a self-contained SVG document drawing the equity curve [{ts, equity}] and its drawdown, with axes, the escaped title, and the rule name and statement wrapped under the chart.';

/*
 * The equity picture with the CFTC Rule 4.41(b)(1)(i) statement under it: every display of
 * hypothetical (backtest, paper) performance carries it (facts.md), so the picture cannot be drawn
 * without it. The statement has one source, ex7.compliance_banner().
 */
CREATE OR REPLACE FUNCTION ex7.equity_svg(p_equity jsonb, p_title text)
RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
    SELECT ex7._equity_svg(coalesce(p_equity, '[]'), coalesce(p_title, ''),
                           ex7.compliance_banner()->>'rule', ex7.compliance_banner()->>'text');
$$;
COMMENT ON FUNCTION ex7.equity_svg(jsonb, text) IS
'Returns the equity curve [{ts, equity}] as a self-contained SVG (equity line, drawdown area, dated and valued axes, escaped title) with the full CFTC Rule 4.41 statement under the chart.';
