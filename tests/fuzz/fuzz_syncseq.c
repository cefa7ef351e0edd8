/*
 * fuzz_syncseq.c - libFuzzer target: the sync link's reliable stream
 * between two real ends over a hostile link, against a model of their
 * tables
 *
 * Copyright (C) 2026 The nfqspid authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * Node A is master, node B backup; each runs a struct sync_seq (ring of
 * 8 to 16 slots, the first byte of the input says, so that it overflows
 * and the whole-table path is taken) and answers as sync.c does: the
 * reactions to SYNC_IN_* of sync_datagram(), sync_pump()'s drain of the
 * worker's queue (coalesced; a full queue loses the change and calls for
 * a bulk), the bulk's window-bound slices of sync_bulk_step(),
 * sync_alive()'s ALIVE, NACK, "alone" and table requests, and the
 * backup's apply, resync and sweep.  A's table is 16 connections whose
 * records carry a running version (in mark); B's is what it applied.
 * The rest of the input is a script of (op, arg) pairs: A changes or
 * ends a connection, timers fire, the clock moves, either node
 * restarts (a new epoch, an empty table), and each way the link
 * delivers, drops, duplicates, reorders, corrupts or cuts the next
 * datagram, replays an old one or brings a forgery (another key).
 *
 * Invariants, every step:
 *  - a datagram changed on the way (a flipped bit, cut short) or sealed
 *    with another key is refused; a genuine one is refused only as a
 *    replay (seen, older epoch, too far behind); one the receiver took
 *    already in this run is refused as a replay;
 *  - a receiver applies its peer's data in order, each once: within one
 *    run of the receiver and one epoch of the sender, the next applied
 *    is the one after the last, save a BULK_START, which may only go
 *    forward; an epoch changes only with SYNC_IN_NEWPEER;
 *  - what it applies is, byte for byte, the body the sender sealed in
 *    that slot of that epoch (type, count, records);
 *  - nothing grows: the link holds 64 datagrams a way, the ring is the
 *    ring; every call returns (libFuzzer's timeout).
 * At the end, a heal: the link delivers everything, in order, both
 * ways, while the clock moves in steps past SYNC_NACK_MS and the timers
 * fire, for a bounded number of rounds.  Then B is ready, has A's whole
 * stream (rx_next is A's next, A's is acknowledged), no bulk is under
 * way, and B's table equals A's, version for version: everything A
 * changed since the last whole table B took.
 */
#include <sys/socket.h>
#include <netinet/in.h>

#include <errno.h>
#include <string.h>

#include "sync_int.h"
#include "fuzz.h"

#define NCONN	16
#define MTU	(SYNC_MSG_MIN + 2 * SYNC_REC_MAX)	/* 2 to 3 records */
#define QUEUE	8		/* the worker's queue of changes */
#define LINKQ	64		/* datagrams in flight, each way */
#define HIST	8		/* datagrams taken, for replays */
#define MAXRUNS	8		/* restarts of a node, at most */
#define MAXSEQ	8192		/* data messages of a run, logged */
#define ALONE_S	10		/* [sync] alone's default */
/* the heal: 40 s of clock, past a stalled bulk's 10 * SYNC_BULKREQ_MS */
#define HEAL_ROUNDS 400
#define HEAL_STEP (SYNC_NACK_MS * 2)
#define EPOCH(i, run) (((uint64_t)(i) + 1) << 32 | ((uint64_t)(run) + 1))

enum { A, B };

struct rec {
	uint8_t		 op;		/* SYNC_OP_* */
	uint8_t		 conn;
	uint32_t	 ver;
};

struct dgram {
	uint8_t		 b[MTU];
	size_t		 len;
	unsigned	 run;		/* the receiver's, when taken */
};

struct link {
	struct dgram	 q[LINKQ];
	size_t		 head, n;
	struct dgram	 hist[HIST];	/* taken, newest at histn - 1 */
	size_t		 histn;
};

/* What a node's sealed data message held: logged per run and seq. */
struct logent {
	uint32_t	 gen;
	uint64_t	 hash;
};

struct node {
	struct sync_seq	*s;
	int		 role;
	unsigned	 run;
	uint64_t	 start_ms;
	/* its table (the worker's) */
	uint8_t		 present[NCONN];
	uint32_t	 ver[NCONN];
	int		 keeping;	/* ct_resync_begin() */
	uint8_t		 keep[NCONN];
	/* the worker's queue to the sync thread */
	struct rec	 queue[QUEUE];
	size_t		 nqueue;
	uint64_t	 lost;
	/* sync.c's struct sync */
	struct sync_msg	 msg;
	int		 open;
	int		 tx_active;
	unsigned	 tx_wi;
	unsigned	 tx_cursor;
	int		 rx_active;
	uint64_t	 rx_start_ms;
	int		 asked;		/* until the table is in */
	uint64_t	 asked_ms;
	int		 ready, alone;
	/* the model of its peer's stream */
	uint64_t	 exp_epoch;	/* 0: none yet in this run */
	uint32_t	 exp_seq;
};

static struct node	 N[2];
static struct link	 L[2];		/* L[i]: to node i */
static struct logent	 LOG[2][MAXRUNS][MAXSEQ];
static uint32_t		 gen;
static uint64_t		 now;
static uint32_t		 version;	/* A's running counter */
static size_t		 nslots;
static struct sync_key	 key, badkey;
static struct sync_seq	*forger;

/* ---- the wire ------------------------------------------------------- */

static uint64_t
body_hash(const uint8_t *b, size_t len)
{
	uint64_t	 h = 14695981039346656037ULL;
	size_t		 i;

	/* type, length and count, then the body: what a reseal keeps */
	for (i = 5; i < len - SYNC_MACLEN; i++) {
		if (i >= 10 && i < SYNC_HDRLEN)
			continue;
		h ^= b[i];
		h *= 1099511628211ULL;
	}
	return (h);
}

static void
xmit(int to, const void *buf, size_t len)
{
	struct link	*l = &L[to];
	struct dgram	*d;

	CHECK(len >= SYNC_MSG_MIN && len <= MTU);
	if (l->n == LINKQ)
		return;		/* the link is full: lost */
	d = &l->q[(l->head + l->n++) % LINKQ];
	memcpy(d->b, buf, len);
	d->len = len;
}

static void
xmit_cb(const void *buf, size_t len, void *arg)
{
	xmit(*(const int *)arg, buf, len);
}

/* ---- a node's sending side, as sync.c ---------------------------------- */

static void
logged(int i, const uint8_t *b, size_t len)
{
	struct sync_seq_status st;
	struct logent	*e;

	sync_seq_status(N[i].s, &st);
	/* step() leaves room; a heal that never ends may not */
	CHECK(st.next_seq >= 2 && st.next_seq - 1 < MAXSEQ);
	e = &LOG[i][N[i].run][st.next_seq - 1];
	e->gen = gen;
	e->hash = body_hash(b, len);
}

/* sync_seal() */
static void
seal(int i)
{
	struct node	*n = &N[i];
	size_t		 len;

	if (!n->open)
		return;
	n->open = 0;
	if (n->msg.count == 0)
		return;
	if ((len = sync_seq_seal(n->s, &n->msg)) > 0) {
		logged(i, n->msg.buf, len);
		xmit(!i, n->msg.buf, len);
	}
}

/* sync_mark() */
static void
mark(int i, uint8_t type)
{
	struct sync_msg	 m;
	uint8_t		*buf;
	size_t		 cap, len;

	seal(i);
	buf = sync_seq_buf(N[i].s, &cap);
	CHECK(cap == MTU);
	if (sync_msg_init(&m, buf, cap, type) == -1)
		return;
	if ((len = sync_seq_seal(N[i].s, &m)) > 0) {
		logged(i, buf, len);
		xmit(!i, buf, len);
	}
}

static void
tuple(struct ct_tuple *k, unsigned c)
{
	memset(k, 0, sizeof(*k));
	k->family = AF_INET;
	k->proto = IPPROTO_UDP;
	k->src.a8[0] = 10;
	k->src.a8[3] = 1;
	k->dst.a8[0] = 10;
	k->dst.a8[3] = 2;
	k->sport = (uint16_t)(1000 + c);
	k->dport = 53;
}

/* A rule name by version: records of SYNC_REC_FIXED to SYNC_REC_MAX
   bytes. */
static const char *
rule_of(uint32_t ver)
{
	static char	 longest[RULE_NAMELEN];

	if (longest[0] == '\0')
		memset(longest, 'n', sizeof(longest) - 1);
	return (ver % 3 == 0 ? "" : ver % 3 == 1 ? "r" : longest);
}

static int
add_rec(struct sync_msg *m, const struct rec *r)
{
	struct ct_snap	 s;

	if (r->op == SYNC_OP_DELETE) {
		tuple(&s.k, r->conn);
		return (sync_msg_add_delete(m, &s.k));
	}
	memset(&s, 0, sizeof(s));
	tuple(&s.k, r->conn);
	s.tclass = CT_TO_UDP;
	s.mark = r->ver;
	s.packets = r->ver;
	return (sync_msg_add_conn(m, &s, rule_of(r->ver)));
}

/* sync_add() */
static void
add(int i, const struct rec *r)
{
	struct node	*n = &N[i];
	uint8_t		*buf;
	size_t		 cap;
	int		 tries, rc;

	for (tries = 0; tries < 2; tries++) {
		if (!n->open) {
			buf = sync_seq_buf(n->s, &cap);
			if (sync_msg_init(&n->msg, buf, cap,
			    SYNC_T_UPDATE) == -1)
				return;
			n->open = 1;
		}
		rc = add_rec(&n->msg, r);
		CHECK(rc == 0 || errno == ENOSPC);
		if (rc == 0)
			return;
		seal(i);
	}
	CHECK(!"a record fits no empty message");
}

/* sync_bulk_begin() */
static void
bulk_begin(int i)
{
	mark(i, SYNC_T_BULK_START);
	N[i].tx_active = 1;
	N[i].tx_wi = 0;
	N[i].tx_cursor = 0;
}

/* sync_bulk_step(), over one worker whose walk's cursor is the next
   connection + 1 */
static void
bulk_step(int i)
{
	struct node	*n = &N[i];
	struct rec	 r;
	size_t		 win, max, taken;
	size_t		 per = (MTU - SYNC_MSG_MIN) / SYNC_REC_MAX;
	unsigned	 c;

	while (n->tx_active && (win = sync_seq_window(n->s)) > 2) {
		CHECK(win <= nslots);
		max = (win - 2) * (per > 0 ? per : 1);
		if (max > SYNC_SLICE)
			max = SYNC_SLICE;
		if (n->tx_wi >= 1) {
			mark(i, SYNC_T_BULK_END);
			n->tx_active = 0;
			return;
		}
		taken = 0;
		for (c = n->tx_cursor; c < NCONN && taken < max; c++) {
			if (!n->present[c])
				continue;
			r.op = SYNC_OP_UPSERT;
			r.conn = (uint8_t)c;
			r.ver = n->ver[c];
			add(i, &r);
			taken++;
		}
		n->tx_cursor = c < NCONN ? c : 0;
		if (n->tx_cursor == 0)
			n->tx_wi++;
	}
}

/* sync_ct(): a change of A's table into the worker's queue */
static void
change(unsigned c, int end)
{
	struct node	*n = &N[A];
	struct rec	*r;

	if (end) {
		if (!n->present[c])
			return;
		n->present[c] = 0;
	} else {
		n->present[c] = 1;
		n->ver[c] = ++version;
	}
	if (n->nqueue == QUEUE) {
		n->lost++;
		return;
	}
	r = &n->queue[n->nqueue++];
	r->op = end ? SYNC_OP_DELETE : SYNC_OP_UPSERT;
	r->conn = (uint8_t)c;
	r->ver = n->ver[c];
}

/* sync_pump(): the queue drained (a connection changed twice goes
   once, as it is now), a bulk for lost changes, the bulk's next
   slices, the UPDATE sealed */
static void
pump(int i)
{
	struct node	*n = &N[i];
	size_t		 j, k;

	for (j = 0; j < n->nqueue; j++) {
		for (k = j + 1; k < n->nqueue; k++)
			if (n->queue[k].conn == n->queue[j].conn)
				break;
		if (k == n->nqueue)
			add(i, &n->queue[j]);
	}
	n->nqueue = 0;
	if (n->lost > 0) {
		n->lost = 0;
		bulk_begin(i);
	}
	bulk_step(i);
	seal(i);
}

static void
control(int i, uint8_t type)
{
	uint8_t		 buf[MTU];
	size_t		 len;

	if ((len = sync_seq_control(N[i].s, type, buf, sizeof(buf))) > 0)
		xmit(!i, buf, len);
}

static void
nack(int i)
{
	uint8_t		 buf[MTU];
	size_t		 len;

	if ((len = sync_seq_nack(N[i].s, now, buf, sizeof(buf))) > 0)
		xmit(!i, buf, len);
}

static void
ask_table(int i)
{
	N[i].asked = 1;
	N[i].asked_ms = now;
	control(i, SYNC_T_BULK_REQ);
}

/* sync_alive() */
static void
alive(int i)
{
	struct node	*n = &N[i];
	struct sync_seq_status st;
	uint64_t	 since;

	control(i, SYNC_T_ALIVE);
	nack(i);
	sync_seq_status(n->s, &st);
	since = st.peer_epoch != 0 && st.last_rx_ms > n->start_ms ?
	    st.last_rx_ms : n->start_ms;
	if (!n->ready && now - since >= ALONE_S * 1000)
		n->ready = n->alone = 1;
	if (n->role == SYNC_ROLE_BACKUP && (!n->ready || n->asked) &&
	    now - n->asked_ms >= SYNC_BULKREQ_MS &&
	    (!n->rx_active || now - n->rx_start_ms >= 10 * SYNC_BULKREQ_MS))
		ask_table(i);
}

/* ---- a node's receiving side --------------------------------------------- */

/* sync_apply(), with the backup's worker: ct_import(), ct_forget(),
   ct_resync_begin() and the sweep */
static void
apply(int i, const uint8_t *buf, const struct sync_hdr *h)
{
	struct node	*n = &N[i];
	struct sync_iter it;
	struct sync_rec	 r;
	int		 backup = n->role == SYNC_ROLE_BACKUP;
	unsigned	 c;

	switch (h->type) {
	case SYNC_T_BULK_START:
		n->rx_active = 1;
		n->rx_start_ms = now;
		if (backup) {
			n->keeping = 1;
			memset(n->keep, 0, sizeof(n->keep));
		}
		return;
	case SYNC_T_BULK_END:
		if (n->rx_active) {
			if (backup && n->keeping)
				for (c = 0; c < NCONN; c++)
					if (!n->keep[c])
						n->present[c] = 0;
			n->keeping = 0;
			n->rx_active = 0;
			n->ready = 1;
			n->alone = 0;
			n->asked = 0;
		}
		return;
	default:
		break;
	}
	sync_iter_init(&it, buf, h);
	while (sync_iter_rec(&it, &r)) {
		c = (unsigned)r.s.k.sport - 1000;
		CHECK(c < NCONN);
		if (!backup)
			continue;
		if (r.op == SYNC_OP_DELETE) {
			n->present[c] = 0;
			continue;
		}
		CHECK(r.s.mark == r.s.packets);
		CHECK(strcmp(r.rule, rule_of(r.s.mark)) == 0);
		n->present[c] = 1;
		n->ver[c] = r.s.mark;
		if (n->keeping)
			n->keep[c] = 1;
	}
}

/* The stream invariants of a message taken by node i. */
static void
check_taken(int i, const uint8_t *buf, const struct sync_hdr *h, int f)
{
	struct node	*n = &N[i];
	const struct logent *e;
	uint64_t	 run;

	/* only the peer's own runs seal with the key */
	CHECK(h->epoch >> 32 == (uint64_t)!i + 1);
	run = (h->epoch & 0xffffffff) - 1;
	CHECK(run <= N[!i].run);
	if (f & SYNC_IN_NEWPEER) {
		/* a newer run of the peer, or the first word of it */
		CHECK(n->exp_epoch == 0 || h->epoch > n->exp_epoch);
		n->exp_epoch = h->epoch;
		n->exp_seq = h->seq;
	}
	CHECK(h->epoch == n->exp_epoch);
	if (!(f & SYNC_IN_APPLY))
		return;
	CHECK(sync_type_is_data(h->type));
	if (h->type == SYNC_T_BULK_START)
		CHECK((int32_t)(h->seq - n->exp_seq) >= 0);
	else
		CHECK(h->seq == n->exp_seq);
	n->exp_seq = h->seq + 1;
	/* what the peer sealed in that slot of that run */
	CHECK(h->seq < MAXSEQ);
	e = &LOG[!i][run][h->seq];
	CHECK(e->gen == gen);
	CHECK(e->hash == body_hash(buf, h->length));
}

/* sync_datagram(); tampered: it was changed on the way */
static void
input(int i, const uint8_t *buf, size_t len, int tampered)
{
	struct node	*n = &N[i];
	struct sync_hdr	 h;
	struct link	*l = &L[i];
	struct dgram	*d;
	int		 f, err = SYNC_OK, to = !i;

	f = sync_seq_input(n->s, buf, len, now, &h, &err);
	if (tampered) {
		CHECK(f == -1);
		return;
	}
	if (f == -1) {
		CHECK(err == SYNC_EREPLAY);
		return;
	}
	CHECK(h.length == len);
	check_taken(i, buf, &h, f);
	d = &l->hist[l->histn++ % HIST];
	memcpy(d->b, buf, len);
	d->len = len;
	d->run = n->run;

	if ((f & SYNC_IN_NEWPEER) && n->role == SYNC_ROLE_BACKUP &&
	    h.type != SYNC_T_BULK_START) {
		/* sync_rx_drop(): ct_resync_end() */
		n->rx_active = 0;
		n->keeping = 0;
		ask_table(i);
	}
	if (f & SYNC_IN_APPLY)
		apply(i, buf, &h);
	if (f & SYNC_IN_NACK)
		nack(i);
	if (f & SYNC_IN_RESEND) {
		seal(i);
		if (sync_seq_resend(n->s, xmit_cb, &to) == -1)
			bulk_begin(i);
	}
	if (f & SYNC_IN_BULKREQ)
		bulk_begin(i);
	if (f & SYNC_IN_ACK)
		control(i, SYNC_T_ALIVE);
}

/* ---- the link ------------------------------------------------------------ */

static struct dgram *
head(int to)
{
	return (L[to].n > 0 ? &L[to].q[L[to].head] : NULL);
}

static void
pop(int to)
{
	L[to].head = (L[to].head + 1) % LINKQ;
	L[to].n--;
}

/* sync_read_cb(): up to k datagrams, then the pump */
static void
deliver(int to, size_t k)
{
	struct dgram	 d;

	while (k-- > 0 && head(to) != NULL) {
		d = *head(to);
		pop(to);
		input(to, d.b, d.len, 0);
	}
	pump(to);
}

/* A byte of the next datagram changed, or the datagram cut short. */
static void
tamper(int to, unsigned arg, int cut)
{
	struct dgram	 d;

	if (head(to) == NULL)
		return;
	d = *head(to);
	pop(to);
	if (cut)
		input(to, d.b, arg % d.len, 1);
	else {
		d.b[(arg >> 3) * d.len / 16] ^= (uint8_t)(1u << (arg & 7));
		input(to, d.b, d.len, 1);
	}
}

/* A datagram taken a while ago, again: refused unless the receiver has
   restarted since (it cannot know it then: the peer's epoch goes on). */
static void
replay(int to, unsigned arg)
{
	struct link	*l = &L[to];
	struct sync_hdr	 h;
	struct dgram	 d;
	int		 err;

	if (l->histn == 0)
		return;
	d = l->hist[(l->histn - 1 - arg % (l->histn < HIST ? l->histn :
	    HIST)) % HIST];
	if (d.run == N[to].run) {
		CHECK(sync_seq_input(N[to].s, d.b, d.len, now, &h, &err) ==
		    -1);
		CHECK(err == SYNC_EREPLAY);
	} else {
		input(to, d.b, d.len, 0);
		pump(to);
	}
}

/* A data message sealed with another key, as from A's first run. */
static void
forge(int to)
{
	struct sync_msg	 m;
	struct rec	 r = { SYNC_OP_UPSERT, 0, 0xdead };
	uint8_t		*buf;
	size_t		 cap, len;

	buf = sync_seq_buf(forger, &cap);
	CHECK(sync_msg_init(&m, buf, cap, SYNC_T_UPDATE) == 0);
	CHECK(add_rec(&m, &r) == 0);
	if ((len = sync_seq_seal(forger, &m)) == 0)
		return;
	input(to, buf, len, 1);
}

/* ---- the nodes' lives ------------------------------------------------------ */

/* sync_new() and sync_main(): a new run, an empty table */
static void
start(int i)
{
	struct node	*n = &N[i];
	unsigned	 run = n->s == NULL ? 0 : n->run + 1;

	sync_seq_free(n->s);
	memset(n, 0, sizeof(*n));
	n->run = run;
	n->role = i == A ? SYNC_ROLE_MASTER : SYNC_ROLE_BACKUP;
	n->start_ms = now;
	n->s = sync_seq_new(&key, EPOCH(i, run), nslots, MTU);
	CHECK(n->s != NULL);
	alive(i);
}

static int
step(uint8_t op, uint8_t arg)
{
	int		 to = arg & 1;
	struct sync_seq_status st;

	switch (op % 16) {
	case 0:		/* A's table changes */
	case 1:
		change(arg % NCONN, arg >= 0xc0);
		break;
	case 2:		/* a flush, or a wake */
		pump(to);
		break;
	case 3:		/* the ALIVE timer */
		alive(to);
		break;
	case 4:
	case 5:
	case 6:
		deliver(to, 1 + (arg >> 1) % 8);
		break;
	case 7:		/* lost */
		if (head(to) != NULL)
			pop(to);
		break;
	case 8:		/* duplicated: once more at the end */
		if (head(to) != NULL && L[to].n < LINKQ)
			xmit(to, head(to)->b, head(to)->len);
		break;
	case 9:		/* reordered: the next one swapped with a later */
		if (L[to].n > 1) {
			struct dgram	 t, *a = head(to), *b = &L[to].q[
			    (L[to].head + 1 + (arg >> 1) % (L[to].n - 1)) %
			    LINKQ];

			t = *a;
			*a = *b;
			*b = t;
		}
		break;
	case 10:
		tamper(to, arg >> 1, 0);
		break;
	case 11:
		tamper(to, arg >> 1, 1);
		break;
	case 12:
		now += arg < 128 ? arg : (uint64_t)(arg - 127) * 64;
		break;
	case 13:
		if (N[to].run + 1 < MAXRUNS)
			start(to);
		break;
	case 14:
		if (arg & 2)
			replay(to, arg >> 2);
		else
			forge(to);
		break;
	default:	/* nfqspictl sync resync, on B (sync_command()) */
		/* sync_rx_drop(): ct_resync_end() */
		N[B].rx_active = 0;
		N[B].keeping = 0;
		ask_table(B);
		pump(B);
		break;
	}
	sync_seq_status(N[A].s, &st);
	CHECK((int32_t)(st.next_seq - st.peer_ack) >= 0);
	/* room for the heal's bulks in the log */
	return (st.next_seq < MAXSEQ - 1024);
}

/* Everything delivered, in order, the timers firing, until quiet. */
static void
heal(void)
{
	struct sync_seq_status a, b;
	unsigned	 round, k, c;

	for (round = 0; round < HEAL_ROUNDS; round++) {
		now += HEAL_STEP;
		if (round % (SYNC_ALIVE_MS / HEAL_STEP) == 0) {
			alive(A);
			alive(B);
		}
		pump(A);
		pump(B);
		for (k = 0; k < 16 && L[A].n + L[B].n > 0; k++) {
			deliver(B, LINKQ);
			deliver(A, LINKQ);
		}
	}
	sync_seq_status(N[A].s, &a);
	sync_seq_status(N[B].s, &b);
	CHECK(N[B].ready && !N[B].alone);
	CHECK(!N[A].tx_active && !N[B].rx_active);
	CHECK(b.peer_epoch == a.epoch && b.rx_next == a.next_seq);
	CHECK(a.peer_ack == a.next_seq);
	for (c = 0; c < NCONN; c++) {
		CHECK(N[B].present[c] == N[A].present[c]);
		if (N[A].present[c])
			CHECK(N[B].ver[c] == N[A].ver[c]);
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int	 keyed;
	size_t		 j;

	if (!keyed) {
		CHECK(sync_key_init(&key, "the pair's shared secret", 24) == 0);
		CHECK(sync_key_init(&badkey, "somebody else's secret!!", 24) ==
		    0);
		keyed = 1;
	}
	if (size < 1)
		return (0);
	gen++;
	now = 100000;
	version = 0;
	nslots = SYNC_SEQ_MINSLOTS + data[0] % 9;
	memset(L, 0, sizeof(L));
	sync_seq_free(N[A].s);
	sync_seq_free(N[B].s);
	memset(N, 0, sizeof(N));
	start(A);
	start(B);
	sync_seq_free(forger);
	forger = sync_seq_new(&badkey, EPOCH(A, 0), SYNC_SEQ_MINSLOTS, MTU);
	CHECK(forger != NULL);
	for (j = 1; j + 1 < size; j += 2)
		if (!step(data[j], data[j + 1]))
			break;
	heal();
	return (0);
}
