/*-------------------------------------------------------------------------
 *
 * risk.c
 *	  The decision of the risk gate: given a user's limits and state for one mode, which breaker
 *	  trips.
 *
 * The gate (ex7-api-reference.txt, Get Risk and Get Blocked; IRON LAW §4) refuses a would-be
 * signal when one of four breakers trips. They are checked in a fixed order and the first that
 * trips is the one reported, so a refusal names one cause:
 *	  1. daily_loss_limit        realized P&L today <= -daily_loss_limit
 *	  2. max_trades_per_day      signals fired today >= max_trades_per_day
 *	  3. max_open_positions      open signals >= max_open_positions
 *	  4. max_consecutive_losses  trailing run of losing closes today >= max_consecutive_losses
 * Each compares with "or equal": a limit of 6 trades allows trades 1..6 and refuses the 7th, whose
 * state shows 6 trades (the contract's example, observed '6', limit '6'); a loss of exactly 500.00
 * against a limit of 500.00 refuses (observed '-500.00', limit '-500.00').
 *
 * The observed value and the limit are strings the way the contract shows them: money with at
 * least two decimals ('-500.00'), counts as integers ('6'). The daily loss limit is reported
 * negated, on the same scale as the realized P&L it is compared with.
 *
 * The gate fails closed: a NULL, NaN or infinite input is an error here, never a pass, and the SQL
 * wrapper (ex7._risk_check in ext/sql/50_risk.sql) turns any error into a refusal.
 *
 *-------------------------------------------------------------------------
 */
#include "ex7.h"

#include "fmgr.h"
#include "lib/stringinfo.h"
#include "utils/builtins.h"
#include "utils/json.h"
#include "utils/jsonb.h"
#include "utils/numeric.h"

/* argument positions of ex7.risk_decide */
#define ARG_DAILY_LOSS_LIMIT		0
#define ARG_MAX_TRADES_PER_DAY		1
#define ARG_MAX_OPEN_POSITIONS		2
#define ARG_MAX_CONSECUTIVE_LOSSES	3
#define ARG_REALIZED_PNL			4
#define ARG_TRADES_TODAY			5
#define ARG_OPEN_POSITIONS			6
#define ARG_CONSECUTIVE_LOSSES		7
#define RISK_NARGS					8

static const char *const arg_names[RISK_NARGS] = {
	"daily_loss_limit", "max_trades_per_day", "max_open_positions", "max_consecutive_losses",
	"realized_pnl", "trades_today", "open_positions", "consecutive_losses",
};

/*
 * ex7_money_text: returns a palloc'd decimal string of n with at least two decimals ("-500.00",
 * "12.5" -> "12.50"); more decimals are kept as they are, so no value is rounded away. The rule of
 * ex7._money_text (ext/sql/50_risk.sql), for the C code that renders money (ext/protect.c too).
 */
char *
ex7_money_text(Numeric n)
{
	char	   *s = DatumGetCString(DirectFunctionCall1(numeric_out, NumericGetDatum(n)));
	char	   *dot = strchr(s, '.');
	size_t		decimals = dot ? strlen(dot + 1) : 0;

	if (decimals >= 2)
		return s;
	return psprintf("%s%s%s", s, dot ? "" : ".", decimals == 1 ? "0" : "00");
}

/*
 * finite_numeric_arg: returns argument i as a Numeric; raises an error when it is NaN or infinite.
 */
static Numeric
finite_numeric_arg(FunctionCallInfo fcinfo, int i)
{
	Numeric		n = PG_GETARG_NUMERIC(i);

	if (numeric_is_nan(n) || numeric_is_inf(n))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("risk input %s must be a finite number", arg_names[i])));
	return n;
}

/*
 * count_arg: returns argument i (a bigint count or an integer limit widened to bigint); raises an
 * error when it is negative.
 */
static int64
count_arg(FunctionCallInfo fcinfo, int i, bool is_int4)
{
	int64		v = is_int4 ? (int64) PG_GETARG_INT32(i) : PG_GETARG_INT64(i);

	if (v < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("risk input %s must not be negative", arg_names[i])));
	return v;
}

/*
 * breaker_json: returns the jsonb {"breaker", "reason", "observed", "limit"} of a tripped breaker.
 * The reason is the machine-readable tag <breaker>_breached (the contract's
 * 'daily_loss_limit_breached').
 */
static Datum
breaker_json(const char *breaker, const char *observed, const char *limit)
{
	StringInfoData buf;

	initStringInfo(&buf);
	appendStringInfoString(&buf, "{\"breaker\": ");
	escape_json(&buf, breaker);
	appendStringInfoString(&buf, ", \"reason\": ");
	escape_json(&buf, psprintf("%s_breached", breaker));
	appendStringInfoString(&buf, ", \"observed\": ");
	escape_json(&buf, observed);
	appendStringInfoString(&buf, ", \"limit\": ");
	escape_json(&buf, limit);
	appendStringInfoChar(&buf, '}');
	return DirectFunctionCall1(jsonb_in, CStringGetDatum(buf.data));
}

/*
 * ex7.risk_decide(daily_loss_limit numeric, max_trades_per_day int, max_open_positions int,
 *                 max_consecutive_losses int, realized_pnl numeric, trades_today bigint,
 *                 open_positions bigint, consecutive_losses bigint) -> jsonb
 *
 * Returns the blocked_reason of the first breaker that trips, or NULL when trading is allowed. Not
 * STRICT on purpose: a NULL input must not read as "allowed", it raises an error.
 */
PG_FUNCTION_INFO_V1(risk_decide);
Datum
risk_decide(PG_FUNCTION_ARGS)
{
	Numeric		loss_limit;
	Numeric		realized;
	Numeric		neg_limit;
	int64		max_trades;
	int64		max_open;
	int64		max_consec;
	int64		trades;
	int64		open;
	int64		consec;
	int			i;

	for (i = 0; i < RISK_NARGS; i++)
		if (PG_ARGISNULL(i))
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("risk input %s must not be null", arg_names[i])));

	loss_limit = finite_numeric_arg(fcinfo, ARG_DAILY_LOSS_LIMIT);
	max_trades = count_arg(fcinfo, ARG_MAX_TRADES_PER_DAY, true);
	max_open = count_arg(fcinfo, ARG_MAX_OPEN_POSITIONS, true);
	max_consec = count_arg(fcinfo, ARG_MAX_CONSECUTIVE_LOSSES, true);
	realized = finite_numeric_arg(fcinfo, ARG_REALIZED_PNL);
	trades = count_arg(fcinfo, ARG_TRADES_TODAY, false);
	open = count_arg(fcinfo, ARG_OPEN_POSITIONS, false);
	consec = count_arg(fcinfo, ARG_CONSECUTIVE_LOSSES, false);

	neg_limit = DatumGetNumeric(DirectFunctionCall1(numeric_uminus, NumericGetDatum(loss_limit)));

	if (DatumGetBool(DirectFunctionCall2(numeric_le, NumericGetDatum(realized),
										 NumericGetDatum(neg_limit))))
		PG_RETURN_DATUM(breaker_json("daily_loss_limit", ex7_money_text(realized),
									 ex7_money_text(neg_limit)));
	if (trades >= max_trades)
		PG_RETURN_DATUM(breaker_json("max_trades_per_day", psprintf(INT64_FORMAT, trades),
									 psprintf(INT64_FORMAT, max_trades)));
	if (open >= max_open)
		PG_RETURN_DATUM(breaker_json("max_open_positions", psprintf(INT64_FORMAT, open),
									 psprintf(INT64_FORMAT, max_open)));
	if (consec >= max_consec)
		PG_RETURN_DATUM(breaker_json("max_consecutive_losses", psprintf(INT64_FORMAT, consec),
									 psprintf(INT64_FORMAT, max_consec)));
	PG_RETURN_NULL();
}
