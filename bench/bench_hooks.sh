#!/usr/bin/env bash
# bench/bench_hooks.sh: the webhook intake (docs/webhooks.md) through ex7d against the same alerts called in
# SQL (run by bench/run.sh; docs/performance.md, "Webhook intake"). Side by side in one run, same
# concurrency (4 connections, 2 threads), 10 s each:
#   http: POST /api/hooks/{id} with wrk, TradingView alert bodies with a unique order id each, alternating
#         "buy, sentiment long" (an entry through the risk gate) and "sell, sentiment flat" (its close)
#         over 8 users' hooks                                                  (goal >= 0.7x of sql)
#   sql:  pgbench running SELECT ex7.hook_intake(hook, the same bodies) over the same hooks
# with wrk's p99 beside pgbench's. Every answer must be a 200 with outcome accepted: a refusal (rate limit,
# risk gate, duplicate) would be measured instead of the work, so the hooks' tier takes any number of alerts,
# the users' risk limits are the widest the gate allows and every close is a win (40 ticks above the entry):
# no loss breaker trips.
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh
SECS=${BENCH_SECONDS:-$(smoke 10 1)}
CONC=${BENCH_CONC:-4}
USERS=8
if ! command -v wrk >/dev/null 2>&1; then
	if [ "$(id -u)" -eq 0 ]; then
		export DEBIAN_FRONTEND=noninteractive
		apt-get install -y -qq wrk >/dev/null 2>&1 ||
			{ apt-get update -qq && apt-get install -y -qq wrk >/dev/null; } || bench_fail "could not install wrk"
	else
		echo "install wrk (apt-get install wrk)"; exit 1
	fi
fi
bench_begin hooks

# 8 users on the strategist tier, whose hooks take any number of alerts; each with a ready MNQ strategy and
# one hook (its secret from ex7.create_hook)
psql -X -q -v ON_ERROR_STOP=1 >/dev/null <<SQL
SELECT ex7.set_tier_caps('strategist', '{"hook_alerts_per_minute": 1000000000, "hook_alerts_per_day": 1000000000}');
CREATE TABLE bench_hooks (k integer PRIMARY KEY, id uuid NOT NULL, secret text NOT NULL);
DO \$\$
DECLARE
    u uuid;
    s uuid;
    h jsonb;
BEGIN
    FOR k IN 1 .. $USERS LOOP
        u := pg_catalog.format('00000000-0000-4000-8000-0000000b07%s', pg_catalog.lpad(k::text, 2, '0'))::uuid;
        PERFORM ex7.ensure_user(u);
        UPDATE ex7.users SET tier = 'strategist' WHERE id = u;
        PERFORM ex7.accept_compliance(u, NULL, 'bench');
        PERFORM ex7.set_risk_limits(u, 'paper', '{"max_trades_per_day": 1000, "max_open_positions": 100,
                                                  "max_consecutive_losses": 100, "daily_loss_limit": "1000000"}');
        s := (ex7.create_strategy(u, jsonb_build_object('name', 'bench hooks', 'instrument', 'MNQ', 'timeframe', '5m'))
              ->> 'id')::uuid;
        PERFORM ex7.promote_strategy(u, s);
        h := ex7.create_hook(u, jsonb_build_object('strategy_id', s, 'label', 'bench', 'max_age_seconds', 86400));
        INSERT INTO bench_hooks VALUES (k, (h ->> 'id')::uuid, h ->> 'secret');
    END LOOP;
END
\$\$;
SQL

# wrk: each request a hook in turn; per hook, entries and closes alternate; the order id is unique per thread
psql -X -qAt -v ON_ERROR_STOP=1 -c "SELECT string_agg(format('{id = \"%s\", secret = \"%s\"}', id, secret), ', ' ORDER BY k)
                                     FROM bench_hooks" >"$W/hooks.lua"
cat >"$W/intake.lua" <<LUA
local hooks = { $(cat "$W/hooks.lua") }
local n, i = #hooks, 0
-- each thread's number, set from the main state (a global: thread:set writes the thread's globals)
local made = 0
function setup(thread) made = made + 1; thread:set("tid", made) end
function request()
  i = i + 1
  local h = hooks[(i % n) + 1]
  local enter = (math.floor(i / n) % 2) == 0
  local body = string.format('{"passphrase": "%s", "ticker": "CME_MINI:MNQ1!", "action": "%s", "contracts": "1", '
    .. '"price": "%s", "sentiment": "%s", "id": "w%d-%d", "comment": "bench"}',
    h.secret, enter and "buy" or "sell", enter and "20001.25" or "20011.25", enter and "long" or "flat", tid, i)
  return wrk.format("POST", "/api/hooks/" .. h.id, {["Content-Type"] = "text/plain; charset=utf-8"}, body)
end
LUA
# pgbench: the same bodies, a random hook and a fresh order id per transaction
cat >"$W/intake.sql" <<'PGB'
\set k random(1, 8)
\set r random(0, 1)
\set n random(1, 2000000000)
SELECT ex7.hook_intake(h.id::text, jsonb_build_object('passphrase', h.secret, 'ticker', 'CME_MINI:MNQ1!',
           'action', CASE :r::integer WHEN 0 THEN 'buy' ELSE 'sell' END, 'contracts', '1',
           'price', CASE :r::integer WHEN 0 THEN '20001.25' ELSE '20011.25' END,
           'sentiment', CASE :r::integer WHEN 0 THEN 'long' ELSE 'flat' END,
           'id', 'p' || :client_id::text || '-' || :n::text, 'comment', 'bench')::text) ->> 'outcome'
  FROM bench_hooks h WHERE h.k = :k::integer;
PGB

SECRET=bench-secret-bench-secret-bench-secret-0123
PORT=$(free_tcp_port)
start_ex7d "$W/ex7d.log" EX7_JWT_SECRET=$SECRET EX7_LISTEN=127.0.0.1:$PORT EX7_POOL_SIZE=$CONC \
	EX7_PUBLIC_PER_MINUTE=1000000 EX7_PUBLIC_PER_DAY=1000000000 || exit 1

wrk -t2 -c"$CONC" -d"${SECS}s" --latency -s "$W/intake.lua" "http://127.0.0.1:$PORT" >"$W/wrk.out" ||
	{ cat "$W/wrk.out" >&2; bench_fail "wrk failed"; }
if grep -qE 'Non-2xx|Socket errors' "$W/wrk.out"; then cat "$W/wrk.out" >&2; bench_fail "wrk saw errors or non-2xx answers"; fi
http_rps=$(awk '/Requests\/sec/ { print $2 }' "$W/wrk.out")
# wrk --latency: "99%  12.34ms" (us, ms or s)
http_p99=$(awk '$1 == "99%" { v = $2; u = v; sub(/[0-9.]+/, "", u); sub(/[a-z]+$/, "", v);
                             printf "%.3f", u == "us" ? v / 1000 : u == "s" ? v * 1000 : v }' "$W/wrk.out")

(cd "$W" && pgbench -n -M simple -c "$CONC" -j 2 -T "$SECS" -l --log-prefix=lat -f intake.sql >pgbench.out 2>pgbench.err) ||
	{ cat "$W/pgbench.err" >&2; bench_fail "pgbench failed"; }
sql_tps=$(sed -n 's/^tps = \([0-9.]*\).*/\1/p' "$W/pgbench.out")
sql_p99=$(cat "$W"/lat.* | awk '{ print $3 }' | sort -n | awk '{ v[NR] = $1 } END { printf "%.3f", v[int(NR * 0.99)] / 1000 }')

# every call was accepted: nothing refused, duplicated or blocked was measured
bad=$(psql -X -qAt -c "SELECT coalesce(string_agg(outcome || ' ' || n, ', '), '') FROM (SELECT outcome, count(*) AS n
                        FROM ex7.hook_events WHERE outcome <> 'accepted' GROUP BY outcome) s")
[ -z "$bad" ] || bench_fail "alerts not accepted: $bad"
n=$(psql -X -qAt -c "SELECT count(*) FROM ex7.hook_events")
[ "$n" -gt 0 ] || bench_fail "no alert reached the intake"

r=$(awk -v a="$http_rps" -v b="$sql_tps" 'BEGIN { printf "%.2f", a / b }')
echo "POST /api/hooks/{id}: ex7d $http_rps alerts/s (p99 ${http_p99} ms), SQL ex7.hook_intake $sql_tps alerts/s (p99 ${sql_p99} ms): ${r}x; $n alerts, all accepted"
bench_goal "webhook intake ex7d / SQL ${r}x (>= 0.7x)" 'r >= 0.7' r="$r"
