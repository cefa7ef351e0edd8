/*
 * sync_int.h - what the sync thread (sync.c), the workers' side of it
 * (worker_sync.c) and its tests share
 *
 * Copyright (C) 2026 The nfqspid authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * The link's logic and the rings the workers fill are synclink.h's;
 * struct sync is its shell in the daemon: the socket, the thread's
 * events, the commands from the main thread, the published status.
 */
#ifndef NFQSPI_SYNC_INT_H
#define NFQSPI_SYNC_INT_H

#include <pthread.h>

#include "nfqspid.h"
#include "synclink.h"

/* Connections given up for a home that had stopped (sync_call()). */
struct sync_later {
	struct sync_later	*next;
	unsigned		 wi;
	int			 keep;
	size_t			 n;
	struct sync_rec		 rec[];
};

struct sync {
	struct synclink		 lk;		/* the sync thread's */
	struct worker		**workers;
	int			 fd;
	struct event_base	*base;
	struct event		*rev, *flushev, *aliveev, *wakeev, *cmdev;
	pthread_t		 thread;
	int			 started;
	int			 wake_pending;	/* atomic */
	int			 cmd_role;	/* atomic: -1 none */
	int			 cmd_resync;	/* atomic */
	struct log_rl		 rl;		/* audits of refused messages */
	int			 unsent_said;	/* the thread's: "not sent"
					   logged once, at info */
	uint64_t		*unseen;	/* atomic, a line of its own: the
					   workers' synced, summed */
	struct sync_later	*later;		/* homes that had stopped: the
					   thread's, then sync_stop()'s */

	pthread_mutex_t		 mtx;		/* pub, for the main thread */
	struct sync_status	 pub;

	uint8_t			 rxbuf[SYNC_MSG_MAX + 1];
};

/* sync.c, for the tests: one step of the thread at now */
void	 sync_datagram(struct sync *, const void *buf, size_t len,
	    const struct sockaddr_storage *from, uint64_t now);
void	 sync_pump(struct sync *, uint64_t now);
void	 sync_alive(struct sync *, uint64_t now);
void	 sync_command(struct sync *, uint64_t now);
void	 sync_publish(struct sync *, uint64_t now);

/* worker_sync.c: the record of e, as a change (sync_ct()) and the bulk
   send it */
void	 sync_rec_fill(struct sync_rec *r, uint8_t op,
	    const struct ct_table *t, const struct ct_entry *e,
	    const struct config *cfg);

/* worker_sync.c, run in the worker's thread by worker_call() */
void	 worker_sync_apply(struct worker *, void *batch);
void	 worker_sync_slice(struct worker *, void *slice);
void	 worker_sync_grace(struct worker *, void *until_ms);
void	 worker_sync_resync(struct worker *, void *unused);
void	 worker_sync_resync_end(struct worker *, void *unused);
void	 worker_sync_sweep(struct worker *, void *sweep);
void	 worker_sync_away(struct worker *, void *slice);
void	 worker_sync_home(struct worker *, void *batch);
void	 worker_sync_fence(struct worker *, void *unused);

#endif /* NFQSPI_SYNC_INT_H */
