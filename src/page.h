/*
 * page.h - the status page's files, compiled in: src/page.html,
 * src/page.css and src/page.js become page_data.c at build time
 * (Makefile.am), so the page is edited, linted and diffed as the files
 * it is, and nfqspid needs nothing on disk to serve it.
 *
 * Copyright (C) 2026 The nfqspid authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#ifndef NFQSPI_PAGE_H
#define NFQSPI_PAGE_H

#include <stddef.h>

struct page_file {
	const char		*path;		/* "/", "/page.js", ... */
	const char		*type;		/* Content-Type */
	const unsigned char	*data;
	size_t			 len;
};

/* Ends with a NULL path. */
extern const struct page_file page_files[];

#endif /* NFQSPI_PAGE_H */
