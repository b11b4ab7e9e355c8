/*-------------------------------------------------------------------------
 *
 * secrets.c
 *	  Server-side keys kept in ex7.secrets (ext/sql/00_base.sql): the cursor signing key, the alerts'
 *	  unsubscribe-token key. Read once per backend and kept for its life.
 *
 *-------------------------------------------------------------------------
 */
#include "ex7.h"

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "utils/builtins.h"
#include "utils/memutils.h"

/*
 * ex7_secret: returns a copy in TopMemoryContext of the key named name in ex7.secrets, its length in
 * *len. A missing key is a broken install: elog(ERROR).
 */
uint8 *
ex7_secret(const char *name, size_t *len)
{
	Oid			argtypes[1] = {TEXTOID};
	Datum		args[1];
	bool		isnull;
	Datum		d;
	bytea	   *b;
	uint8	   *key;

	args[0] = CStringGetTextDatum(name);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	if (SPI_execute_with_args("SELECT value FROM ex7.secrets WHERE name = $1", 1, argtypes, args, NULL, true, 1)
		!= SPI_OK_SELECT || SPI_processed != 1)
		elog(ERROR, "ex7.secrets has no %s key", name);
	d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
	if (isnull)
		elog(ERROR, "ex7.secrets %s key is null", name);
	b = DatumGetByteaPP(d);
	*len = VARSIZE_ANY_EXHDR(b);
	key = MemoryContextAlloc(TopMemoryContext, *len);
	memcpy(key, VARDATA_ANY(b), *len);
	SPI_finish();
	return key;
}
