/*-------------------------------------------------------------------------
 *
 * graph.c
 *	  Strategy graphs: validation with locators, compilation to a plan (topological order,
 *	  lookback), the backend-local cache of compiled plans, the transaction's window of bars read
 *	  from ex7.bars, and evaluation on a window of bars.
 *
 * Validation reports the first failure as a 422 (X7422) whose locator points at the offending
 * element, e.g. ["body","graph","nodes",3,"params","period"] (docs/engine.md, "Validation";
 * ex7-api-introduction.txt, "Error codes": 422 carries the locator path). Nothing here recurses on
 * the input: graphs are walked with loops over arrays whose lengths are capped (graph.h, "Limits"),
 * and cycles are found with Kahn's algorithm.
 *
 * SQL functions (ext/sql/62_engines.sql): list_engines, validate_graph, graph_check
 * (ex7._validate_graph), graph_evaluate (ex7._evaluate), evaluate_graph_on, evaluate_graph_series.
 * docs/engine.md.
 *
 *-------------------------------------------------------------------------
 */
#include "ex7.h"
#include "graph.h"

#include <ctype.h>
#include <limits.h>
#include <math.h>

#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/pg_class.h"
#include "catalog/pg_type.h"
#include "common/shortest_dec.h"
#include "executor/spi.h"
#include "lib/ilist.h"
#include "fmgr.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "storage/proc.h"
#include "utils/builtins.h"
#include "utils/datetime.h"
#include "utils/datum.h"
#include "utils/hsearch.h"
#include "utils/json.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/numeric.h"
#include "utils/snapmgr.h"
#include "utils/syscache.h"
#include "utils/uuid.h"

/* the locators of the functions that take a graph or bars in a request body */
#define GRAPH_LOC	"[\"body\", \"graph\"]"
#define BARS_LOC	"[\"body\", \"bars\"]"

/* longest user text quoted in a message (node ids are at most GRAPH_MAX_ID_LEN) */
#define MSG_TEXT_MAX	64
/* node ids listed in a cycle message before "..." */
#define CYCLE_IDS_MAX	12

/*
 * Compiled plans kept per backend, keyed by (strategy id, version). A version's graph never changes
 * (ex7._versions_immutable), so an entry never goes stale; the graph is kept as well (or its hash),
 * and a caller passing another graph under the same key gets it compiled afresh. The dispatcher
 * evaluates every running strategy of an instrument on each bar (the engine's benchmark runs 1,000:
 * docs/performance.md, "Strategy engine"), so
 * the cache must hold them all: a cache smaller than the set evaluated in turn misses on every call
 * under LRU. 4096 plans; and at most 64 MB of them, for graphs near the limits (200 nodes with
 * their ids and a 16 kB graph are about 50 kB; a typical plan is 2 to 4 kB). The least recently
 * used plans make room.
 */
#define PLAN_CACHE_MAX		4096
#define PLAN_CACHE_BYTES	((Size) 64 * 1024 * 1024)
/*
 * Graphs up to this size are kept with their plan and compared byte for byte on every call (a
 * memcmp of a few hundred bytes); a larger one (a builder's meta can be large) is compared by size
 * and a 64-bit hash. 16 kB is several times the fixtures' graphs.
 */
#define PLAN_GRAPH_COPY_MAX	(16 * 1024)

typedef struct PlanKey
{
	pg_uuid_t	id;
	int32		version;
} PlanKey;

typedef struct PlanEntry
{
	PlanKey		key;
	Size		graph_size;		/* VARSIZE of the graph compiled */
	Jsonb	   *graph;			/* a copy of it, or NULL when larger than PLAN_GRAPH_COPY_MAX */
	uint64		graph_hash;		/* its jsonb_hash_extended when not copied */
	dlist_node	lru;			/* in plan_lru, most recently used first */
	Size		bytes;			/* memory of cxt */
	MemoryContext cxt;
	GraphPlan  *plan;
} PlanEntry;

static HTAB *plan_cache = NULL;
static MemoryContext plan_cache_cxt = NULL;
static dlist_head plan_lru = DLIST_STATIC_INIT(plan_lru);
static Size plan_bytes = 0;
/* counters for ex7._graph_cache_stats */
static uint64 plan_hits = 0;
static uint64 plan_compiles = 0;
static uint64 plan_evictions = 0;

/* ------------------------------------------------------------------------------------------------
 * Locators and errors.
 * -------------------------------------------------------------------------------------------------
 * */

typedef struct Compiler
{
	const char *loc;			/* the base locator, a JSON array literal */
	int			loclen;
	bool		loc_empty;		/* the base is [] */
	GraphPlan  *plan;
} Compiler;

/*
 * loc_path: returns the locator base + [k1] + [i1] + [k2] + [k3] as a JSON array literal; NULL keys
 * and negative indices are left out.
 */
static char *
loc_path(const char *base, int baselen, bool empty, const char *k1, int i1, const char *k2,
		 const char *k3)
{
	StringInfoData b;
	bool		first = empty;

	initStringInfo(&b);
	/* the base without its closing bracket */
	appendBinaryStringInfo(&b, base, baselen - 1);
	if (k1)
	{
		appendStringInfoString(&b, first ? "" : ", ");
		escape_json(&b, k1);
		first = false;
	}
	if (i1 >= 0)
	{
		appendStringInfo(&b, "%s%d", first ? "" : ", ", i1);
		first = false;
	}
	if (k2)
	{
		appendStringInfoString(&b, first ? "" : ", ");
		escape_json(&b, k2);
		first = false;
	}
	if (k3)
	{
		appendStringInfoString(&b, first ? "" : ", ");
		escape_json(&b, k3);
	}
	appendStringInfoChar(&b, ']');
	return b.data;
}

static char *
cloc(Compiler *c, const char *k1, int i1, const char *k2, const char *k3)
{
	return loc_path(c->loc, c->loclen, c->loc_empty, k1, i1, k2, k3);
}

/*
 * fail: raises X7422 at loc with type and a printf-style message. Never returns.
 */
static void fail(const char *loc, const char *type, const char *fmt,...) pg_attribute_printf(3, 4)
			pg_attribute_noreturn();

static void
fail(const char *loc, const char *type, const char *fmt,...)
{
	StringInfoData msg;

	initStringInfo(&msg);
	for (;;)
	{
		va_list		args;
		int			needed;

		va_start(args, fmt);
		needed = appendStringInfoVA(&msg, fmt, args);
		va_end(args);
		if (needed == 0)
			break;
		enlargeStringInfo(&msg, needed);
	}
	ex7_invalid(loc, msg.data, type);
}

/*
 * clip: returns a palloc'd copy of user text of len bytes, cut to MSG_TEXT_MAX bytes on a character
 * boundary (with "..." when cut), for quoting in a message.
 */
static char *
clip(const char *s, int len)
{
	int			keep;

	if (len <= MSG_TEXT_MAX)
		return pnstrdup(s, len);
	keep = pg_mbcliplen(s, len, MSG_TEXT_MAX);
	return psprintf("%s...", pnstrdup(s, keep));
}

static char *
fmt_number(double x)
{
	char	   *buf = palloc(DOUBLE_SHORTEST_DECIMAL_LEN);

	double_to_shortest_decimal_buf(x, buf);
	return buf;
}

/* ------------------------------------------------------------------------------------------------
 * jsonb access.
 * -------------------------------------------------------------------------------------------------
 * */

static JsonbValue *
obj_get(JsonbContainer *c, const char *key)
{
	JsonbValue	k;

	k.type = jbvString;
	k.val.string.val = (char *) key;
	k.val.string.len = strlen(key);
	return findJsonbValueFromContainer(c, JB_FOBJECT, &k);
}

static bool
is_object(const JsonbValue *v)
{
	return v->type == jbvBinary && JsonContainerIsObject(v->val.binary.data);
}

static bool
is_array(const JsonbValue *v)
{
	return v->type == jbvBinary && JsonContainerIsArray(v->val.binary.data) &&
		!JsonContainerIsScalar(v->val.binary.data);
}

static bool
str_eq(const JsonbValue *v, const char *s)
{
	return v->type == jbvString && v->val.string.len == (int) strlen(s) &&
		memcmp(v->val.string.val, s, v->val.string.len) == 0;
}

/*
 * first_key_outside: returns (palloc'd) the smallest key of object c that is not in allowed
 * (NULL-terminated), or NULL when there is none. Keys compare like strcmp, so the report does not
 * depend on jsonb's internal key order.
 */
static char *
first_key_outside(JsonbContainer *c, const char *const *allowed)
{
	JsonbIterator *it = JsonbIteratorInit(c);
	JsonbValue	v;
	JsonbIteratorToken tok;
	char	   *best = NULL;

	while ((tok = JsonbIteratorNext(&it, &v, true)) != WJB_DONE)
	{
		char	   *k;
		bool		known = false;

		if (tok != WJB_KEY)
			continue;
		for (int i = 0; allowed[i]; i++)
			known = known || str_eq(&v, allowed[i]);
		if (known)
			continue;
		k = pnstrdup(v.val.string.val, v.val.string.len);
		if (best == NULL || strcmp(k, best) < 0)
			best = k;
	}
	return best;
}

/*
 * json_number: the double value of a jsonb number, via its exact text; a number beyond double range
 * is plus or minus infinity (and fails any range check on the right side).
 */
static double
json_number(const JsonbValue *v)
{
	Datum		text = DirectFunctionCall1(numeric_out, NumericGetDatum(v->val.numeric));
	char	   *s = DatumGetCString(text);
	double		d = strtod(s, NULL);

	pfree(s);
	return d;
}

/* ------------------------------------------------------------------------------------------------
 * Compilation.
 * -------------------------------------------------------------------------------------------------
 * */

/*
 * parse_time: returns minutes after midnight of "HH:MM" (00:00 to 23:59), or -1.
 */
static int
parse_time(const JsonbValue *v)
{
	const char *s = v->val.string.val;
	int			h,
				m;

	if (v->type != jbvString || v->val.string.len != 5 || s[2] != ':' ||
		!isdigit((unsigned char) s[0]) || !isdigit((unsigned char) s[1]) ||
		!isdigit((unsigned char) s[3]) || !isdigit((unsigned char) s[4]))
		return -1;
	h = (s[0] - '0') * 10 + (s[1] - '0');
	m = (s[3] - '0') * 10 + (s[4] - '0');
	if (h > 23 || m > 59)
		return -1;
	return h * 60 + m;
}

/*
 * compile_params: fills node->pv from the node's "params" object (absent or null: every default).
 * Order of checks: an unknown key, then each parameter in catalog order (type, range), then the
 * rules between parameters.
 */
static void
compile_params(Compiler *c, int i, JsonbValue *params, PlanNode *node)
{
	const NodeDef *d = node->def;
	JsonbContainer *pc = NULL;
	const char *names[NODE_MAX_PARAMS + 1];
	char	   *extra;
	int			np = 0;

	for (; d->params[np].name; np++)
		names[np] = d->params[np].name;
	names[np] = NULL;
	node->nparams = np;

	if (params != NULL && params->type != jbvNull)
	{
		if (!is_object(params))
			fail(cloc(c, "nodes", i, "params", NULL), "type_error.dict",
				 "value is not a valid dict");
		pc = params->val.binary.data;
		extra = first_key_outside(pc, names);
		if (extra)
			fail(cloc(c, "nodes", i, "params", extra), "value_error.extra",
				 "extra fields not permitted: node type \"%s\" has no parameter \"%s\"", d->type,
				 clip(extra, strlen(extra)));
	}

	for (int p = 0; p < np; p++)
	{
		const ParamDef *pd = &d->params[p];
		JsonbValue *v = pc ? obj_get(pc, pd->name) : NULL;
		double		x;

		if (v == NULL || v->type == jbvNull)
		{
			node->pv[p] = pd->def;
			continue;
		}
		switch (pd->kind)
		{
			case NPARAM_INT:
			case NPARAM_NUMBER:
				if (v->type != jbvNumeric)
					fail(cloc(c, "nodes", i, "params", pd->name),
						 pd->kind == NPARAM_INT ? "type_error.integer" : "type_error.float",
						 pd->kind == NPARAM_INT ? "value is not a valid integer" :
						 "value is not a valid float");
				x = json_number(v);
				if (pd->kind == NPARAM_INT && x != floor(x))
					fail(cloc(c, "nodes", i, "params", pd->name), "type_error.integer",
						 "value is not a valid integer");
				if (!(x >= pd->min))
					fail(cloc(c, "nodes", i, "params", pd->name), "value_error.number.not_ge",
						 "ensure this value is greater than or equal to %s", fmt_number(pd->min));
				if (!(x <= pd->max))
					fail(cloc(c, "nodes", i, "params", pd->name), "value_error.number.not_le",
						 "ensure this value is less than or equal to %s", fmt_number(pd->max));
				node->pv[p] = x;
				break;
			case NPARAM_BOOL:
				if (v->type != jbvBool)
					fail(cloc(c, "nodes", i, "params", pd->name), "type_error.bool",
						 "value could not be parsed to a boolean");
				node->pv[p] = v->val.boolean ? 1 : 0;
				break;
			case NPARAM_TIME:
				x = parse_time(v);
				if (x < 0)
					fail(cloc(c, "nodes", i, "params", pd->name), "value_error.time",
						 "invalid time; expected \"HH:MM\" from 00:00 to 23:59");
				node->pv[p] = x;
				break;
			case NPARAM_ENUM:
				{
					int			found = -1;
					StringInfoData all;

					for (int e = 0; pd->values[e]; e++)
						if (str_eq(v, pd->values[e]))
							found = e;
					if (found >= 0)
					{
						node->pv[p] = found;
						break;
					}
					initStringInfo(&all);
					for (int e = 0; pd->values[e]; e++)
						appendStringInfo(&all, "%s%s", e ? ", " : "", pd->values[e]);
					fail(cloc(c, "nodes", i, "params", pd->name), "type_error.enum",
						 "value is not a valid enumeration member; permitted: %s", all.data);
				}
		}
	}

	/* rules between parameters */
	if (d->op == OP_MACD && node->pv[0] >= node->pv[1])
		fail(cloc(c, "nodes", i, "params", "fast"), "value_error.macd_periods",
			 "fast (%d) must be less than slow (%d)", (int) node->pv[0], (int) node->pv[1]);
	if (d->op == OP_SESSION_FILTER && node->pv[0] == node->pv[1])
		fail(cloc(c, "nodes", i, "params", "end"), "value_error.session",
			 "end must differ from start");

	/* the time zone of a time-of-day node: its "tz" parameter, always the last one */
	for (int p = 0; p < np; p++)
	{
		if (strcmp(d->params[p].name, "tz") == 0)
		{
			const char *zone = d->params[p].values[(int) node->pv[p]];

			node->tz = pg_tzset(zone);
			if (node->tz == NULL)
				elog(ERROR, "time zone \"%s\" is not in the time zone database", zone);
		}
	}
}

/*
 * compile_nodes: the "nodes" list: shape, unique ids, known types, parameters. Node by node in
 * order.
 */
static void
compile_nodes(Compiler *c, JsonbContainer *root)
{
	GraphPlan  *plan = c->plan;
	JsonbValue *nodes = obj_get(root, "nodes");
	JsonbContainer *nc;

	if (nodes == NULL)
		fail(cloc(c, "nodes", -1, NULL, NULL), "value_error.missing", "field required");
	if (!is_array(nodes))
		fail(cloc(c, "nodes", -1, NULL, NULL), "type_error.list", "value is not a valid list");
	nc = nodes->val.binary.data;
	plan->nnodes = JsonContainerSize(nc);
	if (plan->nnodes > GRAPH_MAX_NODES)
		fail(cloc(c, "nodes", -1, NULL, NULL), "value_error.list.max_items",
			 "ensure this value has at most %d items", GRAPH_MAX_NODES);
	plan->nodes = palloc0(sizeof(PlanNode) * Max(plan->nnodes, 1));

	for (int i = 0; i < plan->nnodes; i++)
	{
		JsonbValue *n = getIthJsonbValueFromContainer(nc, i);
		JsonbContainer *oc;
		JsonbValue *v;
		PlanNode   *node = &plan->nodes[i];
		static const char *const fields[] = {"id", "type"};

		if (!is_object(n))
			fail(cloc(c, "nodes", i, NULL, NULL), "type_error.dict", "value is not a valid dict");
		oc = n->val.binary.data;
		for (int f = 0; f < 2; f++)
		{
			v = obj_get(oc, fields[f]);
			if (v == NULL)
				fail(cloc(c, "nodes", i, fields[f], NULL), "value_error.missing", "field required");
			if (v->type != jbvString)
				fail(cloc(c, "nodes", i, fields[f], NULL), "type_error.str", "str type expected");
			if (v->val.string.len == 0)
				fail(cloc(c, "nodes", i, fields[f], NULL), "value_error.any_str.min_length",
					 "ensure this value has at least 1 characters");
		}

		v = obj_get(oc, "id");
		if (pg_mbstrlen_with_len(v->val.string.val, v->val.string.len) > GRAPH_MAX_ID_LEN)
			fail(cloc(c, "nodes", i, "id", NULL), "value_error.any_str.max_length",
				 "ensure this value has at most %d characters", GRAPH_MAX_ID_LEN);
		node->id = pnstrdup(v->val.string.val, v->val.string.len);
		for (int j = 0; j < i; j++)
			if (strcmp(plan->nodes[j].id, node->id) == 0)
				fail(cloc(c, "nodes", i, "id", NULL), "value_error.duplicate",
					 "duplicate node id \"%s\"", node->id);

		v = obj_get(oc, "type");
		node->def = node_lookup(v->val.string.val, v->val.string.len);
		if (node->def == NULL)
			fail(cloc(c, "nodes", i, "type", NULL), "value_error.node_type",
				 "unknown node type \"%s\"; GET /api/engines lists the node types",
				 clip(v->val.string.val, v->val.string.len));
		for (node->ninputs = 0; node->def->inputs[node->ninputs].name; node->ninputs++)
			node->in[node->ninputs] = -1;

		compile_params(c, i, obj_get(oc, "params"), node);
	}
}

/*
 * find_node: returns the index of the node whose id is the string v, or -1.
 */
static int
find_node(GraphPlan *plan, const JsonbValue *v)
{
	for (int i = 0; i < plan->nnodes; i++)
		if (str_eq(v, plan->nodes[i].id))
			return i;
	return -1;
}

static char *
port_list(const NodeDef *d)
{
	StringInfoData b;

	initStringInfo(&b);
	for (int p = 0; d->inputs[p].name; p++)
		appendStringInfo(&b, "%s%s", p ? ", " : "", d->inputs[p].name);
	return b.data;
}

/*
 * compile_edges: the "edges" list: shape, endpoints, ports, one edge per port, port types. Edge by
 * edge in order. efrom/eto receive the node indices of every edge.
 */
static void
compile_edges(Compiler *c, JsonbContainer *root, int **efrom, int **eto)
{
	GraphPlan  *plan = c->plan;
	JsonbValue *edges = obj_get(root, "edges");
	JsonbContainer *ec;
	int		   *port_edge;

	if (edges == NULL)
		fail(cloc(c, "edges", -1, NULL, NULL), "value_error.missing", "field required");
	if (!is_array(edges))
		fail(cloc(c, "edges", -1, NULL, NULL), "type_error.list", "value is not a valid list");
	ec = edges->val.binary.data;
	plan->nedges = JsonContainerSize(ec);
	if (plan->nedges > GRAPH_MAX_EDGES)
		fail(cloc(c, "edges", -1, NULL, NULL), "value_error.list.max_items",
			 "ensure this value has at most %d items", GRAPH_MAX_EDGES);
	*efrom = palloc(sizeof(int) * Max(plan->nedges, 1));
	*eto = palloc(sizeof(int) * Max(plan->nedges, 1));
	port_edge = palloc(sizeof(int) * Max(plan->nnodes, 1) * NODE_MAX_INPUTS);

	for (int j = 0; j < plan->nedges; j++)
	{
		JsonbValue *e = getIthJsonbValueFromContainer(ec, j);
		JsonbContainer *oc;
		JsonbValue *v;
		int			ends[2];
		int			port = -1;
		PlanNode   *src,
				   *dst;
		static const char *const fields[] = {"from", "to"};

		if (!is_object(e))
			fail(cloc(c, "edges", j, NULL, NULL), "type_error.dict", "value is not a valid dict");
		oc = e->val.binary.data;
		for (int f = 0; f < 2; f++)
		{
			v = obj_get(oc, fields[f]);
			if (v == NULL)
				fail(cloc(c, "edges", j, fields[f], NULL), "value_error.missing", "field required");
			if (v->type != jbvString)
				fail(cloc(c, "edges", j, fields[f], NULL), "type_error.str", "str type expected");
			ends[f] = find_node(plan, v);
			if (ends[f] < 0)
				fail(cloc(c, "edges", j, fields[f], NULL), "value_error.unknown_node",
					 "unknown node id \"%s\"", clip(v->val.string.val, v->val.string.len));
		}
		src = &plan->nodes[ends[0]];
		dst = &plan->nodes[ends[1]];

		/* the port: named, or implied when the target has exactly one input */
		if (dst->ninputs == 0)
			fail(cloc(c, "edges", j, "to", NULL), "value_error.port",
				 "node \"%s\" (%s) takes no inputs", dst->id, dst->def->type);
		v = obj_get(oc, "port");
		if (v == NULL || v->type == jbvNull)
		{
			if (dst->ninputs > 1)
				fail(cloc(c, "edges", j, "port", NULL), "value_error.missing",
					 "field required: node \"%s\" (%s) has inputs %s", dst->id, dst->def->type,
					 port_list(dst->def));
			port = 0;
		}
		else
		{
			if (v->type != jbvString)
				fail(cloc(c, "edges", j, "port", NULL), "type_error.str", "str type expected");
			for (int p = 0; p < dst->ninputs; p++)
				if (str_eq(v, dst->def->inputs[p].name))
					port = p;
			if (port < 0)
				fail(cloc(c, "edges", j, "port", NULL), "value_error.port",
					 "node \"%s\" (%s) has no input port \"%s\"; its inputs: %s", dst->id,
					 dst->def->type, clip(v->val.string.val, v->val.string.len),
					 port_list(dst->def));
		}
		if (dst->in[port] >= 0)
			fail(cloc(c, "edges", j, NULL, NULL), "value_error.extra_input",
				 "input port \"%s\" of node \"%s\" is already connected (edge %d)",
				 dst->def->inputs[port].name, dst->id, port_edge[ends[1] * NODE_MAX_INPUTS + port]);
		if (src->def->output != dst->def->inputs[port].type)
			fail(cloc(c, "edges", j, NULL, NULL), "type_error.port",
				 "input port \"%s\" of node \"%s\" (%s) takes %s; node \"%s\" (%s) outputs %s",
				 dst->def->inputs[port].name, dst->id, dst->def->type,
				 port_type_name(dst->def->inputs[port].type), src->id, src->def->type,
				 port_type_name(src->def->output));
		dst->in[port] = ends[0];
		port_edge[ends[1] * NODE_MAX_INPUTS + port] = j;
		src->nconsumers++;
		(*efrom)[j] = ends[0];
		(*eto)[j] = ends[1];
	}
	pfree(port_edge);
}

/*
 * report_cycle: raises the cycle error. Every node Kahn's algorithm left has a predecessor it also
 * left, so walking such predecessors from the first left node must repeat a node: the walk from
 * that node on is a cycle. The locator is its edge that comes first in the edge list.
 */
static void
report_cycle(Compiler *c, const bool *done, const int *efrom, const int *eto)
{
	GraphPlan  *plan = c->plan;
	int		   *walk = palloc(sizeof(int) * (plan->nnodes + 1));
	int		   *into = palloc(sizeof(int) * plan->nnodes);
	int		   *pos = palloc(sizeof(int) * plan->nnodes);
	int			len = 0,
				cur = -1,
				k,
				worst = INT_MAX;
	StringInfoData path;

	for (int i = 0; i < plan->nnodes; i++)
	{
		pos[i] = -1;
		if (cur < 0 && !done[i])
			cur = i;
	}
	while (pos[cur] < 0)
	{
		int			e = -1;

		pos[cur] = len;
		walk[len++] = cur;
		for (int j = 0; j < plan->nedges && e < 0; j++)
			if (eto[j] == cur && !done[efrom[j]])
				e = j;
		if (e < 0)
			elog(ERROR, "graph cycle walk found no predecessor");
		into[cur] = e;
		cur = efrom[e];
	}
	/* walk[k .. len-1] is the cycle; edge into[walk[i]] runs walk[i+1] -> walk[i] */
	k = pos[cur];
	initStringInfo(&path);
	appendStringInfoString(&path, plan->nodes[walk[k]].id);
	for (int i = len - 1; i >= k; i--)
	{
		worst = Min(worst, into[walk[i]]);
		if (len - 1 - i < CYCLE_IDS_MAX)
			appendStringInfo(&path, " -> %s", plan->nodes[walk[i]].id);
		else if (len - 1 - i == CYCLE_IDS_MAX)
			appendStringInfoString(&path, " -> ...");
	}
	fail(cloc(c, "edges", worst, NULL, NULL), "value_error.cycle", "graph has a cycle: %s",
		 path.data);
}

/*
 * compile_order: a topological order by Kahn's algorithm, ties to the earlier node. Quadratic in
 * the node count, which is capped at GRAPH_MAX_NODES.
 */
static void
compile_order(Compiler *c, const int *efrom, const int *eto)
{
	GraphPlan  *plan = c->plan;
	int		   *indeg = palloc0(sizeof(int) * Max(plan->nnodes, 1));
	bool	   *done = palloc0(sizeof(bool) * Max(plan->nnodes, 1));
	int			count = 0;

	plan->order = palloc(sizeof(int) * Max(plan->nnodes, 1));
	for (int j = 0; j < plan->nedges; j++)
		indeg[eto[j]]++;
	while (count < plan->nnodes)
	{
		int			next = -1;

		for (int i = 0; i < plan->nnodes && next < 0; i++)
			if (!done[i] && indeg[i] == 0)
				next = i;
		if (next < 0)
			report_cycle(c, done, efrom, eto);
		done[next] = true;
		plan->order[count++] = next;
		for (int j = 0; j < plan->nedges; j++)
			if (efrom[j] == next)
				indeg[eto[j]]--;
	}
	pfree(indeg);
	pfree(done);
}

/*
 * graph_compile: returns the plan of a graph, allocated in CurrentMemoryContext, or raises X7422
 * with a locator under loc_json (a JSON array literal) for the first rule it breaks. Order: the
 * graph object, nodes (in order: shape, id, type, params), edges (in order: shape, endpoints, port,
 * one edge per port, port types), meta, unknown top-level keys, unconnected inputs, cycles,
 * duplicate brackets, the entry node, lookback.
 */
GraphPlan *
graph_compile(Jsonb *graph, const char *loc_json)
{
	Compiler	c;
	GraphPlan  *plan = palloc0(sizeof(GraphPlan));
	JsonbContainer *root;
	JsonbValue *meta;
	int		   *efrom,
			   *eto;
	char	   *extra;
	bool		has_entry = false;
	static const char *const top_keys[] = {"nodes", "edges", "meta", NULL};

	c.loc = loc_json;
	c.loclen = strlen(loc_json);
	c.loc_empty = true;
	for (int i = 1; i < c.loclen - 1; i++)
		if (!isspace((unsigned char) loc_json[i]))
			c.loc_empty = false;
	c.plan = plan;

	if (graph == NULL || JB_ROOT_IS_SCALAR(graph) || !JB_ROOT_IS_OBJECT(graph))
		fail(loc_json, "type_error.dict", "value is not a valid dict");
	root = &graph->root;

	compile_nodes(&c, root);
	compile_edges(&c, root, &efrom, &eto);

	meta = obj_get(root, "meta");
	if (meta != NULL && !is_object(meta))
		fail(cloc(&c, "meta", -1, NULL, NULL), "type_error.dict", "value is not a valid dict");
	/* builder state belongs under "meta" (docs/strategies.md) */
	extra = first_key_outside(root, top_keys);
	if (extra)
		fail(cloc(&c, extra, -1, NULL, NULL), "value_error.extra", "extra fields not permitted");

	for (int i = 0; i < plan->nnodes; i++)
	{
		PlanNode   *node = &plan->nodes[i];

		for (int p = 0; p < node->ninputs; p++)
			if (node->in[p] < 0)
				fail(cloc(&c, "nodes", i, NULL, NULL), "value_error.missing_input",
					 "input port \"%s\" of node \"%s\" (%s) is not connected",
					 node->def->inputs[p].name, node->id, node->def->type);
	}

	compile_order(&c, efrom, eto);

	for (int i = 0; i < plan->nnodes; i++)
	{
		PlanNode   *node = &plan->nodes[i];

		has_entry = has_entry || node->def->op == OP_ENTER_LONG || node->def->op == OP_ENTER_SHORT;
		if (node->def->op != OP_STOP_LOSS_TICKS && node->def->op != OP_TAKE_PROFIT_TICKS)
			continue;
		for (int j = 0; j < i; j++)
			if (plan->nodes[j].def == node->def && plan->nodes[j].in[0] == node->in[0])
				fail(cloc(&c, "nodes", i, NULL, NULL), "value_error.duplicate_bracket",
					 "entry \"%s\" already has a %s bracket (node \"%s\")",
					 plan->nodes[node->in[0]].id, node->def->type, plan->nodes[j].id);
	}
	/* the empty canvas a strategy starts from is a graph too (docs/engine.md, "Validation") */
	if (plan->nnodes > 0 && !has_entry)
		fail(cloc(&c, "nodes", -1, NULL, NULL), "value_error.no_entry",
			 "graph has no entry node (enter_long or enter_short)");

	plan->lookback = 1;
	for (int k = 0; k < plan->nnodes; k++)
	{
		int			i = plan->order[k];
		PlanNode   *node = &plan->nodes[i];
		int			upstream = 1;

		for (int p = 0; p < node->ninputs; p++)
			upstream = Max(upstream, plan->nodes[node->in[p]].lookback);
		node->lookback = upstream + node_own_lookback(node) - 1;
		if (node->lookback > GRAPH_MAX_LOOKBACK)
			fail(cloc(&c, "nodes", i, NULL, NULL), "value_error.lookback",
				 "node \"%s\" (%s) needs %d bars of history; at most %d", node->id, node->def->type,
				 node->lookback, GRAPH_MAX_LOOKBACK);
		plan->lookback = Max(plan->lookback, node->lookback);
	}
	pfree(efrom);
	pfree(eto);
	return plan;
}

/* ------------------------------------------------------------------------------------------------
 * Evaluation.
 * -------------------------------------------------------------------------------------------------
 * */

/*
 * graph_run: computes every node over the bars in topological order. With keep, series[i] holds
 * every node's series afterwards; without, a series is freed as soon as its last consumer has run,
 * and only last[i] (the value at the last bar) survives. Allocates in CurrentMemoryContext.
 */
void
graph_run(const GraphPlan *plan, const BarSeries *b, bool keep, double **series, double *last)
{
	int		   *left = palloc(sizeof(int) * Max(plan->nnodes, 1));

	for (int i = 0; i < plan->nnodes; i++)
	{
		left[i] = plan->nodes[i].nconsumers;
		series[i] = NULL;
		last[i] = NAN;
	}
	if (b->n == 0)
	{
		pfree(left);
		return;
	}
	for (int k = 0; k < plan->nnodes; k++)
	{
		int			i = plan->order[k];
		const PlanNode *node = &plan->nodes[i];
		const double *in[NODE_MAX_INPUTS] = {NULL, NULL};

		for (int p = 0; p < node->ninputs; p++)
			in[p] = series[node->in[p]];
		series[i] = palloc(sizeof(double) * b->n);
		node_compute(node, in, b, series[i]);
		last[i] = series[i][b->n - 1];
		if (keep)
			continue;
		for (int p = 0; p < node->ninputs; p++)
		{
			if (--left[node->in[p]] == 0)
			{
				pfree(series[node->in[p]]);
				series[node->in[p]] = NULL;
			}
		}
		if (left[i] == 0)
		{
			pfree(series[i]);
			series[i] = NULL;
		}
	}
	pfree(left);
}

/* a boolean series value: 1 is true; 0, and NaN (no bars at all), are false */
static bool
truthy(double x)
{
	return !isnan(x) && x != 0;
}

static void
append_value(StringInfo buf, double x, bool boolean)
{
	char		tmp[DOUBLE_SHORTEST_DECIMAL_LEN];

	if (boolean)
		appendStringInfoString(buf, truthy(x) ? "true" : "false");
	else if (!isfinite(x))
		appendStringInfoString(buf, "null");
	else
	{
		double_to_shortest_decimal_buf(x, tmp);
		appendStringInfoString(buf, tmp);
	}
}

/*
 * Results are built as a JsonbValue (pushJsonbValue) and turned into jsonb once: no JSON text is
 * written and parsed again. Numbers go through the same shortest round-trip decimal text the text
 * path used (double_to_shortest_decimal_buf, then numeric_in), integers straight from int64, so a
 * result is the same jsonb either way.
 */
static void
push_key(JsonbParseState **st, const char *key)
{
	JsonbValue	k;

	k.type = jbvString;
	k.val.string.val = (char *) key;
	k.val.string.len = strlen(key);
	pushJsonbValue(st, WJB_KEY, &k);
}

static void
push_null(JsonbParseState **st)
{
	JsonbValue	v;

	v.type = jbvNull;
	pushJsonbValue(st, WJB_VALUE, &v);
}

static void
push_bool(JsonbParseState **st, bool b)
{
	JsonbValue	v;

	v.type = jbvBool;
	v.val.boolean = b;
	pushJsonbValue(st, WJB_VALUE, &v);
}

/* push_string: s must live until the value is serialized (pushJsonbValue keeps the pointer) */
static void
push_string(JsonbParseState **st, const char *s)
{
	JsonbValue	v;

	v.type = jbvString;
	v.val.string.val = (char *) s;
	v.val.string.len = strlen(s);
	pushJsonbValue(st, WJB_VALUE, &v);
}

/* 2^53: every integer up to it is a double exactly */
#define DOUBLE_EXACT_INT	9007199254740992.0

/* push_number: a finite double as a JSON number, anything else (NaN: no value) as null */
static void
push_number(JsonbParseState **st, double x)
{
	JsonbValue	v;

	if (!isfinite(x))
	{
		push_null(st);
		return;
	}
	v.type = jbvNumeric;
	if (x == rint(x) && fabs(x) < DOUBLE_EXACT_INT)
		v.val.numeric = int64_to_numeric((int64) x);
	else
	{
		char		tmp[DOUBLE_SHORTEST_DECIMAL_LEN];

		double_to_shortest_decimal_buf(x, tmp);
		v.val.numeric = DatumGetNumeric(DirectFunctionCall3(numeric_in, CStringGetDatum(tmp),
															ObjectIdGetDatum(InvalidOid),
															Int32GetDatum(-1)));
	}
	pushJsonbValue(st, WJB_VALUE, &v);
}

/*
 * push_ts: the string of to_jsonb(timestamptz): ISO 8601 with the session's offset. (A pushed
 * string is referenced, not copied, until the value is serialized: it must outlive this call.)
 */
static void
push_ts(JsonbParseState **st, TimestampTz ts)
{
	char	   *tmp = palloc(MAXDATELEN + 1);

	JsonEncodeDateTime(tmp, TimestampTzGetDatum(ts), TIMESTAMPTZOID, NULL);
	push_string(st, tmp);
}

/*
 * graph_actions: fills out with the actions of one bar whose node values are v[i]: the first
 * enter_long (enter_short) node in node order that fires gives its side (its value is the size);
 * when both sides fire, "conflict" is true and no bracket is reported. Otherwise the brackets are
 * those of the entry that fired. The dispatcher (through ex7._evaluate's JSON) and the backtest
 * (directly) read the same actions.
 */
void
graph_actions(const GraphPlan *plan, const double *v, GraphActions *out)
{
	int			chosen;

	out->enter_long = -1;
	out->enter_short = -1;
	out->exit_long = false;
	out->exit_short = false;
	out->stop_loss_ticks = NAN;
	out->take_profit_ticks = NAN;
	for (int i = 0; i < plan->nnodes; i++)
	{
		switch (plan->nodes[i].def->op)
		{
			case OP_ENTER_LONG:
				if (out->enter_long < 0 && !isnan(v[i]))
					out->enter_long = i;
				break;
			case OP_ENTER_SHORT:
				if (out->enter_short < 0 && !isnan(v[i]))
					out->enter_short = i;
				break;
			case OP_EXIT_LONG:
				out->exit_long = out->exit_long || truthy(v[i]);
				break;
			case OP_EXIT_SHORT:
				out->exit_short = out->exit_short || truthy(v[i]);
				break;
			default:
				break;
		}
	}
	out->conflict = out->enter_long >= 0 && out->enter_short >= 0;
	chosen = out->conflict ? -1 : out->enter_long >= 0 ? out->enter_long : out->enter_short;
	for (int i = 0; i < plan->nnodes && chosen >= 0; i++)
	{
		const PlanNode *node = &plan->nodes[i];

		if (node->def->op == OP_STOP_LOSS_TICKS && node->in[0] == chosen)
			out->stop_loss_ticks = node->pv[0];
		if (node->def->op == OP_TAKE_PROFIT_TICKS && node->in[0] == chosen)
			out->take_profit_ticks = node->pv[0];
	}
}

/*
 * push_result: pushes the fields of one bar's result into the open object: the actions
 * (graph_actions) and "values". v[i] is node i's value at the bar. Actions are reported as
 * computed, warm or not: "warm" tells the caller whether to trust them.
 */
static void
push_result(JsonbParseState **st, const GraphPlan *plan, const double *v, bool warm)
{
	GraphActions a;
	int			lng,
				sht;
	bool		xl,
				xs,
				conflict;
	double		stop,
				target;

	graph_actions(plan, v, &a);
	lng = a.enter_long;
	sht = a.enter_short;
	xl = a.exit_long;
	xs = a.exit_short;
	conflict = a.conflict;
	stop = a.stop_loss_ticks;
	target = a.take_profit_ticks;

	push_key(st, "warm");
	push_bool(st, warm);
	push_key(st, "conflict");
	push_bool(st, conflict);
	push_key(st, "enter_long");
	push_number(st, lng >= 0 ? v[lng] : NAN);
	push_key(st, "enter_short");
	push_number(st, sht >= 0 ? v[sht] : NAN);
	push_key(st, "exit_long");
	push_bool(st, xl);
	push_key(st, "exit_short");
	push_bool(st, xs);
	push_key(st, "stop_loss_ticks");
	push_number(st, stop);
	push_key(st, "take_profit_ticks");
	push_number(st, target);
	push_key(st, "values");
	pushJsonbValue(st, WJB_BEGIN_OBJECT, NULL);
	for (int i = 0; i < plan->nnodes; i++)
	{
		push_key(st, plan->nodes[i].id);
		if (plan->nodes[i].def->bool_value)
			push_bool(st, truthy(v[i]));
		else
			push_number(st, v[i]);
	}
	pushJsonbValue(st, WJB_END_OBJECT, NULL);
}

static Datum
text_to_jsonb(StringInfo buf)
{
	return DirectFunctionCall1(jsonb_in, CStringGetDatum(buf->data));
}

/* ------------------------------------------------------------------------------------------------
 * The plan cache.
 * -------------------------------------------------------------------------------------------------
 * */

/*
 * plan_copy: returns a copy of plan allocated in cxt (node definitions and time zones are static).
 */
static GraphPlan *
plan_copy(const GraphPlan *plan, MemoryContext cxt)
{
	GraphPlan  *copy = MemoryContextAlloc(cxt, sizeof(GraphPlan));

	*copy = *plan;
	copy->nodes = MemoryContextAlloc(cxt, sizeof(PlanNode) * Max(plan->nnodes, 1));
	copy->order = MemoryContextAlloc(cxt, sizeof(int) * Max(plan->nnodes, 1));
	for (int i = 0; i < plan->nnodes; i++)
	{
		copy->nodes[i] = plan->nodes[i];
		copy->nodes[i].id = MemoryContextStrdup(cxt, plan->nodes[i].id);
		copy->order[i] = plan->order[i];
	}
	return copy;
}

static uint64
graph_hash(Jsonb *graph)
{
	return DatumGetUInt64(DirectFunctionCall2(jsonb_hash_extended, PointerGetDatum(graph),
											  Int64GetDatum(0)));
}

/*
 * plan_matches: whether entry was compiled from graph. Versions are immutable
 * (ex7._versions_immutable), so this is a safety check against a caller's mistake, and the common
 * answer is yes: an equal size and equal bytes. Equal graphs with different bytes (1.0 and 1.00)
 * only cost a compile.
 */
static bool
plan_matches(PlanEntry *entry, Jsonb *graph)
{
	if (VARSIZE(graph) != entry->graph_size)
		return false;
	if (entry->graph != NULL)
		return memcmp(entry->graph, graph, entry->graph_size) == 0;
	return graph_hash(graph) == entry->graph_hash;
}

/*
 * cached_plan: returns the compiled plan of (id, version) whose graph is graph, compiling and
 * caching it when needed. An invalid graph raises X7422 and caches nothing: the plan is compiled in
 * a context under the caller's, which the error releases, and moves under the cache only once
 * complete.
 */
static GraphPlan *
cached_plan(pg_uuid_t *id, int32 version, Jsonb *graph)
{
	PlanKey		key;
	PlanEntry  *entry;
	bool		found;
	Size		bytes;
	Jsonb	   *graph_copy = NULL;
	uint64		hash = 0;
	MemoryContext cxt,
				scratch,
				old;
	GraphPlan  *plan;

	if (plan_cache == NULL)
	{
		HASHCTL		ctl;

		plan_cache_cxt = AllocSetContextCreate(CacheMemoryContext, "ex7 graph plans",
											   ALLOCSET_DEFAULT_SIZES);
		ctl.keysize = sizeof(PlanKey);
		ctl.entrysize = sizeof(PlanEntry);
		ctl.hcxt = plan_cache_cxt;
		plan_cache = hash_create("ex7 graph plans", PLAN_CACHE_MAX, &ctl,
								 HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
	}
	memset(&key, 0, sizeof(key));
	memcpy(&key.id, id, sizeof(pg_uuid_t));
	key.version = version;

	entry = hash_search(plan_cache, &key, HASH_FIND, NULL);
	if (entry != NULL && plan_matches(entry, graph))
	{
		dlist_move_head(&plan_lru, &entry->lru);
		plan_hits++;
		return entry->plan;
	}

	/*
	 * Compile in a scratch context (the compiler's lookups allocate as they go), then keep only a
	 * copy of the plan: a cached plan holds nothing but itself.
	 */
	scratch = AllocSetContextCreate(CurrentMemoryContext, "ex7 graph compile",
									ALLOCSET_DEFAULT_SIZES);
	old = MemoryContextSwitchTo(scratch);
	plan = graph_compile(graph, GRAPH_LOC);
	/* under the caller's context, not the scratch one, until it moves under the cache */
	cxt = AllocSetContextCreate(old, "ex7 graph plan", ALLOCSET_SMALL_SIZES);
	plan = plan_copy(plan, cxt);
	MemoryContextSwitchTo(old);
	MemoryContextDelete(scratch);
	plan_compiles++;

	if (VARSIZE(graph) <= PLAN_GRAPH_COPY_MAX)
	{
		graph_copy = MemoryContextAlloc(cxt, VARSIZE(graph));
		memcpy(graph_copy, graph, VARSIZE(graph));
	}
	else
		hash = graph_hash(graph);
	bytes = MemoryContextMemAllocated(cxt, true);

	/* from here only the hash table's new entry allocates (it may fail, leaving the cache whole) */
	if (entry != NULL)
	{
		/* the same key with another graph: the new plan replaces the old one */
		dlist_delete(&entry->lru);
		plan_bytes -= entry->bytes;
		MemoryContextDelete(entry->cxt);
	}
	while (!dlist_is_empty(&plan_lru) &&
		   (hash_get_num_entries(plan_cache) >= PLAN_CACHE_MAX + (entry != NULL ? 1 : 0) ||
			plan_bytes + bytes > PLAN_CACHE_BYTES))
	{
		PlanEntry  *lru = dlist_container(PlanEntry, lru, dlist_tail_node(&plan_lru));

		dlist_delete(&lru->lru);
		plan_bytes -= lru->bytes;
		MemoryContextDelete(lru->cxt);
		hash_search(plan_cache, &lru->key, HASH_REMOVE, NULL);
		plan_evictions++;
	}
	if (entry == NULL)
		entry = hash_search(plan_cache, &key, HASH_ENTER, &found);
	MemoryContextSetParent(cxt, plan_cache_cxt);
	entry->cxt = cxt;
	entry->plan = plan;
	entry->graph_size = VARSIZE(graph);
	entry->graph = graph_copy;
	entry->graph_hash = hash;
	entry->bytes = bytes;
	plan_bytes += bytes;
	dlist_push_head(&plan_lru, &entry->lru);
	return plan;
}

/* ------------------------------------------------------------------------------------------------
 * The bar window: the bars ex7._evaluate reads, kept for the rest of the transaction.
 * -------------------------------------------------------------------------------------------------
 * */

/*
 * The dispatcher evaluates every running strategy of a series on the bar just stored, one
 * ex7._evaluate call each, and every call wants the newest bars of the same series. The first
 * call reads them into this backend-local window (as many as the most any caller has asked for in
 * this transaction); later calls take a slice of it instead of reading, as long as the read would
 * return exactly the same rows. That holds while all of these hold (docs/engine.md, "The bar
 * window"):
 *
 *	1. the same transaction, table and user (BarsTable): a transaction callback empties the window
 *	   when the transaction ends;
 *	2. no subtransaction aborted since the read: a subtransaction callback forgets the window (the
 *	   rows an aborted subtransaction wrote are invisible again, the ones it deleted visible);
 *	3. the snapshot sees the same other transactions: xmin, xmax and the lists of running
 *	   transactions equal those of the snapshot the window was read under (always the case in
 *	   REPEATABLE READ; in READ COMMITTED until another transaction ends);
 *	4. this transaction's own writes are seen alike: either the snapshot's command id is the one
 *	   of the read (what a command sees of its own transaction's writes cannot change), or it is a
 *	   later one, the read was *clean* (it saw every write the transaction had made to ex7.bars)
 *	   and the transaction has not written ex7.bars since. (An earlier command id sees fewer of the
 *	   transaction's writes: a statement's own snapshot is older than the commands of the functions
 *	   it calls.)
 *
 * Writes to ex7.bars are counted by PostgreSQL's per-transaction table counters: the rows this
 * transaction inserted, updated and deleted, attempted ones included, as pg_stat_xact_user_tables
 * shows them, kept while track_counts is on (the default). TRUNCATE and DROP reset those counters:
 * after one, or with track_counts off, a window serves only the command that read it.
 *
 * A read is clean when an earlier call of this transaction, made while the command counter was
 * below the read's snapshot command id, saw the same count of writes: every write so far came
 * before that call, in a command the read sees. A write earlier in the read's own command (a
 * data-modifying WITH) is not visible to the read, and such a read serves its own command only.
 * In the dispatcher, the first strategy's call reads in its own command, the second reads again,
 * clean, and every other strategy of the bar takes a slice.
 */
#define WINDOW_MAX_BARS		(2 * GRAPH_MAX_LOOKBACK)

/*
 * What else a read depends on: the table (dropped and created again, or rewritten by a TRUNCATE or
 * an ALTER TABLE, it has another oid or relfilenode) and the user reading (whose privileges the
 * read checks). ex7.bars has no row security: bars are the same for every user.
 */
typedef struct BarsTable
{
	Oid			relid;			/* ex7.bars, InvalidOid when there is none */
	Oid			relfilenode;
	Oid			userid;
} BarsTable;

typedef struct BarWindow
{
	/* the series (valid while key_set) */
	bool		key_set;
	LocalTransactionId lxid;
	BarsTable	table;
	char	   *instrument;
	Size		instrument_len;
	char	   *timeframe;
	Size		timeframe_len;
	/* the bars: every bar with ts <= upper, newest n of them, oldest first */
	TimestampTz upper;
	bool		from_start;		/* fewer than asked for: no bar before ts[0] */
	int			n;
	TimestampTz *ts;
	double	   *open;
	double	   *high;
	double	   *low;
	double	   *close;
	double	   *volume;
	Datum	   *close_num;		/* the exact numeric close */
	char	  **close_text;		/* its text, made when first asked for */
	/* when the bars may be used again (rules 3 and 4) */
	bool		valid;
	CommandId	curcid;
	bool		clean;
	uint64		writes;
	TransactionId xmin;
	TransactionId xmax;
	uint32		xcnt;
	TransactionId *xip;
	bool		suboverflowed;
	int32		subxcnt;
	TransactionId *subxip;
} BarWindow;

static BarWindow win;
static MemoryContext window_cxt = NULL;
/* the most bars a call asked for from the window's series in this transaction */
static int	window_max_cap = 0;
/* the last call's count of writes to ex7.bars and the command counter then (rule 4) */
static bool obs_valid = false;
static uint64 obs_writes = 0;
static CommandId obs_command = InvalidCommandId;
/* counters for ex7._graph_cache_stats */
static uint64 window_reads = 0;
static uint64 window_hits = 0;
static SPIPlanPtr bars_plan = NULL;

/* window_forget: the window may not be used again; with all, the series and its memory go too */
static void
window_forget(bool all)
{
	win.valid = false;
	obs_valid = false;
	if (all)
	{
		win.key_set = false;
		window_max_cap = 0;
		if (window_cxt != NULL)
			MemoryContextReset(window_cxt);
	}
}

static void
window_xact_callback(XactEvent event, void *arg)
{
	switch (event)
	{
		case XACT_EVENT_COMMIT:
		case XACT_EVENT_PARALLEL_COMMIT:
		case XACT_EVENT_ABORT:
		case XACT_EVENT_PARALLEL_ABORT:
		case XACT_EVENT_PREPARE:
			window_forget(true);
			break;
		default:
			break;
	}
}

static void
window_subxact_callback(SubXactEvent event, SubTransactionId mySubid, SubTransactionId parentSubid,
						void *arg)
{
	if (event == SUBXACT_EVENT_ABORT_SUB)
		window_forget(false);
}

/* bars_table: ex7.bars as it is now (one syscache lookup) */
static void
bars_table(BarsTable *table)
{
	Oid			nsp = get_namespace_oid("ex7", true);
	HeapTuple	tup;

	table->relid = InvalidOid;
	table->relfilenode = InvalidOid;
	table->userid = GetUserId();
	if (!OidIsValid(nsp))
		return;
	tup = SearchSysCache2(RELNAMENSP, CStringGetDatum("bars"), ObjectIdGetDatum(nsp));
	if (!HeapTupleIsValid(tup))
		return;
	table->relid = ((Form_pg_class) GETSTRUCT(tup))->oid;
	table->relfilenode = ((Form_pg_class) GETSTRUCT(tup))->relfilenode;
	ReleaseSysCache(tup);
}

/*
 * bars_writes: the rows of ex7.bars (relid) this transaction has inserted, updated and deleted,
 * attempted ones included (what pg_stat_get_xact_tuples_inserted and its siblings add up; the
 * backend's pending counts are only flushed outside a transaction, so within one the sum never
 * goes down). *counted is false when the sum cannot be trusted to have moved with every write:
 * track_counts off, or a TRUNCATE or DROP, which reset the counts.
 */
static uint64
bars_writes(Oid relid, bool *counted)
{
	PgStat_TableStatus *t = OidIsValid(relid) ? find_tabstat_entry(relid) : NULL;
	uint64		w;

	*counted = pgstat_track_counts && OidIsValid(relid);
	if (t == NULL)
		return 0;
	if (t->t_counts.t_truncdropped)
		*counted = false;
	w = t->t_counts.t_tuples_inserted + t->t_counts.t_tuples_updated +
		t->t_counts.t_tuples_deleted;
	for (PgStat_TableXactStatus *x = t->trans; x != NULL; x = x->upper)
	{
		if (x->truncdropped)
			*counted = false;
		w += x->tuples_inserted + x->tuples_updated + x->tuples_deleted;
	}
	return w;
}

/* window_same_others: snapshot s sees the other transactions as the window's read did */
static bool
window_same_others(Snapshot s)
{
	return s->snapshot_type == SNAPSHOT_MVCC &&
		s->xmin == win.xmin && s->xmax == win.xmax && s->xcnt == win.xcnt &&
		s->suboverflowed == win.suboverflowed && s->subxcnt == win.subxcnt &&
		(s->xcnt == 0 || memcmp(s->xip, win.xip, sizeof(TransactionId) * s->xcnt) == 0) &&
		(s->subxcnt <= 0 ||
		 memcmp(s->subxip, win.subxip, sizeof(TransactionId) * s->subxcnt) == 0);
}

static bool
window_same_series(const BarsTable *table, text *instrument, text *timeframe)
{
	return win.key_set && win.lxid == MyProc->lxid && table->relid == win.table.relid &&
		table->relfilenode == win.table.relfilenode && table->userid == win.table.userid &&
		VARSIZE_ANY_EXHDR(instrument) == win.instrument_len &&
		VARSIZE_ANY_EXHDR(timeframe) == win.timeframe_len &&
		memcmp(VARDATA_ANY(instrument), win.instrument, win.instrument_len) == 0 &&
		memcmp(VARDATA_ANY(timeframe), win.timeframe, win.timeframe_len) == 0;
}

/* window_index: the index of the last bar of the window with ts <= t, or -1 */
static int
window_index(TimestampTz t)
{
	int			lo = 0,
				hi = win.n;		/* the answer is lo - 1 once lo == hi */

	while (lo < hi)
	{
		int			mid = lo + (hi - lo) / 2;

		if (win.ts[mid] <= t)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo - 1;
}

/*
 * window_slice: points b at what "ts <= bar_ts ORDER BY ts DESC LIMIT cap" returns when the
 * newest of those bars closes at bar_ts (b->n = 0 otherwise), and *at at that bar's index (-1:
 * none). Returns false when the window cannot tell.
 */
static bool
window_slice(TimestampTz bar_ts, int cap, BarSeries *b, int *at)
{
	int			k,
				first;

	*at = -1;
	b->n = 0;
	b->complete = false;
	b->ts = NULL;
	if (bar_ts > win.upper)
		return false;
	k = window_index(bar_ts);
	if (k < 0)
		return win.from_start;	/* no bar at or before bar_ts at all */
	if (win.ts[k] != bar_ts)
		return true;			/* the window has every bar from ts[0] on: none closes then */
	if (k + 1 >= cap)
		first = k + 1 - cap;
	else if (win.from_start)
	{
		first = 0;
		b->complete = true;
	}
	else
		return false;
	b->n = k + 1 - first;
	b->ts = win.ts + first;
	b->open = win.open + first;
	b->high = win.high + first;
	b->low = win.low + first;
	b->close = win.close + first;
	b->volume = win.volume + first;
	*at = k;
	return true;
}

/*
 * window_read: reads the newest limit bars of the series with ts <= upper (a prepared SPI plan,
 * newest first through the primary key) into the window. It may be used again when snap is a
 * snapshot to compare later ones with.
 */
static void
window_read(const BarsTable *table, text *instrument, text *timeframe, TimestampTz upper,
			int limit, Snapshot snap, uint64 writes, bool clean)
{
	Datum		args[4];
	MemoryContext old;
	int			n;

	win.valid = false;
	win.key_set = false;
	MemoryContextReset(window_cxt);

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	if (bars_plan == NULL)
	{
		Oid			types[4] = {TEXTOID, TEXTOID, TIMESTAMPTZOID, INT4OID};
		SPIPlanPtr	p;

		/*
		 * newest first through the primary key (instrument, timeframe, ts). Every name qualified:
		 * ex7._evaluate runs without a pinned search_path (ext/sql/99_search_path.sql), so this is
		 * planned under its caller's, which may put objects of its own before pg_catalog.
		 */
		p = SPI_prepare("SELECT b.ts, b.open::pg_catalog.float8, b.high::pg_catalog.float8, "
						"b.low::pg_catalog.float8, b.close::pg_catalog.float8, b.volume::pg_catalog.float8, "
						"b.close FROM ex7.bars b "
						"WHERE b.instrument OPERATOR(pg_catalog.=) $1 "
						"AND b.timeframe OPERATOR(pg_catalog.=) $2 AND b.ts OPERATOR(pg_catalog.<=) $3 "
						"ORDER BY b.ts DESC LIMIT $4", 4, types);
		if (p == NULL || SPI_keepplan(p) != 0)
			elog(ERROR, "could not prepare the bars query: %s", SPI_result_code_string(SPI_result));
		bars_plan = p;
	}
	args[0] = PointerGetDatum(instrument);
	args[1] = PointerGetDatum(timeframe);
	args[2] = TimestampTzGetDatum(upper);
	args[3] = Int32GetDatum(limit);
	if (SPI_execute_plan(bars_plan, args, NULL, true, limit) != SPI_OK_SELECT)
		elog(ERROR, "the bars query failed");

	old = MemoryContextSwitchTo(window_cxt);
	n = (int) SPI_processed;
	win.n = n;
	win.ts = palloc(sizeof(TimestampTz) * Max(n, 1));
	win.open = palloc(sizeof(double) * Max(n, 1));
	win.high = palloc(sizeof(double) * Max(n, 1));
	win.low = palloc(sizeof(double) * Max(n, 1));
	win.close = palloc(sizeof(double) * Max(n, 1));
	win.volume = palloc(sizeof(double) * Max(n, 1));
	win.close_num = palloc(sizeof(Datum) * Max(n, 1));
	win.close_text = palloc0(sizeof(char *) * Max(n, 1));
	for (int r = 0; r < n; r++)
	{
		HeapTuple	tup = SPI_tuptable->vals[r];
		TupleDesc	td = SPI_tuptable->tupdesc;
		int			t = n - 1 - r;
		bool		isnull;

		win.ts[t] = DatumGetTimestampTz(SPI_getbinval(tup, td, 1, &isnull));
		win.open[t] = DatumGetFloat8(SPI_getbinval(tup, td, 2, &isnull));
		win.high[t] = DatumGetFloat8(SPI_getbinval(tup, td, 3, &isnull));
		win.low[t] = DatumGetFloat8(SPI_getbinval(tup, td, 4, &isnull));
		win.close[t] = DatumGetFloat8(SPI_getbinval(tup, td, 5, &isnull));
		win.volume[t] = DatumGetFloat8(SPI_getbinval(tup, td, 6, &isnull));
		win.close_num[t] = datumCopy(SPI_getbinval(tup, td, 7, &isnull), false, -1);
	}
	win.instrument_len = VARSIZE_ANY_EXHDR(instrument);
	win.instrument = palloc(Max(win.instrument_len, 1));
	memcpy(win.instrument, VARDATA_ANY(instrument), win.instrument_len);
	win.timeframe_len = VARSIZE_ANY_EXHDR(timeframe);
	win.timeframe = palloc(Max(win.timeframe_len, 1));
	memcpy(win.timeframe, VARDATA_ANY(timeframe), win.timeframe_len);
	win.upper = upper;
	win.from_start = n < limit;
	win.table = *table;
	win.lxid = MyProc->lxid;
	win.key_set = true;
	if (snap != NULL && snap->snapshot_type == SNAPSHOT_MVCC && OidIsValid(table->relid))
	{
		win.curcid = snap->curcid;
		win.clean = clean;
		win.writes = writes;
		win.xmin = snap->xmin;
		win.xmax = snap->xmax;
		win.xcnt = snap->xcnt;
		win.xip = palloc(sizeof(TransactionId) * Max(snap->xcnt, 1));
		if (snap->xcnt > 0)
			memcpy(win.xip, snap->xip, sizeof(TransactionId) * snap->xcnt);
		win.suboverflowed = snap->suboverflowed;
		win.subxcnt = snap->subxcnt;
		win.subxip = palloc(sizeof(TransactionId) * Max(snap->subxcnt, 1));
		if (snap->subxcnt > 0)
			memcpy(win.subxip, snap->subxip, sizeof(TransactionId) * snap->subxcnt);
		win.valid = true;
	}
	MemoryContextSwitchTo(old);
	SPI_finish();
	window_reads++;
}

/*
 * window_bars: points b at the bars of (instrument, timeframe) that "ts <= bar_ts ORDER BY ts DESC
 * LIMIT cap" returns, oldest first, when the newest of them closes at bar_ts; b->n is 0 when no bar
 * closes at bar_ts. Returns the closing bar's close as exact numeric text, or NULL. b points into
 * the window, good until the next call; the text is allocated in CurrentMemoryContext.
 */
static char *
window_bars(text *instrument, text *timeframe, TimestampTz bar_ts, int cap, BarSeries *b)
{
	static bool callbacks = false;
	Snapshot	snap = ActiveSnapshotSet() ? GetActiveSnapshot() : NULL;
	BarsTable	table;
	bool		counted;
	uint64		writes;
	bool		same,
				usable,
				clean;
	TimestampTz upper = bar_ts;
	int			limit,
				at;

	if (!callbacks)
	{
		window_cxt = AllocSetContextCreate(TopMemoryContext, "ex7 bar window",
										   ALLOCSET_DEFAULT_SIZES);
		RegisterXactCallback(window_xact_callback, NULL);
		RegisterSubXactCallback(window_subxact_callback, NULL);
		callbacks = true;
	}
	bars_table(&table);
	writes = bars_writes(table.relid, &counted);
	same = window_same_series(&table, instrument, timeframe);
	if (!same)
		window_max_cap = 0;
	window_max_cap = Max(window_max_cap, cap);
	usable = same && win.valid && snap != NULL && window_same_others(snap) &&
		(snap->curcid == win.curcid ||
		 (snap->curcid > win.curcid && counted && win.clean && writes == win.writes));
	/* a read now is clean when the last call, in an earlier command, saw as many writes (rule 4) */
	clean = counted && snap != NULL && obs_valid && obs_writes == writes &&
		obs_command < snap->curcid;
	obs_valid = counted;
	obs_writes = writes;
	obs_command = GetCurrentCommandId(false);

	if (usable && window_slice(bar_ts, cap, b, &at))
		window_hits++;
	else
	{
		limit = window_max_cap;
		if (usable && win.n > 0 && bar_ts >= win.ts[0] && bar_ts < win.upper)
		{
			/* an earlier bar of the window with too little history: read further back */
			int			newer = win.n - 1 - window_index(bar_ts);

			if (newer + cap <= WINDOW_MAX_BARS)
			{
				upper = win.upper;
				limit = Max(limit, newer + cap);
			}
		}
		window_read(&table, instrument, timeframe, upper, limit, snap, writes, clean);
		/* at least cap bars up to bar_ts, or the newer ones kept and cap more: always covers it */
		if (!window_slice(bar_ts, cap, b, &at))
			elog(ERROR, "the bars read do not cover the bar");
	}
	if (at < 0)
		return NULL;
	if (win.close_text[at] == NULL)
	{
		Datum		text = DirectFunctionCall1(numeric_out, win.close_num[at]);

		win.close_text[at] = MemoryContextStrdup(window_cxt, DatumGetCString(text));
	}
	return pstrdup(win.close_text[at]);
}

/* ------------------------------------------------------------------------------------------------
 * Bars from JSON (evaluate_graph_on, evaluate_graph_series).
 * -------------------------------------------------------------------------------------------------
 * */

/* bars_loc: the locator ["body","bars",i] or ["body","bars",i,field] */
static char *
bars_loc(int i, const char *field)
{
	return loc_path(BARS_LOC, strlen(BARS_LOC), false, NULL, i, field, NULL);
}

/*
 * bar_number: the value of a bar field: a JSON number or a numeric string (exact decimals travel as
 * strings, docs/errors.md). Raises X7422 at ["body","bars",i,field] otherwise.
 */
static double
bar_number(JsonbValue *v, int i, const char *field)
{
	double		d = NAN;

	if (v->type == jbvNumeric)
		d = json_number(v);
	else if (v->type == jbvString)
	{
		char	   *s = pnstrdup(v->val.string.val, v->val.string.len);
		char	   *end;

		d = strtod(s, &end);
		if (end == s || *end != '\0')
			d = NAN;
	}
	else
		fail(bars_loc(i, field), "type_error.float",
			 "value is not a valid float");
	if (!isfinite(d))
		fail(bars_loc(i, field), "type_error.float",
			 "value is not a valid float");
	return d;
}

/*
 * bar_ts: the timestamptz of an ISO 8601 string, parsed without raising (ParseDateTime and
 * DecodeDateTime return codes), so that a bad one is a 422 with its locator.
 */
static TimestampTz
bar_ts(JsonbValue *v, int i)
{
	char	   *loc = bars_loc(i, "ts");
	char		workbuf[MAXDATELEN + MAXDATEFIELDS];
	char	   *field[MAXDATEFIELDS];
	int			ftype[MAXDATEFIELDS];
	int			nf,
				dtype,
				tz;
	struct pg_tm tm;
	fsec_t		fsec;
	TimestampTz result;
	char	   *s;

	if (v->type != jbvString || v->val.string.len > MAXDATELEN)
		fail(loc, "type_error.datetime", "invalid datetime format");
	s = pnstrdup(v->val.string.val, v->val.string.len);
	if (ParseDateTime(s, workbuf, sizeof(workbuf), field, ftype, MAXDATEFIELDS, &nf) != 0 ||
		DecodeDateTime(field, ftype, nf, &dtype, &tm, &fsec, &tz) != 0 || dtype != DTK_DATE ||
		tm2timestamp(&tm, fsec, &tz, &result) != 0)
		fail(loc, "type_error.datetime", "invalid datetime format");
	/* a calendar the time zone database covers (local clocks of far-off years are not defined) */
	if (tm.tm_year < 1900 || tm.tm_year > 9999)
		fail(loc, "value_error.datetime", "ensure the year is from 1900 to 9999");
	return result;
}

/*
 * bars_from_json: the bars of a JSON list, oldest first: each a number (a close; open, high and low
 * equal it, volume 0) or an object {ts?, open?, high?, low?, close, volume?} (open, high and low
 * default to close, volume to 0). Either every bar has a ts, strictly increasing, or none has.
 */
static void
bars_from_json(Jsonb *bars, BarSeries *b)
{
	JsonbContainer *bc = &bars->root;
	static const char *const fields[] = {"ts", "open", "high", "low", "close", "volume", NULL};

	if (JB_ROOT_IS_SCALAR(bars) || !JB_ROOT_IS_ARRAY(bars))
		fail(BARS_LOC, "type_error.list", "value is not a valid list");
	b->n = JsonContainerSize(bc);
	if (b->n > GRAPH_MAX_BARS)
		fail(BARS_LOC, "value_error.list.max_items", "ensure this value has at most %d items",
			 GRAPH_MAX_BARS);
	b->open = palloc(sizeof(double) * Max(b->n, 1));
	b->high = palloc(sizeof(double) * Max(b->n, 1));
	b->low = palloc(sizeof(double) * Max(b->n, 1));
	b->close = palloc(sizeof(double) * Max(b->n, 1));
	b->volume = palloc(sizeof(double) * Max(b->n, 1));
	b->ts = NULL;
	b->complete = true;

	for (int i = 0; i < b->n; i++)
	{
		JsonbValue *e = getIthJsonbValueFromContainer(bc, i);
		JsonbContainer *oc;
		JsonbValue *v;
		char	   *extra;

		if (e->type == jbvNumeric)
		{
			b->open[i] = b->high[i] = b->low[i] = b->close[i] = bar_number(e, i, NULL);
			b->volume[i] = 0;
			if (i > 0 && b->ts != NULL)
				fail(bars_loc(i, NULL),
					 "value_error.missing", "ts required: the first bar has one");
			continue;
		}
		if (!is_object(e))
			fail(bars_loc(i, NULL), "type_error.dict",
				 "value is not a valid dict");
		oc = e->val.binary.data;
		extra = first_key_outside(oc, fields);
		if (extra)
			fail(bars_loc(i, extra), "value_error.extra",
				 "extra fields not permitted");
		v = obj_get(oc, "close");
		if (v == NULL)
			fail(bars_loc(i, "close"),
				 "value_error.missing", "field required");
		b->close[i] = bar_number(v, i, "close");
		v = obj_get(oc, "open");
		b->open[i] = v ? bar_number(v, i, "open") : b->close[i];
		v = obj_get(oc, "high");
		b->high[i] = v ? bar_number(v, i, "high") : b->close[i];
		v = obj_get(oc, "low");
		b->low[i] = v ? bar_number(v, i, "low") : b->close[i];
		v = obj_get(oc, "volume");
		b->volume[i] = v ? bar_number(v, i, "volume") : 0;
		if (b->volume[i] < 0)
			fail(bars_loc(i, "volume"),
				 "value_error.number.not_ge", "ensure this value is greater than or equal to 0");

		v = obj_get(oc, "ts");
		if (i == 0 && v != NULL)
			b->ts = palloc(sizeof(TimestampTz) * b->n);
		if ((v != NULL) != (b->ts != NULL))
			fail(bars_loc(i, "ts"),
				 v ? "value_error.extra" : "value_error.missing",
				 v ? "ts not permitted: the first bar has none" :
				 "ts required: the first bar has one");
		if (v != NULL)
		{
			b->ts[i] = bar_ts(v, i);
			if (i > 0 && b->ts[i] <= b->ts[i - 1])
				fail(bars_loc(i, "ts"),
					 "value_error.order", "bars must be in increasing ts order");
		}
	}
}

/* ------------------------------------------------------------------------------------------------
 * SQL-callable functions.
 * -------------------------------------------------------------------------------------------------
 * */

/*
 * list_engines: returns {"engines": [...], "port_types": [...], "limits": {...}}: the node catalog
 * for a strategy-builder UI (GET /api/engines).
 */
PG_FUNCTION_INFO_V1(list_engines);
Datum
list_engines(PG_FUNCTION_ARGS)
{
	StringInfoData buf;

	initStringInfo(&buf);
	appendStringInfoString(&buf, "{\"engines\": ");
	node_catalog_json(&buf);
	appendStringInfo(&buf, ", \"port_types\": [\"series\", \"boolean\", \"entry\", \"action\"], "
					 "\"limits\": {\"max_nodes\": %d, \"max_edges\": %d, \"max_id_length\": %d, "
					 "\"max_lookback\": %d}}",
					 GRAPH_MAX_NODES, GRAPH_MAX_EDGES, GRAPH_MAX_ID_LEN, GRAPH_MAX_LOOKBACK);
	PG_RETURN_DATUM(text_to_jsonb(&buf));
}

/*
 * loc_arg: the locator argument as a JSON array literal.
 */
static char *
loc_arg(Jsonb *loc)
{
	if (JB_ROOT_IS_SCALAR(loc) || !JB_ROOT_IS_ARRAY(loc))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("the locator must be a JSON array")));
	return JsonbToCString(NULL, &loc->root, VARSIZE(loc));
}

/*
 * validate_graph: returns {nodes, edges, lookback, entries: [{id, side, size, stop_loss_ticks,
 * take_profit_ticks}]} for a valid graph; raises X7422 under the locator p_loc otherwise.
 */
PG_FUNCTION_INFO_V1(validate_graph);
Datum
validate_graph(PG_FUNCTION_ARGS)
{
	Jsonb	   *graph = PG_ARGISNULL(0) ? NULL : PG_GETARG_JSONB_P(0);
	char	   *loc = PG_ARGISNULL(1) ? GRAPH_LOC : loc_arg(PG_GETARG_JSONB_P(1));
	GraphPlan  *plan = graph_compile(graph, loc);
	StringInfoData buf;
	bool		first = true;

	initStringInfo(&buf);
	appendStringInfo(&buf, "{\"nodes\": %d, \"edges\": %d, \"lookback\": %d, \"entries\": [",
					 plan->nnodes, plan->nedges, plan->lookback);
	for (int i = 0; i < plan->nnodes; i++)
	{
		PlanNode   *node = &plan->nodes[i];
		double		stop = NAN,
					target = NAN;

		if (node->def->op != OP_ENTER_LONG && node->def->op != OP_ENTER_SHORT)
			continue;
		for (int j = 0; j < plan->nnodes; j++)
		{
			if (plan->nodes[j].def->op == OP_STOP_LOSS_TICKS && plan->nodes[j].in[0] == i)
				stop = plan->nodes[j].pv[0];
			if (plan->nodes[j].def->op == OP_TAKE_PROFIT_TICKS && plan->nodes[j].in[0] == i)
				target = plan->nodes[j].pv[0];
		}
		appendStringInfoString(&buf, first ? "{\"id\": " : ", {\"id\": ");
		first = false;
		escape_json(&buf, node->id);
		appendStringInfo(&buf, ", \"side\": \"%s\", \"size\": %d, \"stop_loss_ticks\": ",
						 node->def->op == OP_ENTER_LONG ? "long" : "short", (int) node->pv[0]);
		append_value(&buf, stop, false);
		appendStringInfoString(&buf, ", \"take_profit_ticks\": ");
		append_value(&buf, target, false);
		appendStringInfoChar(&buf, '}');
	}
	appendStringInfoString(&buf, "]}");
	PG_RETURN_DATUM(text_to_jsonb(&buf));
}

/*
 * graph_check: ex7._validate_graph(p_graph, p_loc): returns nothing for a valid graph (NULL is not
 * one); raises X7422 under p_loc otherwise. The check of create, update, import and clone.
 */
PG_FUNCTION_INFO_V1(graph_check);
Datum
graph_check(PG_FUNCTION_ARGS)
{
	Jsonb	   *graph = PG_ARGISNULL(0) ? NULL : PG_GETARG_JSONB_P(0);
	char	   *loc = PG_ARGISNULL(1) ? GRAPH_LOC : loc_arg(PG_GETARG_JSONB_P(1));

	graph_compile(graph, loc);
	PG_RETURN_VOID();
}

/*
 * push_bar_result: pushes the result object for bar t of explicit bars (t = -1: there are none);
 * v holds the node values at that bar. Returns what pushJsonbValue returns for the object's end
 * (the whole value when it is the outermost).
 */
static JsonbValue *
push_bar_result(JsonbParseState **st, const GraphPlan *plan, const BarSeries *b, int t,
				const double *v)
{
	JsonbValue	n;

	pushJsonbValue(st, WJB_BEGIN_OBJECT, NULL);
	push_key(st, "bar_ts");
	if (b->ts != NULL && t >= 0)
		push_ts(st, b->ts[t]);
	else
		push_null(st);
	push_key(st, "bars");
	n.type = jbvNumeric;
	n.val.numeric = int64_to_numeric(t + 1);
	pushJsonbValue(st, WJB_VALUE, &n);
	push_result(st, plan, v, t + 1 > 0 && t + 1 >= plan->lookback);
	return pushJsonbValue(st, WJB_END_OBJECT, NULL);
}

/*
 * evaluate_bars: evaluates a graph on explicit bars (all of the history there is): one result for
 * the last bar, or with series an array of results, one per bar. Shared by evaluate_graph_on and
 * evaluate_graph_series.
 */
static Datum
evaluate_bars(FunctionCallInfo fcinfo, bool all)
{
	Jsonb	   *graph = PG_GETARG_JSONB_P(0);
	Jsonb	   *jbars = PG_GETARG_JSONB_P(1);
	MemoryContext cxt = AllocSetContextCreate(CurrentMemoryContext, "ex7 graph evaluation",
											  ALLOCSET_DEFAULT_SIZES);
	MemoryContext old = MemoryContextSwitchTo(cxt);
	GraphPlan  *plan = graph_compile(graph, GRAPH_LOC);
	BarSeries	b;
	double	  **series = palloc(sizeof(double *) * Max(plan->nnodes, 1));
	double	   *v = palloc(sizeof(double) * Max(plan->nnodes, 1));
	JsonbParseState *st = NULL;
	JsonbValue *res;
	Datum		result;

	bars_from_json(jbars, &b);
	if (all && (int64) b.n * plan->nnodes > GRAPH_MAX_SERIES_VALUES)
		fail(BARS_LOC, "value_error.list.max_items",
			 "ensure bars times nodes is at most %d (%d bars, %d nodes)", GRAPH_MAX_SERIES_VALUES,
			 b.n, plan->nnodes);
	graph_run(plan, &b, all, series, v);

	if (all)
	{
		pushJsonbValue(&st, WJB_BEGIN_ARRAY, NULL);
		for (int t = 0; t < b.n; t++)
		{
			for (int i = 0; i < plan->nnodes; i++)
				v[i] = series[i][t];
			push_bar_result(&st, plan, &b, t, v);
		}
		res = pushJsonbValue(&st, WJB_END_ARRAY, NULL);
	}
	else
		res = push_bar_result(&st, plan, &b, b.n - 1, v);

	MemoryContextSwitchTo(old);
	result = JsonbPGetDatum(JsonbValueToJsonb(res));
	MemoryContextDelete(cxt);
	PG_RETURN_DATUM(result);
}

/*
 * evaluate_graph_on: returns the result for the last of the bars p_bars (oldest first), the same
 * shape as ex7._evaluate without "close": {bar_ts, bars, warm, conflict, enter_long, enter_short,
 * exit_long, exit_short, stop_loss_ticks, take_profit_ticks, values}.
 */
PG_FUNCTION_INFO_V1(evaluate_graph_on);
Datum
evaluate_graph_on(PG_FUNCTION_ARGS)
{
	return evaluate_bars(fcinfo, false);
}

/*
 * evaluate_graph_series: returns an array of results, one per bar of p_bars, as if each bar in turn
 * were the closing bar with every earlier bar as history (the backtest's view).
 */
PG_FUNCTION_INFO_V1(evaluate_graph_series);
Datum
evaluate_graph_series(PG_FUNCTION_ARGS)
{
	return evaluate_bars(fcinfo, true);
}

/*
 * graph_evaluate: ex7._evaluate(p_strategy_id, p_version, p_graph, p_instrument, p_timeframe,
 * p_bar_ts). Returns the result for the bar of (instrument, timeframe) closing at p_bar_ts:
 * {bar_ts, bars, warm, close, conflict, enter_long, enter_short, exit_long, exit_short,
 * stop_loss_ticks, take_profit_ticks, values}. Reads the graph's lookback of bars with ts <=
 * p_bar_ts, newest first by the primary key. When no bar closes exactly at p_bar_ts, nothing is
 * evaluated: bars 0, not warm, no action. (A leading underscore is reserved for C identifiers,
 * hence the C name.)
 */
PG_FUNCTION_INFO_V1(graph_evaluate);
Datum
graph_evaluate(PG_FUNCTION_ARGS)
{
	pg_uuid_t  *id = PG_GETARG_UUID_P(0);
	int32		version = PG_GETARG_INT32(1);
	Jsonb	   *graph = PG_GETARG_JSONB_P(2);
	text	   *instrument = PG_GETARG_TEXT_PP(3);
	text	   *timeframe = PG_GETARG_TEXT_PP(4);
	TimestampTz bar_ts = PG_GETARG_TIMESTAMPTZ(5);
	GraphPlan  *plan = cached_plan(id, version, graph);
	MemoryContext cxt = AllocSetContextCreate(CurrentMemoryContext, "ex7 graph evaluation",
											  ALLOCSET_DEFAULT_SIZES);
	MemoryContext old = MemoryContextSwitchTo(cxt);
	double	  **series = palloc(sizeof(double *) * Max(plan->nnodes, 1));
	double	   *v = palloc(sizeof(double) * Max(plan->nnodes, 1));
	BarSeries	b;
	char	   *close_text;
	JsonbParseState *st = NULL;
	JsonbValue *res;
	Datum		result;

	close_text = window_bars(instrument, timeframe, bar_ts, plan->lookback, &b);
	graph_run(plan, &b, false, series, v);

	pushJsonbValue(&st, WJB_BEGIN_OBJECT, NULL);
	push_key(&st, "bar_ts");
	push_ts(&st, bar_ts);
	push_key(&st, "bars");
	push_number(&st, b.n);
	push_key(&st, "close");
	if (close_text)
		push_string(&st, close_text);
	else
		push_null(&st);
	push_result(&st, plan, v, b.n > 0 && b.n >= plan->lookback);
	res = pushJsonbValue(&st, WJB_END_OBJECT, NULL);

	MemoryContextSwitchTo(old);
	result = JsonbPGetDatum(JsonbValueToJsonb(res));
	MemoryContextDelete(cxt);
	PG_RETURN_DATUM(result);
}

/*
 * graph_cache_stats: ex7._graph_cache_stats(): returns {entries, capacity, hits, compiles,
 * evictions} of this backend's plan cache since the backend started.
 */
PG_FUNCTION_INFO_V1(graph_cache_stats);
Datum
graph_cache_stats(PG_FUNCTION_ARGS)
{
	StringInfoData buf;
	int64		entries = plan_cache ? (int64) hash_get_num_entries(plan_cache) : 0;

	initStringInfo(&buf);
	appendStringInfo(&buf, "{\"entries\": " INT64_FORMAT ", \"capacity\": %d, \"hits\": "
					 UINT64_FORMAT ", \"compiles\": " UINT64_FORMAT ", \"evictions\": "
					 UINT64_FORMAT ", \"window_reads\": " UINT64_FORMAT ", \"window_hits\": "
					 UINT64_FORMAT "}", entries, PLAN_CACHE_MAX, plan_hits, plan_compiles,
					 plan_evictions, window_reads, window_hits);
	PG_RETURN_DATUM(text_to_jsonb(&buf));
}
