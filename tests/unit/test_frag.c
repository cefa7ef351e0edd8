/*
 * test_frag.c - the fragment cache, IPv4 and IPv6
 *
 * Copyright (C) 2026 The nfqspid authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * Every case runs in both families.  A datagram made whole must be the
 * very bytes of the packet that was cut into fragments
 * (tests/pktbuild.h), and every id handed to the cache must come back exactly once: held, then
 * released with its datagram's fate, or decided at once.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <netinet/in.h>

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "csum.h"
#include "frag.h"
#include "pkt.h"
#include "../pktbuild.h"

#define MAXIDS	4096

/* What became of each id: 0 nothing yet, 1 held, 2 passed on (a verdict
   given), 3 dropped; twice is a failure. */
struct fx {
	struct frag_cache	*fc;
	struct frag_config	 cfg;
	uint8_t			 fate[MAXIDS];
	uint8_t			 whole[FRAG_MAX_DGRAM + 40];
	size_t			 wlen;
	size_t			 expired;
};

static void
settle(struct fx *f, uint64_t id, uint8_t fate)
{
	assert_true(id < MAXIDS);
	assert_true(f->fate[id] <= 1);
	f->fate[id] = fate;
}

/* frag_add() of a heap copy of exactly len bytes; checks the result's
   ids and records every fate. */
static enum frag_status
add(struct fx *f, const uint8_t *b, size_t len, uint64_t id, unsigned fl,
    uint64_t now, struct frag_result *res)
{
	uint8_t		*c = malloc(len);
	size_t		 i;

	assert_non_null(c);
	memcpy(c, b, len);
	assert_int_equal(f->fate[id], 0);
	frag_add(f->fc, c, len, id, fl, now, res);
	/* frag_maybe() (the workers' shortcut) misses no fragment */
	if (res->status != FRAG_PASS)
		assert_true(frag_maybe(c, len));
	free(c);
	switch (res->status) {
	case FRAG_PASS:
		assert_int_equal(res->n, 0);
		settle(f, id, 2);
		break;
	case FRAG_HELD:
		assert_int_equal(res->n, 0);
		f->fate[id] = 1;
		break;
	case FRAG_WHOLE:
		settle(f, id, 2);
		for (i = 0; i < res->n; i++) {
			assert_int_equal(f->fate[res->ids[i]], 1);
			settle(f, res->ids[i], 2);
		}
		assert_true(res->len <= sizeof(f->whole));
		memcpy(f->whole, res->buf, res->len);
		f->wlen = res->len;
		break;
	case FRAG_DROP:
		assert_int_not_equal(res->reason, REASON_NONE);
		settle(f, id, 3);
		for (i = 0; i < res->n; i++) {
			assert_int_equal(f->fate[res->ids[i]], 1);
			settle(f, res->ids[i], 3);
		}
		break;
	}
	return (res->status);
}

static void
on_expire(void *arg, const struct frag_expired *x)
{
	struct fx	*f = arg;
	struct pkt	 p;
	size_t		 i;

	/* a fragment of the datagram, readable for the audit record */
	assert_true(x->len >= 20);
	(void)pkt_parse(&p, x->buf, x->len, NULL);
	assert_true(p.family == AF_INET || p.family == AF_INET6);
	for (i = 0; i < x->n; i++) {
		assert_int_equal(f->fate[x->ids[i]], 1);
		settle(f, x->ids[i], 3);
	}
	f->expired++;
}

static struct fx *
fx_new(void)
{
	struct fx	*f = calloc(1, sizeof(*f));

	assert_non_null(f);
	frag_config_defaults(&f->cfg);
	assert_non_null(f->fc = frag_new(&f->cfg));
	return (f);
}

/* Nothing may stay held: expire all and free. */
static void
fx_free(struct fx *f)
{
	struct frag_stats	 st;
	size_t			 i;

	(void)frag_expire(f->fc, UINT64_MAX, on_expire, f);
	frag_get_stats(f->fc, &st);
	assert_int_equal(st.held, 0);
	assert_int_equal(st.bytes, 0);
	assert_int_equal(st.datagrams, 0);
	for (i = 0; i < MAXIDS; i++)
		assert_int_not_equal(f->fate[i], 1);
	frag_free(f->fc);
	free(f);
}

/* The whole packet (proto over family, paylen bytes of payload) as it
   must come out of the cache, and its transport segment in l4. */
static size_t
whole(uint8_t *out, uint8_t *l4, size_t *l4len, int v6, uint8_t proto,
    uint32_t ident, size_t paylen)
{
	*l4len = pb_l4(l4, v6, proto, paylen);
	if (v6)
		return (pb_ip6pkt(out, proto, -1, 0, l4, *l4len));
	return (pb_ip4pkt(out, proto, ident, 0, l4, *l4len));
}

static uint8_t
proto_of(int v6, int k)
{
	static const uint8_t p4[] = { IPPROTO_UDP, IPPROTO_TCP, IPPROTO_ICMP };
	static const uint8_t p6[] = { IPPROTO_UDP, IPPROTO_TCP,
	    IPPROTO_ICMPV6 };

	return (v6 ? p6[k % 3] : p4[k % 3]);
}

/*
 * A datagram of nfrag fragments of fsize bytes (the last shorter), given
 * in the order ord[]; the last one given makes it whole, and the result
 * is the packet itself, checksum good.
 */
static void
in_order(int v6, uint8_t proto, size_t nfrag, size_t fsize,
    const size_t *ord)
{
	struct fx		*f = fx_new();
	struct frag_result	 res;
	struct pkt		 p;
	enum reason		 why;
	uint8_t			 exp[FRAG_MAX_DGRAM], l4[FRAG_MAX_DGRAM];
	uint8_t			 b[FRAG_MAX_DGRAM];
	size_t			 elen, l4len, i, k, off, n;

	elen = whole(exp, l4, &l4len, v6, proto, 0x1234,
	    (nfrag - 1) * fsize + fsize / 2 - (proto == 6 ? 20 : 8));
	for (i = 0; i < nfrag; i++) {
		k = ord[i];
		off = k * fsize;
		n = k + 1 < nfrag ? fsize : l4len - off;
		(void)add(f, b, pb_frag(b, v6, proto, 0x1234, l4, off, n,
		    k + 1 < nfrag), k, 0, 1000 + i, &res);
		if (i + 1 < nfrag)
			assert_int_equal(res.status, FRAG_HELD);
	}
	assert_int_equal(res.status, FRAG_WHOLE);
	assert_int_equal(res.n, nfrag - 1);
	for (i = 1; i < res.n; i++)	/* by offset */
		assert_true(res.ids[i - 1] < res.ids[i]);
	assert_int_equal(res.csum, 1);
	assert_int_equal(f->wlen, elen);
	assert_memory_equal(f->whole, exp, elen);
	assert_int_equal(pkt_parse(&p, f->whole, f->wlen, &why), 0);
	assert_int_equal(p.frag, PKT_FRAG_NONE);
	assert_int_equal(csum_verify(&p, CSUM_IP | CSUM_L4, &why), 0);
	fx_free(f);
}

static void
test_orders(void **state)
{
	size_t	 ord[FRAG_MAX_FRAGS], i, j, t, n;
	int	 v6, k;

	(void)state;
	srandom(12);
	for (v6 = 0; v6 <= 1; v6++)
		for (k = 0; k < 3; k++) {
			for (n = 2; n <= FRAG_MAX_FRAGS; n = n < 8 ? n + 1 :
			    n * 2) {
				for (i = 0; i < n; i++)	/* in order */
					ord[i] = i;
				in_order(v6, proto_of(v6, k), n, 64, ord);
				for (i = 0; i < n; i++)	/* last first */
					ord[i] = n - 1 - i;
				in_order(v6, proto_of(v6, k), n, 64, ord);
				for (i = n - 1; i > 0; i--) {	/* shuffled */
					j = (size_t)random() % (i + 1);
					t = ord[i];
					ord[i] = ord[j];
					ord[j] = t;
				}
				in_order(v6, proto_of(v6, k), n, 64, ord);
			}
			/* 1,480-byte fragments of a 64 KiB datagram */
			for (i = 0; i < 44; i++)
				ord[i] = i;
			in_order(v6, proto_of(v6, k), 44, 1480, ord);
		}
}

/* Not fragments: a whole packet, an IPv6 atomic fragment (RFC 6946), a
   header too broken to read. */
static void
test_pass(void **state)
{
	struct fx		*f = fx_new();
	struct frag_result	 res;
	uint8_t			 b[256], l4[256];
	size_t			 n, len;

	(void)state;
	n = pb_l4(l4, 0, IPPROTO_UDP, 20);
	len = pb_ip4pkt(b, IPPROTO_UDP, 7, 0x4000, l4, n);	/* DF */
	assert_int_equal(add(f, b, len, 1, 0, 0, &res), FRAG_PASS);
	assert_false(frag_maybe(b, len));	/* not even asked */
	n = pb_l4(l4, 1, IPPROTO_UDP, 20);
	len = pb_ip6pkt(b, IPPROTO_UDP, 0, 99, l4, n);	/* atomic */
	assert_int_equal(add(f, b, len, 2, 0, 0, &res), FRAG_PASS);
	len = pb_ip4pkt(b, IPPROTO_UDP, 7, 0x2000, l4, n);
	b[0] = 0x44;	/* header length 16 */
	assert_int_equal(add(f, b, len, 3, 0, 0, &res), FRAG_PASS);
	assert_int_equal(add(f, b, 12, 4, 0, 0, &res), FRAG_PASS);
	fx_free(f);
}

/* An exact repeat is dropped and the datagram goes on; any other
   overlap ends it, and its later fragments go at once. */
static void
test_dup_overlap(void **state)
{
	struct fx		*f;
	struct frag_result	 res;
	struct frag_stats	 st;
	uint8_t			 b[512], l4[512];
	size_t			 n;
	int			 v6;

	(void)state;
	for (v6 = 0; v6 <= 1; v6++) {
		f = fx_new();
		n = pb_l4(l4, v6, IPPROTO_UDP, 200);	/* 208 bytes */
		assert_int_equal(add(f, b, pb_frag(b, v6, 17, 5, l4, 0, 96, 1),
		    1, 0, 0, &res), FRAG_HELD);
		assert_int_equal(add(f, b, pb_frag(b, v6, 17, 5, l4, 0, 96, 1),
		    2, 0, 0, &res), FRAG_DROP);
		assert_int_equal(res.reason, REASON_FRAG_DUPLICATE);
		assert_int_equal(res.n, 0);
		assert_int_equal(add(f, b, pb_frag(b, v6, 17, 5, l4, 96,
		    n - 96, 0), 3, 0, 0, &res), FRAG_WHOLE);
		assert_int_equal(res.n, 1);
		assert_int_equal(res.ids[0], 1);

		/* overlaps: the same start longer, one inside, one across */
		assert_int_equal(add(f, b, pb_frag(b, v6, 17, 6, l4, 0, 96, 1),
		    10, 0, 0, &res), FRAG_HELD);
		assert_int_equal(add(f, b, pb_frag(b, v6, 17, 6, l4, 160,
		    n - 160, 0), 11, 0, 0, &res), FRAG_HELD);
		assert_int_equal(add(f, b, pb_frag(b, v6, 17, 6, l4, 88, 80, 1),
		    12, 0, 0, &res), FRAG_DROP);
		assert_int_equal(res.reason, REASON_FRAG_OVERLAP);
		assert_int_equal(res.n, 2);
		assert_int_equal(res.ids[0], 10);
		assert_int_equal(res.ids[1], 11);
		/* the missing piece now: too late, the datagram is over */
		assert_int_equal(add(f, b, pb_frag(b, v6, 17, 6, l4, 96, 64, 1),
		    13, 0, 0, &res), FRAG_DROP);
		assert_int_equal(res.reason, REASON_FRAG_OVERLAP);
		assert_int_equal(res.n, 0);

		assert_int_equal(add(f, b, pb_frag(b, v6, 17, 7, l4, 8, 16, 1),
		    20, 0, 0, &res), FRAG_HELD);
		assert_int_equal(add(f, b, pb_frag(b, v6, 17, 7, l4, 16, 8, 1),
		    21, 0, 0, &res), FRAG_DROP);	/* inside */
		assert_int_equal(res.reason, REASON_FRAG_OVERLAP);
		frag_get_stats(f->fc, &st);
		assert_int_equal(st.dropped[FRAG_DROP_DUPLICATE], 1);
		assert_int_equal(st.dropped[FRAG_DROP_OVERLAP], 3 + 1 + 2);
		assert_int_equal(st.completed, 1);
		assert_int_equal(st.held, 0);
		fx_free(f);
	}
}

/* RFC 1858 / 3128: a first fragment without the whole TCP header, and
   a TCP fragment at offset 8 */
static void
test_tiny(void **state)
{
	struct fx		*f;
	struct frag_result	 res;
	uint8_t			 b[512], l4[512];
	size_t			 n;
	int			 v6;

	(void)state;
	for (v6 = 0; v6 <= 1; v6++) {
		f = fx_new();
		n = pb_l4(l4, v6, IPPROTO_TCP, 100);
		assert_int_equal(add(f, b, pb_frag(b, v6, 6, 1, l4, 16,
		    n - 16, 0), 1, 0, 0, &res), FRAG_HELD);
		assert_int_equal(add(f, b, pb_frag(b, v6, 6, 1, l4, 0, 16, 1),
		    2, 0, 0, &res), FRAG_DROP);
		assert_int_equal(res.reason, REASON_FRAGMENT);
		assert_int_equal(res.n, 1);
		assert_int_equal(res.ids[0], 1);

		/* the first whole (24 bytes), then offset 8 over its flags */
		assert_int_equal(add(f, b, pb_frag(b, v6, 6, 2, l4, 0, 24, 1),
		    3, 0, 0, &res), FRAG_HELD);
		assert_int_equal(add(f, b, pb_frag(b, v6, 6, 2, l4, 8, 16, 1),
		    4, 0, 0, &res), FRAG_DROP);
		assert_int_equal(res.reason, REASON_FRAGMENT);
		assert_int_equal(res.n, 1);
		/* UDP's 8 bytes fit in a first fragment of 8 */
		n = pb_l4(l4, v6, IPPROTO_UDP, 8);
		assert_int_equal(add(f, b, pb_frag(b, v6, 17, 3, l4, 0, 8, 1),
		    5, 0, 0, &res), FRAG_HELD);
		assert_int_equal(add(f, b, pb_frag(b, v6, 17, 3, l4, 8, 8, 0),
		    6, 0, 0, &res), FRAG_WHOLE);
		fx_free(f);
	}
}

/* Lengths: not a multiple of 8 before the last, past 65,535, two
   different ends, more than FRAG_MAX_FRAGS. */
static void
test_lengths(void **state)
{
	struct fx		*f;
	struct frag_result	 res;
	static uint8_t		 b[FRAG_MAX_DGRAM + 128];
	static uint8_t		 l4[FRAG_MAX_DGRAM + 128];
	size_t			 i;
	int			 v6;

	(void)state;
	for (v6 = 0; v6 <= 1; v6++) {
		f = fx_new();
		(void)pb_l4(l4, v6, IPPROTO_UDP, 1000);
		assert_int_equal(add(f, b, pb_frag(b, v6, 17, 1, l4, 0, 100, 1),
		    1, 0, 0, &res), FRAG_DROP);
		assert_int_equal(res.reason, REASON_FRAGMENT);
		/* ends at 65,536 bytes of payload and more */
		assert_int_equal(add(f, b, pb_frag(b, v6, 17, 2, l4, 65520,
		    32, 0), 2, 0, 0, &res), FRAG_DROP);
		assert_int_equal(res.reason, REASON_FRAGMENT);
		/* a last at 200, then one at 400 */
		assert_int_equal(add(f, b, pb_frag(b, v6, 17, 3, l4, 192, 8, 0),
		    3, 0, 0, &res), FRAG_HELD);
		assert_int_equal(add(f, b, pb_frag(b, v6, 17, 3, l4, 392, 8, 0),
		    4, 0, 0, &res), FRAG_DROP);
		assert_int_equal(res.reason, REASON_FRAGMENT);
		assert_int_equal(res.n, 1);
		/* a last that ends before a held fragment */
		assert_int_equal(add(f, b, pb_frag(b, v6, 17, 4, l4, 392, 8, 1),
		    5, 0, 0, &res), FRAG_HELD);
		assert_int_equal(add(f, b, pb_frag(b, v6, 17, 4, l4, 192, 8, 0),
		    6, 0, 0, &res), FRAG_DROP);
		assert_int_equal(res.reason, REASON_FRAGMENT);

		/* 65 fragments: the 65th ends it */
		for (i = 0; i < FRAG_MAX_FRAGS; i++)
			assert_int_equal(add(f, b, pb_frag(b, v6, 17, 9, l4,
			    i * 8, 8, 1), 100 + i, 0, 0, &res), FRAG_HELD);
		assert_int_equal(add(f, b, pb_frag(b, v6, 17, 9, l4, 512, 8, 0),
		    200, 0, 0, &res), FRAG_DROP);
		assert_int_equal(res.reason, REASON_FRAG_TOO_MANY);
		assert_int_equal(res.n, FRAG_MAX_FRAGS);
		fx_free(f);
	}
}

/* An incomplete datagram ends at its timeout, once, with its ids. */
static void
test_timeout(void **state)
{
	struct fx		*f;
	struct frag_result	 res;
	struct frag_stats	 st;
	uint8_t			 b[512], l4[512];
	int			 v6;

	(void)state;
	for (v6 = 0; v6 <= 1; v6++) {
		f = fx_new();
		(void)pb_l4(l4, v6, IPPROTO_UDP, 200);
		assert_int_equal(add(f, b, pb_frag(b, v6, 17, 1, l4, 0, 64, 1),
		    1, 0, 5000, &res), FRAG_HELD);
		assert_int_equal(add(f, b, pb_frag(b, v6, 17, 1, l4, 128, 64,
		    1), 2, 0, 9000, &res), FRAG_HELD);
		assert_int_equal(add(f, b, pb_frag(b, v6, 17, 2, l4, 0, 64, 1),
		    3, 0, 6000, &res), FRAG_HELD);
		/* timed from the first fragment */
		assert_int_equal(frag_expire(f->fc, 5000 + 29999, on_expire, f),
		    0);
		assert_int_equal(frag_expire(f->fc, 5000 + 30000, on_expire, f),
		    1);
		assert_int_equal(f->expired, 1);
		assert_int_equal(f->fate[1], 3);
		assert_int_equal(f->fate[2], 3);
		assert_int_equal(f->fate[3], 1);
		frag_get_stats(f->fc, &st);
		assert_int_equal(st.dropped[FRAG_DROP_TIMEOUT], 2);
		assert_int_equal(st.held, 1);
		/* an ended datagram's slot goes at its timeout too */
		assert_int_equal(add(f, b, pb_frag(b, v6, 17, 2, l4, 0, 64, 1),
		    4, 0, 7000, &res), FRAG_DROP);
		assert_int_equal(res.reason, REASON_FRAG_DUPLICATE);
		assert_int_equal(add(f, b, pb_frag(b, v6, 17, 2, l4, 8, 64, 1),
		    5, 0, 7000, &res), FRAG_DROP);
		assert_int_equal(res.reason, REASON_FRAG_OVERLAP);
		assert_int_equal(frag_expire(f->fc, 36000, on_expire, f), 1);
		assert_int_equal(f->expired, 1);	/* held nothing */
		frag_get_stats(f->fc, &st);
		assert_int_equal(st.datagrams, 0);
		assert_int_equal(add(f, b, pb_frag(b, v6, 17, 2, l4, 0, 64, 1),
		    6, 0, 37000, &res), FRAG_HELD);	/* afresh */
		fx_free(f);
	}
}

/* The caps, and one source's share of them. */
static void
test_full(void **state)
{
	struct fx		*f;
	struct frag_result	 res;
	struct frag_stats	 st;
	uint8_t			 b[2048], l4[2048];
	uint32_t		 i;
	int			 v6;

	(void)state;
	for (v6 = 0; v6 <= 1; v6++) {
		f = fx_new();
		f->cfg.max_datagrams = 8;
		f->cfg.max_held = 16;
		f->cfg.max_bytes = 4000;
		frag_free(f->fc);
		assert_non_null(f->fc = frag_new(&f->cfg));
		(void)pb_l4(l4, v6, IPPROTO_UDP, 1200);
		/* one source: 2 datagrams (a quarter of 8) */
		assert_int_equal(add(f, b, pb_frag(b, v6, 17, 1, l4, 0, 64, 1),
		    1, 0, 0, &res), FRAG_HELD);
		assert_int_equal(add(f, b, pb_frag(b, v6, 17, 2, l4, 0, 64, 1),
		    2, 0, 0, &res), FRAG_HELD);
		assert_int_equal(add(f, b, pb_frag(b, v6, 17, 3, l4, 0, 64, 1),
		    3, 0, 0, &res), FRAG_DROP);
		assert_int_equal(res.reason, REASON_FRAG_FULL);
		assert_int_equal(res.n, 0);
		/* 4 fragments, then the 5th ends its datagram */
		for (i = 1; i < 3; i++)
			assert_int_equal(add(f, b, pb_frag(b, v6, 17, 1, l4,
			    i * 64, 64, 1), 10 + i, 0, 0, &res), FRAG_HELD);
		assert_int_equal(add(f, b, pb_frag(b, v6, 17, 1, l4, 192, 64,
		    1), 20, 0, 0, &res), FRAG_DROP);
		assert_int_equal(res.reason, REASON_FRAG_FULL);
		assert_int_equal(res.n, 3);
		/* bytes: a quarter of 4,000 */
		assert_int_equal(add(f, b, pb_frag(b, v6, 17, 2, l4, 64, 800,
		    1), 21, 0, 0, &res), FRAG_HELD);
		assert_int_equal(add(f, b, pb_frag(b, v6, 17, 2, l4, 864, 200,
		    1), 22, 0, 0, &res), FRAG_DROP);
		assert_int_equal(res.reason, REASON_FRAG_FULL);
		assert_int_equal(res.n, 2);
		frag_get_stats(f->fc, &st);
		assert_int_equal(st.held, 0);
		assert_int_equal(st.datagrams, 2);	/* ended, known */
		assert_int_equal(st.dropped[FRAG_DROP_FULL], 1 + 4 + 3);
		fx_free(f);
	}
}

/*
 * A flood of random fragments from random sources: held fragments,
 * bytes and datagrams never pass their caps, every id comes back
 * exactly once, and nothing is held once the timeout has passed.
 */
static void
test_flood(void **state)
{
	struct fx		*f = fx_new();
	struct frag_result	 res;
	struct frag_stats	 st;
	uint8_t			 b[2048], l4[2048];
	uint64_t		 now = 0, id;
	size_t			 n, off;
	int			 v6;

	(void)state;
	f->cfg.max_datagrams = 64;
	f->cfg.max_held = 128;
	f->cfg.max_bytes = 64 * 1024;
	f->cfg.timeout_ms = 1000;
	frag_free(f->fc);
	assert_non_null(f->fc = frag_new(&f->cfg));
	srandom(7);
	(void)pb_l4(l4, 0, IPPROTO_UDP, 1600);
	for (id = 0; id < MAXIDS; id++) {
		v6 = random() & 1;
		off = (size_t)(random() % 32) * 8;
		n = 8 + (size_t)(random() % 160) * 8;
		(void)pb_frag(b, v6, 17, (uint32_t)(random() % 40), l4, off, n,
		    random() % 4 != 0);
		b[v6 ? 8 + 15 : 15] = (uint8_t)(random() % 12);	/* source */
		if (!v6) {
			b[10] = b[11] = 0;
			put16(b + 10, pb_csum(0, b, 20));
		}
		now += (uint64_t)(random() % 8);
		(void)frag_expire(f->fc, now, on_expire, f);
		(void)add(f, b, (v6 ? 48 : 20) + n, id, 0, now, &res);
		frag_get_stats(f->fc, &st);
		assert_true(st.held <= f->cfg.max_held);
		assert_true(st.bytes <= f->cfg.max_bytes);
		assert_true(st.datagrams <= f->cfg.max_datagrams);
	}
	assert_true(st.dropped[FRAG_DROP_FULL] > 0);
	assert_true(st.dropped[FRAG_DROP_OVERLAP] > 0);
	assert_true(st.dropped[FRAG_DROP_TIMEOUT] > 0);
	(void)frag_expire(f->fc, now + f->cfg.timeout_ms, on_expire, f);
	frag_get_stats(f->fc, &st);
	assert_int_equal(st.held, 0);
	assert_int_equal(st.datagrams, 0);
	fx_free(f);
}

/* A checksum can be checked only over real bytes: a cut copy, or one
   the kernel has not filled in, says so. */
static void
test_csum_flag(void **state)
{
	struct fx		*f = fx_new();
	struct frag_result	 res;
	uint8_t			 b[2048], l4[2048];
	size_t			 len;
	int			 v6;

	(void)state;
	for (v6 = 0; v6 <= 1; v6++) {
		(void)pb_l4(l4, v6, IPPROTO_UDP, 1000);
		len = pb_frag(b, v6, 17, 1, l4, 0, 512, 1);
		assert_int_equal(add(f, b, len - 100, 10 * v6 + 1, 0, 0, &res),
		    FRAG_HELD);
		assert_int_equal(add(f, b, pb_frag(b, v6, 17, 1, l4, 512, 496,
		    0), 10 * v6 + 2, 0, 0, &res), FRAG_WHOLE);
		assert_int_equal(res.csum, 0);
		assert_int_equal(add(f, b, pb_frag(b, v6, 17, 2, l4, 0, 512,
		    1), 10 * v6 + 3, FRAG_F_NOCSUM, 0, &res), FRAG_HELD);
		assert_int_equal(add(f, b, pb_frag(b, v6, 17, 2, l4, 512, 496,
		    0), 10 * v6 + 4, 0, 0, &res), FRAG_WHOLE);
		assert_int_equal(res.csum, 0);
	}
	fx_free(f);
}

/*
 * FRAG_F_CSUM_IP: an IPv4 fragment whose header checksum is wrong is a
 * corrupt copy, dropped alone (bad-ip-checksum); the datagram it was
 * for keeps what it holds, and its good copy makes it whole.
 */
static void
test_ip_csum(void **state)
{
	struct fx		*f = fx_new();
	struct frag_result	 res;
	struct frag_stats	 st;
	uint8_t			 b[2048], l4[2048];
	size_t			 len;

	(void)state;
	(void)pb_l4(l4, 0, IPPROTO_UDP, 1000);
	assert_int_equal(add(f, b, pb_frag(b, 0, 17, 5, l4, 0, 512, 1), 1,
	    FRAG_F_CSUM_IP, 0, &res), FRAG_HELD);
	len = pb_frag(b, 0, 17, 5, l4, 512, 496, 0);
	b[8]--;				/* the TTL, the checksum as it was */
	assert_int_equal(add(f, b, len, 2, FRAG_F_CSUM_IP, 0, &res),
	    FRAG_DROP);
	assert_int_equal(res.reason, REASON_IP_CHECKSUM);
	assert_int_equal(res.n, 0);
	frag_get_stats(f->fc, &st);
	assert_int_equal(st.dropped[FRAG_DROP_INVALID], 1);
	assert_int_equal(st.held, 1);
	len = pb_frag(b, 0, 17, 5, l4, 512, 496, 0);
	assert_int_equal(add(f, b, len, 3, FRAG_F_CSUM_IP, 0, &res),
	    FRAG_WHOLE);
	assert_int_equal(res.n, 1);
	fx_free(f);
}

/* One datagram's first fragment, of ident id from source src. */
static enum frag_status
add_first(struct fx *f, uint32_t id, uint8_t src)
{
	struct frag_result	 res;
	uint8_t			 b[2048], l4[2048];
	size_t			 len;

	(void)pb_l4(l4, 0, IPPROTO_UDP, 1000);
	len = pb_frag(b, 0, 17, id, l4, 0, 512, 1);
	b[15] = src;
	if (add(f, b, len, id, 0, 0, &res) == FRAG_DROP)
		assert_int_equal(res.reason, REASON_FRAG_FULL);
	return (res.status);
}

/*
 * frag_set_config(), a reload: a lower max_datagrams holds from the
 * next datagram on; a higher one is capped at the slots frag_new()
 * made, and so is a source's share of it (a quarter).
 */
static void
test_set_config(void **state)
{
	struct fx		*f = fx_new();
	struct frag_config	 c;
	uint32_t		 i;

	(void)state;
	f->cfg.max_datagrams = 8;
	frag_free(f->fc);
	assert_non_null(f->fc = frag_new(&f->cfg));
	c = f->cfg;
	c.max_datagrams = 4;
	frag_set_config(f->fc, &c);
	for (i = 1; i <= 4; i++)
		assert_int_equal(add_first(f, i, (uint8_t)i), FRAG_HELD);
	assert_int_equal(add_first(f, 5, 5), FRAG_DROP);

	c.max_datagrams = 64;		/* 8: one source has 2, not 16 */
	frag_set_config(f->fc, &c);
	assert_int_equal(add_first(f, 10, 10), FRAG_HELD);
	assert_int_equal(add_first(f, 11, 10), FRAG_HELD);
	assert_int_equal(add_first(f, 12, 10), FRAG_DROP);
	assert_int_equal(add_first(f, 13, 13), FRAG_HELD);
	assert_int_equal(add_first(f, 14, 14), FRAG_HELD);
	assert_int_equal(add_first(f, 15, 15), FRAG_DROP);	/* 8 held */
	fx_free(f);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_orders),
		cmocka_unit_test(test_pass),
		cmocka_unit_test(test_dup_overlap),
		cmocka_unit_test(test_tiny),
		cmocka_unit_test(test_lengths),
		cmocka_unit_test(test_timeout),
		cmocka_unit_test(test_full),
		cmocka_unit_test(test_flood),
		cmocka_unit_test(test_csum_flag),
		cmocka_unit_test(test_ip_csum),
		cmocka_unit_test(test_set_config),
	};

	return (cmocka_run_group_tests(tests, NULL, NULL));
}
