/*
 * metrics.h
 *	  ex7d's operational metrics and probes (docs/observability.md):
 *
 *	  GET /metrics   the Prometheus text exposition format 0.0.4: what this process counts (requests by
 *	                 route template and status with a latency histogram, requests in flight, the pool,
 *	                 the signal stream, LISTEN reconnects, rate-limit refusals) plus the database's
 *	                 figures from ex7.metrics_snapshot() (outbox, deliveries, runtimes, dispatcher, jobs),
 *	                 read through the pool at scrape time. Served on EX7_METRICS_LISTEN when that is set
 *	                 (and then only there), else on the API's address behind EX7_METRICS_TOKEN or a
 *	                 service_role token.
 *	  GET /livez     200 while the process runs its event loop.
 *	  GET /readyz    200 when the database answers, DATABASE_URL's LISTEN connection is up, the extension at
 *	                 the version this ex7d was built for (EX7_VERSION); 503 otherwise, saying which.
 *
 *	  The other modules report into it with the calls below; each is a few additions to counters.
 */
#ifndef EX7D_METRICS_H
#define EX7D_METRICS_H

#include "ex7d.h"

#include <json.h>

typedef enum SseFrameKind
{
	SSE_FRAME_LIVE,				/* an event fanned out from the LISTEN connection */
	SSE_FRAME_REPLAY,			/* an event read from the user's log (Last-Event-ID, a catch-up) */
	SSE_FRAME_HEARTBEAT			/* a comment frame */
} SseFrameKind;

/*
 * metrics_config: returns 0 after reading EX7_METRICS_LISTEN and EX7_METRICS_TOKEN, or -1 with one line
 * per bad value appended to err.
 */
extern int	metrics_config(char *err, size_t errlen);

/*
 * metrics_start: returns 0, or -1 after logging why the metrics address could not be bound. Binds
 * EX7_METRICS_LISTEN when set and starts the job-failure watch (a failed job is logged once).
 */
extern int	metrics_start(Server *srv);

/* metrics_free: returns nothing; unbinds the metrics address and frees what metrics_start made. */
extern void metrics_free(void);

/*
 * metrics_route: returns true after answering r when its path is /metrics, /livez or /readyz (these
 * are not in the route table: they are not part of the EX7 API and are not rate limited).
 */
extern bool metrics_route(Req *r);

/* metrics_request: returns nothing; counts r, answered with status, under its route template. */
extern void metrics_request(const Req *r, int status);

/* metrics_rate_refused: returns nothing; counts a 429 of the rate limits (authed: a user's tier). */
extern void metrics_rate_refused(bool authed);

/* metrics_sse_frames: returns nothing; counts n frames of kind written to signal streams. */
extern void metrics_sse_frames(SseFrameKind kind, int n);

/* metrics_sse_slow_closed: returns nothing; counts a stream closed because its client did not read. */
extern void metrics_sse_slow_closed(void);

/*
 * metrics_notify_lag: returns nothing; observes the time from the event's timestamp (the signal's
 * fired_at, or closed_at for kind signal_closed: set in the transaction that committed it) to now, when
 * the notification payload (parsed) carries the signal.
 */
extern void metrics_notify_lag(const char *kind, json_object *payload);

/*
 * Calls from http/pool.c. metrics_conn_up: a connection of pool is established (one that comes back
 * after a loss is counted and logged once as database_reconnected or listen_reconnected). metrics_conn_down: a connection is dropped or an attempt
 * failed; was_up tells a lost connection from a failed attempt, closing a pool being freed (pool.c
 * itself logs the loss and the outage). metrics_queue_wait: a queued statement got a connection.
 */
extern void metrics_conn_up(const void *pool, PGconn *pg, bool listener);
extern void metrics_conn_down(const void *pool, bool listener, bool was_up, bool closing, const char *why);
extern void metrics_queue_wait(const struct timeval *queued_at);
/* metrics_pool_free: returns nothing; forgets pool, which is being freed (http/pool.c pool_free). */
extern void metrics_pool_free(const void *pool);

#endif
