/*
 * nfqspid.h - the daemon: prototypes grouped by the file that defines them
 *
 * Copyright (C) 2026 The nfqspid authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * The pure modules (pkt, ct, rule, config, verdict) have headers of their
 * own so tests and fuzzers can link them alone; this header is for the
 * parts that do I/O.
 */
#ifndef NFQSPID_H
#define NFQSPID_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "pkt.h"
#include "ct.h"
#include "rule.h"
#include "config.h"
#include "verdict.h"

#ifndef __dead
#define __dead		__attribute__((__noreturn__))
#endif
#define NFQSPI_PRINTF(a, b)	__attribute__((__format__(printf, a, b)))

/* log.c */
void	 log_init(int foreground, int debug, int facility);
void	 log_setfacility(int facility);
int	 log_getdebug(void);
void	 log_warn(const char *, ...) NFQSPI_PRINTF(1, 2);
void	 log_warnx(const char *, ...) NFQSPI_PRINTF(1, 2);
void	 log_info(const char *, ...) NFQSPI_PRINTF(1, 2);
void	 log_debug(const char *, ...) NFQSPI_PRINTF(1, 2);
void	 log_audit(const char *, ...) NFQSPI_PRINTF(1, 2);
__dead void fatal(const char *, ...) NFQSPI_PRINTF(1, 2);
__dead void fatalx(const char *, ...) NFQSPI_PRINTF(1, 2);

/* nq.c: one NFQUEUE, spoken to over libmnl */
struct nq;

struct nq_packet {
	uint32_t	 id;		/* packet id, for the verdict */
	const uint8_t	*data;		/* network header */
	size_t		 len;		/* bytes copied to us */
	size_t		 origlen;	/* bytes on the wire (GSO: larger) */
	uint32_t	 ifin;		/* ifindex, 0 if none */
	uint32_t	 ifout;
	uint32_t	 mark;		/* the packet's mark on arrival */
	uint64_t	 ts_ms;		/* when we read it (monotonic) */
};

struct nq_stats {
	uint64_t	 received;
	uint64_t	 verdicts;
	uint64_t	 verdict_errors;
	uint64_t	 enobufs;
	uint64_t	 bad_messages;
};

/* ... see nq.c for the rest, written with the worker */

/* worker.c: a thread with its own queue, libevent base and table */
struct worker;

struct worker_stats {
	uint64_t	 received;
	uint64_t	 accepted;
	uint64_t	 dropped;
	uint64_t	 invalid;
	uint64_t	 related;
	uint64_t	 audited;
	uint64_t	 suppressed;	/* audit records over [log] rate */
	struct nq_stats	 nq;
	struct ct_stats	 ct;
	size_t		 conns;
};

/*
 * Run fn(w, arg) in the worker's own thread, between two packets, and
 * wait until it returns.  This is how the main thread (control socket,
 * reload) reaches a worker's table without a lock on the packet path.
 * Returns 0, or -1 if the worker is not running.
 */
int	 worker_call(struct worker *w, void (*fn)(struct worker *, void *),
	    void *arg);
/* Only from inside a worker_call() function: */
struct ct_table *worker_ct(struct worker *w);
const struct config *worker_config(struct worker *w);
void	 worker_get_stats(struct worker *w, struct worker_stats *s);
unsigned worker_id(const struct worker *w);

/* replay.c */
/* Returns the exit status: 0, 1 (capture unreadable), 2 (bad usage). */
int	 replay_run(const struct config *cfg, const char *pcap, FILE *out);

#endif /* NFQSPID_H */
