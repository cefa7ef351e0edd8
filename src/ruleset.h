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

/* rules a shadow warning keeps of those ruleset_shadowed_by() finds */
#define RULESET_UNION_MAX	32

/* ruleset_shadowed_by()'s steps, at most, per rule and per load */
#define RULESET_COVER_WORK	16384
#define RULESET_COVER_TOTAL	(1u << 24)

/*
 * When the rules before b (one of rs's) decide every packet it matches
 * and every connection a reload judges again that it would match
 * (rule_cover_union()), the number of those that decide one, the
 * first max of them into by, in file order; 0 when that is not proven.
 * Asked of the rules the index lists for b's values (1024 entries at
 * most), or of those up to the first that shadows b alone
 * (ruleset_shadow()), in RULESET_COVER_WORK steps at most.  work (not
 * NULL): the steps taken for the rules asked before, added to; past
 * RULESET_COVER_TOTAL, no more are taken.
 */
size_t		 ruleset_shadowed_by(const struct ruleset *rs,
		    const struct rule *b, const struct rule **by, size_t max,
		    size_t *work);

#endif /* NFQSPI_RULESET_H */
