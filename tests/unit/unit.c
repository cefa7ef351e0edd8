/*
 * unit.c - helpers the unit drivers share
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
#include <string.h>
#include <cmocka.h>

#include "unit.h"

void
unit_add_rule(struct config *c, const char *name, uint8_t states,
    uint8_t proto, const char *dport, uint8_t action, uint32_t mark,
    uint8_t log)
{
	struct rule	*r = &c->rules[c->nrules];
	char		 err[256];

	memset(r, 0, sizeof(*r));
	snprintf(r->name, sizeof(r->name), "%s", name);
	r->index = (uint16_t)c->nrules;
	r->states = states;
	r->has_proto = proto != 0;
	r->proto = proto;
	if (dport != NULL)
		assert_int_equal(rule_parse_ports(dport, &r->dport, err,
		    sizeof(err)), 0);
	r->action = action;
	r->has_mark = mark != 0;
	r->mark = mark;
	r->log = log;
	c->nrules++;
}

union pkt_addr
unit_addr(const char *s)
{
	union pkt_addr	 a;

	memset(&a, 0, sizeof(a));
	if (strchr(s, ':') != NULL)
		assert_int_equal(inet_pton(AF_INET6, s, &a), 1);
	else
		assert_int_equal(inet_pton(AF_INET, s, &a), 1);
	return (a);
}
