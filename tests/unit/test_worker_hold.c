/*
 * test_worker_hold.c - cmocka tests for a new master's grace in
 * worker_ask.c: a packet that beats the old master's record of its
 * connection waits for it (worker_hold())
 *
 * Copyright (C) 2026 The nfqspid authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * As test_worker_ask.c: real workers (worker_new(), worker.c's verdicts
 * and counters, worker_sync.c's import) with real tables and inboxes,
 * the queue's I/O wrapped so that every verdict given later is recorded
 * (workerfix.c).  No thread runs: the test delivers each inbox by
 * calling its callback, applies the peer's records as the link would
 * (worker_sync_apply(), keep: a new master), and gives the clock to the
 * timeout by hand.
 */
#include "autoconf.h"		/* first: _GNU_SOURCE */

#include <sys/socket.h>
#include <netinet/in.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "worker_int.h"
#include "sync_int.h"
#include "unit.h"
#include "workerfix.h"
#include "../pktbuild.h"

/* ---- a new master, one worker or two ------------------------------------- */

#define GRACE_MS	10000

static int
setup_n(void **state, unsigned n, int loose)
{
	struct fix	*f = fix_new();

	f->cfg.ct.tcp_loose = (uint8_t)loose;
	f->cfg.sync.flush_ms = 50;
	f->cfg.sync.grace = GRACE_MS / 1000;
	unit_add_rule(&f->cfg, "web", CT_STATE_BIT(CT_NEW), IPPROTO_TCP, "80",
	    RULE_ACCEPT, 0, 0);
	unit_add_rule(&f->cfg, "dns", CT_STATE_BIT(CT_NEW), IPPROTO_UDP, "53",
	    RULE_ACCEPT, 0, 0);
	unit_add_rule(&f->cfg, "ping", CT_STATE_BIT(CT_NEW), IPPROTO_ICMP,
	    NULL, RULE_ACCEPT, 0, 0);
	/* worker_sync.c reads the real clock */
	fix_start(f, n, spi_now_ms());
	*state = f;
	return (0);
}

static int
setup_one(void **state)
{
	return (setup_n(state, 1, 1));
}

/* tcp_loose = no: an ACK without its connection is INVALID too */
static int
setup_strict(void **state)
{
	return (setup_n(state, 1, 0));
}

static int
setup_two(void **state)
{
	return (setup_n(state, 2, 1));
}

static int
setup_two_strict(void **state)
{
	return (setup_n(state, 2, 0));
}

/* The workers are a new master's, in their grace from now on. */
static void
new_master(struct fix *f)
{
	uint64_t	 until = f->now + GRACE_MS;
	unsigned	 i;

	for (i = 0; i < f->n; i++) {
		worker_set_sync(f->all[i], (struct sync *)&fakesync);
		worker_sync_grace(f->all[i], &until);
	}
}

/* ---- packets ------------------------------------------------------------- */

/* A TCP segment of PB_B:sport -> PB_A:80 (reply: back), id id, in *np. */
static void
tcp_packet(struct fix *f, struct nq_packet *np, uint8_t *b, uint32_t id,
    int reply, uint16_t sport, uint32_t seq, uint32_t ack, uint8_t flags)
{
	size_t		 h;

	h = pb_ip4(b, IPPROTO_TCP, reply ? PB_A4 : PB_B4,
	    reply ? PB_B4 : PB_A4, 0, 1, 0, 20);
	pb_tcp(b + h, reply ? 80 : sport, reply ? sport : 80, seq, ack, flags,
	    65535, 0);
	fix_packet(f, np, b, h + 20, id);
}

/* A UDP datagram PB_B:sport -> PB_A:53 (reply: back), id id, in *np. */
static void
udp_packet(struct fix *f, struct nq_packet *np, uint8_t *b, uint32_t id,
    int reply, uint16_t sport)
{
	size_t		 h;

	h = pb_ip4(b, IPPROTO_UDP, reply ? PB_A4 : PB_B4,
	    reply ? PB_B4 : PB_A4, 0, 1, 0, 12);
	pb_udp(b + h, reply ? 53 : sport, reply ? sport : 53, 4);
	memcpy(b + h + 8, "ping", 4);
	fix_packet(f, np, b, h + 12, id);
}

/* An ICMP echo request PB_B -> PB_A (reply: the reply back), id id. */
static void
echo_packet(struct fix *f, struct nq_packet *np, uint8_t *b, uint32_t id,
    int reply)
{
	size_t		 h;

	h = pb_ip4(b, IPPROTO_ICMP, reply ? PB_A4 : PB_B4,
	    reply ? PB_B4 : PB_A4, 0, 1, 0, 8);
	pb_icmp(b + h, reply ? 0 : 8, 0, 7, 1);
	fix_packet(f, np, b, h + 8, id);
}

/* np through w as worker_packet() takes it: adoption, then judgement.
   1 if it waits (its verdict comes later), else its verdict in *acc. */
static int
deliver(struct worker *w, const struct nq_packet *np, int *acc)
{
	struct nq_verdict nv;

	if (w->sync != NULL && worker_adopt_wanted(w) &&
	    worker_adopt(w, np, NULL, "", "") == 0)
		return (1);
	memset(&nv, 0, sizeof(nv));
	worker_judge(w, np, NULL, "", "", &nv);
	if (nv.defer)
		return (1);
	*acc = nv.accept;
	return (0);
}

/* The old master's record of what np (the start of a connection) made
   there, in *r: judged in a table of its own. */
static void
old_master(struct fix *f, const struct nq_packet *np, struct sync_rec *r)
{
	struct ct_table	*t = ct_new(&f->cfg.ct);
	struct verdict_ctx x = { &f->cfg, t, NULL, "", "", PKT_HOOK_FORWARD,
	    0, f->now };
	const struct ct_entry *e;
	struct ct_tuple	 k;
	struct pkt	 p;
	struct verdict	 v;

	assert_non_null(t);
	verdict_packet(&x, np->data, np->len, NULL, &p, &v);
	assert_int_equal(v.action, RULE_ACCEPT);
	assert_int_equal(verdict_tuple(np->data, np->len, &k), 0);
	assert_non_null(e = ct_lookup(t, &k));
	memset(r, 0, sizeof(*r));
	sync_rec_fill(r, SYNC_OP_UPSERT, t, e, &f->cfg);
	ct_free(t);
}

/* The record r reaches home, a new master's worker (keep); what became
   of it in *b. */
static void
record_apply(struct worker *home, struct sync_rec *r, struct sync_batch *b)
{
	memset(b, 0, sizeof(*b));
	b->rec = r;
	b->n = 1;
	b->keep = 1;
	worker_sync_apply(home, b);
}

/* ... its home worker, which takes it */
static void
record_in(struct fix *f, struct sync_rec *r)
{
	struct sync_batch b;

	record_apply(f->all[synclink_home(&r->s.k, f->n)], r, &b);
	assert_int_equal(b.applied, 1);
}

/*
 * The old master's record r of a SYN PB_B:40000 -> PB_A:80 (tuple k),
 * a flush behind; the workers a new master's from now on.  *home is
 * k's, *w the other one (one worker: home).
 */
static void
syn_record(struct fix *f, struct sync_rec *r, struct ct_tuple *k,
    struct worker **home, struct worker **w)
{
	struct nq_packet np;
	uint8_t		 b[64];

	tcp_packet(f, &np, b, 1, 0, 40000, 1000, 0, PKT_TH_SYN);
	old_master(f, &np, r);
	assert_int_equal(verdict_tuple(np.data, np.len, k), 0);
	*home = f->all[synclink_home(k, f->n)];
	*w = f->all[f->n - 1 - (*home)->id];
	new_master(f);
}

/* A SYN of PB_B:sport, id id, through w: accepted at once. */
static void
syn_in(struct fix *f, struct worker *w, uint32_t id, uint16_t sport)
{
	struct nq_packet np;
	uint8_t		 b[64];
	int		 acc = -1;

	tcp_packet(f, &np, b, id, 0, sport, 1000, 0, PKT_TH_SYN);
	assert_int_equal(deliver(w, &np, &acc), 0);
	assert_int_equal(acc, 1);
}

/* The first sport from sport on of a connection whose home is home. */
static uint16_t
sport_home(struct fix *f, const struct worker *home, uint16_t sport)
{
	struct nq_packet np;
	struct ct_tuple	 k;
	uint8_t		 b[64];

	for (;; sport++) {
		tcp_packet(f, &np, b, 41, 0, sport, 1000, 0, PKT_TH_SYN);
		assert_int_equal(verdict_tuple(np.data, np.len, &k), 0);
		if (synclink_home(&k, f->n) == home->id)
			return (sport);
	}
}

/*
 * Two workers, a new master's from now on: the old master's record r of
 * the flow PB_B:5353 -> PB_A:53 is for *home, the packets of it reach
 * the other one, *w.
 */
static void
away_record(struct fix *f, struct sync_rec *r, struct worker **home,
    struct worker **w)
{
	struct nq_packet np;
	struct ct_tuple	 k;
	uint8_t		 b[64];

	udp_packet(f, &np, b, 1, 0, 5353);
	old_master(f, &np, r);
	assert_int_equal(verdict_tuple(np.data, np.len, &k), 0);
	*home = f->all[synclink_home(&k, 2)];
	*w = f->all[!(*home)->id];
	new_master(f);
}

static void
check_given(size_t k, uint32_t id, uint8_t accept)
{
	assert_true(k < ngiven);
	assert_int_equal(given[k].id, id);
	assert_int_equal(given[k].accept, accept);
}

/* ---- the tests ----------------------------------------------------------- */

/*
 * The SYN went through the old master; its SYN-ACK and the client's ACK
 * reach the new master before the record of it: both wait, while a
 * packet of another connection does not wait behind them; the record
 * comes, and they are judged against the connection it made, in order.
 * (Before the grace's wait, the SYN-ACK was INVALID at once.)
 */
static void
test_hold_saved(void **state)
{
	struct fix	*f = *state;
	struct worker	*w = f->all[0];
	struct nq_packet np;
	struct sync_rec	 r;
	uint8_t		 b[3][64];
	int		 acc = -1;

	tcp_packet(f, &np, b[0], 1, 0, 40000, 1000, 0, PKT_TH_SYN);
	old_master(f, &np, &r);
	new_master(f);
	tcp_packet(f, &np, b[0], 10, 1, 40000, 5000, 1001,
	    PKT_TH_SYN | PKT_TH_ACK);
	assert_int_equal(deliver(w, &np, &acc), 1);
	tcp_packet(f, &np, b[1], 11, 0, 40000, 1001, 5001, PKT_TH_ACK);
	assert_int_equal(deliver(w, &np, &acc), 1);
	assert_int_equal(w->nadopt, 2);
	assert_true(w->adopt_bytes > 0);
	/* another connection goes on: a SYN never waits */
	tcp_packet(f, &np, b[2], 12, 0, 40001, 7000, 0, PKT_TH_SYN);
	assert_int_equal(deliver(w, &np, &acc), 0);
	assert_int_equal(acc, 1);
	assert_int_equal(ngiven, 0);
	assert_int_equal(w->nadopt, 2);
	record_in(f, &r);
	assert_int_equal(ngiven, 2);
	check_given(0, 10, 1);
	check_given(1, 11, 1);
	assert_int_equal(w->nadopt, 0);
	assert_int_equal(w->adopt_bytes, 0);
	assert_int_equal(w->st.grace_saved, 2);
	assert_int_equal(w->st.grace_unsaved, 0);
	assert_int_equal(w->st.invalid, 0);
	assert_int_equal(w->st.adopt_missed, 0);
	assert_int_equal(w->synced, 0);
	/* its own from now on: no wait */
	tcp_packet(f, &np, b[0], 13, 0, 40000, 1001, 5001, PKT_TH_ACK);
	assert_int_equal(deliver(w, &np, &acc), 0);
	assert_int_equal(acc, 1);
}

/* The echo reply of a ping the old master passed (icmp-no-request
   without it) waits for its record, found by the query's key. */
static void
test_hold_echo(void **state)
{
	struct fix	*f = *state;
	struct worker	*w = f->all[0];
	struct nq_packet np;
	struct sync_rec	 r;
	uint8_t		 b[64];
	int		 acc = -1;

	echo_packet(f, &np, b, 1, 0);
	old_master(f, &np, &r);
	new_master(f);
	echo_packet(f, &np, b, 80, 1);
	assert_int_equal(deliver(w, &np, &acc), 1);
	record_in(f, &r);
	assert_int_equal(ngiven, 1);
	check_given(0, 80, 1);
	assert_int_equal(w->st.grace_saved, 1);
	assert_int_equal(w->st.invalid, 0);
}

/*
 * No record comes (the old master crashed): the packet is judged as it
 * would have been, INVALID, after the wait and not before; nothing is
 * lost, and the stop gives every one still waiting its verdict.
 */
static void
test_hold_none(void **state)
{
	struct fix	*f = *state;
	struct worker	*w = f->all[0];
	struct nq_packet np;
	uint8_t		 b[2][64];
	uint64_t	 hold = WORKER_HOLD_FLUSHES * f->cfg.sync.flush_ms;
	int		 acc = -1;

	new_master(f);
	tcp_packet(f, &np, b[0], 20, 1, 40000, 5000, 1001,
	    PKT_TH_SYN | PKT_TH_ACK);
	assert_int_equal(deliver(w, &np, &acc), 1);
	tcp_packet(f, &np, b[1], 21, 0, 40000, 1001, 5001, PKT_TH_ACK);
	assert_int_equal(deliver(w, &np, &acc), 1);
	worker_adopt_late(w, f->now + hold - 1, WORKER_ADOPT_MS);
	assert_int_equal(ngiven, 0);
	worker_adopt_late(w, f->now + hold, WORKER_ADOPT_MS);
	assert_int_equal(ngiven, 2);
	check_given(0, 20, 0);
	check_given(1, 21, 0);
	assert_int_equal(w->st.invalid, 2);
	assert_int_equal(w->st.reasons[REASON_TCP_NO_SYN], 2);
	assert_int_equal(w->st.grace_unsaved, 2);
	assert_int_equal(w->st.grace_saved, 0);
	/* the record's wait is not an adoption's: not missed */
	assert_int_equal(w->st.adopt_missed, 0);
	assert_int_equal(w->nadopt, 0);
	assert_int_equal(w->adopt_bytes, 0);

	/* the stop: whatever waits is decided, whatever its age */
	tcp_packet(f, &np, b[0], 22, 1, 40001, 5000, 1001, PKT_TH_ACK);
	assert_int_equal(deliver(w, &np, &acc), 1);
	worker_adopt_late(w, 0, 0);
	assert_int_equal(ngiven, 3);
	check_given(2, 22, 0);
	assert_int_equal(w->nadopt, 0);
	/* a stopping worker holds nothing */
	w->stopping = 1;
	assert_int_equal(deliver(w, &np, &acc), 0);
	assert_int_equal(acc, 0);
	w->stopping = 0;
}

/* The old master's DELETE of r's tuple reaches its home worker (keep). */
static void
delete_in(struct fix *f, const struct sync_rec *r)
{
	struct sync_rec	 del = *r;
	struct sync_batch d;

	del.op = SYNC_OP_DELETE;
	memset(&d, 0, sizeof(d));
	d.rec = &del;
	d.n = 1;
	d.keep = 1;
	worker_sync_apply(f->all[synclink_home(&r->s.k, f->n)], &d);
	assert_int_equal(d.kept, 1);		/* nothing to end */
}

/*
 * The old master reused the tuple: the client's SYN found its earlier
 * connection in TIME_WAIT there, which ended (DELETE) and gave way to
 * the new one (its record), and the two records crossed in two
 * datagrams.  The new connection's SYN-ACK and ACK, here first, wait
 * through the DELETE, which ended the other one, held here (one worker)
 * or as a question home keeps (two); the record comes and saves them.
 * (Before, the DELETE ended their wait: both dropped, tcp-no-syn.)
 */
static void
test_hold_delete(void **state)
{
	struct fix	*f = *state;
	struct worker	*w, *home;
	struct nq_packet np;
	struct sync_rec	 r;
	struct ct_tuple	 k;
	uint8_t		 b[2][64];
	int		 acc = -1;

	syn_record(f, &r, &k, &home, &w);
	tcp_packet(f, &np, b[0], 30, 1, 40000, 5000, 1001,
	    PKT_TH_SYN | PKT_TH_ACK);
	assert_int_equal(deliver(w, &np, &acc), 1);
	tcp_packet(f, &np, b[1], 31, 0, 40000, 1001, 5001, PKT_TH_ACK);
	assert_int_equal(deliver(w, &np, &acc), 1);
	if (w != home) {
		worker_ask_cb(-1, EV_READ, home);	/* kept */
		assert_int_equal(home->nwant, 1);
	}
	delete_in(f, &r);
	if (w != home) {
		assert_int_equal(home->nwant, 1);
		assert_null(w->inbox);
	}
	assert_int_equal(ngiven, 0);
	assert_int_equal(w->nadopt, 2);
	record_in(f, &r);
	if (w != home) {
		assert_int_equal(home->nwant, 0);
		worker_ask_cb(-1, EV_READ, w);
	}
	assert_int_equal(ngiven, 2);
	check_given(0, 30, 1);
	check_given(1, 31, 1);
	assert_int_equal(w->st.reasons[REASON_TCP_NO_SYN], 0);
	assert_int_equal(w->st.grace_saved, 2);
	assert_int_equal(w->st.grace_unsaved, 0);
	assert_int_equal(w->st.adopt_missed, 0);
	assert_int_equal(w->nadopt, 0);
	assert_int_equal(w->adopt_bytes, 0);
	assert_int_equal(ct_count(w->ct), 1);
}

/*
 * A client's SYN of the held packets' connection that came behind the
 * SYN-ACK starts it anew: at the wait's end, when no record came
 * (HOLD_BY_LATE), or a DELETE of the tuple did (HOLD_BY_DELETE), which
 * ends no wait, the SYN-ACK is dropped, tcp-no-syn, grace_unsaved, the
 * SYN accepted, its entry made here.  No record saved the SYN, which
 * passes without one: it counts in neither, nor does it when the record
 * comes (HOLD_BY_RECORD) and saves the SYN-ACK alone.  (Before, an
 * accepted SYN counted as saved.)
 */
enum { HOLD_BY_DELETE, HOLD_BY_LATE, HOLD_BY_RECORD };

static void
hold_delete_syn(struct fix *f, int by)
{
	struct worker	*w, *home;
	struct nq_packet np;
	struct sync_rec	 r;
	struct ct_tuple	 k;
	uint8_t		 b[2][64];
	uint64_t	 hold = (uint64_t)f->cfg.sync.flush_ms *
			    WORKER_HOLD_FLUSHES;
	int		 acc = -1, saved = by == HOLD_BY_RECORD;

	syn_record(f, &r, &k, &home, &w);
	tcp_packet(f, &np, b[0], 30, 1, 40000, 5000, 1001,
	    PKT_TH_SYN | PKT_TH_ACK);
	assert_int_equal(deliver(w, &np, &acc), 1);
	tcp_packet(f, &np, b[1], 31, 0, 40000, 1000, 0, PKT_TH_SYN);
	assert_int_equal(deliver(w, &np, &acc), 1);	/* behind it */
	assert_int_equal(w->nadopt, 2);
	if (w != home) {
		worker_ask_cb(-1, EV_READ, home);
		assert_int_equal(home->nwant, 1);
	}
	if (by == HOLD_BY_DELETE) {
		delete_in(f, &r);		/* no end */
		assert_int_equal(ngiven, 0);
		assert_int_equal(home->nwant, w != home);
	}
	if (by == HOLD_BY_RECORD)
		record_in(f, &r);
	else
		worker_adopt_late(home, spi_now_ms() + hold,
		    WORKER_ADOPT_MS);
	if (w != home) {
		assert_int_equal(home->nwant, 0);
		worker_ask_cb(-1, EV_READ, w);
	}
	assert_int_equal(ngiven, 2);
	check_given(0, 30, saved);
	check_given(1, 31, 1);
	assert_int_equal(w->st.reasons[REASON_TCP_NO_SYN], !saved);
	assert_int_equal(w->st.grace_unsaved, !saved);
	assert_int_equal(w->st.grace_saved, saved);
	assert_int_equal(w->st.adopt_missed, 0);
	assert_int_equal(w->nadopt, 0);
	assert_int_equal(w->adopt_bytes, 0);
	assert_int_equal(ct_count(w->ct), 1);
	assert_int_equal(ct_count(home->ct), w == home ? 1 : 0);
}

static void
test_hold_delete_syn(void **state)
{
	hold_delete_syn(*state, HOLD_BY_DELETE);
}

static void
test_hold_late_syn(void **state)
{
	hold_delete_syn(*state, HOLD_BY_LATE);
}

static void
test_hold_saved_syn(void **state)
{
	hold_delete_syn(*state, HOLD_BY_RECORD);
}

/*
 * What never waits: a SYN, even one the rules refuse; a packet the
 * rules accept without an entry; a NEW ICMP request; and nothing at all
 * outside the grace (over, or never begun), on a backup, in monitor
 * mode, or without [sync].  Every one is decided at once, as before.
 */
static void
test_hold_not(void **state)
{
	struct fix	*f = *state;
	struct worker	*w = f->all[0];
	struct nq_packet np;
	uint8_t		 b[64];
	uint64_t	 until;
	size_t		 h;
	int		 acc = -1;

	/* without [sync]: no grace to be in */
	tcp_packet(f, &np, b, 30, 1, 40000, 5000, 1001, PKT_TH_ACK);
	assert_int_equal(deliver(w, &np, &acc), 0);
	assert_int_equal(acc, 0);
	new_master(f);
	/* a SYN to a port no rule opens: refused at once */
	h = pb_ip4(b, IPPROTO_TCP, PB_B4, PB_A4, 0, 1, 0, 20);
	pb_tcp(b + h, 40000, 81, 1000, 0, PKT_TH_SYN, 65535, 0);
	np.id = 31;
	assert_int_equal(deliver(w, &np, &acc), 0);
	assert_int_equal(acc, 0);
	/* a query the rules let in */
	udp_packet(f, &np, b, 32, 0, 5353);
	assert_int_equal(deliver(w, &np, &acc), 0);
	assert_int_equal(acc, 1);
	/* a ping the rules refuse: a request, alike with an entry */
	f->rules[2].action = RULE_DROP;
	h = pb_ip4(b, IPPROTO_ICMP, PB_B4, PB_A4, 0, 1, 0, 8);
	pb_icmp(b + h, 8, 0, 7, 1);
	np.len = np.origlen = h + 8;
	np.id = 33;
	assert_int_equal(deliver(w, &np, &acc), 0);
	assert_int_equal(acc, 0);
	f->rules[2].action = RULE_ACCEPT;
	/* a backup: the peer's records are its own, no race */
	sending = 0;
	tcp_packet(f, &np, b, 34, 1, 40000, 5000, 1001, PKT_TH_ACK);
	assert_int_equal(deliver(w, &np, &acc), 0);
	sending = 1;
	/* the grace is over: one look, then not even that */
	np.ts_ms = w->hold_until;
	assert_int_equal(deliver(w, &np, &acc), 0);
	assert_int_equal(acc, 0);
	assert_int_equal(w->hold_until, 0);
	/* [sync] grace = 0: the link gives no grace */
	until = 0;
	worker_sync_grace(w, &until);
	np.ts_ms = f->now;
	assert_int_equal(deliver(w, &np, &acc), 0);
	/* monitor mode lets it through: nothing to save */
	until = f->now + GRACE_MS;
	worker_sync_grace(w, &until);
	f->cfg.mode = MODE_MONITOR;
	tcp_packet(f, &np, b, 35, 1, 40002, 5000, 1001, PKT_TH_ACK);
	assert_int_equal(deliver(w, &np, &acc), 0);
	assert_int_equal(acc, 1);
	f->cfg.mode = MODE_ENFORCE;
	assert_int_equal(ngiven, 0);
	assert_int_equal(w->nadopt, 0);
	assert_int_equal(w->st.grace_saved + w->st.grace_unsaved, 0);
}

/*
 * The room's count, a quarter of queue_maxlen: with room for two, a
 * third connection's packet is judged at once (adopt_missed), however
 * few bytes wait, as is one that would join its connection's waiting
 * packets; a reload's longer queue makes room again.  (The byte cap
 * alone let a flood of small packets in the grace fill the kernel's
 * queue, whose other packets it then dropped.)
 */
static void
test_hold_room(void **state)
{
	struct fix	*f = *state;
	struct worker	*w = f->all[0];
	struct nq_packet np;
	struct sync_rec	 r;
	uint8_t		 b[64];
	uint64_t	 hold = WORKER_HOLD_FLUSHES * f->cfg.sync.flush_ms;
	int		 acc = -1;

	udp_packet(f, &np, b, 1, 0, 6000);
	old_master(f, &np, &r);
	new_master(f);
	f->cfg.queue_maxlen = 3 * WORKER_WAIT_SHARE - 1;
	udp_packet(f, &np, b, 40, 1, 6000);
	assert_int_equal(deliver(w, &np, &acc), 1);
	udp_packet(f, &np, b, 41, 1, 6001);
	assert_int_equal(deliver(w, &np, &acc), 1);
	assert_int_equal(w->nadopt, 2);
	assert_int_equal(w->st.adopt_missed, 0);
	udp_packet(f, &np, b, 42, 1, 6002);
	assert_int_equal(deliver(w, &np, &acc), 0);
	assert_int_equal(acc, 0);
	assert_int_equal(w->st.adopt_missed, 1);
	udp_packet(f, &np, b, 43, 1, 6000);
	assert_int_equal(deliver(w, &np, &acc), 0);
	assert_int_equal(acc, 0);
	assert_int_equal(w->st.adopt_missed, 2);
	assert_int_equal(w->nadopt, 2);
	assert_true(w->adopt_bytes < w->adopt_max / 1000);
	f->cfg.queue_maxlen = 4096;
	udp_packet(f, &np, b, 44, 1, 6002);
	assert_int_equal(deliver(w, &np, &acc), 1);
	assert_int_equal(w->nadopt, 3);
	record_in(f, &r);
	assert_int_equal(ngiven, 1);
	check_given(0, 40, 1);
	assert_int_equal(w->st.grace_saved, 1);
	/* no record for the others: refused after the wait */
	worker_adopt_late(w, f->now + hold, WORKER_ADOPT_MS);
	assert_int_equal(ngiven, 3);
	check_given(1, 41, 0);
	check_given(2, 44, 0);
	assert_int_equal(w->st.grace_unsaved, 2);
	assert_int_equal(w->st.adopt_missed, 2);
	assert_int_equal(w->nadopt, 0);
	assert_int_equal(w->adopt_bytes, 0);
}

/*
 * The adoptions' cap: a packet that would pass it is judged at once
 * (adopt_missed), as is one that would join its connection's waiting
 * packets; those that waited still get their record.
 */
static void
test_hold_cap(void **state)
{
	struct fix	*f = *state;
	struct worker	*w = f->all[0];
	struct nq_packet np;
	struct sync_rec	 r;
	uint8_t		 b[64];
	int		 acc = -1;

	udp_packet(f, &np, b, 1, 0, 6000);
	old_master(f, &np, &r);
	new_master(f);
	/* a DNS answer: NEW from port 53, which the rules refuse */
	udp_packet(f, &np, b, 40, 1, 6000);
	assert_int_equal(deliver(w, &np, &acc), 1);
	w->adopt_max = w->adopt_bytes + 8;
	udp_packet(f, &np, b, 41, 1, 6001);
	assert_int_equal(deliver(w, &np, &acc), 0);
	assert_int_equal(acc, 0);
	assert_int_equal(w->st.adopt_missed, 1);
	udp_packet(f, &np, b, 42, 1, 6000);
	assert_int_equal(deliver(w, &np, &acc), 0);
	assert_int_equal(acc, 0);
	assert_int_equal(w->st.adopt_missed, 2);
	assert_int_equal(w->nadopt, 1);
	record_in(f, &r);
	assert_int_equal(ngiven, 1);
	check_given(0, 40, 1);
	assert_int_equal(w->st.grace_saved, 1);
	assert_int_equal(w->adopt_bytes, 0);
}

/*
 * Two workers: the packet reaches the one that is not its connection's
 * home, where the record lands.  Home, asked, holds nothing yet and
 * keeps the question until the record comes, then hands the connection
 * over; without a record it answers once the wait is over, and the
 * packet is judged as before.
 */
static void
test_hold_home(void **state)
{
	struct fix	*f = *state;
	struct worker	*w, *home;
	struct nq_packet np;
	struct sync_rec	 r;
	uint8_t		 b[2][64];
	uint64_t	 hold = WORKER_HOLD_FLUSHES * f->cfg.sync.flush_ms;
	uint64_t	 t0;
	int		 acc = -1;

	away_record(f, &r, &home, &w);
	udp_packet(f, &np, b[0], 50, 1, 5353);
	assert_int_equal(deliver(w, &np, &acc), 1);
	udp_packet(f, &np, b[1], 51, 1, 5353);
	assert_int_equal(deliver(w, &np, &acc), 1);
	assert_int_equal(w->nadopt, 2);
	worker_ask_cb(-1, EV_READ, home);	/* the question: kept */
	assert_int_equal(home->nwant, 1);
	assert_null(w->inbox);
	record_in(f, &r);			/* handed over */
	assert_int_equal(home->nwant, 0);
	assert_int_equal(ct_count(home->ct), 0);
	worker_ask_cb(-1, EV_READ, w);
	assert_int_equal(ngiven, 2);
	check_given(0, 50, 1);
	check_given(1, 51, 1);
	assert_int_equal(w->st.adopted, 1);
	assert_int_equal(w->st.grace_saved, 2);
	assert_int_equal(ct_count(w->ct), 1);
	assert_int_equal(w->nadopt, 0);
	assert_int_equal(w->adopt_bytes, 0);

	/* no record: home answers after the wait, not before */
	ct_flush(w->ct);
	udp_packet(f, &np, b[0], 52, 1, 5353);
	assert_int_equal(deliver(w, &np, &acc), 1);
	t0 = spi_now_ms();
	worker_ask_cb(-1, EV_READ, home);
	assert_int_equal(home->nwant, 1);
	worker_adopt_late(home, t0 + hold - 1, WORKER_ADOPT_MS);
	assert_null(w->inbox);
	worker_adopt_late(home, spi_now_ms() + hold, WORKER_ADOPT_MS);
	assert_int_equal(home->nwant, 0);
	worker_ask_cb(-1, EV_READ, w);
	assert_int_equal(ngiven, 3);
	check_given(2, 52, 0);
	assert_int_equal(w->st.grace_unsaved, 1);
	assert_int_equal(w->nadopt, 0);

	/* home's stop answers what waits on it; the asker's own stop
	   decides its packets */
	udp_packet(f, &np, b[0], 53, 1, 5353);
	assert_int_equal(deliver(w, &np, &acc), 1);
	worker_ask_cb(-1, EV_READ, home);
	assert_int_equal(home->nwant, 1);
	worker_adopt_late(home, 0, 0);
	assert_int_equal(home->nwant, 0);
	worker_adopt_late(w, 0, 0);
	assert_int_equal(ngiven, 4);
	check_given(3, 53, 0);
	assert_int_equal(w->nadopt, 0);
	/* the answer left in the inbox is freed with it */
	assert_non_null(w->inbox);
}

/*
 * Home holds synced connections, not this one yet: the packet asks as
 * an adoption first, gets "none", and then waits for the record in the
 * same way, the packet behind it still behind it.
 */
static void
test_hold_after_adopt(void **state)
{
	struct fix	*f = *state;
	struct worker	*w, *home;
	struct nq_packet np;
	struct sync_rec	 r;
	uint8_t		 b[2][64];
	int		 acc = -1;

	away_record(f, &r, &home, &w);
	home->synced = unseen = 1;	/* as if another one waited there */
	udp_packet(f, &np, b[0], 60, 1, 5353);
	assert_int_equal(deliver(w, &np, &acc), 1);
	udp_packet(f, &np, b[1], 61, 1, 5353);
	assert_int_equal(deliver(w, &np, &acc), 1);
	worker_ask_cb(-1, EV_READ, home);	/* the adoption: none */
	assert_int_equal(home->nwant, 0);
	worker_ask_cb(-1, EV_READ, w);		/* asks again, to wait */
	assert_int_equal(ngiven, 0);
	assert_int_equal(w->nadopt, 2);
	worker_ask_cb(-1, EV_READ, home);
	assert_int_equal(home->nwant, 1);
	home->synced = unseen = 0;
	record_in(f, &r);
	worker_ask_cb(-1, EV_READ, w);
	assert_int_equal(ngiven, 2);
	check_given(0, 60, 1);
	check_given(1, 61, 1);
	assert_int_equal(w->st.grace_saved, 2);
	assert_int_equal(w->st.adopt_missed, 0);
}

/*
 * Home never answered the adoption (it is behind): at the deadline the
 * packet is judged without its connection, counted missed, and does
 * not wait again, for the record (a second wait would end past TCP's
 * minimum RTO, and adopt_missed would count a packet that then got
 * one).  Before, it asked home again, or, when the clock had moved
 * since the timer read it, was held and dropped in the same turn as
 * unsaved (now - since wrapped).
 */
static void
test_hold_after_late(void **state)
{
	struct fix	*f = *state;
	struct worker	*w, *home;
	struct nq_packet np;
	struct sync_rec	 r;
	uint8_t		 b[2][64];
	uint64_t	 now;
	int		 acc = -1;

	away_record(f, &r, &home, &w);
	home->synced = unseen = 1;	/* as if another one waited there */
	now = spi_now_ms();
	udp_packet(f, &np, b[0], 90, 1, 5353);
	np.ts_ms = now - WORKER_ADOPT_MS - 100;
	assert_int_equal(deliver(w, &np, &acc), 1);
	udp_packet(f, &np, b[1], 91, 1, 5353);
	np.ts_ms = now - WORKER_ADOPT_MS - 50;
	assert_int_equal(deliver(w, &np, &acc), 1);
	/* the timer read its clock a moment before the packets' turn */
	worker_adopt_late(w, now - 1, WORKER_ADOPT_MS);
	assert_int_equal(ngiven, 2);
	check_given(0, 90, 0);
	check_given(1, 91, 0);
	assert_int_equal(w->st.adopt_missed, 2);
	assert_int_equal(w->st.grace_saved + w->st.grace_unsaved, 0);
	assert_int_equal(w->nadopt, 0);
	assert_int_equal(w->adopt_bytes, 0);
	/* home, answering at last, is asked nothing more */
	worker_ask_cb(-1, EV_READ, home);
	worker_ask_cb(-1, EV_READ, w);
	assert_null(home->inbox);
	assert_int_equal(home->nwant, 0);
	assert_int_equal(ngiven, 2);
	/* the next packet of it still waits for the record, and gets it */
	home->synced = unseen = 0;
	udp_packet(f, &np, b[0], 92, 1, 5353);
	assert_int_equal(deliver(w, &np, &acc), 1);
	worker_ask_cb(-1, EV_READ, home);
	assert_int_equal(home->nwant, 1);
	record_in(f, &r);
	worker_ask_cb(-1, EV_READ, w);
	assert_int_equal(ngiven, 3);
	check_given(2, 92, 1);
	assert_int_equal(w->st.grace_saved, 1);
}

/*
 * Made backup while a packet waits: no new one waits, and the one that
 * does still gets its verdict, with the record if it comes (the backup
 * applies it) or after its wait.
 */
static void
test_hold_backup(void **state)
{
	struct fix	*f = *state;
	struct worker	*w = f->all[0];
	struct nq_packet np;
	struct sync_rec	 r;
	struct sync_batch sb;
	uint8_t		 b[2][64];
	uint64_t	 hold = WORKER_HOLD_FLUSHES * f->cfg.sync.flush_ms;
	int		 acc = -1;

	udp_packet(f, &np, b[0], 1, 0, 5353);
	old_master(f, &np, &r);
	new_master(f);
	udp_packet(f, &np, b[0], 70, 1, 5353);
	assert_int_equal(deliver(w, &np, &acc), 1);
	udp_packet(f, &np, b[1], 71, 1, 5354);
	assert_int_equal(deliver(w, &np, &acc), 1);
	sending = 0;
	udp_packet(f, &np, b[1], 72, 1, 5355);
	assert_int_equal(deliver(w, &np, &acc), 0);
	assert_int_equal(acc, 0);
	memset(&sb, 0, sizeof(sb));
	sb.rec = &r;
	sb.n = 1;
	worker_sync_apply(w, &sb);
	assert_int_equal(ngiven, 1);
	check_given(0, 70, 1);
	worker_adopt_late(w, f->now + hold, WORKER_ADOPT_MS);
	assert_int_equal(ngiven, 2);
	check_given(1, 71, 0);
	assert_int_equal(w->nadopt, 0);
	sending = 1;
}

/*
 * The old master's record r of a SYN (k), a flush behind; then, in the
 * new master's grace, a SYN of the same tuple reaches w, not the
 * tuple's home, and w makes the connection, which the peer hears of.
 */
static void
fresh_off_home(struct fix *f, struct sync_rec *r, struct ct_tuple *k,
    struct worker **home, struct worker **w)
{
	syn_record(f, r, k, home, w);
	syn_in(f, *w, 40, 40000);
}

/*
 * Both nodes forward around the switch.  The old master passed a SYN
 * whose record is a flush behind; a SYN of the same tuple (the client's
 * retry, or its next connection) reaches the new master's worker w,
 * not the tuple's home, which holds no synced copy: w makes the
 * connection, and the peer hears of it, then of its end.  Then the old
 * master's record comes home.  Taken, home would send it back to the
 * peer (keep) after that end, from another ring, and keep it as a copy
 * beside w's table: the peer would hold a connection that ended, and a
 * packet of the tuple at w would adopt it here.  In the grace w tells
 * home of what it makes, home holding a copy or not, and home keeps the
 * record out.  After the grace, home holding none, w tells nobody.
 * (Before, home took the record and sent it back.)
 */
static void
test_hold_fresh_home(void **state)
{
	struct fix	*f = *state;
	struct worker	*w, *home;
	struct sync_rec	 r;
	struct sync_batch sb;
	struct ct_tuple	 k;

	fresh_off_home(f, &r, &k, &home, &w);
	assert_int_equal(queued[w->id], 1);
	worker_ask_cb(-1, EV_READ, home);	/* told */
	assert_null(w->inbox);			/* no copy to end */
	assert_int_equal(ct_forget(w->ct, &k, f->now), 0);
	assert_int_equal(deletes, 1);
	record_apply(home, &r, &sb);
	assert_int_equal(sb.kept, 1);
	assert_int_equal(sb.applied, 0);
	assert_int_equal(queued[home->id], 0);
	assert_int_equal(home->synced, 0);
	assert_int_equal(ct_count(home->ct), 0);

	/* the grace is over: nothing to tell home */
	f->now += GRACE_MS;
	syn_in(f, w, 41, sport_home(f, home, 40001));
	assert_int_equal(home->nfresh, 0);
}

/*
 * The same under load: more new connections off home in the grace than
 * home's list of them held (WORKER_THERE), before the old master's
 * record of the first comes.  Home's list grows while its oldest may
 * still meet that record, and keeps it out; nothing is counted lost.
 * (Before, the 1025th pushed the first out, counted as forgot_moved:
 * home took the record and sent it back behind w's connection.)
 */
static void
test_hold_fresh_many(void **state)
{
	struct fix	*f = *state;
	struct worker	*w, *home;
	struct sync_rec	 r;
	struct sync_batch sb;
	struct ct_tuple	 k;
	unsigned	 n = 0;
	uint16_t	 sport;

	fresh_off_home(f, &r, &k, &home, &w);
	for (sport = 40001; n <= WORKER_THERE; sport++) {
		sport = sport_home(f, home, sport);
		syn_in(f, w, 41, sport);
		if (++n % (WORKER_FRESH / 2) == 0)
			worker_ask_cb(-1, EV_READ, home);
	}
	worker_ask_cb(-1, EV_READ, home);
	record_apply(home, &r, &sb);
	assert_int_equal(sb.kept, 1);
	assert_int_equal(queued[home->id], 0);
	assert_int_equal(ct_count(home->ct), 0);
	assert_int_equal(home->st.forgot_moved, 0);
	assert_int_equal(home->st.adopt_untold, 0);
	assert_int_equal(w->st.adopt_untold, 0);
	assert_int_equal(home->there->n, WORKER_THERE + 2);
}

/*
 * The same, but the record comes home before home read w's word (its
 * loop behind): home takes it, sends it back to the peer and keeps a
 * copy, then reads the word, ends the copy and has w send its
 * connection again.  The two go in that order whichever ring the link
 * drains first: home's has fewer moves (synclink_moved()).  (Before,
 * the same moves: with w's ring drained first the peer kept the old
 * master's record until the connection's next change.)
 */
static void
test_hold_fresh_late(void **state)
{
	struct fix	*f = *state;
	struct worker	*w, *home;
	struct sync_rec	 r;
	struct ct_tuple	 k;
	unsigned	 m;

	fresh_off_home(f, &r, &k, &home, &w);
	assert_int_equal(queued[w->id], 1);
	m = moves;
	record_in(f, &r);
	assert_int_equal(queued[home->id], 1);
	assert_int_equal(queued_moves[home->id], m);
	assert_int_equal(home->synced, 1);
	worker_ask_cb(-1, EV_READ, home);	/* the word: the copy ends */
	assert_int_equal(home->synced, 0);
	assert_int_equal(ct_count(home->ct), 0);
	worker_ask_cb(-1, EV_READ, w);		/* w's again, after */
	assert_int_equal(queued[w->id], 2);
	assert_true(queued_moves[w->id] > queued_moves[home->id]);
	assert_int_equal(deletes, 0);
	assert_int_equal(unseen, 0);
	assert_non_null(ct_lookup(w->ct, &k));
}

/*
 * The same, but w's connection ends before w reads home's answer: its
 * DELETE went out before home's copy of the old master's record, from
 * w's ring, and w has nothing to send again.  w sends the tuple's
 * DELETE again, after home's record (more moves).  (Before, nothing:
 * with w's ring drained first the peer kept the old master's record
 * until it timed out.)
 */
static void
test_hold_fresh_gone(void **state)
{
	struct fix	*f = *state;
	struct worker	*w, *home;
	struct sync_rec	 r;
	struct ct_tuple	 k;
	unsigned	 m;

	fresh_off_home(f, &r, &k, &home, &w);
	m = moves;
	record_in(f, &r);
	assert_int_equal(queued[home->id], 1);
	assert_int_equal(ct_forget(w->ct, &k, f->now), 0);
	assert_int_equal(deletes, 1);
	assert_int_equal(queued[w->id], 2);
	assert_int_equal(queued_moves[w->id], m);
	worker_ask_cb(-1, EV_READ, home);	/* the word: the copy ends */
	assert_int_equal(ct_count(home->ct), 0);
	worker_ask_cb(-1, EV_READ, w);		/* its DELETE again, after */
	assert_int_equal(queued[w->id], 3);
	assert_int_equal(deletes, 2);
	assert_true(queued_moves[w->id] > queued_moves[home->id]);
	assert_null(ct_lookup(w->ct, &k));
}

/*
 * The same, but a packet made a newer connection of the tuple in w
 * before w read home's answer: w sends that one again, and no DELETE,
 * which would end it at the peer.
 */
static void
test_hold_fresh_gone_new(void **state)
{
	struct fix	*f = *state;
	struct worker	*w, *home;
	struct sync_rec	 r;
	struct ct_tuple	 k;

	fresh_off_home(f, &r, &k, &home, &w);
	record_in(f, &r);
	assert_int_equal(ct_forget(w->ct, &k, f->now), 0);
	assert_int_equal(deletes, 1);
	syn_in(f, w, 41, 40000);
	assert_int_equal(queued[w->id], 3);
	worker_ask_cb(-1, EV_READ, home);
	worker_ask_cb(-1, EV_READ, w);		/* the newer one again */
	assert_int_equal(queued[w->id], 4);
	assert_int_equal(deletes, 1);
	assert_true(queued_moves[w->id] > queued_moves[home->id]);
	assert_non_null(ct_lookup(w->ct, &k));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_hold_saved, setup_one,
		    teardown),
		cmocka_unit_test_setup_teardown(test_hold_echo, setup_one,
		    teardown),
		cmocka_unit_test_setup_teardown(test_hold_none, setup_strict,
		    teardown),
		cmocka_unit_test_setup_teardown(test_hold_not, setup_one,
		    teardown),
		cmocka_unit_test_setup_teardown(test_hold_room, setup_one,
		    teardown),
		cmocka_unit_test_setup_teardown(test_hold_cap, setup_one,
		    teardown),
		cmocka_unit_test_setup_teardown(test_hold_backup, setup_one,
		    teardown),
		cmocka_unit_test_setup_teardown(test_hold_home, setup_two,
		    teardown),
		cmocka_unit_test_setup_teardown(test_hold_after_adopt,
		    setup_two, teardown),
		cmocka_unit_test_setup_teardown(test_hold_after_late,
		    setup_two, teardown),
		cmocka_unit_test_setup_teardown(test_hold_delete,
		    setup_strict, teardown),
		cmocka_unit_test_setup_teardown(test_hold_delete,
		    setup_two_strict, teardown),
		cmocka_unit_test_setup_teardown(test_hold_delete_syn,
		    setup_strict, teardown),
		cmocka_unit_test_setup_teardown(test_hold_delete_syn,
		    setup_two_strict, teardown),
		cmocka_unit_test_setup_teardown(test_hold_late_syn,
		    setup_strict, teardown),
		cmocka_unit_test_setup_teardown(test_hold_late_syn,
		    setup_two_strict, teardown),
		cmocka_unit_test_setup_teardown(test_hold_saved_syn,
		    setup_strict, teardown),
		cmocka_unit_test_setup_teardown(test_hold_saved_syn,
		    setup_two_strict, teardown),
		cmocka_unit_test_setup_teardown(test_hold_fresh_home,
		    setup_two, teardown),
		cmocka_unit_test_setup_teardown(test_hold_fresh_many,
		    setup_two, teardown),
		cmocka_unit_test_setup_teardown(test_hold_fresh_late,
		    setup_two, teardown),
		cmocka_unit_test_setup_teardown(test_hold_fresh_gone,
		    setup_two, teardown),
		cmocka_unit_test_setup_teardown(test_hold_fresh_gone_new,
		    setup_two, teardown),
	};

	return (cmocka_run_group_tests(tests, NULL, NULL));
}
