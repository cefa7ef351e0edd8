/*
 * limit.h - per-source limits of the rules: rate and conn_limit
 *
 * Copyright (C) 2026 The nfqspid authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * Pure: no I/O, no globals, no locks.  One table per worker, like the
 * connection table; the caller passes the clock (milliseconds).
 *
 * A source is (rule index, family, address).  It holds a token bucket for
 * the rule's rate (burst = rate, so a bucket is full again at most one
 * second after it was emptied) and the number of tracked connections the
 * rule let in from that address.  The table has a fixed number of slots:
 * sources without connections whose bucket is full again are forgotten
 * (they would behave the same as new ones), and when the table is full
 * the least recently seen source without connections makes room.  A
 * source with live connections is never forgotten, so its count stays
 * exact; if every slot holds one, a new source is refused (fail closed,
 * as pf's max-src-nodes) and counted in stats.full.
 */
#ifndef NFQSPI_LIMIT_H
#define NFQSPI_LIMIT_H

#include <stddef.h>
#include <stdint.h>

#include "pkt.h"
#include "ct.h"

struct limit_table;

/* Sources a worker keeps at most (48 bytes a slot, two slots a source;
   the pages are only touched as sources arrive). */
#define LIMIT_SOURCES_DEFAULT	65536

struct limit_stats {
	uint64_t	 rate_drops;	/* limit_rate_allow() said no */
	uint64_t	 conn_drops;	/* limit_conn_try() said no */
	uint64_t	 full;		/* no slot for a new source */
	uint64_t	 evicted;	/* sources forgotten to make room */
	uint64_t	 expired;	/* idle sources forgotten */
};

/* Returns NULL and sets errno on failure (max_sources 0: EINVAL). */
struct limit_table *limit_new(size_t max_sources);
void	 limit_free(struct limit_table *t);
/* Forget every source (a reload: rule indices may mean other rules). */
void	 limit_flush(struct limit_table *t);

/*
 * May one more connection from addr start under rule's rate (per
 * second)?  1 yes (a token is taken), 0 no.
 */
int	 limit_rate_allow(struct limit_table *t, uint32_t rule,
	    uint8_t family, const union pkt_addr *addr, uint32_t rate,
	    uint64_t now_ms);
/*
 * Counts one more connection from addr for rule if it has fewer than
 * limit: 1 counted, 0 no.  limit 0 counts without a limit (recounting
 * live connections after a reload).
 */
int	 limit_conn_try(struct limit_table *t, uint32_t rule, uint8_t family,
	    const union pkt_addr *addr, uint32_t limit, uint64_t now_ms);
/* One connection of addr for rule ended (no-op if none is counted). */
void	 limit_conn_release(struct limit_table *t, uint32_t rule,
	    uint8_t family, const union pkt_addr *addr);
/* Connections counted for addr under rule. */
uint32_t limit_conn_count(const struct limit_table *t, uint32_t rule,
	    uint8_t family, const union pkt_addr *addr);
/* Forget idle sources; looks at a bounded slice of the table per call,
   so call it often (the worker's tick). */
void	 limit_expire(struct limit_table *t, uint64_t now_ms);

size_t	 limit_count(const struct limit_table *t);
void	 limit_get_stats(const struct limit_table *t, struct limit_stats *s);

/*
 * A ct_event_fn (arg: the limit_table): a DESTROY releases the
 * connection's count under the rule recorded on the entry.
 */
void	 limit_ct_event(int event, const struct ct_entry *e, void *arg);

/*
 * One token bucket the caller owns: at most rate events a second, with a
 * burst of rate (the audit records' [log] rate).  Starts full.
 */
struct limit_bucket {
	uint64_t	 tokens;	/* thousandths of an event */
	uint64_t	 refill_ms;	/* the bucket's clock */
};

void	 limit_bucket_init(struct limit_bucket *b, uint32_t rate,
	    uint64_t now_ms);
/* May one more event happen now?  1 yes (a token is taken; rate 0: no
   limit), 0 no. */
int	 limit_bucket_take(struct limit_bucket *b, uint32_t rate,
	    uint64_t now_ms);
/* The rate changed: keep no more than its burst. */
void	 limit_bucket_clamp(struct limit_bucket *b, uint32_t rate);

#endif /* NFQSPI_LIMIT_H */
