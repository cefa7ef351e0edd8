/*
 * ruleset.c - the rules compiled for a first-match lookup
 *
 * Copyright (C) 2026 The nfqspid authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * One index per connection state, over the rules that name it.  An index
 * looks at seven fields of the packet: the protocol, the IPv4 and the
 * IPv6 source and destination, the source and the destination port.  For
 * each field the values a rule can name are cut into elementary
 * intervals (every range's ends are boundaries), and each interval lists,
 * in file order, the rules whose values cover it; the rules that do not
 * look at the field at all are listed once, apart ("wild").  A packet
 * finds its interval in each field by binary search, and the field whose
 * interval and wild lists are shortest gives the candidates: no other
 * rule can match.  The candidates are then asked in file order with the
 * full match (interfaces, chain, ICMP type, TCP flags too), so the first
 * that matches is the first rule of the file that matches.
 *
 * Nested ranges repeat a rule in every interval they cover; a field whose
 * lists would pass a budget is not indexed (it never gives candidates),
 * so memory stays linear and the answer stays exact.
 */
#include <sys/socket.h>
#include <netinet/in.h>

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ruleset.h"

typedef rule_u128 u128;

enum rs_field {
	RS_PROTO, RS_SRC4, RS_DST4, RS_SRC6, RS_DST6, RS_SPORT, RS_DPORT,
	RS_NFIELDS
};

/* ruleset_shadow() asks this many earlier rules at most */
#define RS_SHADOW_ASK		256

/* a field may list this many rule indices per rule, plus a constant */
#define RS_BUDGET_PER_RULE	32
#define RS_BUDGET_BASE		(1u << 20)

struct rs_field_index {
	int		 indexed;
	uint32_t	 nb;		/* intervals */
	u128		*bound;		/* interval k: [bound[k], bound[k+1]) */
	uint32_t	*off;		/* nb + 1: interval k's rules are */
	uint32_t	*ids;		/*   ids[off[k] .. off[k+1]) */
	uint32_t	*wild;		/* rules that ignore the field */
	uint32_t	 nwild;
};

struct rs_state_index {
	struct rs_field_index f[RS_NFIELDS];
};

struct ruleset {
	const struct rule *rules;
	size_t		 n;
	struct rs_state_index st[CT_STATE_MAX];
};

/* ---- what a rule says about a field ----------------------------------- */

/* The number of ranges r names in field f; -1: r ignores the field. */
static long
rule_nranges(const struct rule *r, int f)
{
	switch (f) {
	case RS_PROTO:
		return (r->has_proto ? 1 : -1);
	case RS_SRC4:
		return (r->src ? (long)rule_addrset_count(r->src, AF_INET) : -1);
	case RS_DST4:
		return (r->dst ? (long)rule_addrset_count(r->dst, AF_INET) : -1);
	case RS_SRC6:
		return (r->src ? (long)rule_addrset_count(r->src, AF_INET6) :
		    -1);
	case RS_DST6:
		return (r->dst ? (long)rule_addrset_count(r->dst, AF_INET6) :
		    -1);
	case RS_SPORT:
		return (r->sport ? (long)rule_portset_count(r->sport) : -1);
	case RS_DPORT:
		return (r->dport ? (long)rule_portset_count(r->dport) : -1);
	}
	return (-1);
}

static void
rule_range(const struct rule *r, int f, size_t i, u128 *lo, u128 *hi)
{
	uint16_t	 l, h;

	switch (f) {
	case RS_PROTO:
		*lo = *hi = r->proto;
		return;
	case RS_SRC4:
	case RS_DST4:
		rule_addrset_range(f == RS_SRC4 ? r->src : r->dst, AF_INET, i,
		    lo, hi);
		return;
	case RS_SRC6:
	case RS_DST6:
		rule_addrset_range(f == RS_SRC6 ? r->src : r->dst, AF_INET6, i,
		    lo, hi);
		return;
	default:
		rule_portset_range(f == RS_SPORT ? r->sport : r->dport, i, &l,
		    &h);
		*lo = l;
		*hi = h;
	}
}

static const u128 field_max[RS_NFIELDS] = {
	[RS_PROTO] = 255,
	[RS_SRC4] = 0xffffffffu,
	[RS_DST4] = 0xffffffffu,
	[RS_SRC6] = ~(u128)0,
	[RS_DST6] = ~(u128)0,
	[RS_SPORT] = 65535,
	[RS_DPORT] = 65535,
};

/* ---- building one field's index --------------------------------------- */

static int
cmp_u128(const void *a, const void *b)
{
	const u128	*x = a, *y = b;

	return (*x < *y ? -1 : *x > *y);
}

/* the interval holding v: the last k with bound[k] <= v */
static uint32_t
interval_of(const u128 *bound, uint32_t nb, u128 v)
{
	uint32_t	 lo = 0, hi = nb, mid;

	while (hi - lo > 1) {
		mid = lo + (hi - lo) / 2;
		if (bound[mid] <= v)
			lo = mid;
		else
			hi = mid;
	}
	return (lo);
}

static int
in_state(const struct rule *r, int state)
{
	return ((r->states & CT_STATE_BIT(state)) != 0);
}

/* The boundaries: 0, and every range's start and end + 1. */
static int
field_bounds(struct rs_field_index *fi, const struct rule *rules, size_t n,
    int state, int f)
{
	u128		 lo, hi, *b;
	size_t		 i, j, nb = 1, cap = 1;
	long		 k;

	for (i = 0; i < n; i++)
		if (in_state(&rules[i], state) &&
		    (k = rule_nranges(&rules[i], f)) > 0)
			cap += 2 * (size_t)k;
	if ((b = calloc(cap, sizeof(*b))) == NULL)
		return (-1);
	b[0] = 0;
	for (i = 0; i < n; i++) {
		if (!in_state(&rules[i], state) ||
		    (k = rule_nranges(&rules[i], f)) <= 0)
			continue;
		for (j = 0; j < (size_t)k; j++) {
			rule_range(&rules[i], f, j, &lo, &hi);
			b[nb++] = lo;
			if (hi < field_max[f])
				b[nb++] = hi + 1;
		}
	}
	qsort(b, nb, sizeof(*b), cmp_u128);
	for (i = 1, j = 1; i < nb; i++)
		if (b[i] != b[j - 1])
			b[j++] = b[i];
	fi->bound = b;
	fi->nb = (uint32_t)j;
	return (0);
}

/*
 * Pass 1 counts (into off[k + 1]) what each interval lists, pass 2 fills
 * the lists in file order.  Returns the total, or -1 past the budget.
 */
static long
field_lists(struct rs_field_index *fi, const struct rule *rules, size_t n,
    int state, int f, size_t budget)
{
	u128		 lo, hi;
	size_t		 i, j, total = 0;
	uint32_t	 k, k0, k1, *pos = NULL;
	long		 m;
	int		 pass;

	for (pass = 0; pass < 2; pass++) {
		for (i = 0; i < n; i++) {
			if (!in_state(&rules[i], state) ||
			    (m = rule_nranges(&rules[i], f)) < 0)
				continue;
			for (j = 0; j < (size_t)m; j++) {
				rule_range(&rules[i], f, j, &lo, &hi);
				k0 = interval_of(fi->bound, fi->nb, lo);
				k1 = interval_of(fi->bound, fi->nb, hi);
				if (pass == 0) {
					total += k1 - k0 + 1;
					if (total > budget)
						return (-1);
					for (k = k0; k <= k1; k++)
						fi->off[k + 1]++;
				} else
					for (k = k0; k <= k1; k++)
						fi->ids[pos[k]++] = (uint32_t)i;
			}
		}
		if (pass == 1)
			break;
		for (k = 0; k < fi->nb; k++)
			fi->off[k + 1] += fi->off[k];
		if ((fi->ids = calloc(total ? total : 1, sizeof(*fi->ids))) ==
		    NULL || (pos = calloc(fi->nb, sizeof(*pos))) == NULL)
			return (-2);
		memcpy(pos, fi->off, fi->nb * sizeof(*pos));
	}
	free(pos);
	return ((long)total);
}

static void
field_free(struct rs_field_index *fi)
{
	free(fi->bound);
	free(fi->off);
	free(fi->ids);
	free(fi->wild);
	memset(fi, 0, sizeof(*fi));
}

static int
field_build(struct rs_field_index *fi, const struct rule *rules, size_t n,
    int state, int f)
{
	size_t		 i, budget;
	long		 r;

	memset(fi, 0, sizeof(*fi));
	if ((fi->wild = calloc(n ? n : 1, sizeof(*fi->wild))) == NULL)
		return (-1);
	for (i = 0; i < n; i++)
		if (in_state(&rules[i], state) &&
		    rule_nranges(&rules[i], f) < 0)
			fi->wild[fi->nwild++] = (uint32_t)i;
	if (field_bounds(fi, rules, n, state, f) == -1 ||
	    (fi->off = calloc((size_t)fi->nb + 1, sizeof(*fi->off))) == NULL)
		return (-1);
	budget = RS_BUDGET_BASE + RS_BUDGET_PER_RULE * n;
	if ((r = field_lists(fi, rules, n, state, f, budget)) == -2)
		return (-1);
	if (r == -1) {
		/* nested ranges galore: leave this field to the others */
		free(fi->bound);
		free(fi->off);
		free(fi->ids);
		fi->bound = NULL;
		fi->off = fi->ids = NULL;
		fi->nb = 0;
		return (0);
	}
	fi->indexed = 1;
	return (0);
}

/* ---- the whole ------------------------------------------------------- */

struct ruleset *
ruleset_compile(const struct rule *rules, size_t n)
{
	struct ruleset	*rs;
	int		 s, f, e;

	if (n > UINT32_MAX) {
		errno = EOVERFLOW;
		return (NULL);
	}
	if ((rs = calloc(1, sizeof(*rs))) == NULL)
		return (NULL);
	rs->rules = rules;
	rs->n = n;
	for (s = 0; s < CT_STATE_MAX; s++)
		for (f = 0; f < RS_NFIELDS; f++)
			if (field_build(&rs->st[s].f[f], rules, n, s, f) ==
			    -1) {
				e = errno;
				ruleset_free(rs);
				errno = e;
				return (NULL);
			}
	return (rs);
}

void
ruleset_free(struct ruleset *rs)
{
	int		 s, f;

	if (rs == NULL)
		return;
	for (s = 0; s < CT_STATE_MAX; s++)
		for (f = 0; f < RS_NFIELDS; f++)
			field_free(&rs->st[s].f[f]);
	free(rs);
}

/* ---- a packet --------------------------------------------------------- */

struct rs_cand {
	const uint32_t	*a, *b;		/* the interval's list, the wild */
	size_t		 na, nb;
};

/*
 * The candidates field f gives p: the interval's list and the wild ones,
 * or only the wild ones when p has no ports, so that no rule that names
 * ports can match it.  0: the field says nothing about p (not indexed,
 * or an address field of the other family).
 */
static int
field_cand(const struct rs_field_index *fi, const struct pkt *p, int f,
    struct rs_cand *c)
{
	u128		 v;
	uint32_t	 k;
	int		 has;

	if (!fi->indexed)
		return (0);
	switch (f) {
	case RS_PROTO:
		has = 1;
		v = p->proto;
		break;
	case RS_SRC4:
	case RS_DST4:
	case RS_SRC6:
	case RS_DST6:
		if (p->family != ((f == RS_SRC4 || f == RS_DST4) ? AF_INET :
		    AF_INET6))
			return (0);
		has = 1;
		v = rule_addr_u128(p->family, f == RS_SRC4 || f == RS_SRC6 ?
		    &p->src : &p->dst);
		break;
	default:
		has = p->frag != PKT_FRAG_LATER && (p->proto == IPPROTO_TCP ||
		    p->proto == IPPROTO_UDP);
		v = f == RS_SPORT ? p->sport : p->dport;
	}
	c->b = fi->wild;
	c->nb = fi->nwild;
	if (!has) {
		c->a = NULL;
		c->na = 0;
		return (1);
	}
	k = interval_of(fi->bound, fi->nb, v);
	c->a = fi->ids + fi->off[k];
	c->na = fi->off[k + 1] - fi->off[k];
	return (1);
}

/* The two sorted lists merged, each rule before end asked in file
   order, max of them at most. */
static const struct rule *
cand_first(const struct ruleset *rs, struct rs_cand *c, size_t end,
    size_t max, ruleset_match_fn match, void *arg)
{
	uint32_t	 id;

	while ((c->na > 0 || c->nb > 0) && max-- > 0) {
		if (c->nb == 0 || (c->na > 0 && *c->a < *c->b)) {
			id = *c->a++;
			c->na--;
		} else {
			id = *c->b++;
			c->nb--;
		}
		if (id >= end)
			break;
		if (match(&rs->rules[id], arg))
			return (&rs->rules[id]);
	}
	return (NULL);
}

/* ruleset_first() among the rules before end, asking max at most */
static const struct rule *
first_before(const struct ruleset *rs, const struct pkt *p, int state,
    size_t end, size_t max, ruleset_match_fn match, void *arg)
{
	const struct rs_state_index *si;
	struct rs_cand	 best, c;
	size_t		 bestn = SIZE_MAX;
	int		 f;

	if (state < 0 || state >= CT_STATE_MAX)
		return (NULL);
	si = &rs->st[state];
	for (f = 0; f < RS_NFIELDS; f++) {
		if (!field_cand(&si->f[f], p, f, &c))
			continue;
		if (c.na + c.nb < bestn) {
			best = c;
			bestn = c.na + c.nb;
		}
	}
	if (bestn == SIZE_MAX) {
		/* not reached: RS_PROTO lists each rule once at most, well
		   within its budget; but a walk is always right */
		for (f = 0; (size_t)f < end && max > 0; f++)
			if (in_state(&rs->rules[f], state) && max-- > 0 &&
			    match(&rs->rules[f], arg))
				return (&rs->rules[f]);
		return (NULL);
	}
	return (cand_first(rs, &best, end, max, match, arg));
}

const struct rule *
ruleset_first(const struct ruleset *rs, const struct pkt *p, int state,
    ruleset_match_fn match, void *arg)
{
	return (first_before(rs, p, state, rs->n, SIZE_MAX, match, arg));
}

static int
shadows(const struct rule *a, void *arg)
{
	const struct rule *const *b = arg;

	return (rule_shadows(a, *b));
}

/* b's packet p (rule_sample()) and the first of b's states: -1 for a
   rule not rs's, or one that matches nothing */
static int
shadow_sample(const struct ruleset *rs, const struct rule *b, struct pkt *p)
{
	int		 s;

	if (b->index >= rs->n || &rs->rules[b->index] != b ||
	    rule_sample(b, p) == -1)
		return (-1);
	for (s = 0; s < CT_STATE_MAX && !in_state(b, s); s++)
		;
	return (s == CT_STATE_MAX ? -1 : s);
}

/*
 * A rule that shadows b must match every packet b does, so also one
 * packet b matches, p: it is among the candidates the index gives p in
 * one of b's states.  Each rule costs seven binary searches and a walk
 * over those candidates before it, in file order: a few, but all of
 * them when the rules are alike in every indexed field (and differ in
 * interfaces, chain, ICMP types, TCP flags).  RS_SHADOW_ASK bounds the
 * walk, so that n rules cost n * RS_SHADOW_ASK comparisons at most; a
 * rule shadowed only by one past it is not found.
 */
const struct rule *
ruleset_shadow(const struct ruleset *rs, const struct rule *b)
{
	struct pkt	 p;
	int		 s;

	if ((s = shadow_sample(rs, b, &p)) == -1)
		return (NULL);
	return (first_before(rs, &p, s, b->index, RS_SHADOW_ASK, shadows,
	    &b));
}

/* ---- shadowed by several rules ---------------------------------------- */

/* ruleset_shadowed_by() walks this many times more, at most, per rule */
#define RS_UNION_WALKS		16

static const unsigned union_keys[] = {
	RULE_KEY_DPORT, RULE_KEY_SPORT, RULE_KEY_DST, RULE_KEY_SRC,
};
#define RS_UNION_KEYS	(sizeof(union_keys) / sizeof(union_keys[0]))
#define RS_UNION_ALL	(RULE_KEY_DPORT | RULE_KEY_SPORT | RULE_KEY_DST | \
			    RULE_KEY_SRC)

/* One walk: for each key asked, of the earlier rules that hold b in
   every other key, the one whose values run furthest from v. */
struct union_walk {
	const struct rule *b;
	const struct rule *alone;	/* the first to shadow b alone */
	uint8_t		 family;
	uint8_t		 only;		/* of b's packets of this family
					   only; 0: all */
	int		 split;		/* a rule holds more keys of b's
					   packets of family than of all */
	unsigned	 keys;
	u128		 v[RS_UNION_KEYS];
	u128		 end[RS_UNION_KEYS];
	const struct rule *by[RS_UNION_KEYS];
};

static int
union_cand(const struct rule *a, void *arg)
{
	struct union_walk *w = arg;
	unsigned	 miss = rule_shadow_miss_of(a, w->b, w->only), fm;
	u128		 e;
	size_t		 k;

	if (miss == 0 && w->keys == RS_UNION_ALL) {
		w->alone = a;	/* the first walk: ruleset_shadow()'s answer */
		return (1);
	}
	/* holding b's packets of one family, a may decide them with
	   rules that leave out another key of another family's */
	if (w->keys == RS_UNION_ALL && w->only == 0 && !w->split &&
	    (miss & RULE_KEY_OTHER) == 0 &&
	    (miss & (RULE_KEY_SRC | RULE_KEY_DST)) != 0) {
		fm = rule_shadow_miss_of(a, w->b, w->family);
		w->split = fm != miss && (fm & (fm - 1)) == 0;
	}
	for (k = 0; k < RS_UNION_KEYS; k++) {
		if ((w->keys & union_keys[k]) == 0 ||
		    (miss & ~union_keys[k]) != 0)
			continue;
		if (rule_key_run(a, union_keys[k], w->family, w->v[k], &e) &&
		    (w->by[k] == NULL || e > w->end[k])) {
			w->end[k] = e;
			w->by[k] = a;
		}
	}
	return (0);	/* every candidate is asked */
}

/* The candidates of b's packet of family with key at v, asked; key 0:
   of rule_sample()'s packet, for each key at once. */
static void
union_walk(const struct ruleset *rs, struct union_walk *w, int state,
    uint8_t family, unsigned key, u128 v)
{
	struct pkt	 p;
	size_t		 k;

	w->alone = NULL;
	w->family = family;
	w->keys = key;
	for (k = 0; k < RS_UNION_KEYS; k++) {
		w->by[k] = NULL;
		w->v[k] = v;
		if (key == 0)
			(void)rule_key_next(w->b, union_keys[k], family, NULL,
			    &w->v[k]);
	}
	if (key == 0)
		w->keys = RS_UNION_ALL;
	if (rule_sample_key(w->b, family, key, v, &p) == -1)
		return;
	(void)first_before(rs, &p, state, w->b->index, RS_SHADOW_ASK,
	    union_cand, w);
}

/* a among by[0 .. *n-1], in file order; 0: no room for it */
static int
union_add(const struct rule **by, size_t *n, size_t max,
    const struct rule *a)
{
	size_t		 i;

	for (i = 0; i < *n; i++)
		if (by[i] == a)
			return (1);
	if (*n == max)
		return (0);
	for (i = *n; i > 0 && by[i - 1]->index > a->index; i--)
		by[i] = by[i - 1];
	by[i] = a;
	(*n)++;
	return (1);
}

/* the end of the longest run from v of the rules found, if one holds v */
static int
union_run(const struct rule *const *by, size_t n, unsigned key,
    uint8_t family, u128 v, u128 *end)
{
	u128		 e;
	size_t		 i;
	int		 found = 0;

	for (i = 0; i < n; i++)
		if (rule_key_run(by[i], key, family, v, &e) &&
		    (!found || e > *end)) {
			*end = e;
			found = 1;
		}
	return (found);
}

/*
 * Key k of b, from the first walk's rule on: the first of b's values past
 * the runs found so far is looked for among the rules found, then asked
 * of the index (a walk), whose rule of the furthest run is taken; until
 * b's values end (in each family b can match, for an address), a value
 * has no rule, the rules are more than max, or the walks run out.  A
 * port needs one family: the rules hold b's addresses in each.
 */
static size_t
union_key(const struct ruleset *rs, const struct union_walk *first,
    int state, size_t k, const struct rule **by, size_t max,
    size_t *walks)
{
	const struct rule *b = first->b;
	struct union_walk w;
	struct pkt	 p;
	unsigned	 key = union_keys[k];
	uint8_t		 fams[2] = { first->family, AF_INET6 };
	size_t		 n = 0, nf = 1, f;
	u128		 v, end = first->end[k];
	const u128	*after = &end;

	if ((key == RULE_KEY_SRC || key == RULE_KEY_DST) &&
	    first->family == AF_INET && first->only == 0 &&
	    rule_sample_key(b, AF_INET6, 0, 0, &p) == 0)
		nf = 2;
	(void)union_add(by, &n, max, first->by[k]);
	w.b = b;
	w.only = first->only;
	w.split = 0;
	for (f = 0; f < nf; f++, after = NULL) {
		while (rule_key_next(b, key, fams[f], after, &v)) {
			after = &end;
			if (union_run(by, n, key, fams[f], v, &end))
				continue;
			if (*walks == RS_UNION_WALKS)
				return (0);
			(*walks)++;
			union_walk(rs, &w, state, fams[f], key, v);
			if (w.by[k] == NULL || !union_add(by, &n, max, w.by[k]))
				return (0);
			end = w.end[k];
		}
	}
	return (n);
}

/* The rules that shadow b's packets of family (only: those alone, or 0
   for all), into by: the first walk's rule, or several of one key */
static size_t
shadow_search(const struct ruleset *rs, const struct rule *b, int state,
    uint8_t family, uint8_t only, const struct rule **by, size_t max,
    size_t *walks, int *split)
{
	struct union_walk w;
	size_t		 k, n;

	w.b = b;
	w.only = only;
	w.split = 0;
	union_walk(rs, &w, state, family, 0, 0);
	*split = w.split;
	if (w.alone != NULL) {
		by[0] = w.alone;
		return (1);
	}
	for (k = 0; k < RS_UNION_KEYS; k++)
		if (w.by[k] != NULL &&
		    (n = union_key(rs, &w, state, k, by, max, walks)) > 0)
			return (n);
	return (0);
}

/*
 * The rules that shadow b: the one ruleset_shadow() names, or several
 * that do together.  Each of those holds every key of b's but one (the
 * same one for all: dport, sport, dst or src), decides what it matches
 * as rule_shadow_miss() asks, and their values of that key hold b's.
 * Then each packet b matches is matched by one of them, earlier.
 *
 * Rules that leave out different keys cannot hold b together in one
 * family: a packet with a value of each key that they leave out is
 * none of theirs.  They can in two: b's IPv4 packets held by rules of
 * one key (or by one rule), its IPv6 packets by rules of another.
 * That is asked when b matches both, and a rule of the first walk
 * holds its IPv4 packets in more keys than all of them.
 *
 * The first walk is ruleset_shadow()'s, and asks each key at once of
 * the candidates it passes; a key's further rules are found one walk
 * each, and each family's first walk is one too: RS_UNION_WALKS at
 * most in all, each asking RS_SHADOW_ASK candidates at most.
 */
size_t
ruleset_shadowed_by(const struct ruleset *rs, const struct rule *b,
    const struct rule **by, size_t max)
{
	static const uint8_t fams[2] = { AF_INET, AF_INET6 };
	const struct rule *part[RULESET_UNION_MAX];
	struct pkt	 p, p6;
	size_t		 n, np, walks = 0, f, j;
	int		 s, split;

	if (max == 0 || (s = shadow_sample(rs, b, &p)) == -1)
		return (0);
	if ((n = shadow_search(rs, b, s, p.family, 0, by, max, &walks,
	    &split)) > 0)
		return (n);
	if (!split || p.family != AF_INET ||
	    rule_sample_key(b, AF_INET6, 0, 0, &p6) == -1)
		return (0);
	/* the second family's rules are looked for among max less the
	   first's: rules found cost walks, no more than fit */
	for (f = 0, n = 0; f < 2; f++) {
		if (walks == RS_UNION_WALKS || n == max)
			return (0);
		walks++;
		if ((np = shadow_search(rs, b, s, fams[f], fams[f], part,
		    max - n, &walks, &split)) == 0)
			return (0);
		for (j = 0; j < np; j++)
			if (!union_add(by, &n, max, part[j]))
				return (0);
	}
	return (n);
}
