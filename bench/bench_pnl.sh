#!/usr/bin/env bash
# bench/bench_pnl.sh: ex7.compute_pnl (C, cached instruments) against the same formula in PL/pgSQL with a
# SELECT per call (bench/pnl_reference.sql), over N random trades (default 2,000,000): random seeded
# instrument, side, size 1..10, on-grid entry and close. Both must agree on every row (compared as
# text, so scales count); then each is timed over the whole table in the same session, one core
# (no parallel workers), after a warm-up. Prints
#   compute_pnl: C <x> ms, PL/pgSQL <y> ms, ratio <y/x>x (goal >= 4x)
# and fails on any mismatch; the goal (docs/performance.md, "compute_pnl") is a ratio of at least 4. Each side
# is timed twice, alternating, and its best time counts: another process waking up on a 2-core machine then
# skews neither side alone. Run by bench/run.sh (bench/run.sh pnl), in a database of its own (bench/lib.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh

N=${N:-$(smoke 2000000 20000)}
WARM=$((N < 200000 ? N / 10 : 20000))
GOAL=4
bench_begin pnl

psql -X -q -v ON_ERROR_STOP=1 -c "SET client_min_messages = warning" -f bench/pnl_reference.sql

# Trades. Base prices near 2024 levels; entry within 1000 ticks of the base, close within 200 ticks of
# the entry, so every price lies on the instrument's grid. setseed makes the set the same every run.
psql -X -q -v ON_ERROR_STOP=1 -v n="$N" <<'SQL'
SELECT setseed(0.42) \gset
CREATE UNLOGGED TABLE bench_pnl.trades AS
WITH inst AS (
    SELECT row_number() OVER (ORDER BY i.symbol) AS k, i.symbol, i.tick_size, b.base
      FROM ex7.instruments i
      JOIN (VALUES ('ES', 5000), ('MES', 5000), ('NQ', 18000), ('MNQ', 18000), ('YM', 39000),
                   ('MYM', 39000), ('RTY', 2000), ('M2K', 2000), ('CL', 75), ('MCL', 75),
                   ('GC', 2000), ('MGC', 2000)) AS b (symbol, base) USING (symbol)
), r AS (
    SELECT g, 1 + floor(random() * (SELECT count(*) FROM inst))::int AS k, random() < 0.5 AS is_long,
           1 + floor(random() * 10)::int AS size,
           floor(random() * 2001)::int - 1000 AS entry_off, floor(random() * 401)::int - 200 AS move
      FROM generate_series(1, :n) AS g
)
SELECT r.g AS id, i.symbol AS instrument, CASE WHEN r.is_long THEN 'long' ELSE 'short' END AS side,
       r.size, i.base + r.entry_off * i.tick_size AS entry_price,
       i.base + (r.entry_off + r.move) * i.tick_size AS close_price
  FROM r JOIN inst i USING (k);
VACUUM ANALYZE bench_pnl.trades;
SQL

# The same query shape for both: one call per row in a subquery kept apart by OFFSET 0, every column
# of the result summed, so neither side can skip work.
q() {
	echo "SELECT count(*) || ' rows, net ' || sum((r).net_pnl) || ', gross ' || sum((r).gross_pnl)
	        || ', costs ' || sum((r).slippage_cost + (r).commission) || ', ticks ' || sum((r).ticks)
	        || ', points ' || sum((r).points)
	      FROM (SELECT $1(instrument, side, size, entry_price, close_price) AS r
	              FROM bench_pnl.trades $2 OFFSET 0) s"
}
C=ex7.compute_pnl
P=bench_pnl.compute_pnl_plpgsql

out=$(psql -X -q -At -F ' ' -v ON_ERROR_STOP=1 <<SQL
SET max_parallel_workers_per_gather = 0;
SELECT 'mismatches', count(*) FILTER (WHERE c::text IS DISTINCT FROM p::text), count(*)
  FROM (SELECT $C(instrument, side, size, entry_price, close_price) AS c,
               $P(instrument, side, size, entry_price, close_price) AS p
          FROM bench_pnl.trades OFFSET 0) s;
-- warm-up (WARM rows): the C cache fill, the PL/pgSQL compile and plan, the table in shared buffers
SELECT 'warm', (bench_pnl.time_ms(\$q\$$(q $C "WHERE id <= $WARM")\$q\$)).ms;
SELECT 'warm', (bench_pnl.time_ms(\$q\$$(q $P "WHERE id <= $WARM")\$q\$)).ms;
SELECT 'c', * FROM bench_pnl.time_ms(\$q\$$(q $C "")\$q\$);
SELECT 'plpgsql', * FROM bench_pnl.time_ms(\$q\$$(q $P "")\$q\$);
SELECT 'c', * FROM bench_pnl.time_ms(\$q\$$(q $C "")\$q\$);
SELECT 'plpgsql', * FROM bench_pnl.time_ms(\$q\$$(q $P "")\$q\$);
SQL
)

mismatches=$(echo "$out" | awk '$1 == "mismatches" { print $2 }')
rows=$(echo "$out" | awk '$1 == "mismatches" { print $3 }')
best() { echo "$out" | awk -v k="$1" '$1 == k && (m == "" || $2 < m) { m = $2 } END { print m }'; }
totals() { echo "$out" | awk -v k="$1" '$1 == k { $1 = $2 = ""; sub(/^ +/, ""); print }' | sort -u; }
c_ms=$(best c)
p_ms=$(best plpgsql)
c_sum=$(totals c)
p_sum=$(totals plpgsql)
ratio=$(awk -v c="$c_ms" -v p="$p_ms" 'BEGIN { printf "%.1f", p / c }')

echo "compute_pnl: C        $c_sum"
echo "compute_pnl: PL/pgSQL $p_sum"
echo "compute_pnl: mismatching rows $mismatches of $rows"
echo "compute_pnl: runs (ms): C$(echo "$out" | awk '$1 == "c" { printf " %s", $2 }'), PL/pgSQL$(echo "$out" | awk '$1 == "plpgsql" { printf " %s", $2 }')"
echo "compute_pnl: C $c_ms ms, PL/pgSQL $p_ms ms, ratio ${ratio}x"
[ "$mismatches" = 0 ] || bench_fail "$mismatches rows differ"
[ "$c_sum" = "$p_sum" ] || bench_fail "totals differ"
bench_goal "C / PL/pgSQL ${ratio}x (>= ${GOAL}x)" 'r >= g' r="$ratio" g="$GOAL"
