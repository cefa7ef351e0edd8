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

#include "verdict.h"

#define CLIENT	"10.1.1.2"
#define SERVER	"10.1.2.2"

struct fixture {
	struct config	 cfg;
	struct rule	 rules[3];
	struct ct_table	*ct;
	uint64_t	 now;
};

/* IPv4 header checksum: the parser does not need it, tcpdump does */
static uint16_t
csum(const uint8_t *b, size_t n)
{
	uint32_t	 s = 0;
	size_t		 i;

	for (i = 0; i + 1 < n; i += 2)
		s += (uint32_t)b[i] << 8 | b[i + 1];
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return ((uint16_t)~s);
}

static size_t
ip4(uint8_t *b, const char *src, const char *dst, uint8_t proto,
    size_t l4len)
{
	struct in_addr	 a;
	uint16_t	 tot = (uint16_t)(20 + l4len), c;

	memset(b, 0, 20);
	b[0] = 0x45;
	b[2] = tot >> 8;
	b[3] = tot & 0xff;
	b[8] = 64;
	b[9] = proto;
	inet_pton(AF_INET, src, &a);
	memcpy(b + 12, &a, 4);
	inet_pton(AF_INET, dst, &a);
	memcpy(b + 16, &a, 4);
	c = csum(b, 20);
	b[10] = c >> 8;
	b[11] = c & 0xff;
	return (20);
}

static size_t
tcp4(uint8_t *b, const char *src, const char *dst, uint16_t sport,
    uint16_t dport, uint32_t seq, uint32_t ack, uint8_t flags)
{
	uint8_t	*t = b + 20;

	ip4(b, src, dst, IPPROTO_TCP, 20);
	memset(t, 0, 20);
	t[0] = sport >> 8;
	t[1] = sport & 0xff;
	t[2] = dport >> 8;
	t[3] = dport & 0xff;
	t[4] = seq >> 24; t[5] = seq >> 16; t[6] = seq >> 8; t[7] = seq;
	t[8] = ack >> 24; t[9] = ack >> 16; t[10] = ack >> 8; t[11] = ack;
	t[12] = 5 << 4;
	t[13] = flags;
	t[14] = 0xff;		/* window 65535 */
	t[15] = 0xff;
	return (40);
}

static size_t
udp4(uint8_t *b, const char *src, const char *dst, uint16_t sport,
    uint16_t dport)
{
	uint8_t	*u = b + 20;

	ip4(b, src, dst, IPPROTO_UDP, 12);
	u[0] = sport >> 8;
	u[1] = sport & 0xff;
	u[2] = dport >> 8;
	u[3] = dport & 0xff;
	u[4] = 0;
	u[5] = 12;
	u[6] = u[7] = 0;
	memcpy(u + 8, "ping", 4);
	return (32);
}

static void
add_rule(struct fixture *f, const char *name, uint8_t states, uint8_t proto,
    const char *dport, uint8_t action, uint32_t mark, uint8_t log)
{
	struct rule	*r = &f->rules[f->cfg.nrules];
	char		 err[256];

	memset(r, 0, sizeof(*r));
	snprintf(r->name, sizeof(r->name), "%s", name);
	r->index = (uint16_t)f->cfg.nrules;
	r->states = states;
	r->has_proto = 1;
	r->proto = proto;
	if (dport != NULL)
		assert_int_equal(rule_parse_ports(dport, &r->dport, err,
		    sizeof(err)), 0);
	r->action = action;
	r->has_mark = mark != 0;
	r->mark = mark;
	r->log = log;
	f->cfg.nrules++;
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
	add_rule(f, "web", CT_STATE_BIT(CT_NEW), IPPROTO_TCP, "80",
	    RULE_ACCEPT, 0x10, 1);
	add_rule(f, "dns", CT_STATE_BIT(CT_NEW), IPPROTO_UDP, "53",
	    RULE_ACCEPT, 0, 0);
	f->ct = ct_new(&f->cfg.ct);
	assert_non_null(f->ct);
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
	for (i = 0; i < f->cfg.nrules; i++)
		rule_clear(&f->rules[i]);
	free(f);
	return (0);
}

static void
run(struct fixture *f, const uint8_t *b, size_t n, struct verdict *v,
    char *line, size_t linelen)
{
	struct pkt	 p;

	verdict_packet(&f->cfg, f->ct, b, n, "veth0", "veth1", f->now, &p, v);
	verdict_format(v, line, linelen);
	f->now += 10;
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
	struct fixture	*f = *state;
	struct verdict	 v;
	uint8_t		 b[64];
	char		 line[256], audit[512];
	struct pkt	 p;
	size_t		 n;

	n = tcp4(b, CLIENT, SERVER, 40002, 80, 1000, 0,
	    PKT_TH_FIN | PKT_TH_PUSH | PKT_TH_URG);
	verdict_packet(&f->cfg, f->ct, b, n, "veth0", "veth1", f->now, &p,
	    &v);
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

static void
test_established_rule_wins_over_policy(void **state)
{
	struct fixture	*f = *state;
	struct verdict	 v;
	uint8_t		 b[64];
	char		 line[256];
	size_t		 n;

	add_rule(f, "no-dns-replies", CT_STATE_BIT(CT_ESTABLISHED),
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

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_allowed_connection,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_forbidden_connection_leaves_no_entry, setup, teardown),
		cmocka_unit_test_setup_teardown(test_xmas_and_null_are_invalid,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_truncated_packet_is_invalid, setup, teardown),
		cmocka_unit_test_setup_teardown(test_udp_request_reply,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_established_rule_wins_over_policy, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_monitor_mode_accepts_and_audits, setup, teardown),
		cmocka_unit_test_setup_teardown(test_later_fragment_is_invalid,
		    setup, teardown),
	};

	return (cmocka_run_group_tests(tests, NULL, NULL));
}
