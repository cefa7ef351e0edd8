/*
 * test_csum.c - checksums of TCP, UDP, ICMP, ICMPv6 and the IPv4 header
 *
 * Copyright (C) 2026 The nfqspid authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * The packets come from tests/pktbuild.h, whose checksum is RFC 1071's
 * plain loop; each case flips one byte to see the check fail, so that none of
 * them can pass by checking nothing.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <netinet/in.h>

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "csum.h"
#include "pkt.h"
#include "../pktbuild.h"

/* csum_verify() of a heap copy of exactly len bytes */
static int
verify(const uint8_t *b, size_t len, unsigned what, enum reason *why)
{
	struct pkt	 p;
	uint8_t		*c = malloc(len);
	int		 rv;

	assert_non_null(c);
	memcpy(c, b, len);
	*why = REASON_NONE;
	assert_int_equal(pkt_parse(&p, c, len, why), 0);
	rv = csum_verify(&p, what, why);
	free(c);
	return (rv);
}

/* RFC 1071 section 3's example */
static void
test_rfc1071(void **state)
{
	static const uint8_t b[] = { 0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5,
	    0xf6, 0xf7 };

	(void)state;
	assert_int_equal(csum_fold(csum_add(0, b, sizeof(b))),
	    (uint16_t)~0xddf2);
	/* in two pieces, the first even */
	assert_int_equal(csum_fold(csum_add(csum_add(0, b, 2), b + 2, 6)),
	    (uint16_t)~0xddf2);
	assert_int_equal(csum_fold(csum_add(0, b, 3)),
	    pb_csum(0, b, 3));
}

static void
good_and_bad(int v6, uint8_t proto)
{
	uint8_t		 b[2048];
	enum reason	 why;
	size_t		 len, plen;

	for (plen = 0; plen < 40; plen += 13) {	/* odd lengths too */
		len = pb_pkt(b, v6, proto, plen);
		assert_int_equal(verify(b, len, CSUM_IP | CSUM_L4, &why), 0);
		b[len - 1] ^= 0x40;
		assert_int_equal(verify(b, len, CSUM_IP | CSUM_L4, &why), -1);
		assert_int_equal(why, REASON_L4_CHECKSUM);
		/* not asked: not checked */
		assert_int_equal(verify(b, len, CSUM_IP, &why), 0);
	}
}

static void
test_tcp(void **state)
{
	(void)state;
	good_and_bad(0, IPPROTO_TCP);
	good_and_bad(1, IPPROTO_TCP);
}

static void
test_udp(void **state)
{
	(void)state;
	good_and_bad(0, IPPROTO_UDP);
	good_and_bad(1, IPPROTO_UDP);
}

static void
test_icmp(void **state)
{
	(void)state;
	good_and_bad(0, IPPROTO_ICMP);
	good_and_bad(1, IPPROTO_ICMPV6);
}

/* UDP checksum 0: none sent over IPv4 (RFC 768), bad over IPv6 (RFC
   8200 8.1) */
static void
test_udp_zero(void **state)
{
	uint8_t		 b[256];
	enum reason	 why;
	size_t		 len;

	(void)state;
	len = pb_pkt(b, 0, IPPROTO_UDP, 10);
	b[26] = b[27] = 0;
	assert_int_equal(verify(b, len, CSUM_IP | CSUM_L4, &why), 0);
	len = pb_pkt(b, 1, IPPROTO_UDP, 10);
	b[46] = b[47] = 0;
	assert_int_equal(verify(b, len, CSUM_IP | CSUM_L4, &why), -1);
	assert_int_equal(why, REASON_L4_CHECKSUM);
}

/* The ICMPv6 checksum covers the pseudo header, ICMP's does not. */
static void
test_icmp6_pseudo(void **state)
{
	uint8_t		 b[256];
	enum reason	 why;
	size_t		 len;

	(void)state;
	len = pb_pkt(b, 1, IPPROTO_ICMPV6, 8);
	b[8 + 15] ^= 1;	/* the source, which the pseudo header holds */
	assert_int_equal(verify(b, len, CSUM_L4, &why), -1);
	assert_int_equal(why, REASON_L4_CHECKSUM);
	len = pb_pkt(b, 0, IPPROTO_ICMP, 8);
	b[15] ^= 1;	/* the source: not covered by ICMP's */
	b[10] = b[11] = 0;
	put16(b + 10, pb_csum(0, b, 20));
	assert_int_equal(verify(b, len, CSUM_IP | CSUM_L4, &why), 0);
}

static void
test_ip_header(void **state)
{
	uint8_t		 b[256];
	enum reason	 why;
	size_t		 len;

	(void)state;
	len = pb_pkt(b, 0, IPPROTO_UDP, 10);
	b[10] ^= 0x10;
	assert_int_equal(verify(b, len, CSUM_IP | CSUM_L4, &why), -1);
	assert_int_equal(why, REASON_IP_CHECKSUM);
	assert_int_equal(verify(b, len, CSUM_L4, &why), 0);
}

/* What cannot be checked is not: a fragment, a cut copy, a routing
   header with segments left. */
static void
test_not_checked(void **state)
{
	uint8_t		 b[256], l4[256];
	enum reason	 why;
	size_t		 len, n;

	(void)state;
	n = pb_l4(l4, 0, IPPROTO_UDP, 40);
	l4[n - 1] ^= 1;
	len = pb_ip4pkt(b, IPPROTO_UDP, 9, 0x2000, l4, 24);	/* first */
	assert_int_equal(verify(b, len, CSUM_IP | CSUM_L4, &why), 0);
	len = pb_ip4pkt(b, IPPROTO_UDP, 9, 0, l4, n);
	assert_int_equal(verify(b, len, CSUM_IP | CSUM_L4, &why), -1);
	/* the last byte missing: the copy was cut */
	assert_int_equal(verify(b, len - 1, CSUM_IP | CSUM_L4, &why), 0);

	/* IPv6, routing header type 2 with one segment left */
	n = pb_l4(l4 + 24, 1, IPPROTO_UDP, 8);
	memset(l4, 0, 24);
	l4[0] = IPPROTO_UDP;
	l4[1] = 2;
	l4[2] = 2;
	l4[3] = 1;
	l4[24 + n - 1] ^= 1;
	len = pb_ip6pkt(b, IPPROTO_ROUTING, -1, 0, l4, 24 + n);
	assert_int_equal(verify(b, len, CSUM_L4, &why), 0);
	l4[3] = 0;	/* none left: the destination is final */
	len = pb_ip6pkt(b, IPPROTO_ROUTING, -1, 0, l4, 24 + n);
	assert_int_equal(verify(b, len, CSUM_L4, &why), -1);
}

/* A routing header with segments left behind an authentication header
   (RFC 4302: its length counts 4-byte words, less 2) is found: not
   checked; none left, the UDP checksum is. */
static void
test_routed_after_ah(void **state)
{
	uint8_t		 b[256], l4[256];
	enum reason	 why;
	size_t		 len, n;

	(void)state;
	memset(l4, 0, 48);
	l4[0] = IPPROTO_ROUTING;	/* AH: 24 bytes, a 12-byte ICV */
	l4[1] = 4;
	l4[24] = IPPROTO_UDP;		/* routing type 2, 24 bytes */
	l4[25] = 2;
	l4[26] = 2;
	l4[27] = 1;
	n = pb_l4(l4 + 48, 1, IPPROTO_UDP, 8);
	l4[48 + n - 1] ^= 1;
	len = pb_ip6pkt(b, IPPROTO_AH, -1, 0, l4, 48 + n);
	assert_int_equal(verify(b, len, CSUM_L4, &why), 0);
	l4[27] = 0;
	len = pb_ip6pkt(b, IPPROTO_AH, -1, 0, l4, 48 + n);
	assert_int_equal(verify(b, len, CSUM_L4, &why), -1);
	assert_int_equal(why, REASON_L4_CHECKSUM);
}

/* Only what the kernel's trackers check is checked: no checksum of
   ESP's or GRE's, nor of ICMP's number over IPv6 or ICMPv6's over
   IPv4, which are no ICMP there.  The payload's bytes are anything. */
static void
test_other_protocols(void **state)
{
	static const struct {
		int	 v6;
		uint8_t	 proto;
	} c[] = {
		{ 0, IPPROTO_ESP }, { 1, IPPROTO_ESP }, { 0, IPPROTO_GRE },
		{ 1, IPPROTO_ICMP }, { 0, IPPROTO_ICMPV6 }
	};
	uint8_t		 b[256], l4[64];
	enum reason	 why;
	size_t		 i, len;

	(void)state;
	for (i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
		memset(l4, 0xa5, sizeof(l4));
		len = c[i].v6 ? pb_ip6pkt(b, c[i].proto, -1, 0, l4, 24) :
		    pb_ip4pkt(b, c[i].proto, 1, 0, l4, 24);
		assert_int_equal(verify(b, len, CSUM_IP | CSUM_L4, &why), 0);
		assert_int_equal(why, REASON_NONE);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rfc1071),
		cmocka_unit_test(test_tcp),
		cmocka_unit_test(test_udp),
		cmocka_unit_test(test_icmp),
		cmocka_unit_test(test_udp_zero),
		cmocka_unit_test(test_icmp6_pseudo),
		cmocka_unit_test(test_ip_header),
		cmocka_unit_test(test_not_checked),
		cmocka_unit_test(test_routed_after_ah),
		cmocka_unit_test(test_other_protocols),
	};

	return (cmocka_run_group_tests(tests, NULL, NULL));
}
