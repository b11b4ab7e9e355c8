/*-------------------------------------------------------------------------
 *
 * pnl.c
 *	  ex7.compute_pnl, the one and only P&L formula, and the backend-local cache of ex7.instruments
 *	  it reads.
 *
 * Contract (ex7-api-reference.txt, "Close Signal"): "compute_pnl(instrument, side, size, entry_price,
 * close_price) -- this is the one-and-only P&L formula (2-tick slippage 2-sided, per-instrument
 * commission, all Decimal, no float drift)". With dir = +1 for long and -1 for short:
 *
 *	  points         = (close_price - entry_price) * dir
 *	  ticks          = points / tick_size           an integer: both prices must lie on the tick grid
 *	  gross_pnl      = ticks * tick_value * size
 *	  slippage_ticks = 2.0                          per side, as signals.slippage_ticks stores it
 *	  slippage_cost  = (2 + 2) * tick_value * size  2 ticks against the trader on entry and on exit
 *	  commission     = commission_per_side * 2 * size
 *	  net_pnl        = gross_pnl - slippage_cost - commission
 *
 * Every value is a PostgreSQL numeric computed with numeric's exact addition, subtraction,
 * multiplication, remainder and truncating division: no double anywhere, so no float drift. Scales
 * are fixed by the instrument, not by how the caller spelled the prices: ticks has scale 0, points
 * the scale of tick_size, money the scale of tick_value / commission_per_side but at least 2 (cents).
 * docs/pnl.md has a worked example, the bounds and the errors.
 *
 * The instruments cache. A call must not run a query (bench/bench_pnl.sh holds it to 4x a PL/pgSQL
 * version that does), so each backend keeps ex7.instruments in a hash table filled by one SPI read,
 * with the per-contract costs derived once and the size-dependent numbers of sizes 1..100 computed
 * on first use, and drops it whenever the relcache entry of ex7.instruments is invalidated. Plain DML does not
 * invalidate a relcache entry, so a statement trigger on ex7.instruments (ext/sql/40_pnl.sql) does it
 * explicitly. The invalidation travels like a catalog change: our own backend sees it at the next
 * command, a rollback replays it, other backends receive it at commit. Because an invalidation can
 * be processed mid-transaction, the table is read with a fresh MVCC snapshot (the catalog snapshot),
 * not the transaction snapshot: a cache reloaded under an old repeatable-read snapshot would keep
 * pre-commit values after the invalidation that should have dropped them was already consumed.
 *
 *-------------------------------------------------------------------------
 */
#include "ex7.h"
#include "pnl.h"

#include "access/htup_details.h"
#include "catalog/namespace.h"
#include "commands/trigger.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/hsearch.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/numeric.h"
#include "utils/snapmgr.h"

/* symbols match ^[A-Z0-9]{1,12}$ (CHECK on ex7.instruments.symbol); the key adds the NUL */
#define PNL_SYMBOL_MAXLEN		12
#define PNL_SYMBOL_KEYLEN		(PNL_SYMBOL_MAXLEN + 1)

/* contract, "Close Signal": "2-tick slippage 2-sided" */
#define PNL_SLIPPAGE_TICKS_PER_SIDE 2
/* a round trip pays commission and slippage on two sides: entry and exit */
#define PNL_SIDES				2

/*
 * Bounds (docs/pnl.md), ex7's own choice: prices and money results must fit numeric(18,2), that is
 * |x| < 10^16, and size is capped so that costs stay bounded too. 100,000 contracts is orders of
 * magnitude above the sizes this platform's signals carry; more is taken for a typo.
 */
#define PNL_MAX_ABS				INT64CONST(10000000000000000)
#define PNL_MAX_ABS_TEXT		"10^16"
#define PNL_MAX_SIZE			100000

/* money results keep at least cents, like the "12.50" strings of the contract's JSON */
#define PNL_MONEY_MIN_SCALE		2

#define PNL_LOC_ENTRY			"[\"body\",\"entry_price\"]"
#define PNL_LOC_CLOSE			"[\"body\",\"close_price\"]"

/* the size-dependent numbers of sizes 1..100 are cached per instrument: nearly every order is there */
#define PNL_CACHED_SIZES		100

/* the result columns of ex7.compute_pnl, in declaration order */
#define PNL_NCOLUMNS			7

#define PNL_QUERY \
	"SELECT symbol, tick_size, tick_value, commission_per_side FROM ex7.instruments"

/* the numbers of an instrument that depend on the size only */
typedef struct PnlSized
{
	Numeric		tick_value;		/* tick_value * size */
	Numeric		slippage;		/* (2 + 2) * tick_value * size */
	Numeric		commission;		/* commission_per_side * 2 * size */
	Numeric		costs;			/* slippage + commission */
} PnlSized;

typedef struct PnlInstrument
{
	char		symbol[PNL_SYMBOL_KEYLEN];	/* hash key */
	const char *problem;		/* why the row cannot be used (refused on use), or NULL */
	Numeric		tick_size;
	Numeric		tick_value;		/* scale >= PNL_MONEY_MIN_SCALE */
	Numeric		slippage_per_contract;	/* (2 + 2) * tick_value */
	Numeric		commission_per_contract;	/* commission_per_side * 2 */
	char	   *tick_size_text;
	PnlSized   *sized;			/* [PNL_CACHED_SIZES + 1], filled on first use, or NULL */
} PnlInstrument;

/* the cache: valid until a relcache invalidation of ex7.instruments (or of everything) arrives */
static MemoryContext pnl_cxt = NULL;
static HTAB *pnl_instruments = NULL;
static Oid	pnl_instruments_relid = InvalidOid;
static bool pnl_valid = false;
static uint64 pnl_generation = 0;

/* constants built once per backend in TopMemoryContext */
static Numeric pnl_zero = NULL;
static Numeric pnl_max_abs = NULL;
static Numeric pnl_min_abs = NULL;
static Numeric pnl_slippage_ticks = NULL;

/* PostgreSQL 15's fmgr.h does not declare it (16 does) */
extern PGDLLEXPORT void _PG_init(void);

/*
 * pnl_relcache_callback: returns nothing. Marks the cache stale when ex7.instruments, or every
 * relation (InvalidOid, after a shared invalidation queue overflow), is invalidated. It only flips
 * flags: it can run inside any lock acquisition, so freeing memory a caller holds is left to the
 * next lookup.
 */
static void
pnl_relcache_callback(Datum arg, Oid relid)
{
	if (relid == InvalidOid || relid == pnl_instruments_relid || pnl_instruments_relid == InvalidOid)
	{
		pnl_valid = false;
		pnl_generation++;
	}
}

/*
 * _PG_init: returns nothing. Runs once when a backend loads ex7.so. Other modules of ex7 that need
 * load-time setup add a call here (there is one _PG_init per library).
 */
void
_PG_init(void)
{
	CacheRegisterRelcacheCallback(pnl_relcache_callback, (Datum) 0);
}

/*
 * cmp: returns <0, 0, >0 as a is less than, equal to or greater than b (numeric order).
 */
static inline int
cmp(Numeric a, Numeric b)
{
	return DatumGetInt32(DirectFunctionCall2(numeric_cmp, NumericGetDatum(a), NumericGetDatum(b)));
}

static inline Numeric
sub(Numeric a, Numeric b)
{
	return numeric_sub_opt_error(a, b, NULL);
}

static inline Numeric
mul(Numeric a, Numeric b)
{
	return numeric_mul_opt_error(a, b, NULL);
}

/*
 * in_bounds: returns true when |n| < 10^16 (PNL_MAX_ABS).
 */
static inline bool
in_bounds(Numeric n)
{
	return cmp(n, pnl_max_abs) < 0 && cmp(n, pnl_min_abs) > 0;
}

static char *
numeric_text(Numeric n)
{
	return DatumGetCString(DirectFunctionCall1(numeric_out, NumericGetDatum(n)));
}

/*
 * pnl_constants: returns nothing; builds the numeric constants on first use in this backend.
 */
static void
pnl_constants(void)
{
	MemoryContext oldcxt;

	if (pnl_zero != NULL)
		return;
	oldcxt = MemoryContextSwitchTo(TopMemoryContext);
	pnl_max_abs = int64_to_numeric(PNL_MAX_ABS);
	pnl_min_abs = int64_to_numeric(-PNL_MAX_ABS);
	/* 2.0: the contract's "slippage_ticks=2.0" */
	pnl_slippage_ticks = int64_div_fast_to_numeric(PNL_SLIPPAGE_TICKS_PER_SIDE * 10, 1);
	pnl_zero = int64_to_numeric(0);
	MemoryContextSwitchTo(oldcxt);
}

/*
 * money_scale: returns n, or n padded with zeros to PNL_MONEY_MIN_SCALE decimals when it has fewer
 * (exact: rounding to more decimals than a number has only appends zeros).
 */
static Numeric
money_scale(Numeric n)
{
	int32		scale = DatumGetInt32(DirectFunctionCall1(numeric_scale, NumericGetDatum(n)));

	if (scale >= PNL_MONEY_MIN_SCALE)
		return n;
	return DatumGetNumeric(DirectFunctionCall2(numeric_round, NumericGetDatum(n),
											   Int32GetDatum(PNL_MONEY_MIN_SCALE)));
}

/*
 * spec: returns column col of the current SPI row as a plain (4-byte header) numeric copy in the
 * current memory context, so that lookups never detoast it again.
 */
static Numeric
spec(HeapTuple tuple, TupleDesc desc, int col)
{
	bool		isnull;
	Datum		d = SPI_getbinval(tuple, desc, col, &isnull);

	if (isnull)
		elog(ERROR, "ex7.instruments column %d is null", col);
	return DatumGetNumericCopy(d);
}

/*
 * is_finite: returns true when n is neither NaN nor an infinity.
 */
static inline bool
is_finite(Numeric n)
{
	return !numeric_is_nan(n) && !numeric_is_inf(n);
}

/*
 * instrument_prepare: returns nothing; derives the per-contract costs of the cached instrument and
 * records in in->problem why it cannot be used, if it cannot. The table's CHECKs admit NaN and
 * Infinity (they sort above every number). compute_pnl bounds gross_pnl and net_pnl with two
 * comparisons because 0 <= slippage_cost + commission < 10^16 for every size up to the cap: that is
 * verified here, once, rather than on every call.
 */
static void
instrument_prepare(PnlInstrument *in, Numeric commission_per_side)
{
	Numeric		max_size = int64_to_numeric(PNL_MAX_SIZE);

	in->tick_size_text = numeric_text(in->tick_size);
	in->sized = NULL;
	in->problem = NULL;
	if (!is_finite(in->tick_size) || !is_finite(in->tick_value) || !is_finite(commission_per_side))
	{
		in->problem = "has a non-finite tick_size, tick_value or commission_per_side";
		return;
	}
	if (cmp(in->tick_size, pnl_zero) <= 0 || cmp(in->tick_value, pnl_zero) <= 0 ||
		cmp(commission_per_side, pnl_zero) < 0)
	{
		in->problem = "has a tick_size or tick_value that is not positive, or a negative commission";
		return;
	}
	in->tick_value = money_scale(in->tick_value);
	in->slippage_per_contract =
		mul(int64_to_numeric(PNL_SIDES * PNL_SLIPPAGE_TICKS_PER_SIDE), in->tick_value);
	in->commission_per_contract = mul(money_scale(commission_per_side), int64_to_numeric(PNL_SIDES));
	if (cmp(mul(numeric_add_opt_error(in->slippage_per_contract, in->commission_per_contract, NULL),
				max_size),
			pnl_max_abs) >= 0)
		in->problem = "has costs out of range: slippage and commission of 100000 contracts "
			"must stay under " PNL_MAX_ABS_TEXT;
}

/*
 * pnl_load: returns nothing; fills the cache from ex7.instruments with one query. An invalidation
 * processed while the query runs (its lock acquisitions accept invalidation messages) bumps the
 * generation and the load starts over, so a cache marked valid is never older than the last
 * invalidation this backend has seen.
 */
static void
pnl_load(void)
{
	Oid			nsp = get_namespace_oid("ex7", false);

	pnl_constants();
	for (;;)
	{
		uint64		generation = pnl_generation;
		HASHCTL		ctl;
		SPIPlanPtr	plan;
		uint64		i;

		CHECK_FOR_INTERRUPTS();
		pnl_instruments_relid = get_relname_relid("instruments", nsp);
		if (!OidIsValid(pnl_instruments_relid))
			elog(ERROR, "relation ex7.instruments does not exist");

		if (pnl_cxt == NULL)
			pnl_cxt = AllocSetContextCreate(CacheMemoryContext, "ex7 compute_pnl instruments",
											ALLOCSET_SMALL_SIZES);
		else
			MemoryContextReset(pnl_cxt);
		memset(&ctl, 0, sizeof(ctl));
		ctl.keysize = PNL_SYMBOL_KEYLEN;
		ctl.entrysize = sizeof(PnlInstrument);
		ctl.hcxt = pnl_cxt;
		pnl_instruments = hash_create("ex7 compute_pnl instruments", 32, &ctl,
									  HASH_ELEM | HASH_STRINGS | HASH_CONTEXT);

		if (SPI_connect() != SPI_OK_CONNECT)
			elog(ERROR, "SPI_connect failed");
		/* planning takes the lock on ex7.instruments, which accepts pending invalidations ... */
		plan = SPI_prepare(PNL_QUERY, 0, NULL);
		if (plan == NULL)
			elog(ERROR, "SPI_prepare failed: %s", SPI_result_code_string(SPI_result));
		/*
		 * ... so a snapshot taken now sees every commit whose invalidation we have processed. The
		 * catalog snapshot is a fresh MVCC snapshot that, unlike GetLatestSnapshot, may also be taken
		 * in a parallel worker (compute_pnl is PARALLEL SAFE).
		 */
		if (SPI_execute_snapshot(plan, NULL, NULL, GetCatalogSnapshot(pnl_instruments_relid),
								 InvalidSnapshot, true, false, 0) != SPI_OK_SELECT)
			elog(ERROR, "SPI_execute_snapshot failed on ex7.instruments");

		for (i = 0; i < SPI_processed; i++)
		{
			HeapTuple	tuple = SPI_tuptable->vals[i];
			TupleDesc	desc = SPI_tuptable->tupdesc;
			char	   *symbol = SPI_getvalue(tuple, desc, 1);
			MemoryContext oldcxt;
			PnlInstrument *in;

			if (symbol == NULL || strlen(symbol) > PNL_SYMBOL_MAXLEN)
				elog(ERROR, "ex7.instruments has an invalid symbol");
			oldcxt = MemoryContextSwitchTo(pnl_cxt);
			in = hash_search(pnl_instruments, symbol, HASH_ENTER, NULL);
			in->tick_size = spec(tuple, desc, 2);
			in->tick_value = spec(tuple, desc, 3);
			instrument_prepare(in, spec(tuple, desc, 4));
			MemoryContextSwitchTo(oldcxt);
		}
		SPI_finish();

		if (generation == pnl_generation)
		{
			pnl_valid = true;
			return;
		}
	}
}

/*
 * sized_fill: returns nothing; computes the size-dependent numbers of in for size into out.
 */
static void
sized_fill(const PnlInstrument *in, int32 size, PnlSized *out)
{
	Numeric		nsize = int64_to_numeric(size);

	out->slippage = mul(in->slippage_per_contract, nsize);
	out->commission = mul(in->commission_per_contract, nsize);
	out->costs = numeric_add_opt_error(out->slippage, out->commission, NULL);
	/* set last: a filled cache slot is one whose tick_value is set */
	out->tick_value = mul(in->tick_value, nsize);
}

/*
 * pnl_sized: returns the size-dependent numbers of in for size, from the cache for sizes up to
 * PNL_CACHED_SIZES, otherwise computed into *scratch.
 */
static const PnlSized *
pnl_sized(PnlInstrument *in, int32 size, PnlSized *scratch)
{
	MemoryContext oldcxt;

	if (size > PNL_CACHED_SIZES)
	{
		sized_fill(in, size, scratch);
		return scratch;
	}
	if (in->sized == NULL)
		in->sized = MemoryContextAllocZero(pnl_cxt, sizeof(PnlSized) * (PNL_CACHED_SIZES + 1));
	if (in->sized[size].tick_value == NULL)
	{
		oldcxt = MemoryContextSwitchTo(pnl_cxt);
		sized_fill(in, size, &in->sized[size]);
		MemoryContextSwitchTo(oldcxt);
	}
	return &in->sized[size];
}

/*
 * pnl_lookup: returns the cached instrument named by symbol; raises X7422 at ["body","instrument"]
 * when there is none.
 */
static PnlInstrument *
pnl_lookup(text *symbol)
{
	char		key[PNL_SYMBOL_KEYLEN];
	int			len = VARSIZE_ANY_EXHDR(symbol);
	PnlInstrument *in = NULL;

	if (!pnl_valid)
		pnl_load();
	if (len <= PNL_SYMBOL_MAXLEN)
	{
		memset(key, 0, sizeof(key));
		memcpy(key, VARDATA_ANY(symbol), len);
		in = hash_search(pnl_instruments, key, HASH_FIND, NULL);
	}
	if (in == NULL)
		ex7_invalid("[\"body\",\"instrument\"]",
					psprintf("unknown instrument \"%s\"", text_to_cstring(symbol)), "value_error");
	/* a misconfigured row is the operator's to fix: a server error, not the client's 422 */
	if (in->problem != NULL)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("instrument %s %s", in->symbol, in->problem),
				 errhint("Fix the row in ex7.instruments.")));
	return in;
}

/*
 * check_price: returns nothing; raises X7422 at loc when price is NaN, infinite or out of bounds.
 */
static void
check_price(Numeric price, const char *loc, const char *name)
{
	if (!is_finite(price))
		ex7_invalid(loc, psprintf("%s must be a finite number", name), "value_error.decimal.not_finite");
	if (!in_bounds(price))
		ex7_invalid(loc, psprintf("%s must be less than " PNL_MAX_ABS_TEXT " in absolute value", name),
					"value_error.overflow");
}

/*
 * off_grid: raises X7422 at loc saying that price is not a multiple of the tick size. Never returns.
 */
static void
pg_attribute_noreturn()
off_grid(Numeric price, const char *loc, const char *name, const PnlInstrument *in)
{
	ex7_invalid(loc, psprintf("%s %s is not a multiple of the %s tick size %s", name,
							  numeric_text(price), in->symbol, in->tick_size_text),
				"value_error.number.not_multiple");
}

/*
 * out_of_range: raises X7422 at ["body"] (no single input is to blame) saying that result name of
 * the trade is out of bounds. Never returns.
 */
static void
pg_attribute_noreturn()
out_of_range(const char *name)
{
	ex7_invalid("[\"body\"]",
				psprintf("%s of this trade is out of range: it must be less than " PNL_MAX_ABS_TEXT
						 " in absolute value", name),
				"value_error.overflow");
}

/*
 * pnl_compute: the formula of ex7.compute_pnl for C callers in the extension (the backtest prices
 * every trade with it: the same code, without a function call and a row per trade). Returns nothing;
 * fills out with the numbers of a closed trade of size contracts of instrument, long or short,
 * entered at entry and closed at close, or raises the X7422 compute_pnl raises. The numbers live in
 * the current memory context, except slippage_ticks, slippage and commission (the instrument cache's:
 * copy them to keep them past an invalidation).
 */
void
pnl_compute(text *instrument, bool is_long, int32 size, Numeric entry, Numeric close, PnlResult *out)
{
	PnlInstrument *in;
	const PnlSized *sized;
	PnlSized	scratch;
	Numeric		move;
	Numeric		ticks;
	Numeric		points;
	Numeric		gross;
	Numeric		net;

	pnl_constants();
	in = pnl_lookup(instrument);
	if (size <= 0)
		ex7_invalid("[\"body\",\"size\"]", "size must be greater than 0", "value_error.number.not_gt");
	if (size > PNL_MAX_SIZE)
		ex7_invalid("[\"body\",\"size\"]", psprintf("size must be at most %d", PNL_MAX_SIZE),
					"value_error.overflow");
	check_price(entry, PNL_LOC_ENTRY, "entry_price");
	check_price(close, PNL_LOC_CLOSE, "close_price");
	if (cmp(numeric_mod_opt_error(entry, in->tick_size, NULL), pnl_zero) != 0)
		off_grid(entry, PNL_LOC_ENTRY, "entry_price", in);

	/*
	 * ticks = trunc(move / tick_size) and points = ticks * tick_size. The entry is on the grid, so
	 * the close is exactly when the move is a whole number of ticks, that is when points == move;
	 * then the division was exact. points takes tick_size's scale, whatever the prices' spelling.
	 */
	move = is_long ? sub(close, entry) : sub(entry, close);
	ticks = DatumGetNumeric(DirectFunctionCall2(numeric_div_trunc, NumericGetDatum(move),
												NumericGetDatum(in->tick_size)));
	points = mul(ticks, in->tick_size);
	if (cmp(points, move) != 0)
		off_grid(close, PNL_LOC_CLOSE, "close_price", in);

	/* gross = ticks * (tick_value * size); net = gross - (slippage + commission): exact either way */
	sized = pnl_sized(in, size, &scratch);
	gross = mul(ticks, sized->tick_value);
	net = sub(gross, sized->costs);

	/*
	 * |gross| and |net| < 10^16. The costs are >= 0 and bounded (instrument_prepare), so slippage
	 * and commission are in range and net <= gross: gross < 10^16 and net > -10^16 bound both.
	 */
	if (cmp(gross, pnl_max_abs) >= 0)
		out_of_range("gross_pnl");
	if (cmp(net, pnl_min_abs) <= 0)
		out_of_range(cmp(gross, pnl_min_abs) <= 0 ? "gross_pnl" : "net_pnl");

	out->points = points;
	out->ticks = ticks;
	out->gross = gross;
	out->slippage_ticks = pnl_slippage_ticks;
	out->slippage = sized->slippage;
	out->commission = sized->commission;
	out->net = net;
}

PG_FUNCTION_INFO_V1(compute_pnl);
Datum
compute_pnl(PG_FUNCTION_ARGS)
{
	text	   *side = PG_GETARG_TEXT_PP(1);
	int			side_len = VARSIZE_ANY_EXHDR(side);
	TupleDesc	tupdesc = (TupleDesc) fcinfo->flinfo->fn_extra;
	bool		is_long;
	PnlResult	r;
	Datum		values[PNL_NCOLUMNS];
	bool		nulls[PNL_NCOLUMNS] = {false};

	/* the result descriptor is the same on every call through this FmgrInfo: build it once */
	if (tupdesc == NULL)
	{
		MemoryContext oldcxt = MemoryContextSwitchTo(fcinfo->flinfo->fn_mcxt);

		if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
			elog(ERROR, "return type must be a row type");
		tupdesc = BlessTupleDesc(tupdesc);
		fcinfo->flinfo->fn_extra = tupdesc;
		MemoryContextSwitchTo(oldcxt);
	}

	/* the checks, in argument order; the HTTP front answers each with a 422 on its body field */
	if (side_len == 4 && memcmp(VARDATA_ANY(side), "long", 4) == 0)
		is_long = true;
	else if (side_len == 5 && memcmp(VARDATA_ANY(side), "short", 5) == 0)
		is_long = false;
	else
	{
		/* an unknown instrument is reported first, as before the side */
		pnl_constants();
		(void) pnl_lookup(PG_GETARG_TEXT_PP(0));
		ex7_invalid("[\"body\",\"side\"]", "side must be long or short", "value_error.const");
	}
	pnl_compute(PG_GETARG_TEXT_PP(0), is_long, PG_GETARG_INT32(2), PG_GETARG_NUMERIC(3),
				PG_GETARG_NUMERIC(4), &r);

	values[0] = NumericGetDatum(r.points);
	values[1] = NumericGetDatum(r.ticks);
	values[2] = NumericGetDatum(r.gross);
	values[3] = NumericGetDatum(r.slippage_ticks);
	values[4] = NumericGetDatum(r.slippage);
	values[5] = NumericGetDatum(r.commission);
	values[6] = NumericGetDatum(r.net);

	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(tupdesc, values, nulls)));
}

/*
 * pnl_invalidate: the statement trigger on ex7.instruments (SQL ex7._pnl_invalidate; C names drop the
 * leading underscore, which C reserves at file scope). Returns NULL. Queues a relcache invalidation
 * of the table: this backend drops its cache at the end of the statement, every other backend when
 * the transaction commits; a rollback replays it here so the uncommitted values are dropped too.
 */
PG_FUNCTION_INFO_V1(pnl_invalidate);
Datum
pnl_invalidate(PG_FUNCTION_ARGS)
{
	TriggerData *trigdata = (TriggerData *) fcinfo->context;

	if (!CALLED_AS_TRIGGER(fcinfo))
		elog(ERROR, "pnl_invalidate: not called by trigger manager");
	CacheInvalidateRelcacheByRelid(RelationGetRelid(trigdata->tg_relation));
	PG_RETURN_POINTER(NULL);
}
