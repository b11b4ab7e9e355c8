/*-------------------------------------------------------------------------
 *
 * barscan.c
 *	  The backtest's bar stream: a series of ex7.bars read oldest first straight through the
 *	  primary key (instrument, timeframe, ts) with an index scan, no SPI and no executor.
 *
 * Reading the bars through SPI cost about 1 µs a bar (docs/performance.md: the executor, a tuple
 * table of copies, per-column deforming, numeric -> float8 through text). Here a bar costs one
 * index step, one deform, four digit-level numeric conversions and, when the caller wants exact
 * prices, three small copies.
 *
 *-------------------------------------------------------------------------
 */
#include "barscan.h"

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

/*
 * The on-disk numeric format (src/backend/utils/adt/numeric.c; it is what pg_upgrade carries
 * between major versions, so it does not change): a uint16 header, for the long format an int16
 * weight after it, then base-10000 digits (int16), most significant first, trailing zero digits
 * stripped. value = sum(digit[i] * 10000^(weight - i)).
 */
#define NUM_SIGN_MASK			0xC000
#define NUM_NEG					0x4000
#define NUM_SHORT				0x8000
#define NUM_SPECIAL				0xC000
#define NUM_SHORT_SIGN_MASK		0x2000
#define NUM_SHORT_WEIGHT_SIGN	0x0040
#define NUM_SHORT_WEIGHT_MASK	0x003F
#define NUM_NBASE				10000
#define NUM_DEC_DIGITS			4

/* 10^0 .. 10^22: every one exact in a double */
static const double pow10_exact[] = {
	1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16,
	1e17, 1e18, 1e19, 1e20, 1e21, 1e22
};

double
numeric_to_double(Numeric n)
{
	struct varlena *v = (struct varlena *) n;
	const char *data;
	size_t		len;
	uint16		header;
	int			weight;
	bool		neg;
	const char *digits;
	int			ndigits;
	uint64		m = 0;
	int			e10;
	double		r;

	v = pg_detoast_datum_packed(v);
	data = VARDATA_ANY(v);
	len = VARSIZE_ANY_EXHDR(v);
	if (len < sizeof(uint16))
		goto slow;
	memcpy(&header, data, sizeof(uint16));
	if ((header & NUM_SIGN_MASK) == NUM_SPECIAL)
		goto slow;				/* NaN, +-Infinity */
	if ((header & NUM_SIGN_MASK) == NUM_SHORT)
	{
		neg = (header & NUM_SHORT_SIGN_MASK) != 0;
		weight = (header & NUM_SHORT_WEIGHT_SIGN) ? (int) (~NUM_SHORT_WEIGHT_MASK | (header & NUM_SHORT_WEIGHT_MASK))
			: (int) (header & NUM_SHORT_WEIGHT_MASK);
		digits = data + sizeof(uint16);
		ndigits = (int) ((len - sizeof(uint16)) / sizeof(int16));
	}
	else
	{
		int16		w;

		if (len < sizeof(uint16) + sizeof(int16))
			goto slow;
		neg = (header & NUM_SIGN_MASK) == NUM_NEG;
		memcpy(&w, data + sizeof(uint16), sizeof(int16));
		weight = w;
		digits = data + sizeof(uint16) + sizeof(int16);
		ndigits = (int) ((len - sizeof(uint16) - sizeof(int16)) / sizeof(int16));
	}
	if (ndigits == 0)
		return 0.0;
	/* four base-10000 digits are at most 16 decimal digits: the mantissa fits a uint64 */
	if (ndigits > 4)
		goto slow;
	for (int i = 0; i < ndigits; i++)
	{
		int16		d;

		memcpy(&d, digits + i * sizeof(int16), sizeof(int16));
		m = m * NUM_NBASE + (uint64) d;
	}
	e10 = NUM_DEC_DIGITS * (weight - ndigits + 1);
	/*
	 * m and 10^|e10| are exact doubles, so one IEEE multiplication or division is the correctly
	 * rounded value, as strtod's is: the same double numeric_float8 returns
	 */
	if (m > (UINT64CONST(1) << 53) || e10 > 22 || e10 < -22)
		goto slow;
	r = e10 >= 0 ? (double) m * pow10_exact[e10] : (double) m / pow10_exact[-e10];
	return neg ? -r : r;

slow:
	return DatumGetFloat8(DirectFunctionCall1(numeric_float8, NumericGetDatum(n)));
}

/* copy_numeric: a copy of the numeric datum d with a 4-byte header (no detoasting when used) */
static Numeric
copy_numeric(Datum d)
{
	struct varlena *v = pg_detoast_datum_packed((struct varlena *) DatumGetPointer(d));
	size_t		len = VARSIZE_ANY_EXHDR(v);
	struct varlena *c = palloc(len + VARHDRSZ);

	SET_VARSIZE(c, len + VARHDRSZ);
	memcpy(VARDATA(c), VARDATA_ANY(v), len);
	return (Numeric) c;
}

/* bars_oid: the oid of ex7.bars */
static Oid
bars_oid(void)
{
	Oid			relid = get_relname_relid("bars", get_namespace_oid("ex7", false));

	if (!OidIsValid(relid))
		elog(ERROR, "ex7.bars is missing");
	return relid;
}

void
bars_fetch_begin(BarsFetch *f)
{
	f->heap = table_open(bars_oid(), AccessShareLock);
	f->slot = table_slot_create(f->heap, NULL);
}

void
bars_fetch(BarsFetch *f, ItemPointer tid, Numeric *high, Numeric *low, Numeric *close)
{
	Datum	   *v;

	/* the row bars_scan read under this same snapshot: still there, at the same place */
	if (!table_tuple_fetch_row_version(f->heap, tid, GetActiveSnapshot(), f->slot))
		elog(ERROR, "a bar read by this backtest is no longer visible");
	slot_getsomeattrs(f->slot, BARS_ATT_CLOSE);
	v = f->slot->tts_values;
	if (high)
		*high = copy_numeric(v[BARS_ATT_HIGH - 1]);
	if (low)
		*low = copy_numeric(v[BARS_ATT_LOW - 1]);
	if (close)
		*close = copy_numeric(v[BARS_ATT_CLOSE - 1]);
	ExecClearTuple(f->slot);
}

void
bars_fetch_end(BarsFetch *f)
{
	ExecDropSingleTupleTableSlot(f->slot);
	table_close(f->heap, AccessShareLock);
}

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
