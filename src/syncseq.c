/*
 * syncseq.c - the reliable stream of the sync link
 *
 * Copyright (C) 2026 The nfqspid authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * Sequence numbers are 32-bit serial numbers (RFC 1982): compared by
 * their difference as a signed number, so they may wrap.  Each epoch's
 * stream starts at 1.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "syncseq.h"

#define SYNC_SEQ_MAXSLOTS	65536

struct sync_slot {
	uint32_t	 seq;
	uint16_t	 len;		/* 0: empty */
};

struct sync_seq {
	struct sync_mac	*mac;		/* the key, ready */
	uint64_t	 epoch;
	uint64_t	 msgno;		/* last one sent */
	uint32_t	 next_seq;
	uint32_t	 peer_ack;
	uint32_t	 resend_from;	/* the peer's last NACK */
	uint32_t	 resend_end;	/* ... up to this one, not included */
	int		 resending;	/* resend_* are set */
	uint64_t	 resend_ms;	/* when that NACK came */
	size_t		 nslots;
	size_t		 mtu;
	struct sync_slot *slot;
	uint8_t		*mem;		/* nslots * mtu */

	struct sync_replay replay;
	int		 rx_known;	/* rx_next is set */
	uint32_t	 rx_next;
	uint32_t	 rx_top;	/* newest seq the peer is known to
					   have sent */
	uint32_t	 rx_acked;	/* rx_next as we last told it */
	int		 nack_pending;
	int		 nack_sent;	/* nack_first and nack_ms are set */
	uint32_t	 nack_first;
	uint64_t	 nack_ms;

	struct sync_seq_status st;	/* the counters */
};

/* a - b for serial numbers */
static int32_t
sdiff(uint32_t a, uint32_t b)
{
	return ((int32_t)(a - b));
}

struct sync_seq *
sync_seq_new(const struct sync_key *key, uint64_t epoch, size_t nslots,
    size_t mtu)
{
	struct sync_seq	*s;

	if (nslots < SYNC_SEQ_MINSLOTS || nslots > SYNC_SEQ_MAXSLOTS || mtu < SYNC_MSG_MIN ||
	    mtu > SYNC_MSG_MAX || epoch == 0) {
		errno = EINVAL;
		return (NULL);
	}
	if ((s = calloc(1, sizeof(*s))) == NULL)
		return (NULL);
	s->slot = calloc(nslots, sizeof(*s->slot));
	s->mem = malloc(nslots * mtu);
	s->mac = sync_mac_new(key);
	if (s->slot == NULL || s->mem == NULL || s->mac == NULL) {
		sync_seq_free(s);
		errno = ENOMEM;
		return (NULL);
	}
	s->epoch = epoch;
	s->next_seq = 1;
	s->peer_ack = 1;
	s->nslots = nslots;
	s->mtu = mtu;
	return (s);
}

void
sync_seq_free(struct sync_seq *s)
{
	if (s == NULL)
		return;
	free(s->slot);
	free(s->mem);
	sync_mac_free(s->mac);
	free(s);
}

/* ---- sending --------------------------------------------------------- */

static size_t
sync_seq_idx(const struct sync_seq *s, uint32_t seq)
{
	return (seq % s->nslots);
}

/* The header of our next message: seq is set by the caller for data. */
static void
sync_seq_hdr(struct sync_seq *s, struct sync_hdr *h, uint32_t seq)
{
	memset(h, 0, sizeof(*h));
	h->seq = seq;
	h->ack = s->rx_known ? s->rx_next : 0;
	s->rx_acked = s->rx_next;
	h->epoch = s->epoch;
	h->msgno = ++s->msgno;
}

uint8_t *
sync_seq_buf(struct sync_seq *s, size_t *cap)
{
	*cap = s->mtu;
	return (s->mem + sync_seq_idx(s, s->next_seq) * s->mtu);
}

size_t
sync_seq_seal(struct sync_seq *s, struct sync_msg *m)
{
	struct sync_slot *sl = &s->slot[sync_seq_idx(s, s->next_seq)];
	struct sync_hdr	 h;
	size_t		 len;

	sync_seq_hdr(s, &h, s->next_seq);
	if ((len = sync_msg_seal_mac(m, &h, s->mac)) == 0)
		return (0);	/* libcrypto could not: the number stays */
	sl->seq = s->next_seq++;
	sl->len = (uint16_t)len;
	s->st.sent++;
	return (len);
}

size_t
sync_seq_control(struct sync_seq *s, uint8_t type, void *buf, size_t cap)
{
	struct sync_msg	 m;
	struct sync_hdr	 h;

	if ((type != SYNC_T_ALIVE && type != SYNC_T_BULK_REQ) ||
	    sync_msg_init(&m, buf, cap, type) == -1)
		return (0);
	sync_seq_hdr(s, &h, s->next_seq);
	return (sync_msg_seal_mac(&m, &h, s->mac));
}

size_t
sync_seq_nack(struct sync_seq *s, uint64_t now_ms, void *buf, size_t cap)
{
	struct sync_msg	 m;
	struct sync_hdr	 h;

	if (!s->nack_pending)
		return (0);
	/* the same gap asked for a moment ago: its resends are on the way */
	if (s->nack_sent && s->nack_first == s->rx_next &&
	    now_ms - s->nack_ms < SYNC_NACK_MS)
		return (0);
	if (sync_msg_init(&m, buf, cap, SYNC_T_NACK) == -1 ||
	    sync_msg_add_range(&m, s->rx_next, s->rx_top) == -1)
		return (0);
	sync_seq_hdr(s, &h, s->next_seq);
	s->nack_pending = 0;
	s->nack_sent = 1;
	s->nack_first = s->rx_next;
	s->nack_ms = now_ms;
	s->st.nacks_sent++;
	return (sync_msg_seal_mac(&m, &h, s->mac));
}

size_t
sync_seq_window(const struct sync_seq *s)
{
	uint32_t	 unacked = s->next_seq - s->peer_ack;

	return (unacked < s->nslots ? s->nslots - unacked : 0);
}

int
sync_seq_resend(struct sync_seq *s,
    void (*send)(const void *, size_t, void *), void *arg)
{
	struct sync_slot *sl;
	struct sync_hdr	 h;
	uint32_t	 seq;
	uint8_t		*buf;

	/* all of them, or none */
	for (seq = s->resend_from; sdiff(seq, s->next_seq) < 0; seq++) {
		sl = &s->slot[sync_seq_idx(s, seq)];
		if (sl->len == 0 || sl->seq != seq) {
			s->st.resend_failed++;
			return (-1);
		}
	}
	for (seq = s->resend_from; sdiff(seq, s->next_seq) < 0; seq++) {
		sl = &s->slot[sync_seq_idx(s, seq)];
		buf = s->mem + sync_seq_idx(s, seq) * s->mtu;
		sync_seq_hdr(s, &h, seq);
		/* if libcrypto cannot, the peer asks again */
		if (sync_reseal_mac(buf, sl->len, &h, s->mac) == -1)
			continue;
		send(buf, sl->len, arg);
		s->st.resent++;
	}
	return (0);
}

/* ---- receiving ------------------------------------------------------- */

/* A gap: the peer sent up to top, we expect rx_next. */
static int
sync_seq_gap(struct sync_seq *s, uint32_t top)
{
	if (sdiff(top, s->rx_top) > 0 || sdiff(s->rx_top, s->rx_next) < 0)
		s->rx_top = top;
	s->nack_pending = 1;
	return (SYNC_IN_NACK);
}

static int
sync_seq_data(struct sync_seq *s, const struct sync_hdr *h)
{
	int32_t		 d = sdiff(h->seq, s->rx_next);

	/* the sender's whole table follows: the stream starts again here,
	   whatever went missing before it */
	if (h->type == SYNC_T_BULK_START && d > 0) {
		s->rx_next = h->seq;
		s->nack_pending = 0;
		d = 0;
	}
	if (d < 0) {
		s->st.dups++;
		return (0);
	}
	if (d > 0) {
		s->st.gaps++;
		return (sync_seq_gap(s, h->seq));
	}
	s->rx_next++;
	s->st.applied++;
	/* everything the peer is known to have sent is in */
	if (sdiff(s->rx_top, s->rx_next) < 0)
		s->nack_pending = 0;
	if (sdiff(s->rx_next, s->rx_acked) >= SYNC_ACK_EVERY)
		return (SYNC_IN_APPLY | SYNC_IN_ACK);
	return (SYNC_IN_APPLY);
}

/* The peer's NACK: resend from the earliest it asks for, if we sent it. */
static int
sync_seq_nacked(struct sync_seq *s, const void *buf, const struct sync_hdr *h,
    uint64_t now_ms)
{
	struct sync_iter it;
	uint32_t	 first, last, from = s->next_seq;

	s->st.nacks_received++;
	sync_iter_init(&it, buf, h);
	while (sync_iter_range(&it, &first, &last))
		if (sdiff(first, from) < 0)
			from = first;
	/* nothing we sent (anything else is a peer gone wrong) */
	if (sdiff(from, s->next_seq) >= 0)
		return (0);
	/* inside what we resent a moment ago: those are still on the way,
	   and a loss among them shows again once they are in */
	if (s->resending && sdiff(from, s->resend_from) > 0 &&
	    sdiff(from, s->resend_end) < 0 &&
	    now_ms - s->resend_ms < SYNC_NACK_MS)
		return (0);
	s->resending = 1;
	s->resend_end = s->next_seq;
	s->resend_ms = now_ms;
	s->resend_from = from;
	return (SYNC_IN_RESEND);
}

int
sync_seq_input(struct sync_seq *s, const void *buf, size_t len,
    uint64_t now_ms, struct sync_hdr *h, int *err)
{
	int	 rc, fresh = 0, flags = 0;

	rc = sync_msg_parse_mac(buf, len, s->mac, h);
	if (rc == SYNC_OK &&
	    (fresh = sync_replay_check(&s->replay, h->epoch, h->msgno)) < 0)
		rc = SYNC_EREPLAY;
	if (rc != SYNC_OK) {
		s->st.refused[rc]++;
		*err = rc;
		return (-1);
	}
	s->st.received++;
	s->st.last_rx_ms = now_ms;
	if (fresh == 1 || !s->rx_known) {
		/* a new run of the peer, or our first word from it: its
		   stream goes on from here for us */
		s->rx_known = 1;
		s->rx_next = h->seq;
		s->rx_top = h->seq - 1;
		s->rx_acked = h->seq;
		s->nack_pending = 0;
		s->nack_sent = 0;
		s->peer_ack = s->next_seq;
		flags |= SYNC_IN_NEWPEER;
	} else if (h->ack != 0 && sdiff(h->ack, s->peer_ack) > 0 &&
	    sdiff(h->ack, s->next_seq) <= 0)
		s->peer_ack = h->ack;

	switch (h->type) {
	case SYNC_T_UPDATE:
	case SYNC_T_BULK_START:
	case SYNC_T_BULK_END:
		flags |= sync_seq_data(s, h);
		break;
	case SYNC_T_ALIVE:
		/* it sent up to h->seq - 1: a lost last message shows */
		if (sdiff(h->seq, s->rx_next) > 0)
			flags |= sync_seq_gap(s, h->seq - 1);
		break;
	case SYNC_T_NACK:
		flags |= sync_seq_nacked(s, buf, h, now_ms);
		break;
	case SYNC_T_BULK_REQ:
		flags |= SYNC_IN_BULKREQ;
		break;
	default:
		break;
	}
	return (flags);
}

void
sync_seq_status(const struct sync_seq *s, struct sync_seq_status *st)
{
	*st = s->st;
	st->epoch = s->epoch;
	st->next_seq = s->next_seq;
	st->peer_ack = s->peer_ack;
	st->peer_epoch = s->replay.epoch;
	st->rx_next = s->rx_next;
}
