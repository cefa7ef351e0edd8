/*
 * test_worker_ask.c - cmocka tests for worker_ask.c with worker_frag.c:
 * an ICMP error in fragments that quotes another worker's connection,
 * and with worker_sync.c a synced connection another worker adopts
 *
 * Copyright (C) 2026 The nfqspid authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * Two real workers (worker_new(), worker.c's verdicts, counters and
 * audit) with real tables, fragment caches and inboxes; the queue's I/O
 * is wrapped, so every verdict given later is recorded (workerfix.c).
 * No thread runs: the test delivers each inbox by calling its callback,
 * as the loop would, and gives the clock to the timeout by hand.
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

/* ---- two workers ------------------------------------------------------------ */

#define MARK		0x42	/* the owner's connection's */
#define QPAY		200	/* bytes of the quoted datagram's payload */

/* all[0] gets the error, all[1] owns the connection */
static int
setup(void **state)
{
	struct fix	*f = fix_new();

	f->cfg.log_invalid = 1;
	unit_add_rule(&f->cfg, "dns", CT_STATE_BIT(CT_NEW), IPPROTO_UDP, "53",
	    RULE_ACCEPT, MARK, 0);
	/* audits the errors, leaves their mark to the connection */
	unit_add_rule(&f->cfg, "errors", CT_STATE_BIT(CT_RELATED), 0, NULL,
	    RULE_ACCEPT, 0, 1);
	/* pings from anywhere, with MARK */
	unit_add_rule(&f->cfg, "ping", CT_STATE_BIT(CT_NEW), IPPROTO_ICMP,
	    NULL, RULE_ACCEPT, MARK, 0);
	unit_add_rule(&f->cfg, "web", CT_STATE_BIT(CT_NEW), IPPROTO_TCP, "80",
	    RULE_ACCEPT, 0, 0);
	fix_start(f, 2, 1000000);
	*state = f;
	return (0);
}

/* ---- packets ---------------------------------------------------------------- */

/* w's table gets the UDP flow PB_B:sport -> PB_A:53 (v6: over IPv6),
   accepted with MARK; its count of connections grows by one. */
static void
udp_from(struct fix *f, struct worker *w, int v6, uint16_t sport)
{
	struct verdict_ctx x = { &f->cfg, w->ct, w->lt, "", "",
	    PKT_HOOK_FORWARD, 0, f->now };
	uint8_t		 b[64];
	struct pkt	 p;
	struct verdict	 v;
	size_t		 h, n;

	h = v6 ? pb_ip6(b, IPPROTO_UDP, PB_B6, PB_A6, 64, 12) :
	    pb_ip4(b, IPPROTO_UDP, PB_B4, PB_A4, 0, 1, 0, 12);
	pb_udp(b + h, sport, 53, 4);
	memcpy(b + h + 8, "ping", 4);
	n = ct_count(w->ct);
	verdict_packet(&x, b, h + 12, NULL, &p, &v);
	assert_int_equal(v.state, CT_NEW);
	assert_int_equal(v.action, RULE_ACCEPT);
	assert_int_equal(v.mark, MARK);
	assert_int_equal(ct_count(w->ct), n + 1);
}

/* The flow PB_B:5353 -> PB_A:53 in w's empty table. */
static void
connect_udp(struct fix *f, struct worker *w, int v6)
{
	assert_int_equal(ct_count(w->ct), 0);
	udp_from(f, w, v6, 5353);
}

/* Another flow of PB_B's, from sport, over IPv4. */
static void
other_udp(struct fix *f, struct worker *w, uint16_t sport)
{
	udp_from(f, w, 0, sport);
}

/*
 * The port unreachable PB_A sends back to PB_B about that flow, as an
 * ICMP or ICMPv6 message of l4 (returned: its length).
 */
static size_t
unreachable(uint8_t *l4, int v6)
{
	size_t		 h, len;
	uint8_t		*q = l4 + 8;

	pb_icmp(l4, v6 ? 1 : 3, v6 ? 4 : 3, 0, 0);
	h = v6 ? pb_ip6(q, IPPROTO_UDP, PB_B6, PB_A6, 64, 8 + QPAY) :
	    pb_ip4(q, IPPROTO_UDP, PB_B4, PB_A4, 0, 1, 0, 8 + QPAY);
	if (!v6)
		pb_ip4_csum(q);
	pb_udp(q + h, 5353, 53, QPAY);
	memset(q + h + 8, 0x5a, QPAY);
	len = 8 + h + 8 + QPAY;
	put16(l4 + 2, pb_csum(v6 ? pb_pseudo(1, IPPROTO_ICMPV6, len) : 0,
	    l4, len));
	return (len);
}

/*
 * That error to w in fragments (identification id): the first of first
 * bytes, then of size bytes each, with ids from id on.  Every fragment but the last is held;
 * the last makes it whole.  Returns the number of fragments, and the
 * last one's nq verdict in nv.
 */
static size_t
send_error(struct fix *f, struct worker *w, int v6, size_t first,
    size_t size, uint32_t id, struct nq_verdict *nv)
{
	struct verdict_ctx x = { &f->cfg, w->ct, w->lt, "", "",
	    PKT_HOOK_FORWARD, 0, f->now };
	struct nq_packet np;
	uint8_t		 l4[8 + 40 + 8 + QPAY], b[48 + 96];
	size_t		 len, off, n, k;

	len = unreachable(l4, v6);
	for (off = 0, k = 0; off < len; off += n, k++) {
		n = off == 0 ? first : size;
		if (n > len - off)
			n = len - off;
		fix_packet(f, &np, b, pb_frag(b, v6, v6 ? IPPROTO_ICMPV6 :
		    IPPROTO_ICMP, id, l4, off, n, off + n < len),
		    id + (uint32_t)k);
		memset(nv, 0, sizeof(*nv));
		assert_int_equal(worker_fragment(w, &np, &x, nv), 1);
		if (off + n < len)
			assert_true(nv->defer);	/* held */
	}
	return (k);
}

/* What nq was told for ids [id, id + n), in that order. */
static void
check_given(uint32_t id, size_t n, uint8_t accept, uint32_t mark)
{
	size_t	 k;

	assert_int_equal(ngiven, n);
	for (k = 0; k < n; k++) {
		assert_int_equal(given[k].id, id + k);
		assert_int_equal(given[k].accept, accept);
		assert_int_equal(given[k].set_mark, mark != 0);
		if (mark != 0)
			assert_int_equal(given[k].mark, mark);
	}
}

/* ---- the tests ---------------------------------------------------------------- */

/* The owner answers: every fragment is RELATED, with its mark. */
static void
related(struct fix *f, int v6, uint32_t id)
{
	struct worker	*w = f->all[0], *owner = f->all[1];
	struct nq_verdict nv;
	size_t		 n;

	connect_udp(f, owner, v6);
	n = send_error(f, w, v6, 96, 96, id, &nv);
	assert_int_equal(n, 3);
	/* the last one waits too, for the answer: nothing given yet */
	assert_true(nv.defer);
	assert_int_equal(ngiven, 0);
	assert_int_equal(w->ndefer, 1);
	assert_int_equal(w->st.received, 0);
	assert_non_null(owner->inbox);
	worker_ask_cb(-1, EV_READ, owner);	/* the question */
	assert_null(owner->inbox);
	assert_int_equal(ngiven, 0);
	worker_ask_cb(-1, EV_READ, w);		/* its answer */
	/* the held ones by offset, then the one that made it whole */
	check_given(id, n, 1, MARK);
	assert_int_equal(w->ndefer, 0);
	assert_int_equal(w->st.received, n);
	assert_int_equal(w->st.accepted, n);
	assert_int_equal(w->st.related, n);
	assert_int_equal(w->st.invalid, 0);
	/* one record for the datagram, by the rule that audits errors */
	assert_int_equal(audits, 1);
	assert_int_equal(w->rcount[2 * 1], n);
	assert_int_equal(owner->st.received, 0);
}

static void
test_related4(void **state)
{
	related(*state, 0, 100);
}

static void
test_related6(void **state)
{
	related(*state, 1, 200);
}

/* Nobody knows the connection: every fragment as it was, INVALID. */
static void
test_unknown(void **state)
{
	struct fix	*f = *state;
	struct worker	*w = f->all[0], *other = f->all[1];
	struct nq_verdict nv;
	size_t		 n;

	n = send_error(f, w, 0, 96, 96, 300, &nv);
	assert_true(nv.defer);
	assert_int_equal(ngiven, 0);
	worker_ask_cb(-1, EV_READ, other);
	worker_ask_cb(-1, EV_READ, w);
	check_given(300, n, 0, 0);
	assert_int_equal(w->ndefer, 0);
	assert_int_equal(w->st.dropped, n);
	assert_int_equal(w->st.invalid, n);
	assert_int_equal(w->st.reasons[REASON_ICMP_UNTRACKED], n);
	assert_int_equal(audits, 1);
}

/*
 * No answer in time, or the worker stops first: every fragment as it
 * was, once; the answer that comes after finds nothing to decide.  A
 * clock read before the error came (a timer's, behind the packet's
 * turn) has not seen it wait: before, now - since wrapped, and the
 * error was decided at once without its answer.
 */
static void
test_late(void **state)
{
	struct fix	*f = *state;
	struct worker	*w = f->all[0], *owner = f->all[1];
	struct nq_verdict nv;
	size_t		 n;

	connect_udp(f, owner, 0);
	n = send_error(f, w, 0, 96, 96, 400, &nv);
	assert_true(nv.defer);
	worker_answer_late(w, f->now - 1, WORKER_ASK_MS);
	assert_int_equal(ngiven, 0);
	worker_answer_late(w, f->now + WORKER_ASK_MS - 1, WORKER_ASK_MS);
	assert_int_equal(ngiven, 0);
	worker_answer_late(w, f->now + WORKER_ASK_MS, WORKER_ASK_MS);
	check_given(400, n, 0, 0);
	assert_int_equal(w->st.reasons[REASON_ICMP_UNTRACKED], n);
	worker_ask_cb(-1, EV_READ, owner);
	worker_ask_cb(-1, EV_READ, w);
	assert_int_equal(ngiven, n);

	/* the stop path: whatever waits is decided, whatever its age */
	ngiven = 0;
	n = send_error(f, w, 1, 96, 96, 500, &nv);
	assert_true(nv.defer);
	assert_int_equal(w->ndefer, 1);
	worker_answer_late(w, 0, 0);
	check_given(500, n, 0, 0);
	assert_int_equal(w->ndefer, 0);
	/* the question still in the owner's inbox is freed with it */
	assert_non_null(owner->inbox);
}

/*
 * The timer is set for the first wait to end, whatever the others: two
 * errors asked 20 ms apart (the clock given by hand) are each decided
 * at their own deadline, WORKER_ASK_MS after each came, not at the
 * next step of a fixed timer; an adoption's longer wait is found after
 * them.
 */
static void
test_ask_due(void **state)
{
	struct fix	*f = *state;
	struct worker	*w = f->all[0], *owner = f->all[1];
	struct nq_verdict nv;
	uint64_t	 t0 = f->now;
	size_t		 n;

	connect_udp(f, owner, 0);
	assert_int_equal(worker_ask_due(w), 0);
	n = send_error(f, w, 0, 96, 96, 300, &nv);
	assert_true(nv.defer);
	assert_int_equal(worker_ask_due(w), t0 + WORKER_ASK_MS);
	assert_true(evtimer_pending(w->asktimer, NULL));
	f->now = t0 + 20;
	(void)send_error(f, w, 0, 96, 96, 400, &nv);
	assert_true(nv.defer);
	assert_int_equal(worker_ask_due(w), t0 + WORKER_ASK_MS);
	worker_ask_expire(w, t0 + WORKER_ASK_MS - 1);
	assert_int_equal(ngiven, 0);
	worker_ask_expire(w, t0 + WORKER_ASK_MS);
	check_given(300, n, 0, 0);
	assert_int_equal(w->ndefer, 1);
	/* set again, for the second's own end */
	assert_int_equal(worker_ask_due(w), t0 + 20 + WORKER_ASK_MS);
	assert_true(evtimer_pending(w->asktimer, NULL));
	assert_int_equal(w->ask_due, t0 + 20 + WORKER_ASK_MS);
	ngiven = 0;
	worker_ask_expire(w, t0 + 20 + WORKER_ASK_MS);
	check_given(400, n, 0, 0);
	assert_int_equal(w->ndefer, 0);
	assert_int_equal(worker_ask_due(w), 0);
}

/*
 * The same on the real path, the worker's loop and its clock: an error
 * that came 20 ms ago waits 30 ms more, and one that came 45 ms ago,
 * asked after it, 5 ms.  Each is decided not before its deadline, and
 * before a mark, a timer of the same loop set 15 ms after it: libevent
 * runs its expired timers in the order of their times, so a loaded
 * machine that wakes the loop late delays both alike, where a bound on
 * the clock failed (it did once, under valgrind).  A fixed step of
 * WORKER_ASK_MS + 1 from the first question decided both 51 ms on,
 * after both marks.
 */
struct ask_mark {
	struct worker	*w;
	uint32_t	 id;		/* the error it waits for ... */
	size_t		 n;		/* ... of n fragments */
	int		 ran;
	size_t		 decided;	/* of them, when it ran */
	unsigned	 ndefer;	/* errors waiting then */
};

/* The n verdicts from id on given, in their order, as an error nobody
   answered (n), or none of them yet (0). */
static size_t
ndecided(uint32_t id, size_t n)
{
	size_t	 k, j;

	for (k = 0; k < ngiven && given[k].id != id; k++)
		continue;
	if (k == ngiven)
		return (0);
	assert_true(k + n <= ngiven);
	for (j = 0; j < n; j++) {
		assert_int_equal(given[k + j].id, id + j);
		assert_int_equal(given[k + j].accept, 0);
		assert_int_equal(given[k + j].set_mark, 0);
	}
	return (n);
}

/* no assertion here: a failure would jump out of the loop */
static void
ask_mark_cb(evutil_socket_t fd, short events, void *arg)
{
	struct ask_mark	*m = arg;
	size_t		 k;

	(void)fd;
	(void)events;
	m->ran = 1;
	m->ndefer = m->w->ndefer;
	for (k = 0; k < ngiven; k++)
		if (given[k].id >= m->id && given[k].id < m->id + m->n)
			m->decided++;
}

/* m's timer in w's loop, for at (ms, spi_now_ms()): a passed one runs
   after the timers set before it */
static struct event *
ask_mark_at(struct worker *w, struct ask_mark *m, uint64_t at)
{
	struct event	*ev;
	struct timeval	 tv = { 0, 1000 };
	uint64_t	 now = spi_now_ms();

	assert_non_null(ev = evtimer_new(w->base, ask_mark_cb, m));
	if (at > now) {
		tv.tv_sec = (time_t)((at - now) / 1000);
		tv.tv_usec = (suseconds_t)((at - now) % 1000) * 1000;
	}
	assert_int_equal(evtimer_add(ev, &tv), 0);
	return (ev);
}

static void
test_ask_timer(void **state)
{
	struct fix	*f = *state;
	struct worker	*w = f->all[0], *owner = f->all[1];
	struct nq_verdict nv;
	struct ask_mark	 m[2];
	struct event	*ev[2];
	uint64_t	 t0, now;
	unsigned	 turns = 0;
	size_t		 n;

	connect_udp(f, owner, 0);
	t0 = spi_now_ms();
	f->now = t0 - 20;
	n = send_error(f, w, 0, 96, 96, 300, &nv);
	assert_true(nv.defer);
	f->now = t0 - (WORKER_ASK_MS - 5);
	(void)send_error(f, w, 0, 96, 96, 400, &nv);
	assert_true(nv.defer);
	assert_int_equal(w->ndefer, 2);
	memset(m, 0, sizeof(m));
	m[0].w = m[1].w = w;
	m[0].id = 400;
	m[1].id = 300;
	m[0].n = m[1].n = n;
	ev[0] = ask_mark_at(w, &m[0], t0 + 5 + 15);
	ev[1] = ask_mark_at(w, &m[1], t0 + WORKER_ASK_MS - 20 + 15);
	while (!m[1].ran) {
		assert_int_equal(event_base_loop(w->base, EVLOOP_ONCE), 0);
		turns++;
		/* not before its time */
		now = spi_now_ms();
		if (ndecided(400, n) > 0)
			assert_true(now >= t0 + 5);
		if (ndecided(300, n) > 0)
			assert_true(now >= t0 + WORKER_ASK_MS - 20);
		assert_int_equal(ndecided(400, n) + ndecided(300, n), ngiven);
	}
	/* the first at its own end, the other waiting still (or over too,
	   where the loop woke after both) */
	assert_int_equal(m[0].decided, n);
	assert_true(m[0].ndefer <= 1);
	assert_int_equal(m[1].decided, n);
	assert_int_equal(m[1].ndefer, 0);
	assert_int_equal(ndecided(400, n), n);
	assert_int_equal(ndecided(300, n), n);
	/* no busy wakeups: a turn a deadline and a mark, and one more if
	   the loop's coarser clock ran ahead of ours */
	assert_true(turns <= 6);
	assert_false(evtimer_pending(w->asktimer, NULL));
	event_free(ev[0]);
	event_free(ev[1]);
}

/* More held fragments than a waiting slot keeps: decided at once, as
   before, and nobody is asked. */
static void
test_too_many(void **state)
{
	struct fix	*f = *state;
	struct worker	*w = f->all[0], *owner = f->all[1];
	struct nq_verdict nv;
	size_t		 n;

	connect_udp(f, owner, 0);
	n = send_error(f, w, 0, 48, 8, 600, &nv);
	assert_true(n - 1 > WORKER_DEFER_FRAGS);
	assert_false(nv.defer);
	assert_false(nv.accept);
	check_given(600, n - 1, 0, 0);
	assert_null(owner->inbox);
	assert_int_equal(w->ndefer, 0);
	assert_int_equal(w->st.reasons[REASON_ICMP_UNTRACKED], n);
	assert_int_equal(audits, 1);
}

/* Every waiting slot taken: the next error is decided at once, and
   those that wait still get the owner's answer. */
static void
test_no_slot(void **state)
{
	struct fix	*f = *state;
	struct worker	*w = f->all[0], *owner = f->all[1];
	struct nq_verdict nv;
	size_t		 n = 0, k;

	connect_udp(f, owner, 0);
	for (k = 0; k < WORKER_DEFER; k++) {
		n = send_error(f, w, 0, 96, 96, 1000 + 4 * (uint32_t)k, &nv);
		assert_true(nv.defer);
	}
	assert_int_equal(w->ndefer, WORKER_DEFER);
	assert_int_equal(ngiven, 0);
	(void)send_error(f, w, 0, 96, 96, 2000, &nv);
	assert_false(nv.defer);
	assert_false(nv.accept);
	check_given(2000, n - 1, 0, 0);
	ngiven = 0;
	worker_ask_cb(-1, EV_READ, owner);
	worker_ask_cb(-1, EV_READ, w);
	assert_int_equal(w->ndefer, 0);
	assert_int_equal(ngiven, WORKER_DEFER * n);
	for (k = 0; k < ngiven; k++) {
		assert_true(given[k].accept);
		assert_int_equal(given[k].mark, MARK);
	}
	assert_int_equal(w->st.related, WORKER_DEFER * n);
}

/* The room's count (a quarter of queue_maxlen, worker_wait_full()) is
   the errors' too: with room for one, the second error is decided at
   once, and the first still gets the owner's answer. */
static void
test_no_room(void **state)
{
	struct fix	*f = *state;
	struct worker	*w = f->all[0], *owner = f->all[1];
	struct nq_verdict nv;
	size_t		 n;

	f->cfg.queue_maxlen = 2 * WORKER_WAIT_SHARE - 1;
	connect_udp(f, owner, 0);
	n = send_error(f, w, 0, 96, 96, 1000, &nv);
	assert_true(nv.defer);
	assert_int_equal(w->ndefer, 1);
	(void)send_error(f, w, 0, 96, 96, 2000, &nv);
	assert_false(nv.defer);
	assert_false(nv.accept);
	check_given(2000, n - 1, 0, 0);
	assert_int_equal(w->ndefer, 1);
	ngiven = 0;
	worker_ask_cb(-1, EV_READ, owner);
	worker_ask_cb(-1, EV_READ, w);
	assert_int_equal(w->ndefer, 0);
	check_given(1000, n, 1, MARK);
}


/* ---- adoption ([sync]) ------------------------------------------------ */

/*
 * The one connection in all[0]'s table as the peer would send it,
 * applied to its home worker (*home; the other one in *other) of a node
 * with [sync]; its tuple in *k.
 */
static void
synced_home(struct fix *f, struct worker **home, struct worker **other,
    struct ct_tuple *k)
{
	struct sync_rec		 rec[4];
	struct sync_slice	 sl = { rec, 4, 0, 0, 0 };
	struct sync_batch	 b = { rec, 1, 0, 0, 0, 0, 0 };
	unsigned		 h;

	worker_sync_slice(f->all[0], &sl);
	assert_int_equal(sl.n, 1);
	ct_flush(f->all[0]->ct);
	*k = rec[0].s.k;
	h = synclink_home(k, 2);
	*home = f->all[h];
	*other = f->all[!h];
	worker_set_sync(f->all[0], (struct sync *)&fakesync);
	worker_set_sync(f->all[1], (struct sync *)&fakesync);
	to_peer = 0;
	unseen = 0;
	worker_sync_apply(*home, &b);
	assert_int_equal(b.applied, 1);
	assert_int_equal(ct_count((*home)->ct), 1);
	/* home holds one no packet reached yet, and so does the node */
	assert_int_equal((*home)->synced, 1);
	assert_int_equal(unseen, 1);
	assert_int_equal(to_peer, 0);
}

/* The flow of connect_udp(), synced (synced_home()). */
static void
synced_udp(struct fix *f, struct worker **home, struct worker **other,
    struct ct_tuple *k)
{
	/* worker_sync.c reads the real clock */
	f->now = spi_now_ms();
	f->all[0]->sync = f->all[1]->sync = NULL;
	connect_udp(f, f->all[0], 0);
	synced_home(f, home, other, k);
}

/* That flow, and home's record of it in rec[0] (of 4), sliced as the
   peer would have it. */
static void
sliced_udp(struct fix *f, struct worker **home, struct worker **other,
    struct ct_tuple *k, struct sync_rec *rec)
{
	struct sync_slice sl = { rec, 4, 0, 0, 0 };

	synced_udp(f, home, other, k);
	worker_sync_slice(*home, &sl);
	assert_int_equal(sl.n, 1);
}

/* The answer PB_A:53 -> PB_B:port of udp_from()'s flow, id id (or syn:
   a TCP SYN from PB_B:port). */
static void
port_packet(struct fix *f, struct nq_packet *np, uint8_t *b, uint32_t id,
    int syn, uint16_t port)
{
	size_t		 h;

	if (syn) {
		h = pb_ip4(b, IPPROTO_TCP, PB_B4, PB_A4, 0, 1, 0, 20);
		pb_tcp(b + h, port, 53, 1, 0, 0x02, 1000, 0);
		h += 20;
	} else {
		h = pb_ip4(b, IPPROTO_UDP, PB_A4, PB_B4, 0, 1, 0, 12);
		pb_udp(b + h, 53, port, 4);
		memcpy(b + h + 8, "pong", 4);
		h += 12;
	}
	fix_packet(f, np, b, h, id);
}

/* The query PB_B:5353 -> PB_A:53 of synced_udp()'s flow, id id: it
   starts the flow where none is known (rule dns, MARK). */
static void
query_packet(struct fix *f, struct nq_packet *np, uint8_t *b, uint32_t id)
{
	size_t		 h;

	h = pb_ip4(b, IPPROTO_UDP, PB_B4, PB_A4, 0, 1, 0, 12);
	pb_udp(b + h, 5353, 53, 4);
	memcpy(b + h + 8, "ping", 4);
	fix_packet(f, np, b, h + 12, id);
}

/* A packet of synced_udp()'s flow: its answer (or a SYN from PB_B). */
static void
flow_packet(struct fix *f, struct nq_packet *np, uint8_t *b, uint32_t id,
    int syn)
{
	port_packet(f, np, b, id, syn, 5353);
}

/*
 * After a failover the flow's packets reach the other worker: the first
 * asks home, the next waits behind it; home hands the connection over
 * without a word to the peer, and both are judged ESTABLISHED, in order.
 */
static void
test_adopt(void **state)
{
	struct fix	*f = *state;
	struct worker	*home, *w;
	struct ct_tuple	 k;
	struct nq_packet np;
	uint8_t		 b[2][64];

	synced_udp(f, &home, &w, &k);
	flow_packet(f, &np, b[0], 10, 0);
	assert_int_equal(worker_adopt(w, &np, NULL, "", ""), 0);
	flow_packet(f, &np, b[1], 11, 0);
	assert_int_equal(worker_adopt(w, &np, NULL, "", ""), 0);
	/* one question, apart from the errors' slots */
	assert_int_equal(w->ndefer, 0);
	assert_int_equal(w->nadopt, 2);
	assert_int_equal(ngiven, 0);
	worker_ask_cb(-1, EV_READ, home);	/* one question */
	assert_int_equal(ct_count(home->ct), 0);
	assert_int_equal(home->synced, 0);
	assert_int_equal(unseen, 0);
	assert_int_equal(ngiven, 0);
	/* the connection moved: not an end for the peer */
	assert_int_equal(to_peer, 0);
	worker_ask_cb(-1, EV_READ, w);		/* its answer */
	check_given(10, 2, 1, MARK);
	assert_int_equal(w->ndefer, 0);
	assert_int_equal(w->nadopt, 0);
	assert_int_equal(w->st.adopted, 1);
	assert_int_equal(w->st.accepted, 2);
	assert_int_equal(w->st.invalid, 0);
	assert_int_equal(ct_count(w->ct), 1);
	/* nor a start: the peer hears of the reply's SEEN_REPLY only */
	assert_int_equal(to_peer, 1);
	/* from now on its own: no question */
	flow_packet(f, &np, b[0], 12, 0);
	assert_int_equal(worker_adopt(w, &np, NULL, "", ""), -1);
	assert_null(home->inbox);
}

/* Who is not asked: home itself, a SYN, anyone while home holds nothing
   unseen.  (A backup asks for a copy: test_adopt_borrow.) */
static void
test_adopt_not(void **state)
{
	struct fix	*f = *state;
	struct worker	*home, *w;
	struct ct_tuple	 k;
	struct nq_packet np;
	uint8_t		 b[64];

	synced_udp(f, &home, &w, &k);
	flow_packet(f, &np, b, 10, 1);
	assert_int_equal(worker_adopt(w, &np, NULL, "", ""), -1);
	flow_packet(f, &np, b, 10, 0);
	assert_int_equal(worker_adopt(home, &np, NULL, "", ""), -1);
	assert_null(home->inbox);
	assert_int_equal(w->ndefer, 0);
	/* its end unmarks it */
	ct_flush(home->ct);
	assert_int_equal(home->synced, 0);
	assert_int_equal(unseen, 0);
	assert_int_equal(worker_adopt(w, &np, NULL, "", ""), -1);
	assert_null(home->inbox);
}

/*
 * Home no longer holds it: the packet is judged as it would have been
 * (NEW from port 53: dropped).  No answer in time: the same, and the
 * late answer still moves the connection.
 */
static void
test_adopt_none_late(void **state)
{
	struct fix	*f = *state;
	struct worker	*home, *w;
	struct ct_tuple	 k;
	struct nq_packet np;
	uint8_t		 b[64];

	synced_udp(f, &home, &w, &k);
	flow_packet(f, &np, b, 20, 0);
	assert_int_equal(worker_adopt(w, &np, NULL, "", ""), 0);
	/* the errors' wait is not the adoptions' */
	worker_answer_late(w, f->now + WORKER_ASK_MS, WORKER_ASK_MS);
	worker_adopt_late(w, f->now + WORKER_ADOPT_MS - 1, WORKER_ADOPT_MS);
	assert_int_equal(ngiven, 0);
	worker_adopt_late(w, f->now + WORKER_ADOPT_MS, WORKER_ADOPT_MS);
	check_given(20, 1, 0, 0);
	assert_int_equal(w->nadopt, 0);
	assert_int_equal(w->adopt_bytes, 0);
	assert_int_equal(w->st.dropped, 1);
	assert_int_equal(w->st.adopt_missed, 1);
	worker_ask_cb(-1, EV_READ, home);
	worker_ask_cb(-1, EV_READ, w);
	assert_int_equal(ngiven, 1);
	assert_int_equal(w->st.adopted, 1);
	assert_int_equal(ct_count(w->ct), 1);
	assert_int_equal(ct_count(home->ct), 0);
	/* asked again now: home holds nothing unseen, nobody is asked */
	flow_packet(f, &np, b, 21, 0);
	ct_flush(w->ct);
	assert_int_equal(worker_adopt(w, &np, NULL, "", ""), -1);

	/* home holds one, but not this one: decided as it is */
	ngiven = 0;
	synced_udp(f, &home, &w, &k);
	ct_flush(home->ct);
	home->synced = unseen = 1;	/* as if another one waited there */
	flow_packet(f, &np, b, 30, 0);
	assert_int_equal(worker_adopt(w, &np, NULL, "", ""), 0);
	worker_ask_cb(-1, EV_READ, home);
	worker_ask_cb(-1, EV_READ, w);
	check_given(30, 1, 0, 0);
	assert_int_equal(w->st.adopted, 1);
	home->synced = unseen = 0;
}

/*
 * No answer in time, and the flow's query, judged without its
 * connection, starts a fresh entry in w (accepted, MARK) that the peer
 * hears of.  Home's answer then brings the copy the peer synced (of
 * another mark here): live traffic is newer, so w's entry stays as it
 * is and home's copy, given up there, goes.  A bulk is going: home
 * queued its copy as it gave it, so w queues its entry again after it
 * (the moves order the two), or the peer would keep the older.
 */
static void
test_adopt_late_fresh(void **state)
{
	struct fix	*f = *state;
	struct worker	*home, *w;
	struct ct_entry	*e;
	struct ct_tuple	 k;
	struct nq_packet np;
	uint8_t		 b[64];
	unsigned	 m;

	synced_udp(f, &home, &w, &k);
	assert_non_null(e = ct_lookup(home->ct, &k));
	ct_entry_set_decision(e, MARK + 1, ct_entry_rule(e));
	bulking = 1;
	m = moves;
	queued[0] = queued[1] = 0;
	query_packet(f, &np, b, 120);
	assert_int_equal(worker_adopt(w, &np, NULL, "", ""), 0);
	worker_adopt_late(w, f->now + WORKER_ADOPT_MS, WORKER_ADOPT_MS);
	check_given(120, 1, 1, MARK);
	assert_int_equal(w->st.adopt_missed, 1);
	assert_int_equal(ct_count(w->ct), 1);
	assert_int_equal(queued[w->id], 1);		/* its NEW */
	worker_ask_cb(-1, EV_READ, home);
	assert_int_equal(ct_count(home->ct), 0);
	assert_int_equal(queued[home->id], 1);		/* the copy */
	assert_int_equal(moves, m + 1);
	worker_ask_cb(-1, EV_READ, w);
	assert_non_null(e = ct_lookup(w->ct, &k));
	assert_int_equal(ct_entry_mark(e), MARK);
	assert_int_equal(ct_count(w->ct), 1);
	assert_int_equal(w->st.adopted, 0);
	assert_int_equal(w->st.adopt_failed, 0);
	assert_int_equal(queued[w->id], 2);		/* again, after */
	assert_int_equal(deletes, 0);
	/* nothing of the copy lingers unseen: nobody asks any more */
	assert_int_equal(home->synced, 0);
	assert_int_equal(unseen, 0);
	assert_false(worker_adopt_wanted(w));
	bulking = 0;

	/* made backup meanwhile: the copy does not go back home either,
	   to stay there unseen beside w's entry */
	ct_flush(w->ct);
	synced_udp(f, &home, &w, &k);
	query_packet(f, &np, b, 121);
	assert_int_equal(worker_adopt(w, &np, NULL, "", ""), 0);
	worker_adopt_late(w, f->now + WORKER_ADOPT_MS, WORKER_ADOPT_MS);
	worker_ask_cb(-1, EV_READ, home);
	sending = 0;
	worker_ask_cb(-1, EV_READ, w);
	assert_null(home->inbox);
	assert_int_equal(ct_count(home->ct), 0);
	assert_int_equal(home->synced, 0);
	assert_int_equal(ct_count(w->ct), 1);
	sending = 1;
}

static int
first_entry(struct ct_table *t, struct ct_entry *e, void *arg)
{
	(void)t;
	*(struct ct_entry **)arg = e;
	return (1);
}

/*
 * Home hands the connection over but the asker's table refuses it (full,
 * of a connection it may not evict): the connection is lost, and
 * counted so, apart from adopted; the packet is judged without it.  Its
 * source's share does not refuse it: home took it under a share too.
 */
static void
test_adopt_refused(void **state)
{
	struct fix	*f = *state;
	struct worker	*home, *w;
	struct ct_config c;
	struct ct_entry	*e = NULL;
	struct ct_snap	 s;
	struct ct_stats	 cs;
	struct ct_tuple	 k;
	struct nq_packet np;
	uint64_t	 cursor = 0;
	uint8_t		 b[64];

	synced_udp(f, &home, &w, &k);
	/* room for one, held by an assured, active connection of PB_B's;
	   a share of one connection would not refuse it */
	c = f->cfg.ct;
	c.max = 1;
	c.source_share = 1;
	ct_set_config(w->ct, &c);
	other_udp(f, w, 5354);
	(void)ct_walk(w->ct, &cursor, 1, first_entry, &e);
	assert_non_null(e);
	ct_export(w->ct, e, &s);
	s.flags |= CT_SNAP_SEEN_REPLY | CT_SNAP_ASSURED;
	assert_non_null(ct_import(w->ct, &s, f->now, NULL));
	flow_packet(f, &np, b, 40, 0);
	assert_int_equal(worker_adopt(w, &np, NULL, "", ""), 0);
	worker_ask_cb(-1, EV_READ, home);
	assert_int_equal(ct_count(home->ct), 0);
	assert_int_equal(home->synced, 0);
	worker_ask_cb(-1, EV_READ, w);
	check_given(40, 1, 0, 0);
	assert_int_equal(w->st.adopted, 0);
	assert_int_equal(w->st.adopt_failed, 1);
	ct_get_stats(w->ct, &cs);
	assert_int_equal(cs.insert_failed, 1);
	assert_int_equal(cs.share_refused, 0);
	assert_int_equal(ct_count(w->ct), 1);
	assert_int_equal(w->ndefer, 0);
	assert_int_equal(home->st.adopt_failed, 0);
}

/* w adopts the flow of synced_udp() from home: one packet, accepted. */
static void
adopt_udp(struct fix *f, struct worker *home, struct worker *w, uint32_t id)
{
	struct nq_packet np;
	uint8_t		 b[64];
	size_t		 was = ngiven;

	flow_packet(f, &np, b, id, 0);
	assert_int_equal(worker_adopt(w, &np, NULL, "", ""), 0);
	worker_ask_cb(-1, EV_READ, home);
	worker_ask_cb(-1, EV_READ, w);
	assert_int_equal(ngiven, was + 1);
	assert_int_equal(given[was].id, id);
	assert_true(given[was].accept);
	assert_int_equal(ct_count(w->ct), 1);
	assert_int_equal(ct_count(home->ct), 0);
}

/*
 * Made backup after it adopted the flow: the peer's changes go to home
 * from now on, so synclink.c moves w's copy home (SYNCLINK_AWAY, then
 * SYNCLINK_HOME), marked as no packet's yet, without a word to the peer;
 * after a failback w adopts it from there again.  What w holds of its
 * own home stays.
 */
static void
test_backup_home(void **state)
{
	struct fix	*f = *state;
	struct worker	*home, *w;
	struct sync_rec	 rec[8];
	struct sync_slice sl = { rec, 8, 0, 0, 0 };
	struct sync_batch b = { rec, 0, 0, 0, 0, 0, 0 };
	struct ct_tuple	 k;
	unsigned	 peer;

	synced_udp(f, &home, &w, &k);
	adopt_udp(f, home, w, 50);
	assert_int_equal(unseen, 0);
	sending = 0;
	peer = to_peer;
	worker_sync_away(home, &sl);
	assert_int_equal(sl.n, 0);
	assert_int_equal(sl.cursor, 0);
	worker_sync_away(w, &sl);
	assert_int_equal(sl.n, 1);
	assert_int_equal(sl.cursor, 0);
	assert_int_equal(ct_count(w->ct), 0);
	b.n = sl.n;
	worker_sync_home(home, &b);
	assert_int_equal(b.applied, 1);
	assert_int_equal(ct_count(home->ct), 1);
	assert_int_equal(home->synced, 1);
	assert_int_equal(unseen, 1);
	assert_int_equal(to_peer, peer);
	assert_int_equal(w->st.adopt_failed + home->st.adopt_failed, 0);
	/* failback: w asks home again, and the flow goes on */
	sending = 1;
	adopt_udp(f, home, w, 51);
	assert_int_equal(w->st.adopted, 2);
}

/*
 * Home held a copy too, synced before and never reached by a packet
 * (w's took them): w's, the one in use, replaces it, counted once.
 */
static void
test_backup_home_stale(void **state)
{
	struct fix	*f = *state;
	struct worker	*home, *w;
	struct sync_rec	 rec[8], old;
	struct sync_slice sl = { rec, 8, 0, 0, 0 };
	struct sync_batch b = { rec, 0, 0, 0, 0, 0, 0 };
	struct sync_batch ob = { &old, 1, 0, 0, 0, 0, 0 };
	struct ct_tuple	 k;
	struct ct_entry	*e;

	synced_udp(f, &home, &w, &k);
	adopt_udp(f, home, w, 60);
	/* the stale copy, of another mark */
	worker_sync_slice(w, &sl);
	assert_int_equal(sl.n, 1);
	old = rec[0];
	old.s.mark = MARK + 1;
	worker_sync_apply(home, &ob);
	assert_int_equal(ob.applied, 1);
	assert_int_equal(home->synced, 1);
	sending = 0;
	memset(&sl, 0, sizeof(sl));
	sl.rec = rec;
	sl.max = 8;
	worker_sync_away(w, &sl);
	assert_int_equal(sl.n, 1);
	b.n = sl.n;
	worker_sync_home(home, &b);
	assert_int_equal(b.applied, 1);
	assert_int_equal(ct_count(home->ct), 1);
	assert_non_null(e = ct_lookup(home->ct, &k));
	assert_int_equal(ct_entry_mark(e), MARK);
	assert_int_equal(home->synced, 1);
	assert_int_equal(unseen, 1);
}

/*
 * Made backup while its question was out: the answer's connection goes
 * back home instead of into w, and the packets are judged against a
 * copy of it, dropped after them, as a backup's are (test_adopt_borrow):
 * not without it (a TCP segment would be INVALID).  Where the peer's
 * record reached home first, that one stays.
 */
static void
test_backup_answer(void **state)
{
	struct fix	*f = *state;
	struct worker	*home, *w;
	struct ct_tuple	 k;
	struct nq_packet np;
	uint8_t		 b[2][64];
	unsigned	 ends, updates;

	synced_udp(f, &home, &w, &k);
	updates = ev_updates;
	flow_packet(f, &np, b[0], 70, 0);
	assert_int_equal(worker_adopt(w, &np, NULL, "", ""), 0);
	flow_packet(f, &np, b[1], 71, 0);
	assert_int_equal(worker_adopt(w, &np, NULL, "", ""), 0);
	worker_ask_cb(-1, EV_READ, home);
	assert_int_equal(ct_count(home->ct), 0);
	sending = 0;
	ends = ev_ends;
	worker_ask_cb(-1, EV_READ, w);
	check_given(70, 2, 1, MARK);
	assert_int_equal(w->st.invalid, 0);
	assert_int_equal(w->st.dropped, 0);
	assert_int_equal(w->nadopt, 0);
	assert_int_equal(w->adopt_bytes, 0);
	assert_int_equal(ev_ends, ends);
	assert_int_equal(ev_updates, updates);
	assert_int_equal(to_peer, 0);
	assert_int_equal(ct_count(w->ct), 0);
	assert_int_equal(w->st.adopted, 0);
	assert_int_equal(w->ndefer, 0);
	assert_non_null(home->inbox);
	worker_ask_cb(-1, EV_READ, home);
	assert_null(home->inbox);
	assert_int_equal(ct_count(home->ct), 1);
	assert_non_null(ct_lookup(home->ct, &k));
	assert_int_equal(home->synced, 1);
	assert_int_equal(unseen, 1);
}

/* ... where the peer's record (another mark) reached home before the
   connection came back, the peer's stays. */
static void
test_backup_answer_peer(void **state)
{
	struct fix	*f = *state;
	struct worker	*home, *w;
	struct sync_rec	 rec[4];
	struct sync_batch pb = { rec, 1, 0, 0, 0, 0, 0 };
	struct ct_tuple	 k;
	struct nq_packet np;
	uint8_t		 b[64];

	sliced_udp(f, &home, &w, &k, rec);
	rec[0].s.mark = MARK + 1;
	flow_packet(f, &np, b, 74, 0);
	assert_int_equal(worker_adopt(w, &np, NULL, "", ""), 0);
	worker_ask_cb(-1, EV_READ, home);
	assert_int_equal(ct_count(home->ct), 0);
	sending = 0;
	worker_sync_apply(home, &pb);
	assert_int_equal(pb.applied, 1);
	worker_ask_cb(-1, EV_READ, w);
	worker_ask_cb(-1, EV_READ, home);
	assert_int_equal(ct_count(w->ct), 0);
	assert_int_equal(ct_count(home->ct), 1);
	assert_int_equal(ct_entry_mark(ct_lookup(home->ct, &k)), MARK + 1);
	assert_int_equal(home->synced, 1);
	assert_int_equal(unseen, 1);
}

/* The peer's DELETE of k (or of the same flow from sport), applied at
   home. */
static void
peer_delete(struct worker *home, const struct ct_tuple *k, uint16_t sport)
{
	struct sync_rec	 del;
	struct sync_batch b = { &del, 1, 0, 0, 0, 0, 0 };

	memset(&del, 0, sizeof(del));
	del.op = SYNC_OP_DELETE;
	del.s.k = *k;
	if (sport != 0)
		del.s.k.sport = sport;
	worker_sync_apply(home, &b);
	assert_int_equal(b.applied, 1);
}

/* w asks home for the flow of synced_udp(), home hands it over, and w
   is made backup before it reads the answer. */
static void
answer_backup(struct fix *f, struct worker *home, struct worker *w,
    uint32_t id)
{
	struct nq_packet np;
	uint8_t		 b[64];

	flow_packet(f, &np, b, id, 0);
	assert_int_equal(worker_adopt(w, &np, NULL, "", ""), 0);
	worker_ask_cb(-1, EV_READ, home);
	assert_int_equal(ct_count(home->ct), 0);
	sending = 0;
}

/*
 * ... where the peer ended the connection (a RST, a FIN) before the
 * connection came back, its DELETE found nothing at home: it must not
 * come back there, to live on as a copy until its timeout and pass as
 * ESTABLISHED once a failback adopts it.  The packet that waited is
 * judged against it: it came before the end.  A DELETE before home
 * gave it, or of another flow, leaves it; so does the ring, once it
 * went round, since it cannot tell.
 */
static void
test_backup_answer_ended(void **state)
{
	struct fix	*f = *state;
	struct worker	*home, *w;
	struct sync_rec	 rec[4];
	struct sync_batch ub = { rec, 1, 0, 0, 0, 0, 0 };
	struct ct_tuple	 k;
	struct nq_packet np;
	uint8_t		 b[64];
	unsigned	 i;

	synced_udp(f, &home, &w, &k);
	answer_backup(f, home, w, 76);
	peer_delete(home, &k, 0);
	worker_ask_cb(-1, EV_READ, w);
	check_given(76, 1, 1, MARK);
	worker_ask_cb(-1, EV_READ, home);
	assert_null(home->inbox);
	assert_int_equal(ct_count(home->ct), 0);
	assert_int_equal(ct_count(w->ct), 0);
	assert_int_equal(home->synced, 0);
	assert_int_equal(unseen, 0);
	/* a failback: nobody holds it, the next packet is NEW (dropped) */
	sending = 1;
	flow_packet(f, &np, b, 77, 0);
	assert_int_equal(worker_adopt(w, &np, NULL, "", ""), -1);

	/* ended before home gave it (then synced again), or another
	   flow ended: it comes back */
	ngiven = 0;
	sliced_udp(f, &home, &w, &k, rec);
	peer_delete(home, &k, 0);
	assert_int_equal(ct_count(home->ct), 0);
	worker_sync_apply(home, &ub);
	assert_int_equal(ct_count(home->ct), 1);
	answer_backup(f, home, w, 78);
	peer_delete(home, &k, 5354);
	worker_ask_cb(-1, EV_READ, w);
	check_given(78, 1, 1, MARK);
	worker_ask_cb(-1, EV_READ, home);
	assert_non_null(ct_lookup(home->ct, &k));
	assert_int_equal(home->synced, 1);

	/* more DELETEs since than home remembers: it cannot tell */
	ngiven = 0;
	sending = 1;
	ct_flush(home->ct);
	synced_udp(f, &home, &w, &k);
	answer_backup(f, home, w, 79);
	for (i = 0; i < WORKER_GONE; i++)
		peer_delete(home, &k, (uint16_t)(10000 + i));
	worker_ask_cb(-1, EV_READ, w);
	worker_ask_cb(-1, EV_READ, home);
	assert_non_null(ct_lookup(home->ct, &k));
	/* every answer so far home could tell */
	assert_int_equal(home->st.forgot_deletes, 0);
	sending = 1;
	ct_flush(home->ct);
	synced_udp(f, &home, &w, &k);
	answer_backup(f, home, w, 80);
	for (i = 0; i <= WORKER_GONE; i++)
		peer_delete(home, &k, (uint16_t)(10000 + i));
	worker_ask_cb(-1, EV_READ, w);
	worker_ask_cb(-1, EV_READ, home);
	assert_int_equal(ct_count(home->ct), 0);
	assert_int_equal(home->synced, 0);
	/* ... this one it could not: counted */
	assert_int_equal(home->st.forgot_deletes, 1);
	assert_int_equal(w->st.forgot_deletes, 0);
	sending = 1;
}

/*
 * Home remembers the connections of its own that live in another
 * worker (worker_sync_there()).  Full, it grows while the peer's
 * records may still come (a new master's grace, and before; a backup),
 * up to WORKER_THERE_MAX; the one pushed out by one more then is
 * counted, not one remembered again, nor, on a master past its grace,
 * one the old master's records can no longer reach.
 * (Before 35e318d, 1024 slots: the 1025th pushed out one a moment old.)
 */
/* the list's i-th connection: UDP, no address, sport 10000 + i and
   dport 53 (past 50,000 i, dport 54 on) */
static void
there_key(struct ct_tuple *k, unsigned i)
{
	memset(k, 0, sizeof(*k));
	k->family = AF_INET;
	k->proto = IPPROTO_UDP;
	k->dport = htons((uint16_t)(53 + i / 50000));
	k->sport = htons((uint16_t)(10000 + i % 50000));
}

/* home's list takes the i-th, in w, that a packet made */
static void
there_add(struct worker *home, struct worker *w, unsigned i)
{
	struct ct_tuple	 k;

	there_key(&k, i);
	worker_sync_there(home, &k, w, 0);
}

/* ... that w adopted */
static void
there_adopt(struct worker *home, struct worker *w, unsigned i)
{
	struct ct_tuple	 k;

	there_key(&k, i);
	worker_sync_there(home, &k, w, 1);
}

/*
 * A backup's list (sending = 0) full with #0 to #WORKER_THERE - 1, and
 * the peer's word of #5, which frees its slot.  Returns the next #.
 */
static unsigned
there_full_word5(struct worker *home, struct worker *w)
{
	struct ct_tuple	 k;
	unsigned	 i;

	sending = 0;
	for (i = 0; i < WORKER_THERE; i++)
		there_add(home, w, i);
	there_key(&k, 5);
	peer_delete(home, &k, 0);
	return (i);
}

/* home's grace given: it lasts until sec seconds from now */
static void
there_grace(struct fix *f, struct worker *home, unsigned sec)
{
	uint64_t	 until = ct_now(home->ct) + sec * 1000ull;

	f->cfg.sync.grace = (uint16_t)sec;
	worker_sync_grace(home, &until);
}

static void
test_there_forgot(void **state)
{
	struct fix	*f = *state;
	struct worker	*home = f->all[0], *w = f->all[1];
	unsigned	 i;

	f->cfg.sync.flush_ms = 50;		/* the default */
	there_grace(f, home, 10);
	for (i = 0; i <= WORKER_THERE; i++)
		there_add(home, w, i);
	there_add(home, w, 0);			/* known: no slot taken */
	assert_int_equal(home->st.forgot_moved, 0);
	assert_int_equal(home->there->n, WORKER_THERE + 1);
	assert_int_equal(home->there->cap, 2 * WORKER_THERE);
	for (; i < WORKER_THERE_MAX; i++)
		there_add(home, w, i);
	assert_int_equal(home->st.forgot_moved, 0);
	assert_int_equal(home->there->cap, WORKER_THERE_MAX);
	there_add(home, w, i++);
	assert_int_equal(home->st.forgot_moved, 1);
	assert_int_equal(home->there->n, WORKER_THERE_MAX);
	/* the grace is over, and the old master's records with it:
	   forgotten unseen */
	ct_expire(home->ct, home->hold_until);
	there_add(home, w, i++);
	assert_int_equal(home->st.forgot_moved, 1);
	/* before the grace is given, or on a backup, the peer's may come
	   any time: counted */
	mastering = 1;
	there_add(home, w, i++);
	assert_int_equal(home->st.forgot_moved, 2);
	mastering = 0;
	sending = 0;
	there_add(home, w, i++);
	assert_int_equal(home->st.forgot_moved, 3);
	assert_int_equal(home->there->n, WORKER_THERE_MAX);
	sending = 1;
}

/*
 * A backup's list, full but for a slot the peer's word of its
 * connection freed, takes that slot; it does not grow.  (Before, it
 * grew whenever the ring's next slot was taken: to 8192 nearly empty.)
 */
static void
test_there_free_slot(void **state)
{
	struct fix	*f = *state;
	struct worker	*home = f->all[0], *w = f->all[1];
	unsigned	 i;

	i = there_full_word5(home, w);
	assert_int_equal(home->there->n, WORKER_THERE - 1);
	there_add(home, w, i++);
	assert_int_equal(home->there->n, WORKER_THERE);
	assert_int_equal(home->there->cap, WORKER_THERE);
	assert_int_equal(home->st.forgot_moved, 0);
	/* full now: it grows */
	there_add(home, w, i++);
	assert_int_equal(home->there->n, WORKER_THERE + 1);
	assert_int_equal(home->there->cap, 2 * WORKER_THERE);
	assert_int_equal(home->st.forgot_moved, 0);
	sending = 1;
}

/* Does home's list know there_add()'s i-th connection? */
static int
there_knows(struct worker *home, unsigned i)
{
	uint16_t	 sp = htons((uint16_t)(10000 + i % 50000));
	uint16_t	 dp = htons((uint16_t)(53 + i / 50000));
	unsigned	 j;

	for (j = 0; j < home->there->cap; j++)
		if (home->there->e[j].from != NULL &&
		    ((home->there->e[j].k.sport == sp &&
		    home->there->e[j].k.dport == dp) ||
		    (home->there->e[j].k.sport == dp &&
		    home->there->e[j].k.dport == sp)))
			return (1);
	return (0);
}

/*
 * A full list forgets its oldest, whatever slot a word freed.  (Before,
 * the ring's walk to the slot #5 left put #0 to #4 behind its next:
 * the next one forgotten was #6.)
 */
static void
test_there_oldest(void **state)
{
	struct fix	*f = *state;
	struct worker	*home = f->all[0], *w = f->all[1];
	unsigned	 i;

	i = there_full_word5(home, w);
	/* a master, no grace: full, it forgets */
	sending = 1;
	there_add(home, w, i++);
	there_add(home, w, i++);
	assert_int_equal(home->there->n, WORKER_THERE);
	assert_int_equal(home->there->cap, WORKER_THERE);
	assert_false(there_knows(home, 0));
	assert_true(there_knows(home, 1));
	assert_false(there_knows(home, 5));
	assert_true(there_knows(home, 6));
	there_add(home, w, i++);
	assert_false(there_knows(home, 1));
	assert_true(there_knows(home, 2));
	assert_true(there_knows(home, 6));
	assert_true(there_knows(home, i - 1));
	assert_int_equal(home->st.forgot_moved, 0);
}

/*
 * At WORKER_THERE_MAX in a grace, the list forgets the oldest entry a
 * packet made before any adopted connection (adopted first, at the
 * grace's start, whose old master's records come most).
 */
static void
test_there_fresh_first(void **state)
{
	struct fix	*f = *state;
	struct worker	*home = f->all[0], *w = f->all[1];
	unsigned	 i;

	there_grace(f, home, 10);
	for (i = 0; i < 4; i++)
		there_adopt(home, w, i);
	for (; i < WORKER_THERE_MAX; i++)
		there_add(home, w, i);
	assert_int_equal(home->there->n, WORKER_THERE_MAX);
	there_add(home, w, i++);
	there_add(home, w, i++);
	assert_int_equal(home->st.forgot_moved, 2);
	assert_true(there_knows(home, 0));
	assert_true(there_knows(home, 3));
	assert_false(there_knows(home, 4));
	assert_false(there_knows(home, 5));
	assert_true(there_knows(home, 6));
	/* a fresh one adopted since counts as adopted */
	there_adopt(home, w, 6);
	there_add(home, w, i++);
	assert_true(there_knows(home, 6));
	assert_false(there_knows(home, 7));
}

/* With none a packet made, the oldest adopted goes. */
static void
test_there_adopted_oldest(void **state)
{
	struct fix	*f = *state;
	struct worker	*home = f->all[0], *w = f->all[1];
	unsigned	 i;

	for (i = 0; i <= WORKER_THERE; i++)
		there_adopt(home, w, i);
	assert_int_equal(home->there->cap, WORKER_THERE);
	assert_false(there_knows(home, 0));
	assert_true(there_knows(home, 1));
	assert_true(there_knows(home, WORKER_THERE));
}

/* np through w as worker_packet() takes it: asked, or judged now. */
static void
packet_in(struct worker *w, const struct nq_packet *np)
{
	struct nq_verdict nv;

	if (worker_adopt(w, np, NULL, "", "") == 0)
		return;
	memset(&nv, 0, sizeof(nv));
	worker_judge(w, np, NULL, "", "", &nv);
	assert_false(nv.defer);
	(void)nq_verdict(w->nq, np->id, &nv);
}

/*
 * A backup forwards around a switch; a packet off its connection's
 * home that has nothing to ask home about (a SYN; home holds nothing
 * unseen; a connection home said it lacks) makes an entry where it
 * came, which the peer never hears of.  When the peer sends the
 * connection, to home, the two must not live side by side: the
 * packet's would go stale beside the peer's, outlive the peer's end
 * of the connection, and judge its packets after a failback.  The
 * peer's word of it, a change or its end, ends the packet's entry (an
 * end for the events); home's is the connection.  Not so on a master,
 * where the packet's entry is the live one.
 */
static void
test_backup_stray(void **state)
{
	struct fix	*f = *state;
	struct worker	*home, *w;
	struct sync_rec	 rec[4];
	struct sync_batch ub = { rec, 1, 0, 0, 0, 0, 0 };
	struct ct_tuple	 k;
	struct nq_packet np;
	uint8_t		 b[64];
	unsigned	 ends;

	sliced_udp(f, &home, &w, &k, rec);
	ct_flush(home->ct);
	assert_int_equal(unseen, 0);
	sending = 0;
	query_packet(f, &np, b, 130);
	packet_in(w, &np);
	check_given(130, 1, 1, MARK);
	assert_int_equal(ct_count(w->ct), 1);
	worker_ask_cb(-1, EV_READ, home);
	/* the peer sends it: home takes it, the packet's entry goes */
	ends = ev_ends;
	worker_sync_apply(home, &ub);
	assert_int_equal(ub.applied, 1);
	worker_ask_cb(-1, EV_READ, w);
	assert_int_equal(ct_count(w->ct), 0);
	assert_int_equal(ct_count(home->ct), 1);
	assert_int_equal(ev_ends, ends + 2);	/* home's NEW, w's end */
	assert_int_equal(to_peer, 0);

	/* ... or only its end */
	ngiven = 0;
	ct_flush(home->ct);
	query_packet(f, &np, b, 131);
	packet_in(w, &np);
	check_given(131, 1, 1, MARK);
	assert_int_equal(ct_count(w->ct), 1);
	worker_ask_cb(-1, EV_READ, home);
	peer_delete(home, &k, 0);
	worker_ask_cb(-1, EV_READ, w);
	assert_int_equal(ct_count(w->ct), 0);
	assert_int_equal(ct_count(home->ct), 0);

	/* made master before the peer's word came: the packet's entry is
	   the live one and stays, and in the grace home keeps no copy of
	   the old master's beside it, nor sends that one back */
	ngiven = 0;
	query_packet(f, &np, b, 132);
	packet_in(w, &np);
	assert_int_equal(ct_count(w->ct), 1);
	worker_ask_cb(-1, EV_READ, home);
	sending = 1;
	ub.keep = 1;
	ub.applied = 0;
	worker_sync_apply(home, &ub);
	assert_int_equal(ub.kept, 1);
	assert_int_equal(ub.applied, 0);
	assert_int_equal(ct_count(home->ct), 0);
	assert_int_equal(to_peer, 0);
	assert_null(w->inbox);
	assert_int_equal(ct_count(w->ct), 1);
}

/*
 * The old master's copy of synced_udp()'s flow, sliced from home before
 * any other worker adopts it: rec[0] (of 4), with another mark.
 */
static void
old_copy(struct fix *f, struct worker **home, struct worker **w,
    struct ct_tuple *k, struct sync_rec *rec)
{
	sliced_udp(f, home, w, k, rec);
	rec[0].s.mark = MARK + 1;
}

/* That copy, come after w adopted the flow, is kept out: w's stays. */
static void
old_copy_kept(struct worker *home, struct worker *w,
    const struct ct_tuple *k, struct sync_rec *rec)
{
	struct sync_batch kb = { rec, 1, 1, 0, 0, 0, 0 };

	worker_sync_apply(home, &kb);
	assert_int_equal(kb.kept, 1);
	assert_int_equal(kb.applied, 0);
	assert_int_equal(ct_count(home->ct), 0);
	assert_int_equal(ct_entry_mark(ct_lookup(w->ct, k)), MARK);
}

/*
 * A new master's grace takes the old master's news of a connection no
 * packet here reached.  One another worker adopted from home is not
 * such: home no longer holds it, but it must not take the old master's
 * copy of it, older than the adopter's, beside it, and send it back to
 * the peer after the adopter's changes.
 */
static void
test_grace_adopted(void **state)
{
	struct fix	*f = *state;
	struct worker	*home, *w;
	struct sync_rec	 rec[4];
	struct sync_slice sl = { rec, 4, 0, 0, 0 };
	struct ct_tuple	 k;
	unsigned	 peer;

	old_copy(f, &home, &w, &k, rec);
	adopt_udp(f, home, w, 140);
	peer = to_peer;
	old_copy_kept(home, w, &k, rec);
	assert_int_equal(home->synced, 0);
	assert_int_equal(unseen, 0);
	assert_int_equal(to_peer, peer);

	/* made backup: the connection comes home, and the list goes (its memory too) */
	sending = 0;
	worker_sync_away(home, &sl);
	assert_null(home->there);
	sending = 1;
}

/*
 * The same, long into the grace: the old master still forwards the
 * adopted connection and sends its changes and refreshes any time
 * until the grace is over, so home's list, full of connections made
 * since, grows rather than forget it, and keeps its record out.
 * (Before, an entry older than worker_hold_ms() and a flush was
 * forgotten unseen, and the old master's record applied.)
 */
static void
test_grace_adopted_aged(void **state)
{
	struct fix	*f = *state;
	struct worker	*home, *w;
	struct sync_rec	 rec[4];
	struct ct_tuple	 k;
	unsigned	 i;

	old_copy(f, &home, &w, &k, rec);
	f->cfg.sync.flush_ms = 50;		/* the default */
	adopt_udp(f, home, w, 141);
	there_grace(f, home, 10);
	ct_expire(home->ct, ct_now(home->ct) + 200);
	for (i = 0; i < WORKER_THERE; i++)
		there_add(home, w, i);
	old_copy_kept(home, w, &k, rec);
	assert_int_equal(home->there->cap, 2 * WORKER_THERE);
	assert_int_equal(home->st.forgot_moved, 0);
}

/* An echo request PB_B -> PB_A (reply: PB_A -> PB_B), id 77, seq 1. */
static size_t
echo(uint8_t *b, int reply)
{
	size_t		 h;

	h = pb_ip4(b, IPPROTO_ICMP, reply ? PB_A4 : PB_B4,
	    reply ? PB_B4 : PB_A4, 0, 1, 0, 12);
	pb_icmp(b + h, reply ? 0 : 8, 0, 77, 1);
	memcpy(b + h + 8, "ping", 4);
	put16(b + h + 2, pb_csum(0, b + h, 12));
	return (h + 12);
}

/*
 * A ping the peer synced (its request passed there) is adopted like a
 * flow: its reply on the other worker asks home, and is the ping's
 * (ESTABLISHED, MARK), not a reply nobody asked for (INVALID).  An ICMP
 * error asks nobody for itself (worker_ask() asks for what it quotes).
 */
/* The ping of echo(), synced (synced_home()). */
static void
synced_echo(struct fix *f, struct worker **home, struct worker **other)
{
	struct verdict_ctx x = { &f->cfg, NULL, NULL, "", "",
	    PKT_HOOK_FORWARD, 0, 0 };
	struct ct_tuple	 k;
	struct pkt	 p;
	struct verdict	 v;
	uint8_t		 buf[64];

	f->now = spi_now_ms();
	x.ct = f->all[0]->ct;
	x.lt = f->all[0]->lt;
	x.now_ms = f->now;
	verdict_packet(&x, buf, echo(buf, 0), NULL, &p, &v);
	assert_int_equal(v.state, CT_NEW);
	assert_int_equal(v.action, RULE_ACCEPT);
	synced_home(f, home, other, &k);
}

static void
test_adopt_echo(void **state)
{
	struct fix	*f = *state;
	struct worker	*home, *w;
	struct nq_packet np;
	uint8_t		 buf[64], err[8 + 40 + 8 + QPAY];

	synced_echo(f, &home, &w);
	fix_packet(f, &np, buf, echo(buf, 1), 80);
	assert_int_equal(worker_adopt(w, &np, NULL, "", ""), 0);
	worker_ask_cb(-1, EV_READ, home);
	assert_int_equal(ct_count(home->ct), 0);
	worker_ask_cb(-1, EV_READ, w);
	check_given(80, 1, 1, MARK);
	assert_int_equal(w->st.adopted, 1);
	assert_int_equal(w->st.invalid, 0);
	assert_int_equal(ct_count(w->ct), 1);

	/* an error (about the flow of connect_udp()) has no key: it asks
	   nobody, even while home holds one no packet reached */
	np.id = 81;
	np.data = err;
	np.len = unreachable(err + 20, 0);
	np.len = np.origlen = pb_ip4(err, IPPROTO_ICMP, PB_A4, PB_B4, 0, 2, 0,
	    np.len) + np.len;
	home->synced = unseen = 1;
	assert_int_equal(worker_adopt(w, &np, NULL, "", ""), -1);
	assert_null(home->inbox);
	home->synced = unseen = 0;
}

/*
 * Made backup after w adopted the ping: it goes home with the others
 * (test_backup_home), found by its whole key, the echo's id in it, as
 * the peer's records find their home.
 */
static void
test_backup_home_echo(void **state)
{
	struct fix	*f = *state;
	struct worker	*home, *w;
	struct sync_rec	 rec[4];
	struct sync_slice sl = { rec, 4, 0, 0, 0 };
	struct sync_batch b = { rec, 0, 0, 0, 0, 0, 0 };
	struct nq_packet np;
	uint8_t		 buf[64];

	synced_echo(f, &home, &w);
	fix_packet(f, &np, buf, echo(buf, 1), 82);
	assert_int_equal(worker_adopt(w, &np, NULL, "", ""), 0);
	worker_ask_cb(-1, EV_READ, home);
	worker_ask_cb(-1, EV_READ, w);
	assert_int_equal(w->st.adopted, 1);
	assert_int_equal(ct_count(w->ct), 1);
	sending = 0;
	worker_sync_away(w, &sl);
	assert_int_equal(sl.n, 1);
	assert_int_equal(ct_count(w->ct), 0);
	assert_int_equal(synclink_home(&rec[0].s.k, 2), home->id);
	b.n = sl.n;
	worker_sync_home(home, &b);
	assert_int_equal(b.applied, 1);
	assert_int_equal(ct_count(home->ct), 1);
	sending = 1;
}

/*
 * While a bulk goes out, a connection handed over may be in neither of
 * its slices (the taker walked already, home not yet; or home walked
 * after it gave it, the taker before it came): both queue it as a
 * change, the giver first (its moves).  No bulk: neither does.
 */
static void
test_adopt_bulk(void **state)
{
	struct fix	*f = *state;
	struct worker	*home, *w;
	struct ct_tuple	 k;
	unsigned	 m;

	synced_udp(f, &home, &w, &k);
	queued[0] = queued[1] = 0;
	m = moves;
	bulking = 1;
	adopt_udp(f, home, w, 100);
	assert_int_equal(moves, m + 1);
	assert_int_equal(queued[home->id], 1);
	/* its own, and the reply's SEEN_REPLY */
	assert_int_equal(queued[w->id], 2);
	assert_int_equal(deletes, 0);

	bulking = 0;
	ct_flush(w->ct);
	synced_udp(f, &home, &w, &k);
	queued[0] = queued[1] = 0;
	adopt_udp(f, home, w, 101);
	assert_int_equal(queued[home->id], 0);
	assert_int_equal(queued[w->id], 1);
}

/*
 * A packet of the connection home holds unseen (the query of
 * synced_udp()'s flow, or the request of synced_echo()'s ping again,
 * id id) comes to w while the node is still backup and finds no room
 * to wait for home's answer (the cap): nobody is asked, and w makes a
 * fresh entry of its own.  (With room, w would judge it against a copy
 * of home's: test_adopt_borrow.)  Home's loop is far behind, its list
 * of such words full (adopt_untold): home never hears of it (else its
 * copy would end, and the peer's word of the connection end w's entry:
 * test_backup_stray).  The peer, master, sends the connection again,
 * its next change or refresh: beside w's entry.
 */
static void
fresh_beside(struct fix *f, struct worker *home, struct worker *w,
    int icmp, uint32_t id)
{
	struct sync_rec	 rec[4];
	struct sync_slice sl = { rec, 4, 0, 0, 0 };
	struct sync_batch sb = { rec, 1, 0, 0, 0, 0, 0 };
	struct nq_packet np;
	struct nq_verdict nv;
	uint8_t		 b[64];
	size_t		 h;

	if (icmp)
		h = echo(b, 0);
	else {
		h = pb_ip4(b, IPPROTO_UDP, PB_B4, PB_A4, 0, 1, 0, 12);
		pb_udp(b + h, 5353, 53, 4);
		memcpy(b + h + 8, "ping", 4);
		h += 12;
	}
	fix_packet(f, &np, b, h, id);
	sending = 0;
	w->adopt_max = 0;
	assert_int_equal(worker_adopt(w, &np, NULL, "", ""), -1);
	w->adopt_max = WORKER_ADOPT_BYTES;
	assert_null(home->inbox);
	worker_sync_slice(home, &sl);
	assert_int_equal(sl.n, 1);
	memset(&nv, 0, sizeof(nv));
	home->nfresh = WORKER_FRESH;
	worker_judge(w, &np, NULL, "", "", &nv);
	home->nfresh = 0;
	assert_true(nv.accept);
	assert_int_equal(ct_count(w->ct), 1);
	assert_int_equal(w->st.adopt_untold, 1);
	worker_ask_cb(-1, EV_READ, home);
	worker_ask_cb(-1, EV_READ, w);
	assert_int_equal(ct_count(home->ct), 1);
	assert_int_equal(home->synced, 1);
	ct_flush(home->ct);	/* its timeout, say */
	worker_sync_apply(home, &sb);
	assert_int_equal(sb.applied, 1);
	assert_int_equal(ct_count(home->ct), 1);
	assert_int_equal(home->synced, 1);
	assert_null(home->inbox);
	assert_null(w->inbox);
	sending = 1;
}

/*
 * Then made master: w's entry is the live connection, and the one the
 * peer is told of.  Home's unseen copy is the peer's as it sent it:
 * neither its refresh nor its timeout goes out, or the peer would set
 * back or end the live connection until w's next refresh, and a
 * failover meanwhile lose it.  w's own end goes out.
 */
static void
unseen_end(struct fix *f, int icmp)
{
	struct worker	*home, *w;
	struct ct_tuple	 k;
	uint64_t	 t;

	if (icmp)
		synced_echo(f, &home, &w);
	else
		synced_udp(f, &home, &w, &k);
	fresh_beside(f, home, w, icmp, 90);
	f->cfg.sync.refresh = 10;
	to_peer = deletes = 0;
	t = ct_now(home->ct) + 15000;
	ct_expire(home->ct, t);
	assert_int_equal(ct_count(home->ct), 1);
	worker_sync_refresh(home, t);
	assert_int_equal(to_peer, 0);
	ct_expire(home->ct, t + 30000);
	assert_int_equal(ct_count(home->ct), 0);
	assert_int_equal(home->synced, 0);
	assert_int_equal(unseen, 0);
	assert_int_equal(to_peer, 0);
	assert_int_equal(ct_count(w->ct), 1);
	ct_expire(w->ct, t + 30000);
	assert_int_equal(ct_count(w->ct), 0);
	assert_int_equal(deletes, 1);
}

static void
test_unseen_end_udp(void **state)
{
	unseen_end(*state, 0);
}

static void
test_unseen_end_icmp(void **state)
{
	unseen_end(*state, 1);
}

/*
 * On a master, a packet of the flow home holds unseen finds no room to
 * wait for home's answer (the cap; a SYN that reuses a synced tuple is
 * not asked either) and makes a fresh entry in w, which the peer hears
 * of.  Left beside it, home's copy would go out in a bulk too, and the
 * peer keep whichever worker the bulk walked last; and while it stays,
 * every worker asks home about every flow it does not know.  So w tells
 * home, which ends its copy: not a word to the peer, an end for the
 * events (they saw it start).  w's entry goes to the peer again after
 * it, in case a bulk walked home between the two.  A copy a packet
 * reached at home is live too: it stays.  A packet home answered it
 * holds nothing for tells it nothing.
 */
static void
test_fresh_ends_copy(void **state)
{
	struct fix	*f = *state;
	struct worker	*home, *w;
	struct sync_rec	 rec[4];
	struct sync_slice sl;
	struct ct_tuple	 k;
	struct nq_packet np;
	struct nq_verdict nv;
	uint8_t		 b[64];
	unsigned	 ends;

	synced_udp(f, &home, &w, &k);
	queued[0] = queued[1] = 0;
	query_packet(f, &np, b, 130);
	w->adopt_max = 0;
	assert_int_equal(worker_adopt(w, &np, NULL, "", ""), -1);
	w->adopt_max = WORKER_ADOPT_BYTES;
	memset(&nv, 0, sizeof(nv));
	worker_judge(w, &np, NULL, "", "", &nv);
	assert_true(nv.accept);
	assert_int_equal(ct_count(w->ct), 1);
	assert_int_equal(queued[w->id], 1);
	ends = ev_ends;
	worker_ask_cb(-1, EV_READ, home);
	assert_int_equal(ct_count(home->ct), 0);
	assert_int_equal(home->synced, 0);
	assert_int_equal(unseen, 0);
	assert_int_equal(ev_ends, ends + 1);
	assert_int_equal(queued[home->id], 0);
	assert_int_equal(deletes, 0);
	worker_ask_cb(-1, EV_READ, w);
	assert_int_equal(queued[w->id], 2);
	assert_null(home->inbox);
	assert_null(w->inbox);
	/* a bulk sends w's alone */
	memset(&sl, 0, sizeof(sl));
	sl.rec = rec;
	sl.max = 4;
	worker_sync_slice(home, &sl);
	assert_int_equal(sl.n, 0);
	worker_sync_slice(w, &sl);
	assert_int_equal(sl.n, 1);
	assert_int_equal(rec[0].s.mark, MARK);
	/* and nobody asks about what it does not know */
	assert_false(worker_adopt_wanted(w));
	assert_false(worker_adopt_wanted(home));

	/* a packet reached home's copy (another one still waits there) */
	ct_flush(w->ct);
	synced_udp(f, &home, &w, &k);
	flow_packet(f, &np, b, 131, 0);
	memset(&nv, 0, sizeof(nv));
	worker_judge(home, &np, NULL, "", "", &nv);
	assert_true(nv.accept);
	assert_int_equal(home->synced, 0);
	home->synced = unseen = 1;
	query_packet(f, &np, b, 132);
	memset(&nv, 0, sizeof(nv));
	worker_judge(w, &np, NULL, "", "", &nv);
	assert_int_equal(ct_count(w->ct), 1);
	worker_ask_cb(-1, EV_READ, home);
	assert_int_equal(ct_count(home->ct), 1);
	assert_null(w->inbox);

	/* asked, and home holds none: the entry its packet makes needs no
	   word to home */
	ct_flush(w->ct);
	ct_flush(home->ct);
	query_packet(f, &np, b, 133);
	assert_int_equal(worker_adopt(w, &np, NULL, "", ""), 0);
	worker_ask_cb(-1, EV_READ, home);
	worker_ask_cb(-1, EV_READ, w);
	assert_int_equal(ct_count(w->ct), 1);
	assert_null(home->inbox);
	home->synced = unseen = 0;
}

static struct worker *away(struct fix *, uint16_t);

/*
 * After a failover every new connection made off its home tells home
 * while home holds any unseen copy.  A burst of them while home's loop
 * is behind (its list not read): nothing allocated, one wake, at most
 * WORKER_FRESH keys held; the rest counted (adopt_untold), their copies
 * (none here) left to their timeout.  Once home reads the list it takes
 * more, and the copy it holds, no key of the burst's, stays.
 */
static void
test_fresh_cap(void **state)
{
	struct fix	*f = *state;
	struct worker	*home, *w;
	struct worker_stats st;
	struct ct_tuple	 k;
	struct nq_packet np;
	struct nq_verdict nv;
	size_t		 i, told = 0, n;
	uint8_t		 b[64];

	synced_udp(f, &home, &w, &k);
	for (i = 0; told <= WORKER_FRESH + 10; i++) {
		other_udp(f, w, (uint16_t)(20000 + i));
		if (away(f, (uint16_t)(20000 + i)) == w)
			told++;
	}
	assert_null(home->inbox);
	assert_int_equal(home->nfresh, WORKER_FRESH);
	assert_int_equal(w->st.adopt_untold, told - WORKER_FRESH);
	worker_get_stats(w, &st);
	assert_int_equal(st.adopt_untold, told - WORKER_FRESH);
	assert_int_equal(home->st.adopt_untold, 0);
	n = ct_count(w->ct);
	worker_ask_cb(-1, EV_READ, home);
	assert_int_equal(home->nfresh, 0);
	assert_null(w->inbox);
	assert_int_equal(ct_count(w->ct), n);
	assert_int_equal(ct_count(home->ct), 1);
	assert_int_equal(home->synced, 1);
	/* room again: the flow's own query, which finds no room to wait,
	   tells home, which ends its copy */
	query_packet(f, &np, b, 140);
	w->adopt_max = 0;
	assert_int_equal(worker_adopt(w, &np, NULL, "", ""), -1);
	w->adopt_max = WORKER_ADOPT_BYTES;
	memset(&nv, 0, sizeof(nv));
	worker_judge(w, &np, NULL, "", "", &nv);
	assert_true(nv.accept);
	assert_int_equal(home->nfresh, 1);
	worker_ask_cb(-1, EV_READ, home);
	assert_int_equal(ct_count(home->ct), 0);
	assert_int_equal(home->synced, 0);
	assert_int_equal(unseen, 0);
	worker_ask_cb(-1, EV_READ, w);
	assert_int_equal(w->st.adopt_untold, told - WORKER_FRESH);
}

/* A command's delete (nfqspictl conntrack -D) of an unseen copy still
   tells the peer: the operator ends the connection there too.  Its
   DELETE may end there a newer connection of the tuple that another
   worker holds: the whole table follows (test_sync.c's delete_copy()).
   Not after a live connection's end, nor after a copy's timeout. */
static void
test_unseen_by_hand(void **state)
{
	struct fix	*f = *state;
	struct worker	*home, *w;
	struct ct_tuple	 k;

	synced_udp(f, &home, &w, &k);
	home->by_hand = 1;
	assert_int_equal(ct_forget(home->ct, &k, f->now), 0);
	home->by_hand = 0;
	assert_int_equal(deletes, 1);
	assert_int_equal(rebulks, 1);
	assert_int_equal(home->synced, 0);
	assert_int_equal(unseen, 0);
	synced_udp(f, &home, &w, &k);
	assert_int_equal(ct_forget(home->ct, &k, f->now), 0);
	assert_int_equal(deletes, 1);
	assert_int_equal(rebulks, 1);
}

/*
 * A new master a moment after its switch (keep: the old master still
 * forwards until its own): the old master's record of a copy no packet
 * reached here updates it and its end ends it, that of a connection we
 * lack makes a copy; one a packet reached here stays ours, end and
 * all.  What it took goes back to the peer (made backup meanwhile, it
 * may have swept it at the end of our table); no end does.
 */
static void
test_master_takes(void **state)
{
	struct fix	*f = *state;
	struct worker	*home, *w;
	struct ct_tuple	 k;
	struct ct_entry	*e;
	struct sync_rec	 rec[2];
	struct sync_slice sl = { rec, 2, 0, 0, 0 };
	struct sync_batch b;

	synced_udp(f, &home, &w, &k);
	worker_sync_slice(home, &sl);
	assert_int_equal(sl.n, 1);
	rec[1] = rec[0];
	rec[1].op = SYNC_OP_DELETE;
	memset(&b, 0, sizeof(b));
	b.keep = 1;
	b.n = 2;
	b.rec = rec;
	/* the unseen copy: updated (and sent back, as the peer may have
	   swept it meanwhile), then ended (not sent) */
	worker_sync_apply(home, &b);
	assert_int_equal(b.applied, 2);
	assert_int_equal(b.kept, 0);
	assert_int_equal(ct_count(home->ct), 0);
	assert_int_equal(home->synced, 0);
	assert_int_equal(unseen, 0);
	assert_int_equal(to_peer, 1);
	/* one we lack: a copy, no packet's yet */
	memset(&b, 0, sizeof(b));
	b.keep = 1;
	b.n = 1;
	b.rec = rec;
	worker_sync_apply(home, &b);
	assert_int_equal(b.applied, 1);
	assert_non_null(e = ct_lookup(home->ct, &k));
	assert_int_equal(home->synced, 1);
	assert_int_equal(to_peer, 2);
	/* a packet reached it: its record and its end are left alone */
	assert_int_equal(worker_sync_seen(home, e), 1);
	memset(&b, 0, sizeof(b));
	b.keep = 1;
	b.n = 2;
	b.rec = rec;
	worker_sync_apply(home, &b);
	assert_int_equal(b.applied, 0);
	assert_int_equal(b.kept, 2);
	assert_int_equal(ct_count(home->ct), 1);
	assert_int_equal(home->synced, 0);
	/* a backup (no keep) takes the end */
	memset(&b, 0, sizeof(b));
	b.n = 1;
	b.rec = &rec[1];
	worker_sync_apply(home, &b);
	assert_int_equal(ct_count(home->ct), 0);
	assert_int_equal(to_peer, 2);
	assert_int_equal(deletes, 0);
}

/* ---- a failover's burst ------------------------------------------------- */

#define BURST		2500	/* flows that ask at once, both ways */

/*
 * n UDP flows PB_B:port -> PB_A:53 from port 10000 on, as the peer would
 * send them, applied each to its home worker.
 */
static void
synced_many(struct fix *f, size_t n)
{
	struct sync_rec		*rec, *by[2];
	struct sync_slice	 sl;
	struct sync_batch	 b;
	size_t			 i, nb[2] = { 0, 0 };
	unsigned		 h;

	f->now = spi_now_ms();
	f->all[0]->sync = f->all[1]->sync = NULL;
	for (i = 0; i < n; i++)
		other_udp(f, f->all[0], (uint16_t)(10000 + i));
	rec = calloc(n, sizeof(*rec));
	by[0] = calloc(n, sizeof(*rec));
	by[1] = calloc(n, sizeof(*rec));
	assert_true(rec != NULL && by[0] != NULL && by[1] != NULL);
	memset(&sl, 0, sizeof(sl));
	sl.rec = rec;
	sl.max = n;
	worker_sync_slice(f->all[0], &sl);
	assert_int_equal(sl.n, n);
	ct_flush(f->all[0]->ct);
	for (i = 0; i < n; i++) {
		h = synclink_home(&rec[i].s.k, 2);
		by[h][nb[h]++] = rec[i];
	}
	/* both workers are home to some, and ask for the others */
	assert_true(nb[0] > 64 && nb[1] > 64);
	worker_set_sync(f->all[0], (struct sync *)&fakesync);
	worker_set_sync(f->all[1], (struct sync *)&fakesync);
	unseen = 0;
	for (h = 0; h < 2; h++) {
		memset(&b, 0, sizeof(b));
		b.rec = by[h];
		b.n = nb[h];
		worker_sync_apply(f->all[h], &b);
		assert_int_equal(b.applied, nb[h]);
		assert_int_equal(f->all[h]->synced, nb[h]);
	}
	assert_int_equal(unseen, n);
	free(rec);
	free(by[0]);
	free(by[1]);
}

/* The worker that is not the home of the flow from port. */
static struct worker *
away(struct fix *f, uint16_t port)
{
	struct nq_packet np;
	struct ct_tuple	 k;
	uint8_t		 b[64];

	port_packet(f, &np, b, 1, 0, port);
	assert_int_equal(verdict_tuple(np.data, np.len, &k), 0);
	return (f->all[!synclink_home(&k, 2)]);
}

/*
 * A failover's burst: BURST synced flows' packets, two a flow, all on
 * the worker that is not their home, before any answer (more questions
 * than the errors' 64 slots, on both workers): every packet waits and
 * is judged with its connection, in order; nothing missed, every byte
 * given back, as nfqspictl stats shows (adopt_waiting, adopt_bytes).
 */
static void
test_adopt_burst(void **state)
{
	struct fix	*f = *state;
	struct worker_stats st;
	struct nq_packet np;
	uint8_t		 b[64];
	size_t		 i, k, pos[2 * BURST];
	uint16_t	 port;

	/* a queue that all of them may wait in, on one worker even */
	f->cfg.queue_maxlen = 2 * BURST * WORKER_WAIT_SHARE;
	synced_many(f, BURST);
	for (k = 0; k < 2; k++)
		for (i = 0; i < BURST; i++) {
			port = (uint16_t)(10000 + i);
			port_packet(f, &np, b, (uint32_t)(2 * i + k + 1), 0,
			    port);
			assert_int_equal(worker_adopt(away(f, port), &np,
			    NULL, "", ""), 0);
		}
	assert_int_equal(f->all[0]->nadopt + f->all[1]->nadopt, 2 * BURST);
	assert_true(f->all[0]->nadopt > 2 * WORKER_DEFER &&
	    f->all[1]->nadopt > 2 * WORKER_DEFER);
	assert_int_equal(ngiven, 0);
	for (k = 0; k < 2; k++) {
		worker_get_stats(f->all[k], &st);
		assert_int_equal(st.adopt_waiting, f->all[k]->nadopt);
		assert_int_equal(st.adopt_bytes, f->all[k]->adopt_bytes);
	}
	worker_ask_cb(-1, EV_READ, f->all[0]);	/* questions */
	worker_ask_cb(-1, EV_READ, f->all[1]);	/* questions and answers */
	worker_ask_cb(-1, EV_READ, f->all[0]);	/* answers */
	assert_int_equal(ngiven, 2 * BURST);
	for (i = 0; i < ngiven; i++) {
		assert_true(given[i].accept);
		assert_int_equal(given[i].mark, MARK);
		pos[given[i].id - 1] = i;
	}
	for (i = 0; i < BURST; i++)
		assert_true(pos[2 * i] < pos[2 * i + 1]);
	for (k = 0; k < 2; k++) {
		assert_int_equal(f->all[k]->nadopt, 0);
		assert_int_equal(f->all[k]->adopt_bytes, 0);
		assert_int_equal(f->all[k]->st.adopt_missed, 0);
		assert_int_equal(f->all[k]->st.invalid, 0);
		assert_int_equal(f->all[k]->synced, 0);
		worker_get_stats(f->all[k], &st);
		assert_int_equal(st.adopt_waiting, 0);
		assert_int_equal(st.adopt_bytes, 0);
	}
	assert_int_equal(f->all[0]->st.adopted + f->all[1]->st.adopted,
	    BURST);
	assert_int_equal(ct_count(f->all[0]->ct) + ct_count(f->all[1]->ct),
	    BURST);
	assert_int_equal(unseen, 0);
}

/*
 * The cap: a question and its packet that would pass it are judged at
 * once, as is a packet that would join a question out, and counted;
 * those that waited are adopted, and their bytes given back.
 */
static void
test_adopt_cap(void **state)
{
	struct fix	*f = *state;
	struct worker	*w;
	struct nq_packet np;
	uint8_t		 b[64];
	size_t		 i, waited = 0, missed = 0, bytes;
	uint16_t	 port;

	synced_many(f, 200);
	w = away(f, 10000);
	/* what three questions of one packet each take, and less than
	   one more packet */
	port_packet(f, &np, b, 1, 0, 10000);
	assert_int_equal(worker_adopt(w, &np, NULL, "", ""), 0);
	bytes = w->adopt_bytes;
	w->adopt_max = 3 * bytes + 8;
	for (i = 1; i < 200; i++) {
		port = (uint16_t)(10000 + i);
		if (away(f, port) != w)
			continue;
		port_packet(f, &np, b, (uint32_t)(i + 1), 0, port);
		if (worker_adopt(w, &np, NULL, "", "") == 0)
			waited++;
		else
			missed++;
	}
	assert_int_equal(waited, 2);
	assert_true(missed > 10);
	assert_int_equal(w->st.adopt_missed, missed);
	assert_int_equal(w->nadopt, 3);
	/* the first flow's next packet would join it, but finds no room */
	port_packet(f, &np, b, 1000, 0, 10000);
	assert_int_equal(worker_adopt(w, &np, NULL, "", ""), -1);
	assert_int_equal(w->st.adopt_missed, missed + 1);
	worker_ask_cb(-1, EV_READ, f->all[!w->id]);
	worker_ask_cb(-1, EV_READ, w);
	assert_int_equal(w->st.adopted, 3);
	assert_int_equal(w->nadopt, 0);
	assert_int_equal(w->adopt_bytes, 0);
	for (i = 0; i < ngiven; i++)
		assert_true(given[i].accept);
	assert_int_equal(ngiven, 3);
}

/*
 * The room's count: with room for three packets (a quarter of a short
 * queue_maxlen), the fourth is judged at once and counted, however few
 * bytes wait, as is a packet that would join a question out; those that
 * waited are adopted.  (The byte cap alone let a burst of small packets
 * fill the kernel's queue, whose other packets it then dropped.)
 */
static void
test_adopt_room(void **state)
{
	struct fix	*f = *state;
	struct worker	*w;
	struct nq_packet np;
	uint8_t		 b[64];
	size_t		 i, waited = 0, missed = 0;
	uint16_t	 port, last = 0;

	f->cfg.queue_maxlen = 4 * WORKER_WAIT_SHARE - 1;
	synced_many(f, 200);
	w = away(f, 10000);
	for (i = 0; i < 200; i++) {
		port = (uint16_t)(10000 + i);
		if (away(f, port) != w)
			continue;
		port_packet(f, &np, b, (uint32_t)(i + 1), 0, port);
		if (worker_adopt(w, &np, NULL, "", "") == 0)
			waited++;
		else {
			missed++;
			last = port;
		}
	}
	assert_int_equal(waited, 3);
	assert_true(missed > 10);
	assert_int_equal(w->st.adopt_missed, missed);
	assert_int_equal(w->nadopt, 3);
	assert_true(w->adopt_bytes < w->adopt_max / 1000);
	/* the first flow's next packet would join it, but finds no room */
	port_packet(f, &np, b, 1000, 0, 10000);
	assert_int_equal(worker_adopt(w, &np, NULL, "", ""), -1);
	assert_int_equal(w->st.adopt_missed, missed + 1);
	worker_ask_cb(-1, EV_READ, f->all[!w->id]);
	worker_ask_cb(-1, EV_READ, w);
	assert_int_equal(w->st.adopted, 3);
	assert_int_equal(w->nadopt, 0);
	assert_int_equal(ngiven, 3);
	for (i = 0; i < ngiven; i++)
		assert_true(given[i].accept);
	/* a reload's longer queue: room again, for a flow that missed */
	f->cfg.queue_maxlen = 4096;
	port_packet(f, &np, b, 1001, 0, last);
	assert_int_equal(worker_adopt(w, &np, NULL, "", ""), 0);
	assert_int_equal(w->nadopt, 1);
	assert_int_equal(w->st.adopt_missed, missed + 1);
	worker_ask_cb(-1, EV_READ, f->all[!w->id]);
	worker_ask_cb(-1, EV_READ, w);
	assert_int_equal(w->st.adopted, 4);
	assert_int_equal(w->nadopt, 0);
}

/*
 * The timer comes while home's answer is in the inbox already (a busy
 * loop runs it first): the answer is taken, not the packet's time.
 */
static void
test_adopt_timer_inbox(void **state)
{
	struct fix	*f = *state;
	struct worker	*home, *w;
	struct ct_tuple	 k;
	struct nq_packet np;
	uint8_t		 b[64];

	synced_udp(f, &home, &w, &k);
	flow_packet(f, &np, b, 90, 0);
	np.ts_ms = spi_now_ms() - WORKER_ADOPT_MS - 1;
	assert_int_equal(worker_adopt(w, &np, NULL, "", ""), 0);
	worker_ask_cb(-1, EV_READ, home);
	assert_non_null(w->inbox);
	worker_ask_timeout(-1, EV_TIMEOUT, w);
	check_given(90, 1, 1, MARK);
	assert_int_equal(w->st.adopted, 1);
	assert_int_equal(w->st.adopt_missed, 0);
	assert_int_equal(w->nadopt, 0);
}

/*
 * Forwarded packets still reach a node made backup until the others
 * learn of the new master, and reach the new master before it is told
 * so.  One off its connection's home is judged as the one worker of a
 * single-threaded node would judge it: against a copy of home's entry,
 * dropped after; home keeps the connection, and nobody hears of the
 * copy: neither its start and end nor what the packets changed of it
 * (the reply's SEEN_REPLY), which home's entry lacks.  Not INVALID, and
 * nothing adopted.
 */
static void
test_adopt_borrow(void **state)
{
	struct fix	*f = *state;
	struct worker	*home, *w;
	struct ct_tuple	 k;
	struct nq_packet np;
	uint8_t		 b[2][64];
	unsigned	 moved, ends, updates;

	synced_udp(f, &home, &w, &k);
	moved = moves;
	ends = ev_ends;
	updates = ev_updates;
	sending = 0;
	flow_packet(f, &np, b[0], 100, 0);
	assert_int_equal(worker_adopt(w, &np, NULL, "", ""), 0);
	flow_packet(f, &np, b[1], 101, 0);
	assert_int_equal(worker_adopt(w, &np, NULL, "", ""), 0);
	worker_ask_cb(-1, EV_READ, home);	/* a copy: kept there */
	assert_int_equal(ct_count(home->ct), 1);
	assert_int_equal(home->synced, 1);
	assert_int_equal(moves, moved);
	worker_ask_cb(-1, EV_READ, w);
	check_given(100, 2, 1, MARK);
	assert_int_equal(w->st.invalid, 0);
	assert_int_equal(w->st.adopted, 0);
	assert_int_equal(w->st.adopt_missed, 0);
	assert_int_equal(ct_count(w->ct), 0);
	assert_int_equal(w->nadopt, 0);
	assert_int_equal(w->adopt_bytes, 0);
	assert_int_equal(to_peer, 0);
	assert_int_equal(ev_ends, ends);
	assert_int_equal(ev_updates, updates);
	assert_null(w->borrowed);
	assert_int_equal(unseen, 1);
	assert_null(home->inbox);
	assert_null(w->inbox);

	/* home holds nothing of it: judged as it is (NEW from port 53) */
	ngiven = 0;
	ct_flush(home->ct);
	home->synced = unseen = 1;	/* as if another one waited there */
	flow_packet(f, &np, b[0], 110, 0);
	assert_int_equal(worker_adopt(w, &np, NULL, "", ""), 0);
	worker_ask_cb(-1, EV_READ, home);
	worker_ask_cb(-1, EV_READ, w);
	check_given(110, 1, 0, 0);
	assert_int_equal(ct_count(w->ct), 0);
	home->synced = unseen = 0;
	sending = 1;
}

/*
 * Asked as a backup, answered once master: a copy is for a backup's
 * packets only, so w does not borrow it (home would keep the
 * connection, w none).  Its packets wait on, and home is asked again
 * as a master asks: the connection moves to w, whose packets are judged
 * against it, as a master's are (test_adopt).
 */
static void
test_borrow_made_master(void **state)
{
	struct fix	*f = *state;
	struct worker	*home, *w;
	struct ct_tuple	 k;
	struct nq_packet np;
	uint8_t		 b[2][64];

	synced_udp(f, &home, &w, &k);
	sending = 0;
	flow_packet(f, &np, b[0], 105, 0);
	assert_int_equal(worker_adopt(w, &np, NULL, "", ""), 0);
	flow_packet(f, &np, b[1], 106, 0);
	assert_int_equal(worker_adopt(w, &np, NULL, "", ""), 0);
	worker_ask_cb(-1, EV_READ, home);	/* a copy: kept there */
	assert_int_equal(ct_count(home->ct), 1);
	sending = 1;				/* made master */
	worker_ask_cb(-1, EV_READ, w);
	assert_int_equal(ngiven, 0);		/* still waiting */
	assert_int_equal(w->nadopt, 2);
	assert_null(w->borrowed);
	assert_non_null(home->inbox);		/* asked again */
	worker_ask_cb(-1, EV_READ, home);	/* handed over */
	assert_int_equal(ct_count(home->ct), 0);
	assert_int_equal(home->synced, 0);
	worker_ask_cb(-1, EV_READ, w);
	check_given(105, 2, 1, MARK);
	assert_int_equal(w->st.adopted, 1);
	assert_int_equal(w->st.adopt_missed, 0);
	assert_int_equal(w->nadopt, 0);
	assert_int_equal(w->adopt_bytes, 0);
	assert_non_null(ct_lookup(w->ct, &k));
	assert_int_equal(unseen, 0);
	assert_null(home->inbox);
	assert_null(w->inbox);

	/* home holds nothing of it: judged as it is, as a master's */
	ngiven = 0;
	ct_flush(w->ct);
	home->synced = unseen = 1;	/* as if another one waited there */
	sending = 0;
	flow_packet(f, &np, b[0], 107, 0);
	assert_int_equal(worker_adopt(w, &np, NULL, "", ""), 0);
	worker_ask_cb(-1, EV_READ, home);
	sending = 1;
	worker_ask_cb(-1, EV_READ, w);
	check_given(107, 1, 0, 0);
	assert_null(home->inbox);
	assert_int_equal(ct_count(w->ct), 0);
	home->synced = unseen = 0;
}

/* A TCP segment PB_B:40000 -> PB_A:80, id id, in *np. */
static void
tcp_np(struct fix *f, struct nq_packet *np, uint8_t *b, uint32_t id,
    uint32_t seq, uint32_t ack, uint8_t flags)
{
	size_t		 h;

	h = pb_ip4(b, IPPROTO_TCP, PB_B4, PB_A4, 0, 1, 0, 20);
	pb_tcp(b + h, 40000, 80, seq, ack, flags, 65535, 0);
	memset(np, 0, sizeof(*np));
	np->id = id;
	np->data = b;
	np->len = np->origlen = h + 20;
	np->ts_ms = f->now;
	np->hook = PKT_HOOK_FORWARD;
}

static int tcp_seg(struct fix *, struct worker *, int, uint32_t, uint32_t,
    uint8_t, size_t);

/*
 * On a backup, the packets w borrows a copy for end it and start the
 * tuple again: the client's last ACK of the closed connection, then a
 * SYN of a new one, which waited behind it and replaces the copy.  The
 * new entry is a packet's, made off its home as on a backup any is:
 * home, told of it, ends its own copy.  It stays in w (as a single
 * worker's table would hold it), where the peer's word of the tuple
 * ends it; dropped with the copy, the node held neither until the
 * peer's next record.
 */
static void
test_borrow_replaced(void **state)
{
	struct fix	*f = *state;
	struct worker	*home, *w;
	struct sync_rec	 rec[4];
	struct sync_slice sl = { rec, 4, 0, 0, 0 };
	struct sync_batch ub = { rec, 1, 0, 0, 0, 0, 0 };
	struct ct_tuple	 k;
	struct nq_packet np;
	uint8_t		 b[2][64];

	f->now = spi_now_ms();
	f->all[0]->sync = f->all[1]->sync = NULL;
	assert_true(tcp_seg(f, f->all[0], 0, 1000, 0, PKT_TH_SYN, 0));
	assert_true(tcp_seg(f, f->all[0], 1, 5000, 1001,
	    PKT_TH_SYN | PKT_TH_ACK, 0));
	assert_true(tcp_seg(f, f->all[0], 0, 1001, 5001, PKT_TH_ACK, 0));
	assert_true(tcp_seg(f, f->all[0], 0, 1001, 5001,
	    PKT_TH_FIN | PKT_TH_ACK, 0));
	assert_true(tcp_seg(f, f->all[0], 1, 5001, 1002,
	    PKT_TH_FIN | PKT_TH_ACK, 0));
	assert_true(tcp_seg(f, f->all[0], 0, 1002, 5002, PKT_TH_ACK, 0));
	worker_sync_slice(f->all[0], &sl);
	assert_int_equal(sl.n, 1);
	ct_flush(f->all[0]->ct);
	k = rec[0].s.k;
	home = f->all[synclink_home(&k, 2)];
	w = f->all[!home->id];
	worker_set_sync(f->all[0], (struct sync *)&fakesync);
	worker_set_sync(f->all[1], (struct sync *)&fakesync);
	unseen = 0;
	sending = 0;				/* a backup */
	worker_sync_apply(home, &ub);
	assert_int_equal(ub.applied, 1);
	assert_int_equal(home->synced, 1);
	assert_true(ct_entry_closed(ct_lookup(home->ct, &k)));

	tcp_np(f, &np, b[0], 140, 1002, 5002, PKT_TH_ACK);
	assert_int_equal(worker_adopt(w, &np, NULL, "", ""), 0);
	tcp_np(f, &np, b[1], 141, 90000, 0, PKT_TH_SYN);
	assert_int_equal(worker_adopt(w, &np, NULL, "", ""), 0);
	worker_ask_cb(-1, EV_READ, home);	/* a copy */
	worker_ask_cb(-1, EV_READ, w);
	assert_int_equal(ngiven, 2);
	assert_int_equal(given[1].id, 141);
	assert_true(given[1].accept);		/* rule web */
	assert_null(w->borrowed);
	assert_non_null(ct_lookup(w->ct, &k));
	worker_ask_cb(-1, EV_READ, home);	/* told: its copy ends */
	assert_int_equal(ct_count(home->ct), 0);
	assert_int_equal(home->synced, 0);
	worker_ask_cb(-1, EV_READ, w);
	assert_int_equal(ct_count(w->ct), 1);
	assert_int_equal(ct_count(home->ct) + ct_count(w->ct), 1);

	/* the peer's word of the tuple: home's is the connection */
	worker_sync_apply(home, &ub);
	worker_ask_cb(-1, EV_READ, w);
	assert_int_equal(ct_count(w->ct), 0);
	assert_int_equal(ct_count(home->ct), 1);
	sending = 1;
}

/*
 * A stop (worker_stop_fn()) reads what the queue holds, then judges the
 * packets still waiting for an adoption, without it.  One of the same
 * connection read then waits behind them, so that the verdicts keep
 * the order the packets came in; nothing new is asked.
 */
static void
test_adopt_stop(void **state)
{
	struct fix	*f = *state;
	struct worker	*home, *w;
	struct ct_tuple	 k;
	struct nq_packet np;
	struct nq_verdict nv;
	uint8_t		 b[4][64];
	uint32_t	 id;

	synced_udp(f, &home, &w, &k);
	flow_packet(f, &np, b[0], 90, 0);
	assert_int_equal(worker_adopt(w, &np, NULL, "", ""), 0);
	flow_packet(f, &np, b[1], 91, 0);
	assert_int_equal(worker_adopt(w, &np, NULL, "", ""), 0);
	w->stopping = 1;
	/* as worker_packet() does */
	for (id = 92; id <= 93; id++) {
		if (id == 92)
			flow_packet(f, &np, b[2], id, 0);
		else	/* another flow: not asked */
			port_packet(f, &np, b[3], id, 0, 5354);
		if (worker_adopt(w, &np, NULL, "", "") == 0)
			continue;
		memset(&nv, 0, sizeof(nv));
		worker_judge(w, &np, NULL, "", "", &nv);
		assert_false(nv.defer);
		(void)nq_verdict(w->nq, np.id, &nv);
	}
	assert_int_equal(ngiven, 1);
	assert_int_equal(given[0].id, 93);
	worker_adopt_late(w, 0, 0);
	assert_int_equal(ngiven, 4);
	assert_int_equal(given[1].id, 90);
	assert_int_equal(given[2].id, 91);
	assert_int_equal(given[3].id, 92);
	assert_int_equal(w->nadopt, 0);
	assert_int_equal(w->adopt_bytes, 0);
	assert_int_equal(w->st.adopt_missed, 3);
	assert_non_null(home->inbox);	/* the one question */
	w->stopping = 0;
}

/*
 * Home's answer is in the inbox when the stop comes (worker_ask_stop()):
 * it is read first, so the connection it hands over lands in w, and the
 * packet is judged against it, once, not without it.  Nothing else
 * holds the connection: without the read it would be in no table, and
 * missing from the state file written at the stop.
 */
static void
test_stop_reads_answer(void **state)
{
	struct fix	*f = *state;
	struct worker	*home, *w;
	struct ct_tuple	 k;
	struct nq_packet np;
	uint8_t		 b[64];

	synced_udp(f, &home, &w, &k);
	flow_packet(f, &np, b, 95, 0);
	assert_int_equal(worker_adopt(w, &np, NULL, "", ""), 0);
	worker_ask_cb(-1, EV_READ, home);	/* handed over */
	assert_int_equal(ct_count(home->ct), 0);
	w->stopping = home->stopping = 1;
	worker_ask_stop(w);
	check_given(95, 1, 1, MARK);
	assert_int_equal(w->st.adopted, 1);
	assert_int_equal(w->st.adopt_missed, 0);
	assert_int_equal(w->nadopt, 0);
	assert_non_null(ct_lookup(w->ct, &k));
	assert_null(w->inbox);
	worker_ask_stop(home);
	worker_ask_drain(f->all, 2);
	assert_int_equal(ngiven, 1);
	assert_int_equal(ct_count(w->ct) + ct_count(home->ct), 1);
	w->stopping = home->stopping = 0;
}

/*
 * w stops before home reads its question: its packet is judged without
 * the connection at w's stop, and home, still running, hands it over
 * into the inbox of a stopped worker.  Once all stopped, the drain
 * (worker_ask_drain()) takes it into w's table: the connection is in
 * exactly one table, and no packet gets a second verdict.  Made backup
 * meanwhile, the taker gives it back, as its loop would: it lands home.
 */
static void
test_stop_handed_late(void **state)
{
	struct fix	*f = *state;
	struct worker	*home, *w;
	struct ct_tuple	 k;
	struct nq_packet np;
	uint8_t		 b[64];
	int		 backup;

	for (backup = 0; backup <= 1; backup++) {
		ngiven = 0;
		ct_flush(f->all[0]->ct);
		ct_flush(f->all[1]->ct);
		synced_udp(f, &home, &w, &k);
		flow_packet(f, &np, b, 96, 0);
		assert_int_equal(worker_adopt(w, &np, NULL, "", ""), 0);
		w->stopping = 1;
		worker_ask_stop(w);			/* w stopped */
		check_given(96, 1, 0, 0);		/* without it */
		home->stopping = 1;
		worker_ask_stop(home);			/* hands it over */
		assert_int_equal(ct_count(home->ct), 0);
		assert_non_null(w->inbox);
		if (backup)
			sending = 0;
		worker_ask_drain(f->all, 2);
		assert_null(w->inbox);
		assert_null(home->inbox);
		assert_int_equal(ngiven, 1);
		assert_int_equal(w->nadopt, 0);
		if (backup) {
			assert_int_equal(ct_count(w->ct), 0);
			assert_non_null(ct_lookup(home->ct, &k));
		} else {
			assert_int_equal(ct_count(home->ct), 0);
			assert_non_null(ct_lookup(w->ct, &k));
			assert_int_equal(w->st.adopted, 1);
		}
		w->stopping = home->stopping = 0;
		sending = 1;
	}
}

/* ---- a backup's windows ------------------------------------------------ */

/* A TCP segment PB_B:40000 -> PB_A:80 (reply: back) through w, judged:
   1 if it passed. */
static int
tcp_seg(struct fix *f, struct worker *w, int reply, uint32_t seq,
    uint32_t ack, uint8_t flags, size_t len)
{
	struct nq_packet np;
	struct nq_verdict nv;
	uint8_t		 b[20 + 20 + 64];
	size_t		 h;

	h = pb_ip4(b, IPPROTO_TCP, reply ? PB_A4 : PB_B4,
	    reply ? PB_B4 : PB_A4, 0, 1, 0, 20 + len);
	pb_tcp(b + h, reply ? 80 : 40000, reply ? 40000 : 80, seq, ack, flags,
	    65535, 0);
	memset(b + h + 20, 'x', len);
	fix_packet(f, &np, b, h + 20 + len, 1);
	memset(&nv, 0, sizeof(nv));
	worker_judge(w, &np, NULL, "", "", &nv);
	assert_false(nv.defer);
	return (nv.accept);
}

/*
 * A TCP connection set up on the first worker with no link, taken into
 * a record (*rec) and flushed; then both workers on the fake link, with
 * no grace.  Returns the record's home, where the caller applies it.
 */
static struct worker *
tcp_synced(struct fix *f, struct sync_rec *rec)
{
	struct worker		*w = f->all[0];
	struct sync_rec		 r[4];
	struct sync_slice	 sl = { r, 4, 0, 0, 0 };

	/* worker_sync.c reads the real clock */
	f->now = spi_now_ms();
	f->cfg.sync.grace = 0;
	f->all[0]->sync = f->all[1]->sync = NULL;
	assert_true(tcp_seg(f, w, 0, 1000, 0, PKT_TH_SYN, 0));
	assert_true(tcp_seg(f, w, 1, 5000, 1001, PKT_TH_SYN | PKT_TH_ACK, 0));
	assert_true(tcp_seg(f, w, 0, 1001, 5001, PKT_TH_ACK, 10));
	assert_true(tcp_seg(f, w, 1, 5001, 1011, PKT_TH_ACK, 0));
	worker_sync_slice(w, &sl);
	assert_int_equal(sl.n, 1);
	ct_flush(w->ct);
	worker_set_sync(f->all[0], (struct sync *)&fakesync);
	worker_set_sync(f->all[1], (struct sync *)&fakesync);
	*rec = r[0];
	return (f->all[synclink_home(&r[0].s.k, 2)]);
}

/*
 * The peer's record of a TCP connection lags it (its last changes were
 * lost in the failover): each side's first segment, far past the
 * record's window, re-learns it (ct_snap_stale(), on the real path of
 * worker_sync_apply()); then the window holds again.  No grace here:
 * a master after it.
 */
static void
test_synced_tcp_relearn(void **state)
{
	struct fix		*f = *state;
	struct worker		*home;
	struct sync_rec		 rec;
	struct sync_batch	 b = { &rec, 1, 0, 0, 0, 0, 0 };
	struct ct_stats		 cs;
	uint32_t		 far = 100000000, c, s;

	home = tcp_synced(f, &rec);
	worker_sync_apply(home, &b);
	assert_int_equal(b.applied, 1);

	/* both sides moved on far past the record */
	c = 1011 + far;
	s = 5001 + far / 2;
	assert_true(tcp_seg(f, home, 0, c, s, PKT_TH_ACK, 10));
	assert_true(tcp_seg(f, home, 1, s, c + 10, PKT_TH_ACK, 10));
	assert_true(tcp_seg(f, home, 0, c + 10, s + 10, PKT_TH_ACK, 0));
	ct_get_stats(home->ct, &cs);
	assert_int_equal(cs.window_relearn, 1);
	assert_int_equal(home->st.invalid, 0);
	/* checked as usual again */
	assert_false(tcp_seg(f, home, 0, c + 10 + far, s + 10, PKT_TH_ACK,
	    10));
	assert_false(tcp_seg(f, home, 1, s + 10 + far, c + 10, PKT_TH_ACK,
	    10));
	assert_int_equal(home->st.invalid, 2);
	ct_get_stats(home->ct, &cs);
	assert_int_equal(cs.window_relearn, 1);
}

/*
 * A backup that sees the connection's packets while the peer's records
 * come: a record must not make its windows re-learnt (ct_snap_peer()),
 * or each record let one segment per side pass unchecked.  Once the
 * node is master, each side the peer's record taught re-learns at its
 * first segment (the old master's last changes may be lost); a side a
 * packet here taught since is checked as it stands.
 */
static void
test_backup_relearn(void **state)
{
	struct fix		*f = *state;
	struct worker		*home;
	struct sync_rec		 rec, again;
	struct sync_batch	 b = { &again, 1, 0, 0, 0, 0, 0 };
	struct ct_stats		 cs;
	uint32_t		 far = 100000000, c, s;

	home = tcp_synced(f, &rec);
	unseen = 0;
	sending = 0;				/* a backup */
	again = rec;
	worker_sync_apply(home, &b);
	assert_int_equal(b.applied, 1);

	/* far past the record: checked, record after record */
	c = 1011 + far;
	s = 5001 + far / 2;
	assert_false(tcp_seg(f, home, 0, c, s, PKT_TH_ACK, 10));
	assert_false(tcp_seg(f, home, 1, s, c, PKT_TH_ACK, 10));
	again = rec;
	worker_sync_apply(home, &b);
	assert_false(tcp_seg(f, home, 0, c, s, PKT_TH_ACK, 10));
	assert_false(tcp_seg(f, home, 1, s, c, PKT_TH_ACK, 10));
	assert_int_equal(home->st.invalid, 4);
	ct_get_stats(home->ct, &cs);
	assert_int_equal(cs.window_relearn, 0);

	/* made master: each side re-learns once, then is checked */
	sending = 1;
	assert_true(tcp_seg(f, home, 0, c, s, PKT_TH_ACK, 10));
	assert_true(tcp_seg(f, home, 1, s, c + 10, PKT_TH_ACK, 10));
	assert_true(tcp_seg(f, home, 0, c + 10, s + 10, PKT_TH_ACK, 0));
	ct_get_stats(home->ct, &cs);
	assert_int_equal(cs.window_relearn, 1);
	assert_false(tcp_seg(f, home, 0, c + 10 + far, s + 10, PKT_TH_ACK,
	    10));
	assert_false(tcp_seg(f, home, 1, s + 10 + far, c + 10, PKT_TH_ACK,
	    10));
	assert_int_equal(home->st.invalid, 6);

	/* backup again, a record, then a segment of the client's here:
	   once master, only the server's side re-learns */
	sending = 0;
	again = rec;
	worker_sync_apply(home, &b);
	assert_true(tcp_seg(f, home, 0, 1011, 5001, PKT_TH_ACK, 10));
	sending = 1;
	assert_false(tcp_seg(f, home, 0, 1021 + far, 5001, PKT_TH_ACK, 10));
	assert_int_equal(home->st.invalid, 7);
	assert_true(tcp_seg(f, home, 1, s, 1021, PKT_TH_ACK, 10));
	ct_get_stats(home->ct, &cs);
	assert_int_equal(cs.window_relearn, 2);
	assert_int_equal(home->st.invalid, 7);
}

/*
 * A backup's worker judges a packet off its home against a copy of
 * home's entry, dropped after it.  The copy must not re-learn its
 * windows from the packet (ct_snap_stale()): what it learns goes with
 * it, so every packet would take the window up afresh, unchecked, for
 * as long as the node is backup.  It is checked against home's window
 * as it stands (with [sync] grace = 0 here: no grace lets it pass).
 */
static void
test_borrow_window(void **state)
{
	struct fix		*f = *state;
	struct worker		*w, *home;
	struct sync_rec		 rec;
	struct sync_batch	 ub = { &rec, 1, 0, 0, 0, 0, 0 };
	struct nq_packet	 np;
	struct ct_tuple		 k;
	struct ct_stats		 cs;
	uint8_t			 b[3][64];
	uint32_t		 far = 100000000;

	home = tcp_synced(f, &rec);
	k = rec.s.k;
	w = f->all[!home->id];
	unseen = 0;
	sending = 0;				/* a backup */
	worker_sync_apply(home, &ub);
	assert_int_equal(ub.applied, 1);

	/* far past the window, twice: each on a fresh copy */
	tcp_np(f, &np, b[0], 150, 1011 + far, 5001, PKT_TH_ACK);
	assert_int_equal(worker_adopt(w, &np, NULL, "", ""), 0);
	worker_ask_cb(-1, EV_READ, home);
	worker_ask_cb(-1, EV_READ, w);
	tcp_np(f, &np, b[1], 151, 1011 + 2 * far, 5001, PKT_TH_ACK);
	assert_int_equal(worker_adopt(w, &np, NULL, "", ""), 0);
	worker_ask_cb(-1, EV_READ, home);
	worker_ask_cb(-1, EV_READ, w);
	check_given(150, 2, 0, 0);
	assert_int_equal(w->st.invalid, 2);
	ct_get_stats(w->ct, &cs);
	assert_int_equal(cs.window_relearn, 0);
	/* in the window: passes, and home's entry is as it was */
	tcp_np(f, &np, b[2], 152, 1011, 5001, PKT_TH_ACK);
	assert_int_equal(worker_adopt(w, &np, NULL, "", ""), 0);
	worker_ask_cb(-1, EV_READ, home);
	worker_ask_cb(-1, EV_READ, w);
	assert_int_equal(ngiven, 3);
	assert_true(given[2].accept);
	assert_null(w->borrowed);
	assert_null(ct_lookup(w->ct, &k));
	assert_non_null(ct_lookup(home->ct, &k));
	sending = 1;
}

/*
 * A backup forwards only around a switch, and its windows lag the
 * peer's by a flush: a segment of an assured connection that fails only
 * the window check passes there, as in a new master's grace, and is
 * counted; so does one on a node made master whose link has not given
 * the workers that grace yet (synclink_unsettled()); not on a master
 * otherwise, nor with [sync] grace = 0.
 */
static void
test_backup_grace(void **state)
{
	struct fix	*f = *state;
	struct worker	*w = f->all[0];
	struct ct_stats	 cs;
	uint32_t	 far = 100000000;

	f->cfg.sync.grace = 10;
	worker_set_sync(w, (struct sync *)&fakesync);
	assert_true(tcp_seg(f, w, 0, 1000, 0, PKT_TH_SYN, 0));
	assert_true(tcp_seg(f, w, 1, 5000, 1001, PKT_TH_SYN | PKT_TH_ACK, 0));
	assert_true(tcp_seg(f, w, 0, 1001, 5001, PKT_TH_ACK, 0));
	assert_true(tcp_seg(f, w, 0, 1001, 5001, PKT_TH_ACK, 10));
	/* what the master moved since its last flush: out of window */
	assert_false(tcp_seg(f, w, 0, 1011 + far, 5001, PKT_TH_ACK, 10));
	assert_int_equal(w->st.invalid, 1);
	sending = 0;
	assert_true(tcp_seg(f, w, 0, 1011 + far, 5001, PKT_TH_ACK, 10));
	ct_get_stats(w->ct, &cs);
	assert_int_equal(cs.window_grace, 1);
	assert_int_equal(w->st.invalid, 1);
	/* made master, its command still to come */
	sending = 1;
	mastering = 1;
	f->now += 2;
	assert_true(tcp_seg(f, w, 0, 1021 + 2 * far, 5001, PKT_TH_ACK, 10));
	ct_get_stats(w->ct, &cs);
	assert_int_equal(cs.window_grace, 2);
	mastering = 0;
	sending = 0;
	/* no grace: held to the window, as before */
	f->cfg.sync.grace = 0;
	f->now += 2;
	assert_false(tcp_seg(f, w, 0, 1031 + 3 * far, 5001, PKT_TH_ACK, 10));
	assert_int_equal(w->st.invalid, 2);
	sending = 1;
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_related4, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_related6, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_unknown, setup, teardown),
		cmocka_unit_test_setup_teardown(test_late, setup, teardown),
		cmocka_unit_test_setup_teardown(test_too_many, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_ask_due, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ask_timer, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_no_slot, setup, teardown),
		cmocka_unit_test_setup_teardown(test_no_room, setup, teardown),
		cmocka_unit_test_setup_teardown(test_adopt, setup, teardown),
		cmocka_unit_test_setup_teardown(test_adopt_not, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_adopt_none_late, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_adopt_late_fresh, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_adopt_refused, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_backup_home, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_backup_home_stale, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_backup_answer, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_backup_answer_peer,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_backup_answer_ended,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_backup_stray, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_there_forgot, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_there_free_slot, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_there_oldest, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_there_fresh_first, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_there_adopted_oldest,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_grace_adopted_aged, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_grace_adopted, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_adopt_echo, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_backup_home_echo, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_adopt_bulk, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_unseen_end_udp, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_unseen_end_icmp, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_fresh_cap, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_unseen_by_hand, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_master_takes, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_fresh_ends_copy, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_adopt_burst, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_adopt_cap, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_adopt_room, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_adopt_timer_inbox, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_adopt_borrow, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_borrow_made_master, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_borrow_replaced, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_adopt_stop, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_stop_reads_answer, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_stop_handed_late, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_synced_tcp_relearn, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_backup_relearn, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_borrow_window, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_backup_grace, setup,
		    teardown),
	};

	return (cmocka_run_group_tests(tests, NULL, NULL));
}
