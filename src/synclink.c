/*
 * synclink.c - the HA sync's logic: a node's connection changes to the
 * peer, the peer's to its table (after conntrackd's FTFW and OpenBSD's
 * pfsync)
 *
 * Copyright (C) 2026 The nfqspid authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * The master's workers queue their tables' changes in rings of their
 * own (synclink_slot(), never waiting); every flush, or as soon as a
 * ring holds a datagram's worth, synclink_pump() drains them into UPDATE
 * messages of the reliable stream (syncseq.h: sequence numbers, NACKs,
 * resends from a bounded ring).  When the stream cannot serve the peer
 * (a ring full, a resend the ring no longer holds, the peer asking) it
 * sends the whole table instead: BULK_START, the tables slice by slice
 * (SYNCLINK_SLICE), BULK_END, no faster than the peer acknowledges.
 *
 * The backup applies what comes (SYNCLINK_APPLY), each record in the
 * thread of its connection's home worker (synclink_home()), and, from
 * its start on or after `sync role backup`, asks for the whole table
 * until it has it: only then is it ready.  A master leaves what
 * the peer sends alone.  Anything forged, replayed, malformed, of
 * another version or not from the peer is dropped, counted and handed
 * to ops->refused.
 *
 * Pure: the shell (sync.c) brings the time, the datagrams and the
 * commands, and does what ops asks; see synclink.h.
 */
#include <sys/socket.h>
#include <netinet/in.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "synclink.h"

/* ---- the workers' side ------------------------------------------------- */

int
synclink_sending(const struct synclink *l)
{
	return (__atomic_load_n(&l->sending, __ATOMIC_RELAXED));
}

uint64_t
synclink_room(const struct synclink *l, unsigned wid)
{
	const struct sync_ring *r = &l->rings[wid];

	return (l->ringsz - (__atomic_load_n(&r->head, __ATOMIC_RELAXED) -
	    __atomic_load_n(&r->tail, __ATOMIC_ACQUIRE)));
}

struct sync_rec *
synclink_slot(struct synclink *l, unsigned wid)
{
	struct sync_ring *r;
	uint64_t	 head, tail;

	if (!synclink_sending(l) || wid >= l->nworkers)
		return (NULL);
	r = &l->rings[wid];
	head = __atomic_load_n(&r->head, __ATOMIC_RELAXED);
	tail = __atomic_load_n(&r->tail, __ATOMIC_ACQUIRE);
	if (head - tail >= l->ringsz) {
		__atomic_add_fetch(&r->lost, 1, __ATOMIC_RELAXED);
		return (NULL);
	}
	return (&r->rec[head & (l->ringsz - 1)]);
}

int
synclink_commit(struct synclink *l, unsigned wid)
{
	struct sync_ring *r = &l->rings[wid];
	uint64_t	 head, tail;

	head = __atomic_load_n(&r->head, __ATOMIC_RELAXED);
	/* after the moves of connections this worker took over */
	r->rec[head & (l->ringsz - 1)].moves = __atomic_load_n(&l->moves,
	    __ATOMIC_ACQUIRE);
	head++;
	tail = __atomic_load_n(&r->tail, __ATOMIC_ACQUIRE);
	__atomic_store_n(&r->head, head, __ATOMIC_RELEASE);
	__atomic_add_fetch(&r->queued, 1, __ATOMIC_RELAXED);
	/* half full: drain before the flush, so nothing is lost */
	return (head - tail >= l->wake_at);
}

/*
 * The giver's thread, before the connection leaves it: what it queued
 * of it so far has fewer moves than what the taker queues once it has
 * it (the hand-over orders the two), so synclink_drain() sends that
 * first whichever ring it drains first: else the peer would keep the
 * giver's older state.
 */
void
synclink_moved(struct synclink *l)
{
	__atomic_add_fetch(&l->moves, 1, __ATOMIC_SEQ_CST);
}

int
synclink_bulking(const struct synclink *l)
{
	return (__atomic_load_n(&l->bulking, __ATOMIC_ACQUIRE));
}

void
synclink_rebulk(struct synclink *l)
{
	__atomic_store_n(&l->rebulk, 1, __ATOMIC_RELEASE);
}

int
synclink_unsettled(const struct synclink *l)
{
	return (!synclink_sending(l) ||
	    __atomic_load_n(&l->mastering, __ATOMIC_RELAXED));
}

_Static_assert(sizeof(struct sync_ring) == 2 * CACHELINE &&
    offsetof(struct sync_ring, tail) == CACHELINE,
    "a worker's ring: its end and the link's, a line each");

int
synclink_role(struct synclink *l, int role)
{
	if (role != SYNC_ROLE_MASTER && role != SYNC_ROLE_BACKUP) {
		errno = EINVAL;
		return (-1);
	}
	/* the link moves the connections home before it applies any
	   record of the peer's (synclink_homecoming()) */
	if (role == SYNC_ROLE_BACKUP)
		__atomic_store_n(&l->homing, 1, __ATOMIC_SEQ_CST);
	/* and a new master's grace begins now, not at the command: the
	   old master's records may come first (synclink_granted()) */
	else
		__atomic_store_n(&l->mastering, 1, __ATOMIC_SEQ_CST);
	/* from now on the workers queue their changes, or stop; a switch
	   is counted once made: a bulk that saw the count sees the role
	   it made (synclink_bulk_whole()) */
	__atomic_store_n(&l->role, role, __ATOMIC_SEQ_CST);
	if (__atomic_exchange_n(&l->sending, role == SYNC_ROLE_MASTER,
	    __ATOMIC_SEQ_CST) != (role == SYNC_ROLE_MASTER))
		__atomic_add_fetch(&l->switches, 1, __ATOMIC_SEQ_CST);
	return (0);
}

static int
synclink_backup(const struct synclink *l)
{
	return (__atomic_load_n(&l->role, __ATOMIC_RELAXED) ==
	    SYNC_ROLE_BACKUP);
}

/* ---- sending ----------------------------------------------------------- */

static void
synclink_send(const void *buf, size_t len, void *arg)
{
	struct synclink	*l = arg;

	if (l->ops->send(l->arg, buf, len) == -1)
		l->st.send_errors++;
}

static void
synclink_control(struct synclink *l, uint8_t type)
{
	size_t		 len;

	if ((len = sync_seq_control(l->seq, type, l->ctlbuf,
	    sizeof(l->ctlbuf))) > 0)
		synclink_send(l->ctlbuf, len, l);
}

static void
synclink_nack(struct synclink *l, uint64_t now)
{
	size_t		 n;

	if ((n = sync_seq_nack(l->seq, now, l->ctlbuf,
	    sizeof(l->ctlbuf))) > 0) {
		synclink_send(l->ctlbuf, n, l);
		l->st.nacks_sent++;
	}
}

/* The UPDATE being filled goes out. */
static void
synclink_seal(struct synclink *l)
{
	size_t		 len;

	if (!l->open)
		return;
	l->open = 0;
	if (l->msg.count == 0)
		return;
	if ((len = sync_seq_seal(l->seq, &l->msg)) > 0) {
		synclink_send(l->msg.buf, len, l);
		l->st.sent++;
	}
}

/* A data message without records (BULK_START, BULK_END). */
static void
synclink_mark(struct synclink *l, uint8_t type)
{
	struct sync_msg	 m;
	uint8_t		*buf;
	size_t		 cap, len;

	synclink_seal(l);
	buf = sync_seq_buf(l->seq, &cap);
	if (sync_msg_init(&m, buf, cap, type) == -1)
		return;
	if ((len = sync_seq_seal(l->seq, &m)) > 0) {
		synclink_send(buf, len, l);
		l->st.sent++;
	}
}

static void
synclink_add(struct synclink *l, const struct sync_rec *r)
{
	uint8_t		*buf;
	size_t		 cap;
	int		 tries, rc;

	for (tries = 0; tries < 2; tries++) {
		if (!l->open) {
			buf = sync_seq_buf(l->seq, &cap);
			if (sync_msg_init(&l->msg, buf, cap,
			    SYNC_T_UPDATE) == -1)
				return;
			l->open = 1;
		}
		rc = r->op == SYNC_OP_DELETE ?
		    sync_msg_add_delete(&l->msg, &r->s.k) :
		    sync_msg_add_conn(&l->msg, &r->s, r->rule);
		if (rc == 0 || errno != ENOSPC)
			return;		/* EINVAL: our own table is sane */
		synclink_seal(l);
	}
}

static void	 synclink_drain(struct synclink *);

static void
synclink_bulk_begin(struct synclink *l, uint64_t now)
{
	struct sync_seq_status	 st;

	if (l->stopped != 0) {
		/* synclink_bulk_drop(): a worker never comes back */
		l->ops->note(l->arg, SYNCLINK_UNSENT, l->stopped - 1);
		return;
	}
	/* what the rings hold goes ahead of BULK_START: a record queued
	   before we were made backup, drained after it, would keep there
	   a connection ended while we were backup (not queued) */
	synclink_drain(l);
	/* before the first slice: the workers' calls order it */
	__atomic_store_n(&l->bulking, 1, __ATOMIC_RELEASE);
	synclink_mark(l, SYNC_T_BULK_START);
	sync_seq_status(l->seq, &st);
	l->tx.active = 1;
	l->tx.peer = st.peer_epoch;
	l->tx.start = st.next_seq - 1;
	/* the count first: a switch after it is seen at the check */
	l->tx.switches = __atomic_load_n(&l->switches, __ATOMIC_SEQ_CST);
	l->tx.whole = synclink_sending(l);
	l->tx.begin_ms = now;
	l->again = 0;		/* this one starts after what was asked */
	l->tx.wi = 0;
	l->tx.cursor = 0;
	l->tx.records = 0;
	l->tx.total = 0;
	l->st.bulks_sent++;
	l->ops->note(l->arg, SYNCLINK_BULK, 0);
}

/*
 * The bulk going out, with the changes that follow it, brings the peer
 * our whole table: we were master from its start on, so a change after
 * a part's walk went out as one.  A part walked while we were backup
 * lacks those made after it and before the switch to master, which
 * went nowhere.
 */
static int
synclink_bulk_whole(const struct synclink *l)
{
	return (l->tx.active && l->tx.whole && l->tx.switches ==
	    __atomic_load_n(&l->switches, __ATOMIC_SEQ_CST));
}

/*
 * Worker wi has stopped, or ended (its queue lost: the daemon exits),
 * and cannot give the rest of its table, nor, the walk done, take its
 * fence (what was handed to it may be in no slice and no change): a
 * BULK_END would have the peer's sweep end those connections there, on
 * the node that takes over once we are gone.  The bulk is given up
 * without its end: the peer keeps its table as our changes made it,
 * and asks again if it had asked for it (our next run answers).  None
 * begins after it.
 */
static void
synclink_bulk_drop(struct synclink *l, unsigned wi)
{
	l->stopped = wi + 1;
	l->tx.active = 0;
	l->again = 0;
	__atomic_store_n(&l->bulking, 0, __ATOMIC_SEQ_CST);
	l->ops->note(l->arg, SYNCLINK_UNSENT, wi);
}

/*
 * The walk is done.  A connection handed between workers while it went
 * may be in neither slice; its giver or taker then queued it as a
 * change (worker_sync_hand_off()), perhaps after this pump's drain, and
 * a change that reached the peer after BULK_END would find it swept
 * there.  Two fences (a worker's call runs after what its thread was
 * doing, and after the answers already in its inbox):
 * - the first while the bulk is still out: a giver that saw no bulk
 *   (it began after) posted its answer before the walk could pass the
 *   giver, so the taker takes it by then, and sees the bulk going;
 * - then the workers see the bulk over, and the second call finds a
 *   hand-over that saw it going done, its change queued.
 * Then their rings drain ahead of BULK_END.  A worker that stopped
 * before its fence gives the bulk up (synclink_bulk_drop()): -1.
 */
static int
synclink_fence(struct synclink *l)
{
	unsigned	 i;

	for (i = 0; i < l->nworkers; i++)
		if (l->ops->call(l->arg, i, SYNCLINK_FENCE, NULL) == -1) {
			synclink_bulk_drop(l, i);
			return (-1);
		}
	return (0);
}

static void
synclink_bulk_end(struct synclink *l, uint64_t now)
{
	if (synclink_fence(l) == -1)
		return;
	__atomic_store_n(&l->bulking, 0, __ATOMIC_SEQ_CST);
	if (synclink_fence(l) == -1)
		return;
	synclink_drain(l);
	synclink_mark(l, SYNC_T_BULK_END);
	l->tx.active = 0;
	if ((l->again & SYNCLINK_AGAIN_PEER) ||
	    (l->again && synclink_sending(l)))
		synclink_bulk_begin(l, now);
	l->again = 0;
}

/*
 * The next slices of the bulk, as far as the peer's window lets them: a
 * slice never makes more messages than the window has room for (less
 * two: the UPDATE being filled, BULK_END), or what the peer loses of it
 * could not be resent, and a small resend ring would never see a bulk
 * through.
 */
static void
synclink_bulk_step(struct synclink *l, uint64_t now)
{
	struct sync_slice sl;
	size_t		 i, win, max;
	/* records a message holds at least (the longest rule names) */
	size_t		 per = (l->cfg.mtu - SYNC_MSG_MIN) / SYNC_REC_MAX;

	while (l->tx.active && (win = sync_seq_window(l->seq)) > 2) {
		max = (win - 2) * (per > 0 ? per : 1);
		if (l->tx.wi >= l->nworkers) {
			synclink_bulk_end(l, now); /* perhaps the next */
			continue;
		}
		memset(&sl, 0, sizeof(sl));
		sl.rec = l->slice;
		sl.max = max < SYNC_SLICE ? max : SYNC_SLICE;
		sl.cursor = l->tx.cursor;
		if (l->ops->call(l->arg, l->tx.wi, SYNCLINK_SLICE,
		    &sl) == -1) {
			synclink_bulk_drop(l, l->tx.wi);
			break;
		}
		if (l->tx.cursor == 0)
			l->tx.total += sl.count;
		for (i = 0; i < sl.n; i++)
			synclink_add(l, &l->slice[i]);
		l->tx.records += sl.n;
		l->tx.cursor = sl.cursor;
		if (sl.cursor == 0)
			l->tx.wi++;
	}
}

static uint32_t
synclink_tuple_hash(const struct ct_tuple *k)
{
	const uint8_t	*p = (const uint8_t *)k;
	uint32_t	 h = 2166136261u;
	size_t		 i;

	for (i = 0; i < sizeof(*k); i++) {
		h ^= p[i];
		h *= 16777619u;
	}
	return (h ^ h >> 15);
}

/* One end of a connection (its address and port), for synclink_home(). */
static uint32_t
synclink_end_hash(uint8_t family, const union pkt_addr *a, uint16_t port)
{
	size_t		 i, n = family == AF_INET ? 4 : 16;
	uint32_t	 h = 2166136261u;

	for (i = 0; i < n; i++)
		h = (h ^ a->a8[i]) * 16777619u;
	h = (h ^ (port & 0xff)) * 16777619u;
	return ((h ^ (port >> 8)) * 16777619u);
}

unsigned
synclink_home(const struct ct_tuple *k, unsigned n)
{
	uint32_t	 h;

	if (n < 2)
		return (0);
	/* the ends added: the same either way round */
	h = synclink_end_hash(k->family, &k->src, k->sport) +
	    synclink_end_hash(k->family, &k->dst, k->dport);
	h = (h ^ k->proto) * 0x9e3779b1u;
	return ((unsigned)((((uint64_t)(h ^ h >> 16)) * n) >> 32));
}

/*
 * Ring ri's changes, coalesced: a connection changed twice in one drain
 * goes once, as it is now (a short connection's NEW, its states and its
 * end within a flush are one record; ct_export()ed tuples are zeroed,
 * so they compare whole).  Those superseded are marked in the ring's
 * gone bits; l->top and l->cur say what the drain takes.
 */
static void
synclink_coalesce(struct synclink *l, unsigned ri, uint32_t moves)
{
	struct sync_ring *r = &l->rings[ri];
	uint64_t	 cap = 2 * l->ringsz, mask = l->ringsz - 1;
	uint64_t	 head, tail, i, j, h;
	uint8_t		*gone = l->gone + ri * (l->ringsz / 8);
	struct sync_rec	*a;

	head = __atomic_load_n(&r->head, __ATOMIC_ACQUIRE);
	tail = l->cur[ri] = __atomic_load_n(&r->tail, __ATOMIC_RELAXED);
	/* a record of more moves than the drain began with waits for the
	   next one: synclink_drain() */
	for (i = tail; i != head; i++)
		if ((int32_t)(r->rec[i & mask].moves - moves) > 0)
			break;
	head = l->top[ri] = i;
	for (i = tail; i != head; i++) {
		a = &r->rec[i & mask];
		gone[(i & mask) / 8] &= (uint8_t)~(1u << (i & 7));
		for (h = synclink_tuple_hash(&a->s.k) & (cap - 1);
		    (j = l->coal[h]) != 0; h = (h + 1) & (cap - 1))
			if (memcmp(&r->rec[(j - 1) & mask].s.k, &a->s.k,
			    sizeof(a->s.k)) == 0) {
				gone[((j - 1) & mask) / 8] |=
				    (uint8_t)(1u << ((j - 1) & 7));
				l->st.coalesced++;
				break;
			}
		l->coal[h] = i + 1;
	}
	/* the slots used, cleared for the next ring */
	for (i = tail; i != head; i++)
		for (h = synclink_tuple_hash(&r->rec[i & mask].s.k) &
		    (cap - 1); l->coal[h] != 0; h = (h + 1) & (cap - 1))
			l->coal[h] = 0;
}

/* Ring ri's next record not superseded, or NULL at the drain's end. */
static struct sync_rec *
synclink_next(struct synclink *l, unsigned ri)
{
	uint64_t	 mask = l->ringsz - 1, i;
	const uint8_t	*gone = l->gone + ri * (l->ringsz / 8);

	for (; (i = l->cur[ri]) != l->top[ri]; l->cur[ri]++)
		if (!(gone[(i & mask) / 8] >> (i & 7) & 1))
			return (&l->rings[ri].rec[i & mask]);
	return (NULL);
}

/*
 * The rings' changes into UPDATEs, merged by their moves: a connection
 * another worker adopted goes out as its giver last had it, then as
 * its taker has it (synclink_moved()).  A ring's moves never go down:
 * round by round, the fewest moves left, each ring's records of that
 * many in ring order (without a move, one round: ring by ring).
 *
 * The rings' heads are read one after the other, and a giver may queue
 * in a ring read already, then hand over to a taker whose ring is read
 * after (a hand-over while the whole table goes out comes from the
 * giver's own thread): the taker's record would go first, the giver's
 * at the next drain.  So the moves are read once, before any head, and
 * each ring stops at its first record of more: a giver's record of
 * fewer moves was queued before that read, so before its ring's head
 * was read too, and goes in this drain as well.
 */
static void
synclink_drain(struct synclink *l)
{
	struct sync_rec	*a;
	uint32_t	 least, moves;
	unsigned	 i;
	int		 any;

	moves = __atomic_load_n(&l->moves, __ATOMIC_ACQUIRE);
	for (i = 0; i < l->nworkers; i++)
		synclink_coalesce(l, i, moves);
	for (;;) {
		least = 0;
		any = 0;
		for (i = 0; i < l->nworkers; i++)
			if ((a = synclink_next(l, i)) != NULL && (!any ||
			    (int32_t)(a->moves - least) < 0)) {
				least = a->moves;
				any = 1;
			}
		if (!any)
			break;
		for (i = 0; i < l->nworkers; i++)
			while ((a = synclink_next(l, i)) != NULL &&
			    (int32_t)(a->moves - least) <= 0) {
				synclink_add(l, a);
				l->cur[i]++;
			}
	}
	for (i = 0; i < l->nworkers; i++)
		__atomic_store_n(&l->rings[i].tail, l->top[i],
		    __ATOMIC_RELEASE);
}

/*
 * The workers' changes into UPDATEs, a bulk on, and whatever waits
 * sealed: nothing stays longer than one flush.
 */
void
synclink_pump(struct synclink *l, uint64_t now)
{
	struct sync_ring *r;
	uint64_t	 lost = 0, n;
	unsigned	 i;
	int		 rebulk;

	/* before the drain, which then takes what the worker queued before
	   it asked */
	rebulk = __atomic_load_n(&l->rebulk, __ATOMIC_RELAXED) &&
	    __atomic_exchange_n(&l->rebulk, 0, __ATOMIC_ACQUIRE);
	synclink_drain(l);
	for (i = 0; i < l->nworkers; i++) {
		r = &l->rings[i];
		/* the worker's count only grows: we never write its line */
		n = __atomic_load_n(&r->lost, __ATOMIC_RELAXED);
		lost += n - r->lost_seen;
		r->lost_seen = n;
	}
	/* the peer missed changes, or a DELETE may have ended more than
	   its connection there: it gets everything.  A bulk under way has
	   walked part of the table already, where a lost change may be: one
	   more follows it, walked after the loss, however many come
	   meanwhile (a restart at each pump would end only after the last
	   of a burst, and never under sustained overload).  Its end sweeps
	   at most a connection whose records were all lost, which the peer
	   lacks anyway until the next one. */
	l->st.lost += lost;
	if (lost > 0 && l->tx.active)
		l->again |= SYNCLINK_AGAIN_LOST;
	else if (lost > 0)
		synclink_bulk_begin(l, now);
	else if (rebulk && synclink_sending(l)) {
		if (l->tx.active)
			l->again |= SYNCLINK_AGAIN_OURS;
		else
			synclink_bulk_begin(l, now);
	}
	synclink_bulk_step(l, now);
	synclink_seal(l);
}

/* ---- receiving --------------------------------------------------------- */

static void	 synclink_homecoming(struct synclink *);

/* Until the table is in: synclink_alive() asks again. */
static void
synclink_ask_table(struct synclink *l, uint64_t now)
{
	l->rx.asked = 1;
	l->rx.asked_ms = now;
	synclink_control(l, SYNC_T_BULK_REQ);
}

/* A bulk half in that will not end (we are master now, or the peer
   restarted): no sweep will end the workers' resync either. */
static void
synclink_rx_drop(struct synclink *l)
{
	unsigned	 i;

	if (!l->rx.active)
		return;
	l->rx.active = 0;
	for (i = 0; i < l->nworkers; i++)
		(void)l->ops->call(l->arg, i, SYNCLINK_RESYNC_END, NULL);
}

/* The peer's whole table is in: ours that it did not bring end (their
   DELETE was lost, or came while we were master).  Every worker hears
   of the end before the first sweeps: what each makes from then on is
   newer than the table, and stays (the sweep of one table slice by
   slice, then the next, takes a while). */
static void
synclink_sweep(struct synclink *l)
{
	struct sync_sweep sw;
	unsigned	 i;

	for (i = 0; i < l->nworkers; i++) {
		memset(&sw, 0, sizeof(sw));
		sw.begin = 1;
		if (l->ops->call(l->arg, i, SYNCLINK_SWEEP, &sw) == -1)
			break;
	}
	for (i = 0; i < l->nworkers; i++) {
		memset(&sw, 0, sizeof(sw));
		do
			if (l->ops->call(l->arg, i, SYNCLINK_SWEEP,
			    &sw) == -1)
				break;
		while (sw.cursor != 0);
		l->st.swept += sw.gone;
	}
}

static void
synclink_bulk_mark(struct synclink *l, const struct sync_hdr *h,
    uint64_t now)
{
	unsigned	 i;

	if (h->type == SYNC_T_BULK_START) {
		l->rx.active = 1;
		l->rx.records = 0;
		l->rx.start_ms = now;
		synclink_homecoming(l);
		/* what the table does not bring goes at its end */
		for (i = 0; synclink_backup(l) && i < l->nworkers; i++)
			(void)l->ops->call(l->arg, i, SYNCLINK_RESYNC, NULL);
		return;
	}
	if (!l->rx.active)
		return;
	/* made master since (the command that drops the bulk may still
	   be on its way): no sweep, but the workers stop remembering */
	if (synclink_backup(l))
		synclink_sweep(l);
	else
		synclink_rx_drop(l);
	l->rx.active = 0;
	l->rx.end_ms = now;
	l->st.bulks_received++;
	if (!l->ready)
		l->ops->note(l->arg, SYNCLINK_READY, l->rx.records);
	l->ready = 1;
	l->alone = 0;
	l->rx.asked = 0;
}

/* The part of b (at most nbatch records) whose connections live in
   worker wi, into s: how many. */
static size_t
synclink_part(struct synclink *l, const struct sync_batch *b, unsigned wi,
    struct sync_batch *s)
{
	size_t		 i;

	memset(s, 0, sizeof(*s));
	s->rec = l->sub;
	s->keep = b->keep;
	for (i = 0; i < b->n; i++)
		if (l->nworkers == 1 ||
		    synclink_home(&b->rec[i].s.k, l->nworkers) == wi)
			s->rec[s->n++] = b->rec[i];
	return (s->n);
}

/* The part of b whose connections live in worker wi, applied there. */
static void
synclink_apply_in(struct synclink *l, const struct sync_batch *b,
    unsigned wi)
{
	struct sync_batch s;

	if (synclink_part(l, b, wi, &s) == 0)
		return;
	if (l->ops->call(l->arg, wi, SYNCLINK_APPLY, &s) == -1) {
		l->st.import_failed += s.n;
		return;
	}
	l->st.applied += s.applied;
	l->st.ignored += s.kept;
	l->st.import_failed += s.failed;
	l->st.norule += s.norule;
}

/* A master made so less than grace ago, or whose command has not run
   yet: it applies the old master's records (keep). */
static int
synclink_granted(const struct synclink *l, uint64_t now)
{
	if (l->cfg.grace == 0)
		return (0);
	if (__atomic_load_n(&l->mastering, __ATOMIC_SEQ_CST))
		return (1);
	return (l->master_ms != 0 &&
	    now < l->master_ms + (uint64_t)l->cfg.grace * 1000);
}

static void
synclink_apply(struct synclink *l, const void *buf, const struct sync_hdr *h,
    uint64_t now)
{
	struct sync_batch b;
	struct sync_iter it;
	unsigned	 wi;

	if (h->type == SYNC_T_BULK_START || h->type == SYNC_T_BULK_END) {
		synclink_bulk_mark(l, h, now);
		return;
	}
	memset(&b, 0, sizeof(b));
	b.rec = l->batch;
	sync_iter_init(&it, buf, h);
	while (b.n < l->nbatch && sync_iter_rec(&it, &b.rec[b.n]))
		b.n++;
	if (l->rx.active)
		l->rx.records += b.n;
	if (!synclink_backup(l)) {
		/* made master a moment ago, the old master still forwards
		   until its own switch: it opens connections we must know
		   when their packets come here.  Ours stay ours. */
		if (!synclink_granted(l, now)) {
			l->st.ignored += b.n;
			return;
		}
		b.keep = 1;
	} else
		synclink_homecoming(l);
	/* each record in its connection's home worker (synclink_home()) */
	for (wi = 0; wi < l->nworkers && b.n > 0; wi++)
		synclink_apply_in(l, &b, wi);
}

static int
synclink_from_peer(const struct synclink *l,
    const struct sockaddr_storage *from)
{
	const struct sockaddr_in	*a4, *p4;
	const struct sockaddr_in6	*a6, *p6;

	if (from->ss_family != l->cfg.peer.ss_family)
		return (0);
	if (from->ss_family == AF_INET) {
		a4 = (const struct sockaddr_in *)from;
		p4 = (const struct sockaddr_in *)&l->cfg.peer;
		return (a4->sin_port == p4->sin_port &&
		    a4->sin_addr.s_addr == p4->sin_addr.s_addr);
	}
	a6 = (const struct sockaddr_in6 *)from;
	p6 = (const struct sockaddr_in6 *)&l->cfg.peer;
	return (a6->sin6_port == p6->sin6_port &&
	    memcmp(&a6->sin6_addr, &p6->sin6_addr, 16) == 0);
}

/* A datagram the stream refused: counted by why. */
static void
synclink_refused(struct synclink *l, int err)
{
	if (err == SYNC_EAUTH)
		l->st.forged++;
	else if (err == SYNC_EREPLAY)
		l->st.replayed++;
	else if (err == SYNC_EVERSION)
		l->st.version++;
	else
		l->st.malformed++;
}

/*
 * The peer's BULK_REQ.  One asked before the bulk going out reached it
 * (its ack short of that one's BULK_START) has its answer coming.
 * Otherwise the peer gave that one up (made backup, or told to resync,
 * after it took the start: a master made backup whose peer, just made
 * master, sent its table first) or waited too long for its end.  Its
 * timer asks again only 10 * SYNC_BULKREQ_MS after it took the start
 * (synclink_alive()): a request less than half that after ours began
 * (two clocks) starts the table again, which costs less than one more
 * after it; a later one lets it end, and one more follows it, however
 * often the peer asks meanwhile: a restart at each request would never
 * end a table that takes longer than that, on a slow or lossy link.
 * A new run of the peer never had the one going out's BULK_START (its
 * end sweeps nothing there): it gets a new one now, once a run.  So
 * does a request while the one going out is not whole
 * (synclink_bulk_whole(): begun as backup, or backup since), which
 * answers none.
 */
static void
synclink_bulk_asked(struct synclink *l, const struct sync_hdr *h,
    uint64_t now)
{
	if (!synclink_bulk_whole(l) || h->epoch != l->tx.peer)
		synclink_bulk_begin(l, now);
	else if (h->ack == 0 || (int32_t)(h->ack - l->tx.start) <= 0)
		return;
	else if (now - l->tx.begin_ms < 5 * SYNC_BULKREQ_MS)
		synclink_bulk_begin(l, now);
	else
		l->again |= SYNCLINK_AGAIN_PEER;
}

void
synclink_input(struct synclink *l, const void *buf, size_t len,
    const struct sockaddr_storage *from, uint64_t now)
{
	struct sync_hdr	 h;
	int		 flags, err = SYNC_OK;

	if (!synclink_from_peer(l, from)) {
		l->st.strangers++;
		l->ops->refused(l->arg, from, len, "stranger");
		return;
	}
	if ((flags = sync_seq_input(l->seq, buf, len, now, &h, &err)) ==
	    -1) {
		synclink_refused(l, err);
		l->ops->refused(l->arg, from, len, sync_err_name(err));
		return;
	}
	if (l->ops->taken != NULL)
		l->ops->taken(l->arg, buf, &h, flags);
	l->st.received++;
	if (h.type == SYNC_T_NACK)
		l->st.nacks_received++;
	if ((flags & SYNC_IN_NEWPEER) && h.type != SYNC_T_BULK_START) {
		/* the bulk of its last run, if one was coming, never ends
		   (a master takes one it asked for: nfqspictl sync resync) */
		synclink_rx_drop(l);
		if (synclink_backup(l)) {
			l->ops->note(l->arg, SYNCLINK_NEWPEER, 0);
			synclink_ask_table(l, now);
		}
	}
	if (flags & SYNC_IN_APPLY)
		synclink_apply(l, buf, &h, now);
	if (flags & SYNC_IN_NACK)
		synclink_nack(l, now);
	if (flags & SYNC_IN_RESEND) {
		synclink_seal(l);
		/* the peer takes nothing past its gap but a BULK_START: a
		   bulk going out could not end there, start one now */
		if (sync_seq_resend(l->seq, synclink_send, l) == -1)
			synclink_bulk_begin(l, now);
	}
	if (flags & SYNC_IN_BULKREQ)
		synclink_bulk_asked(l, &h, now);
	if (flags & SYNC_IN_ACK)
		synclink_control(l, SYNC_T_ALIVE);
}

/* ---- timers, commands, status ------------------------------------------ */

/* How long the peer has been silent: since our start, or since it was
   last heard. */
static uint64_t
synclink_quiet_ms(const struct synclink *l, uint64_t now)
{
	struct sync_seq_status	 st;
	uint64_t		 since;

	sync_seq_status(l->seq, &st);
	since = st.peer_epoch != 0 && st.last_rx_ms > l->start_ms ?
	    st.last_rx_ms : l->start_ms;
	return (now > since ? now - since : 0);
}

void
synclink_alive(struct synclink *l, uint64_t now)
{
	synclink_control(l, SYNC_T_ALIVE);
	synclink_nack(l, now);
	/* a backup asks for the table until it comes (a bulk that
	   stalls is asked for again) */
	if (!l->ready && l->cfg.alone > 0 && synclink_quiet_ms(l, now) >=
	    (uint64_t)l->cfg.alone * 1000) {
		l->ops->note(l->arg, SYNCLINK_ALONE, l->cfg.alone);
		l->ready = l->alone = 1;
	}
	if (synclink_backup(l) && (!l->ready || l->rx.asked) &&
	    now - l->rx.asked_ms >= SYNC_BULKREQ_MS &&
	    (!l->rx.active || now - l->rx.start_ms >= 10 * SYNC_BULKREQ_MS))
		synclink_ask_table(l, now);
}

/*
 * Made backup: the peer's changes land in each connection's home worker
 * from now on, so a copy another worker holds (it adopted it, or the
 * kernel brought the connection's first packet there while we were
 * master) would go stale beside them until a whole table sweeps it, and
 * a failback before that would find it.  Each goes home now, before any
 * record of the peer's is applied (the command, a bulk's start and each
 * datagram's records run this first): what home holds of it is older,
 * a synced copy no packet reached while ours took the packets, and
 * gives way.  Once per switch to backup: synclink_role() asks for it
 * before it makes us backup, so whoever sees us backup sees it asked.
 */
static void
synclink_homecoming(struct synclink *l)
{
	struct sync_slice sl;
	struct sync_batch b, s;
	uint64_t	 moved = 0;
	unsigned	 i, wi;

	if (!synclink_backup(l) ||
	    !__atomic_exchange_n(&l->homing, 0, __ATOMIC_SEQ_CST))
		return;
	for (i = 0; l->nworkers > 1 && i < l->nworkers; i++) {
		memset(&sl, 0, sizeof(sl));
		sl.rec = l->slice;
		sl.max = l->nbatch < SYNC_SLICE ? l->nbatch : SYNC_SLICE;
		do {
			if (l->ops->call(l->arg, i, SYNCLINK_AWAY, &sl) == -1)
				break;		/* stopping */
			memset(&b, 0, sizeof(b));
			b.rec = l->slice;
			b.n = sl.n;
			for (wi = 0; wi < l->nworkers && b.n > 0; wi++)
				if (synclink_part(l, &b, wi, &s) > 0 &&
				    l->ops->call(l->arg, wi, SYNCLINK_HOME,
				    &s) == 0)
					moved += s.applied;
		} while (sl.cursor != 0);
	}
	if (moved > 0)
		l->ops->note(l->arg, SYNCLINK_HOMED, moved);
}

void
synclink_command(struct synclink *l, int role, int resync, uint64_t now)
{
	uint64_t	 until;
	unsigned	 i;

	if (role != -1) {
		l->master_ms = role == SYNC_ROLE_MASTER ? now : 0;
		if (role == SYNC_ROLE_MASTER && l->cfg.grace > 0) {
			/* the windows we learnt lack the old master's
			   last flush, or more: let them catch up */
			until = now + (uint64_t)l->cfg.grace * 1000;
			for (i = 0; i < l->nworkers; i++)
				(void)l->ops->call(l->arg, i, SYNCLINK_GRACE,
				    &until);
		}
		/* each worker has its grace now: synclink_unsettled(); an
		   older command to be backup, run after the switch back to
		   master, leaves that switch its mark until its own */
		if (role == SYNC_ROLE_MASTER || __atomic_load_n(&l->role,
		    __ATOMIC_SEQ_CST) != SYNC_ROLE_MASTER)
			__atomic_store_n(&l->mastering, 0, __ATOMIC_SEQ_CST);
		/* a bulk half in ends here, whichever the new role */
		synclink_rx_drop(l);
		/* what changed here while we were backup went nowhere:
		   the whole table goes, the peer asking or not (its
		   request may be lost, and a table going out meanwhile
		   lack it); one begun since the switch goes on */
		if (role == SYNC_ROLE_MASTER && synclink_sending(l) &&
		    l->tx.switches != __atomic_load_n(&l->switches,
		    __ATOMIC_SEQ_CST))
			synclink_bulk_begin(l, now);
		if (role == SYNC_ROLE_BACKUP) {
			synclink_homecoming(l);
			synclink_ask_table(l, now);
		}
	}
	if (resync) {
		synclink_rx_drop(l);
		synclink_ask_table(l, now);
	}
}

void
synclink_status(const struct synclink *l, uint64_t now,
    struct sync_status *p)
{
	unsigned	 i;

	memset(p, 0, sizeof(*p));
	p->role = __atomic_load_n(&l->role, __ATOMIC_RELAXED);
	p->ready = l->ready;
	p->alone = l->alone;
	sync_seq_status(l->seq, &p->seq);
	p->heard_ms = p->seq.peer_epoch == 0 ? UINT64_MAX :
	    now - p->seq.last_rx_ms;
	p->reachable = p->heard_ms < SYNC_DEAD_MS;
	p->tx_active = l->tx.active;
	p->tx_records = l->tx.records;
	p->tx_total = l->tx.total;
	p->rx_active = l->rx.active;
	p->rx_records = l->rx.records;
	p->rx_ms = l->rx.end_ms > l->rx.start_ms ? l->rx.end_ms -
	    l->rx.start_ms : 0;
	p->st = l->st;
	p->st.resent = p->seq.resent;
	for (i = 0; i < l->nworkers; i++) {
		p->queued += __atomic_load_n(&l->rings[i].head,
		    __ATOMIC_RELAXED) - __atomic_load_n(&l->rings[i].tail,
		    __ATOMIC_RELAXED);
		p->st.changes += __atomic_load_n(&l->rings[i].queued,
		    __ATOMIC_RELAXED);
	}
}

/* ---- life -------------------------------------------------------------- */

int
synclink_init(struct synclink *l, const struct sync_config *sc, unsigned n,
    uint64_t epoch, uint64_t now, const struct synclink_ops *ops, void *arg)
{
	unsigned	 i;

	memset(l, 0, sizeof(*l));
	l->ops = ops;
	l->arg = arg;
	l->cfg = *sc;
	l->nworkers = n;
	l->role = sc->role;
	l->sending = sc->role == SYNC_ROLE_MASTER;
	for (l->ringsz = SYNC_RING_MIN; l->ringsz < sc->queue; l->ringsz *= 2)
		;
	l->wake_at = l->ringsz / 2;
	l->nbatch = SYNC_MSG_MAX / SYNC_REC_DEL + 1;
	l->epoch = epoch;
	l->start_ms = now;
	if ((l->rings = cacheline_calloc(n ? n : 1,
	    sizeof(*l->rings))) == NULL ||
	    (l->batch = calloc(l->nbatch, sizeof(*l->batch))) == NULL ||
	    (l->sub = calloc(l->nbatch, sizeof(*l->sub))) == NULL ||
	    (l->slice = calloc(SYNC_SLICE, sizeof(*l->slice))) == NULL ||
	    (l->coal = calloc(2 * l->ringsz, sizeof(*l->coal))) == NULL ||
	    (l->gone = calloc(n ? n : 1, l->ringsz / 8)) == NULL ||
	    (l->top = calloc(n ? n : 1, sizeof(*l->top))) == NULL ||
	    (l->cur = calloc(n ? n : 1, sizeof(*l->cur))) == NULL)
		return (-1);
	for (i = 0; i < n; i++)
		if ((l->rings[i].rec = calloc(l->ringsz,
		    sizeof(*l->rings[i].rec))) == NULL)
			return (-1);
	if ((l->seq = sync_seq_new(&sc->key, epoch, sc->resend,
	    sc->mtu)) == NULL)
		return (-1);
	return (0);
}

void
synclink_clear(struct synclink *l)
{
	unsigned	 i;

	for (i = 0; l->rings != NULL && i < l->nworkers; i++)
		free(l->rings[i].rec);
	free(l->rings);
	free(l->batch);
	free(l->sub);
	free(l->slice);
	free(l->coal);
	free(l->gone);
	free(l->top);
	free(l->cur);
	sync_seq_free(l->seq);
	explicit_bzero(&l->cfg.key, sizeof(l->cfg.key));
	memset(l, 0, sizeof(*l));
}
