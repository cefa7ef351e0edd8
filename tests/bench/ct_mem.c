/*
 * ct_mem.c - memory and speed of the connection table at scale
 *
 * Copyright (C) 2026 The nfqspid authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * Confirms N distinct flows (default 1,000,000; UDP, or TCP SYNs with -t)
 * in a table of max N and prints the resident memory they cost, table
 * overhead included, as bytes per connection, then the cost of a lookup.
 * With -e, N more flows follow into the full table: the cost of eviction.
 * With -b, the table keeps each connection's bytes, as with [daemon]
 * fastpath = yes (ct_keep_bytes()).
 *
 *   cc -O2 -Isrc tests/bench/ct_mem.c src/ct*.c src/reason.c -o ct_mem
 *   ./ct_mem [-bet] [N]
 */
#include <sys/socket.h>
#include <netinet/in.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ct.h"

static long
rss_bytes(void)
{
	FILE	*f;
	long	 pages = 0, rss = 0;

	if ((f = fopen("/proc/self/statm", "r")) == NULL)
		return (-1);
	if (fscanf(f, "%ld %ld", &pages, &rss) != 2)
		rss = -1;
	fclose(f);
	return (rss < 0 ? -1 : rss * sysconf(_SC_PAGESIZE));
}

static double
secs(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (ts.tv_sec + ts.tv_nsec / 1e9);
}

/* flow i: 10.x.y.z:port -> 192.0.2.1:53 (or :443 for TCP) */
static void
flow(struct pkt *p, uint32_t i, int tcp)
{
	memset(p, 0, sizeof(*p));
	p->family = AF_INET;
	p->proto = tcp ? IPPROTO_TCP : IPPROTO_UDP;
	p->src.a8[0] = 10;
	p->src.a8[1] = (uint8_t)(i >> 24);
	p->src.a8[2] = (uint8_t)(i >> 16);
	p->src.a8[3] = (uint8_t)(i >> 8);
	p->sport = (uint16_t)(1024 + (i & 0xff));
	p->dst.a8[0] = 192;
	p->dst.a8[1] = 0;
	p->dst.a8[2] = 2;
	p->dst.a8[3] = 1;
	p->dport = tcp ? 443 : 53;
	p->th_flags = PKT_TH_SYN;
	p->seq = i * 2654435761u;
	p->win = 64240;
	p->wscale = 7;
	p->sack_perm = 1;
	p->paylen = tcp ? 0 : 32;
}

int
main(int argc, char *argv[])
{
	struct ct_config	 c;
	struct ct_table		*t;
	struct ct_result	 res;
	struct pkt		 p;
	long			 before, after;
	double			 t0, t1, t2;
	uint32_t		 i, n = 1000000;
	int			 tcp = 0, evict = 0, bytes = 0, ch;

	while ((ch = getopt(argc, argv, "bet")) != -1) {
		switch (ch) {
		case 'b':
			bytes = 1;
			break;
		case 'e':
			evict = 1;
			break;
		case 't':
			tcp = 1;
			break;
		default:
			fprintf(stderr, "usage: ct_mem [-bet] [connections]\n");
			return (2);
		}
	}
	if (optind < argc)
		n = (uint32_t)strtoul(argv[optind], NULL, 10);
	if (n == 0)
		return (2);

	before = rss_bytes();
	ct_config_defaults(&c);
	c.max = n;
	if ((t = ct_new(&c)) == NULL) {
		perror("ct_new");
		return (1);
	}
	if (bytes)
		ct_keep_bytes(t);
	t0 = secs();
	for (i = 0; i < n; i++) {
		flow(&p, i, tcp);
		ct_track(t, &p, 1000, &res);
		if (res.state != CT_NEW || res.entry != NULL ||
		    ct_confirm(t, &p, 1000, 0, 0, &res) != 0) {
			fprintf(stderr, "flow %u not created\n", i);
			return (1);
		}
	}
	t1 = secs();
	after = rss_bytes();
	for (i = 0; i < n; i++) {
		flow(&p, i, tcp);
		ct_track(t, &p, 2000, &res);
		if (res.entry == NULL) {
			fprintf(stderr, "flow %u not found\n", i);
			return (1);
		}
	}
	t2 = secs();
	printf("%s connections: %zu\n", tcp ? "tcp" : "udp", ct_count(t));
	printf("rss delta: %ld bytes, %.1f bytes per connection\n",
	    after - before, (double)(after - before) / n);
	printf("insert: %.0f ns, lookup: %.0f ns per packet\n",
	    (t1 - t0) * 1e9 / n, (t2 - t1) * 1e9 / n);
	if (evict) {
		struct ct_stats	 st;

		t0 = secs();
		for (i = 0; i < n; i++) {
			flow(&p, n + i, tcp);
			if (ct_confirm(t, &p, 3000, 0, 0, &res) != 0) {
				fprintf(stderr, "flow %u not created\n", n + i);
				return (1);
			}
		}
		t1 = secs();
		ct_get_stats(t, &st);
		printf("insert into a full table: %.0f ns, early drops %llu\n",
		    (t1 - t0) * 1e9 / n, (unsigned long long)st.early_drop);
	}
	ct_free(t);
	return (0);
}
