/*
 * rule.h - the rule language: values parsed from the config, and matching
 *
 * Copyright (C) 2026 The nfqspid authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * Pure: no I/O, no globals.  config.c reads the strings out of the INI
 * file and hands them to the rule_parse_*() functions, which compile them
 * into the structures rule_match() walks on the packet path.
 */
#ifndef NFQSPI_RULE_H
#define NFQSPI_RULE_H

#include <stddef.h>
#include <stdint.h>

#include "pkt.h"
#include "ct.h"

enum rule_action {
	RULE_ACCEPT = 0,
	RULE_DROP,
	RULE_REJECT
};

#define RULE_NAMELEN	64
#define RULE_IFNAMSIZ	16	/* IFNAMSIZ */
#define RULE_MAXIFS	8

/* the bit of a PKT_HOOK_* in struct rule's hooks */
#define RULE_HOOK_BIT(h)	((uint8_t)(1u << (h)))

struct rule_addrset;		/* compiled CIDR list */
struct rule_portset;		/* compiled port list and ranges */

struct rule {
	char		 name[RULE_NAMELEN];
	uint32_t	 index;		/* position in the file, from 0 */
	uint8_t		 states;	/* CT_STATE_BIT() mask */
	uint8_t		 action;	/* enum rule_action */
	uint8_t		 log;
	uint8_t		 has_proto;	/* 0: any */
	uint8_t		 proto;		/* IPPROTO_* */
	uint8_t		 has_mark;
	uint32_t	 mark;
	struct rule_addrset *src;	/* NULL: any */
	struct rule_addrset *dst;
	struct rule_portset *sport;
	struct rule_portset *dport;
	uint8_t		 nin, nout;	/* 0: any */
	uint8_t		 in_neg, out_neg; /* bit i: in[i], out[i] negated */
	char		 in[RULE_MAXIFS][RULE_IFNAMSIZ];
	char		 out[RULE_MAXIFS][RULE_IFNAMSIZ];
	uint8_t		 hooks;		/* RULE_HOOK_BIT() mask of the
					   chains; 0: any */
	uint8_t		 has_icmp_type;
	uint32_t	 icmp_types[8];	/* bitmap of 256 types */
	uint8_t		 has_tcp_flags;
	uint8_t		 tcp_flags;	/* these set ... */
	uint8_t		 tcp_mask;	/* ... out of these */
	uint32_t	 rate;		/* new connections per second per
					   source; 0: no limit */
	uint32_t	 conn_limit;	/* 0: no limit */
};

/*
 * Does p, in state (enum ct_state), arriving on interface in and leaving
 * by out (names, "" when unknown), match r?  A rule with hooks matches
 * only a packet whose p->hook is one of them (PKT_HOOK_UNKNOWN: none).
 */
int	 rule_match(const struct rule *r, const struct pkt *p, int state,
	    const char *in, const char *out);
/* Does the list (in, out) match interface name ("" or NULL: not known,
   which only negations match)?  rule_cover.c asks it too. */
int	 rule_iface_match(const char ifs[][RULE_IFNAMSIZ], uint8_t n,
	    uint8_t neg, const char *name);

/*
 * Value parsers.  Each returns 0, or -1 with a message in err that says
 * what was expected (the caller prefixes file, section and key).
 */
int	 rule_parse_states(const char *s, uint8_t *mask, char *err,
	    size_t errlen);
int	 rule_parse_proto(const char *s, uint8_t *has, uint8_t *proto,
	    char *err, size_t errlen);
int	 rule_parse_addrs(const char *s, struct rule_addrset **set, char *err,
	    size_t errlen);
int	 rule_parse_ports(const char *s, struct rule_portset **set, char *err,
	    size_t errlen);
/* ... and with port names from svc for proto (0: tcp or udp) */
struct services;
int	 rule_parse_ports_named(const char *s, const struct services *svc,
	    uint8_t proto, struct rule_portset **set, char *err,
	    size_t errlen);
/* neg: bit i set when ifs[i] was written "!name" */
int	 rule_parse_ifaces(const char *s, char ifs[][RULE_IFNAMSIZ],
	    uint8_t *n, uint8_t *neg, char *err, size_t errlen);
/* chain = input, output, forward, prerouting, postrouting */
int	 rule_parse_hooks(const char *s, uint8_t *hooks, char *err,
	    size_t errlen);
int	 rule_parse_icmp_types(const char *s, uint8_t proto, uint32_t map[8],
	    char *err, size_t errlen);
int	 rule_parse_tcp_flags(const char *s, uint8_t *flags, uint8_t *mask,
	    char *err, size_t errlen);
int	 rule_parse_action(const char *s, uint8_t *action, char *err,
	    size_t errlen);
int	 rule_parse_mark(const char *s, uint32_t *mark, char *err,
	    size_t errlen);
int	 rule_parse_rate(const char *s, uint32_t *per_sec, char *err,
	    size_t errlen);
int	 rule_parse_bool(const char *s, uint8_t *b, char *err, size_t errlen);
/* digits only, no sign, no leading zero, at most max: 0, or -1 */
int	 rule_parse_dec(const char *s, uint64_t max, uint64_t *v);

int	 rule_addrset_match(const struct rule_addrset *set, uint8_t family,
	    const union pkt_addr *a);
int	 rule_portset_match(const struct rule_portset *set, uint16_t port);
void	 rule_addrset_free(struct rule_addrset *set);
/* The list as written in the file, blanks removed; "any" for NULL. */
const char *rule_addrset_format(const struct rule_addrset *set);
/* What rule_addrset_format() shows, when the parsed text was not it
   (a list with @file elements expanded).  0, or -1 and errno. */
int	 rule_addrset_set_text(struct rule_addrset *set, const char *text);
void	 rule_portset_free(struct rule_portset *set);

/*
 * The compiled lists as they are matched: sorted, disjoint ranges (what
 * ruleset.c indexes and nfqspictl prints).  An address is a 128-bit
 * number, IPv4 in the low 32 bits.
 */
typedef unsigned __int128 rule_u128;
size_t	 rule_portset_count(const struct rule_portset *set);
void	 rule_portset_range(const struct rule_portset *set, size_t i,
	    uint16_t *lo, uint16_t *hi);
/* family AF_INET or AF_INET6; a set of the other family only has none */
size_t	 rule_addrset_count(const struct rule_addrset *set, uint8_t family);
void	 rule_addrset_range(const struct rule_addrset *set, uint8_t family,
	    size_t i, rule_u128 *lo, rule_u128 *hi);
rule_u128 rule_addr_u128(uint8_t family, const union pkt_addr *a);
/* Frees what r points to, not r itself. */
void	 rule_clear(struct rule *r);

const char *rule_action_name(int action);	/* "accept", ... */
const char *rule_hook_name(int hook);		/* "input", ... (PKT_HOOK_*) */
/* "input,output": the chains of a hooks mask, in hook order ("any": 0) */
const char *rule_hooks_format(uint8_t hooks, char *buf, size_t len);
const char *rule_state_name(int state);		/* "NEW", ... */

/*
 * rule_cover.c: what nfqspid -n proves of two rules, from their compiled
 * values; 1 only when proven key by key, 0 when in doubt.
 */
/* Does every packet b matches, in each state b names, match a too? */
int	 rule_covers(const struct rule *a, const struct rule *b);
/* ... and, a coming first, does a decide each of them, and each
   connection a reload judges again that b would match?  Then b never
   decides anything. */
int	 rule_shadows(const struct rule *a, const struct rule *b);
/* cover_miss()'s keys (rule_cover.c) */
#define RULE_KEY_SRC	0x01u
#define RULE_KEY_DST	0x02u
#define RULE_KEY_SPORT	0x04u
#define RULE_KEY_DPORT	0x08u
#define RULE_KEY_OTHER	0x10u	/* any other key, or a reload's guess */
/*
 * Do the rules a[0 .. n-1] (in file order, all before b) decide each
 * packet b matches, and each connection a reload judges again that b
 * would match?  1: they do, used[i] set for each a[i] that is the
 * first of them to match one (the rules that decide them); 0: b
 * decides one, or matches none; -1: past budget steps (or out of
 * memory), not known.  Exact: every key, negations, interface
 * prefixes and the reload's guesses.  *work (not NULL): the steps
 * taken, added.
 */
int	 rule_cover_union(const struct rule *b, const struct rule *const *a,
	    size_t n, uint8_t *used, size_t budget, size_t *work);

/* 0: src or dst is empty, or they have no family in common */
int	 rule_addrs_can_match(const struct rule *r);
/* 0: the list (in, out) names interfaces and negates each of them
   ("eth0, !eth+"), so that it matches no name: exact */
int	 rule_ifaces_can_match(const char l[][RULE_IFNAMSIZ], uint8_t n,
	    uint8_t negs);
/* A packet r matches by protocol, addresses and ports (what ruleset.c
   indexes): 0, or -1 when r matches none by its addresses. */
int	 rule_sample(const struct rule *r, struct pkt *p);

/*
 * rule_print.c: values as nfqspictl rules prints them, from the rule's
 * own representation.  Each returns the length of the whole text, as
 * snprintf() does, and writes what fits in buf.
 */
size_t	 rule_ports_format(const struct rule_portset *set, char *buf,
	    size_t len);			/* "22,80-90" */
size_t	 rule_states_format(uint8_t mask, char *buf, size_t len);
size_t	 rule_tcp_flags_format(uint8_t flags, uint8_t mask, char *buf,
	    size_t len);			/* "S/SA" */
size_t	 rule_icmp_types_format(const uint32_t map[8], char *buf,
	    size_t len);			/* "0,3,8" */
size_t	 rule_iface_format(const char ifs[][RULE_IFNAMSIZ], uint8_t neg,
	    uint8_t i, char *buf, size_t len);	/* "!wan0" */

#endif /* NFQSPI_RULE_H */
