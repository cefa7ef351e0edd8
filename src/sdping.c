/*
 * sdping.c - systemd's pings while the main thread cannot send them
 *
 * Copyright (C) 2026 The nfqspid authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * One thread, woken by nothing but its period: the main thread only
 * stores what it is doing in one word (sp_armed), so that a wait of a
 * millisecond (one slice of a flush) costs two stores, not a thread
 * and a datagram.  The thread looks every quarter of $WATCHDOG_USEC:
 * its first ping comes within that of sdping_begin(), which pinged
 * itself if the main loop's last was older, so no gap is longer than
 * half $WATCHDOG_USEC, as with the main loop's timer.
 */
#include "autoconf.h"		/* first: _GNU_SOURCE */

#include <pthread.h>
#include <stdint.h>

#include "nfqspid.h"
#include "clock.h"
#include "sdnotify.h"
#include "sdping.h"
#include "thread.h"
#include "watchdog.h"

static struct spi_stoppable	 sp_st;
static unsigned			 sp_depth;	/* nested begins */
/* atomic: 0 none, or since (spi_now_ms()) << 2 | 2 | kind */
static uint64_t			 sp_armed;
/* atomic: spi_now_ms() of the last WATCHDOG=1, from either thread */
static uint64_t			 sp_last;
/* the thread's periods, set before it starts */
static int			 sp_call_ms, sp_start_ms;
static int			 sp_warned;
/* the first SDPING_START's: the start, stopped across fork() and the
   privileges' drop, has SDPING_MAX in all */
static uint64_t			 sp_start_since;

/* ms, clamped to what a wait takes (at least 1) */
static int
sdping_clamp(uint64_t ms)
{
	return (ms < 1 ? 1 : ms > INT32_MAX ? INT32_MAX : (int)ms);
}

static void
sdping_watchdog(void)
{
	if (sdnotify_send_now("WATCHDOG=1") == 0)
		__atomic_store_n(&sp_last, spi_now_ms(), __ATOMIC_SEQ_CST);
}

static void *
sdping_main(void *arg)
{
	uint64_t	 a;

	(void)arg;
	(void)pthread_setname_np(pthread_self(), "nfqspid-sdping");
	for (;;) {
		a = __atomic_load_n(&sp_armed, __ATOMIC_SEQ_CST);
		if (spi_stoppable_wait(&sp_st, (a & 3) == (2 | SDPING_START) ?
		    sp_start_ms : sp_call_ms))
			break;
		/* what is armed now: the wait may have ended meanwhile */
		a = __atomic_load_n(&sp_armed, __ATOMIC_SEQ_CST);
		if (a == 0 || spi_now_ms() - (a >> 2) >= SDPING_MAX * 1000ULL)
			continue;
		if ((a & 1) == SDPING_START)
			(void)sdnotify_send_now("EXTEND_TIMEOUT_USEC="
			    SDPING_EXTEND_USEC);
		else
			sdping_watchdog();
	}
	return (NULL);
}

static void
sdping_start(void)
{
	uint64_t	 q = sdnotify_watchdog_usec() / 4000;

	sp_call_ms = sdping_clamp(q);
	sp_start_ms = q > 0 && q < SDPING_EXTEND_MS ? sdping_clamp(q) :
	    SDPING_EXTEND_MS;
	if (spi_stoppable_start(&sp_st, sdping_main, NULL) == 0) {
		sp_warned = 0;
		return;
	}
	/* once, not once a slice of a flush */
	if (!sp_warned++)
		log_warn("systemd's pings: cannot start their thread");
}

void
sdping_begin(enum sdping_kind kind)
{
	uint64_t	 now, usec = sdnotify_watchdog_usec();

	if (sp_depth++ > 0 || !sdnotify_active() ||
	    (kind == SDPING_CALL && usec == 0))
		return;
	now = spi_now_ms();
	if (kind == SDPING_START && sp_start_since == 0)
		sp_start_since = now;
	/* before the thread starts: its first wait is the kind's */
	__atomic_store_n(&sp_armed, (kind == SDPING_START ? sp_start_since :
	    now) << 2 | 2 | (uint64_t)kind, __ATOMIC_SEQ_CST);
	if (kind == SDPING_CALL && now - __atomic_load_n(&sp_last,
	    __ATOMIC_SEQ_CST) >= usec / 4000)
		sdping_watchdog();
	if (!sp_st.running)
		sdping_start();
}

void
sdping_end(void)
{
	if (sp_depth == 0 || --sp_depth > 0)
		return;
	__atomic_store_n(&sp_armed, 0, __ATOMIC_SEQ_CST);
	/* no watchdog: nothing to ping until the next start */
	if (sdnotify_watchdog_usec() == 0)
		sdping_stop();
}

void
sdping_sent(void)
{
	__atomic_store_n(&sp_last, spi_now_ms(), __ATOMIC_SEQ_CST);
}

void
sdping_stop(void)
{
	sp_depth = 0;
	__atomic_store_n(&sp_armed, 0, __ATOMIC_SEQ_CST);
	spi_stoppable_stop(&sp_st);
}
