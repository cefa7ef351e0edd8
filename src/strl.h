/*
 * strl.h - bounded string copy
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

#endif /* STRL_H */
