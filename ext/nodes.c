/*-------------------------------------------------------------------------
 *
 * nodes.c
 *	  The node catalog of the strategy graph engine (one table: every node type with its parameters,
 *	  typed input ports and output type) and the compute function of every node type.
 *
 * Arithmetic is double precision (IEEE 754): indicators are statistics of prices, and the JSON
 * numbers they end up in are doubles for every client. Exact decimals stay where money is: the
 * bar's close is handed to the dispatcher as exact numeric text, and stops and targets are tick
 * counts that the dispatcher turns into prices with the instrument's exact tick_size
 * (docs/engine.md, "Numbers").
 *
 * A series is an array of doubles, one per bar of the window, oldest first. NaN is "no value"
 * (shown as null): before an indicator has seen enough bars, after a division by zero, or where an
 * input has none. Booleans are 0/1 and never NaN: a comparison with a missing value is false.
 *
 *-------------------------------------------------------------------------
 */
#include "ex7.h"
#include "graph.h"

#include <math.h>

#include "common/shortest_dec.h"
#include "utils/datetime.h"
#include "utils/json.h"

static const char *const tz_values[] = {"America/New_York", "America/Chicago", "Europe/London",
"Asia/Tokyo", "UTC", NULL};
static const char *const macd_outputs[] = {"macd", "signal", "histogram", NULL};
static const char *const band_values[] = {"upper", "middle", "lower", NULL};
static const char *const edge_values[] = {"high", "low", NULL};

#define P_INT(n, lo, hi, d, desc)	{n, NPARAM_INT, lo, hi, d, NULL, desc}
#define P_NUM(n, lo, hi, d, desc)	{n, NPARAM_NUMBER, lo, hi, d, NULL, desc}
#define P_ENUM(n, vals, d, desc)	{n, NPARAM_ENUM, 0, 0, d, vals, desc}
#define P_TIME(n, d, desc)			{n, NPARAM_TIME, 0, 0, d, NULL, desc}
#define P_TZ	P_ENUM("tz", tz_values, 0, "time zone of the clock times")
#define HM(h, m)	((h) * 60 + (m))

#define IN1S	{{"in", PORT_SERIES}}
#define IN2S	{{"a", PORT_SERIES}, {"b", PORT_SERIES}}
#define IN2B	{{"a", PORT_BOOLEAN}, {"b", PORT_BOOLEAN}}
#define WHEN	{{"when", PORT_BOOLEAN}}
#define ENTRY	{{"entry", PORT_ENTRY}}

/*
 * Periods: rolling windows (sma, highest, ...) up to 5000 bars; exponential smoothings need several
 * times their period to converge (graph.h, SMOOTHING_RESIDUAL), so theirs stop lower: every single
 * node stays within GRAPH_MAX_LOOKBACK.
 */
#define PERIOD_MAX		5000
#define EMA_PERIOD_MAX	1000
#define WILDER_MAX		500

const NodeDef node_catalog[] = {
	/* bar fields */
	{"open", "bar", OP_OPEN, PORT_SERIES, false, "Open price of the bar", {{0}}, {{0}}},
	{"high", "bar", OP_HIGH, PORT_SERIES, false, "High price of the bar", {{0}}, {{0}}},
	{"low", "bar", OP_LOW, PORT_SERIES, false, "Low price of the bar", {{0}}, {{0}}},
	{"close", "bar", OP_CLOSE, PORT_SERIES, false, "Close price of the bar", {{0}}, {{0}}},
	{"volume", "bar", OP_VOLUME, PORT_SERIES, false, "Volume of the bar (contracts)", {{0}}, {{0}}},
	{"hl2", "bar", OP_HL2, PORT_SERIES, false, "Median price (high + low) / 2", {{0}}, {{0}}},
	{"hlc3", "bar", OP_HLC3, PORT_SERIES, false, "Typical price (high + low + close) / 3",
	{{0}}, {{0}}},
	{"ohlc4", "bar", OP_OHLC4, PORT_SERIES, false, "Average price (open + high + low + close) / 4",
	{{0}}, {{0}}},

	/* indicators */
	{"sma", "indicator", OP_SMA, PORT_SERIES, false,
		"Simple moving average of the last period values",
		{P_INT("period", 1, PERIOD_MAX, 20, "bars in the window")}, IN1S},
	{"ema", "indicator", OP_EMA, PORT_SERIES, false,
		"Exponential moving average, alpha = 2 / (period + 1), seeded with the SMA of the first "
		"period values",
		{P_INT("period", 1, EMA_PERIOD_MAX, 20, "bars (alpha = 2 / (period + 1))")}, IN1S},
	{"wma", "indicator", OP_WMA, PORT_SERIES, false,
		"Linearly weighted moving average (weights 1..period, newest heaviest)",
		{P_INT("period", 1, PERIOD_MAX, 20, "bars in the window")}, IN1S},
	{"rsi", "indicator", OP_RSI, PORT_SERIES, false,
		"Relative strength index 0..100 with Wilder smoothing (Wilder 1978): first averages are "
		"the means of the first period gains and losses, then avg = (prev * (period - 1) + "
		"current) / period",
		{P_INT("period", 2, WILDER_MAX, 14, "bars (Wilder smoothing)")}, IN1S},
	{"macd", "indicator", OP_MACD, PORT_SERIES, false,
		"MACD (Appel): EMA(fast) - EMA(slow); signal = EMA(signal) of that line; histogram = "
		"macd - signal",
		{P_INT("fast", 1, WILDER_MAX, 12, "fast EMA period (less than slow)"),
			P_INT("slow", 2, EMA_PERIOD_MAX, 26, "slow EMA period"),
			P_INT("signal", 1, WILDER_MAX, 9, "signal EMA period"),
		P_ENUM("output", macd_outputs, 0, "which line the node outputs")}, IN1S},
	{"bollinger", "indicator", OP_BOLLINGER, PORT_SERIES, false,
		"Bollinger band: SMA(period) plus or minus stddev times the population standard deviation",
		{P_INT("period", 2, PERIOD_MAX, 20, "bars in the window"),
			P_NUM("stddev", 0.1, 10, 2, "band width in standard deviations"),
		P_ENUM("band", band_values, 0, "which band the node outputs")}, IN1S},
	{"stddev", "indicator", OP_STDDEV, PORT_SERIES, false,
		"Population standard deviation of the last period values",
		{P_INT("period", 2, PERIOD_MAX, 20, "bars in the window")}, IN1S},
	{"atr", "indicator", OP_ATR, PORT_SERIES, false,
		"Average true range with Wilder smoothing; the first bar's true range is high - low",
		{P_INT("period", 1, WILDER_MAX, 14, "bars (Wilder smoothing)")}, {{0}}},
	{"vwap", "indicator", OP_VWAP, PORT_SERIES, false,
		"Volume-weighted average of the typical price (h + l + c) / 3 since the last reset time",
		{P_TIME("reset", HM(18, 0),
				"local time the average restarts (18:00: the CME trading day)"), P_TZ},
	{{0}}},
	{"highest", "indicator", OP_HIGHEST, PORT_SERIES, false,
		"Highest value of the last period values, the current bar included",
		{P_INT("period", 1, PERIOD_MAX, 20, "bars in the window")}, IN1S},
	{"lowest", "indicator", OP_LOWEST, PORT_SERIES, false,
		"Lowest value of the last period values, the current bar included",
		{P_INT("period", 1, PERIOD_MAX, 20, "bars in the window")}, IN1S},
	{"opening_range", "indicator", OP_OPENING_RANGE, PORT_SERIES, false,
		"High or low of the first bars of the day that close after start; null until they have "
		"all closed",
		{P_TIME("start", HM(9, 30), "local time the range starts (09:30: the New York open)"),
			P_INT("bars", 1, 390, 6, "bars in the range (6 five-minute bars: 30 minutes)"),
			P_ENUM("edge", edge_values, 0, "which edge of the range the node outputs"),
		P_TZ}, {{0}}},
	{"lag", "indicator", OP_LAG, PORT_SERIES, false, "The input's value bars ago",
		{P_INT("bars", 1, PERIOD_MAX, 1, "how many bars back")}, IN1S},
	{"change", "indicator", OP_CHANGE, PORT_SERIES, false,
		"The input minus its value bars ago (momentum)",
		{P_INT("bars", 1, PERIOD_MAX, 1, "how many bars back")}, IN1S},

	/* math */
	{"add", "math", OP_ADD, PORT_SERIES, false, "a + b", {{0}}, IN2S},
	{"sub", "math", OP_SUB, PORT_SERIES, false, "a - b", {{0}}, IN2S},
	{"mul", "math", OP_MUL, PORT_SERIES, false, "a * b", {{0}}, IN2S},
	{"div", "math", OP_DIV, PORT_SERIES, false, "a / b (null when b is 0)", {{0}}, IN2S},
	{"min", "math", OP_MIN, PORT_SERIES, false, "The smaller of a and b", {{0}}, IN2S},
	{"max", "math", OP_MAX, PORT_SERIES, false, "The larger of a and b", {{0}}, IN2S},
	{"abs", "math", OP_ABS, PORT_SERIES, false, "Absolute value", {{0}}, IN1S},
	{"constant", "math", OP_CONSTANT, PORT_SERIES, false, "A constant number",
	{P_NUM("value", -1e12, 1e12, 0, "the number")}, {{0}}},

	/* comparisons */
	{"gt", "comparison", OP_GT, PORT_BOOLEAN, true, "a > b", {{0}}, IN2S},
	{"gte", "comparison", OP_GTE, PORT_BOOLEAN, true, "a >= b", {{0}}, IN2S},
	{"lt", "comparison", OP_LT, PORT_BOOLEAN, true, "a < b", {{0}}, IN2S},
	{"lte", "comparison", OP_LTE, PORT_BOOLEAN, true, "a <= b", {{0}}, IN2S},
	{"crosses_above", "comparison", OP_CROSSES_ABOVE, PORT_BOOLEAN, true,
	"True on the bar where a > b after a <= b on the previous bar", {{0}}, IN2S},
	{"crosses_below", "comparison", OP_CROSSES_BELOW, PORT_BOOLEAN, true,
	"True on the bar where a < b after a >= b on the previous bar", {{0}}, IN2S},

	/* logic */
	{"and", "logic", OP_AND, PORT_BOOLEAN, true, "a and b", {{0}}, IN2B},
	{"or", "logic", OP_OR, PORT_BOOLEAN, true, "a or b", {{0}}, IN2B},
	{"not", "logic", OP_NOT, PORT_BOOLEAN, true, "not in", {{0}}, {{"in", PORT_BOOLEAN}}},

	/* time */
	{"session_filter", "time", OP_SESSION_FILTER, PORT_BOOLEAN, true,
		"True when the bar closes after start and at or before end, local time (overnight when "
		"end < start)",
		{P_TIME("start", HM(9, 30), "session start, local time"),
		P_TIME("end", HM(16, 0), "session end, local time"), P_TZ}, {{0}}},

	/* entries, exits, brackets */
	{"enter_long", "entry", OP_ENTER_LONG, PORT_ENTRY, false,
		"Buy size contracts when the input is true",
	{P_INT("size", 1, 1000, 1, "contracts")}, WHEN},
	{"enter_short", "entry", OP_ENTER_SHORT, PORT_ENTRY, false,
		"Sell short size contracts when the input is true",
	{P_INT("size", 1, 1000, 1, "contracts")}, WHEN},
	{"exit_long", "exit", OP_EXIT_LONG, PORT_ACTION, true,
		"Close the long position when the input is true",
	{{0}}, WHEN},
	{"exit_short", "exit", OP_EXIT_SHORT, PORT_ACTION, true,
		"Close the short position when the input is true",
	{{0}}, WHEN},
	{"stop_loss_ticks", "bracket", OP_STOP_LOSS_TICKS, PORT_ACTION, false,
		"Protective stop ticks away from the entry price of the entry it is connected to",
	{P_INT("ticks", 1, 10000, 20, "ticks from the entry price")}, ENTRY},
	{"take_profit_ticks", "bracket", OP_TAKE_PROFIT_TICKS, PORT_ACTION, false,
		"Profit target ticks away from the entry price of the entry it is connected to",
	{P_INT("ticks", 1, 10000, 40, "ticks from the entry price")}, ENTRY},
};

const int	node_catalog_size = lengthof(node_catalog);

/*
 * node_lookup: returns the catalog entry of node type type (len bytes, not NUL-terminated), or
 * NULL.
 */
const NodeDef *
node_lookup(const char *type, int len)
{
	for (int i = 0; i < node_catalog_size; i++)
	{
		if (strlen(node_catalog[i].type) == (size_t) len &&
			memcmp(node_catalog[i].type, type, len) == 0)
			return &node_catalog[i];
	}
	return NULL;
}

/*
 * port_type_name: returns the name of a port type as the catalog shows it.
 */
const char *
port_type_name(PortType t)
{
	switch (t)
	{
		case PORT_SERIES:
			return "series";
		case PORT_BOOLEAN:
			return "boolean";
		case PORT_ENTRY:
			return "entry";
		case PORT_ACTION:
			return "action";
	}
	elog(ERROR, "unknown port type %d", (int) t);
	return NULL;
}

/*
 * smoothing_bars: returns how many values after its seed an exponential smoothing with factor alpha
 * needs before the seed weighs at most SMOOTHING_RESIDUAL: the least k with (1 - alpha)^k <= 1e-4.
 */
static int
smoothing_bars(double alpha)
{
	if (alpha >= 1.0)
		return 0;
	return (int) ceil(log(SMOOTHING_RESIDUAL) / log(1.0 - alpha));
}

static int
ema_bars(int period)
{
	return period + smoothing_bars(2.0 / (period + 1));
}

/*
 * node_own_lookback: returns the bars of its input a node needs for a settled value at the last bar
 * (1 for a node that only looks at the current bar). graph.c adds up chains.
 */
int
node_own_lookback(const PlanNode *node)
{
	int			p = (int) node->pv[0];

	switch (node->def->op)
	{
		case OP_SMA:
		case OP_WMA:
		case OP_BOLLINGER:
		case OP_STDDEV:
		case OP_HIGHEST:
		case OP_LOWEST:
			return p;
		case OP_EMA:
			return ema_bars(p);
		case OP_RSI:
		case OP_ATR:
			/* one more bar for the first change (true range) */
			return p + 1 + smoothing_bars(1.0 / p);
		case OP_MACD:
			{
				int			line = Max(ema_bars((int) node->pv[0]), ema_bars((int) node->pv[1]));

				if ((int) node->pv[3] == 0)
					return line;
				return line + ema_bars((int) node->pv[2]) - 1;
			}
		case OP_VWAP:
		case OP_OPENING_RANGE:
			return DAY_BARS;
		case OP_LAG:
		case OP_CHANGE:
			return p + 1;
		case OP_CROSSES_ABOVE:
		case OP_CROSSES_BELOW:
			return 2;
		default:
			return 1;
	}
}

/* ------------------------------------------------------------------------------------------------
 * Compute helpers. Each fills out[0 .. n-1].
 * -------------------------------------------------------------------------------------------------
 * */

/*
 * rolling_moments: mean and population standard deviation (sd may be NULL) of the last w values.
 * NaN where the window is not full or holds a NaN. Sums are taken around a shift K (the window's
 * first value) and recomputed exactly every w bars, so rounding does not accumulate and prices far
 * from zero do not cancel catastrophically in the variance.
 */
static void
rolling_moments(const double *x, int n, int w, double *mean, double *sd)
{
	int			run = 0;
	double		k = 0,
				s1 = 0,
				s2 = 0;

	for (int t = 0; t < n; t++)
	{
		double		m,
					var;

		if (isnan(x[t]))
			run = 0;
		else
			run++;
		if (run < w)
		{
			mean[t] = NAN;
			if (sd)
				sd[t] = NAN;
			continue;
		}
		if ((run - w) % w == 0)
		{
			k = x[t - w + 1];
			s1 = s2 = 0;
			for (int i = t - w + 1; i <= t; i++)
			{
				s1 += x[i] - k;
				s2 += (x[i] - k) * (x[i] - k);
			}
		}
		else
		{
			double		a = x[t] - k,
						r = x[t - w] - k;

			s1 += a - r;
			s2 += a * a - r * r;
		}
		m = s1 / w;
		mean[t] = k + m;
		if (sd)
		{
			var = s2 / w - m * m;
			sd[t] = sqrt(var > 0 ? var : 0);
		}
	}
}

/*
 * smooth: exponential smoothing seeded with the mean of the first w values (NaN until then).
 * wilder: avg = (prev * (w - 1) + x) / w (Wilder 1978), else avg = alpha * x + (1 - alpha) * prev
 * with alpha = 2 / (w + 1). A NaN input gives a NaN output and leaves the state as it was.
 */
static void
smooth(const double *x, int n, int w, bool wilder, double *out)
{
	double		alpha = 2.0 / (w + 1);
	double		acc = 0,
				e = 0;
	int			cnt = 0;

	for (int t = 0; t < n; t++)
	{
		if (isnan(x[t]))
		{
			out[t] = NAN;
			continue;
		}
		if (cnt < w)
		{
			acc += x[t];
			cnt++;
			if (cnt == w)
				e = acc / w;
			out[t] = cnt == w ? e : NAN;
			continue;
		}
		if (wilder)
			e = (e * (w - 1) + x[t]) / w;
		else
			e = alpha * x[t] + (1 - alpha) * e;
		out[t] = e;
	}
}

/*
 * rolling_extreme: highest (sign 1) or lowest (sign -1) of the last w values, a monotonic deque of
 * indices: O(n) whatever w is.
 */
static void
rolling_extreme(const double *x, int n, int w, int sign, double *out)
{
	int		   *dq = palloc(sizeof(int) * n);
	int			head = 0,
				tail = 0,
				run = 0;

	for (int t = 0; t < n; t++)
	{
		if (isnan(x[t]))
		{
			run = 0;
			head = tail = 0;
			out[t] = NAN;
			continue;
		}
		run++;
		while (tail > head && sign * x[dq[tail - 1]] <= sign * x[t])
			tail--;
		dq[tail++] = t;
		while (dq[head] <= t - w)
			head++;
		out[t] = run >= w ? x[dq[head]] : NAN;
	}
	pfree(dq);
}

/*
 * wma: weights 1..w, newest heaviest. Rolling: W_t = W_{t-1} - S_{t-1} + w * x_t, with S the window
 * sum; both recomputed exactly every w bars.
 */
static void
wma(const double *x, int n, int w, double *out)
{
	double		denom = (double) w * (w + 1) / 2;
	double		num = 0,
				sum = 0;
	int			run = 0;

	for (int t = 0; t < n; t++)
	{
		if (isnan(x[t]))
			run = 0;
		else
			run++;
		if (run < w)
		{
			out[t] = NAN;
			continue;
		}
		if ((run - w) % w == 0)
		{
			num = sum = 0;
			for (int i = 0; i < w; i++)
			{
				num += (i + 1) * x[t - w + 1 + i];
				sum += x[t - w + 1 + i];
			}
		}
		else
		{
			num = num - sum + w * x[t];
			sum = sum - x[t - w] + x[t];
		}
		out[t] = num / denom;
	}
}

/*
 * rsi: Wilder's RSI. Changes are taken between consecutive values that are not NaN; the averages of
 * gains and losses are smoothed with smooth(wilder). RSI = 100 - 100 / (1 + avg gain / avg loss);
 * with no loss it is 100, with neither gain nor loss (a flat market) 50.
 */
static void
rsi(const double *x, int n, int w, double *out)
{
	double	   *g = palloc(sizeof(double) * n);
	double	   *l = palloc(sizeof(double) * n);
	double	   *ag = palloc(sizeof(double) * n);
	double	   *al = palloc(sizeof(double) * n);
	double		prev = NAN;

	for (int t = 0; t < n; t++)
	{
		if (isnan(x[t]) || isnan(prev))
			g[t] = l[t] = NAN;
		else
		{
			g[t] = x[t] > prev ? x[t] - prev : 0;
			l[t] = x[t] < prev ? prev - x[t] : 0;
		}
		if (!isnan(x[t]))
			prev = x[t];
	}
	smooth(g, n, w, true, ag);
	smooth(l, n, w, true, al);
	for (int t = 0; t < n; t++)
	{
		if (isnan(ag[t]) || isnan(al[t]))
			out[t] = NAN;
		else if (al[t] == 0)
			out[t] = ag[t] == 0 ? 50 : 100;
		else
			out[t] = 100 - 100 / (1 + ag[t] / al[t]);
	}
	pfree(g);
	pfree(l);
	pfree(ag);
	pfree(al);
}

/*
 * local_clock: the local calendar day (Julian day number) and minute of day of ts in zone tz.
 */
static void
local_clock(TimestampTz ts, pg_tz *tz, int *jday, int *minute)
{
	pg_time_t	tt = timestamptz_to_time_t(ts);
	struct pg_tm *tm = pg_localtime(&tt, tz);

	if (tm == NULL)
		elog(ERROR, "pg_localtime failed");
	*minute = tm->tm_hour * 60 + tm->tm_min;
	*jday = date2j(tm->tm_year + 1900, tm->tm_mon + 1, tm->tm_mday);
}

/*
 * vwap: sum(typical * volume) / sum(volume) over the bars since the last reset. A bar closing at
 * minute m of local day j belongs to the period of day j when m > reset, else to the period of day
 * j - 1 (a bar closing exactly at the reset time ends the old period). The first period in a window
 * that does not start at the first bar there is may have begun before the window: its bars are NaN.
 */
static void
vwap(const PlanNode *node, const BarSeries *b, double *out)
{
	int			reset = (int) node->pv[0];
	int			first_key = 0,
				cur_key = 0;
	double		pv = 0,
				vol = 0;

	for (int t = 0; t < b->n; t++)
	{
		int			jday,
					minute,
					key;

		if (b->ts == NULL)
		{
			out[t] = NAN;
			continue;
		}
		local_clock(b->ts[t], node->tz, &jday, &minute);
		key = minute > reset ? jday : jday - 1;
		if (t == 0)
			first_key = key;
		if (t == 0 || key != cur_key)
		{
			cur_key = key;
			pv = vol = 0;
		}
		pv += (b->high[t] + b->low[t] + b->close[t]) / 3 * b->volume[t];
		vol += b->volume[t];
		if ((!b->complete && key == first_key) || vol <= 0)
			out[t] = NAN;
		else
			out[t] = pv / vol;
	}
}

/*
 * opening_range: the high (or low) of the first `bars` bars of local day j that close after
 * `start`, from the bar that completes them to the end of day j; NaN before. When the window does
 * not start at the first bar there is and its first bar closes after start, that day's range may
 * have begun before the window: NaN for that day.
 */
static void
opening_range(const PlanNode *node, const BarSeries *b, double *out)
{
	int			start = (int) node->pv[0];
	int			need = (int) node->pv[1];
	bool		want_high = (int) node->pv[2] == 0;
	int			day = 0,
				count = 0;
	bool		unknown = false;
	double		hi = 0,
				lo = 0;

	for (int t = 0; t < b->n; t++)
	{
		int			jday,
					minute;

		if (b->ts == NULL)
		{
			out[t] = NAN;
			continue;
		}
		local_clock(b->ts[t], node->tz, &jday, &minute);
		if (t == 0 || jday != day)
		{
			day = jday;
			count = 0;
			unknown = (t == 0 && !b->complete && minute > start);
		}
		if (minute > start && count < need)
		{
			hi = count == 0 ? b->high[t] : Max(hi, b->high[t]);
			lo = count == 0 ? b->low[t] : Min(lo, b->low[t]);
			count++;
		}
		out[t] = (!unknown && count >= need) ? (want_high ? hi : lo) : NAN;
	}
}

/*
 * session_filter: true when the bar's close time, local, is in (start, end]; overnight (end <
 * start) when it is after start or at or before end. A 5-minute bar closing at 09:35 is in a 09:30
 * session, the one closing at 09:30 is not: by close times, (start, end] is exactly the bars that
 * open in [start, end).
 */
static void
session_filter(const PlanNode *node, const BarSeries *b, double *out)
{
	int			start = (int) node->pv[0];
	int			end = (int) node->pv[1];

	for (int t = 0; t < b->n; t++)
	{
		int			jday,
					m;
		bool		in;

		if (b->ts == NULL)
		{
			out[t] = 0;
			continue;
		}
		local_clock(b->ts[t], node->tz, &jday, &m);
		if (start < end)
			in = m > start && m <= end;
		else
			in = m > start || m <= end;
		out[t] = in ? 1 : 0;
	}
}

/*
 * node_compute: fills out[0 .. bars->n - 1] with the node's series; in[i] is the series of input
 * port i. Scratch memory comes from CurrentMemoryContext (the evaluation's context).
 */
void
node_compute(const PlanNode *node, const double *const *in, const BarSeries *b, double *out)
{
	int			n = b->n;
	const double *x = in[0];
	const double *y = in[1];
	int			p = (int) node->pv[0];

	switch (node->def->op)
	{
		case OP_OPEN:
			memcpy(out, b->open, sizeof(double) * n);
			break;
		case OP_HIGH:
			memcpy(out, b->high, sizeof(double) * n);
			break;
		case OP_LOW:
			memcpy(out, b->low, sizeof(double) * n);
			break;
		case OP_CLOSE:
			memcpy(out, b->close, sizeof(double) * n);
			break;
		case OP_VOLUME:
			memcpy(out, b->volume, sizeof(double) * n);
			break;
		case OP_HL2:
			for (int t = 0; t < n; t++)
				out[t] = (b->high[t] + b->low[t]) / 2;
			break;
		case OP_HLC3:
			for (int t = 0; t < n; t++)
				out[t] = (b->high[t] + b->low[t] + b->close[t]) / 3;
			break;
		case OP_OHLC4:
			for (int t = 0; t < n; t++)
				out[t] = (b->open[t] + b->high[t] + b->low[t] + b->close[t]) / 4;
			break;

		case OP_SMA:
			rolling_moments(x, n, p, out, NULL);
			break;
		case OP_EMA:
			smooth(x, n, p, false, out);
			break;
		case OP_WMA:
			wma(x, n, p, out);
			break;
		case OP_RSI:
			rsi(x, n, p, out);
			break;
		case OP_MACD:
			{
				double	   *f = palloc(sizeof(double) * n);
				double	   *s = palloc(sizeof(double) * n);
				int			which = (int) node->pv[3];

				smooth(x, n, (int) node->pv[0], false, f);
				smooth(x, n, (int) node->pv[1], false, s);
				for (int t = 0; t < n; t++)
					f[t] = f[t] - s[t];		/* the MACD line; NaN when either is */
				if (which == 0)
					memcpy(out, f, sizeof(double) * n);
				else
				{
					smooth(f, n, (int) node->pv[2], false, s);
					for (int t = 0; t < n; t++)
						out[t] = which == 1 ? s[t] : f[t] - s[t];
				}
				pfree(f);
				pfree(s);
				break;
			}
		case OP_BOLLINGER:
			{
				double	   *sd = palloc(sizeof(double) * n);
				double		k = node->pv[1];
				int			band = (int) node->pv[2];

				rolling_moments(x, n, p, out, sd);
				for (int t = 0; t < n; t++)
				{
					if (band == 0)
						out[t] += k * sd[t];
					else if (band == 2)
						out[t] -= k * sd[t];
				}
				pfree(sd);
				break;
			}
		case OP_STDDEV:
			{
				double	   *m = palloc(sizeof(double) * n);

				rolling_moments(x, n, p, m, out);
				pfree(m);
				break;
			}
		case OP_ATR:
			{
				double	   *tr = palloc(sizeof(double) * n);

				for (int t = 0; t < n; t++)
				{
					tr[t] = b->high[t] - b->low[t];
					if (t > 0)
					{
						tr[t] = Max(tr[t], fabs(b->high[t] - b->close[t - 1]));
						tr[t] = Max(tr[t], fabs(b->low[t] - b->close[t - 1]));
					}
				}
				smooth(tr, n, p, true, out);
				pfree(tr);
				break;
			}
		case OP_VWAP:
			vwap(node, b, out);
			break;
		case OP_HIGHEST:
			rolling_extreme(x, n, p, 1, out);
			break;
		case OP_LOWEST:
			rolling_extreme(x, n, p, -1, out);
			break;
		case OP_OPENING_RANGE:
			opening_range(node, b, out);
			break;
		case OP_LAG:
			for (int t = 0; t < n; t++)
				out[t] = t >= p ? x[t - p] : NAN;
			break;
		case OP_CHANGE:
			for (int t = 0; t < n; t++)
				out[t] = t >= p ? x[t] - x[t - p] : NAN;
			break;

		case OP_ADD:
			for (int t = 0; t < n; t++)
				out[t] = x[t] + y[t];
			break;
		case OP_SUB:
			for (int t = 0; t < n; t++)
				out[t] = x[t] - y[t];
			break;
		case OP_MUL:
			for (int t = 0; t < n; t++)
				out[t] = x[t] * y[t];
			break;
		case OP_DIV:
			for (int t = 0; t < n; t++)
				out[t] = y[t] == 0 ? NAN : x[t] / y[t];
			break;
		case OP_MIN:
			/* fmin/fmax would skip a NaN operand; a missing value stays missing */
			for (int t = 0; t < n; t++)
				out[t] = (isnan(x[t]) || isnan(y[t])) ? NAN : Min(x[t], y[t]);
			break;
		case OP_MAX:
			for (int t = 0; t < n; t++)
				out[t] = (isnan(x[t]) || isnan(y[t])) ? NAN : Max(x[t], y[t]);
			break;
		case OP_ABS:
			for (int t = 0; t < n; t++)
				out[t] = fabs(x[t]);
			break;
		case OP_CONSTANT:
			for (int t = 0; t < n; t++)
				out[t] = node->pv[0];
			break;

			/* comparisons of IEEE doubles: any comparison with a NaN is false */
		case OP_GT:
			for (int t = 0; t < n; t++)
				out[t] = x[t] > y[t] ? 1 : 0;
			break;
		case OP_GTE:
			for (int t = 0; t < n; t++)
				out[t] = x[t] >= y[t] ? 1 : 0;
			break;
		case OP_LT:
			for (int t = 0; t < n; t++)
				out[t] = x[t] < y[t] ? 1 : 0;
			break;
		case OP_LTE:
			for (int t = 0; t < n; t++)
				out[t] = x[t] <= y[t] ? 1 : 0;
			break;
		case OP_CROSSES_ABOVE:
			for (int t = 0; t < n; t++)
				out[t] = (t > 0 && x[t] > y[t] && x[t - 1] <= y[t - 1]) ? 1 : 0;
			break;
		case OP_CROSSES_BELOW:
			for (int t = 0; t < n; t++)
				out[t] = (t > 0 && x[t] < y[t] && x[t - 1] >= y[t - 1]) ? 1 : 0;
			break;

		case OP_AND:
			for (int t = 0; t < n; t++)
				out[t] = (x[t] != 0 && y[t] != 0) ? 1 : 0;
			break;
		case OP_OR:
			for (int t = 0; t < n; t++)
				out[t] = (x[t] != 0 || y[t] != 0) ? 1 : 0;
			break;
		case OP_NOT:
			for (int t = 0; t < n; t++)
				out[t] = x[t] != 0 ? 0 : 1;
			break;

		case OP_SESSION_FILTER:
			session_filter(node, b, out);
			break;

		case OP_ENTER_LONG:
		case OP_ENTER_SHORT:
			for (int t = 0; t < n; t++)
				out[t] = x[t] != 0 ? node->pv[0] : NAN;
			break;
		case OP_EXIT_LONG:
		case OP_EXIT_SHORT:
			for (int t = 0; t < n; t++)
				out[t] = x[t] != 0 ? 1 : 0;
			break;
		case OP_STOP_LOSS_TICKS:
		case OP_TAKE_PROFIT_TICKS:
			for (int t = 0; t < n; t++)
				out[t] = isnan(x[t]) ? NAN : node->pv[0];
			break;
	}
}

/*
 * append_number: appends x as a JSON number (shortest round-trip form), or null when it is not
 * finite.
 */
static void
append_number(StringInfo buf, double x)
{
	char		tmp[DOUBLE_SHORTEST_DECIMAL_LEN];

	if (!isfinite(x))
	{
		appendStringInfoString(buf, "null");
		return;
	}
	double_to_shortest_decimal_buf(x, tmp);
	appendStringInfoString(buf, tmp);
}

static const char *
param_kind_name(NodeParamKind k)
{
	switch (k)
	{
		case NPARAM_INT:
			return "int";
		case NPARAM_NUMBER:
			return "number";
		case NPARAM_ENUM:
			return "enum";
		case NPARAM_BOOL:
			return "bool";
		case NPARAM_TIME:
			return "time";
	}
	elog(ERROR, "unknown parameter kind %d", (int) k);
	return NULL;
}

/*
 * node_catalog_json: appends the catalog as a JSON array of node types (the "engines" of GET
 * /api/engines): type, category, description, params [{name, type, min, max, default, values?,
 * description}], inputs [{port, type}], output.
 */
void
node_catalog_json(StringInfo buf)
{
	appendStringInfoChar(buf, '[');
	for (int i = 0; i < node_catalog_size; i++)
	{
		const NodeDef *d = &node_catalog[i];

		if (i > 0)
			appendStringInfoString(buf, ", ");
		appendStringInfoString(buf, "{\"type\": ");
		escape_json(buf, d->type);
		appendStringInfoString(buf, ", \"category\": ");
		escape_json(buf, d->category);
		appendStringInfoString(buf, ", \"description\": ");
		escape_json(buf, d->description);
		appendStringInfoString(buf, ", \"params\": [");
		for (int j = 0; d->params[j].name; j++)
		{
			const ParamDef *pd = &d->params[j];

			if (j > 0)
				appendStringInfoString(buf, ", ");
			appendStringInfoString(buf, "{\"name\": ");
			escape_json(buf, pd->name);
			appendStringInfo(buf, ", \"type\": \"%s\", \"min\": ", param_kind_name(pd->kind));
			if (pd->kind == NPARAM_INT || pd->kind == NPARAM_NUMBER)
			{
				append_number(buf, pd->min);
				appendStringInfoString(buf, ", \"max\": ");
				append_number(buf, pd->max);
			}
			else
				appendStringInfoString(buf, "null, \"max\": null");
			appendStringInfoString(buf, ", \"default\": ");
			switch (pd->kind)
			{
				case NPARAM_INT:
				case NPARAM_NUMBER:
					append_number(buf, pd->def);
					break;
				case NPARAM_BOOL:
					appendStringInfoString(buf, pd->def != 0 ? "true" : "false");
					break;
				case NPARAM_TIME:
					appendStringInfo(buf, "\"%02d:%02d\"", (int) pd->def / 60, (int) pd->def % 60);
					break;
				case NPARAM_ENUM:
					escape_json(buf, pd->values[(int) pd->def]);
					appendStringInfoString(buf, ", \"values\": [");
					for (int v = 0; pd->values[v]; v++)
					{
						if (v > 0)
							appendStringInfoString(buf, ", ");
						escape_json(buf, pd->values[v]);
					}
					appendStringInfoChar(buf, ']');
					break;
			}
			appendStringInfoString(buf, ", \"description\": ");
			escape_json(buf, pd->description);
			appendStringInfoChar(buf, '}');
		}
		appendStringInfoString(buf, "], \"inputs\": [");
		for (int j = 0; d->inputs[j].name; j++)
		{
			if (j > 0)
				appendStringInfoString(buf, ", ");
			appendStringInfo(buf, "{\"port\": \"%s\", \"type\": \"%s\"}", d->inputs[j].name,
							 port_type_name(d->inputs[j].type));
		}
		appendStringInfo(buf, "], \"output\": \"%s\"}", port_type_name(d->output));
	}
	appendStringInfoChar(buf, ']');
}
