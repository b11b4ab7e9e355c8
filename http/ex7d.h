/*
 * ex7d.h
 *	  The HTTP front of ex7: shared types. ex7d authenticates, validates the shape of a request, calls
 *	  exactly one SQL function of the extension and returns the JSON PostgreSQL built. Business rules
 *	  live in the extension; nothing here decides anything a psql user could bypass.
 */
#ifndef EX7D_H
#define EX7D_H

#include <stdbool.h>
#include <sys/time.h>

#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include "config.h"
#include "jwt.h"
#include "pool.h"
#include "listeners.h"

#define MAX_ROUTE_ARGS 12

typedef enum AuthLevel
{
	AUTH_PUBLIC,				/* no token needed (ex7-api-introduction.txt, "Public endpoints") */
	AUTH_USER,					/* any valid token */
	AUTH_SERVICE				/* role service_role only */
} AuthLevel;

typedef enum ArgKind
{
	ARG_USER,					/* the token's sub */
	ARG_PATH_UUID,				/* {name} in the path, must be a uuid (else 422 ["path", name]) */
	ARG_PATH_INT,
	ARG_PATH_TEXT,
	ARG_QUERY_TEXT,				/* ?name=..., NULL when absent */
	ARG_QUERY_INT,
	ARG_QUERY_UUID,
	ARG_QUERY_TS,				/* ISO-8601 date or date-time */
	ARG_HEADER_TEXT,			/* a request header, NULL when absent */
	ARG_BODY,					/* the whole JSON body (an object; {} when empty and not required) */
	ARG_BODY_TEXT,				/* body member: a string */
	ARG_BODY_NUMBER,			/* body member: a number or a numeric string, passed exactly */
	ARG_BODY_INT,				/* body member: an integer */
	ARG_RAW_BODY,				/* the body exactly as sent, any content type ("" when empty): signed
								 * webhooks verify these bytes, form logins parse them in the function */
	ARG_CLIENT_ADDR,			/* the client address (the trusted proxy's header, else the peer) */
	ARG_PUBLIC_URL				/* EX7_PUBLIC_URL, the API's public URL (NULL when unset): absolute
								 * links in a body, such as a hook's url (docs/webhooks.md) */
} ArgKind;

typedef struct Req Req;

typedef struct RouteArg
{
	ArgKind		kind;
	const char *name;
	const char *def;			/* default when absent (NULL: SQL NULL, so the function's rule applies) */
} RouteArg;

typedef struct Route
{
	enum evhttp_cmd_type method;
	const char *pattern;		/* "/api/strategies/{strategy_id}/versions/{version}" */
	AuthLevel	auth;
	int			ok_status;		/* 200, 201 or 204 */
	PoolStatement stmt;			/* the one SQL function call, exactly SELECT ex7.f(args) (no cast around
								 * it: Citus delegates only that form); returns jsonb (nothing for 204) */
	RouteArg	args[MAX_ROUTE_ARGS];
	/* what to answer when the database cannot be reached (NULL: 503 {"detail": ...}) */
	void		(*unavailable) (Req *r);
	bool		etag_header;	/* the 2xx body is a strategy: send its "etag" as the ETag header */
	/* a route that answers by itself once its arguments passed the checks (the signal stream, sse.c) */
	void		(*handler) (Req *r, char **values);
	/* the media type of a 2xx body that is not JSON (an SVG chart, an HTML page); NULL: JSON */
	const char *content_type;
	/*
	 * the operation needs a JSON body: an empty one is 422 ["body"] "field required" (FastAPI's answer
	 * for a missing required body) instead of {}. Set as a designated initializer after the positional
	 * fields, `.body_required = true` (docs/http.md, "Request bodies").
	 */
	bool		body_required;
} Route;

typedef struct Server
{
	Config		cfg;
	struct event_base *base;
	struct evhttp *http;
	Pool	   *pool;
	JwtKeys    *keys;
	Listeners  *listeners;		/* LISTEN connections on every node: signal events, tier changes */
	char	   *openapi;		/* http/openapi.json, served at /openapi.json (NULL: not found) */
	size_t		openapi_len;
	bool		stopping;
	int			inflight;
} Server;

#define MAX_SEGMENTS 12

/* The {name} captures of a matched route. */
typedef struct Match
{
	const char *name[MAX_SEGMENTS];
	const char *value[MAX_SEGMENTS];
	int			n;
} Match;

/* One request in flight. */
struct Req
{
	Server	   *srv;
	struct evhttp_request *req;
	const Route *route;
	char		request_id[65];
	char		method[8];
	char	   *path;
	JwtClaims	claims;
	bool		authed;
	int			retry_after;	/* seconds, for a 429 */
	int			rl_limit;		/* X-RateLimit-* values; rl_limit 0: not rate limited */
	int			rl_remaining;
	int			rl_reset;
	struct UserEntry *rl_entry;	/* the rate-limit subject while its lease is being taken */
	char	   *seg[MAX_SEGMENTS];	/* the decoded path segments the captures point into */
	Match		m;
	struct timeval start;
};

/* routes.c */
extern const Route routes[];
extern const int nroutes;

/* reply.c */
extern void reply_raw(Req *r, int status, const char *json, size_t len);
extern void reply_detail(Req *r, int status, const char *msg);
extern void reply_detail_json(Req *r, int status, const char *detail_json);
extern void reply_invalid(Req *r, const char *loc_json, const char *msg, const char *type);
extern void reply_pg_error(Req *r, const char *sqlstate, const char *message, const char *detail);
extern void req_free(Req *r);
extern void add_cors(Req *r);
extern void reply_stream_start(Req *r);

/* routes.c */
extern void health_unavailable(Req *r);
extern void risk_unavailable(Req *r);

/* router.c */
extern bool answered_failure(Req *r, PGresult *res);
/* answered_no_row: as answered_failure, and 500 when a successful statement gave no single value. */
extern bool answered_no_row(Req *r, PGresult *res);
extern void route_exec(Req *r, const PoolStatement *stmt, const char *const *values);
/* body_strict: true when raw is an RFC 8259 object fit for every field; else it has answered 400/422 */
extern bool body_strict(Req *r, const char *raw, size_t len);
extern const char *client_addr(Req *r, char *buf, size_t len);
extern void router_cb(struct evhttp_request *req, void *arg);
/* router_authed: runs r once it is authenticated (or public): rate limits, then the route */
extern void router_authed(Req *r);
extern void notify_cb(const char *channel, const char *payload, void *arg);
extern void listen_cb(void *arg);

#endif
