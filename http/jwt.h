/*
 * jwt.h
 *	  Verification of Supabase-shaped JWTs (RFC 7519, RFC 7515) following RFC 8725, and minting of
 *	  development HS256 tokens. No libevent: the verifier is a function of the token text, the keys and
 *	  the time (jwt_verify_nocache), so a fuzzer can call it directly.
 */
#ifndef EX7D_JWT_H
#define EX7D_JWT_H

#include <stddef.h>
#include <time.h>

/* RFC 7519 4.1.4 allows "some small leeway" for clock skew, facts.md "JWT" at most a few minutes; ex7d
 * takes 60 s (docs/http.md, "Authentication") */
#define JWT_LEEWAY_SECONDS 60

/*
 * The range of exp, nbf and iat: whole seconds since 1970-01-01 UTC from 0 to 9999-12-31T23:59:59Z.
 * RFC 7519 section 2 allows a NumericDate with a fraction; ex7d takes integers only (Supabase and ex7d
 * itself issue integers), so that NaN, Infinity, 1e300 or 1.5 never stand for a time, and the
 * comparisons with now stay exact integer arithmetic that cannot overflow (docs/http.md).
 */
#define JWT_MAX_NUMERIC_DATE 253402300799L

typedef struct JwtKeys JwtKeys;

typedef struct JwtClaims
{
	char		sub[37];		/* the user's uuid, lower case */
	char		role[32];		/* authenticated | service_role (anon tokens are refused) */
	char		email[321];		/* "" when absent */
	long		exp;
	long		iat;			/* issued at; 0 when the token has none */
} JwtClaims;

/*
 * jwt_keys_load: returns the verification keys: the HS256 secret (may be NULL) and the ES256/RS256
 * public keys of a JWKS file (may be NULL); NULL with a message in err when the JWKS is unusable.
 */
extern JwtKeys *jwt_keys_load(const char *hs_secret, const char *jwks_file, char *err, size_t errlen);
extern void jwt_keys_free(JwtKeys *keys);

/*
 * jwt_verify: returns 0 and fills out when token is valid for audience aud (and issuer iss when not
 * NULL) at time now; -1 with *why set to a short static reason otherwise. Remembers verified tokens
 * (a small cache), so a client's next request with the same token costs no signature check; the
 * answer is always the one jwt_verify_nocache gives.
 */
extern int	jwt_verify(const JwtKeys *keys, const char *token, const char *aud, const char *iss, time_t now,
					   JwtClaims *out, const char **why);

/* jwt_verify_nocache: jwt_verify without the cache: a pure function of its arguments. */
extern int	jwt_verify_nocache(const JwtKeys *keys, const char *token, const char *aud, const char *iss,
							   time_t now, JwtClaims *out, const char **why);

/* jwt_mint_hs256: returns a malloc'd compact JWS of claims_json signed with secret (HS256). */
extern char *jwt_mint_hs256(const char *secret, const char *claims_json);

#endif
