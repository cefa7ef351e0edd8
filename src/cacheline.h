/*
 * cacheline.h - memory that owns whole cache lines
 *
 * Copyright (C) 2026 The nfqspid authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * The workers are made one after another by the main thread, so malloc
 * puts one worker's small objects next to another's: the end of worker
 * 0's queue handle and the start of worker 1's counters could share a
 * line, and every packet of either would take it from the other core.
 * What a worker writes on the packet path is allocated here instead:
 * aligned to a line and a whole number of lines long.  free() frees it.
 * libevent's own allocations (each worker's base, its lock, its events,
 * epoll's array) go through cacheline_malloc() and cacheline_realloc()
 * too (event_set_mem_functions()).
 */
#ifndef NFQSPI_CACHELINE_H
#define NFQSPI_CACHELINE_H

#include <errno.h>
#include <malloc.h>			/* malloc_usable_size() */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define CACHELINE	64

/* malloc(size) on lines of its own; NULL and errno if none */
static inline void *
cacheline_malloc(size_t size)
{
	size_t	 len;

	if (size > SIZE_MAX - CACHELINE) {
		errno = ENOMEM;
		return (NULL);
	}
	len = (size + CACHELINE - 1) & ~(size_t)(CACHELINE - 1);
	return (aligned_alloc(CACHELINE, len == 0 ? CACHELINE : len));
}

/* calloc(n, size) on lines of its own; NULL and errno if none */
static inline void *
cacheline_calloc(size_t n, size_t size)
{
	void	*p;

	if (size != 0 && n > (SIZE_MAX - CACHELINE) / size) {
		errno = ENOMEM;
		return (NULL);
	}
	if ((p = cacheline_malloc(n * size)) == NULL)
		return (NULL);
	memset(p, 0, n * size);
	return (p);
}

/* realloc(p, size) for what cacheline_malloc() gave: lines of its own */
static inline void *
cacheline_realloc(void *p, size_t size)
{
	void	*n;
	size_t	 have;

	if (p == NULL)
		return (cacheline_malloc(size));
	if (size == 0) {
		free(p);
		return (NULL);
	}
	if (size <= (have = malloc_usable_size(p)))
		return (p);
	if ((n = cacheline_malloc(size)) == NULL)
		return (NULL);
	memcpy(n, p, have);
	free(p);
	return (n);
}

#endif /* NFQSPI_CACHELINE_H */
