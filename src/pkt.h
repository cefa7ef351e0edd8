/*
 * pkt.h - bounds-checked parser for the packets the queue hands us
 *
 * Copyright (C) 2026 The nfqspid authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * Pure: no I/O, no globals.  pkt_parse() reads an IPv4 or IPv6 packet
 * starting at its network header and never reads past buf + len.  The
 * result only points into buf for the payload; everything the tracker and
 * the rules need is copied into struct pkt in host byte order.
 */
#ifndef NFQSPI_PKT_H
#define NFQSPI_PKT_H

#include <stddef.h>
#include <stdint.h>

#include "reason.h"

/* An IPv4 address occupies the first 4 bytes, the other 12 are zero. */
union pkt_addr {
	uint8_t		a8[16];
	uint32_t	a32[4];
};

/* TCP flags, as in the header's 13th byte */
#define PKT_TH_FIN	0x01
#define PKT_TH_SYN	0x02
#define PKT_TH_RST	0x04
#define PKT_TH_PUSH	0x08
#define PKT_TH_ACK	0x10
#define PKT_TH_URG	0x20
#define PKT_TH_ECE	0x40
#define PKT_TH_CWR	0x80

/* fragment position */
#define PKT_FRAG_NONE	0	/* not a fragment */
#define PKT_FRAG_FIRST	1	/* offset 0, more fragments follow */
#define PKT_FRAG_LATER	2	/* offset > 0: no transport header here */

/*
 * The netfilter hook a packet was queued from (NF_INET_* + 1), so that 0,
 * what pkt_parse() leaves, means "not known" (--replay, the fuzzers).
 * Set by the caller: the packet itself does not say.
 */
#define PKT_HOOK_UNKNOWN	0
#define PKT_HOOK_PREROUTING	1	/* NF_INET_PRE_ROUTING */
#define PKT_HOOK_INPUT		2	/* NF_INET_LOCAL_IN */
#define PKT_HOOK_FORWARD	3	/* NF_INET_FORWARD */
#define PKT_HOOK_OUTPUT		4	/* NF_INET_LOCAL_OUT */
#define PKT_HOOK_POSTROUTING	5	/* NF_INET_POST_ROUTING */
#define PKT_HOOK_MAX		6

#define PKT_WSCALE_NONE	0xff	/* no window scale option */
#define PKT_MAX_SACK	4

/*
 * The transport header quoted inside an ICMP/ICMPv6 error: enough to find
 * the connection it is about.
 */
struct pkt_inner {
	uint8_t		family;		/* AF_INET or AF_INET6 */
	uint8_t		proto;		/* IPPROTO_* */
	uint8_t		icmp_type;	/* when proto is ICMP/ICMPv6 */
	uint8_t		icmp_code;
	uint16_t	sport;		/* TCP/UDP, host order */
	uint16_t	dport;
	uint16_t	icmp_id;	/* echo id, host order */
	uint32_t	seq;		/* TCP sequence number, host order */
	union pkt_addr	src;
	union pkt_addr	dst;
};

struct pkt {
	const uint8_t	*data;		/* the network header */
	size_t		 len;		/* bytes available at data */

	uint8_t		 family;	/* AF_INET or AF_INET6 */
	uint8_t		 proto;		/* transport protocol, after any
					   IPv6 extension headers */
	uint8_t		 ttl;		/* TTL / hop limit */
	uint8_t		 frag;		/* PKT_FRAG_* */
	uint8_t		 hook;		/* PKT_HOOK_*: set by the caller,
					   pkt_parse() zeroes it */
	union pkt_addr	 src;
	union pkt_addr	 dst;
	uint16_t	 l4off;		/* offset of the transport header */
	uint32_t	 iplen;		/* length the IP header claims (IPv6:
					   40 + payload length) */

	/* TCP and UDP */
	uint16_t	 sport;		/* host order */
	uint16_t	 dport;

	/* TCP */
	uint32_t	 seq;		/* host order */
	uint32_t	 ack;
	uint16_t	 win;		/* unscaled, host order */
	uint8_t		 th_flags;	/* PKT_TH_* */
	uint8_t		 wscale;	/* PKT_WSCALE_NONE if absent */
	uint8_t		 sack_perm;	/* SACK permitted option seen */
	uint8_t		 nsack;		/* SACK blocks below */
	uint32_t	 sack[PKT_MAX_SACK][2];	/* left, right edges */

	uint32_t	 paylen;	/* transport payload bytes (TCP/UDP),
					   from the IP length, not len */

	/* ICMP and ICMPv6 */
	uint8_t		 icmp_type;
	uint8_t		 icmp_code;
	uint16_t	 icmp_id;	/* echo request/reply id */
	uint8_t		 is_icmp_error;	/* inner below is valid */
	struct pkt_inner inner;
};

/*
 * Parse buf (len bytes, starting at the IPv4 or IPv6 header).  Returns 0,
 * or -1 with *why set to the reason the packet is INVALID.  On -1 the
 * fields of p that could be read (family, addresses, proto, ports) are
 * still filled in, so the audit record can name them.
 */
int	 pkt_parse(struct pkt *p, const uint8_t *buf, size_t len,
	    enum reason *why);

/* "tcp", "udp", "icmp", "icmpv6", or the protocol number */
const char *pkt_proto_name(uint8_t proto, char *buf, size_t len);

/* inet_ntop for a pkt_addr; buf needs INET6_ADDRSTRLEN bytes */
const char *pkt_addr_str(uint8_t family, const union pkt_addr *a,
	    char *buf, size_t len);

#endif /* NFQSPI_PKT_H */
