/* ext/sql/88_research.sql: the statistics of the research features (ext/research.c, docs/research.md):
 * the normal distribution, return moments, the deflated Sharpe ratio, the probability of backtest
 * overfitting (CSCV), the Monte Carlo of a backtest's trades, and the pictures (fan, heatmap,
 * walk-forward curve). Re-runnable: functions and comments only. */

CREATE OR REPLACE FUNCTION ex7.normal_cdf(p_x float8)
RETURNS float8
AS 'MODULE_PATHNAME', 'normal_cdf'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION ex7.normal_cdf(float8) IS
'Returns Phi(x), the standard normal distribution function, as erfc(-x / sqrt 2) / 2 (full relative precision in both tails). X7422 for NaN.';

CREATE OR REPLACE FUNCTION ex7.normal_quantile(p_p float8)
RETURNS float8
AS 'MODULE_PATHNAME', 'normal_quantile'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION ex7.normal_quantile(float8) IS
'Returns Phi^-1(p), the standard normal quantile, by Wichura''s algorithm AS 241 (Applied Statistics 37(3), 1988; relative error about 1e-16). X7422 unless 0 < p < 1.';

CREATE OR REPLACE FUNCTION ex7.return_moments(p_returns float8[], OUT observations integer, OUT mean float8,
                                              OUT sd float8, OUT sharpe float8, OUT skewness float8,
                                              OUT kurtosis float8)
RETURNS record
AS 'MODULE_PATHNAME', 'return_moments'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION ex7.return_moments(float8[]) IS
'Returns the moments of a return series as the deflated Sharpe ratio takes them: observations, mean, sample standard deviation (n - 1), per-period Sharpe ratio mean / sd (not annualised), skewness m3 / m2^1.5 and kurtosis m4 / m2^2 from the central moments mk = sum (x - mean)^k / n (not excess: 3 for a normal distribution). NULL where undefined (no observation; one for sd; sd 0 for the ratios). X7422 at ["returns", i] for a NULL, NaN or infinite element.';

CREATE OR REPLACE FUNCTION ex7.expected_max_sharpe(p_trials integer, p_trials_sharpe_variance float8)
RETURNS float8
AS 'MODULE_PATHNAME', 'expected_max_sharpe'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION ex7.expected_max_sharpe(integer, float8) IS
'Returns the expected maximum Sharpe ratio of p_trials independent trials with true Sharpe ratio 0 whose estimated Sharpe ratios have variance p_trials_sharpe_variance (Bailey and Lopez de Prado 2014): sqrt(V) ((1 - g) Phi^-1(1 - 1/N) + g Phi^-1(1 - 1/(N e))), g the Euler-Mascheroni constant; 0 for one trial. X7422 for N < 1 or V < 0.';

CREATE OR REPLACE FUNCTION ex7.deflated_sharpe(p_sharpe float8, p_observations integer, p_skewness float8,
                                               p_kurtosis float8, p_trials integer DEFAULT 1,
                                               p_trials_sharpe_variance float8 DEFAULT 0)
RETURNS float8
AS 'MODULE_PATHNAME', 'deflated_sharpe'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION ex7.deflated_sharpe(float8, integer, float8, float8, integer, float8) IS
'Returns the deflated Sharpe ratio (Bailey and Lopez de Prado 2014): the probabilistic Sharpe ratio Phi((SR - SR0) sqrt(T - 1) / sqrt(1 - g3 SR + (g4 - 1) / 4 SR^2)) of the per-period (not annualised) Sharpe ratio SR over T observations with skewness g3 and kurtosis g4 (not excess), against SR0 = ex7.expected_max_sharpe(trials, variance of the trials'' Sharpe ratios). With one trial: the probabilistic Sharpe ratio against 0. X7422 for T < 2, kurtosis < 1, a non-finite input, or moments that make the variance term not positive.';

CREATE OR REPLACE FUNCTION ex7.pbo_cscv(p_performance float8[], p_partitions integer DEFAULT 16)
RETURNS jsonb
AS 'MODULE_PATHNAME', 'pbo_cscv'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION ex7.pbo_cscv(float8[], integer) IS
'Returns the probability of backtest overfitting by combinatorially symmetric cross-validation (Bailey, Borwein, Lopez de Prado and Zhu 2015) of a performance matrix (rows: T periods in time order; columns: N trials): {pbo, partitions, combinations, trials, periods, logits: {min, q1, median, q3, max, mean, histogram: [{from, to, count}]}, performance_degradation: {slope, intercept, r_squared, pairs, probability_of_loss}}. The rows are cut into S contiguous blocks; for each of the C(S, S/2) in-sample halves the trial with the best in-sample Sharpe ratio (ties: first column) is ranked out of sample (ties: mean rank), w = rank / (N + 1), logit ln(w / (1 - w)); pbo is the share of logits <= 0 (docs/research.md). X7422 for a matrix that is not 2-D, N < 2, T < S, S odd, < 2 or > 16, or a NULL, NaN or infinite element (locator ["performance", row, column]).';

/* ---------------------------------------------------------------------------------------------------
 * Monte Carlo of a backtest's trades.
 * ------------------------------------------------------------------------------------------------- */

CREATE OR REPLACE FUNCTION ex7._monte_carlo(p_pnl float8[], p_initial_capital float8, p_method text,
                                            p_runs integer, p_seed bigint, p_drawdown_threshold float8)
RETURNS jsonb
AS 'MODULE_PATHNAME', '_monte_carlo'
LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION ex7._monte_carlo(float8[], float8, text, integer, bigint, float8) IS
'Returns the Monte Carlo of trades'' net P&L p_pnl (exit order) from p_initial_capital: p_runs runs of method shuffle (the same trades reordered, Fisher-Yates) or bootstrap (as many drawn with replacement) from xoshiro256** seeded by splitmix64(p_seed). {method, runs, seed, trades, initial_capital, observed: {final_equity, max_drawdown}, final_equity: {p5, p50, p95}, max_drawdown: {p5, p50, p95}, drawdown_threshold, probability_drawdown_beyond, fan: [{trade, p5, p25, p50, p75, p95}]}; money as decimal strings with 2 decimals (docs/research.md, "Monte Carlo"). A NULL p_drawdown_threshold leaves the probability null.';

/*
 * The request's parameters, checked, with the defaults filled in: {method, runs, seed,
 * drawdown_threshold}. p_where is the locator's first element: "body" for the POST, "query" for the
 * picture's query string.
 */
CREATE OR REPLACE FUNCTION ex7._monte_carlo_params(p_body jsonb, p_where text DEFAULT 'body')
RETURNS jsonb
LANGUAGE plpgsql IMMUTABLE
AS $$
DECLARE
    v_key text;
    v_method text;
    v_runs numeric;
    v_seed numeric;
    v_threshold numeric;
BEGIN
    IF p_body IS NULL OR pg_catalog.jsonb_typeof(p_body) <> 'object' THEN
        PERFORM ex7._invalid(pg_catalog.jsonb_build_array(p_where), 'value is not a valid dict', 'type_error.dict');
    END IF;
    FOR v_key IN SELECT k FROM pg_catalog.jsonb_object_keys(p_body) AS k ORDER BY k LOOP
        IF v_key NOT IN ('method', 'runs', 'seed', 'drawdown_threshold') THEN
            PERFORM ex7._invalid(pg_catalog.jsonb_build_array(p_where, v_key), 'extra fields not permitted',
                                 'value_error.extra');
        END IF;
    END LOOP;
    v_method := coalesce(p_body ->> 'method', 'shuffle');
    IF pg_catalog.jsonb_typeof(p_body -> 'method') NOT IN ('string', 'null') OR v_method NOT IN ('shuffle', 'bootstrap') THEN
        PERFORM ex7._invalid(pg_catalog.jsonb_build_array(p_where, 'method'), 'method must be shuffle or bootstrap',
                             'value_error.const');
    END IF;
    IF pg_catalog.jsonb_typeof(p_body -> 'runs') NOT IN ('number', 'null')
       OR (p_body ->> 'runs')::numeric <> pg_catalog.trunc((p_body ->> 'runs')::numeric) THEN
        PERFORM ex7._invalid(pg_catalog.jsonb_build_array(p_where, 'runs'), 'runs must be an integer', 'type_error.integer');
    END IF;
    v_runs := coalesce((p_body ->> 'runs')::numeric, 1000);
    IF v_runs NOT BETWEEN 1 AND 100000 THEN
        PERFORM ex7._invalid(pg_catalog.jsonb_build_array(p_where, 'runs'), 'runs must be between 1 and 100000',
                             'value_error.number.range');
    END IF;
    IF pg_catalog.jsonb_typeof(p_body -> 'seed') NOT IN ('number', 'null')
       OR (p_body ->> 'seed')::numeric <> pg_catalog.trunc((p_body ->> 'seed')::numeric) THEN
        PERFORM ex7._invalid(pg_catalog.jsonb_build_array(p_where, 'seed'), 'seed must be an integer', 'type_error.integer');
    END IF;
    v_seed := coalesce((p_body ->> 'seed')::numeric, 1);
    IF v_seed NOT BETWEEN 0 AND 2147483647 THEN
        PERFORM ex7._invalid(pg_catalog.jsonb_build_array(p_where, 'seed'), 'seed must be between 0 and 2147483647',
                             'value_error.number.range');
    END IF;
    IF pg_catalog.jsonb_typeof(p_body -> 'drawdown_threshold') NOT IN ('string', 'number', 'null') THEN
        PERFORM ex7._invalid(pg_catalog.jsonb_build_array(p_where, 'drawdown_threshold'), 'value is not a valid decimal',
                             'type_error.decimal');
    END IF;
    BEGIN
        v_threshold := (p_body ->> 'drawdown_threshold')::numeric;
    EXCEPTION WHEN invalid_text_representation THEN
        PERFORM ex7._invalid(pg_catalog.jsonb_build_array(p_where, 'drawdown_threshold'), 'value is not a valid decimal',
                             'type_error.decimal');
    END;
    IF v_threshold = 'NaN' OR v_threshold <= 0 OR v_threshold >= 1e12 THEN
        PERFORM ex7._invalid(pg_catalog.jsonb_build_array(p_where, 'drawdown_threshold'),
                             'drawdown_threshold must be greater than 0 and less than 10^12', 'value_error.number.not_gt');
    END IF;
    RETURN pg_catalog.jsonb_build_object('method', v_method, 'runs', v_runs::integer, 'seed', v_seed::integer,
                                         'drawdown_threshold', v_threshold);
END
$$;
COMMENT ON FUNCTION ex7._monte_carlo_params(jsonb, text) IS
'Returns a Monte Carlo request {method, runs, seed, drawdown_threshold} checked with the defaults filled in (shuffle, 1000, 1, null): method shuffle or bootstrap, runs 1..100000, seed 0..2147483647, drawdown_threshold a decimal string or number > 0 and < 10^12. X7422 at [p_where, field]; an unknown field is value_error.extra.';

/* the Monte Carlo of backtest b with checked parameters; p_where: the locator's first element */
CREATE OR REPLACE FUNCTION ex7._backtest_monte_carlo(b ex7.backtests, p_params jsonb, p_where text)
RETURNS jsonb
LANGUAGE plpgsql STABLE
AS $$
DECLARE
    v_pnl float8[];
BEGIN
    IF b.status <> 'done' THEN
        PERFORM ex7._raise(409, pg_catalog.format('backtest is %s: a Monte Carlo needs a finished backtest', b.status),
                           pg_catalog.jsonb_build_object('code', 'backtest_not_done', 'status', b.status));
    END IF;
    IF NOT b.trades_kept THEN
        PERFORM ex7._raise(409, 'this study trial ran without keeping its trades: run the study with keep_trades, or apply the trial and backtest the new version',
                           pg_catalog.jsonb_build_object('code', 'trades_not_kept'));
    END IF;
    SELECT coalesce(pg_catalog.array_agg(t.net_pnl::float8 ORDER BY t.seq), '{}')
      INTO v_pnl
      FROM ex7.backtest_trades t
     WHERE t.user_id = b.user_id AND t.backtest_id = b.id;
    -- the work bound of ex7._monte_carlo, said with this backtest's numbers
    IF pg_catalog.cardinality(v_pnl)::bigint * (p_params ->> 'runs')::bigint > 100000000 THEN
        PERFORM ex7._invalid(pg_catalog.jsonb_build_array(p_where, 'runs'),
                             pg_catalog.format('runs x trades must be at most 100,000,000: this backtest has %s trades, so at most %s runs',
                                               pg_catalog.cardinality(v_pnl), 100000000 / pg_catalog.cardinality(v_pnl)),
                             'value_error.number.not_le');
    END IF;
    RETURN pg_catalog.jsonb_build_object('backtest_id', b.id)
           || ex7._monte_carlo(v_pnl, coalesce(b.params ->> 'initial_capital', '10000')::float8,
                               p_params ->> 'method', (p_params ->> 'runs')::integer, (p_params ->> 'seed')::bigint,
                               (p_params ->> 'drawdown_threshold')::float8)
           || pg_catalog.jsonb_build_object('compliance', ex7.compliance_banner());
END
$$;
COMMENT ON FUNCTION ex7._backtest_monte_carlo(ex7.backtests, jsonb, text) IS
'Returns {backtest_id} || ex7._monte_carlo of backtest b''s trades (net P&L in exit order) from its initial capital with the checked parameters p_params (ex7._monte_carlo_params) || {compliance}. X7409 {code: backtest_not_done, status} while b is not done, {code: trades_not_kept} for a study trial run without its trades; X7422 at [p_where, "runs"] when runs x trades exceeds 100,000,000.';

CREATE OR REPLACE FUNCTION ex7.monte_carlo(p_user uuid, p_backtest_id uuid, p_body jsonb)
RETURNS jsonb
LANGUAGE plpgsql STABLE
AS $$
DECLARE
    b ex7.backtests := ex7._own_backtest(p_user, p_backtest_id);
BEGIN
    RETURN ex7._backtest_monte_carlo(b, ex7._monte_carlo_params(p_body, 'body'), 'body');
END
$$;
COMMENT ON FUNCTION ex7.monte_carlo(uuid, uuid, jsonb) IS
'Returns the Monte Carlo of the caller''s finished backtest''s trades (net P&L in exit order, from its initial capital): {backtest_id, method, runs, seed, trades, initial_capital, observed, final_equity, max_drawdown, drawdown_threshold, probability_drawdown_beyond, fan, compliance} (ex7._monte_carlo; compliance is the CFTC Rule 4.41 statement). Body {method: shuffle | bootstrap (shuffle), runs: 1..100000 (1000), seed: 0..2147483647 (1), drawdown_threshold?: decimal > 0}. X7404 for a backtest that is missing or another user''s; X7422 for a bad body (unknown fields are value_error.extra) or runs x trades above 100,000,000; X7409 {code: backtest_not_done, status} while the backtest is not done, {code: trades_not_kept} for a study trial run without keeping its trades.';

CREATE OR REPLACE FUNCTION ex7._monte_carlo_svg(p_result jsonb, p_title text, p_rule text, p_statement text)
RETURNS text
AS 'MODULE_PATHNAME', '_monte_carlo_svg'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION ex7._monte_carlo_svg(jsonb, text, text, text) IS
'Returns a self-contained SVG document of an ex7.monte_carlo result: equity against the trade number with the 5-95 and 25-75 percentile bands, the median, the initial capital dashed, the final equity and max drawdown percentiles under the escaped title, and the rule name and statement wrapped under the chart (the look of ex7._equity_svg).';

CREATE OR REPLACE FUNCTION ex7.monte_carlo_svg(p_user uuid, p_backtest_id uuid, p_method text DEFAULT 'shuffle',
                                               p_runs integer DEFAULT 1000, p_seed integer DEFAULT 1)
RETURNS text
LANGUAGE plpgsql STABLE
AS $$
DECLARE
    b ex7.backtests := ex7._own_backtest(p_user, p_backtest_id);
    v_params jsonb := ex7._monte_carlo_params(pg_catalog.jsonb_build_object('method', p_method, 'runs', p_runs,
                                                                           'seed', p_seed), 'query');
    v_name text;
BEGIN
    SELECT s.name INTO v_name FROM ex7.strategies s WHERE s.user_id = b.user_id AND s.id = b.strategy_id;
    RETURN ex7._monte_carlo_svg(ex7._backtest_monte_carlo(b, v_params, 'query'),
                                pg_catalog.format('Monte Carlo, %s: %s v%s, %s %s, %s to %s', v_params ->> 'method',
                                                  v_name, b.strategy_version, b.instrument, b.timeframe,
                                                  pg_catalog.to_char(b.range_from AT TIME ZONE 'UTC', 'YYYY-MM-DD'),
                                                  pg_catalog.to_char(b.range_to AT TIME ZONE 'UTC', 'YYYY-MM-DD')),
                                ex7.compliance_banner() ->> 'rule', ex7.compliance_banner() ->> 'text');
END
$$;
COMMENT ON FUNCTION ex7.monte_carlo_svg(uuid, uuid, text, integer, integer) IS
'Returns the fan chart (ex7._monte_carlo_svg) of ex7.monte_carlo of the caller''s finished backtest with method, runs and seed, titled with the method, strategy, version, series and range (runs and seed in the line under the title), with the CFTC Rule 4.41 statement under it. X7404, X7409 and X7422 (locator ["query", field]) as ex7.monte_carlo.';

/* ---------------------------------------------------------------------------------------------------
 * The pictures of parameter studies and walk-forwards.
 * ------------------------------------------------------------------------------------------------- */

CREATE OR REPLACE FUNCTION ex7._heatmap_svg(p_cells jsonb, p_x_name text, p_y_name text, p_title text,
                                            p_statement text)
RETURNS text
AS 'MODULE_PATHNAME', '_heatmap_svg'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION ex7._heatmap_svg(jsonb, text, text, text, text) IS
'Returns a self-contained SVG heatmap of an objective over two parameters: cells [{x, y, value}] (at most 10,000; value a number, a decimal string or null for infeasible; no (x, y) twice) on the grid of the distinct x and y values, coloured on a scale diverging around 0 (red below, blue above; one-sided when all values have one sign), infeasible and missing cells grey and hatched, the best (highest) cell outlined, a legend with min and max, the parameter values as tick labels, and p_statement under it (a first line ended by a newline is drawn bold, as the rule''s name). X7422 at ["cells", i] for a bad cell.';

CREATE OR REPLACE FUNCTION ex7._walk_forward_svg(p_equity jsonb, p_boundaries jsonb, p_title text, p_statement text)
RETURNS text
AS 'MODULE_PATHNAME', '_walk_forward_svg'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION ex7._walk_forward_svg(jsonb, jsonb, text, text) IS
'Returns a self-contained SVG of an out-of-sample equity curve [{ts, equity}] (time order; equity a number or decimal string) with the window boundaries (at most 1,000 timestamps in increasing order, each the start of a window) as vertical dashed lines labelled with the window they open (when the first comes after the curve''s start, the part before it is window 1), dated and valued axes, and p_statement under it (a first line ended by a newline is drawn bold, as the rule''s name). Curves denser than two points per horizontal unit are reduced to each unit''s first, lowest, highest and last point. X7422 at ["equity", i] or ["boundaries", i].';

/* the public forms: the statement is the CFTC Rule 4.41 statement, as ex7.equity_svg passes it */
CREATE OR REPLACE FUNCTION ex7.heatmap_svg(p_cells jsonb, p_x_name text, p_y_name text, p_title text)
RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
    SELECT ex7._heatmap_svg(coalesce(p_cells, '[]'), coalesce(p_x_name, ''), coalesce(p_y_name, ''),
                            coalesce(p_title, ''),
                            (ex7.compliance_banner() ->> 'rule') || E'\n' || (ex7.compliance_banner() ->> 'text'));
$$;
COMMENT ON FUNCTION ex7.heatmap_svg(jsonb, text, text, text) IS
'Returns ex7._heatmap_svg of the cells with the CFTC Rule 4.41 statement (rule name bold, then the text) under the grid.';

CREATE OR REPLACE FUNCTION ex7.walk_forward_svg(p_equity jsonb, p_boundaries jsonb, p_title text)
RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
    SELECT ex7._walk_forward_svg(coalesce(p_equity, '[]'), coalesce(p_boundaries, '[]'), coalesce(p_title, ''),
                                 (ex7.compliance_banner() ->> 'rule') || E'\n' || (ex7.compliance_banner() ->> 'text'));
$$;
COMMENT ON FUNCTION ex7.walk_forward_svg(jsonb, jsonb, text) IS
'Returns ex7._walk_forward_svg of the out-of-sample curve and window boundaries with the CFTC Rule 4.41 statement (rule name bold, then the text) under the chart.';
