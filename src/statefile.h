/*
 * statefile.h - the connection table kept in a file across a restart
 * ([daemon] state_file)
 *
 * Copyright (C) 2026 The nfqspid authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * Pure: no I/O, no globals.  The file is what a bulk to the HA peer is
 * (syncproto.h), one sealed message after the other, with the MACs of a
 * fixed key (a checksum: the file is root's, 0600):
 *
 *	BULK_START  seq: STATE_VERSION, ack: the writer's workers,
 *	            epoch: when it was written (ms of the wall clock)
 *	UPDATE ...  seq: the worker that held its records (UPSERTs only)
 *	BULK_END    seq: the records, ack: the messages, BULK_END's too
 *
 * Every message has the same epoch and msgno 1, 2, ... in order, and
 * the file ends with BULK_END: a torn or spliced file fails whole, and
 * each record is checked as the sync link checks the peer's.
 */
#ifndef NFQSPI_STATEFILE_H
#define NFQSPI_STATEFILE_H

#include <stddef.h>
#include <stdint.h>

#include "syncproto.h"

#define STATE_VERSION	1
/* A bigger file is refused unread.  A table may hold more (over 4
   million records): the writer stops short of it, and says so. */
#define STATE_FILE_MAX	(512u << 20)
/* The wall clock may step back a little between stop and start (NTP):
   a file written up to this much in the future is taken as written now. */
#define STATE_SKEW_MS	2000

/* The key every state file is sealed with: 0, or -1 (EIO: libcrypto). */
int	 state_key_init(struct sync_key *key);
/* That key made ready (syncproto.h): one for a whole file, written or
   read, freed with sync_mac_free().  NULL with errno ENOMEM. */
struct sync_mac	*state_mac_new(void);

/* ---- writing --------------------------------------------------------- */

/* out(arg, buf, len) writes len bytes: 0, or -1 with errno set. */
typedef int	(*state_out_fn)(void *arg, const void *buf, size_t len);

struct state_writer {
	state_out_fn	 out;
	void		*arg;
	struct sync_mac	*mac;		/* the caller's */
	struct sync_msg	 m;
	uint64_t	 epoch;		/* written, ms */
	uint64_t	 msgno;		/* of the last message out */
	uint32_t	 records;
	uint32_t	 worker;	/* of the UPDATE being filled */
	uint32_t	 nworkers;
	uint64_t	 bytes;		/* out so far */
	uint64_t	 max;		/* the file's size at most */
	int		 full;		/* a record did not fit under max */
	int		 open;		/* an UPDATE is being filled */
	uint8_t		 buf[SYNC_MSG_MAX];
};

/* The header out, sealed as all that follows with mac (kept until
   state_write_end()).  0, or -1 with errno: EINVAL (nworkers 0), ENOMEM
   (libcrypto: mac NULL, as state_mac_new() failed), or out's. */
int	 state_write_begin(struct state_writer *sw, struct sync_mac *mac,
	    uint64_t written_ms, uint32_t nworkers, state_out_fn out,
	    void *arg);
/* One connection of worker's (rule: the name, "" for [policy]).  0, or
   -1 with errno: EINVAL (a worker out of range, ct_snap_check()),
   ENOMEM, out's, or EFBIG (and full set): the file, ended now, would be
   over max (STATE_FILE_MAX, which state_write_begin() sets); the file
   is still good, without that record and those after it. */
int	 state_write_conn(struct state_writer *sw, uint32_t worker,
	    const struct ct_snap *s, const char *rule);
/* The last UPDATE and the trailer out: 0, or -1 as above. */
int	 state_write_end(struct state_writer *sw);

/* ---- reading --------------------------------------------------------- */

struct state_info {
	uint64_t	 written_ms;	/* the wall clock's */
	uint32_t	 nworkers;	/* the writer's */
	uint32_t	 records;
	uint32_t	 messages;
};

/* 1 if buf (len bytes: the file's first) begins as a state file does:
   a file that does not is another's, and is left alone. */
int	 state_is_ours(const void *buf, size_t len);

/*
 * Check a whole file in memory with mac (state_mac_new(); NULL: it
 * failed, and so does this): every message's MAC and records, the
 * order, the counts, the trailer at its end.  0 and *si, or -1 and one
 * line in err (without the file's name): nothing of it may be used.
 */
int	 state_check(const void *buf, size_t len, struct sync_mac *mac,
	    struct state_info *si, char *err, size_t errlen);

struct state_iter {
	struct sync_mac	*mac;
	const uint8_t	*p;
	const uint8_t	*end;
	struct sync_iter it;
	uint32_t	 worker;
};
/* Over a file state_check() accepted, with its mac (kept until the
   end). */
void	 state_iter_init(struct state_iter *si, const void *buf, size_t len,
	    struct sync_mac *mac);
/* 1, the next record and the worker that held it; 0 at the end. */
int	 state_iter_next(struct state_iter *si, struct sync_rec *r,
	    uint32_t *worker);

/*
 * r as of elapsed ms after the file was written: its time left is that
 * much shorter, its age that much longer.  1, or 0 if it timed out in
 * between (r is then as it was).
 */
int	 state_rec_age(struct sync_rec *r, uint64_t elapsed_ms);

#endif /* NFQSPI_STATEFILE_H */
