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

#include "fmgr.h"
#include "tcop/cmdtag.h"
#include "tcop/pquery.h"

PG_FUNCTION_INFO_V1(in_copy);

/*
 * ex7._in_copy(): true while the top-level command is a COPY. ActivePortal is the portal the client's
 * command runs in; rows a COPY FROM inserts reach triggers from inside it, while statements that
 * functions run through SPI leave it alone. So a trigger sees true exactly for rows a COPY writes
 * (including rows a trigger of such a row writes), and false for every INSERT the SQL API makes.
 */
Datum
in_copy(PG_FUNCTION_ARGS)
{
	PG_RETURN_BOOL(ActivePortal != NULL && ActivePortal->commandTag == CMDTAG_COPY);
}
