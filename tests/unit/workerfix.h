/*
 * workerfix.h - real workers without their threads, for test_worker_ask
 * and test_worker_hold
 *
 * Copyright (C) 2026 The nfqspid authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * The drivers link the real worker files (worker.c's verdicts, counters
 * and audit, worker_ask.c, worker_frag.c, worker_sync.c, nq.c) with
 * real tables and inboxes.  The queue's I/O is wrapped (-Wl,--wrap:
 * nq_open, nq_close, nq_verdict, nq_get_stats), so every verdict given
 * later is recorded in given[]; the rest of the daemon (the log, the
 * events, the fast path, sync.c) is stubbed in workerfix.c, and what
 * the stubs saw is counted below.  No thread runs: a test delivers each
 * inbox by calling its callback, as the loop would, and gives the clock
 * to the timeouts by hand.
 */
#ifndef NFQSPI_WORKERFIX_H
#define NFQSPI_WORKERFIX_H

#include <stddef.h>
#include <stdint.h>

#include "worker_int.h"

#define FIX_WORKERS	4	/* workers at most */

/* ---- what the stubs saw; fix_new() clears it ---------------------------- */

extern unsigned	 audits;		/* log_audit() lines */
/* connections started and ended, and changed, as the events would say */
extern unsigned	 ev_ends, ev_updates;

/* sync.c: worker_sync.c is real; what it queues for the peer is counted */
extern int	 sending;		/* master (fix_new(): 1) */
extern int	 mastering;		/* made master, its grace not run yet */
extern int	 bulking;		/* a bulk going out */
extern unsigned	 to_peer;		/* changes queued for the peer */
extern unsigned	 deletes;		/* ... of them DELETEs */
extern unsigned	 queued[FIX_WORKERS];	/* ... by worker */
/* moves as each worker queued its last (the link sends fewer first) */
extern unsigned	 queued_moves[FIX_WORKERS];
extern unsigned	 moves;			/* connections handed over */
extern unsigned	 rebulks;		/* whole tables asked for */
extern uint64_t	 unseen;		/* the node's count */
extern uint8_t	 fakesync;		/* the struct sync * a worker keeps */

/* what nq was told, in order */
struct given {
	uint32_t	 id;
	uint8_t		 accept, set_mark;
	uint32_t	 mark;
};

#define FIX_GIVEN	8192
extern struct given	 given[FIX_GIVEN];
extern size_t		 ngiven;

/* ---- the workers -------------------------------------------------------- */

struct fix {
	struct config	 cfg;
	struct rule	 rules[4];
	struct worker	*all[FIX_WORKERS];
	unsigned	 n;
	uint64_t	 now;
};

/*
 * A fixture whose cfg a driver completes (its rules, in f->rules)
 * before fix_start(): enforcing, NEW and INVALID dropped, ESTABLISHED
 * and RELATED accepted, the default tables.
 */
struct fix	*fix_new(void);
/* n workers (1 to FIX_WORKERS) made from f->cfg at now, each other's
   peers */
void		 fix_start(struct fix *f, unsigned n, uint64_t now);
/* cmocka's teardown of a fixture in *state */
int		 teardown(void **state);

/* np: the packet of len bytes in b, id id, at f->now on the forward
   hook */
void		 fix_packet(const struct fix *f, struct nq_packet *np,
		    uint8_t *b, size_t len, uint32_t id);

#endif
