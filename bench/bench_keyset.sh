#!/usr/bin/env bash
# bench/bench_keyset.sh: keyset pagination over 1,000,000 signals of one user (run by bench/run.sh with
# PGHOST/PGPORT/PGUSER/PGDATABASE set). Measures, side by side in one run with pgbench (prepared
# statements, 2 clients, as many transactions as fit in the window), the throughput of:
#   first: ex7.list_signals first page (limit 50)
#   end:   ex7.list_signals with the cursor of the row at position 999,900 (a page near the end)
#   offset: the same page by OFFSET 999900, built with the same json_agg (the baseline keyset replaces)
# Goal (issue "extension core"): end >= 0.9 x first. Exits non-zero when the goal is missed.
set -euo pipefail
SECS=${BENCH_SECONDS:-10}
U=00000000-0000-4000-8000-0000000b0001
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT

psql -X -q -v ON_ERROR_STOP=1 <<SQL
SELECT ex7.ensure_user('$U');
INSERT INTO ex7.strategies (id, user_id, name, instrument, timeframe, etag)
VALUES ('00000000-0000-4000-8000-0000000b0002', '$U', 'bench keyset', 'MNQ', '5m', 'e')
ON CONFLICT DO NOTHING;
INSERT INTO ex7.signals (user_id, strategy_id, strategy_version, instrument, timeframe, mode, side, size,
                         entry_price, bar_ts, fired_at)
SELECT '$U', '00000000-0000-4000-8000-0000000b0002', 1, 'MNQ', '5m', 'paper',
       CASE WHEN g % 2 = 0 THEN 'long' ELSE 'short' END, 1 + g % 3, 18000 + (g % 400) * 0.25,
       '2020-01-01'::timestamptz + (g / 3) * interval '1 minute',
       '2020-01-01'::timestamptz + (g / 3) * interval '1 minute'  -- three signals share each fired_at
  FROM generate_series(1, 1000000) g
 WHERE NOT EXISTS (SELECT 1 FROM ex7.signals WHERE user_id = '$U');
VACUUM ANALYZE ex7.signals;
SQL
CUR=$(psql -X -qAt -c "SELECT ex7.cursor_encode('signals', '$U', fired_at, id::text) FROM ex7.signals
                        WHERE user_id = '$U' ORDER BY fired_at DESC, id DESC OFFSET 999899 LIMIT 1")
# the page after that cursor must be the same 50 rows as OFFSET 999900
same=$(psql -X -qAt -c "SELECT (SELECT array_agg(x->>'id') FROM jsonb_array_elements(
                              ex7.list_signals('$U', p_cursor => '$CUR', p_limit => 50)->'items') x)
                         = (SELECT array_agg(id::text) FROM (SELECT id FROM ex7.signals WHERE user_id = '$U'
                              ORDER BY fired_at DESC, id DESC OFFSET 999900 LIMIT 50) s)")
[ "$same" = t ] || { echo "keyset page near the end differs from the OFFSET page"; exit 1; }

echo "SELECT ex7.list_signals('$U', p_limit => 50);" >"$W/first.sql"
echo "SELECT ex7.list_signals('$U', p_cursor => '$CUR', p_limit => 50);" >"$W/end.sql"
cat >"$W/offset.sql" <<SQL
SELECT jsonb_build_object('items', coalesce(jsonb_agg(ex7._signal_json(s) ORDER BY s.fired_at DESC, s.id DESC), '[]'))
  FROM (SELECT * FROM ex7.signals WHERE user_id = '$U' ORDER BY fired_at DESC, id DESC OFFSET 999900 LIMIT 50) s;
SQL

tps() { pgbench -n -M prepared -c 2 -j 2 -T "$2" -f "$W/$1.sql" 2>/dev/null | sed -n 's/^tps = \([0-9.]*\).*/\1/p'; }
first=$(tps first "$SECS")
end=$(tps end "$SECS")
off=$(tps offset "$SECS")
ratio=$(awk -v a="$end" -v b="$first" 'BEGIN { printf "%.2f", a / b }')
oratio=$(awk -v a="$off" -v b="$first" 'BEGIN { printf "%.4f", a / b }')
echo "keyset first page:        $first tps"
echo "keyset page near the end: $end tps  (ratio to first page ${ratio}x, goal >= 0.9x)"
echo "OFFSET 999900 page:       $off tps  (ratio to first page ${oratio}x)"
awk -v r="$ratio" 'BEGIN { exit !(r >= 0.9) }'
