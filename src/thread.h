/*
 * thread.h - the daemon's threads, started with every signal blocked
 *
 * Copyright (C) 2026 The nfqspid authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * The main thread owns the signals (SIGHUP, SIGTERM and SIGINT through
 * its libevent base): every other thread, the workers, the fast path's,
 * the sync link's and the watchdog, starts with all of them blocked, so
 * the kernel never hands one to a thread that does not wait for it.
 * The threads the main thread ends itself (the watchdog, the systemd
 * pings of a reload and of the stop) end through a pipe: spi_stoppable.
 */
#ifndef NFQSPI_THREAD_H
#define NFQSPI_THREAD_H

#include <pthread.h>

/* pthread_create(t, NULL, fn, arg) with every signal blocked in the new
   thread; the caller's mask is kept.  0, or -1 with errno. */
int	 spi_thread_start(pthread_t *t, void *(*fn)(void *), void *arg);

/*
 * A thread that its starter stops through a pipe, not pthread_cancel()
 * (a cancelled thread unwinds past its frames' epilogues, and is cut
 * wherever it sleeps): it waits in spi_stoppable_wait(), and the write
 * end closed wakes it.  Zeroed, or after a failed start, it is stopped.
 */
struct spi_stoppable {
	pthread_t	 thread;
	int		 fd[2];
	int		 running;	/* the starter's alone */
};

/* spi_thread_start(fn, arg) with the pipe; 0, or -1 with errno and
   nothing left open. */
int	 spi_stoppable_start(struct spi_stoppable *s, void *(*fn)(void *),
	    void *arg);
/* The thread's wait: 1 told to stop, 0 after ms (a failed poll() too:
   the rest is slept, the stop seen within 10 ms). */
int	 spi_stoppable_wait(const struct spi_stoppable *s, int ms);
/* Tells it to stop and joins it; once more, or never started: nothing. */
void	 spi_stoppable_stop(struct spi_stoppable *s);

#endif /* NFQSPI_THREAD_H */
