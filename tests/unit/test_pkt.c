/*
 * test_pkt.c - the packet parser against valid, malformed and cut packets
 *
 * Copyright (C) 2026 The nfqspid authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * Packets are built byte by byte here, so every expectation below comes
 * from the RFCs, not from the parser.  Every buffer handed to pkt_parse()
 * is a heap copy of exactly its length: under ASan or valgrind, a read
 * one byte past the end fails the test.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <netinet/in.h>

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "pkt.h"
#include "../pktbuild.h"

#ifndef TEST_SRCDIR
#define TEST_SRCDIR "."
#endif

#define MAXPKT	2048

static const uint8_t A4[4] = { 192, 0, 2, 1 };
static const uint8_t B4[4] = { 198, 51, 100, 2 };
static const uint8_t A6[16] = { 0x20, 0x01, 0x0d, 0xb8, [15] = 1 };
static const uint8_t B6[16] = { 0x20, 0x01, 0x0d, 0xb8, [15] = 2 };

/* ---- builders ----------------------------------------------------------- */

/* TCP header with options (padded by the caller to a multiple of 4) */
static size_t
tcp(uint8_t *b, unsigned sp, unsigned dp, uint32_t seq, uint32_t ack,
    uint8_t flags, const uint8_t *opt, size_t optlen, size_t paylen)
{
	size_t	 hl = pb_tcp(b, (uint16_t)sp, (uint16_t)dp, seq, ack, flags,
	    64240, optlen);

	if (optlen)
		memcpy(b + 20, opt, optlen);
	memset(b + hl, 'x', paylen);
	return (hl + paylen);
}

static size_t
udp(uint8_t *b, unsigned sp, unsigned dp, size_t paylen)
{
	pb_udp(b, (uint16_t)sp, (uint16_t)dp, paylen);
	memset(b + 8, 'u', paylen);
	return (8 + paylen);
}

static size_t
icmp(uint8_t *b, uint8_t type, uint8_t code, unsigned id, unsigned seq,
    const uint8_t *pl, size_t pllen)
{
	pb_icmp(b, type, code, (uint16_t)id, (uint16_t)seq);
	if (pllen)
		memcpy(b + 8, pl, pllen);
	return (8 + pllen);
}

/* IPv4 header (with optlen bytes of NOP options), fragment field ff */
static size_t
ip4x(uint8_t *b, uint8_t proto, unsigned ff, size_t optlen,
    const uint8_t *l4, size_t l4len)
{
	size_t	 hl = pb_ip4(b, proto, A4, B4, optlen, 0x1234, (uint16_t)ff,
	    l4len);

	memcpy(b + hl, l4, l4len);
	return (hl + l4len);
}

static size_t
ip4(uint8_t *b, uint8_t proto, const uint8_t *l4, size_t l4len)
{
	return (ip4x(b, proto, 0, 0, l4, l4len));
}

/* IPv6 header, then ext (a built chain) whose first header is nh */
static size_t
ip6(uint8_t *b, uint8_t nh, const uint8_t *ext, size_t extlen,
    const uint8_t *l4, size_t l4len)
{
	pb_ip6(b, nh, A6, B6, 63, extlen + l4len);
	if (extlen)
		memcpy(b + 40, ext, extlen);
	if (l4len)
		memcpy(b + 40 + extlen, l4, l4len);
	return (40 + extlen + l4len);
}

/* An options-type extension header of (units + 1) * 8 bytes. */
static size_t
ext(uint8_t *b, uint8_t next, uint8_t units)
{
	size_t	 n = ((size_t)units + 1) * 8;

	memset(b, 0, n);	/* Pad1 options */
	b[0] = next;
	b[1] = units;
	return (n);
}

static size_t
ext_frag(uint8_t *b, uint8_t next, unsigned off8, int more)
{
	memset(b, 0, 8);
	b[0] = next;
	put16(b + 2, (off8 << 3) | (more ? 1 : 0));
	put32(b + 4, 0xabcd);
	return (8);
}

static size_t
ext_routing(uint8_t *b, uint8_t next, uint8_t type, uint8_t segleft)
{
	size_t	 n = ext(b, next, 2);

	b[2] = type;
	b[3] = segleft;
	return (n);
}

/* ---- parse helpers ------------------------------------------------------ */

/* Parse a heap copy of exactly len bytes. */
static int
parse(struct pkt *p, const uint8_t *b, size_t len, enum reason *why)
{
	uint8_t	*copy;
	int	 rv;

	copy = malloc(len ? len : 1);
	assert_non_null(copy);
	memcpy(copy, b, len);
	rv = pkt_parse(p, copy, len, why);
	free(copy);
	/* p->data dangles now; callers only look at copied fields */
	p->data = NULL;
	return (rv);
}

/* ---- the table ---------------------------------------------------------- */

struct pcase {
	const char	*name;
	size_t		(*build)(uint8_t *);
	int		 rv;
	enum reason	 why;
	uint8_t		 family;
	uint8_t		 proto;
	uint8_t		 frag;
	uint16_t	 sport, dport;
	uint16_t	 l4off;		/* checked when rv == 0 */
	uint32_t	 paylen;	/* checked when rv == 0 */
};

static const uint8_t syn_opts[] = {
	2, 4, 0x05, 0xb4,		/* MSS 1460 */
	4, 2,				/* SACK permitted */
	8, 10, 0, 0, 0, 1, 0, 0, 0, 0,	/* timestamps */
	1,				/* NOP */
	3, 3, 7				/* window scale 7 */
};

static size_t
b4_tcp_syn(uint8_t *b)
{
	uint8_t	 l4[64];
	size_t	 n = tcp(l4, 41000, 22, 1000, 0, PKT_TH_SYN, syn_opts,
	    sizeof(syn_opts), 0);

	return (ip4(b, IPPROTO_TCP, l4, n));
}

static const uint8_t sack_opts[] = {
	1, 1, 5, 18,
	0, 0, 0x10, 0, 0, 0, 0x20, 0,	/* 4096-8192 */
	0, 0, 0x30, 0, 0, 0, 0x40, 0,	/* 12288-16384 */
	1, 1, 1, 1
};

static size_t
b4_tcp_sack_data(uint8_t *b)
{
	uint8_t	 l4[128];
	size_t	 n = tcp(l4, 41000, 22, 5000, 7000, PKT_TH_ACK | PKT_TH_PUSH,
	    sack_opts, sizeof(sack_opts), 10);

	return (ip4(b, IPPROTO_TCP, l4, n));
}

static size_t
b4_tcp_ipopts(uint8_t *b)
{
	uint8_t	 l4[64];
	size_t	 n = tcp(l4, 1, 2, 0, 0, PKT_TH_SYN, NULL, 0, 3);

	return (ip4x(b, IPPROTO_TCP, 0, 8, l4, n));
}

static size_t
b4_udp(uint8_t *b)
{
	uint8_t	 l4[64];
	size_t	 n = udp(l4, 5353, 53, 12);

	return (ip4(b, IPPROTO_UDP, l4, n));
}

/* UDP length shorter than the IP payload: trailing bytes, trimmed */
static size_t
b4_udp_short_ulen(uint8_t *b)
{
	uint8_t	 l4[64];
	size_t	 n = udp(l4, 5353, 53, 12);

	put16(l4 + 4, 8 + 4);
	return (ip4(b, IPPROTO_UDP, l4, n));
}

static size_t
b4_icmp_echo(uint8_t *b)
{
	uint8_t	 l4[64];
	size_t	 n = icmp(l4, 8, 0, 0x4242, 1, (const uint8_t *)"ping", 4);

	return (ip4(b, IPPROTO_ICMP, l4, n));
}

static size_t
b4_icmp_echo_reply(uint8_t *b)
{
	uint8_t	 l4[64];
	size_t	 n = icmp(l4, 0, 0, 0x4242, 1, NULL, 0);

	return (ip4(b, IPPROTO_ICMP, l4, n));
}

/* what 198.51.100.2 sent to 192.0.2.1, quoted by an unreachable */
static size_t
quote4(uint8_t *b, uint8_t proto, size_t keep)
{
	uint8_t	 l4[64], pkt[128];
	size_t	 n;

	switch (proto) {
	case IPPROTO_TCP:
		n = tcp(l4, 22, 41000, 0x01020304, 0, PKT_TH_ACK, NULL, 0, 0);
		break;
	case IPPROTO_UDP:
		n = udp(l4, 53, 5353, 20);
		break;
	default:
		n = icmp(l4, 8, 0, 0x777, 9, NULL, 0);
		break;
	}
	n = ip4(pkt, proto, l4, n);
	memcpy(pkt + 12, B4, 4);
	memcpy(pkt + 16, A4, 4);
	if (keep > n)
		keep = n;
	memcpy(b, pkt, keep);
	return (keep);
}

static size_t
b4_unreach(uint8_t *b, uint8_t type, uint8_t proto, size_t keep)
{
	uint8_t	 q[128], l4[160];
	size_t	 qn = quote4(q, proto, keep), n;

	n = icmp(l4, type, 3, 0, 0, q, qn);
	return (ip4(b, IPPROTO_ICMP, l4, n));
}

static size_t b4_unreach_udp(uint8_t *b)
	{ return (b4_unreach(b, 3, IPPROTO_UDP, 28)); }
static size_t b4_unreach_tcp_full(uint8_t *b)
	{ return (b4_unreach(b, 3, IPPROTO_TCP, 200)); }
static size_t b4_timex_icmp(uint8_t *b)
	{ return (b4_unreach(b, 11, IPPROTO_ICMP, 28)); }
static size_t b4_unreach_short(uint8_t *b)
	{ return (b4_unreach(b, 3, IPPROTO_UDP, 24)); }
static size_t b4_unreach_noip(uint8_t *b)
	{ return (b4_unreach(b, 3, IPPROTO_UDP, 12)); }

static size_t
b4_unreach_of_unreach(uint8_t *b)
{
	uint8_t	 inner[160], l4[200];
	size_t	 n = b4_unreach(inner, 3, IPPROTO_UDP, 28);

	n = icmp(l4, 3, 1, 0, 0, inner, 28);
	return (ip4(b, IPPROTO_ICMP, l4, n));
}

static size_t
b4_unreach_quotes_v6(uint8_t *b)
{
	uint8_t	 q[128], l4[200], u[16];
	size_t	 n = ip6(q, IPPROTO_UDP, NULL, 0, u, udp(u, 1, 2, 0));

	n = icmp(l4, 3, 3, 0, 0, q, n);
	return (ip4(b, IPPROTO_ICMP, l4, n));
}

static size_t
b4_unreach_bad_ihl(uint8_t *b)
{
	size_t	 n = b4_unreach(b, 3, IPPROTO_UDP, 28);

	b[28] = 0x43;	/* quoted header length 12 */
	return (n);
}

static size_t
b4_gre(uint8_t *b)
{
	uint8_t	 l4[8] = { 0, 0, 0x08, 0x00 };

	return (ip4(b, 47, l4, 4));
}

/* malformed IPv4 */
static size_t
b4_version5(uint8_t *b)
{
	size_t	 n = b4_udp(b);

	b[0] = 0x55;
	return (n);
}

static size_t
b4_ihl4(uint8_t *b)
{
	size_t	 n = b4_udp(b);

	b[0] = 0x44;
	return (n);
}

static size_t
b4_totlen_below_ihl(uint8_t *b)
{
	size_t	 n = b4_udp(b);

	put16(b + 2, 19);
	return (n);
}

static size_t
b4_totlen_below_tcp(uint8_t *b)
{
	size_t	 n = b4_tcp_syn(b);

	put16(b + 2, 30);
	return (n);
}

static size_t
b4_tiny(uint8_t *b)
{
	b4_udp(b);
	return (10);
}

static size_t
b4_doff4(uint8_t *b)
{
	size_t	 n = b4_tcp_syn(b);

	b[20 + 12] = 0x40;
	return (n);
}

static size_t
b4_doff15(uint8_t *b)
{
	size_t	 n = b4_tcp_syn(b);

	b[20 + 12] = 0xf0;	/* 60 bytes; the packet has 40 + 20 */
	return (n);
}

static size_t
b4_udp_ulen7(uint8_t *b)
{
	size_t	 n = b4_udp(b);

	put16(b + 24, 7);
	return (n);
}

static size_t
b4_udp_ulen_long(uint8_t *b)
{
	size_t	 n = b4_udp(b);

	put16(b + 24, 21);	/* IP payload is 20 */
	return (n);
}

/* TCP options: each malformed in its own way */
static size_t
b4_opts(uint8_t *b, const uint8_t *opt, size_t optlen)
{
	uint8_t	 l4[80];
	size_t	 n = tcp(l4, 41000, 22, 1, 0, PKT_TH_SYN, opt, optlen, 0);

	return (ip4(b, IPPROTO_TCP, l4, n));
}

static const uint8_t o_len0[] = { 2, 0, 1, 1 };
static const uint8_t o_len1[] = { 30, 1, 1, 1 };
static const uint8_t o_past[] = { 1, 1, 30, 3 };
static const uint8_t o_nolen[] = { 1, 1, 1, 30 };
static const uint8_t o_mss3[] = { 2, 3, 5, 0 };
static const uint8_t o_ws4[] = { 3, 4, 7, 0 };
static const uint8_t o_sackperm3[] = { 4, 3, 0, 0 };
static const uint8_t o_sack9[] = { 5, 9, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0 };
static const uint8_t o_ts8[] = { 8, 8, 0, 0, 0, 0, 0, 0 };
static const uint8_t o_eol_junk[] = { 1, 0, 0xff, 0xff };
static const uint8_t o_unknown[] = { 30, 4, 0xde, 0xad };

static size_t b4_o_len0(uint8_t *b)
	{ return (b4_opts(b, o_len0, sizeof(o_len0))); }
static size_t b4_o_len1(uint8_t *b)
	{ return (b4_opts(b, o_len1, sizeof(o_len1))); }
static size_t b4_o_past(uint8_t *b)
	{ return (b4_opts(b, o_past, sizeof(o_past))); }
static size_t b4_o_nolen(uint8_t *b)
	{ return (b4_opts(b, o_nolen, sizeof(o_nolen))); }
static size_t b4_o_mss3(uint8_t *b)
	{ return (b4_opts(b, o_mss3, sizeof(o_mss3))); }
static size_t b4_o_ws4(uint8_t *b)
	{ return (b4_opts(b, o_ws4, sizeof(o_ws4))); }
static size_t b4_o_sackperm3(uint8_t *b)
	{ return (b4_opts(b, o_sackperm3, sizeof(o_sackperm3))); }
static size_t b4_o_sack9(uint8_t *b)
	{ return (b4_opts(b, o_sack9, sizeof(o_sack9))); }
static size_t b4_o_ts8(uint8_t *b)
	{ return (b4_opts(b, o_ts8, sizeof(o_ts8))); }
static size_t b4_o_eol_junk(uint8_t *b)
	{ return (b4_opts(b, o_eol_junk, sizeof(o_eol_junk))); }
static size_t b4_o_unknown(uint8_t *b)
	{ return (b4_opts(b, o_unknown, sizeof(o_unknown))); }

/* IPv4 fragments */
static size_t
b4_frag_first(uint8_t *b)
{
	uint8_t	 l4[64];
	size_t	 n = tcp(l4, 41000, 22, 1, 0, PKT_TH_ACK, NULL, 0, 4);

	return (ip4x(b, IPPROTO_TCP, 0x2000, 0, l4, n));
}

/* the first fragment holds 16 of the 20 TCP header bytes */
static size_t
b4_frag_split_tcp(uint8_t *b)
{
	uint8_t	 l4[64];

	tcp(l4, 41000, 22, 1, 0, PKT_TH_SYN, NULL, 0, 0);
	return (ip4x(b, IPPROTO_TCP, 0x2000, 0, l4, 16));
}

/* 20-byte header, options in the next fragment */
static size_t
b4_frag_split_tcpopts(uint8_t *b)
{
	uint8_t	 l4[64];

	tcp(l4, 41000, 22, 1, 0, PKT_TH_SYN, syn_opts, sizeof(syn_opts), 0);
	return (ip4x(b, IPPROTO_TCP, 0x2000, 0, l4, 24));
}

static size_t
b4_frag_later(uint8_t *b)
{
	uint8_t	 l4[64];

	memset(l4, 'z', 24);
	return (ip4x(b, IPPROTO_TCP, 185, 0, l4, 24));
}

static size_t
b4_frag_off1_tcp(uint8_t *b)
{
	uint8_t	 l4[64];

	memset(l4, 0, 16);
	return (ip4x(b, IPPROTO_TCP, 1, 0, l4, 16));
}

static size_t
b4_frag_off1_udp(uint8_t *b)
{
	uint8_t	 l4[64];

	memset(l4, 0, 16);
	return (ip4x(b, IPPROTO_UDP, 1, 0, l4, 16));
}

static size_t
b4_frag_pod(uint8_t *b)
{
	uint8_t	 l4[200];

	memset(l4, 0, 100);
	return (ip4x(b, IPPROTO_ICMP, 8189, 0, l4, 100));
}

/* first fragment of a 1000-byte UDP datagram */
static size_t
b4_frag_first_udp(uint8_t *b)
{
	uint8_t	 l4[64];
	size_t	 n = udp(l4, 5353, 53, 24);

	put16(l4 + 4, 1000);
	return (ip4x(b, IPPROTO_UDP, 0x2000, 0, l4, n));
}

static size_t
b4_frag_df(uint8_t *b)
{
	uint8_t	 l4[64];
	size_t	 n = udp(l4, 5353, 53, 4);

	return (ip4x(b, IPPROTO_UDP, 0x4000, 0, l4, n));
}

/* IPv6 */
static size_t
b6_tcp_syn(uint8_t *b)
{
	uint8_t	 l4[64];
	size_t	 n = tcp(l4, 41000, 443, 77, 0, PKT_TH_SYN, syn_opts,
	    sizeof(syn_opts), 0);

	return (ip6(b, IPPROTO_TCP, NULL, 0, l4, n));
}

static size_t
b6_udp(uint8_t *b)
{
	uint8_t	 l4[64];
	size_t	 n = udp(l4, 546, 547, 30);

	return (ip6(b, IPPROTO_UDP, NULL, 0, l4, n));
}

static size_t
b6_echo(uint8_t *b)
{
	uint8_t	 l4[64];
	size_t	 n = icmp(l4, 128, 0, 0x6666, 3, (const uint8_t *)"ping6", 5);

	return (ip6(b, IPPROTO_ICMPV6, NULL, 0, l4, n));
}

static size_t
b6_echo_reply(uint8_t *b)
{
	uint8_t	 l4[64];
	size_t	 n = icmp(l4, 129, 0, 0x6666, 3, NULL, 0);

	return (ip6(b, IPPROTO_ICMPV6, NULL, 0, l4, n));
}

static size_t
b6_nonext(uint8_t *b)
{
	return (ip6(b, 59, NULL, 0, NULL, 0));
}

/* hop-by-hop, destination options, routing (type 2), AH, then TCP */
static size_t
b6_chain(uint8_t *b)
{
	uint8_t	 e[128], l4[64];
	size_t	 n = 0, m;

	n += ext(e + n, IPPROTO_DSTOPTS, 0);
	n += ext(e + n, IPPROTO_ROUTING, 1);
	n += ext_routing(e + n, IPPROTO_AH, 2, 1);
	memset(e + n, 0, 24);		/* AH: (4 + 2) * 4 = 24 bytes */
	e[n] = IPPROTO_TCP;
	e[n + 1] = 4;
	n += 24;
	m = tcp(l4, 1234, 80, 9, 0, PKT_TH_SYN, NULL, 0, 0);
	return (ip6(b, IPPROTO_HOPOPTS, e, n, l4, m));
}

static size_t
b6_hbh_second(uint8_t *b)
{
	uint8_t	 e[64], l4[64];
	size_t	 n = 0, m;

	n += ext(e + n, IPPROTO_HOPOPTS, 0);
	n += ext(e + n, IPPROTO_UDP, 0);
	m = udp(l4, 1, 2, 0);
	return (ip6(b, IPPROTO_DSTOPTS, e, n, l4, m));
}

static size_t
b6_rh0(uint8_t *b, uint8_t segleft)
{
	uint8_t	 e[64], l4[64];
	size_t	 n = ext_routing(e, IPPROTO_UDP, 0, segleft), m;

	m = udp(l4, 1, 2, 0);
	return (ip6(b, IPPROTO_ROUTING, e, n, l4, m));
}

static size_t b6_rh0_active(uint8_t *b) { return (b6_rh0(b, 1)); }
static size_t b6_rh0_done(uint8_t *b) { return (b6_rh0(b, 0)); }

static size_t
b6_dst_chain(uint8_t *b, int count)
{
	uint8_t	 e[512], l4[64];
	size_t	 n = 0, m;
	int	 i;

	for (i = 0; i < count; i++)
		n += ext(e + n, i == count - 1 ? IPPROTO_UDP :
		    IPPROTO_DSTOPTS, 0);
	m = udp(l4, 7, 8, 0);
	return (ip6(b, IPPROTO_DSTOPTS, e, n, l4, m));
}

static size_t b6_chain8(uint8_t *b) { return (b6_dst_chain(b, 8)); }
static size_t b6_chain9(uint8_t *b) { return (b6_dst_chain(b, 9)); }
static size_t b6_chain40(uint8_t *b) { return (b6_dst_chain(b, 40)); }

/* a destination options header claiming 255 units (2048 bytes) */
static size_t
b6_ext_past_claim(uint8_t *b)
{
	size_t	 n = b6_dst_chain(b, 1);

	b[41] = 255;
	return (n);
}

/* TCP, but payload length 0 */
static size_t
b6_plen0_tcp(uint8_t *b)
{
	size_t	 n = b6_tcp_syn(b);

	put16(b + 4, 0);
	return (n);
}

static size_t
b6_frag(uint8_t *b, uint8_t nh, unsigned off8, int more, size_t l4len)
{
	uint8_t	 e[16], l4[256];

	ext_frag(e, nh, off8, more);
	memset(l4, 'f', l4len);
	if (off8 == 0 && nh == IPPROTO_UDP)
		udp(l4, 5000, 53, l4len - 8);
	if (off8 == 0 && nh == IPPROTO_TCP)
		tcp(l4, 5000, 80, 1, 0, PKT_TH_SYN, NULL, 0, l4len - 20);
	if (off8 == 0 && nh == IPPROTO_UDP && more)
		put16(l4 + 4, 3000);	/* the whole datagram */
	return (ip6(b, IPPROTO_FRAGMENT, e, 8, l4, l4len));
}

static size_t b6_frag_first(uint8_t *b)
	{ return (b6_frag(b, IPPROTO_UDP, 0, 1, 32)); }
static size_t b6_frag_first_odd(uint8_t *b)
	{ return (b6_frag(b, IPPROTO_UDP, 0, 1, 33)); }
static size_t b6_frag_later(uint8_t *b)
	{ return (b6_frag(b, IPPROTO_UDP, 4, 1, 32)); }
static size_t b6_frag_last(uint8_t *b)
	{ return (b6_frag(b, IPPROTO_UDP, 4, 0, 13)); }
static size_t b6_frag_atomic(uint8_t *b)
	{ return (b6_frag(b, IPPROTO_UDP, 0, 0, 13)); }
static size_t b6_frag_off1_tcp(uint8_t *b)
	{ return (b6_frag(b, IPPROTO_TCP, 1, 1, 16)); }
static size_t b6_frag_pod(uint8_t *b)
	{ return (b6_frag(b, IPPROTO_UDP, 8190, 0, 100)); }

/* the first fragment stops 8 bytes into the TCP header */
static size_t
b6_frag_split_tcp(uint8_t *b)
{
	uint8_t	 e[16], l4[64];

	ext_frag(e, IPPROTO_TCP, 0, 1);
	tcp(l4, 5000, 22, 1, 0, PKT_TH_SYN, NULL, 0, 0);
	return (ip6(b, IPPROTO_FRAGMENT, e, 8, l4, 8));
}

/* the first fragment does not even hold the header chain (RFC 7112) */
static size_t
b6_frag_split_chain(uint8_t *b)
{
	uint8_t	 e[64], l4[1] = { 0 };	/* no transport bytes */
	size_t	 n;

	n = ext_frag(e, IPPROTO_DSTOPTS, 0, 1);
	n += ext(e + n, IPPROTO_UDP, 3);	/* 32 bytes */
	return (ip6(b, IPPROTO_FRAGMENT, e, 16, l4, 0));
}

static size_t
b6_two_frag_hdrs(uint8_t *b)
{
	uint8_t	 e[16], l4[64];
	size_t	 m = udp(l4, 1, 2, 0);

	ext_frag(e, IPPROTO_FRAGMENT, 0, 0);
	ext_frag(e + 8, IPPROTO_UDP, 0, 0);
	return (ip6(b, IPPROTO_FRAGMENT, e, 16, l4, m));
}

/* what B6 sent to A6, quoted by a packet-too-big */
static size_t
b6_ptb(uint8_t *b, int with_ext, size_t keep, uint8_t type)
{
	uint8_t	 q[256], e[16], l4[160], m[320];
	size_t	 n;

	if (with_ext) {
		n = udp(l4, 53, 5353, 100);
		n = ip6(q, IPPROTO_DSTOPTS, e, ext(e, IPPROTO_UDP, 0), l4, n);
	} else {
		n = tcp(l4, 443, 41000, 0xdeadbeef, 1, PKT_TH_ACK, NULL, 0, 60);
		n = ip6(q, IPPROTO_TCP, NULL, 0, l4, n);
	}
	memcpy(q + 8, B6, 16);
	memcpy(q + 24, A6, 16);
	if (keep < n)
		n = keep;
	n = icmp(m, type, 0, 0, 1280, q, n);
	return (ip6(b, IPPROTO_ICMPV6, NULL, 0, m, n));
}

static size_t b6_ptb_tcp(uint8_t *b) { return (b6_ptb(b, 0, 500, 2)); }
static size_t b6_unreach_ext_udp(uint8_t *b) { return (b6_ptb(b, 1, 500, 1)); }
static size_t b6_unreach_short(uint8_t *b) { return (b6_ptb(b, 0, 44, 1)); }
static size_t b6_unreach_ext_short(uint8_t *b) { return (b6_ptb(b, 1, 50, 1)); }

static size_t
b6_unreach_quotes_v4(uint8_t *b)
{
	uint8_t	 q[128], m[256];
	size_t	 n = quote4(q, IPPROTO_UDP, 28);

	n = icmp(m, 1, 0, 0, 0, q, n);
	return (ip6(b, IPPROTO_ICMPV6, NULL, 0, m, n));
}

/* an ICMPv6 error quoting inner (qlen bytes of it) */
static size_t
b6_err_quoting(uint8_t *b, const uint8_t *inner, size_t qlen)
{
	uint8_t	 m[512];
	size_t	 n = icmp(m, 1, 4, 0, 0, inner, qlen);

	return (ip6(b, IPPROTO_ICMPV6, NULL, 0, m, n));
}

static size_t
b6_unreach_echo(uint8_t *b)
{
	uint8_t	 q[128];

	return (b6_err_quoting(b, q, b6_echo(q)));
}

static size_t
b6_unreach_of_unreach(uint8_t *b)
{
	uint8_t	 q[512];

	return (b6_err_quoting(b, q, b6_unreach_echo(q)));
}

static size_t
b6_unreach_frag_later(uint8_t *b)
{
	uint8_t	 q[256];

	return (b6_err_quoting(b, q, b6_frag_later(q)));
}

/* a quoted IPv6 packet carrying ICMP (v4): no such thing */
static size_t
b6_unreach_icmp4_inner(uint8_t *b)
{
	uint8_t	 q[128], m[64];
	size_t	 n = icmp(m, 8, 0, 1, 1, NULL, 0);

	n = ip6(q, IPPROTO_ICMP, NULL, 0, m, n);
	return (b6_err_quoting(b, q, n));
}

/* IPv4 first fragment: an unreachable whose quote goes on in the next */
static size_t
b4_frag_first_unreach(uint8_t *b)
{
	uint8_t	 q[128], l4[160];
	size_t	 n = quote4(q, IPPROTO_UDP, 28);

	n = icmp(l4, 3, 3, 0, 0, q, n);
	return (ip4x(b, IPPROTO_ICMP, 0x2000, 0, l4, 8 + 24));
}

/* IPv6 first fragment: the quoted header chain goes on in the next */
static size_t
b6_frag_first_unreach_chain(uint8_t *b)
{
	uint8_t	 q[256], e[16], m[512];
	size_t	 n;

	b6_dst_chain(q, 1);
	q[41] = 3;		/* a DSTOPTS of 32 bytes, 16 of them here */
	n = icmp(m, 1, 4, 0, 0, q, 40 + 16);
	ext_frag(e, IPPROTO_ICMPV6, 0, 1);
	return (ip6(b, IPPROTO_FRAGMENT, e, 8, m, n));
}

/* ICMP (v4) inside IPv6 is only a protocol number */
static size_t
b6_icmp4_proto(uint8_t *b)
{
	uint8_t	 m[64];
	size_t	 n = icmp(m, 3, 0, 0, 0, NULL, 0);

	return (ip6(b, IPPROTO_ICMP, NULL, 0, m, n));
}

#define OK4(n, f, pr, fr, sp, dp, l4o, pl) \
	{ #f, f, 0, REASON_NONE, AF_INET, pr, fr, sp, dp, l4o, pl }
#define OK6(n, f, pr, fr, sp, dp, l4o, pl) \
	{ #f, f, 0, REASON_NONE, AF_INET6, pr, fr, sp, dp, l4o, pl }
#define BAD(f, r, fam, pr) \
	{ #f, f, -1, r, fam, pr, 0, 0, 0, 0, 0 }

static const struct pcase cases[] = {
	OK4(0, b4_tcp_syn, IPPROTO_TCP, PKT_FRAG_NONE, 41000, 22, 20, 0),
	OK4(0, b4_tcp_sack_data, IPPROTO_TCP, PKT_FRAG_NONE, 41000, 22, 20,
	    10),
	OK4(0, b4_tcp_ipopts, IPPROTO_TCP, PKT_FRAG_NONE, 1, 2, 28, 3),
	OK4(0, b4_udp, IPPROTO_UDP, PKT_FRAG_NONE, 5353, 53, 20, 12),
	OK4(0, b4_udp_short_ulen, IPPROTO_UDP, PKT_FRAG_NONE, 5353, 53, 20,
	    4),
	OK4(0, b4_icmp_echo, IPPROTO_ICMP, PKT_FRAG_NONE, 0, 0, 20, 0),
	OK4(0, b4_icmp_echo_reply, IPPROTO_ICMP, PKT_FRAG_NONE, 0, 0, 20, 0),
	OK4(0, b4_unreach_udp, IPPROTO_ICMP, PKT_FRAG_NONE, 0, 0, 20, 0),
	OK4(0, b4_unreach_tcp_full, IPPROTO_ICMP, PKT_FRAG_NONE, 0, 0, 20, 0),
	OK4(0, b4_timex_icmp, IPPROTO_ICMP, PKT_FRAG_NONE, 0, 0, 20, 0),
	OK4(0, b4_gre, 47, PKT_FRAG_NONE, 0, 0, 20, 0),
	OK4(0, b4_o_eol_junk, IPPROTO_TCP, PKT_FRAG_NONE, 41000, 22, 20, 0),
	OK4(0, b4_o_unknown, IPPROTO_TCP, PKT_FRAG_NONE, 41000, 22, 20, 0),
	OK4(0, b4_frag_first, IPPROTO_TCP, PKT_FRAG_FIRST, 41000, 22, 20, 4),
	OK4(0, b4_frag_later, IPPROTO_TCP, PKT_FRAG_LATER, 0, 0, 20, 0),
	OK4(0, b4_frag_off1_udp, IPPROTO_UDP, PKT_FRAG_LATER, 0, 0, 20, 0),
	OK4(0, b4_frag_first_udp, IPPROTO_UDP, PKT_FRAG_FIRST, 5353, 53, 20,
	    992),
	OK4(0, b4_frag_df, IPPROTO_UDP, PKT_FRAG_NONE, 5353, 53, 20, 4),

	BAD(b4_version5, REASON_IP_VERSION, 0, 0),
	BAD(b4_ihl4, REASON_IP_HDRLEN, AF_INET, IPPROTO_UDP),
	BAD(b4_totlen_below_ihl, REASON_IP_LENGTH, AF_INET, IPPROTO_UDP),
	BAD(b4_totlen_below_tcp, REASON_IP_LENGTH, AF_INET, IPPROTO_TCP),
	BAD(b4_tiny, REASON_IP_TRUNCATED, 0, 0),
	BAD(b4_doff4, REASON_TCP_HDRLEN, AF_INET, IPPROTO_TCP),
	BAD(b4_doff15, REASON_TCP_HDRLEN, AF_INET, IPPROTO_TCP),
	BAD(b4_udp_ulen7, REASON_UDP_LENGTH, AF_INET, IPPROTO_UDP),
	BAD(b4_udp_ulen_long, REASON_UDP_LENGTH, AF_INET, IPPROTO_UDP),
	BAD(b4_o_len0, REASON_TCP_OPTIONS, AF_INET, IPPROTO_TCP),
	BAD(b4_o_len1, REASON_TCP_OPTIONS, AF_INET, IPPROTO_TCP),
	BAD(b4_o_past, REASON_TCP_OPTIONS, AF_INET, IPPROTO_TCP),
	BAD(b4_o_nolen, REASON_TCP_OPTIONS, AF_INET, IPPROTO_TCP),
	BAD(b4_o_mss3, REASON_TCP_OPTIONS, AF_INET, IPPROTO_TCP),
	BAD(b4_o_ws4, REASON_TCP_OPTIONS, AF_INET, IPPROTO_TCP),
	BAD(b4_o_sackperm3, REASON_TCP_OPTIONS, AF_INET, IPPROTO_TCP),
	BAD(b4_o_sack9, REASON_TCP_OPTIONS, AF_INET, IPPROTO_TCP),
	BAD(b4_o_ts8, REASON_TCP_OPTIONS, AF_INET, IPPROTO_TCP),
	BAD(b4_unreach_short, REASON_ICMP_INNER, AF_INET, IPPROTO_ICMP),
	BAD(b4_unreach_noip, REASON_ICMP_INNER, AF_INET, IPPROTO_ICMP),
	BAD(b4_unreach_of_unreach, REASON_ICMP_INNER, AF_INET, IPPROTO_ICMP),
	BAD(b4_unreach_quotes_v6, REASON_ICMP_INNER, AF_INET, IPPROTO_ICMP),
	BAD(b4_unreach_bad_ihl, REASON_ICMP_INNER, AF_INET, IPPROTO_ICMP),
	BAD(b4_frag_split_tcp, REASON_FRAGMENT, AF_INET, IPPROTO_TCP),
	BAD(b4_frag_split_tcpopts, REASON_FRAGMENT, AF_INET, IPPROTO_TCP),
	BAD(b4_frag_off1_tcp, REASON_FRAGMENT, AF_INET, IPPROTO_TCP),
	BAD(b4_frag_pod, REASON_FRAGMENT, AF_INET, IPPROTO_ICMP),

	OK6(0, b6_tcp_syn, IPPROTO_TCP, PKT_FRAG_NONE, 41000, 443, 40, 0),
	OK6(0, b6_udp, IPPROTO_UDP, PKT_FRAG_NONE, 546, 547, 40, 30),
	OK6(0, b6_echo, IPPROTO_ICMPV6, PKT_FRAG_NONE, 0, 0, 40, 0),
	OK6(0, b6_echo_reply, IPPROTO_ICMPV6, PKT_FRAG_NONE, 0, 0, 40, 0),
	OK6(0, b6_nonext, 59, PKT_FRAG_NONE, 0, 0, 40, 0),
	OK6(0, b6_chain, IPPROTO_TCP, PKT_FRAG_NONE, 1234, 80,
	    40 + 8 + 16 + 24 + 24, 0),
	OK6(0, b6_rh0_done, IPPROTO_UDP, PKT_FRAG_NONE, 1, 2, 64, 0),
	OK6(0, b6_chain8, IPPROTO_UDP, PKT_FRAG_NONE, 7, 8, 40 + 64, 0),
	OK6(0, b6_frag_first, IPPROTO_UDP, PKT_FRAG_FIRST, 5000, 53, 48,
	    2992),
	OK6(0, b6_frag_later, IPPROTO_UDP, PKT_FRAG_LATER, 0, 0, 48, 0),
	OK6(0, b6_frag_last, IPPROTO_UDP, PKT_FRAG_LATER, 0, 0, 48, 0),
	OK6(0, b6_frag_atomic, IPPROTO_UDP, PKT_FRAG_NONE, 5000, 53, 48, 5),
	OK6(0, b6_ptb_tcp, IPPROTO_ICMPV6, PKT_FRAG_NONE, 0, 0, 40, 0),
	OK6(0, b6_unreach_ext_udp, IPPROTO_ICMPV6, PKT_FRAG_NONE, 0, 0, 40,
	    0),
	OK6(0, b6_icmp4_proto, IPPROTO_ICMP, PKT_FRAG_NONE, 0, 0, 40, 0),

	OK6(0, b6_unreach_echo, IPPROTO_ICMPV6, PKT_FRAG_NONE, 0, 0, 40, 0),
	OK6(0, b6_unreach_frag_later, IPPROTO_ICMPV6, PKT_FRAG_NONE, 0, 0, 40,
	    0),

	BAD(b6_unreach_of_unreach, REASON_ICMP_INNER, AF_INET6,
	    IPPROTO_ICMPV6),
	BAD(b6_unreach_icmp4_inner, REASON_ICMP_INNER, AF_INET6,
	    IPPROTO_ICMPV6),
	BAD(b4_frag_first_unreach, REASON_FRAGMENT, AF_INET, IPPROTO_ICMP),
	BAD(b6_frag_first_unreach_chain, REASON_FRAGMENT, AF_INET6,
	    IPPROTO_ICMPV6),
	BAD(b6_hbh_second, REASON_IP6_EXTHDR, AF_INET6, IPPROTO_HOPOPTS),
	BAD(b6_rh0_active, REASON_IP6_EXTHDR, AF_INET6, IPPROTO_ROUTING),
	BAD(b6_chain9, REASON_IP6_EXTCHAIN, AF_INET6, IPPROTO_DSTOPTS),
	BAD(b6_chain40, REASON_IP6_EXTCHAIN, AF_INET6, IPPROTO_DSTOPTS),
	BAD(b6_ext_past_claim, REASON_IP_LENGTH, AF_INET6, IPPROTO_DSTOPTS),
	BAD(b6_plen0_tcp, REASON_IP_LENGTH, AF_INET6, IPPROTO_TCP),
	BAD(b6_frag_first_odd, REASON_FRAGMENT, AF_INET6, IPPROTO_UDP),
	BAD(b6_frag_off1_tcp, REASON_FRAGMENT, AF_INET6, IPPROTO_TCP),
	BAD(b6_frag_pod, REASON_FRAGMENT, AF_INET6, IPPROTO_UDP),
	BAD(b6_frag_split_tcp, REASON_FRAGMENT, AF_INET6, IPPROTO_TCP),
	BAD(b6_frag_split_chain, REASON_FRAGMENT, AF_INET6, IPPROTO_FRAGMENT),
	BAD(b6_two_frag_hdrs, REASON_IP6_EXTHDR, AF_INET6, IPPROTO_FRAGMENT),
	BAD(b6_unreach_short, REASON_ICMP_INNER, AF_INET6, IPPROTO_ICMPV6),
	BAD(b6_unreach_ext_short, REASON_ICMP_INNER, AF_INET6,
	    IPPROTO_ICMPV6),
	BAD(b6_unreach_quotes_v4, REASON_ICMP_INNER, AF_INET6,
	    IPPROTO_ICMPV6),
};

#define NCASES	(sizeof(cases) / sizeof(cases[0]))

static void
test_table(void **state __attribute__((__unused__)))
{
	uint8_t		 b[MAXPKT];
	struct pkt	 p;
	enum reason	 why;
	size_t		 i, n;
	int		 rv;

	for (i = 0; i < NCASES; i++) {
		const struct pcase *c = &cases[i];

		n = c->build(b);
		assert_true(n <= MAXPKT);
		why = REASON_MAX;
		rv = parse(&p, b, n, &why);
		if (rv != c->rv || why != c->why)
			fail_msg("%s: got %d %s, want %d %s", c->name, rv,
			    reason_name(why), c->rv, reason_name(c->why));
		if (c->family != 0 && p.family != c->family)
			fail_msg("%s: family %u", c->name, p.family);
		if (c->proto != 0 && p.proto != c->proto)
			fail_msg("%s: proto %u", c->name, p.proto);
		assert_int_equal(p.len, n);
		if (rv == -1)
			continue;
		if (p.frag != c->frag || p.sport != c->sport ||
		    p.dport != c->dport || p.l4off != c->l4off ||
		    p.paylen != c->paylen)
			fail_msg("%s: frag %u ports %u %u l4off %u paylen %u",
			    c->name, p.frag, p.sport, p.dport, p.l4off,
			    p.paylen);
		assert_int_equal(p.iplen, n);
		if (p.family == AF_INET) {
			assert_memory_equal(p.src.a8, A4, 4);
			assert_memory_equal(p.dst.a8, B4, 4);
			assert_int_equal(p.ttl, 64);
		} else {
			assert_memory_equal(p.src.a8, A6, 16);
			assert_memory_equal(p.dst.a8, B6, 16);
			assert_int_equal(p.ttl, 63);
		}
	}
}

/* An IPv4 address leaves the other 12 bytes zero, for hashing. */
static void
test_v4_addr_padding(void **state __attribute__((__unused__)))
{
	uint8_t		 b[MAXPKT];
	struct pkt	 p;
	enum reason	 why;
	size_t		 n = b4_udp(b);

	memset(&p, 0xaa, sizeof(p));
	assert_int_equal(parse(&p, b, n, &why), 0);
	assert_int_equal(p.src.a32[1] | p.src.a32[2] | p.src.a32[3], 0);
	assert_int_equal(p.dst.a32[1] | p.dst.a32[2] | p.dst.a32[3], 0);
	assert_int_equal(p.is_icmp_error, 0);
}

static void
test_tcp_fields(void **state __attribute__((__unused__)))
{
	uint8_t		 b[MAXPKT];
	struct pkt	 p;
	enum reason	 why;
	size_t		 n;

	n = b4_tcp_syn(b);
	assert_int_equal(parse(&p, b, n, &why), 0);
	assert_int_equal(p.th_flags, PKT_TH_SYN);
	assert_int_equal(p.seq, 1000);
	assert_int_equal(p.ack, 0);
	assert_int_equal(p.win, 64240);
	assert_int_equal(p.wscale, 7);
	assert_int_equal(p.sack_perm, 1);
	assert_int_equal(p.nsack, 0);

	n = b4_tcp_sack_data(b);
	assert_int_equal(parse(&p, b, n, &why), 0);
	assert_int_equal(p.th_flags, PKT_TH_ACK | PKT_TH_PUSH);
	assert_int_equal(p.seq, 5000);
	assert_int_equal(p.ack, 7000);
	assert_int_equal(p.wscale, PKT_WSCALE_NONE);
	assert_int_equal(p.sack_perm, 0);
	assert_int_equal(p.nsack, 2);
	assert_int_equal(p.sack[0][0], 4096);
	assert_int_equal(p.sack[0][1], 8192);
	assert_int_equal(p.sack[1][0], 12288);
	assert_int_equal(p.sack[1][1], 16384);

	/* no options at all */
	n = b4_tcp_ipopts(b);
	assert_int_equal(parse(&p, b, n, &why), 0);
	assert_int_equal(p.wscale, PKT_WSCALE_NONE);
	assert_int_equal(p.sack_perm, 0);
}

static void
test_tcp_wscale_clamped(void **state __attribute__((__unused__)))
{
	static const uint8_t ws20[] = { 3, 3, 20, 0 };
	static const uint8_t sack4[] = {
		1, 1, 5, 34,
		0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0, 4,
		0, 0, 0, 5, 0, 0, 0, 6, 0, 0, 0, 7, 0, 0, 0, 8
	};
	uint8_t		 b[MAXPKT];
	struct pkt	 p;
	enum reason	 why;
	size_t		 n;

	n = b4_opts(b, ws20, sizeof(ws20));
	assert_int_equal(parse(&p, b, n, &why), 0);
	assert_int_equal(p.wscale, 14);

	/* four SACK blocks fill the 40 bytes of options */
	n = b4_opts(b, sack4, sizeof(sack4));
	assert_int_equal(parse(&p, b, n, &why), 0);
	assert_int_equal(p.nsack, 4);
	assert_int_equal(p.sack[3][0], 7);
	assert_int_equal(p.sack[3][1], 8);
}

static void
test_icmp_fields(void **state __attribute__((__unused__)))
{
	uint8_t		 b[MAXPKT];
	struct pkt	 p;
	enum reason	 why;
	size_t		 n;

	n = b4_icmp_echo(b);
	assert_int_equal(parse(&p, b, n, &why), 0);
	assert_int_equal(p.icmp_type, 8);
	assert_int_equal(p.icmp_code, 0);
	assert_int_equal(p.icmp_id, 0x4242);
	assert_int_equal(p.is_icmp_error, 0);

	n = b6_echo_reply(b);
	assert_int_equal(parse(&p, b, n, &why), 0);
	assert_int_equal(p.icmp_type, 129);
	assert_int_equal(p.icmp_id, 0x6666);
	assert_int_equal(p.is_icmp_error, 0);
}

static void
test_icmp4_inner(void **state __attribute__((__unused__)))
{
	uint8_t		 b[MAXPKT];
	struct pkt	 p;
	enum reason	 why;
	size_t		 n;

	n = b4_unreach_udp(b);
	assert_int_equal(parse(&p, b, n, &why), 0);
	assert_int_equal(p.icmp_type, 3);
	assert_int_equal(p.icmp_code, 3);
	assert_int_equal(p.is_icmp_error, 1);
	assert_int_equal(p.inner.family, AF_INET);
	assert_int_equal(p.inner.proto, IPPROTO_UDP);
	assert_int_equal(p.inner.sport, 53);
	assert_int_equal(p.inner.dport, 5353);
	assert_memory_equal(p.inner.src.a8, B4, 4);
	assert_memory_equal(p.inner.dst.a8, A4, 4);

	n = b4_unreach_tcp_full(b);
	assert_int_equal(parse(&p, b, n, &why), 0);
	assert_int_equal(p.is_icmp_error, 1);
	assert_int_equal(p.inner.proto, IPPROTO_TCP);
	assert_int_equal(p.inner.sport, 22);
	assert_int_equal(p.inner.dport, 41000);
	assert_int_equal(p.inner.seq, 0x01020304);

	n = b4_timex_icmp(b);
	assert_int_equal(parse(&p, b, n, &why), 0);
	assert_int_equal(p.icmp_type, 11);
	assert_int_equal(p.is_icmp_error, 1);
	assert_int_equal(p.inner.proto, IPPROTO_ICMP);
	assert_int_equal(p.inner.icmp_type, 8);
	assert_int_equal(p.inner.icmp_id, 0x777);

	/* a bad quote leaves is_icmp_error clear */
	n = b4_unreach_short(b);
	assert_int_equal(parse(&p, b, n, &why), -1);
	assert_int_equal(why, REASON_ICMP_INNER);
	assert_int_equal(p.is_icmp_error, 0);
}

static void
test_icmp6_inner(void **state __attribute__((__unused__)))
{
	uint8_t		 b[MAXPKT];
	struct pkt	 p;
	enum reason	 why;
	size_t		 n;

	n = b6_ptb_tcp(b);
	assert_int_equal(parse(&p, b, n, &why), 0);
	assert_int_equal(p.icmp_type, 2);
	assert_int_equal(p.is_icmp_error, 1);
	assert_int_equal(p.inner.family, AF_INET6);
	assert_int_equal(p.inner.proto, IPPROTO_TCP);
	assert_int_equal(p.inner.sport, 443);
	assert_int_equal(p.inner.dport, 41000);
	assert_int_equal(p.inner.seq, 0xdeadbeef);
	assert_memory_equal(p.inner.src.a8, B6, 16);
	assert_memory_equal(p.inner.dst.a8, A6, 16);

	n = b6_unreach_ext_udp(b);
	assert_int_equal(parse(&p, b, n, &why), 0);
	assert_int_equal(p.is_icmp_error, 1);
	assert_int_equal(p.inner.proto, IPPROTO_UDP);
	assert_int_equal(p.inner.sport, 53);
	assert_int_equal(p.inner.dport, 5353);

	n = b6_unreach_echo(b);
	assert_int_equal(parse(&p, b, n, &why), 0);
	assert_int_equal(p.is_icmp_error, 1);
	assert_int_equal(p.inner.proto, IPPROTO_ICMPV6);
	assert_int_equal(p.inner.icmp_type, 128);
	assert_int_equal(p.inner.icmp_id, 0x6666);

	/* a later fragment quoted: addresses, no ports */
	n = b6_unreach_frag_later(b);
	assert_int_equal(parse(&p, b, n, &why), 0);
	assert_int_equal(p.is_icmp_error, 1);
	assert_int_equal(p.inner.proto, IPPROTO_UDP);
	assert_int_equal(p.inner.sport, 0);
	assert_int_equal(p.inner.dport, 0);
	assert_memory_equal(p.inner.src.a8, A6, 16);

	/* ICMP (v4) in IPv6: a protocol number, not an error */
	n = b6_icmp4_proto(b);
	assert_int_equal(parse(&p, b, n, &why), 0);
	assert_int_equal(p.is_icmp_error, 0);
}

/* NFQUEUE's copy range: fewer bytes than the IP header claims. */
static void
test_copy_range(void **state __attribute__((__unused__)))
{
	uint8_t		 b[MAXPKT];
	struct pkt	 p;
	enum reason	 why;
	size_t		 n;

	n = b4_tcp_sack_data(b);
	/* headers whole, payload cut */
	assert_int_equal(parse(&p, b, n - 7, &why), 0);
	assert_int_equal(p.len, n - 7);
	assert_int_equal(p.iplen, n);
	assert_int_equal(p.paylen, 10);
	assert_int_equal(p.nsack, 2);
	/* options cut */
	assert_int_equal(parse(&p, b, 20 + 30, &why), -1);
	assert_int_equal(why, REASON_L4_TRUNCATED);
	assert_int_equal(p.family, AF_INET);
	assert_int_equal(p.proto, IPPROTO_TCP);
	assert_int_equal(p.sport, 41000);
	assert_int_equal(p.dport, 22);

	/* an ICMP error whose quote we have in full, the rest cut */
	n = b4_unreach_tcp_full(b);
	assert_int_equal(parse(&p, b, 20 + 8 + 28, &why), 0);
	assert_int_equal(p.is_icmp_error, 1);
	assert_int_equal(p.inner.dport, 41000);
	/* the quote cut: we cannot tell, so not "malformed" */
	assert_int_equal(parse(&p, b, 20 + 8 + 24, &why), -1);
	assert_int_equal(why, REASON_L4_TRUNCATED);

	/* the UDP length is checked against the claim, not the buffer */
	n = b6_udp(b);
	assert_int_equal(parse(&p, b, 48, &why), 0);
	assert_int_equal(p.paylen, 30);
}

/* Ethernet pads short frames: bytes past the IP length are not read. */
static void
test_padding(void **state __attribute__((__unused__)))
{
	uint8_t		 b[MAXPKT];
	struct pkt	 p;
	enum reason	 why;
	size_t		 n;

	n = b4_icmp_echo_reply(b);
	memset(b + n, 0xff, 18);
	assert_int_equal(parse(&p, b, n + 18, &why), 0);
	assert_int_equal(p.len, n + 18);
	assert_int_equal(p.iplen, n);

	/* the padding does not make a short TCP header whole */
	n = b4_tcp_syn(b);
	put16(b + 2, 30);
	assert_int_equal(parse(&p, b, n, &why), -1);
	assert_int_equal(why, REASON_IP_LENGTH);
}

/*
 * Every prefix of every valid packet: no read past the end (ASan), and
 * the verdict is either success with every header present, or one of
 * the "truncated" reasons, never a claim that the packet is malformed.
 */
static void
test_every_prefix(void **state __attribute__((__unused__)))
{
	uint8_t		 b[MAXPKT];
	struct pkt	 p, full;
	enum reason	 why;
	size_t		 i, n, k;
	int		 rv;

	for (i = 0; i < NCASES; i++) {
		const struct pcase *c = &cases[i];

		if (c->rv != 0)
			continue;
		n = c->build(b);
		assert_int_equal(parse(&full, b, n, &why), 0);
		for (k = 0; k < n; k++) {
			rv = parse(&p, b, k, &why);
			if (rv == 0) {
				if (k < p.l4off)
					fail_msg("%s/%zu: ok without the "
					    "headers", c->name, k);
				if (p.sport != full.sport ||
				    p.dport != full.dport ||
				    p.paylen != full.paylen ||
				    p.proto != full.proto ||
				    p.iplen != full.iplen)
					fail_msg("%s/%zu: differs from the "
					    "whole packet", c->name, k);
				continue;
			}
			if (why != REASON_IP_TRUNCATED &&
			    why != REASON_L4_TRUNCATED)
				fail_msg("%s/%zu: %s", c->name, k,
				    reason_name(why));
		}
	}
}

/* Every prefix of every malformed packet: no crash, no success that the
   whole packet would not get either. */
static void
test_every_prefix_bad(void **state __attribute__((__unused__)))
{
	uint8_t		 b[MAXPKT];
	struct pkt	 p;
	enum reason	 why;
	size_t		 i, n, k;

	for (i = 0; i < NCASES; i++) {
		if (cases[i].rv == 0)
			continue;
		n = cases[i].build(b);
		for (k = 0; k <= n; k++) {
			if (parse(&p, b, k, &why) == 0)
				assert_int_equal(why, REASON_NONE);
			else
				assert_true(why > REASON_NONE &&
				    why < REASON_TCP_NO_SYN);
		}
	}
}

/* Random corruption of valid packets, deterministic: never a crash. */
static void
test_mutations(void **state __attribute__((__unused__)))
{
	uint8_t		 b[MAXPKT];
	struct pkt	 p;
	enum reason	 why;
	size_t		 i, n, len;
	uint32_t	 x = 0x9e3779b9;
	int		 round, k, rv;

	for (round = 0; round < 20000; round++) {
		i = (size_t)round % NCASES;
		n = cases[i].build(b);
		for (k = 0; k < 4; k++) {
			x ^= x << 13;
			x ^= x >> 17;
			x ^= x << 5;
			b[x % n] = (uint8_t)(x >> 8);
		}
		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		len = (x & 3) == 0 ? x % (n + 1) : n;
		rv = parse(&p, b, len, &why);
		assert_true(rv == 0 || rv == -1);
		if (rv == 0) {
			assert_int_equal(why, REASON_NONE);
			assert_true(p.l4off <= len);
		} else
			assert_true(why > REASON_NONE &&
			    why < REASON_TCP_NO_SYN);
	}
}

static void
test_edge_inputs(void **state __attribute__((__unused__)))
{
	struct pkt	 p;
	enum reason	 why;
	uint8_t		 one = 0x45;

	assert_int_equal(pkt_parse(&p, NULL, 0, &why), -1);
	assert_int_equal(why, REASON_IP_TRUNCATED);
	assert_int_equal(parse(&p, &one, 1, &why), -1);
	assert_int_equal(why, REASON_IP_TRUNCATED);
	one = 0x00;
	assert_int_equal(parse(&p, &one, 1, &why), -1);
	assert_int_equal(why, REASON_IP_VERSION);
	/* why may be NULL */
	assert_int_equal(parse(&p, &one, 1, NULL), -1);
}

static void
test_names(void **state __attribute__((__unused__)))
{
	char		 buf[64];
	union pkt_addr	 a;

	assert_string_equal(pkt_proto_name(IPPROTO_TCP, buf, sizeof(buf)),
	    "tcp");
	assert_string_equal(pkt_proto_name(IPPROTO_UDP, buf, sizeof(buf)),
	    "udp");
	assert_string_equal(pkt_proto_name(IPPROTO_ICMP, buf, sizeof(buf)),
	    "icmp");
	assert_string_equal(pkt_proto_name(IPPROTO_ICMPV6, buf, sizeof(buf)),
	    "icmpv6");
	assert_string_equal(pkt_proto_name(47, buf, sizeof(buf)), "47");
	assert_string_equal(pkt_proto_name(255, buf, 3), "25");

	memset(&a, 0, sizeof(a));
	memcpy(a.a8, A4, 4);
	assert_string_equal(pkt_addr_str(AF_INET, &a, buf, sizeof(buf)),
	    "192.0.2.1");
	memcpy(a.a8, B6, 16);
	assert_string_equal(pkt_addr_str(AF_INET6, &a, buf, sizeof(buf)),
	    "2001:db8::2");
	assert_string_equal(pkt_addr_str(0, &a, buf, sizeof(buf)), "?");
	/* too small for the address: no overflow, a marker */
	assert_string_equal(pkt_addr_str(AF_INET6, &a, buf, 4), "?");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_table),
		cmocka_unit_test(test_v4_addr_padding),
		cmocka_unit_test(test_tcp_fields),
		cmocka_unit_test(test_tcp_wscale_clamped),
		cmocka_unit_test(test_icmp_fields),
		cmocka_unit_test(test_icmp4_inner),
		cmocka_unit_test(test_icmp6_inner),
		cmocka_unit_test(test_copy_range),
		cmocka_unit_test(test_padding),
		cmocka_unit_test(test_every_prefix),
		cmocka_unit_test(test_every_prefix_bad),
		cmocka_unit_test(test_mutations),
		cmocka_unit_test(test_edge_inputs),
		cmocka_unit_test(test_names),
	};

	return (cmocka_run_group_tests(tests, NULL, NULL));
}
