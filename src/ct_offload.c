/*
 * ct_offload.c - which connections the kernel's fast path carries
 *
 * Copyright (C) 2026 The nfqspid authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * struct ct_entry has no free status bit and must stay 120 bytes, so the
 * mark lives beside the arena: one bitmap of CT_CHUNK_SIZE bits (8 KB)
 * per chunk, made when the first entry of that chunk is offloaded.  With
 * [daemon] fastpath = no nothing is ever made, and the packet path pays
 * one test of noff.  A second bitmap, made the same way, marks what the
 * kernel's table did not take (ct_refuse()).
 *
 * The bytes of each connection (ct_keep_bytes()) are kept beside the
 * arena the same way, with [daemon] fastpath = yes only, so that an
 * offloaded connection shows the kernel's bytes added to ours.
 */
#include <sys/types.h>
#include <netinet/in.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "ct_int.h"

#define CT_OFF_WORDS	(CT_CHUNK_SIZE / 64)

static uint64_t *
ct_bit_word(uint64_t *const *arr, uint32_t cap, uint32_t i)
{
	uint32_t	 c = i >> CT_CHUNK_SHIFT;

	if (c >= cap || arr[c] == NULL)
		return (NULL);
	return (&arr[c][(i & CT_CHUNK_MASK) / 64]);
}

static int
ct_bit_test(uint64_t *const *arr, uint32_t cap, uint32_t i)
{
	const uint64_t	*w;

	if ((w = ct_bit_word(arr, cap, i)) == NULL)
		return (0);
	return ((*w >> (i % 64)) & 1);
}

/* Clear bit i of a bitmap that counts its set bits in *n. */
static void
ct_bit_forget(uint64_t *const *arr, uint32_t cap, size_t *n, uint32_t i)
{
	uint64_t	*w;

	if (*n == 0 || (w = ct_bit_word(arr, cap, i)) == NULL ||
	    !((*w >> (i % 64)) & 1))
		return;
	*w &= ~(1ull << (i % 64));
	(*n)--;
}

static void
ct_bit_clear(uint64_t *const *arr, uint32_t cap, size_t *n)
{
	uint32_t	 c;

	if (*n == 0)
		return;
	for (c = 0; c < cap; c++)
		if (arr[c] != NULL)
			memset(arr[c], 0, CT_OFF_WORDS * sizeof(uint64_t));
	*n = 0;
}

/*
 * Chunk c's part of a side array (*arr, *cap pointers, one a chunk):
 * n words, zeroed when made; NULL if it cannot be made.
 */
static uint64_t *
ct_side_chunk(const struct ct_table *t, uint64_t ***arr, uint32_t *cap,
    uint32_t c, size_t n)
{
	uint64_t	**na;
	uint32_t	  ncap;

	if (c >= *cap) {
		ncap = t->chunk_cap > c ? t->chunk_cap : c + 1;
		if ((na = reallocarray(*arr, ncap, sizeof(*na))) == NULL)
			return (NULL);
		memset(na + *cap, 0, (ncap - *cap) * sizeof(*na));
		*arr = na;
		*cap = ncap;
	}
	if ((*arr)[c] == NULL)
		(*arr)[c] = calloc(n, sizeof(uint64_t));
	return ((*arr)[c]);
}

/* Set bit i of a bitmap (*arr, *cap) that counts its set bits in *n,
   its chunk made if need be: 1 if it was clear, 0 if it was set, -1 and
   ENOMEM. */
static int
ct_bit_set(struct ct_table *t, uint64_t ***arr, uint32_t *cap, size_t *n,
    uint32_t i)
{
	uint64_t	*w, bit = 1ull << (i % 64);

	if ((w = ct_side_chunk(t, arr, cap, i >> CT_CHUNK_SHIFT,
	    CT_OFF_WORDS)) == NULL) {
		errno = ENOMEM;
		return (-1);
	}
	w += (i & CT_CHUNK_MASK) / 64;
	if (*w & bit)
		return (0);
	*w |= bit;
	(*n)++;
	return (1);
}

/* Entry i leaves the table: neither offloaded nor refused any more. */
void
ct_off_forget(struct ct_table *t, uint32_t i)
{
	ct_bit_forget(t->off, t->off_cap, &t->noff, i);
	ct_bit_forget(t->ref, t->ref_cap, &t->nref, i);
}

void
ct_off_clear(struct ct_table *t)
{
	ct_bit_clear(t->off, t->off_cap, &t->noff);
	ct_bit_clear(t->ref, t->ref_cap, &t->nref);
}

int
ct_offloadable(const struct ct_entry *e)
{
	if (!(e->status & CT_ST_USED))
		return (0);
	switch (e->proto) {
	case IPPROTO_TCP:
		return (e->state == CT_TCP_ESTABLISHED);
	case IPPROTO_UDP:
		return ((e->status & CT_ST_SEEN_REPLY) != 0);
	default:
		return (0);
	}
}

int
ct_offloaded(const struct ct_table *t, const struct ct_entry *e)
{
	if (t->noff == 0 || !(e->status & CT_ST_USED))
		return (0);
	return (ct_bit_test(t->off, t->off_cap, ct_index_of(t, e)));
}

int
ct_set_offloaded(struct ct_table *t, struct ct_entry *e, int on)
{
	uint32_t	 i;
	int		 rc;

	if (!(e->status & CT_ST_USED))
		return (0);
	i = ct_index_of(t, e);
	if (!on) {
		ct_bit_forget(t->off, t->off_cap, &t->noff, i);
		return (0);
	}
	if ((rc = ct_bit_set(t, &t->off, &t->off_cap, &t->noff, i)) != 1)
		return (rc);
	if (e->proto == IPPROTO_TCP) {
		/* as nft_flow_offload does: we no longer see its segments */
		e->tcp.flags[0] |= CT_TD_LIBERAL;
		e->tcp.flags[1] |= CT_TD_LIBERAL;
	}
	return (0);
}

void
ct_offload_clear(struct ct_table *t)
{
	ct_off_clear(t);
}

int
ct_offload_refused(const struct ct_table *t, const struct ct_entry *e)
{
	if (t->nref == 0 || !(e->status & CT_ST_USED))
		return (0);
	return (ct_bit_test(t->ref, t->ref_cap, ct_index_of(t, e)));
}

int
ct_refuse(struct ct_table *t, const struct ct_tuple *k, uint64_t now_ms)
{
	struct ct_entry	*e;
	uint32_t	 i;
	uint8_t		 dir;

	ct_clock(t, now_ms);
	if ((e = ct_find(t, k, 0, &dir)) == NULL || !ct_offloaded(t, e)) {
		errno = ENOENT;
		return (-1);
	}
	i = ct_index_of(t, e);
	if (ct_bit_set(t, &t->ref, &t->ref_cap, &t->nref, i) == -1)
		return (-1);
	ct_bit_forget(t->off, t->off_cap, &t->noff, i);
	return (0);
}

size_t
ct_offload_count(const struct ct_table *t)
{
	return (t->noff);
}

int
ct_credit(struct ct_table *t, const struct ct_tuple *k, uint32_t packets,
    uint64_t bytes, uint64_t now_ms)
{
	struct ct_entry	*e;
	uint8_t		 dir, status;

	ct_clock(t, now_ms);
	if ((e = ct_find(t, k, 0, &dir)) == NULL) {
		errno = ENOENT;
		return (-1);
	}
	t->ev_e = NULL;		/* no packet of ours: no UPDATE to tell */
	e->packets = UINT32_MAX - e->packets < packets ? UINT32_MAX :
	    e->packets + packets;
	if (t->keep_bytes)
		ct_bytes_add(t, ct_index_of(t, e), bytes);
	if (e->proto == IPPROTO_UDP && packets != 0) {
		/* as one packet now: it may make the flow a stream */
		status = e->status;
		ct_udp_seen(t, e);
		if (t->evfn != NULL && e->status != status)
			t->evfn(CT_EVENT_UPDATE, e, t->evarg);
	} else
		ct_refresh(t, e, e->tclass);
	return (0);
}

/* ---- bytes per connection ---------------------------------------------- */

void
ct_keep_bytes(struct ct_table *t)
{
	t->keep_bytes = 1;
	t->fresh |= CT_FRESH_BYTES;
}

void
ct_bytes_new(struct ct_table *t, uint32_t i)
{
	uint64_t	*b;

	/* none made: this chunk's connections show 0 */
	if ((b = ct_side_chunk(t, &t->bytes, &t->bytes_cap,
	    i >> CT_CHUNK_SHIFT, CT_CHUNK_SIZE)) != NULL)
		b[i & CT_CHUNK_MASK] = 0;
}

int
ct_entry_bytes(const struct ct_table *t, const struct ct_entry *e,
    uint64_t *bytes)
{
	uint32_t	 i, c;

	if (t == NULL || !t->keep_bytes) {
		errno = ENOENT;
		return (-1);
	}
	*bytes = 0;
	i = ct_index_of(t, e);
	c = i >> CT_CHUNK_SHIFT;
	if (c < t->bytes_cap && t->bytes[c] != NULL)
		*bytes = t->bytes[c][i & CT_CHUNK_MASK];
	return (0);
}
