#!/usr/bin/env bash
# tools/run.sh: the README's run command (make run), and make stop. Installs what is missing, builds and
# installs the extension, starts a persistent cluster under the project folder (.pgdata/, ignored by
# git), creates database ex7 with the extension (or updates it), loads the demo data once, and prints how
# to connect. The cluster keeps running after the command returns; `make stop` stops it.
set -euo pipefail
cd "$(dirname "$0")/.."
TOP=$PWD
. tools/cluster.sh

DIR=$TOP/.pgdata
if [ "${1:-}" = "stop" ]; then
	cluster_stop "$DIR"
	echo "ex7: cluster in $DIR stopped"
	exit 0
fi

bash tools/deps.sh
make -s
install_ext

if [ "$(id -u)" -eq 0 ]; then
	# the cluster runs as 'postgres': it must be able to reach the project folder
	d=$TOP
	while [ "$d" != / ]; do chmod o+x "$d" 2>/dev/null || true; d=$(dirname "$d"); done
fi

if [ ! -f "$DIR/data/PG_VERSION" ]; then
	rm -rf "$DIR"
	cluster_init "$DIR"
	free_port "${EX7_PG_PORT:-54329}" >"$DIR/port"
fi
PORT=$(cat "$DIR/port")
if ! as_pg "$PGBIN/pg_ctl" -D "$DIR/data" status >/dev/null 2>&1; then
	cluster_start "$DIR" "$PORT"
fi
export PGHOST=$DIR PGPORT=$PORT PGUSER=postgres

psql -X -q -d postgres -tAc "SELECT 1 FROM pg_database WHERE datname = 'ex7'" | grep -q 1 ||
	psql -X -q -d postgres -c "CREATE DATABASE ex7"
if psql -X -q -d ex7 -tAc "SELECT 1 FROM pg_extension WHERE extname = 'ex7'" | grep -q 1; then
	psql -X -q -d ex7 -c "ALTER EXTENSION ex7 UPDATE"
else
	psql -X -q -d ex7 -c "CREATE EXTENSION ex7"
fi
psql -X -q -d ex7 -v ON_ERROR_STOP=1 -f tools/demo.sql

cat <<MSG

ex7: PostgreSQL 15 is running with the ex7 extension and demo data.
  data directory: $DIR/data (log: $DIR/postgresql.log)
  connect:        psql "host=$DIR port=$PORT dbname=ex7 user=postgres"
             or:  psql postgresql://postgres@127.0.0.1:$PORT/ex7
  demo user:      de000000-0000-4000-8000-000000000001 (try: SELECT ex7.list_strategies('de000000-0000-4000-8000-000000000001');)
  stop it with:   make stop
The HTTP front (ex7d) is not built yet: the cluster is left running on its own.
MSG
