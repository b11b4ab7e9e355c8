/*
 * sse.h
 *	  GET /api/signals/stream: the live signal stream (Server-Sent Events) of
 *	  ex7-api-reference.txt, "Signal Stream". The process's LISTEN connections (signal_fired,
 *	  signal_closed, risk_event; one per database node, http/listeners.c) fan events out in process to
 *	  the subscribers of the user, and trading_halt to every subscriber; a subscriber that
 *	  missed something reads the user's event log (ex7.stream_replay) from the last id it sent.
 *	  docs/stream.md describes the protocol.
 */
#ifndef EX7D_SSE_H
#define EX7D_SSE_H

#include "ex7d.h"

/* sse_init: returns nothing; sets up the heartbeat timer and the state of srv's streams. */
extern void sse_init(Server *srv);

/*
 * sse_open: returns nothing; the route handler of GET /api/signals/stream, after authentication
 * and the argument checks: values are the route's arguments (user, Last-Event-ID, strategy_id,
 * instrument). It answers r, at once or once its opening query returns.
 */
extern void sse_open(Req *r, char **values);

/*
 * sse_ticket_auth: returns false when r is to be authenticated as usual; true when r is the stream
 * with ?ticket= and no Authorization header: the ticket is being redeemed, and r goes on through
 * router_authed as the ticket's user once it is (or has been answered: 401 for a bad ticket, 503).
 */
extern bool sse_ticket_auth(Req *r);

/*
 * sse_notify: returns nothing; one notification of an event of a user's log: channel signal_fired,
 * signal_closed or risk_event (kinds risk_lock and trading_state).
 */
extern void sse_notify(const char *channel, const char *payload);

/*
 * sse_broadcast: returns nothing; one notification of channel trading_halt (the service's trading
 * state changed, ex7.set_service_trading_state): an `event: trading_state` frame without an id to every
 * stream of this process whose instrument filter the change's instrument passes.
 */
extern void sse_broadcast(const char *payload);

/*
 * sse_resync: returns nothing; a LISTEN connection (re)connected: notifications may have been
 * lost while it was down, so every stream catches up from its event log.
 */
extern void sse_resync(void);

/* sse_streams_open: returns the number of streams open (started and not yet closed). */
extern int	sse_streams_open(void);

/* sse_shutdown: returns nothing; ends every open stream (SIGTERM): clients reconnect elsewhere. */
extern void sse_shutdown(void);

/* sse_free: returns nothing; ends the streams left and frees everything (exit). */
extern void sse_free(void);

#endif
