/*
 * ct_sync.c - a connection's whole state out of and into the table, for
 * the HA peer
 *
 * Copyright (C) 2026 The nfqspid authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * The master exports what its trackers know of a connection; the backup
 * imports it so that, handed the traffic, it goes on judging the
 * connection exactly as the master would have: same TCP state and
 * windows, same timeout left, mark, rule and flags.  The state crosses
 * the wire (syncproto.c), so everything is checked on the way in.
 */
#include <sys/socket.h>
#include <netinet/in.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "ct_int.h"

#define CT_MAX_WSCALE	14		/* RFC 7323 */

_Static_assert(CT_TD_STALE == CT_SNAP_TD_LOCAL, "ct.h: CT_SNAP_TD_LOCAL");
_Static_assert(CT_TD_PEER == CT_SNAP_TD_PEER, "ct.h: CT_SNAP_TD_PEER");
_Static_assert(CT_UDP_STREAM_MS + 1 == CT_SNAP_STREAM_MAX,
    "ct.h: CT_SNAP_STREAM_MAX");

/* ct_udp.c tracks it: last_hash is its wait for the stream */
static int
ct_snap_dgram(const struct ct_snap *s)
{
	return (s->k.proto != IPPROTO_TCP &&
	    !(s->k.family == AF_INET && s->k.proto == IPPROTO_ICMP) &&
	    !(s->k.family == AF_INET6 && s->k.proto == IPPROTO_ICMPV6));
}

void
ct_export(const struct ct_table *t, const struct ct_entry *e,
    struct ct_snap *s)
{
	int32_t		 left = (int32_t)(e->deadline - t->now32);
	uint64_t	 now_s = t->now / 1000;
	int		 d;

	memset(s, 0, sizeof(*s));
	ct_tuple_set(&s->k, e->family, e->proto, &e->src, &e->dst, e->sport,
	    e->dport);
	s->state = e->state;
	s->flags = (e->status & CT_ST_SEEN_REPLY ? CT_SNAP_SEEN_REPLY : 0) |
	    (e->status & CT_ST_ASSURED ? CT_SNAP_ASSURED : 0);
	s->hook = (e->status & CT_ST_HOOK_MASK) >> CT_ST_HOOK_SHIFT;
	s->tclass = e->tclass;
	s->aux = e->syn_opts;		/* or icmp_code: the same byte */
	s->rule = ct_entry_rule(e);
	s->mark = e->mark;
	s->left_ms = left > 0 ? (uint32_t)left : 0;
	s->age_s = now_s > e->born ? (uint32_t)(now_s - e->born) : 0;
	s->packets = e->packets;
	if (ct_snap_dgram(s))
		s->last_hash = ct_udp_stream_left(t, e);
	if (e->proto != IPPROTO_TCP)
		return;
	s->last_hash = e->last_hash;
	for (d = 0; d < 2; d++) {
		s->tcp.end[d] = e->tcp.seen[d].td_end;
		s->tcp.maxend[d] = e->tcp.seen[d].td_maxend;
		s->tcp.maxwin[d] = e->tcp.seen[d].td_maxwin;
		s->tcp.maxack[d] = e->tcp.seen[d].td_maxack;
		s->tcp.scale[d] = e->tcp.scale[d];
		s->tcp.dflags[d] = e->tcp.flags[d];
	}
	s->tcp.retrans = e->tcp.retrans;
	s->tcp.last_index = e->tcp.last_index;
	s->tcp.last_dir = e->tcp.last_dir;
	s->tcp.last_zerowin = e->tcp.last_zerowin;
}

static int
ct_snap_check_tcp(const struct ct_snap *s)
{
	const struct ct_snap_tcp *c = &s->tcp;
	int			 d;

	if (s->state >= CT_TCP_NSTATES || (s->aux & ~CT_SYNOPT_ALL) ||
	    (s->aux & CT_SYNOPT_SCALE) > CT_MAX_WSCALE)
		return (-1);
	for (d = 0; d < 2; d++)
		if (c->scale[d] > CT_MAX_WSCALE || (c->dflags[d] & ~CT_TD_ALL))
			return (-1);
	if (c->last_index >= CT_TCP_NCLASSES || c->last_dir > 1 ||
	    c->last_zerowin > 1)
		return (-1);
	return (0);
}

int
ct_snap_check(const struct ct_snap *s)
{
	int	 bad;

	bad = (s->k.family != AF_INET && s->k.family != AF_INET6) ||
	    s->tclass >= CT_TO_MAX || (s->flags & ~CT_SNAP_FLAGS) ||
	    s->hook >= PKT_HOOK_MAX ||
	    s->left_ms > CT_TIMEOUT_MAX * 1000u ||
	    (s->k.proto == IPPROTO_TCP ? ct_snap_check_tcp(s) == -1 :
	    s->state != 0) ||
	    (ct_snap_dgram(s) && s->last_hash > CT_SNAP_STREAM_MAX);
	if (bad) {
		errno = EINVAL;
		return (-1);
	}
	return (0);
}

/* Everything of s but the tuple and the timer into e. */
static void
ct_snap_apply(struct ct_table *t, struct ct_entry *e,
    const struct ct_snap *s)
{
	uint64_t	 now_s = t->now / 1000;
	int		 d;

	/* of this table's policy generation, as a new entry is */
	e->status = CT_ST_USED | t->gen |
	    (s->flags & CT_SNAP_SEEN_REPLY ? CT_ST_SEEN_REPLY : 0) |
	    (s->flags & CT_SNAP_ASSURED ? CT_ST_ASSURED : 0) |
	    (uint8_t)((s->hook << CT_ST_HOOK_SHIFT) & CT_ST_HOOK_MASK);
	e->state = s->state;
	e->syn_opts = s->aux;
	e->mark = s->mark;
	ct_entry_set_rule(e, s->rule);
	e->born = (uint32_t)(now_s > s->age_s ? now_s - s->age_s : 0);
	e->packets = s->packets;
	e->last_hash = 0;
	memset(&e->tcp, 0, sizeof(e->tcp));
	if (ct_snap_dgram(s))
		ct_udp_stream_set(t, e, s->last_hash);
	if (e->proto != IPPROTO_TCP)
		return;
	e->last_hash = s->last_hash;
	for (d = 0; d < 2; d++) {
		e->tcp.seen[d].td_end = s->tcp.end[d];
		e->tcp.seen[d].td_maxend = s->tcp.maxend[d];
		e->tcp.seen[d].td_maxwin = s->tcp.maxwin[d];
		e->tcp.seen[d].td_maxack = s->tcp.maxack[d];
		e->tcp.scale[d] = s->tcp.scale[d];
		e->tcp.flags[d] = s->tcp.dflags[d];
	}
	e->tcp.retrans = s->tcp.retrans;
	e->tcp.last_index = s->tcp.last_index;
	e->tcp.last_dir = s->tcp.last_dir;
	e->tcp.last_zerowin = s->tcp.last_zerowin;
}

/* Slot i's connection stays at the resync's sweep. */
static void
ct_resync_keep(struct ct_table *t, uint32_t i)
{
	if (i / 64 < t->keep_nwords || ct_bits_grow(&t->keep_bits,
	    &t->keep_nwords, i) == 0)
		t->keep_bits[i / 64] |= 1ull << (i % 64);
	else
		t->keep_failed = 1;
}

static void
ct_resync_unkeep(struct ct_table *t, uint32_t i)
{
	if (i / 64 < t->keep_nwords)
		t->keep_bits[i / 64] &= ~(1ull << (i % 64));
}

/*
 * The first connection the resync has not marked from where the last
 * call found one, for ct_make_room() when none is near the heads of the
 * timer lists.  Looks at most CT_ROOM_LOOK slots: 0, or -1.
 */
#define CT_ROOM_LOOK	4096
int
ct_resync_room(struct ct_table *t)
{
	struct ct_entry	*e;
	uint32_t	 i = t->room_cursor, w, n;

	if (t->keep_failed)
		return (-1);	/* the marks do not say what stays */
	for (n = 0; n < CT_ROOM_LOOK; ) {
		if (i < 1 || i >= t->top)
			i = 1;
		w = i / 64;
		if (w < t->keep_nwords && t->keep_bits[w] == UINT64_MAX) {
			n += 64 - i % 64;
			i = (w + 1) * 64;
			continue;
		}
		e = ct_idx(t, i);
		if ((e->status & CT_ST_USED) && !ct_resync_kept(t, i)) {
			ct_remove(t, e);
			t->stats.early_drop++;
			t->room_cursor = i + 1;
			return (0);
		}
		n++;
		i++;
	}
	t->room_cursor = i;
	return (-1);
}

struct ct_entry *
ct_import(struct ct_table *t, const struct ct_snap *s, uint64_t now_ms,
    uint32_t *was)
{
	struct ct_result res;
	struct ct_entry	*e;
	struct ct_tuple	 k;
	uint32_t	 i, share;
	uint8_t		 dir, state, status;
	int		 created = 0;

	if (ct_snap_check(s) == -1)
		return (NULL);
	ct_expire(t, now_ms);
	ct_tuple_set(&k, s->k.family, s->k.proto, &s->k.src, &s->k.dst,
	    s->k.sport, s->k.dport);
	e = ct_find(t, &k, 1, &dir);
	if (e != NULL && dir != CT_DIR_ORIG) {
		/* ours began the other way round: the master's wins */
		ct_remove(t, e);
		e = NULL;
	}
	if (e == NULL) {
		/*
		 * Not held to the share: the connection was taken where
		 * its packets came (the peer, another worker), under a
		 * share of its own; here a worker's count of the source
		 * differs, and may hold stale connections the sweep ends.
		 */
		share = t->share_max;
		t->share_max = UINT32_MAX;
		e = ct_insert(t, &k, s->tclass, &res);
		t->share_max = share;
		if (e == NULL)
			return (NULL);
		created = 1;
	}
	i = t->last_i;		/* ct_find() and ct_insert() set it */
	if (was != NULL)
		*was = created ? CT_IMPORT_NEW : ct_entry_rule(e);
	state = e->state;
	status = e->status;
	ct_snap_apply(t, e, s);
	ct_unplace(t, i, e);
	ct_place(t, i, e, s->tclass, t->now32 + s->left_ms);
	if (t->keeping)
		ct_resync_keep(t, i);
	if (t->evfn != NULL && created)
		t->evfn(CT_EVENT_NEW, e, t->evarg);
	else if (t->evfn != NULL && (e->state != state || e->status != status))
		t->evfn(CT_EVENT_UPDATE, e, t->evarg);
	return (e);
}

void
ct_resync_begin(struct ct_table *t)
{
	ct_resync_end(t);
	t->keeping = CT_KEEP_IN;
	t->fresh |= CT_FRESH_KEEP;
}

/*
 * Slot i holds a new connection.  While the resync comes in, the mark
 * of the slot's last one (it ended since) goes, or the new one would
 * escape the sweep.  Once the resync's end came, the new one is newer
 * than the table and stays, wherever the sweep is: packets come between
 * its slices.  Done when a slot is taken, not at every removal:
 * ct_insert() looks for the fast path's bytes already.
 */
void
ct_resync_fresh(struct ct_table *t, uint32_t i)
{
	if (t->keeping == CT_KEEP_SWEEP)
		ct_resync_keep(t, i);
	else
		ct_resync_unkeep(t, i);
}

void
ct_resync_end(struct ct_table *t)
{
	free(t->keep_bits);
	t->keep_bits = NULL;
	t->keep_nwords = 0;
	t->keeping = t->keep_failed = 0;
	t->room_cursor = 0;
	t->fresh &= ~CT_FRESH_KEEP;
}

int
ct_resync_brought(const struct ct_table *t, const struct ct_entry *e)
{
	return (t->keeping && ct_resync_kept(t, ct_index_of(t, e)));
}

void
ct_resync_forget(struct ct_table *t, const struct ct_entry *e)
{
	if (t->keeping)
		ct_resync_unkeep(t, ct_index_of(t, e));
}

size_t
ct_resync_sweep(struct ct_table *t, uint64_t *cursor, size_t max,
    uint64_t now_ms)
{
	struct ct_entry	*e;
	uint64_t	 i = *cursor ? *cursor : 1;
	size_t		 n = 0, gone = 0;

	if (!t->keeping || t->keep_failed) {
		*cursor = 0;
		ct_resync_end(t);
		return (0);
	}
	t->keeping = CT_KEEP_SWEEP;
	ct_expire(t, now_ms);
	for (; i < t->top && n < max; i++) {
		e = ct_idx(t, (uint32_t)i);
		if (!(e->status & CT_ST_USED))
			continue;
		n++;
		if (ct_resync_kept(t, i))
			continue;
		ct_remove(t, e);
		gone++;
	}
	*cursor = i < t->top ? i : 0;
	if (*cursor == 0)
		ct_resync_end(t);
	return (gone);
}

int
ct_forget(struct ct_table *t, const struct ct_tuple *k, uint64_t now_ms)
{
	struct ct_entry	*e;

	ct_expire(t, now_ms);
	if ((e = ct_lookup(t, k)) == NULL) {
		errno = ENOENT;
		return (-1);
	}
	ct_remove(t, e);
	return (0);
}

struct ct_entry *
ct_lookup(struct ct_table *t, const struct ct_tuple *k)
{
	struct ct_tuple	 n;
	uint8_t		 dir;

	ct_tuple_set(&n, k->family, k->proto, &k->src, &k->dst, k->sport,
	    k->dport);
	return (ct_find(t, &n, 1, &dir));
}

int
ct_synced_mark(struct ct_table *t, const struct ct_entry *e)
{
	uint32_t	 i = ct_index_of(t, e);

	if (i / 64 >= t->synced_nwords && ct_bits_grow(&t->synced_bits,
	    &t->synced_nwords, i) == -1)
		return (-1);
	if (t->synced_bits[i / 64] >> (i % 64) & 1)
		return (0);
	t->synced_bits[i / 64] |= 1ull << (i % 64);
	return (1);
}

int
ct_synced_is(const struct ct_table *t, const struct ct_entry *e)
{
	uint32_t	 i = ct_index_of(t, e);

	return (i / 64 < t->synced_nwords &&
	    (t->synced_bits[i / 64] >> (i % 64) & 1));
}

int
ct_synced_take(struct ct_table *t, const struct ct_entry *e)
{
	uint32_t	 i = ct_index_of(t, e);

	if (!ct_synced_is(t, e))
		return (0);
	t->synced_bits[i / 64] &= ~(1ull << (i % 64));
	return (1);
}

/* Put flag on each side of a TCP snapshot that has a window: a side
   never seen is unknown already (td_maxwin 0). */
static void
snap_mark_sides(struct ct_snap *s, uint8_t flag)
{
	int	 d;

	if (s->k.proto != IPPROTO_TCP)
		return;
	for (d = 0; d < 2; d++)
		if (s->tcp.maxwin[d] != 0)
			s->tcp.dflags[d] |= flag;
}

void
ct_snap_elapse(struct ct_snap *s, uint64_t ms)
{
	if (ct_snap_dgram(s))
		s->last_hash = s->last_hash > ms ? s->last_hash - (uint32_t)ms :
		    0;
}

void
ct_snap_stale(struct ct_snap *s)
{
	snap_mark_sides(s, CT_SNAP_TD_LOCAL);
}

void
ct_snap_peer(struct ct_snap *s)
{
	snap_mark_sides(s, CT_SNAP_TD_PEER);
}
