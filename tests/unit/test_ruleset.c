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

/* 0 or one of RULE_KEY_SRC ... RULE_KEY_DPORT */
static int
one_key(unsigned miss)
{
	return ((miss & RULE_KEY_OTHER) == 0 && (miss & (miss - 1)) == 0);
}

/* Rules by[0 .. n-1], before j, that shadow it together: each holds all
   of j's keys but one, the same for all, or does so of j's packets of
   one family (*split: not all the same key); and each packet j
   matches, one of them does.  Returns how many packets j matched. */
static size_t
union_holds(const struct config *c, const struct hits *h, size_t j,
    const struct rule *const *by, size_t n, int round, int *split)
{
	const struct rule *b = &c->rules[j];
	unsigned	 miss, key = 0;
	size_t		 i, k, tried = 0;
	int		 s, any;

	*split = 0;
	for (i = 0; i < n; i++) {
		assert_true(by[i]->index < j);
		assert_true(i == 0 || by[i - 1]->index < by[i]->index);
		miss = rule_shadow_miss(by[i], b);
		assert_true((miss & RULE_KEY_OTHER) == 0);
		assert_true(one_key(miss) ||
		    one_key(rule_shadow_miss_of(by[i], b, AF_INET)) ||
		    one_key(rule_shadow_miss_of(by[i], b, AF_INET6)));
		if (!one_key(miss) || (key != 0 && miss != 0 && miss != key))
			*split = 1;
		if (miss != 0)
			key = miss;
	}
	for (k = 0; k < h->np; k++)
		for (s = 0; s < CT_STATE_MAX; s++) {
			if (!hit(h, k, s, j))
				continue;
			tried++;
			for (i = 0, any = 0; i < n; i++)
				any |= hit(h, k, s, by[i]->index);
			if (!any)
				fail_msg("round %d: r%zu's %zu rules together "
				    "miss packet %zu, state %d", round, j, n,
				    k, s);
		}
	return (tried);
}

struct shadow_counts {
	size_t		 covers;	/* pairs rule_covers() proves */
	size_t		 shadowed;	/* rules shadowed by one */
	size_t		 tried;		/* packets they match */
	size_t		 unions;	/* rules shadowed by several */
	size_t		 union_tried;	/* packets they match */
	size_t		 split;		/* of several keys, by family */
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
	size_t		 i, j, k, nby;
	int		 round, s, any, split;

	memset(n, 0, sizeof(*n));
	h.np = 400;
	assert_non_null(pk = calloc(h.np, sizeof(*pk)));
	assert_non_null(in = calloc(h.np, sizeof(*in)));
	assert_non_null(out = calloc(h.np, sizeof(*out)));
	for (round = 0; round < rounds; round++) {
		c = policy_of(2 + (int)rnd(30), rule);
		h.n = c->nrules;
		assert_non_null(h.m = calloc(h.np * CT_STATE_MAX, h.n));
		for (k = 0; k < h.np; k++) {
			packet(&pk[k], &in[k], &out[k]);
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
			/* the rules that shadow j: a alone, or several */
			nby = ruleset_shadowed_by(c->ruleset, &c->rules[j], by,
			    RULESET_UNION_MAX);
			if (a != NULL)
				assert_true(nby == 1 && by[0] == a);
			else if (nby > 0) {
				n->unions++;
				n->union_tried += union_holds(c, &h, j, by, nby,
				    round, &split);
				n->split += split;
			}
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
	assert_true(n.split > 20);
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
 * matches, one of them matches.  A rule that shadows the rule but is
 * shadowed itself is named "ahead of".
 */
static void
test_shadow_deciders_random(void **state)
{
	struct config	*c;
	struct pkt	 p;
	const char	*in, *out, *w, *by, *mid;
	size_t		 r[64], nr, i, j, k, m, tried = 0, deep = 0;
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
			if ((mid = strstr(by, " (ahead of ")) == NULL)
				mid = strstr(by, ": the rule never");
			else
				deep++;
			assert_non_null(mid);
			nr = rule_numbers(by, mid, r, 64);
			assert_true(nr > 0);
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
	/* not vacuous: many warnings, and many of them through a rule
	   shadowed itself */
	assert_true(warned > 3000);
	assert_true(deep > 300);
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
 * Rules of one port range each, differing in nothing else: a later rule
 * is shadowed by several exactly when the earlier ranges hold its own,
 * and the fewest that do are named (the earliest of those that reach
 * furthest), up to RULESET_UNION_MAX of them.
 */
static void
test_shadow_union_ports(void **state)
{
	struct config	*c;
	FILE		*f;
	char		 err[512];
	const struct rule *by[RULESET_UNION_MAX];
	uint16_t	 lo[40], hi[40];
	size_t		 j, i, n, want, best;
	uint32_t	 v, reach;
	int		 round, nr, k, found = 0, many = 0;

	(void)state;
	for (round = 0; round < 300; round++) {
		nr = 2 + (int)rnd(39);
		assert_non_null(f = fopen(inipath, "w"));
		for (k = 0; k < nr; k++) {
			lo[k] = (uint16_t)(1 + rnd(60));
			hi[k] = (uint16_t)(lo[k] + rnd(rnd(2) ? 4 : 20));
			fprintf(f, "[rule r%d]\nproto = tcp\ndport = %u-%u\n"
			    "action = %s\n", k, lo[k], hi[k],
			    rnd(2) ? "accept" : "drop");
		}
		assert_int_equal(fclose(f), 0);
		if ((c = config_load(inipath, err, sizeof(err))) == NULL)
			fail_msg("%s", err);
		for (j = 0; j < (size_t)nr; j++) {
			/* the fewest earlier ranges that hold j's: from
			   each value not held yet, the furthest reach */
			want = 0;
			for (v = lo[j]; v <= hi[j]; v = reach + 1) {
				reach = 0;
				for (i = 0, best = j; i < j; i++)
					if (lo[i] <= v && v <= hi[i] &&
					    hi[i] > reach) {
						reach = hi[i];
						best = i;
					}
				if (best == j) {
					want = 0;
					break;
				}
				want++;
			}
			if (want > RULESET_UNION_MAX)
				want = 0;
			n = ruleset_shadowed_by(c->ruleset, &c->rules[j], by,
			    RULESET_UNION_MAX);
			if (n != want)
				fail_msg("round %d: r%zu shadowed by %zu rules, "
				    "%zu expected", round, j, n, want);
			found += n > 1;
			many += n > 2;
		}
		config_free(c);
	}
	assert_true(found > 100);
	assert_true(many > 20);
}

/*
 * Rules alike in every field the index looks at are all candidates: the
 * walk asks the first 256 of them, so that n rules cost n * 256
 * comparisons at most.
 */
static void
test_shadow_bound(void **state)
{
	struct config	*c;
	FILE		*f;
	char		 err[512];
	const struct rule *a;
	int		 i;

	(void)state;
	assert_non_null(f = fopen(inipath, "w"));
	for (i = 0; i < 300; i++)
		fprintf(f, "[rule r%d]\nproto = tcp\ndport = 22\nin = if%d\n"
		    "action = accept\n", i, i);
	fprintf(f, "[rule early]\nproto = tcp\ndport = 22\nin = if5\n"
	    "action = drop\n");
	fprintf(f, "[rule late]\nproto = tcp\ndport = 22\nin = if280\n"
	    "action = drop\n");
	fprintf(f, "[rule udp]\nproto = udp\ndport = 22\nin = if280\n"
	    "action = accept\n");
	fprintf(f, "[rule all-udp]\nproto = udp\naction = accept\n");
	fprintf(f, "[rule udp-late]\nproto = udp\ndport = 22\nin = if280\n"
	    "action = drop\n");
	assert_int_equal(fclose(f), 0);
	if ((c = config_load(inipath, err, sizeof(err))) == NULL)
		fail_msg("%s", err);
	assert_non_null(a = ruleset_shadow(c->ruleset, &c->rules[300]));
	assert_string_equal(a->name, "r5");
	/* r280 shadows it, but comes after 256 others alike */
	assert_true(rule_shadows(&c->rules[280], &c->rules[301]));
	assert_null(ruleset_shadow(c->ruleset, &c->rules[301]));
	/* the index leaves the tcp rules out */
	assert_null(ruleset_shadow(c->ruleset, &c->rules[302]));
	assert_non_null(a = ruleset_shadow(c->ruleset, &c->rules[304]));
	assert_string_equal(a->name, "udp");
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
		cmocka_unit_test(test_shadow_bound),
	};
	int		 fd, ret;

	if ((fd = mkstemp(inipath)) == -1)
		return (1);
	close(fd);
	ret = cmocka_run_group_tests(tests, NULL, NULL);
	unlink(inipath);
	return (ret);
}
