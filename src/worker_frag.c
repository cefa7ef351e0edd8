/*
 * worker_frag.c - a worker's fragments: held until their datagram is
 * decided, then all given its verdict
 *
 * Copyright (C) 2026 The nfqspid authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * A held fragment's verdict is deferred (nq_verdict() later).  When its
 * datagram is decided the held ones get the verdict first, by offset,
 * then the packet that decided it, through the batch.  An ICMP error
 * about another worker's connection first waits for the answer
 * (worker_ask.c), its held fragments with it.  A datagram the cache
 * gives up on is audited once and its fragments dropped.
 */
#include <sys/types.h>

#include <linux/netfilter/nfnetlink_queue.h>
#include <string.h>

#include "worker_int.h"
#include "csum.h"

/* A held fragment's handle: its id, and its length for the counters. */
#define FRAG_HANDLE(np)	((uint64_t)(np)->origlen << 32 | (np)->id)

unsigned
worker_csum(const struct nq_packet *np)
{
	/* not verified is ours; not filled in yet (this host sends it, the
	   device computes it) is not */
	if ((np->skbinfo & NFQA_SKB_CSUM_NOTVERIFIED) &&
	    !(np->skbinfo & NFQA_SKB_CSUMNOTREADY))
		return (CSUM_IP | CSUM_L4);
	return (0);
}

/* The held fragments ids[] take their datagram's verdict v. */
void
worker_frag_release(struct worker *w, const uint64_t *ids, size_t n,
    const struct verdict *v)
{
	struct nq_verdict	 nv;
	size_t			 i;

	memset(&nv, 0, sizeof(nv));
	nv.accept = v->action == RULE_ACCEPT;
	nv.set_mark = v->set_mark;
	nv.mark = v->mark;
	for (i = 0; i < n; i++) {
		worker_count(w, v, (size_t)(ids[i] >> 32));
		(void)nq_verdict(w->nq, (uint32_t)ids[i], &nv);
	}
}

int
worker_fragment(struct worker *w, const struct nq_packet *np,
    const struct verdict_ctx *x, struct nq_verdict *nv)
{
	struct frag_result	 res;
	struct pkt		 p;
	struct verdict		 v;

	if (!frag_maybe(np->data, np->len))
		return (0);
	switch (verdict_fragment(x, w->fc, np->data, np->len,
	    FRAG_HANDLE(np), &res, &p, &v)) {
	case FRAG_PASS:
		return (0);
	case FRAG_HELD:
		nv->defer = 1;	/* its datagram's verdict, or its end */
		return (1);
	default:
		/* an error about another worker's connection waits for its
		   answer, the held fragments with it */
		if (res.status == FRAG_WHOLE && verdict_needs_owner(&p, &v) &&
		    worker_ask(w, np, &p, &v, x->in, x->out, &res) == 0) {
			nv->defer = 1;
			return (1);
		}
		/* whole or ended: audited once, by this packet */
		worker_frag_release(w, res.ids, res.n, &v);
		worker_decided(w, np, &p, &v, x->in, x->out, x->now_ms, nv);
		return (1);
	}
}

/* A datagram the cache gave up on: audited once, its fragments dropped
   (by the [policy] of INVALID packets). */
static void
worker_frag_expired(void *arg, const struct frag_expired *e)
{
	struct worker		*w = arg;
	struct verdict_ctx	 x;
	struct pkt		 p;
	struct verdict		 v;

	x = (struct verdict_ctx){ w->cfg, w->ct, w->lt, "", "",
	    PKT_HOOK_UNKNOWN, 0, spi_now_ms() };
	verdict_invalid(&x, e->buf, e->len, REASON_FRAG_TIMEOUT, &p, &v);
	if (v.log)
		worker_audit(w, &v, &p, "", "", e->len, x.now_ms);
	worker_frag_release(w, e->ids, e->n, &v);
}

void
worker_frag_expire(struct worker *w, uint64_t now)
{
	(void)frag_expire(w->fc, now, worker_frag_expired, w);
}
