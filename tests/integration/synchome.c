/*
 * synchome.c - the home worker of connections, for test_sync_mt.sh
 *
 * Copyright (C) 2026 The nfqspid authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 *   synchome N tcp|udp SRC DST DPORT SPORT...
 *
 * prints "SPORT HOME" a line for each SPORT: the worker, of N, where a
 * node keeps the peer's record of the connection SRC:SPORT -> DST:DPORT
 * (synclink_home(), the daemon's own), so that the test can send each
 * flow's packets to a worker that is not its home and know that it
 * must be adopted.  Exits 1 on bad arguments.
 */
#include <sys/socket.h>
#include <arpa/inet.h>
#include <netinet/in.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "synclink.h"

static int
port(const char *s, uint16_t *p)
{
	char		*end;
	unsigned long	 v = strtoul(s, &end, 10);

	if (*s == '\0' || *end != '\0' || v == 0 || v > 65535)
		return (-1);
	*p = (uint16_t)v;
	return (0);
}

static int
address(const char *s, struct ct_tuple *k, union pkt_addr *a)
{
	uint8_t		 family = strchr(s, ':') != NULL ? AF_INET6 : AF_INET;

	if (k->family != 0 && k->family != family)
		return (-1);
	k->family = family;
	return (inet_pton(family, s, a) == 1 ? 0 : -1);
}

int
main(int argc, char *argv[])
{
	struct ct_tuple	 k;
	unsigned long	 n;
	char		*end;
	int		 i;

	memset(&k, 0, sizeof(k));
	if (argc < 7)
		goto usage;
	n = strtoul(argv[1], &end, 10);
	if (*end != '\0' || n < 1 || n > 1024)
		goto usage;
	if (strcmp(argv[2], "tcp") == 0)
		k.proto = IPPROTO_TCP;
	else if (strcmp(argv[2], "udp") == 0)
		k.proto = IPPROTO_UDP;
	else
		goto usage;
	if (address(argv[3], &k, &k.src) == -1 ||
	    address(argv[4], &k, &k.dst) == -1 || port(argv[5], &k.dport) == -1)
		goto usage;
	for (i = 6; i < argc; i++) {
		if (port(argv[i], &k.sport) == -1)
			goto usage;
		printf("%u %u\n", k.sport, synclink_home(&k, (unsigned)n));
	}
	return (0);
usage:
	fprintf(stderr, "usage: synchome N tcp|udp SRC DST DPORT SPORT...\n");
	return (1);
}
