/*
 * test_sync.c - the sync thread (sync.c, its link synclink.c and
 * worker_sync.c) between two nodes in one process
 *
 * Copyright (C) 2026 The nfqspid authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * Each node is a struct sync over one worker (or two) with a real table
 * and limit table; worker_call() runs the function at once (after a
 * test's hand-over, if one waits for it) and the clock is ours.  sendto() is wrapped (-Wl,--wrap=sendto): what a node sends is
 * kept, and handed to the other node's sync_datagram() as if it came
 * from the first node's address, or lost, changed or sent twice.
 */
#include <sys/types.h>
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

#include <event2/buffer.h>

#include "ct_int.h"		/* CT_TCP_* */
#include "worker_int.h"
#include "sync_int.h"

/* ---- stubs and the wire -------------------------------------------------- */

static uint64_t	 now = 1000000;

uint64_t
spi_now_ms(void)
{
	return (now);
}

/* Once, just before a bulk's slice of worker 1 past its first: what
   that worker's thread did between two calls of the walk.  The same
   before a sweep's slice past its first. */
static void	(*between)(void);
static void	(*between_sweep)(void);
/* Once, just before worker 1's first slice of a sweep. */
static void	(*first_sweep_1)(void);
/* Once, just before the bulk's first fence call to worker 0: what its
   thread did before it came to the call (an answer in its inbox). */
static void	(*at_fence)(void);

/* The workers whose thread has stopped (bit by id): a call fails. */
static unsigned	 stopped;

int
worker_call(struct worker *w, void (*fn)(struct worker *, void *), void *arg)
{
	void		(*b)(void);

	/* first: what worker 0's thread did before the call may be to stop */
	if ((b = at_fence) != NULL && w->id == 0 &&
	    fn == worker_sync_fence) {
		at_fence = NULL;
		b();
	}
	if (stopped & 1u << w->id) {
		errno = ESRCH;
		return (-1);
	}
	b = between;
	if (b != NULL && w->id == 1 && fn == worker_sync_slice &&
	    ((struct sync_slice *)arg)->cursor != 0) {
		between = NULL;
		b();
	}
	if ((b = between_sweep) != NULL && fn == worker_sync_sweep &&
	    ((struct sync_sweep *)arg)->cursor != 0) {
		between_sweep = NULL;
		b();
	}
	if ((b = first_sweep_1) != NULL && w->id == 1 &&
	    fn == worker_sync_sweep && !((struct sync_sweep *)arg)->begin &&
	    ((struct sync_sweep *)arg)->cursor == 0) {
		first_sweep_1 = NULL;
		b();
	}
	fn(w, arg);
	return (0);
}

/* worker_ask.c: no worker here knows its peers, so none holds a copy
   unseen (test_worker_ask.c) */
void worker_adopt_fresh(struct worker *w, const struct ct_entry *e) { }
void worker_hold_records(struct worker *w, const struct sync_rec *r,
    size_t n) { }
void worker_adopt_superseded(struct worker *w, struct worker *to,
    const struct ct_tuple *k) { }

/* info lines saying a whole table is not sent: once a run, not at each
   later request (test_bulk_worker_gone) */
static int unsent_infos;
void
log_info(const char *f, ...)
{
	if (strncmp(f, "sync: the whole table is not sent", 33) == 0)
		unsent_infos++;
}
void log_debug(const char *f, ...) { (void)f; }
void log_warn(const char *f, ...) { (void)f; }
static int audits;
void log_audit(const char *f, ...) { (void)f; audits++; }
int
log_rl(struct log_rl *rl, uint64_t *held)
{
	*held = 0;
	return (1);
}

#define WIRE_MAX	4096
struct dgram {
	int		 fd;
	size_t		 len;
	uint8_t		 buf[SYNC_MSG_MAX];
};
static struct dgram	*wire;
static size_t		 nwire;

ssize_t	 __wrap_sendto(int, const void *, size_t, int,
	    const struct sockaddr *, socklen_t);
ssize_t
__wrap_sendto(int fd, const void *buf, size_t len, int flags,
    const struct sockaddr *to, socklen_t tolen)
{
	assert_true(nwire < WIRE_MAX);
	assert_true(len <= SYNC_MSG_MAX);
	wire[nwire].fd = fd;
	wire[nwire].len = len;
	memcpy(wire[nwire].buf, buf, len);
	nwire++;
	return ((ssize_t)len);
}

/* ---- two nodes ---------------------------------------------------------- */

struct node {
	struct config		 cfg;
	struct rule		 rules[3];
	struct worker		*w;		/* all[0] */
	struct worker		*all[2];
	unsigned		 nw;
	struct sync		*s;
	struct sockaddr_storage	 addr;	/* as the other sees it */
};

static struct node	 A, B;
static uint32_t		 resend = 64;	/* the nodes' resend ring */
static unsigned		 nworkers = 1;	/* ... and workers */
static uint32_t		 bmax;		/* B's table max, no share; 0: default */
/* deliver() runs it after each datagram B takes, until it returns 1 */
static int		(*after_b)(void);

static void
event_cb(int event, const struct ct_entry *e, void *arg)
{
	struct worker	*w = arg;

	limit_ct_event(event, e, w->lt);
	worker_sync_event(w, event, e);
}

static void
addr_set(struct sockaddr_storage *ss, const char *a, uint16_t port)
{
	struct sockaddr_in	*s4 = (struct sockaddr_in *)ss;

	memset(ss, 0, sizeof(*ss));
	s4->sin_family = AF_INET;
	s4->sin_port = htons(port);
	inet_pton(AF_INET, a, &s4->sin_addr);
}

/* B names its rules in another order: names, not indexes, cross */
static void
node_init(struct node *n, int role, const char *me, const char *peer,
    int swap, uint32_t queue)
{
	static const char secret[] = "a shared secret of the test pair";
	char		 err[256];
	const char	*names[3] = { "ssh", "web", "dns" };

	memset(n, 0, sizeof(*n));
	ct_config_defaults(&n->cfg.ct);
	n->cfg.ct.tcp_loose = 0;
	if (role == SYNC_ROLE_BACKUP && bmax != 0) {
		n->cfg.ct.max = bmax;
		n->cfg.ct.source_share = 0;
	}
	config_sync_defaults(&n->cfg.sync);
	n->cfg.sync.on = 1;
	n->cfg.sync.role = (uint8_t)role;
	n->cfg.sync.resend = resend;
	n->cfg.sync.queue = queue;
	n->cfg.sync.refresh = 10;
	addr_set(&n->cfg.sync.listen, "127.0.0.1", 0);
	addr_set(&n->cfg.sync.peer, peer, 3780);
	n->cfg.sync.addrlen = sizeof(struct sockaddr_in);
	assert_int_equal(sync_key_init(&n->cfg.sync.key, secret,
	    sizeof(secret) - 1), 0);
	addr_set(&n->addr, me, 3780);
	if (swap) {
		names[0] = "dns";
		names[2] = "ssh";
	}
	for (int i = 0; i < 3; i++) {
		snprintf(n->rules[i].name, sizeof(n->rules[i].name), "%s",
		    names[i]);
		n->rules[i].index = (uint32_t)i;
		n->rules[i].conn_limit = strcmp(names[i], "web") == 0 ? 50 : 0;
	}
	n->cfg.rules = n->rules;
	n->cfg.nrules = 3;
	n->nw = nworkers;
	for (unsigned i = 0; i < n->nw; i++) {
		struct worker	*w;

		/* aligned as worker_new() aligns it: whole lines */
		assert_non_null(w = cacheline_calloc(1, sizeof(*w)));
		w->id = i;
		w->cfg = &n->cfg;
		assert_non_null(w->ct = ct_new(&n->cfg.ct));
		assert_non_null(w->lt = limit_new(1024));
		ct_set_event_cb(w->ct, event_cb, w);
		n->all[i] = w;
	}
	n->w = n->all[0];
	assert_non_null(n->s = sync_new(&n->cfg.sync, n->all, n->nw, err,
	    sizeof(err)));
	for (unsigned i = 0; i < n->nw; i++)
		worker_set_sync(n->all[i], n->s);
}

static void
node_free(struct node *n)
{
	sync_free(n->s);
	for (unsigned i = 0; i < n->nw; i++) {
		worker_sync_free(n->all[i]);
		ct_free(n->all[i]->ct);
		limit_free(n->all[i]->lt);
		free(n->all[i]);
	}
}

static int
setup(void **state)
{
	(void)state;
	wire = calloc(WIRE_MAX, sizeof(*wire));
	nwire = 0;
	audits = 0;
	stopped = 0;	/* a failed test's too */
	node_init(&A, SYNC_ROLE_MASTER, "10.0.9.1", "10.0.9.2", 0, 8192);
	node_init(&B, SYNC_ROLE_BACKUP, "10.0.9.2", "10.0.9.1", 1, 8192);
	return (wire == NULL);
}

static int
teardown(void **state)
{
	(void)state;
	node_free(&A);
	node_free(&B);
	free(wire);
	return (0);
}

static struct node *
sender(int fd)
{
	return (fd == A.s->fd ? &A : &B);
}

/* The wire's n datagrams taken off it, in a copy to free. */
static struct dgram *
wire_take(size_t *n)
{
	struct dgram	*d;

	*n = nwire;
	assert_non_null(d = malloc(nwire * sizeof(*d)));
	memcpy(d, wire, nwire * sizeof(*d));
	nwire = 0;
	return (d);
}

/*
 * Hand what is on the wire to its other end, and what that sends back,
 * until the wire is quiet; skip says which datagram, counting from the
 * first, is lost (-1: none).  Each round the nodes pump, as their timers
 * would.
 */
static void
deliver(int skip)
{
	struct dgram	*d;
	size_t		 i, n;
	int		 rounds, k = 0;

	for (rounds = 0; rounds < 1000; rounds++) {
		sync_pump(A.s, now);
		sync_pump(B.s, now);
		if (nwire == 0)
			return;
		d = wire_take(&n);
		for (i = 0; i < n; i++) {
			struct node *from = sender(d[i].fd);

			if (k++ == skip)
				continue;
			sync_datagram(from == &A ? B.s : A.s, d[i].buf,
			    d[i].len, &from->addr, now);
			if (from == &A && after_b != NULL && after_b())
				after_b = NULL;
		}
		free(d);
		now += 1;
	}
	fail_msg("the wire never went quiet");
}

/* The n-th TCP connection 10.1.x.y:port -> 10.2.0.1:80, established. */
static struct ct_snap
conn(unsigned i, uint32_t mark)
{
	struct ct_snap	 s;

	memset(&s, 0, sizeof(s));
	s.k.family = AF_INET;
	s.k.proto = IPPROTO_TCP;
	s.k.src.a32[0] = htonl(0x0a010000u | (i >> 8 & 0xff) << 8 | 1);
	s.k.dst.a32[0] = htonl(0x0a020001u);
	s.k.sport = (uint16_t)(20000 + (i & 0xff) + (i >> 8) * 300);
	s.k.dport = 80;
	s.state = CT_TCP_ESTABLISHED;
	s.flags = CT_SNAP_SEEN_REPLY | CT_SNAP_ASSURED;
	s.tclass = CT_TO_TCP_ESTABLISHED;
	s.mark = mark;
	s.left_ms = 3600000;
	s.tcp.end[0] = 1000 + i;
	s.tcp.maxend[0] = 70000 + i;
	s.tcp.maxwin[0] = 65535;
	s.tcp.end[1] = 5000 + i;
	s.tcp.maxend[1] = 80000 + i;
	s.tcp.maxwin[1] = 65535;
	return (s);
}

/* A's connection made as its packets would, in its worker wi: the
   event goes out. */
static void
open_in(unsigned wi, unsigned i, uint32_t rule)
{
	struct ct_snap	 s = conn(i, 0x10 + (i & 7));

	s.rule = rule;
	assert_non_null(ct_import(A.all[wi]->ct, &s, now, NULL));
}

static void
open_on_a(unsigned i, uint32_t rule)
{
	open_in(0, i, rule);
}

struct find {
	struct ct_tuple	 k;
	struct ct_entry	*e;
};

static int
find_one(struct ct_table *t, struct ct_entry *e, void *arg)
{
	struct find	*f = arg;
	struct ct_tuple	 k;

	memset(&k, 0, sizeof(k));
	ct_entry_tuple(e, &k.family, &k.proto, &k.src, &k.dst, &k.sport,
	    &k.dport);
	if (k.src.a32[0] == f->k.src.a32[0] && k.sport == f->k.sport &&
	    k.dst.a32[0] == f->k.dst.a32[0] && k.dport == f->k.dport) {
		f->e = e;
		return (1);
	}
	return (0);
}

static struct ct_entry *
find(struct node *n, unsigned i)
{
	struct find	 f;
	struct ct_snap	 s = conn(i, 0);
	uint64_t	 cursor = 0;

	f.k = s.k;
	f.e = NULL;
	do
		(void)ct_walk(n->w->ct, &cursor, 1024, find_one, &f);
	while (cursor != 0 && f.e == NULL);
	return (f.e);
}

/* ---- the tests ---------------------------------------------------------- */

/* New connections, a change and ends reach the backup: state, mark,
   rule by name, conn_limit counts. */
static void
test_changes(void **state)
{
	struct ct_entry	*e;
	struct ct_snap	 s;
	union pkt_addr	 src;
	unsigned	 i;

	(void)state;
	for (i = 0; i < 300; i++)
		open_on_a(i, i % 2 ? 1 : 0);		/* web, ssh */
	deliver(-1);
	assert_int_equal(ct_count(B.w->ct), 300);
	/* the first word from A is a new peer to B: it asked for the
	   table too */
	assert_true(B.s->lk.st.applied >= 300);
	for (i = 0; i < 300; i += 37) {
		assert_non_null(e = find(&B, i));
		ct_export(B.w->ct, e, &s);
		assert_int_equal(s.state, CT_TCP_ESTABLISHED);
		assert_int_equal(s.mark, 0x10 + (i & 7));
		assert_int_equal(s.tcp.maxend[1], 80000 + i);
		/* B's "web" is index 1 too; its "ssh" is index 2 */
		assert_int_equal(ct_entry_rule(e), i % 2 ? 1 : 2);
	}
	/* conn_limit: B counts the web connections of each source */
	s = conn(1, 0);
	src = s.k.src;
	/* the odd ones of 0-255 are web's, from 10.1.0.1 */
	assert_int_equal(limit_conn_count(B.w->lt, 1, AF_INET, &src), 128);

	/* a state change, then ends */
	s = conn(5, 0x99);
	s.rule = 1;
	s.state = CT_TCP_FIN_WAIT;
	assert_non_null(ct_import(A.w->ct, &s, now, NULL));
	for (i = 100; i < 150; i++) {
		s = conn(i, 0);
		assert_int_equal(ct_forget(A.w->ct, &s.k, now), 0);
	}
	deliver(-1);
	assert_int_equal(ct_count(B.w->ct), 250);
	assert_null(find(&B, 120));
	assert_non_null(e = find(&B, 5));
	ct_export(B.w->ct, e, &s);
	assert_int_equal(s.state, CT_TCP_FIN_WAIT);
	assert_int_equal(s.mark, 0x99);
	/* the ends released theirs; one closing moves to [policy] */
	assert_int_equal(limit_conn_count(B.w->lt, 1, AF_INET, &src), 103);
	s = conn(7, 0x17);
	s.rule = 1;
	s.state = CT_TCP_TIME_WAIT;
	assert_non_null(ct_import(A.w->ct, &s, now, NULL));
	deliver(-1);
	assert_int_equal(limit_conn_count(B.w->lt, 1, AF_INET, &src), 102);
	assert_true(A.s->lk.st.sent > 0);
	assert_int_equal(B.s->lk.st.forged + B.s->lk.st.replayed +
	    B.s->lk.st.malformed, 0);
}

/* A connection changed twice before the flush goes once, as it is. */
static void
test_coalesce(void **state)
{
	struct ct_entry	*e;
	struct ct_snap	 s;

	(void)state;
	open_on_a(9, 1);
	s = conn(9, 0x77);
	s.rule = 1;
	s.state = CT_TCP_FIN_WAIT;
	assert_non_null(ct_import(A.w->ct, &s, now, NULL));
	open_on_a(10, 0);
	s = conn(10, 0);
	assert_int_equal(ct_forget(A.w->ct, &s.k, now), 0);
	sync_pump(A.s, now);
	assert_int_equal(A.s->lk.st.coalesced, 2);
	deliver(-1);
	assert_non_null(e = find(&B, 9));
	ct_export(B.w->ct, e, &s);
	assert_int_equal(s.state, CT_TCP_FIN_WAIT);
	assert_int_equal(s.mark, 0x77);
	assert_null(find(&B, 10));
}

/* Forged, replayed, truncated, of another version, from a stranger:
   dropped, counted, audited; nothing applied. */
static void
test_refused(void **state)
{
	struct sockaddr_storage	 stranger;
	struct dgram		 d;

	(void)state;
	open_on_a(1, 0);
	sync_pump(A.s, now);
	assert_int_equal(nwire, 1);
	d = wire[0];
	nwire = 0;

	d.buf[50] ^= 1;				/* forged */
	sync_datagram(B.s, d.buf, d.len, &A.addr, now);
	assert_int_equal(B.s->lk.st.forged, 1);
	d.buf[50] ^= 1;
	sync_datagram(B.s, d.buf, d.len - 1, &A.addr, now);	/* short */
	assert_int_equal(B.s->lk.st.malformed, 1);
	d.buf[4]++;				/* another version */
	sync_datagram(B.s, d.buf, d.len, &A.addr, now);
	assert_int_equal(B.s->lk.st.version, 1);
	d.buf[4]--;
	addr_set(&stranger, "10.0.9.66", 3780);
	sync_datagram(B.s, d.buf, d.len, &stranger, now);
	assert_int_equal(B.s->lk.st.strangers, 1);
	assert_int_equal(ct_count(B.w->ct), 0);

	sync_datagram(B.s, d.buf, d.len, &A.addr, now);	/* the real one */
	assert_int_equal(ct_count(B.w->ct), 1);
	sync_datagram(B.s, d.buf, d.len, &A.addr, now);	/* again */
	assert_int_equal(B.s->lk.st.replayed, 1);
	assert_int_equal(B.s->lk.st.applied, 1);
	assert_int_equal(audits, 5);
}

/* A lost datagram: the backup NACKs, the master resends. */
static void
test_loss(void **state)
{
	unsigned	 i;

	(void)state;
	/* a datagram's worth at a time: several datagrams */
	for (i = 0; i < 200; i++)
		open_on_a(i, 0);
	deliver(1);
	assert_int_equal(ct_count(B.w->ct), 200);
	assert_true(B.s->lk.st.nacks_sent >= 1);
	assert_true(A.s->lk.st.nacks_received >= 1);
	sync_publish(A.s, now);
	assert_true(A.s->pub.seq.resent >= 1);
}

/* A backup that starts late asks for the whole table; the master sends
   it no faster than acknowledged; then the backup is ready. */
static void
test_bulk(void **state)
{
	struct sync_status	 st;
	struct ct_snap		 s;
	struct evbuffer		*b;
	char			 text[4096];
	size_t			 len;
	unsigned		 i;

	(void)state;
	for (i = 0; i < 2000; i++)
		open_on_a(i, 2);
	sync_pump(A.s, now);
	nwire = 0;			/* nobody listened */
	assert_int_equal(ct_count(B.w->ct), 0);
	assert_int_equal(B.s->lk.ready, 0);
	/* one B has that A no longer has (its DELETE was lost) */
	s = conn(5000, 0x50);
	assert_non_null(ct_import(B.w->ct, &s, now, NULL));

	sync_alive(B.s, now);		/* asks: BULK_REQ */
	deliver(-1);
	assert_int_equal(ct_count(B.w->ct), 2000);
	assert_null(find(&B, 5000));
	assert_int_equal(B.s->lk.st.swept, 1);
	assert_int_equal(B.s->lk.ready, 1);
	assert_int_equal(A.s->lk.st.bulks_sent, 1);
	assert_int_equal(B.s->lk.st.bulks_received, 1);
	sync_publish(B.s, now);
	sync_status(B.s, &st);
	assert_non_null(b = evbuffer_new());
	sync_print(b, &st, 1);
	len = evbuffer_get_length(b);
	assert_true(len < sizeof(text));
	evbuffer_remove(b, text, len);
	text[len] = '\0';
	assert_non_null(strstr(text, "\"ready\":true"));
	assert_non_null(strstr(text, "\"role\":\"backup\""));
	sync_print(b, &st, 0);
	len = evbuffer_get_length(b);
	assert_true(len < sizeof(text));
	evbuffer_remove(b, text, len);
	text[len] = '\0';
	assert_non_null(strstr(text, "ready           yes"));
	evbuffer_free(b);
}

/* The smallest resend ring still sees a bulk through, with a loss. */
static void
test_bulk_small_ring(void **state)
{
	unsigned	 i;

	(void)state;
	node_free(&A);
	node_free(&B);
	resend = 8;
	node_init(&A, SYNC_ROLE_MASTER, "10.0.9.1", "10.0.9.2", 0, 8192);
	node_init(&B, SYNC_ROLE_BACKUP, "10.0.9.2", "10.0.9.1", 1, 8192);
	resend = 64;
	for (i = 0; i < 3000; i++)
		open_on_a(i, 1);
	sync_pump(A.s, now);
	nwire = 0;
	sync_alive(B.s, now);
	deliver(4);		/* an early message of the bulk */
	assert_int_equal(ct_count(B.w->ct), 3000);
	assert_int_equal(B.s->lk.ready, 1);
	/* the lost one was still there to resend: one bulk did it */
	sync_publish(A.s, now);
	assert_true(A.s->pub.seq.resent >= 1);
	assert_int_equal(A.s->pub.seq.resend_failed, 0);
	assert_int_equal(A.s->lk.st.bulks_sent, 1);
}

/* A holding connections 0 to conns - 1 that B never heard of, and B's
   BULK_REQ taken: A's bulk to come. */
static void
bulk_asked(unsigned conns)
{
	struct dgram	*d;
	size_t		 i, n;

	for (i = 0; i < conns; i++)
		open_on_a((unsigned)i, 0);
	sync_pump(A.s, now);
	nwire = 0;
	sync_alive(B.s, now);			/* BULK_REQ */
	d = wire_take(&n);
	for (i = 0; i < n; i++)
		sync_datagram(A.s, d[i].buf, d[i].len, &B.addr, now);
	free(d);
}

/* Made master half way through a bulk: nothing is left remembering. */
static void
test_master_mid_bulk(void **state)
{
	struct dgram	*d;
	size_t		 i, n;

	(void)state;
	bulk_asked(2000);
	sync_pump(A.s, now);		/* BULK_START, the first slices */
	d = wire_take(&n);
	assert_true(n > 2);
	for (i = 0; i < n / 2; i++)
		sync_datagram(B.s, d[i].buf, d[i].len, &A.addr, now);
	free(d);
	assert_int_equal(B.s->lk.rx.active, 1);
	assert_int_equal(B.w->ct->keeping, 1);
	assert_int_equal(sync_set_role(B.s, SYNC_ROLE_MASTER), 0);
	sync_command(B.s, now);
	assert_int_equal(B.s->lk.rx.active, 0);
	assert_int_equal(B.w->ct->keeping, 0);
	assert_null(B.w->ct->keep_bits);
}

static int
bulk_started(void)
{
	if (!B.s->lk.rx.active)
		return (0);
	assert_int_equal(B.w->ct->keeping, 1);
	/* keepalived's notify: the role now, the command at the sync
	   thread's next turn */
	assert_int_equal(sync_set_role(B.s, SYNC_ROLE_MASTER), 0);
	return (1);
}

/* Made master half way through a bulk, whose end comes before the sync
   thread reads the command: nothing is left remembering either. */
static void
test_master_bulk_end(void **state)
{
	(void)state;
	bulk_asked(2000);
	assert_int_equal(B.w->ct->keeping, 0);
	after_b = bulk_started;
	deliver(-1);
	assert_null(after_b);
	assert_int_equal(B.s->lk.rx.active, 0);
	assert_int_equal(B.s->lk.st.swept, 0);
	sync_command(B.s, now);
	assert_int_equal(B.w->ct->keeping, 0);
	assert_null(B.w->ct->keep_bits);
}

/* A ring that overflows loses no connection: the whole table follows.
   The sync thread counts the losses without writing the worker's line. */
static void
test_ring_full(void **state)
{
	uint8_t		 line[CACHELINE];
	uint64_t	 lost;
	unsigned	 i;

	(void)state;
	node_free(&A);
	node_init(&A, SYNC_ROLE_MASTER, "10.0.9.1", "10.0.9.2", 0, 256);
	/* the wake-up is the thread's; here nothing drains meanwhile */
	for (i = 0; i < 1000; i++)
		open_on_a(i, 0);
	assert_true(sync_room(A.s, 0) == 0);
	lost = A.s->lk.rings[0].lost;
	assert_int_equal(lost, 1000 - A.s->lk.ringsz);
	memcpy(line, &A.s->lk.rings[0], sizeof(line));
	sync_pump(A.s, now);
	assert_memory_equal(line, &A.s->lk.rings[0], sizeof(line));
	assert_int_equal(A.s->lk.st.lost, lost);
	sync_pump(A.s, now);
	assert_int_equal(A.s->lk.st.lost, lost);
	deliver(-1);
	assert_int_equal(A.s->lk.st.lost, lost);
	assert_true(A.s->lk.st.bulks_sent >= 1);
	assert_int_equal(ct_count(B.w->ct), 1000);
}

static unsigned	 wakes;

static void
wake_cb(evutil_socket_t fd, short what, void *arg)
{
	wakes++;
}

/* A ring half full wakes the sync thread, once until it drains. */
static void
test_wake(void **state)
{
	struct event_base *base;
	unsigned	 i;

	(void)state;
	node_free(&A);
	node_init(&A, SYNC_ROLE_MASTER, "10.0.9.1", "10.0.9.2", 0, 256);
	assert_non_null(base = event_base_new());
	assert_non_null(A.s->wakeev = event_new(base, -1, 0, wake_cb, NULL));
	wakes = 0;
	for (i = 0; i + 1 < A.s->lk.wake_at; i++)
		open_on_a(i, 0);
	assert_int_equal(A.s->wake_pending, 0);
	for (; i < A.s->lk.wake_at + 20; i++)
		open_on_a(i, 0);
	assert_int_equal(A.s->wake_pending, 1);
	(void)event_base_loop(base, EVLOOP_NONBLOCK);
	assert_int_equal(wakes, 1);
	/* drained: the next ring half full wakes it again */
	sync_pump(A.s, now);
	assert_int_equal(A.s->wake_pending, 0);
	for (; i < 2 * A.s->lk.wake_at + 20; i++)
		open_on_a(i, 0);
	(void)event_base_loop(base, EVLOOP_NONBLOCK);
	assert_int_equal(wakes, 2);
	assert_int_equal(A.s->lk.rings[0].lost, 0);
	event_free(A.s->wakeev);
	A.s->wakeev = NULL;
	event_base_free(base);
}

/* A master leaves the peer's records alone; a backup queues nothing. */
static void
test_roles(void **state)
{
	(void)state;
	assert_int_equal(sync_set_role(B.s, SYNC_ROLE_MASTER), 0);
	sync_command(B.s, now);
	assert_int_equal(sync_set_role(A.s, SYNC_ROLE_BACKUP), 0);
	sync_command(A.s, now);
	assert_int_equal(sync_set_role(A.s, 7), -1);
	/* A, backup now, queues nothing of its own */
	open_on_a(1, 0);
	assert_int_equal(sync_room(A.s, 0), A.s->lk.ringsz);
	/* B, master, ignores what A would send; A, backup, asked for
	   B's table, which has none of A's own: A holds B's table */
	deliver(-1);
	assert_int_equal(ct_count(B.w->ct), 0);
	assert_int_equal(ct_count(A.w->ct), 0);
	assert_int_equal(A.s->lk.st.swept, 1);
	assert_int_equal(A.s->lk.ready, 1);
}

/*
 * One worker a node.  A connection whose SYN's record reached B, made
 * master, before the old master saw the handshake end: in the grace B
 * takes the old master's news of its copy (a packet reached no copy
 * here yet), as a node of several workers does, else the connection
 * stays half open at B and its packets are INVALID there.  One a packet
 * reached on B stays B's.
 */
static void
test_master_takes_copy(void **state)
{
	struct ct_snap	 s = conn(5, 0x15), got;
	struct ct_entry	*e;

	(void)state;
	s.state = CT_TCP_SYN_RECV;
	s.flags = CT_SNAP_SEEN_REPLY;
	s.tclass = CT_TO_TCP_SYN_RECV;
	s.left_ms = 60000;
	assert_non_null(ct_import(A.w->ct, &s, now, NULL));
	deliver(-1);
	assert_non_null(e = find(&B, 5));
	ct_export(B.w->ct, e, &got);
	assert_int_equal(got.state, CT_TCP_SYN_RECV);
	assert_int_equal(sync_set_role(B.s, SYNC_ROLE_MASTER), 0);
	sync_command(B.s, now);
	/* A, still master, sees the handshake end */
	s = conn(5, 0x15);
	assert_non_null(ct_import(A.w->ct, &s, now, NULL));
	deliver(-1);
	assert_int_equal(B.s->lk.st.ignored, 0);
	assert_non_null(e = find(&B, 5));
	ct_export(B.w->ct, e, &got);
	assert_int_equal(got.state, CT_TCP_ESTABLISHED);
	assert_int_equal(got.left_ms, s.left_ms);
	/* a packet of B's reached it: A's news is left alone */
	assert_int_equal(worker_sync_seen(B.w, e), 1);
	s.state = CT_TCP_FIN_WAIT;
	s.tclass = CT_TO_TCP_FIN_WAIT;
	assert_non_null(ct_import(A.w->ct, &s, now, NULL));
	deliver(-1);
	assert_int_equal(B.s->lk.st.ignored, 1);
	ct_export(B.w->ct, find(&B, 5), &got);
	assert_int_equal(got.state, CT_TCP_ESTABLISHED);
}

/* The refresh sends long-lived connections again: new windows. */
static void
test_refresh(void **state)
{
	struct ct_entry	*e;
	struct ct_snap	 s;
	int		 k;

	(void)state;
	open_on_a(3, 0);
	deliver(-1);
	/* the window moves on without an event */
	s = conn(3, 0x13);
	s.tcp.end[0] = 123456;
	s.tcp.maxend[0] = 223456;
	A.w->importing = 1;
	assert_non_null(ct_import(A.w->ct, &s, now, NULL));
	A.w->importing = 0;
	deliver(-1);
	assert_non_null(e = find(&B, 3));
	ct_export(B.w->ct, e, &s);
	assert_int_not_equal(s.tcp.end[0], 123456);
	/* once older than refresh, it goes again */
	now += 11000;
	ct_expire(A.w->ct, now);
	for (k = 0; k < 60; k++)
		worker_sync_refresh(A.w, now);
	deliver(-1);
	assert_non_null(e = find(&B, 3));
	ct_export(B.w->ct, e, &s);
	assert_int_equal(s.tcp.end[0], 123456);
	assert_int_equal(s.tcp.maxend[0], 223456);
}

/* Windows that moved without an event go at the next flush, once. */
static void
test_dirty(void **state)
{
	struct ct_entry	*e;
	struct ct_snap	 s;

	(void)state;
	open_on_a(4, 0);
	deliver(-1);
	s = conn(4, 0x14);
	s.tcp.end[1] = 777777;
	s.tcp.maxend[1] = 877777;
	A.w->importing = 1;		/* no event: as a segment would */
	assert_non_null(e = ct_import(A.w->ct, &s, now, NULL));
	A.w->importing = 0;
	ct_dirty_mark(A.w->ct, e);
	ct_dirty_mark(A.w->ct, e);
	worker_sync_flush(A.w);
	deliver(-1);
	assert_non_null(e = find(&B, 4));
	ct_export(B.w->ct, e, &s);
	assert_int_equal(s.tcp.end[1], 777777);
	assert_int_equal(s.tcp.maxend[1], 877777);
	assert_int_equal(ct_dirty_count(A.w->ct), 0);
	/* a backup's marks go nowhere */
	assert_non_null(e = find(&B, 4));
	ct_dirty_mark(B.w->ct, e);
	worker_sync_flush(B.w);
	assert_int_equal(ct_dirty_count(B.w->ct), 0);
	assert_int_equal(sync_room(B.s, 0), B.s->lk.ringsz);
}

/* No word from the peer for [sync] alone seconds: ready alone; the
   peer's table later still comes when it appears. */
static void
test_alone(void **state)
{
	(void)state;
	open_on_a(1, 0);
	sync_pump(A.s, now);
	nwire = 0;
	sync_alive(B.s, now);
	assert_int_equal(B.s->lk.ready, 0);
	now += 10000;
	sync_alive(B.s, now);
	assert_int_equal(B.s->lk.ready, 1);
	assert_int_equal(B.s->lk.alone, 1);
	nwire = 0;
	/* the master shows up: its first word makes B ask for the table */
	sync_alive(A.s, now);
	deliver(-1);
	assert_int_equal(ct_count(B.w->ct), 1);
	assert_int_equal(B.s->lk.alone, 0);
}

/* The master restarts, with connection i alone in its new table, as a
   node that came back: what was on the wire from its last run is lost. */
static void
restart_a(unsigned i)
{
	nwire = 0;
	node_free(&A);
	node_init(&A, SYNC_ROLE_MASTER, "10.0.9.1", "10.0.9.2", 0, 8192);
	open_on_a(i, 0);
	sync_alive(A.s, now);		/* sync_main(): its first word */
}

/* nfqspictl sync resync on B: its BULK_REQ, taken off the wire in *d. */
static void
bulk_req(struct dgram *d)
{
	sync_resync(B.s);
	sync_command(B.s, now);
	assert_int_equal(nwire, 1);
	*d = wire[0];
	nwire = 0;
}

/* A ready backup whose master restarts asks for the new run's table,
   gives up a bulk of the last run that was half in, and asks again
   when that request is lost: the connections the master forgot go. */
static void
test_peer_restart(void **state)
{
	struct dgram	 d;
	unsigned	 i;

	(void)state;
	for (i = 0; i < 3; i++)
		open_on_a(i, 0);
	sync_alive(B.s, now);
	deliver(-1);
	assert_int_equal(B.s->lk.ready, 1);
	assert_int_equal(ct_count(B.w->ct), 3);

	/* nfqspictl sync resync: only the bulk's BULK_START comes in */
	bulk_req(&d);
	sync_datagram(A.s, d.buf, d.len, &B.addr, now);
	sync_pump(A.s, now);		/* BULK_START, UPDATE, BULK_END */
	assert_true(nwire >= 3);
	d = wire[0];
	sync_datagram(B.s, d.buf, d.len, &A.addr, now);
	assert_int_equal(B.s->lk.rx.active, 1);
	assert_int_equal(B.w->ct->keeping, 1);
	/* asked again meanwhile: the bulk half in is given up, its marks
	   too, until the next one starts */
	sync_resync(B.s);
	sync_command(B.s, now);
	assert_int_equal(B.s->lk.rx.active, 0);
	assert_int_equal(B.w->ct->keeping, 0);
	restart_a(7);
	deliver(-1);
	assert_int_equal(B.s->lk.rx.active, 0);
	assert_int_equal(B.s->lk.rx.asked, 0);
	assert_int_equal(B.w->ct->keeping, 0);
	assert_int_equal(ct_count(B.w->ct), 1);
	assert_non_null(find(&B, 7));

	/* again, and the BULK_REQ its first word calls for is lost: the
	   next ALIVE tick asks again */
	restart_a(8);
	deliver(2);		/* A's ALIVE and UPDATE, then B's BULK_REQ */
	assert_int_equal(B.s->lk.rx.asked, 1);
	assert_int_equal(ct_count(B.w->ct), 2);
	now += SYNC_BULKREQ_MS;
	sync_alive(B.s, now);
	deliver(-1);
	assert_int_equal(B.s->lk.rx.asked, 0);
	assert_int_equal(ct_count(B.w->ct), 1);
	assert_null(find(&B, 7));
	assert_non_null(find(&B, 8));
	assert_int_equal(B.s->lk.st.swept, 4);
}

/*
 * A, master, asks B for its table (nfqspictl sync resync) and takes its
 * BULK_START; B restarts before the end: that table never ends, and
 * A gives it up once it hears B's new run.  Before, only a backup did,
 * and A's sync status showed a table coming in until its next command.
 */
static void
test_master_peer_restart(void **state)
{
	struct dgram	 req;

	(void)state;
	sync_alive(B.s, now);
	deliver(-1);
	assert_int_equal(B.s->lk.ready, 1);
	sync_resync(A.s);
	sync_command(A.s, now);
	assert_int_equal(nwire, 1);		/* its BULK_REQ */
	req = wire[0];
	nwire = 0;
	sync_datagram(B.s, req.buf, req.len, &A.addr, now);
	assert_int_equal(B.s->lk.tx.active, 1);
	assert_true(nwire >= 1);		/* BULK_START first */
	sync_datagram(A.s, wire[0].buf, wire[0].len, &B.addr, now);
	nwire = 0;
	assert_int_equal(A.s->lk.rx.active, 1);
	node_free(&B);
	node_init(&B, SYNC_ROLE_BACKUP, "10.0.9.2", "10.0.9.1", 1, 8192);
	sync_alive(B.s, now);			/* its first word */
	deliver(-1);
	assert_int_equal(A.s->lk.rx.active, 0);
	assert_int_equal(B.s->lk.ready, 1);
}

/* A, a master of two workers, and B, a backup of one, anew. */
static void
two_nodes(void)
{
	node_free(&A);
	node_free(&B);
	nworkers = 2;
	node_init(&A, SYNC_ROLE_MASTER, "10.0.9.1", "10.0.9.2", 0, 8192);
	nworkers = 1;
	node_init(&B, SYNC_ROLE_BACKUP, "10.0.9.2", "10.0.9.1", 1, 8192);
}

/* Those two, A's worker 0 holding connections 0 to 9, worker 1 n from
   10 on and then 3000 (walked last): B ready, with them all. */
static void
moved_nodes(unsigned n)
{
	unsigned	 i;

	two_nodes();
	for (i = 0; i < 10; i++)
		open_in(0, i, 0);
	for (i = 10; i < 10 + n; i++)
		open_in(1, i, 0);
	open_in(1, 3000, 0);
	sync_alive(B.s, now);
	deliver(-1);
	assert_int_equal(B.s->lk.ready, 1);
	assert_int_equal(ct_count(B.w->ct), 10 + n + 1);
}

/*
 * A, of two workers, sends B its whole table again (nfqspictl sync
 * resync); worker 0 holds 10 connections, worker 1 2000 and then 3000,
 * walked last.  The first flush sends worker 0 and a part of worker 1.
 * 3000 leaves worker 1 before that flush (gave 0) or after it (1), and
 * reaches worker 0 after it (took 1) or after the bulk (2): it is in
 * neither slice, and B's sweep at the bulk's end would end it, unless
 * the hand-over tells B of it.
 */
static void
bulk_moved(int gave, int took)
{
	struct sync_rec	 r;
	struct ct_snap	 s = conn(3000, 0);
	struct dgram	 d;

	moved_nodes(2000);
	bulk_req(&d);
	if (gave == 0)
		assert_int_equal(worker_sync_give(A.all[1], &s.k, &r), 1);
	sync_datagram(A.s, d.buf, d.len, &B.addr, now);	/* the bulk */
	sync_pump(A.s, now);		/* BULK_START, the first slices */
	assert_int_equal(A.s->lk.tx.active, 1);
	assert_int_equal(A.s->lk.tx.wi, 1);
	assert_int_not_equal(A.s->lk.tx.cursor, 0);
	if (gave == 1)
		assert_int_equal(worker_sync_give(A.all[1], &s.k, &r), 1);
	if (took == 1)
		worker_sync_adopt(A.all[0], &r);
	deliver(-1);
	assert_int_equal(A.s->lk.tx.active, 0);
	if (took == 2) {
		worker_sync_adopt(A.all[0], &r);
		deliver(-1);
	}
	assert_int_equal(A.all[0]->st.adopted, 1);
	assert_int_equal(B.s->lk.ready, 1);
	assert_non_null(find(&B, 3000));
	assert_int_equal(ct_count(B.w->ct), 2011);
}

/* Handed over while the bulk is out, from worker 1, not walked yet, to
   worker 0, walked. */
static void
test_bulk_moved(void **state)
{
	(void)state;
	bulk_moved(1, 1);
}

/* Given before the bulk began, taken after it walked the taker: the
   taker queues it. */
static void
test_bulk_moved_late(void **state)
{
	(void)state;
	bulk_moved(0, 1);
}

/* Given while the bulk was out, taken after it ended: the giver queues
   it. */
static void
test_bulk_moved_after(void **state)
{
	(void)state;
	bulk_moved(1, 2);
}

/*
 * A's worker 1 has ended (its queue lost: A exits) when B asks for the
 * table again: the rest of worker 1's table cannot go, and a BULK_END
 * would have B's sweep end those connections, on the node that takes
 * over once A is gone.  A gives the bulk up, no end sent: B keeps
 * every one, and none begins after it.
 */
static void
test_bulk_worker_gone(void **state)
{
	unsigned	 i, sent, got;

	(void)state;
	two_nodes();
	for (i = 0; i < 10; i++)
		open_in(0, i, 0);
	for (i = 10; i < 310; i++)
		open_in(1, i, 0);
	sync_alive(B.s, now);
	deliver(-1);
	assert_int_equal(B.s->lk.ready, 1);
	assert_int_equal(ct_count(B.w->ct), 310);
	got = (unsigned)B.s->lk.st.bulks_received;

	stopped = 1u << 1;
	unsent_infos = 0;
	sync_resync(B.s);
	sync_command(B.s, now);		/* BULK_REQ */
	deliver(-1);
	assert_int_equal(unsent_infos, 1);
	assert_int_equal(ct_count(B.w->ct), 310);
	assert_non_null(find(&B, 200));
	assert_int_equal(B.s->lk.st.swept, 0);
	assert_int_equal(B.s->lk.st.bulks_received, got);
	assert_int_equal(A.s->lk.tx.active, 0);
	assert_int_equal(A.s->lk.stopped, 2);
	sent = (unsigned)A.s->lk.st.bulks_sent;
	/* asked again (B's resync, a NACK past the ring): none goes */
	now += 2 * SYNC_BULKREQ_MS;
	sync_resync(B.s);
	sync_command(B.s, now);
	deliver(-1);
	assert_int_equal(A.s->lk.st.bulks_sent, sent);
	assert_int_equal(ct_count(B.w->ct), 310);
	assert_int_equal(unsent_infos, 1);	/* not again */
	stopped = 0;
}

/*
 * A sends B its whole table again; worker 0 holds 10 connections,
 * worker 1 300 and then 3000, walked last, two slices in one flush.
 * Between them, 3000 goes from worker 1 to worker 0, walked already:
 * it is in neither slice, and the hand-over's changes, queued after
 * this flush's drain, must still reach B before BULK_END, whose sweep
 * would end it.
 */
static struct sync_rec	 moved_rec;

static void
hand_over(void)
{
	struct ct_snap	 s = conn(3000, 0);

	assert_int_equal(worker_sync_give(A.all[1], &s.k, &moved_rec), 1);
	worker_sync_adopt(A.all[0], &moved_rec);
}

static void
test_bulk_moved_walking(void **state)
{
	struct dgram	 d;
	uint64_t	 bulks;

	(void)state;
	moved_nodes(300);
	bulks = B.s->lk.st.bulks_received;

	bulk_req(&d);
	sync_datagram(A.s, d.buf, d.len, &B.addr, now);
	between = hand_over;
	sync_pump(A.s, now);		/* the whole bulk */
	assert_null(between);
	assert_int_equal(A.s->lk.tx.active, 0);
	assert_int_equal(A.s->lk.tx.records, 310);
	assert_int_equal(A.all[0]->st.adopted, 1);
	deliver(-1);
	assert_int_equal(B.s->lk.st.bulks_received, bulks + 1);
	assert_int_equal(B.s->lk.st.swept, 0);
	assert_non_null(find(&B, 3000));
	assert_int_equal(ct_count(B.w->ct), 311);
}

/*
 * Worker 1 gives 3000 away before A's bulk begins (it sees none going),
 * but its answer reaches worker 0 only after the walk passed both: its
 * thread was held up between the two (preempted, busy with packets), and
 * worker 0's with its own packets.  Worker 0 runs events in order, so it
 * takes the answer before the bulk's first call to it that follows the
 * walk: the fence.  It must still see the bulk going then, or nobody
 * tells B of 3000 and B's sweep at BULK_END ends it.
 */
static struct sync_rec	 late_rec;

static void
take_late(void)
{
	worker_sync_adopt(A.all[0], &late_rec);
}

/* B's resync taken by A, worker wi giving s away (into late_rec) just
   before: the whole walk, fence() run at its fence */
static void
walk_given(unsigned wi, const struct ct_snap *s, void (*fence)(void))
{
	struct dgram	 d;

	bulk_req(&d);
	assert_int_equal(worker_sync_give(A.all[wi], &s->k, &late_rec), 1);
	sync_datagram(A.s, d.buf, d.len, &B.addr, now);
	at_fence = fence;
	sync_pump(A.s, now);
	assert_null(at_fence);
}

static void
test_bulk_moved_fence(void **state)
{
	struct ct_snap	 s = conn(3000, 0);

	(void)state;
	moved_nodes(300);

	walk_given(1, &s, take_late);
	assert_int_equal(A.s->lk.tx.active, 0);
	assert_int_equal(A.s->lk.tx.records, 310);
	assert_int_equal(A.all[0]->st.adopted, 1);
	deliver(-1);
	assert_int_equal(B.s->lk.st.swept, 0);
	assert_non_null(find(&B, 3000));
	assert_int_equal(ct_count(B.w->ct), 311);
}

/*
 * As above, but the hand-over goes the other way, to a worker that
 * stops (SIGTERM's stop) after its part and before the fence: 5, given
 * up by worker 0 before the walk, never reaches worker 1, nor B as a
 * change.  A BULK_END would have B's sweep end it: the bulk is given up
 * instead, B keeping its table.  (B's one worker is 0: 1 alone stops.)
 */
static void
stop_1(void)
{
	stopped = 1u << 1;
}

static void
test_bulk_fence_stopped(void **state)
{
	struct ct_snap	 s = conn(5, 0);
	uint64_t	 got;

	(void)state;
	moved_nodes(300);
	got = B.s->lk.st.bulks_received;

	walk_given(0, &s, stop_1);
	assert_int_equal(A.s->lk.tx.active, 0);
	assert_int_equal(A.s->lk.tx.records, 310);
	assert_int_equal(A.s->lk.stopped, 2);
	assert_int_equal(A.s->lk.bulking, 0);
	deliver(-1);
	assert_int_equal(B.s->lk.st.swept, 0);
	assert_int_equal(B.s->lk.st.bulks_received, got);
	assert_non_null(find(&B, 5));
	stopped = 0;
}

/*
 * A sends B its whole table again, and ends connection 0 once the bulk
 * brought it.  Its DELETE reaches B before BULK_END, and a packet that
 * B forwards as backup makes a connection A does not have, in the slot
 * 0 left: the bulk did not bring that one, so its end sweeps it.
 */
static struct ct_entry	*gone_e;	/* 0's entry on B */
static struct ct_tuple	 new_k;		/* B's new one */

/* A UDP flow from port sport that B's worker w forwards: its entry. */
static struct ct_entry *
b_forwards_in(struct worker *w, uint16_t sport)
{
	struct ct_result res;
	struct pkt	 p;

	memset(&p, 0, sizeof(p));
	p.family = AF_INET;
	p.proto = IPPROTO_UDP;
	p.ttl = 64;
	p.src.a32[0] = htonl(0x0a030001u);
	p.dst.a32[0] = htonl(0x0a020001u);
	p.sport = sport;
	p.dport = 53;
	p.paylen = 10;
	p.wscale = PKT_WSCALE_NONE;
	ct_track(w->ct, &p, now, &res);
	assert_int_equal(res.state, CT_NEW);
	assert_int_equal(ct_confirm(w->ct, &p, now, 0, 0, &res), 0);
	return (res.entry);
}

static struct ct_entry *
b_forwards(uint16_t sport)
{
	return (b_forwards_in(B.w, sport));
}

static int
reuse_slot(void)
{
	if (find(&B, 0) != NULL)
		return (0);
	assert_int_equal(B.s->lk.rx.active, 1);
	assert_ptr_equal(b_forwards(5353), gone_e);	/* 0's slot */
	return (1);
}

static void
test_bulk_reused_slot(void **state)
{
	struct ct_snap	 s = conn(0, 0);
	struct dgram	*d, req;
	size_t		 i, n;

	(void)state;
	for (i = 0; i < 2000; i++)
		open_on_a((unsigned)i, 0);
	sync_alive(B.s, now);
	deliver(-1);
	assert_int_equal(B.s->lk.ready, 1);
	assert_int_equal(ct_count(B.w->ct), 2000);
	assert_non_null(gone_e = find(&B, 0));

	bulk_req(&req);
	sync_datagram(A.s, req.buf, req.len, &B.addr, now);
	sync_pump(A.s, now);		/* BULK_START, the first slices */
	assert_int_equal(A.s->lk.tx.active, 1);
	n = nwire;
	assert_non_null(d = malloc(n * sizeof(*d)));
	memcpy(d, wire, n * sizeof(*d));
	nwire = 0;
	for (i = 0; i < n; i++)
		sync_datagram(B.s, d[i].buf, d[i].len, &A.addr, now);
	free(d);
	assert_int_equal(B.s->lk.rx.active, 1);
	assert_int_equal(ct_forget(A.w->ct, &s.k, now), 0);
	after_b = reuse_slot;
	deliver(-1);
	assert_null(after_b);
	assert_int_equal(A.s->lk.tx.active, 0);
	assert_int_equal(B.s->lk.rx.active, 0);
	assert_int_equal(B.s->lk.st.swept, 1);
	assert_int_equal(ct_count(B.w->ct), 1999);
	assert_null(find(&B, 0));
}

/* B's table is full of connections A no longer has, and A's whole
   table comes: each of A's connections takes the room of a stale one,
   none is refused. */
static int
setup_full(void **state)
{
	int	 rc;

	bmax = 100;
	rc = setup(state);
	bmax = 0;
	return (rc);
}

/* B, its table full of 1000 to 1099, asks for A's of 0 to 99;
   meanwhile() after each datagram B takes until it returns 1 (NULL:
   nothing).  A's take the room of B's, none refused. */
static void
bulk_full(int (*meanwhile)(void))
{
	struct ct_snap	 s;
	unsigned	 i;

	for (i = 0; i < 100; i++) {
		s = conn(1000 + i, 0);
		assert_non_null(ct_import(B.w->ct, &s, now, NULL));
		open_on_a(i, 0);
	}
	sync_pump(A.s, now);
	nwire = 0;			/* nobody listened */
	assert_int_equal(ct_count(B.w->ct), 100);
	sync_alive(B.s, now);		/* asks: BULK_REQ */
	after_b = meanwhile;
	deliver(-1);
	assert_null(after_b);
	assert_int_equal(B.s->lk.ready, 1);
	assert_int_equal(B.s->lk.st.import_failed, 0);
	assert_int_equal(ct_count(B.w->ct), 100);
	for (i = 0; i < 100; i++) {
		assert_non_null(find(&B, i));
		assert_null(find(&B, 1000 + i));
	}
}

static void
test_bulk_full(void **state)
{
	(void)state;
	bulk_full(NULL);
}

/* Mid-bulk, B forwards a packet into its full table. */
static int
full_forwards(void)
{
	struct ct_stats	 st;

	ct_get_stats(B.w->ct, &st);
	if (!B.s->lk.rx.active || st.early_drop < 10)
		return (0);
	assert_non_null(b_forwards(5353));
	return (1);
}

/* As test_bulk_full, and a packet B forwards meanwhile makes room as an
   import does: with what the bulk did not bring, not with what it did. */
static void
test_bulk_full_packet(void **state)
{
	(void)state;
	bulk_full(full_forwards);
}

/*
 * B sweeps what A's whole table did not bring, a slice at a time, and
 * between two slices a packet it forwards (or takes, made master just
 * now) makes a new connection, in a slot the sweep has not reached:
 * newer than the table, it stays.
 */
static void
sweep_meets_new(void)
{
	struct ct_entry	*e = b_forwards(5354);
	struct ct_tuple	 k;

	memset(&k, 0, sizeof(k));
	ct_entry_tuple(e, &k.family, &k.proto, &k.src, &k.dst, &k.sport,
	    &k.dport);
	new_k = k;
}

static void
test_bulk_sweep_newer(void **state)
{
	struct ct_snap	 s = conn(9000, 0);
	unsigned	 i;

	(void)state;
	for (i = 0; i < SYNC_SWEEP + 1000; i++)
		open_on_a(i, 0);
	sync_alive(B.s, now);
	deliver(-1);
	assert_int_equal(B.s->lk.ready, 1);
	assert_int_equal(ct_count(B.w->ct), SYNC_SWEEP + 1000);
	/* one B has that A no longer has */
	assert_non_null(ct_import(B.w->ct, &s, now, NULL));
	sync_resync(B.s);
	sync_command(B.s, now);
	between_sweep = sweep_meets_new;
	deliver(-1);
	assert_null(between_sweep);
	assert_int_equal(B.s->lk.st.swept, 1);
	assert_null(find(&B, 9000));
	assert_non_null(ct_lookup(B.w->ct, &new_k));
	assert_int_equal(ct_count(B.w->ct), SYNC_SWEEP + 1001);
}

/* B's connections, in all its workers. */
static size_t
count_b(void)
{
	size_t	 n = 0;

	for (unsigned i = 0; i < B.nw; i++)
		n += ct_count(B.all[i]->ct);
	return (n);
}

/* A's tables all out, sent of them in all: B has its 3000 connections
   and is ready. */
static void
bulk_settled(uint64_t sent)
{
	assert_int_equal(A.s->lk.st.bulks_sent, sent);
	assert_int_equal(A.s->lk.tx.active, 0);
	assert_int_equal(count_b(), 3000);
	assert_int_equal(B.s->lk.ready, 1);
}

/*
 * B, with two workers, was master, and one of them asked home for
 * connection 3000; home gave it, and B was made backup before the
 * answer came: it goes back home (worker_adopt_back(), keep) while A's
 * whole table comes in.  A ended 3000 meanwhile (its DELETE found
 * nothing at B): the table did not bring it, so its end sweeps it.
 */
static void
test_bulk_home_late(void **state)
{
	struct sync_batch b;
	struct sync_rec	 r, r0;
	struct dgram	*d, req;
	struct worker	*h, *h0;
	size_t		 i, n;

	(void)state;
	node_free(&B);
	nworkers = 2;
	node_init(&B, SYNC_ROLE_BACKUP, "10.0.9.2", "10.0.9.1", 1, 8192);
	nworkers = 1;
	for (i = 0; i < 2000; i++)
		open_on_a((unsigned)i, 0);
	sync_alive(B.s, now);
	deliver(-1);
	assert_int_equal(B.s->lk.ready, 1);
	assert_int_equal(count_b(), 2000);
	memset(&r, 0, sizeof(r));
	memset(&r0, 0, sizeof(r0));
	r.op = SYNC_OP_UPSERT;
	r.s = conn(3000, 0);
	h = B.all[synclink_home(&r.s.k, 2)];

	bulk_req(&req);
	sync_datagram(A.s, req.buf, req.len, &B.addr, now);
	sync_pump(A.s, now);		/* BULK_START, the first slices */
	n = nwire;
	assert_non_null(d = malloc(n * sizeof(*d)));
	memcpy(d, wire, n * sizeof(*d));
	nwire = 0;
	for (i = 0; i < n; i++)
		sync_datagram(B.s, d[i].buf, d[i].len, &A.addr, now);
	free(d);
	assert_int_equal(B.s->lk.rx.active, 1);
	memset(&b, 0, sizeof(b));
	b.rec = &r;
	b.n = 1;
	b.keep = 1;
	worker_sync_home(h, &b);
	assert_non_null(ct_lookup(h->ct, &r.s.k));
	/* one the table brought already stays so, whatever comes home */
	r0.op = SYNC_OP_UPSERT;
	r0.s = conn(0, 0);
	h0 = B.all[synclink_home(&r0.s.k, 2)];
	assert_true(ct_resync_brought(h0->ct, ct_lookup(h0->ct, &r0.s.k)));
	b.rec = &r0;
	b.keep = 0;
	worker_sync_home(h0, &b);
	deliver(-1);
	assert_int_equal(B.s->lk.rx.active, 0);
	assert_int_equal(B.s->lk.st.swept, 1);
	assert_null(ct_lookup(h->ct, &r.s.k));
	assert_non_null(ct_lookup(h0->ct, &r0.s.k));
	assert_int_equal(count_b(), 2000);
}

/*
 * B, with two workers, sweeps worker 0 and then worker 1; meanwhile
 * worker 1 takes a packet that makes a new connection.  The table's end
 * came before it: newer than the table, it stays.
 */
static void
sweep_1_meets_new(void)
{
	struct ct_entry	*e = b_forwards_in(B.all[1], 5355);

	memset(&new_k, 0, sizeof(new_k));
	ct_entry_tuple(e, &new_k.family, &new_k.proto, &new_k.src,
	    &new_k.dst, &new_k.sport, &new_k.dport);
}

static void
test_bulk_sweep_workers(void **state)
{
	struct ct_snap	 s = conn(9000, 0);
	struct worker	*h;
	size_t		 before;
	unsigned	 i;

	(void)state;
	node_free(&B);
	nworkers = 2;
	node_init(&B, SYNC_ROLE_BACKUP, "10.0.9.2", "10.0.9.1", 1, 8192);
	nworkers = 1;
	for (i = 0; i < 2000; i++)
		open_on_a(i, 0);
	sync_alive(B.s, now);
	deliver(-1);
	assert_int_equal(B.s->lk.ready, 1);
	assert_int_equal(count_b(), 2000);
	/* one B has that A no longer has */
	h = B.all[synclink_home(&s.k, 2)];
	assert_non_null(ct_import(h->ct, &s, now, NULL));
	before = ct_count(B.all[1]->ct);
	sync_resync(B.s);
	sync_command(B.s, now);
	first_sweep_1 = sweep_1_meets_new;
	deliver(-1);
	assert_null(first_sweep_1);
	assert_int_equal(B.s->lk.st.swept, 1);
	assert_null(ct_lookup(h->ct, &s.k));
	assert_non_null(ct_lookup(B.all[1]->ct, &new_k));
	assert_int_equal(count_b(), 2001);
	assert_int_equal(ct_count(B.all[1]->ct), before + 1 -
	    (h == B.all[1]));
}

/*
 * Made backup while the workers stop: worker 0, still running, gives
 * up the connections whose home is worker 1 (synclink_homecoming()),
 * which has stopped and takes nothing.  They were in no table, so
 * missing from the state file written next; they go into home's table
 * at sync_stop(), every worker stopped, and nothing of them leaks if
 * the node ends without it.
 */
static void
test_home_stopped(void **state)
{
	struct ct_snap	 s;
	unsigned	 i, home1 = 0;

	(void)state;
	node_free(&A);
	nworkers = 2;
	node_init(&A, SYNC_ROLE_MASTER, "10.0.9.1", "10.0.9.2", 0, 8192);
	nworkers = 1;
	for (i = 0; i < 2; i++) {
		A.all[i]->peers = A.all;
		A.all[i]->npeers = 2;
	}
	/* each in the worker that is not its home */
	for (i = 0; i < 64; i++) {
		s = conn(i, 0);
		if (synclink_home(&s.k, 2) == 1)
			home1++;
		open_in(!synclink_home(&s.k, 2), i, 0);
	}
	assert_true(home1 > 0 && home1 < 64);
	stopped = 1u << 1;
	assert_int_equal(sync_set_role(A.s, SYNC_ROLE_BACKUP), 0);
	sync_command(A.s, now);
	assert_int_equal(ct_count(A.all[0]->ct), 0);
	assert_int_equal(ct_count(A.all[1]->ct), 64 - home1);
	stopped = 1u << 0 | 1u << 1;
	sync_stop(A.s);
	assert_int_equal(ct_count(A.all[1]->ct), 64);
	for (i = 0; i < 64; i++) {
		s = conn(i, 0);
		assert_non_null(ct_lookup(A.all[1]->ct, &s.k));
	}
	/* again, freed without a stop (a start that failed) */
	for (i = 0; i < 64; i++) {
		s = conn(i, 0);
		if (synclink_home(&s.k, 2) == 1) {
			ct_remove(A.all[1]->ct, ct_lookup(A.all[1]->ct,
			    &s.k));
			open_in(0, i, 0);
		}
	}
	stopped = 1u << 1;
	assert_int_equal(sync_set_role(A.s, SYNC_ROLE_MASTER), 0);
	sync_command(A.s, now);
	assert_int_equal(sync_set_role(A.s, SYNC_ROLE_BACKUP), 0);
	sync_command(A.s, now);
	assert_non_null(A.s->later);
	stopped = 0;
}

/* The first connection from "from" whose home is worker 1 of two. */
static unsigned
home_1(unsigned from)
{
	struct ct_snap	 s;
	unsigned	 i;

	for (i = from, s = conn(i, 0); synclink_home(&s.k, 2) != 1;
	    s = conn(++i, 0))
		;
	return (i);
}

/*
 * A master of two workers, each the other's peer, beside a ready backup
 * of one: the first connection from "from" whose home is worker 1
 * (worker 0's ring drains first).
 */
static unsigned
two_workers(unsigned from)
{
	unsigned	 wi;

	two_nodes();
	for (wi = 0; wi < 2; wi++) {
		A.all[wi]->peers = A.all;
		A.all[wi]->npeers = 2;
	}
	sync_alive(B.s, now);
	deliver(-1);
	assert_int_equal(B.s->lk.ready, 1);
	return (home_1(from));
}

/* The peer's record of connection i (its mark 0x21), a batch of one. */
static void
peer_copy(struct sync_batch *b, struct sync_rec *r, unsigned i)
{
	memset(r, 0, sizeof(*r));
	r->op = SYNC_OP_UPSERT;
	r->s = conn(i, 0x21);
	memset(b, 0, sizeof(*b));
	b->rec = r;
	b->n = 1;
}

/*
 * After a takeover home holds the peer's copy of a connection that no
 * packet reached, and a new connection of the same tuple lives in the
 * worker the kernel sends its packets to (home has not read the word of
 * it yet, or its list was full).  A command that ends the copy and not
 * the other (a filter on its state or its direction; a flush that
 * walked that worker before the new one came) sends the copy's DELETE,
 * which names the tuple only: the peer ends its record of the new
 * connection, heard before it (apart) or in the same flush from a ring
 * drained first (together).  The whole table follows the DELETE.
 */
static void
delete_copy(int apart)
{
	struct sync_batch b;
	struct sync_rec	 r;
	struct ct_entry	*e;
	struct ct_snap	 s;
	uint64_t	 bulks;
	unsigned	 i;

	i = two_workers(3000);
	peer_copy(&b, &r, i);
	worker_sync_home(A.all[1], &b);
	assert_int_equal(A.all[1]->synced, 1);
	open_in(0, i, 0);
	if (apart) {
		deliver(-1);
		assert_non_null(e = find(&B, i));
		ct_export(B.w->ct, e, &s);
		assert_int_equal(s.mark, 0x10 + (i & 7));
	}
	bulks = A.s->lk.st.bulks_sent;
	A.all[1]->by_hand = 1;
	assert_int_equal(ct_forget(A.all[1]->ct, &r.s.k, now), 0);
	A.all[1]->by_hand = 0;
	assert_int_equal(A.all[1]->synced, 0);
	deliver(-1);
	assert_int_equal(A.s->lk.st.bulks_sent, bulks + 1);
	assert_non_null(e = find(&B, i));
	ct_export(B.w->ct, e, &s);
	assert_int_equal(s.mark, 0x10 + (i & 7));
	assert_int_equal(ct_count(B.w->ct), 1);

	/* the live one's end, by hand: its DELETE, no table after */
	bulks = A.s->lk.st.bulks_sent;
	A.all[0]->by_hand = 1;
	assert_int_equal(ct_forget(A.all[0]->ct, &r.s.k, now), 0);
	A.all[0]->by_hand = 0;
	deliver(-1);
	assert_int_equal(A.s->lk.st.bulks_sent, bulks);
	assert_null(find(&B, i));
}

static void
test_delete_copy_apart(void **state)
{
	(void)state;
	delete_copy(1);
}

static void
test_delete_copy_together(void **state)
{
	(void)state;
	delete_copy(0);
}

/*
 * A burst of by-hand ends of copies, a pump apart (a script of
 * conntrack -D, a flush of a big table): the first sends the whole
 * table, those that come while it goes one more after it.  A restart
 * at each pump sent the table's first slices again each time, the
 * peer began its resync again, and the table was whole only after the
 * last of the burst.
 */
static void
test_delete_copy_burst(void **state)
{
	struct sync_batch b;
	struct sync_rec	 r[4];
	uint64_t	 bulks, got;
	unsigned	 i, k;

	(void)state;
	i = two_workers(3000);
	/* more than the peer's window holds: the table takes several
	   pumps, each after the peer's ACKs */
	for (k = 0; k < 3000; k++)
		open_in(0, k, 0);
	for (k = 0; k < 4; k++) {
		peer_copy(&b, &r[k], i);
		worker_sync_home(A.all[1], &b);
		i = home_1(i + 1);
	}
	assert_int_equal(A.all[1]->synced, 4);
	deliver(-1);
	assert_int_equal(count_b(), 3000);
	bulks = A.s->lk.st.bulks_sent;
	got = B.s->lk.st.bulks_received;
	for (k = 0; k < 4; k++) {
		A.all[1]->by_hand = 1;
		assert_int_equal(ct_forget(A.all[1]->ct, &r[k].s.k, now), 0);
		A.all[1]->by_hand = 0;
		sync_pump(A.s, now);	/* nothing heard of the peer */
		now += 50;
		assert_int_equal(A.s->lk.tx.active, 1);
		assert_int_equal(A.s->lk.st.bulks_sent, bulks + 1);
	}
	deliver(-1);
	/* the one under way, then one more */
	assert_int_equal(B.s->lk.st.bulks_received, got + 2);
	bulk_settled(bulks + 2);
}

/* A with 3000 connections B never heard of, and B's BULK_REQ taken:
   A's bulk under way, more than the peer's window holds. */
static void
big_bulk_asked(void)
{
	struct dgram	*d;
	size_t		 i, n;

	for (i = 0; i < 3000; i++)
		open_on_a((unsigned)i, 0);
	sync_pump(A.s, now);
	nwire = 0;
	sync_alive(B.s, now);			/* BULK_REQ */
	d = wire_take(&n);
	for (i = 0; i < n; i++)
		sync_datagram(A.s, d[i].buf, d[i].len, &B.addr, now);
	free(d);
	assert_int_equal(A.s->lk.tx.active, 1);
	assert_int_equal(A.s->lk.st.bulks_sent, 1);
}

/* One pump of each node and the wire handed over once, both ways. */
static void
exchange(void)
{
	struct dgram	*d;
	size_t		 i, n;

	sync_pump(A.s, now);
	sync_pump(B.s, now);
	d = wire_take(&n);
	for (i = 0; i < n; i++)
		sync_datagram(d[i].fd == A.s->fd ? B.s : A.s, d[i].buf,
		    d[i].len, d[i].fd == A.s->fd ? &A.addr : &B.addr, now);
	free(d);
	now += 1;
}

/*
 * A slow link: B asks for the table again while A's goes out, at every
 * exchange (its wait for a bulk that started is over each time).  The
 * one going out ends, then exactly one more follows.  A restart at each
 * request never ended a table.
 */
static void
test_bulk_req_burst(void **state)
{
	unsigned	 k;

	(void)state;
	big_bulk_asked();
	for (k = 0; k < 20 && B.s->lk.st.bulks_received == 0; k++) {
		now += 10 * SYNC_BULKREQ_MS;
		sync_alive(B.s, now);		/* BULK_REQ again */
		exchange();
	}
	assert_int_equal(B.s->lk.st.bulks_received, 1);
	assert_true(B.s->lk.st.received > 0);
	deliver(-1);
	assert_int_equal(B.s->lk.st.bulks_received, 2);
	bulk_settled(2);
}

/*
 * B restarts while A's table goes out: its new run never had that
 * table's BULK_START, and its BULK_REQ starts a new table at once (one:
 * its later requests wait for that one's end).
 */
static void
test_bulk_req_new_run(void **state)
{
	struct dgram	*d;
	size_t		 i, n;

	(void)state;
	big_bulk_asked();
	exchange();			/* the first slices */
	assert_int_equal(A.s->lk.tx.active, 1);
	nwire = 0;
	node_free(&B);
	node_init(&B, SYNC_ROLE_BACKUP, "10.0.9.2", "10.0.9.1", 1, 8192);
	sync_alive(B.s, now);		/* its first word: ALIVE, BULK_REQ */
	d = wire_take(&n);
	for (i = 0; i < n; i++)
		sync_datagram(A.s, d[i].buf, d[i].len, &B.addr, now);
	free(d);
	assert_int_equal(A.s->lk.st.bulks_sent, 2);
	sync_alive(B.s, now + 10 * SYNC_BULKREQ_MS);	/* asks again */
	deliver(-1);
	bulk_settled(2);
}

/*
 * A switchover: B, ready with A's 3000 connections, is made master and
 * sends its table; A, still master, takes its BULK_START, then is made
 * backup and asks (its ack past that start).  B starts the table again
 * at once: one table and its first slices.  Before, B let the first
 * one end, A having given it up, then sent one more: two tables.
 */
static void
test_switchover_restart(void **state)
{
	uint64_t	 k;

	(void)state;
	big_bulk_asked();
	deliver(-1);
	assert_int_equal(count_b(), 3000);
	k = B.s->lk.st.bulks_sent;
	assert_int_equal(sync_set_role(B.s, SYNC_ROLE_MASTER), 0);
	sync_command(B.s, now);
	assert_int_equal(B.s->lk.st.bulks_sent, k + 1);
	exchange();			/* BULK_START, slices: A master */
	assert_int_equal(A.s->lk.rx.active, 1);
	assert_int_equal(sync_set_role(A.s, SYNC_ROLE_BACKUP), 0);
	sync_command(A.s, now);		/* its BULK_REQ */
	exchange();
	assert_int_equal(B.s->lk.st.bulks_sent, k + 2);
	assert_int_equal(B.s->lk.again, 0);
	assert_true(B.s->lk.tx.records < 3000);
	deliver(-1);
	assert_int_equal(B.s->lk.st.bulks_sent, k + 2);
	assert_int_equal(B.s->lk.tx.active, 0);
	assert_int_equal(A.s->lk.st.bulks_received, 1);
	assert_int_equal(A.s->lk.ready, 1);
	/* asked again 10 s after a table began, it lets it end */
	nwire = 0;
	sync_resync(A.s);
	sync_command(A.s, now);
	exchange();
	exchange();			/* its BULK_START to A */
	assert_int_equal(B.s->lk.st.bulks_sent, k + 3);
	assert_int_equal(B.s->lk.tx.active, 1);
	now += 5 * SYNC_BULKREQ_MS;
	sync_resync(A.s);
	sync_command(A.s, now);
	exchange();
	assert_int_equal(B.s->lk.st.bulks_sent, k + 3);
	assert_int_equal(B.s->lk.again, SYNCLINK_AGAIN_PEER);
	deliver(-1);
	assert_int_equal(B.s->lk.st.bulks_sent, k + 4);
	assert_int_equal(B.s->lk.tx.active, 0);
}

/*
 * A, made backup, changes a connection B has (its change goes nowhere),
 * and is made master again, no table going out; B does not ask (its
 * request lost, say).  A sends the whole table at the switch, and B has
 * the change.  Before, B kept the old mark until it asked.
 */
static void
test_master_sends_table(void **state)
{
	struct ct_entry	*e;
	struct ct_snap	 s;
	uint64_t	 k;

	(void)state;
	open_on_a(7, 0);
	sync_alive(B.s, now);
	deliver(-1);
	assert_int_equal(B.s->lk.ready, 1);
	k = A.s->lk.st.bulks_sent;
	assert_int_equal(sync_set_role(A.s, SYNC_ROLE_BACKUP), 0);
	sync_command(A.s, now);
	nwire = 0;			/* its own request, lost */
	s = conn(7, 0x99);
	assert_non_null(ct_import(A.w->ct, &s, now, NULL));
	sync_pump(A.s, now);
	assert_int_equal(nwire, 0);
	assert_int_equal(sync_set_role(A.s, SYNC_ROLE_MASTER), 0);
	sync_command(A.s, now);
	assert_int_equal(A.s->lk.st.bulks_sent, k + 1);
	deliver(-1);
	assert_int_equal(A.s->lk.tx.active, 0);
	assert_non_null(e = find(&B, 7));
	ct_export(B.w->ct, e, &s);
	assert_int_equal(s.mark, 0x99);
	/* made master again while master: nothing to send */
	assert_int_equal(sync_set_role(A.s, SYNC_ROLE_MASTER), 0);
	sync_command(A.s, now);
	assert_int_equal(A.s->lk.st.bulks_sent, k + 1);
}

/*
 * A opens a connection, its change queued but not yet sent, is made
 * backup, ends the connection (the end goes nowhere) and is made master
 * again: the table goes, and B lacks the connection.  Before, the
 * queued change went out after the table's BULK_START, and B kept the
 * connection as if the table had brought it.
 */
static void
test_master_table_queued(void **state)
{
	struct ct_snap	 s;

	(void)state;
	sync_alive(B.s, now);
	deliver(-1);
	assert_int_equal(B.s->lk.ready, 1);
	/* no pump of A's until it is master again */
	open_on_a(7, 0);
	assert_int_equal(sync_set_role(A.s, SYNC_ROLE_BACKUP), 0);
	s = conn(7, 0);
	assert_int_equal(ct_forget(A.w->ct, &s.k, now), 0);
	assert_int_equal(sync_set_role(A.s, SYNC_ROLE_MASTER), 0);
	sync_command(A.s, now);
	deliver(-1);
	assert_int_equal(A.s->lk.tx.active, 0);
	assert_null(find(&A, 7));
	assert_null(find(&B, 7));
}

/* A, its queue 256, and B know each other (B has A's empty table);
   then 1500 connections B never heard of overflow A's ring: A's table
   under way. */
static void
lost_table(void)
{
	unsigned	 i;

	node_free(&A);
	node_init(&A, SYNC_ROLE_MASTER, "10.0.9.1", "10.0.9.2", 0, 256);
	sync_alive(B.s, now);			/* BULK_REQ */
	deliver(-1);
	assert_int_equal(B.s->lk.st.bulks_received, 1);
	for (i = 0; i < 1500; i++)
		open_on_a(i, 0);
	sync_pump(A.s, now);
	assert_true(A.s->lk.st.lost > 0);
	assert_int_equal(A.s->lk.tx.active, 1);
	assert_int_equal(A.s->lk.st.bulks_sent, 2);
}

/*
 * Sustained overload: A's worker loses changes (its ring full) at every
 * pump while its table goes out.  The one going out ends, then exactly
 * one more, walked after the losses: B has every connection.  A restart
 * at each loss never ended a table.
 */
static void
test_lost_burst(void **state)
{
	struct ct_entry	*e;
	struct ct_snap	 s;
	unsigned	 i, k, n = 1500;

	(void)state;
	lost_table();
	for (k = 0; k < 40 && B.s->lk.st.bulks_received == 1; k++) {
		/* a ring's worth of changes (the state flips), then new
		   connections that do not fit: lost at the next pump */
		for (i = 0; i < A.s->lk.ringsz; i++) {
			s = conn(i, 0x100 + k);
			if (k % 2 == 0)
				s.state = CT_TCP_FIN_WAIT;
			assert_non_null(ct_import(A.w->ct, &s, now, NULL));
		}
		for (i = 0; i < 8; i++)
			open_on_a(n++, 0);
		exchange();
	}
	assert_int_equal(B.s->lk.st.bulks_received, 2);
	assert_int_equal(A.s->lk.st.bulks_sent, 3);
	assert_int_equal(A.s->lk.tx.active, 1);
	assert_true(A.s->lk.st.lost >= (uint64_t)k * 8);
	deliver(-1);
	assert_int_equal(A.s->lk.st.bulks_sent, 3);
	assert_int_equal(B.s->lk.st.bulks_received, 3);
	assert_int_equal(A.s->lk.tx.active, 0);
	assert_int_equal(count_b(), n);
	assert_non_null(e = find(&B, 7));
	ct_export(B.w->ct, e, &s);
	assert_int_equal(s.mark, 0x100 + k - 1);
	assert_int_equal(s.state, k % 2 ? CT_TCP_FIN_WAIT :
	    CT_TCP_ESTABLISHED);
	assert_int_equal(B.s->lk.ready, 1);
}

/*
 * The same while A is made backup: a backup's losses send no table, so
 * none follows the one going out.
 */
static void
test_lost_backup(void **state)
{
	unsigned	 i, n = 1500;

	(void)state;
	lost_table();
	for (i = 0; i < A.s->lk.ringsz + 8; i++)
		open_on_a(n++, 0);
	assert_int_equal(sync_set_role(A.s, SYNC_ROLE_BACKUP), 0);
	sync_pump(A.s, now);			/* lost, seen as backup */
	assert_int_equal(A.s->lk.tx.active, 1);
	assert_int_equal(A.s->lk.st.bulks_sent, 2);
	deliver(-1);
	assert_int_equal(A.s->lk.st.bulks_sent, 2);
	assert_int_equal(A.s->lk.tx.active, 0);
}

/*
 * B ready with A's 3000 connections.  A, made backup, answers B's
 * nfqspictl sync resync with its table; its first slices (*n, returned)
 * are held back, B has seen none of it.  Then every connection changes
 * on A, which sends none of that as backup: the parts walked already
 * hold them as they were.
 */
static struct dgram *
backup_bulk(size_t *n)
{
	struct dgram	 req, *d;
	struct ct_snap	 s;
	unsigned	 i;

	big_bulk_asked();
	deliver(-1);
	assert_int_equal(count_b(), 3000);
	assert_int_equal(B.s->lk.ready, 1);
	assert_int_equal(sync_set_role(A.s, SYNC_ROLE_BACKUP), 0);
	sync_command(A.s, now);
	nwire = 0;			/* its own request, lost */
	bulk_req(&req);
	sync_datagram(A.s, req.buf, req.len, &B.addr, now);
	sync_pump(A.s, now);		/* BULK_START, the first slices */
	assert_int_equal(A.s->lk.tx.active, 1);
	assert_int_equal(A.s->lk.st.bulks_sent, 2);
	d = wire_take(n);
	assert_true(*n > 2);
	for (i = 0; i < 3000; i++) {
		s = conn(i, 0x99);
		assert_non_null(ct_import(A.w->ct, &s, now, NULL));
	}
	return (d);
}

/* The held slices to B, then everything: B has every change A made. */
static void
backup_bulk_heals(struct dgram *d, size_t n)
{
	struct ct_entry	*e;
	struct ct_snap	 s;
	size_t		 i;

	for (i = 0; i < n; i++)
		sync_datagram(B.s, d[i].buf, d[i].len, &A.addr, now);
	free(d);
	deliver(-1);
	assert_int_equal(A.s->lk.tx.active, 0);
	assert_int_equal(count_b(), 3000);
	for (i = 0; i < 3000; i++) {
		assert_non_null(e = find(&B, (unsigned)i));
		ct_export(B.w->ct, e, &s);
		assert_int_equal(s.mark, 0x99);
	}
}

/*
 * Then A is made master, and B made backup again: its request, sent
 * before A's table reached it (the ack short of its BULK_START), is
 * taken by A before A's command.  The table begun as backup is not
 * whole, answers no request, and a new one starts.  Let it answer, B
 * kept the old marks of the part walked before the changes.
 */
static void
test_bulk_req_backup_master(void **state)
{
	struct dgram	*d, req;
	size_t		 n;

	(void)state;
	d = backup_bulk(&n);
	assert_int_equal(sync_set_role(A.s, SYNC_ROLE_MASTER), 0);
	assert_int_equal(sync_set_role(B.s, SYNC_ROLE_BACKUP), 0);
	sync_command(B.s, now);
	assert_int_equal(nwire, 1);	/* its BULK_REQ */
	req = wire[0];
	nwire = 0;
	sync_datagram(A.s, req.buf, req.len, &B.addr, now);
	assert_int_equal(A.s->lk.st.bulks_sent, 3);
	sync_command(A.s, now);		/* the new one is whole */
	assert_int_equal(A.s->lk.st.bulks_sent, 3);
	backup_bulk_heals(d, n);
}

/*
 * The same, but B does not ask: A's command starts the table begun as
 * backup again.  Before, it ran on to its end, and B kept the old marks
 * of the part walked before the changes.
 */
static void
test_bulk_backup_master(void **state)
{
	struct dgram	*d;
	size_t		 n;

	(void)state;
	d = backup_bulk(&n);
	assert_int_equal(sync_set_role(A.s, SYNC_ROLE_MASTER), 0);
	sync_command(A.s, now);
	assert_int_equal(A.s->lk.st.bulks_sent, 3);
	backup_bulk_heals(d, n);
}

/*
 * A new master's grace: worker 0's connection ended (its NEW and its
 * DELETE queued), then home (worker 1) sent back the old master's record
 * of the tuple (keep), then ended that copy for worker 0's entry, a
 * hand-over (sync_moved()).  Worker 0, holding nothing of the tuple,
 * sends its DELETE again (sync_forget(), as worker_adopt_staled()): it
 * goes after home's record though worker 0's ring drains first, and
 * the peer holds nothing.  Without it the peer kept the record.
 */
static void
test_forget_after_copy(void **state)
{
	struct sync_batch b;
	struct sync_rec	 r;
	struct ct_snap	 s;
	unsigned	 i;

	(void)state;
	i = two_workers(3000);
	s = conn(i, 0);
	open_in(0, i, 0);
	assert_int_equal(ct_forget(A.all[0]->ct, &s.k, now), 0);
	peer_copy(&b, &r, i);
	b.keep = 1;
	worker_sync_apply(A.all[1], &b);	/* taken, sent back */
	assert_int_equal(b.applied, 1);
	assert_int_equal(A.all[1]->synced, 1);
	sync_moved(A.s);
	sync_forget(A.s, 0, &s.k);
	deliver(-1);
	assert_null(find(&B, i));
	assert_int_equal(ct_count(B.w->ct), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_changes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_coalesce, setup, teardown),
		cmocka_unit_test_setup_teardown(test_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_loss, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bulk, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bulk_small_ring, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_master_mid_bulk, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_master_bulk_end, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_ring_full, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_wake, setup, teardown),
		cmocka_unit_test_setup_teardown(test_roles, setup, teardown),
		cmocka_unit_test_setup_teardown(test_master_takes_copy, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_refresh, setup, teardown),
		cmocka_unit_test_setup_teardown(test_alone, setup, teardown),
		cmocka_unit_test_setup_teardown(test_dirty, setup, teardown),
		cmocka_unit_test_setup_teardown(test_peer_restart, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_master_peer_restart, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_bulk_moved, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_bulk_moved_late, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_bulk_moved_after, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_bulk_worker_gone, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_bulk_moved_walking, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_bulk_moved_fence, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_bulk_fence_stopped, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_bulk_reused_slot, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_bulk_full, setup_full,
		    teardown),
		cmocka_unit_test_setup_teardown(test_bulk_full_packet,
		    setup_full, teardown),
		cmocka_unit_test_setup_teardown(test_bulk_home_late, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_bulk_sweep_newer, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_home_stopped, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_bulk_sweep_workers, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_delete_copy_apart, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_delete_copy_together,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_delete_copy_burst, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_forget_after_copy, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_bulk_req_burst, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_bulk_req_new_run, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_bulk_req_backup_master,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_bulk_backup_master, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_master_table_queued, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_master_sends_table, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_switchover_restart, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_lost_burst, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_lost_backup, setup,
		    teardown),
	};

	return (cmocka_run_group_tests(tests, NULL, NULL));
}
