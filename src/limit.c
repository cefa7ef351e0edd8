/*
 * limit.c - per-source limits of the rules: rate and conn_limit
 *
 * Copyright (C) 2026 The nfqspid authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * An open-addressed table (linear probing, backward-shift deletion, load
 * at most one half) keyed with SipHash, so that sources chosen by an
 * attacker cannot pile up in one probe run.  No allocation after
 * limit_new().
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE	/* arc4random_buf */
#endif

#include <sys/socket.h>
#include <netinet/in.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cacheline.h"
#include "limit.h"
#include "siphash.h"

#define LIMIT_IDLE_MS	1000	/* a bucket is full again after this */
#define LIMIT_SLICE	256	/* slots limit_expire() looks at */
#define LIMIT_EVICT_LOOK 64	/* candidates looked at when full */
#define LIMIT_MIN_SLOTS	16

struct limit_src {
	union pkt_addr	 addr;
	uint64_t	 seen;		/* last use, ms */
	uint64_t	 refill;	/* the bucket's clock, ms */
	uint32_t	 tokens;	/* thousandths of a connection */
	uint32_t	 conns;
	uint32_t	 hash;
	uint32_t	 rule;
	uint8_t		 family;	/* 0: free slot */
	uint8_t		 has_bucket;
};

struct limit_table {
	struct limit_src	*slot;
	uint32_t		 mask;
	size_t			 max;		/* sources at most */
	size_t			 count;
	uint32_t		 cursor;	/* limit_expire()'s */
	uint64_t		 key[2];
	uint64_t		 now;
	struct limit_stats	 stats;
};

/* ---- hashing ------------------------------------------------------------ */

/* keyed: a source cannot aim its addresses at one chain */
static uint32_t
limit_hash(const struct limit_table *t, uint32_t rule, uint8_t family,
    const union pkt_addr *a)
{
	uint64_t	 m[3];

	memcpy(&m[0], a->a8, 8);
	memcpy(&m[1], a->a8 + 8, 8);
	m[2] = (uint64_t)rule | (uint64_t)family << 32;
	return ((uint32_t)siphash13(t->key, m, 3));
}

/* ---- the table ------------------------------------------------------------ */

struct limit_table *
limit_new(size_t max_sources)
{
	struct limit_table	*t;
	size_t			 n = LIMIT_MIN_SLOTS;

	if (max_sources == 0 || max_sources > (1u << 30)) {
		errno = EINVAL;
		return (NULL);
	}
	while (n < max_sources * 2)
		n <<= 1;
	/* a worker's own: written for every packet a limit counts */
	if ((t = cacheline_calloc(1, sizeof(*t))) == NULL)
		return (NULL);
	if ((t->slot = calloc(n, sizeof(*t->slot))) == NULL) {
		free(t);
		return (NULL);
	}
	t->mask = (uint32_t)(n - 1);
	t->max = max_sources;
	arc4random_buf(t->key, sizeof(t->key));
	return (t);
}

void
limit_free(struct limit_table *t)
{
	if (t == NULL)
		return;
	free(t->slot);
	free(t);
}

void
limit_flush(struct limit_table *t)
{
	memset(t->slot, 0, ((size_t)t->mask + 1) * sizeof(*t->slot));
	t->count = 0;
	t->cursor = 0;
}

size_t
limit_count(const struct limit_table *t)
{
	return (t->count);
}

void
limit_get_stats(const struct limit_table *t, struct limit_stats *s)
{
	*s = t->stats;
}

static void
limit_clock(struct limit_table *t, uint64_t now_ms)
{
	if (now_ms > t->now)
		t->now = now_ms;
}

static int
limit_key_eq(const struct limit_src *s, uint32_t rule, uint8_t family,
    const union pkt_addr *a)
{
	return (s->family == family && s->rule == rule &&
	    memcmp(&s->addr, a, sizeof(*a)) == 0);
}

/* The slot of the source, or NULL. */
static struct limit_src *
limit_find(const struct limit_table *t, uint32_t rule, uint8_t family,
    const union pkt_addr *a, uint32_t h)
{
	struct limit_src	*s;
	uint32_t		 i;

	if (t->count == 0)
		return (NULL);
	for (i = h & t->mask;; i = (i + 1) & t->mask) {
		s = &t->slot[i];
		if (s->family == 0)
			return (NULL);
		if (s->hash == h && limit_key_eq(s, rule, family, a))
			return (s);
	}
}

/* Empty slot i, moving later members of its probe run back into it. */
static void
limit_delete(struct limit_table *t, uint32_t i)
{
	uint32_t	 j = i, home;

	for (;;) {
		t->slot[i].family = 0;
		for (;;) {
			j = (j + 1) & t->mask;
			if (t->slot[j].family == 0) {
				t->count--;
				return;
			}
			home = t->slot[j].hash & t->mask;
			/* stays if its home lies cyclically in (i, j] */
			if (i <= j ? (i < home && home <= j) :
			    (i < home || home <= j))
				continue;
			break;
		}
		t->slot[i] = t->slot[j];
		i = j;
	}
}

static int
limit_idle(const struct limit_table *t, const struct limit_src *s)
{
	return (s->conns == 0 && t->now >= s->seen + LIMIT_IDLE_MS);
}

void
limit_expire(struct limit_table *t, uint64_t now_ms)
{
	uint32_t	 n, i;

	limit_clock(t, now_ms);
	if (t->count == 0)
		return;
	i = t->cursor;
	for (n = 0; n < LIMIT_SLICE && n <= t->mask; n++) {
		/* a deletion may pull the next run's member into i: look
		   at i again before moving on */
		while (t->slot[i].family != 0 && limit_idle(t, &t->slot[i])) {
			limit_delete(t, i);
			t->stats.expired++;
		}
		i = (i + 1) & t->mask;
	}
	t->cursor = i;
}

/* Room for one more source: expire, else evict the least recently seen
   of a sample of sources without connections.  0 or -1. */
static int
limit_make_room(struct limit_table *t)
{
	uint32_t	 i, n, look = 0, victim = 0;
	int		 found = 0;

	limit_expire(t, t->now);
	if (t->count < t->max)
		return (0);
	i = t->cursor;
	for (n = 0; n <= t->mask && look < LIMIT_EVICT_LOOK; n++,
	    i = (i + 1) & t->mask) {
		if (t->slot[i].family == 0 || t->slot[i].conns != 0)
			continue;
		look++;
		if (!found || t->slot[i].seen < t->slot[victim].seen) {
			victim = i;
			found = 1;
		}
	}
	if (!found)
		return (-1);
	limit_delete(t, victim);
	t->stats.evicted++;
	return (0);
}

/* The source's slot, made if need be; NULL when there is no room. */
static struct limit_src *
limit_get(struct limit_table *t, uint32_t rule, uint8_t family,
    const union pkt_addr *a)
{
	struct limit_src	*s;
	union pkt_addr		 key;
	uint32_t		 h, i;

	/* IPv4 uses 4 bytes: never let stray bytes split a source */
	memset(&key, 0, sizeof(key));
	if (family == AF_INET)
		memcpy(key.a8, a->a8, 4);
	else
		key = *a;
	h = limit_hash(t, rule, family, &key);
	if ((s = limit_find(t, rule, family, &key, h)) != NULL)
		return (s);
	if (t->count >= t->max && limit_make_room(t) == -1) {
		t->stats.full++;
		return (NULL);
	}
	for (i = h & t->mask; t->slot[i].family != 0; i = (i + 1) & t->mask)
		;
	s = &t->slot[i];
	memset(s, 0, sizeof(*s));
	s->addr = key;
	s->hash = h;
	s->rule = rule;
	s->family = family;
	s->seen = t->now;
	t->count++;
	return (s);
}

static struct limit_src *
limit_lookup(const struct limit_table *t, uint32_t rule, uint8_t family,
    const union pkt_addr *a)
{
	union pkt_addr	 key;

	memset(&key, 0, sizeof(key));
	if (family == AF_INET)
		memcpy(key.a8, a->a8, 4);
	else
		key = *a;
	return (limit_find(t, rule, family, &key,
	    limit_hash(t, rule, family, &key)));
}

/* ---- rate ------------------------------------------------------------------ */

int
limit_rate_allow(struct limit_table *t, uint32_t rule, uint8_t family,
    const union pkt_addr *addr, uint32_t rate, uint64_t now_ms)
{
	struct limit_src	*s;
	uint64_t		 cap = (uint64_t)rate * 1000, tok;

	if (rate == 0)
		return (1);
	limit_clock(t, now_ms);
	if ((s = limit_get(t, rule, family, addr)) == NULL) {
		t->stats.rate_drops++;
		return (0);
	}
	if (!s->has_bucket) {
		/* a new source starts with a full bucket */
		s->has_bucket = 1;
		tok = cap;
	} else {
		tok = s->tokens;
		if (t->now > s->refill)
			/* ms times per second gives thousandths */
			tok += (t->now - s->refill) * rate;
		if (tok > cap)
			tok = cap;
	}
	s->refill = t->now;
	s->seen = t->now;
	if (tok < 1000) {
		s->tokens = (uint32_t)tok;
		t->stats.rate_drops++;
		return (0);
	}
	s->tokens = (uint32_t)(tok - 1000);
	return (1);
}

/* ---- conn_limit ------------------------------------------------------------- */

int
limit_conn_try(struct limit_table *t, uint32_t rule, uint8_t family,
    const union pkt_addr *addr, uint32_t limit, uint64_t now_ms)
{
	struct limit_src	*s;

	limit_clock(t, now_ms);
	if ((s = limit_get(t, rule, family, addr)) == NULL) {
		t->stats.conn_drops++;
		return (0);
	}
	s->seen = t->now;
	if ((limit != 0 && s->conns >= limit) || s->conns == UINT32_MAX) {
		t->stats.conn_drops++;
		return (0);
	}
	s->conns++;
	return (1);
}

void
limit_conn_release(struct limit_table *t, uint32_t rule, uint8_t family,
    const union pkt_addr *addr)
{
	struct limit_src	*s;

	if ((s = limit_lookup(t, rule, family, addr)) == NULL)
		return;
	if (s->conns > 0)
		s->conns--;
	/* idle from now: the source may be forgotten a second later */
	s->seen = t->now;
}

uint32_t
limit_conn_count(const struct limit_table *t, uint32_t rule, uint8_t family,
    const union pkt_addr *addr)
{
	const struct limit_src	*s;

	if ((s = limit_lookup(t, rule, family, addr)) == NULL)
		return (0);
	return (s->conns);
}

void
limit_ct_event(int event, const struct ct_entry *e, void *arg)
{
	struct limit_table	*t = arg;
	union pkt_addr		 src, dst;
	uint16_t		 sport, dport;
	uint8_t			 family, proto;

	if (event != CT_EVENT_DESTROY || t == NULL || t->count == 0)
		return;
	ct_entry_tuple(e, &family, &proto, &src, &dst, &sport, &dport);
	limit_conn_release(t, ct_entry_rule(e), family, &src);
}

/* ---- one token bucket ------------------------------------------------ */

void
limit_bucket_init(struct limit_bucket *b, uint32_t rate, uint64_t now_ms)
{
	b->tokens = (uint64_t)rate * 1000;
	b->refill_ms = now_ms;
}

int
limit_bucket_take(struct limit_bucket *b, uint32_t rate, uint64_t now_ms)
{
	uint64_t	 cap = (uint64_t)rate * 1000;

	if (rate == 0)
		return (1);
	if (now_ms > b->refill_ms) {
		b->tokens += (now_ms - b->refill_ms) * rate;
		if (b->tokens > cap)
			b->tokens = cap;
	}
	b->refill_ms = now_ms;
	if (b->tokens < 1000)
		return (0);
	b->tokens -= 1000;
	return (1);
}

void
limit_bucket_clamp(struct limit_bucket *b, uint32_t rate)
{
	if (b->tokens > (uint64_t)rate * 1000)
		b->tokens = (uint64_t)rate * 1000;
}
