/*
 * users.c
 *	  The per-subject cache of tier caps and rate counters (see users.h). Counting happens here, in the
 *	  front, like a proxy's limiter; the caps themselves come from ex7.tiers. One ex7d process counts its
 *	  own requests: behind several processes each enforces the cap on its share (docs/http.md).
 */
#include "users.h"
#include "util.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <json.h>

#define BUCKETS 4096
#define MAX_ENTRIES 200000		/* ~ 20 MB; beyond it the cache starts over (counters too) */

static UserEntry *table[BUCKETS];
static int	nentries;

/* hash: returns the bucket of sub. */
static unsigned
hash(const char *s)
{
	return fnv1a(s) % BUCKETS;
}

/* clear_all: returns nothing; empties the cache. */
static void
clear_all(void)
{
	for (int i = 0; i < BUCKETS; i++)
	{
		while (table[i])
		{
			UserEntry  *e = table[i];

			table[i] = e->next;
			free(e);
		}
	}
	nentries = 0;
}

UserEntry *
users_get(const char *sub)
{
	unsigned	b = hash(sub);
	UserEntry  *e;

	for (e = table[b]; e; e = e->next)
		if (strcmp(e->sub, sub) == 0)
			return e;
	if (nentries >= MAX_ENTRIES)
	{
		clear_all();
		b = hash(sub);
	}
	e = calloc(1, sizeof(UserEntry));
	strncpy(e->sub, sub, sizeof(e->sub) - 1);
	e->next = table[b];
	table[b] = e;
	nentries++;
	return e;
}

bool
users_learn(UserEntry *e, const char *json)
{
	json_object *o = json_tokener_parse(json);
	json_object *tier,
			   *limits,
			   *pm,
			   *pd;
	bool		ok = false;

	if (o && json_object_object_get_ex(o, "tier", &tier) && json_object_object_get_ex(o, "limits", &limits) &&
		json_object_object_get_ex(limits, "requests_per_minute", &pm) &&
		json_object_object_get_ex(limits, "requests_per_day", &pd))
	{
		strncpy(e->tier, json_object_get_string(tier), sizeof(e->tier) - 1);
		e->per_minute = json_object_get_int(pm);
		e->per_day = json_object_get_int(pd);
		e->known = e->per_minute > 0 && e->per_day > 0;
		ok = e->known;
	}
	json_object_put(o);
	return ok;
}

void
users_forget(const char *sub)
{
	if (strcmp(sub, "*") == 0)
	{
		for (int i = 0; i < BUCKETS; i++)
			for (UserEntry *e = table[i]; e; e = e->next)
				e->known = false;
		return;
	}
	for (UserEntry *e = table[hash(sub)]; e; e = e->next)
		if (strcmp(e->sub, sub) == 0)
			e->known = false;
}

int
users_admit(UserEntry *e, time_t now)
{
	long		minute = (long) (now / 60);
	long		day = (long) (now / 86400);	/* unix days start at 00:00 UTC */

	if (e->minute != minute)
		e->minute = minute, e->minute_count = 0;
	if (e->day != day)
		e->day = day, e->day_count = 0;
	if (e->day_count >= e->per_day)
		return (int) ((day + 1) * 86400 - now);
	if (e->minute_count >= e->per_minute)
		return (int) ((minute + 1) * 60 - now);
	e->minute_count++;
	e->day_count++;
	return 0;
}

int
users_remaining(const UserEntry *e)
{
	int			m = e->per_minute - e->minute_count;
	int			d = e->per_day - e->day_count;

	return m < d ? (m > 0 ? m : 0) : (d > 0 ? d : 0);
}
