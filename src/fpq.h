/*
 * fpq.h - the fast path's rings and its thread's book of what the kernel
 * holds
 *
 * Copyright (C) 2026 The nfqspid authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * Pure (no I/O, no globals), for the unit tests: the fast-path thread
 * (fpd.c) is the only caller of fastpath.h, and the workers reach it only
 * through two bounded single-producer single-consumer rings each:
 *
 *   out   worker -> thread: "offload this connection", "remove it"
 *   back  thread -> worker: packets and bytes the kernel passed for one
 *
 * A full out ring costs an offload (the connection stays on the slow
 * path) and never a packet; a removal that does not fit makes the thread
 * empty the whole kernel table instead (struct fpq_shared.flush), so no
 * removal is ever lost.  A full back ring costs nothing: the book keeps
 * what was not handed over and hands it over at the next poll, and a
 * refusal it could not tell, or a removed connection's last counts, at
 * each apply, until it fits.
 *
 * Epochs: every flush of the kernel table starts one.  An item carries
 * the epoch its worker knew; an offload of an older epoch is ignored
 * (the flush may have passed it by), and a worker that sees a new epoch
 * unmarks all its connections (ct_offload_clear()) before it offloads
 * again.  So the kernel never holds a connection its worker thinks is
 * not offloaded, which is what makes every removal reach the kernel.
 */
#ifndef NFQSPI_FPQ_H
#define NFQSPI_FPQ_H

#include <stddef.h>
#include <stdint.h>

#include "fastpath.h"

/* The fast path's counters, part of struct worker_stats (status.c). */
struct fp_stats {
	uint64_t	 offloaded;	/* connections handed to the kernel */
	uint64_t	 active;	/* marked offloaded now (a gauge) */
	uint64_t	 removed;	/* removals sent */
	uint64_t	 ring_full;	/* offloads refused: the ring was full */
	uint64_t	 packets;	/* passed by the kernel, counted in */
	uint64_t	 bytes;
	/* the thread's, in the totals only: */
	uint64_t	 errors;	/* fastpath_*() calls that failed */
	uint64_t	 flushes;	/* the kernel table emptied */
	uint64_t	 stale;		/* offloads a flush passed by */
	uint64_t	 renewed;	/* put in again after the kernel's
					   timeout (idle connections) */
	uint64_t	 strays;	/* in the kernel, not in the book:
					   taken out */
	uint64_t	 refused;	/* offloads that stayed out: their
					   marks' chains would pass the
					   table's 4096, or the kernel
					   failed their transaction
					   FPQ_RETRIES + 1 times */
	uint64_t	 retried;	/* offloads sent again after their
					   transaction failed (each try) */
};

/* ---- the rings ------------------------------------------------------- */

enum fpq_op {
	FPQ_ADD = 1,
	FPQ_DEL
};

/* worker -> thread */
struct fpq_item {
	struct fp_conn	 c;
	uint32_t	 epoch;
	uint8_t		 op;		/* enum fpq_op */
};

/* thread -> worker: the kernel's new counts of c, or (refused) that the
   kernel's table did not take c, offered in epoch */
struct fpq_credit {
	struct fp_conn	 c;
	uint64_t	 pkts;
	uint64_t	 bytes;
	uint8_t		 refused;
	uint32_t	 epoch;		/* refused: the book's */
};

/*
 * One producer, one consumer, no lock: head is the producer's, tail the
 * consumer's, each on its own cache line.  size is a power of two.
 */
struct fpq_ring {
	uint32_t	 size;
	size_t		 isz;		/* bytes per item */
	unsigned char	*slots;
	uint32_t	 head __attribute__((aligned(64)));
	uint32_t	 tail __attribute__((aligned(64)));
};

/* 0, or -1 and errno (EINVAL: size not a power of two, ENOMEM). */
int	 fpq_ring_init(struct fpq_ring *r, uint32_t size, size_t isz);
void	 fpq_ring_free(struct fpq_ring *r);
/* Producer: 0, or -1 when full (nothing written). */
int	 fpq_ring_push(struct fpq_ring *r, const void *item);
/* Producer: how many more items fit now (at least). */
uint32_t fpq_ring_room(const struct fpq_ring *r);
/* Consumer: is it empty? */
int	 fpq_ring_empty(const struct fpq_ring *r);
/* Consumer: 1 and *item, or 0 when empty. */
int	 fpq_ring_pop(struct fpq_ring *r, void *item);

/* What a worker and the thread share (powers of two).  fuzz_offload's
   build makes them 256 (Makefile.am): a full ring is cheap to fill. */
#ifndef FPQ_RING_OUT
#define FPQ_RING_OUT	4096	/* items a worker may have outstanding */
#endif
#ifndef FPQ_RING_BACK
#define FPQ_RING_BACK	4096
#endif
/* An offload leaves this much of the out ring free, for removals. */
#define FPQ_RESERVE	(FPQ_RING_OUT / 4)

struct fpq_port {
	struct fpq_ring	 out;		/* struct fpq_item */
	struct fpq_ring	 back;		/* struct fpq_credit */
};
int	 fpq_port_init(struct fpq_port *p);
void	 fpq_port_free(struct fpq_port *p);

struct fpq_shared {
	uint32_t	 epoch;		/* atomic: the thread's */
	int		 flush;		/* atomic: a removal did not fit */
};

/* ---- the thread's book ----------------------------------------------- */

/*
 * What the book does with the kernel, through the thread: add, del,
 * flush, get and counters as fastpath_add() (in[i], FP_ADD_*: c[i] went
 * in, whatever it returns; out, to be tried again if it returns -1,
 * refused if not or for FP_ADD_NOROOM; unsent, with -1, staged again
 * for the next apply, as it was), fastpath_del(), fastpath_flush(),
 * fastpath_get() and fastpath_counters() (cb once for every connection
 * the kernel holds; those cb says -1 of are strays, taken out); credit
 * hands worker w the kernel's new counts of c (0, or -1: its ring is
 * full, the counts wait for the next poll, or those of a removal for
 * the next apply; c zero: of connections gone, for the worker's totals
 * only); refuse tells worker w that c stayed out (0, or -1: its ring
 * is full, and the book tells it again at each apply until it fits,
 * c's removal or a flush).  get may be NULL: removals then lose what
 * the kernel counted since the last poll.  counters is only
 * fpq_book_round()'s.
 */
struct fpq_ops {
	int	(*add)(void *arg, const struct fp_conn *c, size_t n,
		    uint8_t *in);
	int	(*del)(void *arg, const struct fp_conn *c, size_t n);
	int	(*flush)(void *arg);
	int	(*credit)(void *arg, unsigned w, const struct fp_conn *c,
		    uint64_t pkts, uint64_t bytes);
	int	(*refuse)(void *arg, unsigned w, const struct fp_conn *c);
	int	(*get)(void *arg, const struct fp_conn *c, size_t n,
		    struct fp_counts *k);
	int	(*counters)(void *arg, fp_counts_cb cb, void *cbarg);
};

/* Items staged before the book calls the kernel by itself. */
#define FPQ_BATCH	512
/* An offload whose transaction failed is tried again this long after,
   twice that after each failure, FPQ_RETRIES times at most (1 s to 32
   s, about a minute in all), each time in a transaction of its own;
   then it is refused. */
#define FPQ_RETRY_MS	1000
#define FPQ_RETRIES	6
/* Removed connections' last counts owed one by one (a full back ring),
   at most; past that, summed a worker. */
#define FPQ_OWE_MAX	FPQ_RING_BACK

struct fpq_book;
struct fpq_book	*fpq_book_new(const struct fpq_ops *ops, void *arg);
void		 fpq_book_free(struct fpq_book *b);
/* keep: ops->add keeps an element already in, with its counters (a
   kernel before 6.3, without DESTROYSETELEM: fastpath_destroys()). */
void		 fpq_book_keep(struct fpq_book *b, int keep);
/* The item worker w sent: staged (applied at once when the stage is
   full).  0, or -1 when applying failed. */
int		 fpq_book_item(struct fpq_book *b, unsigned w,
		    const struct fpq_item *it);
/* Apply what is staged: the refusals and last counts a full back ring
   kept back handed over again, the removals (their last counts read
   and credited first, owed if the ring is full), then the offloads,
   and then those refused after a failed last try taken out (its answer
   may have been lost; a failure here only counts an error).  0, or -1
   (a failed removal: the offloads stay staged, and the caller must
   flush, which drops them). */
int		 fpq_book_apply(struct fpq_book *b);
/* Anything staged? */
int		 fpq_book_pending(const struct fpq_book *b);
/* Empty the kernel table: a new epoch (returned in *epoch whether the
   kernel obeys or not: the caller publishes it), nothing staged or held.
   0, or -1 when the kernel refused (try again).  Until a flush works
   the flush is owed (fpq_book_owed()): what the kernel holds is no
   worker's any more, so the book takes no offload and renews nothing,
   and the caller must not have the kernel renew it either (no poll). */
int		 fpq_book_flush(struct fpq_book *b, uint32_t *epoch);
int		 fpq_book_owed(const struct fpq_book *b);
uint32_t	 fpq_book_epoch(const struct fpq_book *b);
/* The kernel's counts of c (fastpath_counters()): what is new goes to
   its worker through ops->credit.  -1 for a connection the book does
   not hold, nor has staged to go out, or has refused: the kernel's
   copy is a stray.  One that waits to be tried again is in.  One with
   0 ms left goes in again at the sweep, unless the kernel keeps what
   is in (fpq_book_keep()): then not before a dump no longer shows
   it. */
int		 fpq_book_counts(struct fpq_book *b, const struct fp_conn *c,
		    const struct fp_counts *n);
/* After a whole dump: what is in the book but was not in the dump is
   staged to go in again. */
void		 fpq_book_sweep(struct fpq_book *b);
/* The offloads whose back-off ran out by the book's clock (the round's
   now, or fpq_book_clock()'s), staged to be tried again; none while a
   flush is owed. */
void		 fpq_book_retry(struct fpq_book *b);
/*
 * One round of the fast path's thread (fpd.c), at now_ms: every item
 * the n workers' out rings hold, into the book; the kernel table
 * emptied if flush (asked for), if a removal failed or if a worker set
 * sh->flush (a removal that did not fit), its counters read first; what
 * is staged, applied (a failed removal empties the table); then, every
 * FPQ_POLL_MS unless a flush is owed, the kernel's counters read
 * (ops->counters), the book swept and the offloads due to be tried
 * again staged (fpq_book_retry()); in a round without a poll, those due
 * staged all the same.  A flush's new epoch goes to
 * sh->epoch once the kernel was asked, whatever it answered, and one
 * the kernel refused sets sh->flush again, for the next round.  Returns
 * whether the round found work, or left some for the next (staged
 * items, a flush owed, last counts owed).
 */
#define FPQ_POLL_MS	1000
int		 fpq_book_round(struct fpq_book *b, struct fpq_port *ports,
		    unsigned n, struct fpq_shared *sh, int flush,
		    uint64_t now_ms);
/* The poll clock starts at now_ms (the thread's start): the first poll
   is due FPQ_POLL_MS after it.  Also sets the book's clock. */
void		 fpq_book_clock(struct fpq_book *b, uint64_t now_ms);
/* ms until the book's next round is due at now_ms (0: due): its next
   poll, or the first offload to be tried again, if sooner. */
uint64_t	 fpq_book_poll_in(const struct fpq_book *b, uint64_t now_ms);
/* Connections the book believes the kernel holds (or is about to),
   those to be tried again, and those refused whose workers were not
   told yet. */
size_t		 fpq_book_count(const struct fpq_book *b);
void		 fpq_book_stats(const struct fpq_book *b, struct fp_stats *s);

/*
 * The connections the kernel's maps are made for: [conntrack] max in
 * each of nworkers tables, FP_MAX_CONNS at most (all fastpath_open()
 * and fastpath_grow() take).  *cut is the product the last call cut
 * down (0: none, as before the first); *warn is 1 when this call cuts
 * down another one: the log says so once, at start or at the reload
 * that changed it, not at every reload.
 */
uint32_t	 fpq_maps_max(uint32_t max, unsigned nworkers, uint64_t *cut,
		    int *warn);

/* Same connection (the tuple; not the mark)? */
int		 fpq_conn_eq(const struct fp_conn *a, const struct fp_conn *b);

#endif /* NFQSPI_FPQ_H */
