/*
 * reply.c
 *	  Every answer ex7d gives: JSON bodies, the {"detail": ...} error shape of the contract
 *	  (ex7-api-introduction.txt, "Error responses always carry a JSON body of the form {"detail": "..."}"),
 *	  the mapping of SQLSTATEs to statuses (docs/errors.md), CORS headers and Vary (docs/http.md, "CORS"),
 *	  X-Request-Id and the JSON access log line. Each request ends here exactly once.
 */
#include "ex7d.h"
#include "log.h"
#include "metrics.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <event2/buffer.h>
#include <json.h>

static const char *
reason_of(int status)
{
	switch (status)
	{
		case 200: return "OK";
		case 201: return "Created";
		case 204: return "No Content";
		case 304: return "Not Modified";	/* /openapi.json with a matching If-None-Match (openapi.c) */
		case 400: return "Bad Request";
		case 401: return "Unauthorized";
		case 403: return "Forbidden";
		case 404: return "Not Found";
		case 405: return "Method Not Allowed";
		case 409: return "Conflict";
		case 412: return "Precondition Failed";
		case 413: return "Payload Too Large";
		case 422: return "Unprocessable Entity";
		case 429: return "Too Many Requests";
		case 503: return "Service Unavailable";
		default: return "Internal Server Error";
	}
}

/* origin_allowed: returns true when origin is in ALLOWED_ORIGINS (or it is "*"). */
static bool
origin_allowed(const char *allowed, const char *origin)
{
	size_t		olen = strlen(origin);
	const char *p = allowed;

	if (strcmp(allowed, "*") == 0)
		return true;
	while (*p)
	{
		size_t		len = strcspn(p, ",");
		const char *s = p;
		size_t		l = len;

		while (l > 0 && *s == ' ')
			s++, l--;
		while (l > 0 && s[l - 1] == ' ')
			l--;
		if (l == olen && strncmp(s, origin, olen) == 0)
			return true;
		p += len;
		if (*p == ',')
			p++;
	}
	return false;
}

/* add_rate_headers: returns nothing; adds X-RateLimit-Limit/Remaining/Reset when r was counted. */
static void
add_rate_headers(Req *r)
{
	struct evkeyvalq *out = evhttp_request_get_output_headers(r->req);
	char		v[24];

	if (r->rl_limit <= 0)
		return;
	snprintf(v, sizeof(v), "%d", r->rl_limit);
	evhttp_add_header(out, "X-RateLimit-Limit", v);
	snprintf(v, sizeof(v), "%d", r->rl_remaining);
	evhttp_add_header(out, "X-RateLimit-Remaining", v);
	snprintf(v, sizeof(v), "%d", r->rl_reset);
	evhttp_add_header(out, "X-RateLimit-Reset", v);
}

/*
 * The response headers a page's script may read besides the CORS-safelisted ones (Fetch standard, "CORS
 * protocol", Access-Control-Expose-Headers): the rate limits and Retry-After (to back off), ETag (for
 * If-Match), X-Request-Id (to quote in a report) and Location (for a route that answers with one).
 */
#define CORS_EXPOSE_HEADERS \
	"X-RateLimit-Limit, X-RateLimit-Remaining, X-RateLimit-Reset, Retry-After, ETag, X-Request-Id, Location"

/*
 * vary_add: returns nothing; appends to merged (of size bytes) each field name of the comma-separated
 * list that it does not hold yet (field names compare without case, RFC 9110, 5.1); sets *star on "*".
 */
static void
vary_add(char *merged, size_t size, bool *star, const char *list)
{
	const char *p = list;

	while (*p)
	{
		size_t		len = strcspn(p, ",");
		const char *t = p;
		size_t		l = len;
		bool		seen = false;

		while (l > 0 && (*t == ' ' || *t == '\t'))
			t++, l--;
		while (l > 0 && (t[l - 1] == ' ' || t[l - 1] == '\t'))
			l--;
		if (l == 1 && *t == '*')
			*star = true;
		for (const char *m = merged; l > 0 && *m;)
		{
			size_t		ml = strcspn(m, ",");

			if (ml == l && strncasecmp(m, t, l) == 0)
				seen = true;
			m += ml;
			while (*m == ',' || *m == ' ')
				m++;
		}
		if (l > 0 && !seen && strlen(merged) + l + 3 < size)
			snprintf(merged + strlen(merged), size - strlen(merged), "%s%.*s", merged[0] ? ", " : "", (int) l, t);
		p += len;
		if (*p == ',')
			p++;
	}
}

/*
 * merge_vary: returns nothing; leaves out with at most one Vary header listing every field name of the
 * Vary headers it had, once each, plus field when not NULL. "*" stands for every field, so it replaces
 * the list (RFC 9110, 12.5.5). One header: a cache that reads only the first would miss the others.
 */
static void
merge_vary(struct evkeyvalq *out, const char *field)
{
	char		merged[512] = "";
	bool		star = false;

	for (struct evkeyval *h = out->tqh_first; h != NULL; h = h->next.tqe_next)
		if (strcasecmp(h->key, "Vary") == 0)
			vary_add(merged, sizeof(merged), &star, h->value);
	if (field)
		vary_add(merged, sizeof(merged), &star, field);
	while (evhttp_find_header(out, "Vary") != NULL)
		evhttp_remove_header(out, "Vary");
	if (star)
		evhttp_add_header(out, "Vary", "*");
	else if (merged[0])
		evhttp_add_header(out, "Vary", merged);
}

/*
 * add_cors: returns nothing; adds the CORS headers of r's answer. Called last, just before the answer is
 * sent, so that the Vary it writes merges any Vary added before it. With ALLOWED_ORIGINS set every answer
 * depends on the request's Origin (whether it carries Access-Control-Allow-Origin, and which), also one
 * to a request without Origin or from a disallowed origin, a preflight, an error: each says
 * Vary: Origin, so a shared cache never hands one origin's answer to another (Fetch standard, "CORS
 * protocol and HTTP caches"). Without ALLOWED_ORIGINS no answer depends on Origin and none says so.
 */
void
add_cors(Req *r)
{
	struct evkeyvalq *in = evhttp_request_get_input_headers(r->req);
	struct evkeyvalq *out = evhttp_request_get_output_headers(r->req);
	const char *origin = evhttp_find_header(in, "Origin");

	if (r->srv->cfg.allowed_origins == NULL)
	{
		merge_vary(out, NULL);
		return;
	}
	merge_vary(out, "Origin");
	if (origin == NULL || !origin_allowed(r->srv->cfg.allowed_origins, origin))
		return;
	evhttp_add_header(out, "Access-Control-Allow-Origin", origin);
	evhttp_add_header(out, "Access-Control-Expose-Headers", CORS_EXPOSE_HEADERS);
	if (evhttp_request_get_command(r->req) == EVHTTP_REQ_OPTIONS)
	{
		evhttp_add_header(out, "Access-Control-Allow-Methods", "GET, POST, PUT, PATCH, DELETE, OPTIONS");
		evhttp_add_header(out, "Access-Control-Allow-Headers",
						  "Authorization, Content-Type, If-Match, X-Request-Id, Last-Event-ID");
		evhttp_add_header(out, "Access-Control-Max-Age", "600");
	}
}

/*
 * access_log: returns nothing; writes one JSON line per request to stdout (log.h: ts, level, event
 * "request", then the request's fields; the path as sent, any bytes escaped by the logger) and counts
 * the request in the metrics under its route template.
 */
static void
access_log(Req *r, int status)
{
	struct timeval now;
	double		ms;
	json_object *o = log_fields();

	gettimeofday(&now, NULL);
	ms = (now.tv_sec - r->start.tv_sec) * 1000.0 + (now.tv_usec - r->start.tv_usec) / 1000.0;
	log_field_str(o, "method", r->method);
	log_field_str(o, "path", r->path ? r->path : "");
	log_field_str(o, "route", r->route ? r->route->pattern : NULL);
	log_field_int(o, "status", status);
	{
		char		d[32];

		snprintf(d, sizeof(d), "%.2f", ms);
		json_object_object_add(o, "duration_ms", json_object_new_double_s(ms, d));
	}
	log_field_str(o, "user_id", r->authed ? r->claims.sub : NULL);
	log_field_str(o, "request_id", r->request_id);
	ex7_log_access(o, "%s %.200s %d", r->method, r->path ? r->path : "", status);
	metrics_request(r, status);
}

void
req_free(Req *r)
{
	r->srv->inflight--;
	for (int i = 0; i < MAX_SEGMENTS; i++)
		free(r->seg[i]);
	free(r->path);
	free(r);
}

void
reply_raw(Req *r, int status, const char *json, size_t len)
{
	struct evkeyvalq *out = evhttp_request_get_output_headers(r->req);
	struct evbuffer *buf = evbuffer_new();

	evhttp_add_header(out, "X-Request-Id", r->request_id);
	if (status != 204 && json)
	{
		evhttp_add_header(out, "Content-Type",
						  status >= 200 && status < 300 && r->route && r->route->content_type
						  ? r->route->content_type : "application/json");
		if (evhttp_request_get_command(r->req) == EVHTTP_REQ_HEAD)
		{
			/*
			 * RFC 9110, section 9.3.2: the answer to HEAD has the header fields of the GET's, Content-Length
			 * too, and no content; evhttp sends whatever buffer it is given, which a client keeping the
			 * connection would read as the start of the next answer.
			 */
			char		cl[24];

			snprintf(cl, sizeof(cl), "%zu", len);
			evhttp_add_header(out, "Content-Length", cl);
		}
		else
			evbuffer_add(buf, json, len);
	}
	add_rate_headers(r);
	if (status >= 200 && status < 300 && json && r->route && r->route->etag_header)
	{
		/* jsonb orders keys by length, so the strategy's own "etag" precedes any nested object */
		const char *k = memmem(json, len < 512 ? len : 512, "\"etag\": \"", 9);
		const char *e = k ? memchr(k + 9, '"', len - (size_t) (k + 9 - json)) : NULL;

		if (e && e - (k + 9) < 64)
		{
			char		tag[80];

			snprintf(tag, sizeof(tag), "\"%.*s\"", (int) (e - (k + 9)), k + 9);
			evhttp_add_header(out, "ETag", tag);
		}
	}
	if (status == 429 || status == 503)
	{
		char		ra[16];

		/* "The Retry-After header is always set" on 429 (ex7-api-introduction.txt) */
		snprintf(ra, sizeof(ra), "%d", status == 429 && r->retry_after > 0 ? r->retry_after : 5);
		evhttp_add_header(out, "Retry-After", ra);
	}
	/*
	 * RFC 9110 section 15.5.2: a 401 carries WWW-Authenticate. The authentication paths set the precise one
	 * (RFC 6750: Bearer, with error="invalid_token" for a refused token); any other 401 (a webhook's secret,
	 * a database X7401) says Bearer, the one scheme ex7d speaks.
	 */
	if (status == 401 && evhttp_find_header(out, "WWW-Authenticate") == NULL)
		evhttp_add_header(out, "WWW-Authenticate", "Bearer");
	add_cors(r);
	evhttp_send_reply(r->req, status, reason_of(status), buf);
	evbuffer_free(buf);
	access_log(r, status);
	req_free(r);
}

void
reply_detail_json(Req *r, int status, const char *detail_json)
{
	size_t		len = strlen(detail_json) + 16;
	char	   *body = malloc(len);

	snprintf(body, len, "{\"detail\": %s}", detail_json);
	reply_raw(r, status, body, strlen(body));
	free(body);
}

void
reply_detail(Req *r, int status, const char *msg)
{
	json_object *s = json_object_new_string(msg);

	reply_detail_json(r, status, json_object_to_json_string_ext(s, JSON_C_TO_STRING_PLAIN));
	json_object_put(s);
}

void
reply_invalid(Req *r, const char *loc_json, const char *msg, const char *type)
{
	json_object *m = json_object_new_string(msg);
	json_object *t = json_object_new_string(type);
	char		buf[2048];

	snprintf(buf, sizeof(buf), "[{\"loc\": %s, \"msg\": %s, \"type\": %s}]", loc_json,
			 json_object_to_json_string_ext(m, JSON_C_TO_STRING_PLAIN),
			 json_object_to_json_string_ext(t, JSON_C_TO_STRING_PLAIN));
	json_object_put(m);
	json_object_put(t);
	reply_detail_json(r, 422, buf);
}

/*
 * detail_is_json: returns true when the DETAIL field holds a JSON array or object (docs/errors.md), and
 * sets *retry_after to its retry_after number when it has one (a quota's 429 says when to come back).
 */
static bool
detail_is_json(const char *d, int *retry_after)
{
	json_object *o;
	json_object *v;
	bool		ok;

	if (d == NULL || (d[0] != '[' && d[0] != '{'))
		return false;
	o = json_tokener_parse(d);
	ok = o != NULL;
	if (o && json_object_is_type(o, json_type_object) && json_object_object_get_ex(o, "retry_after", &v) &&
		json_object_is_type(v, json_type_int) && json_object_get_int(v) > 0)
		*retry_after = json_object_get_int(v);
	json_object_put(o);
	return ok;
}

void
reply_pg_error(Req *r, const char *sqlstate, const char *message, const char *detail)
{
	int			status = 500;
	int			retry_after = 0;

	if (sqlstate && strncmp(sqlstate, "X7", 2) == 0)
		status = atoi(sqlstate + 2);	/* X7<status>: docs/errors.md */
	else if (sqlstate && strncmp(sqlstate, "22", 2) == 0)
		status = 422;			/* data exception: a value PostgreSQL could not take */
	else if (sqlstate && (strncmp(sqlstate, "08", 2) == 0 || strcmp(sqlstate, "57P01") == 0 ||
						  strcmp(sqlstate, "57014") == 0))
		status = 503;			/* connection lost, server shutting down, statement timeout */
	if (status < 400 || status > 599)
		status = 500;

	if (status == 500)
	{
		json_object *f = log_fields();

		log_field_str(f, "request_id", r->request_id);
		log_field_str(f, "route", r->route ? r->route->pattern : NULL);
		log_field_str(f, "sqlstate", sqlstate ? sqlstate : "");
		log_field_str(f, "detail", detail);
		ex7_log_with(EX7_ERROR, "statement_failed", f, "%s", message ? message : "statement failed");
		reply_detail(r, 500, "internal server error");
	}
	else if (detail_is_json(detail, &retry_after))
	{
		if (status == 429 && retry_after > 0)
			r->retry_after = retry_after;	/* the Retry-After header (reply_raw) */
		reply_detail_json(r, status, detail);
	}
	else if (status == 422)
	{
		reply_invalid(r, "[\"body\"]", message ? message : "invalid value", "value_error");
	}
	else
		reply_detail(r, status, message ? message : reason_of(status));
}

/*
 * reply_stream_start: returns nothing; starts the 200 reply of the signal stream (http/sse.c writes its
 * events as chunks), logs it, and frees r: a stream is not a request in flight, so a graceful shutdown
 * does not wait for it (sse_shutdown ends the streams instead). Headers: facts.md, Server-Sent Events.
 */
void
reply_stream_start(Req *r)
{
	struct evkeyvalq *out = evhttp_request_get_output_headers(r->req);

	evhttp_add_header(out, "X-Request-Id", r->request_id);
	evhttp_add_header(out, "Content-Type", "text/event-stream");
	evhttp_add_header(out, "Cache-Control", "no-cache");
	evhttp_add_header(out, "X-Accel-Buffering", "no");	/* nginx would buffer the stream otherwise */
	add_rate_headers(r);
	add_cors(r);
	evhttp_send_reply_start(r->req, 200, "OK");
	access_log(r, 200);
	req_free(r);
}
