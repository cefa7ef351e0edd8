/*
 * reject.h - the answer to a packet a reject rule refused
 *
 * Copyright (C) 2026 The nfqspid authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * Pure: no I/O, no globals.  reject_build() writes a complete IPv4 or
 * IPv6 packet, checksums included, for a raw socket with IP_HDRINCL /
 * IPV6_HDRINCL to send: a TCP RST for TCP, an ICMP port unreachable
 * (type 3 code 3) or ICMPv6 port unreachable (type 1 code 4) quoting the
 * packet for anything else.  The answer comes from the address the
 * packet was sent to, as if that host had refused it.
 */
#ifndef NFQSPI_REJECT_H
#define NFQSPI_REJECT_H

#include <stddef.h>
#include <stdint.h>

#include "pkt.h"

/* IPv6's minimum MTU: no answer is longer */
#define REJECT_MAXLEN		1280
/* IPv4 answers stay within 576 bytes (RFC 1812 4.3.2.3) */
#define REJECT_MAXLEN4		576

#define REJECT_TTL		64

/*
 * The answer to p, parsed by pkt_parse() from p->data (p->len bytes, as
 * much of the packet as we have).  Returns its length, or 0 when no
 * answer may be sent: a TCP RST, an ICMP or ICMPv6 error, a later
 * fragment, a packet to or from a multicast, broadcast or unspecified
 * address, or buf shorter than REJECT_MAXLEN.
 */
size_t	 reject_build(const struct pkt *p, uint8_t *buf, size_t len);

/* Internet checksum of b, folded, not complemented, added to sum. */
uint32_t reject_csum_add(uint32_t sum, const uint8_t *b, size_t n);

#endif /* NFQSPI_REJECT_H */
