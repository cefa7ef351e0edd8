/*
 * test_limit.c - cmocka tests for limit.c (per-source rate and
 * conn_limit) and the connection table's event hook it relies on
 *
 * Copyright (C) 2026 The nfqspid authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "limit.h"
#include "ct.h"

static union pkt_addr
a4(const char *s)
{
	union pkt_addr	 a;

	memset(&a, 0, sizeof(a));
	assert_int_equal(inet_pton(AF_INET, s, a.a8), 1);
	return (a);
}

static union pkt_addr
a6(const char *s)
{
	union pkt_addr	 a;

	assert_int_equal(inet_pton(AF_INET6, s, a.a8), 1);
	return (a);
}

static void
test_new_bad_args(void **state __attribute__((unused)))
{
	assert_null(limit_new(0));
	limit_free(NULL);
}

static void
test_rate_burst_and_refill(void **state __attribute__((unused)))
{
	struct limit_table	*t = limit_new(16);
	union pkt_addr		 a = a4("192.0.2.1");
	uint64_t		 now = 5000;
	struct limit_stats	 st;
	int			 i;

	assert_non_null(t);
	/* burst = rate: 4 at once, then no */
	for (i = 0; i < 4; i++)
		assert_int_equal(limit_rate_allow(t, 0, AF_INET, &a, 4, now),
		    1);
	assert_int_equal(limit_rate_allow(t, 0, AF_INET, &a, 4, now), 0);
	assert_int_equal(limit_rate_allow(t, 0, AF_INET, &a, 4, now + 100),
	    0);
	/* one token every 250 ms */
	assert_int_equal(limit_rate_allow(t, 0, AF_INET, &a, 4, now + 250),
	    1);
	assert_int_equal(limit_rate_allow(t, 0, AF_INET, &a, 4, now + 260),
	    0);
	/* the refused attempts did not cost tokens */
	assert_int_equal(limit_rate_allow(t, 0, AF_INET, &a, 4, now + 500),
	    1);
	/* a long pause refills to the burst, not beyond */
	now += 100000;
	for (i = 0; i < 4; i++)
		assert_int_equal(limit_rate_allow(t, 0, AF_INET, &a, 4, now),
		    1);
	assert_int_equal(limit_rate_allow(t, 0, AF_INET, &a, 4, now), 0);
	/* a clock that steps back refills nothing */
	assert_int_equal(limit_rate_allow(t, 0, AF_INET, &a, 4, now - 5000),
	    0);
	limit_get_stats(t, &st);
	assert_int_equal(st.rate_drops, 5);
	/* rate 0: no limit, no source kept */
	assert_int_equal(limit_rate_allow(t, 0, AF_INET, &a, 0, now), 1);
	limit_free(t);
}

static void
test_rate_per_source_and_rule(void **state __attribute__((unused)))
{
	struct limit_table	*t = limit_new(16);
	union pkt_addr		 a = a4("192.0.2.1"), b = a4("192.0.2.2");
	union pkt_addr		 c = a6("2001:db8::1"), d = a6("2001:db8::2");
	union pkt_addr		 dirty = a;

	assert_non_null(t);
	assert_int_equal(limit_rate_allow(t, 0, AF_INET, &a, 1, 1000), 1);
	assert_int_equal(limit_rate_allow(t, 0, AF_INET, &a, 1, 1000), 0);
	/* another address, another rule, another family: own buckets */
	assert_int_equal(limit_rate_allow(t, 0, AF_INET, &b, 1, 1000), 1);
	assert_int_equal(limit_rate_allow(t, 1, AF_INET, &a, 1, 1000), 1);
	assert_int_equal(limit_rate_allow(t, 0, AF_INET6, &c, 1, 1000), 1);
	assert_int_equal(limit_rate_allow(t, 0, AF_INET6, &d, 1, 1000), 1);
	assert_int_equal(limit_rate_allow(t, 0, AF_INET6, &c, 1, 1000), 0);
	/* an IPv4 address is its first 4 bytes, whatever follows */
	dirty.a8[9] = 0x55;
	assert_int_equal(limit_rate_allow(t, 0, AF_INET, &dirty, 1, 1000), 0);
	assert_int_equal(limit_count(t), 5);
	limit_free(t);
}

static void
test_conn_limit(void **state __attribute__((unused)))
{
	struct limit_table	*t = limit_new(16);
	union pkt_addr		 a = a4("198.51.100.7"), b = a4("198.51.100.8");
	struct limit_stats	 st;

	assert_non_null(t);
	assert_int_equal(limit_conn_try(t, 2, AF_INET, &a, 2, 10), 1);
	assert_int_equal(limit_conn_try(t, 2, AF_INET, &a, 2, 10), 1);
	assert_int_equal(limit_conn_try(t, 2, AF_INET, &a, 2, 10), 0);
	assert_int_equal(limit_conn_count(t, 2, AF_INET, &a), 2);
	/* other sources and rules are not affected */
	assert_int_equal(limit_conn_try(t, 2, AF_INET, &b, 2, 10), 1);
	assert_int_equal(limit_conn_try(t, 3, AF_INET, &a, 2, 10), 1);
	limit_conn_release(t, 2, AF_INET, &a);
	assert_int_equal(limit_conn_count(t, 2, AF_INET, &a), 1);
	assert_int_equal(limit_conn_try(t, 2, AF_INET, &a, 2, 10), 1);
	assert_int_equal(limit_conn_try(t, 2, AF_INET, &a, 2, 10), 0);
	/* limit 0 counts without a limit */
	assert_int_equal(limit_conn_try(t, 2, AF_INET, &a, 0, 10), 1);
	assert_int_equal(limit_conn_count(t, 2, AF_INET, &a), 3);
	/* releasing what was never counted changes nothing */
	limit_conn_release(t, 9, AF_INET, &a);
	limit_conn_release(t, 3, AF_INET, &a);
	limit_conn_release(t, 3, AF_INET, &a);
	assert_int_equal(limit_conn_count(t, 3, AF_INET, &a), 0);
	assert_int_equal(limit_conn_count(t, 2, AF_INET, &a), 3);
	limit_get_stats(t, &st);
	assert_int_equal(st.conn_drops, 2);
	limit_flush(t);
	assert_int_equal(limit_count(t), 0);
	assert_int_equal(limit_conn_count(t, 2, AF_INET, &a), 0);
	limit_free(t);
}

static void
test_expire_idle_sources(void **state __attribute__((unused)))
{
	struct limit_table	*t = limit_new(8);
	union pkt_addr		 a = a4("10.0.0.1"), b = a4("10.0.0.2");
	struct limit_stats	 st;
	int			 i;

	assert_non_null(t);
	assert_int_equal(limit_rate_allow(t, 0, AF_INET, &a, 10, 1000), 1);
	assert_int_equal(limit_conn_try(t, 0, AF_INET, &b, 5, 1000), 1);
	assert_int_equal(limit_count(t), 2);
	limit_expire(t, 1500);
	assert_int_equal(limit_count(t), 2);	/* not idle yet */
	for (i = 0; i < 4; i++)
		limit_expire(t, 2100);
	/* a's bucket is full again: forgotten; b holds a connection */
	assert_int_equal(limit_count(t), 1);
	assert_int_equal(limit_conn_count(t, 0, AF_INET, &b), 1);
	limit_conn_release(t, 0, AF_INET, &b);
	for (i = 0; i < 4; i++)
		limit_expire(t, 2500);
	assert_int_equal(limit_count(t), 1);	/* idle only from release */
	for (i = 0; i < 4; i++)
		limit_expire(t, 3200);
	assert_int_equal(limit_count(t), 0);
	limit_get_stats(t, &st);
	assert_int_equal(st.expired, 2);
	limit_free(t);
}

static void
test_bounded(void **state __attribute__((unused)))
{
	struct limit_table	*t = limit_new(4);
	union pkt_addr		 a;
	struct limit_stats	 st;
	char			 s[32];
	int			 i;

	assert_non_null(t);
	/* four sources with connections fill it */
	for (i = 0; i < 4; i++) {
		snprintf(s, sizeof(s), "10.0.1.%d", i);
		a = a4(s);
		assert_int_equal(limit_conn_try(t, 0, AF_INET, &a, 1, 100), 1);
	}
	a = a4("10.0.2.1");
	/* never forgotten: the fifth is refused, fail closed */
	assert_int_equal(limit_conn_try(t, 0, AF_INET, &a, 1, 100), 0);
	assert_int_equal(limit_rate_allow(t, 0, AF_INET, &a, 5, 100), 0);
	limit_get_stats(t, &st);
	assert_int_equal(st.full, 2);
	assert_int_equal(limit_count(t), 4);

	/* sources without connections make room, least recently seen
	   first */
	limit_flush(t);
	for (i = 0; i < 4; i++) {
		snprintf(s, sizeof(s), "10.0.3.%d", i);
		a = a4(s);
		assert_int_equal(limit_rate_allow(t, 0, AF_INET, &a, 5,
		    100 + (uint64_t)i), 1);
	}
	a = a4("10.0.4.1");
	assert_int_equal(limit_rate_allow(t, 0, AF_INET, &a, 5, 200), 1);
	assert_int_equal(limit_count(t), 4);
	limit_get_stats(t, &st);
	assert_int_equal(st.evicted, 1);
	/* 10.0.3.0 was the oldest: it starts with a full bucket again,
	   10.0.3.3 kept its bucket (4 of 5 tokens left) */
	a = a4("10.0.3.3");
	for (i = 0; i < 4; i++)
		assert_int_equal(limit_rate_allow(t, 0, AF_INET, &a, 5, 200),
		    1);
	assert_int_equal(limit_rate_allow(t, 0, AF_INET, &a, 5, 200), 0);
	limit_free(t);
}

/*
 * Random operations against a plain array: probing and backward-shift
 * deletion must never lose or duplicate a source.
 */
static void
test_random_against_model(void **state __attribute__((unused)))
{
	struct limit_table	*t = limit_new(64);
	struct { union pkt_addr a; uint32_t n; } model[200];
	union pkt_addr		 a;
	uint64_t		 now = 1000;
	uint32_t		 x = 12345;
	int			 i, k, op, nmodel = 200, live;

	assert_non_null(t);
	for (i = 0; i < nmodel; i++) {
		memset(&model[i], 0, sizeof(model[i]));
		model[i].a.a8[0] = 172;
		model[i].a.a8[1] = 16;
		model[i].a.a8[2] = (uint8_t)(i >> 8);
		model[i].a.a8[3] = (uint8_t)i;
	}
	for (k = 0; k < 20000; k++) {
		x = x * 1103515245u + 12345u;
		i = (int)((x >> 8) % 60);	/* <= 60 live sources */
		op = (int)((x >> 20) % 3);
		a = model[i].a;
		if (op == 0 || op == 1) {
			assert_int_equal(limit_conn_try(t, 0, AF_INET, &a, 0,
			    now), 1);
			model[i].n++;
		} else if (model[i].n > 0) {
			limit_conn_release(t, 0, AF_INET, &a);
			model[i].n--;
		}
		if (k % 50 == 0) {
			now += 700;
			limit_expire(t, now);
		}
		if (k % 997 == 0) {
			/* every source the model has is there, exact */
			live = 0;
			for (i = 0; i < nmodel; i++) {
				assert_int_equal(limit_conn_count(t, 0,
				    AF_INET, &model[i].a), model[i].n);
				live += model[i].n > 0;
			}
			assert_true(limit_count(t) >= (size_t)live);
			assert_true(limit_count(t) <= 64);
		}
	}
	/* release everything: all idle, all expire */
	for (i = 0; i < nmodel; i++)
		while (model[i].n > 0) {
			limit_conn_release(t, 0, AF_INET, &model[i].a);
			model[i].n--;
		}
	now += 5000;
	for (k = 0; k < 4; k++)
		limit_expire(t, now);
	assert_int_equal(limit_count(t), 0);
	limit_free(t);
}

/* ---- the table's events ------------------------------------------------ */

struct evlog {
	int	 n[4];
	int	 last;
	uint16_t lastrule;
	uint16_t destroyed;	/* rule of the last DESTROY */
	struct limit_table *lt;
};

static void
record(int event, const struct ct_entry *e, void *arg)
{
	struct evlog	*l = arg;

	assert_true(event >= CT_EVENT_NEW && event <= CT_EVENT_DESTROY);
	l->n[event]++;
	l->last = event;
	l->lastrule = ct_entry_rule(e);
	if (event == CT_EVENT_DESTROY)
		l->destroyed = ct_entry_rule(e);
	if (l->lt != NULL)
		limit_ct_event(event, e, l->lt);
}

static void
udp(struct pkt *p, const char *src, const char *dst, uint16_t sport,
    uint16_t dport)
{
	memset(p, 0, sizeof(*p));
	p->family = AF_INET;
	p->proto = IPPROTO_UDP;
	p->src = a4(src);
	p->dst = a4(dst);
	p->sport = sport;
	p->dport = dport;
	p->paylen = 4;
}

static void
test_ct_events(void **state __attribute__((unused)))
{
	struct ct_config	 cc;
	struct ct_table		*ct;
	struct ct_result	 res;
	struct evlog		 l;
	struct pkt		 p;

	memset(&l, 0, sizeof(l));
	ct_config_defaults(&cc);
	cc.max = 2;
	cc.source_share = 0;
	assert_non_null(ct = ct_new(&cc));
	ct_set_event_cb(ct, record, &l);

	udp(&p, "10.0.0.1", "10.0.0.2", 1000, 53);
	ct_track(ct, &p, 1000, &res);
	assert_int_equal(res.state, CT_NEW);
	assert_int_equal(ct_confirm(ct, &p, 1000, 0x10, 7, &res), 0);
	assert_int_equal(l.n[CT_EVENT_NEW], 1);
	assert_int_equal(l.lastrule, 7);
	/* the same direction again: no change, no event */
	ct_track(ct, &p, 1001, &res);
	assert_int_equal(l.n[CT_EVENT_UPDATE], 0);
	/* the reply: SEEN_REPLY */
	udp(&p, "10.0.0.2", "10.0.0.1", 53, 1000);
	ct_track(ct, &p, 1002, &res);
	assert_int_equal(res.state, CT_ESTABLISHED);
	assert_int_equal(l.n[CT_EVENT_UPDATE], 1);
	ct_track(ct, &p, 1003, &res);
	assert_int_equal(l.n[CT_EVENT_UPDATE], 1);
	/* a packet more than 2 s after the first, the reply seen: ASSURED
	   (a stream, as the kernel) */
	ct_track(ct, &p, 3001, &res);
	assert_int_equal(l.n[CT_EVENT_UPDATE], 2);
	ct_track(ct, &p, 3002, &res);
	assert_int_equal(l.n[CT_EVENT_UPDATE], 2);

	/* expiry */
	udp(&p, "10.0.0.1", "10.0.0.3", 1001, 53);
	ct_track(ct, &p, 4000, &res);
	assert_int_equal(ct_confirm(ct, &p, 4000, 0, 8, &res), 0);
	ct_expire(ct, 4000 + (uint64_t)cc.timeout[CT_TO_UDP] * 1000);
	assert_int_equal(l.n[CT_EVENT_DESTROY], 1);
	assert_int_equal(l.lastrule, 8);
	assert_int_equal(ct_count(ct), 1);

	/* eviction (max 2): the unreplied one goes */
	udp(&p, "10.0.0.1", "10.0.0.4", 1002, 53);
	ct_track(ct, &p, 40000, &res);
	assert_int_equal(ct_confirm(ct, &p, 40000, 0, 9, &res), 0);
	udp(&p, "10.0.0.1", "10.0.0.5", 1003, 53);
	ct_track(ct, &p, 40001, &res);
	assert_int_equal(ct_confirm(ct, &p, 40001, 0, 10, &res), 0);
	assert_int_equal(l.n[CT_EVENT_DESTROY], 2);
	assert_int_equal(l.destroyed, 9);
	assert_int_equal(l.lastrule, 10);
	assert_int_equal(l.n[CT_EVENT_NEW], 4);

	/* ct_remove and ct_flush */
	ct_remove(ct, res.entry);
	assert_int_equal(l.n[CT_EVENT_DESTROY], 3);
	assert_int_equal(ct_count(ct), 1);
	ct_flush(ct);
	assert_int_equal(l.n[CT_EVENT_DESTROY], 4);
	assert_int_equal(ct_count(ct), 0);
	/* no callback: nothing called */
	ct_set_event_cb(ct, NULL, NULL);
	udp(&p, "10.0.0.1", "10.0.0.6", 1004, 53);
	ct_track(ct, &p, 50000, &res);
	assert_int_equal(ct_confirm(ct, &p, 50000, 0, 1, &res), 0);
	ct_flush(ct);
	assert_int_equal(l.n[CT_EVENT_NEW], 4);
	assert_int_equal(l.n[CT_EVENT_DESTROY], 4);
	ct_free(ct);
}

static void
test_ct_destroy_releases_conn(void **state __attribute__((unused)))
{
	struct ct_config	 cc;
	struct ct_table		*ct;
	struct ct_result	 res;
	struct evlog		 l;
	struct pkt		 p;
	union pkt_addr		 src = a4("10.0.0.1");

	memset(&l, 0, sizeof(l));
	assert_non_null(l.lt = limit_new(16));
	ct_config_defaults(&cc);
	assert_non_null(ct = ct_new(&cc));
	ct_set_event_cb(ct, record, &l);

	assert_int_equal(limit_conn_try(l.lt, 4, AF_INET, &src, 2, 100), 1);
	udp(&p, "10.0.0.1", "10.0.0.2", 1000, 53);
	ct_track(ct, &p, 100, &res);
	assert_int_equal(ct_confirm(ct, &p, 100, 0, 4, &res), 0);
	assert_int_equal(limit_conn_try(l.lt, 4, AF_INET, &src, 2, 100), 1);
	udp(&p, "10.0.0.1", "10.0.0.2", 1001, 53);
	ct_track(ct, &p, 100, &res);
	assert_int_equal(ct_confirm(ct, &p, 100, 0, 4, &res), 0);
	assert_int_equal(limit_conn_try(l.lt, 4, AF_INET, &src, 2, 100), 0);

	ct_remove(ct, res.entry);
	assert_int_equal(limit_conn_count(l.lt, 4, AF_INET, &src), 1);
	assert_int_equal(limit_conn_try(l.lt, 4, AF_INET, &src, 2, 100), 1);
	/* a connection another rule decided releases nothing here */
	udp(&p, "10.0.0.1", "10.0.0.2", 1002, 53);
	ct_track(ct, &p, 100, &res);
	assert_int_equal(ct_confirm(ct, &p, 100, 0, 5, &res), 0);
	ct_remove(ct, res.entry);
	assert_int_equal(limit_conn_count(l.lt, 4, AF_INET, &src), 2);
	ct_flush(ct);
	assert_int_equal(limit_conn_count(l.lt, 4, AF_INET, &src), 1);
	ct_free(ct);
	limit_free(l.lt);
}

/* One token bucket: starts full (burst = rate), refills at rate. */
static void
test_bucket(void **state)
{
	struct limit_bucket	 b;
	int			 i;

	(void)state;
	limit_bucket_init(&b, 3, 1000);
	for (i = 0; i < 3; i++)
		assert_int_equal(limit_bucket_take(&b, 3, 1000), 1);
	assert_int_equal(limit_bucket_take(&b, 3, 1000), 0);
	/* a third of a second brings one back, not more */
	assert_int_equal(limit_bucket_take(&b, 3, 1333), 0);
	assert_int_equal(limit_bucket_take(&b, 3, 1334), 1);
	assert_int_equal(limit_bucket_take(&b, 3, 1334), 0);
	/* a long pause fills it to the burst only */
	for (i = 0; i < 3; i++)
		assert_int_equal(limit_bucket_take(&b, 3, 100000), 1);
	assert_int_equal(limit_bucket_take(&b, 3, 100000), 0);
	/* rate 0: no limit */
	for (i = 0; i < 100; i++)
		assert_int_equal(limit_bucket_take(&b, 0, 100000), 1);
	/* a lower rate keeps no more than its own burst */
	limit_bucket_init(&b, 10, 0);
	limit_bucket_clamp(&b, 2);
	assert_int_equal(limit_bucket_take(&b, 2, 0), 1);
	assert_int_equal(limit_bucket_take(&b, 2, 0), 1);
	assert_int_equal(limit_bucket_take(&b, 2, 0), 0);
	/* a clock that goes back refills nothing */
	limit_bucket_init(&b, 1, 5000);
	assert_int_equal(limit_bucket_take(&b, 1, 5000), 1);
	assert_int_equal(limit_bucket_take(&b, 1, 4000), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_new_bad_args),
		cmocka_unit_test(test_rate_burst_and_refill),
		cmocka_unit_test(test_rate_per_source_and_rule),
		cmocka_unit_test(test_conn_limit),
		cmocka_unit_test(test_expire_idle_sources),
		cmocka_unit_test(test_bounded),
		cmocka_unit_test(test_random_against_model),
		cmocka_unit_test(test_ct_events),
		cmocka_unit_test(test_ct_destroy_releases_conn),
		cmocka_unit_test(test_bucket),
	};

	return (cmocka_run_group_tests(tests, NULL, NULL));
}
