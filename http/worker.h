/*
 * worker.h
 *	  The alerts delivery worker: claims due deliveries from the outbox (ex7.outbox_claim), sends them to
 *	  the providers through outcall.c and records each answer (ex7.outbox_record). docs/alerts.md.
 */
#ifndef EX7D_WORKER_H
#define EX7D_WORKER_H

#include <stdbool.h>

#include <event2/event.h>

#include "pool.h"

typedef struct Worker Worker;

/*
 * worker_start: returns a worker running on base, claiming through pool (shared with the server, or its
 * own) and woken by NOTIFY ex7_outbox on LISTEN connections of its own to conninfo's server and every
 * other database node (http/listeners.c), with a timer as the fallback. Settings from the environment
 * (docs/alerts.md).
 */
extern Worker *worker_start(struct event_base *base, Pool *pool, const char *conninfo);

/* worker_stop: returns nothing; stops claiming. Sends in flight finish and are recorded. */
extern void worker_stop(Worker *w);

/* worker_busy: returns the number of deliveries being sent or recorded. */
extern int	worker_busy(Worker *w);

/* worker_free: returns nothing; frees the worker (after worker_stop and once it is not busy, or at exit). */
extern void worker_free(Worker *w);

/* worker_enabled: returns true when EX7_WORKER asks the server to run a worker in process. */
extern bool worker_enabled(void);

/* worker_main: returns the exit status of `ex7d worker`: only the worker, no HTTP listener. */
extern int	worker_main(int argc, char **argv);

#endif
