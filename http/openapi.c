/*
 * openapi.c
 *	  GET /openapi.json (public; ex7-api-introduction.txt, "SDKs"): the document describing every route,
 *	  kept in http/openapi.json and read by load_openapi (main.c) at start-up.
 *
 *	  Caching (RFC 9110, section 8.8.3 and 13.1.2): the ETag is strong, a hash of the document's bytes, so
 *	  it changes exactly when the document does and is the same on every ex7d serving the same file; an
 *	  If-None-Match naming it (or "*") is answered 304 without a body. Cache-Control: no-cache lets a client
 *	  keep the document and revalidate it each time.
 *
 *	  Compression (RFC 9110, section 8.4 and 12.5.3): the document is gzipped once here, at start-up,
 *	  with zlib (already loaded by libpq and OpenSSL), rather than kept as a second file next to
 *	  openapi.json: the compressed bytes cannot fall out of step with the document, and an installed
 *	  package needs nothing more than openapi.json. The gzip copy is sent to a client whose
 *	  Accept-Encoding accepts gzip (with a q-value above 0); Vary: Accept-Encoding tells caches. Both
 *	  representations carry the same ETag: RFC 9110 would have two strong validators differ, so the
 *	  gzip one gets a "-gzip" suffix, and If-None-Match matches either.
 */
#include "openapi.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/sha.h>
#include <zlib.h>

static char etag[80];			/* "sha256-<first 32 hex digits>" with its quotes */
static char etag_gz[88];		/* the gzip representation's: the same with -gzip */
static unsigned char *gz;		/* the document gzipped (NULL: gzip unavailable, send it plain) */
static size_t gz_len;

void
openapi_prepare(const Server *srv)
{
	unsigned char md[SHA256_DIGEST_LENGTH];
	char		hex[2 * SHA256_DIGEST_LENGTH + 1];
	z_stream	zs;
	uLong		bound;

	free(gz);
	gz = NULL;
	gz_len = 0;
	etag[0] = etag_gz[0] = '\0';
	if (srv->openapi == NULL)
		return;
	SHA256((const unsigned char *) srv->openapi, srv->openapi_len, md);
	for (int i = 0; i < SHA256_DIGEST_LENGTH; i++)
		snprintf(hex + 2 * i, 3, "%02x", md[i]);
	snprintf(etag, sizeof(etag), "\"sha256-%.32s\"", hex);
	snprintf(etag_gz, sizeof(etag_gz), "\"sha256-%.32s-gzip\"", hex);

	memset(&zs, 0, sizeof(zs));
	/* windowBits 15 + 16: a gzip wrapper (RFC 1952) around the deflate stream */
	if (deflateInit2(&zs, Z_BEST_COMPRESSION, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
		return;
	bound = deflateBound(&zs, (uLong) srv->openapi_len);
	gz = malloc(bound);
	zs.next_in = (Bytef *) srv->openapi;
	zs.avail_in = (uInt) srv->openapi_len;
	zs.next_out = gz;
	zs.avail_out = (uInt) bound;
	if (gz == NULL || deflate(&zs, Z_FINISH) != Z_STREAM_END)
	{
		free(gz);
		gz = NULL;
	}
	else
		gz_len = zs.total_out;
	deflateEnd(&zs);
}

/*
 * accepts_gzip: returns true when an Accept-Encoding value accepts gzip: a "gzip" (or "x-gzip", or "*")
 * member whose q-value is not 0 (RFC 9110, section 12.5.3). Also the web console's files' (static.c).
 */
bool
accepts_gzip(const char *v)
{
	const char *p = v;

	while (p && *p)
	{
		size_t		len = strcspn(p, ",");
		const char *s = p;
		size_t		name;

		while (len > 0 && (*s == ' ' || *s == '\t'))
			s++, len--;
		name = strcspn(s, " \t;,");
		if (name > len)
			name = len;
		if ((name == 4 && strncasecmp(s, "gzip", 4) == 0) || (name == 6 && strncasecmp(s, "x-gzip", 6) == 0) ||
			(name == 1 && *s == '*'))
		{
			const char *q = s + name;
			bool		zero = false;

			/* q=0, q=0.0, q=0.00, q=0.000 refuse it */
			while (q < s + len && (*q == ' ' || *q == '\t' || *q == ';'))
				q++;
			if (q + 2 <= s + len && (q[0] == 'q' || q[0] == 'Q') && q[1] == '=')
			{
				const char *d = q + 2;

				zero = *d == '0';
				for (d++; zero && d < s + len && *d != ' ' && *d != '\t'; d++)
					if (*d != '.' && *d != '0')
						zero = false;
			}
			return !zero;
		}
		p = strchr(p, ',');
		if (p)
			p++;
	}
	return false;
}

/*
 * none_match: returns true when an If-None-Match value names the document's current entity tag (either
 * representation's, weakly compared as RFC 9110, section 13.1.2 asks) or is "*".
 */
static bool
none_match(const char *v)
{
	const char *p = v;

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
		if (len > 0 && ((len == strlen(etag) && strncmp(p, etag, len) == 0) ||
						(len == strlen(etag_gz) && strncmp(p, etag_gz, len) == 0)))
			return true;
		p += len;
	}
	return false;
}

bool
openapi_route(Req *r)
{
	enum evhttp_cmd_type m = evhttp_request_get_command(r->req);
	struct evkeyvalq *in = evhttp_request_get_input_headers(r->req);
	struct evkeyvalq *out = evhttp_request_get_output_headers(r->req);
	const char *ae;
	const char *inm;
	bool		zipped;

	if (strcmp(r->path, "/openapi.json") != 0 || (m != EVHTTP_REQ_GET && m != EVHTTP_REQ_HEAD))
		return false;
	if (r->srv->openapi == NULL)
	{
		reply_detail(r, 404, "openapi.json is not installed next to ex7d");
		return true;
	}
	ae = evhttp_find_header(in, "Accept-Encoding");
	inm = evhttp_find_header(in, "If-None-Match");
	zipped = gz != NULL && ae != NULL && accepts_gzip(ae);
	evhttp_add_header(out, "ETag", zipped ? etag_gz : etag);
	evhttp_add_header(out, "Cache-Control", "no-cache");
	evhttp_add_header(out, "Vary", "Accept-Encoding");
	if (inm && none_match(inm))
	{
		reply_raw(r, 304, NULL, 0);
		return true;
	}
	if (zipped)
	{
		evhttp_add_header(out, "Content-Encoding", "gzip");
		reply_raw(r, 200, (const char *) gz, gz_len);
	}
	else
		reply_raw(r, 200, r->srv->openapi, r->srv->openapi_len);
	return true;
}
