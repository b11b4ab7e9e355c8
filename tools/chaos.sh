#!/usr/bin/env bash
# tools/chaos.sh: `make chaos` (docs/ha.md). Failover without loss, shown on this machine with
# pg_auto_failover (Debian's postgresql-15-auto-failover): a monitor, a primary and a synchronous
# secondary, each with its own port on 127.0.0.1 and its own folder under a temporary directory; ex7d on
# the multi-host DATABASE_URL with target_session_attrs=read-write; a bounded load of signal fires, closes
# and signal streams (tools/chaos_load.mjs); the primary node killed with SIGKILL in the middle of it; the
# monitor promotes the secondary. Prints "ok - ..." / "not ok - ..." lines and the figures (failover time
# from the kill to the first 2xx, requests refused meanwhile). Not part of `make test`: it takes a few
# minutes, most of them the monitor's own failure detection.
#
# The kill takes the primary's pg_autoctl keeper with its postmaster, as when the machine dies, so the monitor
# has to find out by itself. CHAOS_KILL=postmaster kills the postmaster alone: its keeper, still alive,
# reports the crash and the monitor fails over at once (docs/ha.md).
#
# Settings: CHAOS_KILL=node (default) or postmaster (the postmaster alone, its keeper alive),
# CHAOS_KILL_AT_S (load before the kill, 15), CHAOS_AFTER_S (load after the first 2xx, 15),
# CHAOS_BAR_MS (one bar every, 250), CHAOS_KEEP=1 keeps the directory and the nodes' logs.
set -uo pipefail
cd "$(dirname "$0")/.."
. tools/cluster.sh

say() { echo "# $*"; }
fail() { echo "not ok - $*"; exit 1; }

if ! command -v pg_autoctl >/dev/null 2>&1; then
	if [ "$(id -u)" -eq 0 ]; then
		say "installing postgresql-15-auto-failover"
		DEBIAN_FRONTEND=noninteractive apt-get install -y -q postgresql-15-auto-failover >/dev/null ||
			fail "apt-get install postgresql-15-auto-failover"
	else
		fail "pg_autoctl is missing: sudo apt-get install postgresql-15-auto-failover"
	fi
fi
bash tools/deps.sh || exit 1

# build and install under the lock of tools/try.sh and tools/test.sh, then run from copies: another
# checkout's `make clean` must not pull the binary away in the middle of the run
TMP=$(mktemp -d /tmp/ex7-chaos.XXXXXX)
(
	flock 9
	make -s 2>&1 && install_ext
) 9>/tmp/ex7-try.lock || fail "build and install"
cp http/ex7d http/openapi.json "$TMP/"
[ "$(id -u)" -eq 0 ] && chown postgres: "$TMP"
chmod 755 "$TMP"

PIDS=()						# the background processes this script started
EX7D_PID=
cleanup() {
	[ -n "$EX7D_PID" ] && kill "$EX7D_PID" 2>/dev/null
	for n in node2 node1 monitor; do
		[ -d "$TMP/$n" ] && PGX pg_autoctl stop --pgdata "$TMP/$n" >/dev/null 2>&1
	done
	sleep 1
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
	for n in node1 node2 monitor; do cluster_stop_dir "$TMP/$n"; done
	if [ -n "${CHAOS_KEEP:-}" ]; then echo "# kept $TMP"; else rm -rf "$TMP" "/tmp/pg_autoctl$TMP"; fi
}
trap cleanup EXIT
trap 'exit 1' INT TERM

# PGX CMD...: CMD as the clusters' OS user, pg_autoctl's files (XDG folders) inside $TMP
PGX() {
	as_pg env XDG_CONFIG_HOME="$TMP/xdg/config" XDG_DATA_HOME="$TMP/xdg/data" XDG_RUNTIME_DIR="$TMP/xdg/run" \
		PG_CONFIG="$(command -v pg_config)" "$@"
}
# cluster_stop_dir DIR: a postgres left running in DIR (after a failed run) stops now
cluster_stop_dir() {
	[ -f "$1/postmaster.pid" ] && as_pg "$PGBIN/pg_ctl" -D "$1" -m immediate -w stop >/dev/null 2>&1
	return 0
}
# state: the monitor's view, one line a node: name, port, reported state, goal state
state() {
	psql -X -qAt -F ' ' -h 127.0.0.1 -p "$PM" -U postgres -d pg_auto_failover \
		-c "SELECT nodename, nodeport, reportedstate, goalstate FROM pgautofailover.node ORDER BY nodeid" 2>/dev/null
}
# wait_state SECONDS LINE...: until every LINE ("node1 primary") is the monitor's reported state
wait_state() {
	local secs=$1
	shift
	for _ in $(seq $((secs * 4))); do
		local s all=1
		s=$(state)
		for want in "$@"; do
			echo "$s" | awk -v n="${want% *}" -v st="${want#* }" '$1 == n && $3 == st && $4 == st {f = 1} END {exit !f}' || all=0
		done
		[ $all -eq 1 ] && return 0
		sleep 0.25
	done
	state
	return 1
}

PM=$(free_port 59432)
P1=$(free_port $((PM + 1)))
P2=$(free_port $((P1 + 1)))
HP=$(free_port $((P2 + 1)))
say "monitor :$PM, node1 :$P1, node2 :$P2, ex7d :$HP, in $TMP"

# the monitor, listening on loopback only
PGX timeout 120 pg_autoctl create monitor --pgdata "$TMP/monitor" --pgctl "$PGBIN/pg_ctl" --pgport "$PM" \
	--listen 127.0.0.1 --hostname 127.0.0.1 --auth trust --no-ssl >"$TMP/create-monitor.log" 2>&1 ||
	{ tail -20 "$TMP/create-monitor.log"; fail "pg_autoctl create monitor"; }
PGX pg_autoctl run --pgdata "$TMP/monitor" >"$TMP/monitor.log" 2>&1 &
PIDS+=($!)
for _ in $(seq 240); do psql -X -qAt -h 127.0.0.1 -p "$PM" -U postgres -d pg_auto_failover -c "SELECT 1" >/dev/null 2>&1 && break; sleep 0.25; done
psql -X -qAt -h 127.0.0.1 -p "$PM" -U postgres -d pg_auto_failover -c "SELECT 1" >/dev/null 2>&1 ||
	{ tail -20 "$TMP/monitor.log"; fail "the monitor did not start"; }
MON=$(PGX pg_autoctl show uri --pgdata "$TMP/monitor" --formation monitor) || fail "monitor uri"

# the primary: its own database ex7 with the extension, then the secondary (pg_basebackup of it)
make_node() {
	local n=$1 port=$2
	PGX timeout 180 pg_autoctl create postgres --pgdata "$TMP/$n" --pgctl "$PGBIN/pg_ctl" --pgport "$port" \
		--listen 127.0.0.1 --hostname 127.0.0.1 \
		--name "$n" --dbname ex7 --monitor "$MON" --auth trust --no-ssl >"$TMP/create-$n.log" 2>&1 ||
		{ tail -20 "$TMP/create-$n.log"; fail "pg_autoctl create postgres $n"; }
	PGX pg_autoctl run --pgdata "$TMP/$n" >"$TMP/$n.log" 2>&1 &
	PIDS+=($!)
}
make_node node1 "$P1"
wait_state 60 "node1 single" || fail "node1 did not come up"
P1URL="host=127.0.0.1 port=$P1 dbname=ex7 user=postgres"
# the monitor may list it as single before its keeper has started postgres again after the create
for _ in $(seq 240); do psql -X -qAt -d "$P1URL" -c "SELECT 1" >/dev/null 2>&1 && break; sleep 0.25; done
psql -X -q -v ON_ERROR_STOP=1 -d "$P1URL" -c "CREATE EXTENSION ex7" -c "ALTER DATABASE ex7 SET timezone = 'UTC'" \
	>/dev/null || fail "CREATE EXTENSION ex7 on node1"
make_node node2 "$P2"
wait_state 120 "node1 primary" "node2 secondary" || fail "node2 did not become node1's secondary"
SYNC=$(psql -X -qAt -d "$P1URL" -c "SHOW synchronous_standby_names")
[ -n "$SYNC" ] || fail "node1 replicates synchronously (synchronous_standby_names is empty)"
say "node1 primary, node2 secondary, synchronous_standby_names = $SYNC"

# users with a running strategy each ("long when the close is above 0", 1-minute MNQ bars)
USERS=()
for i in 1 2 3 4; do USERS+=("00000000-0000-4000-8000-00000c4a0$(printf %03d "$i")"); done
GRAPH='{"nodes": [{"id": "c", "type": "close"}, {"id": "k", "type": "constant", "params": {"value": 0}}, {"id": "up", "type": "gt"}, {"id": "e", "type": "enter_long"}], "edges": [{"from": "c", "to": "up", "port": "a"}, {"from": "k", "to": "up", "port": "b"}, {"from": "up", "to": "e"}], "meta": {}}'
for u in "${USERS[@]}"; do
	psql -X -qAt -v ON_ERROR_STOP=1 -d "$P1URL" >/dev/null <<SQL || fail "setting up user $u"
SELECT ex7.ensure_user('$u', NULL);
UPDATE ex7.users SET tier = 'strategist' WHERE id = '$u';
SELECT ex7.accept_compliance('$u', NULL, 'chaos');
INSERT INTO ex7.risk_limits (user_id, mode, daily_loss_limit, max_trades_per_day, max_open_positions, max_consecutive_losses)
VALUES ('$u', 'paper', 1e12, 1000000000, 1000000000, 1000000000)
ON CONFLICT (user_id, mode) DO UPDATE SET daily_loss_limit = 1e12, max_trades_per_day = 1000000000,
  max_open_positions = 1000000000, max_consecutive_losses = 1000000000;
WITH s AS (SELECT ex7.create_strategy('$u', '{"name": "chaos", "instrument": "MNQ", "timeframe": "1m", "graph": $GRAPH}') ->> 'id' AS id)
SELECT ex7.promote_strategy('$u', s.id::uuid), ex7.start_runtime('$u', s.id::uuid, 'paper') FROM s;
SQL
done

# ex7d on both nodes; libpq finds the one that takes writes
URL="postgresql://postgres@127.0.0.1:$P1,127.0.0.1:$P2/ex7?target_session_attrs=read-write&application_name=ex7d-chaos"
SECRET=$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')
DATABASE_URL="$URL" EX7_LISTEN="127.0.0.1:$HP" EX7_JWT_SECRET="$SECRET" EX7_WORKER=1 \
	"$TMP/ex7d" >"$TMP/ex7d.access.log" 2>"$TMP/ex7d.log" &
EX7D_PID=$!
for _ in $(seq 100); do curl -s -o /dev/null "http://127.0.0.1:$HP/api/health" && break; sleep 0.1; done
[ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$HP/api/health")" = 200 ] || fail "ex7d health"
say "ex7d pid $EX7D_PID on $URL"

# the kill: node1's keeper (pg_autoctl and its services) and its postmaster, SIGKILL, at once; with
# CHAOS_KILL=postmaster the postmaster alone (its keeper reports the crash to the monitor)
KILL_CMD="kill -9 \$(cat '$TMP/node1.keeper-pids') \$(head -1 '$TMP/node1/postmaster.pid')"
[ "${CHAOS_KILL:-node}" = postmaster ] && KILL_CMD="kill -9 \$(head -1 '$TMP/node1/postmaster.pid')"
keeper_pids() {
	# the pg_autoctl processes under the `run` this script started for node1 (not the postmaster)
	local root=${PIDS[1]} pids=() todo
	todo=("$root")
	while [ ${#todo[@]} -gt 0 ]; do
		local p=${todo[0]}
		todo=("${todo[@]:1}")
		for k in $(ps -o pid= --ppid "$p"); do
			case "$(ps -o comm= -p "$k")" in
				pg_autoctl) pids+=("$k"); todo+=("$k") ;;
				postgres) ;;
				*) todo+=("$k") ;;	# runuser, env, a subshell on the way down
			esac
		done
	done
	echo "${pids[@]}"
}
keeper_pids >"$TMP/node1.keeper-pids"
[ -s "$TMP/node1.keeper-pids" ] || fail "node1's pg_autoctl processes"

say "load: bars every ${CHAOS_BAR_MS:-250} ms, closes, $((${#USERS[@]} * 2)) streams; kill after ${CHAOS_KILL_AT_S:-15} s"
T0=$(date +%s)
BASE="http://127.0.0.1:$HP" SECRET="$SECRET" USERS=$(
	IFS=,
	echo "${USERS[*]}"
) KILL_CMD="$KILL_CMD" VERIFY_URL="$URL" BAR_MS="${CHAOS_BAR_MS:-250}" KILL_AT_S="${CHAOS_KILL_AT_S:-15}" \
	AFTER_S="${CHAOS_AFTER_S:-15}" node tools/chaos_load.mjs | tee "$TMP/load.log"
rc=${PIPESTATUS[0]}

say "monitor after the run:"
state | sed 's/^/#   /'
if kill -0 "$EX7D_PID" 2>/dev/null; then
	echo "ok - ex7d is the same process (pid $EX7D_PID) after the switch"
else
	echo "not ok - ex7d exited"
	rc=1
fi
grep -q '"level": *"fatal"\|Segmentation\|AddressSanitizer' "$TMP/ex7d.log" && { echo "not ok - ex7d logged a crash"; rc=1; }
say "ex7d's database lines:"
grep -E 'database_|outbox' "$TMP/ex7d.log" | head -20 | sed 's/^/#   /'
say "took $(($(date +%s) - T0)) s"
exit "$rc"
