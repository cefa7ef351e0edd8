/*
 * events.c - `nfqspictl events`: the tables' NEW, UPDATE and DESTROY,
 * from the workers to the main thread
 *
 * Copyright (C) 2026 The nfqspid authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * A worker must never wait for an events client, nor even for the main
 * thread.  So while nobody listens (an atomic flag) an event costs one
 * load; while somebody does, the worker formats the connection line into
 * a ring of its own (one producer, one consumer, no lock) and, if the
 * main thread is not already due to drain, activates an event in the
 * main base.  A full ring loses the event and counts it; the main thread
 * hands the lines and the losses to the control socket, which bounds what
 * it buffers for each client in the same way.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "nfqspid.h"

#define EVENTS_RING	(256 * 1024)	/* bytes per worker, a power of 2 */
#define EVENTS_LINEMAX	512
#define EVENTS_RECHDR	3		/* u16 length, u8 event */

struct evring {
	char		*buf;
	uint64_t	 head;		/* written by the worker (atomic) */
	uint64_t	 tail;		/* written by the main thread (atomic) */
	uint64_t	 lost;		/* atomic */
};

static struct {
	struct event	*ev;
	struct evring	*r;
	unsigned	 n;
	int		 on;		/* atomic: somebody listens */
	int		 pending;	/* atomic: ev is active */
	unsigned	 subscribers;	/* main thread */
	events_sink_fn	 sink;
	void		*sinkarg;
} E;

static void	 events_drain(evutil_socket_t, short, void *);

int
events_init(struct event_base *base, unsigned nworkers)
{
	unsigned	 i;

	if ((E.r = calloc(nworkers, sizeof(*E.r))) == NULL)
		return (-1);
	E.n = nworkers;
	for (i = 0; i < nworkers; i++)
		if ((E.r[i].buf = malloc(EVENTS_RING)) == NULL)
			goto fail;
	if ((E.ev = event_new(base, -1, 0, events_drain, NULL)) == NULL) {
		errno = ENOMEM;
		goto fail;
	}
	return (0);
 fail:
	events_free();
	return (-1);
}

void
events_free(void)
{
	unsigned	 i;

	__atomic_store_n(&E.on, 0, __ATOMIC_SEQ_CST);
	if (E.ev != NULL)
		event_free(E.ev);
	for (i = 0; E.r != NULL && i < E.n; i++)
		free(E.r[i].buf);
	free(E.r);
	memset(&E, 0, sizeof(E));
}

void
events_set_sink(events_sink_fn fn, void *arg)
{
	E.sink = fn;
	E.sinkarg = arg;
}

void
events_subscribe(int delta)
{
	unsigned	 i;

	if (delta > 0 && E.subscribers++ == 0 && E.r != NULL) {
		/* what was left from an earlier listener is stale */
		for (i = 0; i < E.n; i++) {
			__atomic_store_n(&E.r[i].tail, __atomic_load_n(
			    &E.r[i].head, __ATOMIC_ACQUIRE), __ATOMIC_RELEASE);
			__atomic_store_n(&E.r[i].lost, 0, __ATOMIC_SEQ_CST);
		}
		__atomic_store_n(&E.on, 1, __ATOMIC_SEQ_CST);
	} else if (delta < 0 && E.subscribers > 0 && --E.subscribers == 0)
		__atomic_store_n(&E.on, 0, __ATOMIC_SEQ_CST);
}

static void
ring_put(struct evring *r, uint64_t at, const void *p, size_t len)
{
	size_t	 off = at & (EVENTS_RING - 1), n;

	n = EVENTS_RING - off < len ? EVENTS_RING - off : len;
	memcpy(r->buf + off, p, n);
	if (n < len)
		memcpy(r->buf, (const char *)p + n, len - n);
}

static void
ring_get(const struct evring *r, uint64_t at, void *p, size_t len)
{
	size_t	 off = at & (EVENTS_RING - 1), n;

	n = EVENTS_RING - off < len ? EVENTS_RING - off : len;
	memcpy(p, r->buf + off, n);
	if (n < len)
		memcpy((char *)p + n, r->buf, len - n);
}

/* In worker wid's thread, from its table's event callback. */
void
events_ct(unsigned wid, int event, const struct ct_entry *e)
{
	struct evring	*r;
	char		 rec[EVENTS_RECHDR + EVENTS_LINEMAX];
	uint64_t	 head, tail;
	int		 n;

	if (!__atomic_load_n(&E.on, __ATOMIC_RELAXED) || wid >= E.n)
		return;
	r = &E.r[wid];
	n = ct_format(e, worker_now_ms(), rec + EVENTS_RECHDR,
	    EVENTS_LINEMAX);
	if (n < 0)
		return;
	if (n >= EVENTS_LINEMAX)
		n = EVENTS_LINEMAX - 1;		/* cannot happen: 2 tuples */
	rec[0] = (char)(n >> 8);
	rec[1] = (char)(n & 0xff);
	rec[2] = (char)event;
	head = __atomic_load_n(&r->head, __ATOMIC_RELAXED);
	tail = __atomic_load_n(&r->tail, __ATOMIC_ACQUIRE);
	if (EVENTS_RING - (head - tail) < (uint64_t)n + EVENTS_RECHDR) {
		__atomic_add_fetch(&r->lost, 1, __ATOMIC_RELAXED);
		return;
	}
	ring_put(r, head, rec, (size_t)n + EVENTS_RECHDR);
	__atomic_store_n(&r->head, head + (uint64_t)n + EVENTS_RECHDR,
	    __ATOMIC_SEQ_CST);
	/* thread-safe: the main base was made after
	   evthread_use_pthreads() */
	if (__atomic_exchange_n(&E.pending, 1, __ATOMIC_SEQ_CST) == 0)
		event_active(E.ev, EV_READ, 0);
}

/* In the main thread: everything the rings hold, to the sink. */
static void
events_drain(evutil_socket_t fd, short what, void *arg)
{
	struct evring	*r;
	char		 rec[EVENTS_RECHDR + EVENTS_LINEMAX];
	uint64_t	 head, tail, lost = 0;
	size_t		 len;
	unsigned	 i;

	__atomic_store_n(&E.pending, 0, __ATOMIC_SEQ_CST);
	for (i = 0; i < E.n; i++) {
		r = &E.r[i];
		head = __atomic_load_n(&r->head, __ATOMIC_SEQ_CST);
		tail = __atomic_load_n(&r->tail, __ATOMIC_RELAXED);
		while (head - tail >= EVENTS_RECHDR) {
			ring_get(r, tail, rec, EVENTS_RECHDR);
			len = ((size_t)(uint8_t)rec[0] << 8) | (uint8_t)rec[1];
			if (len >= EVENTS_LINEMAX ||
			    head - tail < len + EVENTS_RECHDR)
				break;		/* cannot happen */
			ring_get(r, tail + EVENTS_RECHDR, rec + EVENTS_RECHDR,
			    len);
			rec[EVENTS_RECHDR + len] = '\0';
			tail += len + EVENTS_RECHDR;
			if (E.sink != NULL && E.subscribers > 0)
				E.sink(E.sinkarg, (uint8_t)rec[2],
				    rec + EVENTS_RECHDR, 0);
		}
		__atomic_store_n(&r->tail, tail, __ATOMIC_RELEASE);
		lost += __atomic_exchange_n(&r->lost, 0, __ATOMIC_RELAXED);
	}
	if (lost > 0 && E.sink != NULL && E.subscribers > 0)
		E.sink(E.sinkarg, 0, NULL, lost);
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
