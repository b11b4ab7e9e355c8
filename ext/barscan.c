/*-------------------------------------------------------------------------
 *
 * barscan.c
 *	  A series of ex7.bars read oldest first straight through the primary key (instrument,
 *	  timeframe, ts) with an index scan, no SPI and no executor: the backtest's bar stream before
 *	  ex7.bar_blocks, now the baseline of bench/bench_bar_blocks.sh (the backtest reads ex7.bar_blocks).
 *
 * Reading the bars through SPI cost about 1 µs a bar (docs/performance.md: the executor, a tuple
 * table of copies, per-column deforming, numeric -> float8 through text). Here a bar costs one
 * index step, one deform and four digit-level numeric conversions (numeric_to_double).
 *
 *-------------------------------------------------------------------------
 */
#include "barscan.h"
#include "barblocks.h"

#include "access/genam.h"
#include "access/stratnum.h"
#include "access/table.h"
#include "access/tableam.h"
#include "catalog/namespace.h"
#include "catalog/pg_class.h"
#include "executor/tuptable.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/fmgrprotos.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"

/* the columns of ex7.bars (ext/sql/12_market_schema.sql) */
#define BARS_ATT_TS			3
#define BARS_ATT_OPEN		4
#define BARS_ATT_HIGH		5
#define BARS_ATT_LOW		6
#define BARS_ATT_CLOSE		7
#define BARS_ATT_VOLUME		8

int
bars_scan(text *instrument, text *timeframe, TimestampTz after, TimestampTz upto, int limit,
		  BarsOut *out)
{
	Oid			ns = get_namespace_oid("ex7", false);
	Oid			relid = get_relname_relid("bars", ns);
	Oid			idxid = get_relname_relid("bars_pkey", ns);
	Relation	heap;
	Relation	idx;
	ScanKeyData keys[4];
	IndexScanDesc scan;
	TupleTableSlot *slot;
	AclResult	acl;
	int			n = 0;

	if (!OidIsValid(relid) || !OidIsValid(idxid))
		elog(ERROR, "ex7.bars or its primary key is missing");
	acl = pg_class_aclcheck(relid, GetUserId(), ACL_SELECT);
	if (acl != ACLCHECK_OK)
		aclcheck_error(acl, OBJECT_TABLE, "bars");

	heap = table_open(relid, AccessShareLock);
	idx = index_open(idxid, AccessShareLock);
	ScanKeyInit(&keys[0], 1, BTEqualStrategyNumber, F_TEXTEQ, PointerGetDatum(instrument));
	keys[0].sk_collation = idx->rd_indcollation[0];
	ScanKeyInit(&keys[1], 2, BTEqualStrategyNumber, F_TEXTEQ, PointerGetDatum(timeframe));
	keys[1].sk_collation = idx->rd_indcollation[1];
	ScanKeyInit(&keys[2], 3, BTGreaterStrategyNumber, F_TIMESTAMPTZ_GT, TimestampTzGetDatum(after));
	ScanKeyInit(&keys[3], 3, BTLessEqualStrategyNumber, F_TIMESTAMPTZ_LE, TimestampTzGetDatum(upto));

	scan = index_beginscan(heap, idx, GetActiveSnapshot(), 4, 0);
	index_rescan(scan, keys, 4, NULL, 0);
	slot = table_slot_create(heap, NULL);
	while (n < limit && index_getnext_slot(scan, ForwardScanDirection, slot))
	{
		Datum	   *v;

		slot_getsomeattrs(slot, BARS_ATT_VOLUME);
		v = slot->tts_values;
		out->ts[n] = DatumGetTimestampTz(v[BARS_ATT_TS - 1]);
		out->open[n] = numeric_to_double(DatumGetNumeric(v[BARS_ATT_OPEN - 1]));
		out->high[n] = numeric_to_double(DatumGetNumeric(v[BARS_ATT_HIGH - 1]));
		out->low[n] = numeric_to_double(DatumGetNumeric(v[BARS_ATT_LOW - 1]));
		out->close[n] = numeric_to_double(DatumGetNumeric(v[BARS_ATT_CLOSE - 1]));
		out->volume[n] = (double) DatumGetInt64(v[BARS_ATT_VOLUME - 1]);
		if (out->tid)
			out->tid[n] = slot->tts_tid;
		n++;
	}
	ExecDropSingleTupleTableSlot(slot);
	index_endscan(scan);
	index_close(idx, AccessShareLock);
	table_close(heap, AccessShareLock);
	return n;
}
