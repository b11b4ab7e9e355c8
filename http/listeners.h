/*
 * listeners.h
 *	  LISTEN on every database node that may send ex7's notifications (docs/stream.md, "Every node's
 *	  notifications").
 *
 * NOTIFY reaches only the sessions of the server that ran it. On Citus a user's API call runs on
 * the worker holding the user's shard, so its notifications are sent there; a set of listeners
 * keeps one LISTEN connection (a pool_new_listener pool) on DATABASE_URL's server, as on plain
 * PostgreSQL, and one on each other node: the nodes ex7.notify_nodes() names (asked through the
 * query pool at start, every LISTENERS_DISCOVER_MS and whenever a listener (re)connects), or the
 * fixed list of EX7_LISTEN_NODES ("host:port,host:port"), which replaces the discovery. Every
 * listener feeds the same callbacks; the listen callback runs whenever any of them (re)connects,
 * because notifications sent to that node while it was down are lost and the owner catches up from
 * its log.
 */
#ifndef EX7D_LISTENERS_H
#define EX7D_LISTENERS_H

#include "pool.h"

#include <stdbool.h>
#include <stddef.h>

#define LISTENERS_DISCOVER_MS 30000	/* how often the node list is read again */
#define LISTENERS_RETRY_MS 1000		/* ... and how soon after the query pool could not ask it */
#define LISTENERS_MAX_NODES 64		/* nodes one set listens on: each costs a connection */

typedef struct Listeners Listeners;

/*
 * listeners_check_setting: returns 0 when EX7_LISTEN_NODES is unset or a valid list, else -1 after
 * appending a line saying why to err.
 */
extern int	listeners_check_setting(char *err, size_t errlen);

/*
 * listeners_new: returns a set of listeners that run listen_sql ("LISTEN a; LISTEN b") on
 * DATABASE_URL's server (conninfo) and on every other node, reporting notifications to notify_cb
 * and (re)connects to listen_cb with arg. pool is the query pool the discovery runs on; role names
 * the set in log lines.
 */
extern Listeners *listeners_new(struct event_base *base, Pool *pool, const char *conninfo,
								const char *listen_sql, PoolNotifyCallback notify_cb,
								PoolListenCallback listen_cb, void *arg, const char *role);

/* listeners_connected: returns the number of the set's LISTEN connections that are up. */
extern int	listeners_connected(const Listeners *ls);

/* listeners_total: returns the number of LISTEN connections the set keeps (up or not). */
extern int	listeners_total(const Listeners *ls);

/* listeners_nodes: returns the number of nodes known (discovered or EX7_LISTEN_NODES); 0 on plain
 * PostgreSQL, where the one listener is DATABASE_URL's. */
extern int	listeners_nodes(const Listeners *ls);

/* listeners_home_ready: returns true while the LISTEN connection to DATABASE_URL's server is up. */
extern bool listeners_home_ready(const Listeners *ls);

/*
 * listeners_free: returns nothing; closes every listener (NULL is fine). A discovery still in
 * flight keeps the set's memory until the query pool answers it (pool_free answers every queued
 * statement).
 */
extern void listeners_free(Listeners *ls);

#endif
