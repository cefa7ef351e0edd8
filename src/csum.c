/*
 * csum.c - Internet checksums of a parsed packet (RFC 1071)
 *
 * Copyright (C) 2026 The nfqspid authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * A bad checksum makes a packet INVALID where nf_conntrack's trackers
 * say so (tcp_error(), udp_error(), icmp_error(), icmpv6_error()), with
 * one difference: UDP over IPv6 with a checksum of 0 is bad here, as
 * RFC 8200 8.1 says, where the kernel leaves it to the socket layer.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <netinet/in.h>

#include <string.h>

#include "csum.h"

#define IP6_HDRLEN	40
#define MAX_EXTHDR	8

uint32_t
csum_add(uint32_t sum, const uint8_t *b, size_t n)
{
	uint64_t	 s = sum;
	size_t		 i;

	for (i = 0; i + 8 <= n; i += 8)
		s += ((uint32_t)b[i] << 8 | b[i + 1]) +
		    ((uint32_t)b[i + 2] << 8 | b[i + 3]) +
		    ((uint32_t)b[i + 4] << 8 | b[i + 5]) +
		    ((uint32_t)b[i + 6] << 8 | b[i + 7]);
	for (; i + 2 <= n; i += 2)
		s += (uint32_t)b[i] << 8 | b[i + 1];
	if (i < n)
		s += (uint32_t)b[i] << 8;	/* an odd byte, padded */
	while (s >> 32)
		s = (s & 0xffffffff) + (s >> 32);
	return ((uint32_t)s);
}

uint16_t
csum_fold(uint32_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return ((uint16_t)~sum);
}

/*
 * An IPv6 routing header with segments left: the destination in the
 * header is not the one the sender's pseudo header used.  pkt_parse()
 * has checked the chain already; the bounds are checked again anyway.
 */
static int
ip6_routed(const struct pkt *p)
{
	const uint8_t	*b = p->data;
	size_t		 off = IP6_HDRLEN, hlen;
	uint8_t		 nh = b[6];
	int		 n;

	for (n = 0; n < MAX_EXTHDR && off + 8 <= p->len; n++) {
		switch (nh) {
		case IPPROTO_ROUTING:
			if (b[off + 3] != 0)
				return (1);
			/* FALLTHROUGH */
		case IPPROTO_HOPOPTS:
		case IPPROTO_DSTOPTS:
			hlen = ((size_t)b[off + 1] + 1) * 8;
			break;
		case IPPROTO_AH:
			hlen = ((size_t)b[off + 1] + 2) * 4;
			break;
		default:
			return (0);
		}
		nh = b[off];
		off += hlen;
	}
	return (0);
}

/* The pseudo header (RFC 793, RFC 768, RFC 8200 8.1) */
static uint32_t
pseudo(const struct pkt *p, size_t l4len)
{
	uint32_t	 sum;

	if (p->family == AF_INET) {
		sum = csum_add(0, p->src.a8, 4);
		sum = csum_add(sum, p->dst.a8, 4);
	} else {
		sum = csum_add(0, p->src.a8, 16);
		sum = csum_add(sum, p->dst.a8, 16);
	}
	return (sum + p->proto + (uint32_t)(l4len >> 16) +
	    (uint32_t)(l4len & 0xffff));
}

static int
l4_ok(const struct pkt *p)
{
	const uint8_t	*l4 = p->data + p->l4off;
	size_t		 l4len = p->iplen - p->l4off;
	uint32_t	 sum = 0;

	switch (p->proto) {
	case IPPROTO_TCP:
		break;
	case IPPROTO_UDP:
		/* the UDP length, not the IP one: trailing bytes are not
		   covered (pkt_parse() checked it fits) */
		l4len = (size_t)p->paylen + 8;
		if (l4[6] == 0 && l4[7] == 0)
			return (p->family == AF_INET);	/* none sent */
		break;
	case IPPROTO_ICMP:
		if (p->family != AF_INET)
			return (1);
		return (csum_fold(csum_add(0, l4, l4len)) == 0);
	case IPPROTO_ICMPV6:
		if (p->family != AF_INET6)
			return (1);
		break;
	default:
		return (1);	/* nothing the kernel checks */
	}
	sum = pseudo(p, l4len);
	return (csum_fold(csum_add(sum, l4, l4len)) == 0);
}

int
csum_verify(const struct pkt *p, unsigned what, enum reason *why)
{
	size_t	 hl;

	if ((what & CSUM_IP) && p->family == AF_INET) {
		hl = (size_t)(p->data[0] & 0x0f) * 4;
		if (hl <= p->len &&
		    csum_fold(csum_add(0, p->data, hl)) != 0) {
			*why = REASON_IP_CHECKSUM;
			return (-1);
		}
	}
	if (!(what & CSUM_L4) || p->frag != PKT_FRAG_NONE ||
	    p->len < p->iplen || p->l4off > p->iplen)
		return (0);
	if (p->family == AF_INET6 && ip6_routed(p))
		return (0);
	if (!l4_ok(p)) {
		*why = REASON_L4_CHECKSUM;
		return (-1);
	}
	return (0);
}
