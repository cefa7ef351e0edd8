/*
 * rule_cover.c - does one rule match every packet another one does?
 *
 * Copyright (C) 2026 The nfqspid authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * Pure: no I/O, no globals.  nfqspid -n warns of a rule that an earlier
 * one shadows; a false warning would have an operator delete a rule
 * that works, so every answer here is 1 only when it is proven key by
 * key from the compiled values, and 0 when in doubt.
 */
#include <sys/socket.h>
#include <netinet/in.h>

#include <string.h>

#include "rule.h"

typedef rule_u128 u128;

/* ---- ranges ------------------------------------------------------------ */

/* the families r can match by its addresses: bit 0 IPv4, bit 1 IPv6 */
static int
addr_families(const struct rule *r)
{
	int		 m = 3;

	if (r->src != NULL)
		m &= (rule_addrset_count(r->src, AF_INET) > 0) |
		    (rule_addrset_count(r->src, AF_INET6) > 0) << 1;
	if (r->dst != NULL)
		m &= (rule_addrset_count(r->dst, AF_INET) > 0) |
		    (rule_addrset_count(r->dst, AF_INET6) > 0) << 1;
	return (m);
}

/* One list's sorted, disjoint ranges: an address list of one family or
   a port list.  NULL (the key not given) is one range, the whole space. */
struct rlist {
	const struct rule_addrset *as;
	const struct rule_portset *ps;
	uint8_t		 family;	/* as's */
	size_t		 n;
	u128		 max;
};

static void
rlist_addrs(struct rlist *l, const struct rule_addrset *as, uint8_t family)
{
	memset(l, 0, sizeof(*l));
	l->as = as;
	l->family = family;
	l->max = family == AF_INET ? 0xffffffffu : ~(u128)0;
	l->n = as != NULL ? rule_addrset_count(as, family) : 1;
}

static void
rlist_ports(struct rlist *l, const struct rule_portset *ps)
{
	memset(l, 0, sizeof(*l));
	l->ps = ps;
	l->max = 65535;		/* with 0, which no port list holds */
	l->n = ps != NULL ? rule_portset_count(ps) : 1;
}

static void
rlist_get(const struct rlist *l, size_t i, u128 *lo, u128 *hi)
{
	uint16_t	 a, b;

	if (l->as != NULL)
		rule_addrset_range(l->as, l->family, i, lo, hi);
	else if (l->ps != NULL) {
		rule_portset_range(l->ps, i, &a, &b);
		*lo = a;
		*hi = b;
	} else {
		*lo = 0;
		*hi = l->max;
	}
}

/* Every value of b is one of a's.  Linear: both lists are sorted, and
   a's adjacent ranges ("22, 23") are walked as one. */
static int
rlist_within(const struct rlist *b, const struct rlist *a)
{
	u128		 lo, hi, alo, ahi, nlo, nhi;
	size_t		 i, j = 0;

	for (i = 0; i < b->n; i++) {
		rlist_get(b, i, &lo, &hi);
		for (;; j++) {
			if (j == a->n)
				return (0);
			rlist_get(a, j, &alo, &ahi);
			if (ahi >= lo)
				break;
		}
		if (alo > lo)
			return (0);
		/* ahi: the end of what a holds from lo on, without a gap */
		while (ahi < hi && j + 1 < a->n) {
			rlist_get(a, j + 1, &nlo, &nhi);
			if (nlo != ahi + 1)
				break;
			ahi = nhi;
			j++;
		}
		if (ahi < hi)
			return (0);
	}
	return (1);
}

/* RULE_KEY_SRC, RULE_KEY_DST: the lists of b's that a's do not hold,
   in the families of mask (bit 0 IPv4, bit 1 IPv6) */
static unsigned
addrs_miss(const struct rule *b, const struct rule *a, int mask)
{
	static const uint8_t fams[2] = { AF_INET, AF_INET6 };
	struct rlist	 lb, la;
	unsigned	 miss = 0;
	int		 m = addr_families(b) & mask, i;

	for (i = 0; i < 2; i++) {
		if ((m & (1 << i)) == 0)
			continue;	/* b matches no packet of it */
		if (a->src != NULL && (miss & RULE_KEY_SRC) == 0) {
			rlist_addrs(&lb, b->src, fams[i]);
			rlist_addrs(&la, a->src, fams[i]);
			if (!rlist_within(&lb, &la))
				miss |= RULE_KEY_SRC;
		}
		if (a->dst != NULL && (miss & RULE_KEY_DST) == 0) {
			rlist_addrs(&lb, b->dst, fams[i]);
			rlist_addrs(&la, a->dst, fams[i]);
			if (!rlist_within(&lb, &la))
				miss |= RULE_KEY_DST;
		}
	}
	return (miss);
}

static int
ports_within(const struct rule_portset *b, const struct rule_portset *a)
{
	struct rlist	 lb, la;

	if (a == NULL)
		return (1);
	rlist_ports(&lb, b);
	rlist_ports(&la, a);
	return (rlist_within(&lb, &la));
}

/* ---- interfaces -------------------------------------------------------- */

/*
 * An element is a name, or a prefix when it ends in '+'; a list matches
 * the names (and "", not known, when it has no plain element) that one
 * of its plain elements matches, or any when it has none, and that no
 * negated one matches (rule.c's iface_match()).  Names are at most 15
 * characters; a prefix is at most 14, so that more than one name has
 * it.
 */
static int
pat_prefix(const char *p, size_t *len)
{
	*len = strlen(p);
	if (*len > 0 && p[*len - 1] == '+') {
		(*len)--;
		return (1);
	}
	return (0);
}

/* every name x matches, y matches */
static int
pat_within(const char *x, const char *y)
{
	size_t		 lx, ly;
	int		 px = pat_prefix(x, &lx), py = pat_prefix(y, &ly);

	if (!py)
		return (!px && strcmp(x, y) == 0);
	return (lx >= ly && strncmp(x, y, ly) == 0);
}

/* the names both match, as one of them; NULL: none */
static const char *
pat_meet(const char *x, const char *y)
{
	if (pat_within(x, y))
		return (x);
	if (pat_within(y, x))
		return (y);
	return (NULL);	/* two names, or prefixes neither of the other */
}

/* x is within one of l's negated (neg) or plain (!neg) elements */
static int
pat_in_list(const char *x, const char l[][RULE_IFNAMSIZ], uint8_t n,
    uint8_t negs, int neg)
{
	uint8_t		 i;

	for (i = 0; i < n; i++)
		if (((negs >> i) & 1) == neg && pat_within(x, l[i]))
			return (1);
	return (0);
}

static int
has_plain(uint8_t n, uint8_t negs)
{
	return ((negs & ((1u << n) - 1)) != ((1u << n) - 1));
}

/* Every name b's list matches, a's does: a sufficient test, element by
   element (a name b negates is not asked of a). */
static int
ifs_within(const char b[][RULE_IFNAMSIZ], uint8_t nb, uint8_t bneg,
    const char a[][RULE_IFNAMSIZ], uint8_t na, uint8_t aneg)
{
	const char	*m;
	uint8_t		 i, j;

	if (na == 0)
		return (1);
	if (has_plain(na, aneg)) {
		/* b's "" (no plain element) is in none of a's */
		if (nb == 0 || !has_plain(nb, bneg))
			return (0);
		for (j = 0; j < nb; j++)
			if (((bneg >> j) & 1) == 0 &&
			    !pat_in_list(b[j], a, na, aneg, 0) &&
			    !pat_in_list(b[j], b, nb, bneg, 1))
				return (0);
	}
	/* what a negates, b may not match */
	for (i = 0; i < na; i++) {
		if (((aneg >> i) & 1) == 0)
			continue;
		if (nb == 0 || !has_plain(nb, bneg)) {
			if (!pat_in_list(a[i], b, nb, bneg, 1))
				return (0);
			continue;
		}
		for (j = 0; j < nb; j++) {
			if ((bneg >> j) & 1)
				continue;
			if ((m = pat_meet(a[i], b[j])) != NULL &&
			    !pat_in_list(m, b, nb, bneg, 1))
				return (0);
		}
	}
	return (1);
}

/*
 * A list with a plain element matches a name only through one, and no
 * name at all when a negated element holds each of them: "eth0, !eth+",
 * "eth+, !e+".  Exact, not only sufficient: a plain prefix P+ that no
 * negated prefix holds has the names P and P followed by any one of some
 * 90 characters, and the 7 other elements cannot negate them all.
 */
int
rule_ifaces_can_match(const char l[][RULE_IFNAMSIZ], uint8_t n,
    uint8_t negs)
{
	uint8_t		 i;

	if (!has_plain(n, negs))
		return (1);	/* none, or only negations: "" matches */
	for (i = 0; i < n; i++)
		if (((negs >> i) & 1) == 0 && !pat_in_list(l[i], l, n, negs, 1))
			return (1);
	return (0);
}

/* ---- rules ------------------------------------------------------------- */

int
rule_addrs_can_match(const struct rule *r)
{
	return (addr_families(r) != 0);
}

/*
 * The keys of b's that a does not hold: 0 when a matches every packet b
 * does.  Addresses and ports are told apart (RULE_KEY_SRC ...), so that
 * rules that hold all but one of them can be asked together; any other
 * key is RULE_KEY_OTHER, and ends the comparison.
 */
static unsigned
cover_miss(const struct rule *a, const struct rule *b, int mask)
{
	unsigned	 miss = 0;
	size_t		 i;

	/* the keys of one value first: most pairs fail on one of them */
	if ((b->states & ~a->states) != 0)
		return (RULE_KEY_OTHER);
	/* b without proto matches at least tcp and udp (ports), or all */
	if (a->has_proto && (!b->has_proto || b->proto != a->proto))
		return (RULE_KEY_OTHER);
	/* b without chain matches a packet of any chain, or of none */
	if (a->hooks != 0 && (b->hooks == 0 || (b->hooks & ~a->hooks) != 0))
		return (RULE_KEY_OTHER);
	/* b's flags fix every bit a looks at, as a wants it */
	if (a->has_tcp_flags && (!b->has_tcp_flags ||
	    (a->tcp_mask & ~b->tcp_mask) != 0 ||
	    (b->tcp_flags & a->tcp_mask) != a->tcp_flags))
		return (RULE_KEY_OTHER);
	if (a->has_icmp_type) {
		if (!b->has_icmp_type)
			return (RULE_KEY_OTHER);
		for (i = 0; i < 8; i++)
			if (b->icmp_types[i] & ~a->icmp_types[i])
				return (RULE_KEY_OTHER);
	}
	if (!ifs_within(b->in, b->nin, b->in_neg, a->in, a->nin, a->in_neg) ||
	    !ifs_within(b->out, b->nout, b->out_neg, a->out, a->nout,
	    a->out_neg))
		return (RULE_KEY_OTHER);
	/* a port list holds no 0, which a packet may carry: b must name
	   the ports a names */
	if (!ports_within(b->sport, a->sport))
		miss |= RULE_KEY_SPORT;
	if (!ports_within(b->dport, a->dport))
		miss |= RULE_KEY_DPORT;
	if (miss == (RULE_KEY_SPORT | RULE_KEY_DPORT))
		return (miss);		/* two already: enough */
	return (miss | addrs_miss(b, a, mask));
}

int
rule_covers(const struct rule *a, const struct rule *b)
{
	return (cover_miss(a, b, 3) == 0);
}

/* The guess a reload gives r's list: verdict.c's guess_iface(), its
   first plain element, or "" -- does r's list match it? */
static int
guess_matches(const char l[][RULE_IFNAMSIZ], uint8_t n, uint8_t negs)
{
	const char	*g = "";
	size_t		 len;
	uint8_t		 i;

	for (i = 0; i < n && g[0] == '\0'; i++)
		if (((negs >> i) & 1) == 0)
			g = l[i];
	if (g[0] == '\0')
		return (1);	/* no plain element: negations miss "" */
	for (i = 0; i < n; i++) {
		if (((negs >> i) & 1) == 0)
			continue;
		if (pat_prefix(l[i], &len) ? strncmp(l[i], g, len) == 0 :
		    strcmp(l[i], g) == 0)
			return (0);
	}
	return (1);
}

/*
 * a, coming first, decides every packet b matches that a matches: every
 * action ends the walk, and rate and conn_limit drop the packets over
 * them in a's name rather than pass them on; log and mark change
 * nothing.
 *
 * A reload judges the live connections again as first packets, without
 * their interfaces (verdict.c's rejudge_match()): a rule that names in,
 * out, or a chain that was not recorded, is taken to match with its
 * first plain interface if it accepts, and is passed over if it drops
 * or rejects.  When b names state new it could then accept a connection
 * a would have ended.  b is guessed whenever a is (a's interfaces and
 * chain hold b's), so b only counts if it accepts.
 */
static int
reload_decides(const struct rule *a, const struct rule *b)
{
	if ((b->states & CT_STATE_BIT(CT_NEW)) == 0 ||
	    (a->nin == 0 && a->nout == 0 && a->hooks == 0) ||
	    b->action != RULE_ACCEPT)
		return (1);
	return (a->action == RULE_ACCEPT &&
	    guess_matches(a->in, a->nin, a->in_neg) &&
	    guess_matches(a->out, a->nout, a->out_neg));
}

unsigned
rule_shadow_miss_of(const struct rule *a, const struct rule *b,
    uint8_t family)
{
	unsigned	 miss;
	int		 mask = family == AF_INET ? 1 : family == AF_INET6 ? 2 : 3;

	if ((miss = cover_miss(a, b, mask)) & RULE_KEY_OTHER)
		return (miss);
	return (reload_decides(a, b) ? miss : miss | RULE_KEY_OTHER);
}

unsigned
rule_shadow_miss(const struct rule *a, const struct rule *b)
{
	return (rule_shadow_miss_of(a, b, 0));
}

int
rule_shadows(const struct rule *a, const struct rule *b)
{
	return (rule_shadow_miss(a, b) == 0);
}

/* ---- one key's values -------------------------------------------------- */

/* r's list for key, of family's addresses: NULL is the whole space */
static void
rlist_key(struct rlist *l, const struct rule *r, unsigned key,
    uint8_t family)
{
	switch (key) {
	case RULE_KEY_SRC:
		rlist_addrs(l, r->src, family);
		break;
	case RULE_KEY_DST:
		rlist_addrs(l, r->dst, family);
		break;
	case RULE_KEY_SPORT:
		rlist_ports(l, r->sport);
		break;
	default:
		rlist_ports(l, r->dport);
	}
}

/* the first of l's ranges that ends at v or past it; l->n: none */
static size_t
rlist_find(const struct rlist *l, u128 v)
{
	size_t		 lo = 0, hi = l->n, mid;
	u128		 a, b;

	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		rlist_get(l, mid, &a, &b);
		if (b < v)
			lo = mid + 1;
		else
			hi = mid;
	}
	return (lo);
}

int
rule_key_run(const struct rule *r, unsigned key, uint8_t family, u128 v,
    u128 *end)
{
	struct rlist	 l;
	u128		 lo, hi, nlo, nhi;
	size_t		 i;

	rlist_key(&l, r, key, family);
	if ((i = rlist_find(&l, v)) == l.n)
		return (0);
	rlist_get(&l, i, &lo, &hi);
	if (lo > v)
		return (0);
	/* adjacent ranges ("22, 23") are one run */
	while (hi < l.max && ++i < l.n) {
		rlist_get(&l, i, &nlo, &nhi);
		if (nlo != hi + 1)
			break;
		hi = nhi;
	}
	*end = hi;
	return (1);
}

int
rule_key_next(const struct rule *r, unsigned key, uint8_t family,
    const u128 *after, u128 *next)
{
	struct rlist	 l;
	u128		 v = 0, lo, hi;
	size_t		 i;

	rlist_key(&l, r, key, family);
	if (after != NULL) {
		if (*after >= l.max)
			return (0);
		v = *after + 1;
	}
	if ((i = rlist_find(&l, v)) == l.n)
		return (0);
	rlist_get(&l, i, &lo, &hi);
	*next = lo > v ? lo : v;
	return (1);
}

/* ---- a packet ---------------------------------------------------------- */

static void
addr_set(uint8_t family, union pkt_addr *a, u128 v)
{
	int		 i;

	for (i = (family == AF_INET ? 4 : 16) - 1; i >= 0; i--, v >>= 8)
		a->a8[i] = (uint8_t)v;
}

/* the first value r's list for key holds, in family: 0 for no list */
static u128
key_first(const struct rule *r, unsigned key, uint8_t family)
{
	u128		 v = 0;

	(void)rule_key_next(r, key, family, NULL, &v);
	return (v);
}

int
rule_sample_key(const struct rule *r, uint8_t family, unsigned key,
    u128 v, struct pkt *p)
{
	int		 m = addr_families(r);

	memset(p, 0, sizeof(*p));
	if (family == 0)
		family = (m & 1) ? AF_INET : AF_INET6;
	if ((m & (family == AF_INET ? 1 : 2)) == 0)
		return (-1);
	p->family = family;
	/* without proto, r matches tcp: ports or not */
	p->proto = r->has_proto ? r->proto : IPPROTO_TCP;
	addr_set(family, &p->src, key == RULE_KEY_SRC ? v :
	    key_first(r, RULE_KEY_SRC, family));
	addr_set(family, &p->dst, key == RULE_KEY_DST ? v :
	    key_first(r, RULE_KEY_DST, family));
	/* without a list, port 0: no port list holds it */
	p->sport = (uint16_t)(key == RULE_KEY_SPORT ? v :
	    key_first(r, RULE_KEY_SPORT, family));
	p->dport = (uint16_t)(key == RULE_KEY_DPORT ? v :
	    key_first(r, RULE_KEY_DPORT, family));
	return (0);
}

int
rule_sample(const struct rule *r, struct pkt *p)
{
	return (rule_sample_key(r, 0, 0, 0, p));
}
