/*
 * routes_account.h
 *	  Route table entries: Waitlist, Vix strategy generation, self-hosted login, exchange keys.
 *	  Included inside the routes[] initializer of routes.c (like PostgreSQL's rmgrlist.h), so each
 *	  area keeps its routes in a file of its own; U and SQL() are the macros routes.c defines. Every
 *	  entry ends with a comma. Run tools/openapi_gen.py after changing it. See docs/account.md.
 */

	/* Waitlist (public): the same 200 body for a new and a known address; per-address limit in SQL */
	{EVHTTP_REQ_POST, "/api/waitlist", AUTH_PUBLIC, 200,
	 SQL("waitlist_add", "SELECT ex7.waitlist_add($1, $2)", 2),
	 {{ARG_BODY_TEXT, "email", NULL}, {ARG_CLIENT_ADDR, "addr", NULL}}, NULL, false, account_retry_handler, .body_required = true},
	{EVHTTP_REQ_GET, "/api/waitlist/count", AUTH_PUBLIC, 200,
	 SQL("waitlist_count", "SELECT ex7.waitlist_count()", 0), {{0}}},

	/*
	 * Vix: a plain-language request to a validated graph (and a draft when asked); 429 over the quota.
	 * With EX7_VIX_LLM_BASE set, http/vix.c asks the language model first (ex7.vix_llm_request, then
	 * ex7.vix_llm_result); without, this statement is the whole route.
	 */
	{EVHTTP_REQ_POST, "/api/vix/generate-strategy", AUTH_USER, 200,
	 SQL("vix_generate", "SELECT ex7.vix_generate($1::uuid, $2::jsonb)", 2),
	 {U, {ARG_BODY, "body", NULL}}, NULL, false, vix_generate_handler, .body_required = true},
	{EVHTTP_REQ_GET, "/api/vix/quota", AUTH_USER, 200,
	 SQL("vix_quota", "SELECT ex7.vix_quota($1::uuid)", 1), {U}},

	/*
	 * Self-hosted login (EX7_AUTH_ENABLED=1, else 404): ex7d signs the token (http/auth.c). The login's
	 * SQL call takes the username and password the handler reads from the form or JSON body.
	 */
	{EVHTTP_REQ_POST, "/api/auth/signup", AUTH_PUBLIC, 201,
	 SQL("auth_signup", "SELECT ex7.auth_signup($1, $2, $3)", 3),
	 {{ARG_BODY_TEXT, "email", NULL}, {ARG_BODY_TEXT, "password", NULL}, {ARG_CLIENT_ADDR, "addr", NULL}},
	 NULL, false, auth_signup_handler, .body_required = true},
	{EVHTTP_REQ_POST, "/api/auth/login", AUTH_PUBLIC, 200,
	 SQL("auth_login", "SELECT ex7.auth_login($1, $2, $3)", 2),
	 {{ARG_RAW_BODY, "body", NULL}, {ARG_CLIENT_ADDR, "addr", NULL}}, NULL, false, auth_login_handler},
	{EVHTTP_REQ_POST, "/api/auth/password", AUTH_USER, 200,
	 SQL("auth_change_password", "SELECT ex7.auth_change_password($1::uuid, $2, $3, $4)", 4),
	 {U, {ARG_BODY_TEXT, "current_password", NULL}, {ARG_BODY_TEXT, "new_password", NULL},
	  {ARG_CLIENT_ADDR, "addr", NULL}}, NULL, false, auth_password_handler, .body_required = true},
	{EVHTTP_REQ_GET, "/api/auth/session", AUTH_USER, 200,
	 SQL("auth_session", "SELECT ex7.auth_session($1::uuid)", 1), {U}, NULL, false, auth_session_handler},

	/* Exchange keys: never a secret in a reply; http/keys.c encrypts before ex7.create_exchange_key */
	{EVHTTP_REQ_GET, "/api/exchange-keys", AUTH_USER, 200,
	 SQL("list_exchange_keys", "SELECT ex7.list_exchange_keys($1::uuid)", 1), {U}},
	{EVHTTP_REQ_POST, "/api/exchange-keys", AUTH_USER, 201,
	 SQL("create_exchange_key", "SELECT ex7.create_exchange_key($1::uuid, ...) (http/keys.c)", 2),
	 {U, {ARG_BODY, "body", NULL}}, NULL, false, keys_create_handler, .body_required = true},
	{EVHTTP_REQ_DELETE, "/api/exchange-keys/{key_id}", AUTH_USER, 200,
	 SQL("delete_exchange_key", "SELECT ex7.delete_exchange_key($1::uuid, $2::uuid)", 2),
	 {U, {ARG_PATH_UUID, "key_id", NULL}}},
