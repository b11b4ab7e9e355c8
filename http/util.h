/*
 * util.h
 *	  Text shape checks for request values (util.c).
 */
#ifndef EX7D_UTIL_H
#define EX7D_UTIL_H

#include <stdbool.h>
#include <stdint.h>

/* is_uuid_text: returns true when s is a canonical 8-4-4-4-12 hex uuid. */
extern bool is_uuid_text(const char *s);

/* is_int_text: returns true when s is a decimal integer that fits in 32 bits. */
extern bool is_int_text(const char *s);

/* is_iso8601: returns true for an ISO-8601 date or date-time with optional fraction and offset. */
extern bool is_iso8601(const char *s);

/* is_numeric_text: returns true for an optionally signed decimal number (no exponent, no NaN). */
extern bool is_numeric_text(const char *s);

/* fnv1a: returns the 32-bit FNV-1a hash of s (hash tables of the token cache and the user cache). */
extern unsigned fnv1a(const char *s);

#endif
