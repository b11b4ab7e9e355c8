/*
 * metrics.c
 *	  GET /metrics, /livez and /readyz, and the counters the other modules feed (see metrics.h and
 *	  docs/observability.md).
 *
 *	  Format: the Prometheus text exposition format, version 0.0.4 (prometheus.io, "Exposition
 *	  formats"): "# HELP" and "# TYPE" once per family, then one sample a line; label values escape
 *	  backslash, double quote and newline; a histogram is cumulative _bucket{le} lines ending with
 *	  le="+Inf", then _sum and _count. Labels come from closed sets only (route templates of the route
 *	  table, never raw paths; methods; statuses; the database's CHECK-constrained states), so the number
 *	  of series is bounded whatever clients send.
 *
 *	  Everything here runs on the one event loop: plain counters, no locks.
 */
#include "metrics.h"
#include "log.h"
#include "sse.h"
#include "conn.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/buffer.h>
#include <event2/http.h>
#include <openssl/crypto.h>

/* Latency buckets in seconds: Prometheus's default buckets (client_golang DefBuckets, 5 ms .. 10 s),
 * with 1 ms and 2.5 ms below them because most ex7d requests take a few milliseconds
 * (docs/performance.md) and 30 s above for the slowest statements. */
static const double buckets[] = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30};
#define NBUCKETS ((int) (sizeof(buckets) / sizeof(buckets[0])))

static const char *const methods[] = {"GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "HEAD", "OTHER"};
#define NMETHODS 8

/* slots after the route table's: the paths ex7d answers outside it, and everything that matched none */
enum
{
	SLOT_METRICS,
	SLOT_LIVEZ,
	SLOT_READYZ,
	SLOT_OPENAPI,
	SLOT_UNMATCHED,
	NSPECIAL
};
static const char *const special_names[] = {"/metrics", "/livez", "/readyz", "/openapi.json", "unmatched"};

#define MAX_STATUSES 24			/* distinct statuses one route and method answered; more go to "other" */
/* pools of one process: the query pool and two sets of listeners (the stream's, the worker's) of up to
 * LISTENERS_MAX_NODES nodes each besides DATABASE_URL's server (http/listeners.h) */
#define MAX_POOLS (3 + 2 * LISTENERS_MAX_NODES)
#define MAX_JOBS 64
#define JOB_WATCH_SECONDS 60	/* how often a failed job is looked for (the jobs run each minute, docs/jobs.md) */

typedef struct Hist
{
	uint64_t	b[NBUCKETS];	/* per bucket, not cumulative: summed when printed */
	uint64_t	count;
	double		sum;
} Hist;

typedef struct Series
{
	Hist		h;
	int			nst;
	int			status[MAX_STATUSES];
	uint64_t	n[MAX_STATUSES];
	uint64_t	other;			/* statuses beyond MAX_STATUSES */
} Series;

typedef struct PoolState
{
	const void *pool;
	bool		listener;
	int			up;				/* connections established */
	int			lost;			/* connections lost and not yet back: the next ups are reconnects */
} PoolState;

typedef struct JobSeen
{
	char		name[64];
	long long	failures;
} JobSeen;

static struct
{
	Server	   *srv;
	char	   *listen_host;	/* EX7_METRICS_LISTEN, or NULL: /metrics on the API address */
	int			listen_port;
	char	   *token;			/* EX7_METRICS_TOKEN, or NULL */
	struct evhttp *http;		/* the metrics address */
	struct event *job_timer;
	time_t		started;
	Series	  **series;			/* [slot * NMETHODS + method], allocated on first use */
	int			nslots;
	Hist		queue_wait;
	Hist		notify_lag;
	uint64_t	frames[3];
	uint64_t	slow_closed;
	uint64_t	refused_user;
	uint64_t	refused_addr;
	uint64_t	losses[2];		/* [listener] */
	uint64_t	reconnects[2];
	PoolState	pools[MAX_POOLS];
	int			npools;
	JobSeen		jobs[MAX_JOBS];
	int			njobs;
	time_t		jobs_read_at;	/* the last reading of the jobs (a scrape or the timer) */
} M;

/* the routes of this file: not in the route table (they are not the EX7 API), answered by metrics_route */
static const Route metrics_routes[] = {
	{EVHTTP_REQ_GET, "/metrics", AUTH_SERVICE, 200, {"metrics_snapshot", "SELECT ex7.metrics_snapshot()", 0},
	 {{0}}, NULL, false, NULL, "text/plain; version=0.0.4; charset=utf-8"},
	{EVHTTP_REQ_GET, "/livez", AUTH_PUBLIC, 200, {NULL, NULL, 0}},
	{EVHTTP_REQ_GET, "/readyz", AUTH_PUBLIC, 200,
	 {"readyz", "SELECT (SELECT e.extversion FROM pg_catalog.pg_extension e WHERE e.extname = 'ex7')", 0}},
};

/* ------------------------------------------------------------------------------------------------
 * Counting
 * ---------------------------------------------------------------------------------------------- */

/* hist_observe: returns nothing; adds one observation of v seconds to h. */
static void
hist_observe(Hist *h, double v)
{
	int			i = 0;

	while (i < NBUCKETS && v > buckets[i])
		i++;
	if (i < NBUCKETS)
		h->b[i]++;
	h->count++;
	h->sum += v;
}

/* method_index: returns the index of method name m in methods[] (OTHER when unknown). */
static int
method_index(const char *m)
{
	for (int i = 0; i < NMETHODS - 1; i++)
		if (strcmp(m, methods[i]) == 0)
			return i;
	return NMETHODS - 1;
}

/* slot_of: returns the series slot of r: its route table index, or a special slot. */
static int
slot_of(const Req *r)
{
	int			nm = (int) (sizeof(metrics_routes) / sizeof(metrics_routes[0]));

	if (r->route >= routes && r->route < routes + nroutes)
		return (int) (r->route - routes);
	if (r->route >= metrics_routes && r->route < metrics_routes + nm)
		return nroutes + (int) (r->route - metrics_routes);
	if (r->path && strcmp(r->path, "/openapi.json") == 0)
		return nroutes + SLOT_OPENAPI;
	return nroutes + SLOT_UNMATCHED;
}

void
metrics_request(const Req *r, int status)
{
	struct timeval now;
	double		s;
	int			key;
	Series	   *se;

	if (M.series == NULL)
	{
		M.nslots = nroutes + NSPECIAL;
		M.series = calloc((size_t) M.nslots * NMETHODS, sizeof(Series *));
	}
	key = slot_of(r) * NMETHODS + method_index(r->method);
	if ((se = M.series[key]) == NULL)
		se = M.series[key] = calloc(1, sizeof(Series));
	gettimeofday(&now, NULL);
	s = (double) (now.tv_sec - r->start.tv_sec) + (now.tv_usec - r->start.tv_usec) / 1e6;
	hist_observe(&se->h, s < 0 ? 0 : s);
	for (int i = 0; i < se->nst; i++)
		if (se->status[i] == status)
		{
			se->n[i]++;
			return;
		}
	if (se->nst < MAX_STATUSES)
	{
		se->status[se->nst] = status;
		se->n[se->nst++] = 1;
	}
	else
		se->other++;
}

void
metrics_rate_refused(bool authed)
{
	if (authed)
		M.refused_user++;
	else
		M.refused_addr++;
}

void
metrics_sse_frames(SseFrameKind kind, int n)
{
	M.frames[kind] += (uint64_t) n;
}

void
metrics_sse_slow_closed(void)
{
	M.slow_closed++;
}

/*
 * parse_rfc3339: returns true with *out the epoch seconds of s, a timestamp as PostgreSQL's jsonb prints a
 * timestamptz ("2026-03-09T14:35:00.123456+00:00"; RFC 3339 section 5.6).
 */
static bool
parse_rfc3339(const char *s, double *out)
{
	struct tm	tm = {0};
	int			n = 0;
	const char *p;
	double		frac = 0;
	long		off = 0;

	if (sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d%n", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour, &tm.tm_min,
			   &tm.tm_sec, &n) != 6 || n == 0)
		return false;
	tm.tm_year -= 1900;
	tm.tm_mon -= 1;
	p = s + n;
	if (*p == '.')
	{
		char	   *end;

		frac = strtod(p, &end);
		p = end;
	}
	if (*p == '+' || *p == '-')
	{
		int			oh = 0,
					om = 0;

		if (sscanf(p + 1, "%2d:%2d", &oh, &om) < 1)
			return false;
		off = (oh * 3600L + om * 60L) * (*p == '-' ? -1 : 1);
	}
	else if (*p != 'Z')
		return false;
	*out = (double) (timegm(&tm) - off) + frac;
	return true;
}

void
metrics_notify_lag(const char *kind, json_object *payload)
{
	json_object *sig;
	json_object *ts;
	double		t;
	struct timeval now;

	if (!json_object_object_get_ex(payload, "signal", &sig) ||
		!json_object_object_get_ex(sig, strcmp(kind, "signal_closed") == 0 ? "closed_at" : "fired_at", &ts) ||
		!json_object_is_type(ts, json_type_string) || !parse_rfc3339(json_object_get_string(ts), &t))
		return;
	gettimeofday(&now, NULL);
	t = (double) now.tv_sec + now.tv_usec / 1e6 - t;
	hist_observe(&M.notify_lag, t < 0 ? 0 : t);	/* the database's clock may be a little ahead */
}

/* pool_state: returns the state kept for pool (created on first sight; NULL past MAX_POOLS). */
static PoolState *
pool_state(const void *pool, bool listener)
{
	for (int i = 0; i < M.npools; i++)
		if (M.pools[i].pool == pool)
			return &M.pools[i];
	if (M.npools == MAX_POOLS)
		return NULL;
	M.pools[M.npools].pool = pool;
	M.pools[M.npools].listener = listener;
	return &M.pools[M.npools++];
}

void
metrics_conn_up(const void *pool, PGconn *pg, bool listener)
{
	PoolState  *p = pool_state(pool, listener);

	if (p == NULL)
		return;
	p->up++;
	if (p->lost > 0)
	{
		json_object *f = log_fields();

		/* pool.c logs the loss (database_connection_lost) and a whole outage's end (database_reachable) */
		p->lost--;
		M.reconnects[listener]++;
		log_field_str(f, "pool", listener ? "listen" : "query");
		log_field_str(f, "host", PQhost(pg));
		ex7_log_with(EX7_INFO, listener ? "listen_reconnected" : "database_reconnected", f,
					 listener ? "LISTEN connection established again: the streams catch up from their log"
					 : "a dropped database connection is established again");
	}
}

void
metrics_conn_down(const void *pool, bool listener, bool was_up, bool closing, const char *why)
{
	PoolState  *p = pool_state(pool, listener);

	(void) why;
	if (closing || p == NULL || !was_up)
		return;					/* a pool being freed lost nothing; a failed attempt was not up */
	p->up--;
	p->lost++;
	M.losses[listener]++;
}

void
metrics_pool_free(const void *pool)
{
	for (int i = 0; i < M.npools; i++)
		if (M.pools[i].pool == pool)
		{
			M.pools[i] = M.pools[--M.npools];
			return;
		}
}

void
metrics_queue_wait(const struct timeval *queued_at)
{
	struct timeval now;
	double		s;

	gettimeofday(&now, NULL);
	s = (double) (now.tv_sec - queued_at->tv_sec) + (now.tv_usec - queued_at->tv_usec) / 1e6;
	hist_observe(&M.queue_wait, s < 0 ? 0 : s);
}

/* ------------------------------------------------------------------------------------------------
 * Failed jobs: logged once each (docs/jobs.md runs them in the database; ex7d reads ex7.job_status)
 * ---------------------------------------------------------------------------------------------- */

/* watch_jobs: returns nothing; logs each job whose failure count grew since the last reading. */
static void
watch_jobs(json_object *snap)
{
	json_object *jobs;
	size_t		n;

	M.jobs_read_at = time(NULL);
	if (!json_object_object_get_ex(snap, "jobs", &jobs) || !json_object_is_type(jobs, json_type_array))
		return;
	n = json_object_array_length(jobs);
	for (size_t i = 0; i < n; i++)
	{
		json_object *j = json_object_array_get_idx(jobs, i);
		json_object *v;
		const char *name;
		long long	failures;
		bool		failing;
		JobSeen    *seen = NULL;

		if (!json_object_object_get_ex(j, "name", &v) || (name = json_object_get_string(v)) == NULL)
			continue;
		failures = json_object_object_get_ex(j, "failures", &v) ? json_object_get_int64(v) : 0;
		failing = json_object_object_get_ex(j, "failing", &v) && json_object_get_boolean(v);
		for (int k = 0; k < M.njobs; k++)
			if (strcmp(M.jobs[k].name, name) == 0)
				seen = &M.jobs[k];
		if (seen == NULL && M.njobs < MAX_JOBS)
		{
			seen = &M.jobs[M.njobs++];
			snprintf(seen->name, sizeof(seen->name), "%s", name);
			/* first sight: a job failing now is reported once, its older failures are history */
			seen->failures = failures - (failing ? 1 : 0);
		}
		if (seen == NULL || failures <= seen->failures)
			continue;
		{
			json_object *f = log_fields();

			log_field_str(f, "job", name);
			log_field_int(f, "failures", failures);
			log_field_int(f, "new_failures", failures - seen->failures);
			log_field_str(f, "error", json_object_object_get_ex(j, "last_error", &v)
						  ? json_object_get_string(v) : NULL);
			ex7_log_with(EX7_ERROR, "job_failed", f, "job %s failed", name);
		}
		seen->failures = failures;
	}
}

static const PoolStatement snapshot_stmt = {"metrics_snapshot", "SELECT ex7.metrics_snapshot()", 0};

/* jobs_cb: the job watch's snapshot answered (NULL: the database is down, logged by the pool). */
static void
jobs_cb(PGresult *res, const char *conn_error, void *arg)
{
	json_object *snap;

	(void) conn_error;
	(void) arg;
	if (res == NULL || PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1)
		return;
	if ((snap = json_tokener_parse(PQgetvalue(res, 0, 0))) != NULL)
		watch_jobs(snap);
	json_object_put(snap);
}

/*
 * job_timer_cb: timer; reads the jobs' state unless a scrape did within the period (Prometheus scraping
 * every 15 s makes this timer idle: the snapshot costs 25 ms with 100,000 delivery rows, 250-300 ms with
 * 1,000,000, docs/observability.md).
 */
static void
job_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	(void) fd;
	(void) what;
	(void) arg;
	if (!M.srv->stopping && time(NULL) - M.jobs_read_at >= JOB_WATCH_SECONDS - 1)
		pool_exec(M.srv->pool, &snapshot_stmt, NULL, jobs_cb, NULL);
}

/* ------------------------------------------------------------------------------------------------
 * The exposition
 * ---------------------------------------------------------------------------------------------- */

/* add_label: returns nothing; appends name="value" with the format's escapes. */
static void
add_label(struct evbuffer *b, const char *name, const char *value)
{
	evbuffer_add_printf(b, "%s=\"", name);
	for (const char *p = value ? value : ""; *p; p++)
	{
		if (*p == '\\')
			evbuffer_add(b, "\\\\", 2);
		else if (*p == '"')
			evbuffer_add(b, "\\\"", 2);
		else if (*p == '\n')
			evbuffer_add(b, "\\n", 2);
		else
			evbuffer_add(b, p, 1);
	}
	evbuffer_add(b, "\"", 1);
}

/* family: returns nothing; appends the HELP and TYPE lines of a metric family. */
static void
family(struct evbuffer *b, const char *name, const char *type, const char *help)
{
	evbuffer_add_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* add_value: returns nothing; appends a sample value: integers as integers, NaN and infinities by name. */
static void
add_value(struct evbuffer *b, double v)
{
	if (isnan(v))
		evbuffer_add_printf(b, " NaN\n");
	else if (isinf(v))
		evbuffer_add_printf(b, " %sInf\n", v > 0 ? "+" : "-");
	else if (v == floor(v) && fabs(v) < 1e15)
		evbuffer_add_printf(b, " %.0f\n", v);
	else
		evbuffer_add_printf(b, " %.6f\n", v);
}

/* hist_lines: returns nothing; appends the _bucket, _sum and _count lines of h with labels (or ""). */
static void
hist_lines(struct evbuffer *b, const char *name, const char *labels, const Hist *h)
{
	uint64_t	cum = 0;

	for (int i = 0; i < NBUCKETS; i++)
	{
		cum += h->b[i];
		evbuffer_add_printf(b, "%s_bucket{%s%sle=\"%g\"} %llu\n", name, labels, *labels ? "," : "", buckets[i],
							(unsigned long long) cum);
	}
	evbuffer_add_printf(b, "%s_bucket{%s%sle=\"+Inf\"} %llu\n", name, labels, *labels ? "," : "",
						(unsigned long long) h->count);
	evbuffer_add_printf(b, "%s_sum%s%s%s %.6f\n", name, *labels ? "{" : "", labels, *labels ? "}" : "", h->sum);
	evbuffer_add_printf(b, "%s_count%s%s%s %llu\n", name, *labels ? "{" : "", labels, *labels ? "}" : "",
						(unsigned long long) h->count);
}

/* slot_name: returns the route label of a slot. */
static const char *
slot_name(int slot)
{
	return slot < nroutes ? routes[slot].pattern : special_names[slot - nroutes];
}

/* process_metrics: returns nothing; appends what this process counts. */
static void
process_metrics(struct evbuffer *b)
{
	Server	   *srv = M.srv;
	int			up = pool_ready(srv->pool);
	int			pending = pool_pending(srv->pool);
	int			busy = pending < up ? pending : up;

	family(b, "ex7d_build_info", "gauge", "The version of this ex7d (ex7.control's default_version); always 1.");
	evbuffer_add_printf(b, "ex7d_build_info{version=\"%s\"} 1\n", EX7_VERSION);
	family(b, "ex7d_start_time_seconds", "gauge", "When this process started, Unix time.");
	evbuffer_add_printf(b, "ex7d_start_time_seconds %lld\n", (long long) M.started);

	family(b, "ex7d_http_requests_total", "counter",
		   "Requests answered, by route template (unmatched: no route), method and status.");
	for (int k = 0; M.series && k < M.nslots * NMETHODS; k++)
	{
		Series	   *se = M.series[k];

		for (int i = 0; se && i <= se->nst; i++)
		{
			char		st[16];

			if (i == se->nst && se->other == 0)
				break;
			snprintf(st, sizeof(st), "%d", i < se->nst ? se->status[i] : 0);
			evbuffer_add_printf(b, "ex7d_http_requests_total{");
			add_label(b, "route", slot_name(k / NMETHODS));
			evbuffer_add(b, ",", 1);
			add_label(b, "method", methods[k % NMETHODS]);
			evbuffer_add(b, ",", 1);
			add_label(b, "status", i < se->nst ? st : "other");
			evbuffer_add_printf(b, "} %llu\n", (unsigned long long) (i < se->nst ? se->n[i] : se->other));
		}
	}
	family(b, "ex7d_http_request_duration_seconds", "histogram",
		   "Time from a request's arrival to its reply (a stream: to its first byte), by route template and method.");
	for (int k = 0; M.series && k < M.nslots * NMETHODS; k++)
	{
		struct evbuffer *l;
		size_t		len;
		char	   *labels;

		if (M.series[k] == NULL)
			continue;
		l = evbuffer_new();
		add_label(l, "route", slot_name(k / NMETHODS));
		evbuffer_add(l, ",", 1);
		add_label(l, "method", methods[k % NMETHODS]);
		len = evbuffer_get_length(l);
		labels = malloc(len + 1);
		evbuffer_remove(l, labels, len);
		labels[len] = '\0';
		hist_lines(b, "ex7d_http_request_duration_seconds", labels, &M.series[k]->h);
		free(labels);
		evbuffer_free(l);
	}
	family(b, "ex7d_http_requests_in_flight", "gauge", "Requests received and not answered yet (streams not included).");
	evbuffer_add_printf(b, "ex7d_http_requests_in_flight %d\n", srv->inflight);

	family(b, "ex7d_db_pool_connections", "gauge",
		   "Connections of the query pool: busy (running a statement), idle, down (connecting or waiting to reconnect).");
	evbuffer_add_printf(b, "ex7d_db_pool_connections{state=\"busy\"} %d\n", busy);
	evbuffer_add_printf(b, "ex7d_db_pool_connections{state=\"idle\"} %d\n", up - busy);
	evbuffer_add_printf(b, "ex7d_db_pool_connections{state=\"down\"} %d\n", srv->cfg.pool_size - up);
	family(b, "ex7d_db_pool_queue_length", "gauge", "Statements waiting for a free connection.");
	evbuffer_add_printf(b, "ex7d_db_pool_queue_length %d\n", pending - busy);
	family(b, "ex7d_db_pool_queue_wait_seconds", "histogram", "Time a statement waited for a free connection.");
	hist_lines(b, "ex7d_db_pool_queue_wait_seconds", "", &M.queue_wait);
	family(b, "ex7d_db_connection_losses_total", "counter",
		   "Established database connections that broke, by pool (query, listen).");
	evbuffer_add_printf(b, "ex7d_db_connection_losses_total{pool=\"query\"} %llu\n", (unsigned long long) M.losses[0]);
	evbuffer_add_printf(b, "ex7d_db_connection_losses_total{pool=\"listen\"} %llu\n", (unsigned long long) M.losses[1]);
	family(b, "ex7d_db_reconnects_total", "counter", "Broken query-pool connections established again.");
	evbuffer_add_printf(b, "ex7d_db_reconnects_total %llu\n", (unsigned long long) M.reconnects[0]);
	family(b, "ex7d_listen_reconnects_total", "counter",
		   "LISTEN connections established again after a loss (the streams then catch up from their log).");
	evbuffer_add_printf(b, "ex7d_listen_reconnects_total %llu\n", (unsigned long long) M.reconnects[1]);
	family(b, "ex7d_listen_connected", "gauge",
		   "LISTEN connections of the signal stream that are up: DATABASE_URL's server and every other node (docs/stream.md).");
	evbuffer_add_printf(b, "ex7d_listen_connected %d\n", listeners_connected(srv->listeners));
	family(b, "ex7d_listen_connections", "gauge",
		   "LISTEN connections the signal stream keeps, up or not: DATABASE_URL's server and every other node.");
	evbuffer_add_printf(b, "ex7d_listen_connections %d\n", listeners_total(srv->listeners));
	family(b, "ex7d_listen_nodes", "gauge",
		   "Database nodes known to send notifications (ex7.notify_nodes() on Citus, or EX7_LISTEN_NODES); 0 on plain PostgreSQL.");
	evbuffer_add_printf(b, "ex7d_listen_nodes %d\n", listeners_nodes(srv->listeners));

	/* the connection guard (http/conn.c, docs/http.md "Connections and framing") */
	family(b, "ex7d_connections_open", "gauge", "API connections open (the metrics address not included).");
	evbuffer_add_printf(b, "ex7d_connections_open %d\n", conn_count());
	family(b, "ex7d_connections_max", "gauge", "The connection cap (EX7_MAX_CONNECTIONS); at it ex7d stops accepting.");
	evbuffer_add_printf(b, "ex7d_connections_max %d\n", conn_cap());
	family(b, "ex7d_requests_refused_total", "counter",
		   "Requests refused by the framing rules before they reached a route (400, 411, 413, 414, 417, 431, 501, 505).");
	evbuffer_add_printf(b, "ex7d_requests_refused_total %lld\n", conn_refused_total());
	family(b, "ex7d_head_timeouts_total", "counter",
		   "Connections closed because no complete request head came within EX7_HEAD_TIMEOUT_MS (idle keep-alive ones included).");
	evbuffer_add_printf(b, "ex7d_head_timeouts_total %lld\n", conn_timed_out_total());

	family(b, "ex7d_sse_streams_open", "gauge", "Signal streams (GET /api/signals/stream) open on this process.");
	evbuffer_add_printf(b, "ex7d_sse_streams_open %d\n", sse_streams_open());
	family(b, "ex7d_sse_frames_total", "counter",
		   "Frames written to signal streams: live (fanned out), replay (read from the log), heartbeat.");
	evbuffer_add_printf(b, "ex7d_sse_frames_total{kind=\"live\"} %llu\n", (unsigned long long) M.frames[SSE_FRAME_LIVE]);
	evbuffer_add_printf(b, "ex7d_sse_frames_total{kind=\"replay\"} %llu\n", (unsigned long long) M.frames[SSE_FRAME_REPLAY]);
	evbuffer_add_printf(b, "ex7d_sse_frames_total{kind=\"heartbeat\"} %llu\n",
						(unsigned long long) M.frames[SSE_FRAME_HEARTBEAT]);
	family(b, "ex7d_sse_slow_clients_closed_total", "counter",
		   "Streams closed because the client did not read for a heartbeat interval.");
	evbuffer_add_printf(b, "ex7d_sse_slow_clients_closed_total %llu\n", (unsigned long long) M.slow_closed);
	family(b, "ex7d_notification_lag_seconds", "histogram",
		   "From a signal event's time in its transaction (fired_at, closed_at) to its fan-out to this process's streams.");
	hist_lines(b, "ex7d_notification_lag_seconds", "", &M.notify_lag);

	family(b, "ex7d_rate_limit_refusals_total", "counter",
		   "Requests refused with 429 by the rate limits: a user's tier (user) or a client address on public routes (address).");
	evbuffer_add_printf(b, "ex7d_rate_limit_refusals_total{scope=\"user\"} %llu\n", (unsigned long long) M.refused_user);
	evbuffer_add_printf(b, "ex7d_rate_limit_refusals_total{scope=\"address\"} %llu\n", (unsigned long long) M.refused_addr);
}

/* num: returns member key of o as a double (NAN when absent or null). */
static double
num(json_object *o, const char *key)
{
	json_object *v;

	if (!json_object_object_get_ex(o, key, &v) || v == NULL)
		return NAN;
	if (json_object_is_type(v, json_type_string))
		return strtod(json_object_get_string(v), NULL);
	return json_object_get_double(v);
}

/* str: returns member key of o as a string ("" when absent). */
static const char *
str(json_object *o, const char *key)
{
	json_object *v;
	const char *s;

	if (!json_object_object_get_ex(o, key, &v) || v == NULL || (s = json_object_get_string(v)) == NULL)
		return "";
	return s;
}

/*
 * rows: returns nothing; one sample of metric per element of array key of snap, labelled by the named
 * members (up to 2) and valued by member value.
 */
static void
rows(struct evbuffer *b, json_object *snap, const char *key, const char *metric, const char *l1, const char *l2,
	 const char *value)
{
	json_object *a;
	size_t		n;

	if (!json_object_object_get_ex(snap, key, &a) || !json_object_is_type(a, json_type_array))
		return;
	n = json_object_array_length(a);
	for (size_t i = 0; i < n; i++)
	{
		json_object *o = json_object_array_get_idx(a, i);
		double		v = num(o, value);

		if (isnan(v))
			continue;
		evbuffer_add_printf(b, "%s{", metric);
		add_label(b, l1, str(o, l1));
		if (l2)
		{
			evbuffer_add(b, ",", 1);
			add_label(b, l2, str(o, l2));
		}
		evbuffer_add(b, "}", 1);
		add_value(b, v);
	}
}

/* job_rows: returns nothing; one sample of metric per job (label job), valued by member value (scaled). */
static void
job_rows(struct evbuffer *b, json_object *snap, const char *metric, const char *value, double scale)
{
	json_object *a;
	size_t		n;

	if (!json_object_object_get_ex(snap, "jobs", &a) || !json_object_is_type(a, json_type_array))
		return;
	n = json_object_array_length(a);
	for (size_t i = 0; i < n; i++)
	{
		json_object *o = json_object_array_get_idx(a, i);
		json_object *v;
		double		x;

		if (!json_object_object_get_ex(o, value, &v) || v == NULL)
			continue;
		x = json_object_is_type(v, json_type_boolean) ? (json_object_get_boolean(v) ? 1 : 0) : num(o, value) * scale;
		evbuffer_add_printf(b, "%s{", metric);
		add_label(b, "job", str(o, "name"));
		evbuffer_add(b, "}", 1);
		add_value(b, x);
	}
}

/* database_metrics: returns nothing; appends the figures of ex7.metrics_snapshot() (snap may be NULL). */
static void
database_metrics(struct evbuffer *b, json_object *snap)
{
	json_object *outbox = NULL;
	json_object *jobs = NULL;

	family(b, "ex7d_database_snapshot_ok", "gauge",
		   "1 when this scrape read ex7.metrics_snapshot(); 0: the ex7_* figures below are missing (database out of reach).");
	evbuffer_add_printf(b, "ex7d_database_snapshot_ok %d\n", snap ? 1 : 0);
	if (snap == NULL)
		return;
	if (json_object_object_get_ex(snap, "outbox", &outbox))
	{
		double		age = num(outbox, "oldest_age_seconds");

		family(b, "ex7_outbox_queued", "gauge", "Alert deliveries waiting to be sent (status queued), due or not.");
		evbuffer_add_printf(b, "ex7_outbox_queued");
		add_value(b, num(outbox, "queued"));
		family(b, "ex7_outbox_due", "gauge", "Queued alert deliveries whose next attempt is due now.");
		evbuffer_add_printf(b, "ex7_outbox_due");
		add_value(b, num(outbox, "due"));
		family(b, "ex7_outbox_oldest_age_seconds", "gauge", "Age of the oldest queued alert delivery (0: none queued).");
		evbuffer_add_printf(b, "ex7_outbox_oldest_age_seconds");
		add_value(b, isnan(age) ? 0 : age);
	}
	family(b, "ex7_alert_deliveries", "gauge",
		   "Alert delivery rows by provider (resend, twilio, telegram, webhook) and status, as kept (retention: docs/jobs.md).");
	rows(b, snap, "deliveries", "ex7_alert_deliveries", "provider", "status", "count");
	family(b, "ex7_runtimes", "gauge", "Strategy runtimes by status and mode.");
	rows(b, snap, "runtimes", "ex7_runtimes", "status", "mode", "count");
	family(b, "ex7_dispatcher_last_bar_timestamp_seconds", "gauge",
		   "The newest bar the dispatcher evaluated for a runtime, by instrument and timeframe, Unix time.");
	rows(b, snap, "dispatcher", "ex7_dispatcher_last_bar_timestamp_seconds", "instrument", "timeframe", "last_bar_ts");
	family(b, "ex7_dispatcher_last_evaluation_timestamp_seconds", "gauge",
		   "When the dispatcher last moved a runtime on that instrument and timeframe, Unix time.");
	rows(b, snap, "dispatcher", "ex7_dispatcher_last_evaluation_timestamp_seconds", "instrument", "timeframe",
		 "evaluated_at");
	if (json_object_object_get_ex(snap, "jobs", &jobs) && json_object_is_type(jobs, json_type_array))
	{
		family(b, "ex7_job_runs_total", "counter", "Runs of each job on a clock (docs/jobs.md).");
		job_rows(b, snap, "ex7_job_runs_total", "runs", 1);
		family(b, "ex7_job_failures_total", "counter", "Failed runs of each job.");
		job_rows(b, snap, "ex7_job_failures_total", "failures", 1);
		family(b, "ex7_job_failing", "gauge", "1 when the job's last run failed.");
		job_rows(b, snap, "ex7_job_failing", "failing", 1);
		family(b, "ex7_job_last_run_timestamp_seconds", "gauge", "When the job last ran, Unix time.");
		job_rows(b, snap, "ex7_job_last_run_timestamp_seconds", "last_run_at", 1);
		family(b, "ex7_job_last_duration_seconds", "gauge", "How long the job's last run took.");
		job_rows(b, snap, "ex7_job_last_duration_seconds", "last_duration_ms", 0.001);
	}
}

/* scrape_cb: the snapshot answered (or not): reply with everything. */
static void
scrape_cb(PGresult *res, const char *conn_error, void *arg)
{
	Req		   *r = arg;
	struct evbuffer *b = evbuffer_new();
	json_object *snap = NULL;

	(void) conn_error;
	if (res && PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1 && !PQgetisnull(res, 0, 0))
		snap = json_tokener_parse(PQgetvalue(res, 0, 0));
	else if (res)
	{
		json_object *f = log_fields();

		log_field_str(f, "request_id", r->request_id);
		log_field_str(f, "sqlstate", PQresultErrorField(res, PG_DIAG_SQLSTATE));
		ex7_log_with(EX7_ERROR, "metrics_snapshot_failed", f, "%s", PQresultErrorMessage(res));
	}
	if (snap)
		watch_jobs(snap);
	process_metrics(b);
	database_metrics(b, snap);
	json_object_put(snap);
	{
		size_t		len = evbuffer_get_length(b);

		reply_raw(r, 200, (const char *) evbuffer_pullup(b, -1), len);
	}
	evbuffer_free(b);
}

/* ------------------------------------------------------------------------------------------------
 * Probes
 * ---------------------------------------------------------------------------------------------- */

/* readyz_cb: the extension's version answered (or the database did not). */
static void
readyz_cb(PGresult *res, const char *conn_error, void *arg)
{
	Req		   *r = arg;
	json_object *o = json_object_new_object();
	bool		db = res && PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1;
	const char *version = db && !PQgetisnull(res, 0, 0) ? PQgetvalue(res, 0, 0) : NULL;
	/* DATABASE_URL's LISTEN: a node's down listener makes no other ex7d better (ex7d_listen_connected) */
	bool		listen = listeners_home_ready(r->srv->listeners);
	bool		ext = version && strcmp(version, EX7_VERSION) == 0;
	const char *text;

	json_object_object_add(o, "status", json_object_new_string(db && listen && ext ? "ready" : "not_ready"));
	json_object_object_add(o, "database", json_object_new_string(db ? "ok" : "unreachable"));
	if (!db && (conn_error || res))
		json_object_object_add(o, "database_error", json_object_new_string(res ? PQresultErrorMessage(res)
																		   : conn_error));
	json_object_object_add(o, "listen", json_object_new_string(listen ? "ok" : "down"));
	json_object_object_add(o, "extension_version", version ? json_object_new_string(version) : NULL);
	json_object_object_add(o, "expected_version", json_object_new_string(EX7_VERSION));
	text = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_SPACED);
	reply_raw(r, db && listen && ext ? 200 : 503, text, strlen(text));
	json_object_put(o);
}

/* authorized: returns true when r may read /metrics on the API address: EX7_METRICS_TOKEN or a
 * service_role token (the platform's own services, docs/http.md). Otherwise it has replied 401/403. */
static bool
authorized(Req *r)
{
	const char *h = evhttp_find_header(evhttp_request_get_input_headers(r->req), "Authorization");
	const char *why = NULL;

	if (h && strncasecmp(h, "Bearer ", 7) == 0)
	{
		const char *t = h + 7;

		if (M.token && strlen(t) == strlen(M.token) && CRYPTO_memcmp(t, M.token, strlen(t)) == 0)
			return true;
		if (jwt_verify(r->srv->keys, t, r->srv->cfg.jwt_aud, r->srv->cfg.jwt_iss, time(NULL), &r->claims, &why) == 0)
		{
			r->authed = true;
			if (strcmp(r->claims.role, "service_role") == 0)
				return true;
			reply_detail(r, 403, "Forbidden: service_role only");
			return false;
		}
	}
	/* RFC 6750 section 3.1: a token that was sent and refused is an invalid_token */
	evhttp_add_header(evhttp_request_get_output_headers(r->req), "WWW-Authenticate",
					  h && strncasecmp(h, "Bearer ", 7) == 0 ? "Bearer error=\"invalid_token\"" : "Bearer");
	reply_detail(r, 401, "Not authenticated: /metrics needs EX7_METRICS_TOKEN or a service_role token");
	return false;
}

/* serve: returns true after answering r when its path is one of this file's; dedicated: on the
 * metrics address (no token needed there). */
static bool
serve(Req *r, bool dedicated)
{
	enum evhttp_cmd_type m = evhttp_request_get_command(r->req);
	int			which;
	int			rc;

	if (strcmp(r->path, "/metrics") == 0)
		which = SLOT_METRICS;
	else if (strcmp(r->path, "/livez") == 0)
		which = SLOT_LIVEZ;
	else if (strcmp(r->path, "/readyz") == 0)
		which = SLOT_READYZ;
	else
		return false;
	/* with a metrics address, the API address does not serve /metrics at all */
	if (which == SLOT_METRICS && !dedicated && M.listen_host)
		return false;
	r->route = &metrics_routes[which];
	if (m != EVHTTP_REQ_GET && m != EVHTTP_REQ_HEAD)
	{
		evhttp_add_header(evhttp_request_get_output_headers(r->req), "Allow", "GET, HEAD");
		reply_detail(r, 405, "Method Not Allowed");
		return true;
	}
	if (which == SLOT_LIVEZ)
	{
		static const char body[] = "{\"status\": \"alive\"}";

		reply_raw(r, 200, body, sizeof(body) - 1);
		return true;
	}
	if (r->srv->stopping)
	{
		/* draining: not ready for new work (the API answers 503 too); the metrics are still worth reading */
		if (which == SLOT_READYZ)
		{
			static const char body[] = "{\"status\": \"not_ready\", \"reason\": \"shutting down\"}";

			reply_raw(r, 503, body, sizeof(body) - 1);
			return true;
		}
	}
	if (which == SLOT_METRICS && !dedicated && !authorized(r))
		return true;
	rc = pool_exec(r->srv->pool, &r->route->stmt, NULL, which == SLOT_METRICS ? scrape_cb : readyz_cb, r);
	if (rc != 0)
		(which == SLOT_METRICS ? scrape_cb : readyz_cb) (NULL, rc == -2 ? "database unavailable" : "server busy", r);
	return true;
}

bool
metrics_route(Req *r)
{
	return serve(r, false);
}

/* metrics_http_cb: a request on the metrics address. */
static void
metrics_http_cb(struct evhttp_request *req, void *arg)
{
	Server	   *srv = arg;
	Req		   *r = calloc(1, sizeof(Req));
	const char *path = evhttp_uri_get_path(evhttp_request_get_evhttp_uri(req));
	static unsigned long long seq;

	r->srv = srv;
	r->req = req;
	srv->inflight++;
	gettimeofday(&r->start, NULL);
	switch (evhttp_request_get_command(req))
	{
		case EVHTTP_REQ_GET: snprintf(r->method, sizeof(r->method), "GET"); break;
		case EVHTTP_REQ_HEAD: snprintf(r->method, sizeof(r->method), "HEAD"); break;
		default: snprintf(r->method, sizeof(r->method), "OTHER"); break;
	}
	r->path = strdup(path ? path : "");
	snprintf(r->request_id, sizeof(r->request_id), "metrics-%llx-%llu", (unsigned long long) M.started, ++seq);
	if (!serve(r, true))
		reply_detail(r, 404, "Not Found: this address serves /metrics, /livez and /readyz");
}

/* ------------------------------------------------------------------------------------------------
 * Settings and start-up
 * ---------------------------------------------------------------------------------------------- */

int
metrics_config(char *err, size_t errlen)
{
	const char *l = getenv("EX7_METRICS_LISTEN");
	const char *t = getenv("EX7_METRICS_TOKEN");
	size_t		used = strlen(err);
	int			rc = 0;

	M.started = time(NULL);
	if (l && *l)
	{
		const char *colon = strrchr(l, ':');
		char	   *end;
		long		port = colon ? strtol(colon + 1, &end, 10) : 0;

		if (colon == NULL || colon == l || *end != '\0' || port < 1 || port > 65535)
		{
			snprintf(err + used, errlen - used, "EX7_METRICS_LISTEN must be host:port, got \"%.60s\"\n", l);
			rc = -1;
		}
		else
		{
			M.listen_host = strndup(l, (size_t) (colon - l));
			M.listen_port = (int) port;
		}
	}
	used = strlen(err);
	if (t && *t)
	{
		/* a bearer secret as strong as the HS256 keys' minimum would be overkill for counters; 16
		 * bytes (128 bits) is the floor RFC 6750 section 5.2 and OWASP give for guessable tokens */
		if (strlen(t) < 16)
		{
			snprintf(err + used, errlen - used, "EX7_METRICS_TOKEN must be at least 16 bytes\n");
			rc = -1;
		}
		else
			M.token = strdup(t);
	}
	return rc;
}

int
metrics_start(Server *srv)
{
	struct timeval every = {JOB_WATCH_SECONDS, 0};

	M.srv = srv;
	M.job_timer = event_new(srv->base, -1, EV_PERSIST, job_timer_cb, NULL);
	event_add(M.job_timer, &every);
	if (M.listen_host == NULL)
		return 0;
	M.http = evhttp_new(srv->base);
	evhttp_set_allowed_methods(M.http, EVHTTP_REQ_GET | EVHTTP_REQ_HEAD | EVHTTP_REQ_POST | EVHTTP_REQ_PUT |
							   EVHTTP_REQ_DELETE | EVHTTP_REQ_PATCH | EVHTTP_REQ_OPTIONS);
	evhttp_set_timeout(M.http, 60);
	evhttp_set_max_body_size(M.http, 4096);
	evhttp_set_gencb(M.http, metrics_http_cb, srv);
	if (evhttp_bind_socket(M.http, M.listen_host, (ev_uint16_t) M.listen_port) != 0)
	{
		json_object *f = log_fields();

		log_field_str(f, "listen", M.listen_host);
		log_field_int(f, "port", M.listen_port);
		ex7_log_with(EX7_ERROR, "metrics_listen_failed", f, "cannot listen on EX7_METRICS_LISTEN %s:%d",
					 M.listen_host, M.listen_port);
		return -1;
	}
	{
		json_object *f = log_fields();

		log_field_str(f, "host", M.listen_host);
		log_field_int(f, "port", M.listen_port);
		ex7_log_with(EX7_INFO, "metrics_listening", f, "/metrics, /livez and /readyz on %s:%d", M.listen_host,
					 M.listen_port);
	}
	return 0;
}

void
metrics_free(void)
{
	if (M.job_timer)
		event_free(M.job_timer);
	M.job_timer = NULL;
	if (M.http)
		evhttp_free(M.http);
	M.http = NULL;
	for (int k = 0; M.series && k < M.nslots * NMETHODS; k++)
		free(M.series[k]);
	free(M.series);
	M.series = NULL;
	free(M.listen_host);
	free(M.token);
	M.listen_host = M.token = NULL;
}
