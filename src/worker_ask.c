/*
 * worker_ask.c - ICMP errors about another worker's connection
 *
 * Copyright (C) 2026 The nfqspid authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * With --queue-balance the kernel hashes an ICMP error's own addresses
 * (router -> client), so the error often reaches another worker than the
 * connection it quotes; the hash is seeded at random, so the owner cannot
 * be computed.  A worker that does not know the quoted connection asks
 * every other one: the question (the parsed error) goes into their inbox
 * under a mutex and wakes them with event_active(); each looks it up in
 * its own table (ct_find_related()) and sends the question back as the
 * answer.  Errors are rare: only this path takes a lock.  The error's
 * verdict waits (nq's deferred verdicts) while the other packets go on;
 * an error that came in fragments waits with its held fragments, which
 * then take its verdict.
 *
 * With [sync] a worker asks in the same way for a connection the peer
 * synced, which this node keeps in its home worker (synclink_home())
 * while the kernel may send its packets elsewhere after a failover: the
 * first packet that finds no entry asks home once (worker_adopt()), and
 * home hands the connection over (worker_sync_give()).  That packet and
 * those of the same connection that come meanwhile wait, and are then
 * judged in order against the table the answer filled.
 */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "worker_int.h"
#include "sync_int.h"

/* What the other workers write (the inbox) fills one line alone. */
_Static_assert(offsetof(struct worker, defer) -
    offsetof(struct worker, askmtx) == CACHELINE, "the inbox's line");

struct worker_ask {
	struct worker_ask	*next;
	struct worker		*from;
	uint32_t		 seq;		/* the asker's worker_defer */
	uint8_t			 answer;	/* 0 question, 1 answer */
	uint8_t			 found;
	uint8_t			 adopt;		/* a connection, not an error */
	uint8_t			 back;		/* adopt: found, but the asker
						   is backup now: home takes
						   it again */
	uint32_t		 mark;
	struct pkt		 p;		/* data NULL */
	struct sync_rec		 rec;		/* adopt: s.k asked, the
						   connection answered */
};

/* Put a into w's inbox and wake w. */
static void
worker_post(struct worker *w, struct worker_ask *a)
{
	pthread_mutex_lock(&w->askmtx);
	a->next = w->inbox;
	w->inbox = a;
	pthread_mutex_unlock(&w->askmtx);
	/* thread-safe: the base was made with evthread_use_pthreads() */
	event_active(w->askev, EV_READ, 0);
}

static void
worker_ask_timer(struct worker *w)
{
	struct timeval	 tv = { 0, (WORKER_ASK_MS + 1) * 1000 };

	(void)evtimer_add(w->asktimer, &tv);
}

/* A free slot for a packet of len bytes; NULL if there is none. */
static struct worker_defer *
worker_defer_slot(struct worker *w, size_t len)
{
	unsigned	 i;

	if (w->ndefer == WORKER_DEFER || len > sizeof(w->defer[0].buf))
		return (NULL);
	for (i = 0; i < WORKER_DEFER; i++)
		if (w->defer[i].seq == 0)
			return (&w->defer[i]);
	return (NULL);
}

/* Slot d, its seq set, holds np (len bytes of it from data) from now on,
   until its answer or WORKER_ASK_MS. */
static void
worker_defer_hold(struct worker *w, struct worker_defer *d,
    const struct nq_packet *np, const uint8_t *data, size_t len,
    const char *in, const char *out)
{
	d->id = np->id;
	d->since = np->ts_ms;
	d->np = *np;
	d->np.data = d->buf;
	d->np.len = len;
	memcpy(d->buf, data, len);
	snprintf(d->in, sizeof(d->in), "%s", in);
	snprintf(d->out, sizeof(d->out), "%s", out);
	if (w->ndefer++ == 0)
		worker_ask_timer(w);
}

/*
 * Ask the other workers about the ICMP error p; 0 if its verdict now
 * waits for their answers, -1 if it is decided as it is (one worker,
 * stopping, too many waiting already, too many fragments, no memory).
 * A reassembled error (fr) keeps the datagram's first bytes, as the
 * queue would have copied them: only its headers are read after.
 */
int
worker_ask(struct worker *w, const struct nq_packet *np, const struct pkt *p,
    const struct verdict *v, const char *in, const char *out,
    const struct frag_result *fr)
{
	struct worker_defer	*d;
	struct worker_ask	*a;
	const uint8_t		*data = np->data;
	size_t			 len = np->len;
	unsigned		 i, n;

	if (fr != NULL) {
		if (fr->n > WORKER_DEFER_FRAGS)
			return (-1);
		data = fr->buf;
		len = fr->len < sizeof(d->buf) ? fr->len : sizeof(d->buf);
	}
	n = __atomic_load_n(&w->npeers, __ATOMIC_ACQUIRE);
	if (n < 2 || __atomic_load_n(&w->stopping, __ATOMIC_SEQ_CST) ||
	    (d = worker_defer_slot(w, len)) == NULL)
		return (-1);
	if (++w->askseq == 0)
		w->askseq = 1;
	d->seq = w->askseq;
	d->adopt = 0;
	d->waiting = 0;
	for (i = 0; i < n; i++) {
		if (w->peers[i] == w)
			continue;
		if ((a = calloc(1, sizeof(*a))) == NULL)
			break;
		a->from = w;
		a->seq = d->seq;
		a->p = *p;
		a->p.data = NULL;
		a->p.len = 0;
		worker_post(w->peers[i], a);
		d->waiting++;
	}
	if (d->waiting == 0) {
		d->seq = 0;
		return (-1);
	}
	d->p = *p;
	d->p.data = d->buf;
	d->p.len = len;
	d->v = *v;
	d->nids = fr != NULL ? fr->n : 0;
	if (d->nids > 0)
		memcpy(d->ids, fr->ids, d->nids * sizeof(d->ids[0]));
	worker_defer_hold(w, d, np, data, len, in, out);
	return (0);
}

/* The waiting error d is decided: RELATED if found, else as it was;
   its held fragments first, as worker_fragment() orders them. */
static void
worker_answered(struct worker *w, struct worker_defer *d, int found,
    uint32_t mark)
{
	struct nq_verdict	 nv;

	memset(&nv, 0, sizeof(nv));
	if (found)
		verdict_related(w->cfg, &d->p, d->in, d->out, mark, &d->v);
	worker_frag_release(w, d->ids, d->nids, &d->v);
	d->nids = 0;
	worker_decided(w, &d->np, &d->p, &d->v, d->in, d->out,
	    spi_now_ms(), &nv);
	(void)nq_verdict(w->nq, d->id, &nv);
	d->seq = 0;
	w->ndefer--;
}

/* ---- adoption ([sync], several workers) -------------------------------- */

static int
worker_tuple_eq(const struct ct_tuple *a, const struct ct_tuple *b)
{
	return (a->family == b->family && a->proto == b->proto &&
	    ((a->sport == b->sport && a->dport == b->dport &&
	    memcmp(&a->src, &b->src, sizeof(a->src)) == 0 &&
	    memcmp(&a->dst, &b->dst, sizeof(a->dst)) == 0) ||
	    (a->sport == b->dport && a->dport == b->sport &&
	    memcmp(&a->src, &b->dst, sizeof(a->src)) == 0 &&
	    memcmp(&a->dst, &b->src, sizeof(a->dst)) == 0)));
}

/* A packet that starts its connection anyway: a TCP SYN.  (An ICMP
   error has no key of its own: worker_ask() asks for what it quotes.) */
static int
worker_adopt_skip(const struct nq_packet *np, const struct ct_tuple *k)
{
	size_t		 hl;

	if (k->proto != IPPROTO_TCP)
		return (0);
	hl = k->family == AF_INET ? (size_t)(np->data[0] & 0x0f) * 4 : 40;
	return (np->len >= hl + 14 &&
	    (np->data[hl + 13] & (PKT_TH_SYN | PKT_TH_ACK | PKT_TH_RST)) ==
	    PKT_TH_SYN);
}

/* The waiting adoption of k's connection, if one is out. */
static struct worker_defer *
worker_adopt_waiting(struct worker *w, const struct ct_tuple *k)
{
	unsigned	 i;

	for (i = 0; i < WORKER_DEFER; i++)
		if (w->defer[i].seq != 0 && w->defer[i].adopt &&
		    worker_tuple_eq(&w->defer[i].k, k))
			return (&w->defer[i]);
	return (NULL);
}

/* np waits in a free slot under seq (0: none free). */
static struct worker_defer *
worker_adopt_hold(struct worker *w, const struct nq_packet *np,
    const struct ct_tuple *k, uint32_t seq, const char *in, const char *out)
{
	struct worker_defer	*d;

	if ((d = worker_defer_slot(w, np->len)) == NULL)
		return (NULL);
	memset(d, 0, offsetof(struct worker_defer, buf));
	d->seq = seq;
	d->adopt = 1;
	d->order = w->adoptseq++;
	d->k = *k;
	worker_defer_hold(w, d, np, np->data, np->len, in, out);
	w->nadopt++;
	return (d);
}

int
worker_adopt(struct worker *w, const struct nq_packet *np,
    const struct ct_ahead *a, const char *in, const char *out)
{
	struct ct_tuple		 k;
	struct worker_defer	*d;
	struct worker_ask	*q;
	struct worker		*home;
	unsigned		 n;

	if (!worker_adopt_wanted(w))
		return (-1);
	/* a backup's table follows the peer's, home by home: a copy
	   taken elsewhere would miss its updates */
	n = __atomic_load_n(&w->npeers, __ATOMIC_ACQUIRE);
	if (n < 2 || !sync_sending(w->sync) ||
	    __atomic_load_n(&w->stopping, __ATOMIC_SEQ_CST))
		return (-1);
	/* the batch's hint has TCP's and UDP's; ICMP queries' need more */
	if (a != NULL && a->ok)
		k = a->k;
	else if (verdict_tuple(np->data, np->len, &k) == -1)
		return (-1);
	/* behind the packets of its connection that wait already */
	if (w->nadopt > 0 && (d = worker_adopt_waiting(w, &k)) != NULL)
		return (worker_adopt_hold(w, np, &k, d->seq, in, out) ==
		    NULL ? -1 : 0);
	home = w->peers[synclink_home(&k, n)];
	/* most of the time home holds nothing unseen: one load */
	if (home == w || __atomic_load_n(&home->synced,
	    __ATOMIC_ACQUIRE) == 0 || worker_adopt_skip(np, &k) ||
	    ct_lookup(w->ct, &k) != NULL)
		return (-1);
	if ((q = calloc(1, sizeof(*q))) == NULL)
		return (-1);
	if (++w->askseq == 0)
		w->askseq = 1;
	if (worker_adopt_hold(w, np, &k, w->askseq, in, out) == NULL) {
		free(q);
		return (-1);
	}
	q->from = w;
	q->seq = w->askseq;
	q->adopt = 1;
	q->rec.s.k = k;
	worker_post(home, q);
	return (0);
}

/* The packets waiting under seq, judged in the order they came, against
   the table the answer (if any) filled. */
static void
worker_adopted(struct worker *w, uint32_t seq)
{
	struct worker_defer	*d;
	struct nq_verdict	 nv;
	struct nq_packet	 np;
	unsigned		 i;

	for (;;) {
		for (i = 0, d = NULL; i < WORKER_DEFER; i++)
			if (w->defer[i].seq == seq && w->defer[i].adopt &&
			    (d == NULL || (int32_t)(w->defer[i].order -
			    d->order) < 0))
				d = &w->defer[i];
		if (d == NULL)
			return;
		np = d->np;
		np.ts_ms = spi_now_ms();
		memset(&nv, 0, sizeof(nv));
		/* the slot is freed after: np's bytes are its own */
		d->adopt = 0;
		worker_judge(w, &np, NULL, d->in, d->out, &nv);
		if (!nv.defer)
			(void)nq_verdict(w->nq, d->id, &nv);
		d->seq = 0;
		w->ndefer--;
		w->nadopt--;
	}
}

/*
 * Home's answer: the connection, taken even if its packets stopped
 * waiting (home no longer holds it), unless this node was made backup
 * since: the peer's changes go to home, so the connection goes back
 * there (synclink.c moves the others home in the same way).
 */
static void
worker_adopt_answer(struct worker *w, struct worker_ask *a)
{
	unsigned	 n = __atomic_load_n(&w->npeers, __ATOMIC_ACQUIRE);
	uint32_t	 seq = a->seq;

	if (a->found && !sync_sending(w->sync)) {
		a->back = 1;
		worker_post(w->peers[synclink_home(&a->rec.s.k, n)], a);
		a = NULL;
	} else if (a->found)
		worker_sync_adopt(w, &a->rec);
	worker_adopted(w, seq);
	free(a);
}

/* Home takes back what it gave: a batch of one, behind what the peer
   sent since. */
static void
worker_adopt_back(struct worker *w, struct worker_ask *a)
{
	struct sync_batch	 b;

	memset(&b, 0, sizeof(b));
	b.rec = &a->rec;
	b.n = 1;
	b.keep = 1;
	worker_sync_home(w, &b);
	free(a);
}

void
worker_answer_late(struct worker *w, uint64_t now, uint64_t age)
{
	unsigned	 i;

	for (i = 0; i < WORKER_DEFER && w->ndefer > 0; i++)
		if (w->defer[i].seq != 0 && (age == 0 ||
		    now - w->defer[i].since >= age)) {
			log_debug("%s: worker %u: no answer for packet %u",
			    __func__, w->id, w->defer[i].id);
			if (w->defer[i].adopt)
				worker_adopted(w, w->defer[i].seq);
			else
				worker_answered(w, &w->defer[i], 0, 0);
		}
}

/* Errors nobody answered in time stay as they were. */
void
worker_ask_timeout(evutil_socket_t fd, short events, void *arg)
{
	struct worker	*w = arg;

	worker_answer_late(w, spi_now_ms(), WORKER_ASK_MS);
	if (w->ndefer > 0)
		worker_ask_timer(w);
}

/* The inbox: questions from other workers, answers to ours. */
void
worker_ask_cb(evutil_socket_t fd, short events, void *arg)
{
	struct worker		*w = arg;
	struct worker_ask	*a, *next;
	struct worker_defer	*d;
	unsigned		 i;

	pthread_mutex_lock(&w->askmtx);
	a = w->inbox;
	w->inbox = NULL;
	pthread_mutex_unlock(&w->askmtx);
	for (; a != NULL; a = next) {
		next = a->next;
		if (a->back) {
			worker_adopt_back(w, a);
			continue;
		}
		if (!a->answer) {
			if (a->adopt)
				a->found = (uint8_t)worker_sync_give(w,
				    &a->rec.s.k, &a->rec);
			else
				a->found = (uint8_t)ct_find_related(w->ct,
				    &a->p, &a->mark);
			a->answer = 1;
			worker_post(a->from, a);
			continue;
		}
		if (a->adopt) {
			worker_adopt_answer(w, a);
			continue;
		}
		for (i = 0, d = NULL; i < WORKER_DEFER; i++)
			if (w->defer[i].seq == a->seq) {
				d = &w->defer[i];
				break;
			}
		/* none: decided already (found elsewhere, or too late) */
		if (d != NULL) {
			if (a->found)
				worker_answered(w, d, 1, a->mark);
			else if (--d->waiting == 0)
				worker_answered(w, d, 0, 0);
		}
		free(a);
	}
}

void
worker_set_peers(struct worker **all, unsigned n)
{
	unsigned	 i;

	for (i = 0; i < n; i++) {
		all[i]->peers = all;
		__atomic_store_n(&all[i]->npeers, n, __ATOMIC_RELEASE);
	}
}

/* Questions and answers still in the inbox of a stopped worker. */
void
worker_ask_free(struct worker *w)
{
	struct worker_ask	*a;

	while ((a = w->inbox) != NULL) {
		w->inbox = a->next;
		free(a);
	}
}
