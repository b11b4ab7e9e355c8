/*
 * main.c
 *	  ex7d: serve the EX7 API (one libevent loop, a pool of asynchronous libpq connections), or mint a
 *	  development token (`ex7d token`). SIGTERM/SIGINT: stop accepting, let in-flight requests finish
 *	  (new requests on open connections get 503), then exit 0.
 */
#include "ex7d.h"
#include "conn.h"
#include "sse.h"
#include "import_bars.h"
#include "alerts.h"
#include "worker.h"
#include "outcall.h"
#include "billing.h"
#include "auth.h"
#include "log.h"
#include "metrics.h"
#include "openapi.h"
#include "static.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/http.h>
#include <json.h>

#define DRAIN_MAX_SECONDS 20	/* longer than the pool's default queue timeout (5 s) plus a query */

static struct evhttp_bound_socket *bound;
static Worker *worker;			/* the alerts worker when EX7_WORKER=1 (http/worker.c) */
static struct event *drain_timer;
static time_t drain_started;

/* drain_cb: timer during shutdown; ends the loop once no request is in flight (or the wait is over). */
static void
drain_cb(evutil_socket_t fd, short what, void *arg)
{
	Server	   *srv = arg;

	(void) fd;
	(void) what;
	if (srv->inflight == 0 || time(NULL) - drain_started >= DRAIN_MAX_SECONDS)
		event_base_loopexit(srv->base, NULL);
}

/* flush_cb: timer; writes the buffered access log lines (at most 250 ms late). */
static void
flush_cb(evutil_socket_t fd, short what, void *arg)
{
	(void) fd;
	(void) what;
	(void) arg;
	fflush(stdout);
}

/* signal_cb: SIGTERM or SIGINT; starts the graceful shutdown once. */
static void
signal_cb(evutil_socket_t sig, short what, void *arg)
{
	Server	   *srv = arg;
	struct timeval tick = {0, 50 * 1000};

	(void) what;
	if (srv->stopping)
		return;
	ex7_log(EX7_INFO, "shutdown", "signal %d: draining %d request(s)", (int) sig, srv->inflight);
	srv->stopping = true;
	worker_stop(worker);			/* no new claims; a send cut short is sent again after its lease */
	sse_shutdown();				/* end the signal streams: their clients reconnect elsewhere */
	conn_stop_accepting();		/* the listener goes with the bound socket */
	if (bound)
		evhttp_del_accept_socket(srv->http, bound);
	bound = NULL;
	drain_started = time(NULL);
	drain_timer = event_new(srv->base, -1, EV_PERSIST, drain_cb, srv);
	event_add(drain_timer, &tick);
}

/*
 * listener_notify: a notification on one of the LISTEN connections (any node: http/listeners.c): the
 * events of a user's log (signal_fired, signal_closed, and risk_event for risk_lock and trading_state)
 * and the service's trading state broadcast (trading_halt) go to the signal streams (sse.c), the rest to
 * the router. The same notification may come from two connections (a node reached under two names);
 * every consumer is idempotent: the streams drop an event id at or below a subscriber's cursor and a
 * broadcast they have just sent, and a user-changed notice drops a cache.
 */
static void
listener_notify(const char *channel, const char *payload, void *arg)
{
	if (strcmp(channel, "signal_fired") == 0 || strcmp(channel, "signal_closed") == 0 ||
		strcmp(channel, "risk_event") == 0)
		sse_notify(channel, payload);
	else if (strcmp(channel, "trading_halt") == 0)
		sse_broadcast(payload);
	else
		notify_cb(channel, payload, arg);
}

/* listener_ready: a LISTEN connection (re)connected: what went by while it was down is resent. */
static void
listener_ready(void *arg)
{
	listen_cb(arg);
	sse_resync();
}

/*
 * load_openapi: returns nothing; reads openapi.json from the binary's folder (http/), or else from
 * EX7_SHAREDIR when the build defines it, into srv.
 */
static void
load_openapi(Server *srv)
{
	char		path[4096];
	ssize_t		n = readlink("/proc/self/exe", path, sizeof(path) - 32);
	char	   *slash;
	FILE	   *f;
	long		len;

	if (n <= 0)
		return;
	path[n] = '\0';
	if ((slash = strrchr(path, '/')) == NULL)
		return;
	strcpy(slash + 1, "openapi.json");
	f = fopen(path, "rb");
#ifdef EX7_SHAREDIR
	/* the Debian package keeps it in /usr/share/ex7 (debian/rules, docs/packaging.md) */
	if (f == NULL)
		f = fopen(EX7_SHAREDIR "/openapi.json", "rb");
#endif
	if (f == NULL)
		return;
	if (fseek(f, 0, SEEK_END) == 0 && (len = ftell(f)) > 0 && fseek(f, 0, SEEK_SET) == 0)
	{
		srv->openapi = malloc((size_t) len);
		if (fread(srv->openapi, 1, (size_t) len, f) == (size_t) len)
			srv->openapi_len = (size_t) len;
		else
		{
			free(srv->openapi);
			srv->openapi = NULL;
		}
	}
	fclose(f);
}

/* token_main: `ex7d token ...`; returns the exit status. */
static int
token_main(int argc, char **argv)
{
	const char *secret = getenv("EX7_JWT_SECRET");
	const char *aud = getenv("EX7_JWT_AUD");
	const char *iss = getenv("EX7_JWT_ISS");
	const char *sub = NULL;
	const char *role = "authenticated";
	const char *email = NULL;
	long		ttl = 3600;
	json_object *c;
	char	   *tok;
	time_t		now = time(NULL);

	for (int i = 2; i < argc; i++)
	{
		if (strcmp(argv[i], "--sub") == 0 && i + 1 < argc)
			sub = argv[++i];
		else if (strcmp(argv[i], "--role") == 0 && i + 1 < argc)
			role = argv[++i];
		else if (strcmp(argv[i], "--email") == 0 && i + 1 < argc)
			email = argv[++i];
		else if (strcmp(argv[i], "--ttl") == 0 && i + 1 < argc)
			ttl = atol(argv[++i]);
		else
		{
			fprintf(stderr, "%s", config_usage());
			return 2;
		}
	}
	if (secret == NULL || strlen(secret) < 32)
	{
		fprintf(stderr, "ex7d token: EX7_JWT_SECRET (at least 32 bytes) must be set: tokens are signed with it\n");
		return 2;
	}
	if (sub == NULL || strlen(sub) != 36)
	{
		fprintf(stderr, "ex7d token: --sub UUID is required\n");
		return 2;
	}
	if (strcmp(role, "authenticated") != 0 && strcmp(role, "service_role") != 0 && strcmp(role, "anon") != 0)
	{
		fprintf(stderr, "ex7d token: --role must be authenticated, service_role or anon\n");
		return 2;
	}
	if (ttl < 1 || ttl > 30L * 86400)
	{
		fprintf(stderr, "ex7d token: --ttl must be 1..2592000 seconds\n");
		return 2;
	}
	/* Supabase-shaped claims (facts.md, "JWT") */
	c = json_object_new_object();
	if (iss && *iss)
		json_object_object_add(c, "iss", json_object_new_string(iss));
	json_object_object_add(c, "aud", json_object_new_string(aud && *aud ? aud : "authenticated"));
	json_object_object_add(c, "exp", json_object_new_int64((int64_t) (now + ttl)));
	json_object_object_add(c, "iat", json_object_new_int64((int64_t) now));
	json_object_object_add(c, "sub", json_object_new_string(sub));
	json_object_object_add(c, "role", json_object_new_string(role));
	json_object_object_add(c, "aal", json_object_new_string("aal1"));
	json_object_object_add(c, "email", json_object_new_string(email ? email : ""));
	json_object_object_add(c, "phone", json_object_new_string(""));
	json_object_object_add(c, "is_anonymous", json_object_new_boolean(strcmp(role, "anon") == 0));
	tok = jwt_mint_hs256(secret, json_object_to_json_string_ext(c, JSON_C_TO_STRING_PLAIN));
	printf("%s\n", tok);
	free(tok);
	json_object_put(c);
	return 0;
}

int
main(int argc, char **argv)
{
	Server		srv = {0};
	char		err[4096];
	struct event *sigterm = NULL;
	struct event *sigint = NULL;
	struct event *flush = NULL;
	struct timeval flush_every = {0, 250 * 1000};
	int			rc = 1;

	if (argc > 1 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0))
	{
		printf("%s", config_usage());
		return 0;
	}
	if (argc > 1 && strcmp(argv[1], "--version") == 0)
	{
		/* ex7.control's default_version, passed in by the Makefile: the package's version too */
		printf("ex7d %s\n", EX7_VERSION);
		return 0;
	}
	if (argc > 1 && strcmp(argv[1], "token") == 0)
		return token_main(argc, argv);
	if (argc > 1 && strcmp(argv[1], "rekey") == 0)
		return keys_rekey_main(argc, argv);	/* exchange keys to the current master key: keys.c */
	if (argc > 1 && strcmp(argv[1], "import-bars") == 0)
		return import_bars_main(argc, argv);
	if (argc > 1 && strcmp(argv[1], "worker") == 0)
		return worker_main(argc, argv);	/* the alerts worker alone: http/worker.c */
	if (argc > 1 && strcmp(argv[1], "fetch") == 0)
		return outcall_main(argc, argv);	/* one outbound request: http/outcall.c */
	if (argc > 1)
	{
		fprintf(stderr, "%s", config_usage());
		return 2;
	}
	if (config_load(&srv.cfg, err, sizeof(err)) != 0 || account_init(&srv.cfg, err, sizeof(err)) != 0 ||
		metrics_config(err, sizeof(err)) != 0 || conn_limits(&srv, err, sizeof(err)) != 0)
	{
		ex7_log(EX7_ERROR, "start_failed", "ex7d: cannot start: %s", err);
		config_free(&srv.cfg);
		return 2;
	}
	srv.keys = jwt_keys_load(srv.cfg.jwt_secret, srv.cfg.jwks_file, err, sizeof(err));
	if (srv.keys == NULL)
	{
		ex7_log(EX7_ERROR, "start_failed", "ex7d: cannot start: %s", err);
		config_free(&srv.cfg);
		return 2;
	}
	if (web_load(err, sizeof(err)) != 0)
	{
		/* the console's files, read into memory now (http/static.c, docs/console.md) */
		ex7_log(EX7_ERROR, "start_failed", "ex7d: cannot start: %s", err);
		jwt_keys_free(srv.keys);
		config_free(&srv.cfg);
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	load_openapi(&srv);
	openapi_prepare(&srv);		/* its ETag and gzip copy (http/openapi.c) */
	alerts_init();				/* provider webhook secrets: http/alerts.c, docs/alerts.md */
	billing_init();				/* STRIPE_* settings: http/billing.c, docs/billing.md */

	{
		/*
		 * The epoll changelist folds the enable/disable pairs libevent's HTTP code makes on a connection
		 * within one loop turn into one epoll_ctl, or none (strace: 8 epoll_ctl a request without it).
		 */
		struct event_config *ecfg = event_config_new();

		event_config_set_flag(ecfg, EVENT_BASE_FLAG_EPOLL_USE_CHANGELIST);
		srv.base = event_base_new_with_config(ecfg);
		event_config_free(ecfg);
	}
	srv.http = evhttp_new(srv.base);
	if (srv.base == NULL || srv.http == NULL)
		goto err;
	/*
	 * Bodies up to twice the limit are read and refused by the router with a JSON 413; a Content-Length
	 * over that is refused with a JSON 413 by the connection guard before any of the body is read (conn.c),
	 * and libevent's own check stays behind it, so no client can make us buffer more.
	 */
	evhttp_set_max_body_size(srv.http, (ev_ssize_t) srv.cfg.body_limit * 2);
	evhttp_set_max_headers_size(srv.http, 64 * 1024);
	evhttp_set_timeout(srv.http, 60);
	evhttp_set_allowed_methods(srv.http, EVHTTP_REQ_GET | EVHTTP_REQ_POST | EVHTTP_REQ_PUT | EVHTTP_REQ_PATCH |
							   EVHTTP_REQ_DELETE | EVHTTP_REQ_OPTIONS | EVHTTP_REQ_HEAD);
	evhttp_set_gencb(srv.http, router_cb, &srv);
	bound = evhttp_bind_socket_with_handle(srv.http, srv.cfg.listen_host, (ev_uint16_t) srv.cfg.listen_port);
	if (bound == NULL)
	{
		ex7_log(EX7_ERROR, "start_failed", "ex7d: cannot listen on %s:%d", srv.cfg.listen_host, srv.cfg.listen_port);
		goto err;
	}
	/* the connection cap, the accept() back-off, the framing rules and the head deadline: conn.c */
	if (conn_start(&srv, evhttp_bound_socket_get_listener(bound)) != 0)
		goto err;
	{
		/*
		 * A reply goes out in more than one write when it is large (a page of signals); with Nagle's
		 * algorithm the second write waits for the client's delayed ACK, 40 ms a response. Linux copies
		 * TCP_NODELAY from the listening socket to every accepted one: one call instead of one a request.
		 */
		int			one = 1;

		setsockopt(evhttp_bound_socket_get_fd(bound), IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	}
	pool_set_timeouts(srv.cfg.statement_timeout_ms, srv.cfg.connect_timeout_ms);
	srv.pool = pool_new(srv.base, srv.cfg.database_url, srv.cfg.pool_size, 4096, srv.cfg.queue_timeout_ms);
	sse_init(&srv);
	if (worker_enabled())
		worker = worker_start(srv.base, srv.pool, srv.cfg.database_url);
	srv.listeners = listeners_new(srv.base, srv.pool, srv.cfg.database_url,
								  "LISTEN ex7_user_changed; LISTEN signal_fired; LISTEN signal_closed; "
								  "LISTEN risk_event; LISTEN trading_halt",
								  listener_notify, listener_ready, &srv, "stream");
	if (metrics_start(&srv) != 0)
		goto err;				/* EX7_METRICS_LISTEN cannot be bound (logged) */
	sigterm = evsignal_new(srv.base, SIGTERM, signal_cb, &srv);
	sigint = evsignal_new(srv.base, SIGINT, signal_cb, &srv);
	event_add(sigterm, NULL);
	event_add(sigint, NULL);
	setvbuf(stdout, NULL, _IOFBF, 1 << 16);
	flush = event_new(srv.base, -1, EV_PERSIST, flush_cb, NULL);
	event_add(flush, &flush_every);
	ex7_log(EX7_INFO, "listening", "ex7d %s listening on %s:%d (at most %d connections)", EX7_VERSION,
			srv.cfg.listen_host, srv.cfg.listen_port, conn_cap());

	event_base_dispatch(srv.base);
	rc = 0;

err:
	if (drain_timer)
		event_free(drain_timer);
	if (flush)
		event_free(flush);
	if (sigterm)
		event_free(sigterm);
	if (sigint)
		event_free(sigint);
	worker_free(worker);
	if (srv.pool)
		pool_free(srv.pool);
	sse_free();
	listeners_free(srv.listeners);	/* after the pool: its discovery, if in flight, was answered */
	conn_stop_accepting();		/* evhttp_free frees the listener (a start that failed half way) */
	if (srv.http)
		evhttp_free(srv.http);
	conn_free();				/* after evhttp_free: it closes the connections the guard counts */
	metrics_free();				/* after the pools: their last callbacks answer requests (and count them) */
	billing_free();
	outcall_free();				/* before the event base its resolver lives on */
	if (srv.base)
		event_base_free(srv.base);
	alerts_free();
	jwt_keys_free(srv.keys);
	account_free();
	config_free(&srv.cfg);
	free(srv.openapi);
	web_free();
	fflush(stdout);
	return rc;
}
