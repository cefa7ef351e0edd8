/*
 * qwatch.h - "no packet on a queue while the interfaces carry traffic":
 * the decision, from counters; no I/O
 *
 * Copyright (C) 2026 The nfqspid authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * Whatever diverts to our queues (nfqspid itself, an operator's rules or
 * nobody), a queue that has seen nothing for [daemon] idle_warn seconds
 * while the interfaces (loopback aside) moved packets means traffic goes
 * around the firewall: the diversion is missing, flushed or wrong.  The
 * daemon feeds the counters every few seconds and logs what changes.
 */
#ifndef NFQSPI_QWATCH_H
#define NFQSPI_QWATCH_H

#include <stddef.h>
#include <stdint.h>

/* Interface packets (in + out, loopback aside) that count as traffic
   within one idle window: a few ARP frames do not. */
#define QWATCH_MIN_PKTS	32

struct qwatch;

/* What changed for one queue at a qwatch_update(). */
enum qwatch_event {
	QWATCH_NONE = 0,
	QWATCH_IDLE,		/* no packet for idle_ms, the interfaces busy */
	QWATCH_ACTIVE		/* packets again after QWATCH_IDLE */
};

/*
 * Traffic is judged over windows of idle_ms: the first starts at the
 * queue's last packet, the next where the last ended.
 */
struct qwatch_queue {
	uint64_t	 rx;		/* the queue's packets at the last update */
	uint64_t	 rx_ms;		/* when rx last grew (or the start) */
	uint64_t	 win_ms;	/* the window's start */
	uint64_t	 win_pkts;	/* interface packets at win_ms */
	uint64_t	 idle_pkts;	/* interface packets in the window that
					   made it idle */
	uint8_t		 idle;		/* QWATCH_IDLE said, no packet since */
};

/* n queues; idle_ms 0: never idle.  NULL and errno on failure. */
struct qwatch	*qwatch_new(unsigned n, uint64_t idle_ms, uint64_t now_ms);
void		 qwatch_free(struct qwatch *w);
/*
 * quiet 1: no traffic is meant to reach the queues (an HA backup, whose
 * peer takes it): none is idle, a warning said is taken back without an
 * event, and each window starts again at every update, so that a node
 * made master gets a whole idle_ms before it is warned.  0 (the start):
 * traffic is meant to come.
 */
void		 qwatch_quiet(struct qwatch *w, int quiet);
/*
 * The counters now: rx[i] packets queue i received so far, if_pkts the
 * interfaces' packets so far.  ev[i] says what changed for queue i.
 */
void	 qwatch_update(struct qwatch *w, const uint64_t *rx, uint64_t if_pkts,
	    uint64_t now_ms, enum qwatch_event *ev);
/* Queue i's state (NULL if i is out of range), and the interfaces'. */
const struct qwatch_queue *qwatch_queue(const struct qwatch *w, unsigned i);
uint64_t qwatch_if_pkts(const struct qwatch *w);
uint64_t qwatch_idle_ms(const struct qwatch *w);

/*
 * The packets received plus sent by every interface but lo in text, the
 * contents of /proc/net/dev.  0 and *pkts, or -1 if text is not that
 * format.
 */
int	 qwatch_netdev_pkts(const char *text, uint64_t *pkts);

#endif /* NFQSPI_QWATCH_H */
