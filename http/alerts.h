/*
 * alerts.h
 *	  The alert routes that are more than one SQL call: provider webhooks whose signatures ex7d checks
 *	  before anything parses the body, and Verify Channel (docs/alerts.md).
 */
#ifndef EX7D_ALERTS_H
#define EX7D_ALERTS_H

#include <stddef.h>
#include <time.h>

#include "ex7d.h"

/* alerts_init: returns nothing; reads RESEND_WEBHOOK_SECRET, TELEGRAM_WEBHOOK_SECRET, TWILIO_AUTH_TOKEN and
 * EX7_PUBLIC_URL. */
extern void alerts_init(void);

/* alerts_free: returns nothing; frees what alerts_init kept. */
extern void alerts_free(void);

/* Route handlers (routes_alerts.h). values[0] is the raw body, except for verify (user, channel, code). */
extern void alerts_resend_webhook(Req *r, char **values);
extern void alerts_telegram_webhook(Req *r, char **values);
extern void alerts_twilio_webhook(Req *r, char **values);
extern void alerts_soft_status(Req *r, char **values);

/*
 * svix_sign: returns 0 and writes "v1,<base64>" to out (at least 64 bytes): the Svix signature of body
 * for message msg_id at unix time ts with secret "whsec_<base64 key>" (facts.md); -1 for a bad secret.
 */
extern int	svix_sign(const char *secret, const char *msg_id, long ts, const char *body, size_t len, char *out,
					  size_t outlen);

/*
 * svix_verify: returns NULL when one of the space-separated v1 signatures in sig_header is the Svix
 * signature of body with secret, and ts_header lies within the 5 minutes tolerance of now; else why not.
 */
extern const char *svix_verify(const char *secret, const char *id, const char *ts_header, const char *sig_header,
							   const char *body, size_t len, time_t now);

/*
 * twilio_signature: returns 0 and writes base64(HMAC-SHA1(auth_token, url || each param name+value sorted
 * by name)) to out (at least 32 bytes) for a form body (facts.md); -1 when the body is not a form.
 */
extern int	twilio_signature(const char *auth_token, const char *url, const char *form_body, char *out,
							 size_t outlen);

#endif
