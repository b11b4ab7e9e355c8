/*-------------------------------------------------------------------------
 *
 * protect.c
 *	  Protections: which of a user's protections lock trading after a close, and until when
 *	  (docs/protections.md). The rules follow freqtrade's protections (CooldownPeriod, StoplossGuard,
 *	  MaxDrawdown, LowProfitPairs), evaluated after every close on the bar clock (the bar the trade
 *	  closed on), so that a backtest and the live dispatcher replaying the same bars lock the same
 *	  entries:
 *	    cooldown        after any exit: a lock for `bars` bars of the closed trade's timeframe
 *	    stoploss_guard  when the close is a stop-out and the window (the lookback up to the close)
 *	                    holds at least trade_limit stop-outs: a lock for lock_minutes
 *	    max_drawdown    when the window holds at least trade_limit closes and the running sum of their
 *	                    net P&L fell from a peak (0 at the window's start) by threshold or more
 *	    low_profit      when the window holds at least trade_limit closes and their net P&L sums to
 *	                    less than threshold
 *	  A window is (close - lookback, close]: the close that triggers the check is always in it.
 *
 *	  One decision for every path: protection_decide is called by the backtest (ext/backtest.c) with
 *	  its own closes, and by ex7.protection_decide, the SQL face the live paths use
 *	  (ext/sql/81_protections.sql: ex7._protections_after_close), with the closes read from ex7.signals.
 *
 *-------------------------------------------------------------------------
 */
#include "ex7.h"
#include "protect.h"

#include "access/htup_details.h"
#include "catalog/pg_type.h"
#include "fmgr.h"
#include "funcapi.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/timestamp.h"

static const char *const kind_names[] = {"cooldown", "stoploss_guard", "max_drawdown", "low_profit"};

/* protection_kind: the kind named name; raises X7422 for any other name */
ProtectionKind
protection_kind(const char *name)
{
	for (int i = 0; i < (int) lengthof(kind_names); i++)
		if (strcmp(name, kind_names[i]) == 0)
			return (ProtectionKind) i;
	ereport(ERROR,
			(errcode(ERRCODE_EX7_INVALID),
			 errmsg("unknown protection kind \"%s\"", name)));
	pg_unreachable();
}

const char *
protection_kind_name(ProtectionKind kind)
{
	return kind_names[kind];
}

static bool
num_less(Numeric a, Numeric b)
{
	return DatumGetInt32(DirectFunctionCall2(numeric_cmp, NumericGetDatum(a), NumericGetDatum(b))) < 0;
}

static Numeric
num_plus(Numeric a, Numeric b)
{
	return numeric_add_opt_error(a, b, NULL);
}

/*
 * protection_decide: returns true, filling *lock, when protection p locks trading after the close
 * closes[n - 1]. closes are the closes p watches, oldest first, up to and including that one; bar_usec
 * is the length of the closed trade's timeframe (cooldown counts in its bars).
 */
bool
protection_decide(const Protection *p, const ProtectionClose *closes, int n, int64 bar_usec,
				  ProtectionLock *lock)
{
	TimestampTz now;
	int			first;
	int			count;
	int			stops = 0;
	Numeric		sum;
	Numeric		peak;
	Numeric		dd;

	if (n < 1)
		return false;
	now = closes[n - 1].at;

	if (p->kind == PROTECT_COOLDOWN)
	{
		lock->until = now + (int64) p->bars * bar_usec;
		lock->observed = pstrdup("exit");
		lock->limit = psprintf("%d bars", p->bars);
		return true;
	}

	/* the window (now - lookback, now] */
	for (first = n - 1; first > 0 && closes[first - 1].at > now - p->lookback_usec; first--)
		;
	count = n - first;
	lock->until = now + p->lock_usec;

	switch (p->kind)
	{
		case PROTECT_STOPLOSS_GUARD:
			if (!closes[n - 1].stop_loss)
				return false;
			for (int i = first; i < n; i++)
				stops += closes[i].stop_loss ? 1 : 0;
			if (stops < p->trade_limit)
				return false;
			lock->observed = psprintf("%d", stops);
			lock->limit = psprintf("%d", p->trade_limit);
			return true;

		case PROTECT_MAX_DRAWDOWN:
			if (count < p->trade_limit)
				return false;
			sum = int64_to_numeric(0);
			peak = sum;
			dd = sum;
			for (int i = first; i < n; i++)
			{
				sum = num_plus(sum, closes[i].net);
				if (num_less(peak, sum))
					peak = sum;
				else
				{
					Numeric		d = numeric_sub_opt_error(peak, sum, NULL);

					if (num_less(dd, d))
						dd = d;
				}
			}
			if (num_less(dd, p->threshold))
				return false;
			lock->observed = ex7_money_text(dd);
			lock->limit = ex7_money_text(p->threshold);
			return true;

		case PROTECT_LOW_PROFIT:
			if (count < p->trade_limit)
				return false;
			sum = int64_to_numeric(0);
			for (int i = first; i < n; i++)
				sum = num_plus(sum, closes[i].net);
			if (!num_less(sum, p->threshold))
				return false;
			lock->observed = ex7_money_text(sum);
			lock->limit = ex7_money_text(p->threshold);
			return true;

		case PROTECT_COOLDOWN:
			break;
	}
	return false;
}

/* interval_usec: an interval as microseconds, months as 30 days (the rules use minutes and bars) */
static int64
interval_usec(Interval *iv)
{
	return iv->time + (int64) iv->day * USECS_PER_DAY + (int64) iv->month * 30 * USECS_PER_DAY;
}

/*
 * ex7.protection_decide(kind text, bars int, trade_limit int, lookback interval, lock interval,
 *                       threshold numeric, bar interval, close_at timestamptz[], close_net numeric[],
 *                       close_stop boolean[], OUT until timestamptz, OUT observed text, OUT "limit" text)
 *
 * The SQL face of protection_decide: the row (until, observed, limit) of the lock, or NULL when the
 * protection does not lock. The arrays are the closes the protection watches, oldest first, the last
 * being the close just made; they must have the same length, without NULLs.
 */
PG_FUNCTION_INFO_V1(protection_decide_sql);
Datum
protection_decide_sql(PG_FUNCTION_ARGS)
{
	Protection	p = {0};
	ArrayType  *a_at,
			   *a_net,
			   *a_stop;
	Datum	   *at,
			   *net,
			   *stop;
	bool	   *nulls;
	int			n,
				n2,
				n3;
	ProtectionClose *closes;
	ProtectionLock lock;
	TupleDesc	tupdesc;
	Datum		values[3];
	bool		isnull[3] = {false, false, false};

	if (PG_ARGISNULL(0) || PG_ARGISNULL(6) || PG_ARGISNULL(7) || PG_ARGISNULL(8) || PG_ARGISNULL(9))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("protection_decide needs a kind, a bar length and the closes")));
	p.kind = protection_kind(text_to_cstring(PG_GETARG_TEXT_PP(0)));
	p.bars = PG_ARGISNULL(1) ? 0 : PG_GETARG_INT32(1);
	p.trade_limit = PG_ARGISNULL(2) ? 1 : PG_GETARG_INT32(2);
	p.lookback_usec = PG_ARGISNULL(3) ? 0 : interval_usec(PG_GETARG_INTERVAL_P(3));
	p.lock_usec = PG_ARGISNULL(4) ? 0 : interval_usec(PG_GETARG_INTERVAL_P(4));
	p.threshold = PG_ARGISNULL(5) ? NULL : PG_GETARG_NUMERIC(5);
	if ((p.kind == PROTECT_COOLDOWN && p.bars < 1) ||
		(p.kind != PROTECT_COOLDOWN && (p.lookback_usec <= 0 || p.lock_usec <= 0 || p.trade_limit < 1)) ||
		((p.kind == PROTECT_MAX_DRAWDOWN || p.kind == PROTECT_LOW_PROFIT) && p.threshold == NULL))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("protection %s is missing a parameter", protection_kind_name(p.kind))));

	a_at = PG_GETARG_ARRAYTYPE_P(7);
	a_net = PG_GETARG_ARRAYTYPE_P(8);
	a_stop = PG_GETARG_ARRAYTYPE_P(9);
	deconstruct_array(a_at, TIMESTAMPTZOID, sizeof(TimestampTz), true, TYPALIGN_DOUBLE, &at, &nulls, &n);
	for (int i = 0; i < n; i++)
		if (nulls[i])
			goto null_element;
	deconstruct_array(a_net, NUMERICOID, -1, false, TYPALIGN_INT, &net, &nulls, &n2);
	for (int i = 0; i < n2; i++)
		if (nulls[i])
			goto null_element;
	deconstruct_array(a_stop, BOOLOID, 1, true, TYPALIGN_CHAR, &stop, &nulls, &n3);
	for (int i = 0; i < n3; i++)
		if (nulls[i])
			goto null_element;
	if (n != n2 || n != n3)
		ereport(ERROR,
				(errcode(ERRCODE_ARRAY_SUBSCRIPT_ERROR),
				 errmsg("protection_decide: the close arrays differ in length")));

	closes = palloc(sizeof(ProtectionClose) * Max(n, 1));
	for (int i = 0; i < n; i++)
	{
		closes[i].at = DatumGetTimestampTz(at[i]);
		closes[i].net = DatumGetNumeric(net[i]);
		closes[i].stop_loss = DatumGetBool(stop[i]);
		if (i > 0 && closes[i].at < closes[i - 1].at)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("protection_decide: the closes must be oldest first")));
	}
	if (!protection_decide(&p, closes, n, interval_usec(PG_GETARG_INTERVAL_P(6)), &lock))
		PG_RETURN_NULL();

	if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "protection_decide must return a record");
	tupdesc = BlessTupleDesc(tupdesc);
	values[0] = TimestampTzGetDatum(lock.until);
	values[1] = CStringGetTextDatum(lock.observed);
	values[2] = CStringGetTextDatum(lock.limit);
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(tupdesc, values, isnull)));

null_element:
	ereport(ERROR,
			(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
			 errmsg("protection_decide: a close has a NULL element")));
	pg_unreachable();
}
