/*
 * ct_view.h - a tracked connection as the outside sees it, and its two
 * printed forms
 *
 * Copyright (C) 2026 The nfqspid authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * struct ct_entry is packed for the table (120 bytes, private to ct*.c);
 * the control socket, the events, the status page and /metrics read a
 * connection through struct ct_view instead: both tuples spelt out, the
 * state, the status flags, what is left of its timeout, its counters and
 * decision.  It is filled once, in the worker that owns the entry, and
 * kept as data until it is printed -- by ct_view_text() (the
 * /proc/net/nf_conntrack line, or conntrack -E's) or ct_view_json().
 * Nothing parses either form back.
 */
#ifndef NFQSPI_CT_VIEW_H
#define NFQSPI_CT_VIEW_H

#include <stddef.h>
#include <stdint.h>

#include "pkt.h"
#include "ct.h"

/* struct ct_view.flags, the kernel's IPS_* as conntrack prints them */
#define CT_VIEW_UNREPLIED	0x01	/* no packet went the other way yet */
#define CT_VIEW_ASSURED		0x02	/* never evicted for new ones */
#define CT_VIEW_BYTES		0x04	/* bytes is known ([daemon]
					   fastpath = yes) */
#define CT_VIEW_OFFLOAD		0x08	/* handed to the kernel's map (the
					   fast path): the kernel's
					   IPS_OFFLOAD */

/* TCP states, numbered as the kernel's TCP_CONNTRACK_* (0 NONE ...) */
#define CT_VIEW_TCP_NSTATES	10
#define CT_VIEW_TCP_ESTABLISHED	3

/* One direction.  TCP, UDP: ports; ICMP, ICMPv6: type, code and id. */
struct ct_view_tuple {
	union pkt_addr	 src;
	union pkt_addr	 dst;
	uint16_t	 sport;
	uint16_t	 dport;
	uint8_t		 type;
	uint8_t		 code;
	uint16_t	 id;
};

struct ct_view {
	uint8_t		 family;	/* AF_INET, AF_INET6 */
	uint8_t		 proto;		/* IPPROTO_* */
	uint8_t		 state;		/* TCP: 0 .. CT_VIEW_TCP_NSTATES - 1 */
	uint8_t		 flags;		/* CT_VIEW_* */
	struct ct_view_tuple orig;
	struct ct_view_tuple reply;
	uint32_t	 timeout;	/* seconds left */
	uint32_t	 packets;	/* both directions, saturating */
	uint64_t	 bytes;		/* both directions (CT_VIEW_BYTES) */
	uint64_t	 age;		/* seconds since it was confirmed */
	uint32_t	 mark;
	uint32_t	 rule;		/* index in the configuration that
					   decided it; >= nrules: the policy */
	const char	*rule_name;	/* set by whoever knows the
					   configuration; NULL: none */
};

void		 ct_view_fill(struct ct_view *v, const struct ct_entry *e,
		    uint64_t now_ms);
/* What t keeps of e beside the entry: its bytes, if t keeps them
   (ct_keep_bytes()), CT_VIEW_BYTES; its offload mark (ct_offloaded()),
   CT_VIEW_OFFLOAD.  t may be NULL: neither. */
void		 ct_view_table(struct ct_view *v, const struct ct_table *t,
		    const struct ct_entry *e);

/* "tcp", "udp", "icmpv6", ...; "unknown" for the rest */
const char	*ct_view_proto_name(uint8_t proto);
/* "ESTABLISHED", ...; "NONE" out of range */
const char	*ct_view_tcp_state(unsigned state);

/*
 * The text forms, without a newline:
 *   CT_VIEW_PROC   a line of /proc/net/nf_conntrack, byte for byte as the
 *                  kernel prints it (IPv6 in eight groups of 4 digits)
 *   CT_VIEW_EVENT  the same as conntrack -E prints it: no family columns,
 *                  no use=, IPv6 written short (RFC 5952)
 * Both write [OFFLOAD] in place of [ASSURED], as the kernel does.
 * Return the length snprintf would have written; buf is always
 * terminated (len > 0).
 */
#define CT_VIEW_PROC	0
#define CT_VIEW_EVENT	1
int		 ct_view_text(const struct ct_view *v, int style, char *buf,
		    size_t len);

/*
 * One JSON object: family, proto, protonum, timeout, state (TCP), the
 * original tuple, reply (an object), mark, use, flags (a list of every
 * one set: UNREPLIED, ASSURED, OFFLOAD), age, packets, bytes (with
 * CT_VIEW_BYTES), rule (the name, or null).  Addresses are written
 * short (RFC 5952).  extra, if not NULL, is put first inside the braces as it is
 * (the caller's members, e.g. "\"event\":\"NEW\"").  Returns what
 * snprintf would, buf always terminated (len > 0).
 */
int		 ct_view_json(const struct ct_view *v, const char *extra,
		    char *buf, size_t len);

/* Every form fits in this (two IPv6 tuples and a 64-byte rule name). */
#define CT_VIEW_BUFLEN	640

#endif /* NFQSPI_CT_VIEW_H */
