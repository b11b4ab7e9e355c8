/*
 * jwt.h
 *	  Verification of Supabase-shaped JWTs (RFC 7519, RFC 7515) following RFC 8725, and minting of
 *	  development HS256 tokens.
 */
#ifndef EX7D_JWT_H
#define EX7D_JWT_H

#include <stddef.h>
#include <time.h>

/* RFC 7519 4.1.4 allows "some small leeway" for clock skew, facts.md "JWT" at most a few minutes; ex7d
 * takes 60 s (docs/http.md, "Authentication") */
#define JWT_LEEWAY_SECONDS 60

typedef struct JwtKeys JwtKeys;

typedef struct JwtClaims
{
	char		sub[37];		/* the user's uuid, lower case */
	char		role[32];		/* authenticated | anon | service_role */
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
 * NULL) at time now; -1 with *why set to a short static reason otherwise.
 */
extern int	jwt_verify(const JwtKeys *keys, const char *token, const char *aud, const char *iss, time_t now,
					   JwtClaims *out, const char **why);

/* jwt_mint_hs256: returns a malloc'd compact JWS of claims_json signed with secret (HS256). */
extern char *jwt_mint_hs256(const char *secret, const char *claims_json);

/* b64url_decode: returns a malloc'd buffer of *outlen bytes, or NULL when in is not unpadded base64url. */
extern unsigned char *b64url_decode(const char *in, size_t inlen, size_t *outlen);

/* b64url_encode: returns a malloc'd unpadded base64url string. */
extern char *b64url_encode(const unsigned char *in, size_t len);

#endif
