/*
 * accept.c - listeners that a flood cannot make spin
 *
 * Copyright (C) 2026 The nfqspid authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * An accept() that fails with EMFILE or ENFILE leaves the connection in
 * the listen queue and the listener readable: a callback that logs and
 * returns runs again at once, at full CPU, logging each time.  So, as
 * nginx and others do, we keep one spare descriptor: out of descriptors,
 * we close it, take the waiting connection and close that (its peer
 * hears at once instead of waiting in the queue), open the spare again,
 * and pause the listener, doubling the pause while it goes on.  One log
 * line per LOG_RL_SECS says how many were shed.
 */
#include "autoconf.h"		/* first: _GNU_SOURCE */

#include <sys/socket.h>

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "nfqspid.h"

#define ACCEPT_PAUSE_MIN	50	/* ms */
#define ACCEPT_PAUSE_MAX	1000

int
accept_guard_init(struct accept_guard *g, const char *who)
{
	memset(g, 0, sizeof(*g));
	g->who = who;
	g->pause_ms = ACCEPT_PAUSE_MIN;
	if ((g->spare = open("/dev/null", O_RDONLY | O_CLOEXEC)) == -1)
		return (-1);
	return (0);
}

void
accept_guard_free(struct accept_guard *g)
{
	if (g->spare != -1)
		close(g->spare);
	g->spare = -1;
}

void
accept_guard_ok(struct accept_guard *g)
{
	g->pause_ms = ACCEPT_PAUSE_MIN;
}

unsigned
accept_guard_fail(struct accept_guard *g, int lfd, int err)
{
	uint64_t	 held;
	unsigned	 pause;
	int		 fd;

	switch (err) {
	case EINTR:
	case EAGAIN:
	case ECONNABORTED:
		return (0);
	case EMFILE:
	case ENFILE:
		if (g->spare != -1) {
			close(g->spare);
			g->spare = -1;
		}
		if ((fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC)) != -1) {
			close(fd);
			g->shed++;
		}
		g->spare = open("/dev/null", O_RDONLY | O_CLOEXEC);
		break;
	case ENOBUFS:
	case ENOMEM:
		break;
	default:
		/* not about resources: log it, do not pause */
		if (log_rl(&g->rl, &held))
			log_warnx("%s: accept: %s", g->who, strerror(err));
		return (0);
	}
	pause = g->pause_ms;
	if (g->pause_ms < ACCEPT_PAUSE_MAX)
		g->pause_ms *= 2;
	if (log_rl(&g->rl, &held))
		log_warnx("%s: accept: %s: pausing %u ms, %llu connection%s "
		    "shed so far", g->who, strerror(err), pause,
		    (unsigned long long)g->shed, g->shed == 1 ? "" : "s");
	return (pause);
}
