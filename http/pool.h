/*
 * pool.h
 *	  A pool of asynchronous (non-blocking) libpq connections driven by the libevent loop.
 *
 * Callers queue a statement (a name and its SQL, prepared lazily once per connection, plus text
 * parameters); the first idle connection runs it and the callback receives the single PGresult. When the
 * database is unreachable the callback receives NULL and a reason instead, at once or after the queue
 * timeout: requests never hang. Broken connections reconnect by themselves with backoff.
 */
#ifndef EX7D_POOL_H
#define EX7D_POOL_H

#include <stdbool.h>
#include <event2/event.h>
#include <libpq-fe.h>

typedef struct Pool Pool;

/*
 * PoolCallback: res is the result (owned by the pool: valid only during the call), or NULL with
 * conn_error saying why the statement could not run (the database is down or the queue timed out).
 */
typedef void (*PoolCallback) (PGresult *res, const char *conn_error, void *arg);

/* A statement the pool prepares on each connection on first use. Static storage. */
typedef struct PoolStatement
{
	const char *name;
	const char *sql;
	int			nparams;
} PoolStatement;

/* PoolNotifyCallback: a NOTIFY arrived on a listener pool (channel, payload). */
typedef void (*PoolNotifyCallback) (const char *channel, const char *payload, void *arg);

/* PoolListenCallback: a listener pool (re)connected and ran its LISTEN commands; notifications sent
 * while it was down are lost, so the owner resynchronises here. */
typedef void (*PoolListenCallback) (void *arg);

/* pool_new: returns a pool of size connections to conninfo, connecting in the background. */
extern Pool *pool_new(struct event_base *base, const char *conninfo, int size, int queue_max,
					  int queue_timeout_ms);

/*
 * pool_new_listener: returns a pool of one dedicated connection that runs listen_sql ("LISTEN a; LISTEN
 * b") after every connect, then reports each notification to notify_cb. It takes no statements.
 */
extern Pool *pool_new_listener(struct event_base *base, const char *conninfo, const char *listen_sql,
							   PoolNotifyCallback notify_cb, PoolListenCallback listen_cb, void *arg);

/*
 * pool_exec: returns 0 when the statement was queued (cb runs later, exactly once), -1 when the queue is
 * full, -2 when every connection is down (in both cases cb is not called). values holds stmt->nparams strings (NULL for SQL NULL); they are copied.
 */
extern int	pool_exec(Pool *pool, const PoolStatement *stmt, const char *const *values, PoolCallback cb,
					  void *arg);

/* pool_ready: returns the number of connections that are up. */
extern int	pool_ready(Pool *pool);

/* pool_pending: returns the number of statements queued or running. */
extern int	pool_pending(Pool *pool);

/* pool_free: closes every connection; queued statements get their callback with conn_error. */
extern void pool_free(Pool *pool);

#endif
