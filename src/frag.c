/*
 * frag.c - the fragment cache: IPv4 and IPv6 datagrams decided whole
 *
 * Copyright (C) 2026 The nfqspid authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * The rules are the kernel's (ip_fragment.c, reassembly.c,
 * inet_fragment.c) where they are safe, stricter where they are not:
 *   - a datagram is known by family, addresses, identification and (IPv4)
 *     protocol, and timed from its first fragment (ipfrag_time);
 *   - a fragment that repeats a held one exactly (same offset and
 *     length) is dropped, the datagram goes on;
 *   - any other overlap ends the whole datagram (RFC 5722; the same for
 *     IPv4, as pf's scrub does);
 *   - a first fragment that does not hold the transport header whole
 *     (RFC 1858, RFC 3128, RFC 7112), a TCP fragment at offset 8 (RFC
 *     1858), a datagram longer than 65,535 bytes, a fragment that is not
 *     the last and not a multiple of 8 bytes, and a second "last" that
 *     disagrees end the datagram as "fragment";
 *   - an ended datagram stays known, holding nothing, until its timeout,
 *     so that its later fragments are dropped at once instead of held.
 * Each held fragment is kept as a copy (the verdict still goes to the
 * kernel's packet); the datagram is rebuilt from the copies only when it
 * is whole.
 */
#define _GNU_SOURCE	/* arc4random_buf */
#include <sys/types.h>
#include <sys/socket.h>
#include <netinet/in.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cacheline.h"
#include "csum.h"
#include "frag.h"
#include "pkt.h"
#include "siphash.h"
#include "bytes.h"

#define IP4_HDRLEN	20
#define IP6_HDRLEN	40
#define IP4_DF		0x4000
#define IP4_MF		0x2000
#define IP4_OFFMASK	0x1fff
#define MAX_EXTHDR	8

/* One held fragment: a copy of the packet, in the datagram's list by
   offset. */
struct frag_piece {
	struct frag_piece *next;
	uint64_t	 id;
	uint32_t	 off;		/* of its payload in the datagram's */
	uint32_t	 end;		/* off + payload length */
	uint16_t	 payoff;	/* where its payload starts in data */
	uint16_t	 prevnh;	/* IPv6: the next-header byte naming the
					   fragment header */
	uint32_t	 len;		/* bytes in data */
	uint8_t		 whole;		/* every byte the IP header claims */
	uint8_t		 data[];
};

struct frag_src {
	struct frag_src	*next;		/* hash chain, or free list */
	union pkt_addr	 addr;
	uint8_t		 family;
	uint32_t	 datagrams;
	uint32_t	 held;
	uint32_t	 bytes;
};

struct frag_dgram {
	struct frag_dgram *hnext;	/* hash chain, or free list */
	struct frag_dgram *older, *newer;	/* by first fragment */
	struct frag_piece *pieces;
	struct frag_src	*src;
	uint64_t	 since;
	union pkt_addr	 saddr, daddr;
	uint32_t	 ident;
	uint32_t	 total;		/* payload length, once the last came */
	uint32_t	 have;		/* payload bytes held */
	uint32_t	 bytes;		/* bytes of the copies */
	uint8_t		 family;
	uint8_t		 proto;		/* IPv4 only (IPv6: 0) */
	uint8_t		 nfrag;
	uint8_t		 last;		/* the last fragment came */
	uint8_t		 dead;		/* enum reason: ended, held nothing */
	uint8_t		 nocsum;	/* a copy is cut, or not ready */
};

struct frag_cache {
	struct frag_config	 cfg;
	uint64_t		 key[2];
	struct frag_dgram	**hash;
	struct frag_src		**shash;
	uint32_t		 mask;	/* buckets - 1, both tables */
	struct frag_dgram	*dgrams, *dfree;
	struct frag_src		*srcs, *sfree;
	uint32_t		 nslots;	/* dgrams[] and srcs[] */
	struct frag_dgram	*oldest, *newest;
	struct frag_stats	 st;
	uint64_t		 ids[FRAG_MAX_FRAGS];	/* frag_expire() */
	uint8_t			 out[FRAG_MAX_DGRAM + IP6_HDRLEN];
};

/* What the IP header of a fragment says */
struct frag_hdr {
	uint8_t		 family;
	uint8_t		 proto;		/* IPv4: the protocol; IPv6: the
					   fragment header's next header */
	uint8_t		 more;
	union pkt_addr	 saddr, daddr;
	uint32_t	 ident;
	uint32_t	 off;
	uint32_t	 plen;		/* payload bytes the header claims */
	size_t		 payoff;	/* start of the payload in the packet */
	size_t		 prevnh;
	size_t		 claim;		/* the IP length */
};

static const char *const drop_names[FRAG_DROP_MAX] = {
	[FRAG_DROP_OVERLAP] =	"frag-overlap",
	[FRAG_DROP_DUPLICATE] =	"frag-duplicate",
	[FRAG_DROP_INVALID] =	"fragment",
	[FRAG_DROP_TOO_MANY] =	"frag-too-many",
	[FRAG_DROP_FULL] =	"frag-cache-full",
	[FRAG_DROP_TIMEOUT] =	"frag-timeout",
};

static const uint8_t drop_reasons[FRAG_DROP_MAX] = {
	[FRAG_DROP_OVERLAP] =	REASON_FRAG_OVERLAP,
	[FRAG_DROP_DUPLICATE] =	REASON_FRAG_DUPLICATE,
	[FRAG_DROP_INVALID] =	REASON_FRAGMENT,
	[FRAG_DROP_TOO_MANY] =	REASON_FRAG_TOO_MANY,
	[FRAG_DROP_FULL] =	REASON_FRAG_FULL,
	[FRAG_DROP_TIMEOUT] =	REASON_FRAG_TIMEOUT,
};

const char *
frag_drop_name(enum frag_drop d)
{
	return ((unsigned)d < FRAG_DROP_MAX ? drop_names[d] : "unknown");
}

enum reason
frag_drop_reason(enum frag_drop d)
{
	return ((unsigned)d < FRAG_DROP_MAX ? drop_reasons[d] : REASON_NONE);
}

static enum frag_drop
drop_of(enum reason r)
{
	int	 d;

	for (d = 0; d < FRAG_DROP_MAX; d++)
		if (drop_reasons[d] == r)
			return ((enum frag_drop)d);
	return (FRAG_DROP_INVALID);	/* a parser's reason */
}

void
frag_config_defaults(struct frag_config *c)
{
	c->timeout_ms = 30 * 1000;
	c->max_bytes = 4u << 20;
	c->max_datagrams = 1024;
	c->max_held = 1024;
}

/*
 * Is buf a fragment?  1 and h filled in, 0 if not (an IPv6 atomic
 * fragment neither, RFC 6946), 0 also when the header is too broken to
 * tell: pkt_parse() rejects those.
 */
static int
frag_header(const uint8_t *buf, size_t len, struct frag_hdr *h)
{
	size_t		 hl, off, hlen;
	uint16_t	 fo;
	uint8_t		 nh;
	int		 n;

	if (len < IP4_HDRLEN)
		return (0);
	/* the common case first, and cheap: every packet comes here */
	switch (buf[0] >> 4) {
	case 4:
		fo = get16(buf + 6);
		if ((fo & (IP4_MF | IP4_OFFMASK)) == 0)
			return (0);
		break;
	case 6:
		switch (buf[6]) {
		case IPPROTO_HOPOPTS:
		case IPPROTO_ROUTING:
		case IPPROTO_DSTOPTS:
		case IPPROTO_FRAGMENT:
			break;
		default:
			return (0);
		}
		break;
	default:
		return (0);
	}
	memset(h, 0, sizeof(*h));
	switch (buf[0] >> 4) {
	case 4:
		hl = (size_t)(buf[0] & 0x0f) * 4;
		h->claim = get16(buf + 2);
		if (hl < IP4_HDRLEN || h->claim < hl || hl > len)
			return (0);
		h->family = AF_INET;
		h->proto = buf[9];
		h->more = (fo & IP4_MF) != 0;
		h->off = (uint32_t)(fo & IP4_OFFMASK) * 8;
		h->ident = get16(buf + 4);
		memcpy(h->saddr.a8, buf + 12, 4);
		memcpy(h->daddr.a8, buf + 16, 4);
		h->payoff = hl;
		h->plen = (uint32_t)(h->claim - hl);
		return (1);
	case 6:
		if (len < IP6_HDRLEN)
			return (0);
		h->claim = IP6_HDRLEN + (size_t)get16(buf + 4);
		nh = buf[6];
		off = IP6_HDRLEN;
		h->prevnh = 6;
		/* what may come before a fragment header (RFC 8200 4.1) */
		for (n = 0; n < MAX_EXTHDR; n++) {
			if (off + 8 > len || off + 8 > h->claim)
				return (0);
			switch (nh) {
			case IPPROTO_HOPOPTS:
			case IPPROTO_ROUTING:
			case IPPROTO_DSTOPTS:
				hlen = ((size_t)buf[off + 1] + 1) * 8;
				break;
			case IPPROTO_FRAGMENT:
				fo = get16(buf + off + 2);
				if ((fo & 0xfff9) == 0)
					return (0);	/* atomic */
				h->family = AF_INET6;
				h->proto = buf[off];
				h->more = fo & 1;
				h->off = (uint32_t)(fo & 0xfff8);
				h->ident = get32(buf + off + 4);
				memcpy(h->saddr.a8, buf + 8, 16);
				memcpy(h->daddr.a8, buf + 24, 16);
				h->payoff = off + 8;
				h->plen = (uint32_t)(h->claim - h->payoff);
				return (1);
			default:
				return (0);	/* no fragment header */
			}
			h->prevnh = off;
			nh = buf[off];
			off += hlen;
		}
		return (0);
	default:
		return (0);
	}
}

static uint32_t
hash_dgram(const struct frag_cache *fc, const struct frag_hdr *h)
{
	uint64_t	 m[5];

	memcpy(&m[0], h->saddr.a8, 16);
	memcpy(&m[2], h->daddr.a8, 16);
	/* IPv6 datagrams are not known by protocol (RFC 8200 4.5) */
	m[4] = (uint64_t)h->ident << 16 |
	    (uint64_t)(h->family == AF_INET ? h->proto : 0) << 8 | h->family;
	return ((uint32_t)siphash13(fc->key, m, 5));
}

static uint32_t
hash_src(const struct frag_cache *fc, uint8_t family,
    const union pkt_addr *a)
{
	uint64_t	 m[3];

	memcpy(&m[0], a->a8, 16);
	m[2] = family;
	return ((uint32_t)siphash13(fc->key, m, 3));
}

struct frag_cache *
frag_new(const struct frag_config *c)
{
	struct frag_cache	*fc;
	uint32_t		 i, n;

	if (c->max_datagrams == 0 || c->max_datagrams > (1u << 20)) {
		errno = EINVAL;
		return (NULL);
	}
	if ((fc = cacheline_calloc(1, sizeof(*fc))) == NULL)
		return (NULL);
	fc->cfg = *c;
	fc->nslots = c->max_datagrams;
	for (n = 16; n < 2 * fc->nslots; n <<= 1)
		;
	fc->mask = n - 1;
	fc->hash = calloc(n, sizeof(*fc->hash));
	fc->shash = calloc(n, sizeof(*fc->shash));
	fc->dgrams = calloc(fc->nslots, sizeof(*fc->dgrams));
	fc->srcs = calloc(fc->nslots, sizeof(*fc->srcs));
	if (fc->hash == NULL || fc->shash == NULL || fc->dgrams == NULL ||
	    fc->srcs == NULL) {
		frag_free(fc);
		errno = ENOMEM;
		return (NULL);
	}
	for (i = 0; i < fc->nslots; i++) {
		fc->dgrams[i].hnext = i + 1 < fc->nslots ? &fc->dgrams[i + 1] :
		    NULL;
		fc->srcs[i].next = i + 1 < fc->nslots ? &fc->srcs[i + 1] :
		    NULL;
	}
	fc->dfree = &fc->dgrams[0];
	fc->sfree = &fc->srcs[0];
	arc4random_buf(fc->key, sizeof(fc->key));
	return (fc);
}

static void
pieces_free(struct frag_piece *p)
{
	struct frag_piece	*next;

	for (; p != NULL; p = next) {
		next = p->next;
		free(p);
	}
}

void
frag_free(struct frag_cache *fc)
{
	uint32_t	 i;

	if (fc == NULL)
		return;
	if (fc->dgrams != NULL)
		for (i = 0; i < fc->nslots; i++)
			pieces_free(fc->dgrams[i].pieces);
	free(fc->hash);
	free(fc->shash);
	free(fc->dgrams);
	free(fc->srcs);
	free(fc);
}

void
frag_set_config(struct frag_cache *fc, const struct frag_config *c)
{
	/* the number of slots is fixed at frag_new(): more is capped */
	fc->cfg = *c;
	if (fc->cfg.max_datagrams > fc->nslots)
		fc->cfg.max_datagrams = fc->nslots;
}

void
frag_get_stats(const struct frag_cache *fc, struct frag_stats *s)
{
	*s = fc->st;
}

static struct frag_src *
src_get(struct frag_cache *fc, const struct frag_hdr *h)
{
	struct frag_src	*s;
	uint32_t	 b = hash_src(fc, h->family, &h->saddr) & fc->mask;

	for (s = fc->shash[b]; s != NULL; s = s->next)
		if (s->family == h->family &&
		    memcmp(s->addr.a8, h->saddr.a8, 16) == 0)
			return (s);
	if ((s = fc->sfree) == NULL)
		return (NULL);	/* not reached: one per datagram at most */
	fc->sfree = s->next;
	memset(s, 0, sizeof(*s));
	s->family = h->family;
	s->addr = h->saddr;
	s->next = fc->shash[b];
	fc->shash[b] = s;
	return (s);
}

static void
src_put(struct frag_cache *fc, struct frag_src *s)
{
	struct frag_src	**pp;
	uint32_t	  b;

	if (--s->datagrams > 0)
		return;
	b = hash_src(fc, s->family, &s->addr) & fc->mask;
	for (pp = &fc->shash[b]; *pp != NULL; pp = &(*pp)->next)
		if (*pp == s) {
			*pp = s->next;
			break;
		}
	s->next = fc->sfree;
	fc->sfree = s;
}

/* Forget the held copies of d; their ids go to ids[] (by offset). */
static size_t
dgram_release(struct frag_cache *fc, struct frag_dgram *d, uint64_t *ids)
{
	struct frag_piece	*p, *next;
	size_t			 n = 0;

	for (p = d->pieces; p != NULL; p = next) {
		next = p->next;
		ids[n++] = p->id;
		free(p);
	}
	d->pieces = NULL;
	fc->st.held -= d->nfrag;
	fc->st.bytes -= d->bytes;
	d->src->held -= d->nfrag;
	d->src->bytes -= d->bytes;
	d->nfrag = 0;
	d->bytes = 0;
	d->have = 0;
	return (n);
}

static void
dgram_free(struct frag_cache *fc, struct frag_dgram *d)
{
	struct frag_dgram	**pp;
	struct frag_hdr		  h;

	memset(&h, 0, sizeof(h));
	h.family = d->family;
	h.proto = d->proto;
	h.ident = d->ident;
	h.saddr = d->saddr;
	h.daddr = d->daddr;
	for (pp = &fc->hash[hash_dgram(fc, &h) & fc->mask]; *pp != NULL;
	    pp = &(*pp)->hnext)
		if (*pp == d) {
			*pp = d->hnext;
			break;
		}
	if (d->older != NULL)
		d->older->newer = d->newer;
	else
		fc->oldest = d->newer;
	if (d->newer != NULL)
		d->newer->older = d->older;
	else
		fc->newest = d->older;
	src_put(fc, d->src);
	fc->st.datagrams--;
	memset(d, 0, sizeof(*d));
	d->hnext = fc->dfree;
	fc->dfree = d;
}

static struct frag_dgram *
dgram_find(struct frag_cache *fc, const struct frag_hdr *h, uint32_t *bucket)
{
	struct frag_dgram	*d;

	*bucket = hash_dgram(fc, h) & fc->mask;
	for (d = fc->hash[*bucket]; d != NULL; d = d->hnext)
		if (d->ident == h->ident && d->family == h->family &&
		    d->proto == (h->family == AF_INET ? h->proto : 0) &&
		    memcmp(d->saddr.a8, h->saddr.a8, 16) == 0 &&
		    memcmp(d->daddr.a8, h->daddr.a8, 16) == 0)
			return (d);
	return (NULL);
}

/* A new datagram for h, or NULL when there is no room for it. */
static struct frag_dgram *
dgram_new(struct frag_cache *fc, const struct frag_hdr *h, uint32_t bucket,
    uint64_t now_ms)
{
	struct frag_dgram	*d;
	struct frag_src		*s;
	uint32_t		 share;

	if (fc->dfree == NULL || fc->st.datagrams >= fc->cfg.max_datagrams)
		return (NULL);
	if ((s = src_get(fc, h)) == NULL)
		return (NULL);
	share = fc->cfg.max_datagrams / FRAG_SHARE;
	/* a source that has a datagram already (a new one has room) */
	if (s->datagrams >= (share > 0 ? share : 1))
		return (NULL);
	s->datagrams++;
	d = fc->dfree;
	fc->dfree = d->hnext;
	memset(d, 0, sizeof(*d));
	d->src = s;
	d->since = now_ms;
	d->family = h->family;
	d->proto = h->family == AF_INET ? h->proto : 0;
	d->ident = h->ident;
	d->saddr = h->saddr;
	d->daddr = h->daddr;
	d->hnext = fc->hash[bucket];
	fc->hash[bucket] = d;
	d->older = fc->newest;
	if (fc->newest != NULL)
		fc->newest->newer = d;
	else
		fc->oldest = d;
	fc->newest = d;
	fc->st.datagrams++;
	return (d);
}

/* Drop this packet and end d: its held fragments are dropped too. */
static void
dgram_kill(struct frag_cache *fc, struct frag_dgram *d, enum reason why,
    struct frag_result *res)
{
	res->status = FRAG_DROP;
	res->reason = why;
	fc->st.dropped[drop_of(why)]++;
	if (d == NULL)
		return;
	res->n = dgram_release(fc, d, res->ids);
	fc->st.dropped[drop_of(why)] += res->n;
	d->dead = (uint8_t)why;
}

/*
 * What is wrong with a fragment of d, whatever else is held: REASON_NONE
 * if nothing.  The first fragment must hold its transport header whole,
 * which pkt_parse() of it tells.
 */
static enum reason
frag_check(const struct frag_dgram *d, const struct frag_hdr *h,
    const uint8_t *buf, size_t len)
{
	struct pkt	 p;
	enum reason	 why;
	size_t		 unfrag = h->payoff - (h->family == AF_INET6 ? 8 : 0);

	const struct frag_piece *tail;

	if (h->more && (h->plen == 0 || h->plen % 8 != 0))
		return (REASON_FRAGMENT);
	/* the IP length of the whole (IPv6: of its payload) */
	if (unfrag - (h->family == AF_INET6 ? IP6_HDRLEN : 0) + h->off +
	    h->plen > FRAG_MAX_DGRAM)
		return (REASON_FRAGMENT);
	/* RFC 1858: offset 8 only ever overwrites TCP's ports and flags */
	if (h->off == 8 && h->proto == IPPROTO_TCP)
		return (REASON_FRAGMENT);
	if (!h->more && d->last && h->off + h->plen != d->total)
		return (REASON_FRAGMENT);
	if (d->last && h->off + h->plen > d->total)
		return (REASON_FRAGMENT);
	/* a last fragment that ends before what is held already */
	for (tail = d->pieces; tail != NULL && tail->next != NULL;
	    tail = tail->next)
		;
	if (!h->more && tail != NULL && tail->end > h->off + h->plen)
		return (REASON_FRAGMENT);
	if (h->off == 0 && pkt_parse(&p, buf, len, &why) == -1)
		return (why);
	return (REASON_NONE);
}

/* Where a new piece goes: the link to put it at, or NULL on overlap
   (*dup set when it is an exact repeat). */
static struct frag_piece **
piece_slot(struct frag_dgram *d, const struct frag_hdr *h, int *dup)
{
	struct frag_piece	**pp;
	uint32_t		  end = h->off + h->plen;

	*dup = 0;
	for (pp = &d->pieces; *pp != NULL; pp = &(*pp)->next) {
		if ((*pp)->off == h->off && (*pp)->end == end) {
			*dup = 1;
			return (NULL);
		}
		if ((*pp)->end <= h->off)
			continue;
		if (end <= (*pp)->off)
			return (pp);
		return (NULL);
	}
	return (pp);
}

/*
 * d is whole: build it in fc->out.  When its checksum is not to be
 * checked, the first fragment's bytes are enough (its IP header claims
 * the whole length, as a copy cut by the queue's range would): the
 * decision reads the headers only.
 */
static void
dgram_build(struct frag_cache *fc, struct frag_dgram *d,
    struct frag_result *res)
{
	const struct frag_piece	*p, *first = d->pieces;
	size_t			 head, have, tot, len;
	uint8_t			*o = fc->out;
	uint16_t		 sum;

	head = first->payoff - (d->family == AF_INET6 ? 8 : 0);
	tot = head + d->total;
	memcpy(o, first->data, head);
	len = head;
	for (p = d->pieces; p != NULL; p = p->next) {
		have = p->len > p->payoff ? p->len - p->payoff : 0;
		if (have > p->end - p->off)
			have = p->end - p->off;
		memcpy(o + head + p->off, p->data + p->payoff, have);
		len = head + p->off + have;
		/* a cut copy sets nocsum: past the first, all are whole */
		if (d->nocsum)
			break;
	}
	if (d->family == AF_INET) {
		o[2] = (uint8_t)(tot >> 8);
		o[3] = (uint8_t)tot;
		o[6] &= IP4_DF >> 8;
		o[7] = 0;
		o[10] = o[11] = 0;
		sum = csum_fold(csum_add(0, o, head));
		o[10] = (uint8_t)(sum >> 8);
		o[11] = (uint8_t)sum;
	} else {
		/* the fragment header goes; who named it names what
		   followed it */
		o[first->prevnh] = first->data[first->payoff - 8];
		o[4] = (uint8_t)((tot - IP6_HDRLEN) >> 8);
		o[5] = (uint8_t)(tot - IP6_HDRLEN);
	}
	res->buf = o;
	res->len = d->nocsum ? len : tot;
	res->csum = !d->nocsum;
}

/* h is a fragment of d, which is alive; hold it or end d. */
static void
frag_hold(struct frag_cache *fc, struct frag_dgram *d,
    const struct frag_hdr *h, const uint8_t *buf, size_t len, uint64_t id,
    unsigned flags, struct frag_result *res)
{
	struct frag_piece	*p, **pp;
	enum reason		 why;
	size_t			 copy = len < h->claim ? len : h->claim;
	uint32_t		 share;
	int			 dup;

	if ((why = frag_check(d, h, buf, len)) != REASON_NONE) {
		dgram_kill(fc, d, why, res);
		return;
	}
	if ((pp = piece_slot(d, h, &dup)) == NULL) {
		if (dup) {
			res->status = FRAG_DROP;
			res->reason = REASON_FRAG_DUPLICATE;
			fc->st.dropped[FRAG_DROP_DUPLICATE]++;
		} else
			dgram_kill(fc, d, REASON_FRAG_OVERLAP, res);
		return;
	}
	if (d->nfrag == FRAG_MAX_FRAGS) {
		dgram_kill(fc, d, REASON_FRAG_TOO_MANY, res);
		return;
	}
	/* room: the caps, and this source's share of each */
	share = fc->cfg.max_held / FRAG_SHARE;
	if (fc->st.held + 1 > fc->cfg.max_held ||
	    fc->st.bytes + copy > fc->cfg.max_bytes ||
	    d->src->held + 1 > (share > 0 ? share : 1) ||
	    d->src->bytes + copy > fc->cfg.max_bytes / FRAG_SHARE ||
	    (p = malloc(sizeof(*p) + copy)) == NULL) {
		dgram_kill(fc, d, REASON_FRAG_FULL, res);
		return;
	}
	memset(p, 0, sizeof(*p));
	p->id = id;
	p->off = h->off;
	p->end = h->off + h->plen;
	p->payoff = (uint16_t)h->payoff;
	p->prevnh = (uint16_t)h->prevnh;
	p->len = (uint16_t)copy;
	p->whole = copy == h->claim;
	memcpy(p->data, buf, copy);
	p->next = *pp;
	*pp = p;
	d->nfrag++;
	d->bytes += (uint32_t)copy;
	d->have += h->plen;
	d->src->held++;
	d->src->bytes += (uint32_t)copy;
	fc->st.held++;
	fc->st.bytes += (uint32_t)copy;
	if (!p->whole || (flags & FRAG_F_NOCSUM))
		d->nocsum = 1;
	if (!h->more) {
		d->last = 1;
		d->total = h->off + h->plen;
	}
	res->status = FRAG_HELD;
	if (!d->last || d->have != d->total || d->pieces->off != 0)
		return;

	/* whole: no gap is left, as nothing overlaps */
	dgram_build(fc, d, res);
	fc->st.completed++;
	res->status = FRAG_WHOLE;
	res->n = 0;
	for (p = d->pieces; p != NULL; p = p->next)
		if (p->id != id)
			res->ids[res->n++] = p->id;
	(void)dgram_release(fc, d, fc->ids);
	dgram_free(fc, d);
}

void
frag_add(struct frag_cache *fc, const uint8_t *buf, size_t len, uint64_t id,
    unsigned flags, uint64_t now_ms, struct frag_result *res)
{
	struct frag_dgram	*d;
	struct frag_hdr		 h;
	uint32_t		 bucket;

	res->status = FRAG_PASS;
	res->reason = REASON_NONE;
	res->buf = NULL;
	res->len = 0;
	res->csum = 0;
	res->n = 0;
	if (!frag_header(buf, len, &h))
		return;
	fc->st.fragments++;
	if ((flags & FRAG_F_CSUM_IP) && h.family == AF_INET &&
	    csum_fold(csum_add(0, buf, h.payoff)) != 0) {
		/* a corrupt copy, not the datagram's fault */
		res->status = FRAG_DROP;
		res->reason = REASON_IP_CHECKSUM;
		fc->st.dropped[FRAG_DROP_INVALID]++;
		return;
	}
	if ((d = dgram_find(fc, &h, &bucket)) == NULL &&
	    (d = dgram_new(fc, &h, bucket, now_ms)) == NULL) {
		dgram_kill(fc, NULL, REASON_FRAG_FULL, res);
		return;
	}
	if (d->dead != REASON_NONE) {
		/* ended already: its later fragments go at once */
		dgram_kill(fc, NULL, (enum reason)d->dead, res);
		return;
	}
	frag_hold(fc, d, &h, buf, len, id, flags, res);
}

size_t
frag_expire(struct frag_cache *fc, uint64_t now_ms,
    void (*fn)(void *arg, const struct frag_expired *x), void *arg)
{
	struct frag_dgram	*d;
	const struct frag_piece	*p;
	struct frag_expired	 x;
	size_t			 n = 0;

	while ((d = fc->oldest) != NULL && (now_ms == UINT64_MAX ||
	    now_ms - d->since >= fc->cfg.timeout_ms)) {
		if (d->pieces != NULL) {
			/* audited by the lowest fragment: the first, if it
			   came, names the ports */
			x.buf = d->pieces->data;
			x.len = d->pieces->len;
			x.ids = fc->ids;
			fc->st.dropped[FRAG_DROP_TIMEOUT] += d->nfrag;
			/* the copies live until fn() has returned */
			x.n = 0;
			for (p = d->pieces; p != NULL; p = p->next)
				fc->ids[x.n++] = p->id;
			if (fn != NULL)
				fn(arg, &x);
			(void)dgram_release(fc, d, fc->ids);
		}
		dgram_free(fc, d);
		n++;
	}
	return (n);
}
