/*
 * pool.c
 *	  Asynchronous libpq connections on the libevent loop (see pool.h).
 *
 * Each connection is a small state machine: CONNECTING (PQconnectPoll driven by socket events), IDLE,
 * BUSY (a statement, and before it its PREPARE when this connection has not prepared it yet; or the
 * LISTEN commands of a listener; or a probe), and DOWN (waiting for the reconnect timer). libpq's
 * asynchronous API is used as its documentation describes: PQsendPrepare / PQsendQueryPrepared, PQflush
 * until 0 while the socket is writable, then PQconsumeInput and PQgetResult until it returns NULL while
 * the socket is readable.
 *
 * Nothing waits on the database without a deadline, because a database that stops answering without
 * closing its sockets (SIGSTOP, a paused VM, a network black hole) is never noticed otherwise, and the
 * server cannot enforce its own statement_timeout while it is frozen:
 *   - a connection attempt has EX7_CONNECT_TIMEOUT_MS (libpq enforces connect_timeout only in its
 *     blocking calls, not in PQconnectPoll);
 *   - a statement, its PREPARE included, has EX7_STATEMENT_TIMEOUT_MS: then its request gets 503, the
 *     server is asked to cancel it (from a thread: PQcancel blocks until the server answers), and the
 *     connection is dropped, since whatever it was doing may never end;
 *   - a connection idle for PROBE_IDLE_MS sends an empty query that must come back within the same
 *     deadline: an idle connection to a frozen server (the LISTEN connection above all, which never runs
 *     a statement) is found before a request needs it. TCP keepalives cannot do this: the kernel of a
 *     stopped process still answers them;
 *   - TCP keepalives and tcp_user_timeout (set when the conninfo does not) end connections to a host
 *     that vanished, at the kernel's level.
 * A host that timed out is "hung": with a multi-host conninfo the next attempts start at the host after
 * it, as libpq itself moves to the next host when one refuses (libpq "Specifying Multiple Hosts"). With
 * target_session_attrs=read-write (docs/ha.md) libpq then settles on whichever host is the primary.
 *
 * While no connection can be had (all down, or reconnecting after a failure) a request gets its 503 at
 * once, and the requests queued when the last connection went are answered at once too; the queue
 * timeout only bounds waiting for a busy connection.
 */
#include "pool.h"
#include "log.h"
#include "metrics.h"		/* counts of connections, reconnects and queue waits */

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#define POOL_MAX_STATEMENTS 128		/* distinct prepared statements; the route table has fewer */
#define RECONNECT_MIN_MS	100
#define RECONNECT_MAX_MS	2000	/* a failover's new primary is found at most this long after it is up */
#define PROBE_IDLE_MS		5000	/* an idle connection proves the server answers this often */
#define CANCELS_MAX			4		/* cancel threads at once: each may wait for a frozen server */
#define UNREACHABLE_LOG_MS	60000	/* while the database stays unreachable, one log line a minute */

/*
 * Connection options ex7d sets when the conninfo does not (libpq "Parameter Key Words"): a host that
 * vanishes is noticed within about 5 + 2 * 3 = 11 s of silence on an idle connection, and data left
 * unacknowledged for 10 s ends a busy one (tcp_user_timeout, Linux TCP_USER_TIMEOUT, RFC 5482).
 */
static const char *const default_options[][2] = {
	{"keepalives", "1"},
	{"keepalives_idle", "5"},
	{"keepalives_interval", "2"},
	{"keepalives_count", "3"},
	{"tcp_user_timeout", "10000"},
	{"fallback_application_name", "ex7d"},
};

static int	statement_timeout_ms = POOL_STATEMENT_TIMEOUT_MS;
static int	connect_timeout_ms = POOL_CONNECT_TIMEOUT_MS;
static int	cancels_running;	/* cancel threads alive (atomic) */

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
	struct event *deadline;		/* the running connect, statement, LISTEN or probe */
	int			backoff_ms;
	bool		reconnecting;	/* failed since its last successful connect */
	bool		preparing;		/* the running command is the PREPARE of job->stmt */
	bool		probing;		/* the running command is a probe (an empty query) */
	struct timeval idle_since;
	Job		   *job;
	PGresult   *result;			/* first result of the running command */
	const PoolStatement *prepared[POOL_MAX_STATEMENTS];
	int			nprepared;
} Conn;

struct Pool
{
	struct event_base *base;
	char	   *conninfo;
	PQconninfoOption *opts;		/* conninfo parsed by libpq */
	int			nhosts;			/* hosts it lists (0: libpq's default) */
	int			host_first;		/* the host connection attempts start at */
	const char *role;			/* "pool" or "listener", in log lines */
	Conn	   *conns;
	int			size;
	Job		   *head;
	Job		   *tail;
	int			queued;
	int			running;
	int			queue_max;
	int			queue_timeout_ms;
	struct event *sweep;		/* queue timeouts and probes */
	bool		closing;
	bool		unreachable;	/* no connection could be had since down_since */
	struct timeval down_since;
	struct timeval logged_at;	/* the last database_unreachable line */
	/* a listener pool: one connection that runs listen_sql after each connect and reports NOTIFYs */
	char	   *listen_sql;
	PoolNotifyCallback notify_cb;
	PoolListenCallback listen_cb;
	void	   *listen_arg;
};

static void conn_start(Conn *c);
static void conn_io_cb(evutil_socket_t fd, short what, void *arg);
static void dispatch(Pool *pool);

/* ms_since: returns the milliseconds from *t to now. */
static long
ms_since(const struct timeval *t)
{
	struct timeval now;

	gettimeofday(&now, NULL);
	return (now.tv_sec - t->tv_sec) * 1000 + (now.tv_usec - t->tv_usec) / 1000;
}

void
pool_set_timeouts(int stmt_ms, int conn_ms)
{
	statement_timeout_ms = stmt_ms;
	connect_timeout_ms = conn_ms;
}

char *
pool_check_conninfo(const char *conninfo)
{
	char	   *err = NULL;
	PQconninfoOption *o = PQconninfoParse(conninfo, &err);
	char	   *out;

	if (o)
	{
		PQconninfoFree(o);
		return NULL;
	}
	out = strdup(err ? err : "out of memory");
	if (err)
		PQfreemem(err);
	return out;
}

/* opt_value: returns the value conninfo gave keyword, or NULL. */
static const char *
opt_value(PQconninfoOption *opts, const char *keyword)
{
	for (PQconninfoOption *o = opts; o && o->keyword; o++)
		if (strcmp(o->keyword, keyword) == 0)
			return o->val && o->val[0] ? o->val : NULL;
	return NULL;
}

/* list_count: returns the number of elements of a comma-separated list (0 for NULL). */
static int
list_count(const char *s)
{
	int			n = 1;

	if (s == NULL)
		return 0;
	for (; *s; s++)
		if (*s == ',')
			n++;
	return n;
}

/* list_elem: returns buf holding element i of the comma-separated list s. */
static char *
list_elem(const char *s, int i, char *buf, size_t len)
{
	const char *e;

	while (i-- > 0 && (s = strchr(s, ',')) != NULL)
		s++;
	if (s == NULL)
		s = "";
	e = strchr(s, ',');
	snprintf(buf, len, "%.*s", (int) (e ? e - s : (long) strlen(s)), s);
	return buf;
}

/* list_rotate: returns a malloc'd copy of the list s (n elements) that starts at element k. */
static char *
list_rotate(const char *s, int k)
{
	const char *p = s;
	size_t		len = strlen(s);
	char	   *out = malloc(len + 2);

	for (int i = 0; i < k && p; i++)
		if ((p = strchr(p, ',')) != NULL)
			p++;
	if (k == 0 || p == NULL)
	{
		memcpy(out, s, len + 1);
		return out;
	}
	snprintf(out, len + 2, "%s,%.*s", p, (int) (p - s - 1), s);
	return out;
}

/*
 * host_hung: returns nothing; the host c is connected or connecting to stopped answering: attempts
 * start at the host after it from now on (a no-op with one host).
 */
static void
host_hung(Conn *c)
{
	Pool	   *pool = c->pool;
	const char *hosts = opt_value(pool->opts, "host");
	const char *ports = opt_value(pool->opts, "port");
	const char *h = c->pg ? PQhost(c->pg) : NULL;
	const char *p = c->pg ? PQport(c->pg) : NULL;

	if (pool->nhosts < 2 || h == NULL)
		return;
	if (hosts == NULL)
		hosts = opt_value(pool->opts, "hostaddr");
	/* the first host in attempt order that matches: the one libpq was at */
	for (int k = 0; k < pool->nhosts; k++)
	{
		int			i = (pool->host_first + k) % pool->nhosts;
		char		hb[256],
					pb[32];

		if (strcmp(list_elem(hosts, i, hb, sizeof(hb)), h) != 0)
			continue;
		if (p && list_count(ports) == pool->nhosts && strcmp(list_elem(ports, i, pb, sizeof(pb)), p) != 0)
			continue;
		if (i == pool->host_first)
			pool->host_first = (i + 1) % pool->nhosts;
		return;
	}
}

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
 * can_serve: returns true when a statement queued now may run soon: a connection is up, or one is
 * making its first attempt (start-up). Connections reconnecting after a failure do not count: while the
 * database is down they fail again and again, and a request should hear so at once.
 */
static bool
can_serve(Pool *pool)
{
	for (int i = 0; i < pool->size; i++)
	{
		Conn	   *c = &pool->conns[i];

		if (c->state == CONN_IDLE || c->state == CONN_BUSY ||
			(c->state == CONN_CONNECTING && !c->reconnecting))
			return true;
	}
	return false;
}

/* fail_queued: returns nothing; answers every queued statement with err (NULL result). */
static void
fail_queued(Pool *pool, const char *err)
{
	while (pool->head)
	{
		Job		   *j = pool->head;

		pool->head = j->next;
		if (pool->head == NULL)
			pool->tail = NULL;
		pool->queued--;
		job_finish(j, NULL, err);
	}
}

/*
 * conn_watch: returns nothing; (re)arms the socket event for what (EV_READ and/or EV_WRITE). The event
 * persists until the next conn_watch: a result may arrive in several reads (an error, then the
 * ReadyForQuery that ends it), and every one of them must wake us.
 */
static void
conn_watch(Conn *c, short what)
{
	/*
	 * unchanged: keep the registration (each change costs epoll_ctl calls, twice per request otherwise).
	 * Never while connecting: libpq closes the socket of a host that failed and opens one to the next
	 * host of a multi-host conninfo, which usually gets the same descriptor number; the kernel dropped
	 * the closed one from epoll, so an unchanged-looking registration would never fire again.
	 */
	if (c->ev && what == c->ev_what && c->pg && PQsocket(c->pg) == c->ev_fd && c->state != CONN_CONNECTING)
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

/* arm: returns nothing; c's running command (or connect) must finish within ms. */
static void
arm(Conn *c, int ms)
{
	struct timeval tv = {ms / 1000, (ms % 1000) * 1000};

	evtimer_add(c->deadline, &tv);
}

/* cancel_main: a thread; asks the server to cancel a statement ex7d gave up on, then ends. */
static void *
cancel_main(void *arg)
{
	PGcancel   *cn = arg;
	char		err[256];

	(void) PQcancel(cn, err, sizeof(err));	/* best effort: the request already has its answer */
	PQfreeCancel(cn);
	__atomic_sub_fetch(&cancels_running, 1, __ATOMIC_SEQ_CST);
	return NULL;
}

/*
 * cancel_async: returns nothing; asks the server to cancel c's statement without blocking the loop
 * (PQcancel waits for the server, which may be frozen): a slow but live server stops working on it
 * (and does not commit it later) even though the connection is closed.
 */
static void
cancel_async(Conn *c)
{
	PGcancel   *cn;
	pthread_t	t;
	pthread_attr_t attr;

	if (__atomic_add_fetch(&cancels_running, 1, __ATOMIC_SEQ_CST) > CANCELS_MAX ||
		(cn = PQgetCancel(c->pg)) == NULL)
	{
		__atomic_sub_fetch(&cancels_running, 1, __ATOMIC_SEQ_CST);
		return;
	}
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	pthread_attr_setstacksize(&attr, 256 * 1024);
	if (pthread_create(&t, &attr, cancel_main, cn) != 0)
	{
		PQfreeCancel(cn);
		__atomic_sub_fetch(&cancels_running, 1, __ATOMIC_SEQ_CST);
	}
	pthread_attr_destroy(&attr);
}

/* conn_reconnect_cb: timer callback; starts a new connection attempt. */
static void
conn_reconnect_cb(evutil_socket_t fd, short what, void *arg)
{
	(void) fd;
	(void) what;
	conn_start((Conn *) arg);
}

/* log_down: returns nothing; logs c's failure the first time after it was up, and the pool's outage. */
static void
log_down(Conn *c, const char *why)
{
	Pool	   *pool = c->pool;
	json_object *f;

	if (pool->closing)
		return;
	if (!c->reconnecting && c->pg)
	{
		f = log_fields();
		log_field_str(f, "pool", pool->role);
		log_field_str(f, "host", PQhost(c->pg));
		log_field_str(f, "port", PQport(c->pg));
		log_field_str(f, "reason", why);
		ex7_log_with(EX7_WARN, "database_connection_lost", f, "a database connection was dropped");
	}
	if (can_serve(pool))
		return;
	if (!pool->unreachable)
	{
		pool->unreachable = true;
		gettimeofday(&pool->down_since, NULL);
	}
	else if (ms_since(&pool->logged_at) < UNREACHABLE_LOG_MS)
		return;
	gettimeofday(&pool->logged_at, NULL);
	f = log_fields();
	log_field_str(f, "pool", pool->role);
	log_field_str(f, "reason", why);
	log_field_int(f, "down_ms", ms_since(&pool->down_since));
	ex7_log_with(EX7_ERROR, "database_unreachable", f,
				 "no database connection can be had; requests get 503 until one can");
}

/*
 * conn_down: returns nothing; drops the connection, fails its running job (the statement's outcome is
 * unknown, so the caller hears "database unavailable" rather than a guess) and schedules a reconnect.
 * When that leaves no connection to wait for, the queued statements are answered now.
 */
static void
conn_down(Conn *c, const char *reason)
{
	Pool	   *pool = c->pool;
	struct timeval tv;
	int			delay;
	char		why[512];

	/*
	 * reason is often PQerrorMessage(c->pg), which PQfinish below frees: keep a copy for the job's
	 * callback and the queue (the sanitized end-to-end run found the use after free)
	 */
	snprintf(why, sizeof(why), "%s", reason ? reason : "database connection lost");

	metrics_conn_down(pool, pool->listen_sql != NULL, c->state == CONN_IDLE || c->state == CONN_BUSY,
					  pool->closing, why);
	conn_watch(c, 0);
	evtimer_del(c->deadline);
	if (c->result)
	{
		PQclear(c->result);
		c->result = NULL;
	}
	c->state = CONN_DOWN;
	log_down(c, why);
	c->reconnecting = true;
	if (c->pg)
	{
		PQfinish(c->pg);
		c->pg = NULL;
	}
	c->nprepared = 0;
	c->probing = false;
	if (c->job)
	{
		Job		   *j = c->job;

		c->job = NULL;
		pool->running--;
		job_finish(j, NULL, why);
	}
	if (pool->closing)
		return;
	/* a quarter of jitter, so the pool's connections do not knock on a recovering server together */
	delay = c->backoff_ms - (int) (random() % (c->backoff_ms / 4 + 1));
	tv.tv_sec = delay / 1000;
	tv.tv_usec = (delay % 1000) * 1000;
	c->backoff_ms = c->backoff_ms * 2 > RECONNECT_MAX_MS ? RECONNECT_MAX_MS : c->backoff_ms * 2;
	evtimer_add(c->timer, &tv);
	if (!can_serve(pool))
		fail_queued(pool, "database unavailable");
}

/* conn_deadline_cb: timer; c's connect or command ran out of time: the server is left as hung. */
static void
conn_deadline_cb(evutil_socket_t fd, short what, void *arg)
{
	Conn	   *c = arg;
	char		why[160];

	(void) fd;
	(void) what;
	if (c->pg == NULL || (c->state != CONN_CONNECTING && c->state != CONN_BUSY))
		return;
	if (c->state == CONN_CONNECTING)
		snprintf(why, sizeof(why), "the database did not accept a connection within %d ms", connect_timeout_ms);
	else
	{
		snprintf(why, sizeof(why), "the database did not answer %s within %d ms",
				 c->job ? "a statement" : c->probing ? "a probe" : "LISTEN", statement_timeout_ms);
		if (c->job)
			cancel_async(c);
	}
	host_hung(c);
	conn_down(c, why);
}

/* conn_start: returns nothing; begins a non-blocking connection attempt. */
static void
conn_start(Conn *c)
{
	Pool	   *pool = c->pool;
	int			n = 0;
	int			nopts = 0;
	const char **kw;
	const char **val;
	char	   *rotated[3] = {NULL, NULL, NULL};
	int			nrot = 0;

	for (PQconninfoOption *o = pool->opts; o && o->keyword; o++)
		nopts++;
	kw = calloc(nopts + 1, sizeof(char *));
	val = calloc(nopts + 1, sizeof(char *));
	for (PQconninfoOption *o = pool->opts; o && o->keyword; o++)
	{
		const char *v = o->val && o->val[0] ? o->val : NULL;

		if (v == NULL)
			for (size_t i = 0; i < sizeof(default_options) / sizeof(default_options[0]); i++)
				if (strcmp(o->keyword, default_options[i][0]) == 0)
					v = default_options[i][1];
		/* the host lists start at host_first; a single port (or none) applies to every host */
		if (v && pool->host_first > 0 && list_count(v) == pool->nhosts &&
			(strcmp(o->keyword, "host") == 0 || strcmp(o->keyword, "hostaddr") == 0 ||
			 strcmp(o->keyword, "port") == 0))
			v = rotated[nrot++] = list_rotate(v, pool->host_first);
		if (v == NULL)
			continue;
		kw[n] = o->keyword;
		val[n++] = v;
	}
	c->pg = PQconnectStartParams(kw, val, 0);
	PQsetNoticeReceiver(c->pg, log_pq_notice, (void *) pool->role);	/* notices as log lines (log.h) */
	for (int i = 0; i < nrot; i++)
		free(rotated[i]);
	free(kw);
	free(val);
	if (c->pg == NULL || PQstatus(c->pg) == CONNECTION_BAD || PQsocket(c->pg) < 0)
	{
		conn_down(c, c->pg ? PQerrorMessage(c->pg) : "could not start a database connection");
		return;
	}
	PQsetnonblocking(c->pg, 1);
	c->state = CONN_CONNECTING;
	arm(c, connect_timeout_ms);
	/* PQconnectStart behaves as if PQconnectPoll last returned PGRES_POLLING_WRITING */
	conn_watch(c, EV_WRITE);
}

/* conn_idle: returns nothing; c is up and free: it takes the next queued statement. */
static void
conn_idle(Conn *c)
{
	evtimer_del(c->deadline);
	c->state = CONN_IDLE;
	c->probing = false;
	gettimeofday(&c->idle_since, NULL);
	conn_watch(c, EV_READ);		/* notices a server that closes an idle connection */
	dispatch(c->pool);
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

/* conn_send_simple: returns nothing; sends sql (LISTEN commands, or a probe) on c, which has no job. */
static void
conn_send_simple(Conn *c, const char *sql)
{
	c->state = CONN_BUSY;
	c->job = NULL;
	arm(c, statement_timeout_ms);
	if (!PQsendQuery(c->pg, sql))
	{
		conn_down(c, PQerrorMessage(c->pg));
		return;
	}
	conn_watch(c, PQflush(c->pg) == 1 ? (EV_READ | EV_WRITE) : EV_READ);
}

/*
 * ends_connection: returns true when res says the connection is over or useless for writes: an error
 * libpq made itself (no SQLSTATE: the server went away mid-result), a connection exception (class 08),
 * an operator intervention that ends sessions (57P01 admin shutdown, 57P02 crash shutdown, 57P03 cannot
 * connect now), or 25006 read-only: the server is a standby now (a failover demoted it), so nothing was
 * written and another host may take the statement.
 */
static bool
ends_connection(Conn *c, const PGresult *res)
{
	const char *st;

	if (PQstatus(c->pg) == CONNECTION_BAD)
		return true;
	if (res == NULL || PQresultStatus(res) != PGRES_FATAL_ERROR)
		return false;
	st = PQresultErrorField(res, PG_DIAG_SQLSTATE);
	return st == NULL || strncmp(st, "08", 2) == 0 || strcmp(st, "57P01") == 0 || strcmp(st, "57P02") == 0 ||
		strcmp(st, "57P03") == 0 || strcmp(st, "25006") == 0;
}

/* conn_result_done: returns nothing; the running command has returned all its results. */
static void
conn_result_done(Conn *c)
{
	PGresult   *res = c->result;
	Job		   *j = c->job;

	if (ends_connection(c, res))
	{
		const char *st = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;

		conn_down(c, st && strcmp(st, "25006") == 0 ? "the database is read-only (a standby)"
				  : "database connection lost");	/* frees c->result, fails the job */
		return;
	}
	c->result = NULL;
	if (j == NULL)
	{
		/* the LISTEN commands of a listener connection, or a probe */
		bool		probe = c->probing;
		bool		ok = res && PQresultStatus(res) == (probe ? PGRES_EMPTY_QUERY : PGRES_COMMAND_OK);

		if (res)
			PQclear(res);
		if (!ok)
		{
			conn_down(c, probe ? "probe failed" : "LISTEN failed");
			return;
		}
		conn_idle(c);
		if (!probe && c->pool->listen_cb)
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
			conn_send(c);		/* now the statement itself, under the same deadline */
			return;
		}
		/* a PREPARE that fails is a bug in the route table: report it like any statement error */
	}
	c->job = NULL;
	c->pool->running--;
	evtimer_del(c->deadline);
	c->state = CONN_IDLE;		/* before the callback: it may queue the next statement */
	gettimeofday(&c->idle_since, NULL);
	conn_watch(c, EV_READ);
	job_finish(j, res, res ? NULL : "no result from the database");
	if (res)
		PQclear(res);
	if (c->state == CONN_IDLE)
		dispatch(c->pool);
}

/* drain_notifies: returns nothing; hands every notification libpq has read to the listener's owner. */
static void
drain_notifies(Conn *c)
{
	PGnotify   *n;

	while ((n = PQnotifies(c->pg)) != NULL)
	{
		if (c->pool->notify_cb)
			c->pool->notify_cb(n->relname, n->extra, c->pool->listen_arg);
		PQfreemem(n);
	}
}

/* conn_connected: returns nothing; a connection attempt succeeded. */
static void
conn_connected(Conn *c)
{
	Pool	   *pool = c->pool;

	metrics_conn_up(pool, c->pg, pool->listen_sql != NULL);
	evtimer_del(c->deadline);
	c->backoff_ms = RECONNECT_MIN_MS;
	c->reconnecting = false;
	if (pool->unreachable)
	{
		json_object *f = log_fields();

		pool->unreachable = false;
		log_field_str(f, "pool", pool->role);
		log_field_str(f, "host", PQhost(c->pg));
		log_field_str(f, "port", PQport(c->pg));
		log_field_int(f, "down_ms", ms_since(&pool->down_since));
		ex7_log_with(EX7_INFO, "database_reachable", f, "a database connection is up again");
	}
	if (pool->listen_sql)
		conn_send_simple(c, pool->listen_sql);
	else
		conn_idle(c);
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
				conn_connected(c);
				return;
			default:
				conn_down(c, PQerrorMessage(c->pg));
				return;
		}
	}
	if (c->state != CONN_BUSY)
	{
		/* an idle connection became readable: the server closed it (or sent a notice or a NOTIFY) */
		if (!PQconsumeInput(c->pg) || PQstatus(c->pg) == CONNECTION_BAD)
		{
			conn_down(c, "database connection lost");
			return;
		}
		drain_notifies(c);
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
		drain_notifies(c);
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
		metrics_queue_wait(&j->queued_at);
		c->job = j;
		c->state = CONN_BUSY;
		arm(c, statement_timeout_ms);
		conn_send(c);
	}
}

/*
 * sweep_cb: timer; fails queued jobs that waited longer than queue_timeout_ms (none is left hanging),
 * and probes connections idle for PROBE_IDLE_MS.
 */
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
	for (int i = 0; i < pool->size; i++)
	{
		Conn	   *c = &pool->conns[i];

		if (c->state == CONN_IDLE && ms_since(&c->idle_since) >= PROBE_IDLE_MS)
		{
			c->probing = true;
			conn_send_simple(c, "");	/* an empty query: EmptyQueryResponse, then ReadyForQuery */
		}
	}
}

/* pool_alloc: returns a pool of size connections to conninfo, not yet connecting. */
static Pool *
pool_alloc(struct event_base *base, const char *conninfo, int size, const char *role)
{
	Pool	   *pool = calloc(1, sizeof(Pool));
	char	   *err = NULL;
	const char *hosts;
	struct timeval tick = {0, 100 * 1000};

	pool->base = base;
	pool->conninfo = strdup(conninfo);
	pool->role = role;
	pool->opts = PQconninfoParse(conninfo, &err);
	if (err)
		PQfreemem(err);			/* config.c checked it: the connection attempts will say what is wrong */
	hosts = opt_value(pool->opts, "host");
	pool->nhosts = list_count(hosts ? hosts : opt_value(pool->opts, "hostaddr"));
	pool->size = size;
	pool->conns = calloc(size, sizeof(Conn));
	for (int i = 0; i < size; i++)
	{
		Conn	   *c = &pool->conns[i];

		c->pool = pool;
		c->backoff_ms = RECONNECT_MIN_MS;
		c->timer = evtimer_new(base, conn_reconnect_cb, c);
		c->deadline = evtimer_new(base, conn_deadline_cb, c);
	}
	pool->sweep = event_new(base, -1, EV_PERSIST, sweep_cb, pool);
	event_add(pool->sweep, &tick);
	return pool;
}

Pool *
pool_new(struct event_base *base, const char *conninfo, int size, int queue_max, int queue_timeout_ms)
{
	Pool	   *pool = pool_alloc(base, conninfo, size, "pool");

	pool->queue_max = queue_max;
	pool->queue_timeout_ms = queue_timeout_ms;
	for (int i = 0; i < size; i++)
		conn_start(&pool->conns[i]);
	return pool;
}

Pool *
pool_new_listener(struct event_base *base, const char *conninfo, const char *listen_sql,
				  PoolNotifyCallback notify_cb, PoolListenCallback listen_cb, void *arg)
{
	Pool	   *pool = pool_alloc(base, conninfo, 1, "listener");

	pool->listen_sql = strdup(listen_sql);
	pool->notify_cb = notify_cb;
	pool->listen_cb = listen_cb;
	pool->listen_arg = arg;
	conn_start(&pool->conns[0]);
	return pool;
}

int
pool_exec(Pool *pool, const PoolStatement *stmt, const char *const *values, PoolCallback cb, void *arg)
{
	Job		   *j;

	if (pool->closing || pool->queued >= pool->queue_max)
		return -1;
	/* no connection is up or coming: answer now rather than after the queue timeout */
	if (!can_serve(pool))
		return -2;
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
		event_free(c->deadline);
	}
	while (pool->head)
	{
		Job		   *j = pool->head;

		pool->head = j->next;
		job_finish(j, NULL, "server shutting down");
	}
	if (pool->sweep)
		event_free(pool->sweep);
	PQconninfoFree(pool->opts);
	free(pool->listen_sql);
	free(pool->conns);
	free(pool->conninfo);
	metrics_pool_free(pool);	/* last (conn_down reports in): a node's listener goes, its address may be reused */
	free(pool);
}
