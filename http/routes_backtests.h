/*
 * routes_backtests.h
 *	  Route table entries: Backtests, the Judge, performance and portfolio.
 *	  Included inside the routes[] initializer of routes.c (like PostgreSQL's rmgrlist.h), so each
 *	  area keeps its routes in a file of its own; U and SQL() are the macros routes.c defines. Every
 *	  entry ends with a comma. Run tools/openapi_gen.py after changing it. See docs/backtests.md.
 */

	/* Backtests (docs/backtests.md). POST answers 201 with the backtest: done when it ran inline (at most
	 * 20,000 bars), queued when a background worker runs it (GET follows its progress). */
	{EVHTTP_REQ_POST, "/api/strategies/{strategy_id}/backtest", AUTH_USER, 201,
	 SQL("backtest_strategy", "SELECT ex7.backtest_strategy($1::uuid, $2::uuid, $3::jsonb)", 3),
	 {U, {ARG_PATH_UUID, "strategy_id", NULL}, {ARG_BODY, "body", NULL}}, .body_required = true},
	{EVHTTP_REQ_GET, "/api/strategies/{strategy_id}/backtests", AUTH_USER, 200,
	 SQL("list_backtests", "SELECT ex7.list_backtests($1::uuid, $2::uuid, $3::int, $4)", 4),
	 {U, {ARG_PATH_UUID, "strategy_id", NULL}, {ARG_QUERY_INT, "limit", "50"}, {ARG_QUERY_TEXT, "cursor", NULL}}},
	{EVHTTP_REQ_GET, "/api/backtests/{backtest_id}", AUTH_USER, 200,
	 SQL("get_backtest", "SELECT ex7.get_backtest($1::uuid, $2::uuid)", 2),
	 {U, {ARG_PATH_UUID, "backtest_id", NULL}}},
	/* the equity curve and its drawdown as a picture, with the CFTC Rule 4.41 statement under it */
	{EVHTTP_REQ_GET, "/api/backtests/{backtest_id}/equity.svg", AUTH_USER, 200,
	 SQL("backtest_equity_svg", "SELECT ex7.backtest_equity_svg($1::uuid, $2::uuid)", 2),
	 {U, {ARG_PATH_UUID, "backtest_id", NULL}}, NULL, false, NULL, "image/svg+xml"},

	/* The Judge: the latest verdict and the policy; POST runs it now (stored, passed or not) */
	{EVHTTP_REQ_GET, "/api/strategies/{strategy_id}/validation", AUTH_USER, 200,
	 SQL("get_validation", "SELECT ex7.get_validation($1::uuid, $2::uuid)", 2),
	 {U, {ARG_PATH_UUID, "strategy_id", NULL}}},
	{EVHTTP_REQ_POST, "/api/strategies/{strategy_id}/validation", AUTH_USER, 200,
	 SQL("validate_strategy", "SELECT ex7.validate_strategy($1::uuid, $2::uuid)", 2),
	 {U, {ARG_PATH_UUID, "strategy_id", NULL}}},
	{EVHTTP_REQ_GET, "/api/validation/policy", AUTH_USER, 200,
	 SQL("get_validation_policy", "SELECT ex7.get_validation_policy()", 0), {{0}}},
