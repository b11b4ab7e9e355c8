/*-------------------------------------------------------------------------
 *
 * market.c
 *	  Market data helpers: the strict ISO-8601 reader for bar timestamps that arrive as JSON text.
 *
 * A batch of bars (ex7.ingest_bars) is all-or-nothing and must name the failing element, so a bad
 * timestamp has to come back as "not a timestamp" rather than as an error out of timestamptz_in
 * (which would lose the locator, and catching it costs a subtransaction per bar). The accepted form
 * is RFC 3339 with an explicit offset, which is what feeds send and what leaves no doubt about the
 * instant:
 *
 *	  YYYY-MM-DD(T|t| )HH:MM[:SS[.ffffff]](Z|z|+HH[[:]MM]|-HH[[:]MM])
 *
 * A local time without an offset is refused on purpose: read in the session's TimeZone it would
 * mean a different instant for every client.
 *
 *-------------------------------------------------------------------------
 */
#include "ex7.h"

#include "fmgr.h"
#include "datatype/timestamp.h"
#include "utils/builtins.h"
#include "utils/datetime.h"
#include "utils/timestamp.h"

#define TS_MAX_LEN			64
#define TS_MAX_OFFSET_HOURS 15		/* PostgreSQL's limit on a numeric offset (TZDISP_LIMIT) */

/*
 * digits: returns the value of the n decimal digits at *p and advances *p past them, or -1 when
 * fewer than n digits are there.
 */
static int
digits(const char **p, int n)
{
	int			v = 0;

	for (int i = 0; i < n; i++)
	{
		if ((*p)[i] < '0' || (*p)[i] > '9')
			return -1;
		v = v * 10 + ((*p)[i] - '0');
	}
	*p += n;
	return v;
}

/*
 * parse_iso8601: returns true and sets *out when s is a timestamp of the form above; false
 * otherwise. Never raises.
 */
static bool
parse_iso8601(const char *s, TimestampTz *out)
{
	static const int mdays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	const char *p = s;
	int			year,
				mon,
				mday,
				hour,
				min,
				sec = 0;
	int64		usec = 0;
	int			offset = 0;		/* seconds east of UTC */
	int			dim;
	int64		days;
	TimestampTz result;

	if ((year = digits(&p, 4)) < 1 || *p++ != '-' || (mon = digits(&p, 2)) < 1 || mon > 12 ||
		*p++ != '-' || (mday = digits(&p, 2)) < 1)
		return false;
	dim = mdays[mon - 1] + (mon == 2 && isleap(year) ? 1 : 0);
	if (mday > dim)
		return false;
	if (*p != 'T' && *p != 't' && *p != ' ')
		return false;
	p++;
	if ((hour = digits(&p, 2)) < 0 || hour > 23 || *p++ != ':' ||
		(min = digits(&p, 2)) < 0 || min > 59)
		return false;
	if (*p == ':')
	{
		p++;
		/* 60 (a leap second) is refused: no exchange timestamps a bar with one */
		if ((sec = digits(&p, 2)) < 0 || sec > 59)
			return false;
		if (*p == '.')
		{
			int			n = 0;
			int64		scale = USECS_PER_SEC;

			p++;
			while (*p >= '0' && *p <= '9')
			{
				if (++n > 6)
					return false;	/* finer than PostgreSQL's microsecond */
				scale /= 10;
				usec += (*p - '0') * scale;
				p++;
			}
			if (n == 0)
				return false;
		}
	}
	if (*p == 'Z' || *p == 'z')
		p++;
	else if (*p == '+' || *p == '-')
	{
		int			sign = (*p == '-') ? -1 : 1;
		int			oh,
					om = 0;

		p++;
		if ((oh = digits(&p, 2)) < 0 || oh > TS_MAX_OFFSET_HOURS)
			return false;
		if (*p == ':')
		{
			p++;
			if ((om = digits(&p, 2)) < 0)
				return false;	/* "+05:" */
		}
		else if (*p != '\0' && (om = digits(&p, 2)) < 0)
			return false;
		if (om > 59)
			return false;
		offset = sign * (oh * SECS_PER_HOUR + om * SECS_PER_MINUTE);
	}
	else
		return false;			/* no offset: see the file header */
	if (*p != '\0')
		return false;

	days = (int64) date2j(year, mon, mday) - POSTGRES_EPOCH_JDATE;
	result = ((days * HOURS_PER_DAY + hour) * MINS_PER_HOUR + min) * SECS_PER_MINUTE + sec;
	result = (result - offset) * USECS_PER_SEC + usec;
	if (!IS_VALID_TIMESTAMP(result))
		return false;
	*out = result;
	return true;
}

/*
 * parse_ts: SQL ex7._parse_ts(text) (C names drop the leading underscore, which C reserves at file
 * scope). Returns the instant the text names, or NULL when it is not an RFC 3339 timestamp with an
 * explicit offset (see the file header).
 */
PG_FUNCTION_INFO_V1(parse_ts);
Datum
parse_ts(PG_FUNCTION_ARGS)
{
	text	   *t = PG_GETARG_TEXT_PP(0);
	int			len = VARSIZE_ANY_EXHDR(t);
	char		buf[TS_MAX_LEN + 1];
	TimestampTz result;

	if (len > TS_MAX_LEN)
		PG_RETURN_NULL();
	memcpy(buf, VARDATA_ANY(t), len);
	buf[len] = '\0';
	if (strlen(buf) != (size_t) len || !parse_iso8601(buf, &result))
		PG_RETURN_NULL();
	PG_RETURN_TIMESTAMPTZ(result);
}
