/*
 * log.h
 *	  ex7d's one logger. Every line the server, its worker and `ex7d worker` write to stderr is one JSON
 *	  object:
 *
 *		{"ts": "2026-12-05T21:51:23.042Z", "level": "error", "event": "database_unreachable",
 *		 "msg": "...", <structured fields>}
 *
 *	  ts is RFC 3339 (section 5.6) in UTC with milliseconds; level is "info", "warn" or "error"; event is a
 *	  stable snake_case name an operator can alert on (docs/observability.md lists them); msg is for
 *	  people. json-c serialises every line, and every string that reaches it (a path, a header, an error
 *	  text from a provider or from PostgreSQL) first passes log_clean: bytes that are not UTF-8 become the
 *	  four characters \xNN, so a line is valid JSON (RFC 8259 section 8.1: JSON text is UTF-8) whatever a
 *	  client sent. A line is written with one write(2), so lines of concurrent processes do not mix.
 *
 *	  The access log (one line per request, reply.c) has the same shape on stdout, buffered.
 */
#ifndef EX7D_LOG_H
#define EX7D_LOG_H

#include <stdarg.h>
#include <stddef.h>
#include <sys/time.h>

#include <json.h>
#include <libpq-fe.h>

typedef enum LogLevel
{
	EX7_INFO,
	EX7_WARN,
	EX7_ERROR
} LogLevel;

/* ex7_log: returns nothing; writes {"ts", "level", "event", "msg"} to stderr, msg from fmt. */
extern void ex7_log(LogLevel level, const char *event, const char *fmt, ...)
			__attribute__((format(printf, 3, 4)));

/*
 * ex7_log_with: returns nothing; as ex7_log, followed by the members of fields (a json object built with
 * log_field_* below, or NULL). It takes fields over (json_object_put).
 */
extern void ex7_log_with(LogLevel level, const char *event, json_object *fields, const char *fmt, ...)
			__attribute__((format(printf, 4, 5)));

/* ex7_log_access: returns nothing; writes the access line (level info, event "request", fields taken
 * over, msg from fmt) to buffered stdout. */
extern void ex7_log_access(json_object *fields, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* log_fields: returns a new, empty fields object. */
extern json_object *log_fields(void);

/* log_field_str: returns nothing; sets key to value (NULL: JSON null) after log_clean. */
extern void log_field_str(json_object *fields, const char *key, const char *value);

/* log_field_strn: returns nothing; as log_field_str for len bytes that may hold anything but NUL. */
extern void log_field_strn(json_object *fields, const char *key, const char *value, size_t len);

/* log_field_int: returns nothing; sets key to an integer. */
extern void log_field_int(json_object *fields, const char *key, long long value);

/* log_field_double: returns nothing; sets key to a number printed with 3 decimals. */
extern void log_field_double(json_object *fields, const char *key, double value);

/*
 * log_clean: returns a malloc'd NUL-terminated copy of len bytes of s in which every byte that does not
 * belong to a well-formed UTF-8 sequence (RFC 3629 section 4: no overlong forms, no surrogates, nothing
 * above U+10FFFF) and every NUL is replaced by the text \xNN; *outlen gets its length (may be NULL).
 */
extern char *log_clean(const char *s, size_t len, size_t *outlen);

/* log_timestamp: returns buf, tv (NULL: now) as RFC 3339 UTC with milliseconds ("...T21:51:23.042Z"). */
extern char *log_timestamp(char *buf, size_t len, const struct timeval *tv);

/*
 * log_pq_notice: a libpq notice receiver (PQsetNoticeReceiver(conn, log_pq_notice, "pool")): a NOTICE
 * or WARNING PostgreSQL sends on a connection becomes a "pg_notice" line with its severity, SQLSTATE,
 * message and detail, instead of libpq's default raw text on stderr. arg names the connection's role.
 */
extern void log_pq_notice(void *arg, const PGresult *res);

#endif
