/*
 * fuzz_offload.c - libFuzzer target: a worker, its table and the fast
 * path's book, against the kernel's table
 *
 * Copyright (C) 2026 The nfqspid authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * The fast path's promise (nfqspid(8), THE FAST PATH): nfqspid's table
 * stays the authority, and the kernel lets a connection's packets pass
 * only while nfqspid has it established and offloaded, with its mark.
 * Here the real worker side (worker_fp.c), a real connection table and
 * the real book (fpq.c) run with the thread's own rounds
 * (fpq_book_round(), as fpd.c runs them), with the kernel a model.
 * The input is a script of (op, arg) byte pairs: packets of 4 TCP and 4
 * UDP connections (a packet the kernel holds the connection of
 * passes there, unless it is a SYN, FIN or RST, as the fast path's chain
 * does), rounds and polls of the thread, the worker reading what comes
 * back, time passing, conntrack flush and delete, a reload that stops or
 * allows offloads, the kernel refusing changes and flushes or leaving a
 * mark out, a full ring either way.
 *
 * After every round of the thread that owes no flush: every connection
 * the kernel holds is in the worker's table, established (TCP) or
 * answered (UDP), marked offloaded, with the kernel's mark; and the
 * table's count of offloaded entries is the number it marks.  No
 * connection is credited more packets than the kernel passed of it.
 * At the end, once the kernel behaves and the worker has read its back ring:
 * every connection the table marks offloaded is in the kernel (none
 * refused but never told).
 *
 * An input of odd length plays a kernel before 6.3, without
 * DESTROYSETELEM (its last byte is no step): an addition keeps an
 * element already in, its counters and its time; elements time out
 * (KTIMEOUT_MS after they went in: a kernel before 6.10 ignores
 * renewals), after which the kernel passes nothing of theirs and its
 * dumps show them with 0 ms left until its collection (step 9, arg bit
 * 3) takes them out.  Otherwise the kernel has DESTROYSETELEM: an
 * addition replaces an element, its counters starting from 0, and
 * elements never time out.
 *
 * Built with small chunks of the table's arena and small rings
 * (Makefile.am's FUZZ_OFFLOAD_DEFS): the same code, without megabytes
 * mapped and thousands of ring items read for each input.
 */
#define _GNU_SOURCE		/* as autoconf.h: the headers worker_int.h needs */

#include <sys/socket.h>
#include <arpa/inet.h>
#include <netinet/in.h>

#include <errno.h>
#include <string.h>

#include "worker_int.h"
#include "fuzz.h"

#define NTCP	4
#define NCONN	8		/* 0-3 TCP, 4-7 UDP */
#define KTIMEOUT_MS	5000	/* an element's time, before 6.3 */

/* ---- the fast path's thread: its half of the ports ----------------------- */

struct fpd {
	struct fpq_port		 port;
	struct fpq_shared	 sh;
};

struct fpq_port *
fpd_port(struct fpd *d, unsigned w)
{
	return (w == 0 ? &d->port : NULL);
}

const struct fpq_shared *
fpd_shared(struct fpd *d)
{
	return (&d->sh);
}

void
fpd_wake(struct fpd *d)
{
	(void)d;
}

void
fpd_kick(struct fpd *d)
{
	(void)d;
}

void
fpd_lost_removal(struct fpd *d)
{
	d->sh.flush = 1;
}

/* ---- the world ------------------------------------------------------------ */

struct kelem {
	struct fp_conn	 c;
	uint64_t	 pkts;
	uint64_t	 expires;	/* before 6.3: timed out from */
};

static struct {
	struct fpd	 d;
	struct config	 cfg;
	struct worker	 w;
	uint64_t	 rcount[2 * CT_STATE_MAX];
	struct fpq_book	*b;
	uint64_t	 now;
	/* the kernel */
	struct kelem	 k[NCONN];
	unsigned	 nk;
	int		 fail_add, fail_del, fail_flush;
	int		 owed;		/* it refused the last flush */
	int		 keep;		/* before 6.3 (no DESTROYSETELEM) */
	/* packets of each connection the kernel passed, and its
	   worker was credited, all its lives */
	uint64_t	 passed[NCONN], credited[NCONN];
	uint32_t	 out_mark;	/* a mark whose chain cannot be made
					   (past the 4096); 0: none */
	uint8_t		 chain[2];	/* marks 0x10, 0x11 have one: it
					   stays until a flush, as
					   fastpath.c's */
	/* each connection's next sequence number, each way */
	uint32_t	 seq[NCONN][2];
} X;

static int
k_find(const struct fp_conn *c)
{
	unsigned	 i;

	for (i = 0; i < X.nk; i++)
		if (fpq_conn_eq(&X.k[i].c, c))
			return ((int)i);
	return (-1);
}

static void
k_drop(unsigned i)
{
	X.k[i] = X.k[--X.nk];
}

static int
k_add(void *arg, const struct fp_conn *c, size_t n, uint8_t *in)
{
	size_t	 j;
	int	 i;

	(void)arg;
	memset(in, 0, n);
	if (X.fail_add) {
		errno = ENOMEM;
		return (-1);
	}
	for (j = 0; j < n; j++) {
		if (c[j].mark != 0 && !X.chain[c[j].mark & 1]) {
			if (c[j].mark == X.out_mark)
				continue;
			X.chain[c[j].mark & 1] = 1;
		}
		in[j] = 1;
		if ((i = k_find(&c[j])) != -1 && X.keep)
			continue;	/* NEWSETELEM alone: as it was */
		if (i == -1) {
			CHECK(X.nk < NCONN);
			i = (int)X.nk++;
		}
		/* DESTROYSETELEM, then NEWSETELEM: as it was asked */
		X.k[i].c = c[j];
		X.k[i].pkts = 0;
		X.k[i].expires = X.now + KTIMEOUT_MS;
	}
	return (0);
}

static int
k_del(void *arg, const struct fp_conn *c, size_t n)
{
	size_t	 j;
	int	 i;

	(void)arg;
	if (X.fail_del) {
		errno = EIO;
		return (-1);
	}
	for (j = 0; j < n; j++)
		if ((i = k_find(&c[j])) != -1)
			k_drop((unsigned)i);
	return (0);
}

static int
k_flush(void *arg)
{
	(void)arg;
	if (X.fail_flush) {
		X.owed = 1;
		errno = ENOBUFS;
		return (-1);
	}
	X.owed = 0;
	X.nk = 0;
	X.chain[0] = X.chain[1] = 0;
	return (0);
}

static struct fp_conn conn_of(unsigned);

/* Has element i timed out (a kernel before 6.3)? */
static int
k_expired(unsigned i)
{
	return (X.keep && X.k[i].expires <= X.now);
}

/* its time left, as a dump shows it */
static uint32_t
k_left(unsigned i)
{
	if (!X.keep)
		return (60000);
	return (k_expired(i) ? 0 : (uint32_t)(X.k[i].expires - X.now));
}

/* The kernel's collection: what timed out goes. */
static void
k_gc(void)
{
	unsigned	 i;

	for (i = 0; i < X.nk; )
		if (k_expired(i))
			k_drop(i);
		else
			i++;
}

/* Which of the script's connections is c?  NCONN: none (the sum of
   some, after a full back ring). */
static unsigned
conn_index(const struct fp_conn *c)
{
	struct fp_conn	 o;
	unsigned	 i;

	for (i = 0; i < NCONN; i++) {
		o = conn_of(i);
		if (fpq_conn_eq(&o, c))
			return (i);
	}
	return (NCONN);
}

/* as fpd.c: what goes back to the worker rides its back ring */
static int
k_back(const struct fp_conn *c, uint64_t pkts, uint8_t refused)
{
	struct fpq_credit	 cr;

	memset(&cr, 0, sizeof(cr));
	cr.c = *c;
	cr.pkts = pkts;
	cr.bytes = pkts * 64;
	cr.refused = refused;
	cr.epoch = fpq_book_epoch(X.b);
	return (fpq_ring_push(&X.d.port.back, &cr));
}

static int
k_credit(void *arg, unsigned w, const struct fp_conn *c, uint64_t pkts,
    uint64_t bytes)
{
	(void)arg;
	unsigned	 i;

	(void)bytes;
	CHECK(w == 0);
	if (k_back(c, pkts, 0) == -1)
		return (-1);
	/* counted once: no more than the kernel passed */
	if ((i = conn_index(c)) < NCONN) {
		X.credited[i] += pkts;
		CHECK(X.credited[i] <= X.passed[i]);
	}
	return (0);
}

static int
k_refuse(void *arg, unsigned w, const struct fp_conn *c)
{
	(void)arg;
	CHECK(w == 0);
	return (k_back(c, 0, 1));
}

static int
k_get(void *arg, const struct fp_conn *c, size_t n, struct fp_counts *out)
{
	size_t	 j;
	int	 i;

	(void)arg;
	for (j = 0; j < n; j++) {
		memset(&out[j], 0, sizeof(out[j]));
		if ((i = k_find(&c[j])) != -1) {
			out[j].pkts = X.k[i].pkts;
			out[j].bytes = X.k[i].pkts * 64;
			out[j].expires_ms = k_left((unsigned)i);
		}
	}
	return (0);
}

/* as fastpath_counters(): the whole table read, the kernel keeping a
   chain, not a mark; a stray is taken out */
static int
k_counters(void *arg, fp_counts_cb cb, void *cbarg)
{
	struct fp_counts cn;
	struct fp_conn	 c;
	unsigned	 i;

	(void)arg;
	/* a read renews every element: not one of a flush's orphans */
	CHECK(!X.owed);
	for (i = 0; i < X.nk; ) {
		memset(&cn, 0, sizeof(cn));
		cn.pkts = X.k[i].pkts;
		cn.bytes = X.k[i].pkts * 64;
		cn.expires_ms = k_left(i);
		c = X.k[i].c;
		c.mark = 0;
		if (cb(&c, &cn, cbarg) == -1)
			k_drop(i);
		else
			i++;
	}
	return (0);
}

static const struct fpq_ops ops = {
	.add = k_add,
	.del = k_del,
	.flush = k_flush,
	.credit = k_credit,
	.refuse = k_refuse,
	.get = k_get,
	.counters = k_counters
};

/* ---- the thread -------------------------------------------------------- */

/* The entry of connection c, found without a lookup (which would
   remove one past its time): NULL if none. */
struct find {
	const struct fp_conn	*c;
	struct ct_entry		*e;
	unsigned		 marked;
};

static int
find_entry(struct ct_table *t, struct ct_entry *e, void *arg)
{
	struct find	*f = arg;
	struct fp_conn	 c;

	if (ct_offloaded(t, e))
		f->marked++;
	memset(&c, 0, sizeof(c));
	ct_entry_tuple(e, &c.family, &c.proto, &c.src, &c.dst, &c.sport,
	    &c.dport);
	if (f->c != NULL && fpq_conn_eq(&c, f->c))
		f->e = e;
	return (0);
}

static struct ct_entry *
entry_of(const struct fp_conn *c, unsigned *marked)
{
	struct find	 f = { c, NULL, 0 };
	uint64_t	 cursor = 0;

	(void)ct_walk(X.w.ct, &cursor, SIZE_MAX, find_entry, &f);
	if (marked != NULL)
		*marked = f.marked;
	return (f.e);
}

/* Is the kernel's table what the worker's allows? */
static void
check(void)
{
	struct ct_entry	*e;
	unsigned	 i, marked;

	if (X.owed || X.d.sh.flush)
		return;
	(void)entry_of(NULL, &marked);
	CHECK(marked == ct_offload_count(X.w.ct));
	for (i = 0; i < X.nk; i++) {
		/* the worker has seen the flush before anything went in */
		CHECK(X.w.fp_epoch == X.d.sh.epoch);
		e = entry_of(&X.k[i].c, NULL);
		CHECK(e != NULL);
		CHECK(ct_offloadable(e));
		CHECK(ct_offloaded(X.w.ct, e));
		CHECK(ct_entry_mark(e) == X.k[i].c.mark);
	}
}

/* One round of the thread, the daemon's own, ms after the last (the
   table's clock and the thread's are one); flush: asked to empty the
   kernel table (a reload) */
static void
thread_round(uint64_t ms, int flush)
{
	X.now += ms;
	(void)fpq_book_round(X.b, &X.d.port, 1, &X.d.sh, flush, X.now);
	check();
}

/* ---- packets -------------------------------------------------------------- */

static struct pkt
packet(unsigned i, int reply, uint8_t flags, uint16_t paylen)
{
	struct pkt	 p;
	uint16_t	 cport = (uint16_t)(40000 + i), sport;

	memset(&p, 0, sizeof(p));
	p.family = AF_INET;
	p.proto = i < NTCP ? IPPROTO_TCP : IPPROTO_UDP;
	sport = p.proto == IPPROTO_TCP ? 80 : 53;
	p.ttl = 64;
	inet_pton(AF_INET, reply ? "10.0.0.2" : "10.0.0.1", p.src.a8);
	inet_pton(AF_INET, reply ? "10.0.0.1" : "10.0.0.2", p.dst.a8);
	p.sport = reply ? sport : cport;
	p.dport = reply ? cport : sport;
	p.paylen = paylen;
	p.iplen = (uint16_t)((p.proto == IPPROTO_TCP ? 40 : 28) + paylen);
	p.wscale = PKT_WSCALE_NONE;
	if (p.proto == IPPROTO_TCP) {
		p.th_flags = flags;
		p.seq = X.seq[i][reply];
		p.ack = X.seq[i][!reply];
		p.win = 65535;
		X.seq[i][reply] += paylen +
		    ((flags & (PKT_TH_SYN | PKT_TH_FIN)) ? 1 : 0);
	}
	return (p);
}

/* Connection i's original tuple: the client's packets'. */
static struct fp_conn
conn_of(unsigned i)
{
	struct pkt	 p = packet(i, 0, 0, 0);
	struct fp_conn	 c;

	memset(&c, 0, sizeof(c));
	c.family = p.family;
	c.proto = p.proto;
	c.src = p.src;
	c.dst = p.dst;
	c.sport = p.sport;
	c.dport = p.dport;
	return (c);
}

/* Would the kernel's fast-path chain let packet p of connection i
   through?  Then it counts it.  (The map holds both directions.) */
static int
kernel_passes(const struct pkt *p, unsigned i)
{
	struct fp_conn	 c = conn_of(i);
	int		 k;

	if (p->proto == IPPROTO_TCP &&
	    (p->th_flags & (PKT_TH_SYN | PKT_TH_FIN | PKT_TH_RST)))
		return (0);
	if ((k = k_find(&c)) == -1 || k_expired((unsigned)k))
		return (0);
	X.k[k].pkts++;
	X.passed[i]++;
	return (1);
}

/* p through the worker, as worker_packet(): accepted unless INVALID,
   the entry with the verdict when ESTABLISHED */
static void
daemon_packet(const struct pkt *p, unsigned i)
{
	struct ct_result res;
	struct verdict	 v;

	ct_track(X.w.ct, p, X.now, &res);
	if (res.state == CT_NEW && res.entry == NULL &&
	    ct_confirm(X.w.ct, p, X.now, i % 3 == 0 ? 0 : 0x10 + i % 2, 0,
	    &res) == -1)
		return;
	memset(&v, 0, sizeof(v));
	v.action = res.state == CT_INVALID ? RULE_DROP : RULE_ACCEPT;
	v.decided = v.action;
	v.state = res.state;
	v.reason = res.reason;
	v.entry = res.state == CT_ESTABLISHED ? res.entry : NULL;
	worker_fp_packet(&X.w, p, &v);
}

static void
send_packet(uint8_t arg)
{
	static const uint8_t tcpflags[8] = {
		PKT_TH_SYN, PKT_TH_SYN | PKT_TH_ACK, PKT_TH_ACK, PKT_TH_ACK,
		PKT_TH_ACK | PKT_TH_PUSH, PKT_TH_ACK | PKT_TH_PUSH,
		PKT_TH_FIN | PKT_TH_ACK, PKT_TH_RST | PKT_TH_ACK
	};
	unsigned	 i = arg % NCONN, reply = arg >> 3 & 1;
	uint8_t		 flags = tcpflags[arg >> 4 & 7];
	struct pkt	 p;

	p = packet(i, (int)reply, flags, flags & PKT_TH_PUSH ? 100 : 0);
	if (!kernel_passes(&p, i))
		daemon_packet(&p, i);
}

/* ---- the script ------------------------------------------------------------ */

static void
reload(uint8_t arg)
{
	X.cfg.policy[CT_ESTABLISHED] = arg & 1 ? RULE_DROP : RULE_ACCEPT;
	worker_fp_config(&X.w, &X.cfg);
	/* a reload empties the kernel table (fpd_reload()) */
	thread_round(0, 1);
}

static void
fill_ring(int back)
{
	struct fpq_credit cr;
	struct fpq_item	 it;

	if (back) {
		/* counts of no connection, as a worker that reads late */
		memset(&cr, 0, sizeof(cr));
		cr.c.family = AF_INET;
		cr.c.proto = IPPROTO_UDP;
		while (fpq_ring_room(&X.d.port.back) > 0)
			(void)fpq_ring_push(&X.d.port.back, &cr);
		return;
	}
	/* offloads of another epoch, as a worker that ran ahead */
	memset(&it, 0, sizeof(it));
	it.op = FPQ_ADD;
	it.epoch = X.w.fp_epoch + 1000;
	while (fpq_ring_room(&X.d.port.out) > 0)
		(void)fpq_ring_push(&X.d.port.out, &it);
}

/* Every connection the table marks offloaded is in the kernel. */
static int
check_marked(struct ct_table *t, struct ct_entry *e, void *arg)
{
	struct fp_conn	 c;

	(void)arg;
	if (!ct_offloaded(t, e))
		return (0);
	memset(&c, 0, sizeof(c));
	ct_entry_tuple(e, &c.family, &c.proto, &c.src, &c.dst, &c.sport,
	    &c.dport);
	CHECK(k_find(&c) != -1);
	return (0);
}

/* The end: the kernel behaves, the thread and the worker catch up
   (the worker reads its notices, its removals go, notices that waited
   for room are told and read, offloads whose transaction failed are
   tried again once their back-off ran out). */
static void
check_end(void)
{
	uint64_t	 cursor = 0;

	X.fail_add = X.fail_del = X.fail_flush = 0;
	thread_round(0, 0);
	worker_fp_credits(&X.w, X.now);
	thread_round(FPQ_RETRY_MS << FPQ_RETRIES, 0);
	thread_round(0, 0);
	worker_fp_credits(&X.w, X.now);
	thread_round(0, 0);
	CHECK(!X.owed && !X.d.sh.flush);
	(void)ct_walk(X.w.ct, &cursor, SIZE_MAX, check_marked, NULL);
}

static void
step(uint8_t op, uint8_t arg)
{
	struct ct_entry	*e;
	struct fp_conn	 c;

	switch (op % 12) {
	case 0:
	case 1:
	case 2:
		send_packet(arg);
		break;
	case 3:		/* a round, within FPD_ROUND_MS */
		thread_round(arg % 21, 0);
		break;
	case 4:		/* a round with the poll due */
		thread_round(FPQ_POLL_MS, 0);
		break;
	case 5:
		worker_fp_credits(&X.w, X.now);
		break;
	case 6:		/* time passes: the table's timers */
		X.now += (uint64_t)arg * (arg & 0x80 ? 60000 : 100);
		ct_expire(X.w.ct, X.now);
		break;
	case 7:		/* nfqspictl conntrack flush, or delete */
		if (arg & 1)
			ct_flush(X.w.ct);
		else {
			c = conn_of(arg / 2 % NCONN);
			if ((e = entry_of(&c, NULL)) != NULL)
				ct_remove(X.w.ct, e);
		}
		break;
	case 8:
		reload(arg);
		break;
	case 9:
		X.fail_add = arg & 1;
		X.fail_del = arg >> 1 & 1;
		X.fail_flush = arg >> 2 & 1;
		if (arg & 8)
			k_gc();
		break;
	case 10:
		X.out_mark = arg & 1 ? 0x10 + (arg >> 1 & 1) : 0;
		break;
	default:
		if (arg & 1)
			fill_ring(arg & 2);
		else {
			/* the kernel behaves again, the thread catches up */
			X.fail_add = X.fail_del = X.fail_flush = 0;
			thread_round(0, 0);
		}
		break;
	}
}

static void
fix_event(int event, const struct ct_entry *e, void *arg)
{
	worker_fp_event(arg, event, e);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ct_config c;
	size_t		 j;

	memset(&X, 0, sizeof(X));
	if (fpq_port_init(&X.d.port) == -1 ||
	    (X.b = fpq_book_new(&ops, NULL)) == NULL)
		abort();
	X.keep = size & 1;
	fpq_book_keep(X.b, X.keep);

	X.cfg.mode = MODE_ENFORCE;
	X.cfg.policy[CT_ESTABLISHED] = RULE_ACCEPT;
	X.cfg.norule_states = CT_STATE_BIT(CT_ESTABLISHED);
	ct_config_defaults(&c);
	c.max = 64;
	c.source_share = 0;
	c.tcp_loose = 1;
	if ((X.w.ct = ct_new(&c)) == NULL)
		abort();
	X.w.cfg = &X.cfg;
	X.w.rcount = X.rcount;
	X.w.nrcount = CT_STATE_MAX;
	ct_set_event_cb(X.w.ct, fix_event, &X.w);
	worker_set_fastpath(&X.w, &X.d);
	X.now = 1000;
	fpq_book_clock(X.b, X.now);
	for (j = 0; j < NCONN; j++) {
		X.seq[j][0] = 100000;
		X.seq[j][1] = 900000;
	}
	for (j = 0; j + 1 < size; j += 2)
		step(data[j], data[j + 1]);
	check_end();
	ct_free(X.w.ct);
	fpq_book_free(X.b);
	fpq_port_free(&X.d.port);
	return (0);
}
