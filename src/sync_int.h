/*
 * sync_int.h - what the sync thread (sync.c), the workers' side of it
 * (worker_sync.c) and its printing (sync_print.c) share
 *
 * Copyright (C) 2026 The nfqspid authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * A worker hands its table's changes to the sync thread through a ring
 * of its own (one producer, one consumer, no lock), already exported
 * (ct_export()) with the rule's name, as struct sync_rec.  A full ring
 * loses the change and says so (lost): the sync thread then sends the
 * whole table, so the worker never waits.  Everything else the sync
 * thread asks of a worker (apply what the peer sent, a slice of the
 * table for a bulk, the window grace of a new master) goes through
 * worker_call() with the structures below.
 */
#ifndef NFQSPI_SYNC_INT_H
#define NFQSPI_SYNC_INT_H

#include <pthread.h>

#include "nfqspid.h"
#include "cacheline.h"
#include "syncproto.h"
#include "syncseq.h"

#define SYNC_ALIVE_MS	1000	/* an ALIVE at least this often */
#define SYNC_DEAD_MS	3500	/* not heard this long: unreachable */
#define SYNC_BULKREQ_MS	2000	/* ask for the table again after this */
#define SYNC_READ_MAX	256	/* datagrams per read callback */
#define SYNC_SLICE	256	/* records of a bulk per worker_call() */
#define SYNC_SWEEP	4096	/* entries looked at per worker_call() */

/* The worker's end and the sync thread's on lines of their own, and
   no line shared with another worker's ring (cacheline_calloc()).  The
   sync thread only reads the worker's line: it keeps what it has
   counted of lost on its own, as events.c does. */
struct sync_ring {
	/* the worker's line */
	struct sync_rec	*rec;
	uint64_t	 head;		/* atomic */
	uint64_t	 lost;		/* atomic: changes that did not fit;
					   only grows */
	uint64_t	 queued;	/* atomic: changes put in */
	/* the sync thread's line */
	uint64_t	 tail __attribute__((aligned(CACHELINE)));	/* atomic */
	uint64_t	 lost_seen;	/* lost at the last drain */
} __attribute__((aligned(CACHELINE)));

/* A datagram's records, for the backup's worker to apply. */
struct sync_batch {
	struct sync_rec	*rec;
	size_t		 n;
	uint64_t	 applied;	/* out */
	uint64_t	 failed;	/* out: table full, source share */
	uint64_t	 norule;	/* out: a rule name we do not have */
};

/* After a whole table came: what it did not bring goes, a slice at a
   time. */
struct sync_sweep {
	uint64_t	 cursor;	/* ct_resync_sweep()'s */
	uint64_t	 gone;		/* out */
};

/* The next slice of a worker's table, for a bulk. */
struct sync_slice {
	struct sync_rec	*rec;
	size_t		 max;
	size_t		 n;		/* out */
	uint64_t	 cursor;	/* ct_walk()'s: 0 at the end */
	uint64_t	 count;		/* out: the table's size */
};

struct sync {
	struct sync_config	 cfg;
	struct worker		**workers;
	unsigned		 nworkers;
	struct sync_ring	*rings;
	uint64_t		 ringsz;	/* a power of 2 */
	uint64_t		 wake_at;	/* records that wake us early */
	uint64_t		*coal;		/* a drain's connections: ring
					   index + 1, 2 * ringsz slots */
	uint8_t			*gone;		/* bit: superseded */
	int			 fd;
	struct event_base	*base;
	struct event		*rev, *flushev, *aliveev, *wakeev, *cmdev;
	pthread_t		 thread;
	int			 started;

	struct sync_seq		*seq;
	uint64_t		 epoch;
	int			 role;		/* atomic: enum sync_role */
	int			 sending;	/* atomic: changes wanted */
	int			 wake_pending;	/* atomic */
	int			 cmd_role;	/* atomic: -1 none */
	int			 cmd_resync;	/* atomic */
	uint64_t		 grace_due;	/* the sync thread's: a grace to
						   give the workers */

	struct sync_msg		 msg;		/* the UPDATE being filled */
	int			 open;
	struct {			/* the whole table, to the peer */
		int		 active;
		unsigned	 wi;
		uint64_t	 cursor;
		uint64_t	 records;
		uint64_t	 total;		/* the tables' size at start */
	}			 tx;
	struct {			/* ... and from it */
		int		 active;
		uint64_t	 records;
		int		 asked;		/* a BULK_REQ out, its table
						   not in yet: asked again */
		uint64_t	 asked_ms;	/* our last BULK_REQ */
		uint64_t	 start_ms;
		uint64_t	 end_ms;
	}			 rx;
	int			 ready;		/* a whole table came */
	int			 alone;		/* ... or no peer for alone s */
	uint64_t		 start_ms;
	struct sync_rec		*batch;		/* a datagram's records */
	size_t			 nbatch;
	struct sync_rec		*slice;		/* SYNC_SLICE */
	struct sync_stats	 st;
	struct log_rl		 rl;		/* audits of refused messages */

	pthread_mutex_t		 mtx;		/* pub, for the main thread */
	struct sync_status	 pub;

	uint8_t			 rxbuf[SYNC_MSG_MAX + 1];
	uint8_t			 ctlbuf[SYNC_MSG_MAX];
};

/* sync.c, for the tests: one step of the thread at now */
void	 sync_datagram(struct sync *, const void *buf, size_t len,
	    const struct sockaddr_storage *from, uint64_t now);
void	 sync_pump(struct sync *, uint64_t now);
void	 sync_alive(struct sync *, uint64_t now);
void	 sync_command(struct sync *, uint64_t now);
void	 sync_publish(struct sync *, uint64_t now);

/* worker_sync.c, run in the worker's thread by worker_call() */
void	 worker_sync_apply(struct worker *, void *batch);
void	 worker_sync_slice(struct worker *, void *slice);
void	 worker_sync_grace(struct worker *, void *until_ms);
void	 worker_sync_resync(struct worker *, void *unused);
void	 worker_sync_resync_end(struct worker *, void *unused);
void	 worker_sync_sweep(struct worker *, void *sweep);

#endif /* NFQSPI_SYNC_INT_H */
