/*-------------------------------------------------------------------------
 *
 * barblocks.h
 *	  Reading bars from ex7.bar_blocks, the columnar copy of ex7.bars that ex7._bar_blocks_sync keeps
 *	  (ext/barblocks.c, docs/market.md "Bar blocks"): one index step and one block of up to BB_SLOTS
 *	  bars per row, prices decoded from exact int64 mantissas, no numeric on the way.
 *
 *-------------------------------------------------------------------------
 */
#ifndef EX7_BARBLOCKS_H
#define EX7_BARBLOCKS_H

#include "postgres.h"

#include "utils/numeric.h"
#include "utils/timestamp.h"

/* bar slots of a block: block = floor(epoch seconds of ts / (timeframe seconds * BB_SLOTS)) */
#define BB_SLOTS			64

/* the exact high, low, close of a bar (fills need them) */
typedef struct BarExact
{
	int64		m[3];			/* high, low, close: value = m / 10^dscale */
	uint8		dscale[3];
	bool		raw;			/* not representable in a block: read from ex7.bars by key */
} BarExact;

/* where blocks_scan writes bar k (0-based within the call); any member but ts may be NULL: not wanted */
typedef struct BlocksOut
{
	TimestampTz *ts;
	double	   *open;
	double	   *high;
	double	   *low;
	double	   *close;
	double	   *volume;
	BarExact   *exact;
} BlocksOut;

/*
 * blocks_scan: returns how many bars (at most limit) of (instrument, timeframe) with after < ts <=
 * upto it wrote to out, oldest first, read with the active snapshot, like bars_scan. The doubles are
 * bit-identical to numeric::float8 of the stored prices. The caller needs SELECT on ex7.bar_blocks
 * (checked).
 */
extern int	blocks_scan(text *instrument, text *timeframe, TimestampTz after, TimestampTz upto,
						int limit, BlocksOut *out);

/*
 * bar_exact_numeric: returns the exact price (which: 0 high, 1 low, 2 close) of the bar e describes
 * as a Numeric in CurrentMemoryContext, identical to the stored one (value and display scale). For
 * a raw bar it is read from ex7.bars by (instrument, timeframe, ts) with the active snapshot (SELECT
 * on ex7.bars checked).
 */
extern Numeric bar_exact_numeric(text *instrument, text *timeframe, TimestampTz ts, const BarExact *e,
								 int which);

/*
 * numeric_to_double: returns n as the double numeric_float8 gives (through its text, correctly
 * rounded), computed from its digits as a block's prices are (one IEEE division of the exact
 * mantissa by an exact power of ten) and through numeric_float8 where that is not exact.
 */
extern double numeric_to_double(Numeric n);

/*
 * numeric_md: returns true and sets *m, *d to the mantissa and display scale of numeric datum x
 * (x = m / 10^d exactly; what a block stores for a price), false when it has none that fits (NaN,
 * infinity, a display scale over 254, |m| beyond int64). Allocates nothing for an untoasted x.
 */
extern bool numeric_md(Datum x, int64 *m, uint8 *d);

#endif							/* EX7_BARBLOCKS_H */
