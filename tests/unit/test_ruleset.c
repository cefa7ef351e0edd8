/*
 * test_ruleset.c - the compiled lookup gives what a walk gives
 *
 * Copyright (C) 2026 The nfqspid authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * Random policies, written as nfqspi.ini text and loaded by config_load()
 * (so the index is the one the daemon builds), and random packets: for
 * every packet and state, ruleset_first() must name the rule a walk over
 * the rules in file order names with rule_match(), negations, states,
 * chains, interfaces, ICMP types and TCP flags included.  Values are drawn
 * from small spaces so that rules overlap, nest and tie.
 */
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "config.h"
#include "ruleset.h"
#include "strl.h"
#include "verdict.h"

static char	 inipath[] = "/tmp/test_ruleset.XXXXXX";
static uint64_t	 seed = 0x72756c6573ULL;

static uint32_t
rnd(uint32_t n)
{
	seed ^= seed << 13;
	seed ^= seed >> 7;
	seed ^= seed << 17;
	return ((uint32_t)(seed % n));
}

static const char *
pick(const char *const *a, size_t n)
{
	return (a[rnd((uint32_t)n)]);
}

#define PICK(a)	pick((a), sizeof(a) / sizeof((a)[0]))

static const char *const v4[] = {
	"10.0.0.0/8", "10.1.0.0/16", "10.1.2.0/24", "10.1.2.3", "10.2.0.0/15",
	"192.0.2.0/24", "192.0.2.128/25", "0.0.0.0/0", "10.1.2.0/31",
};
static const char *const v6[] = {
	"fd00::/8", "fd00:1::/32", "fd00:1::5", "::/0", "fd00:1:2::/48",
};
static const char *const ifs[] = {
	"eth0", "eth1", "wg+", "!eth0", "!wg+", "lan+", "eth0, wg+",
	"wg+, !wg0", "!eth0, !eth1", "+", "lan+, !lan3", "eth+, !eth1",
};
static const char *const chains[] = {
	"input", "forward", "output", "input,forward", "prerouting",
};

/* a list of 1 to 3 addresses, maybe a negation among them */
static void
addrs(FILE *f, const char *key)
{
	const char	*seen[3];
	int		 n = 1 + (int)rnd(3), i, j, k = 0;

	fprintf(f, "%s = ", key);
	for (i = 0; i < n; i++) {
		const char *a = rnd(3) ? PICK(v4) : PICK(v6);

		for (j = 0; j < k; j++)
			if (strcmp(seen[j], a) == 0)
				break;
		if (j < k)
			continue;
		seen[k++] = a;
		fprintf(f, "%s%s%s", k > 1 ? ", " : "", k > 1 && rnd(3) == 0 ?
		    "!" : "", a);
	}
	fputc('\n', f);
}

/* sorted, disjoint ports and ranges within 1..40 */
static void
ports(FILE *f, const char *key)
{
	uint32_t	 p = 1 + rnd(10), hi;
	int		 n = 1 + (int)rnd(3), first = 1;

	fprintf(f, "%s = ", key);
	while (n-- > 0 && p <= 40) {
		hi = rnd(2) ? p : p + rnd(12);
		fprintf(f, first ? "%u" : ", %u", p);
		if (hi != p)
			fprintf(f, "-%u", hi);
		first = 0;
		p = hi + 2 + rnd(8);
	}
	fputc('\n', f);
}

static void
one_rule(FILE *f, int i)
{
	static const char *const states[] = {
		"new", "new", "new", "established", "new, invalid",
		"related, established", "invalid",
	};
	static const char *const protos[] = {
		"", "tcp", "tcp", "udp", "icmp", "icmpv6", "47", "any",
	};
	const char	*proto = PICK(protos);

	fprintf(f, "[rule r%d]\naction = %s\n", i, rnd(2) ? "accept" : "drop");
	if (rnd(4) == 0)
		fprintf(f, "state = %s\n", PICK(states));
	if (proto[0] != '\0')
		fprintf(f, "proto = %s\n", proto);
	if (rnd(2))
		addrs(f, "src");
	if (rnd(3) == 0)
		addrs(f, "dst");
	if (proto[0] == '\0' || strcmp(proto, "tcp") == 0 ||
	    strcmp(proto, "udp") == 0 || strcmp(proto, "any") == 0) {
		if (rnd(4) == 0)
			ports(f, "sport");
		if (rnd(2))
			ports(f, "dport");
	}
	if (strcmp(proto, "icmp") == 0 && rnd(2))
		fprintf(f, "icmp_type = %u, %u\n", rnd(4), 4 + rnd(8));
	if (strcmp(proto, "tcp") == 0 && rnd(4) == 0)
		fprintf(f, "tcp_flags = %s\n", rnd(2) ? "S/SA" : "A/SAFR");
	if (rnd(6) == 0)
		fprintf(f, "in = %s\n", PICK(ifs));
	if (rnd(8) == 0)
		fprintf(f, "out = %s\n", PICK(ifs));
	if (rnd(8) == 0)
		fprintf(f, "chain = %s\n", PICK(chains));
}

/* A rule of a policy whose rules differ most often in one key, so that
   several can shadow a later one together. */
static void
union_rule(FILE *f, int i)
{
	fprintf(f, "[rule r%d]\naction = %s\nproto = %s\n", i,
	    rnd(2) ? "accept" : "drop", rnd(8) ? "tcp" : "udp");
	switch (rnd(5)) {
	case 0:
	case 1:
		ports(f, "dport");
		break;
	case 2:
		addrs(f, "src");
		break;
	case 3:
		addrs(f, "dst");
		break;
	default:
		ports(f, "sport");
		if (rnd(4) == 0)
			ports(f, "dport");
	}
	if (rnd(10) == 0)
		fprintf(f, "state = %s\n", rnd(2) ? "new, established" :
		    "established");
	if (rnd(10) == 0)
		fprintf(f, "in = %s\n", PICK(ifs));
	if (rnd(12) == 0)
		fprintf(f, "chain = %s\n", PICK(chains));
}

/* Four tiles of ports 1-40 (a gap at times), then ranges across them,
   sometimes of a source too: shadowed by several, among them ranges
   shadowed themselves */
static void
range_rule(FILE *f, int i)
{
	uint32_t	 lo = 1 + rnd(40), hi = lo + rnd(20);

	if (i < 4) {
		lo = 1 + 10 * (uint32_t)i + (rnd(6) == 0);
		hi = 10 + 10 * (uint32_t)i;
	}
	fprintf(f, "[rule r%d]\naction = %s\nproto = tcp\ndport = %u-%u\n",
	    i, rnd(2) ? "accept" : "drop", lo, hi);
	if (i >= 4 && rnd(4) == 0)
		addrs(f, "src");
}

/* A rule of one family's addresses (IPv4 sources, IPv6 destinations,
   halves of a space) or of none, and of a port range: the IPv4 packets
   of a later rule held by some, its IPv6 ones by others */
static void
family_rule(FILE *f, int i)
{
	static const char *const fam[] = {
		"src = 0.0.0.0/0", "src = 10.0.0.0/8", "src = 0.0.0.0/1",
		"src = 128.0.0.0/1", "dst = ::/0", "dst = fd00::/8",
		"dst = ::/1", "dst = 8000::/1", "src = ::/0", "dst = 0.0.0.0/0",
	};

	uint32_t	 lo;
	int		 any;

	fprintf(f, "[rule r%d]\naction = %s\nproto = tcp\n", i,
	    rnd(2) ? "accept" : "drop");
	if ((any = rnd(4) != 0))
		fprintf(f, "%s\n", PICK(fam));
	if (!any || rnd(2)) {
		lo = 1 + 10 * rnd(4);
		fprintf(f, "dport = %u-%u\n", lo, lo + 9 + 10 * rnd(3));
	}
	if (rnd(12) == 0)
		fprintf(f, "in = %s\n", PICK(ifs));
}

static struct config *
policy_of(int n, void (*rule)(FILE *, int))
{
	struct config	*c;
	FILE		*f;
	char		 err[512];
	int		 i;

	assert_non_null(f = fopen(inipath, "w"));
	for (i = 0; i < n; i++)
		rule(f, i);
	assert_int_equal(fclose(f), 0);
	if ((c = config_load(inipath, err, sizeof(err))) == NULL)
		fail_msg("%s", err);
	assert_non_null(c->ruleset);
	return (c);
}

static struct config *
policy(int n)
{
	return (policy_of(n, one_rule));
}

static void
addr(uint8_t family, union pkt_addr *a)
{
	static const char *const a4[] = {
		"10.1.2.3", "10.1.2.1", "10.1.3.3", "10.3.0.1", "192.0.2.130",
		"192.0.2.5", "8.8.8.8", "10.2.255.255", "10.0.0.0",
	};
	static const char *const a6[] = {
		"fd00:1::5", "fd00:1::6", "fd00:1:2::1", "fe80::1", "fd01::1",
	};

	memset(a, 0, sizeof(*a));
	assert_int_equal(inet_pton(family, family == AF_INET ? PICK(a4) :
	    PICK(a6), a->a8), 1);
}

static void
packet(struct pkt *p, const char **in, const char **out)
{
	static const uint8_t protos[] = {
		IPPROTO_TCP, IPPROTO_UDP, IPPROTO_ICMP, IPPROTO_ICMPV6, 47,
	};
	static const char *const names[] = {
		"eth0", "eth1", "wg0", "wg", "lan3", "", NULL, "eth2",
	};

	memset(p, 0, sizeof(*p));
	p->family = rnd(3) ? AF_INET : AF_INET6;
	p->proto = protos[rnd(sizeof(protos))];
	addr(p->family, &p->src);
	addr(p->family, &p->dst);
	p->sport = (uint16_t)(1 + rnd(45));
	p->dport = (uint16_t)(1 + rnd(45));
	p->icmp_type = (uint8_t)rnd(14);
	p->th_flags = (uint8_t)rnd(64);
	p->frag = rnd(10) == 0 ? PKT_FRAG_LATER : 0;
	p->hook = (uint8_t)rnd(PKT_HOOK_MAX);
	*in = names[rnd(sizeof(names) / sizeof(names[0]))];
	*out = names[rnd(sizeof(names) / sizeof(names[0]))];
}

struct walk {
	const struct pkt *p;
	int		 state;
	const char	*in, *out;
	size_t		 asked;
};

static int
match(const struct rule *r, void *arg)
{
	struct walk	*w = arg;

	w->asked++;
	return (rule_match(r, w->p, w->state, w->in, w->out));
}

/* Returns how many decisions a rule made. */
static size_t
compare(int nrules, int npackets)
{
	struct config	*c = policy(nrules);
	const struct rule *want, *got;
	struct walk	 w;
	struct pkt	 p;
	size_t		 i, hits = 0;
	int		 k, s;

	for (k = 0; k < npackets; k++) {
		packet(&p, &w.in, &w.out);
		w.p = &p;
		for (s = 0; s < CT_STATE_MAX; s++) {
			w.state = s;
			want = NULL;
			for (i = 0; i < c->nrules && want == NULL; i++)
				if (rule_match(&c->rules[i], &p, s, w.in,
				    w.out))
					want = &c->rules[i];
			w.asked = 0;
			got = ruleset_first(c->ruleset, &p, s, match, &w);
			if (got != want)
				fail_msg("%d rules, packet %d, state %d: "
				    "index says %s, a walk says %s", nrules, k,
				    s, got ? got->name : "none", want ?
				    want->name : "none");
			/* and the decision path asks the index */
			assert_ptr_equal(verdict_first_rule(c, &p, s, w.in,
			    w.out), want);
			hits += want != NULL;
		}
	}
	config_free(c);
	return (hits);
}

static void
test_random(void **state)
{
	size_t		 hits = 0, n = 0;
	int		 round;

	(void)state;
	for (round = 0; round < 200; round++) {
		hits += compare(1 + (int)rnd(40), 300);
		n += 300 * CT_STATE_MAX;
	}
	/* the draw gives both answers often */
	assert_true(hits > n / 10 && hits < n - n / 10);
	assert_true(compare(2000, 3000) > 0);
}

/* The index asks few rules: one in a thousand matches by port. */
static void
test_selective(void **state)
{
	struct config	*c;
	struct walk	 w;
	struct pkt	 p;
	FILE		*f;
	char		 err[512];
	int		 i;

	(void)state;
	assert_non_null(f = fopen(inipath, "w"));
	for (i = 0; i < 10000; i++)
		fprintf(f, "[rule r%d]\nproto = %s\nsrc = 10.%d.%d.0/24\n"
		    "dport = %d\naction = drop\n", i, i % 2 ? "tcp" : "udp",
		    i / 256 % 256, i % 256, 1 + i % 1000);
	fprintf(f, "[rule last]\naction = accept\n");
	assert_int_equal(fclose(f), 0);
	assert_non_null(c = config_load(inipath, err, sizeof(err)));
	memset(&p, 0, sizeof(p));
	p.family = AF_INET;
	p.proto = IPPROTO_TCP;
	/* r98 has the source, r99 and nine others the port: two asked */
	assert_int_equal(inet_pton(AF_INET, "10.0.98.1", p.src.a8), 1);
	p.dport = 100;
	w.p = &p;
	w.state = CT_NEW;
	w.in = w.out = "";
	w.asked = 0;
	assert_string_equal(ruleset_first(c->ruleset, &p, CT_NEW, match,
	    &w)->name, "last");
	assert_int_equal(w.asked, 2);
	/* 10.4.75.0/24, tcp, dport 100: rule 4 * 256 + 75 */
	assert_int_equal(inet_pton(AF_INET, "10.4.75.9", p.src.a8), 1);
	w.asked = 0;
	assert_string_equal(ruleset_first(c->ruleset, &p, CT_NEW, match,
	    &w)->name, "r1099");
	assert_int_equal(w.asked, 1);
	/* udp to that port from elsewhere: the udp rules of port 100 */
	p.proto = IPPROTO_UDP;
	assert_int_equal(inet_pton(AF_INET, "192.0.2.1", p.src.a8), 1);
	w.asked = 0;
	assert_string_equal(ruleset_first(c->ruleset, &p, CT_NEW, match,
	    &w)->name, "last");
	assert_true(w.asked <= 11);
	config_free(c);
}

/* Whether each rule of a policy matches packet k in state s */
struct hits {
	uint8_t		*m;	/* [k][s][rule] */
	size_t		 n, np;
};

static int
hit(const struct hits *h, size_t k, int s, size_t i)
{
	return (h->m[(k * CT_STATE_MAX + (size_t)s) * h->n + i]);
}

/* the first packet that j matches and i does not, in some state */
static size_t
uncovered(const struct hits *h, size_t i, size_t j)
{
	size_t		 k;
	int		 s;

	for (k = 0; k < h->np; k++)
		for (s = 0; s < CT_STATE_MAX; s++)
			if (hit(h, k, s, j) && !hit(h, k, s, i))
				return (k);
	return (h->np);
}

/* What a reload's judging asks of r for a connection whose first
   packet is p (verdict.c's match_rejudge()): a rule that names in or
   out, or a chain when p's is not known, is guessed. */
static int
reload_match(const struct rule *r, const struct pkt *p)
{
	struct pkt	 q = *p;
	const char	*in = "", *out = "";
	uint8_t		 i, h;
	int		 guess = r->nin > 0 || r->nout > 0 ||
			    (r->hooks != 0 && p->hook == PKT_HOOK_UNKNOWN);

	if (guess && r->action != RULE_ACCEPT)
		return (0);
	q.frag = 0;
	q.th_flags = q.proto == IPPROTO_TCP ? PKT_TH_SYN : 0;
	if (q.hook == PKT_HOOK_UNKNOWN)
		for (h = PKT_HOOK_MAX - 1; h > PKT_HOOK_UNKNOWN; h--)
			if (r->hooks & RULE_HOOK_BIT(h))
				q.hook = h;
	for (i = r->nin; i > 0; i--)
		if ((r->in_neg & (1u << (i - 1))) == 0)
			in = r->in[i - 1];
	for (i = r->nout; i > 0; i--)
		if ((r->out_neg & (1u << (i - 1))) == 0)
			out = r->out[i - 1];
	return (rule_match(r, &q, CT_NEW, in, out));
}

/* Is by[0 .. n-1] (in file order, before j) each rule that decides one
   of j's packets (or a reload's connection): the first to match it?
   Each packet j matches, one of them matches first.  Returns how many
   packets j matched. */
static size_t
deciders_hold(const struct config *c, const struct hits *h,
    const uint8_t *rl, size_t j, const struct rule *const *by, size_t n,
    int round)
{
	size_t		 i, k, m, tried = 0, show;
	int		 s;

	show = n < RULESET_UNION_MAX ? n : RULESET_UNION_MAX;
	for (i = 0; i < show; i++) {
		assert_true(by[i]->index < j);
		assert_true(i == 0 || by[i - 1]->index < by[i]->index);
	}
	for (k = 0; k < h->np; k++)
		for (s = 0; s <= CT_STATE_MAX; s++) {
			/* s == CT_STATE_MAX: the reload's judging */
			if (s < CT_STATE_MAX ? !hit(h, k, s, j) :
			    !rl[k * h->n + j])
				continue;
			tried++;
			for (i = 0; i < j; i++)
				if (s < CT_STATE_MAX ? hit(h, k, s, i) :
				    rl[k * h->n + i])
					break;
			for (m = 0; m < show && i < j; m++)
				if (by[m]->index == i)
					break;
			if (i == j || (show == n && m == n))
				fail_msg("round %d: r%zu's packet %zu, state "
				    "%d: first matched by r%zu, not named",
				    round, j, k, s, i);
		}
	return (tried);
}

struct shadow_counts {
	size_t		 covers;	/* pairs rule_covers() proves */
	size_t		 shadowed;	/* rules shadowed by one */
	size_t		 tried;		/* packets they match */
	size_t		 unions;	/* rules shadowed by several */
	size_t		 union_tried;	/* packets they match */
	size_t		 reload;	/* connections a reload judged */
};

/*
 * What nfqspid -n says of random policies holds for random packets: a
 * rule that rule_covers() says holds another matches every packet that
 * one does, and a shadowed rule is never the first match; the rules
 * that ruleset_shadowed_by() names together match every packet the
 * rule does.  And the index finds the first shadowing rule a walk over
 * the earlier ones finds.
 */
static void
shadow_random(int rounds, void (*rule)(FILE *, int), struct shadow_counts *n)
{
	struct config	*c;
	struct hits	 h;
	struct pkt	*pk;
	const char	**in, **out;
	const struct rule *a, *want, *by[RULESET_UNION_MAX];
	uint8_t		*rl;
	size_t		 i, j, k, nby;
	int		 round, s, any;

	memset(n, 0, sizeof(*n));
	h.np = 400;
	assert_non_null(pk = calloc(h.np, sizeof(*pk)));
	assert_non_null(in = calloc(h.np, sizeof(*in)));
	assert_non_null(out = calloc(h.np, sizeof(*out)));
	for (round = 0; round < rounds; round++) {
		c = policy_of(2 + (int)rnd(30), rule);
		h.n = c->nrules;
		assert_non_null(h.m = calloc(h.np * CT_STATE_MAX, h.n));
		assert_non_null(rl = calloc(h.np, h.n));
		for (k = 0; k < h.np; k++) {
			packet(&pk[k], &in[k], &out[k]);
			/* the reload's first rule, as the daemon finds it */
			want = NULL;
			for (i = 0; i < h.n; i++) {
				rl[k * h.n + i] = (uint8_t)reload_match(
				    &c->rules[i], &pk[k]);
				if (want == NULL && rl[k * h.n + i])
					want = &c->rules[i];
			}
			assert_ptr_equal(verdict_rejudge_rule(c, &pk[k]),
			    want);
			n->reload += want != NULL;
			for (s = 0; s < CT_STATE_MAX; s++)
				for (i = 0; i < h.n; i++)
					h.m[(k * CT_STATE_MAX + (size_t)s) *
					    h.n + i] = (uint8_t)rule_match(
					    &c->rules[i], &pk[k], s, in[k],
					    out[k]);
		}
		for (j = 0; j < h.n; j++) {
			for (i = 0; i < j; i++) {
				if (!rule_covers(&c->rules[i], &c->rules[j]))
					continue;
				n->covers++;
				if ((k = uncovered(&h, i, j)) < h.np)
					fail_msg("round %d: r%zu covers r%zu, "
					    "not packet %zu", round, i, j, k);
			}
			/* a walk: the first earlier rule that shadows */
			want = NULL;
			for (i = 0; i < j && want == NULL; i++)
				if (rule_shadows(&c->rules[i], &c->rules[j]) &&
				    rule_addrs_can_match(&c->rules[j]))
					want = &c->rules[i];
			a = ruleset_shadow(c->ruleset, &c->rules[j]);
			if (a != want)
				fail_msg("round %d: r%zu shadowed by %s, a "
				    "walk says %s", round, j, a ? a->name :
				    "none", want ? want->name : "none");
			/* the rules that decide j's packets: a's proof is
			   found again, and the rules named are the first
			   matches, of packets and of a reload's judging */
			nby = ruleset_shadowed_by(c->ruleset, &c->rules[j], by,
			    RULESET_UNION_MAX, NULL);
			if (a != NULL && nby == 0)
				fail_msg("round %d: r%zu shadowed by %s, not "
				    "found", round, j, a->name);
			if (nby > 0)
				n->union_tried += deciders_hold(c, &h, rl, j,
				    by, nby, round);
			if (nby > 0 && a == NULL)
				n->unions++;
			if (a == NULL)
				continue;
			n->shadowed++;
			/* never the first match */
			for (k = 0; k < h.np; k++)
				for (s = 0; s < CT_STATE_MAX; s++) {
					n->tried += hit(&h, k, s, j);
					for (i = 0, any = 0; i < j; i++)
						any |= hit(&h, k, s, i);
					if (hit(&h, k, s, j) && !any)
						fail_msg("round %d: r%zu "
						    "decides packet %zu",
						    round, j, k);
				}
		}
		free(h.m);
		free(rl);
		config_free(c);
	}
	free(pk);
	free(in);
	free(out);
}

static void
test_shadow_random(void **state)
{
	struct shadow_counts n;

	(void)state;
	shadow_random(150, one_rule, &n);
	/* not vacuous: many pairs, and packets that the shadowed match */
	assert_true(n.covers > 300);
	assert_true(n.shadowed > 200);
	assert_true(n.tried > 5000);
	/* rules that differ in one key: many shadowed by several */
	shadow_random(150, union_rule, &n);
	assert_true(n.unions > 50);
	assert_true(n.union_tried > 1000);
	/* rules of one family: the IPv4 packets held by some, the IPv6
	   ones by others of another key */
	shadow_random(300, family_rule, &n);
	assert_true(n.unions > 100);
	assert_true(n.reload > 10000);
}

/* The rule numbers of "[rule rN]" in s up to end, into r: how many */
static size_t
rule_numbers(const char *s, const char *end, size_t *r, size_t max)
{
	size_t		 n = 0;

	while ((s = strstr(s, "[rule r")) != NULL && s < end) {
		assert_true(n < max);
		r[n++] = strtoul(s + 7, NULL, 10);
		s += 7;
	}
	return (n);
}

/*
 * The rules a shadow warning names as deciding the packets: each comes
 * before the rule, is not shadowed itself, and each packet the rule
 * matches, one of them matches.
 */
static void
test_shadow_deciders_random(void **state)
{
	struct config	*c;
	struct pkt	 p;
	const char	*in, *out, *w, *by, *mid;
	size_t		 r[64], nr, i, j, k, m, tried = 0, several = 0;
	size_t		 warned = 0;
	uint8_t		 shadowed[16];
	int		 round, s, any;

	(void)state;
	for (round = 0; round < 3000; round++) {
		c = policy_of(3 + (int)rnd(12), round % 2 ? union_rule :
		    range_rule);
		if (c->warn_more > 0) {
			config_free(c);
			continue;
		}
		memset(shadowed, 0, sizeof(shadowed));
		for (i = 0; i < c->nwarn; i++) {
			if ((w = strstr(c->warn[i], "]: every packet")) == NULL)
				continue;
			assert_int_equal(rule_numbers(c->warn[i], w, r, 1), 1);
			shadowed[r[0]] = 1;
		}
		for (i = 0; i < c->nwarn; i++) {
			if ((by = strstr(c->warn[i], "decided first by ")) ==
			    NULL)
				continue;
			assert_int_equal(rule_numbers(c->warn[i], by, r, 1), 1);
			j = r[0];
			assert_non_null(mid = strstr(by, ": the rule never"));
			assert_null(strstr(by, " more: the rule never"));
			nr = rule_numbers(by, mid, r, 64);
			assert_true(nr > 0);
			several += nr > 1;
			for (k = 0; k < nr; k++) {
				assert_true(r[k] < j);
				assert_true(k == 0 || r[k - 1] < r[k]);
				if (shadowed[r[k]])
					fail_msg("round %d: r%zu named, "
					    "shadowed itself: %s", round,
					    r[k], c->warn[i]);
			}
			warned++;
			for (k = 0; k < 400; k++) {
				packet(&p, &in, &out);
				for (s = 0; s < CT_STATE_MAX; s++) {
					if (!rule_match(&c->rules[j], &p, s, in,
					    out))
						continue;
					tried++;
					for (m = 0, any = 0; m < nr; m++)
						any |= rule_match(&c->rules[r[m]],
						    &p, s, in, out);
					if (!any)
						fail_msg("round %d: %s: not "
						    "packet %zu", round,
						    c->warn[i], k);
				}
			}
		}
		config_free(c);
	}
	/* not vacuous: many warnings, many of several rules */
	assert_true(warned > 3000);
	assert_true(several > 300);
	assert_true(tried > 30000);
}

/* Does the list in r->in match a name that has prefix base, base itself
   or base and one more character? */
static int
iface_witness(const struct rule *r, const struct pkt *p, const char *base)
{
	static const char more[] = "0123456789abcdefghijklmnopqrstuvwxyz+";
	char		 name[RULE_IFNAMSIZ];
	size_t		 len = strlen(base), i;

	if (len > 0 && rule_match(r, p, CT_NEW, base, ""))
		return (1);
	for (i = 0; more[i] != '\0' && len + 1 < RULE_IFNAMSIZ; i++) {
		snprintf(name, sizeof(name), "%s%c", base, more[i]);
		if (rule_match(r, p, CT_NEW, name, ""))
			return (1);
	}
	return (0);
}

/*
 * rule_ifaces_can_match() is exact: when it says a list matches no name,
 * neither a name of the pool nor one that each plain element could match
 * (the element, or its prefix and one more character) does; when it
 * says one can, one of those does.
 */
static void
test_iface_lists_random(void **state)
{
	static const char *const pool[] = {
		"eth0", "eth1", "eth+", "eth0+", "e+", "+", "wg0", "wg+",
		"eth", "eth00", "abcdefghijklmn+", "abcdefghijklmn", "lo",
	};
	struct rule	 r;
	struct pkt	 p;
	char		 text[256], err[256], base[RULE_IFNAMSIZ];
	size_t		 len, i;
	int		 round, n, k, can, want, dead = 0, alive = 0;

	(void)state;
	memset(&p, 0, sizeof(p));
	p.family = AF_INET;
	p.proto = IPPROTO_TCP;
	for (round = 0; round < 20000; round++) {
		text[0] = '\0';
		n = 1 + (int)rnd(5);
		for (k = 0; k < n; k++) {
			len = strlen(text);
			snprintf(text + len, sizeof(text) - len, "%s%s%s",
			    k > 0 ? ", " : "", rnd(2) ? "!" : "", PICK(pool));
		}
		memset(&r, 0, sizeof(r));
		r.states = CT_STATE_BIT(CT_NEW);
		if (rule_parse_ifaces(text, r.in, &r.nin, &r.in_neg, err,
		    sizeof(err)) == -1)
			continue;	/* a name twice */
		want = 0;
		for (i = 0; i < sizeof(pool) / sizeof(pool[0]); i++)
			want |= rule_match(&r, &p, CT_NEW, pool[i], "");
		want |= rule_match(&r, &p, CT_NEW, "", "");
		for (i = 0; i < r.nin && !want; i++) {
			if (r.in_neg & (1u << i))
				continue;
			spi_strlcpy(base, r.in[i], sizeof(base));
			len = strlen(base);
			if (base[len - 1] == '+')
				base[len - 1] = '\0';
			want = iface_witness(&r, &p, base);
		}
		can = rule_ifaces_can_match(r.in, r.nin, r.in_neg);
		if (can != want)
			fail_msg("\"%s\": can match %d, a name matches %d",
			    text, can, want);
		dead += !can;
		alive += can;
	}
	assert_true(dead > 1000 && alive > 1000);
}

/*
 * rule_cover.c reads interface lists with matchers of its own (the
 * pairwise pat_*()) and by a few names that stand for all (a union's
 * ifp_*()); each answer must be the one rule_match() gives, name by
 * name.  The lists: none,
 * one element or two, of names, prefixes ("+" among them, a base of
 * 14 characters) and negations; the names: each base, each name, a
 * base with one more character, and "" (not known).  Packets in state
 * established (no reload's judging), and in state new by rules that
 * accept or drop, with the reload's guesses (reload_match()).
 */
#define IFG_POOL	10
#define IFG_LISTS	(1 + 2 * IFG_POOL + 2 * IFG_POOL * (IFG_POOL - 1))
#define IFG_NAMES	512

struct ifgrid {
	struct rule	 r[IFG_LISTS];
	char		 text[IFG_LISTS][64];
	size_t		 nl;
	char		 name[IFG_NAMES][RULE_IFNAMSIZ];
	size_t		 nn;
	uint8_t		 m[IFG_LISTS][IFG_NAMES];	/* rule_match() */
	uint8_t		 rl[IFG_LISTS];			/* reload_match() */
	struct pkt	 p;
	int		 out;		/* the lists are of out, not in */
};

static void
ifgrid_name(struct ifgrid *g, const char *s)
{
	size_t		 i;

	for (i = 0; i < g->nn; i++)
		if (strcmp(g->name[i], s) == 0)
			return;
	assert_true(g->nn < IFG_NAMES);
	spi_strlcpy(g->name[g->nn++], s, RULE_IFNAMSIZ);
}

static void
ifgrid_list(struct ifgrid *g, const char *text)
{
	struct rule	*r = &g->r[g->nl];
	char		 err[256];

	memset(r, 0, sizeof(*r));
	if (rule_parse_ifaces(text, g->out ? r->out : r->in, g->out ?
	    &r->nout : &r->nin, g->out ? &r->out_neg : &r->in_neg, err,
	    sizeof(err)) == -1)
		fail_msg("\"%s\": %s", text, err);
	spi_strlcpy(g->text[g->nl++], text, sizeof(g->text[0]));
}

static void
ifgrid_init(struct ifgrid *g, int out)
{
	static const char *const pool[IFG_POOL] = {
		"eth0", "eth1", "eth", "eth+", "eth0+", "e+", "+", "wg0",
		"abcdefghijklmn+", "abcdefghijklmno",
	};
	static const char more[] = "0123456789abcdefghijklmnopqrstuvwxyz+";
	char		 text[64], base[RULE_IFNAMSIZ], name[RULE_IFNAMSIZ];
	size_t		 i, j, len;
	int		 ni, nj;

	memset(g, 0, sizeof(*g));
	g->out = out;
	ifgrid_list(g, "");
	for (i = 0; i < IFG_POOL; i++)
		for (ni = 0; ni < 2; ni++) {
			snprintf(text, sizeof(text), "%s%s", ni ? "!" : "",
			    pool[i]);
			ifgrid_list(g, text);
			for (j = i + 1; j < IFG_POOL; j++)
				for (nj = 0; nj < 2; nj++) {
					snprintf(text, sizeof(text), "%s%s, "
					    "%s%s", ni ? "!" : "", pool[i],
					    nj ? "!" : "", pool[j]);
					ifgrid_list(g, text);
				}
		}
	assert_int_equal(g->nl, IFG_LISTS);
	ifgrid_name(g, "");
	for (i = 0; i < IFG_POOL; i++) {
		spi_strlcpy(base, pool[i], sizeof(base));
		len = strlen(base);
		if (base[len - 1] == '+')
			base[--len] = '\0';
		if (len > 0)
			ifgrid_name(g, base);
		for (j = 0; more[j] != '\0' && len + 1 < RULE_IFNAMSIZ; j++) {
			snprintf(name, sizeof(name), "%s%c", base, more[j]);
			ifgrid_name(g, name);
		}
	}
	g->p.family = AF_INET;
	g->p.proto = IPPROTO_TCP;
	g->p.hook = PKT_HOOK_INPUT;
}

/* the rules' state and actions (action < 0: accept when the list's
   number is odd), and what they match */
static void
ifgrid_judge(struct ifgrid *g, int state, int action)
{
	struct rule	*r;
	size_t		 i, k;

	for (i = 0; i < g->nl; i++) {
		r = &g->r[i];
		r->states = CT_STATE_BIT(state);
		r->action = (uint8_t)(action >= 0 ? action : i % 2 ?
		    RULE_ACCEPT : RULE_DROP);
		for (k = 0; k < g->nn; k++)
			g->m[i][k] = (uint8_t)rule_match(r, &g->p, state,
			    g->out ? "" : g->name[k], g->out ? g->name[k] : "");
		g->rl[i] = state == CT_NEW ? (uint8_t)reload_match(r, &g->p) :
		    0;
	}
}

/*
 * What a[0 .. n-1] (list numbers, in file order) do with the names
 * and the reload's judging of list b: 1 when they decide each of
 * them, and first[] the lists that are the first to match one; 0 when
 * b decides one, or matches none.
 */
static int
ifgrid_decide(const struct ifgrid *g, const size_t *a, size_t n, size_t b,
    uint8_t *first)
{
	size_t		 i, k;
	int		 any = 0;

	memset(first, 0, n);
	for (k = 0; k <= g->nn; k++) {
		/* k == nn: the reload's judging */
		if (k < g->nn ? !g->m[b][k] : !g->rl[b])
			continue;
		any = 1;
		for (i = 0; i < n; i++)
			if (k < g->nn ? g->m[a[i]][k] : g->rl[a[i]])
				break;
		if (i == n)
			return (0);
		first[i] = 1;
	}
	return (any);
}

/* Every name b's list matches, a's does (and every reload's judging). */
static int
ifgrid_holds(const struct ifgrid *g, size_t a, size_t b, int reload)
{
	size_t		 k;

	for (k = 0; k < g->nn; k++)
		if (g->m[b][k] && !g->m[a][k])
			return (0);
	return (!reload || !g->rl[b] || g->rl[a]);
}

struct ifgrid_counts {
	size_t		 proven[2];	/* rule_covers(), rule_shadows() */
	size_t		 unions, several;
};

static void
ifgrid_pairs(struct ifgrid *g, struct ifgrid_counts *n)
{
	/* the pairwise proofs; the second with the reload's judging */
	static int (*const proof[2])(const struct rule *,
	    const struct rule *) = { rule_covers, rule_shadows };
	static const char *const said[2] = { "covers", "shadows" };
	const struct rule *ar[2];
	size_t		 a, b, ai[2];
	uint8_t		 used[2], first[2];
	int		 want, got, round, k;

	for (b = 0; b < g->nl; b++)
		for (a = 0; a < g->nl; a++) {
			for (k = 0; k < 2; k++) {
				if (!proof[k](&g->r[a], &g->r[b]))
					continue;
				n->proven[k]++;
				if (!ifgrid_holds(g, a, b, k))
					fail_msg("\"%s\" %s \"%s\": not each "
					    "name", g->text[a], said[k],
					    g->text[b]);
			}
			ai[0] = a;
			ar[0] = &g->r[a];
			want = ifgrid_decide(g, ai, 1, b, first);
			got = rule_cover_union(&g->r[b], ar, 1, used,
			    1u << 20, NULL);
			if (got != want)
				fail_msg("\"%s\" before \"%s\": union says %d, "
				    "the names %d", g->text[a], g->text[b],
				    got, want);
			n->unions += got == 1;
		}
	/* two lists before one: together, as only the names show */
	for (round = 0; round < 20000; round++) {
		ai[0] = rnd((uint32_t)g->nl);
		ai[1] = rnd((uint32_t)g->nl);
		b = rnd((uint32_t)g->nl);
		ar[0] = &g->r[ai[0]];
		ar[1] = &g->r[ai[1]];
		want = ifgrid_decide(g, ai, 2, b, first);
		got = rule_cover_union(&g->r[b], ar, 2, used, 1u << 20, NULL);
		if (got != want)
			fail_msg("\"%s\", \"%s\" before \"%s\": union says "
			    "%d, the names %d", g->text[ai[0]],
			    g->text[ai[1]], g->text[b], got, want);
		if (got == 1 && (used[0] != first[0] || used[1] != first[1]))
			fail_msg("\"%s\", \"%s\" before \"%s\": used %d %d, "
			    "first %d %d", g->text[ai[0]], g->text[ai[1]],
			    g->text[b], used[0], used[1], first[0], first[1]);
		n->several += got == 1 && used[0] && used[1];
	}
}

static void
test_iface_cover_grid(void **state)
{
	struct ifgrid	*g;
	struct ifgrid_counts n;
	int		 out;

	(void)state;
	memset(&n, 0, sizeof(n));
	assert_non_null(g = malloc(sizeof(*g)));
	for (out = 0; out < 2; out++) {
		ifgrid_init(g, out);
		ifgrid_judge(g, CT_ESTABLISHED, RULE_DROP);
		ifgrid_pairs(g, &n);
		ifgrid_judge(g, CT_NEW, -1);
		ifgrid_pairs(g, &n);
	}
	free(g);
	/* not vacuous: each answer given often */
	assert_true(n.proven[0] > 1000);
	assert_true(n.proven[1] > 1000);
	assert_true(n.unions > 1000);
	assert_true(n.several > 100);
}

/*
 * Rules of one port range each, differing in nothing else: a later rule
 * is shadowed exactly when the earlier ranges hold its own, and the
 * rules named are those that are the first to hold one of its ports,
 * however many (RULESET_UNION_MAX kept).
 */
static void
test_shadow_union_ports(void **state)
{
	struct config	*c;
	FILE		*f;
	char		 err[512];
	const struct rule *by[RULESET_UNION_MAX];
	uint16_t	 lo[40], hi[40];
	uint8_t		 first[40];
	size_t		 j, i, n, want, m;
	uint32_t	 v;
	int		 round, nr, k, found = 0, many = 0;

	(void)state;
	for (round = 0; round < 300; round++) {
		nr = round % 3 == 0 ? 32 + (int)rnd(9) : 2 + (int)rnd(39);
		assert_non_null(f = fopen(inipath, "w"));
		for (k = 0; k < nr; k++) {
			lo[k] = (uint16_t)(1 + rnd(60));
			hi[k] = (uint16_t)(lo[k] + rnd(rnd(2) ? 4 : 20));
			/* at times tiles of one or two ports first, and
			   wide ranges over them */
			if (round % 3 == 0 && k < 30) {
				lo[k] = (uint16_t)(1 + 2 * k);
				hi[k] = (uint16_t)(lo[k] + rnd(2));
			} else if (round % 3 == 0) {
				lo[k] = (uint16_t)(1 + rnd(20));
				hi[k] = (uint16_t)(lo[k] + rnd(40));
			}
			fprintf(f, "[rule r%d]\nproto = tcp\ndport = %u-%u\n"
			    "action = %s\n", k, lo[k], hi[k],
			    rnd(2) ? "accept" : "drop");
		}
		assert_int_equal(fclose(f), 0);
		if ((c = config_load(inipath, err, sizeof(err))) == NULL)
			fail_msg("%s", err);
		for (j = 0; j < (size_t)nr; j++) {
			/* each port's first rule */
			memset(first, 0, sizeof(first));
			for (v = lo[j], want = 0; v <= hi[j]; v++) {
				for (i = 0; i < j; i++)
					if (lo[i] <= v && v <= hi[i])
						break;
				if (i == j) {
					want = 0;
					break;
				}
				want += !first[i];
				first[i] = 1;
			}
			n = ruleset_shadowed_by(c->ruleset, &c->rules[j], by,
			    RULESET_UNION_MAX, NULL);
			if (n != want)
				fail_msg("round %d: r%zu shadowed by %zu rules, "
				    "%zu expected", round, j, n, want);
			for (m = 0; m < n && m < RULESET_UNION_MAX; m++)
				assert_true(first[by[m]->index]);
			found += n > 1;
			many += n > 8;
		}
		config_free(c);
	}
	assert_true(found > 100);
	assert_true(many > 20);
}

/* A rule of small values of a few keys each, so that every packet is
   one of a few kinds (grid_packet()) */
static void
grid_rule(FILE *f, int i)
{
	static const char *const states[] = {
		"new", "established", "related, invalid", "new, established",
		"established, related, invalid", "new, related",
	};
	static const char *const srcs[] = {
		"10.0.0.0/26", "10.0.0.64/26", "10.0.0.128/25", "10.0.0.0/25",
		"10.0.0.0/24", "10.0.0.0/24, !10.0.0.64/26", "::/0",
		"10.0.0.0/24, ::/0",
	};
	static const char *const protos[] = { "tcp", "udp", "icmp", "" };
	const char	*proto = PICK(protos);
	uint32_t	 lo;

	fprintf(f, "[rule r%d]\naction = %s\n", i, rnd(2) ? "accept" :
	    "drop");
	if (rnd(3))
		fprintf(f, "state = %s\n", PICK(states));
	if (proto[0] != '\0')
		fprintf(f, "proto = %s\n", proto);
	if (rnd(2))
		fprintf(f, "src = %s\n", PICK(srcs));
	if (strcmp(proto, "icmp") != 0 && rnd(2)) {
		lo = 1 + rnd(6);
		fprintf(f, "dport = %u-%u\n", lo, lo + rnd(7 - lo));
	}
	if (strcmp(proto, "icmp") == 0 && rnd(2))
		fprintf(f, "icmp_type = %s\n", rnd(2) ? "0, 3" : rnd(2) ?
		    "8" : "3, 8, 11");
}

/* packet k of the kinds: state, source, port, protocol, ICMP type and
   fragment; how many there are */
#define GRID_N	(CT_STATE_MAX * 6 * 8 * 4 * 5 * 2)

static void
grid_packet(size_t k, struct pkt *p, int *state)
{
	static const char *const src[] = {
		"10.0.0.1", "10.0.0.65", "10.0.0.129", "10.0.0.200",
		"11.0.0.1", "fd00::1",
	};
	static const uint8_t protos[] = {
		IPPROTO_TCP, IPPROTO_UDP, IPPROTO_ICMP, 47,
	};
	static const uint8_t types[] = { 0, 3, 8, 11, 5 };
	const char	*a;

	memset(p, 0, sizeof(*p));
	*state = (int)(k % CT_STATE_MAX);
	k /= CT_STATE_MAX;
	a = src[k % 6];
	k /= 6;
	p->family = strchr(a, ':') != NULL ? AF_INET6 : AF_INET;
	assert_int_equal(inet_pton(p->family, a, p->src.a8), 1);
	p->dport = (uint16_t)(k % 8);	/* 0, 7: of no list's */
	k /= 8;
	p->sport = 1000;
	p->proto = protos[k % 4];
	k /= 4;
	p->icmp_type = types[k % 5];
	k /= 5;
	p->frag = k % 2 ? PKT_FRAG_LATER : 0;
	p->th_flags = PKT_TH_SYN;
	p->hook = PKT_HOOK_INPUT;
}

/*
 * Exact, on rules whose packets are of few kinds: a rule is warned of
 * when, and only when, each packet it matches has an earlier first
 * match (whatever keys the rules differ in: states, sources, ports,
 * protocols, ICMP types, several at once), and the rules named are
 * those first matches, every one of them.
 */
static void
test_shadow_exact(void **state)
{
	struct config	*c;
	struct pkt	 p;
	const struct rule *by[RULESET_UNION_MAX];
	uint8_t		*m, first[16];
	size_t		 i, j, k, n, want, shadowed = 0, several = 0;
	int		 round, s, nr;

	(void)state;
	assert_non_null(m = calloc(GRID_N, 16));
	for (round = 0; round < 400; round++) {
		nr = 2 + (int)rnd(14);
		c = policy_of(nr, grid_rule);
		for (k = 0; k < GRID_N; k++) {
			grid_packet(k, &p, &s);
			for (i = 0; i < (size_t)nr; i++)
				m[k * 16 + i] = (uint8_t)rule_match(
				    &c->rules[i], &p, s, "", "");
		}
		for (j = 0; j < (size_t)nr; j++) {
			memset(first, 0, sizeof(first));
			want = 0;
			for (k = 0, n = 0; k < GRID_N; k++) {
				if (!m[k * 16 + j])
					continue;
				n++;
				for (i = 0; i < j && !m[k * 16 + i]; i++)
					;
				if (i == j)
					break;
				want += !first[i];
				first[i] = 1;
			}
			if (k < GRID_N || n == 0)
				want = 0;
			k = ruleset_shadowed_by(c->ruleset, &c->rules[j], by,
			    RULESET_UNION_MAX, NULL);
			if (k != want)
				fail_msg("round %d: r%zu decided by %zu rules, "
				    "%zu expected", round, j, k, want);
			for (i = 0; i < k; i++)
				assert_true(first[by[i]->index]);
			shadowed += want > 0;
			several += want > 1;
		}
		config_free(c);
	}
	free(m);
	assert_true(shadowed > 300);
	assert_true(several > 100);
}

/*
 * Rules alike in every field the index looks at are all candidates:
 * 1024 entries of the index at most are visited for a rule, and a rule
 * past them is not warned of unless one of the first 256 shadows it
 * alone (ruleset_shadow()), when only the rules before that one are
 * asked.  A whole load takes RULESET_COVER_TOTAL steps at most.
 */
static void
test_shadow_bound(void **state)
{
	struct config	*c;
	FILE		*f;
	char		 err[512];
	const struct rule *by[RULESET_UNION_MAX];
	size_t		 work = 0;
	int		 i;

	(void)state;
	assert_non_null(f = fopen(inipath, "w"));
	fprintf(f, "[rule wg]\nproto = tcp\ndport = 22\nin = wg+\n"
	    "action = drop\n");
	for (i = 0; i < 1100; i++)
		fprintf(f, "[rule r%d]\nproto = tcp\ndport = 22\nin = if%d\n"
		    "action = drop\n", i, i);
	fprintf(f, "[rule early]\nproto = tcp\ndport = 22\nin = if5\n"
	    "action = drop\n");
	fprintf(f, "[rule late]\nproto = tcp\ndport = 22\nin = if1050\n"
	    "action = drop\n");
	fprintf(f, "[rule wg0]\nproto = tcp\ndport = 22\nin = wg0\n"
	    "action = drop\n");
	assert_int_equal(fclose(f), 0);
	if ((c = config_load(inipath, err, sizeof(err))) == NULL)
		fail_msg("%s", err);
	/* r5 shadows it, among the first 256 */
	assert_int_equal(ruleset_shadowed_by(c->ruleset, &c->rules[1101], by,
	    RULESET_UNION_MAX, &work), 1);
	assert_string_equal(by[0]->name, "r5");
	/* r1050 does, but past 1024 alike: not said */
	assert_true(rule_shadows(&c->rules[1051], &c->rules[1102]));
	assert_int_equal(ruleset_shadowed_by(c->ruleset, &c->rules[1102], by,
	    RULESET_UNION_MAX, &work), 0);
	/* the first rule shadows it: the rules before are none */
	assert_int_equal(ruleset_shadowed_by(c->ruleset, &c->rules[1103], by,
	    RULESET_UNION_MAX, &work), 1);
	assert_string_equal(by[0]->name, "wg");
	assert_true(work > 0 && work < 3 * RULESET_COVER_WORK);
	/* the load's steps spent: nothing more is asked */
	work = RULESET_COVER_TOTAL;
	assert_int_equal(ruleset_shadowed_by(c->ruleset, &c->rules[1103], by,
	    RULESET_UNION_MAX, &work), 0);
	assert_int_equal(work, RULESET_COVER_TOTAL);
	config_free(c);
}

/*
 * A large file checks in bounded steps: 10,000 rules of different
 * ports, then 2,000 that two earlier ones shadow together, each taking
 * a few steps.
 */
static void
test_shadow_large(void **state)
{
	struct config	*c;
	FILE		*f;
	char		 err[512];
	const struct rule *by[RULESET_UNION_MAX];
	size_t		 work = 0, i, n = 0;

	(void)state;
	assert_non_null(f = fopen(inipath, "w"));
	for (i = 0; i < 10000; i++)
		fprintf(f, "[rule p%zu]\nproto = %s\nsrc = 10.%zu.0.0/%d\n"
		    "dport = %zu-%zu\naction = accept\n", i, i % 2 ? "udp" :
		    "tcp", i % 2 ? i % 256 : 0, i % 2 ? 16 : 8, 1 + 6 * (i / 2),
		    6 + 6 * (i / 2));
	/* each within two tcp rules' ports, of a part of their sources */
	for (i = 0; i < 2000; i++)
		fprintf(f, "[rule u%zu]\nproto = tcp\nsrc = 10.%zu.0.0/16\n"
		    "dport = %zu-%zu\naction = drop\n", i, i % 256,
		    3 + 6 * i, 8 + 6 * i);
	assert_int_equal(fclose(f), 0);
	if ((c = config_load(inipath, err, sizeof(err))) == NULL)
		fail_msg("%s", err);
	for (i = 0; i < c->nrules; i++)
		n += ruleset_shadowed_by(c->ruleset, &c->rules[i], by,
		    RULESET_UNION_MAX, &work) > 0;
	assert_int_equal(n, 2000);
	/* a few steps each, far within the load's */
	assert_true(work < 64 * c->nrules);
	config_free(c);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_random),
		cmocka_unit_test(test_selective),
		cmocka_unit_test(test_shadow_random),
		cmocka_unit_test(test_shadow_union_ports),
		cmocka_unit_test(test_shadow_deciders_random),
		cmocka_unit_test(test_iface_lists_random),
		cmocka_unit_test(test_iface_cover_grid),
		cmocka_unit_test(test_shadow_bound),
		cmocka_unit_test(test_shadow_exact),
		cmocka_unit_test(test_shadow_large),
	};
	int		 fd, ret;

	if ((fd = mkstemp(inipath)) == -1)
		return (1);
	close(fd);
	ret = cmocka_run_group_tests(tests, NULL, NULL);
	unlink(inipath);
	return (ret);
}
