/*
 * events.c - `nfqspictl events`: the tables' NEW, UPDATE and DESTROY,
 * from the workers to the main thread
 *
 * Copyright (C) 2026 The nfqspid authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * A worker must never wait for an events client, nor even for the main
 * thread.  So while nobody listens (an atomic flag) an event costs one
 * load; while somebody does, the worker fills the connection's view
 * (ct_view.h) into a ring of its own (one producer, one consumer, no
 * lock) and, if the main thread is not already due to drain that ring,
 * activates an event in the main base.  A full ring loses the event and
 * counts it; the main thread hands the views and the losses to the sink
 * (the control socket), which prints them and bounds what it buffers for
 * each client in the same way.
 *
 * Workers share no cache line here: each ring's worker end (head, the
 * losses, its own pending flag) and its main-thread end (tail) lie on
 * lines of their own, so that two busy workers do not take a line from
 * each other on every event, and a worker reads the tail only when its
 * last look at it says the ring is full.
 */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "nfqspid.h"
#include "cacheline.h"
#include "clock.h"

#define EVENTS_RING	2048		/* records per worker (192 bytes each,
					   384 KiB), a power of 2 */

/* The view travels as data; the rule's name with it, as the worker's
   configuration says it (the main thread's may be newer). */
struct evrec {
	struct ct_view	 v;
	char		 rule[RULE_NAMELEN];
	uint8_t		 event;
};

struct evring {
	/* the worker's line: the main thread writes only pending */
	uint64_t	 head;		/* atomic */
	uint64_t	 lost;		/* atomic: only grows */
	uint64_t	 tail_seen;	/* the tail at the worker's last look */
	struct evrec	*rec;
	int		 pending;	/* atomic: ev is due to drain this ring;
					   cleared by the main thread */
	/* the main thread's line */
	uint64_t	 tail __attribute__((aligned(CACHELINE)));	/* atomic */
	uint64_t	 lost_told;	/* lost as far as the sink heard */
} __attribute__((aligned(CACHELINE)));

_Static_assert(sizeof(struct evring) % CACHELINE == 0,
    "a worker's ring ends where a line ends");
_Static_assert(offsetof(struct evring, pending) < CACHELINE &&
    offsetof(struct evring, tail) == CACHELINE,
    "the worker's end and the main thread's on lines of their own");

struct events {
	struct event	*ev;
	struct evring	*r;		/* cacheline_calloc(): on own lines */
	unsigned	 n;
	int		 on;		/* atomic: somebody listens */
	unsigned	 subscribers;	/* main thread */
	events_sink_fn	 sink;
	void		*sinkarg;
};

static void	 events_drain(evutil_socket_t, short, void *);

struct events *
events_new(struct event_base *base, unsigned nworkers)
{
	struct events	*E;
	unsigned	 i;

	if ((E = calloc(1, sizeof(*E))) == NULL)
		return (NULL);
	if ((E->r = cacheline_calloc(nworkers, sizeof(*E->r))) == NULL)
		goto fail;
	E->n = nworkers;
	for (i = 0; i < nworkers; i++)
		if ((E->r[i].rec = calloc(EVENTS_RING,
		    sizeof(*E->r[i].rec))) == NULL)
			goto fail;
	if ((E->ev = event_new(base, -1, 0, events_drain, E)) == NULL) {
		errno = ENOMEM;
		goto fail;
	}
	return (E);
 fail:
	events_free(E);
	return (NULL);
}

void
events_free(struct events *E)
{
	unsigned	 i;

	if (E == NULL)
		return;
	__atomic_store_n(&E->on, 0, __ATOMIC_SEQ_CST);
	if (E->ev != NULL)
		event_free(E->ev);
	for (i = 0; E->r != NULL && i < E->n; i++)
		free(E->r[i].rec);
	free(E->r);
	free(E);
}

void
events_set_sink(struct events *E, events_sink_fn fn, void *arg)
{
	E->sink = fn;
	E->sinkarg = arg;
}

void
events_subscribe(struct events *E, int delta)
{
	unsigned	 i;

	if (delta > 0 && E->subscribers++ == 0) {
		/* what was left from an earlier listener is stale */
		for (i = 0; i < E->n; i++) {
			__atomic_store_n(&E->r[i].tail, __atomic_load_n(
			    &E->r[i].head, __ATOMIC_ACQUIRE), __ATOMIC_RELEASE);
			E->r[i].lost_told = __atomic_load_n(&E->r[i].lost,
			    __ATOMIC_RELAXED);
		}
		__atomic_store_n(&E->on, 1, __ATOMIC_SEQ_CST);
	} else if (delta < 0 && E->subscribers > 0 && --E->subscribers == 0)
		__atomic_store_n(&E->on, 0, __ATOMIC_SEQ_CST);
}

/* In worker wid's thread: the main thread will drain r. */
static void
events_due(struct events *E, struct evring *r)
{
	/* mostly it is due already: a load of our own line */
	if (__atomic_load_n(&r->pending, __ATOMIC_SEQ_CST) ||
	    __atomic_exchange_n(&r->pending, 1, __ATOMIC_SEQ_CST))
		return;
	/* thread-safe: the main base was made after
	   evthread_use_pthreads() */
	event_active(E->ev, EV_READ, 0);
}

/* In worker wid's thread, from its table's event callback. */
void
events_ct(struct events *E, unsigned wid, int event, const struct ct_table *t,
    const struct ct_entry *e, const struct config *cfg)
{
	struct evring	*r;
	struct evrec	*rec;
	uint64_t	 head;
	uint32_t	 ri;

	if (E == NULL || !__atomic_load_n(&E->on, __ATOMIC_RELAXED) ||
	    wid >= E->n)
		return;
	r = &E->r[wid];
	head = __atomic_load_n(&r->head, __ATOMIC_RELAXED);
	if (head - r->tail_seen >= EVENTS_RING)
		r->tail_seen = __atomic_load_n(&r->tail, __ATOMIC_ACQUIRE);
	if (head - r->tail_seen >= EVENTS_RING) {
		__atomic_add_fetch(&r->lost, 1, __ATOMIC_SEQ_CST);
		events_due(E, r);
		return;
	}
	rec = &r->rec[head & (EVENTS_RING - 1)];
	ct_view_fill(&rec->v, e, spi_now_ms());
	ct_view_table(&rec->v, t, e);
	rec->event = (uint8_t)event;
	rec->rule[0] = '\0';
	if ((ri = ct_entry_rule(e)) < cfg->nrules)
		snprintf(rec->rule, sizeof(rec->rule), "%s",
		    cfg->rules[ri].name);
	__atomic_store_n(&r->head, head + 1, __ATOMIC_SEQ_CST);
	events_due(E, r);
}

/* In the main thread: everything the due rings hold, to the sink. */
static void
events_drain(evutil_socket_t fd, short what, void *arg)
{
	struct events	*E = arg;
	struct evring	*r;
	struct evrec	*rec;
	uint64_t	 head, tail, lost = 0, n;
	unsigned	 i;

	for (i = 0; i < E->n; i++) {
		r = &E->r[i];
		/* a worker whose flag is still set wakes us no more, and
		   published its head before it found the flag set */
		if (!__atomic_load_n(&r->pending, __ATOMIC_SEQ_CST))
			continue;
		__atomic_store_n(&r->pending, 0, __ATOMIC_SEQ_CST);
		head = __atomic_load_n(&r->head, __ATOMIC_SEQ_CST);
		tail = __atomic_load_n(&r->tail, __ATOMIC_RELAXED);
		for (; tail != head; tail++) {
			rec = &r->rec[tail & (EVENTS_RING - 1)];
			rec->v.rule_name = rec->rule[0] != '\0' ? rec->rule :
			    NULL;
			if (E->sink != NULL && E->subscribers > 0)
				E->sink(E->sinkarg, rec->event, &rec->v, 0);
		}
		__atomic_store_n(&r->tail, tail, __ATOMIC_RELEASE);
		n = __atomic_load_n(&r->lost, __ATOMIC_SEQ_CST);
		lost += n - r->lost_told;
		r->lost_told = n;
	}
	if (lost > 0 && E->sink != NULL && E->subscribers > 0)
		E->sink(E->sinkarg, 0, NULL, lost);
}

const char *
events_name(int event)
{
	switch (event) {
	case CT_EVENT_NEW:
		return ("NEW");
	case CT_EVENT_UPDATE:
		return ("UPDATE");
	case CT_EVENT_DESTROY:
		return ("DESTROY");
	default:
		return (NULL);
	}
}
