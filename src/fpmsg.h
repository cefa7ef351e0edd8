/*
 * fpmsg.h - the fast path's nf_tables messages, without the socket
 *
 * Copyright (C) 2026 The nfqspid authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * Pure: no I/O, no globals.  fastpath.c sends what is built here and
 * hands every datagram the kernel answers with back here, where each
 * attribute is checked before it is believed.  The names of the sets
 * and the ruleset text that creates them live here too, so that the
 * elements always fit the sets they go into.
 */
#ifndef NFQSPI_FPMSG_H
#define NFQSPI_FPMSG_H

#include <stddef.h>
#include <stdint.h>

#include "fastpath.h"

/* A key: saddr . sport . daddr . dport, each field in 4-byte registers. */
#define FPMSG_KEY4	16
#define FPMSG_KEY6	40
#define FPMSG_KEYMAX	FPMSG_KEY6

/* tcp4, udp4, tcp6, udp6: one verdict map each */
#define FPMSG_NCLASS	4

/*
 * An element's verdict: goto the chain of its connection's mark, which
 * puts the mark on the packet, bypass bit and all, in one store
 * ("mark_0x00000010"), or for a connection without one goto "nomark",
 * which adds the bit to the mark the packet came with.
 */
#define FPMSG_CHAINMAX	24
#define FPMSG_NOMARK	"nomark"

/* The element's userdata: nft's comment, which direction it is. */
#define FPMSG_ORIG	0
#define FPMSG_REPLY	1

/* 0 .. FPMSG_NCLASS - 1, or -1 for another family or protocol. */
int		 fpmsg_class(uint8_t family, uint8_t proto);
/* "conn_tcp4", "conn_udp6", ... */
const char	*fpmsg_map_name(int cls);
/* mark's chain name into buf (FPMSG_CHAINMAX); -1 if len is short. */
int		 fpmsg_chain_name(uint32_t mark, char *buf, size_t len);
size_t		 fpmsg_keylen(int cls);
/* The key of c's packets in direction dir; returns its length. */
size_t		 fpmsg_key(const struct fp_conn *c, int dir, uint8_t *key);
/* c (original direction, mark 0) from a key of class cls seen in dir. */
int		 fpmsg_key_conn(int cls, const uint8_t *key, size_t len,
		    int dir, struct fp_conn *c);

/*
 * The nft -f text of our table, whose first lines replace an earlier
 * copy atomically.  Length as snprintf, or -1 if it does not fit.
 */
int		 fpmsg_ruleset(const struct fp_params *p, char *buf,
		    size_t len);

/* A batch being built into caller's memory. */
struct fpmsg_buf {
	uint8_t		*buf;
	size_t		 size;
	size_t		 len;
	size_t		 msg;		/* the open message's offset */
	size_t		 nest;		/* its element list's offset */
	uint32_t	 seq;		/* the next message's */
	uint32_t	 first;		/* the first that wants an answer
					   (an ack, or a get's element) */
	unsigned	 nacks;		/* messages that want one */
	int		 open;		/* a message is open */
};

void	 fpmsg_init(struct fpmsg_buf *b, uint8_t *buf, size_t size,
	    uint32_t seq);
/* Batch begin and end; -1 (ENOSPC) if they do not fit. */
int	 fpmsg_begin(struct fpmsg_buf *b);
int	 fpmsg_end(struct fpmsg_buf *b);
/*
 * A set element message of type (NFT_MSG_NEWSETELEM, DELSETELEM or
 * FPMSG_DESTROYSETELEM) for table's set; fpmsg_put() adds elements to
 * it, fpmsg_close() ends it.  A DELSETELEM closed without elements
 * flushes the set.
 */
int	 fpmsg_open(struct fpmsg_buf *b, uint16_t type, const char *table,
	    const char *set);
/*
 * chain NULL: no data (a delete, a get); else the element's verdict,
 * goto chain.  timeout_ms not 0: its timeout, and time left, start
 * again at that (an addition without it takes the set's).  -1 (ENOSPC)
 * if it does not fit.
 */
int	 fpmsg_put(struct fpmsg_buf *b, const uint8_t *key, size_t keylen,
	    const char *chain, int dir, uint64_t timeout_ms);
int	 fpmsg_close(struct fpmsg_buf *b);
/*
 * One NFT_MSG_GETSETELEM message, not in a batch (a get is no
 * transaction): table's set's element key, as `nft get element` asks.
 * The kernel answers each with one message: the element, with its
 * counter, or an error.  Several go in one send; b->first and b->nacks
 * say which sequence numbers the answers carry.  -1 (ENOSPC) if it
 * does not fit.
 */
int	 fpmsg_get(struct fpmsg_buf *b, const char *table, const char *set,
	    const uint8_t *key, size_t keylen);
/* Bytes an element of put() takes at most. */
#define FPMSG_ELEMMAX	160

/*
 * The chain of mark (not 0) and its one rule, meta mark set mark |
 * FP_BYPASS_MARK: made if missing, emptied, the rule added (three acked
 * messages of a batch, in front of the elements that go to it), so
 * that making it again changes nothing.  -1 (ENOSPC) if they do not
 * fit.
 */
int	 fpmsg_mark_chain(struct fpmsg_buf *b, const char *table,
	    uint32_t mark);
/* Bytes the three take at most. */
#define FPMSG_CHAINMSGMAX	384
/* NFT_MSG_DELCHAIN of mark's chain (one acked message): once no
   element goes to it. */
int	 fpmsg_del_chain(struct fpmsg_buf *b, const char *table,
	    uint32_t mark);

/* NFT_MSG_DESTROYSETELEM (Linux 6.3): delete, no error if absent. */
#define FPMSG_DESTROYSETELEM	30

/*
 * The kernel's answers (one datagram) to a batch whose acked messages
 * have sequence numbers first .. first + n - 1 (its BEGIN first - 1):
 * returns how many it answers (all n when the kernel refused the batch
 * at its BEGIN), and the first error (a positive errno) in *err, left
 * alone when none; -1 (EPROTO) for a datagram that is not such an
 * answer.
 */
int	 fpmsg_acks(const uint8_t *buf, size_t len, uint32_t first,
	    unsigned n, int *err);

/* A dump request for table's set; its length, or -1 if size is short. */
int	 fpmsg_dump_req(uint8_t *buf, size_t size, uint32_t seq,
	    const char *table, const char *set);

/* One element of a dump, every field checked. */
struct fpmsg_elem {
	uint8_t		 key[FPMSG_KEYMAX];
	size_t		 keylen;
	char		 chain[FPMSG_CHAINMAX];	/* its goto, if has_data */
	uint64_t	 pkts;
	uint64_t	 bytes;
	uint64_t	 expires_ms;	/* time left, if has_expires */
	uint8_t		 has_data;
	uint8_t		 has_counter;
	uint8_t		 has_expires;
	uint8_t		 dir;		/* FPMSG_ORIG unless it says reply */
	uint32_t	 req;		/* the get it answers: its index from
					   first (fpmsg_get_parse()) */
};

typedef int	(*fpmsg_elem_cb)(const struct fpmsg_elem *e, void *arg);

/*
 * One datagram of the answer to a dump request of sequence seq: cb for
 * each element (a cb that returns -1 stops it, errno its own).  Returns
 * 1 once the dump is done, 0 when more is to come, -1 with errno: the
 * kernel's error, or EPROTO for anything malformed.
 */
int	 fpmsg_dump_parse(const uint8_t *buf, size_t len, uint32_t seq,
	    fpmsg_elem_cb cb, void *arg);

/*
 * One datagram of the answers to the gets of sequence numbers first ..
 * first + n - 1: cb for each element, e->req its get's index.  Returns
 * how many gets it answered; *err gets the first error (a positive
 * errno) other than ENOENT (no such element: answered, nothing
 * counted), left alone when none; -1 with errno (EPROTO for anything
 * malformed or not such an answer, or cb's own).
 */
int	 fpmsg_get_parse(const uint8_t *buf, size_t len, uint32_t first,
	    unsigned n, fpmsg_elem_cb cb, void *arg, int *err);

#endif /* NFQSPI_FPMSG_H */
