#!/usr/bin/env bash
# test/checks/listen_nodes.sh: ex7d hears the notifications of every node, not only DATABASE_URL's
# (docs/stream.md, "Every node's notifications"; http/listeners.c). On Citus a user's call runs on the
# worker holding the user's shard, and its NOTIFY reaches only that worker's listeners; this check needs no
# Citus: a SECOND plain cluster (B) plays that worker. ex7d runs on the test cluster (A, the database with
# the extension and the event log) with EX7_LISTEN_NODES naming A and B, the operator's fixed list that
# replaces the discovery by ex7.notify_nodes(). To prove that what a client receives came through B, A's
# own LISTEN backend is paused (SIGSTOP) while it matters: A's notifications then wait in A's queue.
#   - without EX7_LISTEN_NODES on plain PostgreSQL the discovery answers [] and ex7d keeps its one LISTEN
#     connection; against a database at 0.2.0 (no ex7.notify_nodes) the failure is logged and nothing else
#     changes; a malformed EX7_LISTEN_NODES stops start-up;
#   - with it, ex7d keeps two LISTEN connections for the stream and two for the alerts worker (A's is
#     DATABASE_URL's, not opened twice), B's with DATABASE_URL's dbname and user; /metrics says so;
#   - an event committed on A and NOTIFYed on B only (the payload a worker would send) reaches an SSE client
#     live;
#   - B's LISTEN connection killed and kept out while an event commits (its notification is lost): once it
#     is back, the client catches up from the log (a replay frame), exactly once;
#   - duplicates are harmless: A's paused notifications delivered late, and one event NOTIFYed on both
#     nodes, leave every id exactly once on the stream;
#   - the risk channels too: a trading_state event NOTIFYed on B only (risk_event) reaches the client with its
#     id, and a service trading state broadcast on B only (trading_halt) as a frame without one, once although
#     B sends it twice.
# Run by tools/test.sh (and tools/try.sh listen_nodes.check) with PGHOST/PGPORT/PGUSER of cluster A set and
# its directory as $1. About 20 s.
set -uo pipefail
cd "$(dirname "$0")/../.."
. tools/cluster.sh
DIR=${1:?usage: test/checks/listen_nodes.sh CLUSTER_DIR}
DB=ex7_listen
EX7D=${EX7D_BIN:-http/ex7d}   # another build, e.g. http/ex7d-asan
U=00000000-0000-4000-8000-00000000c2a1
PA=$PGPORT
B=$(mktemp -d /tmp/ex7-listen.XXXXXX)
OUT=$(mktemp -d /tmp/ex7-listen-out.XXXXXX)
ex7d_pid=
curl_pid=
paused=
cleanup() {
	[ -n "$paused" ] && kill -CONT "$paused" 2>/dev/null
	[ -n "${plain_pid:-}" ] && kill "$plain_pid" 2>/dev/null
	[ -n "$curl_pid" ] && kill "$curl_pid" 2>/dev/null
	[ -n "$ex7d_pid" ] && { kill "$ex7d_pid" 2>/dev/null; wait "$ex7d_pid" 2>/dev/null; }
	cluster_stop "$B"
	rm -rf "$B" "$OUT"
}
trap cleanup EXIT
qa() { psql -X -qAt -v ON_ERROR_STOP=1 -d "$DB" "$@"; }
qb() { psql -X -qAt -v ON_ERROR_STOP=1 -h "$B" -p "$PB" -d "$1" -c "$2"; }
# until SECONDS_TENTHS CMD...: run CMD every 0.1 s until it succeeds or the time is up
until_ok() {
	local n=$1
	shift
	for _ in $(seq 1 "$n"); do "$@" && return 0; sleep 0.1; done
	return 1
}
# ids: the event ids the stream has written, one a line, in order
ids() { sed -n 's/^id: //p' "$OUT/stream.txt"; }
has_id() { ids | grep -qx "$1"; }
metric() { curl -s -H "Authorization: Bearer $MTOKEN" "http://127.0.0.1:$PORT/metrics" | sed -n "s/^$1 //p"; }
# fire: commits one signal event for U on A; prints its event id
fire() { qa -c "SELECT ex7.fire_signal('$U', '$SID', 'paper', 'long', 1, 18000.00 + $1, now()) ->> 'event_id'"; }
# payload N: the NOTIFY payload of U's event N as its node sends it (ext/sql/55_events.sql)
payload() {
	qa -c "SELECT ex7._event_notification(e.seq, e.user_id, e.kind, e.signal_id, e.strategy_id, e.payload)
	         FROM ex7.signal_events e WHERE e.user_id = '$U' AND e.seq = $1"
}
# notify_b N [CHANNEL]: sends event N's payload on B only (channel signal_fired unless named)
notify_b() { psql -X -qAt -v ON_ERROR_STOP=1 -h "$B" -p "$PB" -d "$DB" -v p="$(payload "$1")" -v c="${2:-signal_fired}" <<<"SELECT pg_notify(:'c', :'p')" >/dev/null; }
verdict() { if [ "$1" = 0 ]; then echo "ok - $2"; else echo "not ok - $2"; fi; }

# --- cluster A: the extension, a user who may stream, a strategy to fire from --------------------------
psql -X -q -d postgres -c "SET client_min_messages = warning" -c "DROP DATABASE IF EXISTS $DB WITH (FORCE)" \
	-c "CREATE DATABASE $DB" >/dev/null
qa -c "CREATE EXTENSION ex7" -c "SELECT ex7.ensure_user('$U', 'listen@example.com')" \
	-c "SELECT ex7.accept_compliance('$U', NULL, 'listen_nodes check')" >/dev/null
SID=$(qa -c "SELECT ex7.create_strategy('$U', '{\"name\": \"listen nodes\", \"instrument\": \"MNQ\", \"timeframe\": \"5m\"}') ->> 'id'")
[ -n "$SID" ] || { echo "not ok - cannot set up database $DB on cluster A"; exit 0; }

# --- cluster B: a plain PostgreSQL with a database of the same name (no extension: it only NOTIFYs) -------
if ! cluster_init "$B" || ! cluster_start_any "$B" 57700 "-c fsync=off"; then
	echo "not ok - cannot start the second cluster"
	exit 0
fi
PB=$CLUSTER_PORT
qb postgres "CREATE DATABASE $DB" >/dev/null

export EX7_JWT_SECRET=listen-nodes-check-secret-0123456789abcdef
MTOKEN=listen-nodes-metrics-token

# --- plain PostgreSQL, no EX7_LISTEN_NODES: the discovery, as before ------------------------------------------
psql -X -q -d postgres -c "SET client_min_messages = warning" -c "DROP DATABASE IF EXISTS ${DB}_old WITH (FORCE)" \
	-c "CREATE DATABASE ${DB}_old" >/dev/null
psql -X -q -v ON_ERROR_STOP=1 -d "${DB}_old" -c "CREATE EXTENSION ex7 VERSION '0.2.0'" >/dev/null
# plain DBNAME: starts ex7d on DBNAME of A without a node list, waits for its LISTEN and 1.5 s more (the
# discovery is asked once the pool is up), sets m to "nodes connections connected", stops it
plain() {
	PORT=$(free_port 57760)
	DATABASE_URL="host=127.0.0.1 port=$PA dbname=$1 user=postgres" EX7_LISTEN=127.0.0.1:$PORT \
		EX7_METRICS_TOKEN=$MTOKEN "$EX7D" >"$OUT/plain-$1.log" 2>&1 &
	plain_pid=$!
	until_ok 100 eval '[ "$(metric ex7d_listen_connected)" = 1 ]'
	sleep 1.5
	m="$(metric ex7d_listen_nodes) $(metric ex7d_listen_connections) $(metric ex7d_listen_connected)"
	kill "$plain_pid"
	wait "$plain_pid" 2>/dev/null
	plain_pid=
}
plain "$DB"
[ "$m" = "0 1 1" ] && ! grep -q listen_discovery_failed "$OUT/plain-$DB.log"
verdict $? "plain PostgreSQL, no EX7_LISTEN_NODES: ex7.notify_nodes() answers [], one LISTEN connection on DATABASE_URL (nodes, connections, connected = $m)"
plain "${DB}_old"
[ "$m" = "0 1 1" ] && grep -q '"event":"listen_discovery_failed".*notify_nodes() does not exist' "$OUT/plain-${DB}_old.log"
verdict $? "a database at 0.2.0 (no ex7.notify_nodes): listen_discovery_failed logged, the one LISTEN connection kept ($m)"
psql -X -q -d postgres -c "DROP DATABASE ${DB}_old WITH (FORCE)" >/dev/null

# --- a malformed node list stops start-up ------------------------------------------------------------------
err=$(DATABASE_URL="host=127.0.0.1 port=$PA dbname=$DB user=postgres" EX7_LISTEN_NODES="127.0.0.1:$PB,db2" \
	EX7_LISTEN=127.0.0.1:1 timeout 10 "$EX7D" 2>&1)
rc=$?
[ $rc = 2 ] && grep -q 'EX7_LISTEN_NODES must be host:port' <<<"$err"
verdict $? "EX7_LISTEN_NODES=\"127.0.0.1:$PB,db2\" stops start-up (status $rc) naming the bad element"

# --- ex7d on A, listening on A and B -------------------------------------------------------------------------
PORT=$(free_port 57780)
DATABASE_URL="host=127.0.0.1 port=$PA dbname=$DB user=postgres" EX7_LISTEN=127.0.0.1:$PORT \
	EX7_LISTEN_NODES="127.0.0.1:$PA, 127.0.0.1:$PB" EX7_METRICS_TOKEN=$MTOKEN \
	EX7_STATEMENT_TIMEOUT_MS=60000 EX7_SSE_HEARTBEAT_MS=60000 EX7_WORKER=1 EX7_WORKER_INTERVAL_MS=3600000 \
	"$EX7D" >"$OUT/ex7d.log" 2>&1 &
ex7d_pid=$!
# A's LISTEN backend: its last statement is the LISTEN until its first idle probe 5 s later
listen_pid_a() { pid_a=$(qa -c "SELECT pid FROM pg_stat_activity WHERE datname = '$DB' AND query LIKE 'LISTEN ex7_user_changed%'"); [ -n "$pid_a" ]; }
on_b() { qb postgres "SELECT count(*) FROM pg_stat_activity WHERE datname = '$DB' AND usename = 'postgres' AND query LIKE '$1'"; }
listen_b() { [ "$(on_b 'LISTEN%signal_fired%risk_event%trading_halt%')" = 1 ] && [ "$(on_b 'LISTEN ex7_outbox')" = 1 ]; }
up() { [ "$(metric ex7d_listen_connected)" = 2 ]; }
if until_ok 100 listen_pid_a && until_ok 100 listen_b && until_ok 50 up; then
	echo "ok - ex7d LISTENs on A (DATABASE_URL) and on B (dbname $DB, user postgres from DATABASE_URL): the stream's and the alerts worker's"
else
	echo "not ok - the LISTEN connections did not come up (A's pid: ${pid_a:-none}; B: $(qb postgres "SELECT count(*) FROM pg_stat_activity WHERE datname = '$DB'"))"
	tail -5 "$OUT/ex7d.log"
	exit 0
fi
m="$(metric ex7d_listen_nodes) $(metric ex7d_listen_connections) $(metric ex7d_listen_connected)"
[ "$m" = "2 2 2" ]
verdict $? "/metrics: ex7d_listen_nodes, ex7d_listen_connections, ex7d_listen_connected = $m (A named twice, connected once)"

TOKEN=$(http/ex7d token --sub "$U")
curl -sN -H "Authorization: Bearer $TOKEN" "http://127.0.0.1:$PORT/api/signals/stream" >"$OUT/stream.txt" 2>/dev/null &
curl_pid=$!
until_ok 50 grep -q '^event: compliance' "$OUT/stream.txt" ||
	{ echo "not ok - the stream did not open: $(head -c 300 "$OUT/stream.txt")"; exit 0; }

# --- live through B: A's listener is paused, the event's notification is sent on B only -------------------
kill -STOP "$pid_a" && paused=$pid_a
live0=$(metric 'ex7d_sse_frames_total{kind="live"}')
e1=$(fire 1)
notify_b "$e1"
until_ok 50 has_id "$e1"
verdict $? "event $e1 committed on A, NOTIFYed on B only (A's listener paused): the SSE client receives it"
[ "$(metric 'ex7d_sse_frames_total{kind="live"}')" = $((live0 + 1)) ]
verdict $? "... as a live frame (ex7d_sse_frames_total{kind=\"live\"} +1)"

# --- B's listener lost while an event commits: its reconnect catches up from the log ----------------------
reconnects0=$(metric ex7d_listen_reconnects_total)
replay0=$(metric 'ex7d_sse_frames_total{kind="replay"}')
qb postgres "ALTER DATABASE $DB ALLOW_CONNECTIONS false" >/dev/null
qb postgres "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = '$DB'" >/dev/null
e2=$(fire 2)					# its notification goes nowhere: A's listener paused, B's down
sleep 1
! has_id "$e2"
verdict $? "event $e2 committed while B's listener is down and A's paused: not on the stream yet"
qb postgres "ALTER DATABASE $DB ALLOW_CONNECTIONS true" >/dev/null
until_ok 80 has_id "$e2"
verdict $? "B's LISTEN connection back: the stream catches up event $e2 from the log"
# the alerts worker's connection comes back on its own schedule, maybe after the stream's caught up: wait for
# both reconnects, then check there were exactly two
reconnected() { [ "$(metric ex7d_listen_reconnects_total)" -ge $((reconnects0 + 2)) ]; }
until_ok 80 reconnected
[ "$(metric ex7d_listen_reconnects_total)" = $((reconnects0 + 2)) ] &&
	[ "$(metric 'ex7d_sse_frames_total{kind="replay"}')" = $((replay0 + 1)) ]
verdict $? "... counted as one replay frame and two LISTEN reconnects (the stream's and the alerts worker's on B)"

# --- duplicates: A's held notifications arrive late; one event is NOTIFYed on both nodes -------------------
kill -CONT "$pid_a" && paused=
e3=$(fire 3)					# A notifies it (A's listener runs again) ...
notify_b "$e3"					# ... and so does B
until_ok 50 has_id "$e3"
sleep 1
got=$(ids | tr '\n' ' ')
[ "$got" = "$e1 $e2 $e3 " ]
verdict $? "every event exactly once, in order, although events $e1, $e2 came from A late and $e3 from both nodes (ids: $got)"

# --- the risk channels through B (A's listener paused again): a user's risk event, the service's broadcast ---
kill -STOP "$pid_a" && paused=$pid_a
e4=$(qa -c "SELECT ex7.set_trading_state('$U', 'paper', '{\"state\": \"halted\", \"reason\": \"listen check\"}') ->> 'event_id'")
notify_b "$e4" risk_event
until_ok 50 has_id "$e4"
[ "$(grep -A1 -x "id: $e4" "$OUT/stream.txt" | tail -1)" = "event: trading_state" ]
verdict $? "trading_state event $e4 NOTIFYed on B only (channel risk_event): the SSE client receives it with its id"
halt='{"scope": "all", "instrument": null, "state": "halted", "reason": "exchange check", "changed_at": "2026-12-06T09:00:00.123456+00:00"}'
for _ in 1 2; do qb "$DB" "SELECT pg_notify('trading_halt', '$halt')" >/dev/null; done
until_ok 50 grep -q 'exchange check' "$OUT/stream.txt"
sleep 0.5
[ "$(grep -c 'exchange check' "$OUT/stream.txt")" = 1 ] &&
	[ "$(grep -B2 'exchange check' "$OUT/stream.txt" | head -2 | tr '\n' '|')" = "|event: trading_state|" ]
verdict $? "the service's state broadcast on B only (channel trading_halt, sent twice): one event trading_state frame, without an id"
kill -CONT "$pid_a" && paused=

# B's refused reconnects are logged as database_unreachable (expected above); anything else is shown
grep '"level":"error"' "$OUT/ex7d.log" | grep -v '"event":"database_unreachable"' | head -5 | sed 's/^/# ex7d: /'
exit 0
