/*-------------------------------------------------------------------------
 *
 * barscan.h
 *	  Reading a series of ex7.bars oldest first straight through its primary key (an index scan
 *	  in C, no SPI): the backtest's bar stream. Prices come out as doubles for the graph and,
 *	  when asked, as exact numerics for the fills.
 *
 *-------------------------------------------------------------------------
 */
#ifndef EX7_BARSCAN_H
#define EX7_BARSCAN_H

#include "postgres.h"

#include "storage/itemptr.h"
#include "utils/numeric.h"
#include "utils/rel.h"
#include "utils/timestamp.h"

/* where bars_scan writes bar k (0-based within the call) */
typedef struct BarsOut
{
	TimestampTz *ts;
	double	   *open;
	double	   *high;
	double	   *low;
	double	   *close;
	double	   *volume;
	/* where the row is, for bars_fetch (NULL: not wanted) */
	ItemPointerData *tid;
} BarsOut;

/* an open ex7.bars for bars_fetch */
typedef struct BarsFetch
{
	Relation	heap;
	struct TupleTableSlot *slot;
} BarsFetch;

/*
 * bars_scan: returns how many bars (at most limit) of (instrument, timeframe) with after < ts <=
 * upto it wrote to out, oldest first, read with the active snapshot. The caller needs SELECT on
 * ex7.bars (checked).
 */
extern int	bars_scan(text *instrument, text *timeframe, TimestampTz after, TimestampTz upto,
					  int limit, BarsOut *out);

/*
 * bars_fetch_begin / bars_fetch / bars_fetch_end: the exact high, low and close of the bar at tid
 * (from a bars_scan of this snapshot), copied into the current memory context with 4-byte
 * headers. A caller wanting only some passes NULL for the others.
 */
extern void bars_fetch_begin(BarsFetch *f);
extern void bars_fetch(BarsFetch *f, ItemPointer tid, Numeric *high, Numeric *low, Numeric *close);
extern void bars_fetch_end(BarsFetch *f);

/*
 * numeric_to_double: returns n as the double nearest to it, as numeric_float8 does (through its
 * text, correctly rounded), computed from the digits without text for the values bars hold.
 */
extern double numeric_to_double(Numeric n);

#endif							/* EX7_BARSCAN_H */
