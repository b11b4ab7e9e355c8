/*
 * config.h
 *	  ex7d's settings, all from the environment (ex7d --help lists them).
 */
#ifndef EX7D_CONFIG_H
#define EX7D_CONFIG_H

#include <stdbool.h>
#include <stddef.h>

/* Vix's language model when EX7_VIX_LLM_MODEL is unset: a small, cheap chat model of OpenAI's API */
#define VIX_LLM_DEFAULT_MODEL "gpt-4o-mini"

typedef struct Config
{
	char	   *database_url;	/* libpq URI or conninfo */
	char	   *listen_host;
	int			listen_port;
	char	   *jwt_secret;		/* HS256 shared secret, or NULL */
	char	   *jwks_file;		/* JWKS with ES256/RS256 public keys, or NULL */
	char	   *jwt_aud;
	char	   *jwt_iss;		/* NULL: not checked */
	char	   *allowed_origins;	/* comma-separated origins, "*" or NULL (no CORS) */
	int			pool_size;
	size_t		body_limit;
	int			queue_timeout_ms;
	int			statement_timeout_ms;	/* a statement's deadline, enforced by ex7d (http/pool.c) */
	int			connect_timeout_ms; /* a connection attempt's deadline */
	bool		rate_limits;	/* EX7_RATE_LIMITS=off turns the per-tier limits off (benchmarks) */
	/* the signal stream (http/sse.c, docs/stream.md) */
	int			sse_heartbeat_ms;	/* comment frame interval (facts.md: about every 15 s) */
	int			sse_retry_ms;	/* the retry: hint, the client's reconnect delay */
	size_t		sse_buffer_max; /* bytes a stream may have queued before it is closed */
	int			sse_max_per_user;	/* streams one user may hold open on this process */
	/* connections and framing (http/conn.c, docs/http.md "Connections and framing") */
	int			max_connections;	/* EX7_MAX_CONNECTIONS; 0: derived from RLIMIT_NOFILE */
	int			head_timeout_ms;	/* a request head must be complete this long after the
									 * connection is ready for it (also the keep-alive idle limit) */
	int			public_per_minute;	/* caps of one client address on public routes */
	int			public_per_day;
	char	   *client_addr_header;	/* X-Forwarded-For style header of a trusted proxy, or NULL */
	/* Vix's optional language model (http/vix.c, docs/account.md): an OpenAI-compatible endpoint */
	char	   *vix_llm_base;	/* EX7_VIX_LLM_BASE without a trailing slash; NULL: deterministic only */
	char	   *vix_llm_key;	/* EX7_VIX_LLM_KEY, sent as a Bearer token, or NULL (a local server) */
	char	   *vix_llm_model;	/* EX7_VIX_LLM_MODEL */
	int			vix_llm_timeout_ms; /* EX7_VIX_LLM_TIMEOUT_MS: the whole exchange with the endpoint */
} Config;

/*
 * config_load: returns 0 and fills cfg from the environment, or -1 after writing one line per problem
 * to err (unknown EX7_* variables, bad numbers, no key configured, ...).
 */
extern int	config_load(Config *cfg, char *err, size_t errlen);

/* config_free: returns nothing; frees the strings config_load made. */
extern void config_free(Config *cfg);

/*
 * config_pool_timeouts: returns 0 and sets the pool's deadlines from EX7_STATEMENT_TIMEOUT_MS and
 * EX7_CONNECT_TIMEOUT_MS (http/pool.c), or -1 (and -1 in the bad one) after one err line per bad value.
 * Read by config_load and by `ex7d worker`, which has no other setting of the front.
 */
extern int	config_pool_timeouts(int *statement_timeout_ms, int *connect_timeout_ms, char *err, size_t errlen);

/*
 * config_embedded_conninfo: returns a malloc'd conninfo for the `make run` cluster next to the binary
 * (the default DATABASE_URL of the server and of ex7d import-bars), or NULL when there is none.
 */
extern char *config_embedded_conninfo(void);

/* config_usage: returns the --help text. */
extern const char *config_usage(void);

#endif
