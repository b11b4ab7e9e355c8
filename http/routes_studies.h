/*
 * routes_studies.h
 *	  Route table entries: parameter studies and walk-forward analysis (docs/research.md, "Studies" and
 *	  "Walk-forward"; ext/sql/89_studies.sql).
 *	  Included inside the routes[] initializer of routes.c (like PostgreSQL's rmgrlist.h); U and SQL() are
 *	  the macros routes.c defines. Every entry ends with a comma. Run tools/openapi_gen.py after changing it.
 */

	/* POST answers 201 with the study, queued for its background workers */
	{EVHTTP_REQ_POST, "/api/strategies/{strategy_id}/studies", AUTH_USER, 201,
	 SQL("create_study", "SELECT ex7.create_study($1::uuid, $2::uuid, $3::jsonb)", 3),
	 {U, {ARG_PATH_UUID, "strategy_id", NULL}, {ARG_BODY, "body", NULL}}, .body_required = true},
	{EVHTTP_REQ_GET, "/api/strategies/{strategy_id}/studies", AUTH_USER, 200,
	 SQL("list_studies", "SELECT ex7.list_studies($1::uuid, $2::uuid, $3::int, $4)", 4),
	 {U, {ARG_PATH_UUID, "strategy_id", NULL}, {ARG_QUERY_INT, "limit", "50"}, {ARG_QUERY_TEXT, "cursor", NULL}}},
	{EVHTTP_REQ_GET, "/api/studies/{study_id}", AUTH_USER, 200,
	 SQL("get_study", "SELECT ex7.get_study($1::uuid, $2::uuid)", 2),
	 {U, {ARG_PATH_UUID, "study_id", NULL}}},
	/* the trials in trial_no order, keyset pages */
	{EVHTTP_REQ_GET, "/api/studies/{study_id}/trials", AUTH_USER, 200,
	 SQL("list_study_trials", "SELECT ex7.list_study_trials($1::uuid, $2::uuid, $3::int, $4)", 4),
	 {U, {ARG_PATH_UUID, "study_id", NULL}, {ARG_QUERY_INT, "limit", "50"}, {ARG_QUERY_TEXT, "cursor", NULL}}},
	{EVHTTP_REQ_POST, "/api/studies/{study_id}/cancel", AUTH_USER, 200,
	 SQL("cancel_study", "SELECT ex7.cancel_study($1::uuid, $2::uuid)", 2),
	 {U, {ARG_PATH_UUID, "study_id", NULL}}},
	{EVHTTP_REQ_POST, "/api/studies/{study_id}/resume", AUTH_USER, 200,
	 SQL("resume_study", "SELECT ex7.resume_study($1::uuid, $2::uuid)", 2),
	 {U, {ARG_PATH_UUID, "study_id", NULL}}},
	/* the best feasible trial's values (or {"trial": n}'s) as a new strategy version: 201 with the version */
	{EVHTTP_REQ_POST, "/api/studies/{study_id}/apply", AUTH_USER, 201,
	 SQL("apply_study", "SELECT ex7.apply_study($1::uuid, $2::uuid, $3::jsonb)", 3),
	 {U, {ARG_PATH_UUID, "study_id", NULL}, {ARG_BODY, "body", NULL}}},
	/* the objective over two parameters, with the CFTC Rule 4.41 statement under it */
	{EVHTTP_REQ_GET, "/api/studies/{study_id}/heatmap.svg", AUTH_USER, 200,
	 SQL("study_heatmap_svg", "SELECT ex7.study_heatmap_svg($1::uuid, $2::uuid, $3, $4)", 4),
	 {U, {ARG_PATH_UUID, "study_id", NULL}, {ARG_QUERY_TEXT, "x", NULL}, {ARG_QUERY_TEXT, "y", NULL}},
	 NULL, false, NULL, "image/svg+xml"},
	{EVHTTP_REQ_GET, "/api/studies/{study_id}/walk-forward", AUTH_USER, 200,
	 SQL("get_walk_forward", "SELECT ex7.get_walk_forward($1::uuid, $2::uuid)", 2),
	 {U, {ARG_PATH_UUID, "study_id", NULL}}},
	{EVHTTP_REQ_GET, "/api/studies/{study_id}/walk-forward.svg", AUTH_USER, 200,
	 SQL("study_walk_forward_svg", "SELECT ex7.study_walk_forward_svg($1::uuid, $2::uuid)", 2),
	 {U, {ARG_PATH_UUID, "study_id", NULL}}, NULL, false, NULL, "image/svg+xml"},
