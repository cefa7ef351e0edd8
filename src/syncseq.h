/*
 * syncseq.h - the reliable stream of the sync link: sequence numbers,
 * acknowledgements, NACKs and resends (after conntrackd's FTFW)
 *
 * Copyright (C) 2026 The nfqspid authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * Pure: no I/O, no clock of its own, no globals.  One struct sync_seq is
 * both ends of one node's link to its peer:
 *
 * Sending.  Each data message (UPDATE, BULK_START, BULK_END) is built in
 * the buffer sync_seq_buf() hands out, a slot of a ring of nslots, and
 * sealed by sync_seq_seal() with the next sequence number.  The ring keeps
 * the last nslots data messages for resends: that bounds the memory a
 * slow or absent peer costs (nslots * mtu).
 *
 * Receiving.  sync_seq_input() takes a datagram whole or refuses it
 * (sync_msg_parse(), then the replay window).  Data is taken strictly in
 * order (go-back-N): one ahead of what is expected is a gap, not applied,
 * and a NACK asks for everything from the first missing one on; the peer
 * resends it all from its ring.  When the ring no longer holds it, the
 * peer cannot resend and sends its whole table instead (BULK_START,
 * which every receiver takes as the new start of the stream).  ALIVE
 * messages say where the peer's stream is, so a lost last message is
 * noticed too, and carry the acknowledgement both ways.
 *
 * A receiver that hears an epoch of the peer for the first time (it or
 * the peer restarted) takes the stream from there and is told so
 * (SYNC_IN_NEWPEER): a backup then asks for the whole table (BULK_REQ).
 */
#ifndef NFQSPI_SYNCSEQ_H
#define NFQSPI_SYNCSEQ_H

#include <stddef.h>
#include <stdint.h>

#include "syncproto.h"

/* Do not NACK the same gap again sooner than this. */
#define SYNC_NACK_MS	50
/* A receiver acknowledges at least every this many data messages. */
#define SYNC_ACK_EVERY	4
#define SYNC_SEQ_MINSLOTS (2 * SYNC_ACK_EVERY)

struct sync_seq;

/* NULL with errno EINVAL (nslots under 8 or over 65536, mtu out of
   [SYNC_MSG_MIN, SYNC_MSG_MAX], epoch 0) or ENOMEM. */
struct sync_seq	*sync_seq_new(const struct sync_key *key, uint64_t epoch,
		    size_t nslots, size_t mtu);
void		 sync_seq_free(struct sync_seq *s);

/* ---- sending --------------------------------------------------------- */

/* The buffer for the next data message (*cap bytes: the mtu).  Build it
   with sync_msg_init() over that buffer, then sync_seq_seal(). */
uint8_t		*sync_seq_buf(struct sync_seq *s, size_t *cap);
/* Number and seal m (built over sync_seq_buf()): its length; the bytes
   to send are m->buf.  0 if libcrypto failed: m is not numbered. */
size_t		 sync_seq_seal(struct sync_seq *s, struct sync_msg *m);
/* A control message without a body (ALIVE, BULK_REQ) into buf: its
   length, or 0 if cap is too small or type is not one. */
size_t		 sync_seq_control(struct sync_seq *s, uint8_t type,
		    void *buf, size_t cap);
/* The NACK a gap calls for, if one is due at now_ms: its length, else
   0. */
size_t		 sync_seq_nack(struct sync_seq *s, uint64_t now_ms, void *buf,
		    size_t cap);
/*
 * How many data messages may go now without outrunning the ring: nslots
 * less those the peer has not acknowledged.  A bulk sends no faster, so
 * that whatever of it is lost can be resent; changes go regardless (a
 * slow peer then misses some, and gets the whole table).
 */
size_t		 sync_seq_window(const struct sync_seq *s);
/*
 * Resend what the peer's last NACK asked for (every data message from
 * its first on), each sealed again with a new message number: send(buf,
 * len, arg) for each.  0, or -1 when the ring no longer holds one of
 * them (then nothing was sent: the caller sends its whole table).
 */
int		 sync_seq_resend(struct sync_seq *s,
		    void (*send)(const void *, size_t, void *), void *arg);

/* ---- receiving ------------------------------------------------------- */

/* sync_seq_input(): what the caller has to do, or'ed */
#define SYNC_IN_APPLY	0x01	/* a data message in order: apply it */
#define SYNC_IN_NEWPEER	0x02	/* first message of this epoch of the
				   peer: a backup asks for the table */
#define SYNC_IN_NACK	0x04	/* a gap: sync_seq_nack() has one */
#define SYNC_IN_RESEND	0x08	/* the peer NACKed: sync_seq_resend() */
#define SYNC_IN_BULKREQ	0x10	/* the peer asks for the whole table */
#define SYNC_IN_ACK	0x20	/* SYNC_ACK_EVERY applied since we last
				   said: send an ALIVE now */

/*
 * One datagram from the peer at now_ms.  Returns SYNC_IN_* (0: nothing
 * to do: a duplicate, an ALIVE that shows no gap), or -1 with *err the
 * enum sync_err it was refused for (counted in the stats).  *h is the
 * parsed header when it was taken.
 */
int		 sync_seq_input(struct sync_seq *s, const void *buf,
		    size_t len, uint64_t now_ms, struct sync_hdr *h,
		    int *err);

struct sync_seq_status {
	uint64_t	 epoch;		/* ours */
	uint32_t	 next_seq;	/* our next data message */
	uint32_t	 peer_ack;	/* the peer has ours up to this - 1 */
	uint64_t	 peer_epoch;	/* 0: never heard */
	uint32_t	 rx_next;	/* the peer's next one we expect */
	uint64_t	 last_rx_ms;	/* when the peer was last heard */
	uint64_t	 sent;		/* data messages */
	uint64_t	 resent;
	uint64_t	 received;	/* messages taken */
	uint64_t	 applied;	/* data messages in order */
	uint64_t	 dups;
	uint64_t	 gaps;		/* data messages ahead, dropped */
	uint64_t	 nacks_sent;
	uint64_t	 nacks_received;
	uint64_t	 resend_failed;	/* NACKs the ring could not serve */
	uint64_t	 refused[SYNC_ERR_MAX];	/* by enum sync_err */
};
void		 sync_seq_status(const struct sync_seq *s,
		    struct sync_seq_status *st);

#endif /* NFQSPI_SYNCSEQ_H */
