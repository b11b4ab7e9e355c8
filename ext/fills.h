/*-------------------------------------------------------------------------
 *
 * fills.h
 *	  The per-bar trading decision of a strategy, shared by the live dispatcher and the backtest:
 *	  which open positions a bar closes (stop, target, exit node, reversal) and at what price,
 *	  and whether an entry fires, with which size, stop and target (docs/dispatcher.md, "One bar";
 *	  docs/backtests.md).
 *
 * The live dispatcher (ex7._run_strategy, ext/sql/65_dispatch.sql) calls it through
 * ex7._fill_decide and applies the actions to ex7.signals with ex7._close_at and ex7.fire_signal;
 * the backtest (ext/backtest.c) calls fills_decide directly and applies the same actions to the
 * positions it keeps in memory, pricing them with the same ex7.compute_pnl. Nothing else decides
 * a fill.
 *
 *-------------------------------------------------------------------------
 */
#ifndef EX7_FILLS_H
#define EX7_FILLS_H

#include "postgres.h"

#include "utils/numeric.h"

typedef enum FillReason
{
	FILL_OPEN = 0,				/* not closed on this bar */
	FILL_STOP_LOSS,				/* the bar touched the stop: closed at the stop */
	FILL_TAKE_PROFIT,			/* the bar touched the target: closed at the target */
	FILL_EXIT_SIGNAL,			/* an exit node of its side fired: closed at the bar's close */
	FILL_REVERSE				/* an entry of the other side fires: closed at the bar's close */
} FillReason;

/* close_reason values of ex7.signals, by FillReason */
extern const char *const fill_reason_names[];

typedef enum FillVerdict
{
	FILL_NO_SIGNAL,				/* nothing closed, no entry */
	FILL_EXIT,					/* something closed, no entry */
	FILL_SKIPPED,				/* an entry was skipped: skip_reason says why */
	FILL_ENTER					/* an entry fires (through the risk gate) */
} FillVerdict;

/* an open position of the strategy (a signal with status open) */
typedef struct FillPosition
{
	int			side;			/* +1 long, -1 short */
	bool		earlier;		/* opened on an earlier bar than the one decided */
	Numeric		stop;			/* stop price, or NULL */
	Numeric		target;			/* target price, or NULL */
	/* set by fill_decide */
	FillReason	closed;
	Numeric		close_price;	/* when closed */
} FillPosition;

/* the graph's actions on the bar (GraphActions with the sizes and ticks read) */
typedef struct FillSignal
{
	bool		warm;			/* the graph had its lookback of bars */
	bool		conflict;		/* both sides fired */
	bool		exit_long;
	bool		exit_short;
	int32		long_size;		/* size of the long entry that fired, 0 when none */
	int32		short_size;
	int32		stop_ticks;		/* brackets of the entry that fired, 0 when none */
	int32		target_ticks;
} FillSignal;

typedef struct FillDecision
{
	FillVerdict verdict;
	const char *skip_reason;	/* FILL_SKIPPED: the audit's detail.reason */
	int			nclosed;
	int		   *close_order;	/* indexes into the positions, in the order they close; the
								 * caller passes room for npos */
	int			nreported;		/* the first nreported closes are brackets and exits (the audit's
								 * "closed"); the rest are reversals */
	/* FILL_ENTER */
	int			side;
	int32		size;
	Numeric		stop;			/* or NULL */
	Numeric		target;			/* or NULL */
} FillDecision;

extern void fills_decide(FillPosition *pos, int npos, Numeric high, Numeric low, Numeric close,
						 Numeric tick_size, const FillSignal *sig, bool draining, FillDecision *out);

#endif							/* EX7_FILLS_H */
