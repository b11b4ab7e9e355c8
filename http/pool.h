/*
 * pool.h
 *	  A pool of asynchronous (non-blocking) libpq connections driven by the libevent loop.
 *
 * Callers queue a statement (a name and its SQL, prepared lazily once per connection, plus text
 * parameters); the first idle connection runs it and the callback receives the single PGresult. When the
 * database is unreachable the callback receives NULL and a reason instead: at once while no connection
 * can be had, after the queue timeout while every connection is busy, after the statement deadline when
 * the database stops answering. Requests never hang. Broken connections reconnect by themselves with
 * backoff; a database that stops answering (frozen, a paused VM, a network black hole) is left like a
 * dead one, and with a multi-host conninfo the next attempt starts at the host after it.
 */
#ifndef EX7D_POOL_H
#define EX7D_POOL_H

#include <stdbool.h>
#include <event2/event.h>
#include <libpq-fe.h>

typedef struct Pool Pool;

/*
 * PoolCallback: res is the result (owned by the pool: valid only during the call), or NULL with
 * conn_error saying why the statement could not run or its outcome is unknown (the database is down,
 * stopped answering, is read-only after a failover, or the queue timed out).
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

/* Defaults of pool_set_timeouts (docs/http.md: EX7_STATEMENT_TIMEOUT_MS, EX7_CONNECT_TIMEOUT_MS). */
#define POOL_STATEMENT_TIMEOUT_MS 10000
#define POOL_CONNECT_TIMEOUT_MS 5000

/*
 * pool_set_timeouts: returns nothing; sets the deadlines of the pools created afterwards: how long a
 * statement (its PREPARE included) may run before ex7d cancels it, drops the connection and answers
 * 503, and how long a connection attempt may take. Call it before pool_new.
 */
extern void pool_set_timeouts(int statement_timeout_ms, int connect_timeout_ms);

/*
 * pool_check_conninfo: returns NULL when libpq can parse conninfo (a URI or key=value string, several
 * hosts allowed), else a malloc'd message saying why not.
 */
extern char *pool_check_conninfo(const char *conninfo);

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
 * full, -2 when no connection can be had (every connection is down or reconnecting after a failure); in
 * both cases cb is not called. values holds stmt->nparams strings (NULL for SQL NULL); they are copied.
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
