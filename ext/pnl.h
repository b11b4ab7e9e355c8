/*-------------------------------------------------------------------------
 *
 * pnl.h
 *	  The one P&L formula (ext/pnl.c, docs/pnl.md) for C callers in the extension: ex7.compute_pnl
 *	  is its SQL face, and the backtest prices every trade with pnl_compute directly.
 *
 *-------------------------------------------------------------------------
 */
#ifndef EX7_PNL_H
#define EX7_PNL_H

#include "postgres.h"

#include "utils/numeric.h"

/* the columns of ex7.compute_pnl's row */
typedef struct PnlResult
{
	Numeric		points;
	Numeric		ticks;
	Numeric		gross;
	Numeric		slippage_ticks;
	Numeric		slippage;
	Numeric		commission;
	Numeric		net;
} PnlResult;

extern void pnl_compute(text *instrument, bool is_long, int32 size, Numeric entry, Numeric close,
						PnlResult *out);

#endif							/* EX7_PNL_H */
