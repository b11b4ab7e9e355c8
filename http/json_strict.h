/*
 * json_strict.h
 *	  A strict RFC 8259 validator for request bodies, run before json-c parses them (json_strict.c).
 *	  Pure C: no allocation, no recursion, no libevent or libpq; safe on any bytes of any length.
 */
#ifndef EX7D_JSON_STRICT_H
#define EX7D_JSON_STRICT_H

#include <stdbool.h>
#include <stddef.h>

/*
 * The deepest nesting of arrays and objects accepted (the top-level container is level 1). RFC 8259
 * section 9 lets a parser limit nesting; no request of the API nests more than a handful of levels (a
 * strategy graph: body, graph, nodes, node, params), and 64 keeps the work of a refused body small.
 */
#define JSON_STRICT_MAX_DEPTH 64

/*
 * The depth to give json_tokener_new_ex: json-c counts the value inside the innermost container as one
 * more level, so every text within JSON_STRICT_MAX_DEPTH needs one more (test/checks/json_strict.sh).
 */
#define JSON_STRICT_JSONC_DEPTH (JSON_STRICT_MAX_DEPTH + 1)

typedef enum JsonStrictKind
{
	JSON_STRICT_OK = 0,
	/* malformed JSON: the text is not RFC 8259 (ex7d answers 400) */
	JSON_STRICT_EMPTY,			/* no value: nothing but whitespace */
	JSON_STRICT_TRUNCATED,		/* the text ends inside a value */
	JSON_STRICT_UNEXPECTED,		/* a byte the grammar does not allow here */
	JSON_STRICT_BOM,			/* a byte order mark: RFC 8259 section 8.1 */
	JSON_STRICT_NUMBER,			/* a number outside section 6: 01, 1., .5, +1, 1e, NaN, Infinity */
	JSON_STRICT_ESCAPE,			/* an escape outside section 7: \x, \u12 */
	JSON_STRICT_CONTROL,		/* an unescaped U+0000..U+001F inside a string (section 7) */
	JSON_STRICT_TRAILING,		/* more than whitespace after the value */
	/* valid grammar, but a string no field of the API may hold (422 with the field's locator) */
	JSON_STRICT_STRING_UTF8,	/* bytes that are not UTF-8 (RFC 3629 section 4) */
	JSON_STRICT_STRING_SURROGATE,	/* a \u escape of a lone surrogate (RFC 8259 section 8.2) */
	JSON_STRICT_STRING_NUL,		/* \u0000: C strings would end there */
	/* valid so far, but nested deeper than JSON_STRICT_MAX_DEPTH (422; the rest is not read) */
	JSON_STRICT_TOO_DEEP
} JsonStrictKind;

/* The type of the top-level value of a valid text. */
typedef enum JsonStrictType
{
	JSON_STRICT_T_NONE = 0,
	JSON_STRICT_T_OBJECT,
	JSON_STRICT_T_ARRAY,
	JSON_STRICT_T_STRING,
	JSON_STRICT_T_NUMBER,
	JSON_STRICT_T_LITERAL		/* true, false, null */
} JsonStrictType;

/* One step of a locator: an array index, or an object member name as it is written in the text. */
typedef struct JsonStrictStep
{
	bool		is_index;
	size_t		index;
	size_t		key_off;		/* the member name's bytes between its quotes, escapes as written */
	size_t		key_len;
} JsonStrictStep;

typedef struct JsonStrictError
{
	JsonStrictKind kind;
	size_t		offset;			/* byte offset of the error in the text */
	JsonStrictType top;			/* the top-level value's type (JSON_STRICT_OK only) */
	/* string errors: where the string is (empty: the top-level value, or a member name at top level) */
	int			npath;
	JsonStrictStep path[JSON_STRICT_MAX_DEPTH];
	bool		in_name;		/* the string is a member name of the object the path leads to */
} JsonStrictError;

/*
 * json_strict_check: returns err->kind after checking the len bytes at text against RFC 8259 and RFC
 * 3629. A grammar error wins over a string error found before it (a malformed text is malformed
 * whatever its strings hold); among string errors the first in the text is reported; nesting deeper
 * than JSON_STRICT_MAX_DEPTH stops the check at once.
 */
extern JsonStrictKind json_strict_check(const char *text, size_t len, JsonStrictError *err);

/* json_strict_malformed: returns true for the kinds that make the text not JSON at all (400). */
extern bool json_strict_malformed(JsonStrictKind kind);

/* json_strict_reason: returns a short, static, lower-case description of kind. */
extern const char *json_strict_reason(JsonStrictKind kind);

/*
 * json_strict_loc: returns the length of the JSON locator of err's string error with "body" first
 * (["body", "items", 2, "symbol"]), writing at most size bytes of it with a final NUL into buf, like
 * snprintf. Member names are copied as written in text, which the check found to be valid JSON string
 * content, so the locator is valid JSON.
 */
extern size_t json_strict_loc(const JsonStrictError *err, const char *text, char *buf, size_t size);

#endif
