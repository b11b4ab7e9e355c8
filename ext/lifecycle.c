/*-------------------------------------------------------------------------
 *
 * lifecycle.c
 *	  The strategy lifecycle as a state machine.
 *
 * Edges (ex7-api-reference.txt, Promote / Archive / Unarchive; pause and resume: docs/strategies.md,
 * "Lifecycle"):
 *	  promote:   draft -> ready, ready -> live
 *	  pause:     live -> paused
 *	  resume:    paused -> live
 *	  archive:   draft | ready | live | paused -> archived ("a valid target from every non-archived
 *	             status"; archived -> archived is not a legal edge)
 *	  unarchive: archived -> draft ("resets to draft rather than the pre-archive status")
 * Any other (status, action) pair is a 409 whose detail lists the statuses reachable from the current
 * one, "so the client can render a helpful message".
 *
 *-------------------------------------------------------------------------
 */
#include "ex7.h"

#include "catalog/pg_type.h"
#include "fmgr.h"
#include "lib/stringinfo.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/json.h"

typedef struct LifecycleEdge
{
	const char *from;
	const char *action;
	const char *to;
} LifecycleEdge;

static const LifecycleEdge edges[] = {
	{"draft", "promote", "ready"},
	{"ready", "promote", "live"},
	{"live", "pause", "paused"},
	{"paused", "resume", "live"},
	{"draft", "archive", "archived"},
	{"ready", "archive", "archived"},
	{"live", "archive", "archived"},
	{"paused", "archive", "archived"},
	{"archived", "unarchive", "draft"},
};

static const char *const statuses[] = {"draft", "ready", "live", "paused", "archived"};
static const char *const actions[] = {"promote", "pause", "resume", "archive", "unarchive"};

/*
 * in_list: returns true when s is one of the n strings of list.
 */
static bool
in_list(const char *s, const char *const *list, size_t n)
{
	size_t		i;

	for (i = 0; i < n; i++)
		if (strcmp(s, list[i]) == 0)
			return true;
	return false;
}

/*
 * allowed_json: returns a palloc'd JSON array of the statuses reachable from status, in edge order.
 */
static char *
allowed_json(const char *status)
{
	StringInfoData buf;
	bool		first = true;
	size_t		i;

	initStringInfo(&buf);
	appendStringInfoChar(&buf, '[');
	for (i = 0; i < lengthof(edges); i++)
	{
		if (strcmp(edges[i].from, status) != 0)
			continue;
		if (!first)
			appendStringInfoString(&buf, ", ");
		escape_json(&buf, edges[i].to);
		first = false;
	}
	appendStringInfoChar(&buf, ']');
	return buf.data;
}

PG_FUNCTION_INFO_V1(lifecycle_allowed);
Datum
lifecycle_allowed(PG_FUNCTION_ARGS)
{
	char	   *status = text_to_cstring(PG_GETARG_TEXT_PP(0));
	Datum		out[lengthof(edges)];
	int			n = 0;
	size_t		i;

	if (!in_list(status, statuses, lengthof(statuses)))
		ex7_invalid("[\"status\"]", psprintf("unknown strategy status \"%s\"", status), "value_error");
	for (i = 0; i < lengthof(edges); i++)
		if (strcmp(edges[i].from, status) == 0)
			out[n++] = CStringGetTextDatum(edges[i].to);
	PG_RETURN_ARRAYTYPE_P(construct_array(out, n, TEXTOID, -1, false, TYPALIGN_INT));
}

PG_FUNCTION_INFO_V1(lifecycle_target);
Datum
lifecycle_target(PG_FUNCTION_ARGS)
{
	char	   *status = text_to_cstring(PG_GETARG_TEXT_PP(0));
	char	   *action = text_to_cstring(PG_GETARG_TEXT_PP(1));
	size_t		i;

	if (!in_list(status, statuses, lengthof(statuses)))
		ex7_invalid("[\"status\"]", psprintf("unknown strategy status \"%s\"", status), "value_error");
	if (!in_list(action, actions, lengthof(actions)))
		ex7_invalid("[\"action\"]", psprintf("unknown lifecycle action \"%s\"", action), "value_error");

	for (i = 0; i < lengthof(edges); i++)
		if (strcmp(edges[i].from, status) == 0 && strcmp(edges[i].action, action) == 0)
			PG_RETURN_TEXT_P(cstring_to_text(edges[i].to));

	ereport(ERROR,
			(errcode(ERRCODE_EX7_CONFLICT),
			 errmsg("cannot %s a strategy in status %s", action, status),
			 errdetail_internal("{\"code\": \"invalid_transition\", \"status\": %s, \"action\": %s, "
								"\"allowed\": %s}",
								ex7_json_quote(status), ex7_json_quote(action),
								allowed_json(status))));
	PG_RETURN_NULL();
}
