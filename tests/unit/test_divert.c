/*
 * test_divert.c - cmocka tests for divert.c: the iptables commands and
 * the nft ruleset of [daemon] divert, word for word
 *
 * Copyright (C) 2026 The nfqspid authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "divert.h"

/* The command as one line, words separated by one space. */
static const char *
line(const struct divert_cmd *c)
{
	static char	 buf[DIVERT_WORDS * DIVERT_WORDLEN];
	size_t		 off = 0;
	int		 i;

	buf[0] = '\0';
	for (i = 0; i < c->argc; i++) {
		int n = snprintf(buf + off, sizeof(buf) - off, "%s%s",
		    i ? " " : "", c->argv[i]);

		assert_true(n > 0 && (size_t)n < sizeof(buf) - off);
		off += (size_t)n;
	}
	return (buf);
}

/*
 * Our nft table, as nft lists it and as divert_nft_text() writes it,
 * into buf: the queue rule of chain input, output and forward, and sep
 * ("" or "\n") after the first two chains.
 */
static void
nft_table(char *buf, size_t size, const char *sep, const char *in,
    const char *out, const char *fwd)
{
	int	 n;

	n = snprintf(buf, size,
	    "table inet nfqspid {\n"
	    "\tchain input {\n"
	    "\t\ttype filter hook input priority filter; policy accept;\n"
	    "\t\tiifname \"lo\" accept\n"
	    "\t\t%s\n"
	    "\t}\n%s"
	    "\tchain output {\n"
	    "\t\ttype filter hook output priority filter; policy accept;\n"
	    "\t\toifname \"lo\" accept\n"
	    "\t\t%s\n"
	    "\t}\n%s"
	    "\tchain forward {\n"
	    "\t\ttype filter hook forward priority filter; policy accept;\n"
	    "\t\t%s\n"
	    "\t}\n"
	    "}\n", in, sep, out, sep, fwd);
	assert_true(n > 0 && (size_t)n < size);
}

/* case i of a table: divert_nft_listing()'s answer on buf (cut: read
   short at 2047 bytes), 0 where want is NULL, else -1 with want as why */
static void
nft_case(size_t i, const struct divert_spec *s, const char *buf, int cut,
    const char *want)
{
	char	 why[512];
	int	 rc;

	why[0] = '\0';
	rc = divert_nft_listing(s, buf, cut, why, sizeof(why));
	if (want == NULL) {
		if (rc != 0)
			fail_msg("case %zu: %s", i, why);
	} else if (rc != -1 || strcmp(why, want) != 0)
		fail_msg("case %zu: %d \"%s\"", i, rc, why);
}

static void
test_mode_names(void **state __attribute__((unused)))
{
	static const char *const names[] = {
		"none", "iptables", "iptables-nft", "nft"
	};
	uint8_t		 m;
	int		 i;

	for (i = 0; i < 4; i++) {
		assert_int_equal(divert_mode_parse(names[i], &m), 0);
		assert_int_equal(m, i);
		assert_string_equal(divert_mode_name(i), names[i]);
	}
	assert_int_equal(divert_mode_parse("NFT", &m), 0);
	assert_int_equal(m, DIVERT_NFT);
	m = 77;
	assert_int_equal(divert_mode_parse("ip6tables", &m), -1);
	assert_int_equal(divert_mode_parse("", &m), -1);
	assert_int_equal(m, 77);
	assert_string_equal(divert_mode_name(4), "?");
	assert_string_equal(divert_mode_name(-1), "?");
}

/* The check thread's word: the answer and the count go together. */
static void
test_state_word(void **state __attribute__((unused)))
{
	uint64_t	 st;

	st = divert_st(1, 0, 0);
	assert_true(divert_st_intact(st));
	assert_false(divert_st_bypass(st));
	assert_int_equal(divert_st_restored(st), 0);
	st = divert_st(0, 1, 7);
	assert_false(divert_st_intact(st));
	assert_true(divert_st_bypass(st));
	assert_int_equal(divert_st_restored(st), 7);
	st = divert_st(1, 1, UINT64_MAX >> DIVERT_ST_SHIFT);
	assert_true(divert_st_intact(st));
	assert_true(divert_st_bypass(st));
	assert_true(divert_st_restored(st) == UINT64_MAX >> DIVERT_ST_SHIFT);
}

/* The rules ahead of our jumps: a byte a slot, the most said so. */
static void
test_ahead_word(void **state __attribute__((unused)))
{
	uint64_t	 w = 0;
	unsigned	 slot;

	for (slot = 1; slot <= 2 * DIVERT_NHOOKS; slot++)
		w = divert_ahead_set(w, slot, slot * 10);
	for (slot = 1; slot <= 2 * DIVERT_NHOOKS; slot++)
		assert_int_equal(divert_ahead(w, slot), slot * 10);
	w = divert_ahead_set(w, DIVERT_SLOT(6, 2), 1000);
	assert_int_equal(divert_ahead(w, 6), DIVERT_AHEAD_MAX);
	w = divert_ahead_set(w, DIVERT_SLOT(4, 0), 0);
	assert_int_equal(divert_ahead(w, 1), 0);
	assert_int_equal(divert_ahead(w, 2), 20);
	assert_int_equal(divert_ahead(w, 5), 50);
	assert_int_equal(DIVERT_SLOT(4, 1), 2);
	assert_int_equal(DIVERT_SLOT(6, 1), 5);
	assert_string_equal(divert_builtin(0), "INPUT");
	assert_string_equal(divert_builtin(2), "FORWARD");
	assert_string_equal(divert_builtin(3), "?");
	assert_string_equal(divert_builtin(-1), "?");
}

static void
test_iptables_install(void **state __attribute__((unused)))
{
	static const char *const want[] = {
		"iptables-legacy -w 5 -t filter -N nfqspid-input",
		"iptables-legacy -w 5 -t filter -A nfqspid-input ! -i lo -j NFQUEUE --queue-num 7 --queue-bypass",
		"iptables-legacy -w 5 -t filter -N nfqspid-output",
		"iptables-legacy -w 5 -t filter -A nfqspid-output ! -o lo -j NFQUEUE --queue-num 7 --queue-bypass",
		"iptables-legacy -w 5 -t filter -N nfqspid-forward",
		"iptables-legacy -w 5 -t filter -A nfqspid-forward -j NFQUEUE --queue-num 7 --queue-bypass",
		"iptables-legacy -w 5 -t filter -I INPUT 1 -j nfqspid-input",
		"iptables-legacy -w 5 -t filter -I OUTPUT 1 -j nfqspid-output",
		"iptables-legacy -w 5 -t filter -I FORWARD 1 -j nfqspid-forward",
	};
	struct divert_spec	 s = { DIVERT_IPTABLES, 1, 7, 1, 0 };
	struct divert_cmd	 c[DIVERT_MAXCMDS];
	int			 n, i;

	n = divert_iptables_cmds(&s, DIVERT_OP_INSTALL, 4, c, DIVERT_MAXCMDS);
	assert_int_equal(n, 9);
	for (i = 0; i < n; i++)
		assert_string_equal(line(&c[i]), want[i]);
}

/* threads > 1: balanced over the range; fail-closed: no bypass; IPv6 */
static void
test_iptables_balance_closed_v6(void **state __attribute__((unused)))
{
	struct divert_spec	 s = { DIVERT_IPTABLES_NFT, 0, 10, 4, 0 };
	struct divert_cmd	 c[DIVERT_MAXCMDS];
	int			 n;

	n = divert_iptables_cmds(&s, DIVERT_OP_INSTALL, 6, c, DIVERT_MAXCMDS);
	assert_int_equal(n, 9);
	assert_string_equal(line(&c[1]), "ip6tables-nft -w 5 -t filter -A "
	    "nfqspid-input ! -i lo -j NFQUEUE --queue-balance 10:13");
	assert_string_equal(line(&c[5]), "ip6tables-nft -w 5 -t filter -A "
	    "nfqspid-forward -j NFQUEUE --queue-balance 10:13");
	s.mode = DIVERT_IPTABLES;
	n = divert_iptables_cmds(&s, DIVERT_OP_INSTALL, 4, c, DIVERT_MAXCMDS);
	assert_string_equal(c[0].argv[0], "iptables-legacy");
	n = divert_iptables_cmds(&s, DIVERT_OP_INSTALL, 6, c, DIVERT_MAXCMDS);
	assert_string_equal(c[0].argv[0], "ip6tables-legacy");
	(void)n;
}

static void
test_iptables_check_remove(void **state __attribute__((unused)))
{
	/* the jumps among others' rules: the built-in chains listed, our
	   jump's line in each; our chains: listed whole */
	static const char *const check[] = {
		"-S INPUT",
		"-S nfqspid-input",
		"-S OUTPUT",
		"-S nfqspid-output",
		"-S FORWARD",
		"-S nfqspid-forward",
	};
	static const char *const expect[] = {
		"-A INPUT -j nfqspid-input",
		"-N nfqspid-input\n"
		"-A nfqspid-input ! -i lo -j NFQUEUE --queue-num 0 --queue-bypass",
		"-A OUTPUT -j nfqspid-output",
		"-N nfqspid-output\n"
		"-A nfqspid-output ! -o lo -j NFQUEUE --queue-num 0 --queue-bypass",
		"-A FORWARD -j nfqspid-forward",
		"-N nfqspid-forward\n"
		"-A nfqspid-forward -j NFQUEUE --queue-num 0 --queue-bypass",
	};
	/* each built-in chain's slot; 0: a chain of ours */
	static const uint8_t slot4[] = { 1, 0, 2, 0, 3, 0 };
	static const uint8_t slot6[] = { 4, 0, 5, 0, 6, 0 };
	/* jumps before chains: a referenced chain cannot be deleted */
	static const char *const remove[] = {
		"-D INPUT -j nfqspid-input",
		"-D OUTPUT -j nfqspid-output",
		"-D FORWARD -j nfqspid-forward",
		"-F nfqspid-input", "-X nfqspid-input",
		"-F nfqspid-output", "-X nfqspid-output",
		"-F nfqspid-forward", "-X nfqspid-forward",
	};
	static const char prefix[] = "iptables-nft -w 5 -t filter ";
	struct divert_spec	 s = { DIVERT_IPTABLES_NFT, 1, 0, 1, 0 };
	struct divert_cmd	 c[DIVERT_MAXCMDS];
	int			 n, i;

	n = divert_iptables_cmds(&s, DIVERT_OP_CHECK, 4, c, DIVERT_MAXCMDS);
	assert_int_equal(n, 6);
	for (i = 0; i < n; i++) {
		assert_memory_equal(line(&c[i]), prefix, strlen(prefix));
		assert_string_equal(line(&c[i]) + strlen(prefix), check[i]);
		assert_string_equal(c[i].expect, expect[i]);
		assert_int_equal(c[i].slot, slot4[i]);
		assert_int_equal(c[i].times, 0);
	}
	/* IPv6 the same: ip6tables-legacy -C takes any NFQUEUE for ours */
	n = divert_iptables_cmds(&s, DIVERT_OP_CHECK, 6, c, DIVERT_MAXCMDS);
	assert_int_equal(n, 6);
	for (i = 0; i < n; i++) {
		assert_string_equal(c[i].argv[0], "ip6tables-nft");
		assert_string_equal(c[i].expect, expect[i]);
		assert_int_equal(c[i].slot, slot6[i]);
	}
	/* every copy of a jump, DIVERT_JUMPS_MAX at most; a chain once */
	n = divert_iptables_cmds(&s, DIVERT_OP_REMOVE, 4, c, DIVERT_MAXCMDS);
	assert_int_equal(n, 9);
	for (i = 0; i < n; i++) {
		assert_string_equal(line(&c[i]) + strlen(prefix), remove[i]);
		assert_int_equal(c[i].times, i < 3 ? DIVERT_JUMPS_MAX : 0);
		assert_int_equal(c[i].slot, 0);
		assert_string_equal(c[i].expect, "");
	}
}

/* feed s to a fresh counter of jump, in pieces of step bytes */
static int
jumps_of(const char *s, size_t step, struct divert_jumps *j, char *why,
    size_t len)
{
	static const char jump[] = "-A FORWARD -j nfqspid-forward";
	size_t		 off, n = strlen(s);

	memset(j, 0, sizeof(*j));
	j->jump = jump;
	for (off = 0; off < n; off += step)
		divert_jumps_feed(j, s + off, n - off < step ? n - off : step);
	return (divert_jumps_end(j, why, len));
}

/*
 * A built-in chain's listing: our jump's line counted, whole lines only,
 * however the output comes in pieces; the rules before the first.
 */
static void
test_jumps(void **state __attribute__((unused)))
{
	struct divert_jumps	 j;
	char			 why[256], big[8192];
	size_t			 step, off;

	for (step = 1; step <= 64; step++) {
		assert_int_equal(jumps_of("-P FORWARD ACCEPT\n"
		    "-A FORWARD -j nfqspid-forward\n", step, &j, why,
		    sizeof(why)), 0);
		assert_int_equal(j.ahead, 0);
		/* iptables-nft's comment, another's rule ahead, no final
		   newline */
		assert_int_equal(jumps_of("# Warning: iptables-legacy tables "
		    "present\n-P FORWARD DROP\n-A FORWARD -j DOCKER-USER\n"
		    "-A FORWARD -i eth0 -j ACCEPT\n"
		    "-A FORWARD -j nfqspid-forward\n"
		    "-A FORWARD -j ACCEPT", step, &j, why, sizeof(why)), 0);
		assert_int_equal(j.ahead, 2);
		/* a second copy, after another rule */
		assert_int_equal(jumps_of("-P FORWARD ACCEPT\n"
		    "-A FORWARD -j nfqspid-forward\n-A FORWARD -j ACCEPT\n"
		    "-A FORWARD -j nfqspid-forward\n", step, &j, why,
		    sizeof(why)), -1);
		assert_string_equal(why, "2 jumps to nfqspid-forward");
		assert_int_equal(j.ahead, 0);
	}
	/* none: a jump of another's, one with more to it, one longer */
	assert_int_equal(jumps_of("-P FORWARD ACCEPT\n"
	    "-A FORWARD -i eth0 -j nfqspid-forward\n"
	    "-A FORWARD -j nfqspid-forward2\n"
	    "-A FORWARD -j nfqspid-forwar\n", 7, &j, why, sizeof(why)), -1);
	assert_string_equal(why, "no jump to nfqspid-forward");
	/* the one with more to it jumps to our chain: not ahead */
	assert_int_equal(j.ahead, 2);
	assert_int_equal(j.refs, 1);
	assert_string_equal(j.ref, "-A FORWARD -i eth0 -j nfqspid-forward");
	/* another's jumps (or goto) to our chain ahead of ours, in
	   chunks: none ahead but the one rule of another kind */
	for (step = 1; step <= 64; step++) {
		assert_int_equal(jumps_of("-P FORWARD ACCEPT\n"
		    "-A FORWARD -i eth0 -j nfqspid-forward\n"
		    "-A FORWARD -s 192.0.2.1/32 -j ACCEPT\n"
		    "-A FORWARD -o eth1 -g nfqspid-forward\n"
		    "-A FORWARD -j nfqspid-forward\n"
		    "-A FORWARD -i eth2 -j nfqspid-forward", step, &j, why,
		    sizeof(why)), 0);
		assert_int_equal(j.ahead, 1);
		assert_int_equal(j.jumps, 1);
		assert_int_equal(j.refs, 3);
		assert_string_equal(j.ref,
		    "-A FORWARD -i eth0 -j nfqspid-forward");
	}
	assert_int_equal(jumps_of("", 1, &j, why, sizeof(why)), -1);
	assert_string_equal(why, "no jump to nfqspid-forward");
	/* a listing far longer than the log keeps, lines longer than a
	   line of ours among it: ours at its end still counts */
	off = 0;
	memset(big, 'x', 600);
	memcpy(big, "-A FORWARD ", 11);
	big[600] = '\n';
	off = 601;
	while (off + 40 < sizeof(big) - 64) {
		memcpy(big + off, "-A FORWARD -s 10.0.0.1/32 -j ACCEPT\n", 36);
		off += 36;
	}
	memcpy(big + off, "-A FORWARD -j nfqspid-forward\n", 31);
	for (step = 1; step <= 256; step *= 4) {
		assert_int_equal(jumps_of(big, step, &j, why, sizeof(why)), 0);
		assert_int_equal(j.ahead, 1 + (off - 601) / 36);
	}
	/* the line too long for line[], ending as ours: not ours */
	memset(big, ' ', 1000);
	memcpy(big + 1000, "-A FORWARD -j nfqspid-forward", 30);
	assert_int_equal(jumps_of(big, 100, &j, why, sizeof(why)), -1);
	/* many: counted, said */
	big[0] = '\0';
	for (off = 0; off < 20; off++)
		strcat(big, "-A FORWARD -j nfqspid-forward\n");
	assert_int_equal(jumps_of(big, 3, &j, why, sizeof(why)), -1);
	assert_string_equal(why, "20 jumps to nfqspid-forward");
}

/*
 * A rule line longer than a line of ours (an operator's jump with a
 * comment of 256 characters) is judged by its start and its end, in
 * pieces of any size: a jump to our chain is a ref, not a rule ahead,
 * and named by its start and its end.
 */
static void
test_jumps_long(void **state __attribute__((unused)))
{
	static const size_t	 lens[] = { 180, 230, 257, 300, 1000, 5000 };
	struct divert_jumps	 j;
	char			 why[256], big[16384], ref[DIVERT_REFLEN + 1];
	char			 cmt[8192];
	size_t			 step, i, n, c;

	for (i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
		/* "-A FORWARD -i eth0 -m comment --comment "xx..x" -j
		   nfqspid-forward" of lens[i] characters */
		c = lens[i] - strlen("-A FORWARD -i eth0 -m comment "
		    "--comment \"\" -j nfqspid-forward");
		memset(cmt, 'x', c);
		cmt[c] = '\0';
		cmt[c / 2] = 'y';
		n = (size_t)snprintf(big, sizeof(big), "-P FORWARD ACCEPT\n"
		    "-A FORWARD -i eth0 -m comment --comment \"%s\" -j "
		    "nfqspid-forward\n"
		    "-A FORWARD -s 192.0.2.1/32 -m comment --comment \"%s\" "
		    "-j ACCEPT\n"
		    "-A FORWARD -o eth1 -m comment --comment \"%s\" -g "
		    "nfqspid-forward\n"
		    "-A FORWARD -j nfqspid-forward\n", cmt, cmt, cmt);
		assert_true(n < sizeof(big));
		if (lens[i] <= DIVERT_REFLEN) {
			memcpy(ref, big + 18, lens[i]);
			ref[lens[i]] = '\0';
		} else
			snprintf(ref, sizeof(ref), "%.*s...%s", DIVERT_REFHEAD,
			    big + 18, big + 18 + lens[i] -
			    (DIVERT_REFLEN - DIVERT_REFHEAD - 3));
		assert_int_equal(strlen(ref), lens[i] <= DIVERT_REFLEN ?
		    lens[i] : DIVERT_REFLEN);
		for (step = 1; step <= 4096; step *= 2) {
			assert_int_equal(jumps_of(big, step, &j, why,
			    sizeof(why)), 0);
			/* the ACCEPT alone is ahead */
			assert_int_equal(j.ahead, 1);
			assert_int_equal(j.jumps, 1);
			assert_int_equal(j.refs, 2);
			assert_string_equal(j.ref, ref);
		}
		/* the same start and end, but not a rule ("-A "): none */
		big[18] = '#';
		assert_int_equal(jumps_of(big, 7, &j, why, sizeof(why)), 0);
		assert_int_equal(j.refs, 1);
		assert_int_equal(j.ahead, 1);
		/* a long line ending in another chain's name: ahead */
		big[18] = '-';
		memcpy(strstr(big, "-g nfqspid-forward"), "-g nfqspid-forwarD",
		    18);
		assert_int_equal(jumps_of(big, 64, &j, why, sizeof(why)), 0);
		assert_int_equal(j.refs, 1);
		assert_int_equal(j.ahead, 2);
	}
}

/* A removal's -X that failed: the whole table listed, for what still
   jumps to the chain. */
static void
test_iptables_refs(void **state __attribute__((unused)))
{
	struct divert_spec	 s = { DIVERT_IPTABLES, 1, 3, 1, 0 };
	struct divert_cmd	 c[DIVERT_MAXCMDS], r;
	int			 n, i, xs = 0;

	n = divert_iptables_cmds(&s, DIVERT_OP_REMOVE, 6, c, DIVERT_MAXCMDS);
	assert_true(n > 0);
	for (i = 0; i < n; i++) {
		if (strcmp(c[i].argv[c[i].argc - 2], "-X") != 0) {
			assert_int_equal(divert_iptables_refs(&c[i], &r), -1);
			continue;
		}
		assert_int_equal(divert_iptables_refs(&c[i], &r), 0);
		assert_int_equal(r.argc, c[i].argc - 1);
		assert_string_equal(r.argv[0], "ip6tables-legacy");
		assert_string_equal(r.argv[r.argc - 1], "-S");
		assert_string_equal(r.argv[r.argc - 2], "filter");
		assert_int_equal(r.slot, 0);
		assert_int_equal(r.times, 0);
		if (strcmp(c[i].argv[c[i].argc - 1], "nfqspid-forward") == 0)
			assert_string_equal(r.expect,
			    "-A FORWARD -j nfqspid-forward");
		xs++;
	}
	assert_int_equal(xs, 3);
	/* a chain not ours */
	r = c[n - 1];
	memcpy(r.argv[r.argc - 1], "DOCKER", 7);
	assert_int_equal(divert_iptables_refs(&r, &c[0]), -1);
}

/* fastpath = yes: each chain accepts what the fast path marked first */
static void
test_iptables_fastpath(void **state __attribute__((unused)))
{
	struct divert_spec	 s = { DIVERT_IPTABLES, 0, 7, 1, 1 };
	struct divert_cmd	 c[DIVERT_MAXCMDS];
	size_t			 max;
	int			 n;

	n = divert_iptables_cmds(&s, DIVERT_OP_INSTALL, 4, c, DIVERT_MAXCMDS);
	assert_int_equal(n, 12);
	assert_string_equal(line(&c[0]), "iptables-legacy -w 5 -t filter "
	    "-N nfqspid-input");
	assert_string_equal(line(&c[1]), "iptables-legacy -w 5 -t filter "
	    "-A nfqspid-input -m mark --mark 0x80000000/0x80000000 -j ACCEPT");
	assert_string_equal(line(&c[2]), "iptables-legacy -w 5 -t filter "
	    "-A nfqspid-input ! -i lo -j NFQUEUE --queue-num 7");
	assert_string_equal(line(&c[7]), "iptables-legacy -w 5 -t filter "
	    "-A nfqspid-forward -m mark --mark 0x80000000/0x80000000 -j ACCEPT");
	assert_string_equal(line(&c[8]), "iptables-legacy -w 5 -t filter "
	    "-A nfqspid-forward -j NFQUEUE --queue-num 7");
	assert_string_equal(line(&c[11]), "iptables-legacy -w 5 -t filter "
	    "-I FORWARD 1 -j nfqspid-forward");
	/* the accept ahead of the queue, in the chain's listing */
	n = divert_iptables_cmds(&s, DIVERT_OP_CHECK, 6, c, DIVERT_MAXCMDS);
	assert_int_equal(n, 6);
	assert_string_equal(line(&c[0]), "ip6tables-legacy -w 5 -t filter "
	    "-S INPUT");
	assert_string_equal(c[0].expect, "-A INPUT -j nfqspid-input");
	assert_string_equal(line(&c[1]), "ip6tables-legacy -w 5 -t filter "
	    "-S nfqspid-input");
	assert_string_equal(c[1].expect, "-N nfqspid-input\n"
	    "-A nfqspid-input -m mark --mark 0x80000000/0x80000000 -j ACCEPT\n"
	    "-A nfqspid-input ! -i lo -j NFQUEUE --queue-num 7");
	assert_string_equal(c[5].expect, "-N nfqspid-forward\n"
	    "-A nfqspid-forward -m mark --mark 0x80000000/0x80000000 -j ACCEPT\n"
	    "-A nfqspid-forward -j NFQUEUE --queue-num 7");
	/* the longest: a range, the bypass, the accept */
	s.bypass = 1;
	s.queue = 65000;
	s.threads = 536;
	n = divert_iptables_cmds(&s, DIVERT_OP_CHECK, 4, c, DIVERT_MAXCMDS);
	assert_int_equal(n, 6);
	assert_string_equal(line(&c[3]), "iptables-legacy -w 5 -t filter "
	    "-S nfqspid-output");
	assert_string_equal(c[3].expect, "-N nfqspid-output\n"
	    "-A nfqspid-output -m mark --mark 0x80000000/0x80000000 -j ACCEPT\n"
	    "-A nfqspid-output ! -o lo -j NFQUEUE --queue-balance 65000:65535 "
	    "--queue-bypass");
	s.bypass = 0;
	s.queue = 7;
	s.threads = 1;
	for (max = 0; max < 12; max++)
		assert_int_equal(divert_iptables_cmds(&s, DIVERT_OP_INSTALL, 4,
		    c, max), -1);
}

/*
 * A check's listing of a chain of ours: its rules and no other, in their
 * order; comment and warning lines are no rules.
 */
static void
test_listing(void **state __attribute__((unused)))
{
	static const char want[] = "-N nfqspid-forward\n"
	    "-A nfqspid-forward -j NFQUEUE --queue-num 7 --queue-bypass";
	char	 why[256];

	assert_int_equal(divert_listing("-N nfqspid-forward\n"
	    "-A nfqspid-forward -j NFQUEUE --queue-num 7 --queue-bypass\n",
	    want, 0, why, sizeof(why)), 0);
	/* iptables-nft's comment; no final newline */
	assert_int_equal(divert_listing("# Warning: iptables-legacy tables "
	    "present, use iptables-legacy to see them\n-N nfqspid-forward\n"
	    "-A nfqspid-forward -j NFQUEUE --queue-num 7 --queue-bypass",
	    want, 0, why, sizeof(why)), 0);
	/* the other bypass only: ours is missing */
	assert_int_equal(divert_listing("-N nfqspid-forward\n"
	    "-A nfqspid-forward -j NFQUEUE --queue-num 7\n",
	    want, 0, why, sizeof(why)), -1);
	assert_string_equal(why, "no rule \"-A nfqspid-forward -j NFQUEUE "
	    "--queue-num 7 --queue-bypass\"");
	/* ours and another beside it: after, before, a duplicate */
	assert_int_equal(divert_listing("-N nfqspid-forward\n"
	    "-A nfqspid-forward -j NFQUEUE --queue-num 7 --queue-bypass\n"
	    "-A nfqspid-forward -j NFQUEUE --queue-num 7\n",
	    want, 0, why, sizeof(why)), -1);
	assert_string_equal(why, "unexpected rule \"-A nfqspid-forward -j "
	    "NFQUEUE --queue-num 7\"");
	assert_int_equal(divert_listing("-N nfqspid-forward\n"
	    "-A nfqspid-forward -j NFQUEUE --queue-num 8 --queue-bypass\n"
	    "-A nfqspid-forward -j NFQUEUE --queue-num 7 --queue-bypass\n",
	    want, 0, why, sizeof(why)), -1);
	assert_string_equal(why, "unexpected rule \"-A nfqspid-forward -j "
	    "NFQUEUE --queue-num 8 --queue-bypass\"");
	assert_int_equal(divert_listing("-N nfqspid-forward\n"
	    "-A nfqspid-forward -j NFQUEUE --queue-num 7 --queue-bypass\n"
	    "-A nfqspid-forward -j NFQUEUE --queue-num 7 --queue-bypass\n",
	    want, 0, why, sizeof(why)), -1);
	assert_string_equal(why, "unexpected rule \"-A nfqspid-forward -j "
	    "NFQUEUE --queue-num 7 --queue-bypass\"");
	/* a longer line that starts as ours is not ours */
	assert_int_equal(divert_listing("-N nfqspid-forward\n"
	    "-A nfqspid-forward -j NFQUEUE --queue-num 7 --queue-bypass "
	    "--queue-cpu-fanout\n", want, 0, why, sizeof(why)), -1);
	assert_memory_equal(why, "no rule", 7);
	/* ours out of their order: the accept after the queue */
	assert_int_equal(divert_listing("-N c\n-A c -j NFQUEUE\n"
	    "-A c -j ACCEPT\n", "-N c\n-A c -j ACCEPT\n-A c -j NFQUEUE",
	    0, why, sizeof(why)), -1);
	assert_string_equal(why, "unexpected rule \"-A c -j NFQUEUE\"");
	/* nothing listed: the first of ours is missing */
	assert_int_equal(divert_listing("", want, 0, why, sizeof(why)), -1);
	assert_string_equal(why, "no rule \"-N nfqspid-forward\"");
	/*
	 * Cut short (a chain of ours stuffed with rules): rules put ahead
	 * of ours push them past the cut, where they cannot be seen; the
	 * first not ours is named, not ours as missing.  The part of a
	 * line at the cut is not judged.
	 */
	assert_int_equal(divert_listing("-N nfqspid-forward\n"
	    "-A nfqspid-forward -s 10.9.0.1/32 -j ACCEPT\n"
	    "-A nfqspid-forward -s 10.9.0.2/32 -j ACCEPT\n-A nfqs", want, 1,
	    why, sizeof(why)), -1);
	assert_string_equal(why, "unexpected rule \"-A nfqspid-forward -s "
	    "10.9.0.1/32 -j ACCEPT\" in a listing longer than 114 bytes");
	/* ours first, then others up to the cut */
	assert_int_equal(divert_listing("-N nfqspid-forward\n"
	    "-A nfqspid-forward -j NFQUEUE --queue-num 7 --queue-bypass\n"
	    "-A nfqspid-forward -s 10.9.0.1/32 -j ACCEPT\n-A nf", want, 1,
	    why, sizeof(why)), -1);
	assert_string_equal(why, "unexpected rule \"-A nfqspid-forward -s "
	    "10.9.0.1/32 -j ACCEPT\" in a listing longer than 127 bytes");
	/* ours whole, the cut in what follows: still not ours alone */
	assert_int_equal(divert_listing("-N nfqspid-forward\n"
	    "-A nfqspid-forward -j NFQUEUE --queue-num 7 --queue-bypass\n"
	    "-A nfqspid-forward -s 10.9.0.1/32 -j AC", want, 1, why,
	    sizeof(why)), -1);
	assert_string_equal(why, "a listing longer than 117 bytes");
	/* a rule line of 300 characters: cut in the message, which fits */
	{
		char	 out[512];

		memset(out, 'x', sizeof(out));
		memcpy(out, "-N nfqspid-forward\n-A nfqspid-forward ", 38);
		out[338] = '\n';
		out[339] = '\0';
		assert_int_equal(divert_listing(out, want, 1, why,
		    sizeof(why)), -1);
		assert_int_equal(strlen(why), 17 + 180 + 36);
	}
}

/*
 * A removal's failed -X, for the log: the command's words, what it
 * printed (200 characters at most) and the refs after it, whose " and
 * more" says there are other rules than the one named.  Its longest
 * (ip6tables-legacy, nfqspid-forward, 200 characters printed, a ref of
 * 200) took 512 bytes and lost its last character to the 512 given.
 */
static void
test_failed(void **state __attribute__((unused)))
{
	const char	*x = "ip6tables-legacy -w 5 -t filter -X nfqspid-forward";
	char		 err[512], out[301], tail[300], ref[201];
	size_t		 n;

	memset(out, 'o', sizeof(out) - 1);
	out[sizeof(out) - 1] = '\0';
	memset(ref, 'r', sizeof(ref) - 1);
	ref[sizeof(ref) - 1] = '\0';
	snprintf(tail, sizeof(tail), "; nfqspid-forward is still referenced "
	    "by \"%s\" and more", ref);
	divert_failed(err, sizeof(err), x, "failed", out, tail);
	n = strlen(err);
	assert_int_equal(n, sizeof(err) - 1);
	assert_string_equal(err + n - strlen(tail), tail);
	assert_memory_equal(err, x, strlen(x));
	assert_memory_equal(err + strlen(x), ": failed: ooo", 13);
	/* with room to spare: what it printed, 200 characters at most */
	divert_failed(err, sizeof(err), x, "failed",
	    "iptables: Too many links.", "; nfqspid-forward is still "
	    "referenced by \"-A FORWARD -i eth0 -j nfqspid-forward\"");
	assert_string_equal(err, "ip6tables-legacy -w 5 -t filter -X "
	    "nfqspid-forward: failed: iptables: Too many links.; "
	    "nfqspid-forward is still referenced by \"-A FORWARD -i eth0 -j "
	    "nfqspid-forward\"");
	divert_failed(err, sizeof(err), x, "failed", out, "");
	assert_int_equal(strlen(err), strlen(x) + 10 + 200);
	/* nothing printed: no ": " */
	divert_failed(err, sizeof(err), x, "did not run", "", "");
	assert_string_equal(err, "ip6tables-legacy -w 5 -t filter -X "
	    "nfqspid-forward: did not run");
	/* no room for what it printed: the tail all the same */
	divert_failed(err, 70, x, "failed", out, " and more");
	assert_string_equal(err, "ip6tables-legacy -w 5 -t filter -X "
	    "nfqspid-forward: failed and more");
}

/* A reload's fail_open: one iptables-restore --noflush a family. */
static void
test_iptables_replace(void **state __attribute__((unused)))
{
	struct divert_spec	 from = { DIVERT_IPTABLES, 1, 7, 1, 0 };
	struct divert_spec	 to = { DIVERT_IPTABLES, 0, 7, 1, 0 };
	struct divert_cmd	 c;
	char			 text[1024];
	int			 n;

	n = divert_iptables_replace(&from, &to, 4, &c, text, sizeof(text));
	assert_int_equal(n, (int)strlen(text));
	assert_string_equal(line(&c), "iptables-legacy-restore -w 5 "
	    "--noflush");
	/* the new rule in front of the old, then the old deleted */
	assert_string_equal(text, "*filter\n"
	    "-I nfqspid-input 1 ! -i lo -j NFQUEUE --queue-num 7\n"
	    "-D nfqspid-input ! -i lo -j NFQUEUE --queue-num 7 "
	    "--queue-bypass\n"
	    "-I nfqspid-output 1 ! -o lo -j NFQUEUE --queue-num 7\n"
	    "-D nfqspid-output ! -o lo -j NFQUEUE --queue-num 7 "
	    "--queue-bypass\n"
	    "-I nfqspid-forward 1 -j NFQUEUE --queue-num 7\n"
	    "-D nfqspid-forward -j NFQUEUE --queue-num 7 --queue-bypass\n"
	    "COMMIT\n");
	/* nft backend, IPv6, balance, fast path: behind its accept */
	from.mode = to.mode = DIVERT_IPTABLES_NFT;
	from.threads = to.threads = 2;
	from.fastpath = to.fastpath = 1;
	n = divert_iptables_replace(&to, &from, 6, &c, text, sizeof(text));
	assert_true(n > 0);
	assert_string_equal(line(&c), "ip6tables-nft-restore -w 5 --noflush");
	assert_non_null(strstr(text, "\n-I nfqspid-forward 2 -j NFQUEUE "
	    "--queue-balance 7:8 --queue-bypass\n-D nfqspid-forward -j "
	    "NFQUEUE --queue-balance 7:8\n"));
	/* too small; the same bypass; another queue; nft; family */
	assert_int_equal(divert_iptables_replace(&to, &from, 6, &c, text,
	    (size_t)n), -1);
	assert_int_equal(divert_iptables_replace(&to, &to, 4, &c, text,
	    sizeof(text)), -1);
	to.queue = 8;
	assert_int_equal(divert_iptables_replace(&to, &from, 4, &c, text,
	    sizeof(text)), -1);
	to.queue = 7;
	from.mode = to.mode = DIVERT_NFT;
	assert_int_equal(divert_iptables_replace(&to, &from, 4, &c, text,
	    sizeof(text)), -1);
	from.mode = to.mode = DIVERT_IPTABLES;
	assert_int_equal(divert_iptables_replace(&to, &from, 5, &c, text,
	    sizeof(text)), -1);
	assert_string_equal(divert_bypass_words(DIVERT_IPTABLES, 1),
	    "with --queue-bypass, removed at the stop");
	assert_string_equal(divert_bypass_words(DIVERT_NFT, 0),
	    "without bypass, kept at the stop");
}

/*
 * A check's listing of our table, as nft (1.0.6) prints it: counted,
 * chains, rules and queue rules; anything more or less is a change.
 */
static void
test_nft_listing(void **state __attribute__((unused)))
{
	struct divert_spec	 s = { DIVERT_NFT, 1, 3, 1, 0 };
	char			 ours[1024], buf[2048], why[256];
	char			*p;

	nft_table(ours, sizeof(ours), "\n", "queue flags bypass to 3",
	    "queue flags bypass to 3", "queue flags bypass to 3");
	assert_int_equal(divert_nft_listing(&s, ours, 0, why, sizeof(why)), 0);
	/* a rule of someone's beside ours */
	snprintf(buf, sizeof(buf), "%s", ours);
	p = strstr(buf, "\t\tqueue flags bypass to 3\n\t}\n}");
	assert_non_null(p);
	memcpy(p, "\t\taccept\n\t\tqueue flags bypass to 3\n\t}\n}\n",
	    strlen("\t\taccept\n\t\tqueue flags bypass to 3\n\t}\n}\n") + 1);
	assert_int_equal(divert_nft_listing(&s, buf, 0, why, sizeof(why)), -1);
	assert_string_equal(why, "table inet nfqspid has 6 rules of 5");
	/* a queue rule made an accept */
	snprintf(buf, sizeof(buf), "%s", ours);
	p = strstr(buf, "queue flags bypass to 3");
	memcpy(p, "accept                 ", 23);
	assert_int_equal(divert_nft_listing(&s, buf, 0, why, sizeof(why)), -1);
	assert_string_equal(why, "table inet nfqspid has 2 queue rules of 3");
	/* a second queue rule */
	snprintf(buf, sizeof(buf), "%s", ours);
	p = strstr(buf, "\t\tiifname");
	memcpy(p, "\t\tqueue to 4 ", 13);
	assert_int_equal(divert_nft_listing(&s, buf, 0, why, sizeof(why)), -1);
	assert_string_equal(why, "table inet nfqspid has 4 queue rules of 3");
	/* a set of someone's (no rule: named, test_nft_listing_table);
	   a chain of someone's */
	snprintf(buf, sizeof(buf), "table inet nfqspid {\n\tset s {\n"
	    "\t\ttype ipv4_addr\n\t}\n%s", ours + 20);
	assert_int_equal(divert_nft_listing(&s, buf, 0, why, sizeof(why)), -1);
	assert_string_equal(why, "table inet nfqspid: unexpected line "
	    "\"set s {\"");
	snprintf(buf, sizeof(buf), "table inet nfqspid {\n\tchain x {\n"
	    "\t}\n%s", ours + 20);
	assert_int_equal(divert_nft_listing(&s, buf, 0, why, sizeof(why)), -1);
	assert_string_equal(why, "table inet nfqspid has 4 chains of 3");
	/* the fast path's accept in each chain: 8 rules; nft's older
	   words; a comment line and no final newline */
	s.fastpath = 1;
	assert_int_equal(divert_nft_listing(&s, ours, 0, why, sizeof(why)), -1);
	assert_string_equal(why, "table inet nfqspid has 5 rules of 8");
	assert_int_equal(divert_nft_listing(&s, "# Warning: x\n"
	    "table inet nfqspid {\n chain input {\n  type filter hook input "
	    "priority filter; policy accept;\n  iifname \"lo\" accept\n"
	    "  meta mark 0x80000000/1 accept\n  queue num 3 bypass\n }\n"
	    " chain output {\n  type filter hook output priority filter; "
	    "policy accept;\n  oifname \"lo\" accept\n"
	    "  meta mark 0x80000000/1 accept\n  queue num 3 bypass\n }\n"
	    " chain forward {\n  type filter hook forward priority filter; "
	    "policy accept;\n  meta mark 0x80000000/1 accept\n"
	    "  queue num 3 bypass\n }\n}", 0, why, sizeof(why)), 0);
	/* nothing listed */
	assert_int_equal(divert_nft_listing(&s, "", 0, why, sizeof(why)), -1);
	assert_string_equal(why, "table inet nfqspid has 0 queue rules of 3");
}

/*
 * Each queue rule must have the spec's queue and bypass, in nft 1.0's
 * words or 0.9's: another queue, or the other bypass (a table edited,
 * or left by another configuration), is named as iptables names an
 * unexpected rule.
 */
static void
test_nft_listing_queue(void **state __attribute__((unused)))
{
	static const struct {
		uint8_t		 bypass;
		uint16_t	 threads;
		const char	*in, *out, *fwd;	/* the queue rules */
		const char	*why;			/* NULL: ours */
	} t[] = {
		{ 1, 1, "queue flags bypass to 3", "queue flags bypass to 3",
		    "queue flags bypass to 3", NULL },
		{ 1, 1, "queue num 3 bypass", "queue num 3 bypass",
		    "queue num 3 bypass", NULL },
		{ 0, 1, "queue to 3", "queue num 3", "queue to 3", NULL },
		{ 0, 2, "queue to 3-4", "queue num 3-4", "queue to 3-4", NULL },
		{ 1, 2, "queue flags bypass to 3-4", "queue num 3-4 bypass",
		    "queue flags bypass to 3-4", NULL },
		/* another queue, in output */
		{ 1, 1, "queue flags bypass to 3", "queue flags bypass to 4",
		    "queue flags bypass to 3", "table inet nfqspid chain "
		    "output: unexpected rule \"queue flags bypass to 4\"" },
		{ 1, 1, "queue num 3 bypass", "queue num 33 bypass",
		    "queue num 3 bypass", "table inet nfqspid chain output: "
		    "unexpected rule \"queue num 33 bypass\"" },
		/* the bypass gone, in forward (its blank trimmed) */
		{ 1, 1, "queue flags bypass to 3", "queue flags bypass to 3",
		    "queue to 3", "table inet nfqspid chain forward: "
		    "unexpected rule \"queue to 3\"" },
		/* a bypass added; the first named */
		{ 0, 1, "queue flags bypass to 3", "queue num 3 bypass",
		    "queue to 3", "table inet nfqspid chain input: unexpected "
		    "rule \"queue flags bypass to 3\"" },
		/* a range for one queue, one queue for a range */
		{ 0, 1, "queue to 3-4", "queue to 3", "queue to 3",
		    "table inet nfqspid chain input: unexpected rule "
		    "\"queue to 3-4\"" },
		{ 0, 2, "queue to 3-4", "queue to 3", "queue to 3-4",
		    "table inet nfqspid chain output: unexpected rule "
		    "\"queue to 3\"" },
		/* fanout; a queue from a map; no queue after "to" */
		{ 1, 2, "queue flags bypass,fanout to 3-4",
		    "queue flags bypass to 3-4", "queue flags bypass to 3-4",
		    "table inet nfqspid chain input: unexpected rule "
		    "\"queue flags bypass,fanout to 3-4\"" },
		{ 0, 1, "queue to 3", "queue to 3",
		    "queue to numgen inc mod 2",
		    "table inet nfqspid chain forward: unexpected rule "
		    "\"queue to numgen inc mod 2\"" },
		{ 0, 1, "queue to 3", "queue to", "queue to 3",
		    "table inet nfqspid chain output: unexpected rule "
		    "\"queue to\"" },
	};
	struct divert_spec	 s = { DIVERT_NFT, 0, 3, 1, 0 };
	char			 buf[2048], why[256], fwd[64];
	size_t			 i;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		s.bypass = t[i].bypass;
		s.threads = t[i].threads;
		/* forward's rule with a blank after it, to be trimmed */
		snprintf(fwd, sizeof(fwd), "%s ", t[i].fwd);
		nft_table(buf, sizeof(buf), "", t[i].in, t[i].out, fwd);
		nft_case(i, &s, buf, 0, t[i].why);
	}
	/* the counts come first: a rule added and a queue changed */
	s.bypass = 1;
	s.threads = 1;
	nft_table(buf, sizeof(buf), "", "queue to 3",
	    "accept\n\t\tqueue to 3", "queue to 3 ");
	assert_int_equal(divert_nft_listing(&s, buf, 0, why, sizeof(why)), -1);
	assert_string_equal(why, "table inet nfqspid has 6 rules of 5");
}

/*
 * A line of the table's own (a set's, a map's, a flowtable's, a
 * counter's, its comment, "flags dormant") and a chain's comment are no
 * rules: not counted, but named in the listing's order, as unexpected
 * lines; the counts of rules still come first.
 */
static void
test_nft_listing_table(void **state __attribute__((unused)))
{
	static const char tmpl[] =
	    "table inet nfqspid {\n"
	    "%s"
	    "\tchain input {\n"
	    "%s"
	    "\t\ttype filter hook input priority filter; policy accept;\n"
	    "\t\tiifname \"lo\" accept\n"
	    "\t\t%s\n"
	    "\t}\n\n"
	    "\tchain output {\n"
	    "\t\ttype filter hook output priority filter; policy accept;\n"
	    "\t\toifname \"lo\" accept\n"
	    "\t\tqueue flags bypass to 3\n"
	    "\t}\n\n"
	    "\tchain forward {\n"
	    "\t\ttype filter hook forward priority filter; policy accept;\n"
	    "\t\tqueue flags bypass to 3\n"
	    "\t}\n"
	    "%s"
	    "}\n";
#define Q	"queue flags bypass to 3"
#define SET	"\tset s {\n\t\ttype ipv4_addr\n\t}\n\n"
#define WHY	"table inet nfqspid: unexpected line "
	static const struct {
		const char	*head, *cin, *qin, *tail;	/* added */
		const char	*why;			/* NULL: ours */
	} t[] = {
		{ "", "", Q, "", NULL },
		{ SET, "", Q, "", WHY "\"set s {\"" },
		{ "\tset s {\n\t\ttype ipv4_addr\n\t\tflags interval\n"
		    "\t\telements = { 10.0.0.0/8,\n\t\t\t     "
		    "192.168.0.0/16 }\n\t}\n\n", "", Q, "",
		    WHY "\"set s {\"" },
		{ "\tmap m {\n\t\ttype ipv4_addr : verdict\n"
		    "\t\telements = { 10.0.0.1 : accept }\n\t}\n\n", "", Q, "",
		    WHY "\"map m {\"" },
		{ "\tcounter c {\n\t\tpackets 0 bytes 0\n\t}\n\n", "", Q, "",
		    WHY "\"counter c {\"" },
		{ "\tflowtable f {\n\t\thook ingress priority filter\n"
		    "\t\tdevices = { lo }\n\t}\n\n", "", Q, "",
		    WHY "\"flowtable f {\"" },
		{ "\tcomment \"left by x\"\n", "", Q, "",
		    WHY "\"comment \"left by x\"\"" },
		{ "\tflags dormant\n", "", Q, "", WHY "\"flags dormant\"" },
		/* a chain's comment, above its type line */
		{ "", "\t\tcomment \"hello\"\n", Q, "",
		    "table inet nfqspid chain input: unexpected line "
		    "\"comment \"hello\"\"" },
		/* after our chains; in the listing's order */
		{ "", "", Q, "\n" SET, WHY "\"set s {\"" },
		{ SET, "", "queue flags bypass to 4", "", WHY "\"set s {\"" },
		{ "", "", "queue flags bypass to 4", "\n" SET,
		    "table inet nfqspid chain input: unexpected rule "
		    "\"queue flags bypass to 4\"" },
		/* the counts first */
		{ SET, "", "accept\n\t\t" Q, "",
		    "table inet nfqspid has 6 rules of 5" },
		{ SET, "\t\tcomment \"hello\"\n", "accept", "",
		    "table inet nfqspid has 2 queue rules of 3" },
	};
	struct divert_spec	 s = { DIVERT_NFT, 1, 3, 1, 0 };
	char			 buf[2048];
	size_t			 i;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		snprintf(buf, sizeof(buf), tmpl, t[i].head, t[i].cin, t[i].qin,
		    t[i].tail);
		nft_case(i, &s, buf, 0, t[i].why);
	}
#undef Q
#undef SET
#undef WHY
}

/*
 * Each chain's other rules (the loopback's accept, the fast path's) and
 * its type line (hook, priority, policy) are compared too: a rule edited
 * is named as an unexpected rule, one of ours gone (its kind) as no
 * rule, a type line not ours as an unexpected type, a chain not ours by
 * its name.
 */
static void
test_nft_listing_rules(void **state __attribute__((unused)))
{
	static const char tmpl[] =
	    "table inet nfqspid {\n"
	    "\tchain %s {\n"
	    "\t\t%s\n"
	    "\t\t%s\n"
	    "\t}\n\n"
	    "\tchain output {\n"
	    "\t\t%s\n"
	    "\t\t%s\n"
	    "\t}\n\n"
	    "\tchain forward {\n"
	    "\t\t%s\n"
	    "\t\t%s\n"
	    "\t}\n"
	    "}\n";
#define T_IN	"type filter hook input priority filter; policy accept;"
#define T_OUT	"type filter hook output priority filter; policy accept;"
#define T_FWD	"type filter hook forward priority filter; policy accept;"
#define LO_IN	"iifname \"lo\" accept"
#define LO_OUT	"oifname \"lo\" accept"
#define FP	"meta mark 0x80000000/1 accept"
#define FP_OLD	"meta mark & 0x80000000 == 0x80000000 accept"
#define Q	"queue flags bypass to 3"
#define IN	LO_IN "\n\t\t" FP "\n\t\t" Q
#define OUT	LO_OUT "\n\t\t" FP "\n\t\t" Q
#define FWD	FP "\n\t\t" Q
#define WHY	"table inet nfqspid chain "
	static const struct {
		const char	*in, *tin, *rin, *tout, *rout, *tfwd, *rfwd;
		const char	*why;		/* NULL: ours */
	} t[] = {
		{ "input", T_IN, IN, T_OUT, OUT, T_FWD, FWD, NULL },
		/* nft's other words: the mark as we load it, priority 0 */
		{ "input", T_IN, LO_IN "\n\t\t" FP_OLD "\n\t\t" Q, T_OUT, OUT,
		    "type filter hook forward priority 0; policy accept;",
		    FP_OLD "\n\t\t" Q, NULL },
		/* the loopback's accept edited: another name, a drop */
		{ "input", T_IN, "iifname \"lo0\" accept\n\t\t" FP "\n\t\t" Q,
		    T_OUT, OUT, T_FWD, FWD,
		    WHY "input: unexpected rule \"iifname \"lo0\" accept\"" },
		{ "input", T_IN, IN, T_OUT,
		    "oifname \"lo\" drop\n\t\t" FP "\n\t\t" Q, T_FWD, FWD,
		    WHY "output: unexpected rule \"oifname \"lo\" drop\"" },
		/* ... made a rule of another kind: gone */
		{ "input", T_IN, "counter packets 0 bytes 0\n\t\t" FP "\n\t\t" Q,
		    T_OUT, OUT, T_FWD, FWD,
		    WHY "input: no rule \"iifname \"lo\" accept\"" },
		/* the fast path's accept edited, another mark, gone */
		{ "input", T_IN, IN, T_OUT, OUT, T_FWD,
		    "meta mark 0x80000000/1 drop\n\t\t" Q,
		    WHY "forward: unexpected rule \"meta mark 0x80000000/1 "
		    "drop\"" },
		{ "input", T_IN, IN, T_OUT,
		    LO_OUT "\n\t\tmeta mark & 0x40000000 == 0x40000000 accept"
		    "\n\t\t" Q, T_FWD, FWD,
		    WHY "output: unexpected rule \"meta mark & 0x40000000 == "
		    "0x40000000 accept\"" },
		{ "input", T_IN, IN, T_OUT, OUT, T_FWD,
		    "ct state established accept\n\t\t" Q,
		    WHY "forward: no rule \"meta mark & 0x80000000 == "
		    "0x80000000 accept\"" },
		/* ours, out of their order */
		{ "input", T_IN, FP "\n\t\t" LO_IN "\n\t\t" Q, T_OUT, OUT,
		    T_FWD, FWD, WHY "input: unexpected rule \"" FP "\"" },
		/* one chain's loopback accept moved to another: the first
		   chain listed named */
		{ "input", T_IN, IN "\n\t\t" LO_OUT, T_OUT, FP "\n\t\t" Q,
		    T_FWD, FWD, WHY "input: unexpected rule \"" LO_OUT "\"" },
		{ "input", T_IN, FP "\n\t\t" Q, T_OUT, OUT "\n\t\t" LO_IN,
		    T_FWD, FWD, WHY "input: no rule \"" LO_IN "\"" },
		/* a second queue rule in a chain, none in another */
		{ "input", T_IN, IN, T_OUT, OUT "\n\t\t" Q, T_FWD, FP,
		    WHY "output: unexpected rule \"" Q "\"" },
		/* another priority, policy, hook */
		{ "input", T_IN, IN, "type filter hook output priority "
		    "filter + 10; policy accept;", OUT, T_FWD, FWD,
		    WHY "output: unexpected type \"type filter hook output "
		    "priority filter + 10; policy accept;\"" },
		{ "input", T_IN, IN, T_OUT, OUT, "type filter hook forward "
		    "priority filter; policy drop;", FWD,
		    WHY "forward: unexpected type \"type filter hook forward "
		    "priority filter; policy drop;\"" },
		{ "input", "type filter hook prerouting priority filter; "
		    "policy accept;", IN, T_OUT, OUT, T_FWD, FWD,
		    WHY "input: unexpected type \"type filter hook prerouting "
		    "priority filter; policy accept;\"" },
		{ "input", "type nat hook input priority filter; policy "
		    "accept;", IN, T_OUT, OUT, T_FWD, FWD,
		    WHY "input: unexpected type \"type nat hook input "
		    "priority filter; policy accept;\"" },
		/* a chain of no hook (its lines but the type) */
		{ "input", T_IN, IN, T_OUT, OUT, "", FWD,
		    WHY "forward: no type \"" T_FWD "\"" },
		/* a chain of another name */
		{ "in", T_IN, IN, T_OUT, OUT, T_FWD, FWD,
		    "table inet nfqspid: unexpected chain \"in\"" },
	};
	struct divert_spec	 s = { DIVERT_NFT, 1, 3, 1, 1 };
	char			 buf[2048], why[256];
	size_t			 i;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		snprintf(buf, sizeof(buf), tmpl, t[i].in, t[i].tin, t[i].rin,
		    t[i].tout, t[i].rout, t[i].tfwd, t[i].rfwd);
		nft_case(i, &s, buf, 0, t[i].why);
	}
	/* the chains in another order: ours all the same */
	snprintf(buf, sizeof(buf), "table inet nfqspid {\n"
	    "\tchain forward {\n\t\t%s\n\t\t%s\n\t}\n"
	    "\tchain output {\n\t\t%s\n\t\t%s\n\t}\n"
	    "\tchain input {\n\t\t%s\n\t\t%s\n\t}\n}\n", T_FWD, FWD, T_OUT,
	    OUT, T_IN, IN);
	assert_int_equal(divert_nft_listing(&s, buf, 0, why, sizeof(why)), 0);
	/* no fast path: its accept is a rule of someone's (counted) */
	s.fastpath = 0;
	snprintf(buf, sizeof(buf), tmpl, "input", T_IN, IN, T_OUT, OUT,
	    T_FWD, FWD);
	assert_int_equal(divert_nft_listing(&s, buf, 0, why, sizeof(why)), -1);
	assert_string_equal(why, "table inet nfqspid has 8 rules of 5");
	snprintf(buf, sizeof(buf), tmpl, "input", T_IN, LO_IN "\n\t\t" Q,
	    T_OUT, LO_OUT "\n\t\t" Q, T_FWD, FP "\n\t\t" Q " ");
	assert_int_equal(divert_nft_listing(&s, buf, 0, why, sizeof(why)), -1);
	assert_string_equal(why, "table inet nfqspid has 6 rules of 5");
	snprintf(buf, sizeof(buf), tmpl, "input", T_IN, LO_IN "\n\t\t" Q,
	    T_OUT, LO_OUT "\n\t\t", T_FWD, Q "\n\t\t" Q);
	assert_int_equal(divert_nft_listing(&s, buf, 0, why, sizeof(why)), -1);
	assert_string_equal(why, WHY "output: no rule \"queue num 3 bypass\"");
#undef T_IN
#undef T_OUT
#undef T_FWD
#undef LO_IN
#undef LO_OUT
#undef FP
#undef FP_OLD
#undef Q
#undef IN
#undef OUT
#undef FWD
#undef WHY
}

/*
 * A listing cut short at 2047 bytes (RUN_OUTLEN), as a check reads a
 * table stuffed with rules: head, n rules "ip saddr 10.9.0.I accept"
 * (I from 1), then tail, into buf, cut; the part of a line at the cut
 * is never judged.
 */
static void
nft_stuffed(char *buf, const char *head, unsigned n, const char *tail)
{
	char		 big[8192];
	size_t		 off;
	unsigned	 i;

	off = (size_t)snprintf(big, sizeof(big), "%s", head);
	for (i = 1; i <= n; i++)
		off += (size_t)snprintf(big + off, sizeof(big) - off,
		    "\t\tip saddr 10.9.0.%u accept\n", i);
	assert_true(off + strlen(tail) < sizeof(big));
	memcpy(big + off, tail, strlen(tail) + 1);
	assert_true(strlen(big) > 2047);
	memcpy(buf, big, 2047);
	buf[2047] = '\0';
}

/*
 * Cut short (rules put in our table past what a check reads): the
 * counts would miss our queue rules past the cut and say so; the whole
 * lines are judged in their order instead, the first not ours named.
 */
static void
test_nft_listing_cut(void **state __attribute__((unused)))
{
#define HEAD	"table inet nfqspid {\n"
#define IN	"\tchain input {\n" \
		"\t\ttype filter hook input priority filter; policy accept;\n"
#define IN_OURS	"\t\tiifname \"lo\" accept\n\t\tqueue flags bypass to 3\n"
#define REST	"\t}\n\n\tchain output {\n" \
		"\t\ttype filter hook output priority filter; " \
		"policy accept;\n\t\toifname \"lo\" accept\n" \
		"\t\tqueue flags bypass to 3\n\t}\n\n\tchain forward {\n" \
		"\t\ttype filter hook forward priority filter; " \
		"policy accept;\n\t\tqueue flags bypass to 3\n\t}\n}\n"
#define LONGER	" in a listing longer than 2047 bytes"
	static const struct {
		const char	*head, *tail;	/* around the 80 rules */
		const char	*why;
	} t[] = {
		/* 80 rules ahead of ours in input: ours past the cut */
		{ HEAD IN, IN_OURS REST, "table inet nfqspid chain input: "
		    "unexpected rule \"ip saddr 10.9.0.1 accept\"" LONGER },
		/* ... after ours */
		{ HEAD IN IN_OURS, REST, "table inet nfqspid chain input: "
		    "unexpected rule \"ip saddr 10.9.0.1 accept\"" LONGER },
		/* ... in forward, the chains before it whole and ours */
		{ HEAD IN IN_OURS "\t}\n\tchain output {\n"
		    "\t\ttype filter hook output priority filter; "
		    "policy accept;\n"
		    "\t\toifname \"lo\" accept\n\t\tqueue flags bypass to 3\n"
		    "\t}\n\tchain forward {\n\t\ttype filter hook forward "
		    "priority filter; policy accept;\n",
		    "\t\tqueue flags bypass to 3\n\t}\n}\n",
		    "table inet nfqspid chain forward: unexpected rule "
		    "\"ip saddr 10.9.0.1 accept\"" LONGER },
		/* a whole chain is judged whole: one of ours gone from it */
		{ HEAD IN "\t\tqueue flags bypass to 3\n\t}\n"
		    "\tchain output {\n", "\t}\n}\n",
		    "table inet nfqspid chain input: no rule "
		    "\"iifname \"lo\" accept\"" LONGER },
		/* the type line, a chain not ours, a set of someone's */
		{ HEAD "\tchain input {\n\t\ttype filter hook input "
		    "priority filter; policy drop;\n", IN_OURS REST,
		    "table inet nfqspid chain input: unexpected type "
		    "\"type filter hook input priority filter; policy drop;\""
		    LONGER },
		{ HEAD "\tchain x {\n", "\t}\n" IN IN_OURS REST,
		    "table inet nfqspid: unexpected chain \"x\"" LONGER },
		{ HEAD "\tset s {\n\t\ttype ipv4_addr\n",
		    "\t}\n" IN IN_OURS REST,
		    "table inet nfqspid: unexpected line \"set s {\"" LONGER },
		/* a chain's comment, its own line: no rule either */
		{ HEAD "\tchain input {\n\t\tcomment \"x\"\n"
		    "\t\ttype filter hook input priority filter; "
		    "policy accept;\n", IN_OURS REST,
		    "table inet nfqspid chain input: unexpected line "
		    "\"comment \"x\"\"" LONGER },
	};
	struct divert_spec	 s = { DIVERT_NFT, 1, 3, 1, 0 };
	char			 buf[2048], why[512];
	size_t			 i;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		nft_stuffed(buf, t[i].head, 80, t[i].tail);
		nft_case(i, &s, buf, 1, t[i].why);
	}
	/* every whole line ours, the cut in the one after */
	memset(buf, 'x', sizeof(buf));
	memcpy(buf, HEAD IN IN_OURS "\t\tip saddr ",
	    strlen(HEAD IN IN_OURS "\t\tip saddr "));
	buf[2047] = '\0';
	assert_int_equal(divert_nft_listing(&s, buf, 1, why, sizeof(why)),
	    -1);
	assert_string_equal(why, "table inet nfqspid: a listing longer than "
	    "2047 bytes");
	/* not cut, the same table: ours */
	assert_int_equal(divert_nft_listing(&s, HEAD IN IN_OURS REST, 0, why,
	    sizeof(why)), 0);
#undef HEAD
#undef IN
#undef IN_OURS
#undef REST
#undef LONGER
}

static void
test_nft_text_fastpath(void **state __attribute__((unused)))
{
	struct divert_spec	 s = { DIVERT_NFT, 0, 3, 1, 1 };
	char			 buf[4096];

	assert_true(divert_nft_text(&s, "t", buf, sizeof(buf)) > 0);
	assert_non_null(strstr(buf, "\t\tiifname \"lo\" accept\n"
	    "\t\tmeta mark & 0x80000000 == 0x80000000 accept\n"
	    "\t\tqueue num 3\n"));
	assert_non_null(strstr(buf, "priority filter; policy accept;\n"
	    "\t\tmeta mark & 0x80000000 == 0x80000000 accept\n"
	    "\t\tqueue num 3\n"));
}

static void
test_iptables_bad_args(void **state __attribute__((unused)))
{
	struct divert_spec	 s = { DIVERT_IPTABLES, 1, 0, 1, 0 };
	struct divert_cmd	 c[DIVERT_MAXCMDS];
	size_t			 max;

	/* too little room, at every size short of the whole */
	for (max = 0; max < 9; max++)
		assert_int_equal(divert_iptables_cmds(&s, DIVERT_OP_INSTALL, 4,
		    c, max), -1);
	assert_int_equal(divert_iptables_cmds(&s, DIVERT_OP_INSTALL, 5, c,
	    DIVERT_MAXCMDS), -1);
	assert_int_equal(divert_iptables_cmds(&s, 42, 4, c, DIVERT_MAXCMDS),
	    -1);
	s.mode = DIVERT_NFT;
	assert_int_equal(divert_iptables_cmds(&s, DIVERT_OP_CHECK, 4, c,
	    DIVERT_MAXCMDS), -1);
	s.mode = DIVERT_NONE;
	assert_int_equal(divert_iptables_cmds(&s, DIVERT_OP_CHECK, 4, c,
	    DIVERT_MAXCMDS), -1);
}

static void
test_nft_cmds(void **state __attribute__((unused)))
{
	struct divert_cmd	 c[1];

	assert_int_equal(divert_nft_cmds(DIVERT_OP_INSTALL, c, 1), 1);
	assert_string_equal(line(&c[0]), "nft -f -");
	assert_int_equal(divert_nft_cmds(DIVERT_OP_CHECK, c, 1), 1);
	assert_string_equal(line(&c[0]), "nft list table inet nfqspid");
	assert_int_equal(divert_nft_cmds(DIVERT_OP_REMOVE, c, 1), 1);
	assert_string_equal(line(&c[0]), "nft delete table inet nfqspid");
	assert_int_equal(divert_nft_cmds(DIVERT_OP_REMOVE, c, 0), -1);
	assert_int_equal(divert_nft_cmds(9, c, 1), -1);
}

static void
test_nft_text(void **state __attribute__((unused)))
{
	static const char del[] =
	    "table inet nfqspid\n"
	    "delete table inet nfqspid\n";
	struct divert_spec	 s = { DIVERT_NFT, 1, 3, 1, 0 };
	char			 buf[2048], small[2048], want_rules[1024];
	const char		*rules;
	int			 n;
	size_t			 len;

	/* the table made anew: declared, deleted, written whole */
	memcpy(want_rules, del, sizeof(del));
	nft_table(want_rules + strlen(del), sizeof(want_rules) - strlen(del),
	    "", "queue num 3 bypass", "queue num 3 bypass",
	    "queue num 3 bypass");
	n = divert_nft_text(&s, "9.9", buf, sizeof(buf));
	assert_true(n > 0);
	assert_int_equal((size_t)n, strlen(buf));
	assert_non_null(strstr(buf, "# nfqspid 9.9: divert to NFQUEUE 3,"));
	assert_non_null(rules = strstr(buf, "table inet nfqspid\n"));
	assert_string_equal(rules, want_rules);
	/* every line before the rules is a comment */
	assert_true(buf[0] == '#');
	assert_null(strstr(buf, "\n\n"));

	/* too small at every length: -1, never a cut ruleset */
	for (len = 0; len <= (size_t)n; len++)
		assert_int_equal(divert_nft_text(&s, "9.9", small, len), -1);
	assert_int_equal(divert_nft_text(&s, "9.9", small, (size_t)n + 1), n);

	s.bypass = 0;
	s.queue = 10;
	s.threads = 4;
	n = divert_nft_text(&s, "9.9", buf, sizeof(buf));
	assert_true(n > 0);
	assert_non_null(strstr(buf, "\t\tqueue num 10-13\n"));
	assert_null(strstr(buf, "bypass"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_mode_names),
		cmocka_unit_test(test_state_word),
		cmocka_unit_test(test_ahead_word),
		cmocka_unit_test(test_iptables_install),
		cmocka_unit_test(test_iptables_balance_closed_v6),
		cmocka_unit_test(test_iptables_check_remove),
		cmocka_unit_test(test_iptables_bad_args),
		cmocka_unit_test(test_iptables_fastpath),
		cmocka_unit_test(test_iptables_replace),
		cmocka_unit_test(test_listing),
		cmocka_unit_test(test_jumps),
		cmocka_unit_test(test_jumps_long),
		cmocka_unit_test(test_nft_listing),
		cmocka_unit_test(test_nft_listing_queue),
		cmocka_unit_test(test_nft_listing_table),
		cmocka_unit_test(test_nft_listing_rules),
		cmocka_unit_test(test_nft_listing_cut),
		cmocka_unit_test(test_iptables_refs),
		cmocka_unit_test(test_failed),
		cmocka_unit_test(test_nft_text_fastpath),
		cmocka_unit_test(test_nft_cmds),
		cmocka_unit_test(test_nft_text),
	};

	return (cmocka_run_group_tests(tests, NULL, NULL));
}
