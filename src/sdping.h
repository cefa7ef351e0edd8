/*
 * sdping.h - systemd's pings while the main thread cannot send them
 *
 * Copyright (C) 2026 The nfqspid authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * The main thread pings systemd (WATCHDOG=1) from a timer of its loop
 * (nfqspid.c), which does not run while that thread parses a file or
 * waits on a worker_call() without a deadline: a reload, conntrack
 * flush and delete, rules -Z.  Around such a wait, sdping_begin() and
 * sdping_end() have a thread of this file ping instead, every quarter
 * of $WATCHDOG_USEC, for SDPING_MAX s at most (watchdog.h): a wait that
 * never ends still ends us.  Before READY=1 there is no watchdog, but
 * a start timeout (systemd's default 90 s): around the start the thread
 * says EXTEND_TIMEOUT_USEC=SDPING_EXTEND_USEC every SDPING_EXTEND_MS
 * (more often with a short $WATCHDOG_USEC), the first after that long,
 * so a quick start says nothing.  The thread starts at the first
 * sdping_begin() that needs it, and stays while there is a watchdog to
 * ping.  Main thread only; nothing here waits.
 */
#ifndef NFQSPI_SDPING_H
#define NFQSPI_SDPING_H

#define SDPING_EXTEND_MS	1000		/* the start's, every */
#define SDPING_EXTEND_USEC	"20000000"	/* what each one grants */

enum sdping_kind {
	SDPING_CALL = 0,	/* WATCHDOG=1, with $WATCHDOG_USEC alone */
	SDPING_START = 1	/* EXTEND_TIMEOUT_USEC=, with $NOTIFY_SOCKET */
};

/*
 * The main thread is about to wait, or starts: pings from now on until
 * sdping_end(), SDPING_MAX s at most: from this call, or for the start
 * from its first SDPING_START, sdping_stop() between.  Nested, the
 * outer counts (its kind, its time).  For SDPING_CALL, a WATCHDOG=1
 * now if the last one is a quarter of $WATCHDOG_USEC old, so that no
 * gap is longer than the main loop's timer leaves.  Nothing to tell
 * systemd: nothing done.  A thread that cannot start is logged; the
 * wait goes on without.
 */
void	 sdping_begin(enum sdping_kind kind);
/* The wait is over; without $WATCHDOG_USEC the thread ends. */
void	 sdping_end(void);
/* The main loop's timer sent WATCHDOG=1 (the time of the last one). */
void	 sdping_sent(void);
/* The thread ended, nothing armed: before fork() and sdnotify_close(). */
void	 sdping_stop(void);

#endif /* NFQSPI_SDPING_H */
