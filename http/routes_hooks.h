/*
 * routes_hooks.h
 *	  Route table entries: webhook intake (docs/webhooks.md). A user's hooks, their log, and the public
 *	  intake TradingView and other tools post alerts to.
 *	  Included inside the routes[] initializer of routes.c (like PostgreSQL's rmgrlist.h); U and SQL()
 *	  are the macros routes.c defines. Every entry ends with a comma. Run tools/openapi_gen.py after
 *	  changing it.
 */
	{EVHTTP_REQ_GET, "/api/hooks", AUTH_USER, 200,
	 SQL("list_hooks", "SELECT ex7.list_hooks($1::uuid, $2)", 2), {U, {ARG_PUBLIC_URL, "url", NULL}}},
	{EVHTTP_REQ_POST, "/api/hooks", AUTH_USER, 201,
	 SQL("create_hook", "SELECT ex7.create_hook($1::uuid, $2::jsonb, $3)", 3),
	 {U, {ARG_BODY, "body", NULL}, {ARG_PUBLIC_URL, "url", NULL}}, .body_required = true},
	/*
	 * The intake: public, since TradingView can neither sign a request nor set a header; the hook's id
	 * in the path and the secret in the body's passphrase authenticate it (ex7.hook_intake). A
	 * malformed id is 422 as on every item route; an unknown hook and a wrong secret are the same 404.
	 * The body goes as sent (TradingView posts the alert's message, with a text/plain type when it is
	 * not JSON). A refusal the function records comes back as {"_status": N, "detail": ...}:
	 * alerts_soft_status answers N with the detail.
	 */
	{EVHTTP_REQ_POST, "/api/hooks/{hook_id}", AUTH_PUBLIC, 200,
	 SQL("hook_intake", "SELECT ex7.hook_intake($1, $2)", 2),
	 {{ARG_PATH_UUID, "hook_id", NULL}, {ARG_RAW_BODY, "body", NULL}}, NULL, false, alerts_soft_status},
	{EVHTTP_REQ_GET, "/api/hooks/{hook_id}", AUTH_USER, 200,
	 SQL("get_hook", "SELECT ex7.get_hook($1::uuid, $2::uuid, $3)", 3),
	 {U, {ARG_PATH_UUID, "hook_id", NULL}, {ARG_PUBLIC_URL, "url", NULL}}},
	{EVHTTP_REQ_PATCH, "/api/hooks/{hook_id}", AUTH_USER, 200,
	 SQL("update_hook", "SELECT ex7.update_hook($1::uuid, $2::uuid, $3::jsonb, $4)", 4),
	 {U, {ARG_PATH_UUID, "hook_id", NULL}, {ARG_BODY, "body", NULL}, {ARG_PUBLIC_URL, "url", NULL}},
	 .body_required = true},
	{EVHTTP_REQ_DELETE, "/api/hooks/{hook_id}", AUTH_USER, 204,
	 SQL("delete_hook", "SELECT ex7.delete_hook($1::uuid, $2::uuid)", 2), {U, {ARG_PATH_UUID, "hook_id", NULL}}},
	{EVHTTP_REQ_POST, "/api/hooks/{hook_id}/rotate", AUTH_USER, 200,
	 SQL("rotate_hook_secret", "SELECT ex7.rotate_hook_secret($1::uuid, $2::uuid, $3)", 3),
	 {U, {ARG_PATH_UUID, "hook_id", NULL}, {ARG_PUBLIC_URL, "url", NULL}}},
	{EVHTTP_REQ_GET, "/api/hooks/{hook_id}/events", AUTH_USER, 200,
	 SQL("list_hook_events", "SELECT ex7.list_hook_events($1::uuid, $2::uuid, $3, $4, $5::int)", 5),
	 {U, {ARG_PATH_UUID, "hook_id", NULL}, {ARG_QUERY_TEXT, "outcome", NULL}, {ARG_QUERY_TEXT, "cursor", NULL},
	  {ARG_QUERY_INT, "limit", "50"}}},
