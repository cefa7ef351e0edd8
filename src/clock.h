/*
 * clock.h - the daemon's one clock
 *
 * Copyright (C) 2026 The nfqspid authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * The tables, queues, sync, status and events all read the time here,
 * so that their deadlines and ages compare.  The pure modules (libspi.a)
 * never read it: they are given now_ms, so that a replay or a test sets
 * the time.  Unit tests that link a daemon file define spi_now_ms()
 * themselves.
 *
 * The wall clock is for what outlives a boot or a run (the state file's
 * stamps, the sync link's epoch); it is inline, so that a test that
 * stubs spi_now_ms() still reads the real one.
 */
#ifndef NFQSPI_CLOCK_H
#define NFQSPI_CLOCK_H

#include <stdint.h>
#include <time.h>

/* CLOCK_MONOTONIC in milliseconds: never goes back, not the wall time */
uint64_t	 spi_now_ms(void);

/* CLOCK_REALTIME in microseconds: may step, either way */
static inline uint64_t
spi_wall_us(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return ((uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000);
}

/* ts + ms, normalized: the deadlines the condition waits take */
static inline void
spi_ts_add_ms(struct timespec *ts, unsigned ms)
{
	ts->tv_sec += ms / 1000;
	ts->tv_nsec += (long)(ms % 1000) * 1000000L;
	if (ts->tv_nsec >= 1000000000L) {
		ts->tv_sec++;
		ts->tv_nsec -= 1000000000L;
	}
}

/* a before b */
static inline int
spi_ts_before(const struct timespec *a, const struct timespec *b)
{
	return (a->tv_sec < b->tv_sec ||
	    (a->tv_sec == b->tv_sec && a->tv_nsec < b->tv_nsec));
}

#endif /* NFQSPI_CLOCK_H */
