-- sql/monte_carlo.sql: the Monte Carlo of a backtest's trades (ext/research.c, ext/sql/88_research.sql,
-- docs/research.md "Monte Carlo"): a shuffle keeps the final equity (the sum of the P&L) and the fan's ends;
-- invariants of the drawdown; hand cases (bootstrap of two trades: four equally likely outcomes; shuffle
-- of three: two drawdowns); determinism by seed; the fan's bound; the picture; 404, 409 and every 422.
-- Users 00000000-0000-4000-8000-9c00000000NN. Backtests are written directly (status done, known trades), as
-- sql/performance.sql does: the run itself is sql/backtest.sql's; test/e2e/research.test.mjs runs a real one.
\set u1 '00000000-0000-4000-8000-9c0000000001'
\set u2 '00000000-0000-4000-8000-9c0000000002'
SELECT ex7.ensure_user(:'u1') IS NOT NULL AS u1, ex7.ensure_user(:'u2') IS NOT NULL AS u2;
SELECT (ex7.create_strategy(:'u1', '{"name": "Monte <Carlo>", "instrument": "RTY", "timeframe": "5m"}') ->> 'id') AS s1 \gset

-- a finished backtest of user u1 whose trades have the net P&L p_pnl (exit order), from p_capital
CREATE FUNCTION pg_temp.backtest(p_user uuid, p_strategy uuid, p_capital text, p_pnl numeric[], p_status text DEFAULT 'done')
RETURNS uuid LANGUAGE plpgsql AS $$
DECLARE
    v_id uuid;
    n integer := coalesce(cardinality(p_pnl), 0);
BEGIN
    INSERT INTO ex7.backtests (user_id, strategy_id, strategy_version, instrument, timeframe, range_from, range_to,
                               params, status, result)
    VALUES (p_user, p_strategy, 1, 'RTY', '5m', '2026-01-05 00:00+00', '2026-02-05 00:00+00',
            jsonb_build_object('initial_capital', p_capital), p_status, jsonb_build_object('trades', n))
    RETURNING id INTO v_id;
    IF n > 0 THEN
        INSERT INTO ex7.backtest_trade_chunks (backtest_id, first_seq, user_id, side, quantity, entry_time, entry_price,
                                               stop_price, target_price, exit_time, exit_price, exit_reason, gross_pnl,
                                               slippage_cost, commission, net_pnl, mae, mfe)
        SELECT v_id, 1, p_user, array_agg('long'::text ORDER BY i), array_agg(1 ORDER BY i),
               array_agg(timestamptz '2026-01-05 14:00+00' + i * interval '1 hour' ORDER BY i), array_agg(2000.0 ORDER BY i),
               array_agg(NULL::numeric ORDER BY i), array_agg(NULL::numeric ORDER BY i),
               array_agg(timestamptz '2026-01-05 14:30+00' + i * interval '1 hour' ORDER BY i),
               array_agg(2000.0 + p_pnl[i] / 5 ORDER BY i), array_agg('exit_signal'::text ORDER BY i), array_agg(p_pnl[i] ORDER BY i),
               array_agg(0.00 ORDER BY i), array_agg(0.00 ORDER BY i), array_agg(p_pnl[i] ORDER BY i),
               array_agg(0.00 ORDER BY i), array_agg(0.00 ORDER BY i)
          FROM generate_series(1, n) i;
    END IF;
    RETURN v_id;
END
$$;

-- ---------------------------------------------------------------------------------------------------
-- Ten known trades from 10000.00. Net 190.50: final equity 10190.50. Equity after each trade: 10120.50,
-- 10040.25, 10085.25, 9935.25 (185.25 below the peak 10120.50), 10135.25, 10105.25, 10180.50, 10120.50,
-- 10210.50, 10190.50: the backtest's own max drawdown 185.25.
SELECT pg_temp.backtest(:'u1', :'s1', '10000.00',
                        '{120.50,-80.25,45.00,-150.00,200.00,-30.00,75.25,-60.00,90.00,-20.00}') AS bt \gset
SELECT ex7.monte_carlo(:'u1', :'bt', '{"runs": 2000, "seed": 7, "drawdown_threshold": "150"}') AS mc \gset
SELECT :'mc'::jsonb - 'fan' - 'compliance' - 'backtest_id' AS shuffle;
-- a shuffle reorders the same trades: every run ends at 10190.50, the fan starts at the capital and ends
-- there in every percentile; every order holds the -150.00 trade (a drawdown of at least 150) and no
-- drawdown exceeds the sum of the losses (340.25)
SELECT (SELECT bool_and(v = '"10190.50"') FROM jsonb_each(:'mc'::jsonb -> 'final_equity') e(k, v)) AS final_unchanged,
       (SELECT bool_and(v = '"10000.00"') FROM jsonb_each((:'mc'::jsonb -> 'fan' -> 0) - 'trade') e(k, v)) AS fan_starts,
       (SELECT bool_and(v = '"10190.50"') FROM jsonb_each((:'mc'::jsonb -> 'fan' -> -1) - 'trade') e(k, v)) AS fan_ends,
       jsonb_path_query_array(:'mc'::jsonb, '$.fan[*].trade') AS fan_trades,
       (:'mc'::jsonb -> 'max_drawdown' ->> 'p5')::numeric >= 150 AS dd_at_least_150,
       (:'mc'::jsonb -> 'max_drawdown' ->> 'p95')::numeric <= 340.25 AS dd_at_most_losses,
       :'mc'::jsonb -> 'probability_drawdown_beyond' AS p_beyond_150,
       (:'mc'::jsonb -> 'compliance' ->> 'rule') AS compliance, :'mc'::jsonb ->> 'backtest_id' = :'bt' AS backtest_id;
-- the percentiles are ordered at every point of the fan
SELECT bool_and((f ->> 'p5')::numeric <= (f ->> 'p25')::numeric AND (f ->> 'p25')::numeric <= (f ->> 'p50')::numeric
                AND (f ->> 'p50')::numeric <= (f ->> 'p75')::numeric AND (f ->> 'p75')::numeric <= (f ->> 'p95')::numeric) AS ordered
  FROM jsonb_array_elements(:'mc'::jsonb -> 'fan') f;
-- no run exceeds the sum of the losses: the probability beyond 340.26 is 0
SELECT ex7.monte_carlo(:'u1', :'bt', '{"runs": 500, "drawdown_threshold": 340.26}') -> 'probability_drawdown_beyond' AS p_beyond_losses;

-- the bootstrap on the same trades: the same seed gives the same answer, another seed another one
SELECT ex7.monte_carlo(:'u1', :'bt', '{"method": "bootstrap", "runs": 3000, "seed": 42}') AS b1 \gset
SELECT :'b1'::jsonb = ex7.monte_carlo(:'u1', :'bt', '{"method": "bootstrap", "runs": 3000, "seed": 42}') AS same_seed_same,
       :'b1'::jsonb <> ex7.monte_carlo(:'u1', :'bt', '{"method": "bootstrap", "runs": 3000, "seed": 43}') AS other_seed_differs,
       :'b1'::jsonb -> 'final_equity' AS final_equity, :'b1'::jsonb -> 'max_drawdown' AS max_drawdown,
       -- the spread of a bootstrap: its final equity varies, around the observed one
       (:'b1'::jsonb -> 'final_equity' ->> 'p5')::numeric < 10190.50
         AND (:'b1'::jsonb -> 'final_equity' ->> 'p95')::numeric > 10190.50 AS spread_around_observed;
-- the default method is shuffle, the default runs 1000, the default seed 1
SELECT r -> 'method' AS method, r -> 'runs' AS runs, r -> 'seed' AS seed, r -> 'drawdown_threshold' AS threshold,
       r -> 'probability_drawdown_beyond' AS probability, r = ex7.monte_carlo(:'u1', :'bt', '{"seed": 1}') AS seed_1
  FROM ex7.monte_carlo(:'u1', :'bt', '{}') r;

-- ---------------------------------------------------------------------------------------------------
-- Hand case, bootstrap: trades +100.00 and -50.00 from 1000.00. Two draws with replacement give four
-- equally likely sequences:
--   +100 +100: final 1200, max drawdown   0       -50 +100: final 1050, drawdown 50 (1000 -> 950)
--   +100  -50: final 1050, max drawdown  50       -50  -50: final  900, drawdown 100
-- so final equity is 900 w.p. 1/4, 1050 w.p. 1/2, 1200 w.p. 1/4: its 5th, 50th and 95th percentiles are
-- 900, 1050 and 1200; the drawdown's are 0, 50 and 100; P(drawdown >= 100) = 1/4, P(drawdown >= 50) = 3/4.
-- With 40,000 runs the shares are within 0.01 of those (4.6 standard deviations; the seed fixes them).
SELECT pg_temp.backtest(:'u1', :'s1', '1000.00', '{100.00,-50.00}') AS bt2 \gset
SELECT r -> 'final_equity' AS final_equity, r -> 'max_drawdown' AS max_drawdown,
       abs((r ->> 'probability_drawdown_beyond')::numeric - 0.25) < 0.01 AS p_100_near_quarter,
       abs((ex7.monte_carlo(:'u1', :'bt2', '{"method": "bootstrap", "runs": 40000, "drawdown_threshold": "50.00"}')
            ->> 'probability_drawdown_beyond')::numeric - 0.75) < 0.01 AS p_50_near_three_quarters,
       r -> 'fan' -> 1 -> 'p5' AS after_one_p5, r -> 'fan' -> 1 -> 'p95' AS after_one_p95
  FROM ex7.monte_carlo(:'u1', :'bt2', '{"method": "bootstrap", "runs": 40000, "drawdown_threshold": 100}') r;
-- Hand case, shuffle: +100.00, -50.00, -50.00 from 1000.00. Of the three distinct orders (equally likely)
-- two fall 100 below a peak (+100 -50 -50 from 1100; -50 -50 +100 from 1000) and one 50 (-50 +100 -50):
-- P(drawdown >= 100) = 2/3, the drawdown's median 100 and 5th percentile 50.
SELECT pg_temp.backtest(:'u1', :'s1', '1000.00', '{100.00,-50.00,-50.00}') AS bt3 \gset
SELECT r -> 'max_drawdown' AS max_drawdown, r -> 'final_equity' -> 'p50' AS final_p50,
       abs((r ->> 'probability_drawdown_beyond')::numeric - 2.0 / 3) < 0.01 AS p_near_two_thirds
  FROM ex7.monte_carlo(:'u1', :'bt3', '{"runs": 40000, "drawdown_threshold": 100}') r;

-- no trades: every run stays at the capital
SELECT pg_temp.backtest(:'u1', :'s1', '5000', '{}') AS bt0 \gset
SELECT r - 'backtest_id' - 'compliance' AS no_trades FROM ex7.monte_carlo(:'u1', :'bt0', '{"method": "bootstrap", "runs": 10}') r;

-- the fan's memory bound: runs x points of the fan stay within 2^21 values, so 50,000 runs over 1,000
-- trades keep 40 points besides the start (2^21 / 50000 - 1 = 40), 1,000 runs 200
SELECT pg_temp.backtest(:'u1', :'s1', '10000.00', (SELECT array_agg(((i * 37) % 21 - 10)::numeric ORDER BY i)
                                                     FROM generate_series(1, 1000) i)) AS bt1000 \gset
SELECT jsonb_array_length(ex7.monte_carlo(:'u1', :'bt1000', '{"method": "bootstrap", "runs": 50000}') -> 'fan') AS fan_50000_runs,
       jsonb_array_length(ex7.monte_carlo(:'u1', :'bt1000', '{"runs": 1000}') -> 'fan') AS fan_1000_runs,
       ex7.monte_carlo(:'u1', :'bt1000', '{"runs": 1000}') -> 'fan' -> -1 -> 'trade' AS last_index;

-- ---------------------------------------------------------------------------------------------------
-- The picture: the fan with its bands, median, initial capital and the CFTC Rule 4.41 statement.
SELECT ex7.monte_carlo_svg(:'u1', :'bt', 'bootstrap', 500, 3) AS svg \gset
SELECT xml_is_well_formed_document(:'svg') AS well_formed,
       (xpath('/svg:svg/svg:title/text()', xmlparse(document :'svg'), ARRAY[ARRAY['svg', 'http://www.w3.org/2000/svg']]))[1]::text AS title,
       (SELECT count(*) FROM unnest(xpath('//svg:polygon', xmlparse(document :'svg'), ARRAY[ARRAY['svg', 'http://www.w3.org/2000/svg']]))) AS bands,
       (SELECT count(*) FROM unnest(xpath('//svg:polyline[@class="median"]', xmlparse(document :'svg'),
                                         ARRAY[ARRAY['svg', 'http://www.w3.org/2000/svg']]))) AS median,
       (xpath('//svg:text[@class="initial-capital-label"]/text()', xmlparse(document :'svg'),
              ARRAY[ARRAY['svg', 'http://www.w3.org/2000/svg']]))[1]::text AS capital,
       (SELECT array_agg(x::text) FROM unnest(xpath('//svg:text[@class="x-label"]/text()', xmlparse(document :'svg'),
                                                   ARRAY[ARRAY['svg', 'http://www.w3.org/2000/svg']])) x) AS trade_ticks,
       (xpath('//svg:text[@class="summary"]/text()', xmlparse(document :'svg'), ARRAY[ARRAY['svg', 'http://www.w3.org/2000/svg']]))[1]::text
         = format('500 runs, seed 3 | final equity p5 / p50 / p95: %s / %s / %s | max drawdown p5 / p50 / p95: %s / %s / %s',
                  r -> 'final_equity' ->> 'p5', r -> 'final_equity' ->> 'p50', r -> 'final_equity' ->> 'p95',
                  r -> 'max_drawdown' ->> 'p5', r -> 'max_drawdown' ->> 'p50', r -> 'max_drawdown' ->> 'p95') AS summary,
       (xpath('//svg:text[@class="disclaimer-rule"]/text()', xmlparse(document :'svg'), ARRAY[ARRAY['svg', 'http://www.w3.org/2000/svg']]))[1]::text AS rule,
       (SELECT string_agg(x::text, ' ') FROM unnest(xpath('//svg:text[@class="disclaimer"]/text()', xmlparse(document :'svg'),
                                                         ARRAY[ARRAY['svg', 'http://www.w3.org/2000/svg']])) x)
         = ex7.compliance_banner() ->> 'text' AS statement_in_full
  FROM ex7.monte_carlo(:'u1', :'bt', '{"method": "bootstrap", "runs": 500, "seed": 3}') r;

-- ---------------------------------------------------------------------------------------------------
-- Refusals. Another user's backtest, or none: 404; not finished: 409; a bad body: 422 at ["body", field]
-- (["query", field] for the picture), an unknown field value_error.extra.
SELECT ex7_test.err(format('SELECT ex7.monte_carlo(%L, %L, ''{}'')', :'u2', :'bt')) AS other_user,
       ex7_test.err(format('SELECT ex7.monte_carlo(%L, gen_random_uuid(), ''{}'')', :'u1')) AS missing,
       ex7_test.err(format('SELECT ex7.monte_carlo_svg(%L, %L)', :'u2', :'bt')) AS other_user_svg;
SELECT pg_temp.backtest(:'u1', :'s1', '10000.00', '{}', 'running') AS running \gset
SELECT ex7_test.err(format('SELECT ex7.monte_carlo(%L, %L, ''{}'')', :'u1', :'running')) AS running;
SELECT b AS body, ex7_test.err(format('SELECT ex7.monte_carlo(%L, %L, %L)', :'u1', :'bt', b)) AS error
  FROM unnest(ARRAY['[]', '{"runs": 10, "sed": 1}', '{"method": "jackknife"}', '{"method": 1}', '{"runs": 0}',
                    '{"runs": 100001}', '{"runs": 1.5}', '{"runs": "10"}', '{"seed": -1}', '{"seed": 2147483648}',
                    '{"seed": 0.5}', '{"drawdown_threshold": 0}', '{"drawdown_threshold": "-5"}',
                    '{"drawdown_threshold": "abc"}', '{"drawdown_threshold": true}', '{"drawdown_threshold": "NaN"}']) b;
-- runs x trades is capped at 10^8: 1,001 trades allow 99,900 runs
SELECT pg_temp.backtest(:'u1', :'s1', '10000.00', (SELECT array_agg((i % 7 - 3)::numeric) FROM generate_series(1, 1001) i)) AS bt1001 \gset
SELECT ex7_test.err(format('SELECT ex7.monte_carlo(%L, %L, ''{"runs": 100000}'')', :'u1', :'bt1001')) AS too_much_work,
       ex7_test.err(format('SELECT ex7.monte_carlo_svg(%L, %L, ''bootstrap'', 100000)', :'u1', :'bt1001')) AS too_much_work_svg,
       ex7_test.err(format('SELECT ex7.monte_carlo_svg(%L, %L, ''nope'')', :'u1', :'bt')) AS bad_method_svg;
-- the C function's own bounds
SELECT ex7_test.err('SELECT ex7._monte_carlo(ARRAY[1, NULL]::float8[], 100, ''shuffle'', 10, 1, NULL)') AS null_pnl,
       ex7_test.err('SELECT ex7._monte_carlo(ARRAY[1]::float8[], 100, ''shuffle'', 10, 1, 0)') AS zero_threshold;
