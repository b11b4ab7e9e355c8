/*
 * sse.c
 *	  The live signal stream, GET /api/signals/stream (ex7-api-reference.txt, "Signal Stream"):
 *
 *	  "1. Emit retry hint (client reconnect delay). 2. Emit one-time compliance banner. 3. If
 *	  Last-Event-ID provided, replay any signals fired after that id via
 *	  replay_since_event_id(user_id, last_event_id, strategy_id). 4. Subscribe to BROADCASTER with
 *	  (user.id, strategy_id). 5. Pump the subscriber queue [...] apply the instrument filter if set,
 *	  yield a `signal` or `signal_closed` frame - on timeout: yield heartbeat [...] 6. On disconnect
 *	  / generator close, unsubscribe cleanly".
 *
 * The broadcaster: the process's LISTEN connections (main.c; one per database node, since on Citus
 * an event is notified by the worker that ran its user's call: http/listeners.c) hand every
 * notification of signal_fired / signal_closed / risk_event to sse_notify, which carries the event's
 * JSON (ext/sql/55_events.sql, ex7._event_notification); a hash of topics (one per user with streams)
 * holds each user's subscribers, and an event is written once per matching subscriber, the strategy
 * filter and then the instrument filter applied ("Instrument filter is post-queue"). The risk events
 * (risk_lock, trading_state) are in the same log with the same ids; one with no strategy or no
 * instrument concerns them all and passes that filter. The service's trading state (trading_halt) is
 * no user's event: sse_broadcast writes it, without an id, to every stream.
 *
 * No gap, no duplicate. Event ids are the user's dense sequence, committed in id order, and NOTIFY
 * is delivered on commit in commit order (55_events.sql, facts.md). A subscriber joins its topic
 * BEFORE its replay query is sent, and keeps a cursor: the newest id it was given; it drops
 * anything at or below it, which also makes a notification that arrives twice (from two nodes)
 * harmless. A notification that arrives before the query is sent needs nothing: the
 * query's snapshot is taken after that commit and returns the event. One that arrives while the
 * query runs may or may not be in its snapshot: it is held back, and after the replayed rows the
 * held ones above the cursor follow. A notification can still be lost: a LISTEN connection
 * dropped (sse_resync), a payload too large to carry the signal, or a topic that sees id n+2 after
 * n (a gap): the subscribers concerned catch up again from their cursor with the same query. A
 * client far behind is replayed in batches of about half the buffer cap, the next batch queried
 * once the previous one has left the output buffer.
 *
 * Resources. A subscriber is about 200 bytes and one timer serves every heartbeat (a wheel of
 * slots, each visited once per slot period: each stream gets a comment frame once per interval).
 * Queries of the streams wait in their own queue, at most half the pool at a time, so 10,000
 * clients connecting at once neither overflow the pool's queue nor starve the other routes. A live
 * frame that would take a client's output buffer past EX7_SSE_BUFFER_MAX is its last live frame:
 * the client falls behind and the events after it are read from the log (the buffer that costs
 * nothing) once its buffer has drained, so a burst never costs more than the cap. A client whose
 * output has still not drained one heartbeat interval later does not read: it is closed, and
 * resumes later from its Last-Event-ID; so is one whose writes make no progress for a minute.
 * Reading stays on (a close is noticed at once) with a small read limit, so what a client sends
 * after its request cannot grow memory either.
 */
#include "sse.h"
#include "conn.h"

#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <sys/socket.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/http.h>
#include <event2/http_struct.h>
#include <json.h>

#include "log.h"
#include "metrics.h"
#include "util.h"

#define TOPIC_BUCKETS	4096
/* the heartbeat wheel: the timer visits one slot every interval / HB_SLOTS (docs/performance.md: 16
 * slots wrote 625 of 10,000 streams at once and doubled the p99 of an event arriving meanwhile) */
#define HB_SLOTS		64
#define HELD_MAX		1024	/* events held back per subscriber while its query runs */
#define READ_MAX		4096	/* bytes a client may send after its request before reads pause */
#define STALL_SECONDS	60		/* a write making no progress that long closes the stream */
#define SNDBUF_BYTES	65536	/* a stream socket's kernel send buffer (the kernel doubles it) */
#define FRAME_BYTES		2048	/* about a signal frame (~1 KiB), to size batches to the cap */
#define RETRY_MS		250		/* the pool's first reconnect is after 100 ms (pool.c) */
#define CHAIN_BYTES		4096	/* libevent's largest automatic evbuffer chain (buffer.c,
								 * EVBUFFER_CHAIN_MAX_AUTO_SIZE): copied frames fill chains this big */
#define CHAIN_OVERHEAD	80		/* a chain's header (struct evbuffer_chain) and malloc's own */
#define RECENT_BROADCASTS 8		/* broadcasts remembered to drop one heard twice (two nodes' names) */

typedef enum SubState
{
	SUB_OPENING,				/* the opening query is queued or running; no reply yet */
	SUB_QUERYING,				/* a catch-up query is queued or running */
	SUB_DRAINING,				/* a replay batch, or a backlog over the cap, is being written; the
								 * next query follows once it has left the buffer */
	SUB_LIVE					/* up to date: live events are written as they come */
} SubState;

/*
 * A frame, shared by the subscribers that hold it back: an event of the user's log (id > 0), or a
 * broadcast of the service's trading state, which has no id (FRAME_NO_ID).
 */
typedef struct Frame
{
	int			refs;
	int64_t		id;
	char		instrument[33]; /* "": concerns every instrument (a user-wide event) */
	size_t		len;
	char		data[];
} Frame;

#define FRAME_NO_ID		(-1)

typedef struct Held
{
	struct Held *next;
	Frame	   *f;
} Held;

typedef struct Sub Sub;

/* The streams of one user. */
typedef struct Topic
{
	struct Topic *next;			/* hash chain */
	Sub		   *subs;
	int			nsubs;			/* its streams, opening ones included (EX7_SSE_MAX_PER_USER) */
	int64_t		seen;			/* newest event id of the user seen here; -1: not yet known */
	char		user[37];
} Topic;

struct Sub
{
	Sub		   *next,
			   *prev;			/* the topic's subscribers */
	Sub		   *hb_next,
			   *hb_prev;		/* the heartbeat slot */
	Sub		   *q_next,
			   *q_prev;			/* the query queue */
	Topic	   *topic;
	struct evhttp_request *req;
	Req		   *r;				/* until the reply starts */
	char	   *open_lei;		/* Last-Event-ID and instrument as sent, for the opening query */
	char	   *open_inst;
	Held	   *held,
			   *held_tail;		/* live events held back while catching up, in id order */
	int64_t		cursor;			/* newest event id given to the client (or skipped by its filter) */
	int			nheld;
	uint8_t		state;
	uint8_t		slot;
	uint8_t		behind;			/* heartbeat visits while its output has not drained */
	bool		queued;			/* in the query queue */
	bool		inflight;		/* its query runs: the callback still needs the struct */
	bool		again;			/* something may be missing from that query's snapshot: once more */
	bool		dead;			/* the connection is gone; freed when the query returns */
	char		strategy[37];	/* "": every strategy */
	char		instrument[33]; /* "": every instrument; upper case */
};

static struct
{
	Server	   *srv;
	Topic	   *topics[TOPIC_BUCKETS];
	Sub		   *slots[HB_SLOTS];
	int			hb_slot;		/* the slot the timer visits next */
	unsigned	next_slot;		/* round robin of new subscribers over the slots */
	struct event *hb;
	struct event *kick;			/* runs the query queue from the loop */
	struct event *retry;		/* runs it again later: the database was out of reach */
	Sub		   *q_head,
			   *q_tail;
	int			running;		/* queries in flight */
	int			max_running;
	int			batch;			/* events per replay query */
	struct evbuffer *scratch;	/* frames are built here, then moved into the connection */
	char	   *recent[RECENT_BROADCASTS];	/* the last broadcasts sent, as notified */
	int			recent_next;
	bool		ready;
} S;

static const PoolStatement replay_stmt = {
	"sse_replay",
	"SELECT head, event_id, event, instrument, data "
	"FROM ex7.stream_replay($1::uuid, $2, $3::uuid, $4, $5::int)",
	5
};

static void sub_gone(Sub *s);
static void retry_later(void);

/* ------------------------------------------------------------------------------------------------
 * Frames and topics
 * ---------------------------------------------------------------------------------------------- */

/*
 * frame_new: returns a frame "id: N\nevent: K\ndata: JSON\n\n" with one reference; without the id line
 * when id is FRAME_NO_ID (an EventSource keeps its last event id over such a frame).
 */
static Frame *
frame_new(int64_t id, const char *event, const char *instrument, const char *json, size_t jlen)
{
	char		head[96];
	int			hlen = id == FRAME_NO_ID
		? snprintf(head, sizeof(head), "event: %s\ndata: ", event)
		: snprintf(head, sizeof(head), "id: %lld\nevent: %s\ndata: ", (long long) id, event);
	Frame	   *f = malloc(sizeof(Frame) + (size_t) hlen + jlen + 2);

	f->refs = 1;
	f->id = id;
	snprintf(f->instrument, sizeof(f->instrument), "%s", instrument ? instrument : "");
	memcpy(f->data, head, (size_t) hlen);
	memcpy(f->data + hlen, json, jlen);
	memcpy(f->data + hlen + jlen, "\n\n", 2);
	f->len = (size_t) hlen + jlen + 2;
	return f;
}

/* frame_unref: returns nothing; drops a reference to f (NULL is fine), freeing it with the last. */
static void
frame_unref(Frame *f)
{
	if (f && --f->refs == 0)
		free(f);
}

/*
 * stream_kind: returns true for the kinds of event the stream sends (ext/sql/55_events.sql): signal and
 * signal_closed, the risk events risk_lock (a protection locked, docs/protections.md) and
 * trading_state (the user's kill switch changed, docs/trading-state.md), and study_progress (a
 * study's trial finished, or the study was cancelled: docs/research.md).
 */
static bool
stream_kind(const char *kind)
{
	return strcmp(kind, "signal") == 0 || strcmp(kind, "signal_closed") == 0 ||
		strcmp(kind, "risk_lock") == 0 || strcmp(kind, "trading_state") == 0 ||
		strcmp(kind, "study_progress") == 0;
}

/*
 * instrument_passes: returns true when an event of instrument (NULL or "": an event about every
 * instrument, such as a user-wide lock or a trading state) passes s's instrument filter.
 */
static bool
instrument_passes(const Sub *s, const char *instrument)
{
	return s->instrument[0] == '\0' || instrument == NULL || instrument[0] == '\0' ||
		strcmp(s->instrument, instrument) == 0;
}

/* topic_get: returns the topic of user; NULL when it has none, unless create. */
static Topic *
topic_get(const char *user, bool create)
{
	unsigned	b = fnv1a(user) % TOPIC_BUCKETS;
	Topic	   *t;

	for (t = S.topics[b]; t; t = t->next)
		if (strcmp(t->user, user) == 0)
			return t;
	if (!create)
		return NULL;
	t = calloc(1, sizeof(Topic));
	snprintf(t->user, sizeof(t->user), "%s", user);
	t->seen = -1;
	t->next = S.topics[b];
	S.topics[b] = t;
	return t;
}

/* topic_drop: returns nothing; frees t once it has no subscriber left. */
static void
topic_drop(Topic *t)
{
	Topic	  **p = &S.topics[fnv1a(t->user) % TOPIC_BUCKETS];

	if (t->subs)
		return;
	while (*p && *p != t)
		p = &(*p)->next;
	if (*p)
		*p = t->next;
	free(t);
}

/* topic_seen: returns nothing; t's newest known event id is at least id. */
static void
topic_seen(Topic *t, int64_t id)
{
	if (id > t->seen)
		t->seen = id;
}

/* ------------------------------------------------------------------------------------------------
 * Subscribers
 * ---------------------------------------------------------------------------------------------- */

/* held_clear: returns nothing; drops every event s held back. */
static void
held_clear(Sub *s)
{
	while (s->held)
	{
		Held	   *h = s->held;

		s->held = h->next;
		frame_unref(h->f);
		free(h);
	}
	s->held_tail = NULL;
	s->nheld = 0;
}

/*
 * held_push: returns nothing; holds f back for s while its query runs (the query's snapshot may
 * predate f's commit), or a broadcast until s's stream has started. Too many: drop them all and read
 * the log once more.
 */
static void
held_push(Sub *s, Frame *f)
{
	Held	   *h;

	if (s->state != SUB_OPENING && f->id != FRAME_NO_ID && f->id <= s->cursor)
		return;
	if (s->nheld >= HELD_MAX)
	{
		held_clear(s);
		s->again = true;
	}
	h = malloc(sizeof(Held));
	h->next = NULL;
	h->f = f;
	f->refs++;
	if (s->held_tail)
		s->held_tail->next = h;
	else
		s->held = h;
	s->held_tail = h;
	s->nheld++;
}

/* q_remove: returns nothing; takes s out of the query queue when it is in it. */
static void
q_remove(Sub *s)
{
	if (!s->queued)
		return;
	if (s->q_prev)
		s->q_prev->q_next = s->q_next;
	else
		S.q_head = s->q_next;
	if (s->q_next)
		s->q_next->q_prev = s->q_prev;
	else
		S.q_tail = s->q_prev;
	s->q_next = s->q_prev = NULL;
	s->queued = false;
}

/* q_push: returns nothing; queues s's next query (once). */
static void
q_push(Sub *s)
{
	if (s->queued)
		return;
	s->q_next = NULL;
	s->q_prev = S.q_tail;
	if (S.q_tail)
		S.q_tail->q_next = s;
	else
		S.q_head = s;
	S.q_tail = s;
	s->queued = true;
}

/*
 * kick: returns nothing; has the event loop run the query queue soon (never inside a libevent
 * callback of a connection that the queue might close: STYLE.md, redis networking.c).
 */
static void
kick(void)
{
	if (S.kick && S.q_head)
		event_active(S.kick, EV_TIMEOUT, 0);
}

/* hb_link: returns nothing; puts s in a heartbeat slot, round robin over the slots. */
static void
hb_link(Sub *s)
{
	s->slot = (uint8_t) (S.next_slot++ % HB_SLOTS);
	s->hb_prev = NULL;
	s->hb_next = S.slots[s->slot];
	if (s->hb_next)
		s->hb_next->hb_prev = s;
	S.slots[s->slot] = s;
}

/* hb_unlink: returns nothing; takes s out of its heartbeat slot (when it is in one). */
static void
hb_unlink(Sub *s)
{
	if (s->hb_prev)
		s->hb_prev->hb_next = s->hb_next;
	else if (S.slots[s->slot] == s)
		S.slots[s->slot] = s->hb_next;
	if (s->hb_next)
		s->hb_next->hb_prev = s->hb_prev;
	s->hb_next = s->hb_prev = NULL;
}

/* detach: returns nothing; takes s out of its topic, its heartbeat slot and the query queue. */
static void
detach(Sub *s)
{
	Topic	   *t = s->topic;

	if (t == NULL)
		return;
	if (s->prev)
		s->prev->next = s->next;
	else
		t->subs = s->next;
	if (s->next)
		s->next->prev = s->prev;
	s->next = s->prev = NULL;
	t->nsubs--;
	hb_unlink(s);
	q_remove(s);
	s->topic = NULL;
	topic_drop(t);
}

/* sub_free: returns nothing; frees s (detached, no query in flight). */
static void
sub_free(Sub *s)
{
	held_clear(s);
	free(s->open_lei);
	free(s->open_inst);
	free(s);
}

/* sub_out: returns the output buffer of s's connection, or NULL when the connection is gone. */
static struct evbuffer *
sub_out(Sub *s)
{
	struct evhttp_connection *evcon = s->req ? evhttp_request_get_connection(s->req) : NULL;

	return evcon ? bufferevent_get_output(evhttp_connection_get_bufferevent(evcon)) : NULL;
}

/* close_cb: the connection of a stream closes (the client left, a write failed, or sub_kill). */
static void
close_cb(void *arg)
{
	sub_gone((Sub *) arg);
}

/*
 * sub_gone: returns nothing; s's connection is being freed. When the client went away, libevent has
 * already detached the unfinished request from the connection and leaves it to us to free; when we
 * close the connection ourselves (sub_kill), the request is still attached and libevent frees it.
 */
static void
sub_gone(Sub *s)
{
	if (s->req && evhttp_request_get_connection(s->req) == NULL)
		evhttp_request_free(s->req);
	s->req = NULL;
	detach(s);
	if (s->inflight)
		s->dead = true;
	else
		sub_free(s);
}

/*
 * sub_kill: returns nothing; closes s's connection at once (s is freed): a client that does not
 * drain, or a stream whose catch-up query failed. Called from timers and query callbacks only. The
 * socket is reset rather than drained: what the client has not read is dropped with it, and it
 * resumes from the last id it did read.
 */
static void
sub_kill(Sub *s, const char *why)
{
	struct evhttp_connection *evcon = s->req ? evhttp_request_get_connection(s->req) : NULL;

	json_object *lf = log_fields();

	log_field_str(lf, "user_id", s->topic ? s->topic->user : "");
	log_field_int(lf, "event_id", (long long) s->cursor);
	ex7_log_with(EX7_INFO, "stream_closed", lf, "signal stream closed: %s", why);
	if (evcon)
	{
		struct linger lg = {1, 0};

		setsockopt(bufferevent_getfd(evhttp_connection_get_bufferevent(evcon)), SOL_SOCKET,
				   SO_LINGER, &lg, sizeof(lg));
		evhttp_connection_free(evcon);	/* runs close_cb, which frees s */
	}
	else
		sub_gone(s);
}

/* drained_cb: everything written so far has left the output buffer: query the next replay batch. */
static void
drained_cb(struct evhttp_connection *evcon, void *arg)
{
	Sub		   *s = arg;

	(void) evcon;
	if (s->state != SUB_DRAINING)
		return;
	s->behind = 0;
	s->state = SUB_QUERYING;
	q_push(s);
	kick();
}

/*
 * sub_send: returns nothing; sends what b holds as one chunk and empties b. While s is DRAINING the
 * chunk carries drained_cb, which moves it on once everything has been written.
 *
 * A live frame or a heartbeat is copied into the free end of the output buffer, with the chunk framing
 * evhttp_send_reply_chunk would add: handing over b's own chain (as evhttp does) left one chain of a
 * power-of-two size (2 KiB for a 1 KiB frame) per frame in a stalled client's buffer, 1.45 times the
 * bytes counted against EX7_SSE_BUFFER_MAX; copied, the frames fill 4 KiB chains end to end. The
 * stream's bufferevent writes as soon as bytes are added (evhttp enabled EV_WRITE when it started the
 * reply). A DRAINING send still goes through evhttp: it needs drained_cb, and replay batches are large
 * enough to fill their chains.
 */
static void
sub_send(Sub *s, struct evbuffer *b)
{
	struct evbuffer *out = sub_out(s);
	size_t		n = evbuffer_get_length(b);

	if (out && n > 0 && s->state == SUB_DRAINING)
		evhttp_send_reply_chunk_with_cb(s->req, b, drained_cb, s);
	else if (out && n > 0 && evhttp_request_get_command(s->req) != EVHTTP_REQ_HEAD)
	{
		const unsigned char *p = evbuffer_pullup(b, -1);

		if (s->req->chunked)
			evbuffer_add_printf(out, "%x\r\n", (unsigned) n);
		evbuffer_add(out, p, n);
		if (s->req->chunked)
			evbuffer_add(out, "\r\n", 2);
	}
	/* a HEAD request or a connection gone: nothing was sent */
	evbuffer_drain(b, evbuffer_get_length(b));
}

/*
 * sub_live: returns nothing; writes live frame f to s, which is up to date. When its output buffer
 * would pass the cap, f is its last live frame: s falls behind (DRAINING), the events after f are
 * read from the log once the buffer has drained, and hb_cb closes s if it does not drain in time.
 */
static void
sub_live(Sub *s, Frame *f)
{
	struct evbuffer *out = sub_out(s);

	/* what the buffer costs, chain headers included (sub_send packs frames into full chains) */
	if (out)
	{
		size_t		len = evbuffer_get_length(out) + f->len;

		if (len + (len / CHAIN_BYTES + 1) * CHAIN_OVERHEAD > S.srv->cfg.sse_buffer_max)
			s->state = SUB_DRAINING;
	}
	evbuffer_add(S.scratch, f->data, f->len);
	metrics_sse_frames(SSE_FRAME_LIVE, 1);
	sub_send(s, S.scratch);
}

/*
 * sub_resync: returns nothing; s may have missed an event: it catches up from its cursor. A query
 * that is queued (or a batch still draining) will see the event; one in flight may not: once more.
 */
static void
sub_resync(Sub *s)
{
	if (s->inflight)
		s->again = true;
	else if (s->state == SUB_LIVE)
	{
		s->state = SUB_QUERYING;
		q_push(s);
	}
}

/* topic_resync: returns nothing; every subscriber of t catches up (a notification was lost). */
static void
topic_resync(Topic *t)
{
	for (Sub *s = t->subs; s; s = s->next)
		sub_resync(s);
}

/* ------------------------------------------------------------------------------------------------
 * Replay
 * ---------------------------------------------------------------------------------------------- */

/*
 * add_rows: returns true when the batch was full (more events may follow); appends to b the frames
 * of the event rows of an ex7.stream_replay result (row 0 is the banner) that s has not had and
 * that pass its instrument filter, advancing its cursor. The strategy filter was the query's.
 */
static bool
add_rows(Sub *s, PGresult *res, struct evbuffer *b)
{
	int			n = PQntuples(res);

	for (int i = 1; i < n; i++)
	{
		int64_t		id = strtoll(PQgetvalue(res, i, 1), NULL, 10);
		const char *event = PQgetvalue(res, i, 2);

		if (id <= s->cursor)
			continue;
		s->cursor = id;
		/* a NULL instrument: a user-wide lock or a trading state, which concerns every instrument */
		if (!PQgetisnull(res, i, 3) && !instrument_passes(s, PQgetvalue(res, i, 3)))
			continue;
		if (!stream_kind(event))
			continue;
		evbuffer_add_printf(b, "id: %lld\nevent: %s\ndata: ", (long long) id, event);
		evbuffer_add(b, PQgetvalue(res, i, 4), (size_t) PQgetlength(res, i, 4));
		evbuffer_add(b, "\n\n", 2);
		metrics_sse_frames(SSE_FRAME_REPLAY, 1);
	}
	return n - 1 >= S.batch;
}

/*
 * finish_round: returns nothing; a query's rows are in b: send them, then query the next batch, or
 * read the log once more, or (up to date) send the held-back live events and go live.
 */
static void
finish_round(Sub *s, struct evbuffer *b, bool more)
{
	if (more && evbuffer_get_length(b) > 0)
		s->state = SUB_DRAINING;	/* the next batch once this one has left the buffer */
	else if (more || s->again)
	{
		s->again = false;
		s->state = SUB_QUERYING;
		q_push(s);
	}
	else
	{
		for (Held *h = s->held; h; h = h->next)
		{
			/* a broadcast (no id) is not in the log: it goes out whatever the cursor */
			if (h->f->id != FRAME_NO_ID)
			{
				if (h->f->id <= s->cursor)
					continue;
				s->cursor = h->f->id;
			}
			if (!instrument_passes(s, h->f->instrument))
				continue;
			evbuffer_add(b, h->f->data, h->f->len);
			metrics_sse_frames(SSE_FRAME_LIVE, 1);
		}
		held_clear(s);
		s->state = SUB_LIVE;
	}
	sub_send(s, b);
}

/* stream_setup: returns nothing; the reply of s has started: watch its connection. */
static void
stream_setup(Sub *s)
{
	struct evhttp_connection *evcon = evhttp_request_get_connection(s->req);
	struct bufferevent *bev = evhttp_connection_get_bufferevent(evcon);
	struct timeval stall = {STALL_SECONDS, 0};
	int			sndbuf = SNDBUF_BYTES;

	conn_on_close(evcon, close_cb, s);	/* the connection guard owns evhttp's close callback */
	/* no read timeout (ex7d's 60 s would end an idle stream); the write timeout catches a stall */
	bufferevent_set_timeouts(bev, NULL, &stall);
	bufferevent_setwatermark(bev, EV_READ, 0, READ_MAX);
	bufferevent_enable(bev, EV_READ);
	setsockopt(bufferevent_getfd(bev), SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf));
}

/* opened: the opening query of s answered: refuse the request, or start the stream. */
static void
opened(Sub *s, PGresult *res, const char *conn_error)
{
	Req		   *r = s->r;
	struct evbuffer *b = S.scratch;

	s->r = NULL;
	free(s->open_lei);
	free(s->open_inst);
	s->open_lei = s->open_inst = NULL;
	if (res == NULL || PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) < 1 ||
		S.srv->stopping || evhttp_request_get_connection(r->req) == NULL)
	{
		detach(s);
		sub_free(s);
		if (res == NULL)
			reply_detail(r, 503, conn_error && strstr(conn_error, "busy")
						 ? "server busy, retry shortly" : "database unavailable, retry shortly");
		else if (PQresultStatus(res) != PGRES_TUPLES_OK)
			reply_pg_error(r, PQresultErrorField(res, PG_DIAG_SQLSTATE),
						   PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY),
						   PQresultErrorField(res, PG_DIAG_MESSAGE_DETAIL));
		else
			reply_detail(r, 503, S.srv->stopping ? "server shutting down" : "client gone");
		return;
	}
	/* row 0: the banner; its event_id is where the replay starts, its instrument the filter */
	topic_seen(s->topic, strtoll(PQgetvalue(res, 0, 0), NULL, 10));
	s->cursor = strtoll(PQgetvalue(res, 0, 1), NULL, 10);
	if (!PQgetisnull(res, 0, 3))
		snprintf(s->instrument, sizeof(s->instrument), "%s", PQgetvalue(res, 0, 3));
	reply_stream_start(r);		/* frees r */
	if (evhttp_request_get_command(s->req) == EVHTTP_REQ_HEAD)
	{
		evhttp_send_reply_end(s->req);	/* the headers, no stream */
		detach(s);
		sub_free(s);
		return;
	}
	stream_setup(s);
	hb_link(s);
	if (S.srv->cfg.sse_retry_ms > 0)
		evbuffer_add_printf(b, "retry: %d\n\n", S.srv->cfg.sse_retry_ms);
	evbuffer_add_printf(b, "event: compliance\ndata: %s\n\n", PQgetvalue(res, 0, 4));
	finish_round(s, b, add_rows(s, res, b));
}

/* caught_up: a catch-up query of a running stream answered. */
static void
caught_up(Sub *s, PGresult *res)
{
	if (res == NULL)
	{
		/* the connection went away with the query (a database restart): ask again later */
		s->state = SUB_QUERYING;
		q_push(s);
		retry_later();
		return;
	}
	if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) < 1)
	{
		sub_kill(s, "its event log could not be read");
		return;
	}
	topic_seen(s->topic, strtoll(PQgetvalue(res, 0, 0), NULL, 10));
	finish_round(s, S.scratch, add_rows(s, res, S.scratch));
}

/* replay_cb: the pool's answer to a stream's query (res NULL: the database could not run it). */
static void
replay_cb(PGresult *res, const char *conn_error, void *arg)
{
	Sub		   *s = arg;

	S.running--;
	s->inflight = false;
	if (s->dead)
		sub_free(s);
	else if (s->r)
		opened(s, res, conn_error);
	else
		caught_up(s, res);
	kick();
}

/* retry_later: returns nothing; runs the query queue again in RETRY_MS. */
static void
retry_later(void)
{
	struct timeval tv = {0, RETRY_MS * 1000};

	if (!evtimer_pending(S.retry, NULL))
		evtimer_add(S.retry, &tv);
}

/* q_run: returns nothing; starts queued queries while fewer than max_running run. */
static void
q_run(void)
{
	while (S.q_head && S.running < S.max_running)
	{
		Sub		   *s = S.q_head;
		char		cursor[24];
		char		limit[16];
		const char *v[5];
		int			rc;

		q_remove(s);
		snprintf(cursor, sizeof(cursor), "%lld", (long long) s->cursor);
		snprintf(limit, sizeof(limit), "%d", S.batch);
		v[0] = s->topic->user;
		v[1] = s->r ? s->open_lei : cursor;
		v[2] = s->strategy[0] ? s->strategy : NULL;
		v[3] = s->r ? s->open_inst : NULL;
		v[4] = limit;
		rc = pool_exec(S.srv->pool, &replay_stmt, v, replay_cb, s);
		if (rc == 0)
		{
			s->inflight = true;
			S.running++;
		}
		else if (s->r)
			opened(s, NULL, rc == -1 ? "busy" : "unavailable");	/* 503, like any route */
		else
		{
			/* a running stream waits for the database (restarting, or the pool's queue full) */
			q_push(s);
			retry_later();
			break;
		}
	}
}

/* kick_cb: the loop runs the query queue (see kick). */
static void
kick_cb(evutil_socket_t fd, short what, void *arg)
{
	(void) fd;
	(void) what;
	(void) arg;
	q_run();
}

/* hb_cb: timer; a comment frame to every stream of the next slot (facts.md: about every 15 s). */
static void
hb_cb(evutil_socket_t fd, short what, void *arg)
{
	Sub		   *s,
			   *next;

	(void) fd;
	(void) what;
	(void) arg;
	for (s = S.slots[S.hb_slot]; s; s = next)
	{
		next = s->hb_next;
		/*
		 * Waiting for its output to drain (a replay batch, or a backlog over the cap) at two visits
		 * in a row: it has not taken what it was sent for a whole interval. It resumes later.
		 */
		if (s->state == SUB_DRAINING && ++s->behind > 1)
		{
			metrics_sse_slow_closed();
			sub_kill(s, "client too slow: its output did not drain for a heartbeat interval");
			continue;
		}
		evbuffer_add(S.scratch, ": heartbeat\n\n", 13);
		metrics_sse_frames(SSE_FRAME_HEARTBEAT, 1);
		sub_send(s, S.scratch);
	}
	S.hb_slot = (S.hb_slot + 1) % HB_SLOTS;
}

/* ------------------------------------------------------------------------------------------------
 * The interface
 * ---------------------------------------------------------------------------------------------- */

void
sse_init(Server *srv)
{
	int			tick_ms = srv->cfg.sse_heartbeat_ms / HB_SLOTS;
	struct timeval tick;

	S.srv = srv;
	S.scratch = evbuffer_new();
	S.max_running = srv->cfg.pool_size > 1 ? srv->cfg.pool_size / 2 : 1;
	/* a batch of replayed frames fills at most about half the buffer cap */
	S.batch = (int) (srv->cfg.sse_buffer_max / 2 / FRAME_BYTES);
	if (S.batch < 4)
		S.batch = 4;
	if (S.batch > 1000)
		S.batch = 1000;
	if (tick_ms < 1)
		tick_ms = 1;
	tick.tv_sec = tick_ms / 1000;
	tick.tv_usec = (tick_ms % 1000) * 1000;
	S.hb = event_new(srv->base, -1, EV_PERSIST, hb_cb, NULL);
	event_add(S.hb, &tick);
	S.kick = event_new(srv->base, -1, 0, kick_cb, NULL);
	S.retry = evtimer_new(srv->base, kick_cb, NULL);
	S.ready = true;
}

/*
 * query_last_event_id: returns a malloc'd copy of the query parameter last_event_id, or NULL. A browser's
 * EventSource sends Last-Event-ID itself only when it reconnects on its own; a page that opens a new
 * EventSource (a new stream ticket: docs/stream.md, "Tickets for browsers") names the id it has in the query
 * instead. The header wins when both are sent; the value is checked as the header's (ex7.stream_replay).
 */
static char *
query_last_event_id(Req *r)
{
	const char *uq = evhttp_uri_get_query(evhttp_request_get_evhttp_uri(r->req));
	struct evkeyvalq q;
	const char *v;
	char	   *out = NULL;

	if (uq == NULL)
		return NULL;
	TAILQ_INIT(&q);
	if (evhttp_parse_query_str(uq, &q) == 0 && (v = evhttp_find_header(&q, "last_event_id")) != NULL)
		out = strdup(v);
	evhttp_clear_headers(&q);
	return out;
}

void
sse_open(Req *r, char **values)
{
	Topic	   *t = topic_get(r->claims.sub, false);
	Sub		   *s;

	/*
	 * A user's streams are bounded, opening ones included: each holds a connection, a subscriber and a
	 * share of the replay queries (docs/stream.md, "Limits"). Per process: a front knows only its own.
	 */
	if (t && t->nsubs >= S.srv->cfg.sse_max_per_user)
	{
		char		msg[160];

		snprintf(msg, sizeof(msg), "too many signal streams open for this user (at most %d on this server): "
				 "close one first", S.srv->cfg.sse_max_per_user);
		r->retry_after = S.srv->cfg.sse_retry_ms > 1000 ? (S.srv->cfg.sse_retry_ms + 999) / 1000 : 1;
		reply_detail(r, 429, msg);
		return;
	}
	s = calloc(1, sizeof(Sub));
	s->r = r;
	s->req = r->req;
	s->state = SUB_OPENING;
	s->open_lei = values[1] ? strdup(values[1]) : query_last_event_id(r);
	s->open_inst = values[3] ? strdup(values[3]) : NULL;
	if (values[2])
		for (int i = 0; i < 36 && values[2][i]; i++)
			s->strategy[i] = (char) tolower((unsigned char) values[2][i]);	/* as jsonb prints it */
	s->topic = topic_get(r->claims.sub, true);
	s->topic->nsubs++;
	s->next = s->topic->subs;
	if (s->next)
		s->next->prev = s;
	s->topic->subs = s;
	q_push(s);
	kick();
}

/*
 * Stream tickets (docs/stream.md, "Tickets for browsers"). A browser's EventSource sends no header, so a
 * page asks POST /api/signals/stream/ticket for a single-use ticket (ex7.create_stream_ticket) and opens
 * GET /api/signals/stream?ticket=<ticket>. The ticket stands in for the bearer token on that request
 * only: ex7.redeem_stream_ticket marks it used and names its user, whose claims are then a token's
 * (role authenticated, issued when the ticket was created, so a later password change refuses it like a
 * token). An Authorization header wins: the ticket is then not looked at, nor used up. The ticket is
 * never logged: the access log has the path without the query (reply.c), and a refused ticket is an
 * X7401 whose message does not repeat it.
 */
static const PoolStatement redeem_ticket_stmt = {
	"redeem_stream_ticket", "SELECT ex7.redeem_stream_ticket($1)", 1
};

/* ticket_cb: ex7.redeem_stream_ticket answered {user_id, issued_at}, or X7401 (answered as 401). */
static void
ticket_cb(PGresult *res, const char *conn_error, void *arg)
{
	Req		   *r = arg;
	json_object *o;
	json_object *v;
	const char *user;

	(void) conn_error;
	if (answered_no_row(r, res))
		return;
	o = json_tokener_parse(PQgetvalue(res, 0, 0));
	if (o == NULL || !json_object_object_get_ex(o, "user_id", &v) ||
		(user = json_object_get_string(v)) == NULL || strlen(user) != 36)
	{
		json_object_put(o);
		reply_detail(r, 500, "internal server error");
		return;
	}
	memset(&r->claims, 0, sizeof(r->claims));
	memcpy(r->claims.sub, user, 36);	/* jsonb prints a uuid lower case, as jwt.c keeps a sub */
	snprintf(r->claims.role, sizeof(r->claims.role), "authenticated");
	if (json_object_object_get_ex(o, "issued_at", &v))
		r->claims.iat = (long) json_object_get_int64(v);
	r->claims.exp = r->claims.iat + 30;
	json_object_put(o);
	r->authed = true;
	router_authed(r);
}

bool
sse_ticket_auth(Req *r)
{
	const char *uq = evhttp_uri_get_query(evhttp_request_get_evhttp_uri(r->req));
	struct evkeyvalq q;
	const char *ticket;
	int			rc;

	if (r->route->handler != sse_open || uq == NULL ||
		evhttp_find_header(evhttp_request_get_input_headers(r->req), "Authorization") != NULL)
		return false;
	TAILQ_INIT(&q);
	if (evhttp_parse_query_str(uq, &q) != 0 || (ticket = evhttp_find_header(&q, "ticket")) == NULL)
	{
		evhttp_clear_headers(&q);
		return false;			/* authenticate answers 401 Not authenticated (or build_args the 422) */
	}
	{
		const char *v[1] = {ticket};

		rc = pool_exec(r->srv->pool, &redeem_ticket_stmt, v, ticket_cb, r);
	}
	evhttp_clear_headers(&q);
	if (rc == -2)
		reply_detail(r, 503, "database unavailable, retry shortly");
	else if (rc != 0)
		reply_detail(r, 503, "server busy, retry shortly");
	return true;
}

void
sse_notify(const char *channel, const char *payload)
{
	json_object *o;
	json_object *v;
	const char *user,
			   *kind,
			   *strategy,		/* NULL: a user-wide event, which concerns every strategy */
			   *instrument = "";	/* "": likewise every instrument */
	const char *sig;
	int64_t		id;
	Topic	   *t;
	Frame	   *f = NULL;
	Sub		   *s,
			   *next;

	(void) channel;
	if (!S.ready)
		return;

	/*
	 * Most notifications are for users nobody streams from this front: look the user up before parsing.
	 * The head of the payload is a jsonb object (ex7._event_notification), so its "user_id" member comes
	 * before the signal appended after it, and jsonb prints a uuid lower-case as the topics key it.
	 */
	{
		const char *u = strstr(payload, "\"user_id\": \"");
		char		key[37];

		if (u == NULL || strlen(u + 12) < 36)
			return;
		memcpy(key, u + 12, 36);
		key[36] = '\0';
		if (topic_get(key, false) == NULL)
			return;
	}
	o = json_tokener_parse(payload);
	if (o == NULL || !json_object_is_type(o, json_type_object))
		goto done;
	if (!json_object_object_get_ex(o, "event_id", &v) || !json_object_is_type(v, json_type_int))
		goto done;
	id = json_object_get_int64(v);
	if (!json_object_object_get_ex(o, "user_id", &v) || (user = json_object_get_string(v)) == NULL)
		goto done;
	if (!json_object_object_get_ex(o, "kind", &v) || (kind = json_object_get_string(v)) == NULL)
		goto done;
	if (!json_object_object_get_ex(o, "strategy_id", &v))
		goto done;
	strategy = json_object_is_type(v, json_type_string) ? json_object_get_string(v) : NULL;
	if (!stream_kind(kind))
		goto done;
	if (json_object_object_get_ex(o, "instrument", &v) && json_object_is_type(v, json_type_string))
		instrument = json_object_get_string(v);
	if ((t = topic_get(user, false)) == NULL)
		goto done;				/* nobody listens to this user here */

	/* ids of one user arrive dense and in order: a jump means a notification was lost */
	if (t->seen >= 0 && id > t->seen + 1)
		topic_resync(t);
	topic_seen(t, id);
	/* the signal is the payload's last member, as the log stores it (ex7._event_notification) */
	sig = strstr(payload, ", \"signal\": ");
	if (sig)
	{
		size_t		plen = strlen(payload);
		const char *json = sig + 12;

		if (plen > (size_t) (json - payload) + 2 && payload[plen - 1] == '}')
			f = frame_new(id, kind, instrument, json, plen - (size_t) (json - payload) - 1);
	}
	for (s = t->subs; s; s = next)
	{
		next = s->next;
		if (s->strategy[0] && strategy && strcmp(s->strategy, strategy) != 0)
			continue;
		if (f == NULL)
			sub_resync(s);		/* too large for the notification: read it from the log */
		else if (s->inflight)
			held_push(s, f);	/* its query's snapshot may or may not have it */
		else if (s->state != SUB_LIVE)
			;					/* its next query starts after this commit: it reads it */
		else if (id > s->cursor)
		{
			s->cursor = id;
			if (!instrument_passes(s, instrument))
				continue;
			sub_live(s, f);
		}
	}
	/* the lag from a signal's own time (fired_at, closed_at); a risk event carries none */
	if (strcmp(kind, "signal") == 0 || strcmp(kind, "signal_closed") == 0)
		metrics_notify_lag(kind, o);
	frame_unref(f);
	kick();
done:
	json_object_put(o);
}

void
sse_broadcast(const char *payload)
{
	json_object *o;
	json_object *v;
	const char *instrument = NULL;
	Frame	   *f;

	if (!S.ready)
		return;
	/*
	 * The same notification heard on two connections (a node listed under two names): its payload
	 * names the change's time to the microsecond, so an identical one is the same change.
	 */
	for (int i = 0; i < RECENT_BROADCASTS; i++)
		if (S.recent[i] && strcmp(S.recent[i], payload) == 0)
			return;
	/* the payload becomes one data: line: a JSON object (jsonb's text has no raw line break) */
	if (strpbrk(payload, "\r\n") != NULL)
		return;
	o = json_tokener_parse(payload);
	if (o == NULL || !json_object_is_type(o, json_type_object))
	{
		json_object_put(o);
		return;
	}
	free(S.recent[S.recent_next]);
	S.recent[S.recent_next] = strdup(payload);
	S.recent_next = (S.recent_next + 1) % RECENT_BROADCASTS;
	/* scope instrument: that instrument's streams (and the unfiltered ones); scope all: every stream */
	if (json_object_object_get_ex(o, "instrument", &v) && json_object_is_type(v, json_type_string))
		instrument = json_object_get_string(v);
	f = frame_new(FRAME_NO_ID, "trading_state", instrument, payload, strlen(payload));
	for (int i = 0; i < TOPIC_BUCKETS; i++)
		for (Topic *t = S.topics[i], *tnext; t; t = tnext)
		{
			tnext = t->next;
			for (Sub *s = t->subs, *next; s; s = next)
			{
				next = s->next;
				if (s->r)
					held_push(s, f);	/* opening: sent after its replay */
				else if (!instrument_passes(s, f->instrument))
					continue;
				else if (s->state == SUB_LIVE)
					sub_live(s, f);
				else
				{
					/* catching up: no id, so it needs no place among the replayed events */
					evbuffer_add(S.scratch, f->data, f->len);
					metrics_sse_frames(SSE_FRAME_LIVE, 1);
					sub_send(s, S.scratch);
				}
			}
		}
	frame_unref(f);
	json_object_put(o);
}

int
sse_streams_open(void)
{
	int			n = 0;

	/* a started stream is in exactly one heartbeat slot from its first byte until it is detached */
	for (int i = 0; S.ready && i < HB_SLOTS; i++)
		for (Sub *s = S.slots[i]; s; s = s->hb_next)
			n++;
	return n;
}

void
sse_resync(void)
{
	if (!S.ready)
		return;
	for (int i = 0; i < TOPIC_BUCKETS; i++)
		for (Topic *t = S.topics[i]; t; t = t->next)
			topic_resync(t);
	kick();
}

void
sse_shutdown(void)
{
	for (int i = 0; S.ready && i < TOPIC_BUCKETS; i++)
	{
		Topic	   *t = S.topics[i];

		while (t)
		{
			Topic	   *tnext = t->next;
			Sub		   *s = t->subs;

			while (s)
			{
				Sub		   *snext = s->next;

				if (s->r == NULL)
				{
					/* a started stream: the last chunk; an EventSource reconnects after it */
					struct evhttp_connection *evcon = evhttp_request_get_connection(s->req);

					if (evcon)
					{
						conn_on_close(evcon, NULL, NULL);
						evhttp_send_reply_end(s->req);
					}
					s->req = NULL;
					detach(s);	/* may free t: tnext was taken before */
					if (s->inflight)
						s->dead = true;
					else
						sub_free(s);
				}
				/* an opening one: its query answers 503 (server shutting down) */
				s = snext;
			}
			t = tnext;
		}
	}
}

void
sse_free(void)
{
	if (!S.ready)
		return;
	sse_shutdown();
	/* opening streams still in the queue (the pool, gone by now, answered every query it had) */
	for (int i = 0; i < TOPIC_BUCKETS; i++)
		while (S.topics[i] && S.topics[i]->subs)
		{
			Sub		   *s = S.topics[i]->subs;

			if (s->r)
				opened(s, NULL, "unavailable");	/* 503; frees s */
			else
			{
				detach(s);
				sub_free(s);
			}
		}
	event_free(S.hb);
	event_free(S.kick);
	event_free(S.retry);
	evbuffer_free(S.scratch);
	for (int i = 0; i < RECENT_BROADCASTS; i++)
	{
		free(S.recent[i]);
		S.recent[i] = NULL;
	}
	S.ready = false;
}
