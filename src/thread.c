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
#include <unistd.h>

#include "thread.h"

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
	if (pipe2(s->fd, O_CLOEXEC) == -1) {
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

int
spi_stoppable_wait(const struct spi_stoppable *s, int ms)
{
	struct pollfd	 pfd = { s->fd[0], POLLIN, 0 };
	int		 n;

	/* EINTR waits ms again: the thread blocks every signal anyway */
	while ((n = poll(&pfd, 1, ms)) == -1 && errno == EINTR)
		;
	/* the write end closed: POLLHUP, never a byte */
	return (n == 1);
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
