/*
 * worker_slice.c - the main thread's way through the workers' tables
 *
 * Copyright (C) 2026 The nfqspid authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * nfqspictl conntrack (control_table.c), /api/connections and /metrics
 * (http.c) read the tables the one way the main thread may: through
 * worker_call(), a slice of a bounded number of entries at a time, so a
 * huge table never holds a worker for long.  The position between two
 * slices is a worker and its ct_walk() cursor; each entry is seen in
 * the worker's thread as its view (ct_view.h), filled here once.
 */
#include <errno.h>
#include <stdint.h>

#include "worker_int.h"

struct slice_call {
	struct ct_slice	*s;
	size_t		 max;
	const struct config *cfg;
	uint64_t	 now;
};

static int
slice_visit(struct ct_table *t, struct ct_entry *e, void *arg)
{
	struct slice_call *a = arg;
	struct ct_view	 v;

	if (a->s->noview) {
		a->s->fn(t, e, NULL, a->s->arg);
		return (0);
	}
	ct_view_fill(&v, e, a->now);
	ct_view_table(&v, t, e);
	if (v.rule < a->cfg->nrules)
		v.rule_name = a->cfg->rules[v.rule].name;
	a->s->fn(t, e, &v, a->s->arg);
	return (0);
}

static void
w_slice(struct worker *w, void *arg)
{
	struct slice_call *a = arg;

	a->cfg = w->cfg;
	a->now = spi_now_ms();
	/* what a delete ends, the peer must forget too (worker_sync.c) */
	w->by_hand = 1;
	ct_walk(w->ct, &a->s->cursor, a->max, slice_visit, a);
	w->by_hand = 0;
}

int
worker_slice(struct worker **workers, unsigned n, struct ct_slice *s,
    size_t max)
{
	struct slice_call a = { s, max, NULL, 0 };

	if (s->wi >= n)
		return (0);
	if ((s->wait_ms > 0 ? worker_call_within(workers[s->wi], w_slice, &a,
	    s->wait_ms) : worker_call(workers[s->wi], w_slice, &a)) == -1)
		return (-1);
	/* ct_walk() sets the cursor to 0 once the table is done */
	if (s->cursor == 0)
		s->wi++;
	return (0);
}

static void
w_count(struct worker *w, void *arg)
{
	*(size_t *)arg = ct_count(w->ct);
}

int
worker_ct_count_all(struct worker **w, unsigned n, size_t *total,
    unsigned *wi)
{
	size_t		 count[WORKERS_MAX];
	int		 err[WORKERS_MAX];
	unsigned	 i;

	*total = 0;
	*wi = 0;
	if (n > WORKERS_MAX) {
		errno = EINVAL;
		return (-1);
	}
	/* a question: the stalled workers hold the main loop for
	   WORKER_QUERY_MS in all */
	(void)worker_call_all_within(w, n, w_count, count, sizeof(count[0]),
	    WORKER_QUERY_MS, err);
	for (i = 0; i < n; i++) {
		if (err[i] != 0) {
			*wi = i;
			errno = err[i];
			return (-1);
		}
		*total += count[i];
	}
	return (0);
}
