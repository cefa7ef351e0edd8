/*
 * ct.c - the connection table: hash, arena, timers, eviction, output
 *
 * Copyright (C) 2026 The nfqspid authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * One entry per connection, found from either direction: the hash is taken
 * over the tuple's two (address, port) ends in a canonical order, so the
 * original and the reply direction land in the same chain.  Entries sit in
 * an arena of chunks and are linked by 32-bit indices.
 *
 * Timers: one list per timeout (enum ct_timeout).  Putting an entry at
 * the tail of the list of the timeout it gets keeps every list sorted, so
 * ct_expire() only looks at the list heads: O(1) per packet, no scan.  A
 * packet of a connection that keeps its timeout only sets the deadline;
 * the entry moves to the tail once the deadline has run lag[] (1/16 of
 * the timeout, at most a minute) past where the entry sits.  Moving it
 * writes to both its neighbours, two cache misses at random places of a
 * large table, and a busy connection now pays them once per lag instead
 * of once per packet.  The price: an entry due behind a head that is not
 * yet due goes up to lag[] late, much as the kernel's conntrack reaps
 * expired entries in the background.  Lookups judge by the exact deadline
 * and drop entries whose time is up, so no verdict depends on when
 * ct_expire() runs.
 */
#include <sys/mman.h>
#include <sys/socket.h>
#include <netinet/in.h>

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cacheline.h"
#include "ct_int.h"
#include "siphash.h"

_Static_assert(sizeof(struct ct_entry) <= 120, "ct_entry grew past 120 bytes");
_Static_assert((uint64_t)CT_TIMEOUT_MAX * 1000 + CT_LAG_MAX < CT_TIME_SPAN,
    "timeouts must fit the span of the modular clock");

#define CT_MIN_BUCKETS	64
/* eviction: entries looked at from the head of each timer list */
#define CT_EVICT_LOOK	16
/* ... of which at most this many become candidates */
#define CT_EVICT_TAKE	8
/* ... from each end of each list */
#define CT_EVICT_MAX	(CT_TO_MAX * CT_EVICT_TAKE * 2)
#define CT_EVICT_SLOTS	512	/* a power of 2, >= 2 * CT_EVICT_MAX */
/* an assured connection idle this long may go, after all the others */
#define CT_EVICT_IDLE_MS 60000u
_Static_assert(CT_EVICT_SLOTS >= 2 * CT_EVICT_MAX, "eviction slots");

static void	 ct_unlink_timer(struct ct_table *, uint32_t, struct ct_entry *);
static void	 ct_remove_idx(struct ct_table *, uint32_t, struct ct_entry *);

/* ---- clock and timeouts ---------------------------------------------- */

static void	 ct_expire_all(struct ct_table *);

void
ct_clock(struct ct_table *t, uint64_t now_ms)
{
	int	 jump;

	/* Never run backwards (out of order captures, clock steps). */
	if (now_ms <= t->now)
		return;
	jump = now_ms - t->now >= CT_TIME_SPAN;
	t->now = now_ms;
	t->now32 = (uint32_t)now_ms;
	/*
	 * A jump past every timeout (a capture with a long gap): the times
	 * modulo 2^32 could no longer be told apart, and every entry is due.
	 */
	if (jump)
		ct_expire_all(t);
}

static uint32_t
ct_timeout_ms(const struct ct_table *t, uint8_t tclass)
{
	return (t->cfg.timeout[tclass] * 1000u);
}

/* Is e's time up?  Adaptive timeouts take shrink[] off every deadline of
   a list alike, which keeps the list sorted. */
static int
ct_due(const struct ct_table *t, const struct ct_entry *e)
{
	return (ct_tdiff(e->deadline - t->shrink[e->tclass], t->now32) <= 0);
}

/*
 * pf's adaptive timeouts: above adaptive_start (percent of max) every
 * timeout shrinks in proportion to the entries over it, to nothing at
 * adaptive_end.  Called as the count grows (ct_insert) and before expiry.
 */
static void
ct_adapt(struct ct_table *t)
{
	uint64_t	 start, end, n = t->count, to;
	int		 tc;

	if (t->cfg.adaptive_end == 0)
		return;
	start = (uint64_t)t->cfg.max * t->cfg.adaptive_start / 100;
	end = (uint64_t)t->cfg.max * t->cfg.adaptive_end / 100;
	for (tc = 0; tc < CT_TO_MAX; tc++) {
		to = ct_timeout_ms(t, (uint8_t)tc);
		if (n <= start)
			t->shrink[tc] = 0;
		else if (n >= end || end <= start)
			t->shrink[tc] = (uint32_t)to;
		else
			t->shrink[tc] = (uint32_t)(to * (n - start) /
			    (end - start));
	}
}

/* Takes c's timeouts, capped at CT_TIMEOUT_MAX, and their lags; the
   share and the adaptive timeouts of c's max. */
static void
ct_set_lags(struct ct_table *t)
{
	uint64_t	 share;
	uint32_t	 lag;
	int		 tc;

	for (tc = 0; tc < CT_TO_MAX; tc++) {
		if (t->cfg.timeout[tc] > CT_TIMEOUT_MAX)
			t->cfg.timeout[tc] = CT_TIMEOUT_MAX;
		lag = ct_timeout_ms(t, (uint8_t)tc) >> CT_LAG_SHIFT;
		t->lag[tc] = lag < CT_LAG_MAX ? lag : CT_LAG_MAX;
	}
	t->share_max = UINT32_MAX;
	if (t->cfg.source_share > 0 && t->cfg.source_share < 100) {
		share = (uint64_t)t->cfg.max * t->cfg.source_share / 100;
		t->share_max = share > 0 ? (uint32_t)share : 1;
	}
	memset(t->shrink, 0, sizeof(t->shrink));
	ct_adapt(t);
}

/* ---- the share of a source ---------------------------------------------- */

/* Keyed, so that a client cannot pick addresses that share its counters
   with a victim's.  An IPv6 client usually holds a whole /64: one source. */
static uint64_t
ct_src_hash(const struct ct_table *t, uint8_t family, const union pkt_addr *a)
{
	uint64_t	 m[2];

	if (family == AF_INET)
		m[0] = a->a32[0];
	else
		memcpy(&m[0], a->a8, 8);
	m[1] = (uint64_t)family << 8 | 0x5352430000ull;	/* not a tuple */
	return (siphash13(t->key, m, 2));
}

static uint32_t *
ct_src_cell(const struct ct_table *t, uint64_t h, int row)
{
	return (&t->src_cnt[row * CT_SRC_WIDTH +
	    ((row ? h >> 32 : h) & (CT_SRC_WIDTH - 1))]);
}

static uint32_t
ct_src_est(const struct ct_table *t, uint64_t h)
{
	uint32_t	 a = *ct_src_cell(t, h, 0), b = *ct_src_cell(t, h, 1);

	return (a < b ? a : b);
}

static void
ct_src_add(struct ct_table *t, uint64_t h, int up)
{
	uint32_t	*c;
	int		 row;

	for (row = 0; row < 2; row++) {
		c = ct_src_cell(t, h, row);
		if (up)
			(*c)++;
		else if (*c > 0)
			(*c)--;
	}
}

uint32_t
ct_source_count(const struct ct_table *t, uint8_t family,
    const union pkt_addr *src)
{
	return (ct_src_est(t, ct_src_hash(t, family, src)));
}

/* ---- hashing ----------------------------------------------------------- */

static uint32_t
ct_hash(const struct ct_table *t, uint8_t family, uint8_t proto,
    const union pkt_addr *src, const union pkt_addr *dst, uint16_t sport,
    uint16_t dport)
{
	const union pkt_addr	*lo = src, *hi = dst;
	uint16_t		 lop = sport, hip = dport;
	uint64_t		 m[5], a, b;
	int			 c;

	if (family == AF_INET) {
		/* Two words instead of five: (address, port) ends as
		   48-bit numbers, the smaller first. */
		a = (uint64_t)src->a32[0] << 16 | sport;
		b = (uint64_t)dst->a32[0] << 16 | dport;
		if (a > b) {
			m[1] = a;
			a = b;
		} else
			m[1] = b;
		m[0] = a | (uint64_t)proto << 48;
		return ((uint32_t)siphash13(t->key, m, 2));
	}
	/* Canonical order of the two ends: both directions hash alike. */
	c = memcmp(src, dst, sizeof(*src));
	if (c > 0 || (c == 0 && sport > dport)) {
		lo = dst;
		hi = src;
		lop = dport;
		hip = sport;
	}
	memcpy(&m[0], lo, 16);
	memcpy(&m[2], hi, 16);
	m[4] = (uint64_t)lop | (uint64_t)hip << 16 | (uint64_t)family << 32 |
	    (uint64_t)proto << 40;
	return ((uint32_t)siphash13(t->key, m, 5));
}

static uint32_t
ct_entry_hash(const struct ct_table *t, const struct ct_entry *e)
{
	return (ct_hash(t, e->family, e->proto, &e->src, &e->dst, e->sport,
	    e->dport));
}

/* ---- tuples -------------------------------------------------------------- */

int
ct_addr_eq(uint8_t family, const union pkt_addr *a, const union pkt_addr *b)
{
	if (family == AF_INET)
		return (a->a32[0] == b->a32[0]);
	return (memcmp(a, b, sizeof(*a)) == 0);
}

static void
ct_addr_copy(uint8_t family, union pkt_addr *to, const union pkt_addr *from)
{
	if (family == AF_INET) {
		memset(to, 0, sizeof(*to));
		to->a32[0] = from->a32[0];
	} else
		memcpy(to, from, sizeof(*to));
}

void
ct_tuple_set(struct ct_tuple *k, uint8_t family, uint8_t proto,
    const union pkt_addr *src, const union pkt_addr *dst, uint16_t sport,
    uint16_t dport)
{
	memset(k, 0, sizeof(*k));
	k->family = family;
	k->proto = proto;
	ct_addr_copy(family, &k->src, src);
	ct_addr_copy(family, &k->dst, dst);
	k->sport = sport;
	k->dport = dport;
}

void
ct_result_set(struct ct_result *res, uint8_t state, uint8_t reason,
    uint8_t dir, struct ct_entry *e)
{
	res->state = state;
	res->reason = reason;
	res->dir = dir;
	res->entry = e;
}

/* ---- memory ------------------------------------------------------------- */

#define CT_HUGE		((size_t)2 << 20)	/* a huge page */

static size_t
ct_map_len(size_t len)
{
	size_t	 pg = (size_t)sysconf(_SC_PAGESIZE);

	return ((len + pg - 1) / pg * pg);
}

/*
 * Zeroed memory for the arena and the buckets, mmap()ed so that pages
 * cost RSS only once written, starting on a huge page boundary and
 * advised to use huge pages: in a table bigger than the caches nearly
 * every lookup misses the TLB too, and a page walk is dear (dearer in a
 * virtual machine).  Freed by ct_unmap() with the same len.
 */
static void *
ct_map(size_t len)
{
	uint8_t		*p, *a;
	size_t		 n = ct_map_len(len), head;

	p = mmap(NULL, n + CT_HUGE, PROT_READ | PROT_WRITE,
	    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return (NULL);
	a = (uint8_t *)(((uintptr_t)p + CT_HUGE - 1) & ~(uintptr_t)(CT_HUGE - 1));
	head = (size_t)(a - p);
	if (head > 0)
		(void)munmap(p, head);
	if (CT_HUGE - head > 0)
		(void)munmap(a + n, CT_HUGE - head);
#ifdef MADV_HUGEPAGE
	/* a hint: without transparent huge pages, small pages serve */
	(void)madvise(a, n, MADV_HUGEPAGE);
#endif
	return (a);
}

static void
ct_unmap(void *p, size_t len)
{
	if (p != NULL)
		(void)munmap(p, ct_map_len(len));
}

#define CT_CHUNK_BYTES	((size_t)CT_CHUNK_SIZE * sizeof(struct ct_entry))

/* ---- the arena ------------------------------------------------------------- */

static uint32_t
ct_alloc(struct ct_table *t)
{
	struct ct_entry	**nc;
	uint32_t	  i, cap;

	if (t->freelist != CT_NIL) {
		i = t->freelist;
		t->freelist = ct_idx(t, i)->hnext;
		return (i);
	}
	if (t->top == UINT32_MAX)
		return (CT_NIL);
	if ((t->top >> CT_CHUNK_SHIFT) >= t->nchunk) {
		if (t->nchunk == t->chunk_cap) {
			cap = t->chunk_cap ? t->chunk_cap * 2 : 16;
			nc = reallocarray(t->chunk, cap, sizeof(*nc));
			if (nc == NULL)
				return (CT_NIL);
			t->chunk = nc;
			t->chunk_cap = cap;
		}
		t->chunk[t->nchunk] = ct_map(CT_CHUNK_BYTES);
		if (t->chunk[t->nchunk] == NULL)
			return (CT_NIL);
		t->nchunk++;
	}
	return (t->top++);
}

/* The index of a live entry, from its timer list neighbours. */
uint32_t
ct_index_of(const struct ct_table *t, const struct ct_entry *e)
{
	/* slots never move: the pair stays true */
	if (e == t->last_e)
		return (t->last_i);
	if (e->tprev != CT_NIL)
		return (ct_idx(t, e->tprev)->tnext);
	return (t->tlist[e->tclass].head);
}

/* ---- timer lists ------------------------------------------------------------- */

static void
ct_unlink_timer(struct ct_table *t, uint32_t i, struct ct_entry *e)
{
	struct ct_list	*l = &t->tlist[e->tclass];

	if (e->tprev != CT_NIL)
		ct_idx(t, e->tprev)->tnext = e->tnext;
	else
		l->head = e->tnext;
	if (e->tnext != CT_NIL)
		ct_idx(t, e->tnext)->tprev = e->tprev;
	else
		l->tail = e->tprev;
	e->tprev = e->tnext = CT_NIL;
	(void)i;
}

static void
ct_append_timer(struct ct_table *t, uint32_t i, struct ct_entry *e)
{
	struct ct_list	*l = &t->tlist[e->tclass];

	e->tnext = CT_NIL;
	e->tprev = l->tail;
	if (l->tail != CT_NIL)
		ct_idx(t, l->tail)->tnext = i;
	else
		l->head = i;
	l->tail = i;
}

static void
ct_prepend_timer(struct ct_table *t, uint32_t i, struct ct_entry *e)
{
	struct ct_list	*l = &t->tlist[e->tclass];

	e->tprev = CT_NIL;
	e->tnext = l->head;
	if (l->head != CT_NIL)
		ct_idx(t, l->head)->tprev = i;
	else
		l->tail = i;
	l->head = i;
}

void
ct_refresh(struct ct_table *t, struct ct_entry *e, uint8_t tclass)
{
	uint32_t	 i, d = t->now32 + ct_timeout_ms(t, tclass);

	if (e->tclass == tclass) {
		e->deadline = d;
		/* Near enough to its place: the list stays sorted by qdl,
		   and the entry goes at most lag late. */
		if (d - e->qdl <= t->lag[tclass])
			return;
		/* Already last of its list: no neighbour to write. */
		if (e->tnext == CT_NIL) {
			e->qdl = d;
			return;
		}
	}
	i = ct_index_of(t, e);
	ct_unlink_timer(t, i, e);
	e->tclass = tclass;
	e->deadline = e->qdl = d;
	ct_append_timer(t, i, e);
}

/* How far ct_place() looks for an imported entry's place in its list. */
#define CT_PLACE_LOOK	64

/*
 * Put entry i, unlinked, on the list of tclass with the given deadline,
 * which need not be the list's latest (ct_import()): at its sorted place
 * when that lies within CT_PLACE_LOOK of either end, so it goes on time;
 * otherwise at the tail with the tail's qdl, and it leaves the table up
 * to that much late (lookups still judge by its deadline).
 */
void
ct_place(struct ct_table *t, uint32_t i, struct ct_entry *e, uint8_t tclass,
    uint32_t deadline)
{
	struct ct_list	*l = &t->tlist[tclass];
	struct ct_entry	*p;
	uint32_t	 j;
	int		 n;

	e->tclass = tclass;
	e->deadline = e->qdl = deadline;
	if (l->head == CT_NIL ||
	    ct_tdiff(ct_idx(t, l->head)->qdl, deadline) >= 0) {
		ct_prepend_timer(t, i, e);
		return;
	}
	for (j = l->tail, n = 0; n < CT_PLACE_LOOK; j = p->tprev, n++) {
		p = ct_idx(t, j);
		if (ct_tdiff(p->qdl, deadline) <= 0)
			break;
	}
	if (n == CT_PLACE_LOOK) {
		e->qdl = ct_idx(t, l->tail)->qdl;
		ct_append_timer(t, i, e);
		return;
	}
	/* after j: the head's qdl is below deadline, so j exists */
	e->tprev = j;
	e->tnext = p->tnext;
	if (p->tnext != CT_NIL)
		ct_idx(t, p->tnext)->tprev = i;
	else
		l->tail = i;
	p->tnext = i;
}

/* Take e off its timer list, for ct_place(). */
void
ct_unplace(struct ct_table *t, uint32_t i, struct ct_entry *e)
{
	ct_unlink_timer(t, i, e);
}

void
ct_kill(struct ct_table *t, struct ct_entry *e)
{
	uint32_t	 i = ct_index_of(t, e);

	/* Due now: the head of its list, where ct_expire() looks first. */
	ct_unlink_timer(t, i, e);
	e->deadline = e->qdl = t->now32;
	ct_prepend_timer(t, i, e);
}

/* ---- hash chains --------------------------------------------------------------- */

static void
ct_link_hash(struct ct_table *t, uint32_t i, struct ct_entry *e)
{
	uint32_t	 h = ct_bucket_of(t, ct_entry_hash(t, e));

	e->hnext = t->bucket[h];
	t->bucket[h] = i;
}

static void
ct_unlink_hash(struct ct_table *t, uint32_t i, struct ct_entry *e)
{
	uint32_t	*pp = &t->bucket[ct_bucket_of(t, ct_entry_hash(t, e))];

	while (*pp != CT_NIL) {
		if (*pp == i) {
			*pp = e->hnext;
			return;
		}
		pp = &ct_idx(t, *pp)->hnext;
	}
}

static void
ct_remove_idx(struct ct_table *t, uint32_t i, struct ct_entry *e)
{
	if (t->evfn != NULL)
		t->evfn(CT_EVENT_DESTROY, e, t->evarg);
	if (__builtin_expect((t->noff | t->nref) != 0, 0))
		ct_off_forget(t, i);
	ct_unlink_hash(t, i, e);
	ct_unlink_timer(t, i, e);
	ct_src_add(t, ct_src_hash(t, e->family, &e->src), 0);
	e->status = 0;
	e->hnext = t->freelist;
	t->freelist = i;
	t->count--;
	t->stats.destroyed++;
}

static int
ct_match(const struct ct_entry *e, const struct ct_tuple *k, int reply)
{
	if (e->family != k->family || e->proto != k->proto)
		return (0);
	if (!reply)
		return (e->sport == k->sport && e->dport == k->dport &&
		    ct_addr_eq(k->family, &e->src, &k->src) &&
		    ct_addr_eq(k->family, &e->dst, &k->dst));
	return (e->sport == k->dport && e->dport == k->sport &&
	    ct_addr_eq(k->family, &e->src, &k->dst) &&
	    ct_addr_eq(k->family, &e->dst, &k->src));
}

/* Is a the tuple k, hashed by t?  Then its hash is k's. */
static int
ct_ahead_is(const struct ct_table *t, const struct ct_ahead *a,
    const struct ct_tuple *k)
{
	return (a->ok && a->t == t && a->k.family == k->family &&
	    a->k.proto == k->proto &&
	    a->k.sport == k->sport && a->k.dport == k->dport &&
	    ct_addr_eq(k->family, &a->k.src, &k->src) &&
	    ct_addr_eq(k->family, &a->k.dst, &k->dst));
}

static int
ct_stale(const struct ct_table *t, const struct ct_entry *e)
{
	return (t->all_stale || (e->status & CT_ST_GEN) != t->gen);
}

/* Judges e; 1 if it is still there (of the current generation now). */
static int
ct_judge(struct ct_table *t, struct ct_entry *e)
{
	t->judge(t, e, t->judge_arg);
	if (!(e->status & CT_ST_USED))
		return (0);
	e->status = (uint8_t)((e->status & ~CT_ST_GEN) | t->gen);
	return (1);
}

struct ct_entry *
ct_find(struct ct_table *t, const struct ct_tuple *k, int both, uint8_t *dir)
{
	struct ct_entry	*e;
	uint32_t	 i, h;
	uint8_t		 d;

	if (t->hint != NULL && ct_ahead_is(t, t->hint, k))
		h = t->hint->hash;
	else
		h = ct_hash(t, k->family, k->proto, &k->src, &k->dst,
		    k->sport, k->dport);
	t->hint = NULL;		/* the packet's own tuple comes first */
	h = ct_bucket_of(t, h);
	for (i = t->bucket[h]; i != CT_NIL; i = e->hnext) {
		e = ct_idx(t, i);
		/* its last bytes may sit in the next cache line */
		__builtin_prefetch((const char *)e + sizeof(*e) - 1);
		if (ct_match(e, k, 0))
			d = CT_DIR_ORIG;
		else if (both && ct_match(e, k, 1))
			d = CT_DIR_REPLY;
		else
			continue;
		if (ct_due(t, e)) {
			/* Its time is up even if ct_expire() did not run. */
			ct_remove_idx(t, i, e);
			t->stats.expired++;
			return (NULL);
		}
		/* judged by the rules of a reload before it is used */
		if (__builtin_expect(t->sweeping, 0) && ct_stale(t, e) &&
		    !ct_judge(t, e))
			return (NULL);
		*dir = d;
		t->last_e = e;
		t->last_i = i;
		if (t->evfn != NULL) {
			t->ev_e = e;
			t->ev_state = e->state;
			t->ev_status = e->status;
		}
		return (e);
	}
	return (NULL);
}

void
ct_ahead(const struct ct_table *t, uint8_t family, uint8_t proto,
    const union pkt_addr *src, const union pkt_addr *dst, uint16_t sport,
    uint16_t dport, struct ct_ahead *a)
{
	ct_tuple_set(&a->k, family, proto, src, dst, sport, dport);
	a->hash = ct_hash(t, family, proto, src, dst, sport, dport);
	a->t = t;
	a->ok = 1;
	__builtin_prefetch(&t->bucket[ct_bucket_of(t, a->hash)]);
}

/* The first entry of a's chain (its bucket is in by now), or CT_NIL. */
static uint32_t
ct_ahead_first(const struct ct_table *t, const struct ct_ahead *a)
{
	if (!a->ok || a->t != t)
		return (CT_NIL);
	return (t->bucket[ct_bucket_of(t, a->hash)]);
}

/*
 * Start loading entry i: 120 bytes at any offset span up to three cache
 * lines, read and then written by the tracker.  Always inline: GCC takes
 * a function that only prefetches for one without effects and drops the
 * calls.
 */
static inline __attribute__((always_inline)) void
ct_prefetch_entry(const struct ct_table *t, uint32_t i)
{
	const char	*e = (const char *)ct_idx(t, i);

	__builtin_prefetch(e, 1);
	__builtin_prefetch(e + 64, 1);
	__builtin_prefetch(e + sizeof(struct ct_entry) - 1, 1);
}

void
ct_ahead_entry(const struct ct_table *t, const struct ct_ahead *a)
{
	uint32_t	 i;

	if ((i = ct_ahead_first(t, a)) != CT_NIL)
		ct_prefetch_entry(t, i);
}

void
ct_ahead_chain(const struct ct_table *t, const struct ct_ahead *a)
{
	const struct ct_entry	*e;
	uint32_t		 i;

	if ((i = ct_ahead_first(t, a)) == CT_NIL)
		return;
	e = ct_idx(t, i);
	/* not the first of its chain: the second, then */
	if (e->hnext != CT_NIL && !ct_match(e, &a->k, 0) &&
	    !ct_match(e, &a->k, 1))
		ct_prefetch_entry(t, e->hnext);
}

/* ---- eviction ---------------------------------------------------------------------- */

/*
 * 0: never replied, 1: not assured, 2: assured but closing, 3: assured
 * and idle for CT_EVICT_IDLE_MS (idle ms), -1: keep.  Tier 3 is the
 * kernel's early_drop gone one step further: a table full of assured
 * connections no longer refuses every new one while some sit idle.
 */
static int
ct_evict_tier(const struct ct_entry *e, uint32_t idle)
{
	if (!(e->status & CT_ST_SEEN_REPLY))
		return (0);
	if (!(e->status & CT_ST_ASSURED))
		return (1);
	if (e->proto == IPPROTO_TCP) {
		switch (e->state) {
		case CT_TCP_FIN_WAIT:
		case CT_TCP_CLOSE_WAIT:
		case CT_TCP_LAST_ACK:
		case CT_TCP_TIME_WAIT:
		case CT_TCP_CLOSE:
			return (2);
		default:
			break;
		}
	}
	return (idle >= CT_EVICT_IDLE_MS ? 3 : -1);
}

/* How far ct_make_room_resync() looks into each timer list. */
#define CT_ROOM_HEAD	32

/* ms since e was last refreshed; 0 for one with more time left than its
   timeout here (the peer's was longer, or a reload shortened ours) */
static uint32_t
ct_idle(const struct ct_table *t, const struct ct_entry *e)
{
	int32_t	 d = ct_tdiff(t->now32, e->deadline -
		    ct_timeout_ms(t, e->tclass));

	return (d > 0 ? (uint32_t)d : 0);
}

/*
 * A full table while a resync comes in or is swept (t->keeping): the
 * connections it has not marked go before any other, for an import as
 * for a packet.  The sweep ends them, or the resync brings them again;
 * what the table evicts otherwise may be one it brought, which the
 * peer sends again only at its refresh.  Candidates: up to
 * CT_EVICT_TAKE unmarked ones from the head of each timer list (the
 * least recently refreshed; at most CT_ROOM_HEAD looked at).  Of those
 * of the best tier (an assured, active one last, not never), the one
 * refreshed longest ago goes.  None there: the first from a cursor.
 * 0, or -1: the marks do not say (no memory), or none.
 */
static int
ct_make_room_resync(struct ct_table *t)
{
	struct ct_entry	*e, *victim = NULL;
	uint32_t	 i, vi = CT_NIL, idle, vidle = 0;
	int		 c, k, vtier = 5, look, take;

	if (t->keep_failed)
		return (-1);
	for (c = 0; c < CT_TO_MAX; c++) {
		take = 0;
		for (i = t->tlist[c].head, look = 0; i != CT_NIL &&
		    look < CT_ROOM_HEAD && take < CT_EVICT_TAKE;
		    i = e->tnext, look++) {
			e = ct_idx(t, i);
			if (ct_due(t, e)) {
				/* behind a head that is not: free now */
				ct_remove_idx(t, i, e);
				t->stats.expired++;
				return (0);
			}
			if (ct_resync_kept(t, i))
				continue;
			take++;
			idle = ct_idle(t, e);
			if ((k = ct_evict_tier(e, idle)) < 0)
				k = 4;
			if (k < vtier || (k == vtier && idle > vidle)) {
				victim = e;
				vi = i;
				vtier = k;
				vidle = idle;
			}
		}
	}
	if (victim == NULL)
		return (ct_resync_room(t));
	ct_remove_idx(t, vi, victim);
	t->stats.early_drop++;
	return (0);
}

/*
 * Make room for one entry.  Candidates are the least recently used
 * evictable entries of every timer list (from the heads).  Among those of
 * the best tier, the source address holding the most candidates loses its
 * least recently used one: a flood of half-open connections from one
 * address pushes out its own entries, not a lone client's.
 */
static int
ct_make_room(struct ct_table *t)
{
	struct ct_entry	*cand[CT_EVICT_MAX], *e, *victim;
	/* ms since the entry was last refreshed */
	uint32_t	 seen[CT_EVICT_MAX], vseen = 0;
	uint32_t	 i, h;
	/* source counts: a small open-addressed table of candidate indices */
	int16_t		 slot[CT_EVICT_SLOTS];
	uint16_t	 cnt[CT_EVICT_SLOTS], mine[CT_EVICT_MAX];
	int		 tier[CT_EVICT_MAX], n = 0, best = 4, c, j, k, look;
	int		 take, vcnt = 0, first, end;

	ct_expire(t, t->now);
	if (t->count < t->cfg.max)
		return (0);
	if (t->keeping && ct_make_room_resync(t) == 0)
		return (0);

	/*
	 * From both ends of each list: the heads hold the oldest entries, the
	 * tails the newest, where a flood that is going on right now shows.
	 */
	for (c = 0; c < CT_TO_MAX; c++) {
		first = n;
		for (end = 0; end < 2; end++) {
			take = 0;
			look = 0;
			for (i = end ? t->tlist[c].tail : t->tlist[c].head;
			    i != CT_NIL && look < CT_EVICT_LOOK &&
			    take < CT_EVICT_TAKE;
			    i = end ? e->tprev : e->tnext, look++) {
				e = ct_idx(t, i);
				if (ct_due(t, e)) {
					/* due, behind a head that is not
					   (see the top): its slot is free */
					ct_remove_idx(t, i, e);
					t->stats.expired++;
					return (0);
				}
				seen[n] = ct_idle(t, e);
				if ((k = ct_evict_tier(e, seen[n])) < 0)
					continue;
				for (j = first; j < n; j++)
					if (cand[j] == e)
						break;
				if (j < n)
					break;	/* the ends met */
				cand[n] = e;
				tier[n] = k;
				if (k < best)
					best = k;
				n++;
				take++;
			}
		}
	}
	if (n == 0)
		return (-1);

	memset(slot, -1, sizeof(slot));
	for (j = 0; j < n; j++) {
		if (tier[j] != best)
			continue;
		e = cand[j];
		h = e->src.a32[0] ^ e->src.a32[1] ^ e->src.a32[2] ^
		    e->src.a32[3];
		h = (h ^ h >> 16) * 0x45d9f3bu;
		for (h &= CT_EVICT_SLOTS - 1;; h = (h + 1) & (CT_EVICT_SLOTS - 1))
			if (slot[h] < 0) {
				slot[h] = (int16_t)j;
				cnt[h] = 0;
				break;
			} else if (cand[slot[h]]->family == e->family &&
			    ct_addr_eq(e->family, &cand[slot[h]]->src,
			    &e->src))
				break;
		cnt[h]++;
		mine[j] = (uint16_t)h;
	}
	victim = NULL;
	for (j = 0; j < n; j++) {
		if (tier[j] != best)
			continue;
		k = cnt[mine[j]];
		if (victim == NULL || k > vcnt || (k == vcnt && seen[j] > vseen)) {
			victim = cand[j];
			vcnt = k;
			vseen = seen[j];
		}
	}
	ct_remove_idx(t, ct_index_of(t, victim), victim);
	t->stats.early_drop++;
	return (0);
}

/* Slot i holds a new connection: nothing the side arrays kept of the
   slot's last one carries over. */
static void
ct_fresh(struct ct_table *t, uint32_t i)
{
	if (t->fresh & CT_FRESH_BYTES)
		ct_bytes_new(t, i);
	if (t->fresh & CT_FRESH_KEEP)
		ct_resync_fresh(t, i);
}

struct ct_entry *
ct_insert(struct ct_table *t, const struct ct_tuple *k, uint8_t tclass,
    struct ct_result *res)
{
	struct ct_entry	*e;
	uint64_t	 sh = ct_src_hash(t, k->family, &k->src);
	uint32_t	 i;

	/* Before making room: a source over its share evicts nobody. */
	if (t->share_max != UINT32_MAX && ct_src_est(t, sh) >= t->share_max) {
		t->stats.share_refused++;
		ct_result_set(res, CT_INVALID, REASON_SOURCE_SHARE, CT_DIR_ORIG,
		    NULL);
		errno = EDQUOT;
		return (NULL);
	}
	if (t->count >= t->cfg.max) {
		if (ct_make_room(t) == -1) {
			t->stats.insert_failed++;
			ct_result_set(res, CT_INVALID, REASON_TABLE_FULL,
			    CT_DIR_ORIG, NULL);
			errno = ENOSPC;
			return (NULL);
		}
		/* Still over: a reload lowered max.  Shrink by one more
		   each time, towards the new limit. */
		if (t->count >= t->cfg.max)
			(void)ct_make_room(t);
	}
	if ((i = ct_alloc(t)) == CT_NIL) {
		t->stats.insert_failed++;
		ct_result_set(res, CT_INVALID, REASON_TABLE_FULL, CT_DIR_ORIG,
		    NULL);
		errno = ENOMEM;
		return (NULL);
	}
	e = ct_idx(t, i);
	t->last_e = e;
	t->last_i = i;
	memset(e, 0, sizeof(*e));
	e->src = k->src;
	e->dst = k->dst;
	e->sport = k->sport;
	e->dport = k->dport;
	e->family = k->family;
	e->proto = k->proto;
	e->status = CT_ST_USED | t->gen;
	e->tclass = tclass;
	e->deadline = e->qdl = t->now32 + ct_timeout_ms(t, tclass);
	e->born = (uint32_t)(t->now / 1000);
	e->packets = 1;
	if (__builtin_expect(t->fresh, 0))
		ct_fresh(t, i);
	ct_link_hash(t, i, e);
	ct_append_timer(t, i, e);
	ct_src_add(t, sh, 1);
	t->count++;
	t->stats.created++;
	ct_adapt(t);
	ct_result_set(res, CT_NEW, REASON_NONE, CT_DIR_ORIG, e);
	return (e);
}

/* ---- the table ----------------------------------------------------------------------- */

static uint32_t
ct_nbuckets(uint32_t max)
{
	/*
	 * 1.5 buckets a connection, whole cache lines of them: chains stay
	 * short (a hit reads 1.33 entries on average at a full table, 1.48
	 * at one bucket a connection) for 6 bytes a connection.  max is at
	 * most 2^26 (config.c): no overflow.
	 */
	uint64_t	 n = (uint64_t)max + max / 2;

	n = (n + 15) & ~(uint64_t)15;
	return (n < CT_MIN_BUCKETS ? CT_MIN_BUCKETS : (uint32_t)n);
}

struct ct_table *
ct_new(const struct ct_config *c)
{
	struct ct_table	*t;
	uint32_t	 nb;

	if (c == NULL || c->max == 0) {
		errno = EINVAL;
		return (NULL);
	}
	/* a worker's own, written for every packet: on lines of its own */
	if ((t = cacheline_calloc(1, sizeof(*t))) == NULL)
		return (NULL);
	t->cfg = *c;
	ct_set_lags(t);
	if ((t->src_cnt = cacheline_calloc(2 * CT_SRC_WIDTH,
	    sizeof(*t->src_cnt))) == NULL) {
		free(t);
		return (NULL);
	}
	nb = ct_nbuckets(c->max);
	if ((t->bucket = ct_map(nb * sizeof(*t->bucket))) == NULL) {
		free(t->src_cnt);
		free(t);
		return (NULL);
	}
	t->nbucket = nb;
	t->top = 1;		/* index 0 means "none" */
	arc4random_buf(t->key, sizeof(t->key));
	return (t);
}

void
ct_free(struct ct_table *t)
{
	uint32_t	 i;

	if (t == NULL)
		return;
	for (i = 0; i < t->nchunk; i++)
		ct_unmap(t->chunk[i], CT_CHUNK_BYTES);
	free(t->chunk);
	for (i = 0; i < t->off_cap; i++)
		free(t->off[i]);
	free(t->off);
	for (i = 0; i < t->ref_cap; i++)
		free(t->ref[i]);
	free(t->ref);
	for (i = 0; i < t->bytes_cap; i++)
		free(t->bytes[i]);
	free(t->bytes);
	(void)ct_dirty_track(t, 0);
	ct_resync_end(t);
	free(t->synced_bits);
	ct_unmap(t->bucket, (size_t)t->nbucket * sizeof(*t->bucket));
	free(t->src_cnt);
	free(t);
}

static void
ct_rehash(struct ct_table *t, uint32_t nb)
{
	struct ct_entry	*e;
	uint32_t	*nbucket, *old, i, onb;

	if ((nbucket = ct_map((size_t)nb * sizeof(*nbucket))) == NULL)
		return;		/* keep the old one: longer chains, still right */
	old = t->bucket;
	onb = t->nbucket;
	t->bucket = nbucket;
	t->nbucket = nb;
	for (i = 1; i < t->top; i++) {
		e = ct_idx(t, i);
		if (e->status & CT_ST_USED)
			ct_link_hash(t, i, e);
	}
	ct_unmap(old, (size_t)onb * sizeof(*old));
}

void
ct_set_config(struct ct_table *t, const struct ct_config *c)
{
	struct ct_entry	*e;
	uint32_t	 i, lim;
	int		 tc;

	for (tc = 0; tc < CT_TO_MAX; tc++) {
		if (c->timeout[tc] >= t->cfg.timeout[tc])
			continue;	/* also every one over the cap */
		/*
		 * A shorter timeout: no entry of this list may outlive it from
		 * now on.  Clamping qdl keeps the list sorted (the min of two
		 * sorted sequences), which a longer timeout does by itself.
		 */
		lim = t->now32 + c->timeout[tc] * 1000u;
		for (i = t->tlist[tc].head; i != CT_NIL; i = e->tnext) {
			e = ct_idx(t, i);
			if (ct_tdiff(e->deadline, lim) > 0)
				e->deadline = lim;
			if (ct_tdiff(e->qdl, lim) > 0)
				e->qdl = lim;
		}
	}
	t->cfg = *c;
	ct_set_lags(t);
	if (t->cfg.max == 0)
		t->cfg.max = 1;
	if (ct_nbuckets(t->cfg.max) > t->nbucket)
		ct_rehash(t, ct_nbuckets(t->cfg.max));
}

void
ct_expire(struct ct_table *t, uint64_t now_ms)
{
	struct ct_entry	*e;
	uint32_t	 i;
	int		 tc;

	ct_clock(t, now_ms);
	ct_adapt(t);
	for (tc = 0; tc < CT_TO_MAX; tc++) {
		while ((i = t->tlist[tc].head) != CT_NIL) {
			e = ct_idx(t, i);
			/* Not due: neither is any entry behind it, or one
			   is at most lag[tc] late (see the top). */
			if (!ct_due(t, e))
				break;
			ct_remove_idx(t, i, e);
			t->stats.expired++;
		}
	}
}

/* Every entry is due: after a jump of the clock past every timeout. */
static void
ct_expire_all(struct ct_table *t)
{
	uint32_t	 i;
	int		 tc;

	for (tc = 0; tc < CT_TO_MAX; tc++)
		while ((i = t->tlist[tc].head) != CT_NIL) {
			ct_remove_idx(t, i, ct_idx(t, i));
			t->stats.expired++;
		}
}

void
ct_remove(struct ct_table *t, struct ct_entry *e)
{
	if (e == NULL || !(e->status & CT_ST_USED))
		return;
	ct_remove_idx(t, ct_index_of(t, e), e);
}

void
ct_flush(struct ct_table *t)
{
	uint32_t	 i;

	if (t->evfn != NULL)
		for (i = 1; i < t->top; i++)
			if (ct_idx(t, i)->status & CT_ST_USED)
				t->evfn(CT_EVENT_DESTROY, ct_idx(t, i),
				    t->evarg);
	t->stats.destroyed += t->count;
	ct_off_clear(t);
	memset(t->bucket, 0, (size_t)t->nbucket * sizeof(*t->bucket));
	memset(t->tlist, 0, sizeof(t->tlist));
	memset(t->src_cnt, 0, 2 * CT_SRC_WIDTH * sizeof(*t->src_cnt));
	/* Every slot is free again; ct_alloc() rewrites a slot fully. */
	t->top = 1;
	t->freelist = CT_NIL;
	t->count = 0;
}

void
ct_grace(struct ct_table *t, uint64_t until_ms)
{
	if (until_ms > t->grace_until)
		t->grace_until = until_ms;
}

void
ct_relearn_peer(struct ct_table *t, int master)
{
	t->relearn_peer = master != 0;
}

size_t
ct_count(const struct ct_table *t)
{
	return (t->count);
}

void
ct_get_stats(const struct ct_table *t, struct ct_stats *s)
{
	*s = t->stats;
}

/* ---- per packet -------------------------------------------------------------------------- */

void
ct_track_ahead(struct ct_table *t, const struct pkt *p,
    const struct ct_ahead *a, uint64_t now_ms, struct ct_result *res)
{
	/* TCP and UDP look up their own tuple first; ICMP and the rest
	   look up others (an error's quote), never with the hint */
	if (a != NULL && (p->proto == IPPROTO_TCP || p->proto == IPPROTO_UDP))
		t->hint = a;
	ct_track(t, p, now_ms, res);
	t->hint = NULL;
}

void
ct_track(struct ct_table *t, const struct pkt *p, uint64_t now_ms,
    struct ct_result *res)
{
	ct_clock(t, now_ms);
	ct_result_set(res, CT_INVALID, REASON_NONE, CT_DIR_ORIG, NULL);
	t->ev_e = NULL;

	if (p->family != AF_INET && p->family != AF_INET6)
		ct_result_set(res, CT_INVALID, REASON_IP_VERSION, CT_DIR_ORIG,
		    NULL);
	else if (p->frag == PKT_FRAG_LATER)
		/* No transport header: it could claim any port. */
		ct_result_set(res, CT_INVALID, REASON_FRAGMENT, CT_DIR_ORIG,
		    NULL);
	else if (p->proto == IPPROTO_TCP)
		ct_tcp_track(t, p, res);
	else if (ct_is_icmp(p))
		ct_icmp_track(t, p, res);
	else
		ct_udp_track(t, p, res);

	if (res->entry != NULL)
		t->stats.found++;
	/* the connection's own packets; not an ICMP error about it */
	if (res->entry != NULL && (res->state == CT_ESTABLISHED ||
	    res->state == CT_NEW)) {
		if (res->entry->packets != UINT32_MAX)
			res->entry->packets++;
		/* ct_find() left its index in last_e/last_i */
		if (__builtin_expect(t->keep_bytes, 0))
			ct_bytes_add(t, ct_index_of(t, res->entry), p->iplen);
	}
	if (res->state == CT_INVALID)
		t->stats.invalid++;
	if (t->evfn != NULL && t->ev_e != NULL && t->ev_e == res->entry &&
	    (t->ev_e->status & CT_ST_USED) &&
	    (t->ev_e->state != t->ev_state ||
	    t->ev_e->status != t->ev_status))
		t->evfn(CT_EVENT_UPDATE, t->ev_e, t->evarg);
}

int
ct_confirm(struct ct_table *t, const struct pkt *p, uint64_t now_ms,
    uint32_t mark, uint32_t rule, struct ct_result *res)
{
	int	 r;

	ct_clock(t, now_ms);
	ct_result_set(res, CT_INVALID, REASON_NONE, CT_DIR_ORIG, NULL);

	if (p->family != AF_INET && p->family != AF_INET6) {
		ct_result_set(res, CT_INVALID, REASON_IP_VERSION, CT_DIR_ORIG,
		    NULL);
		errno = EINVAL;
		return (-1);
	}
	if (p->frag == PKT_FRAG_LATER) {
		ct_result_set(res, CT_INVALID, REASON_FRAGMENT, CT_DIR_ORIG,
		    NULL);
		errno = EINVAL;
		return (-1);
	}
	if (p->proto == IPPROTO_TCP)
		r = ct_tcp_confirm(t, p, res);
	else if (ct_is_icmp(p))
		r = ct_icmp_confirm(t, p, res);
	else
		r = ct_udp_confirm(t, p, res);
	if (r == -1)
		return (-1);
	/* 1: created now.  0: it existed already, or is never tracked. */
	if (r == 1) {
		/* ct_insert() left its index in last_e/last_i */
		if (__builtin_expect(t->keep_bytes, 0))
			ct_bytes_add(t, ct_index_of(t, res->entry),
			    p->iplen);
		res->entry->mark = mark;
		ct_entry_set_rule(res->entry, rule);
		res->entry->status |= (uint8_t)((p->hook << CT_ST_HOOK_SHIFT) &
		    CT_ST_HOOK_MASK);
		if (t->evfn != NULL)
			t->evfn(CT_EVENT_NEW, res->entry, t->evarg);
	}
	return (0);
}

void
ct_set_event_cb(struct ct_table *t, ct_event_fn fn, void *arg)
{
	t->evfn = fn;
	t->evarg = arg;
}

/* ---- accessors --------------------------------------------------------------------------- */

uint32_t
ct_entry_mark(const struct ct_entry *e)
{
	return (e->mark);
}

uint32_t
ct_entry_rule(const struct ct_entry *e)
{
	return (e->rule | ((e->status & CT_ST_RULE16) != 0 ? 0x10000u : 0));
}

uint8_t
ct_entry_hook(const struct ct_entry *e)
{
	return ((e->status & CT_ST_HOOK_MASK) >> CT_ST_HOOK_SHIFT);
}

uint64_t
ct_entry_age(const struct ct_entry *e, uint64_t now_ms)
{
	uint64_t	 now = now_ms / 1000;

	return (now > e->born ? now - e->born : 0);
}

uint32_t
ct_entry_packets(const struct ct_entry *e)
{
	return (e->packets);
}

int
ct_entry_closed(const struct ct_entry *e)
{
	return (e->proto == IPPROTO_TCP && (e->state == CT_TCP_TIME_WAIT ||
	    e->state == CT_TCP_CLOSE));
}

void
ct_entry_set_decision(struct ct_entry *e, uint32_t mark, uint32_t rule)
{
	e->mark = mark;
	ct_entry_set_rule(e, rule);
}

void
ct_entry_icmp(const struct ct_entry *e, uint8_t *type, uint8_t *code,
    uint16_t *id)
{
	if (e->proto == IPPROTO_ICMP || e->proto == IPPROTO_ICMPV6) {
		*type = (uint8_t)e->dport;
		*code = e->icmp_code;
		*id = e->sport;
	} else {
		*type = *code = 0;
		*id = 0;
	}
}

void
ct_entry_tuple(const struct ct_entry *e, uint8_t *family, uint8_t *proto,
    union pkt_addr *src, union pkt_addr *dst, uint16_t *sport,
    uint16_t *dport)
{
	*family = e->family;
	*proto = e->proto;
	*src = e->src;
	*dst = e->dst;
	/* Only TCP and UDP have ports (ICMP keeps its id and type there). */
	if (e->proto == IPPROTO_TCP || e->proto == IPPROTO_UDP) {
		*sport = e->sport;
		*dport = e->dport;
	} else
		*sport = *dport = 0;
}

void
ct_entry_key(const struct ct_entry *e, struct ct_tuple *k)
{
	ct_tuple_set(k, e->family, e->proto, &e->src, &e->dst, e->sport,
	    e->dport);
}

void
ct_generation_next(struct ct_table *t, ct_judge_fn judge, void *arg)
{
	t->judge = judge;
	t->judge_arg = arg;
	/* entries of two generations ago would look current */
	t->all_stale = t->sweeping;
	t->gen ^= CT_ST_GEN;
	t->sweep_cursor = 0;
	t->sweeping = 1;
	if (t->count == 0)
		t->sweeping = t->all_stale = 0;
}

int
ct_sweep(struct ct_table *t, size_t slots, size_t judged)
{
	struct ct_entry	*e;
	uint32_t	 i = t->sweep_cursor ? t->sweep_cursor : 1;

	if (!t->sweeping)
		return (1);
	for (; i < t->top && slots > 0 && judged > 0; i++, slots--) {
		e = ct_idx(t, i);
		if ((e->status & CT_ST_USED) && ct_stale(t, e)) {
			(void)ct_judge(t, e);
			judged--;
		}
	}
	if (i < t->top) {
		t->sweep_cursor = i;
		return (0);
	}
	t->sweeping = t->all_stale = 0;
	t->sweep_cursor = 0;
	return (1);
}

int
ct_sweeping(const struct ct_table *t)
{
	return (t->sweeping);
}

uint64_t
ct_now(const struct ct_table *t)
{
	return (t->now);
}

size_t
ct_walk(struct ct_table *t, uint64_t *cursor, size_t max,
    int (*fn)(struct ct_table *, struct ct_entry *, void *), void *arg)
{
	struct ct_entry	*e;
	uint64_t	 i = *cursor ? *cursor : 1;
	size_t		 n = 0;

	for (; i < t->top && n < max; i++) {
		e = ct_idx(t, (uint32_t)i);
		if (!(e->status & CT_ST_USED))
			continue;
		n++;
		if (fn(t, e, arg) != 0) {
			i++;
			break;
		}
	}
	/* past the free slots that end the table, so that a walk whose
	   last entries were removed ends now, not after an empty slice */
	while (i < t->top && !(ct_idx(t, (uint32_t)i)->status & CT_ST_USED))
		i++;
	*cursor = i < t->top ? i : 0;
	return (n);
}
