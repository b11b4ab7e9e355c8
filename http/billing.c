/*
 * billing.c
 *	  The billing routes that reach Stripe (docs/billing.md).
 *
 *	  Checkout, portal, cancel, resume: the one exception to "one SQL call per request". The extension
 *	  still decides everything: its preparing function (ex7.billing_checkout, ...) checks the user
 *	  (compliance, tier, existing subscription) and returns the exact Stripe request (path, form fields,
 *	  Idempotency-Key) or an answer of its own; ex7d sends that request through outcall.c with
 *	  STRIPE_SECRET_KEY; ex7.billing_stripe_result records what Stripe answered and builds the reply. A
 *	  provider error, an unreachable provider or a timeout is a 503 with a detail saying which. Without
 *	  STRIPE_SECRET_KEY the preparing function still runs, so its 422, 412, 404 and 409 come first; only a
 *	  request that would reach Stripe is the 503 "billing is not configured".
 *
 *	  Webhook: Stripe-Signature is verified over the raw body before anything parses it (facts.md, "Stripe
 *	  webhooks"; ex7-api-reference.txt, Stripe Webhook: "Signature verified BEFORE parse"): HMAC-SHA256
 *	  keyed with each configured endpoint secret over "<t>.<body>", compared in constant time with every
 *	  v1 signature, t within 300 s. ex7.stripe_apply_event then dedupes and applies the event in one
 *	  transaction; any failure there is a 500 so that Stripe retries.
 */
#include "billing.h"
#include "log.h"
#include "outcall.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/buffer.h>
#include <json.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#define STRIPE_DEFAULT_API_BASE "https://api.stripe.com"
/* facts.md: the official libraries' default tolerance */
#define STRIPE_SIGNATURE_TOLERANCE 300
#define STRIPE_MAX_SECRETS 8
#define STRIPE_MAX_V1 16

static struct
{
	char	   *secret_key;		/* STRIPE_SECRET_KEY, NULL: billing is not configured */
	char	   *api_base;		/* STRIPE_API_BASE without a trailing slash */
	char	   *return_url;		/* STRIPE_RETURN_URL: where Checkout and the portal send the user back */
	int			timeout_ms;		/* STRIPE_TIMEOUT_MS: the whole exchange with Stripe */
	char	   *secrets[STRIPE_MAX_SECRETS];	/* STRIPE_WEBHOOK_SECRET, comma separated while it rotates */
	int			nsecrets;
}			B;

void
billing_init(void)
{
	const char *v = getenv("STRIPE_SECRET_KEY");
	size_t		len;

	B.secret_key = v && *v ? strdup(v) : NULL;
	v = getenv("STRIPE_API_BASE");
	B.api_base = strdup(v && *v ? v : STRIPE_DEFAULT_API_BASE);
	len = strlen(B.api_base);
	while (len > 0 && B.api_base[len - 1] == '/')
		B.api_base[--len] = '\0';
	v = getenv("STRIPE_RETURN_URL");
	B.return_url = strdup(v && *v ? v : "http://localhost:3000/billing");
	v = getenv("STRIPE_TIMEOUT_MS");
	B.timeout_ms = v && *v ? atoi(v) : 0;
	if (B.timeout_ms < 100 || B.timeout_ms > 120000)
	{
		if (v && *v)
			ex7_log(EX7_WARN, "bad_setting", "STRIPE_TIMEOUT_MS must be 100..120000: using 10000");
		B.timeout_ms = 10000;
	}
	v = getenv("STRIPE_WEBHOOK_SECRET");
	B.nsecrets = 0;
	while (v && *v && B.nsecrets < STRIPE_MAX_SECRETS)
	{
		size_t		n = strcspn(v, ",");
		const char *s = v;
		size_t		l = n;

		while (l > 0 && isspace((unsigned char) *s))
			s++, l--;
		while (l > 0 && isspace((unsigned char) s[l - 1]))
			l--;
		if (l > 0)
			B.secrets[B.nsecrets++] = strndup(s, l);
		v += n;
		if (*v == ',')
			v++;
	}
}

void
billing_free(void)
{
	free(B.secret_key);
	free(B.api_base);
	free(B.return_url);
	for (int i = 0; i < B.nsecrets; i++)
		free(B.secrets[i]);
	memset(&B, 0, sizeof(B));
}

/* ------------------------------------------------------------------------------------------------
 * Calls to Stripe
 * ---------------------------------------------------------------------------------------------- */

/* the functions that prepare a call and need the return URL (an ex7d setting) as their last argument */
static const struct
{
	const char *route;			/* the route's statement name */
	PoolStatement stmt;
}			preparers[] = {
	{"billing_checkout", {"billing_checkout_url", "SELECT ex7.billing_checkout($1::uuid, $2::jsonb, $3)", 3}},
	{"billing_portal", {"billing_portal_url", "SELECT ex7.billing_portal($1::uuid, $2)", 2}},
};

static const PoolStatement result_stmt = {
	"billing_stripe_result", "SELECT ex7.billing_stripe_result($1::uuid, $2, $3::jsonb, $4::jsonb)", 4
};

typedef struct StripeCall
{
	Req		   *r;
	char	   *user;
	char	   *action;
	char	   *context;		/* JSON text the preparing function handed over for the result */
} StripeCall;

static void
call_free(StripeCall *c)
{
	free(c->user);
	free(c->action);
	free(c->context);
	free(c);
}

/* failed_result: returns true after answering c's request when res is not a successful result. */
static bool
failed_result(StripeCall *c, PGresult *res, bool stripe_answer)
{
	const char *st;

	if (res == NULL)
	{
		reply_detail(c->r, 503, "database unavailable, retry shortly");
		return true;
	}
	if (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1 && !PQgetisnull(res, 0, 0))
		return false;
	st = PQresultErrorField(res, PG_DIAG_SQLSTATE);
	if (stripe_answer && st && strncmp(st, "22", 2) == 0)
		reply_detail(c->r, 503, "payment provider error (Stripe): its answer could not be read");
	else
		reply_pg_error(c->r, st, PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY),
					   PQresultErrorField(res, PG_DIAG_MESSAGE_DETAIL));
	return true;
}

/* recorded_cb: ex7.billing_stripe_result answered: that is the reply. */
static void
recorded_cb(PGresult *res, const char *conn_error, void *arg)
{
	StripeCall *c = arg;

	(void) conn_error;
	if (!failed_result(c, res, true))
		reply_raw(c->r, 200, PQgetvalue(res, 0, 0), (size_t) PQgetlength(res, 0, 0));
	call_free(c);
}

/* provider_error: returns nothing; logs one failed call to Stripe (status 0: no answer). */
static void
provider_error(StripeCall *c, int status, const char *msg)
{
	json_object *f = log_fields();

	log_field_str(f, "provider", "stripe");
	log_field_str(f, "request_id", c->r->request_id);
	log_field_int(f, "status", status);
	ex7_log_with(EX7_WARN, "provider_error", f, "%s", msg);
}

/* stripe_cb: Stripe answered (or did not): record a success, turn anything else into a 503. */
static void
stripe_cb(const OutResponse *resp, void *arg)
{
	StripeCall *c = arg;
	char		msg[600];

	if (resp->error)
	{
		snprintf(msg, sizeof(msg), "payment provider unreachable (Stripe): %s", resp->error);
		provider_error(c, 0, msg);
		reply_detail(c->r, 503, msg);
		call_free(c);
		return;
	}
	if (resp->status >= 200 && resp->status < 300)
	{
		const char *v[4] = {c->user, c->action, c->context, resp->body};
		int			rc = pool_exec(c->r->srv->pool, &result_stmt, v, recorded_cb, c);

		if (rc != 0)
		{
			/* Stripe did it but we cannot record it now: the webhook will bring the same state */
			reply_detail(c->r, 503, "database unavailable, retry shortly");
			call_free(c);
		}
		return;
	}
	{
		/* Stripe's error shape: {"error": {"message": ..., "type": ..., "code": ...}} */
		json_object *o = json_tokener_parse(resp->body);
		json_object *e = NULL,
				   *m = NULL;
		const char *text = "no error message";

		if (o && json_object_object_get_ex(o, "error", &e) && json_object_object_get_ex(e, "message", &m) &&
			json_object_is_type(m, json_type_string))
			text = json_object_get_string(m);
		snprintf(msg, sizeof(msg), "payment provider error (Stripe HTTP %d): %.400s", resp->status, text);
		json_object_put(o);
	}
	provider_error(c, resp->status, msg);
	reply_detail(c->r, 503, msg);
	call_free(c);
}

/* form_encode: returns the malloc'd application/x-www-form-urlencoded body of pairs [[k, v], ...]. */
static char *
form_encode(json_object *pairs)
{
	struct evbuffer *b = evbuffer_new();
	size_t		n = pairs && json_object_is_type(pairs, json_type_array) ? json_object_array_length(pairs) : 0;
	char	   *out;
	size_t		len;

	for (size_t i = 0; i < n; i++)
	{
		json_object *p = json_object_array_get_idx(pairs, i);
		json_object *k = json_object_array_get_idx(p, 0);
		json_object *v = json_object_array_get_idx(p, 1);
		char	   *ek;
		char	   *ev;

		if (k == NULL || v == NULL)
			continue;
		ek = evhttp_uriencode(json_object_get_string(k), -1, 1);
		ev = evhttp_uriencode(json_object_get_string(v), -1, 1);
		evbuffer_add_printf(b, "%s%s=%s", evbuffer_get_length(b) ? "&" : "", ek, ev);
		free(ek);
		free(ev);
	}
	len = evbuffer_get_length(b);
	out = malloc(len + 1);
	evbuffer_remove(b, out, len);
	out[len] = '\0';
	evbuffer_free(b);
	return out;
}

/* prepared_cb: the preparing function answered: reply with its answer, or call Stripe as it says. */
static void
prepared_cb(PGresult *res, const char *conn_error, void *arg)
{
	StripeCall *c = arg;
	json_object *o,
			   *reply,
			   *stripe,
			   *f;
	char		url[1024];
	char		auth[512];
	char		idem[160] = "";
	const char *headers[4];
	const char *method = "POST";
	char	   *body;

	(void) conn_error;
	if (failed_result(c, res, false))
	{
		call_free(c);
		return;
	}
	o = json_tokener_parse(PQgetvalue(res, 0, 0));
	if (o && json_object_object_get_ex(o, "reply", &reply))
	{
		const char *s = json_object_to_json_string_ext(reply, JSON_C_TO_STRING_PLAIN);

		reply_raw(c->r, 200, s, strlen(s));
		json_object_put(o);
		call_free(c);
		return;
	}
	if (o == NULL || !json_object_object_get_ex(o, "stripe", &stripe) ||
		!json_object_object_get_ex(stripe, "path", &f) || !json_object_is_type(f, json_type_string))
	{
		json_object *lf = log_fields();

		log_field_str(lf, "request_id", c->r->request_id);
		ex7_log_with(EX7_ERROR, "billing_no_stripe_request", lf, "billing: the database gave no Stripe request");
		reply_detail(c->r, 500, "internal server error");
		json_object_put(o);
		call_free(c);
		return;
	}
	if (B.secret_key == NULL)
	{
		/*
		 * only now: the preparing function has checked the body (422), the compliance gate (412) and the
		 * account (404, 409) first, so a client learns what it can fix whether or not billing is set up
		 */
		reply_detail(c->r, 503, "billing is not configured (STRIPE_SECRET_KEY is not set)");
		json_object_put(o);
		call_free(c);
		return;
	}
	snprintf(url, sizeof(url), "%s%s", B.api_base, json_object_get_string(f));
	if (json_object_object_get_ex(stripe, "method", &f) && json_object_is_type(f, json_type_string))
		method = json_object_get_string(f);
	if (json_object_object_get_ex(o, "action", &f))
		c->action = strdup(json_object_get_string(f));
	if (json_object_object_get_ex(o, "context", &f))
		c->context = strdup(json_object_to_json_string_ext(f, JSON_C_TO_STRING_PLAIN));
	snprintf(auth, sizeof(auth), "Authorization: Bearer %s", B.secret_key);
	headers[0] = auth;
	headers[1] = "Content-Type: application/x-www-form-urlencoded";
	headers[2] = NULL;
	headers[3] = NULL;
	if (json_object_object_get_ex(stripe, "idempotency_key", &f) && json_object_is_type(f, json_type_string))
	{
		snprintf(idem, sizeof(idem), "Idempotency-Key: %.120s", json_object_get_string(f));
		headers[2] = idem;
	}
	body = form_encode(json_object_object_get_ex(stripe, "form", &f) ? f : NULL);
	if (outcall(c->r->srv->base, method, url, headers, body, strlen(body), B.timeout_ms, stripe_cb, c) != 0)
	{
		reply_detail(c->r, 503, "billing is misconfigured: STRIPE_API_BASE is not an http(s) URL");
		call_free(c);
	}
	free(body);
	json_object_put(o);
}

void
billing_stripe_call(Req *r, char **values)
{
	const PoolStatement *stmt = &r->route->stmt;
	const char *v[MAX_ROUTE_ARGS + 1] = {0};
	StripeCall *c;
	int			rc;

	for (int i = 0; i < stmt->nparams; i++)
		v[i] = values[i];
	for (size_t i = 0; i < sizeof(preparers) / sizeof(preparers[0]); i++)
		if (strcmp(preparers[i].route, stmt->name) == 0)
		{
			v[stmt->nparams] = B.return_url;
			stmt = &preparers[i].stmt;
		}
	c = calloc(1, sizeof(StripeCall));
	c->r = r;
	c->user = strdup(values[0]);
	rc = pool_exec(r->srv->pool, stmt, v, prepared_cb, c);
	if (rc != 0)
	{
		reply_detail(r, 503, rc == -2 ? "database unavailable, retry shortly" : "server busy, retry shortly");
		call_free(c);
	}
}

/* ------------------------------------------------------------------------------------------------
 * Webhook
 * ---------------------------------------------------------------------------------------------- */

/*
 * verify_signature: returns NULL when header carries a v1 signature of "<t>.<body>" under one of the
 * configured secrets with t within the tolerance of now, else why not (stripe-node src/Webhooks.ts).
 */
static const char *
verify_signature(const char *header, const char *body, time_t now)
{
	char	   *h;
	char	   *save = NULL;
	const char *t = NULL;
	const char *v1[STRIPE_MAX_V1];
	int			nv1 = 0;
	bool		match = false;
	long long	ts;
	char	   *end;
	const char *why = NULL;

	if (header == NULL || *header == '\0')
		return "missing Stripe-Signature header";
	h = strdup(header);
	for (char *item = strtok_r(h, ",", &save); item; item = strtok_r(NULL, ",", &save))
	{
		char	   *eq;

		while (*item == ' ')
			item++;
		if ((eq = strchr(item, '=')) == NULL)
			continue;
		*eq = '\0';
		if (strcmp(item, "t") == 0)
			t = eq + 1;
		else if (strcmp(item, "v1") == 0 && nv1 < STRIPE_MAX_V1)
			v1[nv1++] = eq + 1;	/* v0 and other schemes are ignored (facts.md) */
	}
	if (t == NULL || *t == '\0' || strlen(t) > 12 || strspn(t, "0123456789") != strlen(t))
		why = "no valid timestamp in Stripe-Signature";
	else if (nv1 == 0)
		why = "no v1 signature in Stripe-Signature";
	else
	{
		size_t		tlen = strlen(t);
		size_t		blen = strlen(body);
		unsigned char *payload = malloc(tlen + 1 + blen);

		memcpy(payload, t, tlen);
		payload[tlen] = '.';
		memcpy(payload + tlen + 1, body, blen);
		for (int s = 0; s < B.nsecrets; s++)
		{
			unsigned char mac[EVP_MAX_MD_SIZE];
			unsigned int maclen = 0;
			char		hex[2 * EVP_MAX_MD_SIZE + 1];

			/* the key is the whole endpoint secret string, whsec_ prefix included (facts.md) */
			HMAC(EVP_sha256(), B.secrets[s], (int) strlen(B.secrets[s]), payload, tlen + 1 + blen, mac, &maclen);
			for (unsigned int i = 0; i < maclen; i++)
				sprintf(hex + 2 * i, "%02x", mac[i]);
			for (int i = 0; i < nv1; i++)
				if (strlen(v1[i]) == 2 * maclen && CRYPTO_memcmp(hex, v1[i], 2 * maclen) == 0)
					match = true;
		}
		free(payload);
		ts = strtoll(t, &end, 10);
		if (!match)
			why = "no signature matches the payload";
		else if (ts < (long long) now - STRIPE_SIGNATURE_TOLERANCE ||
				 ts > (long long) now + STRIPE_SIGNATURE_TOLERANCE)
			why = "timestamp outside the tolerance zone";
	}
	free(h);
	return why;
}

/* applied_cb: ex7.stripe_apply_event answered: 200, 400 for a payload that is no event, 500 otherwise. */
static void
applied_cb(PGresult *res, const char *conn_error, void *arg)
{
	Req		   *r = arg;
	const char *st;

	(void) conn_error;
	if (res == NULL)
	{
		reply_detail(r, 503, "database unavailable, retry shortly");	/* Stripe retries a 503 too */
		return;
	}
	if (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1 && !PQgetisnull(res, 0, 0))
	{
		reply_raw(r, 200, PQgetvalue(res, 0, 0), (size_t) PQgetlength(res, 0, 0));
		return;
	}
	st = PQresultErrorField(res, PG_DIAG_SQLSTATE);
	if (st && (strcmp(st, "X7400") == 0 || strncmp(st, "22", 2) == 0))
	{
		/* a signed payload that is not a Stripe event: retrying it cannot help */
		char		msg[300];

		snprintf(msg, sizeof(msg), "webhook payload is not a Stripe event: %.200s",
				 PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY));
		reply_detail(r, 400, msg);
		return;
	}
	/* "500 on handler error (so Stripe retries)" (ex7-api-reference.txt); the transaction left nothing */
	{
		json_object *f = log_fields();

		log_field_str(f, "request_id", r->request_id);
		log_field_str(f, "sqlstate", st ? st : "");
		ex7_log_with(EX7_ERROR, "stripe_webhook_failed", f, "stripe webhook: %s",
					 PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY)
					 ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : "");
	}
	reply_detail(r, 500, "webhook handler failed; Stripe will retry");
}

void
billing_webhook(Req *r, char **values)
{
	const char *sig = evhttp_find_header(evhttp_request_get_input_headers(r->req), "Stripe-Signature");
	const char *why;
	int			rc;

	if (B.nsecrets == 0)
	{
		reply_detail(r, 503, "billing webhook is not configured (STRIPE_WEBHOOK_SECRET is not set)");
		return;
	}
	if ((why = verify_signature(sig, values[0] ? values[0] : "", time(NULL))) != NULL)
	{
		char		msg[160];

		snprintf(msg, sizeof(msg), "invalid Stripe-Signature: %s", why);
		reply_detail(r, 400, msg);
		return;
	}
	rc = pool_exec(r->srv->pool, &r->route->stmt, (const char *const *) values, applied_cb, r);
	if (rc != 0)
		reply_detail(r, 503, rc == -2 ? "database unavailable, retry shortly" : "server busy, retry shortly");
}
