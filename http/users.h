/*
 * users.h
 *	  Per-user state ex7d keeps between requests: the caps of the user's tier (read once through
 *	  ex7.ensure_user, which also creates the user row on the first authenticated request) and the rate
 *	  counters of the bearer subject (ex7-api-introduction.txt, "Rate limits + quotas": burst limits per
 *	  minute, daily quotas reset at 00:00 UTC).
 */
#ifndef EX7D_USERS_H
#define EX7D_USERS_H

#include <stdbool.h>
#include <time.h>

typedef struct UserEntry
{
	char		sub[37];
	bool		known;			/* caps below are current (dropped on a tier-change notification) */
	char		tier[16];
	int			per_minute;
	int			per_day;
	long		minute;			/* the minute (unix time / 60) minute_count counts */
	int			minute_count;
	long		day;			/* the UTC day (unix time / 86400) day_count counts */
	int			day_count;
	struct UserEntry *next;
} UserEntry;

/* users_get: returns the entry for sub, creating an unknown one when missing. */
extern UserEntry *users_get(const char *sub);

/* users_learn: returns true when json (ex7.ensure_user's result) gave e its tier and caps. */
extern bool users_learn(UserEntry *e, const char *json);

/* users_forget: returns nothing; drops the cached caps of sub, or of everyone when sub is "*". */
extern void users_forget(const char *sub);

/*
 * users_admit: returns 0 and counts the request when e is under both caps at now; otherwise returns
 * the seconds until the exhausted window resets (the Retry-After value).
 */
extern int	users_admit(UserEntry *e, time_t now);

/* users_remaining: returns the requests left in the tighter of the two windows (after users_admit). */
extern int	users_remaining(const UserEntry *e);

#endif
