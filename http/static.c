/*
 * static.c
 *	  The web console (docs/console.md, "Serving"): the files of one folder, read into memory at start-up
 *	  (as openapi.json is, main.c) and served from memory; nothing on disk is opened after start-up, so a
 *	  request path can only ever name one of the files loaded then.
 *
 *	  Where the folder comes from (web_load): EX7_WEB_DIR when set ("off": none); else web/ next to the
 *	  binary's folder (http/../web in the source tree, which `make run` serves); else EX7_SHAREDIR/web when
 *	  the build defines it (/usr/share/ex7/web in the Debian package). What is loaded: regular files and
 *	  folders whose names are letters, digits, ".", "_" and "-" and do not start with "." (so no URL of a
 *	  loaded file holds "%", "..", "\" or a NUL), whose extension has a media type below, at most
 *	  WEB_MAX_DEPTH folders deep, at most WEB_MAX_FILES files, WEB_MAX_FILE bytes a file and WEB_MAX_TOTAL
 *	  bytes in all: a folder over a cap stops start-up with a message (a console half served is worse than
 *	  none). At the top only the folders assets/ and docs/ and files of the types html, ico, png, svg, txt
 *	  and webmanifest are loaded: the console's sources and build files (src/, node_modules/,
 *	  package.json) sit beside them. Other entries are skipped and counted in the start-up line.
 *
 *	  Paths (router.c): /assets/<file> and /docs/<file> are the files of web/assets/ and web/docs/;
 *	  /docs is web/docs/index.html; a file at the top (/index.html, /favicon.ico) is itself; anything else
 *	  under /assets or /docs is a JSON 404 like any other. Every other GET or HEAD that no route takes and
 *	  that is not under /api, /openapi.json, /metrics, /livez or /readyz is a page of the single-page app:
 *	  it answers index.html (the "history API fallback"), unless its last segment has a dot (a file
 *	  that is not there: /favicon.ico without one is a 404, not a page) or it holds a dot segment or an
 *	  escaped ".", "/", "\" or control character.
 *
 *	  Caching (RFC 9111, section 5.2.2; RFC 8246): a file whose name carries a content hash (a
 *	  dot-separated segment of 8 or more hex digits before the extension, app.3f9a1c2b.js) never changes
 *	  under that name: Cache-Control: public, max-age=31536000, immutable. Every other file, index.html
 *	  above all, is no-cache: kept, but revalidated each time. Every file has a strong ETag, a hash of its
 *	  bytes ("sha256-<32 hex digits>", "-gzip" appended for the gzip representation, as openapi.c), and an
 *	  If-None-Match naming either (or "*") is a 304.
 *
 *	  Compression (RFC 9110, section 8.4): each text file (scripts, styles, HTML, SVG, JSON, source maps,
 *	  text) of 256 bytes or more is gzipped once here, at load, with zlib, and the copy kept when it saves
 *	  something; it is sent to a client whose Accept-Encoding accepts gzip, with Vary: Accept-Encoding.
 *	  *.gz files are not loaded: the copy is made from the file itself, so it cannot fall out of step.
 *
 *	  Security headers (web_headers, on every answer of the API address): the Content-Security-Policy
 *	  below (CSP Level 3) allows only same-origin scripts, styles, images (and data: images), fonts and
 *	  connections, no plugins, no <base>, no framing and forms only to this origin: no inline script
 *	  runs anywhere. /docs alone also allows inline styles (style-src 'unsafe-inline'), which the API
 *	  reference's renderer (Redoc, styled-components) writes into <style> elements and without which it
 *	  renders nothing; never inline script, nor the blob: worker Redoc would build its search index in
 *	  (web/docs/init.js turns its search off). X-Content-Type-Options:
 *	  nosniff (Fetch standard) holds each file to its Content-Type; Referrer-Policy: no-referrer keeps
 *	  the console's URLs (ids in them) from other sites.
 */
#include "static.h"
#include "log.h"
#include "openapi.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/sha.h>
#include <zlib.h>

#define WEB_MAX_TOTAL (64L * 1024 * 1024)	/* bytes of all the files (their gzip copies besides) */
#define WEB_MAX_FILE (16L * 1024 * 1024)	/* bytes of one file */
#define WEB_MAX_FILES 4096
#define WEB_MAX_DEPTH 8			/* folders below the web folder */
#define WEB_GZIP_MIN 256		/* smaller files are sent as they are */

#define WEB_CSP \
	"default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " \
	"font-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'"
#define WEB_CSP_DOCS \
	"default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; " \
	"connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; " \
	"frame-ancestors 'none'; form-action 'self'"

/* the media types served, by extension; zip: worth gzipping (text) */
static const struct
{
	const char *ext;
	const char *type;
	bool		zip;
}			web_types[] = {
	{"html", "text/html; charset=utf-8", true},
	{"js", "text/javascript; charset=utf-8", true},	/* RFC 9239 */
	{"mjs", "text/javascript; charset=utf-8", true},
	{"css", "text/css; charset=utf-8", true},
	{"svg", "image/svg+xml", true},
	{"json", "application/json", true},
	{"map", "application/json", true},
	{"webmanifest", "application/manifest+json", true},
	{"txt", "text/plain; charset=utf-8", true},
	{"ico", "image/vnd.microsoft.icon", true},
	{"png", "image/png", false},
	{"jpg", "image/jpeg", false},
	{"jpeg", "image/jpeg", false},
	{"gif", "image/gif", false},
	{"webp", "image/webp", false},
	{"woff2", "font/woff2", false},
	{"woff", "font/woff", false},
};

typedef struct WebFile
{
	char	   *path;			/* its URL path: "/assets/app.3f9a1c2b.js" */
	unsigned char *body;
	size_t		len;
	unsigned char *gz;			/* the gzip copy, or NULL */
	size_t		gz_len;
	char		etag[48];		/* "sha256-<32 hex>" with its quotes */
	char		etag_gz[56];
	bool		immutable;
	Route		route;			/* for reply_raw: its Content-Type, and its path in the access log */
} WebFile;

static struct
{
	WebFile    *files;			/* sorted by path */
	int			n;
	int			cap;
	size_t		total;
	size_t		zipped;
	int			skipped;
	const WebFile *index;		/* /index.html, the pages' answer, or NULL */
	Route		page;			/* the route a page is logged under */
}			W;

/* fail: returns -1 after writing the message to err. */
static int
fail(char *err, size_t errlen, const char *fmt,...) __attribute__((format(printf, 3, 4)));
static int
fail(char *err, size_t errlen, const char *fmt,...)
{
	va_list		ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return -1;
}

/* web_name_ok: returns true when a folder entry's name may be loaded (see the top of the file). */
static bool
web_name_ok(const char *name)
{
	if (name[0] == '.' || name[0] == '\0' || strlen(name) > 200)
		return false;
	for (const char *p = name; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') || *p == '.' ||
			  *p == '_' || *p == '-'))
			return false;
	return true;
}

/*
 * web_top: returns true when an entry at the top of the folder is served: the folders assets/ and docs/,
 * and files of a page's own types (index.html, favicon.ico, robots.txt, a manifest). Not the rest: the
 * console's sources and its build's files (src/, node_modules/, package.json) live there too.
 */
static bool
web_top(const char *name, bool dir)
{
	static const char *const exts[] = {".html", ".ico", ".png", ".svg", ".txt", ".webmanifest", NULL};
	const char *dot = strrchr(name, '.');

	if (dir)
		return strcmp(name, "assets") == 0 || strcmp(name, "docs") == 0;
	for (int i = 0; dot && exts[i]; i++)
		if (strcmp(dot, exts[i]) == 0)
			return true;
	return false;
}

/* web_type: returns the index in web_types of name's extension, or -1. */
static int
web_type(const char *name)
{
	const char *dot = strrchr(name, '.');

	if (dot == NULL || dot == name)
		return -1;
	for (int i = 0; i < (int) (sizeof(web_types) / sizeof(web_types[0])); i++)
		if (strcasecmp(dot + 1, web_types[i].ext) == 0)
			return i;
	return -1;
}

/* web_hashed: returns true when name has a dot-separated segment of 8+ hex digits before its extension. */
static bool
web_hashed(const char *name)
{
	const char *p = strchr(name, '.');

	while (p)
	{
		const char *q = strchr(p + 1, '.');
		size_t		len;
		bool		hex = true;

		if (q == NULL)
			break;				/* p + 1 is the extension */
		len = (size_t) (q - (p + 1));
		for (const char *c = p + 1; c < q; c++)
			if (!((*c >= '0' && *c <= '9') || (*c >= 'a' && *c <= 'f') || (*c >= 'A' && *c <= 'F')))
				hex = false;
		if (hex && len >= 8)
			return true;
		p = q;
	}
	return false;
}

/* web_gzip: returns nothing; keeps in f a gzip copy of its bytes when that is smaller. */
static void
web_gzip(WebFile *f)
{
	z_stream	zs;
	uLong		bound;

	memset(&zs, 0, sizeof(zs));
	/* windowBits 15 + 16: a gzip wrapper (RFC 1952) around the deflate stream */
	if (deflateInit2(&zs, Z_BEST_COMPRESSION, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
		return;
	bound = deflateBound(&zs, (uLong) f->len);
	f->gz = malloc(bound);
	zs.next_in = f->body;
	zs.avail_in = (uInt) f->len;
	zs.next_out = f->gz;
	zs.avail_out = (uInt) bound;
	if (f->gz == NULL || deflate(&zs, Z_FINISH) != Z_STREAM_END || zs.total_out + 32 >= f->len)
	{
		free(f->gz);
		f->gz = NULL;
	}
	else
		f->gz_len = zs.total_out;
	deflateEnd(&zs);
}

/* web_add: returns 0 after loading the regular file fs (of st) as url; -1 with err filled. */
static int
web_add(const char *fs, const char *url, const char *name, const struct stat *st, int type, char *err,
		size_t errlen)
{
	WebFile    *f;
	FILE	   *in;
	unsigned char md[SHA256_DIGEST_LENGTH];
	char		hex[2 * SHA256_DIGEST_LENGTH + 1];
	size_t		len = (size_t) st->st_size;

	if (W.n >= WEB_MAX_FILES)
		return fail(err, errlen, "the web folder has more than %d files (the cap; docs/console.md)", WEB_MAX_FILES);
	if (st->st_size > WEB_MAX_FILE)
		return fail(err, errlen, "%s is larger than %ld bytes (the cap of one file; docs/console.md)", fs,
					WEB_MAX_FILE);
	if (W.total + len > (size_t) WEB_MAX_TOTAL)
		return fail(err, errlen, "the web folder holds more than %ld bytes (the cap; docs/console.md) at %s",
					WEB_MAX_TOTAL, fs);
	if (W.n == W.cap)
	{
		int			cap = W.cap ? W.cap * 2 : 64;
		WebFile    *more = realloc(W.files, sizeof(WebFile) * (size_t) cap);

		if (more == NULL)
			return fail(err, errlen, "out of memory reading the web folder");
		W.files = more;
		W.cap = cap;
	}
	f = &W.files[W.n];
	memset(f, 0, sizeof(*f));
	f->body = malloc(len + 1);	/* + 1: never NULL, also for an empty file */
	if (f->body == NULL)
		return fail(err, errlen, "out of memory reading the web folder");
	if ((in = fopen(fs, "rb")) == NULL || fread(f->body, 1, len, in) != len)
	{
		int			e = errno;

		if (in)
			fclose(in);
		free(f->body);
		return fail(err, errlen, "cannot read %s: %s", fs, strerror(e));
	}
	fclose(in);
	f->len = len;
	f->path = strdup(url);
	SHA256(f->body, f->len, md);
	for (int i = 0; i < SHA256_DIGEST_LENGTH; i++)
		snprintf(hex + 2 * i, 3, "%02x", md[i]);
	snprintf(f->etag, sizeof(f->etag), "\"sha256-%.32s\"", hex);
	snprintf(f->etag_gz, sizeof(f->etag_gz), "\"sha256-%.32s-gzip\"", hex);
	f->immutable = web_hashed(name);
	if (web_types[type].zip && f->len >= WEB_GZIP_MIN)
		web_gzip(f);
	f->route.method = EVHTTP_REQ_GET;
	f->route.auth = AUTH_PUBLIC;
	f->route.ok_status = 200;
	f->route.content_type = web_types[type].type;
	W.n++;
	W.total += len;
	W.zipped += f->gz_len;
	return 0;
}

/* web_dir: returns 0 after loading the folder fs as URL prefix url (depth folders down); -1 with err. */
static int
web_dir(const char *fs, const char *url, int depth, char *err, size_t errlen)
{
	DIR		   *d = opendir(fs);
	struct dirent *de;
	int			rc = 0;

	if (d == NULL)
		return fail(err, errlen, "cannot read the web folder %s: %s", fs, strerror(errno));
	while (rc == 0 && (de = readdir(d)) != NULL)
	{
		char		cfs[PATH_MAX];
		char		curl[PATH_MAX];
		struct stat st;
		int			type;

		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		if (!web_name_ok(de->d_name) ||
			(size_t) snprintf(cfs, sizeof(cfs), "%s/%s", fs, de->d_name) >= sizeof(cfs) ||
			(size_t) snprintf(curl, sizeof(curl), "%s/%s", url, de->d_name) >= sizeof(curl) ||
			stat(cfs, &st) != 0 || (depth == 0 && !web_top(de->d_name, S_ISDIR(st.st_mode))))
		{
			W.skipped++;
			continue;
		}
		if (S_ISDIR(st.st_mode) && depth + 1 < WEB_MAX_DEPTH)
			rc = web_dir(cfs, curl, depth + 1, err, errlen);
		else if (S_ISREG(st.st_mode) && (type = web_type(de->d_name)) >= 0)
			rc = web_add(cfs, curl, de->d_name, &st, type, err, errlen);
		else
			W.skipped++;		/* a file of no media type here (LICENSE, *.gz), a device, too deep */
	}
	closedir(d);
	return rc;
}

static int
web_cmp(const void *a, const void *b)
{
	return strcmp(((const WebFile *) a)->path, ((const WebFile *) b)->path);
}

/* web_find: returns the file loaded as URL path p, or NULL. */
static const WebFile *
web_find(const char *p)
{
	WebFile		key = {.path = (char *) p};

	if (W.n == 0)
		return NULL;
	return bsearch(&key, W.files, (size_t) W.n, sizeof(WebFile), web_cmp);
}

/* is_dir: returns true when path is a folder. */
static bool
is_dir(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

int
web_load(char *err, size_t errlen)
{
	const char *set = getenv("EX7_WEB_DIR");
	char		dir[PATH_MAX];

	err[0] = '\0';
	web_free();
	if (set && strcmp(set, "off") == 0)
	{
		ex7_log(EX7_INFO, "web_folder", "web: EX7_WEB_DIR=off: no console served at /");
		return 0;
	}
	if (set && *set)
	{
		if (!is_dir(set))
			return fail(err, errlen, "EX7_WEB_DIR %s is not a folder\n", set);
		snprintf(dir, sizeof(dir), "%s", set);
	}
	else
	{
		ssize_t		n = readlink("/proc/self/exe", dir, sizeof(dir) - 16);
		char	   *slash;

		if (n > 0)
			dir[n] = '\0';
		if (n > 0 && (slash = strrchr(dir, '/')) != NULL)
			strcpy(slash, "/../web");	/* http/ex7d: the source tree's web/ */
		else
			dir[0] = '\0';
		if (dir[0] == '\0' || !is_dir(dir))
		{
#ifdef EX7_SHAREDIR
			/* the Debian package installs it here (debian/ex7d.install, docs/packaging.md) */
			snprintf(dir, sizeof(dir), "%s", EX7_SHAREDIR "/web");
			if (!is_dir(dir))
#endif
			{
				ex7_log(EX7_INFO, "web_folder", "web: no web folder (EX7_WEB_DIR, web/ beside the binary's folder"
#ifdef EX7_SHAREDIR
						", " EX7_SHAREDIR "/web"
#endif
						"): no console served at /");
				return 0;
			}
		}
	}
	{
		char		real[PATH_MAX];

		if (realpath(dir, real) != NULL)
			snprintf(dir, sizeof(dir), "%s", real);
	}
	if (web_dir(dir, "", 0, err, errlen) != 0)
	{
		web_free();
		if (err[0] && err[strlen(err) - 1] != '\n')
			snprintf(err + strlen(err), errlen - strlen(err), "\n");
		return -1;
	}
	if (W.n > 0)
		qsort(W.files, (size_t) W.n, sizeof(WebFile), web_cmp);
	W.index = web_find("/index.html");
	W.page.method = EVHTTP_REQ_GET;
	W.page.pattern = "/{page}";
	W.page.auth = AUTH_PUBLIC;
	W.page.ok_status = 200;
	W.page.content_type = web_types[0].type;
	for (int i = 0; i < W.n; i++)
		W.files[i].route.pattern = W.files[i].path;
	ex7_log(EX7_INFO, "web_folder", "web: %d files (%zu bytes, gzip copies %zu bytes) from %s%s; %d entries skipped",
			W.n, W.total, W.zipped, dir, W.index ? "" : "; no index.html: no pages at /", W.skipped);
	return 0;
}

void
web_free(void)
{
	for (int i = 0; i < W.n; i++)
	{
		free(W.files[i].path);
		free(W.files[i].body);
		free(W.files[i].gz);
	}
	free(W.files);
	memset(&W, 0, sizeof(W));
}

void
web_headers(Req *r)
{
	struct evkeyvalq *out = evhttp_request_get_output_headers(r->req);

	evhttp_add_header(out, "Content-Security-Policy", WEB_CSP);
	evhttp_add_header(out, "X-Content-Type-Options", "nosniff");
	evhttp_add_header(out, "Referrer-Policy", "no-referrer");
}

/*
 * web_none_match: returns true when an If-None-Match value names one of f's entity tags (weakly compared,
 * RFC 9110, section 13.1.2) or is "*".
 */
static bool
web_none_match(const WebFile *f, const char *v)
{
	const char *p = v;
	size_t		l1 = strlen(f->etag);
	size_t		l2 = strlen(f->etag_gz);

	while (p && *p)
	{
		size_t		len;

		while (*p == ' ' || *p == '\t' || *p == ',')
			p++;
		if (*p == '*')
			return true;
		if (strncmp(p, "W/", 2) == 0)
			p += 2;
		len = strcspn(p, ",");
		while (len > 0 && (p[len - 1] == ' ' || p[len - 1] == '\t'))
			len--;
		if (len > 0 && ((len == l1 && strncmp(p, f->etag, len) == 0) || (len == l2 && strncmp(p, f->etag_gz, len) == 0)))
			return true;
		p += len;
	}
	return false;
}

/* web_send: returns nothing; answers r with f (304, gzip or as it is), logged under rt. */
static void
web_send(Req *r, const WebFile *f, const Route *rt)
{
	struct evkeyvalq *in = evhttp_request_get_input_headers(r->req);
	struct evkeyvalq *out = evhttp_request_get_output_headers(r->req);
	const char *ae = evhttp_find_header(in, "Accept-Encoding");
	const char *inm = evhttp_find_header(in, "If-None-Match");
	bool		zipped = f->gz != NULL && ae != NULL && accepts_gzip(ae);

	r->route = rt;
	evhttp_add_header(out, "ETag", zipped ? f->etag_gz : f->etag);
	evhttp_add_header(out, "Cache-Control", f->immutable ? "public, max-age=31536000, immutable" : "no-cache");
	if (f->gz)
		evhttp_add_header(out, "Vary", "Accept-Encoding");
	if (inm && web_none_match(f, inm))
		reply_raw(r, 304, NULL, 0);
	else if (zipped)
	{
		evhttp_add_header(out, "Content-Encoding", "gzip");
		reply_raw(r, 200, (const char *) f->gz, f->gz_len);
	}
	else
		reply_raw(r, 200, (const char *) f->body, f->len);
}

/* under: returns true when path is prefix itself or lies below it. */
static bool
under(const char *path, const char *prefix)
{
	size_t		n = strlen(prefix);

	return strncmp(path, prefix, n) == 0 && (path[n] == '\0' || path[n] == '/');
}

bool
web_route(Req *r)
{
	enum evhttp_cmd_type m = evhttp_request_get_command(r->req);
	const char *p = r->path;
	bool		docs = under(p, "/docs");
	bool		assets = under(p, "/assets");
	const WebFile *f = NULL;

	if (W.n == 0)
		return false;			/* no web folder: the routes answer as they always did (404) */
	/*
	 * Only an exact match with a loaded file's path is served, and no such path holds "%", "..", "\" or a
	 * NUL (web_name_ok): an encoded or dotted path can name nothing. Said again here, for the reader.
	 */
	if (strchr(p, '%') || strstr(p, "..") || strchr(p, '\\'))
		f = NULL;
	else if (strcmp(p, "/docs") == 0 || strcmp(p, "/docs/") == 0)
		f = web_find("/docs/index.html");
	else
		f = web_find(p);
	if (f == NULL && !docs && !assets)
		return false;
	if (f == NULL)
		reply_detail(r, 404, "Not Found");
	else if (m != EVHTTP_REQ_GET && m != EVHTTP_REQ_HEAD)
	{
		r->route = &f->route;
		evhttp_add_header(evhttp_request_get_output_headers(r->req), "Allow", "GET, HEAD");
		reply_detail(r, 405, "Method Not Allowed");
	}
	else
	{
		if (docs)
		{
			/* the API reference's files alone allow inline styles (see the top of the file) */
			struct evkeyvalq *out = evhttp_request_get_output_headers(r->req);

			evhttp_remove_header(out, "Content-Security-Policy");
			evhttp_add_header(out, "Content-Security-Policy", WEB_CSP_DOCS);
		}
		web_send(r, f, &f->route);
	}
	return true;
}

/* hexval: returns the value of hex digit c, or -1. */
static int
hexval(char c)
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
 * web_page_path: returns true when p may be a page of the app: segments of URL characters, no "." or
 * ".." segment, no empty one but a trailing slash, no escape of ".", "/", "\" or a control character,
 * and no dot in the last segment.
 */
static bool
web_page_path(const char *p)
{
	const char *seg;

	if (*p != '/')
		return false;
	seg = p + 1;
	for (const char *c = p + 1;; c++)
	{
		if (*c == '/' || *c == '\0')
		{
			size_t		len = (size_t) (c - seg);

			if ((len == 0 && *c == '/') || (len == 1 && seg[0] == '.') || (len == 2 && seg[0] == '.' && seg[1] == '.'))
				return false;
			if (*c == '\0')
				return memchr(seg, '.', len) == NULL;
			seg = c + 1;
			continue;
		}
		if (*c == '%')
		{
			int			hi = hexval(c[1]);
			int			lo = hi < 0 ? -1 : hexval(c[2]);
			int			v = hi * 16 + lo;

			if (hi < 0 || lo < 0 || v < 0x20 || v == 0x7f || v == '.' || v == '/' || v == '\\')
				return false;
			c += 2;
			continue;
		}
		if ((unsigned char) *c <= 0x20 || (unsigned char) *c >= 0x7f || *c == '\\' || *c == '"' || *c == '<' ||
			*c == '>' || *c == '^' || *c == '`' || *c == '{' || *c == '|' || *c == '}')
			return false;
	}
}

bool
web_page(Req *r)
{
	enum evhttp_cmd_type m = evhttp_request_get_command(r->req);
	static const char *const not_pages[] = {"/api", "/openapi.json", "/metrics", "/livez", "/readyz", "/docs",
	"/assets", NULL};

	if (W.index == NULL || (m != EVHTTP_REQ_GET && m != EVHTTP_REQ_HEAD) || !web_page_path(r->path))
		return false;
	for (int i = 0; not_pages[i]; i++)
		if (under(r->path, not_pages[i]))
			return false;
	web_send(r, W.index, &W.page);
	return true;
}
