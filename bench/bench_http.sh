#!/usr/bin/env bash
# bench/bench_http.sh: ex7d against the database it fronts (run by bench/run.sh; the goals of the HTTP
# front in docs/performance.md, "ex7d over HTTP"). On
# loopback, side by side in one run, same concurrency (4 connections, 2 threads), 10 s each:
#   get:    GET /api/strategies/{id} with wrk  vs  pgbench running SELECT ex7.get_strategy(...)  (goal >= 0.6x)
#   list:   GET /api/signals?limit=50 with wrk vs  pgbench running SELECT ex7.list_signals(...)  (goal >= 0.7x)
#   limits: GET /api/strategies/{id} with rate limiting on vs off                                 (goal >= 0.85x)
#   p99:    GET /api/strategies/{id} at half of ex7d's measured maximum rate with hey (-q, a fixed rate per
#           worker), beside pgbench -R at the same rate (its per-transaction log gives the p99)
# The bench user's tier caps are raised so limiting is exercised (counted) without refusing anything.
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh
SECS=${BENCH_SECONDS:-$(smoke 10 1)}
CONC=${BENCH_CONC:-4}
POOL=${BENCH_POOL:-$CONC}
SWEEP=${BENCH_SWEEP:-$(smoke "16 64" 16)}
# wrk and hey drive ex7d (Debian packages); as root they are installed when missing
for tool in wrk hey; do
	command -v $tool >/dev/null 2>&1 && continue
	if [ "$(id -u)" -eq 0 ]; then
		export DEBIAN_FRONTEND=noninteractive
		apt-get install -y -qq $tool >/dev/null 2>&1 ||
			{ apt-get update -qq && apt-get install -y -qq $tool >/dev/null; } || bench_fail "could not install $tool"
	else
		echo "install $tool (apt-get install $tool)"; exit 1
	fi
done
U=00000000-0000-4000-8000-0000000b0101
bench_begin http

psql -X -q -v ON_ERROR_STOP=1 >/dev/null <<SQL
SELECT ex7.ensure_user('$U');
UPDATE ex7.users SET tier = 'strategist' WHERE id = '$U';
UPDATE ex7.tiers SET requests_per_minute = 2000000000, requests_per_day = 2000000000 WHERE tier = 'strategist';
SQL
SID=$(psql -X -qAt -v ON_ERROR_STOP=1 -c "SELECT ((ex7.create_strategy('$U', '{\"name\": \"bench http\", \"instrument\": \"MNQ\", \"timeframe\": \"5m\", \"tags\": [\"bench\"],
      \"graph\": {\"nodes\": [{\"id\": \"t\", \"type\": \"session_filter\"}, {\"id\": \"e\", \"type\": \"enter_long\"}],
                  \"edges\": [{\"from\": \"t\", \"to\": \"e\"}]}}')->>'id')::uuid)")
psql -X -q -v ON_ERROR_STOP=1 -c "SELECT ex7.accept_compliance('$U', NULL, 'bench')" >/dev/null
psql -X -q -v ON_ERROR_STOP=1 -c "SELECT ex7.set_risk_limits('$U', 'paper', '{\"max_trades_per_day\": 1000, \"max_open_positions\": 100}')" >/dev/null
psql -X -q -v ON_ERROR_STOP=1 -c "SELECT count(ex7.fire_signal('$U', '$SID', 'paper', 'long', 1, 18000 + g * 0.25, now() - g * interval '1 minute'))
               FROM generate_series(1, 60) g" >/dev/null

SECRET=bench-secret-bench-secret-bench-secret-0123
TOKEN=$(EX7_JWT_SECRET=$SECRET http/ex7d token --sub "$U" --ttl 3600)
P_ON=$(free_tcp_port)
start_ex7d "$W/ex7d.on.log" EX7_JWT_SECRET=$SECRET EX7_LISTEN=127.0.0.1:$P_ON EX7_RATE_LIMITS=on EX7_POOL_SIZE=$POOL || exit 1
P_OFF=$(free_tcp_port)
start_ex7d "$W/ex7d.off.log" EX7_JWT_SECRET=$SECRET EX7_LISTEN=127.0.0.1:$P_OFF EX7_RATE_LIMITS=off EX7_POOL_SIZE=$POOL || exit 1
# the first request of the user in each process reads the tier (ex7.ensure_user); warm both up
for p in "$P_ON" "$P_OFF"; do curl -sf -o /dev/null -H "Authorization: Bearer $TOKEN" "http://127.0.0.1:$p/api/strategies/$SID"; done

# rps URL [CONNECTIONS]: wrk's requests a second; every answer must be a 2xx (a non-2xx count fails the run:
# refusals or errors would be measured instead of the work)
rps() {
	wrk -t2 -c"${2:-$CONC}" -d"${SECS}s" -H "Authorization: Bearer $TOKEN" "$1" >"$W/wrk.out" || { cat "$W/wrk.out" >&2; return 1; }
	if grep -qE 'Non-2xx|Socket errors' "$W/wrk.out"; then cat "$W/wrk.out" >&2; bench_fail "wrk saw errors or non-2xx answers on $1"; fi
	awk '/Requests\/sec/ { print $2 }' "$W/wrk.out"
}
tps() { # SQL [CLIENTS]
	echo "$1" >"$W/q.sql"
	pgbench -n -M prepared -c "${2:-$CONC}" -j 2 -T "$SECS" -f "$W/q.sql" >"$W/pgbench.out" 2>"$W/pgbench.err" ||
		{ cat "$W/pgbench.err" >&2; return 1; }
	sed -n 's/^tps = \([0-9.]*\).*/\1/p' "$W/pgbench.out"
}

get_pg=$(tps "SELECT ex7.get_strategy('$U', '$SID')::text;")
get_http=$(rps "http://127.0.0.1:$P_ON/api/strategies/$SID")
list_pg=$(tps "SELECT ex7.list_signals('$U', p_limit => 50)::text;")
list_http=$(rps "http://127.0.0.1:$P_ON/api/signals?limit=50")
get_off=$(rps "http://127.0.0.1:$P_OFF/api/strategies/$SID")

# p99 at half the maximum rate: hey paces each of its CONC workers at rate/CONC requests a second
half=$(awk -v a="$get_http" 'BEGIN { printf "%d", a / 2 }')
hey -z "${SECS}s" -c "$CONC" -q "$(awk -v h="$half" -v c="$CONC" 'BEGIN { printf "%d", h / c }')" \
	-H "Authorization: Bearer $TOKEN" "http://127.0.0.1:$P_ON/api/strategies/$SID" >"$W/hey.out" ||
	{ cat "$W/hey.out" >&2; bench_fail "hey failed"; }
# hey lists the status codes it got (only [200] may be there) and any connection errors
if grep -q 'Error distribution' "$W/hey.out" ||
	awk '/Status code distribution/ { f = 1; next } f && /\[[0-9]+\]/ && !/\[200\]/ { bad = 1 } END { exit !bad }' "$W/hey.out"; then
	cat "$W/hey.out" >&2
	bench_fail "hey got errors or answers other than 200"
fi
p99_http=$(awk '/ 99% in / { printf "%.3f", $3 * 1000 }' "$W/hey.out")
[ -n "$p99_http" ] || { cat "$W/hey.out" >&2; bench_fail "hey printed no p99"; }
echo "SELECT ex7.get_strategy('$U', '$SID')::text;" >"$W/q.sql"
(cd "$W" && pgbench -n -M prepared -c "$CONC" -j 2 -T "$SECS" -R "$half" -l --log-prefix=lat -f q.sql >/dev/null 2>"$W/pgbench.err") ||
	{ cat "$W/pgbench.err" >&2; bench_fail "pgbench -R failed"; }
# pgbench -l: column 3 is the transaction's latency in microseconds (schedule lag included with -R)
p99_pg=$(cat "$W"/lat.* | awk '{ print $3 }' | sort -n | awk '{ v[NR] = $1 } END { printf "%.3f", v[int(NR * 0.99)] / 1000 }')

r1=$(awk -v a="$get_http" -v b="$get_pg" 'BEGIN { printf "%.2f", a / b }')
r2=$(awk -v a="$list_http" -v b="$list_pg" 'BEGIN { printf "%.2f", a / b }')
r3=$(awk -v a="$get_http" -v b="$get_off" 'BEGIN { printf "%.2f", a / b }')
echo "GET /api/strategies/{id}: ex7d $get_http req/s, pgbench $get_pg tps: ${r1}x"
echo "GET /api/signals?limit=50: ex7d $list_http req/s, pgbench $list_pg tps: ${r2}x"
echo "rate limiting: on $get_http req/s, off $get_off req/s: ${r3}x"
echo "p99 at $half req/s (half of ex7d's maximum): ex7d ${p99_http} ms, pgbench ${p99_pg} ms"

# the same GET at more clients: wrk with N connections against ex7d (its pool stays at POOL connections)
# beside pgbench with N clients (N backends). Reported, not judged: the goal is read at CONC above.
for n in $SWEEP; do
	w=$(rps "http://127.0.0.1:$P_ON/api/strategies/$SID" "$n")
	p=$(tps "SELECT ex7.get_strategy('$U', '$SID')::text;" "$n")
	echo "  at $n clients: ex7d $w req/s (pool of $POOL), pgbench $p tps ($n backends): $(awk -v a="$w" -v b="$p" 'BEGIN { printf "%.2f", a / b }')x"
done
bench_goal "GET /api/strategies/{id} ex7d / pgbench ${r1}x (>= 0.6x)" 'r >= 0.6' r="$r1"
bench_goal "GET /api/signals?limit=50 ex7d / pgbench ${r2}x (>= 0.7x)" 'r >= 0.7' r="$r2"
bench_goal "rate limiting on / off ${r3}x (>= 0.85x)" 'r >= 0.85' r="$r3"
