/*
 * pkt.c - bounds-checked parser for the packets the queue hands us
 *
 * Copyright (C) 2026 The nfqspid authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * Two lengths matter for every header:
 *   claim  what the IP header says the packet holds (total length);
 *   avail  what we were given, never more than claim (NFQUEUE may copy
 *          fewer bytes than the packet has, and Ethernet may pad it).
 * A header that ends past the claim is malformed; one that ends past
 * avail but within the claim was cut by the copy range: its reason says
 * "truncated".  Nothing is ever read at or past buf + avail.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <stdio.h>
#include <string.h>

#include "pkt.h"
#include "bytes.h"

/* An attacker gets at most this many IPv6 extension headers. */
#define PKT_MAX_EXTHDR	8

#define IP4_HDRLEN	20
#define IP6_HDRLEN	40
#define TCP_HDRLEN	20
#define UDP_HDRLEN	8
#define ICMP_HDRLEN	8
#define QUOTE_L4LEN	8	/* transport bytes an ICMP error quotes */

#define IP4_MF		0x2000
#define IP4_OFFMASK	0x1fff

/* IPv6 extension headers (RFC 8200) and a few protocol numbers */
#define NH_HOPOPTS	0
#define NH_ICMP		1
#define NH_TCP		6
#define NH_UDP		17
#define NH_ROUTING	43
#define NH_FRAGMENT	44
#define NH_AH		51
#define NH_ICMPV6	58
#define NH_DSTOPTS	60

/* TCP option kinds */
#define TCPOPT_EOL	0
#define TCPOPT_NOP	1
#define TCPOPT_MSS	2
#define TCPOPT_WSCALE	3
#define TCPOPT_SACK_PERM 4
#define TCPOPT_SACK	5
#define TCPOPT_TS	8
#define TCP_MAX_WSCALE	14	/* RFC 7323 2.3: larger shifts mean 14 */

/* where [off, off + n) lies */
enum span {
	SPAN_OK = 0,
	SPAN_BUF,		/* past what we were given, within the claim */
	SPAN_CLAIM		/* past what the IP header claims */
};

/* Bounds of one IP packet (outer, or the one an ICMP error quotes). */
struct bounds {
	const uint8_t	*b;
	size_t		 avail;	/* <= claim */
	size_t		 claim;
};

static enum span
span(const struct bounds *bd, size_t off, size_t n)
{
	if (off > bd->claim || n > bd->claim - off)
		return (SPAN_CLAIM);
	if (off > bd->avail || n > bd->avail - off)
		return (SPAN_BUF);
	return (SPAN_OK);
}

static int
icmp4_is_error(uint8_t type)
{
	/* as the kernel's icmp_is_err(): unreachable, source quench,
	   redirect, time exceeded, parameter problem */
	switch (type) {
	case 3: case 4: case 5: case 11: case 12:
		return (1);
	default:
		return (0);
	}
}

static int
icmp4_has_id(uint8_t type)
{
	/* echo, timestamp, information and address mask carry an id */
	switch (type) {
	case 0: case 8: case 13: case 14: case 15: case 16: case 17: case 18:
		return (1);
	default:
		return (0);
	}
}

static int
icmp6_is_error(uint8_t type)
{
	/* RFC 4443: error messages are types 0-127; 1-4 are defined */
	return (type >= 1 && type <= 4);
}

static int
icmp6_has_id(uint8_t type)
{
	/* echo request/reply, node information query/response */
	switch (type) {
	case 128: case 129: case 139: case 140:
		return (1);
	default:
		return (0);
	}
}

/*
 * Walk the IPv6 extension headers from off (just past the fixed header).
 * On return *nh is the upper-layer protocol and *off its offset.  The
 * fragment header sets *frag; after a non-first fragment nothing more can
 * be read; *fhoff is where the fragment header is.  Errors: past the
 * claim => REASON_IP_LENGTH (REASON_FRAGMENT when the first fragment does
 * not hold the whole chain, RFC 7112), past the buffer =>
 * REASON_IP_TRUNCATED.
 */
static int
ip6_walk(const struct bounds *bd, uint8_t *nh, size_t *off, uint8_t *frag,
    size_t *fhoff, enum reason *why)
{
	const uint8_t	*h;
	size_t		 hlen;
	unsigned	 n, fragoff;
	enum span	 s;

	*frag = PKT_FRAG_NONE;
	*fhoff = 0;
	for (n = 0;; n++) {
		switch (*nh) {
		case NH_HOPOPTS:
		case NH_ROUTING:
		case NH_DSTOPTS:
		case NH_FRAGMENT:
		case NH_AH:
			break;
		default:
			/* upper layer, ESP, no-next-header or unknown */
			return (0);
		}
		if (n >= PKT_MAX_EXTHDR) {
			*why = REASON_IP6_EXTCHAIN;
			return (-1);
		}
		/* every extension header is at least 8 bytes */
		if ((s = span(bd, *off, 8)) != SPAN_OK)
			goto short_hdr;
		h = bd->b + *off;
		switch (*nh) {
		case NH_HOPOPTS:
			/* RFC 8200 4.1: only right after the IPv6 header */
			if (*off != IP6_HDRLEN) {
				*why = REASON_IP6_EXTHDR;
				return (-1);
			}
			hlen = ((size_t)h[1] + 1) * 8;
			break;
		case NH_ROUTING:
			/* RFC 5095: type 0 is deprecated, drop it */
			if (h[2] == 0 && h[3] != 0) {
				*why = REASON_IP6_EXTHDR;
				return (-1);
			}
			hlen = ((size_t)h[1] + 1) * 8;
			break;
		case NH_DSTOPTS:
			hlen = ((size_t)h[1] + 1) * 8;
			break;
		case NH_AH:
			hlen = ((size_t)h[1] + 2) * 4;
			break;
		case NH_FRAGMENT:
			if (*fhoff != 0) {
				/* one fragment header per packet */
				*why = REASON_IP6_EXTHDR;
				return (-1);
			}
			hlen = 8;
			*fhoff = *off;
			fragoff = get16(h + 2) >> 3;
			if (fragoff > 0) {
				*frag = PKT_FRAG_LATER;
				*nh = h[0];
				*off += hlen;
				return (0);
			}
			/* offset 0 without M is an atomic fragment (RFC
			   6946): the whole packet, nothing to reassemble */
			if (h[3] & 1)
				*frag = PKT_FRAG_FIRST;
			break;
		default:
			*why = REASON_IP6_EXTHDR;	/* not reached */
			return (-1);
		}
		if ((s = span(bd, *off, hlen)) != SPAN_OK)
			goto short_hdr;
		*nh = h[0];
		*off += hlen;
	}

 short_hdr:
	if (s == SPAN_CLAIM)
		*why = *frag == PKT_FRAG_FIRST ? REASON_FRAGMENT :
		    REASON_IP_LENGTH;
	else
		*why = REASON_IP_TRUNCATED;
	return (-1);
}

/*
 * Options of a TCP header of hlen bytes at th.  A length byte missing,
 * below 2 or past the header, or a known option of the wrong size, is a
 * malformed list.
 */
static int
tcp_options(struct pkt *p, const uint8_t *th, size_t hlen)
{
	size_t		 i, olen, n, k;

	for (i = TCP_HDRLEN; i < hlen; i += olen) {
		switch (th[i]) {
		case TCPOPT_EOL:
			return (0);
		case TCPOPT_NOP:
			olen = 1;
			continue;
		default:
			break;
		}
		if (hlen - i < 2)
			return (-1);
		olen = th[i + 1];
		if (olen < 2 || olen > hlen - i)
			return (-1);
		switch (th[i]) {
		case TCPOPT_MSS:
			if (olen != 4)
				return (-1);
			break;
		case TCPOPT_WSCALE:
			if (olen != 3)
				return (-1);
			p->wscale = th[i + 2] > TCP_MAX_WSCALE ?
			    TCP_MAX_WSCALE : th[i + 2];
			break;
		case TCPOPT_SACK_PERM:
			if (olen != 2)
				return (-1);
			p->sack_perm = 1;
			break;
		case TCPOPT_SACK:
			if (olen < 10 || (olen - 2) % 8 != 0)
				return (-1);
			n = (olen - 2) / 8;
			if (n > PKT_MAX_SACK)
				return (-1);	/* cannot fit in 40 bytes */
			for (k = 0; k < n; k++) {
				p->sack[k][0] = get32(th + i + 2 + k * 8);
				p->sack[k][1] = get32(th + i + 6 + k * 8);
			}
			p->nsack = (uint8_t)n;
			break;
		case TCPOPT_TS:
			if (olen != 10)
				return (-1);
			break;
		default:
			/* unknown kinds are skipped by their length */
			break;
		}
	}
	return (0);
}

/*
 * The packet an ICMP or ICMPv6 error quotes, at off: its IP header and
 * the first 8 bytes of its transport header (RFC 792, RFC 4443).  A quote
 * too short or malformed is REASON_ICMP_INNER; one cut by the copy range
 * is REASON_L4_TRUNCATED, as we cannot judge what we were not given;
 * in a first fragment, a quote the fragment does not hold is
 * REASON_FRAGMENT.
 */
static int
icmp_inner(struct pkt *p, const struct bounds *outer, size_t off, int first,
    enum reason *why)
{
	struct pkt_inner *in = &p->inner;
	struct bounds	 bd;
	const uint8_t	*q, *l4;
	size_t		 l4off, hl;
	uint8_t		 nh, frag;
	size_t		 fhoff;
	enum span	 s;
	enum reason	 r;

	bd.b = outer->b + off;
	bd.avail = outer->avail - off;
	bd.claim = outer->claim - off;

	if ((s = span(&bd, 0, 1)) != SPAN_OK)
		goto short_quote;
	q = bd.b;
	switch (q[0] >> 4) {
	case 4:
		if (p->family != AF_INET)
			goto bad;
		if ((s = span(&bd, 0, IP4_HDRLEN)) != SPAN_OK)
			goto short_quote;
		hl = (size_t)(q[0] & 0x0f) * 4;
		if (hl < IP4_HDRLEN || get16(q + 2) < hl)
			goto bad;
		if ((s = span(&bd, 0, hl)) != SPAN_OK)
			goto short_quote;
		in->family = AF_INET;
		in->proto = q[9];
		memcpy(in->src.a8, q + 12, 4);
		memcpy(in->dst.a8, q + 16, 4);
		/* a later fragment has no transport header to quote */
		if ((get16(q + 6) & IP4_OFFMASK) != 0)
			return (0);
		l4off = hl;
		break;
	case 6:
		if (p->family != AF_INET6)
			goto bad;
		if ((s = span(&bd, 0, IP6_HDRLEN)) != SPAN_OK)
			goto short_quote;
		in->family = AF_INET6;
		memcpy(in->src.a8, q + 8, 16);
		memcpy(in->dst.a8, q + 24, 16);
		nh = q[6];
		l4off = IP6_HDRLEN;
		if (ip6_walk(&bd, &nh, &l4off, &frag, &fhoff, &r) == -1) {
			if (r == REASON_IP_TRUNCATED)
				*why = REASON_L4_TRUNCATED;
			else if (r == REASON_IP_LENGTH && first)
				*why = REASON_FRAGMENT;
			else
				*why = REASON_ICMP_INNER;
			return (-1);
		}
		in->proto = nh;
		if (frag == PKT_FRAG_LATER)
			return (0);
		break;
	default:
		goto bad;
	}

	switch (in->proto) {
	case NH_TCP:
	case NH_UDP:
	case NH_ICMP:
	case NH_ICMPV6:
		break;
	default:
		/* nothing we track by port or id */
		return (0);
	}
	if ((s = span(&bd, l4off, QUOTE_L4LEN)) != SPAN_OK)
		goto short_quote;
	l4 = bd.b + l4off;
	switch (in->proto) {
	case NH_TCP:
		in->seq = get32(l4 + 4);
		/* FALLTHROUGH */
	case NH_UDP:
		in->sport = get16(l4);
		in->dport = get16(l4 + 2);
		break;
	case NH_ICMP:
	case NH_ICMPV6:
		/* must be the ICMP of this family, and never an error
		   about an error (RFC 1122 3.2.2, RFC 4443 2.4) */
		if (in->proto != (in->family == AF_INET ? NH_ICMP : NH_ICMPV6))
			goto bad;
		in->icmp_type = l4[0];
		in->icmp_code = l4[1];
		if (in->family == AF_INET ? icmp4_is_error(l4[0]) :
		    icmp6_is_error(l4[0]))
			goto bad;
		in->icmp_id = get16(l4 + 4);
		break;
	default:
		goto bad;	/* not reached */
	}
	return (0);

 short_quote:
	if (s == SPAN_BUF) {
		*why = REASON_L4_TRUNCATED;
		return (-1);
	}
	if (first) {
		*why = REASON_FRAGMENT;
		return (-1);
	}
 bad:
	*why = REASON_ICMP_INNER;
	return (-1);
}

/* The transport header at p->l4off.  p->frag is FIRST or NONE. */
static int
parse_l4(struct pkt *p, const struct bounds *bd, enum reason *why)
{
	const uint8_t	*h;
	size_t		 off = p->l4off, claim, hlen, ulen;
	int		 first = p->frag == PKT_FRAG_FIRST;
	enum span	 s;

	claim = bd->claim - off;
	switch (p->proto) {
	case NH_TCP:
		if ((s = span(bd, off, TCP_HDRLEN)) != SPAN_OK)
			goto short_hdr;
		h = bd->b + off;
		p->sport = get16(h);
		p->dport = get16(h + 2);
		p->seq = get32(h + 4);
		p->ack = get32(h + 8);
		p->th_flags = h[13];
		p->win = get16(h + 14);
		hlen = (size_t)(h[12] >> 4) * 4;
		if (hlen < TCP_HDRLEN) {
			*why = REASON_TCP_HDRLEN;
			return (-1);
		}
		if ((s = span(bd, off, hlen)) != SPAN_OK) {
			if (s == SPAN_CLAIM)
				*why = first ? REASON_FRAGMENT :
				    REASON_TCP_HDRLEN;
			else
				*why = REASON_L4_TRUNCATED;
			return (-1);
		}
		if (tcp_options(p, h, hlen) == -1) {
			*why = REASON_TCP_OPTIONS;
			return (-1);
		}
		p->paylen = (uint32_t)(claim - hlen);
		return (0);

	case NH_UDP:
		if ((s = span(bd, off, UDP_HDRLEN)) != SPAN_OK)
			goto short_hdr;
		h = bd->b + off;
		p->sport = get16(h);
		p->dport = get16(h + 2);
		ulen = get16(h + 4);
		/*
		 * Shorter than the IP payload is trailing junk the kernel
		 * trims; longer is a lie, except in a first fragment, whose
		 * UDP length covers the whole datagram.
		 */
		if (ulen < UDP_HDRLEN || (!first && ulen > claim)) {
			*why = REASON_UDP_LENGTH;
			return (-1);
		}
		p->paylen = (uint32_t)(ulen - UDP_HDRLEN);
		return (0);

	case NH_ICMP:
	case NH_ICMPV6:
		/* ICMP in IPv6 or ICMPv6 in IPv4 is just a protocol number */
		if (p->proto != (p->family == AF_INET ? NH_ICMP : NH_ICMPV6))
			return (0);
		if ((s = span(bd, off, ICMP_HDRLEN)) != SPAN_OK)
			goto short_hdr;
		h = bd->b + off;
		p->icmp_type = h[0];
		p->icmp_code = h[1];
		if (p->family == AF_INET ? icmp4_has_id(h[0]) :
		    icmp6_has_id(h[0])) {
			p->icmp_id = get16(h + 4);
			return (0);
		}
		if (!(p->family == AF_INET ? icmp4_is_error(h[0]) :
		    icmp6_is_error(h[0])))
			return (0);
		if (icmp_inner(p, bd, off + ICMP_HDRLEN, first, why) == -1)
			return (-1);
		p->is_icmp_error = 1;
		return (0);

	default:
		/* other protocols are tracked by address only */
		return (0);
	}

 short_hdr:
	/* the IP length leaves no room for the header: a lie, or a first
	   fragment hiding it in the next (RFC 1858) */
	if (s == SPAN_CLAIM)
		*why = first ? REASON_FRAGMENT : REASON_IP_LENGTH;
	else
		*why = REASON_L4_TRUNCATED;
	return (-1);
}

static int
parse_ip4(struct pkt *p, const uint8_t *buf, size_t len, enum reason *why)
{
	struct bounds	 bd;
	size_t		 hl, tot;
	unsigned	 fragoff;

	if (len < IP4_HDRLEN) {
		*why = REASON_IP_TRUNCATED;
		return (-1);
	}
	p->family = AF_INET;
	p->ttl = buf[8];
	p->proto = buf[9];
	memcpy(p->src.a8, buf + 12, 4);
	memcpy(p->dst.a8, buf + 16, 4);

	hl = (size_t)(buf[0] & 0x0f) * 4;
	tot = get16(buf + 2);
	p->iplen = (uint32_t)tot;
	if (hl < IP4_HDRLEN) {
		*why = REASON_IP_HDRLEN;
		return (-1);
	}
	if (tot < hl) {
		*why = REASON_IP_LENGTH;
		return (-1);
	}
	if (hl > len) {
		*why = REASON_IP_TRUNCATED;
		return (-1);
	}
	p->l4off = (uint16_t)hl;

	fragoff = get16(buf + 6) & IP4_OFFMASK;
	if (fragoff > 0) {
		p->frag = PKT_FRAG_LATER;
		/*
		 * RFC 1858: a fragment at offset 8 can only be there to
		 * overwrite the TCP flags of the first; and none may end
		 * past 65535 bytes (ping of death).
		 */
		if ((fragoff == 1 && p->proto == NH_TCP) ||
		    (size_t)fragoff * 8 + (tot - hl) > 65535) {
			*why = REASON_FRAGMENT;
			return (-1);
		}
		return (0);
	}
	if (get16(buf + 6) & IP4_MF)
		p->frag = PKT_FRAG_FIRST;

	bd.b = buf;
	bd.claim = tot;
	bd.avail = len < tot ? len : tot;
	return (parse_l4(p, &bd, why));
}

static int
parse_ip6(struct pkt *p, const uint8_t *buf, size_t len, enum reason *why)
{
	struct bounds	 bd;
	const uint8_t	*fh;
	size_t		 off, tot, fhoff;
	uint8_t		 nh, frag;
	unsigned	 fragoff;

	if (len < IP6_HDRLEN) {
		*why = REASON_IP_TRUNCATED;
		return (-1);
	}
	p->family = AF_INET6;
	p->ttl = buf[7];
	memcpy(p->src.a8, buf + 8, 16);
	memcpy(p->dst.a8, buf + 24, 16);
	nh = buf[6];
	p->proto = nh;
	tot = IP6_HDRLEN + (size_t)get16(buf + 4);
	p->iplen = (uint32_t)tot;

	bd.b = buf;
	bd.claim = tot;
	bd.avail = len < tot ? len : tot;
	off = IP6_HDRLEN;
	if (ip6_walk(&bd, &nh, &off, &frag, &fhoff, why) == -1)
		return (-1);
	p->proto = nh;
	p->l4off = (uint16_t)off;
	p->frag = frag;

	if (frag != PKT_FRAG_NONE) {
		/*
		 * As for IPv4 (RFC 1858), plus RFC 8200 4.5: every fragment
		 * but the last carries a multiple of 8 bytes.
		 */
		fh = buf + fhoff;
		fragoff = get16(fh + 2) >> 3;
		if ((fragoff == 1 && nh == NH_TCP) ||
		    (size_t)fragoff * 8 + (tot - fhoff - 8) > 65535 ||
		    ((fh[3] & 1) && (tot - fhoff - 8) % 8 != 0)) {
			*why = REASON_FRAGMENT;
			return (-1);
		}
		if (frag == PKT_FRAG_LATER)
			return (0);
	}
	return (parse_l4(p, &bd, why));
}

int
pkt_parse(struct pkt *p, const uint8_t *buf, size_t len, enum reason *why)
{
	enum reason	 r = REASON_NONE;
	int		 rv;

	memset(p, 0, sizeof(*p));
	p->data = buf;
	p->len = len;
	p->wscale = PKT_WSCALE_NONE;

	if (buf == NULL || len < 1) {
		r = REASON_IP_TRUNCATED;
		rv = -1;
	} else {
		switch (buf[0] >> 4) {
		case 4:
			rv = parse_ip4(p, buf, len, &r);
			break;
		case 6:
			rv = parse_ip6(p, buf, len, &r);
			break;
		default:
			r = REASON_IP_VERSION;
			rv = -1;
			break;
		}
	}
	if (why != NULL)
		*why = rv == 0 ? REASON_NONE : r;
	return (rv);
}

const char *
pkt_proto_name(uint8_t proto, char *buf, size_t len)
{
	switch (proto) {
	case NH_TCP:
		return ("tcp");
	case NH_UDP:
		return ("udp");
	case NH_ICMP:
		return ("icmp");
	case NH_ICMPV6:
		return ("icmpv6");
	default:
		if (buf == NULL || len == 0)
			return ("?");
		(void)snprintf(buf, len, "%u", proto);
		return (buf);
	}
}

const char *
pkt_addr_str(uint8_t family, const union pkt_addr *a, char *buf, size_t len)
{
	int	 af;

	if (buf == NULL || len == 0)
		return ("?");
	switch (family) {
	case AF_INET:
	case AF_INET6:
		af = family;
		break;
	default:
		(void)snprintf(buf, len, "?");
		return (buf);
	}
	if (inet_ntop(af, a->a8, buf, (socklen_t)len) == NULL)
		(void)snprintf(buf, len, "?");
	return (buf);
}
