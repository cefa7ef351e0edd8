/*
 * ifcache.h - interface names by index, cached per worker
 *
 * Copyright (C) 2026 The nfqspid authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * Rules name interfaces; the queue gives indices.  Each worker keeps its
 * own small cache (nothing shared on the packet path); an entry is asked
 * again after IFCACHE_TTL_MS, so a renamed or recreated interface is
 * seen, and a miss asks the kernel at once, so an interface created
 * after start works.
 */
#ifndef NFQSPI_IFCACHE_H
#define NFQSPI_IFCACHE_H

#include <net/if.h>
#include <stdint.h>

#define IFCACHE_SIZE		64
#define IFCACHE_TTL_MS		5000

struct ifcache_slot {
	uint32_t	 index;		/* 0: empty */
	uint64_t	 when;
	char		 name[IF_NAMESIZE];
};

struct ifcache {
	struct ifcache_slot	 slot[IFCACHE_SIZE];
};

/* The miss: ask the kernel (if_indextoname()) and remember. */
const char	*ifcache_lookup(struct ifcache *c, uint32_t index,
		    uint64_t now_ms);

/* The name of interface index, "" if none (or gone). */
static inline const char *
ifcache_name(struct ifcache *c, uint32_t index, uint64_t now_ms)
{
	struct ifcache_slot	*e = &c->slot[index % IFCACHE_SIZE];

	if (index == 0)
		return ("");
	/* the hit stays inline: it is twice on every packet */
	if (e->index == index && now_ms - e->when < IFCACHE_TTL_MS)
		return (e->name);
	return (ifcache_lookup(c, index, now_ms));
}

#endif /* NFQSPI_IFCACHE_H */
