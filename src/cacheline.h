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
 */
#ifndef NFQSPI_CACHELINE_H
#define NFQSPI_CACHELINE_H

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define CACHELINE	64

/* calloc(n, size) on lines of its own; NULL and errno if none */
static inline void *
cacheline_calloc(size_t n, size_t size)
{
	void	*p;
	size_t	 len;

	if (size != 0 && n > (SIZE_MAX - CACHELINE) / size) {
		errno = ENOMEM;
		return (NULL);
	}
	len = (n * size + CACHELINE - 1) & ~(size_t)(CACHELINE - 1);
	if (len == 0)
		len = CACHELINE;
	if ((p = aligned_alloc(CACHELINE, len)) == NULL)
		return (NULL);
	memset(p, 0, len);
	return (p);
}

#endif /* NFQSPI_CACHELINE_H */
