/*
 * frag.h - the fragment cache: IPv4 and IPv6 datagrams decided whole
 *
 * Copyright (C) 2026 The nfqspid authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * Pure: no I/O, no globals, the clock is the caller's.  A fragment is
 * held (the caller keeps its verdict back) until its datagram is whole;
 * then the cache hands back the reassembled datagram, to be decided once
 * like any packet, and the ids of the held fragments, which all take
 * that verdict.  What can never become whole (an overlap, a tiny first
 * fragment, too many fragments, no room, a timeout) is dropped at once,
 * with every fragment of it, and said once.  Memory is bounded: caps on
 * held fragments, bytes and datagrams, and a quarter of each per source
 * address, so that one sender cannot take everyone's room.
 */
#ifndef NFQSPI_FRAG_H
#define NFQSPI_FRAG_H

#include <stddef.h>
#include <stdint.h>

#include "reason.h"

/* Fragments one datagram may have (the kernel takes up to 64 KiB / 8) */
#define FRAG_MAX_FRAGS		64
/* One source address holds at most 1/FRAG_SHARE of each cap. */
#define FRAG_SHARE		4
/* The longest datagram, IP header included (RFC 791, RFC 8200). */
#define FRAG_MAX_DGRAM		65535

struct frag_config {
	uint32_t	 timeout_ms;	/* an incomplete datagram is dropped
					   this long after its first
					   fragment came */
	uint32_t	 max_bytes;	/* bytes of fragments held */
	uint32_t	 max_datagrams;	/* incomplete datagrams */
	uint32_t	 max_held;	/* fragments held: each one takes a
					   slot of the kernel's queue */
};

/* 30 s (the kernel's ipfrag_time), 4 MiB (ipfrag_high_thresh), 1024
   datagrams, 1024 fragments. */
void	 frag_config_defaults(struct frag_config *c);

/* Why fragments were dropped, for the counters */
enum frag_drop {
	FRAG_DROP_OVERLAP = 0,		/* "frag-overlap" */
	FRAG_DROP_DUPLICATE,		/* "frag-duplicate" */
	FRAG_DROP_INVALID,		/* "fragment": tiny, offset 8, too
					   long, bad length, bad last */
	FRAG_DROP_TOO_MANY,		/* "frag-too-many" */
	FRAG_DROP_FULL,			/* "frag-cache-full" */
	FRAG_DROP_TIMEOUT,		/* "frag-timeout" */
	FRAG_DROP_MAX
};

struct frag_stats {
	uint64_t	 fragments;	/* fragments handed to frag_add() */
	uint64_t	 completed;	/* datagrams made whole */
	uint64_t	 dropped[FRAG_DROP_MAX];	/* fragments, by why */
	/* now */
	uint64_t	 held;		/* fragments */
	uint64_t	 bytes;
	uint64_t	 datagrams;	/* incomplete ones, and the ones
					   refused until their timeout */
};

enum frag_status {
	FRAG_PASS = 0,		/* not a fragment (an IPv6 atomic fragment
				   neither): decide it as usual */
	FRAG_HELD,		/* held: no verdict until frag_add() or
				   frag_expire() gives its id back */
	FRAG_WHOLE,		/* the datagram is whole: decide buf, give
				   this packet and ids[] its verdict */
	FRAG_DROP		/* drop this packet (INVALID, reason) and
				   ids[], the datagram's held fragments */
};

/* Flags of frag_add() */
#define FRAG_F_NOCSUM	0x01	/* do not check the datagram's transport
				   checksum (not ours to: the kernel has
				   not filled it in, or checksum = no) */
#define FRAG_F_CSUM_IP	0x02	/* check a fragment's IPv4 header
				   checksum: bad is dropped alone */

struct frag_result {
	enum frag_status status;
	enum reason	 reason;	/* FRAG_DROP */
	const uint8_t	*buf;		/* FRAG_WHOLE: the datagram, valid
					   until the next call */
	size_t		 len;
	uint8_t		 csum;		/* FRAG_WHOLE: every byte is real, so
					   its checksum may be checked */
	size_t		 n;		/* ids[] below, by offset */
	uint64_t	 ids[FRAG_MAX_FRAGS];
};

/* A datagram frag_expire() gives up on */
struct frag_expired {
	const uint8_t	*buf;		/* one of its fragments, for the
					   audit record */
	size_t		 len;
	size_t		 n;		/* its held fragments: drop them */
	const uint64_t	*ids;
};

struct frag_cache;

/*
 * Could buf be a fragment?  0: certainly not (the common case, answered
 * inline from two bytes); 1: ask frag_add().  An IPv4 packet with MF or
 * an offset; an IPv6 packet whose first extension header may precede a
 * fragment header.
 */
static inline int
frag_maybe(const uint8_t *buf, size_t len)
{
	if (len < 20)
		return (0);
	if ((buf[0] >> 4) == 4)
		return ((buf[6] & 0x3f) != 0 || buf[7] != 0);
	return ((buf[0] >> 4) == 6 && (buf[6] == 0 || buf[6] == 43 ||
	    buf[6] == 44 || buf[6] == 60));
}

/* NULL and errno on failure. */
struct frag_cache *frag_new(const struct frag_config *c);
void	 frag_free(struct frag_cache *fc);
/* New caps and timeout (a reload); what is held stays. */
void	 frag_set_config(struct frag_cache *fc, const struct frag_config *c);

/*
 * One packet (buf, len bytes copied from its network header on, id the
 * caller's handle for it) at now_ms.  A packet whose IP header cannot
 * be read is FRAG_PASS: pkt_parse() says what is wrong with it.
 */
void	 frag_add(struct frag_cache *fc, const uint8_t *buf, size_t len,
	    uint64_t id, unsigned flags, uint64_t now_ms,
	    struct frag_result *res);

/*
 * Give up on every datagram whose timeout has come by now_ms (UINT64_MAX:
 * all of them, at shutdown): fn(arg, x) for each that held fragments,
 * which are dropped.  Returns the number of datagrams ended.
 */
size_t	 frag_expire(struct frag_cache *fc, uint64_t now_ms,
	    void (*fn)(void *arg, const struct frag_expired *x), void *arg);

void	 frag_get_stats(const struct frag_cache *fc, struct frag_stats *s);
/* "frag-overlap", ... */
const char *frag_drop_name(enum frag_drop d);
enum reason frag_drop_reason(enum frag_drop d);

#endif /* NFQSPI_FRAG_H */
