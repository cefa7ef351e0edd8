/*
 * test_sdnotify.c - cmocka tests for sdnotify.c (systemd's notify
 * protocol): the address $NOTIFY_SOCKET names, path and abstract, and
 * what is refused; the environment taken away; datagrams that arrive
 * whole at a socket of the test's own; the last STATUS= of a process on
 * its way out; no send waits on a socket whose queue is full; a state
 * line (READY=1) the full queue refused is kept and sent again, and a
 * RELOADING=1 kept goes with the READY=1 after it, first.
 *
 * Copyright (C) 2026 The nfqspid authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include "autoconf.h"		/* first: _GNU_SOURCE, for RUSAGE_THREAD */

#include <sys/types.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <time.h>

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "sdnotify.h"

/* A path: NUL-terminated, its length counted with the NUL. */
static void
test_addr_path(void **state)
{
	struct sockaddr_un	 sun;
	socklen_t		 len;

	(void)state;
	assert_int_equal(sdnotify_addr("/run/systemd/notify", &sun, &len), 0);
	assert_int_equal(sun.sun_family, AF_UNIX);
	assert_string_equal(sun.sun_path, "/run/systemd/notify");
	assert_int_equal(len, offsetof(struct sockaddr_un, sun_path) +
	    strlen("/run/systemd/notify") + 1);
}

/* '@': a leading NUL, the name after it, its length exact. */
static void
test_addr_abstract(void **state)
{
	struct sockaddr_un	 sun;
	socklen_t		 len;

	(void)state;
	assert_int_equal(sdnotify_addr("@sd/x", &sun, &len), 0);
	assert_int_equal(sun.sun_path[0], '\0');
	assert_memory_equal(sun.sun_path + 1, "sd/x", 4);
	assert_int_equal(len, offsetof(struct sockaddr_un, sun_path) + 5);
}

/* Empty, relative, a bare '@', another kind, too long: refused. */
static void
test_addr_refused(void **state)
{
	struct sockaddr_un	 sun;
	socklen_t		 len;
	char			 name[sizeof(sun.sun_path) + 2];

	(void)state;
	errno = 0;
	assert_int_equal(sdnotify_addr("", &sun, &len), -1);
	assert_int_equal(errno, EINVAL);
	assert_int_equal(sdnotify_addr("run/notify", &sun, &len), -1);
	assert_int_equal(errno, EINVAL);
	assert_int_equal(sdnotify_addr("@", &sun, &len), -1);
	assert_int_equal(errno, EINVAL);
	assert_int_equal(sdnotify_addr("vsock:2:1234", &sun, &len), -1);
	assert_int_equal(errno, EINVAL);

	/* a path of sizeof(sun_path) - 1 bytes fits with its NUL */
	memset(name, 'a', sizeof(name));
	name[0] = '/';
	name[sizeof(sun.sun_path) - 1] = '\0';
	assert_int_equal(sdnotify_addr(name, &sun, &len), 0);
	name[sizeof(sun.sun_path) - 1] = 'a';
	name[sizeof(sun.sun_path)] = '\0';
	assert_int_equal(sdnotify_addr(name, &sun, &len), -1);
	assert_int_equal(errno, ENAMETOOLONG);
	/* an abstract name of sizeof(sun_path) bytes, '@' counted, fits */
	name[0] = '@';
	assert_int_equal(sdnotify_addr(name, &sun, &len), 0);
	assert_int_equal(len, sizeof(sun));
	name[sizeof(sun.sun_path)] = 'a';
	name[sizeof(sun.sun_path) + 1] = '\0';
	assert_int_equal(sdnotify_addr(name, &sun, &len), -1);
	assert_int_equal(errno, ENAMETOOLONG);
}

/* A datagram socket of the test's own, bound to name (path or '@') */
static int
listener(const char *name)
{
	struct sockaddr_un	 sun;
	socklen_t		 len;
	int			 fd;

	assert_int_equal(sdnotify_addr(name, &sun, &len), 0);
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	assert_true(fd != -1);
	assert_int_equal(bind(fd, (struct sockaddr *)&sun, len), 0);
	return (fd);
}

static void
expect_msg(int fd, const char *want)
{
	char	 buf[SDNOTIFY_MAX + 16];
	ssize_t	 n;

	n = recv(fd, buf, sizeof(buf) - 1, MSG_DONTWAIT);
	assert_int_equal(n, (ssize_t)strlen(want));
	buf[n] = '\0';
	assert_string_equal(buf, want);
}

/*
 * An abstract listener of the test's own, "@nfqspi-test-sdnotify-TAG-PID"
 * in name[64], opened as $NOTIFY_SOCKET: its descriptor.
 */
static int
open_abstract(char *name, const char *tag)
{
	int	 fd;

	snprintf(name, 64, "@nfqspi-test-sdnotify-%s%ld", tag,
	    (long)getpid());
	fd = listener(name);
	setenv("NOTIFY_SOCKET", name, 1);
	assert_int_equal(sdnotify_open(), 1);
	return (fd);
}

/* Sent to a path; the environment is gone once read. */
static void
test_send_path(void **state)
{
	char	 dir[] = "/tmp/nfqspi-sdn.XXXXXX", path[64];
	int	 fd;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/notify", dir);
	fd = listener(path);
	setenv("NOTIFY_SOCKET", path, 1);
	unsetenv("WATCHDOG_USEC");
	assert_int_equal(sdnotify_open(), 1);
	assert_null(getenv("NOTIFY_SOCKET"));
	assert_int_equal(sdnotify_active(), 1);
	assert_int_equal(sdnotify_watchdog_usec(), 0);
	assert_int_equal(sdnotify_send("READY=1\nSTATUS=up"), 0);
	expect_msg(fd, "READY=1\nSTATUS=up");
	assert_int_equal(sdnotify_sendf("STATUS=%s %d", "n", 3), 0);
	expect_msg(fd, "STATUS=n 3");
	sdnotify_close();
	assert_int_equal(sdnotify_active(), 0);
	/* closed: nothing to tell, not a failure */
	assert_int_equal(sdnotify_send("READY=1"), 0);
	close(fd);
	unlink(path);
	rmdir(dir);
}

/* Abstract; a long message is cut at SDNOTIFY_MAX - 1 by sendf, refused
   whole by send. */
static void
test_send_abstract(void **state)
{
	char	 name[64], *big;
	int	 fd;

	(void)state;
	fd = open_abstract(name, "");
	assert_int_equal(sdnotify_send("STOPPING=1"), 0);
	expect_msg(fd, "STOPPING=1");

	big = malloc(SDNOTIFY_MAX + 10);
	assert_non_null(big);
	memset(big, 'x', SDNOTIFY_MAX + 9);
	big[SDNOTIFY_MAX + 9] = '\0';
	errno = 0;
	assert_int_equal(sdnotify_send(big), -1);
	assert_int_equal(errno, EMSGSIZE);
	assert_int_equal(sdnotify_sendf("%s", big), 0);
	big[SDNOTIFY_MAX - 1] = '\0';
	expect_msg(fd, big);
	free(big);
	sdnotify_close();
	close(fd);
}

/* Nobody listening: a send fails (systemd should be there) */
static void
test_send_nobody(void **state)
{
	(void)state;
	setenv("NOTIFY_SOCKET", "/nonexistent/notify", 1);
	assert_int_equal(sdnotify_open(), 1);
	assert_int_equal(sdnotify_send("READY=1"), -1);
	sdnotify_close();
}

/* No $NOTIFY_SOCKET: 0 and nothing to do; a bad one: -1, nothing sent;
   either way the variables are gone. */
static void
test_open_none_bad(void **state)
{
	(void)state;
	unsetenv("NOTIFY_SOCKET");
	setenv("WATCHDOG_USEC", "1000000", 1);
	assert_int_equal(sdnotify_open(), 0);
	assert_int_equal(sdnotify_active(), 0);
	assert_null(getenv("WATCHDOG_USEC"));
	assert_int_equal(sdnotify_send("READY=1"), 0);

	setenv("NOTIFY_SOCKET", "relative", 1);
	errno = 0;
	assert_int_equal(sdnotify_open(), -1);
	assert_int_equal(errno, EINVAL);
	assert_int_equal(sdnotify_active(), 0);
	assert_null(getenv("NOTIFY_SOCKET"));
}

/* $WATCHDOG_USEC: ours when $WATCHDOG_PID is unset or our pid */
static void
test_watchdog_env(void **state)
{
	char	 pid[32];

	(void)state;
	snprintf(pid, sizeof(pid), "%ld", (long)getpid());
	setenv("NOTIFY_SOCKET", "/nonexistent/notify", 1);
	setenv("WATCHDOG_USEC", "400000", 1);
	unsetenv("WATCHDOG_PID");
	assert_int_equal(sdnotify_open(), 1);
	assert_int_equal(sdnotify_watchdog_usec(), 400000);
	assert_null(getenv("WATCHDOG_USEC"));

	setenv("NOTIFY_SOCKET", "/nonexistent/notify", 1);
	setenv("WATCHDOG_USEC", "400000", 1);
	setenv("WATCHDOG_PID", pid, 1);
	assert_int_equal(sdnotify_open(), 1);
	assert_int_equal(sdnotify_watchdog_usec(), 400000);
	assert_null(getenv("WATCHDOG_PID"));

	setenv("NOTIFY_SOCKET", "/nonexistent/notify", 1);
	setenv("WATCHDOG_USEC", "400000", 1);
	setenv("WATCHDOG_PID", "1", 1);
	assert_int_equal(sdnotify_open(), 1);
	assert_int_equal(sdnotify_watchdog_usec(), 0);

	setenv("NOTIFY_SOCKET", "/nonexistent/notify", 1);
	setenv("WATCHDOG_USEC", "4x", 1);
	assert_int_equal(sdnotify_open(), 1);
	assert_int_equal(sdnotify_watchdog_usec(), 0);
	sdnotify_close();
	assert_int_equal(sdnotify_watchdog_usec(), 0);
}

/*
 * Fills the queue of the listener at name: datagrams from fillers of
 * their own until a fresh one cannot send (each sender's buffer may
 * run out before the listener's queue does).  The fillers stay open in
 * fds[], their count returned.
 */
static int
fill_queue(const char *name, int *fds, int max)
{
	struct sockaddr_un	 sun;
	socklen_t		 len;
	int			 n, i;

	assert_int_equal(sdnotify_addr(name, &sun, &len), 0);
	for (n = 0; n < max; n++) {
		fds[n] = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
		assert_true(fds[n] != -1);
		for (i = 0; sendto(fds[n], "x", 1, MSG_DONTWAIT,
		    (struct sockaddr *)&sun, len) == 1; i++)
			;
		assert_int_equal(errno, EAGAIN);
		if (i == 0)
			return (n + 1);
	}
	fail_msg("the listener's queue never filled");
	return (n);
}

/* The fillers of fill_queue() closed: their datagrams leave the queue. */
static void
unfill(int *fds, int n)
{
	int	 i;

	for (i = 0; i < n; i++)
		close(fds[i]);
}

/*
 * What a send may cost: no sleep of a second (the old one slept 1 s on
 * a full queue), no spin instead (well under a second of CPU).  This
 * thread's counts, not the clock's: a loaded machine (valgrind, 2
 * cores) that stalls the test preempts it, which is not a sleep.  A
 * stop (SIGSTOP, ptrace) counts as one, hence the clock as well.
 */
struct nowait {
	long		 sleeps;	/* voluntary context switches */
	uint64_t	 cpu_ms;
	uint64_t	 wall_ms;
};

static void
nowait_count(struct nowait *nw)
{
	struct rusage	 ru;
	struct timespec	 ts;

	assert_int_equal(getrusage(RUSAGE_THREAD, &ru), 0);
	nw->sleeps = ru.ru_nvcsw;
	nw->cpu_ms = ((uint64_t)ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) *
	    1000 + (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1000;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	nw->wall_ms = (uint64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* since nowait_count(t0): no sleep, or none as long as the old one's
   1 s; under 500 ms of CPU */
static void
assert_nowait(const struct nowait *t0)
{
	struct nowait	 t1;

	nowait_count(&t1);
	assert_true(t1.sleeps == t0->sleeps ||
	    t1.wall_ms - t0->wall_ms < 700);
	assert_true(t1.cpu_ms - t0->cpu_ms < 500);
}

/* A full queue (systemd busy or stopped): EAGAIN at once, the message
   dropped; the main loop does not wait (it once waited 1 s). */
static void
test_send_full(void **state)
{
	char		 name[64];
	int		 fd, fds[64], n;
	struct nowait	 t0;

	(void)state;
	fd = open_abstract(name, "full-");
	n = fill_queue(name, fds, 64);
	nowait_count(&t0);
	errno = 0;
	assert_int_equal(sdnotify_send("WATCHDOG=1"), -1);
	assert_int_equal(errno, EAGAIN);
	assert_int_equal(sdnotify_sendf("STATUS=%s", "busy"), -1);
	assert_nowait(&t0);
	unfill(fds, n);
	sdnotify_close();
	close(fd);
}

/*
 * A state line (READY=1) the full queue does not take is kept, not
 * dropped, and nothing waits; sent again once there is room; a newer
 * state line replaces it; closing forgets it.
 */
static void
test_state_kept(void **state)
{
	char		 name[64], buf[64];
	int		 fd, fds[64], n;
	struct nowait	 t0;

	(void)state;
	fd = open_abstract(name, "kept-");
	/* room: sent at once, nothing kept */
	assert_int_equal(sdnotify_state("READY=1"), 0);
	assert_null(sdnotify_kept());
	expect_msg(fd, "READY=1");
	assert_int_equal(sdnotify_resend(), 0);

	n = fill_queue(name, fds, 64);
	nowait_count(&t0);
	assert_int_equal(sdnotify_state("READY=1\nSTATUS=old"), 1);
	assert_string_equal(sdnotify_kept(), "READY=1\nSTATUS=old");
	assert_int_equal(sdnotify_resend(), 1);
	assert_int_equal(sdnotify_state("READY=1\nSTATUS=up"), 1);
	assert_string_equal(sdnotify_kept(), "READY=1\nSTATUS=up");
	assert_int_equal(sdnotify_resend(), 1);
	assert_nowait(&t0);
	/* a STATUS= line is still dropped, the state line stays kept */
	assert_int_equal(sdnotify_send("STATUS=busy"), -1);
	assert_non_null(sdnotify_kept());

	/* systemd reads again: the fillers' lines, then the kept one */
	while (recv(fd, buf, sizeof(buf), MSG_DONTWAIT) > 0)
		;
	assert_int_equal(sdnotify_resend(), 0);
	assert_null(sdnotify_kept());
	expect_msg(fd, "READY=1\nSTATUS=up");
	assert_int_equal(sdnotify_resend(), 0);

	/* kept, then the socket closed: forgotten */
	unfill(fds, n);
	n = fill_queue(name, fds, 64);
	assert_int_equal(sdnotify_state("READY=1"), 1);
	sdnotify_close();
	assert_null(sdnotify_kept());
	assert_int_equal(sdnotify_resend(), 0);
	unfill(fds, n);
	close(fd);
}

/* Which READY=1 takes the RELOADING=1 kept with it. */
static void
test_state_joins(void **state)
{
	const char	*rl = "RELOADING=1\nMONOTONIC_USEC=5\nSTATUS=r";

	(void)state;
	assert_int_equal(sdnotify_joins(rl, "READY=1\nSTATUS=up"), 1);
	assert_int_equal(sdnotify_joins(rl, "READY=1"), 1);
	/* a RELOADING=1 and READY=1 kept together: still unseen */
	assert_int_equal(sdnotify_joins("RELOADING=1\nREADY=1", "READY=1"),
	    1);
	assert_int_equal(sdnotify_joins(NULL, "READY=1"), 0);
	assert_int_equal(sdnotify_joins("READY=1", "READY=1"), 0);
	assert_int_equal(sdnotify_joins(rl, "RELOADING=1\nMONOTONIC_USEC=6"),
	    0);
	assert_int_equal(sdnotify_joins(rl, "RELOADING=1\nREADY=1"), 0);
	assert_int_equal(sdnotify_joins(rl, "STATUS=READY=1"), 0);
	assert_int_equal(sdnotify_joins("STATUS=RELOADING=1", "READY=1"), 0);
}

/* drains what the fillers sent (systemd reading again) */
static void
drain(int fd)
{
	char	 buf[64];

	while (recv(fd, buf, sizeof(buf), MSG_DONTWAIT) > 0)
		;
}

/*
 * A RELOADING=1 the full queue kept, then the READY=1 that ends the
 * reload: the two go in one datagram, RELOADING=1 and its
 * MONOTONIC_USEC= first (systemd's notify-reload ignores a READY=1 that
 * comes without it), its STATUS= left out; whether the queue has room
 * by then or not.
 */
static void
test_state_reload_kept(void **state)
{
	const char	*rl = "RELOADING=1\nMONOTONIC_USEC=123\nSTATUS=r";
	const char	*both = "RELOADING=1\nMONOTONIC_USEC=123\n"
			    "READY=1\nSTATUS=up";
	char		 name[64], *big, want[SDNOTIFY_MAX];
	int		 fd, fds[64], n, i;

	(void)state;
	fd = open_abstract(name, "rl-");

	/* still full at READY=1: kept, the two together */
	n = fill_queue(name, fds, 64);
	assert_int_equal(sdnotify_state(rl), 1);
	assert_int_equal(sdnotify_state("READY=1\nSTATUS=up"), 1);
	assert_string_equal(sdnotify_kept(), both);
	/* a later READY=1 still carries the RELOADING=1 never sent */
	assert_int_equal(sdnotify_state("READY=1\nSTATUS=up"), 1);
	assert_string_equal(sdnotify_kept(), both);
	drain(fd);
	assert_int_equal(sdnotify_resend(), 0);
	expect_msg(fd, both);
	/* RELOADING=1 seen: the next READY=1 goes alone */
	assert_int_equal(sdnotify_state("READY=1"), 0);
	expect_msg(fd, "READY=1");

	/* room again by READY=1: the two sent at once */
	unfill(fds, n);
	n = fill_queue(name, fds, 64);
	assert_int_equal(sdnotify_state(rl), 1);
	drain(fd);
	assert_int_equal(sdnotify_state("READY=1\nSTATUS=up"), 0);
	assert_null(sdnotify_kept());
	expect_msg(fd, both);

	/* a READY=1 as long as a datagram may be: cut to fit */
	unfill(fds, n);
	n = fill_queue(name, fds, 64);
	assert_int_equal(sdnotify_state(rl), 1);
	big = malloc(SDNOTIFY_MAX);
	assert_non_null(big);
	memset(big, 's', SDNOTIFY_MAX - 1);
	big[SDNOTIFY_MAX - 1] = '\0';
	memcpy(big, "READY=1\nSTATUS=", 15);
	assert_int_equal(sdnotify_state(big), 1);
	i = snprintf(want, sizeof(want), "RELOADING=1\nMONOTONIC_USEC=123\n");
	memcpy(want + i, big, SDNOTIFY_MAX - 1 - i);
	want[SDNOTIFY_MAX - 1] = '\0';
	assert_string_equal(sdnotify_kept(), want);
	drain(fd);
	assert_int_equal(sdnotify_resend(), 0);
	expect_msg(fd, want);
	free(big);

	unfill(fds, n);
	sdnotify_close();
	close(fd);
}

/* Nobody listening: a state line is not kept (it never would go). */
static void
test_state_nobody(void **state)
{
	(void)state;
	setenv("NOTIFY_SOCKET", "/nonexistent/notify", 1);
	assert_int_equal(sdnotify_open(), 1);
	assert_int_equal(sdnotify_state("READY=1"), -1);
	assert_null(sdnotify_kept());
	sdnotify_close();
	/* no socket: nobody to tell, not a failure */
	assert_int_equal(sdnotify_state("READY=1"), 0);
	assert_null(sdnotify_kept());
}

/* The last words: STATUS= prefix why, one line, cut to fit, errno kept,
   ERRNO= after it when given; nothing when closed; never a wait on a
   full queue. */
static void
test_status_now(void **state)
{
	char		 name[64], why[SDNOTIFY_MAX + 100], want[SDNOTIFY_MAX];
	int		 fd, fds[64], n;
	struct nowait	 t0;

	(void)state;
	fd = open_abstract(name, "now-");
	errno = EIO;
	sdnotify_status_now("exiting: ", "worker 0\nhung", 0);
	assert_int_equal(errno, EIO);
	expect_msg(fd, "STATUS=exiting: worker 0 hung");
	sdnotify_status_now("exiting: ", "fork: No such file", ENOENT);
	assert_int_equal(errno, EIO);
	expect_msg(fd, "STATUS=exiting: fork: No such file\nERRNO=2");
	sdnotify_status_now("", "big", 2147483647);
	expect_msg(fd, "STATUS=big\nERRNO=2147483647");

	memset(why, 'y', sizeof(why) - 1);
	why[sizeof(why) - 1] = '\0';
	sdnotify_status_now("x: ", why, 0);
	/* what fits: the prefix, then why up to SDNOTIFY_MAX - 1 */
	memcpy(want, "STATUS=x: ", 10);
	memcpy(want + 10, why, SDNOTIFY_MAX - 11);
	want[SDNOTIFY_MAX - 1] = '\0';
	expect_msg(fd, want);
	/* ...and with ERRNO=, STATUS= gives it room */
	sdnotify_status_now("x: ", why, 113);
	memcpy(want + SDNOTIFY_MAX - 1 - 10, "\nERRNO=113", 10);
	expect_msg(fd, want);

	n = fill_queue(name, fds, 64);
	nowait_count(&t0);
	sdnotify_status_now("exiting: ", "nobody reads", EIO);
	assert_nowait(&t0);
	unfill(fds, n);
	sdnotify_close();
	close(fd);
	/* closed: nothing, and no crash */
	sdnotify_status_now("exiting: ", "after close", 0);
}

/* Any thread's datagram: sent as it is, errno kept; a full queue drops
   it at once; nothing to do when closed. */
static void
test_send_now(void **state)
{
	char		 name[64];
	int		 fd, fds[64], n;
	struct nowait	 t0;

	(void)state;
	fd = open_abstract(name, "sn-");
	errno = EIO;
	assert_int_equal(sdnotify_send_now("WATCHDOG=1"), 0);
	assert_int_equal(errno, EIO);
	expect_msg(fd, "WATCHDOG=1");
	n = fill_queue(name, fds, 64);
	errno = EIO;
	nowait_count(&t0);
	assert_int_equal(sdnotify_send_now("WATCHDOG=1"), -1);
	assert_int_equal(errno, EIO);
	assert_nowait(&t0);
	unfill(fds, n);
	sdnotify_close();
	close(fd);
	assert_int_equal(sdnotify_send_now("WATCHDOG=1"), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_addr_path),
		cmocka_unit_test(test_addr_abstract),
		cmocka_unit_test(test_addr_refused),
		cmocka_unit_test(test_send_path),
		cmocka_unit_test(test_send_abstract),
		cmocka_unit_test(test_send_nobody),
		cmocka_unit_test(test_open_none_bad),
		cmocka_unit_test(test_watchdog_env),
		cmocka_unit_test(test_status_now),
		cmocka_unit_test(test_send_now),
		cmocka_unit_test(test_send_full),
		cmocka_unit_test(test_state_kept),
		cmocka_unit_test(test_state_joins),
		cmocka_unit_test(test_state_reload_kept),
		cmocka_unit_test(test_state_nobody),
	};

	return (cmocka_run_group_tests(tests, NULL, NULL));
}
