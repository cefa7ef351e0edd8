/*
 * test_thread.c - cmocka tests for thread.c: the daemon's threads start
 * with every signal blocked, and the caller's mask stays as it was; a
 * thread stopped through its pipe (pipe2(), pthread_create() and poll()
 * are wrapped, -Wl,--wrap, to fail on demand)
 *
 * Copyright (C) 2026 The nfqspid authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "thread.h"

int	__real_pipe2(int [2], int);
int	__wrap_pipe2(int [2], int);
int	__real_pthread_create(pthread_t *, const pthread_attr_t *,
	    void *(*)(void *), void *);
int	__wrap_pthread_create(pthread_t *, const pthread_attr_t *,
	    void *(*)(void *), void *);
int	__real_poll(struct pollfd *, nfds_t, int);
int	__wrap_poll(struct pollfd *, nfds_t, int);

static int	 pipe_errno;	/* != 0: the next pipe2() fails with it */
static int	 create_errno;	/* the same for pthread_create() */
static int	 poll_errno;	/* != 0: every poll() fails with it (atomic) */
static int	 poll_failed;	/* ... so many did (atomic) */

int
__wrap_pipe2(int fd[2], int flags)
{
	int	 e = pipe_errno;

	if (e != 0) {
		pipe_errno = 0;
		errno = e;
		return (-1);
	}
	return (__real_pipe2(fd, flags));
}

int
__wrap_pthread_create(pthread_t *t, const pthread_attr_t *attr,
    void *(*fn)(void *), void *arg)
{
	int	 e = create_errno;

	if (e != 0) {
		create_errno = 0;
		return (e);
	}
	return (__real_pthread_create(t, attr, fn, arg));
}

int
__wrap_poll(struct pollfd *fds, nfds_t n, int ms)
{
	int	 e = __atomic_load_n(&poll_errno, __ATOMIC_SEQ_CST);

	if (e != 0) {
		__atomic_add_fetch(&poll_failed, 1, __ATOMIC_SEQ_CST);
		errno = e;
		return (-1);
	}
	return (__real_poll(fds, n, ms));
}

/* descriptors open now */
static int
nfds(void)
{
	DIR		*dir;
	struct dirent	*de;
	int		 n = 0;

	assert_non_null(dir = opendir("/proc/self/fd"));
	while ((de = readdir(dir)) != NULL)
		if (de->d_name[0] != '.')
			n++;
	closedir(dir);
	return (n);
}

static uint64_t
now_ms(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ((uint64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000);
}

struct seen {
	sigset_t	 mask;
	int		 ran;
};

static void *
record(void *arg)
{
	struct seen	*s = arg;

	pthread_sigmask(SIG_BLOCK, NULL, &s->mask);
	s->ran = 1;
	return (NULL);
}

/* The new thread blocks every signal the main thread takes; the
   caller's own mask, SIGTERM open and SIGUSR2 blocked here, is kept. */
static void
test_blocked(void **state)
{
	const int	 sigs[] = { SIGHUP, SIGTERM, SIGINT, SIGUSR1, SIGPIPE };
	struct seen	 s;
	sigset_t	 set, now;
	pthread_t	 t;
	size_t		 i;

	(void)state;
	memset(&s, 0, sizeof(s));
	sigemptyset(&set);
	sigaddset(&set, SIGUSR2);
	assert_int_equal(pthread_sigmask(SIG_SETMASK, &set, NULL), 0);

	assert_int_equal(spi_thread_start(&t, record, &s), 0);
	assert_int_equal(pthread_join(t, NULL), 0);
	assert_int_equal(s.ran, 1);
	for (i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		assert_int_equal(sigismember(&s.mask, sigs[i]), 1);

	assert_int_equal(pthread_sigmask(SIG_BLOCK, NULL, &now), 0);
	assert_int_equal(sigismember(&now, SIGTERM), 0);
	assert_int_equal(sigismember(&now, SIGUSR2), 1);
	sigemptyset(&set);
	assert_int_equal(pthread_sigmask(SIG_SETMASK, &set, NULL), 0);
}

static void *
never(void *arg)
{
	fail_msg("a failed start ran its thread");
	return (arg);
}

/* A start that fails, at the pipe or at the thread, says why in errno,
   leaves no descriptor open, and its stop does nothing. */
static void
test_start_fails(void **state)
{
	const int		 fails[] = { EMFILE, EAGAIN };
	struct spi_stoppable	 s;
	int			 n = nfds(), i;

	(void)state;
	for (i = 0; i < 2; i++) {
		memset(&s, 0xff, sizeof(s));
		if (i == 0)
			pipe_errno = fails[i];
		else
			create_errno = fails[i];
		errno = 0;
		assert_int_equal(spi_stoppable_start(&s, never, NULL), -1);
		assert_int_equal(errno, fails[i]);
		assert_int_equal(s.running, 0);
		assert_int_equal(nfds(), n);
		spi_stoppable_stop(&s);
		assert_int_equal(nfds(), n);
	}
}

/* A thread that waits first_ms, then 10 minutes, until stopped. */
struct waiter {
	struct spi_stoppable	 s;
	unsigned		 first_ms;
	int			 first;		/* the first wait's */
	uint64_t		 took;		/* ... its ms */
	int			 waiting;	/* atomic */
	int			 last;		/* the long wait's */
};

static void *
waiter_main(void *arg)
{
	struct waiter	*w = arg;
	uint64_t	 t = now_ms();

	w->first = spi_stoppable_wait(&w->s, w->first_ms);
	w->took = now_ms() - t;
	__atomic_store_n(&w->waiting, 1, __ATOMIC_SEQ_CST);
	w->last = spi_stoppable_wait(&w->s, 600000);
	return (NULL);
}

/* w started, its first wait over: it is in the long one. */
static void
waiter_start(struct waiter *w, unsigned first_ms)
{
	struct timespec	 ms = { 0, 1000000 };

	memset(w, 0, sizeof(*w));
	w->first_ms = first_ms;
	assert_int_equal(spi_stoppable_start(&w->s, waiter_main, w), 0);
	while (!__atomic_load_n(&w->waiting, __ATOMIC_SEQ_CST))
		nanosleep(&ms, NULL);
}

/* w stopped within 5 s (under valgrind too: far below the 10 minutes) */
static void
waiter_stop(struct waiter *w)
{
	uint64_t	 t = now_ms();

	spi_stoppable_stop(&w->s);
	assert_true(now_ms() - t < 5000);
}

/* A thread in a wait of 10 minutes returns at once when stopped; its
   wait before times out.  A second stop does nothing. */
static void
test_stop(void **state)
{
	struct waiter	 w;
	int		 n = nfds();

	(void)state;
	waiter_start(&w, 10);
	assert_int_equal(w.s.running, 1);
	assert_int_equal(nfds(), n + 2);
	waiter_stop(&w);
	assert_int_equal(w.first, 0);
	assert_int_equal(w.last, 1);
	assert_int_equal(w.s.running, 0);
	assert_int_equal(nfds(), n);
	spi_stoppable_stop(&w.s);
	assert_int_equal(nfds(), n);
}

/* Every poll() failing (ENOMEM): a wait still takes its ms, never less
   (the watchdog counts waits as seconds), and a stop still ends the
   wait of 10 minutes at once. */
static void
test_poll_fails(void **state)
{
	struct waiter	 w;
	int		 n = nfds();

	(void)state;
	__atomic_store_n(&poll_failed, 0, __ATOMIC_SEQ_CST);
	__atomic_store_n(&poll_errno, ENOMEM, __ATOMIC_SEQ_CST);
	waiter_start(&w, 300);
	assert_int_equal(w.first, 0);
	assert_true(w.took >= 300);
	/* under valgrind too: about the 300 ms */
	assert_true(w.took < 3000);
	waiter_stop(&w);
	__atomic_store_n(&poll_errno, 0, __ATOMIC_SEQ_CST);
	assert_true(__atomic_load_n(&poll_failed, __ATOMIC_SEQ_CST) > 1);
	assert_int_equal(w.last, 1);
	assert_int_equal(nfds(), n);
}

/* Zeroed, never started: the stop closes nothing (fd 0 stays open). */
static void
test_stop_unstarted(void **state)
{
	struct spi_stoppable	 s;
	int			 n = nfds();

	(void)state;
	memset(&s, 0, sizeof(s));
	spi_stoppable_stop(&s);
	spi_stoppable_stop(&s);
	assert_int_equal(nfds(), n);
	assert_int_not_equal(fcntl(0, F_GETFD), -1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_blocked),
		cmocka_unit_test(test_start_fails),
		cmocka_unit_test(test_stop),
		cmocka_unit_test(test_poll_fails),
		cmocka_unit_test(test_stop_unstarted),
	};

	return (cmocka_run_group_tests(tests, NULL, NULL));
}
