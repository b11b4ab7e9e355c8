/*-------------------------------------------------------------------------
 *
 * barscan.h
 *	  Reading a series of ex7.bars oldest first straight through its primary key (an index scan
 *	  in C, no SPI). The backtest's bar stream until it read ex7.bar_blocks (barblocks.h); kept as
 *	  the baseline bench/bench_bar_blocks.sh measures the blocks against.
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
	/* where the row is (NULL: not wanted) */
	ItemPointerData *tid;
} BarsOut;

/*
 * bars_scan: returns how many bars (at most limit) of (instrument, timeframe) with after < ts <=
 * upto it wrote to out, oldest first, read with the active snapshot. The caller needs SELECT on
 * ex7.bars (checked).
 */
extern int	bars_scan(text *instrument, text *timeframe, TimestampTz after, TimestampTz upto,
					  int limit, BarsOut *out);

#endif							/* EX7_BARSCAN_H */
