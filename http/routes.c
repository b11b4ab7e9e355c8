/*
 * routes.c
 *	  The route table: for each endpoint of the EX7 API reference (ex7-api-reference.txt), who may call
 *	  it, the one SQL function it calls, and where each argument comes from. Defaults here are the
 *	  contract's query defaults (the code samples' limit=50, hours=24, ...); every rule about the values
 *	  lives in the function.
 *
 *	  Literal paths come before parameterised ones with the same prefix (/api/signals/audit before
 *	  /api/signals/{signal_id}): the first match wins.
 */
#include "ex7d.h"
#include "sse.h"
#include "alerts.h"			/* handlers of routes_alerts.h */
#include "auth.h"			/* handlers of routes_account.h */
#include "billing.h"			/* handlers of routes_billing.h */
#include "vix.h"				/* the Vix handler of routes_account.h */

#include <stdio.h>
#include <string.h>
#include <time.h>

/*
 * health_unavailable: /api/health when PostgreSQL cannot be reached: 503 with the same fields, so a
 * status page can tell what is down.
 */
void
health_unavailable(Req *r)
{
	static const char body[] =
		"{\"status\": \"degraded\", \"postgresql\": \"unreachable\", \"last_signal_time\": null}";

	reply_raw(r, 503, body, sizeof(body) - 1);
}

/*
 * risk_unavailable: /api/risk when PostgreSQL cannot be reached. Get Risk: "On DB error: returns
 * trading_allowed=false with blocked_reason.breaker='error'. Never returns 500 — fail-closed at the
 * reporting layer too, so the UI shows 'trading blocked' during an outage".
 */
void
risk_unavailable(Req *r)
{
	char		body[512];
	char		now[32];
	time_t		t = time(NULL);
	struct tm	tm;
	const char *uq = evhttp_uri_get_query(evhttp_request_get_evhttp_uri(r->req));
	const char *mode = (uq && strstr(uq, "mode=live")) ? "live" : "paper";

	gmtime_r(&t, &tm);
	strftime(now, sizeof(now), "%Y-%m-%dT%H:%M:%S+00:00", &tm);
	snprintf(body, sizeof(body),
			 "{\"mode\": \"%s\", \"trading_allowed\": false, \"blocked_reason\": {\"breaker\": \"error\", "
			 "\"reason\": \"database_unavailable\", \"observed\": null, \"limit\": null}, \"checked_at\": \"%s\"}",
			 mode, now);
	reply_raw(r, 200, body, strlen(body));
}

#define U {ARG_USER, "sub", NULL}
#define SQL(name, text, n) {name, text, n}

const Route routes[] = {
	/* Health (public): status, postgresql, last_signal_time (ex7-api-introduction.txt, "One quick request") */
	{EVHTTP_REQ_GET, "/api/health", AUTH_PUBLIC, 200,
	 SQL("health", "SELECT ex7.health()", 0), {{0}}, health_unavailable},

	/* Strategies */
	/*
	 * List Engines: the node catalog of the strategy builder (docs/engine.md). "Auth required so we
	 * don't leak our stack to scrapers" (ex7-api-reference.txt), though it is the same for every user.
	 */
	{EVHTTP_REQ_GET, "/api/engines", AUTH_USER, 200,
	 SQL("list_engines", "SELECT ex7.list_engines()", 0), {{0}}},
	{EVHTTP_REQ_GET, "/api/strategies", AUTH_USER, 200,
	 SQL("list_strategies", "SELECT ex7.list_strategies($1::uuid, $2, $3, $4, $5, $6::int)", 6),
	 {U, {ARG_QUERY_TEXT, "status", NULL}, {ARG_QUERY_TEXT, "instrument", NULL}, {ARG_QUERY_TEXT, "tag", NULL},
	  {ARG_QUERY_TEXT, "cursor", NULL}, {ARG_QUERY_INT, "limit", "50"}}},
	{EVHTTP_REQ_POST, "/api/strategies", AUTH_USER, 201,
	 SQL("create_strategy", "SELECT ex7.create_strategy($1::uuid, $2::jsonb)", 2),
	 {U, {ARG_BODY, "body", NULL}}, NULL, true, .body_required = true},
	{EVHTTP_REQ_POST, "/api/strategies/import", AUTH_USER, 201,
	 SQL("import_strategy", "SELECT ex7.import_strategy($1::uuid, $2::jsonb)", 2),
	 {U, {ARG_BODY, "body", NULL}}, NULL, true, .body_required = true},
	/* Create Strategy From Fixture: 201 with the strategy; an unknown slug is 404 (before {source_id}/clone) */
	{EVHTTP_REQ_POST, "/api/strategies/from-fixture/{slug}", AUTH_USER, 201,
	 SQL("create_from_fixture", "SELECT ex7.create_from_fixture($1::uuid, $2)", 2),
	 {U, {ARG_PATH_TEXT, "slug", NULL}}, NULL, true},
	/*
	 * The fixtures' slugs for the route above (docs/http.md, "Where ex7 differs from the reference"),
	 * the same for every user like /api/engines; before /api/strategies/{strategy_id}, which would
	 * otherwise take "fixtures" for an id.
	 */
	{EVHTTP_REQ_GET, "/api/strategies/fixtures", AUTH_USER, 200,
	 SQL("list_fixtures", "SELECT ex7.list_fixtures()", 0), {{0}}},
	{EVHTTP_REQ_GET, "/api/strategies/{strategy_id}", AUTH_USER, 200,
	 SQL("get_strategy", "SELECT ex7.get_strategy($1::uuid, $2::uuid)", 2),
	 {U, {ARG_PATH_UUID, "strategy_id", NULL}}, NULL, true},
	{EVHTTP_REQ_PUT, "/api/strategies/{strategy_id}", AUTH_USER, 200,
	 SQL("update_strategy", "SELECT ex7.update_strategy($1::uuid, $2::uuid, $3::jsonb, $4)", 4),
	 {U, {ARG_PATH_UUID, "strategy_id", NULL}, {ARG_BODY, "body", NULL}, {ARG_HEADER_TEXT, "If-Match", NULL}}, NULL, true, .body_required = true},
	{EVHTTP_REQ_DELETE, "/api/strategies/{strategy_id}", AUTH_USER, 204,
	 SQL("delete_strategy", "SELECT ex7.delete_strategy($1::uuid, $2::uuid)", 2),
	 {U, {ARG_PATH_UUID, "strategy_id", NULL}}},
	{EVHTTP_REQ_POST, "/api/strategies/{source_id}/clone", AUTH_USER, 201,
	 SQL("clone_strategy", "SELECT ex7.clone_strategy($1::uuid, $2::uuid, $3)", 3),
	 {U, {ARG_PATH_UUID, "source_id", NULL}, {ARG_BODY_TEXT, "name", NULL}}, NULL, true},
	{EVHTTP_REQ_POST, "/api/strategies/{strategy_id}/promote", AUTH_USER, 200,
	 SQL("promote_strategy", "SELECT ex7.promote_strategy($1::uuid, $2::uuid)", 2),
	 {U, {ARG_PATH_UUID, "strategy_id", NULL}}, NULL, true},
	{EVHTTP_REQ_POST, "/api/strategies/{strategy_id}/pause", AUTH_USER, 200,
	 SQL("pause_strategy", "SELECT ex7.pause_strategy($1::uuid, $2::uuid)", 2),
	 {U, {ARG_PATH_UUID, "strategy_id", NULL}}, NULL, true},
	{EVHTTP_REQ_POST, "/api/strategies/{strategy_id}/resume", AUTH_USER, 200,
	 SQL("resume_strategy", "SELECT ex7.resume_strategy($1::uuid, $2::uuid)", 2),
	 {U, {ARG_PATH_UUID, "strategy_id", NULL}}, NULL, true},
	{EVHTTP_REQ_POST, "/api/strategies/{strategy_id}/archive", AUTH_USER, 200,
	 SQL("archive_strategy", "SELECT ex7.archive_strategy($1::uuid, $2::uuid)", 2),
	 {U, {ARG_PATH_UUID, "strategy_id", NULL}}, NULL, true},
	{EVHTTP_REQ_POST, "/api/strategies/{strategy_id}/unarchive", AUTH_USER, 200,
	 SQL("unarchive_strategy", "SELECT ex7.unarchive_strategy($1::uuid, $2::uuid)", 2),
	 {U, {ARG_PATH_UUID, "strategy_id", NULL}}, NULL, true},
	{EVHTTP_REQ_GET, "/api/strategies/{strategy_id}/export", AUTH_USER, 200,
	 SQL("export_strategy", "SELECT ex7.export_strategy($1::uuid, $2::uuid)", 2),
	 {U, {ARG_PATH_UUID, "strategy_id", NULL}}},
	{EVHTTP_REQ_POST, "/api/strategies/{strategy_id}/rollback", AUTH_USER, 200,
	 SQL("rollback_strategy", "SELECT ex7.rollback_strategy($1::uuid, $2::uuid, $3::int)", 3),
	 {U, {ARG_PATH_UUID, "strategy_id", NULL}, {ARG_BODY_INT, "to_version", NULL}}, NULL, true, .body_required = true},
	{EVHTTP_REQ_GET, "/api/strategies/{strategy_id}/versions", AUTH_USER, 200,
	 SQL("list_versions", "SELECT ex7.list_versions($1::uuid, $2::uuid, $3, $4::int)", 4),
	 {U, {ARG_PATH_UUID, "strategy_id", NULL}, {ARG_QUERY_TEXT, "cursor", NULL}, {ARG_QUERY_INT, "limit", "50"}}},
	{EVHTTP_REQ_GET, "/api/strategies/{strategy_id}/versions/{version}", AUTH_USER, 200,
	 SQL("get_version", "SELECT ex7.get_version($1::uuid, $2::uuid, $3::int)", 3),
	 {U, {ARG_PATH_UUID, "strategy_id", NULL}, {ARG_PATH_INT, "version", NULL}}},

	/* Signals */
	{EVHTTP_REQ_GET, "/api/legacy/signals", AUTH_USER, 200,
	 SQL("legacy_signals", "SELECT ex7.legacy_signals($1::uuid, $2::int)", 2),
	 {U, {ARG_QUERY_INT, "hours", "24"}}},
	{EVHTTP_REQ_GET, "/api/legacy/signals/{instrument}", AUTH_USER, 200,
	 SQL("legacy_signals_instrument", "SELECT ex7.legacy_signals($1::uuid, $2::int, $3)", 3),
	 {U, {ARG_QUERY_INT, "hours", "24"}, {ARG_PATH_TEXT, "instrument", NULL}}},
	{EVHTTP_REQ_GET, "/api/signals", AUTH_USER, 200,
	 SQL("list_signals",
		 "SELECT ex7.list_signals($1::uuid, $2::uuid, $3::timestamptz, $4::timestamptz, $5, $6, $7, $8, $9::int)", 9),
	 {U, {ARG_QUERY_UUID, "strategy_id", NULL}, {ARG_QUERY_TS, "from", NULL}, {ARG_QUERY_TS, "to", NULL},
	  {ARG_QUERY_TEXT, "side", NULL}, {ARG_QUERY_TEXT, "status", NULL}, {ARG_QUERY_TEXT, "instrument", NULL},
	  {ARG_QUERY_TEXT, "cursor", NULL}, {ARG_QUERY_INT, "limit", "50"}}},
	{EVHTTP_REQ_GET, "/api/signals/audit", AUTH_USER, 200,
	 SQL("list_audit",
		 "SELECT ex7.list_audit($1::uuid, $2::uuid, $3::timestamptz, $4::timestamptz, $5, $6, $7::int)", 7),
	 {U, {ARG_QUERY_UUID, "strategy_id", NULL}, {ARG_QUERY_TS, "from", NULL}, {ARG_QUERY_TS, "to", NULL},
	  {ARG_QUERY_TEXT, "decision", NULL}, {ARG_QUERY_TEXT, "cursor", NULL}, {ARG_QUERY_INT, "limit", "100"}}},
	/* Signals Health: "Not user-scoped ... Safe for a public status page": public, like /api/health */
	{EVHTTP_REQ_GET, "/api/signals/health", AUTH_PUBLIC, 200,
	 SQL("signals_health", "SELECT ex7.signals_health()", 0), {{0}}},
	{EVHTTP_REQ_GET, "/api/signals/health/me", AUTH_USER, 200,
	 SQL("signals_health_me", "SELECT ex7.signals_health_me($1::uuid)", 1), {U}},
	{EVHTTP_REQ_GET, "/api/signals/runtimes", AUTH_USER, 200,
	 SQL("list_runtimes", "SELECT ex7.list_runtimes($1::uuid)", 1), {U}},
	{EVHTTP_REQ_POST, "/api/signals/runtimes/{strategy_id}/start", AUTH_USER, 200,
	 SQL("start_runtime", "SELECT ex7.start_runtime($1::uuid, $2::uuid, $3)", 3),
	 {U, {ARG_PATH_UUID, "strategy_id", NULL}, {ARG_BODY_TEXT, "mode", "paper"}}},
	{EVHTTP_REQ_POST, "/api/signals/runtimes/{strategy_id}/stop", AUTH_USER, 200,
	 SQL("stop_runtime", "SELECT ex7.stop_runtime($1::uuid, $2::uuid, $3)", 3),
	 {U, {ARG_PATH_UUID, "strategy_id", NULL}, {ARG_BODY_TEXT, "mode", "paper"}}},
	{EVHTTP_REQ_POST, "/api/signals/runtimes/{strategy_id}/force-close-all", AUTH_USER, 200,
	 SQL("force_close_all", "SELECT ex7.force_close_all($1::uuid, $2::uuid)", 2),
	 {U, {ARG_PATH_UUID, "strategy_id", NULL}}},
	/*
	 * A single-use ticket for the stream (docs/stream.md, "Tickets for browsers"): 201, a ticket created.
	 * GET /api/signals/stream?ticket=... accepts it once instead of the bearer token (sse_ticket_auth).
	 */
	{EVHTTP_REQ_POST, "/api/signals/stream/ticket", AUTH_USER, 201,
	 SQL("create_stream_ticket", "SELECT ex7.create_stream_ticket($1::uuid)", 1), {U}},
	/*
	 * Signal Stream (Server-Sent Events): the arguments are checked here like any route's; then
	 * sse_open answers by itself, running ex7.stream_replay in batches (with its own batch size) and
	 * keeping the connection open for the live events of the LISTEN connection (http/sse.c).
	 */
	{EVHTTP_REQ_GET, "/api/signals/stream", AUTH_USER, 200,
	 SQL("stream_replay", "SELECT * FROM ex7.stream_replay($1::uuid, $2, $3::uuid, $4)", 4),
	 {U, {ARG_HEADER_TEXT, "Last-Event-ID", NULL}, {ARG_QUERY_UUID, "strategy_id", NULL},
	  {ARG_QUERY_TEXT, "instrument", NULL}}, NULL, false, sse_open},
	{EVHTTP_REQ_GET, "/api/signals/{signal_id}", AUTH_USER, 200,
	 SQL("get_signal", "SELECT ex7.get_signal($1::uuid, $2::uuid)", 2),
	 {U, {ARG_PATH_UUID, "signal_id", NULL}}},
	/* Close Signal: close_price is optional (NULL when absent or null): the extension closes at the mark */
	{EVHTTP_REQ_POST, "/api/signals/{signal_id}/close", AUTH_USER, 200,
	 SQL("close_signal", "SELECT ex7.close_signal($1::uuid, $2::uuid, $3::numeric)", 3),
	 {U, {ARG_PATH_UUID, "signal_id", NULL}, {ARG_BODY_NUMBER, "close_price", NULL}}},

	/* Market data. Get Instruments (Account section): "List all instruments with current market data." */
	{EVHTTP_REQ_GET, "/api/instruments", AUTH_USER, 200,
	 SQL("list_instruments", "SELECT ex7.list_instruments($1::uuid)", 1), {U}},
	/* bar ingest (docs/market.md, "Ingest"): service_role tokens only; body {"bars": [...], "dispatch": true} */
	{EVHTTP_REQ_POST, "/api/market/bars", AUTH_SERVICE, 200,
	 SQL("ingest_bars", "SELECT ex7.ingest_bars($1::jsonb)", 1), {{ARG_BODY, "body", NULL}}, .body_required = true},

	/* Risk (Account section) */
	{EVHTTP_REQ_GET, "/api/risk", AUTH_USER, 200,
	 SQL("risk_state", "SELECT ex7.risk_state($1::uuid, $2)", 2),
	 {U, {ARG_QUERY_TEXT, "mode", "paper"}}, risk_unavailable},
	{EVHTTP_REQ_GET, "/api/risk/blocked", AUTH_USER, 200,
	 SQL("list_blocked", "SELECT ex7.list_blocked($1::uuid, $2::int, $3::int)", 3),
	 {U, {ARG_QUERY_INT, "limit", "50"}, {ARG_QUERY_INT, "offset", "0"}}},

	/* the other areas, a file each (tools/openapi_gen.py reads them in this order) */
#include "routes_backtests.h"
#include "routes_billing.h"
#include "routes_account.h"
#include "routes_alerts.h"
#include "routes_performance.h"
#include "routes_hooks.h"
#include "routes_risk.h"
#include "routes_paper.h"
#include "routes_research.h"
#include "routes_studies.h"
};

const int	nroutes = sizeof(routes) / sizeof(routes[0]);
