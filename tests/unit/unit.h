/*
 * unit.h - helpers the unit drivers share
 *
 * Copyright (C) 2026 The nfqspid authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#ifndef NFQSPI_UNIT_H
#define NFQSPI_UNIT_H

#include <stdint.h>

#include "config.h"
#include "pkt.h"

/* Appends a rule to c->rules, which has room for it: on states, for
   proto (0: any) to dport (NULL: any), with action, mark (0: none) and
   log. */
void	unit_add_rule(struct config *c, const char *name, uint8_t states,
	    uint8_t proto, const char *dport, uint8_t action, uint32_t mark,
	    uint8_t log);

/* s, an IPv4 or IPv6 address in text, as the parser leaves it */
union pkt_addr
	unit_addr(const char *s);

#endif
