/*
 * divert.h - the diversion rules nfqspid owns ([daemon] divert), as text
 * and as argument vectors; no I/O
 *
 * Copyright (C) 2026 The nfqspid authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * One place says what diverting to our queues means: INPUT except
 * loopback, OUTPUT except loopback, and FORWARD, for IPv4 and IPv6, to
 * queue (or --queue-balance queue:queue+threads-1).  The daemon runs the
 * commands built here (divert_run.c); nfqspictl prints the text.
 *
 * iptables and iptables-nft: chains of our own, nfqspid-input,
 * nfqspid-output and nfqspid-forward in the filter table, each jumped to
 * from the first rule of its built-in chain.  nft: a table of our own,
 * inet nfqspid, with one base chain per hook.  With the fast path on,
 * each chain first accepts the packets the fast path's table marked
 * (fastpath.h), so that they skip the queue.
 */
#ifndef NFQSPI_DIVERT_H
#define NFQSPI_DIVERT_H

#include <stddef.h>
#include <stdint.h>

enum divert_mode {
	DIVERT_NONE = 0,
	DIVERT_IPTABLES,	/* iptables-legacy, ip6tables-legacy */
	DIVERT_IPTABLES_NFT,	/* iptables-nft: the NFQUEUE target, nft backend */
	DIVERT_NFT		/* nft: needs the kernel's nft_queue */
};

struct divert_spec {
	uint8_t		 mode;		/* enum divert_mode */
	uint8_t		 bypass;	/* --queue-bypass: accept while no
					   process reads the queue */
	uint16_t	 queue;		/* first queue */
	uint16_t	 threads;	/* queues queue .. queue + threads - 1 */
	uint8_t		 fastpath;	/* [daemon] fastpath: accept what the
					   fast path marked (FP_BYPASS_MARK)
					   ahead of the queue */
};

enum divert_op {
	DIVERT_OP_INSTALL,	/* make the chains and the jumps to them */
	DIVERT_OP_CHECK,	/* each command fails if its rule is gone,
				   its chain of ours holds another, or its
				   built-in chain jumps to ours not once */
	DIVERT_OP_REMOVE	/* undo INSTALL (each step may fail alone),
				   every copy of a jump */
};

#define DIVERT_WORDS	20
#define DIVERT_WORDLEN	32
#define DIVERT_MAXCMDS	12	/* commands of one op for one family */
#define DIVERT_NFT_TABLE	"nfqspid"

#define DIVERT_EXPECTLEN	256
/*
 * The most deletes of one jump a removal runs: every copy someone added,
 * yet an iptables that says it deleted one each time cannot hold the
 * stop for ever.
 */
#define DIVERT_JUMPS_MAX	16
#define DIVERT_NHOOKS		3	/* INPUT, OUTPUT, FORWARD */
/* a built-in chain's listing: slot 1 + family 4's hooks, then 6's */
#define DIVERT_SLOT(family, hook) \
	(1 + ((family) == 6 ? DIVERT_NHOOKS : 0) + (hook))

/*
 * One command line: argv[0] is the program, looked up in PATH.  A check
 * whose exit status cannot tell lists a chain instead.  One of ours:
 * expect is then its rule lines ('\n' between them), which must be all
 * the rules it lists (divert_listing()).  -C would not do: it finds a
 * rule, but says nothing of another beside it, and ip6tables-legacy's
 * (1.8.9) takes any NFQUEUE target for ours.  A built-in chain (slot):
 * expect is our jump's line, which it must list once among its others
 * (struct divert_jumps): -C finds one, not a second.
 */
struct divert_cmd {
	int		 argc;
	char		 argv[DIVERT_WORDS][DIVERT_WORDLEN];
	char		 expect[DIVERT_EXPECTLEN];	/* "": the status says */
	uint8_t		 slot;		/* 0, or a built-in chain's listing:
					   DIVERT_SLOT() */
	uint8_t		 times;		/* > 1: again while it succeeds, this
					   many times at most */
};

/*
 * What rules of mode with or without bypass are, for the log and status:
 * "with --queue-bypass, removed at the stop" and the like.
 */
const char	*divert_bypass_words(int mode, int bypass);
/* "none", "iptables", "iptables-nft", "nft" */
const char	*divert_mode_name(int mode);
/* hook 0 .. DIVERT_NHOOKS - 1's built-in chain: "INPUT" ...; "?" */
const char	*divert_builtin(int hook);
/* 0 and *mode, or -1 if s names no mode. */
int		 divert_mode_parse(const char *s, uint8_t *mode);

/*
 * The iptables (or ip6tables, family 6) commands of op, for the
 * iptables and iptables-nft modes: fills out[0 .. n-1] and returns n, or
 * -1 if spec's mode is not an iptables one or max is too small.
 */
int	 divert_iptables_cmds(const struct divert_spec *spec, int op,
	    int family, struct divert_cmd *out, size_t max);
/*
 * What turns from's rules into to's, the same but for their bypass
 * (a reload's fail_open), for family's iptables: one iptables-restore
 * --noflush (*cmd, with text on its stdin) whose one transaction puts
 * each of our chains' new queue rule in front of its old one, then
 * deletes the old: never a moment without the diversion, and all of it
 * or nothing (a -D that finds no old rule fails the whole).  Returns
 * the text's length, or -1 if the specs differ otherwise, are not of an
 * iptables mode, or len is too small.
 */
int	 divert_iptables_replace(const struct divert_spec *from,
	    const struct divert_spec *to, int family, struct divert_cmd *cmd,
	    char *text, size_t len);
/*
 * A check's listing (out: what -S printed, its lines as they came) has
 * expect's rule lines and no other, in their order; lines that do not
 * start with '-' (iptables-nft's "# Warning: ...", a warning on stderr)
 * are not rules.  0, or -1 with what differs in why: "no rule \"LINE\""
 * (one of ours is missing) or "unexpected rule \"LINE\"" (the first
 * listed that is not ours, or not in its place).  cut: out is the start
 * of a longer listing, which our rules alone never make: -1, and why
 * names the first whole line not ours in its place ("unexpected rule
 * \"LINE\" in a listing longer than N bytes"), or, where none is,
 * "a listing longer than N bytes".
 */
int	 divert_listing(const char *out, const char *expect, int cut,
	    char *why, size_t len);

/*
 * A built-in chain's listing, read as it comes (however long: a host's
 * FORWARD may hold thousands of rules), for our jump's line (jump, as
 * a check's expect): how many times it is listed, and the rules ("-A")
 * listed before the first.  A rule of another's that jumps (or goes)
 * to our chain too, with matches of its own ("-A FORWARD -i eth0 -j
 * nfqspid-forward"), is no rule ahead: what it matches still reaches
 * our queue.  It is counted in refs (the first in ref), as it keeps
 * -X from deleting our chain.  A line is judged by its start and its
 * end, however long (a comment of 256 characters): ref keeps one of
 * DIVERT_REFLEN characters or fewer whole, a longer one as its first
 * DIVERT_REFHEAD, "..." and its last (where it jumps).  Zeroed, with
 * jump set, before the first divert_jumps_feed().
 */
#define DIVERT_REFLEN	200
#define DIVERT_REFHEAD	100
struct divert_jumps {
	const char	*jump;
	char		 line[DIVERT_EXPECTLEN];	/* the line's start */
	char		 tail[DIVERT_EXPECTLEN];	/* its end, a ring:
							   char i at i %
							   DIVERT_EXPECTLEN */
	size_t		 len;		/* its length, however long */
	unsigned	 jumps;
	unsigned	 ahead;
	unsigned	 refs;
	char		 ref[DIVERT_REFLEN + 1];
};
void	 divert_jumps_feed(struct divert_jumps *j, const char *buf,
	    size_t n);
/*
 * The listing's end: 0 if it had our jump once; -1 if not, with why:
 * "no jump to CHAIN" or "N jumps to CHAIN".
 */
int	 divert_jumps_end(struct divert_jumps *j, char *why, size_t len);
/*
 * After a removal's "-X CHAIN" (x) failed: the listing of the whole
 * table (-S, in *out) whose rules that still jump to CHAIN say why
 * (divert_jumps: refs), expect our own jump's line.  0, or -1 if x is
 * no -X of a chain of ours.
 */
int	 divert_iptables_refs(const struct divert_cmd *x,
	    struct divert_cmd *out);
/*
 * A command that failed, for the log, in err: "LINE: VERB: OUT" and
 * tail after it ("; CHAIN is still referenced by \"LINE\" and more"):
 * OUT (what the command printed, as one line; "": none, and no ": ")
 * is cut to DIVERT_OUTSAID characters, and to what leaves room for the
 * tail, which is always there whole where LINE and VERB leave room.
 */
#define DIVERT_OUTSAID	200
void	 divert_failed(char *err, size_t len, const char *line,
	    const char *verb, const char *out, const char *tail);
/*
 * The nft commands of op: INSTALL is "nft -f -" (its input is
 * divert_nft_text()), CHECK lists our table, REMOVE deletes it.
 */
int	 divert_nft_cmds(int op, struct divert_cmd *out, size_t max);

/*
 * A check's listing of our table (out: what "nft list table" printed)
 * has our chains and our rules, spec's, and no other: as many chains,
 * rules and queue rules as divert_nft_text() makes, counted first; then
 * each chain, in the listing's order, is one of ours by its name, with
 * our type line (hook, priority, policy) and our rules in their order,
 * each in nft's words: the loopback's accept, the fast path's ("meta
 * mark 0x80000000/1 accept", or as loaded), the queue rule with spec's
 * queue (or range) and bypass ("queue flags bypass to 3", "queue num 3
 * bypass").  The table's own lines (a set's, its comment) and a
 * chain's comment are no rules, not counted.  0, or -1 with what
 * differs in why: "table inet nfqspid has N queue rules of 3" (or
 * chains, or rules), else, for the first line not ours in the
 * listing's order, "table inet nfqspid chain CHAIN: " and "unexpected
 * rule \"LINE\"" ("unexpected line \"LINE\"" for its comment), "no
 * rule \"LINE\"" (one of ours of that kind missing, in our words),
 * "unexpected type \"LINE\"" or "no type \"LINE\"", or "table inet
 * nfqspid: unexpected chain \"NAME\"", or, a line of the table's own,
 * "table inet nfqspid: unexpected line \"LINE\"".  cut: out is the
 * start of a longer listing, which our table alone never makes:
 * nothing counted, -1, and why names the first whole line not ours as
 * above with " in a listing longer than N bytes" after it, or, where
 * none is, "table inet nfqspid: a listing longer than N bytes".
 */
int	 divert_nft_listing(const struct divert_spec *spec, const char *out,
	    int cut, char *why, size_t len);

/*
 * The nft -f form, whose first lines replace any earlier copy of our
 * table atomically (nfqspictl nft prints it; divert = nft loads it).
 * Returns the length written (as snprintf, excluding the NUL), or -1 if
 * buf is too small.
 */
int	 divert_nft_text(const struct divert_spec *spec, const char *version,
	    char *buf, size_t len);

/*
 * What the check thread publishes for nfqspictl status and the status
 * page, as one word stored and loaded whole (atomically): a reader never
 * pairs one check's answer with another's count.  Bit 0: whole at the
 * last check; bit 1: the rules carry the bypass (and go at the stop);
 * the bits above: the times put back.
 */
#define DIVERT_ST_INTACT	0x1u
#define DIVERT_ST_BYPASS	0x2u
#define DIVERT_ST_SHIFT		2

static inline uint64_t
divert_st(int intact, int bypass, uint64_t restored)
{
	return ((restored << DIVERT_ST_SHIFT) |
	    (bypass ? DIVERT_ST_BYPASS : 0) |
	    (intact ? DIVERT_ST_INTACT : 0));
}

static inline int
divert_st_bypass(uint64_t st)
{
	return ((st & DIVERT_ST_BYPASS) != 0);
}

static inline int
divert_st_intact(uint64_t st)
{
	return ((st & DIVERT_ST_INTACT) != 0);
}

static inline uint64_t
divert_st_restored(uint64_t st)
{
	return (st >> DIVERT_ST_SHIFT);
}

/*
 * The rules listed before our jump in each built-in chain at the last
 * check that found the diversion whole, as one word too (the check
 * thread stores it, the main thread loads it): 8 bits a slot
 * (DIVERT_SLOT()), DIVERT_AHEAD_MAX for that many or more.  Such a rule
 * decides first: what it accepts or drops skips nfqspid.  Not a
 * damage: tools such as Docker put their jumps at the top, and moving
 * ours back would fight them.
 */
#define DIVERT_AHEAD_MAX	255u

static inline uint64_t
divert_ahead_set(uint64_t w, unsigned slot, unsigned n)
{
	unsigned	 sh = (slot - 1) * 8;

	if (n > DIVERT_AHEAD_MAX)
		n = DIVERT_AHEAD_MAX;
	return ((w & ~((uint64_t)0xff << sh)) | ((uint64_t)n << sh));
}

static inline unsigned
divert_ahead(uint64_t w, unsigned slot)
{
	return ((unsigned)(w >> ((slot - 1) * 8)) & 0xff);
}

#endif /* NFQSPI_DIVERT_H */
