/*
 * router.c
 *	  From an HTTP request to one SQL call: match the route, authenticate, check the shape of every
 *	  argument the route declares (uuids, integers, timestamps, the JSON body), queue the statement on
 *	  the pool, and hand the JSON text PostgreSQL built to the client unchanged.
 */
#include "ex7d.h"

#include <ctype.h>
#include <errno.h>
#include <stdint.h>
#include <unistd.h>
#include <sys/queue.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <json.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include "json_strict.h"
#include "metrics.h"
#include "openapi.h"
#include "static.h"
#include "sse.h"
#include "users.h"
#include "util.h"

/* ex7.ensure_user: the first request of a subject in this process creates the user row and reads the
 * caps of its tier */
static const PoolStatement ensure_user_stmt = {"ensure_user", "SELECT ex7.ensure_user($1::uuid, $2)", 2};


/*
 * split_path: returns the number of '/'-separated, percent-decoded segments of path; -1 when the path
 * names no route: it does not start with '/', has an empty segment ("//") or a trailing slash (so
 * "/api/alerts/price/logs/" can never reach the collection route of "/api/alerts/price/logs", nor an
 * item route with an empty id), has more than max segments or a malformed escape; -2 when a segment
 * decodes to a NUL byte ("%00": C strings would cut the segment short there, so "<id>%00junk" would act on
 * <id>). "/" alone has no segment.
 */
static int
split_path(const char *path, char **seg, int max)
{
	int			n = 0;
	const char *p = path;

	if (*p != '/')
		return -1;
	if (p[1] == '\0')
		return 0;
	while (*p)
	{
		const char *start = ++p;
		size_t		len = strcspn(start, "/");
		size_t		decoded = 0;
		char	   *raw;

		if (len == 0 || n == max)
			return -1;			/* an empty segment, a trailing slash, too many segments */
		raw = strndup(start, len);
		seg[n] = evhttp_uridecode(raw, 0, &decoded);
		free(raw);
		if (seg[n] == NULL)
			return -1;
		if (strlen(seg[n]) != decoded)
			return -2;
		n++;
		p = start + len;
	}
	return n;
}

/*
 * capture_kind: returns the kind of the route argument the capture {name...} of rt's pattern fills
 * (ARG_PATH_UUID, ARG_PATH_INT), or ARG_PATH_TEXT when it is not typed. name points at the capture's name
 * in the pattern, ended by '}'.
 */
static ArgKind
capture_kind(const Route *rt, const char *name)
{
	size_t		len = strcspn(name, "}");

	for (int i = 0; i < MAX_ROUTE_ARGS && i < rt->stmt.nparams; i++)
	{
		const RouteArg *a = &rt->args[i];

		if ((a->kind == ARG_PATH_UUID || a->kind == ARG_PATH_INT) && a->name && strlen(a->name) == len &&
			strncmp(a->name, name, len) == 0)
			return a->kind;
	}
	return ARG_PATH_TEXT;
}

/*
 * route_match: returns true when rt's pattern matches the path segments, filling m with the captures.
 * typed: a capture declared a uuid or an integer matches only a segment of that shape, so a word ("import",
 * "validate", "logs") never lands on an item route beside a literal one (docs/http.md, "Paths"); untyped,
 * it matches any segment (router_cb's second look, for the 422 of a malformed id).
 */
static bool
route_match(const Route *rt, char **seg, int nseg, bool typed, Match *m)
{
	const char *pattern = rt->pattern;
	char		pat[256];
	char	   *save = NULL;
	char	   *tok;
	int			i = 0;

	m->n = 0;
	snprintf(pat, sizeof(pat), "%s", pattern);
	for (tok = strtok_r(pat, "/", &save); tok; tok = strtok_r(NULL, "/", &save), i++)
	{
		if (i >= nseg)
			return false;
		if (tok[0] == '{')
		{
			/* names point into the static pattern: find the same token there */
			const char *at = strstr(pattern, tok);

			if (typed)
			{
				ArgKind		kind = capture_kind(rt, at + 1);

				if ((kind == ARG_PATH_UUID && !is_uuid_text(seg[i])) ||
					(kind == ARG_PATH_INT && !is_int_text(seg[i])))
					return false;
			}
			m->name[m->n] = at + 1;
			m->value[m->n] = seg[i];
			m->n++;
		}
		else if (strcmp(tok, seg[i]) != 0)
			return false;
	}
	return i == nseg;
}

/* capture: returns the value captured for {name}, or NULL. */
static const char *
capture(const Match *m, const char *name)
{
	size_t		len = strlen(name);

	for (int i = 0; i < m->n; i++)
		if (strncmp(m->name[i], name, len) == 0 && m->name[i][len] == '}')
			return m->value[i];
	return NULL;
}

/* loc: returns a static JSON locator ["where","name"]. */
static const char *
loc(const char *where, const char *name)
{
	static char buf[160];

	snprintf(buf, sizeof(buf), "[\"%s\", \"%s\"]", where, name);
	return buf;
}

/* unavailable: returns nothing; answers a request whose statement could not reach the database. */
static void
unavailable(Req *r)
{
	if (r->route && r->route->unavailable)
		r->route->unavailable(r);
	else
		reply_detail(r, 503, "database unavailable, retry shortly");
}

/*
 * answered_failure: returns true after answering r when res is not a successful result: 503 (or the
 * route's own fallback) when the statement never reached the database, the SQLSTATE's status otherwise.
 */
bool
answered_failure(Req *r, PGresult *res)
{
	if (res == NULL)
	{
		unavailable(r);
		return true;
	}
	if (PQresultStatus(res) != PGRES_TUPLES_OK)
	{
		reply_pg_error(r, PQresultErrorField(res, PG_DIAG_SQLSTATE),
					   PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY),
					   PQresultErrorField(res, PG_DIAG_MESSAGE_DETAIL));
		return true;
	}
	return false;
}

/*
 * answered_no_row: returns true after answering r when res is not exactly one non-null value: as
 * answered_failure, and 500 for a successful statement without one (a function that returned NULL).
 */
bool
answered_no_row(Req *r, PGresult *res)
{
	if (answered_failure(r, res))
		return true;
	if (PQntuples(res) != 1 || PQgetisnull(res, 0, 0))
	{
		reply_detail(r, 500, "internal server error");
		return true;
	}
	return false;
}

/* pg_cb: the pool's answer: pass the function's JSON through, or map the error. */
static void
pg_cb(PGresult *res, const char *conn_error, void *arg)
{
	Req		   *r = arg;

	(void) conn_error;
	if (answered_failure(r, res))
		return;
	if (r->route->ok_status == 204)
		reply_raw(r, 204, NULL, 0);
	else if (PQntuples(res) == 1 && !PQgetisnull(res, 0, 0))
		reply_raw(r, r->route->ok_status, PQgetvalue(res, 0, 0), (size_t) PQgetlength(res, 0, 0));
	else
		reply_raw(r, r->route->ok_status, "null", 4);
}

/*
 * next_id: returns 64 fresh bits for request ids: splitmix64 over a counter seeded once from
 * /dev/urandom. Ids only need to be unique and unguessable enough to correlate logs; reading the kernel's
 * generator per request cost a tenth of a request (bench/bench_http.sh, perf).
 */
static uint64_t
next_id(void)
{
	static uint64_t state;
	static bool seeded;
	uint64_t	z;

	if (!seeded)
	{
		FILE	   *f = fopen("/dev/urandom", "rb");

		if (f == NULL || fread(&state, 1, sizeof(state), f) != sizeof(state))
			state = (uint64_t) time(NULL) ^ ((uint64_t) getpid() << 32);
		if (f)
			fclose(f);
		seeded = true;
	}
	z = (state += 0x9e3779b97f4a7c15ULL);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

/* set_request_id: returns nothing; echoes a sane X-Request-Id or makes one. */
static void
set_request_id(Req *r)
{
	const char *given = evhttp_find_header(evhttp_request_get_input_headers(r->req), "X-Request-Id");
	bool		ok = given && *given && strlen(given) <= 64;

	for (const char *p = given; ok && *p; p++)
		if (!isalnum((unsigned char) *p) && *p != '-' && *p != '_' && *p != '.')
			ok = false;
	if (ok)
		snprintf(r->request_id, sizeof(r->request_id), "%s", given);
	else
		snprintf(r->request_id, sizeof(r->request_id), "%016llx%016llx", (unsigned long long) next_id(),
				 (unsigned long long) next_id());
}

static const char *
method_name(enum evhttp_cmd_type m)
{
	switch (m)
	{
		case EVHTTP_REQ_GET: return "GET";
		case EVHTTP_REQ_POST: return "POST";
		case EVHTTP_REQ_PUT: return "PUT";
		case EVHTTP_REQ_PATCH: return "PATCH";
		case EVHTTP_REQ_DELETE: return "DELETE";
		case EVHTTP_REQ_OPTIONS: return "OPTIONS";
		case EVHTTP_REQ_HEAD: return "HEAD";
		default: return "OTHER";
	}
}

/* authenticate: returns true when the route may run for this request; otherwise it has replied. */
static bool
authenticate(Req *r)
{
	const char *h = evhttp_find_header(evhttp_request_get_input_headers(r->req), "Authorization");
	const char *why = NULL;

	if (r->route->auth == AUTH_PUBLIC)
		return true;
	if (h == NULL || strncasecmp(h, "Bearer ", 7) != 0 || h[7] == '\0')
	{
		evhttp_add_header(evhttp_request_get_output_headers(r->req), "WWW-Authenticate", "Bearer");
		reply_detail(r, 401, "Not authenticated");
		return false;
	}
	if (jwt_verify(r->srv->keys, h + 7, r->srv->cfg.jwt_aud, r->srv->cfg.jwt_iss, time(NULL), &r->claims,
				   &why) != 0)
	{
		char		msg[128];

		snprintf(msg, sizeof(msg), "Invalid token: %s", why);
		evhttp_add_header(evhttp_request_get_output_headers(r->req), "WWW-Authenticate",
						  "Bearer error=\"invalid_token\"");
		reply_detail(r, 401, msg);
		return false;
	}
	/* an anon token never gets here: jwt.c refuses it (public routes read no token at all) */
	r->authed = true;
	if (r->route->auth == AUTH_SERVICE && strcmp(r->claims.role, "service_role") != 0)
	{
		reply_detail(r, 403, "Forbidden: service_role only");
		return false;
	}
	return true;
}

/*
 * reply_string_error: returns nothing; answers 422 for a body whose grammar is valid but whose string at
 * err's locator no field of the API may hold (json_strict.c: not UTF-8, a lone surrogate, \u0000). The
 * locator holds member names as the client wrote them, so it is built here, unbounded, rather than in
 * reply_invalid's fixed buffer.
 */
static void
reply_string_error(Req *r, const JsonStrictError *err, const char *raw)
{
	size_t		loclen = json_strict_loc(err, raw, NULL, 0);
	char	   *locbuf = malloc(loclen + 1);
	char		msg[160];
	const char *type = err->kind == JSON_STRICT_STRING_NUL ? "value_error.str.nul"
		: err->kind == JSON_STRICT_STRING_SURROGATE ? "value_error.str.surrogate" : "value_error.str.utf8";
	json_object *m;
	char	   *detail;
	size_t		len;

	json_strict_loc(err, raw, locbuf, loclen + 1);
	snprintf(msg, sizeof(msg), "%s%s at byte %zu", json_strict_reason(err->kind),
			 err->in_name ? " (a member name)" : "", err->offset);
	m = json_object_new_string(msg);
	len = loclen + strlen(type) + 256 + strlen(msg) * 6;
	detail = malloc(len);
	snprintf(detail, len, "[{\"loc\": %s, \"msg\": %s, \"type\": \"%s\"}]", locbuf,
			 json_object_to_json_string_ext(m, JSON_C_TO_STRING_PLAIN), type);
	reply_detail_json(r, 422, detail);
	json_object_put(m);
	free(detail);
	free(locbuf);
}

/*
 * body_strict: returns true when the len bytes at raw are an RFC 8259 object fit for every field (the
 * checks of json_strict.c), otherwise false after answering: malformed JSON is 400 with the reason and
 * byte offset; a string no field may hold is 422 at its locator; nesting over JSON_STRICT_MAX_DEPTH, and
 * valid JSON that is not an object, are 422 ["body"] (docs/http.md, "Request bodies"). Also the check of
 * the routes that read their raw body as JSON themselves (the login's JSON form, http/auth.c).
 */
bool
body_strict(Req *r, const char *raw, size_t len)
{
	JsonStrictError err;
	JsonStrictKind k = json_strict_check(raw, len, &err);
	char		msg[192];

	if (json_strict_malformed(k))
	{
		unsigned char c = err.offset < len ? (unsigned char) raw[err.offset] : 0;

		if (k == JSON_STRICT_UNEXPECTED && c > 0x20 && c < 0x7f)
			snprintf(msg, sizeof(msg), "request body is not valid JSON: unexpected character '%c' at byte %zu", c,
					 err.offset);
		else if (k == JSON_STRICT_UNEXPECTED)
			snprintf(msg, sizeof(msg), "request body is not valid JSON: unexpected byte 0x%02x at byte %zu", c,
					 err.offset);
		else
			snprintf(msg, sizeof(msg), "request body is not valid JSON: %s at byte %zu", json_strict_reason(k),
					 err.offset);
		reply_detail(r, 400, msg);
		return false;
	}
	if (k == JSON_STRICT_TOO_DEEP)
	{
		snprintf(msg, sizeof(msg), "request body has %s (at byte %zu)", json_strict_reason(k), err.offset);
		reply_invalid(r, "[\"body\"]", msg, "value_error.jsondepth");
		return false;
	}
	if (k != JSON_STRICT_OK)
	{
		reply_string_error(r, &err, raw);
		return false;
	}
	if (err.top != JSON_STRICT_T_OBJECT)
	{
		reply_invalid(r, "[\"body\"]", "request body must be a JSON object", "type_error.dict");
		return false;
	}
	return true;
}

/*
 * body_json: returns the parsed request body (an object), {} when empty on a route that does not require
 * a body, or NULL after replying (body_strict; 422 ["body"] "field required" for an empty body the route
 * requires).
 */
static json_object *
body_json(Req *r, char **text)
{
	struct evbuffer *in = evhttp_request_get_input_buffer(r->req);
	size_t		len = evbuffer_get_length(in);
	json_tokener *tok;
	json_object *o;
	char	   *raw;

	if (len == 0)
	{
		if (r->route->body_required)
		{
			reply_invalid(r, "[\"body\"]", "field required", "value_error.missing");
			return NULL;
		}
		*text = strdup("{}");
		return json_object_new_object();
	}
	raw = malloc(len + 1);
	evbuffer_copyout(in, raw, len);
	raw[len] = '\0';
	if (!body_strict(r, raw, len))
	{
		free(raw);
		return NULL;
	}
	/* json-c sees only what body_strict accepted, with room for as much nesting */
	tok = json_tokener_new_ex(JSON_STRICT_JSONC_DEPTH);
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
	o = json_tokener_parse_ex(tok, raw, (int) len);
	if (o == NULL || json_tokener_get_error(tok) != json_tokener_success ||
		json_tokener_get_parse_end(tok) != len || !json_object_is_type(o, json_type_object))
	{
		/* cannot happen for a text body_strict accepted (test/checks/json_strict.sh); refuse it anyway */
		json_object_put(o);
		json_tokener_free(tok);
		free(raw);
		reply_detail(r, 400, "request body is not valid JSON");
		return NULL;
	}
	json_tokener_free(tok);
	*text = raw;
	return o;
}

/*
 * build_args: returns true with values[] filled (malloc'd strings or NULL) from the route's argument
 * list; false after replying 422 with the failing locator.
 */
static bool
build_args(Req *r, const Match *m, char **values)
{
	const Route *rt = r->route;
	struct evkeyvalq query;
	const char *uri_query = evhttp_uri_get_query(evhttp_request_get_evhttp_uri(r->req));
	json_object *body = NULL;
	char	   *body_text = NULL;
	char	   *raw_body = NULL;
	char		addr[64];
	bool		ok = true;

	TAILQ_INIT(&query);
	if (uri_query && evhttp_parse_query_str(uri_query, &query) != 0)
	{
		reply_invalid(r, "[\"query\"]", "malformed query string", "value_error");
		return false;
	}
	for (int i = 0; ok && i < rt->stmt.nparams; i++)
	{
		const RouteArg *a = &rt->args[i];
		const char *v = NULL;

		switch (a->kind)
		{
			case ARG_USER:
				v = r->claims.sub;
				break;
			case ARG_PATH_UUID:
			case ARG_PATH_INT:
			case ARG_PATH_TEXT:
				v = capture(m, a->name);
				if (a->kind == ARG_PATH_UUID && (v == NULL || !is_uuid_text(v)))
				{
					reply_invalid(r, loc("path", a->name), "value is not a valid uuid", "type_error.uuid");
					ok = false;
				}
				else if (a->kind == ARG_PATH_INT && (v == NULL || !is_int_text(v)))
				{
					reply_invalid(r, loc("path", a->name), "value is not a valid integer", "type_error.integer");
					ok = false;
				}
				break;
			case ARG_QUERY_TEXT:
			case ARG_QUERY_INT:
			case ARG_QUERY_UUID:
			case ARG_QUERY_TS:
				v = evhttp_find_header(&query, a->name);
				if (v == NULL)
					v = a->def;
				else if (a->kind == ARG_QUERY_INT && !is_int_text(v))
				{
					reply_invalid(r, loc("query", a->name), "value is not a valid integer", "type_error.integer");
					ok = false;
				}
				else if (a->kind == ARG_QUERY_UUID && !is_uuid_text(v))
				{
					reply_invalid(r, loc("query", a->name), "value is not a valid uuid", "type_error.uuid");
					ok = false;
				}
				else if (a->kind == ARG_QUERY_TS && !is_iso8601(v))
				{
					reply_invalid(r, loc("query", a->name), "value is not a valid ISO-8601 datetime",
								  "type_error.datetime");
					ok = false;
				}
				break;
			case ARG_HEADER_TEXT:
				v = evhttp_find_header(evhttp_request_get_input_headers(r->req), a->name);
				if (v == NULL)
					v = a->def;
				break;
			case ARG_CLIENT_ADDR:
				v = client_addr(r, addr, sizeof(addr));
				break;
			case ARG_PUBLIC_URL:
				v = getenv("EX7_PUBLIC_URL");
				if (v != NULL && *v == '\0')
					v = NULL;
				break;
			case ARG_RAW_BODY:
				{
					struct evbuffer *in = evhttp_request_get_input_buffer(r->req);
					size_t		len = evbuffer_get_length(in);

					free(raw_body);
					raw_body = malloc(len + 1);
					evbuffer_copyout(in, raw_body, len);
					raw_body[len] = '\0';
					if (strlen(raw_body) != len)
					{
						reply_detail(r, 400, "request body contains a NUL byte");
						ok = false;
					}
					v = raw_body;
				}
				break;
			case ARG_BODY:
			case ARG_BODY_TEXT:
			case ARG_BODY_NUMBER:
			case ARG_BODY_INT:
				if (body == NULL && (body = body_json(r, &body_text)) == NULL)
				{
					ok = false;
					break;
				}
				if (a->kind == ARG_BODY)
					v = body_text;
				else
				{
					json_object *f = NULL;

					if (!json_object_object_get_ex(body, a->name, &f) || f == NULL)
						v = a->def;
					else if (a->kind == ARG_BODY_TEXT && json_object_is_type(f, json_type_string))
						v = json_object_get_string(f);
					else if (a->kind == ARG_BODY_INT && json_object_is_type(f, json_type_int))
						v = json_object_to_json_string_ext(f, JSON_C_TO_STRING_PLAIN);
					else if (a->kind == ARG_BODY_NUMBER &&
							 (json_object_is_type(f, json_type_int) || json_object_is_type(f, json_type_double)))
						v = json_object_to_json_string_ext(f, JSON_C_TO_STRING_PLAIN);
					else if (a->kind == ARG_BODY_NUMBER && json_object_is_type(f, json_type_string) &&
							 is_numeric_text(json_object_get_string(f)))
						v = json_object_get_string(f);
					else
					{
						reply_invalid(r, loc("body", a->name),
									  a->kind == ARG_BODY_TEXT ? "value is not a valid string"
									  : a->kind == ARG_BODY_INT ? "value is not a valid integer"
									  : "value is not a valid decimal",
									  a->kind == ARG_BODY_TEXT ? "type_error.str"
									  : a->kind == ARG_BODY_INT ? "type_error.integer" : "type_error.decimal");
						ok = false;
					}
					if (ok && a->kind == ARG_BODY_INT && v && !is_int_text(v))
					{
						reply_invalid(r, loc("body", a->name), "value is not a valid integer", "type_error.integer");
						ok = false;
					}
				}
				break;
		}
		values[i] = (ok && v) ? strdup(v) : NULL;
	}
	evhttp_clear_headers(&query);
	json_object_put(body);
	free(body_text);
	free(raw_body);
	return ok;
}

/*
 * route_exec: returns nothing; queues stmt with values and answers r with its result the way every
 * route does (the JSON through, the SQLSTATE mapped). Handlers call it once their own checks passed.
 */
void
route_exec(Req *r, const PoolStatement *stmt, const char *const *values)
{
	int			rc = pool_exec(r->srv->pool, stmt, values, pg_cb, r);

	if (rc == -2)
		unavailable(r);
	else if (rc != 0)
		reply_detail(r, 503, "server busy, retry shortly");
}

/* run_route: returns nothing; checks the arguments and queues the route's one SQL call. */
static void
run_route(Req *r)
{
	char	   *values[MAX_ROUTE_ARGS] = {0};

	if (!build_args(r, &r->m, values))
		;						/* it answered 422 */
	else if (r->route->handler)
		r->route->handler(r, values);	/* the signal stream (sse.c), signed webhooks, ... */
	else
		route_exec(r, &r->route->stmt, (const char *const *) values);
	for (int i = 0; i < MAX_ROUTE_ARGS; i++)
		free(values[i]);
}

/* set_rate_headers: returns nothing; fills the X-RateLimit-* values of r from e. */
static void
set_rate_headers(Req *r, const UserEntry *e, time_t now)
{
	users_window(e, now, &r->rl_limit, &r->rl_remaining, &r->rl_reset);
}

/* the shared counter (ext/sql/07_rate.sql): subject, caps, want, give-back */
static const PoolStatement rate_take_stmt = {
	"rate_take", "SELECT ex7.rate_take($1, $2::int, $3::int, $4::int, $5::int)", 5
};

/* rate_cb: ex7.rate_take answered: serve the request from the new lease, or refuse it with 429. */
static void
rate_cb(PGresult *res, const char *conn_error, void *arg)
{
	Req		   *r = arg;
	UserEntry  *e = r->rl_entry;
	time_t		now = time(NULL);
	int			retry;

	(void) conn_error;
	e->pending--;
	if (answered_failure(r, res))
		return;
	retry = users_leased(e, PQgetvalue(res, 0, 0), now);
	set_rate_headers(r, e, now);
	if (retry > 0)
	{
		metrics_rate_refused(r->authed);
		r->retry_after = retry;
		r->rl_reset = retry;
		reply_detail(r, 429, r->authed
					 ? "Too Many Requests: rate limit of your tier reached, retry after Retry-After seconds"
					 : "Too Many Requests: rate limit of this client address reached, retry after Retry-After seconds");
		return;
	}
	run_route(r);
}

/*
 * admit: returns nothing; applies the rate limits of subject e (429 with Retry-After) then runs the
 * route. The counts are shared by every front on the database (ex7.rate_take): a request is served
 * from this front's lease when it has one, else the front takes a new lease first (users.c).
 */
static void
admit(Req *r, UserEntry *e)
{
	time_t		now = time(NULL);
	char		pm[16],
				pd[16],
				want[16],
				back[16];
	const char *v[5] = {e->key, pm, pd, want, back};
	int			give_back;
	int			rc;

	/*
	 * service_role tokens are the platform's own services (a market-data feed posting bars, a worker):
	 * the tiers' caps are per trader (ex7-api-introduction.txt, "Rate limits + quotas"), not for them
	 */
	if (!r->srv->cfg.rate_limits || (r->authed && strcmp(r->claims.role, "service_role") == 0))
	{
		run_route(r);
		return;
	}
	if (users_take_local(e, now))
	{
		set_rate_headers(r, e, now);
		run_route(r);
		return;
	}
	snprintf(pm, sizeof(pm), "%d", e->per_minute);
	snprintf(pd, sizeof(pd), "%d", e->per_day);
	snprintf(want, sizeof(want), "%d", users_want(e, now, &give_back));
	snprintf(back, sizeof(back), "%d", give_back);
	r->rl_entry = e;
	e->pending++;
	rc = pool_exec(r->srv->pool, &rate_take_stmt, v, rate_cb, r);
	if (rc != 0)
		e->pending--;
	if (rc == -2)
		unavailable(r);			/* the database is down: the route would be, too */
	else if (rc != 0)
		reply_detail(r, 503, "server busy, retry shortly");
}

/* client_addr: returns the client address of r: the last entry of the trusted proxy's header when one
 * is configured (EX7_CLIENT_ADDR_HEADER), else the TCP peer. */
const char *
client_addr(Req *r, char *buf, size_t len)
{
	const char *hdr = r->srv->cfg.client_addr_header;
	char	   *host = NULL;
	ev_uint16_t port;

	if (hdr)
	{
		const char *v = evhttp_find_header(evhttp_request_get_input_headers(r->req), hdr);

		if (v && *v)
		{
			const char *last = strrchr(v, ',');

			last = last ? last + 1 : v;
			while (*last == ' ')
				last++;
			snprintf(buf, len, "%.*s", (int) strcspn(last, " "), last);
			if (buf[0])
				return buf;
		}
	}
	evhttp_connection_get_peer(evhttp_request_get_connection(r->req), &host, &port);
	snprintf(buf, len, "%s", host ? host : "unknown");
	return buf;
}

/*
 * admit_user: returns nothing; refuses (401) a token issued before its user's sessions were ended (a
 * password change sets ex7.users.tokens_valid_after, docs/account.md), else admits the request.
 */
static void
admit_user(Req *r, UserEntry *e)
{
	if (users_token_revoked(e, r->claims.iat))
	{
		evhttp_add_header(evhttp_request_get_output_headers(r->req), "WWW-Authenticate",
						  "Bearer error=\"invalid_token\"");
		reply_detail(r, 401, "Invalid token: revoked by a password change; log in again");
		return;
	}
	admit(r, e);
}

/* user_cb: ex7.ensure_user answered; learn the caps and go on. */
static void
user_cb(PGresult *res, const char *conn_error, void *arg)
{
	Req		   *r = arg;
	UserEntry  *e = users_get(r->claims.sub);

	(void) conn_error;
	if (answered_failure(r, res))
		return;
	if (!users_learn(e, PQgetvalue(res, 0, 0)))
	{
		reply_detail(r, 500, "internal server error");
		return;
	}
	admit_user(r, e);
}

void
notify_cb(const char *channel, const char *payload, void *arg)
{
	(void) arg;
	if (strcmp(channel, "ex7_user_changed") == 0)
		users_forget(payload);
}

void
listen_cb(void *arg)
{
	(void) arg;
	users_forget("*");			/* a tier change may have gone by while the listener was down */
}

void
router_cb(struct evhttp_request *req, void *arg)
{
	Server	   *srv = arg;
	Req		   *r = calloc(1, sizeof(Req));
	const char *path = evhttp_uri_get_path(evhttp_request_get_evhttp_uri(req));
	enum evhttp_cmd_type method = evhttp_request_get_command(req);
	int			nseg;
	const Route *found = NULL;
	bool		path_known = false;

	r->srv = srv;
	r->req = req;
	srv->inflight++;
	gettimeofday(&r->start, NULL);
	snprintf(r->method, sizeof(r->method), "%s", method_name(method));
	r->path = strdup(path ? path : "");
	set_request_id(r);
	web_headers(r);				/* CSP, nosniff, Referrer-Policy on every answer: http/static.c */

	if (metrics_route(r))
		return;					/* /metrics, /livez, /readyz: http/metrics.c */
	if (srv->stopping)
	{
		reply_detail(r, 503, "server shutting down");
		return;
	}
	if (openapi_route(r))
		return;					/* /openapi.json: http/openapi.c */
	if (web_route(r))
		return;					/* the console's files, /assets/..., /docs: http/static.c */
	nseg = split_path(r->path, r->seg, MAX_SEGMENTS);
	if (nseg == -2)
	{
		reply_invalid(r, "[\"path\"]", "a path segment contains a NUL byte (%00)", "value_error");
		return;
	}
	for (int i = 0; nseg >= 0 && i < nroutes; i++)
	{
		Match		cand;

		if (!route_match(&routes[i], r->seg, nseg, true, &cand))
			continue;
		path_known = true;
		if (routes[i].method == method || (method == EVHTTP_REQ_HEAD && routes[i].method == EVHTTP_REQ_GET))
		{
			found = &routes[i];
			r->m = cand;
			break;
		}
	}
	/*
	 * No route has this path with its captures well-formed. A route of this very method whose path
	 * matches when its captures take any segment is the operation the client meant with a malformed id:
	 * it runs, and build_args answers 422 at ["path", name] after authentication (FastAPI's answer for a
	 * path parameter that does not parse). Any other method's route is not looked at, so a malformed id
	 * or a word is never a 405 (docs/http.md, "Paths").
	 */
	for (int i = 0; nseg >= 0 && !path_known && i < nroutes; i++)
	{
		Match		cand;

		if ((routes[i].method == method || (method == EVHTTP_REQ_HEAD && routes[i].method == EVHTTP_REQ_GET)) &&
			route_match(&routes[i], r->seg, nseg, false, &cand))
		{
			found = &routes[i];
			r->m = cand;
			break;
		}
	}
	if (found == NULL && !path_known && web_page(r))
		return;					/* a page of the console: index.html (http/static.c) */
	if (found == NULL)
	{
		if (path_known)
		{
			char		allow[96] = "";
			Match		cand;

			for (int i = 0; i < nroutes; i++)
				if (route_match(&routes[i], r->seg, nseg, true, &cand) && !strstr(allow, method_name(routes[i].method)))
					snprintf(allow + strlen(allow), sizeof(allow) - strlen(allow), "%s%s", allow[0] ? ", " : "",
							 method_name(routes[i].method));
			snprintf(allow + strlen(allow), sizeof(allow) - strlen(allow), ", OPTIONS");
			evhttp_add_header(evhttp_request_get_output_headers(req), "Allow", allow);
		}
		if (path_known && method == EVHTTP_REQ_OPTIONS)
			reply_raw(r, 204, NULL, 0);		/* CORS preflight: add_cors adds the allow headers */
		else
			reply_detail(r, path_known ? 405 : 404, path_known ? "Method Not Allowed" : "Not Found");
		return;
	}
	if (evbuffer_get_length(evhttp_request_get_input_buffer(req)) > srv->cfg.body_limit)
	{
		char		msg[96];

		snprintf(msg, sizeof(msg), "request body larger than %zu bytes", srv->cfg.body_limit);
		reply_detail(r, 413, msg);
		return;
	}
	r->route = found;
	if (sse_ticket_auth(r))
		return;					/* the stream with ?ticket=: sse.c redeems it, then router_authed */
	if (!authenticate(r))
		return;
	router_authed(r);
}

/*
 * router_authed: returns nothing; runs r, whose route and claims are known (authenticate, or a stream
 * ticket redeemed in sse.c), through the user's caps and the rate limits to its route.
 */
void
router_authed(Req *r)
{
	Server	   *srv = r->srv;
	UserEntry  *e;

	if (!r->authed)
	{
		/* public routes: limited per client address (docs/http.md, "Public routes") with this front's caps */
		char		addr[64];

		admit(r, users_get_addr(client_addr(r, addr, sizeof(addr)), srv->cfg.public_per_minute,
								srv->cfg.public_per_day));
		return;
	}
	e = users_get(r->claims.sub);
	if (users_current(e, time(NULL)))
	{
		admit_user(r, e);
		return;
	}
	{
		const char *v[2] = {r->claims.sub, r->claims.email[0] ? r->claims.email : NULL};

		int			rc = pool_exec(srv->pool, &ensure_user_stmt, v, user_cb, r);

		if (rc == -2)
			unavailable(r);
		else if (rc != 0)
			reply_detail(r, 503, "server busy, retry shortly");
	}
}
