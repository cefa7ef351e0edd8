/*
 * fuzz_syncseq.c - libFuzzer target: the HA link (synclink.c) of two
 * nodes over a hostile link, against a model of their tables
 *
 * Copyright (C) 2026 The nfqspid authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * Node A starts master, node B backup; each is a real struct synclink
 * (the sync thread's logic: the reactions to the peer's datagrams, the
 * drain of the worker's ring, the bulk's slices, the ALIVE timer's
 * NACKs, "alone" and table requests, the backup's apply, resync and
 * sweep, the commands) over a real struct sync_seq (ring of 8 to 16
 * slots, the first byte of the input says, so that it overflows and
 * the whole-table path is taken), with a worker ring of 8 changes.
 * What sync.c and worker_sync.c do around it is ours: the datagrams go
 * on our link, and each node's one worker is a model table of 16
 * connections whose records carry a running version (in mark).  A's
 * table is what its worker changed and what the link applied while it
 * was backup; B's is what the link applied, resynced and swept.  The
 * rest of the input is a script of (op, arg) pairs: A changes or ends a
 * connection, timers fire, the clock moves, either node restarts (a
 * new epoch, an empty table) or is made master or backup (nfqspictl
 * sync role; the role at once, the command at once or at the node's
 * next turn, after the datagrams of a read), nfqspictl sync resync on
 * B, and each way the link
 * delivers, drops, duplicates, reorders, corrupts or cuts the next
 * datagram, replays an old one or brings a forgery (another key).
 *
 * Invariants, every step:
 *  - everything a node sends parses (the key, the sizes);
 *  - a datagram changed on the way (a flipped bit, cut short) or sealed
 *    with another key is refused and counted; a genuine one is refused
 *    only as a replay (seen, older epoch, too far behind); one the
 *    receiver took already in this run is refused as a replay;
 *  - a receiver takes its peer's data in order, each once: within one
 *    run of the receiver and one epoch of the sender, the next taken
 *    is the one after the last, save a BULK_START, which may only go
 *    forward; an epoch changes only with SYNC_IN_NEWPEER;
 *  - what it takes is, byte for byte, the body the sender sealed in
 *    that slot of that epoch (type, count, records), and so is every
 *    resend;
 *  - only a backup applies, resyncs and sweeps (a master, in the
 *    grace after its switch, applies what its worker lacks), and only
 *    records of connections A made; a bulk's slices fit the window;
 *  - a worker is in resync (ct_resync_begin()) only while a bulk is
 *    coming in to a backup (or to a node made master whose command is
 *    still to come), whose end ends it; a backup takes a bulk only
 *    from its peer's current run (a restarted peer never ends the
 *    last);
 *  - nothing grows: the link holds 64 datagrams a way, the ring is the
 *    ring; every call returns (libFuzzer's timeout).
 * At the end, a heal: if roles changed, A is told master and B backup
 * again (as keepalived settles); the link delivers everything, in
 * order, both ways, while the clock moves in steps past SYNC_NACK_MS
 * and the timers fire, for a bounded number of rounds.  Then B is
 * ready, has A's whole stream (rx_next is A's next, A's is
 * acknowledged), no bulk is under way, and B's table equals A's,
 * version for version: everything A changed since the last whole table
 * B took.
 */
#include <sys/socket.h>
#include <netinet/in.h>

#include <errno.h>
#include <string.h>

#include "synclink.h"
#include "fuzz.h"

#define NCONN	16
#define MTU	(SYNC_MSG_MIN + 2 * SYNC_REC_MAX)	/* 2 to 3 records */
#define QUEUE	8		/* the worker's ring of changes */
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
	struct synclink	 lk;		/* the code under test */
	int		 live;
	unsigned	 run;
	/* its worker's table */
	uint8_t		 present[NCONN];
	uint32_t	 ver[NCONN];
	int		 keeping;	/* ct_resync_begin() */
	uint8_t		 keep[NCONN];
	int		 cmd;		/* role + 1 of a command not yet
					   read (sync_set_role()), or 0 */
	/* the last datagram given to it */
	int		 took;
	size_t		 took_len;
	uint64_t	 refused;
	/* the model of its peer's stream */
	uint64_t	 exp_epoch;	/* 0: none yet in this run */
	uint32_t	 exp_seq;
	uint64_t	 bulk_epoch;	/* of the last BULK_START taken */
};

static struct node	 N[2];
static struct link	 L[2];		/* L[i]: to node i */
static struct logent	 LOG[2][MAXRUNS][MAXSEQ];
static uint32_t		 gen;
static uint64_t		 now;
static uint32_t		 version;	/* A's running counter */
static int		 switched;	/* roles changed in this input */
static size_t		 nslots;
static struct sync_key	 key, badkey;
static struct sync_mac	*keymac;	/* key, ready */
static unsigned		 nsent;		/* datagrams sent in this input */
static struct sync_seq	*forger;

static int
idx(const struct node *n)
{
	return (n == &N[A] ? A : B);
}

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

/* Connection c at version ver as ct_export() and the worker put it. */
static void
record(struct sync_rec *r, uint8_t op, unsigned c, uint32_t ver)
{
	memset(r, 0, sizeof(*r));
	r->op = op;
	tuple(&r->s.k, c);
	r->s.tclass = CT_TO_UDP;
	r->s.mark = ver;
	r->s.packets = ver;
	snprintf(r->rule, sizeof(r->rule), "%s", rule_of(ver));
}

/* ---- what the link's shell and worker do (sync.c, worker_sync.c) ---- */

/* ops->send: to the peer; a data message is logged as sealed, or
   checked against the log as a resend */
static int
op_send(void *arg, const void *buf, size_t len)
{
	struct node	*n = arg;
	struct sync_hdr	 h;
	struct logent	*e;
	int		 i = idx(n);

	CHECK(len >= SYNC_MSG_MIN && len <= MTU);
	/* with the ready key (HMAC() with the bare one costs a dozen
	   allocations), and every 16th with the bare key too */
	CHECK(sync_msg_parse_mac(buf, len, keymac, &h) == 0);
	if (nsent++ % 16 == 0)
		CHECK(sync_msg_parse(buf, len, &key, &h) == 0);
	CHECK(h.epoch == EPOCH(i, n->run));
	if (sync_type_is_data(h.type)) {
		/* step() leaves room; a heal that never ends may not */
		CHECK(h.seq >= 1 && h.seq < MAXSEQ);
		e = &LOG[i][n->run][h.seq];
		if (e->gen != gen) {
			e->gen = gen;
			e->hash = body_hash(buf, len);
		} else
			CHECK(e->hash == body_hash(buf, len));
	}
	xmit(!i, buf, len);
	return (0);
}

/* worker_sync_slice(): the walk's cursor is the next connection + 1 */
static void
op_slice(struct node *n, struct sync_slice *sl)
{
	unsigned	 c;

	CHECK(sl->max >= 1 && sl->max <= SYNC_SLICE);
	CHECK(sync_seq_window(n->lk.seq) <= nslots);
	sl->n = 0;
	sl->count = 0;
	for (c = 0; c < NCONN; c++)
		sl->count += n->present[c];
	for (c = (unsigned)sl->cursor; c < NCONN && sl->n < sl->max; c++)
		if (n->present[c])
			record(&sl->rec[sl->n++], SYNC_OP_UPSERT, c,
			    n->ver[c]);
	sl->cursor = c < NCONN ? c : 0;
}

/* worker_sync_apply(): ct_import(), ct_forget() */
static void
op_apply(struct node *n, struct sync_batch *b)
{
	struct sync_rec	*r;
	size_t		 j;
	unsigned	 c;

	/* a master leaves the peer's records alone, but in the grace
	   after its switch takes those of what its one worker lacks */
	CHECK(n->lk.role == SYNC_ROLE_BACKUP || b->keep);
	for (j = 0; j < b->n; j++) {
		r = &b->rec[j];
		c = (unsigned)r->s.k.sport - 1000;
		CHECK(c < NCONN);
		if (b->keep && (r->op == SYNC_OP_DELETE || n->present[c])) {
			b->kept++;
			continue;
		}
		b->applied++;
		if (r->op == SYNC_OP_DELETE) {
			n->present[c] = 0;
			continue;
		}
		CHECK(r->s.mark == r->s.packets);
		CHECK(strcmp(r->rule, rule_of(r->s.mark)) == 0);
		n->present[c] = 1;
		n->ver[c] = r->s.mark;
		if (n->keeping)
			n->keep[c] = 1;
		/* worker_sync_again(): the peer may have swept it */
		if (b->keep && (r = synclink_slot(&n->lk, 0)) != NULL) {
			record(r, SYNC_OP_UPSERT, c, n->ver[c]);
			(void)synclink_commit(&n->lk, 0);
		}
	}
}

/* ct_resync_sweep(), all at once (begin: the end noted, nothing yet) */
static void
op_sweep(struct node *n, struct sync_sweep *sw)
{
	unsigned	 c;

	CHECK(n->lk.role == SYNC_ROLE_BACKUP);
	if (sw->begin)
		return;
	if (n->keeping)
		for (c = 0; c < NCONN; c++)
			if (!n->keep[c] && n->present[c]) {
				n->present[c] = 0;
				sw->gone++;
			}
	n->keeping = 0;
	sw->cursor = 0;
}

/* ops->call: worker_call() of what */
static int
op_call(void *arg, unsigned wi, int what, void *data)
{
	struct node	*n = arg;

	CHECK(wi == 0);
	switch (what) {
	case SYNCLINK_SLICE:
		op_slice(n, data);
		break;
	case SYNCLINK_APPLY:
		op_apply(n, data);
		break;
	case SYNCLINK_RESYNC:
		CHECK(n->lk.role == SYNC_ROLE_BACKUP);
		n->keeping = 1;
		memset(n->keep, 0, sizeof(n->keep));
		break;
	case SYNCLINK_RESYNC_END:
		n->keeping = 0;
		break;
	case SYNCLINK_SWEEP:
		op_sweep(n, data);
		break;
	case SYNCLINK_GRACE:
		break;
	case SYNCLINK_FENCE:
		/* the bulk's end: a fence while it is out, one after */
		CHECK(n->lk.tx.active);
		break;
	default:
		CHECK(!"a call the worker does not know");
	}
	return (0);
}

static void
op_refused(void *arg, const struct sockaddr_storage *from, size_t len,
    const char *why)
{
	struct node	*n = arg;

	n->refused++;
}

static void
op_note(void *arg, int what, uint64_t v)
{
}

/* The stream invariants of a message node i took. */
static void
op_taken(void *arg, const void *buf, const struct sync_hdr *h, int f)
{
	struct node	*n = arg;
	const struct logent *e;
	struct link	*l;
	struct dgram	*d;
	uint64_t	 run;
	int		 i = idx(n);

	n->took = 1;
	n->took_len = h->length;
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
	if (f & SYNC_IN_APPLY) {
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
		if (h->type == SYNC_T_BULK_START)
			n->bulk_epoch = h->epoch;
	}
	l = &L[i];
	d = &l->hist[l->histn++ % HIST];
	CHECK(h->length <= sizeof(d->b));
	memcpy(d->b, buf, h->length);
	d->len = h->length;
	d->run = n->run;
}

static const struct synclink_ops ops = {
	.send = op_send,
	.call = op_call,
	.refused = op_refused,
	.note = op_note,
	.taken = op_taken
};

/* sync_ct(): a change of A's table into the worker's ring */
static void
change(unsigned c, int end)
{
	struct node	*n = &N[A];
	struct sync_rec	*r;

	if (end) {
		if (!n->present[c])
			return;
		n->present[c] = 0;
	} else {
		n->present[c] = 1;
		n->ver[c] = ++version;
	}
	if ((r = synclink_slot(&n->lk, 0)) == NULL)
		return;		/* lost: the link sends the whole table */
	record(r, end ? SYNC_OP_DELETE : SYNC_OP_UPSERT, c, n->ver[c]);
	(void)synclink_commit(&n->lk, 0);
}

/* The sync thread's turn: a command waiting, then the pump. */
static void
pump(int i)
{
	int	 r = N[i].cmd - 1;

	if (r != -1) {
		N[i].cmd = 0;
		synclink_command(&N[i].lk, r, 0, now);
	}
	synclink_pump(&N[i].lk, now);
}

static void
alive(int i)
{
	synclink_alive(&N[i].lk, now);
}

static uint64_t
refusals(const struct sync_stats *st)
{
	return (st->forged + st->replayed + st->malformed + st->version +
	    st->strangers);
}

/* sync_read_cb()'s datagram, from the peer's address; tampered: it
   was changed on the way.  1 if the stream took it. */
static int
input(int i, const uint8_t *buf, size_t len, int tampered)
{
	struct node	*n = &N[i];
	struct sync_stats before = n->lk.st;
	uint64_t	 refused = n->refused;

	n->took = 0;
	synclink_input(&n->lk, buf, len, &n->lk.cfg.peer, now);
	if (!n->took) {
		CHECK(n->refused == refused + 1);
		CHECK(refusals(&n->lk.st) == refusals(&before) + 1);
		CHECK(n->lk.st.received == before.received);
		if (!tampered)
			CHECK(n->lk.st.replayed == before.replayed + 1);
		return (0);
	}
	CHECK(!tampered);
	CHECK(n->took_len == len);
	CHECK(n->refused == refused);
	CHECK(n->lk.st.received == before.received + 1);
	return (1);
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
		(void)input(to, d.b, d.len, 0);
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
		(void)input(to, d.b, arg % d.len, 1);
	else {
		d.b[(arg >> 3) * d.len / 16] ^= (uint8_t)(1u << (arg & 7));
		(void)input(to, d.b, d.len, 1);
	}
}

/* A datagram taken a while ago, again: refused unless the receiver has
   restarted since (it cannot know it then: the peer's epoch goes on). */
static void
replay(int to, unsigned arg)
{
	struct link	*l = &L[to];
	struct dgram	 d;

	if (l->histn == 0)
		return;
	d = l->hist[(l->histn - 1 - arg % (l->histn < HIST ? l->histn :
	    HIST)) % HIST];
	if (d.run == N[to].run)
		CHECK(input(to, d.b, d.len, 0) == 0);
	else {
		(void)input(to, d.b, d.len, 0);
		pump(to);
	}
}

/* A data message sealed with another key, as from A's first run. */
static void
forge(int to)
{
	struct sync_msg	 m;
	struct sync_rec	 r;
	uint8_t		*buf;
	size_t		 cap, len;

	buf = sync_seq_buf(forger, &cap);
	CHECK(sync_msg_init(&m, buf, cap, SYNC_T_UPDATE) == 0);
	record(&r, SYNC_OP_UPSERT, 0, 0xdead);
	CHECK(sync_msg_add_conn(&m, &r.s, r.rule) == 0);
	if ((len = sync_seq_seal(forger, &m)) == 0)
		return;
	(void)input(to, buf, len, 1);
}

/* ---- the nodes' lives ------------------------------------------------------ */

static void
addr(struct sockaddr_storage *ss, int i)
{
	struct sockaddr_in	*s4 = (struct sockaddr_in *)ss;

	memset(ss, 0, sizeof(*ss));
	s4->sin_family = AF_INET;
	s4->sin_port = htons(3780);
	s4->sin_addr.s_addr = htonl(0x0a000901u + (uint32_t)i);
}

/* sync_new() and sync_main(): a new run, an empty table */
static void
start(int i)
{
	struct node	*n = &N[i];
	struct sync_config sc;
	unsigned	 run = n->live ? n->run + 1 : 0;

	if (n->live)
		synclink_clear(&n->lk);
	memset(n, 0, sizeof(*n));
	n->run = run;
	config_sync_defaults(&sc);
	sc.on = 1;
	sc.role = i == A ? SYNC_ROLE_MASTER : SYNC_ROLE_BACKUP;
	addr(&sc.listen, i);
	addr(&sc.peer, !i);
	sc.addrlen = sizeof(struct sockaddr_in);
	sc.key = key;
	sc.mtu = MTU;
	sc.resend = (uint32_t)nslots;
	sc.queue = QUEUE;
	sc.alone = ALONE_S;
	CHECK(synclink_init(&n->lk, &sc, 1, EPOCH(i, run), now, &ops, n) ==
	    0);
	CHECK(n->lk.ringsz == QUEUE);
	n->live = 1;
	alive(i);
}

/* nfqspictl sync role on node i: sync_set_role(), then sync_cmd_cb()
   at once, or (later) at the node's next turn */
static void
role(int i, int r, int later)
{
	CHECK(synclink_role(&N[i].lk, r) == 0);
	N[i].cmd = r + 1;
	if (!later)
		pump(i);
}

/* A worker is in resync only while a bulk is coming in, whose end ends
   it, and a backup takes a bulk only from its peer's current run (a
   restarted peer never ends the last). */
static void
check_resync(int i)
{
	struct node	*n = &N[i];
	int		 backup = n->lk.role == SYNC_ROLE_BACKUP;

	CHECK(!n->keeping || (n->lk.rx.active && (backup || n->cmd != 0)));
	CHECK(!backup || !n->lk.rx.active || n->bulk_epoch == n->exp_epoch);
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
	default:
		if (arg >= 0x80 && arg < 0xc0) {
			/* keepalived: a node made master or backup */
			role(to, arg & 2 ? SYNC_ROLE_MASTER :
			    SYNC_ROLE_BACKUP, arg & 4);
			switched = 1;
			break;
		}
		/* nfqspictl sync resync, on B (sync_cmd_cb()) */
		synclink_command(&N[B].lk, -1, 1, now);
		pump(B);
		break;
	}
	sync_seq_status(N[A].lk.seq, &st);
	CHECK((int32_t)(st.next_seq - st.peer_ack) >= 0);
	check_resync(A);
	check_resync(B);
	/* room for the heal's bulks in the log */
	return (st.next_seq < MAXSEQ - 1024);
}

/* Everything delivered, in order, the timers firing, until quiet. */
static void
heal(void)
{
	struct sync_seq_status a, b;
	unsigned	 round, k, c;

	if (switched) {
		/* keepalived settles: each is told its role, and the
		   backup asks for the table */
		role(A, SYNC_ROLE_MASTER, 0);
		role(B, SYNC_ROLE_BACKUP, 0);
	}
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
	sync_seq_status(N[A].lk.seq, &a);
	sync_seq_status(N[B].lk.seq, &b);
	CHECK(N[B].lk.ready && !N[B].lk.alone);
	CHECK(!N[A].lk.tx.active && !N[B].lk.rx.active);
	CHECK(b.peer_epoch == a.epoch && b.rx_next == a.next_seq);
	CHECK(a.peer_ack == a.next_seq);
	check_resync(A);
	check_resync(B);
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
		CHECK((keymac = sync_mac_new(&key)) != NULL);
		keyed = 1;
	}
	if (size < 1)
		return (0);
	gen++;
	nsent = 0;
	now = 100000;
	version = 0;
	switched = 0;
	nslots = SYNC_SEQ_MINSLOTS + data[0] % 9;
	memset(L, 0, sizeof(L));
	for (j = 0; j < 2; j++)
		if (N[j].live)
			synclink_clear(&N[j].lk);
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
