/*
 * test_ct.c - the connection table and its trackers
 *
 * Copyright (C) 2026 The nfqspid authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * Packets are built by hand (struct pkt as the parser would fill it).  A
 * "conversation" keeps each side's sequence numbers so that TCP segments
 * are in window unless a test says otherwise.
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

#include "ct_int.h"
#include "reason.h"
#include "unit.h"
#include "../pktbuild.h"

#ifndef TEST_SRCDIR
#define TEST_SRCDIR "."
#endif

#define SYN	PKT_TH_SYN
#define ACK	PKT_TH_ACK
#define FIN	PKT_TH_FIN
#define RST	PKT_TH_RST
#define PSH	PKT_TH_PUSH
#define URG	PKT_TH_URG
#define ECE	PKT_TH_ECE
#define CWR	PKT_TH_CWR

#define GONE	0xff		/* the entry no longer exists */

/* ---- helpers ----------------------------------------------------------- */

/*
 * A table of max entries, share percent of which one source may hold
 * (0: any number, -1: the default), loose or not about TCP picked up
 * mid-stream.
 */
static struct ct_table *
table_cfg(uint32_t max, int share, uint8_t loose)
{
	struct ct_config	 c;
	struct ct_table		*t;

	ct_config_defaults(&c);
	c.max = max;
	if (share >= 0)
		c.source_share = (uint8_t)share;
	c.tcp_loose = loose;
	t = ct_new(&c);
	assert_non_null(t);
	return (t);
}

/* the defaults but the share: the tests of the share turn it on */
static struct ct_table *
table(uint32_t max)
{
	return (table_cfg(max, 0, 1));
}

static struct pkt
udp(const char *src, uint16_t sport, const char *dst, uint16_t dport)
{
	struct pkt	 p;

	memset(&p, 0, sizeof(p));
	p.family = strchr(src, ':') ? AF_INET6 : AF_INET;
	p.proto = IPPROTO_UDP;
	p.ttl = 64;
	p.src = unit_addr(src);
	p.dst = unit_addr(dst);
	p.sport = sport;
	p.dport = dport;
	p.paylen = 10;
	p.wscale = PKT_WSCALE_NONE;
	return (p);
}

static struct pkt
icmp(const char *src, const char *dst, uint8_t type, uint16_t id)
{
	struct pkt	 p;

	memset(&p, 0, sizeof(p));
	p.family = strchr(src, ':') ? AF_INET6 : AF_INET;
	p.proto = p.family == AF_INET ? IPPROTO_ICMP : IPPROTO_ICMPV6;
	p.ttl = 64;
	p.src = unit_addr(src);
	p.dst = unit_addr(dst);
	p.icmp_type = type;
	p.icmp_id = id;
	p.wscale = PKT_WSCALE_NONE;
	return (p);
}

/* An ICMP error from src to dst quoting the packet q. */
static struct pkt
icmp_err(const char *src, const char *dst, uint8_t type, uint8_t code,
    const struct pkt *q)
{
	struct pkt	 p = icmp(src, dst, type, 0);

	p.icmp_code = code;
	p.is_icmp_error = 1;
	p.inner.family = q->family;
	p.inner.proto = q->proto;
	p.inner.src = q->src;
	p.inner.dst = q->dst;
	p.inner.sport = q->sport;
	p.inner.dport = q->dport;
	p.inner.icmp_type = q->icmp_type;
	p.inner.icmp_id = q->icmp_id;
	p.inner.seq = q->seq;
	return (p);
}

/* Track; if NEW with no entry, confirm like an accepting rule would. */
static uint8_t
pass(struct ct_table *t, const struct pkt *p, uint64_t now,
    struct ct_result *res)
{
	ct_track(t, p, now, res);
	if (res->state == CT_NEW && res->entry == NULL)
		assert_int_equal(ct_confirm(t, p, now, 0x10, 7, res), 0);
	return (res->state);
}

/* ---- TCP conversations ------------------------------------------------- */

struct side {
	const char	*addr;
	uint16_t	 port;
	uint32_t	 isn;
	uint32_t	 nxt;		/* next sequence number to send */
	uint16_t	 win;		/* window it advertises (unscaled) */
	uint8_t		 wscale;	/* offered in its SYN */
	uint8_t		 sackp;		/* SACK permitted in its SYN */
};

struct conv {
	struct ct_table	*t;
	struct side	 s[2];		/* 0: client, 1: server */
	uint64_t	 now;
};

static void
conv_init(struct conv *c, struct ct_table *t, int v6)
{
	memset(c, 0, sizeof(*c));
	c->t = t;
	c->s[0].addr = v6 ? "2001:db8::1" : "10.0.0.1";
	c->s[0].port = 41000;
	c->s[0].isn = c->s[0].nxt = 0xfffff000;	/* wraps during the test */
	c->s[1].addr = v6 ? "2001:db8::2" : "10.0.0.2";
	c->s[1].port = 22;
	c->s[1].isn = c->s[1].nxt = 1000000;
	c->now = 1000;
	c->s[0].win = c->s[1].win = 65535;
	c->s[0].wscale = c->s[1].wscale = PKT_WSCALE_NONE;
}

static struct pkt
conv_pkt(struct conv *c, int from, uint8_t flags, uint32_t len)
{
	struct side	*s = &c->s[from], *d = &c->s[!from];
	struct pkt	 p;

	memset(&p, 0, sizeof(p));
	p.family = strchr(s->addr, ':') ? AF_INET6 : AF_INET;
	p.proto = IPPROTO_TCP;
	p.ttl = 64;
	p.src = unit_addr(s->addr);
	p.dst = unit_addr(d->addr);
	p.sport = s->port;
	p.dport = d->port;
	p.th_flags = flags;
	p.seq = flags & SYN ? s->isn : s->nxt;
	p.ack = flags & ACK ? d->nxt : 0;
	p.win = s->win;
	p.wscale = flags & SYN ? s->wscale : PKT_WSCALE_NONE;
	p.sack_perm = flags & SYN ? s->sackp : 0;
	p.paylen = len;
	return (p);
}

static void
conv_sent(struct conv *c, int from, const struct pkt *p)
{
	uint32_t end = p->seq + p->paylen + (p->th_flags & SYN ? 1 : 0) +
	    (p->th_flags & FIN ? 1 : 0);

	if ((int32_t)(end - c->s[from].nxt) > 0)
		c->s[from].nxt = end;
}

/* Send a segment through the tracker (confirming NEW ones). */
static uint8_t
conv_send(struct conv *c, int from, uint8_t flags, uint32_t len,
    struct ct_result *res)
{
	struct pkt	 p = conv_pkt(c, from, flags, len);

	c->now += 10;
	pass(c->t, &p, c->now, res);
	if (res->state != CT_INVALID)
		conv_sent(c, from, &p);
	return (res->state);
}

static struct ct_entry *
conv_entry(struct conv *c)
{
	struct ct_tuple	 k;
	uint8_t		 dir;
	union pkt_addr	 a = unit_addr(c->s[0].addr);
	union pkt_addr	 b = unit_addr(c->s[1].addr);

	ct_tuple_set(&k, strchr(c->s[0].addr, ':') ? AF_INET6 : AF_INET,
	    IPPROTO_TCP, &a, &b, c->s[0].port, c->s[1].port);
	return (ct_find(c->t, &k, 1, &dir));
}

static int
conv_state(struct conv *c)
{
	struct ct_entry	*e = conv_entry(c);

	return (e ? e->state : GONE);
}

/* e's original direction: family, proto, p's addresses, sp and dp */
static void
assert_tuple(const struct ct_entry *e, uint8_t family, uint8_t proto,
    const struct pkt *p, uint16_t sp, uint16_t dp)
{
	union pkt_addr	 a, b;
	uint16_t	 esp, edp;
	uint8_t		 efam, eproto;

	ct_entry_tuple(e, &efam, &eproto, &a, &b, &esp, &edp);
	assert_int_equal(efam, family);
	assert_int_equal(eproto, proto);
	assert_memory_equal(&a, &p->src, sizeof(a));
	assert_memory_equal(&b, &p->dst, sizeof(b));
	assert_int_equal(esp, sp);
	assert_int_equal(edp, dp);
}

/* ---- TCP transitions, table driven ------------------------------------- */

struct step {
	int8_t		 from;		/* 0 client, 1 server, -1 end */
	uint8_t		 flags;
};

/* How to reach each state from nothing. */
static const struct step reach[CT_TCP_NSTATES][6] = {
	[CT_TCP_SYN_SENT] = { {0, SYN}, {-1, 0} },
	[CT_TCP_SYN_RECV] = { {0, SYN}, {1, SYN | ACK}, {-1, 0} },
	[CT_TCP_ESTABLISHED] = { {0, SYN}, {1, SYN | ACK}, {0, ACK},
	    {-1, 0} },
	[CT_TCP_FIN_WAIT] = { {0, SYN}, {1, SYN | ACK}, {0, ACK},
	    {0, FIN | ACK}, {-1, 0} },
	[CT_TCP_CLOSE_WAIT] = { {0, SYN}, {1, SYN | ACK}, {0, ACK},
	    {0, FIN | ACK}, {1, ACK}, {-1, 0} },
	[CT_TCP_LAST_ACK] = { {0, SYN}, {1, SYN | ACK}, {0, ACK},
	    {0, FIN | ACK}, {1, FIN | ACK}, {-1, 0} },
	[CT_TCP_TIME_WAIT] = { {0, SYN}, {1, SYN | ACK}, {0, ACK},
	    {0, FIN | ACK}, {1, FIN | ACK}, {0, ACK} },
	[CT_TCP_CLOSE] = { {0, SYN}, {1, SYN | ACK}, {0, ACK},
	    {0, RST | ACK}, {-1, 0} },
	[CT_TCP_SYN_SENT2] = { {0, SYN}, {1, SYN}, {-1, 0} },
};

struct trans {
	uint8_t		 state;		/* before */
	int8_t		 from;		/* 0 client (original), 1 server */
	uint8_t		 flags;
	uint8_t		 ctstate;	/* what the packet is */
	uint8_t		 reason;
	uint8_t		 after;		/* TCP state after, or GONE */
};

#define T_NEW	CT_NEW
#define T_EST	CT_ESTABLISHED
#define T_INV	CT_INVALID

static const struct trans transitions[] = {
	/* SYN_SENT */
	{ CT_TCP_SYN_SENT, 0, SYN, T_NEW, 0, CT_TCP_SYN_SENT },
	{ CT_TCP_SYN_SENT, 0, SYN | ACK, T_INV, REASON_TCP_STATE,
	    CT_TCP_SYN_SENT },
	{ CT_TCP_SYN_SENT, 0, FIN | ACK, T_INV, REASON_TCP_STATE,
	    CT_TCP_SYN_SENT },
	{ CT_TCP_SYN_SENT, 0, ACK, T_INV, REASON_TCP_STATE, CT_TCP_SYN_SENT },
	{ CT_TCP_SYN_SENT, 0, RST, T_NEW, 0, GONE },
	{ CT_TCP_SYN_SENT, 1, SYN, T_EST, 0, CT_TCP_SYN_SENT2 },
	{ CT_TCP_SYN_SENT, 1, SYN | ACK, T_EST, 0, CT_TCP_SYN_RECV },
	{ CT_TCP_SYN_SENT, 1, FIN | ACK, T_INV, REASON_TCP_STATE,
	    CT_TCP_SYN_SENT },
	{ CT_TCP_SYN_SENT, 1, ACK, T_EST, 0, CT_TCP_SYN_SENT },
	{ CT_TCP_SYN_SENT, 1, RST | ACK, T_EST, 0, GONE },
	/* SYN_RECV */
	{ CT_TCP_SYN_RECV, 0, SYN, T_EST, 0, CT_TCP_SYN_RECV },
	{ CT_TCP_SYN_RECV, 0, SYN | ACK, T_EST, 0, CT_TCP_SYN_RECV },
	{ CT_TCP_SYN_RECV, 0, FIN | ACK, T_EST, 0, CT_TCP_FIN_WAIT },
	{ CT_TCP_SYN_RECV, 0, ACK, T_EST, 0, CT_TCP_ESTABLISHED },
	{ CT_TCP_SYN_RECV, 0, RST, T_EST, 0, CT_TCP_CLOSE },
	{ CT_TCP_SYN_RECV, 1, SYN, T_INV, REASON_TCP_STATE, CT_TCP_SYN_RECV },
	{ CT_TCP_SYN_RECV, 1, SYN | ACK, T_EST, 0, CT_TCP_SYN_RECV },
	{ CT_TCP_SYN_RECV, 1, FIN | ACK, T_EST, 0, CT_TCP_FIN_WAIT },
	{ CT_TCP_SYN_RECV, 1, ACK, T_EST, 0, CT_TCP_SYN_RECV },
	{ CT_TCP_SYN_RECV, 1, RST, T_EST, 0, CT_TCP_CLOSE },
	/* ESTABLISHED */
	{ CT_TCP_ESTABLISHED, 0, SYN, T_EST, 0, CT_TCP_ESTABLISHED },
	{ CT_TCP_ESTABLISHED, 0, SYN | ACK, T_INV, REASON_TCP_STATE,
	    CT_TCP_ESTABLISHED },
	{ CT_TCP_ESTABLISHED, 0, FIN | ACK, T_EST, 0, CT_TCP_FIN_WAIT },
	{ CT_TCP_ESTABLISHED, 0, ACK, T_EST, 0, CT_TCP_ESTABLISHED },
	{ CT_TCP_ESTABLISHED, 0, RST, T_EST, 0, CT_TCP_CLOSE },
	{ CT_TCP_ESTABLISHED, 1, SYN, T_INV, REASON_TCP_STATE,
	    CT_TCP_ESTABLISHED },
	{ CT_TCP_ESTABLISHED, 1, SYN | ACK, T_EST, 0, CT_TCP_ESTABLISHED },
	{ CT_TCP_ESTABLISHED, 1, FIN | ACK, T_EST, 0, CT_TCP_FIN_WAIT },
	{ CT_TCP_ESTABLISHED, 1, ACK, T_EST, 0, CT_TCP_ESTABLISHED },
	{ CT_TCP_ESTABLISHED, 1, RST | ACK, T_EST, 0, CT_TCP_CLOSE },
	/* FIN_WAIT (the client sent FIN) */
	{ CT_TCP_FIN_WAIT, 0, SYN, T_EST, 0, CT_TCP_FIN_WAIT },
	{ CT_TCP_FIN_WAIT, 0, SYN | ACK, T_INV, REASON_TCP_STATE,
	    CT_TCP_FIN_WAIT },
	{ CT_TCP_FIN_WAIT, 0, FIN | ACK, T_EST, 0, CT_TCP_LAST_ACK },
	{ CT_TCP_FIN_WAIT, 0, ACK, T_EST, 0, CT_TCP_CLOSE_WAIT },
	{ CT_TCP_FIN_WAIT, 0, RST, T_EST, 0, CT_TCP_CLOSE },
	{ CT_TCP_FIN_WAIT, 1, SYN, T_INV, REASON_TCP_STATE, CT_TCP_FIN_WAIT },
	{ CT_TCP_FIN_WAIT, 1, SYN | ACK, T_EST, 0, CT_TCP_FIN_WAIT },
	{ CT_TCP_FIN_WAIT, 1, FIN | ACK, T_EST, 0, CT_TCP_LAST_ACK },
	{ CT_TCP_FIN_WAIT, 1, ACK, T_EST, 0, CT_TCP_CLOSE_WAIT },
	{ CT_TCP_FIN_WAIT, 1, RST, T_EST, 0, CT_TCP_CLOSE },
	/* CLOSE_WAIT */
	{ CT_TCP_CLOSE_WAIT, 0, SYN, T_EST, 0, CT_TCP_CLOSE_WAIT },
	{ CT_TCP_CLOSE_WAIT, 0, SYN | ACK, T_INV, REASON_TCP_STATE,
	    CT_TCP_CLOSE_WAIT },
	{ CT_TCP_CLOSE_WAIT, 0, FIN | ACK, T_EST, 0, CT_TCP_LAST_ACK },
	{ CT_TCP_CLOSE_WAIT, 0, ACK, T_EST, 0, CT_TCP_CLOSE_WAIT },
	{ CT_TCP_CLOSE_WAIT, 0, RST, T_EST, 0, CT_TCP_CLOSE },
	{ CT_TCP_CLOSE_WAIT, 1, SYN, T_INV, REASON_TCP_STATE,
	    CT_TCP_CLOSE_WAIT },
	{ CT_TCP_CLOSE_WAIT, 1, SYN | ACK, T_EST, 0, CT_TCP_CLOSE_WAIT },
	{ CT_TCP_CLOSE_WAIT, 1, FIN | ACK, T_EST, 0, CT_TCP_LAST_ACK },
	{ CT_TCP_CLOSE_WAIT, 1, ACK, T_EST, 0, CT_TCP_CLOSE_WAIT },
	{ CT_TCP_CLOSE_WAIT, 1, RST, T_EST, 0, CT_TCP_CLOSE },
	/* LAST_ACK */
	{ CT_TCP_LAST_ACK, 0, SYN, T_EST, 0, CT_TCP_LAST_ACK },
	{ CT_TCP_LAST_ACK, 0, SYN | ACK, T_INV, REASON_TCP_STATE,
	    CT_TCP_LAST_ACK },
	{ CT_TCP_LAST_ACK, 0, FIN | ACK, T_EST, 0, CT_TCP_LAST_ACK },
	{ CT_TCP_LAST_ACK, 0, ACK, T_EST, 0, CT_TCP_TIME_WAIT },
	{ CT_TCP_LAST_ACK, 0, RST, T_EST, 0, CT_TCP_CLOSE },
	{ CT_TCP_LAST_ACK, 1, SYN, T_INV, REASON_TCP_STATE, CT_TCP_LAST_ACK },
	{ CT_TCP_LAST_ACK, 1, SYN | ACK, T_EST, 0, CT_TCP_LAST_ACK },
	{ CT_TCP_LAST_ACK, 1, FIN | ACK, T_EST, 0, CT_TCP_LAST_ACK },
	{ CT_TCP_LAST_ACK, 1, ACK, T_EST, 0, CT_TCP_TIME_WAIT },
	{ CT_TCP_LAST_ACK, 1, RST, T_EST, 0, CT_TCP_CLOSE },
	/* TIME_WAIT: a SYN either way reopens (NEW, old entry gone) */
	{ CT_TCP_TIME_WAIT, 0, SYN, T_NEW, 0, GONE },
	{ CT_TCP_TIME_WAIT, 0, SYN | ACK, T_INV, REASON_TCP_STATE,
	    CT_TCP_TIME_WAIT },
	{ CT_TCP_TIME_WAIT, 0, FIN | ACK, T_EST, 0, CT_TCP_TIME_WAIT },
	{ CT_TCP_TIME_WAIT, 0, ACK, T_EST, 0, CT_TCP_TIME_WAIT },
	{ CT_TCP_TIME_WAIT, 0, RST, T_EST, 0, CT_TCP_CLOSE },
	{ CT_TCP_TIME_WAIT, 1, SYN, T_NEW, 0, GONE },
	{ CT_TCP_TIME_WAIT, 1, SYN | ACK, T_EST, 0, CT_TCP_TIME_WAIT },
	{ CT_TCP_TIME_WAIT, 1, FIN | ACK, T_EST, 0, CT_TCP_TIME_WAIT },
	{ CT_TCP_TIME_WAIT, 1, ACK, T_EST, 0, CT_TCP_TIME_WAIT },
	{ CT_TCP_TIME_WAIT, 1, RST, T_EST, 0, CT_TCP_CLOSE },
	/* CLOSE */
	{ CT_TCP_CLOSE, 0, SYN, T_NEW, 0, GONE },
	{ CT_TCP_CLOSE, 0, SYN | ACK, T_INV, REASON_TCP_STATE, CT_TCP_CLOSE },
	{ CT_TCP_CLOSE, 0, FIN | ACK, T_EST, 0, CT_TCP_CLOSE },
	{ CT_TCP_CLOSE, 0, ACK, T_EST, 0, CT_TCP_CLOSE },
	{ CT_TCP_CLOSE, 0, RST, T_EST, 0, CT_TCP_CLOSE },
	{ CT_TCP_CLOSE, 1, SYN, T_NEW, 0, GONE },
	{ CT_TCP_CLOSE, 1, SYN | ACK, T_EST, 0, CT_TCP_CLOSE },
	{ CT_TCP_CLOSE, 1, FIN | ACK, T_EST, 0, CT_TCP_CLOSE },
	{ CT_TCP_CLOSE, 1, ACK, T_EST, 0, CT_TCP_CLOSE },
	{ CT_TCP_CLOSE, 1, RST, T_EST, 0, CT_TCP_CLOSE },
	/* SYN_SENT2: simultaneous open */
	{ CT_TCP_SYN_SENT2, 0, SYN, T_EST, 0, CT_TCP_SYN_SENT2 },
	{ CT_TCP_SYN_SENT2, 0, SYN | ACK, T_EST, 0, CT_TCP_SYN_RECV },
	{ CT_TCP_SYN_SENT2, 0, FIN | ACK, T_INV, REASON_TCP_STATE,
	    CT_TCP_SYN_SENT2 },
	{ CT_TCP_SYN_SENT2, 0, ACK, T_INV, REASON_TCP_STATE,
	    CT_TCP_SYN_SENT2 },
	{ CT_TCP_SYN_SENT2, 0, RST, T_EST, 0, CT_TCP_CLOSE },
	{ CT_TCP_SYN_SENT2, 1, SYN, T_EST, 0, CT_TCP_SYN_SENT2 },
	{ CT_TCP_SYN_SENT2, 1, SYN | ACK, T_EST, 0, CT_TCP_SYN_RECV },
	{ CT_TCP_SYN_SENT2, 1, FIN | ACK, T_INV, REASON_TCP_STATE,
	    CT_TCP_SYN_SENT2 },
	{ CT_TCP_SYN_SENT2, 1, ACK, T_EST, 0, CT_TCP_SYN_SENT2 },
	{ CT_TCP_SYN_SENT2, 1, RST, T_EST, 0, CT_TCP_CLOSE },
};

static void
run_transitions(int v6)
{
	struct ct_result	 res;
	struct conv		 c;
	struct ct_table		*t;
	size_t			 i;
	int			 j;
	char			 what[128];

	for (i = 0; i < sizeof(transitions) / sizeof(transitions[0]); i++) {
		const struct trans *tr = &transitions[i];

		snprintf(what, sizeof(what), "%s %s %s 0x%02x",
		    v6 ? "v6" : "v4", ct_tcp_state_name(tr->state),
		    tr->from ? "reply" : "orig", tr->flags);
		t = table(1024);
		conv_init(&c, t, v6);
		for (j = 0; j < 6 && reach[tr->state][j].from >= 0; j++) {
			if (reach[tr->state][j].flags == 0)
				break;
			conv_send(&c, reach[tr->state][j].from,
			    reach[tr->state][j].flags, 0, &res);
			if (res.state == CT_INVALID)
				fail_msg("%s: setup step %d INVALID %s", what,
				    j, reason_name(res.reason));
		}
		if (conv_state(&c) != tr->state)
			fail_msg("%s: setup reached %s", what,
			    ct_tcp_state_name(conv_state(&c)));
		{
			struct pkt p = conv_pkt(&c, tr->from, tr->flags, 0);

			c.now += 10;
			ct_track(t, &p, c.now, &res);
		}
		if (res.state != tr->ctstate || (tr->ctstate == CT_INVALID &&
		    res.reason != tr->reason))
			fail_msg("%s: packet state %d reason %s, want %d %s",
			    what, res.state, reason_name(res.reason),
			    tr->ctstate, reason_name(tr->reason));
		if (tr->ctstate == CT_NEW && tr->after == GONE &&
		    tr->flags & SYN)
			assert_null(res.entry);
		if (conv_state(&c) != tr->after)
			fail_msg("%s: state after %s, want %s", what,
			    conv_state(&c) == GONE ? "GONE" :
			    ct_tcp_state_name(conv_state(&c)),
			    tr->after == GONE ? "GONE" :
			    ct_tcp_state_name(tr->after));
		ct_free(t);
	}
}

static void
test_tcp_transitions_v4(void **state)
{
	run_transitions(0);
}

static void
test_tcp_transitions_v6(void **state)
{
	run_transitions(1);
}

/* ---- TCP: a whole connection -------------------------------------------- */

static void
dirty_count(struct ct_table *t, const struct ct_entry *e, void *arg)
{
	(*(int *)arg)++;
}

/* [sync]: segments that pass mark their connection once until taken;
   INVALID ones do not; a connection gone is not handed out. */
static void
test_dirty(void **state)
{
	struct ct_table		*t = table(1024);
	struct ct_result	 res;
	struct conv		 c;
	int			 n = 0;

	(void)state;
	conv_init(&c, t, 0);
	assert_int_equal(conv_send(&c, 0, SYN, 0, &res), CT_NEW);
	assert_int_equal(ct_dirty_count(t), 0);		/* not tracked */
	assert_int_equal(ct_dirty_track(t, 1), 0);
	assert_int_equal(conv_send(&c, 1, SYN | ACK, 0, &res), CT_ESTABLISHED);
	assert_int_equal(conv_send(&c, 0, ACK, 0, &res), CT_ESTABLISHED);
	assert_int_equal(conv_send(&c, 0, ACK | PSH, 100, &res),
	    CT_ESTABLISHED);
	assert_int_equal(ct_dirty_count(t), 1);		/* once */
	assert_int_equal(ct_dirty_take(t, 10, dirty_count, &n), 1);
	assert_int_equal(n, 1);
	assert_int_equal(ct_dirty_take(t, 10, dirty_count, &n), 0);
	/* data again: marked again; the max holds the rest back */
	assert_int_equal(conv_send(&c, 1, ACK | PSH, 100, &res),
	    CT_ESTABLISHED);
	assert_int_equal(ct_dirty_take(t, 0, dirty_count, &n), 0);
	assert_int_equal(ct_dirty_count(t), 1);
	/* gone before the take: not handed out */
	ct_remove(t, conv_entry(&c));
	assert_int_equal(ct_dirty_take(t, 10, dirty_count, &n), 0);
	assert_int_equal(ct_dirty_count(t), 0);
	assert_int_equal(ct_dirty_track(t, 0), 0);
	ct_free(t);
}

/* A full resync: what it did not bring goes, a slice at a time; what
   it brought, new or already there, stays. */
static void
test_resync_sweep(void **state)
{
	struct ct_table		*a = table(4096), *b = table(4096);
	struct ct_result	 res;
	struct ct_snap		 s;
	struct pkt		 p;
	uint64_t		 cursor = 0;
	size_t			 gone = 0;
	unsigned		 i;

	(void)state;
	for (i = 0; i < 300; i++) {
		p = udp("10.0.0.1", (uint16_t)(1000 + i), "10.0.0.9", 53);
		pass(a, &p, 1000, &res);
		ct_export(a, res.entry, &s);
		/* b has them all, and 100 more a no longer has */
		assert_non_null(ct_import(b, &s, 1000, NULL));
		p = udp("10.0.0.2", (uint16_t)(1000 + i), "10.0.0.9", 53);
		if (i < 100) {
			pass(a, &p, 1000, &res);
			ct_export(a, res.entry, &s);
			assert_non_null(ct_import(b, &s, 1000, NULL));
			ct_remove(a, res.entry);
		}
	}
	assert_int_equal(ct_count(b), 400);
	ct_resync_begin(b);
	for (i = 0; i < 300; i++) {
		p = udp("10.0.0.1", (uint16_t)(1000 + i), "10.0.0.9", 53);
		ct_track(a, &p, 1001, &res);
		ct_export(a, res.entry, &s);
		assert_non_null(ct_import(b, &s, 1001, NULL));
	}
	do
		gone += ct_resync_sweep(b, &cursor, 64, 1002);
	while (cursor != 0);
	assert_int_equal(gone, 100);
	assert_int_equal(ct_count(b), 300);
	/* over: another sweep removes nothing */
	assert_int_equal(ct_resync_sweep(b, &cursor, 1000, 1003), 0);
	assert_int_equal(ct_count(b), 300);
	ct_free(a);
	ct_free(b);
}

/* A connection the resync brought and that ended during it leaves no
   mark behind: the next one in its slot, which the resync did not bring
   (a packet of ours), is swept with the rest. */
static void
test_resync_reused_slot(void **state)
{
	struct ct_table		*b = table(4096);
	struct ct_result	 res;
	struct ct_snap		 s;
	struct ct_entry		*e;
	struct pkt		 p = udp("10.0.0.1", 1000, "10.0.0.9", 53);
	struct pkt		 q = udp("10.0.0.2", 2000, "10.0.0.9", 53);
	uint64_t		 cursor = 0;

	(void)state;
	pass(b, &p, 1000, &res);
	ct_export(b, res.entry, &s);
	ct_remove(b, res.entry);
	ct_resync_begin(b);
	assert_non_null(e = ct_import(b, &s, 1001, NULL));
	assert_int_equal(ct_forget(b, &s.k, 1001), 0);	/* its DELETE */
	assert_int_equal(pass(b, &q, 1001, &res), CT_NEW);
	assert_ptr_equal(res.entry, e);			/* the same slot */
	assert_int_equal(ct_resync_sweep(b, &cursor, 64, 1002), 1);
	assert_int_equal(cursor, 0);
	assert_int_equal(ct_count(b), 0);
	/* and one it brought into a slot used during it stays */
	ct_resync_begin(b);
	assert_int_equal(pass(b, &q, 1003, &res), CT_NEW);
	ct_remove(b, res.entry);
	assert_non_null(e = ct_import(b, &s, 1003, NULL));
	assert_int_equal(ct_resync_sweep(b, &cursor, 64, 1004), 0);
	assert_int_equal(ct_count(b), 1);
	ct_free(b);
}

/* The sweep goes a slice at a time, and packets come between slices: a
   connection made after the resync's end is newer than what it brought,
   and stays, wherever its slot. */
static void
test_resync_sweep_newer(void **state)
{
	struct ct_table		*b = table(4096);
	struct ct_result	 res;
	struct ct_snap		 s;
	struct pkt		 p;
	uint64_t		 cursor = 0;
	size_t			 gone;
	unsigned		 i;

	(void)state;
	for (i = 0; i < 200; i++) {
		p = udp("10.0.0.1", (uint16_t)(1000 + i), "10.0.0.9", 53);
		pass(b, &p, 1000, &res);
	}
	ct_resync_begin(b);
	for (i = 0; i < 100; i++) {
		p = udp("10.0.0.1", (uint16_t)(1000 + i), "10.0.0.9", 53);
		ct_track(b, &p, 1001, &res);
		ct_export(b, res.entry, &s);
		assert_non_null(ct_import(b, &s, 1001, NULL));
	}
	gone = ct_resync_sweep(b, &cursor, 150, 1002);
	assert_int_equal(gone, 50);
	assert_int_not_equal(cursor, 0);
	/* one in a slot the sweep passed, one in a slot ahead of it */
	p = udp("10.0.0.1", 1000, "10.0.0.9", 53);
	ct_track(b, &p, 1003, &res);
	ct_remove(b, res.entry);
	p = udp("10.0.0.2", 3000, "10.0.0.9", 53);
	assert_int_equal(pass(b, &p, 1003, &res), CT_NEW);
	p = udp("10.0.0.1", 1199, "10.0.0.9", 53);
	ct_track(b, &p, 1003, &res);
	ct_remove(b, res.entry);
	p = udp("10.0.0.2", 3001, "10.0.0.9", 53);
	assert_int_equal(pass(b, &p, 1003, &res), CT_NEW);
	p = udp("10.0.0.2", 3002, "10.0.0.9", 53);
	assert_int_equal(pass(b, &p, 1003, &res), CT_NEW);
	do
		gone += ct_resync_sweep(b, &cursor, 150, 1004);
	while (cursor != 0);
	assert_int_equal(gone, 99);
	assert_int_equal(ct_count(b), 102);
	ct_free(b);
}

/* b holds n connections of src that a no longer has: assured, so
   that the table would keep them, and so far unmarked */
static void
stale_fill(struct ct_table *a, struct ct_table *b, const char *src,
    unsigned n)
{
	struct ct_result	 res;
	struct ct_snap		 s;
	struct pkt		 p;
	unsigned		 i;

	for (i = 0; i < n; i++) {
		p = udp(src, (uint16_t)(2000 + i), "10.0.0.9", 53);
		pass(a, &p, 1000, &res);
		ct_export(a, res.entry, &s);
		s.flags |= CT_SNAP_SEEN_REPLY | CT_SNAP_ASSURED;
		assert_non_null(ct_import(b, &s, 1000, NULL));
		ct_remove(a, res.entry);
	}
}

/* A resync brings n of a's connections of src into b: all are there. */
static void
resync_bring(struct ct_table *a, struct ct_table *b, const char *src,
    unsigned n)
{
	struct ct_result	 res;
	struct ct_snap		 s;
	struct pkt		 p;
	unsigned		 i;

	for (i = 0; i < n; i++) {
		p = udp(src, (uint16_t)(1000 + i), "10.0.0.9", 53);
		pass(a, &p, 1001, &res);
		ct_export(a, res.entry, &s);
		assert_non_null(ct_import(b, &s, 1001, NULL));
	}
	for (i = 0; i < n; i++) {
		p = udp(src, (uint16_t)(1000 + i), "10.0.0.9", 53);
		ct_track(a, &p, 1001, &res);
		ct_export(a, res.entry, &s);
		assert_non_null(ct_lookup(b, &s.k));
	}
}

/* A full table during a resync: what it brings takes the room of what
   it has not marked (the sweep would end those), neither of what it
   brought nor nothing; and a source's stale connections do not hold
   the resync's to the source's share. */
static void
test_resync_room(void **state)
{
	struct ct_table		*a = table(4096), *b = table(8);
	struct ct_result	 res;
	struct ct_snap		 s;
	struct ct_stats		 st;
	struct pkt		 p;
	uint64_t		 cursor = 0;

	(void)state;
	stale_fill(a, b, "10.0.0.2", 6);
	ct_resync_begin(b);
	/* never replied: the table evicts these before assured ones */
	resync_bring(a, b, "10.0.0.1", 8);
	ct_get_stats(b, &st);
	assert_int_equal(st.early_drop, 6);
	assert_int_equal(ct_resync_sweep(b, &cursor, 64, 1002), 0);
	assert_int_equal(ct_count(b), 8);
	ct_free(b);

	/* nothing the table may evict: it refused them */
	b = table(8);
	stale_fill(a, b, "10.0.0.2", 8);
	ct_resync_begin(b);
	resync_bring(a, b, "10.0.0.1", 8);
	assert_int_equal(ct_resync_sweep(b, &cursor, 64, 1002), 0);
	assert_int_equal(ct_count(b), 8);
	ct_free(b);

	/* a share of 4: the stale four of 10.0.0.3 held it */
	b = table_cfg(8, 50, 1);
	stale_fill(a, b, "10.0.0.3", 4);
	ct_resync_begin(b);
	resync_bring(a, b, "10.0.0.3", 4);
	assert_int_equal(ct_count(b), 8);
	assert_int_equal(ct_resync_sweep(b, &cursor, 64, 1002), 4);
	assert_int_equal(ct_count(b), 4);
	/* over, the share holds again for a packet, never for an import */
	p = udp("10.0.0.3", 3000, "10.0.0.9", 53);
	ct_track(b, &p, 1003, &res);
	assert_int_equal(res.state, CT_NEW);
	assert_int_equal(ct_confirm(b, &p, 1003, 0, 0, &res), -1);
	assert_int_equal(res.reason, REASON_SOURCE_SHARE);
	pass(a, &p, 1003, &res);
	ct_export(a, res.entry, &s);
	assert_non_null(ct_import(b, &s, 1003, NULL));
	assert_int_equal(ct_count(b), 5);
	ct_free(b);
	ct_free(a);
}

/* b holds connection port of src that a no longer has, last refreshed
   age ms ago; replied: assured, so that the table would keep it unless
   idle */
static void
stale_one(struct ct_table *a, struct ct_table *b, const char *src,
    uint16_t port, uint32_t age, int replied)
{
	struct ct_result	 res;
	struct ct_snap		 s;
	struct pkt		 p;

	p = udp(src, port, "10.0.0.9", 53);
	pass(a, &p, 1000, &res);
	ct_export(a, res.entry, &s);
	if (replied)
		s.flags |= CT_SNAP_SEEN_REPLY | CT_SNAP_ASSURED;
	s.left_ms -= age;
	assert_non_null(ct_import(b, &s, 1000, NULL));
	ct_remove(a, res.entry);
}

static int
has(struct ct_table *t, const char *src, uint16_t port)
{
	struct ct_tuple	 k;
	struct pkt	 p = udp(src, port, "10.0.0.9", 53);

	memset(&k, 0, sizeof(k));
	k.family = p.family;
	k.proto = p.proto;
	k.src = p.src;
	k.dst = p.dst;
	k.sport = p.sport;
	k.dport = p.dport;
	return (ct_lookup(t, &k) != NULL);
}

/*
 * A full table during a resync evicts what it has not marked as the
 * table evicts: of the best tier, the least recently refreshed first,
 * wherever its slot (the first slot from a cursor went before).
 */
static void
test_resync_room_stalest(void **state)
{
	static const uint32_t	 age[] = { 1000, 2000, 20000, 3000, 5000, 4000 };
	struct ct_table		*a = table(4096), *b = table(8);
	struct ct_stats		 st;
	unsigned		 i;

	(void)state;
	for (i = 0; i < 6; i++)
		stale_one(a, b, "10.0.0.2", (uint16_t)(2000 + i), age[i], 1);
	ct_resync_begin(b);
	/* never replied: the ordinary eviction would take these */
	resync_bring(a, b, "10.0.0.1", 2);
	assert_int_equal(ct_count(b), 8);
	resync_bring(a, b, "10.0.0.3", 1);
	assert_false(has(b, "10.0.0.2", 2002));
	resync_bring(a, b, "10.0.0.4", 1);
	assert_false(has(b, "10.0.0.2", 2004));
	resync_bring(a, b, "10.0.0.5", 1);
	assert_false(has(b, "10.0.0.2", 2005));
	for (i = 0; i < 2; i++)
		assert_true(has(b, "10.0.0.2", (uint16_t)(2000 + i)));
	assert_true(has(b, "10.0.0.2", 2003));
	assert_true(has(b, "10.0.0.1", 1000) && has(b, "10.0.0.1", 1001));
	ct_get_stats(b, &st);
	assert_int_equal(st.early_drop, 3);
	ct_free(b);

	/* the tier first: one that never saw a reply, however recent,
	   before an assured one idle longer */
	b = table(4);
	stale_one(a, b, "10.0.0.2", 2000, 25000, 1);
	stale_one(a, b, "10.0.0.2", 2001, 100, 0);
	ct_resync_begin(b);
	resync_bring(a, b, "10.0.0.1", 3);
	assert_false(has(b, "10.0.0.2", 2001));
	assert_true(has(b, "10.0.0.2", 2000));
	ct_free(b);

	/* none near the heads of the lists: one from the cursor */
	b = table(64);
	stale_one(a, b, "10.0.0.2", 2000, 0, 1);
	ct_resync_begin(b);
	resync_bring(a, b, "10.0.0.1", 63);
	assert_int_equal(ct_count(b), 64);
	resync_bring(a, b, "10.0.0.3", 1);
	assert_false(has(b, "10.0.0.2", 2000));
	ct_get_stats(b, &st);
	assert_int_equal(st.early_drop, 1);
	ct_free(b);
	ct_free(a);
}

/*
 * A packet's new connection in a full table during a resync evicts
 * what the resync has not marked, the stalest first, as an import does:
 * not a connection the resync brought (the ordinary eviction takes one
 * that never saw a reply), and not nothing (it keeps an assured active
 * one).  Once the resync's end came the same, until the sweep is done.
 */
static void
test_resync_room_packet(void **state)
{
	struct ct_table		*a = table(4096), *b = table(8);
	struct ct_result	 res;
	struct pkt		 p;
	uint64_t		 cursor = 0;
	unsigned		 i;

	(void)state;
	for (i = 0; i < 4; i++)
		stale_one(a, b, "10.0.0.2", (uint16_t)(2000 + i),
		    i == 2 ? 9000 : 1000 * i, 1);
	ct_resync_begin(b);
	resync_bring(a, b, "10.0.0.1", 4);
	assert_int_equal(ct_count(b), 8);
	p = udp("10.0.0.7", 4000, "10.0.0.9", 53);
	assert_int_equal(pass(b, &p, 1001, &res), CT_NEW);
	assert_non_null(res.entry);
	assert_false(has(b, "10.0.0.2", 2002));
	for (i = 0; i < 4; i++)
		assert_true(has(b, "10.0.0.1", (uint16_t)(1000 + i)));

	/* the end came: the sweep goes, and a packet still evicts the
	   unmarked: of the best tier, the first packet's (never replied;
	   made before the end, the resync did not bring it) */
	assert_int_equal(ct_resync_sweep(b, &cursor, 0, 1002), 0);
	p = udp("10.0.0.7", 4001, "10.0.0.9", 53);
	assert_int_equal(pass(b, &p, 1002, &res), CT_NEW);
	assert_false(has(b, "10.0.0.7", 4000));
	for (i = 0; i < 4; i++)
		assert_true(has(b, "10.0.0.1", (uint16_t)(1000 + i)));
	/* the next one the stalest */
	p = udp("10.0.0.7", 4002, "10.0.0.9", 53);
	assert_int_equal(pass(b, &p, 1002, &res), CT_NEW);
	assert_false(has(b, "10.0.0.2", 2003));
	assert_true(has(b, "10.0.0.7", 4001));
	/* made since the end, they stay */
	do
		(void)ct_resync_sweep(b, &cursor, 64, 1002);
	while (cursor != 0);
	assert_int_equal(ct_count(b), 6);
	assert_true(has(b, "10.0.0.7", 4001) && has(b, "10.0.0.7", 4002));
	ct_free(b);
	ct_free(a);
}

/*
 * An import is not held to source_share, outside a resync too: the peer
 * (or another worker) took the connection under a share of its own, and
 * this worker's count of the source differs.  A packet still is.
 */
static void
test_import_share(void **state)
{
	struct ct_table		*a = table(4096), *b = table_cfg(100, 5, 1);
	struct ct_result	 res;
	struct ct_snap		 s;
	struct ct_stats		 st;
	struct pkt		 p;
	unsigned		 i;

	(void)state;
	for (i = 0; i < 8; i++) {
		p = udp("10.0.0.3", (uint16_t)(1000 + i), "10.0.0.9", 53);
		pass(a, &p, 1000, &res);
		ct_export(a, res.entry, &s);
		assert_non_null(ct_import(b, &s, 1000, NULL));
	}
	assert_int_equal(ct_count(b), 8);
	p = udp("10.0.0.3", 3000, "10.0.0.9", 53);
	ct_track(b, &p, 1000, &res);
	assert_int_equal(res.state, CT_NEW);
	assert_int_equal(ct_confirm(b, &p, 1000, 0, 0, &res), -1);
	assert_int_equal(res.reason, REASON_SOURCE_SHARE);
	ct_get_stats(b, &st);
	assert_int_equal(st.share_refused, 1);
	ct_free(b);
	ct_free(a);
}

/* rule indices take 17 bits: bits 0-15 in the entry, bit 16 in status */
static void
test_rule_index_17bits(void **state)
{
	struct ct_table		*t = table(1024), *b = table(1024);
	struct ct_result	 res;
	struct ct_snap		 s;
	struct ct_entry		*e;
	struct pkt		 q = udp("10.0.0.1", 5353, "10.0.0.2", 53);
	struct pkt		 r = udp("10.0.0.2", 53, "10.0.0.1", 5353);

	(void)state;
	ct_track(t, &q, 1000, &res);
	assert_int_equal(ct_confirm(t, &q, 1000, 3, 0x1abcd, &res), 0);
	assert_int_equal(ct_entry_rule(res.entry), 0x1abcd);
	ct_track(t, &r, 1001, &res);	/* a reply keeps the flags */
	assert_int_equal(ct_entry_rule(res.entry), 0x1abcd);
	assert_int_equal(ct_entry_mark(res.entry), 3);
	ct_export(t, res.entry, &s);
	assert_int_equal(s.rule, 0x1abcd);
	assert_non_null(e = ct_import(b, &s, 1001, NULL));
	assert_int_equal(ct_entry_rule(e), 0x1abcd);
	ct_entry_set_decision(res.entry, 4, 0xfffe);
	assert_int_equal(ct_entry_rule(res.entry), 0xfffe);
	ct_entry_set_decision(res.entry, 4, 0x10000);
	assert_int_equal(ct_entry_rule(res.entry), 0x10000);
	ct_free(t);
	ct_free(b);
}

static void
test_tcp_connection(void **state)
{
	struct ct_table		*t = table(1024);
	struct ct_result	 res;
	struct ct_stats		 st;
	struct conv		 c;
	char			 buf[512];

	conv_init(&c, t, 0);
	assert_int_equal(conv_send(&c, 0, SYN, 0, &res), CT_NEW);
	assert_non_null(res.entry);
	assert_int_equal(ct_entry_mark(res.entry), 0x10);
	assert_int_equal(ct_entry_rule(res.entry), 7);
	/* a retransmitted SYN: still NEW, same entry */
	assert_int_equal(conv_send(&c, 0, SYN, 0, &res), CT_NEW);
	assert_non_null(res.entry);
	assert_int_equal(ct_count(t), 1);
	ct_format(res.entry, c.now, buf, sizeof(buf));
	assert_string_equal(buf, "ipv4     2 tcp      6 120 SYN_SENT "
	    "src=10.0.0.1 dst=10.0.0.2 sport=41000 dport=22 [UNREPLIED] "
	    "src=10.0.0.2 dst=10.0.0.1 sport=22 dport=41000 mark=16 use=1");

	assert_int_equal(conv_send(&c, 1, SYN | ACK, 0, &res), CT_ESTABLISHED);
	assert_int_equal(res.dir, CT_DIR_REPLY);
	assert_int_equal(conv_send(&c, 0, ACK, 0, &res), CT_ESTABLISHED);
	assert_int_equal(res.dir, CT_DIR_ORIG);
	assert_int_equal(conv_send(&c, 0, ACK | PSH, 100, &res),
	    CT_ESTABLISHED);
	assert_int_equal(conv_send(&c, 1, ACK, 0, &res), CT_ESTABLISHED);
	ct_format(res.entry, c.now, buf, sizeof(buf));
	assert_string_equal(buf, "ipv4     2 tcp      6 432000 ESTABLISHED "
	    "src=10.0.0.1 dst=10.0.0.2 sport=41000 dport=22 "
	    "src=10.0.0.2 dst=10.0.0.1 sport=22 dport=41000 [ASSURED] "
	    "mark=16 use=1");
	/* both directions, one entry */
	assert_int_equal(ct_count(t), 1);

	assert_int_equal(conv_send(&c, 1, FIN | ACK, 0, &res), CT_ESTABLISHED);
	assert_int_equal(conv_state(&c), CT_TCP_FIN_WAIT);
	assert_int_equal(conv_send(&c, 0, ACK, 0, &res), CT_ESTABLISHED);
	assert_int_equal(conv_state(&c), CT_TCP_CLOSE_WAIT);
	assert_int_equal(conv_send(&c, 0, FIN | ACK, 0, &res), CT_ESTABLISHED);
	assert_int_equal(conv_state(&c), CT_TCP_LAST_ACK);
	assert_int_equal(conv_send(&c, 1, ACK, 0, &res), CT_ESTABLISHED);
	assert_int_equal(conv_state(&c), CT_TCP_TIME_WAIT);
	ct_format(res.entry, c.now, buf, sizeof(buf));
	assert_non_null(strstr(buf, " 120 TIME_WAIT "));

	/* TIME_WAIT runs out */
	ct_expire(t, c.now + 119 * 1000);
	assert_int_equal(ct_count(t), 1);
	ct_expire(t, c.now + 120 * 1000);
	assert_int_equal(ct_count(t), 0);
	ct_get_stats(t, &st);
	assert_int_equal(st.created, 1);
	assert_int_equal(st.expired, 1);
	assert_int_equal(st.destroyed, 1);
	ct_free(t);
}

static void
test_tcp_ipv6_format(void **state)
{
	struct ct_table		*t = table(1024);
	struct ct_result	 res;
	struct conv		 c;
	char			 buf[512];
	int			 n;

	conv_init(&c, t, 1);
	assert_int_equal(conv_send(&c, 0, SYN, 0, &res), CT_NEW);
	n = ct_format(res.entry, c.now, buf, sizeof(buf));
	assert_string_equal(buf, "ipv6     10 tcp      6 120 SYN_SENT "
	    "src=2001:0db8:0000:0000:0000:0000:0000:0001 "
	    "dst=2001:0db8:0000:0000:0000:0000:0000:0002 "
	    "sport=41000 dport=22 [UNREPLIED] "
	    "src=2001:0db8:0000:0000:0000:0000:0000:0002 "
	    "dst=2001:0db8:0000:0000:0000:0000:0000:0001 "
	    "sport=22 dport=41000 mark=16 use=1");
	assert_int_equal(n, (int)strlen(buf));
	/* truncation: the length it would have had, buffer terminated */
	assert_int_equal(ct_format(res.entry, c.now, buf, 10), n);
	assert_int_equal(strlen(buf), 9);
	ct_free(t);
}

/* ---- TCP flags ------------------------------------------------------------ */

static const struct {
	uint8_t		 flags;
	uint8_t		 state;
	uint8_t		 reason;
} flag_cases[] = {
	{ 0, CT_INVALID, REASON_TCP_FLAGS },			/* NULL */
	{ FIN | PSH | URG, CT_INVALID, REASON_TCP_FLAGS },	/* XMAS */
	{ FIN | SYN | RST | PSH | ACK | URG, CT_INVALID, REASON_TCP_FLAGS },
	{ SYN | FIN, CT_INVALID, REASON_TCP_FLAGS },
	{ SYN | FIN | ACK, CT_INVALID, REASON_TCP_FLAGS },
	{ SYN | RST, CT_INVALID, REASON_TCP_FLAGS },
	{ SYN | RST | ACK, CT_INVALID, REASON_TCP_FLAGS },
	{ FIN, CT_INVALID, REASON_TCP_FLAGS },			/* no ACK */
	{ FIN | RST | ACK, CT_INVALID, REASON_TCP_FLAGS },
	{ PSH, CT_INVALID, REASON_TCP_FLAGS },
	{ URG, CT_INVALID, REASON_TCP_FLAGS },
	{ SYN | ACK | URG, CT_INVALID, REASON_TCP_FLAGS },
	/* valid, and what they are without a connection */
	{ SYN, CT_NEW, 0 },
	{ SYN | ECE | CWR, CT_NEW, 0 },				/* ECN setup */
	{ SYN | URG, CT_NEW, 0 },
	{ SYN | ACK, CT_INVALID, REASON_TCP_NO_SYN },
	{ RST, CT_INVALID, REASON_TCP_NO_SYN },
	{ RST | ACK, CT_INVALID, REASON_TCP_NO_SYN },
	{ FIN | ACK, CT_INVALID, REASON_TCP_NO_SYN },
	{ ACK, CT_NEW, 0 },					/* tcp_loose */
	{ ACK | PSH, CT_NEW, 0 },
};

static void
test_tcp_flags(void **state)
{
	struct ct_table		*t = table(1024);
	struct ct_result	 res;
	struct conv		 c;
	struct ct_stats		 st;
	size_t			 i, ninv = 0;

	conv_init(&c, t, 0);
	for (i = 0; i < sizeof(flag_cases) / sizeof(flag_cases[0]); i++) {
		struct pkt p = conv_pkt(&c, 0, flag_cases[i].flags, 0);

		ct_track(t, &p, c.now, &res);
		if (res.state != flag_cases[i].state ||
		    res.reason != flag_cases[i].reason)
			fail_msg("flags 0x%02x: %d %s, want %d %s",
			    flag_cases[i].flags, res.state,
			    reason_name(res.reason), flag_cases[i].state,
			    reason_name(flag_cases[i].reason));
		assert_null(res.entry);
		if (res.state == CT_INVALID)
			ninv++;
	}
	assert_int_equal(ct_count(t), 0);
	ct_get_stats(t, &st);
	assert_int_equal(st.invalid, ninv);

	/* bad flags on an established connection: INVALID too */
	conv_send(&c, 0, SYN, 0, &res);
	conv_send(&c, 1, SYN | ACK, 0, &res);
	conv_send(&c, 0, ACK, 0, &res);
	{
		struct pkt p = conv_pkt(&c, 1, FIN | PSH | URG, 0);

		ct_track(t, &p, c.now, &res);
		assert_int_equal(res.state, CT_INVALID);
		assert_int_equal(res.reason, REASON_TCP_FLAGS);
		assert_int_equal(conv_state(&c), CT_TCP_ESTABLISHED);
	}
	ct_free(t);
}

static void
test_tcp_loose(void **state)
{
	struct ct_config	 cfg;
	struct ct_table		*t;
	struct ct_result	 res;
	struct conv		 c;
	struct pkt		 p;
	char			 buf[512];

	/* loose off: an ACK without a connection is tcp-no-syn */
	ct_config_defaults(&cfg);
	cfg.tcp_loose = 0;
	t = ct_new(&cfg);
	assert_non_null(t);
	conv_init(&c, t, 0);
	p = conv_pkt(&c, 0, ACK, 100);
	ct_track(t, &p, c.now, &res);
	assert_int_equal(res.state, CT_INVALID);
	assert_int_equal(res.reason, REASON_TCP_NO_SYN);
	assert_int_equal(ct_confirm(t, &p, c.now, 0, 0, &res), -1);
	assert_int_equal(res.reason, REASON_TCP_NO_SYN);
	assert_int_equal(ct_count(t), 0);
	ct_free(t);

	/* loose on: picked up, ESTABLISHED unreplied, then assured */
	t = table(1024);
	conv_init(&c, t, 0);
	assert_int_equal(conv_send(&c, 0, ACK | PSH, 100, &res), CT_NEW);
	assert_non_null(res.entry);
	ct_format(res.entry, c.now, buf, sizeof(buf));
	assert_string_equal(buf, "ipv4     2 tcp      6 300 ESTABLISHED "
	    "src=10.0.0.1 dst=10.0.0.2 sport=41000 dport=22 [UNREPLIED] "
	    "src=10.0.0.2 dst=10.0.0.1 sport=22 dport=41000 mark=16 use=1");
	assert_int_equal(conv_send(&c, 1, ACK | PSH, 50, &res),
	    CT_ESTABLISHED);
	assert_int_equal(conv_send(&c, 0, ACK, 0, &res), CT_ESTABLISHED);
	ct_format(res.entry, c.now, buf, sizeof(buf));
	assert_non_null(strstr(buf, "[ASSURED]"));
	assert_non_null(strstr(buf, " 432000 ESTABLISHED "));
	ct_free(t);
}

/* ---- TCP: sequence and window tracking ------------------------------ */

static void
handshake(struct conv *c)
{
	struct ct_result	 res;

	assert_int_equal(conv_send(c, 0, SYN, 0, &res), CT_NEW);
	assert_int_equal(conv_send(c, 1, SYN | ACK, 0, &res), CT_ESTABLISHED);
	assert_int_equal(conv_send(c, 0, ACK, 0, &res), CT_ESTABLISHED);
	assert_int_equal(conv_state(c), CT_TCP_ESTABLISHED);
}

/* Track p (no confirm); the sender's next sequence moves if it passed. */
static uint8_t
conv_try(struct conv *c, int from, struct pkt *p, struct ct_result *res)
{
	c->now += 10;
	ct_track(c->t, p, c->now, res);
	if (res->state != CT_INVALID)
		conv_sent(c, from, p);
	return (res->state);
}

/* A segment of side from's, its seq and ack moved from where the sides
   are, and what the tracker says of it (conv_probes()) */
struct probe {
	int		 from;
	uint8_t		 flags;
	uint32_t	 len;
	int64_t		 dseq, dack;
	uint8_t		 state;		/* of the packet */
	uint8_t		 reason;	/* asked when state is CT_INVALID */
	uint8_t		 after;		/* TCP state after */
};

/* Try each of n probes of c in turn (conv_try()). */
static void
conv_probes(struct conv *c, const struct probe *pr, size_t n)
{
	struct ct_result	 res;
	struct pkt		 p;
	size_t			 i;

	for (i = 0; i < n; i++) {
		p = conv_pkt(c, pr[i].from, pr[i].flags, pr[i].len);
		p.seq += (uint32_t)pr[i].dseq;
		p.ack += (uint32_t)pr[i].dack;
		assert_int_equal(conv_try(c, pr[i].from, &p, &res),
		    pr[i].state);
		if (pr[i].state == CT_INVALID)
			assert_int_equal(res.reason, pr[i].reason);
		assert_int_equal(conv_state(c), pr[i].after);
	}
}

/* A segment of an established connection, bent by one field. */
enum bend { B_NONE, B_SEQ, B_ACK, B_WIN };

static const struct wcase {
	const char	*name;
	int		 liberal;
	int		 from;
	uint8_t		 flags;
	uint32_t	 len;
	enum bend	 bend;
	int64_t		 delta;		/* added to seq or ack */
	uint8_t		 state;		/* of the packet */
	uint8_t		 reason;
	uint8_t		 after;		/* TCP state after */
	uint64_t	 rst_ignored;
} wcases[] = {
	{ "in window", 0, 0, ACK | PSH, 1000, B_NONE, 0,
	    CT_ESTABLISHED, 0, CT_TCP_ESTABLISHED, 0 },
	{ "data at the window's edge", 0, 0, ACK | PSH, 1000, B_SEQ, 65535,
	    CT_ESTABLISHED, 0, CT_TCP_ESTABLISHED, 0 },
	{ "data beyond the window", 0, 0, ACK | PSH, 1000, B_SEQ, 65536,
	    CT_INVALID, REASON_TCP_SEQ, CT_TCP_ESTABLISHED, 0 },
	{ "data far beyond, liberal", 1, 0, ACK | PSH, 1000, B_SEQ, 900000,
	    CT_ESTABLISHED, 0, CT_TCP_ESTABLISHED, 0 },
	{ "server data beyond the window", 0, 1, ACK | PSH, 10, B_SEQ, 70000,
	    CT_INVALID, REASON_TCP_SEQ, CT_TCP_ESTABLISHED, 0 },
	{ "ack of data never sent", 0, 0, ACK, 0, B_ACK, 1,
	    CT_INVALID, REASON_TCP_ACK, CT_TCP_ESTABLISHED, 0 },
	{ "server acks data never sent", 0, 1, ACK, 0, B_ACK, 5000,
	    CT_INVALID, REASON_TCP_ACK, CT_TCP_ESTABLISHED, 0 },
	{ "ack of data never sent, liberal", 1, 0, ACK, 0, B_ACK, 5000,
	    CT_ESTABLISHED, 0, CT_TCP_ESTABLISHED, 0 },
	{ "a very old ack", 0, 0, ACK, 0, B_ACK, -200000,
	    CT_ESTABLISHED, 0, CT_TCP_ESTABLISHED, 0 },
	{ "exact RST", 0, 0, RST | ACK, 0, B_NONE, 0,
	    CT_ESTABLISHED, 0, CT_TCP_CLOSE, 0 },
	{ "exact RST without ACK", 0, 1, RST, 0, B_NONE, 0,
	    CT_ESTABLISHED, 0, CT_TCP_CLOSE, 0 },
	{ "RST in window, not exact", 0, 0, RST, 0, B_SEQ, 100,
	    CT_ESTABLISHED, 0, CT_TCP_ESTABLISHED, 1 },
	{ "RST in window, not exact, server", 0, 1, RST | ACK, 0, B_SEQ, 30000,
	    CT_ESTABLISHED, 0, CT_TCP_ESTABLISHED, 1 },
	{ "RST beyond the window", 0, 0, RST, 0, B_SEQ, 100000,
	    CT_INVALID, REASON_TCP_RST, CT_TCP_ESTABLISHED, 0 },
	{ "RST far behind", 0, 0, RST, 0, B_SEQ, -1000000,
	    CT_INVALID, REASON_TCP_RST, CT_TCP_ESTABLISHED, 0 },
	/* RFC 5961 3.2 (the kernel's "invalid rst"): below what the
	   receiver acknowledged is outside its window, though within ours */
	{ "RST behind the receiver's ack", 0, 0, RST, 0, B_SEQ, -10,
	    CT_INVALID, REASON_TCP_RST, CT_TCP_ESTABLISHED, 0 },
	{ "RST behind the receiver's ack, server", 0, 1, RST | ACK, 0, B_SEQ,
	    -1, CT_INVALID, REASON_TCP_RST, CT_TCP_ESTABLISHED, 0 },
	{ "RST behind the receiver's ack, liberal: passes, kills nothing", 1,
	    0, RST, 0, B_SEQ, -10, CT_ESTABLISHED, 0, CT_TCP_ESTABLISHED, 0 },
	{ "RST acking data never sent", 0, 1, RST | ACK, 0, B_ACK, 777,
	    CT_INVALID, REASON_TCP_RST, CT_TCP_ESTABLISHED, 0 },
	{ "RST beyond the window, liberal: passes, kills nothing", 1, 0, RST,
	    0, B_SEQ, 100000, CT_ESTABLISHED, 0, CT_TCP_ESTABLISHED, 0 },
	{ "FIN beyond the window", 0, 0, FIN | ACK, 0, B_SEQ, 80000,
	    CT_INVALID, REASON_TCP_SEQ, CT_TCP_ESTABLISHED, 0 },
	{ "FIN in window", 0, 1, FIN | ACK, 0, B_NONE, 0,
	    CT_ESTABLISHED, 0, CT_TCP_FIN_WAIT, 0 },
};

static void
run_window_cases(int v6)
{
	struct ct_config	 cfg;
	struct ct_result	 res;
	struct ct_stats		 st;
	struct ct_table		*t;
	struct conv		 c;
	struct pkt		 p;
	size_t			 i;

	for (i = 0; i < sizeof(wcases) / sizeof(wcases[0]); i++) {
		const struct wcase *w = &wcases[i];

		ct_config_defaults(&cfg);
		cfg.tcp_liberal = (uint8_t)w->liberal;
		t = ct_new(&cfg);
		assert_non_null(t);
		conv_init(&c, t, v6);
		handshake(&c);
		/* some data both ways first */
		conv_send(&c, 0, ACK | PSH, 500, &res);
		conv_send(&c, 1, ACK | PSH, 300, &res);
		conv_send(&c, 0, ACK, 0, &res);
		p = conv_pkt(&c, w->from, w->flags, w->len);
		if (w->bend == B_SEQ)
			p.seq += (uint32_t)w->delta;
		else if (w->bend == B_ACK)
			p.ack += (uint32_t)w->delta;
		/* (its sender's next sequence number stays put) */
		c.now += 10;
		ct_track(t, &p, c.now, &res);
		ct_get_stats(t, &st);
		if (res.state != w->state || res.reason != w->reason ||
		    conv_state(&c) != w->after ||
		    st.rst_ignored != w->rst_ignored)
			fail_msg("%s %s: got %d %s %s rst_ignored %llu", v6 ?
			    "v6" : "v4", w->name, res.state,
			    reason_name(res.reason),
			    conv_state(&c) == GONE ? "GONE" :
			    ct_tcp_state_name(conv_state(&c)),
			    (unsigned long long)st.rst_ignored);
		if (res.state == CT_INVALID)
			assert_non_null(res.entry);
		/* the connection carries on after what was refused */
		if (w->after == CT_TCP_ESTABLISHED &&
		    (conv_send(&c, 0, ACK | PSH, 100, &res) != CT_ESTABLISHED ||
		    conv_send(&c, 1, ACK, 0, &res) != CT_ESTABLISHED))
			fail_msg("%s %s: then %s", v6 ? "v6" : "v4", w->name,
			    reason_name(res.reason));
		ct_free(t);
	}
}

static void
test_tcp_window_v4(void **state)
{
	run_window_cases(0);
}

static void
test_tcp_window_v6(void **state)
{
	run_window_cases(1);
}

static void
test_tcp_retransmission(void **state)
{
	struct ct_table		*t = table(1024);
	struct ct_result	 res;
	struct conv		 c;
	struct pkt		 first, p;
	int			 i;

	conv_init(&c, t, 0);
	handshake(&c);
	first = conv_pkt(&c, 0, ACK | PSH, 1000);
	assert_int_equal(conv_try(&c, 0, &first, &res), CT_ESTABLISHED);
	/* resent before the ACK, and again after it */
	p = first;
	assert_int_equal(conv_try(&c, 0, &p, &res), CT_ESTABLISHED);
	assert_int_equal(conv_send(&c, 1, ACK, 0, &res), CT_ESTABLISHED);
	assert_int_equal(conv_try(&c, 0, &p, &res), CT_ESTABLISHED);
	/* 200 kB later (past a whole window) it is still only ignored */
	for (i = 0; i < 200; i++) {
		assert_int_equal(conv_send(&c, 0, ACK | PSH, 1000, &res),
		    CT_ESTABLISHED);
		assert_int_equal(conv_send(&c, 1, ACK, 0, &res),
		    CT_ESTABLISHED);
	}
	p = first;
	p.ack = c.s[1].nxt;
	assert_int_equal(conv_try(&c, 0, &p, &res), CT_ESTABLISHED);
	assert_int_equal(conv_state(&c), CT_TCP_ESTABLISHED);
	/* an old RST is another matter */
	p.th_flags = RST;
	assert_int_equal(conv_try(&c, 0, &p, &res), CT_INVALID);
	assert_int_equal(res.reason, REASON_TCP_RST);
	ct_free(t);
}

static void
test_tcp_handshake_window(void **state)
{
	struct ct_table		*t = table(1024);
	struct ct_result	 res;
	struct conv		 c;
	struct pkt		 p;

	/* a SYN/ACK acking something else than the SYN */
	conv_init(&c, t, 0);
	conv_send(&c, 0, SYN, 0, &res);
	p = conv_pkt(&c, 1, SYN | ACK, 0);
	p.ack += 5;
	assert_int_equal(conv_try(&c, 1, &p, &res), CT_INVALID);
	assert_int_equal(res.reason, REASON_TCP_ACK);
	assert_int_equal(conv_state(&c), CT_TCP_SYN_SENT);
	/* one acking far below the SYN: not a late ACK to let by, and the
	   window it offers must not make a blind RST fit (test_attacks) */
	p = conv_pkt(&c, 1, SYN | ACK, 0);
	p.ack -= 0x100000;
	assert_int_equal(conv_try(&c, 1, &p, &res), CT_INVALID);
	assert_int_equal(res.reason, REASON_TCP_ACK);
	assert_int_equal(conv_state(&c), CT_TCP_SYN_SENT);
	p = conv_pkt(&c, 1, RST, 0);
	p.seq += 1;
	assert_int_equal(conv_try(&c, 1, &p, &res), CT_INVALID);
	assert_int_equal(conv_state(&c), CT_TCP_SYN_SENT);
	/* a RST that does not answer the SYN */
	p = conv_pkt(&c, 1, RST | ACK, 0);
	p.ack += 1000;
	assert_int_equal(conv_try(&c, 1, &p, &res), CT_INVALID);
	assert_int_equal(res.reason, REASON_TCP_RST);
	assert_int_equal(conv_state(&c), CT_TCP_SYN_SENT);
	/* blind RSTs (RFC 9293 3.10.7.3): no ACK at all, or one below the
	   SYN's end; either used to teach the reply side its own window */
	p = conv_pkt(&c, 1, RST, 0);
	p.seq += 0x40000000;
	assert_int_equal(conv_try(&c, 1, &p, &res), CT_INVALID);
	assert_int_equal(res.reason, REASON_TCP_RST);
	assert_int_equal(conv_state(&c), CT_TCP_SYN_SENT);
	p = conv_pkt(&c, 1, RST | ACK, 0);
	p.ack -= 1;
	assert_int_equal(conv_try(&c, 1, &p, &res), CT_INVALID);
	assert_int_equal(res.reason, REASON_TCP_RST);
	assert_int_equal(conv_state(&c), CT_TCP_SYN_SENT);
	/* the right SYN/ACK */
	assert_int_equal(conv_send(&c, 1, SYN | ACK, 0, &res), CT_ESTABLISHED);
	assert_int_equal(conv_state(&c), CT_TCP_SYN_RECV);
	/* a third packet acking beyond the SYN/ACK */
	p = conv_pkt(&c, 0, ACK, 0);
	p.ack += 1;
	assert_int_equal(conv_try(&c, 0, &p, &res), CT_INVALID);
	assert_int_equal(res.reason, REASON_TCP_ACK);
	assert_int_equal(conv_state(&c), CT_TCP_SYN_RECV);
	ct_free(t);

	/* an INVALID SYN/ACK teaches nothing: one with a wrong ack and a
	   higher ISN must not keep the real one (lower) from being learnt */
	t = table(1024);
	conv_init(&c, t, 0);
	conv_send(&c, 0, SYN, 0, &res);
	p = conv_pkt(&c, 1, SYN | ACK, 0);
	p.seq += 10000000;
	p.ack += 5;
	assert_int_equal(conv_try(&c, 1, &p, &res), CT_INVALID);
	assert_int_equal(res.reason, REASON_TCP_ACK);
	assert_int_equal(conv_send(&c, 1, SYN | ACK, 0, &res), CT_ESTABLISHED);
	assert_int_equal(conv_state(&c), CT_TCP_SYN_RECV);
	assert_int_equal(conv_send(&c, 0, ACK, 0, &res), CT_ESTABLISHED);
	assert_int_equal(conv_send(&c, 1, ACK | PSH, 10, &res),
	    CT_ESTABLISHED);
	assert_int_equal(conv_state(&c), CT_TCP_ESTABLISHED);
	ct_free(t);

	/* a SYN restarted with a higher ISN replaces the first */
	t = table(1024);
	conv_init(&c, t, 0);
	conv_send(&c, 0, SYN, 0, &res);
	c.s[0].isn += 5000000;
	c.s[0].nxt = c.s[0].isn;
	assert_int_equal(conv_send(&c, 0, SYN, 0, &res), CT_NEW);
	assert_int_equal(conv_send(&c, 1, SYN | ACK, 0, &res), CT_ESTABLISHED);
	assert_int_equal(conv_send(&c, 0, ACK, 0, &res), CT_ESTABLISHED);
	assert_int_equal(conv_state(&c), CT_TCP_ESTABLISHED);
	ct_free(t);

	/* the server answers a retransmitted SYN with a new ISN */
	t = table(1024);
	conv_init(&c, t, 0);
	conv_send(&c, 0, SYN, 0, &res);
	conv_send(&c, 1, SYN | ACK, 0, &res);
	assert_int_equal(conv_send(&c, 0, SYN, 0, &res), CT_ESTABLISHED);
	c.s[1].isn = c.s[1].nxt = c.s[1].isn + 3000000;
	assert_int_equal(conv_send(&c, 1, SYN | ACK, 0, &res), CT_ESTABLISHED);
	assert_int_equal(conv_state(&c), CT_TCP_SYN_RECV);
	assert_int_equal(conv_send(&c, 0, ACK, 0, &res), CT_ESTABLISHED);
	assert_int_equal(conv_state(&c), CT_TCP_ESTABLISHED);
	assert_int_equal(conv_send(&c, 1, ACK | PSH, 10, &res),
	    CT_ESTABLISHED);
	ct_free(t);

	/* simultaneous open: the other SYN retransmitted elsewhere */
	t = table(1024);
	conv_init(&c, t, 0);
	conv_send(&c, 0, SYN, 0, &res);
	assert_int_equal(conv_send(&c, 1, SYN, 0, &res), CT_ESTABLISHED);
	assert_int_equal(conv_state(&c), CT_TCP_SYN_SENT2);
	p = conv_pkt(&c, 1, SYN, 0);
	p.seq += 100000;
	assert_int_equal(conv_try(&c, 1, &p, &res), CT_INVALID);
	assert_int_equal(res.reason, REASON_TCP_SYN_WINDOW);
	ct_free(t);
}

static const struct {
	uint8_t		 cws, sws;	/* window scale offered */
	uint16_t	 swin;		/* server window after the handshake */
	uint32_t	 ahead;		/* client data this far ahead */
	uint8_t		 state;
} scases[] = {
	/* both offer: 1024 << 7 = 131072 */
	{ 7, 7, 1024, 100000, CT_ESTABLISHED },
	{ 7, 7, 1024, 131072, CT_ESTABLISHED },
	{ 7, 7, 1024, 131073, CT_ESTABLISHED },	/* starts at the edge */
	{ 7, 7, 1024, 131074, CT_INVALID },
	/* only one side offers: no scaling at all (RFC 7323) */
	{ 7, PKT_WSCALE_NONE, 1024, 100000, CT_INVALID },
	{ PKT_WSCALE_NONE, 7, 1024, 100000, CT_INVALID },
	{ PKT_WSCALE_NONE, 7, 1024, 1024, CT_ESTABLISHED },
	/* shifts over 14 count as 14 */
	{ 15, 15, 4, 65536, CT_ESTABLISHED },
	{ 15, 15, 4, 65538, CT_INVALID },
};

static void
test_tcp_wscale(void **state)
{
	struct ct_result	 res;
	struct ct_table		*t;
	struct conv		 c;
	struct pkt		 p;
	size_t			 i;

	for (i = 0; i < sizeof(scases) / sizeof(scases[0]); i++) {
		t = table(1024);
		conv_init(&c, t, 1);
		c.s[0].wscale = scases[i].cws;
		c.s[1].wscale = scases[i].sws;
		c.s[0].win = 64240;
		c.s[1].win = 64240;
		handshake(&c);
		c.s[1].win = scases[i].swin;
		assert_int_equal(conv_send(&c, 1, ACK, 0, &res),
		    CT_ESTABLISHED);
		p = conv_pkt(&c, 0, ACK | PSH, 1);
		p.seq += scases[i].ahead - 1;
		conv_try(&c, 0, &p, &res);
		if (res.state != scases[i].state)
			fail_msg("case %zu: state %d %s", i, res.state,
			    reason_name(res.reason));
		ct_free(t);
	}
}

static void
test_tcp_sack(void **state)
{
	struct ct_table		*t = table(1024);
	struct ct_result	 res;
	struct conv		 c;
	struct pkt		 p;
	uint32_t		 s1;

	conv_init(&c, t, 0);
	c.s[0].sackp = c.s[1].sackp = 1;
	handshake(&c);
	s1 = c.s[0].nxt;
	conv_send(&c, 0, ACK | PSH, 1000, &res);
	conv_send(&c, 0, ACK | PSH, 1000, &res);
	conv_send(&c, 0, ACK | PSH, 1000, &res);
	/* the second was lost: ack the first, SACK the third */
	p = conv_pkt(&c, 1, ACK, 0);
	p.ack = s1 + 1000;
	p.nsack = 1;
	p.sack[0][0] = s1 + 2000;
	p.sack[0][1] = s1 + 3000;
	assert_int_equal(conv_try(&c, 1, &p, &res), CT_ESTABLISHED);
	/* a SACK block beyond what was sent */
	p.sack[0][1] = s1 + 3001;
	assert_int_equal(conv_try(&c, 1, &p, &res), CT_INVALID);
	assert_int_equal(res.reason, REASON_TCP_ACK);
	ct_free(t);
}

static void
test_tcp_timeouts(void **state)
{
	struct ct_config	 cfg;
	struct ct_table		*t;
	struct ct_result	 res;
	struct conv		 c;
	struct pkt		 p;
	char			 buf[512];
	int			 i;

	ct_config_defaults(&cfg);
	cfg.timeout[CT_TO_TCP_MAX_RETRANS] = 77;
	cfg.timeout[CT_TO_TCP_UNACK] = 88;
	t = ct_new(&cfg);
	assert_non_null(t);
	conv_init(&c, t, 0);
	handshake(&c);
	ct_format(conv_entry(&c), c.now, buf, sizeof(buf));
	assert_non_null(strstr(buf, " 432000 ESTABLISHED "));
	/* data in flight: the unacknowledged timeout */
	p = conv_pkt(&c, 0, ACK | PSH, 100);
	assert_int_equal(conv_try(&c, 0, &p, &res), CT_ESTABLISHED);
	ct_format(res.entry, c.now, buf, sizeof(buf));
	assert_non_null(strstr(buf, " 88 ESTABLISHED "));
	/* the same segment three more times: max_retrans */
	for (i = 0; i < 3; i++)
		assert_int_equal(conv_try(&c, 0, &p, &res), CT_ESTABLISHED);
	ct_format(res.entry, c.now, buf, sizeof(buf));
	assert_non_null(strstr(buf, " 77 ESTABLISHED "));
	/* acknowledged: back to established */
	assert_int_equal(conv_send(&c, 1, ACK, 0, &res), CT_ESTABLISHED);
	ct_format(res.entry, c.now, buf, sizeof(buf));
	assert_non_null(strstr(buf, " 432000 ESTABLISHED "));
	/* a zero window */
	c.s[1].win = 0;
	assert_int_equal(conv_send(&c, 1, ACK, 0, &res), CT_ESTABLISHED);
	ct_format(res.entry, c.now, buf, sizeof(buf));
	assert_non_null(strstr(buf, " 77 ESTABLISHED "));
	c.s[1].win = 1000;
	assert_int_equal(conv_send(&c, 1, ACK, 0, &res), CT_ESTABLISHED);
	ct_format(res.entry, c.now, buf, sizeof(buf));
	assert_non_null(strstr(buf, " 432000 ESTABLISHED "));
	/* a RST: CLOSE, 10 s, then gone */
	assert_int_equal(conv_send(&c, 0, RST, 0, &res), CT_ESTABLISHED);
	ct_format(res.entry, c.now, buf, sizeof(buf));
	assert_non_null(strstr(buf, " 10 CLOSE "));
	ct_expire(t, c.now + 10000);
	assert_int_equal(ct_count(t), 0);
	ct_free(t);

	/* SYN_SENT never answered */
	t = table(1024);
	conv_init(&c, t, 0);
	conv_send(&c, 0, SYN, 0, &res);
	ct_expire(t, c.now + 119999);
	assert_int_equal(ct_count(t), 1);
	ct_expire(t, c.now + 120000);
	assert_int_equal(ct_count(t), 0);
	ct_free(t);
}

static void
test_tcp_resync(void **state)
{
	struct ct_table		*t = table(1024);
	struct ct_result	 res;
	struct conv		 c;
	struct pkt		 p;

	conv_init(&c, t, 0);
	handshake(&c);
	conv_send(&c, 0, ACK | PSH, 100, &res);
	conv_send(&c, 1, ACK, 0, &res);
	/* the client restarted with the same ports: we missed the close */
	c.s[0].isn = c.s[0].nxt = 0x12345678;
	c.s[0].wscale = 6;
	c.s[0].sackp = 1;
	assert_int_equal(conv_send(&c, 0, SYN, 0, &res), CT_ESTABLISHED);
	assert_int_equal(conv_state(&c), CT_TCP_ESTABLISHED);
	/* a SYN/ACK that does not answer it changes nothing */
	p = conv_pkt(&c, 1, SYN | ACK, 0);
	p.ack += 1;
	assert_int_equal(conv_try(&c, 1, &p, &res), CT_ESTABLISHED);
	assert_int_equal(conv_state(&c), CT_TCP_ESTABLISHED);
	/* (it displaced the noted SYN, as in the kernel: the client's
	   retransmission notes it again) */
	assert_int_equal(conv_send(&c, 0, SYN, 0, &res), CT_ESTABLISHED);
	/* the server answers the new SYN: we follow */
	c.s[1].isn = c.s[1].nxt = 0x0badf00d;
	c.s[1].wscale = 6;
	assert_int_equal(conv_send(&c, 1, SYN | ACK, 0, &res), CT_ESTABLISHED);
	assert_int_equal(conv_state(&c), CT_TCP_SYN_RECV);
	assert_int_equal(conv_send(&c, 0, ACK, 0, &res), CT_ESTABLISHED);
	assert_int_equal(conv_state(&c), CT_TCP_ESTABLISHED);
	/* and the new sequence space is tracked */
	assert_int_equal(conv_send(&c, 0, ACK | PSH, 1000, &res),
	    CT_ESTABLISHED);
	p = conv_pkt(&c, 1, ACK, 0);
	p.ack += 1;
	assert_int_equal(conv_try(&c, 1, &p, &res), CT_INVALID);
	assert_int_equal(res.reason, REASON_TCP_ACK);
	ct_free(t);
}

static void
test_tcp_challenge_ack(void **state)
{
	struct ct_table		*t = table(1024);
	struct ct_result	 res;
	struct conv		 c;
	struct pkt		 syn;

	conv_init(&c, t, 0);
	handshake(&c);
	conv_send(&c, 1, FIN | ACK, 0, &res);
	conv_send(&c, 0, FIN | ACK, 0, &res);
	assert_int_equal(conv_state(&c), CT_TCP_LAST_ACK);
	/* a SYN from the client (it has closed), answered by a challenge
	   ACK from the server: not the last ACK */
	syn = conv_pkt(&c, 0, SYN, 0);
	syn.seq = 0x55555555;
	ct_track(t, &syn, c.now, &res);
	assert_int_equal(res.state, CT_ESTABLISHED);
	assert_int_equal(conv_state(&c), CT_TCP_LAST_ACK);
	assert_int_equal(conv_send(&c, 1, ACK, 0, &res), CT_ESTABLISHED);
	assert_int_equal(conv_state(&c), CT_TCP_LAST_ACK);
	/* the real last ACK */
	assert_int_equal(conv_send(&c, 1, ACK, 0, &res), CT_ESTABLISHED);
	assert_int_equal(conv_state(&c), CT_TCP_TIME_WAIT);
	ct_free(t);
}

static void
test_tcp_loose_learning(void **state)
{
	struct ct_table		*t = table(1024);
	struct ct_result	 res;
	struct conv		 c;
	struct pkt		 p;
	int			 i;

	/* picked up: window scale unknown, so the window never refuses */
	conv_init(&c, t, 1);
	assert_int_equal(conv_send(&c, 0, ACK | PSH, 1000, &res), CT_NEW);
	c.s[1].win = 512;		/* really 512 << 7, say */
	assert_int_equal(conv_send(&c, 1, ACK | PSH, 1000, &res),
	    CT_ESTABLISHED);
	for (i = 0; i < 50; i++) {
		p = conv_pkt(&c, 0, ACK | PSH, 1400);
		assert_int_equal(conv_try(&c, 0, &p, &res), CT_ESTABLISHED);
	}
	assert_int_equal(conv_send(&c, 1, ACK, 0, &res), CT_ESTABLISHED);
	assert_int_equal(conv_state(&c), CT_TCP_ESTABLISHED);
	/* an out-of-window RST does not close a picked up one either */
	p = conv_pkt(&c, 0, RST, 0);
	p.seq += 3000000;
	assert_int_equal(conv_try(&c, 0, &p, &res), CT_ESTABLISHED);
	assert_int_equal(conv_state(&c), CT_TCP_ESTABLISHED);
	/* a real one does */
	assert_int_equal(conv_send(&c, 1, RST, 0, &res), CT_ESTABLISHED);
	assert_int_equal(conv_state(&c), CT_TCP_CLOSE);
	ct_free(t);
}

static void
test_tcp_reopen(void **state)
{
	struct ct_table		*t = table(1024);
	struct ct_result	 res;
	struct conv		 c;
	struct ct_entry		*old;

	conv_init(&c, t, 0);
	handshake(&c);
	conv_send(&c, 0, FIN | ACK, 0, &res);
	conv_send(&c, 1, FIN | ACK, 0, &res);
	conv_send(&c, 0, ACK, 0, &res);
	assert_int_equal(conv_state(&c), CT_TCP_TIME_WAIT);
	old = conv_entry(&c);
	assert_non_null(old);
	/* the same ports again: NEW, through the rules, fresh entry */
	c.s[0].isn = c.s[0].nxt = c.s[0].nxt + 100000;
	c.s[1].isn = c.s[1].nxt = 77777;
	assert_int_equal(conv_send(&c, 0, SYN, 0, &res), CT_NEW);
	assert_int_equal(ct_count(t), 1);
	assert_int_equal(conv_state(&c), CT_TCP_SYN_SENT);
	assert_int_equal(conv_send(&c, 1, SYN | ACK, 0, &res), CT_ESTABLISHED);
	assert_int_equal(conv_send(&c, 0, ACK, 0, &res), CT_ESTABLISHED);
	assert_int_equal(conv_state(&c), CT_TCP_ESTABLISHED);
	ct_free(t);
}

/* ---- the fast path's marks (ct_offload.c) -------------------------------- */

/* A handshake, then n bytes each way that the kernel passed unseen. */
static void
offload_conv(struct conv *c, struct ct_table *t, int v6, uint16_t port,
    int offload)
{
	struct ct_result	 res;

	conv_init(c, t, v6);
	c->s[0].port = port;
	assert_int_equal(conv_send(c, 0, SYN, 0, &res), CT_NEW);
	assert_int_equal(ct_offloadable(res.entry), 0);
	assert_int_equal(conv_send(c, 1, SYN | ACK, 0, &res), CT_ESTABLISHED);
	/* SYN_RECV: the handshake is not complete yet */
	assert_int_equal(ct_offloadable(res.entry), 0);
	assert_int_equal(conv_send(c, 0, ACK, 0, &res), CT_ESTABLISHED);
	assert_int_equal(ct_offloadable(res.entry), 1);
	assert_int_equal(ct_offloaded(t, res.entry), 0);
	if (offload)
		assert_int_equal(ct_set_offloaded(t, res.entry, 1), 0);
	/* megabytes the queue never saw, far past any window */
	c->s[0].nxt += 50000000;
	c->s[1].nxt += 70000000;
}

static int	 off_destroyed;

static void
off_event(int event, const struct ct_entry *e, void *arg)
{
	struct ct_table	*t = arg;

	/* the DESTROY still sees the mark, to take it out of the kernel */
	if (event == CT_EVENT_DESTROY && ct_offloaded(t, e))
		off_destroyed++;
}

static void
test_offload_tcp(void **state)
{
	struct ct_table		*t = table(1024);
	struct ct_result	 res;
	struct conv		 c, plain, r;

	/* not offloaded: the FIN after unseen data is out of window */
	offload_conv(&plain, t, 0, 41001, 0);
	assert_int_equal(conv_send(&plain, 0, FIN | ACK, 0, &res), CT_INVALID);
	assert_int_equal(conv_state(&plain), CT_TCP_ESTABLISHED);

	/* offloaded: the FIN re-learns the window and ends it */
	offload_conv(&c, t, 0, 41002, 1);
	assert_int_equal(ct_offload_count(t), 1);
	assert_int_equal(conv_send(&c, 0, FIN | ACK, 0, &res), CT_ESTABLISHED);
	assert_int_equal(conv_state(&c), CT_TCP_FIN_WAIT);
	assert_int_equal(conv_send(&c, 1, ACK, 0, &res), CT_ESTABLISHED);
	assert_int_equal(conv_send(&c, 1, FIN | ACK, 0, &res), CT_ESTABLISHED);
	assert_int_equal(conv_send(&c, 0, ACK, 0, &res), CT_ESTABLISHED);
	assert_int_equal(conv_state(&c), CT_TCP_TIME_WAIT);

	/* offloaded, IPv6: the server's exact RST resets it */
	offload_conv(&r, t, 1, 41003, 1);
	assert_int_equal(conv_send(&r, 1, RST, 0, &res), CT_ESTABLISHED);
	assert_int_equal(conv_state(&r), CT_TCP_CLOSE);
	/* a RST, though liberal, cannot take a SYN through: still a
	   state machine, not a hole */
	assert_int_equal(ct_offload_count(t), 2);

	/* unmarked: back to strict checks from what was learnt */
	assert_int_equal(ct_set_offloaded(t, conv_entry(&c), 0), 0);
	assert_int_equal(ct_offloaded(t, conv_entry(&c)), 0);
	assert_int_equal(ct_offload_count(t), 1);
	ct_free(t);
}

/* Bytes per connection: kept only when asked (fastpath = yes). */
static void
test_offload_bytes(void **state)
{
	struct ct_table		*t = table(4), *off = table(4);
	struct ct_result	 res;
	struct ct_tuple		 k;
	struct ct_entry		*e;
	struct pkt		 p = udp("10.0.0.1", 5000, "10.0.0.2", 53);
	struct pkt		 r = udp("10.0.0.2", 53, "10.0.0.1", 5000);
	uint64_t		 b;
	int			 i;

	(void)state;
	ct_keep_bytes(t);
	p.iplen = 100;
	r.iplen = 1500;
	assert_int_equal(pass(t, &p, 1000, &res), CT_NEW);
	e = res.entry;
	assert_int_equal(ct_entry_bytes(t, e, &b), 0);
	assert_int_equal(b, 100);
	for (i = 0; i < 3; i++) {
		pass(t, &r, 1001 + i, &res);
		pass(t, &p, 1001 + i, &res);
	}
	assert_int_equal(ct_entry_bytes(t, e, &b), 0);
	assert_int_equal(b, 100 + 3 * 1600);
	assert_int_equal(ct_entry_packets(e), 7);
	/* the kernel's bytes come in with its packets */
	ct_tuple_set(&k, AF_INET, IPPROTO_UDP, &p.src, &p.dst, 5000, 53);
	assert_int_equal(ct_credit(t, &k, 10, 9000, 2000), 0);
	assert_int_equal(ct_entry_bytes(t, e, &b), 0);
	assert_int_equal(b, 4900 + 9000);
	assert_int_equal(ct_entry_packets(e), 17);
	/* a slot's next connection starts again */
	ct_remove(t, e);
	p.sport = 5001;
	assert_int_equal(pass(t, &p, 3000, &res), CT_NEW);
	assert_ptr_equal(res.entry, e);		/* the same slot */
	assert_int_equal(ct_entry_bytes(t, res.entry, &b), 0);
	assert_int_equal(b, 100);
	/* a table that keeps none has none, and made none */
	assert_int_equal(pass(off, &p, 1000, &res), CT_NEW);
	assert_int_equal(ct_entry_bytes(off, res.entry, &b), -1);
	assert_int_equal(errno, ENOENT);
	k.sport = 5001;
	assert_int_equal(ct_credit(off, &k, 1, 64, 2000), 0);
	assert_null(off->bytes);
	ct_free(t);
	ct_free(off);
}

static void
test_offload_marks(void **state)
{
	struct ct_table		*t = table(1024);
	struct ct_result	 res;
	struct ct_tuple		 k;
	struct conv		 c, d;
	struct ct_entry		*e;
	uint32_t		 before;

	ct_set_event_cb(t, off_event, t);
	off_destroyed = 0;
	offload_conv(&c, t, 0, 42001, 1);
	offload_conv(&d, t, 0, 42002, 0);
	e = conv_entry(&c);
	assert_int_equal(ct_offloaded(t, e), 1);
	assert_int_equal(ct_offloaded(t, conv_entry(&d)), 0);
	/* marking twice counts once */
	assert_int_equal(ct_set_offloaded(t, e, 1), 0);
	assert_int_equal(ct_offload_count(t), 1);

	/* the kernel's counts: packets in, timer started again */
	before = ct_entry_packets(e);
	ct_tuple_set(&k, AF_INET, IPPROTO_TCP, &e->src, &e->dst, 42001, 22);
	assert_int_equal(ct_credit(t, &k, 1000, 64000,
	    c.now + 400000 * 1000ull), 0);
	assert_int_equal(ct_entry_packets(e), before + 1000);
	ct_expire(t, c.now + 431000 * 1000ull + 400000 * 1000ull);
	assert_int_equal(ct_count(t), 1);	/* d expired, c did not */
	assert_int_equal(conv_entry(&c), e);
	assert_int_equal(off_destroyed, 0);
	ct_tuple_set(&k, AF_INET, IPPROTO_TCP, &e->src, &e->dst, 42002, 22);
	assert_int_equal(ct_credit(t, &k, 1, 64, c.now + 400000 * 1000ull),
	    -1);
	assert_int_equal(errno, ENOENT);

	/* removed: DESTROY saw the mark; the slot's next tenant has none */
	ct_remove(t, e);
	assert_int_equal(off_destroyed, 1);
	assert_int_equal(ct_offload_count(t), 0);
	conv_init(&d, t, 0);
	d.now = c.now + 400000 * 1000ull;
	d.s[0].port = 42003;
	assert_int_equal(conv_send(&d, 0, SYN, 0, &res), CT_NEW);
	assert_int_equal(ct_offloaded(t, res.entry), 0);

	/* flushed: every mark goes, each DESTROY seeing its own */
	offload_conv(&c, t, 0, 42004, 1);
	c.now = d.now;
	assert_int_equal(ct_offload_count(t), 1);
	off_destroyed = 0;
	ct_flush(t);
	assert_int_equal(off_destroyed, 1);
	assert_int_equal(ct_offload_count(t), 0);

	/* cleared (the kernel's table was emptied): marks go, entries stay */
	offload_conv(&c, t, 0, 42005, 1);
	ct_offload_clear(t);
	assert_int_equal(ct_offload_count(t), 0);
	assert_int_equal(ct_offloaded(t, conv_entry(&c)), 0);
	assert_int_equal(ct_count(t), 1);
	ct_free(t);
}

static void
test_offload_udp(void **state)
{
	struct ct_table		*t = table(1024);
	struct ct_result	 res;
	struct pkt		 q = udp("10.0.0.1", 5353, "10.0.0.2", 53);
	struct pkt		 r = udp("10.0.0.2", 53, "10.0.0.1", 5353);
	struct pkt		 i = icmp("10.0.0.1", "10.0.0.2", 8, 7);

	assert_int_equal(pass(t, &q, 1000, &res), CT_NEW);
	assert_int_equal(ct_offloadable(res.entry), 0);	/* no reply yet */
	assert_int_equal(pass(t, &r, 1001, &res), CT_ESTABLISHED);
	assert_int_equal(ct_offloadable(res.entry), 1);
	assert_int_equal(ct_set_offloaded(t, res.entry, 1), 0);
	assert_int_equal(ct_offloaded(t, res.entry), 1);
	/* only TCP and UDP go to the kernel */
	assert_int_equal(pass(t, &i, 1002, &res), CT_NEW);
	assert_int_equal(ct_offloadable(res.entry), 0);
	ct_free(t);
}

/* ---- UDP ------------------------------------------------------------- */

static void
test_udp(void **state)
{
	struct ct_table		*t = table(1024);
	struct ct_result	 res;
	struct pkt		 q = udp("10.0.0.1", 5353, "10.0.0.2", 53);
	struct pkt		 r = udp("10.0.0.2", 53, "10.0.0.1", 5353);
	struct pkt		 other = udp("10.0.0.2", 54, "10.0.0.1", 5353);
	char			 buf[512];

	ct_track(t, &q, 1000, &res);
	assert_int_equal(res.state, CT_NEW);
	assert_null(res.entry);
	assert_int_equal(ct_count(t), 0);	/* nothing until confirmed */
	assert_int_equal(ct_confirm(t, &q, 1000, 3, 1, &res), 0);
	assert_non_null(res.entry);
	assert_int_equal(ct_count(t), 1);
	/* confirming again is harmless */
	assert_int_equal(ct_confirm(t, &q, 1000, 9, 9, &res), 0);
	assert_int_equal(ct_entry_mark(res.entry), 3);
	assert_int_equal(ct_count(t), 1);
	assert_tuple(res.entry, AF_INET, IPPROTO_UDP, &q, 5353, 53);
	ct_format(res.entry, 1000, buf, sizeof(buf));
	assert_string_equal(buf, "ipv4     2 udp      17 30 "
	    "src=10.0.0.1 dst=10.0.0.2 sport=5353 dport=53 [UNREPLIED] "
	    "src=10.0.0.2 dst=10.0.0.1 sport=53 dport=5353 mark=3 use=1");

	/* again before any reply: NEW, with its entry */
	ct_track(t, &q, 2000, &res);
	assert_int_equal(res.state, CT_NEW);
	assert_non_null(res.entry);
	/* a reply from another port is not this flow */
	ct_track(t, &other, 2500, &res);
	assert_int_equal(res.state, CT_NEW);
	assert_null(res.entry);
	/* the reply, 2 s after the first: no stream yet (the kernel notes
	   the reply after its tracker ran) */
	ct_track(t, &r, 3000, &res);
	assert_int_equal(res.state, CT_ESTABLISHED);
	assert_int_equal(res.dir, CT_DIR_REPLY);
	ct_format(res.entry, 3000, buf, sizeof(buf));
	assert_string_equal(buf, "ipv4     2 udp      17 30 "
	    "src=10.0.0.1 dst=10.0.0.2 sport=5353 dport=53 "
	    "src=10.0.0.2 dst=10.0.0.1 sport=53 dport=5353 mark=3 use=1");
	/* the next packet, the reply seen and past 2 s: a stream */
	ct_track(t, &q, 4000, &res);
	assert_int_equal(res.state, CT_ESTABLISHED);
	assert_int_equal(res.dir, CT_DIR_ORIG);
	ct_format(res.entry, 4000, buf, sizeof(buf));
	assert_string_equal(buf, "ipv4     2 udp      17 120 "
	    "src=10.0.0.1 dst=10.0.0.2 sport=5353 dport=53 "
	    "src=10.0.0.2 dst=10.0.0.1 sport=53 dport=5353 [ASSURED] "
	    "mark=3 use=1");
	/* confirmed at 1 s; the retransmit, the reply and this one */
	assert_int_equal(ct_entry_packets(res.entry), 4);
	assert_int_equal(ct_entry_age(res.entry, 4000), 3);
	assert_int_equal(ct_entry_age(res.entry, 500), 0);
	/* stream timeout: alive at 123.999 s, gone at 124 s */
	ct_track(t, &r, 4000 + 119999, &res);
	assert_int_equal(res.state, CT_ESTABLISHED);
	ct_track(t, &r, 4000 + 119999 + 120000, &res);
	assert_int_equal(res.state, CT_NEW);
	assert_null(res.entry);
	assert_int_equal(ct_count(t), 0);
	ct_free(t);
}

static void
test_udp_unreplied_expiry(void **state)
{
	struct ct_table		*t = table(1024);
	struct ct_result	 res;
	struct pkt		 q = udp("2001:db8::1", 40000, "2001:db8::2", 123);
	struct ct_stats		 st;

	assert_int_equal(pass(t, &q, 0, &res), CT_NEW);
	ct_expire(t, 29999);
	assert_int_equal(ct_count(t), 1);
	ct_expire(t, 30000);
	assert_int_equal(ct_count(t), 0);
	ct_get_stats(t, &st);
	assert_int_equal(st.expired, 1);
	/* lookups honour the deadline without ct_expire() */
	assert_int_equal(pass(t, &q, 100000, &res), CT_NEW);
	ct_track(t, &q, 100000 + 30000, &res);
	assert_int_equal(res.state, CT_NEW);
	assert_null(res.entry);
	ct_free(t);
}

/* The entry of q's flow in t, or NULL (no packet counted: a lookup). */
static struct ct_entry *
flow_of(struct ct_table *t, const struct pkt *q)
{
	struct ct_tuple	 k;

	ct_tuple_set(&k, q->family, q->proto, &q->src, &q->dst, q->sport,
	    q->dport);
	return (ct_lookup(t, &k));
}

/* e's stream state: 0 short and not ASSURED, 1 a stream and ASSURED,
   -1 a mix no packet could make */
static int
streamed(const struct ct_entry *e)
{
	int	 a = (e->status & CT_ST_ASSURED) != 0;
	int	 s = e->tclass == CT_TO_UDP_STREAM;

	if (e->proto != IPPROTO_UDP)
		return (e->tclass == CT_TO_GENERIC ? a : -1);
	return (a == s ? a : -1);
}

/*
 * The kernel's stream rule (nf_conntrack_udp_packet(), Linux 5.16 on):
 * a reply alone makes no stream; a packet either way more than 2 s after
 * the flow's first, the reply seen before it, makes the flow ASSURED
 * with timeout_udp_stream.  Until then every packet renews timeout_udp.
 */
static void
test_udp_stream(void **state)
{
	struct ct_table		*t = table(1024);
	struct ct_result	 res;
	struct pkt		 q = udp("10.0.0.1", 5353, "10.0.0.2", 53);
	struct pkt		 r = udp("10.0.0.2", 53, "10.0.0.1", 5353);
	struct pkt		 q2 = udp("10.0.0.1", 5354, "10.0.0.2", 53);
	struct pkt		 r2 = udp("10.0.0.2", 53, "10.0.0.1", 5354);
	struct pkt		 esp = udp("10.1.0.1", 0, "10.1.0.2", 0);
	struct pkt		 espr = udp("10.1.0.2", 0, "10.1.0.1", 0);
	char			 buf[512];
	int			 i;

	(void)state;
	/* a query, its answer at 1 s: timeout_udp, not ASSURED */
	assert_int_equal(pass(t, &q, 10000, &res), CT_NEW);
	assert_int_equal(streamed(res.entry), 0);
	assert_int_equal(pass(t, &r, 11000, &res), CT_ESTABLISHED);
	assert_int_equal(streamed(res.entry), 0);
	ct_format(res.entry, 11000, buf, sizeof(buf));
	assert_string_equal(buf, "ipv4     2 udp      17 30 "
	    "src=10.0.0.1 dst=10.0.0.2 sport=5353 dport=53 "
	    "src=10.0.0.2 dst=10.0.0.1 sport=53 dport=5353 mark=16 use=1");
	/* exactly 2 s after the first is not after it */
	assert_int_equal(pass(t, &q, 12000, &res), CT_ESTABLISHED);
	assert_int_equal(streamed(res.entry), 0);
	/* 2.001 s: a stream, either way */
	assert_int_equal(pass(t, &r, 12001, &res), CT_ESTABLISHED);
	assert_int_equal(streamed(res.entry), 1);
	ct_format(res.entry, 12001, buf, sizeof(buf));
	assert_string_equal(buf, "ipv4     2 udp      17 120 "
	    "src=10.0.0.1 dst=10.0.0.2 sport=5353 dport=53 "
	    "src=10.0.0.2 dst=10.0.0.1 sport=53 dport=5353 [ASSURED] "
	    "mark=16 use=1");
	/* and stays one */
	assert_int_equal(pass(t, &q, 13000, &res), CT_ESTABLISHED);
	assert_int_equal(streamed(res.entry), 1);
	ct_expire(t, 13000 + 119999);
	assert_non_null(flow_of(t, &q));
	ct_expire(t, 13000 + 120000);
	assert_null(flow_of(t, &q));

	/* a query and its answer alone end timeout_udp after the answer */
	assert_int_equal(pass(t, &q, 200000, &res), CT_NEW);
	assert_int_equal(pass(t, &r, 200500, &res), CT_ESTABLISHED);
	ct_expire(t, 200500 + 29999);
	assert_non_null(flow_of(t, &q));
	ct_expire(t, 200500 + 30000);
	assert_null(flow_of(t, &q));

	/* the first answer 3 s late: still timeout_udp, not ASSURED (the
	   reply is noted after the tracker ran); the next packet makes the
	   stream */
	assert_int_equal(pass(t, &q2, 300000, &res), CT_NEW);
	assert_int_equal(pass(t, &r2, 303000, &res), CT_ESTABLISHED);
	assert_int_equal(streamed(res.entry), 0);
	assert_int_equal(pass(t, &r2, 303001, &res), CT_ESTABLISHED);
	assert_int_equal(streamed(res.entry), 1);

	/* one way only: never a stream, however long */
	assert_int_equal(pass(t, &q, 400000, &res), CT_NEW);
	for (i = 1; i <= 40; i++) {
		assert_int_equal(pass(t, &q, 400000 + i * 20000ull, &res),
		    CT_NEW);
		assert_int_equal(streamed(res.entry), 0);
	}

	/* other protocols: assured the same way, timeout_generic all along */
	esp.proto = espr.proto = IPPROTO_ESP;
	assert_int_equal(pass(t, &esp, 2000000, &res), CT_NEW);
	assert_int_equal(pass(t, &espr, 2000100, &res), CT_ESTABLISHED);
	assert_int_equal(streamed(res.entry), 0);
	assert_int_equal(res.entry->tclass, CT_TO_GENERIC);
	assert_int_equal(pass(t, &esp, 2002001, &res), CT_ESTABLISHED);
	assert_int_equal(streamed(res.entry), 1);
	assert_int_equal(res.entry->tclass, CT_TO_GENERIC);
	ct_free(t);
}

/* One way for longer than the modular clock's half turn (24.8 days),
   then answered: the time past stays past. */
static void
test_udp_stream_long(void **state)
{
	struct ct_table		*t = table(16);
	struct ct_result	 res;
	struct pkt		 q = udp("10.0.0.1", 123, "10.0.0.2", 123);
	struct pkt		 r = udp("10.0.0.2", 123, "10.0.0.1", 123);
	uint64_t		 now = 1000;

	(void)state;
	assert_int_equal(pass(t, &q, now, &res), CT_NEW);
	for (; now < 1000 + 26 * 86400000ull; now += 25000)
		assert_int_equal(pass(t, &q, now, &res), CT_NEW);
	assert_int_equal(streamed(res.entry), 0);
	assert_int_equal(pass(t, &r, now, &res), CT_ESTABLISHED);
	assert_int_equal(streamed(res.entry), 0);
	assert_int_equal(pass(t, &q, now, &res), CT_ESTABLISHED);
	assert_int_equal(streamed(res.entry), 1);
	ct_free(t);
}

/*
 * The point of the rule: a flood of queries and their answers leaves
 * evictable entries, so a new flow takes the place of one; streams
 * (ASSURED) are spared.
 */
static void
test_udp_stream_evict(void **state)
{
	struct ct_table		*t = table(2);
	struct ct_result	 res;
	struct ct_stats		 st;
	struct pkt		 q[3], r[3];
	char			 a[32];
	int			 i;

	(void)state;
	for (i = 0; i < 3; i++) {
		snprintf(a, sizeof(a), "192.0.2.%d", i + 1);
		q[i] = udp(a, 1000, "198.51.100.1", 53);
		r[i] = udp("198.51.100.1", 53, a, 1000);
	}
	for (i = 0; i < 2; i++)
		assert_int_equal(pass(t, &q[i], 1000, &res), CT_NEW);
	for (i = 0; i < 2; i++)
		assert_int_equal(pass(t, &r[i], 1100, &res), CT_ESTABLISHED);
	assert_int_equal(pass(t, &q[2], 1200, &res), CT_NEW);
	assert_non_null(res.entry);
	ct_get_stats(t, &st);
	assert_int_equal(st.early_drop, 1);
	assert_int_equal(ct_count(t), 2);
	ct_free(t);

	/* both streams: the newcomer is refused */
	t = table(2);
	for (i = 0; i < 2; i++)
		assert_int_equal(pass(t, &q[i], 1000, &res), CT_NEW);
	for (i = 0; i < 2; i++)
		assert_int_equal(pass(t, &r[i], 1100, &res), CT_ESTABLISHED);
	for (i = 0; i < 2; i++)
		assert_int_equal(pass(t, &q[i], 3001, &res), CT_ESTABLISHED);
	ct_track(t, &q[2], 3100, &res);
	assert_int_equal(ct_confirm(t, &q[2], 3100, 0, 0, &res), -1);
	assert_int_equal(res.reason, REASON_TABLE_FULL);
	ct_free(t);
}

/*
 * The wait for the stream crosses to the HA peer and the state file
 * exactly: a snapshot's last_hash says in how many ms a packet makes the
 * flow a stream (one more than the wait: 0 says a packet now does).
 */
static void
test_udp_stream_sync(void **state)
{
	struct ct_table		*a = table(64), *b = table(64);
	struct ct_result	 res;
	struct ct_snap		 s, s2, tcp;
	struct ct_entry		*e;
	struct pkt		 q = udp("10.0.0.1", 5000, "10.0.0.2", 53);
	struct pkt		 r = udp("10.0.0.2", 53, "10.0.0.1", 5000);
	struct conv		 c;

	(void)state;
	/* a: first at 1000, answered at 1500; a stream after 3000 */
	assert_int_equal(pass(a, &q, 1000, &res), CT_NEW);
	ct_export(a, res.entry, &s);
	assert_int_equal(s.last_hash, 2001);
	assert_int_equal(pass(a, &r, 1500, &res), CT_ESTABLISHED);
	ct_export(a, res.entry, &s);
	assert_int_equal(ct_snap_check(&s), 0);
	assert_int_equal(s.last_hash, 1501);
	assert_int_equal(s.flags, CT_SNAP_SEEN_REPLY);
	/* b takes it at 50000: its stream after 51500, as a's after 3000 */
	e = ct_import(b, &s, 50000, NULL);
	assert_non_null(e);
	ct_export(b, e, &s2);
	assert_memory_equal(&s, &s2, sizeof(s));
	assert_int_equal(pass(b, &q, 51500, &res), CT_ESTABLISHED);
	assert_int_equal(streamed(res.entry), 0);
	assert_int_equal(pass(b, &q, 51501, &res), CT_ESTABLISHED);
	assert_int_equal(streamed(res.entry), 1);
	ct_export(b, res.entry, &s2);
	assert_int_equal(s2.last_hash, 0);
	assert_int_equal(s2.flags, CT_SNAP_SEEN_REPLY | CT_SNAP_ASSURED);

	/* in a state file 1 s, then 5 s: the wait goes by, not below 0 */
	ct_snap_elapse(&s, 1000);
	assert_int_equal(s.last_hash, 501);
	ct_snap_elapse(&s, 5000);
	assert_int_equal(s.last_hash, 0);
	/* past its wait: a packet right after the import makes the stream */
	ct_flush(b);
	e = ct_import(b, &s, 60000, NULL);
	assert_non_null(e);
	assert_int_equal(streamed(e), 0);
	assert_int_equal(pass(b, &r, 60000, &res), CT_ESTABLISHED);
	assert_int_equal(streamed(res.entry), 1);

	/* one way past its wait: 0 too, and its answer makes no stream */
	q.sport = 5001;
	r.dport = 5001;
	assert_int_equal(pass(a, &q, 70000, &res), CT_NEW);
	assert_int_equal(pass(a, &q, 73000, &res), CT_NEW);
	ct_export(a, res.entry, &s);
	assert_int_equal(s.last_hash, 0);
	e = ct_import(b, &s, 80000, NULL);
	assert_non_null(e);
	assert_int_equal(pass(b, &r, 80000, &res), CT_ESTABLISHED);
	assert_int_equal(streamed(res.entry), 0);
	assert_int_equal(pass(b, &q, 80000, &res), CT_ESTABLISHED);
	assert_int_equal(streamed(res.entry), 1);

	/* TCP's last_hash is its own: never aged */
	conv_init(&c, a, 0);
	handshake(&c);
	ct_export(a, conv_entry(&c), &tcp);
	s2 = tcp;
	ct_snap_elapse(&s2, 100000);
	assert_memory_equal(&s2, &tcp, sizeof(tcp));
	ct_free(a);
	ct_free(b);
}

static int	 credit_updates;

static void
credit_event(int ev, const struct ct_entry *e, void *arg)
{
	(void)e;
	(void)arg;
	if (ev == CT_EVENT_UPDATE)
		credit_updates++;
}

/* What the kernel's fast path passed counts as a packet at the credit:
   past the flow's first 2 s it makes the stream, with an UPDATE. */
static void
test_udp_stream_credit(void **state)
{
	struct ct_table		*t = table(16);
	struct ct_result	 res;
	struct ct_tuple		 k;
	struct pkt		 q = udp("10.0.0.1", 5000, "10.0.0.2", 4500);
	struct pkt		 r = udp("10.0.0.2", 4500, "10.0.0.1", 5000);

	(void)state;
	ct_set_event_cb(t, credit_event, NULL);
	assert_int_equal(pass(t, &q, 1000, &res), CT_NEW);
	assert_int_equal(pass(t, &r, 1010, &res), CT_ESTABLISHED);
	assert_int_equal(ct_set_offloaded(t, res.entry, 1), 0);
	ct_tuple_set(&k, AF_INET, IPPROTO_UDP, &q.src, &q.dst, 5000, 4500);
	credit_updates = 0;
	assert_int_equal(ct_credit(t, &k, 50, 5000, 2500), 0);
	assert_int_equal(streamed(res.entry), 0);
	assert_int_equal(credit_updates, 0);
	/* no packets: no stream, only the timer */
	assert_int_equal(ct_credit(t, &k, 0, 0, 3500), 0);
	assert_int_equal(streamed(res.entry), 0);
	assert_int_equal(ct_credit(t, &k, 50, 5000, 4000), 0);
	assert_int_equal(streamed(res.entry), 1);
	assert_int_equal(credit_updates, 1);
	assert_int_equal(ct_credit(t, &k, 50, 5000, 5000), 0);
	assert_int_equal(credit_updates, 1);
	ct_expire(t, 5000 + 119999);
	assert_int_equal(ct_count(t), 1);
	ct_free(t);
}

/*
 * Lazy timer lists: a packet within lag of an entry's place only moves
 * its deadline; an entry due behind a head that is not goes at most lag
 * late, and no lookup finds it meanwhile; past lag it moves to the tail.
 */
static void
test_timer_lag(void **state)
{
	struct ct_table		*t = table(1024);
	struct ct_result	 res;
	struct pkt		 a = udp("192.0.2.1", 1000, "198.51.100.1", 53);
	struct pkt		 b = udp("192.0.2.2", 1000, "198.51.100.1", 53);
	struct ct_entry		*ea;
	uint32_t		 lag = 30000 >> CT_LAG_SHIFT;	/* 1875 ms */

	assert_int_equal(t->lag[CT_TO_UDP], lag);
	assert_int_equal(pass(t, &a, 0, &res), CT_NEW);
	ea = res.entry;
	assert_int_equal(pass(t, &b, 100, &res), CT_NEW);
	/* a again, 1 s later: within lag, it stays at the head */
	assert_int_equal(pass(t, &a, 1000, &res), CT_NEW);
	assert_ptr_equal(res.entry, ea);
	assert_ptr_equal(ct_idx(t, t->tlist[CT_TO_UDP].head), ea);
	assert_int_equal(ea->deadline, 31000);
	assert_int_equal(ea->qdl, 30000);
	/* its old deadline passed: still there, by its new one */
	ct_expire(t, 30500);
	assert_int_equal(ct_count(t), 2);
	/* b is due but waits behind a ... */
	ct_expire(t, 30900);
	assert_int_equal(ct_count(t), 2);
	/* ... yet a lookup does not find it */
	ct_track(t, &b, 30900, &res);
	assert_int_equal(res.state, CT_NEW);
	assert_null(res.entry);
	assert_int_equal(ct_count(t), 1);
	/* a, refreshed past lag, goes to the tail of its list */
	assert_int_equal(pass(t, &b, 30900, &res), CT_NEW);
	assert_int_equal(pass(t, &a, 30999, &res), CT_NEW);
	assert_ptr_equal(res.entry, ea);
	assert_ptr_equal(ct_idx(t, t->tlist[CT_TO_UDP].tail), ea);
	assert_int_equal(ea->qdl, ea->deadline);
	/* b then a, each on time now */
	ct_expire(t, 60900);
	assert_int_equal(ct_count(t), 1);
	ct_expire(t, 60999);
	assert_int_equal(ct_count(t), 0);

	/* the longest delay: b due at 32100 waits for a at 33000 */
	assert_int_equal(pass(t, &a, 100000, &res), CT_NEW);
	assert_int_equal(pass(t, &b, 100100, &res), CT_NEW);
	assert_int_equal(pass(t, &a, 100000 + lag, &res), CT_NEW);
	ct_expire(t, 130100);
	assert_int_equal(ct_count(t), 2);
	ct_expire(t, 130000 + lag);
	assert_int_equal(ct_count(t), 0);
	ct_free(t);
}

/*
 * The batch lookup: with chains in the buckets, ct_track_ahead() finds
 * every connection from both ends with its own hint, and with another
 * connection's hint (which it must not use) too.
 */
static void
test_ahead_chains(void **state)
{
	struct ct_table		*t = table(600), *t2 = table(16);
	struct ct_result	 res;
	struct ct_ahead		 a, wrong;
	struct ct_entry		*e[600];
	struct pkt		 q, r;
	char			 s1[32];
	uint32_t		 i, b, chained = 0, n;

	for (i = 0; i < 600; i++) {
		snprintf(s1, sizeof(s1), "10.1.%u.%u", i / 250, i % 250 + 1);
		q = udp(s1, (uint16_t)(1024 + i), "10.9.9.9", 53);
		assert_int_equal(pass(t, &q, 1000, &res), CT_NEW);
		e[i] = res.entry;
	}
	for (b = 0; b < t->nbucket; b++) {
		for (n = 0, i = t->bucket[b]; i != CT_NIL;
		    i = ct_idx(t, i)->hnext)
			n++;
		chained += n > 1;
	}
	assert_true(chained > 10);
	q = udp("10.1.0.1", 1024, "10.9.9.9", 53);
	ct_ahead(t, q.family, q.proto, &q.dst, &q.src, q.dport, q.sport,
	    &wrong);
	for (i = 0; i < 600; i++) {
		snprintf(s1, sizeof(s1), "10.1.%u.%u", i / 250, i % 250 + 1);
		q = udp(s1, (uint16_t)(1024 + i), "10.9.9.9", 53);
		r = udp("10.9.9.9", 53, s1, (uint16_t)(1024 + i));
		ct_ahead(t, r.family, r.proto, &r.src, &r.dst, r.sport,
		    r.dport, &a);
		ct_ahead_entry(t, &a);
		ct_ahead_chain(t, &a);
		ct_track_ahead(t, &r, &a, 2000, &res);
		assert_ptr_equal(res.entry, e[i]);
		assert_int_equal(res.dir, CT_DIR_REPLY);
		ct_track_ahead(t, &q, i ? &wrong : NULL, 2000, &res);
		assert_ptr_equal(res.entry, e[i]);
		assert_int_equal(res.state, CT_ESTABLISHED);
		assert_null(t->hint);
		/* the very tuple, hashed by another table's key */
		ct_ahead(t2, q.family, q.proto, &q.src, &q.dst, q.sport,
		    q.dport, &a);
		ct_ahead_entry(t, &a);
		ct_ahead_chain(t, &a);
		ct_track_ahead(t, &q, &a, 2000, &res);
		assert_ptr_equal(res.entry, e[i]);
	}
	ct_free(t2);
	ct_free(t);
}

/*
 * A full table of assured connections, one of them due but waiting
 * behind a head that is not: a new connection takes its slot instead
 * of being refused as table-full.
 */
static void
test_timer_lag_full(void **state)
{
	struct ct_table		*t = table(3);
	struct ct_result	 res;
	struct ct_stats		 st;
	struct pkt		 q[4], r[3];
	char			 a[32];
	int			 i;

	for (i = 0; i < 4; i++) {
		snprintf(a, sizeof(a), "192.0.2.%d", i + 1);
		q[i] = udp(a, 1000, "198.51.100.1", 53);
		if (i < 3)
			r[i] = udp("198.51.100.1", 53, a, 1000);
	}
	for (i = 0; i < 3; i++) {
		assert_int_equal(pass(t, &q[i], i * 100, &res), CT_NEW);
		assert_int_equal(pass(t, &r[i], i * 100, &res),
		    CT_ESTABLISHED);
	}
	/* past their first 2 s: assured streams, in this order */
	for (i = 0; i < 3; i++)
		assert_int_equal(pass(t, &q[i], 2500 + i * 100, &res),
		    CT_ESTABLISHED);
	/* the first, again within the lag (120 s / 16): not moved */
	assert_int_equal(pass(t, &q[0], 3500, &res), CT_ESTABLISHED);
	ct_expire(t, 122650);
	assert_int_equal(ct_count(t), 3);	/* the second is due */
	assert_int_equal(pass(t, &q[3], 122650, &res), CT_NEW);
	assert_non_null(res.entry);
	assert_int_equal(ct_count(t), 3);
	ct_get_stats(t, &st);
	assert_int_equal(st.expired, 1);
	assert_int_equal(st.early_drop, 0);
	assert_int_equal(st.insert_failed, 0);
	ct_free(t);
}

/* Times are kept modulo 2^32 ms: a clock jump past every timeout ends
   every entry, and timeouts over CT_TIMEOUT_MAX are capped. */
static void
test_timer_clock(void **state)
{
	struct ct_config	 c;
	struct ct_table		*t;
	struct ct_result	 res;
	struct ct_stats		 st;
	struct pkt		 a = udp("192.0.2.1", 1000, "198.51.100.1", 53);
	uint64_t		 now = 4294967296ULL - 1000;	/* wraps soon */

	ct_config_defaults(&c);
	c.max = 16;
	c.timeout[CT_TO_UDP] = 4000000;
	t = ct_new(&c);
	assert_non_null(t);
	assert_int_equal(t->cfg.timeout[CT_TO_UDP], CT_TIMEOUT_MAX);
	assert_int_equal(t->lag[CT_TO_UDP], CT_LAG_MAX);
	/* across the wrap of the 32-bit milliseconds */
	assert_int_equal(pass(t, &a, now, &res), CT_NEW);
	ct_expire(t, now + 5000);
	assert_int_equal(ct_count(t), 1);
	ct_expire(t, now + (uint64_t)CT_TIMEOUT_MAX * 1000 - 1);
	assert_int_equal(ct_count(t), 1);
	ct_expire(t, now + (uint64_t)CT_TIMEOUT_MAX * 1000);
	assert_int_equal(ct_count(t), 0);
	/* a jump of 2^32 ms, which modulo 2^32 would look like none */
	now += 10000000000ULL;
	assert_int_equal(pass(t, &a, now, &res), CT_NEW);
	ct_track(t, &a, now + 4294967296ULL, &res);
	assert_null(res.entry);
	assert_int_equal(ct_count(t), 0);
	ct_get_stats(t, &st);
	assert_int_equal(st.expired, 2);
	ct_free(t);
}

static void
test_generic(void **state)
{
	struct ct_table		*t = table(1024);
	struct ct_result	 res;
	struct pkt		 a = udp("10.1.0.1", 0, "10.1.0.2", 0);
	struct pkt		 b = udp("10.1.0.2", 0, "10.1.0.1", 0);
	char			 buf[256];

	a.proto = b.proto = IPPROTO_ESP;
	assert_int_equal(pass(t, &a, 0, &res), CT_NEW);
	ct_format(res.entry, 1500, buf, sizeof(buf));
	assert_string_equal(buf, "ipv4     2 unknown  50 598 "
	    "src=10.1.0.1 dst=10.1.0.2 [UNREPLIED] src=10.1.0.2 dst=10.1.0.1 "
	    "mark=16 use=1");
	ct_track(t, &b, 1000, &res);
	assert_int_equal(res.state, CT_ESTABLISHED);
	assert_int_equal(res.dir, CT_DIR_REPLY);
	ct_free(t);
}

/* ---- ICMP ------------------------------------------------------------------ */

static void
test_icmp_echo(void **state)
{
	struct ct_table		*t = table(1024);
	struct ct_result	 res;
	struct pkt		 req = icmp("10.0.0.1", "10.0.0.2", 8, 77);
	struct pkt		 rep = icmp("10.0.0.2", "10.0.0.1", 0, 77);
	struct pkt		 rep2 = icmp("10.0.0.2", "10.0.0.1", 0, 78);
	struct pkt		 rev = icmp("10.0.0.2", "10.0.0.1", 8, 77);
	char			 buf[256];

	/* a reply nobody asked for */
	ct_track(t, &rep, 0, &res);
	assert_int_equal(res.state, CT_INVALID);
	assert_int_equal(res.reason, REASON_ICMP_NO_REQUEST);

	assert_int_equal(pass(t, &req, 0, &res), CT_NEW);
	ct_format(res.entry, 0, buf, sizeof(buf));
	assert_string_equal(buf, "ipv4     2 icmp     1 30 "
	    "src=10.0.0.1 dst=10.0.0.2 type=8 code=0 id=77 [UNREPLIED] "
	    "src=10.0.0.2 dst=10.0.0.1 type=0 code=0 id=77 mark=16 use=1");
	/* another id is another conversation */
	ct_track(t, &rep2, 100, &res);
	assert_int_equal(res.state, CT_INVALID);
	assert_int_equal(res.reason, REASON_ICMP_NO_REQUEST);
	/* a request the other way with the same id is its own */
	ct_track(t, &rev, 100, &res);
	assert_int_equal(res.state, CT_NEW);
	assert_null(res.entry);

	ct_track(t, &rep, 200, &res);
	assert_int_equal(res.state, CT_ESTABLISHED);
	assert_int_equal(res.dir, CT_DIR_REPLY);
	ct_format(res.entry, 200, buf, sizeof(buf));
	assert_string_equal(buf, "ipv4     2 icmp     1 30 "
	    "src=10.0.0.1 dst=10.0.0.2 type=8 code=0 id=77 "
	    "src=10.0.0.2 dst=10.0.0.1 type=0 code=0 id=77 mark=16 use=1");
	ct_track(t, &req, 1200, &res);
	assert_int_equal(res.state, CT_ESTABLISHED);

	assert_tuple(res.entry, AF_INET, IPPROTO_ICMP, &req, 0, 0);
	/* unknown informational types */
	{
		struct pkt ra = icmp("10.0.0.9", "10.0.0.2", 9, 0);

		ct_track(t, &ra, 1300, &res);
		assert_int_equal(res.state, CT_INVALID);
		assert_int_equal(res.reason, REASON_ICMP_TYPE);
	}
	ct_free(t);
}

static void
test_icmp6_echo(void **state)
{
	struct ct_table		*t = table(1024);
	struct ct_result	 res;
	struct pkt		 req = icmp("2001:db8::1", "2001:db8::2", 128, 5);
	struct pkt		 rep = icmp("2001:db8::2", "2001:db8::1", 129, 5);
	struct pkt		 ns = icmp("fe80::1", "ff02::1:ff00:2", 135, 0);
	char			 buf[512];

	ct_track(t, &rep, 0, &res);
	assert_int_equal(res.state, CT_INVALID);
	assert_int_equal(res.reason, REASON_ICMP_NO_REQUEST);
	assert_int_equal(pass(t, &req, 0, &res), CT_NEW);
	ct_track(t, &rep, 10, &res);
	assert_int_equal(res.state, CT_ESTABLISHED);
	ct_format(res.entry, 10, buf, sizeof(buf));
	assert_non_null(strstr(buf, "ipv6     10 icmpv6   58 30 "));
	assert_non_null(strstr(buf, " type=128 code=0 id=5 src="));
	assert_non_null(strstr(buf, " type=129 code=0 id=5 mark=16"));
	/* neighbour discovery: NEW every time, never an entry */
	ct_track(t, &ns, 20, &res);
	assert_int_equal(res.state, CT_NEW);
	assert_null(res.entry);
	assert_int_equal(ct_confirm(t, &ns, 20, 0, 0, &res), 0);
	assert_null(res.entry);
	assert_int_equal(ct_count(t), 1);
	ct_free(t);
}

/* ---- RELATED ------------------------------------------------------------- */

static void
test_related(void **state)
{
	struct ct_table		*t = table(1024);
	struct ct_result	 res;
	struct ct_entry		*flow;
	struct pkt		 q = udp("10.0.0.1", 5000, "10.0.0.2", 53);
	struct pkt		 r = udp("10.0.0.2", 53, "10.0.0.1", 5000);
	struct pkt		 stray = udp("10.0.0.1", 5001, "10.0.0.2", 53);
	struct pkt		 e;

	assert_int_equal(pass(t, &q, 0, &res), CT_NEW);
	flow = res.entry;

	/* port unreachable from the destination */
	e = icmp_err("10.0.0.2", "10.0.0.1", 3, 3, &q);
	ct_track(t, &e, 10, &res);
	assert_int_equal(res.state, CT_RELATED);
	assert_ptr_equal(res.entry, flow);
	assert_int_equal(res.dir, CT_DIR_REPLY);
	/* from a router in the path: a third address */
	e = icmp_err("192.0.2.254", "10.0.0.1", 11, 0, &q);
	ct_track(t, &e, 20, &res);
	assert_int_equal(res.state, CT_RELATED);
	assert_ptr_equal(res.entry, flow);
	/* about a packet of the reply direction, going to its sender */
	e = icmp_err("192.0.2.254", "10.0.0.2", 3, 1, &r);
	ct_track(t, &e, 30, &res);
	assert_int_equal(res.state, CT_RELATED);
	assert_ptr_equal(res.entry, flow);
	assert_int_equal(res.dir, CT_DIR_ORIG);
	/* quoting nothing we track */
	e = icmp_err("10.0.0.2", "10.0.0.1", 3, 3, &stray);
	ct_track(t, &e, 40, &res);
	assert_int_equal(res.state, CT_INVALID);
	assert_int_equal(res.reason, REASON_ICMP_UNTRACKED);
	/* sent to someone who did not send the quoted packet */
	e = icmp_err("10.0.0.2", "10.9.9.9", 3, 3, &q);
	ct_track(t, &e, 50, &res);
	assert_int_equal(res.state, CT_INVALID);
	assert_int_equal(res.reason, REASON_ICMP_INNER);
	/* errors do not refresh or create anything */
	assert_int_equal(ct_count(t), 1);
	ct_free(t);
}

static void
test_related_tcp_v6_and_icmp(void **state)
{
	struct ct_table		*t = table(1024);
	struct ct_result	 res;
	struct conv		 c;
	struct pkt		 seg, e, req;

	conv_init(&c, t, 1);
	conv_send(&c, 0, SYN, 0, &res);
	conv_send(&c, 1, SYN | ACK, 0, &res);
	conv_send(&c, 0, ACK, 0, &res);
	seg = conv_pkt(&c, 0, ACK | PSH, 1400);
	/* packet too big from a router */
	e = icmp_err("2001:db8:ffff::1", "2001:db8::1", 2, 0, &seg);
	ct_track(t, &e, c.now, &res);
	assert_int_equal(res.state, CT_RELATED);
	assert_ptr_equal(res.entry, conv_entry(&c));
	/* time exceeded quoting an echo request */
	req = icmp("2001:db8::1", "2001:db8::3", 128, 9);
	assert_int_equal(pass(t, &req, c.now, &res), CT_NEW);
	e = icmp_err("2001:db8:ffff::1", "2001:db8::1", 3, 0, &req);
	ct_track(t, &e, c.now, &res);
	assert_int_equal(res.state, CT_RELATED);
	/* ... and an untracked one */
	req.icmp_id = 10;
	e = icmp_err("2001:db8:ffff::1", "2001:db8::1", 3, 0, &req);
	ct_track(t, &e, c.now, &res);
	assert_int_equal(res.state, CT_INVALID);
	assert_int_equal(res.reason, REASON_ICMP_UNTRACKED);
	ct_free(t);
}

/* The question another worker asks: found, the mark, nothing changed. */
static void
test_find_related(void **state)
{
	struct ct_table		*t = table(1024);
	struct ct_result	 res;
	struct ct_stats		 before, after;
	struct pkt		 q = udp("10.0.0.1", 5000, "10.0.0.2", 53);
	struct pkt		 stray = udp("10.0.0.1", 5001, "10.0.0.2", 53);
	struct pkt		 e;
	uint32_t		 mark = 0;

	assert_int_equal(pass(t, &q, 0, &res), CT_NEW);
	ct_get_stats(t, &before);
	e = icmp_err("192.0.2.254", "10.0.0.1", 11, 0, &q);
	assert_int_equal(ct_find_related(t, &e, &mark), 1);
	assert_int_equal(mark, 0x10);
	mark = 7;
	e = icmp_err("192.0.2.254", "10.0.0.1", 11, 0, &stray);
	assert_int_equal(ct_find_related(t, &e, &mark), 0);
	assert_int_equal(mark, 7);
	/* not an error, or to someone else: never */
	assert_int_equal(ct_find_related(t, &q, &mark), 0);
	e = icmp_err("192.0.2.254", "10.9.9.9", 11, 0, &q);
	assert_int_equal(ct_find_related(t, &e, &mark), 0);
	ct_get_stats(t, &after);
	assert_memory_equal(&before, &after, sizeof(before));
	assert_int_equal(ct_count(t), 1);
	/* past its deadline the connection is not found */
	ct_track(t, &q, 20000, &res);
	e = icmp_err("192.0.2.254", "10.0.0.1", 11, 0, &q);
	assert_int_equal(ct_find_related(t, &e, &mark), 1);
	ct_expire(t, 20000 + 200 * 1000);
	assert_int_equal(ct_find_related(t, &e, &mark), 0);
	ct_free(t);
}

/*
 * The queries besides echo that the kernel pairs with their replies:
 * IPv4's timestamp, information and address mask, IPv6's node
 * information.  A reply alone, or of another id, is INVALID; the
 * query's own reply makes the conversation ESTABLISHED.
 */
static void
test_icmp_queries(void **state)
{
	static const struct {
		const char	*a, *b;
		uint8_t		 req, rep;
	} q[] = {
		{ "10.0.0.1", "10.0.0.2", 13, 14 },	/* timestamp */
		{ "10.0.0.1", "10.0.0.2", 15, 16 },	/* information */
		{ "10.0.0.1", "10.0.0.2", 17, 18 },	/* address mask */
		{ "2001:db8::1", "2001:db8::2", 139, 140 } /* node info */
	};
	struct ct_table		*t = table(1024);
	struct ct_result	 res;
	struct pkt		 req, rep, other;
	size_t			 i;

	for (i = 0; i < sizeof(q) / sizeof(q[0]); i++) {
		req = icmp(q[i].a, q[i].b, q[i].req, 40);
		rep = icmp(q[i].b, q[i].a, q[i].rep, 40);
		other = icmp(q[i].b, q[i].a, q[i].rep, 41);
		ct_track(t, &rep, 0, &res);
		assert_int_equal(res.state, CT_INVALID);
		assert_int_equal(res.reason, REASON_ICMP_NO_REQUEST);
		assert_int_equal(pass(t, &req, 0, &res), CT_NEW);
		assert_non_null(res.entry);
		ct_track(t, &other, 10, &res);
		assert_int_equal(res.state, CT_INVALID);
		assert_int_equal(res.reason, REASON_ICMP_NO_REQUEST);
		ct_track(t, &rep, 10, &res);
		assert_int_equal(res.state, CT_ESTABLISHED);
		assert_int_equal(res.dir, CT_DIR_REPLY);
		assert_int_equal(ct_count(t), i + 1);
	}
	ct_free(t);
}

/*
 * ct_confirm() of an ICMP packet that starts nothing: a reply, or an
 * error, is only tracked (ESTABLISHED, RELATED: 0; INVALID: -1), and a
 * query already in the table is found, not made twice.
 */
static void
test_icmp_confirm_no_start(void **state)
{
	struct ct_table		*t = table(1024);
	struct ct_result	 res;
	struct ct_entry		*flow;
	struct pkt		 req = icmp("10.0.0.1", "10.0.0.2", 8, 3);
	struct pkt		 rep = icmp("10.0.0.2", "10.0.0.1", 0, 3);
	struct pkt		 stray = icmp("10.0.0.2", "10.0.0.1", 0, 4);
	struct pkt		 e = icmp_err("10.0.0.2", "10.0.0.1", 3, 1, &req);

	assert_int_equal(ct_confirm(t, &stray, 0, 0x10, 7, &res), -1);
	assert_int_equal(res.state, CT_INVALID);
	assert_int_equal(res.reason, REASON_ICMP_NO_REQUEST);
	assert_int_equal(ct_confirm(t, &e, 0, 0x10, 7, &res), -1);
	assert_int_equal(res.state, CT_INVALID);
	assert_int_equal(ct_count(t), 0);

	assert_int_equal(ct_confirm(t, &req, 0, 0x10, 7, &res), 0);
	assert_int_equal(res.state, CT_NEW);
	flow = res.entry;
	assert_non_null(flow);
	assert_int_equal(ct_confirm(t, &req, 5, 0x20, 8, &res), 0);
	assert_int_equal(res.state, CT_NEW);
	assert_ptr_equal(res.entry, flow);
	assert_int_equal(flow->mark, 0x10);	/* the first's */
	assert_int_equal(ct_confirm(t, &rep, 10, 0x20, 8, &res), 0);
	assert_int_equal(res.state, CT_ESTABLISHED);
	assert_ptr_equal(res.entry, flow);
	assert_int_equal(ct_confirm(t, &req, 20, 0x20, 8, &res), 0);
	assert_int_equal(res.state, CT_ESTABLISHED);
	assert_ptr_equal(res.entry, flow);
	assert_int_equal(ct_confirm(t, &e, 30, 0x20, 8, &res), 0);
	assert_int_equal(res.state, CT_RELATED);
	assert_ptr_equal(res.entry, flow);
	assert_int_equal(ct_count(t), 1);
	ct_free(t);
}

/*
 * Errors quoting what the table tracks with no ports (ESP here) are
 * RELATED to it, as the kernel's generic tuple finds them.  ICMPv6's
 * number inside IPv4 is one of those protocols here, not a query, and
 * so is the packet an error quotes.  An error quoting an error quotes
 * no conversation: INVALID, as the kernel leaves it untracked.
 */
static void
test_related_generic(void **state)
{
	struct ct_table		*t = table(1024);
	struct ct_result	 res;
	struct ct_entry		*esp_e;
	struct pkt		 esp = udp("10.0.0.1", 0, "10.0.0.2", 0);
	struct pkt		 other = udp("10.0.0.1", 0, "10.0.0.3", 0);
	struct pkt		 v6in4 = udp("10.0.0.1", 0, "10.0.0.2", 0);
	struct pkt		 req = icmp("10.0.0.1", "10.0.0.2", 8, 9);
	struct pkt		 e, inner;

	esp.proto = other.proto = IPPROTO_ESP;
	v6in4.proto = IPPROTO_ICMPV6;
	assert_int_equal(pass(t, &esp, 0, &res), CT_NEW);
	esp_e = res.entry;
	e = icmp_err("192.0.2.254", "10.0.0.1", 3, 4, &esp);
	ct_track(t, &e, 10, &res);
	assert_int_equal(res.state, CT_RELATED);
	assert_ptr_equal(res.entry, esp_e);
	assert_int_equal(res.dir, CT_DIR_REPLY);
	e = icmp_err("192.0.2.254", "10.0.0.1", 3, 4, &other);
	ct_track(t, &e, 10, &res);
	assert_int_equal(res.state, CT_INVALID);
	assert_int_equal(res.reason, REASON_ICMP_UNTRACKED);

	/* proto 58 in IPv4: a generic protocol, quoted as one */
	e = icmp_err("192.0.2.254", "10.0.0.1", 3, 4, &v6in4);
	ct_track(t, &e, 20, &res);
	assert_int_equal(res.state, CT_INVALID);
	assert_int_equal(res.reason, REASON_ICMP_UNTRACKED);
	assert_int_equal(pass(t, &v6in4, 20, &res), CT_NEW);
	ct_track(t, &e, 30, &res);
	assert_int_equal(res.state, CT_RELATED);

	/* an error quoting an error (about an echo we track) */
	assert_int_equal(pass(t, &req, 40, &res), CT_NEW);
	inner = icmp("10.0.0.1", "10.0.0.2", 3, 9);
	inner.icmp_code = 1;
	e = icmp_err("192.0.2.254", "10.0.0.1", 11, 0, &inner);
	ct_track(t, &e, 50, &res);
	assert_int_equal(res.state, CT_INVALID);
	assert_int_equal(res.reason, REASON_ICMP_UNTRACKED);
	assert_int_equal(ct_count(t), 3);
	ct_free(t);
}

/* ---- the table --------------------------------------------------------------- */

static int
collect(struct ct_table *t, struct ct_entry *e, void *arg)
{
	size_t	*n = arg;

	(*n)++;
	return (0);
}

static int
remove_all(struct ct_table *t, struct ct_entry *e, void *arg)
{
	ct_remove(t, e);
	return (0);
}

static void
test_walk_remove_flush(void **state)
{
	struct ct_table		*t = table(10000);
	struct ct_result	 res;
	struct ct_stats		 st;
	uint64_t		 cur = 0;
	size_t			 n = 0, v, total = 0;
	int			 i;

	for (i = 0; i < 1000; i++) {
		struct pkt p = udp("10.0.0.1", (uint16_t)(1000 + i),
		    "10.0.0.2", 53);

		assert_int_equal(pass(t, &p, 0, &res), CT_NEW);
	}
	assert_int_equal(ct_count(t), 1000);
	do {
		v = ct_walk(t, &cur, 64, collect, &n);
		total += v;
		assert_true(v <= 64);
	} while (cur != 0);
	assert_int_equal(n, 1000);
	assert_int_equal(total, 1000);

	/* remove every other one, then walk with removal */
	cur = 0;
	n = 0;
	for (i = 0; i < 1000; i += 2) {
		struct pkt p = udp("10.0.0.1", (uint16_t)(1000 + i),
		    "10.0.0.2", 53);

		ct_track(t, &p, 0, &res);
		assert_non_null(res.entry);
		ct_remove(t, res.entry);
	}
	assert_int_equal(ct_count(t), 500);
	do
		ct_walk(t, &cur, 100, remove_all, NULL);
	while (cur != 0);
	assert_int_equal(ct_count(t), 0);

	for (i = 0; i < 100; i++) {
		struct pkt p = udp("10.0.0.1", (uint16_t)(1000 + i),
		    "10.0.0.2", 53);

		pass(t, &p, 0, &res);
	}
	ct_flush(t);
	assert_int_equal(ct_count(t), 0);
	cur = 0;
	n = 0;
	assert_int_equal(ct_walk(t, &cur, 100, collect, &n), 0);
	assert_int_equal(cur, 0);
	{
		struct pkt p = udp("10.0.0.1", 1000, "10.0.0.2", 53);

		ct_track(t, &p, 0, &res);
		assert_null(res.entry);
	}
	ct_get_stats(t, &st);
	assert_int_equal(st.created, 1100);
	assert_int_equal(st.destroyed, 1100);
	ct_free(t);
}

static int
stop_at_each(struct ct_table *t, struct ct_entry *e, void *arg)
{
	size_t	*n = arg;

	(*n)++;
	return (1);
}

/*
 * A walk ends in the call that visits the last entry, even when the
 * slots after it were freed: no empty slice at the end.
 */
static void
test_walk_exact(void **state)
{
	struct ct_table		*t = table(10000);
	struct ct_result	 res;
	uint64_t		 cur = 0;
	size_t			 n = 0, slices = 0;
	int			 i;

	for (i = 0; i < 1000; i++) {
		struct pkt p = udp("10.0.0.1", (uint16_t)(1000 + i),
		    "10.0.0.2", 53);

		assert_int_equal(pass(t, &p, 0, &res), CT_NEW);
	}
	/* the last 40 slots freed, and one in the middle: 959 left */
	for (i = 960; i < 1000; i++) {
		struct pkt p = udp("10.0.0.1", (uint16_t)(1000 + i),
		    "10.0.0.2", 53);

		ct_track(t, &p, 0, &res);
		assert_non_null(res.entry);
		ct_remove(t, res.entry);
	}
	{
		struct pkt p = udp("10.0.0.1", 1500, "10.0.0.2", 53);

		ct_track(t, &p, 0, &res);
		assert_non_null(res.entry);
		ct_remove(t, res.entry);
	}
	assert_int_equal(ct_count(t), 959);
	do {
		assert_true(slices < 100);
		assert_true(ct_walk(t, &cur, 64, collect, &n) > 0);
		slices++;
	} while (cur != 0);
	assert_int_equal(n, 959);
	assert_int_equal(slices, 15);	/* 14 of 64, one of 63 */

	/* a slice of exactly what is left ends the walk */
	n = 0;
	assert_int_equal(ct_walk(t, &cur, 959, collect, &n), 959);
	assert_int_equal(cur, 0);

	/* so does fn stopping the walk at the last entry */
	n = slices = 0;
	do {
		assert_true(slices < 2000);
		assert_int_equal(ct_walk(t, &cur, 64, stop_at_each, &n), 1);
		slices++;
	} while (cur != 0);
	assert_int_equal(n, 959);
	assert_int_equal(slices, 959);

	/* fn removing what it is given: the walk still ends with the last */
	slices = 0;
	do {
		assert_true(ct_walk(t, &cur, 100, remove_all, NULL) > 0);
		slices++;
	} while (cur != 0);
	assert_int_equal(slices, 10);
	assert_int_equal(ct_count(t), 0);
	ct_free(t);
}

/* ---- eviction -------------------------------------------------------------- */

static void
test_evict(void **state)
{
	struct ct_table		*t = table(4);
	struct ct_result	 res;
	struct ct_stats		 st;
	struct pkt		 a1 = udp("10.0.0.1", 1, "10.0.0.9", 53);
	struct pkt		 a2 = udp("10.0.0.1", 2, "10.0.0.9", 53);
	struct pkt		 a3 = udp("10.0.0.1", 3, "10.0.0.9", 53);
	struct pkt		 b1 = udp("10.0.0.2", 1, "10.0.0.9", 53);
	struct pkt		 c1 = udp("10.0.0.3", 1, "10.0.0.9", 53);
	struct pkt		 r;

	/* b1 is the oldest, but 10.0.0.1 holds the most */
	pass(t, &b1, 0, &res);
	pass(t, &a1, 1000, &res);
	pass(t, &a2, 2000, &res);
	pass(t, &a3, 3000, &res);
	assert_int_equal(ct_count(t), 4);
	assert_int_equal(pass(t, &c1, 4000, &res), CT_NEW);
	assert_int_equal(ct_count(t), 4);
	ct_track(t, &a1, 4000, &res);
	assert_null(res.entry);			/* a1 went */
	ct_track(t, &b1, 4000, &res);
	assert_non_null(res.entry);
	ct_track(t, &a2, 4000, &res);
	assert_non_null(res.entry);
	ct_track(t, &a3, 4000, &res);
	assert_non_null(res.entry);
	ct_get_stats(t, &st);
	assert_int_equal(st.early_drop, 1);

	/* make everything a replied, assured stream (the reply, then a
	   packet past the flow's first 2 s): nothing to evict */
	r = udp("10.0.0.9", 53, "10.0.0.1", 2);
	ct_track(t, &r, 5000, &res);
	ct_track(t, &a2, 6500, &res);
	r = udp("10.0.0.9", 53, "10.0.0.1", 3);
	ct_track(t, &r, 5000, &res);
	ct_track(t, &a3, 6500, &res);
	r = udp("10.0.0.9", 53, "10.0.0.2", 1);
	ct_track(t, &r, 5000, &res);
	ct_track(t, &b1, 6500, &res);
	r = udp("10.0.0.9", 53, "10.0.0.3", 1);
	ct_track(t, &r, 5000, &res);
	ct_track(t, &c1, 6500, &res);
	ct_track(t, &a1, 7000, &res);
	assert_int_equal(res.state, CT_NEW);
	assert_int_equal(ct_confirm(t, &a1, 7000, 0, 0, &res), -1);
	assert_int_equal(res.state, CT_INVALID);
	assert_int_equal(res.reason, REASON_TABLE_FULL);
	ct_get_stats(t, &st);
	assert_int_equal(st.insert_failed, 1);
	assert_int_equal(ct_count(t), 4);
	/* expired entries make room without an early drop */
	assert_int_equal(ct_confirm(t, &a1, 6500 + 120000, 0, 0, &res), 0);
	ct_get_stats(t, &st);
	assert_int_equal(st.early_drop, 1);
	ct_free(t);
}

static void
test_evict_tiers(void **state)
{
	struct ct_table		*t = table(3);
	struct ct_result	 res;
	struct pkt		 u = udp("10.0.0.1", 1, "10.0.0.9", 53);
	struct pkt		 ur = udp("10.0.0.9", 53, "10.0.0.1", 1);
	struct pkt		 n = udp("10.0.0.5", 1, "10.0.0.9", 53);
	struct pkt		 x = udp("10.0.0.6", 1, "10.0.0.9", 53);
	struct conv		 c;

	/* an assured TCP, an assured UDP (a stream: a packet past its
	   first 2 s, the reply seen) and an unreplied UDP */
	conv_init(&c, t, 0);
	conv_send(&c, 0, SYN, 0, &res);
	conv_send(&c, 1, SYN | ACK, 0, &res);
	conv_send(&c, 0, ACK, 0, &res);
	pass(t, &u, c.now, &res);
	ct_track(t, &ur, c.now, &res);
	ct_track(t, &u, c.now + 2001, &res);
	assert_true(res.entry->status & CT_ST_ASSURED);
	c.now += 2001;
	assert_int_equal(pass(t, &n, c.now + 10, &res), CT_NEW);
	/* a newcomer pushes out only the unreplied one */
	assert_int_equal(pass(t, &x, c.now + 20, &res), CT_NEW);
	ct_track(t, &n, c.now + 30, &res);
	assert_null(res.entry);
	assert_int_equal(conv_state(&c), CT_TCP_ESTABLISHED);
	ct_track(t, &u, c.now + 30, &res);
	assert_non_null(res.entry);
	/* a closing TCP is fair game before... nothing else: x goes first */
	c.now += 30;
	conv_send(&c, 0, FIN | ACK, 0, &res);
	assert_int_equal(pass(t, &n, c.now + 40, &res), CT_NEW);
	ct_track(t, &x, c.now + 50, &res);
	assert_null(res.entry);
	assert_int_equal(conv_state(&c), CT_TCP_FIN_WAIT);
	ct_free(t);
}

static void
test_evict_oldest(void **state)
{
	struct ct_table		*t = table(3);
	struct ct_result	 res;
	struct pkt		 a = udp("10.0.0.1", 1, "10.0.0.9", 53);
	struct pkt		 b = udp("10.0.0.2", 1, "10.0.0.9", 53);
	struct pkt		 c = udp("2001:db8::3", 1, "2001:db8::9", 53);
	struct pkt		 d = udp("10.0.0.4", 1, "10.0.0.9", 53);
	struct pkt		 ping = icmp("10.0.0.5", "10.0.0.9", 8, 1);
	struct pkt		 pong = icmp("10.0.0.9", "10.0.0.5", 0, 1);

	/* one each: the least recently used goes, whatever its family */
	pass(t, &a, 0, &res);
	pass(t, &b, 1000, &res);
	pass(t, &c, 2000, &res);
	ct_track(t, &a, 3000, &res);		/* a is used again */
	assert_int_equal(pass(t, &d, 4000, &res), CT_NEW);
	ct_track(t, &b, 4000, &res);
	assert_null(res.entry);
	ct_track(t, &a, 4000, &res);
	assert_non_null(res.entry);
	ct_track(t, &c, 4000, &res);
	assert_non_null(res.entry);
	ct_free(t);

	/* never replied goes before replied (but not assured) */
	t = table(2);
	pass(t, &ping, 0, &res);
	ct_track(t, &pong, 10, &res);
	assert_int_equal(res.state, CT_ESTABLISHED);
	pass(t, &a, 1000, &res);
	assert_int_equal(pass(t, &b, 2000, &res), CT_NEW);
	ct_track(t, &a, 2000, &res);
	assert_null(res.entry);
	ct_track(t, &ping, 2000, &res);
	assert_non_null(res.entry);
	ct_free(t);
}

static void
test_evict_flood(void **state)
{
	struct ct_table		*t = table(64);
	struct ct_result	 res;
	struct ct_stats		 st;
	char			 a[32];
	int			 i;

	/* ten clients wait for answers, then one address floods */
	for (i = 0; i < 10; i++) {
		struct pkt p;

		snprintf(a, sizeof(a), "10.0.1.%d", i + 1);
		p = udp(a, 1000, "10.0.0.9", 53);
		assert_int_equal(pass(t, &p, (uint64_t)i, &res), CT_NEW);
	}
	for (i = 0; i < 5000; i++) {
		struct pkt p = udp("10.6.6.6", (uint16_t)(1 + i), "10.0.0.9",
		    53);

		assert_int_equal(pass(t, &p, 100 + (uint64_t)i, &res), CT_NEW);
	}
	assert_int_equal(ct_count(t), 64);
	for (i = 0; i < 10; i++) {
		struct pkt p;

		snprintf(a, sizeof(a), "10.0.1.%d", i + 1);
		p = udp(a, 1000, "10.0.0.9", 53);
		ct_track(t, &p, 6000, &res);
		if (res.entry == NULL)
			fail_msg("client %s was evicted by the flood", a);
	}
	ct_get_stats(t, &st);
	assert_int_equal(st.early_drop, 5000 + 10 - 64);
	ct_free(t);
}

static void
test_lower_max(void **state)
{
	struct ct_config	 cfg;
	struct ct_table		*t = table(100);
	struct ct_result	 res;
	int			 i;

	for (i = 0; i < 100; i++) {
		struct pkt p = udp("10.0.0.1", (uint16_t)(1 + i), "10.0.0.2",
		    53);

		assert_int_equal(pass(t, &p, (uint64_t)i, &res), CT_NEW);
	}
	ct_config_defaults(&cfg);
	cfg.max = 50;
	cfg.source_share = 0;
	ct_set_config(t, &cfg);
	assert_int_equal(ct_count(t), 100);
	/* each new connection takes two old ones with it */
	for (i = 0; i < 60; i++) {
		struct pkt p = udp("10.0.0.3", (uint16_t)(1 + i), "10.0.0.2",
		    53);

		assert_int_equal(pass(t, &p, 1000, &res), CT_NEW);
		assert_true(ct_count(t) <= 100);
	}
	assert_int_equal(ct_count(t), 50);
	ct_free(t);
}

/* ---- through the real parser ------------------------------------------- */

/* IPv4 + TCP with MSS, SACK permitted and window scale on SYNs. */
static size_t
raw_tcp4(uint8_t *b, const char *src, uint16_t sport, const char *dst,
    uint16_t dport, uint8_t flags, uint32_t seq, uint32_t ack,
    uint16_t win, uint8_t wscale, size_t paylen)
{
	union pkt_addr	 s = unit_addr(src), d = unit_addr(dst);
	size_t		 thl = flags & SYN ? 32 : 20, len = 20 + thl + paylen;
	uint8_t		*th = b + 20;

	pb_ip4(b, IPPROTO_TCP, s.a8, d.a8, 0, 0, 0, thl + paylen);
	pb_tcp(th, sport, dport, seq, ack, flags, win, thl - 20);
	memset(th + thl, 0, paylen);
	if (flags & SYN) {
		th[20] = 2; th[21] = 4; put16(th + 22, 1460);	/* MSS */
		th[24] = 4; th[25] = 2;				/* SACK ok */
		th[26] = 1;					/* NOP */
		th[27] = 3; th[28] = 3; th[29] = wscale;	/* WS */
		th[30] = 1; th[31] = 1;
	}
	return (len);
}

/* IPv4 ICMP error (type, code) from src to dst quoting q (qlen bytes). */
static size_t
raw_icmp4_err(uint8_t *b, const char *src, const char *dst, uint8_t type,
    uint8_t code, const uint8_t *q, size_t qlen)
{
	union pkt_addr	 s = unit_addr(src), d = unit_addr(dst);

	pb_ip4(b, IPPROTO_ICMP, s.a8, d.a8, 0, 0, 0, 8 + qlen);
	pb_icmp(b + 20, type, code, 0, 0);
	memcpy(b + 28, q, qlen);
	return (20 + 8 + qlen);
}

static uint8_t
raw_track(struct ct_table *t, const uint8_t *b, size_t len, uint64_t now,
    struct ct_result *res)
{
	struct pkt	 p;
	enum reason	 why;

	if (pkt_parse(&p, b, len, &why) == -1)
		fail_msg("pkt_parse: %s", reason_name(why));
	return (pass(t, &p, now, res));
}

static void
test_parsed_packets(void **state)
{
	struct ct_table		*t = table(1024);
	struct ct_result	 res;
	uint8_t			 b[1600], q[64];
	size_t			 n, qn;
	uint32_t		 cs = 1000, ss = 500000;
	char			 line[512];

	/* handshake with window scale 7 both ways */
	n = raw_tcp4(b, "10.0.0.1", 40000, "10.0.0.2", 80, SYN, cs, 0, 64240,
	    7, 0);
	assert_int_equal(raw_track(t, b, n, 1000, &res), CT_NEW);
	n = raw_tcp4(b, "10.0.0.2", 80, "10.0.0.1", 40000, SYN | ACK, ss,
	    cs + 1, 65160, 7, 0);
	assert_int_equal(raw_track(t, b, n, 1001, &res), CT_ESTABLISHED);
	n = raw_tcp4(b, "10.0.0.1", 40000, "10.0.0.2", 80, ACK, cs + 1, ss + 1,
	    502, 0, 0);
	assert_int_equal(raw_track(t, b, n, 1002, &res), CT_ESTABLISHED);
	/* the server may send 502 << 7 = 64256 bytes: the last byte of the
	   window is fine, one more is not */
	n = raw_tcp4(b, "10.0.0.2", 80, "10.0.0.1", 40000, ACK, ss + 1 + 64255,
	    cs + 1, 509, 0, 1);
	assert_int_equal(raw_track(t, b, n, 1003, &res), CT_ESTABLISHED);
	n = raw_tcp4(b, "10.0.0.2", 80, "10.0.0.1", 40000, ACK, ss + 1 + 64257,
	    cs + 1, 509, 0, 1);
	assert_int_equal(raw_track(t, b, n, 1004, &res), CT_INVALID);
	assert_int_equal(res.reason, REASON_TCP_SEQ);
	ct_format(res.entry, 1004, line, sizeof(line));
	assert_string_equal(line, "ipv4     2 tcp      6 299 ESTABLISHED "
	    "src=10.0.0.1 dst=10.0.0.2 sport=40000 dport=80 "
	    "src=10.0.0.2 dst=10.0.0.1 sport=80 dport=40000 [ASSURED] "
	    "mark=16 use=1");

	/* time exceeded from a router, quoting the client's segment */
	qn = raw_tcp4(q, "10.0.0.1", 40000, "10.0.0.2", 80, ACK, cs + 1,
	    ss + 1, 502, 0, 0);
	n = raw_icmp4_err(b, "192.0.2.1", "10.0.0.1", 11, 0, q, 28);
	assert_int_equal(raw_track(t, b, n, 1005, &res), CT_RELATED);
	assert_non_null(res.entry);
	/* ... quoting another connection */
	qn = raw_tcp4(q, "10.0.0.1", 40001, "10.0.0.2", 80, ACK, cs + 1,
	    ss + 1, 502, 0, 0);
	n = raw_icmp4_err(b, "192.0.2.1", "10.0.0.1", 11, 0, q, 28);
	assert_int_equal(raw_track(t, b, n, 1006, &res), CT_INVALID);
	assert_int_equal(res.reason, REASON_ICMP_UNTRACKED);
	(void)qn;
	ct_free(t);
}

/* ---- consistency under random traffic ------------------------------- */

/*
 * Every list sorted by qdl (but for killed entries, due at once and put
 * first), every deadline within lag of its qdl, every entry in exactly
 * one list and one chain.
 */
static void
check_table(struct ct_table *t)
{
	struct ct_entry	*e;
	uint32_t	 i, j, n, prev;
	size_t		 inlists = 0, inchains = 0, used = 0;
	int		 tc;

	for (tc = 0; tc < CT_TO_MAX; tc++) {
		prev = CT_NIL;
		for (i = t->tlist[tc].head; i != CT_NIL; i = e->tnext) {
			e = ct_idx(t, i);
			assert_true(e->status & CT_ST_USED);
			assert_int_equal(e->tclass, tc);
			assert_int_equal(e->tprev, prev);
			assert_true(e->deadline - e->qdl <= t->lag[tc]);
			if (prev != CT_NIL && e != NULL)
				assert_true((int32_t)(ct_idx(t, prev)->qdl -
				    e->qdl) <= 0 ||
				    (int32_t)(ct_idx(t, prev)->deadline -
				    t->now32) <= 0 ||
				    (int32_t)(e->deadline - t->now32) <= 0);
			prev = i;
			inlists++;
		}
		assert_int_equal(t->tlist[tc].tail, prev);
	}
	for (j = 0; j < t->nbucket; j++)
		for (i = t->bucket[j], n = 0; i != CT_NIL; i = e->hnext) {
			e = ct_idx(t, i);
			assert_true(e->status & CT_ST_USED);
			inchains++;
			assert_true(++n <= t->count);
		}
	for (i = 1; i < t->top; i++)
		if (ct_idx(t, i)->status & CT_ST_USED)
			used++;
	assert_int_equal(inlists, t->count);
	assert_int_equal(inchains, t->count);
	assert_int_equal(used, t->count);
	assert_true(t->count <= t->cfg.max);
	/* every entry is counted once in each row of the share's sketch,
	   and no source's count is below what it holds */
	for (tc = 0; tc < 2; tc++) {
		size_t sum = 0;

		for (j = 0; j < CT_SRC_WIDTH; j++)
			sum += t->src_cnt[tc * CT_SRC_WIDTH + j];
		assert_int_equal(sum, t->count);
	}
	for (i = 1; i < t->top; i++) {
		e = ct_idx(t, i);
		if (e->status & CT_ST_USED)
			assert_true(ct_source_count(t, e->family, &e->src) >=
			    1);
	}
}

static uint32_t
rnd(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return ((uint32_t)(*s >> 16));
}

static void
test_random_traffic(void **state)
{
	static const char *const hosts[] = { "10.0.0.1", "10.0.0.2",
	    "10.0.0.3", "192.0.2.1" };
	static const char *const hosts6[] = { "2001:db8::1", "2001:db8::2",
	    "2001:db8::3", "fe80::1" };
	static const uint8_t fl[] = { SYN, SYN | ACK, ACK, ACK | PSH,
	    FIN | ACK, RST, RST | ACK, 0, FIN, SYN | FIN };
	struct ct_table		*t = table(64);
	struct ct_result	 res;
	struct ct_stats		 st;
	struct pkt		 p, q;
	uint64_t		 seed = 0x9e3779b97f4a7c15ULL, now = 0;
	uint32_t		 r;
	int			 i, v6;

	memset(&q, 0, sizeof(q));
	for (i = 0; i < 200000; i++) {
		r = rnd(&seed);
		v6 = r & 1;
		now += rnd(&seed) % 3000;
		switch ((r >> 1) % 4) {
		case 0:
		case 1:
			p = udp((v6 ? hosts6 : hosts)[(r >> 3) & 3],
			    (uint16_t)(1 + ((r >> 5) & 3)),
			    (v6 ? hosts6 : hosts)[(r >> 7) & 3],
			    (uint16_t)(1 + ((r >> 9) & 3)));
			if ((r >> 1) % 4 == 1) {
				p.proto = IPPROTO_TCP;
				p.th_flags = fl[rnd(&seed) % sizeof(fl)];
				p.seq = rnd(&seed) % 4 ? (uint32_t)i * 100 :
				    rnd(&seed);
				p.ack = rnd(&seed) % 4 ? (uint32_t)i * 100 :
				    rnd(&seed);
				p.win = (uint16_t)rnd(&seed);
				p.wscale = (uint8_t)(rnd(&seed) % 16);
				p.paylen = rnd(&seed) % 1500;
			}
			q = p;
			break;
		case 2:
			p = icmp((v6 ? hosts6 : hosts)[(r >> 3) & 3],
			    (v6 ? hosts6 : hosts)[(r >> 7) & 3],
			    (uint8_t)(v6 ? 128 + ((r >> 9) & 1) :
			    ((r >> 9) & 1) * 8), (uint16_t)((r >> 11) & 3));
			q = p;
			break;
		default:
			p = icmp_err(v6 ? "2001:db8::ff" : "192.0.2.254",
			    (v6 ? hosts6 : hosts)[(r >> 3) & 3],
			    v6 ? 1 : 3, 3, &q);
			if ((r >> 5) & 1)
				p.dst = q.src;
			break;
		}
		p.family = p.family == 0 ? AF_INET : p.family;
		ct_track(t, &p, now, &res);
		if (res.state == CT_NEW && res.entry == NULL &&
		    (r >> 13) % 3 != 0) {
			if (ct_confirm(t, &p, now, 0, 0, &res) == -1)
				assert_true(res.reason == REASON_TABLE_FULL ||
				    res.reason == REASON_SOURCE_SHARE);
		}
		if ((r >> 15) % 50 == 0)
			ct_expire(t, now);
		if (i % 1000 == 0)
			check_table(t);
		if (i % 50000 == 0) {
			struct ct_config c;

			ct_config_defaults(&c);
			c.max = 16 + (rnd(&seed) % 100);
			c.timeout[CT_TO_UDP] = 1 + rnd(&seed) % 60;
			c.timeout[CT_TO_TCP_ESTABLISHED] = 1 + rnd(&seed) % 600;
			/* the share and adaptive timeouts now and then */
			c.source_share = rnd(&seed) % 2 ? 0 : 40;
			c.adaptive_start = rnd(&seed) % 2 ? 0 : 50;
			c.adaptive_end = c.adaptive_start ? 120 : 0;
			ct_set_config(t, &c);
			check_table(t);
		}
	}
	check_table(t);
	ct_get_stats(t, &st);
	assert_int_equal(st.created - st.destroyed, ct_count(t));
	assert_true(st.created > 1000);
	assert_true(st.early_drop > 0);
	ct_flush(t);
	check_table(t);
	ct_free(t);
}


/* ---- a fair table ------------------------------------------------------------ */

static void
test_source_share(void **state)
{
	struct ct_table		*t = table_cfg(1000, 10, 1);
	struct ct_result	 res;
	struct ct_stats		 st;
	struct pkt		 p;
	union pkt_addr		 a = unit_addr("10.0.0.1");
	int			 i, ok = 0;

	/* one client tries to take the whole table: it gets its 10 % */
	for (i = 0; i < 1000; i++) {
		p = udp("10.0.0.1", (uint16_t)(1000 + i), "10.0.0.9", 53);
		ct_track(t, &p, 1000, &res);
		assert_int_equal(res.state, CT_NEW);
		if (ct_confirm(t, &p, 1000, 0, 0, &res) == 0)
			ok++;
		else {
			assert_int_equal(res.state, CT_INVALID);
			assert_int_equal(res.reason, REASON_SOURCE_SHARE);
		}
	}
	assert_int_equal(ok, 100);
	assert_int_equal(ct_count(t), 100);
	assert_int_equal(ct_source_count(t, AF_INET, &a), 100);
	ct_get_stats(t, &st);
	assert_int_equal(st.share_refused, 900);
	assert_int_equal(st.early_drop, 0);
	/* another client still connects */
	p = udp("10.0.0.2", 1000, "10.0.0.9", 53);
	assert_int_equal(pass(t, &p, 1000, &res), CT_NEW);
	assert_non_null(res.entry);
	/* the reply direction is the same connection, not a new source */
	p = udp("10.0.0.9", 53, "10.0.0.1", 1000);
	ct_track(t, &p, 1001, &res);
	assert_int_equal(res.state, CT_ESTABLISHED);
	/* one of the client's connections ends: it may open one more */
	ct_remove(t, res.entry);
	assert_int_equal(ct_source_count(t, AF_INET, &a), 99);
	p = udp("10.0.0.1", 5000, "10.0.0.9", 53);
	assert_int_equal(pass(t, &p, 1002, &res), CT_NEW);
	p = udp("10.0.0.1", 5001, "10.0.0.9", 53);
	ct_track(t, &p, 1003, &res);
	assert_int_equal(ct_confirm(t, &p, 1003, 0, 0, &res), -1);
	check_table(t);
	/* a flush forgets every count */
	ct_flush(t);
	assert_int_equal(ct_source_count(t, AF_INET, &a), 0);
	check_table(t);
	ct_free(t);
}

static void
test_source_share_v6(void **state)
{
	struct ct_table		*t = table_cfg(100, 5, 1);
	struct ct_result	 res;
	struct pkt		 p;
	char			 s[64];
	int			 i;

	/* an IPv6 client is its /64: other addresses in it do not help */
	for (i = 0; i < 5; i++) {
		snprintf(s, sizeof(s), "2001:db8:0:1::%x", i + 1);
		p = udp(s, 1000, "2001:db8::9", 53);
		assert_int_equal(pass(t, &p, 1000, &res), CT_NEW);
	}
	p = udp("2001:db8:0:1:ffff::1", 1000, "2001:db8::9", 53);
	ct_track(t, &p, 1000, &res);
	assert_int_equal(ct_confirm(t, &p, 1000, 0, 0, &res), -1);
	assert_int_equal(res.reason, REASON_SOURCE_SHARE);
	/* the next /64 is another client */
	p = udp("2001:db8:0:2::1", 1000, "2001:db8::9", 53);
	assert_int_equal(pass(t, &p, 1000, &res), CT_NEW);
	assert_non_null(res.entry);
	/* a share below one entry still lets a source hold one */
	ct_free(t);
	t = table_cfg(5, 1, 1);
	p = udp("10.0.0.1", 1, "10.0.0.9", 53);
	assert_int_equal(pass(t, &p, 1000, &res), CT_NEW);
	p = udp("10.0.0.1", 2, "10.0.0.9", 53);
	ct_track(t, &p, 1000, &res);
	assert_int_equal(ct_confirm(t, &p, 1000, 0, 0, &res), -1);
	check_table(t);
	ct_free(t);
}

/* Three assured TCP connections in a table of three. */
static void
three_assured(struct ct_table *t, struct conv *c)
{
	struct ct_result	 res;
	int			 i;

	for (i = 0; i < 3; i++) {
		conv_init(&c[i], t, 0);
		c[i].s[0].port = (uint16_t)(41000 + i);
		conv_send(&c[i], 0, SYN, 0, &res);
		conv_send(&c[i], 1, SYN | ACK, 0, &res);
		conv_send(&c[i], 0, ACK, 0, &res);
		assert_true(conv_entry(&c[i])->status & CT_ST_ASSURED);
	}
}

/*
 * A connection imported with more time left than its timeout here (the
 * peer's is longer, or a reload shortened ours) was refreshed just now,
 * not 49 days ago: an assured one is kept, and the one idle for over a
 * minute goes.
 */
static void
test_evict_left_long(void **state)
{
	struct ct_table		*a = table(16), *t = table(2);
	struct ct_result	 res;
	struct ct_snap		 s;
	struct pkt		 p;
	uint32_t		 left[2] = { 300000, 50000 };
	int			 i;

	(void)state;
	for (i = 0; i < 2; i++) {
		p = udp(i ? "10.0.0.2" : "10.0.0.1", 1000, "10.0.0.9", 53);
		pass(a, &p, 1000, &res);
		ct_export(a, res.entry, &s);
		s.flags |= CT_SNAP_SEEN_REPLY | CT_SNAP_ASSURED;
		s.tclass = CT_TO_UDP_STREAM;	/* 120 s here */
		s.left_ms = left[i];		/* the second idle 70 s */
		assert_non_null(ct_import(t, &s, 1000, NULL));
	}
	p = udp("10.0.0.3", 1000, "10.0.0.9", 53);
	assert_int_equal(pass(t, &p, 1000, &res), CT_NEW);
	assert_true(has(t, "10.0.0.1", 1000));
	assert_false(has(t, "10.0.0.2", 1000));
	check_table(t);
	ct_free(t);
	ct_free(a);
}

static void
test_evict_assured_idle(void **state)
{
	struct ct_table		*t = table(3);
	struct ct_result	 res;
	struct ct_stats		 st;
	struct conv		 c[3];
	struct pkt		 n = udp("10.0.0.5", 1, "10.0.0.9", 53);
	int			 i;

	three_assured(t, c);
	/* all of them busy: the newcomer is refused */
	ct_track(t, &n, 2000, &res);
	assert_int_equal(ct_confirm(t, &n, 2000, 0, 0, &res), -1);
	assert_int_equal(res.reason, REASON_TABLE_FULL);
	/* c[1] and c[2] go on 30 s later; c[0] stays idle */
	for (i = 1; i < 3; i++) {
		c[i].now = 31000;
		conv_send(&c[i], 0, ACK, 100, &res);
		assert_int_equal(res.state, CT_ESTABLISHED);
	}
	/* at 70 s c[0] has been idle for over a minute: it makes room,
	   while the others (idle 39 s) are kept */
	ct_track(t, &n, 70000, &res);
	assert_int_equal(ct_confirm(t, &n, 70000, 0, 0, &res), 0);
	assert_int_equal(conv_state(&c[0]), GONE);
	assert_int_equal(conv_state(&c[1]), CT_TCP_ESTABLISHED);
	assert_int_equal(conv_state(&c[2]), CT_TCP_ESTABLISHED);
	ct_get_stats(t, &st);
	assert_int_equal(st.early_drop, 1);
	/* the unreplied newcomer goes before any assured one */
	n = udp("10.0.0.6", 1, "10.0.0.9", 53);
	assert_int_equal(pass(t, &n, 120000, &res), CT_NEW);
	assert_int_equal(conv_state(&c[1]), CT_TCP_ESTABLISHED);
	assert_int_equal(conv_state(&c[2]), CT_TCP_ESTABLISHED);
	check_table(t);
	ct_free(t);
}

static void
test_adaptive(void **state)
{
	struct ct_config	 cfg;
	struct ct_table		*t;
	struct ct_result	 res;
	struct pkt		 p;
	int			 i;

	ct_config_defaults(&cfg);
	cfg.max = 100;
	cfg.source_share = 0;
	cfg.adaptive_start = 50;
	cfg.adaptive_end = 100;
	assert_non_null(t = ct_new(&cfg));
	/* 50 entries: not above start, the full 30 s of timeout_udp */
	for (i = 0; i < 50; i++) {
		p = udp("10.0.0.1", (uint16_t)(1 + i), "10.0.0.9", 53);
		pass(t, &p, 0, &res);
	}
	ct_expire(t, 29000);
	assert_int_equal(ct_count(t), 50);
	ct_free(t);

	/* 75: half way from start to end, timeouts are halved (15 s) */
	assert_non_null(t = ct_new(&cfg));
	for (i = 0; i < 75; i++) {
		p = udp("10.0.0.1", (uint16_t)(1 + i), "10.0.0.9", 53);
		pass(t, &p, 0, &res);
	}
	ct_expire(t, 14000);
	assert_int_equal(ct_count(t), 75);
	p = udp("10.0.0.1", 1, "10.0.0.9", 53);
	ct_track(t, &p, 15000, &res);
	assert_null(res.entry);			/* judged by the shrunk time */
	/* 74 left: a little longer (15.6 s), and then all at once */
	ct_expire(t, 15500);
	assert_int_equal(ct_count(t), 74);
	ct_expire(t, 15600);
	assert_int_equal(ct_count(t), 0);
	check_table(t);
	/* off again by a reload: the whole timeout */
	cfg.adaptive_start = cfg.adaptive_end = 0;
	ct_set_config(t, &cfg);
	for (i = 0; i < 75; i++) {
		p = udp("10.0.0.1", (uint16_t)(1 + i), "10.0.0.9", 53);
		pass(t, &p, 20000, &res);
	}
	ct_expire(t, 20000 + 29000);
	assert_int_equal(ct_count(t), 75);
	ct_free(t);

	/* at end or beyond, nothing lives */
	cfg.adaptive_start = 10;
	cfg.adaptive_end = 20;
	assert_non_null(t = ct_new(&cfg));
	for (i = 0; i < 20; i++) {
		p = udp("10.0.0.1", (uint16_t)(1 + i), "10.0.0.9", 53);
		pass(t, &p, 0, &res);
	}
	ct_expire(t, 1);
	assert_int_equal(ct_count(t), 0);
	ct_free(t);
}

static void
test_overflow_grace(void **state)
{
	struct ct_table		*t = table(16);
	struct ct_result	 res;
	struct ct_stats		 st;
	struct conv		 c, h;
	struct pkt		 p;

	conv_init(&c, t, 0);
	conv_send(&c, 0, SYN, 0, &res);
	conv_send(&c, 1, SYN | ACK, 0, &res);
	conv_send(&c, 0, ACK, 1000, &res);
	/* the kernel let 200 kB of the client's pass while our queue was
	   full: the server's ACK of it acknowledges data we never saw */
	c.s[0].nxt += 200000;
	p = conv_pkt(&c, 1, ACK, 0);
	ct_track(t, &p, c.now + 10, &res);
	assert_int_equal(res.state, CT_INVALID);
	assert_int_equal(res.reason, REASON_TCP_ACK);
	/* after an overflow, the same segment passes, counted and marked */
	ct_grace(t, c.now + 5000);
	ct_track(t, &p, c.now + 20, &res);
	assert_int_equal(res.state, CT_ESTABLISHED);
	assert_int_equal(res.reason, REASON_WINDOW_GRACE);
	ct_get_stats(t, &st);
	assert_int_equal(st.window_grace, 1);
	/* ... and taught the window: the client's next segment is fine,
	   without the grace's help */
	c.now += 30;
	assert_int_equal(conv_send(&c, 0, ACK, 1000, &res), CT_ESTABLISHED);
	assert_int_equal(res.reason, REASON_NONE);
	/* a RST out of window is never let pass */
	p = conv_pkt(&c, 1, RST, 0);
	p.seq += 0x40000000;
	ct_track(t, &p, c.now + 10, &res);
	assert_int_equal(res.state, CT_INVALID);
	assert_int_equal(res.reason, REASON_TCP_RST);
	/* a connection that is not assured is not graced */
	conv_init(&h, t, 0);
	h.s[0].port = 42000;
	h.now = c.now;
	conv_send(&h, 0, SYN, 0, &res);
	conv_send(&h, 1, SYN | ACK, 0, &res);
	p = conv_pkt(&h, 0, ACK, 0);
	p.ack += 100000;
	ct_track(t, &p, h.now + 10, &res);
	assert_int_equal(res.state, CT_INVALID);
	/* once the grace is over, out of window is INVALID again */
	c.s[0].nxt += 200000;
	p = conv_pkt(&c, 1, ACK, 0);
	ct_track(t, &p, c.now + 6000, &res);
	assert_int_equal(res.state, CT_INVALID);
	ct_get_stats(t, &st);
	assert_int_equal(st.window_grace, 1);
	ct_free(t);
}

/* n segments of the client's and the server's ACKs, each in window */
static void
conv_in_step(struct conv *c, int n)
{
	struct ct_result	 res;
	int			 i;

	for (i = 0; i < n; i++) {
		assert_int_equal(conv_send(c, 0, ACK, 1000, &res),
		    CT_ESTABLISHED);
		assert_int_equal(res.reason, REASON_NONE);
		assert_int_equal(conv_send(c, 1, ACK, 0, &res),
		    CT_ESTABLISHED);
		assert_int_equal(res.reason, REASON_NONE);
	}
}

/*
 * Gigabytes passed unseen (a fast link, a long stall): the grace takes
 * the connection up where it is, and afterwards it needs no grace.  A
 * segment let pass must not grow the receiver's window by the jump: a
 * few such segments wrapped it, every later segment of the sender then
 * looked like an old retransmission (passed, teaching nothing), and the
 * other side's ACKs were INVALID once the grace was over.
 */
static void
test_overflow_grace_jump(void **state)
{
	struct ct_table		*t = table(16);
	struct ct_result	 res;
	struct ct_stats		 st;
	struct conv		 c;
	int			 i;

	conv_init(&c, t, 0);
	conv_send(&c, 0, SYN, 0, &res);
	conv_send(&c, 1, SYN | ACK, 0, &res);
	conv_send(&c, 0, ACK, 1000, &res);
	conv_send(&c, 1, ACK, 0, &res);
	ct_grace(t, c.now + 5000);
	c.s[0].nxt += 1200000000;
	/* the client's segments come before the server's next ACK */
	for (i = 0; i < 3; i++)
		assert_int_equal(conv_send(&c, 0, ACK, 1000, &res),
		    CT_ESTABLISHED);
	assert_int_equal(conv_send(&c, 1, ACK, 0, &res), CT_ESTABLISHED);
	ct_get_stats(t, &st);
	assert_int_equal(st.window_grace, 1);
	/* the grace is over: the connection goes on in step */
	c.now += 6000;
	conv_in_step(&c, 10);
	/* the server's ACK of data never seen comes first: the next one
	   needs no grace, nor does the client's data */
	ct_grace(t, c.now + 5000);
	c.s[0].nxt += 1200000000;
	assert_int_equal(conv_send(&c, 1, ACK, 0, &res), CT_ESTABLISHED);
	assert_int_equal(res.reason, REASON_WINDOW_GRACE);
	assert_int_equal(conv_send(&c, 1, ACK, 0, &res), CT_ESTABLISHED);
	assert_int_equal(res.reason, REASON_NONE);
	c.now += 6000;
	conv_in_step(&c, 10);
	ct_get_stats(t, &st);
	assert_int_equal(st.window_grace, 2);
	check_table(t);
	ct_free(t);
}

/* ---- reload ------------------------------------------------------------------ */

static void
test_set_config(void **state)
{
	struct ct_config	 cfg;
	struct ct_table		*t = table(64);
	struct ct_result	 res;
	int			 i;

	for (i = 0; i < 64; i++) {
		struct pkt p = udp("10.0.0.1", (uint16_t)(1 + i), "10.0.0.2",
		    53);

		pass(t, &p, 0, &res);
	}
	ct_config_defaults(&cfg);
	cfg.max = 100000;		/* grows the hash */
	cfg.timeout[CT_TO_UDP] = 5;	/* shorter: applies from now */
	ct_set_config(t, &cfg);
	for (i = 0; i < 64; i++) {
		struct pkt p = udp("10.0.0.1", (uint16_t)(1 + i), "10.0.0.2",
		    53);

		ct_track(t, &p, 1000, &res);
		assert_non_null(res.entry);
	}
	ct_expire(t, 1000 + 5000);
	assert_int_equal(ct_count(t), 0);
	ct_free(t);
}

/* ---- sync: export and import ------------------------------------------- */

static int	 sync_events[4];

static void
count_event(int ev, const struct ct_entry *e, void *arg)
{
	(void)e;
	(void)arg;
	sync_events[ev]++;
}

/* A scaled-window connection moves to a strict table and goes on there. */
static void
test_sync_tcp_continues(void **state)
{
	struct ct_table		*a = table(1024);
	struct ct_table		*b = table_cfg(1024, -1, 0);	/* strict */
	struct ct_result	 res;
	struct ct_snap		 s, s2;
	struct ct_entry		*e;
	struct conv		 c;
	struct pkt		 p;
	char			 fa[512], fb[512];

	conv_init(&c, a, 0);
	c.s[0].wscale = 7;
	c.s[1].wscale = 9;
	c.s[0].sackp = c.s[1].sackp = 1;
	handshake(&c);
	assert_int_equal(conv_send(&c, 0, ACK | PSH, 1000, &res),
	    CT_ESTABLISHED);
	assert_int_equal(conv_send(&c, 1, ACK | PSH, 3000, &res),
	    CT_ESTABLISHED);
	assert_int_equal(conv_send(&c, 0, ACK, 0, &res), CT_ESTABLISHED);
	e = conv_entry(&c);
	assert_non_null(e);
	ct_export(a, e, &s);
	assert_int_equal(ct_snap_check(&s), 0);
	assert_int_equal(s.state, CT_TCP_ESTABLISHED);
	assert_int_equal(s.flags, CT_SNAP_SEEN_REPLY | CT_SNAP_ASSURED);
	assert_int_equal(s.mark, 0x10);
	assert_int_equal(s.rule, 7);
	assert_int_equal(s.tcp.scale[0], 7);
	assert_int_equal(s.tcp.scale[1], 9);

	/* the backup: the same line, the same time left */
	ct_set_event_cb(b, count_event, NULL);
	memset(sync_events, 0, sizeof(sync_events));
	e = ct_import(b, &s, c.now, NULL);
	assert_non_null(e);
	assert_int_equal(sync_events[CT_EVENT_NEW], 1);
	ct_format(conv_entry(&c), c.now, fa, sizeof(fa));
	ct_format(e, c.now, fb, sizeof(fb));
	assert_string_equal(fa, fb);
	ct_export(b, e, &s2);
	assert_memory_equal(&s, &s2, sizeof(s));

	/* handed the traffic: data both ways, in window */
	c.t = b;
	assert_int_equal(conv_send(&c, 0, ACK | PSH, 1400, &res),
	    CT_ESTABLISHED);
	assert_int_equal(conv_send(&c, 1, ACK | PSH, 1400, &res),
	    CT_ESTABLISHED);
	assert_int_equal(ct_entry_mark(res.entry), 0x10);
	assert_int_equal(ct_entry_rule(res.entry), 7);
	/* a segment far beyond the window is INVALID: windows are tracked */
	p = conv_pkt(&c, 0, ACK | PSH, 100);
	p.seq += 0x40000000u;
	assert_int_equal(conv_try(&c, 0, &p, &res), CT_INVALID);
	/* the close goes through the tracker as on the master */
	assert_int_equal(conv_send(&c, 0, FIN | ACK, 0, &res),
	    CT_ESTABLISHED);
	assert_int_equal(conv_state(&c), CT_TCP_FIN_WAIT);
	/* without the import, the strict table knows nothing of it */
	ct_free(b);
	b = table_cfg(16, -1, 0);
	c.t = b;
	assert_int_equal(conv_send(&c, 0, ACK | PSH, 10, &res), CT_INVALID);
	ct_free(a);
	ct_free(b);
}

/* Updates, the other direction, forget, and the checks on the way in. */
static void
test_sync_update_forget(void **state)
{
	struct ct_table		*a = table(64), *b = table(64);
	struct ct_result	 res;
	struct ct_snap		 s, bad;
	struct ct_entry		*e;
	struct pkt		 p = udp("10.0.0.1", 5000, "10.0.0.2", 53);
	struct pkt		 q = udp("10.0.0.2", 53, "10.0.0.1", 5000);
	size_t			 i;

	assert_int_equal(pass(a, &p, 1000, &res), CT_NEW);
	ct_export(a, res.entry, &s);
	assert_int_equal(s.flags, 0);
	ct_set_event_cb(b, count_event, NULL);
	memset(sync_events, 0, sizeof(sync_events));
	assert_non_null(ct_import(b, &s, 2000, NULL));
	/* the same state again: no event; the reply seen: UPDATE */
	assert_non_null(ct_import(b, &s, 2000, NULL));
	assert_int_equal(sync_events[CT_EVENT_NEW], 1);
	assert_int_equal(sync_events[CT_EVENT_UPDATE], 0);
	assert_int_equal(pass(a, &q, 1500, &res), CT_ESTABLISHED);
	ct_export(a, res.entry, &s);
	assert_true(s.flags & CT_SNAP_SEEN_REPLY);
	e = ct_import(b, &s, 2000, NULL);
	assert_non_null(e);
	assert_int_equal(sync_events[CT_EVENT_UPDATE], 1);
	assert_int_equal(ct_count(b), 1);
	/* the time left counts from the import */
	ct_expire(b, 2000 + s.left_ms - 1);
	assert_int_equal(ct_count(b), 1);
	ct_expire(b, 2000 + s.left_ms);
	assert_int_equal(ct_count(b), 0);

	/* the backup saw it begin the other way: the master's wins */
	assert_int_equal(pass(b, &q, 3000, &res), CT_NEW);
	assert_non_null(ct_import(b, &s, 3000, NULL));
	assert_int_equal(ct_count(b), 1);
	ct_track(b, &p, 3001, &res);
	assert_int_equal(res.dir, CT_DIR_ORIG);
	/* forget, from either end */
	assert_int_equal(ct_forget(b, &(struct ct_tuple){ .family = AF_INET,
	    .proto = IPPROTO_UDP, .src = q.src, .dst = q.dst, .sport = 53,
	    .dport = 5000 }, 3002), 0);
	assert_int_equal(ct_count(b), 0);
	errno = 0;
	assert_int_equal(ct_forget(b, &s.k, 3003), -1);
	assert_int_equal(errno, ENOENT);

	/* what no version could hold */
	for (i = 0; i < 10; i++) {
		bad = s;
		switch (i) {
		case 0: bad.k.family = 3; break;
		case 1: bad.tclass = CT_TO_MAX; break;
		case 2: bad.flags = 0x80; break;
		case 3: bad.hook = PKT_HOOK_MAX; break;
		case 4: bad.left_ms = CT_TIMEOUT_MAX * 1000u + 1; break;
		case 5: bad.state = 1; break;		/* UDP with a state */
		case 6: bad.k.proto = IPPROTO_TCP;
			bad.state = CT_TCP_NSTATES; break;
		case 7: bad.k.proto = IPPROTO_TCP;
			bad.tcp.scale[1] = 15; break;
		case 8: bad.last_hash = CT_SNAP_STREAM_MAX + 1;
			break;			/* UDP: 2 s and 1 ms */
		default: bad.k.proto = IPPROTO_TCP;
			bad.tcp.last_dir = 2; break;
		}
		errno = 0;
		assert_int_equal(ct_snap_check(&bad), -1);
		assert_null(ct_import(b, &bad, 4000, NULL));
		assert_int_equal(errno, EINVAL);
	}
	assert_int_equal(ct_count(b), 0);
	ct_free(a);
	ct_free(b);
}

/*
 * A connection restored from the state file or taken from the HA peer,
 * which moved on unseen (--queue-bypass while the daemon was down): c's
 * sides sent and acknowledged move bytes each way since s was taken.
 */
static void
stale_moved(struct conv *c, uint32_t move)
{
	c->s[0].nxt += move;
	c->s[1].nxt += move / 3;
}

/* s, the state of c's connection now, after some data both ways */
static void
stale_snap(struct conv *c, struct ct_snap *s)
{
	struct ct_result	 res;

	handshake(c);
	assert_int_equal(conv_send(c, 0, ACK | PSH, 1000, &res),
	    CT_ESTABLISHED);
	assert_int_equal(conv_send(c, 1, ACK | PSH, 3000, &res),
	    CT_ESTABLISHED);
	assert_int_equal(conv_send(c, 0, ACK, 0, &res), CT_ESTABLISHED);
	ct_export(c->t, conv_entry(c), s);
}

/*
 * Each side's first packet after the import re-learns its window, as
 * the kernel takes up a connection mid-stream; from then on the window
 * is checked as usual.  Without ct_snap_stale() the first packet far
 * past the snapshot's window is INVALID, the connection broken.
 */
static void
test_stale_relearn(void **state)
{
	/* checked as usual, from either side: data far past the window,
	   an ACK of data never sent (III) */
	static const struct probe usual[] = {
		{ 0, ACK | PSH, 100, 0x40000000, 0, CT_INVALID,
		    REASON_TCP_SEQ, CT_TCP_ESTABLISHED },
		{ 1, ACK | PSH, 100, 0x40000000, 0, CT_INVALID,
		    REASON_TCP_SEQ, CT_TCP_ESTABLISHED },
		{ 1, ACK, 0, 0, 0x10000000, CT_INVALID, REASON_TCP_ACK,
		    CT_TCP_ESTABLISHED },
	};
	struct ct_table		*a = table(64), *b;
	struct ct_result	 res;
	struct ct_stats		 st;
	struct ct_snap		 s, s2;
	struct ct_entry		*e;
	struct conv		 c;
	int			 v6;

	for (v6 = 0; v6 < 2; v6++) {
		conv_init(&c, a, v6);
		c.s[0].wscale = 2;
		c.s[1].wscale = 3;
		stale_snap(&c, &s);
		stale_moved(&c, 0x30000000u);

		/* as it was: the snapshot's window refuses it */
		b = table_cfg(64, -1, 0);
		c.t = b;
		assert_non_null(ct_import(b, &s, c.now, NULL));
		assert_int_equal(conv_send(&c, 0, ACK | PSH, 100, &res),
		    CT_INVALID);
		assert_int_equal(res.reason, REASON_TCP_SEQ);
		ct_free(b);

		b = table_cfg(64, -1, 0);	/* strict: no pickup */
		c.t = b;
		s2 = s;
		ct_snap_stale(&s2);
		assert_int_equal(s2.tcp.dflags[0], s.tcp.dflags[0] |
		    CT_SNAP_TD_LOCAL);
		assert_int_equal(s2.tcp.dflags[1], s.tcp.dflags[1] |
		    CT_SNAP_TD_LOCAL);
		assert_non_null(e = ct_import(b, &s2, c.now, NULL));
		/* an internal move keeps it (the wire never sees it) */
		ct_export(b, e, &s);
		assert_memory_equal(&s.tcp, &s2.tcp, sizeof(s.tcp));

		/* one side's first packet, far past the old window (the
		   client's over IPv4, the server's over IPv6) */
		assert_int_equal(conv_send(&c, v6, ACK | PSH, 100, &res),
		    CT_ESTABLISHED);
		assert_int_equal(res.reason, REASON_NONE);
		ct_get_stats(b, &st);
		assert_int_equal(st.window_relearn, 1);
		assert_int_equal(st.invalid, 0);
		/* the other's, acking it: where that ack said this side
		   is, so in the window held */
		assert_int_equal(conv_send(&c, !v6, ACK | PSH, 200, &res),
		    CT_ESTABLISHED);
		ct_get_stats(b, &st);
		assert_int_equal(st.window_relearn, 1);
		/* the window scale is the snapshot's: a big window holds */
		c.s[0].win = c.s[1].win = 30000;
		assert_int_equal(conv_send(&c, 0, ACK | PSH, 100000, &res),
		    CT_ESTABLISHED);
		assert_int_equal(conv_send(&c, 1, ACK, 0, &res),
		    CT_ESTABLISHED);
		assert_int_equal(conv_send(&c, 1, ACK | PSH, 200000, &res),
		    CT_ESTABLISHED);
		assert_int_equal(conv_send(&c, 0, ACK, 0, &res),
		    CT_ESTABLISHED);
		ct_get_stats(b, &st);
		assert_int_equal(st.window_relearn, 1);
		assert_int_equal(conv_state(&c), CT_TCP_ESTABLISHED);

		/* and then checked as usual */
		conv_probes(&c, usual, sizeof(usual) / sizeof(usual[0]));
		/* a packet again far past the window re-learns nothing */
		stale_moved(&c, 0x30000000u);
		assert_int_equal(conv_send(&c, 0, ACK | PSH, 100, &res),
		    CT_INVALID);
		ct_get_stats(b, &st);
		assert_int_equal(st.window_relearn, 1);
		assert_int_equal(conv_state(&c), CT_TCP_ESTABLISHED);
		ct_free(b);
		c.t = a;
	}
	ct_free(a);
}

/*
 * A RST teaches no window: before either side was re-learnt it is
 * checked against the snapshot's, after the other side's first packet
 * against that side's ack and window (RFC 5961 as usual): a blind RST
 * ends no restored connection.  A side picked up in the middle of a
 * handshake goes on too.
 */
static void
test_stale_rst(void **state)
{
	static const struct probe blind[] = {
		/* the server's RST first, at where it is now: nothing
		   re-learnt, the snapshot's window refuses it, and it
		   changes nothing */
		{ 1, RST, 0, 0, 0, CT_INVALID, REASON_TCP_RST,
		    CT_TCP_ESTABLISHED },
		/* the client's data re-learns the client's side */
		{ 0, ACK | PSH, 100, 0, 0, CT_ESTABLISHED, 0,
		    CT_TCP_ESTABLISHED },
		/* a RST of the server's behind the client's ack, or
		   beyond its window: INVALID */
		{ 1, RST, 0, -1000, 0, CT_INVALID, REASON_TCP_RST,
		    CT_TCP_ESTABLISHED },
		{ 1, RST, 0, 0x20000000, 0, CT_INVALID, REASON_TCP_RST,
		    CT_TCP_ESTABLISHED },
		/* in the window but not exact: passes, the state stays */
		{ 1, RST, 0, 100, 0, CT_ESTABLISHED, 0, CT_TCP_ESTABLISHED },
	}, exact = {
		/* exact: the connection ends */
		1, RST, 0, 0, 0, CT_ESTABLISHED, 0, CT_TCP_CLOSE
	};
	struct ct_table		*a = table(64), *b;
	struct ct_result	 res;
	struct ct_stats		 st;
	struct ct_snap		 s;
	struct conv		 c;

	conv_init(&c, a, 0);
	stale_snap(&c, &s);
	stale_moved(&c, 0x30000000u);
	b = table_cfg(64, -1, 0);
	c.t = b;
	ct_snap_stale(&s);
	assert_non_null(ct_import(b, &s, c.now, NULL));

	conv_probes(&c, blind, sizeof(blind) / sizeof(blind[0]));
	c.s[1].nxt -= 100;	/* the last did not move the server on */
	ct_get_stats(b, &st);
	assert_int_equal(st.rst_ignored, 1);
	assert_int_equal(st.window_relearn, 1);
	conv_probes(&c, &exact, 1);
	ct_free(b);

	/* restored between the SYN/ACK and the last ACK of the handshake */
	conv_init(&c, a, 1);
	assert_int_equal(conv_send(&c, 0, SYN, 0, &res), CT_NEW);
	assert_int_equal(conv_send(&c, 1, SYN | ACK, 0, &res),
	    CT_ESTABLISHED);
	ct_export(a, conv_entry(&c), &s);
	ct_snap_stale(&s);
	b = table_cfg(64, -1, 0);
	c.t = b;
	assert_non_null(ct_import(b, &s, c.now, NULL));
	assert_int_equal(conv_send(&c, 0, ACK, 0, &res), CT_ESTABLISHED);
	assert_int_equal(conv_state(&c), CT_TCP_ESTABLISHED);
	assert_int_equal(conv_send(&c, 1, ACK | PSH, 500, &res),
	    CT_ESTABLISHED);
	assert_int_equal(conv_send(&c, 0, ACK, 0, &res), CT_ESTABLISHED);
	ct_get_stats(b, &st);
	assert_int_equal(st.window_relearn, 0);
	assert_int_equal(st.invalid, 0);
	ct_free(b);
	ct_free(a);
}

/* Imported entries with any time left keep the lists in order and go in
   time, but for those placed far from both ends. */
static void
test_sync_import_order(void **state)
{
	struct ct_table		*b = table(4096);
	struct ct_snap		 s;
	struct ct_entry		*e;
	uint64_t		 seed = 42, now = 5000;
	uint32_t		 i, j, prev;
	size_t			 n, exact;

	memset(&s, 0, sizeof(s));
	s.k.family = AF_INET;
	s.k.proto = IPPROTO_UDP;
	s.k.src = unit_addr("10.1.0.1");
	s.k.dst = unit_addr("10.2.0.1");
	s.k.dport = 53;
	s.tclass = CT_TO_UDP;
	for (i = 0; i < 2000; i++) {
		s.k.sport = (uint16_t)(1000 + i);
		s.left_ms = rnd(&seed) % 30000;
		if (i % 7 == 0)
			s.left_ms = 30000;
		assert_non_null(ct_import(b, &s, now, NULL));
	}
	assert_int_equal(ct_count(b), 2000);
	/* sorted by qdl, never before the deadline */
	prev = CT_NIL;
	n = exact = 0;
	for (i = b->tlist[CT_TO_UDP].head; i != CT_NIL; i = e->tnext) {
		e = ct_idx(b, i);
		assert_int_equal(e->tprev, prev);
		assert_true((int32_t)(e->qdl - e->deadline) >= 0);
		exact += e->qdl == e->deadline;
		if (prev != CT_NIL)
			assert_true((int32_t)(ct_idx(b, prev)->qdl -
			    e->qdl) <= 0);
		prev = i;
		n++;
	}
	assert_int_equal(n, 2000);
	assert_int_equal(b->tlist[CT_TO_UDP].tail, prev);
	/* both ways were taken: at the exact place, and late at the tail */
	assert_true(exact > 300 && exact < 2000);
	/* a lookup past the deadline never finds it */
	for (j = 0; j < 2000; j += 97) {
		struct ct_tuple	 k = s.k;
		uint8_t		 dir;

		k.sport = (uint16_t)(1000 + j);
		e = ct_find(b, &k, 0, &dir);
		if (e == NULL)
			continue;
		ct_expire(b, now + (uint32_t)(e->deadline - (uint32_t)now));
		assert_null(ct_find(b, &k, 0, &dir));
	}
	ct_expire(b, now + 30000);
	assert_int_equal(ct_count(b), 0);
	ct_free(b);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_tcp_transitions_v4),
		cmocka_unit_test(test_tcp_transitions_v6),
		cmocka_unit_test(test_tcp_connection),
		cmocka_unit_test(test_rule_index_17bits),
		cmocka_unit_test(test_dirty),
		cmocka_unit_test(test_resync_sweep),
		cmocka_unit_test(test_resync_reused_slot),
		cmocka_unit_test(test_resync_sweep_newer),
		cmocka_unit_test(test_resync_room),
		cmocka_unit_test(test_resync_room_stalest),
		cmocka_unit_test(test_resync_room_packet),
		cmocka_unit_test(test_import_share),
		cmocka_unit_test(test_tcp_ipv6_format),
		cmocka_unit_test(test_tcp_flags),
		cmocka_unit_test(test_tcp_loose),
		cmocka_unit_test(test_tcp_window_v4),
		cmocka_unit_test(test_tcp_window_v6),
		cmocka_unit_test(test_tcp_retransmission),
		cmocka_unit_test(test_tcp_handshake_window),
		cmocka_unit_test(test_tcp_wscale),
		cmocka_unit_test(test_tcp_sack),
		cmocka_unit_test(test_tcp_timeouts),
		cmocka_unit_test(test_tcp_resync),
		cmocka_unit_test(test_tcp_loose_learning),
		cmocka_unit_test(test_tcp_challenge_ack),
		cmocka_unit_test(test_tcp_reopen),
		cmocka_unit_test(test_udp),
		cmocka_unit_test(test_udp_unreplied_expiry),
		cmocka_unit_test(test_udp_stream),
		cmocka_unit_test(test_udp_stream_long),
		cmocka_unit_test(test_udp_stream_evict),
		cmocka_unit_test(test_udp_stream_sync),
		cmocka_unit_test(test_udp_stream_credit),
		cmocka_unit_test(test_generic),
		cmocka_unit_test(test_icmp_echo),
		cmocka_unit_test(test_icmp6_echo),
		cmocka_unit_test(test_related),
		cmocka_unit_test(test_related_tcp_v6_and_icmp),
		cmocka_unit_test(test_find_related),
		cmocka_unit_test(test_icmp_queries),
		cmocka_unit_test(test_icmp_confirm_no_start),
		cmocka_unit_test(test_related_generic),
		cmocka_unit_test(test_walk_remove_flush),
		cmocka_unit_test(test_walk_exact),
		cmocka_unit_test(test_evict),
		cmocka_unit_test(test_evict_tiers),
		cmocka_unit_test(test_evict_oldest),
		cmocka_unit_test(test_evict_flood),
		cmocka_unit_test(test_lower_max),
		cmocka_unit_test(test_set_config),
		cmocka_unit_test(test_source_share),
		cmocka_unit_test(test_source_share_v6),
		cmocka_unit_test(test_evict_assured_idle),
		cmocka_unit_test(test_evict_left_long),
		cmocka_unit_test(test_adaptive),
		cmocka_unit_test(test_overflow_grace),
		cmocka_unit_test(test_overflow_grace_jump),
		cmocka_unit_test(test_timer_lag),
		cmocka_unit_test(test_timer_lag_full),
		cmocka_unit_test(test_timer_clock),
		cmocka_unit_test(test_ahead_chains),
		cmocka_unit_test(test_random_traffic),
		cmocka_unit_test(test_parsed_packets),
		cmocka_unit_test(test_sync_tcp_continues),
		cmocka_unit_test(test_sync_update_forget),
		cmocka_unit_test(test_sync_import_order),
		cmocka_unit_test(test_stale_relearn),
		cmocka_unit_test(test_stale_rst),
		cmocka_unit_test(test_offload_tcp),
		cmocka_unit_test(test_offload_marks),
		cmocka_unit_test(test_offload_bytes),
		cmocka_unit_test(test_offload_udp),
	};

	return (cmocka_run_group_tests(tests, NULL, NULL));
}
