/*
 * synclink.h - the HA sync's logic (synclink.c): what a node does with
 * its workers' changes, the peer's datagrams, its timers and commands
 *
 * Copyright (C) 2026 The nfqspid authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * No socket, thread, clock or global: the time comes as an argument,
 * the peer's datagrams through synclink_input(), and what the link does
 * to the outside goes through struct synclink_ops (send a datagram, run
 * a step in a worker, audit a refused datagram, say what happened).
 * sync.c is its shell in the daemon (socket, libevent, the thread);
 * tests/unit/test_sync.c drives it through that shell and
 * tests/fuzz/fuzz_syncseq.c drives two of them directly.
 *
 * A worker hands its table's changes to the link through a ring of its
 * own (one producer, one consumer, no lock), already exported
 * (ct_export()) with the rule's name, as struct sync_rec: a slot from
 * synclink_slot(), filled, then synclink_commit().  A full ring loses
 * the change and says so (lost): the link then sends the whole table,
 * so the worker never waits.  Everything else the link asks of a worker
 * (apply what the peer sent, a slice of the table for a bulk, the window
 * grace of a new master) goes through ops->call with the structures
 * below.
 */
#ifndef NFQSPI_SYNCLINK_H
#define NFQSPI_SYNCLINK_H

#include <sys/socket.h>

#include <stddef.h>
#include <stdint.h>

#include "nfqspid.h"
#include "cacheline.h"
#include "syncproto.h"
#include "syncseq.h"

#define SYNC_ALIVE_MS	1000	/* an ALIVE at least this often */
#define SYNC_DEAD_MS	3500	/* not heard this long: unreachable */
#define SYNC_BULKREQ_MS	2000	/* ask for the table again after this */
#define SYNC_READ_MAX	256	/* datagrams per read callback */
#define SYNC_SLICE	256	/* records of a bulk per call */
#define SYNC_SWEEP	4096	/* entries looked at per call */
#define SYNC_RING_MIN	8	/* a ring's slots at least (config.c
				   asks for 256) */

/* The worker's end and the link's on lines of their own, and no line
   shared with another worker's ring (cacheline_calloc()).  The link
   only reads the worker's line: it keeps what it has counted of lost on
   its own, as events.c does. */
struct sync_ring {
	/* the worker's line */
	struct sync_rec	*rec;
	uint64_t	 head;		/* atomic */
	uint64_t	 lost;		/* atomic: changes that did not fit;
					   only grows */
	uint64_t	 queued;	/* atomic: changes put in */
	/* the link's line */
	uint64_t	 tail __attribute__((aligned(CACHELINE)));	/* atomic */
	uint64_t	 lost_seen;	/* lost at the last drain */
} __attribute__((aligned(CACHELINE)));

/* A datagram's records, for the backup's worker to apply. */
struct sync_batch {
	struct sync_rec	*rec;
	size_t		 n;
	int		 keep;		/* SYNCLINK_HOME, and SYNCLINK_APPLY
					   on a new master: leave a
					   connection the worker holds
					   alone */
	uint64_t	 applied;	/* out */
	uint64_t	 failed;	/* out: table full */
	uint64_t	 norule;	/* out: a rule name we do not have */
	uint64_t	 kept;		/* out: left alone for keep (APPLY) */
};

/* After a whole table came: what it did not bring goes, a slice at a
   time. */
struct sync_sweep {
	uint64_t	 cursor;	/* ct_resync_sweep()'s */
	uint64_t	 gone;		/* out */
	int		 begin;		/* in: the table's end, no slice */
};

/* The next slice of a worker's table, for a bulk. */
struct sync_slice {
	struct sync_rec	*rec;
	size_t		 max;
	size_t		 n;		/* out */
	uint64_t	 cursor;	/* ct_walk()'s: 0 at the end */
	uint64_t	 count;		/* out: the table's size */
};

/* What ops->call runs in a worker, and its data. */
enum synclink_call {
	SYNCLINK_SLICE,		/* struct sync_slice */
	SYNCLINK_APPLY,		/* struct sync_batch */
	SYNCLINK_RESYNC,	/* NULL: ct_resync_begin() */
	SYNCLINK_RESYNC_END,	/* NULL: ct_resync_end() */
	SYNCLINK_SWEEP,		/* struct sync_sweep */
	SYNCLINK_GRACE,		/* uint64_t: the grace's end (ms) */
	SYNCLINK_AWAY,		/* struct sync_slice: the connections
				   whose home is another worker, taken
				   out (as far as max, SYNC_SWEEP looked
				   at) */
	SYNCLINK_HOME,		/* struct sync_batch: those of them home
				   to it, over the copy it holds */
	SYNCLINK_FENCE,		/* NULL: nothing; returns once the worker
				   finished what it was doing */
	SYNCLINK_NCALLS
};

/* What ops->note says, and its n. */
enum synclink_note {
	SYNCLINK_READY,		/* the first whole table: its records */
	SYNCLINK_ALONE,		/* ready without the peer: [sync] alone */
	SYNCLINK_NEWPEER,	/* a new run of the peer: asking */
	SYNCLINK_BULK,		/* sending the whole table: 0 */
	SYNCLINK_HOMED,		/* made backup: connections moved home */
	SYNCLINK_UNSENT		/* a whole table not sent: a worker
				   stopped; its index */
};

struct synclink_ops {
	/* a datagram to the peer: 0, or -1 (counted in send_errors) */
	int	(*send)(void *arg, const void *buf, size_t len);
	/* run what in worker wi, at once: 0, or -1 if it is stopping */
	int	(*call)(void *arg, unsigned wi, int what, void *data);
	/* a datagram dropped: not from the peer, or why (sync_err_name()) */
	void	(*refused)(void *arg, const struct sockaddr_storage *from,
		    size_t len, const char *why);
	void	(*note)(void *arg, int what, uint64_t n);
	/* a datagram the stream took, before the link acts on it (its
	   SYNC_IN_* flags): a tap for the fuzzer; may be NULL */
	void	(*taken)(void *arg, const void *buf, const struct sync_hdr *h,
		    int flags);
};

/* synclink.again: who wants one more table */
#define SYNCLINK_AGAIN_OURS	0x1	/* a by-hand DELETE: if still master */
#define SYNCLINK_AGAIN_PEER	0x2	/* its BULK_REQ: whatever our role */
#define SYNCLINK_AGAIN_LOST	0x4	/* a full ring: if still master */

struct synclink {
	const struct synclink_ops *ops;
	void			*arg;
	struct sync_config	 cfg;
	unsigned		 nworkers;
	struct sync_ring	*rings;
	uint64_t		 ringsz;	/* a power of 2 */
	uint64_t		 wake_at;	/* records that wake us early */
	uint64_t		*coal;		/* a drain's connections: ring
					   index + 1, 2 * ringsz slots */
	uint8_t			*gone;		/* bit: superseded, ringsz / 8
					   bytes a ring */
	uint64_t		*top;		/* a drain's head, by ring */
	uint64_t		*cur;		/* ... and next record */

	struct sync_seq		*seq;
	uint64_t		 epoch;
	int			 role;		/* atomic: enum sync_role */
	int			 sending;	/* atomic: changes wanted */
	unsigned		 switches;	/* atomic: between master and
					   backup (synclink_role()) */
	uint32_t		 moves;		/* atomic: connections moved
					   between workers (synclink_moved()) */
	int			 homing;	/* atomic: made backup, the
					   move home not done yet */
	uint64_t		 master_ms;	/* made master then (0: never;
					   synclink_command()) */
	int			 mastering;	/* atomic: made master, the
					   command's grace not given to the
					   workers yet */
	int			 bulking;	/* atomic: a bulk going out
					   (synclink_bulking()) */
	int			 rebulk;	/* atomic: a worker wants the
					   whole table after its changes
					   (synclink_rebulk()) */
	int			 again;		/* the same, the peer's
					   BULK_REQ or lost changes, while a
					   bulk went: one more at its end
					   (SYNCLINK_AGAIN_*) */
	unsigned		 stopped;	/* a worker stopped or ended (a
					   slice failed): its index + 1;
					   no whole table goes out */

	struct sync_msg		 msg;		/* the UPDATE being filled */
	int			 open;
	struct {			/* the whole table, to the peer */
		int		 active;
		unsigned	 wi;
		uint64_t	 cursor;
		uint64_t	 records;
		uint64_t	 total;		/* the tables' size at start */
		uint64_t	 peer;		/* the peer's epoch at start */
		uint32_t	 start;		/* its BULK_START's seq */
		int		 whole;		/* master at start: changes
						   follow each part walked */
		unsigned	 switches;	/* ... while still these */
		uint64_t	 begin_ms;	/* its start (the peer's timer
						   asks again 10 *
						   SYNC_BULKREQ_MS after its) */
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
	struct sync_rec		*sub;		/* ... those of one worker */
	size_t			 nbatch;
	struct sync_rec		*slice;		/* SYNC_SLICE */
	struct sync_stats	 st;
	uint8_t			 ctlbuf[SYNC_MSG_MAX];
};

/* A link of n workers with sc's peer, key and sizes, started at now
   with epoch (a later run's is larger): 0, or -1 and errno (ENOMEM);
   synclink_clear() either way. */
int	 synclink_init(struct synclink *l, const struct sync_config *sc,
	    unsigned n, uint64_t epoch, uint64_t now,
	    const struct synclink_ops *ops, void *arg);
void	 synclink_clear(struct synclink *l);

/*
 * The worker, of n, where the peer's record of connection k lives on
 * this node: the same for both directions of k, below n, and stable for
 * the process's life.  The kernel picks a flow's queue by a hash seeded
 * at random, so after a failover its packets may reach another worker:
 * that one adopts it from its home (worker_sync.c).
 */
unsigned synclink_home(const struct ct_tuple *k, unsigned n);

/* The link's own thread, one step at now. */
void	 synclink_input(struct synclink *l, const void *buf, size_t len,
	    const struct sockaddr_storage *from, uint64_t now);
/* the workers' changes out, a bulk on, the UPDATE sealed */
void	 synclink_pump(struct synclink *l, uint64_t now);
/* every SYNC_ALIVE_MS, and at start */
void	 synclink_alive(struct synclink *l, uint64_t now);
/* after synclink_role() (role, or -1) or nfqspictl sync resync */
void	 synclink_command(struct synclink *l, int role, int resync,
	    uint64_t now);
void	 synclink_status(const struct synclink *l, uint64_t now,
	    struct sync_status *st);

/* Any thread: the role the workers and the link see from now on
   (enum sync_role): 0, or -1 and EINVAL. */
int	 synclink_role(struct synclink *l, int role);

/* Worker wid's thread: 1 while changes are wanted (master); room left
   in its ring; a slot to fill (NULL: none wanted, or the ring is full
   and the change lost), then synclink_commit(), which is 1 when the
   ring is half full: the link should drain it before its flush. */
int		 synclink_sending(const struct synclink *l);
uint64_t	 synclink_room(const struct synclink *l, unsigned wid);
struct sync_rec	*synclink_slot(struct synclink *l, unsigned wid);
int		 synclink_commit(struct synclink *l, unsigned wid);
/* A worker's thread, before it hands a connection to another worker
   (adoption): its changes queued before in its ring go out before
   those the other queues after, whatever the rings' order. */
void		 synclink_moved(struct synclink *l);
/* A worker's thread: 1 while a whole table goes out.  It walks the
   workers one after the other, so a connection handed from one it has
   not walked yet to one it has is in neither slice: the hand-over then
   queues it as a change too (worker_sync.c). */
int		 synclink_bulking(const struct synclink *l);
/* A worker's thread, after a change that may end at the peer another
   worker's connection (a DELETE names the tuple only: worker_sync.c):
   the whole table goes out after what its ring holds now (one going
   out meanwhile: one more after it). */
void		 synclink_rebulk(struct synclink *l);
/* A worker's thread: 1 while the node is backup, or made master and
   the command that gives the workers their grace (SYNCLINK_GRACE) has
   not run yet: its packets pass the window grace all the same (their
   windows are the old master's as of its last flush). */
int		 synclink_unsettled(const struct synclink *l);

#endif /* NFQSPI_SYNCLINK_H */
