/*
 * ruleset.h - the rules compiled for a first-match lookup
 *
 * Copyright (C) 2026 The nfqspid authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * Pure: no I/O, no globals.  config_load() compiles the rules once; a
 * packet then costs a few binary searches and the rules that can match
 * it, not a walk over every rule.  The answer is the one a walk in file
 * order would give: the index only leaves out rules that cannot match.
 */
#ifndef NFQSPI_RULESET_H
#define NFQSPI_RULESET_H

#include <stddef.h>

#include "pkt.h"
#include "rule.h"

struct ruleset;

/* Does r match?  The caller's own test: rule_match(), or a reload's. */
typedef int	(*ruleset_match_fn)(const struct rule *r, void *arg);

/* Indexes rules[0 .. n-1], which must outlive it.  NULL and errno. */
struct ruleset	*ruleset_compile(const struct rule *rules, size_t n);
void		 ruleset_free(struct ruleset *rs);

/*
 * The first rule, in file order, that names state, could match p by its
 * protocol, addresses and ports, and for which match() says yes; NULL if
 * none.  match() is asked only about such rules, in file order.
 */
const struct rule *ruleset_first(const struct ruleset *rs,
		    const struct pkt *p, int state, ruleset_match_fn match,
		    void *arg);

/*
 * The first rule before b (one of rs's) that shadows it (rule_shadows():
 * b never decides a packet), or NULL when none is proven.  Of the
 * earlier rules that could (those the index gives for one packet b
 * matches), the first 256 are asked.
 */
const struct rule *ruleset_shadow(const struct ruleset *rs,
		    const struct rule *b);

/* rules ruleset_shadowed_by() names, at most */
#define RULESET_UNION_MAX	8

/*
 * The rules before b (max at most, in file order, into by; their
 * number, or 0 when none is proven) that shadow it: the one
 * ruleset_shadow() names, or several together, when each holds all of
 * b's keys but one, the same one for all (dport, sport, dst or src),
 * and their values of it hold b's; or so of b's IPv4 packets, and of
 * its IPv6 ones by rules of another key.  One walk like
 * ruleset_shadow()'s, and 16 more at most.
 */
size_t		 ruleset_shadowed_by(const struct ruleset *rs,
		    const struct rule *b, const struct rule **by, size_t max);

#endif /* NFQSPI_RULESET_H */
