#!/usr/bin/env bash
# bench/bench_sse.sh: the signal stream, GET /api/signals/stream (run by bench/run.sh; issue 4's goals). One
# ex7d with its default stream settings (heartbeat 15 s, buffer cap 256 KiB), rate limits off, on loopback:
#   small: 10 clients of one user, signals fired at a steady 20/s for 30 s: latency from just before
#          the fire (its transaction includes the fire and the commit) to the frame at the client
#   idle:  then 10,000 more clients of 1,000 other users, idle: ex7d's resident memory per idle client,
#          from /proc/PID/status VmRSS                                               (goal <= 8 KiB)
#   large: the same 10 clients and the same rate with the 10,010 connected: p99      (goal <= 5x small's)
# bench/sse_clients.mjs is the client side (raw sockets, one node process).
set -euo pipefail
cd "$(dirname "$0")/.."
SECS=${BENCH_SECONDS:-30}
RATE=${BENCH_SSE_RATE:-20}
IDLE=${BENCH_SSE_CLIENTS:-10000}
IDLE_USERS=1000
# 10,000 sockets on each side: the default limit is often 1024
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"
[ "$(ulimit -n)" -gt $((IDLE + 100)) ] || { echo "ulimit -n $(ulimit -n) is too low for $IDLE clients"; exit 1; }
H=00000000-0000-4000-8000-0000000b5001
W=$(mktemp -d)
PIDS=()
trap 'for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$W"' EXIT

psql -X -q -v ON_ERROR_STOP=1 >/dev/null <<SQL
SELECT ex7.ensure_user('$H');
INSERT INTO ex7.risk_limits (user_id, mode, daily_loss_limit, max_trades_per_day, max_open_positions, max_consecutive_losses)
VALUES ('$H', 'paper', 1e12, 1000000000, 1000000000, 1000000000)
ON CONFLICT (user_id, mode) DO UPDATE SET max_trades_per_day = 1000000000, max_open_positions = 1000000000;
SQL
# straight into the tables: the stream does not care what the strategy's graph is
SID=$(psql -X -qAt -c "WITH s AS (INSERT INTO ex7.strategies (user_id, name, instrument, timeframe, etag)
    VALUES ('$H', 'bench sse', 'MNQ', '5m', 'bench') ON CONFLICT DO NOTHING RETURNING id, user_id),
  v AS (INSERT INTO ex7.strategy_versions (strategy_id, version, user_id, graph) SELECT id, 1, user_id, '{}' FROM s)
  SELECT id FROM s UNION ALL SELECT id FROM ex7.strategies WHERE user_id = '$H' AND name = 'bench sse'" | head -1)

SECRET=bench-secret-bench-secret-bench-secret-0123
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
EX7_JWT_SECRET=$SECRET EX7_LISTEN=127.0.0.1:$PORT EX7_RATE_LIMITS=off \
	DATABASE_URL="host=$PGHOST port=$PGPORT dbname=$PGDATABASE user=$PGUSER" http/ex7d >/dev/null 2>"$W/ex7d.log" &
EX7D_PID=$!
PIDS+=($EX7D_PID)
up=0
for _ in $(seq 1 50); do curl -s -o /dev/null "http://127.0.0.1:$PORT/api/health" && { up=1; break; }; sleep 0.1; done
[ $up = 1 ] || { cat "$W/ex7d.log"; exit 1; }

node bench/sse_clients.mjs "http://127.0.0.1:$PORT" "$EX7D_PID" "$SECRET" "$H" "$SID" 00000000-0000-4000-8000-b6 \
	"$IDLE_USERS" "$IDLE" "$SECS" "$RATE" >"$W/result.json" || { tail -5 "$W/ex7d.log"; exit 1; }
python3 - "$W/result.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
s, l = r['small'], r['large']
for p in (s, l):
    print(f"{p['phase']}: {p['events']} events x 10 clients, p50 {p['p50_ms']:.2f} ms, p99 {p['p99_ms']:.2f} ms, "
          f"max {p['max_ms']:.2f} ms, missing {p['missing']}")
print(f"{r['idle_clients']} idle clients connected in {r['connect_seconds']:.1f} s; ex7d VmRSS {r['rss_kib']['before']} KiB "
      f"-> {r['rss_kib']['idle']} KiB idle -> {r['rss_kib']['after']} KiB after the run: "
      f"{r['bytes_per_idle_client']} bytes per idle client (goal <= 8192)")
print(f"p99 at {r['idle_clients'] + 10} clients / p99 at 10 clients: {r['p99_ratio']:.2f}x (goal <= 5x)")
ok = r['bytes_per_idle_client'] <= 8192 and r['p99_ratio'] <= 5 and s['missing'] == 0 and l['missing'] == 0
sys.exit(0 if ok else 1)
PY
