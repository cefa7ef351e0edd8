/*
 * fuzz_config.c - libFuzzer target: config_load() on arbitrary INI text
 *
 * Copyright (C) 2026 The nfqspid authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * A reload reads whatever an operator (or a mistake) put in the file: the
 * loader must refuse it with one line naming the problem, or return a
 * configuration whose every value is in range, never crash or leak.  The
 * input is written to a memory file that config_load() opens by its
 * /proc/self/fd path.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE	/* memfd_create */
#endif

#include <sys/types.h>
#include <sys/mman.h>

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include "config.h"
#include "ruleset.h"
#include "fuzz.h"

static int	 memfd = -1;
static char	 path[64];

static void
check_config(const struct config *c)
{
	const struct rule	*r, *a, *by[RULESET_UNION_MAX];
	struct pkt		 p;
	size_t			 i, j, n, work = 0;
	int			 s, any;

	CHECK(strcmp(c->path, path) == 0);
	CHECK(c->mode == MODE_ENFORCE || c->mode == MODE_MONITOR);
	CHECK(c->fail_open <= 1 && c->log_invalid <= 1);
	CHECK(c->threads >= 1);
	CHECK(c->http_allow != NULL);
	CHECK(c->ct.max >= 1);
	CHECK(c->ct.tcp_loose <= 1 && c->ct.tcp_liberal <= 1);
	for (i = 0; i < CT_STATE_MAX; i++)
		CHECK(c->policy[i] <= RULE_REJECT);
	CHECK((c->rules == NULL) == (c->nrules == 0));
	for (i = 0; i < c->nrules; i++) {
		r = &c->rules[i];
		CHECK(r->index == i);
		CHECK(r->name[0] != '\0' &&
		    memchr(r->name, '\0', sizeof(r->name)) != NULL);
		CHECK(r->action <= RULE_REJECT);
		CHECK(r->states != 0 &&
		    (r->states & ~((1u << CT_STATE_MAX) - 1)) == 0);
		CHECK(r->log <= 1 && r->has_mark <= 1);
		CHECK(r->nin <= RULE_MAXIFS && r->nout <= RULE_MAXIFS);
		/* a shadowing rule comes first and holds this one */
		if ((a = ruleset_shadow(c->ruleset, r)) != NULL)
			CHECK(a->index < r->index && rule_covers(a, r));
		/* the rules that decide its packets come first, in file
		   order, and match one of its packets each; a rule that
		   shadows it alone is found again */
		n = ruleset_shadowed_by(c->ruleset, r, by, RULESET_UNION_MAX,
		    &work);
		CHECK(work <= RULESET_COVER_TOTAL);
		for (j = 0; j < n && j < RULESET_UNION_MAX; j++) {
			CHECK(by[j]->index < r->index);
			CHECK(j == 0 || by[j - 1]->index < by[j]->index);
		}
		/* its sample packet: decided by one named, if known */
		if (n > 0 && n <= RULESET_UNION_MAX &&
		    rule_sample(r, &p) == 0) {
			p.hook = PKT_HOOK_INPUT;
			for (s = 0; s < CT_STATE_MAX; s++) {
				if (!rule_match(r, &p, s, "", ""))
					continue;
				for (j = 0; j < i && !rule_match(&c->rules[j],
				    &p, s, "", ""); j++)
					;
				CHECK(j < i);
				for (a = &c->rules[j], j = 0, any = 0; j < n;
				    j++)
					any |= by[j] == a;
				CHECK(any);
			}
		}
	}
	/* warnings: lines of the file's, bounded */
	CHECK(c->nwarn <= CONFIG_MAXWARN);
	CHECK(c->warn_more == 0 || c->nwarn == CONFIG_MAXWARN);
	for (i = 0; i < c->nwarn; i++) {
		CHECK(memchr(c->warn[i], '\0', CONFIG_WARNLEN) != NULL);
		CHECK(strncmp(c->warn[i], path, strlen(path)) == 0);
		CHECK(strchr(c->warn[i], '\n') == NULL);
		/* a shadow warning is whole: it ends as it ends */
		if (strstr(c->warn[i], "]: every packet it matches") != NULL)
			CHECK(strstr(c->warn[i], ": the rule never decides "
			    "one (line ") != NULL);
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct config	*c;
	char		 err[512];

	if (memfd == -1) {
		if ((memfd = memfd_create("fuzz.ini", 0)) == -1) {
			perror("memfd_create");
			abort();
		}
		snprintf(path, sizeof(path), "/proc/self/fd/%d", memfd);
	}
	CHECK(ftruncate(memfd, 0) == 0);
	CHECK(pwrite(memfd, data, size, 0) == (ssize_t)size);

	memset(err, 'x', sizeof(err));
	c = config_load(path, err, sizeof(err));
	if (c == NULL) {
		/* one line, and it says something */
		CHECK(memchr(err, '\0', sizeof(err)) != NULL);
		CHECK(strncmp(err, path, strlen(path)) == 0);
		CHECK(strlen(err) > strlen(path) + 2);
		CHECK(strchr(err, '\n') == NULL);
		return (0);
	}
	check_config(c);
	config_free(c);
	return (0);
}
