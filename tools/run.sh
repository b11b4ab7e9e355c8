#!/usr/bin/env bash
# tools/run.sh: the README's run command (make run), and make stop. Installs what is missing, builds and
# installs the extension, starts a persistent cluster under the project folder (.pgdata/, ignored by
# git), creates database ex7 with the extension (or updates it), loads the demo data once, starts ex7d on
# 127.0.0.1:8100 (EX7_LISTEN to change) with a development HS256 secret kept in .pgdata/jwt_secret, and
# prints how to connect. Both keep running after the command returns; `make stop` stops them.
set -euo pipefail
cd "$(dirname "$0")/.."
TOP=$PWD
. tools/cluster.sh

DIR=$TOP/.pgdata
stop_ex7d() {
	if [ -f "$DIR/ex7d.pid" ] && kill -0 "$(cat "$DIR/ex7d.pid")" 2>/dev/null; then
		kill -TERM "$(cat "$DIR/ex7d.pid")"
		for _ in $(seq 1 50); do kill -0 "$(cat "$DIR/ex7d.pid")" 2>/dev/null || break; sleep 0.1; done
	fi
	rm -f "$DIR/ex7d.pid"
}
if [ "${1:-}" = "stop" ]; then
	stop_ex7d
	cluster_stop "$DIR"
	echo "ex7: ex7d and the cluster in $DIR stopped"
	exit 0
fi

bash tools/deps.sh run
echo "ex7: building ex7.so and ex7d, installing the extension"
make -s
install_ext

if [ "$(id -u)" -eq 0 ]; then
	# the cluster runs as 'postgres': it must be able to reach the project folder
	d=$TOP
	while [ "$d" != / ]; do chmod o+x "$d" 2>/dev/null || true; d=$(dirname "$d"); done
fi

if [ ! -f "$DIR/data/PG_VERSION" ]; then
	echo "ex7: creating the PostgreSQL cluster in $DIR/data"
	rm -rf "$DIR"
	cluster_init "$DIR"
	free_port "${EX7_PG_PORT:-54329}" >"$DIR/port"
fi
PORT=$(cat "$DIR/port")
export PGHOST=$DIR PGPORT=$PORT PGUSER=postgres
# pg_cron runs ex7's jobs on a clock in database ex7 (docs/jobs.md, tools/cron_setup.sh below); a cluster
# started before pg_cron was installed is restarted once to load it (shared_preload_libraries is read at
# server start)
if as_pg "$PGBIN/pg_ctl" -D "$DIR/data" status >/dev/null 2>&1 && [ -n "$(cron_opts "$DIR")" ] &&
	! psql -X -qAt -d postgres -c "SHOW shared_preload_libraries" | grep -qw pg_cron; then
	stop_ex7d
	cluster_stop "$DIR"
fi
if ! as_pg "$PGBIN/pg_ctl" -D "$DIR/data" status >/dev/null 2>&1; then
	echo "ex7: starting PostgreSQL on port $PORT"
	cluster_start "$DIR" "$PORT"
fi
echo "ex7: database ex7: the extension and the demo data"

psql -X -q -d postgres -tAc "SELECT 1 FROM pg_database WHERE datname = 'ex7'" | grep -q 1 ||
	psql -X -q -d postgres -c "CREATE DATABASE ex7"
if psql -X -q -d ex7 -tAc "SELECT 1 FROM pg_extension WHERE extname = 'ex7'" | grep -q 1; then
	psql -X -q -d ex7 -c "SET client_min_messages = warning" -c "ALTER EXTENSION ex7 UPDATE"
else
	psql -X -q -d ex7 -c "CREATE EXTENSION ex7"
fi
psql -X -q -d ex7 -v ON_ERROR_STOP=1 -f tools/demo.sql 2>&1 | grep -v '^psql.*NOTICE' || true
if [ -n "$(cron_opts "$DIR")" ]; then
	echo "ex7: scheduling the jobs with pg_cron"
	JOBS=$(bash tools/cron_setup.sh ex7)
else
	JOBS="not scheduled: pg_cron is not installed (make deps); run SELECT * FROM ex7.run_due_jobs() yourself"
fi

# ex7d, with a development secret made once (a real deployment sets EX7_JWT_SECRET / EX7_JWKS_FILE)
[ -s "$DIR/jwt_secret" ] || (umask 077; head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$DIR/jwt_secret")
export EX7_JWT_SECRET=${EX7_JWT_SECRET:-$(cat "$DIR/jwt_secret")}
export EX7_LISTEN=${EX7_LISTEN:-127.0.0.1:8100}
export DATABASE_URL=${DATABASE_URL:-"host=$DIR port=$PORT dbname=ex7 user=postgres application_name=ex7d"}
stop_ex7d
echo "ex7: starting ex7d on $EX7_LISTEN"
nohup http/ex7d >>"$DIR/ex7d.log" 2>&1 &
echo $! >"$DIR/ex7d.pid"
for _ in $(seq 1 50); do curl -s -o /dev/null "http://$EX7_LISTEN/api/health" && break; sleep 0.1; done
if ! curl -s -o /dev/null "http://$EX7_LISTEN/api/health"; then
	echo "ex7d did not start (is $EX7_LISTEN taken?); its log:" >&2
	tail -n 20 "$DIR/ex7d.log" >&2
	exit 1
fi
DEMO=de000000-0000-4000-8000-000000000001
TOKEN=$(http/ex7d token --sub "$DEMO" --email demo@ex7.local --ttl 86400)

cat <<MSG

ex7 is running.
  API:            http://$EX7_LISTEN  (ex7d log: $DIR/ex7d.log)
  console:        http://$EX7_LISTEN/  (paste the demo token below to sign in; docs/console.md)
  API reference:  http://$EX7_LISTEN/docs
  try:            curl -s http://$EX7_LISTEN/api/health
                  curl -s -H "Authorization: Bearer $TOKEN" http://$EX7_LISTEN/api/strategies
  a token for another user:  EX7_JWT_SECRET=\$(cat $DIR/jwt_secret) http/ex7d token --sub <uuid>
  PostgreSQL:     psql "host=$DIR port=$PORT dbname=ex7 user=postgres"   (data: $DIR/data)
  demo user:      $DEMO (3 strategies, 3 paper signals)
  jobs:           ${JOBS#cron_setup: }; state: SELECT * FROM ex7.job_status
  stop both with: make stop
MSG
