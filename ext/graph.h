/*-------------------------------------------------------------------------
 *
 * graph.h
 *	  The strategy graph engine: the node catalog (nodes.c) and the compiler, validator, plan cache
 *	  and evaluator of strategy graphs (graph.c). docs/engine.md describes the format and the
 *	  semantics.
 *
 * A graph is {nodes: [{id, type, params}], edges: [{from, to, port}], meta} (docs/engine.md, "The
 * graph"; ex7-api-reference.txt, Export Strategy: "the full graph (nodes, edges, meta)"). It compiles
 * to a GraphPlan: the nodes with their parameters resolved, the input of every port, a topological
 * order and the number of bars of history the whole graph needs (its lookback). Evaluation computes
 * every node as a series over a window of bars, oldest first, in double precision; the value of
 * interest is the last one (the closing bar).
 *
 *-------------------------------------------------------------------------
 */
#ifndef EX7_GRAPH_H
#define EX7_GRAPH_H

#include "postgres.h"

#include "lib/stringinfo.h"
#include "pgtime.h"
#include "utils/jsonb.h"
#include "utils/timestamp.h"

/*
 * Limits against hostile or runaway graphs (docs/engine.md, "Limits"). A builder UI draws a few
 * dozen nodes; 200 leaves room. Every input port takes exactly one edge and no node has more than
 * two inputs, so a valid graph has at most 400 edges; the cap on the list is looser so that the
 * error names the edge.
 */
#define GRAPH_MAX_NODES			200
#define GRAPH_MAX_EDGES			1000
#define GRAPH_MAX_ID_LEN		64
/* bars one evaluation may read: 20000 5-minute bars are about 10 weeks of Globex trading */
#define GRAPH_MAX_LOOKBACK		20000
/* bars evaluate_graph_on / evaluate_graph_series accept in one call */
#define GRAPH_MAX_BARS			50000
/* values evaluate_graph_series returns (bars times nodes): 8 MB of doubles, tens of MB of JSON */
#define GRAPH_MAX_SERIES_VALUES	1000000

#define NODE_MAX_PARAMS			5
#define NODE_MAX_INPUTS			2

/*
 * Bars a day-anchored node (vwap, opening_range) reads: one day of 1-minute bars, the finest
 * timeframe of the ex7.timeframe domain (ext/sql/10_schema.sql), so the window always reaches back
 * past the anchor.
 */
#define DAY_BARS				1440

/*
 * Weight left on the seed of an exponential smoothing when its warm-up ends: after k further values
 * the seed weighs (1 - alpha)^k, and k is chosen so that this is at most 1e-4 (0.01%).
 */
#define SMOOTHING_RESIDUAL		1e-4

typedef enum PortType
{
	PORT_SERIES,				/* a number per bar (null when undefined) */
	PORT_BOOLEAN,				/* true/false per bar */
	PORT_ENTRY,					/* the output of enter_long / enter_short: size when it fires */
	PORT_ACTION					/* exits and brackets: consumed by the dispatcher, by no node */
} PortType;

typedef enum NodeParamKind
{
	NPARAM_INT,
	NPARAM_NUMBER,
	NPARAM_ENUM,
	NPARAM_BOOL,
	NPARAM_TIME					/* "HH:MM", stored as minutes after midnight */
} NodeParamKind;

typedef enum NodeOp
{
	OP_OPEN, OP_HIGH, OP_LOW, OP_CLOSE, OP_VOLUME, OP_HL2, OP_HLC3, OP_OHLC4,
	OP_SMA, OP_EMA, OP_WMA, OP_RSI, OP_MACD, OP_BOLLINGER, OP_STDDEV, OP_ATR, OP_VWAP,
	OP_HIGHEST, OP_LOWEST, OP_OPENING_RANGE, OP_LAG, OP_CHANGE,
	OP_ADD, OP_SUB, OP_MUL, OP_DIV, OP_MIN, OP_MAX, OP_ABS, OP_CONSTANT,
	OP_GT, OP_GTE, OP_LT, OP_LTE, OP_CROSSES_ABOVE, OP_CROSSES_BELOW,
	OP_AND, OP_OR, OP_NOT,
	OP_SESSION_FILTER,
	OP_ENTER_LONG, OP_ENTER_SHORT, OP_EXIT_LONG, OP_EXIT_SHORT,
	OP_STOP_LOSS_TICKS, OP_TAKE_PROFIT_TICKS
} NodeOp;

typedef struct ParamDef
{
	const char *name;			/* NULL ends the list */
	NodeParamKind	kind;
	double		min;			/* NPARAM_INT / NPARAM_NUMBER */
	double		max;
	double		def;			/* default: a number, minutes (time), an index (enum), 0/1 (bool) */
	const char *const *values;	/* NPARAM_ENUM: the members, NULL-terminated */
	const char *description;
} ParamDef;

typedef struct PortDef
{
	const char *name;			/* NULL ends the list */
	PortType	type;
} PortDef;

typedef struct NodeDef
{
	const char *type;
	const char *category;
	NodeOp		op;
	PortType	output;
	bool		bool_value;		/* shown as true/false in "values" (booleans and exits) */
	const char *description;
	ParamDef	params[NODE_MAX_PARAMS + 1];
	PortDef		inputs[NODE_MAX_INPUTS + 1];
} NodeDef;

typedef struct PlanNode
{
	const NodeDef *def;
	char	   *id;
	int			nparams;
	int			ninputs;
	double		pv[NODE_MAX_PARAMS];	/* parameter values, in the order of def->params */
	int			in[NODE_MAX_INPUTS];	/* node index feeding each input port */
	int			lookback;		/* bars of history this node's value needs, inputs included */
	int			nconsumers;		/* input ports fed by this node */
	pg_tz	   *tz;				/* time-of-day nodes: their time zone */
} PlanNode;

typedef struct GraphPlan
{
	int			nnodes;
	int			nedges;
	PlanNode   *nodes;			/* in the graph's node order */
	int		   *order;			/* a topological order (ties broken by node order) */
	int			lookback;		/* bars the graph needs: the largest node lookback, at least 1 */
} GraphPlan;

/* a window of bars, oldest first */
typedef struct BarSeries
{
	int			n;
	double	   *open;
	double	   *high;
	double	   *low;
	double	   *close;
	double	   *volume;
	TimestampTz *ts;			/* close times; NULL when the bars carry none */
	bool		complete;		/* the window starts at the first bar there is */
} BarSeries;

/*
 * The actions of one bar (graph_actions): what the dispatcher reads from ex7._evaluate's JSON and
 * the backtest reads directly (docs/engine.md, "Semantics on the closing bar").
 */
typedef struct GraphActions
{
	int			enter_long;		/* node index of the first enter_long that fires (its value is the
								 * size), or -1 */
	int			enter_short;	/* likewise for enter_short */
	bool		conflict;		/* both sides fired: no bracket is reported */
	bool		exit_long;		/* an exit_long node fired */
	bool		exit_short;
	double		stop_loss_ticks;	/* the brackets of the entry that fired, NaN when none */
	double		take_profit_ticks;
} GraphActions;

/* nodes.c */
extern const NodeDef node_catalog[];
extern const int node_catalog_size;
extern const NodeDef *node_lookup(const char *type, int len);
extern int	node_own_lookback(const PlanNode *node);
extern void node_compute(const PlanNode *node, const double *const *in, const BarSeries *bars,
						 double *out);
extern const char *port_type_name(PortType t);
extern void node_catalog_json(StringInfo buf);

/* graph.c */
extern GraphPlan *graph_compile(Jsonb *graph, const char *loc_json);
extern void graph_run(const GraphPlan *plan, const BarSeries *b, bool keep, double **series,
					  double *last);
extern void graph_actions(const GraphPlan *plan, const double *v, GraphActions *out);

#endif							/* EX7_GRAPH_H */
