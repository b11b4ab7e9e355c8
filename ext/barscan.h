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

#include "utils/numeric.h"
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
	/* exact high, low and close (4-byte headers, allocated in arena); NULL arrays: not wanted */
	Numeric    *nhigh;
	Numeric    *nlow;
	Numeric    *nclose;
	MemoryContext arena;
} BarsOut;

/*
 * bars_scan: returns how many bars (at most limit) of (instrument, timeframe) with after < ts <=
 * upto it wrote to out, oldest first, read with the active snapshot. The caller needs SELECT on
 * ex7.bars (checked).
 */
extern int	bars_scan(text *instrument, text *timeframe, TimestampTz after, TimestampTz upto,
					  int limit, BarsOut *out);

/*
 * numeric_to_double: returns n as the double nearest to it, as numeric_float8 does (through its
 * text, correctly rounded), computed from the digits without text for the values bars hold.
 */
extern double numeric_to_double(Numeric n);

#endif							/* EX7_BARSCAN_H */
