/*
 * bytes.h - big-endian (network order) loads and stores at any alignment
 *
 * Copyright (C) 2026 The nfqspid authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * One copy for the parser, the fragment cache, the reject builder, the
 * control and sync codecs and --replay, which each had their own.
 */
#ifndef NFQSPI_BYTES_H
#define NFQSPI_BYTES_H

#include <stdint.h>

static inline uint16_t
get16(const uint8_t *b)
{
	return ((uint16_t)((unsigned)b[0] << 8 | b[1]));
}

static inline uint32_t
get32(const uint8_t *b)
{
	return ((uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 |
	    (uint32_t)b[2] << 8 | b[3]);
}

static inline void
put16(uint8_t *b, uint16_t v)
{
	b[0] = (uint8_t)(v >> 8);
	b[1] = (uint8_t)v;
}

static inline void
put32(uint8_t *b, uint32_t v)
{
	b[0] = (uint8_t)(v >> 24);
	b[1] = (uint8_t)(v >> 16);
	b[2] = (uint8_t)(v >> 8);
	b[3] = (uint8_t)v;
}

#endif /* NFQSPI_BYTES_H */
