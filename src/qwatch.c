/*
 * qwatch.c - tell when a queue gets no packet while the interfaces carry
 * traffic: the counters in, what changed out
 *
 * Copyright (C) 2026 The nfqspid authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * Pure: the daemon reads /proc/net/dev and the workers' counters and
 * logs the events (nfqspid.c); nfqspictl status shows the state.
 */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "qwatch.h"

struct qwatch {
	unsigned		 n;
	uint64_t		 idle_ms;
	uint64_t		 if_pkts;	/* at the last update */
	int			 started;	/* had an update */
	int			 quiet;		/* qwatch_quiet() */
	struct qwatch_queue	 q[];
};

struct qwatch *
qwatch_new(unsigned n, uint64_t idle_ms, uint64_t now_ms)
{
	struct qwatch	*w;
	unsigned	 i;

	if (n == 0) {
		errno = EINVAL;
		return (NULL);
	}
	if ((w = calloc(1, sizeof(*w) + n * sizeof(w->q[0]))) == NULL)
		return (NULL);
	w->n = n;
	w->idle_ms = idle_ms;
	for (i = 0; i < n; i++)
		w->q[i].rx_ms = w->q[i].win_ms = now_ms;
	return (w);
}

void
qwatch_free(struct qwatch *w)
{
	free(w);
}

void
qwatch_quiet(struct qwatch *w, int quiet)
{
	unsigned	 i;

	if (quiet && !w->quiet)
		for (i = 0; i < w->n; i++)
			w->q[i].idle = 0;
	w->quiet = quiet != 0;
}

/*
 * rx[] count from 0 at the start, as the workers' counters do; the
 * interfaces counted before we started: their first count is the
 * baseline of every window.
 */
void
qwatch_update(struct qwatch *w, const uint64_t *rx, uint64_t if_pkts,
    uint64_t now_ms, enum qwatch_event *ev)
{
	struct qwatch_queue	*q;
	unsigned		 i;

	for (i = 0; i < w->n; i++) {
		q = &w->q[i];
		ev[i] = QWATCH_NONE;
		if (!w->started)
			q->win_pkts = if_pkts;
		if (rx[i] != q->rx) {
			q->rx = rx[i];
			q->rx_ms = q->win_ms = now_ms;
			q->win_pkts = if_pkts;
			if (q->idle) {
				q->idle = 0;
				ev[i] = QWATCH_ACTIVE;
			}
			continue;
		}
		/* an interface went away with its counters */
		if (if_pkts < q->win_pkts)
			q->win_pkts = if_pkts;
		if (w->quiet) {
			q->win_ms = now_ms;
			q->win_pkts = if_pkts;
			continue;
		}
		if (w->idle_ms == 0 || now_ms - q->win_ms < w->idle_ms)
			continue;
		if (!q->idle && if_pkts - q->win_pkts >= QWATCH_MIN_PKTS) {
			q->idle = 1;
			q->idle_pkts = if_pkts - q->win_pkts;
			ev[i] = QWATCH_IDLE;
		}
		q->win_ms = now_ms;
		q->win_pkts = if_pkts;
	}
	w->if_pkts = if_pkts;
	w->started = 1;
}

const struct qwatch_queue *
qwatch_queue(const struct qwatch *w, unsigned i)
{
	return (i < w->n ? &w->q[i] : NULL);
}

uint64_t
qwatch_if_pkts(const struct qwatch *w)
{
	return (w->if_pkts);
}

uint64_t
qwatch_idle_ms(const struct qwatch *w)
{
	return (w->idle_ms);
}

/*
 * /proc/net/dev: two header lines, then "NAME: 16 counters" per
 * interface; received packets are the 2nd counter, sent the 10th.
 */
int
qwatch_netdev_pkts(const char *text, uint64_t *pkts)
{
	const char	*p = text, *colon, *nl, *name;
	uint64_t	 sum = 0, v[10];
	size_t		 namelen;
	char		*end;
	int		 line = 0, k;

	for (; *p != '\0'; p = nl + 1, line++) {
		if ((nl = strchr(p, '\n')) == NULL)
			nl = p + strlen(p);
		if (line < 2) {
			if (*nl == '\0')
				return (-1);
			continue;
		}
		if (nl == p) {
			if (*nl == '\0')
				break;
			continue;
		}
		if ((colon = memchr(p, ':', (size_t)(nl - p))) == NULL)
			return (-1);
		for (name = p; name < colon && isspace((unsigned char)*name);
		    name++)
			;
		namelen = (size_t)(colon - name);
		end = (char *)colon + 1;
		for (k = 0; k < 10; k++) {
			const char *s = end;

			errno = 0;
			v[k] = strtoull(s, &end, 10);
			if (end == s || errno != 0 || end > nl)
				return (-1);
		}
		if (!(namelen == 2 && memcmp(name, "lo", 2) == 0))
			sum += v[1] + v[9];
		if (*nl == '\0')
			break;
	}
	if (line < 2)
		return (-1);
	*pkts = sum;
	return (0);
}
