/*
 * routes_paper.h
 *	  Route table entries: the paper account (docs/paper-account.md). A user's account per mode: its
 *	  figures, the positions netted per instrument, the ledger of closes (keyset pages), the equity per
 *	  trading day, and the reset that sets a new starting capital and start.
 *	  Included inside the routes[] initializer of routes.c (like PostgreSQL's rmgrlist.h); U and SQL()
 *	  are the macros routes.c defines. Every entry ends with a comma. Run tools/openapi_gen.py after
 *	  changing it.
 */
	{EVHTTP_REQ_GET, "/api/account/paper", AUTH_USER, 200,
	 SQL("get_paper_account", "SELECT ex7.get_paper_account($1::uuid, $2)", 2),
	 {U, {ARG_QUERY_TEXT, "mode", "paper"}}},
	{EVHTTP_REQ_GET, "/api/account/paper/positions", AUTH_USER, 200,
	 SQL("list_paper_positions", "SELECT ex7.list_paper_positions($1::uuid, $2)", 2),
	 {U, {ARG_QUERY_TEXT, "mode", "paper"}}},
	{EVHTTP_REQ_GET, "/api/account/paper/ledger", AUTH_USER, 200,
	 SQL("list_paper_ledger", "SELECT ex7.list_paper_ledger($1::uuid, $2, $3::uuid, $4, $5, $6::int)", 6),
	 {U, {ARG_QUERY_TEXT, "mode", "paper"}, {ARG_QUERY_UUID, "strategy_id", NULL},
	  {ARG_QUERY_TEXT, "instrument", NULL}, {ARG_QUERY_TEXT, "cursor", NULL}, {ARG_QUERY_INT, "limit", "50"}}},
	/* from inclusive (default: the account's start), to at most now; at most 366 days */
	{EVHTTP_REQ_GET, "/api/account/paper/equity", AUTH_USER, 200,
	 SQL("paper_equity_daily", "SELECT ex7.paper_equity_daily($1::uuid, $2, $3::timestamptz, $4::timestamptz)", 4),
	 {U, {ARG_QUERY_TEXT, "mode", "paper"}, {ARG_QUERY_TS, "from", NULL}, {ARG_QUERY_TS, "to", NULL}}},
	/* the body is optional: without one (or {}) the paper account starts over on its current capital */
	{EVHTTP_REQ_POST, "/api/account/paper/reset", AUTH_USER, 200,
	 SQL("reset_paper_account", "SELECT ex7.reset_paper_account($1::uuid, $2, $3::numeric)", 3),
	 {U, {ARG_BODY_TEXT, "mode", "paper"}, {ARG_BODY_NUMBER, "starting_capital", NULL}}},
