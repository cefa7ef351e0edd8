/*
 * test_worker_call.c - worker_call() and worker_call_within() across
 * two threads
 *
 * Copyright (C) 2026 The nfqspid authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * A real worker (workerfix.c: worker_new() on a wrapped queue) whose
 * loop runs in a thread of the test -- or does not, which is a worker
 * stopped or stuck.  A question within a deadline to a stopped worker
 * comes back with ETIMEDOUT in time, and is withdrawn: when the loop
 * runs again, its function never runs (its argument, freed by then,
 * is not touched: ASan and valgrind would see it).  A call the worker
 * has taken is waited for to its end, deadline or not; a caller that
 * holds the worker (the sync thread's worker_call()) delays a question
 * no longer than its deadline, which is on the monotonic clock there
 * too (the lock is wrapped: -Wl,--wrap=pthread_mutex_clocklock).
 */
#include "autoconf.h"

#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include <event2/event.h>
#include <event2/thread.h>

#include "worker_int.h"
#include "clock.h"
#include "workerfix.h"

#define SHORT_MS	200	/* a question's deadline here */
#define LONG_MS		500	/* ... where several deadlines must show */

/* the worker's loop, in a thread of the test */
struct loop {
	struct worker	*w;
	pthread_t	 t;
	struct event	*keep;		/* a timer: the loop runs on */
	int		 on;
};

static void
keep_cb(evutil_socket_t fd, short ev, void *arg)
{
}

static void *
loop_main(void *arg)
{
	struct worker	*w = arg;

	event_base_dispatch(w->base);
	return (NULL);
}

static void
loop_start(struct loop *l, struct worker *w)
{
	struct timeval	 tv = { 0, 10000 };

	l->w = w;
	l->keep = event_new(w->base, -1, EV_PERSIST, keep_cb, NULL);
	assert_non_null(l->keep);
	assert_int_equal(event_add(l->keep, &tv), 0);
	assert_int_equal(pthread_create(&l->t, NULL, loop_main, w), 0);
	w->thread = l->t;
	l->on = 1;
}

static void
loop_stop(struct loop *l)
{
	if (!l->on)
		return;
	event_base_loopbreak(l->w->base);
	pthread_join(l->t, NULL);
	event_free(l->keep);
	l->on = 0;
}

static uint64_t
now_ms(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ((uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000);
}

static void
add_one(struct worker *w, void *arg)
{
	(*(int *)arg)++;
}

/* busy for 300 ms, past SHORT_MS; says whether the watchdog saw incall */
static void
slow(struct worker *w, void *arg)
{
	usleep(300 * 1000);
	*(int *)arg = __atomic_load_n(&w->incall, __ATOMIC_SEQ_CST);
}

static struct loop	 lp;
static struct loop	 lps[FIX_WORKERS];	/* setup_all()'s */

/* the callers' lock: which clock its deadline is on, and how far */
int	 __real_pthread_mutex_clocklock(pthread_mutex_t *, clockid_t,
	    const struct timespec *);
int	 __wrap_pthread_mutex_clocklock(pthread_mutex_t *, clockid_t,
	    const struct timespec *);
static unsigned	 locks;
static clockid_t lockclk;
static int64_t	 lockms;	/* the deadline, ms from the lock's start */

int
__wrap_pthread_mutex_clocklock(pthread_mutex_t *m, clockid_t clk,
    const struct timespec *dl)
{
	struct timespec	 now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	locks++;
	lockclk = clk;
	lockms = ((int64_t)dl->tv_sec - now.tv_sec) * 1000 +
	    (dl->tv_nsec - now.tv_nsec) / 1000000;
	return (__real_pthread_mutex_clocklock(m, clk, dl));
}

static int
setup(void **state)
{
	struct fix	*f;

	/* before any base: event_active() from the test's thread */
	assert_int_equal(evthread_use_pthreads(), 0);
	f = fix_new();
	fix_start(f, 1, spi_now_ms());
	/* what worker_start() adds for the calls, without the thread */
	f->all[0]->callev = event_new(f->all[0]->base, -1, 0, worker_call_cb,
	    f->all[0]);
	assert_non_null(f->all[0]->callev);
	f->all[0]->started = f->all[0]->running = 1;
	memset(&lp, 0, sizeof(lp));
	*state = f;
	return (0);
}

static int
down(void **state)
{
	struct fix	*f = *state;
	unsigned	 i;

	loop_stop(&lp);
	for (i = 0; i < FIX_WORKERS; i++)
		loop_stop(&lps[i]);
	/* no thread of its own to stop: worker_free() frees the rest */
	for (i = 0; i < f->n; i++)
		f->all[i]->started = 0;
	return (teardown(state));
}

/* FIX_WORKERS workers, none of whose loops runs yet */
static int
setup_all(void **state)
{
	struct fix	*f;
	unsigned	 i;

	assert_int_equal(evthread_use_pthreads(), 0);
	f = fix_new();
	fix_start(f, FIX_WORKERS, spi_now_ms());
	for (i = 0; i < FIX_WORKERS; i++) {
		f->all[i]->callev = event_new(f->all[i]->base, -1, 0,
		    worker_call_cb, f->all[i]);
		assert_non_null(f->all[i]->callev);
		f->all[i]->started = f->all[i]->running = 1;
	}
	memset(&lp, 0, sizeof(lp));
	memset(lps, 0, sizeof(lps));
	*state = f;
	return (0);
}

/* A stopped worker: ETIMEDOUT after the deadline, not before, not much
   after; the call withdrawn, so the loop, once it runs, runs nothing. */
static void
test_stopped(void **state)
{
	struct fix	*f = *state;
	struct worker	*w = f->all[0];
	uint64_t	 t0, dt;
	int		*x = calloc(1, sizeof(*x));

	assert_non_null(x);
	w->ran_ms = spi_now_ms() - 5000;
	t0 = now_ms();
	errno = 0;
	assert_int_equal(worker_call_within(w, add_one, x, SHORT_MS), -1);
	dt = now_ms() - t0;
	assert_int_equal(errno, ETIMEDOUT);
	assert_true(dt >= SHORT_MS && dt < SHORT_MS + 500);
	assert_null(w->callfn);
	assert_null(w->callarg);
	assert_true(worker_idle_ms(w, spi_now_ms()) >= 5000);
	assert_int_equal(*x, 0);
	/* the caller's argument is gone, then the worker runs again */
	free(x);
	assert_true(event_pending(w->callev, EV_READ, NULL));
	assert_true(event_base_loop(w->base, EVLOOP_NONBLOCK) >= 0);
	assert_false(event_pending(w->callev, EV_READ, NULL));
	assert_int_equal(w->calldone, 0);
	assert_int_equal(__atomic_load_n(&w->incall, __ATOMIC_SEQ_CST), 0);
}

/* Withdrawn, its activation still pending; the next call shares it and
   runs once, and so does one after. */
static void
test_next_call(void **state)
{
	struct fix	*f = *state;
	struct worker	*w = f->all[0];
	int		 x = 0, n = 0;

	assert_int_equal(worker_call_within(w, add_one, &x, SHORT_MS), -1);
	assert_int_equal(errno, ETIMEDOUT);
	loop_start(&lp, w);
	assert_int_equal(worker_call_within(w, add_one, &n, SHORT_MS), 0);
	assert_int_equal(n, 1);
	usleep(50 * 1000);
	assert_int_equal(n, 1);
	assert_int_equal(x, 0);
	assert_int_equal(worker_call(w, add_one, &n), 0);
	assert_int_equal(n, 2);
	assert_int_equal(worker_call_within(w, add_one, &n, SHORT_MS), 0);
	assert_int_equal(n, 3);
	assert_int_equal(x, 0);
}

/* Taken, then slow: busy, not stalled; waited for past the deadline,
   and the watchdog sees it in a call meanwhile. */
static void
test_taken(void **state)
{
	struct fix	*f = *state;
	struct worker	*w = f->all[0];
	uint64_t	 t0, dt;
	int		 incall = 0;

	loop_start(&lp, w);
	t0 = now_ms();
	assert_int_equal(worker_call_within(w, slow, &incall, SHORT_MS), 0);
	dt = now_ms() - t0;
	assert_true(dt >= 300);
	assert_int_equal(incall, 1);
	assert_int_equal(__atomic_load_n(&w->incall, __ATOMIC_SEQ_CST), 0);
}

/* another thread's call to the stopped worker (the sync thread's) */
static void *
other_caller(void *arg)
{
	struct worker	*w = arg;
	static int	 n;

	n = 0;
	if (worker_call(w, add_one, &n) != 0 || n != 1)
		return ((void *)1);
	return (NULL);
}

/* A caller holds the worker: the question still ends in time; once the
   worker runs, that caller's call is done, and the question's is not. */
static void
test_other_caller(void **state)
{
	struct fix	*f = *state;
	struct worker	*w = f->all[0];
	pthread_t	 t;
	uint64_t	 t0, dt;
	void		*rv;
	int		 x = 0;

	assert_int_equal(pthread_create(&t, NULL, other_caller, w), 0);
	/* until it waits, holding the callers' lock */
	while (__atomic_load_n(&w->callfn, __ATOMIC_SEQ_CST) == NULL)
		usleep(1000);
	t0 = now_ms();
	errno = 0;
	locks = 0;
	assert_int_equal(worker_call_within(w, add_one, &x, SHORT_MS), -1);
	dt = now_ms() - t0;
	assert_int_equal(errno, ETIMEDOUT);
	assert_true(dt >= SHORT_MS - 20 && dt < SHORT_MS + 500);
	loop_start(&lp, w);
	pthread_join(t, &rv);
	assert_null(rv);
	assert_int_equal(x, 0);
	/* the lock's wait, on the monotonic clock (a step of the wall
	   clock would move a CLOCK_REALTIME one), by the deadline */
	assert_int_equal(locks, 1);
	assert_int_equal(lockclk, CLOCK_MONOTONIC);
	assert_true(lockms > 0 && lockms <= SHORT_MS);
}

/* Not running: ESRCH at once, whatever the wait. */
static void
test_not_running(void **state)
{
	struct fix	*f = *state;
	struct worker	*w = f->all[0];
	int		 x = 0;

	w->running = 0;
	errno = 0;
	assert_int_equal(worker_call_within(w, add_one, &x, SHORT_MS), -1);
	assert_int_equal(errno, ESRCH);
	errno = 0;
	assert_int_equal(worker_call(w, add_one, &x), -1);
	assert_int_equal(errno, ESRCH);
	assert_int_equal(x, 0);
}

/*
 * One question to every worker, three of them stopped: ETIMEDOUT for
 * each after the one deadline, not one deadline each; the running one
 * (after them) answers; the three calls are withdrawn, so their loops,
 * once they run, run nothing.  (Worker by worker, as the main thread
 * asked before, it took three deadlines.)
 */
static void
test_all_stopped(void **state)
{
	struct fix	*f = *state;
	uint64_t	 t0, dt;
	int		*x = calloc(FIX_WORKERS, sizeof(*x));
	int		 err[FIX_WORKERS];
	unsigned	 i;

	assert_non_null(x);
	loop_start(&lps[3], f->all[3]);
	t0 = now_ms();
	assert_int_equal(worker_call_all_within(f->all, FIX_WORKERS, add_one,
	    x, sizeof(*x), LONG_MS, err), 3);
	dt = now_ms() - t0;
	/* three deadlines would take 3 * LONG_MS at least: below that is
	   one, however late a loaded machine wakes the caller */
	assert_true(dt >= LONG_MS && dt < 3 * LONG_MS);
	for (i = 0; i < 3; i++) {
		assert_int_equal(err[i], ETIMEDOUT);
		assert_int_equal(x[i], 0);
		assert_null(f->all[i]->callfn);
		assert_null(f->all[i]->callarg);
	}
	assert_int_equal(err[3], 0);
	assert_int_equal(x[3], 1);
	/* the arguments are gone, then the workers run again */
	free(x);
	for (i = 0; i < 3; i++) {
		assert_true(event_base_loop(f->all[i]->base,
		    EVLOOP_NONBLOCK) >= 0);
		assert_int_equal(f->all[i]->calldone, 0);
	}
}

/* Stopped, slow (taken: waited for past the deadline), running and
   not running, in one question: each as worker_call_within() says. */
static void
test_all_mixed(void **state)
{
	struct fix	*f = *state;
	uint64_t	 t0, dt;
	int		 x[FIX_WORKERS] = { 0, 0, 0, 0 };
	int		 err[FIX_WORKERS];

	loop_start(&lps[1], f->all[1]);
	loop_start(&lps[2], f->all[2]);
	f->all[3]->running = 0;
	t0 = now_ms();
	assert_int_equal(worker_call_all_within(f->all, FIX_WORKERS, slow, x,
	    sizeof(x[0]), SHORT_MS, err), 2);
	dt = now_ms() - t0;
	assert_true(dt >= 300 && dt < 300 + 500);
	assert_int_equal(err[0], ETIMEDOUT);
	assert_int_equal(err[1], 0);
	assert_int_equal(err[2], 0);
	assert_int_equal(err[3], ESRCH);
	/* slow() says it ran in a call */
	assert_int_equal(x[0], 0);
	assert_int_equal(x[1], 1);
	assert_int_equal(x[2], 1);
	assert_int_equal(x[3], 0);
}

/*
 * Another caller (the sync thread) holds worker 0, which is stopped:
 * the others are asked meanwhile and answer, and the question ends at
 * its deadline.  (Had it waited for worker 0's lock before asking the
 * next, they would have had no time left to answer.)
 */
static void
test_all_held(void **state)
{
	struct fix	*f = *state;
	pthread_t	 t;
	uint64_t	 t0, dt;
	void		*rv;
	int		 x[FIX_WORKERS] = { 0, 0, 0, 0 };
	int		 err[FIX_WORKERS];
	unsigned	 i, nerr;

	for (i = 1; i < FIX_WORKERS; i++)
		loop_start(&lps[i], f->all[i]);
	assert_int_equal(pthread_create(&t, NULL, other_caller, f->all[0]),
	    0);
	while (__atomic_load_n(&f->all[0]->callfn, __ATOMIC_SEQ_CST) == NULL)
		usleep(1000);
	t0 = now_ms();
	nerr = worker_call_all_within(f->all, FIX_WORKERS, add_one, x,
	    sizeof(x[0]), SHORT_MS, err);
	dt = now_ms() - t0;
	/* the other caller's call done before any check can fail */
	loop_start(&lps[0], f->all[0]);
	pthread_join(t, &rv);
	assert_null(rv);
	assert_int_equal(nerr, 1);
	assert_true(dt >= SHORT_MS - 20 && dt < SHORT_MS + 500);
	assert_int_equal(err[0], ETIMEDOUT);
	assert_int_equal(x[0], 0);
	for (i = 1; i < FIX_WORKERS; i++) {
		assert_int_equal(err[i], 0);
		assert_int_equal(x[i], 1);
	}
}

/* worker_call_all_within() in a thread of its own, as the main thread */
struct asker {
	struct fix	*f;
	int		 x[FIX_WORKERS];
	int		 err[FIX_WORKERS];
	unsigned	 nerr;
	int		 done;
};

static void *
asker_main(void *arg)
{
	struct asker	*a = arg;

	a->nerr = worker_call_all_within(a->f->all, FIX_WORKERS, add_one,
	    a->x, sizeof(a->x[0]), 2 * LONG_MS, a->err);
	__atomic_store_n(&a->done, 1, __ATOMIC_SEQ_CST);
	return (NULL);
}

/*
 * Worker 0 stopped, the others running: one that has answered is let go
 * at once, while the question still waits for worker 0, so another
 * caller (the sync thread) gets it before the question's deadline.
 * Before, the answered workers' callers' locks were held until that
 * deadline: such a call cannot end before it (t0 is taken before the
 * question starts).  No window of its own, which a loaded machine's
 * stalls (valgrind beside other tests) could outlast: only the
 * question's deadline, 1 s.
 */
static void
test_all_release(void **state)
{
	struct fix	*f = *state;
	struct asker	 a;
	pthread_t	 t;
	uint64_t	 t0, dt;
	unsigned	 i;
	int		 n = 0;

	memset(&a, 0, sizeof(a));
	a.f = f;
	for (i = 1; i < FIX_WORKERS; i++)
		loop_start(&lps[i], f->all[i]);
	t0 = now_ms();
	assert_int_equal(pthread_create(&t, NULL, asker_main, &a), 0);
	/* worker 1 has answered (or the question is over: it fails) */
	while (__atomic_load_n(&a.x[1], __ATOMIC_SEQ_CST) == 0 &&
	    !__atomic_load_n(&a.done, __ATOMIC_SEQ_CST))
		usleep(1000);
	assert_int_equal(__atomic_load_n(&a.x[1], __ATOMIC_SEQ_CST), 1);
	assert_int_equal(worker_call(f->all[1], add_one, &n), 0);
	dt = now_ms() - t0;
	assert_int_equal(n, 1);
	printf("# worker 1 answered and called again %llu ms after the "
	    "question began (its deadline: %d ms)\n", (unsigned long long)dt,
	    2 * LONG_MS);
	assert_true(dt < 2 * LONG_MS);
	pthread_join(t, NULL);
	assert_int_equal(a.nerr, 1);
	assert_int_equal(a.err[0], ETIMEDOUT);
	assert_int_equal(a.x[0], 0);
	for (i = 1; i < FIX_WORKERS; i++) {
		assert_int_equal(a.err[i], 0);
		assert_int_equal(a.x[i], 1);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_stopped, setup, down),
		cmocka_unit_test_setup_teardown(test_next_call, setup, down),
		cmocka_unit_test_setup_teardown(test_taken, setup, down),
		cmocka_unit_test_setup_teardown(test_other_caller, setup,
		    down),
		cmocka_unit_test_setup_teardown(test_not_running, setup, down),
		cmocka_unit_test_setup_teardown(test_all_stopped, setup_all,
		    down),
		cmocka_unit_test_setup_teardown(test_all_mixed, setup_all,
		    down),
		cmocka_unit_test_setup_teardown(test_all_held, setup_all,
		    down),
		cmocka_unit_test_setup_teardown(test_all_release, setup_all,
		    down),
	};

	return (cmocka_run_group_tests(tests, NULL, NULL));
}
