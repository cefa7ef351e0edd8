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

/* ruleset_shadowed_by() visits this many entries of the index at most,
   per rule */
#define RS_COVER_SCAN		1024

/* b's values of field f (of its addresses, one family's): their first
   and last; 0 when b has none of that family */
static int
span(const struct rule *b, int f, u128 *lo, u128 *hi)
{
	const struct rule_addrset *as;
	const struct rule_portset *ps;
	uint8_t		 fam;
	uint16_t	 a, z;
	u128		 x;
	size_t		 n;

	*lo = 0;
	*hi = field_max[f];
	switch (f) {
	case RS_PROTO:
		if (b->has_proto)
			*lo = *hi = b->proto;
		else if (b->has_tcp_flags)
			*lo = *hi = IPPROTO_TCP;
		else if (b->sport != NULL || b->dport != NULL) {
			*lo = IPPROTO_TCP;
			*hi = IPPROTO_UDP;
		} else if (b->has_icmp_type) {
			*lo = IPPROTO_ICMP;
			*hi = IPPROTO_ICMPV6;
		}
		return (1);
	case RS_SRC4:
	case RS_DST4:
	case RS_SRC6:
	case RS_DST6:
		fam = f == RS_SRC4 || f == RS_DST4 ? AF_INET : AF_INET6;
		as = f == RS_SRC4 || f == RS_SRC6 ? b->src : b->dst;
		if (as == NULL)
			return (1);
		if ((n = rule_addrset_count(as, fam)) == 0)
			return (0);
		rule_addrset_range(as, fam, 0, lo, &x);
		rule_addrset_range(as, fam, n - 1, &x, hi);
		return (1);
	default:
		if ((ps = f == RS_SPORT ? b->sport : b->dport) == NULL ||
		    (n = rule_portset_count(ps)) == 0)
			return (1);
		rule_portset_range(ps, 0, &a, &z);
		*lo = a;
		rule_portset_range(ps, n - 1, &a, &z);
		*hi = z;
		return (1);
	}
}

/* the entries field fi lists for b's values of f: intervals k0 .. k1,
   and the wild */
static size_t
span_count(const struct rs_field_index *fi, const struct rule *b, int f,
    uint32_t *k0, uint32_t *k1)
{
	u128		 lo, hi;

	if (!fi->indexed || !span(b, f, &lo, &hi))
		return (SIZE_MAX);
	*k0 = interval_of(fi->bound, fi->nb, lo);
	*k1 = interval_of(fi->bound, fi->nb, hi);
	return (fi->nwild + fi->off[*k1 + 1] - fi->off[*k0]);
}

/* ids[*n ..]: the rules before end of one list (in file order); -1
   past *left visits */
static int
scan(const uint32_t *l, size_t nl, uint32_t end, uint32_t *ids, size_t *n,
    size_t *left)
{
	size_t		 i;

	for (i = 0; i < nl && l[i] < end; i++) {
		if (*left == 0)
			return (-1);
		(*left)--;
		ids[(*n)++] = l[i];
	}
	return (0);
}

static int
u32_cmp(const void *a, const void *b)
{
	uint32_t	 x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return (x < y ? -1 : x > y);
}

/*
 * The rules before end that may meet b, into ids (RS_COVER_SCAN at
 * most), in file order, each once: for each of b's states and families,
 * those the index lists for b's values in the field where they are
 * fewest.  A rule that meets b meets it in one of b's states, in one
 * family, and there in every field: it is among them.  -1: more.
 */
static long
cover_cands(const struct ruleset *rs, const struct rule *b, uint32_t end,
    uint32_t *ids)
{
	static const int fields[2][5] = {
		{ RS_PROTO, RS_SRC4, RS_DST4, RS_SPORT, RS_DPORT },
		{ RS_PROTO, RS_SRC6, RS_DST6, RS_SPORT, RS_DPORT },
	};
	const struct rs_field_index *fi, *best;
	size_t		 n = 0, left = RS_COVER_SCAN, c, bestc, i, j;
	uint32_t	 k0, k1, b0 = 0, b1 = 0, k;
	u128		 lo, hi;
	int		 s, fam, f;

	for (fam = 0; fam < 2; fam++) {
		if (!span(b, fields[fam][1], &lo, &hi) ||
		    !span(b, fields[fam][2], &lo, &hi))
			continue;	/* no address of the family */
		for (s = 0; s < CT_STATE_MAX; s++) {
			if (!in_state(b, s))
				continue;
			best = NULL;
			bestc = SIZE_MAX;
			for (f = 0; f < 5; f++) {
				fi = &rs->st[s].f[fields[fam][f]];
				if ((c = span_count(fi, b, fields[fam][f], &k0,
				    &k1)) < bestc) {
					best = fi;
					bestc = c;
					b0 = k0;
					b1 = k1;
				}
			}
			if (best == NULL)
				return (-1);	/* not reached: RS_PROTO */
			if (scan(best->wild, best->nwild, end, ids, &n,
			    &left) == -1)
				return (-1);
			for (k = b0; k <= b1; k++)
				if (scan(best->ids + best->off[k],
				    best->off[k + 1] - best->off[k], end, ids,
				    &n, &left) == -1)
					return (-1);
		}
	}
	qsort(ids, n, sizeof(*ids), u32_cmp);
	for (i = 0, j = 0; i < n; i++)
		if (j == 0 || ids[i] != ids[j - 1])
			ids[j++] = ids[i];
	return ((long)j);
}

/*
 * The rules that decide b's packets (and a reload's connections), when
 * earlier rules decide them all: rule_cover_union() of the rules before
 * b that may meet it.  A rule that shadows b alone (ruleset_shadow())
 * ends the rules to ask: every packet of b's that no rule before it
 * decides, it does.  More than RS_COVER_SCAN entries of the index to
 * visit, or more than RULESET_COVER_WORK steps: 0, not known.
 */
size_t
ruleset_shadowed_by(const struct ruleset *rs, const struct rule *b,
    const struct rule **by, size_t max, size_t *work)
{
	const struct rule *a, **cand = NULL;
	uint32_t	*ids = NULL;
	uint8_t		*used = NULL;
	size_t		 n = 0, i, budget = RULESET_COVER_WORK;
	long		 nc;

	if (work != NULL && *work >= RULESET_COVER_TOTAL)
		return (0);
	if (work != NULL && RULESET_COVER_TOTAL - *work < budget)
		budget = RULESET_COVER_TOTAL - *work;
	if (b->index >= rs->n || &rs->rules[b->index] != b)
		return (0);
	a = ruleset_shadow(rs, b);
	if ((ids = calloc(RS_COVER_SCAN, sizeof(*ids))) == NULL ||
	    (cand = calloc(RS_COVER_SCAN, sizeof(*cand))) == NULL ||
	    (used = calloc(RS_COVER_SCAN, 1)) == NULL ||
	    (nc = cover_cands(rs, b, a != NULL ? a->index + 1 : b->index,
	    ids)) <= 0)
		goto out;
	for (i = 0; i < (size_t)nc; i++)
		cand[i] = &rs->rules[ids[i]];
	if (rule_cover_union(b, cand, (size_t)nc, used, budget, work) != 1)
		goto out;
	for (i = 0; i < (size_t)nc; i++)
		if (used[i] && n++ < max)
			by[n - 1] = cand[i];
 out:
	free(ids);
	free(cand);
	free(used);
	return (n);
}
