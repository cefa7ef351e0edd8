/*
 * ifcache.c - interface names by index, cached per worker (ifcache.h)
 *
 * Copyright (C) 2026 The nfqspid authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include <errno.h>
#include <string.h>

#include "nfqspid.h"
#include "ifcache.h"

const char *
ifcache_lookup(struct ifcache *c, uint32_t index, uint64_t now_ms)
{
	struct ifcache_slot	*e = &c->slot[index % IFCACHE_SIZE];

	if (if_indextoname(index, e->name) == NULL) {
		/* gone already: no rule can name it; do not cache */
		log_debug("%s: ifindex %u: %s", __func__, index,
		    strerror(errno));
		e->index = 0;
		e->name[0] = '\0';
		return (e->name);
	}
	e->index = index;
	e->when = now_ms;
	return (e->name);
}
