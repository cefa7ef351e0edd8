/*
 * pktbuild.h - packets built byte by byte, for the tests and the bench
 *
 * Copyright (C) 2026 The nfqspid authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * One copy of the builders the unit tests (test_pkt, test_ct,
 * test_reject, test_verdict, test_csum, test_frag) and
 * tests/bench/engine.c make their packets with.  The pb_*() header
 * writers write one header, in network byte order, and return its
 * length; what follows it (options, payload, a quoted packet) is the
 * caller's, and checksums are left 0 unless asked for: the parser does
 * not check them.  The whole packets below them (pb_l4(), pb_ip4pkt(),
 * pb_ip6pkt(), pb_frag()) carry right checksums, between fixed
 * addresses, for the checksum and fragment tests.
 *
 * The checksum here is RFC 1071's byte-wise loop, written apart from
 * src/csum.c and src/reject.c so that they check each other.
 */
#ifndef NFQSPI_TESTS_PKTBUILD_H
#define NFQSPI_TESTS_PKTBUILD_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

static inline void
put16(uint8_t *b, uint16_t v)
{
	b[0] = (uint8_t)(v >> 8);
	b[1] = (uint8_t)v;
}

static inline void
put32(uint8_t *b, uint32_t v)
{
	put16(b, (uint16_t)(v >> 16));
	put16(b + 2, (uint16_t)v);
}

static inline uint16_t
get16(const uint8_t *b)
{
	return ((uint16_t)(b[0] << 8 | b[1]));
}

static inline uint32_t
get32(const uint8_t *b)
{
	return ((uint32_t)get16(b) << 16 | get16(b + 2));
}

/* RFC 1071: b's 16-bit words added to sum, one byte at a time, not
   folded */
static inline uint32_t
pb_add(uint32_t sum, const uint8_t *b, size_t n)
{
	size_t	 i;

	for (i = 0; i < n; i++)
		sum += (i & 1) ? b[i] : (uint32_t)b[i] << 8;
	return (sum);
}

static inline uint16_t
pb_fold(uint32_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return ((uint16_t)sum);
}

/* The one's complement sum of a then b, folded, not complemented (a
   header whose checksum is right sums to 0xffff). */
static inline uint16_t
pb_sum16(const uint8_t *a, size_t n, const uint8_t *b, size_t m)
{
	return (pb_fold(pb_add(pb_add(0, a, n), b, m)));
}

/* The checksum of b after sum (a pseudo header's, or 0) */
static inline uint16_t
pb_csum(uint32_t sum, const uint8_t *b, size_t n)
{
	return ((uint16_t)~pb_fold(pb_add(sum, b, n)));
}

/*
 * An IPv4 header of 20 + optlen bytes (the options NOPs) before l4len
 * bytes of transport: TTL 64, identification id, fragment field ff (flags
 * and offset), no checksum.  src and dst: 4 bytes each.
 */
static inline size_t
pb_ip4(uint8_t *b, uint8_t proto, const void *src, const void *dst,
    size_t optlen, uint16_t id, uint16_t ff, size_t l4len)
{
	size_t	 hl = 20 + optlen;

	memset(b, 0, hl);
	b[0] = (uint8_t)(0x40 | (hl / 4));
	put16(b + 2, (uint16_t)(hl + l4len));
	put16(b + 4, id);
	put16(b + 6, ff);
	b[8] = 64;
	b[9] = proto;
	memcpy(b + 12, src, 4);
	memcpy(b + 16, dst, 4);
	memset(b + 20, 1, optlen);
	return (hl);
}

/* The header checksum of the IPv4 header at b. */
static inline void
pb_ip4_csum(uint8_t *b)
{
	size_t	 hl = (size_t)(b[0] & 0x0f) * 4;

	put16(b + 10, 0);
	put16(b + 10, pb_csum(0, b, hl));
}

/* An IPv6 header: next header nh, hop limit hlim, paylen bytes after it;
   src and dst: 16 bytes each. */
static inline size_t
pb_ip6(uint8_t *b, uint8_t nh, const void *src, const void *dst,
    uint8_t hlim, size_t paylen)
{
	memset(b, 0, 40);
	b[0] = 0x60;
	put16(b + 4, (uint16_t)paylen);
	b[6] = nh;
	b[7] = hlim;
	memcpy(b + 8, src, 16);
	memcpy(b + 24, dst, 16);
	return (40);
}

/* A TCP header of 20 + optlen bytes, the options zeroed for the caller
   to write. */
static inline size_t
pb_tcp(uint8_t *b, uint16_t sport, uint16_t dport, uint32_t seq,
    uint32_t ack, uint8_t flags, uint16_t win, size_t optlen)
{
	size_t	 hl = 20 + optlen;

	memset(b, 0, hl);
	put16(b, sport);
	put16(b + 2, dport);
	put32(b + 4, seq);
	put32(b + 8, ack);
	b[12] = (uint8_t)((hl / 4) << 4);
	b[13] = flags;
	put16(b + 14, win);
	return (hl);
}

/* A UDP header for paylen bytes of payload, no checksum. */
static inline size_t
pb_udp(uint8_t *b, uint16_t sport, uint16_t dport, size_t paylen)
{
	put16(b, sport);
	put16(b + 2, dport);
	put16(b + 4, (uint16_t)(8 + paylen));
	put16(b + 6, 0);
	return (8);
}

/* An ICMP or ICMPv6 header: type, code, and id and seq (echo), or the
   4 bytes an error leaves unused when both are 0.  No checksum. */
static inline size_t
pb_icmp(uint8_t *b, uint8_t type, uint8_t code, uint16_t id, uint16_t seq)
{
	memset(b, 0, 8);
	b[0] = type;
	b[1] = code;
	put16(b + 4, id);
	put16(b + 6, seq);
	return (8);
}

/* ---- whole packets between fixed addresses, checksums right ------------ */

static const uint8_t PB_A4[4] = { 192, 0, 2, 1 };
static const uint8_t PB_B4[4] = { 198, 51, 100, 2 };
static const uint8_t PB_A6[16] = { 0x20, 0x01, 0x0d, 0xb8, [15] = 1 };
static const uint8_t PB_B6[16] = { 0x20, 0x01, 0x0d, 0xb8, [15] = 2 };

/* The pseudo header's sum (not folded) between PB_A and PB_B */
static inline uint32_t
pb_pseudo(int v6, uint8_t proto, size_t l4len)
{
	const uint8_t	*s = v6 ? PB_A6 : PB_A4, *d = v6 ? PB_B6 : PB_B4;
	size_t		 n = v6 ? 16 : 4;

	return (pb_add(pb_add(0, s, n), d, n) + proto + (uint32_t)l4len);
}

/*
 * A transport segment of proto (6, 17, 1 or 58) with paylen bytes of
 * payload (a counting pattern), its checksum filled in for the family.
 */
static inline size_t
pb_l4(uint8_t *b, int v6, uint8_t proto, size_t paylen)
{
	size_t	 hl = proto == 6 ? 20 : 8, i;
	uint16_t c;

	for (i = 0; i < paylen; i++)
		b[hl + i] = (uint8_t)(i * 7 + 3);
	switch (proto) {
	case 6:				/* PSH ACK, seq 1, ack 1 */
		pb_tcp(b, 40000, 80, 1, 1, 0x18, 1000, 0);
		c = pb_csum(pb_pseudo(v6, 6, hl + paylen), b, hl + paylen);
		put16(b + 16, c);
		break;
	case 17:
		pb_udp(b, 5353, 53, paylen);
		c = pb_csum(pb_pseudo(v6, 17, hl + paylen), b, hl + paylen);
		put16(b + 6, c == 0 ? 0xffff : c);
		break;
	default:			/* echo request, id 77, seq 1 */
		pb_icmp(b, v6 ? 128 : 8, 0, 77, 1);
		c = pb_csum(v6 ? pb_pseudo(1, 58, hl + paylen) : 0, b,
		    hl + paylen);
		put16(b + 2, c);
		break;
	}
	return (hl + paylen);
}

/* IPv4: header (checksum filled in) and payload; frag is the 16-bit
   flags and offset field. */
static inline size_t
pb_ip4pkt(uint8_t *b, uint8_t proto, unsigned id, unsigned frag,
    const uint8_t *pay, size_t plen)
{
	pb_ip4(b, proto, PB_A4, PB_B4, 0, (uint16_t)id, (uint16_t)frag, plen);
	pb_ip4_csum(b);
	memmove(b + 20, pay, plen);
	return (20 + plen);
}

/* IPv6 with a fragment header when off_m (offset | M bit) is not -1 */
static inline size_t
pb_ip6pkt(uint8_t *b, uint8_t nh, long off_m, uint32_t ident,
    const uint8_t *pay, size_t plen)
{
	size_t	 h = off_m < 0 ? 40 : 48;

	pb_ip6(b, off_m < 0 ? nh : 44, PB_A6, PB_B6, 64, h - 40 + plen);
	if (off_m >= 0) {
		memset(b + 40, 0, 8);
		b[40] = nh;
		put16(b + 42, (uint16_t)off_m);
		put32(b + 44, ident);
	}
	memmove(b + h, pay, plen);
	return (h + plen);
}

/* pb_l4()'s segment of proto, paylen bytes of payload, whole in an
   IPv4 packet (ident 1) or an IPv6 one; returns the packet's length */
static inline size_t
pb_pkt(uint8_t *b, int v6, uint8_t proto, size_t paylen)
{
	uint8_t	 l4[2048];
	size_t	 n = pb_l4(l4, v6, proto, paylen);

	return (v6 ? pb_ip6pkt(b, proto, -1, 0, l4, n) :
	    pb_ip4pkt(b, proto, 1, 0, l4, n));
}

/* One fragment of the transport segment l4 (its bytes [off, off + n)) */
static inline size_t
pb_frag(uint8_t *b, int v6, uint8_t proto, uint32_t ident, const uint8_t *l4,
    size_t off, size_t n, int more)
{
	if (v6)
		return (pb_ip6pkt(b, proto, (long)(off | (more ? 1 : 0)),
		    ident, l4 + off, n));
	return (pb_ip4pkt(b, proto, ident, (unsigned)(off / 8) |
	    (more ? 0x2000 : 0), l4 + off, n));
}

#endif /* NFQSPI_TESTS_PKTBUILD_H */
