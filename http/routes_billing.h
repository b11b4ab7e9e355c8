/*
 * routes_billing.h
 *	  Route table entries: Tiers, compliance, Stripe billing and its webhook.
 *	  Included inside the routes[] initializer of routes.c (like PostgreSQL's rmgrlist.h), so each
 *	  area keeps its routes in a file of its own; U and SQL() are the macros routes.c defines. Every
 *	  entry ends with a comma. Run tools/openapi_gen.py after changing it. See docs/billing.md.
 *
 *	  checkout, portal, cancel and resume are answered by billing_stripe_call (http/billing.c): the
 *	  function named here prepares the Stripe request, ex7d sends it, ex7.billing_stripe_result records
 *	  the answer. The webhook's handler verifies Stripe-Signature over the raw body first.
 */
	/* List Tiers: "Public. Returns every tier with prices + feature caps." */
	{EVHTTP_REQ_GET, "/api/billing/tiers", AUTH_PUBLIC, 200,
	 SQL("billing_tiers", "SELECT ex7.billing_tiers()", 0), {{0}}},
	/* Get Disclaimer: "Public. CFTC Rule 4.41 disclaimer + current required doc versions." */
	{EVHTTP_REQ_GET, "/api/billing/disclaimer", AUTH_PUBLIC, 200,
	 SQL("billing_disclaimer", "SELECT ex7.billing_disclaimer()", 0), {{0}}},
	{EVHTTP_REQ_GET, "/api/billing/compliance", AUTH_USER, 200,
	 SQL("get_compliance", "SELECT ex7.get_compliance($1::uuid)", 1), {U}},
	{EVHTTP_REQ_POST, "/api/billing/compliance/accept", AUTH_USER, 201,
	 SQL("accept_compliance", "SELECT ex7.accept_compliance($1::uuid, $2::jsonb, $3)", 3),
	 {U, {ARG_BODY, "body", NULL}, {ARG_CLIENT_ADDR, "client_addr", NULL}}, .body_required = true},
	{EVHTTP_REQ_GET, "/api/billing/me", AUTH_USER, 200,
	 SQL("billing_me", "SELECT ex7.billing_me($1::uuid)", 1), {U}},
	{EVHTTP_REQ_POST, "/api/billing/checkout", AUTH_USER, 200,
	 SQL("billing_checkout", "SELECT ex7.billing_checkout($1::uuid, $2::jsonb)", 2),
	 {U, {ARG_BODY, "body", NULL}}, NULL, false, billing_stripe_call, .body_required = true},
	{EVHTTP_REQ_POST, "/api/billing/portal", AUTH_USER, 200,
	 SQL("billing_portal", "SELECT ex7.billing_portal($1::uuid)", 1), {U}, NULL, false, billing_stripe_call},
	{EVHTTP_REQ_POST, "/api/billing/cancel", AUTH_USER, 200,
	 SQL("billing_cancel", "SELECT ex7.billing_cancel($1::uuid)", 1), {U}, NULL, false, billing_stripe_call},
	{EVHTTP_REQ_POST, "/api/billing/resume", AUTH_USER, 200,
	 SQL("billing_resume", "SELECT ex7.billing_resume($1::uuid)", 1), {U}, NULL, false, billing_stripe_call},
	/* Admin Comp: service_role tokens only; body {user_id, tier, days} */
	{EVHTTP_REQ_POST, "/api/billing/comp", AUTH_SERVICE, 200,
	 SQL("billing_comp", "SELECT ex7.billing_comp($1::uuid, $2::jsonb)", 2), {U, {ARG_BODY, "body", NULL}}, .body_required = true},
	/* Stripe Webhook: "Signature verified BEFORE parse. Returns 200 on success or already-processed. 400 on
	 * bad signature. 500 on handler error (so Stripe retries)." */
	{EVHTTP_REQ_POST, "/api/billing/webhook", AUTH_PUBLIC, 200,
	 SQL("stripe_apply_event", "SELECT ex7.stripe_apply_event($1::jsonb)", 1),
	 {{ARG_RAW_BODY, "body", NULL}}, NULL, false, billing_webhook},
