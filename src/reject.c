/*
 * reject.c - the answer to a packet a reject rule refused
 *
 * Copyright (C) 2026 The nfqspid authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * What iptables' REJECT does (nf_reject_ipv4.c, nf_reject_ipv6.c), built
 * into a buffer: the RST follows RFC 9293 3.10.7.1, the unreachables
 * RFC 1122 3.2.2 / RFC 1812 4.3.2 and RFC 4443 2.4.
 */
#include <sys/socket.h>
#include <netinet/in.h>

#include <string.h>

#include "reject.h"
#include "bytes.h"

#define IP4_HDRLEN	20
#define IP6_HDRLEN	40
#define TCP_HDRLEN	20
#define ICMP_HDRLEN	8

uint32_t
reject_csum_add(uint32_t sum, const uint8_t *b, size_t n)
{
	size_t	 i;

	for (i = 0; i + 1 < n; i += 2)
		sum += (uint32_t)b[i] << 8 | b[i + 1];
	if (n & 1)
		sum += (uint32_t)b[n - 1] << 8;
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (sum);
}

static uint16_t
csum_fold(uint32_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return ((uint16_t)~sum);
}

/* The pseudo-header of TCP over IPv4/IPv6 and of ICMPv6. */
static uint32_t
pseudo(uint8_t family, const uint8_t *src, const uint8_t *dst,
    uint8_t proto, uint32_t len)
{
	uint8_t		 b[8];
	uint32_t	 sum;
	size_t		 alen = family == AF_INET ? 4 : 16;

	sum = reject_csum_add(0, src, alen);
	sum = reject_csum_add(sum, dst, alen);
	if (family == AF_INET) {
		b[0] = 0;
		b[1] = proto;
		put16(b + 2, (uint16_t)len);
		return (reject_csum_add(sum, b, 4));
	}
	put32(b, len);
	b[4] = b[5] = b[6] = 0;
	b[7] = proto;
	return (reject_csum_add(sum, b, 8));
}

/* May anything be sent to (or claim to come from) this address? */
static int
unicast(uint8_t family, const union pkt_addr *a)
{
	static const uint8_t	 zero[16];

	if (family == AF_INET) {
		if (memcmp(a->a8, zero, 4) == 0)
			return (0);		/* 0.0.0.0 */
		if ((a->a8[0] & 0xf0) == 0xe0)
			return (0);		/* 224/4 multicast */
		if (a->a8[0] == 0xff && a->a8[1] == 0xff &&
		    a->a8[2] == 0xff && a->a8[3] == 0xff)
			return (0);		/* limited broadcast */
		return (1);
	}
	if (memcmp(a->a8, zero, 16) == 0)
		return (0);			/* :: */
	if (a->a8[0] == 0xff)
		return (0);			/* ff00::/8 multicast */
	return (1);
}

/* The IP header of the answer, source and destination swapped. */
static size_t
ip_header(const struct pkt *p, uint8_t *b, uint8_t proto, size_t l4len)
{
	if (p->family == AF_INET) {
		memset(b, 0, IP4_HDRLEN);
		b[0] = 0x45;
		put16(b + 2, (uint16_t)(IP4_HDRLEN + l4len));
		b[6] = 0x40;			/* DF, as the kernel's */
		b[8] = REJECT_TTL;
		b[9] = proto;
		memcpy(b + 12, p->dst.a8, 4);
		memcpy(b + 16, p->src.a8, 4);
		put16(b + 10, csum_fold(reject_csum_add(0, b, IP4_HDRLEN)));
		return (IP4_HDRLEN);
	}
	memset(b, 0, IP6_HDRLEN);
	b[0] = 0x60;
	put16(b + 4, (uint16_t)l4len);
	b[6] = proto;
	b[7] = REJECT_TTL;
	memcpy(b + 8, p->dst.a8, 16);
	memcpy(b + 24, p->src.a8, 16);
	return (IP6_HDRLEN);
}

static size_t
build_rst(const struct pkt *p, uint8_t *buf)
{
	uint8_t		*t;
	size_t		 hl;
	uint32_t	 seq, ack = 0;
	uint8_t		 flags;

	/*
	 * RFC 9293 3.10.7.1: if the segment has an ACK, the reset takes
	 * its sequence number from that ACK; otherwise it is sequence 0 and
	 * acknowledges everything the segment occupied.
	 */
	if (p->th_flags & PKT_TH_ACK) {
		seq = p->ack;
		flags = PKT_TH_RST;
	} else {
		seq = 0;
		ack = p->seq + p->paylen + ((p->th_flags & PKT_TH_SYN) ? 1 : 0) +
		    ((p->th_flags & PKT_TH_FIN) ? 1 : 0);
		flags = PKT_TH_RST | PKT_TH_ACK;
	}
	hl = ip_header(p, buf, IPPROTO_TCP, TCP_HDRLEN);
	t = buf + hl;
	memset(t, 0, TCP_HDRLEN);
	put16(t, p->dport);
	put16(t + 2, p->sport);
	put32(t + 4, seq);
	put32(t + 8, ack);
	t[12] = (TCP_HDRLEN / 4) << 4;
	t[13] = flags;
	put16(t + 16, csum_fold(reject_csum_add(pseudo(p->family, p->dst.a8,
	    p->src.a8, IPPROTO_TCP, TCP_HDRLEN), t, TCP_HDRLEN)));
	return (hl + TCP_HDRLEN);
}

static size_t
build_unreach(const struct pkt *p, uint8_t *buf)
{
	struct pkt	 q;
	enum reason	 why;
	size_t		 hl, quote, room, have, n;
	uint8_t		*ic;
	uint32_t	 sum;

	/* what we have of the packet, no more than its IP length says */
	have = p->len;
	if (p->iplen != 0 && p->iplen < have)
		have = p->iplen;
	if (p->family == AF_INET)
		room = REJECT_MAXLEN4 - IP4_HDRLEN - ICMP_HDRLEN;
	else
		room = REJECT_MAXLEN - IP6_HDRLEN - ICMP_HDRLEN;
	quote = have < room ? have : room;

	hl = ip_header(p, buf, p->family == AF_INET ? IPPROTO_ICMP :
	    IPPROTO_ICMPV6, ICMP_HDRLEN + quote);
	ic = buf + hl;
	memset(ic, 0, ICMP_HDRLEN);
	if (p->family == AF_INET) {
		ic[0] = 3;		/* destination unreachable */
		ic[1] = 3;		/* port unreachable */
	} else {
		ic[0] = 1;		/* destination unreachable */
		ic[1] = 4;		/* port unreachable */
	}
	memcpy(ic + ICMP_HDRLEN, p->data, quote);
	sum = p->family == AF_INET ? 0 : pseudo(AF_INET6, p->dst.a8,
	    p->src.a8, IPPROTO_ICMPV6, (uint32_t)(ICMP_HDRLEN + quote));
	put16(ic + 2, csum_fold(reject_csum_add(sum, ic,
	    ICMP_HDRLEN + quote)));
	n = hl + ICMP_HDRLEN + quote;
	/*
	 * An error must quote an IP header and what follows it well enough
	 * to name the connection (RFC 792, RFC 4443).  A packet too short
	 * or too malformed for that (one the parser refused: a policy may
	 * reject INVALID packets) gets no answer rather than one that
	 * every receiver, ourselves included, drops as bad-icmp-inner.
	 */
	if (pkt_parse(&q, buf, n, &why) == -1)
		return (0);
	return (n);
}

size_t
reject_build(const struct pkt *p, uint8_t *buf, size_t len)
{
	if (len < REJECT_MAXLEN || p->data == NULL)
		return (0);
	if (p->family != AF_INET && p->family != AF_INET6)
		return (0);
	/* a later fragment has no header to answer (RFC 1122 3.2.2) */
	if (p->frag == PKT_FRAG_LATER)
		return (0);
	if (!unicast(p->family, &p->src) || !unicast(p->family, &p->dst))
		return (0);
	if (p->family == AF_INET && p->src.a8[0] == 127)
		return (0);		/* loopback from the wire: martian */
	switch (p->proto) {
	case IPPROTO_TCP:
		if (p->th_flags & PKT_TH_RST)
			return (0);	/* never answer a reset */
		return (build_rst(p, buf));
	case IPPROTO_ICMP:
		/* never an error about an error (RFC 1122 3.2.2) */
		if (p->family == AF_INET && (p->is_icmp_error ||
		    p->icmp_type == 3 || p->icmp_type == 4 ||
		    p->icmp_type == 5 || p->icmp_type == 11 ||
		    p->icmp_type == 12))
			return (0);
		break;
	case IPPROTO_ICMPV6:
		/* RFC 4443 2.4 (e.1): types below 128 are errors */
		if (p->family == AF_INET6 &&
		    (p->is_icmp_error || p->icmp_type < 128))
			return (0);
		break;
	default:
		break;
	}
	return (build_unreach(p, buf));
}

/*
 * FNV-1a over the bytes the queue would copy of an answer, without what
 * the kernel fills in on the way out of an IPv4 raw socket (the id and
 * the header checksum).
 */
static uint32_t
memory_hash(const uint8_t *b, size_t n)
{
	uint32_t	 h = 2166136261u;
	size_t		 i;

	if (n > REJECT_MEMORY_COPY)
		n = REJECT_MEMORY_COPY;
	for (i = 0; i < n; i++) {
		if ((b[0] >> 4) == 4 && (i == 4 || i == 5 || i == 10 ||
		    i == 11))
			continue;
		h = (h ^ b[i]) * 16777619u;
	}
	return (h);
}

void
reject_memory_add(struct reject_memory *m, const uint8_t *b, size_t n,
    uint64_t now_ms)
{
	struct reject_sent	*o = &m->s[m->next++ % REJECT_MEMORY];

	o->when = m->last = now_ms;
	o->hash = memory_hash(b, n);
	o->len = (uint32_t)n;
}

int
reject_memory_match(struct reject_memory *m, const uint8_t *data, size_t len,
    size_t origlen, uint64_t now_ms)
{
	struct reject_sent	*o;
	uint32_t		 h = 0;
	unsigned		 i;
	int			 hashed = 0;

	if (!reject_memory_recent(m, now_ms) || len < 20)
		return (0);
	for (i = 0; i < REJECT_MEMORY; i++) {
		o = &m->s[i];
		if (o->when == 0 || now_ms > o->when + REJECT_MEMORY_MS ||
		    o->len != origlen)
			continue;
		if (!hashed) {
			h = memory_hash(data, len);
			hashed = 1;
		}
		if (o->hash == h) {
			o->when = 0;
			return (1);
		}
	}
	return (0);
}
