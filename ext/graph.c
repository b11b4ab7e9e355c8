/*-------------------------------------------------------------------------
 *
 * graph.c
 *	  Strategy graphs: validation with locators, compilation to a plan (topological order,
 *	  lookback), the backend-local cache of compiled plans, and evaluation on a window of bars.
 *
 * Validation reports the first failure as a 422 (X7422) whose locator points at the offending
 * element, e.g. ["body","graph","nodes",3,"params","period"] (issue 4). Nothing here recurses on
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

#include "catalog/pg_type.h"
#include "common/shortest_dec.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "mb/pg_wchar.h"
#include "utils/builtins.h"
#include "utils/datetime.h"
#include "utils/hsearch.h"
#include "utils/json.h"
#include "utils/memutils.h"
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
 * (ex7._versions_immutable), so an entry never goes stale; the graph's hash is kept as well, and a
 * caller passing another graph under the same key gets it compiled afresh. 256 plans of at most 200
 * nodes are a few megabytes at worst; the least recently used plan makes room.
 */
#define PLAN_CACHE_MAX	256

typedef struct PlanKey
{
	pg_uuid_t	id;
	int32		version;
} PlanKey;

typedef struct PlanEntry
{
	PlanKey		key;
	uint64		graph_hash;
	uint64		last_used;
	MemoryContext cxt;
	GraphPlan  *plan;
} PlanEntry;

static HTAB *plan_cache = NULL;
static MemoryContext plan_cache_cxt = NULL;
static uint64 plan_tick = 0;
/* counters for ex7._graph_cache_stats */
static uint64 plan_hits = 0;
static uint64 plan_compiles = 0;
static uint64 plan_evictions = 0;
static SPIPlanPtr bars_plan = NULL;

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
static void
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
 * append_result: appends the fields of one bar's result (without braces): the actions and "values".
 * v[i] is node i's value at the bar. Actions are reported as computed, warm or not: "warm" tells
 * the caller whether to trust them. The first enter_long (enter_short) node in node order that
 * fires gives its side's size; when both sides fire, "conflict" is true and no bracket is reported.
 * Otherwise the brackets are those of the entry that fired.
 */
static void
append_result(StringInfo buf, const GraphPlan *plan, const double *v, bool warm)
{
	int			lng = -1,
				sht = -1,
				chosen;
	bool		xl = false,
				xs = false,
				conflict;
	double		stop = NAN,
				target = NAN;

	for (int i = 0; i < plan->nnodes; i++)
	{
		switch (plan->nodes[i].def->op)
		{
			case OP_ENTER_LONG:
				if (lng < 0 && !isnan(v[i]))
					lng = i;
				break;
			case OP_ENTER_SHORT:
				if (sht < 0 && !isnan(v[i]))
					sht = i;
				break;
			case OP_EXIT_LONG:
				xl = xl || truthy(v[i]);
				break;
			case OP_EXIT_SHORT:
				xs = xs || truthy(v[i]);
				break;
			default:
				break;
		}
	}
	conflict = lng >= 0 && sht >= 0;
	chosen = conflict ? -1 : lng >= 0 ? lng : sht;
	for (int i = 0; i < plan->nnodes && chosen >= 0; i++)
	{
		const PlanNode *node = &plan->nodes[i];

		if (node->def->op == OP_STOP_LOSS_TICKS && node->in[0] == chosen)
			stop = node->pv[0];
		if (node->def->op == OP_TAKE_PROFIT_TICKS && node->in[0] == chosen)
			target = node->pv[0];
	}

	appendStringInfo(buf, "\"warm\": %s, \"conflict\": %s, \"enter_long\": ",
					 warm ? "true" : "false", conflict ? "true" : "false");
	append_value(buf, lng >= 0 ? v[lng] : NAN, false);
	appendStringInfoString(buf, ", \"enter_short\": ");
	append_value(buf, sht >= 0 ? v[sht] : NAN, false);
	appendStringInfo(buf, ", \"exit_long\": %s, \"exit_short\": %s, \"stop_loss_ticks\": ",
					 xl ? "true" : "false", xs ? "true" : "false");
	append_value(buf, stop, false);
	appendStringInfoString(buf, ", \"take_profit_ticks\": ");
	append_value(buf, target, false);
	appendStringInfoString(buf, ", \"values\": {");
	for (int i = 0; i < plan->nnodes; i++)
	{
		if (i > 0)
			appendStringInfoString(buf, ", ");
		escape_json(buf, plan->nodes[i].id);
		appendStringInfoString(buf, ": ");
		append_value(buf, v[i], plan->nodes[i].def->bool_value);
	}
	appendStringInfoChar(buf, '}');
}

static void
append_ts(StringInfo buf, TimestampTz ts)
{
	/* the text of to_jsonb(timestamptz): ISO 8601 with the session's offset */
	char		tmp[MAXDATELEN + 1];

	JsonEncodeDateTime(tmp, TimestampTzGetDatum(ts), TIMESTAMPTZOID, NULL);
	appendStringInfo(buf, "\"%s\"", tmp);
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
	uint64		hash;
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
	hash = DatumGetUInt64(DirectFunctionCall2(jsonb_hash_extended, PointerGetDatum(graph),
											  Int64GetDatum(0)));

	entry = hash_search(plan_cache, &key, HASH_FIND, NULL);
	if (entry != NULL && entry->graph_hash == hash)
	{
		entry->last_used = ++plan_tick;
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

	if (entry == NULL && hash_get_num_entries(plan_cache) >= PLAN_CACHE_MAX)
	{
		HASH_SEQ_STATUS seq;
		PlanEntry  *e,
				   *lru = NULL;

		hash_seq_init(&seq, plan_cache);
		while ((e = hash_seq_search(&seq)) != NULL)
			if (lru == NULL || e->last_used < lru->last_used)
				lru = e;
		MemoryContextDelete(lru->cxt);
		hash_search(plan_cache, &lru->key, HASH_REMOVE, NULL);
		plan_evictions++;
	}
	if (entry == NULL)
		entry = hash_search(plan_cache, &key, HASH_ENTER, &found);
	else
		MemoryContextDelete(entry->cxt);
	MemoryContextSetParent(cxt, plan_cache_cxt);
	entry->cxt = cxt;
	entry->plan = plan;
	entry->graph_hash = hash;
	entry->last_used = ++plan_tick;
	return plan;
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
 * append_bar_result: appends the result object for bar t of explicit bars (t = -1: there are none);
 * v holds the node values at that bar.
 */
static void
append_bar_result(StringInfo buf, const GraphPlan *plan, const BarSeries *b, int t, const double *v)
{
	appendStringInfoString(buf, "{\"bar_ts\": ");
	if (b->ts != NULL && t >= 0)
		append_ts(buf, b->ts[t]);
	else
		appendStringInfoString(buf, "null");
	appendStringInfo(buf, ", \"bars\": %d, ", t + 1);
	append_result(buf, plan, v, t + 1 > 0 && t + 1 >= plan->lookback);
	appendStringInfoChar(buf, '}');
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
	StringInfoData buf;
	Datum		result;

	bars_from_json(jbars, &b);
	if (all && (int64) b.n * plan->nnodes > GRAPH_MAX_SERIES_VALUES)
		fail(BARS_LOC, "value_error.list.max_items",
			 "ensure bars times nodes is at most %d (%d bars, %d nodes)", GRAPH_MAX_SERIES_VALUES,
			 b.n, plan->nnodes);
	graph_run(plan, &b, all, series, v);

	initStringInfo(&buf);
	if (all)
	{
		appendStringInfoChar(&buf, '[');
		for (int t = 0; t < b.n; t++)
		{
			for (int i = 0; i < plan->nnodes; i++)
				v[i] = series[i][t];
			if (t > 0)
				appendStringInfoString(&buf, ", ");
			append_bar_result(&buf, plan, &b, t, v);
		}
	}
	else
		append_bar_result(&buf, plan, &b, b.n - 1, v);
	if (all)
		appendStringInfoChar(&buf, ']');

	MemoryContextSwitchTo(old);
	result = text_to_jsonb(&buf);
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
	TimestampTz bar_ts = PG_GETARG_TIMESTAMPTZ(5);
	GraphPlan  *plan = cached_plan(id, version, graph);
	MemoryContext cxt = AllocSetContextCreate(CurrentMemoryContext, "ex7 graph evaluation",
											  ALLOCSET_DEFAULT_SIZES);
	MemoryContext old = MemoryContextSwitchTo(cxt);
	int			cap = plan->lookback;
	BarSeries	b;
	double	  **series = palloc(sizeof(double *) * Max(plan->nnodes, 1));
	double	   *v = palloc(sizeof(double) * Max(plan->nnodes, 1));
	char	   *close_text = NULL;
	Datum		args[4];
	StringInfoData buf;
	Datum		result;
	uint64		rows;

	b.open = palloc(sizeof(double) * cap);
	b.high = palloc(sizeof(double) * cap);
	b.low = palloc(sizeof(double) * cap);
	b.close = palloc(sizeof(double) * cap);
	b.volume = palloc(sizeof(double) * cap);
	b.ts = palloc(sizeof(TimestampTz) * cap);

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	if (bars_plan == NULL)
	{
		Oid			types[4] = {TEXTOID, TEXTOID, TIMESTAMPTZOID, INT4OID};
		SPIPlanPtr	p;

		/* newest first through the primary key (instrument, timeframe, ts) */
		p = SPI_prepare("SELECT b.ts, b.open::float8, b.high::float8, b.low::float8, "
						"b.close::float8, b.volume::float8, b.close::text FROM ex7.bars b "
						"WHERE b.instrument = $1 AND b.timeframe = $2 AND b.ts <= $3 "
						"ORDER BY b.ts DESC LIMIT $4", 4, types);
		if (p == NULL || SPI_keepplan(p) != 0)
			elog(ERROR, "could not prepare the bars query: %s", SPI_result_code_string(SPI_result));
		bars_plan = p;
	}
	args[0] = PG_GETARG_DATUM(3);
	args[1] = PG_GETARG_DATUM(4);
	args[2] = TimestampTzGetDatum(bar_ts);
	args[3] = Int32GetDatum(cap);
	if (SPI_execute_plan(bars_plan, args, NULL, true, cap) != SPI_OK_SELECT)
		elog(ERROR, "the bars query failed");
	rows = SPI_processed;
	b.n = 0;
	if (rows > 0)
	{
		bool		isnull;
		TupleDesc	td = SPI_tuptable->tupdesc;

		if (DatumGetTimestampTz(SPI_getbinval(SPI_tuptable->vals[0], td, 1, &isnull)) == bar_ts)
		{
			b.n = (int) rows;
			for (uint64 r = 0; r < rows; r++)
			{
				HeapTuple	tup = SPI_tuptable->vals[r];
				int			t = b.n - 1 - (int) r;

				b.ts[t] = DatumGetTimestampTz(SPI_getbinval(tup, td, 1, &isnull));
				b.open[t] = DatumGetFloat8(SPI_getbinval(tup, td, 2, &isnull));
				b.high[t] = DatumGetFloat8(SPI_getbinval(tup, td, 3, &isnull));
				b.low[t] = DatumGetFloat8(SPI_getbinval(tup, td, 4, &isnull));
				b.close[t] = DatumGetFloat8(SPI_getbinval(tup, td, 5, &isnull));
				b.volume[t] = DatumGetFloat8(SPI_getbinval(tup, td, 6, &isnull));
			}
			close_text = MemoryContextStrdup(cxt, SPI_getvalue(SPI_tuptable->vals[0], td, 7));
		}
	}
	b.complete = rows < (uint64) cap;
	SPI_finish();

	graph_run(plan, &b, false, series, v);

	initStringInfo(&buf);
	appendStringInfoString(&buf, "{\"bar_ts\": ");
	append_ts(&buf, bar_ts);
	appendStringInfo(&buf, ", \"bars\": %d, \"close\": ", b.n);
	if (close_text)
		escape_json(&buf, close_text);
	else
		appendStringInfoString(&buf, "null");
	appendStringInfoString(&buf, ", ");
	append_result(&buf, plan, v, b.n > 0 && b.n >= plan->lookback);
	appendStringInfoChar(&buf, '}');

	MemoryContextSwitchTo(old);
	result = text_to_jsonb(&buf);
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
					 UINT64_FORMAT "}", entries, PLAN_CACHE_MAX, plan_hits, plan_compiles,
					 plan_evictions);
	PG_RETURN_DATUM(text_to_jsonb(&buf));
}
