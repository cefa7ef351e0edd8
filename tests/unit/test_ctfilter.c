/*
 * test_ctfilter.c - conntrack(8)'s filters: parsing and matching
 *
 * Copyright (C) 2026 The nfqspid authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "ct.h"
#include "ctfilter.h"

static char	 err[256];

/* Parse the NULL-terminated arguments. */
static int
fparse(struct ctf *f, unsigned flags, ...)
{
	char	*argv[16];
	int	 argc = 0;
	va_list	 ap;

	va_start(ap, flags);
	while (argc < 15 && (argv[argc] = va_arg(ap, char *)) != NULL)
		argc++;
	va_end(ap);
	argv[argc] = NULL;
	err[0] = '\0';
	return (ctf_parse(f, argc, argv, flags, err, sizeof(err)));
}

static struct ct_view
conn(const char *src, const char *dst, uint8_t proto, uint16_t sport,
    uint16_t dport, const char *state, uint32_t mark)
{
	struct ct_view	 v;

	memset(&v, 0, sizeof(v));
	v.family = strchr(src, ':') != NULL ? AF_INET6 : AF_INET;
	assert_int_equal(inet_pton(v.family, src, v.orig.src.a8), 1);
	assert_int_equal(inet_pton(v.family, dst, v.orig.dst.a8), 1);
	v.proto = proto;
	v.orig.sport = sport;
	v.orig.dport = dport;
	/* the reply direction, as a view has it (no NAT) */
	v.reply.src = v.orig.dst;
	v.reply.dst = v.orig.src;
	v.reply.sport = dport;
	v.reply.dport = sport;
	if (state != NULL)
		v.state = (uint8_t)ctf_state(state);
	v.mark = mark;
	return (v);
}

static void
test_conntrack_options(void **state)
{
	struct ctf	 f;
	struct ct_view	 est = conn("10.0.0.1", "10.0.0.2", IPPROTO_TCP, 41000,
			    22, "ESTABLISHED", 0x10);
	struct ct_view	 syn = conn("10.0.1.1", "10.0.0.2", IPPROTO_TCP, 41001,
			    22, "SYN_SENT", 0);
	struct ct_view	 dns = conn("10.0.0.1", "10.0.0.53", IPPROTO_UDP, 5353,
			    53, NULL, 0x11);
	struct ct_view	 ping = conn("fd23:1::2", "fd23:2::2", IPPROTO_ICMPV6,
			    0, 0, NULL, 0);

	/* no filter: everything */
	assert_int_equal(fparse(&f, 0, NULL), 0);
	assert_true(ctf_match(&f, &est) && ctf_match(&f, &ping));

	assert_int_equal(fparse(&f, 0, "-p", "tcp", "--dport", "22", NULL),
	    0);
	assert_true(ctf_match(&f, &est) && ctf_match(&f, &syn));
	assert_false(ctf_match(&f, &dns) || ctf_match(&f, &ping));

	assert_int_equal(fparse(&f, 0, "-s", "10.0.0.0/24", NULL), 0);
	assert_true(ctf_match(&f, &est) && ctf_match(&f, &dns));
	assert_false(ctf_match(&f, &syn));
	/* an IPv4 address names the family too */
	assert_false(ctf_match(&f, &ping));

	assert_int_equal(fparse(&f, 0, "--orig-dst=10.0.0.53", "--sport",
	    "5353", NULL), 0);
	assert_true(ctf_match(&f, &dns));
	assert_false(ctf_match(&f, &est));

	assert_int_equal(fparse(&f, 0, "-f", "ipv6", NULL), 0);
	assert_true(ctf_match(&f, &ping));
	assert_false(ctf_match(&f, &est) || ctf_match(&f, &dns));
	assert_int_equal(fparse(&f, 0, "--family", "ipv4", NULL), 0);
	assert_false(ctf_match(&f, &ping));
	assert_true(ctf_match(&f, &dns));

	assert_int_equal(fparse(&f, 0, "-d", "fd23:2::/32", "-picmpv6",
	    NULL), 0);
	assert_true(ctf_match(&f, &ping));
	assert_false(ctf_match(&f, &est));

	/* --state: TCP only, any case, a list, LISTEN as SYN_SENT2 */
	assert_int_equal(fparse(&f, 0, "--state", "ESTABLISHED", NULL), 0);
	assert_true(ctf_match(&f, &est));
	assert_false(ctf_match(&f, &syn) || ctf_match(&f, &dns));
	assert_int_equal(fparse(&f, 0, "--state=syn_sent,established", NULL),
	    0);
	assert_true(ctf_match(&f, &est) && ctf_match(&f, &syn));
	assert_int_equal(ctf_state("LISTEN"), ctf_state("SYN_SENT2"));
	assert_int_equal(ctf_state("TIME_WAIT"), 7);
	assert_int_equal(ctf_state("BOGUS"), -1);

	/* --mark: the whole mark, or the bits of a mask */
	assert_int_equal(fparse(&f, 0, "-m", "0x10", NULL), 0);
	assert_true(ctf_match(&f, &est));
	assert_false(ctf_match(&f, &dns) || ctf_match(&f, &syn));
	assert_int_equal(fparse(&f, 0, "--mark", "16/0x10", NULL), 0);
	assert_true(ctf_match(&f, &est) && ctf_match(&f, &dns));
	assert_false(ctf_match(&f, &syn));
	assert_int_equal(fparse(&f, 0, "-m", "0", NULL), 0);
	assert_true(ctf_match(&f, &syn));
	assert_false(ctf_match(&f, &est));

	/* all of them must hold */
	assert_int_equal(fparse(&f, 0, "-p", "tcp", "-s", "10.0.0.1",
	    "--state", "ESTABLISHED", "-m", "16", NULL), 0);
	assert_true(ctf_match(&f, &est));
	assert_int_equal(fparse(&f, 0, "-p", "udp", "-s", "10.0.0.1",
	    "--state", "ESTABLISHED", NULL), 0);
	assert_false(ctf_match(&f, &est) || ctf_match(&f, &dns));
}

static void
test_keyval(void **state)
{
	struct ctf	 f;
	struct ct_view	 est = conn("10.0.0.1", "10.0.0.2", IPPROTO_TCP, 41000,
			    22, "ESTABLISHED", 0);

	assert_int_equal(fparse(&f, CTF_F_KEYVAL | CTF_F_NEEDONE,
	    "src=10.0.0.1", "dport=22", "proto=tcp", NULL), 0);
	assert_true(ctf_match(&f, &est));
	/* both forms at once */
	assert_int_equal(fparse(&f, CTF_F_KEYVAL, "dst=10.0.0.2", "--sport",
	    "41000", NULL), 0);
	assert_true(ctf_match(&f, &est));
	/* ... but not the same filter twice */
	assert_int_equal(fparse(&f, CTF_F_KEYVAL, "src=10.0.0.1", "-s",
	    "10.0.0.1", NULL), -1);
	assert_non_null(strstr(err, "-s given twice"));
	/* KEY=VALUE only where allowed */
	assert_int_equal(fparse(&f, 0, "src=10.0.0.1", NULL), -1);
	assert_non_null(strstr(err, "unexpected \"src=10.0.0.1\""));
	assert_int_equal(fparse(&f, CTF_F_KEYVAL, "mark=1", NULL), -1);
	assert_non_null(strstr(err, "unknown key \"mark\""));
	/* delete needs at least one */
	assert_int_equal(fparse(&f, CTF_F_KEYVAL | CTF_F_NEEDONE, NULL), -1);
	assert_non_null(strstr(err, "flush"));
	assert_int_equal(fparse(&f, CTF_F_NEEDONE | CTF_F_EVENTS, "-e", "NEW",
	    NULL), -1);
}

static void
test_events(void **state)
{
	struct ctf	 f;

	assert_int_equal(fparse(&f, CTF_F_EVENTS, NULL), 0);
	assert_true(ctf_event(&f, CT_EVENT_NEW));
	assert_true(ctf_event(&f, CT_EVENT_UPDATE));
	assert_true(ctf_event(&f, CT_EVENT_DESTROY));
	assert_false(f.timestamp);

	assert_int_equal(fparse(&f, CTF_F_EVENTS, "-e", "NEW,DESTROY", "-o",
	    "timestamp", NULL), 0);
	assert_true(ctf_event(&f, CT_EVENT_NEW));
	assert_false(ctf_event(&f, CT_EVENT_UPDATE));
	assert_true(ctf_event(&f, CT_EVENT_DESTROY));
	assert_true(f.timestamp);
	assert_int_equal(fparse(&f, CTF_F_EVENTS, "--event-mask=all", NULL),
	    0);
	assert_true(ctf_event(&f, CT_EVENT_UPDATE));
	assert_int_equal(fparse(&f, CTF_F_EVENTS, "-eupdate", "-p", "udp",
	    NULL), 0);
	assert_false(ctf_event(&f, CT_EVENT_NEW));
	assert_true(ctf_event(&f, CT_EVENT_UPDATE));
	assert_int_equal(f.proto, IPPROTO_UDP);

	assert_int_equal(fparse(&f, CTF_F_EVENTS, "-e", "NEW,BOGUS", NULL),
	    -1);
	assert_non_null(strstr(err, "\"BOGUS\" is not one of"));
	assert_int_equal(fparse(&f, CTF_F_EVENTS, "-e", "NEW,", NULL), -1);
	assert_int_equal(fparse(&f, CTF_F_EVENTS, "-o", "xml", NULL), -1);
	assert_non_null(strstr(err, "timestamp"));
	/* events' options are for events only */
	assert_int_equal(fparse(&f, 0, "-o", "timestamp", NULL), -1);
	assert_non_null(strstr(err, "-o is for events only"));
}

/* -u: the status bits as the view's flags say them */
static void
test_status(void **state)
{
	struct ctf	 f;
	struct ct_view	 syn = conn("10.0.1.1", "10.0.0.2", IPPROTO_TCP, 41001,
			    22, "SYN_SENT", 0);
	struct ct_view	 est = conn("10.0.0.1", "10.0.0.2", IPPROTO_TCP, 41000,
			    22, "ESTABLISHED", 0);
	struct ct_view	 off = est, dns = conn("10.0.0.1", "10.0.0.53",
			    IPPROTO_UDP, 5353, 53, NULL, 0);

	syn.flags = CT_VIEW_UNREPLIED;
	est.flags = CT_VIEW_ASSURED;
	/* the fast path's: assured too, as the kernel's IPS_OFFLOAD */
	off.flags = CT_VIEW_ASSURED | CT_VIEW_OFFLOAD | CT_VIEW_BYTES;
	dns.flags = 0;		/* replied, not assured */
	assert_int_equal(ctf_status_bits(&syn), 0);
	assert_int_equal(ctf_status_bits(&dns), CTF_ST_SEEN_REPLY);
	assert_int_equal(ctf_status_bits(&off), CTF_ST_SEEN_REPLY |
	    CTF_ST_ASSURED | CTF_ST_OFFLOAD);

	assert_int_equal(fparse(&f, 0, "-u", "OFFLOAD", NULL), 0);
	assert_true(f.has & CTF_H_STATUS);
	assert_true(ctf_match(&f, &off));
	assert_false(ctf_match(&f, &est) || ctf_match(&f, &syn) ||
	    ctf_match(&f, &dns));
	/* ! before one: that bit clear */
	assert_int_equal(fparse(&f, 0, "--status", "!OFFLOAD", NULL), 0);
	assert_false(ctf_match(&f, &off));
	assert_true(ctf_match(&f, &est) && ctf_match(&f, &syn) &&
	    ctf_match(&f, &dns));
	assert_int_equal(fparse(&f, 0, "--status=assured", NULL), 0);
	assert_true(ctf_match(&f, &est) && ctf_match(&f, &off));
	assert_false(ctf_match(&f, &syn) || ctf_match(&f, &dns));
	assert_int_equal(fparse(&f, 0, "-uSEEN_REPLY", NULL), 0);
	assert_true(ctf_match(&f, &est) && ctf_match(&f, &dns));
	assert_false(ctf_match(&f, &syn));
	/* UNREPLIED, the listing's word, is !SEEN_REPLY */
	assert_int_equal(fparse(&f, 0, "-u", "UNREPLIED", NULL), 0);
	assert_true(ctf_match(&f, &syn));
	assert_false(ctf_match(&f, &est) || ctf_match(&f, &dns));
	assert_int_equal(fparse(&f, 0, "-u", "!UNREPLIED", NULL), 0);
	assert_false(ctf_match(&f, &syn));
	assert_true(ctf_match(&f, &dns));
	/* a list: every one must hold */
	assert_int_equal(fparse(&f, 0, "-u", "ASSURED,!OFFLOAD", NULL), 0);
	assert_true(ctf_match(&f, &est));
	assert_false(ctf_match(&f, &off) || ctf_match(&f, &dns));
	assert_int_equal(fparse(&f, 0, "-u", "SEEN_REPLY,!ASSURED", NULL), 0);
	assert_true(ctf_match(&f, &dns));
	assert_false(ctf_match(&f, &est) || ctf_match(&f, &syn));
	assert_int_equal(fparse(&f, 0, "-u", "OFFLOAD,OFFLOAD", NULL), 0);
	assert_true(ctf_match(&f, &off));
	/* with the others */
	assert_int_equal(fparse(&f, 0, "-p", "tcp", "-u", "OFFLOAD",
	    "--state", "ESTABLISHED", NULL), 0);
	assert_true(ctf_match(&f, &off));
	assert_false(ctf_match(&f, &est));
	/* enough for delete, and in events too */
	assert_int_equal(fparse(&f, CTF_F_KEYVAL | CTF_F_NEEDONE, "-u",
	    "OFFLOAD", NULL), 0);
	assert_int_equal(fparse(&f, CTF_F_EVENTS, "-e", "DESTROY", "-u",
	    "OFFLOAD", NULL), 0);
	assert_true(ctf_match(&f, &off) && ctf_event(&f, CT_EVENT_DESTROY));
	assert_false(ctf_match(&f, &est));
}

static void
test_errors(void **state)
{
	struct ctf	 f;
	static const char *const bad[][3] = {
		{ "-p", "sctpish", "is not tcp, udp" },
		{ "-p", "256", "is not tcp, udp" },
		{ "-s", "10.0.0.1/33", "not an address or prefix" },
		{ "-s", "10.0.0", "not an address or prefix" },
		{ "--dport", "65536", "not a port" },
		{ "--sport", "-1", "not a port" },
		{ "-f", "inet", "not ipv4 or ipv6" },
		{ "--state", "LISTENING", "\"LISTENING\" is not one of" },
		{ "--state", "", "not a list" },
		{ "-m", "0x100000000", "not MARK or MARK/MASK" },
		{ "-m", "1/x", "not MARK or MARK/MASK" },
		{ "-m", "0x11/0x10", "would match nothing" },
		{ "-u", "EXPECTED", "\"EXPECTED\" is not one of the statuses" },
		{ "-u", "ASSURED,", "\"\" is not one of the statuses" },
		{ "-u", "!", "\"!\" is not one of the statuses" },
		{ "-u", "", "\"\" is not one of the statuses" },
		{ "--status", "OFFLOAD,!OFFLOAD", "would match nothing" },
		{ "-u", "UNREPLIED,SEEN_REPLY", "would match nothing" },
		{ "--bogus", "1", "unknown option \"--bogus\"" },
		{ "-x", "1", "unknown option \"-x\"" },
	};
	size_t		 i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(fparse(&f, CTF_F_EVENTS, bad[i][0], bad[i][1],
		    NULL), -1);
		if (strstr(err, bad[i][2]) == NULL)
			fail_msg("%s %s: \"%s\"", bad[i][0], bad[i][1], err);
	}
	assert_int_equal(fparse(&f, 0, "-s", NULL), -1);
	assert_non_null(strstr(err, "-s needs a value"));
	assert_int_equal(fparse(&f, 0, "10.0.0.1", NULL), -1);
	assert_int_equal(fparse(&f, 0, "", NULL), -1);
	assert_int_equal(fparse(&f, 0, "-", NULL), -1);
	/* the families must agree */
	assert_int_equal(fparse(&f, 0, "-s", "10.0.0.1", "-d", "fd23::1",
	    NULL), -1);
	assert_int_equal(fparse(&f, 0, "-f", "ipv6", "-s", "10.0.0.1", NULL),
	    -1);
	assert_int_equal(fparse(&f, 0, "-s", "fd23::1", "-f", "ipv4", NULL),
	    -1);
	assert_non_null(strstr(err, "other family"));
	assert_int_equal(fparse(&f, 0, "-s", "fd23::1", "-f", "ipv6", NULL),
	    0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_conntrack_options),
		cmocka_unit_test(test_keyval),
		cmocka_unit_test(test_events),
		cmocka_unit_test(test_status),
		cmocka_unit_test(test_errors),
	};

	return (cmocka_run_group_tests(tests, NULL, NULL));
}
