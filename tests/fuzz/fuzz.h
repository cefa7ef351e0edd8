/*
 * fuzz.h - what every libFuzzer target of tests/fuzz/ shares
 *
 * Copyright (C) 2026 The nfqspid authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#ifndef NFQSPI_FUZZ_H
#define NFQSPI_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

/* A broken invariant: say which, and abort() so that libFuzzer keeps
   the input. */
#define CHECK(c) do {							\
	if (!(c)) {							\
		fprintf(stderr, "%s:%d: invariant failed: %s\n",	\
		    __FILE__, __LINE__, #c);				\
		abort();						\
	}								\
} while (0)

#endif /* NFQSPI_FUZZ_H */
