/*
 * test_verdict.c - cmocka tests for verdict.c: parser, tracker, rules and
 * policy working together on raw packets
 *
 * Copyright (C) 2026 The nfqspid authors
 * SPDX-License-Identifier: GPL-2.0-or-later
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
#include <cmocka.h>

#include "csum.h"
#include "verdict.h"
#include "unit.h"
#include "../pktbuild.h"

#define CLIENT	"10.1.1.2"
#define SERVER	"10.1.2.2"

struct fixture {
	struct config	 cfg;
	struct rule	 rules[6];
	struct ct_table	*ct;
	struct limit_table *lt;
	uint64_t	 now;
};

/* Deciding in f's tables at f->now, from in to out at hook; lt NULL: as
   --replay did before it had limits, rate and conn_limit unenforced. */
static struct verdict_ctx
ctx(const struct fixture *f, const struct config *cfg,
    struct limit_table *lt, const char *in, const char *out, int hook)
{
	struct verdict_ctx	 x = { cfg, f->ct, lt, in, out, hook,
	    CSUM_IP | CSUM_L4, f->now };

	return (x);
}

/* IPv4 header, with its checksum: the parser does not need it, tcpdump
   does */
static size_t
ip4(uint8_t *b, const char *src, const char *dst, uint8_t proto,
    size_t l4len)
{
	struct in_addr	 s, d;

	inet_pton(AF_INET, src, &s);
	inet_pton(AF_INET, dst, &d);
	pb_ip4(b, proto, &s, &d, 0, 0, 0, l4len);
	pb_ip4_csum(b);
	return (20);
}

static size_t
tcp4(uint8_t *b, const char *src, const char *dst, uint16_t sport,
    uint16_t dport, uint32_t seq, uint32_t ack, uint8_t flags)
{
	ip4(b, src, dst, IPPROTO_TCP, 20);
	pb_tcp(b + 20, sport, dport, seq, ack, flags, 65535, 0);
	return (40);
}

static size_t
udp4(uint8_t *b, const char *src, const char *dst, uint16_t sport,
    uint16_t dport)
{
	ip4(b, src, dst, IPPROTO_UDP, 12);
	pb_udp(b + 20, sport, dport, 4);
	memcpy(b + 28, "ping", 4);
	return (32);
}

static int
setup(void **state)
{
	struct fixture	*f;

	f = calloc(1, sizeof(*f));
	assert_non_null(f);
	ct_config_defaults(&f->cfg.ct);
	f->cfg.ct.tcp_loose = 0;
	f->cfg.policy[CT_NEW] = RULE_DROP;
	f->cfg.policy[CT_ESTABLISHED] = RULE_ACCEPT;
	f->cfg.policy[CT_RELATED] = RULE_ACCEPT;
	f->cfg.policy[CT_INVALID] = RULE_DROP;
	f->cfg.log_invalid = 1;
	f->cfg.rules = f->rules;
	unit_add_rule(&f->cfg, "web", CT_STATE_BIT(CT_NEW), IPPROTO_TCP, "80",
	    RULE_ACCEPT, 0x10, 1);
	unit_add_rule(&f->cfg, "dns", CT_STATE_BIT(CT_NEW), IPPROTO_UDP, "53",
	    RULE_ACCEPT, 0, 0);
	f->ct = ct_new(&f->cfg.ct);
	assert_non_null(f->ct);
	f->lt = limit_new(64);
	assert_non_null(f->lt);
	ct_set_event_cb(f->ct, limit_ct_event, f->lt);
	f->now = 1000000;
	*state = f;
	return (0);
}

static int
teardown(void **state)
{
	struct fixture	*f = *state;
	size_t		 i;

	ct_free(f->ct);
	limit_free(f->lt);
	for (i = 0; i < f->cfg.nrules; i++)
		rule_clear(&f->rules[i]);
	free(f);
	return (0);
}

/* b decided in FORWARD at f->now, with the batch hint a (NULL: none) */
static void
judge(struct fixture *f, const uint8_t *b, size_t n,
    const struct ct_ahead *a, struct verdict *v, char *line, size_t linelen)
{
	struct pkt	 p;

	struct verdict_ctx x = ctx(f, &f->cfg, f->lt, "veth0", "veth1",
	    PKT_HOOK_FORWARD);

	verdict_packet(&x, b, n, a, &p, v);
	verdict_format(v, line, linelen);
}

static void
run(struct fixture *f, const uint8_t *b, size_t n, struct verdict *v,
    char *line, size_t linelen)
{
	judge(f, b, n, NULL, v, line, linelen);
	f->now += 10;
}

/*
 * CLIENT's port sport to SERVER's web: SYN, SYN/ACK (the server's ISN
 * isn) and ACK through run(); line holds the ACK's verdict.
 */
static void
web_handshake(struct fixture *f, uint16_t sport, uint32_t isn, char *line,
    size_t linelen)
{
	struct verdict	 v;
	uint8_t		 b[64];
	size_t		 n;

	n = tcp4(b, CLIENT, SERVER, sport, 80, 1000, 0, PKT_TH_SYN);
	run(f, b, n, &v, line, linelen);
	n = tcp4(b, SERVER, CLIENT, 80, sport, isn, 1001,
	    PKT_TH_SYN | PKT_TH_ACK);
	run(f, b, n, &v, line, linelen);
	n = tcp4(b, CLIENT, SERVER, sport, 80, 1001, isn + 1, PKT_TH_ACK);
	run(f, b, n, &v, line, linelen);
}

static void
test_allowed_connection(void **state)
{
	struct fixture	*f = *state;
	struct verdict	 v;
	uint8_t		 b[64];
	char		 line[256];
	size_t		 n;

	n = tcp4(b, CLIENT, SERVER, 40000, 80, 1000, 0, PKT_TH_SYN);
	run(f, b, n, &v, line, sizeof(line));
	assert_string_equal(line, "accept state=NEW rule=web mark=0x10");
	assert_int_equal(v.log, 1);
	assert_int_equal(ct_count(f->ct), 1);

	/* the SYN again before any reply: the connection's decision */
	run(f, b, n, &v, line, sizeof(line));
	assert_string_equal(line, "accept state=NEW rule=web mark=0x10");
	assert_int_equal(ct_count(f->ct), 1);

	n = tcp4(b, SERVER, CLIENT, 80, 40000, 5000, 1001,
	    PKT_TH_SYN | PKT_TH_ACK);
	run(f, b, n, &v, line, sizeof(line));
	assert_string_equal(line, "accept state=ESTABLISHED rule=- mark=0x10");
	assert_int_equal(v.log, 0);

	n = tcp4(b, CLIENT, SERVER, 40000, 80, 1001, 5001, PKT_TH_ACK);
	run(f, b, n, &v, line, sizeof(line));
	assert_string_equal(line, "accept state=ESTABLISHED rule=- mark=0x10");
	assert_int_equal(v.action, RULE_ACCEPT);
}

static void
tuple_is(const struct ct_tuple *k, int v6, uint8_t proto, uint16_t sport,
    uint16_t dport)
{
	assert_int_equal(k->family, v6 ? AF_INET6 : AF_INET);
	assert_int_equal(k->proto, proto);
	assert_memory_equal(k->src.a8, v6 ? PB_A6 : PB_A4, v6 ? 16 : 4);
	assert_memory_equal(k->dst.a8, v6 ? PB_B6 : PB_B4, v6 ? 16 : 4);
	assert_int_equal(k->sport, sport);
	assert_int_equal(k->dport, dport);
}

/*
 * verdict_tuple(), the key a worker asks another about, read off the
 * headers alone: an echo's reply has its request's key; an ICMP error,
 * ICMP's number over IPv6 (or ICMPv6's over IPv4), a later fragment, a
 * short or non-IP buffer have none.
 */
static void
test_tuple(void **state)
{
	uint8_t		 b[128], a[16];
	struct ct_tuple	 k, r;
	size_t		 len, hl, al;
	int		 v6;

	(void)state;
	for (v6 = 0; v6 <= 1; v6++) {
		hl = v6 ? 40 : 20;
		al = v6 ? 16 : 4;
		len = pb_pkt(b, v6, IPPROTO_UDP, 4);
		assert_int_equal(verdict_tuple(b, len, &k), 0);
		tuple_is(&k, v6, IPPROTO_UDP, 5353, 53);
		len = pb_pkt(b, v6, IPPROTO_TCP, 4);
		assert_int_equal(verdict_tuple(b, len, &k), 0);
		tuple_is(&k, v6, IPPROTO_TCP, 40000, 80);

		len = pb_pkt(b, v6, v6 ? IPPROTO_ICMPV6 : IPPROTO_ICMP, 4);
		assert_int_equal(verdict_tuple(b, len, &k), 0);
		/* the reply: the addresses the other way, its type */
		memcpy(a, b + hl - 2 * al, al);
		memmove(b + hl - 2 * al, b + hl - al, al);
		memcpy(b + hl - al, a, al);
		b[hl] = v6 ? 129 : 0;
		assert_int_equal(verdict_tuple(b, len, &r), 0);
		assert_int_equal(r.family, k.family);
		assert_int_equal(r.proto, k.proto);
		assert_memory_equal(r.src.a8, k.src.a8, al);
		assert_memory_equal(r.dst.a8, k.dst.a8, al);
		assert_int_equal(r.sport, k.sport);
		assert_int_equal(r.dport, k.dport);
		assert_int_equal(verdict_tuple(b, hl + 7, &r), -1);
		b[hl] = v6 ? 1 : 3;		/* unreachable */
		assert_int_equal(verdict_tuple(b, len, &r), -1);

		len = pb_pkt(b, v6, v6 ? IPPROTO_ICMP : IPPROTO_ICMPV6, 4);
		assert_int_equal(verdict_tuple(b, len, &r), -1);
		len = pb_pkt(b, v6, IPPROTO_UDP, 4);
		assert_int_equal(verdict_tuple(b, hl + 3, &r), -1);
	}
	len = pb_pkt(b, 0, IPPROTO_UDP, 4);
	b[7] = 1;				/* offset 8: a later fragment */
	assert_int_equal(verdict_tuple(b, len, &r), -1);
	b[7] = 0;
	b[6] = 0x20;				/* the first: its ports */
	assert_int_equal(verdict_tuple(b, len, &r), 0);
	b[0] = 0x55;
	assert_int_equal(verdict_tuple(b, len, &r), -1);
	assert_int_equal(verdict_tuple(b, 19, &r), -1);
}

/*
 * The batch hints are hints: at any length, on any bytes, verdict_ahead()
 * reads nothing past the buffer, and it, ct_ahead_entry() and
 * ct_ahead_chain() change nothing the packets then see.
 */
static void
test_ahead_changes_nothing(void **state)
{
	struct fixture	*f = *state;
	struct verdict	 v;
	uint8_t		 b[64], junk[64], *h;
	char		 line[256];
	struct ct_ahead	 a;
	size_t		 n, len;
	int		 stage, i;

	n = tcp4(b, CLIENT, SERVER, 40000, 80, 1000, 0, PKT_TH_SYN);
	run(f, b, n, &v, line, sizeof(line));
	n = tcp4(b, SERVER, CLIENT, 80, 40000, 5000, 1001,
	    PKT_TH_SYN | PKT_TH_ACK);
	run(f, b, n, &v, line, sizeof(line));
	n = tcp4(b, CLIENT, SERVER, 40000, 80, 1001, 5001, PKT_TH_ACK);
	for (i = 0; i < 3; i++) {
		memset(junk, i == 0 ? 0xff : i == 1 ? 0x45 : 0x60,
		    sizeof(junk));
		for (len = 0; len <= n; len++)
			for (stage = 0; stage < 2; stage++) {
				/* exactly len bytes: ASan sees an over-read */
				h = malloc(len ? len : 1);
				assert_non_null(h);
				memcpy(h, i == 0 ? b : junk, len);
				verdict_ahead(f->ct, h, len, &a);
				if (stage != 0) {
					ct_ahead_entry(f->ct, &a);
					ct_ahead_chain(f->ct, &a);
				}
				free(h);
			}
	}
	assert_int_equal(ct_count(f->ct), 1);
	run(f, b, n, &v, line, sizeof(line));
	assert_string_equal(line, "accept state=ESTABLISHED rule=- mark=0x10");
	assert_int_equal(ct_count(f->ct), 1);
}

/*
 * The batch path: verdict_packet() with a hint decides as without
 * whatever hint it is given -- the packet's own, another packet's (the
 * hint is ignored), one of junk, or none -- and ct_ahead_entry() and
 * ct_ahead_chain() on any hint change nothing.
 */
static void
test_ahead_path(void **state)
{
	struct fixture	*f = *state;
	struct ct_ahead	 own, other, junk;
	struct verdict	 v;
	uint8_t		 b[64], o[64], j[64];
	char		 line[256];
	size_t		 n, on;
	int		 how;
	const struct ct_ahead *a;
	static const char *want[] = {
		"accept state=NEW rule=web mark=0x10",
		"accept state=ESTABLISHED rule=- mark=0x10",
		"accept state=ESTABLISHED rule=- mark=0x10",
	};

	on = tcp4(o, CLIENT, SERVER, 40009, 80, 1, 0, PKT_TH_ACK);
	verdict_ahead(f->ct, o, on, &other);
	assert_int_equal(other.ok, 1);
	memset(j, 0x45, sizeof(j));
	verdict_ahead(f->ct, j, sizeof(j), &junk);
	memset(&junk, 0x5a, sizeof(junk));	/* a hint gone bad */
	for (how = 0; how < 4; how++) {
		uint16_t sport = (uint16_t)(41000 + how);

		a = how == 0 ? &own : how == 1 ? &other : how == 2 ? &junk :
		    NULL;
		n = tcp4(b, CLIENT, SERVER, sport, 80, 1000, 0, PKT_TH_SYN);
		if (how == 0)
			verdict_ahead(f->ct, b, n, &own);
		ct_ahead_entry(f->ct, a != NULL ? a : &own);
		ct_ahead_chain(f->ct, a != NULL ? a : &own);
		judge(f, b, n, a, &v, line, sizeof(line));
		assert_string_equal(line, want[0]);

		n = tcp4(b, SERVER, CLIENT, 80, sport, 5000, 1001,
		    PKT_TH_SYN | PKT_TH_ACK);
		if (how == 0)
			verdict_ahead(f->ct, b, n, &own);
		ct_ahead_entry(f->ct, a != NULL ? a : &own);
		ct_ahead_chain(f->ct, a != NULL ? a : &own);
		judge(f, b, n, a, &v, line, sizeof(line));
		assert_string_equal(line, want[1]);

		n = tcp4(b, CLIENT, SERVER, sport, 80, 1001, 5001, PKT_TH_ACK);
		if (how == 0)
			verdict_ahead(f->ct, b, n, &own);
		judge(f, b, n, a, &v, line, sizeof(line));
		assert_string_equal(line, want[2]);
		assert_int_equal(ct_count(f->ct), (size_t)how + 1);
	}
	/* no tuple to hash: not ok, and harmless */
	verdict_ahead(f->ct, j, 10, &junk);
	assert_int_equal(junk.ok, 0);
	ct_ahead_entry(f->ct, &junk);
	ct_ahead_chain(f->ct, &junk);
	assert_int_equal(ct_count(f->ct), 4);
}

static void
test_forbidden_connection_leaves_no_entry(void **state)
{
	struct fixture	*f = *state;
	struct verdict	 v;
	uint8_t		 b[64];
	char		 line[256];
	size_t		 n;

	n = tcp4(b, CLIENT, SERVER, 40001, 23, 1000, 0, PKT_TH_SYN);
	run(f, b, n, &v, line, sizeof(line));
	assert_string_equal(line, "drop state=NEW rule=- mark=0x0");
	assert_int_equal(v.action, RULE_DROP);
	assert_int_equal(v.log, 0);
	assert_int_equal(ct_count(f->ct), 0);

	/* its "reply" is not ESTABLISHED */
	n = tcp4(b, SERVER, CLIENT, 23, 40001, 5000, 1001,
	    PKT_TH_SYN | PKT_TH_ACK);
	run(f, b, n, &v, line, sizeof(line));
	assert_int_not_equal(v.action, RULE_ACCEPT);
}

static void
test_xmas_and_null_are_invalid(void **state)
{
	struct verdict_ctx x;
	struct fixture	*f = *state;
	struct verdict	 v;
	uint8_t		 b[64];
	char		 line[256], audit[512];
	struct pkt	 p;
	size_t		 n;

	n = tcp4(b, CLIENT, SERVER, 40002, 80, 1000, 0,
	    PKT_TH_FIN | PKT_TH_PUSH | PKT_TH_URG);
	x = ctx(f, &f->cfg, NULL, "veth0", "veth1", PKT_HOOK_UNKNOWN);
	verdict_packet(&x, b, n, NULL, &p, &v);
	verdict_format(&v, line, sizeof(line));
	assert_string_equal(line,
	    "drop state=INVALID rule=- reason=bad-tcp-flags mark=0x0");
	assert_int_equal(v.log, 1);
	verdict_audit(&v, &p, "veth0", "veth1", n, audit, sizeof(audit));
	assert_string_equal(audit, "action=drop state=INVALID rule=- "
	    "reason=bad-tcp-flags proto=tcp src=10.1.1.2 sport=40002 "
	    "dst=10.1.2.2 dport=80 in=veth0 out=veth1 len=40 mark=0x0");

	n = tcp4(b, CLIENT, SERVER, 40003, 80, 1000, 0, 0);
	run(f, b, n, &v, line, sizeof(line));
	assert_string_equal(line,
	    "drop state=INVALID rule=- reason=bad-tcp-flags mark=0x0");
	assert_int_equal(ct_count(f->ct), 0);
}

static void
test_truncated_packet_is_invalid(void **state)
{
	struct fixture	*f = *state;
	struct verdict	 v;
	uint8_t		 b[64];
	char		 line[256];
	size_t		 n;

	n = tcp4(b, CLIENT, SERVER, 40004, 80, 1000, 0, PKT_TH_SYN);
	/* cut inside the TCP header */
	run(f, b, n - 8, &v, line, sizeof(line));
	assert_int_equal(v.state, CT_INVALID);
	assert_int_equal(v.action, RULE_DROP);
	assert_int_not_equal(v.reason, REASON_NONE);
	assert_null(v.rule);
	/* and a buffer with no IP header at all */
	run(f, b, 3, &v, line, sizeof(line));
	assert_int_equal(v.state, CT_INVALID);
	assert_int_equal(v.action, RULE_DROP);
}

static void
test_udp_request_reply(void **state)
{
	struct fixture	*f = *state;
	struct verdict	 v;
	uint8_t		 b[64];
	char		 line[256];
	size_t		 n;

	n = udp4(b, CLIENT, SERVER, 5000, 53);
	run(f, b, n, &v, line, sizeof(line));
	assert_string_equal(line, "accept state=NEW rule=dns mark=0x0");
	n = udp4(b, SERVER, CLIENT, 53, 5000);
	run(f, b, n, &v, line, sizeof(line));
	assert_string_equal(line, "accept state=ESTABLISHED rule=- mark=0x0");
	/* a "reply" from another port is a new flow, and forbidden */
	n = udp4(b, SERVER, CLIENT, 54, 5000);
	run(f, b, n, &v, line, sizeof(line));
	assert_string_equal(line, "drop state=NEW rule=- mark=0x0");
}

/*
 * Two workers: the error about worker 0's connection reaches worker 1,
 * whose table does not know it.  Worker 1 asks, worker 0 answers with the
 * connection's mark, and the error is RELATED with that mark.
 */
static void
test_related_from_another_table(void **state)
{
	struct fixture	*f = *state;
	struct ct_table	*owner = f->ct, *other;
	struct verdict	 v;
	struct pkt	 p;
	enum reason	 why;
	uint8_t		 syn[64], b[128];
	char		 line[256];
	size_t		 n;
	uint32_t	 mark = 0;

	n = tcp4(syn, CLIENT, SERVER, 40000, 80, 1000, 0, PKT_TH_SYN);
	run(f, syn, n, &v, line, sizeof(line));
	assert_string_equal(line, "accept state=NEW rule=web mark=0x10");
	/* time exceeded from a router, quoting the SYN's first 28 bytes */
	ip4(b, "10.1.2.254", CLIENT, IPPROTO_ICMP, 8 + 28);
	memset(b + 20, 0, 8);
	b[20] = 11;
	memcpy(b + 28, syn, 28);
	n = 20 + 8 + 28;

	other = ct_new(&f->cfg.ct);
	assert_non_null(other);
	f->ct = other;
	run(f, b, n, &v, line, sizeof(line));
	f->ct = owner;
	assert_string_equal(line,
	    "drop state=INVALID rule=- reason=icmp-untracked-error mark=0x0");
	assert_int_equal(pkt_parse(&p, b, n, &why), 0);
	assert_true(verdict_needs_owner(&p, &v));
	assert_int_equal(ct_find_related(other, &p, &mark), 0);
	assert_int_equal(ct_find_related(owner, &p, &mark), 1);
	assert_int_equal(mark, 0x10);
	verdict_related(&f->cfg, &p, "veth0", "veth1", mark, &v);
	verdict_format(&v, line, sizeof(line));
	assert_string_equal(line, "accept state=RELATED rule=- mark=0x10");
	/* the owner's table decides it so itself */
	run(f, b, n, &v, line, sizeof(line));
	assert_string_equal(line, "accept state=RELATED rule=- mark=0x10");
	assert_false(verdict_needs_owner(&p, &v));
	/* monitor mode: a refused RELATED passes, flagged */
	f->cfg.policy[CT_RELATED] = RULE_DROP;
	f->cfg.mode = MODE_MONITOR;
	verdict_related(&f->cfg, &p, "veth0", "veth1", mark, &v);
	verdict_format(&v, line, sizeof(line));
	assert_string_equal(line,
	    "drop state=RELATED rule=- mark=0x10 monitor=yes");
	assert_int_equal(v.action, RULE_ACCEPT);
	ct_free(other);
}

static void
test_established_rule_wins_over_policy(void **state)
{
	struct fixture	*f = *state;
	struct verdict	 v;
	uint8_t		 b[64];
	char		 line[256];
	size_t		 n;

	unit_add_rule(&f->cfg, "no-dns-replies", CT_STATE_BIT(CT_ESTABLISHED),
	    IPPROTO_UDP, NULL, RULE_DROP, 0, 1);
	n = udp4(b, CLIENT, SERVER, 5001, 53);
	run(f, b, n, &v, line, sizeof(line));
	assert_string_equal(line, "accept state=NEW rule=dns mark=0x0");
	n = udp4(b, SERVER, CLIENT, 53, 5001);
	run(f, b, n, &v, line, sizeof(line));
	assert_string_equal(line,
	    "drop state=ESTABLISHED rule=no-dns-replies mark=0x0");
	assert_int_equal(v.log, 1);
}

/*
 * A packet dropped or rejected carries no mark, whoever's it was: the
 * rule's own, or its connection's; the line and the audit say 0x0.
 */
static void
test_drop_has_no_mark(void **state)
{
	struct fixture	*f = *state;
	struct verdict_ctx x;
	struct verdict	 v;
	struct pkt	 p;
	uint8_t		 b[64];
	char		 line[256], audit[512];
	size_t		 n;

	unit_add_rule(&f->cfg, "telnet", CT_STATE_BIT(CT_NEW), IPPROTO_TCP,
	    "23", RULE_DROP, 0x40, 1);
	unit_add_rule(&f->cfg, "tftp", CT_STATE_BIT(CT_NEW), IPPROTO_UDP,
	    "69", RULE_REJECT, 0x50, 1);
	unit_add_rule(&f->cfg, "no-urg", CT_STATE_BIT(CT_ESTABLISHED),
	    IPPROTO_TCP, NULL, RULE_DROP, 0x60, 1);
	assert_int_equal(rule_parse_tcp_flags("U/U", &f->rules[4].tcp_flags,
	    &f->rules[4].tcp_mask, line, sizeof(line)), 0);
	f->rules[4].has_tcp_flags = 1;

	n = tcp4(b, CLIENT, SERVER, 40010, 23, 1000, 0, PKT_TH_SYN);
	x = ctx(f, &f->cfg, f->lt, "veth0", "veth1", PKT_HOOK_FORWARD);
	verdict_packet(&x, b, n, NULL, &p, &v);
	verdict_format(&v, line, sizeof(line));
	assert_string_equal(line, "drop state=NEW rule=telnet mark=0x0");
	assert_int_equal(v.set_mark, 0);
	verdict_audit(&v, &p, "veth0", "veth1", n, audit, sizeof(audit));
	assert_string_equal(audit, "action=drop state=NEW rule=telnet "
	    "proto=tcp src=10.1.1.2 sport=40010 dst=10.1.2.2 dport=23 "
	    "in=veth0 out=veth1 len=40 mark=0x0");

	n = udp4(b, CLIENT, SERVER, 40011, 69);
	run(f, b, n, &v, line, sizeof(line));
	assert_string_equal(line, "reject state=NEW rule=tftp mark=0x0");
	assert_int_equal(v.set_mark, 0);

	/* the connection's mark stays off a packet a rule drops */
	web_handshake(f, 40012, 5000, line, sizeof(line));
	assert_string_equal(line, "accept state=ESTABLISHED rule=- mark=0x10");
	n = tcp4(b, CLIENT, SERVER, 40012, 80, 1001, 5001,
	    PKT_TH_ACK | PKT_TH_URG);
	x = ctx(f, &f->cfg, f->lt, "veth0", "veth1", PKT_HOOK_FORWARD);
	verdict_packet(&x, b, n, NULL, &p, &v);
	verdict_format(&v, line, sizeof(line));
	assert_string_equal(line,
	    "drop state=ESTABLISHED rule=no-urg mark=0x0");
	assert_int_equal(v.set_mark, 0);
	verdict_audit(&v, &p, "veth0", "veth1", n, audit, sizeof(audit));
	assert_non_null(strstr(audit, " len=40 mark=0x0"));
}

/* Monitor mode lets the packet through, with the mark it was given. */
static void
test_monitor_drop_keeps_mark(void **state)
{
	struct fixture	*f = *state;
	struct verdict	 v;
	uint8_t		 b[64];
	char		 line[256];
	size_t		 n;

	f->cfg.mode = MODE_MONITOR;
	unit_add_rule(&f->cfg, "telnet", CT_STATE_BIT(CT_NEW), IPPROTO_TCP,
	    "23", RULE_DROP, 0x40, 1);
	n = tcp4(b, CLIENT, SERVER, 40020, 23, 1000, 0, PKT_TH_SYN);
	run(f, b, n, &v, line, sizeof(line));
	assert_string_equal(line,
	    "drop state=NEW rule=telnet mark=0x40 monitor=yes");
	assert_int_equal(v.action, RULE_ACCEPT);
	assert_int_equal(v.set_mark, 1);
	assert_int_equal(v.mark, 0x40);
}

static void
test_monitor_mode_accepts_and_audits(void **state)
{
	struct fixture	*f = *state;
	struct verdict	 v;
	uint8_t		 b[64];
	char		 line[256];
	size_t		 n;

	f->cfg.mode = MODE_MONITOR;
	n = tcp4(b, CLIENT, SERVER, 40005, 23, 1000, 0, PKT_TH_SYN);
	run(f, b, n, &v, line, sizeof(line));
	assert_int_equal(v.action, RULE_ACCEPT);
	assert_int_equal(v.decided, RULE_DROP);
	assert_int_equal(v.monitor, 1);
	assert_int_equal(v.log, 1);
	assert_string_equal(line, "drop state=NEW rule=- mark=0x0 monitor=yes");
	/* tracked, so its reply is ESTABLISHED and not audited again */
	n = tcp4(b, SERVER, CLIENT, 23, 40005, 5000, 1001,
	    PKT_TH_SYN | PKT_TH_ACK);
	run(f, b, n, &v, line, sizeof(line));
	assert_string_equal(line, "accept state=ESTABLISHED rule=- mark=0x0");
	assert_int_equal(v.monitor, 0);

	n = tcp4(b, CLIENT, SERVER, 40006, 80, 1000, 0, 0);
	run(f, b, n, &v, line, sizeof(line));
	assert_int_equal(v.action, RULE_ACCEPT);
	assert_string_equal(line, "drop state=INVALID rule=- "
	    "reason=bad-tcp-flags mark=0x0 monitor=yes");
}

static void
test_later_fragment_is_invalid(void **state)
{
	struct fixture	*f = *state;
	struct verdict	 v;
	uint8_t		 b[64];
	char		 line[256];
	size_t		 n;

	n = tcp4(b, CLIENT, SERVER, 40007, 80, 1000, 0, PKT_TH_SYN);
	b[6] = 0x00;		/* fragment offset 8 bytes */
	b[7] = 0x01;
	run(f, b, n, &v, line, sizeof(line));
	assert_string_equal(line,
	    "drop state=INVALID rule=- reason=fragment mark=0x0");
}

/* ---- rate and conn_limit ------------------------------------------------ */

static void
test_rate_limit(void **state)
{
	struct verdict_ctx x;
	struct fixture	*f = *state;
	struct verdict	 v;
	uint8_t		 b[64];
	char		 line[256];
	size_t		 n;
	uint16_t	 port;

	f->rules[0].rate = 2;
	/* a burst of 2, then drops audited with limit=rate */
	for (port = 41000; port < 41004; port++) {
		n = tcp4(b, CLIENT, SERVER, port, 80, 1000, 0, PKT_TH_SYN);
		run(f, b, n, &v, line, sizeof(line));
		if (port < 41002)
			assert_string_equal(line,
			    "accept state=NEW rule=web mark=0x10");
		else {
			/* refused: the rule's mark is not put on it */
			assert_string_equal(line, "drop state=NEW rule=web "
			    "limit=rate mark=0x0");
			assert_int_equal(v.set_mark, 0);
			assert_int_equal(v.action, RULE_DROP);
			assert_int_equal(v.log, 1);
		}
	}
	assert_int_equal(ct_count(f->ct), 2);
	/* another source has its own bucket */
	n = tcp4(b, "10.1.1.3", SERVER, 41000, 80, 1000, 0, PKT_TH_SYN);
	run(f, b, n, &v, line, sizeof(line));
	assert_string_equal(line, "accept state=NEW rule=web mark=0x10");
	/* the retransmitted SYN of an accepted connection costs nothing */
	n = tcp4(b, CLIENT, SERVER, 41000, 80, 1000, 0, PKT_TH_SYN);
	run(f, b, n, &v, line, sizeof(line));
	assert_string_equal(line, "accept state=NEW rule=web mark=0x10");
	/* half a second later: one token */
	f->now += 500;
	n = tcp4(b, CLIENT, SERVER, 41010, 80, 1000, 0, PKT_TH_SYN);
	run(f, b, n, &v, line, sizeof(line));
	assert_string_equal(line, "accept state=NEW rule=web mark=0x10");
	n = tcp4(b, CLIENT, SERVER, 41011, 80, 1000, 0, PKT_TH_SYN);
	run(f, b, n, &v, line, sizeof(line));
	assert_int_equal(v.limit, VERDICT_LIMIT_RATE);

	/* without a limit table the key is not enforced */
	{
		struct pkt	 p;

		x = ctx(f, &f->cfg, NULL, "", "", PKT_HOOK_UNKNOWN);
		verdict_packet(&x, b, n, NULL, &p, &v);
		assert_int_equal(v.action, RULE_ACCEPT);
		assert_int_equal(v.limit, VERDICT_LIMIT_NONE);
	}
}

static void
test_conn_limit(void **state)
{
	struct verdict_ctx x;
	struct fixture	*f = *state;
	struct verdict	 v;
	uint8_t		 b[64];
	char		 line[256], audit[512];
	struct pkt	 p;
	size_t		 n;

	f->rules[1].conn_limit = 2;	/* dns */
	n = udp4(b, CLIENT, SERVER, 5001, 53);
	run(f, b, n, &v, line, sizeof(line));
	assert_string_equal(line, "accept state=NEW rule=dns mark=0x0");
	/* its own datagram again is not a new connection */
	run(f, b, n, &v, line, sizeof(line));
	assert_string_equal(line, "accept state=NEW rule=dns mark=0x0");
	n = udp4(b, CLIENT, SERVER, 5002, 53);
	run(f, b, n, &v, line, sizeof(line));
	assert_int_equal(v.action, RULE_ACCEPT);
	n = udp4(b, CLIENT, SERVER, 5003, 53);
	x = ctx(f, &f->cfg, f->lt, "veth0", "veth1", PKT_HOOK_FORWARD);
	verdict_packet(&x, b, n, NULL, &p, &v);
	verdict_format(&v, line, sizeof(line));
	assert_string_equal(line,
	    "drop state=NEW rule=dns limit=conn_limit mark=0x0");
	assert_int_equal(v.log, 1);
	verdict_audit(&v, &p, "veth0", "veth1", n, audit, sizeof(audit));
	assert_string_equal(audit, "action=drop state=NEW rule=dns "
	    "limit=conn_limit proto=udp src=10.1.1.2 sport=5003 dst=10.1.2.2 "
	    "dport=53 in=veth0 out=veth1 len=32 mark=0x0");
	assert_int_equal(ct_count(f->ct), 2);
	/* another source is not limited by this one */
	n = udp4(b, "10.1.1.9", SERVER, 5003, 53);
	run(f, b, n, &v, line, sizeof(line));
	assert_int_equal(v.action, RULE_ACCEPT);

	/* the first two time out: their DESTROY frees the slots */
	f->now += (uint64_t)f->cfg.ct.timeout[CT_TO_UDP] * 1000 + 1;
	ct_expire(f->ct, f->now);
	assert_int_equal(ct_count(f->ct), 0);
	n = udp4(b, CLIENT, SERVER, 5003, 53);
	run(f, b, n, &v, line, sizeof(line));
	assert_string_equal(line, "accept state=NEW rule=dns mark=0x0");
	n = udp4(b, CLIENT, SERVER, 5004, 53);
	run(f, b, n, &v, line, sizeof(line));
	assert_int_equal(v.action, RULE_ACCEPT);
	n = udp4(b, CLIENT, SERVER, 5005, 53);
	run(f, b, n, &v, line, sizeof(line));
	assert_int_equal(v.limit, VERDICT_LIMIT_CONN);
	/* a flush frees them all */
	ct_flush(f->ct);
	run(f, b, n, &v, line, sizeof(line));
	assert_int_equal(v.action, RULE_ACCEPT);
}

static void
test_conn_limit_ignores_closed(void **state)
{
	struct fixture	*f = *state;
	struct verdict	 v;
	uint8_t		 b[64];
	char		 line[256];
	size_t		 n;

	f->rules[0].conn_limit = 1;	/* web */
	web_handshake(f, 43000, 5000, line, sizeof(line));
	assert_string_equal(line, "accept state=ESTABLISHED rule=- mark=0x10");
	n = tcp4(b, CLIENT, SERVER, 43001, 80, 1000, 0, PKT_TH_SYN);
	run(f, b, n, &v, line, sizeof(line));
	assert_string_equal(line,
	    "drop state=NEW rule=web limit=conn_limit mark=0x0");
	/* the first one closes: in TIME_WAIT it no longer counts */
	n = tcp4(b, CLIENT, SERVER, 43000, 80, 1001, 5001,
	    PKT_TH_FIN | PKT_TH_ACK);
	run(f, b, n, &v, line, sizeof(line));
	n = tcp4(b, SERVER, CLIENT, 80, 43000, 5001, 1002,
	    PKT_TH_FIN | PKT_TH_ACK);
	run(f, b, n, &v, line, sizeof(line));
	n = tcp4(b, CLIENT, SERVER, 43000, 80, 1002, 5002, PKT_TH_ACK);
	run(f, b, n, &v, line, sizeof(line));
	assert_int_equal(v.action, RULE_ACCEPT);
	assert_int_equal(ct_count(f->ct), 1);
	n = tcp4(b, CLIENT, SERVER, 43001, 80, 1000, 0, PKT_TH_SYN);
	run(f, b, n, &v, line, sizeof(line));
	assert_string_equal(line, "accept state=NEW rule=web mark=0x10");
	n = tcp4(b, SERVER, CLIENT, 80, 43001, 7000, 1001,
	    PKT_TH_SYN | PKT_TH_ACK);
	run(f, b, n, &v, line, sizeof(line));
	n = tcp4(b, CLIENT, SERVER, 43001, 80, 1001, 7001, PKT_TH_ACK);
	run(f, b, n, &v, line, sizeof(line));
	assert_string_equal(line, "accept state=ESTABLISHED rule=- mark=0x10");
	n = tcp4(b, CLIENT, SERVER, 43002, 80, 1000, 0, PKT_TH_SYN);
	run(f, b, n, &v, line, sizeof(line));
	assert_int_equal(v.limit, VERDICT_LIMIT_CONN);
	/* the closed one leaving releases nothing more */
	f->now += (uint64_t)f->cfg.ct.timeout[CT_TO_TCP_TIME_WAIT] * 1000;
	ct_expire(f->ct, f->now);
	assert_int_equal(ct_count(f->ct), 1);
	n = tcp4(b, CLIENT, SERVER, 43003, 80, 1000, 0, PKT_TH_SYN);
	run(f, b, n, &v, line, sizeof(line));
	assert_int_equal(v.limit, VERDICT_LIMIT_CONN);
}

static void
test_limits_in_monitor_mode(void **state)
{
	struct fixture	*f = *state;
	struct verdict	 v;
	uint8_t		 b[64];
	char		 line[256];
	size_t		 n;
	union pkt_addr	 client;

	memset(&client, 0, sizeof(client));
	inet_pton(AF_INET, CLIENT, client.a8);
	f->cfg.mode = MODE_MONITOR;
	f->rules[1].conn_limit = 1;
	n = udp4(b, CLIENT, SERVER, 5001, 53);
	run(f, b, n, &v, line, sizeof(line));
	assert_string_equal(line, "accept state=NEW rule=dns mark=0x0");
	n = udp4(b, CLIENT, SERVER, 5002, 53);
	run(f, b, n, &v, line, sizeof(line));
	assert_int_equal(v.action, RULE_ACCEPT);
	assert_int_equal(v.monitor, 1);
	assert_string_equal(line, "drop state=NEW rule=dns limit=conn_limit "
	    "mark=0x0 monitor=yes");
	/* tracked anyway, and counted, so that both DESTROYs balance */
	assert_int_equal(ct_count(f->ct), 2);
	assert_int_equal(limit_conn_count(f->lt, 1, AF_INET, &client), 2);
	ct_flush(f->ct);
	assert_int_equal(limit_conn_count(f->lt, 1, AF_INET, &client), 0);
}

static void
test_has_reject(void **state)
{
	struct fixture	*f = *state;

	assert_int_equal(verdict_has_reject(&f->cfg), 0);
	f->rules[1].action = RULE_REJECT;
	assert_int_equal(verdict_has_reject(&f->cfg), 1);
	f->rules[1].action = RULE_ACCEPT;
	f->cfg.policy[CT_INVALID] = RULE_REJECT;
	assert_int_equal(verdict_has_reject(&f->cfg), 1);
}

/* ---- chain = ... (the hook a packet was queued from) -------------------- */

#define HOST	SERVER		/* a host that diverts INPUT and OUTPUT */

static void
run_hook(struct fixture *f, const uint8_t *b, size_t n, int hook,
    struct verdict *v, char *line, size_t linelen)
{
	struct verdict_ctx x;
	struct pkt	 p;

	memset(&p, 0xa5, sizeof(p));
	x = ctx(f, &f->cfg, f->lt, hook == PKT_HOOK_OUTPUT ? "" : "veth0",
	    hook == PKT_HOOK_INPUT ? "" : "veth0", hook);
	verdict_packet(&x, b, n, NULL, &p, v);
	/* a hook out of range is not known */
	assert_int_equal(p.hook, hook > 0 && hook < PKT_HOOK_MAX ? hook :
	    PKT_HOOK_UNKNOWN);
	verdict_format(v, line, linelen);
	f->now += 10;
}

/* The shipped file's host-out rule ahead of the fixture's web and dns. */
static void
add_host_out(struct fixture *f)
{
	struct rule	*r;
	size_t		 i;

	for (i = f->cfg.nrules; i > 0; i--) {
		f->rules[i] = f->rules[i - 1];
		f->rules[i].index = (uint16_t)i;
	}
	r = &f->rules[0];
	memset(r, 0, sizeof(*r));
	snprintf(r->name, sizeof(r->name), "host-out");
	r->states = CT_STATE_BIT(CT_NEW);
	r->hooks = RULE_HOOK_BIT(PKT_HOOK_OUTPUT);
	r->action = RULE_ACCEPT;
	f->cfg.nrules++;
}

static void
test_chain_host(void **state)
{
	struct verdict_ctx x;
	struct fixture	*f = *state;
	struct verdict	 v;
	struct pkt	 p;
	uint8_t		 b[64];
	char		 line[256];
	size_t		 n;

	add_host_out(f);

	/* a connection to the host: SYN in INPUT, SYN/ACK in OUTPUT */
	n = tcp4(b, CLIENT, HOST, 42000, 80, 1000, 0, PKT_TH_SYN);
	run_hook(f, b, n, PKT_HOOK_INPUT, &v, line, sizeof(line));
	assert_string_equal(line, "accept state=NEW rule=web mark=0x10");
	n = tcp4(b, HOST, CLIENT, 80, 42000, 5000, 1001,
	    PKT_TH_SYN | PKT_TH_ACK);
	run_hook(f, b, n, PKT_HOOK_OUTPUT, &v, line, sizeof(line));
	assert_string_equal(line, "accept state=ESTABLISHED rule=- mark=0x10");
	n = tcp4(b, CLIENT, HOST, 42000, 80, 1001, 5001, PKT_TH_ACK);
	run_hook(f, b, n, PKT_HOOK_INPUT, &v, line, sizeof(line));
	assert_string_equal(line, "accept state=ESTABLISHED rule=- mark=0x10");

	/* host-out does not open the host to others */
	n = tcp4(b, CLIENT, HOST, 42001, 8080, 1000, 0, PKT_TH_SYN);
	run_hook(f, b, n, PKT_HOOK_INPUT, &v, line, sizeof(line));
	assert_string_equal(line, "drop state=NEW rule=- mark=0x0");
	run_hook(f, b, n, PKT_HOOK_FORWARD, &v, line, sizeof(line));
	assert_string_equal(line, "drop state=NEW rule=- mark=0x0");

	/* what the host opens itself goes out, and its replies come in */
	n = tcp4(b, HOST, CLIENT, 43000, 5432, 7000, 0, PKT_TH_SYN);
	run_hook(f, b, n, PKT_HOOK_OUTPUT, &v, line, sizeof(line));
	assert_string_equal(line, "accept state=NEW rule=host-out mark=0x0");
	n = tcp4(b, CLIENT, HOST, 5432, 43000, 9000, 7001,
	    PKT_TH_SYN | PKT_TH_ACK);
	run_hook(f, b, n, PKT_HOOK_INPUT, &v, line, sizeof(line));
	assert_string_equal(line, "accept state=ESTABLISHED rule=- mark=0x0");
	n = udp4(b, HOST, CLIENT, 5353, 9999);
	run_hook(f, b, n, PKT_HOOK_OUTPUT, &v, line, sizeof(line));
	assert_string_equal(line, "accept state=NEW rule=host-out mark=0x0");
	n = udp4(b, CLIENT, HOST, 9999, 5353);
	run_hook(f, b, n, PKT_HOOK_INPUT, &v, line, sizeof(line));
	assert_string_equal(line, "accept state=ESTABLISHED rule=- mark=0x0");

	/* the same first packet from elsewhere, or of unknown chain */
	n = tcp4(b, HOST, CLIENT, 43001, 5432, 7000, 0, PKT_TH_SYN);
	run_hook(f, b, n, PKT_HOOK_FORWARD, &v, line, sizeof(line));
	assert_string_equal(line, "drop state=NEW rule=- mark=0x0");
	run_hook(f, b, n, PKT_HOOK_UNKNOWN, &v, line, sizeof(line));
	assert_string_equal(line, "drop state=NEW rule=- mark=0x0");
	run_hook(f, b, n, 99, &v, line, sizeof(line));
	assert_string_equal(line, "drop state=NEW rule=- mark=0x0");
	/* PKT_HOOK_UNKNOWN: the chain is not known (--replay) */
	x = ctx(f, &f->cfg, NULL, "", "veth0", PKT_HOOK_UNKNOWN);
	verdict_packet(&x, b, n, NULL, &p, &v);
	verdict_format(&v, line, sizeof(line));
	assert_string_equal(line, "drop state=NEW rule=- mark=0x0");
	assert_int_equal(p.hook, PKT_HOOK_UNKNOWN);
	run_hook(f, b, n, PKT_HOOK_OUTPUT, &v, line, sizeof(line));
	assert_string_equal(line, "accept state=NEW rule=host-out mark=0x0");

	/* a packet that does not parse still says its chain */
	run_hook(f, b, 10, PKT_HOOK_OUTPUT, &v, line, sizeof(line));
	assert_int_equal(v.state, CT_INVALID);
}

/* ---- reload --------------------------------------------------------------- */

struct audits {
	int	 n;
	char	 line[4][512];
};

static void
collect(void *arg, const char *line)
{
	struct audits	*a = arg;

	if (a->n < 4)
		snprintf(a->line[a->n], sizeof(a->line[0]), "%s", line);
	a->n++;
}

/* a second configuration, sharing the fixture's ct settings */
static void
newcfg(struct fixture *f, struct config *c, struct rule *rules)
{
	*c = f->cfg;
	c->rules = rules;
	c->nrules = 0;
}

/* a rule for NEW connections in c */
static void
add(struct config *c, const char *name, uint8_t proto, const char *dport,
    uint8_t action, uint32_t mark)
{
	unit_add_rule(c, name, CT_STATE_BIT(CT_NEW), proto, dport, action,
	    mark, 0);
}

static void
clear(struct config *c)
{
	size_t	 i;

	for (i = 0; i < c->nrules; i++)
		rule_clear(&c->rules[i]);
}

/* a TCP connection to port 80 and a UDP flow to 53, both established */
static void
two_connections(struct fixture *f)
{
	struct verdict	 v;
	uint8_t		 b[64];
	char		 line[256];
	size_t		 n;

	web_handshake(f, 42000, 5000, line, sizeof(line));
	assert_string_equal(line, "accept state=ESTABLISHED rule=- mark=0x10");
	n = udp4(b, CLIENT, SERVER, 5001, 53);
	run(f, b, n, &v, line, sizeof(line));
	n = udp4(b, SERVER, CLIENT, 53, 5001);
	run(f, b, n, &v, line, sizeof(line));
	assert_string_equal(line, "accept state=ESTABLISHED rule=- mark=0x0");
	assert_int_equal(ct_count(f->ct), 2);
}

static void
test_rejudge_ends_forbidden(void **state)
{
	struct fixture	*f = *state;
	struct config	 c;
	struct rule	 rules[4];
	struct audits	 a;
	struct verdict	 v;
	uint8_t		 b[64];
	char		 line[256];
	size_t		 n;

	two_connections(f);
	/* web is gone; dns stays, with a mark now */
	newcfg(f, &c, rules);
	add(&c, "dns2", IPPROTO_UDP, "53", RULE_ACCEPT, 0x20);
	memset(&a, 0, sizeof(a));
	assert_int_equal(verdict_rejudge(&c, f->ct, f->lt, f->now, collect,
	    &a), 1);
	assert_int_equal(a.n, 1);
	assert_string_equal(a.line[0], "action=drop state=NEW rule=- "
	    "reason=policy-reload proto=tcp src=10.1.1.2 sport=42000 "
	    "dst=10.1.2.2 dport=80 in= out= len=0 mark=0x0");
	assert_int_equal(ct_count(f->ct), 1);

	/* the kept flow carries its new rule's mark */
	f->cfg.rules = rules;
	f->cfg.nrules = c.nrules;
	n = udp4(b, CLIENT, SERVER, 5001, 53);
	run(f, b, n, &v, line, sizeof(line));
	assert_string_equal(line, "accept state=ESTABLISHED rule=- mark=0x20");
	/* the ended one's next packet is not ESTABLISHED (strict: INVALID) */
	n = tcp4(b, CLIENT, SERVER, 42000, 80, 1001, 5001, PKT_TH_ACK);
	run(f, b, n, &v, line, sizeof(line));
	assert_string_equal(line,
	    "drop state=INVALID rule=- reason=tcp-no-syn mark=0x0");
	/* loose: judged as NEW, which the new rules drop */
	f->cfg.ct.tcp_loose = 1;
	ct_set_config(f->ct, &f->cfg.ct);
	run(f, b, n, &v, line, sizeof(line));
	assert_string_equal(line, "drop state=NEW rule=- mark=0x0");
	f->cfg.rules = f->rules;
	f->cfg.nrules = 2;
	clear(&c);
}

/*
 * A worker's reload: no walk at once.  Every connection is stale after
 * verdict_reload(), and judged by the new rules when its next packet
 * comes, before that packet is decided; the sweep finds the rest.
 */
static void
test_reload_epoch(void **state)
{
	struct fixture	*f = *state;
	struct verdict_reload rl;
	struct config	 c;
	struct rule	 rules[4];
	struct audits	 a;
	struct verdict	 v;
	uint8_t		 b[64];
	char		 line[256];
	size_t		 n;

	two_connections(f);
	/* [sync]: a new mark is news for the HA peer */
	assert_int_equal(ct_dirty_track(f->ct, 1), 0);
	newcfg(f, &c, rules);
	add(&c, "dns2", IPPROTO_UDP, "53", RULE_ACCEPT, 0x20);
	memset(&a, 0, sizeof(a));
	verdict_reload(&rl, &c, f->ct, f->lt, f->now, collect, &a);
	assert_true(ct_sweeping(f->ct));
	assert_int_equal(ct_count(f->ct), 2);
	assert_int_equal(a.n, 0);
	f->cfg.rules = rules;
	f->cfg.nrules = c.nrules;
	/* web's next packet: its connection is judged, ended, then the
	   packet finds none (strict: INVALID) */
	n = tcp4(b, CLIENT, SERVER, 42000, 80, 1001, 5001, PKT_TH_ACK);
	run(f, b, n, &v, line, sizeof(line));
	assert_string_equal(line,
	    "drop state=INVALID rule=- reason=tcp-no-syn mark=0x0");
	assert_int_equal(rl.ended, 1);
	assert_int_equal(a.n, 1);
	assert_int_equal(ct_count(f->ct), 1);
	/* dns is judged again too: its new rule's mark */
	n = udp4(b, SERVER, CLIENT, 53, 5001);
	run(f, b, n, &v, line, sizeof(line));
	assert_string_equal(line, "accept state=ESTABLISHED rule=- mark=0x20");
	assert_int_equal(ct_dirty_count(f->ct), 1);
	assert_int_equal(ct_dirty_track(f->ct, 0), 0);
	/* nothing is left for the sweep but to find that out */
	assert_true(ct_sweeping(f->ct));
	assert_int_equal(verdict_reload_step(f->ct, SIZE_MAX), 1);
	assert_false(ct_sweeping(f->ct));
	assert_int_equal(rl.ended, 1);
	f->cfg.rules = f->rules;
	f->cfg.nrules = 2;
	clear(&c);
}

/*
 * Two reloads before the first sweep ended: one bit per entry cannot
 * tell "judged by neither" from "judged by the second", so every entry
 * is judged by the second rules, the ones the first sweep reached and
 * the ones it did not.
 */
static void
test_reload_twice_mid_sweep(void **state)
{
	struct fixture	*f = *state;
	struct verdict_reload rl;
	struct config	 c1, c2;
	struct rule	 r1[4], r2[4];
	struct verdict	 v;
	uint8_t		 b[64];
	char		 line[256];
	size_t		 n;
	uint16_t	 i;

	for (i = 0; i < 20; i++) {
		n = udp4(b, CLIENT, SERVER, (uint16_t)(6000 + i), 53);
		run(f, b, n, &v, line, sizeof(line));
		n = udp4(b, SERVER, CLIENT, 53, (uint16_t)(6000 + i));
		run(f, b, n, &v, line, sizeof(line));
		assert_string_equal(line, "accept state=ESTABLISHED rule=- "
		    "mark=0x0");
	}
	newcfg(f, &c1, r1);
	add(&c1, "dns2", IPPROTO_UDP, "53", RULE_ACCEPT, 0x20);
	verdict_reload(&rl, &c1, f->ct, f->lt, f->now, NULL, NULL);
	/* half way */
	assert_int_equal(verdict_reload_step(f->ct, 10), 0);
	newcfg(f, &c2, r2);		/* no rule: [policy] new drops */
	verdict_reload(&rl, &c2, f->ct, f->lt, f->now, NULL, NULL);
	f->cfg.rules = r2;
	f->cfg.nrules = 0;
	for (i = 0; i < 20; i++) {
		n = udp4(b, SERVER, CLIENT, 53, (uint16_t)(6000 + i));
		run(f, b, n, &v, line, sizeof(line));
		assert_string_equal(line, "drop state=NEW rule=- mark=0x0");
	}
	assert_int_equal(rl.ended, 20);
	assert_int_equal(ct_count(f->ct), 0);
	assert_int_equal(verdict_reload_step(f->ct, SIZE_MAX), 1);
	f->cfg.rules = f->rules;
	f->cfg.nrules = 2;
	clear(&c1);
}

/* A fake clock for verdict_reload_slice(): each reading is tick_us on. */
static uint64_t	 fake_us, tick_us;

static uint64_t
fake_now_us(void)
{
	uint64_t t = fake_us;

	fake_us += tick_us;
	return (t);
}

/*
 * A slice reads the clock by work done: after every VERDICT_SWEEP_JUDGED
 * entries judged, however few slots that took, so a costly judgment
 * (many rules, an audit line each) cannot hold the worker past its
 * budget for a whole VERDICT_SWEEP_SLOTS of them.
 */
static void
test_reload_slice_budget(void **state)
{
	struct fixture	*f = *state;
	struct verdict_reload rl;
	struct config	 c;
	struct rule	 r[4];
	struct verdict	 v;
	uint8_t		 b[64];
	char		 line[256];
	size_t		 n;
	uint16_t	 i;

	for (i = 0; i < 40; i++) {
		n = udp4(b, CLIENT, SERVER, (uint16_t)(7000 + i), 53);
		run(f, b, n, &v, line, sizeof(line));
	}
	assert_int_equal(ct_count(f->ct), 40);
	newcfg(f, &c, r);		/* no rule: every connection ends */
	verdict_reload(&rl, &c, f->ct, f->lt, f->now, NULL, NULL);
	/* 50 us a step, 150 us of budget: a third step would pass it */
	fake_us = 0;
	tick_us = 50;
	assert_int_equal(verdict_reload_slice(f->ct, fake_now_us, 150), 0);
	assert_int_equal(rl.ended, 2 * VERDICT_SWEEP_JUDGED);
	assert_int_equal(ct_count(f->ct), 40 - 2 * VERDICT_SWEEP_JUDGED);
	assert_true(ct_sweeping(f->ct));
	/* a clock that stands still: the rest in one slice */
	tick_us = 0;
	assert_int_equal(verdict_reload_slice(f->ct, fake_now_us, 1), 1);
	assert_int_equal(rl.ended, 40);
	assert_int_equal(ct_count(f->ct), 0);
	assert_false(ct_sweeping(f->ct));
	clear(&c);
}

static void
test_rejudge_drop_rule_and_interfaces(void **state)
{
	struct fixture	*f = *state;
	struct config	 c;
	struct rule	 rules[4];
	struct audits	 a;
	char		 err[256];

	two_connections(f);
	newcfg(f, &c, rules);
	/* a drop rule naming an interface cannot be known to apply */
	add(&c, "no-web-wan", IPPROTO_TCP, "80", RULE_DROP, 0);
	assert_int_equal(rule_parse_ifaces("wan0", rules[0].in, &rules[0].nin,
	    &rules[0].in_neg, err, sizeof(err)), 0);
	/* an accepting one is taken to match */
	add(&c, "web-lan", IPPROTO_TCP, "80", RULE_ACCEPT, 0x30);
	assert_int_equal(rule_parse_ifaces("lan+", rules[1].in, &rules[1].nin,
	    &rules[1].in_neg, err, sizeof(err)), 0);
	/* a reject rule ends what it matches */
	add(&c, "no-dns", IPPROTO_UDP, "53", RULE_REJECT, 0);
	memset(&a, 0, sizeof(a));
	assert_int_equal(verdict_rejudge(&c, f->ct, f->lt, f->now, collect,
	    &a), 1);
	assert_int_equal(a.n, 1);
	assert_string_equal(a.line[0], "action=reject state=NEW rule=no-dns "
	    "reason=policy-reload proto=udp src=10.1.1.2 sport=5001 "
	    "dst=10.1.2.2 dport=53 in= out= len=0 mark=0x0");
	assert_int_equal(ct_count(f->ct), 1);
	clear(&c);
}

/*
 * nfqspid -n's shadowed rules (rule_shadows()) on the reload's path: an
 * accepting rule behind a drop rule that names its interface decides
 * the connections a reload judges again, so it is not shadowed; behind
 * a drop rule without interfaces, it decides none.
 */
static void
test_rejudge_shadow(void **state)
{
	struct fixture	*f = *state;
	struct config	 c;
	struct rule	 rules[4];
	struct audits	 a;
	char		 err[256];

	two_connections(f);
	newcfg(f, &c, rules);
	add(&c, "no-web-wan", IPPROTO_TCP, "80", RULE_DROP, 0);
	add(&c, "web-wan", IPPROTO_TCP, "80", RULE_ACCEPT, 0x30);
	add(&c, "dns", IPPROTO_UDP, "53", RULE_ACCEPT, 0);
	assert_int_equal(rule_parse_ifaces("wan0", rules[0].in, &rules[0].nin,
	    &rules[0].in_neg, err, sizeof(err)), 0);
	assert_int_equal(rule_parse_ifaces("wan0", rules[1].in, &rules[1].nin,
	    &rules[1].in_neg, err, sizeof(err)), 0);
	/* every packet web-wan matches, no-web-wan does and decides ... */
	assert_true(rule_covers(&rules[0], &rules[1]));
	/* ... but web-wan keeps the web connection at a reload */
	assert_false(rule_shadows(&rules[0], &rules[1]));
	assert_int_equal(verdict_rejudge(&c, f->ct, f->lt, f->now, NULL,
	    NULL), 0);
	assert_int_equal(ct_count(f->ct), 2);
	clear(&c);

	/* no-web without interfaces: it decides the reload too */
	ct_flush(f->ct);
	two_connections(f);
	newcfg(f, &c, rules);
	add(&c, "no-web", IPPROTO_TCP, "80", RULE_DROP, 0);
	add(&c, "web-wan", IPPROTO_TCP, "80", RULE_ACCEPT, 0x30);
	add(&c, "dns", IPPROTO_UDP, "53", RULE_ACCEPT, 0);
	assert_int_equal(rule_parse_ifaces("wan0", rules[1].in, &rules[1].nin,
	    &rules[1].in_neg, err, sizeof(err)), 0);
	assert_true(rule_shadows(&rules[0], &rules[1]));
	memset(&a, 0, sizeof(a));
	assert_int_equal(verdict_rejudge(&c, f->ct, f->lt, f->now, collect,
	    &a), 1);
	assert_int_equal(a.n, 1);
	assert_non_null(strstr(a.line[0], "action=drop state=NEW "
	    "rule=no-web reason=policy-reload proto=tcp"));
	assert_int_equal(ct_count(f->ct), 1);
	clear(&c);
}

/*
 * The table records the chain of a connection's first packet (run() sends
 * everything through FORWARD), so chain is judged again exactly.
 */
static void
test_rejudge_chain(void **state)
{
	struct fixture	*f = *state;
	struct config	 c;
	struct rule	 rules[4];
	struct audits	 a;
	char		 err[256];

	two_connections(f);
	newcfg(f, &c, rules);
	add(&c, "no-web-in", IPPROTO_TCP, "80", RULE_DROP, 0);
	assert_int_equal(rule_parse_hooks("input", &rules[0].hooks, err,
	    sizeof(err)), 0);
	add(&c, "dns-out", IPPROTO_UDP, "53", RULE_ACCEPT, 0x40);
	assert_int_equal(rule_parse_hooks("output, forward", &rules[1].hooks,
	    err, sizeof(err)), 0);
	memset(&a, 0, sizeof(a));
	/* web: no-web-in skipped, [policy] new drops it; dns kept */
	assert_int_equal(verdict_rejudge(&c, f->ct, f->lt, f->now, collect,
	    &a), 1);
	assert_int_equal(a.n, 1);
	assert_string_equal(a.line[0], "action=drop state=NEW rule=- "
	    "reason=policy-reload proto=tcp src=10.1.1.2 sport=42000 "
	    "dst=10.1.2.2 dport=80 in= out= len=0 mark=0x0");
	assert_int_equal(ct_count(f->ct), 1);
	clear(&c);

	/* an accepting rule with chain keeps what came through it ... */
	ct_flush(f->ct);
	two_connections(f);
	newcfg(f, &c, rules);
	add(&c, "web-fwd", IPPROTO_TCP, "80", RULE_ACCEPT, 0x50);
	assert_int_equal(rule_parse_hooks("forward", &rules[0].hooks, err,
	    sizeof(err)), 0);
	assert_int_equal(verdict_rejudge(&c, f->ct, f->lt, f->now, NULL,
	    NULL), 1);
	assert_int_equal(ct_count(f->ct), 1);
	clear(&c);

	/* ... and nothing that came through another chain: a host-out
	   rule does not keep the forwarded connections alive */
	ct_flush(f->ct);
	two_connections(f);
	newcfg(f, &c, rules);
	add(&c, "host-out", 0, NULL, RULE_ACCEPT, 0);
	assert_int_equal(rule_parse_hooks("output", &rules[0].hooks, err,
	    sizeof(err)), 0);
	assert_int_equal(verdict_rejudge(&c, f->ct, f->lt, f->now, NULL,
	    NULL), 2);
	assert_int_equal(ct_count(f->ct), 0);
	clear(&c);
}

static void
test_rejudge_monitor_keeps(void **state)
{
	struct fixture	*f = *state;
	struct config	 c;
	struct rule	 rules[4];
	struct audits	 a;

	two_connections(f);
	newcfg(f, &c, rules);
	c.mode = MODE_MONITOR;
	memset(&a, 0, sizeof(a));
	assert_int_equal(verdict_rejudge(&c, f->ct, f->lt, f->now, collect,
	    &a), 2);
	assert_int_equal(a.n, 2);
	assert_non_null(strstr(a.line[0], "reason=policy-reload"));
	assert_non_null(strstr(a.line[0], " monitor=yes"));
	assert_int_equal(ct_count(f->ct), 2);
	/* no audit callback: counted all the same */
	assert_int_equal(verdict_rejudge(&c, f->ct, NULL, f->now, NULL,
	    NULL), 2);
	clear(&c);
}

/* two_connections(), then a reload in mode whose no-web drops the web
   one, with mark 0x30: its record */
static void
rejudge_no_web(struct fixture *f, struct config *c, struct rule *rules,
    int mode, const char *want)
{
	struct audits	 a;

	two_connections(f);
	newcfg(f, c, rules);
	c->mode = mode;
	add(c, "no-web", IPPROTO_TCP, "80", RULE_DROP, 0x30);
	add(c, "dns", IPPROTO_UDP, "53", RULE_ACCEPT, 0);
	memset(&a, 0, sizeof(a));
	assert_int_equal(verdict_rejudge(c, f->ct, f->lt, f->now, collect,
	    &a), 1);
	assert_int_equal(a.n, 1);
	assert_string_equal(a.line[0], want);
}

/*
 * A reload's record gives the mark the connection's packets go on with,
 * as a packet's does: none for one ended (its old rule's 0x10 is on no
 * packet), the refusing rule's for one monitor mode keeps.
 */
static void
test_rejudge_mark(void **state)
{
	struct fixture	*f = *state;
	struct config	 c;
	struct rule	 rules[4];
	struct verdict	 v;
	uint8_t		 b[64];
	char		 line[256];
	size_t		 n;

	rejudge_no_web(f, &c, rules, MODE_ENFORCE, "action=drop state=NEW "
	    "rule=no-web reason=policy-reload proto=tcp src=10.1.1.2 "
	    "sport=42000 dst=10.1.2.2 dport=80 in= out= len=0 mark=0x0");
	clear(&c);

	ct_flush(f->ct);
	rejudge_no_web(f, &c, rules, MODE_MONITOR, "action=drop state=NEW "
	    "rule=no-web reason=policy-reload proto=tcp src=10.1.1.2 "
	    "sport=42000 dst=10.1.2.2 dport=80 in= out= len=0 mark=0x30 "
	    "monitor=yes");
	/* ... the mark its next packet carries */
	f->cfg.rules = rules;
	f->cfg.nrules = c.nrules;
	f->cfg.mode = MODE_MONITOR;
	n = tcp4(b, CLIENT, SERVER, 42000, 80, 1001, 5001, PKT_TH_ACK);
	run(f, b, n, &v, line, sizeof(line));
	assert_string_equal(line, "accept state=ESTABLISHED rule=- mark=0x30");
	clear(&c);
}

static void
test_rejudge_recounts_conn_limit(void **state)
{
	struct verdict_ctx x;
	struct fixture	*f = *state;
	struct config	 c;
	struct rule	 rules[4];
	struct audits	 a;
	struct verdict	 v;
	struct pkt	 p;
	uint8_t		 b[64];
	size_t		 n;
	union pkt_addr	 client;

	memset(&client, 0, sizeof(client));
	inet_pton(AF_INET, CLIENT, client.a8);
	two_connections(f);
	/* rules in another order: indices change */
	newcfg(f, &c, rules);
	add(&c, "dns", IPPROTO_UDP, "53", RULE_ACCEPT, 0);
	add(&c, "web", IPPROTO_TCP, "80", RULE_ACCEPT, 0);
	rules[1].conn_limit = 1;
	memset(&a, 0, sizeof(a));
	assert_int_equal(verdict_rejudge(&c, f->ct, f->lt, f->now, collect,
	    &a), 0);
	assert_int_equal(a.n, 0);
	assert_int_equal(limit_conn_count(f->lt, 1, AF_INET, &client), 1);
	assert_int_equal(limit_conn_count(f->lt, 0, AF_INET, &client), 0);
	/* the live connection fills the new limit */
	n = tcp4(b, CLIENT, SERVER, 42001, 80, 1000, 0, PKT_TH_SYN);
	x = ctx(f, &c, f->lt, "", "", PKT_HOOK_UNKNOWN);
	verdict_packet(&x, b, n, NULL, &p, &v);
	assert_int_equal(v.limit, VERDICT_LIMIT_CONN);
	/* and its end frees it, under the new index */
	ct_flush(f->ct);
	assert_int_equal(limit_conn_count(f->lt, 1, AF_INET, &client), 0);
	x = ctx(f, &c, f->lt, "", "", PKT_HOOK_UNKNOWN);
	verdict_packet(&x, b, n, NULL, &p, &v);
	assert_int_equal(v.action, RULE_ACCEPT);
	clear(&c);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_tuple),
		cmocka_unit_test_setup_teardown(test_allowed_connection,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_ahead_path, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_ahead_changes_nothing,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_forbidden_connection_leaves_no_entry, setup, teardown),
		cmocka_unit_test_setup_teardown(test_xmas_and_null_are_invalid,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_truncated_packet_is_invalid, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_related_from_another_table, setup, teardown),
		cmocka_unit_test_setup_teardown(test_udp_request_reply,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_established_rule_wins_over_policy, setup, teardown),
		cmocka_unit_test_setup_teardown(test_drop_has_no_mark, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_monitor_drop_keeps_mark,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_monitor_mode_accepts_and_audits, setup, teardown),
		cmocka_unit_test_setup_teardown(test_chain_host, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_later_fragment_is_invalid,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_rate_limit, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_conn_limit, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_conn_limit_ignores_closed,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_limits_in_monitor_mode,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_has_reject, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_rejudge_ends_forbidden,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_reload_epoch,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_reload_twice_mid_sweep,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_reload_slice_budget,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_rejudge_drop_rule_and_interfaces, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rejudge_shadow, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_rejudge_chain,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_rejudge_mark, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_rejudge_monitor_keeps,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_rejudge_recounts_conn_limit, setup, teardown),
	};

	return (cmocka_run_group_tests(tests, NULL, NULL));
}
