#!/usr/bin/env bash
# bench/bench_engine.sh: the strategy engine (run by bench/run.sh; the goal in docs/performance.md, "Strategy
# engine"). 1,000 running strategies on MES 5m, 100 users with 10 each, a mix of two kinds with varied
# parameters:
#   A: SMA(fast) crosses above SMA(slow), fast 5..14, slow 20..49             -> enter_long
#   B: close crosses above the upper Bollinger band (period 10..29, 2 sigma)  -> enter_long
# over 600 stored bars. Side by side in one run:
#   eval: the C evaluator, ex7._evaluate, for every strategy on the last bar  vs  the same strategies as SQL
#         window-function queries (avg / stddev_pop over ROWS frames, lag for the cross), one per strategy.
#         Both must agree on every strategy's entry over the last 20 bars (a disagreement fails the run).
#         Goal: C >= 10x faster.
#   ingest: one bar through ex7.ingest_bar with the 1,000 runtimes dispatched (brackets, evaluation, risk
#         gate, fires, audit rows, events), reported per strategy.
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh
USERS=$(smoke 100 5)
PER_USER=$(smoke 10 4)
NS=$((USERS * PER_USER))
q() { psql -X -q -v ON_ERROR_STOP=1 "$@"; }
bench_begin engine

q >/dev/null <<SQL
-- 600 closed MES 5m bars, a seeded random walk on the tick grid (0.25), every ts a 5-minute boundary
SELECT setseed(0.42);
CREATE TEMP TABLE walk AS
SELECT g, round((5000 + sum((random() - 0.5) * 8) OVER (ORDER BY g)) * 4) / 4 AS c FROM generate_series(1, 601) g;
INSERT INTO ex7.bars (instrument, timeframe, ts, open, high, low, close, volume)
SELECT 'MES', '5m', timestamptz '2026-03-02 14:30+00' - (601 - g) * interval '5 minutes',
       c, c + 0.5, c - 0.5, c, 100
  FROM walk WHERE g <= 600;
-- written directly, as an import would: the blocks follow by a sync (docs/market.md, "Bar blocks")
SELECT ex7._bar_blocks_sync('MES', '5m', '-infinity', 'infinity');

CREATE TABLE bench_strategies (id uuid PRIMARY KEY, user_id uuid, kind text, p1 int, p2 int);
DO \$\$
DECLARE
    u uuid;
    s uuid;
    k int := 0;
    g jsonb;
BEGIN
    FOR i IN 1..$USERS LOOP
        u := ('00000000-0000-4000-8000-' || lpad(to_hex(i), 12, '0'))::uuid;
        PERFORM ex7.ensure_user(u);
        -- runtimes need the compliance documents accepted, and 10 running runtimes a paid tier (docs/billing.md)
        PERFORM ex7.accept_compliance(u, NULL, 'bench');
        UPDATE ex7.users SET tier = 'strategist' WHERE id = u;
        PERFORM ex7.set_risk_limits(u, 'paper', '{"max_trades_per_day": 1000, "max_open_positions": 100, "daily_loss_limit": "1000000"}');
        FOR j IN 1..$PER_USER LOOP
            k := k + 1;
            IF k % 2 = 0 THEN
                g := jsonb_build_object('nodes', jsonb_build_array(
                        '{"id": "c", "type": "close"}'::jsonb,
                        jsonb_build_object('id', 'f', 'type', 'sma', 'params', jsonb_build_object('period', 5 + k % 10)),
                        jsonb_build_object('id', 's', 'type', 'sma', 'params', jsonb_build_object('period', 20 + k % 30)),
                        '{"id": "x", "type": "crosses_above"}'::jsonb,
                        '{"id": "e", "type": "enter_long", "params": {"size": 1}}'::jsonb),
                    'edges', '[{"from": "c", "to": "f", "port": "in"}, {"from": "c", "to": "s", "port": "in"},
                               {"from": "f", "to": "x", "port": "a"}, {"from": "s", "to": "x", "port": "b"},
                               {"from": "x", "to": "e", "port": "when"}]'::jsonb);
            ELSE
                g := jsonb_build_object('nodes', jsonb_build_array(
                        '{"id": "c", "type": "close"}'::jsonb,
                        jsonb_build_object('id', 'u', 'type', 'bollinger', 'params',
                                           jsonb_build_object('period', 10 + k % 20, 'stddev', 2, 'band', 'upper')),
                        '{"id": "x", "type": "crosses_above"}'::jsonb,
                        '{"id": "e", "type": "enter_long", "params": {"size": 1}}'::jsonb),
                    'edges', '[{"from": "c", "to": "u", "port": "in"}, {"from": "c", "to": "x", "port": "a"},
                               {"from": "u", "to": "x", "port": "b"}, {"from": "x", "to": "e", "port": "when"}]'::jsonb);
            END IF;
            s := (ex7.create_strategy(u, jsonb_build_object('name', 'bench ' || k, 'instrument', 'MES',
                                                             'timeframe', '5m', 'graph', g)) ->> 'id')::uuid;
            PERFORM ex7.promote_strategy(u, s);
            PERFORM ex7.start_runtime(u, s, 'paper');
            INSERT INTO bench_strategies VALUES (s, u, CASE WHEN k % 2 = 0 THEN 'sma' ELSE 'boll' END,
                CASE WHEN k % 2 = 0 THEN 5 + k % 10 ELSE 10 + k % 20 END,
                CASE WHEN k % 2 = 0 THEN 20 + k % 30 END);
        END LOOP;
    END LOOP;
END \$\$;

-- The same entries as SQL window functions over the last bars up to p_ts (enough for the longest
-- window plus the previous bar the cross needs).
CREATE FUNCTION sql_entry(p_kind text, p1 int, p2 int, p_ts timestamptz) RETURNS boolean LANGUAGE plpgsql STABLE AS \$f\$
DECLARE r boolean;
BEGIN
    IF p_kind = 'sma' THEN
        SELECT coalesce(pf <= ps AND f > s, false) INTO r FROM (
            SELECT ts, f, s, lag(f) OVER (ORDER BY ts) pf, lag(s) OVER (ORDER BY ts) ps FROM (
                SELECT ts, CASE WHEN count(*) OVER wf = p1 THEN avg(close) OVER wf END f,
                           CASE WHEN count(*) OVER ws = p2 THEN avg(close) OVER ws END s
                  FROM (SELECT ts, close FROM ex7.bars WHERE instrument = 'MES' AND timeframe = '5m' AND ts <= p_ts
                         ORDER BY ts DESC LIMIT p2 + 1) b
                WINDOW wf AS (ORDER BY ts ROWS BETWEEN p1 - 1 PRECEDING AND CURRENT ROW),
                       ws AS (ORDER BY ts ROWS BETWEEN p2 - 1 PRECEDING AND CURRENT ROW)) w) x
         ORDER BY ts DESC LIMIT 1;
    ELSE
        SELECT coalesce(pc <= pu AND c > u, false) INTO r FROM (
            SELECT ts, c, u, lag(c) OVER (ORDER BY ts) pc, lag(u) OVER (ORDER BY ts) pu FROM (
                SELECT ts, close c, CASE WHEN count(*) OVER wb = p1
                                         THEN avg(close) OVER wb + 2 * stddev_pop(close) OVER wb END u
                  FROM (SELECT ts, close FROM ex7.bars WHERE instrument = 'MES' AND timeframe = '5m' AND ts <= p_ts
                         ORDER BY ts DESC LIMIT p1 + 1) b
                WINDOW wb AS (ORDER BY ts ROWS BETWEEN p1 - 1 PRECEDING AND CURRENT ROW)) w) x
         ORDER BY ts DESC LIMIT 1;
    END IF;
    RETURN r;
END \$f\$;
SQL

LAST="timestamptz '2026-03-02 14:25+00'"
# agreement over the last 20 bars: the entries of every strategy, C vs SQL
mism=$(q -tA -c "
SELECT count(*) FROM bench_strategies b, generate_series(0, 19) k,
       LATERAL (SELECT $LAST - k * interval '5 minutes' AS ts) t,
       LATERAL (SELECT v.graph FROM ex7.strategy_versions v WHERE v.strategy_id = b.id) g
 WHERE (ex7._evaluate(b.id, 1, g.graph, 'MES', '5m', t.ts) ->> 'enter_long' IS NOT NULL)
       IS DISTINCT FROM sql_entry(b.kind, b.p1, b.p2, t.ts)")
fires=$(q -tA -c "
SELECT count(*) FROM bench_strategies b, generate_series(0, 19) k,
       LATERAL (SELECT v.graph FROM ex7.strategy_versions v WHERE v.strategy_id = b.id) g
 WHERE ex7._evaluate(b.id, 1, g.graph, 'MES', '5m', $LAST - k * interval '5 minutes') ->> 'enter_long' IS NOT NULL")

# timing: each side evaluates all 1,000 strategies on the last bar. One session, as the dispatcher's pooled
# connection is: a first run of each side (cold: the C side compiles and caches the 1,000 plans, PL/pgSQL
# plans its queries), then 5 runs of each, alternating; the best of each counts. Both queries read the
# strategies' parameters from a table; the C side also joins the versions for the graph.
{
	echo '\timing on'
	for _ in 0 1 2 3 4 5; do
		cat <<SQL
SELECT count(*) FROM bench_strategies b JOIN ex7.strategy_versions v ON v.strategy_id = b.id
 WHERE ex7._evaluate(b.id, 1, v.graph, 'MES', '5m', $LAST) IS NOT NULL;
SELECT count(*) FROM bench_strategies b WHERE sql_entry(b.kind, b.p1, b.p2, $LAST) IS NOT NULL;
SQL
	done
} >"$W/time.sql"
times=$(q -f "$W/time.sql" | sed -n 's/^Time: \([0-9.]*\) ms.*/\1/p')
cold_c=$(echo "$times" | sed -n 1p); cold_sql=$(echo "$times" | sed -n 2p)
best_c=$(echo "$times" | sed -n '3~2p' | sort -g | head -1)
best_sql=$(echo "$times" | sed -n '4~2p' | sort -g | head -1)

# one bar through the whole pipeline with 1,000 running strategies (the first bar also starts them: warm
# them up with one, then time the next, in the same session, as a pooled connection of ex7d runs them)
out=$(q -tA -c "SELECT ex7.ingest_bar('MES', '5m', timestamptz '2026-03-02 14:30+00', 5000, 5000.5, 4999.5, 5000, 100) IS NULL" \
	-c '\timing on' -c "SELECT ex7.ingest_bar('MES', '5m', timestamptz '2026-03-02 14:35+00', 5000, 5010, 4999.5, 5010, 100) -> 'dispatch' -> 'decisions'")
ingest=$(echo "$out" | sed -n 's/^Time: \([0-9.]*\) ms.*/\1/p')
# every runtime must have been dispatched without error: the decisions' counts, 'error' left out, add up to NS
decisions=$(q -tA -c "SELECT coalesce(sum(v::int), 0) FROM jsonb_each_text('$(echo "$out" | grep '^{')'::jsonb) x(k, v) WHERE k <> 'error'")
echo "decisions on the ingested bar: $(echo "$out" | grep '^{')"

ratio=$(awk -v c="$best_c" -v s="$best_sql" 'BEGIN { printf "%.1f", s / c }')
echo "evaluation of $NS strategies on one bar: C $best_c ms ($(awk -v c="$best_c" -v n="$NS" 'BEGIN { printf "%.1f", c * 1000 / n }') us per strategy), SQL window functions $best_sql ms: ${ratio}x"
echo "first run in the session: C $cold_c ms (compiles the $NS plans), SQL window functions $cold_sql ms"
echo "agreement over 20 bars x $NS strategies: $mism mismatches, $fires entries"
echo "one bar ingested with $NS running strategies dispatched: $ingest ms ($(awk -v t="$ingest" -v n="$NS" 'BEGIN { printf "%.0f", t * 1000 / n }') us per strategy, all included)"
[ "$mism" = 0 ] || bench_fail "C and SQL disagree on $mism entries"
[ "$decisions" = "$NS" ] || bench_fail "the ingested bar dispatched $decisions runtimes, not $NS"
bench_goal "C / SQL window functions ${ratio}x (>= 10x)" 'r >= 10' r="$ratio"
