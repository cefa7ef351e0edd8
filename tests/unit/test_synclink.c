/*
 * test_synclink.c - the HA link's logic (synclink.c) against its ops
 *
 * Copyright (C) 2026 The nfqspid authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * One link of two workers whose ops are recorded and can fail: what it
 * sends (parsed back with the key), what it asks of each worker, what
 * it refuses and says.  The peer is a real struct sync_seq that seals
 * what the test wants the link to get.  test_sync.c runs the link in
 * its daemon shell between two nodes; fuzz_syncseq.c over a hostile
 * link.  Here: the edges the ops can take (a worker stopping, a send
 * that fails, a stranger), the rings' bounds and the notes.
 */
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "synclink.h"

#define MAXSENT	64

static const char secret[] = "the pair's shared secret, 16+";

struct fake {
	/* what the link sent, by type */
	unsigned	 sent[SYNC_T_MAX];
	unsigned	 nsent;
	int		 send_fail;
	/* the UPDATEs' records in the order sent: port, packets */
	uint16_t	 port[MAXSENT];
	uint32_t	 packets[MAXSENT];
	unsigned	 nrec;
	unsigned	 end_rec;	/* nrec when BULK_END went */
	/* what it asked of the workers */
	unsigned	 calls[2][SYNCLINK_NCALLS];
	int		 call_fail[SYNCLINK_NCALLS];
	int		 stop_mid_walk;	/* a slice past the first fails */
	unsigned	 bulking;	/* slices asked while the workers
					   saw the bulk out */
	size_t		 applied;	/* records handed to SYNCLINK_APPLY */
	size_t		 applied_in[2];	/* ... by worker */
	int		 keep;		/* ... the last one's keep */
	unsigned	 sweeps_left;	/* slices a sweep takes */
	unsigned	 begun[2];	/* sweeps begun (the table's end) */
	int		 sliced;	/* a slice since worker 0 began */
	size_t		 homed_in[2];	/* records SYNCLINK_HOME took */
	uint16_t	 away_port;	/* the next SYNCLINK_AWAY gives */
	int		 away_first;	/* the last APPLY came after one */
	uint16_t	 slice_port;	/* worker 1 queues it as it is
					   walked (a hand-over) */
	uint16_t	 fence_port;	/* ... or as it sees the walk end */
	unsigned	 nfence;	/* fence calls, in order: */
	unsigned	 fenced_out;	/* bit n: the n-th saw the bulk out */
	/* what it refused and said */
	unsigned	 refused;
	char		 why[32];
	unsigned	 notes[SYNCLINK_UNSENT + 1];
	uint64_t	 note_n;
};

static struct fake	 F;
static struct synclink	 L;
static struct sync_seq	*peer;
static struct sync_key	 K;
static uint64_t		 now = 100000;

static int
fake_send(void *arg, const void *buf, size_t len)
{
	struct sync_hdr	 h;

	assert_int_equal(sync_msg_parse(buf, len, &K, &h), 0);
	assert_true(h.type < SYNC_T_MAX);
	F.sent[h.type]++;
	F.nsent++;
	if (h.type == SYNC_T_BULK_END)
		F.end_rec = F.nrec;
	if (h.type == SYNC_T_UPDATE) {
		struct sync_iter it;
		struct sync_rec	 r;

		sync_iter_init(&it, buf, &h);
		while (F.nrec < MAXSENT && sync_iter_rec(&it, &r)) {
			F.port[F.nrec] = r.s.k.sport;
			F.packets[F.nrec++] = r.s.packets;
		}
	}
	return (F.send_fail ? -1 : 0);
}

static void	 queue_in(unsigned, uint16_t, uint32_t);

static int
fake_call(void *arg, unsigned wi, int what, void *data)
{
	struct sync_slice *sl = data;
	struct sync_batch *b = data;
	struct sync_sweep *sw = data;
	size_t		 i;

	assert_true(wi < 2);
	assert_true(what >= 0 && what < SYNCLINK_NCALLS);
	F.calls[wi][what]++;
	if (what == SYNCLINK_SLICE && synclink_bulking(&L))
		F.bulking++;
	if (F.call_fail[what] || (what == SYNCLINK_SLICE &&
	    F.stop_mid_walk && sl->cursor != 0))
		return (-1);
	switch (what) {
	case SYNCLINK_SLICE:
		/* worker 0 has two connections, a slice each; worker 1 one */
		sl->count = wi == 0 ? 2 : 1;
		sl->n = 1;
		memset(&sl->rec[0], 0, sizeof(sl->rec[0]));
		sl->rec[0].s.k.family = AF_INET;
		sl->rec[0].s.k.proto = IPPROTO_UDP;
		sl->rec[0].s.k.sport = (uint16_t)(1000 + wi * 10 +
		    sl->cursor);
		sl->rec[0].s.tclass = CT_TO_UDP;
		sl->cursor = wi == 0 && sl->cursor == 0 ? 7 : 0;
		if (wi == 1 && F.slice_port != 0) {
			queue_in(1, F.slice_port, 1);
			F.slice_port = 0;
		}
		break;
	case SYNCLINK_GRACE:
		/* the workers pass the window grace till they have theirs */
		assert_true(synclink_unsettled(&L));
		break;
	case SYNCLINK_FENCE:
		F.fenced_out |= (unsigned)synclink_bulking(&L) << F.nfence++;
		if (wi == 1 && F.fence_port != 0) {
			queue_in(1, F.fence_port, 1);
			F.fence_port = 0;
		}
		break;
	case SYNCLINK_APPLY:
		/* after the move home, if one was due */
		F.away_first = F.calls[0][SYNCLINK_AWAY] > 0;
		/* each in its connection's home */
		for (i = 0; i < b->n; i++)
			assert_int_equal(synclink_home(&b->rec[i].s.k, 2),
			    wi);
		F.applied += b->n;
		F.applied_in[wi] += b->n;
		F.keep = b->keep;
		b->applied = b->n;
		break;
	case SYNCLINK_SWEEP:
		if (sw->begin) {
			/* every worker hears of the end before a slice */
			F.begun[wi]++;
			if (wi == 0)
				F.sliced = 0;
			assert_false(F.sliced);
			break;
		}
		F.sliced = 1;
		sw->gone++;
		sw->cursor = F.sweeps_left > 0 ? F.sweeps_left-- : 0;
		break;
	case SYNCLINK_AWAY:
		/* worker 0 holds 5 of the other's, in two slices of at
		   most 3; worker 1 none */
		assert_true(sl->max >= 3 && sl->max <= SYNC_SLICE);
		for (sl->n = 0; wi == 0 && sl->n < (sl->cursor ? 2u : 3u);
		    sl->n++) {
			memset(&sl->rec[sl->n], 0, sizeof(sl->rec[0]));
			sl->rec[sl->n].s.k.family = AF_INET;
			sl->rec[sl->n].s.k.proto = IPPROTO_UDP;
			do
				sl->rec[sl->n].s.k.sport = F.away_port++;
			while (synclink_home(&sl->rec[sl->n].s.k, 2) == 0);
		}
		sl->cursor = wi == 0 && sl->cursor == 0 ? 9 : 0;
		break;
	case SYNCLINK_HOME:
		for (i = 0; i < b->n; i++)
			assert_int_equal(synclink_home(&b->rec[i].s.k, 2),
			    wi);
		F.homed_in[wi] += b->n;
		b->applied = b->n;
		break;
	default:
		break;
	}
	return (0);
}

static void
fake_refused(void *arg, const struct sockaddr_storage *from, size_t len,
    const char *why)
{
	F.refused++;
	snprintf(F.why, sizeof(F.why), "%s", why);
}

static void
fake_note(void *arg, int what, uint64_t n)
{
	assert_true(what >= 0 && what <= SYNCLINK_UNSENT);
	F.notes[what]++;
	F.note_n = n;
}

static const struct synclink_ops ops = {
	.send = fake_send,
	.call = fake_call,
	.refused = fake_refused,
	.note = fake_note
};

static void
addr(struct sockaddr_storage *ss, const char *a)
{
	struct sockaddr_in	*s4 = (struct sockaddr_in *)ss;

	memset(ss, 0, sizeof(*ss));
	s4->sin_family = AF_INET;
	s4->sin_port = htons(3780);
	inet_pton(AF_INET, a, &s4->sin_addr);
}

/* A link of two workers in role, whose peer is 10.0.9.2. */
static void
link_init(int role)
{
	struct sync_config sc;

	memset(&F, 0, sizeof(F));
	config_sync_defaults(&sc);
	sc.on = 1;
	sc.role = (uint8_t)role;
	sc.queue = 8;
	sc.alone = 10;
	sc.key = K;
	addr(&sc.listen, "10.0.9.1");
	addr(&sc.peer, "10.0.9.2");
	sc.addrlen = sizeof(struct sockaddr_in);
	assert_int_equal(synclink_init(&L, &sc, 2, 1000, now, &ops, NULL), 0);
	assert_non_null(peer = sync_seq_new(&K, 2000, 64, sc.mtu));
}

static int
setup(void **state)
{
	(void)state;
	assert_int_equal(sync_key_init(&K, secret, sizeof(secret) - 1), 0);
	return (0);
}

static int
teardown(void **state)
{
	(void)state;
	synclink_clear(&L);
	sync_seq_free(peer);
	peer = NULL;
	return (0);
}

/* The peer sends a data message of type with n records. */
static void
from_peer(uint8_t type, unsigned n)
{
	struct sockaddr_storage from = L.cfg.peer;
	struct sync_msg	 m;
	struct ct_snap	 s;
	uint8_t		*buf;
	size_t		 cap, len;
	unsigned	 i;

	buf = sync_seq_buf(peer, &cap);
	assert_int_equal(sync_msg_init(&m, buf, cap, type), 0);
	for (i = 0; i < n; i++) {
		memset(&s, 0, sizeof(s));
		s.k.family = AF_INET;
		s.k.proto = IPPROTO_UDP;
		s.k.sport = (uint16_t)(2000 + i);
		s.tclass = CT_TO_UDP;
		assert_int_equal(sync_msg_add_conn(&m, &s, ""), 0);
	}
	assert_true((len = sync_seq_seal(peer, &m)) > 0);
	synclink_input(&L, buf, len, &from, now);
}

/* The peer's control message (ALIVE, BULK_REQ). */
static void
control_from_peer(uint8_t type)
{
	struct sockaddr_storage from = L.cfg.peer;
	uint8_t		 buf[SYNC_MSG_MAX];
	size_t		 len;

	assert_true((len = sync_seq_control(peer, type, buf,
	    sizeof(buf))) > 0);
	synclink_input(&L, buf, len, &from, now);
}

/* The ring: half full wakes, full loses and calls for the whole
   table; a backup's workers queue nothing. */
static void
test_ring(void **state)
{
	struct sync_rec	*r;
	struct sync_status st;
	unsigned	 i;

	(void)state;
	link_init(SYNC_ROLE_MASTER);
	assert_int_equal(L.ringsz, 8);
	for (i = 0; i < 8; i++) {
		assert_int_equal(synclink_room(&L, 1), 8 - i);
		assert_non_null(r = synclink_slot(&L, 1));
		memset(r, 0, sizeof(*r));
		r->s.k.sport = (uint16_t)i;
		assert_int_equal(synclink_commit(&L, 1), i + 1 >= 4);
	}
	assert_null(synclink_slot(&L, 1));
	assert_null(synclink_slot(&L, 2));	/* no such worker */
	synclink_status(&L, now, &st);
	assert_int_equal(st.queued, 8);
	assert_int_equal(st.st.changes, 8);
	synclink_pump(&L, now);
	assert_int_equal(L.st.lost, 1);
	assert_int_equal(F.notes[SYNCLINK_BULK], 1);
	assert_int_equal(F.sent[SYNC_T_BULK_START], 1);
	assert_int_equal(F.sent[SYNC_T_BULK_END], 1);
	assert_int_equal(L.tx.records, 3);
	assert_int_equal(L.tx.total, 3);
	assert_int_equal(synclink_room(&L, 1), 8);
	/* counted once: the worker's count only grows */
	synclink_pump(&L, now);
	assert_int_equal(L.st.lost, 1);
	assert_int_equal(L.st.bulks_sent, 1);

	assert_int_equal(synclink_role(&L, 7), -1);
	assert_int_equal(errno, EINVAL);
	assert_int_equal(synclink_role(&L, SYNC_ROLE_BACKUP), 0);
	assert_int_equal(synclink_sending(&L), 0);
	assert_null(synclink_slot(&L, 0));
	assert_int_equal(L.rings[0].lost, 0);
}

/* Queue a UDP connection's change (port, packets) in worker wi's ring. */
static void
queue_in(unsigned wi, uint16_t port, uint32_t packets)
{
	struct sync_rec	*r;

	assert_non_null(r = synclink_slot(&L, wi));
	memset(r, 0, sizeof(*r));
	r->op = SYNC_OP_UPSERT;
	r->s.k.family = AF_INET;
	r->s.k.proto = IPPROTO_UDP;
	r->s.k.sport = port;
	r->s.tclass = CT_TO_UDP;
	r->s.packets = packets;
	(void)synclink_commit(&L, wi);
}

/* The i-th record the link sent: its port and packets, each where not
   0 (0: not looked at). */
static void
sent_rec(unsigned i, uint16_t port, uint32_t packets)
{
	if (port != 0 && F.port[i] != port)
		fail_msg("record %u: port %u, not %u", i, F.port[i], port);
	if (packets != 0 && F.packets[i] != packets)
		fail_msg("record %u: %u packets, not %u", i, F.packets[i],
		    packets);
}

/* Both workers' rings drained. */
static void
rings_empty(void)
{
	assert_int_equal(synclink_room(&L, 0), 8);
	assert_int_equal(synclink_room(&L, 1), 8);
}

/* A connection worker 1 changed, then gave to worker 0 (adoption),
   which changed it again before the link drained the rings: the peer
   gets worker 1's record first, so worker 0's newer one stays.  Ring
   order alone would send worker 0's first.  Without a move, the rings
   go in their order. */
static void
test_moved_order(void **state)
{
	(void)state;
	link_init(SYNC_ROLE_MASTER);
	queue_in(1, 7, 11);		/* home's refresh */
	queue_in(1, 8, 1);
	synclink_moved(&L);		/* 7 goes to worker 0 */
	queue_in(0, 7, 14);		/* the asker's window moved */
	queue_in(0, 9, 1);
	queue_in(1, 10, 1);
	synclink_pump(&L, now);
	assert_int_equal(F.nrec, 5);
	sent_rec(0, 7, 11);
	sent_rec(1, 8, 0);
	/* the rest tie: ring 0's, then ring 1's */
	sent_rec(2, 7, 14);
	sent_rec(3, 9, 0);
	sent_rec(4, 10, 0);
	rings_empty();

	/* no move: ring 0's first, as ever; each ring coalesced */
	F.nrec = 0;
	queue_in(1, 7, 20);
	queue_in(0, 7, 15);
	queue_in(0, 7, 16);
	synclink_pump(&L, now);
	assert_int_equal(F.nrec, 2);
	sent_rec(0, 0, 16);
	sent_rec(1, 0, 20);
}

/*
 * The drain reads the rings' heads one after the other.  Worker 0
 * queued its change of 7 after its ring's head was read, then gave 7
 * to worker 1 (a hand-over while the whole table goes out), which
 * queued its own before its ring's head was read: worker 1's went
 * first, worker 0's older one at the next drain, and the peer kept
 * that.  The drain reads the moves before any head and leaves a record
 * of more for the next drain.  The test's one thread cannot come
 * between two heads' reads: the moves the drain finds are set back by
 * hand to those before the hand-over, and worker 0 queues after.
 */
static void
test_moved_between(void **state)
{
	(void)state;
	link_init(SYNC_ROLE_MASTER);
	synclink_moved(&L);		/* 7 goes to worker 1 */
	queue_in(1, 7, 14);
	L.moves--;			/* as the drain read them */
	synclink_pump(&L, now);
	assert_int_equal(F.nrec, 0);
	assert_int_equal(synclink_room(&L, 1), 7);
	queue_in(0, 7, 11);		/* the giver's, before the move */
	L.moves++;
	synclink_pump(&L, now);
	assert_int_equal(F.nrec, 2);
	sent_rec(0, 7, 11);
	sent_rec(1, 7, 14);
	rings_empty();
}

/* A worker stopping in a bulk (or ending: the daemon exits): the rest
   of its table cannot go, and a BULK_END would have the peer's sweep
   end it there.  The bulk is given up, no end sent, said; none begins
   after it, asked for or not. */
static void
test_slice_stopping(void **state)
{
	(void)state;
	link_init(SYNC_ROLE_MASTER);
	F.stop_mid_walk = 1;
	control_from_peer(SYNC_T_BULK_REQ);
	synclink_pump(&L, now);
	assert_int_equal(F.calls[0][SYNCLINK_SLICE], 2);
	assert_int_equal(F.calls[1][SYNCLINK_SLICE], 0);
	assert_int_equal(F.sent[SYNC_T_BULK_START], 1);
	assert_int_equal(F.sent[SYNC_T_BULK_END], 0);
	assert_int_equal(F.calls[0][SYNCLINK_FENCE], 0);
	assert_int_equal(L.tx.active, 0);
	assert_int_equal(L.tx.records, 1);
	assert_int_equal(L.tx.total, 2);
	assert_int_equal(F.notes[SYNCLINK_UNSENT], 1);
	assert_int_equal(F.note_n, 0);
	/* the workers saw it out while it walked them, and no longer */
	assert_int_equal(F.bulking, 2);
	assert_int_equal(synclink_bulking(&L), 0);
	/* asked again: nothing goes, and it says so */
	F.stop_mid_walk = 0;
	control_from_peer(SYNC_T_BULK_REQ);
	synclink_pump(&L, now);
	assert_int_equal(F.sent[SYNC_T_BULK_START], 1);
	assert_int_equal(F.sent[SYNC_T_BULK_END], 0);
	assert_int_equal(F.calls[0][SYNCLINK_SLICE], 2);
	assert_int_equal(L.tx.active, 0);
	assert_int_equal(F.notes[SYNCLINK_UNSENT], 2);
	assert_int_equal(L.st.bulks_sent, 1);
}

/* What a worker queued while the bulk walked it (a hand-over that saw
   it going), even as the walk ended, goes before BULK_END: a fence (one
   call each) while the workers still see the bulk out, another once
   they see it over, then their rings drain, or the peer's sweep would
   end such a connection. */
static void
test_bulk_fence(void **state)
{
	(void)state;
	link_init(SYNC_ROLE_MASTER);
	F.slice_port = 41;
	F.fence_port = 42;
	control_from_peer(SYNC_T_BULK_REQ);
	synclink_pump(&L, now);
	assert_int_equal(F.sent[SYNC_T_BULK_END], 1);
	assert_int_equal(L.tx.active, 0);
	assert_int_equal(F.calls[0][SYNCLINK_FENCE], 2);
	assert_int_equal(F.calls[1][SYNCLINK_FENCE], 2);
	/* the first round saw it out, the second over */
	assert_int_equal(F.nfence, 4);
	assert_int_equal(F.fenced_out, 0x3);
	assert_int_equal(synclink_bulking(&L), 0);
	/* the three slices' records and both changes */
	assert_int_equal(F.nrec, 5);
	assert_int_equal(F.end_rec, 5);
	sent_rec(3, 41, 0);
	sent_rec(4, 42, 0);
	assert_int_equal(synclink_room(&L, 1), 8);
}

/* What cannot be sent is counted, and nothing else changes. */
static void
test_send_errors(void **state)
{
	(void)state;
	link_init(SYNC_ROLE_MASTER);
	F.send_fail = 1;
	synclink_alive(&L, now);
	assert_int_equal(F.sent[SYNC_T_ALIVE], 1);
	assert_int_equal(L.st.send_errors, 1);
	control_from_peer(SYNC_T_BULK_REQ);
	synclink_pump(&L, now);
	/* BULK_START, the UPDATE of both workers, BULK_END */
	assert_int_equal(L.st.send_errors, 4);
	assert_int_equal(L.st.sent, 3);
}

/* A backup applies each record in its home worker, once; a worker
   that cannot counts the records as failed; a master made so less than
   grace ago applies them where the workers hold nothing of its own
   (keep), and then ignores them. */
static void
test_apply(void **state)
{
	(void)state;
	link_init(SYNC_ROLE_BACKUP);
	from_peer(SYNC_T_UPDATE, 3);
	/* a new peer: asked for the table */
	assert_int_equal(F.notes[SYNCLINK_NEWPEER], 1);
	assert_int_equal(F.sent[SYNC_T_BULK_REQ], 1);
	assert_int_equal(L.rx.asked, 1);
	assert_int_equal(F.applied, 3);
	assert_int_equal(L.st.applied, 3);
	/* 10 connections: both workers are home to some */
	from_peer(SYNC_T_UPDATE, 10);
	assert_int_equal(F.applied, 13);
	assert_true(F.applied_in[0] > 0 && F.applied_in[1] > 0);
	/* one call a worker and message at most */
	assert_true(F.calls[0][SYNCLINK_APPLY] <= 2 &&
	    F.calls[1][SYNCLINK_APPLY] <= 2);
	assert_int_equal(L.st.applied, 13);
	F.call_fail[SYNCLINK_APPLY] = 1;
	from_peer(SYNC_T_UPDATE, 2);
	assert_int_equal(L.st.import_failed, 2);
	assert_int_equal(L.st.applied, 13);
	assert_int_equal(synclink_role(&L, SYNC_ROLE_MASTER), 0);
	synclink_command(&L, SYNC_ROLE_MASTER, 0, now);
	assert_int_equal(F.calls[0][SYNCLINK_GRACE] +
	    F.calls[1][SYNCLINK_GRACE], L.cfg.grace > 0 ? 2 : 0);
	F.call_fail[SYNCLINK_APPLY] = 0;
	assert_int_equal(F.keep, 0);
	/* the old master, still forwarding until its own switch */
	from_peer(SYNC_T_UPDATE, 4);
	assert_int_equal(F.applied, 17);
	assert_int_equal(F.keep, 1);
	assert_int_equal(L.st.applied, 17);
	assert_int_equal(L.st.ignored, 0);
	now += (uint64_t)L.cfg.grace * 1000;
	from_peer(SYNC_T_UPDATE, 4);
	assert_int_equal(L.st.ignored, 4);
	assert_int_equal(F.applied, 17);
	assert_int_equal(L.st.import_failed, 2);
	assert_int_equal(L.st.received, 5);
}

/*
 * Made master by nfqspictl: synclink_role() at once, the link's command
 * later, on its own thread.  A datagram of the old master's read in
 * between is in the grace already (as a backup's move home comes before
 * the command): its records are applied with keep, not ignored.  With
 * grace = 0 they are ignored, command or not.
 */
static void
test_apply_before_command(void **state)
{
	(void)state;
	link_init(SYNC_ROLE_BACKUP);
	from_peer(SYNC_T_UPDATE, 2);
	assert_int_equal(F.applied, 2);
	assert_int_equal(F.keep, 0);
	assert_true(synclink_unsettled(&L));
	assert_int_equal(synclink_role(&L, SYNC_ROLE_MASTER), 0);
	assert_true(synclink_unsettled(&L));
	from_peer(SYNC_T_UPDATE, 3);
	assert_int_equal(L.st.ignored, 0);
	assert_int_equal(F.applied, 5);
	assert_int_equal(F.keep, 1);
	synclink_command(&L, SYNC_ROLE_MASTER, 0, now);
	assert_int_equal(F.calls[0][SYNCLINK_GRACE] +
	    F.calls[1][SYNCLINK_GRACE], 2);
	assert_false(synclink_unsettled(&L));
	from_peer(SYNC_T_UPDATE, 1);
	assert_int_equal(F.applied, 6);
	assert_int_equal(L.st.ignored, 0);
	/* its grace over, a second switch before the command: in it */
	now += (uint64_t)L.cfg.grace * 1000;
	from_peer(SYNC_T_UPDATE, 1);
	assert_int_equal(L.st.ignored, 1);
	assert_int_equal(synclink_role(&L, SYNC_ROLE_BACKUP), 0);
	synclink_command(&L, SYNC_ROLE_BACKUP, 0, now);
	assert_int_equal(synclink_role(&L, SYNC_ROLE_MASTER), 0);
	from_peer(SYNC_T_UPDATE, 2);
	assert_int_equal(L.st.ignored, 1);
	assert_int_equal(F.applied, 8);
	synclink_command(&L, SYNC_ROLE_MASTER, 0, now);
	/* its grace over, made backup and master again before the link ran
	   the first command: the older one leaves the switch in its grace */
	now += (uint64_t)L.cfg.grace * 1000;
	assert_int_equal(synclink_role(&L, SYNC_ROLE_BACKUP), 0);
	assert_int_equal(synclink_role(&L, SYNC_ROLE_MASTER), 0);
	synclink_command(&L, SYNC_ROLE_BACKUP, 0, now);
	assert_true(synclink_unsettled(&L));
	from_peer(SYNC_T_UPDATE, 2);
	assert_int_equal(L.st.ignored, 1);
	assert_int_equal(F.applied, 10);
	synclink_command(&L, SYNC_ROLE_MASTER, 0, now);
	assert_false(synclink_unsettled(&L));

	/* no grace: ignored before the command as after it */
	synclink_clear(&L);
	sync_seq_free(peer);
	link_init(SYNC_ROLE_BACKUP);
	L.cfg.grace = 0;
	from_peer(SYNC_T_UPDATE, 1);
	assert_int_equal(synclink_role(&L, SYNC_ROLE_MASTER), 0);
	from_peer(SYNC_T_UPDATE, 2);
	assert_int_equal(L.st.ignored, 2);
	assert_int_equal(F.applied, 1);
	synclink_command(&L, SYNC_ROLE_MASTER, 0, now);
	from_peer(SYNC_T_UPDATE, 2);
	assert_int_equal(L.st.ignored, 4);
}

/*
 * Made backup: each worker's connections whose home is another go
 * there, slice by slice, before the table is asked for; said once.  Made
 * master: nothing moves.
 */
static void
test_homecoming(void **state)
{
	(void)state;
	link_init(SYNC_ROLE_MASTER);
	F.away_port = 3000;
	assert_int_equal(synclink_role(&L, SYNC_ROLE_BACKUP), 0);
	synclink_command(&L, SYNC_ROLE_BACKUP, 0, now);
	assert_int_equal(F.calls[0][SYNCLINK_AWAY], 2);
	assert_int_equal(F.calls[1][SYNCLINK_AWAY], 1);
	/* worker 1 takes the 5, one call a slice */
	assert_int_equal(F.calls[0][SYNCLINK_HOME], 0);
	assert_int_equal(F.calls[1][SYNCLINK_HOME], 2);
	assert_int_equal(F.homed_in[1], 5);
	assert_int_equal(F.notes[SYNCLINK_HOMED], 1);
	assert_int_equal(F.note_n, 5);
	assert_int_equal(F.sent[SYNC_T_BULK_REQ], 1);

	/* once a switch */
	synclink_command(&L, SYNC_ROLE_BACKUP, 0, now);
	assert_int_equal(F.calls[0][SYNCLINK_AWAY], 2);

	/* the peer's records come after the move, even before the
	   command: it comes first */
	memset(F.calls, 0, sizeof(F.calls));
	assert_int_equal(synclink_role(&L, SYNC_ROLE_BACKUP), 0);
	from_peer(SYNC_T_UPDATE, 3);
	assert_int_equal(F.calls[0][SYNCLINK_AWAY], 2);
	assert_int_equal(F.calls[1][SYNCLINK_HOME], 2);
	assert_true(F.away_first);
	assert_int_equal(F.notes[SYNCLINK_HOMED], 2);
	synclink_command(&L, SYNC_ROLE_BACKUP, 0, now);
	assert_int_equal(F.calls[0][SYNCLINK_AWAY], 2);

	/* home stopping: every worker is still asked, and what home
	   could not take is not said to have moved */
	memset(F.calls, 0, sizeof(F.calls));
	F.call_fail[SYNCLINK_HOME] = 1;
	assert_int_equal(synclink_role(&L, SYNC_ROLE_BACKUP), 0);
	synclink_command(&L, SYNC_ROLE_BACKUP, 0, now);
	assert_int_equal(F.calls[0][SYNCLINK_AWAY], 2);
	assert_int_equal(F.calls[1][SYNCLINK_AWAY], 1);
	assert_int_equal(F.notes[SYNCLINK_HOMED], 2);
	F.call_fail[SYNCLINK_HOME] = 0;

	memset(F.calls, 0, sizeof(F.calls));
	assert_int_equal(synclink_role(&L, SYNC_ROLE_MASTER), 0);
	synclink_command(&L, SYNC_ROLE_MASTER, 0, now);
	assert_int_equal(F.calls[0][SYNCLINK_AWAY], 0);
	assert_int_equal(F.calls[1][SYNCLINK_AWAY], 0);
	/* made backup and master again before the link ran: nothing */
	assert_int_equal(synclink_role(&L, SYNC_ROLE_BACKUP), 0);
	assert_int_equal(synclink_role(&L, SYNC_ROLE_MASTER), 0);
	synclink_command(&L, SYNC_ROLE_MASTER, 0, now);
	assert_int_equal(F.calls[0][SYNCLINK_AWAY], 0);
}

/* A connection's home: within range, the same both ways round, stable,
   and spread over the workers. */
static void
test_home(void **state)
{
	struct ct_tuple	 k, r;
	unsigned	 n, i, h, seen[16];

	(void)state;
	for (n = 1; n <= 16; n++) {
		memset(seen, 0, sizeof(seen));
		for (i = 0; i < 256; i++) {
			memset(&k, 0, sizeof(k));
			k.family = i & 1 ? AF_INET6 : AF_INET;
			k.proto = i & 2 ? IPPROTO_UDP : IPPROTO_TCP;
			k.src.a8[0] = 10;
			k.src.a8[3] = (uint8_t)i;
			k.dst.a8[0] = 192;
			k.dst.a8[3] = (uint8_t)(i * 7);
			if (k.family == AF_INET6)
				k.dst.a8[15] = 1;
			k.sport = (uint16_t)(40000 + i * 13);
			k.dport = (uint16_t)(i & 4 ? 53 : 443);
			r = k;
			r.src = k.dst;
			r.dst = k.src;
			r.sport = k.dport;
			r.dport = k.sport;
			h = synclink_home(&k, n);
			assert_true(h < n);
			assert_int_equal(synclink_home(&r, n), h);
			assert_int_equal(synclink_home(&k, n), h);
			seen[h]++;
		}
		for (i = 0; i < n; i++)
			assert_true(seen[i] > 0);
	}
}

/* A whole table: resync, sweep to its end, ready once; a bulk half in
   ends the workers' resync when it is given up. */
static void
test_bulk_in(void **state)
{
	(void)state;
	link_init(SYNC_ROLE_BACKUP);
	from_peer(SYNC_T_BULK_START, 0);
	assert_int_equal(F.calls[0][SYNCLINK_RESYNC], 1);
	assert_int_equal(F.calls[1][SYNCLINK_RESYNC], 1);
	assert_int_equal(F.sent[SYNC_T_BULK_REQ], 0);
	assert_int_equal(L.rx.active, 1);
	from_peer(SYNC_T_UPDATE, 2);
	F.sweeps_left = 2;
	from_peer(SYNC_T_BULK_END, 0);
	/* every worker's table, each as many slices as it takes, after
	   each heard of the end */
	assert_int_equal(F.begun[0], 1);
	assert_int_equal(F.begun[1], 1);
	assert_int_equal(F.calls[0][SYNCLINK_SWEEP], 1 + 3);
	assert_int_equal(F.calls[1][SYNCLINK_SWEEP], 1 + 1);
	assert_int_equal(L.st.swept, 4);
	assert_int_equal(F.notes[SYNCLINK_READY], 1);
	assert_int_equal(F.note_n, 2);
	assert_int_equal(L.ready, 1);
	assert_int_equal(L.rx.active, 0);
	assert_int_equal(L.st.bulks_received, 1);

	/* the next one is no news; a BULK_END without its start is
	   nothing */
	from_peer(SYNC_T_BULK_START, 0);
	from_peer(SYNC_T_BULK_END, 0);
	from_peer(SYNC_T_BULK_END, 0);
	assert_int_equal(F.notes[SYNCLINK_READY], 1);
	assert_int_equal(L.st.bulks_received, 2);

	from_peer(SYNC_T_BULK_START, 0);
	synclink_command(&L, -1, 1, now);	/* nfqspictl sync resync */
	assert_int_equal(L.rx.active, 0);
	assert_int_equal(F.calls[0][SYNCLINK_RESYNC_END], 1);
	assert_int_equal(F.calls[1][SYNCLINK_RESYNC_END], 1);
	assert_int_equal(F.sent[SYNC_T_BULK_REQ], 1);
	assert_int_equal(L.rx.asked, 1);
}

/* Not from the peer's address: refused before the stream sees it. */
static void
test_stranger(void **state)
{
	struct sockaddr_storage other;
	struct sync_seq_status st;
	uint8_t		 buf[SYNC_MSG_MAX];
	size_t		 len;

	(void)state;
	link_init(SYNC_ROLE_BACKUP);
	assert_true((len = sync_seq_control(peer, SYNC_T_ALIVE, buf,
	    sizeof(buf))) > 0);
	addr(&other, "10.0.9.3");
	synclink_input(&L, buf, len, &other, now);
	assert_int_equal(L.st.strangers, 1);
	assert_int_equal(F.refused, 1);
	assert_string_equal(F.why, "stranger");
	sync_seq_status(L.seq, &st);
	assert_int_equal(st.peer_epoch, 0);
	buf[len - 1] ^= 1;
	synclink_input(&L, buf, len, &L.cfg.peer, now);
	assert_int_equal(L.st.forged, 1);
	assert_string_equal(F.why, sync_err_name(SYNC_EAUTH));
	assert_int_equal(L.st.received, 0);
}

/* No word from the peer for alone s: ready alone, said once; a backup
   asks for the table every SYNC_BULKREQ_MS until then. */
static void
test_alone(void **state)
{
	struct sync_status st;

	(void)state;
	link_init(SYNC_ROLE_BACKUP);
	synclink_alive(&L, now);
	assert_int_equal(F.sent[SYNC_T_BULK_REQ], 1);
	synclink_alive(&L, now + SYNC_BULKREQ_MS - 1);
	assert_int_equal(F.sent[SYNC_T_BULK_REQ], 1);
	synclink_alive(&L, now + SYNC_BULKREQ_MS);
	assert_int_equal(F.sent[SYNC_T_BULK_REQ], 2);
	synclink_alive(&L, now + 9999);
	assert_int_equal(L.ready, 0);
	synclink_alive(&L, now + 10000);
	assert_int_equal(F.notes[SYNCLINK_ALONE], 1);
	assert_int_equal(F.note_n, 10);
	assert_int_equal(L.ready, 1);
	assert_int_equal(L.alone, 1);
	synclink_alive(&L, now + 20000);
	assert_int_equal(F.notes[SYNCLINK_ALONE], 1);
	synclink_status(&L, now + 20000, &st);
	assert_int_equal(st.ready, 1);
	assert_int_equal(st.alone, 1);
	assert_int_equal(st.role, SYNC_ROLE_BACKUP);
	assert_int_equal(st.reachable, 0);
	assert_true(st.heard_ms == UINT64_MAX);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_ring, setup, teardown),
		cmocka_unit_test_setup_teardown(test_moved_order, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_moved_between, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_slice_stopping, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_bulk_fence, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_send_errors, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_apply, setup, teardown),
		cmocka_unit_test_setup_teardown(test_apply_before_command,
		    setup, teardown),
		cmocka_unit_test(test_home),
		cmocka_unit_test_setup_teardown(test_homecoming, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_bulk_in, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stranger, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_alone, setup, teardown),
	};

	return (cmocka_run_group_tests(tests, NULL, NULL));
}
