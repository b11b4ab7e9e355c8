/*
 * users.h
 *	  Per-subject state ex7d keeps between requests: the caps of a user's tier (read once through
 *	  ex7.ensure_user, which also creates the user row on the first authenticated request), and the
 *	  quota lease of each rate-limit subject (a bearer subject, or a client address on public routes).
 *
 *	  Counting is shared by every ex7d on the database, so several fronts behind one load balancer
 *	  enforce one limit (docs/http.md, "One count for every front"): a front takes quota from
 *	  ex7.rate_take in leases and serves requests from its lease in memory. Lease sizes adapt (see
 *	  users.c) so that a cap is never exceeded and a front asks the database about once per lease, not
 *	  once per request.
 */
#ifndef EX7D_USERS_H
#define EX7D_USERS_H

#include <stdbool.h>
#include <time.h>

typedef struct UserEntry
{
	char		key[64];		/* user:<uuid> or addr:<address>: the subject of ex7.rate_take */
	bool		known;			/* caps below are current (dropped on a tier-change notification) */
	time_t		known_until;	/* 0, or when they go stale by the clock (a complimentary tier ends) */
	long		tokens_after;	/* 0, or tokens issued (iat) before this unix second are refused */
	char		tier[16];
	int			per_minute;
	int			per_day;
	/* the lease: units of quota taken from the database and not yet used */
	int			lease_left;
	time_t		lease_until;	/* the end of the minute window the lease belongs to */
	time_t		lease_day;		/* its UTC day (unix time / 86400) */
	int			give_back;		/* unused units of an expired lease, returned with the next take */
	int			lease_size;		/* the next want; doubles while leases run out within a second */
	time_t		last_take;
	int			minute_remaining;	/* as the last take reported (-1: unknown) */
	int			day_remaining;
	time_t		minute_until;	/* the ends of those windows, by the last take's minute_reset and */
	time_t		day_until;		/* day_reset (the database clock's windows) */
	int			pending;		/* takes in flight that point at this entry: it is not freed meanwhile */
	struct UserEntry *next;
} UserEntry;

/* users_get: returns the entry of bearer subject sub (a uuid), creating an unknown one when missing. */
extern UserEntry *users_get(const char *sub);

/* users_get_addr: returns the entry of client address addr, with the public caps given. */
extern UserEntry *users_get_addr(const char *addr, int per_minute, int per_day);

/*
 * users_learn: returns true when json (ex7.ensure_user's result) gave e its tier and caps, and their end
 * (tier_until_unix) when the tier is due to change by the clock.
 */
extern bool users_learn(UserEntry *e, const char *json);

/* users_token_revoked: returns true when a token of e's user issued at iat (0: unknown) was revoked. */
extern bool users_token_revoked(const UserEntry *e, long iat);

/* users_current: returns true when e's caps are known and still current at now. */
extern bool users_current(const UserEntry *e, time_t now);

/* users_forget: returns nothing; drops the cached caps of sub, or of everyone when sub is "*". */
extern void users_forget(const char *sub);

/* users_take_local: returns true and uses one unit when e's lease covers a request at now. */
extern bool users_take_local(UserEntry *e, time_t now);

/*
 * users_want: returns how many units to ask ex7.rate_take for (at least 1), and sets *give_back to the
 * unused units to return with it (they are then forgotten here).
 */
extern int	users_want(UserEntry *e, time_t now, int *give_back);

/*
 * users_leased: returns 0 when json (ex7.rate_take's result) granted at least one unit: one is used for
 * the current request, the rest becomes the lease. Otherwise returns the Retry-After seconds (>= 1).
 */
extern int	users_leased(UserEntry *e, const char *json, time_t now);

/*
 * users_window: returns nothing; sets the X-RateLimit-Limit, -Remaining and -Reset values of e at now, all
 * three of one window: the binding one, i.e. the window with fewer requests left (the day on a tie: the
 * minute's reset would not raise what is left). docs/http.md, "Users, tiers and rate limits".
 */
extern void users_window(const UserEntry *e, time_t now, int *limit, int *remaining, int *reset);

#endif
