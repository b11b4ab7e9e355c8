/*
 * routes_backtests.h
 *	  Route table entries: Backtests, the Judge, performance and portfolio (issue 5).
 *	  Included inside the routes[] initializer of routes.c (like PostgreSQL's rmgrlist.h), so each
 *	  area keeps its routes in a file of its own; U and SQL() are the macros routes.c defines. Every
 *	  entry ends with a comma. Run tools/openapi_gen.py after changing it. See docs/backtests.md.
 */
