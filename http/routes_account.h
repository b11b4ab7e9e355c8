/*
 * routes_account.h
 *	  Route table entries: Waitlist, Vix strategy generation, self-hosted login, exchange keys (issue 6).
 *	  Included inside the routes[] initializer of routes.c (like PostgreSQL's rmgrlist.h), so each
 *	  area keeps its routes in a file of its own; U and SQL() are the macros routes.c defines. Every
 *	  entry ends with a comma. Run tools/openapi_gen.py after changing it. See docs/account.md.
 */
