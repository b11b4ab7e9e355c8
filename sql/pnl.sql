-- sql/pnl.sql: ex7.compute_pnl (ext/pnl.c, docs/pnl.md), the one and only P&L formula: hand-computed
-- trades on every seeded instrument family, size scaling, scales of the results, every error with its
-- SQLSTATE, STRICT, and the instrument cache following changes to ex7.instruments (this backend,
-- rollback, another backend).
--
-- Specs (ext/sql/10_schema.sql, facts.md):   tick_size tick_value commission_per_side
--   ES 0.25 12.50 2.25   MES 0.25 1.25 0.62   NQ 0.25 5.00 2.25   MNQ 0.25 0.50 0.62
--   YM 1.00  5.00 2.25   MYM 1.00 0.50 0.62   RTY 0.10 5.00 2.25  M2K 0.10 0.50 0.62
--   CL 0.01 10.00 2.50   MCL 0.01 1.00 0.75   GC 0.10 10.00 2.50  MGC 0.10 1.00 0.75
SELECT provolatile, proparallel, proisstrict, pg_get_function_result(oid) AS result
  FROM pg_proc WHERE oid = 'ex7.compute_pnl'::regproc;

-- The worked example of docs/pnl.md: 1 MNQ long 18000.00 -> 18010.25 is 10.25 points = 41 ticks;
-- gross 41 * 0.50 = 20.50; slippage (2 + 2) * 0.50 = 2.00; commission 0.62 * 2 = 1.24; net 17.26.
SELECT * FROM ex7.compute_pnl('MNQ', 'long', 1, 18000.00, 18010.25);

-- Hand-computed trades. Each row: the inputs, then ticks, gross, slippage, commission and net worked
-- out by hand (comment), then what compute_pnl returns; "ok" compares every column.
CREATE TEMP TABLE pnl_case (n int, instrument text, side text, size int, entry numeric, close numeric,
                            x_ticks numeric, x_gross numeric, x_slip numeric, x_comm numeric, x_net numeric);
INSERT INTO pnl_case VALUES
    --  instrument side  size entry     close      ticks gross     slip    comm   net
    ( 1, 'MNQ', 'long',  1, 18000.00, 18010.25,   41,   20.50,    2.00,  1.24,   17.26), -- 10.25/0.25=41
    ( 2, 'MNQ', 'short', 1, 18000.00, 18010.25,  -41,  -20.50,    2.00,  1.24,  -23.74), -- loss
    ( 3, 'MNQ', 'short', 4, 18010.25, 18000.00,   41,   82.00,    8.00,  4.96,   69.04), -- 41*0.50*4
    ( 4, 'ES',  'long',  2,  5000.00,  5012.50,   50, 1250.00,  100.00,  9.00, 1141.00), -- 50*12.50*2
    ( 5, 'ES',  'short', 1,  5000.00,  4990.25,   39,  487.50,   50.00,  4.50,  433.00), -- 9.75/0.25=39
    ( 6, 'ES',  'long',  1,  5000.00,  4999.75,   -1,  -12.50,   50.00,  4.50,  -67.00), -- one tick
    ( 7, 'MES', 'long',  3,  5000.00,  4995.00,  -20,  -75.00,   15.00,  3.72,  -93.72), -- 4*1.25*3
    ( 8, 'MES', 'short', 1,  5000.00,  4998.75,    5,    6.25,    5.00,  1.24,    0.01), -- a cent
    ( 9, 'NQ',  'long',  1, 18000.00, 18100.00,  400, 2000.00,   20.00,  4.50, 1975.50),
    (10, 'NQ',  'short', 2, 18000.00, 18025.50, -102,-1020.00,   40.00,  9.00,-1069.00), -- 25.5/0.25
    (11, 'YM',  'long',  1, 39000,    39050,      50,  250.00,   20.00,  4.50,  225.50),
    (12, 'YM',  'short', 1, 39000,    39010,     -10,  -50.00,   20.00,  4.50,  -74.50),
    (13, 'MYM', 'long',  1, 39000,    39001,       1,    0.50,    2.00,  1.24,   -2.74),
    (14, 'RTY', 'long',  1,  2000.00,  2000.30,    3,   15.00,   20.00,  4.50,   -9.50), -- won, net loss
    (15, 'RTY', 'short', 1,  2000.00,  1995.00,   50,  250.00,   20.00,  4.50,  225.50),
    (16, 'M2K', 'short', 1,  2000.0,   1999.9,     1,    0.50,    2.00,  1.24,   -2.74),
    (17, 'CL',  'long',  1,    75.00,    75.37,   37,  370.00,   40.00,  5.00,  325.00), -- 0.37/0.01
    (18, 'CL',  'short', 1,    75.00,    75.05,   -5,  -50.00,   40.00,  5.00,  -95.00),
    (19, 'CL',  'long',  1,   -37.63,   -30.00,  763, 7630.00,   40.00,  5.00, 7585.00), -- 2020-04-20
    (20, 'CL',  'short', 1,     0.00,     0.01,   -1,  -10.00,   40.00,  5.00,  -55.00), -- zero price
    (21, 'MCL', 'long',  1,    75.00,    75.10,   10,   10.00,    4.00,  1.50,    4.50),
    (22, 'GC',  'long',  1,  2000.0,   1998.5,   -15, -150.00,   40.00,  5.00, -195.00), -- 1.5/0.10
    (23, 'GC',  'short', 2,  2000.00,  1990.00,  100, 2000.00,   80.00, 10.00, 1910.00),
    (24, 'MGC', 'short', 1,  2000.0,   2001.0,   -10,  -10.00,    4.00,  1.50,  -15.50),
    (25, 'MNQ', 'long',  1, 18000.00, 18000.00,    0,    0.00,    2.00,  1.24,   -3.24), -- no move
    (26, 'ES',  'short', 7,  5000.00,  5000.00,    0,    0.00,  350.00, 31.50, -381.50); -- no move
SELECT c.n, c.instrument AS instr, c.side, c.size, c.entry, c.close, p.points, p.ticks, p.gross_pnl,
       p.slippage_ticks AS slip_t, p.slippage_cost, p.commission, p.net_pnl,
       (p.ticks, p.gross_pnl, p.slippage_cost, p.commission, p.net_pnl)
         = (c.x_ticks, c.x_gross, c.x_slip, c.x_comm, c.x_net)
       AND p.points = (c.close - c.entry) * CASE c.side WHEN 'long' THEN 1 ELSE -1 END
       AND p.slippage_ticks = 2 AS ok
  FROM pnl_case c, ex7.compute_pnl(c.instrument, c.side, c.size, c.entry, c.close) p
 ORDER BY c.n;

-- Size scaling: every money column is linear in size (1 ES long, +4 ticks: 50.00 - 50.00 - 4.50),
-- up to the cap of 100000 contracts.
SELECT s AS size, p.gross_pnl, p.slippage_cost, p.commission, p.net_pnl, p.net_pnl = s * -4.50 AS ok
  FROM unnest(ARRAY[1, 2, 3, 10, 100000]) AS s, ex7.compute_pnl('ES', 'long', s, 5000.00, 5001.00) p;

-- Long and short mirror each other: same slippage and commission, opposite gross.
SELECT l.gross_pnl = -s.gross_pnl AS mirror, l.net_pnl + s.net_pnl = -2 * (l.slippage_cost + l.commission) AS costs
  FROM ex7.compute_pnl('NQ', 'long', 3, 18000.00, 18033.75) l, ex7.compute_pnl('NQ', 'short', 3, 18000.00, 18033.75) s;

-- Scales come from the instrument, not from how the prices are spelled: ticks scale 0, points the
-- scale of tick_size, money at least cents. 18000, 18000.0 and 18000.250 are all on the MNQ grid.
SELECT points::text, ticks::text, gross_pnl::text, slippage_ticks::text, net_pnl::text
  FROM ex7.compute_pnl('MNQ', 'long', 1, 18000, 18000.250);
SELECT points::text, ticks::text, gross_pnl::text, net_pnl::text
  FROM ex7.compute_pnl('YM', 'short', 1, 39000.0, 38999);

-- STRICT: any NULL argument gives NULL
SELECT ex7.compute_pnl(NULL, 'long', 1, 1, 1) IS NULL AS instrument,
       ex7.compute_pnl('ES', NULL, 1, 1, 1) IS NULL AS side,
       ex7.compute_pnl('ES', 'long', NULL, 1, 1) IS NULL AS size,
       ex7.compute_pnl('ES', 'long', 1, NULL, 1) IS NULL AS entry,
       ex7.compute_pnl('ES', 'long', 1, 1, NULL) IS NULL AS close;

-- Errors: every branch, with its SQLSTATE (X7422 = HTTP 422) and the locator the HTTP route uses.
-- unknown instrument (symbols are case-sensitive)
SELECT ex7_test.err($$SELECT ex7.compute_pnl('ZN', 'long', 1, 100, 101)$$);
SELECT ex7_test.err($$SELECT ex7.compute_pnl('mnq', 'long', 1, 18000, 18001)$$);
SELECT ex7_test.err($$SELECT ex7.compute_pnl('', 'long', 1, 18000, 18001)$$);
SELECT ex7_test.err($$SELECT ex7.compute_pnl('MNQMNQMNQMNQMNQ', 'long', 1, 18000, 18001)$$);
-- side
SELECT ex7_test.err($$SELECT ex7.compute_pnl('MNQ', 'LONG', 1, 18000, 18001)$$);
SELECT ex7_test.err($$SELECT ex7.compute_pnl('MNQ', 'buy', 1, 18000, 18001)$$);
SELECT ex7_test.err($$SELECT ex7.compute_pnl('MNQ', '', 1, 18000, 18001)$$);
-- size
SELECT ex7_test.err($$SELECT ex7.compute_pnl('MNQ', 'long', 0, 18000, 18001)$$);
SELECT ex7_test.err($$SELECT ex7.compute_pnl('MNQ', 'long', -3, 18000, 18001)$$);
SELECT ex7_test.err($$SELECT ex7.compute_pnl('MNQ', 'long', 100001, 18000, 18001)$$);
-- off the tick grid: entry, close, a negative price, a price finer than the grid
SELECT ex7_test.err($$SELECT ex7.compute_pnl('MNQ', 'long', 1, 18000.10, 18001)$$);
SELECT ex7_test.err($$SELECT ex7.compute_pnl('MNQ', 'short', 1, 18000, 18001.30)$$);
SELECT ex7_test.err($$SELECT ex7.compute_pnl('YM', 'long', 1, -5.50, 1)$$);
SELECT ex7_test.err($$SELECT ex7.compute_pnl('CL', 'long', 1, 75.00, 75.005)$$);
-- NaN and infinities
SELECT ex7_test.err($$SELECT ex7.compute_pnl('ES', 'long', 1, 'NaN', 5000)$$);
SELECT ex7_test.err($$SELECT ex7.compute_pnl('ES', 'long', 1, 5000, 'Infinity')$$);
SELECT ex7_test.err($$SELECT ex7.compute_pnl('ES', 'short', 1, '-Infinity', 5000)$$);
-- bounds: |price| < 10^16, and every money result too (loc ["body"]: no single input is to blame)
SELECT ex7_test.err($$SELECT ex7.compute_pnl('ES', 'long', 1, 1e16, 5000)$$);
SELECT ex7_test.err($$SELECT ex7.compute_pnl('ES', 'long', 1, 5000, -1e16)$$);
SELECT ticks, net_pnl FROM ex7.compute_pnl('ES', 'long', 1, 9999999999999999.00, 9999999999999999.75);
SELECT ex7_test.err($$SELECT ex7.compute_pnl('MNQ', 'long', 100000, 0, 9999999999999999.75)$$);
SELECT ex7_test.err($$SELECT ex7.compute_pnl('ES', 'short', 1, 0, 9999999999999999.75)$$);
-- gross -9999999999999950.00 fits, net = gross - 50.00 - 4.50 does not
SELECT ex7_test.err($$SELECT ex7.compute_pnl('ES', 'short', 1, 0, 199999999999999.00)$$);

-- The instrument cache follows ex7.instruments. Same backend, inside a transaction: an UPDATE is seen
-- by the next statement, and the ROLLBACK takes it back.
SELECT commission, net_pnl FROM ex7.compute_pnl('MNQ', 'long', 1, 18000.00, 18010.25);
BEGIN;
UPDATE ex7.instruments SET commission_per_side = 1.00 WHERE symbol = 'MNQ';
SELECT commission, net_pnl FROM ex7.compute_pnl('MNQ', 'long', 1, 18000.00, 18010.25);
UPDATE ex7.instruments SET tick_value = 2 WHERE symbol = 'MNQ';
-- money keeps cents even when the operator types 2 for 2.00
SELECT gross_pnl, slippage_cost, net_pnl FROM ex7.compute_pnl('MNQ', 'long', 1, 18000.00, 18010.25);
ROLLBACK;
SELECT commission, net_pnl FROM ex7.compute_pnl('MNQ', 'long', 1, 18000.00, 18010.25);

-- INSERT, DELETE and TRUNCATE are seen too
BEGIN;
INSERT INTO ex7.instruments (symbol, name, exchange, tick_size, tick_value, commission_per_side)
VALUES ('ZB', '30-Year U.S. Treasury Bond', 'CBOT', 0.03125, 31.25, 2.00);
SELECT * FROM ex7.compute_pnl('ZB', 'long', 1, 118.0, 118.5);   -- 0.5 / 0.03125 = 16 ticks
SELECT ex7_test.err($$SELECT ex7.compute_pnl('ZB', 'long', 1, 118.0, 118.01)$$);
DELETE FROM ex7.instruments WHERE symbol = 'ZB';
SELECT ex7_test.err($$SELECT ex7.compute_pnl('ZB', 'long', 1, 118.0, 118.5)$$);
SET LOCAL client_min_messages = warning;   -- the list of cascaded tables is not this file's business
TRUNCATE ex7.instruments CASCADE;
SELECT ex7_test.err($$SELECT ex7.compute_pnl('MNQ', 'long', 1, 18000.00, 18010.25)$$);
ROLLBACK;
SELECT net_pnl FROM ex7.compute_pnl('MNQ', 'long', 1, 18000.00, 18010.25);

-- A misconfigured row is a server error (the operator's to fix), not a 422: NaN satisfies
-- CHECK (tick_value > 0); costs so large that 100000 contracts would pass 10^16 are refused too.
BEGIN;
UPDATE ex7.instruments SET tick_value = 'NaN' WHERE symbol = 'MES';
SELECT ex7_test.err($$SELECT ex7.compute_pnl('MES', 'long', 1, 5000, 5001)$$);
UPDATE ex7.instruments SET tick_value = 1.25, commission_per_side = 1e11 WHERE symbol = 'MES';
SELECT ex7_test.err($$SELECT ex7.compute_pnl('MES', 'long', 1, 5000, 5001)$$);
ROLLBACK;
SELECT net_pnl FROM ex7.compute_pnl('MES', 'long', 1, 5000, 5001);

-- Another backend: the changes it commits reach this backend's loaded cache through the relcache
-- invalidation, with no reconnect. The other backend is a psql child on the same database.
\setenv PGDATABASE :DBNAME
SELECT ex7_test.err($$SELECT ex7.compute_pnl('ZB', 'long', 1, 118.0, 118.5)$$);
\! psql -X -q -c "INSERT INTO ex7.instruments (symbol, name, exchange, tick_size, tick_value, commission_per_side) VALUES ('ZB', 'Treasury Bond', 'CBOT', 0.03125, 31.25, 2.00)"
SELECT commission, net_pnl FROM ex7.compute_pnl('ZB', 'long', 1, 118.0, 118.5);
\! psql -X -q -c "UPDATE ex7.instruments SET commission_per_side = 1.50 WHERE symbol = 'ZB'"
-- a role bound to a user (member of ex7_user) may call it, and reloads the cache with its own rights
SET ROLE ex7_user;
SELECT commission, net_pnl FROM ex7.compute_pnl('ZB', 'long', 1, 118.0, 118.5);
RESET ROLE;
\! psql -X -q -c "DELETE FROM ex7.instruments WHERE symbol = 'ZB'"
SELECT ex7_test.err($$SELECT ex7.compute_pnl('ZB', 'long', 1, 118.0, 118.5)$$);
