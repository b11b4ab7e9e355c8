#!/usr/bin/env bash
# tools/cron_setup.sh: schedules ex7's jobs on a clock (docs/jobs.md) with pg_cron: every minute, the
# scheduler runs `SELECT count(*) FROM ex7.run_due_jobs()` in database DB, which runs whatever job is due.
# A second pg_cron job deletes pg_cron's own run history after 7 days (cron.job_run_details grows by one
# row a run otherwise; pg_cron's README suggests the same). Idempotent: both jobs are named (ex7-jobs-DB,
# ex7-cron-history), and scheduling a name again replaces it.
#   tools/cron_setup.sh ex7              # schedule the jobs of database ex7
#   tools/cron_setup.sh --remove ex7     # unschedule them
# Needs the server started with shared_preload_libraries=pg_cron (tools/cluster.sh does it when the
# Debian package postgresql-15-cron is installed). pg_cron keeps its tables in the database named by the
# server setting cron.database_name, where this creates the extension when missing; the jobs run as the
# role that runs this script, which must be a superuser, or a BYPASSRLS role with every privilege on
# ex7's tables (the jobs act across every user). Connection: the usual PGHOST, PGPORT, PGUSER.
set -euo pipefail

remove=0
[ "${1:-}" = "--remove" ] && { remove=1; shift; }
db=${1:?usage: tools/cron_setup.sh [--remove] DATABASE}

if ! cron_db=$(psql -X -qAt -d "$db" -c "SHOW cron.database_name" 2>/dev/null); then
	echo "cron_setup: pg_cron is not loaded: start the server with shared_preload_libraries=pg_cron" \
		"(package postgresql-15-cron)" >&2
	exit 1
fi
psql -X -qAt -d "$db" -c "SELECT 1 FROM pg_extension WHERE extname = 'ex7'" | grep -q 1 ||
	{ echo "cron_setup: database $db has no ex7 extension" >&2; exit 1; }

psql -X -q -d "$cron_db" -v ON_ERROR_STOP=1 -c "SET client_min_messages = warning" \
	-c "CREATE EXTENSION IF NOT EXISTS pg_cron"
if [ $remove = 1 ]; then
	psql -X -qAt -d "$cron_db" -v ON_ERROR_STOP=1 -v name="ex7-jobs-$db" <<'SQL' >/dev/null
SELECT cron.unschedule(jobid) FROM cron.job WHERE jobname = :'name';
SQL
	echo "cron_setup: ex7's jobs of database $db unscheduled"
	exit 0
fi
psql -X -qAt -d "$cron_db" -v ON_ERROR_STOP=1 -v name="ex7-jobs-$db" -v db="$db" <<'SQL' >/dev/null
SELECT cron.schedule_in_database(:'name', '* * * * *', 'SELECT count(*) FROM ex7.run_due_jobs()', :'db');
SELECT cron.schedule('ex7-cron-history', '17 3 * * *',
                     $$DELETE FROM cron.job_run_details WHERE end_time < now() - interval '7 days'$$);
SQL
echo "cron_setup: pg_cron runs ex7.run_due_jobs() in database $db every minute (job ex7-jobs-$db in database $cron_db)"
