#!/usr/bin/env bash
# bench/bench_notify.sh: the cost of notifications on the signal path (run by bench/run.sh; the goal in
# docs/performance.md, "Notifications on the signal path": signal-firing transactions with their
# notifications at 32 concurrent writers: at least 0.8x the throughput of the same writes without them).
#   Each transaction fires a paper signal through ex7.fire_signal (risk gate, signal row, event, audit) and
#   closes it through ex7.close_signal (P&L, event): two events, two NOTIFYs. 32 pgbench clients over 128
#   users, 1 strategy each. A running ex7d LISTENs (it consumes every notification, as in production).
#   The baseline is the same transactions with the pg_notify call taken out of ex7._emit_event (replaced in
#   the benchmark's own database, which is dropped at the end). Runs alternate (with, without, with, without).
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh
SECS=${BENCH_SECONDS:-$(smoke 10 2)}
HALF=$(( (SECS + 1) / 2 ))
CLIENTS=$(smoke 32 4)
USERS=$(smoke 128 8)	# users per run; each run has its own, so that none reaches its 1,000 trades a day
q() { psql -X -q -v ON_ERROR_STOP=1 "$@"; }
bench_begin notify

q >/dev/null <<SQL
DO \$\$
DECLARE u uuid;
BEGIN
    FOR i IN 1..$((4 * USERS)) LOOP
        u := ('00000000-0000-4000-8000-' || lpad(to_hex(4096 + i), 12, '0'))::uuid;
        PERFORM ex7.ensure_user(u);
        PERFORM ex7.accept_compliance(u, NULL, 'bench');   -- firing and closing need it (docs/billing.md)
        PERFORM ex7.set_risk_limits(u, 'paper', '{"max_trades_per_day": 1000, "max_open_positions": 100, "daily_loss_limit": "1000000"}');
        PERFORM ex7.create_strategy(u, jsonb_build_object('name', 'notify bench', 'instrument', 'MES', 'timeframe', '5m'));
    END LOOP;
END \$\$;
CREATE TABLE bench_emit_with AS SELECT pg_get_functiondef('ex7._emit_event(uuid, text, uuid, uuid, jsonb)'::regprocedure) AS def;
CREATE TABLE bench_emit_without AS
SELECT regexp_replace(def, 'PERFORM pg_catalog\.pg_notify\(.*?\);', '', 's') AS def FROM bench_emit_with;
SQL
[ "$(q -tAc "SELECT position('pg_notify' IN def) FROM bench_emit_without")" = 0 ] ||
	{ echo "could not take pg_notify out of ex7._emit_event"; exit 1; }

# ex7d consumes the notifications (its LISTEN connection fans them out)
SECRET=bench-secret-bench-secret-bench-secret-0123
start_ex7d "$W/ex7d.log" EX7_JWT_SECRET=$SECRET EX7_LISTEN=127.0.0.1:$(free_tcp_port) || exit 1

# run N OFFSET: users OFFSET+1 .. OFFSET+USERS (so no user reaches its 1,000 trades a day over the runs)
run() {
	cat >"$W/fire.sql" <<SQL
\\set u random(1, $USERS) + $2
SELECT ex7.close_signal(u.id, (ex7.fire_signal(u.id, s.id, 'paper', 'long', 1, 5000, now()) #>> '{signal,id}')::uuid, 5002.50)
  FROM (SELECT ('00000000-0000-4000-8000-' || lpad(to_hex(4096 + :u), 12, '0'))::uuid AS id) u
  JOIN ex7.strategies s ON s.user_id = u.id;
SQL
	pgbench -n -c "$CLIENTS" -j 2 -T "$HALF" -f "$W/fire.sql" >"$W/pgbench.out" 2>"$W/pgbench.err" ||
		{ cat "$W/pgbench.err" >&2; return 1; }
	sed -n 's/^tps = \([0-9.]*\).*/\1/p' "$W/pgbench.out"
}
with_def() { q -tAc "SELECT def FROM bench_emit_$1" >"$W/def.sql" && q -f "$W/def.sql" >/dev/null; }

with_def with;    a1=$(run with 0)
with_def without; b1=$(run without "$USERS")
with_def with;    a2=$(run with $((2 * USERS)))
with_def without; b2=$(run without $((3 * USERS)))
with_def with
blocked=$(q -tAc "SELECT count(*) FROM ex7.signals_blocked")
[ "$blocked" = 0 ] || bench_fail "the risk gate blocked $blocked fires: the runs measured refusals"
[ -n "$a1" ] && [ -n "$b1" ] && [ -n "$a2" ] && [ -n "$b2" ] || { cat "$W/pgbench.err"; bench_fail "a pgbench run failed"; }
with=$(awk -v a="$a1" -v b="$a2" 'BEGIN { printf "%.0f", (a + b) / 2 }')
without=$(awk -v a="$b1" -v b="$b2" 'BEGIN { printf "%.0f", (a + b) / 2 }')
ratio=$(awk -v a="$with" -v b="$without" 'BEGIN { printf "%.2f", a / b }')
echo "fire + close at $CLIENTS writers: with notifications $with tps ($a1, $a2), without $without tps ($b1, $b2): ${ratio}x"
bench_goal "with notifications / without ${ratio}x (>= 0.8x)" 'r >= 0.8' r="$ratio"
