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
 */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "worker_int.h"

/* What the other workers write (the inbox) fills one line alone. */
_Static_assert(offsetof(struct worker, defer) -
    offsetof(struct worker, askmtx) == CACHELINE, "the inbox's line");

struct worker_ask {
	struct worker_ask	*next;
	struct worker		*from;
	uint32_t		 seq;		/* the asker's worker_defer */
	uint8_t			 answer;	/* 0 question, 1 answer */
	uint8_t			 found;
	uint32_t		 mark;
	struct pkt		 p;		/* data NULL */
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
	struct worker_defer	*d = NULL;
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
	if (n < 2 || w->ndefer == WORKER_DEFER || len > sizeof(d->buf) ||
	    __atomic_load_n(&w->stopping, __ATOMIC_SEQ_CST))
		return (-1);
	for (i = 0; i < WORKER_DEFER; i++)
		if (w->defer[i].seq == 0) {
			d = &w->defer[i];
			break;
		}
	if (d == NULL)
		return (-1);
	if (++w->askseq == 0)
		w->askseq = 1;
	d->seq = w->askseq;
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
	d->id = np->id;
	d->since = np->ts_ms;
	d->np = *np;
	d->np.data = d->buf;
	d->np.len = len;
	memcpy(d->buf, data, len);
	d->p = *p;
	d->p.data = d->buf;
	d->p.len = len;
	d->v = *v;
	snprintf(d->in, sizeof(d->in), "%s", in);
	snprintf(d->out, sizeof(d->out), "%s", out);
	d->nids = fr != NULL ? fr->n : 0;
	if (d->nids > 0)
		memcpy(d->ids, fr->ids, d->nids * sizeof(d->ids[0]));
	if (w->ndefer++ == 0)
		worker_ask_timer(w);
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

void
worker_answer_late(struct worker *w, uint64_t now, uint64_t age)
{
	unsigned	 i;

	for (i = 0; i < WORKER_DEFER && w->ndefer > 0; i++)
		if (w->defer[i].seq != 0 && (age == 0 ||
		    now - w->defer[i].since >= age)) {
			log_debug("%s: worker %u: no answer for packet %u",
			    __func__, w->id, w->defer[i].id);
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
		if (!a->answer) {
			a->found = (uint8_t)ct_find_related(w->ct, &a->p,
			    &a->mark);
			a->answer = 1;
			worker_post(a->from, a);
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
