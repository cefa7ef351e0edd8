/*
 * rule.c - the rule language: value parsers and matching
 *
 * Copyright (C) 2026 The nfqspid authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * Pure: no I/O, no globals.  Lists are compiled once, at load time, into
 * sorted arrays of disjoint ranges so that matching a packet costs one
 * binary search per list whatever the list's length.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE	/* reallocarray */
#endif

#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "rule.h"
#include "strl.h"
#include "services.h"

/* Addresses as 128-bit integers: IPv4 uses the low 32 bits. */
typedef unsigned __int128 u128;

struct range128 {
	u128		 lo, hi;
};

struct rule_addrset {
	size_t		 n4, n6;
	struct range128	*r4;		/* sorted, disjoint, not adjacent */
	struct range128	*r6;
	char		*text;		/* as written, without blanks */
};

struct range16 {
	uint16_t	 lo, hi;
};

struct rule_portset {
	size_t		 n;
	struct range16	 r[];		/* sorted, disjoint */
};

#define ELEMLEN		128	/* longest list element we quote back */

static const u128 V4_MAX = 0xffffffffu;
static const u128 V6_MAX = ~(u128)0;

/*
 * List splitting.  Elements are separated by commas; blanks around them
 * are ignored; an empty element ("a,,b", a trailing comma) is an error.
 */
struct list_iter {
	const char	*p;
	int		 done;
};

static void
list_init(struct list_iter *it, const char *s)
{
	it->p = s;
	it->done = 0;
}

/* Returns 1 with the element in buf, 0 at the end, -1 on error. */
static int
list_next(struct list_iter *it, char *buf, size_t len, char *err,
    size_t errlen)
{
	const char	*s, *e, *comma;
	size_t		 n;

	if (it->done)
		return (0);
	s = it->p;
	comma = strchr(s, ',');
	e = comma ? comma : s + strlen(s);
	it->p = comma ? comma + 1 : e;
	if (comma == NULL)
		it->done = 1;
	while (s < e && isspace((unsigned char)*s))
		s++;
	while (e > s && isspace((unsigned char)e[-1]))
		e--;
	n = (size_t)(e - s);
	if (n == 0) {
		snprintf(err, errlen, "empty element in a comma-separated "
		    "list");
		return (-1);
	}
	if (n >= len) {
		snprintf(err, errlen, "\"%.*s...\" is too long", 20, s);
		return (-1);
	}
	memcpy(buf, s, n);
	buf[n] = '\0';
	return (1);
}

static int
is_blank(const char *s)
{
	while (*s != '\0') {
		if (!isspace((unsigned char)*s))
			return (0);
		s++;
	}
	return (1);
}

/*
 * Strict unsigned decimal: digits only, no sign, no leading zero (so
 * that nobody reads 010 as octal), at most max.
 */
int
rule_parse_dec(const char *s, uint64_t max, uint64_t *v)
{
	uint64_t	 n = 0;

	if (*s < '0' || *s > '9')
		return (-1);
	if (s[0] == '0' && s[1] != '\0')
		return (-1);
	for (; *s != '\0'; s++) {
		if (*s < '0' || *s > '9')
			return (-1);
		n = n * 10 + (uint64_t)(*s - '0');
		if (n > max)
			return (-1);
	}
	*v = n;
	return (0);
}

/* decimal, or 0x followed by 1 to 8 hex digits */
static int
parse_num32(const char *s, uint32_t *v)
{
	uint64_t	 n = 0;
	size_t		 i;

	if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
		s += 2;
		if (*s == '\0')
			return (-1);
		for (i = 0; s[i] != '\0'; i++) {
			if (!isxdigit((unsigned char)s[i]))
				return (-1);
			if (i == 8)
				return (-1);
			n = (n << 4) | (uint64_t)(isdigit((unsigned char)s[i]) ?
			    s[i] - '0' : (tolower((unsigned char)s[i]) - 'a' +
			    10));
		}
		*v = (uint32_t)n;
		return (0);
	}
	if (rule_parse_dec(s, 0xffffffffu, &n) == -1)
		return (-1);
	*v = (uint32_t)n;
	return (0);
}

/* ---- states, proto, action, bool ------------------------------------- */

static const char *const state_names[CT_STATE_MAX] = {
	[CT_NEW] =		"NEW",
	[CT_ESTABLISHED] =	"ESTABLISHED",
	[CT_RELATED] =		"RELATED",
	[CT_INVALID] =		"INVALID",
};

const char *
rule_state_name(int state)
{
	if (state < 0 || state >= CT_STATE_MAX)
		return ("?");
	return (state_names[state]);
}

static const char *const action_names[] = {
	[RULE_ACCEPT] =	"accept",
	[RULE_DROP] =	"drop",
	[RULE_REJECT] =	"reject",
};

const char *
rule_action_name(int action)
{
	if (action < 0 ||
	    (size_t)action >= sizeof(action_names) / sizeof(action_names[0]))
		return ("?");
	return (action_names[action]);
}

/*
 * A list of names, each one of names[from] to names[n - 1] and each
 * once, into the mask of their bits (name i is 1u << i, as in
 * CT_STATE_BIT() and RULE_HOOK_BIT()): a rule's states and its chains.
 */
static int
parse_name_mask(const char *s, const char *const *names, int from, int n,
    const char *what, uint8_t *mask, char *err, size_t errlen)
{
	struct list_iter it;
	char		 e[ELEMLEN];
	uint8_t		 m = 0;
	int		 i, r;

	list_init(&it, s);
	while ((r = list_next(&it, e, sizeof(e), err, errlen)) == 1) {
		for (i = from; i < n; i++)
			if (strcasecmp(e, names[i]) == 0)
				break;
		if (i == n) {
			snprintf(err, errlen, "\"%s\" is not %s", e, what);
			return (-1);
		}
		if (m & (1u << i)) {
			snprintf(err, errlen, "\"%s\" is listed twice", e);
			return (-1);
		}
		m |= (uint8_t)(1u << i);
	}
	if (r == -1)
		return (-1);
	*mask = m;
	return (0);
}

int
rule_parse_states(const char *s, uint8_t *mask, char *err, size_t errlen)
{
	if (is_blank(s)) {
		snprintf(err, errlen, "empty; expected a list of new, "
		    "established, related, invalid");
		return (-1);
	}
	return (parse_name_mask(s, state_names, 0, CT_STATE_MAX,
	    "a state (new, established, related, invalid)", mask, err,
	    errlen));
}

int
rule_parse_proto(const char *s, uint8_t *has, uint8_t *proto, char *err,
    size_t errlen)
{
	static const struct {
		const char	*name;
		uint8_t		 proto;
	} names[] = {
		{ "tcp",	IPPROTO_TCP },
		{ "udp",	IPPROTO_UDP },
		{ "icmp",	IPPROTO_ICMP },
		{ "icmpv6",	IPPROTO_ICMPV6 },
	};
	uint64_t	 n;
	size_t		 i;

	if (strcasecmp(s, "any") == 0) {
		*has = 0;
		*proto = 0;
		return (0);
	}
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (strcasecmp(s, names[i].name) == 0) {
			*has = 1;
			*proto = names[i].proto;
			return (0);
		}
	}
	if (rule_parse_dec(s, 255, &n) == 0) {
		*has = 1;
		*proto = (uint8_t)n;
		return (0);
	}
	snprintf(err, errlen, "\"%s\" is not a protocol (tcp, udp, icmp, "
	    "icmpv6, any, or a number 0-255)", s);
	return (-1);
}

int
rule_parse_action(const char *s, uint8_t *action, char *err, size_t errlen)
{
	size_t		 i;

	for (i = 0; i < sizeof(action_names) / sizeof(action_names[0]); i++) {
		if (strcasecmp(s, action_names[i]) == 0) {
			*action = (uint8_t)i;
			return (0);
		}
	}
	snprintf(err, errlen, "\"%s\" is not an action (accept, drop, "
	    "reject)", s);
	return (-1);
}

int
rule_parse_bool(const char *s, uint8_t *b, char *err, size_t errlen)
{
	static const char *const yes[] = { "yes", "true", "on", "1" };
	static const char *const no[] = { "no", "false", "off", "0" };
	size_t		 i;

	for (i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
		if (strcasecmp(s, yes[i]) == 0) {
			*b = 1;
			return (0);
		}
		if (strcasecmp(s, no[i]) == 0) {
			*b = 0;
			return (0);
		}
	}
	snprintf(err, errlen, "\"%s\" is not yes or no", s);
	return (-1);
}

int
rule_parse_mark(const char *s, uint32_t *mark, char *err, size_t errlen)
{
	if (parse_num32(s, mark) == -1) {
		snprintf(err, errlen, "\"%s\" is not a 32-bit mark (decimal "
		    "0-4294967295 or hex 0x0-0xffffffff)", s);
		return (-1);
	}
	return (0);
}

#define RULE_RATE_MAX	1000000

int
rule_parse_rate(const char *s, uint32_t *per_sec, char *err, size_t errlen)
{
	char		 num[16];
	const char	*slash, *unit;
	uint64_t	 n;
	size_t		 len;

	slash = strchr(s, '/');
	if (slash == NULL) {
		snprintf(err, errlen, "\"%s\" has no unit; expected a rate "
		    "like 10/s", s);
		return (-1);
	}
	len = (size_t)(slash - s);
	while (len > 0 && isspace((unsigned char)s[len - 1]))
		len--;
	if (len == 0 || len >= sizeof(num))
		goto bad;
	memcpy(num, s, len);
	num[len] = '\0';
	if (rule_parse_dec(num, RULE_RATE_MAX, &n) == -1 || n == 0)
		goto bad;
	unit = slash + 1;
	while (isspace((unsigned char)*unit))
		unit++;
	if (strcmp(unit, "s") != 0 && strcmp(unit, "sec") != 0 &&
	    strcmp(unit, "second") != 0) {
		snprintf(err, errlen, "\"%s\": the unit must be /s (a rate "
		    "is counted per second)", s);
		return (-1);
	}
	*per_sec = (uint32_t)n;
	return (0);
 bad:
	snprintf(err, errlen, "\"%s\" is not a rate (1-%d per second, like "
	    "10/s)", s, RULE_RATE_MAX);
	return (-1);
}

/* ---- chains ---------------------------------------------------------- */

/* indexed by PKT_HOOK_*; the names of iptables' chains, lowercased */
static const char *const hook_names[PKT_HOOK_MAX] = {
	[PKT_HOOK_UNKNOWN] =	"unknown",
	[PKT_HOOK_PREROUTING] =	"prerouting",
	[PKT_HOOK_INPUT] =	"input",
	[PKT_HOOK_FORWARD] =	"forward",
	[PKT_HOOK_OUTPUT] =	"output",
	[PKT_HOOK_POSTROUTING] = "postrouting",
};

const char *
rule_hook_name(int hook)
{
	if (hook < 0 || hook >= PKT_HOOK_MAX)
		return ("?");
	return (hook_names[hook]);
}

int
rule_parse_hooks(const char *s, uint8_t *hooks, char *err, size_t errlen)
{
	*hooks = 0;
	if (is_blank(s))
		return (0);
	return (parse_name_mask(s, hook_names, PKT_HOOK_PREROUTING,
	    PKT_HOOK_MAX, "input, output, forward, prerouting or postrouting",
	    hooks, err, errlen));
}

const char *
rule_hooks_format(uint8_t hooks, char *buf, size_t len)
{
	size_t		 off = 0;
	int		 h, n;

	if (len == 0)
		return (buf);
	buf[0] = '\0';
	if ((hooks & ~RULE_HOOK_BIT(PKT_HOOK_UNKNOWN)) == 0) {
		snprintf(buf, len, "any");
		return (buf);
	}
	for (h = PKT_HOOK_PREROUTING; h < PKT_HOOK_MAX; h++) {
		if ((hooks & RULE_HOOK_BIT(h)) == 0)
			continue;
		n = snprintf(buf + off, len - off, "%s%s", off ? "," : "",
		    hook_names[h]);
		if (n < 0 || (size_t)n >= len - off) {
			buf[off] = '\0';	/* whole names only */
			break;
		}
		off += (size_t)n;
	}
	return (buf);
}

/* ---- interfaces ------------------------------------------------------ */

/*
 * Linux's rules for a device name (dev_valid_name()), plus iptables' "+"
 * wildcard: a trailing + matches every name that starts with the rest.
 */
static int
valid_ifname(const char *s)
{
	size_t		 len = strlen(s);

	if (len == 0 || len >= RULE_IFNAMSIZ)
		return (0);
	if (strcmp(s, ".") == 0 || strcmp(s, "..") == 0)
		return (0);
	for (; *s != '\0'; s++)
		if (*s == '/' || *s == ':' || isspace((unsigned char)*s) ||
		    !isprint((unsigned char)*s))
			return (0);
	return (1);
}

/*
 * A list of names, each of which may be negated with '!': the list
 * matches a name that is one of its plain elements (any name when it has
 * none) and none of its negated ones, as iptables' "! -i wan0" does.
 */
int
rule_parse_ifaces(const char *s, char ifs[][RULE_IFNAMSIZ], uint8_t *n,
    uint8_t *neg, char *err, size_t errlen)
{
	struct list_iter it;
	char		 e[ELEMLEN], *name;
	uint8_t		 cnt = 0, i, not;
	int		 r;

	*n = 0;
	*neg = 0;
	if (is_blank(s))
		return (0);
	list_init(&it, s);
	while ((r = list_next(&it, e, sizeof(e), err, errlen)) == 1) {
		name = e;
		if ((not = *name == '!'))
			while (isspace((unsigned char)*++name))
				;
		if (!valid_ifname(name) || *name == '!') {
			snprintf(err, errlen, "\"%s\" is not an interface "
			    "name (1-%d characters, no '/', ':' or blanks%s)",
			    e, RULE_IFNAMSIZ - 1, not ? ", after one '!'" :
			    "");
			return (-1);
		}
		for (i = 0; i < cnt; i++) {
			if (strcmp(ifs[i], name) == 0) {
				snprintf(err, errlen, "\"%s\" is listed twice",
				    name);
				return (-1);
			}
		}
		if (cnt == RULE_MAXIFS) {
			snprintf(err, errlen, "more than %d interfaces",
			    RULE_MAXIFS);
			return (-1);
		}
		if (not)
			*neg |= (uint8_t)(1u << cnt);
		/* valid_ifname() bounds it: the copy is whole */
		spi_strlcpy(ifs[cnt++], name, RULE_IFNAMSIZ);
	}
	if (r == -1)
		return (-1);
	*n = cnt;
	return (0);
}

static int
iface_is(const char *pat, const char *name)
{
	size_t		 len = strlen(pat);

	if (len > 0 && pat[len - 1] == '+')
		return (strncmp(pat, name, len - 1) == 0);
	return (strcmp(pat, name) == 0);
}

/* name "" (not known) is none of the names: only negations match it */
int
rule_iface_match(const char ifs[][RULE_IFNAMSIZ], uint8_t n, uint8_t neg,
    const char *name)
{
	uint8_t		 i;
	int		 plain = 0, hit = 0, is;

	if (name == NULL)
		name = "";
	for (i = 0; i < n; i++) {
		is = name[0] != '\0' && iface_is(ifs[i], name);
		if (neg & (1u << i)) {
			if (is)
				return (0);
		} else {
			plain = 1;
			hit |= is;
		}
	}
	return (!plain || hit);
}

/* ---- ICMP types ------------------------------------------------------ */

struct icmp_name {
	const char	*name;
	uint8_t		 type;
};

static const struct icmp_name icmp4_names[] = {
	{ "echo-reply",			0 },
	{ "destination-unreachable",	3 },
	{ "source-quench",		4 },
	{ "redirect",			5 },
	{ "echo-request",		8 },
	{ "router-advertisement",	9 },
	{ "router-solicitation",	10 },
	{ "time-exceeded",		11 },
	{ "parameter-problem",		12 },
	{ "timestamp-request",		13 },
	{ "timestamp-reply",		14 },
	{ "info-request",		15 },
	{ "info-reply",			16 },
	{ "address-mask-request",	17 },
	{ "address-mask-reply",		18 },
	{ NULL,				0 }
};

static const struct icmp_name icmp6_names[] = {
	{ "destination-unreachable",	1 },
	{ "packet-too-big",		2 },
	{ "time-exceeded",		3 },
	{ "parameter-problem",		4 },
	{ "echo-request",		128 },
	{ "echo-reply",			129 },
	{ "mld-listener-query",		130 },
	{ "mld-listener-report",	131 },
	{ "mld-listener-done",		132 },
	{ "router-solicitation",	133 },
	{ "router-advertisement",	134 },
	{ "neighbour-solicitation",	135 },
	{ "neighbor-solicitation",	135 },
	{ "neighbour-advertisement",	136 },
	{ "neighbor-advertisement",	136 },
	{ "redirect",			137 },
	{ "router-renumbering",		138 },
	{ "mld2-listener-report",	143 },
	{ NULL,				0 }
};

int
rule_parse_icmp_types(const char *s, uint8_t proto, uint32_t map[8],
    char *err, size_t errlen)
{
	const struct icmp_name *names;
	struct list_iter it;
	char		 e[ELEMLEN];
	uint32_t	 m[8];
	uint64_t	 n;
	int		 r, type;
	size_t		 i;

	switch (proto) {
	case IPPROTO_ICMP:
		names = icmp4_names;
		break;
	case IPPROTO_ICMPV6:
		names = icmp6_names;
		break;
	default:
		snprintf(err, errlen, "needs proto = icmp or proto = icmpv6");
		return (-1);
	}
	if (is_blank(s)) {
		snprintf(err, errlen, "empty; expected a list of ICMP type "
		    "names or numbers");
		return (-1);
	}
	memset(m, 0, sizeof(m));
	list_init(&it, s);
	while ((r = list_next(&it, e, sizeof(e), err, errlen)) == 1) {
		type = -1;
		for (i = 0; names[i].name != NULL; i++) {
			if (strcasecmp(e, names[i].name) == 0) {
				type = names[i].type;
				break;
			}
		}
		if (type == -1 && rule_parse_dec(e, 255, &n) == 0)
			type = (int)n;
		if (type == -1) {
			snprintf(err, errlen, "\"%s\" is not an %s type name "
			    "or a number 0-255", e,
			    proto == IPPROTO_ICMP ? "ICMP" : "ICMPv6");
			return (-1);
		}
		if (m[type >> 5] & (1u << (type & 31))) {
			snprintf(err, errlen, "\"%s\" is listed twice", e);
			return (-1);
		}
		m[type >> 5] |= 1u << (type & 31);
	}
	if (r == -1)
		return (-1);
	memcpy(map, m, sizeof(m));
	return (0);
}

/* ---- TCP flags --------------------------------------------------------- */

static int
flag_bits(const char *s, size_t len, uint8_t *bits)
{
	static const char letters[] = "FSRPAUEW";	/* bit order */
	const char	*c;
	uint8_t		 b = 0, bit;
	size_t		 i;

	for (i = 0; i < len; i++) {
		if (s[i] == '\0' || (c = strchr(letters, s[i])) == NULL)
			return (-1);
		bit = (uint8_t)(1u << (c - letters));
		if (b & bit)
			return (-1);
		b |= bit;
	}
	*bits = b;
	return (0);
}

int
rule_parse_tcp_flags(const char *s, uint8_t *flags, uint8_t *mask,
    char *err, size_t errlen)
{
	const char	*slash;
	uint8_t		 f, m;

	slash = strchr(s, '/');
	if (slash == NULL || slash[1] == '\0' ||
	    flag_bits(s, (size_t)(slash - s), &f) == -1 ||
	    flag_bits(slash + 1, strlen(slash + 1), &m) == -1) {
		snprintf(err, errlen, "\"%s\" is not flags/mask made of the "
		    "letters FSRPAUEW (e.g. S/SAFR)", s);
		return (-1);
	}
	if ((f & m) != f) {
		snprintf(err, errlen, "\"%s\": a flag left of '/' is not in "
		    "the mask right of it", s);
		return (-1);
	}
	*flags = f;
	*mask = m;
	return (0);
}

/* ---- ports ----------------------------------------------------------- */

static int
cmp_range16(const void *a, const void *b)
{
	const struct range16 *x = a, *y = b;

	return (x->lo < y->lo ? -1 : x->lo > y->lo);
}

/* One port: a number, or a name the table lists for proto.  1: *v set;
   0: not a port; -1: an error in err. */
static int
port_value(const char *e, const struct services *svc, uint8_t proto,
    uint64_t *v, char *err, size_t errlen)
{
	int		 n;

	if (isdigit((unsigned char)e[0]))
		return (rule_parse_dec(e, 65535, v) == 0);
	if ((n = services_port(svc, e, proto, err, errlen)) <= 0)
		return (n);
	*v = (uint64_t)n;
	return (1);
}

/*
 * One element: "22", "ssh", "1000-2000", "ssh-http" or "http-alt" (a
 * name with a dash, which is tried whole first).  1: *lo and *hi set; 0:
 * neither a port nor a range; -1: an error in err.
 */
static int
port_elem(const char *e, const struct services *svc, uint8_t proto,
    uint64_t *lo, uint64_t *hi, char *err, size_t errlen)
{
	const char	*dash, *b;
	char		 a[ELEMLEN];
	uint64_t	 l, h;
	size_t		 n;
	int		 r, ra, found = 0;

	if ((r = port_value(e, svc, proto, lo, err, errlen)) != 0) {
		*hi = *lo;
		return (r);
	}
	for (dash = strchr(e, '-'); dash != NULL; dash = strchr(dash + 1,
	    '-')) {
		for (n = (size_t)(dash - e); n > 0 &&
		    isspace((unsigned char)e[n - 1]); n--)
			;
		memcpy(a, e, n);	/* e is shorter than ELEMLEN */
		a[n] = '\0';
		for (b = dash + 1; isspace((unsigned char)*b); b++)
			;
		if ((ra = port_value(a, svc, proto, &l, err, errlen)) == -1 ||
		    (r = port_value(b, svc, proto, &h, err, errlen)) == -1)
			return (-1);
		if (ra == 0 || r == 0)
			continue;
		if (found) {
			snprintf(err, errlen, "\"%s\" reads as two different "
			    "ranges", e);
			return (-1);
		}
		found = 1;
		*lo = l;
		*hi = h;
	}
	return (found);
}

int
rule_parse_ports(const char *s, struct rule_portset **set, char *err,
    size_t errlen)
{
	return (rule_parse_ports_named(s, NULL, 0, set, err, errlen));
}

int
rule_parse_ports_named(const char *s, const struct services *svc,
    uint8_t proto, struct rule_portset **set, char *err, size_t errlen)
{
	struct list_iter it;
	struct rule_portset *ps;
	struct range16	*r = NULL, *nr;
	char		 e[ELEMLEN];
	char		 (*txt)[ELEMLEN] = NULL, (*ntxt)[ELEMLEN];
	size_t		 n = 0, cap = 0, i, j;
	uint64_t	 lo, hi;
	int		 ret;

	*set = NULL;
	if (is_blank(s))
		return (0);
	list_init(&it, s);
	while ((ret = list_next(&it, e, sizeof(e), err, errlen)) == 1) {
		if (n == cap) {
			cap = cap ? cap * 2 : 8;
			if ((nr = reallocarray(r, cap, sizeof(*r))) == NULL)
				goto nomem;
			r = nr;
			if ((ntxt = reallocarray(txt, cap, sizeof(*txt))) ==
			    NULL)
				goto nomem;
			txt = ntxt;
		}
		spi_strlcpy(txt[n], e, sizeof(txt[n]));	/* both ELEMLEN */
		if ((ret = port_elem(e, svc, proto, &lo, &hi, err, errlen)) ==
		    -1)
			goto fail;
		if (ret == 0)
			goto badport;
		if (lo == 0 || hi == 0) {
			snprintf(err, errlen, "\"%s\": port 0 cannot be "
			    "matched (ports are 1-65535)", txt[n]);
			goto fail;
		}
		if (lo > hi) {
			snprintf(err, errlen, "\"%s\" is an inverted range",
			    txt[n]);
			goto fail;
		}
		r[n].lo = (uint16_t)lo;
		r[n].hi = (uint16_t)hi;
		n++;
	}
	if (ret == -1)
		goto fail;

	/*
	 * Overlaps are mistakes: find them before sorting loses the text.
	 * Quadratic, but lists of ports are short; cap them anyway.
	 */
	if (n > 1024) {
		snprintf(err, errlen, "more than 1024 ports or ranges");
		goto fail;
	}
	for (i = 0; i < n; i++) {
		for (j = i + 1; j < n; j++) {
			if (r[i].lo <= r[j].hi && r[j].lo <= r[i].hi) {
				snprintf(err, errlen, "\"%s\" overlaps \"%s\"",
				    txt[j], txt[i]);
				goto fail;
			}
		}
	}
	qsort(r, n, sizeof(*r), cmp_range16);
	if ((ps = malloc(sizeof(*ps) + n * sizeof(ps->r[0]))) == NULL)
		goto nomem;
	ps->n = n;
	memcpy(ps->r, r, n * sizeof(*r));
	free(r);
	free(txt);
	*set = ps;
	return (0);

 badport:
	snprintf(err, errlen, "\"%s\" is not a port or port range", txt[n]);
	goto fail;
 nomem:
	snprintf(err, errlen, "out of memory");
 fail:
	free(r);
	free(txt);
	return (-1);
}

int
rule_portset_match(const struct rule_portset *set, uint16_t port)
{
	size_t		 lo = 0, hi, mid;

	if (set == NULL)
		return (1);
	hi = set->n;
	/* the last range whose lo <= port */
	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if (set->r[mid].lo <= port)
			lo = mid + 1;
		else
			hi = mid;
	}
	return (lo > 0 && port <= set->r[lo - 1].hi);
}

size_t
rule_portset_count(const struct rule_portset *set)
{
	return (set->n);
}

void
rule_portset_range(const struct rule_portset *set, size_t i, uint16_t *lo,
    uint16_t *hi)
{
	*lo = set->r[i].lo;
	*hi = set->r[i].hi;
}

void
rule_portset_free(struct rule_portset *set)
{
	free(set);
}

/* ---- addresses ------------------------------------------------------- */

struct rvec {
	struct range128	*r;
	size_t		 n, cap;
};

static int
rvec_push(struct rvec *v, u128 lo, u128 hi)
{
	struct range128	*nr;
	size_t		 cap;

	if (v->n == v->cap) {
		cap = v->cap ? v->cap * 2 : 16;
		if ((nr = reallocarray(v->r, cap, sizeof(*nr))) == NULL)
			return (-1);
		v->r = nr;
		v->cap = cap;
	}
	v->r[v->n].lo = lo;
	v->r[v->n].hi = hi;
	v->n++;
	return (0);
}

static int
cmp_range128(const void *a, const void *b)
{
	const struct range128 *x = a, *y = b;

	return (x->lo < y->lo ? -1 : x->lo > y->lo);
}

/* Sort and merge overlapping and adjacent ranges, in place. */
static void
rvec_normalise(struct rvec *v)
{
	size_t		 i, o;

	if (v->n == 0)
		return;
	qsort(v->r, v->n, sizeof(v->r[0]), cmp_range128);
	for (o = 0, i = 1; i < v->n; i++) {
		if (v->r[i].lo <= v->r[o].hi ||
		    (v->r[o].hi != V6_MAX && v->r[i].lo == v->r[o].hi + 1)) {
			if (v->r[i].hi > v->r[o].hi)
				v->r[o].hi = v->r[i].hi;
		} else
			v->r[++o] = v->r[i];
	}
	v->n = o + 1;
}

/* out = p minus n; both normalised. */
static int
rvec_subtract(const struct rvec *p, const struct rvec *n, struct rvec *out)
{
	size_t		 i, j = 0;
	u128		 cur, b;
	int		 done;

	for (i = 0; i < p->n; i++) {
		cur = p->r[i].lo;
		b = p->r[i].hi;
		done = 0;
		while (j < n->n && n->r[j].hi < cur)
			j++;
		while (j < n->n && n->r[j].lo <= b) {
			if (n->r[j].lo > cur &&
			    rvec_push(out, cur, n->r[j].lo - 1) == -1)
				return (-1);
			if (n->r[j].hi >= b) {
				/* it may cover the next positive range too */
				done = 1;
				break;
			}
			cur = n->r[j].hi + 1;
			j++;
		}
		if (!done && rvec_push(out, cur, b) == -1)
			return (-1);
	}
	return (0);
}

static u128
addr_to_u128(uint8_t family, const uint8_t *a)
{
	u128		 v = 0;
	int		 i, n = family == AF_INET ? 4 : 16;

	for (i = 0; i < n; i++)
		v = (v << 8) | a[i];
	return (v);
}

/*
 * One element: ADDR or ADDR/LEN, IPv4 or IPv6.  Host bits set below the
 * prefix are refused: "192.0.2.1/24" is more often a typo for a host than
 * a way to say 192.0.2.0/24, and iptables would silently widen it.
 */
static int
parse_prefix(const char *e, uint8_t *family, u128 *lo, u128 *hi, char *err,
    size_t errlen)
{
	char		 addr[INET6_ADDRSTRLEN + 1], net[INET6_ADDRSTRLEN];
	uint8_t		 buf[16];
	const char	*slash;
	uint64_t	 plen;
	unsigned int	 bits;
	size_t		 len;
	u128		 v, hostmask;
	int		 af, i;

	slash = strchr(e, '/');
	len = slash ? (size_t)(slash - e) : strlen(e);
	if (len == 0 || len >= sizeof(addr))
		goto bad;
	memcpy(addr, e, len);
	addr[len] = '\0';
	if (inet_pton(AF_INET, addr, buf) == 1) {
		af = AF_INET;
		bits = 32;
	} else if (inet_pton(AF_INET6, addr, buf) == 1) {
		af = AF_INET6;
		bits = 128;
	} else
		goto bad;
	plen = bits;
	if (slash != NULL) {
		if (rule_parse_dec(slash + 1, 255, &plen) == -1)
			goto bad;
		if (plen > bits) {
			snprintf(err, errlen, "\"%s\": the prefix length is "
			    "more than %u", e, bits);
			return (-1);
		}
	}
	v = addr_to_u128((uint8_t)af, buf);
	hostmask = plen == bits ? 0 : (plen == 0 ? (af == AF_INET ? V4_MAX :
	    V6_MAX) : (((u128)1 << (bits - plen)) - 1));
	if (v & hostmask) {
		v &= ~hostmask;
		for (i = (int)(bits / 8) - 1; i >= 0; i--)
			buf[i] = (uint8_t)(v >> (8 * (bits / 8 - 1 - i)));
		inet_ntop(af, buf, net, sizeof(net));
		snprintf(err, errlen, "\"%s\" has host bits set (the network "
		    "is %s/%u)", e, net, (unsigned int)plen);
		return (-1);
	}
	*family = (uint8_t)af;
	*lo = v;
	*hi = v | hostmask;
	return (0);
 bad:
	snprintf(err, errlen, "\"%s\" is not an IPv4 or IPv6 address or "
	    "CIDR prefix", e);
	return (-1);
}

int
rule_parse_addrs(const char *s, struct rule_addrset **set, char *err,
    size_t errlen)
{
	struct list_iter it;
	struct rule_addrset *as = NULL;
	struct rvec	 pos4 = { 0 }, pos6 = { 0 }, neg4 = { 0 },
			 neg6 = { 0 }, out4 = { 0 }, out6 = { 0 };
	char		 e[ELEMLEN], *p, *q;
	uint8_t		 family;
	u128		 lo, hi;
	int		 r, neg, ret = -1;

	*set = NULL;
	if (is_blank(s))
		return (0);
	list_init(&it, s);
	while ((r = list_next(&it, e, sizeof(e), err, errlen)) == 1) {
		p = e;
		neg = 0;
		if (*p == '!') {
			neg = 1;
			p++;
			while (isspace((unsigned char)*p))
				p++;
		}
		if (parse_prefix(p, &family, &lo, &hi, err, errlen) == -1)
			goto out;
		if (rvec_push(family == AF_INET ? (neg ? &neg4 : &pos4) :
		    (neg ? &neg6 : &pos6), lo, hi) == -1)
			goto nomem;
	}
	if (r == -1)
		goto out;

	/*
	 * A list without positive elements means "everything but the
	 * negated ones", in both families; otherwise a family without
	 * positive elements matches nothing.
	 */
	if (pos4.n == 0 && pos6.n == 0) {
		if (rvec_push(&pos4, 0, V4_MAX) == -1 ||
		    rvec_push(&pos6, 0, V6_MAX) == -1)
			goto nomem;
	}
	rvec_normalise(&pos4);
	rvec_normalise(&pos6);
	rvec_normalise(&neg4);
	rvec_normalise(&neg6);
	if (rvec_subtract(&pos4, &neg4, &out4) == -1 ||
	    rvec_subtract(&pos6, &neg6, &out6) == -1)
		goto nomem;
	if ((as = calloc(1, sizeof(*as))) == NULL)
		goto nomem;
	if ((as->text = strdup(s)) == NULL) {
		free(as);
		goto nomem;
	}
	for (p = q = as->text; *q != '\0'; q++)
		if (!isspace((unsigned char)*q))
			*p++ = *q;
	*p = '\0';
	as->n4 = out4.n;
	as->r4 = out4.r;
	as->n6 = out6.n;
	as->r6 = out6.r;
	out4.r = out6.r = NULL;
	*set = as;
	ret = 0;
	goto out;
 nomem:
	snprintf(err, errlen, "out of memory");
 out:
	free(pos4.r);
	free(pos6.r);
	free(neg4.r);
	free(neg6.r);
	free(out4.r);
	free(out6.r);
	return (ret);
}

static int
range_find(const struct range128 *r, size_t n, u128 v)
{
	size_t		 lo = 0, hi = n, mid;

	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if (r[mid].lo <= v)
			lo = mid + 1;
		else
			hi = mid;
	}
	return (lo > 0 && v <= r[lo - 1].hi);
}

size_t
rule_addrset_count(const struct rule_addrset *set, uint8_t family)
{
	return (family == AF_INET ? set->n4 : family == AF_INET6 ? set->n6 :
	    0);
}

void
rule_addrset_range(const struct rule_addrset *set, uint8_t family,
    size_t i, rule_u128 *lo, rule_u128 *hi)
{
	const struct range128 *r = family == AF_INET ? set->r4 : set->r6;

	*lo = r[i].lo;
	*hi = r[i].hi;
}

rule_u128
rule_addr_u128(uint8_t family, const union pkt_addr *a)
{
	return (addr_to_u128(family, a->a8));
}

int
rule_addrset_match(const struct rule_addrset *set, uint8_t family,
    const union pkt_addr *a)
{
	if (set == NULL)
		return (1);
	switch (family) {
	case AF_INET:
		return (range_find(set->r4, set->n4,
		    addr_to_u128(AF_INET, a->a8)));
	case AF_INET6:
		return (range_find(set->r6, set->n6,
		    addr_to_u128(AF_INET6, a->a8)));
	default:
		return (0);
	}
}

void
rule_addrset_free(struct rule_addrset *set)
{
	if (set == NULL)
		return;
	free(set->r4);
	free(set->r6);
	free(set->text);
	free(set);
}

int
rule_addrset_set_text(struct rule_addrset *set, const char *text)
{
	char	*t, *p, *q;

	if ((t = strdup(text)) == NULL)
		return (-1);
	for (p = q = t; *q != '\0'; q++)
		if (!isspace((unsigned char)*q))
			*p++ = *q;
	*p = '\0';
	free(set->text);
	set->text = t;
	return (0);
}

const char *
rule_addrset_format(const struct rule_addrset *set)
{
	if (set == NULL)
		return ("any");
	return (set->text);
}

void
rule_clear(struct rule *r)
{
	rule_addrset_free(r->src);
	rule_addrset_free(r->dst);
	rule_portset_free(r->sport);
	rule_portset_free(r->dport);
	r->src = r->dst = NULL;
	r->sport = r->dport = NULL;
}

/* ---- matching ---------------------------------------------------------- */

int
rule_match(const struct rule *r, const struct pkt *p, int state,
    const char *in, const char *out)
{
	int		 has_l4;

	if (state < 0 || state >= CT_STATE_MAX ||
	    (r->states & CT_STATE_BIT(state)) == 0)
		return (0);
	if (r->has_proto && p->proto != r->proto)
		return (0);
	if (!rule_addrset_match(r->src, p->family, &p->src) ||
	    !rule_addrset_match(r->dst, p->family, &p->dst))
		return (0);

	/* A later fragment carries no transport header to look at. */
	has_l4 = p->frag != PKT_FRAG_LATER;
	if (r->sport != NULL || r->dport != NULL) {
		if (!has_l4 ||
		    (p->proto != IPPROTO_TCP && p->proto != IPPROTO_UDP))
			return (0);
		if (!rule_portset_match(r->sport, p->sport) ||
		    !rule_portset_match(r->dport, p->dport))
			return (0);
	}
	if (r->has_icmp_type) {
		if (!has_l4 ||
		    (p->proto != IPPROTO_ICMP && p->proto != IPPROTO_ICMPV6))
			return (0);
		if ((r->icmp_types[p->icmp_type >> 5] &
		    (1u << (p->icmp_type & 31))) == 0)
			return (0);
	}
	if (r->has_tcp_flags) {
		if (!has_l4 || p->proto != IPPROTO_TCP)
			return (0);
		if ((p->th_flags & r->tcp_mask) != r->tcp_flags)
			return (0);
	}
	if (r->nin > 0 && !rule_iface_match(r->in, r->nin, r->in_neg, in))
		return (0);
	if (r->nout > 0 &&
	    !rule_iface_match(r->out, r->nout, r->out_neg, out))
		return (0);
	/* a packet whose chain is not known (--replay) matches none */
	if (r->hooks != 0 && (p->hook == PKT_HOOK_UNKNOWN ||
	    p->hook >= PKT_HOOK_MAX ||
	    (r->hooks & RULE_HOOK_BIT(p->hook)) == 0))
		return (0);
	return (1);
}
