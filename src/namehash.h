/*
 * namehash.h - a hash of short names (config sections and keys, service
 * names) for open-addressing tables
 *
 * Copyright (C) 2026 The nfqspid authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * FNV-1a, then MurmurHash3's finaliser so that the low bits, which pick
 * the slot, depend on every bit of the seed and the name.  The names are
 * an operator's or the system's own, not an attacker's: no key.
 */
#ifndef NFQSPI_NAMEHASH_H
#define NFQSPI_NAMEHASH_H

#include <ctype.h>
#include <stdint.h>

/* fold: hash the name lowercased (names that are not case sensitive) */
static inline uint32_t
spi_name_hash(uint32_t seed, const char *s, int fold)
{
	uint32_t	 h = 2166136261u ^ seed;

	for (; *s != '\0'; s++) {
		h ^= (unsigned char)(fold ? tolower((unsigned char)*s) : *s);
		h *= 16777619u;
	}
	h ^= h >> 16;
	h *= 0x85ebca6bu;
	h ^= h >> 13;
	h *= 0xc2b2ae35u;
	h ^= h >> 16;
	return (h);
}

#endif /* NFQSPI_NAMEHASH_H */
