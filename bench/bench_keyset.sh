#!/usr/bin/env bash
# bench/bench_keyset.sh: keyset pagination over 1,000,000 signals of one user (run by bench/run.sh).
# Measures, side by side in one run with pgbench (prepared statements, 2 clients, as many transactions as
# fit in the window), the throughput of:
#   first: ex7.list_signals first page (limit 50)
#   end:   ex7.list_signals with the cursor of the row at position N - 100 (a page near the end)
#   offset: the same page by OFFSET N - 100, built with the same jsonb_agg (the baseline keyset replaces)
# The page after the cursor must hold exactly the rows of the OFFSET page (a difference fails the run).
# Goal (docs/performance.md, "Keyset pagination"): end >= 0.9 x first.
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh
SECS=${BENCH_SECONDS:-$(smoke 10 1)}
N=${KEYSET_SIGNALS:-$(smoke 1000000 3000)}
POS=$((N - 100))
U=00000000-0000-4000-8000-0000000b0001
bench_begin keyset

psql -X -q -v ON_ERROR_STOP=1 >/dev/null <<SQL
SELECT ex7.ensure_user('$U');
SELECT ex7.create_strategy('$U', '{"name": "bench keyset", "instrument": "MNQ", "timeframe": "5m"}');
-- N signals straight into the table: fire_signal would take minutes, and the listing only reads rows
INSERT INTO ex7.signals (user_id, strategy_id, strategy_version, instrument, timeframe, mode, side, size,
                         entry_price, bar_ts, fired_at)
SELECT '$U', s.id, 1, 'MNQ', '5m', 'paper',
       CASE WHEN g % 2 = 0 THEN 'long' ELSE 'short' END, 1 + g % 3, 18000 + (g % 400) * 0.25,
       '2020-01-01'::timestamptz + (g / 3) * interval '1 minute',
       '2020-01-01'::timestamptz + (g / 3) * interval '1 minute'  -- three signals share each fired_at
  FROM generate_series(1, $N) g, ex7.strategies s WHERE s.user_id = '$U';
VACUUM ANALYZE ex7.signals;
SQL
CUR=$(psql -X -qAt -v ON_ERROR_STOP=1 -c "SELECT ex7.cursor_encode('signals', '$U', fired_at, id::text) FROM ex7.signals
                        WHERE user_id = '$U' ORDER BY fired_at DESC, id DESC OFFSET $((POS - 1)) LIMIT 1")
# the page after that cursor must be the same 50 rows as OFFSET POS
same=$(psql -X -qAt -v ON_ERROR_STOP=1 -c "SELECT (SELECT array_agg(x->>'id') FROM jsonb_array_elements(
                              ex7.list_signals('$U', p_cursor => '$CUR', p_limit => 50)->'items') x)
                         = (SELECT array_agg(id::text) FROM (SELECT id FROM ex7.signals WHERE user_id = '$U'
                              ORDER BY fired_at DESC, id DESC OFFSET $POS LIMIT 50) s)")
[ "$same" = t ] || bench_fail "keyset page near the end differs from the OFFSET page"

echo "SELECT ex7.list_signals('$U', p_limit => 50);" >"$W/first.sql"
echo "SELECT ex7.list_signals('$U', p_cursor => '$CUR', p_limit => 50);" >"$W/end.sql"
cat >"$W/offset.sql" <<SQL
SELECT jsonb_build_object('items', coalesce(jsonb_agg(ex7._signal_json(s) ORDER BY s.fired_at DESC, s.id DESC), '[]'))
  FROM (SELECT * FROM ex7.signals WHERE user_id = '$U' ORDER BY fired_at DESC, id DESC OFFSET $POS LIMIT 50) s;
SQL

tps() {
	pgbench -n -M prepared -c 2 -j 2 -T "$2" -f "$W/$1.sql" >"$W/pgbench.out" 2>"$W/pgbench.err" ||
		{ cat "$W/pgbench.err" >&2; return 1; }
	sed -n 's/^tps = \([0-9.]*\).*/\1/p' "$W/pgbench.out"
}
first=$(tps first "$SECS")
end=$(tps end "$SECS")
off=$(tps offset "$SECS")
ratio=$(awk -v a="$end" -v b="$first" 'BEGIN { printf "%.2f", a / b }')
oratio=$(awk -v a="$off" -v b="$first" 'BEGIN { printf "%.4f", a / b }')
echo "$N signals of one user"
echo "keyset first page:        $first tps"
echo "keyset page near the end: $end tps  (ratio to first page ${ratio}x)"
echo "OFFSET $POS page:       $off tps  (ratio to first page ${oratio}x)"
bench_goal "page near the end / first page ${ratio}x (>= 0.9x)" 'r >= 0.9' r="$ratio"
