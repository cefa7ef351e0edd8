/*
 * ctfilter.h - which connections and events: conntrack(8)'s filters
 *
 * Copyright (C) 2026 The nfqspid authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * Pure: no I/O, no globals.  `nfqspictl conntrack`, `conntrack count`,
 * `conntrack delete` and `events` take conntrack(8)'s options; nfqspictl
 * parses them to catch mistakes before it connects, and the daemon parses
 * the same arguments again and matches them against each connection's
 * view (ct_view.h), never against a printed line.
 *
 * The options, as conntrack(8) spells them (`--opt value`, `--opt=value`
 * and `-ovalue` all work):
 *
 *	-p, --proto P		tcp, udp, icmp, icmpv6 or a number
 *	-s, --src, --orig-src A	original source: an address or a prefix
 *	-d, --dst, --orig-dst A	original destination
 *	--sport, --orig-port-src N, --dport, --orig-port-dst N
 *				original ports (only TCP and UDP have them)
 *	-f, --family ipv4|ipv6
 *	--state S[,S...]	TCP state (only TCP connections match)
 *	-m, --mark M[/MASK]	(mark & MASK) == M; MASK 0xffffffff if none
 *	-u, --status S[,S...]	status bits, each set, or clear with a !
 *				before it: ASSURED, SEEN_REPLY, OFFLOAD;
 *				UNREPLIED is !SEEN_REPLY
 *	-e, --event-mask E[,E...]  events only: NEW, UPDATE, DESTROY, ALL
 *	-o, --output timestamp	events only: stamp each event
 *
 * and, with CTF_F_KEYVAL, delete's older KEY=VALUE form: src=, dst=,
 * sport=, dport=, proto=.  Each filter at most once; all must hold.
 */
#ifndef NFQSPI_CTFILTER_H
#define NFQSPI_CTFILTER_H

#include <stddef.h>
#include <stdint.h>

#include "pkt.h"
#include "ct_view.h"

/* what ctf_parse() accepts */
#define CTF_F_KEYVAL	0x01	/* src=... dst=... (conntrack delete) */
#define CTF_F_EVENTS	0x02	/* -e and -o (events) */
#define CTF_F_NEEDONE	0x04	/* at least one connection filter */

/* struct ctf.has */
#define CTF_H_PROTO	0x0001
#define CTF_H_SRC	0x0002
#define CTF_H_DST	0x0004
#define CTF_H_SPORT	0x0008
#define CTF_H_DPORT	0x0010
#define CTF_H_FAMILY	0x0020
#define CTF_H_STATE	0x0040
#define CTF_H_MARK	0x0080
#define CTF_H_STATUS	0x0100
#define CTF_H_CONN	0x01ff	/* the ones about a connection */
#define CTF_H_EVENTS	0x0200
#define CTF_H_OUTPUT	0x0400

/* struct ctf.status: the kernel's IPS_* bits that nfqspid has, as -u
   names them (a view's flags say them the other way: ct_view.h) */
#define CTF_ST_SEEN_REPLY	0x01
#define CTF_ST_ASSURED		0x02
#define CTF_ST_OFFLOAD		0x04

struct ctf {
	uint16_t	 has;		/* CTF_H_* */
	uint8_t		 family;	/* AF_INET, AF_INET6 (-f, -s, -d) */
	uint8_t		 proto;
	uint8_t		 src_plen, dst_plen;
	uint16_t	 sport, dport;
	uint16_t	 states;	/* bit per TCP state (ctf_state()) */
	uint8_t		 events;	/* bit per CT_EVENT_* (ct.h) */
	uint8_t		 timestamp;	/* -o timestamp */
	uint8_t		 status;	/* (bits & status_mask) == status */
	uint8_t		 status_mask;	/* CTF_ST_* */
	uint32_t	 mark, mark_mask;
	union pkt_addr	 src, dst;
};

/*
 * Parse argv[0..argc-1] (flags: CTF_F_*).  Returns 0, or -1 with a
 * message naming the argument in err.
 */
int	 ctf_parse(struct ctf *f, int argc, char *const argv[],
	    unsigned flags, char *err, size_t errlen);

/*
 * 1 if the connection passes every filter of f (all of them when none):
 * its original direction, its TCP state, its mark, its status.
 */
int	 ctf_match(const struct ctf *f, const struct ct_view *v);

/* 1 if f lets this event (CT_EVENT_*) through. */
int	 ctf_event(const struct ctf *f, int event);

/*
 * The index of a TCP state name (the kernel's TCP_CONNTRACK_* numbering,
 * "LISTEN" the same as "SYN_SENT2", as conntrack(8) has it; any case),
 * or -1.
 */
int	 ctf_state(const char *name);

/* A view's flags as the kernel's status bits: CTF_ST_*. */
unsigned ctf_status_bits(const struct ct_view *v);

#endif /* NFQSPI_CTFILTER_H */
