/*
 * vix.c
 *	  Vix with a language model (docs/account.md, "Vix with a language model"): if an LLM endpoint is
 *	  configured (OpenAI-compatible base URL and key) Vix may use it, and the extension must still
 *	  validate the result.
 *
 *	  Like billing.c, an exception to "one SQL call per request", and ex7d still decides nothing: the
 *	  preparing function ex7.vix_llm_request checks the body and the quota (a 422 or 429 never reaches
 *	  the provider) and returns the Chat Completions request body; ex7d POSTs it to
 *	  EX7_VIX_LLM_BASE/chat/completions through outcall.c with EX7_VIX_LLM_KEY as a Bearer token; then
 *	  ex7.vix_llm_result gets whatever came back (status and body, or why nothing came) and validates the
 *	  graph, falls back to the deterministic generator on any failure, counts the quota and creates the
 *	  draft, in one transaction. Its answer is the reply.
 *
 *	  The key is in this process only: it goes into the Authorization header and nowhere else (not to
 *	  the database, not into a log line, not into a reply). The provider's body is not logged either.
 */
#include "vix.h"
#include "log.h"
#include "auth.h"
#include "outcall.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json.h>
#include <openssl/crypto.h>

static const PoolStatement request_stmt = {
	"vix_llm_request", "SELECT ex7.vix_llm_request($1::uuid, $2::jsonb, $3)", 3
};

static const PoolStatement result_stmt = {
	"vix_llm_result", "SELECT ex7.vix_llm_result($1::uuid, $2::jsonb, $3::integer, $4, $5)", 5
};

typedef struct VixCall
{
	Req		   *r;
	char	   *user;
	char	   *body;			/* the request's JSON body, for vix_llm_result */
} VixCall;

static void
call_free(VixCall *c)
{
	free(c->user);
	free(c->body);
	free(c);
}

/* utf8_valid: returns true when s[0..len) is well-formed UTF-8 without NUL (RFC 3629 section 4). */
static bool
utf8_valid(const unsigned char *s, size_t len)
{
	size_t		i = 0;

	while (i < len)
	{
		unsigned char c = s[i];
		int			n;
		unsigned int cp;

		if (c == 0)
			return false;
		if (c < 0x80)
		{
			i++;
			continue;
		}
		if ((c & 0xE0) == 0xC0)
			n = 1, cp = c & 0x1F;
		else if ((c & 0xF0) == 0xE0)
			n = 2, cp = c & 0x0F;
		else if ((c & 0xF8) == 0xF0)
			n = 3, cp = c & 0x07;
		else
			return false;
		if (i + n >= len)
			return false;
		for (int k = 1; k <= n; k++)
		{
			if ((s[i + k] & 0xC0) != 0x80)
				return false;
			cp = (cp << 6) | (s[i + k] & 0x3F);
		}
		/* overlong forms, UTF-16 surrogates, beyond U+10FFFF */
		if ((n == 1 && cp < 0x80) || (n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) ||
			(cp >= 0xD800 && cp <= 0xDFFF) || cp > 0x10FFFF)
			return false;
		i += n + 1;
	}
	return true;
}

/* result_cb: ex7.vix_llm_result answered: that is the reply. */
static void
result_cb(PGresult *res, const char *conn_error, void *arg)
{
	VixCall    *c = arg;

	(void) conn_error;
	if (!answered_no_row(c->r, res))
		reply_raw(c->r, 200, PQgetvalue(res, 0, 0), (size_t) PQgetlength(res, 0, 0));
	call_free(c);
}

/*
 * log_fallback: returns nothing; one warning line when the endpoint failed: the status or outcall's
 * transport error, never the provider's body (a 401's text may quote the key).
 */
static void
log_fallback(VixCall *c, int status, const char *error)
{
	char		why[200];
	json_object *f = log_fields();

	if (error)
		snprintf(why, sizeof(why), "%s", error);
	else
		snprintf(why, sizeof(why), "HTTP %d", status);
	log_field_str(f, "provider", "llm");
	log_field_str(f, "request_id", c->r->request_id);
	log_field_int(f, "status", status);
	log_field_str(f, "error", why);
	ex7_log_with(EX7_WARN, "provider_error", f,
				 "vix: language model failed (%s): the deterministic generator answers", why);
}

/* hand_over: returns nothing; gives the endpoint's answer (or why there is none) to ex7.vix_llm_result. */
static void
hand_over(VixCall *c, int status, const char *answer, const char *error)
{
	char		st[16];
	const char *v[5];
	int			rc;

	snprintf(st, sizeof(st), "%d", status);
	v[0] = c->user;
	v[1] = c->body;
	v[2] = error ? NULL : st;
	v[3] = error ? NULL : answer;
	v[4] = error;
	if (error || status < 200 || status > 299)
		log_fallback(c, status, error);
	rc = pool_exec(c->r->srv->pool, &result_stmt, v, result_cb, c);
	if (rc != 0)
	{
		reply_detail(c->r, 503, rc == -2 ? "database unavailable, retry shortly" : "server busy, retry shortly");
		call_free(c);
	}
}

/* llm_cb: the endpoint answered, or did not: the extension judges either way. */
static void
llm_cb(const OutResponse *resp, void *arg)
{
	VixCall    *c = arg;

	if (resp->error)
		hand_over(c, 0, NULL, resp->error);
	else if (!utf8_valid((const unsigned char *) resp->body, resp->body_len))
		hand_over(c, resp->status, NULL, "invalid response: the body is not UTF-8 text");
	else
		hand_over(c, resp->status, resp->body, NULL);
}

/* prepared_cb: ex7.vix_llm_request answered: an error is the reply, else its body goes to the model. */
static void
prepared_cb(PGresult *res, const char *conn_error, void *arg)
{
	VixCall    *c = arg;
	const Config *cfg = &c->r->srv->cfg;
	size_t		urllen = strlen(cfg->vix_llm_base) + sizeof("/chat/completions");
	char	   *url;
	char	   *auth = NULL;
	const char *headers[4];
	int			h = 0;
	int			rc;

	(void) conn_error;
	if (answered_no_row(c->r, res))
	{
		call_free(c);
		return;
	}
	url = malloc(urllen);
	snprintf(url, urllen, "%s/chat/completions", cfg->vix_llm_base);
	headers[h++] = "Content-Type: application/json";
	headers[h++] = "Accept: application/json";
	if (cfg->vix_llm_key)
	{
		size_t		alen = strlen(cfg->vix_llm_key) + sizeof("Authorization: Bearer ");

		auth = malloc(alen);
		snprintf(auth, alen, "Authorization: Bearer %s", cfg->vix_llm_key);
		headers[h++] = auth;
	}
	headers[h] = NULL;
	rc = outcall(c->r->srv->base, "POST", url, headers, PQgetvalue(res, 0, 0), (size_t) PQgetlength(res, 0, 0),
				 cfg->vix_llm_timeout_ms, llm_cb, c);
	if (auth)
	{
		OPENSSL_cleanse(auth, strlen(auth));
		free(auth);
	}
	free(url);
	if (rc != 0)
		hand_over(c, 0, NULL, "the endpoint URL is not usable");	/* cb will not run */
}

void
vix_generate_handler(Req *r, char **values)
{
	const Config *cfg = &r->srv->cfg;
	const char *v[3];
	VixCall    *c;
	int			rc;

	if (cfg->vix_llm_base == NULL)
	{
		/* no model: the route's own call, ex7.vix_generate */
		account_exec(r, &r->route->stmt, (const char *const *) values);
		return;
	}
	c = calloc(1, sizeof(VixCall));
	c->r = r;
	c->user = strdup(values[0]);
	c->body = strdup(values[1]);
	v[0] = values[0];
	v[1] = values[1];
	v[2] = cfg->vix_llm_model;
	rc = pool_exec(r->srv->pool, &request_stmt, v, prepared_cb, c);
	if (rc != 0)
	{
		reply_detail(r, 503, rc == -2 ? "database unavailable, retry shortly" : "server busy, retry shortly");
		call_free(c);
	}
}
