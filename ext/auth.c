/*-------------------------------------------------------------------------
 *
 * auth.c
 *	  Password hashing for the self-hosted login (docs/account.md): scrypt (RFC 7914) from OpenSSL,
 *	  a random salt per password, the parameters stored with the hash, constant-time comparison; and the
 *	  constant-time comparison of other secrets (secret_equal: the webhook intake, docs/webhooks.md).
 *
 * A stored hash is a PHC-style string: $scrypt$ln=15,r=8,p=1$<salt>$<hash>, salt 16 random bytes and
 * hash 32 bytes, both standard base64 without padding. ln is log2(N). N = 2^15, r = 8, p = 1 is
 * RFC 7914's interactive-login setting (section 2: "N=16384 ... for interactive logins" in 2009,
 * doubled since) and costs 32 MiB and about 50-100 ms on this kind of machine (docs/account.md has
 * the measurement). A hash made with other parameters still verifies: they are read from the string,
 * within bounds, so they can be raised later without invalidating old passwords.
 *
 *-------------------------------------------------------------------------
 */
#include "ex7.h"

#include "common/base64.h"
#include "fmgr.h"
#include "utils/builtins.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#define SCRYPT_LN			15		/* N = 2^15 (see the header comment) */
#define SCRYPT_R			8
#define SCRYPT_P			1
#define SCRYPT_SALT_LEN		16		/* 128 bits (NIST SP 800-132: at least 128; RFC 7914 is silent) */
#define SCRYPT_HASH_LEN		32
#define SCRYPT_MAX_LN		20		/* verification refuses costlier strings: 1 GiB at r = 8 */
#define SCRYPT_MAX_R		32
#define SCRYPT_MAX_P		16
#define PASSWORD_MAX_BYTES	1024	/* longer input is refused before hashing (no cost amplification) */

/* scrypt_raw: returns nothing; out = scrypt(password, salt, 2^ln, r, p); a failure cannot happen. */
static void
scrypt_raw(const char *pw, size_t pwlen, const uint8 *salt, size_t saltlen, int ln, int r, int p,
		   uint8 *out, size_t outlen)
{
	uint64		n = UINT64CONST(1) << ln;
	/* scrypt needs 128 * r * N bytes for V plus 128 * r * p for B; OpenSSL's default cap is 32 MiB */
	uint64		maxmem = (UINT64CONST(128) * r * n) + (UINT64CONST(128) * r * p) + (UINT64CONST(1) << 20);

	if (EVP_PBE_scrypt(pw, pwlen, salt, saltlen, n, (uint64) r, (uint64) p, maxmem, out, outlen) != 1)
		elog(ERROR, "scrypt failed (ln=%d r=%d p=%d)", ln, r, p);
}

/* b64: returns a palloc'd unpadded standard base64 of len bytes. */
static char *
b64(const uint8 *in, int len)
{
	int			cap = pg_b64_enc_len(len) + 1;
	char	   *out = palloc(cap);
	int			n = pg_b64_encode((const char *) in, len, out, cap);

	if (n < 0)
		elog(ERROR, "base64 encoding failed");
	while (n > 0 && out[n - 1] == '=')
		n--;
	out[n] = '\0';
	return out;
}

/* unb64: returns the number of bytes decoded from unpadded base64 in (at most max), or -1. */
static int
unb64(const char *in, int inlen, uint8 *out, int max)
{
	char		buf[128];
	int			padded = inlen;
	char		dec[128];
	int			n;

	if (inlen <= 0 || inlen + 3 >= (int) sizeof(buf))
		return -1;
	memcpy(buf, in, inlen);
	while (padded % 4 != 0)
		buf[padded++] = '=';
	n = pg_b64_decode(buf, padded, dec, sizeof(dec));
	if (n < 0 || n > max)
		return -1;
	memcpy(out, dec, n);
	return n;
}

PG_FUNCTION_INFO_V1(password_hash);
Datum
password_hash(PG_FUNCTION_ARGS)
{
	text	   *pw = PG_GETARG_TEXT_PP(0);
	uint8		salt[SCRYPT_SALT_LEN];
	uint8		hash[SCRYPT_HASH_LEN];
	char	   *out;

	if (VARSIZE_ANY_EXHDR(pw) > PASSWORD_MAX_BYTES)
		ex7_invalid("[\"body\",\"password\"]", "password is longer than 1024 bytes",
					"value_error.any_str.max_length");
	if (RAND_bytes(salt, sizeof(salt)) != 1)
		elog(ERROR, "RAND_bytes failed");
	scrypt_raw(VARDATA_ANY(pw), VARSIZE_ANY_EXHDR(pw), salt, sizeof(salt), SCRYPT_LN, SCRYPT_R, SCRYPT_P,
			   hash, sizeof(hash));
	out = psprintf("$scrypt$ln=%d,r=%d,p=%d$%s$%s", SCRYPT_LN, SCRYPT_R, SCRYPT_P, b64(salt, sizeof(salt)),
				   b64(hash, sizeof(hash)));
	OPENSSL_cleanse(hash, sizeof(hash));
	PG_RETURN_TEXT_P(cstring_to_text(out));
}

/*
 * password_verify: returns true when the password matches the stored string, false otherwise,
 * including for a malformed string (never an error: the caller answers "wrong password" either way).
 */
PG_FUNCTION_INFO_V1(password_verify);
Datum
password_verify(PG_FUNCTION_ARGS)
{
	text	   *pw = PG_GETARG_TEXT_PP(0);
	char	   *stored = text_to_cstring(PG_GETARG_TEXT_PP(1));
	int			ln,
				r,
				p,
				consumed = 0;
	char	   *salt_b64,
			   *hash_b64,
			   *dollar;
	uint8		salt[64],
				want[64],
				got[64];
	int			saltlen,
				hashlen;
	bool		ok;

	if (VARSIZE_ANY_EXHDR(pw) > PASSWORD_MAX_BYTES)
		PG_RETURN_BOOL(false);
	if (sscanf(stored, "$scrypt$ln=%d,r=%d,p=%d$%n", &ln, &r, &p, &consumed) != 3 || consumed == 0 ||
		ln < 1 || ln > SCRYPT_MAX_LN || r < 1 || r > SCRYPT_MAX_R || p < 1 || p > SCRYPT_MAX_P)
		PG_RETURN_BOOL(false);
	salt_b64 = stored + consumed;
	if ((dollar = strchr(salt_b64, '$')) == NULL)
		PG_RETURN_BOOL(false);
	hash_b64 = dollar + 1;
	saltlen = unb64(salt_b64, (int) (dollar - salt_b64), salt, sizeof(salt));
	hashlen = unb64(hash_b64, (int) strlen(hash_b64), want, sizeof(want));
	if (saltlen < 4 || hashlen < 16)
		PG_RETURN_BOOL(false);
	scrypt_raw(VARDATA_ANY(pw), VARSIZE_ANY_EXHDR(pw), salt, saltlen, ln, r, p, got, hashlen);
	ok = CRYPTO_memcmp(got, want, hashlen) == 0;
	OPENSSL_cleanse(got, sizeof(got));
	PG_RETURN_BOOL(ok);
}

/*
 * secret_equal(a bytea, b bytea) returns boolean: true when a and b are the same bytes. The time taken
 * depends on the lengths only (CRYPTO_memcmp), not on where they first differ, so a caller that compares
 * a secret (or its digest, as the webhook intake does: docs/webhooks.md) leaks nothing byte by byte.
 */
PG_FUNCTION_INFO_V1(secret_equal);
Datum
secret_equal(PG_FUNCTION_ARGS)
{
	bytea	   *a = PG_GETARG_BYTEA_PP(0);
	bytea	   *b = PG_GETARG_BYTEA_PP(1);
	size_t		alen = VARSIZE_ANY_EXHDR(a);

	if (alen != VARSIZE_ANY_EXHDR(b))
		PG_RETURN_BOOL(false);
	PG_RETURN_BOOL(CRYPTO_memcmp(VARDATA_ANY(a), VARDATA_ANY(b), alen) == 0);
}
