/*
 * worker_fp.c - a worker's side of the fast path ([daemon] fastpath)
 *
 * Copyright (C) 2026 The nfqspid authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * Which of its connections the kernel carries is the worker's to say,
 * and the table's to remember (ct_offloaded()).  A connection goes once
 * it is established and everything about it is settled, and only when no
 * packet of it needs deciding any more: the configuration lets every
 * established packet pass unasked (enforce mode, [policy] established =
 * accept, no rule naming established packets), so the kernel passing
 * them changes no verdict, no rule counter (the kernel's counts come back
 * into the [policy] established row) and no limit (rate and conn_limit
 * count new connections, which always come to us).
 *
 * It leaves the kernel the moment it stops being that: a packet moves
 * it out of ESTABLISHED (FIN, RST: those always come to us), or it
 * leaves the table (expiry, eviction, flush, delete, a reload's
 * judgement).  Removals never fail: see fpq.h.
 */
#include <sys/types.h>
#include <netinet/in.h>

#include <string.h>

#include "worker_int.h"

void
worker_set_fastpath(struct worker *w, struct fpd *d)
{
	w->fpd = d;
	w->fpp = d != NULL ? fpd_port(d, w->id) : NULL;
	if (w->fpp == NULL)
		w->fpd = NULL;
	else
		/* offloaded connections show the kernel's bytes too */
		ct_keep_bytes(w->ct);
	worker_fp_config(w, w->cfg);
}

void
worker_fp_config(struct worker *w, const struct config *cfg)
{
	w->fp_ok = w->fpd != NULL && cfg->mode == MODE_ENFORCE &&
	    cfg->policy[CT_ESTABLISHED] == RULE_ACCEPT &&
	    (cfg->norule_states & CT_STATE_BIT(CT_ESTABLISHED)) != 0;
}

static void
worker_fp_conn(const struct ct_entry *e, struct fp_conn *c)
{
	memset(c, 0, sizeof(*c));
	ct_entry_tuple(e, &c->family, &c->proto, &c->src, &c->dst, &c->sport,
	    &c->dport);
	c->mark = ct_entry_mark(e);
}

/* c leaves the kernel. */
static void
worker_fp_del(struct worker *w, const struct fp_conn *c)
{
	struct fpq_item	 it;

	memset(&it, 0, sizeof(it));
	it.c = *c;
	it.op = FPQ_DEL;
	it.epoch = w->fp_epoch;
	w->st.fp.removed++;
	if (fpq_ring_push(&w->fpp->out, &it) == -1)
		/* the thread empties the whole kernel table instead */
		fpd_lost_removal(w->fpd);
	else
		fpd_wake(w->fpd);
}

/* e leaves the kernel (its mark is the caller's to take off). */
void
worker_fp_remove(struct worker *w, const struct ct_entry *e)
{
	struct fp_conn	 c;

	worker_fp_conn(e, &c);
	worker_fp_del(w, &c);
}

/* The table's event: an offloaded connection that goes (expiry,
   eviction, flush, delete, a reload's judgement) leaves the kernel. */
void
worker_fp_event(struct worker *w, int event, const struct ct_entry *e)
{
	/* the table takes the mark off itself once e is gone */
	if (event == CT_EVENT_DESTROY && ct_offloaded(w->ct, e))
		worker_fp_remove(w, e);
}

/* A packet was decided: does its connection go to the kernel, or leave? */
void
worker_fp_packet(struct worker *w, const struct pkt *p,
    const struct verdict *v)
{
	struct ct_entry	*e = v->entry;
	struct fpq_item	 it;
	uint32_t	 room;

	if (e == NULL)
		return;
	if (ct_offloaded(w->ct, e)) {
		if (!ct_offloadable(e)) {
			/* FIN, RST: from now on we see every packet */
			worker_fp_remove(w, e);
			(void)ct_set_offloaded(w->ct, e, 0);
		}
		return;
	}
	if (!w->fp_ok || v->action != RULE_ACCEPT || v->monitor ||
	    v->reason != REASON_NONE ||
	    ct_entry_packets(e) < WORKER_FP_PACKETS || !ct_offloadable(e) ||
	    (p->proto == IPPROTO_TCP &&
	    (p->th_flags & (PKT_TH_SYN | PKT_TH_FIN | PKT_TH_RST))) ||
	    (ct_entry_mark(e) & FP_BYPASS_MARK) ||
	    ct_offload_refused(w->ct, e))
		return;
	/* what is left of the ring stays for removals */
	if ((room = fpq_ring_room(&w->fpp->out)) <= FPQ_RESERVE) {
		w->st.fp.ring_full++;
		fpd_wake(w->fpd);
		return;
	}
	memset(&it, 0, sizeof(it));
	worker_fp_conn(e, &it.c);
	it.op = FPQ_ADD;
	it.epoch = w->fp_epoch;
	if (ct_set_offloaded(w->ct, e, 1) == -1)
		return;
	/* cannot fail: room was above the reserve, and we are the only
	   producer */
	(void)fpq_ring_push(&w->fpp->out, &it);
	w->st.fp.offloaded++;
	/* half full: the thread need not wait for its round */
	if (room == FPQ_RING_OUT / 2)
		fpd_wake(w->fpd);
	else
		fpd_kick(w->fpd);	/* a syscall only if it sleeps idle */
}

/* The thread emptied the kernel table: nothing of ours is in it. */
void
worker_fp_epoch(struct worker *w)
{
	uint32_t	 e = __atomic_load_n(&fpd_shared(w->fpd)->epoch,
			    __ATOMIC_ACQUIRE);

	if (e != w->fp_epoch) {
		ct_offload_clear(w->ct);
		w->fp_epoch = e;
	}
}

/*
 * The kernel's table did not take c: its connection is no longer counted
 * as offloaded, nor offered again.  The notice may be older than the
 * connection now on c's tuple (the refused one ended, a new one came and
 * went in), so c is also removed: a removal of what is not in is nothing,
 * and one of a newer connection only sends it back to the queue, where it
 * is judged as before.  Without it that one would stay in the kernel
 * after its end, with nobody to take it out.
 */
static void
worker_fp_refused(struct worker *w, const struct ct_tuple *k,
    const struct fp_conn *c, uint64_t now)
{
	if (ct_refuse(w->ct, k, now) == 0)
		worker_fp_del(w, c);
}

/*
 * What the kernel passed of our connections since the last poll: counted
 * into each (its idle timer starts again), and into the [policy]
 * established row of the rule counters, which decided them.  A credit
 * of no connection (family 0) sums the last counts of connections gone
 * that the thread could not hand over one by one (fpq.c): the totals
 * only.
 */
void
worker_fp_credits(struct worker *w, uint64_t now)
{
	struct fpq_credit	 cr;
	struct ct_tuple		 k;
	size_t			 i;

	worker_fp_epoch(w);
	while (fpq_ring_pop(&w->fpp->back, &cr)) {
		memset(&k, 0, sizeof(k));
		k.family = cr.c.family;
		k.proto = cr.c.proto;
		k.src = cr.c.src;
		k.dst = cr.c.dst;
		k.sport = cr.c.sport;
		k.dport = cr.c.dport;
		if (cr.refused) {
			/* one of an epoch before the table was emptied
			   is about a mark ct_offload_clear() took off */
			if (cr.epoch == w->fp_epoch)
				worker_fp_refused(w, &k, &cr.c, now);
			continue;
		}
		/* whatever its epoch: the kernel passed those packets of
		   the tuple while its connection was ours and offloaded
		   (a notice, above, changes marks; counts only add).  The
		   tuple may hold a newer connection by now (this credit
		   was owed, or waited in the ring): it then gets the old
		   one's last second or so, and its timer restarts once */
		if (cr.c.family != 0)
			(void)ct_credit(w->ct, &k, cr.pkts > UINT32_MAX ?
			    UINT32_MAX : (uint32_t)cr.pkts, cr.bytes, now);
		w->st.fp.packets += cr.pkts;
		w->st.fp.bytes += cr.bytes;
		i = w->cfg->nrules + CT_ESTABLISHED;
		if (w->rcount != NULL && i < w->nrcount) {
			w->rcount[2 * i] += cr.pkts;
			w->rcount[2 * i + 1] += cr.bytes;
		}
	}
}
