/*
 * static.h
 *	  The web console's files (web/ at /, web/assets/ at /assets/, the API reference web/docs/ at /docs),
 *	  read into memory once at start-up and served from there with strong ETags, gzip and the security
 *	  headers (docs/console.md, "Serving").
 */
#ifndef EX7D_STATIC_H
#define EX7D_STATIC_H

#include "ex7d.h"

/*
 * web_load: returns 0 after reading the web folder into memory (EX7_WEB_DIR; else web/ next to the
 * binary's folder; else EX7_SHAREDIR/web when the build defines it), or when there is none (logged once:
 * then nothing is served at /). Returns -1 with err filled when EX7_WEB_DIR names no folder or the folder
 * is over the caps.
 */
extern int	web_load(char *err, size_t errlen);

/* web_free: returns nothing; frees what web_load read. */
extern void web_free(void);

/*
 * web_headers: returns nothing; adds Content-Security-Policy, X-Content-Type-Options and Referrer-Policy
 * to r's answer (every answer of the API address carries them).
 */
extern void web_headers(Req *r);

/*
 * web_route: returns true after answering r when it names a file of the web folder (/assets/..., /docs,
 * /docs/..., a file at the top such as /index.html), or lies under /assets or /docs (404).
 */
extern bool web_route(Req *r);

/*
 * web_page: returns true after answering r with index.html when r is a GET or HEAD of a page path (the
 * single-page app's history fallback): a path no route has, not under /api, /openapi.json, /metrics,
 * /livez, /readyz, /docs or /assets, that does not name a file.
 */
extern bool web_page(Req *r);

#endif
