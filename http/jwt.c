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
 *  - aud is required and must match; exp is required; exp and nbf are checked with a 60 s leeway.
 */
#include "jwt.h"
#include "util.h"

#include <ctype.h>
#include <stdbool.h>
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

/*
 * A small cache of verified tokens: a client sends the same token with every request until it expires,
 * and verifying it again (two JSON parses, an HMAC or a signature check) was a large part of a request.
 * Direct-mapped by a hash of the token; an entry holds the whole token, compared in full before use, and
 * the claims it produced. Only exp and nbf depend on the time, so they are checked again on every hit.
 */
#define JWT_CACHE_SIZE 1024
#define JWT_CACHE_MAX_TOKEN 2048

typedef struct JwtCacheEntry
{
	char	   *token;
	JwtClaims	claims;
	double		nbf;			/* 0: none */
	const JwtKeys *keys;
} JwtCacheEntry;

static JwtCacheEntry jwt_cache[JWT_CACHE_SIZE];

static const char b64chars[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

char *
b64url_encode(const unsigned char *in, size_t len)
{
	char	   *out = malloc((len + 2) / 3 * 4 + 1);
	size_t		o = 0;
	size_t		i;

	for (i = 0; i + 2 < len; i += 3)
	{
		unsigned	v = (in[i] << 16) | (in[i + 1] << 8) | in[i + 2];

		out[o++] = b64chars[(v >> 18) & 63];
		out[o++] = b64chars[(v >> 12) & 63];
		out[o++] = b64chars[(v >> 6) & 63];
		out[o++] = b64chars[v & 63];
	}
	if (len - i == 1)
	{
		unsigned	v = in[i] << 16;

		out[o++] = b64chars[(v >> 18) & 63];
		out[o++] = b64chars[(v >> 12) & 63];
	}
	else if (len - i == 2)
	{
		unsigned	v = (in[i] << 16) | (in[i + 1] << 8);

		out[o++] = b64chars[(v >> 18) & 63];
		out[o++] = b64chars[(v >> 12) & 63];
		out[o++] = b64chars[(v >> 6) & 63];
	}
	out[o] = '\0';
	return out;
}

unsigned char *
b64url_decode(const char *in, size_t inlen, size_t *outlen)
{
	unsigned char *out;
	unsigned	acc = 0;
	int			bits = 0;
	size_t		n = 0;

	if (inlen % 4 == 1)
		return NULL;
	out = malloc(inlen * 3 / 4 + 1);
	for (size_t i = 0; i < inlen; i++)
	{
		const char *p = in[i] ? strchr(b64chars, in[i]) : NULL;

		if (p == NULL)
		{
			free(out);
			return NULL;
		}
		acc = (acc << 6) | (unsigned) (p - b64chars);
		bits += 6;
		if (bits >= 8)
		{
			bits -= 8;
			out[n++] = (unsigned char) (acc >> bits);
		}
		acc &= 0xFFFF;
	}
	/* the unused low bits of the last character must be zero: one spelling per value */
	if (bits > 0 && (acc & ((1u << bits) - 1)) != 0)
	{
		free(out);
		return NULL;
	}
	*outlen = n;
	return out;
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
	raw = b64url_decode(json_object_get_string(v), json_object_get_string_len(v), &len);
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
	raw = b64url_decode(json_object_get_string(v), json_object_get_string_len(v), &len);
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
	const char *kty;
	const char *alg = NULL;
	OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();

	memset(k, 0, sizeof(*k));
	if (!json_object_object_get_ex(jwk, "kid", &v) || !json_object_is_type(v, json_type_string))
		return (*why = "every JWKS key needs a string kid", -1);
	k->kid = strdup(json_object_get_string(v));
	if (!json_object_object_get_ex(jwk, "kty", &v) || !json_object_is_type(v, json_type_string))
		return (*why = "every JWKS key needs kty", -1);
	kty = json_object_get_string(v);
	if (json_object_object_get_ex(jwk, "alg", &v) && json_object_is_type(v, json_type_string))
		alg = json_object_get_string(v);

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
		else if (!json_object_object_get_ex(jwk, "crv", &v) ||
				 strcmp(json_object_get_string(v), "P-256") != 0)
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
		{
			free(jwt_cache[i].token);
			jwt_cache[i].token = NULL;
			jwt_cache[i].keys = NULL;
		}
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

/* json_part: returns the parsed JSON object of a base64url token part, or NULL. */
static json_object *
json_part(const char *s, size_t len)
{
	size_t		rawlen;
	unsigned char *raw = b64url_decode(s, len, &rawlen);
	json_tokener *tok;
	json_object *obj;

	if (raw == NULL)
		return NULL;
	tok = json_tokener_new();
	obj = json_tokener_parse_ex(tok, (const char *) raw, (int) rawlen);
	/* the whole part must be one JSON object, nothing after it */
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

/* num_claim: returns true and sets *out when claim name is a JSON number (integer or not). */
static bool
num_claim(json_object *claims, const char *name, double *out)
{
	json_object *v;

	if (!json_object_object_get_ex(claims, name, &v))
		return false;
	if (!json_object_is_type(v, json_type_int) && !json_object_is_type(v, json_type_double))
		return false;
	*out = json_object_get_double(v);
	return true;
}

/* aud_matches: returns true when the aud claim (a string or an array of strings) contains aud. */
static bool
aud_matches(json_object *claims, const char *aud)
{
	json_object *v;

	if (!json_object_object_get_ex(claims, "aud", &v))
		return false;
	if (json_object_is_type(v, json_type_string))
		return strcmp(json_object_get_string(v), aud) == 0;
	if (json_object_is_type(v, json_type_array))
		for (size_t i = 0; i < json_object_array_length(v); i++)
		{
			json_object *e = json_object_array_get_idx(v, i);

			if (json_object_is_type(e, json_type_string) && strcmp(json_object_get_string(e), aud) == 0)
				return true;
		}
	return false;
}



static int	jwt_verify_full(const JwtKeys *keys, const char *token, const char *aud, const char *iss,
							time_t now, JwtClaims *out, const char **why, double *nbf_out);

int
jwt_verify(const JwtKeys *keys, const char *token, const char *aud, const char *iss, time_t now,
		   JwtClaims *out, const char **why)
{
	JwtCacheEntry *e;
	double		nbf = 0;

	if (token == NULL || strlen(token) > JWT_CACHE_MAX_TOKEN)
		return jwt_verify_full(keys, token, aud, iss, now, out, why, &nbf);
	e = &jwt_cache[fnv1a(token) % JWT_CACHE_SIZE];
	if (e->token && e->keys == keys && strcmp(e->token, token) == 0)
	{
		if ((double) now >= (double) e->claims.exp + JWT_LEEWAY_SECONDS)
		{
			*why = "token expired";
			return -1;
		}
		if (e->nbf > 0 && (double) now + JWT_LEEWAY_SECONDS < e->nbf)
		{
			*why = "token not yet valid";
			return -1;
		}
		*out = e->claims;
		*why = NULL;
		return 0;
	}
	if (jwt_verify_full(keys, token, aud, iss, now, out, why, &nbf) != 0)
		return -1;
	free(e->token);
	e->token = strdup(token);
	e->claims = *out;
	e->nbf = nbf;
	e->keys = keys;
	return 0;
}

/* jwt_verify_full: jwt_verify without the cache; also reports the nbf claim (0 when absent). */
static int
jwt_verify_full(const JwtKeys *keys, const char *token, const char *aud, const char *iss, time_t now,
				JwtClaims *out, const char **why, double *nbf_out)
{
	const char *dot1;
	const char *dot2;
	json_object *header = NULL;
	json_object *claims = NULL;
	json_object *v;
	const char *alg;
	const char *kid = NULL;
	unsigned char *sig = NULL;
	size_t		siglen;
	int			algo;
	int			rc = -1;
	double		exp,
				nbf;

	memset(out, 0, sizeof(*out));
	*why = "malformed token";
	if (token == NULL || strlen(token) > JWT_MAX_LEN)
		return -1;
	dot1 = strchr(token, '.');
	dot2 = dot1 ? strchr(dot1 + 1, '.') : NULL;
	if (dot1 == NULL || dot2 == NULL || strchr(dot2 + 1, '.') != NULL || dot1 == token || dot2 == dot1 + 1)
		return -1;

	if ((header = json_part(token, dot1 - token)) == NULL)
		goto done;
	if (!json_object_object_get_ex(header, "alg", &v) || !json_object_is_type(v, json_type_string))
		goto done;
	alg = json_object_get_string(v);
	if (json_object_object_get_ex(header, "kid", &v))
	{
		if (!json_object_is_type(v, json_type_string))
			goto done;
		kid = json_object_get_string(v);
	}
	if (strcmp(alg, "HS256") == 0)
		algo = ALG_HS256;
	else if (strcmp(alg, "ES256") == 0)
		algo = ALG_ES256;
	else if (strcmp(alg, "RS256") == 0)
		algo = ALG_RS256;
	else
	{
		*why = "algorithm not accepted";
		goto done;
	}

	sig = b64url_decode(dot2 + 1, strlen(dot2 + 1), &siglen);
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
			if (strcmp(keys->keys[i].kid, kid) == 0)
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
	*why = "malformed token";
	if ((claims = json_part(dot1 + 1, dot2 - dot1 - 1)) == NULL)
		goto done;
	if (!num_claim(claims, "exp", &exp))
	{
		*why = "token has no expiry";
		goto done;
	}
	if ((double) now >= exp + JWT_LEEWAY_SECONDS)
	{
		*why = "token expired";
		goto done;
	}
	if (json_object_object_get_ex(claims, "nbf", &v))
	{
		if (!num_claim(claims, "nbf", &nbf))
			goto done;
		if ((double) now + JWT_LEEWAY_SECONDS < nbf)
		{
			*why = "token not yet valid";
			goto done;
		}
		*nbf_out = nbf;
	}
	out->iat = 0;
	if (json_object_object_get_ex(claims, "iat", &v))
	{
		double		iat;

		if (!num_claim(claims, "iat", &iat))
			goto done;
		out->iat = (long) iat;
	}
	if (!aud_matches(claims, aud))
	{
		*why = "wrong audience";
		goto done;
	}
	if (iss)
	{
		if (!json_object_object_get_ex(claims, "iss", &v) || !json_object_is_type(v, json_type_string) ||
			strcmp(json_object_get_string(v), iss) != 0)
		{
			*why = "wrong issuer";
			goto done;
		}
	}
	if (!json_object_object_get_ex(claims, "sub", &v) || !json_object_is_type(v, json_type_string) ||
		!is_uuid_text(json_object_get_string(v)))
	{
		*why = "sub must be a user uuid";
		goto done;
	}
	for (int i = 0; i < 36; i++)
		out->sub[i] = (char) tolower((unsigned char) json_object_get_string(v)[i]);
	snprintf(out->role, sizeof(out->role), "authenticated");
	if (json_object_object_get_ex(claims, "role", &v))
	{
		const char *role = json_object_get_string(v);

		if (!json_object_is_type(v, json_type_string) ||
			(strcmp(role, "authenticated") != 0 && strcmp(role, "anon") != 0 &&
			 strcmp(role, "service_role") != 0))
		{
			*why = "unknown role";
			goto done;
		}
		snprintf(out->role, sizeof(out->role), "%s", role);
	}
	if (json_object_object_get_ex(claims, "email", &v) && json_object_is_type(v, json_type_string))
		snprintf(out->email, sizeof(out->email), "%s", json_object_get_string(v));
	out->exp = (long) exp;
	*why = NULL;
	rc = 0;
done:
	json_object_put(header);
	json_object_put(claims);
	free(sig);
	return rc;
}

char *
jwt_mint_hs256(const char *secret, const char *claims_json)
{
	static const char header[] = "{\"alg\":\"HS256\",\"typ\":\"JWT\"}";
	char	   *h = b64url_encode((const unsigned char *) header, strlen(header));
	char	   *p = b64url_encode((const unsigned char *) claims_json, strlen(claims_json));
	size_t		len = strlen(h) + strlen(p) + 1;
	char	   *signing = malloc(len + 1);
	unsigned char mac[EVP_MAX_MD_SIZE];
	unsigned int maclen = 0;
	char	   *s;
	char	   *out;

	snprintf(signing, len + 1, "%s.%s", h, p);
	HMAC(EVP_sha256(), secret, (int) strlen(secret), (const unsigned char *) signing, strlen(signing), mac,
		 &maclen);
	s = b64url_encode(mac, maclen);
	out = malloc(len + strlen(s) + 2);
	sprintf(out, "%s.%s", signing, s);
	free(h);
	free(p);
	free(s);
	free(signing);
	return out;
}
