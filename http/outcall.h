/*
 * outcall.h
 *	  The outbound HTTP(S) client of ex7d: one request to a provider (Stripe, an e-mail or chat API) on
 *	  the server's event loop, never blocking it. Used by billing (http/billing.c) and alerts.
 */
#ifndef EX7D_OUTCALL_H
#define EX7D_OUTCALL_H

#include <stddef.h>

#include <event2/event.h>

typedef struct OutResponse
{
	int			status;			/* HTTP status, 0 when there was no response */
	const char *body;			/* response body, NUL-terminated (may contain the provider's JSON) */
	size_t		body_len;
	const char *error;			/* NULL on a response; else "timeout", "connect failed: ...", "tls: ..." */
} OutResponse;

typedef void (*OutcallCb) (const OutResponse *resp, void *arg);

/*
 * outcall: returns 0 when the request was queued (cb runs exactly once, later, from the event loop), -1 on a
 * bad URL (cb does not run). url is http:// or https:// (TLS 1.2+, peer verified against the system CA store,
 * host name checked; EX7_OUTCALL_CAFILE overrides the CA file for tests). headers: NULL-terminated array of
 * "Name: value" strings. body may be NULL. timeout_ms bounds the whole exchange (connect + TLS + response).
 * resp and everything it points to is valid only during the call of cb.
 */
extern int	outcall(struct event_base *base, const char *method, const char *url, const char *const *headers,
					const char *body, size_t body_len, int timeout_ms, OutcallCb cb, void *arg);

/*
 * outcall_free: returns nothing; frees the shared TLS context and DNS resolver (at exit, before the event
 * base is freed). Requests still in flight are abandoned without their callback.
 */
extern void outcall_free(void);

/*
 * outcall_main: returns the exit status of `ex7d fetch [-X METHOD] [-H 'Name: value']... [-d BODY]
 * [--timeout MS] URL`: one request through outcall, the status and body on stdout (0), or the error on
 * stderr (1). An operator's check that ex7d reaches a provider (DNS, CA store, proxy); the e2e tests use it.
 */
extern int	outcall_main(int argc, char **argv);

#endif
