/*-------------------------------------------------------------------------
 *
 * backtest.h
 *	  The backtest run (ext/backtest.c) as pieces another caller can drive: a study's background
 *	  worker (ext/study.c) runs each trial as a backtest with exactly these calls, so a trial is a
 *	  backtest by construction (docs/research.md, "Studies").
 *
 * bt_begin reads the row (with its graph: the version's, or the row's own graph when a study
 * substituted parameters), marks it running and reads the history; bt_run_some runs chunks of bars
 * until at least BT_PROGRESS_BARS more are done and stores the progress, or to the end and stores the
 * result (bt_finish); bt_end frees the state. A background caller commits between calls
 * (bt_xact_begin / bt_xact_end); keep_plans makes the prepared statements outlive the transactions.
 *
 *-------------------------------------------------------------------------
 */
#ifndef EX7_BACKTEST_H
#define EX7_BACKTEST_H

#include "postgres.h"

#include "utils/uuid.h"

typedef struct BtState BtState;

/* the run's state for p_user's backtest id, status set to running (inside SPI; lives under parent) */
extern BtState *bt_begin(pg_uuid_t *user, pg_uuid_t *id, MemoryContext parent, bool keep_plans);
/* runs at least BT_PROGRESS_BARS more bars and stores bars_done (true: more to run), or runs to the
 * end and stores the result (false); inside SPI */
extern bool bt_run_some(BtState *st);
/* frees the state and, for a background run, its prepared statements (inside SPI) */
extern void bt_end(BtState *st);

/* registers a dynamic background worker of ex7 running function (named and typed name, bgw_extra
 * from extra); false when no worker slot is free */
extern bool bt_register_worker(const char *function, const char *name, const void *extra, Size len);

/* a worker's start: signals, the connection to database as role, its name */
extern void bt_worker_connect(Oid database, Oid role, const char *name);
/* waits for the launching transaction xid to end */
extern void bt_worker_wait(TransactionId xid);
/* marks p_user's backtest id failed with message (inside SPI) */
extern void bt_fail(pg_uuid_t *user, pg_uuid_t *id, const char *message);

/* a transaction with a snapshot and SPI around a step of a background worker */
extern void bt_xact_begin(void);
extern void bt_xact_end(void);

#endif							/* EX7_BACKTEST_H */
