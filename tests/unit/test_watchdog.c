/*
 * test_watchdog.c - cmocka tests for watchdog.h: what the watchdog
 * thread does about a worker that has not ticked for so many checks, in
 * a call for the main thread or not
 *
 * Copyright (C) 2026 The nfqspid authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "watchdog.h"

/* In its loop: the queue fails closed at 2 checks, the daemon ends at 10. */
static void
test_loop(void **state __attribute__((unused)))
{
	unsigned	 n;

	assert_int_equal(watchdog_act(1, 0), WATCHDOG_RUNS);
	assert_int_equal(watchdog_act(WATCHDOG_CLOSE, 0),
	    WATCHDOG_FAIL_CLOSED);
	for (n = WATCHDOG_CLOSE + 1; n < WATCHDOG_CHECKS; n++)
		assert_int_equal(watchdog_act(n, 0), WATCHDOG_RUNS);
	assert_int_equal(watchdog_act(WATCHDOG_CHECKS, 0), WATCHDOG_EXIT);
	/* a check missed (the thread late): still the end */
	assert_int_equal(watchdog_act(WATCHDOG_CHECKS + 5, 0), WATCHDOG_EXIT);
}

/*
 * In a call (a reload): busy past WATCHDOG_CHECKS, but not for ever --
 * the main thread waits on it.  Before, a worker hung in a call was
 * never ended.
 */
static void
test_call(void **state __attribute__((unused)))
{
	unsigned	 n;

	assert_int_equal(watchdog_act(1, 1), WATCHDOG_RUNS);
	assert_int_equal(watchdog_act(WATCHDOG_CLOSE, 1),
	    WATCHDOG_FAIL_CLOSED);
	for (n = WATCHDOG_CLOSE + 1; n < WATCHDOG_CALL_CHECKS; n++)
		assert_int_equal(watchdog_act(n, 1), WATCHDOG_RUNS);
	assert_int_equal(watchdog_act(WATCHDOG_CALL_CHECKS, 1),
	    WATCHDOG_EXIT);
	assert_int_equal(watchdog_act(WATCHDOG_CALL_CHECKS + 1, 1),
	    WATCHDOG_EXIT);
	/* the call ended without a tick yet: the loop's bound again */
	assert_int_equal(watchdog_act(WATCHDOG_CHECKS + 1, 0), WATCHDOG_EXIT);
}

/* The bounds' order: the call's is the reload's own systemd bound. */
static void
test_bounds(void **state __attribute__((unused)))
{
	assert_true(WATCHDOG_CLOSE < WATCHDOG_CHECKS);
	assert_true(WATCHDOG_CHECKS < WATCHDOG_CALL_CHECKS);
	assert_int_equal(WATCHDOG_CALL_CHECKS, SDPING_MAX);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_loop),
		cmocka_unit_test(test_call),
		cmocka_unit_test(test_bounds),
	};

	return (cmocka_run_group_tests(tests, NULL, NULL));
}
