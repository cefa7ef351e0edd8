/*
 * divert.c - the diversion rules nfqspid owns, as argument vectors for
 * iptables/ip6tables (legacy or nft backend) and as an nft ruleset
 *
 * Copyright (C) 2026 The nfqspid authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * Pure: what to run is decided here, running it is divert_run.c's.  The
 * tracker must see both directions of a connection: a host's own
 * replies leave by OUTPUT, a router's both ways cross FORWARD; loopback
 * is left alone.
 */
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "divert.h"
#include "fastpath.h"
#include "strl.h"

/* iptables: what the fast path marked skips the queue */
#define FP_MATCH_IPT	"0x80000000/0x80000000"
_Static_assert(FP_BYPASS_MARK == 0x80000000u, "FP_MATCH_IPT is the bit");

static const char *const mode_names[] = {
	[DIVERT_NONE]		= "none",
	[DIVERT_IPTABLES]	= "iptables",
	[DIVERT_IPTABLES_NFT]	= "iptables-nft",
	[DIVERT_NFT]		= "nft",
};
#define NMODES	(sizeof(mode_names) / sizeof(mode_names[0]))

/* The three hooks: built-in chain, our chain, nft hook, loopback test. */
static const struct hook {
	const char	*builtin;
	const char	*own;
	const char	*nft;
	const char	*lo_opt;	/* iptables: "-i"/"-o", NULL: none */
	const char	*lo_nft;	/* nft: "iifname"/"oifname" */
} hooks[] = {
	{ "INPUT",   "nfqspid-input",   "input",   "-i", "iifname" },
	{ "OUTPUT",  "nfqspid-output",  "output",  "-o", "oifname" },
	{ "FORWARD", "nfqspid-forward", "forward", NULL, NULL },
};
#define NHOOKS	(sizeof(hooks) / sizeof(hooks[0]))
_Static_assert(NHOOKS == DIVERT_NHOOKS, "DIVERT_SLOT() counts them");
_Static_assert(DIVERT_REFLEN <= DIVERT_EXPECTLEN &&
    DIVERT_REFHEAD + 3 < DIVERT_REFLEN, "a ref fits line[] and tail[]");

const char *
divert_mode_name(int mode)
{
	if (mode < 0 || (size_t)mode >= NMODES)
		return ("?");
	return (mode_names[mode]);
}

const char *
divert_builtin(int hook)
{
	if (hook < 0 || (size_t)hook >= NHOOKS)
		return ("?");
	return (hooks[hook].builtin);
}

const char *
divert_bypass_words(int mode, int bypass)
{
	if (mode == DIVERT_NFT)
		return (bypass ? "with bypass, removed at the stop" :
		    "without bypass, kept at the stop");
	return (bypass ? "with --queue-bypass, removed at the stop" :
	    "without --queue-bypass, kept at the stop");
}

int
divert_mode_parse(const char *s, uint8_t *mode)
{
	size_t	 i;

	for (i = 0; i < NMODES; i++)
		if (strcasecmp(s, mode_names[i]) == 0) {
			*mode = (uint8_t)i;
			return (0);
		}
	return (-1);
}

/* Append words (NULL-terminated) to c; -1 if one does not fit. */
static int
cmd_add(struct divert_cmd *c, ...)
{
	va_list		 ap;
	const char	*w;
	int		 rc = 0;

	va_start(ap, c);
	while ((w = va_arg(ap, const char *)) != NULL) {
		if (c->argc >= DIVERT_WORDS ||
		    strlen(w) >= sizeof(c->argv[0])) {
			rc = -1;
			break;
		}
		memcpy(c->argv[c->argc], w, strlen(w) + 1);
		c->argc++;
	}
	va_end(ap);
	return (rc);
}

/* A new command for family's iptables of spec's mode, at out[*n]. */
static struct divert_cmd *
ipt_cmd(const struct divert_spec *spec, int family, struct divert_cmd *out,
    size_t max, size_t *n)
{
	static const char *const prog[2][2] = {
		{ "iptables-legacy", "ip6tables-legacy" },
		{ "iptables-nft", "ip6tables-nft" },
	};
	struct divert_cmd	*c;

	if (*n >= max)
		return (NULL);
	c = &out[(*n)++];
	memset(c, 0, sizeof(*c));
	/* -w: wait for the xtables lock rather than fail beside another
	   iptables (legacy only; the nft backend ignores it) */
	if (cmd_add(c, prog[spec->mode == DIVERT_IPTABLES_NFT][family == 6],
	    "-w", "5", "-t", "filter", (char *)NULL) == -1)
		return (NULL);
	return (c);
}

/* The fast path's rule: -m mark --mark BIT/BIT -j ACCEPT */
static int
ipt_fastpath_rule(struct divert_cmd *c)
{
	return (cmd_add(c, "-m", "mark", "--mark", FP_MATCH_IPT, "-j",
	    "ACCEPT", (char *)NULL));
}

/* The rule of our chain h: [! -i lo] -j NFQUEUE target [--queue-bypass] */
static int
ipt_queue_rule(struct divert_cmd *c, const struct divert_spec *spec,
    const struct hook *h)
{
	char	 range[16];

	if (h->lo_opt != NULL && cmd_add(c, "!", h->lo_opt, "lo",
	    (char *)NULL) == -1)
		return (-1);
	if (cmd_add(c, "-j", "NFQUEUE", (char *)NULL) == -1)
		return (-1);
	if (spec->threads > 1) {
		snprintf(range, sizeof(range), "%u:%u", spec->queue,
		    spec->queue + spec->threads - 1);
		if (cmd_add(c, "--queue-balance", range, (char *)NULL) == -1)
			return (-1);
	} else {
		snprintf(range, sizeof(range), "%u", spec->queue);
		if (cmd_add(c, "--queue-num", range, (char *)NULL) == -1)
			return (-1);
	}
	if (spec->bypass && cmd_add(c, "--queue-bypass", (char *)NULL) == -1)
		return (-1);
	return (0);
}

/* rule's words as one more line of c's expect, at *off */
static int
expect_add(struct divert_cmd *c, size_t *off, const struct divert_cmd *rule)
{
	int	 i;

	for (i = 0; i < rule->argc; i++)
		if (spi_text_add(c->expect, sizeof(c->expect), off, "%s%s",
		    i > 0 ? " " : "\n", rule->argv[i]) == -1)
			return (-1);
	return (0);
}

/*
 * The check of our chain h: -S h, whose listing must be its rules, none
 * more and in their order (divert_cmd's expect), whichever the family.
 * A rule beside ours, even one that -C would take for ours (another
 * queue, the other bypass), means the chain was changed.
 */
static int
ipt_own_listed(struct divert_cmd *c, const struct divert_spec *spec,
    const struct hook *h)
{
	struct divert_cmd	 fp, q;
	size_t			 off = 0;

	memset(&fp, 0, sizeof(fp));
	memset(&q, 0, sizeof(q));
	if (cmd_add(c, "-S", h->own, (char *)NULL) == -1 ||
	    spi_text_add(c->expect, sizeof(c->expect), &off, "-N %s",
	    h->own) == -1 ||
	    cmd_add(&fp, "-A", h->own, (char *)NULL) == -1 ||
	    ipt_fastpath_rule(&fp) == -1 ||
	    cmd_add(&q, "-A", h->own, (char *)NULL) == -1 ||
	    ipt_queue_rule(&q, spec, h) == -1)
		return (-1);
	if (spec->fastpath && expect_add(c, &off, &fp) == -1)
		return (-1);
	return (expect_add(c, &off, &q));
}

/*
 * The check of the jump to our chain of hook i: -S of its built-in
 * chain, which must list our jump once among its other rules.  A second
 * diverts each packet twice, and keeps -X from deleting our chain.
 */
static int
ipt_jump_listed(struct divert_cmd *c, int family, size_t i)
{
	size_t	 off = 0;

	if (cmd_add(c, "-S", hooks[i].builtin, (char *)NULL) == -1 ||
	    spi_text_add(c->expect, sizeof(c->expect), &off, "-A %s -j %s",
	    hooks[i].builtin, hooks[i].own) == -1)
		return (-1);
	c->slot = (uint8_t)DIVERT_SLOT(family, i);
	return (0);
}

/* The rules of our chain h, appended: the fast path's accept first when
   there is one, then the queue. */
static int
ipt_own_rules(const struct divert_spec *spec, int family,
    const struct hook *h, struct divert_cmd *out, size_t max, size_t *n)
{
	struct divert_cmd	*c;

	if (spec->fastpath &&
	    ((c = ipt_cmd(spec, family, out, max, n)) == NULL ||
	    cmd_add(c, "-A", h->own, (char *)NULL) == -1 ||
	    ipt_fastpath_rule(c) == -1))
		return (-1);
	if ((c = ipt_cmd(spec, family, out, max, n)) == NULL ||
	    cmd_add(c, "-A", h->own, (char *)NULL) == -1 ||
	    ipt_queue_rule(c, spec, h) == -1)
		return (-1);
	return (0);
}

int
divert_iptables_cmds(const struct divert_spec *spec, int op, int family,
    struct divert_cmd *out, size_t max)
{
	struct divert_cmd	*c;
	size_t			 n = 0, i;

	if ((spec->mode != DIVERT_IPTABLES &&
	    spec->mode != DIVERT_IPTABLES_NFT) || (family != 4 && family != 6))
		return (-1);
	switch (op) {
	case DIVERT_OP_INSTALL:
		/* chains and their rules first, then the jumps: the
		   diversion starts whole */
		for (i = 0; i < NHOOKS; i++)
			if ((c = ipt_cmd(spec, family, out, max, &n)) == NULL ||
			    cmd_add(c, "-N", hooks[i].own, (char *)NULL) == -1 ||
			    ipt_own_rules(spec, family, &hooks[i], out, max,
			    &n) == -1)
				return (-1);
		for (i = 0; i < NHOOKS; i++)
			if ((c = ipt_cmd(spec, family, out, max, &n)) == NULL ||
			    cmd_add(c, "-I", hooks[i].builtin, "1", "-j",
			    hooks[i].own, (char *)NULL) == -1)
				return (-1);
		break;
	case DIVERT_OP_CHECK:
		for (i = 0; i < NHOOKS; i++) {
			if ((c = ipt_cmd(spec, family, out, max, &n)) == NULL ||
			    ipt_jump_listed(c, family, i) == -1)
				return (-1);
			if ((c = ipt_cmd(spec, family, out, max, &n)) == NULL ||
			    ipt_own_listed(c, spec, &hooks[i]) == -1)
				return (-1);
		}
		break;
	case DIVERT_OP_REMOVE:
		/* the jumps first, every copy: a chain still referenced
		   cannot go */
		for (i = 0; i < NHOOKS; i++) {
			if ((c = ipt_cmd(spec, family, out, max, &n)) == NULL ||
			    cmd_add(c, "-D", hooks[i].builtin, "-j",
			    hooks[i].own, (char *)NULL) == -1)
				return (-1);
			c->times = DIVERT_JUMPS_MAX;
		}
		for (i = 0; i < NHOOKS; i++) {
			if ((c = ipt_cmd(spec, family, out, max, &n)) == NULL ||
			    cmd_add(c, "-F", hooks[i].own, (char *)NULL) == -1)
				return (-1);
			if ((c = ipt_cmd(spec, family, out, max, &n)) == NULL ||
			    cmd_add(c, "-X", hooks[i].own, (char *)NULL) == -1)
				return (-1);
		}
		break;
	default:
		return (-1);
	}
	return ((int)n);
}

/* c's words, each after a space, at text + *off. */
static int
words_add(char *text, size_t len, size_t *off, const struct divert_cmd *c)
{
	int	 i;

	for (i = 0; i < c->argc; i++)
		if (spi_text_add(text, len, off, " %s", c->argv[i]) == -1)
			return (-1);
	return (0);
}

int
divert_iptables_replace(const struct divert_spec *from,
    const struct divert_spec *to, int family, struct divert_cmd *cmd,
    char *text, size_t len)
{
	static const char *const prog[2][2] = {
		{ "iptables-legacy-restore", "ip6tables-legacy-restore" },
		{ "iptables-nft-restore", "ip6tables-nft-restore" },
	};
	struct divert_cmd	 r;
	size_t			 off = 0, i;

	if ((from->mode != DIVERT_IPTABLES &&
	    from->mode != DIVERT_IPTABLES_NFT) || (family != 4 &&
	    family != 6) || to->mode != from->mode ||
	    to->queue != from->queue || to->threads != from->threads ||
	    to->fastpath != from->fastpath || to->bypass == from->bypass)
		return (-1);
	memset(cmd, 0, sizeof(*cmd));
	if (cmd_add(cmd, prog[from->mode == DIVERT_IPTABLES_NFT][family == 6],
	    "-w", "5", "--noflush", (char *)NULL) == -1 ||
	    spi_text_add(text, len, &off, "*filter\n") == -1)
		return (-1);
	for (i = 0; i < NHOOKS; i++) {
		/* in front of the old one, behind the fast path's accept */
		memset(&r, 0, sizeof(r));
		if (ipt_queue_rule(&r, to, &hooks[i]) == -1 ||
		    spi_text_add(text, len, &off, "-I %s %d", hooks[i].own,
		    to->fastpath ? 2 : 1) == -1 ||
		    words_add(text, len, &off, &r) == -1 ||
		    spi_text_add(text, len, &off, "\n-D %s", hooks[i].own) == -1)
			return (-1);
		memset(&r, 0, sizeof(r));
		if (ipt_queue_rule(&r, from, &hooks[i]) == -1 ||
		    words_add(text, len, &off, &r) == -1 ||
		    spi_text_add(text, len, &off, "\n") == -1)
			return (-1);
	}
	if (spi_text_add(text, len, &off, "COMMIT\n") == -1)
		return (-1);
	return ((int)off);
}

/*
 * The next rule line of a listing at or after p, and its length in
 * *len; NULL: none.  Rule lines start with '-' ("-N", "-A"): a comment
 * ("# Warning: iptables-legacy tables present", iptables-nft's) or a
 * warning on stderr is not a rule.
 */
static const char *
rule_next(const char *p, size_t *len)
{
	const char	*e;

	for (; *p != '\0'; p = e + 1) {
		if ((e = strchr(p, '\n')) == NULL)
			e = p + strlen(p);
		if (*p == '-') {
			*len = (size_t)(e - p);
			return (p);
		}
		if (*e == '\0')
			break;
	}
	return (NULL);
}

/* out (a listing, its lines as they came) has the rule line l, whole */
static int
rule_listed(const char *out, const char *l, size_t n)
{
	const char	*p;
	size_t		 k;

	for (p = rule_next(out, &k); p != NULL; p = rule_next(p + k, &k))
		if (k == n && memcmp(p, l, n) == 0)
			return (1);
	return (0);
}

/*
 * divert_listing() of a listing cut short: its last line may be a part,
 * and ours may come after the cut, so only its whole lines are judged,
 * in their order.  Ours fit far below the cut: one that is not ours is
 * always there to name.
 */
static int
listing_cut(const char *out, const char *expect, char *why, size_t len)
{
	const char	*e, *o;
	size_t		 en, on, n = strlen(out);

	e = rule_next(expect, &en);
	for (o = rule_next(out, &on); o != NULL && o[on] == '\n';
	    o = rule_next(o + on, &on)) {
		if (e == NULL || en != on || memcmp(e, o, on) != 0) {
			snprintf(why, len, "unexpected rule \"%.*s\" in a "
			    "listing longer than %zu bytes",
			    on > 180 ? 180 : (int)on, o, n);
			return (-1);
		}
		e = rule_next(e + en, &en);
	}
	snprintf(why, len, "a listing longer than %zu bytes", n);
	return (-1);
}

int
divert_listing(const char *out, const char *expect, int cut, char *why,
    size_t len)
{
	const char	*e, *o;
	size_t		 en, on;

	if (cut)
		return (listing_cut(out, expect, why, len));
	for (e = rule_next(expect, &en); e != NULL; e = rule_next(e + en, &en))
		if (!rule_listed(out, e, en)) {
			snprintf(why, len, "no rule \"%.*s\"", (int)en, e);
			return (-1);
		}
	e = rule_next(expect, &en);
	for (o = rule_next(out, &on); o != NULL; o = rule_next(o + on, &on)) {
		if (e == NULL || en != on || memcmp(e, o, on) != 0) {
			snprintf(why, len, "unexpected rule \"%.*s\"",
			    on > 200 ? 200 : (int)on, o);
			return (-1);
		}
		e = rule_next(e + en, &en);
	}
	if (e != NULL) {
		snprintf(why, len, "no rule \"%.*s\"", (int)en, e);
		return (-1);
	}
	return (0);
}

/* the line's last n chars (n <= its length, DIVERT_EXPECTLEN at most) */
static void
jumps_last(const struct divert_jumps *j, char *buf, size_t n)
{
	size_t	 i;

	for (i = 0; i < n; i++)
		buf[i] = j->tail[(j->len - n + i) % sizeof(j->tail)];
}

/*
 * The line so far is a rule ("-A ") that jumps or goes to our chain,
 * the one jump (as expect's "-A INPUT -j nfqspid-input") names, as its
 * last words: its start and its end tell, however long it is.
 */
static int
jumps_to_own(const struct divert_jumps *j)
{
	char		 end[DIVERT_EXPECTLEN];
	const char	*own;
	size_t		 k;

	if ((own = strstr(j->jump, " -j ")) == NULL)
		return (0);
	own += 4;
	k = strlen(own);
	if (k + 4 > sizeof(end) || j->len < 3 + 4 + k ||
	    memcmp(j->line, "-A ", 3) != 0)
		return (0);
	jumps_last(j, end, k + 4);
	return ((memcmp(end, " -j ", 4) == 0 || memcmp(end, " -g ", 4) == 0) &&
	    memcmp(end + 4, own, k) == 0);
}

/* the first such line as ref: whole, or its start, "..." and its end */
static void
jumps_ref(struct divert_jumps *j)
{
	size_t	 tail = DIVERT_REFLEN - DIVERT_REFHEAD - 3;

	if (j->len <= DIVERT_REFLEN) {
		memcpy(j->ref, j->line, j->len);
		j->ref[j->len] = '\0';
		return;
	}
	memcpy(j->ref, j->line, DIVERT_REFHEAD);
	memcpy(j->ref + DIVERT_REFHEAD, "...", 3);
	jumps_last(j, j->ref + DIVERT_REFHEAD + 3, tail);
	j->ref[DIVERT_REFLEN] = '\0';
}

/* the line so far is over: ours, another's jump to our chain, a rule
   before ours, or another */
static void
jumps_line(struct divert_jumps *j)
{
	size_t	 n = strlen(j->jump);

	if (j->len == n && memcmp(j->line, j->jump, n) == 0) {
		if (j->jumps < UINT_MAX)
			j->jumps++;
	} else if (jumps_to_own(j)) {
		if (j->refs == 0)
			jumps_ref(j);
		if (j->refs < UINT_MAX)
			j->refs++;
	} else if (j->jumps == 0 && j->len >= 3 &&
	    memcmp(j->line, "-A ", 3) == 0 && j->ahead < UINT_MAX)
		j->ahead++;
	j->len = 0;
}

void
divert_jumps_feed(struct divert_jumps *j, const char *buf, size_t n)
{
	size_t	 i;

	for (i = 0; i < n; i++) {
		if (buf[i] == '\n') {
			jumps_line(j);
			continue;
		}
		/* its start, and its end however long it gets */
		if (j->len < sizeof(j->line))
			j->line[j->len] = buf[i];
		j->tail[j->len % sizeof(j->tail)] = buf[i];
		j->len++;
	}
}

int
divert_jumps_end(struct divert_jumps *j, char *why, size_t len)
{
	const char	*own;

	if (j->len > 0)
		jumps_line(j);
	if (j->jumps == 1)
		return (0);
	own = (own = strstr(j->jump, " -j ")) != NULL ? own + 4 : j->jump;
	if (j->jumps == 0)
		snprintf(why, len, "no jump to %s", own);
	else
		snprintf(why, len, "%u jumps to %s", j->jumps, own);
	return (-1);
}

int
divert_iptables_refs(const struct divert_cmd *x, struct divert_cmd *out)
{
	size_t	 i, off = 0;

	if (x->argc < 2 || strcmp(x->argv[x->argc - 2], "-X") != 0)
		return (-1);
	for (i = 0; i < NHOOKS; i++)
		if (strcmp(x->argv[x->argc - 1], hooks[i].own) == 0)
			break;
	if (i == NHOOKS)
		return (-1);
	*out = *x;
	out->argc--;
	memcpy(out->argv[out->argc - 1], "-S", 3);
	out->expect[0] = '\0';
	out->slot = 0;
	out->times = 0;
	return (spi_text_add(out->expect, sizeof(out->expect), &off,
	    "-A %s -j %s", hooks[i].builtin, hooks[i].own));
}

void
divert_failed(char *err, size_t len, const char *line, const char *verb,
    const char *out, const char *tail)
{
	size_t	 fixed = strlen(line) + 2 + strlen(verb) + 2 + strlen(tail);
	size_t	 room = fixed < len ? len - 1 - fixed : 0;

	/* the command's words give way: the tail says what it cannot */
	if (room > DIVERT_OUTSAID)
		room = DIVERT_OUTSAID;
	snprintf(err, len, "%s: %s%s%.*s%s", line, verb,
	    out[0] != '\0' && room > 0 ? ": " : "", (int)room, out, tail);
}

int
divert_nft_cmds(int op, struct divert_cmd *out, size_t max)
{
	struct divert_cmd	*c = out;

	if (max < 1)
		return (-1);
	memset(c, 0, sizeof(*c));
	switch (op) {
	case DIVERT_OP_INSTALL:
		return (cmd_add(c, "nft", "-f", "-", (char *)NULL) == -1 ?
		    -1 : 1);
	case DIVERT_OP_CHECK:
		return (cmd_add(c, "nft", "list", "table", "inet",
		    DIVERT_NFT_TABLE, (char *)NULL) == -1 ? -1 : 1);
	case DIVERT_OP_REMOVE:
		return (cmd_add(c, "nft", "delete", "table", "inet",
		    DIVERT_NFT_TABLE, (char *)NULL) == -1 ? -1 : 1);
	default:
		return (-1);
	}
}

/* spec's queue or range as nft takes it: "3", "3-4" */
static void
nft_queue_num(const struct divert_spec *spec, char *q, size_t len)
{
	if (spec->threads > 1)
		snprintf(q, len, "%u-%u", spec->queue,
		    spec->queue + spec->threads - 1);
	else
		snprintf(q, len, "%u", spec->queue);
}

/*
 * The queue rule nft listed from p to e is ours: queue q, with bypass
 * if spec has it, nothing else.  nft 1.0 lists it "queue flags bypass
 * to 3-4", 0.9 "queue num 3-4 bypass"; a flag but bypass (fanout), or
 * a word of neither, is not ours.
 */
static int
nft_queue_ours(const struct divert_spec *spec, const char *q,
    const char *p, const char *e)
{
	char	 w[32], num[16] = "0", *f, *last;
	size_t	 k;
	int	 bypass = 0, isnum = 0;

	for (p += 5; p < e; p += k) {
		p += strspn(p, " \t");
		if ((k = strcspn(p, " \t\n")) == 0)
			break;
		if (k >= sizeof(w))
			return (0);
		memcpy(w, p, k);
		w[k] = '\0';
		if (isnum) {
			if (spi_strlcpy(num, w, sizeof(num)) >= sizeof(num))
				return (0);
			isnum = 0;
		} else if (strcmp(w, "num") == 0 || strcmp(w, "to") == 0)
			isnum = 1;
		else if (strcmp(w, "flags") != 0)
			for (f = strtok_r(w, ",", &last); f != NULL;
			    f = strtok_r(NULL, ",", &last)) {
				if (strcmp(f, "bypass") != 0)
					return (0);
				bypass = 1;
			}
	}
	return (!isnum && strcmp(num, q) == 0 && bypass == (spec->bypass != 0));
}

/*
 * The next line of a listing at *p (before end), its words from *ls to
 * *le, blanks trimmed at both ends; *p past it.  0: none left.
 */
static int
nft_line(const char **p, const char *end, const char **ls, const char **le)
{
	const char	*e;

	if (*p >= end)
		return (0);
	if ((e = memchr(*p, '\n', (size_t)(end - *p))) == NULL)
		e = end;
	*ls = *p;
	while (*ls < e && (**ls == ' ' || **ls == '\t'))
		(*ls)++;
	*le = e;
	while (*le > *ls && strchr(" \t\r", (*le)[-1]) != NULL)
		(*le)--;
	*p = e < end ? e + 1 : e;
	return (1);
}

/* the words ls..le start with (or are) w */
static int
nft_starts(const char *ls, const char *le, const char *w)
{
	size_t	 n = strlen(w);

	return ((size_t)(le - ls) >= n && memcmp(ls, w, n) == 0);
}

static int
nft_is(const char *ls, const char *le, const char *w)
{
	return ((size_t)(le - ls) == strlen(w) && nft_starts(ls, le, w));
}

/* a chain's frame or nft's comments, not a rule: its type line apart */
static int
nft_frame(const char *ls, const char *le)
{
	return (ls >= le || *ls == '#' || *ls == '}' ||
	    nft_starts(ls, le, "table ") || nft_starts(ls, le, "type "));
}

/*
 * Our rules of a chain, in their order: the loopback's accept (INPUT,
 * OUTPUT), the fast path's (fastpath), the queue.  Each one's first
 * words (its kind, which a chain must hold), its words as we load them,
 * and whether nft's listing of ls..le is it, in nft's words: 1.0.6
 * lists the fast path's "meta mark 0x80000000/1 accept".
 */
enum { NFT_LO, NFT_FP, NFT_QUEUE };

static void
nft_words(const struct divert_spec *spec, const struct hook *h, int kind,
    char *buf, size_t len)
{
	char	 q[16];

	if (kind == NFT_LO)
		snprintf(buf, len, "%s \"lo\" accept", h->lo_nft);
	else if (kind == NFT_FP)
		snprintf(buf, len, "meta mark & 0x%08x == 0x%08x accept",
		    FP_BYPASS_MARK, FP_BYPASS_MARK);
	else {
		nft_queue_num(spec, q, sizeof(q));
		snprintf(buf, len, "queue num %s%s", q,
		    spec->bypass ? " bypass" : "");
	}
}

static int
nft_kind(const struct hook *h, int kind, const char *ls, const char *le)
{
	if (kind == NFT_LO)
		return (nft_starts(ls, le, h->lo_nft) &&
		    nft_starts(ls + strlen(h->lo_nft), le, " "));
	if (kind == NFT_FP)
		return (nft_starts(ls, le, "meta mark "));
	return (nft_starts(ls, le, "queue "));
}

static int
nft_ours(const struct divert_spec *spec, const struct hook *h, int kind,
    const char *ls, const char *le)
{
	char	 w[64], q[16];

	if (kind == NFT_QUEUE) {
		nft_queue_num(spec, q, sizeof(q));
		return (nft_kind(h, kind, ls, le) &&
		    nft_queue_ours(spec, q, ls, le));
	}
	nft_words(spec, h, kind, w, sizeof(w));
	if (nft_is(ls, le, w))
		return (1);
	snprintf(w, sizeof(w), "meta mark 0x%08x/1 accept", FP_BYPASS_MARK);
	return (kind == NFT_FP && nft_is(ls, le, w));
}

/* why = "table inet nfqspid chain NAME: WHAT \"LINE\"" */
static int
nft_why(char *why, size_t len, const char *name, size_t namelen,
    const char *what, const char *ls, const char *le)
{
	snprintf(why, len, "table inet %s chain %.*s: %s \"%.*s\"",
	    DIVERT_NFT_TABLE, (int)namelen, name, what,
	    le - ls > 200 ? 200 : (int)(le - ls), ls);
	return (-1);
}

/*
 * The chain whose line is ls..le, its lines from *p on (*p past them):
 * one of ours by its name, its type line ours (hook, priority, policy:
 * "priority 0" in nft 0.9's words), each of our rules' kinds in it, and
 * then our rules alone, in their order.  cut: the listing was cut short
 * at end, and a chain without its "}" may have more lines past it: its
 * type line and its kinds are not looked for, only what is there judged.
 * 0, or -1 with why.
 */
static int
nft_chain(const struct divert_spec *spec, const char *ls, const char *le,
    const char **p, const char *end, int cut, char *why, size_t len)
{
	const struct hook	*h = NULL;
	const char		*name = ls + 6, *body = *p, *bend, *rs, *re;
	const char		*typ = NULL, *type_e = NULL;
	char			 w[128], alt[128];
	int			 kinds[3], nk = 0, k, found, whole = 0;
	size_t			 namelen, i;

	namelen = strcspn(name, " {\n");
	if (name + namelen > le)
		namelen = (size_t)(le - name);
	/* its lines: up to its "}" */
	for (bend = *p; nft_line(p, end, &rs, &re); bend = *p)
		if (nft_is(rs, re, "}")) {
			whole = 1;
			break;
		}
	cut = cut && !whole;
	for (i = 0; i < NHOOKS; i++)
		if (strlen(hooks[i].nft) == namelen &&
		    memcmp(hooks[i].nft, name, namelen) == 0)
			h = &hooks[i];
	if (h == NULL) {
		snprintf(why, len, "table inet %s: unexpected chain \"%.*s\"",
		    DIVERT_NFT_TABLE, namelen > 64 ? 64 : (int)namelen, name);
		return (-1);
	}
	snprintf(w, sizeof(w), "type filter hook %s priority filter; "
	    "policy accept;", h->nft);
	snprintf(alt, sizeof(alt), "type filter hook %s priority 0; "
	    "policy accept;", h->nft);
	for (*p = body; *p < bend && nft_line(p, bend, &rs, &re);)
		if (nft_starts(rs, re, "type ")) {
			typ = rs;
			type_e = re;
			break;
		}
	if (typ == NULL && !cut)
		return (nft_why(why, len, name, namelen, "no type", w,
		    w + strlen(w)));
	if (typ != NULL && !nft_is(typ, type_e, w) &&
	    !nft_is(typ, type_e, alt))
		return (nft_why(why, len, name, namelen, "unexpected type",
		    typ, type_e));
	if (h->lo_nft != NULL)
		kinds[nk++] = NFT_LO;
	if (spec->fastpath)
		kinds[nk++] = NFT_FP;
	kinds[nk++] = NFT_QUEUE;
	/* each kind there, then each rule ours and in its place */
	for (k = 0; !cut && k < nk; k++) {
		found = 0;
		for (*p = body; !found && nft_line(p, bend, &rs, &re);)
			found = !nft_frame(rs, re) &&
			    nft_kind(h, kinds[k], rs, re);
		if (!found) {
			nft_words(spec, h, kinds[k], w, sizeof(w));
			return (nft_why(why, len, name, namelen, "no rule", w,
			    w + strlen(w)));
		}
	}
	k = 0;
	for (*p = body; nft_line(p, bend, &rs, &re);) {
		if (nft_frame(rs, re))
			continue;
		/* the chain's comment is its own line, no rule */
		if (k >= nk || !nft_ours(spec, h, kinds[k], rs, re))
			return (nft_why(why, len, name, namelen,
			    nft_starts(rs, re, "comment \"") ?
			    "unexpected line" : "unexpected rule", rs, re));
		k++;
	}
	/* past its "}" again */
	*p = bend;
	(void)nft_line(p, end, &rs, &re);
	return (0);
}

/*
 * The listing's lines to end, in their order, each chain as far as it
 * goes (cut: the listing was cut short at end): the first not ours is
 * named in why, a line of the table's own (a set's, a flowtable's, its
 * comment, "flags dormant") as an unexpected line, since it is no
 * rule.  0: all ours, or -1.
 */
static int
nft_walk(const struct divert_spec *spec, const char *out, const char *end,
    int cut, char *why, size_t len)
{
	const char	*p, *ls, *le;

	for (p = out; nft_line(&p, end, &ls, &le);) {
		if (nft_frame(ls, le))
			continue;
		if (nft_starts(ls, le, "chain ")) {
			if (nft_chain(spec, ls, le, &p, end, cut, why,
			    len) == -1)
				return (-1);
			continue;
		}
		snprintf(why, len, "table inet %s: unexpected line \"%.*s\"",
		    DIVERT_NFT_TABLE, le - ls > 200 ? 200 : (int)(le - ls), ls);
		return (-1);
	}
	return (0);
}

/*
 * divert_nft_listing() of a listing cut short (a table stuffed with
 * rules): counts would miss the lines past the cut (our queue rules
 * among them), so none is made; its whole lines are judged in their
 * order, and the first not ours is named, with the listing's length.
 * Ours fit far below the cut: one that is not ours is always there to
 * name, unless it is the part of a line at the cut.
 */
static int
nft_listing_cut(const struct divert_spec *spec, const char *out,
    char *why, size_t len)
{
	const char	*end;
	size_t		 n = strlen(out), off;

	/* the part of a line at the cut is not judged */
	for (end = out + n; end > out && end[-1] != '\n'; end--)
		;
	if (nft_walk(spec, out, end, 1, why, len) == 0)
		snprintf(why, len, "table inet %s: a listing longer than %zu "
		    "bytes", DIVERT_NFT_TABLE, n);
	else if ((off = strlen(why)) < len)
		snprintf(why + off, len - off, " in a listing longer than %zu "
		    "bytes", n);
	return (-1);
}

int
divert_nft_listing(const struct divert_spec *spec, const char *out,
    int cut, char *why, size_t len)
{
	const char	*p, *ls, *le, *end = out + strlen(out);
	size_t		 i;
	unsigned	 chains = 0, rules = 0, queues = 0, want = 0;
	int		 inchain = 0;

	if (cut)
		return (nft_listing_cut(spec, out, why, len));
	for (i = 0; i < NHOOKS; i++)
		want += (hooks[i].lo_nft != NULL) + (spec->fastpath != 0) + 1;
	/* counted first: an added or deleted rule or chain says so; the
	   table's own lines (a set's) and a chain's comment are no rules,
	   and are named below */
	for (p = out; nft_line(&p, end, &ls, &le);) {
		if (nft_starts(ls, le, "chain ")) {
			chains++;
			inchain = 1;
			continue;
		}
		if (inchain && nft_is(ls, le, "}"))
			inchain = 0;
		if (!inchain || nft_frame(ls, le) ||
		    nft_starts(ls, le, "comment \""))
			continue;
		rules++;
		queues += nft_starts(ls, le, "queue ");
	}
	if (queues != NHOOKS)
		snprintf(why, len, "table inet %s has %u queue rules of %zu",
		    DIVERT_NFT_TABLE, queues, NHOOKS);
	else if (chains != NHOOKS)
		snprintf(why, len, "table inet %s has %u chains of %zu",
		    DIVERT_NFT_TABLE, chains, NHOOKS);
	else if (rules != want)
		snprintf(why, len, "table inet %s has %u rules of %u",
		    DIVERT_NFT_TABLE, rules, want);
	else	/* then each line, in the listing's order */
		return (nft_walk(spec, out, end, 0, why, len));
	return (-1);
}

int
divert_nft_text(const struct divert_spec *spec, const char *version,
    char *buf, size_t len)
{
	char	 q[16];
	size_t	 off = 0, i;

	nft_queue_num(spec, q, sizeof(q));
	if (spi_text_add(buf, len, &off,
	    "#!/usr/sbin/nft -f\n"
	    "# nfqspid %s: divert to NFQUEUE %s, loopback excepted%s\n"
	    "# INPUT and OUTPUT: this host's own traffic; FORWARD: what it "
	    "routes\n"
	    "# needs the kernel's nftables queue expression (nft_queue)\n"
	    "# the first two lines replace an earlier copy of this table\n"
	    "table inet " DIVERT_NFT_TABLE "\n"
	    "delete table inet " DIVERT_NFT_TABLE "\n"
	    "table inet " DIVERT_NFT_TABLE " {\n", version, q,
	    spec->bypass ? "\n# bypass: the kernel accepts the packets while "
	    "nfqspid is not running" : "") == -1)
		return (-1);
	for (i = 0; i < NHOOKS; i++) {
		if (spi_text_add(buf, len, &off, "\tchain %s {\n"
		    "\t\ttype filter hook %s priority filter; policy accept;\n",
		    hooks[i].nft, hooks[i].nft) == -1)
			return (-1);
		if (hooks[i].lo_nft != NULL && spi_text_add(buf, len, &off,
		    "\t\t%s \"lo\" accept\n", hooks[i].lo_nft) == -1)
			return (-1);
		if (spec->fastpath && spi_text_add(buf, len, &off,
		    "\t\tmeta mark & 0x%08x == 0x%08x accept\n",
		    FP_BYPASS_MARK, FP_BYPASS_MARK) == -1)
			return (-1);
		if (spi_text_add(buf, len, &off, "\t\tqueue num %s%s\n\t}\n", q,
		    spec->bypass ? " bypass" : "") == -1)
			return (-1);
	}
	if (spi_text_add(buf, len, &off, "}\n") == -1)
		return (-1);
	return ((int)off);
}
