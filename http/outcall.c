/*
 * outcall.c
 *	  ex7d's outbound HTTP(S) client: one request to a provider on the server's event loop (libevent's
 *	  HTTP client over a bufferevent, bufferevent_openssl for https). It never blocks the loop: host
 *	  names are resolved with evdns, and one timer bounds the whole exchange (DNS, connect, TLS
 *	  handshake, request, response), so a provider that stops answering costs a request its timeout,
 *	  never a hang. TLS: 1.2 or later, the peer's chain verified against the system CA store (or
 *	  EX7_OUTCALL_CAFILE, for tests with a self-signed stand-in) and its name checked against the URL's
 *	  host (RFC 6125, OpenSSL's SSL_set1_host; an IP address against the certificate's IP entries).
 *
 *	  Every call ends in exactly one callback. Its resources are freed from a deferred event, never inside
 *	  a libevent HTTP callback (which may not free its own connection).
 */
#include "outcall.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/dns.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

/* largest provider response we read: Stripe objects are a few KiB; a longer body is an error */
#define OUTCALL_BODY_MAX (4 * 1024 * 1024)

typedef struct Call
{
	struct event_base *base;
	struct evhttp_connection *conn;
	struct event *timer;
	OutcallCb	cb;
	void	   *arg;
	bool		done;			/* cb has run */
	bool		tls;
	bool		have_err;
	enum evhttp_request_error err;
	char		where[300];		/* host:port, for messages */
	bool		connect_failed;	/* no connection (refused, unreachable, TLS handshake) */
	char	   *late_error;		/* an error found before the request went out, delivered from the loop */
} Call;

static SSL_CTX *tls_ctx;
static char *tls_ctx_error;		/* why the context could not be made (a bad CA file) */
static struct evdns_base *dns;
static struct event_base *dns_owner;

/* tls_context: returns the shared client context, or NULL with tls_ctx_error set. */
static SSL_CTX *
tls_context(void)
{
	const char *cafile = getenv("EX7_OUTCALL_CAFILE");
	char		msg[512];

	if (tls_ctx || tls_ctx_error)
		return tls_ctx;
	tls_ctx = SSL_CTX_new(TLS_client_method());
	if (tls_ctx == NULL)
	{
		tls_ctx_error = strdup("tls: cannot create a context");
		return NULL;
	}
	/* TLS 1.2 is the oldest version Stripe (and every provider we call) accepts */
	SSL_CTX_set_min_proto_version(tls_ctx, TLS1_2_VERSION);
	SSL_CTX_set_verify(tls_ctx, SSL_VERIFY_PEER, NULL);
	if (cafile && *cafile ? SSL_CTX_load_verify_locations(tls_ctx, cafile, NULL) != 1
		: SSL_CTX_set_default_verify_paths(tls_ctx) != 1)
	{
		snprintf(msg, sizeof(msg), "tls: cannot load the CA certificates%s%s", cafile && *cafile ? " of " : "",
				 cafile && *cafile ? cafile : "");
		tls_ctx_error = strdup(msg);
		SSL_CTX_free(tls_ctx);
		tls_ctx = NULL;
	}
	ERR_clear_error();
	return tls_ctx;
}

/* resolver: returns the asynchronous resolver of base (NULL: libevent resolves by blocking, a fallback). */
static struct evdns_base *
resolver(struct event_base *base)
{
	if (dns && dns_owner == base)
		return dns;
	if (dns)
		evdns_base_free(dns, 0);
	/* resolv.conf and /etc/hosts; idle, it does not keep the loop alive */
	dns = evdns_base_new(base, EVDNS_BASE_INITIALIZE_NAMESERVERS | EVDNS_BASE_DISABLE_WHEN_INACTIVE);
	dns_owner = dns ? base : NULL;
	return dns;
}

/* cleanup_cb: deferred: frees the connection, the timer and the call. */
static void
cleanup_cb(evutil_socket_t fd, short what, void *arg)
{
	Call	   *c = arg;

	(void) fd;
	(void) what;
	if (c->conn)
		evhttp_connection_free(c->conn);
	if (c->timer)
		event_free(c->timer);
	free(c->late_error);
	free(c);
}

/* finish: returns nothing; runs the caller's callback once and schedules the cleanup. */
static void
finish(Call *c, int status, const char *body, size_t len, const char *error)
{
	OutResponse resp = {status, body ? body : "", body ? len : 0, error};
	struct timeval zero = {0, 0};

	if (c->done)
		return;
	c->done = true;
	if (c->timer)
		evtimer_del(c->timer);
	c->cb(&resp, c->arg);
	if (event_base_once(c->base, -1, EV_TIMEOUT, cleanup_cb, c, &zero) != 0)
		cleanup_cb(-1, 0, c);	/* cannot happen: the loop is alive; freeing now is the lesser risk */
}

/* failure_text: returns (in buf) why the connection of c failed, as OutResponse.error says it. */
static const char *
failure_text(Call *c, char *buf, size_t len)
{
	struct bufferevent *bev = c->conn ? evhttp_connection_get_bufferevent(c->conn) : NULL;

	if (c->have_err && c->err == EVREQ_HTTP_TIMEOUT)
		return "timeout";
	if (bev && c->tls)
	{
		SSL		   *ssl = bufferevent_openssl_get_ssl(bev);
		long		vr = ssl ? SSL_get_verify_result(ssl) : X509_V_OK;
		unsigned long e;

		if (vr != X509_V_OK)
		{
			snprintf(buf, len, "tls: certificate verify failed: %s", X509_verify_cert_error_string(vr));
			return buf;
		}
		if ((e = bufferevent_get_openssl_error(bev)) != 0)
		{
			char		t[256];

			ERR_error_string_n(e, t, sizeof(t));
			snprintf(buf, len, "tls: %s", t);
			while (bufferevent_get_openssl_error(bev) != 0)
				;
			return buf;
		}
	}
	if (bev && bufferevent_socket_get_dns_error(bev) != 0)
	{
		snprintf(buf, len, "connect failed: cannot resolve the host: %s",
				 evutil_gai_strerror(bufferevent_socket_get_dns_error(bev)));
		return buf;
	}
	if (c->have_err && c->err == EVREQ_HTTP_INVALID_HEADER)
		return "invalid response: malformed status line or headers";
	if (c->have_err && c->err == EVREQ_HTTP_DATA_TOO_LONG)
		return "invalid response: body too large";
	if (c->connect_failed)
	{
		/* libevent does not keep the socket error of a failed connect */
		snprintf(buf, len, "connect failed: no connection to %s", c->where);
		return buf;
	}
	return "connection closed before a response";
}

/* error_cb: libevent reports why the request failed; the request callback follows with NULL. */
static void
error_cb(enum evhttp_request_error err, void *arg)
{
	Call	   *c = arg;

	c->have_err = true;
	c->err = err;
}

/* response_cb: the response arrived (req with its status), or the request failed (req NULL). */
static void
response_cb(struct evhttp_request *req, void *arg)
{
	Call	   *c = arg;
	char		why[400];

	if (c->done)
		return;
	if (req != NULL && evhttp_request_get_response_code(req) == 0 && !c->have_err)
	{
		/* libevent's connect failure path: the callback with no status and no error callback before it */
		c->connect_failed = true;
	}
	if (req == NULL || evhttp_request_get_response_code(req) == 0)
	{
		finish(c, 0, NULL, 0, failure_text(c, why, sizeof(why)));
		return;
	}
	{
		struct evbuffer *in = evhttp_request_get_input_buffer(req);
		size_t		len = evbuffer_get_length(in);
		char	   *body = malloc(len + 1);

		evbuffer_copyout(in, body, len);
		body[len] = '\0';
		finish(c, evhttp_request_get_response_code(req), body, len, NULL);
		free(body);
	}
}

/* timeout_cb: the whole exchange took longer than its timeout: the caller hears "timeout" now. */
static void
timeout_cb(evutil_socket_t fd, short what, void *arg)
{
	(void) fd;
	(void) what;
	finish(arg, 0, NULL, 0, "timeout");
}

/* late_error_cb: delivers an error found before the request went out, from the loop as promised. */
static void
late_error_cb(evutil_socket_t fd, short what, void *arg)
{
	Call	   *c = arg;

	(void) fd;
	(void) what;
	finish(c, 0, NULL, 0, c->late_error);
}

/* method_of: returns the libevent method for name, or -1. */
static int
method_of(const char *name)
{
	static const struct
	{
		const char *name;
		enum evhttp_cmd_type cmd;
	}			m[] = {
		{"GET", EVHTTP_REQ_GET}, {"POST", EVHTTP_REQ_POST}, {"PUT", EVHTTP_REQ_PUT},
		{"PATCH", EVHTTP_REQ_PATCH}, {"DELETE", EVHTTP_REQ_DELETE}, {"HEAD", EVHTTP_REQ_HEAD},
	};

	for (size_t i = 0; i < sizeof(m) / sizeof(m[0]); i++)
		if (strcmp(name, m[i].name) == 0)
			return (int) m[i].cmd;
	return -1;
}

int
outcall(struct event_base *base, const char *method, const char *url, const char *const *headers,
		const char *body, size_t body_len, int timeout_ms, OutcallCb cb, void *arg)
{
	struct evhttp_uri *uri = url ? evhttp_uri_parse(url) : NULL;
	const char *scheme = uri ? evhttp_uri_get_scheme(uri) : NULL;
	const char *host = uri ? evhttp_uri_get_host(uri) : NULL;
	const char *path;
	const char *query;
	int			port;
	int			cmd = method ? method_of(method) : -1;
	bool		tls;
	Call	   *c;
	struct evhttp_request *req;
	struct evkeyvalq *out;
	struct timeval tv;
	char	   *target;
	char		hostport[300];
	struct timeval zero = {0, 0};

	if (uri == NULL || scheme == NULL || host == NULL || *host == '\0' || cmd < 0 || cb == NULL ||
		(strcasecmp(scheme, "http") != 0 && strcasecmp(scheme, "https") != 0) || strlen(host) > 255)
	{
		if (uri)
			evhttp_uri_free(uri);
		return -1;
	}
	tls = strcasecmp(scheme, "https") == 0;
	port = evhttp_uri_get_port(uri);
	if (port < 0)
		port = tls ? 443 : 80;
	path = evhttp_uri_get_path(uri);
	query = evhttp_uri_get_query(uri);
	target = malloc(strlen(path ? path : "") + strlen(query ? query : "") + 3);
	sprintf(target, "%s%s%s", path && *path ? path : "/", query ? "?" : "", query ? query : "");

	c = calloc(1, sizeof(Call));
	c->base = base;
	c->cb = cb;
	c->arg = arg;
	c->tls = tls;
	snprintf(c->where, sizeof(c->where), "%s:%d", host, port);
	c->timer = evtimer_new(base, timeout_cb, c);
	tv.tv_sec = timeout_ms / 1000;
	tv.tv_usec = (timeout_ms % 1000) * 1000;
	evtimer_add(c->timer, &tv);

	if (tls)
	{
		SSL_CTX    *ctx = tls_context();
		SSL		   *ssl;
		struct bufferevent *bev;
		unsigned char ip[16];
		bool		is_ip = inet_pton(AF_INET, host, ip) == 1 || inet_pton(AF_INET6, host, ip) == 1;

		if (ctx == NULL)
		{
			c->late_error = strdup(tls_ctx_error);
			goto late;
		}
		ssl = SSL_new(ctx);
		if (is_ip)
			X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), host);
		else
		{
			SSL_set_tlsext_host_name(ssl, host);	/* SNI */
			SSL_set1_host(ssl, host);
		}
		/* the connection frees the bufferevent, which closes the socket and frees ssl */
		bev = bufferevent_openssl_socket_new(base, -1, ssl, BUFFEREVENT_SSL_CONNECTING,
											 BEV_OPT_CLOSE_ON_FREE | BEV_OPT_DEFER_CALLBACKS);
		if (bev == NULL)
		{
			SSL_free(ssl);
			c->late_error = strdup("tls: cannot create the connection");
			goto late;
		}
		/* a provider that closes without close_notify has still sent its whole (framed) response */
		bufferevent_openssl_set_allow_dirty_shutdown(bev, 1);
		c->conn = evhttp_connection_base_bufferevent_new(base, resolver(base), bev, host, (unsigned short) port);
	}
	else
		c->conn = evhttp_connection_base_new(base, resolver(base), host, (unsigned short) port);
	if (c->conn == NULL)
	{
		c->late_error = strdup("connect failed: cannot create the connection");
		goto late;
	}
	/* libevent's own timeouts a little after ours: ours decides, theirs only frees a stuck socket */
	tv.tv_sec += 1;
	evhttp_connection_set_timeout_tv(c->conn, &tv);
	evhttp_connection_set_retries(c->conn, 0);
	evhttp_connection_set_max_body_size(c->conn, OUTCALL_BODY_MAX);
	evhttp_connection_set_max_headers_size(c->conn, 64 * 1024);

	req = evhttp_request_new(response_cb, c);
	evhttp_request_set_error_cb(req, error_cb);
	out = evhttp_request_get_output_headers(req);
	if (port == (tls ? 443 : 80))
		snprintf(hostport, sizeof(hostport), "%s", host);
	else
		snprintf(hostport, sizeof(hostport), "%s:%d", host, port);
	evhttp_add_header(out, "Host", hostport);
	evhttp_add_header(out, "User-Agent", "ex7d/" EX7_VERSION);
	evhttp_add_header(out, "Connection", "close");
	for (int i = 0; headers && headers[i]; i++)
	{
		const char *colon = strchr(headers[i], ':');
		char		name[128];
		const char *v;

		if (colon == NULL || colon == headers[i] || colon - headers[i] >= (long) sizeof(name))
			continue;
		snprintf(name, sizeof(name), "%.*s", (int) (colon - headers[i]), headers[i]);
		for (v = colon + 1; *v == ' '; v++)
			;
		evhttp_remove_header(out, name);
		evhttp_add_header(out, name, v);
	}
	if (body)
	{
		char		cl[24];

		snprintf(cl, sizeof(cl), "%zu", body_len);
		evhttp_remove_header(out, "Content-Length");
		evhttp_add_header(out, "Content-Length", cl);
		evbuffer_add(evhttp_request_get_output_buffer(req), body, body_len);
	}
	if (evhttp_make_request(c->conn, req, (enum evhttp_cmd_type) cmd, target) != 0)
	{
		/* libevent freed req; nothing was sent */
		c->late_error = strdup("connect failed: the request could not be queued");
		goto late;
	}
	free(target);
	evhttp_uri_free(uri);
	return 0;

late:
	free(target);
	evhttp_uri_free(uri);
	if (event_base_once(base, -1, EV_TIMEOUT, late_error_cb, c, &zero) != 0)
		late_error_cb(-1, 0, c);
	return 0;
}

void
outcall_free(void)
{
	if (dns)
		evdns_base_free(dns, 0);
	dns = NULL;
	dns_owner = NULL;
	if (tls_ctx)
		SSL_CTX_free(tls_ctx);
	tls_ctx = NULL;
	free(tls_ctx_error);
	tls_ctx_error = NULL;
}

typedef struct FetchResult
{
	struct event_base *base;
	int			status;
	char	   *body;
	char	   *error;
} FetchResult;

/* fetch_cb: keeps the answer of `ex7d fetch` for printing once the loop ends. */
static void
fetch_cb(const OutResponse *resp, void *arg)
{
	FetchResult *f = arg;

	f->status = resp->status;
	f->body = resp->error ? NULL : strdup(resp->body);
	f->error = resp->error ? strdup(resp->error) : NULL;
	/* the resolver may keep the loop alive: stop it once the call's cleanup has run */
	event_base_loopexit(f->base, &(struct timeval) {0, 10 * 1000});
}

int
outcall_main(int argc, char **argv)
{
	const char *method = NULL;
	const char *body = NULL;
	const char *url = NULL;
	const char *headers[33] = {0};
	int			nh = 0;
	long		timeout_ms = 10000;
	struct event_base *base;
	FetchResult f = {0};
	int			rc;

	for (int i = 2; i < argc; i++)
	{
		if (strcmp(argv[i], "-X") == 0 && i + 1 < argc)
			method = argv[++i];
		else if (strcmp(argv[i], "-H") == 0 && i + 1 < argc && nh < 32)
			headers[nh++] = argv[++i];
		else if (strcmp(argv[i], "-d") == 0 && i + 1 < argc)
			body = argv[++i];
		else if (strcmp(argv[i], "--timeout") == 0 && i + 1 < argc)
			timeout_ms = atol(argv[++i]);
		else if (url == NULL && argv[i][0] != '-')
			url = argv[i];
		else
			url = NULL, i = argc;
	}
	if (url == NULL || timeout_ms < 1 || timeout_ms > 600000)
	{
		fprintf(stderr, "usage: ex7d fetch [-X METHOD] [-H 'Name: value']... [-d BODY] [--timeout MS] URL\n");
		return 2;
	}
	base = event_base_new();
	f.base = base;
	if (outcall(base, method ? method : (body ? "POST" : "GET"), url, headers, body, body ? strlen(body) : 0,
				(int) timeout_ms, fetch_cb, &f) != 0)
	{
		fprintf(stderr, "ex7d fetch: bad URL or method\n");
		event_base_free(base);
		return 2;
	}
	event_base_dispatch(base);
	outcall_free();
	event_base_free(base);
	if (f.error)
	{
		fprintf(stderr, "ex7d fetch: %s\n", f.error);
		rc = 1;
	}
	else
	{
		printf("%d\n%s", f.status, f.body ? f.body : "");
		rc = 0;
	}
	free(f.body);
	free(f.error);
	return rc;
}
