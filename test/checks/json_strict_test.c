/*
 * json_strict_test.c
 *	  The cases of http/json_strict.c (RFC 8259, RFC 3629), then a bounded fuzz: random and mutated
 *	  texts must never crash it (test/checks/json_strict.sh builds this with ASan and UBSan), and every
 *	  text it accepts must parse in json-c with the same depth limit, to the end. Prints TAP-like "ok -" /
 *	  "not ok -" lines; exits 1 on any failure. With --hex it only answers "<kind> <top>" for each text
 *	  on stdin (test/checks/json_strict_diff.py compares those with Python's json module).
 */
#include "json_strict.h"

#include <json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int	failures;
static int	checks;

typedef struct Case
{
	const char *text;
	size_t		len;			/* 0: strlen(text) */
	JsonStrictKind kind;
	long		offset;			/* -1: not checked */
	const char *loc;			/* string errors: the expected locator */
} Case;

#define C(t, k, o) {t, 0, k, o, NULL}
#define L(t, k, o, l) {t, 0, k, o, l}
#define B(t, n, k, o) {t, n, k, o, NULL}

static const Case cases[] = {
	/* section 2: any value at top level, whitespace SP HT LF CR only */
	C("{}", JSON_STRICT_OK, -1), C("[]", JSON_STRICT_OK, -1), C("0", JSON_STRICT_OK, -1),
	C("-0", JSON_STRICT_OK, -1), C("\"x\"", JSON_STRICT_OK, -1), C("true", JSON_STRICT_OK, -1),
	C("false", JSON_STRICT_OK, -1), C("null", JSON_STRICT_OK, -1), C(" \t\r\n{ \t\r\n} \t\r\n", JSON_STRICT_OK, -1),
	C("", JSON_STRICT_EMPTY, 0), C(" \n ", JSON_STRICT_EMPTY, 3), C("\f{}", JSON_STRICT_UNEXPECTED, 0),
	C("{}\v", JSON_STRICT_TRAILING, 2), C("\xc2\xa0{}", JSON_STRICT_UNEXPECTED, 0),
	C("{} {}", JSON_STRICT_TRAILING, 3), C("1 2", JSON_STRICT_TRAILING, 2),
	C("\xef\xbb\xbf{}", JSON_STRICT_BOM, 0),
	/* section 6: numbers */
	C("[1,-1,0.5,-0.5,1e5,1E+5,1e-5,12.34e56,0e0,-0.0e-0]", JSON_STRICT_OK, -1),
	C("99999999999999999999999999999", JSON_STRICT_OK, -1), C("1e400", JSON_STRICT_OK, -1),
	C("01", JSON_STRICT_NUMBER, 1), C("[-01]", JSON_STRICT_NUMBER, 3), C("1.", JSON_STRICT_NUMBER, 2),
	C("[1.]", JSON_STRICT_NUMBER, 3), C(".5", JSON_STRICT_NUMBER, 0), C("+1", JSON_STRICT_NUMBER, 0),
	C("-", JSON_STRICT_NUMBER, 1), C("-a", JSON_STRICT_NUMBER, 1), C("1e", JSON_STRICT_NUMBER, 2),
	C("1e+", JSON_STRICT_NUMBER, 3), C("1.e5", JSON_STRICT_NUMBER, 2), C("NaN", JSON_STRICT_NUMBER, 0),
	C("[Infinity]", JSON_STRICT_NUMBER, 1), C("-Infinity", JSON_STRICT_NUMBER, 1),
	C("{\"a\": NaN}", JSON_STRICT_NUMBER, 6), C("0x10", JSON_STRICT_TRAILING, 1), C("1_000", JSON_STRICT_TRAILING, 1),
	/* literals */
	C("tru", JSON_STRICT_TRUNCATED, 3), C("True", JSON_STRICT_UNEXPECTED, 0), C("nul", JSON_STRICT_TRUNCATED, 3),
	C("nulx", JSON_STRICT_UNEXPECTED, 3), C("undefined", JSON_STRICT_UNEXPECTED, 0),
	/* structure */
	C("[1,]", JSON_STRICT_UNEXPECTED, 3), C("{\"a\":1,}", JSON_STRICT_UNEXPECTED, 7), C("[,1]", JSON_STRICT_UNEXPECTED, 1),
	C("{\"a\" 1}", JSON_STRICT_UNEXPECTED, 5), C("{a:1}", JSON_STRICT_UNEXPECTED, 1), C("{'a':1}", JSON_STRICT_UNEXPECTED, 1),
	C("['a']", JSON_STRICT_UNEXPECTED, 1), C("[1}", JSON_STRICT_UNEXPECTED, 2), C("{\"a\":1]", JSON_STRICT_UNEXPECTED, 6),
	C("[", JSON_STRICT_TRUNCATED, 1), C("{", JSON_STRICT_TRUNCATED, 1), C("{\"a\"", JSON_STRICT_TRUNCATED, 4),
	C("{\"a\":", JSON_STRICT_TRUNCATED, 5), C("[1", JSON_STRICT_TRUNCATED, 2), C("]", JSON_STRICT_UNEXPECTED, 0),
	C("{\"a\":1 /* c */}", JSON_STRICT_UNEXPECTED, 7), C("[1]//", JSON_STRICT_TRAILING, 3),
	C("{\"a\":1,\"a\":2}", JSON_STRICT_OK, -1), C("{\"\":[]}", JSON_STRICT_OK, -1),
	B("{\"a\":1}\0", 8, JSON_STRICT_TRAILING, 7), B("\0", 1, JSON_STRICT_UNEXPECTED, 0),
	C("\xff", JSON_STRICT_UNEXPECTED, 0), C("[1,\xe2\x80\xa8 2]", JSON_STRICT_UNEXPECTED, 3),
	/* section 7: strings */
	C("\"\\\" \\\\ \\/ \\b \\f \\n \\r \\t \\u00e9 \\uD83D\\uDE00\"", JSON_STRICT_OK, -1),
	C("\"\\x41\"", JSON_STRICT_ESCAPE, 1), C("\"\\a\"", JSON_STRICT_ESCAPE, 1), C("\"\\'\"", JSON_STRICT_ESCAPE, 1),
	C("\"\\u12\"", JSON_STRICT_ESCAPE, 5), C("\"\\u12", JSON_STRICT_TRUNCATED, 5), C("\"\\", JSON_STRICT_TRUNCATED, 2),
	C("\"abc", JSON_STRICT_TRUNCATED, 4), C("\"a\tb\"", JSON_STRICT_CONTROL, 2), C("\"a\nb\"", JSON_STRICT_CONTROL, 2),
	B("\"a\0b\"", 5, JSON_STRICT_CONTROL, 2), C("\"\x1f\"", JSON_STRICT_CONTROL, 1), C("\"\x7f\"", JSON_STRICT_OK, -1),
	/* strings no field may hold: 422 with the locator */
	L("\"a\\u0000b\"", JSON_STRICT_STRING_NUL, 2, "[\"body\"]"),
	L("{\"name\": \"a\\u0000b\"}", JSON_STRICT_STRING_NUL, 11, "[\"body\", \"name\"]"),
	L("{\"items\": [{\"symbol\": \"ok\"}, {}, {\"x\": 1, \"symbol\": \"\\uD800\"}]}", JSON_STRICT_STRING_SURROGATE, 53,
	  "[\"body\", \"items\", 2, \"symbol\"]"),
	L("{\"a\": {\"b\\u0063\": [\"\\uDC00x\"]}}", JSON_STRICT_STRING_SURROGATE, 20, "[\"body\", \"a\", \"b\\u0063\", 0]"),
	L("{\"a\": \"\\uD800\\u0041\"}", JSON_STRICT_STRING_SURROGATE, 7, "[\"body\", \"a\"]"),
	L("{\"a\": \"\\uDBFF\\uDFFF\"}", JSON_STRICT_OK, -1, NULL),
	L("{\"a\": \"\\uD800\\uD800\\uDC00\"}", JSON_STRICT_STRING_SURROGATE, 7, "[\"body\", \"a\"]"),
	L("{\"pass\": \"\xff\xfe\"}", JSON_STRICT_STRING_UTF8, 10, "[\"body\", \"pass\"]"),
	L("{\"a\": {\"b\\u0000\": 1}}", JSON_STRICT_STRING_NUL, 9, "[\"body\", \"a\"]"),
	L("{\"a\xc0\xaf\": 1}", JSON_STRICT_STRING_UTF8, 3, "[\"body\"]"),
	L("[\"\xc0\xaf\"]", JSON_STRICT_STRING_UTF8, 2, "[\"body\", 0]"),					/* overlong '/' */
	L("[\"\xe0\x80\xaf\"]", JSON_STRICT_STRING_UTF8, 2, "[\"body\", 0]"),				/* overlong, 3 bytes */
	L("[\"\xf0\x80\x80\xaf\"]", JSON_STRICT_STRING_UTF8, 2, "[\"body\", 0]"),			/* overlong, 4 bytes */
	L("[\"\xed\xa0\x80\"]", JSON_STRICT_STRING_UTF8, 2, "[\"body\", 0]"),				/* U+D800 encoded */
	L("[\"\xf4\x90\x80\x80\"]", JSON_STRICT_STRING_UTF8, 2, "[\"body\", 0]"),			/* U+110000 */
	L("[\"\xf5\x80\x80\x80\"]", JSON_STRICT_STRING_UTF8, 2, "[\"body\", 0]"),
	L("[\"\x80\"]", JSON_STRICT_STRING_UTF8, 2, "[\"body\", 0]"),						/* a lone continuation */
	L("[\"\xc3\"]", JSON_STRICT_STRING_UTF8, 2, "[\"body\", 0]"),						/* cut short by the quote */
	L("[1, \"\xe2\x82\"]", JSON_STRICT_STRING_UTF8, 5, "[\"body\", 1]"),
	L("[\"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\xed\x9f\xbf\xee\x80\x80\xf4\x8f\xbf\xbf\"]", JSON_STRICT_OK, -1, NULL),
	/* a grammar error after a string error wins: the text is not JSON */
	C("[\"\\u0000\", 01]", JSON_STRICT_NUMBER, 12), C("[\"\xff\"", JSON_STRICT_TRUNCATED, 4),
	C("[\"\\uD800\\u12\"]", JSON_STRICT_ESCAPE, 12),
	/* the first string error is the one reported */
	L("[\"\xff\", \"\\u0000\"]", JSON_STRICT_STRING_UTF8, 2, "[\"body\", 0]"),
};

static void
check(bool ok, const char *what, const char *text)
{
	checks++;
	if (!ok)
	{
		failures++;
		printf("not ok - %s: ", what);
		for (const unsigned char *p = (const unsigned char *) text; *p; p++)
			printf(*p >= 0x20 && *p < 0x7f ? "%c" : "\\x%02x", *p);
		printf("\n");
	}
}

/* nested: returns a malloc'd text of n arrays around the object {"a": value}. */
static char *
nested(int n, const char *value)
{
	char	   *s = malloc((size_t) n * 2 + strlen(value) + 16);
	size_t		k = 0;

	for (int i = 0; i < n; i++)
		s[k++] = '[';
	k += (size_t) sprintf(s + k, "{\"a\":%s}", value);
	for (int i = 0; i < n; i++)
		s[k++] = ']';
	s[k] = '\0';
	return s;
}

/*
 * json_c_agrees: returns true when json-c (strict, the depth ex7d gives it) parses all len bytes of text;
 * a bare number or literal is given a space after it (json-c waits for more at the end of its input;
 * ex7d never gives it one: a body that is not an object is refused before json-c).
 */
static bool
json_c_agrees(const char *in, size_t len)
{
	char	   *text = malloc(len + 2);
	json_tokener *tok = json_tokener_new_ex(JSON_STRICT_JSONC_DEPTH);
	json_object *o;
	bool		ok;

	JsonStrictError err;

	memcpy(text, in, len);
	if (json_strict_check(in, len, &err) == JSON_STRICT_OK &&
		(err.top == JSON_STRICT_T_NUMBER || err.top == JSON_STRICT_T_LITERAL))
		text[len++] = ' ';
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
	o = json_tokener_parse_ex(tok, text, (int) len);
	ok = (o != NULL || err.top == JSON_STRICT_T_LITERAL) && json_tokener_get_error(tok) == json_tokener_success && json_tokener_get_parse_end(tok) == len;
	json_object_put(o);
	json_tokener_free(tok);
	free(text);
	return ok;
}

static const char *const seeds[] = {
	"{\"name\": \"EMA cross\", \"instrument\": \"MES\", \"timeframe\": \"5m\", \"tags\": [\"a\", \"b\"], \"graph\": "
	"{\"nodes\": [{\"id\": \"c\", \"type\": \"close\"}, {\"id\": \"f\", \"type\": \"sma\", \"params\": {\"period\": 3}}], "
	"\"edges\": [{\"from\": \"c\", \"to\": \"f\", \"port\": \"in\"}], \"meta\": {}}, \"note\": \"\\u00e9\\uD83D\\uDE00 \xc3\xa9\"}",
	"{\"close_price\": \"20010.50\", \"x\": [1, -0.5e+3, true, false, null, {}, []]}",
	"[[[[\"\\\\\\\"\\/\\b\\f\\n\\r\\t\"]]]]",
};

/*
 * hex_mode: returns 0 after printing "<kind> <top>" for each line of stdin, a text in hex: the side of
 * test/checks/json_strict_diff.py that compares the check with Python's json module.
 */
static int
hex_mode(void)
{
	char	   *line = NULL;
	size_t		cap = 0;
	ssize_t		n;
	JsonStrictError err;

	while ((n = getline(&line, &cap, stdin)) > 0)
	{
		size_t		len = (size_t) (n - 1) / 2;
		char	   *text = malloc(len ? len : 1);

		for (size_t i = 0; i < len; i++)
		{
			unsigned	v;

			if (sscanf(line + 2 * i, "%2x", &v) != 1)
				v = 0;
			text[i] = (char) v;
		}
		JsonStrictKind k = json_strict_check(text, len, &err);

		printf("%d %d\n", (int) k, (int) err.top);
		free(text);
	}
	free(line);
	return 0;
}

int
main(int argc, char **argv)
{
	long		iterations;

	if (argc > 1 && strcmp(argv[1], "--hex") == 0)
		return hex_mode();
	iterations = argc > 1 ? atol(argv[1]) : 200000;
	JsonStrictError err;
	char		loc[512];
	unsigned	seed = 12345;
	size_t		accepted = 0;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
	{
		const Case *c = &cases[i];
		size_t		len = c->len ? c->len : strlen(c->text);
		JsonStrictKind k = json_strict_check(c->text, len, &err);
		char		what[1200];

		snprintf(what, sizeof(what), "case %zu: kind %d (want %d), offset %zu (want %ld)", i, (int) k, (int) c->kind,
				 err.offset, c->offset);
		check(k == c->kind && err.kind == k && (c->offset < 0 || (long) err.offset == c->offset), what, c->text);
		if (c->loc)
		{
			json_strict_loc(&err, c->text, loc, sizeof(loc));
			snprintf(what, sizeof(what), "case %zu: loc %s (want %s)", i, loc, c->loc);
			check(strcmp(loc, c->loc) == 0, what, c->text);
		}
		if (k == JSON_STRICT_OK)
		{
			snprintf(what, sizeof(what), "case %zu: json-c parses what json_strict accepts", i);
			check(json_c_agrees(c->text, len), what, c->text);
		}
	}
	printf("ok - %zu cases of RFC 8259 and RFC 3629\n", sizeof(cases) / sizeof(cases[0]));

	/* depth: the limit is accepted (and by json-c), one more is refused at the opening bracket */
	{
		char	   *nul = nested(JSON_STRICT_MAX_DEPTH - 1, "\"\\u0000\"");
		char	   *at = nested(JSON_STRICT_MAX_DEPTH - 1, "\"x\"");
		char	   *over = nested(JSON_STRICT_MAX_DEPTH, "1");
		char	   *far = nested(100000, "1");

		json_strict_check(nul, strlen(nul), &err);
		check(err.kind == JSON_STRICT_STRING_NUL && err.npath == JSON_STRICT_MAX_DEPTH,
			  "at the depth limit: the string error and its whole path", "");
		check(json_strict_check(at, strlen(at), &err) == JSON_STRICT_OK && json_c_agrees(at, strlen(at)),
			  "at the depth limit: valid for both json_strict and json-c", "");
		check(json_strict_check(over, strlen(over), &err) == JSON_STRICT_TOO_DEEP &&
			  err.offset == JSON_STRICT_MAX_DEPTH, "one level over the limit", "");
		check(json_strict_check(far, strlen(far), &err) == JSON_STRICT_TOO_DEEP, "100000 levels", "");
		free(nul);
		free(at);
		free(over);
		free(far);
		printf("ok - depth limit %d\n", JSON_STRICT_MAX_DEPTH);
	}

	/* loc into a small buffer: truncated like snprintf, always terminated */
	{
		const char *t = "{\"a_long_member_name\": [\"\\u0000\"]}";
		size_t		need;

		json_strict_check(t, strlen(t), &err);
		need = json_strict_loc(&err, t, loc, 8);
		check(need == strlen("[\"body\", \"a_long_member_name\", 0]") && strlen(loc) == 7, "loc truncated", t);
	}

	/* fuzz: random bytes, and seeds with bytes replaced, inserted or cut */
	for (long it = 0; it < iterations; it++)
	{
		char		buf[600];
		size_t		len;

		seed = seed * 1103515245u + 12345u;
		if (it % 4 == 0)
		{
			static const char alphabet[] = "{}[],:\"\\ u0123456789abcdefABCDEF-+.eEtrufalsn\t\n\r\x00\x1f\x7f\x80\xbf\xc2\xdf\xe0\xed\xef\xf0\xf4\xff";

			len = (seed >> 8) % 64;
			for (size_t i = 0; i < len; i++)
			{
				seed = seed * 1103515245u + 12345u;
				buf[i] = alphabet[(seed >> 8) % (sizeof(alphabet) - 1)];
			}
		}
		else
		{
			const char *s = seeds[(seed >> 8) % (sizeof(seeds) / sizeof(seeds[0]))];
			size_t		slen = strlen(s);
			int			edits = 1 + (int) ((seed >> 12) % 4);

			memcpy(buf, s, slen);
			len = slen;
			for (int e = 0; e < edits && len > 0; e++)
			{
				size_t		pos;

				seed = seed * 1103515245u + 12345u;
				pos = (seed >> 8) % len;
				switch ((seed >> 20) % 3)
				{
					case 0:
						buf[pos] = (char) (seed >> 24);
						break;
					case 1:
						if (len < sizeof(buf) - 1)
						{
							memmove(buf + pos + 1, buf + pos, len - pos);
							buf[pos] = (char) (seed >> 24);
							len++;
						}
						break;
					default:
						len = pos;
						break;
				}
			}
		}
		/* a copy of exactly len bytes, so ASan sees any read past the end */
		{
			char	   *exact = malloc(len ? len : 1);
			JsonStrictKind k;

			memcpy(exact, buf, len);
			k = json_strict_check(exact, len, &err);
			if (k == JSON_STRICT_OK)
			{
				accepted++;
				if (!json_c_agrees(exact, len))
				{
					buf[len] = '\0';
					check(false, "fuzz: json-c refuses a text json_strict accepted", buf);
				}
			}
			else if (!json_strict_malformed(k))
			{
				json_strict_loc(&err, exact, loc, sizeof(loc));
				check(err.offset < len && loc[0] == '[', "fuzz: a string error has an offset inside the text", "");
			}
			else
				check(err.offset <= len, "fuzz: the offset is inside the text", "");
			free(exact);
		}
	}
	printf("ok - fuzz: %ld texts, %zu accepted, every accepted one parsed by json-c\n", iterations, accepted);
	printf("%s - %d checks, %d failed\n", failures ? "not ok" : "ok", checks, failures);
	return failures ? 1 : 0;
}
