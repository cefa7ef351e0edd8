/*
 * worker_copy.c - how much of each packet a worker's queue copies
 *
 * Copyright (C) 2026 The nfqspid authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * The engine needs the headers (NQ_COPY_RANGE); [conntrack] checksum =
 * yes needs every byte of a packet the kernel has not verified.  Most
 * packets never need it: a NIC's or veth's verified checksum, GRO's, a
 * GSO packet's (the longest: 64 KiB, of which NQ_COPY_WHOLE would be
 * copied for nothing, a tenth of a worker's time under TCP bulk).  So a
 * queue copies the headers until a packet comes that the kernel has not
 * verified and that was cut: then it copies whole packets, and that one
 * is asked for again (NF_REPEAT: the kernel runs the hook once more,
 * which queues it anew, whole); it stays so while such packets come and
 * goes back to the headers after WORKER_WHOLE_MS without one.  Every
 * packet is checked as before; one that came cut costs a second trip.
 */
#include "worker_int.h"
#include "csum.h"

/* Would a packet like np be cut by copying the headers only? */
static int
worker_needs_whole(const struct worker *w, const struct nq_packet *np)
{
	return (w->cfg->checksum && !np->malformed &&
	    (worker_csum(np) & CSUM_L4) && np->origlen > NQ_COPY_RANGE);
}

static int
worker_copy_set(struct worker *w, uint32_t copy)
{
	int	 fo = w->cfg->fail_open &&
		    !__atomic_load_n(&w->closed, __ATOMIC_SEQ_CST);

	if (nq_set_copy(w->nq, copy, w->cfg->queue_maxlen, fo) == -1) {
		log_warn("worker %u: queue %u: copy %u bytes of each packet",
		    w->id, nq_queue(w->nq), copy);
		return (-1);
	}
	log_debug("%s: worker %u: queue %u copies %u bytes of each packet",
	    __func__, w->id, nq_queue(w->nq), copy);
	return (0);
}

int
worker_copy_packet(struct worker *w, const struct nq_packet *np,
    struct nq_verdict *nv)
{
	if (!worker_needs_whole(w, np))
		return (0);
	w->whole_ms = np->ts_ms;
	/* whole already, or longer than any copy: checked as far as it
	   came (csum_verify()) */
	if (np->len >= np->origlen || np->len >= NQ_COPY_WHOLE)
		return (0);
	if (nq_copy(w->nq) < NQ_COPY_WHOLE &&
	    worker_copy_set(w, NQ_COPY_WHOLE) == -1)
		return (0);
	/* while stopping the queue takes nothing more */
	if (__atomic_load_n(&w->stopping, __ATOMIC_SEQ_CST))
		return (0);
	nv->repeat = 1;
	return (1);
}

void
worker_copy_tick(struct worker *w, uint64_t now)
{
	if (nq_copy(w->nq) == NQ_COPY_RANGE)
		return;
	if (w->cfg->checksum && now - w->whole_ms < WORKER_WHOLE_MS)
		return;
	(void)worker_copy_set(w, NQ_COPY_RANGE);
}
