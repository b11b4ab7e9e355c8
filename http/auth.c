/*
 * auth.c
 *	  The self-hosted login (peer-tradingagents-api.txt, "Authentication"; docs/account.md): sign-up,
 *	  login with a form (username=...&password=...) or JSON, password change and session check. The
 *	  database checks passwords (scrypt, ext/auth.c) and counts failures (ex7.auth_login); ex7d signs the
 *	  token from the claims it returns, with EX7_JWT_SECRET and the claims jwt.c verifies (aud, iss, exp,
 *	  sub, role), so a self-issued token works on every route like a Supabase one. Off unless
 *	  EX7_AUTH_ENABLED=1: the routes then answer 404.
 *
 *	  Passwords travel only as statement parameters (never in the SQL text, never in the access log);
 *	  docs/account.md says which PostgreSQL logging settings would still show them.
 */
#include "auth.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/queue.h>
#include <time.h>

#include <event2/buffer.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <json.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>

/* peer-tradingagents-api.txt: "Tokens expire after 30 minutes by default" */
#define AUTH_DEFAULT_TTL	1800

static struct
{
	bool		enabled;
	long		ttl;
	const Config *cfg;
} auth;

static const PoolStatement login_stmt = {
	"auth_login_sql", "SELECT ex7.auth_login($1, $2, $3)", 3
};

int
account_init(const Config *cfg, char *err, size_t errlen)
{
	const char *v = getenv("EX7_AUTH_ENABLED");
	size_t		used;
	int			rc = 0;

	auth.cfg = cfg;
	auth.enabled = false;
	auth.ttl = AUTH_DEFAULT_TTL;
	if (v && *v)
	{
		if (strcmp(v, "1") == 0 || strcmp(v, "on") == 0 || strcmp(v, "true") == 0)
			auth.enabled = true;
		else if (strcmp(v, "0") != 0 && strcmp(v, "off") != 0 && strcmp(v, "false") != 0)
		{
			used = strlen(err);
			snprintf(err + used, errlen - used, "EX7_AUTH_ENABLED must be 1 or 0, got \"%.40s\"\n",
					 v);
			rc = -1;
		}
	}
	v = getenv("EX7_AUTH_TOKEN_TTL");
	if (v && *v)
	{
		char	   *end;

		errno = 0;
		auth.ttl = strtol(v, &end, 10);
		if (errno || *end || auth.ttl < 60 || auth.ttl > 30L * 86400)
		{
			used = strlen(err);
			snprintf(err + used, errlen - used, "EX7_AUTH_TOKEN_TTL must be 60..2592000 seconds\n");
			rc = -1;
		}
	}
	if (auth.enabled && (cfg->jwt_secret == NULL || strlen(cfg->jwt_secret) < 32))
	{
		used = strlen(err);
		snprintf(err + used, errlen - used,
				 "EX7_AUTH_ENABLED=1 needs EX7_JWT_SECRET: the tokens it issues are HS256 under "
				 "that secret\n");
		rc = -1;
	}
	if (keys_load(err, errlen) != 0)
		rc = -1;
	return rc;
}

void
account_free(void)
{
	keys_free();
}

/* pass_cb: the JSON through with the route's status, or the error mapped. */
static void
pass_cb(PGresult *res, const char *conn_error, void *arg)
{
	Req		   *r = arg;

	(void) conn_error;
	if (answered_no_row(r, res))
		return;
	reply_raw(r, r->route->ok_status, PQgetvalue(res, 0, 0), (size_t) PQgetlength(res, 0, 0));
}

void
account_exec(Req *r, const PoolStatement *stmt, const char *const *values)
{
	int			rc = pool_exec(r->srv->pool, stmt, values, pass_cb, r);

	if (rc == -2)
		reply_detail(r, 503, "database unavailable, retry shortly");
	else if (rc != 0)
		reply_detail(r, 503, "server busy, retry shortly");
}

void
account_retry_handler(Req *r, char **values)
{
	account_exec(r, &r->route->stmt, (const char *const *) values);
}

/* ---------------------------------------------------------------------------------------------------
 * Tokens
 * ------------------------------------------------------------------------------------------------- */

/* random_uuid: returns nothing; writes a random (version 4) uuid into out[37]. */
static void
random_uuid(char *out)
{
	unsigned char b[16];

	if (RAND_bytes(b, sizeof(b)) != 1)
	{
		/* cannot happen with a seeded OpenSSL; a session id is not a secret, time keeps it unique */
		unsigned long long t = (unsigned long long) time(NULL);

		memset(b, 0, sizeof(b));
		memcpy(b, &t, sizeof(t));
	}
	b[6] = (unsigned char) ((b[6] & 0x0f) | 0x40);
	b[8] = (unsigned char) ((b[8] & 0x3f) | 0x80);
	snprintf(out, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
			 b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15]);
}

/*
 * reply_token: returns nothing; answers r with status and {access_token, token_type: "bearer",
 * expires_in, user: {id, email}} for claims {sub, email, role} from the database. The token carries
 * Supabase's claims (facts.md, "JWT") with the audience and issuer this ex7d verifies.
 */
static void
reply_token(Req *r, int status, json_object *claims)
{
	json_object *sub,
			   *email,
			   *role;
	json_object *c,
			   *out,
			   *user,
			   *amr,
			   *m;
	time_t		now = time(NULL);
	char		session[37];
	char	   *tok;

	if (!json_object_object_get_ex(claims, "sub", &sub) ||
		!json_object_object_get_ex(claims, "email", &email) ||
		!json_object_object_get_ex(claims, "role", &role))
	{
		reply_detail(r, 500, "internal server error");
		return;
	}
	random_uuid(session);
	c = json_object_new_object();
	if (auth.cfg->jwt_iss)
		json_object_object_add(c, "iss", json_object_new_string(auth.cfg->jwt_iss));
	json_object_object_add(c, "aud", json_object_new_string(auth.cfg->jwt_aud));
	json_object_object_add(c, "exp", json_object_new_int64((int64_t) (now + auth.ttl)));
	json_object_object_add(c, "iat", json_object_new_int64((int64_t) now));
	json_object_object_add(c, "sub", json_object_get(sub));
	json_object_object_add(c, "email", json_object_get(email));
	json_object_object_add(c, "phone", json_object_new_string(""));
	json_object_object_add(c, "role", json_object_get(role));
	json_object_object_add(c, "aal", json_object_new_string("aal1"));
	amr = json_object_new_array();
	m = json_object_new_object();
	json_object_object_add(m, "method", json_object_new_string("password"));
	json_object_object_add(m, "timestamp", json_object_new_int64((int64_t) now));
	json_object_array_add(amr, m);
	json_object_object_add(c, "amr", amr);
	json_object_object_add(c, "session_id", json_object_new_string(session));
	json_object_object_add(c, "is_anonymous", json_object_new_boolean(0));
	tok = jwt_mint_hs256(auth.cfg->jwt_secret, json_object_to_json_string_ext(c, JSON_C_TO_STRING_PLAIN));

	out = json_object_new_object();
	json_object_object_add(out, "access_token", json_object_new_string(tok));
	json_object_object_add(out, "token_type", json_object_new_string("bearer"));
	json_object_object_add(out, "expires_in", json_object_new_int64((int64_t) auth.ttl));
	user = json_object_new_object();
	json_object_object_add(user, "id", json_object_get(sub));
	json_object_object_add(user, "email", json_object_get(email));
	json_object_object_add(out, "user", user);
	{
		const char *s = json_object_to_json_string_ext(out, JSON_C_TO_STRING_SPACED);

		reply_raw(r, status, s, strlen(s));
	}
	OPENSSL_cleanse(tok, strlen(tok));
	free(tok);
	json_object_put(out);
	json_object_put(c);
}

/*
 * reply_value: returns nothing; answers a {status, body, retry_after?} value of the database (the login
 * and the password change answer failures as values, so that the failure counts commit).
 */
static void
reply_value(Req *r, json_object *v)
{
	json_object *st,
			   *body,
			   *ra;
	int			status;
	const char *s;

	if (!json_object_object_get_ex(v, "status", &st) || !json_object_object_get_ex(v, "body", &body))
	{
		reply_detail(r, 500, "internal server error");
		return;
	}
	status = json_object_get_int(st);
	if (json_object_object_get_ex(v, "retry_after", &ra))
		r->retry_after = json_object_get_int(ra);
	if (status == 401)
		evhttp_add_header(evhttp_request_get_output_headers(r->req), "WWW-Authenticate", "Bearer");
	s = json_object_to_json_string_ext(body, JSON_C_TO_STRING_SPACED);
	reply_raw(r, status, s, strlen(s));
}

/* parse_result: returns the parsed JSON of a one-row result, or NULL after answering 500. */
static json_object *
parse_result(Req *r, PGresult *res)
{
	json_object *o = json_tokener_parse(PQgetvalue(res, 0, 0));

	if (o == NULL || !json_object_is_type(o, json_type_object))
	{
		json_object_put(o);
		reply_detail(r, 500, "internal server error");
		return NULL;
	}
	return o;
}

/* not_enabled: returns true after answering 404 when the self-hosted login is off. */
static bool
not_enabled(Req *r)
{
	if (auth.enabled)
		return false;
	reply_detail(r, 404, "login is not enabled on this server (EX7_AUTH_ENABLED)");
	return true;
}

/* ---------------------------------------------------------------------------------------------------
 * Routes
 * ------------------------------------------------------------------------------------------------- */

/* signup_cb: ex7.auth_signup answered: the new account's claims, signed (201), or the error. */
static void
signup_cb(PGresult *res, const char *conn_error, void *arg)
{
	Req		   *r = arg;
	json_object *claims;

	(void) conn_error;
	if (answered_no_row(r, res) || (claims = parse_result(r, res)) == NULL)
		return;
	reply_token(r, r->route->ok_status, claims);
	json_object_put(claims);
}

/* POST /api/auth/signup {email, password}: values = email, password, client address */
void
auth_signup_handler(Req *r, char **values)
{
	int			rc;

	if (not_enabled(r))
		return;
	rc = pool_exec(r->srv->pool, &r->route->stmt, (const char *const *) values, signup_cb, r);
	if (rc == -2)
		reply_detail(r, 503, "database unavailable, retry shortly");
	else if (rc != 0)
		reply_detail(r, 503, "server busy, retry shortly");
}

/* login_cb: ex7.auth_login answered {status: 200, claims} or a failure value. */
static void
login_cb(PGresult *res, const char *conn_error, void *arg)
{
	Req		   *r = arg;
	json_object *v,
			   *st,
			   *claims;

	(void) conn_error;
	if (answered_no_row(r, res) || (v = parse_result(r, res)) == NULL)
		return;
	if (json_object_object_get_ex(v, "status", &st) && json_object_get_int(st) == 200 &&
		json_object_object_get_ex(v, "claims", &claims))
		reply_token(r, 200, claims);
	else
		reply_value(r, v);
	json_object_put(v);
}

/* json_string_field: returns the string member name of o, NULL when absent; *bad when not a string. */
static const char *
json_string_field(json_object *o, const char *name, bool *bad)
{
	json_object *f;

	if (!json_object_object_get_ex(o, name, &f) || f == NULL)
		return NULL;
	if (!json_object_is_type(f, json_type_string))
	{
		*bad = true;
		return NULL;
	}
	return json_object_get_string(f);
}

/*
 * POST /api/auth/login: a form (application/x-www-form-urlencoded, username=...&password=..., as
 * OAuth2's password grant and peer-tradingagents-api.txt send it) or a JSON object {username | email,
 * password}. values = the raw body, the client address.
 */
void
auth_login_handler(Req *r, char **values)
{
	const char *ctype = evhttp_find_header(evhttp_request_get_input_headers(r->req), "Content-Type");
	const char *body = values[0] ? values[0] : "";
	char	   *user = NULL;
	char	   *pass = NULL;
	const char *loc = NULL;
	int			rc;

	if (not_enabled(r))
		return;
	if (ctype && strncasecmp(ctype, "application/x-www-form-urlencoded", 33) == 0)
	{
		struct evkeyvalq q;
		const char *u,
				   *p;

		TAILQ_INIT(&q);
		if (evhttp_parse_query_str(body, &q) != 0)
		{
			evhttp_clear_headers(&q);
			reply_invalid(r, "[\"body\"]", "malformed form body", "value_error");
			return;
		}
		u = evhttp_find_header(&q, "username");
		if (u == NULL)
			u = evhttp_find_header(&q, "email");
		p = evhttp_find_header(&q, "password");
		user = u ? strdup(u) : NULL;
		pass = p ? strdup(p) : NULL;
		/* the parsed copies of the form hold the password too */
		for (struct evkeyval *kv = TAILQ_FIRST(&q); kv; kv = TAILQ_NEXT(kv, next))
			OPENSSL_cleanse(kv->value, strlen(kv->value));
		evhttp_clear_headers(&q);
	}
	else
	{
		json_object *o;
		bool		bad = false;
		const char *u,
				   *p;

		/* the same RFC 8259 check as every JSON body (docs/http.md, "Request bodies"): 400 or 422 */
		if (*body != '\0' && !body_strict(r, body, strlen(body)))
			return;
		o = json_tokener_parse(body);
		if (o == NULL || !json_object_is_type(o, json_type_object))
		{
			json_object_put(o);
			reply_invalid(r, "[\"body\"]",
						  "send a form (application/x-www-form-urlencoded) or a JSON object with "
						  "username and password",
						  "type_error.dict");
			return;
		}
		u = json_string_field(o, "username", &bad);
		if (u == NULL && !bad)
			u = json_string_field(o, "email", &bad);
		if (bad)
			loc = "[\"body\", \"username\"]";
		p = json_string_field(o, "password", &bad);
		if (bad && loc == NULL)
			loc = "[\"body\", \"password\"]";
		user = u ? strdup(u) : NULL;
		pass = p ? strdup(p) : NULL;
		json_object_put(o);
		if (loc)
		{
			reply_invalid(r, loc, "value is not a valid string", "type_error.str");
			goto done;
		}
	}
	if (user == NULL || *user == '\0')
		reply_invalid(r, "[\"body\", \"username\"]", "field required", "value_error.missing");
	else if (pass == NULL)
		reply_invalid(r, "[\"body\", \"password\"]", "field required", "value_error.missing");
	else
	{
		const char *v[3] = {user, pass, values[1]};

		rc = pool_exec(r->srv->pool, &login_stmt, v, login_cb, r);
		if (rc == -2)
			reply_detail(r, 503, "database unavailable, retry shortly");
		else if (rc != 0)
			reply_detail(r, 503, "server busy, retry shortly");
	}
done:
	if (pass)
		OPENSSL_cleanse(pass, strlen(pass));
	if (values[0])
		OPENSSL_cleanse(values[0], strlen(values[0]));
	free(user);
	free(pass);
}

/* password_cb: ex7.auth_change_password answered a {status, body} value. */
static void
password_cb(PGresult *res, const char *conn_error, void *arg)
{
	Req		   *r = arg;
	json_object *v;

	(void) conn_error;
	if (answered_no_row(r, res) || (v = parse_result(r, res)) == NULL)
		return;
	reply_value(r, v);
	json_object_put(v);
}

/* POST /api/auth/password {current_password, new_password}: values = sub, current, new, address */
void
auth_password_handler(Req *r, char **values)
{
	int			rc;

	if (not_enabled(r))
		return;
	rc = pool_exec(r->srv->pool, &r->route->stmt, (const char *const *) values, password_cb, r);
	if (rc == -2)
		reply_detail(r, 503, "database unavailable, retry shortly");
	else if (rc != 0)
		reply_detail(r, 503, "server busy, retry shortly");
}

/* GET /api/auth/session: who the token names */
void
auth_session_handler(Req *r, char **values)
{
	if (not_enabled(r))
		return;
	account_exec(r, &r->route->stmt, (const char *const *) values);
}
