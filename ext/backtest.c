/*-------------------------------------------------------------------------
 *
 * backtest.c
 *	  Backtests: a strategy version run over the stored bars of a range with the live path's
 *	  pieces: the same compiled graph (graph_compile, graph_run, graph_actions), the same
 *	  decision (fills_decide, ext/fills.c: brackets at their levels, exit nodes, entries on the
 *	  bar's close with the skip rules and reversals), the same P&L (ex7.compute_pnl's formula,
 *	  pnl_compute, ext/pnl.h) and optionally the same risk gate (ex7.risk_decide on the backtest's
 *	  own day).
 *
 * The rule (docs/backtests.md, "One implementation of the live path"): a backtest runs a strategy
 * version over the stored bars of a date range with the same compiled graph, the same fills
 * (stop/target levels, next-bar rules as live), the same compute_pnl with slippage and commission,
 * optionally the same risk gate; there is no second implementation of anything the live path does.
 *
 * Bars are streamed: read in chunks of BT_CHUNK from ex7.bar_blocks, the columnar copy of ex7.bars
 * kept in the same transactions (ext/barblocks.c: doubles for the graph, exact prices for the fills
 * only where something may happen), with the graph's lookback of history kept from one chunk to the
 * next; trades and the curve are stored every BT_FLUSH_ROWS. Memory does not grow with the number
 * of bars. Each bar of the range is evaluated on
 *	  exact: the window ex7._evaluate reads for it (its lookback of bars up to it), so its values,
 *		   and the decisions, are those the live dispatcher computes on that bar;
 *	  fast:  the chunk it is in, with a lookback of history before the chunk: one graph run per
 *		   chunk. A bar's values then rest on more history than live's window (at least the
 *		   lookback), which changes smoothed values by less than their settling residual
 *		   (SMOOTHING_RESIDUAL, graph.h).
 *
 * SQL functions (ext/sql/67_backtest.sql): backtest_exec (ex7._backtest_exec), backtest_launch
 * (ex7._backtest_launch); the background worker's entry point backtest_worker_main.
 *
 * Every statement on a backtest's rows names its user as well as its id (user_id = $1 AND id = $2):
 * the tables are keyed and, on Citus, distributed by user (docs/scale-out.md), so the user is what
 * finds the rows' shard and index. Clock readings go in as parameters, not as clock_timestamp() in
 * the UPDATE: Citus refuses VOLATILE functions in an UPDATE of a distributed table.
 *
 *-------------------------------------------------------------------------
 */
#include "ex7.h"
#include "backtest.h"
#include "barblocks.h"
#include "fills.h"
#include "graph.h"
#include "pnl.h"
#include "protect.h"

#include <math.h>

#include "access/xact.h"
#include "common/int.h"
#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "nodes/makefuncs.h"
#include "parser/parse_func.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "storage/ipc.h"
#include "storage/lmgr.h"
#include "storage/proc.h"
#include "tcop/tcopprot.h"
#include "utils/acl.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/datum.h"
#include "utils/fmgrprotos.h"
#include "utils/json.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"
#include "utils/uuid.h"

/* bars read per query: 8192 rows of 9 columns are under 1 MB of tuples */
#define BT_CHUNK			8192
/* a background run commits its progress at least every this many bars */
#define BT_PROGRESS_BARS	(8 * BT_CHUNK)
/* pending trades and curve points are stored once there are this many (a chunk row per table): a
 * bounded buffer, and rows of a few thousand elements cost little more per element than larger ones */
#define BT_FLUSH_ROWS		4096
/* positions open at once: one per side at most (an entry of the side already open is skipped) */
#define BT_MAX_POSITIONS	2
/* skip reasons of fills_decide counted in the summary */
#define BT_NSKIP			4
static const char *const skip_names[BT_NSKIP] = {
	"warming_up", "position_open", "long_and_short_entries_on_one_bar", "runtime_draining"
};
/* breakers of ex7.risk_decide (ext/risk.c), in its order */
#define BT_NBREAKERS		4
static const char *const breaker_names[BT_NBREAKERS] = {
	"daily_loss_limit", "max_trades_per_day", "max_open_positions", "max_consecutive_losses"
};
/* the next trading day starts 23 to 25 hours after one (DST); 26 hours always lands in it */
#define BT_DAY_PROBE		((int64) 26 * USECS_PER_HOUR)

typedef struct BtPosition
{
	FillPosition fp;			/* side, stop, target (in BtState.cxt) */
	Numeric		entry;
	double		entry_d;
	int32		size;
	TimestampTz entry_ts;
	double		stop_d;			/* the levels as doubles (NaN: none), for bar_quiet */
	double		target_d;
	double		best;			/* largest favourable excursion so far, in points */
	double		worst;			/* largest adverse excursion so far, in points (>= 0) */
	/* the entry as an exact mantissa for the per-bar mark (mark_bar): 0 not read yet, 1 entry =
	 * entry_m / 10^entry_dscale, -1 it has none (the mark goes through Numeric) */
	int8		entry_md;
	uint8		entry_dscale;
	int64		entry_m;
} BtPosition;

/*
 * Rows waiting to be stored: the trades and equity points of a chunk of the run go into one row of
 * backtest_trade_chunks / backtest_equity_chunks, one array per column (ext/sql/66_backtest_schema.sql:
 * a row per trade cost about 4 us to store).
 */
#define BT_MAX_COLS			16
typedef struct BtRows
{
	int			ncols;
	Oid			types[BT_MAX_COLS];
	int16		typlen[BT_MAX_COLS];
	bool		typbyval[BT_MAX_COLS];
	char		typalign[BT_MAX_COLS];
	int			n;
	int			cap;
	int32		first_seq;		/* the seq of the first pending row */
	Datum	   *vals[BT_MAX_COLS];
	bool	   *nulls[BT_MAX_COLS];
	SPIPlanPtr	plan;
} BtRows;

typedef struct BtState
{
	MemoryContext cxt;			/* everything that lives as long as the run */
	bool		keep_plans;		/* a background run: statements outlive its transactions */
	MemoryContext bar_cxt;		/* reset on every bar */
	pg_uuid_t	id;
	Datum		user_id;		/* uuid */
	text	   *instrument;
	text	   *timeframe;
	TimestampTz range_from;
	TimestampTz range_to;
	bool		exact;
	bool		keep_trades;	/* store the trades and the whole curve (false: a study trial's, which
								 * stores no trade and a daily curve, docs/research.md) */
	bool		risk_gate;
	GraphPlan  *plan;
	int			lookback;
	Numeric		tick_size;
	double		tick_d;
	Numeric		tick_value;
	Numeric		capital;

	/* the bar buffer: up to lookback - 1 bars of history, then the current chunk */
	int			cap;
	int			n;
	bool		from_start;		/* buffer[0] is the first bar of the series (fewer existed) */
	int64		dropped;		/* bars dropped from the front so far */
	TimestampTz *ts;
	double	   *open;
	double	   *high;
	double	   *low;
	double	   *close;
	double	   *volume;
	/*
	 * The chunk's rows: exact prices are fetched only for bars where something may happen
	 * (bar_quiet), and for the previous close when a day-end sample needs it.
	 */
	BarExact   *prices;			/* their exact high, low and close (ext/barblocks.h) */
	int			prev_r;			/* the chunk row of the previous bar, or -1 */
	Numeric		cur_close;		/* the current bar's exact close once fetched, else NULL */
	TimestampTz last_ts;		/* the newest bar read */
	bool		done;			/* no more bars in the range */

	/* the previous bar of the range: its day and close (for the day-end sample) */
	bool		have_prev;
	TimestampTz prev_ts;
	Numeric		prev_close;		/* NULL until fetched (prev_close_exact); in cxt when carried over a
								 * chunk boundary */

	BtPosition	pos[BT_MAX_POSITIONS];
	int			npos;

	/* money and the summary */
	Numeric		realized;		/* net P&L of closed trades */
	Numeric		gross_profit;
	Numeric		gross_loss;
	Numeric		peak;			/* highest marked equity so far (from the initial capital) */
	Numeric		max_drawdown;	/* over the equity marked at every bar close (mark_bar) */
	Numeric		last_equity;
	TimestampTz last_sample_ts;
	bool		sampled;
	/* a daily curve (!keep_trades): the latest sample, stored once the next one shows it ends a day */
	TimestampTz pend_ts;
	Numeric		pend_equity;	/* NULL: none pending */
	bool		pend_first_stored;
	int64		bars;
	int64		entries;
	int64		trades;
	int64		wins;
	int64		losses;
	int64		skipped[BT_NSKIP];
	int64		blocked[BT_NBREAKERS];
	int32		equity_seq;
	int64		flushed_bars;

	/*
	 * The per-bar marks not yet folded into peak and max_drawdown (mark_bar, mark_fold): while the
	 * realized P&L does not change, the equity at a bar close is capital + realized + tick_value * T
	 * with T the open positions' whole ticks times their sizes, so the bars since the last fold are
	 * summed up by three integers: T's least and greatest values and its largest fall from a
	 * running high.
	 */
	bool		tick_md;		/* tick_size = tick_m / 10^tick_dscale (else every mark is a Numeric) */
	uint8		tick_dscale;
	int64		tick_m;
	double		capital_d;		/* capital, tick_value, peak and max_drawdown as doubles: mark_fold's */
	double		tick_value_d;	/* filter (each within rounding of its numeric) */
	double		peak_d;
	double		max_drawdown_d;
	bool		seg_open;		/* some marks are not folded yet */
	int64		seg_min;
	int64		seg_max;
	int64		seg_fall;

	/* the risk gate's day (only with risk_gate) */
	Datum		limits[4];		/* daily_loss_limit numeric, max trades, max open, max consecutive */
	TimestampTz day_start;
	TimestampTz day_next;
	Numeric		day_realized;
	int64		day_trades;
	int64		day_consec;

	/*
	 * Protections (docs/protections.md), with risk_gate: the user's enabled paper protections whose
	 * scope holds the strategy, decided after every close by protection_decide (ext/protect.c), the
	 * live path's code, over this run's closes. Locks are kept here, not written: the latest expiry
	 * and its kind; an entry on a bar before it is refused.
	 */
	int			nprot;
	Protection *prot;
	int64		prot_lookback;	/* the longest lookback: closes older than it are dropped */
	int64		bar_usec;		/* the strategy's timeframe (cooldown counts its bars) */
	ProtectionClose *closes;	/* this run's closes within prot_lookback, oldest first */
	int			nclose;
	int			close_cap;
	TimestampTz lock_until;		/* no lock before the first */
	ProtectionKind lock_kind;
	int64		blocked_lock[4];	/* entries refused by a lock, by the kind of the lock */

	/* the functions shared with the live path, called through fmgr (compute_pnl: pnl_compute) */
	FmgrInfo	day_fn;
	FmgrInfo	risk_fn;

	/* prepared statements (kept across the transactions of a background run) */
	SPIPlanPtr	progress_plan;
	MemoryContext rows_cxt;		/* the pending rows, reset when they are stored */
	BtRows		trade_rows;
	BtRows		equity;
	int64		t0;				/* start, for the timings */
	int64		store_us;		/* time spent storing trades and the curve */
} BtState;

/* ------------------------------------------------------------------------------------------------
 * Helpers.
 * -------------------------------------------------------------------------------------------------
 * */

static inline int
ncmp(Numeric a, Numeric b)
{
	return DatumGetInt32(DirectFunctionCall2(numeric_cmp, NumericGetDatum(a), NumericGetDatum(b)));
}

static inline Numeric
nadd(Numeric a, Numeric b)
{
	return numeric_add_opt_error(a, b, NULL);
}

static inline Numeric
nsub(Numeric a, Numeric b)
{
	return numeric_sub_opt_error(a, b, NULL);
}

static inline Numeric
nmul(Numeric a, Numeric b)
{
	return numeric_mul_opt_error(a, b, NULL);
}

static Numeric
ncopy_in(MemoryContext cxt, Numeric n)
{
	MemoryContext old = MemoryContextSwitchTo(cxt);
	Numeric		c = DatumGetNumeric(datumCopy(NumericGetDatum(n), false, -1));

	MemoryContextSwitchTo(old);
	return c;
}

/*
 * nset: replaces the run's number *slot (its own copy in the run's context, or NULL) with a copy of
 * n, freeing the old one: the summary's running numbers are replaced on every trade, and a million
 * bars must not keep every value they had.
 */
static void
nset(BtState *st, Numeric *slot, Numeric n)
{
	Numeric		c = ncopy_in(st->cxt, n);

	if (*slot != NULL)
		pfree(*slot);
	*slot = c;
}

static char *
ntext(Numeric n)
{
	return DatumGetCString(DirectFunctionCall1(numeric_out, NumericGetDatum(n)));
}

/* lookup: the oid of ex7.<name>(argtypes) */
static Oid
lookup(const char *name, int nargs, Oid *argtypes)
{
	return LookupFuncName(list_make2(makeString("ex7"), makeString((char *) name)), nargs, argtypes,
						  false);
}

static SPIPlanPtr prepare(BtState *st, const char *q, int nargs, Oid *types);

/* rows_init: the pending rows of an INSERT ... VALUES ($1 backtest id, $2 user id, $3 first seq, $4
 * the first column's array, ...) */
static void
rows_init(BtState *st, BtRows *r, int ncols, const Oid *types, const char *insert)
{
	Oid			argtypes[BT_MAX_COLS + 3];

	memset(r, 0, sizeof(*r));
	r->ncols = ncols;
	argtypes[0] = UUIDOID;
	argtypes[1] = UUIDOID;
	argtypes[2] = INT4OID;
	for (int c = 0; c < ncols; c++)
	{
		r->types[c] = types[c];
		get_typlenbyvalalign(types[c], &r->typlen[c], &r->typbyval[c], &r->typalign[c]);
		argtypes[c + 3] = get_array_type(types[c]);
	}
	r->plan = prepare(st, insert, ncols + 3, argtypes);
}

/* rows_add: appends row seq (the pending rows' seqs are consecutive; by-reference values are copied) */
static void
rows_add(BtState *st, BtRows *r, int32 seq, const Datum *vals, const bool *nulls)
{
	MemoryContext old = MemoryContextSwitchTo(st->rows_cxt);

	if (r->n == 0)
		r->first_seq = seq;
	Assert(seq == r->first_seq + r->n);
	if (r->n == r->cap)
	{
		int			cap = Max(r->cap * 2, 256);

		for (int c = 0; c < r->ncols; c++)
		{
			r->vals[c] = r->cap ? repalloc(r->vals[c], sizeof(Datum) * cap) : palloc(sizeof(Datum) * cap);
			r->nulls[c] = r->cap ? repalloc(r->nulls[c], sizeof(bool) * cap) : palloc(sizeof(bool) * cap);
		}
		r->cap = cap;
	}
	for (int c = 0; c < r->ncols; c++)
	{
		r->nulls[c][r->n] = nulls != NULL && nulls[c];
		r->vals[c][r->n] = r->nulls[c][r->n] ? (Datum) 0
			: datumCopy(vals[c], r->typbyval[c], r->typlen[c]);
	}
	r->n++;
	MemoryContextSwitchTo(old);
}

/* rows_flush: stores the pending rows as one chunk row */
static void
rows_flush(BtState *st, BtRows *r)
{
	Datum		args[BT_MAX_COLS + 3];
	MemoryContext old;

	if (r->n == 0)
		return;
	/* the arrays go with the pending rows (flush resets rows_cxt) */
	old = MemoryContextSwitchTo(st->rows_cxt);
	args[0] = UUIDPGetDatum(&st->id);
	args[1] = st->user_id;
	args[2] = Int32GetDatum(r->first_seq);
	for (int c = 0; c < r->ncols; c++)
	{
		int			dims[1] = {r->n};
		int			lbs[1] = {1};

		args[c + 3] = PointerGetDatum(construct_md_array(r->vals[c], r->nulls[c], 1, dims, lbs,
														 r->types[c], r->typlen[c], r->typbyval[c],
														 r->typalign[c]));
	}
	MemoryContextSwitchTo(old);
	if (SPI_execute_plan(r->plan, args, NULL, false, 0) != SPI_OK_INSERT)
		elog(ERROR, "could not store the backtest's rows");
	r->n = 0;
	r->cap = 0;
}

/* flush: stores every pending row */
static void
flush(BtState *st)
{
	TimestampTz t = GetCurrentTimestamp();

	rows_flush(st, &st->trade_rows);
	rows_flush(st, &st->equity);
	MemoryContextReset(st->rows_cxt);
	st->store_us += GetCurrentTimestamp() - t;
}

/* ------------------------------------------------------------------------------------------------
 * Money: trades, equity, the summary.
 * -------------------------------------------------------------------------------------------------
 * */

/*
 * unrealized: the gross P&L of the open positions marked at price (ticks * tick_value * size; no
 * costs until a position closes).
 */
static Numeric
unrealized(BtState *st, Numeric price)
{
	Numeric		sum = int64_to_numeric(0);

	for (int i = 0; i < st->npos; i++)
	{
		BtPosition *p = &st->pos[i];
		Numeric		move = p->fp.side > 0 ? nsub(price, p->entry) : nsub(p->entry, price);
		Numeric		ticks = DatumGetNumeric(DirectFunctionCall2(numeric_div_trunc,
																NumericGetDatum(move),
																NumericGetDatum(st->tick_size)));

		sum = nadd(sum, nmul(nmul(ticks, st->tick_value), int64_to_numeric(p->size)));
	}
	return sum;
}

/* set_peak, set_max_drawdown: nset, with the double beside the number (mark_fold's filter) */
static void
set_peak(BtState *st, Numeric n)
{
	nset(st, &st->peak, n);
	st->peak_d = numeric_to_double(st->peak);
}

static void
set_max_drawdown(BtState *st, Numeric n)
{
	nset(st, &st->max_drawdown, n);
	st->max_drawdown_d = numeric_to_double(st->max_drawdown);
}

/*
 * The drawdown (docs/backtests.md, "Fills and money"): the largest fall of the equity from its
 * running peak (from the initial capital), over the equity marked at every bar close while a
 * position is open (mark_bar) and at every point of the curve (sample). The curve itself keeps its
 * sampling (trade closes, UTC day ends, the start); the drawdown sees every bar.
 *
 * mark_fold: folds the marks of the bars since the last fold into peak and max_drawdown. Called
 * before the realized P&L changes (close_position) and before any other point (mark_point), so the
 * marks are taken in time order. With base = capital + realized and tv = tick_value > 0, the marks
 * are base + tv * T_j; the largest drawdown among them is the larger of peak - (base + tv * min T)
 * (against the peak before them) and tv * (the largest fall of T from its running high), and the
 * new peak the larger of the old one and base + tv * max T.
 */
static void
mark_fold(BtState *st)
{
	Numeric		base,
				dd,
				hi;
	double		base_d,
				hi_d,
				lo_d,
				margin;

	if (!st->seg_open)
		return;
	st->seg_open = false;

	/*
	 * Most folds change nothing (no new peak, no deeper drawdown): seen in doubles with a margin far
	 * above their rounding, they need no numeric. A doubt (or a NaN, an infinity) takes the exact way.
	 */
	base_d = st->capital_d + numeric_to_double(st->realized);
	hi_d = base_d + st->tick_value_d * (double) st->seg_max;
	lo_d = base_d + st->tick_value_d * (double) st->seg_min;
	margin = 1e-9 * (fabs(st->peak_d) + fabs(base_d) + fabs(hi_d) + fabs(lo_d) + st->max_drawdown_d) + 1e-9;
	if (hi_d < st->peak_d - margin && st->peak_d - lo_d < st->max_drawdown_d - margin &&
		st->tick_value_d * (double) st->seg_fall < st->max_drawdown_d - margin)
		return;

	base = nadd(st->capital, st->realized);
	dd = nsub(st->peak, nadd(base, nmul(st->tick_value, int64_to_numeric(st->seg_min))));
	if (st->seg_fall > 0)
	{
		Numeric		fall = nmul(st->tick_value, int64_to_numeric(st->seg_fall));

		if (ncmp(fall, dd) > 0)
			dd = fall;
	}
	if (ncmp(dd, st->max_drawdown) > 0)
		set_max_drawdown(st, dd);
	hi = nadd(base, nmul(st->tick_value, int64_to_numeric(st->seg_max)));
	if (ncmp(hi, st->peak) > 0)
		set_peak(st, hi);
}

/* mark_point: one equity value at the current time, after the marks before it */
static void
mark_point(BtState *st, Numeric equity)
{
	Numeric		dd;

	mark_fold(st);
	if (ncmp(equity, st->peak) > 0)
		set_peak(st, equity);
	dd = nsub(st->peak, equity);
	if (ncmp(dd, st->max_drawdown) > 0)
		set_max_drawdown(st, dd);
}

static int64 utc_day(TimestampTz ts);

/* store_point: appends a point to the stored curve */
static void
store_point(BtState *st, TimestampTz ts, Numeric equity)
{
	Datum		vals[2];

	vals[0] = TimestampTzGetDatum(ts);
	vals[1] = NumericGetDatum(equity);
	rows_add(st, &st->equity, ++st->equity_seq, vals, NULL);
}

/*
 * daily_point: the curve of a trial that keeps no trades is daily: its first point and every point that
 * is a UTC day's last, where a day is either [midnight, midnight) (ex7._backtest_daily_returns) or
 * (midnight, midnight] (ex7._study_trial_metrics): exactly the points those read of the whole curve, so
 * their figures are the same (sql/studies.sql compares). A point is held until the next one shows whether
 * it ends a day; a later figure for the same instant replaces it, as in sample(); bt_finish stores the
 * last one (daily_point_last).
 */
static void
daily_point(BtState *st, TimestampTz ts, Numeric equity)
{
	if (st->pend_equity != NULL && st->pend_ts == ts)
	{
		nset(st, &st->pend_equity, equity);
		return;
	}
	if (st->pend_equity != NULL &&
		(!st->pend_first_stored || utc_day(st->pend_ts) != utc_day(ts) ||
		 utc_day(st->pend_ts - 1) != utc_day(ts - 1)))
	{
		store_point(st, st->pend_ts, st->pend_equity);
		st->pend_first_stored = true;
	}
	st->pend_ts = ts;
	nset(st, &st->pend_equity, equity);
}

/* daily_point_last: stores the point daily_point holds, the curve's last */
static void
daily_point_last(BtState *st)
{
	if (st->pend_equity == NULL)
		return;
	store_point(st, st->pend_ts, st->pend_equity);
	pfree(st->pend_equity);
	st->pend_equity = NULL;
}

/*
 * sample: appends a point of the equity curve at ts (skipped when the last point has the same ts:
 * a day-end sample right after a trade close on the day's last bar repeats it) and follows the
 * drawdown. A trial that keeps no trades stores only its daily points (daily_point).
 */
static void
sample(BtState *st, TimestampTz ts, Numeric equity)
{
	if (!st->keep_trades)
	{
		daily_point(st, ts, equity);
		mark_point(st, equity);
		nset(st, &st->last_equity, equity);
		return;
	}
	if (st->sampled && st->last_sample_ts == ts)
	{
		BtRows	   *r = &st->equity;

		/*
		 * A second figure for the same instant is the later one: the end of the range closing at the last
		 * bar what that bar's own sample marked gross, so the curve ends at the final equity, net of the
		 * exit's costs. The point is still pending (a flush comes only after a whole chunk of bars): its
		 * equity is replaced; were it stored already, the later figure is a point of its own.
		 */
		if (r->n > 0)
		{
			MemoryContext old = MemoryContextSwitchTo(st->rows_cxt);

			r->vals[1][r->n - 1] = datumCopy(NumericGetDatum(equity), r->typbyval[1], r->typlen[1]);
			MemoryContextSwitchTo(old);
			mark_point(st, equity);
			nset(st, &st->last_equity, equity);
			return;
		}
	}
	st->sampled = true;
	st->last_sample_ts = ts;
	store_point(st, ts, equity);
	mark_point(st, equity);
	nset(st, &st->last_equity, equity);
}

/* powers of ten that fit in an int64, for the marks' common scale */
static const int64 pow10_i64[19] = {
	INT64CONST(1), INT64CONST(10), INT64CONST(100), INT64CONST(1000), INT64CONST(10000),
	INT64CONST(100000), INT64CONST(1000000), INT64CONST(10000000), INT64CONST(100000000),
	INT64CONST(1000000000), INT64CONST(10000000000), INT64CONST(100000000000),
	INT64CONST(1000000000000), INT64CONST(10000000000000), INT64CONST(100000000000000),
	INT64CONST(1000000000000000), INT64CONST(10000000000000000), INT64CONST(100000000000000000),
	INT64CONST(1000000000000000000)
};

/* rescale: *out = m * 10^(to - from), false on overflow */
static inline bool
rescale(int64 m, int from, int to, int64 *out)
{
	if (to - from >= (int) lengthof(pow10_i64))
		return false;
	return !pg_mul_s64_overflow(m, pow10_i64[to - from], out);
}

/*
 * position_ticks: *out = p's whole ticks at the close cm / 10^cd times its size, as unrealized()
 * computes them (the move over the tick size truncated toward zero), in exact integers. False when
 * they do not fit (the mark then goes through Numeric).
 */
static bool
position_ticks(BtState *st, BtPosition *p, int64 cm, int cd, int64 *out)
{
	int			d;
	int64		c,
				e,
				t,
				move;

	if (p->entry_md == 0)
		p->entry_md = numeric_md(NumericGetDatum(p->entry), &p->entry_m, &p->entry_dscale) ? 1 : -1;
	if (p->entry_md < 0)
		return false;
	d = Max(Max(cd, (int) p->entry_dscale), (int) st->tick_dscale);
	if (!rescale(cm, cd, d, &c) || !rescale(p->entry_m, p->entry_dscale, d, &e) ||
		!rescale(st->tick_m, st->tick_dscale, d, &t))
		return false;
	if (p->fp.side > 0 ? pg_sub_s64_overflow(c, e, &move) : pg_sub_s64_overflow(e, c, &move))
		return false;
	/* C division truncates toward zero, as numeric_div_trunc */
	return !pg_mul_s64_overflow(move / t, (int64) p->size, out);
}

/*
 * mark_bar: the equity at the close of chunk row r (buffer bar i) with the positions still open after
 * the bar's decision: capital + realized + the open positions marked gross at the close (unrealized()).
 * O(1) integer work and no allocation when the close, the entries and the tick size have exact int64
 * mantissas (a non-raw bar of the blocks); otherwise, or when an integer would overflow, the mark is
 * computed in Numeric (in the bar's memory) and taken as a point.
 */
static void
mark_bar(BtState *st, int r, int i)
{
	const BarExact *e = &st->prices[r];
	int64		sum = 0;
	bool		ok = st->tick_md && !e->raw;

	for (int k = 0; ok && k < st->npos; k++)
	{
		int64		ticks;

		ok = position_ticks(st, &st->pos[k], e->m[2], e->dscale[2], &ticks) &&
			!pg_add_s64_overflow(sum, ticks, &sum);
	}
	/* within +-2^61, so that the fall below a high (at most 2^62) fits too */
	if (ok && sum >= -(INT64CONST(1) << 61) && sum <= (INT64CONST(1) << 61))
	{
		if (!st->seg_open)
		{
			st->seg_open = true;
			st->seg_min = st->seg_max = sum;
			st->seg_fall = 0;
		}
		else
		{
			if (sum > st->seg_max)
				st->seg_max = sum;
			if (sum < st->seg_min)
				st->seg_min = sum;
			if (st->seg_max - sum > st->seg_fall)
				st->seg_fall = st->seg_max - sum;
		}
		return;
	}
	if (st->cur_close == NULL)
		st->cur_close = bar_exact_numeric(st->instrument, st->timeframe, st->ts[i], e, 2);
	mark_point(st, nadd(nadd(st->capital, st->realized), unrealized(st, st->cur_close)));
}

/* excursion_money: points of excursion as gross money: whole ticks * tick_value * size */
static Numeric
excursion_money(BtState *st, double points, int32 size)
{
	/* whole ticks (excursions are bounded by the prices: far inside int64) times the size, then one
	 * exact multiplication */
	int64		ticks = (int64) rint(Max(points, 0) / st->tick_d);

	return nmul(st->tick_value, int64_to_numeric(ticks * size));
}

/* day_roll: moves the risk gate's day to the trading day of ts (ex7.trading_day_start) */
static void
day_roll(BtState *st, TimestampTz ts)
{
	if (ts < st->day_next && ts >= st->day_start)
		return;
	st->day_start = DatumGetTimestampTz(FunctionCall1(&st->day_fn, TimestampTzGetDatum(ts)));
	st->day_next = DatumGetTimestampTz(FunctionCall1(&st->day_fn,
													 TimestampTzGetDatum(st->day_start +
																		 BT_DAY_PROBE)));
	nset(st, &st->day_realized, int64_to_numeric(0));
	st->day_trades = 0;
	st->day_consec = 0;
}

static void protect_after_close(BtState *st, TimestampTz ts, Numeric net, bool stop);

/*
 * close_position: closes position i at price on bar ts with reason: prices it with
 * ex7.compute_pnl, stores the trade, updates the summary and the risk day, samples the equity.
 * The position leaves the array.
 */
static void
close_position(BtState *st, int i, Numeric price, const char *reason, TimestampTz ts)
{
	BtPosition *p = &st->pos[i];
	PnlResult	pnl;
	Numeric		gross,
				slippage,
				commission,
				net;
	Datum		vals[15];
	bool		nulls[15];
	double		price_d = numeric_to_double(price);	/* numeric_float8's double (barblocks.h) */

	/* the exit bar's own excursion up to the fill (the level on a bracket exit) */
	p->best = Max(p->best, (price_d - p->entry_d) * p->fp.side);
	p->worst = Max(p->worst, (p->entry_d - price_d) * p->fp.side);

	/* the marks before this close were taken at the realized P&L before it */
	mark_fold(st);

	/* ex7.compute_pnl's formula (ext/pnl.c) */
	pnl_compute(st->instrument, p->fp.side > 0, p->size, p->entry, price, &pnl);
	gross = pnl.gross;
	slippage = pnl.slippage;
	commission = pnl.commission;
	net = pnl.net;

	/* a study trial that keeps no trades counts them (its result) and stores none */
	st->trades++;
	if (st->keep_trades)
	{
		memset(nulls, 0, sizeof(nulls));
		vals[0] = CStringGetTextDatum(p->fp.side > 0 ? "long" : "short");
		vals[1] = Int32GetDatum(p->size);
		vals[2] = TimestampTzGetDatum(p->entry_ts);
		vals[3] = NumericGetDatum(p->entry);
		vals[4] = NumericGetDatum(p->fp.stop);
		nulls[4] = p->fp.stop == NULL;
		vals[5] = NumericGetDatum(p->fp.target);
		nulls[5] = p->fp.target == NULL;
		vals[6] = TimestampTzGetDatum(ts);
		vals[7] = NumericGetDatum(price);
		vals[8] = CStringGetTextDatum(reason);
		vals[9] = NumericGetDatum(gross);
		vals[10] = NumericGetDatum(slippage);
		vals[11] = NumericGetDatum(commission);
		vals[12] = NumericGetDatum(net);
		vals[13] = NumericGetDatum(excursion_money(st, p->worst, p->size));
		vals[14] = NumericGetDatum(excursion_money(st, p->best, p->size));
		rows_add(st, &st->trade_rows, (int32) st->trades, vals, nulls);
	}

	nset(st, &st->realized, nadd(st->realized, net));
	if (ncmp(net, int64_to_numeric(0)) > 0)
	{
		st->wins++;
		nset(st, &st->gross_profit, nadd(st->gross_profit, net));
	}
	else if (ncmp(net, int64_to_numeric(0)) < 0)
	{
		st->losses++;
		nset(st, &st->gross_loss, nadd(st->gross_loss, net));
	}
	if (st->risk_gate)
	{
		day_roll(st, ts);
		nset(st, &st->day_realized, nadd(st->day_realized, net));
		/* the trailing run of losing closes of the day; a close at >= 0 ends it */
		st->day_consec = ncmp(net, int64_to_numeric(0)) < 0 ? st->day_consec + 1 : 0;
	}
	if (st->nprot > 0)
		protect_after_close(st, ts, net, strcmp(reason, "stop_loss") == 0);

	/* the position leaves; its numbers were copied in the run's context */
	if (p->fp.stop)
		pfree(p->fp.stop);
	if (p->fp.target)
		pfree(p->fp.target);
	pfree(p->entry);
	st->npos--;
	for (int k = i; k < st->npos; k++)
		st->pos[k] = st->pos[k + 1];
}

/*
 * protect_after_close: after a close at ts with net P&L net (stop: a stop-out), each protection
 * decides with the live path's code (protection_decide, ext/protect.c) over the closes it reads: a
 * cooldown the close alone, the others this run's closes within their lookback, the close just made
 * last (ex7._protections_after_close does the same with the user's closes). The lock that expires
 * last wins.
 */
static void
protect_after_close(BtState *st, TimestampTz ts, Numeric net, bool stop)
{
	ProtectionClose *c;
	int			keep;

	/* the closes still inside the longest lookback, then this one */
	for (keep = 0; keep < st->nclose && st->closes[keep].at <= ts - st->prot_lookback; keep++)
		pfree(st->closes[keep].net);
	if (keep > 0)
	{
		st->nclose -= keep;
		memmove(st->closes, st->closes + keep, sizeof(ProtectionClose) * st->nclose);
	}
	if (st->nclose == st->close_cap)
	{
		st->close_cap *= 2;
		st->closes = repalloc(st->closes, sizeof(ProtectionClose) * st->close_cap);
	}
	c = &st->closes[st->nclose++];
	c->at = ts;
	c->net = ncopy_in(st->cxt, net);
	c->stop_loss = stop;

	for (int k = 0; k < st->nprot; k++)
	{
		const Protection *p = &st->prot[k];
		ProtectionLock lock;
		int			first = 0;

		if (p->kind == PROTECT_COOLDOWN)
			first = st->nclose - 1;
		else if (p->kind == PROTECT_STOPLOSS_GUARD && !stop)
			continue;			/* it locks only on a stop-out */
		if (protection_decide(p, st->closes + first, st->nclose - first, st->bar_usec, &lock) &&
			lock.until > st->lock_until)
		{
			st->lock_until = lock.until;
			st->lock_kind = p->kind;
		}
	}
}

/*
 * gate: the risk gate on an entry at ts (ex7.risk_decide with the backtest's own day). Returns the
 * index of the breaker that trips, or -1.
 */
static int
gate(BtState *st, TimestampTz ts)
{
	LOCAL_FCINFO(fcinfo, 8);
	Datum		r;
	Jsonb	   *res;
	JsonbValue	k;
	JsonbValue *v;

	day_roll(st, ts);
	InitFunctionCallInfoData(*fcinfo, &st->risk_fn, 8, InvalidOid, NULL, NULL);
	for (int a = 0; a < 4; a++)
		fcinfo->args[a].value = st->limits[a];
	fcinfo->args[4].value = NumericGetDatum(st->day_realized);
	fcinfo->args[5].value = Int64GetDatum(st->day_trades);
	fcinfo->args[6].value = Int64GetDatum((int64) st->npos);
	fcinfo->args[7].value = Int64GetDatum(st->day_consec);
	for (int a = 0; a < 8; a++)
		fcinfo->args[a].isnull = false;
	r = FunctionCallInvoke(fcinfo);
	if (fcinfo->isnull)
		return -1;
	res = DatumGetJsonbP(r);
	k.type = jbvString;
	k.val.string.val = "breaker";
	k.val.string.len = strlen("breaker");
	v = findJsonbValueFromContainer(&res->root, JB_FOBJECT, &k);
	for (int b = 0; v != NULL && v->type == jbvString && b < BT_NBREAKERS; b++)
		if (strlen(breaker_names[b]) == (size_t) v->val.string.len &&
			memcmp(breaker_names[b], v->val.string.val, v->val.string.len) == 0)
			return b;
	elog(ERROR, "unknown risk breaker");
}

/* ------------------------------------------------------------------------------------------------
 * One bar.
 * -------------------------------------------------------------------------------------------------
 * */

/*
 * values_exact: the node values of buffer bar i on the window ex7._evaluate reads for it: the
 * lookback of bars up to it (fewer, and "complete", at the start of the series). Sets *warm.
 */
static void
values_exact(BtState *st, int i, double *v, bool *warm)
{
	const GraphPlan *plan = st->plan;
	double	  **series = palloc(sizeof(double *) * Max(plan->nnodes, 1));
	BarSeries	b;
	int			first;

	if (i + 1 >= st->lookback)
	{
		first = i + 1 - st->lookback;
		b.complete = false;
	}
	else
	{
		/* only when the buffer starts at the first bar there is (history is lookback - 1 bars) */
		first = 0;
		b.complete = true;
	}
	b.n = i + 1 - first;
	b.ts = st->ts + first;
	b.open = st->open + first;
	b.high = st->high + first;
	b.low = st->low + first;
	b.close = st->close + first;
	b.volume = st->volume + first;
	graph_run(plan, &b, false, series, v);
	*warm = b.n >= plan->lookback;
}

/* excursion: a bar with this high and low happened while p was open */
static inline void
excursion(BtPosition *p, double high, double low)
{
	p->best = Max(p->best, p->fp.side > 0 ? high - p->entry_d : p->entry_d - low);
	p->worst = Max(p->worst, p->fp.side > 0 ? p->entry_d - low : high - p->entry_d);
}

/*
 * bar_quiet: returns true when fills_decide can do nothing on bar i: no entry fires, and no open
 * position can close (no exit node of its side fired, and the bar's range is clear of its stop and
 * target). The levels are compared as doubles with a margin, so an error can only say "not quiet",
 * and then fills_decide decides on the exact prices. Most bars are quiet: they need no numeric.
 */
static bool
bar_quiet(BtState *st, int i, const FillSignal *sig)
{
	double		hi = st->high[i],
				lo = st->low[i],
				margin = 1e-9 * Max(fabs(hi), fabs(lo)) + 1e-12;

	if (sig->long_size > 0 || sig->short_size > 0)
		return false;
	for (int k = 0; k < st->npos; k++)
	{
		BtPosition *p = &st->pos[k];

		if (p->fp.side > 0 ? sig->exit_long : sig->exit_short)
			return false;
		if (p->fp.side > 0
			? (p->fp.stop && lo <= p->stop_d + margin) || (p->fp.target && hi >= p->target_d - margin)
			: (p->fp.stop && hi >= p->stop_d - margin) || (p->fp.target && lo <= p->target_d + margin))
			return false;
	}
	return true;
}

/*
 * decide_bar: one bar of the range, at buffer index i, with its exact high, low and close and the
 * graph's values v: excursions, the decision (fills_decide), the closes, the entry through the
 * gate.
 */
static void
decide_bar(BtState *st, int r, int i, const double *v, bool warm)
{
	GraphActions a;
	FillSignal	sig;
	FillDecision d;
	FillPosition fp[BT_MAX_POSITIONS];
	int			order[BT_MAX_POSITIONS];
	TimestampTz ts = st->ts[i];
	int			closed = 0;
	Numeric		high,
				low,
				close;

	graph_actions(st->plan, v, &a);
	sig.warm = warm;
	sig.conflict = a.conflict;
	sig.exit_long = a.exit_long;
	sig.exit_short = a.exit_short;
	sig.long_size = a.enter_long >= 0 ? (int32) v[a.enter_long] : 0;
	sig.short_size = a.enter_short >= 0 ? (int32) v[a.enter_short] : 0;
	sig.stop_ticks = isnan(a.stop_loss_ticks) ? 0 : (int32) a.stop_loss_ticks;
	sig.target_ticks = isnan(a.take_profit_ticks) ? 0 : (int32) a.take_profit_ticks;

	if (bar_quiet(st, i, &sig))
	{
		/* what fills_decide would do: nothing closes, nothing enters; the bar only moves them */
		for (int k = 0; k < st->npos; k++)
			excursion(&st->pos[k], st->high[i], st->low[i]);
		return;
	}
	high = bar_exact_numeric(st->instrument, st->timeframe, ts, &st->prices[r], 0);
	low = bar_exact_numeric(st->instrument, st->timeframe, ts, &st->prices[r], 1);
	close = bar_exact_numeric(st->instrument, st->timeframe, ts, &st->prices[r], 2);
	st->cur_close = close;

	for (int k = 0; k < st->npos; k++)
	{
		fp[k] = st->pos[k].fp;
		fp[k].earlier = true;	/* every position opened on an earlier bar of this run */
	}
	d.close_order = order;
	fills_decide(fp, st->npos, high, low, close, st->tick_size, &sig, false, &d);

	/*
	 * Excursions of the positions this bar does not close at a level: the whole bar happened while
	 * they were open. One closed at a level counts only up to it (close_position).
	 */
	for (int k = 0; k < st->npos; k++)
	{
		if (fp[k].closed == FILL_STOP_LOSS || fp[k].closed == FILL_TAKE_PROFIT)
			continue;
		excursion(&st->pos[k], st->high[i], st->low[i]);
	}

	/* the closes, in the decision's order; positions leave the array as they close */
	for (int c = 0; c < d.nclosed; c++)
	{
		int			k = order[c];
		int			at = k;

		/* earlier closes of this bar shifted the positions after them down */
		for (int e = 0; e < c; e++)
			if (order[e] < k)
				at--;
		close_position(st, at, fp[k].close_price, fill_reason_names[fp[k].closed], ts);
		closed++;
	}
	if (closed > 0)
		sample(st, ts, nadd(nadd(st->capital, st->realized), unrealized(st, close)));

	switch (d.verdict)
	{
		case FILL_SKIPPED:
			for (int s = 0; s < BT_NSKIP; s++)
				if (strcmp(d.skip_reason, skip_names[s]) == 0)
					st->skipped[s]++;
			break;
		case FILL_ENTER:
			{
				int			b;
				BtPosition *p;

				/* the live gate's order: the locks of protections, then the breakers */
				if (st->nprot > 0 && ts < st->lock_until)
				{
					st->blocked_lock[st->lock_kind]++;
					break;
				}
				b = st->risk_gate ? gate(st, ts) : -1;
				if (b >= 0)
				{
					st->blocked[b]++;
					break;
				}
				if (st->npos >= BT_MAX_POSITIONS)
					elog(ERROR, "more open positions than sides");
				p = &st->pos[st->npos++];
				memset(p, 0, sizeof(*p));
				p->fp.side = d.side;
				p->fp.stop = d.stop ? ncopy_in(st->cxt, d.stop) : NULL;
				p->fp.target = d.target ? ncopy_in(st->cxt, d.target) : NULL;
				p->stop_d = d.stop ? numeric_to_double(d.stop) : NAN;
				p->target_d = d.target ? numeric_to_double(d.target) : NAN;
				p->entry = ncopy_in(st->cxt, close);
				p->entry_d = st->close[i];
				p->size = d.size;
				p->entry_ts = ts;
				st->entries++;
				if (st->risk_gate)
					st->day_trades++;
			}
			break;
		default:
			break;
	}
}

/* utc_day: the UTC day of ts, counted from 2000-01-01 (floor division: days before 2000 too) */
static int64
utc_day(TimestampTz ts)
{
	return ts >= 0 ? ts / USECS_PER_DAY : -((-ts - 1) / USECS_PER_DAY) - 1;
}

/*
 * prev_close_exact: the exact close of the previous bar, fetched when it was not yet (its bar was
 * quiet).
 */
static Numeric
prev_close_exact(BtState *st)
{
	if (st->prev_close == NULL)
	{
		Assert(st->prev_r >= 0);
		st->prev_close = bar_exact_numeric(st->instrument, st->timeframe, st->prev_ts,
										   &st->prices[st->prev_r], 2);
	}
	return st->prev_close;
}

/*
 * day_end: the equity at the end of the UTC day of the previous bar, when bar ts starts another.
 */
static void
day_end(BtState *st, TimestampTz ts, bool last)
{
	if (!st->have_prev)
		return;
	if (!last && utc_day(ts) == utc_day(st->prev_ts))
		return;
	sample(st, st->prev_ts, nadd(nadd(st->capital, st->realized),
								 st->npos > 0 ? unrealized(st, prev_close_exact(st)) : int64_to_numeric(0)));
}

/* ------------------------------------------------------------------------------------------------
 * Reading bars.
 * -------------------------------------------------------------------------------------------------
 * */

/* store_bar: copies row r of the SPI result (ts, open, high, low, close, volume as float8) to k */
static void
store_bar(BtState *st, HeapTuple tup, TupleDesc td, int k)
{
	bool		isnull;

	st->ts[k] = DatumGetTimestampTz(SPI_getbinval(tup, td, 1, &isnull));
	st->open[k] = DatumGetFloat8(SPI_getbinval(tup, td, 2, &isnull));
	st->high[k] = DatumGetFloat8(SPI_getbinval(tup, td, 3, &isnull));
	st->low[k] = DatumGetFloat8(SPI_getbinval(tup, td, 4, &isnull));
	st->close[k] = DatumGetFloat8(SPI_getbinval(tup, td, 5, &isnull));
	st->volume[k] = DatumGetFloat8(SPI_getbinval(tup, td, 6, &isnull));
}

#define BARS_COLUMNS \
	"b.ts, b.open::float8, b.high::float8, b.low::float8, b.close::float8, b.volume::float8, " \
	"b.high, b.low, b.close"

/*
 * read_history: the lookback - 1 bars up to range_from (newest first through the primary key),
 * stored oldest first at the front of the buffer.
 */
static void
read_history(BtState *st)
{
	static const char *q =
	"SELECT " BARS_COLUMNS " FROM ex7.bars b WHERE b.instrument = $1 AND b.timeframe = $2 "
	"AND b.ts <= $3 ORDER BY b.ts DESC LIMIT $4";
	Oid			types[4] = {TEXTOID, TEXTOID, TIMESTAMPTZOID, INT4OID};
	Datum		args[4];
	int			want = st->lookback - 1;

	args[0] = PointerGetDatum(st->instrument);
	args[1] = PointerGetDatum(st->timeframe);
	args[2] = TimestampTzGetDatum(st->range_from);
	args[3] = Int32GetDatum(want);
	if (SPI_execute_with_args(q, 4, types, args, NULL, true, want) != SPI_OK_SELECT)
		elog(ERROR, "could not read the history bars");
	st->n = (int) SPI_processed;
	for (int r = 0; r < st->n; r++)
		store_bar(st, SPI_tuptable->vals[r], SPI_tuptable->tupdesc, st->n - 1 - r);
	st->from_start = st->n < want || want == 0;
	st->last_ts = st->range_from;
	SPI_freetuptable(SPI_tuptable);
}

/*
 * run_chunk: reads the next chunk of bars of the range and runs every one of them. Returns false
 * when the range is exhausted (nothing was read).
 */
static bool
run_chunk(BtState *st)
{
	BlocksOut	out;
	int			got,
				base,
				keep;
	double	  **series = NULL;
	double	   *v;
	int			fast_first = 0;
	MemoryContext old;

	if (st->done)
		return false;
	/* oldest first from the bar blocks (ext/barblocks.c), after the newest bar read so far */
	base = st->n;
	out.ts = st->ts + base;
	out.open = st->open + base;
	out.high = st->high + base;
	out.low = st->low + base;
	out.close = st->close + base;
	out.volume = st->volume + base;
	out.exact = st->prices;
	got = blocks_scan(st->instrument, st->timeframe, st->last_ts, st->range_to, BT_CHUNK, &out);
	if (got < BT_CHUNK)
		st->done = true;
	if (got == 0)
		return false;
	st->n = base + got;
	st->last_ts = st->ts[st->n - 1];

	v = MemoryContextAlloc(st->cxt, sizeof(double) * Max(st->plan->nnodes, 1));
	if (!st->exact)
	{
		/* fast: one run over the chunk with the history before it */
		BarSeries	b;

		old = MemoryContextSwitchTo(st->bar_cxt);
		series = palloc(sizeof(double *) * Max(st->plan->nnodes, 1));
		fast_first = 0;
		b.n = st->n;
		b.ts = st->ts;
		b.open = st->open;
		b.high = st->high;
		b.low = st->low;
		b.close = st->close;
		b.volume = st->volume;
		b.complete = st->from_start && st->dropped == 0;
		graph_run(st->plan, &b, true, series, v);
		MemoryContextSwitchTo(old);
	}

	for (int r = 0; r < got; r++)
	{
		int			i = base + r;
		bool		warm;
		MemoryContext bar_old;

		CHECK_FOR_INTERRUPTS();
		day_end(st, st->ts[i], false);
		if (st->exact)
		{
			bar_old = MemoryContextSwitchTo(st->bar_cxt);
			values_exact(st, i, v, &warm);
			MemoryContextSwitchTo(bar_old);
		}
		else
		{
			for (int k = 0; k < st->plan->nnodes; k++)
				v[k] = series[k][i - fast_first];
			warm = (st->from_start ? st->dropped + i + 1 : INT64_MAX) >= st->plan->lookback;
		}
		bar_old = MemoryContextSwitchTo(st->bar_cxt);
		st->cur_close = NULL;
		decide_bar(st, r, i, v, warm);
		/* the equity at this bar's close, for the drawdown */
		if (st->npos > 0)
			mark_bar(st, r, i);
		/* the previous close for the next bar's day end: this one, fetched now or later */
		st->have_prev = true;
		st->prev_ts = st->ts[i];
		st->prev_close = st->cur_close;
		st->prev_r = r;
		if (r == got - 1)
		{
			/* the last close outlives the chunk: the next chunk's first day-end sample may need it */
			Numeric		last = prev_close_exact(st);

			st->prev_close = ncopy_in(st->cxt, last);
			st->prev_r = -1;
		}
		MemoryContextSwitchTo(bar_old);
		if (st->exact && r < got - 1)
		{
			/* the bar's memory goes: a close fetched in it is fetched again if a day end needs it */
			MemoryContextReset(st->bar_cxt);
			st->prev_close = NULL;
		}
		st->bars++;
	}
	MemoryContextReset(st->bar_cxt);
	pfree(v);
	if (st->trade_rows.n + st->equity.n >= BT_FLUSH_ROWS)
		flush(st);

	/* keep lookback - 1 bars of history for the next chunk */
	keep = Min(st->n, st->lookback - 1);
	if (st->n > keep)
	{
		int			drop = st->n - keep;

		memmove(st->ts, st->ts + drop, sizeof(TimestampTz) * keep);
		memmove(st->open, st->open + drop, sizeof(double) * keep);
		memmove(st->high, st->high + drop, sizeof(double) * keep);
		memmove(st->low, st->low + drop, sizeof(double) * keep);
		memmove(st->close, st->close + drop, sizeof(double) * keep);
		memmove(st->volume, st->volume + drop, sizeof(double) * keep);
		st->dropped += drop;
		st->n = keep;
	}
	return true;
}

/* ------------------------------------------------------------------------------------------------
 * The run.
 * -------------------------------------------------------------------------------------------------
 * */

/*
 * prepare: a prepared statement for the run. A background run keeps it across its transactions
 * (SPI_keepplan; bt_end frees it); an inline run leaves it to SPI, which frees it at SPI_finish, also
 * when the run fails.
 */
static SPIPlanPtr
prepare(BtState *st, const char *q, int nargs, Oid *types)
{
	SPIPlanPtr	p = SPI_prepare(q, nargs, types);

	if (p == NULL || (st->keep_plans && SPI_keepplan(p) != 0))
		elog(ERROR, "could not prepare \"%s\": %s", q, SPI_result_code_string(SPI_result));
	return p;
}

/* json_param: the text of key in params, or NULL */
static char *
json_param(Jsonb *params, const char *key)
{
	JsonbValue	k;
	JsonbValue *v;

	k.type = jbvString;
	k.val.string.val = (char *) key;
	k.val.string.len = strlen(key);
	v = findJsonbValueFromContainer(&params->root, JB_FOBJECT, &k);
	if (v == NULL || v->type == jbvNull)
		return NULL;
	if (v->type == jbvString)
		return pnstrdup(v->val.string.val, v->val.string.len);
	if (v->type == jbvBool)
		return pstrdup(v->val.boolean ? "true" : "false");
	if (v->type == jbvNumeric)
		return ntext(v->val.numeric);
	return NULL;
}

/*
 * bt_protections: reads the user's enabled paper protections whose scope holds the backtest's
 * strategy and instrument (ex7.risk_protections; the order of ex7._protections_after_close) and the
 * length of the strategy's timeframe.
 */
static void
bt_protections(BtState *st)
{
	static const char *pq =
	"SELECT p.kind, p.bars, p.trade_limit, p.lookback_minutes, p.lock_minutes, "
	"coalesce(p.max_drawdown, p.min_profit), "
	"(extract(epoch FROM ex7._timeframe_interval(b.timeframe)) * 1000000)::bigint "
	"FROM ex7.backtests b JOIN ex7.risk_protections p ON p.user_id = b.user_id "
	"WHERE b.user_id = $1 AND b.id = $2 AND p.mode = 'paper' AND p.enabled "
	"AND (p.strategy_id IS NULL OR p.strategy_id = b.strategy_id) "
	"AND (p.instrument IS NULL OR p.instrument = b.instrument) ORDER BY p.created_at, p.id";
	Oid			types[2] = {UUIDOID, UUIDOID};
	Datum		args[2] = {st->user_id, UUIDPGetDatum(&st->id)};
	MemoryContext old;
	bool		isnull;

	if (SPI_execute_with_args(pq, 2, types, args, NULL, true, 0) != SPI_OK_SELECT)
		elog(ERROR, "could not read the protections");
	st->nprot = (int) SPI_processed;
	st->lock_until = DT_NOBEGIN;
	if (st->nprot == 0)
		return;
	old = MemoryContextSwitchTo(st->cxt);
	st->prot = palloc0(sizeof(Protection) * st->nprot);
	for (int k = 0; k < st->nprot; k++)
	{
		HeapTuple	t = SPI_tuptable->vals[k];
		TupleDesc	d = SPI_tuptable->tupdesc;
		Protection *p = &st->prot[k];
		Datum		v;

		p->kind = protection_kind(TextDatumGetCString(SPI_getbinval(t, d, 1, &isnull)));
		v = SPI_getbinval(t, d, 2, &isnull);
		p->bars = isnull ? 0 : DatumGetInt32(v);
		v = SPI_getbinval(t, d, 3, &isnull);
		p->trade_limit = isnull ? 1 : DatumGetInt32(v);
		v = SPI_getbinval(t, d, 4, &isnull);
		p->lookback_usec = isnull ? 0 : (int64) DatumGetInt32(v) * USECS_PER_MINUTE;
		v = SPI_getbinval(t, d, 5, &isnull);
		p->lock_usec = isnull ? 0 : (int64) DatumGetInt32(v) * USECS_PER_MINUTE;
		v = SPI_getbinval(t, d, 6, &isnull);
		p->threshold = isnull ? NULL : DatumGetNumericCopy(v);
		st->bar_usec = DatumGetInt64(SPI_getbinval(t, d, 7, &isnull));
		st->prot_lookback = Max(st->prot_lookback, p->lookback_usec);
	}
	st->close_cap = 64;
	st->closes = palloc(sizeof(ProtectionClose) * st->close_cap);
	MemoryContextSwitchTo(old);
}

/*
 * bt_begin: returns the state of backtest id, status set to running: reads the row, its graph (the
 * row's own when a study trial substituted parameters, else the version's) and whether it keeps its
 * trades (both read through the row's JSON, so that this library also runs a schema from before those
 * columns, 0.2.0's, as tools/upgrade_check.sh does when it fills a 0.2.0 database), the instrument,
 * compiles the graph, prepares the statements and reads the history. Called inside SPI; the state
 * lives in a context under parent.
 */
BtState *
bt_begin(pg_uuid_t *user, pg_uuid_t *id, MemoryContext parent, bool keep_plans)
{
	static const char *q =
	"SELECT b.user_id, b.instrument, b.timeframe::text, b.range_from, b.range_to, b.params, "
	"COALESCE(NULLIF(pg_catalog.to_jsonb(b) -> 'graph', 'null'), v.graph), "
	"i.tick_size, i.tick_value, b.status, "
	"COALESCE((pg_catalog.to_jsonb(b) ->> 'trades_kept')::boolean, true) FROM ex7.backtests b "
	"JOIN ex7.strategy_versions v ON v.user_id = b.user_id AND v.strategy_id = b.strategy_id "
	"AND v.version = b.strategy_version "
	"JOIN ex7.instruments i ON i.symbol = b.instrument WHERE b.user_id = $1 AND b.id = $2 "
	"FOR NO KEY UPDATE OF b";
	Oid			uuidtype[1] = {UUIDOID};
	Oid			keytypes[2] = {UUIDOID, UUIDOID};
	Oid			starttypes[3] = {UUIDOID, UUIDOID, TIMESTAMPTZOID};
	Datum		args[2];
	Datum		startargs[3];
	MemoryContext cxt = AllocSetContextCreate(parent, "ex7 backtest", ALLOCSET_DEFAULT_SIZES);
	MemoryContext old;
	BtState    *st;
	HeapTuple	tup;
	TupleDesc	td;
	bool		isnull;
	Jsonb	   *params;
	char	   *s;
	Oid			day_args[1] = {TIMESTAMPTZOID};
	Oid			risk_args[8] = {NUMERICOID, INT4OID, INT4OID, INT4OID, NUMERICOID, INT8OID, INT8OID,
	INT8OID};

	args[0] = UUIDPGetDatum(user);
	args[1] = UUIDPGetDatum(id);
	if (SPI_execute_with_args(q, 2, keytypes, args, NULL, false, 1) != SPI_OK_SELECT)
		elog(ERROR, "could not read the backtest");
	if (SPI_processed != 1)
		ereport(ERROR, (errcode(ERRCODE_EX7_NOT_FOUND), errmsg("backtest not found")));
	tup = SPI_tuptable->vals[0];
	td = SPI_tuptable->tupdesc;

	old = MemoryContextSwitchTo(cxt);
	st = palloc0(sizeof(BtState));
	st->cxt = cxt;
	st->keep_plans = keep_plans;
	st->bar_cxt = AllocSetContextCreate(cxt, "ex7 backtest bar", ALLOCSET_DEFAULT_SIZES);
	memcpy(&st->id, id, sizeof(pg_uuid_t));
	st->user_id = datumCopy(SPI_getbinval(tup, td, 1, &isnull), false, UUID_LEN);
	st->instrument = DatumGetTextPCopy(SPI_getbinval(tup, td, 2, &isnull));
	st->timeframe = DatumGetTextPCopy(SPI_getbinval(tup, td, 3, &isnull));
	st->range_from = DatumGetTimestampTz(SPI_getbinval(tup, td, 4, &isnull));
	st->range_to = DatumGetTimestampTz(SPI_getbinval(tup, td, 5, &isnull));
	params = DatumGetJsonbPCopy(SPI_getbinval(tup, td, 6, &isnull));
	st->plan = graph_compile(DatumGetJsonbPCopy(SPI_getbinval(tup, td, 7, &isnull)),
							 "[\"body\", \"graph\"]");
	st->lookback = st->plan->lookback;
	st->tick_size = DatumGetNumericCopy(SPI_getbinval(tup, td, 8, &isnull));
	st->tick_d = DatumGetFloat8(DirectFunctionCall1(numeric_float8, NumericGetDatum(st->tick_size)));
	st->tick_value = DatumGetNumericCopy(SPI_getbinval(tup, td, 9, &isnull));
	st->keep_trades = DatumGetBool(SPI_getbinval(tup, td, 11, &isnull));

	s = json_param(params, "evaluation");
	st->exact = s == NULL || strcmp(s, "exact") == 0;
	s = json_param(params, "risk_gate");
	st->risk_gate = s != NULL && strcmp(s, "true") == 0;
	s = json_param(params, "initial_capital");
	st->capital = DatumGetNumeric(DirectFunctionCall3(numeric_in, CStringGetDatum(s ? s : "10000"),
													  ObjectIdGetDatum(InvalidOid),
													  Int32GetDatum(-1)));
	/* each its own copy: nset frees the one it replaces */
	st->realized = int64_to_numeric(0);
	st->gross_profit = int64_to_numeric(0);
	st->gross_loss = int64_to_numeric(0);
	st->max_drawdown = int64_to_numeric(0);
	st->peak = ncopy_in(cxt, st->capital);
	st->last_equity = ncopy_in(cxt, st->capital);
	st->day_realized = int64_to_numeric(0);
	st->tick_md = numeric_md(NumericGetDatum(st->tick_size), &st->tick_m, &st->tick_dscale) &&
		st->tick_m > 0;
	st->capital_d = numeric_to_double(st->capital);
	st->tick_value_d = numeric_to_double(st->tick_value);
	st->peak_d = st->capital_d;
	st->max_drawdown_d = 0;

	st->cap = st->lookback - 1 + BT_CHUNK;
	st->ts = palloc(sizeof(TimestampTz) * st->cap);
	st->open = palloc(sizeof(double) * st->cap);
	st->high = palloc(sizeof(double) * st->cap);
	st->low = palloc(sizeof(double) * st->cap);
	st->close = palloc(sizeof(double) * st->cap);
	st->volume = palloc(sizeof(double) * st->cap);
	st->prices = palloc(sizeof(BarExact) * BT_CHUNK);
	st->prev_r = -1;

	fmgr_info_cxt(lookup("trading_day_start", 1, day_args), &st->day_fn, cxt);
	fmgr_info_cxt(lookup("risk_decide", 8, risk_args), &st->risk_fn, cxt);
	MemoryContextSwitchTo(old);

	if (st->risk_gate)
	{
		/* the user's paper limits (ex7._risk_limits: the defaults when there is no row) */
		static const char *lq =
		"SELECT l.daily_loss_limit, l.max_trades_per_day, l.max_open_positions, "
		"l.max_consecutive_losses FROM ex7._risk_limits($1, 'paper') l";
		Datum		uargs[1] = {st->user_id};

		if (SPI_execute_with_args(lq, 1, uuidtype, uargs, NULL, true, 1) != SPI_OK_SELECT ||
			SPI_processed != 1)
			elog(ERROR, "could not read the risk limits");
		old = MemoryContextSwitchTo(cxt);
		st->limits[0] = datumCopy(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1,
												&isnull), false, -1);
		for (int a = 1; a < 4; a++)
			st->limits[a] = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, a + 1,
										  &isnull);
		MemoryContextSwitchTo(old);
		st->day_start = DT_NOBEGIN;
		st->day_next = DT_NOBEGIN;
		bt_protections(st);
	}

	{
		Oid			tt[15] = {TEXTOID, INT4OID, TIMESTAMPTZOID, NUMERICOID, NUMERICOID, NUMERICOID,
			TIMESTAMPTZOID, NUMERICOID, TEXTOID, NUMERICOID, NUMERICOID, NUMERICOID, NUMERICOID,
		NUMERICOID, NUMERICOID};
		Oid			et[2] = {TIMESTAMPTZOID, NUMERICOID};
		Oid			pt[3] = {UUIDOID, UUIDOID, INT8OID};

		st->rows_cxt = AllocSetContextCreate(st->cxt, "ex7 backtest rows", ALLOCSET_DEFAULT_SIZES);
		rows_init(st, &st->trade_rows, 15, tt,
				  "INSERT INTO ex7.backtest_trade_chunks (backtest_id, user_id, first_seq, side, quantity, "
				  "entry_time, entry_price, stop_price, target_price, exit_time, exit_price, exit_reason, "
				  "gross_pnl, slippage_cost, commission, net_pnl, mae, mfe) VALUES ($1, $2, $3, $4, $5, $6, "
				  "$7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18)");
		rows_init(st, &st->equity, 2, et,
				  "INSERT INTO ex7.backtest_equity_chunks (backtest_id, user_id, first_seq, ts, equity) "
				  "VALUES ($1, $2, $3, $4, $5)");
		st->progress_plan = prepare(st, "UPDATE ex7.backtests SET bars_done = $3 "
									"WHERE user_id = $1 AND id = $2", 3, pt);
	}
	/* a run starts from nothing: what an earlier, failed attempt stored goes */
	startargs[0] = args[0];
	startargs[1] = args[1];
	startargs[2] = TimestampTzGetDatum(GetCurrentTimestamp());	/* clock_timestamp() */
	if (SPI_execute_with_args("DELETE FROM ex7.backtest_trade_chunks WHERE user_id = $1 AND backtest_id = $2",
							  2, keytypes, args, NULL, false, 0) != SPI_OK_DELETE ||
		SPI_execute_with_args("DELETE FROM ex7.backtest_equity_chunks WHERE user_id = $1 AND backtest_id = $2",
							  2, keytypes, args, NULL, false, 0) != SPI_OK_DELETE ||
		SPI_execute_with_args("UPDATE ex7.backtests SET status = 'running', bars_done = 0, "
							  "started_at = $3, error = NULL WHERE user_id = $1 AND id = $2",
							  3, starttypes, startargs, NULL, false, 0) != SPI_OK_UPDATE)
		elog(ERROR, "could not start the backtest");
	st->t0 = GetCurrentTimestamp();
	/* the curve starts at the range's start with the initial capital */
	sample(st, st->range_from, st->capital);
	read_history(st);
	return st;
}

/* bt_progress: stores the bars done so far */
static void
bt_progress(BtState *st)
{
	Datum		args[3];

	args[0] = st->user_id;
	args[1] = UUIDPGetDatum(&st->id);
	args[2] = Int64GetDatum(st->bars);
	if (SPI_execute_plan(st->progress_plan, args, NULL, false, 0) != SPI_OK_UPDATE)
		elog(ERROR, "could not store the progress");
	st->flushed_bars = st->bars;
}

/*
 * bt_finish: closes what is still open at the last bar's close (end_of_range), takes the last
 * day-end sample, stores the summary and marks the backtest done. Returns the summary.
 */
static Datum
bt_finish(BtState *st)
{
	StringInfoData buf;
	Datum		args[5];
	Oid			types[5] = {UUIDOID, UUIDOID, JSONBOID, INT8OID, TIMESTAMPTZOID};
	Datum		summary;
	int64		elapsed;

	if (st->have_prev)
	{
		if (st->npos > 0)
		{
			while (st->npos > 0)
				close_position(st, 0, st->prev_close, "end_of_range", st->prev_ts);
			sample(st, st->prev_ts, nadd(st->capital, st->realized));
		}
		day_end(st, st->prev_ts, true);
	}
	daily_point_last(st);
	mark_fold(st);
	flush(st);
	elapsed = GetCurrentTimestamp() - st->t0;

	initStringInfo(&buf);
	appendStringInfo(&buf, "{\"bars\": " INT64_FORMAT ", \"evaluation\": \"%s\", \"lookback\": %d, "
					 "\"entries\": " INT64_FORMAT ", \"trades\": " INT64_FORMAT ", \"wins\": "
					 INT64_FORMAT ", \"losses\": " INT64_FORMAT ", ", st->bars,
					 st->exact ? "exact" : "fast", st->lookback, st->entries, st->trades, st->wins,
					 st->losses);
	appendStringInfo(&buf, "\"net_pnl\": \"%s\", \"gross_profit\": \"%s\", \"gross_loss\": \"%s\", "
					 "\"max_drawdown\": \"%s\", \"final_equity\": \"%s\", ", ntext(st->realized),
					 ntext(st->gross_profit), ntext(st->gross_loss), ntext(st->max_drawdown),
					 ntext(nadd(st->capital, st->realized)));
	appendStringInfoString(&buf, "\"skipped\": {");
	for (int s = 0; s < BT_NSKIP; s++)
		appendStringInfo(&buf, "%s\"%s\": " INT64_FORMAT, s ? ", " : "", skip_names[s],
						 st->skipped[s]);
	appendStringInfo(&buf, "}, \"risk_gate\": %s, \"blocked\": {", st->risk_gate ? "true" : "false");
	for (int b = 0; b < BT_NBREAKERS; b++)
		appendStringInfo(&buf, "%s\"%s\": " INT64_FORMAT, b ? ", " : "", breaker_names[b],
						 st->blocked[b]);
	/* with protections, the entries their locks refused, by kind (docs/protections.md) */
	for (int k = 0; st->nprot > 0 && k < (int) lengthof(st->blocked_lock); k++)
		appendStringInfo(&buf, ", \"%s\": " INT64_FORMAT, protection_kind_name((ProtectionKind) k),
						 st->blocked_lock[k]);
	appendStringInfo(&buf, "}, \"elapsed_ms\": %.3f, \"store_ms\": %.3f, \"bars_per_second\": %.0f}",
					 elapsed / 1000.0, st->store_us / 1000.0,
					 elapsed > 0 ? st->bars * 1e6 / elapsed : 0.0);
	summary = DirectFunctionCall1(jsonb_in, CStringGetDatum(buf.data));

	args[0] = st->user_id;
	args[1] = UUIDPGetDatum(&st->id);
	args[2] = summary;
	args[3] = Int64GetDatum(st->bars);
	args[4] = TimestampTzGetDatum(GetCurrentTimestamp());	/* clock_timestamp() */
	if (SPI_execute_with_args("UPDATE ex7.backtests SET status = 'done', result = $3, bars_done = $4, "
							  "finished_at = $5 WHERE user_id = $1 AND id = $2", 5, types,
							  args, NULL, false, 0) != SPI_OK_UPDATE)
		elog(ERROR, "could not store the backtest result");
	return summary;
}

/*
 * bt_run_some: runs chunks until at least BT_PROGRESS_BARS more bars are done and stores bars_done
 * (returns true: more to run), or to the end of the range and stores the result (returns false).
 */
bool
bt_run_some(BtState *st)
{
	bool		more = true;

	while (more && st->bars - st->flushed_bars < BT_PROGRESS_BARS)
		more = run_chunk(st);
	if (more)
		bt_progress(st);
	else
		bt_finish(st);
	return more;
}

void
bt_end(BtState *st)
{
	if (st->keep_plans)
	{
		SPI_freeplan(st->trade_rows.plan);
		SPI_freeplan(st->equity.plan);
		SPI_freeplan(st->progress_plan);
	}
	MemoryContextDelete(st->cxt);
}

/*
 * backtest_key: the (user, id) of the backtest a call names: ex7._backtest_exec(p_user, p_id) and
 * ex7._backtest_launch(p_user, p_id) give both, as every caller in the extension does. The
 * one-argument forms (p_id), kept for tests and benchmarks, find the user from the id alone: a
 * lookup without the table's key (on Citus a read of every shard). X7404 when there is no such
 * backtest (or the caller's row security hides it). Called inside SPI.
 */
static void
backtest_key(FunctionCallInfo fcinfo, pg_uuid_t *user, pg_uuid_t *id)
{
	if (PG_NARGS() == 2)
	{
		memcpy(user, PG_GETARG_UUID_P(0), sizeof(pg_uuid_t));
		memcpy(id, PG_GETARG_UUID_P(1), sizeof(pg_uuid_t));
		return;
	}
	memcpy(id, PG_GETARG_UUID_P(0), sizeof(pg_uuid_t));
	{
		Oid			types[1] = {UUIDOID};
		Datum		args[1] = {UUIDPGetDatum(id)};
		bool		isnull;

		if (SPI_execute_with_args("SELECT b.user_id FROM ex7.backtests b WHERE b.id = $1", 1, types, args,
								  NULL, true, 1) != SPI_OK_SELECT)
			elog(ERROR, "could not read the backtest");
		if (SPI_processed != 1)
			ereport(ERROR, (errcode(ERRCODE_EX7_NOT_FOUND), errmsg("backtest not found")));
		memcpy(user, DatumGetUUIDP(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull)),
			   sizeof(pg_uuid_t));
	}
}

/*
 * backtest_exec: ex7._backtest_exec(p_user uuid, p_id uuid), and ex7._backtest_exec(p_id uuid). Runs
 * backtest p_id of user p_user to the end in the caller's transaction (status running, then done;
 * trades and equity stored) and returns its summary.
 */
PG_FUNCTION_INFO_V1(backtest_exec);
Datum
backtest_exec(PG_FUNCTION_ARGS)
{
	pg_uuid_t	user;
	pg_uuid_t	id;
	MemoryContext caller = CurrentMemoryContext;
	BtState    *st;
	Datum		summary;

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	backtest_key(fcinfo, &user, &id);
	st = bt_begin(&user, &id, caller, false);
	while (run_chunk(st))
		;
	summary = SPI_datumTransfer(bt_finish(st), false, -1);
	bt_end(st);
	SPI_finish();
	PG_RETURN_DATUM(summary);
}

/* ------------------------------------------------------------------------------------------------
 * Background runs: a dynamic background worker per long backtest, committing progress as it goes.
 * -------------------------------------------------------------------------------------------------
 * */

/* what the launching backend hands its worker (in bgw_extra) */
typedef struct BtLaunch
{
	Oid			database;
	Oid			role;
	TransactionId xid;			/* the transaction that created the backtest row */
	pg_uuid_t	user;
	pg_uuid_t	id;
} BtLaunch;

StaticAssertDecl(sizeof(BtLaunch) <= BGW_EXTRALEN, "BtLaunch must fit in bgw_extra");

extern PGDLLEXPORT void backtest_worker_main(Datum arg);

/*
 * backtest_launch: ex7._backtest_launch(p_user uuid, p_id uuid), and ex7._backtest_launch(p_id uuid).
 * Returns true when a background worker was registered to run backtest p_id of user p_user once the
 * calling transaction ends (it waits for it, and finds nothing to do when it rolled back); false when
 * no worker slot is free (max_worker_processes), for the caller to run it inline instead.
 *
 * Starting workers is the HTTP front's, not a bound role's: EXECUTE on the one-argument form is revoked
 * from ex7_user (99_grants.sql), and both forms require it, so the two-argument form gives nobody a
 * worker the one-argument form would not (42501 otherwise).
 */
PG_FUNCTION_INFO_V1(backtest_launch);
Datum
backtest_launch(PG_FUNCTION_ARGS)
{
	BtLaunch	l;
	Oid			one[1] = {UUIDOID};

	if (pg_proc_aclcheck(lookup("_backtest_launch", 1, one), GetUserId(), ACL_EXECUTE) != ACLCHECK_OK)
		ereport(ERROR, (errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
						errmsg("permission denied for function _backtest_launch"),
						errdetail("Background backtest workers are started by the HTTP front, not by roles bound to a user.")));
	memset(&l, 0, sizeof(l));
	l.database = MyDatabaseId;
	l.role = GetUserId();
	l.xid = GetTopTransactionId();
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	backtest_key(fcinfo, &l.user, &l.id);
	SPI_finish();
	PG_RETURN_BOOL(bt_register_worker("backtest_worker_main", "ex7 backtest", &l, sizeof(l)));
}

/*
 * bt_worker_connect: the start of an ex7 background worker: SIGTERM ends it, its signals unblocked, connected
 * to the launcher's database as the launcher's role, named in pg_stat_activity.
 */
void
bt_worker_connect(Oid database, Oid role, const char *name)
{
	pqsignal(SIGTERM, die);
	BackgroundWorkerUnblockSignals();
	BackgroundWorkerInitializeConnectionByOid(database, role, 0);
	pgstat_report_appname(name);
}

/* bt_worker_wait: waits for the launching transaction xid to end (what it wrote is visible then) */
void
bt_worker_wait(TransactionId xid)
{
	StartTransactionCommand();
	XactLockTableWait(xid, NULL, NULL, XLTW_None);
	CommitTransactionCommand();
}

/* bt_fail: marks backtest id of user failed with message, finished now (inside SPI) */
void
bt_fail(pg_uuid_t *user, pg_uuid_t *id, const char *message)
{
	Oid			types[4] = {UUIDOID, UUIDOID, TEXTOID, TIMESTAMPTZOID};
	Datum		args[4] = {UUIDPGetDatum(user), UUIDPGetDatum(id), CStringGetTextDatum(message),
	TimestampTzGetDatum(GetCurrentTimestamp())};

	if (SPI_execute_with_args("UPDATE ex7.backtests SET status = 'failed', error = $3, finished_at = $4 "
							  "WHERE user_id = $1 AND id = $2", 4, types, args, NULL, false, 0) != SPI_OK_UPDATE)
		elog(ERROR, "could not mark the backtest failed");
}

/*
 * bt_register_worker: registers a dynamic background worker of this library running function, named
 * and typed name (pg_stat_activity's backend_type), never restarted, with extra in bgw_extra. It
 * starts once the postmaster gets to it; false when no worker slot is free (max_worker_processes).
 */
bool
bt_register_worker(const char *function, const char *name, const void *extra, Size len)
{
	BackgroundWorker w;

	Assert(len <= BGW_EXTRALEN);
	memset(&w, 0, sizeof(w));
	w.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
	w.bgw_start_time = BgWorkerStart_RecoveryFinished;
	w.bgw_restart_time = BGW_NEVER_RESTART;
	snprintf(w.bgw_library_name, BGW_MAXLEN, "ex7");
	snprintf(w.bgw_function_name, BGW_MAXLEN, "%s", function);
	snprintf(w.bgw_name, BGW_MAXLEN, "%s", name);
	snprintf(w.bgw_type, BGW_MAXLEN, "%s", name);
	memcpy(w.bgw_extra, extra, len);
	w.bgw_notify_pid = 0;
	return RegisterDynamicBackgroundWorker(&w, NULL);
}

/* bt_xact_begin / bt_xact_end: a transaction with a snapshot and SPI around a step */
void
bt_xact_begin(void)
{
	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	PushActiveSnapshot(GetTransactionSnapshot());
}

void
bt_xact_end(void)
{
	SPI_finish();
	PopActiveSnapshot();
	CommitTransactionCommand();
}

/*
 * backtest_worker_main: the background worker. Waits for the launching transaction to end, then
 * runs the backtest as ex7._backtest_exec does, but in several transactions: the first marks it
 * running, each later one runs at least BT_PROGRESS_BARS bars and commits bars_done, the last
 * stores the result. On an error the backtest is marked failed with the message.
 */
void
backtest_worker_main(Datum arg)
{
	BtLaunch	l;
	BtState    *st = NULL;
	MemoryContext top = AllocSetContextCreate(TopMemoryContext, "ex7 backtest worker",
											  ALLOCSET_DEFAULT_SIZES);

	memcpy(&l, MyBgworkerEntry->bgw_extra, sizeof(l));
	bt_worker_connect(l.database, l.role, "ex7 backtest");

	/*
	 * Hold the backtest's advisory lock for the life of this process (session level): ended by a kill
	 * or a restart, the process releases it, and ex7._backtests_reap then marks the run failed
	 * (67_backtest.sql). Taken before the launching transaction commits, so the row is never queued
	 * without it while the worker lives.
	 */
	bt_xact_begin();
	{
		Oid			types[1] = {UUIDOID};
		Datum		args[1] = {UUIDPGetDatum(&l.id)};

		if (SPI_execute_with_args("SELECT pg_catalog.pg_advisory_lock(ex7._backtest_lock_key($1))", 1,
								  types, args, NULL, false, 0) != SPI_OK_SELECT)
			elog(ERROR, "could not take the backtest's lock");
	}
	bt_xact_end();

	/* the row is visible once the launching transaction commits */
	bt_worker_wait(l.xid);

	PG_TRY();
	{
		bool		more = true;
		Oid			types[2] = {UUIDOID, UUIDOID};
		Datum		args[2] = {UUIDPGetDatum(&l.user), UUIDPGetDatum(&l.id)};

		bt_xact_begin();
		/* rolled back, or already run: nothing to do */
		if (SPI_execute_with_args("SELECT 1 FROM ex7.backtests WHERE user_id = $1 AND id = $2 "
								  "AND status = 'queued'", 2, types, args, NULL, true, 1) != SPI_OK_SELECT ||
			SPI_processed == 0)
		{
			bt_xact_end();
			proc_exit(0);
		}
		st = bt_begin(&l.user, &l.id, top, true);
		bt_xact_end();
		while (more)
		{
			bt_xact_begin();
			more = bt_run_some(st);
			bt_xact_end();
		}
		bt_xact_begin();
		bt_end(st);
		bt_xact_end();
	}
	PG_CATCH();
	{
		ErrorData  *e;
		MemoryContext old = MemoryContextSwitchTo(top);

		e = CopyErrorData();
		MemoryContextSwitchTo(old);
		EmitErrorReport();
		FlushErrorState();
		AbortCurrentTransaction();
		bt_xact_begin();
		bt_fail(&l.user, &l.id, e->message);
		bt_xact_end();
	}
	PG_END_TRY();
	proc_exit(0);
}
