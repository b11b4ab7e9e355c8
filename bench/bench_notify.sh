#!/usr/bin/env bash
# bench/bench_notify.sh: the cost of notifications on the signal path (run by bench/run.sh; issue 4's goal:
# "Signal-firing transactions with their notifications at 32 concurrent writers: at least 0.8x the
# throughput of the same writes without notifications").
#   Each transaction fires a paper signal through ex7.fire_signal (risk gate, signal row, event, audit) and
#   closes it through ex7.close_signal (P&L, event): two events, two NOTIFYs. 32 pgbench clients over 128
#   users, 1 strategy each. A running ex7d LISTENs (it consumes every notification, as in production).
#   The baseline is the same transactions with the pg_notify call taken out of ex7._emit_event (replaced in
#   this throwaway database only, restored after). Runs alternate (with, without, with, without).
set -euo pipefail
cd "$(dirname "$0")/.."
SECS=${BENCH_SECONDS:-10}
HALF=$(( (SECS + 1) / 2 ))
W=$(mktemp -d)
PIDS=()
trap 'for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$W"' EXIT
q() { psql -X -q -v ON_ERROR_STOP=1 "$@"; }

q >/dev/null <<'SQL'
DO $$
DECLARE u uuid;
BEGIN
    FOR i IN 1..512 LOOP
        u := ('00000000-0000-4000-8000-' || lpad(to_hex(4096 + i), 12, '0'))::uuid;
        PERFORM ex7.ensure_user(u);
        PERFORM ex7.accept_compliance(u, '{}', 'bench');   -- issue 6: closing a signal is gated on it
        PERFORM ex7.set_risk_limits(u, 'paper', '{"max_trades_per_day": 1000, "max_open_positions": 100, "daily_loss_limit": "1000000"}');
        PERFORM ex7.create_strategy(u, jsonb_build_object('name', 'notify bench', 'instrument', 'MES', 'timeframe', '5m'));
    END LOOP;
END $$;
CREATE TABLE bench_emit_with AS SELECT pg_get_functiondef('ex7._emit_event(uuid, text, uuid, uuid, jsonb)'::regprocedure) AS def;
CREATE TABLE bench_emit_without AS
SELECT regexp_replace(def, 'PERFORM pg_catalog\.pg_notify\(.*?\);', '', 's') AS def FROM bench_emit_with;
SQL
[ "$(q -tAc "SELECT position('pg_notify' IN def) FROM bench_emit_without")" = 0 ] ||
	{ echo "could not take pg_notify out of ex7._emit_event"; exit 1; }

# ex7d consumes the notifications (its LISTEN connection fans them out)
SECRET=bench-secret-bench-secret-bench-secret-0123
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
EX7_JWT_SECRET=$SECRET EX7_LISTEN=127.0.0.1:$PORT DATABASE_URL="host=$PGHOST port=$PGPORT dbname=$PGDATABASE user=$PGUSER" \
	http/ex7d >/dev/null 2>"$W/ex7d.log" &
PIDS+=($!)
for _ in $(seq 1 50); do curl -s -o /dev/null "http://127.0.0.1:$PORT/api/health" && break; sleep 0.1; done

# run N OFFSET: users OFFSET+1 .. OFFSET+128 (so no user reaches its 1,000 trades a day over the runs)
run() {
	cat >"$W/fire.sql" <<SQL
\\set u random(1, 128) + $2
SELECT ex7.close_signal(u.id, (ex7.fire_signal(u.id, s.id, 'paper', 'long', 1, 5000, now()) #>> '{signal,id}')::uuid, 5002.50)
  FROM (SELECT ('00000000-0000-4000-8000-' || lpad(to_hex(4096 + :u), 12, '0'))::uuid AS id) u
  JOIN ex7.strategies s ON s.user_id = u.id;
SQL
	pgbench -n -c 32 -j 2 -T "$HALF" -f "$W/fire.sql" 2>"$W/pgbench.err" | sed -n 's/^tps = \([0-9.]*\).*/\1/p'
}
with_def() { q -tAc "SELECT def FROM bench_emit_$1" >"$W/def.sql" && q -f "$W/def.sql" >/dev/null; }

with_def with;    a1=$(run with 0)
with_def without; b1=$(run without 128)
with_def with;    a2=$(run with 256)
with_def without; b2=$(run without 384)
with_def with
blocked=$(q -tAc "SELECT count(*) FROM ex7.signals_blocked")
[ "$blocked" = 0 ] || { echo "the risk gate blocked $blocked fires: the runs measured refusals"; exit 1; }
[ -n "$a1" ] && [ -n "$b2" ] || { cat "$W/pgbench.err"; exit 1; }
with=$(awk -v a="$a1" -v b="$a2" 'BEGIN { printf "%.0f", (a + b) / 2 }')
without=$(awk -v a="$b1" -v b="$b2" 'BEGIN { printf "%.0f", (a + b) / 2 }')
ratio=$(awk -v a="$with" -v b="$without" 'BEGIN { printf "%.2f", a / b }')
echo "fire + close at 32 writers: with notifications $with tps ($a1, $a2), without $without tps ($b1, $b2): ${ratio}x (goal >= 0.8x)"
awk -v r="$ratio" 'BEGIN { exit !(r >= 0.8) }'
