/*
 * engine.c - the engine alone: parser, tracker, rules and policy from
 * memory, one core, no kernel
 *
 * Copyright (C) 2026 The nfqspid authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * Every packet goes through the verdict a queue worker asks for, with a
 * limit table fed by the table's events, under the policy of the
 * end-to-end figures (tests/bench/bench.ini: [policy] defaults, 20
 * rules, CIDR lists with exclusions, marks on every accepted connection,
 * audit on for drops).  Packets are built in memory as the queue would
 * copy them (IP and TCP headers with timestamps; the IP length claims the
 * payload), one slot of 128 bytes each, WINDOW at a time (not timed), as
 * the kernel writes a burst into the worker's buffers, then decided
 * (timed): the flows in random order, so that the table does not stay in
 * cache, while the packets themselves are as warm as a fresh read's.
 *
 * 1. Established TCP: N live connections (set up by their handshakes
 *    first), then rounds of one data segment each way per connection,
 *    with correct, advancing sequence and acknowledgement numbers: every
 *    packet must come out ESTABLISHED and accepted, with its mark.  Each
 *    size is run twice: one packet at a time (verdict_packet() without
 *    a hint: what the worker does with a read of one packet) and in
 *    batches as the worker decides a read of several (batch() below);
 *    the targets are judged on the batches, the worker's path under
 *    load.
 * 2. New connections: batches of SYN, SYN/ACK, ACK, each connection
 *    accepted by a rule (and its rate and conn_limit asked, where it has
 *    them), then the clock jumps past every timeout and ct_expire()
 *    removes them all.
 * 3. Rule decisions (rule_figures() below): 20 rules and -r rules
 *    (10,000 by default), by the compiled index and by a walk.
 * 4. A reload of -r rules over -R connections (10^6; 0: none), at once
 *    and as the worker sweeps (reload_figures() below).
 *
 *   engine [-c file.ini] [-f flows,flows,...] [-p packets] [-B batch]
 *          [-b conns] [-n batches] [-r rules] [-R conns]
 */
#include <sys/mman.h>
#include <sys/socket.h>
#include <netinet/in.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "ct.h"
#include "limit.h"
#include "nfqspid.h"		/* NQ_BATCH */
#include "pkt.h"
#include "verdict.h"
#include "../pktbuild.h"

#ifndef TEST_SRCDIR
#define TEST_SRCDIR "."
#endif

#define SLOT		128	/* bytes per prebuilt packet */
#define CLIENT_MSS	1448	/* client bytes per segment */
#define SERVER_SEG	512	/* server bytes per segment */
#define MS_PER_KPKT	1	/* the clock: 1 ms per 1000 packets */
#define TICK_MS		200	/* ct_expire() and limit_expire(), as the
				   worker's tick */
#define MAX_SIZES	8
#define BATCH_MAX	1024	/* packets in a batch, at most */
#define WINDOW		4096	/* packets written before they are read */
/* what worker.c gets at most per read (nq.c) */
#define ENGINE_BATCH	NQ_BATCH

struct flow {
	uint8_t		 v6;
	union pkt_addr	 src, dst;
	uint16_t	 sport, dport;
	uint32_t	 cisn, sisn;	/* initial sequence numbers */
	uint32_t	 mark;		/* the mark its rule gives */
};

struct bench {
	const struct config	*cfg;
	struct ct_table		*ct;
	struct limit_table	*lt;
	uint64_t		 now;	/* ms */
	uint64_t		 npkt;	/* for the clock */
	uint64_t		 tick;
	uint64_t		 bad;	/* unexpected verdicts */
};

/*
 * The thread's CPU time: on a shared machine, time slices given to other
 * processes do not count against the engine (their cache pollution
 * still does).
 */
static double
secs(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return ((double)ts.tv_sec + (double)ts.tv_nsec / 1e9);
}

static uint64_t
rng(uint64_t *s)
{
	/* splitmix64 */
	uint64_t	 z = (*s += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return (z ^ (z >> 31));
}

static void
v4(union pkt_addr *a, uint32_t host)
{
	memset(a, 0, sizeof(*a));
	put32(a->a8, host);
}

static void
v6(union pkt_addr *a, const char *pfx48, uint32_t host)
{
	/* 2001:db8:X::host */
	static const uint8_t	 base[6] = { 0x20, 0x01, 0x0d, 0xb8 };

	memset(a, 0, sizeof(*a));
	memcpy(a->a8, base, 4);
	a->a8[4] = (uint8_t)pfx48[0];
	a->a8[5] = (uint8_t)pfx48[1];
	put32(a->a8 + 12, host);
}

/*
 * Flow i of a mix of services and clients that tests/bench/bench.ini
 * lets in by different rules, at different depths of its list: http
 * (the last rule: every other one is asked first), iperf-tcp, db,
 * dns-tcp, and ssh-admin over IPv6.
 */
static void
flow_make(struct flow *f, uint32_t i, uint64_t *seed)
{
	uint32_t	 k = i % 100;

	memset(f, 0, sizeof(*f));
	f->cisn = (uint32_t)rng(seed);
	f->sisn = (uint32_t)rng(seed);
	v4(&f->dst, 0x0a4d0002u);				/* 10.77.0.2 */
	if (k < 70) {
		v4(&f->src, 0xac100000u | (i & 0xfffff));	/* 172.16/12 */
		f->sport = (uint16_t)(10000 + (i >> 20));
		f->dport = k < 50 ? 443 : k < 60 ? 80 : 8080;
		f->mark = 0x12;
	} else if (k < 80) {
		f->v6 = 1;
		v6(&f->src, "\x00\x0a", i);			/* 2001:db8:a::/48 */
		f->sport = 40000;
		v6(&f->dst, "\x00\x10", 0x10);
		f->dport = 22;
		f->mark = 0x1;
	} else if (k < 90) {
		/* 10.40.16.0/20: not the excluded 10.40.1.0/24 */
		v4(&f->src, 0x0a281000u | (i & 0xfff));
		f->sport = (uint16_t)(20000 + (i >> 12) % 40000);
		f->dport = 5432;
		f->mark = 0x6;
	} else if (k < 95) {
		/* 10.77.0.1 - .250: not the excluded .254 */
		v4(&f->src, 0x0a4d0001u + i % 250);
		f->sport = (uint16_t)(1024 + i / 250);
		f->dport = 5201;
		f->mark = 0x10;
	} else {
		v4(&f->src, 0x0a050000u | (i & 0xffff));	/* 10.5/16 */
		f->sport = (uint16_t)(30000 + (i >> 16));
		f->dport = 53;
		f->mark = 0x3;
	}
}

/*
 * One TCP segment of f into b (SLOT bytes), from the client (dir 0) or
 * the server.  Returns the bytes the queue would copy: the headers; the
 * IP length claims paylen more.
 */
static size_t
seg_make(uint8_t *b, const struct flow *f, int dir, uint8_t flags,
    uint32_t seq, uint32_t ack, uint16_t win, uint32_t paylen, uint32_t ts)
{
	const union pkt_addr	*s = dir ? &f->dst : &f->src;
	const union pkt_addr	*d = dir ? &f->src : &f->dst;
	uint8_t			*th, *o;
	size_t			 iphl = f->v6 ? 40 : 20, thl;

	memset(b, 0, SLOT);
	th = b + iphl;
	o = th + 20;
	thl = flags & PKT_TH_SYN ? 40 : 32;
	if (f->v6)
		pb_ip6(b, IPPROTO_TCP, s->a8, d->a8, 64, thl + paylen);
	else				/* DF */
		pb_ip4(b, IPPROTO_TCP, s->a8, d->a8, 0, 0, 0x4000,
		    thl + paylen);
	pb_tcp(th, dir ? f->dport : f->sport, dir ? f->sport : f->dport, seq,
	    ack, flags, win, thl - 20);
	if (flags & PKT_TH_SYN) {
		/* MSS, SACK permitted, timestamps, NOP, window scale 7 */
		o[0] = 2; o[1] = 4; put16(o + 2, CLIENT_MSS);
		o[4] = 4; o[5] = 2;
		o[6] = 8; o[7] = 10; put32(o + 8, ts); put32(o + 12, 0);
		o[16] = 1;
		o[17] = 3; o[18] = 3; o[19] = 7;
	} else {
		o[0] = 1; o[1] = 1;
		o[2] = 8; o[3] = 10; put32(o + 4, ts); put32(o + 8, ts - 1);
	}
	return (iphl + thl);
}

/*
 * The packet stream: on huge pages where the kernel has them, as the
 * buffer a queue hands its packets in is small and hot, not a walk
 * through the TLB.
 */
static uint8_t *
stream_new(size_t len)
{
	void	*p;

	if (posix_memalign(&p, (size_t)2 << 20, len) != 0)
		return (NULL);
#ifdef MADV_HUGEPAGE
	(void)madvise(p, len, MADV_HUGEPAGE);
#endif
	return (p);
}

/* The worker's tick, on the bench's clock. */
static void
clock_step(struct bench *b, uint64_t n)
{
	b->npkt += n;
	b->now = 1000000 + b->npkt * MS_PER_KPKT / 1000;
	if (b->now - b->tick >= TICK_MS) {
		b->tick = b->now;
		ct_expire(b->ct, b->now);
		limit_expire(b->lt, b->now);
	}
}

static void
check(struct bench *b, const struct verdict *v, int state, uint32_t mark)
{
	if (v->action != RULE_ACCEPT || v->state != state ||
	    (mark != 0 && (!v->set_mark || v->mark != mark))) {
		if (b->bad++ < 5) {
			char	 line[256];

			verdict_format(v, line, sizeof(line));
			fprintf(stderr, "engine: unexpected: %s (wanted "
			    "accept state=%d mark=0x%x)\n", line, state, mark);
		}
	}
}

/* One packet as it comes, queued from INPUT as on a host. */
static void
one(struct bench *b, const uint8_t *buf, size_t len, int state,
    uint32_t mark)
{
	/* csum 0, as the worker asks: the kernel verified the checksums
	   (these packets carry none) */
	struct verdict_ctx x = { b->cfg, b->ct, b->lt, "eth0", "",
	    PKT_HOOK_INPUT, 0, b->now };
	struct pkt	 p;
	struct verdict	 v;

	verdict_packet(&x, buf, len, NULL, &p, &v);
	check(b, &v, state, mark);
	clock_step(b, 1);
}

/* The three packets that open f (built in hs, 3 slots). */
static void
handshake_make(uint8_t *hs, size_t *len, const struct flow *f)
{
	len[0] = seg_make(hs, f, 0, PKT_TH_SYN, f->cisn, 0, 64240, 0, 1);
	len[1] = seg_make(hs + SLOT, f, 1, PKT_TH_SYN | PKT_TH_ACK, f->sisn,
	    f->cisn + 1, 65160, 0, 1);
	len[2] = seg_make(hs + 2 * SLOT, f, 0, PKT_TH_ACK, f->cisn + 1,
	    f->sisn + 1, 502, 0, 2);
}

static void
handshake_run(struct bench *b, const uint8_t *hs, const size_t *len,
    const struct flow *f)
{
	one(b, hs, len[0], CT_NEW, f->mark);
	one(b, hs + SLOT, len[1], CT_ESTABLISHED, f->mark);
	one(b, hs + 2 * SLOT, len[2], CT_ESTABLISHED, f->mark);
}

static int
bench_open(struct bench *b, const struct config *cfg, uint32_t max)
{
	struct ct_config	 c = cfg->ct;

	memset(b, 0, sizeof(*b));
	b->cfg = cfg;
	if (c.max < max)
		c.max = max;
	/* a few client addresses hold every flow: no source's share */
	c.source_share = 0;
	if ((b->ct = ct_new(&c)) == NULL ||
	    (b->lt = limit_new(LIMIT_SOURCES_DEFAULT)) == NULL) {
		perror("engine: table");
		return (-1);
	}
	/* the worker's DESTROY -> conn_limit path */
	ct_set_event_cb(b->ct, limit_ct_event, b->lt);
	b->now = b->tick = 1000000;
	return (0);
}

static void
bench_close(struct bench *b)
{
	ct_free(b->ct);
	limit_free(b->lt);
}

static void
shuffle(uint32_t *a, uint32_t n, uint64_t *seed)
{
	uint32_t	 i, j, t;

	for (i = 0; i < n; i++)
		a[i] = i;
	for (i = n; i > 1; i--) {
		j = (uint32_t)(rng(seed) % i);
		t = a[i - 1];
		a[i - 1] = a[j];
		a[j] = t;
	}
}

/* What one() checks of a packet in the stream. */
struct meta {
	uint32_t	 mark;
	uint16_t	 len;
	uint8_t		 state;
};

/* A batch of the stream being decided, for verdict_batch()'s callbacks. */
struct batch {
	struct bench		*b;
	const uint8_t		*st;	/* its first packet */
	const struct meta	*m;	/* ... and what it must come out as */
};

static void
batch_ahead(void *arg, size_t k, struct ct_ahead *a)
{
	struct batch	*x = arg;

	verdict_ahead(x->b->ct, x->st + k * SLOT, x->m[k].len, a);
}

static void
batch_decide(void *arg, size_t k, const struct ct_ahead *a)
{
	struct batch	*x = arg;
	struct verdict_ctx c = { x->b->cfg, x->b->ct, x->b->lt, "eth0", "",
	    PKT_HOOK_INPUT, 0, x->b->now };
	struct pkt	 p;
	struct verdict	 v;

	verdict_packet(&c, x->st + k * SLOT, x->m[k].len, a, &p, &v);
	check(x->b, &v, x->m[k].state, x->m[k].mark);
	clock_step(x->b, 1);
}

/*
 * n packets of the stream from k0 as a worker decides a batch it read:
 * through verdict_batch(), worker.c's loop.
 */
static void
batch(struct bench *b, const uint8_t *st, const struct meta *m, uint32_t k0,
    uint32_t n)
{
	struct ct_ahead	 ah[BATCH_MAX];
	struct batch	 x = { b, st + (size_t)k0 * SLOT, m + k0 };

	verdict_batch(b->ct, n, ah, batch_ahead, batch_decide, &x);
}

/*
 * Established packets over n flows; returns packets per second, or -1.
 * Round r: every client sends CLIENT_MSS bytes (acking the server's
 * round r - 1), in one random order; then every server sends SERVER_SEG
 * bytes acking them, in another.  The segments are written (not timed)
 * WINDOW at a time, in the order they will be read, as the kernel hands
 * a worker its packets, then decided one at a time (bs 0) or in batches
 * of bs.
 */
static double
bench_established(const struct config *cfg, uint32_t n, uint64_t want,
    uint32_t bs, double *setup_s)
{
	struct bench	 b;
	struct flow	*f;
	struct meta	*m;
	uint8_t		*st, hs[3 * SLOT];
	uint32_t	*ord[2], i, k0, x, w, r, rounds, ts;
	uint64_t	 seed = 0x5eed0000ULL + n;
	size_t		 hl[3];
	double		 t0, t, total = 0;
	uint64_t	 done = 0;

	if (bench_open(&b, cfg, n) == -1)
		return (-1);
	f = calloc(n, sizeof(*f));
	st = stream_new((size_t)WINDOW * SLOT);
	m = calloc(WINDOW, sizeof(*m));
	ord[0] = calloc(n, sizeof(uint32_t));
	ord[1] = calloc(n, sizeof(uint32_t));
	if (f == NULL || st == NULL || m == NULL || ord[0] == NULL ||
	    ord[1] == NULL) {
		perror("engine");
		return (-1);
	}
	for (i = 0; i < n; i++)
		flow_make(&f[i], i, &seed);
	t0 = secs();
	for (i = 0; i < n; i++) {
		handshake_make(hs, hl, &f[i]);
		handshake_run(&b, hs, hl, &f[i]);
	}
	*setup_s = secs() - t0;
	if (ct_count(b.ct) != n) {
		fprintf(stderr, "engine: %zu connections, wanted %u\n",
		    ct_count(b.ct), n);
		return (-1);
	}
	shuffle(ord[0], n, &seed);
	shuffle(ord[1], n, &seed);

	rounds = (uint32_t)((want + 2 * (uint64_t)n - 1) / (2 * (uint64_t)n));
	if (rounds < 3)
		rounds = 3;
	for (r = 0; r < rounds; r++) {
		ts = 3 + r;
		t = 0;
		for (k0 = 0; k0 < 2 * n; k0 += w) {
			w = 2 * n - k0 < WINDOW ? 2 * n - k0 : WINDOW;
			/* the next WINDOW segments, written as the kernel
			   copies them to the worker: not timed */
			for (x = 0; x < w; x++) {
				int	 d = k0 + x >= n;
				uint32_t j = ord[d][k0 + x - (d ? n : 0)];
				uint32_t cs = f[j].cisn + 1 + r * CLIENT_MSS;
				uint32_t ss = f[j].sisn + 1 + r * SERVER_SEG;

				m[x].len = (uint16_t)seg_make(st +
				    (size_t)x * SLOT, &f[j], d,
				    PKT_TH_ACK | PKT_TH_PUSH, d ? ss : cs,
				    d ? cs + CLIENT_MSS : ss, d ? 509 : 502,
				    d ? SERVER_SEG : CLIENT_MSS, ts);
				m[x].mark = f[j].mark;
				m[x].state = CT_ESTABLISHED;
			}
			t0 = secs();
			if (bs == 0)
				for (x = 0; x < w; x++)
					one(&b, st + (size_t)x * SLOT,
					    m[x].len, m[x].state, m[x].mark);
			else
				for (x = 0; x < w; x += bs)
					batch(&b, st, m, x, w - x < bs ?
					    w - x : bs);
			t += secs() - t0;
		}
		/* the first round warms up (page faults, caches) */
		if (r == 0)
			continue;
		total += t;
		done += 2 * (uint64_t)n;
	}
	if (ct_count(b.ct) != n || b.bad != 0) {
		fprintf(stderr, "engine: %u flows: %llu unexpected verdicts, "
		    "%zu connections\n", n, (unsigned long long)b.bad,
		    ct_count(b.ct));
		return (-1);
	}
	bench_close(&b);
	free(f);
	free(st);
	free(m);
	free(ord[0]);
	free(ord[1]);
	return ((double)done / total);
}

#define HS_GROUP	64	/* handshakes under way at once */

/*
 * New connections: nb batches of n, each set up (three packets) and
 * then expired.  The handshakes of HS_GROUP connections interleave (all
 * SYNs, then the SYN/ACKs, then the ACKs), the connections in random
 * order, the packets streamed from memory.  Returns connections per
 * second; *expire_ns gets the expiry's share per connection.
 */
static double
bench_new(const struct config *cfg, uint32_t n, uint32_t nb,
    double *expire_ns)
{
	struct bench	 b;
	struct ct_stats	 st;
	struct flow	*f;
	struct meta	*m;
	uint8_t		*pk, hs[3 * SLOT];
	size_t		 hl[3];
	uint32_t	*ord, i, k, g, gn, x;
	uint64_t	 seed = 0x6e6577ULL, jump;
	double		 t0, t1, tset = 0, texp = 0;

	if (bench_open(&b, cfg, n) == -1)
		return (-1);
	f = calloc(n, sizeof(*f));
	pk = stream_new((size_t)n * 3 * SLOT);
	m = calloc((size_t)n * 3, sizeof(*m));
	ord = calloc(n, sizeof(*ord));
	if (f == NULL || pk == NULL || m == NULL || ord == NULL) {
		perror("engine");
		return (-1);
	}
	for (i = 0; i < n; i++)
		flow_make(&f[i], i, &seed);
	shuffle(ord, n, &seed);
	/* the stream: per group, its SYNs, then SYN/ACKs, then ACKs */
	k = 0;
	for (g = 0; g < n; g += HS_GROUP) {
		gn = n - g < HS_GROUP ? n - g : HS_GROUP;
		for (x = 0; x < 3; x++)
			for (i = g; i < g + gn; i++) {
				handshake_make(hs, hl, &f[ord[i]]);
				memcpy(pk + (size_t)k * SLOT, hs + x * SLOT,
				    SLOT);
				m[k].len = (uint16_t)hl[x];
				m[k].mark = f[ord[i]].mark;
				m[k].state = x == 0 ? CT_NEW : CT_ESTABLISHED;
				k++;
			}
	}
	/* past the longest timeout */
	jump = 0;
	for (k = 0; k < CT_TO_MAX; k++)
		if ((uint64_t)cfg->ct.timeout[k] * 1000 > jump)
			jump = (uint64_t)cfg->ct.timeout[k] * 1000;
	jump += 1000;

	for (g = 0; g <= nb; g++) {
		t0 = secs();
		for (k = 0; k < 3 * n; k++)
			one(&b, pk + (size_t)k * SLOT, m[k].len, m[k].state,
			    m[k].mark);
		t1 = secs();
		if (ct_count(b.ct) != n) {
			fprintf(stderr, "engine: batch %u: %zu connections, "
			    "wanted %u\n", g, ct_count(b.ct), n);
			return (-1);
		}
		/* all of them time out */
		b.npkt += jump * 1000 / MS_PER_KPKT;
		b.now = 1000000 + b.npkt * MS_PER_KPKT / 1000;
		b.tick = b.now;
		ct_expire(b.ct, b.now);
		limit_expire(b.lt, b.now);
		if (ct_count(b.ct) != 0) {
			fprintf(stderr, "engine: %zu connections left after "
			    "expiry\n", ct_count(b.ct));
			return (-1);
		}
		/* batch 0 warms up the arena and the caches */
		if (g == 0)
			continue;
		tset += t1 - t0;
		texp += secs() - t1;
	}
	ct_get_stats(b.ct, &st);
	if (b.bad != 0 || st.created != (uint64_t)n * (nb + 1) ||
	    st.expired != st.created) {
		fprintf(stderr, "engine: new connections: %llu unexpected "
		    "verdicts, %llu created, %llu expired\n",
		    (unsigned long long)b.bad, (unsigned long long)st.created,
		    (unsigned long long)st.expired);
		return (-1);
	}
	bench_close(&b);
	free(f);
	free(pk);
	free(m);
	free(ord);
	*expire_ns = texp * 1e9 / ((double)n * nb);
	return ((double)n * nb / (tset + texp));
}

/*
 * 3. Rule decisions: the first rule a NEW packet matches, by the compiled
 *    index (verdict_first_rule(), what decide() asks) and by a walk over
 *    the rules in file order (what the engine did before the index), for
 *    the policy above and for a generated one of nrules rules (proto,
 *    source prefix, destination port or range, as a large site's
 *    policy), with packets that mostly match none of them: the walk's
 *    worst case.
 */
#define RULE_PKTS	4096

static struct config *
many_rules(uint32_t nrules, int accept_all, char *err, size_t errlen)
{
	struct config	*c;
	char		 path[] = "/tmp/engine-rules.XXXXXX";
	uint64_t	 seed = 0x72756c6573ULL, x;
	uint32_t	 i, p, len, a;
	FILE		*f;
	int		 fd;

	if ((fd = mkstemp(path)) == -1 || (f = fdopen(fd, "w")) == NULL) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return (NULL);
	}
	for (i = 0; i < nrules; i++) {
		x = rng(&seed);
		p = 1 + (uint32_t)(x >> 16) % 20000;
		len = 16 + (uint32_t)(x >> 8) % 9;
		a = (0x0a000000u | ((uint32_t)(x >> 40) & 0xffff00)) &
		    ~(0xffffffffu >> len);
		fprintf(f, "[rule r%u]\nproto = %s\nsrc = %u.%u.%u.%u/%u\n",
		    i, x & 1 ? "tcp" : "udp", a >> 24, (a >> 16) & 255,
		    (a >> 8) & 255, a & 255, len);
		if (x & 2)
			fprintf(f, "dport = %u\n", p);
		else
			fprintf(f, "dport = %u-%u\n", p, p + 9);
		fprintf(f, "action = %s\n\n", x & 4 ? "accept" : "drop");
	}
	if (accept_all)
		fprintf(f, "[rule all]\naction = accept\n");
	fclose(f);
	c = config_load(path, err, errlen);
	unlink(path);
	return (c);
}

static const struct rule *
walk(const struct config *cfg, const struct pkt *p)
{
	size_t		 i;

	for (i = 0; i < cfg->nrules; i++)
		if (rule_match(&cfg->rules[i], p, CT_NEW, "eth0", "eth1"))
			return (&cfg->rules[i]);
	return (NULL);
}

/* Half the packets are aimed at a rule: its protocol, an address of
   its source and its first destination port (an earlier rule may still
   take them). */
static void
aim(struct pkt *p, const struct rule *r, uint64_t x)
{
	rule_u128	 lo, hi;
	uint16_t	 plo, phi;

	if (r->has_proto)
		p->proto = r->proto;
	if (r->src != NULL && rule_addrset_count(r->src, AF_INET) > 0) {
		rule_addrset_range(r->src, AF_INET, 0, &lo, &hi);
		v4(&p->src, (uint32_t)(lo + (rule_u128)(x % (uint64_t)(hi -
		    lo + 1))));
	}
	if (r->dport != NULL) {
		rule_portset_range(r->dport, 0, &plo, &phi);
		p->dport = plo;
	}
}

/* ns per decision, by the index (*walk_ns: by a walk) */
static double
bench_rules(const struct config *cfg, uint32_t rounds, double *walk_ns,
    uint32_t *hits)
{
	struct pkt	*pk;
	uint64_t	 seed = 0x706b74ULL, x;
	uint32_t	 i, r;
	double		 t0, t1, t2;
	size_t		 sink = 0;

	if ((pk = calloc(RULE_PKTS, sizeof(*pk))) == NULL)
		return (-1);
	for (i = 0; i < RULE_PKTS; i++) {
		x = rng(&seed);
		pk[i].family = AF_INET;
		pk[i].proto = x & 1 ? IPPROTO_TCP : IPPROTO_UDP;
		v4(&pk[i].src, 0x0a000000u | ((uint32_t)(x >> 8) & 0xffffff));
		v4(&pk[i].dst, 0xc0000201u);
		pk[i].sport = (uint16_t)(1024 + (x >> 32) % 60000);
		pk[i].dport = (uint16_t)(1 + (x >> 48) % 20000);
		pk[i].th_flags = PKT_TH_SYN;
		pk[i].hook = PKT_HOOK_FORWARD;
		if (i % 2 == 0 && cfg->nrules > 0)
			aim(&pk[i], &cfg->rules[(x >> 20) % cfg->nrules], x);
	}
	*hits = 0;
	t0 = secs();
	for (r = 0; r < rounds; r++)
		for (i = 0; i < RULE_PKTS; i++)
			sink += (size_t)verdict_first_rule(cfg, &pk[i], CT_NEW,
			    "eth0", "eth1");
	t1 = secs();
	for (r = 0; r < rounds; r++)
		for (i = 0; i < RULE_PKTS; i++)
			sink -= (size_t)walk(cfg, &pk[i]);
	t2 = secs();
	for (i = 0; i < RULE_PKTS; i++) {
		if (verdict_first_rule(cfg, &pk[i], CT_NEW, "eth0", "eth1") !=
		    walk(cfg, &pk[i]))
			sink = 1;
		*hits += walk(cfg, &pk[i]) != NULL;
	}
	free(pk);
	if (sink != 0) {
		fprintf(stderr, "engine: the index and the walk disagree\n");
		return (-1);
	}
	*walk_ns = (t2 - t1) * 1e9 / ((double)rounds * RULE_PKTS);
	return ((t1 - t0) * 1e9 / ((double)rounds * RULE_PKTS));
}

static int
rule_figures(const struct config *cfg, uint32_t nrules)
{
	struct config	*big;
	char		 err[512];
	double		 ns, wns, t0;
	uint32_t	 hits;
	int		 fail = 0;

	printf("rule decisions, NEW packets (ns per decision, index vs a "
	    "walk in file order):\n");
	if ((ns = bench_rules(cfg, 200, &wns, &hits)) < 0)
		return (-1);
	printf("%9zu rules %8.1f  (walk %8.1f; %u of %u packets match a "
	    "rule)   < 1000 (%s)\n", cfg->nrules, ns, wns, hits, RULE_PKTS,
	    ns < 1000 ? "met" : "NOT met");
	fail |= ns >= 1000;
	t0 = secs();
	if ((big = many_rules(nrules, 0, err, sizeof(err))) == NULL) {
		fprintf(stderr, "engine: %s\n", err);
		return (-1);
	}
	t0 = secs() - t0;
	if ((ns = bench_rules(big, nrules >= 5000 ? 2 : 20, &wns, &hits)) <
	    0)
		return (-1);
	printf("%9zu rules %8.1f  (walk %8.1f; %u of %u packets match a "
	    "rule)   < 2000 (%s)\n", big->nrules, ns, wns, hits, RULE_PKTS,
	    ns < 2000 ? "met" : "NOT met");
	printf("(loading and compiling the %zu rules: %.0f ms)\n",
	    big->nrules, t0 * 1e3);
	fail |= ns >= 2000;
	config_free(big);
	return (fail);
}

/*
 * 4. A reload under load (reload_figures() below): conns UDP flows let
 *    in by nrules rules and a last "accept everything", then the same
 *    rules without it, so that the flows no other rule accepts end.
 *    Judged at once (verdict_rejudge(): the stall a worker had) and as a
 *    worker does now: verdict_reload(), then batches of ENGINE_BATCH
 *    packets of live flows decided between the worker's sweep slices,
 *    verdict_reload_slice() of WORKER_SWEEP_US (250 us).
 */
#define SWEEP_US	250
#define SLICE_HIST	4096

static uint64_t
now_us(void)
{
	return ((uint64_t)(secs() * 1e6));
}

static void
udp_make(uint8_t *b, uint32_t src, uint16_t sport, uint16_t dport)
{
	memset(b, 0, 28);
	b[0] = 0x45;
	put16(b + 2, 28);
	b[8] = 64;
	b[9] = IPPROTO_UDP;
	put32(b + 12, src);
	put32(b + 16, 0xc0000201u);
	put16(b + 20, sport);
	put16(b + 22, dport);
	put16(b + 24, 8);
}

static void
flow_of(uint32_t i, uint32_t *src, uint16_t *sport, uint16_t *dport)
{
	uint64_t	 x = i;

	x = rng(&x);
	*src = 0x0a000000u | ((uint32_t)x & 0xffffff);
	*sport = (uint16_t)(1024 + i % 60000);
	*dport = (uint16_t)(1 + (x >> 32) % 20000);
}

/* conns flows under cfg; 0, or -1 if the table did not take them all */
static int
reload_fill(struct bench *b, const struct config *cfg, uint32_t conns)
{
	struct verdict_ctx x = { cfg, b->ct, b->lt, "eth0", "eth1",
	    PKT_HOOK_FORWARD, 0, 0 };
	struct pkt	 p;
	struct verdict	 v;
	uint8_t		 buf[64];
	uint32_t	 i, src;
	uint16_t	 sport, dport;

	for (i = 0; i < conns; i++) {
		flow_of(i, &src, &sport, &dport);
		udp_make(buf, src, sport, dport);
		x.now_ms = b->now;
		verdict_packet(&x, buf, 28, NULL, &p, &v);
		if (i % 1024 == 0)
			clock_step(b, 1024);
	}
	return (ct_count(b->ct) * 10 >= (size_t)conns * 9 ? 0 : -1);
}

struct sweep_figures {
	double		 at_once;	/* s */
	double		 sweep;		/* s, slices and batches */
	double		 slice_max;	/* us */
	uint32_t	 slice_hist[SLICE_HIST + 1];	/* by us; the last:
							   longer */
	double		 batch_max;	/* us, ENGINE_BATCH packets */
	uint64_t	 slices, packets;
	size_t		 ended, ended_now;
};

static void
reload_sweep(struct bench *b, const struct config *to, uint32_t conns,
    struct sweep_figures *sf)
{
	struct verdict_ctx x = { to, b->ct, b->lt, "eth0", "eth1",
	    PKT_HOOK_FORWARD, 0, 0 };
	struct verdict_reload rl;
	struct pkt	 p;
	struct verdict	 v;
	uint8_t		 buf[64];
	uint32_t	 src, k;
	uint16_t	 sport, dport;
	uint64_t	 seed = 0x737765ULL;
	double		 t0, t1, t2, tb;
	int		 done = 0;

	t0 = secs();
	verdict_reload(&rl, to, b->ct, b->lt, b->now, NULL, NULL);
	while (!done) {
		tb = secs();
		for (k = 0; k < ENGINE_BATCH; k++) {
			flow_of((uint32_t)(rng(&seed) % conns), &src, &sport,
			    &dport);
			udp_make(buf, src, sport, dport);
			x.now_ms = b->now;
			verdict_packet(&x, buf, 28, NULL, &p, &v);
		}
		sf->packets += ENGINE_BATCH;
		t1 = secs();
		if ((t1 - tb) * 1e6 > sf->batch_max)
			sf->batch_max = (t1 - tb) * 1e6;
		done = verdict_reload_slice(b->ct, now_us, SWEEP_US);
		t2 = secs();
		sf->slices++;
		if ((t2 - t1) * 1e6 > sf->slice_max)
			sf->slice_max = (t2 - t1) * 1e6;
		k = (uint32_t)((t2 - t1) * 1e6);
		sf->slice_hist[k < SLICE_HIST ? k : SLICE_HIST]++;
	}
	sf->sweep = secs() - t0;
	sf->ended = rl.ended;
}

/* the slice time (us) that frac of the slices took at most */
static uint32_t
slice_pct(const struct sweep_figures *sf, double frac)
{
	uint64_t	 n = 0;
	uint32_t	 i;

	for (i = 0; i < SLICE_HIST; i++)
		if ((n += sf->slice_hist[i]) >= frac * (double)sf->slices)
			break;
	return (i + 1);
}

/* the slices that took us or longer */
static uint64_t
slices_over(const struct sweep_figures *sf, uint32_t us)
{
	uint64_t	 n = 0;
	uint32_t	 i;

	for (i = us; i <= SLICE_HIST; i++)
		n += sf->slice_hist[i];
	return (n);
}

static int
reload_figures(uint32_t nrules, uint32_t conns)
{
	struct config	*a, *bcfg;
	struct sweep_figures sf;
	struct bench	 b;
	char		 err[512];
	double		 t0;

	memset(&sf, 0, sizeof(sf));
	if ((a = many_rules(nrules, 1, err, sizeof(err))) == NULL ||
	    (bcfg = many_rules(nrules, 0, err, sizeof(err))) == NULL) {
		fprintf(stderr, "engine: %s\n", err);
		return (-1);
	}
	/* at once, as a worker did */
	if (bench_open(&b, a, conns) == -1 || reload_fill(&b, a, conns) == -1)
		return (-1);
	t0 = secs();
	sf.ended_now = verdict_rejudge(bcfg, b.ct, b.lt, b.now, NULL, NULL);
	sf.at_once = secs() - t0;
	bench_close(&b);
	/* by generation and sweep, packets between the slices */
	if (bench_open(&b, a, conns) == -1 || reload_fill(&b, a, conns) == -1)
		return (-1);
	reload_sweep(&b, bcfg, conns, &sf);
	bench_close(&b);
	printf("reload, %u connections, %zu rules (%zu ended):\n", conns,
	    bcfg->nrules, sf.ended);
	printf("  judged at once: the worker stops %.0f ms\n",
	    sf.at_once * 1e3);
	printf("  by generation: %.0f ms in %llu slices between batches of "
	    "%u packets (%llu decided meanwhile); longest slice %.0f us, "
	    "longest batch %.0f us: a packet waits at most %.0f us   "
	    "<= 1000 (%s)\n", sf.sweep * 1e3, (unsigned long long)sf.slices,
	    ENGINE_BATCH, (unsigned long long)sf.packets, sf.slice_max,
	    sf.batch_max, sf.slice_max + sf.batch_max,
	    sf.slice_max + sf.batch_max <= 1000 ? "met" : "NOT met");
	printf("  slices: median %u us, 99%% %u us, %llu of %llu over %u us "
	    "(the worker's budget; a slice preempted takes longer)\n",
	    slice_pct(&sf, 0.5), slice_pct(&sf, 0.99),
	    (unsigned long long)slices_over(&sf, SWEEP_US + 1),
	    (unsigned long long)sf.slices, SWEEP_US);
	if (sf.ended != sf.ended_now)
		fprintf(stderr, "engine: %zu ended by the sweep, %zu at once\n",
		    sf.ended, sf.ended_now);
	config_free(a);
	config_free(bcfg);
	return (sf.ended != sf.ended_now ||
	    sf.slice_max + sf.batch_max > 1000);
}

static void
usage(void)
{
	fprintf(stderr, "usage: engine [-c file.ini] [-f flows,...] "
	    "[-p packets] [-B batch] [-b conns] [-n batches] "
	    "[-r rules] [-R conns]\n");
	exit(2);
}

int
main(int argc, char *argv[])
{
	struct config	*cfg;
	const char	*ini = TEST_SRCDIR "/tests/bench/bench.ini";
	char		 err[512], *s, *e;
	uint32_t	 sizes[MAX_SIZES] = { 1000, 100000, 1000000 };
	double		 pps[MAX_SIZES], setup, exp_ns, cps;
	uint64_t	 want = 20000000;
	uint32_t	 nsizes = 3, batch = 100000, nbatch = 10, i;
	uint32_t	 bs = ENGINE_BATCH, nrules = 10000, rconns = 1000000;
	int		 ch, fail = 0, rf;

	while ((ch = getopt(argc, argv, "B:b:c:f:n:p:R:r:")) != -1) {
		switch (ch) {
		case 'B':
			bs = (uint32_t)strtoul(optarg, NULL, 10);
			break;
		case 'b':
			batch = (uint32_t)strtoul(optarg, NULL, 10);
			break;
		case 'c':
			ini = optarg;
			break;
		case 'f':
			nsizes = 0;
			for (s = optarg; *s != '\0' && nsizes < MAX_SIZES;
			    s = *e ? e + 1 : e) {
				sizes[nsizes] = (uint32_t)strtoul(s, &e, 10);
				if (e == s || sizes[nsizes] == 0)
					usage();
				nsizes++;
			}
			break;
		case 'n':
			nbatch = (uint32_t)strtoul(optarg, NULL, 10);
			break;
		case 'p':
			want = strtoull(optarg, NULL, 10);
			break;
		case 'r':
			nrules = (uint32_t)strtoul(optarg, NULL, 10);
			break;
		case 'R':
			rconns = (uint32_t)strtoul(optarg, NULL, 10);
			break;
		default:
			usage();
		}
	}
	if (nsizes == 0 || batch == 0 || nbatch == 0 || want == 0 ||
	    bs == 0 || bs > BATCH_MAX)
		usage();
	if ((cfg = config_load(ini, err, sizeof(err))) == NULL) {
		fprintf(stderr, "engine: %s\n", err);
		return (2);
	}
	printf("engine: one core, %s (%zu rules), limits on\n", ini,
	    cfg->nrules);
	printf("established TCP, packets/s (ns/packet):\n");
	printf("%-15s %-22s %-22s %s\n", "", "one at a time",
	    "batches (the worker)", "target (on batches)");
	for (i = 0; i < nsizes; i++) {
		double	 one_pps;

		one_pps = bench_established(cfg, sizes[i], want, 0, &setup);
		pps[i] = bench_established(cfg, sizes[i], want, bs, &setup);
		if (one_pps < 0 || pps[i] < 0)
			return (1);
		printf("%9u flows %10.0f (%5.1f)   %10.0f (%5.1f)   ", sizes[i],
		    one_pps, 1e9 / one_pps, pps[i], 1e9 / pps[i]);
		if (sizes[i] == 100000) {
			printf(">= 5000000 (%s)", pps[i] >= 5e6 ? "met" :
			    "NOT met");
			fail |= pps[i] < 5e6;
		} else if (sizes[i] == 1000000 && sizes[0] == 1000) {
			printf(">= 0.70 x %u flows: %.2f (%s)", sizes[0],
			    pps[i] / pps[0], pps[i] >= 0.7 * pps[0] ? "met" :
			    "NOT met");
			fail |= pps[i] < 0.7 * pps[0];
		} else
			printf("-");
		printf("\n");
		fflush(stdout);
	}
	printf("(batches of %u; ahead: hash %u, entry %u, chain %u packets, "
	    "as worker.c decides what one read brought)\n", bs,
	    3 * VERDICT_AHEAD, 2 * VERDICT_AHEAD, VERDICT_AHEAD);
	cps = bench_new(cfg, batch, nbatch, &exp_ns);
	if (cps < 0)
		return (1);
	printf("new connections (SYN, SYN/ACK, ACK, expiry), %u x %u: "
	    "%.0f/s (%.0f ns, of which expiry %.0f)   >= 1000000 (%s)\n",
	    nbatch, batch, cps, 1e9 / cps, exp_ns, cps >= 1e6 ? "met" :
	    "NOT met");
	fail |= cps < 1e6;
	if ((rf = rule_figures(cfg, nrules)) < 0)
		return (1);
	fail |= rf;
	if (rconns > 0 && (rf = reload_figures(nrules, rconns)) < 0)
		return (1);
	fail |= rconns > 0 && rf;
	config_free(cfg);
	return (fail ? 3 : 0);
}
