/*-------------------------------------------------------------------------
 *
 * restore.c
 *	  Tells the extension's triggers that the statement writing a table is a COPY: how pg_dump's data
 *	  reaches an extension's configuration tables when a dump is restored (psql running a plain dump,
 *	  pg_restore running a custom one). docs/operations.md, "Backup and restore", says what follows.
 *
 * Member tables of an extension are created by CREATE EXTENSION before pg_dump's data is loaded, so
 * their triggers are live while it is (unlike a plain table's, which a restore creates after its data).
 * A trigger whose work is already in the dump (an alert a refused signal queued, a price alert a bar
 * fired) must then stay quiet, and a seeded table must take the dumped version of a row the restore's
 * own CREATE EXTENSION just inserted (ext/sql/01_backup_schema.sql).
 *
 *-------------------------------------------------------------------------
 */
#include "ex7.h"

#include "catalog/namespace.h"
#include "fmgr.h"
#include "nodes/parsenodes.h"
#include "nodes/plannodes.h"
#include "tcop/cmdtag.h"
#include "tcop/pquery.h"

PG_FUNCTION_INFO_V1(in_copy);

/*
 * ex7._in_copy(rel regclass): true while the client's command is a COPY FROM into rel. ActivePortal is the
 * portal the client's command runs in; the rows a COPY FROM inserts reach triggers from inside it, while
 * the statements functions run through SPI leave it alone. So a trigger on rel sees true exactly for the
 * rows such a COPY writes, and false for every INSERT the SQL API makes, for a COPY TO (even one whose
 * query calls a function that writes rel) and for a COPY into another table (even one whose triggers
 * write rel).
 */
Datum
in_copy(PG_FUNCTION_ARGS)
{
	Oid			rel = PG_GETARG_OID(0);
	PlannedStmt *ps;
	CopyStmt   *copy;

	if (ActivePortal == NULL || ActivePortal->commandTag != CMDTAG_COPY ||
		list_length(ActivePortal->stmts) != 1)
		PG_RETURN_BOOL(false);
	ps = linitial_node(PlannedStmt, ActivePortal->stmts);
	if (ps->commandType != CMD_UTILITY || ps->utilityStmt == NULL || !IsA(ps->utilityStmt, CopyStmt))
		PG_RETURN_BOOL(false);
	copy = (CopyStmt *) ps->utilityStmt;
	if (!copy->is_from || copy->relation == NULL)
		PG_RETURN_BOOL(false);
	/* the COPY has locked and opened its relation already: the name resolves to the same one */
	PG_RETURN_BOOL(RangeVarGetRelid(copy->relation, NoLock, true) == rel);
}
