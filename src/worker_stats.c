/*
 * worker_stats.c - a worker's counters and its once-a-second summary
 *
 * Copyright (C) 2026 The nfqspid authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * The counters are the worker's own (its thread writes them, nothing
 * else); the main thread reads them through worker_call().
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "worker_int.h"

/*
 * Counters for cfg's rules and policy; none if memory is short.  After a
 * reload a rule keeps its counts if it keeps its name (looked for at the
 * same place, or anywhere while both files are of a modest size).
 */
void
worker_rule_counters_new(struct worker *w, const struct config *old,
    const struct config *cfg)
{
	uint64_t	*k;
	size_t		 n = cfg->nrules + CT_STATE_MAX, i, j, from;

	/* written for every packet: on lines of its own */
	if ((k = cacheline_calloc(n, 2 * sizeof(uint64_t))) == NULL)
		log_warn("worker %u: rule counters", w->id);
	if (k != NULL && old != NULL && w->rcount != NULL &&
	    w->nrcount == old->nrules + CT_STATE_MAX) {
		for (i = 0; i < cfg->nrules; i++) {
			from = SIZE_MAX;
			if (cfg->rule_from != NULL && cfg->rule_from_cfg == old)
				from = cfg->rule_from[i];
			else if (i < old->nrules && strcmp(old->rules[i].name,
			    cfg->rules[i].name) == 0)
				from = i;
			else if (old->nrules * cfg->nrules <= 1024 * 1024)
				for (j = 0; j < old->nrules; j++)
					if (strcmp(old->rules[j].name,
					    cfg->rules[i].name) == 0) {
						from = j;
						break;
					}
			if (from != SIZE_MAX)
				memcpy(&k[2 * i], &w->rcount[2 * from],
				    2 * sizeof(uint64_t));
		}
		memcpy(&k[2 * cfg->nrules], &w->rcount[2 * old->nrules],
		    2 * CT_STATE_MAX * sizeof(uint64_t));
	}
	free(w->rcount);
	w->rcount = k;
	w->nrcount = k != NULL ? n : 0;
}

const uint64_t *
worker_rule_counters(struct worker *w, size_t *n)
{
	*n = w->nrcount;
	return (w->rcount);
}

void
worker_rule_counters_zero(struct worker *w)
{
	if (w->rcount != NULL)
		memset(w->rcount, 0, w->nrcount * 2 * sizeof(*w->rcount));
}

/*
 * Once a summary interval at most: the table was full (connections
 * refused, or others evicted to make room) or the kernel refused
 * verdicts.  The counts tell how many since the last record.
 */
static void
worker_trouble(struct worker *w)
{
	struct ct_stats	 cs;
	struct nq_stats	 ns;

	ct_get_stats(w->ct, &cs);
	nq_get_stats(w->nq, &ns);
	if (cs.insert_failed != w->seen_full)
		log_warnx("worker %u: connection table full (%zu of %u): %llu "
		    "new connections refused (table-full)", w->id,
		    ct_count(w->ct), w->cfg->ct.max,
		    (unsigned long long)(cs.insert_failed - w->seen_full));
	if (cs.early_drop != w->seen_early)
		log_warnx("worker %u: connection table full (%zu of %u): %llu "
		    "connections evicted for new ones", w->id,
		    ct_count(w->ct), w->cfg->ct.max,
		    (unsigned long long)(cs.early_drop - w->seen_early));
	if (ns.verdict_errors != w->seen_verr)
		log_warnx("worker %u: queue %u: the kernel refused %llu "
		    "verdicts", w->id, nq_queue(w->nq),
		    (unsigned long long)(ns.verdict_errors - w->seen_verr));
	w->seen_full = cs.insert_failed;
	w->seen_early = cs.early_drop;
	w->seen_verr = ns.verdict_errors;
}

void
worker_summary(struct worker *w, uint64_t now)
{
	if (now - w->summary_ms < WORKER_SUMMARY_MS)
		return;
	w->summary_ms = now;
	worker_trouble(w);
	if (w->suppressed == 0)
		return;
	log_audit("suppressed %llu audit records over the rate of %u a "
	    "second (worker %u)", (unsigned long long)w->suppressed,
	    w->cfg->log_rate, w->id);
	w->suppressed = 0;
}

void
worker_count(struct worker *w, const struct verdict *v, size_t len)
{
	/* atomic: the main loop's tick reads it (worker_received()) */
	__atomic_store_n(&w->st.received, w->st.received + 1,
	    __ATOMIC_RELAXED);
	if (v->action == RULE_ACCEPT)
		w->st.accepted++;
	else
		w->st.dropped++;
	if (v->state == CT_INVALID) {
		w->st.invalid++;
		if (v->reason < REASON_MAX)
			w->st.reasons[v->reason]++;
	} else if (v->state == CT_RELATED)
		w->st.related++;

	/* where the packet was decided: its rule, or [policy] state */
	if (w->rcount != NULL) {
		size_t	 i = v->rule != NULL ? v->rule->index :
		    w->cfg->nrules + v->state;

		if (i < w->nrcount) {
			w->rcount[2 * i]++;
			w->rcount[2 * i + 1] += len;
		}
	}
}

void
worker_get_stats(struct worker *w, struct worker_stats *s)
{
	*s = w->st;
	nq_get_stats(w->nq, &s->nq);
	ct_get_stats(w->ct, &s->ct);
	s->conns = ct_count(w->ct);
	limit_get_stats(w->lt, &s->limit);
	s->sources = limit_count(w->lt);
	frag_get_stats(w->fc, &s->frag);
	s->fp.active = ct_offload_count(w->ct);
	s->adopt_waiting = w->nadopt;
	s->adopt_bytes = w->adopt_bytes;
}

/* The counter structs are uint64_t only, so they add up word by word. */
_Static_assert(sizeof(struct nq_stats) % sizeof(uint64_t) == 0, "nq_stats");
_Static_assert(sizeof(struct ct_stats) % sizeof(uint64_t) == 0, "ct_stats");
_Static_assert(sizeof(struct frag_stats) % sizeof(uint64_t) == 0,
    "frag_stats");
_Static_assert(sizeof(struct limit_stats) % sizeof(uint64_t) == 0,
    "limit_stats");
_Static_assert(sizeof(struct fp_stats) % sizeof(uint64_t) == 0, "fp_stats");

static void
add_words(void *to, const void *from, size_t size)
{
	uint64_t	*t = to;
	const uint64_t	*f = from;
	size_t		 i;

	for (i = 0; i < size / sizeof(uint64_t); i++)
		t[i] += f[i];
}

/* Every field is a 64-bit counter (nfqspid.h): add them as words. */
_Static_assert(sizeof(struct worker_stats) % sizeof(uint64_t) == 0,
    "struct worker_stats holds 64-bit counters only");

void
worker_stats_add(struct worker_stats *t, const struct worker_stats *s)
{
	add_words(t, s, sizeof(*t));
}

struct snapshot {
	struct worker_stats	*s;
	uint32_t		*ctmax;
};

static void
worker_snapshot_fn(struct worker *w, void *arg)
{
	struct snapshot	*a = arg;

	worker_get_stats(w, a->s);
	if (a->ctmax != NULL)
		*a->ctmax = w->cfg->ct.max;
}

int
worker_snapshot_all(struct worker **w, unsigned n, struct worker_stats *s,
    uint32_t *ctmax, unsigned ms, int *err)
{
	struct snapshot	 a[WORKERS_MAX];
	unsigned	 i;

	if (n > WORKERS_MAX) {
		errno = EINVAL;
		return (-1);
	}
	for (i = 0; i < n; i++) {
		memset(&s[i], 0, sizeof(s[i]));
		ctmax[i] = 0;
		a[i].s = &s[i];
		a[i].ctmax = &ctmax[i];
	}
	return ((int)worker_call_all_within(w, n, worker_snapshot_fn, a,
	    sizeof(a[0]), ms, err));
}
