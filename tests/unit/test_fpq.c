/*
 * test_fpq.c - cmocka tests for fpq.c: the fast path's rings and its
 * thread's book, with the kernel (fastpath.h) played by the test
 *
 * Copyright (C) 2026 The nfqspid authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include <sys/socket.h>
#include <netinet/in.h>

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <sched.h>
#include <cmocka.h>

#include "fpq.h"

/* ---- the kernel, as the book sees it --------------------------------- */

#define KMAX	8192

struct kern {
	struct fp_conn	 in[KMAX];	/* what the kernel holds */
	struct fp_counts kc[KMAX];	/* and counted of each */
	size_t		 n;
	unsigned	 adds, dels, flushes, gets;	/* calls */
	size_t		 last_add, last_del;	/* their n */
	int		 fail_add, fail_del, fail_flush, fail_get;
	size_t		 take;		/* fail_add: these first go in */
	size_t		 txn;		/* fail_add: the failed transaction
					   holds so many (0: all the rest),
					   those after it are never sent */
	unsigned	 asked;		/* connections sent, all calls */
	int		 lost;		/* fail_add: the failed one goes in
					   too, its answer lost */
	uint16_t	 out_sport;	/* this connection stays out */
	uint16_t	 poison;	/* a transaction holding this one
					   fails whole (EINVAL) */
	unsigned	 poisoned;	/* such transactions */
	int		 absent_ok;	/* removals of what is not in */
	unsigned	 absent;
	/* credits: the last one's worker, counts and connection; each
	   worker's sums */
	unsigned	 cw;
	uint64_t	 cp, cb;
	struct fp_conn	 cc;
	unsigned	 credits;
	uint64_t	 wp[4], wb[4];
	int		 full;		/* the worker's ring is full */
	/* refusals told: how many, the last one's worker and port */
	unsigned	 refusals, rw;
	uint16_t	 rsport;
	/* the round's: counter dumps, what each saw, the epoch the
	   workers saw when the kernel was asked to flush */
	unsigned	 polls;
	size_t		 polled_n;
	int		 fail_counters;
	const struct fpq_shared *sh;
	uint32_t	 flush_epoch;
};

static int
k_find(struct kern *k, const struct fp_conn *c)
{
	size_t	 i;

	for (i = 0; i < k->n; i++)
		if (fpq_conn_eq(&k->in[i], c))
			return ((int)i);
	return (-1);
}

static void
k_put(struct kern *k, const struct fp_conn *c)
{
	/* an element already there is replaced */
	if (k_find(k, c) != -1)
		return;
	assert_true(k->n < KMAX);
	memset(&k->kc[k->n], 0, sizeof(k->kc[0]));
	k->in[k->n++] = *c;
}

static int
k_add(void *arg, const struct fp_conn *c, size_t n, uint8_t *in)
{
	struct kern	*k = arg;
	size_t		 i;

	k->adds++;
	k->last_add = n;
	memset(in, FP_ADD_OUT, n);
	for (i = 0; i < n && k->poison != 0; i++)
		if (c[i].sport == k->poison) {
			/* the kernel rejects it, and so its transaction:
			   all or none */
			k->poisoned++;
			errno = EINVAL;
			return (-1);
		}
	for (i = 0; i < n; i++) {
		if (k->fail_add && i == k->take) {
			if (k->lost)
				k_put(k, &c[i]);
			if (k->txn != 0 && i + k->txn < n) {
				memset(in + i + k->txn, FP_ADD_UNSENT,
				    n - i - k->txn);
				n = i + k->txn;
			}
			k->asked += (unsigned)n;
			errno = ENOBUFS;
			return (-1);
		}
		if (k->out_sport != 0 && c[i].sport == k->out_sport) {
			in[i] = FP_ADD_NOROOM;
			continue;
		}
		in[i] = FP_ADD_IN;
		k_put(k, &c[i]);
	}
	k->asked += (unsigned)n;
	return (0);
}

static int
k_del(void *arg, const struct fp_conn *c, size_t n)
{
	struct kern	*k = arg;
	size_t		 i;
	int		 j;

	k->dels++;
	k->last_del = n;
	if (k->fail_del) {
		errno = EIO;
		return (-1);
	}
	for (i = 0; i < n; i++) {
		/* nor removes what it does not hold, but what a failed
		   transaction may have put in */
		if ((j = k_find(k, &c[i])) == -1) {
			assert_true(k->absent_ok);
			k->absent++;
			continue;
		}
		k->kc[j] = k->kc[k->n - 1];
		k->in[j] = k->in[--k->n];
	}
	return (0);
}

static int
k_flush(void *arg)
{
	struct kern	*k = arg;

	k->flushes++;
	if (k->sh != NULL)
		k->flush_epoch = __atomic_load_n(&k->sh->epoch,
		    __ATOMIC_ACQUIRE);
	if (k->fail_flush) {
		errno = EIO;
		return (-1);
	}
	k->n = 0;
	return (0);
}

static int
k_credit(void *arg, unsigned w, const struct fp_conn *c, uint64_t pkts,
    uint64_t bytes)
{
	struct kern	*k = arg;

	if (k->full)
		return (-1);
	k->credits++;
	k->cw = w;
	k->cp = pkts;
	k->cb = bytes;
	k->cc = *c;
	assert_true(w < 4);
	k->wp[w] += pkts;
	k->wb[w] += bytes;
	return (0);
}

static int
k_refuse(void *arg, unsigned w, const struct fp_conn *c)
{
	struct kern	*k = arg;

	if (k->full)
		return (-1);
	k->refusals++;
	k->rw = w;
	k->rsport = c->sport;
	return (0);
}

static int
k_get(void *arg, const struct fp_conn *c, size_t n, struct fp_counts *out)
{
	struct kern	*k = arg;
	size_t		 i;
	int		 j;

	k->gets++;
	if (k->fail_get) {
		errno = EIO;
		return (-1);
	}
	for (i = 0; i < n; i++) {
		memset(&out[i], 0, sizeof(out[i]));
		if ((j = k_find(k, &c[i])) != -1) {
			out[i].pkts = k->kc[j].pkts;
			out[i].bytes = k->kc[j].bytes;
		}
	}
	return (0);
}

/* as fastpath_counters(): a stray is taken out */
static int
k_counters(void *arg, fp_counts_cb cb, void *cbarg)
{
	struct kern	*k = arg;
	struct fp_counts n;
	size_t		 i;

	k->polls++;
	k->polled_n = k->n;
	if (k->fail_counters) {
		errno = EIO;
		return (-1);
	}
	for (i = 0; i < k->n; ) {
		n = k->kc[i];
		n.expires_ms = 1000;
		if (cb(&k->in[i], &n, cbarg) == -1) {
			k->kc[i] = k->kc[k->n - 1];
			k->in[i] = k->in[--k->n];
		} else
			i++;
	}
	return (0);
}

static const struct fpq_ops kops = {
	.add = k_add,
	.del = k_del,
	.flush = k_flush,
	.credit = k_credit,
	.refuse = k_refuse,
	.get = k_get,
	.counters = k_counters
};

static struct fp_conn
conn(uint16_t sport)
{
	struct fp_conn	 c;

	memset(&c, 0, sizeof(c));
	c.family = AF_INET;
	c.proto = IPPROTO_TCP;
	c.src.a8[0] = 10;
	c.src.a8[3] = 1;
	c.dst.a8[0] = 10;
	c.dst.a8[3] = 2;
	c.sport = sport;
	c.dport = 80;
	return (c);
}

static struct fpq_item
item(uint8_t op, uint16_t sport, uint32_t epoch)
{
	struct fpq_item	 it;

	memset(&it, 0, sizeof(it));
	it.op = op;
	it.c = conn(sport);
	it.epoch = epoch;
	return (it);
}

static void
feed(struct fpq_book *b, unsigned w, uint8_t op, uint16_t sport)
{
	struct fpq_item	 it = item(op, sport, fpq_book_epoch(b));

	assert_int_equal(fpq_book_item(b, w, &it), 0);
}

/* ---- the rings ------------------------------------------------------- */

static void
test_ring(void **state)
{
	struct fpq_ring	 r;
	uint32_t	 v, i;

	assert_int_equal(fpq_ring_init(&r, 6, 4), -1);
	assert_int_equal(errno, EINVAL);
	assert_int_equal(fpq_ring_init(&r, 8, sizeof(v)), 0);
	assert_int_equal(fpq_ring_room(&r), 8);
	assert_int_equal(fpq_ring_pop(&r, &v), 0);
	/* around the end of the slots, and of the 32-bit counters */
	r.head = r.tail = UINT32_MAX - 3;
	for (i = 0; i < 8; i++)
		assert_int_equal(fpq_ring_push(&r, &i), 0);
	assert_int_equal(fpq_ring_room(&r), 0);
	/* full: nothing written */
	assert_int_equal(fpq_ring_push(&r, &i), -1);
	for (i = 0; i < 8; i++) {
		assert_int_equal(fpq_ring_pop(&r, &v), 1);
		assert_int_equal(v, i);
	}
	assert_int_equal(fpq_ring_pop(&r, &v), 0);
	assert_int_equal(fpq_ring_room(&r), 8);
	fpq_ring_free(&r);
}

#define SPSC_N	200000

static void *
spsc_producer(void *arg)
{
	struct fpq_ring	*r = arg;
	uint32_t	 i;

	/* sched_yield(): under valgrind, which runs one thread at a time,
	   a bare spin burns its whole time slice on a full ring */
	for (i = 1; i <= SPSC_N; i++)
		while (fpq_ring_push(r, &i) == -1)
			sched_yield();
	return (NULL);
}

/* Two threads: every item arrives once, in order. */
static void
test_ring_threads(void **state)
{
	struct fpq_ring	 r;
	pthread_t	 t;
	uint32_t	 v, want = 1;

	assert_int_equal(fpq_ring_init(&r, 64, sizeof(v)), 0);
	assert_int_equal(pthread_create(&t, NULL, spsc_producer, &r), 0);
	while (want <= SPSC_N)
		if (fpq_ring_pop(&r, &v)) {
			assert_int_equal(v, want);
			want++;
		} else
			sched_yield();
	pthread_join(t, NULL);
	assert_int_equal(fpq_ring_pop(&r, &v), 0);
	fpq_ring_free(&r);
}

/* ---- the book -------------------------------------------------------- */

static void
test_book_batches(void **state)
{
	struct kern	*k = calloc(1, sizeof(*k));
	struct fpq_book	*b = fpq_book_new(&kops, k);
	unsigned	 i;

	assert_non_null(b);
	/* staged, then one call for all of them */
	for (i = 0; i < 10; i++)
		feed(b, 1, FPQ_ADD, 1000 + i);
	assert_int_equal(k->adds, 0);
	assert_int_equal(fpq_book_pending(b), 1);
	assert_int_equal(fpq_book_apply(b), 0);
	assert_int_equal(k->adds, 1);
	assert_int_equal(k->last_add, 10);
	assert_int_equal(k->n, 10);
	assert_int_equal(fpq_book_count(b), 10);
	assert_int_equal(fpq_book_pending(b), 0);

	/* offloaded again: nothing new for the kernel */
	feed(b, 1, FPQ_ADD, 1000);
	assert_int_equal(fpq_book_pending(b), 0);

	/* removed and offloaded again in one stage: out, then in */
	feed(b, 1, FPQ_DEL, 1000);
	feed(b, 1, FPQ_ADD, 1000);
	/* offloaded and removed in one stage: the kernel never hears */
	feed(b, 1, FPQ_ADD, 2000);
	feed(b, 1, FPQ_DEL, 2000);
	/* removed twice, or never in: once */
	feed(b, 1, FPQ_DEL, 1001);
	feed(b, 1, FPQ_DEL, 1001);
	feed(b, 1, FPQ_DEL, 3000);
	assert_int_equal(fpq_book_apply(b), 0);
	assert_int_equal(k->dels, 1);
	assert_int_equal(k->last_del, 2);
	assert_int_equal(k->adds, 2);
	assert_int_equal(k->last_add, 1);
	assert_int_equal(k->n, 9);
	{
		struct fp_conn	 c = conn(1000);

		assert_int_not_equal(k_find(k, &c), -1);
		c = conn(2000);
		assert_int_equal(k_find(k, &c), -1);
	}

	/* more than a batch: applied on the way, nothing lost */
	for (i = 0; i < FPQ_BATCH + 100; i++)
		feed(b, 2, FPQ_ADD, 10000 + i);
	assert_int_equal(k->adds, 3);
	assert_int_equal(k->last_add, FPQ_BATCH);
	assert_int_equal(fpq_book_apply(b), 0);
	assert_int_equal(k->n, 9 + FPQ_BATCH + 100);
	assert_int_equal(fpq_book_count(b), k->n);
	fpq_book_free(b);
	free(k);
}

static void
test_book_errors(void **state)
{
	struct kern	*k = calloc(1, sizeof(*k));
	struct fpq_book	*b = fpq_book_new(&kops, k);
	struct fp_stats	 st;
	unsigned	 adds;
	uint32_t	 e;

	/* an offload whose transaction fails: kept, to be tried again
	   (test_book_retry), its worker not told */
	k->fail_add = 1;
	feed(b, 0, FPQ_ADD, 1);
	assert_int_equal(fpq_book_apply(b), 0);
	assert_int_equal(fpq_book_count(b), 1);
	assert_int_equal(k->refusals, 0);
	k->fail_add = 0;
	/* its removal goes to the kernel all the same: the transaction
	   may have been applied, its answer lost */
	k->absent_ok = 1;
	feed(b, 0, FPQ_DEL, 1);
	assert_int_equal(fpq_book_apply(b), 0);
	assert_int_equal(k->dels, 1);
	assert_int_equal(k->absent, 1);
	assert_int_equal(fpq_book_count(b), 0);
	k->absent_ok = 0;

	/* a removal the kernel refuses: the caller must flush; an offload
	   of the same stage waits for that flush, which drops it */
	feed(b, 0, FPQ_ADD, 2);
	assert_int_equal(fpq_book_apply(b), 0);
	k->fail_del = 1;
	feed(b, 0, FPQ_DEL, 2);
	feed(b, 0, FPQ_ADD, 3);
	adds = k->adds;
	assert_int_equal(fpq_book_apply(b), -1);
	assert_int_equal(k->n, 1);
	assert_int_equal(fpq_book_pending(b), 1);
	k->fail_del = 0;
	assert_int_equal(fpq_book_flush(b, &e), 0);
	assert_int_equal(fpq_book_pending(b), 0);
	assert_int_equal(k->adds, adds);
	fpq_book_stats(b, &st);
	assert_int_equal(st.errors, 2);
	assert_int_equal(st.refused, 0);

	/* one transaction applied, the next failed: the first's are in,
	   the one that stayed out waits, its worker not told */
	k->n = 0;
	k->fail_add = 1;
	k->take = 2;
	feed(b, 1, FPQ_ADD, 10);
	feed(b, 1, FPQ_ADD, 11);
	feed(b, 1, FPQ_ADD, 12);
	assert_int_equal(fpq_book_apply(b), 0);
	assert_int_equal(fpq_book_count(b), 3);
	assert_int_equal(k->n, 2);
	k->fail_add = 0;
	fpq_book_stats(b, &st);
	assert_int_equal(st.errors, 3);
	assert_int_equal(st.refused, 0);
	assert_int_equal(k->refusals, 0);
	/* they go out as they came, all three asked */
	k->absent_ok = 1;
	feed(b, 1, FPQ_DEL, 10);
	feed(b, 1, FPQ_DEL, 11);
	feed(b, 1, FPQ_DEL, 12);
	assert_int_equal(fpq_book_apply(b), 0);
	assert_int_equal(k->n, 0);
	assert_int_equal(k->last_del, 3);
	assert_int_equal(k->absent, 2);
	k->absent_ok = 0;

	/* one left out (a mark with no chain): no error, the rest in,
	   its worker told */
	k->out_sport = 21;
	feed(b, 0, FPQ_ADD, 20);
	feed(b, 0, FPQ_ADD, 21);
	feed(b, 0, FPQ_ADD, 22);
	assert_int_equal(fpq_book_apply(b), 0);
	assert_int_equal(k->n, 2);
	fpq_book_stats(b, &st);
	assert_int_equal(st.errors, 3);
	assert_int_equal(st.refused, 1);
	assert_int_equal(k->refusals, 1);
	assert_int_equal(k->rw, 0);
	assert_int_equal(k->rsport, 21);
	feed(b, 0, FPQ_DEL, 21);
	assert_int_equal(fpq_book_apply(b), 0);
	assert_int_equal(k->dels, 3);		/* nothing to ask */
	fpq_book_stats(b, &st);
	assert_int_equal(st.retried, 0);
	fpq_book_free(b);
	free(k);
}

static void
test_book_flush(void **state)
{
	struct kern	*k = calloc(1, sizeof(*k));
	struct fpq_book	*b = fpq_book_new(&kops, k);
	struct fpq_item	 old;
	struct fp_stats	 st;
	uint32_t	 e0 = fpq_book_epoch(b), e;

	feed(b, 0, FPQ_ADD, 1);
	assert_int_equal(fpq_book_apply(b), 0);
	feed(b, 0, FPQ_ADD, 2);		/* staged when the flush comes */
	old = item(FPQ_ADD, 3, e0);	/* sent before the flush */

	/* the kernel refuses: tried again later, nothing forgotten */
	k->fail_flush = 1;
	assert_int_equal(fpq_book_flush(b, &e), -1);
	assert_int_equal(e, e0 + 1);
	assert_int_equal(fpq_book_count(b), 1);
	assert_true(fpq_book_owed(b));
	/* meanwhile what the kernel holds is nobody's: no offload of the
	   new epoch joins it, and what times out is not put in again */
	feed(b, 0, FPQ_ADD, 4);
	fpq_book_sweep(b);
	fpq_book_sweep(b);
	assert_int_equal(fpq_book_pending(b), 0);
	assert_int_equal(fpq_book_apply(b), 0);
	assert_int_equal(k->adds, 1);
	fpq_book_stats(b, &st);
	assert_int_equal(st.stale, 1);
	assert_int_equal(st.renewed, 0);
	k->fail_flush = 0;
	assert_int_equal(fpq_book_flush(b, &e), 0);
	assert_int_equal(e, e0 + 2);
	assert_int_equal(k->n, 0);
	assert_int_equal(fpq_book_count(b), 0);
	assert_int_equal(fpq_book_pending(b), 0);
	assert_false(fpq_book_owed(b));

	/* an offload of the old epoch stays out; the new one goes in */
	assert_int_equal(fpq_book_item(b, 0, &old), 0);
	assert_int_equal(fpq_book_apply(b), 0);
	assert_int_equal(k->n, 0);
	feed(b, 0, FPQ_ADD, 3);
	assert_int_equal(fpq_book_apply(b), 0);
	assert_int_equal(k->n, 1);
	fpq_book_stats(b, &st);
	assert_int_equal(st.stale, 2);
	assert_int_equal(st.flushes, 1);
	fpq_book_free(b);
	free(k);
}

static void
test_book_counts(void **state)
{
	struct kern	*k = calloc(1, sizeof(*k));
	struct fpq_book	*b = fpq_book_new(&kops, k);
	struct fp_conn	 c = conn(7), other = conn(8);
	struct fp_counts n = { 100, 150000, 1000 };
	unsigned	 adds, credits;

	feed(b, 3, FPQ_ADD, 7);
	/* staged, not in yet: nothing to hand over, and not a stray */
	assert_int_equal(fpq_book_counts(b, &c, &n), 0);
	assert_int_equal(k->credits, 0);
	assert_int_equal(fpq_book_apply(b), 0);

	assert_int_equal(fpq_book_counts(b, &c, &n), 0);
	assert_int_equal(k->credits, 1);
	assert_int_equal(k->cw, 3);
	assert_int_equal(k->cp, 100);
	assert_int_equal(k->cb, 150000);
	/* the same counts again: nothing new */
	fpq_book_counts(b, &c, &n);
	assert_int_equal(k->credits, 1);
	/* the worker's ring is full: kept for the next poll */
	n.pkts = 130;
	n.bytes = 190000;
	k->full = 1;
	fpq_book_counts(b, &c, &n);
	assert_int_equal(k->credits, 1);
	k->full = 0;
	n.pkts = 160;
	n.bytes = 230000;
	fpq_book_counts(b, &c, &n);
	assert_int_equal(k->credits, 2);
	assert_int_equal(k->cp, 60);
	assert_int_equal(k->cb, 80000);
	/* a connection the book does not know: a stray, nothing credited */
	{
		struct fp_stats	 st;

		assert_int_equal(fpq_book_counts(b, &other, &n), -1);
		assert_int_equal(k->credits, 2);
		memset(&st, 0, sizeof(st));
		fpq_book_stats(b, &st);
		assert_int_equal(st.strays, 1);
	}

	/* seen in a whole dump: stays in */
	fpq_book_sweep(b);
	assert_int_equal(fpq_book_pending(b), 0);
	/* missing from the next (its elements timed out): put in again,
	   its counts starting from 0 */
	fpq_book_sweep(b);
	assert_int_equal(fpq_book_pending(b), 1);
	/* a renewal the kernel refuses stays in the book, its worker not
	   told: the next sweep puts it in again */
	k->fail_add = 1;
	assert_int_equal(fpq_book_apply(b), 0);
	k->fail_add = 0;
	assert_int_equal(fpq_book_count(b), 1);
	assert_int_equal(k->refusals, 0);
	fpq_book_sweep(b);
	assert_int_equal(fpq_book_pending(b), 1);
	assert_int_equal(fpq_book_apply(b), 0);
	assert_int_equal(k->n, 1);
	n.pkts = 5;
	n.bytes = 500;
	n.expires_ms = 1000;
	fpq_book_counts(b, &c, &n);
	assert_int_equal(k->cp, 5);
	assert_int_equal(k->cb, 500);
	/* time left 0 (gone at the kernel's next collection): counted,
	   then put in again */
	n.pkts = 15;
	n.expires_ms = 0;
	fpq_book_counts(b, &c, &n);
	assert_int_equal(k->cp, 10);
	fpq_book_sweep(b);
	assert_int_equal(fpq_book_pending(b), 1);

	/* removed while it waits to go in again: the kernel's copy goes */
	{
		struct fpq_item	 it = item(FPQ_DEL, 7, fpq_book_epoch(b));

		assert_int_equal(fpq_book_item(b, 3, &it), 0);
	}
	adds = k->adds;
	credits = k->credits;
	assert_int_equal(fpq_book_apply(b), 0);
	assert_int_equal(k->adds, adds);
	assert_int_equal(k->n, 0);
	assert_int_equal(fpq_book_count(b), 0);
	/* its counts were handed over before it was staged: none again */
	assert_int_equal(k->credits, credits);
	fpq_book_free(b);
	free(k);
}

/*
 * A kernel before 6.3 (no DESTROYSETELEM) keeps an element it still
 * holds, and its counts, when it is added again: one the dump shows
 * with 0 ms left goes in again only once a dump no longer shows it, so
 * that its counts start from 0 as the book's do, and nothing is
 * credited twice.
 */
static void
test_book_keep(void **state)
{
	struct kern	*k = calloc(1, sizeof(*k));
	struct fpq_book	*b = fpq_book_new(&kops, k);
	struct fp_conn	 c = conn(7);
	struct fp_counts n = { 10, 1000, 1000 };
	struct fp_stats	 st;
	unsigned	 adds;
	int		 j;

	(void)state;
	fpq_book_keep(b, 1);
	feed(b, 2, FPQ_ADD, 7);
	assert_int_equal(fpq_book_apply(b), 0);
	assert_int_equal(k->n, 1);
	fpq_book_counts(b, &c, &n);
	fpq_book_sweep(b);
	assert_int_equal(k->wp[2], 10);
	/* timed out, not collected yet: counted, and not put in again (the
	   kernel would keep it, and the next dump credit its 12 again) */
	n.pkts = 12;
	n.bytes = 1200;
	n.expires_ms = 0;
	fpq_book_counts(b, &c, &n);
	fpq_book_sweep(b);
	assert_int_equal(fpq_book_pending(b), 0);
	assert_int_equal(k->wp[2], 12);
	/* still there at the next dump: nothing more */
	fpq_book_counts(b, &c, &n);
	fpq_book_sweep(b);
	assert_int_equal(fpq_book_pending(b), 0);
	assert_int_equal(k->wp[2], 12);
	assert_int_equal(k->wb[2], 1200);
	/* collected: the next dump misses it, and in it goes again */
	assert_int_not_equal(j = k_find(k, &c), -1);
	k->kc[j] = k->kc[k->n - 1];
	k->in[j] = k->in[--k->n];
	adds = k->adds;
	fpq_book_sweep(b);
	assert_int_equal(fpq_book_pending(b), 1);
	assert_int_equal(fpq_book_apply(b), 0);
	assert_int_equal(k->adds, adds + 1);
	assert_int_equal(k->n, 1);
	fpq_book_stats(b, &st);
	assert_int_equal(st.renewed, 1);
	/* the new element's counts start from 0, and so do the book's */
	n.pkts = 3;
	n.bytes = 300;
	n.expires_ms = 5000;
	fpq_book_counts(b, &c, &n);
	fpq_book_sweep(b);
	assert_int_equal(k->wp[2], 15);
	assert_int_equal(k->wb[2], 1500);

	/* with DESTROYSETELEM, the addition replaces it: in again at once */
	fpq_book_keep(b, 0);
	n.pkts = 4;
	n.bytes = 400;
	n.expires_ms = 0;
	fpq_book_counts(b, &c, &n);
	fpq_book_sweep(b);
	assert_int_equal(fpq_book_pending(b), 1);
	assert_int_equal(k->wp[2], 16);
	fpq_book_free(b);
	free(k);
}

/* A removal's last counts are read from the kernel before it goes. */
static void
test_book_last(void **state)
{
	struct kern	*k = calloc(1, sizeof(*k));
	struct fpq_book	*b = fpq_book_new(&kops, k);
	struct fp_conn	 c = conn(7);
	struct fp_counts n = { 100, 15000, 1000 };
	struct fp_stats	 st;
	unsigned	 gets;
	int		 j;

	(void)state;
	feed(b, 2, FPQ_ADD, 7);
	feed(b, 1, FPQ_ADD, 8);
	assert_int_equal(fpq_book_apply(b), 0);
	/* offloads read nothing */
	assert_int_equal(k->gets, 0);
	fpq_book_counts(b, &c, &n);
	assert_int_equal(k->cp, 100);
	/* the kernel passes 30 more, then the connection ends */
	assert_int_not_equal(j = k_find(k, &c), -1);
	k->kc[j].pkts = 130;
	k->kc[j].bytes = 19000;
	feed(b, 2, FPQ_DEL, 7);
	assert_int_equal(fpq_book_apply(b), 0);
	assert_int_equal(k->gets, 1);
	assert_int_equal(k->dels, 1);
	assert_int_equal(k->credits, 2);
	assert_int_equal(k->cw, 2);
	assert_int_equal(k->cp, 30);
	assert_int_equal(k->cb, 4000);
	/* one never counted yet: all of it */
	c = conn(8);
	assert_int_not_equal(j = k_find(k, &c), -1);
	k->kc[j].pkts = 4;
	k->kc[j].bytes = 400;
	feed(b, 1, FPQ_DEL, 8);
	assert_int_equal(fpq_book_apply(b), 0);
	assert_int_equal(k->credits, 3);
	assert_int_equal(k->cw, 1);
	assert_int_equal(k->cp, 4);
	assert_int_equal(k->cb, 400);
	/* nothing new counted: no credit */
	feed(b, 1, FPQ_ADD, 9);
	assert_int_equal(fpq_book_apply(b), 0);
	feed(b, 1, FPQ_DEL, 9);
	assert_int_equal(fpq_book_apply(b), 0);
	assert_int_equal(k->credits, 3);
	/* the read fails: the removal still goes, an error told */
	feed(b, 1, FPQ_ADD, 10);
	assert_int_equal(fpq_book_apply(b), 0);
	k->kc[0].pkts = 9;
	k->fail_get = 1;
	gets = k->gets;
	feed(b, 1, FPQ_DEL, 10);
	assert_int_equal(fpq_book_apply(b), 0);
	assert_int_equal(k->gets, gets + 1);
	assert_int_equal(k->n, 0);
	assert_int_equal(k->credits, 3);
	fpq_book_stats(b, &st);
	assert_int_equal(st.errors, 1);
	/* a removal of one still staged reads nothing */
	k->fail_get = 0;
	feed(b, 1, FPQ_ADD, 11);
	feed(b, 1, FPQ_DEL, 11);
	assert_int_equal(fpq_book_apply(b), 0);
	assert_int_equal(k->gets, gets + 1);
	fpq_book_free(b);
	free(k);
}

/* The last counts of a removal its worker's full back ring did not
   take are owed, handed over at the next apply that finds room; past
   FPQ_OWE_MAX, a worker's are summed into one credit of no
   connection.  Nothing is counted twice, nothing lost. */
static void
test_book_last_full(void **state)
{
	struct kern	*k = calloc(1, sizeof(*k));
	struct fpq_book	*b = fpq_book_new(&kops, k);
	struct fp_conn	 c = conn(7);
	struct fp_counts n = { 100, 10000, 1000 };
	struct fp_stats	 st;
	unsigned	 i, credits;
	int		 j;

	(void)state;
	feed(b, 2, FPQ_ADD, 7);
	assert_int_equal(fpq_book_apply(b), 0);
	fpq_book_counts(b, &c, &n);
	assert_int_equal(k->cp, 100);
	assert_int_not_equal(j = k_find(k, &c), -1);
	k->kc[j].pkts = 130;
	k->kc[j].bytes = 13000;
	k->full = 1;
	feed(b, 2, FPQ_DEL, 7);
	assert_int_equal(fpq_book_apply(b), 0);
	assert_int_equal(k->n, 0);
	assert_int_equal(fpq_book_count(b), 0);
	assert_int_equal(k->credits, 1);
	/* still full: still owed */
	assert_int_equal(fpq_book_apply(b), 0);
	assert_int_equal(k->credits, 1);
	k->full = 0;
	assert_int_equal(fpq_book_apply(b), 0);
	assert_int_equal(k->credits, 2);
	assert_int_equal(k->cw, 2);
	assert_int_equal(k->cp, 30);
	assert_int_equal(k->cb, 3000);
	assert_true(fpq_conn_eq(&k->cc, &c));
	assert_int_equal(fpq_book_apply(b), 0);
	assert_int_equal(k->credits, 2);
	assert_int_equal(k->wp[2], 130);
	assert_int_equal(k->wb[2], 13000);

	/* more than FPQ_OWE_MAX: one each up to it, then a sum a worker
	   (1 and 3 here) */
	for (i = 0; i < FPQ_OWE_MAX; i++)
		feed(b, 1, FPQ_ADD, (uint16_t)(10000 + i));
	for (i = 0; i < 10; i++)
		feed(b, 3, FPQ_ADD, (uint16_t)(20000 + i));
	feed(b, 1, FPQ_ADD, 30000);
	assert_int_equal(fpq_book_apply(b), 0);
	assert_int_equal(k->n, FPQ_OWE_MAX + 11);
	for (i = 0; i < k->n; i++) {
		k->kc[i].pkts = 2;
		k->kc[i].bytes = 200;
	}
	k->full = 1;
	for (i = 0; i < FPQ_OWE_MAX; i++)
		feed(b, 1, FPQ_DEL, (uint16_t)(10000 + i));
	for (i = 0; i < 10; i++)
		feed(b, 3, FPQ_DEL, (uint16_t)(20000 + i));
	feed(b, 1, FPQ_DEL, 30000);
	assert_int_equal(fpq_book_apply(b), 0);
	assert_int_equal(k->n, 0);
	credits = k->credits;
	k->full = 0;
	assert_int_equal(fpq_book_apply(b), 0);
	assert_int_equal(k->credits, credits + FPQ_OWE_MAX + 2);
	assert_int_equal(k->wp[1], 2 * (FPQ_OWE_MAX + 1));
	assert_int_equal(k->wb[1], 200 * (FPQ_OWE_MAX + 1));
	assert_int_equal(k->wp[3], 20);
	assert_int_equal(k->wb[3], 2000);
	/* the sums, last: of no connection */
	assert_int_equal(k->cc.family, 0);
	assert_int_equal(fpq_book_apply(b), 0);
	assert_int_equal(k->credits, credits + FPQ_OWE_MAX + 2);

	/* again, the sums take more */
	feed(b, 3, FPQ_ADD, 7);
	assert_int_equal(fpq_book_apply(b), 0);
	k->kc[0].pkts = 5;
	k->kc[0].bytes = 500;
	k->full = 1;
	feed(b, 3, FPQ_DEL, 7);
	assert_int_equal(fpq_book_apply(b), 0);
	k->full = 0;
	assert_int_equal(fpq_book_apply(b), 0);
	assert_int_equal(k->wp[3], 25);
	assert_true(fpq_conn_eq(&k->cc, &c));
	fpq_book_stats(b, &st);
	assert_int_equal(st.errors, 0);
	fpq_book_free(b);
	free(k);
}

/* Counts a full back ring kept back wait for the next poll; the
   element stays in, not put in again (that would lose them, or count
   them twice where the kernel keeps an element's counts). */
static void
test_book_counts_full(void **state)
{
	struct kern	*k = calloc(1, sizeof(*k));
	struct fpq_book	*b = fpq_book_new(&kops, k);
	struct fp_conn	 c = conn(7);
	struct fp_counts n = { 10, 1000, 1000 };
	struct fp_stats	 st;

	(void)state;
	feed(b, 2, FPQ_ADD, 7);
	assert_int_equal(fpq_book_apply(b), 0);
	fpq_book_counts(b, &c, &n);
	fpq_book_sweep(b);
	assert_int_equal(k->cp, 10);
	k->full = 1;
	n.pkts = 25;
	n.bytes = 2500;
	fpq_book_counts(b, &c, &n);
	fpq_book_sweep(b);
	assert_int_equal(fpq_book_pending(b), 0);
	fpq_book_stats(b, &st);
	assert_int_equal(st.renewed, 0);
	k->full = 0;
	n.pkts = 30;
	n.bytes = 3000;
	fpq_book_counts(b, &c, &n);
	assert_int_equal(k->credits, 2);
	assert_int_equal(k->cp, 20);
	assert_int_equal(k->cb, 2000);
	fpq_book_free(b);
	free(k);
}

/* A refusal its worker's full back ring did not take is told again at
   each apply, until it fits; its removal or a flush ends the debt. */
static void
test_book_refuse_full(void **state)
{
	struct kern	*k = calloc(1, sizeof(*k));
	struct fpq_book	*b = fpq_book_new(&kops, k);
	struct fp_stats	 st;
	uint32_t	 e;
	unsigned	 dels;

	(void)state;
	k->out_sport = 5;
	k->full = 1;
	feed(b, 1, FPQ_ADD, 5);
	feed(b, 1, FPQ_ADD, 6);
	assert_int_equal(fpq_book_apply(b), 0);
	assert_int_equal(k->refusals, 0);
	/* kept, refused: the kernel holds 6 alone */
	assert_int_equal(fpq_book_count(b), 2);
	assert_int_equal(k->n, 1);
	assert_int_equal(fpq_book_apply(b), 0);
	assert_int_equal(k->refusals, 0);
	/* not put in again, nor offered again, nor a stray */
	fpq_book_sweep(b);
	fpq_book_sweep(b);
	feed(b, 1, FPQ_ADD, 5);
	assert_int_equal(fpq_book_pending(b), 1);	/* 6's renewal */
	k->full = 0;
	assert_int_equal(fpq_book_apply(b), 0);
	assert_int_equal(k->adds, 2);
	assert_int_equal(k->last_add, 1);
	/* the ring has room: told, once, to its worker */
	assert_int_equal(k->refusals, 1);
	assert_int_equal(k->rw, 1);
	assert_int_equal(k->rsport, 5);
	assert_int_equal(fpq_book_count(b), 1);
	assert_int_equal(fpq_book_apply(b), 0);
	assert_int_equal(k->refusals, 1);
	fpq_book_stats(b, &st);
	assert_int_equal(st.refused, 1);
	/* its removal (the worker read the notice) asks the kernel
	   nothing */
	dels = k->dels;
	feed(b, 1, FPQ_DEL, 5);
	assert_int_equal(fpq_book_apply(b), 0);
	assert_int_equal(k->dels, dels);

	/* the connection ends before it is told: nothing more to tell,
	   nothing for the kernel */
	k->out_sport = 7;
	k->full = 1;
	feed(b, 0, FPQ_ADD, 7);
	assert_int_equal(fpq_book_apply(b), 0);
	assert_int_equal(fpq_book_count(b), 2);
	feed(b, 0, FPQ_DEL, 7);
	k->full = 0;
	assert_int_equal(fpq_book_apply(b), 0);
	assert_int_equal(k->dels, dels);
	assert_int_equal(k->refusals, 1);
	assert_int_equal(fpq_book_count(b), 1);

	/* two owed, then a flush the kernel refuses: a new epoch all the
	   same, which its workers see and forget every offload by */
	k->out_sport = 8;
	k->full = 1;
	feed(b, 0, FPQ_ADD, 8);
	assert_int_equal(fpq_book_apply(b), 0);
	k->out_sport = 9;
	feed(b, 1, FPQ_ADD, 9);
	assert_int_equal(fpq_book_apply(b), 0);
	assert_int_equal(fpq_book_count(b), 3);
	k->fail_flush = 1;
	assert_int_equal(fpq_book_flush(b, &e), -1);
	assert_int_equal(fpq_book_count(b), 1);
	k->full = 0;
	assert_int_equal(fpq_book_apply(b), 0);
	assert_int_equal(k->refusals, 1);
	fpq_book_stats(b, &st);
	assert_int_equal(st.refused, 4);
	/* one owed when a flush works: gone with the rest */
	k->fail_flush = 0;
	assert_int_equal(fpq_book_flush(b, &e), 0);
	k->out_sport = 10;
	k->full = 1;
	feed(b, 0, FPQ_ADD, 10);
	assert_int_equal(fpq_book_apply(b), 0);
	assert_int_equal(fpq_book_count(b), 1);
	assert_int_equal(fpq_book_flush(b, &e), 0);
	assert_int_equal(fpq_book_count(b), 0);
	k->full = 0;
	assert_int_equal(fpq_book_apply(b), 0);
	assert_int_equal(k->refusals, 1);
	fpq_book_free(b);
	free(k);
}

/* An offload whose transaction fails is tried again, after 1 s, then
   2, 4 ... 32 s; the seventh failure refuses it.  Its worker is told
   nothing till then. */
static void
test_book_retry(void **state)
{
	struct kern	*k = calloc(1, sizeof(*k));
	struct fpq_book	*b = fpq_book_new(&kops, k);
	struct fp_conn	 c = conn(2);
	struct fp_counts n = { 6, 600, 1000 };
	struct fp_stats	 st;
	uint64_t	 t = 100000, wait = FPQ_RETRY_MS;
	unsigned	 i;

	(void)state;
	fpq_book_clock(b, t);
	/* the removal that follows a refusal after a failed last try
	   (its answer may have been lost) finds nothing here */
	k->absent_ok = 1;
	k->fail_add = 1;
	feed(b, 1, FPQ_ADD, 1);
	assert_int_equal(fpq_book_apply(b), 0);
	for (i = 0; i < FPQ_RETRIES; i++) {
		/* not before its time */
		fpq_book_clock(b, t + wait - 1);
		fpq_book_retry(b);
		assert_int_equal(fpq_book_pending(b), 0);
		t += wait;
		fpq_book_clock(b, t);
		fpq_book_retry(b);
		assert_int_equal(fpq_book_pending(b), 1);
		assert_int_equal(fpq_book_apply(b), 0);
		assert_int_equal(k->adds, i + 2);
		assert_int_equal(fpq_book_count(b), i + 1 < FPQ_RETRIES);
		wait *= 2;
	}
	assert_int_equal(wait, 64 * FPQ_RETRY_MS);
	/* the last try failed too: refused, and told; taken out in case
	   it went in */
	assert_int_equal(k->refusals, 1);
	assert_int_equal(k->rw, 1);
	assert_int_equal(k->rsport, 1);
	assert_int_equal(k->dels, 1);
	assert_int_equal(k->absent, 1);
	fpq_book_stats(b, &st);
	assert_int_equal(st.retried, FPQ_RETRIES);
	assert_int_equal(st.errors, FPQ_RETRIES + 1);
	assert_int_equal(st.refused, 1);
	fpq_book_clock(b, t + 1000000);
	fpq_book_retry(b);
	assert_int_equal(fpq_book_pending(b), 0);

	/* the second try works: in, as any other */
	feed(b, 0, FPQ_ADD, 2);
	assert_int_equal(fpq_book_apply(b), 0);
	k->fail_add = 0;
	t += 1000000 + FPQ_RETRY_MS;
	fpq_book_clock(b, t);
	fpq_book_retry(b);
	assert_int_equal(fpq_book_apply(b), 0);
	assert_int_equal(k->n, 1);
	assert_int_equal(k_find(k, &c), 0);
	fpq_book_counts(b, &c, &n);
	assert_int_equal(k->credits, 1);
	assert_int_equal(k->cw, 0);
	assert_int_equal(k->cp, 6);
	/* nor tried again later */
	fpq_book_clock(b, t + 1000000);
	fpq_book_retry(b);
	assert_int_equal(fpq_book_pending(b), 0);
	fpq_book_stats(b, &st);
	assert_int_equal(st.retried, FPQ_RETRIES + 1);
	assert_int_equal(st.refused, 1);
	assert_int_equal(k->refusals, 1);

	/* one with no room for its mark in a transaction that fails:
	   refused at once; the one after it waits */
	k->fail_add = 1;
	k->take = 1;
	k->out_sport = 3;
	feed(b, 0, FPQ_ADD, 3);
	feed(b, 0, FPQ_ADD, 4);
	assert_int_equal(fpq_book_apply(b), 0);
	assert_int_equal(k->refusals, 2);
	assert_int_equal(k->rsport, 3);
	assert_int_equal(k->dels, 1);	/* never went in */
	assert_int_equal(fpq_book_count(b), 2);
	k->fail_add = 0;
	k->out_sport = 0;
	/* offered again meanwhile: it is on its way already */
	feed(b, 0, FPQ_ADD, 4);
	assert_int_equal(fpq_book_pending(b), 0);
	/* a flush drops it: its worker forgets it */
	{
		uint32_t	 e;

		k->fail_flush = 1;
		assert_int_equal(fpq_book_flush(b, &e), -1);
		assert_int_equal(fpq_book_count(b), 1);	/* 2, in */
		fpq_book_clock(b, t + 2000000);
		fpq_book_retry(b);
		assert_int_equal(fpq_book_pending(b), 0);
		k->fail_flush = 0;
		assert_int_equal(fpq_book_flush(b, &e), 0);
		assert_int_equal(fpq_book_count(b), 0);
	}
	fpq_book_stats(b, &st);
	assert_int_equal(st.refused, 2);
	fpq_book_free(b);
	free(k);
}

/* An element the kernel rejects for a reason of its own (a poison)
   fails its batch once: the others land at their first retry, each in
   a transaction of its own, and only it is refused, after its tries.
   First tries keep their batches meanwhile. */
static void
test_book_poison(void **state)
{
	struct kern	*k = calloc(1, sizeof(*k));
	struct fpq_book	*b = fpq_book_new(&kops, k);
	struct fp_conn	 c = conn(105);
	struct fp_stats	 st;
	uint64_t	 t = 100000, wait = FPQ_RETRY_MS;
	unsigned	 i, adds, poisoned;

	(void)state;
	fpq_book_clock(b, t);
	k->absent_ok = 1;
	k->poison = 105;
	for (i = 0; i < 10; i++)
		feed(b, i % 2, FPQ_ADD, 100 + i);
	assert_int_equal(fpq_book_apply(b), 0);
	assert_int_equal(k->n, 0);
	assert_int_equal(k->poisoned, 1);
	assert_int_equal(fpq_book_count(b), 10);

	/* the first retry: all but the poison in */
	t += wait;
	fpq_book_clock(b, t);
	fpq_book_retry(b);
	assert_int_equal(fpq_book_apply(b), 0);
	assert_int_equal(k->n, 9);
	assert_int_equal(k_find(k, &c), -1);
	assert_int_equal(k->poisoned, 2);
	assert_int_equal(k->refusals, 0);
	fpq_book_stats(b, &st);
	assert_int_equal(st.retried, 10);
	assert_int_equal(st.refused, 0);

	/* the poison alone from then on; first tries staged with it go
	   in one transaction, without it */
	for (i = 1; i < FPQ_RETRIES; i++) {
		wait *= 2;
		t += wait;
		fpq_book_clock(b, t);
		fpq_book_retry(b);
		feed(b, 0, FPQ_ADD, (uint16_t)(200 + 2 * i));
		feed(b, 1, FPQ_ADD, (uint16_t)(201 + 2 * i));
		adds = k->adds;
		poisoned = k->poisoned;
		assert_int_equal(fpq_book_apply(b), 0);
		assert_int_equal(k->adds, adds + 2);
		assert_int_equal(k->poisoned, poisoned + 1);
		assert_int_equal(k->n, 9 + 2 * i);
	}
	/* the seventh failure: refused, and its worker told; its
	   removal, in case, finds nothing */
	assert_int_equal(k->refusals, 1);
	assert_int_equal(k->rsport, 105);
	assert_int_equal(k->rw, 1);
	assert_int_equal(k->dels, 1);
	assert_int_equal(k->absent, 1);
	assert_int_equal(fpq_book_count(b), k->n);
	fpq_book_stats(b, &st);
	assert_int_equal(st.retried, 9 + FPQ_RETRIES);
	assert_int_equal(st.refused, 1);
	assert_int_equal(st.errors, 1 + FPQ_RETRIES);
	fpq_book_clock(b, t + 1000000);
	fpq_book_retry(b);
	assert_int_equal(fpq_book_pending(b), 0);
	fpq_book_free(b);
	free(k);
}

/* A call stops at the first of its transactions that fails: what it
   never sent was not tried.  It goes at the next apply, in one batch,
   no try counted against it, however often that happens; the failed
   transaction's own wait their back-off. */
static void
test_book_unsent(void **state)
{
	struct kern	*k = calloc(1, sizeof(*k));
	struct fpq_book	*b = fpq_book_new(&kops, k);
	struct fp_stats	 st;
	uint64_t	 t = 100000;
	unsigned	 i;

	(void)state;
	fpq_book_clock(b, t);
	/* 8 offloads, transactions of 3, the first fails */
	k->fail_add = 1;
	k->txn = 3;
	for (i = 0; i < 8; i++)
		feed(b, i % 2, FPQ_ADD, (uint16_t)(300 + i));
	assert_int_equal(fpq_book_apply(b), 0);
	assert_int_equal(k->adds, 1);
	assert_int_equal(k->asked, 3);
	assert_int_equal(k->n, 0);
	assert_int_equal(fpq_book_count(b), 8);
	/* the 5 never sent: staged again at once */
	assert_int_equal(fpq_book_pending(b), 1);
	k->fail_add = 0;
	assert_int_equal(fpq_book_apply(b), 0);
	assert_int_equal(k->adds, 2);
	assert_int_equal(k->last_add, 5);
	assert_int_equal(k->n, 5);
	assert_int_equal(fpq_book_pending(b), 0);
	fpq_book_stats(b, &st);
	assert_int_equal(st.retried, 0);
	assert_int_equal(st.errors, 1);
	/* the 3 that failed, each alone after 1 s */
	fpq_book_clock(b, t + FPQ_RETRY_MS);
	fpq_book_retry(b);
	assert_int_equal(fpq_book_apply(b), 0);
	assert_int_equal(k->adds, 5);
	assert_int_equal(k->n, 8);
	fpq_book_stats(b, &st);
	assert_int_equal(st.retried, 3);
	assert_int_equal(st.refused, 0);

	/* every apply fails its first: the last of 10 goes unsent 9
	   times, more than FPQ_RETRIES, and is not refused for it */
	k->n = 0;
	k->txn = 1;
	k->fail_add = 1;
	for (i = 0; i < 10; i++)
		feed(b, 0, FPQ_ADD, (uint16_t)(400 + i));
	for (i = 0; i < 10; i++) {
		assert_int_equal(fpq_book_pending(b), 1);
		assert_int_equal(fpq_book_apply(b), 0);
	}
	assert_int_equal(fpq_book_pending(b), 0);
	assert_int_equal(k->refusals, 0);
	fpq_book_stats(b, &st);
	assert_int_equal(st.refused, 0);
	assert_int_equal(st.retried, 3);
	assert_int_equal(st.errors, 11);
	/* each failed once: all tried again after 1 s, and in */
	k->fail_add = 0;
	t += 1000000;
	fpq_book_clock(b, t);
	fpq_book_retry(b);
	assert_int_equal(fpq_book_apply(b), 0);
	assert_int_equal(k->n, 10);
	assert_int_equal(fpq_book_count(b), 18);
	fpq_book_stats(b, &st);
	assert_int_equal(st.retried, 13);
	assert_int_equal(st.refused, 0);
	fpq_book_free(b);
	free(k);
}

/* A transaction that failed but was applied (its answer lost): the
   dump finds it in, and it is not tried again; a removal before that
   reads and takes out what the kernel has of it. */
static void
test_book_retry_lost(void **state)
{
	struct kern	*k = calloc(1, sizeof(*k));
	struct fpq_book	*b = fpq_book_new(&kops, k);
	struct fp_conn	 c = conn(5);
	struct fp_counts n = { 9, 900, 1000 };
	struct fp_stats	 st;
	unsigned	 adds, dels;
	int		 j;

	(void)state;
	fpq_book_clock(b, 1000);
	k->fail_add = k->lost = 1;
	feed(b, 2, FPQ_ADD, 5);
	feed(b, 2, FPQ_ADD, 6);
	assert_int_equal(fpq_book_apply(b), 0);
	k->fail_add = k->lost = 0;
	assert_int_equal(k->n, 1);
	adds = k->adds;
	/* the dump: 5 is in, with all it counted; 6 is not, and waits */
	assert_int_equal(fpq_book_counts(b, &c, &n), 0);
	fpq_book_sweep(b);
	assert_int_equal(k->credits, 1);
	assert_int_equal(k->cw, 2);
	assert_int_equal(k->cp, 9);
	fpq_book_clock(b, 1000 + FPQ_RETRY_MS);
	fpq_book_retry(b);
	assert_int_equal(fpq_book_pending(b), 1);
	assert_int_equal(fpq_book_apply(b), 0);
	assert_int_equal(k->adds, adds + 1);
	assert_int_equal(k->last_add, 1);
	assert_int_equal(k->n, 2);
	/* 5 goes as any other: its new counts, once */
	assert_int_not_equal(j = k_find(k, &c), -1);
	k->kc[j].pkts = 12;
	k->kc[j].bytes = 1200;
	feed(b, 2, FPQ_DEL, 5);
	assert_int_equal(fpq_book_apply(b), 0);
	assert_int_equal(k->credits, 2);
	assert_int_equal(k->cp, 3);
	assert_int_equal(k->cb, 300);

	/* lost again, and the connection ends before any dump: its
	   removal takes it out of the kernel, with its counts */
	k->fail_add = k->lost = 1;
	feed(b, 1, FPQ_ADD, 5);
	assert_int_equal(fpq_book_apply(b), 0);
	k->fail_add = k->lost = 0;
	assert_int_not_equal(j = k_find(k, &c), -1);
	k->kc[j].pkts = 4;
	k->kc[j].bytes = 400;
	feed(b, 1, FPQ_DEL, 5);
	assert_int_equal(fpq_book_apply(b), 0);
	assert_int_equal(k_find(k, &c), -1);
	assert_int_equal(k->credits, 3);
	assert_int_equal(k->cw, 1);
	assert_int_equal(k->cp, 4);
	assert_int_equal(k->cb, 400);
	/* the same once it was staged again */
	k->fail_add = k->lost = 1;
	feed(b, 1, FPQ_ADD, 5);
	assert_int_equal(fpq_book_apply(b), 0);
	k->fail_add = k->lost = 0;
	fpq_book_clock(b, 1000000);
	fpq_book_retry(b);
	assert_int_equal(fpq_book_pending(b), 1);
	feed(b, 1, FPQ_DEL, 5);
	assert_int_equal(fpq_book_apply(b), 0);
	assert_int_equal(k_find(k, &c), -1);
	assert_int_equal(fpq_book_count(b), 1);		/* 6 */
	fpq_book_stats(b, &st);
	assert_int_equal(st.strays, 0);
	assert_int_equal(st.retried, 1);
	assert_int_equal(st.refused, 0);
	assert_int_equal(k->refusals, 0);

	/* its last try lost too, refused: taken out of the kernel at
	   once, not left to the next dump */
	k->fail_add = 1;
	feed(b, 1, FPQ_ADD, 7);
	for (j = 0; j < FPQ_RETRIES; j++) {
		assert_int_equal(fpq_book_apply(b), 0);
		fpq_book_clock(b, 2000000 + 100000 * (uint64_t)j);
		fpq_book_retry(b);
	}
	k->lost = 1;
	dels = k->dels;
	assert_int_equal(fpq_book_apply(b), 0);
	k->fail_add = k->lost = 0;
	c = conn(7);
	assert_int_equal(k_find(k, &c), -1);
	assert_int_equal(k->dels, dels + 1);
	assert_int_equal(k->last_del, 1);
	assert_int_equal(k->refusals, 1);
	assert_int_equal(k->rsport, 7);
	assert_int_equal(fpq_book_count(b), 1);
	fpq_book_stats(b, &st);
	assert_int_equal(st.refused, 1);
	assert_int_equal(st.strays, 0);

	/* the same, its worker's ring full and the removal refused: no
	   flush for it; the dump finds a stray, taken out, and the notice
	   still owed */
	k->fail_add = 1;
	feed(b, 1, FPQ_ADD, 8);
	for (j = 0; j < FPQ_RETRIES; j++) {
		assert_int_equal(fpq_book_apply(b), 0);
		fpq_book_clock(b, 3000000 + 100000 * (uint64_t)j);
		fpq_book_retry(b);
	}
	k->lost = k->full = k->fail_del = 1;
	assert_int_equal(fpq_book_apply(b), 0);
	k->fail_add = k->lost = k->fail_del = 0;
	assert_int_equal(fpq_book_pending(b), 0);
	assert_int_equal(k->flushes, 0);
	c = conn(8);
	assert_int_not_equal(k_find(k, &c), -1);
	assert_int_equal(fpq_book_count(b), 2);
	assert_int_equal(fpq_book_counts(b, &c, &n), -1);
	fpq_book_stats(b, &st);
	assert_int_equal(st.strays, 1);
	assert_int_equal(st.refused, 2);
	assert_int_equal(k->refusals, 1);
	k->full = 0;
	assert_int_equal(fpq_book_apply(b), 0);
	assert_int_equal(k->refusals, 2);
	assert_int_equal(k->rsport, 8);
	assert_int_equal(fpq_book_count(b), 1);
	fpq_book_free(b);
	free(k);
}

/* ---- the thread's round ---------------------------------------------- */

#define NPORT	2

struct round {
	struct kern		*k;
	struct fpq_book		*b;
	struct fpq_port		 p[NPORT];
	struct fpq_shared	 sh;
	uint64_t		 now;
};

static struct round *
round_new(void)
{
	struct round	*r = calloc(1, sizeof(*r));
	unsigned	 w;

	assert_non_null(r);
	assert_non_null(r->k = calloc(1, sizeof(*r->k)));
	assert_non_null(r->b = fpq_book_new(&kops, r->k));
	for (w = 0; w < NPORT; w++)
		assert_int_equal(fpq_port_init(&r->p[w]), 0);
	r->k->sh = &r->sh;
	r->now = 5000;
	fpq_book_clock(r->b, r->now);
	return (r);
}

static void
round_free(struct round *r)
{
	unsigned	 w;

	for (w = 0; w < NPORT; w++)
		fpq_port_free(&r->p[w]);
	fpq_book_free(r->b);
	free(r->k);
	free(r);
}

/* worker w pushes an item of the epoch it sees */
static void
push(struct round *r, unsigned w, uint8_t op, uint16_t sport)
{
	struct fpq_item	 it = item(op, sport, r->sh.epoch);

	assert_int_equal(fpq_ring_push(&r->p[w].out, &it), 0);
}

static int
round_at(struct round *r, uint64_t ms, int flush)
{
	r->now += ms;
	return (fpq_book_round(r->b, r->p, NPORT, &r->sh, flush, r->now));
}

/* Items of every worker, applied in one round; the counters every
   FPQ_POLL_MS, after the round's changes. */
static void
test_round(void **state)
{
	struct round	*r = round_new();
	struct fp_stats	 st;

	(void)state;
	/* nothing to do: idle, and no poll before its time */
	assert_int_equal(round_at(r, 0, 0), 0);
	assert_int_equal(r->k->polls, 0);
	assert_int_equal(fpq_book_poll_in(r->b, r->now), FPQ_POLL_MS);
	push(r, 0, FPQ_ADD, 1);
	push(r, 1, FPQ_ADD, 2);
	push(r, 1, FPQ_ADD, 3);
	assert_int_equal(round_at(r, 20, 0), 1);
	assert_int_equal(r->k->adds, 1);
	assert_int_equal(r->k->last_add, 3);
	assert_int_equal(fpq_book_count(r->b), 3);
	assert_true(fpq_ring_empty(&r->p[0].out));
	assert_true(fpq_ring_empty(&r->p[1].out));
	assert_int_equal(r->k->polls, 0);
	assert_int_equal(round_at(r, 20, 0), 0);

	/* the poll is due: it comes after this round's removal and
	   offload, and sees the kernel they left */
	r->k->kc[0].pkts = 7;
	r->k->kc[0].bytes = 700;
	push(r, 1, FPQ_DEL, 3);
	push(r, 0, FPQ_ADD, 4);
	assert_int_equal(fpq_book_poll_in(r->b, r->now), FPQ_POLL_MS - 40);
	assert_int_equal(round_at(r, FPQ_POLL_MS - 40, 0), 1);
	assert_int_equal(r->k->polls, 1);
	assert_int_equal(r->k->polled_n, 3);
	assert_int_equal(r->k->credits, 1);
	assert_int_equal(r->k->cw, 0);
	assert_int_equal(r->k->cp, 7);
	assert_int_equal(fpq_book_poll_in(r->b, r->now), FPQ_POLL_MS);
	/* not again before its time */
	assert_int_equal(round_at(r, FPQ_POLL_MS - 1, 0), 0);
	assert_int_equal(r->k->polls, 1);

	/* an element timed out: the poll stages it, the next round puts
	   it in, and says it has work meanwhile */
	r->k->n--;
	assert_int_equal(round_at(r, 1, 0), 1);
	assert_int_equal(r->k->polls, 2);
	assert_int_equal(fpq_book_pending(r->b), 1);
	assert_int_equal(round_at(r, 20, 0), 0);
	assert_int_equal(r->k->n, 3);
	fpq_book_stats(r->b, &st);
	assert_int_equal(st.renewed, 1);

	/* a stray the dump finds is taken out; a dump that fails is an
	   error, and sweeps nothing */
	r->k->in[r->k->n++] = conn(99);
	assert_int_equal(round_at(r, FPQ_POLL_MS, 0), 0);
	assert_int_equal(r->k->n, 3);
	r->k->n--;
	r->k->fail_counters = 1;
	assert_int_equal(round_at(r, FPQ_POLL_MS, 0), 0);
	assert_int_equal(fpq_book_pending(r->b), 0);
	fpq_book_stats(r->b, &st);
	assert_int_equal(st.strays, 1);
	assert_int_equal(st.errors, 1);
	assert_int_equal(r->k->polls, 4);
	round_free(r);
}

/* A flush: asked for, or a worker's lost removal; the counts read
   first, the epoch published after the kernel is asked (till then the
   workers keep their marks: the kernel passes nothing they unmarked);
   a refused one tried again each round, with no poll and no offload
   meanwhile. */
static void
test_round_flush(void **state)
{
	struct round	*r = round_new();
	uint32_t	 e0 = r->sh.epoch;

	(void)state;
	push(r, 0, FPQ_ADD, 1);
	assert_int_equal(round_at(r, 20, 0), 1);
	r->k->kc[0].pkts = 5;
	/* asked for: what the kernel passed is read before it goes */
	assert_int_equal(round_at(r, 20, 1), 1);
	assert_int_equal(r->k->polls, 1);
	assert_int_equal(r->k->cp, 5);
	assert_int_equal(r->k->flushes, 1);
	assert_int_equal(r->k->flush_epoch, e0);
	assert_int_equal(r->sh.epoch, e0 + 1);
	assert_int_equal(r->k->n, 0);
	assert_int_equal(fpq_book_count(r->b), 0);
	/* an empty book: nothing to read first */
	__atomic_store_n(&r->sh.flush, 1, __ATOMIC_RELEASE);
	assert_int_equal(round_at(r, 20, 0), 0);
	assert_int_equal(r->k->flushes, 2);
	assert_int_equal(r->k->polls, 1);
	assert_int_equal(r->sh.flush, 0);

	/* the kernel refuses: the epoch is new all the same, and the flag
	   stays set for the next round */
	push(r, 1, FPQ_ADD, 2);
	assert_int_equal(round_at(r, 20, 0), 1);
	r->k->fail_flush = 1;
	assert_int_equal(round_at(r, 20, 1), 1);
	assert_int_equal(r->k->flushes, 3);
	assert_int_equal(r->k->polls, 2);
	assert_int_equal(r->sh.epoch, e0 + 3);
	assert_int_equal(r->k->flush_epoch, e0 + 2);
	assert_int_equal(r->sh.flush, 1);
	assert_true(fpq_book_owed(r->b));
	/* owed: no poll though one is due, not even before the next try,
	   and no offload of the new epoch */
	push(r, 1, FPQ_ADD, 3);
	assert_int_equal(round_at(r, FPQ_POLL_MS, 0), 1);
	assert_int_equal(r->k->flushes, 4);
	assert_int_equal(r->k->polls, 2);
	assert_int_equal(r->k->adds, 2);
	assert_int_equal(r->sh.flush, 1);
	/* the kernel obeys: done, and the poll is back */
	r->k->fail_flush = 0;
	assert_int_equal(round_at(r, 20, 0), 0);
	assert_int_equal(r->k->flushes, 5);
	assert_int_equal(r->sh.epoch, e0 + 5);
	assert_false(fpq_book_owed(r->b));
	assert_int_equal(r->sh.flush, 0);
	assert_int_equal(r->k->polls, 3);
	round_free(r);
}

/* A removal staged when a flush reads the counters first is still the
   book's: its counts go to its worker, once, and it is no stray. */
static void
test_round_flush_staged(void **state)
{
	struct round	*r = round_new();
	struct fp_stats	 st;
	struct fp_conn	 c = conn(7);
	int		 j;

	(void)state;
	push(r, 0, FPQ_ADD, 7);
	push(r, 1, FPQ_ADD, 8);
	assert_int_equal(round_at(r, 20, 0), 1);
	assert_int_not_equal(j = k_find(r->k, &c), -1);
	r->k->kc[j].pkts = 4;
	r->k->kc[j].bytes = 400;
	assert_int_equal(round_at(r, FPQ_POLL_MS, 0), 0);
	assert_int_equal(r->k->credits, 1);
	r->k->kc[j].pkts = 9;
	r->k->kc[j].bytes = 900;
	/* it ends, and a flush is asked in the same round; the kernel
	   refuses it */
	push(r, 0, FPQ_DEL, 7);
	r->k->fail_flush = 1;
	assert_int_equal(round_at(r, 20, 1), 1);
	assert_int_equal(r->k->polls, 2);
	assert_int_equal(r->k->credits, 2);
	assert_int_equal(r->k->cw, 0);
	assert_int_equal(r->k->cp, 5);
	assert_int_equal(r->k->cb, 500);
	fpq_book_stats(r->b, &st);
	assert_int_equal(st.strays, 0);
	/* the removal goes at the next round's apply: nothing counted
	   twice */
	assert_int_equal(round_at(r, 20, 0), 1);
	assert_int_equal(r->k->n, 1);
	assert_int_equal(r->k->credits, 2);
	r->k->fail_flush = 0;
	assert_int_equal(round_at(r, 20, 0), 0);
	assert_int_equal(r->k->n, 0);

	/* the book's last connection ends: read all the same */
	push(r, 1, FPQ_ADD, 7);
	assert_int_equal(round_at(r, 20, 0), 1);
	assert_int_not_equal(j = k_find(r->k, &c), -1);
	r->k->kc[j].pkts = 3;
	push(r, 1, FPQ_DEL, 7);
	assert_int_equal(round_at(r, 20, 1), 1);
	assert_int_equal(r->k->credits, 3);
	assert_int_equal(r->k->cw, 1);
	assert_int_equal(r->k->cp, 3);
	round_free(r);
}

/* An offload whose transaction failed is staged again by the first
   round after its back-off (here a poll's), and goes in at the next
   (test_round_retry_due: between polls). */
static void
test_round_retry(void **state)
{
	struct round	*r = round_new();
	struct fp_stats	 st;

	(void)state;
	r->k->fail_add = 1;
	push(r, 0, FPQ_ADD, 1);
	assert_int_equal(round_at(r, 20, 0), 1);
	assert_int_equal(r->k->adds, 1);
	r->k->fail_add = 0;
	/* waiting, it keeps the thread's polls coming */
	assert_int_equal(fpq_book_count(r->b), 1);
	assert_int_equal(round_at(r, 0, 0), 0);
	/* the poll before its time (980 ms after the failure) leaves it */
	assert_int_equal(round_at(r, FPQ_POLL_MS - 20, 0), 0);
	assert_int_equal(r->k->polls, 1);
	assert_int_equal(fpq_book_pending(r->b), 0);
	/* the next round, a poll, stages it; the round after puts it in */
	assert_int_equal(round_at(r, FPQ_POLL_MS, 0), 1);
	assert_int_equal(r->k->polls, 2);
	assert_int_equal(r->k->adds, 1);
	assert_int_equal(round_at(r, 20, 0), 0);
	assert_int_equal(r->k->adds, 2);
	assert_int_equal(r->k->n, 1);
	fpq_book_stats(r->b, &st);
	assert_int_equal(st.retried, 1);
	assert_int_equal(st.errors, 1);
	assert_int_equal(r->k->refusals, 0);

	/* a dump that fails does not hold them back */
	r->k->fail_add = 1;
	push(r, 1, FPQ_ADD, 2);
	assert_int_equal(round_at(r, 20, 0), 1);
	r->k->fail_add = 0;
	r->k->fail_counters = 1;
	assert_int_equal(round_at(r, 2 * FPQ_POLL_MS, 0), 1);
	assert_int_equal(round_at(r, 20, 0), 0);
	assert_int_equal(r->k->n, 2);

	/* a flush asked for drops one waiting: its worker sees the new
	   epoch and forgets it */
	r->k->fail_counters = 0;
	r->k->fail_add = 1;
	push(r, 1, FPQ_ADD, 3);
	assert_int_equal(round_at(r, 20, 0), 1);
	r->k->fail_add = 0;
	assert_int_equal(fpq_book_count(r->b), 3);
	assert_int_equal(round_at(r, 20, 1), 1);
	assert_int_equal(fpq_book_count(r->b), 0);
	assert_int_equal(round_at(r, 2 * FPQ_POLL_MS, 0), 0);
	assert_int_equal(round_at(r, 20, 0), 0);
	assert_int_equal(r->k->n, 0);
	fpq_book_stats(r->b, &st);
	assert_int_equal(st.retried, 2);
	assert_int_equal(st.refused, 0);
	round_free(r);
}

/* What a failed call never sent goes at the next round, not after a
   back-off: the thread comes round again at once (busy). */
static void
test_round_unsent(void **state)
{
	struct round	*r = round_new();
	struct fp_stats	 st;
	unsigned	 i;

	(void)state;
	r->k->fail_add = 1;
	r->k->take = 2;
	r->k->txn = 2;
	for (i = 0; i < 6; i++)
		push(r, i % NPORT, FPQ_ADD, (uint16_t)(20 + i));
	assert_int_equal(round_at(r, 20, 0), 1);
	assert_int_equal(r->k->n, 2);
	r->k->fail_add = 0;
	assert_int_equal(round_at(r, 20, 0), 0);
	assert_int_equal(r->k->adds, 2);
	assert_int_equal(r->k->last_add, 2);
	assert_int_equal(r->k->n, 4);
	fpq_book_stats(r->b, &st);
	assert_int_equal(st.retried, 0);
	/* the failed two, a second later, each alone */
	assert_int_equal(round_at(r, FPQ_RETRY_MS - 20, 0), 1);
	assert_int_equal(round_at(r, 20, 0), 0);
	assert_int_equal(r->k->n, 6);
	fpq_book_stats(r->b, &st);
	assert_int_equal(st.retried, 2);
	assert_int_equal(st.refused, 0);
	round_free(r);
}

/* An offload whose transaction failed goes again at the first round
   once its back-off ran out, not at the poll after (up to a second
   late), and the thread sleeps no longer than that; a poison among
   them fails the others once.  A poll due at the same round comes
   first, and takes one whose answer was lost as in. */
static void
test_round_retry_due(void **state)
{
	struct round	*r = round_new();
	struct fp_conn	 c = conn(12);
	struct fp_stats	 st;
	unsigned	 i;

	(void)state;
	/* a poll at 6000, the failure at 6020: due at 7020 */
	assert_int_equal(round_at(r, FPQ_POLL_MS, 0), 0);
	assert_int_equal(r->k->polls, 1);
	r->k->absent_ok = 1;	/* the poison's removal once refused */
	r->k->poison = 12;
	for (i = 0; i < 5; i++)
		push(r, i % NPORT, FPQ_ADD, (uint16_t)(10 + i));
	assert_int_equal(round_at(r, 20, 0), 1);
	assert_int_equal(r->k->poisoned, 1);
	assert_int_equal(r->k->n, 0);
	assert_int_equal(fpq_book_poll_in(r->b, r->now), FPQ_POLL_MS - 20);
	/* the poll at 7000 is too soon for them; the thread comes back
	   when they are due */
	assert_int_equal(round_at(r, FPQ_POLL_MS - 20, 0), 0);
	assert_int_equal(r->k->polls, 2);
	assert_int_equal(fpq_book_pending(r->b), 0);
	assert_int_equal(fpq_book_poll_in(r->b, r->now), 20);
	assert_int_equal(fpq_book_poll_in(r->b, r->now + 20), 0);
	/* at 7020: staged, no poll; in at the next round, but the
	   poison, each in a transaction of its own */
	assert_int_equal(round_at(r, 20, 0), 1);
	assert_int_equal(r->k->polls, 2);
	assert_int_equal(fpq_book_pending(r->b), 1);
	assert_int_equal(round_at(r, 20, 0), 0);
	assert_int_equal(r->k->adds, 1 + 5);
	assert_int_equal(r->k->poisoned, 2);
	assert_int_equal(r->k->n, 4);
	assert_int_equal(k_find(r->k, &c), -1);
	fpq_book_stats(r->b, &st);
	assert_int_equal(st.retried, 5);
	assert_int_equal(st.refused, 0);
	/* the poison again 2 s later (9040), and so on till refused */
	assert_int_equal(fpq_book_poll_in(r->b, r->now), FPQ_POLL_MS - 40);
	for (i = 1; i < FPQ_RETRIES; i++) {
		/* not a millisecond early */
		assert_int_equal(round_at(r, (FPQ_RETRY_MS << i) - 1, 0), 0);
		assert_int_equal(fpq_book_pending(r->b), 0);
		assert_int_equal(round_at(r, 1, 0), 1);
		assert_int_equal(round_at(r, 20, 0), 0);
		assert_int_equal(r->k->poisoned, 2 + i);
	}
	assert_int_equal(r->k->refusals, 1);
	assert_int_equal(r->k->rsport, 12);
	assert_int_equal(r->k->rw, 0);
	assert_int_equal(r->k->absent, 1);
	assert_int_equal(r->k->n, 4);
	fpq_book_stats(r->b, &st);
	assert_int_equal(st.retried, 4 + FPQ_RETRIES);
	assert_int_equal(st.refused, 1);
	r->k->poison = 0;

	/* answer lost, and the thread late: the poll, due as well, comes
	   first and finds it in; it is not sent again */
	r->k->fail_add = r->k->lost = 1;
	push(r, 1, FPQ_ADD, 20);
	assert_int_equal(round_at(r, 20, 0), 1);
	r->k->fail_add = r->k->lost = 0;
	assert_int_equal(r->k->n, 5);
	i = r->k->adds;
	assert_int_equal(round_at(r, 5 * FPQ_POLL_MS, 0), 0);
	assert_int_equal(round_at(r, 20, 0), 0);
	assert_int_equal(r->k->adds, i);
	assert_int_equal(fpq_book_count(r->b), 5);
	fpq_book_stats(r->b, &st);
	assert_int_equal(st.retried, 4 + FPQ_RETRIES);
	assert_int_equal(st.strays, 0);
	round_free(r);
}

/* A removal staged when a flush reads the counters, its worker's back
   ring full: its counts are owed, not lost with the table, and the
   round says it has work till they are handed over. */
static void
test_round_last_full(void **state)
{
	struct round	*r = round_new();
	struct fp_conn	 c = conn(7);
	int		 j;

	(void)state;
	push(r, 0, FPQ_ADD, 7);
	assert_int_equal(round_at(r, 20, 0), 1);
	assert_int_not_equal(j = k_find(r->k, &c), -1);
	r->k->kc[j].pkts = 9;
	r->k->kc[j].bytes = 900;
	push(r, 0, FPQ_DEL, 7);
	r->k->full = 1;
	assert_int_equal(round_at(r, 20, 1), 1);
	assert_int_equal(r->k->flushes, 1);
	assert_int_equal(r->k->n, 0);
	assert_int_equal(fpq_book_count(r->b), 0);
	assert_int_equal(r->k->credits, 0);
	assert_int_equal(round_at(r, 20, 0), 1);
	assert_int_equal(r->k->credits, 0);
	r->k->full = 0;
	assert_int_equal(round_at(r, 20, 0), 0);
	assert_int_equal(r->k->credits, 1);
	assert_int_equal(r->k->cw, 0);
	assert_int_equal(r->k->cp, 9);
	assert_int_equal(r->k->cb, 900);
	assert_int_equal(round_at(r, 20, 0), 0);
	assert_int_equal(r->k->credits, 1);
	round_free(r);
}

/* A removal the kernel refuses: the table is emptied in the same
   round, and the stage's offloads with it. */
static void
test_round_failed_removal(void **state)
{
	struct round	*r = round_new();
	uint32_t	 e0 = r->sh.epoch;

	(void)state;
	push(r, 0, FPQ_ADD, 1);
	assert_int_equal(round_at(r, 20, 0), 1);
	r->k->fail_del = 1;
	push(r, 0, FPQ_DEL, 1);
	push(r, 1, FPQ_ADD, 2);
	assert_int_equal(round_at(r, 20, 0), 1);
	assert_int_equal(r->k->dels, 1);
	assert_int_equal(r->k->flushes, 1);
	assert_int_equal(r->sh.epoch, e0 + 1);
	assert_int_equal(r->k->adds, 1);
	assert_int_equal(r->k->n, 0);
	assert_int_equal(fpq_book_count(r->b), 0);
	assert_int_equal(round_at(r, 20, 0), 0);

	/* one that fails while items are fed in (a full stage) too */
	r->k->fail_del = 0;
	{
		unsigned	 i;

		for (i = 0; i < FPQ_BATCH; i++)
			push(r, 0, FPQ_ADD, (uint16_t)(100 + i));
		assert_int_equal(round_at(r, 20, 0), 1);
		assert_int_equal(r->k->n, FPQ_BATCH);
		r->k->fail_del = 1;
		for (i = 0; i < FPQ_BATCH + 1; i++)
			push(r, 1, FPQ_DEL, (uint16_t)(100 + i));
	}
	assert_int_equal(round_at(r, 20, 0), 1);
	assert_int_equal(r->k->flushes, 2);
	assert_int_equal(r->sh.epoch, e0 + 2);
	assert_int_equal(r->k->n, 0);
	round_free(r);
}

/* ---- the maps' size ---------------------------------------------------- */

/*
 * max x threads, FP_MAX_CONNS at most: all fastpath_open() and
 * fastpath_grow() take (test_fastpath test_open_max), so a reload never
 * asks the maps for more; the cut said once, at the first call or when
 * the product changes, not at every reload.
 */
static void
test_maps_max(void **state)
{
	uint64_t	 cut = 0;
	int		 warn = -1;

	(void)state;
	assert_int_equal(FP_MAX_CONNS, 1u << 30);
	assert_int_equal(fpq_maps_max(4, 2, &cut, &warn), 8);
	assert_int_equal(warn, 0);
	assert_int_equal(cut, 0);
	/* [conntrack] max's most, 64 Mi, and 16 workers: just fits */
	assert_int_equal(fpq_maps_max(1u << 26, 16, &cut, &warn), 1u << 30);
	assert_int_equal(warn, 0);
	/* 17: cut, and said; the reloads after it say nothing */
	assert_int_equal(fpq_maps_max(1u << 26, 17, &cut, &warn), 1u << 30);
	assert_int_equal(warn, 1);
	assert_int_equal(cut, 17ull << 26);
	assert_int_equal(fpq_maps_max(1u << 26, 17, &cut, &warn), 1u << 30);
	assert_int_equal(warn, 0);
	assert_int_equal(fpq_maps_max(1u << 26, 17, &cut, &warn), 1u << 30);
	assert_int_equal(warn, 0);
	/* another product past the cap: said again */
	assert_int_equal(fpq_maps_max((1u << 26) - 1, 64, &cut, &warn),
	    1u << 30);
	assert_int_equal(warn, 1);
	assert_int_equal(cut, ((1ull << 26) - 1) * 64);
	/* under it again, then back past it: said again */
	assert_int_equal(fpq_maps_max(1000, 3, &cut, &warn), 3000);
	assert_int_equal(warn, 0);
	assert_int_equal(cut, 0);
	assert_int_equal(fpq_maps_max((1u << 26) - 1, 64, &cut, &warn),
	    1u << 30);
	assert_int_equal(warn, 1);
	/* no overflow: the product is taken in 64 bits */
	assert_int_equal(fpq_maps_max(UINT32_MAX, 64, &cut, &warn), 1u << 30);
	assert_int_equal(warn, 1);
	assert_int_equal(cut, (uint64_t)UINT32_MAX * 64);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ring),
		cmocka_unit_test(test_ring_threads),
		cmocka_unit_test(test_book_batches),
		cmocka_unit_test(test_book_errors),
		cmocka_unit_test(test_book_flush),
		cmocka_unit_test(test_book_counts),
		cmocka_unit_test(test_book_keep),
		cmocka_unit_test(test_book_last),
		cmocka_unit_test(test_book_counts_full),
		cmocka_unit_test(test_book_last_full),
		cmocka_unit_test(test_book_refuse_full),
		cmocka_unit_test(test_book_retry),
		cmocka_unit_test(test_book_retry_lost),
		cmocka_unit_test(test_book_poison),
		cmocka_unit_test(test_book_unsent),
		cmocka_unit_test(test_round),
		cmocka_unit_test(test_round_flush),
		cmocka_unit_test(test_round_flush_staged),
		cmocka_unit_test(test_round_failed_removal),
		cmocka_unit_test(test_round_retry),
		cmocka_unit_test(test_round_retry_due),
		cmocka_unit_test(test_round_unsent),
		cmocka_unit_test(test_round_last_full),
		cmocka_unit_test(test_maps_max),
	};

	return (cmocka_run_group_tests(tests, NULL, NULL));
}
