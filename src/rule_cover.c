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

#include <stdlib.h>
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
 * negated one matches (rule.c's rule_iface_match()).  Names are at
 * most 15 characters; a prefix is at most 14, so that more than one
 * name has it.
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
	uint8_t		 i;

	for (i = 0; i < n; i++)
		if (((negs >> i) & 1) == 0)
			return (rule_iface_match(l, n, negs, l[i]));
	return (1);	/* no plain element: negations miss "" */
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

static unsigned
shadow_miss(const struct rule *a, const struct rule *b)
{
	unsigned	 miss;

	if ((miss = cover_miss(a, b, 3)) & RULE_KEY_OTHER)
		return (miss);
	return (reload_decides(a, b) ? miss : miss | RULE_KEY_OTHER);
}

int
rule_shadows(const struct rule *a, const struct rule *b)
{
	return (shadow_miss(a, b) == 0);
}

/* ---- a packet ---------------------------------------------------------- */

static void
addr_set(uint8_t family, union pkt_addr *a, u128 v)
{
	int		 i;

	for (i = (family == AF_INET ? 4 : 16) - 1; i >= 0; i--, v >>= 8)
		a->a8[i] = (uint8_t)v;
}

/* the first value of l: 0 for no list */
static u128
rlist_first(const struct rlist *l)
{
	u128		 lo, hi;

	rlist_get(l, 0, &lo, &hi);
	return (lo);
}

int
rule_sample(const struct rule *r, struct pkt *p)
{
	struct rlist	 l;
	int		 m = addr_families(r);
	uint8_t		 family = (m & 1) ? AF_INET : AF_INET6;

	memset(p, 0, sizeof(*p));
	if (m == 0)
		return (-1);
	p->family = family;
	/* without proto, r matches tcp: ports or not */
	p->proto = r->has_proto ? r->proto : IPPROTO_TCP;
	rlist_addrs(&l, r->src, family);
	addr_set(family, &p->src, rlist_first(&l));
	rlist_addrs(&l, r->dst, family);
	addr_set(family, &p->dst, rlist_first(&l));
	/* without a list, port 0: no port list holds it */
	rlist_ports(&l, r->sport);
	p->sport = (uint16_t)rlist_first(&l);
	rlist_ports(&l, r->dport);
	p->dport = (uint16_t)rlist_first(&l);
	return (0);
}

/* ---- several rules: boxes ---------------------------------------------- */

/*
 * A rule matches a box of packets: in each key, the values it matches,
 * and every combination of them (rule_match() asks each key apart; a
 * key that needs a transport header -- ports, ICMP type, TCP flags --
 * narrows the protocol and the fragment key too).  The keys: the
 * addresses and ports, as the rule's sorted lists (of one family's
 * addresses at a time), and bitmaps of the protocol, ICMP type, TCP
 * flags, state, fragment (a later one, or the first), chain (with 0,
 * not known) and interfaces.  An interface list matches names by
 * which of the elements of all the rules asked match them, so that a
 * few names stand for all (ifp_*() below).
 *
 * b decides nothing when its box lies in the union of the earlier
 * rules' boxes; a reload's re-judging is a second space of its own
 * (reload_hooks()), in which b's box must lie in theirs too.  Asked
 * by splitting: a part of b's box is taken by the first rule that
 * meets it, which decides the packets they share; the rest is cut, one
 * key at a time, into parts that rule does not meet, asked of the
 * rules after it.  A part that no rule meets holds a packet b decides.
 */

enum { RD_SRC, RD_DST, RD_SPORT, RD_DPORT, RD_N };

/* the bitmaps: their first word and how many */
#define BW_PROTO	0
#define BW_ICMP		4
#define BW_FLAGS	8
#define BW_STATE	12
#define BW_FRAG		13
#define BW_HOOK		14
#define BW_IN		15
#define BW_OUT		16
#define BW_N		17

static const uint8_t bkeys[][2] = {
	{ BW_STATE, 1 }, { BW_PROTO, 4 }, { BW_FRAG, 1 }, { BW_HOOK, 1 },
	{ BW_IN, 1 }, { BW_OUT, 1 }, { BW_ICMP, 4 }, { BW_FLAGS, 4 },
};
#define NBKEYS		(sizeof(bkeys) / sizeof(bkeys[0]))

#define FRAG_LATER	1u	/* a later fragment: no transport header */
#define FRAG_HEAD	2u
#define HOOKS_ALL	((1u << PKT_HOOK_MAX) - 1)	/* with UNKNOWN, 0 */

struct box {
	u128		 lo[RD_N], hi[RD_N];
	uint64_t	 w[BW_N];
};

struct cand {
	const struct rule *r;
	size_t		 i;		/* its place in the caller's list */
	int		 ifs;		/* its interfaces may meet b's */
	uint64_t	 in, out;	/* the names it matches (ifp_*()); 0
					   for none, when !ifs */
	struct rlist	 l[RD_N];
	uint64_t	 w[BW_N];
};

/* An interface name of a kind: "" (not known), a name of the rules', a
   prefix's base as a name; or, generic, a name that has the base as
   its prefix and no element's longer one, and is none of theirs (the
   base "": any such name).  Each kind is asked of the lists by one
   name of it, with rule.c's own matcher (ifp_setup()).  Names are 15
   characters at most, a base 14: one of some 80 characters more makes
   a generic name, which fewer than IFP_MAX elements cannot all take. */
#define IFP_MAX		64

struct ifpt {
	char		 name[RULE_IFNAMSIZ];	/* generic: the base, until
						   ifp_name() */
	uint8_t		 generic;
};

struct ifpts {
	struct ifpt	 p[IFP_MAX];
	size_t		 n;
};

struct uctx {
	struct cand	 b;
	struct cand	*c;		/* the rules that may meet b, in file */
	size_t		 nc;		/*   order: their box in this space */
	struct cand	*m;		/* those that meet b's, of c */
	size_t		 nm;
	size_t		 all;		/* the first of m that holds b's */
	uint8_t		*used;
	size_t		 work, budget;
	struct ifpts	 in, out;
	struct item {
		struct box	 box;
		size_t		 from;	/* the first rule of m to ask */
	}		*stack;
	size_t		 nstack, cap;
};

static int
ifp_add(struct ifpts *s, const char *name, size_t len, int generic)
{
	size_t		 i;

	for (i = 0; i < s->n; i++)
		if (s->p[i].generic == generic && strlen(s->p[i].name) == len &&
		    strncmp(s->p[i].name, name, len) == 0)
			return (0);
	if (s->n == IFP_MAX)
		return (-1);
	memcpy(s->p[s->n].name, name, len);
	s->p[s->n].name[len] = '\0';
	s->p[s->n++].generic = (uint8_t)generic;
	return (0);
}

static int
ifp_list(struct ifpts *s, const char l[][RULE_IFNAMSIZ], uint8_t n)
{
	size_t		 len;
	uint8_t		 i;
	int		 pre;

	for (i = 0; i < n; i++) {
		pre = pat_prefix(l[i], &len);
		if (ifp_add(s, l[i], len, 0) == -1 ||
		    (pre && ifp_add(s, l[i], len, 1) == -1))
			return (-1);
	}
	return (0);
}

/* A name of each generic kind: its base and a character that no name
   of s's (an element's, a longer prefix's base) has after it */
static int
ifp_name(struct ifpts *s)
{
	struct ifpt	*pt;
	size_t		 i, k, len;
	char		 c;

	for (i = 0; i < s->n; i++) {
		if (!(pt = &s->p[i])->generic)
			continue;
		len = strlen(pt->name);
		for (c = '0'; c <= '~'; c++) {
			if (c == ':')
				continue;	/* not in a name */
			for (k = 0; k < s->n; k++)
				if (!s->p[k].generic && strncmp(s->p[k].name,
				    pt->name, len) == 0 && s->p[k].name[len] ==
				    c)
					break;
			if (k == s->n)
				break;
		}
		if (c > '~')
			return (-1);	/* not reached: fewer names */
		pt->name[len] = c;
		pt->name[len + 1] = '\0';
	}
	return (0);
}

static uint64_t
ifp_bits(const struct ifpts *s, const char l[][RULE_IFNAMSIZ], uint8_t n,
    uint8_t negs)
{
	uint64_t	 m = 0;
	size_t		 k;

	for (k = 0; k < s->n; k++)
		if (rule_iface_match(l, n, negs, s->p[k].name))
			m |= (uint64_t)1 << k;
	return (m);
}

/* Can a name match both lists?  0 only when sure: two elements, one
   of each, that a name matches both are needed, when both have one. */
static int
ifs_meet(const char a[][RULE_IFNAMSIZ], uint8_t na, uint8_t aneg,
    const char b[][RULE_IFNAMSIZ], uint8_t nb, uint8_t bneg)
{
	uint8_t		 i, j;

	if (!has_plain(na, aneg) || !has_plain(nb, bneg))
		return (1);
	for (i = 0; i < na; i++)
		for (j = 0; j < nb; j++)
			if (((aneg >> i) & 1) == 0 && ((bneg >> j) & 1) == 0 &&
			    pat_meet(a[i], b[j]) != NULL)
				return (1);
	return (0);
}

/* ---- a list's values within [v, hi] ------------------------------------ */

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

/* The first value of l in [v, hi], *a, and the end of its run there
   (adjacent ranges as one), *z: 0 when none.  Each range walked is
   work. */
static int
rl_in(struct uctx *u, const struct rlist *l, u128 v, u128 hi, u128 *a,
    u128 *z)
{
	u128		 lo, h, nlo, nhi;
	size_t		 i;

	u->work++;
	if (v > hi || (i = rlist_find(l, v)) == l->n)
		return (0);
	rlist_get(l, i, &lo, &h);
	if ((*a = lo > v ? lo : v) > hi)
		return (0);
	while (h < hi && i + 1 < l->n && u->work <= u->budget) {
		rlist_get(l, ++i, &nlo, &nhi);
		if (nlo != h + 1)
			break;
		h = nhi;
		u->work++;
	}
	*z = h < hi ? h : hi;
	return (1);
}

/* the first run of values in [v, hi] that l does not hold */
static int
rl_out(struct uctx *u, const struct rlist *l, u128 v, u128 hi, u128 *a,
    u128 *z)
{
	u128		 x, y;

	if (v > hi)
		return (0);
	if (rl_in(u, l, v, hi, &x, &y)) {
		if (x == v) {
			/* v's run ends at y, before the next range */
			if (y >= hi)
				return (0);
			v = y + 1;
			if (!rl_in(u, l, v, hi, &x, &y))
				x = hi + 1;	/* at the top: 0, and back */
		}
	} else
		x = hi + 1;		/* at the top: 0, and back */
	*a = v;
	*z = x - 1;
	return (1);
}

/* the last value of l in [v, hi] */
static int
rl_last(struct uctx *u, const struct rlist *l, u128 v, u128 hi, u128 *z)
{
	u128		 lo, h;
	size_t		 i;

	u->work++;
	if (v > hi)
		return (0);
	if ((i = rlist_find(l, hi)) < l->n) {
		rlist_get(l, i, &lo, &h);
		if (lo <= hi) {
			*z = hi;	/* l holds hi */
			return (1);
		}
	}
	if (i == 0)
		return (0);
	rlist_get(l, i - 1, &lo, &h);
	*z = h;
	return (h >= v);
}

/* The first value in [lo, hi] that each of l[0 .. n-1] holds: each
   list in turn moves v to its first value from v on, until all agree. */
static int
rl_meet(struct uctx *u, const struct rlist *const *l, size_t n, u128 lo,
    u128 hi, u128 *v)
{
	u128		 a, z;
	size_t		 i, agree = 0;

	for (i = 0; agree < n; i = (i + 1) % n) {
		if (u->work > u->budget || !rl_in(u, l[i], lo, hi, &a, &z))
			return (0);
		if (a == lo)
			agree++;
		else {
			lo = a;
			agree = 1;
		}
	}
	*v = lo;
	return (1);
}

/* ... the last */
static int
rl_meet_back(struct uctx *u, const struct rlist *const *l, size_t n,
    u128 lo, u128 hi, u128 *v)
{
	u128		 a;
	size_t		 i, agree = 0;

	for (i = 0; agree < n; i = (i + 1) % n) {
		if (u->work > u->budget || !rl_last(u, l[i], lo, hi, &a))
			return (0);
		if (a == hi)
			agree++;
		else {
			hi = a;
			agree = 1;
		}
	}
	*v = hi;
	return (1);
}

/* ---- boxes ------------------------------------------------------------- */

static void
words_all(uint64_t *w, size_t n)
{
	memset(w, 0xff, n * sizeof(*w));
}

static void
bit_set(uint64_t *w, unsigned v)
{
	w[v >> 6] |= (uint64_t)1 << (v & 63);
}

/* the protocols of the list, kept of w's */
static void
proto_keep(uint64_t *w, const uint8_t *keep, size_t n)
{
	uint64_t	 m[4] = { 0, 0, 0, 0 };
	size_t		 i;

	for (i = 0; i < n; i++)
		bit_set(m, keep[i]);
	for (i = 0; i < 4; i++)
		w[i] &= m[i];
}

/*
 * The chains of the reload's judging (verdict.c's match_rejudge()) in
 * which r matches a connection: a rule that names in or out is guessed
 * in every chain, one that names a chain when the chain is not known
 * (0).  A guessed rule is passed over unless it accepts, and then
 * matches with its first plain interface (guess_matches()) and, when
 * the chain is not known, its own first.  Interfaces are no key there.
 */
static uint64_t
reload_hooks(const struct rule *r)
{
	int		 guessed = r->nin > 0 || r->nout > 0;
	int		 ok = r->action == RULE_ACCEPT &&
			    guess_matches(r->in, r->nin, r->in_neg) &&
			    guess_matches(r->out, r->nout, r->out_neg);
	uint64_t	 m = 0;

	if (!guessed || ok)
		m |= r->hooks != 0 ? r->hooks : HOOKS_ALL & ~1u;
	if ((!guessed && r->hooks == 0) || ok)
		m |= 1;		/* PKT_HOOK_UNKNOWN */
	return (m);
}

/* c's box for r in family, of the packets (reload 0) or of a reload's
   judging (1): 0 when it is empty */
static int
cand_box(struct cand *c, uint8_t family, int reload)
{
	static const uint8_t ports[] = { IPPROTO_TCP, IPPROTO_UDP };
	static const uint8_t icmps[] = { IPPROTO_ICMP, IPPROTO_ICMPV6 };
	static const uint8_t tcp[] = { IPPROTO_TCP };
	const struct rule *r = c->r;
	uint64_t	*w = c->w;
	unsigned	 f;
	size_t		 i, k;

	if ((r->src != NULL && rule_addrset_count(r->src, family) == 0) ||
	    (r->dst != NULL && rule_addrset_count(r->dst, family) == 0))
		return (0);
	rlist_addrs(&c->l[RD_SRC], r->src, family);
	rlist_addrs(&c->l[RD_DST], r->dst, family);
	rlist_ports(&c->l[RD_SPORT], r->sport);
	rlist_ports(&c->l[RD_DPORT], r->dport);
	memset(w, 0, BW_N * sizeof(*w));
	if (r->has_proto)
		bit_set(w + BW_PROTO, r->proto);
	else
		words_all(w + BW_PROTO, 4);
	w[BW_FRAG] = FRAG_LATER | FRAG_HEAD;
	if (r->sport != NULL || r->dport != NULL) {
		proto_keep(w + BW_PROTO, ports, 2);
		w[BW_FRAG] = FRAG_HEAD;
	}
	words_all(w + BW_ICMP, 4);
	if (r->has_icmp_type) {
		proto_keep(w + BW_PROTO, icmps, 2);
		w[BW_FRAG] = FRAG_HEAD;
		for (i = 0; i < 4; i++)
			w[BW_ICMP + i] = r->icmp_types[2 * i] |
			    (uint64_t)r->icmp_types[2 * i + 1] << 32;
	}
	words_all(w + BW_FLAGS, 4);
	if (r->has_tcp_flags) {
		proto_keep(w + BW_PROTO, tcp, 1);
		w[BW_FRAG] = FRAG_HEAD;
		memset(w + BW_FLAGS, 0, 4 * sizeof(*w));
		for (f = 0; f < 256; f++)
			if ((f & r->tcp_mask) == r->tcp_flags)
				bit_set(w + BW_FLAGS, f);
	}
	w[BW_STATE] = r->states;
	w[BW_HOOK] = r->hooks != 0 ? r->hooks : HOOKS_ALL;
	w[BW_IN] = c->in;
	w[BW_OUT] = c->out;
	if (reload) {
		/* a state-new first packet, a TCP one a SYN */
		w[BW_STATE] &= CT_STATE_BIT(CT_NEW);
		w[BW_FRAG] &= FRAG_HEAD;
		for (i = 0; i < 4; i++)
			if (i != PKT_TH_SYN >> 6)
				w[BW_FLAGS + i] = 0;
		w[BW_FLAGS + (PKT_TH_SYN >> 6)] &= (uint64_t)1 <<
		    (PKT_TH_SYN & 63);
		w[BW_HOOK] = reload_hooks(r);
		w[BW_IN] = w[BW_OUT] = 1;
	}
	for (k = 0; k < NBKEYS; k++) {
		for (i = 0; i < bkeys[k][1] && w[bkeys[k][0] + i] == 0; i++)
			;
		if (i == bkeys[k][1])
			return (0);
	}
	return (1);
}

/* A part x of b's box is one of intervals and bitmaps, and of b's
   values within them: with a's (not NULL), the lists of key d to ask,
   those of all values left out. */
static size_t
lists(const struct uctx *u, const struct cand *a, size_t d,
    const struct rlist **l)
{
	size_t		 n = 0;

	if (a != NULL && (a->l[d].as != NULL || a->l[d].ps != NULL))
		l[n++] = &a->l[d];
	if (u->b.l[d].as != NULL || u->b.l[d].ps != NULL)
		l[n++] = &u->b.l[d];
	return (n);
}

/* Does a meet x?  Then the first and last values of each range key
   that they share, when first is not NULL. */
static int
box_meets(struct uctx *u, const struct box *x, const struct cand *a,
    u128 *first, u128 *last)
{
	const struct rlist *l[2];
	u128		 v;
	uint64_t	 m;
	size_t		 k, i, d, n;

	for (k = 0; k < NBKEYS; k++) {
		for (i = 0, m = 0; i < bkeys[k][1]; i++)
			m |= x->w[bkeys[k][0] + i] & a->w[bkeys[k][0] + i];
		if (m == 0)
			return (0);
	}
	for (d = 0; d < RD_N; d++) {
		n = lists(u, a, d, l);
		if (!rl_meet(u, l, n, x->lo[d], x->hi[d], first != NULL ?
		    &first[d] : &v))
			return (0);
	}
	for (d = 0; first != NULL && d < RD_N; d++) {
		n = lists(u, a, d, l);
		if (!rl_meet_back(u, l, n, first[d], x->hi[d], &last[d]))
			return (0);	/* past the budget */
	}
	return (1);
}

/* Does a hold all of x? */
static int
box_within(struct uctx *u, const struct box *x, const struct cand *a)
{
	const struct rlist *l[2];
	u128		 v, p, q;
	size_t		 i, d, n;

	for (i = 0; i < BW_N; i++)
		if (x->w[i] & ~a->w[i])
			return (0);
	for (d = 0; d < RD_N; d++) {
		n = lists(u, NULL, d, l);
		for (v = x->lo[d]; rl_out(u, &a->l[d], v, x->hi[d], &p, &q);
		    v = q + 1) {
			if (u->work > u->budget ||
			    rl_meet(u, l, n, p, q, &p))
				return (0);
			if (q >= x->hi[d])
				break;
		}
	}
	return (1);
}

static int
push(struct uctx *u, const struct box *x, size_t from)
{
	struct item	*n;
	size_t		 cap;

	if (++u->work > u->budget)
		return (-1);
	if (u->nstack == u->cap) {
		cap = u->cap ? 2 * u->cap : 64;
		if ((n = reallocarray(u->stack, cap, sizeof(*n))) == NULL)
			return (-1);
		u->stack = n;
		u->cap = cap;
	}
	u->stack[u->nstack].box = *x;
	u->stack[u->nstack++].from = from;
	return (0);
}

/*
 * The parts of x that a does not meet, to be asked of the rules after
 * it: key by key, the values of x's that a does not hold, with the keys
 * before it narrowed to a's (a range to the first and last of them:
 * the part may then hold packets of a's, asked again, but none is
 * missed).
 */
static int
cut(struct uctx *u, const struct box *x, const struct cand *a, size_t from,
    const u128 *first, const u128 *last)
{
	const struct rlist *l[2];
	struct box	 n = *x, s;
	uint64_t	 d, any;
	u128		 p, q, v;
	size_t		 k, i, r, nl;

	for (k = 0; k < NBKEYS; k++) {
		s = n;
		for (i = 0, any = 0; i < bkeys[k][1]; i++) {
			d = x->w[bkeys[k][0] + i] & ~a->w[bkeys[k][0] + i];
			s.w[bkeys[k][0] + i] = d;
			n.w[bkeys[k][0] + i] &= a->w[bkeys[k][0] + i];
			any |= d;
		}
		if (any != 0 && push(u, &s, from) == -1)
			return (-1);
	}
	for (r = 0; r < RD_N; r++) {
		nl = lists(u, NULL, r, l);
		for (v = x->lo[r]; rl_out(u, &a->l[r], v, x->hi[r], &p, &q);
		    v = q + 1) {
			if (u->work > u->budget)
				return (-1);
			/* of the values asked only: none, or the first to
			   the last */
			s = n;
			if (rl_meet(u, l, nl, p, q, &s.lo[r]) &&
			    rl_meet_back(u, l, nl, s.lo[r], q, &s.hi[r]) &&
			    push(u, &s, from) == -1)
				return (-1);
			if (q >= x->hi[r])
				break;
		}
		n.lo[r] = first[r];
		n.hi[r] = last[r];
	}
	return (u->work > u->budget ? -1 : 0);
}

/*
 * Is b's box x within the union of u->m's?  1, 0 (a packet is not), or
 * -1 past the budget; and used[] the rules that decide a part of it.
 * A part is taken by the first rule that meets it (which decides the
 * packets they share: used), and cut into the parts it does not meet,
 * asked of the rules after it.  When a rule holds b's box whole (the
 * first such, u->all), a part is done once each rule up to that one
 * that meets it is known to decide a part already: any packet of the
 * part is decided by one of them.
 */
static int
union_holds(struct uctx *u, const struct box *x)
{
	struct item	 it;
	u128		 first[RD_N], last[RD_N];
	size_t		 i, k;

	for (u->all = 0; u->all < u->nm; u->all++) {
		if (++u->work > u->budget)
			return (-1);
		if (box_within(u, x, &u->m[u->all]))
			break;
	}
	u->nstack = 0;
	if (push(u, x, 0) == -1)
		return (-1);
	while (u->nstack > 0) {
		it = u->stack[--u->nstack];
		for (i = it.from; i < u->nm; i++) {
			if (++u->work > u->budget)
				return (-1);
			if (box_meets(u, &it.box, &u->m[i], first, last))
				break;
		}
		if (u->work > u->budget)
			return (-1);
		if (i == u->nm)
			return (0);
		u->used[u->m[i].i] = 1;
		/* k: the first rule up to u->all that may decide a part
		   not known yet; none, past u->all: the part is done */
		for (k = i + 1; u->all < u->nm && k <= u->all; k++) {
			if (++u->work > u->budget)
				return (-1);
			if (!u->used[u->m[k].i] &&
			    box_meets(u, &it.box, &u->m[k], NULL, NULL))
				break;
		}
		if ((u->all == u->nm || k <= u->all) && cut(u, &it.box,
		    &u->m[i], i + 1, first, last) == -1)
			return (-1);
	}
	return (u->work > u->budget ? -1 : 1);
}

/* b's box of family in the space, and the rules that meet it, in u->m:
   0 when b has none there */
static int
space_box(struct uctx *u, struct box *x, uint8_t family, int reload)
{
	u128		 v;
	size_t		 i, d;

	if (!cand_box(&u->b, family, reload))
		return (0);
	memcpy(x->w, u->b.w, sizeof(x->w));
	for (d = 0; d < RD_N; d++)
		if (!rl_in(u, &u->b.l[d], 0, u->b.l[d].max, &x->lo[d], &v) ||
		    !rl_last(u, &u->b.l[d], 0, u->b.l[d].max, &x->hi[d]))
			return (0);	/* not reached: b has values */
	u->nm = 0;
	for (i = 0; i < u->nc && u->work <= u->budget; i++) {
		u->work++;
		if (cand_box(&u->c[i], family, reload) &&
		    box_meets(u, x, &u->c[i], NULL, NULL))
			u->m[u->nm++] = u->c[i];
	}
	return (1);
}

/* u->in, u->out: the kinds of names of b's lists and the rules', and
   which each list matches */
static int
ifp_setup(struct uctx *u)
{
	const struct rule *r;
	size_t		 i;

	u->in.n = u->out.n = 0;
	(void)ifp_add(&u->in, "", 0, 0);
	(void)ifp_add(&u->in, "", 0, 1);
	u->out = u->in;
	for (i = 0; i <= u->nc; i++) {
		r = i < u->nc ? u->c[i].r : u->b.r;
		if (i < u->nc && !u->c[i].ifs)
			continue;
		if (ifp_list(&u->in, r->in, r->nin) == -1 ||
		    ifp_list(&u->out, r->out, r->nout) == -1)
			return (-1);
	}
	if (ifp_name(&u->in) == -1 || ifp_name(&u->out) == -1)
		return (-1);
	for (i = 0; i <= u->nc; i++) {
		struct cand *c = i < u->nc ? &u->c[i] : &u->b;

		if (i < u->nc && !c->ifs)
			continue;	/* in = out = 0: no packet of b's */
		c->in = ifp_bits(&u->in, c->r->in, c->r->nin, c->r->in_neg);
		c->out = ifp_bits(&u->out, c->r->out, c->r->nout,
		    c->r->out_neg);
	}
	return (0);
}

int
rule_cover_union(const struct rule *b, const struct rule *const *a,
    size_t n, uint8_t *used, size_t budget, size_t *work)
{
	static const uint8_t fams[2] = { AF_INET, AF_INET6 };
	struct uctx	*u;
	struct box	 x;
	size_t		 i, nf, f;
	int		 sp, ret = 0, any = 0;

	if ((u = calloc(1, sizeof(*u))) == NULL)
		return (-1);
	u->budget = budget;
	u->b.r = b;
	u->used = used;
	memset(used, 0, n);
	if ((u->c = calloc(n ? n : 1, sizeof(*u->c))) == NULL ||
	    (u->m = calloc(n ? n : 1, sizeof(*u->m))) == NULL) {
		ret = -1;
		goto out;
	}
	/* the rules that cannot meet b, left out; those whose interfaces
	   cannot, only of the reload's space, where interfaces are no
	   key: their names would take kinds of their own */
	for (i = 0; i < n; i++) {
		u->work++;
		if ((a[i]->states & b->states) == 0)
			continue;
		u->c[u->nc].r = a[i];
		u->c[u->nc].ifs = ifs_meet(a[i]->in, a[i]->nin, a[i]->in_neg,
		    b->in, b->nin, b->in_neg) && ifs_meet(a[i]->out,
		    a[i]->nout, a[i]->out_neg, b->out, b->nout, b->out_neg);
		u->c[u->nc++].i = i;
	}
	if (ifp_setup(u) == -1) {
		ret = -1;
		goto out;
	}
	/* without an address list, a family's boxes are the other's */
	for (i = 0, nf = 1; i <= u->nc && nf == 1; i++)
		if ((i < u->nc ? u->c[i].r : b)->src != NULL ||
		    (i < u->nc ? u->c[i].r : b)->dst != NULL)
			nf = 2;
	ret = 1;
	for (sp = 0; sp < 2 && ret == 1; sp++)
		for (f = 0; f < nf && ret == 1; f++) {
			if (!space_box(u, &x, fams[f], sp))
				continue;
			any = 1;
			ret = union_holds(u, &x);
		}
	if (ret == 1 && (u->work > u->budget || !any))
		ret = u->work > u->budget ? -1 : 0;
 out:
	if (work != NULL)
		*work += u->work;
	free(u->stack);
	free(u->c);
	free(u->m);
	free(u);
	return (ret);
}
