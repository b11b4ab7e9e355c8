#!/usr/bin/env bash
# bench/bench_alerts.sh: alerts (run by bench/run.sh; docs/performance.md, "Alerts").
#   1. The outbox on the signal path. Each transaction fires a paper signal (ex7.fire_signal) and closes it
#      (ex7.close_signal): two events, each an in-app notification and, with subscriptions, two deliveries
#      (a verified email and a verified telegram channel per user). 32 pgbench clients over 128 users.
#      Compared: subscriptions enabled against the same users with their subscriptions disabled (goal: at
#      least 0.8x, "at most 20% fewer fired signals per second than without subscriptions"), and for the
#      record the same transactions with the alerts hook taken out of ex7._emit_event (in the benchmark's own
#      database). Runs alternate.
#   2. Worker throughput: N queued email deliveries sent by `ex7d worker` (one process, then two) to a
#      local stand-in of Resend (node:http answering {"id"}), claimed, sent and recorded. Every delivery must
#      be recorded as sent, each with its own provider id (anything else fails the run).
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh
SECS=${BENCH_SECONDS:-$(smoke 10 2)}
HALF=$(( (SECS + 1) / 2 ))
N=${BENCH_ALERTS_DELIVERIES:-$(smoke 5000 200)}
CLIENTS=$(smoke 32 4)
USERS=$(smoke 128 8)
q() { psql -X -q -v ON_ERROR_STOP=1 "$@"; }
bench_begin alerts

q >/dev/null <<SQL
-- the benchmark's own database: no quota in the way, documents accepted
UPDATE ex7.tiers SET alerts_per_day = 100000000;
DO \$\$
DECLARE u uuid; c1 uuid; c2 uuid;
BEGIN
    FOR i IN 1..$USERS LOOP
        u := ('00000000-0000-4000-8000-7e' || lpad(to_hex(8192 + i), 10, '0'))::uuid;
        PERFORM ex7.ensure_user(u);
        PERFORM ex7.accept_compliance(u, NULL, 'bench');
        PERFORM ex7.set_risk_limits(u, 'paper', '{"max_trades_per_day": 1000, "max_open_positions": 100, "daily_loss_limit": "1000000"}');
        PERFORM ex7.create_strategy(u, jsonb_build_object('name', 'alerts bench', 'instrument', 'MES', 'timeframe', '5m'));
        INSERT INTO ex7.alert_channels (user_id, type, destination, verified_at)
        VALUES (u, 'email', 'b' || i || '@example.com', now()) RETURNING id INTO c1;
        INSERT INTO ex7.alert_channels (user_id, type, destination, verified_at)
        VALUES (u, 'telegram', (100000 + i)::text, now()) RETURNING id INTO c2;
        INSERT INTO ex7.alert_subscriptions (user_id, channel_id, events) VALUES (u, c1, '{signal,signal_closed}'),
                                                                              (u, c2, '{signal,signal_closed}');
    END LOOP;
END \$\$;
CREATE TABLE bench_emit_with AS SELECT pg_get_functiondef('ex7._emit_event(uuid, text, uuid, uuid, jsonb)'::regprocedure) AS def;
CREATE TABLE bench_emit_nohook AS
SELECT regexp_replace(def, 'PERFORM ex7\._alert_signal_event\(.*?\);', '', 's') AS def FROM bench_emit_with;
SQL
[ "$(q -tAc "SELECT position('_alert_signal_event' IN def) FROM bench_emit_nohook")" = 0 ] ||
	{ echo "could not take the alerts hook out of ex7._emit_event"; exit 1; }

# run: the USERS users, chosen at random (no user reaches a limit in the runs' few seconds)
run() {
	cat >"$W/fire.sql" <<SQL
\\set u random(1, $USERS)
SELECT ex7.close_signal(u.id, (ex7.fire_signal(u.id, s.id, 'paper', 'long', 1, 5000, now()) #>> '{signal,id}')::uuid, 5002.50)
  FROM (SELECT ('00000000-0000-4000-8000-7e' || lpad(to_hex(8192 + :u), 10, '0'))::uuid AS id) u
  JOIN ex7.strategies s ON s.user_id = u.id;
SQL
	pgbench -n -c "$CLIENTS" -j 2 -T "$HALF" -f "$W/fire.sql" >"$W/pgbench.out" 2>"$W/pgbench.err" ||
		{ cat "$W/pgbench.err" >&2; return 1; }
	sed -n 's/^tps = \([0-9.]*\).*/\1/p' "$W/pgbench.out"
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
[ -n "$a1" ] && [ -n "$b1" ] && [ -n "$c1" ] && [ -n "$a2" ] && [ -n "$b2" ] && [ -n "$c2" ] || bench_fail "a pgbench run printed no tps"
blocked=$(q -tAc "SELECT count(*) FROM ex7.signals_blocked")
[ "$blocked" = 0 ] || bench_fail "the risk gate blocked $blocked fires: the runs measured refusals"
avg() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.0f", (a + b) / 2 }'; }
with=$(avg "$a1" "$a2"); without=$(avg "$b1" "$b2"); nohook=$(avg "$c1" "$c2")
ratio=$(awk -v a="$with" -v b="$without" 'BEGIN { printf "%.2f", a / b }')
ratio0=$(awk -v a="$with" -v b="$nohook" 'BEGIN { printf "%.2f", a / b }')
ratio1=$(awk -v a="$without" -v b="$nohook" 'BEGIN { printf "%.2f", a / b }')
echo "fire + close at $CLIENTS writers: 2 subscriptions a user $with tps ($a1, $a2); subscriptions disabled $without tps ($b1, $b2): ${ratio}x"
echo "  without the alerts hook (no notification, no probe) $nohook tps ($c1, $c2): with subscriptions ${ratio0}x, disabled ${ratio1}x"
echo "  outbox rows written: $(q -tAc "SELECT count(*) FROM ex7.alert_deliveries") deliveries, $(q -tAc "SELECT count(*) FROM ex7.notifications") notifications"

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
	                       WHERE e.type = 'email' ORDER BY x.id OFFSET (g % $USERS) LIMIT 1) s ON true
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
		ex7d_exec EX7_WORKER_BATCH=64 EX7_WORKER_INTERVAL_MS=50 RESEND_API_KEY=re_bench \
			RESEND_API_BASE="http://127.0.0.1:$SPORT" -- worker 2>>"$W/worker.log" &
		wp+=($!); PIDS+=($!)
	done
	# until every row is recorded; a worker that dies, or 120 s without the queue emptying, fails the run
	local deadline=$((SECONDS + 120))
	while [ "$(q -tAc "SELECT count(*) FROM ex7.alert_deliveries WHERE status = 'queued'")" != 0 ]; do
		for p in "${wp[@]}"; do kill -0 "$p" 2>/dev/null || { cat "$W/worker.log" >&2; bench_fail "an ex7d worker exited"; }; done
		[ $SECONDS -lt $deadline ] || { cat "$W/worker.log" >&2; bench_fail "the queue was not emptied in 120 s"; }
		sleep 0.05
	done
	end=$(date +%s.%N)
	for p in "${wp[@]}"; do kill "$p"; wait "$p" 2>/dev/null || true; done
	local sent dup
	sent=$(q -tAc "SELECT count(*) FROM ex7.alert_deliveries WHERE status = 'sent' AND event_key LIKE 'bench:$round:%'")
	dup=$(q -tAc "SELECT count(*) - count(DISTINCT provider_message_id) FROM ex7.alert_deliveries WHERE event_key LIKE 'bench:$round:%'")
	awk -v n="$n_email" -v s="$sent" -v a="$start" -v b="$end" -v w="$workers" -v d="$dup" \
		'BEGIN { printf "worker: %d deliveries by %d ex7d worker process(es) in %.2f s: %.0f deliveries/s (%d sent, %d duplicate provider ids)\n", n, w, b - a, n / (b - a), s, d }'
	[ "$sent" = "$n_email" ] && [ "$dup" = 0 ] || bench_fail "$sent of $n_email deliveries sent, $dup duplicate provider ids"
}
deliver 1 1
deliver 2 2
bench_goal "fire + close with subscriptions / disabled ${ratio}x (>= 0.8x)" 'r >= 0.8' r="$ratio"
