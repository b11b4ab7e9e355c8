/*
 * conn.h
 *	  The connection guard of ex7d (docs/http.md, "Connections and framing"): every connection the API
 *	  listener accepts gets its bufferevent from here (evhttp_set_bevcb), so ex7d can
 *
 *	  - cap the connections it holds (EX7_MAX_CONNECTIONS, by default derived from RLIMIT_NOFILE) and
 *	    stop accepting while at the cap, and back off when accept() fails (EMFILE) instead of spinning;
 *	  - see every byte of each request head before libevent's parser does, and refuse with a JSON
 *	    {"detail": ...} and a closed connection what RFC 9112 says a server must not guess at (two
 *	    Content-Length values, a sign in one, whitespace before a colon, a NUL or bare CR, line folding,
 *	    Transfer-Encoding on a request, two Authorization or Host fields), plus the heads libevent would
 *	    answer with its own HTML page (too long, a bad request line, a method it does not serve, a body
 *	    over twice EX7_BODY_LIMIT);
 *	  - close a connection whose request head is not complete within EX7_HEAD_TIMEOUT_MS of the
 *	    connection being ready for it (a fresh connection, or a keep-alive one after its last response),
 *	    never while a request is being answered, a body is being read or a stream is open.
 */
#ifndef EX7D_CONN_H
#define EX7D_CONN_H

#include "ex7d.h"

#include <event2/listener.h>

/*
 * conn_limits: returns 0 after raising the soft RLIMIT_NOFILE to the hard one and choosing the
 * connection cap (cfg->max_connections, or the descriptors left after a reserve for the pool, the LISTEN
 * connection, the metrics listener and outbound calls); -1 with a message in err when no cap fits.
 * Called before anything opens descriptors.
 */
extern int	conn_limits(Server *srv, char *err, size_t errlen);

/*
 * conn_start: returns 0 once srv's listener (an evconnlistener bound to EX7_LISTEN, attached to srv->http
 * with evhttp_bind_listener) is guarded: connections get their bufferevents here, the listener is paused at
 * the cap and after accept() errors. -1 when the timers cannot be made.
 */
extern int	conn_start(Server *srv, struct evconnlistener *listener);

/* conn_stop_accepting: returns nothing; the listener is about to be freed (shutdown): forget it. */
extern void conn_stop_accepting(void);

/* conn_free: returns nothing; frees the guard's timers (after evhttp_free closed every connection). */
extern void conn_free(void);

/* conn_count, conn_cap: return the API connections open and the cap (for /metrics). */
extern int	conn_count(void);
extern int	conn_cap(void);

/* conn_refused_total, conn_timed_out_total: return the requests refused here and the heads timed out. */
extern long long conn_refused_total(void);
extern long long conn_timed_out_total(void);

/*
 * conn_on_close: returns nothing; gone(arg) runs once when evcon closes, before it is freed (the signal
 * stream's unsubscribe); gone NULL removes it. The guard owns evhttp's close callback of every API
 * connection, so this is the way to have one.
 */
extern void conn_on_close(struct evhttp_connection *evcon, void (*gone) (void *), void *arg);

#endif
