/*
 * worker.c
 *	  The alerts delivery worker (docs/alerts.md, "The worker"). Inside ex7d (EX7_WORKER=1) or alone
 *	  (`ex7d worker`); several may run against one database.
 *
 *	  One round: ex7.outbox_claim(worker id, batch, options, lease) leases up to a batch of due
 *	  deliveries (FOR UPDATE SKIP LOCKED, so workers never take the same row) and returns each with the
 *	  provider request the extension built; each is sent through outcall.c with the provider's API key
 *	  (which the database never holds), and ex7.outbox_record stores the answer: the provider's message
 *	  id, or a retry time (exponential backoff with a cap) or the failure. A full batch starts the next
 *	  round at once. NOTIFY ex7_outbox (sent on commit by the transaction that queued a delivery) starts a
 *	  round; a timer does too, for retries that came due and for notifications lost while a LISTEN
 *	  connection was down. The transaction's NOTIFY is sent by the node that ran it (on Citus the worker
 *	  holding the user's shard), so the worker LISTENs on every node (http/listeners.c); a node's listener
 *	  that (re)connects starts a round too.
 *
 *	  A crash between a send and its record: the lease runs out and the row is sent again. The provider's
 *	  idempotency key stops the duplicate where there is one: Resend's Idempotency-Key and the webhook's
 *	  svix-id are the delivery id. Telegram and Twilio have none: a duplicate message is possible there.
 */
#include "worker.h"
#include "alerts.h"
#include "config.h"
#include "listeners.h"
#include "log.h"
#include "outcall.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/http.h>
#include <json.h>
#include <openssl/evp.h>

#define RESEND_DEFAULT_BASE "https://api.resend.com"
#define TELEGRAM_DEFAULT_BASE "https://api.telegram.org"
#define TWILIO_DEFAULT_BASE "https://api.twilio.com"
#define WORKER_DRAIN_SECONDS 20

struct Worker
{
	struct event_base *base;
	Pool	   *pool;
	Listeners  *listeners;		/* LISTEN ex7_outbox on every node (http/listeners.c) */
	struct event *timer;
	char		id[96];
	int			batch;			/* EX7_WORKER_BATCH, deliveries a round */
	int			interval_ms;	/* EX7_WORKER_INTERVAL_MS, the timer */
	int			retry_ms;		/* EX7_WORKER_RETRY_MS, the first retry's wait (doubles each time) */
	int			lease_s;		/* the lease of a claim: longer than a send can take */
	int			timeout_ms;		/* one provider request */
	int			busy;			/* sends and records in flight */
	bool		claiming;
	bool		again;			/* woken during a round: claim again after it */
	bool		stopping;
	bool		claim_failing;	/* the last claim failed: logged once, until one succeeds again */
	char	   *options;		/* outbox_claim's p_options: base_url, email_from, sms_from */
	char	   *resend_key;
	char	   *resend_base;
	char	   *telegram_token;
	char	   *telegram_base;
	char	   *twilio_sid;
	char	   *twilio_token;
	char	   *twilio_base;
};

/* One delivery on its way. */
typedef struct Send
{
	Worker	   *w;
	char		id[40];
	char		provider[16];
} Send;

static const PoolStatement claim_stmt = {
	"outbox_claim", "SELECT ex7.outbox_claim($1, $2::int, $3::jsonb, $4::int)", 4
};
static const PoolStatement record_stmt = {
	"outbox_record", "SELECT ex7.outbox_record($1, $2::uuid, $3::int, $4, $5, $6::int)", 6
};

static void claim(Worker *w);

static char *
env_dup(const char *name, const char *def)
{
	const char *v = getenv(name);

	if (v && *v)
		return strdup(v);
	return def ? strdup(def) : NULL;
}

/* env_int: returns the integer in name when it lies in [lo, hi], else def. */
static int
env_int(const char *name, int def, int lo, int hi)
{
	const char *v = getenv(name);
	char	   *end;
	long		n;

	if (v == NULL || *v == '\0')
		return def;
	n = strtol(v, &end, 10);
	if (*end != '\0' || n < lo || n > hi)
	{
		ex7_log(EX7_WARN, "bad_setting", "%s must be %d..%d: using %d", name, lo, hi, def);
		return def;
	}
	return (int) n;
}

static void
strip_slash(char *s)
{
	size_t		len = s ? strlen(s) : 0;

	while (len > 0 && s[len - 1] == '/')
		s[--len] = '\0';
}

bool
worker_enabled(void)
{
	const char *v = getenv("EX7_WORKER");

	return v && (strcmp(v, "1") == 0 || strcmp(v, "on") == 0 || strcmp(v, "true") == 0);
}

int
worker_busy(Worker *w)
{
	return w ? w->busy + (w->claiming ? 1 : 0) : 0;
}

/* round_done: returns nothing; after the last send of a round, claims again when there may be more. */
static void
round_done(Worker *w)
{
	if (w->busy == 0 && !w->claiming && w->again && !w->stopping)
	{
		w->again = false;
		claim(w);
	}
}

static void
recorded_cb(PGresult *res, const char *conn_error, void *arg)
{
	Send	   *s = arg;
	Worker	   *w = s->w;

	if (res == NULL || PQresultStatus(res) != PGRES_TUPLES_OK)
	{
		/* the row stays leased and is sent again when the lease ends (the header of this file) */
		json_object *f = log_fields();

		log_field_str(f, "delivery_id", s->id);
		log_field_str(f, "provider", s->provider);
		ex7_log_with(EX7_ERROR, "outbox_record_failed", f, "outbox_record failed: %s",
					 res ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : conn_error);
	}
	free(s);
	w->busy--;
	round_done(w);
}

/* record: returns nothing; stores a provider's answer (status 0 and error: no answer). */
static void
record(Send *s, int status, const char *body, const char *error)
{
	Worker	   *w = s->w;
	char		st[16];
	char		retry[16];
	const char *v[6] = {w->id, s->id, st, body, error, retry};

	snprintf(st, sizeof(st), "%d", status);
	snprintf(retry, sizeof(retry), "%d", w->retry_ms);
	if (pool_exec(w->pool, &record_stmt, v, recorded_cb, s) != 0)
	{
		/* the lease runs out and the row is sent again: the idempotency key covers Resend and webhooks */
		json_object *f = log_fields();

		log_field_str(f, "delivery_id", s->id);
		log_field_str(f, "provider", s->provider);
		ex7_log_with(EX7_ERROR, "outbox_record_failed", f, "outbox_record not queued: database unavailable");
		free(s);
		w->busy--;
		round_done(w);
	}
}

static void
sent_cb(const OutResponse *resp, void *arg)
{
	Send	   *s = arg;

	if (resp->error || resp->status < 200 || resp->status >= 300)
	{
		/*
		 * One line per failed attempt (the row's retry or failure is the extension's decision): the
		 * status and transport error, and the start of the provider's body, which for these providers
		 * names the error and never echoes our credentials (Resend, Telegram, Twilio, a receiver's reply)
		 */
		json_object *f = log_fields();

		log_field_str(f, "provider", s->provider);
		log_field_str(f, "delivery_id", s->id);
		log_field_int(f, "status", resp->error ? 0 : resp->status);
		log_field_str(f, "error", resp->error);
		if (resp->body)
			log_field_strn(f, "body", resp->body, strnlen(resp->body, 300));
		ex7_log_with(EX7_WARN, "provider_error", f, "%s delivery failed: %s", s->provider,
					 resp->error ? resp->error : "provider refused it");
	}
	record(s, resp->error ? 0 : resp->status, resp->body ? resp->body : "", resp->error);
}

/* form: returns a malloc'd application/x-www-form-urlencoded body of the string members of o. */
static char *
form(json_object *o)
{
	size_t		cap = 256,
				len = 0;
	char	   *out = malloc(cap);

	out[0] = '\0';
	json_object_object_foreach(o, k, v)
	{
		char	   *ek = evhttp_uriencode(k, -1, 1);
		char	   *ev = evhttp_uriencode(json_object_get_string(v), -1, 1);
		size_t		need = len + strlen(ek) + strlen(ev) + 3;

		if (need > cap)
			out = realloc(out, cap = need * 2);
		len += (size_t) sprintf(out + len, "%s%s=%s", len ? "&" : "", ek, ev);
		free(ek);
		free(ev);
	}
	return out;
}

/* send: returns nothing; sends one claimed job to its provider (or records why it could not). */
static void
send_job(Worker *w, json_object *job)
{
	json_object *f;
	const char *id = json_object_object_get_ex(job, "id", &f) ? json_object_get_string(f) : "";
	const char *provider = json_object_object_get_ex(job, "provider", &f) ? json_object_get_string(f) : "";
	json_object *body = json_object_object_get_ex(job, "body", &f) ? f : NULL;
	Send	   *s = calloc(1, sizeof(Send));
	char		url[2048];
	char		auth[512];
	char		idem[96];
	char		svix_id[64];
	char		svix_ts[32];
	char		svix_sig[128];
	const char *headers[8] = {0};
	char	   *payload = NULL;
	const char *missing = NULL;
	int			h = 0;

	s->w = w;
	snprintf(s->id, sizeof(s->id), "%s", id);
	snprintf(s->provider, sizeof(s->provider), "%s", provider);
	w->busy++;
	if (strcmp(provider, "resend") == 0)
	{
		if (w->resend_key == NULL)
			missing = "RESEND_API_KEY is not set";
		snprintf(url, sizeof(url), "%s/emails", w->resend_base);
		snprintf(auth, sizeof(auth), "Authorization: Bearer %s", w->resend_key ? w->resend_key : "");
		/* Resend keeps a key 24 hours: a re-send after a lost record is not delivered twice */
		snprintf(idem, sizeof(idem), "Idempotency-Key: %s", id);
		headers[h++] = auth;
		headers[h++] = idem;
		headers[h++] = "Content-Type: application/json";
		payload = strdup(json_object_to_json_string_ext(body, JSON_C_TO_STRING_PLAIN));
	}
	else if (strcmp(provider, "telegram") == 0)
	{
		if (w->telegram_token == NULL)
			missing = "TELEGRAM_BOT_TOKEN is not set";
		snprintf(url, sizeof(url), "%s/bot%s/sendMessage", w->telegram_base, w->telegram_token ? w->telegram_token : "");
		headers[h++] = "Content-Type: application/json";
		payload = strdup(json_object_to_json_string_ext(body, JSON_C_TO_STRING_PLAIN));
	}
	else if (strcmp(provider, "twilio") == 0)
	{
		char		pair[256];
		unsigned char b64[400];

		if (w->twilio_sid == NULL || w->twilio_token == NULL)
			missing = "TWILIO_ACCOUNT_SID or TWILIO_AUTH_TOKEN is not set";
		snprintf(url, sizeof(url), "%s/2010-04-01/Accounts/%s/Messages.json", w->twilio_base,
				 w->twilio_sid ? w->twilio_sid : "");
		snprintf(pair, sizeof(pair), "%s:%s", w->twilio_sid ? w->twilio_sid : "",
				 w->twilio_token ? w->twilio_token : "");
		EVP_EncodeBlock(b64, (const unsigned char *) pair, (int) strlen(pair));
		snprintf(auth, sizeof(auth), "Authorization: Basic %s", b64);
		headers[h++] = auth;
		headers[h++] = "Content-Type: application/x-www-form-urlencoded";
		payload = form(body);
	}
	else if (strcmp(provider, "webhook") == 0)
	{
		const char *secret = json_object_object_get_ex(job, "secret", &f) ? json_object_get_string(f) : NULL;
		long		now = (long) time(NULL);
		char		hex[40];
		int			j = 0;

		snprintf(url, sizeof(url), "%s",
				 json_object_object_get_ex(job, "url", &f) ? json_object_get_string(f) : "");
		/* svix-id: msg_ and the delivery id's hex, the same on every attempt (receivers dedupe on it) */
		for (const char *p = id; *p && j < 32; p++)
			if (*p != '-')
				hex[j++] = *p;
		hex[j] = '\0';
		payload = strdup(json_object_to_json_string_ext(body, JSON_C_TO_STRING_PLAIN));
		snprintf(svix_id, sizeof(svix_id), "svix-id: msg_%s", hex);
		snprintf(svix_ts, sizeof(svix_ts), "svix-timestamp: %ld", now);
		memcpy(svix_sig, "svix-signature: ", 16);
		if (secret == NULL || svix_sign(secret, svix_id + 9, now, payload, strlen(payload), svix_sig + 16,
										sizeof(svix_sig) - 16) != 0)
			missing = "the channel has no signing secret";
		headers[h++] = "Content-Type: application/json";
		headers[h++] = "User-Agent: ex7-alerts/1 (+https://ex7capital.com)";
		headers[h++] = svix_id;
		headers[h++] = svix_ts;
		headers[h++] = svix_sig;
	}
	else
		missing = "unknown provider";
	if (missing)
	{
		record(s, 0, "", missing);
		free(payload);
		return;
	}
	if (outcall(w->base, "POST", url, headers, payload, strlen(payload), w->timeout_ms, sent_cb, s) != 0)
		record(s, 0, "", "bad URL");
	free(payload);
}

static void
claimed_cb(PGresult *res, const char *conn_error, void *arg)
{
	Worker	   *w = arg;
	json_object *jobs;
	size_t		n = 0;

	w->claiming = false;
	if (res == NULL || PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1)
	{
		/*
		 * once, not every round: the timer retries every EX7_WORKER_INTERVAL_MS, and a database out of
		 * reach is logged by the pool already (database_unreachable)
		 */
		if (!w->claim_failing && res != NULL)
		{
			json_object *f = log_fields();

			log_field_str(f, "worker", w->id);
			log_field_str(f, "sqlstate", PQresultErrorField(res, PG_DIAG_SQLSTATE));
			ex7_log_with(EX7_ERROR, "outbox_claim_failed", f, "outbox_claim failed: %s",
						 PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY));
		}
		w->claim_failing = w->claim_failing || res != NULL;
		(void) conn_error;
		return;
	}
	if (w->claim_failing)
	{
		w->claim_failing = false;
		ex7_log(EX7_INFO, "outbox_claim_recovered", "outbox_claim succeeds again");
	}
	jobs = json_tokener_parse(PQgetvalue(res, 0, 0));
	if (jobs && json_object_is_type(jobs, json_type_array))
	{
		n = json_object_array_length(jobs);
		for (size_t i = 0; i < n; i++)
			send_job(w, json_object_array_get_idx(jobs, i));
	}
	json_object_put(jobs);
	/* a full batch: there may be more due now */
	if ((int) n >= w->batch)
		w->again = true;
	round_done(w);
}

/* claim: returns nothing; starts a round unless one is running (then one follows it). */
static void
claim(Worker *w)
{
	char		batch[16];
	char		lease[16];
	const char *v[4] = {w->id, batch, w->options, lease};

	if (w->stopping)
		return;
	if (w->claiming || w->busy > 0)
	{
		w->again = true;
		return;
	}
	snprintf(batch, sizeof(batch), "%d", w->batch);
	snprintf(lease, sizeof(lease), "%d", w->lease_s);
	w->claiming = true;
	if (pool_exec(w->pool, &claim_stmt, v, claimed_cb, w) != 0)
		w->claiming = false;	/* the database is down: the timer tries again */
}

static void
timer_cb(evutil_socket_t fd, short what, void *arg)
{
	(void) fd;
	(void) what;
	claim(arg);
}

static void
wake_cb(const char *channel, const char *payload, void *arg)
{
	(void) channel;
	(void) payload;
	claim(arg);
}

static void
listening_cb(void *arg)
{
	claim(arg);					/* what was queued while the LISTEN connection was down */
}

Worker *
worker_start(struct event_base *base, Pool *pool, const char *conninfo)
{
	Worker	   *w = calloc(1, sizeof(Worker));
	char		host[64] = "";
	json_object *o = json_object_new_object();
	char	   *v;
	struct timeval every;

	w->base = base;
	w->pool = pool;
	gethostname(host, sizeof(host) - 1);
	snprintf(w->id, sizeof(w->id), "%s:%d:%lx", host, (int) getpid(), (unsigned long) time(NULL));
	w->batch = env_int("EX7_WORKER_BATCH", 32, 1, 1000);
	w->interval_ms = env_int("EX7_WORKER_INTERVAL_MS", 5000, 10, 3600000);
	w->retry_ms = env_int("EX7_WORKER_RETRY_MS", 30000, 1, 3600000);
	w->timeout_ms = 15000;
	w->lease_s = 60;			/* four times the request timeout: a send never outlives its lease */
	w->resend_key = env_dup("RESEND_API_KEY", NULL);
	w->resend_base = env_dup("RESEND_API_BASE", RESEND_DEFAULT_BASE);
	w->telegram_token = env_dup("TELEGRAM_BOT_TOKEN", NULL);
	w->telegram_base = env_dup("TELEGRAM_API_BASE", TELEGRAM_DEFAULT_BASE);
	w->twilio_sid = env_dup("TWILIO_ACCOUNT_SID", NULL);
	w->twilio_token = env_dup("TWILIO_AUTH_TOKEN", NULL);
	w->twilio_base = env_dup("TWILIO_API_BASE", TWILIO_DEFAULT_BASE);
	strip_slash(w->resend_base);
	strip_slash(w->telegram_base);
	strip_slash(w->twilio_base);
	if ((v = env_dup("EX7_PUBLIC_URL", NULL)) != NULL)
	{
		json_object_object_add(o, "base_url", json_object_new_string(v));
		free(v);
	}
	if ((v = env_dup("RESEND_FROM", NULL)) != NULL)
	{
		json_object_object_add(o, "email_from", json_object_new_string(v));
		free(v);
	}
	if ((v = env_dup("TWILIO_FROM_NUMBER", NULL)) != NULL)
	{
		json_object_object_add(o, "sms_from", json_object_new_string(v));
		free(v);
	}
	w->options = strdup(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
	json_object_put(o);
	w->listeners = listeners_new(base, pool, conninfo, "LISTEN ex7_outbox", wake_cb, listening_cb, w, "worker");
	w->timer = event_new(base, -1, EV_PERSIST, timer_cb, w);
	every.tv_sec = w->interval_ms / 1000;
	every.tv_usec = (w->interval_ms % 1000) * 1000;
	event_add(w->timer, &every);
	{
		json_object *f = log_fields();

		log_field_str(f, "worker", w->id);
		log_field_int(f, "batch", w->batch);
		log_field_int(f, "interval_ms", w->interval_ms);
		ex7_log_with(EX7_INFO, "worker_started", f, "alerts worker %s started (batch %d, every %d ms)", w->id,
					 w->batch, w->interval_ms);
	}
	return w;
}

void
worker_stop(Worker *w)
{
	if (w == NULL)
		return;
	w->stopping = true;
	if (w->timer)
		event_del(w->timer);
}

void
worker_free(Worker *w)
{
	if (w == NULL)
		return;
	if (w->timer)
		event_free(w->timer);
	listeners_free(w->listeners);
	free(w->options);
	free(w->resend_key);
	free(w->resend_base);
	free(w->telegram_token);
	free(w->telegram_base);
	free(w->twilio_sid);
	free(w->twilio_token);
	free(w->twilio_base);
	free(w);
}

/* `ex7d worker`: the worker alone. SIGTERM/SIGINT: stop claiming, let the sends in flight be recorded. */
static Worker *solo;
static struct event_base *solo_base;
static struct event *solo_drain;
static time_t solo_stop_at;

static void
solo_drain_cb(evutil_socket_t fd, short what, void *arg)
{
	(void) fd;
	(void) what;
	(void) arg;
	if (worker_busy(solo) == 0 || time(NULL) >= solo_stop_at)
		event_base_loopexit(solo_base, NULL);
}

static void
solo_signal_cb(evutil_socket_t sig, short what, void *arg)
{
	struct timeval tick = {0, 50 * 1000};

	(void) sig;
	(void) what;
	(void) arg;
	if (solo_drain)
		return;
	worker_stop(solo);
	solo_stop_at = time(NULL) + WORKER_DRAIN_SECONDS;
	solo_drain = event_new(solo_base, -1, EV_PERSIST, solo_drain_cb, NULL);
	event_add(solo_drain, &tick);
}

int
worker_main(int argc, char **argv)
{
	const char *url = getenv("DATABASE_URL");
	char	   *embedded = NULL;
	Pool	   *pool;
	struct event *sigterm;
	struct event *sigint;
	int			statement_ms;
	int			connect_ms;
	char		err[512] = "";

	(void) argv;
	if (argc > 2)
	{
		fprintf(stderr, "usage: ex7d worker   (settings: docs/alerts.md)\n");
		return 2;
	}
	if (config_pool_timeouts(&statement_ms, &connect_ms, err, sizeof(err)) != 0 ||
		listeners_check_setting(err, sizeof(err)) != 0)
	{
		fputs(err, stderr);
		return 2;
	}
	pool_set_timeouts(statement_ms, connect_ms);
	if (url == NULL || *url == '\0')
		url = embedded = config_embedded_conninfo();
	if (url == NULL)
		url = "";				/* libpq's PG* variables */
	signal(SIGPIPE, SIG_IGN);
	alerts_init();
	solo_base = event_base_new();
	pool = pool_new(solo_base, url, 2, 1024, 5000);
	solo = worker_start(solo_base, pool, url);
	sigterm = evsignal_new(solo_base, SIGTERM, solo_signal_cb, NULL);
	sigint = evsignal_new(solo_base, SIGINT, solo_signal_cb, NULL);
	event_add(sigterm, NULL);
	event_add(sigint, NULL);
	event_base_dispatch(solo_base);
	event_free(sigterm);
	event_free(sigint);
	if (solo_drain)
		event_free(solo_drain);
	worker_free(solo);
	pool_free(pool);
	outcall_free();
	alerts_free();
	event_base_free(solo_base);
	free(embedded);
	return 0;
}
