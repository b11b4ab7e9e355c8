/*
 * routes_performance.h
 *	  Route table entries: performance, portfolio and the dashboard (Account section of
 *	  ex7-api-reference.txt: Get Performance, Get Portfolio; the peer's dashboard/multi-flow and
 *	  flows/{id}/performance, peer-capandex-api.txt). Included inside the routes[] initializer of
 *	  routes.c; U and SQL() are the macros routes.c defines. Every entry ends with a comma. Run
 *	  tools/openapi_gen.py after changing it. See docs/metrics.md, "Performance API".
 */
	/* Get Performance: "Per-strategy backtest performance and live stats." */
	{EVHTTP_REQ_GET, "/api/performance", AUTH_USER, 200,
	 SQL("get_performance", "SELECT ex7.performance($1::uuid)", 1), {U}},
	/* Get Portfolio: "Portfolio summary: signals taken today, cumulative stats." (per mode, like Get Risk) */
	{EVHTTP_REQ_GET, "/api/portfolio", AUTH_USER, 200,
	 SQL("get_portfolio", "SELECT ex7.portfolio($1::uuid, $2)", 2),
	 {U, {ARG_QUERY_TEXT, "mode", "paper"}}},
	/* the peer's dashboard/multi-flow: every strategy with totals */
	{EVHTTP_REQ_GET, "/api/dashboard", AUTH_USER, 200,
	 SQL("get_dashboard", "SELECT ex7.dashboard($1::uuid, $2)", 2),
	 {U, {ARG_QUERY_TEXT, "mode", "paper"}}},
	/* the peer's flows/{flowId}/performance: from inclusive, to exclusive on the close time */
	{EVHTTP_REQ_GET, "/api/strategies/{strategy_id}/performance", AUTH_USER, 200,
	 SQL("strategy_performance",
		 "SELECT ex7.strategy_performance($1::uuid, $2::uuid, $3::timestamptz, $4::timestamptz, $5)", 5),
	 {U, {ARG_PATH_UUID, "strategy_id", NULL}, {ARG_QUERY_TS, "from", NULL}, {ARG_QUERY_TS, "to", NULL},
	  {ARG_QUERY_TEXT, "mode", "paper"}}},
