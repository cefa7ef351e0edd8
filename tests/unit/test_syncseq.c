/*
 * test_syncseq.c - the sync link's reliable stream over a lossy link
 *
 * Copyright (C) 2026 The nfqspid authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * Two nodes and a link between them in memory.  A "table" is a set of
 * tags (a connection's source port): an UPDATE adds its tags to the
 * receiver's set, a bulk replaces the set.  Whatever the link loses,
 * duplicates or reorders, the receiver must end with the sender's set,
 * having applied the stream in order and each message once.
 */
#include <sys/socket.h>
#include <netinet/in.h>

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/crypto.h>

#include "syncseq.h"

#define MTU	1400
#define QLEN	8192
#define NTAGS	65536

static const char secret[] = "the pair's shared secret, 16+";

/* libcrypto's allocations, counted once main() has hooked them */
static int	 hooked;
static size_t	 nalloc;

/* a ring of datagrams in flight */
struct link {
	uint8_t		 msg[QLEN][MTU];
	size_t		 len[QLEN];
	size_t		 head;
	size_t		 n;
};

struct node {
	struct sync_seq	*s;
	uint8_t		 have[NTAGS];	/* its table */
	uint8_t		 got[NTAGS];	/* what it received, to rebuild */
	uint32_t	 last_applied;	/* seq of the last data applied */
	int		 applied;
	int		 newpeer;
	int		 bulkreq;
	int		 resyncs;	/* bulks sent for a failed resend */
	int		 in_bulk;	/* receiving one */
	int		 bulk_on;	/* sending one, from bulk_next on */
	uint32_t	 bulk_next;
};

struct pair {
	struct node	 n[2];
	struct link	*l[2];		/* l[i]: datagrams to node i */
	uint64_t	 now;
	uint64_t	 rnd;
	int		 loss;		/* per mille */
	int		 dup;
	int		 reorder;
};

static struct sync_key
key(void)
{
	struct sync_key	 k;

	assert_int_equal(sync_key_init(&k, secret, sizeof(secret) - 1), 0);
	return (k);
}

static uint32_t
rnd(struct pair *p)
{
	p->rnd ^= p->rnd << 13;
	p->rnd ^= p->rnd >> 7;
	p->rnd ^= p->rnd << 17;
	return ((uint32_t)(p->rnd >> 16));
}

static void
pair_init(struct pair *p, size_t nslots)
{
	struct sync_key	 k = key();

	memset(p, 0, sizeof(*p));
	p->n[0].s = sync_seq_new(&k, 1000, nslots, MTU);
	p->n[1].s = sync_seq_new(&k, 2000, nslots, MTU);
	assert_non_null(p->n[0].s);
	assert_non_null(p->n[1].s);
	p->l[0] = calloc(1, sizeof(struct link));
	p->l[1] = calloc(1, sizeof(struct link));
	assert_non_null(p->l[0]);
	assert_non_null(p->l[1]);
	p->now = 10000;
	p->rnd = 0x9e3779b97f4a7c15ULL;
}

static void
pair_free(struct pair *p)
{
	sync_seq_free(p->n[0].s);
	sync_seq_free(p->n[1].s);
	free(p->l[0]);
	free(p->l[1]);
}

/* Put a datagram on the link to node `to`, perhaps losing it. */
static void
xmit(struct pair *p, int to, const void *buf, size_t len)
{
	struct link	*l = p->l[to];

	assert_true(len <= MTU);
	if (p->loss && (int)(rnd(p) % 1000) < p->loss)
		return;
	assert_true(l->n < QLEN);
	memcpy(l->msg[(l->head + l->n) % QLEN], buf, len);
	l->len[(l->head + l->n) % QLEN] = len;
	l->n++;
}

struct xarg {
	struct pair	*p;
	int		 to;
};

static void
xmit_cb(const void *buf, size_t len, void *arg)
{
	struct xarg	*x = arg;

	xmit(x->p, x->to, buf, len);
}

/* One data message from node i with the given tags. */
static void
send_data(struct pair *p, int i, uint8_t type, const uint16_t *tags,
    size_t n)
{
	struct sync_msg	 m;
	struct ct_snap	 s;
	uint8_t		*buf;
	size_t		 cap, len, j;

	buf = sync_seq_buf(p->n[i].s, &cap);
	assert_int_equal(cap, MTU);
	assert_int_equal(sync_msg_init(&m, buf, cap, type), 0);
	memset(&s, 0, sizeof(s));
	s.k.family = AF_INET;
	s.k.proto = IPPROTO_UDP;
	s.tclass = CT_TO_UDP;
	for (j = 0; j < n; j++) {
		s.k.sport = tags[j];
		assert_int_equal(sync_msg_add_conn(&m, &s, NULL), 0);
	}
	len = sync_seq_seal(p->n[i].s, &m);
	xmit(p, !i, buf, len);
}

static void
send_update(struct pair *p, int i, uint16_t tag)
{
	p->n[i].have[tag] = 1;
	send_data(p, i, SYNC_T_UPDATE, &tag, 1);
}

/* A connection of node i ends. */
static void
send_delete(struct pair *p, int i, uint16_t tag)
{
	struct sync_msg	 m;
	struct ct_tuple	 k;
	uint8_t		*buf;
	size_t		 cap;

	p->n[i].have[tag] = 0;
	buf = sync_seq_buf(p->n[i].s, &cap);
	assert_int_equal(sync_msg_init(&m, buf, cap, SYNC_T_UPDATE), 0);
	memset(&k, 0, sizeof(k));
	k.family = AF_INET;
	k.proto = IPPROTO_UDP;
	k.sport = tag;
	assert_int_equal(sync_msg_add_delete(&m, &k), 0);
	xmit(p, !i, buf, sync_seq_seal(p->n[i].s, &m));
}

/* Node i's whole table, as a failed resend or a BULK_REQ calls for:
   started here, sent by bulk_pump() as the window allows. */
static void
send_bulk(struct pair *p, int i)
{
	send_data(p, i, SYNC_T_BULK_START, NULL, 0);
	p->n[i].bulk_on = 1;
	p->n[i].bulk_next = 0;
}

static void
bulk_pump(struct pair *p, int i)
{
	struct node	*n = &p->n[i];
	uint16_t	 tags[8];
	size_t		 k;

	while (n->bulk_on && sync_seq_window(n->s) > 0) {
		for (k = 0; k < 8 && n->bulk_next < NTAGS; n->bulk_next++)
			if (n->have[n->bulk_next])
				tags[k++] = (uint16_t)n->bulk_next;
		if (k > 0)
			send_data(p, i, SYNC_T_UPDATE, tags, k);
		if (n->bulk_next == NTAGS && sync_seq_window(n->s) > 0) {
			send_data(p, i, SYNC_T_BULK_END, NULL, 0);
			n->bulk_on = 0;
		}
	}
}

static void
apply(struct node *n, const void *buf, const struct sync_hdr *h)
{
	struct sync_iter it;
	struct sync_rec	 r;

	/* in order, one after the other; a bulk may start anywhere */
	if (n->applied > 0 && h->type != SYNC_T_BULK_START)
		assert_int_equal(h->seq, n->last_applied + 1);
	n->last_applied = h->seq;
	n->applied++;
	if (h->type == SYNC_T_BULK_START) {
		memset(n->got, 0, sizeof(n->got));
		n->in_bulk = 1;
		return;
	}
	if (h->type == SYNC_T_BULK_END) {
		n->in_bulk = 0;
		return;
	}
	sync_iter_init(&it, buf, h);
	while (sync_iter_rec(&it, &r))
		n->got[r.s.k.sport] = r.op == SYNC_OP_UPSERT;
}

static void
alive(struct pair *p, int i)
{
	uint8_t		 buf[MTU];
	size_t		 len;

	len = sync_seq_control(p->n[i].s, SYNC_T_ALIVE, buf, sizeof(buf));
	assert_int_equal(len, SYNC_MSG_MIN);
	xmit(p, !i, buf, len);
}

/* Hand node i the datagrams on its link; answer as the daemon would. */
static void
deliver(struct pair *p, int i)
{
	struct link	*l = p->l[i];
	struct node	*n = &p->n[i];
	struct sync_hdr	 h;
	struct xarg	 x = { p, !i };
	uint8_t		 buf[MTU], out[MTU];
	size_t		 k, len;
	int		 f, err;

	while (l->n > 0) {
		/* reordered: the second one first, swapped */
		k = l->head;
		if (p->reorder && l->n > 1 &&
		    rnd(p) % 1000 < (unsigned)p->reorder)
			k = (l->head + 1) % QLEN;
		len = l->len[k];
		memcpy(buf, l->msg[k], len);
		if (k != l->head) {
			memcpy(l->msg[k], l->msg[l->head], l->len[l->head]);
			l->len[k] = l->len[l->head];
		}
		/* duplicated: it stays for another delivery */
		if (!(p->dup && rnd(p) % 1000 < (unsigned)p->dup)) {
			l->head = (l->head + 1) % QLEN;
			l->n--;
		}
		p->now++;
		f = sync_seq_input(n->s, buf, len, p->now, &h, &err);
		if (f == -1) {
			/* a duplicate on the wire has the same msgno */
			assert_int_equal(err, SYNC_EREPLAY);
			continue;
		}
		if (f & SYNC_IN_NEWPEER)
			n->newpeer++;
		if (f & SYNC_IN_APPLY)
			apply(n, buf, &h);
		if ((f & SYNC_IN_NACK) &&
		    (len = sync_seq_nack(n->s, p->now, out, sizeof(out))) > 0)
			xmit(p, !i, out, len);
		if ((f & SYNC_IN_RESEND) && sync_seq_resend(n->s, xmit_cb,
		    &x) == -1) {
			n->resyncs++;
			send_bulk(p, i);
		}
		if (f & SYNC_IN_BULKREQ) {
			n->bulkreq++;
			send_bulk(p, i);
		}
		if (f & SYNC_IN_ACK)
			alive(p, i);
		bulk_pump(p, i);
	}
}

/* Both ways until nothing moves; ALIVEs and pending NACKs on a tick. */
static void
settle(struct pair *p)
{
	uint8_t		 buf[MTU];
	size_t		 len;
	int		 round, quiet = 0, i;

	p->loss = p->dup = p->reorder = 0;
	for (round = 0; round < 100000 && quiet < 3; round++) {
		p->now += SYNC_NACK_MS;
		for (i = 0; i < 2; i++) {
			alive(p, i);
			if ((len = sync_seq_nack(p->n[i].s, p->now, buf,
			    sizeof(buf))) > 0)
				xmit(p, !i, buf, len);
			bulk_pump(p, i);
		}
		quiet = p->l[0]->n + p->l[1]->n <= 2 && !p->n[0].bulk_on &&
		    !p->n[1].bulk_on ? quiet + 1 : 0;
		deliver(p, 1);
		deliver(p, 0);
	}
	assert_true(quiet == 3);
}

static void
test_in_order(void **state)
{
	struct pair		*p = malloc(sizeof(*p));
	struct sync_seq_status	 st;
	uint16_t		 t;

	pair_init(p, 64);
	for (t = 1; t <= 10; t++)
		send_update(p, 0, t);
	deliver(p, 1);
	assert_int_equal(p->n[1].applied, 10);
	assert_int_equal(p->n[1].newpeer, 1);
	assert_memory_equal(p->n[0].have, p->n[1].got, NTAGS);
	sync_seq_status(p->n[1].s, &st);
	assert_int_equal(st.rx_next, 11);
	assert_true(st.peer_epoch == 1000);
	assert_int_equal(st.received, 10);
	/* the acknowledgement comes back with B's next message */
	alive(p, 1);
	deliver(p, 0);
	sync_seq_status(p->n[0].s, &st);
	assert_int_equal(st.next_seq, 11);
	assert_int_equal(st.peer_ack, 11);
	assert_int_equal(st.sent, 10);
	pair_free(p);
	free(p);
}

static void
test_loss_nack(void **state)
{
	struct pair		*p = malloc(sizeof(*p));
	struct sync_seq_status	 a, b;
	uint16_t		 t;

	pair_init(p, 64);
	for (t = 1; t <= 10; t++) {
		p->loss = t == 3 ? 1000 : 0;
		send_update(p, 0, t);
	}
	p->loss = 0;
	deliver(p, 1);
	/* 4 to 10 are ahead of 3: not applied, one NACK for them all */
	assert_int_equal(p->n[1].applied, 2);
	sync_seq_status(p->n[1].s, &b);
	assert_int_equal(b.gaps, 7);
	assert_int_equal(b.nacks_sent, 1);
	deliver(p, 0);
	sync_seq_status(p->n[0].s, &a);
	assert_int_equal(a.nacks_received, 1);
	assert_int_equal(a.resent, 8);
	deliver(p, 1);
	assert_int_equal(p->n[1].applied, 10);
	assert_memory_equal(p->n[0].have, p->n[1].got, NTAGS);

	/* the last message lost: the next ALIVE shows the gap */
	p->loss = 1000;
	send_update(p, 0, 11);
	p->loss = 0;
	deliver(p, 1);
	assert_int_equal(p->n[1].applied, 10);
	alive(p, 0);
	deliver(p, 1);
	deliver(p, 0);
	deliver(p, 1);
	assert_int_equal(p->n[1].applied, 11);
	assert_memory_equal(p->n[0].have, p->n[1].got, NTAGS);
	pair_free(p);
	free(p);
}

static void
test_nack_rate(void **state)
{
	struct pair	*p = malloc(sizeof(*p));
	uint8_t		 buf[MTU];

	pair_init(p, 64);
	send_update(p, 0, 1);
	deliver(p, 1);
	p->loss = 1000;
	send_update(p, 0, 2);
	p->loss = 0;
	send_update(p, 0, 3);
	alive(p, 0);
	/* B's NACKs go nowhere: the gap stays, asked again only later */
	deliver(p, 1);
	p->l[0]->n = 0;
	assert_int_equal(sync_seq_nack(p->n[1].s, p->now, buf, sizeof(buf)),
	    0);
	send_update(p, 0, 4);
	deliver(p, 1);
	assert_int_equal(sync_seq_nack(p->n[1].s, p->now + SYNC_NACK_MS - 5,
	    buf, sizeof(buf)), 0);
	assert_int_equal(sync_seq_nack(p->n[1].s, p->now + SYNC_NACK_MS,
	    buf, sizeof(buf)), SYNC_MSG_MIN + SYNC_RANGE_LEN);
	/* asked; nothing new: nothing more */
	assert_int_equal(sync_seq_nack(p->n[1].s, p->now + 10 * SYNC_NACK_MS,
	    buf, sizeof(buf)), 0);
	pair_free(p);
	free(p);
}

static void
test_dup_replay_forged(void **state)
{
	struct pair		*p = malloc(sizeof(*p));
	struct sync_seq_status	 st;
	struct sync_key		 other;
	struct sync_seq		*o;
	struct sync_msg		 m;
	struct sync_hdr		 h;
	uint8_t			 copy[MTU], *buf;
	size_t			 len, cap;
	int			 err;

	pair_init(p, 64);
	send_update(p, 0, 1);
	len = p->l[1]->len[0];
	memcpy(copy, p->l[1]->msg[0], len);
	deliver(p, 1);
	/* the same datagram again: a replay */
	err = 0;
	assert_int_equal(sync_seq_input(p->n[1].s, copy, len, p->now, &h,
	    &err), -1);
	assert_int_equal(err, SYNC_EREPLAY);
	/* resent (a new msgno) after it was applied: a duplicate, dropped */
	{
		struct sync_hdr	 rh = { .seq = 1, .ack = 0, .epoch = 1000,
		    .msgno = 99 };
		struct sync_key	 k = key();

		sync_reseal(copy, len, &rh, &k);
	}
	assert_int_equal(sync_seq_input(p->n[1].s, copy, len, p->now, &h,
	    &err), 0);
	/* another key */
	assert_int_equal(sync_key_init(&other, "not the pair's secret",
	    21), 0);
	o = sync_seq_new(&other, 1000, SYNC_SEQ_MINSLOTS, MTU);
	assert_non_null(o);
	buf = sync_seq_buf(o, &cap);
	assert_int_equal(sync_msg_init(&m, buf, cap, SYNC_T_UPDATE), 0);
	len = sync_seq_seal(o, &m);
	assert_int_equal(sync_seq_input(p->n[1].s, buf, len, p->now, &h,
	    &err), -1);
	assert_int_equal(err, SYNC_EAUTH);
	/* cut */
	assert_int_equal(sync_seq_input(p->n[1].s, buf, 10, p->now, &h,
	    &err), -1);
	assert_int_equal(err, SYNC_ESHORT);
	sync_seq_status(p->n[1].s, &st);
	assert_int_equal(st.dups, 1);
	assert_int_equal(st.refused[SYNC_EREPLAY], 1);
	assert_int_equal(st.refused[SYNC_EAUTH], 1);
	assert_int_equal(st.refused[SYNC_ESHORT], 1);
	assert_int_equal(st.applied, 1);
	sync_seq_free(o);
	pair_free(p);
	free(p);
}

/* More lost than the ring holds: the sender sends its whole table. */
static void
test_overflow_resync(void **state)
{
	struct pair		*p = malloc(sizeof(*p));
	struct sync_seq_status	 a, b;
	uint16_t		 t;

	pair_init(p, SYNC_SEQ_MINSLOTS);
	send_update(p, 0, 1);
	deliver(p, 1);
	for (t = 2; t <= 20; t++) {
		p->loss = t < 20 ? 1000 : 0;
		send_update(p, 0, t);
	}
	p->loss = 0;
	deliver(p, 1);
	deliver(p, 0);
	assert_int_equal(p->n[0].resyncs, 1);
	sync_seq_status(p->n[0].s, &a);
	assert_int_equal(a.resend_failed, 1);
	assert_int_equal(a.resent, 0);
	settle(p);
	assert_int_equal(p->n[1].in_bulk, 0);
	assert_memory_equal(p->n[0].have, p->n[1].got, NTAGS);
	sync_seq_status(p->n[0].s, &a);
	sync_seq_status(p->n[1].s, &b);
	assert_int_equal(b.rx_next, a.next_seq);
	/* a connection whose end was lost is gone after a bulk too */
	p->n[0].have[5] = 0;
	send_bulk(p, 0);
	settle(p);
	assert_memory_equal(p->n[0].have, p->n[1].got, NTAGS);
	pair_free(p);
	free(p);
}

/* Either node restarts: the stream picks up, old runs are refused. */
static void
test_restart(void **state)
{
	struct pair	*p = malloc(sizeof(*p));
	struct sync_key	 k = key();
	struct sync_hdr	 h;
	uint8_t		 old[MTU];
	size_t		 oldlen;
	int		 err;
	uint16_t	 t;

	pair_init(p, 64);
	for (t = 1; t <= 5; t++)
		send_update(p, 0, t);
	oldlen = p->l[1]->len[4];
	memcpy(old, p->l[1]->msg[4], oldlen);
	deliver(p, 1);
	/* the backup restarts: it takes A's stream from A's next message on
	   and is told so (it asks for the table) */
	sync_seq_free(p->n[1].s);
	p->n[1].s = sync_seq_new(&k, 2001, 64, MTU);
	memset(p->n[1].got, 0, NTAGS);
	p->n[1].applied = p->n[1].newpeer = 0;
	send_update(p, 0, 6);
	deliver(p, 1);
	assert_int_equal(p->n[1].newpeer, 1);
	assert_int_equal(p->n[1].applied, 1);
	{
		uint8_t	 buf[MTU];
		size_t	 len = sync_seq_control(p->n[1].s, SYNC_T_BULK_REQ,
		    buf, sizeof(buf));

		xmit(p, 0, buf, len);
	}
	deliver(p, 0);
	assert_int_equal(p->n[0].bulkreq, 1);
	deliver(p, 1);
	assert_memory_equal(p->n[0].have, p->n[1].got, NTAGS);

	/* the master restarts: a new epoch, its stream from 1 again */
	sync_seq_free(p->n[0].s);
	p->n[0].s = sync_seq_new(&k, 1001, 64, MTU);
	p->n[1].applied = 0;
	send_update(p, 0, 7);
	deliver(p, 1);
	assert_int_equal(p->n[1].newpeer, 2);
	assert_int_equal(p->n[1].applied, 1);
	/* a recording of its last run: refused */
	assert_int_equal(sync_seq_input(p->n[1].s, old, oldlen, p->now, &h,
	    &err), -1);
	assert_int_equal(err, SYNC_EREPLAY);
	pair_free(p);
	free(p);
}

/* A flood of forged, replayed and cut datagrams changes nothing: each
   is refused and counted, and the real stream goes on. */
static void
test_flood(void **state)
{
	struct pair		*p = malloc(sizeof(*p));
	struct sync_seq_status	 before, after;
	struct sync_hdr		 h;
	uint8_t			 copy[MTU];
	size_t			 len;
	int			 i, err;

	pair_init(p, 64);
	send_update(p, 0, 1);
	len = p->l[1]->len[p->l[1]->head];
	memcpy(copy, p->l[1]->msg[p->l[1]->head], len);
	deliver(p, 1);
	sync_seq_status(p->n[1].s, &before);
	for (i = 0; i < 30000; i++) {
		switch (i % 3) {
		case 0:		/* the same message again */
			assert_int_equal(sync_seq_input(p->n[1].s, copy, len,
			    p->now, &h, &err), -1);
			assert_int_equal(err, SYNC_EREPLAY);
			break;
		case 1:		/* one byte of it changed */
			copy[SYNC_HDRLEN + i % (len - SYNC_MSG_MIN)] ^= 1;
			assert_int_equal(sync_seq_input(p->n[1].s, copy, len,
			    p->now, &h, &err), -1);
			assert_int_equal(err, SYNC_EAUTH);
			copy[SYNC_HDRLEN + i % (len - SYNC_MSG_MIN)] ^= 1;
			break;
		default:	/* cut */
			assert_int_equal(sync_seq_input(p->n[1].s, copy,
			    (size_t)i % len, p->now, &h, &err), -1);
			break;
		}
	}
	sync_seq_status(p->n[1].s, &after);
	assert_int_equal(after.received, before.received);
	assert_int_equal(after.applied, before.applied);
	assert_int_equal(after.rx_next, before.rx_next);
	assert_int_equal(after.refused[SYNC_EREPLAY], 10000);
	assert_int_equal(after.refused[SYNC_EAUTH], 10000);
	assert_int_equal(after.refused[SYNC_ESHORT] +
	    after.refused[SYNC_ELENGTH], 10000);
	/* the master's next change still comes through */
	send_update(p, 0, 2);
	deliver(p, 1);
	assert_int_equal(p->n[1].applied, 2);
	assert_memory_equal(p->n[0].have, p->n[1].got, NTAGS);
	pair_free(p);
	free(p);
}

/* A bad link for a long time, then a good one: the same table. */
static void
run_random(size_t nslots, int expect_resync)
{
	struct pair		*p = malloc(sizeof(*p));
	struct sync_seq_status	 a, b;
	int			 i;

	pair_init(p, nslots);
	for (i = 0; i < 20000; i++) {
		p->loss = 20;
		p->dup = 10;
		p->reorder = 20;
		send_update(p, 0, (uint16_t)(1 + rnd(p) % (NTAGS - 1)));
		if (rnd(p) % 8 == 0)
			send_delete(p, 0, (uint16_t)(1 + rnd(p) % (NTAGS - 1)));
		if (i % 10 == 0) {
			alive(p, 0);
			alive(p, 1);
		}
		if (rnd(p) % 4 == 0) {
			deliver(p, 1);
			deliver(p, 0);
		}
	}
	settle(p);
	sync_seq_status(p->n[0].s, &a);
	sync_seq_status(p->n[1].s, &b);
	assert_int_equal(b.rx_next, a.next_seq);
	assert_int_equal(a.peer_ack, a.next_seq);
	if (expect_resync)
		assert_true(p->n[0].resyncs > 0);
	else {
		assert_int_equal(p->n[0].resyncs, 0);
		assert_int_equal(a.resend_failed, 0);
	}
	/* every change, in order, once; or a bulk and every one since */
	assert_memory_equal(p->n[0].have, p->n[1].got, NTAGS);
	send_bulk(p, 0);
	settle(p);
	assert_memory_equal(p->n[0].have, p->n[1].got, NTAGS);
	assert_true(b.gaps > 0 && b.dups > 0 && a.resent > 0);
	pair_free(p);
	free(p);
}

static void
test_random_link(void **state)
{
	run_random(4096, 0);
	run_random(8, 1);
}

static void
test_args(void **state)
{
	struct sync_key	 k = key();
	uint8_t		 buf[SYNC_MSG_MIN];
	struct sync_seq	*s;

	errno = 0;
	assert_null(sync_seq_new(&k, 1, SYNC_SEQ_MINSLOTS - 1, MTU));
	assert_int_equal(errno, EINVAL);
	assert_null(sync_seq_new(&k, 1, 65537, MTU));
	assert_null(sync_seq_new(&k, 1, 8, SYNC_MSG_MIN - 1));
	assert_null(sync_seq_new(&k, 1, 8, SYNC_MSG_MAX + 1));
	assert_null(sync_seq_new(&k, 0, 8, MTU));
	s = sync_seq_new(&k, 1, 8, SYNC_MSG_MIN);
	assert_non_null(s);
	assert_int_equal(sync_seq_control(s, SYNC_T_UPDATE, buf, sizeof(buf)),
	    0);
	assert_int_equal(sync_seq_control(s, SYNC_T_ALIVE, buf,
	    sizeof(buf) - 1), 0);
	assert_int_equal(sync_seq_control(s, SYNC_T_BULK_REQ, buf,
	    sizeof(buf)), SYNC_MSG_MIN);
	/* no gap, no NACK */
	assert_int_equal(sync_seq_nack(s, 0, buf, sizeof(buf)), 0);
	sync_seq_free(s);
	sync_seq_free(NULL);
}

static void *
count_malloc(size_t n, const char *file, int line)
{
	nalloc++;
	return (malloc(n));
}

static void *
count_realloc(void *p, size_t n, const char *file, int line)
{
	nalloc++;
	return (realloc(p, n));
}

static void
count_free(void *p, const char *file, int line)
{
	free(p);
}

/*
 * A message through the stream, sealed and taken, costs libcrypto less
 * than half the allocations of sealing and checking it with the bare
 * key (HMAC(): a fetch and a dozen contexts a message, most of what a
 * small message cost), and the bytes are the same.
 */
static void
test_mac_allocs(void **state)
{
	struct sync_key	 k = key();
	struct sync_seq	*a, *b;
	struct sync_msg	 m;
	struct sync_hdr	 h, hk;
	uint8_t		*buf, copy[MTU];
	size_t		 cap, len, bare, ready;
	int		 err, i;

	if (!hooked)
		skip();
	a = sync_seq_new(&k, 1000, 64, MTU);
	b = sync_seq_new(&k, 2000, 64, MTU);
	assert_non_null(a);
	assert_non_null(b);
	bare = ready = 0;
	for (i = 0; i < 16; i++) {
		buf = sync_seq_buf(a, &cap);
		assert_int_equal(sync_msg_init(&m, buf, cap, SYNC_T_UPDATE),
		    0);
		nalloc = 0;
		len = sync_seq_seal(a, &m);
		assert_true(len >= SYNC_MSG_MIN);
		assert_int_equal(sync_seq_input(b, buf, len, 10000, &h, &err) &
		    SYNC_IN_APPLY, SYNC_IN_APPLY);
		ready += nalloc;
		/* the same message with the key: the same MAC */
		memcpy(copy, buf, len);
		assert_int_equal(sync_msg_init(&m, copy, sizeof(copy),
		    SYNC_T_UPDATE), 0);
		nalloc = 0;
		assert_int_equal(sync_msg_seal(&m, &h, &k), len);
		assert_int_equal(sync_msg_parse(copy, len, &k, &hk), SYNC_OK);
		bare += nalloc;
		assert_memory_equal(copy, buf, len);
		assert_int_equal(hk.msgno, h.msgno);
	}
	assert_true(ready * 2 < bare);
	sync_seq_free(a);
	sync_seq_free(b);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_in_order),
		cmocka_unit_test(test_loss_nack),
		cmocka_unit_test(test_nack_rate),
		cmocka_unit_test(test_dup_replay_forged),
		cmocka_unit_test(test_overflow_resync),
		cmocka_unit_test(test_restart),
		cmocka_unit_test(test_flood),
		cmocka_unit_test(test_random_link),
		cmocka_unit_test(test_args),
		cmocka_unit_test(test_mac_allocs),
	};

	/* before libcrypto allocates anything */
	hooked = CRYPTO_set_mem_functions(count_malloc, count_realloc,
	    count_free);
	return (cmocka_run_group_tests(tests, NULL, NULL));
}
