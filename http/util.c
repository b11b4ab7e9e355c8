/*
 * util.c
 *	  Checks of the text shape of request values (uuids, integers, timestamps, decimals), shared by the
 *	  router and the JWT verifier. Only the shape: ranges and meaning are the extension's to judge.
 */
#include "util.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* is_uuid_text: returns true when s is a canonical uuid. */
bool
is_uuid_text(const char *s)
{
	if (strlen(s) != 36)
		return false;
	for (int i = 0; i < 36; i++)
	{
		if (i == 8 || i == 13 || i == 18 || i == 23)
		{
			if (s[i] != '-')
				return false;
		}
		else if (!isxdigit((unsigned char) s[i]))
			return false;
	}
	return true;
}

/* is_int_text: returns true when s is a decimal integer that fits in 32 bits. */
bool
is_int_text(const char *s)
{
	char	   *end;
	long		v;

	if (*s == '\0' || isspace((unsigned char) *s))
		return false;
	errno = 0;
	v = strtol(s, &end, 10);
	return errno == 0 && *end == '\0' && v >= -2147483648L && v <= 2147483647L;
}

/*
 * is_iso8601: returns true for YYYY-MM-DD, optionally followed by [T ]HH:MM[:SS[.fraction]] and then
 * Z or +HH:MM / -HH:MM. Ranges are PostgreSQL's to check; this only refuses what is not a timestamp.
 */
bool
is_iso8601(const char *s)
{
	const char *p = s;

#define DIGITS(n) do { for (int _i = 0; _i < (n); _i++) if (!isdigit((unsigned char) *p++)) return false; } while (0)
	DIGITS(4);
	if (*p++ != '-')
		return false;
	DIGITS(2);
	if (*p++ != '-')
		return false;
	DIGITS(2);
	if (*p == '\0')
		return true;
	if (*p != 'T' && *p != ' ')
		return false;
	p++;
	DIGITS(2);
	if (*p++ != ':')
		return false;
	DIGITS(2);
	if (*p == ':')
	{
		p++;
		DIGITS(2);
		if (*p == '.')
		{
			p++;
			if (!isdigit((unsigned char) *p))
				return false;
			while (isdigit((unsigned char) *p))
				p++;
		}
	}
	if (*p == '\0' || (*p == 'Z' && p[1] == '\0'))
		return true;
	if (*p != '+' && *p != '-')
		return false;
	p++;
	DIGITS(2);
	if (*p == ':')
		p++;
	DIGITS(2);
	return *p == '\0';
#undef DIGITS
}

/* is_numeric_text: returns true for an optionally signed decimal number (no exponent, no NaN). */
bool
is_numeric_text(const char *s)
{
	const char *p = s;
	int			digits = 0;

	if (*p == '-' || *p == '+')
		p++;
	while (isdigit((unsigned char) *p))
		p++, digits++;
	if (*p == '.')
	{
		p++;
		while (isdigit((unsigned char) *p))
			p++, digits++;
	}
	return digits > 0 && digits <= 40 && *p == '\0';
}


unsigned
fnv1a(const char *s)
{
	uint32_t	h = 2166136261u;

	for (; *s; s++)
		h = (h ^ (unsigned char) *s) * 16777619u;
	return h;
}
