/*
 * fuzz_edge.c
 *	  A libFuzzer target over ex7d's request path, everything a client's bytes reach before the one SQL
 *	  call (docs/http.md, "Sanitizers and fuzzing"). `make fuzz` builds it with clang's
 *	  -fsanitize=fuzzer,address,undefined and runs it for a bounded time over test/fuzz/corpus.
 *
 *	  The first byte of an input chooses the stage, the rest is what a client controls there:
 *
 *	  0  framing: the bytes of a connection as the connection guard sees them (http/conn.c, examine),
 *	     delivered in pieces whose sizes come from the input, with a real bufferevent under it;
 *	  1  the request target: split into path and query (evhttp_uri_parse, as evhttp does), the path
 *	     split and percent-decoded (split_path), matched against the real route table typed and untyped
 *	     (route_match, capture), and every capture and query value put through the argument checks;
 *	  2  a JSON body (after a byte choosing a route that requires a body or not) through body_json (http/json_strict.c, then json-c), the reply it makes on refusal
 *	     included; an accepted text must parse and be an object (the validator and json-c agree);
 *	  3  a bearer token verbatim (jwt_verify_nocache with an HS256 secret and an ES256 + RS256 JWKS);
 *	  4  a token's header and payload JSON (split at the first NUL byte), base64url-encoded and signed
 *	     with the HS256 secret here, so the claim checks run on every input the fuzzer makes; a token
 *	     that passes must carry a canonical uuid subject and an unexpired, in-range exp.
 *
 *	  The stages are the file's own functions; http/router.c and http/conn.c are included whole so their
 *	  static functions are reachable, and the Makefile links every other source file of http/ but main.c.
 */
#include "../../http/router.c"
#include "../../http/conn.c"

#include <openssl/hmac.h>
#include <event2/bufferevent.h>

#include "../../ext/base64url.h"

#define FUZZ_SECRET "fuzz-hs256-secret-0123456789abcdef-0123456789"
#define FUZZ_NOW	((time_t) 1800000000)	/* 2027-01-15: every exp/iat is judged at one fixed time */

static struct event_base *fuzz_base;
static Server fuzz_srv;
static JwtKeys *fuzz_keys;

/* fuzz_init: returns nothing; the objects every stage shares, made once. */
static void
fuzz_init(void)
{
	char		err[256];
	const char *jwks = getenv("EX7_FUZZ_JWKS");

	if (fuzz_base)
		return;
	/* the access log and the guard's refusal lines would be most of the work: keep them out */
	if (freopen("/dev/null", "w", stdout) == NULL)
		abort();
	fuzz_base = event_base_new();
	fuzz_srv.base = fuzz_base;
	G.srv = &fuzz_srv;
	G.body_max = 2 * 1048576;
	fuzz_keys = jwt_keys_load(FUZZ_SECRET, jwks ? jwks : "test/fuzz/jwks.json", err, sizeof(err));
	if (fuzz_keys == NULL)
	{
		fprintf(stderr, "fuzz_edge: %s (run from the project folder or set EX7_FUZZ_JWKS)\n", err);
		abort();
	}
}

/* stage_framing: the connection guard over one connection's bytes, in pieces. */
static void
stage_framing(const uint8_t *data, size_t size)
{
	struct bufferevent *pair[2];
	Conn	   *c;
	struct evbuffer *in;
	size_t		at = 0;
	uint8_t		step = size > 0 ? data[0] : 0;

	if (size > 0)
	{
		data++;
		size--;
	}
	if (bufferevent_pair_new(fuzz_base, 0, pair) != 0)
		abort();
	c = calloc(1, sizeof(Conn));
	c->bev = pair[0];
	c->state = CS_HEAD;
	G.count++;
	in = bufferevent_get_input(c->bev);
	/* piece sizes 1..256 from the first byte: a head split anywhere, or arriving whole */
	while (at < size && (c->state == CS_HEAD || c->state == CS_BODY || c->state == CS_PENDING))
	{
		size_t		n = (size_t) step + 1;

		if (n > size - at)
			n = size - at;
		evbuffer_add(in, data + at, n);
		at += n;
		if (c->state == CS_PENDING)
			drain_input(c, c->keep);
		else
			examine(c, in);
		/* evhttp consumes what the guard passed; drop it the way its reads would */
		if (c->state != CS_PENDING && c->pos > 0 && (step & 1))
		{
			size_t		take = c->pos;

			evbuffer_drain(in, take);
			c->pos -= take;
			if (c->state == CS_HEAD && c->got_line1 == false)
				head_reset(c);
		}
	}
	if (c->pos > evbuffer_get_length(in))
		abort();				/* the guard's cursor never runs past the bytes it holds */
	free(c->pending_detail);
	free(c);
	G.count--;
	bufferevent_free(pair[0]);
	bufferevent_free(pair[1]);
	event_base_loop(fuzz_base, EVLOOP_NONBLOCK);
}

/* stage_target: the request target through the path split, the route table and the argument checks. */
static void
stage_target(const uint8_t *data, size_t size)
{
	char	   *target = strndup((const char *) data, size);
	struct evhttp_uri *uri;
	char	   *seg[MAX_SEGMENTS] = {0};
	const char *path;
	int			nseg;

	uri = evhttp_uri_parse_with_flags(target, 0);
	path = uri ? evhttp_uri_get_path(uri) : target;
	nseg = split_path(path ? path : "", seg, MAX_SEGMENTS);
	for (int i = 0; nseg >= 0 && i < nroutes; i++)
	{
		for (int typed = 0; typed < 2; typed++)
		{
			Match		m;

			if (!route_match(&routes[i], seg, nseg, typed, &m))
				continue;
			for (int a = 0; a < routes[i].stmt.nparams && a < MAX_ROUTE_ARGS; a++)
			{
				const RouteArg *arg = &routes[i].args[a];
				const char *v;

				if (arg->kind != ARG_PATH_UUID && arg->kind != ARG_PATH_INT && arg->kind != ARG_PATH_TEXT)
					continue;
				v = capture(&m, arg->name);
				if (v == NULL)
					abort();	/* a route's declared capture is always captured when it matches */
				if (typed && arg->kind == ARG_PATH_UUID && !is_uuid_text(v))
					abort();	/* typed matching lets no malformed uuid through */
				if (typed && arg->kind == ARG_PATH_INT && !is_int_text(v))
					abort();
			}
		}
	}
	for (int i = 0; i < MAX_SEGMENTS; i++)
		free(seg[i]);
	if (uri && evhttp_uri_get_query(uri))
	{
		struct evkeyvalq query;
		struct evkeyval *kv;

		TAILQ_INIT(&query);
		if (evhttp_parse_query_str(evhttp_uri_get_query(uri), &query) == 0)
			TAILQ_FOREACH(kv, &query, next)
			{
				(void) is_int_text(kv->value);
				(void) is_uuid_text(kv->value);
				(void) is_iso8601(kv->value);
				(void) is_numeric_text(kv->value);
			}
		evhttp_clear_headers(&query);
	}
	if (uri)
		evhttp_uri_free(uri);
	free(target);
}

/* stage_body: a JSON body through body_json, as a route that requires one (or not) receives it. */
static void
stage_body(const uint8_t *data, size_t size)
{
	static const Route optional = {EVHTTP_REQ_POST, "/fuzz", AUTH_USER, 200};
	static const Route required = {EVHTTP_REQ_POST, "/fuzz", AUTH_USER, 200, .body_required = true};
	Req		   *r = calloc(1, sizeof(Req));
	struct evhttp_request *req = evhttp_request_new(NULL, NULL);
	char	   *text = NULL;
	json_object *o;

	/* with no connection, evhttp_send_reply frees the request: a refusal runs its whole reply path */
	r->srv = &fuzz_srv;
	r->req = req;
	r->path = strdup("/fuzz");
	r->route = (size > 0 && (data[0] & 1)) ? &required : &optional;
	if (size > 0)
	{
		data++;
		size--;
	}
	snprintf(r->method, sizeof(r->method), "POST");
	snprintf(r->request_id, sizeof(r->request_id), "fuzz");
	fuzz_srv.inflight++;
	evbuffer_add(evhttp_request_get_input_buffer(req), data, size);
	o = body_json(r, &text);
	if (o != NULL)
	{
		json_object_object_foreach(o, key, val)
		{
			(void) key;
			if (json_object_is_type(val, json_type_string) &&
				strlen(json_object_get_string(val)) != (size_t) json_object_get_string_len(val))
				abort();		/* the validator lets no NUL into a string field */
		}
		if (!json_object_is_type(o, json_type_object) || text == NULL)
			abort();
		json_object_put(o);
		free(text);
		req_free(r);
		evhttp_request_free(req);
	}
}

/* stage_token: a bearer token as sent. */
static void
stage_token(const uint8_t *data, size_t size)
{
	char	   *token = strndup((const char *) data, size);
	JwtClaims	claims;
	const char *why = NULL;

	if (jwt_verify_nocache(fuzz_keys, token, "authenticated", NULL, FUZZ_NOW, &claims, &why) != 0 && why == NULL)
		abort();				/* every refusal says why (the 401's detail) */
	free(token);
}

/* stage_claims: a header and a payload of the fuzzer's making, signed with the secret. */
static void
stage_claims(const uint8_t *data, size_t size)
{
	const uint8_t *nul = memchr(data, 0, size);
	size_t		hlen = nul ? (size_t) (nul - data) : 0;
	const uint8_t *payload = nul ? nul + 1 : data;
	size_t		plen = nul ? size - hlen - 1 : size;
	static const char default_header[] = "{\"alg\":\"HS256\",\"typ\":\"JWT\"}";
	const uint8_t *header = nul ? data : (const uint8_t *) default_header;
	size_t		len;
	char	   *token;
	unsigned char mac[32];
	unsigned int maclen = 0;
	JwtClaims	claims;
	const char *why = NULL;
	size_t		at;

	if (!nul)
		hlen = sizeof(default_header) - 1;
	len = b64url_encoded_len(hlen) + 1 + b64url_encoded_len(plen) + 1 + b64url_encoded_len(32) + 1;
	token = malloc(len);
	at = b64url_encode(header, hlen, token);
	token[at++] = '.';
	at += b64url_encode(payload, plen, token + at);
	HMAC(EVP_sha256(), FUZZ_SECRET, (int) strlen(FUZZ_SECRET), (const unsigned char *) token, at, mac, &maclen);
	token[at++] = '.';
	at += b64url_encode(mac, maclen, token + at);
	token[at] = '\0';
	if (jwt_verify_nocache(fuzz_keys, token, "authenticated", NULL, FUZZ_NOW, &claims, &why) == 0)
	{
		/* what the router relies on for every accepted token */
		if (!is_uuid_text(claims.sub) || claims.exp <= 0 || claims.exp > JWT_MAX_NUMERIC_DATE ||
			claims.exp + JWT_LEEWAY_SECONDS < FUZZ_NOW || claims.iat > FUZZ_NOW + JWT_LEEWAY_SECONDS ||
			strcmp(claims.role, "anon") == 0)
			abort();
	}
	else if (why == NULL)
		abort();
	free(token);
}

int			LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_init();
	if (size == 0)
		return 0;
	switch (data[0] % 5)
	{
		case 0:
			stage_framing(data + 1, size - 1);
			break;
		case 1:
			stage_target(data + 1, size - 1);
			break;
		case 2:
			stage_body(data + 1, size - 1);
			break;
		case 3:
			stage_token(data + 1, size - 1);
			break;
		case 4:
			stage_claims(data + 1, size - 1);
			break;
	}
	return 0;
}
