/*
 * strl.h - bounded string copy, and a text written piece by piece into
 * a bounded buffer
 *
 * Copyright (C) 2026 The nfqspid authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * glibc before 2.38 has no strlcpy(3), and a copy of our own under that
 * name would clash with the one a newer libc or libbsd declares.
 */
#ifndef STRL_H
#define STRL_H

#include <stddef.h>

/*
 * Copy src into dst of size bytes, truncating, and NUL-terminate dst
 * when size > 0.  Returns strlen(src), as strlcpy(3) does: the copy was
 * whole iff the result is < size.
 */
size_t	 spi_strlcpy(char *dst, const char *src, size_t size);

/*
 * A text written into buf (len bytes) by several spi_bprintf() calls, as
 * one snprintf() would: off is the length of the whole text, buf holds
 * what fits, NUL-terminated when len > 0 (from spi_buf_init() on), and a
 * caller whose buffer was short can write again into a larger one.
 */
struct spi_buf {
	char	*buf;
	size_t	 len;
	size_t	 off;
};
void	 spi_buf_init(struct spi_buf *b, char *buf, size_t len);
void	 spi_bprintf(struct spi_buf *b, const char *fmt, ...)
	    __attribute__((__format__(printf, 2, 3)));

/*
 * snprintf() at *off into buf (len bytes) and move *off past it; -1,
 * leaving *off, once it does not fit: for texts that must be whole.
 */
int	 spi_text_add(char *buf, size_t len, size_t *off, const char *fmt,
	    ...) __attribute__((__format__(printf, 4, 5)));

#endif /* STRL_H */
