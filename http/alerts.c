/*
 * alerts.c
 *	  The alert routes that ex7d does more for than one SQL call (docs/alerts.md).
 *
 *	  Provider webhooks: the provider's proof is checked over the raw body before anything parses it,
 *	  then one SQL function applies the event (ex7.alerts_resend_event, ex7.alerts_telegram_update,
 *	  ex7.alerts_twilio_event; ext/sql/76_alerts.sql).
 *	  - Resend signs with Svix (facts.md): headers svix-id, svix-timestamp, svix-signature ("v1,<base64>"
 *	    entries, several while a secret rotates), HMAC-SHA256 over "<id>.<timestamp>.<body>" keyed with the
 *	    base64-decoded secret after its "whsec_" prefix, timestamp within 5 minutes, compared in constant
 *	    time. A bad or missing signature is a 400.
 *	  - Telegram sends the secret_token given to setWebhook back in X-Telegram-Bot-Api-Secret-Token; the
 *	    contract also allows it in the query (?secret=). Either must equal TELEGRAM_WEBHOOK_SECRET, else 401.
 *	  - Twilio signs X-Twilio-Signature = base64(HMAC-SHA1(auth token, full URL + sorted form fields));
 *	    checked when TWILIO_AUTH_TOKEN is set (the contract's v1 accepted everything), else a 403.
 *	  Verify Channel: ex7.verify_channel returns {"_status": 422, "detail": [...]} for a wrong code
 *	  instead of raising, so that the try is counted; this file turns that into the 422.
 */
#include "alerts.h"
#include "log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>

#include <event2/buffer.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <json.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

/* facts.md, Svix: "Tolerance plus or minus 5 minutes" */
#define SVIX_TOLERANCE 300
#define MAX_FORM_FIELDS 128

static struct
{
	char	   *resend_secret;	/* RESEND_WEBHOOK_SECRET (whsec_...), NULL: the webhook is refused */
	char	   *telegram_secret;	/* TELEGRAM_WEBHOOK_SECRET */
	char	   *twilio_token;	/* TWILIO_AUTH_TOKEN: Twilio signatures are checked when set */
	char	   *public_url;		/* EX7_PUBLIC_URL: the URL Twilio signed is this + the request URI */
}			A;

static const PoolStatement resend_stmt = {
	"alerts_resend_event", "SELECT ex7.alerts_resend_event($1::jsonb)", 1
};
static const PoolStatement telegram_stmt = {
	"alerts_telegram_update", "SELECT ex7.alerts_telegram_update($1::jsonb)", 1
};
static const PoolStatement twilio_stmt = {
	"alerts_twilio_event", "SELECT ex7.alerts_twilio_event($1::jsonb)", 1
};

static char *
env_dup(const char *name)
{
	const char *v = getenv(name);

	return v && *v ? strdup(v) : NULL;
}

void
alerts_init(void)
{
	A.resend_secret = env_dup("RESEND_WEBHOOK_SECRET");
	A.telegram_secret = env_dup("TELEGRAM_WEBHOOK_SECRET");
	A.twilio_token = env_dup("TWILIO_AUTH_TOKEN");
	A.public_url = env_dup("EX7_PUBLIC_URL");
	if (A.public_url)
	{
		size_t		len = strlen(A.public_url);

		while (len > 0 && A.public_url[len - 1] == '/')
			A.public_url[--len] = '\0';
	}
}

void
alerts_free(void)
{
	free(A.resend_secret);
	free(A.telegram_secret);
	free(A.twilio_token);
	free(A.public_url);
	memset(&A, 0, sizeof(A));
}

/* b64_decode: returns the number of bytes written to out (sized 3/4 of strlen(in) + 3), or -1. */
static int
b64_decode(const char *in, unsigned char *out)
{
	size_t		len = strlen(in);
	int			n;

	if (len == 0 || len % 4 != 0)
		return -1;
	n = EVP_DecodeBlock(out, (const unsigned char *) in, (int) len);
	if (n < 0)
		return -1;
	/* EVP_DecodeBlock counts the padding as zero bytes */
	if (in[len - 1] == '=')
		n--;
	if (in[len - 2] == '=')
		n--;
	return n;
}

/* svix_key: returns the key length written to key (at least 3/4 of the secret's length), or -1. */
static int
svix_key(const char *secret, unsigned char *key, size_t keylen)
{
	if (strncmp(secret, "whsec_", 6) == 0)
		secret += 6;
	if (strlen(secret) / 4 * 3 + 3 > keylen)
		return -1;
	return b64_decode(secret, key);
}

int
svix_sign(const char *secret, const char *msg_id, long ts, const char *body, size_t len, char *out, size_t outlen)
{
	unsigned char key[256];
	int			keylen = svix_key(secret, key, sizeof(key));
	unsigned char mac[EVP_MAX_MD_SIZE];
	unsigned int maclen = 0;
	char		head[160];
	unsigned char *msg;
	int			n;

	if (keylen <= 0 || outlen < 64)
		return -1;
	n = snprintf(head, sizeof(head), "%s.%ld.", msg_id, ts);
	if (n < 0 || (size_t) n >= sizeof(head))
		return -1;
	msg = malloc((size_t) n + len + 1);
	memcpy(msg, head, (size_t) n);
	memcpy(msg + n, body, len);
	if (HMAC(EVP_sha256(), key, keylen, msg, (size_t) n + len, mac, &maclen) == NULL)
	{
		free(msg);
		return -1;
	}
	free(msg);
	memcpy(out, "v1,", 3);
	EVP_EncodeBlock((unsigned char *) out + 3, mac, (int) maclen);
	return 0;
}

const char *
svix_verify(const char *secret, const char *id, const char *ts_header, const char *sig_header, const char *body,
			size_t len, time_t now)
{
	char		expected[80];
	char	   *end;
	long		ts;
	const char *p;
	size_t		elen;

	if (id == NULL || ts_header == NULL || sig_header == NULL || !*id || strlen(id) > 100)
		return "missing svix-id, svix-timestamp or svix-signature";
	ts = strtol(ts_header, &end, 10);
	if (*ts_header == '\0' || *end != '\0')
		return "svix-timestamp is not a unix time";
	if (ts < (long) now - SVIX_TOLERANCE || ts > (long) now + SVIX_TOLERANCE)
		return "svix-timestamp outside the tolerance";
	if (svix_sign(secret, id, ts, body, len, expected, sizeof(expected)) != 0)
		return "the webhook secret is not whsec_<base64>";
	elen = strlen(expected);
	/* "v1,<base64> v1,<base64> ...": any v1 entry may match; other versions are ignored */
	for (p = sig_header; *p;)
	{
		size_t		n;

		while (*p == ' ')
			p++;
		n = strcspn(p, " ");
		if (n == elen && CRYPTO_memcmp(p, expected, elen) == 0)
			return NULL;
		p += n;
	}
	return "no matching v1 signature";
}

/* form_fields: returns the number of decoded name/value pairs of a form body (names and values
 * malloc'd), or -1 when there are more than max or one cannot be decoded. */
static int
form_fields(const char *body, char **names, char **values, int max)
{
	struct evkeyvalq q;
	struct evkeyval *kv;
	int			n = 0;

	TAILQ_INIT(&q);
	if (body && *body && evhttp_parse_query_str(body, &q) != 0)
	{
		evhttp_clear_headers(&q);
		return -1;
	}
	TAILQ_FOREACH(kv, &q, next)
	{
		if (n == max)
		{
			for (int i = 0; i < n; i++)
			{
				free(names[i]);
				free(values[i]);
			}
			evhttp_clear_headers(&q);
			return -1;
		}
		names[n] = strdup(kv->key);
		values[n] = strdup(kv->value);
		n++;
	}
	evhttp_clear_headers(&q);
	return n;
}

int
twilio_signature(const char *auth_token, const char *url, const char *form_body, char *out, size_t outlen)
{
	char	   *names[MAX_FORM_FIELDS];
	char	   *values[MAX_FORM_FIELDS];
	int			n = form_fields(form_body, names, values, MAX_FORM_FIELDS);
	unsigned char mac[EVP_MAX_MD_SIZE];
	unsigned int maclen = 0;
	size_t		need = strlen(url);
	char	   *msg;
	char	   *p;
	bool		ok;

	if (n < 0 || outlen < 32)
		return -1;
	/* sorted by name (a stable insertion sort keeps repeated names in order) */
	for (int i = 1; i < n; i++)
		for (int j = i; j > 0 && strcmp(names[j - 1], names[j]) > 0; j--)
		{
			char	   *t = names[j];

			names[j] = names[j - 1];
			names[j - 1] = t;
			t = values[j];
			values[j] = values[j - 1];
			values[j - 1] = t;
		}
	for (int i = 0; i < n; i++)
		need += strlen(names[i]) + strlen(values[i]);
	msg = malloc(need + 1);
	p = stpcpy(msg, url);
	for (int i = 0; i < n; i++)
	{
		p = stpcpy(stpcpy(p, names[i]), values[i]);
		free(names[i]);
		free(values[i]);
	}
	ok = HMAC(EVP_sha1(), auth_token, (int) strlen(auth_token), (unsigned char *) msg, (size_t) (p - msg), mac,
			  &maclen) != NULL;
	free(msg);
	if (!ok)
		return -1;
	EVP_EncodeBlock((unsigned char *) out, mac, (int) maclen);
	return 0;
}

/* header: returns request header name of r, or NULL. */
static const char *
header(Req *r, const char *name)
{
	return evhttp_find_header(evhttp_request_get_input_headers(r->req), name);
}

/* exec: returns nothing; runs stmt with one value and answers through cb, or 503. */
static void
exec1(Req *r, const PoolStatement *stmt, const char *value, PoolCallback cb)
{
	const char *v[1] = {value};
	int			rc = pool_exec(r->srv->pool, stmt, v, cb, r);

	if (rc != 0)
		reply_detail(r, 503, rc == -2 ? "database unavailable, retry shortly" : "server busy, retry shortly");
}

/* failed: returns true after answering r when res is not a result with one row (router.c's rule for
 * failures, then the row count these functions promise). */
static bool
failed(Req *r, PGresult *res)
{
	if (answered_failure(r, res))
		return true;
	if (PQntuples(res) != 1)
	{
		reply_pg_error(r, NULL, "no result from the database", NULL);
		return true;
	}
	return false;
}

/* passthrough_cb: the function's answer as the 200 body (JSON, or the route's content type). */
static void
passthrough_cb(PGresult *res, const char *conn_error, void *arg)
{
	Req		   *r = arg;

	(void) conn_error;
	if (failed(r, res))
		return;
	reply_raw(r, 200, PQgetvalue(res, 0, 0), (size_t) PQgetlength(res, 0, 0));
}

void
alerts_resend_webhook(Req *r, char **values)
{
	const char *body = values[0] ? values[0] : "";
	const char *why;

	if (A.resend_secret == NULL)
	{
		reply_detail(r, 503, "the Resend webhook is not configured (RESEND_WEBHOOK_SECRET is not set)");
		return;
	}
	why = svix_verify(A.resend_secret, header(r, "svix-id"), header(r, "svix-timestamp"),
					  header(r, "svix-signature"), body, strlen(body), time(NULL));
	if (why != NULL)
	{
		char		msg[160];

		snprintf(msg, sizeof(msg), "invalid webhook signature: %s", why);
		reply_detail(r, 400, msg);
		return;
	}
	exec1(r, &resend_stmt, body, passthrough_cb);
}

/* telegram_cb: the webhook reply (a sendMessage for the handshake); other updates are logged. */
static void
telegram_cb(PGresult *res, const char *conn_error, void *arg)
{
	Req		   *r = arg;
	const char *v;

	(void) conn_error;
	if (failed(r, res))
		return;
	v = PQgetvalue(res, 0, 0);
	if (strstr(v, "\"action\": \"ignored\""))
	{
		json_object *f = log_fields();

		log_field_str(f, "request_id", r->request_id);
		ex7_log_with(EX7_INFO, "telegram_update_ignored", f, "telegram update ignored (not a /start handshake)");
	}
	reply_raw(r, 200, v, (size_t) PQgetlength(res, 0, 0));
}

/* same_secret: returns true when a equals b, in time independent of where they differ. */
static bool
same_secret(const char *a, const char *b)
{
	size_t		la = a ? strlen(a) : 0;
	size_t		lb = strlen(b);

	return a != NULL && la == lb && CRYPTO_memcmp(a, b, lb) == 0;
}

void
alerts_telegram_webhook(Req *r, char **values)
{
	const char *given = header(r, "X-Telegram-Bot-Api-Secret-Token");
	const char *uq = evhttp_uri_get_query(evhttp_request_get_evhttp_uri(r->req));
	struct evkeyvalq q;
	bool		ok;

	if (A.telegram_secret == NULL)
	{
		reply_detail(r, 401, "the Telegram webhook is not configured (TELEGRAM_WEBHOOK_SECRET is not set)");
		return;
	}
	TAILQ_INIT(&q);
	if (uq)
		evhttp_parse_query_str(uq, &q);
	/* ex7-api-reference.txt, Telegram Webhook: "shared secret in the webhook URL query string"; facts.md:
	 * setWebhook's secret_token comes back as the header */
	ok = same_secret(given, A.telegram_secret) || same_secret(evhttp_find_header(&q, "secret"), A.telegram_secret);
	evhttp_clear_headers(&q);
	if (!ok)
	{
		reply_detail(r, 401, "invalid Telegram webhook secret");
		return;
	}
	exec1(r, &telegram_stmt, values[0] ? values[0] : "", telegram_cb);
}

void
alerts_twilio_webhook(Req *r, char **values)
{
	const char *body = values[0] ? values[0] : "";
	char	   *names[MAX_FORM_FIELDS];
	char	   *vals[MAX_FORM_FIELDS];
	int			n;
	json_object *o;

	if (A.twilio_token)
	{
		const char *sig = header(r, "X-Twilio-Signature");
		const char *uri = evhttp_request_get_uri(r->req);
		const char *host = header(r, "Host");
		char	   *url;
		size_t		len;
		char		expected[64];

		/* the URL Twilio requested: the public URL when ex7d sits behind a proxy, else from Host */
		len = strlen(uri) + (A.public_url ? strlen(A.public_url) : strlen(host ? host : "") + 7) + 1;
		url = malloc(len);
		if (A.public_url)
			snprintf(url, len, "%s%s", A.public_url, uri);
		else
			snprintf(url, len, "http://%s%s", host ? host : "", uri);
		n = twilio_signature(A.twilio_token, url, body, expected, sizeof(expected));
		free(url);
		if (n != 0 || !same_secret(sig, expected))
		{
			reply_detail(r, 403, "invalid X-Twilio-Signature");
			return;
		}
	}
	n = form_fields(body, names, vals, MAX_FORM_FIELDS);
	if (n < 0)
	{
		reply_detail(r, 400, "the body is not a form (application/x-www-form-urlencoded)");
		return;
	}
	o = json_object_new_object();
	for (int i = 0; i < n; i++)
	{
		json_object_object_add(o, names[i], json_object_new_string(vals[i]));
		free(names[i]);
		free(vals[i]);
	}
	exec1(r, &twilio_stmt, json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN), passthrough_cb);
	json_object_put(o);
}

/* soft_cb: {"_status": N, "detail": ...} becomes status N with {"detail": ...}; anything else a 200. */
static void
soft_cb(PGresult *res, const char *conn_error, void *arg)
{
	Req		   *r = arg;
	const char *v;
	json_object *o;
	json_object *st;

	(void) conn_error;
	if (failed(r, res))
		return;
	v = PQgetvalue(res, 0, 0);
	if (strstr(v, "\"_status\"") == NULL || (o = json_tokener_parse(v)) == NULL)
	{
		reply_raw(r, r->route->ok_status, v, (size_t) PQgetlength(res, 0, 0));
		return;
	}
	if (json_object_object_get_ex(o, "_status", &st) && json_object_is_type(st, json_type_int))
	{
		int			status = json_object_get_int(st);
		const char *out;

		json_object_object_del(o, "_status");
		out = json_object_to_json_string_ext(o, JSON_C_TO_STRING_SPACED);
		reply_raw(r, status >= 400 && status < 600 ? status : 500, out, strlen(out));
	}
	else
		reply_raw(r, r->route->ok_status, v, (size_t) PQgetlength(res, 0, 0));
	json_object_put(o);
}

void
alerts_soft_status(Req *r, char **values)
{
	int			rc = pool_exec(r->srv->pool, &r->route->stmt, (const char *const *) values, soft_cb, r);

	if (rc != 0)
		reply_detail(r, 503, rc == -2 ? "database unavailable, retry shortly" : "server busy, retry shortly");
}
