/*
 * test_reject.c - cmocka tests for reject.c: the RSTs and unreachables
 * are parsed back with pkt_parse(), and every checksum is checked with
 * the tests' own sum (tests/pktbuild.h), not reject.c's
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

#include "pkt.h"
#include "reject.h"
#include "../pktbuild.h"

#define C4	"192.0.2.10"
#define S4	"198.51.100.20"
#define C6	"2001:db8:1::10"
#define S6	"2001:db8:2::20"

/* ---- building the offending packets ------------------------------------ */

/* IPv4 (with its checksum) or IPv6 header; returns its length */
static size_t
iphdr(uint8_t *b, int v6, const char *src, const char *dst, uint8_t proto,
    size_t l4len)
{
	uint8_t	 s[16], d[16];

	inet_pton(v6 ? AF_INET6 : AF_INET, src, s);
	inet_pton(v6 ? AF_INET6 : AF_INET, dst, d);
	if (!v6) {
		pb_ip4(b, proto, s, d, 0, 0, 0, l4len);
		pb_ip4_csum(b);
		return (20);
	}
	return (pb_ip6(b, proto, s, d, 64, l4len));
}

static size_t
tcp(uint8_t *b, int v6, const char *src, const char *dst, uint16_t sport,
    uint16_t dport, uint32_t seq, uint32_t ack, uint8_t flags,
    size_t paylen)
{
	size_t	 hl = iphdr(b, v6, src, dst, IPPROTO_TCP, 20 + paylen);

	pb_tcp(b + hl, sport, dport, seq, ack, flags, 1000, 0);
	memset(b + hl + 20, 0, paylen);
	return (hl + 20 + paylen);
}

static size_t
udp(uint8_t *b, int v6, const char *src, const char *dst, uint16_t sport,
    uint16_t dport, size_t paylen)
{
	size_t	 hl = iphdr(b, v6, src, dst, IPPROTO_UDP, 8 + paylen);
	uint8_t	*u = b + hl;
	size_t	 i;

	pb_udp(u, sport, dport, paylen);
	for (i = 0; i < paylen; i++)
		u[8 + i] = (uint8_t)i;
	return (hl + 8 + paylen);
}

static size_t
icmp(uint8_t *b, int v6, const char *src, const char *dst, uint8_t type,
    uint8_t code, const uint8_t *data, size_t dlen)
{
	size_t	 hl = iphdr(b, v6, src, dst, v6 ? IPPROTO_ICMPV6 : IPPROTO_ICMP,
	    8 + dlen);

	pb_icmp(b + hl, type, code, 0x1234, 1);	/* echo id, seq */
	if (dlen > 0)
		memcpy(b + hl + 8, data, dlen);
	/* the parser does not check it */
	return (hl + 8 + dlen);
}

static void
parse(struct pkt *p, const uint8_t *b, size_t n)
{
	enum reason	 why = REASON_NONE;

	if (pkt_parse(p, b, n, &why) == -1)
		fail_msg("pkt_parse: %s", reason_name(why));
}

/* ---- checking the answers ----------------------------------------------- */

/* The IP header of the answer: swapped addresses, right length, TTL. */
static size_t
check_ip(const uint8_t *r, size_t n, int v6, const char *src,
    const char *dst, uint8_t proto)
{
	uint8_t	 a[16];

	if (!v6) {
		assert_int_equal(r[0], 0x45);
		assert_int_equal(get16(r + 2), n);
		assert_int_equal(r[8], REJECT_TTL);
		assert_int_equal(r[9], proto);
		assert_int_equal(pb_sum16(r, 20, NULL, 0), 0xffff);
		inet_pton(AF_INET, src, a);
		assert_memory_equal(r + 12, a, 4);
		inet_pton(AF_INET, dst, a);
		assert_memory_equal(r + 16, a, 4);
		return (20);
	}
	assert_int_equal(r[0] >> 4, 6);
	assert_int_equal(get16(r + 4), n - 40);
	assert_int_equal(r[6], proto);
	assert_int_equal(r[7], REJECT_TTL);
	inet_pton(AF_INET6, src, a);
	assert_memory_equal(r + 8, a, 16);
	inet_pton(AF_INET6, dst, a);
	assert_memory_equal(r + 24, a, 16);
	return (40);
}

/* the transport checksum over the pseudo-header sums to 0xffff */
static void
check_l4sum(const uint8_t *r, size_t n, int v6, uint8_t proto)
{
	uint8_t		 ph[40];
	size_t		 hl = v6 ? 40 : 20, l4 = n - hl, phl;

	if (!v6 && proto == IPPROTO_ICMP) {
		assert_int_equal(pb_sum16(r + hl, l4, NULL, 0), 0xffff);
		return;
	}
	memset(ph, 0, sizeof(ph));
	if (!v6) {
		memcpy(ph, r + 12, 8);
		ph[9] = proto;
		put16(ph + 10, (uint16_t)l4);
		phl = 12;
	} else {
		memcpy(ph, r + 8, 32);
		put32(ph + 32, (uint32_t)l4);
		ph[39] = proto;
		phl = 40;
	}
	assert_int_equal(pb_sum16(ph, phl, r + hl, l4), 0xffff);
}

static void
check_rst(int v6)
{
	const char	*c = v6 ? C6 : C4, *s = v6 ? S6 : S4;
	uint8_t		 b[2000], r[REJECT_MAXLEN];
	struct pkt	 p, q;
	size_t		 n, m, hl;

	/* a SYN: seq 0, ACK of seq + 1 */
	n = tcp(b, v6, c, s, 40000, 23, 1000, 0, PKT_TH_SYN, 0);
	parse(&p, b, n);
	m = reject_build(&p, r, sizeof(r));
	assert_int_equal(m, (v6 ? 40 : 20) + 20);
	hl = check_ip(r, m, v6, s, c, IPPROTO_TCP);
	check_l4sum(r, m, v6, IPPROTO_TCP);
	assert_int_equal(get16(r + hl), 23);
	assert_int_equal(get16(r + hl + 2), 40000);
	assert_int_equal(get32(r + hl + 4), 0);
	assert_int_equal(get32(r + hl + 8), 1001);
	assert_int_equal(r[hl + 13], PKT_TH_RST | PKT_TH_ACK);
	assert_int_equal(get16(r + hl + 14), 0);
	/* it parses, as the client's stack will read it */
	parse(&q, r, m);
	assert_int_equal(q.sport, 23);
	assert_int_equal(q.dport, 40000);
	assert_int_equal(q.th_flags, PKT_TH_RST | PKT_TH_ACK);

	/* data with FIN, no ACK: ack = seq + len + 1 */
	n = tcp(b, v6, c, s, 40000, 23, 0xfffffff0u, 0,
	    PKT_TH_FIN | PKT_TH_PUSH, 100);
	parse(&p, b, n);
	m = reject_build(&p, r, sizeof(r));
	check_l4sum(r, m, v6, IPPROTO_TCP);
	assert_int_equal(get32(r + hl + 8), 0xfffffff0u + 100 + 1);
	assert_int_equal(r[hl + 13], PKT_TH_RST | PKT_TH_ACK);

	/* a segment with ACK: seq = its ack, no ACK flag */
	n = tcp(b, v6, c, s, 40001, 80, 5000, 777777, PKT_TH_ACK |
	    PKT_TH_PUSH, 10);
	parse(&p, b, n);
	m = reject_build(&p, r, sizeof(r));
	assert_int_equal(m, (v6 ? 40 : 20) + 20);
	check_l4sum(r, m, v6, IPPROTO_TCP);
	assert_int_equal(get32(r + hl + 4), 777777);
	assert_int_equal(get32(r + hl + 8), 0);
	assert_int_equal(r[hl + 13], PKT_TH_RST);

	/* never a reset for a reset */
	n = tcp(b, v6, c, s, 40001, 80, 5000, 0, PKT_TH_RST, 0);
	parse(&p, b, n);
	assert_int_equal(reject_build(&p, r, sizeof(r)), 0);
	n = tcp(b, v6, c, s, 40001, 80, 5000, 1, PKT_TH_RST | PKT_TH_ACK, 0);
	parse(&p, b, n);
	assert_int_equal(reject_build(&p, r, sizeof(r)), 0);
}

static void
test_rst_ipv4(void **state __attribute__((unused)))
{
	check_rst(0);
}

static void
test_rst_ipv6(void **state __attribute__((unused)))
{
	check_rst(1);
}

static void
check_unreach(int v6, size_t paylen)
{
	const char	*c = v6 ? C6 : C4, *s = v6 ? S6 : S4;
	uint8_t		 b[2000], r[REJECT_MAXLEN];
	struct pkt	 p, q;
	size_t		 n, m, hl, quote, max;

	n = udp(b, v6, c, s, 5353, 53, paylen);
	parse(&p, b, n);
	m = reject_build(&p, r, sizeof(r));
	max = v6 ? REJECT_MAXLEN : REJECT_MAXLEN4;
	hl = v6 ? 40 : 20;
	quote = n < max - hl - 8 ? n : max - hl - 8;
	assert_int_equal(m, hl + 8 + quote);
	assert_true(m <= max);
	check_ip(r, m, v6, s, c, v6 ? IPPROTO_ICMPV6 : IPPROTO_ICMP);
	check_l4sum(r, m, v6, v6 ? IPPROTO_ICMPV6 : IPPROTO_ICMP);
	assert_int_equal(r[hl], v6 ? 1 : 3);
	assert_int_equal(r[hl + 1], v6 ? 4 : 3);
	assert_int_equal(get32(r + hl + 4), 0);
	/* the quote is the packet as it came */
	assert_memory_equal(r + hl + 8, b, quote);
	/* and the client's stack finds its socket from it */
	parse(&q, r, m);
	assert_int_equal(q.is_icmp_error, 1);
	assert_int_equal(q.inner.proto, IPPROTO_UDP);
	assert_int_equal(q.inner.sport, 5353);
	assert_int_equal(q.inner.dport, 53);
	assert_memory_equal(q.inner.src.a8, p.src.a8, 16);
	/* answering it would be an error about an error */
	assert_int_equal(reject_build(&q, r, sizeof(r)), 0);
}

static void
test_unreach_udp(void **state __attribute__((unused)))
{
	check_unreach(0, 4);
	check_unreach(1, 4);
	/* too long to quote whole: cut at 576 / 1280 bytes */
	check_unreach(0, 1400);
	check_unreach(1, 1400);
	/* exactly what fits */
	check_unreach(0, 576 - 28 - 28);
	check_unreach(1, 1280 - 48 - 48);
}

static void
test_unreach_quotes_what_we_have(void **state __attribute__((unused)))
{
	uint8_t		 b[2000], r[REJECT_MAXLEN];
	struct pkt	 p;
	size_t		 n, m;

	/* the queue copies 512 bytes of a long packet: quote those */
	n = udp(b, 1, C6, S6, 5353, 53, 1000);
	parse(&p, b, 512);
	assert_int_equal(p.len, 512);
	m = reject_build(&p, r, sizeof(r));
	assert_int_equal(m, 40 + 8 + 512);
	check_l4sum(r, m, 1, IPPROTO_ICMPV6);
	assert_memory_equal(r + 48, b, 512);
	(void)n;
	/* a buffer without room for the longest answer: nothing */
	n = udp(b, 0, C4, S4, 5353, 53, 4);
	parse(&p, b, n);
	assert_int_equal(reject_build(&p, r, REJECT_MAXLEN - 1), 0);
}

static void
test_icmp(void **state __attribute__((unused)))
{
	uint8_t		 b[2000], r[REJECT_MAXLEN], inner[64];
	struct pkt	 p;
	size_t		 n, m, ni;

	/* an echo request is refused with port unreachable, as REJECT's
	   default */
	n = icmp(b, 0, C4, S4, 8, 0, (const uint8_t *)"abcd", 4);
	parse(&p, b, n);
	m = reject_build(&p, r, sizeof(r));
	assert_int_equal(m, 20 + 8 + n);
	check_l4sum(r, m, 0, IPPROTO_ICMP);
	n = icmp(b, 1, C6, S6, 128, 0, (const uint8_t *)"abcd", 4);
	parse(&p, b, n);
	m = reject_build(&p, r, sizeof(r));
	assert_int_equal(m, 40 + 8 + n);
	check_l4sum(r, m, 1, IPPROTO_ICMPV6);

	/* errors are never answered: v4 unreachable, time exceeded */
	ni = udp(inner, 0, S4, C4, 53, 5353, 4);
	n = icmp(b, 0, C4, S4, 3, 3, inner, ni);
	parse(&p, b, n);
	assert_int_equal(reject_build(&p, r, sizeof(r)), 0);
	n = icmp(b, 0, C4, S4, 11, 0, inner, ni);
	parse(&p, b, n);
	assert_int_equal(reject_build(&p, r, sizeof(r)), 0);
	/* v6: any type below 128, even one without a known layout */
	ni = udp(inner, 1, S6, C6, 53, 5353, 4);
	n = icmp(b, 1, C6, S6, 1, 4, inner, ni);
	parse(&p, b, n);
	assert_int_equal(reject_build(&p, r, sizeof(r)), 0);
	n = icmp(b, 1, C6, S6, 100, 0, NULL, 0);
	parse(&p, b, n);
	assert_int_equal(reject_build(&p, r, sizeof(r)), 0);
}

static void
test_never_answered(void **state __attribute__((unused)))
{
	uint8_t		 b[2000], r[REJECT_MAXLEN];
	struct pkt	 p;
	size_t		 n;

	/* multicast and broadcast destinations */
	n = udp(b, 0, C4, "224.0.0.251", 5353, 5353, 4);
	parse(&p, b, n);
	assert_int_equal(reject_build(&p, r, sizeof(r)), 0);
	n = udp(b, 0, C4, "255.255.255.255", 68, 67, 4);
	parse(&p, b, n);
	assert_int_equal(reject_build(&p, r, sizeof(r)), 0);
	n = udp(b, 1, C6, "ff02::fb", 5353, 5353, 4);
	parse(&p, b, n);
	assert_int_equal(reject_build(&p, r, sizeof(r)), 0);
	/* unspecified and multicast sources */
	n = udp(b, 0, "0.0.0.0", "255.255.255.255", 68, 67, 4);
	parse(&p, b, n);
	assert_int_equal(reject_build(&p, r, sizeof(r)), 0);
	n = tcp(b, 1, "::", S6, 1, 2, 0, 0, PKT_TH_SYN, 0);
	parse(&p, b, n);
	assert_int_equal(reject_build(&p, r, sizeof(r)), 0);
	n = tcp(b, 0, "239.1.1.1", S4, 1, 2, 0, 0, PKT_TH_SYN, 0);
	parse(&p, b, n);
	assert_int_equal(reject_build(&p, r, sizeof(r)), 0);
	n = tcp(b, 0, "127.0.0.1", S4, 1, 2, 0, 0, PKT_TH_SYN, 0);
	parse(&p, b, n);
	assert_int_equal(reject_build(&p, r, sizeof(r)), 0);

	/* a later fragment */
	n = udp(b, 0, C4, S4, 5353, 53, 40);
	b[6] = 0x00;
	b[7] = 0x03;		/* offset 24 bytes */
	b[10] = b[11] = 0;
	put16(b + 10, (uint16_t)~pb_sum16(b, 20, NULL, 0));
	memset(&p, 0, sizeof(p));
	{
		enum reason	 why;

		(void)pkt_parse(&p, b, n, &why);
	}
	assert_int_equal(p.frag, PKT_FRAG_LATER);
	assert_int_equal(reject_build(&p, r, sizeof(r)), 0);
	/* no packet at all */
	memset(&p, 0, sizeof(p));
	assert_int_equal(reject_build(&p, r, sizeof(r)), 0);

	/*
	 * Packets the parser refused (a policy may reject INVALID ones):
	 * an error quoting them could not name a connection (found by
	 * fuzz_packet: a 1-byte quote of an IPv4 header claiming a total
	 * length of 1; an IHL below 5).
	 */
	{
		enum reason	 why;

		n = udp(b, 0, C4, S4, 1001, 53, 1);
		put16(b + 2, 1);
		memset(&p, 0, sizeof(p));
		assert_int_equal(pkt_parse(&p, b, n, &why), -1);
		assert_int_equal(reject_build(&p, r, sizeof(r)), 0);
		n = udp(b, 0, C4, S4, 1001, 53, 1);
		b[0] = 0x44;
		memset(&p, 0, sizeof(p));
		assert_int_equal(pkt_parse(&p, b, n, &why), -1);
		assert_int_equal(reject_build(&p, r, sizeof(r)), 0);
	}
}

/*
 * The memory of answers sent: an answer that comes back through the
 * queue (with the id and header checksum the kernel filled in) is known
 * once, while it is recent, and only with its own length.
 */
static void
test_memory(void **state __attribute__((unused)))
{
	struct reject_memory	 m;
	uint8_t			 b[2000], r[REJECT_MAXLEN], back[REJECT_MAXLEN];
	struct pkt		 p;
	size_t			 n, m4, i;

	memset(&m, 0, sizeof(m));
	n = tcp(b, 0, C4, S4, 40000, 23, 1000, 0, PKT_TH_SYN, 0);
	parse(&p, b, n);
	m4 = reject_build(&p, r, sizeof(r));
	assert_true(m4 >= 20);
	/* nothing sent yet: nothing is ours */
	assert_false(reject_memory_recent(&m, 1000));
	assert_int_equal(reject_memory_match(&m, r, m4, m4, 1000), 0);

	reject_memory_add(&m, r, m4, 1000);
	assert_true(reject_memory_recent(&m, 1000 + REJECT_MEMORY_MS));
	assert_false(reject_memory_recent(&m, 1001 + REJECT_MEMORY_MS));
	memcpy(back, r, m4);
	back[4] = 0xab;			/* id */
	back[10] = 0xcd;		/* header checksum */
	/* another length, or other bytes: not ours */
	assert_int_equal(reject_memory_match(&m, back, m4, m4 + 1, 1500), 0);
	back[20] ^= 1;
	assert_int_equal(reject_memory_match(&m, back, m4, m4, 1500), 0);
	back[20] ^= 1;
	/* too short to be an IP packet */
	assert_int_equal(reject_memory_match(&m, back, 19, m4, 1500), 0);
	/* too late */
	assert_int_equal(reject_memory_match(&m, back, m4, m4,
	    1001 + REJECT_MEMORY_MS), 0);
	/* ours, once */
	assert_int_equal(reject_memory_match(&m, back, m4, m4, 1500), 1);
	assert_int_equal(reject_memory_match(&m, back, m4, m4, 1500), 0);

	/* IPv6 has no id to skip: every byte counts */
	n = udp(b, 1, C6, S6, 5353, 53, 10);
	parse(&p, b, n);
	m4 = reject_build(&p, r, sizeof(r));
	reject_memory_add(&m, r, m4, 2000);
	memcpy(back, r, m4);
	back[4] ^= 1;
	assert_int_equal(reject_memory_match(&m, back, m4, m4, 2000), 0);
	back[4] ^= 1;
	assert_int_equal(reject_memory_match(&m, back, m4, m4, 2000), 1);

	/* a ring: the oldest answers give way to new ones */
	for (i = 0; i < REJECT_MEMORY + 1; i++) {
		r[20] = (uint8_t)i;
		reject_memory_add(&m, r, m4, 3000);
	}
	r[20] = 0;
	assert_int_equal(reject_memory_match(&m, r, m4, m4, 3000), 0);
	r[20] = REJECT_MEMORY;
	assert_int_equal(reject_memory_match(&m, r, m4, m4, 3000), 1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rst_ipv4),
		cmocka_unit_test(test_rst_ipv6),
		cmocka_unit_test(test_unreach_udp),
		cmocka_unit_test(test_unreach_quotes_what_we_have),
		cmocka_unit_test(test_icmp),
		cmocka_unit_test(test_never_answered),
		cmocka_unit_test(test_memory),
	};

	return (cmocka_run_group_tests(tests, NULL, NULL));
}
