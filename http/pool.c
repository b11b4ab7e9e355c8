/*
 * pool.c
 *	  Asynchronous libpq connections on the libevent loop (see pool.h).
 *
 * Each connection is a small state machine: CONNECTING (PQconnectPoll driven by socket events), IDLE,
 * BUSY (a statement, and before it its PREPARE when this connection has not prepared it yet), and DOWN
 * (waiting for the reconnect timer). libpq's asynchronous API is used as its documentation describes:
 * PQsendPrepare / PQsendQueryPrepared, PQflush until 0 while the socket is writable, then PQconsumeInput
 * and PQgetResult until it returns NULL while the socket is readable.
 */
#include "pool.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#define POOL_MAX_STATEMENTS 128		/* distinct prepared statements; the route table has fewer */
#define RECONNECT_MIN_MS	100
#define RECONNECT_MAX_MS	5000

typedef enum ConnState
{
	CONN_CONNECTING,
	CONN_IDLE,
	CONN_BUSY,
	CONN_DOWN
} ConnState;

typedef struct Job
{
	const PoolStatement *stmt;
	char	  **values;
	PoolCallback cb;
	void	   *arg;
	struct timeval queued_at;
	struct Job *next;
} Job;

typedef struct Conn
{
	Pool	   *pool;
	PGconn	   *pg;
	ConnState	state;
	struct event *ev;			/* socket readiness */
	short		ev_what;		/* what ev watches */
	int			ev_fd;			/* on which socket */
	struct event *timer;		/* reconnect */
	int			backoff_ms;
	bool		preparing;		/* the running command is the PREPARE of job->stmt */
	Job		   *job;
	PGresult   *result;			/* first result of the running command */
	const PoolStatement *prepared[POOL_MAX_STATEMENTS];
	int			nprepared;
} Conn;

struct Pool
{
	struct event_base *base;
	char	   *conninfo;
	Conn	   *conns;
	int			size;
	Job		   *head;
	Job		   *tail;
	int			queued;
	int			running;
	int			queue_max;
	int			queue_timeout_ms;
	struct event *sweep;		/* fails queued jobs older than queue_timeout_ms */
	bool		closing;
	/* a listener pool: one connection that runs listen_sql after each connect and reports NOTIFYs */
	char	   *listen_sql;
	PoolNotifyCallback notify_cb;
	PoolListenCallback listen_cb;
	void	   *listen_arg;
};

static void conn_start(Conn *c);
static void conn_io_cb(evutil_socket_t fd, short what, void *arg);
static void dispatch(Pool *pool);

/* job_free: returns nothing; frees a job and its copied values. */
static void
job_free(Job *j)
{
	if (j->values)
	{
		for (int i = 0; i < j->stmt->nparams; i++)
			free(j->values[i]);
		free(j->values);
	}
	free(j);
}

/* job_finish: returns nothing; runs the callback once and frees the job. */
static void
job_finish(Job *j, PGresult *res, const char *err)
{
	j->cb(res, err, j->arg);
	job_free(j);
}

/*
 * conn_watch: returns nothing; (re)arms the socket event for what (EV_READ and/or EV_WRITE). The event
 * persists until the next conn_watch: a result may arrive in several reads (an error, then the
 * ReadyForQuery that ends it), and every one of them must wake us.
 */
static void
conn_watch(Conn *c, short what)
{
	/* unchanged: keep the registration (each change costs epoll_ctl calls, twice per request otherwise) */
	if (c->ev && what == c->ev_what && c->pg && PQsocket(c->pg) == c->ev_fd)
		return;
	if (c->ev)
	{
		event_del(c->ev);
		event_free(c->ev);
		c->ev = NULL;
	}
	if (what == 0)
		return;
	c->ev = event_new(c->pool->base, PQsocket(c->pg), what | EV_PERSIST, conn_io_cb, c);
	c->ev_what = what;
	c->ev_fd = PQsocket(c->pg);
	event_add(c->ev, NULL);
}

/* conn_reconnect_cb: timer callback; starts a new connection attempt. */
static void
conn_reconnect_cb(evutil_socket_t fd, short what, void *arg)
{
	(void) fd;
	(void) what;
	conn_start((Conn *) arg);
}

/*
 * conn_down: returns nothing; drops the connection, fails its running job (the statement's outcome is
 * unknown, so the caller hears "database unavailable" rather than a guess) and schedules a reconnect.
 */
static void
conn_down(Conn *c, const char *why)
{
	Pool	   *pool = c->pool;
	struct timeval tv;

	conn_watch(c, 0);
	if (c->result)
	{
		PQclear(c->result);
		c->result = NULL;
	}
	if (c->pg)
	{
		PQfinish(c->pg);
		c->pg = NULL;
	}
	c->nprepared = 0;
	c->state = CONN_DOWN;
	if (c->job)
	{
		Job		   *j = c->job;

		c->job = NULL;
		pool->running--;
		job_finish(j, NULL, why);
	}
	if (pool->closing)
		return;
	tv.tv_sec = c->backoff_ms / 1000;
	tv.tv_usec = (c->backoff_ms % 1000) * 1000;
	c->backoff_ms = c->backoff_ms * 2 > RECONNECT_MAX_MS ? RECONNECT_MAX_MS : c->backoff_ms * 2;
	evtimer_add(c->timer, &tv);
}

/* conn_start: returns nothing; begins a non-blocking connection attempt. */
static void
conn_start(Conn *c)
{
	c->pg = PQconnectStart(c->pool->conninfo);
	if (c->pg == NULL || PQstatus(c->pg) == CONNECTION_BAD || PQsocket(c->pg) < 0)
	{
		conn_down(c, "could not start a database connection");
		return;
	}
	PQsetnonblocking(c->pg, 1);
	c->state = CONN_CONNECTING;
	/* PQconnectStart behaves as if PQconnectPoll last returned PGRES_POLLING_WRITING */
	conn_watch(c, EV_WRITE);
}

/* conn_send: returns nothing; sends the PREPARE or the statement of c->job and waits for the socket. */
static void
conn_send(Conn *c)
{
	Job		   *j = c->job;
	int			ok;
	bool		known = false;

	for (int i = 0; i < c->nprepared; i++)
		if (c->prepared[i] == j->stmt)
			known = true;

	c->preparing = !known;
	if (!known)
		ok = PQsendPrepare(c->pg, j->stmt->name, j->stmt->sql, j->stmt->nparams, NULL);
	else
		ok = PQsendQueryPrepared(c->pg, j->stmt->name, j->stmt->nparams, (const char *const *) j->values,
								 NULL, NULL, 0);
	if (!ok)
	{
		conn_down(c, PQerrorMessage(c->pg));
		return;
	}
	conn_watch(c, PQflush(c->pg) == 1 ? (EV_READ | EV_WRITE) : EV_READ);
}

/* conn_result_done: returns nothing; the running command has returned all its results. */
static void
conn_result_done(Conn *c)
{
	PGresult   *res = c->result;
	Job		   *j = c->job;

	c->result = NULL;
	if (j == NULL)
	{
		/* the LISTEN commands of a listener connection */
		bool		ok = res && PQresultStatus(res) == PGRES_COMMAND_OK;

		if (res)
			PQclear(res);
		if (!ok)
		{
			conn_down(c, "LISTEN failed");
			return;
		}
		c->state = CONN_IDLE;
		conn_watch(c, EV_READ);
		if (c->pool->listen_cb)
			c->pool->listen_cb(c->pool->listen_arg);
		return;
	}
	if (c->preparing)
	{
		if (res && PQresultStatus(res) == PGRES_COMMAND_OK)
		{
			PQclear(res);
			if (c->nprepared < POOL_MAX_STATEMENTS)
				c->prepared[c->nprepared++] = j->stmt;
			conn_send(c);		/* now the statement itself */
			return;
		}
		/* a PREPARE that fails is a bug in the route table: report it like any statement error */
	}
	c->job = NULL;
	c->state = CONN_IDLE;
	c->pool->running--;
	conn_watch(c, EV_READ);
	job_finish(j, res, res ? NULL : "no result from the database");
	if (res)
		PQclear(res);
	dispatch(c->pool);
}

static void
conn_io_cb(evutil_socket_t fd, short what, void *arg)
{
	Conn	   *c = arg;

	(void) fd;
	if (c->state == CONN_CONNECTING)
	{
		switch (PQconnectPoll(c->pg))
		{
			case PGRES_POLLING_READING:
				conn_watch(c, EV_READ);
				return;
			case PGRES_POLLING_WRITING:
				conn_watch(c, EV_WRITE);
				return;
			case PGRES_POLLING_OK:
				c->backoff_ms = RECONNECT_MIN_MS;
				if (c->pool->listen_sql)
				{
					c->state = CONN_BUSY;
					c->job = NULL;
					if (!PQsendQuery(c->pg, c->pool->listen_sql))
					{
						conn_down(c, PQerrorMessage(c->pg));
						return;
					}
					conn_watch(c, PQflush(c->pg) == 1 ? (EV_READ | EV_WRITE) : EV_READ);
					return;
				}
				c->state = CONN_IDLE;
				conn_watch(c, EV_READ);	/* notices a server that closes an idle connection */
				dispatch(c->pool);
				return;
			default:
				conn_down(c, PQerrorMessage(c->pg));
				return;
		}
	}
	if (c->state != CONN_BUSY)
	{
		/* an idle connection became readable: the server closed it (or sent a notice) */
		PGnotify   *n;

		if (!PQconsumeInput(c->pg) || PQstatus(c->pg) == CONNECTION_BAD)
		{
			conn_down(c, "database connection lost");
			return;
		}
		while ((n = PQnotifies(c->pg)) != NULL)
		{
			if (c->pool->notify_cb)
				c->pool->notify_cb(n->relname, n->extra, c->pool->listen_arg);
			PQfreemem(n);
		}
		conn_watch(c, EV_READ);
		return;
	}
	if (what & EV_WRITE)
	{
		int			f = PQflush(c->pg);

		if (f < 0)
		{
			conn_down(c, PQerrorMessage(c->pg));
			return;
		}
		if (f == 1)
			return;				/* still more to send; the event stays armed for read and write */
		conn_watch(c, EV_READ);
	}
	if (what & EV_READ)
	{
		if (!PQconsumeInput(c->pg))
		{
			conn_down(c, PQerrorMessage(c->pg));
			return;
		}
		while (!PQisBusy(c->pg))
		{
			PGresult   *res = PQgetResult(c->pg);

			if (res == NULL)
			{
				conn_result_done(c);
				return;
			}
			if (c->result == NULL)
				c->result = res;
			else
				PQclear(res);
		}
	}
}

/* dispatch: returns nothing; hands queued jobs to idle connections. */
static void
dispatch(Pool *pool)
{
	for (int i = 0; i < pool->size && pool->head; i++)
	{
		Conn	   *c = &pool->conns[i];
		Job		   *j;

		if (c->state != CONN_IDLE)
			continue;
		j = pool->head;
		pool->head = j->next;
		if (pool->head == NULL)
			pool->tail = NULL;
		pool->queued--;
		pool->running++;
		c->job = j;
		c->state = CONN_BUSY;
		conn_send(c);
	}
}

/* sweep_cb: timer; fails queued jobs that waited longer than queue_timeout_ms (none is left hanging). */
static void
sweep_cb(evutil_socket_t fd, short what, void *arg)
{
	Pool	   *pool = arg;
	struct timeval now;

	(void) fd;
	(void) what;
	gettimeofday(&now, NULL);
	while (pool->head)
	{
		Job		   *j = pool->head;
		long		waited = (now.tv_sec - j->queued_at.tv_sec) * 1000 +
			(now.tv_usec - j->queued_at.tv_usec) / 1000;

		if (waited < pool->queue_timeout_ms)
			break;
		pool->head = j->next;
		if (pool->head == NULL)
			pool->tail = NULL;
		pool->queued--;
		job_finish(j, NULL, pool_ready(pool) ? "database busy" : "database unavailable");
	}
}

Pool *
pool_new(struct event_base *base, const char *conninfo, int size, int queue_max, int queue_timeout_ms)
{
	Pool	   *pool = calloc(1, sizeof(Pool));
	struct timeval tick = {0, 100 * 1000};

	pool->base = base;
	pool->conninfo = strdup(conninfo);
	pool->size = size;
	pool->queue_max = queue_max;
	pool->queue_timeout_ms = queue_timeout_ms;
	pool->conns = calloc(size, sizeof(Conn));
	for (int i = 0; i < size; i++)
	{
		Conn	   *c = &pool->conns[i];

		c->pool = pool;
		c->backoff_ms = RECONNECT_MIN_MS;
		c->timer = evtimer_new(base, conn_reconnect_cb, c);
		conn_start(c);
	}
	pool->sweep = event_new(base, -1, EV_PERSIST, sweep_cb, pool);
	event_add(pool->sweep, &tick);
	return pool;
}

Pool *
pool_new_listener(struct event_base *base, const char *conninfo, const char *listen_sql,
				  PoolNotifyCallback notify_cb, PoolListenCallback listen_cb, void *arg)
{
	Pool	   *pool = calloc(1, sizeof(Pool));
	Conn	   *c;

	pool->base = base;
	pool->conninfo = strdup(conninfo);
	pool->size = 1;
	pool->listen_sql = strdup(listen_sql);
	pool->notify_cb = notify_cb;
	pool->listen_cb = listen_cb;
	pool->listen_arg = arg;
	pool->conns = calloc(1, sizeof(Conn));
	c = &pool->conns[0];
	c->pool = pool;
	c->backoff_ms = RECONNECT_MIN_MS;
	c->timer = evtimer_new(base, conn_reconnect_cb, c);
	conn_start(c);
	return pool;
}

int
pool_exec(Pool *pool, const PoolStatement *stmt, const char *const *values, PoolCallback cb, void *arg)
{
	Job		   *j;

	if (pool->closing || pool->queued >= pool->queue_max)
		return -1;
	/* every connection is down and waiting to retry: answer now rather than after the queue timeout */
	{
		bool		hope = false;

		for (int i = 0; i < pool->size; i++)
			if (pool->conns[i].state != CONN_DOWN)
				hope = true;
		if (!hope)
			return -2;
	}
	j = calloc(1, sizeof(Job));
	j->stmt = stmt;
	j->cb = cb;
	j->arg = arg;
	gettimeofday(&j->queued_at, NULL);
	if (stmt->nparams > 0)
	{
		j->values = calloc(stmt->nparams, sizeof(char *));
		for (int i = 0; i < stmt->nparams; i++)
			j->values[i] = values[i] ? strdup(values[i]) : NULL;
	}
	if (pool->tail)
		pool->tail->next = j;
	else
		pool->head = j;
	pool->tail = j;
	pool->queued++;
	dispatch(pool);
	return 0;
}

int
pool_ready(Pool *pool)
{
	int			n = 0;

	for (int i = 0; i < pool->size; i++)
		if (pool->conns[i].state == CONN_IDLE || pool->conns[i].state == CONN_BUSY)
			n++;
	return n;
}

int
pool_pending(Pool *pool)
{
	return pool->queued + pool->running;
}

void
pool_free(Pool *pool)
{
	pool->closing = true;
	for (int i = 0; i < pool->size; i++)
	{
		Conn	   *c = &pool->conns[i];

		if (c->pg)
			conn_down(c, "server shutting down");
		event_free(c->timer);
	}
	while (pool->head)
	{
		Job		   *j = pool->head;

		pool->head = j->next;
		job_finish(j, NULL, "server shutting down");
	}
	if (pool->sweep)
		event_free(pool->sweep);
	free(pool->listen_sql);
	free(pool->conns);
	free(pool->conninfo);
	free(pool);
}
