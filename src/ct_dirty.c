/*
 * ct_dirty.c - the connections whose TCP windows moved, for the HA peer
 *
 * Copyright (C) 2026 The nfqspid authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * A segment that passes moves its connection's windows without an event.
 * The backup must follow them, or the connection dies when it takes over
 * (pfsync sends a state again after its packets, conntrackd after its
 * timer).  With tracking on, each TCP segment that passes marks its
 * connection in a side bitmap over the slots (no byte of the entry, and
 * nothing without [sync]) and, the first time, lists its slot; the sync
 * layer takes the marks every flush, so a connection goes once per
 * flush however many segments it carried.  A slot freed and used again
 * before the take is taken as the connection it holds then.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "ct_int.h"

#define CT_DIRTY_MAX	65536	/* marks held between two takes */

int
ct_dirty_track(struct ct_table *t, int on)
{
	if (!on) {
		free(t->dirty_bits);
		free(t->dirty_list);
		t->dirty_bits = NULL;
		t->dirty_list = NULL;
		t->dirty_nwords = 0;
		t->ndirty = 0;
		return (0);
	}
	if (t->dirty_list == NULL &&
	    (t->dirty_list = calloc(CT_DIRTY_MAX, sizeof(uint32_t))) == NULL)
		return (-1);
	return (0);
}

int
ct_bits_grow(uint64_t **bits, uint32_t *nwords, uint32_t i)
{
	uint64_t	*nb;
	uint32_t	 n = *nwords ? *nwords : 1024;

	while (i / 64 >= n)
		n *= 2;
	if ((nb = realloc(*bits, (size_t)n * sizeof(*nb))) == NULL)
		return (-1);
	memset(nb + *nwords, 0, (size_t)(n - *nwords) * sizeof(*nb));
	*bits = nb;
	*nwords = n;
	return (0);
}

void
ct_dirty_mark(struct ct_table *t, const struct ct_entry *e)
{
	uint64_t	 bit;
	uint32_t	 i;

	if (t->dirty_list == NULL)
		return;
	i = t->last_e == e ? t->last_i : ct_index_of(t, e);
	if (i / 64 >= t->dirty_nwords &&
	    ct_bits_grow(&t->dirty_bits, &t->dirty_nwords, i) == -1) {
		t->stats.dirty_lost++;
		return;
	}
	bit = 1ull << (i % 64);
	if (t->dirty_bits[i / 64] & bit)
		return;
	if (t->ndirty == CT_DIRTY_MAX) {
		/* the refresh sends it in its time */
		t->stats.dirty_lost++;
		return;
	}
	t->dirty_bits[i / 64] |= bit;
	t->dirty_list[t->ndirty++] = i;
}

size_t
ct_dirty_take(struct ct_table *t, size_t max,
    void (*fn)(struct ct_table *, const struct ct_entry *, void *), void *arg)
{
	struct ct_entry	*e;
	uint32_t	 i;
	size_t		 n = 0;

	while (t->ndirty > 0 && n < max) {
		i = t->dirty_list[--t->ndirty];
		t->dirty_bits[i / 64] &= ~(1ull << (i % 64));
		e = ct_idx(t, i);
		if (!(e->status & CT_ST_USED))
			continue;	/* gone meanwhile: its DESTROY went */
		fn(t, e, arg);
		n++;
	}
	return (n);
}

size_t
ct_dirty_count(const struct ct_table *t)
{
	return (t->ndirty);
}
