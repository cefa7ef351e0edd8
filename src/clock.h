/*
 * clock.h - the daemon's one clock
 *
 * Copyright (C) 2026 The nfqspid authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * The tables, queues, sync, status and events all read the time here,
 * so that their deadlines and ages compare.  The pure modules (libspi.a)
 * never read it: they are given now_ms, so that a replay or a test sets
 * the time.  Unit tests that link a daemon file define spi_now_ms()
 * themselves.
 */
#ifndef NFQSPI_CLOCK_H
#define NFQSPI_CLOCK_H

#include <stdint.h>

/* CLOCK_MONOTONIC in milliseconds: never goes back, not the wall time */
uint64_t	 spi_now_ms(void);

#endif /* NFQSPI_CLOCK_H */
