/*-------------------------------------------------------------------------
 *
 * metrics.c
 *	  ex7.compute_metrics, the performance metrics of a list of closed trades and an equity curve
 *	  (backtests and paper results alike), and ex7._equity_svg, the picture of that curve.
 *
 * One function computes every figure, so a backtest and the live (paper) statistics of a strategy
 * can never disagree on a formula. docs/metrics.md defines each one; the short version:
 *
 *	  money (P&L sums, averages, largest trades, drawdown amount) is PostgreSQL numeric, exact:
 *	  sums keep the scale of their inputs, averages are rounded half away from zero to cents;
 *	  ratios (win rate, profit factor, Sharpe, Sortino, Calmar, CAGR, exposure, percents) are double,
 *	  printed as JSON numbers rounded to 6 decimal places; a ratio whose denominator is zero, or
 *	  that has too few observations, is null, never an error or an infinity.
 *
 *	  returns series: the equity at the end of each UTC weekday (carried forward over days without a
 *	  sample), the first one measured against the initial capital; a weekend's change lands in the next
 *	  weekday. Annualised with periods_per_year (default 252, the CME trading days of a year).
 *
 * The function reads only its arguments and prints timestamps in UTC itself (not through the session
 * TimeZone), so it is IMMUTABLE: the same inputs give the same text in every session.
 *
 *-------------------------------------------------------------------------
 */
#include "ex7.h"
#include "svg.h"

#include <math.h>

#include "fmgr.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "nodes/pg_list.h"
#include "utils/builtins.h"
#include "utils/datum.h"
#include "utils/datetime.h"
#include "utils/fmgrprotos.h"
#include "utils/json.h"
#include "utils/jsonb.h"
#include "utils/memutils.h"
#include "utils/numeric.h"
#include "utils/timestamp.h"

/*
 * Trading days a year on CME futures: about 252 (365 days less 104 weekend days and 9 exchange
 * holidays), the usual annualisation of daily returns. A caller may pass its own periods_per_year.
 */
#define METRICS_PERIODS_PER_YEAR	252.0
/* CAGR's year: the Julian year, 365.25 days, so leap years average out */
#define METRICS_DAYS_PER_YEAR		365.25
/* ratios are printed with 6 decimals: stable text in expected outputs, far below any display need */
#define METRICS_RATIO_DECIMALS		6
/* averages of money are rounded to cents, the scale of the contract's "12.50" strings */
#define METRICS_MONEY_DECIMALS		2

typedef struct MTrade
{
	TimestampTz entry;
	TimestampTz exit;
	Numeric		pnl;
	Numeric		mae;			/* magnitude (>= 0), NULL when unknown */
	Numeric		mfe;			/* magnitude (>= 0), NULL when unknown */
	char	   *tag;			/* NULL when untagged */
	int			sign;			/* -1 loss, 0 breakeven, +1 win */
} MTrade;

typedef struct MPoint
{
	TimestampTz ts;
	Numeric		equity;
} MPoint;

/* ------------------------------------------------------------------------------------------------
 * numeric helpers: each returns a new palloc'd Numeric.
 * ------------------------------------------------------------------------------------------------ */
static Numeric
num_add(Numeric a, Numeric b)
{
	return DatumGetNumeric(DirectFunctionCall2(numeric_add, NumericGetDatum(a), NumericGetDatum(b)));
}

static Numeric
num_sub(Numeric a, Numeric b)
{
	return DatumGetNumeric(DirectFunctionCall2(numeric_sub, NumericGetDatum(a), NumericGetDatum(b)));
}

static int
num_cmp(Numeric a, Numeric b)
{
	return DatumGetInt32(DirectFunctionCall2(numeric_cmp, NumericGetDatum(a), NumericGetDatum(b)));
}

static Numeric
num_abs(Numeric a)
{
	return DatumGetNumeric(DirectFunctionCall1(numeric_abs, NumericGetDatum(a)));
}

static int
num_sign(Numeric a)
{
	Numeric		s = DatumGetNumeric(DirectFunctionCall1(numeric_sign, NumericGetDatum(a)));
	int			r = DatumGetInt32(DirectFunctionCall1(numeric_int4, NumericGetDatum(s)));

	pfree(s);
	return r;
}

static double
num_double(Numeric a)
{
	return DatumGetFloat8(DirectFunctionCall1(numeric_float8, NumericGetDatum(a)));
}

/* accumulate: *acc += x, freeing the old sum so a long list does not pile up garbage */
static void
num_accum(Numeric *acc, Numeric x)
{
	Numeric		n = num_add(*acc, x);

	pfree(*acc);
	*acc = n;
}

/* zero with the scale of like (x - x keeps x's scale: "0.00" for a money input "12.50") */
static Numeric
num_zero_like(Numeric like)
{
	return num_sub(like, like);
}

/* round(sum / n, 2): an average of money, rounded half away from zero to cents */
static Numeric
num_avg(Numeric sum, int64 n)
{
	Numeric		d = int64_to_numeric(n);
	Numeric		q = DatumGetNumeric(DirectFunctionCall2(numeric_div, NumericGetDatum(sum),
														NumericGetDatum(d)));

	return DatumGetNumeric(DirectFunctionCall2(numeric_round, NumericGetDatum(q),
											   Int32GetDatum(METRICS_MONEY_DECIMALS)));
}

static void
append_num(StringInfo b, Numeric n)
{
	if (n == NULL)
		appendStringInfoString(b, "null");
	else
	{
		char	   *s = DatumGetCString(DirectFunctionCall1(numeric_out, NumericGetDatum(n)));

		appendStringInfoChar(b, '"');
		appendStringInfoString(b, s);
		appendStringInfoChar(b, '"');
		pfree(s);
	}
}

/* a ratio as a JSON number rounded to 6 decimals with trailing zeros trimmed; NaN/inf is null */
static void
append_ratio(StringInfo b, double d, bool defined)
{
	Numeric		n;
	char	   *s;

	if (!defined || isnan(d) || isinf(d))
	{
		appendStringInfoString(b, "null");
		return;
	}
	n = DatumGetNumeric(DirectFunctionCall1(float8_numeric, Float8GetDatum(d)));
	n = DatumGetNumeric(DirectFunctionCall2(numeric_round, NumericGetDatum(n),
											Int32GetDatum(METRICS_RATIO_DECIMALS)));
	n = DatumGetNumeric(DirectFunctionCall1(numeric_trim_scale, NumericGetDatum(n)));
	s = DatumGetCString(DirectFunctionCall1(numeric_out, NumericGetDatum(n)));
	/* -0 rounds to "0" in numeric already; numeric never prints an exponent */
	appendStringInfoString(b, s);
}

/* ------------------------------------------------------------------------------------------------
 * Time helpers. All calendar work is in UTC.
 * ------------------------------------------------------------------------------------------------ */

/* the UTC day of ts as a Julian day number */
static int
utc_julian(TimestampTz ts)
{
	int64		days = ts / USECS_PER_DAY;

	if (ts < 0 && ts % USECS_PER_DAY != 0)
		days--;					/* floor, for instants before 2000-01-01 */
	return (int) days + POSTGRES_EPOCH_JDATE;
}

/* TimestampTz of 00:00 UTC of Julian day j */
static TimestampTz
julian_start(int j)
{
	return (TimestampTz) (j - POSTGRES_EPOCH_JDATE) * USECS_PER_DAY;
}

/* appends ts as a JSON string "YYYY-MM-DDTHH:MM:SS[.ffffff]+00:00" (what to_jsonb gives under UTC) */
static void
append_ts(StringInfo b, TimestampTz ts)
{
	struct pg_tm tm;
	fsec_t		fsec;

	if (timestamp2tm(ts, NULL, &tm, &fsec, NULL, NULL) != 0)
		elog(ERROR, "timestamp out of range");	/* inputs were checked finite */
	appendStringInfo(b, "\"%04d-%02d-%02dT%02d:%02d:%02d", tm.tm_year, tm.tm_mon, tm.tm_mday,
					 tm.tm_hour, tm.tm_min, tm.tm_sec);
	if (fsec != 0)
	{
		char		frac[8];
		int			len;

		snprintf(frac, sizeof(frac), "%06d", (int) fsec);
		for (len = 6; len > 0 && frac[len - 1] == '0'; len--)
			;
		appendStringInfo(b, ".%.*s", len, frac);
	}
	appendStringInfoString(b, "+00:00\"");
}

static void
append_ts_or_null(StringInfo b, TimestampTz ts, bool valid)
{
	if (valid)
		append_ts(b, ts);
	else
		appendStringInfoString(b, "null");
}

/* ------------------------------------------------------------------------------------------------
 * Input.
 * ------------------------------------------------------------------------------------------------ */

/* the member key of object c, or NULL when missing or JSON null */
static bool
get_member(JsonbContainer *c, const char *key, JsonbValue *out)
{
	JsonbValue *v = getKeyJsonValueFromContainer(c, key, strlen(key), out);

	return v != NULL && v->type != jbvNull;
}

/* the decimal member key of c (a JSON string or number): finite, or an error naming where */
static Numeric
get_decimal(JsonbContainer *c, const char *what, int idx, const char *key, bool required)
{
	JsonbValue	v;
	Numeric		n;

	char	   *where = idx < 0 ? psprintf("%s.%s", what, key) : psprintf("%s[%d].%s", what, idx, key);

	if (!get_member(c, key, &v))
	{
		if (required)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("%s is required", where)));
		return NULL;
	}
	if (v.type == jbvNumeric)
		n = DatumGetNumeric(datumCopy(NumericGetDatum(v.val.numeric), false, -1));
	else if (v.type == jbvString)
	{
		char	   *s = pnstrdup(v.val.string.val, v.val.string.len);

		n = DatumGetNumeric(DirectFunctionCall3(numeric_in, CStringGetDatum(s),
												ObjectIdGetDatum(InvalidOid), Int32GetDatum(-1)));
		pfree(s);
	}
	else
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s must be a decimal string or number", where)));
	if (numeric_is_nan(n) || numeric_is_inf(n))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s must be a finite number", where)));
	pfree(where);
	return n;
}

static TimestampTz
get_ts(JsonbContainer *c, const char *what, int idx, const char *key)
{
	JsonbValue	v;
	char	   *s;
	TimestampTz ts;

	if (!get_member(c, key, &v) || v.type != jbvString)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s[%d].%s must be a timestamp string", what, idx, key)));
	s = pnstrdup(v.val.string.val, v.val.string.len);
	ts = DatumGetTimestampTz(DirectFunctionCall3(timestamptz_in, CStringGetDatum(s),
												 ObjectIdGetDatum(InvalidOid), Int32GetDatum(-1)));
	pfree(s);
	if (TIMESTAMP_NOT_FINITE(ts))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s[%d].%s must be a finite timestamp", what, idx, key)));
	return ts;
}

/* the elements of a jsonb array argument, as containers of objects; *n gets the count */
static JsonbContainer **
array_objects(Jsonb *j, const char *what, int *n)
{
	JsonbIterator *it;
	JsonbValue	v;
	JsonbIteratorToken tok;
	JsonbContainer **out;
	int			i = 0;

	if (!JB_ROOT_IS_ARRAY(j) || JB_ROOT_IS_SCALAR(j))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s must be a JSON array", what)));
	*n = JB_ROOT_COUNT(j);
	out = palloc(sizeof(JsonbContainer *) * Max(*n, 1));
	it = JsonbIteratorInit(&j->root);
	while ((tok = JsonbIteratorNext(&it, &v, true)) != WJB_DONE)
	{
		if (tok != WJB_ELEM)
			continue;
		if (v.type != jbvBinary || !JsonContainerIsObject(v.val.binary.data))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("%s[%d] must be a JSON object", what, i)));
		out[i++] = v.val.binary.data;
	}
	Assert(i == *n);
	return out;
}

static MPoint *
read_equity(Jsonb *j, int *n)
{
	JsonbContainer **objs = array_objects(j, "equity", n);
	MPoint	   *pts = palloc(sizeof(MPoint) * Max(*n, 1));

	for (int i = 0; i < *n; i++)
	{
		pts[i].ts = get_ts(objs[i], "equity", i, "ts");
		pts[i].equity = get_decimal(objs[i], "equity", i, "equity", true);
		if (i > 0 && pts[i].ts < pts[i - 1].ts)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("equity[%d].ts is earlier than equity[%d].ts", i, i - 1),
					 errdetail("The equity curve must be in time order.")));
	}
	return pts;
}

/* ------------------------------------------------------------------------------------------------
 * compute_metrics
 * ------------------------------------------------------------------------------------------------ */

typedef struct MGroup
{
	char	   *key;			/* NULL: the untagged group */
	int			idx;			/* trade index, for a stable order within a key */
} MGroup;

/* keys compare like strcmp, the untagged (NULL) group last */
static int
key_cmp(const char *x, const char *y)
{
	if (x == NULL || y == NULL)
		return (x == NULL) - (y == NULL);
	return strcmp(x, y);
}

static int
group_cmp(const void *a, const void *b)
{
	const MGroup *x = a;
	const MGroup *y = b;
	int			c = key_cmp(x->key, y->key);

	if (c != 0)
		return c;
	return x->idx < y->idx ? -1 : (x->idx > y->idx);
}

/* appends one breakdown: [{key, trades, wins, losses, win_rate, net_pnl, gross_profit, gross_loss}] */
static void
append_breakdown(StringInfo b, MTrade *t, MGroup *g, int n, Numeric zero)
{
	appendStringInfoChar(b, '[');
	qsort(g, n, sizeof(MGroup), group_cmp);
	for (int i = 0; i < n;)
	{
		int			j = i;
		int			wins = 0,
					losses = 0;
		Numeric		net = num_zero_like(zero);
		Numeric		gp = num_zero_like(zero);
		Numeric		gl = num_zero_like(zero);

		for (; j < n && key_cmp(g[i].key, g[j].key) == 0; j++)
		{
			MTrade	   *tr = &t[g[j].idx];

			num_accum(&net, tr->pnl);
			if (tr->sign > 0)
			{
				wins++;
				num_accum(&gp, tr->pnl);
			}
			else if (tr->sign < 0)
			{
				Numeric		a = num_abs(tr->pnl);

				losses++;
				num_accum(&gl, a);
				pfree(a);
			}
		}
		if (i > 0)
			appendStringInfoString(b, ", ");
		appendStringInfoString(b, "{\"key\": ");
		if (g[i].key)
			escape_json(b, g[i].key);
		else
			appendStringInfoString(b, "null");
		appendStringInfo(b, ", \"trades\": %d, \"wins\": %d, \"losses\": %d, \"win_rate\": ",
						 j - i, wins, losses);
		append_ratio(b, (double) wins / (j - i), true);
		appendStringInfoString(b, ", \"net_pnl\": ");
		append_num(b, net);
		appendStringInfoString(b, ", \"gross_profit\": ");
		append_num(b, gp);
		appendStringInfoString(b, ", \"gross_loss\": ");
		append_num(b, gl);
		appendStringInfoChar(b, '}');
		i = j;
	}
	appendStringInfoChar(b, ']');
}

static int
entry_cmp(const void *a, const void *b)
{
	const MTrade *x = *(MTrade *const *) a;
	const MTrade *y = *(MTrade *const *) b;

	return x->entry < y->entry ? -1 : (x->entry > y->entry);
}

/*
 * excursion summary: {trades, avg_mae, max_mae, avg_mfe, max_mfe, avg_mae_winners, avg_mfe_losers}
 * over the trades whose mae and mfe are known.
 */
static void
append_excursions(StringInfo b, MTrade *t, int n, Numeric zero)
{
	int			known = 0,
				kw = 0,
				kl = 0;
	Numeric		smae = num_zero_like(zero),
				smfe = num_zero_like(zero),
				smae_w = num_zero_like(zero),
				smfe_l = num_zero_like(zero);
	Numeric		mmae = NULL,
				mmfe = NULL;

	for (int i = 0; i < n; i++)
	{
		if (t[i].mae == NULL || t[i].mfe == NULL)
			continue;
		known++;
		num_accum(&smae, t[i].mae);
		num_accum(&smfe, t[i].mfe);
		if (mmae == NULL || num_cmp(t[i].mae, mmae) > 0)
			mmae = t[i].mae;
		if (mmfe == NULL || num_cmp(t[i].mfe, mmfe) > 0)
			mmfe = t[i].mfe;
		if (t[i].sign > 0)
		{
			kw++;
			num_accum(&smae_w, t[i].mae);
		}
		else if (t[i].sign < 0)
		{
			kl++;
			num_accum(&smfe_l, t[i].mfe);
		}
	}
	appendStringInfo(b, "{\"trades\": %d, \"avg_mae\": ", known);
	append_num(b, known ? num_avg(smae, known) : NULL);
	appendStringInfoString(b, ", \"max_mae\": ");
	append_num(b, mmae);
	appendStringInfoString(b, ", \"avg_mfe\": ");
	append_num(b, known ? num_avg(smfe, known) : NULL);
	appendStringInfoString(b, ", \"max_mfe\": ");
	append_num(b, mmfe);
	appendStringInfoString(b, ", \"avg_mae_winners\": ");
	append_num(b, kw ? num_avg(smae_w, kw) : NULL);
	appendStringInfoString(b, ", \"avg_mfe_losers\": ");
	append_num(b, kl ? num_avg(smfe_l, kl) : NULL);
	appendStringInfoChar(b, '}');
}

/*
 * The daily returns of the equity curve (see the file header): fills r (palloc'd, *nr entries).
 * Returns false when a period starts at equity <= 0, where a return is undefined.
 */
static bool
daily_returns(MPoint *p, int np, Numeric initial, double **r, int *nr)
{
	int			first,
				last,
				k = 0;
	double		prev = num_double(initial);
	double		cur = prev;

	*nr = 0;
	*r = NULL;
	if (np == 0)
		return true;
	/*
	 * Day D ends at D+1 00:00 inclusive: a day-end sample stamped midnight closes the day before. The
	 * series starts on the curve's first day (its first sample, often the start of the test at
	 * initial capital, opens that day) and ends on the day the last sample closes.
	 */
	first = utc_julian(p[0].ts);
	last = utc_julian(p[np - 1].ts - 1);
	*r = palloc(sizeof(double) * Max(last - first + 1, 1));
	for (int j = first; j <= last; j++)
	{
		TimestampTz end = julian_start(j + 1);
		int			dow = j2day(j);	/* 0 Sunday .. 6 Saturday */

		while (k < np && p[k].ts <= end)
			cur = num_double(p[k++].equity);
		/* weekends fold into the next weekday; the curve's last day closes the series anyway */
		if ((dow == 0 || dow == 6) && j != last)
			continue;
		if (prev <= 0)
			return false;
		(*r)[(*nr)++] = cur / prev - 1.0;
		prev = cur;
	}
	return true;
}

PG_FUNCTION_INFO_V1(compute_metrics);
Datum
compute_metrics(PG_FUNCTION_ARGS)
{
	Jsonb	   *jtrades = PG_GETARG_JSONB_P(0);
	Jsonb	   *jequity = PG_GETARG_JSONB_P(1);
	Jsonb	   *jparams = PG_GETARG_JSONB_P(2);
	MemoryContext work,
				caller = CurrentMemoryContext;
	StringInfoData b;
	Datum		result;

	int			nt,
				np;
	MTrade	   *t;
	MPoint	   *p;
	JsonbContainer **objs;
	Numeric		initial,
				zero,
				rf_num;
	double		rf = 0.0,
				ppy = METRICS_PERIODS_PER_YEAR;
	JsonbValue	v;

	int			wins = 0,
				losses = 0,
				breakeven = 0,
				run_w = 0,
				run_l = 0,
				max_w = 0,
				max_l = 0;
	Numeric		net,
				gp,
				gl,
				largest_win = NULL,
				largest_loss = NULL,
				final_equity;

	work = AllocSetContextCreate(CurrentMemoryContext, "compute_metrics", ALLOCSET_DEFAULT_SIZES);
	MemoryContextSwitchTo(work);

	/* params */
	if (!JB_ROOT_IS_OBJECT(jparams))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("params must be a JSON object")));
	initial = get_decimal(&jparams->root, "params", -1, "initial_capital", true);
	if (num_sign(initial) <= 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("params.initial_capital must be greater than 0")));
	rf_num = get_decimal(&jparams->root, "params", -1, "risk_free_rate", false);
	if (rf_num)
	{
		rf = num_double(rf_num);
		if (rf <= -1.0 || rf >= 1.0)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("params.risk_free_rate must be an annual rate between -1 and 1"),
					 errhint("0.04 is 4%% a year.")));
	}
	else
		rf_num = int64_to_numeric(0);
	if (get_member(&jparams->root, "periods_per_year", &v))
	{
		Numeric		n = get_decimal(&jparams->root, "params", -1, "periods_per_year", true);

		ppy = num_double(n);
		if (!(ppy >= 1 && ppy <= 366 * 24 * 60))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("params.periods_per_year must be between 1 and 527040")));
	}
	zero = num_zero_like(initial);

	/* trades */
	objs = array_objects(jtrades, "trades", &nt);
	t = palloc0(sizeof(MTrade) * Max(nt, 1));
	for (int i = 0; i < nt; i++)
	{
		JsonbValue	tv;

		CHECK_FOR_INTERRUPTS();
		t[i].entry = get_ts(objs[i], "trades", i, "entry_time");
		t[i].exit = get_ts(objs[i], "trades", i, "exit_time");
		if (t[i].exit < t[i].entry)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("trades[%d].exit_time is earlier than its entry_time", i)));
		if (i > 0 && t[i].exit < t[i - 1].exit)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("trades[%d].exit_time is earlier than trades[%d].exit_time", i, i - 1),
					 errdetail("Trades must be in exit order.")));
		t[i].pnl = get_decimal(objs[i], "trades", i, "pnl", true);
		t[i].mae = get_decimal(objs[i], "trades", i, "mae", false);
		t[i].mfe = get_decimal(objs[i], "trades", i, "mfe", false);
		/* excursions are magnitudes whichever sign the caller wrote them with */
		if (t[i].mae)
			t[i].mae = num_abs(t[i].mae);
		if (t[i].mfe)
			t[i].mfe = num_abs(t[i].mfe);
		if (get_member(objs[i], "tag", &tv))
		{
			if (tv.type != jbvString)
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("trades[%d].tag must be a string or null", i)));
			t[i].tag = pnstrdup(tv.val.string.val, tv.val.string.len);
		}
		t[i].sign = num_sign(t[i].pnl);
	}
	p = read_equity(jequity, &np);

	/* trade statistics: sums exact, streaks in exit order (a breakeven trade ends both) */
	net = num_zero_like(zero);
	gp = num_zero_like(zero);
	gl = num_zero_like(zero);
	for (int i = 0; i < nt; i++)
	{
		num_accum(&net, t[i].pnl);
		if (t[i].sign > 0)
		{
			wins++;
			num_accum(&gp, t[i].pnl);
			if (largest_win == NULL || num_cmp(t[i].pnl, largest_win) > 0)
				largest_win = t[i].pnl;
			run_w++;
			run_l = 0;
		}
		else if (t[i].sign < 0)
		{
			Numeric		a = num_abs(t[i].pnl);

			losses++;
			num_accum(&gl, a);
			if (largest_loss == NULL || num_cmp(a, largest_loss) > 0)
				largest_loss = a;
			run_l++;
			run_w = 0;
		}
		else
		{
			breakeven++;
			run_w = run_l = 0;
		}
		max_w = Max(max_w, run_w);
		max_l = Max(max_l, run_l);
	}
	final_equity = np > 0 ? p[np - 1].equity : num_add(initial, net);

	initStringInfo(&b);
	appendStringInfo(&b, "{\"trades\": %d, \"winning_trades\": %d, \"losing_trades\": %d, "
					 "\"breakeven_trades\": %d, \"initial_capital\": ", nt, wins, losses, breakeven);
	append_num(&b, initial);
	appendStringInfoString(&b, ", \"final_equity\": ");
	append_num(&b, final_equity);
	appendStringInfoString(&b, ", \"net_pnl\": ");
	append_num(&b, net);
	appendStringInfoString(&b, ", \"net_pnl_percent\": ");
	append_ratio(&b, num_double(net) / num_double(initial) * 100.0, true);
	appendStringInfoString(&b, ", \"total_return_percent\": ");
	append_ratio(&b, (num_double(final_equity) / num_double(initial) - 1.0) * 100.0, true);
	appendStringInfoString(&b, ", \"gross_profit\": ");
	append_num(&b, gp);
	appendStringInfoString(&b, ", \"gross_loss\": ");
	append_num(&b, gl);
	appendStringInfoString(&b, ", \"win_rate\": ");
	append_ratio(&b, (double) wins / nt, nt > 0);
	appendStringInfoString(&b, ", \"loss_rate\": ");
	append_ratio(&b, (double) losses / nt, nt > 0);
	appendStringInfoString(&b, ", \"avg_win\": ");
	append_num(&b, wins ? num_avg(gp, wins) : NULL);
	appendStringInfoString(&b, ", \"avg_loss\": ");
	append_num(&b, losses ? num_avg(gl, losses) : NULL);
	appendStringInfoString(&b, ", \"avg_trade\": ");
	append_num(&b, nt ? num_avg(net, nt) : NULL);
	/*
	 * expectancy = win_rate * avg_win - loss_rate * avg_loss = (gross_profit - gross_loss) / trades,
	 * computed exactly from the sums and only then rounded (the rounded averages could be a cent off)
	 */
	appendStringInfoString(&b, ", \"expectancy\": ");
	append_num(&b, nt ? num_avg(num_sub(gp, gl), nt) : NULL);
	appendStringInfoString(&b, ", \"largest_win\": ");
	append_num(&b, largest_win);
	appendStringInfoString(&b, ", \"largest_loss\": ");
	append_num(&b, largest_loss);
	appendStringInfoString(&b, ", \"profit_factor\": ");
	append_ratio(&b, num_double(gp) / num_double(gl), losses > 0);
	appendStringInfoString(&b, ", \"payoff_ratio\": ");
	append_ratio(&b, (num_double(gp) / wins) / (num_double(gl) / losses), wins > 0 && losses > 0);
	appendStringInfo(&b, ", \"max_consecutive_wins\": %d, \"max_consecutive_losses\": %d",
					 max_w, max_l);

	/* drawdown (by amount: fixed-contract futures P&L adds, it does not compound) */
	{
		Numeric		peak = initial,
					best = zero,
					best_peak = initial;
		TimestampTz peak_ts = np > 0 ? p[0].ts : 0,
					start = 0,
					trough = 0,
					recovery = 0;
		int			trough_i = -1;
		bool		recovered = false;
		double		pct = 0;

		for (int i = 0; i < np; i++)
		{
			Numeric		dd;

			if (num_cmp(p[i].equity, peak) >= 0)
			{
				peak = p[i].equity;
				peak_ts = p[i].ts;
				continue;
			}
			dd = num_sub(peak, p[i].equity);
			if (num_cmp(dd, best) > 0)
			{
				best = dd;
				best_peak = peak;
				start = peak_ts;
				trough = p[i].ts;
				trough_i = i;
			}
			else
				pfree(dd);
		}
		for (int i = trough_i + 1; trough_i >= 0 && i < np; i++)
		{
			if (num_cmp(p[i].equity, best_peak) >= 0)
			{
				recovered = true;
				recovery = p[i].ts;
				break;
			}
		}
		if (trough_i >= 0 && num_sign(best_peak) > 0)
			pct = num_double(best) / num_double(best_peak) * 100.0;
		appendStringInfoString(&b, ", \"max_drawdown\": {\"amount\": ");
		append_num(&b, best);
		appendStringInfoString(&b, ", \"percent\": ");
		append_ratio(&b, pct, trough_i < 0 || num_sign(best_peak) > 0);
		appendStringInfoString(&b, ", \"peak_equity\": ");
		append_num(&b, trough_i >= 0 ? best_peak : NULL);
		appendStringInfoString(&b, ", \"start\": ");
		append_ts_or_null(&b, start, trough_i >= 0);
		appendStringInfoString(&b, ", \"trough\": ");
		append_ts_or_null(&b, trough, trough_i >= 0);
		appendStringInfoString(&b, ", \"recovery\": ");
		append_ts_or_null(&b, recovery, recovered);
		/* seconds from the peak to the recovery, or to the curve's end while under water */
		appendStringInfo(&b, ", \"duration\": " INT64_FORMAT "}",
						 trough_i < 0 ? (int64) 0 :
						 ((recovered ? recovery : p[np - 1].ts) - start) / USECS_PER_SEC);

		/* returns, Sharpe, Sortino, CAGR, Calmar */
		{
			double	   *r;
			int			nr;
			bool		valid = daily_returns(p, np, initial, &r, &nr);
			bool		ok = valid;
			double		rf_p = pow(1.0 + rf, 1.0 / ppy) - 1.0;
			double		mean = 0,
						var = 0,
						down = 0,
						sd,
						dd_dev,
						years = 0,
						cagr = 0;
			bool		have_cagr = false;

			for (int i = 0; ok && i < nr; i++)
				mean += r[i] - rf_p;
			if (nr > 0)
				mean /= nr;
			for (int i = 0; ok && i < nr; i++)
			{
				double		x = r[i] - rf_p;

				var += (x - mean) * (x - mean);
				if (x < 0)
					down += x * x;
			}
			sd = nr > 1 ? sqrt(var / (nr - 1)) : 0;
			dd_dev = nr > 0 ? sqrt(down / nr) : 0;
			ok = ok && nr >= 2;

			if (np > 0)
				years = (double) (p[np - 1].ts - p[0].ts) /
					(METRICS_DAYS_PER_YEAR * USECS_PER_DAY);
			if (years > 0)
			{
				double		ratio = num_double(final_equity) / num_double(initial);

				cagr = ratio > 0 ? pow(ratio, 1.0 / years) - 1.0 : -1.0;
				have_cagr = true;
			}
			appendStringInfoString(&b, ", \"sharpe\": ");
			append_ratio(&b, mean / sd * sqrt(ppy), ok && sd > 0);
			appendStringInfoString(&b, ", \"sortino\": ");
			append_ratio(&b, mean / dd_dev * sqrt(ppy), ok && dd_dev > 0);
			appendStringInfoString(&b, ", \"annual_volatility\": ");
			append_ratio(&b, sd * sqrt(ppy), ok);
			appendStringInfoString(&b, ", \"cagr\": ");
			append_ratio(&b, cagr, have_cagr);
			appendStringInfoString(&b, ", \"calmar\": ");
			append_ratio(&b, cagr / (pct / 100.0), have_cagr && pct > 0);
			appendStringInfo(&b, ", \"returns\": {\"series\": \"daily_utc_weekdays\", \"periods\": %d, "
							 "\"periods_per_year\": ", valid ? nr : 0);
			append_ratio(&b, ppy, true);
			appendStringInfoString(&b, ", \"risk_free_rate\": ");
			append_num(&b, rf_num);
			appendStringInfoChar(&b, '}');
		}
	}

	/* exposure: the union of [entry, exit] over the span of the curve and the trades */
	{
		TimestampTz lo = 0,
					hi = 0,
					cur_s = 0,
					cur_e = 0;
		int64		inside = 0;
		bool		any = false;
		MTrade	  **byentry = palloc(sizeof(MTrade *) * Max(nt, 1));

		for (int i = 0; i < nt; i++)
			byentry[i] = &t[i];
		qsort(byentry, nt, sizeof(MTrade *), entry_cmp);
		for (int i = 0; i < nt; i++)
		{
			MTrade	   *x = byentry[i];

			if (!any || x->entry > cur_e)
			{
				inside += cur_e - cur_s;
				cur_s = x->entry;
				cur_e = x->exit;
			}
			else if (x->exit > cur_e)
				cur_e = x->exit;
			if (!any || x->entry < lo)
				lo = x->entry;
			if (!any || x->exit > hi)
				hi = x->exit;
			any = true;
		}
		inside += cur_e - cur_s;
		if (np > 0)
		{
			if (!any || p[0].ts < lo)
				lo = p[0].ts;
			if (!any || p[np - 1].ts > hi)
				hi = p[np - 1].ts;
			any = true;
		}
		appendStringInfoString(&b, ", \"exposure\": ");
		append_ratio(&b, (double) inside / (double) (hi - lo), any && hi > lo);
		appendStringInfoString(&b, ", \"span\": {\"start\": ");
		append_ts_or_null(&b, lo, any);
		appendStringInfoString(&b, ", \"end\": ");
		append_ts_or_null(&b, hi, any);
		appendStringInfoChar(&b, '}');
	}

	appendStringInfoString(&b, ", \"excursions\": ");
	append_excursions(&b, t, nt, zero);

	/* breakdowns by the UTC day, ISO week and month of the exit, and by entry tag */
	{
		MGroup	   *g = palloc(sizeof(MGroup) * Max(nt, 1));
		const char *names[] = {"by_day", "by_week", "by_month", "by_tag"};

		appendStringInfoString(&b, ", \"breakdowns\": {");
		for (int k = 0; k < 4; k++)
		{
			for (int i = 0; i < nt; i++)
			{
				int			y,
							m,
							d;

				j2date(utc_julian(t[i].exit), &y, &m, &d);
				g[i].idx = i;
				switch (k)
				{
					case 0:
						g[i].key = psprintf("%04d-%02d-%02d", y, m, d);
						break;
					case 1:
						g[i].key = psprintf("%04d-W%02d", date2isoyear(y, m, d),
											date2isoweek(y, m, d));
						break;
					case 2:
						g[i].key = psprintf("%04d-%02d", y, m);
						break;
					default:
						g[i].key = t[i].tag;
						break;
				}
			}
			appendStringInfo(&b, "%s\"%s\": ", k ? ", " : "", names[k]);
			append_breakdown(&b, t, g, nt, zero);
		}
		appendStringInfoString(&b, "}}");
	}

	MemoryContextSwitchTo(caller);
	result = DirectFunctionCall1(jsonb_in, CStringGetDatum(b.data));
	MemoryContextDelete(work);
	PG_RETURN_DATUM(result);
}

/* ------------------------------------------------------------------------------------------------
 * _equity_svg
 * ------------------------------------------------------------------------------------------------ */

/* the picture's geometry, in SVG user units (pixels at 100%) */
#define SVG_WIDTH			900
#define SVG_LEFT			100		/* room for the value labels */
#define SVG_RIGHT			30
#define SVG_EQ_TOP			56
#define SVG_EQ_HEIGHT		260
#define SVG_DD_TOP			346
#define SVG_DD_HEIGHT		110
#define SVG_XLABEL_Y		(SVG_DD_TOP + SVG_DD_HEIGHT + 18)
#define SVG_NOTE_TOP		(SVG_XLABEL_Y + 40)
#define SVG_NOTE_LINE		15
/*
 * The statement is in capitals, which in 11px sans-serif average about 7.4px (0.67 em, Helvetica's
 * capitals): 100 characters take about 740 of the 850 units from the text's left edge to the margin.
 */
#define SVG_NOTE_CHARS		100
#define SVG_XTICKS			5

/* appends s with the five XML special characters escaped and characters XML 1.0 forbids dropped */
void
ex7_svg_text(StringInfo b, const char *s)
{
	for (; *s; s++)
	{
		unsigned char c = (unsigned char) *s;

		switch (c)
		{
			case '&':
				appendStringInfoString(b, "&amp;");
				break;
			case '<':
				appendStringInfoString(b, "&lt;");
				break;
			case '>':
				appendStringInfoString(b, "&gt;");
				break;
			case '"':
				appendStringInfoString(b, "&quot;");
				break;
			case '\'':
				appendStringInfoString(b, "&apos;");
				break;
			default:
				/* XML 1.0 Char excludes C0 controls but tab, newline and carriage return */
				if (c < 0x20 && c != '\t' && c != '\n' && c != '\r')
					appendStringInfoChar(b, ' ');
				else
					appendStringInfoChar(b, (char) c);
		}
	}
}

/* the "nice" step (1, 2 or 5 times a power of ten) that cuts range into about n intervals */
double
ex7_svg_nice_step(double range, int n)
{
	double		raw = range / n;
	double		mag = pow(10.0, floor(log10(raw)));
	double		f = raw / mag;

	return (f <= 1 ? 1 : f <= 2 ? 2 : f <= 5 ? 5 : 10) * mag;
}

/* decimals needed to print multiples of step exactly (0 for steps >= 1) */
int
ex7_svg_step_decimals(double step)
{
	int			d = (int) ceil(-log10(step) - 1e-9);

	return Max(0, Min(d, 6));
}

void
ex7_svg_date_label(StringInfo b, TimestampTz ts, bool with_time)
{
	struct pg_tm tm;
	fsec_t		fsec;

	if (timestamp2tm(ts, NULL, &tm, &fsec, NULL, NULL) != 0)
		elog(ERROR, "timestamp out of range");
	appendStringInfo(b, "%04d-%02d-%02d", tm.tm_year, tm.tm_mon, tm.tm_mday);
	if (with_time)
		appendStringInfo(b, " %02d:%02d", tm.tm_hour, tm.tm_min);
}

/* the statement, wrapped at word boundaries into lines of at most SVG_NOTE_CHARS; returns lines */
List *
ex7_svg_wrap(const char *s)
{
	List	   *lines = NIL;
	StringInfoData line;

	initStringInfo(&line);
	while (*s)
	{
		const char *w = s;
		int			len;

		while (*w == ' ')
			w++;
		if (!*w)
			break;
		for (len = 0; w[len] && w[len] != ' '; len++)
			;
		if (line.len > 0 && line.len + 1 + len > SVG_NOTE_CHARS)
		{
			lines = lappend(lines, pstrdup(line.data));
			resetStringInfo(&line);
		}
		if (line.len > 0)
			appendStringInfoChar(&line, ' ');
		appendBinaryStringInfo(&line, w, len);
		s = w + len;
	}
	if (line.len > 0)
		lines = lappend(lines, pstrdup(line.data));
	return lines;
}

/*
 * ex7._equity_svg(equity jsonb, title text, rule text, statement text) -> text: the equity curve
 * of [{ts, equity}] (time order) as a self-contained SVG document: the title, the equity line with
 * value and date axes, the drawdown from the running peak as an area below it, and under the chart
 * the rule's name and the statement, wrapped. No scripts, styles or external references: it can be
 * served as image/svg+xml and opened in a browser. ex7.equity_svg passes the CFTC 4.41 statement.
 */
PG_FUNCTION_INFO_V1(_equity_svg);
Datum
_equity_svg(PG_FUNCTION_ARGS)
{
	Jsonb	   *jequity = PG_GETARG_JSONB_P(0);
	char	   *title = text_to_cstring(PG_GETARG_TEXT_PP(1));
	char	   *rule = text_to_cstring(PG_GETARG_TEXT_PP(2));
	char	   *statement = text_to_cstring(PG_GETARG_TEXT_PP(3));
	MemoryContext work,
				caller = CurrentMemoryContext;
	StringInfoData b;
	MPoint	   *p;
	int			np;
	double	   *eq,
			   *dd;
	double		lo = 0,
				hi = 0,
				ddmax = 0,
				peak = 0;
	int			plot_w = SVG_WIDTH - SVG_LEFT - SVG_RIGHT;
	List	   *lines;
	ListCell   *lc;
	int			height;
	text	   *result;

	work = AllocSetContextCreate(CurrentMemoryContext, "equity_svg", ALLOCSET_DEFAULT_SIZES);
	MemoryContextSwitchTo(work);

	p = read_equity(jequity, &np);
	eq = palloc(sizeof(double) * Max(np, 1));
	dd = palloc(sizeof(double) * Max(np, 1));
	for (int i = 0; i < np; i++)
	{
		eq[i] = num_double(p[i].equity);
		if (i == 0 || eq[i] > peak)
			peak = eq[i];
		dd[i] = peak - eq[i];
		ddmax = Max(ddmax, dd[i]);
		lo = i == 0 ? eq[i] : Min(lo, eq[i]);
		hi = i == 0 ? eq[i] : Max(hi, eq[i]);
	}
	lines = ex7_svg_wrap(statement);
	height = SVG_NOTE_TOP + SVG_NOTE_LINE * (list_length(lines) + 1) + 10;

	initStringInfo(&b);
	appendStringInfo(&b, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" "
					 "viewBox=\"0 0 %d %d\" font-family=\"sans-serif\" font-size=\"11\">\n",
					 SVG_WIDTH, height, SVG_WIDTH, height);
	appendStringInfoString(&b, "<title>");
	ex7_svg_text(&b, title);
	appendStringInfoString(&b, "</title>\n");
	appendStringInfo(&b, "<rect x=\"0\" y=\"0\" width=\"%d\" height=\"%d\" fill=\"#ffffff\"/>\n",
					 SVG_WIDTH, height);
	appendStringInfo(&b, "<text class=\"title\" x=\"%d\" y=\"30\" font-size=\"16\" "
					 "font-weight=\"bold\">", SVG_LEFT);
	ex7_svg_text(&b, title);
	appendStringInfoString(&b, "</text>\n");

	/* panel frames and their axis titles */
	appendStringInfo(&b, "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" fill=\"none\" "
					 "stroke=\"#999999\"/>\n", SVG_LEFT, SVG_EQ_TOP, plot_w, SVG_EQ_HEIGHT);
	appendStringInfo(&b, "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" fill=\"none\" "
					 "stroke=\"#999999\"/>\n", SVG_LEFT, SVG_DD_TOP, plot_w, SVG_DD_HEIGHT);
	appendStringInfo(&b, "<text class=\"axis-title\" x=\"16\" y=\"%d\" transform=\"rotate(-90 16 %d)\" "
					 "text-anchor=\"middle\">Equity</text>\n",
					 SVG_EQ_TOP + SVG_EQ_HEIGHT / 2, SVG_EQ_TOP + SVG_EQ_HEIGHT / 2);
	appendStringInfo(&b, "<text class=\"axis-title\" x=\"16\" y=\"%d\" transform=\"rotate(-90 16 %d)\" "
					 "text-anchor=\"middle\">Drawdown</text>\n",
					 SVG_DD_TOP + SVG_DD_HEIGHT / 2, SVG_DD_TOP + SVG_DD_HEIGHT / 2);
	appendStringInfo(&b, "<text class=\"axis-title\" x=\"%d\" y=\"%d\" text-anchor=\"middle\">"
					 "Date (UTC)</text>\n", SVG_LEFT + plot_w / 2, SVG_XLABEL_Y + 20);

	if (np == 0)
		appendStringInfo(&b, "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\" fill=\"#666666\">"
						 "no equity data</text>\n",
						 SVG_LEFT + plot_w / 2, SVG_EQ_TOP + SVG_EQ_HEIGHT / 2);
	else
	{
		TimestampTz t0 = p[0].ts,
					t1 = p[np - 1].ts;
		double		span = (double) (t1 - t0);
		double		step,
					ylo,
					yhi;
		int			dec;
		/*
		 * five ticks over less than ten days fall within a day or two of each other: show the time,
		 * unless every tick is a UTC midnight
		 */
		bool		with_time = (t1 - t0) < 10 * USECS_PER_DAY &&
			(t0 % USECS_PER_DAY != 0 || (t1 - t0) % ((SVG_XTICKS - 1) * USECS_PER_DAY) != 0);

#define X(ts) (span > 0 ? SVG_LEFT + (double) ((ts) - t0) / span * plot_w : SVG_LEFT + plot_w / 2.0)
#define YEQ(v) (SVG_EQ_TOP + SVG_EQ_HEIGHT - ((v) - ylo) / (yhi - ylo) * SVG_EQ_HEIGHT)
#define YDD(v) (SVG_DD_TOP + (ddmax > 0 ? (v) / ddmax * SVG_DD_HEIGHT : 0))

		/* value axis: nice round gridlines covering [lo, hi] */
		if (hi - lo < 1e-9 * Max(fabs(hi), 1.0))
		{
			lo -= Max(fabs(lo) * 0.01, 1.0);
			hi += Max(fabs(hi) * 0.01, 1.0);
		}
		step = ex7_svg_nice_step(hi - lo, 5);
		dec = ex7_svg_step_decimals(step);
		ylo = floor(lo / step) * step;
		yhi = ceil(hi / step) * step;
		for (double v = ylo; v <= yhi + step / 2; v += step)
		{
			double		y = YEQ(v);

			appendStringInfo(&b, "<line x1=\"%d\" y1=\"%.1f\" x2=\"%d\" y2=\"%.1f\" stroke=\"#e5e5e5\"/>\n",
							 SVG_LEFT, y, SVG_LEFT + plot_w, y);
			appendStringInfo(&b, "<text class=\"y-label\" x=\"%d\" y=\"%.1f\" text-anchor=\"end\">%.*f</text>\n",
							 SVG_LEFT - 6, y + 4, dec, fabs(v) < step / 2 ? 0.0 : v);
		}

		/* drawdown axis: 0 at the top, the deepest drawdown at the bottom */
		appendStringInfo(&b, "<text class=\"y-label\" x=\"%d\" y=\"%d\" text-anchor=\"end\">0</text>\n",
						 SVG_LEFT - 6, SVG_DD_TOP + 4);
		if (ddmax > 0)
			appendStringInfo(&b, "<text class=\"y-label\" x=\"%d\" y=\"%d\" text-anchor=\"end\">-%.2f</text>\n",
							 SVG_LEFT - 6, SVG_DD_TOP + SVG_DD_HEIGHT + 4, ddmax);

		/* date axis: SVG_XTICKS evenly spaced instants, labelled by UTC date */
		for (int k = 0; k < SVG_XTICKS; k++)
		{
			TimestampTz ts = span > 0 ? t0 + (TimestampTz) ((double) (t1 - t0) * k / (SVG_XTICKS - 1)) : t0;
			double		x = X(ts);

			if (span <= 0 && k > 0)
				break;
			appendStringInfo(&b, "<line x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%d\" stroke=\"#e5e5e5\"/>\n",
							 x, SVG_EQ_TOP, x, SVG_DD_TOP + SVG_DD_HEIGHT);
			/* the end labels stay inside the chart: the first starts at its tick, the last ends there */
			appendStringInfo(&b, "<text class=\"x-label\" x=\"%.1f\" y=\"%d\" text-anchor=\"%s\">",
							 x, SVG_XLABEL_Y,
							 span <= 0 ? "middle" : k == 0 ? "start" : k == SVG_XTICKS - 1 ? "end" : "middle");
			ex7_svg_date_label(&b, ts, with_time);
			appendStringInfoString(&b, "</text>\n");
		}

		/* the drawdown area, then the equity line over its grid */
		appendStringInfo(&b, "<polygon class=\"drawdown\" fill=\"#d9534f\" fill-opacity=\"0.45\" "
						 "stroke=\"#d9534f\" points=\"%.1f,%d", X(t0), SVG_DD_TOP);
		for (int i = 0; i < np; i++)
			appendStringInfo(&b, " %.1f,%.1f", X(p[i].ts), YDD(dd[i]));
		appendStringInfo(&b, " %.1f,%d\"/>\n", X(t1), SVG_DD_TOP);
		appendStringInfoString(&b, "<polyline class=\"equity\" fill=\"none\" stroke=\"#1f6fb2\" "
							   "stroke-width=\"1.5\" points=\"");
		for (int i = 0; i < np; i++)
			appendStringInfo(&b, "%s%.1f,%.1f", i ? " " : "", X(p[i].ts), YEQ(eq[i]));
		if (np == 1)
			appendStringInfo(&b, " %.1f,%.1f", X(t0) + 1, YEQ(eq[0]));
		appendStringInfoString(&b, "\"/>\n");
#undef X
#undef YEQ
#undef YDD
	}

	/* the statement, in full, under the chart */
	appendStringInfo(&b, "<text class=\"disclaimer-rule\" x=\"%d\" y=\"%d\" font-weight=\"bold\">",
					 SVG_LEFT - 70, SVG_NOTE_TOP);
	ex7_svg_text(&b, rule);
	appendStringInfoString(&b, "</text>\n");
	{
		int			y = SVG_NOTE_TOP;

		foreach(lc, lines)
		{
			y += SVG_NOTE_LINE;
			appendStringInfo(&b, "<text class=\"disclaimer\" x=\"%d\" y=\"%d\">", SVG_LEFT - 70, y);
			ex7_svg_text(&b, (char *) lfirst(lc));
			appendStringInfoString(&b, "</text>\n");
		}
	}
	appendStringInfoString(&b, "</svg>\n");

	MemoryContextSwitchTo(caller);
	result = cstring_to_text_with_len(b.data, b.len);
	MemoryContextDelete(work);
	PG_RETURN_TEXT_P(result);
}
