/*
 * log.c
 *	  ex7d's one logger (see log.h): JSON lines built and serialised by json-c, strings cleaned to UTF-8
 *	  first, RFC 3339 timestamps with milliseconds.
 */
#include "log.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static const char *const level_names[] = {"info", "warn", "error"};

char *
log_timestamp(char *buf, size_t len, const struct timeval *tv)
{
	struct timeval now;
	struct tm	tm;
	size_t		n;

	if (tv == NULL)
	{
		gettimeofday(&now, NULL);
		tv = &now;
	}
	gmtime_r(&tv->tv_sec, &tm);
	n = strftime(buf, len, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(buf + n, len - n, ".%03dZ", (int) (tv->tv_usec / 1000));
	return buf;
}

/*
 * utf8_seq: returns the length (1..4) of the well-formed UTF-8 sequence at s (n bytes left), or 0.
 * The table is RFC 3629 section 4's: the second byte's range depends on the first, which excludes
 * overlong forms (C0, C1, E0 80..9F, F0 80..8F), surrogates (ED A0..BF) and code points above U+10FFFF
 * (F4 90..BF, F5..FF).
 */
static int
utf8_seq(const unsigned char *s, size_t n)
{
	unsigned char c = s[0];
	unsigned char lo = 0x80,
				hi = 0xBF;
	int			len;

	if (c >= 0x01 && c <= 0x7F)
		return 1;
	if (c >= 0xC2 && c <= 0xDF)
		len = 2;
	else if (c >= 0xE0 && c <= 0xEF)
	{
		len = 3;
		if (c == 0xE0)
			lo = 0xA0;
		else if (c == 0xED)
			hi = 0x9F;
	}
	else if (c >= 0xF0 && c <= 0xF4)
	{
		len = 4;
		if (c == 0xF0)
			lo = 0x90;
		else if (c == 0xF4)
			hi = 0x8F;
	}
	else
		return 0;				/* NUL, a continuation byte alone, C0, C1, F5..FF */
	if ((size_t) len > n || s[1] < lo || s[1] > hi)
		return 0;
	for (int i = 2; i < len; i++)
		if (s[i] < 0x80 || s[i] > 0xBF)
			return 0;
	return len;
}

char *
log_clean(const char *s, size_t len, size_t *outlen)
{
	const unsigned char *p = (const unsigned char *) s;
	char	   *out = malloc(len * 4 + 1);	/* every byte may become \xNN */
	size_t		o = 0;

	for (size_t i = 0; i < len;)
	{
		int			k = utf8_seq(p + i, len - i);

		if (k > 0)
		{
			memcpy(out + o, p + i, (size_t) k);
			o += (size_t) k;
			i += (size_t) k;
		}
		else
		{
			o += (size_t) sprintf(out + o, "\\x%02X", p[i]);
			i++;
		}
	}
	out[o] = '\0';
	if (outlen)
		*outlen = o;
	return out;
}

/* clean_string: returns a json string of len bytes of s after log_clean. */
static json_object *
clean_string(const char *s, size_t len)
{
	size_t		n;
	char	   *c = log_clean(s, len, &n);
	json_object *o = json_object_new_string_len(c, (int) n);

	free(c);
	return o;
}

json_object *
log_fields(void)
{
	return json_object_new_object();
}

void
log_field_str(json_object *fields, const char *key, const char *value)
{
	json_object_object_add(fields, key, value ? clean_string(value, strlen(value)) : NULL);
}

void
log_field_strn(json_object *fields, const char *key, const char *value, size_t len)
{
	json_object_object_add(fields, key, value ? clean_string(value, len) : NULL);
}

void
log_field_int(json_object *fields, const char *key, long long value)
{
	json_object_object_add(fields, key, json_object_new_int64((int64_t) value));
}

void
log_field_double(json_object *fields, const char *key, double value)
{
	char		d[48];

	snprintf(d, sizeof(d), "%.3f", value);
	json_object_object_add(fields, key, json_object_new_double_s(value, d));
}

/*
 * build_line: returns a malloc'd line ("{...}\n") with ts, level, event, msg and then the members of
 * fields (taken over); *len gets its length.
 */
static char *
build_line(LogLevel level, const char *event, json_object *fields, const char *msg, size_t *len)
{
	json_object *o = json_object_new_object();
	char		ts[40];
	const char *text;
	char	   *line;
	size_t		n;

	json_object_object_add(o, "ts", json_object_new_string(log_timestamp(ts, sizeof(ts), NULL)));
	json_object_object_add(o, "level", json_object_new_string(level_names[level]));
	json_object_object_add(o, "event", clean_string(event, strlen(event)));
	if (msg)
		json_object_object_add(o, "msg", clean_string(msg, strlen(msg)));
	if (fields)
	{
		json_object_object_foreach(fields, k, v)
		{
			/* ts, level, event and msg are the logger's: a field cannot overwrite them */
			if (strcmp(k, "ts") == 0 || strcmp(k, "level") == 0 || strcmp(k, "event") == 0 ||
				strcmp(k, "msg") == 0)
				continue;
			json_object_object_add(o, k, json_object_get(v));
		}
		json_object_put(fields);
	}
	text = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
	n = strlen(text);
	line = malloc(n + 2);
	memcpy(line, text, n);
	line[n++] = '\n';
	line[n] = '\0';
	json_object_put(o);
	*len = n;
	return line;
}

/* write_all: returns nothing; writes len bytes to fd in as few write(2) calls as the kernel allows. */
static void
write_all(int fd, const char *buf, size_t len)
{
	while (len > 0)
	{
		ssize_t		w = write(fd, buf, len);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return;				/* stderr is gone: nothing else could report it */
		buf += w;
		len -= (size_t) w;
	}
}

/* log_v: returns nothing; formats the message and writes one line to stderr. */
static void
log_v(LogLevel level, const char *event, json_object *fields, const char *fmt, va_list ap)
{
	char		msg[2048];
	char	   *line;
	size_t		len;

	vsnprintf(msg, sizeof(msg), fmt, ap);
	line = build_line(level, event, fields, msg, &len);
	write_all(STDERR_FILENO, line, len);
	free(line);
}

void
ex7_log(LogLevel level, const char *event, const char *fmt, ...)
{
	va_list		ap;

	va_start(ap, fmt);
	log_v(level, event, NULL, fmt, ap);
	va_end(ap);
}

void
ex7_log_with(LogLevel level, const char *event, json_object *fields, const char *fmt, ...)
{
	va_list		ap;

	va_start(ap, fmt);
	log_v(level, event, fields, fmt, ap);
	va_end(ap);
}

void
ex7_log_access(json_object *fields, const char *fmt, ...)
{
	va_list		ap;
	char		msg[512];
	size_t		len;
	char	   *line;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	line = build_line(EX7_INFO, "request", fields, msg, &len);

	/* stdout is block-buffered and flushed by a timer (main.c): no write per request */
	fwrite(line, 1, len, stdout);
	free(line);
}

void
log_pq_notice(void *arg, const PGresult *res)
{
	const char *sev = PQresultErrorField(res, PG_DIAG_SEVERITY_NONLOCALIZED);
	const char *msg = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);
	json_object *f = log_fields();

	log_field_str(f, "connection", arg ? (const char *) arg : "");
	log_field_str(f, "severity", sev);
	log_field_str(f, "sqlstate", PQresultErrorField(res, PG_DIAG_SQLSTATE));
	log_field_str(f, "detail", PQresultErrorField(res, PG_DIAG_MESSAGE_DETAIL));
	ex7_log_with(sev && strcmp(sev, "WARNING") == 0 ? EX7_WARN : EX7_INFO, "pg_notice", f, "%s",
				 msg ? msg : PQresultErrorMessage(res));
}
