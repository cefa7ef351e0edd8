/*
 * worker_overflow.c - a worker's queue under overload: overflows seen
 * while failing open, the grace that follows, the watchdog's closing
 *
 * Copyright (C) 2026 The nfqspid authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * With fail_open = yes the kernel accepts what finds the queue full
 * without counting it anywhere: those packets pass unseen, and the
 * connections they belong to are ahead of what the table knows.  After
 * an overflow, for fail_open_grace seconds, an assured TCP connection is
 * not held to its window (ct_grace()), so that a live transfer survives
 * the burst; each segment let pass so is counted and audited.
 *
 * How an overflow is seen: packet ids that never came (the kernel numbers
 * a packet before it tries our socket, so a full socket leaves a gap:
 * sure), and the kernel's backlog of the queue (a full queue leaves no
 * gap), read whenever the queue may have filled: when WORKER_STALL_MS
 * passed between two of the worker's readings of the clock (a stall,
 * SIGSTOP, a slow reload: wherever the loop stopped, even after a read's
 * last batch), after a read that hit its budget (we are behind), and at
 * every tick.  Checked before every batch is decided, so the first
 * packets after a stall are judged in grace.  A backlog within 1/8 of
 * queue_maxlen of full counts as an overflow: a heuristic, as a queue
 * that just filled without overflowing looks the same.
 */
#include <errno.h>

#include "worker_int.h"

static void
worker_overflow(struct worker *w, uint64_t now, const char *why)
{
	uint64_t	 until = now + (uint64_t)w->cfg->fail_open_grace * 1000;

	w->st.overflows++;
	if (w->cfg->fail_open_grace == 0)
		return;
	ct_grace(w->ct, until);
	/* one line a grace, not one a packet */
	if (now >= w->grace_ms)
		log_warnx("worker %u: queue %u overflowed (%s) while failing "
		    "open: packets passed unchecked; TCP windows are liberal "
		    "for %u s", w->id, nq_queue(w->nq), why,
		    w->cfg->fail_open_grace);
	w->grace_ms = until;
}

static void
worker_lost_check(struct worker *w, uint64_t now)
{
	if (!w->cfg->fail_open || nq_lost(w->nq) == w->lost_seen)
		return;
	w->lost_seen = nq_lost(w->nq);
	worker_overflow(w, now, "socket buffer full");
}

void
worker_overflow_check(struct worker *w, uint64_t now, int tick)
{
	uint32_t	 maxlen = w->cfg->queue_maxlen;
	int		 stalled = now > w->ran_ms &&
		    now - w->ran_ms >= WORKER_STALL_MS;
	int64_t		 n;

	/* every reading of the clock comes through here, so a stall
	   between any two of them is seen (one after a read's last
	   batch, too) */
	if (now > w->ran_ms)
		__atomic_store_n(&w->ran_ms, now, __ATOMIC_RELAXED);
	if (!w->cfg->fail_open)
		return;
	worker_lost_check(w, now);
	if (!stalled && !tick &&
	    (!w->behind || now - w->probe_ms < WORKER_PROBE_MS))
		return;
	w->probe_ms = now;
	if ((n = nq_backlog(w->nq)) == -1) {
		if (stalled)
			worker_overflow(w, now, "stalled");
		return;
	}
	if ((uint64_t)n + maxlen / 8 >= maxlen)
		worker_overflow(w, now, stalled ? "stalled" : "full");
}

void
worker_set_params(struct worker *w, const struct config *cfg)
{
	__atomic_store_n(&w->qmaxlen, cfg->queue_maxlen, __ATOMIC_RELAXED);
	__atomic_store_n(&w->qopen, cfg->fail_open, __ATOMIC_RELAXED);
}

void
worker_reopen(struct worker *w, uint64_t now)
{
	if (!__atomic_exchange_n(&w->closed, 0, __ATOMIC_SEQ_CST))
		return;
	if (nq_set_params(w->nq, w->cfg->queue_maxlen, w->cfg->fail_open) ==
	    -1)
		log_warn("worker %u: queue %u: fail open again", w->id,
		    nq_queue(w->nq));
	log_warnx("worker %u runs again: queue %u fails open again", w->id,
	    nq_queue(w->nq));
	/* while it was closed and before, the queue may have overflowed */
	if (w->cfg->fail_open)
		worker_overflow(w, now, "stalled");
}

/* The watchdog's thread: only the atomics and the socket are touched. */
int
worker_close_queue(struct worker *w)
{
	if (!__atomic_load_n(&w->qopen, __ATOMIC_RELAXED) ||
	    __atomic_exchange_n(&w->closed, 1, __ATOMIC_SEQ_CST))
		return (0);
	if (nq_set_params(w->nq, __atomic_load_n(&w->qmaxlen,
	    __ATOMIC_RELAXED), 0) == -1)
		return (-1);
	return (1);
}

int
worker_in_call(const struct worker *w)
{
	return (__atomic_load_n(&w->incall, __ATOMIC_SEQ_CST));
}
