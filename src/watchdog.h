/*
 * watchdog.h - what the watchdog thread (nfqspid.c) does about a worker
 * whose loop has not ticked: the decision, from two numbers; no I/O
 *
 * Copyright (C) 2026 The nfqspid authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * The thread checks every worker's heartbeat once a second and counts
 * the checks that found it unchanged ("stale"): checks, not elapsed
 * time, so that a SIGSTOPped daemon is not ended the moment it goes on.
 */
#ifndef NFQSPI_WATCHDOG_H
#define NFQSPI_WATCHDOG_H

#define WATCHDOG_CLOSE	2	/* checks without a tick: the queue fails
				   closed */
#define WATCHDOG_CHECKS	10	/* ... and not in a call: exit */
#define SDPING_MAX	120	/* s: the pings of a wait of the main thread
				   (sdping.h), at most: past systemd's
				   default start timeout (90 s), so a file
				   that can start can reload */
/*
 * ... and in a worker_call() (a reload, conntrack flush or delete,
 * rules -Z, the sync link's records): exit too, later.  Such a call is
 * busy, not hung, for as long as a reload may take: SDPING_MAX, past
 * which the main thread's pings to systemd stop and systemd ends us
 * anyway.  A call that has kept its worker out of its loop longer is
 * hung by that same measure, with systemd or without.  A healthy one
 * comes nowhere near: the call holds only a reload's linear passes over
 * the tables (the timeouts, a larger hash, what expired, the rate
 * table), the judging of every connection again runs in the worker's
 * loop, a slice at a time, which ticks; a listing or a delete of
 * connections goes a slice a call.
 */
#define WATCHDOG_CALL_CHECKS	SDPING_MAX

enum watchdog_act {
	WATCHDOG_RUNS = 0,	/* nothing to do (yet) */
	WATCHDOG_FAIL_CLOSED,	/* its queue stops failing open */
	WATCHDOG_EXIT		/* hung: log, _exit(1), systemd restarts */
};

/* After stale checks without a tick, the worker in a call or not. */
static inline enum watchdog_act
watchdog_act(unsigned stale, int incall)
{
	if (stale == WATCHDOG_CLOSE)
		return (WATCHDOG_FAIL_CLOSED);
	if (stale >= (incall ? WATCHDOG_CALL_CHECKS : WATCHDOG_CHECKS))
		return (WATCHDOG_EXIT);
	return (WATCHDOG_RUNS);
}

#endif /* NFQSPI_WATCHDOG_H */
