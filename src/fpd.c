/*
 * fpd.c - the fast path's thread: the one owner of the kernel table
 *
 * Copyright (C) 2026 The nfqspid authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * With [daemon] fastpath = yes the workers hand the connections they
 * judged to this thread, each through its own pair of rings (fpq.h); the
 * thread batches them into one fastpath_del() and one fastpath_add() a
 * round.  A round runs when a worker wakes it (a removal, or a ring
 * filling up) and, while offloads come, every FPD_ROUND_MS, so an
 * offload waits at most that long and a removal goes at once.
 *
 * Idle, the thread sleeps: after a round that found nothing it sleeps
 * until a worker wakes it, or until the next counter poll while the
 * kernel holds connections (never, while it holds none).  It says so
 * in d->sleeping first, and a worker that pushes an offload writes the
 * eventfd only when it finds the flag set (fpd_kick(), clearing it): an
 * offload costs a busy thread no syscall, and a sleeping one one.
 *
 * Once a second, while the kernel holds connections, it reads the
 * kernel's counters and hands each connection's new packets and bytes
 * back to its worker; the book reads a removed connection's own
 * elements just before it goes (fastpath_get()), so its last counts are
 * not lost, however large the table.  The main thread waits for a round
 * (fpd_sync()) after `nfqspictl conntrack flush` or `delete` and a
 * reload, so that what they removed has left the kernel when they
 * answer.  A reload empties the kernel table (fpd_reload()); one that
 * raised [conntrack] max makes it anew, with maps that have room.
 *
 * What a round does (the order of flush, apply and poll) is
 * fpq_book_round() in fpq.c, pure, with the kernel behind the book's
 * ops: the fuzz targets run that same round against their model
 * kernels.  What is left here is the thread's own: its clock, its
 * sleep and wake-ups, the main thread's requests, the stats' lock.
 *
 * Nothing here touches a connection table: that is the workers' (their
 * side is worker_fp.c).
 */
#include "autoconf.h"		/* first: _GNU_SOURCE */

#include <sys/eventfd.h>

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "nfqspid.h"
#include "cacheline.h"
#include "clock.h"
#include "thread.h"

#define FPD_ROUND_MS	20	/* an offload waits at most this long */
#define FPD_IDLE_MS	86400000 /* no poll due: sleep until woken */
#define FPD_SYNC_MS	2000	/* fpd_sync() gives up after this */
#define FPD_KERNEL_TIMEOUT 300	/* s: the kernel's TCP timeout at most */

struct fpd {
	struct fastpath		*fp;
	struct fpq_book		*book;
	struct fpq_port		*ports;
	unsigned		 n;
	struct fpq_shared	 sh;
	int			 efd;		/* eventfd: wake the thread */
	uint32_t		 max;		/* the thread's: connections the
						   maps have room for */
	uint32_t		 grow;		/* the thread's: want_max as the
						   round began */
	uint64_t		 cut;		/* the main thread's: max x
						   threads past FP_MAX_CONNS,
						   said (fpd_max()) */

	/* atomic, the thread's to set, a worker's to clear (fpd_kick());
	   read on every offload: a cache line of its own */
	int			 sleeping __attribute__((aligned(64)));
	pthread_t		 thread __attribute__((aligned(64)));
	int			 started;
	int			 stop;		/* atomic */

	pthread_mutex_t		 mtx;
	pthread_cond_t		 cond;
	/* under mtx: */
	uint64_t		 req;		/* rounds asked for */
	uint64_t		 done;		/* rounds run after them */
	int			 flush_req;	/* empty the kernel table */
	uint32_t		 want_max;	/* a reload's max: the maps grow
						   to it with the flush */
	struct fp_stats		 st;		/* the thread's counters */
};

/* ---- the book's way to the kernel ------------------------------------ */

static int
fpd_add(void *arg, const struct fp_conn *c, size_t n, uint8_t *in)
{
	struct fpd	*d = arg;

	return (fastpath_add(d->fp, c, n, in));
}

static int
fpd_del(void *arg, const struct fp_conn *c, size_t n)
{
	struct fpd	*d = arg;

	return (fastpath_del(d->fp, c, n));
}

/*
 * A reload that raised [conntrack] max has the flush make the maps
 * anew with room for it: a whole new table, so it is as empty as a
 * flush leaves it.  Should the kernel refuse, the flush goes on with
 * the maps as they are, and the next reload asks again.
 */
static int
fpd_flush_kernel(void *arg)
{
	struct fpd	*d = arg;

	if (d->grow > d->max) {
		if (fastpath_grow(d->fp, d->grow) == 0) {
			log_info("fastpath: the maps have room for %u "
			    "connections (were %u)", d->grow, d->max);
			d->max = d->grow;
			return (0);
		}
		log_warn("fastpath: the maps keep room for %u connections, "
		    "not %u", d->max, d->grow);
		pthread_mutex_lock(&d->mtx);
		if (d->want_max == d->grow)
			d->want_max = d->max;
		pthread_mutex_unlock(&d->mtx);
		d->grow = d->max;
	}
	return (fastpath_flush(d->fp));
}

/* To worker w's back ring: 0, or -1 when it is full. */
static int
fpd_back(struct fpd *d, unsigned w, const struct fp_conn *c, uint64_t pkts,
    uint64_t bytes, uint8_t refused)
{
	struct fpq_credit	 cr;

	if (w >= d->n)
		return (0);
	memset(&cr, 0, sizeof(cr));
	cr.c = *c;
	cr.pkts = pkts;
	cr.bytes = bytes;
	cr.refused = refused;
	/* the refused offload's: a flush forgives those before it */
	cr.epoch = fpq_book_epoch(d->book);
	return (fpq_ring_push(&d->ports[w].back, &cr));
}

static int
fpd_credit(void *arg, unsigned w, const struct fp_conn *c, uint64_t pkts,
    uint64_t bytes)
{
	return (fpd_back(arg, w, c, pkts, bytes, 0));
}

static int
fpd_refuse(void *arg, unsigned w, const struct fp_conn *c)
{
	return (fpd_back(arg, w, c, 0, 0, 1));
}

static int
fpd_get(void *arg, const struct fp_conn *c, size_t n, struct fp_counts *k)
{
	struct fpd	*d = arg;

	return (fastpath_get(d->fp, c, n, k));
}

static int
fpd_counters(void *arg, fp_counts_cb cb, void *cbarg)
{
	struct fpd	*d = arg;

	return (fastpath_counters(d->fp, cb, cbarg));
}

static const struct fpq_ops fpd_ops = {
	.add = fpd_add,
	.del = fpd_del,
	.flush = fpd_flush_kernel,
	.credit = fpd_credit,
	.refuse = fpd_refuse,
	.get = fpd_get,
	.counters = fpd_counters
};

/* ---- the thread ------------------------------------------------------ */

static int
fpd_has_items(struct fpd *d)
{
	unsigned	 w;

	for (w = 0; w < d->n; w++)
		if (!fpq_ring_empty(&d->ports[w].out))
			return (1);
	return (0);
}

/*
 * How long to sleep after a round: FPD_ROUND_MS while busy (offloads
 * batch up), else until the next poll of a non-empty kernel table or an
 * offload's next try (fpq_book_poll_in()), or until woken.  A long
 * sleep is published first; the rings are looked at again after that,
 * so that an item pushed by a worker that did not see the flag yet is
 * not left waiting.
 */
static int
fpd_timeout(struct fpd *d, int busy)
{
	uint64_t	 due;

	if (busy)
		return (FPD_ROUND_MS);
	if (fpq_book_count(d->book) == 0)
		due = FPD_IDLE_MS;
	else {
		due = fpq_book_poll_in(d->book, spi_now_ms());
		if (due <= FPD_ROUND_MS)
			return ((int)due);
	}
	__atomic_store_n(&d->sleeping, 1, __ATOMIC_RELAXED);
	/* against the worker's push, then its look at the flag */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	if (fpd_has_items(d)) {
		__atomic_store_n(&d->sleeping, 0, __ATOMIC_RELAXED);
		return (0);
	}
	return ((int)due);
}

static void *
fpd_main(void *arg)
{
	struct fpd	*d = arg;
	struct pollfd	 pfd;
	uint64_t	 v, req;
	int		 flush, busy = 0, ms;

	(void)pthread_setname_np(pthread_self(), "nfqspid-fp");
	fpq_book_clock(d->book, spi_now_ms());
	while (!__atomic_load_n(&d->stop, __ATOMIC_ACQUIRE)) {
		pfd.fd = d->efd;
		pfd.events = POLLIN;
		if ((ms = fpd_timeout(d, busy)) > 0 && poll(&pfd, 1, ms) == 1 &&
		    read(d->efd, &v, sizeof(v)) != sizeof(v)) {
			/* woken all the same: the loop looks at everything */
		}
		__atomic_store_n(&d->sleeping, 0, __ATOMIC_RELAXED);
		pthread_mutex_lock(&d->mtx);
		req = d->req;
		flush = d->flush_req;
		d->flush_req = 0;
		d->grow = d->want_max;
		pthread_mutex_unlock(&d->mtx);

		/* the round itself is the book's (fpq.c), which the fuzz
		   targets drive as well; here only its time and wake-ups */
		busy = fpq_book_round(d->book, d->ports, d->n, &d->sh, flush,
		    spi_now_ms());

		pthread_mutex_lock(&d->mtx);
		fpq_book_stats(d->book, &d->st);
		d->done = req;
		pthread_cond_broadcast(&d->cond);
		pthread_mutex_unlock(&d->mtx);
	}
	return (NULL);
}

/* ---- the main thread's side ------------------------------------------ */

/*
 * What the maps hold: every worker has a table of max, up to what a map
 * can be made for.  Past that, said once (at start, or when it changes):
 * the maps are made for the cap, so no reload tries to grow them again.
 */
static uint32_t
fpd_max(struct fpd *d, const struct config *cfg, unsigned nworkers)
{
	uint32_t	 max;
	int		 warn;

	max = fpq_maps_max(cfg->ct.max, nworkers, &d->cut, &warn);
	if (warn)
		log_warnx("fastpath: [conntrack] max x threads is %llu "
		    "connections; the kernel's maps are made for %u at most",
		    (unsigned long long)d->cut, max);
	return (max);
}

struct fpd *
fpd_open(const struct config *cfg, unsigned nworkers, char *err,
    size_t errlen)
{
	struct fp_params p;
	struct fpd	*d;
	pthread_condattr_t ca;
	void		*ports = NULL;
	size_t		 len = nworkers * sizeof(*d->ports);
	unsigned	 i;
	int		 rc;

	/* d->sleeping, which every offload reads, on a line of its own */
	if ((d = cacheline_calloc(1, sizeof(*d))) == NULL) {
		snprintf(err, errlen, "fastpath: %s", strerror(errno));
		return (NULL);
	}
	/* the rings' ends lie on cache lines of their own */
	if ((rc = posix_memalign(&ports, _Alignof(struct fpq_port),
	    len)) != 0) {
		snprintf(err, errlen, "fastpath: %s", strerror(rc));
		free(d);
		return (NULL);
	}
	memset(ports, 0, len);
	d->ports = ports;
	d->efd = -1;
	pthread_mutex_init(&d->mtx, NULL);
	/* fpd_wait()'s deadline: a step of the wall clock neither ends
	   nor stretches it */
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&d->cond, &ca);
	pthread_condattr_destroy(&ca);
	for (i = 0; i < nworkers; i++, d->n++)
		if (fpq_port_init(&d->ports[i]) == -1) {
			snprintf(err, errlen, "fastpath: rings: %s",
			    strerror(errno));
			goto fail;
		}
	if ((d->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) == -1 ||
	    (d->book = fpq_book_new(&fpd_ops, d)) == NULL) {
		snprintf(err, errlen, "fastpath: %s", strerror(errno));
		goto fail;
	}
	memset(&p, 0, sizeof(p));
	p.queue = cfg->queue;
	/* short: what a killed daemon leaves lives this long; while we
	   live, fastpath.c renews every element in time */
	p.tcp_timeout_s = cfg->ct.timeout[CT_TO_TCP_ESTABLISHED];
	if (p.tcp_timeout_s > FPD_KERNEL_TIMEOUT)
		p.tcp_timeout_s = FPD_KERNEL_TIMEOUT;
	p.udp_timeout_s = cfg->ct.timeout[CT_TO_UDP_STREAM];
	d->max = d->grow = d->want_max = p.max = fpd_max(d, cfg, nworkers);
	/* emptied: a killed daemon's elements let nothing more through */
	if ((d->fp = fastpath_open(&p)) == NULL) {
		char	 name[FP_TABLE_NAMELEN];

		(void)fastpath_table_name(cfg->queue, name, sizeof(name));
		snprintf(err, errlen, "fastpath: cannot make the nf_tables "
		    "table %s: %s", name, strerror(errno));
		goto fail;
	}
	/* before 6.3, a renewal must wait for what the kernel still holds */
	fpq_book_keep(d->book, !fastpath_destroys(d->fp));
	return (d);
 fail:
	fpd_free(d);
	return (NULL);
}

int
fpd_start(struct fpd *d)
{
	if (spi_thread_start(&d->thread, fpd_main, d) == -1)
		return (-1);
	d->started = 1;
	return (0);
}

struct fpq_port *
fpd_port(struct fpd *d, unsigned w)
{
	return (w < d->n ? &d->ports[w] : NULL);
}

const struct fpq_shared *
fpd_shared(struct fpd *d)
{
	return (&d->sh);
}

void
fpd_wake(struct fpd *d)
{
	uint64_t	 one = 1;

	if (write(d->efd, &one, sizeof(one)) != sizeof(one)) {
		/* the counter is full: the thread is awake anyway */
	}
}

void
fpd_kick(struct fpd *d)
{
	/* the item pushed before the flag is read (fpd_timeout()) */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	if (__atomic_load_n(&d->sleeping, __ATOMIC_RELAXED) &&
	    __atomic_exchange_n(&d->sleeping, 0, __ATOMIC_ACQ_REL))
		fpd_wake(d);
}

void
fpd_lost_removal(struct fpd *d)
{
	__atomic_store_n(&d->sh.flush, 1, __ATOMIC_RELEASE);
	fpd_wake(d);
}

static int
fpd_wait(struct fpd *d, int flush)
{
	struct timespec	 until;
	uint64_t	 r;
	int		 rc = 0;

	if (!d->started)
		return (0);
	clock_gettime(CLOCK_MONOTONIC, &until);
	until.tv_sec += FPD_SYNC_MS / 1000;
	pthread_mutex_lock(&d->mtx);
	r = ++d->req;
	if (flush)
		d->flush_req = 1;
	pthread_mutex_unlock(&d->mtx);
	fpd_wake(d);
	pthread_mutex_lock(&d->mtx);
	while (d->done < r && rc == 0)
		rc = pthread_cond_timedwait(&d->cond, &d->mtx, &until);
	pthread_mutex_unlock(&d->mtx);
	if (rc != 0) {
		errno = rc;
		return (-1);
	}
	return (0);
}

int
fpd_sync(struct fpd *d)
{
	return (fpd_wait(d, 0));
}

int
fpd_reload(struct fpd *d, const struct config *cfg)
{
	uint32_t	 max = fpd_max(d, cfg, d->n);

	pthread_mutex_lock(&d->mtx);
	d->want_max = max;
	pthread_mutex_unlock(&d->mtx);
	return (fpd_wait(d, 1));
}

void
fpd_stats(struct fpd *d, struct fp_stats *s)
{
	pthread_mutex_lock(&d->mtx);
	s->errors += d->st.errors;
	s->flushes += d->st.flushes;
	s->stale += d->st.stale;
	s->renewed += d->st.renewed;
	s->strays += d->st.strays;
	s->refused += d->st.refused;
	s->retried += d->st.retried;
	pthread_mutex_unlock(&d->mtx);
}

void
fpd_stop(struct fpd *d)
{
	if (d == NULL)
		return;
	if (d->started) {
		__atomic_store_n(&d->stop, 1, __ATOMIC_RELEASE);
		fpd_wake(d);
		pthread_join(d->thread, NULL);
		d->started = 0;
	}
	/* the table goes, and every element with it */
	fastpath_close(d->fp);
	d->fp = NULL;
}

void
fpd_free(struct fpd *d)
{
	unsigned	 i;

	if (d == NULL)
		return;
	fpd_stop(d);
	fpq_book_free(d->book);
	for (i = 0; i < d->n; i++)
		fpq_port_free(&d->ports[i]);
	free(d->ports);
	if (d->efd != -1)
		close(d->efd);
	pthread_cond_destroy(&d->cond);
	pthread_mutex_destroy(&d->mtx);
	free(d);
}
