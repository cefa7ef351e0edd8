/*
 * fastpath.h - the kernel fast path: nf_tables objects nfqspid owns so
 * that the packets of connections it has judged skip the queue
 *
 * Copyright (C) 2026 The nfqspid authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * One table of ours per queue, inet nfqspid-fp-<queue>: per family and
 * protocol a verdict map of tuples, counted and timing out, whose
 * elements goto the chain of their connection's mark ("nomark": add
 * FP_BYPASS_MARK to the packet's mark; "mark_0x...": set the mark with
 * the bit, made with the mark's first connection).  A chain at priority
 * -5 on input, forward and output looks TCP segments without SYN, FIN
 * or RST and UDP datagrams, not fragments, up in their map (one lookup)
 * and clears the bit on the rest; the iptables rule "-m mark --mark
 * FP_BYPASS_MARK/FP_BYPASS_MARK -j ACCEPT" ahead of NFQUEUE then skips
 * the queue, and a chain at priority +5 takes the bit off again.  Both
 * directions of a connection are elements.  nfqspid(8) says why this
 * design.
 *
 * Not thread-safe: one thread owns a handle.  Every call is one netlink
 * transaction or a few (never one round trip per connection) and
 * returns 0, or -1 with errno set, as libmnl does.
 */
#ifndef NFQSPI_FASTPATH_H
#define NFQSPI_FASTPATH_H

#include <stddef.h>
#include <stdint.h>

#include "pkt.h"

/* The mark bit the fast path owns: set on a hit, cleared after. */
#define FP_BYPASS_MARK		0x80000000u
/* the table's name: this prefix and the queue number */
#define FP_TABLE_PREFIX		"nfqspid-fp-"
#define FP_TABLE_NAMELEN	32

struct fastpath;			/* opaque handle */

/* One judged connection, in its original direction. */
struct fp_conn {
	uint8_t		 family;	/* AF_INET, AF_INET6 */
	uint8_t		 proto;		/* IPPROTO_TCP, IPPROTO_UDP */
	uint16_t	 sport;		/* host order */
	uint16_t	 dport;
	uint32_t	 mark;		/* put on its packets; 0: leave the
					   packets' marks alone (as the
					   verdict does); never with
					   FP_BYPASS_MARK */
	union pkt_addr	 src;		/* IPv4: the first 4 bytes */
	union pkt_addr	 dst;
};

struct fp_params {
	uint16_t	 queue;		/* names the table: two daemons on
					   two queues each own one */
	uint32_t	 tcp_timeout_s;	/* a direction's element leaves the
					   kernel this long after its last
					   packet (1 .. 1000000) */
	uint32_t	 udp_timeout_s;
	uint32_t	 max;		/* most connections in at once ([conntrack]
					   max): each set holds twice that;
					   1 .. FP_MAX_CONNS */
};

/* The most connections a table's maps are made for: each then holds
   2^31 elements, within the kernel's 32-bit set size. */
#define FP_MAX_CONNS		(1u << 30)

/* What the kernel counted for one connection, both directions summed. */
struct fp_counts {
	uint64_t	 pkts;		/* since fastpath_add() put it in */
	uint64_t	 bytes;		/* network header onwards */
	uint32_t	 expires_ms;	/* until its later direction's element
					   times out: the kernel's idle timer */
};

/* 0: c is the caller's; -1: a stray (a change that failed half way, a
   removal the kernel refused), taken out of the kernel. */
typedef int	(*fp_counts_cb)(const struct fp_conn *c,
		    const struct fp_counts *n, void *arg);

/*
 * Replace any earlier copy of our table by an empty one, atomically.
 * NULL and errno if it cannot (EPERM without CAP_NET_ADMIN, EINVAL for
 * bad params, EPROTONOSUPPORT if the kernel lacks nf_tables).
 */
struct fastpath	*fastpath_open(const struct fp_params *p);
/*
 * Put conns in, both directions each, replacing earlier elements of the
 * same tuples (their counters start again), in transactions of up to
 * 128 connections (fewer when they bring new marks), each all or none;
 * in[i] says what became of c[i] (FP_ADD_*).  A connection whose mark
 * would need a chain past the 4096 the table keeps stays out, and the
 * others go on.  0, or -1 at the first transaction that failed (those
 * before it are in, those after it never sent).  EINVAL (checked
 * before any, all FP_ADD_OUT): a conn of another family or protocol, or
 * one whose mark has FP_BYPASS_MARK.  A connection's mark must not
 * change while it is in: take it out or flush first.
 */
#define FP_ADD_OUT	0	/* not in: its transaction failed (try
				   again) */
#define FP_ADD_IN	1
#define FP_ADD_NOROOM	2	/* not in, and never while the chains
				   stay: its mark's would pass the 4096 */
#define FP_ADD_UNSENT	3	/* not in: after a transaction that
				   failed, never sent (the kernel said
				   nothing of it) */
int		 fastpath_add(struct fastpath *fp, const struct fp_conn *c,
		    size_t n, uint8_t *in);
/* Take conns out, both directions; ones already gone are no error. */
int		 fastpath_del(struct fastpath *fp, const struct fp_conn *c,
		    size_t n);
/* Take every element out, and the marks' chains with them. */
int		 fastpath_flush(struct fastpath *fp);
/*
 * fastpath_flush() that also gives the maps room for max connections
 * (more than they have): a new empty table in place of ours, in one
 * transaction, as fastpath_open() makes it, so a packet finds either
 * the old table or the new one.  -1 and errno (EINVAL: max no more than
 * now, or past FP_MAX_CONNS) with our table as it was.
 */
int		 fastpath_grow(struct fastpath *fp, uint32_t max);
/* cb once for every connection in the kernel table, in no set order
   (c has its tuple, mark 0: the kernel keeps a chain, not the mark);
   the strays cb names go out after the read.  So the kernel holds
   what the caller knows, within one call. */
int		 fastpath_counters(struct fastpath *fp, fp_counts_cb cb,
		    void *arg);
/*
 * What the kernel counted for each of conns c[0 .. n-1] (as given to
 * fastpath_add(), with their marks) into k[0 .. n-1], both directions
 * summed, expires_ms 0 (not read); a connection not in counts 0.  Reads
 * those elements alone (a few gets a send), not the whole table: for
 * the last counts of connections about to be taken out.
 */
int		 fastpath_get(struct fastpath *fp, const struct fp_conn *c,
		    size_t n, struct fp_counts *k);
/* Does this kernel know DESTROYSETELEM (6.3 on)?  Without, an
   addition keeps an element already in, and its counters. */
int		 fastpath_destroys(const struct fastpath *fp);
/* Delete our table (and so every element) and free fp; NULL is fine. */
void		 fastpath_close(struct fastpath *fp);

/* "nfqspid-fp-<queue>"; -1 if len is too small. */
int		 fastpath_table_name(uint16_t queue, char *buf, size_t len);

#endif /* NFQSPI_FASTPATH_H */
