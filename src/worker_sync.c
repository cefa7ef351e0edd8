/*
 * worker_sync.c - a worker's side of the HA sync: its changes out, the
 * peer's in
 *
 * Copyright (C) 2026 The nfqspid authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * Out: every NEW, UPDATE and DESTROY of the table goes to the sync
 * thread's ring (sync_ct()), and a slice of the table every tick is sent
 * again (refresh): the timers and TCP windows of long-lived connections
 * move on without an event, and the backup must follow them.  In (on
 * the backup, through worker_call()): records imported with the local
 * index of their rule's name and the conn_limit counts moved as the
 * master moved them (verdict.c), so that a takeover finds the same
 * limits.  While it imports the worker queues no changes of its own: the
 * peer's must not come back to it.
 *
 * With several workers each record goes to its connection's home
 * (synclink_home()), but after a failover the kernel's queue hash may
 * send its packets to another worker: that one adopts it (worker_ask.c
 * asks, worker_sync_give() hands it over, worker_sync_adopt() takes
 * it).  Home counts what it holds that no packet reached yet (synced,
 * ct_synced_mark()), so that the others ask only while it holds some.
 */
#include <sys/socket.h>

#include <stdlib.h>
#include <string.h>

#include "worker_int.h"
#include "sync_int.h"
#include "namehash.h"
#include "statefile.h"

/* The rule names of one configuration, hashed: slot = index + 1. */
struct worker_names {
	const struct config	*cfg;
	uint32_t		*slot;
	size_t			 cap;		/* a power of 2 */
};

void
worker_set_sync(struct worker *w, struct sync *s)
{
	w->sync = s;
	w->unseen = sync_unseen(s);
	/* without it the refresh still sends the windows, later */
	if (ct_dirty_track(w->ct, 1) == -1)
		log_warn("worker %u: [sync]: window tracking for the peer",
		    w->id);
}

static void
worker_sync_dirty_one(struct ct_table *t, const struct ct_entry *e,
    void *arg)
{
	struct worker	*w = arg;

	sync_ct(w->sync, w->id, CT_EVENT_UPDATE, t, e, w->cfg);
}

static void
worker_sync_drop_one(struct ct_table *t, const struct ct_entry *e,
    void *arg)
{
}

/*
 * Every flush: the connections whose windows moved go once each, as
 * far as half the ring holds (the rest stay marked for the next one);
 * a backup has nobody to tell.
 */
void
worker_sync_flush(struct worker *w)
{
	if (!sync_sending(w->sync)) {
		(void)ct_dirty_take(w->ct, SIZE_MAX, worker_sync_drop_one,
		    NULL);
		return;
	}
	(void)ct_dirty_take(w->ct, (size_t)(sync_room(w->sync, w->id) / 2),
	    worker_sync_dirty_one, w);
}

static void
worker_sync_flush_cb(evutil_socket_t fd, short events, void *arg)
{
	worker_sync_flush(arg);
}

int
worker_sync_start(struct worker *w)
{
	struct timeval	 tv = { 0, w->cfg->sync.flush_ms * 1000 };

	if (w->sync == NULL)
		return (0);
	if ((w->syncev = event_new(w->base, -1, EV_PERSIST,
	    worker_sync_flush_cb, w)) == NULL ||
	    event_add(w->syncev, &tv) == -1)
		return (-1);
	return (0);
}

/* Several workers, which another's packets may reach (their peers are
   set before the link starts): then a synced copy no packet reached
   keeps its end and refresh from the peer, and counts for the node. */
static int
worker_sync_shared(const struct worker *w)
{
	return (__atomic_load_n(&w->npeers, __ATOMIC_ACQUIRE) > 1);
}

/*
 * A change for the peer.  A synced copy no packet of ours reached
 * (unseen) is the peer's as it sent it: its end is no news there, where
 * the same copy runs out on its own timer, and the connection may live
 * on here in another worker.  A packet that came while we were backup
 * (nobody is asked then), a SYN, or one that found no room to wait for
 * home's answer makes a fresh entry there, sent to the peer as ours,
 * beside home's unseen copy: that copy's DELETE, or its refresh, would
 * end or set back the live connection at the peer until our next
 * refresh, and a failover meanwhile would lose it.  So neither goes
 * out, whatever ends the copy (its timeout, an eviction, the fresh
 * entry: its worker tells home, worker_adopt_fresh(), unless home's
 * list is full) but a command (nfqspictl conntrack -D: by_hand).  Only
 * a master sends, and a copy is unseen only on a node that took over
 * from the peer: TCP, UDP and ICMP alike.  On a backup every entry a
 * packet makes off its home tells home, which ends it once the peer's
 * word of it comes (worker_sync_there()).  So does one on a new master
 * in the grace, home holding a copy or not: the old master's record of
 * the tuple may come home after it, which home would take and send back
 * to the peer (keep) from its own ring, behind the live connection's
 * records and maybe its DELETE; home remembers it, and keeps the record
 * out (worker_sync_apply()).
 *
 * A DELETE names the tuple, not the connection, and the link sends the
 * rings one after the other (synclink_drain()): a DELETE from one ring
 * behind a newer record of its tuple from another would end the newer
 * connection at the peer.  The packets keep them in one ring: the
 * kernel sends each packet of a tuple, either way, to the same worker
 * (the address pair's hash, seeded once a boot), where every entry a
 * packet made or reached lives; one home handed over goes out behind
 * what home queued of it (synclink_moved()), home's copy beside it
 * ends without a word, and in the grace home, told, keeps out the old
 * master's record, which it would send back from its ring (above), or,
 * having sent it, has the taker send its entry, or its end, again
 * (worker_adopt_staled()).  A
 * command's end of that copy is the one DELETE
 * from another ring, and the copy's filter (its state, its direction)
 * or a flush's walk may leave the live one: the whole table follows
 * it, which brings that one back (sync_rebulk()).
 */
void
worker_sync_event(struct worker *w, int event, const struct ct_entry *e)
{
	int	 unseen = 0;

	/* an end: no longer waiting for its packets */
	if (__builtin_expect(__atomic_load_n(&w->synced, __ATOMIC_RELAXED) !=
	    0, 0) && event == CT_EVENT_DESTROY)
		unseen = worker_sync_seen(w, e);
	if (w->sync == NULL || w->importing)
		return;
	if (!unseen || w->by_hand || !worker_sync_shared(w))
		sync_ct(w->sync, w->id, event, w->ct, e, w->cfg);
	if (unseen && w->by_hand && worker_sync_shared(w) &&
	    sync_sending(w->sync))
		sync_rebulk(w->sync);
	/* a packet made it: home's copy, if unseen, is older and goes;
	   a backup's home remembers it, for the peer's word of it, and
	   a new master's in the grace, for the old master's record */
	if (event == CT_EVENT_NEW && w->unseen != NULL &&
	    (!sync_sending(w->sync) || (!w->home_none &&
	    __atomic_load_n(w->unseen, __ATOMIC_RELAXED) != 0) ||
	    worker_sync_granted(w)))
		worker_adopt_fresh(w, e);
}

/* As synclink_granted(): made master and the grace not given yet
   (sync_unsettled()), or given and not over (hold_until, which
   worker_hold() clears late, on a packet's clock). */
int
worker_sync_granted(const struct worker *w)
{
	if (w->cfg->sync.grace == 0 || !sync_sending(w->sync))
		return (0);
	return (sync_unsettled(w->sync) || (w->hold_until != 0 &&
	    ct_now(w->ct) < w->hold_until));
}

static int
worker_sync_refresh_one(struct ct_table *t, struct ct_entry *e, void *arg)
{
	struct worker	*w = arg;

	/* the young ones went out as NEW a moment ago; an unseen copy is
	   the peer's as it sent it (worker_sync_event()) */
	if (ct_entry_age(e, ct_now(t)) >= w->cfg->sync.refresh &&
	    (__atomic_load_n(&w->synced, __ATOMIC_RELAXED) == 0 ||
	    !worker_sync_shared(w) || !ct_synced_is(t, e)))
		sync_ct(w->sync, w->id, CT_EVENT_UPDATE, t, e, w->cfg);
	return (0);
}

/*
 * Every tick, the share of the table that sends all of it once per
 * refresh; only while the ring is more than half free, so the refresh
 * never pushes a change out.
 */
void
worker_sync_refresh(struct worker *w, uint64_t now)
{
	uint64_t	 per;

	if (w->sync == NULL || w->cfg->sync.refresh == 0 ||
	    !sync_sending(w->sync))
		return;
	per = (uint64_t)ct_count(w->ct) * WORKER_TICK_MS /
	    ((uint64_t)w->cfg->sync.refresh * 1000) + 1;
	if (per > sync_room(w->sync, w->id) / 2)
		per = sync_room(w->sync, w->id) / 2;
	if (per > 0)
		(void)ct_walk(w->ct, &w->sync_cursor, (size_t)per,
		    worker_sync_refresh_one, w);
	(void)now;
}

static struct worker_names *
worker_names_for(struct worker *w)
{
	struct worker_names	*n = w->sync_names;
	const struct config	*cfg = w->cfg;
	size_t			 cap = 16, i, k;

	if (n != NULL && n->cfg == cfg)
		return (n);
	if (n == NULL && (n = calloc(1, sizeof(*n))) == NULL)
		return (NULL);
	w->sync_names = n;
	free(n->slot);
	n->slot = NULL;
	n->cfg = NULL;
	while (cap < 2 * cfg->nrules)
		cap *= 2;
	if ((n->slot = calloc(cap, sizeof(*n->slot))) == NULL)
		return (NULL);
	n->cap = cap;
	for (i = 0; i < cfg->nrules; i++) {
		k = spi_name_hash(0, cfg->rules[i].name, 0) & (cap - 1);
		while (n->slot[k] != 0)
			k = (k + 1) & (cap - 1);
		n->slot[k] = (uint32_t)i + 1;
	}
	n->cfg = cfg;
	return (n);
}

/* The local index of rule name ("": [policy]); 0, or -1 if none. */
static int
worker_rule_index(struct worker *w, const char *name, uint32_t *idx)
{
	struct worker_names	*n;
	size_t			 k;

	*idx = RULE_IDX_NONE;
	if (name[0] == '\0')
		return (0);
	if ((n = worker_names_for(w)) == NULL)
		return (-1);
	k = spi_name_hash(0, name, 0) & (n->cap - 1);
	for (; n->slot[k] != 0; k = (k + 1) & (n->cap - 1))
		if (strcmp(w->cfg->rules[n->slot[k] - 1].name, name) == 0) {
			*idx = n->slot[k] - 1;
			return (0);
		}
	return (-1);
}

static uint32_t
worker_conn_limit(const struct worker *w, uint32_t idx)
{
	return (idx < w->cfg->nrules ? w->cfg->rules[idx].conn_limit : 0);
}

/* The conn_limit count moves from rule was (CT_IMPORT_NEW: none) to
   e's, as verdict.c keeps it: an entry counts while it names a rule
   with a conn_limit and is not closed. */
static void
worker_sync_limits(struct worker *w, struct ct_entry *e, uint32_t was,
    uint64_t now)
{
	union pkt_addr	 src, dst;
	uint32_t	 idx = ct_entry_rule(e);
	uint16_t	 sport, dport;
	uint8_t		 family, proto;

	if (worker_conn_limit(w, idx) != 0 && ct_entry_closed(e)) {
		idx = RULE_IDX_NONE;
		ct_entry_set_decision(e, ct_entry_mark(e), idx);
	}
	if (was == idx)
		return;
	ct_entry_tuple(e, &family, &proto, &src, &dst, &sport, &dport);
	if (was != CT_IMPORT_NEW && worker_conn_limit(w, was) != 0)
		limit_conn_release(w->lt, was, family, &src);
	if (worker_conn_limit(w, idx) != 0)
		(void)limit_conn_try(w->lt, idx, family, &src, 0, now);
}

/* A record of the peer's (or of another worker's) into our table: the
   entry, or NULL (b's counts say why). */
static struct ct_entry *
worker_sync_import(struct worker *w, struct sync_rec *r,
    struct sync_batch *b, uint64_t now)
{
	struct ct_entry		*e;
	uint32_t		 was;

	if (worker_rule_index(w, r->rule, &r->s.rule) == -1)
		b->norule++;	/* kept, under [policy] */
	if ((e = ct_import(w->ct, &r->s, now, &was)) == NULL) {
		b->failed++;
		return (NULL);
	}
	worker_sync_limits(w, e, was, now);
	b->applied++;
	return (e);
}

/* Our count of synced connections no packet reached, and the node's
   (which has the workers ask each other: not with one). */
static void
worker_synced_add(struct worker *w, int d)
{
	__atomic_add_fetch(&w->synced, (uint64_t)(int64_t)d, __ATOMIC_RELEASE);
	if (w->unseen != NULL && worker_sync_shared(w))
		__atomic_add_fetch(w->unseen, (uint64_t)(int64_t)d,
		    __ATOMIC_RELEASE);
}

/* k, or k the other way round, zeroed but for its family's bytes */
static void
worker_sync_key(const struct ct_tuple *k, int rev, struct ct_tuple *n)
{
	size_t	 len = k->family == AF_INET ? 4 : 16;

	memset(n, 0, sizeof(*n));
	n->family = k->family;
	n->proto = k->proto;
	memcpy(&n->src, rev ? &k->dst : &k->src, len);
	memcpy(&n->dst, rev ? &k->src : &k->dst, len);
	n->sport = rev ? k->dport : k->sport;
	n->dport = rev ? k->sport : k->dport;
}

/* The peer's DELETE of k reached us, home, after we handed connections
   over: one of them may come back, given back by a taker made backup
   meanwhile (worker_sync_ended()). */
static void
worker_sync_gone(struct worker *w, const struct ct_tuple *k)
{
	struct worker_gone	*g;

	if (w->gone == NULL)
		return;		/* no memory: worker_sync_ended() says 1 */
	g = &w->gone[w->ngone++ % WORKER_GONE];
	if (w->ngone > WORKER_GONE)
		w->gone_lost = g->gen;
	worker_sync_key(k, 0, &g->k);
	g->gen = w->gave;
}

/*
 * A connection we gave away as our gen-th hand-over comes back: its
 * taker, made backup before it read our answer, gives it back, since
 * the peer's changes come to us.  If the peer ended it meanwhile, its
 * DELETE found nothing here; taken back, the connection would live on
 * as a copy until its timeout, and a failback adopt it, ESTABLISHED.
 * So a DELETE of it since gen ends it here too; so does any DELETE we
 * no longer remember (the ring went round) or could not (no memory).
 */
int
worker_sync_ended(struct worker *w, const struct ct_tuple *k, uint64_t gen)
{
	const struct worker_gone *g;
	struct ct_tuple		 a, b;
	uint64_t		 i;

	if (w->gone == NULL) {
		w->st.forgot_deletes++;
		return (1);
	}
	worker_sync_key(k, 0, &a);
	worker_sync_key(k, 1, &b);
	for (i = w->ngone; i > 0 && w->ngone - i < WORKER_GONE; i--) {
		g = &w->gone[(i - 1) % WORKER_GONE];
		if (g->gen < gen)
			return (0);
		if (memcmp(&g->k, &a, sizeof(a)) == 0 ||
		    memcmp(&g->k, &b, sizeof(b)) == 0)
			return (1);
	}
	/* the oldest remembered came after gen: did one before it?  We
	   cannot tell, and end it: counted */
	if (i > 0 && w->gone_lost >= gen) {
		w->st.forgot_deletes++;
		return (1);
	}
	return (0);
}

/* The bucket of k's list (synclink_home()'s hash: either way round). */
static uint16_t *
worker_there_bucket(struct worker_there_list *s, const struct ct_tuple *k)
{
	return (&s->head[synclink_home(k, 1u << 16) & (s->cap / 4 - 1)]);
}

/* k, either way round, in its bucket's list: the link to it, or NULL. */
static uint16_t *
worker_there_find(struct worker_there_list *s, const struct ct_tuple *k)
{
	struct ct_tuple	 a, b;
	uint16_t	*p;

	if (s == NULL || s->n == 0)
		return (NULL);
	worker_sync_key(k, 0, &a);
	worker_sync_key(k, 1, &b);
	for (p = worker_there_bucket(s, k); *p != 0; p = &s->e[*p - 1].next)
		if (memcmp(&s->e[*p - 1].k, &a, sizeof(a)) == 0 ||
		    memcmp(&s->e[*p - 1].k, &b, sizeof(b)) == 0)
			return (p);
	return (NULL);
}

/* Slot i (index + 1) leaves its age list. */
static void
worker_there_age_out(struct worker_there_list *s, uint16_t i)
{
	struct worker_there	*e = &s->e[i - 1];

	if (e->older != 0)
		s->e[e->older - 1].newer = e->newer;
	else
		s->oldest[e->adopted] = e->newer;
	if (e->newer != 0)
		s->e[e->newer - 1].older = e->older;
	else
		s->newest[e->adopted] = e->older;
}

/* Slot i (index + 1) becomes the newest of its age list. */
static void
worker_there_age_in(struct worker_there_list *s, uint16_t i)
{
	struct worker_there	*e = &s->e[i - 1];

	e->older = s->newest[e->adopted];
	e->newer = 0;
	if (e->older != 0)
		s->e[e->older - 1].newer = i;
	else
		s->oldest[e->adopted] = i;
	s->newest[e->adopted] = i;
}

/* The slot *p links to leaves its bucket's and its age list, free. */
static void
worker_there_unlink(struct worker_there_list *s, uint16_t *p)
{
	uint16_t		 i = *p;
	struct worker_there	*e = &s->e[i - 1];

	*p = e->next;
	worker_there_age_out(s, i);
	e->from = NULL;
	e->next = s->freel;
	s->freel = i;
	s->n--;
}

/* An empty list of cap slots (a power of 2), in one block. */
static struct worker_there_list *
worker_there_new(unsigned cap)
{
	struct worker_there_list *s;
	unsigned		 i;

	if ((s = calloc(1, sizeof(*s) + cap * sizeof(*s->e) +
	    cap / 4 * sizeof(*s->head))) == NULL)
		return (NULL);
	s->e = (struct worker_there *)(s + 1);
	s->head = (uint16_t *)(s->e + cap);
	s->cap = cap;
	for (i = 0; i < cap - 1; i++)
		s->e[i].next = (uint16_t)(i + 2);
	s->freel = 1;
	return (s);
}

/* e goes into a free slot of s, not full, as its newest. */
static void
worker_there_put(struct worker_there_list *s, const struct worker_there *e)
{
	uint16_t		 i = s->freel;
	struct worker_there	*d = &s->e[i - 1];
	uint16_t		*p = worker_there_bucket(s, &e->k);

	s->freel = d->next;
	d->k = e->k;
	d->from = e->from;
	d->adopted = e->adopted;
	d->next = *p;
	*p = i;
	worker_there_age_in(s, i);
	s->n++;
}

/* Twice the slots, each age list in its order; 0 if there is no
   memory for it. */
static int
worker_there_grow(struct worker *w)
{
	struct worker_there_list *s = w->there, *ns;
	uint16_t		 i;
	int			 a;

	if ((ns = worker_there_new(s->cap * 2)) == NULL)
		return (0);
	for (a = 0; a < 2; a++)
		for (i = s->oldest[a]; i != 0; i = s->e[i - 1].newer)
			worker_there_put(ns, &s->e[i - 1]);
	free(s);
	w->there = ns;
	return (1);
}

/* How long a new master's packet waits for its record (worker_hold()). */
uint64_t
worker_hold_ms(const struct worker *w)
{
	uint64_t	 ms = (uint64_t)w->cfg->sync.flush_ms *
			    WORKER_HOLD_FLUSHES;

	return (ms < WORKER_HOLD_MAX_MS ? ms : WORKER_HOLD_MAX_MS);
}

/*
 * May the peer's record of a connection in the list still come?  On a
 * backup, yes: the peer's word of it ends the packet's entry, at its
 * next change; on a master whose grace is not given yet
 * (sync_unsettled()), as the old master may still forward; and in the
 * grace, which takes the old master's records of the connections it
 * still forwards (changes, refreshes, ends) until it is over
 * (worker_sync_granted()), whenever the entry was made.
 */
static int
worker_there_matters(const struct worker *w)
{
	return (sync_unsettled(w->sync) || worker_sync_granted(w));
}

/*
 * k's connection, whose home we are, lives in from now: it adopted it
 * from us, or a packet made it there (a SYN, nothing to ask us about,
 * no room or time to wait; on a backup, around a switch; on a new
 * master, in the grace).  The peer's records of k still come here, and
 * would make a copy beside it:
 * - on a new master (keep), the old master's news of a connection a
 *   packet here reached, older than that, which we would send back to
 *   the peer after it (worker_sync_apply());
 * - on a backup, where the peer's is the connection, the packet's would
 *   go stale beside it, outlive the peer's end of it, and judge its
 *   packets after a failback.
 * So we remember it: a new master keeps what it has, a backup ends the
 * packet's (worker_there_word()).  The list, full, forgets its oldest
 * made by a packet, else its oldest adopted (age lists: a free slot
 * taken anywhere changes no order), or, while the peer's records may
 * still come (worker_there_matters(): a grace under load), grows up
 * to WORKER_THERE_MAX; only one forgotten then is counted.
 */
void
worker_sync_there(struct worker *w, const struct ct_tuple *k,
    struct worker *from, int adopted)
{
	struct worker_there_list *s = w->there;
	struct worker_there	*e, n;
	uint16_t		*p, v;

	if (s == NULL && (s = w->there = worker_there_new(WORKER_THERE)) ==
	    NULL) {
		w->st.forgot_moved++;
		return;		/* it stays beside, as before */
	}
	if ((p = worker_there_find(s, k)) != NULL) {
		e = &s->e[*p - 1];
		e->from = from;
		if (adopted && !e->adopted) {
			worker_there_age_out(s, *p);
			e->adopted = 1;
			worker_there_age_in(s, *p);
		}
		return;
	}
	if (s->n == s->cap && worker_there_matters(w) &&
	    s->cap < WORKER_THERE_MAX && worker_there_grow(w))
		s = w->there;
	if (s->n == s->cap) {
		/* the oldest is forgotten (it may have ended since), one
		   a packet made before any adopted: the old master's
		   records in the grace are of the connections it forwarded
		   longest, adopted first, and seldom of a fresh one */
		if (worker_there_matters(w))
			w->st.forgot_moved++;
		v = s->oldest[0] != 0 ? s->oldest[0] : s->oldest[1];
		for (p = worker_there_bucket(s, &s->e[v - 1].k); *p != v;
		    p = &s->e[*p - 1].next)
			;
		worker_there_unlink(s, p);
	}
	worker_sync_key(k, 0, &n.k);
	n.from = from;
	n.adopted = adopted != 0;
	worker_there_put(s, &n);
}

/* A backup heard the peer of k: the entry another worker's packet made
   of it goes there (worker_sync_superseded()), and our list forgets
   it. */
static void
worker_there_word(struct worker *w, const struct ct_tuple *k)
{
	struct worker	*from;
	uint16_t	*p;

	if ((p = worker_there_find(w->there, k)) == NULL)
		return;
	from = w->there->e[*p - 1].from;
	worker_there_unlink(w->there, p);
	worker_adopt_superseded(w, from, k);
}

/* Home says the peer's word of k came: our entry of it, which a packet
   made while we were backup, goes, an end for the events.  Not once
   we are master: then it is the live one. */
void
worker_sync_superseded(struct worker *w, const struct ct_tuple *k)
{
	struct ct_entry	*e;

	if (sync_sending(w->sync) || (e = ct_lookup(w->ct, k)) == NULL)
		return;
	w->importing = 1;
	ct_remove(w->ct, e);
	w->importing = 0;
}

void
worker_sync_apply(struct worker *w, void *arg)
{
	struct sync_batch	*b = arg;
	struct sync_rec		*r;
	struct ct_entry		*e;
	uint64_t		 now = spi_now_ms();
	size_t			 i;

	/* a copy, until a packet reaches it: a new master's grace takes
	   the old one's news of it (keep), and with several workers the
	   others ask for it */
	w->importing = 1;
	for (i = 0; i < b->n; i++) {
		r = &b->rec[i];
		/* a connection given away may come back (worker_ask.c) */
		if (r->op == SYNC_OP_DELETE && w->gave > 0)
			worker_sync_gone(w, &r->s.k);
		/* a backup's: the peer's is the connection */
		if (!b->keep && w->there != NULL && w->there->n > 0 &&
		    !sync_sending(w->sync))
			worker_there_word(w, &r->s.k);
		/* a new master (keep): the old one's news only of what no
		   packet here reached, or we lack */
		if (r->op == SYNC_OP_DELETE && b->keep) {
			if (worker_sync_stale(w, &r->s.k))
				b->applied++;
			else
				b->kept++;
			continue;
		}
		if (r->op == SYNC_OP_DELETE) {
			(void)ct_forget(w->ct, &r->s.k, now);
			b->applied++;
			continue;
		}
		if (b->keep && ((e = ct_lookup(w->ct, &r->s.k)) != NULL ?
		    !ct_synced_is(w->ct, e) :
		    worker_there_find(w->there, &r->s.k) != NULL)) {
			b->kept++;
			continue;
		}
		/* the peer's windows may lag the connection's: re-learnt
		   by a new master (keep) now, by a backup only once it is
		   master (ct_relearn_peer()), so a backup that sees the
		   packets keeps checking them */
		if (b->keep)
			ct_snap_stale(&r->s);
		else
			ct_snap_peer(&r->s);
		if ((e = worker_sync_import(w, r, b, now)) == NULL)
			continue;
		if (ct_synced_mark(w->ct, e) == 1)
			worker_synced_add(w, 1);
		/* the peer, made backup meanwhile, may have swept it at
		   the end of our table: ours now, it goes back */
		if (b->keep)
			worker_sync_again(w, e);
	}
	w->importing = 0;
	/* a new master's packets and questions that waited for these */
	if (__builtin_expect(w->nwant > 0 || !TAILQ_EMPTY(&w->hold_age), 0))
		worker_hold_records(w, b->rec, b->n);
}

/* Another worker made k's entry from a packet: our copy, if no packet
   reached it, ends now as its timeout would end it (the events hear of
   it, the peer does not); 1 if it did. */
int
worker_sync_stale(struct worker *w, const struct ct_tuple *k)
{
	struct ct_entry	*e;

	if ((e = ct_lookup(w->ct, k)) == NULL || !ct_synced_is(w->ct, e))
		return (0);
	ct_remove(w->ct, e);
	return (1);
}

int
worker_sync_seen(struct worker *w, const struct ct_entry *e)
{
	if (!ct_synced_take(w->ct, e))
		return (0);
	worker_synced_add(w, -1);
	return (1);
}

/* The record of e, a change or the bulk's: the rule by name. */
void
sync_rec_fill(struct sync_rec *r, uint8_t op, const struct ct_table *t,
    const struct ct_entry *e, const struct config *cfg)
{
	uint32_t	 ri;

	ct_export(t, e, &r->s);
	r->op = op;
	r->rule[0] = '\0';
	if ((ri = ct_entry_rule(e)) < cfg->nrules)
		snprintf(r->rule, sizeof(r->rule), "%s",
		    cfg->rules[ri].name);
}

/* e leaves this table without a word to the peer or the events: it
   moved, or was a borrowed copy. */
void
worker_sync_drop(struct worker *w, struct ct_entry *e)
{
	w->importing = w->moving = 1;
	ct_remove(w->ct, e);
	w->importing = w->moving = 0;
}

/*
 * e leaves for another worker as r: what we queued of it goes to the
 * peer before what its taker queues (sync_moved()), and its DESTROY
 * tells neither the peer nor the events.  While a whole table goes out
 * (a bulk walks the workers in turn), the taker may be walked already
 * and we not yet: the connection would be in neither slice, so it goes
 * as a change too, here and on the taker's side (worker_sync_adopt()).
 */
static void
worker_sync_hand_off(struct worker *w, struct ct_entry *e,
    struct sync_rec *r)
{
	if (sync_bulking(w->sync))
		sync_ct(w->sync, w->id, CT_EVENT_UPDATE, w->ct, e, w->cfg);
	sync_rec_fill(r, SYNC_OP_UPSERT, w->ct, e, w->cfg);
	sync_moved(w->sync);
	worker_sync_drop(w, e);
}

/*
 * The connection did not end, it moves: its DESTROY releases its
 * conn_limit count here (the asker's import takes it there) but tells
 * neither the peer nor the events.
 */
int
worker_sync_give(struct worker *w, const struct ct_tuple *k,
    struct sync_rec *r)
{
	struct ct_entry	*e;

	ct_expire(w->ct, spi_now_ms());
	if ((e = ct_lookup(w->ct, k)) == NULL)
		return (0);
	/* from now on the peer's DELETEs are remembered a while */
	if (w->gone == NULL)
		w->gone = calloc(WORKER_GONE, sizeof(*w->gone));
	w->gave++;
	worker_sync_hand_off(w, e, r);
	return (1);
}

/* Home no longer holds it: a connection our table refuses is lost,
   and counted apart from the refusals of new ones.  A bulk that began
   after home gave it may have walked home already and us before it
   came: the peer hears of it as a change (worker_sync_hand_off()). */
void
worker_sync_adopt(struct worker *w, struct sync_rec *r)
{
	struct sync_batch	 b;
	struct ct_entry		*e;

	memset(&b, 0, sizeof(b));
	w->importing = w->moving = 1;
	if ((e = worker_sync_import(w, r, &b, spi_now_ms())) != NULL) {
		w->st.adopted++;
		if (sync_bulking(w->sync))
			sync_ct(w->sync, w->id, CT_EVENT_UPDATE, w->ct, e,
			    w->cfg);
	} else
		w->st.adopt_failed++;
	w->importing = w->moving = 0;
}

/* e, which a packet made, goes to the peer again: an older copy of it
   may have gone out after it */
void
worker_sync_again(struct worker *w, const struct ct_entry *e)
{
	if (w->sync != NULL)
		sync_ct(w->sync, w->id, CT_EVENT_UPDATE, w->ct, e, w->cfg);
}

/* A backup borrows a copy of home's entry for its packets, without a
   word to the peer or the events (worker_ask.c drops it after them):
   what they change of it, or its end, is not the connection's, which
   home keeps, and the events follow (worker_ct_event()); the entry,
   or NULL if our table refuses it. */
struct ct_entry *
worker_sync_borrow(struct worker *w, struct sync_rec *r)
{
	struct sync_batch	 b;
	struct ct_entry		*e;
	int			 d;

	/* checked against home's windows as they stand: a window the
	   copy re-learnt (ct_snap_stale()) would go with it, and every
	   packet would take it up afresh, unchecked */
	for (d = 0; d < 2; d++)
		r->s.tcp.dflags[d] &= (uint8_t)~CT_SNAP_TD_OURS;
	memset(&b, 0, sizeof(b));
	w->importing = w->moving = 1;
	e = worker_sync_import(w, r, &b, spi_now_ms());
	w->importing = w->moving = 0;
	w->borrowed = e;
	return (e);
}

/*
 * After the borrowed copy's packets the copy goes, as silently as it
 * came.  An entry a packet made once the copy ended (a SYN on a closed
 * copy replaces it, within the same packets) stays: it is a packet's,
 * as one made without a copy is, whose home was told of it
 * (worker_adopt_fresh()), ended its own copy and remembers it, and
 * whose end the peer's word of the connection brings
 * (worker_sync_superseded()).  Taken out too, it left the node with
 * neither entry until the peer's next record.
 */
void
worker_sync_unborrow(struct worker *w, const struct ct_tuple *k)
{
	struct ct_entry	*e;

	/* NULL if the copy ended: its slot may hold another by now */
	if (w->borrowed != NULL && (e = ct_lookup(w->ct, k)) == w->borrowed)
		worker_sync_drop(w, e);
	w->borrowed = NULL;
}

static int
worker_sync_slice_one(struct ct_table *t, struct ct_entry *e, void *arg)
{
	struct worker		*w = arg;
	struct sync_slice	*sl = w->sync_slice;

	sync_rec_fill(&sl->rec[sl->n++], SYNC_OP_UPSERT, w->ct, e, w->cfg);
	return (sl->n == sl->max);
}

void
worker_sync_slice(struct worker *w, void *arg)
{
	struct sync_slice	*sl = arg;

	ct_expire(w->ct, spi_now_ms());
	sl->count = ct_count(w->ct);
	sl->n = 0;
	if (sl->count == 0) {
		sl->cursor = 0;
		return;
	}
	w->sync_slice = sl;
	(void)ct_walk(w->ct, &sl->cursor, sl->max, worker_sync_slice_one, w);
	w->sync_slice = NULL;
}

/* The next of our connections whose home is another worker, taken out
   into the slice as adoption takes one (worker_sync_give()). */
static int
worker_sync_away_one(struct ct_table *t, struct ct_entry *e, void *arg)
{
	struct worker		*w = arg;
	struct sync_slice	*sl = w->sync_slice;
	struct ct_tuple		 k;

	/* whole: an ICMP query's id is in its key (ct_export()'s) */
	ct_entry_key(e, &k);
	if (synclink_home(&k, __atomic_load_n(&w->npeers,
	    __ATOMIC_ACQUIRE)) == w->id)
		return (0);
	worker_sync_hand_off(w, e, &sl->rec[sl->n++]);
	return (sl->n == sl->max);
}

void
worker_sync_away(struct worker *w, void *arg)
{
	struct sync_slice	*sl = arg;

	ct_expire(w->ct, spi_now_ms());
	sl->n = 0;
	/* what lived in another worker comes home now, ours too */
	if (sl->cursor == 0) {
		free(w->there);
		w->there = NULL;
	}
	w->sync_slice = sl;
	(void)ct_walk(w->ct, &sl->cursor, SYNC_SWEEP, worker_sync_away_one,
	    w);
	w->sync_slice = NULL;
}

/*
 * Connections another worker gave up (worker_sync_away(), or with keep
 * an adoption answered after the switch to backup) come home, marked as
 * no packet's yet.  What we hold of one gives way (the link moves them
 * before it applies the peer's records: ours is a synced copy no packet
 * reached), but with keep it stays: that one is the peer's, sent since
 * we gave the connection away.  One the table refuses is lost: counted
 * as adopt_failed.  One that comes home while the peer's whole table
 * comes in is ours, not the table's: the peer may have ended it since
 * (its DELETE found nothing here), so the table's end sweeps it unless
 * the table brings it.
 */
void
worker_sync_home(struct worker *w, void *arg)
{
	struct sync_batch	*b = arg;
	struct ct_entry		*e;
	uint64_t		 now = spi_now_ms();
	size_t			 i;
	int			 brought;

	ct_expire(w->ct, now);
	w->importing = w->moving = 1;
	for (i = 0; i < b->n; i++) {
		e = ct_lookup(w->ct, &b->rec[i].s.k);
		if (b->keep && e != NULL)
			continue;
		brought = e != NULL && ct_resync_brought(w->ct, e);
		if ((e = worker_sync_import(w, &b->rec[i], b, now)) == NULL) {
			w->st.adopt_failed++;
			continue;
		}
		if (!brought)
			ct_resync_forget(w->ct, e);
		if (ct_synced_mark(w->ct, e) == 1)
			worker_synced_add(w, 1);
	}
	w->importing = w->moving = 0;
}

/* Nothing: what the worker was doing (a hand-over that saw a bulk
   going, and queued its change) is done once this runs. */
void
worker_sync_fence(struct worker *w, void *arg)
{
}

void
worker_sync_resync(struct worker *w, void *arg)
{
	ct_resync_begin(w->ct);
}

void
worker_sync_resync_end(struct worker *w, void *arg)
{
	ct_resync_end(w->ct);
}

void
worker_sync_sweep(struct worker *w, void *arg)
{
	struct sync_sweep	*sw = arg;

	w->importing = 1;
	sw->gone += ct_resync_sweep(w->ct, &sw->cursor,
	    sw->begin ? 0 : SYNC_SWEEP, spi_now_ms());
	w->importing = 0;
}

/* A new master's grace: liberal windows, and a packet that dies
   without an entry waits for the old master's record (worker_hold()). */
void
worker_sync_grace(struct worker *w, void *arg)
{
	const uint64_t	*until = arg;

	ct_grace(w->ct, *until);
	w->hold_until = *until;
}

void
worker_sync_free(struct worker *w)
{
	struct worker_names	*n = w->sync_names;

	if (w->syncev != NULL)
		event_free(w->syncev);
	w->syncev = NULL;
	if (n != NULL)
		free(n->slot);
	free(n);
	w->sync_names = NULL;
	free(w->gone);
	w->gone = NULL;
	free(w->there);
	w->there = NULL;
}

/*
 * [daemon] state_file: a connection of the last run, imported as the
 * peer's are (worker_sync_import()).  The worker does not run yet, so
 * its counts of unseen copies move here: worker_synced_add() waits
 * for the peers that worker_set_peers() sets later.
 */
int
worker_state_import(struct worker *w, struct sync_rec *r, int unseen)
{
	struct sync_batch	 b;
	struct ct_entry		*e;

	memset(&b, 0, sizeof(b));
	/* the connection may have moved on while we were down */
	ct_snap_stale(&r->s);
	w->importing = 1;
	e = worker_sync_import(w, r, &b, spi_now_ms());
	w->importing = 0;
	if (e == NULL)
		return (0);
	w->st.restored++;
	if (unseen && ct_synced_mark(w->ct, e) == 1) {
		__atomic_add_fetch(&w->synced, 1, __ATOMIC_RELEASE);
		if (w->unseen != NULL)
			__atomic_add_fetch(w->unseen, 1, __ATOMIC_RELEASE);
	}
	return (1);
}

struct worker_state_arg {
	struct worker		*w;
	struct state_writer	*sw;
	uint32_t		 id;
	ssize_t			 n;
	int			 err;
};

static int
worker_state_one(struct ct_table *t, struct ct_entry *e, void *arg)
{
	struct worker_state_arg	*a = arg;
	struct sync_rec		 r;

	sync_rec_fill(&r, SYNC_OP_UPSERT, t, e, a->w->cfg);
	if (r.s.left_ms == 0)
		return (0);	/* its timeout ran out: nothing to keep */
	if (state_write_conn(a->sw, a->id, &r.s, r.rule) == -1) {
		/* EFBIG: the file is full, and still good */
		if (errno != EFBIG)
			a->err = errno;
		return (1);
	}
	a->n++;
	return (0);
}

ssize_t
worker_state_save(struct worker *w, struct state_writer *sw, uint32_t id)
{
	struct worker_state_arg	 a = { w, sw, id, 0, 0 };
	uint64_t		 cursor = 0;

	ct_expire(w->ct, spi_now_ms());
	(void)ct_walk(w->ct, &cursor, SIZE_MAX, worker_state_one, &a);
	if (a.err != 0) {
		errno = a.err;
		return (-1);
	}
	return (a.n);
}
