/*
 * test_thread.c - cmocka tests for thread.c: the daemon's threads start
 * with every signal blocked, and the caller's mask stays as it was
 *
 * Copyright (C) 2026 The nfqspid authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "thread.h"

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

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_blocked),
	};

	return (cmocka_run_group_tests(tests, NULL, NULL));
}
