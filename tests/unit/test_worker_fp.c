/*
 * test_worker_fp.c - cmocka tests for worker_fp.c, a worker's side of
 * the fast path
 *
 * Copyright (C) 2026 The nfqspid authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * The real worker_fp.c against a real connection table (libspi.a) and
 * real rings (fpq.c); the fast path's thread (fpd.c, which talks to the
 * kernel) is stubbed here: its port is ours to read and write, and its
 * wake-ups are counted.  Packets are built by hand (struct pkt as the
 * parser would fill it) and tracked as verdict_packet() would, with the
 * verdict an accepting policy gives.
 */
#include "autoconf.h"		/* first: _GNU_SOURCE */

#include <sys/socket.h>
#include <arpa/inet.h>
#include <netinet/in.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "worker_int.h"

/* ---- the fast path's thread, stubbed ------------------------------------ */

struct fpd {
	struct fpq_port		 port;
	struct fpq_shared	 sh;
	unsigned		 wakes, kicks, lost;
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
	d->wakes++;
}

void
fpd_kick(struct fpd *d)
{
	d->kicks++;
}

void
fpd_lost_removal(struct fpd *d)
{
	d->lost++;
}

/* ---- a worker ------------------------------------------------------------ */

struct fix {
	struct fpd	 d;
	struct config	 cfg;
	struct worker	 w;
	uint64_t	 rcount[2 * CT_STATE_MAX];
	uint64_t	 now;
	uint64_t	 udp_ms;	/* a UDP flow's timeout before it
					   is a stream (its first 2 s) */
	uint64_t	 stream_ms;	/* ... and once it is */
};

/* The port and the worker ask for lines of their own: so does the
   fixture (cacheline_calloc(); free() frees it). */
_Static_assert(_Alignof(struct fix) <= CACHELINE,
    "cacheline_calloc() aligns the fixture enough");

static void
fix_event(int event, const struct ct_entry *e, void *arg)
{
	worker_fp_event(arg, event, e);
}

static int
setup(void **state)
{
	struct fix	*f = cacheline_calloc(1, sizeof(*f));
	struct ct_config c;

	assert_non_null(f);
	assert_int_equal(fpq_port_init(&f->d.port), 0);
	/* what worker_fp_config() asks of the configuration */
	f->cfg.mode = MODE_ENFORCE;
	f->cfg.policy[CT_ESTABLISHED] = RULE_ACCEPT;
	f->cfg.norule_states = CT_STATE_BIT(CT_ESTABLISHED);
	ct_config_defaults(&c);
	c.max = 1024;
	c.source_share = 0;
	c.tcp_loose = 1;	/* a bare ACK picks a connection up */
	f->udp_ms = (uint64_t)c.timeout[CT_TO_UDP] * 1000;
	f->stream_ms = (uint64_t)c.timeout[CT_TO_UDP_STREAM] * 1000;
	f->w.ct = ct_new(&c);
	assert_non_null(f->w.ct);
	f->w.cfg = &f->cfg;
	f->w.rcount = f->rcount;
	f->w.nrcount = CT_STATE_MAX;
	ct_set_event_cb(f->w.ct, fix_event, &f->w);
	worker_set_fastpath(&f->w, &f->d);
	assert_ptr_equal(f->w.fpd, &f->d);
	assert_true(f->w.fp_ok);
	f->now = 1000;
	*state = f;
	return (0);
}

static int
teardown(void **state)
{
	struct fix	*f = *state;

	ct_free(f->w.ct);
	fpq_port_free(&f->d.port);
	free(f);
	return (0);
}

/* ---- packets -------------------------------------------------------------- */

static struct pkt
udp(uint16_t sport, int reply)
{
	struct pkt	 p;
	uint16_t	 dport = 53;

	memset(&p, 0, sizeof(p));
	p.family = AF_INET;
	p.proto = IPPROTO_UDP;
	p.ttl = 64;
	inet_pton(AF_INET, reply ? "10.0.0.2" : "10.0.0.1", p.src.a8);
	inet_pton(AF_INET, reply ? "10.0.0.1" : "10.0.0.2", p.dst.a8);
	p.sport = reply ? dport : sport;
	p.dport = reply ? sport : dport;
	p.paylen = 100;
	p.iplen = 128;
	p.wscale = PKT_WSCALE_NONE;
	return (p);
}

/* A segment of the TCP connection from sport: data, or flags. */
static struct pkt
tcp(uint16_t sport, int reply, uint8_t flags)
{
	struct pkt	 p = udp(sport, reply);

	p.proto = IPPROTO_TCP;
	p.dport = reply ? sport : 80;
	p.sport = reply ? 80 : sport;
	p.th_flags = flags;
	p.seq = reply ? 900000 : 100000;
	p.ack = reply ? 100000 : 900000;
	p.win = 65535;
	p.paylen = 0;
	p.iplen = 40;
	return (p);
}

/*
 * p through the table, then the fast path, as worker_packet() does it:
 * the verdict an accepting policy gives, the entry with it only when
 * the packet is ESTABLISHED.  Returns the packet's entry.
 */
static struct ct_entry *
pass(struct fix *f, const struct pkt *p, uint8_t action)
{
	struct ct_result res;
	struct verdict	 v;

	f->now += 10;
	ct_track(f->w.ct, p, f->now, &res);
	if (res.state == CT_NEW && res.entry == NULL)
		assert_int_equal(ct_confirm(f->w.ct, p, f->now, 0, 0, &res),
		    0);
	memset(&v, 0, sizeof(v));
	v.action = action;
	v.decided = action;
	v.state = res.state;
	v.reason = res.reason;
	v.entry = res.state == CT_ESTABLISHED ? res.entry : NULL;
	worker_fp_packet(&f->w, p, &v);
	return (res.entry);
}

/* What the worker asked of the thread: items of op in the out ring. */
static unsigned
items(struct fix *f, uint8_t op, uint16_t sport)
{
	struct fpq_item	 it;
	unsigned	 n = 0;

	while (fpq_ring_pop(&f->d.port.out, &it))
		if (it.op == op && (sport == 0 || it.c.sport == sport))
			n++;
	return (n);
}

/* n packets from sport, answered in turn: a UDP stream, or a TCP
   connection picked up and carried (bare ACKs). */
static struct ct_entry *
stream(struct fix *f, uint8_t proto, uint16_t sport, unsigned n)
{
	struct ct_entry	*e = NULL;
	struct pkt	 p;
	unsigned	 i;

	for (i = 0; i < n; i++) {
		p = proto == IPPROTO_TCP ? tcp(sport, i % 2, PKT_TH_ACK) :
		    udp(sport, i % 2);
		e = pass(f, &p, RULE_ACCEPT);
	}
	return (e);
}

/* ---- the tests -------------------------------------------------------------- */

/* A connection goes to the kernel once, after WORKER_FP_PACKETS. */
static void
test_threshold(void **state)
{
	struct fix	*f = *state;
	struct ct_entry	*e;
	struct fpq_item	 it;
	struct pkt	 p;

	e = stream(f, IPPROTO_UDP, 5000, WORKER_FP_PACKETS - 1);
	assert_non_null(e);
	assert_true(ct_offloadable(e));
	assert_true(fpq_ring_empty(&f->d.port.out));
	assert_false(ct_offloaded(f->w.ct, e));
	p = udp(5000, 0);
	e = pass(f, &p, RULE_ACCEPT);
	assert_int_equal(ct_entry_packets(e), WORKER_FP_PACKETS);
	assert_true(ct_offloaded(f->w.ct, e));
	assert_int_equal(f->w.st.fp.offloaded, 1);
	/* the thread is kicked, not woken: it looks once it is idle */
	assert_int_equal(f->d.kicks, 1);
	assert_int_equal(f->d.wakes, 0);
	assert_true(fpq_ring_pop(&f->d.port.out, &it));
	assert_int_equal(it.op, FPQ_ADD);
	assert_int_equal(it.c.family, AF_INET);
	assert_int_equal(it.c.proto, IPPROTO_UDP);
	assert_int_equal(it.c.sport, 5000);
	assert_int_equal(it.c.dport, 53);
	assert_int_equal(it.c.src.a8[3], 1);
	assert_int_equal(it.c.dst.a8[3], 2);
	assert_int_equal(it.epoch, 0);
	/* its further packets (the kernel's race) send nothing more */
	(void)stream(f, IPPROTO_UDP, 5000, 4);
	assert_true(fpq_ring_empty(&f->d.port.out));
	assert_int_equal(f->w.st.fp.offloaded, 1);
	/* TCP too, picked up mid-stream */
	e = stream(f, IPPROTO_TCP, 6000, WORKER_FP_PACKETS);
	assert_true(ct_offloaded(f->w.ct, e));
	assert_int_equal(items(f, FPQ_ADD, 6000), 1);
}

/* Only established connections whose packets the policy accepts. */
static void
test_policy(void **state)
{
	struct fix	*f = *state;
	struct ct_entry	*e;
	struct pkt	 p;
	unsigned	 i;

	/* UDP never answered: not established */
	for (i = 0; i < 2 * WORKER_FP_PACKETS; i++) {
		p = udp(5001, 0);
		e = pass(f, &p, RULE_ACCEPT);
	}
	assert_false(ct_offloadable(e));
	assert_false(ct_offloaded(f->w.ct, e));
	/* accepted by the packet's verdict, not the policy: no */
	e = stream(f, IPPROTO_UDP, 5002, WORKER_FP_PACKETS - 1);
	p = udp(5002, 0);
	(void)pass(f, &p, RULE_DROP);
	assert_false(ct_offloaded(f->w.ct, e));
	/* a TCP connection's SYN, FIN or RST is never a reason to go */
	e = stream(f, IPPROTO_TCP, 6001, WORKER_FP_PACKETS - 1);
	p = tcp(6001, 0, PKT_TH_ACK | PKT_TH_PUSH | PKT_TH_URG);
	(void)pass(f, &p, RULE_ACCEPT);
	assert_true(ct_offloaded(f->w.ct, e));
	assert_int_equal(items(f, FPQ_ADD, 0), 1);

	/* a configuration whose established packets need judging */
	f->cfg.mode = MODE_MONITOR;
	worker_fp_config(&f->w, &f->cfg);
	assert_false(f->w.fp_ok);
	f->cfg.mode = MODE_ENFORCE;
	f->cfg.policy[CT_ESTABLISHED] = RULE_DROP;
	worker_fp_config(&f->w, &f->cfg);
	assert_false(f->w.fp_ok);
	f->cfg.policy[CT_ESTABLISHED] = RULE_ACCEPT;
	f->cfg.norule_states = 0;	/* a rule names established */
	worker_fp_config(&f->w, &f->cfg);
	assert_false(f->w.fp_ok);
	e = stream(f, IPPROTO_UDP, 5003, 2 * WORKER_FP_PACKETS);
	assert_false(ct_offloaded(f->w.ct, e));
	assert_true(fpq_ring_empty(&f->d.port.out));
	f->cfg.norule_states = CT_STATE_BIT(CT_ESTABLISHED);
	worker_fp_config(&f->w, &f->cfg);
	assert_true(f->w.fp_ok);
	p = udp(5003, 0);
	e = pass(f, &p, RULE_ACCEPT);
	assert_true(ct_offloaded(f->w.ct, e));
	/* nor without a fast path at all */
	worker_set_fastpath(&f->w, NULL);
	assert_null(f->w.fpd);
	assert_false(f->w.fp_ok);
}

/* FIN, RST, expiry and flush each take the connection out at once. */
static void
test_removal(void **state)
{
	struct fix	*f = *state;
	struct ct_entry	*e;
	struct pkt	 p;

	e = stream(f, IPPROTO_TCP, 6002, WORKER_FP_PACKETS);
	assert_true(ct_offloaded(f->w.ct, e));
	(void)items(f, 0, 0);
	p = tcp(6002, 0, PKT_TH_FIN | PKT_TH_ACK);
	e = pass(f, &p, RULE_ACCEPT);
	assert_false(ct_offloaded(f->w.ct, e));
	assert_int_equal(items(f, FPQ_DEL, 6002), 1);
	/* a removal wakes the thread: it goes at once */
	assert_int_equal(f->d.wakes, 1);
	assert_int_equal(f->w.st.fp.removed, 1);

	e = stream(f, IPPROTO_TCP, 6003, WORKER_FP_PACKETS);
	assert_true(ct_offloaded(f->w.ct, e));
	p = tcp(6003, 1, PKT_TH_RST | PKT_TH_ACK);
	(void)pass(f, &p, RULE_ACCEPT);
	assert_int_equal(ct_offload_count(f->w.ct), 0);
	assert_int_equal(items(f, FPQ_DEL, 6003), 1);

	/* expiry: the table's DESTROY event */
	e = stream(f, IPPROTO_UDP, 5004, WORKER_FP_PACKETS);
	assert_true(ct_offloaded(f->w.ct, e));
	(void)items(f, 0, 0);
	ct_expire(f->w.ct, f->now + 3600 * 1000);
	assert_int_equal(ct_count(f->w.ct), 0);
	assert_int_equal(items(f, FPQ_DEL, 5004), 1);
	assert_int_equal(ct_offload_count(f->w.ct), 0);

	/* flush: every offloaded one, and only those */
	(void)stream(f, IPPROTO_UDP, 5005, WORKER_FP_PACKETS);
	(void)stream(f, IPPROTO_UDP, 5006, WORKER_FP_PACKETS);
	(void)stream(f, IPPROTO_UDP, 5007, 2);
	assert_int_equal(ct_offload_count(f->w.ct), 2);
	(void)items(f, 0, 0);
	ct_flush(f->w.ct);
	assert_int_equal(items(f, FPQ_DEL, 0), 2);
	assert_int_equal(f->w.st.fp.removed, 5);
	assert_int_equal(f->d.lost, 0);
}

/* A quarter of the ring stays for removals; a removal that still does
   not fit makes the thread empty the kernel table. */
static void
test_ring_full(void **state)
{
	struct fix	*f = *state;
	struct fpq_item	 it;
	struct ct_entry	*e, *in;
	struct pkt	 p;
	unsigned	 wakes;

	in = stream(f, IPPROTO_UDP, 5010, WORKER_FP_PACKETS);
	assert_true(ct_offloaded(f->w.ct, in));
	/* the thread falls behind: the ring fills to the reserve */
	memset(&it, 0, sizeof(it));
	it.op = FPQ_ADD;
	while (fpq_ring_room(&f->d.port.out) > FPQ_RESERVE)
		assert_int_equal(fpq_ring_push(&f->d.port.out, &it), 0);
	wakes = f->d.wakes;
	e = stream(f, IPPROTO_UDP, 5011, WORKER_FP_PACKETS);
	assert_false(ct_offloaded(f->w.ct, e));
	assert_int_equal(f->w.st.fp.ring_full, 1);
	assert_int_equal(f->d.wakes, wakes + 1);
	assert_int_equal(fpq_ring_room(&f->d.port.out), FPQ_RESERVE);
	/* the next packet tries again, and fails again */
	p = udp(5011, 0);
	(void)pass(f, &p, RULE_ACCEPT);
	assert_int_equal(f->w.st.fp.ring_full, 2);
	/* a removal still fits */
	ct_remove(f->w.ct, in);
	assert_int_equal(fpq_ring_room(&f->d.port.out), FPQ_RESERVE - 1);
	assert_int_equal(f->d.lost, 0);
	/* the ring full to the last slot: the removal is not lost, the
	   thread is told to empty the whole kernel table */
	in = stream(f, IPPROTO_UDP, 5012, WORKER_FP_PACKETS);
	assert_false(ct_offloaded(f->w.ct, in));
	assert_int_equal(ct_set_offloaded(f->w.ct, in, 1), 0);
	while (fpq_ring_room(&f->d.port.out) > 0)
		assert_int_equal(fpq_ring_push(&f->d.port.out, &it), 0);
	ct_remove(f->w.ct, in);
	assert_int_equal(f->d.lost, 1);
	/* the thread caught up: offloads go again */
	(void)items(f, 0, 0);
	p = udp(5011, 0);
	e = pass(f, &p, RULE_ACCEPT);
	assert_true(ct_offloaded(f->w.ct, e));
}

/* The kernel's counts (packets and bytes) come back into the connection
   and the policy's row; a new epoch unmarks everything. */
static void
test_credits(void **state)
{
	struct fix		*f = *state;
	struct fpq_credit	 cr;
	struct fpq_item		 it;
	struct ct_entry		*e;
	uint32_t		 before;
	uint64_t		 bytes;
	struct ct_view		 v;
	unsigned		 i = CT_ESTABLISHED;

	/* offloaded in its first 2 s: answered, not a stream yet */
	e = stream(f, IPPROTO_UDP, 5020, WORKER_FP_PACKETS);
	assert_true(ct_offloaded(f->w.ct, e));
	assert_true(fpq_ring_pop(&f->d.port.out, &it));
	ct_view_fill(&v, e, f->now);
	assert_false(v.flags & (CT_VIEW_ASSURED | CT_VIEW_UNREPLIED));
	before = ct_entry_packets(e);
	/* a second before its timeout: the kernel passed more */
	f->now += f->udp_ms - 1000;
	memset(&cr, 0, sizeof(cr));
	cr.c = it.c;
	cr.pkts = 100;
	cr.bytes = 15000;
	assert_int_equal(fpq_ring_push(&f->d.port.back, &cr), 0);
	/* one the table no longer has: counted in the totals alone */
	cr.c.sport = 5999;
	cr.pkts = 1;
	cr.bytes = 60;
	assert_int_equal(fpq_ring_push(&f->d.port.back, &cr), 0);
	/* the thread's sum of connections gone: no connection's */
	memset(&cr.c, 0, sizeof(cr.c));
	cr.pkts = 4;
	cr.bytes = 400;
	assert_int_equal(fpq_ring_push(&f->d.port.back, &cr), 0);
	worker_fp_credits(&f->w, f->now);
	assert_int_equal(ct_entry_packets(e), before + 100);
	/* the fast path keeps bytes: ours, and the kernel's added in */
	assert_int_equal(ct_entry_bytes(f->w.ct, e, &bytes), 0);
	assert_int_equal(bytes, 128 * WORKER_FP_PACKETS + 15000);
	assert_int_equal(f->w.st.fp.packets, 105);
	assert_int_equal(f->w.st.fp.bytes, 15460);
	assert_int_equal(f->rcount[2 * i], 105);
	assert_int_equal(f->rcount[2 * i + 1], 15460);
	assert_true(fpq_ring_empty(&f->d.port.back));
	/* which started its timeout again, as a packet of its own would,
	   and, past the flow's first 2 s, made it a stream as the kernel
	   would have at those packets: ASSURED, the stream's timeout */
	ct_view_fill(&v, e, f->now);
	assert_true(v.flags & CT_VIEW_ASSURED);
	f->now += f->stream_ms - 1;
	ct_expire(f->w.ct, f->now);
	assert_int_equal(ct_count(f->w.ct), 1);

	/* the thread emptied the kernel table, after reading what it
	   passed: counted all the same, though of the epoch before */
	f->d.sh.epoch = 1;
	memset(&cr, 0, sizeof(cr));
	cr.c = it.c;
	cr.pkts = 3;
	cr.bytes = 300;
	cr.epoch = 0;
	assert_int_equal(fpq_ring_push(&f->d.port.back, &cr), 0);
	before = ct_entry_packets(e);
	worker_fp_credits(&f->w, f->now);
	assert_int_equal(f->w.fp_epoch, 1);
	assert_int_equal(ct_offload_count(f->w.ct), 0);
	assert_int_equal(ct_entry_packets(e), before + 3);
	assert_int_equal(f->w.st.fp.packets, 108);
	/* and it goes in again, of the new epoch */
	(void)stream(f, IPPROTO_UDP, 5020, 1);
	assert_true(fpq_ring_pop(&f->d.port.out, &it));
	assert_int_equal(it.op, FPQ_ADD);
	assert_int_equal(it.epoch, 1);
}

/* The kernel's table did not take a connection: no longer counted as
   offloaded, nor offered again; a notice about a connection that ended
   takes the newer one on its tuple back to the queue. */
static void
test_refused(void **state)
{
	struct fix		*f = *state;
	struct fpq_credit	 cr;
	struct fpq_item		 it;
	struct ct_entry		*e;
	struct pkt		 p;
	unsigned		 i;

	e = stream(f, IPPROTO_UDP, 5030, WORKER_FP_PACKETS);
	(void)stream(f, IPPROTO_UDP, 5031, WORKER_FP_PACKETS);
	assert_int_equal(ct_offload_count(f->w.ct), 2);
	assert_true(fpq_ring_pop(&f->d.port.out, &it));
	assert_int_equal(it.c.sport, 5030);
	(void)items(f, 0, 0);
	memset(&cr, 0, sizeof(cr));
	cr.c = it.c;
	cr.refused = 1;
	assert_int_equal(fpq_ring_push(&f->d.port.back, &cr), 0);
	worker_fp_credits(&f->w, f->now);
	assert_false(ct_offloaded(f->w.ct, e));
	assert_true(ct_offload_refused(f->w.ct, e));
	assert_int_equal(ct_offload_count(f->w.ct), 1);
	/* taken out, in case it is a newer connection's tuple */
	assert_int_equal(items(f, FPQ_DEL, 5030), 1);
	/* its packets stay ours: none is offered again */
	for (i = 0; i < 4; i++) {
		p = udp(5030, i % 2);
		(void)pass(f, &p, RULE_ACCEPT);
	}
	assert_int_equal(items(f, FPQ_ADD, 0), 0);
	assert_int_equal(f->w.st.fp.offloaded, 2);
	/* a second notice (the connection is not marked): nothing */
	assert_int_equal(fpq_ring_push(&f->d.port.back, &cr), 0);
	worker_fp_credits(&f->w, f->now);
	assert_int_equal(items(f, 0, 0), 0);
	/* it ends: no removal, and the mark goes with it */
	ct_remove(f->w.ct, e);
	assert_int_equal(items(f, FPQ_DEL, 0), 0);
	/* the same tuple again is a new connection: offered */
	e = stream(f, IPPROTO_UDP, 5030, WORKER_FP_PACKETS);
	assert_true(ct_offloaded(f->w.ct, e));
	assert_false(ct_offload_refused(f->w.ct, e));
	assert_int_equal(items(f, FPQ_ADD, 5030), 1);
	/* the old notice, late: the new one leaves the kernel too */
	assert_int_equal(fpq_ring_push(&f->d.port.back, &cr), 0);
	worker_fp_credits(&f->w, f->now);
	assert_false(ct_offloaded(f->w.ct, e));
	assert_int_equal(items(f, FPQ_DEL, 5030), 1);
	/* a new epoch (the kernel table emptied) forgets refusals */
	f->d.sh.epoch = 1;
	worker_fp_credits(&f->w, f->now);
	assert_false(ct_offload_refused(f->w.ct, e));
	p = udp(5030, 0);
	(void)pass(f, &p, RULE_ACCEPT);
	assert_true(ct_offloaded(f->w.ct, e));
	(void)items(f, 0, 0);
	/* and a notice of the epoch before, read after it, is about a
	   mark the new epoch took off: nothing */
	assert_int_equal(fpq_ring_push(&f->d.port.back, &cr), 0);
	worker_fp_credits(&f->w, f->now);
	assert_true(ct_offloaded(f->w.ct, e));
	assert_false(ct_offload_refused(f->w.ct, e));
	assert_int_equal(items(f, FPQ_DEL, 0), 0);
	/* one of this epoch is told */
	cr.epoch = 1;
	assert_int_equal(fpq_ring_push(&f->d.port.back, &cr), 0);
	worker_fp_credits(&f->w, f->now);
	assert_false(ct_offloaded(f->w.ct, e));
	assert_true(ct_offload_refused(f->w.ct, e));
	assert_int_equal(items(f, FPQ_DEL, 5030), 1);
	assert_int_equal(f->d.lost, 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_threshold, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_policy, setup, teardown),
		cmocka_unit_test_setup_teardown(test_removal, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ring_full, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_credits, setup, teardown),
		cmocka_unit_test_setup_teardown(test_refused, setup, teardown),
	};

	return (cmocka_run_group_tests(tests, NULL, NULL));
}
