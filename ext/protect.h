/*-------------------------------------------------------------------------
 *
 * protect.h
 *	  Protections: the rules that lock trading for a while after what the closes of a user's trades
 *	  show (docs/protections.md). One decision, in C, for every path that closes a trade: the live
 *	  dispatcher and the webhook intake through ex7.protection_decide (ext/sql/81_protections.sql), and
 *	  the backtest engine (ext/backtest.c) directly.
 *
 *-------------------------------------------------------------------------
 */
#ifndef EX7_PROTECT_H
#define EX7_PROTECT_H

#include "postgres.h"
#include "datatype/timestamp.h"
#include "utils/numeric.h"

typedef enum ProtectionKind
{
	PROTECT_COOLDOWN,			/* after any exit, lock for `bars` bars of the trade's timeframe */
	PROTECT_STOPLOSS_GUARD,		/* trade_limit stop-outs within the lookback lock for lock_usec */
	PROTECT_MAX_DRAWDOWN,		/* a realized drawdown >= threshold within the lookback locks */
	PROTECT_LOW_PROFIT			/* realized P&L < threshold over the lookback locks */
} ProtectionKind;

typedef struct Protection
{
	ProtectionKind kind;
	int32		bars;			/* cooldown: bars of the closed trade's timeframe */
	int32		trade_limit;	/* stoploss_guard: stop-outs; max_drawdown, low_profit: closes needed */
	int64		lookback_usec;	/* the window of closes the rule reads, ending at the close */
	int64		lock_usec;		/* how long a triggered lock lasts (not cooldown) */
	Numeric		threshold;		/* max_drawdown: money; low_profit: money (may be <= 0) */
} Protection;

/* one close the protection watches, on the bar clock (the bar a trade closed on) */
typedef struct ProtectionClose
{
	TimestampTz at;
	Numeric		net;			/* net P&L of the close (ex7.compute_pnl) */
	bool		stop_loss;		/* closed at its stop */
} ProtectionClose;

typedef struct ProtectionLock
{
	TimestampTz until;
	char	   *observed;		/* palloc'd: the value that tripped the rule */
	char	   *limit;			/* palloc'd: the rule's limit */
} ProtectionLock;

extern ProtectionKind protection_kind(const char *name);
extern const char *protection_kind_name(ProtectionKind kind);
extern bool protection_decide(const Protection *p, const ProtectionClose *closes, int n, int64 bar_usec,
							  ProtectionLock *lock);

#endif							/* EX7_PROTECT_H */
