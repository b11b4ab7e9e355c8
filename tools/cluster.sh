# tools/cluster.sh: sourced by test.sh and run.sh. Starts and stops a private PostgreSQL 15 cluster in a
# directory of our own, listening on a unix socket in that directory and on 127.0.0.1:<free port>.
# PostgreSQL refuses to run as root, so as root the cluster belongs to the 'postgres' OS user.

PGBIN=$(pg_config --bindir)

# as_pg CMD...: run CMD as the cluster's OS user.
as_pg() {
	if [ "$(id -u)" -eq 0 ]; then
		runuser -u postgres -- "$@"
	else
		"$@"
	fi
}

# free_port START: print the first TCP port on 127.0.0.1 from START on that nobody listens on.
free_port() {
	local p=$1
	while (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; do p=$((p + 1)); done
	echo "$p"
}

# cluster_init DIR: initdb into DIR/data (trust auth: the socket lives in DIR, readable only by us).
cluster_init() {
	local dir=$1
	mkdir -p "$dir"
	[ "$(id -u)" -eq 0 ] && chown postgres: "$dir"
	chmod 700 "$dir"
	as_pg "$PGBIN/initdb" -D "$dir/data" -U postgres -A trust -E UTF8 --locale=C.UTF-8 >"$dir/initdb.log" 2>&1 ||
		{ cat "$dir/initdb.log"; return 1; }
}

# cron_opts DIR: the server options that load pg_cron (Debian postgresql-15-cron), which runs ex7's jobs
# on a clock (docs/jobs.md), when it is installed; nothing otherwise (ex7 itself does not need it). Its
# scheduler keeps its job table in database postgres (cron.database_name) and runs each job in the
# database it names (tools/cron_setup.sh), connecting over the cluster's socket in DIR.
cron_opts() {
	[ -f "$(pg_config --pkglibdir)/pg_cron.so" ] || return 0
	echo "-c shared_preload_libraries=pg_cron -c cron.database_name=postgres -c cron.host=$1"
}

# cluster_start DIR PORT [OPTIONS]: start the cluster and wait until it accepts connections. OPTIONS are
# extra server options (the throwaway test cluster passes -c fsync=off).
# The server starts with descriptor 9 closed: tools/try.sh and tools/test.sh hold their lock on it, and a
# server left behind by an interrupted run must not hold the lock for every later run.
cluster_start() {
	local dir=$1 port=$2 extra=${3:-}
	as_pg "$PGBIN/pg_ctl" -D "$dir/data" -l "$dir/postgresql.log" -w -t 60 start \
		-o "-p $port -k $dir -c listen_addresses=127.0.0.1 -c timezone=UTC $(cron_opts "$dir") $extra" >/dev/null 9>&- ||
		{ cat "$dir/postgresql.log"; return 1; }
}

# cluster_start_any DIR BASEPORT [OPTIONS]: start the cluster on the first free port from BASEPORT, and
# again on a later one when another process took that port between the check and the bind (several
# checkouts or tools start clusters on this machine). Sets CLUSTER_PORT.
cluster_start_any() {
	local dir=$1 port=$2 extra=${3:-}
	for _ in 1 2 3 4 5 6 7 8; do
		port=$(free_port "$port")
		if cluster_start "$dir" "$port" "$extra" >"$dir/start.log" 2>&1; then
			CLUSTER_PORT=$port
			return 0
		fi
		grep -q "Address already in use" "$dir/start.log" || { cat "$dir/start.log"; return 1; }
		port=$((port + 1))
	done
	cat "$dir/start.log"
	return 1
}

# cluster_stop DIR: fast shutdown; quiet when it is not running.
cluster_stop() {
	local dir=$1
	[ -f "$dir/data/postmaster.pid" ] || return 0
	as_pg "$PGBIN/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null 2>&1 || true
}

# install_ext: make install into the server's directories (root, or sudo without a password).
install_ext() {
	if [ -w "$(pg_config --pkglibdir)" ]; then
		make -s install >/dev/null
	elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
		sudo make -s install >/dev/null
	else
		echo "cannot write $(pg_config --pkglibdir): run 'sudo make install' once, then retry" >&2
		return 1
	fi
}
