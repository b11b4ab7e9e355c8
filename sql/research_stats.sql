-- sql/research_stats.sql: the statistics of the research features (ext/research.c, ext/sql/88_research.sql,
-- docs/research.md): the normal distribution at known points, return moments by hand, the expected maximum
-- Sharpe ratio, the deflated Sharpe ratio on the numerical example of Bailey and Lopez de Prado (2014),
-- the probability of backtest overfitting (CSCV) on a matrix enumerated by hand, a dominating trial
-- (PBO 0), a matrix built to overfit (PBO 1), an independent SQL computation of CSCV, every 422; the
-- heatmap and walk-forward pictures parsed as XML.
SELECT p.proname, p.provolatile, p.proparallel, p.proisstrict, pg_get_function_result(p.oid) AS result
  FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
 WHERE n.nspname = 'ex7' AND p.proname IN ('normal_cdf', 'normal_quantile', 'return_moments', 'expected_max_sharpe',
                                           'deflated_sharpe', 'pbo_cscv', '_heatmap_svg', '_walk_forward_svg')
 ORDER BY 1;

-- ---------------------------------------------------------------------------------------------------
-- Phi and Phi^-1 at known points (Abramowitz and Stegun, table 26.1; the 0.975 quantile 1.959963984540054).
SELECT round(ex7.normal_cdf(0)::numeric, 15) AS phi_0, round(ex7.normal_cdf(1.96)::numeric, 10) AS phi_196,
       round(ex7.normal_cdf(-1)::numeric, 10) AS phi_m1, round(ex7.normal_cdf(3)::numeric, 10) AS phi_3,
       to_char(ex7.normal_cdf(-8), '9.999999EEEE') AS phi_m8;
SELECT round(ex7.normal_quantile(0.5)::numeric, 15) AS q_half, round(ex7.normal_quantile(0.975)::numeric, 12) AS q_975,
       round(ex7.normal_quantile(0.99)::numeric, 12) AS q_99, round(ex7.normal_quantile(0.025)::numeric, 12) AS q_025,
       round(ex7.normal_quantile(1e-10)::numeric, 10) AS q_1e10, round(ex7.normal_quantile(1e-300)::numeric, 8) AS q_1e300;
-- the inverse round-trips in all three ranges of AS 241 (|q| <= 0.425, r <= 5, r > 5): relative error
-- below 1e-12 (Phi's relative error grows with |x| in the tail: d p / p = |x| d x, |x| = 21 at 1e-100)
SELECT p, abs(ex7.normal_cdf(ex7.normal_quantile(p)) - p) / p < 1e-12 AS round_trip
  FROM unnest(ARRAY[0.5, 0.6, 0.92, 0.01, 1e-5, 1e-12, 1e-20, 1e-100]::float8[]) p;
SELECT ex7_test.err('SELECT ex7.normal_quantile(0)') AS q_0, ex7_test.err('SELECT ex7.normal_quantile(1)') AS q_1,
       ex7_test.err('SELECT ex7.normal_cdf(''NaN'')') AS cdf_nan;

-- ---------------------------------------------------------------------------------------------------
-- Moments by hand. returns 1, 2, 3, 4, 10: mean 4; deviations -3, -2, -1, 0, 6;
--   sum d^2 = 9 + 4 + 1 + 0 + 36 = 50, sd = sqrt(50 / 4) = 3.5355339059, Sharpe = 4 / 3.5355339 = 1.1313708499;
--   m2 = 50 / 5 = 10, m3 = (-27 - 8 - 1 + 0 + 216) / 5 = 36, m4 = (81 + 16 + 1 + 0 + 1296) / 5 = 278.8;
--   skewness = 36 / 10^1.5 = 1.1384199577, kurtosis = 278.8 / 100 = 2.788 (not excess).
SELECT observations, mean, round(sd::numeric, 10) AS sd, round(sharpe::numeric, 10) AS sharpe,
       round(skewness::numeric, 10) AS skewness, round(kurtosis::numeric, 10) AS kurtosis
  FROM ex7.return_moments(ARRAY[1, 2, 3, 4, 10]::float8[]);
-- a symmetric two-point series: skewness 0, kurtosis 1 (the least possible)
SELECT observations, mean, sd, sharpe, skewness, kurtosis FROM ex7.return_moments(ARRAY[-1, 1, -1, 1]::float8[]);
-- undefined figures are NULL: none, one, constant
SELECT * FROM ex7.return_moments('{}'::float8[]);
SELECT * FROM ex7.return_moments(ARRAY[0.5]::float8[]);
SELECT * FROM ex7.return_moments(ARRAY[2, 2, 2]::float8[]);
SELECT ex7_test.err('SELECT ex7.return_moments(ARRAY[1, NULL]::float8[])') AS null_elem,
       ex7_test.err('SELECT ex7.return_moments(ARRAY[1, ''Infinity'']::float8[])') AS inf_elem,
       ex7_test.err('SELECT ex7.return_moments(ARRAY[[1, 2], [3, 4]]::float8[])') AS two_d;

-- ---------------------------------------------------------------------------------------------------
-- The expected maximum Sharpe ratio. One trial: 0. Two trials of variance 1:
--   0.42278 Phi^-1(0.5) + 0.57722 Phi^-1(1 - 1/(2e)) = 0 + 0.57722 * 0.900453 = 0.5198.
SELECT ex7.expected_max_sharpe(1, 4) AS one_trial, round(ex7.expected_max_sharpe(2, 1)::numeric, 4) AS two_trials,
       round(ex7.expected_max_sharpe(1000, 1)::numeric, 4) AS thousand,
       -- it scales with sqrt(V)
       round((ex7.expected_max_sharpe(50, 4) / ex7.expected_max_sharpe(50, 1))::numeric, 12) AS scale;
SELECT ex7_test.err('SELECT ex7.expected_max_sharpe(0, 1)') AS zero_trials,
       ex7_test.err('SELECT ex7.expected_max_sharpe(2, -1)') AS negative_variance;

-- The numerical example of Bailey and Lopez de Prado (2014), section "A numerical example" of "The
-- Deflated Sharpe Ratio": N = 100 independent trials whose annualised Sharpe ratios have variance 1/2,
-- the best annualised Sharpe ratio 2.5 over T = 1250 daily observations (5 years of 250 days), skewness
-- -3, kurtosis 10. Per period: SR = 2.5 / sqrt(250) = 0.158114, V = 0.5 / 250 = 0.002, and the paper's
-- E[max SR] = 0.1132 (1.7894 annualised) and DSR = 0.9004.
SELECT round(ex7.expected_max_sharpe(100, 0.5 / 250)::numeric, 4) AS sr0,
       round((ex7.expected_max_sharpe(100, 0.5 / 250) * sqrt(250))::numeric, 4) AS sr0_annualised,
       round(ex7.deflated_sharpe(2.5 / sqrt(250), 1250, -3, 10, 100, 0.5 / 250)::numeric, 4) AS dsr;
-- one trial: the probabilistic Sharpe ratio against 0, Phi(0.158114 sqrt(1249) / sqrt(1 + 3 SR + 9/4 SR^2))
--   = Phi(4.5171) = 0.999997; normal returns (0, 3) with SR 0: exactly 0.5
SELECT round(ex7.deflated_sharpe(2.5 / sqrt(250), 1250, -3, 10)::numeric, 6) AS psr,
       ex7.deflated_sharpe(0, 100, 0, 3) AS psr_zero,
       -- negative skewness and fat tails lower it: the same SR over 60 observations
       ex7.deflated_sharpe(0.2, 60, -1, 6) < ex7.deflated_sharpe(0.2, 60, 0, 3) AS non_normal_lower,
       -- more trials lower it
       ex7.deflated_sharpe(0.2, 500, 0, 3, 1000, 0.01) < ex7.deflated_sharpe(0.2, 500, 0, 3, 10, 0.01) AS trials_lower;
SELECT ex7_test.err('SELECT ex7.deflated_sharpe(0.1, 1, 0, 3)') AS one_observation,
       ex7_test.err('SELECT ex7.deflated_sharpe(0.1, 100, 0, 0.5)') AS kurtosis_below_1,
       ex7_test.err('SELECT ex7.deflated_sharpe(''NaN'', 100, 0, 3)') AS nan_sharpe,
       ex7_test.err('SELECT ex7.deflated_sharpe(3, 100, 2, 1)') AS variance_not_positive,
       ex7_test.err('SELECT ex7.deflated_sharpe(0.1, 100, 0, 3, 0, 1)') AS zero_trials;

-- ---------------------------------------------------------------------------------------------------
-- PBO by hand: T = 4 periods, N = 3 trials, S = 4 blocks of one row each.
--          period 1   2    3    4
--   A         3       2   -1   -2
--   B        -2      -1    2    3
--   C         1     0.5  0.8  0.3
-- Over two rows a, b the Sharpe ratio is mean / sample sd = (a + b) / (sqrt 2 |a - b|).
--   IS blocks | IS Sharpe A, B, C       | best | OOS Sharpe A, B, C      | OOS rank | w    | logit
--   {1,2}     |  3.5355 -2.1213  2.1213 | A    | -2.1213  3.5355  1.5556 | 1        | 1/4  | -ln 3
--   {1,3}     |  0.3536  0       6.3640 | C    |  0       0.3536  2.8284 | 3        | 3/4  |  ln 3
--   {1,4}     |  0.1414  0.1414  1.3132 | C    |  0.2357  0.2357  3.0641 | 3        | 3/4  |  ln 3
--   {2,3}     |  0.2357  0.2357  3.0641 | C    |  0.1414  0.1414  1.3132 | 3        | 3/4  |  ln 3
--   {2,4}     |  0       0.3536  2.8284 | C    |  0.3536  0       6.3640 | 3        | 3/4  |  ln 3
--   {3,4}     | -2.1213  3.5355  1.5556 | B    |  3.5355 -2.1213  2.1213 | 1        | 1/4  | -ln 3
-- (e.g. {1,2}: A = 5 / (sqrt 2 * 1) = 3.5355; OOS rows 3, 4: A = -3 / (sqrt 2 * 1) = -2.1213, B = 5 / sqrt 2,
-- C = 1.1 / (sqrt 2 * 0.5) = 1.5556.) Two logits of six are <= 0: PBO = 1/3. The chosen trial lost out of
-- sample in two combinations ({1,2}: A -2.1213; {3,4}: B -2.1213): probability of loss 1/3.
SELECT ex7.pbo_cscv(ARRAY[[3, -2, 1], [2, -1, 0.5], [-1, 2, 0.8], [-2, 3, 0.3]]::float8[], 4) AS hand;

-- One trial dominates everywhere: trial j earns the same noise plus 0.5 j a period, so its Sharpe ratio
-- is the highest in every subset of rows: it is chosen in sample and ranks N of N out of sample, every
-- logit is ln(N / 1) = ln 5 and PBO is 0.
CREATE TEMP TABLE dominated AS
SELECT r, j, ((r * 7919) % 11 - 5)::float8 + 0.5 * j AS v
  FROM generate_series(1, 32) r, generate_series(1, 5) j;
SELECT d -> 'pbo' AS pbo, d -> 'combinations' AS combinations, d -> 'logits' -> 'min' AS min_logit,
       round(ln(5)::numeric, 6) AS ln_5, d -> 'performance_degradation' -> 'probability_of_loss' AS p_loss
  FROM (SELECT ex7.pbo_cscv(array_agg(row ORDER BY r), 8) AS d
          FROM (SELECT r, array_agg(v ORDER BY j) AS row FROM dominated GROUP BY r) x) y;

-- Built to overfit: S = 4 blocks of 6 rows, trial j (1..4) earns +2 in block j and -1 in the others
-- (plus a small noise so no sd is 0). In sample, the best trial is one whose good block is in sample;
-- out of sample it earns about -1 every period, below the two trials whose good blocks are out of sample,
-- and the noise puts it first or second of the two in-sample trials: rank 1 or 2 of 4, w = 1/5 or 2/5,
-- logit ln(1/4) = -1.386294 or ln(2/3) = -0.405465, below 0 every time: PBO 1, and it always loses.
CREATE TEMP TABLE overfit AS
SELECT r, j, CASE WHEN (r - 1) / 6 + 1 = j THEN 2 ELSE -1 END + 0.01 * ((r * 31 + j * 17) % 7 - 3) AS v
  FROM generate_series(1, 24) r, generate_series(1, 4) j;
SELECT d -> 'pbo' AS pbo, d -> 'combinations' AS combinations, d -> 'logits' -> 'min' AS min_logit,
       d -> 'logits' -> 'max' AS max_logit, d -> 'performance_degradation' -> 'probability_of_loss' AS p_loss
  FROM (SELECT ex7.pbo_cscv(array_agg(row ORDER BY r), 4) AS d
          FROM (SELECT r, array_agg(v ORDER BY j) AS row FROM overfit GROUP BY r) x) y;

-- An independent computation in SQL (avg / stddev_samp over the rows of each half, the same rank rule)
-- on a scrambled 30 x 6 matrix with S = 6 (5 rows a block, C(6, 3) = 20 combinations): the same PBO (0.5)
-- and the same logits.
CREATE TEMP TABLE scrambled AS
SELECT r, j, (((r * 7919 + j * 104729 + r * j * 13) % 1009) - 504) / 100.0 + 0.05 * j AS v
  FROM generate_series(0, 29) r, generate_series(0, 5) j;
CREATE TEMP TABLE sql_cscv AS
WITH combos AS (SELECT mask FROM generate_series(0, 63) mask WHERE bit_count(mask::bit(6)) = 3),
     sr AS (SELECT c.mask, s.j, ((c.mask >> (s.r / 5)) & 1) = 1 AS in_sample, avg(s.v) / stddev_samp(s.v) AS sr
              FROM combos c CROSS JOIN scrambled s GROUP BY 1, 2, 3),
     best AS (SELECT DISTINCT ON (mask) mask, j FROM sr WHERE in_sample ORDER BY mask, sr DESC, j),
     ranked AS (SELECT b.mask,
                       (count(*) FILTER (WHERE o.sr < ob.sr) + (count(*) FILTER (WHERE o.sr = ob.sr) + 1) / 2.0) / 7 AS w
                  FROM best b
                  JOIN sr ob ON ob.mask = b.mask AND ob.j = b.j AND NOT ob.in_sample
                  JOIN sr o ON o.mask = b.mask AND NOT o.in_sample
                 GROUP BY b.mask)
SELECT mask, ln(w / (1 - w)) AS logit FROM ranked;
SELECT (SELECT round(count(*) FILTER (WHERE logit <= 0)::numeric / count(*), 6) FROM sql_cscv) AS sql_pbo,
       d -> 'pbo' AS c_pbo,
       (SELECT round(min(logit), 6) FROM sql_cscv) AS sql_min, d -> 'logits' -> 'min' AS c_min,
       (SELECT round(max(logit), 6) FROM sql_cscv) AS sql_max, d -> 'logits' -> 'max' AS c_max,
       (SELECT round(avg(logit), 6) FROM sql_cscv) AS sql_mean, d -> 'logits' -> 'mean' AS c_mean,
       (SELECT round(percentile_cont(0.5) WITHIN GROUP (ORDER BY logit)::numeric, 6) FROM sql_cscv) AS sql_median,
       d -> 'logits' -> 'median' AS c_median,
       (SELECT sum((h ->> 'count')::int) FROM jsonb_array_elements(d -> 'logits' -> 'histogram') h) AS histogram_total
  FROM (SELECT ex7.pbo_cscv(array_agg(row ORDER BY r), 6) AS d
          FROM (SELECT r, array_agg(v::float8 ORDER BY j) AS row FROM scrambled GROUP BY r) x) y;

-- uneven blocks: T = 7 rows in S = 2 blocks of 3 and 4 rows (floor(s T / S)); the default S is 16
SELECT ex7.pbo_cscv(ARRAY[[1, 2], [2, 1], [3, 5], [1, 1], [0, 2], [4, 1], [2, 2]]::float8[], 2) -> 'combinations' AS s2,
       ex7.pbo_cscv((SELECT array_agg(row ORDER BY r) FROM (SELECT r, array_agg(v::float8 ORDER BY j) AS row
                                                             FROM dominated GROUP BY r) x)) -> 'combinations' AS s16;

-- every refusal
SELECT ex7_test.err('SELECT ex7.pbo_cscv(ARRAY[1, 2, 3]::float8[], 2)') AS one_d,
       ex7_test.err('SELECT ex7.pbo_cscv(ARRAY[[1], [2], [3], [4]]::float8[], 2)') AS one_trial,
       ex7_test.err('SELECT ex7.pbo_cscv(ARRAY[[1, 2], [2, 1], [3, 1]]::float8[], 4)') AS t_below_s;
SELECT ex7_test.err('SELECT ex7.pbo_cscv(ARRAY[[1, 2], [2, 1], [3, 1], [1, 1]]::float8[], 3)') AS odd_s,
       ex7_test.err('SELECT ex7.pbo_cscv(ARRAY[[1, 2], [2, 1]]::float8[], 0)') AS zero_s,
       ex7_test.err('SELECT ex7.pbo_cscv(ARRAY[[1, 2], [2, 1]]::float8[], 18)') AS s_above_16;
SELECT ex7_test.err('SELECT ex7.pbo_cscv(ARRAY[[1, 2], [2, NULL], [3, 1], [1, 1]]::float8[], 2)') AS null_cell,
       ex7_test.err('SELECT ex7.pbo_cscv(ARRAY[[1, 2], [2, 1], [3, ''NaN''], [1, 1]]::float8[], 2)') AS nan_cell;

-- ---------------------------------------------------------------------------------------------------
-- The heatmap: a 3 x 2 grid with a negative, a null (infeasible) and a best cell; text escaped.
SELECT ex7._heatmap_svg('[{"x": 10, "y": 1, "value": -50}, {"x": 20, "y": 1, "value": 120.5},
                          {"x": 30, "y": 1, "value": null}, {"x": 10, "y": 2, "value": 10},
                          {"x": 20, "y": 2, "value": 0}, {"x": 30, "y": 2, "value": 80}]',
                        'fast <period>', 'slow & co', 'P&L "net"', E'RULE 4.41\nHYPOTHETICAL RESULTS.') AS s \gset
SELECT xml_is_well_formed_document(:'s') AS well_formed,
       (xpath('/svg:svg/svg:title/text()', xmlparse(document :'s'), ARRAY[ARRAY['svg', 'http://www.w3.org/2000/svg']]))[1]::text AS title,
       (SELECT array_agg(x::text) FROM unnest(xpath('//svg:text[@class="x-label"]/text()', xmlparse(document :'s'),
                                                   ARRAY[ARRAY['svg', 'http://www.w3.org/2000/svg']])) x) AS x_labels,
       (SELECT array_agg(x::text) FROM unnest(xpath('//svg:text[@class="y-label"]/text()', xmlparse(document :'s'),
                                                   ARRAY[ARRAY['svg', 'http://www.w3.org/2000/svg']])) x) AS y_labels,
       (SELECT count(*) FROM unnest(xpath('//svg:rect[@class="cell"]', xmlparse(document :'s'),
                                         ARRAY[ARRAY['svg', 'http://www.w3.org/2000/svg']]))) AS cells,
       (SELECT count(*) FROM unnest(xpath('//svg:rect[@class="cell infeasible"]', xmlparse(document :'s'),
                                         ARRAY[ARRAY['svg', 'http://www.w3.org/2000/svg']]))) AS infeasible,
       (xpath('//svg:rect[@class="best"]/@x', xmlparse(document :'s'), ARRAY[ARRAY['svg', 'http://www.w3.org/2000/svg']]))[1]::text AS best_x,
       (xpath('//svg:text[@class="legend-max"]/text()', xmlparse(document :'s'), ARRAY[ARRAY['svg', 'http://www.w3.org/2000/svg']]))[1]::text AS legend_max,
       (xpath('//svg:text[@class="legend-min"]/text()', xmlparse(document :'s'), ARRAY[ARRAY['svg', 'http://www.w3.org/2000/svg']]))[1]::text AS legend_min,
       (xpath('//svg:text[@class="disclaimer-rule"]/text()', xmlparse(document :'s'), ARRAY[ARRAY['svg', 'http://www.w3.org/2000/svg']]))[1]::text AS rule,
       (xpath('//svg:text[@class="disclaimer"]/text()', xmlparse(document :'s'), ARRAY[ARRAY['svg', 'http://www.w3.org/2000/svg']]))[1]::text AS statement;
-- the public form carries the CFTC statement; an empty grid draws "no cells"
SELECT position('HYPOTHETICAL OR SIMULATED PERFORMANCE' IN ex7.heatmap_svg('[]', 'a', 'b', 't')) > 0 AS statement,
       position('no cells' IN ex7.heatmap_svg('[]', 'a', 'b', 't')) > 0 AS empty;
SELECT ex7_test.err($$SELECT ex7._heatmap_svg('[{"x": 1, "y": 1, "value": 1}, {"x": 1, "y": 1, "value": 2}]', 'a', 'b', 't', 's')$$) AS duplicate,
       ex7_test.err($$SELECT ex7._heatmap_svg('[{"x": 1, "value": 1}]', 'a', 'b', 't', 's')$$) AS missing_y,
       ex7_test.err($$SELECT ex7._heatmap_svg('[{"x": "abc", "y": 1}]', 'a', 'b', 't', 's')$$) AS bad_x,
       ex7_test.err($$SELECT ex7._heatmap_svg('{"x": 1}', 'a', 'b', 't', 's')$$) AS not_array;
-- 10,000 cells on a diagonal: a grid of 10^8 positions, drawn without a flag per position
SELECT xml_is_well_formed_document(ex7._heatmap_svg((SELECT jsonb_agg(jsonb_build_object('x', i, 'y', -i, 'value', i % 97 - 48))
                                                       FROM generate_series(1, 10000) i), 'a', 'b', 't', 's')) AS diagonal;
SELECT ex7_test.err($$SELECT ex7._heatmap_svg((SELECT jsonb_agg(jsonb_build_object('x', i, 'y', 0, 'value', i))
                                                FROM generate_series(1, 10001) i), 'a', 'b', 't', 's')$$) AS too_many;

-- The walk-forward curve: three windows, the two boundaries as dashed lines; the part before the first
-- boundary is window 1, each boundary opens the next.
SELECT ex7._walk_forward_svg('[{"ts": "2026-01-05T00:00:00Z", "equity": "10000.00"}, {"ts": "2026-02-02T00:00:00Z", "equity": 10250.5},
                               {"ts": "2026-03-02T00:00:00Z", "equity": "9900.00"}, {"ts": "2026-03-30T00:00:00Z", "equity": "10400.00"}]',
                             '["2026-02-02T00:00:00Z", "2026-03-02T00:00:00Z"]', 'Walk <forward>',
                             E'RULE 4.41\nHYPOTHETICAL RESULTS.') AS w \gset
SELECT xml_is_well_formed_document(:'w') AS well_formed,
       (xpath('/svg:svg/svg:title/text()', xmlparse(document :'w'), ARRAY[ARRAY['svg', 'http://www.w3.org/2000/svg']]))[1]::text AS title,
       (SELECT array_agg(x::text) FROM unnest(xpath('//svg:text[@class="window"]/text()', xmlparse(document :'w'),
                                                   ARRAY[ARRAY['svg', 'http://www.w3.org/2000/svg']])) x) AS windows,
       (SELECT array_agg(x::text) FROM unnest(xpath('//svg:line[@class="boundary"]/@x1', xmlparse(document :'w'),
                                                   ARRAY[ARRAY['svg', 'http://www.w3.org/2000/svg']])) x) AS boundary_x,
       (SELECT array_agg(x::text) FROM unnest(xpath('//svg:text[@class="x-label"]/text()', xmlparse(document :'w'),
                                                   ARRAY[ARRAY['svg', 'http://www.w3.org/2000/svg']])) x) AS dates,
       (xpath('//svg:polyline[@class="equity"]/@points', xmlparse(document :'w'), ARRAY[ARRAY['svg', 'http://www.w3.org/2000/svg']]))[1]::text AS points;
-- a dense curve (20,000 points) is reduced to at most 4 points a horizontal unit
SELECT array_length(string_to_array((xpath('//svg:polyline[@class="equity"]/@points',
           xmlparse(document ex7.walk_forward_svg((SELECT jsonb_agg(jsonb_build_object('ts', timestamptz '2026-01-01' + i * interval '1 minute',
                                                                                        'equity', 10000 + (i % 97) - 48) ORDER BY i)
                                                     FROM generate_series(1, 20000) i), '[]', 'dense')),
           ARRAY[ARRAY['svg', 'http://www.w3.org/2000/svg']]))[1]::text, ' '), 1) BETWEEN 770 AND 4 * 770 AS reduced;
SELECT ex7_test.err($$SELECT ex7._walk_forward_svg('[{"ts": "2026-02-01", "equity": 1}, {"ts": "2026-01-01", "equity": 2}]', '[]', 't', 's')$$) AS out_of_order,
       ex7_test.err($$SELECT ex7._walk_forward_svg('[{"ts": "2026-02-01"}]', '[]', 't', 's')$$) AS missing_equity,
       ex7_test.err($$SELECT ex7._walk_forward_svg('[]', '["soon"]', 't', 's')$$) AS bad_boundary,
       ex7_test.err($$SELECT ex7._walk_forward_svg('[]', '["2026-02-01", "2026-01-01"]', 't', 's')$$) AS boundaries_out_of_order;
