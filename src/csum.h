/*
 * csum.h - Internet checksums of a parsed packet (RFC 1071)
 *
 * Copyright (C) 2026 The nfqspid authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * Pure: no I/O, no globals.  What nf_conntrack_checksum makes the
 * kernel's trackers check: the IPv4 header, TCP, UDP, ICMP and ICMPv6.
 */
#ifndef NFQSPI_CSUM_H
#define NFQSPI_CSUM_H

#include <stddef.h>
#include <stdint.h>

#include "pkt.h"

/* What csum_verify() checks */
#define CSUM_IP		0x01	/* the IPv4 header */
#define CSUM_L4		0x02	/* TCP, UDP, ICMP, ICMPv6 */

/*
 * Check the checksums of p, which pkt_parse() accepted.  The transport
 * checksum is checked only on a whole packet (not a fragment) of which
 * every byte is at hand (p->len >= p->iplen), and not over an IPv6
 * routing header that still has segments left (the pseudo header wants
 * the final destination).  Returns 0, or -1 with *why set to
 * REASON_IP_CHECKSUM or REASON_L4_CHECKSUM.
 */
int		 csum_verify(const struct pkt *p, unsigned what,
		    enum reason *why);

/* The one's complement sum of b (n bytes) added to sum, not folded. */
uint32_t	 csum_add(uint32_t sum, const uint8_t *b, size_t n);
/* sum folded to 16 bits and complemented: the checksum field's value */
uint16_t	 csum_fold(uint32_t sum);

#endif /* NFQSPI_CSUM_H */
