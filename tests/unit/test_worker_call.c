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

	loop_stop(&lp);
	/* no thread of its own to stop: worker_free() frees the rest */
	f->all[0]->started = 0;
	return (teardown(state));
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
	};

	return (cmocka_run_group_tests(tests, NULL, NULL));
}
