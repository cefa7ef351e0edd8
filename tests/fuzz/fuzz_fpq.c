/*
 * fuzz_fpq.c - libFuzzer target: the fast path's book against a model
 *
 * Copyright (C) 2026 The nfqspid authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * The book (fpq.c) stands between the workers and the kernel's table;
 * its promise is that a connection passes the kernel only while its
 * worker has it offloaded, so that every removal reaches the kernel.
 * Here the input is a script of what workers, kernel and thread do, in
 * any order: two workers offer and remove 16 connections through their
 * out rings (small here, so that they fill: a removal that does not fit
 * asks for a flush, as fpd_lost_removal()), a connection may end and a
 * new one take its tuple, the kernel refuses changes or flushes, leaves
 * a connection out, rejects every change that holds a poison (an
 * element it will not take), counts packets or lets an element time
 * out, and the thread runs its rounds (fpq_book_round(), the daemon's
 * own, at a clock the script moves), asked to flush or not.  A change
 * the kernel fails may have been applied all the same (its answer
 * lost).  The workers are modelled as worker_fp.c behaves: what they
 * believe is offloaded, the epoch they see, the refusals they are told
 * of.
 *
 * After each round that leaves no flush owed, everything the kernel
 * holds is believed offloaded by its worker; a connection a worker
 * believes offloaded, that the kernel did not drop and nobody refused,
 * is in the kernel; the kernel never changes while a flush is owed but
 * to lose elements, nor is its table read (a read renews every
 * element); no worker is credited more packets than the kernel passed,
 * and credits and refusals reach the right worker.  An offload whose
 * transaction failed is tried again, not before its back-off ran out
 * (FPQ_RETRY_MS, doubled each failure) and at the round after the
 * first one that finds it due; it is refused only after FPQ_RETRIES
 * tries, or for a mark with no chain; one whose answer was lost is no
 * longer in the dark after the next poll (taken as in, or a stray), or
 * at once if its last try failed, but for a removal that fails.
 * Each try after the first goes alone, so a poison fails the others
 * of its batch at their first try only.
 */
#include <sys/socket.h>
#include <netinet/in.h>

#include <errno.h>
#include <string.h>

#include "fpq.h"
#include "fuzz.h"

#define NCONN	16
#define NWORK	2
#define OWNER(i) ((unsigned)(i) % NWORK)
#define RING	16		/* items a worker's out ring holds */
#define RESERVE	(RING / 4)	/* as FPQ_RESERVE: kept for removals */

struct model {
	/* the kernel */
	uint8_t		 in[NCONN];
	uint64_t	 kpkts[NCONN];		/* since put in */
	uint64_t	 passed[NCONN];		/* ever, by tuple */
	uint8_t		 dropped[NCONN];	/* timed out */
	int		 fail_add, fail_del, fail_flush;
	size_t		 take;			/* fail_add: these go in */
	size_t		 txn;			/* fail_add: the failed
						   transaction holds so many
						   (0: all the rest); those
						   after it are never sent */
	int		 lost;			/* and the failed one too,
						   its answer lost */
	int		 out;			/* this one stays out; -1 */
	int		 poison;		/* fails its change whole; -1 */
	int		 owed;			/* it refused the last flush */
	uint8_t		 stray[NCONN];		/* a removal it refused */
	uint8_t		 dark[NCONN];		/* in, its answer lost */
	/* the book, as the kernel saw it */
	uint8_t		 bookin[NCONN];		/* in: a failure renews */
	uint8_t		 retry[NCONN];		/* to be tried again */
	uint8_t		 tries[NCONN];		/* failed transactions */
	uint64_t	 due[NCONN];		/* retry: not before */
	uint8_t		 swept[NCONN];		/* retry: due at a round */
	uint8_t		 unsent[NCONN];		/* after a failed
						   transaction: goes at the
						   next round, untried */
	uint8_t		 sent[NCONN];		/* unsent, sent since */
	uint8_t		 refusing[NCONN];	/* the book refused it */
	uint8_t		 unlost[NCONN];		/* refused as its last try
						   failed: out at the end of
						   the apply */
	int		 flushed;		/* the kernel was asked to */
	uint8_t		 noroom[NCONN];		/* no chain for its mark */
	/* the workers */
	uint8_t		 view[NCONN];		/* offloaded, they believe */
	uint8_t		 refused[NCONN];	/* not offered again */
	uint8_t		 told[NCONN];		/* refusals not yet read */
	uint8_t		 full[NWORK];		/* its back ring is full */
	uint8_t		 owe[NCONN];		/* a refusal not told */
	uint32_t	 wepoch[NWORK];
	uint64_t	 credited[NCONN];
	uint64_t	 summed[NWORK];		/* credits of no connection */
	/* between them and the thread */
	struct fpq_port	 port[NWORK];
	struct fpq_shared sh;
	uint64_t	 now;			/* the thread's clock */
};

static struct model	 M;

static struct fp_conn
conn(unsigned i)
{
	struct fp_conn	 c;

	memset(&c, 0, sizeof(c));
	c.family = AF_INET;
	c.proto = IPPROTO_UDP;
	c.src.a8[0] = 10;
	c.src.a8[3] = 1;
	c.dst.a8[0] = 10;
	c.dst.a8[3] = 2;
	c.sport = (uint16_t)(1000 + i);
	c.dport = 53;
	c.mark = i & 1 ? 0x10 : 0;
	return (c);
}

static unsigned
index_of(const struct fp_conn *c)
{
	unsigned	 i = (unsigned)c->sport - 1000;

	CHECK(i < NCONN);
	CHECK(fpq_conn_eq(c, &(struct fp_conn){ 0 }) == 0);
	return (i);
}

/* ---- the kernel, as the book's ops ---------------------------------- */

/* i into the kernel's table: the book knows, or (dark) not yet */
static void
k_put(unsigned i, int dark)
{
	M.owe[i] = M.stray[i] = 0;
	if (!M.in[i])
		M.kpkts[i] = 0;
	M.in[i] = 1;
	M.dropped[i] = 0;
	M.dark[i] = (uint8_t)dark;
	if (!dark) {
		M.bookin[i] = 1;
		M.tries[i] = 0;
	}
}

/* i's transaction failed: a renewal stays in the book as it was, an
   offload waits to be tried again, FPQ_RETRIES times */
static void
k_failed(unsigned i)
{
	if (M.bookin[i])
		return;
	if (++M.tries[i] <= FPQ_RETRIES) {
		M.retry[i] = 1;
		M.due[i] = M.now + ((uint64_t)FPQ_RETRY_MS << (M.tries[i] - 1));
	}
}

static int
k_add(void *arg, const struct fp_conn *c, size_t n, uint8_t *in)
{
	size_t		 j;
	unsigned	 i;

	(void)arg;
	/* nothing goes in while the table still holds the orphans of a
	   flush that failed */
	CHECK(!M.owed);
	memset(in, FP_ADD_OUT, n);
	for (j = 0; j < n; j++) {
		i = index_of(&c[j]);
		if (M.retry[i]) {
			/* tried again: not before its time */
			CHECK(M.now >= M.due[i]);
			M.retry[i] = M.swept[i] = 0;
		}
		if (M.unsent[i]) {
			M.unsent[i] = 0;
			M.sent[i] = 1;
		}
		/* and alone */
		if (M.tries[i] > 0)
			CHECK(n == 1);
	}
	for (j = 0; j < n && M.poison != -1; j++)
		if ((int)index_of(&c[j]) == M.poison) {
			/* all or none: the others fail with it at their
			   first try, never again */
			for (j = 0; j < n; j++) {
				i = index_of(&c[j]);
				CHECK((int)i == M.poison || M.tries[i] == 0);
				k_failed(i);
			}
			errno = EINVAL;
			return (-1);
		}
	for (j = 0; j < n; j++) {
		i = index_of(&c[j]);
		if (M.fail_add && j == M.take) {
			if (M.lost)
				k_put(i, 1);
			/* the failed transaction; the rest never sent,
			   and no try of theirs (k_refuse() checks) */
			for (; j < n && (M.txn == 0 || j < M.take + M.txn);
			    j++)
				k_failed(index_of(&c[j]));
			for (; j < n; j++) {
				in[j] = FP_ADD_UNSENT;
				i = index_of(&c[j]);
				/* a renewal stays in the book as it was */
				M.unsent[i] = !M.bookin[i];
			}
			errno = ENOBUFS;
			return (-1);
		}
		if ((int)i == M.out) {
			in[j] = FP_ADD_NOROOM;
			M.noroom[i] = 1;
			continue;
		}
		in[j] = FP_ADD_IN;
		k_put(i, 0);
	}
	return (0);
}

static int
k_del(void *arg, const struct fp_conn *c, size_t n)
{
	size_t		 j;
	unsigned	 i;

	(void)arg;
	for (j = 0; j < n; j++) {
		i = index_of(&c[j]);
		/* out of the book */
		M.bookin[i] = M.retry[i] = M.swept[i] = M.tries[i] = 0;
	}
	if (M.fail_del) {
		/* strays till the flush, or (one refused after its last
		   try, whose answer may have been lost) the next poll */
		for (j = 0; j < n; j++)
			M.stray[index_of(&c[j])] = M.in[index_of(&c[j])];
		errno = EIO;
		return (-1);
	}
	for (j = 0; j < n; j++) {
		i = index_of(&c[j]);
		M.in[i] = M.stray[i] = M.dark[i] = 0;
	}
	return (0);
}

static int
k_flush(void *arg)
{
	(void)arg;
	/* a new epoch, obeyed or not: the workers forget every offload,
	   the book every one to try again */
	M.flushed = 1;
	memset(M.owe, 0, sizeof(M.owe));
	memset(M.refusing, 0, sizeof(M.refusing));
	memset(M.unsent, 0, sizeof(M.unsent));
	memset(M.retry, 0, sizeof(M.retry));
	memset(M.swept, 0, sizeof(M.swept));
	memset(M.tries, 0, sizeof(M.tries));
	if (M.fail_flush) {
		M.owed = 1;
		errno = ENOBUFS;
		return (-1);
	}
	M.owed = 0;
	memset(M.in, 0, sizeof(M.in));
	memset(M.stray, 0, sizeof(M.stray));
	memset(M.dark, 0, sizeof(M.dark));
	memset(M.bookin, 0, sizeof(M.bookin));
	return (0);
}

static int
k_credit(void *arg, unsigned w, const struct fp_conn *c, uint64_t pkts,
    uint64_t bytes)
{
	uint64_t	 cred = 0, passed = 0;
	unsigned	 i;

	(void)arg;
	CHECK(bytes == pkts * 100);
	if (c->family == 0) {
		/* the sum of removals' last counts owed past FPQ_OWE_MAX:
		   the worker's, all told */
		CHECK(w < NWORK);
		if (M.full[w])
			return (-1);
		M.summed[w] += pkts;
		for (i = w; i < NCONN; i += NWORK) {
			cred += M.credited[i];
			passed += M.passed[i];
		}
		CHECK(cred + M.summed[w] <= passed);
		return (0);
	}
	i = index_of(c);
	CHECK(w == OWNER(i));
	if (M.full[w])
		return (-1);
	M.credited[i] += pkts;
	CHECK(M.credited[i] <= M.passed[i]);
	return (0);
}

static int
k_refuse(void *arg, unsigned w, const struct fp_conn *c)
{
	unsigned	 i = index_of(c);

	(void)arg;
	CHECK(w == OWNER(i));
	/* no chain for its mark, or tried often enough (told again
	   while the ring is full) */
	CHECK(M.noroom[i] || M.tries[i] > FPQ_RETRIES || M.refusing[i]);
	/* its last try failed: taken out of the kernel this round */
	if (!M.refusing[i] && !M.noroom[i])
		M.unlost[i] = 1;
	M.refusing[i] = 1;
	M.retry[i] = 0;
	/* told at the next apply the ring has room at */
	if ((M.owe[i] = M.full[w]))
		return (-1);
	M.told[i] = 1;
	return (0);
}

static int
k_get(void *arg, const struct fp_conn *c, size_t n, struct fp_counts *k)
{
	size_t		 j;
	unsigned	 i;

	(void)arg;
	for (j = 0; j < n; j++) {
		i = index_of(&c[j]);
		memset(&k[j], 0, sizeof(k[j]));
		if (M.in[i]) {
			k[j].pkts = M.kpkts[i];
			k[j].bytes = M.kpkts[i] * 100;
			k[j].expires_ms = 1000;
		}
	}
	return (0);
}

/* A whole dump, as fastpath_counters() reads it: the strays the book
   names go */
static int
k_counters(void *arg, fp_counts_cb cb, void *cbarg)
{
	struct fp_conn	 c;
	struct fp_counts k;
	unsigned	 i;

	(void)arg;
	/* a read renews every element: not one of a flush's orphans */
	CHECK(!M.owed);
	for (i = 0; i < NCONN; i++) {
		if (!M.in[i])
			continue;
		c = conn(i);
		c.mark = 0;	/* the kernel keeps a chain, not the mark */
		memset(&k, 0, sizeof(k));
		k.pkts = M.kpkts[i];
		k.bytes = M.kpkts[i] * 100;
		k.expires_ms = 1000;
		/* none but a removal's the kernel refused (a removal
		   staged when a flush reads the counters first is still
		   the book's), or one whose answer was lost that the book
		   refused since */
		if (cb(&c, &k, cbarg) == -1) {
			CHECK(M.stray[i] || M.dark[i]);
			M.in[i] = M.dark[i] = 0;
		} else if (M.dark[i]) {
			/* the book takes it as in */
			M.dark[i] = M.retry[i] = M.tries[i] = 0;
			M.bookin[i] = 1;
		}
	}
	/* no longer in the dark */
	for (i = 0; i < NCONN; i++)
		CHECK(!M.dark[i]);
	return (0);
}

static const struct fpq_ops ops = {
	.add = k_add,
	.del = k_del,
	.flush = k_flush,
	.credit = k_credit,
	.refuse = k_refuse,
	.get = k_get,
	.counters = k_counters
};

/* ---- the thread ---------------------------------------------------------- */

/* Is the kernel what the workers believe? */
static void
check(void)
{
	uint32_t	 e = M.sh.epoch;
	unsigned	 i;

	for (i = 0; i < NCONN; i++) {
		/* the dark till the next poll */
		if (M.in[i] && !M.dark[i])
			CHECK(M.view[i] && M.wepoch[OWNER(i)] == e);
		if (M.view[i] && M.wepoch[OWNER(i)] == e && !M.told[i] &&
		    !M.dropped[i] && !M.owe[i] && !M.retry[i] &&
		    !M.unsent[i])
			CHECK(M.in[i]);
		/* never sent: its worker still has it */
		if (M.unsent[i])
			CHECK(M.view[i] && M.wepoch[OWNER(i)] == e);
		/* to be tried again: its worker still has it */
		if (M.retry[i])
			CHECK(M.view[i] && M.wepoch[OWNER(i)] == e);
		/* a refusal is told once the ring has room, unless the
		   connection went first */
		if (M.owe[i] && M.view[i])
			CHECK(M.full[OWNER(i)]);
	}
}

/* One round of the thread, as fpd.c runs it, ms after the last: the
   daemon's own (fpq_book_round()) */
static void
round_at(struct fpq_book *b, uint64_t ms, int flush)
{
	uint8_t		 swept[NCONN], unsent[NCONN];
	unsigned	 i;

	memcpy(swept, M.swept, sizeof(swept));
	memcpy(unsent, M.unsent, sizeof(unsent));
	memset(M.sent, 0, sizeof(M.sent));
	M.flushed = 0;
	M.now += ms;
	(void)fpq_book_round(b, M.port, NWORK, &M.sh, flush, M.now);
	/* not sent at the last round: sent at this one, unless it left
	   the book (a removal, a flush) */
	for (i = 0; i < NCONN; i++)
		CHECK(!unsent[i] || M.sent[i] || M.flushed || !M.view[i]);
	/* refused as its last try failed: not in the kernel, unless the
	   removal failed (a stray for the next poll) */
	for (i = 0; i < NCONN; i++) {
		if (M.unlost[i] && !M.fail_del)
			CHECK(!M.in[i]);
		M.unlost[i] = 0;
	}
	/* due at the last round: tried this one (or removed, or flushed,
	   or found in by a poll) */
	for (i = 0; i < NCONN; i++) {
		CHECK(!(swept[i] && M.swept[i]));
		/* due now: staged by this round, after its poll */
		if (M.retry[i] && M.now >= M.due[i])
			M.swept[i] = 1;
	}
	/* with no flush owed, the kernel is as the workers believe */
	if (!M.owed && !M.sh.flush)
		check();
}

/* ---- the workers -------------------------------------------------------- */

/* Worker OWNER(i) pushes op of i: 0, or -1 when its ring is full (an
   offload also when only the reserve is left), as worker_fp.c */
static int
item(unsigned i, uint8_t op)
{
	struct fpq_ring	*r = &M.port[OWNER(i)].out;
	struct fpq_item	 it;

	if (op == FPQ_ADD && fpq_ring_room(r) <= RESERVE)
		return (-1);
	memset(&it, 0, sizeof(it));
	it.c = conn(i);
	it.op = op;
	it.epoch = M.wepoch[OWNER(i)];
	return (fpq_ring_push(r, &it));
}

/* i leaves the kernel: a removal that does not fit makes the thread
   empty the whole table (fpd_lost_removal()) */
static void
removal(unsigned i)
{
	M.view[i] = 0;
	M.unsent[i] = 0;	/* staged, it leaves the book unsent */
	if (item(i, FPQ_DEL) == -1)
		__atomic_store_n(&M.sh.flush, 1, __ATOMIC_RELEASE);
}

/* worker_fp_epoch(), then the refusals it was told of, as
   worker_fp_credits() reads them */
static void
worker_catch_up(unsigned w)
{
	uint32_t	 e = __atomic_load_n(&M.sh.epoch, __ATOMIC_ACQUIRE);
	unsigned	 i;

	if (M.wepoch[w] != e) {
		for (i = w; i < NCONN; i += NWORK)
			M.view[i] = M.refused[i] = 0;
		M.wepoch[w] = e;
	}
	for (i = w; i < NCONN; i += NWORK) {
		if (!M.told[i])
			continue;
		M.told[i] = 0;
		if (M.view[i]) {
			M.refused[i] = 1;
			removal(i);
		}
	}
}

static void
step(struct fpq_book *b, uint8_t op, uint8_t arg)
{
	unsigned	 i = arg % NCONN;

	switch (op % 12) {
	case 0:		/* offer (a full ring: it stays on the slow path) */
		if (!M.view[i] && !M.refused[i] && item(i, FPQ_ADD) == 0) {
			/* a new node, if the book takes it: the old one's
			   debts went with its removal */
			M.view[i] = 1;
			M.tries[i] = M.noroom[i] = M.owe[i] = 0;
			M.unsent[i] = M.refusing[i] = 0;
		}
		break;
	case 1:		/* a FIN or RST: it leaves the kernel */
	case 2:		/* it ends; a new connection may take its tuple */
		if (M.view[i])
			removal(i);
		if (op % 12 == 2)
			M.refused[i] = 0;
		break;
	case 3:		/* a round, arg ms after the last */
		round_at(b, arg, 0);
		break;
	case 4:		/* a round asked to flush (a reload) */
		round_at(b, 0, 1);
		break;
	case 5:
		worker_catch_up(arg % NWORK);
		break;
	case 6:		/* the kernel passes packets */
		if (M.in[i]) {
			M.kpkts[i] += 1 + arg / NCONN;
			M.passed[i] += 1 + arg / NCONN;
		}
		break;
	case 7:		/* a round with the poll due, or many seconds
			   later (back-offs run out) */
		round_at(b, FPQ_POLL_MS * (arg & 0x80 ? 1 + (arg & 0x3f) : 1),
		    0);
		break;
	case 8:		/* an element times out */
		if (M.in[i]) {
			M.in[i] = M.dark[i] = 0;
			M.dropped[i] = 1;
		}
		break;
	case 9:		/* the kernel refuses a whole change, or part; a
			   worker reads its back ring late */
		M.fail_add = arg & 1;
		M.take = arg >> 1 & 3;
		M.txn = M.take;		/* 0: all the rest */
		M.fail_del = arg >> 3 & 1;
		M.fail_flush = arg >> 4 & 1;
		M.full[0] = arg >> 5 & 1;
		M.full[1] = arg >> 6 & 1;
		M.lost = arg >> 7 & 1;
		break;
	case 10:	/* a mark with no chain left, or a poison */
		if (arg & 0x80)
			M.out = -1;
		else if (arg & 0x40)
			M.poison = arg & 0x20 ? -1 : (int)i;
		else
			M.out = (int)i;
		break;
	default:	/* the kernel takes the flush owed, if any */
		if (M.owed)
			M.fail_flush = 0;
		round_at(b, arg, 0);
		break;
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fpq_book	*b;
	size_t		 j;

	memset(&M, 0, sizeof(M));
	M.out = M.poison = -1;
	M.now = 1000;
	for (j = 0; j < NWORK; j++)
		if (fpq_ring_init(&M.port[j].out, RING,
		    sizeof(struct fpq_item)) == -1 ||
		    fpq_ring_init(&M.port[j].back, RING,
		    sizeof(struct fpq_credit)) == -1)
			abort();
	if ((b = fpq_book_new(&ops, NULL)) == NULL)
		abort();
	fpq_book_clock(b, M.now);
	for (j = 0; j + 1 < size; j += 2)
		step(b, data[j], data[j + 1]);
	fpq_book_free(b);
	for (j = 0; j < NWORK; j++)
		fpq_port_free(&M.port[j]);
	return (0);
}
