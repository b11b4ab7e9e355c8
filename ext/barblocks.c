/*-------------------------------------------------------------------------
 *
 * barblocks.c
 *	  Bar blocks: ex7.bar_blocks, a columnar copy of ex7.bars for the backtest's bar stream, brought
 *	  up to date by ex7._bar_blocks_sync, which every writer of ex7.bars calls in its transaction,
 *	  and its reader.
 *
 * Reading a million bars through ex7.bars costs an index step, a heap fetch, four numeric detoasts
 * and four numeric -> double conversions per bar (ext/barscan.c, about 300 ms). A block holds up to
 * BB_SLOTS bars of one series as arrays, with every price as an exact int64 mantissa and its display
 * scale, so the reader does one index step per block and one IEEE division per price.
 *
 * A block is one row per (instrument, timeframe, block), block = floor(epoch seconds of ts /
 * (timeframe seconds * BB_SLOTS)) (timeframe lengths: ex7._timeframe_interval, 63_market.sql).
 * data (bytea, version 1; integers in the server's byte order: pg_dump keeps the table, so a restore
 * onto a server of the other byte order finds its blocks malformed (ex7.bar_blocks_check says so, every
 * reader refuses them) until ex7.bar_blocks_rebuild makes them again from ex7.bars):
 *
 *	  offset  size		  what
 *	  0		  1			  version (1)
 *	  1		  1			  zero
 *	  2		  2			  flags (uint16, below)
 *	  4		  4			  n: bars in the block (uint32; at least 1 in a stored row)
 *	  8		  8			  base: the block's first instant (TimestampTz)
 *	  16	  n * 4|8	  ts, strictly ascending: int64 TimestampTz (microseconds since 2000-01-01),
 *						  or with TS32 uint32 whole seconds after base
 *			  n * 4|8	  m of open, then of high, low, close: int64 mantissas, or int32 with M32(c)
 *			  n * 4|8	  volume: int64, or int32 with V32
 *			  n | 1		  d of open, then of high, low, close: uint8 display scales, or with D1(c)
 *						  one byte that is every bar's
 *
 * Each column takes the narrow form when every bar of the block fits it (the encoder decides per
 * block): prices on a tick grid have mantissas far below 2^31 and one display scale, 1-minute to
 * 1-day bars close on whole seconds, so a block is typically 28 bytes a bar instead of 52. The
 * common case then reads as int32 / 10^d, two prices per SSE2 division.
 *
 * A price is m / 10^d exactly, with d its numeric display scale, so int64_div_fast_to_numeric(m, d)
 * gives back the stored numeric (same value, same dscale, same text). A bar with a price that does
 * not fit (NaN, infinity, |m| beyond int64, dscale over 254) is "raw": all four of its d are 255 and
 * its four m hold the IEEE bits of numeric::float8 of the prices (numeric_float8_no_overflow: the
 * same double where numeric::float8 has one); its exact prices are read from ex7.bars by key.
 *
 * Consistency: no trigger (on Citus, ex7.bars and ex7.bar_blocks are reference tables, and a trigger
 * on one that writes the other would be a nested distributed write, which Citus refuses). Instead the
 * writers of bars call ex7._bar_blocks_sync(instrument, timeframe, from, to) in the same transaction
 * (ex7._store_bar, ext/sql/63_market.sql, for each bar it stores): it reads the series' bars of that
 * range from ex7.bars through SQL and rewrites exactly the blocks of the range: a block with bars
 * there gets them spliced in (INSERT ... ON CONFLICT DO UPDATE SET data = ex7._bar_blocks_splice(...):
 * its bars outside the range stay), a block without keeps only its bars outside the range, and a
 * block left without a bar is deleted. So a snapshot that sees a bar sees it in its block. Two READ
 * COMMITTED writers of one block serialize on the block row: the second waits for the first's row
 * lock, then ON CONFLICT re-reads the newest version (and UPDATE re-evaluates against it,
 * EvalPlanQual), so both bars land. A REPEATABLE READ writer whose snapshot misses the newest version
 * of a block it writes fails with a serialization error instead. specs/bar_blocks_race.spec shows each
 * case. The range is re-read as of the sync's snapshot: two transactions that write the same range
 * concurrently must not both sync it (ex7._store_bar syncs only the key it inserted, under its series
 * lock; ex7.bar_blocks_rebuild locks ex7.bars).
 *
 *-------------------------------------------------------------------------
 */
#include "barblocks.h"
#include "barscan.h"

#include "access/genam.h"
#include "access/stratnum.h"
#include "access/table.h"
#include "access/tableam.h"
#include "catalog/namespace.h"
#include "catalog/pg_class.h"
#include "catalog/pg_namespace.h"
#include "catalog/pg_type.h"
#include "commands/trigger.h"
#include "common/int.h"
#include "executor/executor.h"
#include "executor/spi.h"
#include "executor/tuptable.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/fmgrprotos.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/relcache.h"
#include "utils/snapmgr.h"
#include "utils/syscache.h"
#include "utils/tuplestore.h"

#ifdef __SSE2__
#include <emmintrin.h>
#endif

/* the block format (above) */
#define BB_VERSION			1
#define BB_HEADER			16
#define BB_PRICES			4
#define BB_TS32				0x0001
#define BB_M32(c)			(0x0002 << (c))
#define BB_V32				0x0020
#define BB_D1(c)			(0x0040 << (c))
#define BB_FLAGS			0x03FF
#define BB_RAW				255
#define BB_MAX_DSCALE		254
#define BB_2_53				(INT64CONST(1) << 53)

/* the columns of ex7.bars (ext/sql/12_market_schema.sql) */
#define BARS_ATT_INSTRUMENT 1
#define BARS_ATT_TIMEFRAME	2
#define BARS_ATT_TS			3
#define BARS_ATT_OPEN		4
#define BARS_ATT_VOLUME		8

/* the columns of ex7.bar_blocks */
#define BLK_ATT_BLOCK		3
#define BLK_ATT_DATA		4

/* microseconds from the Unix epoch to PostgreSQL's (2000-01-01) */
#define UNIX_TO_PG_USECS	((int64) (POSTGRES_EPOCH_JDATE - UNIX_EPOCH_JDATE) * USECS_PER_DAY)

/*
 * The on-disk numeric format (src/backend/utils/adt/numeric.c, stable across major versions as
 * pg_upgrade carries it): a uint16 header, for the long format an
 * int16 weight after it, then base-10000 digits, most significant first, trailing zero digits
 * stripped; value = sum(digit[i] * 10000^(weight - i)), shown with dscale decimals.
 */
#define NUM_SIGN_MASK			0xC000
#define NUM_NEG					0x4000
#define NUM_SHORT				0x8000
#define NUM_SPECIAL				0xC000
#define NUM_DSCALE_MASK			0x3FFF
#define NUM_SHORT_SIGN_MASK		0x2000
#define NUM_SHORT_DSCALE_MASK	0x1F80
#define NUM_SHORT_DSCALE_SHIFT	7
#define NUM_SHORT_WEIGHT_SIGN	0x0040
#define NUM_SHORT_WEIGHT_MASK	0x003F
#define NUM_NBASE				10000
#define NUM_DEC_DIGITS			4

/* 10^0 .. 10^22: every one exact in a double */
static const double pow10_dbl[] = {
	1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16,
	1e17, 1e18, 1e19, 1e20, 1e21, 1e22
};

static const uint64 pow10_u64[] = {
	UINT64CONST(1), UINT64CONST(10), UINT64CONST(100), UINT64CONST(1000), UINT64CONST(10000),
	UINT64CONST(100000), UINT64CONST(1000000), UINT64CONST(10000000), UINT64CONST(100000000),
	UINT64CONST(1000000000), UINT64CONST(10000000000), UINT64CONST(100000000000),
	UINT64CONST(1000000000000), UINT64CONST(10000000000000), UINT64CONST(100000000000000),
	UINT64CONST(1000000000000000), UINT64CONST(10000000000000000),
	UINT64CONST(100000000000000000), UINT64CONST(1000000000000000000),
	UINT64CONST(10000000000000000000)
};

/* the timeframes of the ex7.timeframe domain and their lengths (ex7._timeframe_interval) */
static const struct
{
	const char *name;
	int64		seconds;
}			timeframes[] = {
	{"1m", 60}, {"2m", 120}, {"5m", 300}, {"15m", 900}, {"30m", 1800}, {"1h", 3600},
	{"4h", 14400}, {"1d", 86400}
};

/* one bar as a block holds it */
typedef struct BarVals
{
	TimestampTz ts;
	int64		m[BB_PRICES];
	int64		volume;
	uint8		d[BB_PRICES];
} BarVals;

/* the columns of a block, read in place */
typedef struct BlockView
{
	int			n;
	uint16		flags;
	TimestampTz base;
	const char *ts;
	const char *m[BB_PRICES];
	const char *volume;
	const uint8 *d[BB_PRICES];
} BlockView;

static inline int64
rd64(const char *p, int i)
{
	int64		v;

	memcpy(&v, p + (size_t) i * sizeof(int64), sizeof(int64));
	return v;
}

static inline void
wr64(char *p, int i, int64 v)
{
	memcpy(p + (size_t) i * sizeof(int64), &v, sizeof(int64));
}

static inline int32
rd32(const char *p, int i)
{
	int32		v;

	memcpy(&v, p + (size_t) i * sizeof(int32), sizeof(int32));
	return v;
}

/* block_size: the bytes of a block of n bars with flags */
static size_t
block_size(int n, uint16 flags)
{
	size_t		size = BB_HEADER;

	size += (size_t) n * ((flags & BB_TS32) ? 4 : 8);
	for (int c = 0; c < BB_PRICES; c++)
		size += (size_t) n * ((flags & BB_M32(c)) ? 4 : 8);
	size += (size_t) n * ((flags & BB_V32) ? 4 : 8);
	for (int c = 0; c < BB_PRICES; c++)
		size += (flags & BB_D1(c)) ? 1 : (size_t) n;
	return size;
}

/* block_lay: points v's columns into the block of n bars with flags at p */
static void
block_lay(const char *p, int n, uint16 flags, BlockView *v)
{
	size_t		off = BB_HEADER;

	v->n = n;
	v->flags = flags;
	v->ts = p + off;
	off += (size_t) n * ((flags & BB_TS32) ? 4 : 8);
	for (int c = 0; c < BB_PRICES; c++)
	{
		v->m[c] = p + off;
		off += (size_t) n * ((flags & BB_M32(c)) ? 4 : 8);
	}
	v->volume = p + off;
	off += (size_t) n * ((flags & BB_V32) ? 4 : 8);
	for (int c = 0; c < BB_PRICES; c++)
	{
		v->d[c] = (const uint8 *) p + off;
		off += (flags & BB_D1(c)) ? 1 : (size_t) n;
	}
}

/* block_view: returns false when the len bytes at p are not a version-1 block, else lays v over them */
static bool
block_view(const char *p, size_t len, BlockView *v)
{
	uint16		flags;
	uint32		n;

	if (len < BB_HEADER || p[0] != BB_VERSION || p[1] != 0)
		return false;
	memcpy(&flags, p + 2, sizeof(uint16));
	memcpy(&n, p + 4, sizeof(uint32));
	memcpy(&v->base, p + 8, sizeof(int64));
	if ((flags & ~BB_FLAGS) != 0 || n > MaxAllocSize / 8 || block_size((int) n, flags) != len)
		return false;
	block_lay(p, (int) n, flags, v);
	return true;
}

static inline TimestampTz
bv_ts(const BlockView *v, int i)
{
	if (v->flags & BB_TS32)
		return v->base + (int64) (uint32) rd32(v->ts, i) * USECS_PER_SEC;
	return rd64(v->ts, i);
}

static inline int64
bv_m(const BlockView *v, int c, int i)
{
	return (v->flags & BB_M32(c)) ? rd32(v->m[c], i) : rd64(v->m[c], i);
}

static inline uint8
bv_d(const BlockView *v, int c, int i)
{
	return v->d[c][(v->flags & BB_D1(c)) ? 0 : i];
}

static inline int64
bv_volume(const BlockView *v, int i)
{
	return (v->flags & BB_V32) ? rd32(v->volume, i) : rd64(v->volume, i);
}

static void
block_get(const BlockView *v, int i, BarVals *b)
{
	b->ts = bv_ts(v, i);
	for (int c = 0; c < BB_PRICES; c++)
	{
		b->m[c] = bv_m(v, c, i);
		b->d[c] = bv_d(v, c, i);
	}
	b->volume = bv_volume(v, i);
}

/*
 * block_encode: returns the block (a bytea) of the n bars b (ts ascending) whose block begins at
 * base, each column in its narrowest form.
 */
static bytea *
block_encode(const BarVals *b, int n, TimestampTz base)
{
	uint16		flags = BB_FLAGS;
	BlockView	v;
	size_t		len;
	bytea	   *res;
	char	   *p;
	uint32		n32 = (uint32) n;

	for (int i = 0; i < n; i++)
	{
		int64		off;

		if (b[i].ts < base || pg_sub_s64_overflow(b[i].ts, base, &off) ||
			off % USECS_PER_SEC != 0 || off / USECS_PER_SEC > PG_UINT32_MAX)
			flags &= ~BB_TS32;
		for (int c = 0; c < BB_PRICES; c++)
		{
			if (b[i].m[c] < PG_INT32_MIN || b[i].m[c] > PG_INT32_MAX)
				flags &= ~BB_M32(c);
			if (b[i].d[c] != b[0].d[c])
				flags &= ~BB_D1(c);
		}
		if (b[i].volume < PG_INT32_MIN || b[i].volume > PG_INT32_MAX)
			flags &= ~BB_V32;
	}
	if (n == 0)
		flags = 0;				/* an empty block (deleted by the caller) has no column at all */
	len = block_size(n, flags);
	res = palloc0(VARHDRSZ + len);
	SET_VARSIZE(res, VARHDRSZ + len);
	p = VARDATA(res);
	p[0] = BB_VERSION;
	memcpy(p + 2, &flags, sizeof(uint16));
	memcpy(p + 4, &n32, sizeof(uint32));
	memcpy(p + 8, &base, sizeof(int64));
	block_lay(p, n, flags, &v);
	for (int i = 0; i < n; i++)
	{
		if (flags & BB_TS32)
		{
			uint32		o = (uint32) ((b[i].ts - base) / USECS_PER_SEC);

			memcpy((char *) v.ts + (size_t) i * 4, &o, 4);
		}
		else
			memcpy((char *) v.ts + (size_t) i * 8, &b[i].ts, 8);
		for (int c = 0; c < BB_PRICES; c++)
		{
			if (flags & BB_M32(c))
			{
				int32		x = (int32) b[i].m[c];

				memcpy((char *) v.m[c] + (size_t) i * 4, &x, 4);
			}
			else
				memcpy((char *) v.m[c] + (size_t) i * 8, &b[i].m[c], 8);
			if (!(flags & BB_D1(c)) || i == 0)
				((uint8 *) v.d[c])[(flags & BB_D1(c)) ? 0 : i] = b[i].d[c];
		}
		if (flags & BB_V32)
		{
			int32		x = (int32) b[i].volume;

			memcpy((char *) v.volume + (size_t) i * 4, &x, 4);
		}
		else
			memcpy((char *) v.volume + (size_t) i * 8, &b[i].volume, 8);
	}
	return res;
}

/* bytea_block: lays v over block b (a bytea), or raises data_corrupted */
static void
bytea_block(bytea *b, BlockView *v)
{
	if (!block_view(VARDATA_ANY(b), VARSIZE_ANY_EXHDR(b), v))
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("malformed bar block"),
				 errhint("Run ex7.bar_blocks_rebuild() to rebuild the blocks from ex7.bars.")));
}

/* block_bars: the bars of v, in CurrentMemoryContext */
static BarVals *
block_bars(const BlockView *v)
{
	BarVals    *b = palloc(sizeof(BarVals) * Max(v->n, 1));

	for (int i = 0; i < v->n; i++)
		block_get(v, i, &b[i]);
	return b;
}

/* tf_span: returns the microseconds a block of timeframe tf (len bytes) spans, 0 for no timeframe */
static int64
tf_span(const char *tf, int len)
{
	for (int i = 0; i < (int) lengthof(timeframes); i++)
		if ((int) strlen(timeframes[i].name) == len && memcmp(timeframes[i].name, tf, len) == 0)
			return timeframes[i].seconds * USECS_PER_SEC * BB_SLOTS;
	return 0;
}

static int64
tf_span_text(text *tf)
{
	return tf_span(VARDATA_ANY(tf), VARSIZE_ANY_EXHDR(tf));
}

/* block_of: returns floor((Unix microseconds of ts) / span) without overflow, for any ts */
static int64
block_of(TimestampTz ts, int64 span)
{
	int64		q = ts / span;
	int64		r = ts % span;

	if (r < 0)
	{
		r += span;
		q--;
	}
	/* ts + offset = (q + offset / span) * span + (r + offset % span), 0 <= r + offset % span < 2 span */
	q += UNIX_TO_PG_USECS / span;
	if (r + UNIX_TO_PG_USECS % span >= span)
		q++;
	return q;
}

/* block_base: returns the first instant of ts's block (ts itself where that is out of range) */
static TimestampTz
block_base(TimestampTz ts, int64 span)
{
	/* the offset of ts in its block: (ts + the Unix offset) mod span, as in block_of */
	int64		r = ts % span;
	TimestampTz base;

	if (r < 0)
		r += span;
	r += UNIX_TO_PG_USECS % span;
	if (r >= span)
		r -= span;
	if (pg_sub_s64_overflow(ts, r, &base))
		return ts;
	return base;
}

/*
 * numeric_md: returns true and sets *m, *d to the mantissa and display scale of numeric datum x
 * (x = m / 10^d exactly), false when it has none that fits (NaN, infinity, dscale over
 * BB_MAX_DSCALE, |m| beyond int64). Declared in barblocks.h (the backtest marks open positions
 * with it, ext/backtest.c).
 */
bool
numeric_md(Datum x, int64 *m, uint8 *d)
{
	struct varlena *v = pg_detoast_datum_packed((struct varlena *) DatumGetPointer(x));
	const char *data = VARDATA_ANY(v);
	size_t		len = VARSIZE_ANY_EXHDR(v);
	const char *digits;
	uint16		header;
	int			weight;
	int			dscale;
	int			ndigits;
	int			k;
	bool		neg;
	uint64		acc = 0;
	bool		ok = false;

	if (len < sizeof(uint16))
		goto done;
	memcpy(&header, data, sizeof(uint16));
	if ((header & NUM_SIGN_MASK) == NUM_SPECIAL)
		goto done;
	if ((header & NUM_SIGN_MASK) == NUM_SHORT)
	{
		neg = (header & NUM_SHORT_SIGN_MASK) != 0;
		dscale = (header & NUM_SHORT_DSCALE_MASK) >> NUM_SHORT_DSCALE_SHIFT;
		weight = (header & NUM_SHORT_WEIGHT_SIGN) ?
			(int) (~NUM_SHORT_WEIGHT_MASK | (header & NUM_SHORT_WEIGHT_MASK)) :
			(int) (header & NUM_SHORT_WEIGHT_MASK);
		digits = data + sizeof(uint16);
		ndigits = (int) ((len - sizeof(uint16)) / sizeof(int16));
	}
	else
	{
		int16		w;

		if (len < sizeof(uint16) + sizeof(int16))
			goto done;
		neg = (header & NUM_SIGN_MASK) == NUM_NEG;
		dscale = header & NUM_DSCALE_MASK;
		memcpy(&w, data + sizeof(uint16), sizeof(int16));
		weight = w;
		digits = data + sizeof(uint16) + sizeof(int16);
		ndigits = (int) ((len - sizeof(uint16) - sizeof(int16)) / sizeof(int16));
	}
	if (dscale > BB_MAX_DSCALE)
		goto done;

	/*
	 * value = D * 10^e with D the digits read as one integer and e = 4 (weight - ndigits + 1), so
	 * m = D * 10^k with k = e + dscale. No digit is non-zero past dscale and the last digit is not
	 * zero, so k > -4: a negative k drops that many trailing zeros of the last digit.
	 */
	k = NUM_DEC_DIGITS * (weight - ndigits + 1) + dscale;
	if (ndigits > 0 && k <= -NUM_DEC_DIGITS)
		goto done;
	for (int i = 0; i < ndigits; i++)
	{
		int16		dg;
		uint64		scale = NUM_NBASE;
		uint64		add;

		memcpy(&dg, digits + (size_t) i * sizeof(int16), sizeof(int16));
		if (dg < 0 || dg >= NUM_NBASE)
			goto done;
		add = (uint64) dg;
		if (i == ndigits - 1 && k < 0)
		{
			if (add % pow10_u64[-k] != 0)
				goto done;
			add /= pow10_u64[-k];
			scale = pow10_u64[NUM_DEC_DIGITS + k];
		}
		if (pg_mul_u64_overflow(acc, scale, &acc) || pg_add_u64_overflow(acc, add, &acc))
			goto done;
	}
	if (ndigits > 0 && k > 0)
	{
		if (k >= (int) lengthof(pow10_u64) || pg_mul_u64_overflow(acc, pow10_u64[k], &acc))
			goto done;
	}
	if (acc > (uint64) PG_INT64_MAX)
		goto done;
	*m = neg ? -(int64) acc : (int64) acc;
	*d = (uint8) dscale;
	ok = true;

done:
	if ((Pointer) v != DatumGetPointer(x))
		pfree(v);
	return ok;
}

/* md_double_slow: m / 10^d as numeric_float8 gives it, through the numeric */
static pg_noinline double
md_double_slow(int64 m, uint8 d)
{
	Numeric		n = int64_div_fast_to_numeric(m, d);
	double		r = DatumGetFloat8(DirectFunctionCall1(numeric_float8, NumericGetDatum(n)));

	pfree(n);
	return r;
}

/*
 * md_double: returns the price (m, d) of a block as the double numeric_float8 gives for it. When
 * |m| < 2^53 and d <= 22, m and 10^d are exact doubles, so one IEEE division is the correctly
 * rounded quotient: the double strtod returns for the decimal, which is how numeric_float8 converts
 * (numeric_out, then float8in). A raw price holds its double's bits.
 */
static inline double
md_double(int64 m, uint8 d)
{
	double		r;

	if (likely(d <= 22 && m > -BB_2_53 && m < BB_2_53))
		return (double) m / pow10_dbl[d];
	if (d == BB_RAW)
	{
		memcpy(&r, &m, sizeof(double));
		return r;
	}
	return md_double_slow(m, d);
}

double
numeric_to_double(Numeric n)
{
	int64		m;
	uint8		d;

	if (numeric_md(NumericGetDatum(n), &m, &d))
		return md_double(m, d);
	return DatumGetFloat8(DirectFunctionCall1(numeric_float8, NumericGetDatum(n)));
}

/* md_numeric: the numeric of a non-raw price (m, d), in CurrentMemoryContext */
static Numeric
md_numeric(int64 m, uint8 d)
{
	return int64_div_fast_to_numeric(m, d);
}

/*
 * bar_vals: fills b from the ex7.bars values v (ts, the four prices, volume); a bar with a price
 * that has no (m, d) is raw. Allocates only for raw bars and toasted prices, in CurrentMemoryContext.
 */
static void
bar_vals(BarVals *b, const Datum *v)
{
	bool		raw = false;

	b->ts = DatumGetTimestampTz(v[BARS_ATT_TS - 1]);
	b->volume = DatumGetInt64(v[BARS_ATT_VOLUME - 1]);
	for (int c = 0; c < BB_PRICES && !raw; c++)
		raw = !numeric_md(v[BARS_ATT_OPEN - 1 + c], &b->m[c], &b->d[c]);
	if (raw)
	{
		for (int c = 0; c < BB_PRICES; c++)
		{
			double		x = DatumGetFloat8(DirectFunctionCall1(numeric_float8_no_overflow,
															   v[BARS_ATT_OPEN - 1 + c]));

			memcpy(&b->m[c], &x, sizeof(int64));
			b->d[c] = BB_RAW;
		}
	}
}

/* ---------------------------------------------------------------------------------------------
 * SQL helpers on block values: splice, cut, count, problem, block number
 * ------------------------------------------------------------------------------------------- */

/* block_keep: writes the bars of v outside [from, to] to b (room for v->n); returns how many */
static int
block_keep(const BlockView *v, TimestampTz from, TimestampTz to, BarVals *b)
{
	int			k = 0;

	for (int i = 0; i < v->n; i++)
	{
		TimestampTz ts = bv_ts(v, i);

		if (ts < from || ts > to)
			block_get(v, i, &b[k++]);
	}
	return k;
}

/*
 * merge_bars: returns how many bars *old now holds: the on bars of *old and the nn of new, both ts
 * ascending, merged by ts, a bar of new replacing one of old at the same ts (*old is reallocated).
 */
static int
merge_bars(BarVals **old, int on, const BarVals *nb, int nn)
{
	const BarVals *ob = *old;
	BarVals    *r = palloc(sizeof(BarVals) * Max(on + nn, 1));
	int			i = 0,
				j = 0,
				k = 0;

	while (i < on || j < nn)
	{
		if (j >= nn || (i < on && ob[i].ts < nb[j].ts))
			r[k++] = ob[i++];
		else
		{
			if (i < on && ob[i].ts == nb[j].ts)
				i++;
			r[k++] = nb[j++];
		}
	}
	*old = r;
	return k;
}

/*
 * ex7._bar_blocks_splice(old bytea, new bytea, p_from timestamptz, p_to timestamptz) -> bytea: the
 * bars of old outside [p_from, p_to] and every bar of new, by ts, a bar of new replacing one of old at
 * the same ts: block old after ex7._bar_blocks_sync read the range [p_from, p_to] of its series (new).
 */
PG_FUNCTION_INFO_V1(bar_blocks_splice);
Datum
bar_blocks_splice(PG_FUNCTION_ARGS)
{
	TimestampTz from = PG_GETARG_TIMESTAMPTZ(2);
	TimestampTz to = PG_GETARG_TIMESTAMPTZ(3);
	BlockView	o,
				nw;
	BarVals    *ob,
			   *nb;
	int			on;

	bytea_block(PG_GETARG_BYTEA_PP(0), &o);
	bytea_block(PG_GETARG_BYTEA_PP(1), &nw);
	if (o.base != nw.base)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("bar blocks of different blocks cannot be merged")));
	ob = palloc(sizeof(BarVals) * Max(o.n, 1));
	on = block_keep(&o, from, to, ob);
	nb = block_bars(&nw);
	on = merge_bars(&ob, on, nb, nw.n);
	PG_RETURN_BYTEA_P(block_encode(ob, on, o.base));
}

/*
 * ex7._bar_blocks_cut(old bytea, p_from timestamptz, p_to timestamptz) -> bytea: old without its bars
 * in [p_from, p_to]; may have no bar left.
 */
PG_FUNCTION_INFO_V1(bar_blocks_cut);
Datum
bar_blocks_cut(PG_FUNCTION_ARGS)
{
	BlockView	o;
	BarVals    *ob;
	int			on;

	bytea_block(PG_GETARG_BYTEA_PP(0), &o);
	ob = palloc(sizeof(BarVals) * Max(o.n, 1));
	on = block_keep(&o, PG_GETARG_TIMESTAMPTZ(1), PG_GETARG_TIMESTAMPTZ(2), ob);
	PG_RETURN_BYTEA_P(block_encode(ob, on, o.base));
}

/* ex7._bar_blocks_count(data bytea) -> integer: the bars in the block */
PG_FUNCTION_INFO_V1(bar_blocks_count);
Datum
bar_blocks_count(PG_FUNCTION_ARGS)
{
	BlockView	v;

	bytea_block(PG_GETARG_BYTEA_PP(0), &v);
	PG_RETURN_INT32(v.n);
}

/* ex7._bar_blocks_count_between(data bytea, p_from, p_to timestamptz) -> integer: its bars in [p_from, p_to] */
PG_FUNCTION_INFO_V1(bar_blocks_count_between);
Datum
bar_blocks_count_between(PG_FUNCTION_ARGS)
{
	TimestampTz from = PG_GETARG_TIMESTAMPTZ(1);
	TimestampTz to = PG_GETARG_TIMESTAMPTZ(2);
	BlockView	v;
	int			n = 0;

	bytea_block(PG_GETARG_BYTEA_PP(0), &v);
	for (int i = 0; i < v.n; i++)
	{
		TimestampTz ts = bv_ts(&v, i);

		n += ts >= from && ts <= to;
	}
	PG_RETURN_INT32(n);
}

/* ex7._bar_blocks_raw(data bytea) -> integer: the raw bars in the block */
PG_FUNCTION_INFO_V1(bar_blocks_raw);
Datum
bar_blocks_raw(PG_FUNCTION_ARGS)
{
	BlockView	v;
	int			n = 0;

	bytea_block(PG_GETARG_BYTEA_PP(0), &v);
	for (int i = 0; i < v.n; i++)
		n += bv_d(&v, 0, i) == BB_RAW;
	PG_RETURN_INT32(n);
}

/* ex7._bar_block_of(timeframe text, ts timestamptz) -> bigint: ts's block, NULL for no timeframe */
PG_FUNCTION_INFO_V1(bar_block_of);
Datum
bar_block_of(PG_FUNCTION_ARGS)
{
	int64		span = tf_span_text(PG_GETARG_TEXT_PP(0));

	if (span == 0)
		PG_RETURN_NULL();
	PG_RETURN_INT64(block_of(PG_GETARG_TIMESTAMPTZ(1), span));
}

/*
 * ex7._bar_blocks_problem(data bytea, timeframe text, block bigint) -> text: what is wrong with a
 * block row, NULL when nothing is: the format, no bar, bars out of order or outside the block, a
 * display scale beyond BB_MAX_DSCALE, a bar raw in some prices only.
 */
PG_FUNCTION_INFO_V1(bar_blocks_problem);
Datum
bar_blocks_problem(PG_FUNCTION_ARGS)
{
	bytea	   *data = PG_GETARG_BYTEA_PP(0);
	int64		span = tf_span_text(PG_GETARG_TEXT_PP(1));
	int64		block = PG_GETARG_INT64(2);
	BlockView	v;

	if (!block_view(VARDATA_ANY(data), VARSIZE_ANY_EXHDR(data), &v))
		PG_RETURN_TEXT_P(cstring_to_text("not a version 1 block (header or length)"));
	if (span == 0)
		PG_RETURN_TEXT_P(cstring_to_text("unknown timeframe"));
	if (v.n == 0)
		PG_RETURN_TEXT_P(cstring_to_text("no bar"));
	if (v.base != block_base(bv_ts(&v, 0), span))
		PG_RETURN_TEXT_P(cstring_to_text("base is not the start of the block"));
	for (int i = 0; i < v.n; i++)
	{
		int			raw = 0;

		if (i > 0 && bv_ts(&v, i) <= bv_ts(&v, i - 1))
			PG_RETURN_TEXT_P(cstring_to_text(psprintf("bar %d is not after bar %d", i, i - 1)));
		if (block_of(bv_ts(&v, i), span) != block)
			PG_RETURN_TEXT_P(cstring_to_text(psprintf("bar %d (%s) belongs to block " INT64_FORMAT, i,
													  timestamptz_to_str(bv_ts(&v, i)),
													  block_of(bv_ts(&v, i), span))));
		for (int c = 0; c < BB_PRICES; c++)
			raw += bv_d(&v, c, i) == BB_RAW;
		if (raw != 0 && raw != BB_PRICES)
			PG_RETURN_TEXT_P(cstring_to_text(psprintf("bar %d is raw in some prices only", i)));
	}
	PG_RETURN_NULL();
}

/* ---------------------------------------------------------------------------------------------
 * Writing blocks: ex7._bar_blocks_sync, which every writer of ex7.bars calls, and the rebuild
 * ------------------------------------------------------------------------------------------- */

/* bars a sync holds before it writes their blocks (72 bytes each): a long range goes in chunks */
#define BB_CHUNK			65536
/* rows a sync fetches from ex7.bars at a time */
#define BB_FETCH			8192

/* one sync: a range of one series */
typedef struct Sync
{
	text	   *instrument;
	text	   *timeframe;
	int64		span;
	TimestampTz from;
	TimestampTz to;
	MemoryContext cxt;			/* the call's: the buffers */
	MemoryContext flushcxt;		/* reset after each write */
	MemoryContext rowcxt;		/* reset after each bar */
	BarVals    *bars;			/* read, not written yet, ts ascending */
	int64	   *block;			/* the block of each */
	int			n;
	int			max;
	int64	   *written;		/* the blocks written, ascending */
	int			nwritten;
	int			maxwritten;
	int64		total;			/* bars read */
} Sync;

static SPIPlanPtr plan_read = NULL;
static SPIPlanPtr plan_upsert = NULL;
static SPIPlanPtr plan_drop = NULL;
static SPIPlanPtr plan_cut = NULL;

/* bb_plan: the kept plan of sql, prepared on first use (the plan cache revalidates it) */
static SPIPlanPtr
bb_plan(SPIPlanPtr *cache, const char *sql, int nargs, Oid *types)
{
	if (*cache == NULL)
	{
		SPIPlanPtr	p = SPI_prepare(sql, nargs, types);

		if (p == NULL)
			elog(ERROR, "SPI_prepare failed for bar blocks: %s", SPI_result_code_string(SPI_result));
		if (SPI_keepplan(p) != 0)
			elog(ERROR, "SPI_keepplan failed for bar blocks");
		*cache = p;
	}
	return *cache;
}

/* check_bars_desc: raises when the rows read from ex7.bars are not laid out as this file reads them */
static void
check_bars_desc(TupleDesc desc)
{
	static const char *const names[] = {"instrument", "timeframe", "ts", "open", "high", "low", "close",
	"volume"};

	if (desc->natts < (int) lengthof(names))
		elog(ERROR, "ex7.bars does not have the columns bar blocks read");
	for (int i = 0; i < (int) lengthof(names); i++)
		if (strcmp(NameStr(TupleDescAttr(desc, i)->attname), names[i]) != 0)
			elog(ERROR, "column %d of ex7.bars is not %s", i + 1, names[i]);
}

/*
 * sync_flush: writes the bars s holds to their blocks, one statement per block, in block order,
 * and empties s. A block that has a row gets ex7._bar_blocks_splice of it (ON CONFLICT DO UPDATE:
 * against the newest version of the row, after waiting for its writer): its bars outside the range
 * stay, those inside are the ones read.
 */
static void
sync_flush(Sync *s)
{
	static Oid	types[6] = {TEXTOID, TEXTOID, INT8OID, BYTEAOID, TIMESTAMPTZOID, TIMESTAMPTZOID};
	MemoryContext old;
	Datum	   *blk,
			   *data;
	int			ng = 0;
	Datum		args[6];
	int			rc;

	if (s->n == 0)
		return;
	old = MemoryContextSwitchTo(s->flushcxt);
	blk = palloc(sizeof(Datum) * s->n);
	data = palloc(sizeof(Datum) * s->n);
	for (int a = 0; a < s->n;)
	{
		int			e = a + 1;

		while (e < s->n && s->block[e] == s->block[a])
			e++;
		blk[ng] = Int64GetDatum(s->block[a]);
		data[ng] = PointerGetDatum(block_encode(&s->bars[a], e - a, block_base(s->bars[a].ts, s->span)));
		if (s->nwritten == s->maxwritten)
		{
			s->maxwritten = Max(64, s->maxwritten * 2);
			s->written = s->written ? repalloc(s->written, sizeof(int64) * s->maxwritten)
				: MemoryContextAlloc(s->cxt, sizeof(int64) * s->maxwritten);
		}
		s->written[s->nwritten++] = s->block[a];
		ng++;
		a = e;
	}
	args[0] = PointerGetDatum(s->instrument);
	args[1] = PointerGetDatum(s->timeframe);
	args[4] = TimestampTzGetDatum(s->from);
	args[5] = TimestampTzGetDatum(s->to);
	/*
	 * One statement per block, not one INSERT ... SELECT over arrays of them: on Citus bar_blocks is a
	 * reference table, and Citus runs an INSERT ... SELECT into one through an intermediate result whose
	 * statement keeps the ON CONFLICT clause's parameters but not their values ("could not determine data
	 * type of parameter"). A block holds many bars, so a flush is a few statements.
	 */
	for (int g = 0; g < ng; g++)
	{
		args[2] = blk[g];
		args[3] = data[g];
		rc = SPI_execute_plan(bb_plan(&plan_upsert,
									  "INSERT INTO ex7.bar_blocks AS b (instrument, timeframe, block, data) "
									  "VALUES ($1, $2, $3, $4) "
									  "ON CONFLICT (instrument, timeframe, block) "
									  "DO UPDATE SET data = ex7._bar_blocks_splice(b.data, EXCLUDED.data, $5, $6)",
									  6, types),
							  args, NULL, false, 0);
		if (rc != SPI_OK_INSERT)
			elog(ERROR, "bar blocks: upsert failed: %s", SPI_result_code_string(rc));
	}
	MemoryContextSwitchTo(old);
	MemoryContextReset(s->flushcxt);
	s->n = 0;
}

/* sync_add: adds row t (the columns of ex7.bars in their order) to s, writing s first at a block's end when full */
static void
sync_add(Sync *s, HeapTuple t, TupleDesc desc)
{
	Datum		v[8];
	bool		isnull[8];
	int64		block;
	TimestampTz ts;
	MemoryContext old = MemoryContextSwitchTo(s->rowcxt);

	heap_deform_tuple(t, desc, v, isnull);
	for (int i = 0; i < (int) lengthof(v); i++)
		if (isnull[i])
			elog(ERROR, "bar blocks: a bar with a null column %d", i + 1);
	ts = DatumGetTimestampTz(v[BARS_ATT_TS - 1]);
	block = block_of(ts, s->span);
	/* a block is written whole by one statement: a chunk ends only where a block does */
	if (s->n >= BB_CHUNK && block != s->block[s->n - 1])
	{
		MemoryContextSwitchTo(old);
		sync_flush(s);
		MemoryContextSwitchTo(s->rowcxt);
	}
	if (s->n == s->max)
	{
		s->max = s->max == 0 ? 64 : s->max * 2;
		s->bars = s->bars ? repalloc(s->bars, sizeof(BarVals) * s->max)
			: MemoryContextAlloc(s->cxt, sizeof(BarVals) * s->max);
		s->block = s->block ? repalloc(s->block, sizeof(int64) * s->max)
			: MemoryContextAlloc(s->cxt, sizeof(int64) * s->max);
	}
	bar_vals(&s->bars[s->n], v);
	s->block[s->n++] = block;
	s->total++;
	MemoryContextSwitchTo(old);
	MemoryContextReset(s->rowcxt);
}

/*
 * sync_gaps: the blocks of the range that got no bar (bars of the range deleted or moved out): their
 * bars in the range are cut out, and a block left without a bar is deleted. Nothing to do when every
 * block of the range was written (a single-bar ingest).
 */
static void
sync_gaps(Sync *s)
{
	static Oid	types[6] = {TEXTOID, TEXTOID, INT8ARRAYOID, INT8ARRAYOID, TIMESTAMPTZOID, TIMESTAMPTZOID};
	int64		lo = block_of(s->from, s->span);
	int64		hi = block_of(s->to, s->span);
	int64		prev = lo - 1;
	Datum	   *glo,
			   *ghi;
	int			ng = 0;
	Datum		args[6];
	int			rc;
	MemoryContext old;

	if ((uint64) (hi - lo) < (uint64) s->nwritten)
		return;					/* hi - lo + 1 blocks, every one written */
	old = MemoryContextSwitchTo(s->flushcxt);
	glo = palloc(sizeof(Datum) * (s->nwritten + 1));
	ghi = palloc(sizeof(Datum) * (s->nwritten + 1));
	for (int i = 0; i <= s->nwritten; i++)
	{
		int64		next = i < s->nwritten ? s->written[i] : hi + 1;

		if (next > prev + 1)
		{
			glo[ng] = Int64GetDatum(prev + 1);
			ghi[ng] = Int64GetDatum(next - 1);
			ng++;
		}
		prev = next;
	}
	args[0] = PointerGetDatum(s->instrument);
	args[1] = PointerGetDatum(s->timeframe);
	args[2] = PointerGetDatum(construct_array(glo, ng, INT8OID, sizeof(int64), FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
	args[3] = PointerGetDatum(construct_array(ghi, ng, INT8OID, sizeof(int64), FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
	args[4] = TimestampTzGetDatum(s->from);
	args[5] = TimestampTzGetDatum(s->to);
	/* blocks with every bar in the range go; then the others lose theirs (both re-checked on the newest row) */
	rc = SPI_execute_plan(bb_plan(&plan_drop,
								  "DELETE FROM ex7.bar_blocks AS b "
								  "USING ROWS FROM (pg_catalog.unnest($3), pg_catalog.unnest($4)) AS g (lo, hi) "
								  "WHERE b.instrument OPERATOR(pg_catalog.=) $1 "
								  "AND b.timeframe OPERATOR(pg_catalog.=) $2 "
								  "AND b.block OPERATOR(pg_catalog.>=) g.lo AND b.block OPERATOR(pg_catalog.<=) g.hi "
								  "AND ex7._bar_blocks_count_between(b.data, $5, $6) "
								  "OPERATOR(pg_catalog.=) ex7._bar_blocks_count(b.data)",
								  6, types),
						  args, NULL, false, 0);
	if (rc != SPI_OK_DELETE)
		elog(ERROR, "bar blocks: removal of emptied blocks failed: %s", SPI_result_code_string(rc));
	rc = SPI_execute_plan(bb_plan(&plan_cut,
								  "UPDATE ex7.bar_blocks AS b SET data = ex7._bar_blocks_cut(b.data, $5, $6) "
								  "FROM ROWS FROM (pg_catalog.unnest($3), pg_catalog.unnest($4)) AS g (lo, hi) "
								  "WHERE b.instrument OPERATOR(pg_catalog.=) $1 "
								  "AND b.timeframe OPERATOR(pg_catalog.=) $2 "
								  "AND b.block OPERATOR(pg_catalog.>=) g.lo AND b.block OPERATOR(pg_catalog.<=) g.hi "
								  "AND ex7._bar_blocks_count_between(b.data, $5, $6) OPERATOR(pg_catalog.>) 0",
								  6, types),
						  args, NULL, false, 0);
	if (rc != SPI_OK_UPDATE)
		elog(ERROR, "bar blocks: removal of bars failed: %s", SPI_result_code_string(rc));
	MemoryContextSwitchTo(old);
	MemoryContextReset(s->flushcxt);
}

/*
 * bars_writer_check: raises 42501 unless the current user may write ex7.bars (INSERT, UPDATE or
 * DELETE on it); returns the owner of ex7.bar_blocks, whom the blocks are written as.
 */
static Oid
bars_writer_check(void)
{
	Oid			ns = get_namespace_oid("ex7", false);
	Oid			bars = get_relname_relid("bars", ns);
	Oid			blocks = get_relname_relid("bar_blocks", ns);
	HeapTuple	tup;
	Oid			owner;

	if (!OidIsValid(bars) || !OidIsValid(blocks))
		elog(ERROR, "ex7.bars or ex7.bar_blocks is missing");
	if (pg_class_aclmask(bars, GetUserId(), ACL_INSERT | ACL_UPDATE | ACL_DELETE, ACLMASK_ANY) == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("permission denied to bring the bar blocks up to date"),
				 errdetail("Only a role that may write ex7.bars (INSERT, UPDATE or DELETE on it) may.")));
	tup = SearchSysCache1(RELOID, ObjectIdGetDatum(blocks));
	if (!HeapTupleIsValid(tup))
		elog(ERROR, "cache lookup failed for relation %u", blocks);
	owner = ((Form_pg_class) GETSTRUCT(tup))->relowner;
	ReleaseSysCache(tup);
	return owner;
}

/*
 * sync_run: makes the blocks of series (instrument, timeframe) hold, for [from, to], exactly the bars
 * ex7.bars has there now (read through SQL, oldest first), and keeps their bars outside the range;
 * returns how many bars it read. The caller must be allowed to write ex7.bars; the blocks are read and
 * written as the owner of ex7.bar_blocks (as PostgreSQL's referential-integrity checks act as the
 * owner of the table they check), so a feed that may write bars needs no privilege on the blocks.
 */
static int64
sync_run(text *instrument, text *timeframe, TimestampTz from, TimestampTz to)
{
	static Oid	types[4] = {TEXTOID, TEXTOID, TIMESTAMPTZOID, TIMESTAMPTZOID};
	Sync		s;
	Oid			owner;
	Oid			save_user;
	int			save_sec;
	Datum		args[4];
	SPIPlanPtr	plan;
	int			rc;

	owner = bars_writer_check();
	memset(&s, 0, sizeof(Sync));
	s.span = tf_span_text(timeframe);
	if (s.span == 0 || from > to)
		return 0;				/* no bar can be there: ex7.timeframe has no other value */
	s.instrument = instrument;
	s.timeframe = timeframe;
	s.from = from;
	s.to = to;
	s.cxt = AllocSetContextCreate(CurrentMemoryContext, "bar blocks sync", ALLOCSET_DEFAULT_SIZES);
	s.flushcxt = AllocSetContextCreate(s.cxt, "bar blocks write", ALLOCSET_DEFAULT_SIZES);
	s.rowcxt = AllocSetContextCreate(s.cxt, "bar blocks row", ALLOCSET_SMALL_SIZES);

	GetUserIdAndSecContext(&save_user, &save_sec);
	SetUserIdAndSecContext(owner, save_sec | SECURITY_LOCAL_USERID_CHANGE);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed for bar blocks");
	plan = bb_plan(&plan_read,
				   "SELECT b.instrument, b.timeframe, b.ts, b.open, b.high, b.low, b.close, b.volume "
				   "FROM ex7.bars AS b "
				   "WHERE b.instrument OPERATOR(pg_catalog.=) $1 AND b.timeframe OPERATOR(pg_catalog.=) $2 "
				   "AND b.ts OPERATOR(pg_catalog.>=) $3 AND b.ts OPERATOR(pg_catalog.<=) $4 "
				   "ORDER BY b.ts",
				   4, types);
	args[0] = PointerGetDatum(instrument);
	args[1] = PointerGetDatum(timeframe);
	args[2] = TimestampTzGetDatum(from);
	args[3] = TimestampTzGetDatum(to);
	if (from == to)
	{
		/* one instant (every single-bar ingest): at most one bar, no cursor */
		rc = SPI_execute_plan(plan, args, NULL, false, 0);
		if (rc != SPI_OK_SELECT)
			elog(ERROR, "bar blocks: reading ex7.bars failed: %s", SPI_result_code_string(rc));
		check_bars_desc(SPI_tuptable->tupdesc);
		for (uint64 i = 0; i < SPI_processed; i++)
			sync_add(&s, SPI_tuptable->vals[i], SPI_tuptable->tupdesc);
		SPI_freetuptable(SPI_tuptable);
	}
	else
	{
		Portal		portal = SPI_cursor_open(NULL, plan, args, NULL, false);

		for (;;)
		{
			SPITupleTable *tt;
			uint64		got;

			SPI_cursor_fetch(portal, true, BB_FETCH);
			tt = SPI_tuptable;
			got = SPI_processed;
			if (got > 0)
				check_bars_desc(tt->tupdesc);
			for (uint64 i = 0; i < got; i++)
				sync_add(&s, tt->vals[i], tt->tupdesc);
			SPI_freetuptable(tt);
			if (got < BB_FETCH)
				break;
			CHECK_FOR_INTERRUPTS();
		}
		SPI_cursor_close(portal);
	}
	sync_flush(&s);
	sync_gaps(&s);
	SPI_finish();
	SetUserIdAndSecContext(save_user, save_sec);
	MemoryContextDelete(s.cxt);
	return s.total;
}

/*
 * ex7._bar_blocks_sync(instrument text, timeframe text, p_from timestamptz, p_to timestamptz) ->
 * bigint: brings the series' blocks to ex7.bars for p_from <= ts <= p_to (sync_run); returns the bars
 * read. The ingest functions call it for each bar they store; whoever writes ex7.bars otherwise calls
 * it (or ex7.bar_blocks_rebuild) for the range written, in the same transaction.
 */
PG_FUNCTION_INFO_V1(bar_blocks_sync);
Datum
bar_blocks_sync(PG_FUNCTION_ARGS)
{
	PG_RETURN_INT64(sync_run(PG_GETARG_TEXT_PP(0), PG_GETARG_TEXT_PP(1), PG_GETARG_TIMESTAMPTZ(2),
							 PG_GETARG_TIMESTAMPTZ(3)));
}

/* rows_check: returns ex7.<name> after checking SELECT on it */
static Oid
rows_check(const char *name)
{
	Oid			relid = get_relname_relid(name, get_namespace_oid("ex7", false));
	AclResult	acl;

	if (!OidIsValid(relid))
		elog(ERROR, "ex7.%s is missing", name);
	acl = pg_class_aclcheck(relid, GetUserId(), ACL_SELECT);
	if (acl != ACLCHECK_OK)
		aclcheck_error(acl, OBJECT_TABLE, name);
	return relid;
}

/*
 * rows_rel: returns the relation that holds the rows of table ex7.<name> (relid) on this node. On
 * plain PostgreSQL that is the table. On Citus, where ex7.bars and ex7.bar_blocks are reference tables
 * (docs/scale-out.md), the table is an empty shell on every node and its rows are in its one shard,
 * ex7.<name>_<shardid> (pg_dist_shard names it), of which every node has a copy: the readers here
 * scan relations directly, not through the planner Citus hooks, so they read the shard.
 */
static Oid
rows_rel(Oid relid, const char *name)
{
	Oid			ns = get_namespace_oid("ex7", false);
	Oid			result = relid;
	Oid			argtypes[1] = {OIDOID};
	Datum		args[1];
	int			rc;

	if (!OidIsValid(get_relname_relid("pg_dist_shard", PG_CATALOG_NAMESPACE)))
		return relid;			/* no Citus here */
	args[0] = ObjectIdGetDatum(relid);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed for bar blocks");
	rc = SPI_execute_with_args("SELECT s.shardid FROM pg_catalog.pg_dist_shard s "
							   "WHERE s.logicalrelid OPERATOR(pg_catalog.=) $1::pg_catalog.regclass",
							   1, argtypes, args, NULL, true, 2);
	if (rc == SPI_OK_SELECT && SPI_processed == 1)
	{
		bool		isnull;
		Datum		d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
		char		shard[NAMEDATALEN];

		if (!isnull)
		{
			Oid			shardrel;

			snprintf(shard, sizeof(shard), "%s_" INT64_FORMAT, name, DatumGetInt64(d));
			shardrel = get_relname_relid(shard, ns);
			if (OidIsValid(shardrel))
				result = shardrel;
		}
	}
	SPI_finish();
	return result;
}

/*
 * rows_open: opens the relation holding the rows of ex7.<name> here (rows_rel) and its primary key
 * (AccessShareLock), after checking SELECT on ex7.<name>
 */
static void
rows_open(const char *name, Relation *heap, Relation *idx)
{
	Oid			relid = rows_check(name);
	Oid			idxid;

	*heap = table_open(rows_rel(relid, name), AccessShareLock);
	idxid = RelationGetPrimaryKeyIndex(*heap);
	if (!OidIsValid(idxid))
		elog(ERROR, "ex7.%s has no primary key", name);
	*idx = index_open(idxid, AccessShareLock);
}

/* bars_rel: opens the rows of ex7.bars and its primary key (AccessShareLock) after checking SELECT on it */
static void
bars_rel(Relation *heap, Relation *idx)
{
	rows_open("bars", heap, idx);
}

static void
series_keys(ScanKeyData *keys, Relation idx, text *instrument, text *timeframe)
{
	ScanKeyInit(&keys[0], 1, BTEqualStrategyNumber, F_TEXTEQ, PointerGetDatum(instrument));
	keys[0].sk_collation = idx->rd_indcollation[0];
	ScanKeyInit(&keys[1], 2, BTEqualStrategyNumber, F_TEXTEQ, PointerGetDatum(timeframe));
	keys[1].sk_collation = idx->rd_indcollation[1];
}

/*
 * ex7._bar_blocks_build(instrument text, timeframe text) -> bigint: writes every bar of the series
 * into ex7.bar_blocks (sync_run over all time); returns how many. For ex7.bar_blocks_rebuild, which
 * deletes the series' blocks first and keeps writers out.
 */
PG_FUNCTION_INFO_V1(bar_blocks_build);
Datum
bar_blocks_build(PG_FUNCTION_ARGS)
{
	PG_RETURN_INT64(sync_run(PG_GETARG_TEXT_PP(0), PG_GETARG_TEXT_PP(1), DT_NOBEGIN, DT_NOEND));
}

/* ---------------------------------------------------------------------------------------------
 * The C functions of ex7 0.2.0's triggers on ex7.bars. 0.3.0 has no trigger there (its upgrade drops
 * them with these functions' SQL declarations), but the released 0.2.0 install script, the start of
 * every upgrade to 0.3.0, declares them, and a database still at 0.2.0 runs them with this library
 * until ALTER EXTENSION ex7 UPDATE: so they stay, and keep its blocks.
 * ------------------------------------------------------------------------------------------- */

/*
 * ex7._bar_blocks_merge(old bytea, new bytea) -> bytea (0.2.0): the bars of both blocks by ts, a bar
 * of new replacing one of old at the same ts.
 */
PG_FUNCTION_INFO_V1(bar_blocks_merge);
Datum
bar_blocks_merge(PG_FUNCTION_ARGS)
{
	BlockView	o,
				nw;
	BarVals    *ob,
			   *nb;
	int			n;

	bytea_block(PG_GETARG_BYTEA_PP(0), &o);
	bytea_block(PG_GETARG_BYTEA_PP(1), &nw);
	if (o.base != nw.base)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("bar blocks of different blocks cannot be merged")));
	ob = block_bars(&o);
	nb = block_bars(&nw);
	n = merge_bars(&ob, o.n, nb, nw.n);
	PG_RETURN_BYTEA_P(block_encode(ob, n, o.base));
}

/*
 * ex7._bar_blocks_remove(old bytea, ts bytea) -> bytea (0.2.0): old without the bars at the timestamps ts
 * lists (int64 TimestampTz values in the server's byte order, ascending); may have no bar left.
 */
PG_FUNCTION_INFO_V1(bar_blocks_remove);
Datum
bar_blocks_remove(PG_FUNCTION_ARGS)
{
	bytea	   *tb = PG_GETARG_BYTEA_PP(1);
	const char *tsl = VARDATA_ANY(tb);
	int			nts = (int) (VARSIZE_ANY_EXHDR(tb) / sizeof(int64));
	BlockView	o;
	BarVals    *ob;
	int			j = 0,
				k = 0;

	if (VARSIZE_ANY_EXHDR(tb) % sizeof(int64) != 0)
		elog(ERROR, "ex7._bar_blocks_remove: the timestamp list is not a whole number of int64");
	bytea_block(PG_GETARG_BYTEA_PP(0), &o);
	ob = block_bars(&o);
	for (int i = 0; i < o.n; i++)
	{
		while (j < nts && rd64(tsl, j) < ob[i].ts)
			j++;
		if (!(j < nts && rd64(tsl, j) == ob[i].ts))
			ob[k++] = ob[i];
	}
	PG_RETURN_BYTEA_P(block_encode(ob, k, o.base));
}

/* the 0.2.0 trigger's bookkeeping: a series (instrument, timeframe) a statement touched */
typedef struct Series
{
	text	   *instrument;
	text	   *timeframe;
	int64		span;
	int			rank;			/* place in (instrument, timeframe) byte order: the lock order */
} Series;

/* a bar to insert or a key to remove */
typedef struct BarRec
{
	int			series;
	int64		block;
	BarVals		v;
} BarRec;

typedef struct RecBuf
{
	BarRec	   *recs;
	int			n;
	int			max;
	bool		removal;		/* keys to remove, not bars to insert */
} RecBuf;

typedef struct Acc
{
	MemoryContext cxt;			/* the call's: series, record buffers */
	MemoryContext flushcxt;		/* reset after each write */
	MemoryContext rowcxt;		/* reset after each row */
	Series	   *series;
	int			nseries;
	int			maxseries;
	int			last;
	bool		ranked;
	RecBuf		rem;
	RecBuf		ins;
} Acc;

static SPIPlanPtr legacy_plan_upsert = NULL;
static SPIPlanPtr legacy_plan_upsert1 = NULL;
static SPIPlanPtr legacy_plan_remove = NULL;
static SPIPlanPtr legacy_plan_drop_empty = NULL;

static void
acc_init(Acc *a)
{
	memset(a, 0, sizeof(Acc));
	a->cxt = AllocSetContextCreate(CurrentMemoryContext, "bar blocks", ALLOCSET_DEFAULT_SIZES);
	a->flushcxt = AllocSetContextCreate(a->cxt, "bar blocks write", ALLOCSET_DEFAULT_SIZES);
	a->rowcxt = AllocSetContextCreate(a->cxt, "bar blocks row", ALLOCSET_SMALL_SIZES);
	a->last = -1;
	a->rem.removal = true;
}

static void
acc_free(Acc *a)
{
	MemoryContextDelete(a->cxt);
}

/* acc_series: the index of series (instrument, timeframe) in a, added when new */
static int
acc_series(Acc *a, Datum instrument, Datum timeframe)
{
	text	   *i = (text *) DatumGetPointer(instrument);
	text	   *t = (text *) DatumGetPointer(timeframe);
	int			il = VARSIZE_ANY_EXHDR(i);
	int			tl = VARSIZE_ANY_EXHDR(t);
	int			k;
	Series	   *s;
	MemoryContext old;

	for (int x = -1; x < a->nseries; x++)
	{
		/* the last one first: a statement's rows mostly come series by series */
		k = x < 0 ? a->last : x;
		if (k < 0)
			continue;
		s = &a->series[k];
		if ((int) VARSIZE_ANY_EXHDR(s->instrument) == il && (int) VARSIZE_ANY_EXHDR(s->timeframe) == tl &&
			memcmp(VARDATA_ANY(s->instrument), VARDATA_ANY(i), il) == 0 &&
			memcmp(VARDATA_ANY(s->timeframe), VARDATA_ANY(t), tl) == 0)
		{
			a->last = k;
			return k;
		}
	}
	old = MemoryContextSwitchTo(a->cxt);
	if (a->nseries == a->maxseries)
	{
		a->maxseries = Max(8, a->maxseries * 2);
		a->series = a->series ? repalloc(a->series, sizeof(Series) * a->maxseries)
			: palloc(sizeof(Series) * a->maxseries);
	}
	s = &a->series[a->nseries];
	s->instrument = cstring_to_text_with_len(VARDATA_ANY(i), il);
	s->timeframe = cstring_to_text_with_len(VARDATA_ANY(t), tl);
	s->span = tf_span(VARDATA_ANY(t), tl);
	if (s->span == 0)
		elog(ERROR, "bar blocks: unknown timeframe \"%s\"", text_to_cstring(s->timeframe));
	MemoryContextSwitchTo(old);
	a->ranked = false;
	a->last = a->nseries;
	return a->nseries++;
}

static int
series_name_cmp(const void *x, const void *y, void *arg)
{
	const Series *s = (const Series *) arg;
	const Series *a = &s[*(const int *) x];
	const Series *b = &s[*(const int *) y];
	int			c = strcmp(text_to_cstring(a->instrument), text_to_cstring(b->instrument));

	return c != 0 ? c : strcmp(text_to_cstring(a->timeframe), text_to_cstring(b->timeframe));
}

/* acc_rank: sets each series' rank to its place in (instrument, timeframe) byte order */
static void
acc_rank(Acc *a)
{
	int		   *idx;

	if (a->ranked)
		return;
	idx = palloc(sizeof(int) * Max(a->nseries, 1));
	for (int i = 0; i < a->nseries; i++)
		idx[i] = i;
	qsort_arg(idx, a->nseries, sizeof(int), series_name_cmp, a->series);
	for (int i = 0; i < a->nseries; i++)
		a->series[idx[i]].rank = i;
	pfree(idx);
	a->ranked = true;
}

static inline int
rec_cmp_keys(const BarRec *x, const BarRec *y, const Series *s)
{
	int			rx = s[x->series].rank,
				ry = s[y->series].rank;

	if (rx != ry)
		return rx < ry ? -1 : 1;
	if (x->block != y->block)
		return x->block < y->block ? -1 : 1;
	if (x->v.ts != y->v.ts)
		return x->v.ts < y->v.ts ? -1 : 1;
	return 0;
}

static int
rec_cmp(const void *x, const void *y, void *arg)
{
	return rec_cmp_keys((const BarRec *) x, (const BarRec *) y, (const Series *) arg);
}

/* acc_sort: sorts buf by (series rank, block, ts): the order blocks are locked in */
static void
acc_sort(Acc *a, RecBuf *buf)
{
	bool		sorted = true;

	acc_rank(a);
	for (int i = 1; i < buf->n && sorted; i++)
		sorted = rec_cmp_keys(&buf->recs[i - 1], &buf->recs[i], a->series) <= 0;
	if (!sorted)
		qsort_arg(buf->recs, buf->n, sizeof(BarRec), rec_cmp, a->series);
}

/* acc_add: adds the ex7.bars row v (all columns deformed) to buf */
static void
acc_add(Acc *a, RecBuf *buf, const Datum *v)
{
	BarRec	   *r;
	MemoryContext old;

	if (buf->n == buf->max)
	{
		old = MemoryContextSwitchTo(a->cxt);
		buf->max = buf->max == 0 ? 64 : buf->max * 2;
		buf->recs = buf->recs ? repalloc(buf->recs, sizeof(BarRec) * buf->max)
			: palloc(sizeof(BarRec) * buf->max);
		MemoryContextSwitchTo(old);
	}
	r = &buf->recs[buf->n++];
	r->series = acc_series(a, v[BARS_ATT_INSTRUMENT - 1], v[BARS_ATT_TIMEFRAME - 1]);
	if (buf->removal)
	{
		memset(&r->v, 0, sizeof(BarVals));
		r->v.ts = DatumGetTimestampTz(v[BARS_ATT_TS - 1]);
	}
	else
	{
		old = MemoryContextSwitchTo(a->rowcxt);
		bar_vals(&r->v, v);
		MemoryContextSwitchTo(old);
		MemoryContextReset(a->rowcxt);
	}
	r->block = block_of(r->v.ts, a->series[r->series].span);
}

/*
 * acc_flush: writes buf to ex7.bar_blocks and empties it: one statement for all its blocks, in
 * (instrument, timeframe, block) order. Bars to insert are merged into their blocks (ON CONFLICT DO
 * UPDATE: against the newest version of the row, after waiting for its writer); keys to remove are
 * taken out (UPDATE: re-evaluated on the newest version, EvalPlanQual), then the blocks left empty
 * are deleted.
 */
static void
acc_flush(Acc *a, RecBuf *buf)
{
	static Oid	types[4] = {TEXTARRAYOID, TEXTARRAYOID, INT8ARRAYOID, BYTEAARRAYOID};
	MemoryContext old;
	Datum	   *inst,
			   *tf,
			   *blk,
			   *data;
	int			ng = 0;
	Datum		args[4];
	int			rc;

	if (buf->n == 0)
		return;
	old = MemoryContextSwitchTo(a->flushcxt);
	acc_sort(a, buf);
	inst = palloc(sizeof(Datum) * buf->n);
	tf = palloc(sizeof(Datum) * buf->n);
	blk = palloc(sizeof(Datum) * buf->n);
	data = palloc(sizeof(Datum) * buf->n);
	for (int s = 0; s < buf->n;)
	{
		int			e = s + 1;
		int			n = 1;
		BarRec	   *r = &buf->recs[s];

		/* one group per block; a timestamp twice (only in a removal list) counts once */
		while (e < buf->n && buf->recs[e].series == r->series && buf->recs[e].block == r->block)
		{
			if (buf->recs[e].v.ts != buf->recs[e - 1].v.ts)
				n++;
			e++;
		}
		inst[ng] = PointerGetDatum(a->series[r->series].instrument);
		tf[ng] = PointerGetDatum(a->series[r->series].timeframe);
		blk[ng] = Int64GetDatum(r->block);
		if (buf->removal)
		{
			bytea	   *t = palloc(VARHDRSZ + sizeof(int64) * n);
			int			k = 0;

			SET_VARSIZE(t, VARHDRSZ + sizeof(int64) * n);
			for (int i = s; i < e; i++)
				if (i == s || buf->recs[i].v.ts != buf->recs[i - 1].v.ts)
					wr64(VARDATA(t), k++, buf->recs[i].v.ts);
			data[ng] = PointerGetDatum(t);
		}
		else
		{
			BarVals    *bars = palloc(sizeof(BarVals) * n);
			int			k = 0;

			for (int i = s; i < e; i++)
			{
				/* the same key twice cannot come from one statement (primary key); keep the last */
				if (i > s && buf->recs[i].v.ts == buf->recs[i - 1].v.ts)
					k--;
				bars[k++] = buf->recs[i].v;
			}
			data[ng] = PointerGetDatum(block_encode(bars, k,
													block_base(r->v.ts, a->series[r->series].span)));
			pfree(bars);
		}
		ng++;
		s = e;
	}
	if (!buf->removal && ng == 1)
	{
		/* one block (every single-bar ingest): the plain statement, no arrays to build and unnest */
		static Oid	types1[4] = {TEXTOID, TEXTOID, INT8OID, BYTEAOID};

		args[0] = inst[0];
		args[1] = tf[0];
		args[2] = blk[0];
		args[3] = data[0];
		rc = SPI_execute_plan(bb_plan(&legacy_plan_upsert1,
									  "INSERT INTO ex7.bar_blocks AS b (instrument, timeframe, block, data) "
									  "VALUES ($1, $2, $3, $4) "
									  "ON CONFLICT (instrument, timeframe, block) "
									  "DO UPDATE SET data = ex7._bar_blocks_merge(b.data, EXCLUDED.data)",
									  4, types1),
							  args, NULL, false, 0);
		if (rc != SPI_OK_INSERT)
			elog(ERROR, "bar blocks: upsert failed: %s", SPI_result_code_string(rc));
		goto done;
	}
	args[0] = PointerGetDatum(construct_array(inst, ng, TEXTOID, -1, false, TYPALIGN_INT));
	args[1] = PointerGetDatum(construct_array(tf, ng, TEXTOID, -1, false, TYPALIGN_INT));
	args[2] = PointerGetDatum(construct_array(blk, ng, INT8OID, sizeof(int64), FLOAT8PASSBYVAL,
											  TYPALIGN_DOUBLE));
	args[3] = PointerGetDatum(construct_array(data, ng, BYTEAOID, -1, false, TYPALIGN_INT));
	if (!buf->removal)
	{
		rc = SPI_execute_plan(bb_plan(&legacy_plan_upsert,
									  "INSERT INTO ex7.bar_blocks AS b (instrument, timeframe, block, data) "
									  "SELECT u.i, u.t, u.k, u.d FROM ROWS FROM (pg_catalog.unnest($1), "
									  "pg_catalog.unnest($2), pg_catalog.unnest($3), pg_catalog.unnest($4)) "
									  "AS u (i, t, k, d) "
									  "ON CONFLICT (instrument, timeframe, block) "
									  "DO UPDATE SET data = ex7._bar_blocks_merge(b.data, EXCLUDED.data)",
									  4, types),
							  args, NULL, false, 0);
		if (rc != SPI_OK_INSERT)
			elog(ERROR, "bar blocks: upsert failed: %s", SPI_result_code_string(rc));
	}
	else
	{
		int			nempty = 0;
		SPITupleTable *returned;

		/*
		 * The blocks the removal left without a bar are deleted next. Their rows stay locked by the
		 * UPDATE until commit, so a count of 0 here is still 0 then; the DELETE checks again anyway.
		 */
		rc = SPI_execute_plan(bb_plan(&legacy_plan_remove,
									  "UPDATE ex7.bar_blocks AS b SET data = ex7._bar_blocks_remove(b.data, u.d) "
									  "FROM ROWS FROM (pg_catalog.unnest($1), pg_catalog.unnest($2), "
									  "pg_catalog.unnest($3), pg_catalog.unnest($4)) AS u (i, t, k, d) "
									  "WHERE b.instrument OPERATOR(pg_catalog.=) u.i "
									  "AND b.timeframe OPERATOR(pg_catalog.=) u.t "
									  "AND b.block OPERATOR(pg_catalog.=) u.k "
									  "RETURNING b.instrument, b.timeframe::text, b.block, "
									  "ex7._bar_blocks_count(b.data) OPERATOR(pg_catalog.=) 0",
									  4, types),
							  args, NULL, false, 0);
		if (rc != SPI_OK_UPDATE_RETURNING)
			elog(ERROR, "bar blocks: removal failed: %s", SPI_result_code_string(rc));
		returned = SPI_tuptable;
		for (uint64 i = 0; i < SPI_processed; i++)
		{
			HeapTuple	t = returned->vals[i];
			TupleDesc	d = returned->tupdesc;
			bool		isnull;

			if (!DatumGetBool(SPI_getbinval(t, d, 4, &isnull)))
				continue;
			inst[nempty] = SPI_getbinval(t, d, 1, &isnull);
			tf[nempty] = SPI_getbinval(t, d, 2, &isnull);
			blk[nempty] = SPI_getbinval(t, d, 3, &isnull);
			nempty++;
		}
		if (nempty > 0)
		{
			args[0] = PointerGetDatum(construct_array(inst, nempty, TEXTOID, -1, false, TYPALIGN_INT));
			args[1] = PointerGetDatum(construct_array(tf, nempty, TEXTOID, -1, false, TYPALIGN_INT));
			args[2] = PointerGetDatum(construct_array(blk, nempty, INT8OID, sizeof(int64), FLOAT8PASSBYVAL,
													  TYPALIGN_DOUBLE));
			rc = SPI_execute_plan(bb_plan(&legacy_plan_drop_empty,
										  "DELETE FROM ex7.bar_blocks AS b "
										  "USING ROWS FROM (pg_catalog.unnest($1), pg_catalog.unnest($2), "
										  "pg_catalog.unnest($3)) AS u (i, t, k) "
										  "WHERE b.instrument OPERATOR(pg_catalog.=) u.i "
										  "AND b.timeframe OPERATOR(pg_catalog.=) u.t "
										  "AND b.block OPERATOR(pg_catalog.=) u.k "
										  "AND ex7._bar_blocks_count(b.data) OPERATOR(pg_catalog.=) 0",
										  3, types),
								  args, NULL, false, 0);
			if (rc != SPI_OK_DELETE)
				elog(ERROR, "bar blocks: removal of empty blocks failed: %s", SPI_result_code_string(rc));
		}
		SPI_freetuptable(returned);
	}
done:
	MemoryContextSwitchTo(old);
	MemoryContextReset(a->flushcxt);
	buf->n = 0;
}

/*
 * acc_read: adds every row of transition table ts to buf; with flush, writes buf each time it is
 * full (a bulk statement in chunks of BB_CHUNK bars), else the caller sizes it.
 */
static void
acc_read(Acc *a, RecBuf *buf, Tuplestorestate *ts, TupleDesc desc, bool flush)
{
	TupleTableSlot *slot = MakeSingleTupleTableSlot(desc, &TTSOpsMinimalTuple);
	int			ptr = tuplestore_alloc_read_pointer(ts, EXEC_FLAG_REWIND);

	/* a read pointer of our own, as a NamedTuplestoreScan of another trigger takes its own */
	tuplestore_select_read_pointer(ts, ptr);
	tuplestore_rescan(ts);
	while (tuplestore_gettupleslot(ts, true, false, slot))
	{
		slot_getsomeattrs(slot, BARS_ATT_VOLUME);
		acc_add(a, buf, slot->tts_values);
		if (flush && buf->n == BB_CHUNK)
			acc_flush(a, buf);
		CHECK_FOR_INTERRUPTS();
	}
	tuplestore_select_read_pointer(ts, 0);
	ExecDropSingleTupleTableSlot(slot);
}

static bool
bar_vals_equal(const BarVals *x, const BarVals *y)
{
	if (x->ts != y->ts || x->volume != y->volume)
		return false;
	for (int c = 0; c < BB_PRICES; c++)
		if (x->m[c] != y->m[c] || x->d[c] != y->d[c])
			return false;
	return true;
}

/*
 * acc_update_diff: for an UPDATE that fits one chunk, given its old bars and its new ones in
 * a->ins: leaves in a->rem the keys the statement no longer has and in a->ins the bars whose block
 * content changed (an insert replaces the bar at its ts, so a kept key needs no removal; an UPDATE
 * of received_at only rewrites no block).
 */
static void
acc_update_diff(Acc *a, RecBuf *old)
{
	RecBuf	   *ins = &a->ins;
	int			i = 0,
				j = 0,
				kept = 0;

	acc_sort(a, old);
	acc_sort(a, ins);
	while (i < old->n || j < ins->n)
	{
		int			c = i >= old->n ? 1 : j >= ins->n ? -1
			: rec_cmp_keys(&old->recs[i], &ins->recs[j], a->series);

		if (c < 0)
		{
			/* gone: remove its key (rem has room: it holds at most old->n <= BB_CHUNK) */
			a->rem.recs[a->rem.n++] = old->recs[i++];
		}
		else if (c > 0)
			ins->recs[kept++] = ins->recs[j++];
		else
		{
			if (!bar_vals_equal(&old->recs[i].v, &ins->recs[j].v))
				ins->recs[kept++] = ins->recs[j];
			i++;
			j++;
		}
	}
	ins->n = kept;
}

/*
 * ex7._bar_blocks_trigger() (0.2.0): AFTER INSERT / UPDATE / DELETE (with transition tables) and
 * AFTER TRUNCATE, FOR EACH STATEMENT, on ex7.bars: brings ex7.bar_blocks to the statement's bars in
 * the same transaction, through 0.2.0's ex7._bar_blocks_merge and ex7._bar_blocks_remove (0.3.0's
 * helpers do not exist there). SECURITY DEFINER: whoever may write bars keeps the blocks current
 * without any privilege on them.
 */
PG_FUNCTION_INFO_V1(bar_blocks_trigger);
Datum
bar_blocks_trigger(PG_FUNCTION_ARGS)
{
	TriggerData *td = (TriggerData *) fcinfo->context;
	TupleDesc	desc;
	Tuplestorestate *oldt = NULL;
	Tuplestorestate *newt = NULL;
	Acc			a;

	if (!CALLED_AS_TRIGGER(fcinfo) || !TRIGGER_FIRED_AFTER(td->tg_event) ||
		!TRIGGER_FIRED_FOR_STATEMENT(td->tg_event))
		elog(ERROR, "ex7._bar_blocks_trigger must be an AFTER ... FOR EACH STATEMENT trigger");

	if (TRIGGER_FIRED_BY_TRUNCATE(td->tg_event))
	{
		int			rc;

		SPI_connect();
		rc = SPI_execute("TRUNCATE ex7.bar_blocks", false, 0);
		if (rc != SPI_OK_UTILITY)
			elog(ERROR, "bar blocks: truncate failed: %s", SPI_result_code_string(rc));
		SPI_finish();
		return PointerGetDatum(NULL);
	}

	desc = RelationGetDescr(td->tg_relation);
	check_bars_desc(desc);
	if (TRIGGER_FIRED_BY_INSERT(td->tg_event) || TRIGGER_FIRED_BY_UPDATE(td->tg_event))
	{
		newt = td->tg_newtable;
		if (newt == NULL)
			elog(ERROR, "ex7._bar_blocks_trigger needs REFERENCING NEW TABLE");
	}
	if (TRIGGER_FIRED_BY_DELETE(td->tg_event) || TRIGGER_FIRED_BY_UPDATE(td->tg_event))
	{
		oldt = td->tg_oldtable;
		if (oldt == NULL)
			elog(ERROR, "ex7._bar_blocks_trigger needs REFERENCING OLD TABLE");
	}
	if ((oldt == NULL || tuplestore_tuple_count(oldt) == 0) &&
		(newt == NULL || tuplestore_tuple_count(newt) == 0))
		return PointerGetDatum(NULL);

	acc_init(&a);
	SPI_connect();
	if (oldt != NULL && newt != NULL &&
		tuplestore_tuple_count(oldt) <= BB_CHUNK && tuplestore_tuple_count(newt) <= BB_CHUNK)
	{
		RecBuf		oldbars = {NULL, 0, 0, false};

		/* an UPDATE that fits one chunk: only what changed is written */
		acc_read(&a, &oldbars, oldt, desc, false);
		acc_read(&a, &a.ins, newt, desc, false);
		a.rem.recs = MemoryContextAlloc(a.cxt, sizeof(BarRec) * Max(oldbars.n, 1));
		a.rem.max = Max(oldbars.n, 1);
		acc_update_diff(&a, &oldbars);
		acc_flush(&a, &a.rem);
		acc_flush(&a, &a.ins);
	}
	else
	{
		/* removals first: an UPDATE that keeps a key re-inserts the bar after */
		if (oldt != NULL)
		{
			acc_read(&a, &a.rem, oldt, desc, true);
			acc_flush(&a, &a.rem);
		}
		if (newt != NULL)
		{
			acc_read(&a, &a.ins, newt, desc, true);
			acc_flush(&a, &a.ins);
		}
	}
	SPI_finish();
	acc_free(&a);
	return PointerGetDatum(NULL);
}


/* ---------------------------------------------------------------------------------------------
 * Reading blocks
 * ------------------------------------------------------------------------------------------- */

typedef struct BlockScan
{
	Relation	heap;
	Relation	idx;
	IndexScanDesc scan;
	TupleTableSlot *slot;
	TimestampTz lo;				/* bars with lo <= ts <= hi */
	TimestampTz hi;
	BlockView	v;				/* the current block (n 0: none yet) */
	int			pos;			/* its next bar */
	int64		block;
	struct varlena *copy;		/* the current block when it had to be detoasted */
} BlockScan;

/*
 * bscan_begin: returns false when (instrument, timeframe) can have no block in [lo, hi]; else
 * starts an index scan of ex7.bar_blocks' primary key (its shard's on Citus: rows_rel) over the blocks
 * of lo .. hi with the active snapshot, after checking SELECT on the table.
 */
static bool
bscan_begin(BlockScan *s, text *instrument, text *timeframe, TimestampTz lo, TimestampTz hi)
{
	int64		span = tf_span_text(timeframe);
	ScanKeyData keys[4];

	memset(s, 0, sizeof(BlockScan));
	rows_check("bar_blocks");
	if (span == 0 || lo > hi)
		return false;
	s->lo = lo;
	s->hi = hi;
	rows_open("bar_blocks", &s->heap, &s->idx);
	series_keys(keys, s->idx, instrument, timeframe);
	ScanKeyInit(&keys[2], 3, BTGreaterEqualStrategyNumber, F_INT8GE, Int64GetDatum(block_of(lo, span)));
	ScanKeyInit(&keys[3], 3, BTLessEqualStrategyNumber, F_INT8LE, Int64GetDatum(block_of(hi, span)));
	s->scan = index_beginscan(s->heap, s->idx, GetActiveSnapshot(), 4, 0);
	index_rescan(s->scan, keys, 4, NULL, 0);
	s->slot = table_slot_create(s->heap, NULL);
	return true;
}

/*
 * bscan_next: returns false when no block with a bar in [lo, hi] is left; else makes the next one
 * current, its first such bar at pos. The block is read in place (the slot pins its page) unless it
 * was stored compressed or out of line.
 */
static bool
bscan_next(BlockScan *s)
{
	for (;;)
	{
		bool		isnull;
		Datum		d;
		struct varlena *v;
		int			a,
					b;

		if (s->copy)
		{
			pfree(s->copy);
			s->copy = NULL;
		}
		s->v.n = 0;
		s->pos = 0;
		if (!index_getnext_slot(s->scan, ForwardScanDirection, s->slot))
			return false;
		d = slot_getattr(s->slot, BLK_ATT_DATA, &isnull);
		s->block = DatumGetInt64(slot_getattr(s->slot, BLK_ATT_BLOCK, &isnull));
		v = pg_detoast_datum_packed((struct varlena *) DatumGetPointer(d));
		if ((Pointer) v != DatumGetPointer(d))
			s->copy = v;
		if (!block_view(VARDATA_ANY(v), VARSIZE_ANY_EXHDR(v), &s->v))
			ereport(ERROR,
					(errcode(ERRCODE_DATA_CORRUPTED),
					 errmsg("malformed bar block " INT64_FORMAT, s->block),
					 errhint("Run ex7.bar_blocks_rebuild() to rebuild the blocks from ex7.bars.")));
		/* the first bar at or after lo: the first of the block but in the block of lo */
		a = 0;
		b = s->v.n;
		if (b > 0 && bv_ts(&s->v, 0) >= s->lo)
			b = 0;
		while (a < b)
		{
			int			mid = a + (b - a) / 2;

			if (bv_ts(&s->v, mid) < s->lo)
				a = mid + 1;
			else
				b = mid;
		}
		s->pos = a;
		if (a < s->v.n)
			return bv_ts(&s->v, a) <= s->hi;
	}
}

static void
bscan_end(BlockScan *s)
{
	if (s->copy)
		pfree(s->copy);
	if (s->slot)
	{
		ExecDropSingleTupleTableSlot(s->slot);
		index_endscan(s->scan);
		index_close(s->idx, AccessShareLock);
		table_close(s->heap, AccessShareLock);
	}
}

/*
 * div_i32: dst[j] = (double) m[j] / p for the cnt int32 at m, p = 10^d with d <= 22: two lanes
 * per SSE2 instruction where there is SSE2 (every x86-64), with the same correctly rounded IEEE
 * results as one scalar division each.
 */
static void
div_i32(const char *m, int cnt, double p, double *dst)
{
	int			j = 0;

#ifdef __SSE2__
	__m128d		pv = _mm_set1_pd(p);

	for (; j + 2 <= cnt; j += 2)
		_mm_storeu_pd(dst + j, _mm_div_pd(_mm_cvtepi32_pd(_mm_loadl_epi64((const __m128i *) (m + (size_t) j * 4))),
										  pv));
#endif
	for (; j < cnt; j++)
		dst[j] = (double) rd32(m, j) / p;
}

/* decode_prices: dst[j] = price c of bar pos + j as the double numeric_float8 gives, for cnt bars */
static void
decode_prices(const BlockView *v, int c, int pos, int cnt, double *dst)
{
	if ((v->flags & (BB_M32(c) | BB_D1(c))) == (BB_M32(c) | BB_D1(c)) && v->d[c][0] <= 22)
	{
		/* every mantissa below 2^31 < 2^53, one scale: md_double's exact case, all of them */
		div_i32(v->m[c] + (size_t) pos * 4, cnt, pow10_dbl[v->d[c][0]], dst);
		return;
	}
	for (int j = 0; j < cnt; j++)
		dst[j] = md_double(bv_m(v, c, pos + j), bv_d(v, c, pos + j));
}

/* decode_ts: dst[j] = ts of bar pos + j, for cnt bars */
static void
decode_ts(const BlockView *v, int pos, int cnt, TimestampTz *dst)
{
	if (v->flags & BB_TS32)
	{
		for (int j = 0; j < cnt; j++)
			dst[j] = v->base + (int64) (uint32) rd32(v->ts, pos + j) * USECS_PER_SEC;
	}
	else
		memcpy(dst, v->ts + (size_t) pos * 8, (size_t) cnt * 8);
}

/* decode_volume: dst[j] = volume of bar pos + j as a double, for cnt bars */
static void
decode_volume(const BlockView *v, int pos, int cnt, double *dst)
{
	int			j = 0;

	if (v->flags & BB_V32)
	{
#ifdef __SSE2__
		for (; j + 2 <= cnt; j += 2)
			_mm_storeu_pd(dst + j, _mm_cvtepi32_pd(_mm_loadl_epi64((const __m128i *) (v->volume + (size_t) (pos + j) * 4))));
#endif
		for (; j < cnt; j++)
			dst[j] = (double) rd32(v->volume, pos + j);
	}
	else
		for (; j < cnt; j++)
			dst[j] = (double) rd64(v->volume, pos + j);
}

/* decode_exact: dst[j] = the exact high, low, close of bar pos + j, for cnt bars, column by column */
static void
decode_exact(const BlockView *v, int pos, int cnt, BarExact *dst)
{
	for (int c = 0; c < 3; c++)
	{
		int			vc = c + 1;		/* high, low, close follow open in the block */

		if (v->flags & BB_M32(vc))
			for (int j = 0; j < cnt; j++)
				dst[j].m[c] = rd32(v->m[vc], pos + j);
		else
			for (int j = 0; j < cnt; j++)
				dst[j].m[c] = rd64(v->m[vc], pos + j);
		if (v->flags & BB_D1(vc))
			for (int j = 0; j < cnt; j++)
				dst[j].dscale[c] = v->d[vc][0];
		else
			for (int j = 0; j < cnt; j++)
				dst[j].dscale[c] = v->d[vc][pos + j];
	}
	/* a raw bar has every scale BB_RAW */
	for (int j = 0; j < cnt; j++)
		dst[j].raw = dst[j].dscale[0] == BB_RAW;
}

int
blocks_scan(text *instrument, text *timeframe, TimestampTz after, TimestampTz upto, int limit,
			BlocksOut *out)
{
	BlockScan	s;
	double	   *prices[BB_PRICES] = {out->open, out->high, out->low, out->close};
	int			n = 0;

	if (after == PG_INT64_MAX || limit <= 0)
		return 0;
	if (!bscan_begin(&s, instrument, timeframe, after + 1, upto))
		return 0;
	while (n < limit)
	{
		int			cnt;
		int			pos;

		if (s.pos >= s.v.n && !bscan_next(&s))
			break;
		pos = s.pos;
		cnt = Min(limit - n, s.v.n - pos);
		decode_ts(&s.v, pos, cnt, out->ts + n);
		/* only the block holding upto can go past it */
		if (out->ts[n + cnt - 1] > s.hi)
		{
			int			k = 0;

			while (k < cnt && out->ts[n + k] <= s.hi)
				k++;
			cnt = k;
		}
		if (cnt == 0)
			break;
		for (int c = 0; c < BB_PRICES; c++)
			if (prices[c])
				decode_prices(&s.v, c, pos, cnt, prices[c] + n);
		if (out->volume)
			decode_volume(&s.v, pos, cnt, out->volume + n);
		if (out->exact)
			decode_exact(&s.v, pos, cnt, out->exact + n);
		n += cnt;
		s.pos += cnt;
		if (s.pos < s.v.n && bv_ts(&s.v, s.pos) > s.hi)
			break;
	}
	bscan_end(&s);
	return n;
}

/*
 * bars_lookup: returns false when the bar (instrument, timeframe, ts) is not in ex7.bars for the
 * active snapshot; else stores it in slot with its prices deformed.
 */
static bool
bars_lookup(Relation heap, Relation idx, TupleTableSlot *slot, text *instrument, text *timeframe,
			TimestampTz ts)
{
	ScanKeyData keys[3];
	IndexScanDesc scan;
	bool		found;

	series_keys(keys, idx, instrument, timeframe);
	ScanKeyInit(&keys[2], 3, BTEqualStrategyNumber, F_TIMESTAMPTZ_EQ, TimestampTzGetDatum(ts));
	scan = index_beginscan(heap, idx, GetActiveSnapshot(), 3, 0);
	index_rescan(scan, keys, 3, NULL, 0);
	found = index_getnext_slot(scan, ForwardScanDirection, slot);
	index_endscan(scan);
	if (found)
		slot_getsomeattrs(slot, BARS_ATT_VOLUME);
	return found;
}

/* copy_numeric: a copy of numeric datum d with a 4-byte header, in CurrentMemoryContext */
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

Numeric
bar_exact_numeric(text *instrument, text *timeframe, TimestampTz ts, const BarExact *e, int which)
{
	Relation	heap,
				idx;
	TupleTableSlot *slot;
	Numeric		r;

	if (which < 0 || which > 2)
		elog(ERROR, "bar_exact_numeric: no price %d", which);
	if (!e->raw)
		return md_numeric(e->m[which], e->dscale[which]);
	bars_rel(&heap, &idx);
	slot = table_slot_create(heap, NULL);
	if (!bars_lookup(heap, idx, slot, instrument, timeframe, ts))
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("the %s %s bar at %s of a bar block is not in ex7.bars",
						text_to_cstring(instrument), text_to_cstring(timeframe), timestamptz_to_str(ts)),
				 errhint("Run ex7.bar_blocks_rebuild() to rebuild the blocks from ex7.bars.")));
	/* high, low, close follow open in ex7.bars */
	r = copy_numeric(slot->tts_values[BARS_ATT_OPEN + which]);
	ExecDropSingleTupleTableSlot(slot);
	index_close(idx, AccessShareLock);
	table_close(heap, AccessShareLock);
	return r;
}

/*
 * ex7._bar_blocks_decode(instrument text, timeframe text, p_from timestamptz, p_to timestamptz)
 * -> SETOF (ts, open, high, low, close numeric, volume bigint, open_d, high_d, low_d, close_d
 * float8, raw boolean, block bigint): the series' bars with p_from <= ts <= p_to as the blocks hold
 * them, oldest first; the numerics of a raw bar come from ex7.bars by key (NULL when it is not
 * there), its doubles from the block.
 */
PG_FUNCTION_INFO_V1(bar_blocks_decode);
Datum
bar_blocks_decode(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	text	   *instrument = PG_GETARG_TEXT_PP(0);
	text	   *timeframe = PG_GETARG_TEXT_PP(1);
	BlockScan	s;
	Relation	bheap = NULL,
				bidx = NULL;
	TupleTableSlot *bslot = NULL;
	MemoryContext rowcxt;

	InitMaterializedSRF(fcinfo, 0);
	if (!bscan_begin(&s, instrument, timeframe, PG_GETARG_TIMESTAMPTZ(2), PG_GETARG_TIMESTAMPTZ(3)))
		return (Datum) 0;
	rowcxt = AllocSetContextCreate(CurrentMemoryContext, "bar blocks decode", ALLOCSET_SMALL_SIZES);
	for (;;)
	{
		Datum		values[12];
		bool		nulls[12] = {0};
		BarVals		b;
		MemoryContext old;

		if (s.pos >= s.v.n && !bscan_next(&s))
			break;
		if (bv_ts(&s.v, s.pos) > s.hi)
			break;
		block_get(&s.v, s.pos++, &b);
		old = MemoryContextSwitchTo(rowcxt);
		values[0] = TimestampTzGetDatum(b.ts);
		for (int c = 0; c < BB_PRICES; c++)
		{
			values[6 + c] = Float8GetDatum(md_double(b.m[c], b.d[c]));
			if (b.d[c] != BB_RAW)
				values[1 + c] = NumericGetDatum(md_numeric(b.m[c], b.d[c]));
		}
		if (b.d[0] == BB_RAW)
		{
			if (bheap == NULL)
			{
				MemoryContextSwitchTo(old);
				bars_rel(&bheap, &bidx);
				bslot = table_slot_create(bheap, NULL);
				MemoryContextSwitchTo(rowcxt);
			}
			if (bars_lookup(bheap, bidx, bslot, instrument, timeframe, b.ts))
				for (int c = 0; c < BB_PRICES; c++)
					values[1 + c] = NumericGetDatum(copy_numeric(bslot->tts_values[BARS_ATT_OPEN - 1 + c]));
			else
				for (int c = 0; c < BB_PRICES; c++)
					nulls[1 + c] = true;
		}
		values[5] = Int64GetDatum(b.volume);
		values[10] = BoolGetDatum(b.d[0] == BB_RAW);
		values[11] = Int64GetDatum(s.block);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
		if (bslot)
			ExecClearTuple(bslot);
		MemoryContextSwitchTo(old);
		MemoryContextReset(rowcxt);
	}
	bscan_end(&s);
	if (bheap)
	{
		ExecDropSingleTupleTableSlot(bslot);
		index_close(bidx, AccessShareLock);
		table_close(bheap, AccessShareLock);
	}
	MemoryContextDelete(rowcxt);
	return (Datum) 0;
}

/*
 * ex7._bar_blocks_read(instrument, timeframe, p_after, p_upto, p_chunk) -> SETOF (ts, open_d,
 * high_d, low_d, close_d, volume_d float8, high, low, close numeric, raw boolean): the series' bars
 * with p_after < ts <= p_upto as the backtest gets them: blocks_scan in chunks of p_chunk bars (the
 * next chunk after the last ts), exact prices through bar_exact_numeric. For tests of that API.
 */
PG_FUNCTION_INFO_V1(bar_blocks_read);
Datum
bar_blocks_read(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	text	   *instrument = PG_GETARG_TEXT_PP(0);
	text	   *timeframe = PG_GETARG_TEXT_PP(1);
	TimestampTz after = PG_GETARG_TIMESTAMPTZ(2);
	TimestampTz upto = PG_GETARG_TIMESTAMPTZ(3);
	int			chunk = PG_GETARG_INT32(4);
	BlocksOut	out;
	MemoryContext rowcxt;

	if (chunk < 1 || chunk > 100000)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("p_chunk must be between 1 and 100000")));
	InitMaterializedSRF(fcinfo, 0);
	out.ts = palloc(sizeof(TimestampTz) * chunk);
	out.open = palloc(sizeof(double) * chunk);
	out.high = palloc(sizeof(double) * chunk);
	out.low = palloc(sizeof(double) * chunk);
	out.close = palloc(sizeof(double) * chunk);
	out.volume = palloc(sizeof(double) * chunk);
	out.exact = palloc(sizeof(BarExact) * chunk);
	rowcxt = AllocSetContextCreate(CurrentMemoryContext, "bar blocks read", ALLOCSET_SMALL_SIZES);
	for (;;)
	{
		int			got = blocks_scan(instrument, timeframe, after, upto, chunk, &out);

		for (int k = 0; k < got; k++)
		{
			Datum		values[10];
			bool		nulls[10] = {0};
			MemoryContext old = MemoryContextSwitchTo(rowcxt);

			values[0] = TimestampTzGetDatum(out.ts[k]);
			values[1] = Float8GetDatum(out.open[k]);
			values[2] = Float8GetDatum(out.high[k]);
			values[3] = Float8GetDatum(out.low[k]);
			values[4] = Float8GetDatum(out.close[k]);
			values[5] = Float8GetDatum(out.volume[k]);
			for (int c = 0; c < 3; c++)
				values[6 + c] = NumericGetDatum(bar_exact_numeric(instrument, timeframe, out.ts[k],
																  &out.exact[k], c));
			values[9] = BoolGetDatum(out.exact[k].raw);
			tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
			MemoryContextSwitchTo(old);
			MemoryContextReset(rowcxt);
		}
		if (got < chunk)
			break;
		after = out.ts[got - 1];
	}
	MemoryContextDelete(rowcxt);
	return (Datum) 0;
}

/*
 * ex7._bar_blocks_scan_bench(instrument, timeframe, p_after, p_upto, p_source, p_exact) -> bigint:
 * reads the series' bars with p_after < ts <= p_upto in chunks of 8192 (the backtest's BT_CHUNK)
 * through blocks_scan (p_source 'blocks') or bars_scan ('bars'), with the exact prices (bars: the
 * tuple ids) when p_exact; returns how many. For timing the two readers (bench/bench_bar_blocks.sh).
 */
PG_FUNCTION_INFO_V1(bar_blocks_scan_bench);
Datum
bar_blocks_scan_bench(PG_FUNCTION_ARGS)
{
#define BENCH_CHUNK 8192
	text	   *instrument = PG_GETARG_TEXT_PP(0);
	text	   *timeframe = PG_GETARG_TEXT_PP(1);
	TimestampTz after = PG_GETARG_TIMESTAMPTZ(2);
	TimestampTz upto = PG_GETARG_TIMESTAMPTZ(3);
	char	   *source = text_to_cstring(PG_GETARG_TEXT_PP(4));
	bool		exact = PG_GETARG_BOOL(5);
	bool		blocks = strcmp(source, "blocks") == 0;
	TimestampTz *ts = palloc(sizeof(TimestampTz) * BENCH_CHUNK);
	double	   *o = palloc(sizeof(double) * BENCH_CHUNK);
	double	   *h = palloc(sizeof(double) * BENCH_CHUNK);
	double	   *l = palloc(sizeof(double) * BENCH_CHUNK);
	double	   *c = palloc(sizeof(double) * BENCH_CHUNK);
	double	   *v = palloc(sizeof(double) * BENCH_CHUNK);
	BlocksOut	bo = {ts, o, h, l, c, v, exact ? palloc(sizeof(BarExact) * BENCH_CHUNK) : NULL};
	BarsOut		so = {ts, o, h, l, c, v, exact ? palloc(sizeof(ItemPointerData) * BENCH_CHUNK) : NULL};
	int64		total = 0;

	if (!blocks && strcmp(source, "bars") != 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("p_source must be blocks or bars")));
	for (;;)
	{
		int			got = blocks ? blocks_scan(instrument, timeframe, after, upto, BENCH_CHUNK, &bo)
			: bars_scan(instrument, timeframe, after, upto, BENCH_CHUNK, &so);

		total += got;
		if (got < BENCH_CHUNK)
			break;
		after = ts[got - 1];
		CHECK_FOR_INTERRUPTS();
	}
	PG_RETURN_INT64(total);
}
