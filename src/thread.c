/*
 * thread.c - the daemon's threads, started with every signal blocked
 * (see thread.h)
 *
 * Copyright (C) 2026 The nfqspid authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include "autoconf.h"		/* first: _GNU_SOURCE */

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "thread.h"

#define STOPPABLE_SLICE_MS	10	/* a failed poll(): the stop is seen
					   within this */

int
spi_thread_start(pthread_t *t, void *(*fn)(void *), void *arg)
{
	sigset_t	 all, old;
	int		 rc;

	/* a new thread inherits the mask of the one that makes it */
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	rc = pthread_create(t, NULL, fn, arg);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc != 0) {
		errno = rc;
		return (-1);
	}
	return (0);
}

int
spi_stoppable_start(struct spi_stoppable *s, void *(*fn)(void *), void *arg)
{
	int	 e;

	s->running = 0;
	/* non-blocking: a failed poll() reads for the stop instead */
	if (pipe2(s->fd, O_CLOEXEC | O_NONBLOCK) == -1) {
		s->fd[0] = s->fd[1] = -1;
		return (-1);
	}
	if (spi_thread_start(&s->thread, fn, arg) == -1) {
		e = errno;
		close(s->fd[0]);
		close(s->fd[1]);
		s->fd[0] = s->fd[1] = -1;
		errno = e;
		return (-1);
	}
	s->running = 1;
	return (0);
}

/*
 * A poll() that fails (ENOMEM) must not end the wait early: the
 * watchdog counts waits, not seconds, and would end a healthy daemon.
 * The rest is slept in slices instead, and the stop's word is looked
 * for between them with a read() (the read end does not block): EOF is
 * the write end closed.  poll() is tried again each slice.
 */
static int
stoppable_nap(const struct spi_stoppable *s, uint64_t left)
{
	struct timespec	 ts;
	char		 c;

	if (read(s->fd[0], &c, 1) == 0)
		return (1);
	if (left > STOPPABLE_SLICE_MS)
		left = STOPPABLE_SLICE_MS;
	ts.tv_sec = 0;
	ts.tv_nsec = (long)left * 1000000;
	(void)nanosleep(&ts, NULL);
	return (0);
}

int
spi_stoppable_wait(const struct spi_stoppable *s, int ms)
{
	struct pollfd	 pfd = { s->fd[0], POLLIN, 0 };
	uint64_t	 now, until = spi_now_ms() + (ms > 0 ? (uint64_t)ms : 0);
	int		 n, left = ms;

	for (;;) {
		/* the write end closed: POLLHUP, never a byte */
		if ((n = poll(&pfd, 1, left)) != -1)
			return (n == 1);
		/* EINTR waits the rest: the thread blocks every signal */
		if (errno != EINTR && (now = spi_now_ms()) < until &&
		    stoppable_nap(s, until - now))
			return (1);
		if ((now = spi_now_ms()) >= until)
			return (0);
		left = (int)(until - now);
	}
}

void
spi_stoppable_stop(struct spi_stoppable *s)
{
	if (!s->running)
		return;
	close(s->fd[1]);
	pthread_join(s->thread, NULL);
	close(s->fd[0]);
	s->fd[0] = s->fd[1] = -1;
	s->running = 0;
}
