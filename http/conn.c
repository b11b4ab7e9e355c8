/*
 * conn.c
 *	  The connection guard (conn.h; docs/http.md, "Connections and framing").
 *
 * How it sees the bytes. libevent 2.1.12 has no hook between reading a socket and parsing a request,
 * and no error callback on evhttp. But a socket bufferevent runs the callbacks of its input evbuffer
 * inside evbuffer_read, before it calls evhttp's read callback: the evbuffer callback here sees every
 * byte a client sends before evhttp's parser does, and examines each complete line of a request head
 * as it arrives. A refused head is removed from the input (evhttp never parses it), answered here with
 * a JSON {"detail": ...} written on the bufferevent, and the connection closed once that has been sent
 * (the callbacks of the bufferevent are taken over from evhttp for that: it is then waiting for a head
 * that will not come, with no request of a user outstanding). The examination tracks each request to
 * its end: a head, then its body by Content-Length. A request with Transfer-Encoding is refused (411):
 * every client of this API can send Content-Length, and one framing rule cannot be read two ways.
 *
 * Whether evhttp waits for a request head is read from the bufferevent: evhttp reads with its read
 * callback set and EV_READ on; it turns EV_READ off while a request is answered (evhttp_handle_request)
 * and clears the read callback while it writes a response or a stream (evhttp_write_buffer). A timer
 * visits every connection a few times per EX7_HEAD_TIMEOUT_MS and closes those that have waited for
 * a head that long: with a 408 when part of one came, without a word when none did (an idle
 * keep-alive connection, RFC 9112 section 9.3: a server may close it).
 *
 * A head refused behind requests still in evhttp's hands (pipelining) waits for them: the bytes from
 * the refused head on are dropped, and the refusal is sent once evhttp has answered the others and
 * waits again.
 *
 * Counting. A connection is counted when its bufferevent is made (evhttp_set_bevcb) and uncounted in
 * evhttp's close callback, which the guard owns (conn_on_close passes it on). At the cap the listener
 * is disabled; the kernel's accept queue holds the next clients until a connection closes. accept()
 * failing for want of descriptors (EMFILE, ENFILE, ENOBUFS, ENOMEM) would leave the listening socket
 * readable and libevent accepting in a loop at full speed: the listener is disabled for a back-off
 * instead (50 ms doubling to 1 s).
 */
#include "conn.h"
#include "log.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/http.h>
#include <event2/listener.h>

/* a request line plus its header fields; main.c gives evhttp the same limit for the header fields */
#define HEAD_MAX		(64 * 1024)
#define RESERVE_FDS		64		/* descriptors kept from the cap besides the pool: the LISTEN
								 * connection, the metrics listener and its clients, outbound calls
								 * (alerts, billing, Vix), stdio, the event base */
#define MIN_CONNECTIONS	16
#define NOFILE_MAX		(1 << 20)	/* the soft limit is raised to the hard one, at most this */
#define LINGER_MS		2000	/* a refused connection is closed this long after its answer at most */
#define LOG_INTERVAL_MS	10000	/* at most one line per state and interval (the cap, accept errors) */
#define REFUSALS_PER_SECOND 10	/* log lines of refused requests and timed-out heads */
#define BACKOFF_MIN_MS	50
#define BACKOFF_MAX_MS	1000
#define BUCKETS			4096	/* connections by evhttp connection, for conn_on_close */
#define EMPTY_LINES_MAX	4		/* RFC 9112 section 2.2: empty lines before a request line are ignored */

typedef enum ConnState
{
	CS_HEAD,					/* examining a request head (or waiting for one) */
	CS_BODY,					/* counting the body of the last head */
	CS_PENDING,					/* a head was refused behind requests evhttp still answers */
	CS_CLOSING					/* the refusal is written; closing */
} ConnState;

typedef struct Conn Conn;
struct Conn
{
	Conn	   *next,
			   *prev;			/* every connection */
	Conn	   *hnext;			/* bucket chain, once attached */
	Conn	   *fresh_next;		/* accepted, not yet attached to its evhttp connection */
	struct bufferevent *bev;
	struct evhttp_connection *evcon;
	struct evbuffer_cb_entry *in_cb;
	void		(*gone) (void *);
	void	   *gone_arg;
	char	   *pending_detail;
	int64_t		wait_since;		/* ms: evhttp has waited for a head since then (0: it does not) */
	int64_t		closing_since;
	uint64_t	cl;				/* Content-Length of the head being examined */
	uint64_t	body_left;
	size_t		pos;			/* bytes at the front of the input examined */
	size_t		head_len;		/* bytes of the current head examined (complete lines) */
	size_t		scan;			/* bytes of the incomplete line at pos searched for its LF */
	size_t		keep;			/* CS_PENDING: the bytes before the refused head */
	int			pending_status;
	uint8_t		state;
	uint8_t		empties;		/* empty lines before the request line */
	bool		got_line1;
	bool		http11;
	bool		no_body;		/* HEAD: evhttp reads no body */
	bool		seen_cl;
	bool		seen_auth;
	bool		seen_host;
	bool		guard;			/* the guard itself changes the input: not a client's bytes */
	bool		shut;
	bool		eof;			/* CS_CLOSING: the client ended its side before our answer left */
	bool		fresh;
};

static struct
{
	Server	   *srv;
	struct evconnlistener *lev;
	struct event *sweep;
	struct event *fresh_ev;
	struct event *backoff;
	Conn	   *all;
	Conn	   *fresh;
	Conn	   *buckets[BUCKETS];
	int			count;
	int			cap;
	bool		at_cap;
	bool		backing_off;
	bool		enabled;
	int			backoff_ms;
	int			cap_pauses;		/* since the last line */
	int			accept_errors;	/* since the last line */
	int64_t		cap_logged;
	int64_t		err_logged;
	int64_t		refusal_second;
	int			refusal_lines;
	int			refusal_quiet;	/* not logged in the current second */
	long long	refused;
	long long	timed_out;
	uint64_t	body_max;		/* twice EX7_BODY_LIMIT: the router refuses bodies in between */
	char		too_large[96];
	char		line[HEAD_MAX + 1];
} G;

static void closed_cb(struct evhttp_connection *evcon, void *arg);

/* now_ms: returns the monotonic clock in milliseconds. */
static int64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* tchar: returns whether b may appear in a method or a field name (RFC 9110 section 5.6.2, token). */
static bool
tchar(unsigned char b)
{
	return (b >= 'a' && b <= 'z') || (b >= 'A' && b <= 'Z') || (b >= '0' && b <= '9') ||
		(b != '\0' && strchr("!#$%&'*+-.^_`|~", b) != NULL);
}

/* reason: returns the reason phrase of a status the guard answers with. */
static const char *
reason(int status)
{
	switch (status)
	{
		case 400:
			return "Bad Request";
		case 408:
			return "Request Timeout";
		case 411:
			return "Length Required";
		case 413:
			return "Content Too Large";
		case 414:
			return "URI Too Long";
		case 417:
			return "Expectation Failed";
		case 431:
			return "Request Header Fields Too Large";
		case 501:
			return "Not Implemented";
		case 505:
			return "HTTP Version Not Supported";
	}
	return "Error";
}

/* ------------------------------------------------------------------------------------------------
 * The listener
 * ---------------------------------------------------------------------------------------------- */

/* listener_update: returns nothing; enables the listener unless it is at the cap or backing off. */
static void
listener_update(void)
{
	bool		want = G.lev != NULL && !G.at_cap && !G.backing_off;

	if (G.lev == NULL || want == G.enabled)
		return;
	if (want)
		evconnlistener_enable(G.lev);
	else
		evconnlistener_disable(G.lev);
	G.enabled = want;
}

/* log_cap: returns nothing; the cap was reached: one line per interval at most. */
static void
log_cap(void)
{
	int64_t		now = now_ms();
	json_object *lf;

	G.cap_pauses++;
	if (G.cap_logged && now - G.cap_logged < LOG_INTERVAL_MS)
		return;
	lf = log_fields();
	log_field_int(lf, "connections", G.count);
	log_field_int(lf, "max_connections", G.cap);
	log_field_int(lf, "pauses", G.cap_pauses);
	ex7_log_with(EX7_WARN, "connections_at_cap", lf,
				 "at the connection cap (%d): not accepting until a connection closes (%d pause(s) since the last line)",
				 G.cap, G.cap_pauses);
	G.cap_logged = now;
	G.cap_pauses = 0;
}

/* accept_error_cb: accept() failed for another reason than a retry: pause the listener a while. */
static void
accept_error_cb(struct evconnlistener *lev, void *arg)
{
	int			err = EVUTIL_SOCKET_ERROR();
	int64_t		now = now_ms();
	struct timeval tv;

	(void) lev;
	(void) arg;
	G.accept_errors++;
	G.backoff_ms = G.backoff_ms ? G.backoff_ms * 2 : BACKOFF_MIN_MS;
	if (G.backoff_ms > BACKOFF_MAX_MS)
		G.backoff_ms = BACKOFF_MAX_MS;
	G.backing_off = true;
	listener_update();
	tv.tv_sec = G.backoff_ms / 1000;
	tv.tv_usec = (G.backoff_ms % 1000) * 1000;
	evtimer_add(G.backoff, &tv);
	if (G.err_logged == 0 || now - G.err_logged >= LOG_INTERVAL_MS)
	{
		json_object *lf = log_fields();

		log_field_str(lf, "error", strerror(err));
		log_field_int(lf, "connections", G.count);
		log_field_int(lf, "max_connections", G.cap);
		log_field_int(lf, "failures", G.accept_errors);
		ex7_log_with(EX7_WARN, "accept_failed", lf,
					 "accept() failed: %s; not accepting for %d ms (%d failure(s) since the last line)",
					 strerror(err), G.backoff_ms, G.accept_errors);
		G.err_logged = now;
		G.accept_errors = 0;
	}
}

/* backoff_cb: timer; the back-off after an accept() error is over. */
static void
backoff_cb(evutil_socket_t fd, short what, void *arg)
{
	(void) fd;
	(void) what;
	(void) arg;
	G.backing_off = false;
	listener_update();
}

/* ------------------------------------------------------------------------------------------------
 * Connections
 * ---------------------------------------------------------------------------------------------- */

static unsigned
bucket_of(const struct evhttp_connection *evcon)
{
	return (unsigned) (((uintptr_t) evcon >> 4) % BUCKETS);
}

/* release: returns nothing; uncounts c and frees it (its bufferevent is evhttp's to free). */
static void
release(Conn *c)
{
	if (c->prev)
		c->prev->next = c->next;
	else
		G.all = c->next;
	if (c->next)
		c->next->prev = c->prev;
	if (c->evcon)
	{
		Conn	  **p = &G.buckets[bucket_of(c->evcon)];

		while (*p && *p != c)
			p = &(*p)->hnext;
		if (*p)
			*p = c->hnext;
	}
	if (c->in_cb)
		evbuffer_remove_cb_entry(bufferevent_get_input(c->bev), c->in_cb);
	free(c->pending_detail);
	free(c);
	G.count--;
	if (G.at_cap && G.count < G.cap)
	{
		G.at_cap = false;
		listener_update();
	}
}

/* closed_cb: evhttp frees c's connection (the client left, a timeout, an answer with close, us). */
static void
closed_cb(struct evhttp_connection *evcon, void *arg)
{
	Conn	   *c = arg;

	(void) evcon;
	if (c->gone)
		c->gone(c->gone_arg);
	release(c);
}

/* evhttp_waiting: returns whether evhttp is reading a request from c (see the file comment). */
static bool
evhttp_waiting(Conn *c)
{
	bufferevent_data_cb readcb = NULL;

	if (c->evcon == NULL)
		return false;
	bufferevent_getcb(c->bev, &readcb, NULL, NULL, NULL);
	return readcb != NULL && (bufferevent_get_enabled(c->bev) & EV_READ) != 0;
}

/* log_refusal: returns nothing; one line per refused request or timed-out head, a few per second. */
static void
log_refusal(Conn *c, const char *event, int status, const char *detail)
{
	int64_t		second = now_ms() / 1000;
	json_object *lf;
	char	   *addr = NULL;
	ev_uint16_t port = 0;

	if (second != G.refusal_second)
	{
		G.refusal_second = second;
		G.refusal_lines = 0;
	}
	if (G.refusal_lines >= REFUSALS_PER_SECOND)
	{
		G.refusal_quiet++;
		return;
	}
	G.refusal_lines++;
	lf = log_fields();
	if (c->evcon)
		evhttp_connection_get_peer(c->evcon, &addr, &port);
	log_field_str(lf, "peer", addr);
	log_field_int(lf, "status", status);
	log_field_int(lf, "not_logged", G.refusal_quiet);	/* refusals over the rate since the last line */
	ex7_log_with(EX7_INFO, event, lf, "%s", detail);
	G.refusal_quiet = 0;
}

/* write_refusal: returns nothing; an HTTP/1.1 response with a JSON detail that closes the connection. */
static void
write_refusal(struct evbuffer *out, int status, const char *detail)
{
	char		date[64];
	char		body[320];
	time_t		t = time(NULL);
	struct tm	tm;
	int			blen;

	gmtime_r(&t, &tm);
	strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S GMT", &tm);
	/* the details are the guard's own sentences: nothing a client sent, nothing to escape */
	blen = snprintf(body, sizeof(body), "{\"detail\": \"%s\"}", detail);
	if (blen < 0 || (size_t) blen >= sizeof(body))
		blen = snprintf(body, sizeof(body), "{\"detail\": \"%s\"}", reason(status));
	evbuffer_add_printf(out, "HTTP/1.1 %d %s\r\nDate: %s\r\nContent-Type: application/json\r\n"
						"Content-Length: %d\r\nConnection: close\r\n%s\r\n%s", status, reason(status), date,
						blen, status == 501 ? "Allow: GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS\r\n" : "",
						body);
}

/* drain_input: returns nothing; drops what the input of c holds beyond its first keep bytes. */
static void
drain_input(Conn *c, size_t keep)
{
	struct evbuffer *in = bufferevent_get_input(c->bev);
	size_t		len = evbuffer_get_length(in);

	if (len <= keep)
		return;
	c->guard = true;
	if (keep == 0)
		evbuffer_drain(in, len);
	else
	{
		/* an evbuffer is drained from its front only: move the kept bytes aside and back */
		struct evbuffer *tmp = evbuffer_new();

		evbuffer_remove_buffer(in, tmp, keep);
		evbuffer_drain(in, evbuffer_get_length(in));
		evbuffer_add_buffer(in, tmp);
		evbuffer_free(tmp);
	}
	c->guard = false;
}

/* close_now: returns nothing; has evhttp free c's connection (c is freed with it). */
static void
close_now(Conn *c)
{
	if (c->evcon)
		evhttp_connection_free(c->evcon);
}

/* closing_write_cb: the refusal has been written: end our side, let the client read it and close. */
static void
closing_write_cb(struct bufferevent *bev, void *arg)
{
	Conn	   *c = arg;

	if (c->eof)
	{
		close_now(c);
		return;
	}
	if (!c->shut)
	{
		shutdown(bufferevent_getfd(bev), SHUT_WR);
		c->shut = true;
	}
}

/*
 * closing_event_cb: the client closed (or a timeout, an error) after its refusal: free it, but after an
 * end of input (a client that sends its request and shuts its side) only once the answer has left.
 */
static void
closing_event_cb(struct bufferevent *bev, short what, void *arg)
{
	Conn	   *c = arg;

	if ((what & BEV_EVENT_EOF) && (what & BEV_EVENT_READING) &&
		evbuffer_get_length(bufferevent_get_output(bev)) > 0)
	{
		c->eof = true;
		bufferevent_disable(bev, EV_READ);
		return;
	}
	close_now(c);
}

/*
 * takeover: returns nothing; answers c's refused head and closes c. evhttp waits for a head with
 * nothing outstanding: the guard takes the bufferevent's callbacks over, so evhttp parses nothing more,
 * and keeps reading (and dropping) what the client still sends until it has closed, for at most
 * LINGER_MS: closing with unread input would reset the connection and could lose the answer.
 */
static void
takeover(Conn *c, int status, const char *detail)
{
	c->state = CS_CLOSING;
	c->closing_since = now_ms();
	bufferevent_setcb(c->bev, NULL, closing_write_cb, closing_event_cb, c);
	drain_input(c, 0);
	write_refusal(bufferevent_get_output(c->bev), status, detail);
	bufferevent_enable(c->bev, EV_READ | EV_WRITE);
}

/*
 * refuse: returns nothing; c's head that starts head_start bytes into its input (negative: evhttp has
 * parsed its first lines already) is refused: answered now when evhttp waits for it, else once evhttp
 * has answered the requests before it.
 */
static void
refuse(Conn *c, long head_start, int status, const char *detail)
{
	G.refused++;
	log_refusal(c, "request_refused", status, detail);
	if (head_start <= 0 && evhttp_waiting(c))
	{
		takeover(c, status, detail);
		return;
	}
	c->keep = head_start > 0 ? (size_t) head_start : 0;
	drain_input(c, c->keep);
	c->pos = c->keep;
	c->state = CS_PENDING;
	c->pending_status = status;
	free(c->pending_detail);
	c->pending_detail = strdup(detail);
}

/* head_reset: returns nothing; c is between requests. */
static void
head_reset(Conn *c)
{
	c->head_len = 0;
	c->scan = 0;
	c->cl = 0;
	c->empties = 0;
	c->got_line1 = c->http11 = c->no_body = false;
	c->seen_cl = c->seen_auth = c->seen_host = false;
}

/*
 * request_line: returns 0, or the status refusing the request line l (n bytes, no line end; l is the
 * guard's own copy, written to while the target is parsed).
 */
static int
request_line(Conn *c, char *l, size_t n, const char **detail)
{
	static const char *const methods[] = {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", NULL};
	size_t		m = 0,
				t;
	const char *v;

	*detail = "malformed request line: method SP request-target SP HTTP-version (RFC 9112 section 3)";
	while (m < n && tchar((unsigned char) l[m]))
		m++;
	if (m == 0 || m >= n || l[m] != ' ')
		return 400;
	for (t = m + 1; t < n && l[t] != ' '; t++)
		if (l[t] == '\0')
		{
			*detail = "a NUL byte in the request target";
			return 400;
		}
	if (t == m + 1 || t >= n)
		return 400;
	{
		/* as evhttp will parse it (evhttp_parse_request_line), else its HTML 400 would answer */
		struct evhttp_uri *u;

		l[t] = '\0';
		u = evhttp_uri_parse_with_flags(l + m + 1, EVHTTP_URI_NONCONFORMANT);
		l[t] = ' ';
		if (u == NULL)
		{
			*detail = "the request target cannot be parsed as a URI (RFC 3986)";
			return 400;
		}
		evhttp_uri_free(u);
	}
	v = l + t + 1;
	if (n - t - 1 != 8 || memcmp(v, "HTTP/", 5) != 0 || v[5] < '0' || v[5] > '9' || v[6] != '.' ||
		v[7] < '0' || v[7] > '9')
		return 400;
	if (v[5] != '1')
	{
		*detail = "only HTTP/1.0 and HTTP/1.1 are served";
		return 505;
	}
	c->http11 = v[7] >= '1';
	for (int i = 0; methods[i]; i++)
		if (strlen(methods[i]) == m && memcmp(l, methods[i], m) == 0)
		{
			c->no_body = i == 1;	/* evhttp reads no body after a HEAD */
			c->got_line1 = true;
			return 0;
		}
	*detail = "method not supported";
	return 501;
}

/* name_is: returns whether the field name of n bytes at l is name (case-insensitive). */
static bool
name_is(const char *l, size_t n, const char *name)
{
	return strlen(name) == n && strncasecmp(l, name, n) == 0;
}

/* header_line: returns 0, or the status refusing the header field line l (n bytes, no line end). */
static int
header_line(Conn *c, const char *l, size_t n, const char **detail)
{
	size_t		m = 0,
				v,
				e;

	if (l[0] == ' ' || l[0] == '\t')
	{
		*detail = "obsolete line folding in a header field (RFC 9112 section 5.2)";
		return 400;
	}
	while (m < n && tchar((unsigned char) l[m]))
		m++;
	if (m < n && (l[m] == ' ' || l[m] == '\t'))
	{
		*detail = "whitespace between a header field name and its colon (RFC 9112 section 5.1)";
		return 400;
	}
	if (m == 0 || m >= n || l[m] != ':')
	{
		*detail = "a malformed header field: name, colon, value (RFC 9112 section 5)";
		return 400;
	}
	for (v = m + 1; v < n && (l[v] == ' ' || l[v] == '\t'); v++)
		;
	for (e = n; e > v && (l[e - 1] == ' ' || l[e - 1] == '\t'); e--)
		;
	for (size_t i = v; i < e; i++)
	{
		unsigned char b = (unsigned char) l[i];

		if (b == '\0')
		{
			*detail = "a NUL byte in a header field value (RFC 9110 section 5.5)";
			return 400;
		}
		if ((b < 0x20 && b != '\t') || b == 0x7f)
		{
			*detail = "a control character in a header field value (RFC 9110 section 5.5)";
			return 400;
		}
	}
	if (name_is(l, m, "Content-Length"))
	{
		uint64_t	cl = 0;

		if (c->seen_cl)
		{
			*detail = "more than one Content-Length (RFC 9112 section 6.3)";
			return 400;
		}
		c->seen_cl = true;
		*detail = "Content-Length must be a decimal number of bytes (RFC 9110 section 8.6)";
		if (e == v)
			return 400;
		for (size_t i = v; i < e; i++)
		{
			if (l[i] < '0' || l[i] > '9')
				return 400;
			if (i - v >= 18)
			{
				*detail = G.too_large;
				return 413;
			}
			cl = cl * 10 + (uint64_t) (l[i] - '0');
		}
		c->cl = cl;
	}
	else if (name_is(l, m, "Transfer-Encoding"))
	{
		*detail = "Transfer-Encoding is not accepted on requests: send the body with Content-Length";
		return 411;
	}
	else if (name_is(l, m, "Authorization"))
	{
		if (c->seen_auth)
		{
			*detail = "more than one Authorization header field";
			return 400;
		}
		c->seen_auth = true;
	}
	else if (name_is(l, m, "Host"))
	{
		if (c->seen_host)
		{
			*detail = "more than one Host header field (RFC 9112 section 3.2)";
			return 400;
		}
		c->seen_host = true;
	}
	else if (name_is(l, m, "Expect"))
	{
		if (e - v != 12 || strncasecmp(l + v, "100-continue", 12) != 0)
		{
			*detail = "only Expect: 100-continue is supported (RFC 9110 section 10.1.1)";
			return 417;
		}
	}
	return 0;
}

/* head_end: returns 0, or the status refusing the head whose empty line just came; 0 starts its body. */
static int
head_end(Conn *c, const char **detail)
{
	if (c->http11 && !c->seen_host)
	{
		*detail = "an HTTP/1.1 request needs a Host header field (RFC 9112 section 3.2)";
		return 400;
	}
	if (c->no_body && c->cl > 0)
	{
		*detail = "a HEAD request has no body";
		return 400;
	}
	if (c->cl > G.body_max)
	{
		*detail = G.too_large;
		return 413;
	}
	c->body_left = c->cl;
	c->state = c->cl > 0 ? CS_BODY : CS_HEAD;
	c->wait_since = 0;			/* evhttp has a request: the deadline starts again after its answer */
	head_reset(c);
	return 0;
}

/*
 * examine: returns nothing; examines the input of c from pos on: complete head lines, body bytes.
 * Stops at an incomplete line, or after a refusal.
 */
static void
examine(Conn *c, struct evbuffer *in)
{
	size_t		len = evbuffer_get_length(in);

	while (c->pos < len && (c->state == CS_HEAD || c->state == CS_BODY))
	{
		struct evbuffer_ptr from;
		struct evbuffer_ptr eol;
		const char *detail = NULL;
		char	   *l = G.line;
		size_t		n;
		long		head_start;
		int			status;

		if (c->state == CS_BODY)
		{
			uint64_t	take = len - c->pos;

			if (take > c->body_left)
				take = c->body_left;
			c->pos += (size_t) take;
			c->body_left -= take;
			if (c->body_left == 0)
				c->state = CS_HEAD;
			continue;
		}
		head_start = (long) c->pos - (long) c->head_len;
		evbuffer_ptr_set(in, &from, c->pos + c->scan, EVBUFFER_PTR_SET);
		eol = evbuffer_search(in, "\n", 1, &from);
		if (eol.pos < 0)
		{
			c->scan = len - c->pos;
			if (c->head_len + c->scan > HEAD_MAX)
				refuse(c, head_start, c->got_line1 ? 431 : 414, c->got_line1
					   ? "the request head is larger than 65536 bytes"
					   : "the request line is longer than 65536 bytes");
			return;
		}
		n = (size_t) eol.pos + 1 - c->pos;
		if (c->head_len + n > HEAD_MAX)
		{
			refuse(c, head_start, c->got_line1 ? 431 : 414, c->got_line1
				   ? "the request head is larger than 65536 bytes"
				   : "the request line is longer than 65536 bytes");
			return;
		}
		evbuffer_ptr_set(in, &from, c->pos, EVBUFFER_PTR_SET);
		evbuffer_copyout_from(in, &from, l, n);
		c->scan = 0;
		c->pos += n;
		c->head_len += n;
		/* the line without its LF and the CR before it (RFC 9112 section 2.2 accepts a bare LF) */
		n--;
		if (n > 0 && l[n - 1] == '\r')
			n--;
		if (memchr(l, '\r', n) != NULL)
		{
			refuse(c, head_start, 400, "a CR that does not end a line (RFC 9112 section 2.2)");
			return;
		}
		if (n == 0 && !c->got_line1)
		{
			/* an empty line before a request line: dropped where evhttp would choke on it */
			if (head_start != 0 || ++c->empties > EMPTY_LINES_MAX)
			{
				refuse(c, head_start, 400, "empty lines before the request line");
				return;
			}
			c->guard = true;
			evbuffer_drain(in, c->pos);
			c->guard = false;
			len = evbuffer_get_length(in);
			c->pos = 0;
			c->head_len = 0;
			continue;
		}
		if (!c->got_line1)
			status = request_line(c, l, n, &detail);
		else if (n > 0)
			status = header_line(c, l, n, &detail);
		else
			status = head_end(c, &detail);
		if (status)
		{
			refuse(c, head_start, status, detail);
			return;
		}
	}
}

/* input_cb: the input of a connection changed: a client's bytes came, or evhttp consumed some. */
static void
input_cb(struct evbuffer *in, const struct evbuffer_cb_info *info, void *arg)
{
	Conn	   *c = arg;

	if (c->guard)
		return;
	if (info->n_deleted)
	{
		/* evhttp consumes from the front, only what was examined */
		c->pos = c->pos > info->n_deleted ? c->pos - info->n_deleted : 0;
		c->keep = c->keep > info->n_deleted ? c->keep - info->n_deleted : 0;
	}
	if (info->n_added == 0)
		return;
	switch (c->state)
	{
		case CS_CLOSING:
			drain_input(c, 0);
			break;
		case CS_PENDING:
			drain_input(c, c->keep);
			break;
		default:
			examine(c, in);
	}
}

/* sweep_cb: timer; head deadlines, refusals waiting for evhttp, refused connections lingering. */
static void
sweep_cb(evutil_socket_t fd, short what, void *arg)
{
	int64_t		now = now_ms();
	int			limit = G.srv->cfg.head_timeout_ms;
	Conn	   *c,
			   *next;

	(void) fd;
	(void) what;
	(void) arg;
	for (c = G.all; c; c = next)
	{
		bool		waiting;

		next = c->next;
		if (c->evcon == NULL)
			continue;
		if (c->state == CS_CLOSING)
		{
			if (now - c->closing_since >= LINGER_MS)
				close_now(c);
			continue;
		}
		waiting = evhttp_waiting(c);
		if (c->state == CS_PENDING)
		{
			if (waiting && evbuffer_get_length(bufferevent_get_input(c->bev)) == 0)
				takeover(c, c->pending_status, c->pending_detail);
			continue;
		}
		if (!waiting || c->state != CS_HEAD)
		{
			c->wait_since = 0;
			continue;
		}
		if (c->wait_since == 0)
			c->wait_since = now;
		else if (now - c->wait_since >= limit)
		{
			G.timed_out++;
			if (c->head_len + c->scan == 0)
				close_now(c);	/* idle: nothing to answer */
			else
			{
				char		msg[120];

				snprintf(msg, sizeof(msg), "the request head was not complete within %d ms", limit);
				log_refusal(c, "head_timeout", 408, msg);
				takeover(c, 408, msg);
			}
		}
	}
}

/* fresh_cb: the loop, after accepting: the new connections learn their evhttp connection. */
static void
fresh_cb(evutil_socket_t fd, short what, void *arg)
{
	(void) fd;
	(void) what;
	(void) arg;
	while (G.fresh)
	{
		Conn	   *c = G.fresh;
		struct bufferevent *bev = c->bev;
		void	   *evcon = NULL;

		G.fresh = c->fresh_next;
		c->fresh_next = NULL;
		c->fresh = false;
		/* evhttp sets its callbacks with the connection as their argument; bufferevent_free clears them */
		bufferevent_getcb(bev, NULL, NULL, NULL, &evcon);
		if (evcon == NULL)
			release(c);			/* evhttp could not set the connection up and freed it */
		else
		{
			unsigned	b = bucket_of(evcon);

			c->evcon = evcon;
			c->hnext = G.buckets[b];
			G.buckets[b] = c;
			evhttp_connection_set_closecb(c->evcon, closed_cb, c);
		}
		bufferevent_decref(bev);
	}
}

/* bev_cb: evhttp_set_bevcb: the bufferevent of a connection just accepted, counted and examined. */
static struct bufferevent *
bev_cb(struct event_base *base, void *arg)
{
	struct bufferevent *bev = bufferevent_socket_new(base, -1, 0);	/* as evhttp makes its own */
	Conn	   *c;

	(void) arg;
	if (bev == NULL)
		return NULL;
	if ((c = calloc(1, sizeof(Conn))) == NULL)
	{
		bufferevent_free(bev);
		return NULL;
	}
	c->bev = bev;
	c->wait_since = now_ms();
	c->in_cb = evbuffer_add_cb(bufferevent_get_input(bev), input_cb, c);
	c->next = G.all;
	if (G.all)
		G.all->prev = c;
	G.all = c;
	/* held until fresh_cb, later in this loop turn, has found its evhttp connection */
	bufferevent_incref(bev);
	c->fresh = true;
	c->fresh_next = G.fresh;
	G.fresh = c;
	event_active(G.fresh_ev, EV_TIMEOUT, 0);
	G.count++;
	G.backoff_ms = 0;			/* accept() works again */
	if (G.count >= G.cap && !G.at_cap)
	{
		G.at_cap = true;
		log_cap();
		listener_update();
	}
	return bev;
}

/* ------------------------------------------------------------------------------------------------
 * The interface
 * ---------------------------------------------------------------------------------------------- */

int
conn_limits(Server *srv, char *err, size_t errlen)
{
	struct rlimit rl;
	long		reserve = srv->cfg.pool_size + RESERVE_FDS;
	long		fit;

	/* as the Go runtime does since 1.19: the soft limit is a relic of select(); ex7d uses epoll */
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max && rl.rlim_cur < NOFILE_MAX)
	{
		rl.rlim_cur = rl.rlim_max == RLIM_INFINITY || rl.rlim_max > NOFILE_MAX ? NOFILE_MAX : rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
		rl.rlim_cur = 1024;
	fit = (long) (rl.rlim_cur > NOFILE_MAX ? NOFILE_MAX : rl.rlim_cur) - reserve;
	if (srv->cfg.max_connections > 0)
	{
		G.cap = srv->cfg.max_connections;
		if (G.cap > fit)
			ex7_log(EX7_WARN, "max_connections_high",
					"EX7_MAX_CONNECTIONS %d is more than the %ld connections RLIMIT_NOFILE %ld leaves after %ld "
					"descriptors for the rest: accept() may fail with EMFILE (ex7d then backs off)",
					G.cap, fit, (long) rl.rlim_cur, reserve);
	}
	else if (fit < MIN_CONNECTIONS)
	{
		snprintf(err, errlen, "RLIMIT_NOFILE %ld leaves fewer than %d connections after %ld descriptors "
				 "for the pool and the rest: raise it (ulimit -n, LimitNOFILE=)\n",
				 (long) rl.rlim_cur, MIN_CONNECTIONS, reserve);
		return -1;
	}
	else
		G.cap = (int) (fit > 1000000 ? 1000000 : fit);
	return 0;
}

int
conn_start(Server *srv, struct evconnlistener *listener)
{
	int			tick_ms = srv->cfg.head_timeout_ms / 4;
	struct timeval tick;

	G.srv = srv;
	G.lev = listener;
	G.enabled = true;
	G.body_max = (uint64_t) srv->cfg.body_limit * 2;
	snprintf(G.too_large, sizeof(G.too_large), "request body larger than %zu bytes", srv->cfg.body_limit);
	if (tick_ms > 1000)
		tick_ms = 1000;
	if (tick_ms < 25)
		tick_ms = 25;
	tick.tv_sec = tick_ms / 1000;
	tick.tv_usec = (tick_ms % 1000) * 1000;
	G.sweep = event_new(srv->base, -1, EV_PERSIST, sweep_cb, NULL);
	G.fresh_ev = event_new(srv->base, -1, 0, fresh_cb, NULL);
	G.backoff = evtimer_new(srv->base, backoff_cb, NULL);
	if (G.sweep == NULL || G.fresh_ev == NULL || G.backoff == NULL)
		return -1;
	event_add(G.sweep, &tick);
	evhttp_set_bevcb(srv->http, bev_cb, NULL);
	evconnlistener_set_error_cb(listener, accept_error_cb);
	return 0;
}

void
conn_stop_accepting(void)
{
	G.lev = NULL;
	G.enabled = false;
	if (G.backoff)
		evtimer_del(G.backoff);
}

void
conn_free(void)
{
	/* evhttp_free closed every connection; one accepted in the last turn may wait in the fresh list */
	if (G.fresh_ev)
		fresh_cb(-1, 0, NULL);
	if (G.sweep)
		event_free(G.sweep);
	if (G.fresh_ev)
		event_free(G.fresh_ev);
	if (G.backoff)
		event_free(G.backoff);
	G.sweep = G.fresh_ev = G.backoff = NULL;
	G.lev = NULL;
}

int
conn_count(void)
{
	return G.count;
}

int
conn_cap(void)
{
	return G.cap;
}

long long
conn_refused_total(void)
{
	return G.refused;
}

long long
conn_timed_out_total(void)
{
	return G.timed_out;
}

void
conn_on_close(struct evhttp_connection *evcon, void (*gone) (void *), void *arg)
{
	Conn	   *c;

	for (c = G.buckets[bucket_of(evcon)]; c; c = c->hnext)
		if (c->evcon == evcon)
		{
			c->gone = gone;
			c->gone_arg = arg;
			return;
		}
	/* every API connection is the guard's (bev_cb); the metrics listener has no streams */
	ex7_log(EX7_ERROR, "internal_error", "conn_on_close: a connection the guard does not know");
}
