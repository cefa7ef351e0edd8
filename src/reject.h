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

/*
 * The answers a worker sent lately.  When the host's OUTPUT chain is
 * diverted too, an answer comes back through the queue; the tracker knows
 * no connection for it (the refused packet never made one), so the worker
 * recognises it here and lets it out.  An answer is known by its length
 * on the wire and a hash of the bytes the queue copies of it, less what
 * the kernel fills in on the way out of an IPv4 raw socket (the id and
 * the header checksum); each is let out once, within REJECT_MEMORY_MS.
 */
#define REJECT_MEMORY		64	/* answers remembered */
#define REJECT_MEMORY_MS	2000	/* ... for this long */
#define REJECT_MEMORY_COPY	512	/* bytes the queue copies (nq.h) */

struct reject_sent {
	uint64_t	 when;		/* 0: empty */
	uint32_t	 hash;
	uint32_t	 len;
};

struct reject_memory {
	struct reject_sent s[REJECT_MEMORY];
	unsigned	 next;
	uint64_t	 last;		/* when the last was sent, 0: never */
};

/* Remember answer b (n bytes) sent at now_ms. */
void	 reject_memory_add(struct reject_memory *m, const uint8_t *b,
	    size_t n, uint64_t now_ms);
/*
 * Is data (len bytes copied of origlen) an answer m holds?  1 (and it is
 * forgotten) or 0.
 */
int	 reject_memory_match(struct reject_memory *m, const uint8_t *data,
	    size_t len, size_t origlen, uint64_t now_ms);

/* Was any answer sent lately?  Most of the time not: no hash, no search. */
static inline int
reject_memory_recent(const struct reject_memory *m, uint64_t now_ms)
{
	return (m->last != 0 && now_ms <= m->last + REJECT_MEMORY_MS);
}

#endif /* NFQSPI_REJECT_H */
