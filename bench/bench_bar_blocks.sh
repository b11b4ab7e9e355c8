#!/usr/bin/env bash
# bench/bench_bar_blocks.sh: bar blocks (ext/barblocks.c, docs/market.md "Bar blocks"), run by bench/run.sh.
#   read:   1,000,000 1-minute bars (bench_backtest.sh's random walk, as NQ 1m) read in chunks of 8192 as the
#           backtest does, through ex7.bar_blocks (blocks_scan) and through ex7.bars' primary key (bars_scan),
#           without and with the exact high/low/close; best and median of 5 runs. Goal: blocks < 30 ms.
#   write:  the same 1M-row INSERT ... SELECT into ex7.bars alone and followed by the block sync of the series
#           (ex7._bar_blocks_sync over all time: what a bulk load must do, no trigger keeps the blocks), and
#           2,000 single-bar ex7.ingest_bar calls (ES 5m) without and with the sync ingest makes for each bar
#           (without: ex7._bar_blocks_sync replaced by a no-op inside the transaction), each in a transaction
#           rolled back, twice, alternating, best of two (the machine's load varies); the sync's own time on
#           the 1M rows and per ingest_bar call (track_functions); ex7.bar_blocks_rebuild.
# The blocks must hold exactly the series' bars (ex7.bar_blocks_check and the count read back; a difference
# fails the run). The goal (docs/performance.md and docs/market.md, "Bar blocks"): reading 1M bars through the
# blocks under 30 ms.
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh
q() { psql -X -q -v ON_ERROR_STOP=1 "$@"; }
ms() { sed -n 's/^Time: \([0-9.]*\) ms.*/\1/p' | tail -1; }	# the last \timing line of a psql run
N=${BAR_BLOCKS_BARS:-$(smoke 1000000 20000)}
INGESTS=$(smoke 2000 200)
bench_begin bar_blocks

INSERT_SQL="
INSERT INTO ex7.bars (instrument, timeframe, ts, open, high, low, close, volume)
SELECT 'NQ', '1m', ts, o, greatest(o, c) + 0.25 * (g % 3), least(o, c) - 0.25 * (g % 2), c, 10
  FROM (SELECT g, ts, c, lag(c, 1, c) OVER (ORDER BY g) AS o
          FROM (SELECT g, timestamptz '2023-01-02 00:00+00' + g * interval '1 minute' AS ts,
                       4000 + 0.25 * sum(floor(random() * 9)::int - 4) OVER (ORDER BY g) AS c
                  FROM generate_series(1, $N) g) w) b"
# 5m close times inside the Globex hours: Monday to Thursday 00:05 to 21:00 UTC (the break is 22:00-23:00 UTC)
INGEST_SQL="
SELECT count(ex7.ingest_bar('ES', '5m', t.ts, 5000.25, 5001, 4999.5, 5000.75, 7, false))
  FROM (SELECT d + m * interval '1 minute' AS ts
          FROM generate_series(timestamptz '2025-01-06 00:00Z', '2025-01-17', interval '1 day') d,
               generate_series(5, 21 * 60, 5) m
         WHERE extract(isodow FROM d) <= 4 ORDER BY 1 LIMIT $INGESTS) t"
SYNC_SQL="SELECT ex7._bar_blocks_sync('NQ', '1m', '-infinity', 'infinity')"
# without the sync: a no-op in its place for the transaction (the DDL rolls back with it)
NOSYNC="CREATE OR REPLACE FUNCTION ex7._bar_blocks_sync(p_instrument text, p_timeframe text, p_from timestamptz,
        p_to timestamptz) RETURNS bigint LANGUAGE sql AS 'SELECT 0::bigint'"

# run the statements $2... with (1) or without (0) the block sync in a transaction rolled back (ex7.bars
# vacuumed first, so that every run starts from the same table); prints their ms, summed
timed() {	# $1: 1 with the sync, 0 without; $2...: the statements
	local args=(-c "BEGIN" -c "$([ "$1" = 1 ] && echo "SELECT 1" || echo "$NOSYNC")" -c "SELECT setseed(0.5)" -c '\timing on')
	shift
	for st in "$@"; do args+=(-c "$st"); done
	q -c "VACUUM ex7.bars, ex7.bar_blocks"
	q "${args[@]}" -c '\timing off' -c "ROLLBACK" | sed -n 's/^Time: \([0-9.]*\) ms.*/\1/p' |
		awk '{ t += $1 } END { printf "%.3f", t }'
}
min() { sort -n | head -1; }

# writes: without, with, without, with (the machine's load varies); the best of each
twice() {	# $1: the statement without the sync, $2...: with it; prints "best without" "best with"
	local a b c d w=$1
	shift
	a=$(timed 0 "$w"); b=$(timed 1 "$@"); c=$(timed 0 "$w"); d=$(timed 1 "$@")
	printf '%s %s' "$(printf '%s\n' "$a" "$c" | min)" "$(printf '%s\n' "$b" "$d" | min)"
}
read -r bulk_without bulk_with <<<"$(twice "$INSERT_SQL" "$INSERT_SQL" "$SYNC_SQL")"
read -r ingest_without ingest_with <<<"$(twice "$INGEST_SQL" "$INGEST_SQL")"
# the 1M bars for the reads, kept, and the sync's own time on them
sync_ms=$(q -c "SELECT setseed(0.5)" -c "$INSERT_SQL" -c '\timing on' -c "$SYNC_SQL" | ms)
# ... and per single-bar ingest (track_functions: the call's total time, in the transaction's statistics)
sync_us=$(q -tA -c "SET track_functions = 'all'" -c "BEGIN" -c "$INGEST_SQL" \
	-c "SELECT round((total_time * 1000 / calls)::numeric, 1) FROM pg_stat_xact_user_functions WHERE funcname = '_bar_blocks_sync'" \
	-c "ROLLBACK" | tail -1)
rebuild_ms=$(q -c '\timing on' -c "SELECT ex7.bar_blocks_rebuild('NQ', '1m')" | ms)
q -c "VACUUM ANALYZE ex7.bars, ex7.bar_blocks"
read -r blocks bytes <<<"$(q -tA -F ' ' -c "SELECT count(*), sum(pg_column_size(data)) FROM ex7.bar_blocks WHERE instrument = 'NQ' AND timeframe = '1m'")"

# reads: best and median of 5 in one session each
scan() {	# $1 source, $2 exact: prints "best median"
	local args=(-c '\timing on')
	for _ in 1 2 3 4 5; do
		args+=(-c "SELECT ex7._bar_blocks_scan_bench('NQ', '1m', '-infinity', 'infinity', '$1', $2)")
	done
	q "${args[@]}" | sed -n 's/^Time: \([0-9.]*\) ms.*/\1/p' | sort -n |
		awk '{ a[NR] = $1 } END { printf "%s %s", a[1], a[3] }'
}
read -r bb bm <<<"$(scan blocks false)"
read -r bbe bme <<<"$(scan blocks true)"
read -r sb sm <<<"$(scan bars false)"
read -r sbe sme <<<"$(scan bars true)"
got=$(q -tA -c "SELECT ex7._bar_blocks_scan_bench('NQ', '1m', '-infinity', 'infinity')")

r() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", a / b }'; }
echo "bar blocks: $got bars in $blocks blocks, $bytes bytes ($(awk -v a="$bytes" -v n="$got" 'BEGIN { printf "%.1f", a / n }') a bar)"
echo "  read $got bars (chunks of 8192): blocks_scan best $bb ms (median $bm), with exact prices $bbe ms ($bme)"
echo "                                   bars_scan   best $sb ms (median $sm), with tuple ids $sbe ms ($sme): $(r "$sb" "$bb")x"
pct() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%+.0f%%", (a - b) / b * 100 }'; }
echo "  $N-row INSERT ... SELECT: $bulk_without ms alone, $bulk_with ms with the block sync of the series after it ($(pct "$bulk_with" "$bulk_without")); the sync itself $sync_ms ms; bar_blocks_rebuild of the series $rebuild_ms ms"
echo "  ex7.ingest_bar (one bar, $INGESTS calls): $(awk -v a="$ingest_without" -v n="$INGESTS" 'BEGIN { printf "%.1f", a * 1000 / n }') us a call without the block sync, $(awk -v a="$ingest_with" -v n="$INGESTS" 'BEGIN { printf "%.1f", a * 1000 / n }') us with it ($(pct "$ingest_with" "$ingest_without")); the sync itself $sync_us us a call (track_functions)"
[ "$got" = "$N" ] || bench_fail "the blocks hold $got bars, the series $N"
check=$(q -tA -c "SELECT ex7.bar_blocks_check('NQ', '1m') ->> 'ok'")
[ "$check" = true ] || bench_fail "ex7.bar_blocks_check: the blocks differ from the bars: $(q -tA -c "SELECT ex7.bar_blocks_check('NQ', '1m')")"
bench_goal "blocks_scan of $got bars $bb ms (< 30 ms)" 'a < 30' a="$bb"
