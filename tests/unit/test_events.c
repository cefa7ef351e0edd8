/*
 * test_events.c - the workers' event rings and the main thread's drain
 *
 * Copyright (C) 2026 The nfqspid authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * Links the real src/events.c and libevent; the worker clock is a stub.
 * Each event carries its worker in the mark and its number in the
 * packet count, so the sink can tell what came, in which order, and
 * what went missing.  The threaded case runs workers against a draining
 * main thread: a wake-up lost between a worker's pending flag and the
 * drain leaves an event in a ring, which the next pass shows.  libevent
 * allocates through cacheline.h here, as in nfqspid.
 */
#include <sys/socket.h>
#include <netinet/in.h>

#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <event2/event.h>
#include <event2/thread.h>

#include "nfqspid.h"
#include "cacheline.h"
#include "clock.h"
#include "config.h"
#include "ct_int.h"

#define NW		4
#define RING		2048	/* EVENTS_RING */
#define PER_THREAD	2000	/* < RING: none is lost */

uint64_t
spi_now_ms(void)
{
	return (1000000000ull);
}

/* what the sink saw */
struct seen {
	uint64_t	 n[NW];		/* views from each worker */
	uint32_t	 next[NW];	/* the number each should send next */
	uint64_t	 lost;
	unsigned	 lost_calls;
	int		 disorder;	/* a view out of its worker's order */
	int		 last_event;
	char		 last_rule[RULE_NAMELEN];
};

static void
sink(void *arg, int event, const struct ct_view *v, uint64_t lost)
{
	struct seen	*s = arg;

	if (v == NULL) {
		s->lost += lost;
		s->lost_calls++;
		return;
	}
	assert_true(v->mark < NW);
	/* a lost event leaves a gap; going back is a bug */
	if (v->packets < s->next[v->mark])
		s->disorder = 1;
	s->next[v->mark] = v->packets + 1;
	s->n[v->mark]++;
	s->last_event = event;
	snprintf(s->last_rule, sizeof(s->last_rule), "%s",
	    v->rule_name != NULL ? v->rule_name : "");
}

struct fixture {
	struct event_base	*base;
	struct events		*E;
	struct config		 cfg;
	struct rule		 rules[2];
	struct seen		 seen;
};

static int
setup(void **state)
{
	struct fixture	*f;

	assert_non_null(f = calloc(1, sizeof(*f)));
	assert_non_null(f->base = event_base_new());
	assert_non_null(f->E = events_new(f->base, NW));
	events_set_sink(f->E, sink, &f->seen);
	snprintf(f->rules[0].name, sizeof(f->rules[0].name), "ssh");
	snprintf(f->rules[1].name, sizeof(f->rules[1].name), "web");
	f->cfg.rules = f->rules;
	f->cfg.nrules = 2;
	*state = f;
	return (0);
}

static int
teardown(void **state)
{
	struct fixture	*f = *state;

	events_free(f->E);
	event_base_free(f->base);
	free(f);
	return (0);
}

/* worker w's event number seq, decided by rule */
static void
send_one(struct fixture *f, unsigned w, uint32_t seq, int event,
    uint16_t rule)
{
	struct ct_entry	 e;

	memset(&e, 0, sizeof(e));
	e.family = AF_INET;
	e.proto = IPPROTO_UDP;
	e.status = CT_ST_USED;
	e.mark = w;
	e.packets = seq;
	e.rule = rule;
	events_ct(f->E, w, event, NULL, &e, &f->cfg);
}

static void
drain(struct fixture *f)
{
	assert_int_not_equal(event_base_loop(f->base, EVLOOP_NONBLOCK), -1);
}

static void
test_nobody_listens(void **state)
{
	struct fixture	*f = *state;

	send_one(f, 0, 0, CT_EVENT_NEW, 0);
	drain(f);
	assert_int_equal(f->seen.n[0], 0);
	/* the listener gets what came after it, not before */
	events_subscribe(f->E, 1);
	send_one(f, 0, 1, CT_EVENT_DESTROY, 1);
	drain(f);
	assert_int_equal(f->seen.n[0], 1);
	assert_int_equal(f->seen.last_event, CT_EVENT_DESTROY);
	assert_string_equal(f->seen.last_rule, "web");
}

/* each worker's events in its order, each ring drained on its own flag */
static void
test_workers_in_order(void **state)
{
	struct fixture	*f = *state;
	unsigned	 w;
	uint32_t	 i;

	events_subscribe(f->E, 1);
	for (i = 0; i < 10; i++)
		for (w = 0; w < NW; w++)
			send_one(f, w, i, CT_EVENT_UPDATE, 9);
	drain(f);
	for (w = 0; w < NW; w++)
		assert_int_equal(f->seen.n[w], 10);
	assert_false(f->seen.disorder);
	assert_string_equal(f->seen.last_rule, "");	/* the policy */
	/* a worker alone after the drain wakes the main thread again */
	send_one(f, 3, 10, CT_EVENT_NEW, 0);
	drain(f);
	assert_int_equal(f->seen.n[3], 11);
	assert_int_equal(f->seen.n[0], 10);
}

/* a full ring loses events and counts them, once, in the next drain */
static void
test_full_ring(void **state)
{
	struct fixture	*f = *state;
	uint32_t	 i;

	events_subscribe(f->E, 1);
	for (i = 0; i < RING + 5; i++)
		send_one(f, 1, i, CT_EVENT_NEW, 0);
	drain(f);
	assert_int_equal(f->seen.n[1], RING);
	assert_int_equal(f->seen.lost, 5);
	assert_int_equal(f->seen.lost_calls, 1);
	/* room again: nothing more is lost */
	send_one(f, 1, i, CT_EVENT_NEW, 0);
	drain(f);
	assert_int_equal(f->seen.n[1], RING + 1);
	assert_int_equal(f->seen.lost, 5);

	/* what a listener that left did not read is stale for the next */
	for (i = 0; i < RING + 3; i++)
		send_one(f, 2, i, CT_EVENT_NEW, 0);
	events_subscribe(f->E, -1);
	events_subscribe(f->E, 1);
	drain(f);
	assert_int_equal(f->seen.n[2], 0);
	assert_int_equal(f->seen.lost, 5);
	send_one(f, 2, 0, CT_EVENT_NEW, 0);
	drain(f);
	assert_int_equal(f->seen.n[2], 1);
	assert_int_equal(f->seen.lost, 5);
}

struct producer {
	struct fixture	*f;
	unsigned	 w;
	uint64_t	 sent;		/* atomic: events_ct() returned */
};

static void *
produce(void *arg)
{
	struct producer	*p = arg;
	uint32_t	 i;

	for (i = 0; i < PER_THREAD; i++) {
		send_one(p->f, p->w, i, CT_EVENT_NEW, 0);
		__atomic_store_n(&p->sent, i + 1, __ATOMIC_SEQ_CST);
		if (i % 16 == 0)
			sched_yield();	/* valgrind runs one thread at once */
	}
	return (NULL);
}

/*
 * Workers and the drain at once.  Once events_ct() has returned, its
 * event is delivered or the drain is due (active): so after one more
 * pass of the loop every event a worker had sent by then has come.  A
 * wake-up lost between a worker's flag and the drain breaks that at once.
 */
static void
test_threads(void **state)
{
	struct fixture	*f = *state;
	struct producer	 p[NW];
	pthread_t	 t[NW];
	uint64_t	 sent[NW];
	unsigned	 w, left = NW;

	events_subscribe(f->E, 1);
	for (w = 0; w < NW; w++) {
		p[w].f = f;
		p[w].w = w;
		p[w].sent = 0;
		assert_int_equal(pthread_create(&t[w], NULL, produce, &p[w]),
		    0);
	}
	while (left > 0) {
		for (w = 0; w < NW; w++)
			sent[w] = __atomic_load_n(&p[w].sent,
			    __ATOMIC_SEQ_CST);
		drain(f);
		for (w = 0, left = 0; w < NW; w++) {
			assert_true(f->seen.n[w] >= sent[w]);
			if (sent[w] < PER_THREAD)
				left++;
		}
		sched_yield();
	}
	for (w = 0; w < NW; w++) {
		assert_int_equal(pthread_join(t[w], NULL), 0);
		assert_int_equal(f->seen.n[w], PER_THREAD);
	}
	assert_false(f->seen.disorder);
	assert_int_equal(f->seen.lost, 0);
}

/* what libevent and the workers allocate lies on lines of its own */
static void
test_cacheline(void **state)
{
	struct fixture	*f = *state;
	struct event	*ev;
	unsigned char	*p;
	size_t		 i;

	assert_int_equal((uintptr_t)f->base % CACHELINE, 0);
	assert_non_null(ev = event_new(f->base, -1, 0, NULL, NULL));
	assert_int_equal((uintptr_t)ev % CACHELINE, 0);
	event_free(ev);

	assert_non_null(p = cacheline_calloc(3, 7));
	assert_int_equal((uintptr_t)p % CACHELINE, 0);
	for (i = 0; i < 21; i++)
		assert_int_equal(p[i], 0);
	memset(p, 0xab, 21);
	/* within its line: kept in place; past it: moved, bytes kept */
	assert_ptr_equal(cacheline_realloc(p, CACHELINE), p);
	assert_non_null(p = cacheline_realloc(p, 1000));
	assert_int_equal((uintptr_t)p % CACHELINE, 0);
	for (i = 0; i < 21; i++)
		assert_int_equal(p[i], 0xab);
	assert_null(cacheline_realloc(p, 0));	/* freed */
	assert_null(cacheline_calloc(SIZE_MAX / 2, 4));
	assert_null(cacheline_malloc(SIZE_MAX - 10));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_nobody_listens, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_workers_in_order, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_full_ring, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_threads, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_cacheline, setup,
		    teardown),
	};

	/* as nfqspid does, before libevent allocates anything */
	event_set_mem_functions(cacheline_malloc, cacheline_realloc, free);
	if (evthread_use_pthreads() == -1)
		return (1);
	return (cmocka_run_group_tests(tests, NULL, NULL));
}
