/*
 * syncproto.h - the wire format of connection-state sync between two
 * nfqspid (an active/backup pair)
 *
 * Copyright (C) 2026 The nfqspid authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * Pure: no I/O, no globals; HMAC-SHA256 from OpenSSL's libcrypto.  One
 * UDP datagram is one message, all in network byte order:
 *
 *	0      4    5     6        8       10      12    16    20      28
 *	| magic | ver | type | length | count | zero | seq | ack | epoch |
 *	28      36
 *	| msgno | body ... | HMAC-SHA256 over everything before it (32) |
 *
 * length is the whole message's; count the records or ranges in the
 * body.  epoch names the sender's run (its start time: a new one means
 * it restarted) and msgno counts every message it sent in that run, so
 * a receiver refuses anything it saw already (struct sync_replay).
 *
 * The data messages (UPDATE, BULK_START, BULK_END) form one reliable
 * stream: seq numbers them from 1 in each epoch.  In every message, ack
 * says the sender got the peer's stream up to ack - 1, and ALIVE says in
 * seq what its next data message will be.  A receiver that misses some
 * asks for them with NACK ranges; one that starts asks for the whole
 * table with BULK_REQ (syncseq.h runs both ends).
 *
 * UPDATE records, one after the other:
 *	u8 op (SYNC_OP_*), u8 family (4 or 6), u8 proto, u8 TCP state,
 *	u8 flags (CT_SNAP_*), u8 hook, u8 timeout class, u8 aux,
 *	16 + 16 source and destination, u16 sport, u16 dport
 *	(the 44 bytes of a DELETE, which has zeros in its five u8 of state),
 *	then for an UPSERT: u32 mark, time left (ms), age (s), packets,
 *	last_hash (TCP; UDP and other protocols but ICMP: ms to the
 *	stream, 0 to 2001); u32 end[2], maxend[2], maxwin[2], maxack[2]; u8 scale[2],
 *	flags[2], retrans, last_index, last_dir, last_zerowin; u8 length of
 *	the rule's name and the name ([A-Za-z0-9._-], none: [policy]).
 * NACK ranges: u32 first, u32 last (inclusive, at most 2^31 apart).
 */
#ifndef NFQSPI_SYNCPROTO_H
#define NFQSPI_SYNCPROTO_H

#include <stddef.h>
#include <stdint.h>

#include "ct.h"
#include "rule.h"

#define SYNC_MAGIC	0x4e515359u	/* "NQSY" */
#define SYNC_VERSION	1
#define SYNC_HDRLEN	36
#define SYNC_MACLEN	32		/* HMAC-SHA256 */
#define SYNC_KEYLEN	32
#define SYNC_MSG_MIN	(SYNC_HDRLEN + SYNC_MACLEN)
#define SYNC_MSG_MAX	9000		/* a jumbo frame's UDP payload */
#define SYNC_REC_DEL	44		/* a DELETE record */
#define SYNC_REC_FIXED	105		/* an UPSERT record, without the name */
#define SYNC_REC_MAX	(SYNC_REC_FIXED + RULE_NAMELEN - 1)
#define SYNC_RANGE_LEN	8
#define SYNC_SECRET_MIN	16		/* bytes of shared secret at least */

enum sync_type {
	SYNC_T_UPDATE = 1,	/* data: connection records */
	SYNC_T_BULK_START,	/* data: the whole table follows */
	SYNC_T_BULK_END,	/* data: ... and is complete */
	SYNC_T_NACK,		/* control: resend these ranges */
	SYNC_T_ALIVE,		/* control: here I am, my next seq, my ack */
	SYNC_T_BULK_REQ,	/* control: send me your whole table */
	SYNC_T_MAX
};

enum sync_op {
	SYNC_OP_UPSERT = 1,	/* a new or changed connection */
	SYNC_OP_DELETE		/* it ended */
};

/* Why a message was refused (counted and audited by these names). */
enum sync_err {
	SYNC_OK = 0,
	SYNC_ESHORT,		/* shorter than a header and a MAC */
	SYNC_EHUGE,		/* longer than SYNC_MSG_MAX */
	SYNC_EMAGIC,		/* not ours */
	SYNC_EVERSION,		/* another protocol version */
	SYNC_ELENGTH,		/* length is not the datagram's */
	SYNC_EAUTH,		/* the HMAC does not match: forged or
				   another key */
	SYNC_ETYPE,		/* unknown type */
	SYNC_EBODY,		/* body and count disagree, bad range */
	SYNC_ERECORD,		/* a record no version could hold */
	SYNC_EREPLAY,		/* seen already, or from an older epoch
				   (struct sync_replay) */
	SYNC_ERR_MAX
};
const char	*sync_err_name(int err);	/* "forged", ... */
const char	*sync_type_name(int type);	/* "update", ... */
int		 sync_type_is_data(int type);

struct sync_key {
	uint8_t		 k[SYNC_KEYLEN];
};
/* The HMAC key from a shared secret of at least SYNC_SECRET_MIN bytes:
   0, or -1 with errno EINVAL (too short) or EIO (libcrypto failed). */
int		 sync_key_init(struct sync_key *key, const void *secret,
		    size_t len);
/* A key made ready for many messages (libcrypto's HMAC state, set up
   once): sealing or checking a message with it then allocates next to
   nothing, where with the key itself libcrypto sets everything up each
   time.  One thread's at a time.  NULL with errno ENOMEM. */
struct sync_mac;
struct sync_mac	*sync_mac_new(const struct sync_key *key);
void		 sync_mac_free(struct sync_mac *mac);

struct sync_hdr {
	uint8_t		 type;		/* enum sync_type */
	uint16_t	 count;
	uint32_t	 seq;
	uint32_t	 ack;
	uint64_t	 epoch;
	uint64_t	 msgno;
	uint16_t	 length;	/* parsed: the whole message */
};

/* ---- building -------------------------------------------------------- */

struct sync_msg {
	uint8_t		*buf;
	size_t		 cap;		/* at most SYNC_MSG_MAX */
	size_t		 len;		/* header and body so far */
	uint16_t	 count;
	uint8_t		 type;
};

/* 0, or -1 EINVAL (unknown type, cap under SYNC_MSG_MIN). */
int		 sync_msg_init(struct sync_msg *m, void *buf, size_t cap,
		    uint8_t type);
/* Add a record to an UPDATE (rule: the name, "" or NULL for [policy]).
   0, or -1 with errno ENOSPC (no room: seal and start another) or EINVAL
   (not an UPDATE, a bad name, ct_snap_check() fails). */
int		 sync_msg_add_conn(struct sync_msg *m, const struct ct_snap *s,
		    const char *rule);
int		 sync_msg_add_delete(struct sync_msg *m,
		    const struct ct_tuple *k);
/* A range to a NACK: same errors (EINVAL: first and last in the wrong
   order or more than 2^31 apart). */
int		 sync_msg_add_range(struct sync_msg *m, uint32_t first,
		    uint32_t last);
/* The room left for records. */
size_t		 sync_msg_room(const struct sync_msg *m);
/* Write the header (h's seq, ack, epoch, msgno) and the MAC.  Returns
   the message's length, or 0 if libcrypto failed (it cannot allocate):
   nothing to send then. */
size_t		 sync_msg_seal(struct sync_msg *m, const struct sync_hdr *h,
		    const struct sync_key *key);
/* A sealed message again with h's seq, ack, epoch and msgno (a resend):
   its type, count and body stay.  0, or -1 (ENOMEM) as above: the MAC
   is then zeros, which no peer takes. */
int		 sync_reseal(void *buf, size_t len, const struct sync_hdr *h,
		    const struct sync_key *key);
/* The same two with a ready key: the same bytes. */
size_t		 sync_msg_seal_mac(struct sync_msg *m,
		    const struct sync_hdr *h, struct sync_mac *mac);
int		 sync_reseal_mac(void *buf, size_t len,
		    const struct sync_hdr *h, struct sync_mac *mac);

/* ---- parsing --------------------------------------------------------- */

/*
 * Check a received datagram whole: size, magic, version, length, MAC
 * (before anything else of it is read), type, and every record or
 * range.  SYNC_OK and *h filled in, or why not.  Nothing is applied
 * from a message that fails.
 */
int		 sync_msg_parse(const void *buf, size_t len,
		    const struct sync_key *key, struct sync_hdr *h);
/* The same with a ready key. */
int		 sync_msg_parse_mac(const void *buf, size_t len,
		    struct sync_mac *mac, struct sync_hdr *h);

struct sync_rec {
	uint8_t		 op;		/* enum sync_op */
	struct ct_snap	 s;		/* a DELETE: only s.k; s.rule is 0 */
	char		 rule[RULE_NAMELEN];	/* "" for [policy] */
	uint32_t	 moves;		/* not sent: a ring's record, the
					   link's moves when it went in */
};

struct sync_iter {
	const uint8_t	*p;
	const uint8_t	*end;
	uint16_t	 left;
};
/* Over a message sync_msg_parse() accepted. */
void		 sync_iter_init(struct sync_iter *it, const void *buf,
		    const struct sync_hdr *h);
/* 1 and the next record (UPDATE) or range (NACK); 0 at the end. */
int		 sync_iter_rec(struct sync_iter *it, struct sync_rec *r);
int		 sync_iter_range(struct sync_iter *it, uint32_t *first,
		    uint32_t *last);

/* ---- replay protection ----------------------------------------------- */

/*
 * What a receiver saw of the peer: its newest epoch and which of the
 * last 64 message numbers of it came.  A message of an older epoch, one
 * seen already or one more than 64 behind the newest is a replay.
 * Zero it to start (the first epoch heard is taken).
 */
struct sync_replay {
	uint64_t	 epoch;
	uint64_t	 top;		/* newest msgno */
	uint64_t	 seen;		/* bit i: msgno top - i came */
};
/* 0: new, recorded; 1: new and of a newer epoch (the peer restarted);
   -1: a replay (nothing recorded). */
int		 sync_replay_check(struct sync_replay *r, uint64_t epoch,
		    uint64_t msgno);

#endif /* NFQSPI_SYNCPROTO_H */
