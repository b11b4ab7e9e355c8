/*
 * auth.h
 *	  The account area of ex7d (docs/account.md): the self-hosted login (sign-up, login with a
 *	  form or JSON, password change, session check) whose tokens ex7d signs with its HS256 secret, and the
 *	  handlers that turn a 429 of the database into a Retry-After header (waitlist, Vix).
 */
#ifndef EX7D_AUTH_H
#define EX7D_AUTH_H

#include "ex7d.h"
#include "keys.h"

/*
 * account_init: returns 0 after reading EX7_AUTH_ENABLED, EX7_AUTH_TOKEN_TTL and EX7_MASTER_KEYS
 * (keys.c), or -1 with one line per problem appended to err. cfg gives the signing secret and claims.
 */
extern int	account_init(const Config *cfg, char *err, size_t errlen);
extern void account_free(void);

/* account_exec: returns nothing; route_exec, except that a 429 from the database sets Retry-After to
 * the retry_after of its detail. */
extern void account_exec(Req *r, const PoolStatement *stmt, const char *const *values);

/* Route handlers (http/routes_account.h). */
extern void account_retry_handler(Req *r, char **values);
extern void auth_signup_handler(Req *r, char **values);
extern void auth_login_handler(Req *r, char **values);
extern void auth_password_handler(Req *r, char **values);
extern void auth_session_handler(Req *r, char **values);

#endif
