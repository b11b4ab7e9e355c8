/*
 * jwt_test.c
 *	  Unit checks of ext/base64url.h and of ex7d's JWT verifier (http/jwt.c), run by test/checks/jwt.sh
 *	  under AddressSanitizer and UndefinedBehaviorSanitizer. Prints one "ok - ..." or "not ok - ..." line
 *	  per check.
 *
 *	  base64url (RFC 4648 section 5): every string of up to 3 bytes goes there and back; 200,000 random
 *	  texts over the alphabet and a few strangers are decoded exactly as a plain reference decoder written
 *	  here from the RFC does, with the strict rules on top (no padding, no '+' or '/', length not 1 mod
 *	  4, unused bits zero).
 *
 *	  Verifier: jwt_verify (with the cache) gives the answer of jwt_verify_nocache for every token at
 *	  every time, audience and issuer asked, in any order: a token cached while valid is refused later
 *	  when expired, earlier when not yet valid or issued in the future, and for another audience or
 *	  issuer. Clock values at the ends of time_t do not overflow (UBSan aborts on a signed overflow).
 */
#include "jwt.h"
#include "../../ext/base64url.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int	failures = 0;

static void
report(int ok, const char *what)
{
	printf("%s - %s\n", ok ? "ok" : "not ok", what);
	if (!ok)
		failures++;
}

/* ref_decode: returns the decoded length, or -1: RFC 4648 section 5 read literally, padding not allowed. */
static long
ref_decode(const char *s, size_t len, unsigned char *out)
{
	static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
	unsigned	v[4];
	size_t		o = 0;

	if (len % 4 == 1)
		return -1;
	for (size_t i = 0; i < len; i += 4)
	{
		size_t		n = len - i < 4 ? len - i : 4;

		for (size_t j = 0; j < 4; j++)
		{
			const char *p = j < n && s[i + j] != '\0' ? strchr(alphabet, s[i + j]) : NULL;

			if (j < n && p == NULL)
				return -1;
			v[j] = j < n ? (unsigned) (p - alphabet) : 0;
		}
		/* the bits of a last partial group beyond its bytes must be zero */
		if ((n == 2 && (v[1] & 0x0F) != 0) || (n == 3 && (v[2] & 0x03) != 0))
			return -1;
		out[o++] = (unsigned char) ((v[0] << 2) | (v[1] >> 4));
		if (n > 2)
			out[o++] = (unsigned char) (((v[1] & 0x0F) << 4) | (v[2] >> 2));
		if (n > 3)
			out[o++] = (unsigned char) (((v[2] & 0x03) << 6) | v[3]);
	}
	return (long) o;
}

static void
check_base64url(void)
{
	int			ok = 1;
	static const char pool[] = "ABZaz09-_+/= \x01\x7f\xff.QgwA";
	static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
	long		accepted = 0;

	for (int n = 0; n <= 3 && ok; n++)
		for (unsigned long x = 0; x < (1ul << (8 * n)) && ok; x++)
		{
			unsigned char in[3] = {(unsigned char) (x >> 16), (unsigned char) (x >> 8), (unsigned char) x};
			char		text[8];
			unsigned char back[4];
			size_t		tl = b64url_encode(in + 3 - n, (size_t) n, text);
			size_t		bl;

			ok = tl == b64url_encoded_len((size_t) n) && strlen(text) == tl &&
				b64url_decode(text, tl, back, &bl) && bl == (size_t) n && memcmp(back, in + 3 - n, (size_t) n) == 0;
		}
	report(ok, "base64url: every string of 0 to 3 bytes encodes and decodes back");

	srand(7);
	for (int it = 0; it < 200000 && ok; it++)
	{
		char		s[24];
		size_t		len = (size_t) (rand() % 23);
		unsigned char a[24],
					b[24];
		size_t		bl = 0;
		long		al;
		bool		bok;

		for (size_t i = 0; i < len; i++)
			s[i] = rand() % 8 == 0 ? pool[rand() % (int) (sizeof(pool) - 1)] : alphabet[rand() % 64];
		al = ref_decode(s, len, a);
		bok = b64url_decode(s, len, b, &bl);
		if ((al >= 0) != bok || (bok && ((size_t) al != bl || memcmp(a, b, bl) != 0 ||
										 bl != b64url_decoded_len(len))))
			ok = 0;
		accepted += bok;
	}
	report(ok && accepted > 1000, "base64url: 200,000 random texts decode as the RFC 4648 reference does");
	{
		unsigned char out[8];
		size_t		ol;

		report(!b64url_decode("QQ==", 4, out, &ol) && !b64url_decode("QQ", 1, out, &ol) &&
			   !b64url_decode("QR", 2, out, &ol) && !b64url_decode("+/8A", 4, out, &ol) &&
			   !b64url_decode("Q\0Q", 3, out, &ol) && !b64url_decode("QUJD ", 5, out, &ol) &&
			   b64url_decode("QQ", 2, out, &ol) && ol == 1 && out[0] == 'A' &&
			   b64url_decode("-_8A", 4, out, &ol) && ol == 3 && out[0] == 0xfb && out[1] == 0xff,
			   "base64url: padding, '+' '/', set unused bits, a NUL, a space and a length of 1 mod 4 are refused");
	}
}

#define SECRET "unit-hs256-secret-0123456789abcdef-0123"

static void
check_cache(void)
{
	char		err[256] = "";
	JwtKeys    *keys = jwt_keys_load(SECRET, NULL, err, sizeof(err));
	const long	t0 = 1800000000;
	const char *auds[] = {"authenticated", "other"};
	const char *isss[] = {NULL, "https://x.supabase.co/auth/v1", "https://evil.example"};
	const time_t nows[] = {t0, t0 - 4000, t0 - 61, t0 + 60, t0 + 599, t0 + 660, t0 + 661, t0 - 3, 0,
		(time_t) INT64_MAX, (time_t) INT64_MIN, t0};
	char	   *tokens[4];
	char		claims[512];
	int			agree = 1;
	int			ok_seen = 0,
				refused_seen = 0;

	/* plain; nbf and iat ahead by 30 s; without iat; with an issuer */
	snprintf(claims, sizeof(claims), "{\"aud\":\"authenticated\",\"sub\":\"0a000000-0000-4000-8000-000000000001\","
			 "\"exp\":%ld,\"iat\":%ld}", t0 + 600, t0);
	tokens[0] = jwt_mint_hs256(SECRET, claims);
	snprintf(claims, sizeof(claims), "{\"aud\":[\"x\",\"authenticated\"],\"sub\":\"0A000000-0000-4000-8000-000000000002\","
			 "\"exp\":%ld,\"nbf\":%ld,\"iat\":%ld}", t0 + 600, t0 + 30, t0 + 30);
	tokens[1] = jwt_mint_hs256(SECRET, claims);
	snprintf(claims, sizeof(claims), "{\"aud\":\"authenticated\",\"sub\":\"0a000000-0000-4000-8000-000000000003\","
			 "\"exp\":%ld,\"role\":\"service_role\"}", t0 + 600);
	tokens[2] = jwt_mint_hs256(SECRET, claims);
	snprintf(claims, sizeof(claims), "{\"aud\":\"authenticated\",\"sub\":\"0a000000-0000-4000-8000-000000000004\","
			 "\"exp\":%ld,\"iat\":%ld,\"iss\":\"https://x.supabase.co/auth/v1\"}", t0 + 600, t0);
	tokens[3] = jwt_mint_hs256(SECRET, claims);

	/* every order of asking twice over: the cache is filled by whichever question succeeds first */
	for (int round = 0; round < 2; round++)
		for (size_t k = 0; k < 4; k++)
			for (size_t n = 0; n < sizeof(nows) / sizeof(nows[0]); n++)
				for (size_t a = 0; a < 2; a++)
					for (size_t i = 0; i < 3; i++)
					{
						JwtClaims	c1,
									c2;
						const char *w1 = NULL,
								   *w2 = NULL;
						int			r1 = jwt_verify(keys, tokens[k], auds[a], isss[i], nows[n], &c1, &w1);
						int			r2 = jwt_verify_nocache(keys, tokens[k], auds[a], isss[i], nows[n], &c2, &w2);

						if (r1 != r2 || (r1 == 0 && memcmp(&c1, &c2, sizeof(c1)) != 0) ||
							(r1 != 0 && (w1 == NULL || w2 == NULL || strcmp(w1, w2) != 0)))
						{
							printf("# token %zu now %ld aud %s iss %s: cache %d %s, no cache %d %s\n", k,
								   (long) nows[n], auds[a], isss[i] ? isss[i] : "-", r1, w1 ? w1 : "",
								   r2, w2 ? w2 : "");
							agree = 0;
						}
						if (r1 == 0)
							ok_seen++;
						else
							refused_seen++;
					}
	report(agree && ok_seen > 0 && refused_seen > 0,
		   "jwt_verify with its cache answers as jwt_verify_nocache for every token, time, audience and issuer");
	{
		JwtClaims	c;
		const char *why;

		report(jwt_verify(keys, tokens[1], "authenticated", NULL, t0 + 100, &c, &why) == 0 &&
			   strcmp(c.sub, "0a000000-0000-4000-8000-000000000002") == 0 && c.iat == t0 + 30 &&
			   jwt_verify(keys, tokens[1], "authenticated", NULL, t0 - 31, &c, &why) != 0 &&
			   strcmp(why, "token not yet valid") == 0 &&
			   jwt_verify(keys, tokens[0], "authenticated", NULL, t0 - 61, &c, &why) != 0 &&
			   strcmp(why, "token issued in the future") == 0 &&
			   jwt_verify(keys, tokens[0], "authenticated", NULL, t0 + 660, &c, &why) != 0 &&
			   strcmp(why, "token expired") == 0 &&
			   jwt_verify(keys, tokens[2], "authenticated", NULL, t0, &c, &why) == 0 && c.iat == 0 &&
			   strcmp(c.role, "service_role") == 0,
			   "a cached token is refused when expired, not yet valid or issued in the future, with the reason");
	}
	for (int k = 0; k < 4; k++)
		free(tokens[k]);
	jwt_keys_free(keys);
}

int
main(void)
{
	check_base64url();
	check_cache();
	return failures ? 1 : 0;
}
