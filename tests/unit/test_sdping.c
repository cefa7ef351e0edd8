/*
 * test_sdping.c - cmocka tests for sdping.c (systemd's pings while the
 * main thread waits): WATCHDOG=1 at once when the last is old, then
 * every quarter of $WATCHDOG_USEC until the end, none after; none at
 * once when the main loop's timer has just pinged; nested waits count
 * as the outer one; EXTEND_TIMEOUT_USEC= at the start, the first after
 * a second, none without $NOTIFY_SOCKET or, for a call, without
 * $WATCHDOG_USEC.
 *
 * Copyright (C) 2026 The nfqspid authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <errno.h>
#include <poll.h>
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

#include "sdnotify.h"
#include "sdping.h"

static char	 name[64];
/* the listener, -1 when none: closed by teardown() on a failed test too */
static int	 lfd = -1;

/* A datagram socket of the test's own, and sdnotify_open() on it. */
static int
listener(const char *usec)
{
	struct sockaddr_un	 sun;
	socklen_t		 len;
	int			 fd;

	snprintf(name, sizeof(name), "@nfqspi-test-sdping-%ld",
	    (long)getpid());
	assert_int_equal(sdnotify_addr(name, &sun, &len), 0);
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	assert_true(fd != -1);
	lfd = fd;
	assert_int_equal(bind(fd, (struct sockaddr *)&sun, len), 0);
	setenv("NOTIFY_SOCKET", name, 1);
	if (usec != NULL)
		setenv("WATCHDOG_USEC", usec, 1);
	assert_int_equal(sdnotify_open(), 1);
	return (fd);
}

static void
done(int fd)
{
	sdping_stop();
	sdnotify_close();
	close(fd);
	lfd = -1;
}

/*
 * After every test, passed or failed: a failed assertion leaves the
 * test at once, and its bound name, ping thread or nesting would fail
 * every later test as well (at bind()).
 */
static int
teardown(void **state)
{
	(void)state;
	if (lfd != -1)
		done(lfd);
	sdping_stop();
	sdnotify_close();
	unsetenv("NOTIFY_SOCKET");
	unsetenv("WATCHDOG_USEC");
	return (0);
}

static long
now_ms(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (ts.tv_sec * 1000 + ts.tv_nsec / 1000000);
}

/*
 * The datagrams that come within ms, all of them want; how many.  What
 * a loaded box's late reader finds queued counts too: a bound on the
 * pings by the time they may have taken is "by now_ms() after it", not
 * "within ms".
 */
static int
count(int fd, int ms, const char *want)
{
	struct pollfd	 pfd = { fd, POLLIN, 0 };
	char		 buf[256];
	ssize_t		 r;
	int		 n = 0;
	long		 until, now;

	until = now_ms() + ms;
	for (;;) {
		now = now_ms();
		if (now >= until || poll(&pfd, 1, (int)(until - now)) != 1)
			return (n);
		r = recv(fd, buf, sizeof(buf) - 1, 0);
		assert_true(r > 0);
		buf[r] = '\0';
		assert_string_equal(buf, want);
		n++;
	}
}

/* $WATCHDOG_USEC 0.2 s: a ping at once, then every 50 ms; none after. */
static void
test_call(void **state)
{
	int	 fd = listener("200000"), n;
	long	 t0;

	(void)state;
	t0 = now_ms();
	sdping_begin(SDPING_CALL);
	/* one at once, the next not before 50 ms */
	n = count(fd, 20, "WATCHDOG=1");
	assert_true(n >= 1);
	assert_true(n <= 1 + (now_ms() - t0) / 50);
	/* some 8 in 0.4 s more; at least half of them on a loaded box */
	n += count(fd, 400, "WATCHDOG=1");
	assert_true(n >= 1 + 4);
	assert_true(n <= 2 + (now_ms() - t0) / 50);
	sdping_end();
	(void)count(fd, 20, "WATCHDOG=1");
	assert_int_equal(count(fd, 300, "WATCHDOG=1"), 0);
	done(fd);
}

/* The timer has just pinged: no ping at once; nested: the outer ends. */
static void
test_call_recent_nested(void **state)
{
	int	 fd = listener("400000"), n;
	long	 t0;

	(void)state;
	sdping_sent();
	t0 = now_ms();
	sdping_begin(SDPING_CALL);
	sdping_begin(SDPING_CALL);
	/* none before the first 100 ms */
	n = count(fd, 30, "WATCHDOG=1");
	assert_true(n <= (now_ms() - t0) / 100);
	sdping_end();
	assert_true(count(fd, 400, "WATCHDOG=1") >= 2);
	sdping_end();
	(void)count(fd, 20, "WATCHDOG=1");
	assert_int_equal(count(fd, 300, "WATCHDOG=1"), 0);
	/* more ends than begins do nothing */
	sdping_end();
	done(fd);
}

/* The start: nothing for a second, then EXTEND_TIMEOUT_USEC=. */
static void
test_start(void **state)
{
	int	 fd = listener(NULL), n;
	long	 t0;

	(void)state;
	t0 = now_ms();
	sdping_begin(SDPING_START);
	n = count(fd, 700, "EXTEND_TIMEOUT_USEC=20000000");
	assert_true(n <= (now_ms() - t0) / 1000);
	assert_true(count(fd, 1800, "EXTEND_TIMEOUT_USEC=20000000") >= 1);
	sdping_end();
	(void)count(fd, 20, "EXTEND_TIMEOUT_USEC=20000000");
	assert_int_equal(count(fd, 1200, "EXTEND_TIMEOUT_USEC=20000000"), 0);
	done(fd);
}

/* No $WATCHDOG_USEC: a call pings nothing; no socket: nothing at all. */
static void
test_none(void **state)
{
	int	 fd = listener(NULL);

	(void)state;
	sdping_begin(SDPING_CALL);
	assert_int_equal(count(fd, 300, "WATCHDOG=1"), 0);
	sdping_end();
	sdnotify_close();
	sdping_begin(SDPING_START);
	sdping_begin(SDPING_CALL);
	sdping_end();
	sdping_end();
	done(fd);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_call, teardown),
		cmocka_unit_test_teardown(test_call_recent_nested, teardown),
		cmocka_unit_test_teardown(test_start, teardown),
		cmocka_unit_test_teardown(test_none, teardown),
	};

	unsetenv("NOTIFY_SOCKET");
	unsetenv("WATCHDOG_USEC");
	unsetenv("WATCHDOG_PID");
	return (cmocka_run_group_tests(tests, NULL, NULL));
}
