/*
 * test_worker_slice.c - cmocka tests for worker_slice.c, the main
 * thread's way through the workers' tables
 *
 * Copyright (C) 2026 The nfqspid authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * The real worker_slice.c against real connection tables (libspi.a),
 * one per worker.  worker_call() (worker.c: it runs the function in the
 * worker's thread and waits) and the clock are the test's: the call runs
 * at once in the test's thread, so every slice is deterministic, and a
 * worker may be marked as not running.
 *
 * The contract tested (nfqspid.h, ct.h): a walk in slices of max hands
 * each slice min(max, what is left of the worker's table) entries, in
 * slot order; its position is (wi, cursor) alone.  Between two slices
 * the tables may change: an entry there from the walk's start to its
 * end is visited exactly once, one removed before the walk reached it
 * never, one added meanwhile at most once (once if its worker is not
 * reached yet); no entry twice, and the walk ends.
 */
#include "autoconf.h"		/* first: _GNU_SOURCE */

#include <sys/socket.h>
#include <arpa/inet.h>
#include <netinet/in.h>

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "worker_int.h"
#include "ct_int.h"		/* e->sport: an entry's name here */
#include "strl.h"

#define NW		8	/* workers at most */
#define T0		50000	/* ms: when the entries are made */

struct fix {
	struct worker	*w[NW];
	unsigned	 n;
	struct config	 cfg[2];
	struct rule	 rules[2][4];
	uint64_t	 now;

	/* worker_call() */
	unsigned	 calls;
	struct worker	*in;		/* whose call runs now */
	struct worker	*down;		/* not running */
	struct worker	*stalled;	/* takes no call in time */
	unsigned	 waits;		/* worker_call_within()s */
	unsigned	 wait_ms;	/* ... the last one's */
	unsigned	 alls;		/* worker_call_all_within()s */

	struct ct_entry	*ent[65536];	/* by sport */
	/* what the slices handed out, by sport */
	unsigned	 seen[65536];
	uint16_t	 order[4096];
	size_t		 nvisit;
	int		 remove;	/* fn ct_remove()s each (a flush) */
	struct ct_view	 views[16];
	size_t		 nviews;
};

static struct fix *fx;

/* ---- the daemon's side, stubbed ----------------------------------------- */

uint64_t
spi_now_ms(void)
{
	return (fx->now);
}

int
worker_call(struct worker *w, void (*fn)(struct worker *, void *), void *arg)
{
	fx->calls++;
	if (w == fx->down) {
		errno = ESRCH;
		return (-1);
	}
	assert_null(fx->in);
	fx->in = w;
	fn(w, arg);
	fx->in = NULL;
	assert_int_equal(w->by_hand, 0);
	return (0);
}

/* a question: a stalled worker's is withdrawn, fn never runs */
int
worker_call_within(struct worker *w, void (*fn)(struct worker *, void *),
    void *arg, unsigned ms)
{
	fx->waits++;
	fx->wait_ms = ms;
	if (w == fx->stalled) {
		errno = ETIMEDOUT;
		return (-1);
	}
	return (worker_call(w, fn, arg));
}

/* every worker asked in one call: here each in turn, as above */
unsigned
worker_call_all_within(struct worker **w, unsigned n,
    void (*fn)(struct worker *, void *), void *args, size_t size,
    unsigned ms, int *err)
{
	unsigned	 i, nerr = 0;

	fx->alls++;
	for (i = 0; i < n; i++) {
		err[i] = worker_call_within(w[i], fn, (char *)args + i * size,
		    ms) == -1 ? errno : 0;
		if (err[i] != 0)
			nerr++;
	}
	return (nerr);
}

/* ---- workers and their entries ------------------------------------------ */

static int
setup(void **state)
{
	struct fix	*f = calloc(1, sizeof(*f));
	unsigned	 i;

	assert_non_null(f);
	/* two configurations, as during a reload; each has rules past
	   nrules in its array, so a missed bound check reads a name */
	for (i = 0; i < 2; i++) {
		f->cfg[i].rules = f->rules[i];
		spi_strlcpy(f->rules[i][2].name, "past-nrules",
		    sizeof(f->rules[i][2].name));
		spi_strlcpy(f->rules[i][3].name, "past-nrules",
		    sizeof(f->rules[i][3].name));
	}
	spi_strlcpy(f->rules[0][0].name, "dns", sizeof(f->rules[0][0].name));
	spi_strlcpy(f->rules[0][1].name, "ssh", sizeof(f->rules[0][1].name));
	f->cfg[0].nrules = 2;
	spi_strlcpy(f->rules[1][0].name, "web", sizeof(f->rules[1][0].name));
	spi_strlcpy(f->rules[1][1].name, "dropped", sizeof(f->rules[1][1].name));
	f->cfg[1].nrules = 1;
	f->now = T0;
	fx = f;
	*state = f;
	return (0);
}

static int
teardown(void **state)
{
	struct fix	*f = *state;
	unsigned	 i;

	for (i = 0; i < f->n; i++) {
		ct_free(f->w[i]->ct);
		free(f->w[i]);
	}
	free(f);
	fx = NULL;
	return (0);
}

/* n workers, each with a table of its own and configuration 0 */
static void
workers(struct fix *f, unsigned n)
{
	struct ct_config c;
	unsigned	 i;

	assert_true(n <= NW);
	ct_config_defaults(&c);
	c.max = 1024;
	c.source_share = 0;
	for (i = 0; i < n; i++) {
		f->w[i] = cacheline_calloc(1, sizeof(*f->w[i]));
		assert_non_null(f->w[i]);
		f->w[i]->id = i;
		f->w[i]->cfg = &f->cfg[0];
		f->w[i]->ct = ct_new(&c);
		assert_non_null(f->w[i]->ct);
	}
	f->n = n;
}

static struct pkt
udp(uint16_t sport, int reply, uint16_t iplen)
{
	struct pkt	 p;

	memset(&p, 0, sizeof(p));
	p.family = AF_INET;
	p.proto = IPPROTO_UDP;
	p.ttl = 64;
	inet_pton(AF_INET, reply ? "10.0.0.2" : "10.0.0.1", p.src.a8);
	inet_pton(AF_INET, reply ? "10.0.0.1" : "10.0.0.2", p.dst.a8);
	p.sport = reply ? 53 : sport;
	p.dport = reply ? sport : 53;
	p.iplen = iplen;
	p.paylen = iplen - 28;
	p.wscale = PKT_WSCALE_NONE;
	return (p);
}

/* The UDP connection from sport in worker wi's table, decided by rule. */
static struct ct_entry *
conn(struct fix *f, unsigned wi, uint16_t sport, uint32_t rule)
{
	struct pkt	 p = udp(sport, 0, 128);
	struct ct_result res;

	ct_track(f->w[wi]->ct, &p, f->now, &res);
	assert_int_equal(res.state, CT_NEW);
	assert_null(res.entry);
	assert_int_equal(ct_confirm(f->w[wi]->ct, &p, f->now, 0, rule, &res),
	    0);
	assert_non_null(res.entry);
	assert_int_equal(res.entry->sport, sport);
	f->ent[sport] = res.entry;
	return (res.entry);
}

/* Worker i's entries are sports 1000 * (i + 1) + 0 .. size[i] - 1. */
static size_t
refill(struct fix *f, const unsigned *size, unsigned n)
{
	unsigned	 i, k;
	size_t		 total = 0;

	for (i = 0; i < n; i++) {
		for (k = 0; k < size[i]; k++)
			conn(f, i, (uint16_t)(1000 * (i + 1) + k), 0);
		assert_int_equal(ct_count(f->w[i]->ct), size[i]);
		total += size[i];
	}
	return (total);
}

static size_t
fill(struct fix *f, const unsigned *size, unsigned n)
{
	workers(f, n);
	return (refill(f, size, n));
}

/* ---- the walk ----------------------------------------------------------- */

static void
visit(struct ct_table *t, struct ct_entry *e, struct ct_view *v, void *arg)
{
	struct fix	*f = arg;

	/* in the call of the worker whose table it is, which knows its
	   ends are a command's (for the HA peer: worker_sync.c) */
	assert_non_null(f->in);
	assert_ptr_equal(t, f->in->ct);
	assert_int_equal(f->in->by_hand, 1);
	if (v != NULL) {
		assert_int_equal(v->orig.sport, e->sport);
		if (f->nviews < sizeof(f->views) / sizeof(f->views[0]))
			f->views[f->nviews++] = *v;
	}
	f->seen[e->sport]++;
	assert_true(f->nvisit < sizeof(f->order) / sizeof(f->order[0]));
	f->order[f->nvisit++] = e->sport;
	if (f->remove)
		ct_remove(t, e);
}

static struct ct_slice
slice(struct fix *f, int noview)
{
	struct ct_slice	 s;

	memset(&s, 0, sizeof(s));
	s.noview = noview;
	s.fn = visit;
	s.arg = f;
	return (s);
}

/*
 * One slice, checked: one worker_call() while wi < n, none after;
 * min(max, left) entries of worker wi (left: those not visited yet, the
 * tables unchanged since the walk began), and wi moves on (cursor 0)
 * exactly when they were all.
 */
static void
step(struct fix *f, struct ct_slice *s, size_t max, const size_t *visited)
{
	unsigned	 wi = s->wi, calls = f->calls;
	size_t		 before = f->nvisit, left, want;

	if (wi >= f->n) {
		assert_int_equal(worker_slice(f->w, f->n, s, max), 0);
		assert_int_equal(f->calls, calls);
		assert_int_equal(s->wi, wi);
		assert_int_equal(f->nvisit, before);
		return;
	}
	left = ct_count(f->w[wi]->ct) - (f->remove ? 0 : visited[wi]);
	want = left < max ? left : max;
	assert_int_equal(worker_slice(f->w, f->n, s, max), 0);
	assert_int_equal(f->calls, calls + 1);
	assert_int_equal(f->nvisit - before, want);
	if (left <= max) {
		assert_int_equal(s->wi, wi + 1);
		assert_int_equal(s->cursor, 0);
	} else {
		assert_int_equal(s->wi, wi);
		assert_int_not_equal(s->cursor, 0);
	}
}

/* The rest of a walk in slices of max, each checked (visited: what
   each worker has handed out so far); the slices it took. */
static unsigned
walk_on(struct fix *f, struct ct_slice *s, size_t max, size_t *visited)
{
	size_t		 before;
	unsigned	 slices = 0, wi;

	while (s->wi < f->n) {
		assert_true(slices < 4096);	/* it ends */
		wi = s->wi;
		before = f->nvisit;
		step(f, s, max, visited);
		visited[wi] += f->nvisit - before;
		slices++;
	}
	step(f, s, max, visited);		/* done: no call */
	return (slices);
}

static unsigned
walk(struct fix *f, struct ct_slice *s, size_t max)
{
	size_t		 visited[NW] = { 0 };

	return (walk_on(f, s, max, visited));
}

static void
forget(struct fix *f)
{
	memset(f->seen, 0, sizeof(f->seen));
	f->nvisit = 0;
	f->nviews = 0;
}

/* Every entry of fill(size) once; ordered: in order, worker by worker,
   slot by slot (the order a fresh table got them in). */
static void
all_once(struct fix *f, const unsigned *size, unsigned n, int ordered)
{
	unsigned	 i, k;
	size_t		 j = 0;

	for (i = 0; i < n; i++)
		for (k = 0; k < size[i]; k++) {
			assert_int_equal(f->seen[1000 * (i + 1) + k], 1);
			assert_true(j < f->nvisit);
			if (ordered)
				assert_int_equal(f->order[j],
				    1000 * (i + 1) + k);
			j++;
		}
	assert_int_equal(f->nvisit, j);
}

/* slices a walk of max takes over tables of size: each worker's
   ceil(size / max), and one for an empty one */
static unsigned
slices_of(const unsigned *size, unsigned n, size_t max)
{
	unsigned	 i, s = 0;

	for (i = 0; i < n; i++)
		s += size[i] == 0 ? 1 : (unsigned)((size[i] + max - 1) / max);
	return (s);
}

/* ---- tests -------------------------------------------------------------- */

/* Slices of 1, of a few, of the table and more: every entry once, empty
   workers first, between and last. */
static void
test_every_entry_once(void **state)
{
	struct fix	*f = *state;
	const unsigned	 size[] = { 0, 5, 0, 0, 7, 1, 0 };
	const size_t	 max[] = { 1, 2, 3, 5, 6, 7, 8, 1000, SIZE_MAX };
	unsigned	 n = sizeof(size) / sizeof(size[0]), i, calls, slices;
	struct ct_slice	 s;

	assert_int_equal(fill(f, size, n), 13);
	for (i = 0; i < sizeof(max) / sizeof(max[0]); i++) {
		forget(f);
		s = slice(f, 0);
		calls = f->calls;
		slices = walk(f, &s, max[i]);
		assert_int_equal(slices,
		    max[i] == SIZE_MAX ? n : slices_of(size, n, max[i]));
		assert_int_equal(f->calls - calls, slices);
		assert_int_equal(s.wi, n);
		all_once(f, size, n, 1);
	}
}

/* Empty tables: one call each, nothing handed out; no workers: none. */
static void
test_empty(void **state)
{
	struct fix	*f = *state;
	const unsigned	 size[] = { 0, 0, 0 };
	struct ct_slice	 s;

	s = slice(f, 0);
	assert_int_equal(worker_slice(f->w, 0, &s, 10), 0);
	assert_int_equal(f->calls, 0);
	assert_int_equal(s.wi, 0);

	fill(f, size, 3);
	assert_int_equal(walk(f, &s, 1), 3);
	assert_int_equal(f->calls, 3);
	assert_int_equal(f->nvisit, 0);
	assert_int_equal(s.wi, 3);
	assert_int_equal(s.cursor, 0);
}

/* The position is (wi, cursor) alone: a fresh slice given them goes on
   with the entry after the last one handed out, whatever its max. */
static void
test_resume(void **state)
{
	struct fix	*f = *state;
	const unsigned	 size[] = { 6, 4 };
	struct ct_slice	 s, t;
	size_t		 visited[NW] = { 0 };

	fill(f, size, 2);
	s = slice(f, 0);
	step(f, &s, 4, visited);
	visited[0] = 4;
	assert_int_equal(f->order[3], 1003);
	assert_int_equal(s.wi, 0);

	t = slice(f, 0);
	t.wi = s.wi;
	t.cursor = s.cursor;
	step(f, &t, 1, visited);
	visited[0] = 5;
	assert_int_equal(f->nvisit, 5);
	assert_int_equal(f->order[4], 1004);
	/* again from the same place: the same entry */
	t.cursor = s.cursor;
	visited[0] = 4;
	step(f, &t, 1, visited);
	visited[0] = 5;
	assert_int_equal(f->order[5], 1004);
	f->seen[1004]--;
	f->nvisit--;
	/* and on to the end in slices of 3 */
	assert_int_equal(walk_on(f, &t, 3, visited), 1 + 2);
	all_once(f, size, 2, 1);
}

static void
slice_once(struct fix *f, struct ct_slice *s, size_t max)
{
	size_t		 before = f->nvisit;

	assert_int_equal(worker_slice(f->w, f->n, s, max), 0);
	assert_true(f->nvisit - before <= max);
}

/* The rest of a walk whose tables changed: it ends, no slice hands out
   more than max. */
static void
finish(struct fix *f, struct ct_slice *s, size_t max)
{
	unsigned	 slices = 0;

	while (s->wi < f->n) {
		assert_true(slices++ < 1024);
		slice_once(f, s, max);
	}
}

/* Entries removed and added between slices, in the worker being walked
   and in one not reached yet. */
static void
test_changes(void **state)
{
	struct fix	*f = *state;
	const unsigned	 size[] = { 8, 8 };
	struct ct_slice	 s;
	uint16_t	 sp;

	fill(f, size, 2);
	s = slice(f, 0);
	slice_once(f, &s, 3);			/* 1000 .. 1002 */
	assert_int_equal(s.wi, 0);
	/* one handed out, two not yet; in worker 1 too */
	ct_remove(f->w[0]->ct, f->ent[1001]);
	ct_remove(f->w[0]->ct, f->ent[1005]);
	ct_remove(f->w[0]->ct, f->ent[1007]);
	ct_remove(f->w[1]->ct, f->ent[2000]);
	ct_remove(f->w[1]->ct, f->ent[2004]);
	/* new ones: in freed slots before and after the cursor, past the
	   last one; in worker 1, which the walk has not reached */
	for (sp = 1100; sp < 1104; sp++)
		conn(f, 0, sp, 0);
	for (sp = 2100; sp < 2103; sp++)
		conn(f, 1, sp, 0);
	finish(f, &s, 3);

	for (sp = 1000; sp < 1008; sp++)	/* there all along, or gone */
		assert_int_equal(f->seen[sp],
		    sp == 1005 || sp == 1007 ? 0 : 1);
	for (sp = 2000; sp < 2008; sp++)
		assert_int_equal(f->seen[sp],
		    sp == 2000 || sp == 2004 ? 0 : 1);
	for (sp = 1100; sp < 1104; sp++)	/* added behind or ahead */
		assert_in_range(f->seen[sp], 0, 1);
	for (sp = 2100; sp < 2103; sp++)	/* added where not reached */
		assert_int_equal(f->seen[sp], 1);
}

/* Worker 0 flushed in the middle of its walk, and filled again: the walk
   goes on to worker 1, nothing twice. */
static void
test_flushed_between(void **state)
{
	struct fix	*f = *state;
	const unsigned	 size[] = { 10, 3 };
	struct ct_slice	 s;
	uint16_t	 sp;

	fill(f, size, 2);
	s = slice(f, 0);
	slice_once(f, &s, 4);			/* 1000 .. 1003 */
	slice_once(f, &s, 4);			/* 1004 .. 1007 */
	assert_int_equal(s.wi, 0);
	ct_flush(f->w[0]->ct);
	for (sp = 1000; sp < 1012; sp++)	/* the old ones, two more */
		conn(f, 0, sp, 0);
	finish(f, &s, 4);
	for (sp = 1000; sp < 1012; sp++)
		assert_in_range(f->seen[sp], sp < 1008 ? 1 : 0, 1);
	for (sp = 2000; sp < 2003; sp++)
		assert_int_equal(f->seen[sp], 1);
}

/* What the view of each entry says: the rule's name from the worker's
   own configuration, or none; bytes where the table keeps them; the
   offload mark where the table has it; the age and timeout from the
   clock at the slice. */
static void
test_view(void **state)
{
	struct fix	*f = *state;
	const uint32_t	 rule[] = { 2, 0, 3, 1, 65537 };
	struct ct_entry	*e;
	struct ct_result res;
	struct ct_slice	 s;
	struct pkt	 p;
	unsigned	 i;

	workers(f, 2);
	f->w[1]->cfg = &f->cfg[1];		/* not yet reloaded */
	ct_keep_bytes(f->w[0]->ct);		/* before its first entry */
	for (i = 0; i < 5; i++)
		conn(f, 0, (uint16_t)(1000 + i), rule[i]);
	conn(f, 1, 2000, 0);
	conn(f, 1, 2001, 1);
	/* 1000 answered a second later: 128 + 200 bytes both ways */
	f->now = T0 + 1000;
	p = udp(1000, 1, 200);
	ct_track(f->w[0]->ct, &p, f->now, &res);
	assert_int_equal(res.state, CT_ESTABLISHED);
	/* the worker handed 1000 to the kernel's map */
	assert_int_equal(ct_set_offloaded(f->w[0]->ct, f->ent[1000], 1), 0);

	f->now = T0 + 7600;
	s = slice(f, 0);
	finish(f, &s, 2);
	assert_int_equal(f->nviews, 7);

	/* rule 2 is past nrules (2): the policy, no name */
	assert_int_equal(f->views[0].rule, 2);
	assert_null(f->views[0].rule_name);
	assert_ptr_equal(f->views[1].rule_name, f->rules[0][0].name);
	assert_string_equal(f->views[1].rule_name, "dns");
	assert_int_equal(f->views[2].rule, 3);
	assert_null(f->views[2].rule_name);
	assert_string_equal(f->views[3].rule_name, "ssh");
	assert_int_equal(f->views[4].rule, 65537);
	assert_null(f->views[4].rule_name);
	/* worker 1's names are its configuration's: rule 1 is past its
	   nrules (1) */
	assert_string_equal(f->views[5].rule_name, "web");
	assert_int_equal(f->views[6].rule, 1);
	assert_null(f->views[6].rule_name);

	/* bytes: worker 0's table keeps them, worker 1's does not */
	assert_true(f->views[0].flags & CT_VIEW_BYTES);
	assert_int_equal(f->views[0].bytes, 128 + 200);
	assert_true(f->views[1].flags & CT_VIEW_BYTES);
	assert_int_equal(f->views[1].bytes, 128);
	assert_false(f->views[5].flags & CT_VIEW_BYTES);
	assert_int_equal(f->views[5].bytes, 0);
	/* offloaded: 1000 only; answered within its first 2 s, so no
	   stream yet: not ASSURED (as the kernel) */
	assert_true(f->views[0].flags & CT_VIEW_OFFLOAD);
	assert_false(f->views[0].flags & CT_VIEW_ASSURED);
	assert_false(f->views[0].flags & CT_VIEW_UNREPLIED);
	for (i = 1; i < 7; i++)
		assert_false(f->views[i].flags & CT_VIEW_OFFLOAD);

	/* made at T0, seen at T0 + 7.6 s: 7 s old; an unanswered UDP
	   flow's timeout less 7.6 s (whole seconds) */
	for (i = 0; i < 7; i++)
		assert_int_equal(f->views[i].age, 7);
	e = f->ent[2000];
	assert_int_equal(f->views[5].timeout,
	    (e->deadline - (uint32_t)(T0 + 7600)) / 1000);
	assert_int_equal(f->views[5].timeout,
	    f->w[1]->ct->cfg.timeout[CT_TO_UDP] - 8);
	assert_true(f->views[5].flags & CT_VIEW_UNREPLIED);
	assert_false(f->views[0].flags & CT_VIEW_UNREPLIED);
}

/* noview: no view at all (a flush needs none), and fn may ct_remove()
   each entry it is given: every one once, the tables empty after. */
static void
test_noview_flush(void **state)
{
	struct fix	*f = *state;
	const unsigned	 size[] = { 3, 0, 5, 4 };
	struct ct_slice	 s;
	unsigned	 i;

	fill(f, size, 4);
	f->remove = 1;
	s = slice(f, 1);
	assert_int_equal(walk(f, &s, 2), slices_of(size, 4, 2));
	assert_int_equal(f->nviews, 0);		/* visit() got NULL */
	all_once(f, size, 4, 1);
	for (i = 0; i < 4; i++)
		assert_int_equal(ct_count(f->w[i]->ct), 0);

	/* the same walk with views: each one's */
	f->remove = 0;
	forget(f);
	refill(f, size, 4);
	s = slice(f, 0);
	walk(f, &s, 2);
	assert_int_equal(f->nviews, 12);
	/* the freed slots are taken again last freed first */
	all_once(f, size, 4, 0);
}

/* A worker whose last slots were freed before the walk: its last slice
   still ends it (no extra, empty one), so a walk of max takes exactly
   slices_of() what is left; the freed entries are not handed out. */
static void
test_freed_tail(void **state)
{
	struct fix	*f = *state;
	const unsigned	 size[] = { 10, 6, 4 }, left[] = { 7, 5, 3 };
	const uint16_t	 gone[] = { 1007, 1008, 1009, 2000, 3003 };
	const size_t	 max[] = { 1, 2, 3, 5, 7, 1000 };
	struct ct_slice	 s;
	unsigned	 i, k;

	fill(f, size, 3);
	for (i = 0; i < sizeof(gone) / sizeof(gone[0]); i++)
		ct_remove(f->w[(gone[i] / 1000) - 1]->ct, f->ent[gone[i]]);
	for (i = 0; i < sizeof(max) / sizeof(max[0]); i++) {
		forget(f);
		s = slice(f, 0);
		assert_int_equal(walk(f, &s, max[i]),
		    slices_of(left, 3, max[i]));
		assert_int_equal(f->nvisit, 7 + 5 + 3);
		for (k = 0; k < sizeof(gone) / sizeof(gone[0]); k++)
			assert_int_equal(f->seen[gone[k]], 0);
	}
}

/* A worker not running: -1 and ESRCH, the position kept; once it runs
   again the walk goes on from there. */
static void
test_not_running(void **state)
{
	struct fix	*f = *state;
	const unsigned	 size[] = { 2, 3, 1 };
	struct ct_slice	 s;
	size_t		 n;
	unsigned	 wi;

	fill(f, size, 3);
	s = slice(f, 0);
	assert_int_equal(worker_slice(f->w, f->n, &s, 2), 0);
	assert_int_equal(s.wi, 1);
	f->down = f->w[1];
	errno = 0;
	assert_int_equal(worker_slice(f->w, f->n, &s, 2), -1);
	assert_int_equal(errno, ESRCH);
	assert_int_equal(s.wi, 1);
	assert_int_equal(s.cursor, 0);
	assert_int_equal(f->nvisit, 2);
	errno = 0;
	assert_int_equal(worker_ct_count_all(f->w, f->n, &n, &wi), -1);
	assert_int_equal(errno, ESRCH);
	assert_int_equal(wi, 1);

	f->down = NULL;
	finish(f, &s, 2);
	all_once(f, size, 3, 1);
	assert_int_equal(worker_ct_count_all(f->w, f->n, &n, &wi), 0);
	assert_int_equal(n, 6);
}

/* A listing's slice (wait_ms set) asks with a deadline: a stalled
   worker's ETIMEDOUT comes back, the position kept; a delete's (wait_ms
   0) waits, as does worker_call(); a count asks every worker at once
   with WORKER_QUERY_MS. */
static void
test_stalled(void **state)
{
	struct fix	*f = *state;
	const unsigned	 size[] = { 2, 3, 1 };
	struct ct_slice	 s;
	size_t		 n;
	unsigned	 wi;

	fill(f, size, 3);
	s = slice(f, 0);
	s.wait_ms = 250;
	assert_int_equal(worker_slice(f->w, f->n, &s, 2), 0);
	assert_int_equal(f->waits, 1);
	assert_int_equal(f->wait_ms, 250);
	f->stalled = f->w[1];
	errno = 0;
	assert_int_equal(worker_slice(f->w, f->n, &s, 2), -1);
	assert_int_equal(errno, ETIMEDOUT);
	assert_int_equal(s.wi, 1);
	assert_int_equal(s.cursor, 0);
	assert_int_equal(f->nvisit, 2);
	/* a count asks every worker in one call, and names the first
	   that failed */
	errno = 0;
	f->waits = 0;
	f->down = f->w[2];
	assert_int_equal(worker_ct_count_all(f->w, f->n, &n, &wi), -1);
	assert_int_equal(errno, ETIMEDOUT);
	assert_int_equal(wi, 1);
	assert_int_equal(f->alls, 1);
	assert_int_equal(f->waits, 3);
	assert_int_equal(f->wait_ms, WORKER_QUERY_MS);
	f->down = NULL;
	/* without wait_ms: worker_call(), which the stub runs */
	s.wait_ms = 0;
	f->waits = 0;
	assert_int_equal(worker_slice(f->w, f->n, &s, 2), 0);
	assert_int_equal(f->waits, 0);
	f->stalled = NULL;
	finish(f, &s, 2);
	all_once(f, size, 3, 1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_every_entry_once, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_empty, setup, teardown),
		cmocka_unit_test_setup_teardown(test_resume, setup, teardown),
		cmocka_unit_test_setup_teardown(test_changes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_flushed_between, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_view, setup, teardown),
		cmocka_unit_test_setup_teardown(test_noview_flush, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_freed_tail, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_not_running, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_stalled, setup, teardown),
	};

	return (cmocka_run_group_tests(tests, NULL, NULL));
}
