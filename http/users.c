/*
 * users.c
 *	  The per-subject cache of tier caps and quota leases (see users.h).
 *
 *	  Lease sizing. A lease of n units counts n requests in the shared counter at once, so units a front
 *	  holds but does not use are, for the moment, unavailable to the other fronts. Two rules bound that:
 *	  - never more than 1/16 of what is left in the tighter window: near a cap leases shrink to one unit,
 *	    and then every request is counted in the database as it happens (exact: the 31st request of a
 *	    free user in a minute is refused whichever front it reaches);
 *	  - start at one unit and double only while each lease runs out within a second of the last one: a
 *	    subject making one request a minute takes one unit at a time, so nothing is held for it.
 *	  A lease dies with its minute window; its unused units are returned to the day's count with the next
 *	  take (ex7.rate_take's give_back).
 */
#include "users.h"
#include "util.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json.h>

#define BUCKETS 4096
#define MAX_ENTRIES 200000		/* ~ 30 MB; beyond it the cache starts over (leases are given up) */
#define LEASE_FRACTION 16		/* at most 1/16 of what is left */
#define LEASE_MAX 4096

static UserEntry *table[BUCKETS];
static int	nentries;

/* clear_all: returns nothing; empties the cache but for entries a take in flight points at. */
static void
clear_all(void)
{
	nentries = 0;
	for (int i = 0; i < BUCKETS; i++)
	{
		UserEntry **link = &table[i];

		while (*link)
		{
			UserEntry  *e = *link;

			if (e->pending > 0)
			{
				nentries++;
				link = &e->next;
				continue;
			}
			*link = e->next;
			free(e);
		}
	}
}

/* lookup: returns the entry for key, creating an empty one when missing. */
static UserEntry *
lookup(const char *key)
{
	unsigned	b = fnv1a(key) % BUCKETS;
	UserEntry  *e;

	for (e = table[b]; e; e = e->next)
		if (strcmp(e->key, key) == 0)
			return e;
	if (nentries >= MAX_ENTRIES)
		clear_all();
	e = calloc(1, sizeof(UserEntry));
	snprintf(e->key, sizeof(e->key), "%s", key);
	e->lease_size = 1;
	e->minute_remaining = -1;
	e->day_remaining = -1;
	e->next = table[b];
	table[b] = e;
	nentries++;
	return e;
}

UserEntry *
users_get(const char *sub)
{
	char		key[64];

	snprintf(key, sizeof(key), "user:%s", sub);
	return lookup(key);
}

UserEntry *
users_get_addr(const char *addr, int per_minute, int per_day)
{
	char		key[64];
	UserEntry  *e;

	snprintf(key, sizeof(key), "addr:%.56s", addr);
	e = lookup(key);
	e->known = true;
	snprintf(e->tier, sizeof(e->tier), "public");
	e->per_minute = per_minute;
	e->per_day = per_day;
	return e;
}

bool
users_learn(UserEntry *e, const char *json)
{
	json_object *o = json_tokener_parse(json);
	json_object *tier,
			   *limits,
			   *pm,
			   *pd,
			   *until;
	bool		ok = false;

	if (o && json_object_object_get_ex(o, "tier", &tier) && json_object_object_get_ex(o, "limits", &limits) &&
		json_object_object_get_ex(limits, "requests_per_minute", &pm) &&
		json_object_object_get_ex(limits, "requests_per_day", &pd))
	{
		snprintf(e->tier, sizeof(e->tier), "%s", json_object_get_string(tier));
		e->per_minute = json_object_get_int(pm);
		e->per_day = json_object_get_int(pd);
		e->known = e->per_minute > 0 && e->per_day > 0;
		e->known_until = 0;
		e->tokens_after = 0;
		if (json_object_object_get_ex(o, "tokens_valid_after_unix", &until) &&
			json_object_is_type(until, json_type_int))
			e->tokens_after = (long) json_object_get_int64(until);
		if (json_object_object_get_ex(o, "tier_until_unix", &until) && json_object_is_type(until, json_type_int))
			e->known_until = (time_t) json_object_get_int64(until);
		ok = e->known;
	}
	json_object_put(o);
	return ok;
}

bool
users_token_revoked(const UserEntry *e, long iat)
{
	return e->tokens_after != 0 && iat < e->tokens_after;
}

bool
users_current(const UserEntry *e, time_t now)
{
	return e->known && (e->known_until == 0 || now < e->known_until);
}

void
users_forget(const char *sub)
{
	char		key[64];

	if (strcmp(sub, "*") == 0)
	{
		for (int i = 0; i < BUCKETS; i++)
			for (UserEntry *e = table[i]; e; e = e->next)
				if (strncmp(e->key, "user:", 5) == 0)
					e->known = false;
		return;
	}
	snprintf(key, sizeof(key), "user:%s", sub);
	for (UserEntry *e = table[fnv1a(key) % BUCKETS]; e; e = e->next)
		if (strcmp(e->key, key) == 0)
			e->known = false;
}

/* expire: returns nothing; ends e's lease when its minute is over, keeping its unused units to return. */
static void
expire(UserEntry *e, time_t now)
{
	if (e->lease_left > 0 && now >= e->lease_until)
	{
		if (e->lease_day == now / 86400)
			e->give_back += e->lease_left;
		e->lease_left = 0;
		e->minute_remaining = -1;
	}
}

bool
users_take_local(UserEntry *e, time_t now)
{
	expire(e, now);
	if (e->lease_left <= 0)
		return false;
	e->lease_left--;
	return true;
}

int
users_want(UserEntry *e, time_t now, int *give_back)
{
	int			want;
	int			left = -1;

	expire(e, now);
	/* leases that run out within a second of each other: this subject is busy here, lease more */
	if (e->last_take != 0 && now - e->last_take <= 1)
		e->lease_size = e->lease_size < LEASE_MAX ? e->lease_size * 2 : LEASE_MAX;
	else
		e->lease_size = 1;
	want = e->lease_size;
	if (e->minute_remaining >= 0)
		left = e->minute_remaining;
	if (e->day_remaining >= 0 && (left < 0 || e->day_remaining < left))
		left = e->day_remaining;
	if (left < 0)
		left = e->per_minute < e->per_day ? e->per_minute : e->per_day;
	if (want > left / LEASE_FRACTION)
		want = left / LEASE_FRACTION;
	if (want < 1)
		want = 1;
	*give_back = e->give_back;
	e->give_back = 0;
	return want;
}

/* get_int: returns member name of o as an int, or def. */
static int
get_int(json_object *o, const char *name, int def)
{
	json_object *v;

	return json_object_object_get_ex(o, name, &v) ? json_object_get_int(v) : def;
}

int
users_leased(UserEntry *e, const char *json, time_t now)
{
	json_object *o = json_tokener_parse(json);
	int			granted,
				reset,
				retry;

	if (o == NULL)
		return 1;
	granted = get_int(o, "granted", 0);
	reset = get_int(o, "minute_reset", 60);
	retry = get_int(o, "retry_after", 1);
	e->minute_remaining = get_int(o, "minute_remaining", 0);
	e->day_remaining = get_int(o, "day_remaining", 0);
	e->minute_until = now + reset;
	e->day_until = now + get_int(o, "day_reset", (int) (86400 - now % 86400));
	json_object_put(o);
	e->last_take = now;
	if (granted <= 0)
		return retry > 0 ? retry : 1;
	/* the lease lives in the database's minute window: its end is reset seconds from now */
	if (e->lease_left > 0 && labs((long) (e->lease_until - (now + reset))) > 2)
	{
		/* a take answered after the window turned: what is left of the old lease is dead */
		if (e->lease_day == now / 86400)
			e->give_back += e->lease_left;
		e->lease_left = 0;
	}
	e->lease_left += granted - 1;
	e->lease_until = now + reset;
	e->lease_day = now / 86400;
	return 0;
}

void
users_window(const UserEntry *e, time_t now, int *limit, int *remaining, int *reset)
{
	/* what the last take left in each window, plus the units this front holds and has not used yet */
	bool		m_known = e->minute_remaining >= 0 && now < e->minute_until;
	bool		d_known = e->day_remaining >= 0 && now < e->day_until;
	int			m = m_known ? e->minute_remaining + e->lease_left : e->per_minute;
	int			d = d_known ? e->day_remaining + e->lease_left + e->give_back : e->per_day;

	if (m > e->per_minute)
		m = e->per_minute;
	if (d > e->per_day)
		d = e->per_day;
	if (d <= m)
	{
		*limit = e->per_day;
		*remaining = d > 0 ? d : 0;
		*reset = d_known ? (int) (e->day_until - now) : (int) (86400 - now % 86400);	/* 00:00 UTC */
	}
	else
	{
		*limit = e->per_minute;
		*remaining = m > 0 ? m : 0;
		*reset = m_known ? (int) (e->minute_until - now) : (int) (60 - now % 60);
	}
}
