/*
 * ipbuild.h - IPv4/IPv6 packets, their fragments and checksums, built
 * byte by byte for test_csum and test_frag
 *
 * Copyright (C) 2026 The nfqspid authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * The checksum here is RFC 1071's byte-wise loop, written apart from
 * src/csum.c so that the two check each other.
 */
#ifndef IPBUILD_H
#define IPBUILD_H

#include <stdint.h>
#include <string.h>

static const uint8_t IB_A4[4] = { 192, 0, 2, 1 };
static const uint8_t IB_B4[4] = { 198, 51, 100, 2 };
static const uint8_t IB_A6[16] = { 0x20, 0x01, 0x0d, 0xb8, [15] = 1 };
static const uint8_t IB_B6[16] = { 0x20, 0x01, 0x0d, 0xb8, [15] = 2 };

static inline void
ib_put16(uint8_t *b, unsigned v)
{
	b[0] = (uint8_t)(v >> 8);
	b[1] = (uint8_t)v;
}

/* RFC 1071, one 16-bit word at a time */
static inline uint16_t
ib_csum(uint32_t sum, const uint8_t *b, size_t n)
{
	size_t	 i;

	for (i = 0; i < n; i++)
		sum += (i & 1) ? b[i] : (uint32_t)b[i] << 8;
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return ((uint16_t)~sum);
}

/* The pseudo header's sum (not folded) */
static inline uint32_t
ib_pseudo(int v6, uint8_t proto, size_t l4len)
{
	const uint8_t	*s = v6 ? IB_A6 : IB_A4, *d = v6 ? IB_B6 : IB_B4;
	size_t		 i, n = v6 ? 16 : 4;
	uint32_t	 sum = 0;

	for (i = 0; i < n; i++)
		sum += (i & 1) ? (uint32_t)s[i] + d[i] :
		    ((uint32_t)s[i] + d[i]) << 8;
	return (sum + proto + (uint32_t)l4len);
}

/*
 * A transport segment of proto (6, 17, 1 or 58) with paylen bytes of
 * payload (a counting pattern), its checksum filled in for the family.
 */
static inline size_t
ib_l4(uint8_t *b, int v6, uint8_t proto, size_t paylen)
{
	size_t	 hl = proto == 6 ? 20 : 8, i;
	uint16_t c;

	memset(b, 0, hl);
	for (i = 0; i < paylen; i++)
		b[hl + i] = (uint8_t)(i * 7 + 3);
	switch (proto) {
	case 6:
		ib_put16(b, 40000);
		ib_put16(b + 2, 80);
		b[7] = 1;		/* seq 1 */
		b[12] = 5 << 4;
		b[13] = 0x18;		/* PSH ACK */
		b[11] = 1;		/* ack 1 */
		ib_put16(b + 14, 1000);
		c = ib_csum(ib_pseudo(v6, 6, hl + paylen), b, hl + paylen);
		ib_put16(b + 16, c);
		break;
	case 17:
		ib_put16(b, 5353);
		ib_put16(b + 2, 53);
		ib_put16(b + 4, (unsigned)(hl + paylen));
		c = ib_csum(ib_pseudo(v6, 17, hl + paylen), b, hl + paylen);
		ib_put16(b + 6, c == 0 ? 0xffff : c);
		break;
	default:
		b[0] = v6 ? 128 : 8;	/* echo request */
		ib_put16(b + 4, 77);	/* id */
		ib_put16(b + 6, 1);	/* seq */
		c = ib_csum(v6 ? ib_pseudo(1, 58, hl + paylen) : 0, b,
		    hl + paylen);
		ib_put16(b + 2, c);
		break;
	}
	return (hl + paylen);
}

/* IPv4: header (checksum filled in) and payload; frag is the 16-bit
   flags and offset field. */
static inline size_t
ib_ip4(uint8_t *b, uint8_t proto, unsigned id, unsigned frag,
    const uint8_t *pay, size_t plen)
{
	memset(b, 0, 20);
	b[0] = 0x45;
	ib_put16(b + 2, (unsigned)(20 + plen));
	ib_put16(b + 4, id);
	ib_put16(b + 6, frag);
	b[8] = 64;
	b[9] = proto;
	memcpy(b + 12, IB_A4, 4);
	memcpy(b + 16, IB_B4, 4);
	ib_put16(b + 10, ib_csum(0, b, 20));
	memmove(b + 20, pay, plen);
	return (20 + plen);
}

/* IPv6 with a fragment header when off_m (offset | M bit) is not -1 */
static inline size_t
ib_ip6(uint8_t *b, uint8_t nh, long off_m, uint32_t ident,
    const uint8_t *pay, size_t plen)
{
	size_t	 h = off_m < 0 ? 40 : 48;

	memset(b, 0, h);
	b[0] = 0x60;
	ib_put16(b + 4, (unsigned)(h - 40 + plen));
	b[6] = off_m < 0 ? nh : 44;
	b[7] = 64;
	memcpy(b + 8, IB_A6, 16);
	memcpy(b + 24, IB_B6, 16);
	if (off_m >= 0) {
		b[40] = nh;
		ib_put16(b + 42, (unsigned)off_m);
		b[44] = (uint8_t)(ident >> 24);
		b[45] = (uint8_t)(ident >> 16);
		b[46] = (uint8_t)(ident >> 8);
		b[47] = (uint8_t)ident;
	}
	memmove(b + h, pay, plen);
	return (h + plen);
}

/* One fragment of the transport segment l4 (its bytes [off, off + n)) */
static inline size_t
ib_frag(uint8_t *b, int v6, uint8_t proto, uint32_t ident, const uint8_t *l4,
    size_t off, size_t n, int more)
{
	if (v6)
		return (ib_ip6(b, proto, (long)(off | (more ? 1 : 0)), ident,
		    l4 + off, n));
	return (ib_ip4(b, proto, ident, (unsigned)(off / 8) |
	    (more ? 0x2000 : 0), l4 + off, n));
}

#endif /* IPBUILD_H */
