/*
 * test_services.c - port names from services(5) text, and port lists
 * that use them
 *
 * Copyright (C) 2026 The nfqspid authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include <netinet/in.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "rule.h"
#include "services.h"

static const char text[] =
    "# Network services, Internet style\n"
    "ssh\t\t22/tcp\t\t\t\t# SSH Remote Login Protocol\n"
    "domain\t\t53/tcp\n"
    "domain\t\t53/udp\n"
    "http\t\t80/tcp\t\twww\t\t# WorldWideWeb HTTP\n"
    "http-alt\t8080/tcp\twebcache\n"
    "odd\t\t100/tcp\n"
    "odd\t\t101/udp\n"
    "ssh\t\t2222/tcp\t\t\t# a second listing: the first wins\n"
    "junk\n"
    "bad\t\t70000/tcp\n"
    "bad2\t\t12/sctp\n"
    "   \n"
    "syslog\t\t514/udp";		/* no newline at the end */

static struct services *
table(void)
{
	struct services	*sv = services_parse(text, sizeof(text) - 1);

	assert_non_null(sv);
	return (sv);
}

static void
test_lookup(void **state)
{
	struct services	*sv = table();
	char		 err[256];

	(void)state;
	assert_int_equal(services_port(sv, "ssh", IPPROTO_TCP, err,
	    sizeof(err)), 22);
	assert_int_equal(services_port(sv, "ssh", IPPROTO_UDP, err,
	    sizeof(err)), 0);
	assert_int_equal(services_port(sv, "ssh", 0, err, sizeof(err)), 22);
	assert_int_equal(services_port(sv, "domain", IPPROTO_UDP, err,
	    sizeof(err)), 53);
	assert_int_equal(services_port(sv, "domain", 0, err, sizeof(err)), 53);
	assert_int_equal(services_port(sv, "www", IPPROTO_TCP, err,
	    sizeof(err)), 80);
	assert_int_equal(services_port(sv, "webcache", 0, err, sizeof(err)),
	    8080);
	assert_int_equal(services_port(sv, "syslog", 0, err, sizeof(err)),
	    514);
	assert_int_equal(services_port(sv, "junk", 0, err, sizeof(err)), 0);
	assert_int_equal(services_port(sv, "bad", 0, err, sizeof(err)), 0);
	assert_int_equal(services_port(sv, "bad2", 0, err, sizeof(err)), 0);
	assert_int_equal(services_port(sv, "SSH", 0, err, sizeof(err)), 0);
	assert_int_equal(services_port(sv, "odd", IPPROTO_UDP, err,
	    sizeof(err)), 101);
	assert_int_equal(services_port(sv, "odd", 0, err, sizeof(err)), -1);
	assert_string_equal(err, "\"odd\" is port 100 for tcp and 101 for "
	    "udp: name the protocol");
	assert_int_equal(services_port(NULL, "ssh", 0, err, sizeof(err)), 0);
	services_free(sv);
}

/* a table larger than the first one grows, and every name is found */
static void
test_many(void **state)
{
	struct services	*sv;
	static char	 big[600000];
	char		 name[32], err[256];
	size_t		 len = 0;
	int		 i;

	(void)state;
	for (i = 1; i <= 20000; i++)
		len += (size_t)snprintf(big + len, sizeof(big) - len,
		    "s%d %d/%s a%d\n", i, i, i % 2 ? "tcp" : "udp", i);
	assert_non_null(sv = services_parse(big, len));
	for (i = 1; i <= 20000; i++) {
		snprintf(name, sizeof(name), i % 3 ? "s%d" : "a%d", i);
		assert_int_equal(services_port(sv, name, 0, err, sizeof(err)),
		    i);
		assert_int_equal(services_port(sv, name, i % 2 ? IPPROTO_UDP :
		    IPPROTO_TCP, err, sizeof(err)), 0);
	}
	services_free(sv);
}

static void
ports_ok(const struct services *sv, uint8_t proto, const char *s,
    const uint16_t *in, const uint16_t *out)
{
	struct rule_portset *ps;
	char		 err[256];

	if (rule_parse_ports_named(s, sv, proto, &ps, err, sizeof(err)) != 0)
		fail_msg("\"%s\": %s", s, err);
	for (; *in != 0; in++)
		if (!rule_portset_match(ps, *in))
			fail_msg("\"%s\" does not match %u", s, *in);
	for (; *out != 0; out++)
		if (rule_portset_match(ps, *out))
			fail_msg("\"%s\" matches %u", s, *out);
	rule_portset_free(ps);
}

static void
ports_bad(const struct services *sv, uint8_t proto, const char *s,
    const char *want)
{
	struct rule_portset *ps;
	char		 err[256];

	if (rule_parse_ports_named(s, sv, proto, &ps, err, sizeof(err)) == 0)
		fail_msg("\"%s\" accepted", s);
	if (strcmp(err, want) != 0)
		fail_msg("\"%s\": \"%s\", expected \"%s\"", s, err, want);
}

static void
test_ports(void **state)
{
	struct services	*sv = table();

	(void)state;
	ports_ok(sv, IPPROTO_TCP, "ssh", (uint16_t[]){ 22, 0 },
	    (uint16_t[]){ 2222, 21, 0 });
	ports_ok(sv, IPPROTO_TCP, "ssh, http , 443", (uint16_t[]){ 22, 80,
	    443, 0 }, (uint16_t[]){ 23, 0 });
	ports_ok(sv, IPPROTO_TCP, "ssh-http", (uint16_t[]){ 22, 50, 80, 0 },
	    (uint16_t[]){ 21, 81, 0 });
	ports_ok(sv, IPPROTO_TCP, "ssh - 25, 1000-http-alt",
	    (uint16_t[]){ 22, 25, 1000, 8080, 0 },
	    (uint16_t[]){ 26, 999, 8081, 0 });
	ports_ok(sv, IPPROTO_TCP, "http-alt", (uint16_t[]){ 8080, 0 },
	    (uint16_t[]){ 80, 0 });
	ports_ok(sv, IPPROTO_UDP, "domain, syslog", (uint16_t[]){ 53, 514, 0 },
	    (uint16_t[]){ 22, 0 });
	ports_ok(sv, 0, "domain,ssh", (uint16_t[]){ 53, 22, 0 },
	    (uint16_t[]){ 80, 0 });
	/* numbers as before */
	ports_ok(NULL, IPPROTO_TCP, "22, 1000 - 2000", (uint16_t[]){ 22, 1500,
	    0 }, (uint16_t[]){ 2001, 0 });

	ports_bad(sv, IPPROTO_UDP, "ssh", "\"ssh\" is not a port or port "
	    "range");
	ports_bad(sv, IPPROTO_TCP, "sshd", "\"sshd\" is not a port or port "
	    "range");
	ports_bad(NULL, IPPROTO_TCP, "ssh", "\"ssh\" is not a port or port "
	    "range");
	ports_bad(sv, 0, "odd", "\"odd\" is port 100 for tcp and 101 for udp: "
	    "name the protocol");
	ports_bad(sv, IPPROTO_TCP, "http-22", "\"http-22\" is an inverted "
	    "range");
	ports_bad(sv, IPPROTO_TCP, "ssh, 22", "\"22\" overlaps \"ssh\"");
	ports_bad(sv, IPPROTO_TCP, "ssh-", "\"ssh-\" is not a port or port "
	    "range");
	services_free(sv);
}

/* "a-b-c" where both "a-b"-"c" and "a"-"b-c" are ranges */
static void
test_ambiguous(void **state)
{
	static const char amb[] = "a 1/tcp\nb 2/tcp\nc 3/tcp\n"
	    "a-b 4/tcp\nb-c 5/tcp\n";
	struct services	*sv = services_parse(amb, sizeof(amb) - 1);

	(void)state;
	assert_non_null(sv);
	ports_bad(sv, IPPROTO_TCP, "a-b-c", "\"a-b-c\" reads as two different "
	    "ranges");
	ports_ok(sv, IPPROTO_TCP, "a-b", (uint16_t[]){ 4, 0 },
	    (uint16_t[]){ 1, 2, 0 });
	services_free(sv);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_lookup),
		cmocka_unit_test(test_many),
		cmocka_unit_test(test_ports),
		cmocka_unit_test(test_ambiguous),
	};

	return (cmocka_run_group_tests(tests, NULL, NULL));
}
