/*
 * sync.c - benchmark: connection changes through the sync codec and the
 * reliable stream, one core, no network
 *
 * Copyright (C) 2026 The nfqspid authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * The master's side of a change: ct_export() of a TCP connection with
 * scaled windows, sync_msg_add_conn() with its rule's name into a 1400-
 * byte datagram, sync_seq_seal() (HMAC-SHA256) when it is full.  The
 * backup's side: sync_seq_input() (size checks, HMAC, replay window,
 * sequence), every record read and ct_import()ed into a strict table.
 * Optionally (-s) each datagram also goes through sendto() on loopback,
 * the one system call per datagram a daemon sending them adds.  The target of
 * issue 14 is >= 100,000 changes a second.
 *
 *   tests/bench/sync [-n conns] [-r rounds] [-s]
 */
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <err.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ct.h"
#include "syncseq.h"

#define MTU	1400

/* the thread's CPU time, user and system: what the work costs, however
   busy the machine is with others */
static double
secs(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return ((double)ts.tv_sec + ts.tv_nsec / 1e9);
}

static struct ct_table *
table(uint32_t max, int loose)
{
	struct ct_config	 c;
	struct ct_table		*t;

	ct_config_defaults(&c);
	c.max = max;
	c.tcp_loose = (uint8_t)loose;
	if ((t = ct_new(&c)) == NULL)
		err(1, "ct_new");
	return (t);
}

/* n established TCP connections with scaled windows, by import */
static struct ct_entry **
fill(struct ct_table *t, uint32_t n, uint64_t now)
{
	struct ct_entry	**e;
	struct ct_snap	 s;
	uint32_t	 i;

	if ((e = calloc(n, sizeof(*e))) == NULL)
		err(1, "calloc");
	memset(&s, 0, sizeof(s));
	s.k.family = AF_INET;
	s.k.proto = IPPROTO_TCP;
	s.state = 3;
	s.flags = CT_SNAP_SEEN_REPLY | CT_SNAP_ASSURED;
	s.tclass = CT_TO_TCP_ESTABLISHED;
	s.left_ms = 432000000;
	s.tcp.scale[0] = 7;
	s.tcp.scale[1] = 9;
	s.tcp.maxwin[0] = s.tcp.maxwin[1] = 8 << 20;
	for (i = 0; i < n; i++) {
		s.k.src.a32[0] = htonl(0x0a000000u | (i >> 8));
		s.k.dst.a32[0] = htonl(0xc0000200u | (i & 0xff));
		s.k.sport = (uint16_t)(1024 + i % 60000);
		s.k.dport = 443;
		s.tcp.end[0] = i * 7919u;
		s.tcp.maxend[0] = s.tcp.end[0] + (8 << 20);
		s.mark = i;
		if ((e[i] = ct_import(t, &s, now, NULL)) == NULL)
			err(1, "ct_import");
	}
	return (e);
}

#define CHUNK	1024		/* datagrams a phase: fewer than the ring */

struct bench {
	struct ct_table	*a, *b;
	struct ct_entry	**e;
	uint32_t	 n;
	struct sync_seq	*sa, *sb;
	int		 fd;		/* -1: no sendto() */
	int		 rfd;
	struct sockaddr_in to;
	uint8_t		*dg[CHUNK];	/* sealed, in sa's ring */
	size_t		 dglen[CHUNK];
	uint64_t	 changes, msgs, now;
	double		 tenc, tsend, tdec;
};

/* The master: changes from *pos on into at most CHUNK datagrams. */
static size_t
encode(struct bench *b, uint32_t *pos)
{
	struct sync_msg	 m;
	struct ct_snap	 s;
	uint8_t		*buf;
	size_t		 cap, nd = 0;
	double		 t0 = secs();

	while (*pos < b->n && nd < CHUNK) {
		buf = sync_seq_buf(b->sa, &cap);
		if (sync_msg_init(&m, buf, cap, SYNC_T_UPDATE) == -1)
			err(1, "sync_msg_init");
		for (; *pos < b->n; (*pos)++) {
			ct_export(b->a, b->e[*pos], &s);
			if (sync_msg_add_conn(&m, &s, "https-in") == -1)
				break;
		}
		b->changes += m.count;
		b->dglen[nd] = sync_seq_seal(b->sa, &m);
		b->dg[nd++] = buf;
	}
	b->tenc += secs() - t0;
	return (nd);
}

/*
 * A socket bound on loopback that nobody reads, and one to send to it:
 * the kernel's cost of sending a datagram, which its full buffer then
 * drops (a port with no socket would cost an ICMP error each).
 */
static void
sink_open(struct bench *b)
{
	socklen_t	 sl = sizeof(b->to);

	if ((b->rfd = socket(AF_INET, SOCK_DGRAM, 0)) == -1 ||
	    (b->fd = socket(AF_INET, SOCK_DGRAM, 0)) == -1)
		err(1, "socket");
	b->to.sin_family = AF_INET;
	b->to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(b->rfd, (struct sockaddr *)&b->to, sizeof(b->to)) == -1 ||
	    getsockname(b->rfd, (struct sockaddr *)&b->to, &sl) == -1)
		err(1, "bind");
}

static void
xmit(struct bench *b, size_t nd)
{
	double		 t0 = secs();
	size_t		 i;

	for (i = 0; i < nd; i++)
		(void)sendto(b->fd, b->dg[i], b->dglen[i], 0,
		    (struct sockaddr *)&b->to, sizeof(b->to));
	b->tsend += secs() - t0;
}

/* The backup: every datagram checked, read and imported. */
static void
decode(struct bench *b, size_t nd)
{
	struct sync_hdr	 h;
	struct sync_iter it;
	struct sync_rec	 r;
	double		 t0 = secs();
	size_t		 i;
	int		 fl, er;

	for (i = 0; i < nd; i++) {
		fl = sync_seq_input(b->sb, b->dg[i], b->dglen[i], b->now, &h,
		    &er);
		if (!(fl & SYNC_IN_APPLY))
			errx(1, "datagram %zu not applied (%s)", i,
			    fl == -1 ? sync_err_name(er) : "out of order");
		sync_iter_init(&it, b->dg[i], &h);
		while (sync_iter_rec(&it, &r))
			if (ct_import(b->b, &r.s, b->now, NULL) == NULL)
				err(1, "ct_import");
	}
	b->tdec += secs() - t0;
	b->msgs += nd;
}

static void
report(const struct bench *b, uint32_t rounds)
{
	double	 all = b->tenc + b->tsend + b->tdec;

	printf("sync: %u TCP connections x %u rounds = %ju changes in %ju "
	    "datagrams of <= %d bytes (%.1f a datagram)\n", b->n, rounds,
	    (uintmax_t)b->changes, (uintmax_t)b->msgs, MTU,
	    (double)b->changes / b->msgs);
	printf("  master: export, encode, HMAC    %9.0f changes/s  "
	    "(%4.0f ns a change)\n", b->changes / b->tenc,
	    b->tenc * 1e9 / b->changes);
	if (b->fd != -1)
		printf("  master: sendto() on loopback    %9.0f changes/s  "
		    "(%4.0f ns a change, %.0f ns a datagram)\n",
		    b->changes / b->tsend, b->tsend * 1e9 / b->changes,
		    b->tsend * 1e9 / b->msgs);
	printf("  backup: HMAC, checks, import    %9.0f changes/s  "
	    "(%4.0f ns a change)\n", b->changes / b->tdec,
	    b->tdec * 1e9 / b->changes);
	printf("  both on one core                %9.0f changes/s  "
	    ">= 100000 (%s)\n", b->changes / all,
	    b->changes / all >= 1e5 ? "met" : "NOT met");
}

int
main(int argc, char *argv[])
{
	struct bench	 b;
	struct sync_key	 k;
	uint32_t	 rounds = 10, j, pos;
	size_t		 nd;
	int		 ch, dosend = 0;

	memset(&b, 0, sizeof(b));
	b.n = 100000;
	b.now = 1000000;
	b.fd = -1;
	while ((ch = getopt(argc, argv, "n:r:s")) != -1) {
		switch (ch) {
		case 'n':
			b.n = (uint32_t)strtoul(optarg, NULL, 10);
			break;
		case 'r':
			rounds = (uint32_t)strtoul(optarg, NULL, 10);
			break;
		case 's':
			dosend = 1;
			break;
		default:
			fprintf(stderr, "usage: sync [-n conns] [-r rounds] "
			    "[-s]\n");
			return (2);
		}
	}
	if (b.n == 0 || rounds == 0)
		errx(2, "-n and -r take a positive number");
	if (sync_key_init(&k, "the benchmark's shared secret", 29) == -1)
		err(1, "sync_key_init");
	if ((b.sa = sync_seq_new(&k, 1, 4096, MTU)) == NULL ||
	    (b.sb = sync_seq_new(&k, 2, 4096, MTU)) == NULL)
		err(1, "sync_seq_new");
	if (dosend)
		sink_open(&b);
	b.a = table(b.n, 1);
	b.b = table(b.n, 0);
	b.e = fill(b.a, b.n, b.now);
	for (j = 0; j < rounds; j++, b.now += 1000)
		for (pos = 0; pos < b.n;) {
			nd = encode(&b, &pos);
			if (b.fd != -1)
				xmit(&b, nd);
			decode(&b, nd);
		}
	if (ct_count(b.b) != b.n)
		errx(1, "the backup has %zu connections, wanted %u",
		    ct_count(b.b), b.n);
	report(&b, rounds);
	free(b.e);
	ct_free(b.a);
	ct_free(b.b);
	sync_seq_free(b.sa);
	sync_seq_free(b.sb);
	if (b.fd != -1) {
		close(b.fd);
		close(b.rfd);
	}
	return (0);
}
