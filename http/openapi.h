/*
 * openapi.h
 *	  GET /openapi.json: the OpenAPI 3.1 document of the API (http/openapi.json, written by
 *	  tools/openapi_gen.py), served with a strong ETag, 304 on a matching If-None-Match and gzip when
 *	  the client accepts it (docs/http.md, "OpenAPI").
 */
#ifndef EX7D_OPENAPI_H
#define EX7D_OPENAPI_H

#include "ex7d.h"

/* openapi_prepare: computes the ETag and the gzip copy of srv->openapi once, at start-up. */
extern void openapi_prepare(const Server *srv);

/* openapi_route: returns true after answering r when it asks for /openapi.json (GET or HEAD). */
extern bool openapi_route(Req *r);

/* accepts_gzip: returns true when an Accept-Encoding value accepts gzip (RFC 9110, section 12.5.3). */
extern bool accepts_gzip(const char *v);

#endif
