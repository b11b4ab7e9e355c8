/*
 * config.c
 *	  ex7d's settings from the environment. A setting that is unknown (an EX7_ variable we do not read:
 *	  most likely a typo) or invalid stops start-up with a message naming it.
 */
#include "config.h"
#include "pool.h"
#include "listeners.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

extern char **environ;

static const char *const known_ex7_vars[] = {
	"EX7_LISTEN", "EX7_JWT_SECRET", "EX7_JWKS_FILE", "EX7_JWT_AUD", "EX7_JWT_ISS", "EX7_POOL_SIZE",
	"EX7_BODY_LIMIT", "EX7_QUEUE_TIMEOUT_MS", "EX7_RATE_LIMITS", "EX7_PG_PORT",
	"EX7_STATEMENT_TIMEOUT_MS", "EX7_CONNECT_TIMEOUT_MS",	/* the pool's deadlines: http/pool.c */
	"EX7_PUBLIC_PER_MINUTE", "EX7_PUBLIC_PER_DAY", "EX7_CLIENT_ADDR_HEADER",
	"EX7_SSE_HEARTBEAT_MS", "EX7_SSE_RETRY_MS", "EX7_SSE_BUFFER_MAX", "EX7_SSE_MAX_PER_USER",
	"EX7_MAX_CONNECTIONS", "EX7_HEAD_TIMEOUT_MS",	/* http/conn.c */
	"EX7_WORKER", "EX7_WORKER_BATCH", "EX7_WORKER_INTERVAL_MS", "EX7_WORKER_RETRY_MS", "EX7_PUBLIC_URL",	/* http/worker.c */
	"EX7_AUTH_ENABLED", "EX7_AUTH_TOKEN_TTL", "EX7_MASTER_KEYS",	/* read by http/auth.c, http/keys.c */
	"EX7_OUTCALL_CAFILE",		/* read by http/outcall.c */
	"EX7_VIX_LLM_BASE", "EX7_VIX_LLM_KEY", "EX7_VIX_LLM_MODEL", "EX7_VIX_LLM_TIMEOUT_MS",	/* http/vix.c */
	"EX7_METRICS_LISTEN", "EX7_METRICS_TOKEN",	/* read by http/metrics.c */
	"EX7_LISTEN_NODES",			/* read by http/listeners.c */
	"EX7_WEB_DIR",				/* read by http/static.c */
	NULL
};

static const char usage[] =
	"usage: ex7d                      serve the EX7 API\n"
	"       ex7d token --sub UUID [--role authenticated|service_role] [--email E] [--ttl SECONDS]\n"
	"                                 print a development HS256 token signed with EX7_JWT_SECRET\n"
	"       ex7d import-bars FILE|- [--batch N] [--no-dispatch] [--quiet]\n"
	"                                 load closed bars from a CSV (instrument,timeframe,ts,open,high,low,\n"
	"                                 close,volume) through ex7.ingest_bars into DATABASE_URL (docs/market.md)\n"
	"       ex7d fetch [-X METHOD] [-H 'Name: value']... [-d BODY] [--timeout MS] URL\n"
	"                                 one outbound request as ex7d makes them to providers (TLS checks,\n"
	"                                 EX7_OUTCALL_CAFILE): the status and body, or why it failed\n"
	"       ex7d rekey [--batch N]    re-encrypt exchange keys under the current EX7_MASTER_KEYS key\n"
	"       ex7d worker               run only the alerts delivery worker (docs/alerts.md)\n"
	"       ex7d --help | --version\n"
	"\n"
	"environment:\n"
	"  DATABASE_URL          libpq URI or conninfo (default: the embedded cluster of `make run`,\n"
	"                        found at ../.pgdata next to this binary)\n"
	"  EX7_LISTEN            host:port to listen on (default 127.0.0.1:8100)\n"
	"  EX7_JWT_SECRET        HS256 shared secret (Supabase legacy JWT secret)\n"
	"  EX7_JWKS_FILE         JWKS JSON file with ES256/RS256 public keys, matched by kid\n"
	"                        (at least one of EX7_JWT_SECRET and EX7_JWKS_FILE is required)\n"
	"  EX7_JWT_AUD           required audience (default authenticated)\n"
	"  EX7_JWT_ISS           required issuer (default: not checked)\n"
	"  ALLOWED_ORIGINS       CORS: comma-separated origins, or * (default: no CORS headers)\n"
	"  EX7_POOL_SIZE         database connections (default 4, 1..64)\n"
	"  EX7_BODY_LIMIT        largest request body in bytes (default 1048576, 1024..67108864)\n"
	"  EX7_QUEUE_TIMEOUT_MS  how long a request may wait for a free connection (default 5000)\n"
	"  EX7_STATEMENT_TIMEOUT_MS  how long a statement may run before ex7d cancels it, drops its\n"
	"                        connection and answers 503 (default 10000, 100..3600000); docs/ha.md\n"
	"  EX7_CONNECT_TIMEOUT_MS  how long a connection attempt may take (default 5000, 100..600000)\n"
	"  EX7_RATE_LIMITS       on (default) or off: the per-tier request limits (off only for benchmarks)\n"
	"  EX7_PUBLIC_PER_MINUTE requests a client address may make to public routes per minute (default 300)\n"
	"  EX7_PUBLIC_PER_DAY    ... and per UTC day (default 50000)\n"
	"  EX7_CLIENT_ADDR_HEADER  header a trusted proxy puts the client address in, e.g. X-Forwarded-For\n"
	"                        (its last entry is used); default: the TCP peer address\n"
	"  EX7_SSE_HEARTBEAT_MS  signal stream: heartbeat comment interval (default 15000, 50..3600000)\n"
	"  EX7_SSE_RETRY_MS      signal stream: the retry: hint for reconnecting clients (default 3000)\n"
	"  EX7_SSE_BUFFER_MAX    signal stream: bytes queued for a slow client before ex7d closes its\n"
	"                        stream (default 262144, 4096..67108864)\n"
	"  EX7_SSE_MAX_PER_USER  signal stream: streams one user may hold open on this process; beyond\n"
	"                        them 429 (default 16, 1..10000)\n"
	"  EX7_LISTEN_NODES      host:port,... of the database nodes to LISTEN on besides DATABASE_URL\n"
	"                        (default: every node of a Citus cluster, from ex7.notify_nodes())\n"
	"  EX7_MAX_CONNECTIONS   API connections held open at once; at the cap ex7d stops accepting until\n"
	"                        one closes (default: the open-file limit, ulimit -n, less the pool size\n"
	"                        less 64)\n"
	"  EX7_HEAD_TIMEOUT_MS   a request head must be complete this long after the connection is ready\n"
	"                        for it, else the connection is closed (408 when part came; also the\n"
	"                        keep-alive idle limit) (default 10000, 100..600000)\n"
	"  EX7_WORKER            1: run the alerts delivery worker in this process (default 0; docs/alerts.md)\n"
	"  EX7_WORKER_BATCH, EX7_WORKER_INTERVAL_MS, EX7_WORKER_RETRY_MS  its batch (32), timer (5000) and\n"
	"                        first retry wait (30000, doubling, at most an hour)\n"
	"  EX7_PUBLIC_URL        the public URL of this API (unsubscribe links, Twilio callbacks and signatures)\n"
	"  RESEND_API_KEY, RESEND_WEBHOOK_SECRET, RESEND_API_BASE, RESEND_FROM, TELEGRAM_BOT_TOKEN,\n"
	"  TELEGRAM_WEBHOOK_SECRET, TELEGRAM_API_BASE, TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN, TWILIO_API_BASE,\n"
	"  TWILIO_FROM_NUMBER    alert providers (docs/alerts.md)\n"
	"  EX7_AUTH_ENABLED      1: the self-hosted login /api/auth/* (tokens signed with EX7_JWT_SECRET);\n"
	"                        default 0 (those routes answer 404). docs/account.md\n"
	"  EX7_AUTH_TOKEN_TTL    lifetime of the tokens it issues, seconds (default 1800)\n"
	"  EX7_MASTER_KEYS       kid:base64(32 bytes),...: exchange-key encryption keys, the first current\n"
	"  EX7_OUTCALL_CAFILE    CA certificates (PEM) that outbound HTTPS calls trust instead of the\n"
	"                        system store (tests with a self-signed provider stand-in)\n"
	"  STRIPE_SECRET_KEY, STRIPE_WEBHOOK_SECRET, STRIPE_API_BASE, STRIPE_RETURN_URL, STRIPE_TIMEOUT_MS\n"
	"                        billing (docs/billing.md)\n"
	"  EX7_VIX_LLM_BASE      Vix: an OpenAI-compatible API base URL (e.g. https://api.openai.com/v1) whose\n"
	"                        /chat/completions Vix asks first; default none: the deterministic generator\n"
	"                        only. Any failure falls back to it (docs/account.md)\n"
	"  EX7_VIX_LLM_KEY       its API key, sent as Authorization: Bearer (default none: no header)\n"
	"  EX7_VIX_LLM_MODEL     the model (default " VIX_LLM_DEFAULT_MODEL ")\n"
	"  EX7_VIX_LLM_TIMEOUT_MS  the whole exchange with it (default 20000, 100..120000), then fallback\n"
	"  EX7_METRICS_LISTEN    host:port of a separate address for /metrics, /livez and /readyz (default:\n"
	"                        none; /metrics is then served on EX7_LISTEN to EX7_METRICS_TOKEN or a\n"
	"                        service_role token). docs/observability.md\n"
	"  EX7_METRICS_TOKEN     a bearer token (at least 16 bytes) that may read /metrics on EX7_LISTEN\n"
	"  EX7_WEB_DIR           the web console's folder, served at / (read into memory at start-up; \"off\":\n"
	"                        none); default web/ beside the binary's folder, else the package's\n"
	"                        /usr/share/ex7/web. docs/console.md\n";

const char *
config_usage(void)
{
	return usage;
}

/* append: returns nothing; adds one line to the error buffer. */
static void
append(char *err, size_t errlen, const char *fmt, const char *a)
{
	size_t		used = strlen(err);

	if (used < errlen)
		snprintf(err + used, errlen - used, fmt, a);
}

/* int_setting: returns the value of integer variable name in [lo, hi], def when unset, -1 when bad. */
static long
int_setting(const char *name, long def, long lo, long hi, char *err, size_t errlen)
{
	const char *v = getenv(name);
	char	   *end;
	long		n;

	if (v == NULL || *v == '\0')
		return def;
	errno = 0;
	n = strtol(v, &end, 10);
	if (errno != 0 || *end != '\0' || n < lo || n > hi)
	{
		char		msg[160];

		snprintf(msg, sizeof(msg), "%s must be an integer between %ld and %ld\n", name, lo, hi);
		append(err, errlen, "%s", msg);
		return -1;
	}
	return n;
}

int
config_pool_timeouts(int *statement_timeout_ms, int *connect_timeout_ms, char *err, size_t errlen)
{
	long		s = int_setting("EX7_STATEMENT_TIMEOUT_MS", POOL_STATEMENT_TIMEOUT_MS, 100, 3600000, err, errlen);
	long		c = int_setting("EX7_CONNECT_TIMEOUT_MS", POOL_CONNECT_TIMEOUT_MS, 100, 600000, err, errlen);

	*statement_timeout_ms = (int) s;
	*connect_timeout_ms = (int) c;
	return s < 0 || c < 0 ? -1 : 0;
}

char *
config_embedded_conninfo(void)
{
	char		exe[PATH_MAX];
	char		path[PATH_MAX + 32];
	ssize_t		n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	char	   *slash;
	FILE	   *f;
	int			port;
	char	   *out;

	if (n <= 0)
		return NULL;
	exe[n] = '\0';
	if ((slash = strrchr(exe, '/')) == NULL)
		return NULL;
	*slash = '\0';				/* .../http */
	if ((slash = strrchr(exe, '/')) == NULL)
		return NULL;
	*slash = '\0';				/* the project folder */
	snprintf(path, sizeof(path), "%s/.pgdata/port", exe);
	if ((f = fopen(path, "r")) == NULL)
		return NULL;
	if (fscanf(f, "%d", &port) != 1)
		port = 0;
	fclose(f);
	if (port <= 0)
		return NULL;
	out = malloc(PATH_MAX + 96);
	snprintf(out, PATH_MAX + 96, "host=%s/.pgdata port=%d dbname=ex7 user=postgres", exe, port);
	return out;
}

int
config_load(Config *cfg, char *err, size_t errlen)
{
	const char *v;
	long		n;

	err[0] = '\0';
	memset(cfg, 0, sizeof(*cfg));

	for (char **e = environ; *e; e++)
	{
		bool		known = false;
		size_t		len = strcspn(*e, "=");

		if (strncmp(*e, "EX7_", 4) != 0)
			continue;
		for (int i = 0; known_ex7_vars[i]; i++)
			if (strlen(known_ex7_vars[i]) == len && strncmp(*e, known_ex7_vars[i], len) == 0)
				known = true;
		if (!known)
		{
			char		name[128];

			snprintf(name, sizeof(name), "%.*s", (int) (len < 100 ? len : 100), *e);
			append(err, errlen, "unknown setting %s (see ex7d --help)\n", name);
		}
	}

	v = getenv("DATABASE_URL");
	if (v && *v)
	{
		char	   *bad = pool_check_conninfo(v);	/* libpq's own parser: URIs, several hosts */

		if (bad)
		{
			append(err, errlen, "DATABASE_URL cannot be parsed: %s", bad);
			if (bad[0] == '\0' || bad[strlen(bad) - 1] != '\n')
				append(err, errlen, "%s", "\n");
			free(bad);
		}
		cfg->database_url = strdup(v);
	}
	else if ((cfg->database_url = config_embedded_conninfo()) == NULL)
		append(err, errlen, "%s", "DATABASE_URL is not set and no embedded cluster (make run) was found\n");

	v = getenv("EX7_LISTEN");
	if (v == NULL || *v == '\0')
		v = "127.0.0.1:8100";	/* the contract's local dev port (ex7-api-introduction.txt) */
	{
		const char *colon = strrchr(v, ':');
		char	   *end;
		long		port;

		port = colon ? strtol(colon + 1, &end, 10) : -1;
		if (colon == NULL || colon == v || *end != '\0' || port < 1 || port > 65535)
			append(err, errlen, "EX7_LISTEN must be host:port, got \"%s\"\n", v);
		else
		{
			cfg->listen_host = strndup(v, colon - v);
			cfg->listen_port = (int) port;
		}
	}

	v = getenv("EX7_JWT_SECRET");
	if (v && *v)
	{
		/* RFC 7518 3.2: an HS256 key must be at least as long as the hash output, 256 bits */
		if (strlen(v) < 32)
			append(err, errlen, "%s", "EX7_JWT_SECRET must be at least 32 bytes (RFC 7518 section 3.2)\n");
		cfg->jwt_secret = strdup(v);
	}
	v = getenv("EX7_JWKS_FILE");
	if (v && *v)
	{
		if (access(v, R_OK) != 0)
			append(err, errlen, "EX7_JWKS_FILE %s is not readable\n", v);
		cfg->jwks_file = strdup(v);
	}
	if (cfg->jwt_secret == NULL && cfg->jwks_file == NULL)
		append(err, errlen, "%s", "set EX7_JWT_SECRET or EX7_JWKS_FILE: without a key no token can be verified\n");

	v = getenv("EX7_JWT_AUD");
	cfg->jwt_aud = strdup(v && *v ? v : "authenticated");
	v = getenv("EX7_JWT_ISS");
	cfg->jwt_iss = v && *v ? strdup(v) : NULL;
	v = getenv("ALLOWED_ORIGINS");
	cfg->allowed_origins = v && *v ? strdup(v) : NULL;

	n = int_setting("EX7_POOL_SIZE", 4, 1, 64, err, errlen);
	cfg->pool_size = (int) n;
	n = int_setting("EX7_BODY_LIMIT", 1048576, 1024, 67108864, err, errlen);
	cfg->body_limit = (size_t) n;
	n = int_setting("EX7_QUEUE_TIMEOUT_MS", 5000, 100, 600000, err, errlen);
	cfg->queue_timeout_ms = (int) n;
	config_pool_timeouts(&cfg->statement_timeout_ms, &cfg->connect_timeout_ms, err, errlen);
	n = int_setting("EX7_SSE_HEARTBEAT_MS", 15000, 50, 3600000, err, errlen);
	cfg->sse_heartbeat_ms = (int) n;
	n = int_setting("EX7_SSE_RETRY_MS", 3000, 0, 3600000, err, errlen);
	cfg->sse_retry_ms = (int) n;
	n = int_setting("EX7_SSE_BUFFER_MAX", 262144, 4096, 67108864, err, errlen);
	cfg->sse_buffer_max = (size_t) n;
	n = int_setting("EX7_SSE_MAX_PER_USER", 16, 1, 10000, err, errlen);
	cfg->sse_max_per_user = (int) n;
	n = int_setting("EX7_MAX_CONNECTIONS", 0, 1, 1000000, err, errlen);
	cfg->max_connections = (int) n;
	n = int_setting("EX7_HEAD_TIMEOUT_MS", 10000, 100, 600000, err, errlen);
	cfg->head_timeout_ms = (int) n;
	v = getenv("EX7_RATE_LIMITS");
	cfg->rate_limits = true;
	if (v && *v)
	{
		if (strcmp(v, "off") == 0)
			cfg->rate_limits = false;
		else if (strcmp(v, "on") != 0)
			append(err, errlen, "EX7_RATE_LIMITS must be on or off, got \"%s\"\n", v);
	}

	/*
	 * public routes are limited per client address (docs/http.md, "Public routes"); the caps are this
	 * front's setting
	 */
	n = int_setting("EX7_PUBLIC_PER_MINUTE", 300, 1, 1000000, err, errlen);
	cfg->public_per_minute = (int) n;
	n = int_setting("EX7_PUBLIC_PER_DAY", 50000, 1, 1000000000, err, errlen);
	cfg->public_per_day = (int) n;
	v = getenv("EX7_CLIENT_ADDR_HEADER");
	cfg->client_addr_header = v && *v ? strdup(v) : NULL;

	/* Vix's language model (http/vix.c): unset base, deterministic generator only */
	v = getenv("EX7_VIX_LLM_BASE");
	if (v && *v)
	{
		size_t		len;

		if (strncmp(v, "http://", 7) != 0 && strncmp(v, "https://", 8) != 0)
			append(err, errlen, "EX7_VIX_LLM_BASE must be an http:// or https:// URL, got \"%.200s\"\n", v);
		cfg->vix_llm_base = strdup(v);
		len = strlen(cfg->vix_llm_base);
		while (len > 0 && cfg->vix_llm_base[len - 1] == '/')
			cfg->vix_llm_base[--len] = '\0';
	}
	v = getenv("EX7_VIX_LLM_KEY");
	if (v && *v)
	{
		/* it goes into a header line: no line breaks (never quoted in a message: it is a secret) */
		if (strpbrk(v, "\r\n") != NULL)
			append(err, errlen, "%s", "EX7_VIX_LLM_KEY must be one line\n");
		cfg->vix_llm_key = strdup(v);
	}
	v = getenv("EX7_VIX_LLM_MODEL");
	cfg->vix_llm_model = strdup(v && *v ? v : VIX_LLM_DEFAULT_MODEL);
	n = int_setting("EX7_VIX_LLM_TIMEOUT_MS", 20000, 100, 120000, err, errlen);
	cfg->vix_llm_timeout_ms = (int) n;

	listeners_check_setting(err, errlen);	/* EX7_LISTEN_NODES (http/listeners.c) */
	return err[0] ? -1 : 0;
}

void
config_free(Config *cfg)
{
	free(cfg->database_url);
	free(cfg->listen_host);
	free(cfg->jwt_secret);
	free(cfg->jwks_file);
	free(cfg->jwt_aud);
	free(cfg->jwt_iss);
	free(cfg->allowed_origins);
	free(cfg->client_addr_header);
	free(cfg->vix_llm_base);
	free(cfg->vix_llm_key);
	free(cfg->vix_llm_model);
	memset(cfg, 0, sizeof(*cfg));
}
