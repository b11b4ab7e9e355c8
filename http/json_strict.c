/*
 * json_strict.c
 *	  A strict RFC 8259 validator for request bodies. json-c, even with JSON_TOKENER_STRICT, accepts
 *	  NaN, Infinity, -01, 1., single quotes and raw control characters, keeps the bytes of a string
 *	  without checking they are UTF-8, and stores "a\u0000b" as a C string that reads "a"; it also
 *	  refuses some valid texts (a bare number at the end of the input, nesting past its default depth
 *	  of 32). ex7d runs this check first, so json-c only ever sees texts this file accepted.
 *
 *	  The grammar is RFC 8259 exactly: any value at top level (section 2), whitespace only SP, HT, LF
 *	  and CR, numbers per section 6, the escapes of section 7, no unescaped U+0000..U+001F in strings.
 *	  Strings must be UTF-8 per RFC 3629 section 4 (no overlong forms, no encoded surrogates, nothing
 *	  above U+10FFFF), \u escapes may not leave a surrogate unpaired (section 8.2 allows such texts but
 *	  says their behaviour is unpredictable), and \u0000 is refused because every consumer of a body
 *	  field here is a C string or a PostgreSQL text, which cannot hold it.
 *
 *	  Iterative, with a fixed stack of JSON_STRICT_MAX_DEPTH frames: no allocation, no recursion, every
 *	  read bounded by len, so it is safe on any bytes (a fuzzer calls json_strict_check directly:
 *	  test/checks/json_strict.sh).
 */
#include "json_strict.h"

#include <stdio.h>
#include <string.h>

#define STR_(x) #x
#define STR(x) STR_(x)

/* One open array or object. */
typedef struct Frame
{
	char		type;			/* '[' or '{' */
	bool		has_name;		/* an object whose current member's name has been read */
	size_t		index;			/* an array's current element */
	size_t		name_off;
	size_t		name_len;
} Frame;

typedef struct Parser
{
	const unsigned char *s;
	size_t		len;
	size_t		p;				/* the next byte to read */
	size_t		at;				/* where a scan function found its error */
	int			depth;
	Frame		stack[JSON_STRICT_MAX_DEPTH];
	JsonStrictError *err;
	bool		string_error;	/* err holds the first string error */
} Parser;

/* is_ws: returns true for the four whitespace bytes of RFC 8259 section 2. */
static inline bool
is_ws(unsigned char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static inline bool
is_digit(unsigned char c)
{
	return c >= '0' && c <= '9';
}

/* hex_value: returns the value of hex digit c, or -1. */
static inline int
hex_value(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/*
 * utf8_length: returns the length of the well-formed UTF-8 sequence at s (at most n bytes there), or 0
 * when it is not one: the table of RFC 3629 section 4, which leaves out overlong forms (C0, C1, E0 80..9F,
 * F0 80..8F), the surrogates U+D800..U+DFFF (ED A0..BF) and everything above U+10FFFF (F4 90.., F5..FF).
 */
static size_t
utf8_length(const unsigned char *s, size_t n)
{
	unsigned char c = s[0];
	unsigned char lo = 0x80,
				hi = 0xBF;
	size_t		need;

	if (c < 0x80)
		return 1;
	if (c >= 0xC2 && c <= 0xDF)
		need = 2;
	else if (c >= 0xE0 && c <= 0xEF)
	{
		need = 3;
		if (c == 0xE0)
			lo = 0xA0;
		else if (c == 0xED)
			hi = 0x9F;
	}
	else if (c >= 0xF0 && c <= 0xF4)
	{
		need = 4;
		if (c == 0xF0)
			lo = 0x90;
		else if (c == 0xF4)
			hi = 0x8F;
	}
	else
		return 0;
	if (n < need)
		return 0;
	if (s[1] < lo || s[1] > hi)
		return 0;
	for (size_t i = 2; i < need; i++)
		if (s[i] < 0x80 || s[i] > 0xBF)
			return 0;
	return need;
}

/*
 * note_string_error: returns nothing; records a string error at byte at unless one was recorded
 * before, with the locator of the string: the path of open containers (an object contributes the name
 * of the member being read; one whose member name is being read contributes nothing, in_name).
 */
static void
note_string_error(Parser *ps, JsonStrictKind kind, size_t at, bool in_name)
{
	JsonStrictError *err = ps->err;

	if (ps->string_error)
		return;
	ps->string_error = true;
	err->kind = kind;
	err->offset = at;
	err->in_name = in_name;
	err->npath = 0;
	for (int i = 0; i < ps->depth; i++)
	{
		const Frame *f = &ps->stack[i];
		JsonStrictStep *step = &err->path[err->npath];

		if (f->type == '[')
		{
			step->is_index = true;
			step->index = f->index;
			step->key_off = step->key_len = 0;
		}
		else if (f->has_name)
		{
			step->is_index = false;
			step->index = 0;
			step->key_off = f->name_off;
			step->key_len = f->name_len;
		}
		else
			break;				/* the innermost object, whose member name is the string */
		err->npath++;
	}
}

/* hex4: returns JSON_STRICT_OK with *cp set from the four hex digits at s[at..], or the error. */
static JsonStrictKind
hex4(Parser *ps, size_t at, unsigned *cp)
{
	*cp = 0;
	for (size_t i = 0; i < 4; i++)
	{
		int			v;

		if (at + i >= ps->len)
		{
			ps->at = ps->len;
			return JSON_STRICT_TRUNCATED;
		}
		v = hex_value(ps->s[at + i]);
		if (v < 0)
		{
			ps->at = at + i;
			return JSON_STRICT_ESCAPE;
		}
		*cp = (*cp << 4) | (unsigned) v;
	}
	return JSON_STRICT_OK;
}

/*
 * scan_string: returns JSON_STRICT_OK with ps->p after the closing quote of the string whose opening
 * quote is at ps->p, or a grammar error (ps->at where). String errors are noted and the scan goes on.
 */
static JsonStrictKind
scan_string(Parser *ps, bool is_name)
{
	const unsigned char *s = ps->s;
	size_t		p = ps->p + 1;

	for (;;)
	{
		unsigned char c;

		if (p >= ps->len)
		{
			ps->at = ps->len;
			return JSON_STRICT_TRUNCATED;
		}
		c = s[p];
		if (c == '"')
		{
			ps->p = p + 1;
			return JSON_STRICT_OK;
		}
		if (c == '\\')
		{
			size_t		esc = p;

			if (p + 1 >= ps->len)
			{
				ps->at = ps->len;
				return JSON_STRICT_TRUNCATED;
			}
			switch (s[p + 1])
			{
				case '"':
				case '\\':
				case '/':
				case 'b':
				case 'f':
				case 'n':
				case 'r':
				case 't':
					p += 2;
					break;
				case 'u':
					{
						unsigned	cp;
						JsonStrictKind k = hex4(ps, p + 2, &cp);

						if (k != JSON_STRICT_OK)
							return k;
						p += 6;
						if (cp == 0)
							note_string_error(ps, JSON_STRICT_STRING_NUL, esc, is_name);
						else if (cp >= 0xDC00 && cp <= 0xDFFF)
							note_string_error(ps, JSON_STRICT_STRING_SURROGATE, esc, is_name);
						else if (cp >= 0xD800 && cp <= 0xDBFF)
						{
							unsigned	low;

							/* a pair is the high half's escape followed at once by the low half's */
							if (p + 1 < ps->len && s[p] == '\\' && s[p + 1] == 'u' &&
								hex4(ps, p + 2, &low) == JSON_STRICT_OK && low >= 0xDC00 && low <= 0xDFFF)
								p += 6;
							else
								note_string_error(ps, JSON_STRICT_STRING_SURROGATE, esc, is_name);
						}
					}
					break;
				default:
					ps->at = p;
					return JSON_STRICT_ESCAPE;
			}
			continue;
		}
		if (c < 0x20)
		{
			ps->at = p;
			return JSON_STRICT_CONTROL;
		}
		if (c < 0x80)
			p++;
		else
		{
			size_t		n = utf8_length(s + p, ps->len - p);

			if (n == 0)
			{
				/* one byte at a time: a quote or backslash is never part of a multi-byte sequence */
				note_string_error(ps, JSON_STRICT_STRING_UTF8, p, is_name);
				p++;
			}
			else
				p += n;
		}
	}
}

/*
 * scan_number: returns JSON_STRICT_OK with ps->p after the number at ps->p (RFC 8259 section 6:
 * -? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?), or JSON_STRICT_NUMBER with ps->at where.
 */
static JsonStrictKind
scan_number(Parser *ps)
{
	const unsigned char *s = ps->s;
	size_t		len = ps->len;
	size_t		p = ps->p;

	if (s[p] == '-')
		p++;
	if (p < len && s[p] == '0')
	{
		p++;
		if (p < len && is_digit(s[p]))
		{
			ps->at = p;			/* a leading zero */
			return JSON_STRICT_NUMBER;
		}
	}
	else if (p < len && s[p] >= '1' && s[p] <= '9')
		while (p < len && is_digit(s[p]))
			p++;
	else
	{
		ps->at = p;				/* "-", "-.5", "-Infinity" */
		return JSON_STRICT_NUMBER;
	}
	if (p < len && s[p] == '.')
	{
		p++;
		if (p >= len || !is_digit(s[p]))
		{
			ps->at = p;			/* "1." */
			return JSON_STRICT_NUMBER;
		}
		while (p < len && is_digit(s[p]))
			p++;
	}
	if (p < len && (s[p] == 'e' || s[p] == 'E'))
	{
		p++;
		if (p < len && (s[p] == '+' || s[p] == '-'))
			p++;
		if (p >= len || !is_digit(s[p]))
		{
			ps->at = p;			/* "1e", "1e+" */
			return JSON_STRICT_NUMBER;
		}
		while (p < len && is_digit(s[p]))
			p++;
	}
	ps->p = p;
	return JSON_STRICT_OK;
}

/* scan_literal: returns JSON_STRICT_OK with ps->p after word at ps->p, or the error with ps->at where. */
static JsonStrictKind
scan_literal(Parser *ps, const char *word)
{
	size_t		n = strlen(word);

	for (size_t i = 0; i < n; i++)
	{
		if (ps->p + i >= ps->len)
		{
			ps->at = ps->len;
			return JSON_STRICT_TRUNCATED;
		}
		if (ps->s[ps->p + i] != (unsigned char) word[i])
		{
			ps->at = ps->p + i;
			return JSON_STRICT_UNEXPECTED;
		}
	}
	ps->p += n;
	return JSON_STRICT_OK;
}

/* starts_with: returns true when the text at ps->p begins with word. */
static bool
starts_with(const Parser *ps, const char *word)
{
	size_t		n = strlen(word);

	return ps->len - ps->p >= n && memcmp(ps->s + ps->p, word, n) == 0;
}

/* fail: returns kind after recording it as the answer (a grammar error replaces a string error). */
static JsonStrictKind
fail(Parser *ps, JsonStrictKind kind, size_t at)
{
	ps->err->kind = kind;
	ps->err->offset = at;
	ps->err->npath = 0;
	ps->err->in_name = false;
	ps->err->top = JSON_STRICT_T_NONE;
	return kind;
}

JsonStrictKind
json_strict_check(const char *text, size_t len, JsonStrictError *err)
{
	Parser		ps;
	enum
	{
		S_VALUE, S_ARRAY_FIRST, S_OBJECT_FIRST, S_NAME, S_AFTER
	}			state = S_VALUE;
	JsonStrictType top = JSON_STRICT_T_NONE;

	memset(err, 0, sizeof(*err));
	ps.s = (const unsigned char *) text;
	ps.len = text ? len : 0;
	ps.p = 0;
	ps.at = 0;
	ps.depth = 0;
	ps.err = err;
	ps.string_error = false;

	if (ps.len >= 3 && ps.s[0] == 0xEF && ps.s[1] == 0xBB && ps.s[2] == 0xBF)
		return fail(&ps, JSON_STRICT_BOM, 0);
	while (ps.p < ps.len && is_ws(ps.s[ps.p]))
		ps.p++;
	if (ps.p == ps.len)
		return fail(&ps, JSON_STRICT_EMPTY, ps.p);

	for (;;)
	{
		JsonStrictKind k = JSON_STRICT_OK;
		Frame	   *f;
		unsigned char c;

		while (ps.p < ps.len && is_ws(ps.s[ps.p]))
			ps.p++;
		switch (state)
		{
			case S_ARRAY_FIRST:
				if (ps.p < ps.len && ps.s[ps.p] == ']')
				{
					ps.depth--;
					ps.p++;
					state = S_AFTER;
					break;
				}
				/* fall through */
			case S_VALUE:
				if (ps.p >= ps.len)
					return fail(&ps, JSON_STRICT_TRUNCATED, ps.p);
				c = ps.s[ps.p];
				if (c == '{' || c == '[')
				{
					if (ps.depth == JSON_STRICT_MAX_DEPTH)
						return fail(&ps, JSON_STRICT_TOO_DEEP, ps.p);
					if (ps.depth == 0)
						top = c == '{' ? JSON_STRICT_T_OBJECT : JSON_STRICT_T_ARRAY;
					f = &ps.stack[ps.depth++];
					f->type = (char) c;
					f->has_name = false;
					f->index = 0;
					f->name_off = f->name_len = 0;
					ps.p++;
					state = c == '{' ? S_OBJECT_FIRST : S_ARRAY_FIRST;
					break;
				}
				if (c == '"')
				{
					k = scan_string(&ps, false);
					if (ps.depth == 0)
						top = JSON_STRICT_T_STRING;
				}
				else if (c == '-' || is_digit(c))
				{
					k = scan_number(&ps);
					if (ps.depth == 0)
						top = JSON_STRICT_T_NUMBER;
				}
				else if (c == 't' || c == 'f' || c == 'n')
				{
					k = scan_literal(&ps, c == 't' ? "true" : c == 'f' ? "false" : "null");
					if (ps.depth == 0)
						top = JSON_STRICT_T_LITERAL;
				}
				else if (c == '+' || c == '.' || starts_with(&ps, "NaN") || starts_with(&ps, "Infinity"))
				{
					k = JSON_STRICT_NUMBER;
					ps.at = ps.p;
				}
				else
				{
					k = JSON_STRICT_UNEXPECTED;
					ps.at = ps.p;
				}
				if (k != JSON_STRICT_OK)
					return fail(&ps, k, ps.at);
				state = S_AFTER;
				break;
			case S_OBJECT_FIRST:
				if (ps.p < ps.len && ps.s[ps.p] == '}')
				{
					ps.depth--;
					ps.p++;
					state = S_AFTER;
					break;
				}
				/* fall through */
			case S_NAME:
				if (ps.p >= ps.len)
					return fail(&ps, JSON_STRICT_TRUNCATED, ps.p);
				if (ps.s[ps.p] != '"')
					return fail(&ps, JSON_STRICT_UNEXPECTED, ps.p);
				f = &ps.stack[ps.depth - 1];
				f->has_name = false;
				f->name_off = ps.p + 1;
				k = scan_string(&ps, true);
				if (k != JSON_STRICT_OK)
					return fail(&ps, k, ps.at);
				f->name_len = ps.p - 1 - f->name_off;
				f->has_name = true;
				while (ps.p < ps.len && is_ws(ps.s[ps.p]))
					ps.p++;
				if (ps.p >= ps.len)
					return fail(&ps, JSON_STRICT_TRUNCATED, ps.p);
				if (ps.s[ps.p] != ':')
					return fail(&ps, JSON_STRICT_UNEXPECTED, ps.p);
				ps.p++;
				state = S_VALUE;
				break;
			case S_AFTER:
				if (ps.depth == 0)
				{
					if (ps.p < ps.len)
						return fail(&ps, JSON_STRICT_TRAILING, ps.p);
					if (!ps.string_error)
						err->top = top;
					return err->kind;
				}
				if (ps.p >= ps.len)
					return fail(&ps, JSON_STRICT_TRUNCATED, ps.p);
				c = ps.s[ps.p];
				f = &ps.stack[ps.depth - 1];
				if (c == ',')
				{
					ps.p++;
					if (f->type == '[')
					{
						f->index++;
						state = S_VALUE;
					}
					else
						state = S_NAME;
				}
				else if ((c == ']' && f->type == '[') || (c == '}' && f->type == '{'))
				{
					ps.depth--;
					ps.p++;
				}
				else
					return fail(&ps, JSON_STRICT_UNEXPECTED, ps.p);
				break;
		}
	}
}

bool
json_strict_malformed(JsonStrictKind kind)
{
	return kind >= JSON_STRICT_EMPTY && kind <= JSON_STRICT_TRAILING;
}

const char *
json_strict_reason(JsonStrictKind kind)
{
	switch (kind)
	{
		case JSON_STRICT_OK:
			return "valid";
		case JSON_STRICT_EMPTY:
			return "no value";
		case JSON_STRICT_TRUNCATED:
			return "unexpected end of the text";
		case JSON_STRICT_UNEXPECTED:
			return "unexpected character";
		case JSON_STRICT_BOM:
			return "byte order mark (RFC 8259 section 8.1)";
		case JSON_STRICT_NUMBER:
			return "invalid number (RFC 8259 section 6)";
		case JSON_STRICT_ESCAPE:
			return "invalid escape in a string (RFC 8259 section 7)";
		case JSON_STRICT_CONTROL:
			return "unescaped control character in a string (RFC 8259 section 7)";
		case JSON_STRICT_TRAILING:
			return "data after the value";
		case JSON_STRICT_STRING_UTF8:
			return "string is not valid UTF-8 (RFC 3629)";
		case JSON_STRICT_STRING_SURROGATE:
			return "string holds a lone surrogate (RFC 8259 section 8.2)";
		case JSON_STRICT_STRING_NUL:
			return "string holds a NUL character (\\u0000)";
		case JSON_STRICT_TOO_DEEP:
			return "arrays and objects nested deeper than " STR(JSON_STRICT_MAX_DEPTH) " levels";
	}
	return "invalid";
}

/* Out: a bounded writer that counts what it could not write, like snprintf. */
typedef struct Out
{
	char	   *buf;
	size_t		size;
	size_t		n;
} Out;

static void
out_put(Out *o, const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++, o->n++)
		if (o->n + 1 < o->size)
			o->buf[o->n] = s[i];
}

size_t
json_strict_loc(const JsonStrictError *err, const char *text, char *buf, size_t size)
{
	Out			o = {buf, size, 0};

	out_put(&o, "[\"body\"", 7);
	for (int i = 0; i < err->npath && i < JSON_STRICT_MAX_DEPTH; i++)
	{
		const JsonStrictStep *step = &err->path[i];

		if (step->is_index)
		{
			char		num[32];
			int			n = snprintf(num, sizeof(num), ", %zu", step->index);

			out_put(&o, num, (size_t) n);
		}
		else
		{
			out_put(&o, ", \"", 3);
			out_put(&o, text + step->key_off, step->key_len);
			out_put(&o, "\"", 1);
		}
	}
	out_put(&o, "]", 1);
	if (size > 0)
		buf[o.n < size ? o.n : size - 1] = '\0';
	return o.n;
}
