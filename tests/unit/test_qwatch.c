/*
 * test_qwatch.c - cmocka tests for qwatch.c: when a queue is idle while
 * the interfaces carry traffic, and the /proc/net/dev reader
 *
 * Copyright (C) 2026 The nfqspid authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "qwatch.h"

static void
test_idle_then_active(void **state __attribute__((unused)))
{
	struct qwatch		*w = qwatch_new(2, 60000, 1000);
	enum qwatch_event	 ev[2];
	uint64_t		 rx[2] = { 0, 0 };
	const struct qwatch_queue *q;

	assert_non_null(w);
	assert_int_equal(qwatch_idle_ms(w), 60000);
	/* queue 0 gets packets all along, queue 1 none */
	rx[0] = 10;
	qwatch_update(w, rx, 100, 30000, ev);
	assert_int_equal(ev[0], QWATCH_NONE);
	assert_int_equal(ev[1], QWATCH_NONE);
	rx[0] = 20;
	/* 60 s since the start, the interfaces moved 500 packets */
	qwatch_update(w, rx, 500, 61000, ev);
	assert_int_equal(ev[0], QWATCH_NONE);
	assert_int_equal(ev[1], QWATCH_IDLE);
	assert_non_null(q = qwatch_queue(w, 1));
	assert_true(q->idle);
	/* counted from the first update: 500 - 100 */
	assert_int_equal(q->idle_pkts, 400);
	assert_int_equal(q->rx_ms, 1000);
	assert_int_equal(qwatch_if_pkts(w), 500);
	/* said once per idle spell */
	rx[0] = 30;
	qwatch_update(w, rx, 5000, 200000, ev);
	assert_int_equal(ev[1], QWATCH_NONE);
	assert_true(qwatch_queue(w, 1)->idle);
	/* a packet: active again */
	rx[1] = 1;
	qwatch_update(w, rx, 5100, 205000, ev);
	assert_int_equal(ev[1], QWATCH_ACTIVE);
	assert_false(qwatch_queue(w, 1)->idle);
	assert_int_equal(qwatch_queue(w, 1)->rx_ms, 205000);
	assert_null(qwatch_queue(w, 2));
	qwatch_free(w);
}

/* A quiet network is not a missing diversion. */
static void
test_quiet_interfaces(void **state __attribute__((unused)))
{
	struct qwatch		*w = qwatch_new(1, 10000, 0);
	enum qwatch_event	 ev[1];
	uint64_t		 rx[1] = { 0 };
	uint64_t		 t, pkts = 1000;

	assert_non_null(w);
	/* a few ARP frames a window, for a long time: never idle */
	for (t = 1000; t < 600000; t += 5000) {
		pkts += 2;
		qwatch_update(w, rx, pkts, t, ev);
		assert_int_equal(ev[0], QWATCH_NONE);
	}
	/* traffic counts within one window only: QWATCH_MIN_PKTS in
	   the next window makes it idle */
	pkts += QWATCH_MIN_PKTS;
	qwatch_update(w, rx, pkts, t + 10000, ev);
	assert_int_equal(ev[0], QWATCH_IDLE);
	qwatch_free(w);
}

static void
test_window_and_gone_interface(void **state __attribute__((unused)))
{
	struct qwatch		*w = qwatch_new(1, 10000, 0);
	enum qwatch_event	 ev[1];
	uint64_t		 rx[1] = { 0 };

	assert_non_null(w);
	/* not before idle_ms, however busy */
	qwatch_update(w, rx, 100000, 9999, ev);
	assert_int_equal(ev[0], QWATCH_NONE);
	/* an interface went away: its counters must not wrap around */
	qwatch_update(w, rx, 10, 10000, ev);
	assert_int_equal(ev[0], QWATCH_NONE);
	qwatch_update(w, rx, 20, 20000, ev);
	assert_int_equal(ev[0], QWATCH_NONE);
	qwatch_free(w);

	/* idle_warn = 0: never */
	assert_non_null(w = qwatch_new(1, 0, 0));
	qwatch_update(w, rx, 1000000, 100000000, ev);
	assert_int_equal(ev[0], QWATCH_NONE);
	qwatch_free(w);
	assert_null(qwatch_new(0, 1000, 0));
}

/*
 * An HA backup: the peer takes the traffic, so its queues' silence is
 * no missing diversion.  Made master, it is warned a whole window later;
 * made backup again, the warning is taken back.
 */
static void
test_quiet_backup(void **state __attribute__((unused)))
{
	struct qwatch		*w = qwatch_new(2, 10000, 0);
	enum qwatch_event	 ev[2];
	uint64_t		 rx[2] = { 0, 0 };
	uint64_t		 t, pkts = 1000;

	assert_non_null(w);
	qwatch_quiet(w, 1);
	for (t = 1000; t < 100000; t += 1000) {
		pkts += 500;
		qwatch_update(w, rx, pkts, t, ev);
		assert_int_equal(ev[0], QWATCH_NONE);
		assert_int_equal(ev[1], QWATCH_NONE);
		assert_false(qwatch_queue(w, 0)->idle);
	}
	/* made master at t: idle idle_ms after the last update as backup
	   (99000), not before */
	qwatch_quiet(w, 0);
	for (; t < 99000 + 10000; t += 1000) {
		pkts += 500;
		qwatch_update(w, rx, pkts, t, ev);
		assert_int_equal(ev[0], QWATCH_NONE);
	}
	pkts += 500;
	qwatch_update(w, rx, pkts, t, ev);
	assert_int_equal(ev[0], QWATCH_IDLE);
	assert_int_equal(ev[1], QWATCH_IDLE);
	assert_int_equal(qwatch_queue(w, 0)->idle_pkts, 10 * 500);
	/* made backup again: the warning goes without an event, and a
	   packet then is no "arrive again" */
	qwatch_quiet(w, 1);
	assert_false(qwatch_queue(w, 0)->idle);
	assert_false(qwatch_queue(w, 1)->idle);
	rx[1] = 3;
	t += 1000;
	qwatch_update(w, rx, pkts + 500, t, ev);
	assert_int_equal(ev[0], QWATCH_NONE);
	assert_int_equal(ev[1], QWATCH_NONE);
	assert_int_equal(qwatch_queue(w, 1)->rx, 3);
	qwatch_free(w);
}

static void
test_netdev(void **state __attribute__((unused)))
{
	static const char dev[] =
	    "Inter-|   Receive                                                |  Transmit\n"
	    " face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed\n"
	    "    lo:    8134      99    0    0    0     0          0         0     8134      99    0    0    0     0       0          0\n"
	    "  eth0: 163511261    3216    0    0    0     0          0         0   159535    1953    0    0    0     0       0          0\n"
	    "veth-long-name0:10 7 0 0 0 0 0 0 20 3 0 0 0 0 0 0\n";
	uint64_t	 pkts = 0;

	assert_int_equal(qwatch_netdev_pkts(dev, &pkts), 0);
	assert_int_equal(pkts, 3216 + 1953 + 7 + 3);
	/* headers alone: no interface, no traffic */
	assert_int_equal(qwatch_netdev_pkts("a\nb\n", &pkts), 0);
	assert_int_equal(pkts, 0);
	pkts = 42;
	assert_int_equal(qwatch_netdev_pkts("", &pkts), -1);
	assert_int_equal(qwatch_netdev_pkts("only one line\n", &pkts), -1);
	assert_int_equal(qwatch_netdev_pkts("h\nh\neth0 1 2 3\n", &pkts), -1);
	assert_int_equal(qwatch_netdev_pkts("h\nh\neth0: 1 2 3\n", &pkts), -1);
	assert_int_equal(qwatch_netdev_pkts("h\nh\neth0: 1 2 3 4 5 6 7 8 9 x\n",
	    &pkts), -1);
	assert_int_equal(pkts, 42);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_idle_then_active),
		cmocka_unit_test(test_quiet_interfaces),
		cmocka_unit_test(test_window_and_gone_interface),
		cmocka_unit_test(test_quiet_backup),
		cmocka_unit_test(test_netdev),
	};

	return (cmocka_run_group_tests(tests, NULL, NULL));
}
