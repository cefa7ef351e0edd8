/*
 * worker.c - a thread with its own queue, libevent base and table
 *
 * Copyright (C) 2026 The nfqspid authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * Worker i owns NFQUEUE (queue + i), the connection table of the flows
 * the kernel's --queue-balance hash sends there, and the configuration
 * pointer it decides them with.  Nothing on the packet path takes a lock:
 * the main thread reaches a worker only through worker_call(), which runs
 * a function in the worker's own thread between two drains of the queue.
 *
 * Besides the connection table a worker owns the per-source state of the
 * rules' rate and conn_limit (its table's DESTROY events release the
 * counts), and two raw sockets to answer what reject rules refuse.
 *
 * This file is the thread's life and the packet loop; worker_int.h says
 * where the rest went (the ICMP questions to other workers, reject's
 * answers, the counters, the overflows).
 */
#include "autoconf.h"		/* first: _GNU_SOURCE (pthread_setname_np) */

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/event.h>
#include <event2/thread.h>

#include "worker_int.h"
#include "thread.h"

void
worker_audit(struct worker *w, const struct verdict *v, const struct pkt *p,
    const char *in, const char *out, size_t len, uint64_t now)
{
	char	 buf[WORKER_AUDITLEN];

	if (!limit_bucket_take(&w->auditrate, w->cfg->log_rate, now)) {
		w->suppressed++;
		w->st.suppressed++;
		return;
	}
	verdict_audit(v, p, in, out, len, buf, sizeof(buf));
	log_audit("%s", buf);
	w->st.audited++;
}

/* A record made elsewhere (a reload's re-judging), under the same rate. */
static void
worker_audit_line(void *arg, const char *line)
{
	struct worker	*w = arg;

	if (!limit_bucket_take(&w->auditrate, w->cfg->log_rate,
	    spi_now_ms())) {
		w->suppressed++;
		w->st.suppressed++;
		return;
	}
	log_audit("%s", line);
	w->st.audited++;
}

/*
 * The table's events: a DESTROY releases the connection's count under
 * its rule's conn_limit.  (Runs inside ct_*(): must not change it.)
 */
static void
worker_ct_event(int event, const struct ct_entry *e, void *arg)
{
	struct worker	*w = arg;

	limit_ct_event(event, e, w->lt);
	if (!w->moving && e != w->borrowed)
		events_ct(w->events, w->id, event, w->ct, e, w->cfg);
	else if (e == w->borrowed && event == CT_EVENT_DESTROY)
		w->borrowed = NULL;	/* its slot may hold another next */
	worker_sync_event(w, event, e);
	if (__builtin_expect(w->fpd != NULL, 0))
		worker_fp_event(w, event, e);
}

/* One packet, judged: decided in nv, or deferred (nv->defer). */
void
worker_judge(struct worker *w, const struct nq_packet *np,
    const struct ct_ahead *a, const char *in, const char *out,
    struct nq_verdict *nv)
{
	struct verdict_ctx x;
	struct pkt	 p;
	struct verdict	 v;
	uint64_t	 now = np->ts_ms;

	/* the checksums the kernel verified are not checked again */
	x = (struct verdict_ctx){ w->cfg, w->ct, w->lt, in, out, np->hook,
	    worker_csum(np), now };
	/* A backup forwards around a switch only (the addresses move
	   before keepalived's notify, the others learn of the new master
	   after): its windows are the peer's as of its last flush, so
	   its packets pass under the grace a new master gives; and so do
	   a new master's before its link gives the workers that grace. */
	if (__builtin_expect(w->sync != NULL, 0)) {
		/* a master re-learns the windows the peer sent
		   (ct_snap_peer()): here, not at the switch, which would
		   walk every table */
		ct_relearn_peer(w->ct, sync_sending(w->sync));
		if (w->cfg->sync.grace > 0 && sync_unsettled(w->sync))
			ct_grace(w->ct, now + 1);
	}
	verdict_packet(&x, np->data, np->len, a, &p, &v);
	/* a new master's grace: the old master's record of the connection
	   may be a flush behind this packet, which dies without it */
	if (__builtin_expect(v.action != RULE_ACCEPT, 0) &&
	    __builtin_expect(w->hold_until != 0, 0) &&
	    worker_hold(w, np, a, &p, &v, in, out) == 0) {
		nv->defer = 1;	/* worker_adopted() gives the verdict */
		return;
	}
	if (__builtin_expect(w->fpd != NULL, 0))
		worker_fp_packet(w, &p, &v);
	/* a connection the peer brought has seen its first packet here */
	if (__builtin_expect(__atomic_load_n(&w->synced, __ATOMIC_RELAXED) !=
	    0, 0) && v.entry != NULL)
		(void)worker_sync_seen(w, v.entry);
	if (verdict_needs_owner(&p, &v) && worker_ask(w, np, &p, &v, in,
	    out, NULL) == 0) {
		nv->defer = 1;	/* worker_answered() gives the verdict */
		return;
	}
	worker_decided(w, np, &p, &v, in, out, now, nv);
}

/* One packet: the verdict is what nq sends back for it. */
static void
worker_packet(struct worker *w, const struct nq_packet *np,
    const struct ct_ahead *a, struct nq_verdict *nv)
{
	struct verdict_ctx x;
	const char	*in, *out;
	uint64_t	 now = np->ts_ms;

	if (worker_own_answer(w, np)) {
		/* neither tracked nor counted as a decision */
		nv->accept = 1;
		return;
	}
	if (worker_copy_packet(w, np, nv))
		return;		/* it comes again whole: not judged yet */
	in = ifcache_name(&w->ifc, np->ifin, now);
	out = ifcache_name(&w->ifc, np->ifout, now);
	x = (struct verdict_ctx){ w->cfg, w->ct, w->lt, in, out, np->hook,
	    worker_csum(np), now };
	if (worker_fragment(w, np, &x, nv))
		return;
	/* [sync], several workers: its connection may be another's */
	if (__builtin_expect(w->sync != NULL, 0) && worker_adopt_wanted(w) &&
	    worker_adopt(w, np, a, in, out) == 0) {
		nv->defer = 1;	/* worker_adopted() gives the verdict */
		return;
	}
	worker_judge(w, np, a, in, out, nv);
}

/* A batch being decided, for verdict_batch()'s callbacks. */
struct worker_bctx {
	struct worker		*w;
	const struct nq_packet	*np;
	struct nq_verdict	*nv;
};

/* The first look at packet k of a batch: its hash, its bucket on the way
   (none for a malformed one: nq.c hands it over with no bytes). */
static void
worker_ahead(void *arg, size_t k, struct ct_ahead *a)
{
	struct worker_bctx	*b = arg;

	verdict_ahead(b->w->ct, b->np[k].data, b->np[k].len, a);
}

static void
worker_decide(void *arg, size_t k, const struct ct_ahead *a)
{
	struct worker_bctx	*b = arg;

	worker_packet(b->w, &b->np[k], a, &b->nv[k]);
}

/*
 * A batch read together, decided in verdict_batch()'s pipeline (which
 * tests/bench/engine.c measures): each packet is hashed once, and the
 * cache misses of a large table overlap.
 */
static void
worker_batch(void *arg, const struct nq_packet *np, struct nq_verdict *nv,
    size_t n)
{
	struct worker_bctx	 b = { arg, np, nv };
	struct ct_ahead		 a[NQ_BATCH];
	size_t			 k;

	/* before any of them is judged: an overflow before them (lost
	   ids, or a stall, even one in the middle of a read) means their
	   connections may have moved on without us */
	if (n > 0)
		worker_overflow_check(b.w, np[0].ts_ms, 0);
	/* the kernel table was emptied: our marks are void */
	if (__builtin_expect(b.w->fpd != NULL, 0))
		worker_fp_epoch(b.w);

	if (n > NQ_BATCH) {
		/* not from nq.c: one at a time */
		for (k = 0; k < n; k++)
			worker_packet(b.w, &np[k], NULL, &nv[k]);
		return;
	}
	verdict_batch(b.w->ct, n, a, worker_ahead, worker_decide, &b);
}

/* A packet decided: count it, answer it (reject), audit it; nv for nq. */
void
worker_decided(struct worker *w, const struct nq_packet *np,
    const struct pkt *p, const struct verdict *v, const char *in,
    const char *out, uint64_t now, struct nq_verdict *nv)
{
	worker_count(w, v, np->origlen);

	/* RULE_REJECT drops; the reset or unreachable is sent apart
	   (monitor mode: action is accept, nothing is sent). */
	nv->accept = v->action == RULE_ACCEPT;
	nv->set_mark = v->set_mark;
	nv->mark = v->mark;
	if (v->action == RULE_REJECT)
		worker_reject(w, p, np->ifin);

	if (v->log)
		worker_audit(w, v, p, in, out, np->origlen, now);
}

void
worker_set_events(struct worker *w, struct events *ev)
{
	w->events = ev;
}

static void
worker_read(evutil_socket_t fd, short events, void *arg)
{
	struct worker	*w = arg;
	int		 n;

	if ((n = nq_recv_batch(w->nq, WORKER_BUDGET, worker_batch, w)) ==
	    -1) {
		__atomic_store_n(&w->error, errno, __ATOMIC_SEQ_CST);
		log_warn("worker %u: lost queue %u", w->id, nq_queue(w->nq));
		event_base_loopbreak(w->base);
		return;
	}
	w->behind = n >= WORKER_BUDGET;
	/* a stall after the last batch was checked (in the flush, say) is
	   seen here, before the packets that waited meanwhile are read */
	worker_overflow_check(w, spi_now_ms(), 0);
}

static void
worker_tick(evutil_socket_t fd, short events, void *arg)
{
	struct worker	*w = arg;
	uint64_t	 now = spi_now_ms();

	worker_reopen(w, now);
	worker_overflow_check(w, now, 1);
	if (w->fpd != NULL)
		worker_fp_credits(w, now);
	ct_expire(w->ct, now);
	worker_frag_expire(w, now);
	limit_expire(w->lt, now);
	worker_answer_late(w, now, WORKER_ASK_MS);
	worker_sync_refresh(w, now);
	worker_summary(w, now);
	worker_copy_tick(w, now);
	__atomic_add_fetch(&w->beat, 1, __ATOMIC_RELAXED);
}

static uint64_t
worker_now_us(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ((uint64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000);
}

static void
worker_sweep_done(struct worker *w)
{
	if (w->rl.ended > 0)
		log_info("worker %u: %zu connection%s the new rules refuse "
		    "%s", w->id, w->rl.ended, w->rl.ended == 1 ? "" : "s",
		    w->rl.cfg->mode == MODE_MONITOR ? "would have ended" :
		    "ended");
}

/*
 * A slice of a reload's sweep: the connections no packet has brought to
 * be judged yet, for WORKER_SWEEP_US at most; then the packets that came
 * meanwhile go first (a zero timer runs after the next poll).
 */
static void
worker_sweep(evutil_socket_t fd, short events, void *arg)
{
	struct worker	*w = arg;
	struct timeval	 now = { 0, 0 };

	if (!verdict_reload_slice(w->ct, worker_now_us, WORKER_SWEEP_US)) {
		(void)evtimer_add(w->sweepev, &now);
		return;
	}
	worker_sweep_done(w);
}

void
worker_call_cb(evutil_socket_t fd, short events, void *arg)
{
	struct worker	*w = arg;
	void		(*fn)(struct worker *, void *);
	void		*fnarg;

	pthread_mutex_lock(&w->mtx);
	fn = w->callfn;
	fnarg = w->callarg;
	/* taken: from now on its caller waits for the end, deadline or
	   not (it is busy, not stalled) */
	w->calltaken = fn != NULL;
	pthread_mutex_unlock(&w->mtx);
	/* withdrawn at its deadline (its argument may be gone), or the
	   run of an activation a later call shared: nothing to do, and
	   calldone is the next call's */
	if (fn == NULL)
		return;
	/* busy for the main thread, not stalled: the watchdog waits */
	__atomic_store_n(&w->incall, 1, __ATOMIC_SEQ_CST);
	fn(w, fnarg);
	/* the call's end is a tick: a watchdog that sees it out of the
	   call (it reads incall first) sees a new heartbeat too, not the
	   stale count of a long call (the loop's own tick comes later) */
	__atomic_add_fetch(&w->beat, 1, __ATOMIC_SEQ_CST);
	__atomic_store_n(&w->incall, 0, __ATOMIC_SEQ_CST);
	pthread_mutex_lock(&w->mtx);
	w->callfn = NULL;
	w->callarg = NULL;
	w->calldone = 1;
	pthread_cond_broadcast(&w->cond);
	pthread_mutex_unlock(&w->mtx);
}

/* ms from now, on the monotonic clock: a step of the wall clock
   neither ends nor stretches a deadline */
static void
worker_deadline(struct timespec *ts, unsigned ms)
{
	clock_gettime(CLOCK_MONOTONIC, ts);
	spi_ts_add_ms(ts, ms);
}

#define WORKER_POSTED	(-1)	/* worker_post(): to be reaped */
#define WORKER_REAP_SLICE_MS 10	/* worker_reap_all()'s slices */

/*
 * Post fn(w, arg) to w: WORKER_POSTED, the callers' lock held for
 * worker_reap(); or 0, run at once (w's own thread); or an errno: ESRCH
 * (not running), EBUSY (try: another caller holds w), ETIMEDOUT (dl
 * passed first).  dl NULL: the lock is waited for however long.
 */
static int
worker_post(struct worker *w, void (*fn)(struct worker *, void *),
    void *arg, const struct timespec *dl, int try)
{
	int	 ret;

	if (!w->started)
		return (ESRCH);
	if (pthread_equal(pthread_self(), w->thread)) {
		fn(w, arg);
		return (0);
	}
	/* the sync thread's call may hold the worker: the lock has
	   the call's deadline */
	if (try)
		ret = pthread_mutex_trylock(&w->callers);
	else if (dl != NULL)
		ret = pthread_mutex_clocklock(&w->callers, CLOCK_MONOTONIC,
		    dl);
	else
		ret = pthread_mutex_lock(&w->callers);
	if (ret != 0)
		return (ret);
	pthread_mutex_lock(&w->mtx);
	if (!w->running) {
		pthread_mutex_unlock(&w->mtx);
		pthread_mutex_unlock(&w->callers);
		return (ESRCH);
	}
	w->callfn = fn;
	w->callarg = arg;
	w->calldone = 0;
	w->calltaken = 0;
	/* thread-safe: the base was made with evthread_use_pthreads();
	   still active from a call withdrawn, the one run takes this */
	event_active(w->callev, EV_READ, 0);
	pthread_mutex_unlock(&w->mtx);
	return (WORKER_POSTED);
}

/* w's call ended (ret): nothing left for the callback should it run
   still (arg may be gone by then), and w's callers' lock let go. */
static int
worker_reaped(struct worker *w, int ret)
{
	w->callfn = NULL;
	w->callarg = NULL;
	pthread_mutex_unlock(&w->mtx);
	pthread_mutex_unlock(&w->callers);
	return (ret);
}

/*
 * The end of a call worker_post() posted: 0 once done; ETIMEDOUT if w
 * had not taken it by dl (NULL: no deadline), withdrawn; ESRCH if w
 * left its loop.  The callers' lock is released.
 */
static int
worker_reap(struct worker *w, const struct timespec *dl)
{
	int	 err = ESRCH;

	pthread_mutex_lock(&w->mtx);
	while (!w->calldone && w->running) {
		if (dl == NULL || w->calltaken)
			pthread_cond_wait(&w->cond, &w->mtx);
		else if (pthread_cond_timedwait(&w->cond, &w->mtx, dl) ==
		    ETIMEDOUT && !w->calltaken && !w->calldone &&
		    w->running) {
			err = ETIMEDOUT;
			break;
		}
	}
	return (worker_reaped(w, w->calldone ? 0 : err));
}

/*
 * worker_reap() without the wait: WORKER_POSTED while w's call goes on;
 * past the deadline (late), a call not taken yet is withdrawn.
 */
static int
worker_reap_now(struct worker *w, int late)
{
	pthread_mutex_lock(&w->mtx);
	if (w->calldone)
		return (worker_reaped(w, 0));
	if (!w->running)
		return (worker_reaped(w, ESRCH));
	if (late && !w->calltaken)
		return (worker_reaped(w, ETIMEDOUT));
	pthread_mutex_unlock(&w->mtx);
	return (WORKER_POSTED);
}

/* worker_call() (ms 0) and worker_call_within() */
static int
worker_call_wait(struct worker *w, void (*fn)(struct worker *, void *),
    void *arg, unsigned ms)
{
	struct timespec	 dl;
	int		 ret;

	if (ms > 0)
		worker_deadline(&dl, ms);
	if ((ret = worker_post(w, fn, arg, ms > 0 ? &dl : NULL, 0)) ==
	    WORKER_POSTED)
		ret = worker_reap(w, ms > 0 ? &dl : NULL);
	if (ret != 0) {
		errno = ret;
		return (-1);
	}
	return (0);
}

int
worker_call(struct worker *w, void (*fn)(struct worker *, void *), void *arg)
{
	return (worker_call_wait(w, fn, arg, 0));
}

int
worker_call_within(struct worker *w, void (*fn)(struct worker *, void *),
    void *arg, unsigned ms)
{
	return (worker_call_wait(w, fn, arg, ms > 0 ? ms : 1));
}

/*
 * The calls worker_post() posted to w[0..n-1], ended by dl: each one's
 * end in err[].  Waited for a slice at a time, the first still going
 * waited on and every other that ended reaped between slices: a worker
 * that answered is let go at once, not held (the sync thread may want
 * it) while one before it is stuck until the deadline.
 */
static void
worker_reap_all(struct worker **w, unsigned n, const struct timespec *dl,
    int *err)
{
	struct timespec	 now, until;
	unsigned	 i, first;
	int		 late;

	for (;;) {
		clock_gettime(CLOCK_MONOTONIC, &now);
		late = !spi_ts_before(&now, dl);
		for (i = 0, first = n; i < n; i++)
			if (err[i] == WORKER_POSTED &&
			    (err[i] = worker_reap_now(w[i], late)) ==
			    WORKER_POSTED && first == n)
				first = i;
		if (first == n)
			return;
		/* a call taken is waited for past the deadline, as ever */
		until = now;
		spi_ts_add_ms(&until, WORKER_REAP_SLICE_MS);
		if (!late && spi_ts_before(dl, &until))
			until = *dl;
		pthread_mutex_lock(&w[first]->mtx);
		if (!w[first]->calldone && w[first]->running)
			(void)pthread_cond_timedwait(&w[first]->cond,
			    &w[first]->mtx, &until);
		pthread_mutex_unlock(&w[first]->mtx);
	}
}

unsigned
worker_call_all_within(struct worker **w, unsigned n,
    void (*fn)(struct worker *, void *), void *args, size_t size,
    unsigned ms, int *err)
{
	struct timespec	 dl;
	char		*a = args;
	unsigned	 i, nerr = 0;

	worker_deadline(&dl, ms > 0 ? ms : 1);
	/*
	 * Every call posted before any is waited for: a worker stopped or
	 * stuck costs the one deadline, not one each, and a running one
	 * has it all to take its call whoever comes before it.  Those
	 * another caller holds (the sync thread) are waited for after the
	 * others are posted, in index order; the answers are then taken
	 * as they come (worker_reap_all()).
	 */
	for (i = 0; i < n; i++)
		err[i] = worker_post(w[i], fn, a + i * size, NULL, 1);
	for (i = 0; i < n; i++)
		if (err[i] == EBUSY)
			err[i] = worker_post(w[i], fn, a + i * size, &dl, 0);
	worker_reap_all(w, n, &dl, err);
	for (i = 0; i < n; i++)
		if (err[i] != 0)
			nerr++;
	return (nerr);
}

uint64_t
worker_idle_ms(const struct worker *w, uint64_t now)
{
	uint64_t	 ran = __atomic_load_n(&w->ran_ms, __ATOMIC_RELAXED);

	return (now > ran ? now - ran : 0);
}

struct ct_table *
worker_ct(struct worker *w)
{
	return (w->ct);
}

const struct config *
worker_config(struct worker *w)
{
	return (w->cfg);
}

unsigned
worker_id(const struct worker *w)
{
	return (w->id);
}

uint64_t
worker_heartbeat(const struct worker *w)
{
	return (__atomic_load_n(&w->beat, __ATOMIC_RELAXED));
}

uint64_t
worker_received(const struct worker *w)
{
	return (__atomic_load_n(&w->st.received, __ATOMIC_RELAXED));
}

int
worker_error(const struct worker *w)
{
	return (__atomic_load_n(&w->error, __ATOMIC_SEQ_CST));
}

struct worker *
worker_new(unsigned id, const struct config *cfg, char *err, size_t errlen)
{
	struct worker	*w;
	pthread_condattr_t ca;
	unsigned	 queue = cfg->queue + id;

	if (queue > UINT16_MAX) {
		snprintf(err, errlen, "queue %u: NFQUEUE numbers end at %u",
		    queue, UINT16_MAX);
		return (NULL);
	}
	/* its counters are written for every packet: on lines of its own,
	   which no other worker's object shares */
	if ((w = cacheline_calloc(1, sizeof(*w))) == NULL) {
		snprintf(err, errlen, "worker %u: %s", id, strerror(errno));
		return (NULL);
	}
	w->id = id;
	w->cfg = cfg;
	w->raw4 = w->raw6 = -1;
	TAILQ_INIT(&w->adopt_age);
	TAILQ_INIT(&w->hold_age);
	TAILQ_INIT(&w->want_age);
	w->adopt_max = WORKER_ADOPT_BYTES;
	pthread_mutex_init(&w->callers, NULL);
	pthread_mutex_init(&w->askmtx, NULL);
	pthread_mutex_init(&w->mtx, NULL);
	/* worker_call_within()'s deadline is monotonic, the callers'
	   lock's too (pthread_mutex_clocklock()) */
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&w->cond, &ca);
	pthread_condattr_destroy(&ca);
	if ((w->ct = ct_new(&cfg->ct)) == NULL) {
		snprintf(err, errlen, "worker %u: connection table: %s", id,
		    strerror(errno));
		worker_free(w);
		return (NULL);
	}
	if ((w->lt = limit_new(LIMIT_SOURCES_DEFAULT)) == NULL) {
		snprintf(err, errlen, "worker %u: limit table: %s", id,
		    strerror(errno));
		worker_free(w);
		return (NULL);
	}
	ct_set_event_cb(w->ct, worker_ct_event, w);
	worker_rule_counters_new(w, NULL, cfg);
	/* Opened whatever the rules say, so that a reload may add reject
	   rules after the privileges are gone (CAP_NET_RAW is kept). */
	if (worker_open_raw(w) == -1 && verdict_has_reject(cfg)) {
		snprintf(err, errlen, "worker %u: raw socket for reject rules "
		    "(CAP_NET_RAW is needed): %s", id, strerror(errno));
		worker_free(w);
		return (NULL);
	}
	if ((w->fc = frag_new(&cfg->frag)) == NULL) {
		snprintf(err, errlen, "worker %u: fragment cache: %s", id,
		    strerror(errno));
		worker_free(w);
		return (NULL);
	}
	/* the headers; whole packets while some need it (worker_copy.c) */
	if ((w->nq = nq_open(queue, cfg->queue_maxlen, cfg->fail_open,
	    NQ_COPY_RANGE, NQ_COPY_WHOLE)) == NULL) {
		if (errno == EBUSY)
			snprintf(err, errlen, "queue %u is in use by another "
			    "process", queue);
		else
			snprintf(err, errlen, "queue %u: cannot bind: %s",
			    queue, nq_strerror(errno));
		worker_free(w);
		return (NULL);
	}
	worker_set_params(w, cfg);
	return (w);
}

static void *
worker_main(void *arg)
{
	struct worker	*w = arg;
	char		 name[16];

	/* so that a person (ps -L, top -H) or a test finds it */
	snprintf(name, sizeof(name), "nfqspid-w%u", w->id);
	(void)pthread_setname_np(pthread_self(), name);
	log_debug("%s: worker %u reading queue %u", __func__, w->id,
	    nq_queue(w->nq));
	/* packets that came with the bind's answer wait in nq */
	event_active(w->rev, EV_READ, 0);
	event_base_dispatch(w->base);

	/* the main loop hears of the end before a call it waits in does:
	   worker_dead() runs before anything that loop takes next */
	if (!__atomic_load_n(&w->stopping, __ATOMIC_SEQ_CST))
		event_active(w->deadev, EV_READ, 0);
	pthread_mutex_lock(&w->mtx);
	w->running = 0;
	pthread_cond_broadcast(&w->cond);
	pthread_mutex_unlock(&w->mtx);
	return (NULL);
}

static void
worker_dead_cb(evutil_socket_t fd, short events, void *arg)
{
	struct worker	*w = arg;

	w->told = 1;
	if (w->dead != NULL)
		w->dead(w, w->deadarg);
}

int
worker_start(struct worker *w, struct event_base *mainbase,
    void (*dead)(struct worker *, void *), void *arg)
{
	struct timeval	 tv = { 0, WORKER_TICK_MS * 1000 };

	w->dead = dead;
	w->deadarg = arg;
	if ((w->base = event_base_new()) == NULL ||
	    (w->rev = event_new(w->base, nq_fd(w->nq), EV_READ | EV_PERSIST,
	    worker_read, w)) == NULL ||
	    (w->tick = event_new(w->base, -1, EV_PERSIST, worker_tick,
	    w)) == NULL ||
	    (w->callev = event_new(w->base, -1, 0, worker_call_cb,
	    w)) == NULL ||
	    (w->askev = event_new(w->base, -1, 0, worker_ask_cb,
	    w)) == NULL ||
	    (w->asktimer = evtimer_new(w->base, worker_ask_timeout,
	    w)) == NULL ||
	    (w->deadev = event_new(mainbase, -1, 0, worker_dead_cb,
	    w)) == NULL ||
	    (w->sweepev = evtimer_new(w->base, worker_sweep, w)) == NULL)
		return (-1);
	if (event_add(w->rev, NULL) == -1 || event_add(w->tick, &tv) == -1 ||
	    worker_sync_start(w) == -1)
		return (-1);
	w->summary_ms = w->ran_ms = spi_now_ms();
	limit_bucket_init(&w->auditrate, w->cfg->log_rate, w->summary_ms);

	w->running = 1;
	if (spi_thread_start(&w->thread, worker_main, w) == -1) {
		w->running = 0;
		return (-1);
	}
	w->started = w->ran = 1;
	return (0);
}

/* In the worker: answer what is queued, then leave the loop. */
static void
worker_stop_fn(struct worker *w, void *arg)
{
	int	 n;

	if (nq_quiesce(w->nq) == -1)
		log_warn("worker %u: queue %u: stop queueing", w->id,
		    nq_queue(w->nq));
	n = nq_recv_batch(w->nq, 0, worker_batch, w);
	/* the answers that came, then errors and adoptions still waiting
	   get none, held fragments their datagram's end */
	worker_ask_stop(w);
	worker_frag_expire(w, UINT64_MAX);
	if (n == -1)
		log_warn("worker %u: queue %u: last read", w->id,
		    nq_queue(w->nq));
	else
		log_debug("%s: worker %u: %d packets answered at stop",
		    __func__, w->id, n);
	w->stopped = 1;
	event_base_loopbreak(w->base);
}

void
worker_stop(struct worker *w)
{
	if (!w->started)
		return;
	__atomic_store_n(&w->stopping, 1, __ATOMIC_SEQ_CST);
	if (worker_call(w, worker_stop_fn, NULL) == -1)
		log_debug("%s: worker %u had stopped already", __func__,
		    w->id);
	pthread_join(w->thread, NULL);
	w->started = 0;
}

int
worker_ended_unseen(const struct worker *w)
{
	return (!w->started && w->ran && !w->stopped && !w->told);
}

void
worker_free(struct worker *w)
{
	if (w == NULL)
		return;
	if (w->started)
		worker_stop(w);
	if (w->deadev != NULL)
		event_free(w->deadev);
	if (w->callev != NULL)
		event_free(w->callev);
	if (w->askev != NULL)
		event_free(w->askev);
	if (w->asktimer != NULL)
		event_free(w->asktimer);
	if (w->sweepev != NULL)
		event_free(w->sweepev);
	worker_ask_free(w);
	worker_sync_free(w);
	if (w->tick != NULL)
		event_free(w->tick);
	if (w->rev != NULL)
		event_free(w->rev);
	if (w->base != NULL)
		event_base_free(w->base);
	nq_close(w->nq);
	if (w->ct != NULL)
		ct_free(w->ct);
	if (w->lt != NULL)
		limit_free(w->lt);
	frag_free(w->fc);
	worker_close_raw(w);
	free(w->rcount);
	pthread_cond_destroy(&w->cond);
	pthread_mutex_destroy(&w->mtx);
	pthread_mutex_destroy(&w->callers);
	pthread_mutex_destroy(&w->askmtx);
	free(w);
}

static void
worker_reload_fn(struct worker *w, void *arg)
{
	const struct config	*cfg = arg;
	struct timeval		 now = { 0, 0 };

	/* a waiting error's verdict points at the old rules: decide it
	   now (an adoption's packets are judged once answered, by the
	   rules of then) */
	worker_answer_late(w, 0, 0);
	worker_rule_counters_new(w, w->cfg, cfg);
	w->cfg = cfg;
	worker_fp_config(w, cfg);
	ct_set_config(w->ct, &cfg->ct);
	frag_set_config(w->fc, &cfg->frag);
	/*
	 * What the new rules no longer accept ends now, not at expiry:
	 * every connection is judged again before its next packet, the
	 * idle ones by the sweep, so the loop never stops for long.
	 */
	if (w->sweepev != NULL && evtimer_pending(w->sweepev, NULL)) {
		/* the last reload's sweep starts over: report it so far */
		evtimer_del(w->sweepev);
		worker_sweep_done(w);
	}
	verdict_reload(&w->rl, cfg, w->ct, w->lt, spi_now_ms(),
	    worker_audit_line, w);
	if (w->sweepev != NULL)
		(void)evtimer_add(w->sweepev, &now);
	else {
		/* not started: nothing else runs */
		while (!verdict_reload_step(w->ct, SIZE_MAX))
			;
		worker_sweep_done(w);
	}
	if (verdict_has_reject(cfg) && worker_open_raw(w) == -1)
		log_warn("worker %u: reject rules will drop without an "
		    "answer: raw socket", w->id);
	if (nq_set_params(w->nq, cfg->queue_maxlen, cfg->fail_open) == -1)
		log_warn("worker %u: queue %u: new parameters", w->id,
		    nq_queue(w->nq));
	worker_set_params(w, cfg);
	limit_bucket_clamp(&w->auditrate, cfg->log_rate);
}

int
worker_reload(struct worker *w, const struct config *cfg)
{
	if (!w->started) {
		/* not running: no other thread touches it */
		worker_reload_fn(w, (void *)cfg);
		return (0);
	}
	if (worker_call(w, worker_reload_fn, (void *)cfg) == -1) {
		/* the thread has left its loop and reads nothing more,
		   but the old pointer is about to be freed */
		w->cfg = cfg;
		return (-1);
	}
	return (0);
}

/*
 * [daemon] state_file: the connections restored, judged by this start's
 * rules as a reload judges every connection, before a worker reads a
 * packet: what the rules no longer accept ends here (one line says how
 * many) instead of passing until the next reload.  Nothing goes to the
 * peer, whose bulk or timers end its copies.  The peers are set first,
 * as the start sets them, so that an unseen copy's end comes off the
 * node's count that worker_state_import() put it in.
 */
void
worker_state_judge(struct worker **all, unsigned n)
{
	unsigned	 i;

	worker_set_peers(all, n);
	for (i = 0; i < n; i++) {
		all[i]->importing = 1;
		(void)worker_reload(all[i], all[i]->cfg);
		all[i]->importing = 0;
	}
}
