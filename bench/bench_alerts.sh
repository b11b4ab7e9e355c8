#!/usr/bin/env bash
# bench/bench_alerts.sh: alerts (run by bench/run.sh; docs/performance.md, "Alerts").
#   1. The outbox on the signal path. Each transaction fires a paper signal (ex7.fire_signal) and closes it
#      (ex7.close_signal): two events, each an in-app notification and, with subscriptions, two deliveries
#      (a verified email and a verified telegram channel per user). 32 pgbench clients over 128 users.
#      Compared: subscriptions enabled against the same users with their subscriptions disabled (goal: at
#      least 0.8x: at most 20% fewer fired signals per second than without subscriptions), and
#      for the record the same transactions with the alerts hook taken out of ex7._emit_event (this
#      throwaway database only). Runs alternate.
#   2. Worker throughput: N queued email deliveries sent by `ex7d worker` (one process, then two) to a
#      local stand-in of Resend (node:http answering {"id"}), claimed, sent and recorded.
set -euo pipefail
cd "$(dirname "$0")/.."
SECS=${BENCH_SECONDS:-10}
HALF=$(( (SECS + 1) / 2 ))
N=${BENCH_ALERTS_DELIVERIES:-5000}
W=$(mktemp -d)
PIDS=()
trap 'for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$W"' EXIT
q() { psql -X -q -v ON_ERROR_STOP=1 "$@"; }

q >/dev/null <<'SQL'
-- a throwaway database: no quota in the way, documents accepted
UPDATE ex7.tiers SET alerts_per_day = 100000000;
DO $$
DECLARE u uuid; c1 uuid; c2 uuid;
BEGIN
    FOR i IN 1..128 LOOP
        u := ('00000000-0000-4000-8000-7e' || lpad(to_hex(8192 + i), 10, '0'))::uuid;
        PERFORM ex7.ensure_user(u);
        IF pg_catalog.to_regprocedure('ex7.accept_compliance(uuid,jsonb,text)') IS NOT NULL THEN
            PERFORM ex7.accept_compliance(u, '{}', 'bench');
        END IF;
        PERFORM ex7.set_risk_limits(u, 'paper', '{"max_trades_per_day": 1000, "max_open_positions": 100, "daily_loss_limit": "1000000"}');
        PERFORM ex7.create_strategy(u, jsonb_build_object('name', 'alerts bench', 'instrument', 'MES', 'timeframe', '5m'));
        INSERT INTO ex7.alert_channels (user_id, type, destination, verified_at)
        VALUES (u, 'email', 'b' || i || '@example.com', now()) RETURNING id INTO c1;
        INSERT INTO ex7.alert_channels (user_id, type, destination, verified_at)
        VALUES (u, 'telegram', (100000 + i)::text, now()) RETURNING id INTO c2;
        INSERT INTO ex7.alert_subscriptions (user_id, channel_id, events) VALUES (u, c1, '{signal,signal_closed}'),
                                                                              (u, c2, '{signal,signal_closed}');
    END LOOP;
END $$;
CREATE TABLE bench_emit_with AS SELECT pg_get_functiondef('ex7._emit_event(uuid, text, uuid, uuid, jsonb)'::regprocedure) AS def;
CREATE TABLE bench_emit_nohook AS
SELECT regexp_replace(def, 'PERFORM ex7\._alert_signal_event\(.*?\);', '', 's') AS def FROM bench_emit_with;
SQL
[ "$(q -tAc "SELECT position('_alert_signal_event' IN def) FROM bench_emit_nohook")" = 0 ] ||
	{ echo "could not take the alerts hook out of ex7._emit_event"; exit 1; }

# run OFFSET: users OFFSET+1 .. OFFSET+128 share the 128 users (no user reaches a limit)
run() {
	cat >"$W/fire.sql" <<'SQL'
\set u random(1, 128)
SELECT ex7.close_signal(u.id, (ex7.fire_signal(u.id, s.id, 'paper', 'long', 1, 5000, now()) #>> '{signal,id}')::uuid, 5002.50)
  FROM (SELECT ('00000000-0000-4000-8000-7e' || lpad(to_hex(8192 + :u), 10, '0'))::uuid AS id) u
  JOIN ex7.strategies s ON s.user_id = u.id;
SQL
	pgbench -n -c 32 -j 2 -T "$HALF" -f "$W/fire.sql" 2>"$W/pgbench.err" | sed -n 's/^tps = \([0-9.]*\).*/\1/p'
}
subs() { q -c "UPDATE ex7.alert_subscriptions SET enabled = $1" >/dev/null; }
emit() { q -tAc "SELECT def FROM bench_emit_$1" >"$W/def.sql" && q -f "$W/def.sql" >/dev/null; }
# nothing claims the outbox during these runs: the rows stay queued (what a busy worker sees)
subs true;  a1=$(run)
subs false; b1=$(run)
emit nohook; c1=$(run); emit with
subs true;  a2=$(run)
subs false; b2=$(run)
emit nohook; c2=$(run); emit with
subs true
[ -n "$a1" ] && [ -n "$b2" ] && [ -n "$c2" ] || { cat "$W/pgbench.err"; exit 1; }
blocked=$(q -tAc "SELECT count(*) FROM ex7.signals_blocked")
[ "$blocked" = 0 ] || { echo "the risk gate blocked $blocked fires: the runs measured refusals"; exit 1; }
avg() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.0f", (a + b) / 2 }'; }
with=$(avg "$a1" "$a2"); without=$(avg "$b1" "$b2"); nohook=$(avg "$c1" "$c2")
ratio=$(awk -v a="$with" -v b="$without" 'BEGIN { printf "%.2f", a / b }')
ratio0=$(awk -v a="$with" -v b="$nohook" 'BEGIN { printf "%.2f", a / b }')
ratio1=$(awk -v a="$without" -v b="$nohook" 'BEGIN { printf "%.2f", a / b }')
echo "fire + close at 32 writers: 2 subscriptions a user $with tps ($a1, $a2); subscriptions disabled $without tps ($b1, $b2): ${ratio}x (goal >= 0.8x)"
echo "  without the alerts hook (no notification, no probe) $nohook tps ($c1, $c2): with subscriptions ${ratio0}x, disabled ${ratio1}x"
echo "  outbox rows written: $(q -tAc "SELECT count(*) FROM ex7.alert_deliveries") deliveries, $(q -tAc "SELECT count(*) FROM ex7.notifications") notifications"
fire_ok=$(awk -v r="$ratio" 'BEGIN { print (r >= 0.8) ? 1 : 0 }')

# 2. the worker against a local Resend stand-in
q -c "TRUNCATE ex7.alert_deliveries; TRUNCATE ex7.alert_usage" >/dev/null
cat >"$W/standin.mjs" <<'JS'
import http from 'node:http';
let n = 0;
const s = http.createServer((req, res) => {
  req.resume();
  req.on('end', () => { res.writeHead(200, { 'Content-Type': 'application/json' }); res.end(JSON.stringify({ id: `re_${++n}` })); });
});
s.keepAliveTimeout = 5000;
s.listen(0, '127.0.0.1', () => console.log(s.address().port));
JS
node "$W/standin.mjs" >"$W/standin.port" &
PIDS+=($!)
for _ in $(seq 1 50); do [ -s "$W/standin.port" ] && break; sleep 0.1; done
SPORT=$(cat "$W/standin.port")
queue() {
	q -c "INSERT INTO ex7.alert_deliveries (user_id, subscription_id, channel_id, channel_type, event, event_key, message)
	      SELECT s.user_id, s.id, c.id, 'email', 'signal', 'bench:' || $2 || ':' || g, '{\"title\": \"MES LONG 1 @ 5000.00\", \"text\": \"bench\"}'
	        FROM generate_series(1, $1) g
	        JOIN LATERAL (SELECT x.* FROM ex7.alert_subscriptions x JOIN ex7.alert_channels e ON e.id = x.channel_id
	                       WHERE e.type = 'email' ORDER BY x.id OFFSET (g % 128) LIMIT 1) s ON true
	        JOIN ex7.alert_channels c ON c.id = s.channel_id" >/dev/null
}
deliver() { # workers round: time until every queued row is recorded
	local workers=$1 round=$2
	q -c "UPDATE ex7.alert_subscriptions x SET enabled = true" >/dev/null
	queue "$N" "$round"
	local n_email
	n_email=$(q -tAc "SELECT count(*) FROM ex7.alert_deliveries WHERE status = 'queued'")
	local start end wp=()
	start=$(date +%s.%N)
	for _ in $(seq 1 "$workers"); do
		DATABASE_URL="host=$PGHOST port=$PGPORT dbname=$PGDATABASE user=$PGUSER" EX7_WORKER_BATCH=64 EX7_WORKER_INTERVAL_MS=50 \
			RESEND_API_KEY=re_bench RESEND_API_BASE="http://127.0.0.1:$SPORT" http/ex7d worker 2>>"$W/worker.log" &
		wp+=($!); PIDS+=($!)
	done
	while [ "$(q -tAc "SELECT count(*) FROM ex7.alert_deliveries WHERE status = 'queued'")" != 0 ]; do sleep 0.05; done
	end=$(date +%s.%N)
	for p in "${wp[@]}"; do kill "$p"; wait "$p" 2>/dev/null || true; done
	local sent dup
	sent=$(q -tAc "SELECT count(*) FROM ex7.alert_deliveries WHERE status = 'sent' AND event_key LIKE 'bench:$round:%'")
	dup=$(q -tAc "SELECT count(*) - count(DISTINCT provider_message_id) FROM ex7.alert_deliveries WHERE event_key LIKE 'bench:$round:%'")
	awk -v n="$n_email" -v s="$sent" -v a="$start" -v b="$end" -v w="$workers" -v d="$dup" \
		'BEGIN { printf "worker: %d deliveries by %d ex7d worker process(es) in %.2f s: %.0f deliveries/s (%d sent, %d duplicate provider ids)\n", n, w, b - a, n / (b - a), s, d }'
}
deliver 1 1
deliver 2 2
[ "$fire_ok" = 1 ]
