/*
 * fpq.c - the fast path's rings and its thread's book (fpq.h)
 *
 * Copyright (C) 2026 The nfqspid authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * The book maps each connection the kernel holds (or is about to) to the
 * worker that owns it and the kernel's counts last handed over.  Items
 * are staged and applied in two calls: every removal first, then every
 * offload.  That order is right whatever the items' order was: a staged
 * removal is of a connection the kernel held before this stage (a
 * removal of one still staged only unstages it), and a connection
 * offloaded again after its removal is staged as a new offload.
 *
 * A removal's connection leaves the book when it is staged, with what
 * its last credit needs (its worker, the counts handed over): before
 * the kernel is asked to take them out, their elements' counts are read
 * (ops->get), so that a connection that ends shows every packet the
 * kernel passed.  That credit has no next poll: one a full back ring
 * does not take is owed (struct fpq_owe), handed over again at each
 * round until it fits.  Past FPQ_OWE_MAX of them, a worker's further
 * ones are summed into one of no connection, which still reaches its
 * totals (worker_fp_credits()): the memory owed stays bounded.
 *
 * An offload whose transaction failed (ops->add's -1: a full socket
 * buffer, a full map, the kernel's memory) is tried again: it waits in
 * the book, FPQ_RETRY, until its back-off runs out (FPQ_RETRY_MS, twice
 * that after each failure), then the round that finds it due stages it
 * again, after the poll if one is due; after FPQ_RETRIES tries it is
 * refused as below.  Its worker counts it as offloaded meanwhile, as it
 * does one staged.  Each try after the first goes in a transaction of
 * its own: a transaction is all or none, and an element the kernel
 * rejects for a reason of its own (a "poison": EEXIST, EINVAL, ERANGE)
 * would fail its whole batch at every try and have all of it refused
 * at the last.  So it fails the others once at most, they land at their
 * first retry, and it alone is refused.  Halving the failed group at
 * each try instead would fail the poison's companions again
 * log2(FPQ_BATCH) times, more than FPQ_RETRIES.  Retries are few
 * (FPQ_RETRIES an offload, after back-offs), so that is no round trip a
 * packet, and first tries keep their batches.  A call stops at the
 * first of its transactions that fails: the offloads it never sent
 * (FP_ADD_UNSENT) were not tried, and are staged again as they were,
 * for the next round, no try counted.
 *
 * A failed transaction may have been applied though its answer was
 * lost: one the kernel's dump shows is in, and its removal goes to the
 * kernel whatever, its last counts read first; one refused after its
 * last try failed is taken out at once (fpq_book_unlost()).
 *
 * An offload the kernel did not take leaves the book once its worker
 * is told (ops->refuse).  While that worker's back ring is full, it
 * stays, refused, on a list of notices owed, told again at each apply:
 * until it is, the worker counts it as offloaded.  Its removal (the
 * worker's connection ended) or a flush (the worker forgets all) ends
 * the debt.  Such a node costs what an offloaded one does, and lives no
 * longer than its worker's connection.
 */
#define _GNU_SOURCE		/* arc4random_buf */

#include <sys/types.h>
#include <sys/socket.h>

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "fpq.h"
#include "siphash.h"

/* ---- the rings ------------------------------------------------------- */

int
fpq_ring_init(struct fpq_ring *r, uint32_t size, size_t isz)
{
	memset(r, 0, sizeof(*r));
	if (size == 0 || (size & (size - 1)) != 0 || isz == 0) {
		errno = EINVAL;
		return (-1);
	}
	if ((r->slots = calloc(size, isz)) == NULL)
		return (-1);
	r->size = size;
	r->isz = isz;
	return (0);
}

void
fpq_ring_free(struct fpq_ring *r)
{
	free(r->slots);
	r->slots = NULL;
}

int
fpq_ring_push(struct fpq_ring *r, const void *item)
{
	uint32_t	 head = r->head;
	uint32_t	 tail = __atomic_load_n(&r->tail, __ATOMIC_ACQUIRE);

	if (head - tail >= r->size)
		return (-1);
	memcpy(r->slots + (size_t)(head & (r->size - 1)) * r->isz, item,
	    r->isz);
	__atomic_store_n(&r->head, head + 1, __ATOMIC_RELEASE);
	return (0);
}

uint32_t
fpq_ring_room(const struct fpq_ring *r)
{
	return (r->size - (r->head - __atomic_load_n(&r->tail,
	    __ATOMIC_ACQUIRE)));
}

int
fpq_ring_empty(const struct fpq_ring *r)
{
	return (r->tail == __atomic_load_n(&r->head, __ATOMIC_ACQUIRE));
}

int
fpq_ring_pop(struct fpq_ring *r, void *item)
{
	uint32_t	 tail = r->tail;

	if (tail == __atomic_load_n(&r->head, __ATOMIC_ACQUIRE))
		return (0);
	memcpy(item, r->slots + (size_t)(tail & (r->size - 1)) * r->isz,
	    r->isz);
	__atomic_store_n(&r->tail, tail + 1, __ATOMIC_RELEASE);
	return (1);
}

int
fpq_port_init(struct fpq_port *p)
{
	if (fpq_ring_init(&p->out, FPQ_RING_OUT, sizeof(struct fpq_item)) ==
	    -1)
		return (-1);
	if (fpq_ring_init(&p->back, FPQ_RING_BACK,
	    sizeof(struct fpq_credit)) == -1) {
		fpq_ring_free(&p->out);
		return (-1);
	}
	return (0);
}

void
fpq_port_free(struct fpq_port *p)
{
	fpq_ring_free(&p->out);
	fpq_ring_free(&p->back);
}

/* ---- the book -------------------------------------------------------- */

enum { FPQ_STAGED = 1, FPQ_IN, FPQ_RETRY, FPQ_REFUSED };

struct fpq_node {
	struct fpq_node	*next;		/* hash chain */
	struct fp_conn	 c;
	unsigned	 w;		/* its worker */
	uint8_t		 state;		/* FPQ_STAGED, FPQ_IN, FPQ_RETRY,
					   FPQ_REFUSED */
	uint8_t		 renew;		/* staged again: it was in */
	uint8_t		 seen;		/* in the kernel's last dump */
	uint8_t		 tries;		/* failed transactions it was in */
	uint32_t	 stage;		/* FPQ_STAGED: index in add[] */
	union {
		struct {		/* the kernel's counts handed over */
			uint64_t	 pkts;
			uint64_t	 bytes;
		};
		struct {		/* FPQ_RETRY: on its try's list;
					   FPQ_REFUSED: on the notices */
			struct fpq_node	 *onext;
			struct fpq_node	**oprev;
			uint64_t	  due;	/* FPQ_RETRY: tried
						   again from */
		};
	};
};

/* The last counts of a removed connection its worker's full back ring
   did not take; c zero (family 0): the sum of a worker's past
   FPQ_OWE_MAX. */
struct fpq_owe {
	struct fpq_owe	*next;
	struct fp_conn	 c;
	unsigned	 w;
	uint64_t	 pkts;
	uint64_t	 bytes;
};
#define FPQ_WORKERS_MAX	4096	/* sums for so many at most */

struct fpq_book {
	struct fpq_ops	 ops;
	void		*arg;
	uint32_t	 epoch;
	uint64_t	 key[2];
	struct fpq_node	**bucket;
	size_t		 nbucket;	/* a power of two */
	size_t		 count;
	/* the stage */
	struct fp_conn	 add[FPQ_BATCH];
	struct fpq_node	*addn[FPQ_BATCH];	/* NULL: unstaged */
	uint8_t		 in[FPQ_BATCH];		/* ops->add's */
	size_t		 nadd;
	struct fp_conn	 del[FPQ_BATCH];
	struct fpq_gone {
		unsigned	 w;	/* its worker; UINT_MAX: no credit */
		uint64_t	 pkts;	/* the kernel's counts handed over */
		uint64_t	 bytes;
	}		 gone[FPQ_BATCH];
	struct fp_counts last[FPQ_BATCH];	/* ops->get's */
	size_t		 ndel;
	/* refused as their last try failed, in the kernel if its answer
	   was lost: taken out at the end of the apply */
	struct fp_conn	 lost[FPQ_BATCH];
	size_t		 nlost;
	/* the last flush failed: what the book holds is no worker's any
	   more, and must neither be renewed nor joined until one works */
	int		 owed;
	/* the kernel's additions keep an element already in, with its
	   counters (no DESTROYSETELEM) */
	int		 keep;
	/* refused, their workers not told yet (FPQ_REFUSED) */
	struct fpq_node	*notices;
	/* last counts owed, oldest first; then the sums past the cap,
	   one a worker (sums[w], nsums of them) */
	struct fpq_owe	*owes, **owes_tail;
	size_t		 nowes;
	struct fpq_owe	*sums;
	size_t		 nsums;
	/* to be tried again (FPQ_RETRY), a list for each failure count,
	   each in the order of its dues: the clock only goes on, and the
	   back-off is the same for all on a list */
	struct fpq_node	*retry[FPQ_RETRIES], **rtail[FPQ_RETRIES];
	size_t		 nretry;
	uint64_t	 now;		/* the round's clock */
	uint64_t	 polled_ms;	/* fpq_book_round()'s last poll */
	struct fp_stats	 st;
};

#define FPQ_NBUCKET0	1024

int
fpq_conn_eq(const struct fp_conn *a, const struct fp_conn *b)
{
	size_t	 alen = a->family == AF_INET6 ? 16 : 4;

	return (a->family == b->family && a->proto == b->proto &&
	    a->sport == b->sport && a->dport == b->dport &&
	    memcmp(&a->src, &b->src, alen) == 0 &&
	    memcmp(&a->dst, &b->dst, alen) == 0);
}

static size_t
fpq_hash(const struct fpq_book *b, const struct fp_conn *c)
{
	uint64_t	 m[5];

	memset(m, 0, sizeof(m));
	memcpy(m, &c->src, c->family == AF_INET6 ? 16 : 4);
	memcpy(m + 2, &c->dst, c->family == AF_INET6 ? 16 : 4);
	m[4] = (uint64_t)c->sport << 32 | (uint64_t)c->dport << 16 |
	    (uint64_t)c->proto << 8 | c->family;
	return ((size_t)siphash13(b->key, m, 5) & (b->nbucket - 1));
}

static struct fpq_node **
fpq_slot(struct fpq_book *b, const struct fp_conn *c)
{
	struct fpq_node	**pp;

	for (pp = &b->bucket[fpq_hash(b, c)]; *pp != NULL;
	    pp = &(*pp)->next)
		if (fpq_conn_eq(&(*pp)->c, c))
			break;
	return (pp);
}

/* Twice the buckets once there are more nodes than buckets; a failed
   allocation keeps the chains longer, nothing else. */
static void
fpq_grow(struct fpq_book *b)
{
	struct fpq_node	**old = b->bucket, *n, *next;
	size_t		  i, on = b->nbucket;

	if (b->count < b->nbucket ||
	    (b->bucket = calloc(on * 2, sizeof(*b->bucket))) == NULL) {
		b->bucket = old;
		return;
	}
	b->nbucket = on * 2;
	for (i = 0; i < on; i++)
		for (n = old[i]; n != NULL; n = next) {
			struct fpq_node **pp = &b->bucket[fpq_hash(b, &n->c)];

			next = n->next;
			n->next = *pp;
			*pp = n;
		}
	free(old);
}

struct fpq_book *
fpq_book_new(const struct fpq_ops *ops, void *arg)
{
	struct fpq_book	*b;
	size_t		 i;

	if ((b = calloc(1, sizeof(*b))) == NULL)
		return (NULL);
	if ((b->bucket = calloc(FPQ_NBUCKET0, sizeof(*b->bucket))) == NULL) {
		free(b);
		return (NULL);
	}
	b->nbucket = FPQ_NBUCKET0;
	for (i = 0; i < FPQ_RETRIES; i++)
		b->rtail[i] = &b->retry[i];
	b->owes_tail = &b->owes;
	b->ops = *ops;
	b->arg = arg;
	arc4random_buf(b->key, sizeof(b->key));
	return (b);
}

void
fpq_book_keep(struct fpq_book *b, int keep)
{
	b->keep = keep != 0;
}

/* Every node goes; nothing is staged. */
static void
fpq_book_empty(struct fpq_book *b)
{
	struct fpq_node	*n, *next;
	size_t		 i;

	for (i = 0; i < b->nbucket; i++) {
		for (n = b->bucket[i]; n != NULL; n = next) {
			next = n->next;
			free(n);
		}
		b->bucket[i] = NULL;
	}
	b->notices = NULL;
	for (i = 0; i < FPQ_RETRIES; i++) {
		b->retry[i] = NULL;
		b->rtail[i] = &b->retry[i];
	}
	b->count = b->nadd = b->ndel = b->nretry = 0;
}

void
fpq_book_free(struct fpq_book *b)
{
	struct fpq_owe	*o;

	if (b == NULL)
		return;
	fpq_book_empty(b);
	while ((o = b->owes) != NULL) {
		b->owes = o->next;
		free(o);
	}
	free(b->sums);
	free(b->bucket);
	free(b);
}

/* n off its list (its last, *tail, if the list keeps one) */
static void
fpq_list_out(struct fpq_node *n, struct fpq_node ***tail)
{
	if (n->onext != NULL)
		n->onext->oprev = n->oprev;
	else if (tail != NULL)
		*tail = n->oprev;
	*n->oprev = n->onext;
}

/* n no longer waits to be tried again */
static void
fpq_unretry(struct fpq_book *b, struct fpq_node *n)
{
	fpq_list_out(n, &b->rtail[n->tries - 1]);
	b->nretry--;
}

static void
fpq_unlink(struct fpq_book *b, struct fpq_node **pp)
{
	struct fpq_node	*n = *pp;

	if (n->state == FPQ_REFUSED)
		fpq_list_out(n, NULL);
	else if (n->state == FPQ_RETRY)
		fpq_unretry(b, n);
	*pp = n->next;
	free(n);
	b->count--;
}

/* Tell n's worker that the kernel did not take it: then it goes, else
   (a full ring) it waits, refused, on the notices owed. */
static void
fpq_book_tell(struct fpq_book *b, struct fpq_node *n)
{
	if (b->ops.refuse(b->arg, n->w, &n->c) == 0)
		fpq_unlink(b, fpq_slot(b, &n->c));
	else if (n->state != FPQ_REFUSED) {
		n->state = FPQ_REFUSED;
		if ((n->onext = b->notices) != NULL)
			n->onext->oprev = &n->onext;
		n->oprev = &b->notices;
		b->notices = n;
	}
}

/* The notices a full back ring kept back, told again. */
static void
fpq_book_retell(struct fpq_book *b)
{
	struct fpq_node	*n, *next;

	for (n = b->notices; n != NULL; n = next) {
		next = n->onext;
		fpq_book_tell(b, n);
	}
}

/* A flush, done or not, starts an epoch: the workers forget every
   offload, refused or not, so no notice is owed any more. */
static void
fpq_book_forgive(struct fpq_book *b)
{
	while (b->notices != NULL)
		fpq_unlink(b, fpq_slot(b, &b->notices->c));
}

/* Worker w's sum of last counts owed (made, zero, if need be), or
   NULL. */
static struct fpq_owe *
fpq_owe_sum(struct fpq_book *b, unsigned w)
{
	struct fpq_owe	*s;
	size_t		 n = (size_t)w + 1;

	if (w >= b->nsums) {
		if (w > FPQ_WORKERS_MAX ||
		    (s = reallocarray(b->sums, n, sizeof(*s))) == NULL)
			return (NULL);
		memset(s + b->nsums, 0, (n - b->nsums) * sizeof(*s));
		b->sums = s;
		b->nsums = n;
	}
	b->sums[w].w = w;
	return (&b->sums[w]);
}

/* The last counts of c, for worker w, owed: a node of their own, or
   past FPQ_OWE_MAX added to the worker's sum (what that cannot take,
   for want of memory, is lost: an error). */
static void
fpq_owe(struct fpq_book *b, unsigned w, const struct fp_conn *c,
    uint64_t pkts, uint64_t bytes)
{
	struct fpq_owe	*o;

	if (b->nowes < FPQ_OWE_MAX && (o = calloc(1, sizeof(*o))) != NULL) {
		o->c = *c;
		o->w = w;
		*b->owes_tail = o;
		b->owes_tail = &o->next;
		b->nowes++;
	} else if ((o = fpq_owe_sum(b, w)) == NULL) {
		b->st.errors++;
		return;
	}
	o->pkts += pkts;
	o->bytes += bytes;
}

/* What is owed, handed over as far as the back rings take it. */
static void
fpq_book_pay(struct fpq_book *b)
{
	struct fpq_owe	**pp, *o;
	size_t		  w;

	for (pp = &b->owes; (o = *pp) != NULL; )
		if (b->ops.credit(b->arg, o->w, &o->c, o->pkts,
		    o->bytes) == 0) {
			*pp = o->next;
			free(o);
			b->nowes--;
		} else
			pp = &o->next;
	b->owes_tail = pp;
	for (w = 0; w < b->nsums; w++) {
		o = &b->sums[w];
		if ((o->pkts != 0 || o->bytes != 0) &&
		    b->ops.credit(b->arg, o->w, &o->c, o->pkts,
		    o->bytes) == 0)
			o->pkts = o->bytes = 0;
	}
}

/* Anything owed? */
static int
fpq_book_owes(const struct fpq_book *b)
{
	size_t	 w;

	for (w = 0; w < b->nsums; w++)
		if (b->sums[w].pkts != 0 || b->sums[w].bytes != 0)
			return (1);
	return (b->owes != NULL);
}

/*
 * What the kernel counted of c since *pkts and *bytes (the counts
 * handed over last), to worker w; then those are the kernel's.  Lower
 * than what was handed over: the element started again.  0, or -1 (a
 * full back ring: nothing handed over, nothing moved, or with owe, the
 * counts owed and moved).
 */
static int
fpq_hand_over(struct fpq_book *b, unsigned w, const struct fp_conn *c,
    uint64_t *pkts, uint64_t *bytes, const struct fp_counts *k, int owe)
{
	uint64_t	 dp, db;
	int		 rc = 0;

	dp = k->pkts >= *pkts ? k->pkts - *pkts : k->pkts;
	db = k->bytes >= *bytes ? k->bytes - *bytes : k->bytes;
	if ((dp != 0 || db != 0) &&
	    b->ops.credit(b->arg, w, c, dp, db) == -1) {
		if (!owe)
			return (-1);
		fpq_owe(b, w, c, dp, db);
		rc = -1;
	}
	*pkts = k->pkts;
	*bytes = k->bytes;
	return (rc);
}

/* What the kernel counted of staged removal i since its last credit,
   to its worker: it has no next poll, what a full ring does not take
   is owed. */
static void
fpq_gone_credit(struct fpq_book *b, size_t i, const struct fp_counts *k)
{
	struct fpq_gone	*g = &b->gone[i];

	if (g->w != UINT_MAX)
		(void)fpq_hand_over(b, g->w, &b->del[i], &g->pkts, &g->bytes,
		    k, 1);
}

/* The staged removal of c: its index, or -1. */
static ssize_t
fpq_gone_find(const struct fpq_book *b, const struct fp_conn *c)
{
	size_t	 i;

	for (i = 0; i < b->ndel; i++)
		if (fpq_conn_eq(&b->del[i], c))
			return ((ssize_t)i);
	return (-1);
}

/* What the kernel counted of the staged removals since the last
   credit, to their workers: the last they will see of them. */
static void
fpq_book_last(struct fpq_book *b)
{
	size_t	 i;

	if (b->ops.get == NULL)
		return;
	if (b->ops.get(b->arg, b->del, b->ndel, b->last) == -1) {
		/* they lose what came since the last poll, no more */
		b->st.errors++;
		return;
	}
	for (i = 0; i < b->ndel; i++)
		fpq_gone_credit(b, i, &b->last[i]);
}

/* n's transaction failed: tried again once its back-off runs out (the
   next poll after that stages it). */
static void
fpq_book_defer(struct fpq_book *b, struct fpq_node *n)
{
	n->state = FPQ_RETRY;
	n->due = b->now + ((uint64_t)FPQ_RETRY_MS << n->tries++);
	n->onext = NULL;
	n->oprev = b->rtail[n->tries - 1];
	*n->oprev = n;
	b->rtail[n->tries - 1] = &n->onext;
	b->nretry++;
}

/* Staged again after a failed transaction (not a renewal)? */
static int
fpq_retried(const struct fpq_node *n)
{
	return (n->tries > 0 && !n->renew);
}

/* The staged offloads add[i .. i + m - 1] to the kernel, one call: in,
   tried again later, or refused; or, never sent (after a transaction of
   the call that failed), left staged for fpq_book_restage(). */
static void
fpq_book_send(struct fpq_book *b, size_t i, size_t m)
{
	struct fpq_node	*n;
	size_t		 j;
	int		 rc;

	for (j = i; j < i + m; j++)
		if (fpq_retried(b->addn[j]))
			b->st.retried++;
	if ((rc = b->ops.add(b->arg, b->add + i, m, b->in + i)) == -1)
		b->st.errors++;
	for (j = i; j < i + m; j++) {
		n = b->addn[j];
		if (b->in[j] == FP_ADD_UNSENT && rc == 0)
			b->in[j] = FP_ADD_OUT;	/* never so: taken as out */
		if (b->in[j] == FP_ADD_IN || n->renew) {
			/* a failed renewal: as it was, in with its counts */
			n->state = FPQ_IN;
			n->renew = n->tries = 0;
		} else if (b->in[j] == FP_ADD_UNSENT)
			continue;	/* no try: it was not asked */
		else if (rc == -1 && b->in[j] == FP_ADD_OUT &&
		    n->tries < FPQ_RETRIES)
			fpq_book_defer(b, n);
		else {
			/* no room for its mark, or tried often enough: its
			   worker stops counting it, and offering it, once
			   told */
			b->st.refused++;
			if (rc == -1 && b->in[j] == FP_ADD_OUT &&
			    b->nlost < FPQ_BATCH)
				b->lost[b->nlost++] = n->c;
			fpq_book_tell(b, n);
		}
	}
}

/*
 * The offloads refused as their last try failed: that transaction may
 * have been applied, its answer lost, and its worker no longer has them.
 * Out they go now, not after the next poll (up to a second).  Not as
 * staged removals: one of those that fails empties the whole table, and
 * a kernel that failed their adds seven times may well fail this too;
 * what stays is a stray the next poll takes out.  A removal of what is
 * not in is no error (fastpath_del()).
 */
static void
fpq_book_unlost(struct fpq_book *b)
{
	if (b->nlost > 0 && b->ops.del(b->arg, b->lost, b->nlost) == -1)
		b->st.errors++;
	b->nlost = 0;
}

/*
 * What the calls of this apply never sent (add[0 .. m - 1], unsent, still
 * FPQ_STAGED) staged again, for the next: as first tries they keep their
 * batch, and no try is counted against them.  Nothing else is staged
 * yet; the others are sent, and those refused may be freed, so only an
 * unsent one's node is looked at.
 */
static void
fpq_book_restage(struct fpq_book *b, size_t m)
{
	size_t	 j;

	for (j = 0; j < m; j++)
		if (b->in[j] == FP_ADD_UNSENT &&
		    b->addn[j]->state == FPQ_STAGED) {
			b->add[b->nadd] = b->add[j];
			b->addn[b->nadd] = b->addn[j];
			b->addn[j]->stage = (uint32_t)b->nadd++;
		}
}

int
fpq_book_apply(struct fpq_book *b)
{
	struct fpq_node	*n;
	struct fp_conn	 c;
	size_t		 i, k, m;
	int		 rc;

	fpq_book_retell(b);
	fpq_book_pay(b);
	if (b->ndel > 0) {
		fpq_book_last(b);
		rc = b->ops.del(b->arg, b->del, b->ndel);
		b->ndel = 0;
		if (rc == -1) {
			/* the flush the caller owes drops the offloads: one
			   now could land on a removal's leftover, counts and
			   all */
			b->st.errors++;
			return (-1);
		}
	}
	for (i = m = 0; i < b->nadd; i++)
		if (b->addn[i] != NULL) {
			b->add[m] = b->add[i];
			b->addn[m++] = b->addn[i];
		}
	b->nadd = 0;
	/* the first tries (and renewals) in one call, then each retried
	   one in a call of its own (see above) */
	for (i = 0, k = m; i < k; )
		if (!fpq_retried(b->addn[i]))
			i++;
		else {
			k--;
			c = b->add[i];
			n = b->addn[i];
			b->add[i] = b->add[k];
			b->addn[i] = b->addn[k];
			b->add[k] = c;
			b->addn[k] = n;
		}
	if (k > 0)
		fpq_book_send(b, 0, k);
	for (i = k; i < m; i++)
		fpq_book_send(b, i, 1);
	fpq_book_restage(b, m);
	fpq_book_unlost(b);
	return (0);
}

static int
fpq_book_add(struct fpq_book *b, unsigned w, const struct fpq_item *it)
{
	struct fpq_node	**pp, *n;
	int		  rc = 0;

	if (it->epoch != b->epoch || b->owed) {
		/* sent before a flush the worker had not seen yet, or while
		   the kernel still holds what the last one was to take */
		b->st.stale++;
		return (0);
	}
	if (*(pp = fpq_slot(b, &it->c)) != NULL)
		return (0);	/* in already (or on its way) */
	if (b->nadd == FPQ_BATCH) {
		rc = fpq_book_apply(b);
		pp = fpq_slot(b, &it->c);
	}
	if ((n = calloc(1, sizeof(*n))) == NULL) {
		b->st.errors++;
		return (rc);
	}
	n->c = it->c;
	n->w = w;
	n->state = FPQ_STAGED;
	n->stage = (uint32_t)b->nadd;
	*pp = n;
	b->count++;
	b->add[b->nadd] = it->c;
	b->addn[b->nadd++] = n;
	fpq_grow(b);
	return (rc);
}

static int
fpq_book_del(struct fpq_book *b, const struct fpq_item *it)
{
	struct fpq_node	**pp, *n;
	int		  rc = 0;

	if ((n = *(pp = fpq_slot(b, &it->c))) == NULL)
		return (0);	/* never got in (a refused or stale add) */
	if (n->state == FPQ_REFUSED ||
	    (n->state == FPQ_STAGED && !n->renew && n->tries == 0)) {
		/* not in the kernel; a refusal not told is moot: the
		   connection is gone */
		if (n->state == FPQ_STAGED)
			b->addn[n->stage] = NULL;
		fpq_unlink(b, pp);
		return (0);
	}
	/* in, or maybe (a failed transaction's answer lost) */
	if (n->state == FPQ_STAGED)
		b->addn[n->stage] = NULL;
	if (b->ndel == FPQ_BATCH) {
		rc = fpq_book_apply(b);
		pp = fpq_slot(b, &it->c);
	}
	/* staged to go in again, its counts were handed over and set
	   to 0: the kernel's are old, no credit; one that waits to be
	   tried again had nothing handed over, the kernel's (if any)
	   are all its own */
	b->gone[b->ndel].w = n->state == FPQ_STAGED && n->renew ? UINT_MAX :
	    n->w;
	b->gone[b->ndel].pkts = n->state == FPQ_RETRY ? 0 : n->pkts;
	b->gone[b->ndel].bytes = n->state == FPQ_RETRY ? 0 : n->bytes;
	b->del[b->ndel++] = n->c;
	fpq_unlink(b, pp);
	return (rc);
}

int
fpq_book_item(struct fpq_book *b, unsigned w, const struct fpq_item *it)
{
	switch (it->op) {
	case FPQ_ADD:
		return (fpq_book_add(b, w, it));
	case FPQ_DEL:
		return (fpq_book_del(b, it));
	default:
		return (0);
	}
}

int
fpq_book_pending(const struct fpq_book *b)
{
	return (b->nadd > 0 || b->ndel > 0);
}

/* Every offload that waits to be tried again goes. */
static void
fpq_book_drop_retries(struct fpq_book *b)
{
	size_t	 i;

	for (i = 0; i < FPQ_RETRIES; i++)
		while (b->retry[i] != NULL)
			fpq_unlink(b, fpq_slot(b, &b->retry[i]->c));
}

int
fpq_book_flush(struct fpq_book *b, uint32_t *epoch)
{
	size_t	 i;

	*epoch = ++b->epoch;
	fpq_book_forgive(b);
	/* what is staged to go in, or waits to be tried again, is of the
	   old epoch: it stays out */
	for (i = 0; i < b->nadd; i++)
		if (b->addn[i] != NULL)
			fpq_unlink(b, fpq_slot(b, &b->add[i]));
	b->nadd = 0;
	fpq_book_drop_retries(b);
	if (b->ops.flush(b->arg) == -1) {
		/* the removals stay staged, the rest stays known */
		b->st.errors++;
		b->owed = 1;
		return (-1);
	}
	b->owed = 0;
	fpq_book_empty(b);
	b->st.flushes++;
	return (0);
}

int
fpq_book_owed(const struct fpq_book *b)
{
	return (b->owed);
}

uint32_t
fpq_book_epoch(const struct fpq_book *b)
{
	return (b->epoch);
}

int
fpq_book_counts(struct fpq_book *b, const struct fp_conn *c,
    const struct fp_counts *k)
{
	struct fpq_node	*n = *fpq_slot(b, c);
	ssize_t		 i;

	if (n == NULL) {
		/* a removal staged, not sent yet (a flush reads the
		   counters first): still ours, its counts too */
		if ((i = fpq_gone_find(b, c)) != -1) {
			fpq_gone_credit(b, (size_t)i, k);
			return (0);
		}
		b->st.strays++;
		return (-1);
	}
	if (n->state == FPQ_REFUSED) {
		/* refused after a failed transaction that was applied,
		   its answer lost: out with it */
		b->st.strays++;
		return (-1);
	}
	if (n->state == FPQ_RETRY) {
		/* its failed transaction was applied, the answer lost:
		   in, with all the kernel counted its own */
		fpq_unretry(b, n);
		n->state = FPQ_IN;
		n->tries = 0;
		n->pkts = n->bytes = 0;
	}
	if (n->state != FPQ_IN)
		return (0);
	/*
	 * Time left 0: gone at the kernel's next collection, and put in
	 * again now, its counts starting from 0 as the kernel's do (the
	 * addition destroys it first).  Without DESTROYSETELEM an
	 * addition keeps an element still in, and its counts, which the
	 * next dump would credit again: there it counts as seen, and goes
	 * in again once a dump no longer shows it (a second or so more on
	 * the queue).
	 */
	n->seen = k->expires_ms != 0 || b->keep;
	/* a full ring: at the next poll, with what comes */
	(void)fpq_hand_over(b, n->w, &n->c, &n->pkts, &n->bytes, k, 0);
	return (0);
}

/*
 * After a whole dump: a connection in the book that the kernel no
 * longer holds (its elements timed out: a renewal came too late, or
 * the kernel ignores renewals) has its packets come to the queue again,
 * though its worker still has it offloaded.  In it goes again (its
 * counts, handed over, start from 0).
 */
void
fpq_book_sweep(struct fpq_book *b)
{
	struct fpq_node	*n;
	size_t		 i;

	for (i = 0; i < b->nbucket; i++)
		for (n = b->bucket[i]; n != NULL; n = n->next) {
			if (n->state == FPQ_IN && !n->seen && !b->owed &&
			    b->nadd < FPQ_BATCH) {
				n->state = FPQ_STAGED;
				n->renew = 1;
				n->stage = (uint32_t)b->nadd;
				n->pkts = n->bytes = 0;
				b->add[b->nadd] = n->c;
				b->addn[b->nadd++] = n;
				b->st.renewed++;
			}
			n->seen = 0;
		}
}

void
fpq_book_retry(struct fpq_book *b)
{
	struct fpq_node	*n;
	size_t		 i;

	if (b->owed)
		return;
	/* each list's due ones lead it */
	for (i = 0; i < FPQ_RETRIES; i++)
		while ((n = b->retry[i]) != NULL && n->due <= b->now &&
		    b->nadd < FPQ_BATCH) {
			fpq_unretry(b, n);
			n->state = FPQ_STAGED;
			n->stage = (uint32_t)b->nadd;
			n->pkts = n->bytes = 0;
			b->add[b->nadd] = n->c;
			b->addn[b->nadd++] = n;
		}
}

/* When the first offload to be tried again is due; UINT64_MAX: none,
   or a flush owed (which drops them). */
static uint64_t
fpq_book_retry_at(const struct fpq_book *b)
{
	uint64_t	 at = UINT64_MAX;
	size_t		 i;

	for (i = 0; i < FPQ_RETRIES && !b->owed; i++)
		if (b->retry[i] != NULL && b->retry[i]->due < at)
			at = b->retry[i]->due;
	return (at);
}

/* ---- the thread's round ---------------------------------------------- */

static int
fpq_counts_cb(const struct fp_conn *c, const struct fp_counts *k, void *arg)
{
	return (fpq_book_counts(arg, c, k));
}

/* The kernel's counters to their workers; what timed out goes in again
   (with the next apply). */
static void
fpq_book_poll(struct fpq_book *b, uint64_t now)
{
	b->polled_ms = now;
	if (b->ops.counters(b->arg, fpq_counts_cb, b) == -1)
		b->st.errors++;
	else
		fpq_book_sweep(b);
	/* after the dump, which may have found some in */
	fpq_book_retry(b);
}

/*
 * Empty the kernel table; the workers see the new epoch and unmark.
 * What it passed since the last poll is read first: emptied, the
 * elements' counters are gone.
 */
static void
fpq_book_flush_now(struct fpq_book *b, struct fpq_shared *sh, uint64_t now)
{
	uint32_t	 epoch;
	int		 rc;

	/* not again while a flush is owed: a poll renews every element */
	if ((b->count > 0 || b->ndel > 0) && !b->owed)
		fpq_book_poll(b, now);

	/* the new epoch is published once the kernel was asked, obeying
	   or not: until then the workers keep their marks, so the kernel
	   never passes what its worker no longer has offloaded (but while
	   a flush is owed); whatever a worker sends after seeing it is of
	   the new epoch */
	rc = fpq_book_flush(b, &epoch);
	__atomic_store_n(&sh->epoch, epoch, __ATOMIC_RELEASE);
	if (rc == -1)
		/* tried again next round */
		__atomic_store_n(&sh->flush, 1, __ATOMIC_RELEASE);
}

int
fpq_book_round(struct fpq_book *b, struct fpq_port *ports, unsigned n,
    struct fpq_shared *sh, int flush, uint64_t now)
{
	struct fpq_item	 it;
	unsigned	 w;
	int		 busy = flush;

	b->now = now;
	for (w = 0; w < n; w++)
		while (fpq_ring_pop(&ports[w].out, &it)) {
			busy = 1;
			if (fpq_book_item(b, w, &it) == -1)
				/* a removal failed: only a flush is sure */
				flush = 1;
		}
	if (__atomic_exchange_n(&sh->flush, 0, __ATOMIC_ACQ_REL))
		flush = 1;
	if (flush)
		fpq_book_flush_now(b, sh, now);
	if (fpq_book_apply(b) == -1)
		fpq_book_flush_now(b, sh, now);

	/* after the round's changes; an owed flush's leftovers time out
	   unrenewed, if it never works */
	if (now - b->polled_ms >= FPQ_POLL_MS && !b->owed)
		fpq_book_poll(b, now);
	else
		/* one due between two polls is staged now, not up to a
		   second late.  When the poll is due too, it comes first:
		   so every try comes after a read (a second apart at most)
		   that takes one whose answer was lost as in */
		fpq_book_retry(b);
	/* a failed flush is tried again next round, and what the poll
	   staged to go in again goes in then, and what is owed */
	return (busy || fpq_book_pending(b) || fpq_book_owes(b) ||
	    __atomic_load_n(&sh->flush, __ATOMIC_ACQUIRE));
}

void
fpq_book_clock(struct fpq_book *b, uint64_t now)
{
	b->now = b->polled_ms = now;
}

uint64_t
fpq_book_poll_in(const struct fpq_book *b, uint64_t now)
{
	uint64_t	 at = b->polled_ms + FPQ_POLL_MS, r;

	if ((r = fpq_book_retry_at(b)) < at)
		at = r;
	return (at > now ? at - now : 0);
}

size_t
fpq_book_count(const struct fpq_book *b)
{
	return (b->count);
}

void
fpq_book_stats(const struct fpq_book *b, struct fp_stats *s)
{
	*s = b->st;
}

uint32_t
fpq_maps_max(uint32_t max, unsigned nworkers, uint64_t *cut, int *warn)
{
	uint64_t	 want = (uint64_t)max * nworkers;

	if (want <= FP_MAX_CONNS) {
		*cut = 0;
		*warn = 0;
		return ((uint32_t)want);
	}
	*warn = want != *cut;
	*cut = want;
	return (FP_MAX_CONNS);
}
