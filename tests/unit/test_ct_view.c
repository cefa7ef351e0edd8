/*
 * test_ct_view.c - a connection's view and its printed forms
 *
 * Copyright (C) 2026 The nfqspid authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * Entries are written by hand (ct_int.h): the view must say what the
 * entry holds, whatever tracker put it there.  test_ct.c checks the
 * /proc lines of entries its trackers made.
 */
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "ct_int.h"
#include "ct_view.h"
#include "rule.h"
#include "unit.h"

#define NOW	1000000000ull	/* ms */

/* An entry as the trackers leave it; left s of timeout, age s old. */
static void
entry(struct ct_entry *e, const char *src, const char *dst, uint8_t proto,
    uint16_t sport, uint16_t dport, uint32_t left, uint32_t age)
{
	memset(e, 0, sizeof(*e));
	e->src = unit_addr(src);
	e->dst = unit_addr(dst);
	e->family = strchr(src, ':') != NULL ? AF_INET6 : AF_INET;
	e->proto = proto;
	e->sport = sport;
	e->dport = dport;
	e->status = CT_ST_USED;
	e->deadline = (uint32_t)(NOW + left * 1000ull);
	e->born = (uint32_t)(NOW / 1000 - age);
}

static void
test_tcp_established(void **state)
{
	struct ct_entry	 e;
	struct ct_view	 v;
	char		 buf[CT_VIEW_BUFLEN];
	int		 n;

	entry(&e, "10.0.0.1", "10.0.0.2", IPPROTO_TCP, 41000, 22, 431999, 5);
	e.state = CT_TCP_ESTABLISHED;
	e.status |= CT_ST_SEEN_REPLY | CT_ST_ASSURED;
	e.mark = 16;
	e.rule = 2;
	e.packets = 9;
	ct_view_fill(&v, &e, NOW);
	assert_int_equal(v.state, CT_VIEW_TCP_ESTABLISHED);
	assert_int_equal(v.flags, CT_VIEW_ASSURED);
	assert_int_equal(v.timeout, 431999);
	assert_int_equal(v.age, 5);
	assert_int_equal(v.packets, 9);
	assert_int_equal(v.rule, 2);
	assert_null(v.rule_name);
	assert_int_equal(v.reply.sport, 22);
	assert_int_equal(v.reply.dport, 41000);

	n = ct_view_text(&v, CT_VIEW_PROC, buf, sizeof(buf));
	assert_int_equal(n, (int)strlen(buf));
	assert_string_equal(buf, "ipv4     2 tcp      6 431999 ESTABLISHED "
	    "src=10.0.0.1 dst=10.0.0.2 sport=41000 dport=22 src=10.0.0.2 "
	    "dst=10.0.0.1 sport=22 dport=41000 [ASSURED] mark=16 use=1");
	/* ct_format() is the same line */
	assert_int_equal(ct_format(&e, NOW, buf, sizeof(buf)), n);
	assert_string_equal(buf, "ipv4     2 tcp      6 431999 ESTABLISHED "
	    "src=10.0.0.1 dst=10.0.0.2 sport=41000 dport=22 src=10.0.0.2 "
	    "dst=10.0.0.1 sport=22 dport=41000 [ASSURED] mark=16 use=1");

	n = ct_view_text(&v, CT_VIEW_EVENT, buf, sizeof(buf));
	assert_int_equal(n, (int)strlen(buf));
	assert_string_equal(buf, "tcp      6 431999 ESTABLISHED "
	    "src=10.0.0.1 dst=10.0.0.2 sport=41000 dport=22 src=10.0.0.2 "
	    "dst=10.0.0.1 sport=22 dport=41000 [ASSURED] mark=16");

	v.rule_name = "ssh-in";
	n = ct_view_json(&v, NULL, buf, sizeof(buf));
	assert_int_equal(n, (int)strlen(buf));
	assert_string_equal(buf, "{\"family\":\"ipv4\",\"proto\":\"tcp\","
	    "\"protonum\":6,\"timeout\":431999,\"state\":\"ESTABLISHED\","
	    "\"src\":\"10.0.0.1\",\"dst\":\"10.0.0.2\",\"sport\":41000,"
	    "\"dport\":22,\"reply\":{\"src\":\"10.0.0.2\",\"dst\":"
	    "\"10.0.0.1\",\"sport\":22,\"dport\":41000},\"mark\":16,"
	    "\"use\":1,\"flags\":[\"ASSURED\"],\"age\":5,\"packets\":9,"
	    "\"rule\":\"ssh-in\"}");
}

static void
test_udp_unreplied(void **state)
{
	struct ct_entry	 e;
	struct ct_view	 v;
	char		 buf[CT_VIEW_BUFLEN];

	entry(&e, "10.0.0.1", "10.0.0.2", IPPROTO_UDP, 5000, 53, 29, 0);
	ct_view_fill(&v, &e, NOW);
	assert_int_equal(v.flags, CT_VIEW_UNREPLIED);
	ct_view_text(&v, CT_VIEW_PROC, buf, sizeof(buf));
	assert_string_equal(buf, "ipv4     2 udp      17 29 src=10.0.0.1 "
	    "dst=10.0.0.2 sport=5000 dport=53 [UNREPLIED] src=10.0.0.2 "
	    "dst=10.0.0.1 sport=53 dport=5000 mark=0 use=1");
	ct_view_json(&v, "\"event\":\"NEW\"", buf, sizeof(buf));
	assert_string_equal(buf, "{\"event\":\"NEW\",\"family\":\"ipv4\","
	    "\"proto\":\"udp\",\"protonum\":17,\"timeout\":29,"
	    "\"src\":\"10.0.0.1\",\"dst\":\"10.0.0.2\",\"sport\":5000,"
	    "\"dport\":53,\"reply\":{\"src\":\"10.0.0.2\",\"dst\":\"10.0.0.1\","
	    "\"sport\":53,\"dport\":5000},\"mark\":0,\"use\":1,\"flags\":"
	    "[\"UNREPLIED\"],\"age\":0,\"packets\":0,\"rule\":null}");
}

/* The listing keeps the kernel's %pI6; events and JSON are RFC 5952. */
static void
test_ipv6_icmp(void **state)
{
	struct ct_entry	 e;
	struct ct_view	 v;
	char		 buf[CT_VIEW_BUFLEN];

	entry(&e, "2001:db8::1", "fd23:1:0:0:1:0:0:2", IPPROTO_ICMPV6, 7, 128,
	    29, 1);
	e.status |= CT_ST_SEEN_REPLY;
	ct_view_fill(&v, &e, NOW);
	assert_int_equal(v.orig.type, 128);
	assert_int_equal(v.reply.type, 129);
	assert_int_equal(v.orig.id, 7);
	assert_int_equal(v.orig.sport, 0);
	ct_view_text(&v, CT_VIEW_PROC, buf, sizeof(buf));
	assert_string_equal(buf, "ipv6     10 icmpv6   58 29 "
	    "src=2001:0db8:0000:0000:0000:0000:0000:0001 "
	    "dst=fd23:0001:0000:0000:0001:0000:0000:0002 "
	    "type=128 code=0 id=7 "
	    "src=fd23:0001:0000:0000:0001:0000:0000:0002 "
	    "dst=2001:0db8:0000:0000:0000:0000:0000:0001 "
	    "type=129 code=0 id=7 mark=0 use=1");
	ct_view_text(&v, CT_VIEW_EVENT, buf, sizeof(buf));
	assert_string_equal(buf, "icmpv6   58 29 src=2001:db8::1 "
	    "dst=fd23:1::1:0:0:2 type=128 code=0 id=7 src=fd23:1::1:0:0:2 "
	    "dst=2001:db8::1 type=129 code=0 id=7 mark=0");
	ct_view_json(&v, NULL, buf, sizeof(buf));
	assert_string_equal(buf, "{\"family\":\"ipv6\",\"proto\":\"icmpv6\","
	    "\"protonum\":58,\"timeout\":29,\"src\":\"2001:db8::1\","
	    "\"dst\":\"fd23:1::1:0:0:2\",\"type\":128,\"code\":0,\"id\":7,"
	    "\"reply\":{\"src\":\"fd23:1::1:0:0:2\",\"dst\":\"2001:db8::1\","
	    "\"type\":129,\"code\":0,\"id\":7},\"mark\":0,\"use\":1,"
	    "\"flags\":[],\"age\":1,\"packets\":0,\"rule\":null}");

	/* ICMP echo: the reply is type 0 */
	entry(&e, "10.0.0.1", "10.0.0.2", IPPROTO_ICMP, 9, 8, 30, 0);
	ct_view_fill(&v, &e, NOW);
	assert_int_equal(v.reply.type, 0);
}

/* A protocol without a tracker of its own: no ports, no state. */
static void
test_other_proto(void **state)
{
	struct ct_entry	 e;
	struct ct_view	 v;
	char		 buf[CT_VIEW_BUFLEN];

	entry(&e, "10.0.0.1", "10.0.0.2", IPPROTO_GRE, 0, 0, 600, 0);
	e.status |= CT_ST_SEEN_REPLY | CT_ST_ASSURED;
	ct_view_fill(&v, &e, NOW);
	ct_view_text(&v, CT_VIEW_PROC, buf, sizeof(buf));
	assert_string_equal(buf, "ipv4     2 gre      47 600 src=10.0.0.1 "
	    "dst=10.0.0.2 src=10.0.0.2 dst=10.0.0.1 [ASSURED] mark=0 use=1");
	ct_view_json(&v, NULL, buf, sizeof(buf));
	assert_string_equal(buf, "{\"family\":\"ipv4\",\"proto\":\"gre\","
	    "\"protonum\":47,\"timeout\":600,\"src\":\"10.0.0.1\","
	    "\"dst\":\"10.0.0.2\",\"reply\":{\"src\":\"10.0.0.2\","
	    "\"dst\":\"10.0.0.1\"},\"mark\":0,\"use\":1,\"flags\":"
	    "[\"ASSURED\"],\"age\":0,\"packets\":0,\"rule\":null}");
	assert_string_equal(ct_view_proto_name(253), "unknown");
	assert_string_equal(ct_view_tcp_state(99), "NONE");
	assert_string_equal(ct_view_tcp_state(CT_VIEW_TCP_ESTABLISHED),
	    "ESTABLISHED");
}

/* Past its deadline (not expired yet): 0 s left, never a wrapped count. */
static void
test_timeout_past(void **state)
{
	struct ct_entry	 e;
	struct ct_view	 v;

	entry(&e, "10.0.0.1", "10.0.0.2", IPPROTO_UDP, 1, 2, 30, 0);
	ct_view_fill(&v, &e, NOW + 31 * 1000);
	assert_int_equal(v.timeout, 0);
	assert_int_equal(v.age, 31);
}

/* Cut output: the whole length back, a terminated prefix in buf. */
static void
test_truncation(void **state)
{
	struct ct_entry	 e;
	struct ct_view	 v;
	char		 whole[CT_VIEW_BUFLEN], cut[16];
	int		 n, style;

	entry(&e, "2001:db8::1", "2001:db8::2", IPPROTO_TCP, 1, 2, 30, 0);
	ct_view_fill(&v, &e, NOW);
	for (style = CT_VIEW_PROC; style <= CT_VIEW_EVENT; style++) {
		n = ct_view_text(&v, style, whole, sizeof(whole));
		assert_int_equal(ct_view_text(&v, style, cut, sizeof(cut)), n);
		assert_int_equal(strlen(cut), sizeof(cut) - 1);
		assert_memory_equal(cut, whole, sizeof(cut) - 1);
		assert_int_equal(ct_view_text(&v, style, NULL, 0), n);
	}
	n = ct_view_json(&v, NULL, whole, sizeof(whole));
	assert_int_equal(ct_view_json(&v, NULL, cut, sizeof(cut)), n);
	assert_int_equal(strlen(cut), sizeof(cut) - 1);
	assert_memory_equal(cut, whole, sizeof(cut) - 1);
	assert_int_equal(ct_view_json(&v, NULL, NULL, 0), n);
}

/* Whatever a name holds, the JSON stays JSON. */
static void
test_json_escapes(void **state)
{
	struct ct_entry	 e;
	struct ct_view	 v;
	char		 buf[CT_VIEW_BUFLEN];

	entry(&e, "10.0.0.1", "10.0.0.2", IPPROTO_UDP, 1, 2, 30, 0);
	ct_view_fill(&v, &e, NOW);
	v.rule_name = "a\"b\\c\n";
	ct_view_json(&v, NULL, buf, sizeof(buf));
	assert_non_null(strstr(buf, ",\"rule\":\"a\\\"b\\\\c\\u000a\"}"));
}

/* With fastpath = yes the bytes show, as the kernel's accounting does. */
static void
test_bytes(void **state)
{
	struct ct_entry	 e;
	struct ct_view	 v;
	char		 buf[CT_VIEW_BUFLEN];

	(void)state;
	entry(&e, "10.0.0.1", "10.0.0.2", IPPROTO_UDP, 5000, 53, 29, 0);
	e.status |= CT_ST_SEEN_REPLY;
	e.packets = 7;
	ct_view_fill(&v, &e, NOW);
	/* no table, or one that keeps none: no bytes */
	ct_view_table(&v, NULL, &e);
	assert_int_equal(v.flags & CT_VIEW_BYTES, 0);
	v.flags |= CT_VIEW_BYTES;
	v.bytes = 123456789012ull;
	ct_view_text(&v, CT_VIEW_PROC, buf, sizeof(buf));
	assert_string_equal(buf, "ipv4     2 udp      17 29 src=10.0.0.1 "
	    "dst=10.0.0.2 sport=5000 dport=53 packets=7 bytes=123456789012 "
	    "src=10.0.0.2 dst=10.0.0.1 sport=53 dport=5000 mark=0 use=1");
	ct_view_json(&v, NULL, buf, sizeof(buf));
	assert_non_null(strstr(buf, ",\"packets\":7,\"bytes\":123456789012,"
	    "\"rule\":null}"));
}

/*
 * An offloaded connection: [OFFLOAD] in place of [ASSURED] in both
 * lines, as the kernel's ct_seq_show() prints one of them; the JSON
 * lists both, as they are both set.
 */
static void
test_offload(void **state)
{
	struct ct_entry	 e;
	struct ct_view	 v;
	char		 buf[CT_VIEW_BUFLEN];

	(void)state;
	entry(&e, "10.0.0.1", "10.0.0.2", IPPROTO_TCP, 41000, 22, 300, 5);
	e.state = CT_TCP_ESTABLISHED;
	e.status |= CT_ST_SEEN_REPLY | CT_ST_ASSURED;
	ct_view_fill(&v, &e, NOW);
	/* no table: no mark */
	ct_view_table(&v, NULL, &e);
	assert_int_equal(v.flags, CT_VIEW_ASSURED);
	v.flags |= CT_VIEW_OFFLOAD;
	ct_view_text(&v, CT_VIEW_PROC, buf, sizeof(buf));
	assert_string_equal(buf, "ipv4     2 tcp      6 300 ESTABLISHED "
	    "src=10.0.0.1 dst=10.0.0.2 sport=41000 dport=22 src=10.0.0.2 "
	    "dst=10.0.0.1 sport=22 dport=41000 [OFFLOAD] mark=0 use=1");
	ct_view_text(&v, CT_VIEW_EVENT, buf, sizeof(buf));
	assert_string_equal(buf, "tcp      6 300 ESTABLISHED "
	    "src=10.0.0.1 dst=10.0.0.2 sport=41000 dport=22 src=10.0.0.2 "
	    "dst=10.0.0.1 sport=22 dport=41000 [OFFLOAD] mark=0");
	ct_view_json(&v, NULL, buf, sizeof(buf));
	assert_non_null(strstr(buf, ",\"flags\":[\"ASSURED\",\"OFFLOAD\"],"));
	/* not assured (never here, but the view may say so): still one */
	v.flags = CT_VIEW_UNREPLIED | CT_VIEW_OFFLOAD;
	ct_view_text(&v, CT_VIEW_EVENT, buf, sizeof(buf));
	assert_non_null(strstr(buf, "dport=22 [UNREPLIED] src=10.0.0.2 "));
	assert_non_null(strstr(buf, "dport=41000 [OFFLOAD] mark=0"));
	ct_view_json(&v, NULL, buf, sizeof(buf));
	assert_non_null(strstr(buf,
	    ",\"flags\":[\"UNREPLIED\",\"OFFLOAD\"],"));
	/* all three */
	v.flags |= CT_VIEW_ASSURED;
	ct_view_json(&v, NULL, buf, sizeof(buf));
	assert_non_null(strstr(buf,
	    ",\"flags\":[\"UNREPLIED\",\"ASSURED\",\"OFFLOAD\"],"));
}

/* The longest view fits CT_VIEW_BUFLEN in every form. */
static void
test_buflen(void **state)
{
	struct ct_entry	 e;
	struct ct_view	 v;
	char		 name[RULE_NAMELEN];

	entry(&e, "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
	    "ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffe", IPPROTO_TCP, 65535,
	    65535, 1000000, 0);
	e.state = CT_TCP_SYN_SENT2;
	e.mark = UINT32_MAX;
	e.packets = UINT32_MAX;
	e.born = 0;
	ct_view_fill(&v, &e, UINT64_MAX / 2);
	v.timeout = UINT32_MAX;
	v.flags = CT_VIEW_UNREPLIED | CT_VIEW_ASSURED | CT_VIEW_BYTES |
	    CT_VIEW_OFFLOAD;
	v.bytes = UINT64_MAX;
	memset(name, '"', sizeof(name) - 1);	/* escaped: twice as long */
	name[sizeof(name) - 1] = '\0';
	v.rule_name = name;
	assert_true(ct_view_text(&v, CT_VIEW_PROC, NULL, 0) < CT_VIEW_BUFLEN);
	assert_true(ct_view_text(&v, CT_VIEW_EVENT, NULL, 0) < CT_VIEW_BUFLEN);
	assert_true(ct_view_json(&v, "\"event\":\"DESTROY\"", NULL, 0) <
	    CT_VIEW_BUFLEN);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_tcp_established),
		cmocka_unit_test(test_udp_unreplied),
		cmocka_unit_test(test_ipv6_icmp),
		cmocka_unit_test(test_other_proto),
		cmocka_unit_test(test_timeout_past),
		cmocka_unit_test(test_truncation),
		cmocka_unit_test(test_json_escapes),
		cmocka_unit_test(test_bytes),
		cmocka_unit_test(test_offload),
		cmocka_unit_test(test_buflen),
	};

	return (cmocka_run_group_tests(tests, NULL, NULL));
}
