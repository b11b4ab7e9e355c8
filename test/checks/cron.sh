#!/usr/bin/env bash
# test/checks/cron.sh: pg_cron really runs ex7's jobs on the test cluster (docs/jobs.md). A database of its
# own (ex7_cron) gets the extension and tools/cron_setup.sh schedules ex7.run_due_jobs() there every
# minute. Before the first tick the retention job is made to fail (a trigger refuses to delete an old
# attempt counter). Then, waiting for pg_cron with a bound (polling, not a fixed sleep):
#   - the first tick ran every job: the three others succeeded, retention failed;
#   - the failure is in ex7.job_status (failing, last_error) and in the server log as a WARNING;
#   - pg_cron recorded the call itself as succeeded: one failing job does not fail the run.
# Run by tools/test.sh (and tools/try.sh cron.check) with PGHOST/PGPORT/PGUSER set and the cluster's
# directory (postgresql.log) as $1.
set -uo pipefail
cd "$(dirname "$0")/../.."
DIR=${1:?usage: test/checks/cron.sh CLUSTER_DIR}
DB=ex7_cron
q() { psql -X -qAt -v ON_ERROR_STOP=1 -d "$DB" -c "$1"; }

if psql -X -qAt -d postgres -c "SHOW shared_preload_libraries" | grep -qw pg_cron; then
	echo "ok - the test cluster preloads pg_cron (cron.database_name $(psql -X -qAt -d postgres -c 'SHOW cron.database_name'))"
else
	echo "not ok - the test cluster does not preload pg_cron (is postgresql-15-cron installed? tools/deps.sh)"
	exit 0
fi

psql -X -q -d postgres -c "SET client_min_messages = warning" -c "DROP DATABASE IF EXISTS $DB WITH (FORCE)" \
	-c "CREATE DATABASE $DB" >/dev/null
psql -X -q -v ON_ERROR_STOP=1 -d "$DB" >/dev/null <<'SQL'
CREATE EXTENSION ex7;
-- the retention job fails: its first delete (an attempt counter two days old) is refused
INSERT INTO ex7.auth_attempts (subject, window_start, count) VALUES ('login:cron@example.com', now() - interval '2 days', 1);
CREATE FUNCTION public.refuse_delete() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'cron check: attempt counters may not be deleted';
END
$$;
CREATE TRIGGER cron_check_refuse BEFORE DELETE ON ex7.auth_attempts FOR EACH ROW EXECUTE FUNCTION public.refuse_delete();
SQL
start=$(date +%s)
if bash tools/cron_setup.sh "$DB"; then
	echo "ok - tools/cron_setup.sh scheduled ex7.run_due_jobs() in $DB"
else
	echo "not ok - tools/cron_setup.sh failed"
	exit 0
fi
# scheduling again replaces the job rather than adding one
bash tools/cron_setup.sh "$DB" >/dev/null
n=$(psql -X -qAt -d postgres -c "SELECT count(*) FROM cron.job WHERE jobname = 'ex7-jobs-$DB'")
[ "$n" = 1 ] && echo "ok - scheduling twice leaves one pg_cron job" || echo "not ok - $n pg_cron jobs named ex7-jobs-$DB"

# pg_cron starts jobs on the minute: the first tick comes within 60 s; 150 s is the bound
ran=0
for _ in $(seq 1 75); do
	if [ "$(q "SELECT count(*) FROM ex7.job_status WHERE runs > 0")" = 4 ]; then ran=1; break; fi
	sleep 2
done
waited=$(($(date +%s) - start))
if [ $ran = 1 ]; then
	echo "ok - pg_cron ran ex7.run_due_jobs(): all 4 jobs ran within ${waited}s of scheduling"
else
	echo "not ok - after ${waited}s the jobs have not all run:"
	q "SELECT name, runs, failures FROM ex7.job_status"
	psql -X -qAt -d postgres -c "SELECT status, return_message FROM cron.job_run_details ORDER BY runid DESC LIMIT 3"
	tail -n 20 "$DIR/postgresql.log"
	exit 0
fi

got=$(q "SELECT string_agg(name || ':' || failing, ',' ORDER BY name) FROM ex7.job_status")
want="backtests_reap:false,billing_expire:false,retention:true,runtimes_settle:false"
[ "$got" = "$want" ] && echo "ok - the failing job is marked failing and the others ran ok ($got)" ||
	echo "not ok - job states $got, expected $want"
err=$(q "SELECT last_error FROM ex7.job_status WHERE name = 'retention'")
case "$err" in
	*"attempt counters may not be deleted"*) echo "ok - ex7.job_status shows the error: $err" ;;
	*) echo "not ok - retention's last_error is '$err'" ;;
esac
# the WARNING reaches the server log (the log collector writes it at once; allow it a few seconds)
logged=0
for _ in $(seq 1 10); do
	grep -q 'WARNING:  ex7 job retention failed: P0001: cron check: attempt counters may not be deleted' \
		"$DIR/postgresql.log" && { logged=1; break; }
	sleep 1
done
[ $logged = 1 ] && echo "ok - the server log has the failing job's WARNING" ||
	echo "not ok - no WARNING for the failing job in $DIR/postgresql.log"
st=$(psql -X -qAt -d postgres -c "SELECT d.status FROM cron.job_run_details d JOIN cron.job j USING (jobid)
                                   WHERE j.jobname = 'ex7-jobs-$DB' AND d.status <> 'running' ORDER BY d.runid LIMIT 1")
[ "$st" = succeeded ] && echo "ok - pg_cron recorded the run as succeeded despite the failing job" ||
	echo "not ok - pg_cron recorded the run as '$st'"

bash tools/cron_setup.sh --remove "$DB" >/dev/null
n=$(psql -X -qAt -d postgres -c "SELECT count(*) FROM cron.job WHERE jobname = 'ex7-jobs-$DB'")
[ "$n" = 0 ] && echo "ok - tools/cron_setup.sh --remove unschedules it" || echo "not ok - the pg_cron job is still there"
psql -X -q -d postgres -c "DROP DATABASE IF EXISTS $DB WITH (FORCE)" >/dev/null 2>&1 || true
