/*
 * ctfilter.c - which connections and events: conntrack(8)'s filters
 *
 * Copyright (C) 2026 The nfqspid authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * Pure (see ctfilter.h).  No getopt: it keeps state in globals, and the
 * daemon parses a client's arguments while other clients wait.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "ct.h"
#include "ctfilter.h"

/* conntrack(8)'s option, its long names and the older KEY= form */
static const struct ctf_opt {
	char		 sopt;		/* -p, or 0 */
	const char	*lopt[2];	/* --proto, or NULL */
	const char	*key;		/* proto=, or NULL */
	uint16_t	 has;		/* CTF_H_* */
} ctf_opts[] = {
	{ 'p', { "proto", NULL }, "proto", CTF_H_PROTO },
	{ 's', { "src", "orig-src" }, "src", CTF_H_SRC },
	{ 'd', { "dst", "orig-dst" }, "dst", CTF_H_DST },
	{ 0, { "sport", "orig-port-src" }, "sport", CTF_H_SPORT },
	{ 0, { "dport", "orig-port-dst" }, "dport", CTF_H_DPORT },
	{ 'f', { "family", NULL }, NULL, CTF_H_FAMILY },
	{ 0, { "state", NULL }, NULL, CTF_H_STATE },
	{ 'm', { "mark", NULL }, NULL, CTF_H_MARK },
	{ 'u', { "status", NULL }, NULL, CTF_H_STATUS },
	{ 'e', { "event-mask", NULL }, NULL, CTF_H_EVENTS },
	{ 'o', { "output", NULL }, NULL, CTF_H_OUTPUT },
};
#define CTF_NOPTS	(sizeof(ctf_opts) / sizeof(ctf_opts[0]))

/* The kernel's TCP_CONNTRACK_* names, in its order (struct ct_view's). */
static const char *const ctf_states[] = {
	"NONE", "SYN_SENT", "SYN_RECV", "ESTABLISHED", "FIN_WAIT",
	"CLOSE_WAIT", "LAST_ACK", "TIME_WAIT", "CLOSE", "SYN_SENT2"
};
#define CTF_NSTATES	(sizeof(ctf_states) / sizeof(ctf_states[0]))
#define CTF_LISTEN	9	/* conntrack(8)'s name for SYN_SENT2 */

static int
ctf_err(char *err, size_t errlen, const char *fmt, ...)
{
	va_list	 ap;

	if (err != NULL && errlen > 0) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return (-1);
}

/* A decimal number up to max: 0, or -1. */
static int
ctf_uint(const char *s, unsigned long max, unsigned long *v)
{
	unsigned long	 n = 0;

	if (*s == '\0')
		return (-1);
	for (; *s != '\0'; s++) {
		if (*s < '0' || *s > '9')
			return (-1);
		n = n * 10 + (unsigned long)(*s - '0');
		if (n > max)
			return (-1);
	}
	*v = n;
	return (0);
}

/* A 32-bit number, decimal or 0x hex, as conntrack takes a mark. */
static int
ctf_u32(const char *s, uint32_t *v)
{
	unsigned long long	 n;
	char			*end;

	if (*s < '0' || *s > '9')
		return (-1);
	n = strtoull(s, &end, 0);
	if (*end != '\0' || n > 0xffffffffULL)
		return (-1);
	*v = (uint32_t)n;
	return (0);
}

static int
ctf_prefix(const char *s, uint8_t *family, union pkt_addr *a,
    uint8_t *plen)
{
	char		 tmp[INET6_ADDRSTRLEN + 8];
	char		*slash;
	unsigned long	 n;
	uint8_t		 max;
	size_t		 len = strlen(s);

	if (len >= sizeof(tmp))
		return (-1);
	memcpy(tmp, s, len + 1);
	if ((slash = strchr(tmp, '/')) != NULL)
		*slash++ = '\0';
	memset(a, 0, sizeof(*a));
	if (inet_pton(AF_INET, tmp, a->a8) == 1) {
		*family = AF_INET;
		max = 32;
	} else if (inet_pton(AF_INET6, tmp, a->a8) == 1) {
		*family = AF_INET6;
		max = 128;
	} else
		return (-1);
	if (slash == NULL)
		n = max;
	else if (ctf_uint(slash, max, &n) == -1)
		return (-1);
	*plen = (uint8_t)n;
	return (0);
}

static int
ctf_proto(const char *s, uint8_t *proto)
{
	unsigned long	 n;

	if (strcasecmp(s, "tcp") == 0)
		*proto = IPPROTO_TCP;
	else if (strcasecmp(s, "udp") == 0)
		*proto = IPPROTO_UDP;
	else if (strcasecmp(s, "icmp") == 0)
		*proto = IPPROTO_ICMP;
	else if (strcasecmp(s, "icmpv6") == 0 ||
	    strcasecmp(s, "ipv6-icmp") == 0)
		*proto = IPPROTO_ICMPV6;
	else if (ctf_uint(s, 255, &n) == 0)
		*proto = (uint8_t)n;
	else
		return (-1);
	return (0);
}

int
ctf_state(const char *name)
{
	size_t	 i;

	if (name == NULL)
		return (-1);
	for (i = 0; i < CTF_NSTATES; i++)
		if (strcasecmp(name, ctf_states[i]) == 0)
			return ((int)i);
	if (strcasecmp(name, "LISTEN") == 0)
		return (CTF_LISTEN);
	return (-1);
}

/*
 * A comma-separated list, each word looked up by fn (an index below 16,
 * or -1): the bits.  Returns 0, or -1 with the bad word in err.
 */
static int
ctf_words(const char *s, int (*fn)(const char *), uint16_t *bits,
    const char *what, char *err, size_t errlen)
{
	char		 word[32];
	const char	*p = s;
	size_t		 len;
	int		 i;

	*bits = 0;
	do {
		len = strcspn(p, ",");
		if (len == 0 || len >= sizeof(word))
			return (ctf_err(err, errlen, "\"%s\" is not a list of "
			    "%s", s, what));
		memcpy(word, p, len);
		word[len] = '\0';
		if ((i = fn(word)) < 0 || i > 15)
			return (ctf_err(err, errlen, "\"%s\" is not one of "
			    "%s", word, what));
		*bits |= (uint16_t)(1u << i);
		p += len;
	} while (*p++ == ',');
	return (0);
}

/* -e: CT_EVENT_* by name, ALL as the three of them */
static int
ctf_event_word(const char *w)
{
	if (strcasecmp(w, "NEW") == 0)
		return (CT_EVENT_NEW);
	if (strcasecmp(w, "UPDATE") == 0)
		return (CT_EVENT_UPDATE);
	if (strcasecmp(w, "DESTROY") == 0)
		return (CT_EVENT_DESTROY);
	if (strcasecmp(w, "ALL") == 0)
		return (0);	/* bit 0 stands for all */
	return (-1);
}

static int
ctf_output_word(const char *w)
{
	return (strcasecmp(w, "timestamp") == 0 ? 0 : -1);
}

static int
ctf_mark(struct ctf *f, const char *v)
{
	char		 tmp[32];
	char		*slash;
	size_t		 len = strlen(v);

	if (len >= sizeof(tmp))
		return (-1);
	memcpy(tmp, v, len + 1);
	f->mark_mask = 0xffffffffu;
	if ((slash = strchr(tmp, '/')) != NULL) {
		*slash++ = '\0';
		if (ctf_u32(slash, &f->mark_mask) == -1)
			return (-1);
	}
	return (ctf_u32(tmp, &f->mark));
}

/*
 * -u: a comma-separated list of status names, each set, or clear with
 * a ! before it (conntrack 1.4.7's form).  UNREPLIED, the word the
 * listing prints, is !SEEN_REPLY.  A bit asked both ways is an error:
 * the filter would match nothing.
 */
static int
ctf_status(struct ctf *f, const char *name, const char *s, char *err,
    size_t errlen)
{
	static const struct {
		const char	*word;
		uint8_t		 bit;
		uint8_t		 set;
	} st[] = {
		{ "ASSURED", CTF_ST_ASSURED, 1 },
		{ "SEEN_REPLY", CTF_ST_SEEN_REPLY, 1 },
		{ "UNREPLIED", CTF_ST_SEEN_REPLY, 0 },
		{ "OFFLOAD", CTF_ST_OFFLOAD, 1 },
	};
	const char	*p = s, *w;
	size_t		 len, k;
	int		 neg, set;

	f->status = f->status_mask = 0;
	do {
		len = strcspn(p, ",");
		w = p;
		if ((neg = (len > 0 && *w == '!')) != 0) {
			w++;
			len--;
		}
		for (k = 0; k < sizeof(st) / sizeof(st[0]); k++)
			if (strlen(st[k].word) == len &&
			    strncasecmp(w, st[k].word, len) == 0)
				break;
		if (k == sizeof(st) / sizeof(st[0]))
			return (ctf_err(err, errlen, "%s: \"%.*s\" is not one "
			    "of the statuses nfqspid has (ASSURED, SEEN_REPLY, "
			    "UNREPLIED, OFFLOAD; ! before one: not that)", name,
			    (int)(len + (size_t)neg), p));
		set = st[k].set ^ neg;
		if ((f->status_mask & st[k].bit) &&
		    ((f->status & st[k].bit) != 0) != set)
			return (ctf_err(err, errlen, "%s: \"%s\" asks for a "
			    "status and its opposite and would match nothing",
			    name, s));
		f->status_mask |= st[k].bit;
		if (set)
			f->status |= st[k].bit;
		p += len + (size_t)neg;
	} while (*p++ == ',');
	return (0);
}

/* The value of one option.  name is the option as typed, for errors. */
static int
ctf_value(struct ctf *f, const struct ctf_opt *o, const char *name,
    const char *v, char *err, size_t errlen)
{
	unsigned long	 n;
	uint16_t	 bits;
	uint8_t		 fam;

	switch (o->has) {
	case CTF_H_PROTO:
		if (ctf_proto(v, &f->proto) == 0)
			return (0);
		return (ctf_err(err, errlen, "%s: \"%s\" is not tcp, udp, "
		    "icmp, icmpv6 or a number", name, v));
	case CTF_H_SRC:
	case CTF_H_DST:
		if (ctf_prefix(v, &fam, o->has == CTF_H_SRC ? &f->src : &f->dst,
		    o->has == CTF_H_SRC ? &f->src_plen : &f->dst_plen) == -1)
			return (ctf_err(err, errlen, "%s: \"%s\" is not an "
			    "address or prefix", name, v));
		if (f->family != 0 && f->family != fam)
			return (ctf_err(err, errlen, "%s: \"%s\" is not of the "
			    "family the other filters name", name, v));
		f->family = fam;
		return (0);
	case CTF_H_SPORT:
	case CTF_H_DPORT:
		if (ctf_uint(v, 65535, &n) == -1)
			return (ctf_err(err, errlen, "%s: \"%s\" is not a "
			    "port", name, v));
		*(o->has == CTF_H_SPORT ? &f->sport : &f->dport) = (uint16_t)n;
		return (0);
	case CTF_H_FAMILY:
		if (strcmp(v, "ipv4") == 0)
			fam = AF_INET;
		else if (strcmp(v, "ipv6") == 0)
			fam = AF_INET6;
		else
			return (ctf_err(err, errlen, "%s: \"%s\" is not ipv4 "
			    "or ipv6", name, v));
		if (f->family != 0 && f->family != fam)
			return (ctf_err(err, errlen, "%s %s: the addresses "
			    "given are of the other family", name, v));
		f->family = fam;
		return (0);
	case CTF_H_STATE:
		return (ctf_words(v, ctf_state, &f->states, "the TCP states "
		    "(SYN_SENT, SYN_RECV, ESTABLISHED, FIN_WAIT, CLOSE_WAIT, "
		    "LAST_ACK, TIME_WAIT, CLOSE, SYN_SENT2)", err, errlen));
	case CTF_H_MARK:
		if (ctf_mark(f, v) == -1)
			return (ctf_err(err, errlen, "%s: \"%s\" is not "
			    "MARK or MARK/MASK", name, v));
		if ((f->mark & ~f->mark_mask) != 0)
			return (ctf_err(err, errlen, "%s: %s has bits outside "
			    "its mask and would match nothing", name, v));
		return (0);
	case CTF_H_STATUS:
		return (ctf_status(f, name, v, err, errlen));
	case CTF_H_EVENTS:
		if (ctf_words(v, ctf_event_word, &bits, "NEW, UPDATE, "
		    "DESTROY, ALL", err, errlen) == -1)
			return (-1);
		f->events = (uint8_t)((bits & 1) ? 0xff : bits);
		return (0);
	case CTF_H_OUTPUT:
		if (ctf_words(v, ctf_output_word, &bits, "the outputs "
		    "nfqspictl has (timestamp)", err, errlen) == -1)
			return (-1);
		f->timestamp = 1;
		return (0);
	}
	return (ctf_err(err, errlen, "%s: not handled", name));
}

/*
 * Which option argv[*i] is, and its value (the rest of the word, or the
 * next word, which *i then skips).  Returns the option or NULL with a
 * message in err.
 */
static const struct ctf_opt *
ctf_lookup(int argc, char *const argv[], int *i, unsigned flags,
    const char **name, const char **val, char *err, size_t errlen)
{
	const char	*a = argv[*i], *eq;
	size_t		 k, nlen;
	int		 form;	/* 0 -x, 1 --long, 2 key= */

	if (a[0] == '-' && a[1] == '-' && a[2] != '\0') {
		form = 1;
		eq = strchr(a + 2, '=');
		nlen = eq != NULL ? (size_t)(eq - a - 2) : strlen(a + 2);
	} else if (a[0] == '-' && a[1] != '\0') {
		form = 0;
		eq = a[2] != '\0' ? a + 1 : NULL;	/* -ptcp */
		nlen = 1;
	} else if ((flags & CTF_F_KEYVAL) && (eq = strchr(a, '=')) != NULL) {
		form = 2;
		nlen = (size_t)(eq - a);
	} else {
		ctf_err(err, errlen, "unexpected \"%s\" (see nfqspictl(8) "
		    "for the filters)", a);
		return (NULL);
	}
	for (k = 0; k < CTF_NOPTS; k++) {
		const struct ctf_opt *o = &ctf_opts[k];
		const char	*n0 = o->lopt[0], *n1 = o->lopt[1];

		if ((form == 0 && o->sopt == a[1]) ||
		    (form == 1 && ((strlen(n0) == nlen &&
		    strncmp(a + 2, n0, nlen) == 0) || (n1 != NULL &&
		    strlen(n1) == nlen && strncmp(a + 2, n1, nlen) == 0))) ||
		    (form == 2 && o->key != NULL && strlen(o->key) == nlen &&
		    strncmp(a, o->key, nlen) == 0))
			break;
	}
	if (k == CTF_NOPTS) {
		ctf_err(err, errlen, "unknown %s \"%.*s\"", form == 2 ? "key" :
		    "option", (int)(nlen + (form == 1 ? 2 : form == 0)), a);
		return (NULL);
	}
	*name = a;
	if (eq != NULL)
		*val = eq + 1;
	else if (*i + 1 < argc && argv[*i + 1] != NULL)
		*val = argv[++*i];
	else {
		ctf_err(err, errlen, "%s needs a value", a);
		return (NULL);
	}
	return (&ctf_opts[k]);
}

int
ctf_parse(struct ctf *f, int argc, char *const argv[], unsigned flags,
    char *err, size_t errlen)
{
	const struct ctf_opt *o;
	const char	*name, *val;
	char		 nbuf[24];
	uint16_t	 seen = 0;
	int		 i;

	memset(f, 0, sizeof(*f));
	for (i = 0; i < argc; i++) {
		if (argv[i] == NULL || argv[i][0] == '\0')
			return (ctf_err(err, errlen, "an empty argument"));
		if ((o = ctf_lookup(argc, argv, &i, flags, &name, &val, err,
		    errlen)) == NULL)
			return (-1);
		/* the name alone, for messages: "--src", "-s", "src" */
		snprintf(nbuf, sizeof(nbuf), "%.*s", (int)strcspn(name, "="),
		    name);
		if (name[0] == '-' && name[1] != '-')
			nbuf[2] = '\0';
		if ((o->has & (CTF_H_EVENTS | CTF_H_OUTPUT)) &&
		    !(flags & CTF_F_EVENTS))
			return (ctf_err(err, errlen, "%s is for events only",
			    nbuf));
		if (seen & o->has)
			return (ctf_err(err, errlen, "%s given twice", nbuf));
		seen |= o->has;
		if (ctf_value(f, o, nbuf, val, err, errlen) == -1)
			return (-1);
	}
	f->has = seen;
	if (f->family != 0)
		f->has |= CTF_H_FAMILY;
	if ((flags & CTF_F_NEEDONE) && !(f->has & CTF_H_CONN))
		return (ctf_err(err, errlen, "which connections? give at "
		    "least one filter (flush removes all)"));
	return (0);
}

static int
ctf_prefix_match(const union pkt_addr *p, uint8_t plen,
    const union pkt_addr *a)
{
	unsigned	 bytes = plen / 8, bits = plen % 8;
	uint8_t		 mask;

	if (memcmp(p->a8, a->a8, bytes) != 0)
		return (0);
	if (bits == 0)
		return (1);
	mask = (uint8_t)(0xff << (8 - bits));
	return ((p->a8[bytes] & mask) == (a->a8[bytes] & mask));
}

int
ctf_match(const struct ctf *f, const struct ct_view *v)
{
	if ((f->has & CTF_H_FAMILY) && v->family != f->family)
		return (0);
	if ((f->has & CTF_H_PROTO) && v->proto != f->proto)
		return (0);
	/* Ports mean something only for the protocols that have them. */
	if ((f->has & (CTF_H_SPORT | CTF_H_DPORT)) &&
	    v->proto != IPPROTO_TCP && v->proto != IPPROTO_UDP)
		return (0);
	if ((f->has & CTF_H_SPORT) && v->orig.sport != f->sport)
		return (0);
	if ((f->has & CTF_H_DPORT) && v->orig.dport != f->dport)
		return (0);
	if ((f->has & CTF_H_SRC) &&
	    !ctf_prefix_match(&f->src, f->src_plen, &v->orig.src))
		return (0);
	if ((f->has & CTF_H_DST) &&
	    !ctf_prefix_match(&f->dst, f->dst_plen, &v->orig.dst))
		return (0);
	if ((f->has & CTF_H_STATE) && (v->proto != IPPROTO_TCP ||
	    v->state >= CTF_NSTATES || !(f->states & (1u << v->state))))
		return (0);
	if ((f->has & CTF_H_MARK) && (v->mark & f->mark_mask) != f->mark)
		return (0);
	if ((f->has & CTF_H_STATUS) &&
	    (ctf_status_bits(v) & f->status_mask) != f->status)
		return (0);
	return (1);
}

unsigned
ctf_status_bits(const struct ct_view *v)
{
	unsigned	 bits = 0;

	if (!(v->flags & CT_VIEW_UNREPLIED))
		bits |= CTF_ST_SEEN_REPLY;
	if (v->flags & CT_VIEW_ASSURED)
		bits |= CTF_ST_ASSURED;
	if (v->flags & CT_VIEW_OFFLOAD)
		bits |= CTF_ST_OFFLOAD;
	return (bits);
}

int
ctf_event(const struct ctf *f, int event)
{
	if (!(f->has & CTF_H_EVENTS))
		return (1);
	return (event > 0 && event < 8 && (f->events & (1u << event)) != 0);
}
