/*
 * workerfix.c - real workers without their threads (see workerfix.h)
 *
 * Copyright (C) 2026 The nfqspid authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include "autoconf.h"		/* first: _GNU_SOURCE */

#include <sys/socket.h>
#include <netinet/in.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "workerfix.h"

/* ---- the rest of the daemon, stubbed ------------------------------------ */

unsigned	 audits;
unsigned	 ev_ends, ev_updates;

void log_warn(const char *f, ...) { (void)f; }
void log_warnx(const char *f, ...) { (void)f; }
void log_info(const char *f, ...) { (void)f; }
void log_debug(const char *f, ...) { (void)f; }
void log_audit(const char *f, ...) { (void)f; audits++; }

void
events_ct(struct events *ev, unsigned wid, int event,
    const struct ct_table *t, const struct ct_entry *e,
    const struct config *cfg)
{
	if (event == CT_EVENT_NEW || event == CT_EVENT_DESTROY)
		ev_ends++;
	else
		ev_updates++;
}

void worker_fp_config(struct worker *w, const struct config *c) { }
void worker_fp_packet(struct worker *w, const struct pkt *p,
    const struct verdict *v) { }
void worker_fp_event(struct worker *w, int ev, const struct ct_entry *e) { }
void worker_fp_epoch(struct worker *w) { }
void worker_fp_credits(struct worker *w, uint64_t now) { }

int		 sending;
int		 mastering;
int		 bulking;
unsigned	 to_peer;
unsigned	 deletes;
unsigned	 queued[FIX_WORKERS];
unsigned	 queued_moves[FIX_WORKERS];
unsigned	 moves;
unsigned	 rebulks;
uint64_t	 unseen;
uint8_t		 fakesync;

int sync_sending(const struct sync *s) { return (sending); }
uint64_t sync_room(struct sync *s, unsigned wid) { return (1024); }
uint64_t *sync_unseen(struct sync *s) { return (&unseen); }
void sync_moved(struct sync *s) { moves++; }
int sync_bulking(const struct sync *s) { return (bulking); }
void sync_rebulk(struct sync *s) { rebulks++; }
int sync_unsettled(const struct sync *s) { return (!sending || mastering); }

/* A record queued in wid's ring (a DELETE or not); a backup's link
   queues nothing (synclink_slot()). */
static void
fix_queue(unsigned wid, int delete)
{
	if (!sending)
		return;
	to_peer++;
	assert_true(wid < FIX_WORKERS);
	queued[wid]++;
	queued_moves[wid] = moves;
	if (delete)
		deletes++;
}

void
sync_ct(struct sync *s, unsigned wid, int event, const struct ct_table *t,
    const struct ct_entry *e, const struct config *cfg)
{
	fix_queue(wid, event == CT_EVENT_DESTROY);
}

void
sync_forget(struct sync *s, unsigned wid, const struct ct_tuple *k)
{
	fix_queue(wid, 1);
}

/* ---- the queue, wrapped ------------------------------------------------- */

struct given	 given[FIX_GIVEN];
size_t		 ngiven;
static uint8_t	 fakeq;		/* the handle worker_new() keeps */

struct nq	*__wrap_nq_open(uint16_t, uint32_t, int, uint32_t, uint32_t);
void		 __wrap_nq_close(struct nq *);
int		 __wrap_nq_verdict(struct nq *, uint32_t,
		    const struct nq_verdict *);
void		 __wrap_nq_get_stats(const struct nq *, struct nq_stats *);

struct nq *
__wrap_nq_open(uint16_t queue, uint32_t maxlen, int fail_open,
    uint32_t copy, uint32_t maxcopy)
{
	return ((struct nq *)&fakeq);
}

void
__wrap_nq_close(struct nq *q)
{
	assert_ptr_equal(q, &fakeq);
}

int
__wrap_nq_verdict(struct nq *q, uint32_t id, const struct nq_verdict *v)
{
	assert_ptr_equal(q, &fakeq);
	assert_true(ngiven < FIX_GIVEN);
	given[ngiven].id = id;
	given[ngiven].accept = v->accept;
	given[ngiven].set_mark = v->set_mark;
	given[ngiven].mark = v->mark;
	ngiven++;
	return (0);
}

/* the real one would read a struct nq where fakeq's one byte is */
void
__wrap_nq_get_stats(const struct nq *q, struct nq_stats *s)
{
	assert_ptr_equal(q, &fakeq);
	memset(s, 0, sizeof(*s));
}

/* ---- the workers -------------------------------------------------------- */

struct fix *
fix_new(void)
{
	struct fix	*f = calloc(1, sizeof(*f));

	assert_non_null(f);
	ct_config_defaults(&f->cfg.ct);
	frag_config_defaults(&f->cfg.frag);
	f->cfg.mode = MODE_ENFORCE;
	f->cfg.policy[CT_NEW] = RULE_DROP;
	f->cfg.policy[CT_ESTABLISHED] = RULE_ACCEPT;
	f->cfg.policy[CT_RELATED] = RULE_ACCEPT;
	f->cfg.policy[CT_INVALID] = RULE_DROP;
	f->cfg.log_rate = 1000;
	f->cfg.queue_maxlen = 4096;
	f->cfg.rules = f->rules;
	audits = ev_ends = ev_updates = 0;
	sending = 1;
	mastering = bulking = 0;
	to_peer = deletes = moves = rebulks = 0;
	memset(queued, 0, sizeof(queued));
	memset(queued_moves, 0, sizeof(queued_moves));
	unseen = 0;
	ngiven = 0;
	return (f);
}

static struct worker *
fix_worker(struct fix *f, unsigned id)
{
	struct worker	*w;
	char		 err[128];

	w = worker_new(id, &f->cfg, err, sizeof(err));
	assert_non_null(w);
	/* what worker_start() adds, without the thread */
	w->base = event_base_new();
	assert_non_null(w->base);
	w->askev = event_new(w->base, -1, 0, worker_ask_cb, w);
	w->asktimer = evtimer_new(w->base, worker_ask_timeout, w);
	assert_non_null(w->askev);
	assert_non_null(w->asktimer);
	limit_bucket_init(&w->auditrate, f->cfg.log_rate, f->now);
	return (w);
}

void
fix_start(struct fix *f, unsigned n, uint64_t now)
{
	unsigned	 i;

	assert_true(n >= 1 && n <= FIX_WORKERS);
	f->now = now;
	f->n = n;
	for (i = 0; i < n; i++)
		f->all[i] = fix_worker(f, i);
	worker_set_peers(f->all, n);
}

int
teardown(void **state)
{
	struct fix	*f = *state;
	size_t		 i;

	for (i = 0; i < f->n; i++)
		worker_free(f->all[i]);
	for (i = 0; i < f->cfg.nrules; i++)
		rule_clear(&f->rules[i]);
	free(f);
	return (0);
}

void
fix_packet(const struct fix *f, struct nq_packet *np, uint8_t *b,
    size_t len, uint32_t id)
{
	memset(np, 0, sizeof(*np));
	np->id = id;
	np->data = b;
	np->len = np->origlen = len;
	np->ts_ms = f->now;
	np->hook = PKT_HOOK_FORWARD;
}
