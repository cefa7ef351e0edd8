/*
 * siphash.h - SipHash-1-3, the keyed hash of the connection and limit
 * tables
 *
 * Copyright (C) 2026 The nfqspid authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * Keyed with random bits at table creation, so that nobody outside can
 * choose addresses that fall into one chain.  Inline: it is on the packet
 * path, and n is a constant at every call.
 */
#ifndef NFQSPI_SIPHASH_H
#define NFQSPI_SIPHASH_H

#include <stdint.h>

#define SIP_ROTL(x, b)	(((x) << (b)) | ((x) >> (64 - (b))))
#define SIP_ROUND do {							\
	v0 += v1; v1 = SIP_ROTL(v1, 13); v1 ^= v0; v0 = SIP_ROTL(v0, 32); \
	v2 += v3; v3 = SIP_ROTL(v3, 16); v3 ^= v2;			\
	v0 += v3; v3 = SIP_ROTL(v3, 21); v3 ^= v0;			\
	v2 += v1; v1 = SIP_ROTL(v1, 17); v1 ^= v2; v2 = SIP_ROTL(v2, 32); \
} while (0)

/* SipHash-1-3 of the n 64-bit words at m. */
static inline uint64_t
siphash13(const uint64_t key[2], const uint64_t *m, int n)
{
	uint64_t	 v0 = 0x736f6d6570736575ULL ^ key[0];
	uint64_t	 v1 = 0x646f72616e646f6dULL ^ key[1];
	uint64_t	 v2 = 0x6c7967656e657261ULL ^ key[0];
	uint64_t	 v3 = 0x7465646279746573ULL ^ key[1];
	uint64_t	 b = (uint64_t)(n * 8) << 56;
	int		 i;

	for (i = 0; i < n; i++) {
		v3 ^= m[i];
		SIP_ROUND;
		v0 ^= m[i];
	}
	v3 ^= b;
	SIP_ROUND;
	v0 ^= b;
	v2 ^= 0xff;
	SIP_ROUND;
	SIP_ROUND;
	SIP_ROUND;
	return (v0 ^ v1 ^ v2 ^ v3);
}

#undef SIP_ROUND
#undef SIP_ROTL

#endif /* NFQSPI_SIPHASH_H */
