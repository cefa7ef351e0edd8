/*
 * nqmsg.h - reading NFQUEUE's netlink messages, without the socket
 *
 * Copyright (C) 2026 The nfqspid authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * Pure: no I/O, no globals.  nq.c reads datagrams and hands them here;
 * what comes back is a packet to decide, a kernel error to count, or a
 * message to drop.  The daemon's first rule starts here: every packet
 * message that carries a readable packet id yields exactly one packet
 * (malformed if anything else about it is wrong), so that it gets
 * exactly one verdict; only a message without a readable id yields none,
 * as there is nothing to answer it with.  tests/unit/test_nqmsg.c and
 * tests/fuzz/fuzz_nqmsg.c hold it to that.
 */
#ifndef NFQSPI_NQMSG_H
#define NFQSPI_NQMSG_H

#include <stddef.h>
#include <stdint.h>

struct nlmsghdr;

struct nq_packet {
	uint32_t	 id;		/* packet id, for the verdict */
	const uint8_t	*data;		/* network header */
	size_t		 len;		/* bytes copied to us */
	size_t		 origlen;	/* bytes on the wire (GSO: larger) */
	uint32_t	 ifin;		/* ifindex, 0 if none */
	uint32_t	 ifout;
	uint32_t	 mark;		/* the packet's mark on arrival */
	uint64_t	 ts_ms;		/* when we read it (monotonic) */
	uint16_t	 hwproto;	/* ETH_P_IP, ETH_P_IPV6 (host order) */
	uint8_t		 hook;		/* PKT_HOOK_* it was queued from */
	uint8_t		 malformed;	/* the message had an id but a bad
					   attribute: len is 0, decide it
					   as INVALID */
	uint32_t	 skbinfo;	/* NFQA_SKB_INFO (host order), 0 if
					   absent: the checksum is verified */
};

/* What nqmsg_next() found. */
enum nqmsg {
	NQMSG_END,		/* the datagram is done */
	NQMSG_PACKET,		/* *p: a packet to decide (maybe malformed) */
	NQMSG_NOID,		/* a packet message without a readable id */
	NQMSG_ERROR,		/* *nlh: NLMSG_ERROR (or an ack) */
	NQMSG_BAD		/* not ours, or torn: nothing to answer */
};

/* A walk over the messages of one datagram. */
struct nqmsg_walk {
	const uint8_t	*buf;
	size_t		 len;
	size_t		 off;
	uint16_t	 queue;		/* ours: a packet of another is
					   malformed */
};

void	 nqmsg_walk_init(struct nqmsg_walk *w, const uint8_t *buf, size_t len,
	    uint16_t queue);
/*
 * The next message.  p is written for NQMSG_PACKET (ts_ms is 0: the
 * reader's clock is not ours; data points into the datagram, or at an
 * empty static buffer for a malformed one), nlh for NQMSG_ERROR.
 */
enum nqmsg nqmsg_next(struct nqmsg_walk *w, struct nq_packet *p,
	    const struct nlmsghdr **nlh);
/*
 * A datagram cut short (MSG_TRUNC): only its first len bytes came.  If
 * they begin a packet message whose id came, 1 and *p, malformed (it is
 * answered as INVALID); else 0.
 */
int	 nqmsg_truncated(const uint8_t *buf, size_t len, struct nq_packet *p);

#endif /* NFQSPI_NQMSG_H */
