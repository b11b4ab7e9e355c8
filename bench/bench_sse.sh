#!/usr/bin/env bash
# bench/bench_sse.sh: the signal stream, GET /api/signals/stream (run by bench/run.sh; the stream's goals in
# docs/performance.md, "Signal stream"). One ex7d with its default stream settings (heartbeat 15 s, buffer cap
# 256 KiB), rate limits off, on loopback:
#   small: 10 clients of one user, signals fired at a steady 20/s for 30 s: latency from just before
#          the fire (its transaction includes the fire and the commit) to the frame at the client
#   idle:  then 10,000 more clients of 1,000 other users, idle: ex7d's resident memory per idle client,
#          from /proc/PID/status VmRSS                                               (goal <= 8 KiB)
#   large: the same 10 clients and the same rate with the 10,010 connected: p99      (goal <= 5x small's)
# Every event must reach every hot client (a missing one fails the run). bench/sse_clients.mjs is the client
# side (raw sockets, one node process). Every user accepts the compliance documents first, as a client does
# (POST /api/billing/compliance/accept, ex7.accept_compliance): the stream answers 412 until then
# (docs/billing.md, "Compliance").
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh
SECS=${BENCH_SECONDS:-$(smoke 30 2)}
RATE=${BENCH_SSE_RATE:-20}
IDLE=${BENCH_SSE_CLIENTS:-$(smoke 10000 50)}
IDLE_USERS=$(smoke 1000 10)
# 10,000 sockets on each side: the default limit is often 1024
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"
[ "$(ulimit -n)" -gt $((IDLE + 100)) ] || { echo "ulimit -n $(ulimit -n) is too low for $IDLE clients"; exit 1; }
H=00000000-0000-4000-8000-0000000b5001
IDLE_PREFIX=00000000-0000-4000-8000-b6
bench_begin sse

psql -X -q -v ON_ERROR_STOP=1 >/dev/null <<SQL
SELECT ex7.ensure_user('$H');
SELECT ex7.accept_compliance('$H', NULL, 'bench');
-- the idle clients' users, named as sse_clients.mjs names them
SELECT count(ex7.accept_compliance(u, NULL, 'bench'))
  FROM (SELECT ('$IDLE_PREFIX' || lpad(k::text, 36 - length('$IDLE_PREFIX'), '0'))::uuid AS u
          FROM generate_series(0, $IDLE_USERS - 1) k) x, LATERAL ex7.ensure_user(x.u) e;
-- The hot user fires more signals (and keeps them open) than ex7.set_risk_limits allows (1,000 a day, 100
-- open): the caps are raised in the table itself, in this throwaway database only.
INSERT INTO ex7.risk_limits (user_id, mode, daily_loss_limit, max_trades_per_day, max_open_positions, max_consecutive_losses)
VALUES ('$H', 'paper', 1e12, 1000000000, 1000000000, 1000000000)
ON CONFLICT (user_id, mode) DO UPDATE SET max_trades_per_day = 1000000000, max_open_positions = 1000000000;
SQL
SID=$(psql -X -qAt -v ON_ERROR_STOP=1 -c "SELECT ex7.create_strategy('$H', '{\"name\": \"bench sse\", \"instrument\": \"MNQ\", \"timeframe\": \"5m\"}') ->> 'id'")

SECRET=bench-secret-bench-secret-bench-secret-0123
PORT=$(free_tcp_port)
start_ex7d "$W/ex7d.log" EX7_JWT_SECRET=$SECRET EX7_LISTEN=127.0.0.1:$PORT EX7_RATE_LIMITS=off || exit 1

node bench/sse_clients.mjs "http://127.0.0.1:$PORT" "$EX7D_PID" "$SECRET" "$H" "$SID" "$IDLE_PREFIX" \
	"$IDLE_USERS" "$IDLE" "$SECS" "$RATE" >"$W/result.json" || { tail -5 "$W/ex7d.log"; exit 1; }
python3 - "$W/result.json" "$W/values" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
s, l = r['small'], r['large']
for p in (s, l):
    print(f"{p['phase']}: {p['events']} events x 10 clients, p50 {p['p50_ms']:.2f} ms, p99 {p['p99_ms']:.2f} ms, "
          f"max {p['max_ms']:.2f} ms, missing {p['missing']}")
print(f"{r['idle_clients']} idle clients connected in {r['connect_seconds']:.1f} s; ex7d VmRSS {r['rss_kib']['before']} KiB "
      f"-> {r['rss_kib']['idle']} KiB idle -> {r['rss_kib']['after']} KiB after the run: "
      f"{r['bytes_per_idle_client']} bytes per idle client")
print(f"p99 at {r['idle_clients'] + 10} clients / p99 at 10 clients: {r['p99_ratio']:.2f}x")
open(sys.argv[2], 'w').write(f"{r['bytes_per_idle_client']} {r['p99_ratio']:.2f} {s['missing'] + l['missing']}\n")
PY
read -r mem_ok p99_ok missing <"$W/values"
[ "$missing" = 0 ] || bench_fail "$missing events did not reach a hot client"
bench_goal "memory per idle stream $mem_ok bytes (<= 8192)" 'm <= 8192' m="$mem_ok"
bench_goal "p99 with $((IDLE + 10)) streams / p99 with 10: ${p99_ok}x (<= 5x)" 'r <= 5' r="$p99_ok"
