#!/usr/bin/env bash
# tools/citus.sh: a three-node Citus cluster on this machine for development and tests (docs/scale-out.md).
#   tools/citus.sh start DIR [DB]    coordinator + two workers under DIR, database DB (default ex7) with
#                                    citus and ex7 on every node, distributed by SELECT ex7.distribute()
#   tools/citus.sh add DIR NAME      one more worker NAME (w3, ...) under DIR: citus and ex7 there, added to the
#                                    coordinator, SELECT ex7.distribute() again (its sequence range); shards stay
#                                    where they are until a rebalance (docs/scale-out.md, "Adding a worker")
#   tools/citus.sh stop DIR          stop every node under DIR
# Exit status: 0 ready; 2 everything up but ex7.distribute() failed (the nodes keep running to look into it);
# 1 anything else (the nodes are stopped).
# Each node is a PostgreSQL 15 cluster of its own (DIR/coord, DIR/w1, DIR/w2: data folder, log), listening on
# 127.0.0.1:<free port> and on a unix socket in DIR; shared_preload_libraries puts citus first (Citus refuses
# to load otherwise) and adds pg_cron when it is installed, as tools/cluster.sh's cron_opts does. The ports go
# to DIR/ports (shell-sourceable: COORD_PORT, WORKER1_PORT, WORKER2_PORT, PGHOST, DB), for other scripts.
# As root the clusters run as the postgres OS user (tools/cluster.sh). fsync is off: these are throwaway.
# CITUS_SHARD_COUNT (default 8) is the shard count of each distributed table: Citus's default of 32 makes
# about 900 shards for ex7's 28 distributed tables, slow to create on two cores for no gain in a test.
set -uo pipefail
cd "$(dirname "$0")/.."
. tools/cluster.sh

say() { echo "citus: $*"; }
die() { echo "citus: $*" >&2; exit 1; }

NODES=(coord w1 w2)

stop_all() {
	local dir=$1 n
	for n in "$dir"/*/; do
		n=$(basename "$n")
		if [ -f "$dir/$n/data/postmaster.pid" ]; then
			say "stopping $n ($dir/$n)"
			cluster_stop "$dir/$n"
		fi
	done
}

# ensure_citus: Citus installed into this PostgreSQL, or a clear message how to get it.
ensure_citus() {
	[ -f "$(pg_config --pkglibdir)/citus.so" ] && [ -f "$(pg_config --sharedir)/extension/citus.control" ] && return 0
	if [ -x ../shared/vendor/citus/build.sh ] || [ -f ../shared/vendor/citus/build.sh ]; then
		say "Citus is not installed: building it from ../shared/vendor/citus (a few minutes)"
		bash ../shared/vendor/citus/build.sh || die "building Citus failed"
		return 0
	fi
	die "Citus is not installed in $(pg_config --pkglibdir). Install it from Citus Data's package repository
(postgresql-15-citus-13.2, see docs/scale-out.md, \"Installing Citus\"), then run this again."
}

# psql_node PORT DB SQL...: one psql run against a node, stopping at the first error.
psql_node() {
	local port=$1 db=$2
	shift 2
	local args=()
	for s in "$@"; do args+=(-c "$s"); done
	psql -X -q -v ON_ERROR_STOP=1 -h "$DIR" -p "$port" -U postgres -d "$db" "${args[@]}"
}

cmd=${1:-}
DIR=${2:-}
usage="usage: tools/citus.sh start DIR [DB] | add DIR NAME | stop DIR"
[ -n "$cmd" ] && [ -n "$DIR" ] || die "$usage"
case "$cmd" in
	stop)
		stop_all "$DIR"
		exit 0
		;;
	start | add) ;;
	*) die "$usage" ;;
esac

DB=${3:-ex7}
case "$DB" in *[!a-z0-9_]*) die "database name must be lower case letters, digits and _: $DB" ;; esac
ensure_citus
mkdir -p "$DIR" || die "cannot create $DIR"
DIR=$(cd "$DIR" && pwd)
if [ "$(id -u)" -eq 0 ]; then
	chown postgres: "$DIR"
	# the servers run as postgres: they must reach DIR's parents
	d=$(dirname "$DIR")
	while [ "$d" != / ]; do chmod o+x "$d" 2>/dev/null || true; d=$(dirname "$d"); done
fi
chmod 700 "$DIR"

preload=citus
[ -n "$(cron_opts "$DIR")" ] && preload=citus,pg_cron
# cluster_start adds cron_opts (pg_cron alone in shared_preload_libraries) before these options; the later
# -c wins, so citus comes first. -k puts every node's socket in DIR (the names differ by port). The log lines
# start with the SQLSTATE (tools/test_citus.sh sorts the errors by it; no spaces in an option, as the e2e
# restart tests start a node again from the words of postmaster.opts). wal_level=logical: the shard
# rebalancer moves shards by logical replication while writes go on (docs/scale-out.md).
opts="-c fsync=off -c max_connections=150 -c shared_preload_libraries=$preload -k $DIR \
-c citus.shard_count=${CITUS_SHARD_COUNT:-8} -c max_prepared_transactions=50 -c log_line_prefix=%e:%m:[%p]: \
-c wal_level=logical"

declare -A PORT
# node_up NAME BASE: initdb and start node NAME under DIR on the first free port from BASE (PORT[NAME])
node_up() {
	local n=$1 base=$2
	if [ -f "$DIR/$n/data/PG_VERSION" ]; then
		die "$DIR/$n already holds a cluster: stop it (tools/citus.sh stop $DIR) and remove $DIR, or use another folder"
	fi
	say "initdb $n in $DIR/$n/data"
	cluster_init "$DIR/$n" || die "initdb of $n failed"
	say "starting $n"
	# the servers get no descriptor of ours but 0-2: a caller holding a lock on an open file (flock FILE
	# tools/citus.sh ..., tools/try.sh's /tmp/ex7-try.lock on 9) must not leave the lock held by servers that
	# outlive it (cluster_start closes 9 only)
	PORT[$n]=$(
		for fd in /proc/$BASHPID/fd/*; do
			fd=${fd##*/}
			[ "$fd" -gt 2 ] && eval "exec $fd>&-"
		done
		cluster_start_any "$DIR/$n" "$base" "$opts" >&2 && echo "$CLUSTER_PORT"
	) || { [ "$cmd" = start ] && stop_all "$DIR"; die "$n did not start (log: $DIR/$n/postgresql.log)"; }
	say "$n listens on 127.0.0.1:${PORT[$n]}"
}
fail() { stop_all "$DIR"; die "$*"; }

if [ "$cmd" = add ]; then
	NAME=${3:-}
	case "$NAME" in [a-z]*[0-9]) ;; *) die "$usage (NAME: a lower-case node name such as w3)" ;; esac
	[ -f "$DIR/ports" ] || die "$DIR/ports not found: start the cluster first (tools/citus.sh start $DIR)"
	. "$DIR/ports"
	last=$(grep -hoE '_PORT=[0-9]+' "$DIR/ports" | cut -d= -f2 | sort -n | tail -1)
	node_up "$NAME" $((last + 1))
	echo "$(echo "$NAME" | tr a-z A-Z)_PORT=${PORT[$NAME]}" >>"$DIR/ports"
	say "$NAME: CREATE DATABASE $DB, CREATE EXTENSION citus, ex7"
	psql_node "${PORT[$NAME]}" postgres "CREATE DATABASE $DB" || die "CREATE DATABASE on $NAME failed"
	psql_node "${PORT[$NAME]}" "$DB" "SET client_min_messages = warning" "CREATE EXTENSION citus" \
		"CREATE EXTENSION ex7" || die "CREATE EXTENSION on $NAME failed"
	say "coordinator: citus_add_node for $NAME, SELECT ex7.distribute() for its sequence range"
	psql_node "$COORD_PORT" "$DB" "SET client_min_messages = warning" \
		"SELECT citus_add_node('127.0.0.1', ${PORT[$NAME]})" "SELECT ex7.distribute()" >/dev/null ||
		die "adding $NAME to the cluster failed"
	say "$NAME added: 127.0.0.1:${PORT[$NAME]} (no shards yet: SELECT citus_rebalance_start())"
	exit 0
fi

base=57432
for n in "${NODES[@]}"; do
	node_up "$n" "$base"
	base=$((PORT[$n] + 1))
done
cat >"$DIR/ports" <<EOF
# written by tools/citus.sh start: the nodes of the Citus cluster in this folder
COORD_PORT=${PORT[coord]}
WORKER1_PORT=${PORT[w1]}
WORKER2_PORT=${PORT[w2]}
PGHOST=$DIR
DB=$DB
EOF

for n in "${NODES[@]}"; do
	say "$n: CREATE DATABASE $DB, CREATE EXTENSION citus"
	psql_node "${PORT[$n]}" postgres "CREATE DATABASE $DB" || fail "CREATE DATABASE on $n failed"
	psql_node "${PORT[$n]}" "$DB" "SET client_min_messages = warning" "CREATE EXTENSION citus" ||
		fail "CREATE EXTENSION citus on $n failed"
done
# ex7 goes onto each worker before the coordinator creates it, as docs/scale-out.md tells operators: Citus
# forwards CREATE EXTENSION to the workers as CREATE EXTENSION IF NOT EXISTS inside a two-phase commit, and
# PostgreSQL cannot PREPARE a transaction that ran NOTIFY (0.2.0's install did, from a trigger on ex7.tiers).
# On a worker that already has it the forwarded statement does nothing.
for n in w1 w2; do
	say "$n: CREATE EXTENSION ex7"
	psql_node "${PORT[$n]}" "$DB" "SET client_min_messages = warning" "CREATE EXTENSION ex7" ||
		fail "CREATE EXTENSION ex7 on $n failed"
done
say "coordinator: citus_set_coordinator_host, citus_add_node for the two workers"
psql_node "${PORT[coord]}" "$DB" "SET client_min_messages = warning" \
	"SELECT citus_set_coordinator_host('127.0.0.1', ${PORT[coord]})" \
	"SELECT citus_add_node('127.0.0.1', ${PORT[w1]})" \
	"SELECT citus_add_node('127.0.0.1', ${PORT[w2]})" >/dev/null || fail "adding the workers failed"
say "coordinator: CREATE EXTENSION ex7"
psql_node "${PORT[coord]}" "$DB" "SET client_min_messages = warning" "CREATE EXTENSION ex7" ||
	fail "CREATE EXTENSION ex7 failed"
say "coordinator: SELECT ex7.distribute()"
t0=$(date +%s)
out=$(psql_node "${PORT[coord]}" "$DB" "SET client_min_messages = warning" "\\pset tuples_only on" "\\pset format unaligned" \
	"SELECT ex7.distribute()" 2>&1) || {
	# the nodes stay up so the failure can be looked into (test/citus/probe.sh tries each table on its own)
	echo "$out"
	say "ex7.distribute() failed; the nodes keep running: psql -h $DIR -p ${PORT[coord]} -U postgres $DB; tools/citus.sh stop $DIR"
	exit 2
}
say "distributed in $(($(date +%s) - t0)) s: $(echo "$out" | tail -1)"
say "ready: psql -h $DIR -p ${PORT[coord]} -U postgres $DB (ports in $DIR/ports)"
