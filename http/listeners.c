/*
 * listeners.c
 *	  LISTEN connections on every database node (see listeners.h, docs/stream.md "Every node's
 *	  notifications").
 *
 * The home listener, on DATABASE_URL exactly as configured (several hosts, target_session_attrs and
 * all), is always there: on plain PostgreSQL it is the only one, and on Citus it also covers a
 * coordinator that is not registered in pg_dist_node, whose own statements (the dispatcher's
 * cross-user work, the jobs, a call inside an explicit transaction, which Citus does not delegate)
 * NOTIFY there. Each other node gets a listener whose conninfo is DATABASE_URL's with that node's
 * host and port (hostaddr dropped: it would override the host), so dbname, user, password, sslmode,
 * application_name and the rest are the operator's. A node whose host and port are the home's, as
 * written in DATABASE_URL, needs no second connection; one spelled differently (localhost for
 * 127.0.0.1) gets one, which only means its notifications arrive twice: every consumer is
 * idempotent (docs/stream.md).
 *
 * The discovery runs on the query pool: the node list is cluster metadata that the coordinator
 * answers, and a failed or missing answer (a database still at a version without ex7.notify_nodes,
 * an outage) leaves the listeners as they are; the next timer tick or a listener's reconnect asks
 * again.
 */
#include "listeners.h"
#include "log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <json.h>

typedef struct Node
{
	char		host[256];
	char		port[8];
	Pool	   *pool;			/* NULL: this node is the home listener's server */
	bool		seen;			/* named by the latest list */
} Node;

struct Listeners
{
	struct event_base *base;
	Pool	   *query;			/* the discovery's pool */
	PQconninfoOption *opts;		/* DATABASE_URL parsed by libpq */
	char	   *listen_sql;
	PoolNotifyCallback notify_cb;
	PoolListenCallback listen_cb;
	void	   *arg;
	const char *role;
	char		home_host[256];	/* the home's host and port, as DATABASE_URL (or PGHOST, PGPORT) */
	char		home_port[8];
	Pool	   *home;
	Node		nodes[LISTENERS_MAX_NODES];
	int			nnodes;
	bool		fixed;			/* EX7_LISTEN_NODES: no discovery */
	struct event *timer;		/* the periodic discovery */
	struct event *kick;			/* a discovery from the loop, after a listener (re)connected */
	bool		discovering;	/* a discovery statement is queued or running */
	bool		again;			/* a listener connected meanwhile: ask once more after it */
	bool		failing;		/* the last discovery failed (logged once) */
	bool		freed;			/* listeners_free ran while discovering: the answer frees the set */
};

static const PoolStatement discover_stmt = {
	"notify_nodes", "SELECT ex7.notify_nodes()", 0
};

static void discover(Listeners *ls);
static void discover_later(Listeners *ls);

/*
 * parse_node: returns true after reading "host:port" or "[IPv6]:port" (len bytes of s, blanks
 * around it ignored) into n.
 */
static bool
parse_node(const char *s, size_t len, Node *n)
{
	const char *host;
	const char *colon;
	size_t		hlen,
				plen;
	char		pb[8];
	char	   *end;
	long		port;

	while (len > 0 && (*s == ' ' || *s == '\t'))
		s++, len--;
	while (len > 0 && (s[len - 1] == ' ' || s[len - 1] == '\t'))
		len--;
	if (len > 0 && s[0] == '[')
	{
		const char *close = memchr(s, ']', len);

		if (close == NULL || close + 1 >= s + len || close[1] != ':')
			return false;
		host = s + 1;
		hlen = (size_t) (close - host);
		colon = close + 1;
	}
	else
	{
		if ((colon = memrchr(s, ':', len)) == NULL)
			return false;
		host = s;
		hlen = (size_t) (colon - s);
		if (memchr(host, ':', hlen))
			return false;		/* an IPv6 address needs its brackets */
	}
	plen = len - (size_t) (colon + 1 - s);
	if (hlen == 0 || hlen >= sizeof(n->host) || plen == 0 || plen >= sizeof(pb))
		return false;
	memcpy(pb, colon + 1, plen);
	pb[plen] = '\0';
	port = strtol(pb, &end, 10);
	if (*end != '\0' || port < 1 || port > 65535)
		return false;
	memset(n, 0, sizeof(*n));
	memcpy(n->host, host, hlen);
	snprintf(n->port, sizeof(n->port), "%ld", port);
	return true;
}

/*
 * parse_list: returns the number of nodes of the comma-separated list spec written to out (at most
 * max), or -1 with the bad element (or the count) described in why.
 */
static int
parse_list(const char *spec, Node *out, int max, char *why, size_t whylen)
{
	int			n = 0;
	const char *p = spec;

	for (;;)
	{
		size_t		len = strcspn(p, ",");

		if (n == max)
		{
			snprintf(why, whylen, "more than %d nodes", max);
			return -1;
		}
		if (!parse_node(p, len, &out[n]))
		{
			snprintf(why, whylen, "\"%.*s\" is not host:port", (int) (len < 200 ? len : 200), p);
			return -1;
		}
		n++;
		if (p[len] == '\0')
			return n;
		p += len + 1;
	}
}

int
listeners_check_setting(char *err, size_t errlen)
{
	const char *v = getenv("EX7_LISTEN_NODES");
	Node	   *tmp;
	char		why[256];
	int			n;
	size_t		used;

	if (v == NULL || *v == '\0')
		return 0;
	tmp = malloc(sizeof(Node) * LISTENERS_MAX_NODES);
	n = parse_list(v, tmp, LISTENERS_MAX_NODES, why, sizeof(why));
	free(tmp);
	if (n > 0)
		return 0;
	used = strlen(err);
	snprintf(err + used, errlen > used ? errlen - used : 0,
			 "EX7_LISTEN_NODES must be host:port[,host:port...] (IPv6 in brackets): %s\n", why);
	return -1;
}

/* opt_value: returns the value conninfo gave keyword, or NULL. */
static const char *
opt_value(const PQconninfoOption *opts, const char *keyword)
{
	for (const PQconninfoOption *o = opts; o && o->keyword; o++)
		if (strcmp(o->keyword, keyword) == 0)
			return o->val && o->val[0] ? o->val : NULL;
	return NULL;
}

/* append_kv: returns nothing; appends " keyword='value'" to b, quoted as libpq's conninfo wants. */
static void
append_kv(struct evbuffer *b, const char *keyword, const char *value)
{
	evbuffer_add_printf(b, "%s%s='", evbuffer_get_length(b) ? " " : "", keyword);
	for (const char *p = value; *p; p++)
	{
		if (*p == '\'' || *p == '\\')
			evbuffer_add(b, "\\", 1);
		evbuffer_add(b, p, 1);
	}
	evbuffer_add(b, "'", 1);
}

/* node_conninfo: returns a malloc'd conninfo: DATABASE_URL's parameters with n's host and port. */
static char *
node_conninfo(const Listeners *ls, const Node *n)
{
	struct evbuffer *b = evbuffer_new();
	size_t		len;
	char	   *out;

	for (const PQconninfoOption *o = ls->opts; o && o->keyword; o++)
	{
		if (o->val == NULL || o->val[0] == '\0' || strcmp(o->keyword, "host") == 0 ||
			strcmp(o->keyword, "hostaddr") == 0 || strcmp(o->keyword, "port") == 0)
			continue;
		append_kv(b, o->keyword, o->val);
	}
	append_kv(b, "host", n->host);
	append_kv(b, "port", n->port);
	len = evbuffer_get_length(b);
	out = malloc(len + 1);
	evbuffer_remove(b, out, len);
	out[len] = '\0';
	evbuffer_free(b);
	return out;
}

/*
 * ready_cb: a listener of the set (re)connected: the owner catches up, and the node list is read
 * again (a node that came back may have been replaced). The discovery starts from the loop, not
 * from inside the listener's own callback: its answer may close listeners.
 */
static void
ready_cb(void *arg)
{
	Listeners  *ls = arg;
	struct timeval now = {0, 0};

	ls->listen_cb(ls->arg);
	if (ls->kick)
		evtimer_add(ls->kick, &now);
}

/* node_open: returns nothing; starts n's listener. */
static void
node_open(Listeners *ls, Node *n)
{
	char	   *ci = node_conninfo(ls, n);

	n->pool = pool_new_listener(ls->base, ci, ls->listen_sql, ls->notify_cb, ready_cb, ls);
	free(ci);
}

/* is_home: returns true when n is the home listener's server as DATABASE_URL names it. */
static bool
is_home(const Listeners *ls, const Node *n)
{
	return strcmp(n->host, ls->home_host) == 0 && strcmp(n->port, ls->home_port) == 0;
}

/*
 * apply: returns nothing; makes the node listeners those of next (count nodes, no duplicates): new
 * nodes get a listener, nodes no longer named lose theirs, and a change is logged.
 */
static void
apply(Listeners *ls, const Node *next, int count)
{
	int			added = 0,
				removed = 0;
	struct evbuffer *names = evbuffer_new();

	for (int i = 0; i < ls->nnodes; i++)
		ls->nodes[i].seen = false;
	for (int k = 0; k < count; k++)
	{
		bool		found = false;

		for (int i = 0; i < ls->nnodes && !found; i++)
			if (strcmp(ls->nodes[i].host, next[k].host) == 0 &&
				strcmp(ls->nodes[i].port, next[k].port) == 0)
				found = ls->nodes[i].seen = true;
		if (!found && ls->nnodes < LISTENERS_MAX_NODES)
		{
			Node	   *n = &ls->nodes[ls->nnodes++];

			*n = next[k];
			n->seen = true;
			n->pool = NULL;
			if (!is_home(ls, n))
				node_open(ls, n);
			added++;
		}
	}
	for (int i = 0; i < ls->nnodes;)
	{
		if (ls->nodes[i].seen)
		{
			i++;
			continue;
		}
		if (ls->nodes[i].pool)
			pool_free(ls->nodes[i].pool);	/* a different pool from the query pool answering us */
		ls->nodes[i] = ls->nodes[--ls->nnodes];
		removed++;
	}
	if (added + removed > 0)
	{
		json_object *f = log_fields();
		size_t		len;

		for (int i = 0; i < ls->nnodes; i++)
			evbuffer_add_printf(names, "%s%s:%s%s", i ? "," : "", ls->nodes[i].host,
								ls->nodes[i].port, ls->nodes[i].pool ? "" : " (DATABASE_URL)");
		len = evbuffer_get_length(names);
		log_field_str(f, "listeners", ls->role);
		log_field_strn(f, "nodes", len ? (const char *) evbuffer_pullup(names, -1) : "", len);
		log_field_int(f, "added", added);
		log_field_int(f, "removed", removed);
		log_field_int(f, "connections", listeners_total(ls));
		ex7_log_with(EX7_INFO, "listen_nodes", f,
					 "LISTEN on %d node(s) besides DATABASE_URL's server", listeners_total(ls) - 1);
	}
	evbuffer_free(names);
}

/* discovery_failed: returns nothing; logs the first failure of a streak (the set stays as is). */
static void
discovery_failed(Listeners *ls, const char *why)
{
	json_object *f;

	if (ls->failing)
		return;
	ls->failing = true;
	f = log_fields();
	log_field_str(f, "listeners", ls->role);
	log_field_str(f, "reason", why);
	ex7_log_with(EX7_WARN, "listen_discovery_failed", f,
				 "ex7.notify_nodes() failed: the LISTEN connections stay as they are");
}

/* discovered_cb: ex7.notify_nodes() answered (or could not run). */
static void
discovered_cb(PGresult *res, const char *conn_error, void *arg)
{
	Listeners  *ls = arg;
	json_object *list = NULL;
	Node	   *next = NULL;
	int			count = 0;
	bool		truncated = false;
	bool		again;

	ls->discovering = false;
	if (ls->freed)
	{
		free(ls);
		return;
	}
	if (res == NULL || PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1)
	{
		/* a database out of reach is the pool's to log (and asked again soon); an error is ours */
		if (res)
			discovery_failed(ls, PQresultErrorMessage(res));
		else
			discover_later(ls);
		(void) conn_error;
		goto done;
	}
	list = json_tokener_parse(PQgetvalue(res, 0, 0));
	if (list == NULL || !json_object_is_type(list, json_type_array))
	{
		discovery_failed(ls, "ex7.notify_nodes() did not return an array");
		goto done;
	}
	next = calloc(LISTENERS_MAX_NODES, sizeof(Node));
	for (size_t i = 0; i < json_object_array_length(list); i++)
	{
		json_object *o = json_object_array_get_idx(list, i);
		json_object *h,
				   *p;
		Node		n = {0};
		bool		dup = false;

		if (!json_object_object_get_ex(o, "host", &h) ||
			!json_object_is_type(h, json_type_string) ||
			!json_object_object_get_ex(o, "port", &p) || !json_object_is_type(p, json_type_int) ||
			json_object_get_string_len(h) == 0 ||
			json_object_get_string_len(h) >= (int) sizeof(n.host) ||
			json_object_get_int(p) < 1 || json_object_get_int(p) > 65535)
			continue;
		snprintf(n.host, sizeof(n.host), "%s", json_object_get_string(h));
		snprintf(n.port, sizeof(n.port), "%d", json_object_get_int(p));
		for (int k = 0; k < count; k++)
			dup = dup || (strcmp(next[k].host, n.host) == 0 && strcmp(next[k].port, n.port) == 0);
		if (dup)
			continue;
		if (count == LISTENERS_MAX_NODES)
		{
			truncated = true;
			break;
		}
		next[count++] = n;
	}
	if (truncated)
		discovery_failed(ls, "more nodes than LISTENERS_MAX_NODES: the rest are left out");
	else if (ls->failing)
	{
		ls->failing = false;
		ex7_log(EX7_INFO, "listen_discovery_recovered", "ex7.notify_nodes() answers again");
	}
	apply(ls, next, count);
done:
	free(next);
	json_object_put(list);
	again = ls->again;
	ls->again = false;
	if (again)
		discover(ls);
}

/* discover: returns nothing; asks ex7.notify_nodes() unless a question is out (then once more). */
static void
discover(Listeners *ls)
{
	if (ls->discovering)
	{
		ls->again = true;
		return;
	}
	ls->discovering = pool_exec(ls->query, &discover_stmt, NULL, discovered_cb, ls) == 0;
	if (!ls->discovering)
		discover_later(ls);		/* the query pool is reconnecting (a listener may be back first) */
}

/* discover_later: returns nothing; asks again in LISTENERS_RETRY_MS (nothing with a fixed list). */
static void
discover_later(Listeners *ls)
{
	struct timeval tv = {LISTENERS_RETRY_MS / 1000, (LISTENERS_RETRY_MS % 1000) * 1000};

	if (ls->kick && !ls->freed)
		evtimer_add(ls->kick, &tv);
}

/* timer_cb: the periodic discovery. */
static void
timer_cb(evutil_socket_t fd, short what, void *arg)
{
	(void) fd;
	(void) what;
	discover(arg);
}

Listeners *
listeners_new(struct event_base *base, Pool *pool, const char *conninfo, const char *listen_sql,
			  PoolNotifyCallback notify_cb, PoolListenCallback listen_cb, void *arg,
			  const char *role)
{
	Listeners  *ls = calloc(1, sizeof(Listeners));
	const char *spec = getenv("EX7_LISTEN_NODES");
	const char *h;
	const char *p;
	char	   *err = NULL;

	ls->base = base;
	ls->query = pool;
	ls->listen_sql = strdup(listen_sql);
	ls->notify_cb = notify_cb;
	ls->listen_cb = listen_cb;
	ls->arg = arg;
	ls->role = role;
	ls->opts = PQconninfoParse(conninfo, &err);
	if (err)
		PQfreemem(err);			/* config.c checked it: the home listener's attempts will say why */
	/* the home's address as libpq takes it: the conninfo, else PGHOST/PGPORT, else the defaults */
	h = opt_value(ls->opts, "host");
	if (h == NULL)
		h = opt_value(ls->opts, "hostaddr");
	if (h == NULL)
		h = getenv("PGHOST");
	p = opt_value(ls->opts, "port");
	if (p == NULL)
		p = getenv("PGPORT");
	snprintf(ls->home_host, sizeof(ls->home_host), "%s", h ? h : "");
	snprintf(ls->home_port, sizeof(ls->home_port), "%s", p && *p ? p : "5432");
	ls->home = pool_new_listener(base, conninfo, listen_sql, notify_cb, ready_cb, ls);
	if (spec && *spec)
	{
		Node	   *fixed = calloc(LISTENERS_MAX_NODES, sizeof(Node));
		char		why[256];
		int			n = parse_list(spec, fixed, LISTENERS_MAX_NODES, why, sizeof(why));

		ls->fixed = true;		/* config.c refused a bad list; one that fails here is just empty */
		if (n > 0)
			apply(ls, fixed, n);
		free(fixed);
	}
	else
	{
		struct timeval every = {LISTENERS_DISCOVER_MS / 1000,
			(LISTENERS_DISCOVER_MS % 1000) * 1000};

		ls->timer = event_new(base, -1, EV_PERSIST, timer_cb, ls);
		event_add(ls->timer, &every);
		ls->kick = evtimer_new(base, timer_cb, ls);
		discover(ls);			/* queued until the pool's first connection is up */
	}
	return ls;
}

int
listeners_connected(const Listeners *ls)
{
	int			n;

	if (ls == NULL)
		return 0;
	n = pool_ready(ls->home) > 0 ? 1 : 0;
	for (int i = 0; i < ls->nnodes; i++)
		if (ls->nodes[i].pool && pool_ready(ls->nodes[i].pool) > 0)
			n++;
	return n;
}

int
listeners_total(const Listeners *ls)
{
	int			n;

	if (ls == NULL)
		return 0;
	n = 1;
	for (int i = 0; i < ls->nnodes; i++)
		if (ls->nodes[i].pool)
			n++;
	return n;
}

int
listeners_nodes(const Listeners *ls)
{
	return ls ? ls->nnodes : 0;
}

bool
listeners_home_ready(const Listeners *ls)
{
	return ls && pool_ready(ls->home) > 0;
}

void
listeners_free(Listeners *ls)
{
	if (ls == NULL)
		return;
	if (ls->timer)
		event_free(ls->timer);
	if (ls->kick)
		event_free(ls->kick);
	ls->timer = ls->kick = NULL;
	for (int i = 0; i < ls->nnodes; i++)
		if (ls->nodes[i].pool)
			pool_free(ls->nodes[i].pool);
	ls->nnodes = 0;
	pool_free(ls->home);
	ls->home = NULL;
	PQconninfoFree(ls->opts);
	ls->opts = NULL;
	free(ls->listen_sql);
	ls->listen_sql = NULL;
	if (ls->discovering)
		ls->freed = true;		/* discovered_cb frees it */
	else
		free(ls);
}
