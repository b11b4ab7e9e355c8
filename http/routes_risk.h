/*
 * routes_risk.h
 *	  Route table entries: risk controls besides Get Risk and Get Blocked (which stay in routes.c with
 *	  the reference's Account section): protections, the locks they write (docs/protections.md), and
 *	  the trading state, a user's kill switch per mode and the service's for every instrument or one
 *	  (docs/trading-state.md). Changes of either reach the signal stream as risk_lock and trading_state
 *	  events (docs/stream.md).
 *	  Included inside the routes[] initializer of routes.c (like PostgreSQL's rmgrlist.h); U and SQL()
 *	  are the macros routes.c defines. Every entry ends with a comma. Run tools/openapi_gen.py after
 *	  changing it.
 */
	/* mode absent: the protections of both modes */
	{EVHTTP_REQ_GET, "/api/risk/protections", AUTH_USER, 200,
	 SQL("list_protections", "SELECT ex7.list_protections($1::uuid, $2)", 2),
	 {U, {ARG_QUERY_TEXT, "mode", NULL}}},
	{EVHTTP_REQ_POST, "/api/risk/protections", AUTH_USER, 201,
	 SQL("create_protection", "SELECT ex7.create_protection($1::uuid, $2::jsonb)", 2),
	 {U, {ARG_BODY, "body", NULL}}, .body_required = true},
	{EVHTTP_REQ_GET, "/api/risk/protections/{protection_id}", AUTH_USER, 200,
	 SQL("get_protection", "SELECT ex7.get_protection($1::uuid, $2::uuid)", 2),
	 {U, {ARG_PATH_UUID, "protection_id", NULL}}},
	{EVHTTP_REQ_PATCH, "/api/risk/protections/{protection_id}", AUTH_USER, 200,
	 SQL("update_protection", "SELECT ex7.update_protection($1::uuid, $2::uuid, $3::jsonb)", 3),
	 {U, {ARG_PATH_UUID, "protection_id", NULL}, {ARG_BODY, "body", NULL}}, .body_required = true},
	{EVHTTP_REQ_DELETE, "/api/risk/protections/{protection_id}", AUTH_USER, 204,
	 SQL("delete_protection", "SELECT ex7.delete_protection($1::uuid, $2::uuid)", 2),
	 {U, {ARG_PATH_UUID, "protection_id", NULL}}},
	/* newest first, keyset pages; state active (the default: not lifted, not expired) or all */
	{EVHTTP_REQ_GET, "/api/risk/locks", AUTH_USER, 200,
	 SQL("list_locks", "SELECT ex7.list_locks($1::uuid, $2, $3, $4, $5::int)", 5),
	 {U, {ARG_QUERY_TEXT, "mode", NULL}, {ARG_QUERY_TEXT, "state", "active"}, {ARG_QUERY_TEXT, "cursor", NULL},
	  {ARG_QUERY_INT, "limit", "50"}}},
	/* lifting a lock early answers the lifted lock (200), not 204: the client sees lifted_at */
	{EVHTTP_REQ_DELETE, "/api/risk/locks/{lock_id}", AUTH_USER, 200,
	 SQL("lift_lock", "SELECT ex7.lift_lock($1::uuid, $2::uuid)", 2),
	 {U, {ARG_PATH_UUID, "lock_id", NULL}}},
	/* the user's kill switch, per mode; the service's states in force are shown with it */
	{EVHTTP_REQ_GET, "/api/risk/state", AUTH_USER, 200,
	 SQL("get_trading_state", "SELECT ex7.get_trading_state($1::uuid, $2)", 2),
	 {U, {ARG_QUERY_TEXT, "mode", "paper"}}},
	{EVHTTP_REQ_PUT, "/api/risk/state", AUTH_USER, 200,
	 SQL("set_trading_state", "SELECT ex7.set_trading_state($1::uuid, $2, $3::jsonb)", 3),
	 {U, {ARG_QUERY_TEXT, "mode", "paper"}, {ARG_BODY, "body", NULL}}, .body_required = true},
	/*
	 * The service's states (service_role only): every instrument or one, for an exchange incident. A
	 * change is broadcast on channel trading_halt to every stream of every ex7d (http/sse.c).
	 */
	{EVHTTP_REQ_GET, "/api/risk/service-state", AUTH_SERVICE, 200,
	 SQL("service_trading_states", "SELECT ex7.service_trading_states()", 0), {{0}}},
	{EVHTTP_REQ_PUT, "/api/risk/service-state", AUTH_SERVICE, 200,
	 SQL("set_service_trading_state", "SELECT ex7.set_service_trading_state($1::jsonb)", 1),
	 {{ARG_BODY, "body", NULL}}, .body_required = true},
