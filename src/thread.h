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
 */
#ifndef NFQSPI_THREAD_H
#define NFQSPI_THREAD_H

#include <pthread.h>

/* pthread_create(t, NULL, fn, arg) with every signal blocked in the new
   thread; the caller's mask is kept.  0, or -1 with errno. */
int	 spi_thread_start(pthread_t *t, void *(*fn)(void *), void *arg);

#endif /* NFQSPI_THREAD_H */
