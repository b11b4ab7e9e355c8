/*
 * jwt.c
 *	  JWT verification with OpenSSL (facts.md, "JWT"; RFC 7519, RFC 7515, RFC 8725).
 *
 * RFC 8725 rules applied here:
 *  - the verifier fixes the algorithms: HS256 with the configured secret, ES256 and RS256 with the JWKS
 *    keys; anything else (including "none") is refused;
 *  - one key serves one algorithm: a JWKS key is never used as an HMAC secret (no HS256/RS256
 *    confusion), an EC key only verifies ES256, an RSA key only RS256, and a key whose "alg" is set
 *    only that algorithm;
 *  - kid is untrusted input: it only selects among configured keys; an unknown kid is refused;
 *  - aud is required and must match; exp is required; exp, nbf and iat are checked with a 60 s leeway.
 * And the rules of a strict edge (docs/http.md, "Authentication"):
 *  - the decoded header and claims are each one strict JSON object (RFC 8259, http/json_strict.c):
 *    json-c alone takes NaN, Infinity, single quotes and trailing text;
 *  - every string is read as a value with its length, never as a C string: a NUL inside a member name
 *    or a value ("<uuid>\u0000evil") is refused instead of comparing equal to the text before it;
 *  - exp, nbf and iat are integers from 0 to JWT_MAX_NUMERIC_DATE (jwt.h says why integers);
 *  - a token issued more than the leeway in the future is refused: revocation by a password change
 *    compares iat with the time of the change (docs/account.md), so a far-future iat would survive it;
 *  - a crit header parameter is refused (RFC 7515 4.1.11: a recipient must refuse an extension it does
 *    not understand, and ex7d understands none);
 *  - a token with role anon is refused: public routes read no token, and every other route needs a user
 *    or the service role (docs/http.md).
 */
#include "jwt.h"
#include "json_strict.h"
#include "util.h"
#include "../ext/base64url.h"

#include <ctype.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/ecdsa.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/param_build.h>

#define JWT_MAX_LEN 16384		/* far above any Supabase token; bounds the work on garbage */
#define JWKS_MAX_KEYS 16

typedef struct JwkKey
{
	char	   *kid;
	int			alg;			/* ALG_ES256 or ALG_RS256 */
	EVP_PKEY   *pkey;
} JwkKey;

struct JwtKeys
{
	char	   *hs_secret;
	JwkKey		keys[JWKS_MAX_KEYS];
	int			nkeys;
};

enum
{
	ALG_HS256 = 1,
	ALG_ES256,
	ALG_RS256
};

/* The time claims of a verified token: the only part of the answer that depends on now. */
typedef struct JwtTimes
{
	long		exp;
	long		nbf;
	long		iat;
	bool		has_nbf;
	bool		has_iat;
} JwtTimes;

/*
 * A small cache of verified tokens: a client sends the same token with every request until it expires,
 * and verifying it again (two JSON parses, an HMAC or a signature check) was a large part of a request.
 * Direct-mapped by a hash of the token; an entry holds the whole token and the audience and issuer it
 * was verified for, compared in full before use, and the claims it produced. Only the time claims
 * depend on now, so they are checked again on every hit (times_check, the same code as a full check).
 */
#define JWT_CACHE_SIZE 1024
#define JWT_CACHE_MAX_TOKEN 2048

typedef struct JwtCacheEntry
{
	char	   *token;
	char	   *aud;
	char	   *iss;			/* NULL: verified without an issuer check */
	JwtClaims	claims;
	JwtTimes	times;
	const JwtKeys *keys;
} JwtCacheEntry;

static JwtCacheEntry jwt_cache[JWT_CACHE_SIZE];

/* cache_entry_clear: returns nothing; empties e. */
static void
cache_entry_clear(JwtCacheEntry *e)
{
	free(e->token);
	free(e->aud);
	free(e->iss);
	memset(e, 0, sizeof(*e));
}

/*
 * b64url_decode_alloc: returns a malloc'd buffer of *outlen bytes decoded from in (strict unpadded
 * base64url, ext/base64url.h), or NULL when in is not that. One byte more is allocated so that an
 * empty result is not NULL.
 */
static unsigned char *
b64url_decode_alloc(const char *in, size_t inlen, size_t *outlen)
{
	size_t		want = b64url_decoded_len(inlen);
	unsigned char *out;

	if (want == (size_t) -1 || (out = malloc(want + 1)) == NULL)
		return NULL;
	if (!b64url_decode(in, inlen, out, outlen))
	{
		free(out);
		return NULL;
	}
	return out;
}

/* b64url_encode_alloc: returns a malloc'd unpadded base64url string of the len bytes of in. */
static char *
b64url_encode_alloc(const unsigned char *in, size_t len)
{
	char	   *out = malloc(b64url_encoded_len(len) + 1);

	if (out)
		b64url_encode(in, len, out);
	return out;
}

/*
 * string_of: returns the text of v and sets *len when v is a JSON string holding no NUL; else NULL.
 * json-c gives strings with their length: a "\u0000" escape puts a NUL inside, where a C string
 * comparison would stop.
 */
static const char *
string_of(json_object *v, size_t *len)
{
	const char *s;
	int			n;

	if (v == NULL || !json_object_is_type(v, json_type_string))
		return NULL;
	s = json_object_get_string(v);
	n = json_object_get_string_len(v);
	if (s == NULL || n < 0 || memchr(s, '\0', (size_t) n) != NULL)
		return NULL;
	*len = (size_t) n;
	return s;
}

/* string_is: returns true when v is a JSON string equal to want in its whole length. */
static bool
string_is(json_object *v, const char *want)
{
	size_t		len;
	const char *s = string_of(v, &len);

	return s != NULL && len == strlen(want) && memcmp(s, want, len) == 0;
}

/* jwk_bn: returns the BIGNUM of base64url member name of obj, or NULL. */
static BIGNUM *
jwk_bn(json_object *obj, const char *name)
{
	json_object *v;
	unsigned char *raw;
	size_t		len;
	BIGNUM	   *bn;

	if (!json_object_object_get_ex(obj, name, &v) || !json_object_is_type(v, json_type_string))
		return NULL;
	raw = b64url_decode_alloc(json_object_get_string(v), (size_t) json_object_get_string_len(v), &len);
	if (raw == NULL)
		return NULL;
	bn = BN_bin2bn(raw, (int) len, NULL);
	free(raw);
	return bn;
}

/* jwk_raw: returns the decoded base64url member name of obj when it is exactly want bytes, or NULL. */
static unsigned char *
jwk_raw(json_object *obj, const char *name, size_t want)
{
	json_object *v;
	unsigned char *raw;
	size_t		len;

	if (!json_object_object_get_ex(obj, name, &v) || !json_object_is_type(v, json_type_string))
		return NULL;
	raw = b64url_decode_alloc(json_object_get_string(v), (size_t) json_object_get_string_len(v), &len);
	if (raw && len != want)
	{
		free(raw);
		return NULL;
	}
	return raw;
}

/* pkey_from_params: returns an EVP_PKEY of type name built from the params, or NULL. */
static EVP_PKEY *
pkey_from_params(const char *name, OSSL_PARAM_BLD *bld)
{
	OSSL_PARAM *params = OSSL_PARAM_BLD_to_param(bld);
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, name, NULL);
	EVP_PKEY   *pkey = NULL;

	if (params && ctx && EVP_PKEY_fromdata_init(ctx) > 0)
		if (EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_PUBLIC_KEY, params) <= 0)
			pkey = NULL;
	EVP_PKEY_CTX_free(ctx);
	OSSL_PARAM_free(params);
	return pkey;
}

/* jwk_load: returns 0 and fills k from one JWKS entry, or -1 with a reason. */
static int
jwk_load(json_object *jwk, JwkKey *k, const char **why)
{
	json_object *v;
	const char *kid;
	const char *kty;
	const char *alg = NULL;
	size_t		len;
	OSSL_PARAM_BLD *bld;

	memset(k, 0, sizeof(*k));
	/* kid and kty are compared as whole values: one with a NUL inside is refused, not cut */
	if (!json_object_object_get_ex(jwk, "kid", &v) || (kid = string_of(v, &len)) == NULL)
		return (*why = "every JWKS key needs a string kid", -1);
	k->kid = strdup(kid);
	if (!json_object_object_get_ex(jwk, "kty", &v) || (kty = string_of(v, &len)) == NULL)
		return (*why = "every JWKS key needs kty", -1);
	if (json_object_object_get_ex(jwk, "alg", &v) && (alg = string_of(v, &len)) == NULL)
		return (*why = "a JWKS key's alg must be a string", -1);
	bld = OSSL_PARAM_BLD_new();

	if (strcmp(kty, "RSA") == 0)
	{
		BIGNUM	   *n = jwk_bn(jwk, "n");
		BIGNUM	   *e = jwk_bn(jwk, "e");

		if (alg && strcmp(alg, "RS256") != 0)
			*why = "only RS256 is accepted for RSA keys";
		else if (n == NULL || e == NULL || BN_num_bits(n) < 2048)
			*why = "RSA key needs n (at least 2048 bits) and e";
		else
		{
			OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, n);
			OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, e);
			k->pkey = pkey_from_params("RSA", bld);
			k->alg = ALG_RS256;
		}
		BN_free(n);
		BN_free(e);
	}
	else if (strcmp(kty, "EC") == 0)
	{
		unsigned char *x = jwk_raw(jwk, "x", 32);
		unsigned char *y = jwk_raw(jwk, "y", 32);
		unsigned char pub[65];

		if (alg && strcmp(alg, "ES256") != 0)
			*why = "only ES256 is accepted for EC keys";
		else if (!json_object_object_get_ex(jwk, "crv", &v) || !string_is(v, "P-256"))
			*why = "EC keys must be on curve P-256";
		else if (x == NULL || y == NULL)
			*why = "EC key needs 32-byte x and y";
		else
		{
			pub[0] = 0x04;		/* uncompressed point, SEC 1 2.3.3 */
			memcpy(pub + 1, x, 32);
			memcpy(pub + 33, y, 32);
			OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, "prime256v1", 0);
			OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, pub, sizeof(pub));
			k->pkey = pkey_from_params("EC", bld);
			k->alg = ALG_ES256;
		}
		free(x);
		free(y);
	}
	else
		*why = "unsupported kty (RSA and EC only)";
	OSSL_PARAM_BLD_free(bld);
	if (k->pkey == NULL)
	{
		if (*why == NULL)
			*why = "unusable public key";
		return -1;
	}
	return 0;
}

JwtKeys *
jwt_keys_load(const char *hs_secret, const char *jwks_file, char *err, size_t errlen)
{
	JwtKeys    *keys = calloc(1, sizeof(JwtKeys));
	json_object *root;
	json_object *arr;

	if (hs_secret)
		keys->hs_secret = strdup(hs_secret);
	if (jwks_file == NULL)
		return keys;
	root = json_object_from_file(jwks_file);
	if (root == NULL || !json_object_object_get_ex(root, "keys", &arr) ||
		!json_object_is_type(arr, json_type_array))
	{
		snprintf(err, errlen, "EX7_JWKS_FILE %s: not a JWKS ({\"keys\": [...]})", jwks_file);
		json_object_put(root);
		jwt_keys_free(keys);
		return NULL;
	}
	for (size_t i = 0; i < json_object_array_length(arr) && keys->nkeys < JWKS_MAX_KEYS; i++)
	{
		const char *why = NULL;

		if (jwk_load(json_object_array_get_idx(arr, i), &keys->keys[keys->nkeys], &why) != 0)
		{
			snprintf(err, errlen, "EX7_JWKS_FILE %s: key %zu: %s", jwks_file, i, why);
			free(keys->keys[keys->nkeys].kid);
			json_object_put(root);
			jwt_keys_free(keys);
			return NULL;
		}
		keys->nkeys++;
	}
	json_object_put(root);
	return keys;
}

void
jwt_keys_free(JwtKeys *keys)
{
	if (keys == NULL)
		return;
	for (int i = 0; i < JWT_CACHE_SIZE; i++)
		if (jwt_cache[i].keys == keys)
			cache_entry_clear(&jwt_cache[i]);
	for (int i = 0; i < keys->nkeys; i++)
	{
		free(keys->keys[i].kid);
		EVP_PKEY_free(keys->keys[i].pkey);
	}
	free(keys->hs_secret);
	free(keys);
}

/* verify_pkey: returns true when sig is a valid alg signature of msg under pkey. */
static bool
verify_pkey(EVP_PKEY *pkey, int alg, const unsigned char *msg, size_t msglen, const unsigned char *sig,
			size_t siglen)
{
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	unsigned char *der = NULL;
	size_t		derlen = 0;
	bool		ok = false;

	if (alg == ALG_ES256)
	{
		/* JWS ES256 signatures are R || S, 32 bytes each (RFC 7518 3.4); OpenSSL wants DER */
		ECDSA_SIG  *es;
		int			n;

		if (siglen != 64)
			goto done;
		es = ECDSA_SIG_new();
		ECDSA_SIG_set0(es, BN_bin2bn(sig, 32, NULL), BN_bin2bn(sig + 32, 32, NULL));
		n = i2d_ECDSA_SIG(es, &der);
		ECDSA_SIG_free(es);
		if (n <= 0)
			goto done;
		derlen = (size_t) n;
		sig = der;
		siglen = derlen;
	}
	if (EVP_DigestVerifyInit(md, NULL, EVP_sha256(), NULL, pkey) == 1 &&
		EVP_DigestVerify(md, sig, siglen, msg, msglen) == 1)
		ok = true;
done:
	OPENSSL_free(der);
	EVP_MD_CTX_free(md);
	return ok;
}

/*
 * json_part: returns the parsed JSON object of a base64url token part, or NULL with *why. The text must
 * be one strict JSON object (http/json_strict.c: RFC 8259 grammar, so no NaN, Infinity, single quotes
 * or trailing text; UTF-8 strings; no \u0000, which json-c would keep inside a value and cut a member
 * name at, so that {"aud\u0000x": ...} would read as aud) before json-c parses it. A member named twice
 * counts with its last value (json-c), as RFC 7515 section 4 and RFC 7519 section 4 allow.
 */
static json_object *
json_part(const char *s, size_t len, const char **why)
{
	size_t		rawlen;
	unsigned char *raw = b64url_decode_alloc(s, len, &rawlen);
	JsonStrictError jerr;
	json_tokener *tok;
	json_object *obj;

	*why = "malformed token";
	if (raw == NULL)
		return NULL;
	if (json_strict_check((const char *) raw, rawlen, &jerr) != JSON_STRICT_OK ||
		jerr.top != JSON_STRICT_T_OBJECT)
	{
		*why = jerr.kind == JSON_STRICT_STRING_NUL ? "NUL character in a string" : "not strict JSON (RFC 8259)";
		free(raw);
		return NULL;
	}
	tok = json_tokener_new_ex(JSON_STRICT_JSONC_DEPTH);
	obj = tok ? json_tokener_parse_ex(tok, (const char *) raw, (int) rawlen) : NULL;
	/* json-c must agree: the whole part is one object, nothing after it */
	if (obj && (json_tokener_get_error(tok) != json_tokener_success || json_tokener_get_parse_end(tok) != rawlen ||
				!json_object_is_type(obj, json_type_object)))
	{
		json_object_put(obj);
		obj = NULL;
	}
	json_tokener_free(tok);
	free(raw);
	return obj;
}

/*
 * date_claim: returns 1 and sets *out when claim name is an integer from 0 to JWT_MAX_NUMERIC_DATE,
 * 0 when the claim is absent, -1 with *why = bad otherwise (a fraction, an exponent, NaN, Infinity, a
 * string, null, a negative or a far too large number: json-c types every number written with a '.' or
 * an exponent as a double).
 */
static int
date_claim(json_object *claims, const char *name, long *out, const char *bad, const char **why)
{
	json_object *v;
	int64_t		n;

	if (!json_object_object_get_ex(claims, name, &v))
		return 0;
	if (v == NULL || !json_object_is_type(v, json_type_int))
		return (*why = bad, -1);
	n = json_object_get_int64(v);	/* a value above INT64_MAX comes back as INT64_MAX */
	if (n < 0 || n > JWT_MAX_NUMERIC_DATE)
		return (*why = bad, -1);
	*out = (long) n;
	return 1;
}

/*
 * times_check: returns NULL when a token with times t is valid at now, else the reason. exp and nbf as
 * RFC 7519 4.1.4 and 4.1.5 say, with the leeway; iat (4.1.6 leaves its use to the application) may not
 * be beyond the leeway in the future, because revocation trusts it (file comment). Written so that no
 * sum can overflow whatever now is (the claims are at most JWT_MAX_NUMERIC_DATE).
 */
static const char *
times_check(const JwtTimes *t, time_t now)
{
	if (now >= t->exp + JWT_LEEWAY_SECONDS)
		return "token expired";
	if (t->has_nbf && now < t->nbf - JWT_LEEWAY_SECONDS)
		return "token not yet valid";
	if (t->has_iat && now < t->iat - JWT_LEEWAY_SECONDS)
		return "token issued in the future";
	return NULL;
}

/* aud_matches: returns true when the aud claim (a string or an array of strings) contains aud. */
static bool
aud_matches(json_object *claims, const char *aud)
{
	json_object *v;

	if (!json_object_object_get_ex(claims, "aud", &v) || v == NULL)
		return false;
	if (json_object_is_type(v, json_type_string))
		return string_is(v, aud);
	if (json_object_is_type(v, json_type_array))
		for (size_t i = 0; i < json_object_array_length(v); i++)
			if (string_is(json_object_array_get_idx(v, i), aud))
				return true;
	return false;
}

/* verify_full: jwt_verify_nocache, also reporting the time claims to the cache. */
static int
verify_full(const JwtKeys *keys, const char *token, const char *aud, const char *iss, time_t now,
			JwtClaims *out, const char **why, JwtTimes *times)
{
	const char *dot1;
	const char *dot2;
	json_object *header = NULL;
	json_object *claims = NULL;
	json_object *v;
	const char *kid = NULL;
	size_t		kidlen = 0;
	size_t		len;
	const char *s;
	unsigned char *sig = NULL;
	size_t		siglen;
	int			algo;
	int			rc = -1;
	int			got;

	memset(out, 0, sizeof(*out));
	memset(times, 0, sizeof(*times));
	*why = "malformed token";
	if (token == NULL || strlen(token) > JWT_MAX_LEN)
		return -1;
	dot1 = strchr(token, '.');
	dot2 = dot1 ? strchr(dot1 + 1, '.') : NULL;
	if (dot1 == NULL || dot2 == NULL || strchr(dot2 + 1, '.') != NULL || dot1 == token || dot2 == dot1 + 1)
		return -1;

	if ((header = json_part(token, (size_t) (dot1 - token), why)) == NULL)
		goto done;
	*why = "malformed token";
	if (!json_object_object_get_ex(header, "alg", &v) || !json_object_is_type(v, json_type_string))
		goto done;
	if (string_is(v, "HS256"))
		algo = ALG_HS256;
	else if (string_is(v, "ES256"))
		algo = ALG_ES256;
	else if (string_is(v, "RS256"))
		algo = ALG_RS256;
	else
	{
		*why = "algorithm not accepted";
		goto done;
	}
	if (json_object_object_get_ex(header, "kid", &v))
	{
		if ((kid = string_of(v, &kidlen)) == NULL)
		{
			*why = "unknown key";
			goto done;
		}
	}
	/* RFC 7515 4.1.11: extensions named in crit must be understood; ex7d understands none */
	if (json_object_object_get_ex(header, "crit", NULL))
	{
		*why = "crit header parameter not understood";
		goto done;
	}

	sig = b64url_decode_alloc(dot2 + 1, strlen(dot2 + 1), &siglen);
	if (sig == NULL)
		goto done;

	if (algo == ALG_HS256)
	{
		unsigned char mac[EVP_MAX_MD_SIZE];
		unsigned int maclen = 0;

		if (keys->hs_secret == NULL)
		{
			*why = "algorithm not accepted";
			goto done;
		}
		HMAC(EVP_sha256(), keys->hs_secret, (int) strlen(keys->hs_secret), (const unsigned char *) token,
			 (size_t) (dot2 - token), mac, &maclen);
		if (siglen != maclen || CRYPTO_memcmp(mac, sig, maclen) != 0)
		{
			*why = "bad signature";
			goto done;
		}
	}
	else
	{
		const JwkKey *key = NULL;

		if (kid == NULL)
		{
			*why = "unknown key";
			goto done;
		}
		for (int i = 0; i < keys->nkeys; i++)
			if (strlen(keys->keys[i].kid) == kidlen && memcmp(keys->keys[i].kid, kid, kidlen) == 0)
				key = &keys->keys[i];
		if (key == NULL)
		{
			*why = "unknown key";
			goto done;
		}
		if (key->alg != algo)
		{
			*why = "algorithm not accepted";
			goto done;
		}
		if (!verify_pkey(key->pkey, algo, (const unsigned char *) token, (size_t) (dot2 - token), sig,
						 siglen))
		{
			*why = "bad signature";
			goto done;
		}
	}

	/* the signature holds: now the claims */
	if ((claims = json_part(dot1 + 1, (size_t) (dot2 - dot1 - 1), why)) == NULL)
		goto done;
	if ((got = date_claim(claims, "exp", &times->exp,
						  "exp must be whole seconds from 0 to 253402300799", why)) <= 0)
	{
		if (got == 0)
			*why = "token has no expiry";
		goto done;
	}
	if ((got = date_claim(claims, "nbf", &times->nbf,
						  "nbf must be whole seconds from 0 to 253402300799", why)) < 0)
		goto done;
	times->has_nbf = got > 0;
	if ((got = date_claim(claims, "iat", &times->iat,
						  "iat must be whole seconds from 0 to 253402300799", why)) < 0)
		goto done;
	times->has_iat = got > 0;
	if ((*why = times_check(times, now)) != NULL)
		goto done;
	if (!aud_matches(claims, aud))
	{
		*why = "wrong audience";
		goto done;
	}
	if (iss)
	{
		if (!json_object_object_get_ex(claims, "iss", &v) || !string_is(v, iss))
		{
			*why = "wrong issuer";
			goto done;
		}
	}
	snprintf(out->role, sizeof(out->role), "authenticated");
	if (json_object_object_get_ex(claims, "role", &v))
	{
		if (string_is(v, "anon"))
		{
			*why = "anonymous tokens are not accepted";
			goto done;
		}
		if (!string_is(v, "authenticated") && !string_is(v, "service_role"))
		{
			*why = "unknown role";
			goto done;
		}
		snprintf(out->role, sizeof(out->role), "%s", json_object_get_string(v));
	}
	if (!json_object_object_get_ex(claims, "sub", &v) || (s = string_of(v, &len)) == NULL || len != 36 ||
		!is_uuid_text(s))
	{
		*why = "sub must be a user uuid";
		goto done;
	}
	for (int i = 0; i < 36; i++)
		out->sub[i] = (char) tolower((unsigned char) s[i]);
	if (json_object_object_get_ex(claims, "email", &v) && v != NULL)
	{
		/* a string that fits whole (RFC 5321 4.5.3.1: at most 64 + 1 + 255), never cut */
		if ((s = string_of(v, &len)) == NULL || len >= sizeof(out->email))
		{
			*why = "email must be a string of at most 320 characters";
			goto done;
		}
		memcpy(out->email, s, len);
		out->email[len] = '\0';
	}
	out->exp = times->exp;
	out->iat = times->has_iat ? times->iat : 0;
	*why = NULL;
	rc = 0;
done:
	if (rc != 0)
		memset(out, 0, sizeof(*out));
	json_object_put(header);
	json_object_put(claims);
	free(sig);
	return rc;
}

int
jwt_verify_nocache(const JwtKeys *keys, const char *token, const char *aud, const char *iss, time_t now,
				   JwtClaims *out, const char **why)
{
	JwtTimes	times;

	return verify_full(keys, token, aud, iss, now, out, why, &times);
}

/* same_or_null: returns true when a and b are both NULL or equal strings. */
static bool
same_or_null(const char *a, const char *b)
{
	return (a == NULL && b == NULL) || (a != NULL && b != NULL && strcmp(a, b) == 0);
}

int
jwt_verify(const JwtKeys *keys, const char *token, const char *aud, const char *iss, time_t now,
		   JwtClaims *out, const char **why)
{
	JwtCacheEntry *e;
	JwtTimes	times;

	if (token == NULL || strlen(token) > JWT_CACHE_MAX_TOKEN)
		return verify_full(keys, token, aud, iss, now, out, why, &times);
	e = &jwt_cache[fnv1a(token) % JWT_CACHE_SIZE];
	if (e->token && e->keys == keys && strcmp(e->token, token) == 0 && same_or_null(e->aud, aud) &&
		same_or_null(e->iss, iss))
	{
		if ((*why = times_check(&e->times, now)) != NULL)
		{
			memset(out, 0, sizeof(*out));
			return -1;
		}
		*out = e->claims;
		*why = NULL;
		return 0;
	}
	if (verify_full(keys, token, aud, iss, now, out, why, &times) != 0)
		return -1;
	cache_entry_clear(e);
	e->token = strdup(token);
	e->aud = aud ? strdup(aud) : NULL;
	e->iss = iss ? strdup(iss) : NULL;
	if (e->token == NULL || (aud && e->aud == NULL) || (iss && e->iss == NULL))
	{
		cache_entry_clear(e);
		return 0;
	}
	e->claims = *out;
	e->times = times;
	e->keys = keys;
	return 0;
}

char *
jwt_mint_hs256(const char *secret, const char *claims_json)
{
	static const char header[] = "{\"alg\":\"HS256\",\"typ\":\"JWT\"}";
	char	   *h = b64url_encode_alloc((const unsigned char *) header, strlen(header));
	char	   *p = b64url_encode_alloc((const unsigned char *) claims_json, strlen(claims_json));
	size_t		len = strlen(h) + strlen(p) + 1;
	char	   *signing = malloc(len + 1);
	unsigned char mac[EVP_MAX_MD_SIZE];
	unsigned int maclen = 0;
	char	   *s;
	char	   *out;

	snprintf(signing, len + 1, "%s.%s", h, p);
	HMAC(EVP_sha256(), secret, (int) strlen(secret), (const unsigned char *) signing, strlen(signing), mac,
		 &maclen);
	s = b64url_encode_alloc(mac, maclen);
	out = malloc(len + strlen(s) + 2);
	sprintf(out, "%s.%s", signing, s);
	free(h);
	free(p);
	free(s);
	free(signing);
	return out;
}
