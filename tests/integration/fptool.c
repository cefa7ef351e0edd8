/*
 * fptool.c - drive src/fastpath.c by hand, for test_fastpath.sh
 *
 * Copyright (C) 2026 The nfqspid authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 *   fptool QUEUE TCP_TIMEOUT UDP_TIMEOUT MAX
 *
 * opens the fast path of QUEUE, then runs one command a line from stdin
 * and answers each with "ok" or "error: ..." (counters: a line a
 * connection first, then "ok N"; add: "ok N", N of them went in):
 *
 *   add tcp|udp SRC SPORT DST DPORT MARK [COUNT]   COUNT connections in
 *                      one call, source ports SPORT, SPORT+1, ...; a
 *                      MARK that ends in "+": marks MARK, MARK+1, ...
 *   del tcp|udp SRC SPORT DST DPORT MARK [COUNT]  (the mark it went
 *                      in with)
 *   flush
 *   grow MAX           fastpath_grow(): a new table, maps for MAX
 *   counters
 *   close              fastpath_close(), then exit
 *
 * At the end of its input it exits without closing: the table stays, as
 * a killed daemon's would.
 */
#include <sys/socket.h>
#include <arpa/inet.h>
#include <netinet/in.h>

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fastpath.h"

#define MAXCONNS	100000

static struct fp_conn	 conns[MAXCONNS];
static uint8_t		 in[MAXCONNS];	/* fastpath_add()'s answers */

/* how many of the last add's n went in */
static size_t
count_in(size_t n)
{
	size_t	 i, k = 0;

	for (i = 0; i < n; i++)
		k += in[i] == FP_ADD_IN;
	return (k);
}

static int
parse_conns(char **w, int nw, size_t *n)
{
	struct fp_conn	 c;
	unsigned long	 count = 1, i, mark;
	char		*end;
	int		 need = 7, step;

	if (nw < need || nw > need + 1)
		return (-1);
	memset(&c, 0, sizeof(c));
	if (strcmp(w[1], "tcp") == 0)
		c.proto = IPPROTO_TCP;
	else if (strcmp(w[1], "udp") == 0)
		c.proto = IPPROTO_UDP;
	else
		return (-1);
	c.family = strchr(w[2], ':') != NULL ? AF_INET6 : AF_INET;
	if (inet_pton(c.family, w[2], c.src.a8) != 1 ||
	    inet_pton(c.family, w[4], c.dst.a8) != 1)
		return (-1);
	c.sport = (uint16_t)strtoul(w[3], NULL, 10);
	c.dport = (uint16_t)strtoul(w[5], NULL, 10);
	mark = strtoul(w[6], &end, 0);
	step = strcmp(end, "+") == 0;
	c.mark = (uint32_t)mark;
	if (nw == need + 1)
		count = strtoul(w[need], NULL, 10);
	if (count < 1 || count > MAXCONNS)
		return (-1);
	for (i = 0; i < count; i++) {
		conns[i] = c;
		conns[i].sport = (uint16_t)(c.sport + i);
		if (step)
			conns[i].mark = (uint32_t)(mark + i);
	}
	*n = count;
	return (0);
}

/* every connection is ours: none is a stray */
static int
print_conn(const struct fp_conn *c, const struct fp_counts *n, void *arg)
{
	char	 s[INET6_ADDRSTRLEN], d[INET6_ADDRSTRLEN];

	inet_ntop(c->family, c->src.a8, s, sizeof(s));
	inet_ntop(c->family, c->dst.a8, d, sizeof(d));
	printf("%s %s %u %s %u pkts=%" PRIu64 " bytes=%" PRIu64
	    " expires_ms=%" PRIu32 "\n",
	    c->proto == IPPROTO_TCP ? "tcp" : "udp", s, c->sport, d, c->dport,
	    n->pkts, n->bytes, n->expires_ms);
	(*(size_t *)arg)++;
	return (0);
}

int
main(int argc, char *argv[])
{
	struct fp_params	 p;
	struct fastpath		*fp;
	char			 line[512], *w[10], *save;
	size_t			 n;
	int			 nw, rc;

	if (argc != 5) {
		fprintf(stderr, "usage: fptool QUEUE TCP_TIMEOUT UDP_TIMEOUT "
		    "MAX\n");
		return (2);
	}
	memset(&p, 0, sizeof(p));
	p.queue = (uint16_t)strtoul(argv[1], NULL, 10);
	p.tcp_timeout_s = (uint32_t)strtoul(argv[2], NULL, 10);
	p.udp_timeout_s = (uint32_t)strtoul(argv[3], NULL, 10);
	p.max = (uint32_t)strtoul(argv[4], NULL, 10);
	setvbuf(stdout, NULL, _IOLBF, 0);
	if ((fp = fastpath_open(&p)) == NULL) {
		printf("error: open: %s\n", strerror(errno));
		return (1);
	}
	printf("ok open\n");
	while (fgets(line, sizeof(line), stdin) != NULL) {
		nw = 0;
		for (w[nw] = strtok_r(line, " \t\n", &save); w[nw] != NULL &&
		    nw < 9; w[nw] = strtok_r(NULL, " \t\n", &save))
			nw++;
		if (nw == 0)
			continue;
		n = 0;
		if (strcmp(w[0], "add") == 0 || strcmp(w[0], "del") == 0) {
			if (parse_conns(w, nw, &n) == -1) {
				printf("error: usage\n");
				continue;
			}
			rc = w[0][0] == 'a' ? fastpath_add(fp, conns, n, in) :
			    fastpath_del(fp, conns, n);
		} else if (strcmp(w[0], "flush") == 0)
			rc = fastpath_flush(fp);
		else if (strcmp(w[0], "grow") == 0 && nw == 2)
			rc = fastpath_grow(fp, (uint32_t)strtoul(w[1], NULL,
			    10));
		else if (strcmp(w[0], "counters") == 0)
			rc = fastpath_counters(fp, print_conn, &n);
		else if (strcmp(w[0], "close") == 0) {
			fastpath_close(fp);
			printf("ok close\n");
			return (0);
		} else {
			printf("error: unknown command %s\n", w[0]);
			continue;
		}
		if (rc == -1)
			printf("error: %s: %s\n", w[0], strerror(errno));
		else if (w[0][0] == 'a')
			printf("ok %zu\n", count_in(n));
		else
			printf("ok %zu\n", n);
	}
	return (0);
}
