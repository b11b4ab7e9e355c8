/*-------------------------------------------------------------------------
 *
 * errors.c
 *	  Helpers that raise the user-facing errors of ex7 (see ex7.h for the code class).
 *
 *-------------------------------------------------------------------------
 */
#include "ex7.h"

#include "fmgr.h"
#include "lib/stringinfo.h"
#include "utils/json.h"

PG_MODULE_MAGIC;

/*
 * ex7_json_quote: returns a palloc'd JSON string literal for s.
 */
char *
ex7_json_quote(const char *s)
{
	StringInfoData buf;

	initStringInfo(&buf);
	escape_json(&buf, s);
	return buf.data;
}

/*
 * ex7_invalid: raises X7422 with the locator list as DETAIL. Never returns.
 */
void
ex7_invalid(const char *loc_json, const char *msg, const char *type)
{
	StringInfoData detail;

	initStringInfo(&detail);
	appendStringInfo(&detail, "[{\"loc\": %s, \"msg\": ", loc_json);
	escape_json(&detail, msg);
	appendStringInfoString(&detail, ", \"type\": ");
	escape_json(&detail, type);
	appendStringInfoString(&detail, "}]");

	ereport(ERROR,
			(errcode(ERRCODE_EX7_INVALID),
			 errmsg("%s", msg),
			 errdetail_internal("%s", detail.data)));
	pg_unreachable();
}
