/*-------------------------------------------------------------------------
 *
 * fills.c
 *	  The per-bar decision of a strategy: brackets, exit nodes, the entry and its brackets. One
 *	  routine, fills_decide, for the live dispatcher (through ex7._fill_decide) and the backtest
 *	  (ext/backtest.c).
 *
 * Open signals exit on an exit node, a stop or a target touched by the bar (the close price is the
 * stop/target level; P&L through compute_pnl; close_reason says which): docs/dispatcher.md, "One
 * bar". A backtest uses the same fills (stop/target levels, next-bar rules as live), with no second
 * implementation of anything the live path does: docs/backtests.md, "One implementation of the live
 * path". The steps, in order (docs/dispatcher.md):
 *
 *	 1. brackets: every position opened on an earlier bar closes at its stop when the bar touched
 *		it (low <= stop for a long, high >= stop for a short), else at its target when touched.
 *		A bar that touched both closes at the stop: the order inside a bar is unknown, and the
 *		worse case is what backtesters assume by default;
 *	 2. exit nodes: exit_long / exit_short close what is still open on that side (opened on an
 *		earlier bar) at the bar's close;
 *	 3. an entry: skipped when both sides fire on the bar, while the runtime drains, while the
 *		graph warms up, or when a position of the same side is open (one position per strategy
 *		and mode); a position of the other side is closed first (reverse) at the bar's close. The
 *		entry price is the bar's close; stop and target are it -/+ ticks * tick_size (a level at
 *		or below zero is dropped: it could never be touched on a positive price grid).
 *
 * Every price is an exact numeric; nothing here reads or writes a table.
 *
 *-------------------------------------------------------------------------
 */
#include "ex7.h"
#include "fills.h"

#include "catalog/pg_type.h"
#include "fmgr.h"
#include "funcapi.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/fmgrprotos.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"

const char *const fill_reason_names[] = {
	[FILL_OPEN] = NULL,
	[FILL_STOP_LOSS] = "stop_loss",
	[FILL_TAKE_PROFIT] = "take_profit",
	[FILL_EXIT_SIGNAL] = "exit_signal",
	[FILL_REVERSE] = "reverse",
};

static inline int
ncmp(Numeric a, Numeric b)
{
	return DatumGetInt32(DirectFunctionCall2(numeric_cmp, NumericGetDatum(a), NumericGetDatum(b)));
}

/*
 * bracket_level: returns close +/- ticks * tick_size (dir = +1 adds), or NULL when that is at or
 * below zero.
 */
static Numeric
bracket_level(Numeric close, int dir, int32 ticks, Numeric tick_size)
{
	Numeric		move = numeric_mul_opt_error(int64_to_numeric(ticks), tick_size, NULL);
	Numeric		level = dir > 0 ? numeric_add_opt_error(close, move, NULL)
		: numeric_sub_opt_error(close, move, NULL);

	if (ncmp(level, int64_to_numeric(0)) <= 0)
		return NULL;
	return level;
}

/*
 * fills_decide: decides one bar for the positions pos[0..npos-1] (in the order they opened) given
 * the bar's high, low and close, the instrument's tick size and the graph's actions sig. Sets
 * pos[i].closed and close_price for every position the bar closes and fills out: the closes in
 * order (brackets, then exits, then reversals, each in position order), the verdict, and for an
 * entry its side, size and bracket levels. out->close_order must have room for npos entries.
 */
void
fills_decide(FillPosition *pos, int npos, Numeric high, Numeric low, Numeric close,
			 Numeric tick_size, const FillSignal *sig, bool draining, FillDecision *out)
{
	bool		open_long = false,
				open_short = false;
	int			side;

	out->nclosed = 0;
	out->skip_reason = NULL;
	out->side = 0;
	out->size = 0;
	out->stop = NULL;
	out->target = NULL;

	/* 1. brackets */
	for (int i = 0; i < npos; i++)
	{
		FillPosition *p = &pos[i];

		p->closed = FILL_OPEN;
		p->close_price = NULL;
		if (!p->earlier)
			continue;
		if (p->stop != NULL &&
			(p->side > 0 ? ncmp(low, p->stop) <= 0 : ncmp(high, p->stop) >= 0))
		{
			p->closed = FILL_STOP_LOSS;
			p->close_price = p->stop;
		}
		else if (p->target != NULL &&
				 (p->side > 0 ? ncmp(high, p->target) >= 0 : ncmp(low, p->target) <= 0))
		{
			p->closed = FILL_TAKE_PROFIT;
			p->close_price = p->target;
		}
		if (p->closed != FILL_OPEN)
			out->close_order[out->nclosed++] = i;
		else
		{
			open_long = open_long || p->side > 0;
			open_short = open_short || p->side < 0;
		}
	}

	/* 2. exit nodes, on what is still open on their side from an earlier bar */
	if ((open_long && sig->exit_long) || (open_short && sig->exit_short))
	{
		for (int i = 0; i < npos; i++)
		{
			FillPosition *p = &pos[i];

			if (p->closed != FILL_OPEN || !p->earlier)
				continue;
			if ((p->side > 0 && sig->exit_long) || (p->side < 0 && sig->exit_short))
			{
				p->closed = FILL_EXIT_SIGNAL;
				p->close_price = close;
				out->close_order[out->nclosed++] = i;
			}
		}
	}
	out->nreported = out->nclosed;

	/* 3. an entry */
	if (sig->long_size <= 0 && sig->short_size <= 0)
	{
		out->verdict = out->nclosed > 0 ? FILL_EXIT : FILL_NO_SIGNAL;
		return;
	}
	out->verdict = FILL_SKIPPED;
	if (sig->long_size > 0 && sig->short_size > 0)
	{
		out->skip_reason = "long_and_short_entries_on_one_bar";
		return;
	}
	if (draining)
	{
		out->skip_reason = "runtime_draining";
		return;
	}
	if (!sig->warm)
	{
		out->skip_reason = "warming_up";
		return;
	}
	side = sig->long_size > 0 ? 1 : -1;
	for (int i = 0; i < npos; i++)
	{
		if (pos[i].closed == FILL_OPEN && pos[i].side == side)
		{
			out->skip_reason = "position_open";
			return;
		}
	}
	for (int i = 0; i < npos; i++)
	{
		if (pos[i].closed == FILL_OPEN && pos[i].side != side)
		{
			pos[i].closed = FILL_REVERSE;
			pos[i].close_price = close;
			out->close_order[out->nclosed++] = i;
		}
	}
	out->verdict = FILL_ENTER;
	out->side = side;
	out->size = side > 0 ? sig->long_size : sig->short_size;
	if (sig->stop_ticks > 0)
		out->stop = bracket_level(close, -side, sig->stop_ticks, tick_size);
	if (sig->target_ticks > 0)
		out->target = bracket_level(close, side, sig->target_ticks, tick_size);
}

/* ------------------------------------------------------------------------------------------------
 * ex7._fill_decide: the live dispatcher's call.
 * -------------------------------------------------------------------------------------------------
 * */

static JsonbValue *
ev_get(Jsonb *ev, const char *key)
{
	JsonbValue	k;

	k.type = jbvString;
	k.val.string.val = (char *) key;
	k.val.string.len = strlen(key);
	return findJsonbValueFromContainer(&ev->root, JB_FOBJECT, &k);
}

static bool
ev_bool(Jsonb *ev, const char *key)
{
	JsonbValue *v = ev_get(ev, key);

	return v != NULL && v->type == jbvBool && v->val.boolean;
}

/* ev_int: a positive integer field of the result (a size or a tick count), 0 when null or absent */
static int32
ev_int(Jsonb *ev, const char *key)
{
	JsonbValue *v = ev_get(ev, key);

	if (v == NULL || v->type != jbvNumeric)
		return 0;
	return DatumGetInt32(DirectFunctionCall1(numeric_int4, NumericGetDatum(v->val.numeric)));
}

/*
 * array_items: deconstructs a one-dimensional array argument (NULL: empty) and checks its length.
 */
static void
array_items(FunctionCallInfo fcinfo, int arg, Oid elemtype, int expect, Datum **items,
			bool **nulls)
{
	ArrayType  *a;
	int16		typlen;
	bool		typbyval;
	char		typalign;
	int			n;

	*items = NULL;
	*nulls = NULL;
	if (PG_ARGISNULL(arg))
	{
		if (expect != 0)
			elog(ERROR, "ex7._fill_decide: array arguments of unequal length");
		return;
	}
	a = PG_GETARG_ARRAYTYPE_P(arg);
	get_typlenbyvalalign(elemtype, &typlen, &typbyval, &typalign);
	deconstruct_array(a, elemtype, typlen, typbyval, typalign, items, nulls, &n);
	if (n != expect)
		elog(ERROR, "ex7._fill_decide: array arguments of unequal length");
}

/* the SQL arguments of ex7._fill_decide */
#define FD_SIDES		0
#define FD_EARLIER		1
#define FD_STOPS		2
#define FD_TARGETS		3
#define FD_HIGH			4
#define FD_LOW			5
#define FD_CLOSE		6
#define FD_TICK			7
#define FD_EV			8
#define FD_DRAINING		9
/* the result columns */
#define FD_NCOLUMNS		9

/*
 * fill_decide: ex7._fill_decide(p_sides text[], p_earlier boolean[], p_stops numeric[],
 * p_targets numeric[], p_high, p_low, p_close, p_tick numeric, p_ev jsonb, p_draining boolean).
 * The open signals come as parallel arrays in the order they opened (NULL arrays: none); p_ev is
 * ex7._evaluate's result for the bar. Returns (closes int[] (1-based indexes in close order),
 * close_prices numeric[], close_reasons text[], decision text (no_signal, exit, skipped, enter),
 * reason text, side text, size int, stop_price numeric, target_price numeric).
 */
PG_FUNCTION_INFO_V1(fill_decide);
Datum
fill_decide(PG_FUNCTION_ARGS)
{
	TupleDesc	tupdesc;
	Jsonb	   *ev;
	Datum	   *sides,
			   *earlier,
			   *stops,
			   *targets;
	bool	   *sides_n,
			   *earlier_n,
			   *stops_n,
			   *targets_n;
	int			npos;
	FillPosition *pos;
	FillSignal	sig;
	FillDecision d;
	Datum		values[FD_NCOLUMNS];
	bool		nulls[FD_NCOLUMNS] = {false};
	Datum	   *c_idx,
			   *c_price,
			   *c_reason;
	static const char *const verdicts[] = {"no_signal", "exit", "skipped", "enter"};

	for (int a = FD_HIGH; a <= FD_DRAINING; a++)
		if (PG_ARGISNULL(a))
			elog(ERROR, "ex7._fill_decide: argument %d is null", a + 1);
	if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "return type must be a row type");
	tupdesc = BlessTupleDesc(tupdesc);

	npos = PG_ARGISNULL(FD_SIDES) ? 0 : ArrayGetNItems(ARR_NDIM(PG_GETARG_ARRAYTYPE_P(FD_SIDES)),
													   ARR_DIMS(PG_GETARG_ARRAYTYPE_P(FD_SIDES)));
	array_items(fcinfo, FD_SIDES, TEXTOID, npos, &sides, &sides_n);
	array_items(fcinfo, FD_EARLIER, BOOLOID, npos, &earlier, &earlier_n);
	array_items(fcinfo, FD_STOPS, NUMERICOID, npos, &stops, &stops_n);
	array_items(fcinfo, FD_TARGETS, NUMERICOID, npos, &targets, &targets_n);
	pos = palloc0(sizeof(FillPosition) * Max(npos, 1));
	for (int i = 0; i < npos; i++)
	{
		if (sides_n[i] || earlier_n[i])
			elog(ERROR, "ex7._fill_decide: null side or earlier");
		pos[i].side = strcmp(TextDatumGetCString(sides[i]), "long") == 0 ? 1 : -1;
		pos[i].earlier = DatumGetBool(earlier[i]);
		pos[i].stop = stops_n[i] ? NULL : DatumGetNumeric(stops[i]);
		pos[i].target = targets_n[i] ? NULL : DatumGetNumeric(targets[i]);
	}

	ev = PG_GETARG_JSONB_P(FD_EV);
	sig.warm = ev_bool(ev, "warm");
	sig.conflict = ev_bool(ev, "conflict");
	sig.exit_long = ev_bool(ev, "exit_long");
	sig.exit_short = ev_bool(ev, "exit_short");
	sig.long_size = ev_int(ev, "enter_long");
	sig.short_size = ev_int(ev, "enter_short");
	sig.stop_ticks = ev_int(ev, "stop_loss_ticks");
	sig.target_ticks = ev_int(ev, "take_profit_ticks");

	d.close_order = palloc(sizeof(int) * Max(npos, 1));
	fills_decide(pos, npos, PG_GETARG_NUMERIC(FD_HIGH), PG_GETARG_NUMERIC(FD_LOW),
				 PG_GETARG_NUMERIC(FD_CLOSE), PG_GETARG_NUMERIC(FD_TICK), &sig,
				 PG_GETARG_BOOL(FD_DRAINING), &d);

	c_idx = palloc(sizeof(Datum) * Max(d.nclosed, 1));
	c_price = palloc(sizeof(Datum) * Max(d.nclosed, 1));
	c_reason = palloc(sizeof(Datum) * Max(d.nclosed, 1));
	for (int k = 0; k < d.nclosed; k++)
	{
		FillPosition *p = &pos[d.close_order[k]];

		c_idx[k] = Int32GetDatum(d.close_order[k] + 1);
		c_price[k] = NumericGetDatum(p->close_price);
		c_reason[k] = CStringGetTextDatum(fill_reason_names[p->closed]);
	}
	values[0] = PointerGetDatum(construct_array(c_idx, d.nclosed, INT4OID, 4, true, TYPALIGN_INT));
	values[1] = PointerGetDatum(construct_array(c_price, d.nclosed, NUMERICOID, -1, false,
												TYPALIGN_INT));
	values[2] = PointerGetDatum(construct_array(c_reason, d.nclosed, TEXTOID, -1, false,
												TYPALIGN_INT));
	values[3] = CStringGetTextDatum(verdicts[d.verdict]);
	nulls[4] = d.skip_reason == NULL;
	values[4] = nulls[4] ? (Datum) 0 : CStringGetTextDatum(d.skip_reason);
	nulls[5] = d.verdict != FILL_ENTER;
	values[5] = nulls[5] ? (Datum) 0 : CStringGetTextDatum(d.side > 0 ? "long" : "short");
	nulls[6] = d.verdict != FILL_ENTER;
	values[6] = Int32GetDatum(d.size);
	nulls[7] = d.stop == NULL;
	values[7] = NumericGetDatum(d.stop);
	nulls[8] = d.target == NULL;
	values[8] = NumericGetDatum(d.target);
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(tupdesc, values, nulls)));
}
