/*-------------------------------------------------------------------------
 *
 * research.c
 *	  The statistics of ex7's research features (docs/research.md): the normal distribution, the moments
 *	  of a return series, the expected maximum Sharpe ratio of N trials and the deflated Sharpe ratio
 *	  (Bailey and Lopez de Prado, 2014), the probability of backtest overfitting by combinatorially
 *	  symmetric cross-validation (Bailey, Borwein, Lopez de Prado and Zhu, 2015), the Monte Carlo of a
 *	  backtest's trades (reshuffled order and bootstrap resampling from a seeded generator), and three
 *	  pictures drawn like the equity curve of ext/metrics.c: the Monte Carlo fan, the heatmap of an
 *	  objective over two parameters and the out-of-sample equity curve of a walk-forward.
 *
 * Every function reads only its arguments: the same inputs give the same output on every machine
 * (the generator is integer arithmetic; the floating-point steps are IEEE 754 double operations in a
 * fixed order). Bad input is X7422 with a locator naming the argument ("returns", "performance", ...).
 *
 *-------------------------------------------------------------------------
 */
#include "ex7.h"
#include "svg.h"

#include <math.h>

#include "access/htup_details.h"
#include "catalog/pg_type.h"
#include "fmgr.h"
#include "funcapi.h"
#include "lib/stringinfo.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "port/pg_bitutils.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/datetime.h"
#include "utils/fmgrprotos.h"
#include "utils/jsonb.h"
#include "utils/memutils.h"
#include "utils/numeric.h"
#include "utils/timestamp.h"

/* the Euler-Mascheroni constant */
#define EULER_GAMMA		0.57721566490153286061

/* ratios are printed with 6 decimals, as ext/metrics.c prints them */
#define RATIO_DECIMALS	6

/* ------------------------------------------------------------------------------------------------
 * The standard normal distribution.
 * ------------------------------------------------------------------------------------------------ */

/* Phi(x) = erfc(-x / sqrt 2) / 2: C99's erfc keeps full relative precision far into both tails */
static double
norm_cdf(double x)
{
	return 0.5 * erfc(-x / M_SQRT2);
}

static double
poly7(const double *c, double x)
{
	double		v = c[7];

	for (int i = 6; i >= 0; i--)
		v = v * x + c[i];
	return v;
}

/*
 * Phi^-1(p), 0 < p < 1: Wichura's algorithm AS 241, PPND16 (M. J. Wichura, "Algorithm AS 241: The
 * Percentage Points of the Normal Distribution", Applied Statistics 37(3), 1988, pp. 477-484): rational
 * approximations in three ranges, relative error about 1e-16. The coefficients are the paper's.
 */
static double
norm_quantile(double p)
{
	static const double a[8] = {3.3871328727963666080e0, 1.3314166789178437745e+2,
		1.9715909503065514427e+3, 1.3731693765509461125e+4, 4.5921953931549871457e+4,
		6.7265770927008700853e+4, 3.3430575583588128105e+4, 2.5090809287301226727e+3};
	static const double b[8] = {1.0, 4.2313330701600911252e+1, 6.8718700749205790830e+2,
		5.3941960214247511077e+3, 2.1213794301586595867e+4, 3.9307895800092710610e+4,
		2.8729085735721942674e+4, 5.2264952788528545610e+3};
	static const double c[8] = {1.42343711074968357734e0, 4.63033784615654529590e0,
		5.76949722146069140550e0, 3.64784832476320460504e0, 1.27045825245236838258e0,
		2.41780725177450611770e-1, 2.27238449892691845833e-2, 7.74545014278341407640e-4};
	static const double d[8] = {1.0, 2.05319162663775882187e0, 1.67638483018380384940e0,
		6.89767334985100004550e-1, 1.48103976427480074590e-1, 1.51986665636164571966e-2,
		5.47593808499534494600e-4, 1.05075007164441684324e-9};
	static const double e[8] = {6.65790464350110377720e0, 5.46378491116411436990e0,
		1.78482653991729133580e0, 2.96560571828504891230e-1, 2.65321895265761230930e-2,
		1.24266094738807843860e-3, 2.71155556874348757815e-5, 2.01033439929228813265e-7};
	static const double f[8] = {1.0, 5.99832206555887937690e-1, 1.36929880922735805310e-1,
		1.48753612908506148525e-2, 7.86869131145613259100e-4, 1.84631831751005468180e-5,
		1.42151175831644588870e-7, 2.04426310338993978564e-15};
	double		q = p - 0.5,
				r,
				v;

	if (fabs(q) <= 0.425)
	{
		r = 0.180625 - q * q;
		return q * poly7(a, r) / poly7(b, r);
	}
	r = q < 0 ? p : 1.0 - p;
	r = sqrt(-log(r));
	if (r <= 5.0)
	{
		r -= 1.6;
		v = poly7(c, r) / poly7(d, r);
	}
	else
	{
		r -= 5.0;
		v = poly7(e, r) / poly7(f, r);
	}
	return q < 0 ? -v : v;
}

/* X7422 at ["name"] */
static void
invalid_arg(const char *name, const char *msg, const char *type) pg_attribute_noreturn();
static void
invalid_arg(const char *name, const char *msg, const char *type)
{
	ex7_invalid(psprintf("[\"%s\"]", name), msg, type);
}

static void
check_finite(const char *name, double v)
{
	if (!isfinite(v))
		invalid_arg(name, psprintf("%s must be a finite number", name), "value_error.number.not_finite");
}

/*
 * ex7.normal_cdf(x float8) -> float8: Phi(x), the standard normal distribution function.
 */
PG_FUNCTION_INFO_V1(normal_cdf);
Datum
normal_cdf(PG_FUNCTION_ARGS)
{
	double		x = PG_GETARG_FLOAT8(0);

	if (isnan(x))
		invalid_arg("x", "x must be a number", "value_error.number.not_finite");
	PG_RETURN_FLOAT8(norm_cdf(x));
}

/*
 * ex7.normal_quantile(p float8) -> float8: Phi^-1(p) for 0 < p < 1 (AS 241).
 */
PG_FUNCTION_INFO_V1(normal_quantile);
Datum
normal_quantile(PG_FUNCTION_ARGS)
{
	double		p = PG_GETARG_FLOAT8(0);

	if (!(p > 0 && p < 1))
		invalid_arg("p", "p must be greater than 0 and less than 1", "value_error.number.range");
	PG_RETURN_FLOAT8(norm_quantile(p));
}

/* ------------------------------------------------------------------------------------------------
 * Moments, the expected maximum Sharpe ratio, the deflated Sharpe ratio.
 * ------------------------------------------------------------------------------------------------ */

/* the elements of a one-dimensional float8[] argument: no NULL, no NaN, no infinity */
static double *
read_vector(ArrayType *a, const char *name, int *n)
{
	Datum	   *d;
	bool	   *nulls;
	double	   *x;

	if (ARR_NDIM(a) > 1)
		invalid_arg(name, psprintf("%s must be a one-dimensional array", name), "value_error.array");
	deconstruct_array(a, FLOAT8OID, sizeof(float8), FLOAT8PASSBYVAL, TYPALIGN_DOUBLE, &d, &nulls, n);
	x = palloc(sizeof(double) * Max(*n, 1));
	for (int i = 0; i < *n; i++)
	{
		if (nulls[i] || !isfinite(DatumGetFloat8(d[i])))
			ex7_invalid(psprintf("[\"%s\",%d]", name, i + 1),
						psprintf("%s[%d] must be a finite number", name, i + 1),
						"value_error.number.not_finite");
		x[i] = DatumGetFloat8(d[i]);
	}
	return x;
}

/*
 * ex7.return_moments(returns float8[]) -> (observations, mean, sd, sharpe, skewness, kurtosis): the
 * mean, the sample standard deviation (n - 1), the per-period Sharpe ratio mean / sd, and the skewness
 * m3 / m2^1.5 and the kurtosis m4 / m2^2 from the central moments mk = sum (x - mean)^k / n: the
 * kurtosis is not excess (3 for a normal distribution), as the deflated Sharpe ratio's formula takes it.
 * A figure that is undefined (no observation; one observation for sd; sd 0) is NULL.
 */
PG_FUNCTION_INFO_V1(return_moments);
Datum
return_moments(PG_FUNCTION_ARGS)
{
	int			n;
	double	   *x = read_vector(PG_GETARG_ARRAYTYPE_P(0), "returns", &n);
	TupleDesc	td;
	Datum		values[6];
	bool		nulls[6] = {false, true, true, true, true, true};
	double		mean = 0,
				m2 = 0,
				m3 = 0,
				m4 = 0;

	if (get_call_result_type(fcinfo, NULL, &td) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "return_moments must return a record");
	td = BlessTupleDesc(td);
	values[0] = Int32GetDatum(n);
	if (n > 0)
	{
		for (int i = 0; i < n; i++)
			mean += x[i];
		mean /= n;
		for (int i = 0; i < n; i++)
		{
			double		dx = x[i] - mean;

			m2 += dx * dx;
			m3 += dx * dx * dx;
			m4 += dx * dx * dx * dx;
		}
		values[1] = Float8GetDatum(mean);
		nulls[1] = false;
	}
	if (n > 1)
	{
		double		sd = sqrt(m2 / (n - 1));

		values[2] = Float8GetDatum(sd);
		nulls[2] = false;
		if (m2 > 0)
		{
			double		c2 = m2 / n;

			values[3] = Float8GetDatum(mean / sd);
			values[4] = Float8GetDatum((m3 / n) / pow(c2, 1.5));
			values[5] = Float8GetDatum((m4 / n) / (c2 * c2));
			nulls[3] = nulls[4] = nulls[5] = false;
		}
	}
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(td, values, nulls)));
}

/*
 * E[max SR] of N independent trials whose Sharpe ratios have variance V and mean 0 (Bailey and Lopez de
 * Prado 2014, the "False Strategy" theorem): sqrt(V) ((1 - g) Phi^-1(1 - 1/N) + g Phi^-1(1 - 1/(N e))).
 */
static double
expected_max(int trials, double variance)
{
	if (trials == 1)
		return 0;
	return sqrt(variance) * ((1 - EULER_GAMMA) * norm_quantile(1 - 1.0 / trials) +
							 EULER_GAMMA * norm_quantile(1 - 1.0 / (trials * M_E)));
}

static void
check_trials(int trials, double variance)
{
	if (trials < 1)
		invalid_arg("trials", "trials must be at least 1", "value_error.number.not_ge");
	if (!isfinite(variance) || variance < 0)
		invalid_arg("trials_sharpe_variance", "trials_sharpe_variance must be a finite number >= 0",
					"value_error.number.not_ge");
}

/* ex7.expected_max_sharpe(trials integer, trials_sharpe_variance float8) -> float8 */
PG_FUNCTION_INFO_V1(expected_max_sharpe);
Datum
expected_max_sharpe(PG_FUNCTION_ARGS)
{
	int			trials = PG_GETARG_INT32(0);
	double		variance = PG_GETARG_FLOAT8(1);

	check_trials(trials, variance);
	PG_RETURN_FLOAT8(expected_max(trials, variance));
}

/*
 * ex7.deflated_sharpe(sharpe, observations, skewness, kurtosis, trials, trials_sharpe_variance) ->
 * float8: the probabilistic Sharpe ratio PSR(SR0) = Phi((SR - SR0) sqrt(T - 1) / sqrt(1 - g3 SR +
 * (g4 - 1) / 4 SR^2)) with SR0 = E[max SR] of the trials (0 for one trial: the PSR against 0). SR is per
 * period, not annualised; g4 is the kurtosis (3 for a normal distribution).
 */
PG_FUNCTION_INFO_V1(deflated_sharpe);
Datum
deflated_sharpe(PG_FUNCTION_ARGS)
{
	double		sr = PG_GETARG_FLOAT8(0);
	int			t = PG_GETARG_INT32(1);
	double		g3 = PG_GETARG_FLOAT8(2);
	double		g4 = PG_GETARG_FLOAT8(3);
	int			trials = PG_GETARG_INT32(4);
	double		variance = PG_GETARG_FLOAT8(5);
	double		den;

	check_finite("sharpe", sr);
	if (t < 2)
		invalid_arg("observations", "observations must be at least 2", "value_error.number.not_ge");
	check_finite("skewness", g3);
	check_finite("kurtosis", g4);
	if (g4 < 1)
		invalid_arg("kurtosis", "kurtosis must be at least 1 (it is not excess kurtosis: 3 for a normal distribution)",
					"value_error.number.not_ge");
	check_trials(trials, variance);
	den = 1 - g3 * sr + (g4 - 1) / 4 * sr * sr;
	if (!(den > 0))
		invalid_arg("skewness", "1 - skewness * sharpe + (kurtosis - 1) / 4 * sharpe^2 must be greater than 0",
					"value_error.number.not_gt");
	PG_RETURN_FLOAT8(norm_cdf((sr - expected_max(trials, variance)) * sqrt((double) t - 1) / sqrt(den)));
}

/* ------------------------------------------------------------------------------------------------
 * JSON output helpers.
 * ------------------------------------------------------------------------------------------------ */

/* a ratio: 6 decimals, or null when not finite; never "-0" */
static void
append_ratio(StringInfo b, double v)
{
	if (!isfinite(v))
		appendStringInfoString(b, "null");
	else
	{
		double		r = rint(v * 1e6) / 1e6;

		appendStringInfo(b, "%.*f", RATIO_DECIMALS, r == 0 ? 0.0 : r);
	}
}

/* money: a decimal string with 2 decimals, "-0.00" printed as "0.00" */
static void
append_money(StringInfo b, double v)
{
	double		r = rint(v * 100) / 100;

	appendStringInfo(b, "\"%.2f\"", r == 0 ? 0.0 : r);
}

static int
cmp_double(const void *a, const void *b)
{
	double		x = *(const double *) a,
				y = *(const double *) b;

	return x < y ? -1 : x > y ? 1 : 0;
}

/* the p-quantile of sorted x[0..n-1], interpolated between order statistics (percentile_cont's rule) */
static double
quantile_sorted(const double *x, int n, double p)
{
	double		h = (n - 1) * p;
	int			lo = (int) floor(h);

	if (lo >= n - 1)
		return x[n - 1];
	return x[lo] + (h - lo) * (x[lo + 1] - x[lo]);
}

/*
 * Rearranges a[lo..hi] so that a[k] holds the value it would hold sorted, with no greater value before it
 * and no smaller one after (Hoare's selection, median of three pivots; a range still large after 64 rounds
 * is sorted instead, so the time stays O(n log n) at worst). The value at k is the sort's, whatever the
 * path: the quantiles below equal quantile_sorted's over the sorted array.
 */
static void
select_kth(double *a, int lo, int hi, int k)
{
	for (int depth = 0; hi > lo; depth++)
	{
		int			i = lo,
					j = hi,
					mid = lo + (hi - lo) / 2;
		double		pivot,
					x = a[lo],
					y = a[mid],
					z = a[hi];

		if (depth >= 64)
		{
			qsort(a + lo, hi - lo + 1, sizeof(double), cmp_double);
			return;
		}
		pivot = x < y ? (y < z ? y : (x < z ? z : x)) : (x < z ? x : (y < z ? z : y));
		while (i <= j)
		{
			while (a[i] < pivot)
				i++;
			while (a[j] > pivot)
				j--;
			if (i <= j)
			{
				double		t = a[i];

				a[i++] = a[j];
				a[j--] = t;
			}
		}
		if (k <= j)
			hi = j;
		else if (k >= i)
			lo = i;
		else
			return;				/* a[j + 1 .. i - 1] all equal the pivot */
	}
}

/*
 * out[q] = the ps[q]-quantile of a[0..n-1] (ps ascending), interpolated as quantile_sorted does, in
 * O(n) per quantile instead of a sort; a is reordered.
 */
static void
quantiles_select(double *a, int n, const double *ps, int nps, double *out)
{
	int			from = 0;

	for (int q = 0; q < nps; q++)
	{
		double		h = (n - 1) * ps[q];
		int			k = (int) floor(h);
		double		next;

		select_kth(a, from, n - 1, k);
		if (k + 1 < n && h > k)
		{
			/* the next order statistic: the least value after k */
			next = a[k + 1];
			for (int i = k + 2; i < n; i++)
				if (a[i] < next)
					next = a[i];
			out[q] = a[k] + (h - k) * (next - a[k]);
		}
		else
			out[q] = a[k];
		from = k;
	}
}

/* ------------------------------------------------------------------------------------------------
 * The probability of backtest overfitting (CSCV).
 * ------------------------------------------------------------------------------------------------ */

/* the largest number of partitions: C(16, 8) = 12,870 combinations */
#define PBO_MAX_PARTITIONS	16
/* the logits' histogram: bins of this width, aligned on its multiples */
#define PBO_BIN_WIDTH		0.5

/* count, mean and sum of squared deviations of a set of rows, for one trial */
typedef struct Moments
{
	double		n;
	double		mean;
	double		m2;
} Moments;

/* Chan, Golub and LeVeque's pairwise update: the moments of the union of two disjoint sets */
static void
moments_add(Moments *acc, const Moments *m)
{
	double		n = acc->n + m->n;
	double		delta = m->mean - acc->mean;

	if (m->n == 0)
		return;
	acc->m2 += m->m2 + delta * delta * acc->n * m->n / n;
	acc->mean += delta * m->n / n;
	acc->n = n;
}

/*
 * The Sharpe ratio mean / sd of a set of rows (sample sd). A set whose sd is 0 (constant, or one row)
 * ranks by the sign of its mean: +infinity above every finite ratio, -infinity below, 0 for a zero mean.
 */
static double
moments_sharpe(const Moments *m)
{
	double		sd = m->n > 1 ? sqrt(m->m2 / (m->n - 1)) : 0;

	if (sd > 0)
		return m->mean / sd;
	return m->mean > 0 ? INFINITY : m->mean < 0 ? -INFINITY : 0;
}

/*
 * ex7.pbo_cscv(performance float8[][], partitions integer) -> jsonb: combinatorially symmetric
 * cross-validation (Bailey, Borwein, Lopez de Prado and Zhu 2015, section 2.2). Rows are periods
 * (T), columns trials (N). The rows are cut into S contiguous blocks (block s holds rows
 * floor(s T / S) .. floor((s + 1) T / S) - 1, so sizes differ by at most one when S does not divide
 * T); each of the C(S, S/2) choices of S/2 blocks is an in-sample set, the other blocks its
 * out-of-sample set. In each: the trial with the highest in-sample Sharpe ratio (ties: the first
 * column), its relative rank w = r / (N + 1) among the out-of-sample Sharpe ratios (r from 1, the
 * lowest, to N; tied ratios share the mean of their ranks), and the logit ln(w / (1 - w)). PBO is the
 * share of logits <= 0: the best in-sample trial ranked at or below the median out of sample.
 */
PG_FUNCTION_INFO_V1(pbo_cscv);
Datum
pbo_cscv(PG_FUNCTION_ARGS)
{
	ArrayType  *a = PG_GETARG_ARRAYTYPE_P(0);
	int			s = PG_GETARG_INT32(1);
	int			t,
				nt;
	Datum	   *d;
	bool	   *isnull;
	int			nelems;
	Moments    *blocks;			/* blocks[b * nt + j] */
	Moments    *is,
			   *oos;
	double	   *sr_is,
			   *sr_oos;
	double	   *logits,
			   *pair_is,
			   *pair_oos;
	int			ncomb = 0,
				nbelow = 0,
				nloss = 0,
				npairs = 0;
	StringInfoData b;
	MemoryContext work,
				caller = CurrentMemoryContext;
	Datum		result;

	if (ARR_NDIM(a) != 2)
		invalid_arg("performance", "performance must be a two-dimensional array: rows are periods, columns trials",
					"value_error.array");
	if (s < 2 || s % 2 != 0)
		invalid_arg("partitions", "partitions must be an even number of at least 2", "value_error.number");
	if (s > PBO_MAX_PARTITIONS)
		invalid_arg("partitions", "partitions must be at most 16 (C(16, 8) = 12,870 combinations)",
					"value_error.number.not_le");
	t = ARR_DIMS(a)[0];
	nt = ARR_DIMS(a)[1];
	if (nt < 2)
		invalid_arg("performance", "performance needs at least 2 trials (columns)", "value_error.array");
	if (t < s)
		invalid_arg("performance", psprintf("performance needs at least as many periods (rows) as partitions (%d)", s),
					"value_error.array");

	work = AllocSetContextCreate(CurrentMemoryContext, "pbo_cscv", ALLOCSET_DEFAULT_SIZES);
	MemoryContextSwitchTo(work);

	deconstruct_array(a, FLOAT8OID, sizeof(float8), FLOAT8PASSBYVAL, TYPALIGN_DOUBLE, &d, &isnull, &nelems);
	for (int i = 0; i < nelems; i++)
		if (isnull[i] || !isfinite(DatumGetFloat8(d[i])))
			ex7_invalid(psprintf("[\"performance\",%d,%d]", i / nt + 1, i % nt + 1),
						psprintf("performance[%d][%d] must be a finite number", i / nt + 1, i % nt + 1),
						"value_error.number.not_finite");

	/* each block's moments per trial (Welford's update over its rows) */
	blocks = palloc0(sizeof(Moments) * s * nt);
	for (int bl = 0; bl < s; bl++)
	{
		int			r0 = (int) ((int64) bl * t / s),
					r1 = (int) ((int64) (bl + 1) * t / s);

		for (int r = r0; r < r1; r++)
			for (int j = 0; j < nt; j++)
			{
				Moments    *m = &blocks[bl * nt + j];
				double		x = DatumGetFloat8(d[r * nt + j]);
				double		delta = x - m->mean;

				m->n += 1;
				m->mean += delta / m->n;
				m->m2 += delta * (x - m->mean);
			}
	}

	is = palloc(sizeof(Moments) * nt);
	oos = palloc(sizeof(Moments) * nt);
	sr_is = palloc(sizeof(double) * nt);
	sr_oos = palloc(sizeof(double) * nt);
	/* at most C(16, 8) combinations */
	logits = palloc(sizeof(double) * 12870);
	pair_is = palloc(sizeof(double) * 12870);
	pair_oos = palloc(sizeof(double) * 12870);

	for (uint32 mask = 0; mask < (1u << s); mask++)
	{
		int			best = 0;
		double		less = 0,
					equal = 0,
					w;

		if (pg_popcount32(mask) != s / 2)
			continue;
		CHECK_FOR_INTERRUPTS();
		for (int j = 0; j < nt; j++)
		{
			memset(&is[j], 0, sizeof(Moments));
			memset(&oos[j], 0, sizeof(Moments));
			for (int bl = 0; bl < s; bl++)
				moments_add((mask & (1u << bl)) ? &is[j] : &oos[j], &blocks[bl * nt + j]);
			sr_is[j] = moments_sharpe(&is[j]);
			sr_oos[j] = moments_sharpe(&oos[j]);
			if (sr_is[j] > sr_is[best])
				best = j;
		}
		for (int j = 0; j < nt; j++)
		{
			if (sr_oos[j] < sr_oos[best])
				less++;
			else if (sr_oos[j] == sr_oos[best])
				equal++;		/* counts best itself */
		}
		/* the mean rank of the tied group: less + 1 .. less + equal */
		w = (less + (equal + 1) / 2) / (nt + 1);
		logits[ncomb] = log(w / (1 - w));
		if (logits[ncomb] <= 0)
			nbelow++;
		if (sr_oos[best] < 0)
			nloss++;
		if (isfinite(sr_is[best]) && isfinite(sr_oos[best]))
		{
			pair_is[npairs] = sr_is[best];
			pair_oos[npairs] = sr_oos[best];
			npairs++;
		}
		ncomb++;
	}

	initStringInfo(&b);
	appendStringInfoString(&b, "{\"pbo\": ");
	append_ratio(&b, (double) nbelow / ncomb);
	appendStringInfo(&b, ", \"partitions\": %d, \"combinations\": %d, \"trials\": %d, \"periods\": %d",
					 s, ncomb, nt, t);

	/* the logits' distribution */
	{
		double		sum = 0,
					lo,
					hi;
		int			nbins;

		for (int i = 0; i < ncomb; i++)
			sum += logits[i];
		qsort(logits, ncomb, sizeof(double), cmp_double);
		appendStringInfoString(&b, ", \"logits\": {\"min\": ");
		append_ratio(&b, logits[0]);
		appendStringInfoString(&b, ", \"q1\": ");
		append_ratio(&b, quantile_sorted(logits, ncomb, 0.25));
		appendStringInfoString(&b, ", \"median\": ");
		append_ratio(&b, quantile_sorted(logits, ncomb, 0.5));
		appendStringInfoString(&b, ", \"q3\": ");
		append_ratio(&b, quantile_sorted(logits, ncomb, 0.75));
		appendStringInfoString(&b, ", \"max\": ");
		append_ratio(&b, logits[ncomb - 1]);
		appendStringInfoString(&b, ", \"mean\": ");
		append_ratio(&b, sum / ncomb);
		/*
		 * bins [k w, (k + 1) w) of width w = 0.5 from the one holding the lowest logit to the one holding
		 * the highest (|logit| <= ln N: at most 4 ln N + 2 bins)
		 */
		lo = floor(logits[0] / PBO_BIN_WIDTH);
		hi = floor(logits[ncomb - 1] / PBO_BIN_WIDTH);
		nbins = (int) (hi - lo) + 1;
		appendStringInfoString(&b, ", \"histogram\": [");
		{
			int			i = 0;

			for (int k = 0; k < nbins; k++)
			{
				double		from = (lo + k) * PBO_BIN_WIDTH,
							to = from + PBO_BIN_WIDTH;
				int			count = 0;

				while (i < ncomb && (k == nbins - 1 || logits[i] < to))
				{
					count++;
					i++;
				}
				appendStringInfo(&b, "%s{\"from\": %.1f, \"to\": %.1f, \"count\": %d}", k ? ", " : "",
								 from == 0 ? 0.0 : from, to == 0 ? 0.0 : to, count);
			}
		}
		appendStringInfoString(&b, "]}");
	}

	/*
	 * performance degradation (section 2.3): the least-squares line of the chosen trial's out-of-sample
	 * Sharpe ratio on its in-sample one over the combinations (pairs with an infinite ratio left out),
	 * and the probability of loss, the share of combinations whose chosen trial lost out of sample
	 */
	{
		double		mx = 0,
					my = 0,
					sxx = 0,
					sxy = 0,
					syy = 0;

		for (int i = 0; i < npairs; i++)
		{
			mx += pair_is[i];
			my += pair_oos[i];
		}
		if (npairs > 0)
		{
			mx /= npairs;
			my /= npairs;
		}
		for (int i = 0; i < npairs; i++)
		{
			sxx += (pair_is[i] - mx) * (pair_is[i] - mx);
			sxy += (pair_is[i] - mx) * (pair_oos[i] - my);
			syy += (pair_oos[i] - my) * (pair_oos[i] - my);
		}
		appendStringInfoString(&b, ", \"performance_degradation\": {\"slope\": ");
		append_ratio(&b, npairs > 1 && sxx > 0 ? sxy / sxx : NAN);
		appendStringInfoString(&b, ", \"intercept\": ");
		append_ratio(&b, npairs > 1 && sxx > 0 ? my - sxy / sxx * mx : NAN);
		appendStringInfoString(&b, ", \"r_squared\": ");
		append_ratio(&b, npairs > 1 && sxx > 0 && syy > 0 ? sxy * sxy / (sxx * syy) : NAN);
		appendStringInfo(&b, ", \"pairs\": %d, \"probability_of_loss\": ", npairs);
		append_ratio(&b, (double) nloss / ncomb);
		appendStringInfoString(&b, "}}");
	}

	MemoryContextSwitchTo(caller);
	result = DirectFunctionCall1(jsonb_in, CStringGetDatum(b.data));
	MemoryContextDelete(work);
	PG_RETURN_DATUM(result);
}

/* ------------------------------------------------------------------------------------------------
 * Monte Carlo of a backtest's trades.
 * ------------------------------------------------------------------------------------------------ */

/*
 * The generator: xoshiro256** seeded through splitmix64 (D. Blackman and S. Vigna, "Scrambled Linear
 * Pseudorandom Number Generators", ACM Transactions on Mathematical Software 47(4), 2021; the
 * reference code at https://prng.di.unimi.it/). Integer arithmetic only: the same seed gives the same
 * draws on every machine.
 */
typedef struct Xoshiro
{
	uint64		s[4];
} Xoshiro;

static uint64
splitmix64(uint64 *x)
{
	uint64		z = (*x += UINT64CONST(0x9e3779b97f4a7c15));

	z = (z ^ (z >> 30)) * UINT64CONST(0xbf58476d1ce4e5b9);
	z = (z ^ (z >> 27)) * UINT64CONST(0x94d049bb133111eb);
	return z ^ (z >> 31);
}

static void
xoshiro_seed(Xoshiro *g, uint64 seed)
{
	uint64		x = seed;

	for (int i = 0; i < 4; i++)
		g->s[i] = splitmix64(&x);
}

static inline uint64
rotl(uint64 x, int k)
{
	return (x << k) | (x >> (64 - k));
}

static inline uint64
xoshiro_next(Xoshiro *g)
{
	uint64	   *s = g->s;
	uint64		result = rotl(s[1] * 5, 7) * 9;
	uint64		t = s[1] << 17;

	s[2] ^= s[0];
	s[3] ^= s[1];
	s[1] ^= s[2];
	s[0] ^= s[3];
	s[2] ^= t;
	s[3] = rotl(s[3], 45);
	return result;
}

/* the 128-bit product of a and b as two 64-bit halves, in portable integer arithmetic */
static inline void
mul_64x64(uint64 a, uint64 b, uint64 *hi, uint64 *lo)
{
	uint64		a0 = (uint32) a,
				a1 = a >> 32,
				b0 = (uint32) b,
				b1 = b >> 32;
	uint64		p00 = a0 * b0,
				p01 = a0 * b1,
				p10 = a1 * b0,
				p11 = a1 * b1;
	uint64		mid = (p00 >> 32) + (uint32) p01 + (uint32) p10;

	*hi = p11 + (p01 >> 32) + (p10 >> 32) + (mid >> 32);
	*lo = (mid << 32) | (uint32) p00;
}

/*
 * A uniform integer in [0, n), n >= 1: the high half of draw x n, rejecting the draws whose low half falls
 * below 2^64 mod n, so that no value is favoured (D. Lemire, "Fast Random Integer Generation in an
 * Interval", ACM Transactions on Modeling and Computer Simulation 29(1), 2019). The division happens only
 * on the rare draws that may need rejecting.
 */
static inline uint64
xoshiro_below(Xoshiro *g, uint64 n)
{
	uint64		hi,
				lo;

	mul_64x64(xoshiro_next(g), n, &hi, &lo);
	if (lo < n)
	{
		uint64		threshold = (-n) % n;

		while (lo < threshold)
			mul_64x64(xoshiro_next(g), n, &hi, &lo);
	}
	return hi;
}

/* runs x trades above which a Monte Carlo is refused: about 2 s of work (docs/performance.md) */
#define MC_MAX_WORK			INT64CONST(100000000)
/* the fan's per-index samples (runs x points) are bounded by this many doubles (16 MB) */
#define MC_FAN_BUDGET		(1 << 21)
/* at most this many trade indices in the fan besides index 0 */
#define MC_FAN_POINTS		200

static const double mc_quantiles[5] = {0.05, 0.25, 0.50, 0.75, 0.95};
static const char *const mc_quantile_names[5] = {"p5", "p25", "p50", "p75", "p95"};

/*
 * ex7._monte_carlo(pnl float8[], initial_capital float8, method text, runs integer, seed bigint,
 * drawdown_threshold float8) -> jsonb: runs simulated sequences of the trades' net P&L (in exit order):
 * "shuffle" reorders all of them (Fisher-Yates, each run continuing from the previous order), "bootstrap"
 * draws as many with replacement. Each run's equity after every trade starts from initial_capital; its
 * max drawdown is the largest fall from a running peak (the initial capital included) of that equity,
 * in money, rounded to cents. Percentiles interpolate between order statistics (percentile_cont).
 * The caller checked the arguments (ex7.monte_carlo); the checks here are the function's own bounds.
 */
PG_FUNCTION_INFO_V1(_monte_carlo);
Datum
_monte_carlo(PG_FUNCTION_ARGS)
{
	int			n;
	double	   *pnl = read_vector(PG_GETARG_ARRAYTYPE_P(0), "pnl", &n);
	double		capital = PG_GETARG_FLOAT8(1);
	char	   *method = text_to_cstring(PG_GETARG_TEXT_PP(2));
	int			runs = PG_GETARG_INT32(3);
	int64		seed = PG_GETARG_INT64(4);
	bool		has_threshold = !PG_ARGISNULL(5);
	double		threshold = has_threshold ? PG_GETARG_FLOAT8(5) : 0;
	bool		bootstrap;
	Xoshiro		g;
	double	   *seq,
			   *final,
			   *maxdd,
			   *fan,
			   *col;
	double		final_q[5],
				maxdd_q[5];
	int		   *fan_idx;
	int			npoints;
	int			nbeyond = 0;
	double		observed_final,
				observed_dd = 0;
	StringInfoData b;
	MemoryContext work,
				caller = CurrentMemoryContext;
	Datum		result;

	if (strcmp(method, "shuffle") == 0)
		bootstrap = false;
	else if (strcmp(method, "bootstrap") == 0)
		bootstrap = true;
	else
		invalid_arg("method", "method must be shuffle or bootstrap", "value_error.const");
	if (runs < 1 || runs > 100000)
		invalid_arg("runs", "runs must be between 1 and 100000", "value_error.number.range");
	if ((int64) runs * n > MC_MAX_WORK)
		invalid_arg("runs", "runs x trades must be at most 100,000,000", "value_error.number.not_le");
	check_finite("initial_capital", capital);
	if (has_threshold && !(isfinite(threshold) && threshold > 0))
		invalid_arg("drawdown_threshold", "drawdown_threshold must be greater than 0", "value_error.number.not_gt");

	work = AllocSetContextCreate(CurrentMemoryContext, "monte_carlo", ALLOCSET_DEFAULT_SIZES);
	MemoryContextSwitchTo(work);

	/*
	 * the fan's trade indices: 0 and up to MC_FAN_POINTS more, evenly spread over 1..n (index j of K is
	 * round(j n / K)), fewer when runs is large so that runs x (K + 1) stays within MC_FAN_BUDGET
	 */
	npoints = Min(n, MC_FAN_POINTS);
	npoints = Min(npoints, Max(1, MC_FAN_BUDGET / runs - 1));
	if (n == 0)
		npoints = 0;
	fan_idx = palloc(sizeof(int) * (npoints + 1));
	for (int j = 0; j <= npoints; j++)
		fan_idx[j] = npoints == 0 ? 0 : (int) (((int64) j * n + npoints / 2) / npoints);

	seq = palloc(sizeof(double) * Max(n, 1));
	final = palloc(sizeof(double) * runs);
	maxdd = palloc(sizeof(double) * runs);
	/* fan[run * (npoints + 1) + j]: run-major, so a run writes its points next to each other */
	fan = palloc(sizeof(double) * (Size) runs * (npoints + 1));
	memcpy(seq, pnl, sizeof(double) * n);

	/* the backtest's own order, for reference */
	{
		double		eq = capital,
					peak = capital;

		for (int i = 0; i < n; i++)
		{
			eq += pnl[i];
			peak = Max(peak, eq);
			observed_dd = Max(observed_dd, peak - eq);
		}
		observed_final = eq;
	}

	xoshiro_seed(&g, (uint64) seed);
	for (int run = 0; run < runs; run++)
	{
		double		eq = capital,
					peak = capital,
					dd = 0;
		int			next = 1;
		double	   *row = fan + (Size) run * (npoints + 1);

		CHECK_FOR_INTERRUPTS();
		if (!bootstrap)
			for (int i = n - 1; i > 0; i--)
			{
				int			k = (int) xoshiro_below(&g, (uint64) i + 1);
				double		tmp = seq[i];

				seq[i] = seq[k];
				seq[k] = tmp;
			}
		row[0] = capital;
		for (int i = 0; i < n; i++)
		{
			eq += bootstrap ? pnl[xoshiro_below(&g, (uint64) n)] : seq[i];
			if (eq > peak)
				peak = eq;
			else if (peak - eq > dd)
				dd = peak - eq;
			while (next <= npoints && fan_idx[next] == i + 1)
				row[next++] = eq;
		}
		final[run] = eq;
		maxdd[run] = rint(dd * 100) / 100;
		if (has_threshold && maxdd[run] >= threshold)
			nbeyond++;
	}

	quantiles_select(final, runs, mc_quantiles, 5, final_q);
	quantiles_select(maxdd, runs, mc_quantiles, 5, maxdd_q);

	initStringInfo(&b);
	appendStringInfo(&b, "{\"method\": \"%s\", \"runs\": %d, \"seed\": " INT64_FORMAT ", \"trades\": %d, "
					 "\"initial_capital\": ", bootstrap ? "bootstrap" : "shuffle", runs, seed, n);
	append_money(&b, capital);
	appendStringInfoString(&b, ", \"observed\": {\"final_equity\": ");
	append_money(&b, observed_final);
	appendStringInfoString(&b, ", \"max_drawdown\": ");
	append_money(&b, observed_dd);
	appendStringInfoString(&b, "}, \"final_equity\": {");
	for (int q = 0; q < 5; q += 2)
	{
		appendStringInfo(&b, "%s\"%s\": ", q ? ", " : "", mc_quantile_names[q]);
		append_money(&b, final_q[q]);
	}
	appendStringInfoString(&b, "}, \"max_drawdown\": {");
	for (int q = 0; q < 5; q += 2)
	{
		appendStringInfo(&b, "%s\"%s\": ", q ? ", " : "", mc_quantile_names[q]);
		append_money(&b, maxdd_q[q]);
	}
	appendStringInfoString(&b, "}, \"drawdown_threshold\": ");
	if (has_threshold)
		append_money(&b, threshold);
	else
		appendStringInfoString(&b, "null");
	appendStringInfoString(&b, ", \"probability_drawdown_beyond\": ");
	if (has_threshold)
		append_ratio(&b, (double) nbeyond / runs);
	else
		appendStringInfoString(&b, "null");
	appendStringInfoString(&b, ", \"fan\": [");
	col = palloc(sizeof(double) * runs);
	for (int j = 0; j <= npoints; j++)
	{
		double		fq[5];

		/* the column of index j, gathered from the runs' rows */
		for (int run = 0; run < runs; run++)
			col[run] = fan[(Size) run * (npoints + 1) + j];
		quantiles_select(col, runs, mc_quantiles, 5, fq);
		appendStringInfo(&b, "%s{\"trade\": %d", j ? ", " : "", fan_idx[j]);
		for (int q = 0; q < 5; q++)
		{
			appendStringInfo(&b, ", \"%s\": ", mc_quantile_names[q]);
			append_money(&b, fq[q]);
		}
		appendStringInfoChar(&b, '}');
	}
	appendStringInfoString(&b, "]}");

	MemoryContextSwitchTo(caller);
	result = DirectFunctionCall1(jsonb_in, CStringGetDatum(b.data));
	MemoryContextDelete(work);
	PG_RETURN_DATUM(result);
}

/* ------------------------------------------------------------------------------------------------
 * Pictures: the Monte Carlo fan, the parameter heatmap, the walk-forward equity curve. The look of
 * ex7._equity_svg (ext/metrics.c): 900 units wide, sans-serif 11, the title bold 16 at the top left,
 * grey frames (#999999) and gridlines (#e5e5e5), the equity blue (#1f6fb2), losses red (#d9534f), and
 * the rule's name and statement wrapped under the chart.
 * ------------------------------------------------------------------------------------------------ */

#define PIC_WIDTH			900
#define PIC_LEFT			100
#define PIC_RIGHT			30
#define PIC_TOP				66
#define PIC_HEIGHT			300
#define PIC_XLABEL_Y		(PIC_TOP + PIC_HEIGHT + 18)
#define PIC_NOTE_TOP		(PIC_XLABEL_Y + 40)
#define PIC_NOTE_LINE		15
#define PIC_XTICKS			5
#define PIC_TITLE_CHARS		80
#define PIC_BLUE			"#1f6fb2"
#define PIC_RED				"#d9534f"
/* the heatmap's bounds: cells, and the legend's column at the right */
#define HEAT_MAX_CELLS		10000
#define HEAT_LEGEND_W		120
/* points of a curve: more than two per horizontal unit are reduced to each unit's lowest and highest */
#define CURVE_MAX_BOUNDARIES 1000

/* the document's start: size, fonts, title (as <title> and as the heading) and the white background */
static void
pic_begin(StringInfo b, int height, const char *title)
{
	appendStringInfo(b, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" "
					 "viewBox=\"0 0 %d %d\" font-family=\"sans-serif\" font-size=\"11\">\n",
					 PIC_WIDTH, height, PIC_WIDTH, height);
	appendStringInfoString(b, "<title>");
	ex7_svg_text(b, title);
	appendStringInfoString(b, "</title>\n");
	appendStringInfo(b, "<rect x=\"0\" y=\"0\" width=\"%d\" height=\"%d\" fill=\"#ffffff\"/>\n", PIC_WIDTH, height);
	appendStringInfo(b, "<text class=\"title\" x=\"%d\" y=\"30\" font-size=\"16\" font-weight=\"bold\"", PIC_LEFT);
	/* bold 16 averages about 9.5 units a character: a longer title is squeezed into the width */
	if (pg_mbstrlen(title) > PIC_TITLE_CHARS)
		appendStringInfo(b, " textLength=\"%d\" lengthAdjust=\"spacingAndGlyphs\"", PIC_WIDTH - PIC_LEFT - PIC_RIGHT);
	appendStringInfoChar(b, '>');
	ex7_svg_text(b, title);
	appendStringInfoString(b, "</text>\n");
}

/* the height of a picture whose statement block starts at note_top */
static int
pic_height(List *lines, int note_top)
{
	return note_top + PIC_NOTE_LINE * (list_length(lines) + 1) + 10;
}

/*
 * A statement given as one text: the part before its first newline, when it has one, is the rule's
 * name (drawn bold, as ex7._equity_svg draws its rule argument), the rest the statement.
 */
static void
pic_split_statement(const char *statement, char **rule, List **lines)
{
	const char *nl = strchr(statement, '\n');

	*rule = nl ? pnstrdup(statement, nl - statement) : NULL;
	*lines = ex7_svg_wrap(nl ? nl + 1 : statement);
}

/* the rule's name (when not NULL) and the wrapped statement from note_top, then the document's end */
static void
pic_end(StringInfo b, const char *rule, List *lines, int note_top)
{
	ListCell   *lc;
	int			y = note_top;

	if (rule != NULL)
	{
		appendStringInfo(b, "<text class=\"disclaimer-rule\" x=\"%d\" y=\"%d\" font-weight=\"bold\">",
						 PIC_LEFT - 70, y);
		ex7_svg_text(b, rule);
		appendStringInfoString(b, "</text>\n");
	}
	else
		y -= PIC_NOTE_LINE;
	foreach(lc, lines)
	{
		y += PIC_NOTE_LINE;
		appendStringInfo(b, "<text class=\"disclaimer\" x=\"%d\" y=\"%d\">", PIC_LEFT - 70, y);
		ex7_svg_text(b, (char *) lfirst(lc));
		appendStringInfoString(b, "</text>\n");
	}
	appendStringInfoString(b, "</svg>\n");
}

/* the rotated title of the value axis and the title of the horizontal axis */
static void
pic_axis_titles(StringInfo b, const char *ytitle, const char *xtitle, int top, int height, int plot_w,
				int xtitle_y)
{
	appendStringInfo(b, "<text class=\"axis-title\" x=\"16\" y=\"%d\" transform=\"rotate(-90 16 %d)\" "
					 "text-anchor=\"middle\">", top + height / 2, top + height / 2);
	ex7_svg_text(b, ytitle);
	appendStringInfoString(b, "</text>\n");
	appendStringInfo(b, "<text class=\"axis-title\" x=\"%d\" y=\"%d\" text-anchor=\"middle\">",
					 PIC_LEFT + plot_w / 2, xtitle_y);
	ex7_svg_text(b, xtitle);
	appendStringInfoString(b, "</text>\n");
}

/*
 * The value axis of [*lo, *hi]: round gridlines and labels; widens a flat range and sets *lo and *hi
 * to the axis' ends (multiples of the step).
 */
static void
pic_value_axis(StringInfo b, double *lo, double *hi, int top, int height, int plot_w)
{
	double		step,
				ylo,
				yhi;
	int			dec;

	if (*hi - *lo < 1e-9 * Max(fabs(*hi), 1.0))
	{
		*lo -= Max(fabs(*lo) * 0.01, 1.0);
		*hi += Max(fabs(*hi) * 0.01, 1.0);
	}
	step = ex7_svg_nice_step(*hi - *lo, 5);
	dec = ex7_svg_step_decimals(step);
	ylo = floor(*lo / step) * step;
	yhi = ceil(*hi / step) * step;
	for (double v = ylo; v <= yhi + step / 2; v += step)
	{
		double		y = top + height - (v - ylo) / (yhi - ylo) * height;

		appendStringInfo(b, "<line x1=\"%d\" y1=\"%.1f\" x2=\"%d\" y2=\"%.1f\" stroke=\"#e5e5e5\"/>\n",
						 PIC_LEFT, y, PIC_LEFT + plot_w, y);
		appendStringInfo(b, "<text class=\"y-label\" x=\"%d\" y=\"%.1f\" text-anchor=\"end\">%.*f</text>\n",
						 PIC_LEFT - 6, y + 4, dec, fabs(v) < step / 2 ? 0.0 : v);
	}
	*lo = ylo;
	*hi = yhi;
}

/* a number for a label: up to 6 significant digits, no exponent for ordinary parameter values */
static void
append_label_number(StringInfo b, double v)
{
	char		buf[64];

	snprintf(buf, sizeof(buf), "%.6g", v == 0 ? 0.0 : v);
	ex7_svg_text(b, buf);
}

/* JSON input of the pictures ---------------------------------------------------------------------- */

/* member key of object c as a double: a JSON number or a decimal string; false when missing or null */
static bool
json_double(JsonbContainer *c, const char *key, double *out, const char *loc)
{
	JsonbValue	v;
	JsonbValue *p = getKeyJsonValueFromContainer(c, key, strlen(key), &v);

	if (p == NULL || v.type == jbvNull)
		return false;
	if (v.type == jbvNumeric)
		*out = DatumGetFloat8(DirectFunctionCall1(numeric_float8_no_overflow, NumericGetDatum(v.val.numeric)));
	else if (v.type == jbvString)
	{
		char	   *s = pnstrdup(v.val.string.val, v.val.string.len);
		char	   *end;

		errno = 0;
		*out = strtod(s, &end);
		if (end == s || *end != '\0' || errno != 0)
			ex7_invalid(loc, psprintf("%s must be a number or a decimal string", key), "type_error.decimal");
	}
	else
		ex7_invalid(loc, psprintf("%s must be a number or a decimal string", key), "type_error.decimal");
	if (!isfinite(*out))
		ex7_invalid(loc, psprintf("%s must be a finite number", key), "value_error.number.not_finite");
	return true;
}

/* the elements of the JSON array j (named what in locators); *n gets the count */
static JsonbValue *
json_elements(Jsonb *j, const char *what, int *n)
{
	JsonbIterator *it;
	JsonbValue	v;
	JsonbIteratorToken tok;
	JsonbValue *out;
	int			i = 0;

	if (!JB_ROOT_IS_ARRAY(j) || JB_ROOT_IS_SCALAR(j))
		ex7_invalid(psprintf("[\"%s\"]", what), psprintf("%s must be a JSON array", what), "type_error.list");
	*n = JB_ROOT_COUNT(j);
	out = palloc(sizeof(JsonbValue) * Max(*n, 1));
	it = JsonbIteratorInit(&j->root);
	while ((tok = JsonbIteratorNext(&it, &v, true)) != WJB_DONE)
		if (tok == WJB_ELEM)
			out[i++] = v;
	return out;
}

static JsonbContainer *
json_object_at(JsonbValue *v, const char *what, int i)
{
	if (v->type != jbvBinary || !JsonContainerIsObject(v->val.binary.data))
		ex7_invalid(psprintf("[\"%s\",%d]", what, i), psprintf("%s[%d] must be a JSON object", what, i),
					"type_error.dict");
	return v->val.binary.data;
}

static TimestampTz
json_ts(JsonbValue *v, const char *loc, const char *what)
{
	char	   *s;
	TimestampTz ts;

	if (v->type != jbvString)
		ex7_invalid(loc, psprintf("%s must be a timestamp string", what), "type_error.datetime");
	s = pnstrdup(v->val.string.val, v->val.string.len);
	/* the parse timestamptz_in does first, which reports a bad text instead of raising it (22007) */
	{
		char		workbuf[MAXDATELEN + MAXDATEFIELDS];
		char	   *field[MAXDATEFIELDS];
		int			ftype[MAXDATEFIELDS];
		int			nf,
					dtype,
					tz;
		struct pg_tm tm;
		fsec_t		fsec;

		if (strlen(s) >= MAXDATELEN ||
			ParseDateTime(s, workbuf, sizeof(workbuf), field, ftype, MAXDATEFIELDS, &nf) != 0 ||
			DecodeDateTime(field, ftype, nf, &dtype, &tm, &fsec, &tz) != 0)
			ex7_invalid(loc, psprintf("%s must be a timestamp", what), "value_error.datetime");
	}
	ts = DatumGetTimestampTz(DirectFunctionCall3(timestamptz_in, CStringGetDatum(s),
												 ObjectIdGetDatum(InvalidOid), Int32GetDatum(-1)));
	if (TIMESTAMP_NOT_FINITE(ts))
		ex7_invalid(loc, psprintf("%s must be a finite timestamp", what), "value_error.datetime");
	return ts;
}

/* The Monte Carlo fan ----------------------------------------------------------------------------- */

/*
 * ex7._monte_carlo_svg(result jsonb, title text, rule text, statement text) -> text: the fan of an
 * ex7.monte_carlo result: equity against the trade number, the 5-95 and 25-75 percentile bands, the
 * median line, the initial capital as a dashed line, and the final equity and max drawdown percentiles
 * in a line under the title.
 */
PG_FUNCTION_INFO_V1(_monte_carlo_svg);
Datum
_monte_carlo_svg(PG_FUNCTION_ARGS)
{
	Jsonb	   *res = PG_GETARG_JSONB_P(0);
	char	   *title = text_to_cstring(PG_GETARG_TEXT_PP(1));
	char	   *rule = text_to_cstring(PG_GETARG_TEXT_PP(2));
	char	   *statement = text_to_cstring(PG_GETARG_TEXT_PP(3));
	MemoryContext work,
				caller = CurrentMemoryContext;
	StringInfoData b;
	JsonbValue	v;
	JsonbValue *elems;
	int			np;
	double	   *tr,
			   *band[5];
	double		capital = 0,
				lo = 0,
				hi = 0,
				xmax;
	int			plot_w = PIC_WIDTH - PIC_LEFT - PIC_RIGHT;
	List	   *lines;
	int			height;
	text	   *result;

	work = AllocSetContextCreate(CurrentMemoryContext, "monte_carlo_svg", ALLOCSET_DEFAULT_SIZES);
	MemoryContextSwitchTo(work);

	if (!JB_ROOT_IS_OBJECT(res))
		ex7_invalid("[\"result\"]", "result must be a JSON object", "type_error.dict");
	if (!json_double(&res->root, "initial_capital", &capital, "[\"result\",\"initial_capital\"]"))
		ex7_invalid("[\"result\",\"initial_capital\"]", "initial_capital is required", "value_error.missing");
	if (getKeyJsonValueFromContainer(&res->root, "fan", 3, &v) == NULL || v.type != jbvBinary ||
		!JsonContainerIsArray(v.val.binary.data))
		ex7_invalid("[\"result\",\"fan\"]", "fan must be a JSON array", "type_error.list");
	{
		Jsonb	   *fan = JsonbValueToJsonb(&v);

		elems = json_elements(fan, "fan", &np);
	}
	tr = palloc(sizeof(double) * Max(np, 1));
	for (int q = 0; q < 5; q++)
		band[q] = palloc(sizeof(double) * Max(np, 1));
	lo = hi = capital;
	for (int i = 0; i < np; i++)
	{
		JsonbContainer *c = json_object_at(&elems[i], "fan", i);
		char	   *loc = psprintf("[\"fan\",%d]", i);

		if (!json_double(c, "trade", &tr[i], loc))
			ex7_invalid(loc, "trade is required", "value_error.missing");
		for (int q = 0; q < 5; q++)
		{
			if (!json_double(c, mc_quantile_names[q], &band[q][i], loc))
				ex7_invalid(loc, psprintf("%s is required", mc_quantile_names[q]), "value_error.missing");
			lo = Min(lo, band[q][i]);
			hi = Max(hi, band[q][i]);
		}
	}
	xmax = np > 0 ? Max(tr[np - 1], 1) : 1;

	lines = ex7_svg_wrap(statement);
	height = pic_height(lines, PIC_NOTE_TOP);
	initStringInfo(&b);
	pic_begin(&b, height, title);

	/* the summary line under the title: runs and seed, then the percentiles of final equity and drawdown */
	appendStringInfo(&b, "<text class=\"summary\" x=\"%d\" y=\"50\" fill=\"#444444\">", PIC_LEFT);
	{
		const char *parts[2] = {"final_equity", "max_drawdown"};
		const char *names[2] = {"final equity", "max drawdown"};
		double		runs,
					seed;

		if (json_double(&res->root, "runs", &runs, "[\"result\",\"runs\"]") &&
			json_double(&res->root, "seed", &seed, "[\"result\",\"seed\"]"))
			appendStringInfo(&b, "%.0f runs, seed %.0f", runs, seed);
		for (int k = 0; k < 2; k++)
		{
			JsonbValue	pv;

			if (getKeyJsonValueFromContainer(&res->root, parts[k], strlen(parts[k]), &pv) != NULL &&
				pv.type == jbvBinary && JsonContainerIsObject(pv.val.binary.data))
			{
				double		p5,
							p50,
							p95;

				if (json_double(pv.val.binary.data, "p5", &p5, "[\"result\"]") &&
					json_double(pv.val.binary.data, "p50", &p50, "[\"result\"]") &&
					json_double(pv.val.binary.data, "p95", &p95, "[\"result\"]"))
					appendStringInfo(&b, " | %s p5 / p50 / p95: %.2f / %.2f / %.2f", names[k], p5, p50, p95);
			}
		}
	}
	appendStringInfoString(&b, "</text>\n");

	appendStringInfo(&b, "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" fill=\"none\" stroke=\"#999999\"/>\n",
					 PIC_LEFT, PIC_TOP, plot_w, PIC_HEIGHT);
	pic_axis_titles(&b, "Equity", "Trades", PIC_TOP, PIC_HEIGHT, plot_w, PIC_XLABEL_Y + 20);
	pic_value_axis(&b, &lo, &hi, PIC_TOP, PIC_HEIGHT, plot_w);

#define FX(t) (PIC_LEFT + (t) / xmax * plot_w)
#define FY(v) (PIC_TOP + PIC_HEIGHT - ((v) - lo) / (hi - lo) * PIC_HEIGHT)

	/* trade axis: round steps from 0 to the last trade */
	{
		double		step = Max(1.0, ex7_svg_nice_step(xmax, PIC_XTICKS));

		for (double t = 0; t <= xmax + step / 1000; t += step)
		{
			appendStringInfo(&b, "<line x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%d\" stroke=\"#e5e5e5\"/>\n",
							 FX(t), PIC_TOP, FX(t), PIC_TOP + PIC_HEIGHT);
			appendStringInfo(&b, "<text class=\"x-label\" x=\"%.1f\" y=\"%d\" text-anchor=\"middle\">%.0f</text>\n",
							 FX(t), PIC_XLABEL_Y, t);
		}
	}

	if (np == 0)
		appendStringInfo(&b, "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\" fill=\"#666666\">no trades</text>\n",
						 PIC_LEFT + plot_w / 2, PIC_TOP + PIC_HEIGHT / 2);
	else
	{
		/* the bands: 5-95 then 25-75, each the upper percentile left to right and the lower back */
		for (int k = 0; k < 2; k++)
		{
			int			qlo = k == 0 ? 0 : 1,
						qhi = k == 0 ? 4 : 3;

			appendStringInfo(&b, "<polygon class=\"band-%s\" fill=\"%s\" fill-opacity=\"%s\" stroke=\"none\" points=\"",
							 k == 0 ? "5-95" : "25-75", PIC_BLUE, k == 0 ? "0.15" : "0.30");
			for (int i = 0; i < np; i++)
				appendStringInfo(&b, "%s%.1f,%.1f", i ? " " : "", FX(tr[i]), FY(band[qhi][i]));
			for (int i = np - 1; i >= 0; i--)
				appendStringInfo(&b, " %.1f,%.1f", FX(tr[i]), FY(band[qlo][i]));
			appendStringInfoString(&b, "\"/>\n");
		}
		/* the initial capital, then the median over it */
		appendStringInfo(&b, "<line class=\"initial-capital\" x1=\"%d\" y1=\"%.1f\" x2=\"%d\" y2=\"%.1f\" "
						 "stroke=\"#666666\" stroke-dasharray=\"5,4\"/>\n",
						 PIC_LEFT, FY(capital), PIC_LEFT + plot_w, FY(capital));
		appendStringInfo(&b, "<text class=\"initial-capital-label\" x=\"%d\" y=\"%.1f\" text-anchor=\"end\" "
						 "fill=\"#666666\">initial capital %.2f</text>\n",
						 PIC_LEFT + plot_w - 4, FY(capital) - 4, capital);
		appendStringInfo(&b, "<polyline class=\"median\" fill=\"none\" stroke=\"%s\" stroke-width=\"1.5\" points=\"",
						 PIC_BLUE);
		for (int i = 0; i < np; i++)
			appendStringInfo(&b, "%s%.1f,%.1f", i ? " " : "", FX(tr[i]), FY(band[2][i]));
		if (np == 1)
			appendStringInfo(&b, " %.1f,%.1f", FX(tr[0]) + 1, FY(band[2][0]));
		appendStringInfoString(&b, "\"/>\n");
	}
#undef FX
#undef FY

	/* the legend, top left inside the frame */
	{
		int			x = PIC_LEFT + 10,
					y = PIC_TOP + 10;

		appendStringInfo(&b, "<rect x=\"%d\" y=\"%d\" width=\"250\" height=\"20\" fill=\"#ffffff\" fill-opacity=\"0.85\"/>\n",
						 x - 4, y - 4);
		appendStringInfo(&b, "<rect x=\"%d\" y=\"%d\" width=\"14\" height=\"10\" fill=\"%s\" fill-opacity=\"0.15\"/>"
						 "<text x=\"%d\" y=\"%d\">5-95%%</text>\n", x, y + 1, PIC_BLUE, x + 18, y + 10);
		x += 70;
		appendStringInfo(&b, "<rect x=\"%d\" y=\"%d\" width=\"14\" height=\"10\" fill=\"%s\" fill-opacity=\"0.45\"/>"
						 "<text x=\"%d\" y=\"%d\">25-75%%</text>\n", x, y + 1, PIC_BLUE, x + 18, y + 10);
		x += 75;
		appendStringInfo(&b, "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"%s\" stroke-width=\"1.5\"/>"
						 "<text x=\"%d\" y=\"%d\">median</text>\n", x, y + 6, x + 14, y + 6, PIC_BLUE, x + 18, y + 10);
	}

	pic_end(&b, rule, lines, PIC_NOTE_TOP);
	MemoryContextSwitchTo(caller);
	result = cstring_to_text_with_len(b.data, b.len);
	MemoryContextDelete(work);
	PG_RETURN_TEXT_P(result);
}

/* The heatmap ------------------------------------------------------------------------------------- */

typedef struct HeatCell
{
	double		x;
	double		y;
	double		value;
	bool		feasible;		/* false: value null */
} HeatCell;

/* the cells qsort orders by index in cmp_cell_xy (qsort has no argument for them) */
static const HeatCell *heat_sort_cells;

/* cell indices by (x, y), then by index: a stable order */
static int
cmp_cell_xy(const void *a, const void *b)
{
	const HeatCell *p = &heat_sort_cells[*(const int *) a],
			   *q = &heat_sort_cells[*(const int *) b];

	if (p->x != q->x)
		return p->x < q->x ? -1 : 1;
	if (p->y != q->y)
		return p->y < q->y ? -1 : 1;
	return *(const int *) a - *(const int *) b;
}

/* the sorted distinct values of v[0..n-1] (sorts v); returns the count */
static int
distinct_sorted(double *v, int n)
{
	int			k = 0;

	qsort(v, n, sizeof(double), cmp_double);
	for (int i = 0; i < n; i++)
		if (k == 0 || v[i] != v[k - 1])
			v[k++] = v[i];
	return k;
}

static int
index_of(const double *v, int n, double x)
{
	int			lo = 0,
				hi = n - 1;

	while (lo < hi)
	{
		int			mid = (lo + hi) / 2;

		if (v[mid] < x)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/*
 * The colour of value v: red below 0, blue above, near-white at 0 (one scale for both sides, the larger
 * magnitude); one-sided when lo and hi have one sign. Returns the colour's strength, 0 to 1.
 */
static double
append_heat_colour(StringInfo b, double v, double lo, double hi)
{
	/* the ends: PIC_RED and PIC_BLUE; the middle: #f7f7f7 */
	static const double red[3] = {0xd9, 0x53, 0x4f},
				blue[3] = {0x1f, 0x6f, 0xb2},
				mid[3] = {0xf7, 0xf7, 0xf7};
	const double *end;
	double		t;
	int			rgb[3];

	if (lo >= 0)				/* all >= 0: white to blue over [lo, hi] */
	{
		end = blue;
		t = hi > lo ? (v - lo) / (hi - lo) : 1;
	}
	else if (hi <= 0)			/* all <= 0: red to white over [lo, hi] */
	{
		end = red;
		t = hi > lo ? (hi - v) / (hi - lo) : 1;
	}
	else						/* diverging around 0, one scale for both sides */
	{
		double		m = Max(-lo, hi);

		end = v < 0 ? red : blue;
		t = fabs(v) / m;
	}
	t = Max(0.0, Min(1.0, t));
	for (int k = 0; k < 3; k++)
		rgb[k] = (int) rint(mid[k] + (end[k] - mid[k]) * t);
	appendStringInfo(b, "#%02x%02x%02x", rgb[0], rgb[1], rgb[2]);
	return t;
}

/*
 * ex7._heatmap_svg(cells jsonb, x_name text, y_name text, title text, statement text) -> text: the
 * objective over two parameters. cells [{x, y, value}] (at most 10,000, no (x, y) twice) on the grid of
 * the distinct x (left to right) and y (bottom to top) values; value a number, or null for an
 * infeasible cell (grey, hatched). The colour scale is diverging around 0 when values of both signs
 * occur (red below, blue above), one-sided otherwise; the legend gives min and max; the best (highest)
 * cell is outlined. The statement is drawn under the grid.
 */
PG_FUNCTION_INFO_V1(_heatmap_svg);
Datum
_heatmap_svg(PG_FUNCTION_ARGS)
{
	Jsonb	   *jcells = PG_GETARG_JSONB_P(0);
	char	   *xname = text_to_cstring(PG_GETARG_TEXT_PP(1));
	char	   *yname = text_to_cstring(PG_GETARG_TEXT_PP(2));
	char	   *title = text_to_cstring(PG_GETARG_TEXT_PP(3));
	char	   *statement = text_to_cstring(PG_GETARG_TEXT_PP(4));
	char	   *rule;
	MemoryContext work,
				caller = CurrentMemoryContext;
	StringInfoData b;
	JsonbValue *elems;
	HeatCell   *cells;
	int			n,
				nx,
				ny,
				best = -1;
	double	   *xs,
			   *ys,
				lo = 0,
				hi = 0;
	int			plot_w = PIC_WIDTH - PIC_LEFT - PIC_RIGHT - HEAT_LEGEND_W;
	double		cw,
				ch;
	double	   *strength;
	List	   *lines;
	int			height,
				note_top;
	text	   *result;

	work = AllocSetContextCreate(CurrentMemoryContext, "heatmap_svg", ALLOCSET_DEFAULT_SIZES);
	MemoryContextSwitchTo(work);

	elems = json_elements(jcells, "cells", &n);
	if (n > HEAT_MAX_CELLS)
		ex7_invalid("[\"cells\"]", "cells must hold at most 10,000 cells", "value_error.list.max_items");
	cells = palloc(sizeof(HeatCell) * Max(n, 1));
	strength = palloc0(sizeof(double) * Max(n, 1));
	xs = palloc(sizeof(double) * Max(n, 1));
	ys = palloc(sizeof(double) * Max(n, 1));
	for (int i = 0; i < n; i++)
	{
		JsonbContainer *c = json_object_at(&elems[i], "cells", i);
		char	   *loc = psprintf("[\"cells\",%d]", i);

		if (!json_double(c, "x", &cells[i].x, loc))
			ex7_invalid(loc, "x is required", "value_error.missing");
		if (!json_double(c, "y", &cells[i].y, loc))
			ex7_invalid(loc, "y is required", "value_error.missing");
		cells[i].feasible = json_double(c, "value", &cells[i].value, loc);
		xs[i] = cells[i].x;
		ys[i] = cells[i].y;
		/* the best: the highest value, the first such cell on a tie */
		if (cells[i].feasible && (best < 0 || cells[i].value > cells[best].value))
			best = i;
	}
	/* min and max over the feasible cells */
	{
		bool		first = true;

		for (int i = 0; i < n; i++)
			if (cells[i].feasible)
			{
				lo = first ? cells[i].value : Min(lo, cells[i].value);
				hi = first ? cells[i].value : Max(hi, cells[i].value);
				first = false;
			}
	}
	nx = distinct_sorted(xs, n);
	ny = distinct_sorted(ys, n);
	/* no (x, y) twice: sorted by (x, y), twins are neighbours (no grid of nx x ny flags to allocate) */
	{
		int		   *order = palloc(sizeof(int) * Max(n, 1));

		for (int i = 0; i < n; i++)
			order[i] = i;
		heat_sort_cells = cells;
		qsort(order, n, sizeof(int), cmp_cell_xy);
		for (int i = 1; i < n; i++)
			if (cells[order[i]].x == cells[order[i - 1]].x && cells[order[i]].y == cells[order[i - 1]].y)
				ex7_invalid(psprintf("[\"cells\",%d]", Max(order[i], order[i - 1])), "two cells have the same x and y",
							"value_error.duplicate");
	}

	/* cells as wide as the plot allows, 24 to 60 units high, the grid at most 360 high */
	cw = nx > 0 ? (double) plot_w / nx : plot_w;
	ch = Min(360.0 / Max(ny, 1), Max(Min(cw, 60.0), 24.0));
	note_top = PIC_TOP + (int) ceil(ch * Max(ny, 1)) + 58;
	pic_split_statement(statement, &rule, &lines);
	height = pic_height(lines, note_top);

	initStringInfo(&b);
	pic_begin(&b, height, title);
	appendStringInfo(&b, "<defs><pattern id=\"infeasible\" width=\"6\" height=\"6\" patternUnits=\"userSpaceOnUse\" "
					 "patternTransform=\"rotate(45)\"><rect width=\"6\" height=\"6\" fill=\"#dddddd\"/>"
					 "<line x1=\"0\" y1=\"0\" x2=\"0\" y2=\"6\" stroke=\"#aaaaaa\" stroke-width=\"2\"/></pattern></defs>\n");
	pic_axis_titles(&b, yname, xname, PIC_TOP, (int) (ch * Max(ny, 1)), plot_w,
					PIC_TOP + (int) ceil(ch * Max(ny, 1)) + 38);

	if (n == 0)
		appendStringInfo(&b, "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\" fill=\"#666666\">no cells</text>\n",
						 PIC_LEFT + plot_w / 2, PIC_TOP + 180);
	else
	{
		double		gh = ch * ny;
		int			xevery = Max(1, (int) ceil(nx / (plot_w / 60.0))),
					yevery = Max(1, (int) ceil(ny / (gh / 16.0)));
		bool		show_values = cw >= 44 && ch >= 18;

		/* the grid: infeasible where no cell was given as well */
		appendStringInfo(&b, "<rect class=\"grid\" x=\"%d\" y=\"%d\" width=\"%d\" height=\"%.1f\" "
						 "fill=\"url(#infeasible)\"/>\n", PIC_LEFT, PIC_TOP, plot_w, gh);
		for (int i = 0; i < n; i++)
		{
			int			ix = index_of(xs, nx, cells[i].x),
						iy = index_of(ys, ny, cells[i].y);
			double		x = PIC_LEFT + ix * cw,
						y = PIC_TOP + (ny - 1 - iy) * ch;

			/* crisp edges: no anti-aliased seam between neighbouring cells */
			appendStringInfo(&b, "<rect class=\"%s\" x=\"%.2f\" y=\"%.2f\" width=\"%.2f\" height=\"%.2f\" "
							 "shape-rendering=\"crispEdges\" fill=\"",
							 cells[i].feasible ? "cell" : "cell infeasible", x, y, cw, ch);
			if (cells[i].feasible)
				strength[i] = append_heat_colour(&b, cells[i].value, lo, hi);
			else
				appendStringInfoString(&b, "url(#infeasible)");
			appendStringInfoString(&b, "\">");
			/* the exact value on hover */
			appendStringInfoString(&b, "<title>");
			ex7_svg_text(&b, xname);
			appendStringInfoString(&b, " = ");
			append_label_number(&b, cells[i].x);
			appendStringInfoString(&b, ", ");
			ex7_svg_text(&b, yname);
			appendStringInfoString(&b, " = ");
			append_label_number(&b, cells[i].y);
			appendStringInfoString(&b, ": ");
			if (cells[i].feasible)
				append_label_number(&b, cells[i].value);
			else
				appendStringInfoString(&b, "infeasible");
			appendStringInfoString(&b, "</title></rect>\n");
			if (show_values && cells[i].feasible)
			{
				/* white on the strong colours, dark on the pale ones */
				appendStringInfo(&b, "<text class=\"cell-value\" x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\" "
								 "font-size=\"10\" fill=\"%s\">", x + cw / 2, y + ch / 2 + 3.5,
								 strength[i] > 0.6 ? "#ffffff" : "#222222");
				append_label_number(&b, rint(cells[i].value * 100) / 100);
				appendStringInfoString(&b, "</text>\n");
			}
		}
		appendStringInfo(&b, "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%.1f\" fill=\"none\" stroke=\"#999999\"/>\n",
						 PIC_LEFT, PIC_TOP, plot_w, gh);
		if (best >= 0)
			appendStringInfo(&b, "<rect class=\"best\" x=\"%.2f\" y=\"%.2f\" width=\"%.2f\" height=\"%.2f\" "
							 "fill=\"none\" stroke=\"#000000\" stroke-width=\"2.5\"/>\n",
							 PIC_LEFT + index_of(xs, nx, cells[best].x) * cw + 1.25,
							 PIC_TOP + (ny - 1 - index_of(ys, ny, cells[best].y)) * ch + 1.25,
							 Max(cw - 2.5, 0.5), Max(ch - 2.5, 0.5));
		/* tick labels: the parameter values, thinned to fit */
		for (int i = 0; i < nx; i += xevery)
		{
			appendStringInfo(&b, "<text class=\"x-label\" x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">",
							 PIC_LEFT + (i + 0.5) * cw, PIC_TOP + gh + 16);
			append_label_number(&b, xs[i]);
			appendStringInfoString(&b, "</text>\n");
		}
		for (int i = 0; i < ny; i += yevery)
		{
			appendStringInfo(&b, "<text class=\"y-label\" x=\"%d\" y=\"%.1f\" text-anchor=\"end\">",
							 PIC_LEFT - 6, PIC_TOP + (ny - 1 - i + 0.5) * ch + 4);
			append_label_number(&b, ys[i]);
			appendStringInfoString(&b, "</text>\n");
		}

		/* the legend: the colour scale from max (top) to min (bottom), then the infeasible swatch */
		{
			int			lx = PIC_LEFT + plot_w + 30,
						ltop = PIC_TOP,
						lh = (int) Min(gh, 200.0);
			bool		any = best >= 0;

			if (any)
			{
				appendStringInfoString(&b, "<defs><linearGradient id=\"scale\" x1=\"0\" y1=\"0\" x2=\"0\" y2=\"1\">");
				for (int k = 0; k <= 10; k++)
				{
					appendStringInfo(&b, "<stop offset=\"%.1f\" stop-color=\"", k / 10.0);
					(void) append_heat_colour(&b, hi - (hi - lo) * k / 10.0, lo, hi);
					appendStringInfoString(&b, "\"/>");
				}
				appendStringInfoString(&b, "</linearGradient></defs>\n");
				appendStringInfo(&b, "<rect class=\"legend\" x=\"%d\" y=\"%d\" width=\"16\" height=\"%d\" "
								 "fill=\"url(#scale)\" stroke=\"#999999\"/>\n", lx, ltop, lh);
				appendStringInfo(&b, "<text class=\"legend-max\" x=\"%d\" y=\"%d\">max ", lx + 22, ltop + 9);
				append_label_number(&b, hi);
				appendStringInfoString(&b, "</text>\n");
				appendStringInfo(&b, "<text class=\"legend-min\" x=\"%d\" y=\"%d\">min ", lx + 22, ltop + lh);
				append_label_number(&b, lo);
				appendStringInfoString(&b, "</text>\n");
				if (lo < 0 && hi > 0)
				{
					double		y0 = ltop + hi / (hi - lo) * lh;

					appendStringInfo(&b, "<line x1=\"%d\" y1=\"%.1f\" x2=\"%d\" y2=\"%.1f\" stroke=\"#666666\"/>"
									 "<text class=\"legend-zero\" x=\"%d\" y=\"%.1f\">0</text>\n",
									 lx - 3, y0, lx + 19, y0, lx + 22, y0 + 4);
				}
				appendStringInfo(&b, "<rect x=\"%d\" y=\"%d\" width=\"16\" height=\"12\" fill=\"none\" "
								 "stroke=\"#000000\" stroke-width=\"2\"/><text x=\"%d\" y=\"%d\">best</text>\n",
								 lx, ltop + lh + 14, lx + 22, ltop + lh + 24);
			}
			appendStringInfo(&b, "<rect x=\"%d\" y=\"%d\" width=\"16\" height=\"12\" fill=\"url(#infeasible)\" "
							 "stroke=\"#999999\"/><text x=\"%d\" y=\"%d\">infeasible</text>\n",
							 lx, ltop + lh + 32, lx + 22, ltop + lh + 42);
		}
	}

	pic_end(&b, rule, lines, note_top);
	MemoryContextSwitchTo(caller);
	result = cstring_to_text_with_len(b.data, b.len);
	MemoryContextDelete(work);
	PG_RETURN_TEXT_P(result);
}

/* The walk-forward equity curve ------------------------------------------------------------------ */

typedef struct CurvePoint
{
	TimestampTz ts;
	double		equity;
} CurvePoint;

/*
 * ex7._walk_forward_svg(equity jsonb, boundaries jsonb, title text, statement text) -> text: the
 * out-of-sample equity curve [{ts, equity}] (time order; equity a number or a decimal string) with the
 * window boundaries (at most 1,000 timestamps in increasing order, each the start of a window) as vertical
 * dashed lines labelled with the window they open, W1, W2, ... Curves with more than two points per horizontal unit are
 * reduced to each unit's first, lowest, highest and last point (the picture does not change).
 */
PG_FUNCTION_INFO_V1(_walk_forward_svg);
Datum
_walk_forward_svg(PG_FUNCTION_ARGS)
{
	Jsonb	   *jeq = PG_GETARG_JSONB_P(0);
	Jsonb	   *jbound = PG_GETARG_JSONB_P(1);
	char	   *title = text_to_cstring(PG_GETARG_TEXT_PP(2));
	char	   *statement = text_to_cstring(PG_GETARG_TEXT_PP(3));
	char	   *rule;
	MemoryContext work,
				caller = CurrentMemoryContext;
	StringInfoData b;
	JsonbValue *elems;
	CurvePoint *p;
	TimestampTz *bounds;
	int			np,
				nb;
	double		lo = 0,
				hi = 0;
	int			plot_w = PIC_WIDTH - PIC_LEFT - PIC_RIGHT;
	List	   *lines;
	int			height;
	text	   *result;

	work = AllocSetContextCreate(CurrentMemoryContext, "walk_forward_svg", ALLOCSET_DEFAULT_SIZES);
	MemoryContextSwitchTo(work);

	elems = json_elements(jeq, "equity", &np);
	p = palloc(sizeof(CurvePoint) * Max(np, 1));
	for (int i = 0; i < np; i++)
	{
		JsonbContainer *c = json_object_at(&elems[i], "equity", i);
		char	   *loc = psprintf("[\"equity\",%d]", i);
		JsonbValue	v;

		if (getKeyJsonValueFromContainer(c, "ts", 2, &v) == NULL)
			ex7_invalid(loc, "ts is required", "value_error.missing");
		p[i].ts = json_ts(&v, loc, "ts");
		if (!json_double(c, "equity", &p[i].equity, loc))
			ex7_invalid(loc, "equity is required", "value_error.missing");
		if (i > 0 && p[i].ts < p[i - 1].ts)
			ex7_invalid(loc, "the equity curve must be in time order", "value_error.order");
		lo = i == 0 ? p[i].equity : Min(lo, p[i].equity);
		hi = i == 0 ? p[i].equity : Max(hi, p[i].equity);
	}
	elems = json_elements(jbound, "boundaries", &nb);
	if (nb > CURVE_MAX_BOUNDARIES)
		ex7_invalid("[\"boundaries\"]", "boundaries must hold at most 1,000 timestamps", "value_error.list.max_items");
	bounds = palloc(sizeof(TimestampTz) * Max(nb, 1));
	for (int i = 0; i < nb; i++)
	{
		bounds[i] = json_ts(&elems[i], psprintf("[\"boundaries\",%d]", i), "a boundary");
		if (i > 0 && bounds[i] <= bounds[i - 1])
			ex7_invalid(psprintf("[\"boundaries\",%d]", i), "the boundaries must be in increasing time order",
						"value_error.order");
	}

	pic_split_statement(statement, &rule, &lines);
	height = pic_height(lines, PIC_NOTE_TOP);
	initStringInfo(&b);
	pic_begin(&b, height, title);
	appendStringInfo(&b, "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" fill=\"none\" stroke=\"#999999\"/>\n",
					 PIC_LEFT, PIC_TOP, plot_w, PIC_HEIGHT);
	pic_axis_titles(&b, "Equity (out of sample)", "Date (UTC)", PIC_TOP, PIC_HEIGHT, plot_w, PIC_XLABEL_Y + 20);

	if (np == 0)
		appendStringInfo(&b, "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\" fill=\"#666666\">no equity data</text>\n",
						 PIC_LEFT + plot_w / 2, PIC_TOP + PIC_HEIGHT / 2);
	else
	{
		TimestampTz t0 = p[0].ts,
					t1 = p[np - 1].ts;
		double		span = (double) (t1 - t0);
		/* as ex7._equity_svg: the time of day only when five ticks fall within ten days */
		bool		with_time = (t1 - t0) < 10 * USECS_PER_DAY &&
			(t0 % USECS_PER_DAY != 0 || (t1 - t0) % ((PIC_XTICKS - 1) * USECS_PER_DAY) != 0);

#define WX(ts) (span > 0 ? PIC_LEFT + (double) ((ts) - t0) / span * plot_w : PIC_LEFT + plot_w / 2.0)
#define WY(v) (PIC_TOP + PIC_HEIGHT - ((v) - lo) / (hi - lo) * PIC_HEIGHT)

		pic_value_axis(&b, &lo, &hi, PIC_TOP, PIC_HEIGHT, plot_w);
		for (int k = 0; k < PIC_XTICKS; k++)
		{
			TimestampTz ts = span > 0 ? t0 + (TimestampTz) ((double) (t1 - t0) * k / (PIC_XTICKS - 1)) : t0;
			double		x = WX(ts);

			if (span <= 0 && k > 0)
				break;
			appendStringInfo(&b, "<line x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%d\" stroke=\"#e5e5e5\"/>\n",
							 x, PIC_TOP, x, PIC_TOP + PIC_HEIGHT);
			appendStringInfo(&b, "<text class=\"x-label\" x=\"%.1f\" y=\"%d\" text-anchor=\"%s\">", x, PIC_XLABEL_Y,
							 span <= 0 ? "middle" : k == 0 ? "start" : k == PIC_XTICKS - 1 ? "end" : "middle");
			ex7_svg_date_label(&b, ts, with_time);
			appendStringInfoString(&b, "</text>\n");
		}

		/*
		 * the window boundaries inside the curve's span, each labelled with the window it opens: windows are
		 * numbered from 1 in time order, and when the first boundary comes after the curve's start, the
		 * part before it is window 1 (labelled at the left edge) and the boundaries open windows 2, 3, ...
		 */
		{
			int			first = (nb > 0 && bounds[0] > t0) ? 2 : 1;

			if (first == 2)
				appendStringInfo(&b, "<text class=\"window\" x=\"%d\" y=\"%d\" fill=\"#666666\">W1</text>\n",
								 PIC_LEFT + 3, PIC_TOP + 12);
			for (int i = 0; i < nb; i++)
			{
				double		x;

				if (bounds[i] < t0 || bounds[i] > t1)
					continue;
				x = WX(bounds[i]);
				if (bounds[i] > t0)
					appendStringInfo(&b, "<line class=\"boundary\" x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%d\" "
									 "stroke=\"#888888\" stroke-dasharray=\"4,3\"/>\n",
									 x, PIC_TOP, x, PIC_TOP + PIC_HEIGHT);
				appendStringInfo(&b, "<text class=\"window\" x=\"%.1f\" y=\"%d\" fill=\"#666666\">W%d</text>\n",
								 x + 3, PIC_TOP + 12, i + first);
			}
		}

		/* the curve, reduced per horizontal unit when it is denser than two points a unit */
		appendStringInfo(&b, "<polyline class=\"equity\" fill=\"none\" stroke=\"%s\" stroke-width=\"1.5\" points=\"",
						 PIC_BLUE);
		if (np <= 2 * plot_w)
		{
			for (int i = 0; i < np; i++)
				appendStringInfo(&b, "%s%.1f,%.1f", i ? " " : "", WX(p[i].ts), WY(p[i].equity));
			if (np == 1)
				appendStringInfo(&b, " %.1f,%.1f", WX(t0) + 1, WY(p[0].equity));
		}
		else
		{
			int			i = 0;
			bool		first = true;

			while (i < np)
			{
				int			unit = (int) floor(WX(p[i].ts) - PIC_LEFT),
							j = i,
							jmin = i,
							jmax = i;
				int			pick[4];

				while (j < np && (int) floor(WX(p[j].ts) - PIC_LEFT) == unit)
				{
					if (p[j].equity < p[jmin].equity)
						jmin = j;
					if (p[j].equity > p[jmax].equity)
						jmax = j;
					j++;
				}
				/* first, lowest and highest in time order, last */
				pick[0] = i;
				pick[1] = Min(jmin, jmax);
				pick[2] = Max(jmin, jmax);
				pick[3] = j - 1;
				for (int k = 0; k < 4; k++)
				{
					if (k > 0 && pick[k] == pick[k - 1])
						continue;
					appendStringInfo(&b, "%s%.1f,%.1f", first ? "" : " ", WX(p[pick[k]].ts), WY(p[pick[k]].equity));
					first = false;
				}
				i = j;
			}
		}
		appendStringInfoString(&b, "\"/>\n");
#undef WX
#undef WY
	}

	pic_end(&b, rule, lines, PIC_NOTE_TOP);
	MemoryContextSwitchTo(caller);
	result = cstring_to_text_with_len(b.data, b.len);
	MemoryContextDelete(work);
	PG_RETURN_TEXT_P(result);
}
