/*
 * routes_research.h
 *	  Route table entries: the research statistics of a backtest (docs/research.md): the Monte Carlo of its
 *	  trades as JSON and as a fan chart. Included inside the routes[] initializer of routes.c (like
 *	  routes_backtests.h); U and SQL() are the macros routes.c defines. Every entry ends with a comma. Run
 *	  tools/openapi_gen.py after changing it (texts: tools/openapi_research.py).
 */

	/* the Monte Carlo of a finished backtest's trades: reshuffled order or bootstrap, seeded (200: nothing is stored) */
	{EVHTTP_REQ_POST, "/api/backtests/{backtest_id}/monte-carlo", AUTH_USER, 200,
	 SQL("monte_carlo", "SELECT ex7.monte_carlo($1::uuid, $2::uuid, $3::jsonb)", 3),
	 {U, {ARG_PATH_UUID, "backtest_id", NULL}, {ARG_BODY, "body", NULL}}},
	/* the same as a fan chart (percentile bands of equity by trade), with the CFTC Rule 4.41 statement under it */
	{EVHTTP_REQ_GET, "/api/backtests/{backtest_id}/monte-carlo.svg", AUTH_USER, 200,
	 SQL("monte_carlo_svg", "SELECT ex7.monte_carlo_svg($1::uuid, $2::uuid, $3, $4::int, $5::int)", 5),
	 {U, {ARG_PATH_UUID, "backtest_id", NULL}, {ARG_QUERY_TEXT, "method", "shuffle"}, {ARG_QUERY_INT, "runs", "1000"},
	  {ARG_QUERY_INT, "seed", "1"}}, NULL, false, NULL, "image/svg+xml"},
