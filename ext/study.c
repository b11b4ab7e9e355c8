/*-------------------------------------------------------------------------
 *
 * study.c
 *	  The background workers of parameter studies (docs/research.md, "Studies"; SQL in
 *	  ext/sql/89_studies.sql).
 *
 * A study worker serves one user: it takes a free slot of the user's tier cap (study_workers_max:
 * the session advisory lock ex7._study_slot_key(user, i), held for its whole life; no free slot, it
 * exits), then loops: claim the next pending trial of the user's oldest study that has one
 * (ex7._study_claim, under the study row lock, which creates the trial's backtest row), run that
 * backtest with the backtest's own code (ext/backtest.h: bt_begin, bt_run_some with a commit every
 * 65,536 bars, bt_end), check between chunks that the study is still running (a cancelled study's
 * trial goes back to pending: ex7._study_trial_abandon), and record the trial
 * (ex7._study_trial_finish) in the transaction that stores the backtest's result. It exits when
 * nothing is pending.
 *
 * While it runs a trial it holds the session advisory lock of the trial's backtest
 * (ex7._backtest_lock_key), as a backtest's worker does: killed, it releases the lock with its
 * process, and ex7._studies_reap puts the trial back to pending (and the backtests reaper does not
 * fail a trial's backtest a worker is running).
 *
 *-------------------------------------------------------------------------
 */
#include "ex7.h"
#include "backtest.h"

#include "access/xact.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "postmaster/bgworker.h"
#include "storage/ipc.h"
#include "utils/builtins.h"
#include "utils/memutils.h"
#include "utils/uuid.h"

/* the most study worker slots a user can have (tiers.study_workers_max is at most this) */
#define STUDY_MAX_SLOTS 16

/* what the launching backend hands its worker (in bgw_extra) */
typedef struct StudyLaunch
{
	Oid			database;
	Oid			role;
	TransactionId xid;			/* the transaction that asked for the worker */
	pg_uuid_t	user;
} StudyLaunch;

StaticAssertDecl(sizeof(StudyLaunch) <= BGW_EXTRALEN, "StudyLaunch must fit in bgw_extra");

extern PGDLLEXPORT void study_worker_main(Datum arg);

/*
 * study_launch: ex7._study_launch(p_user uuid, p_workers integer). Registers up to p_workers background
 * workers for user p_user's studies and returns how many were registered (fewer when the server's worker
 * slots run out). Each waits for the calling transaction to end. The HTTP front's: EXECUTE is revoked
 * from ex7_user (99_grants.sql).
 */
PG_FUNCTION_INFO_V1(study_launch);
Datum
study_launch(PG_FUNCTION_ARGS)
{
	int32		want = PG_GETARG_INT32(1);
	StudyLaunch l;
	int32		n = 0;

	memset(&l, 0, sizeof(l));
	l.database = MyDatabaseId;
	l.role = GetUserId();
	l.xid = GetTopTransactionId();
	memcpy(&l.user, PG_GETARG_UUID_P(0), sizeof(pg_uuid_t));
	for (; n < want && n < STUDY_MAX_SLOTS; n++)
		if (!bt_register_worker("study_worker_main", "ex7 study", &l, sizeof(l)))
			break;
	PG_RETURN_INT32(n);
}

/* take_slot: takes a free slot of the user's cap (a session advisory lock); false when none is free */
static bool
take_slot(pg_uuid_t *user)
{
	Oid			types[1] = {UUIDOID};
	Datum		args[1] = {UUIDPGetDatum(user)};
	bool		isnull;
	bool		got;

	if (SPI_execute_with_args("SELECT EXISTS (SELECT 1 FROM pg_catalog.generate_series(0, "
							  "least(coalesce((SELECT t.study_workers_max FROM ex7.tiers t "
							  "WHERE t.tier = ex7._current_tier($1)), 1), 16) - 1) i "
							  "WHERE pg_catalog.pg_try_advisory_lock(ex7._study_slot_key($1, i)))",
							  1, types, args, NULL, false, 1) != SPI_OK_SELECT || SPI_processed != 1)
		elog(ERROR, "could not take a study worker slot");
	got = DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	return got;
}

/*
 * The EXISTS above stops at the first slot it locks, so a worker holds one slot. (pg_try_advisory_lock
 * is evaluated row by row in series order; EXISTS ends the scan at the first true row.)
 */

/* claim: the next trial, or false when nothing is pending; takes the backtest's lock (session) */
static bool
claim(pg_uuid_t *user, pg_uuid_t *study, int32 *trial, pg_uuid_t *backtest)
{
	Oid			types[1] = {UUIDOID};
	Datum		args[1] = {UUIDPGetDatum(user)};
	bool		isnull;
	HeapTuple	tup;
	TupleDesc	td;

	if (SPI_execute_with_args("SELECT c.study_id, c.trial_no, c.backtest_id, "
							  "pg_catalog.pg_advisory_lock(ex7._backtest_lock_key(c.backtest_id)) "
							  "FROM ex7._study_claim($1) c", 1, types, args, NULL, false, 1) != SPI_OK_SELECT)
		elog(ERROR, "could not claim a trial");
	if (SPI_processed == 0)
		return false;
	tup = SPI_tuptable->vals[0];
	td = SPI_tuptable->tupdesc;
	memcpy(study, DatumGetUUIDP(SPI_getbinval(tup, td, 1, &isnull)), sizeof(pg_uuid_t));
	*trial = DatumGetInt32(SPI_getbinval(tup, td, 2, &isnull));
	memcpy(backtest, DatumGetUUIDP(SPI_getbinval(tup, td, 3, &isnull)), sizeof(pg_uuid_t));
	return true;
}

/* still_running: the study is still queued or running (not cancelled, failed or gone) */
static bool
still_running(pg_uuid_t *user, pg_uuid_t *study)
{
	Oid			types[2] = {UUIDOID, UUIDOID};
	Datum		args[2] = {UUIDPGetDatum(user), UUIDPGetDatum(study)};
	bool		isnull;
	Datum		d;
	char	   *s;

	if (SPI_execute_with_args("SELECT ex7._study_status($1, $2)", 2, types, args, NULL, true, 1) != SPI_OK_SELECT ||
		SPI_processed != 1)
		elog(ERROR, "could not read the study");
	d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
	if (isnull)
		return false;
	s = TextDatumGetCString(d);
	return strcmp(s, "running") == 0 || strcmp(s, "queued") == 0;
}

/* trial_call: runs ex7.<fn>(user, study, trial[, error]) */
static void
trial_call(const char *q, pg_uuid_t *user, pg_uuid_t *study, int32 trial, const char *error)
{
	Oid			types[4] = {UUIDOID, UUIDOID, INT4OID, TEXTOID};
	Datum		args[4] = {UUIDPGetDatum(user), UUIDPGetDatum(study), Int32GetDatum(trial),
	error ? CStringGetTextDatum(error) : (Datum) 0};
	char		nulls[4] = {' ', ' ', ' ', error ? ' ' : 'n'};

	if (SPI_execute_with_args(q, strstr(q, "$4") ? 4 : 3, types, args, nulls, false, 0) != SPI_OK_SELECT)
		elog(ERROR, "could not record the trial");
}

/* unlock_backtest: releases the session lock of a trial's backtest */
static void
unlock_backtest(pg_uuid_t *backtest)
{
	Oid			types[1] = {UUIDOID};
	Datum		args[1] = {UUIDPGetDatum(backtest)};

	if (SPI_execute_with_args("SELECT pg_catalog.pg_advisory_unlock(ex7._backtest_lock_key($1))", 1, types, args,
							  NULL, false, 0) != SPI_OK_SELECT)
		elog(ERROR, "could not release the backtest's lock");
}

/*
 * study_worker_main: the background worker. Waits for the launching transaction to end, takes a slot,
 * then runs trials until none is pending. An error in a trial's backtest fails that trial (with the
 * message) and the worker goes on with the next.
 */
void
study_worker_main(Datum arg)
{
	StudyLaunch l;
	MemoryContext top = AllocSetContextCreate(TopMemoryContext, "ex7 study worker", ALLOCSET_DEFAULT_SIZES);
	bool		got;

	memcpy(&l, MyBgworkerEntry->bgw_extra, sizeof(l));
	bt_worker_connect(l.database, l.role, "ex7 study");

	/* the studies and trials are visible once the launching transaction commits */
	bt_worker_wait(l.xid);

	bt_xact_begin();
	got = take_slot(&l.user);
	bt_xact_end();
	if (!got)
		proc_exit(0);

	for (;;)
	{
		pg_uuid_t	study;
		pg_uuid_t	backtest;
		volatile int32 trial = 0;
		int32		no = 0;
		BtState    *volatile st = NULL;
		bool		claimed = false;

		/* the claim commits on its own (an error here ends the worker: the claim rolled back, the trial
		 * is still pending); from here on a failure fails this trial, not the claim */
		bt_xact_begin();
		claimed = claim(&l.user, &study, &no, &backtest);
		trial = no;
		bt_xact_end();
		if (!claimed)
			break;				/* nothing pending */

		PG_TRY();
		{
			bool		more = true;

			bt_xact_begin();
			st = bt_begin(&l.user, &backtest, top, true);
			bt_xact_end();
			while (more)
			{
				bt_xact_begin();
				if (!still_running(&l.user, &study))
				{
					trial_call("SELECT ex7._study_trial_abandon($1, $2, $3)", &l.user, &study, trial, NULL);
					more = false;
				}
				else
				{
					more = bt_run_some(st);
					if (!more)
						trial_call("SELECT ex7._study_trial_finish($1, $2, $3, $4)", &l.user, &study, trial, NULL);
				}
				bt_xact_end();
			}
			bt_xact_begin();
			bt_end(st);
			st = NULL;
			unlock_backtest(&backtest);
			bt_xact_end();
		}
		PG_CATCH();
		{
			ErrorData  *e;
			MemoryContext old = MemoryContextSwitchTo(top);

			e = CopyErrorData();
			MemoryContextSwitchTo(old);
			EmitErrorReport();
			FlushErrorState();
			AbortCurrentTransaction();
			/* the trial failed: its backtest too, with the message; the worker goes on */
			bt_xact_begin();
			bt_fail(&l.user, &backtest, e->message);
			trial_call("SELECT ex7._study_trial_finish($1, $2, $3, $4)", &l.user, &study, trial, e->message);
			if (st != NULL)
				bt_end(st);
			unlock_backtest(&backtest);
			bt_xact_end();
			FreeErrorData(e);
		}
		PG_END_TRY();
	}
	proc_exit(0);
}
