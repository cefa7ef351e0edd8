/*
 * frag.c - what a fragmented datagram costs the engine, and the cache's
 * memory under a flood of random fragments
 *
 * Copyright (C) 2026 The nfqspid authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * 1. A UDP datagram of 65,507 bytes of payload (the largest), in 45
 *    IPv4 fragments of 1,480 bytes, through verdict_fragment() and the
 *    decision of the whole (checksum over 64 KiB), against the same
 *    bytes as 45 unfragmented UDP packets of the same flow through
 *    verdict_packet(), both with their checksums verified (what a
 *    packet the kernel has not verified costs); then without the
 *    checksums.  Target: fragmented <= 3 x unfragmented.
 * 2. What an unfragmented packet pays for the cache (frag_add()
 *    finding it is no fragment).
 * 3. A flood of random fragments (random sources, identifications,
 *    offsets, lengths; most datagrams never complete) against the
 *    default caps: the largest held fragments, bytes and datagrams seen,
 *    beside the caps.
 *
 *   frag [-n rounds] [-f flood fragments]
 */
#include <sys/socket.h>
#include <netinet/in.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "csum.h"
#include "ct.h"
#include "frag.h"
#include "verdict.h"

#define FRAGSZ		1480
#define PAYLOAD		65507
#define NFRAG		((PAYLOAD + 8 + FRAGSZ - 1) / FRAGSZ)

static uint8_t	 l4[PAYLOAD + 8];
static uint8_t	 frags[NFRAG][20 + FRAGSZ];
static size_t	 fraglen[NFRAG];
static uint8_t	 whole[NFRAG][20 + 8 + FRAGSZ];
static size_t	 wholelen[NFRAG];

static double
now_s(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return ((double)ts.tv_sec + (double)ts.tv_nsec / 1e9);
}

static void
put16(uint8_t *b, unsigned v)
{
	b[0] = (uint8_t)(v >> 8);
	b[1] = (uint8_t)v;
}

static void
ip4(uint8_t *b, unsigned id, unsigned frag, size_t plen)
{
	static const uint8_t src[4] = { 10, 1, 0, 1 }, dst[4] = { 10, 2, 0, 1 };

	memset(b, 0, 20);
	b[0] = 0x45;
	put16(b + 2, (unsigned)(20 + plen));
	put16(b + 4, id);
	put16(b + 6, frag);
	b[8] = 64;
	b[9] = IPPROTO_UDP;
	memcpy(b + 12, src, 4);
	memcpy(b + 16, dst, 4);
	put16(b + 10, csum_fold(csum_add(0, b, 20)));
}

/* The UDP header and checksum of n payload bytes at u + 8. */
static void
udp(uint8_t *u, size_t n)
{
	static const uint8_t addrs[8] = { 10, 1, 0, 1, 10, 2, 0, 1 };
	uint32_t	 sum;

	put16(u, 5353);
	put16(u + 2, 5001);
	put16(u + 4, (unsigned)(8 + n));
	u[6] = u[7] = 0;
	sum = csum_add(0, addrs, 8) + IPPROTO_UDP + (uint32_t)(8 + n);
	put16(u + 6, csum_fold(csum_add(sum, u, 8 + n)));
}

static void
build(void)
{
	size_t	 i, off, n;

	for (i = 0; i < PAYLOAD; i++)
		l4[8 + i] = (uint8_t)(i * 13);
	udp(l4, PAYLOAD);
	for (i = 0; i < NFRAG; i++) {
		off = i * FRAGSZ;
		n = i + 1 < NFRAG ? FRAGSZ : sizeof(l4) - off;
		ip4(frags[i], 7, (unsigned)(off / 8) | (i + 1 < NFRAG ?
		    0x2000 : 0), n);
		memcpy(frags[i] + 20, l4 + off, n);
		fraglen[i] = 20 + n;
		/* the same bytes, unfragmented: UDP packets of the flow */
		memcpy(whole[i] + 28, l4 + off, n);
		udp(whole[i] + 20, n);
		ip4(whole[i], (unsigned)i, 0, 8 + n);
		wholelen[i] = 28 + n;
	}
}

static double
run(const struct config *cfg, int fragmented, unsigned csum, int rounds)
{
	struct verdict_ctx	 x;
	struct ct_table		*ct;
	struct frag_cache	*fc;
	struct frag_result	 res;
	struct pkt		 p;
	struct verdict		 v;
	double			 t0, t;
	int			 r;
	size_t			 i;

	if ((ct = ct_new(&cfg->ct)) == NULL || (fc = frag_new(&cfg->frag)) ==
	    NULL) {
		perror("frag");
		exit(1);
	}
	x = (struct verdict_ctx){ cfg, ct, NULL, "eth0", "", PKT_HOOK_FORWARD,
	    csum, 1000 };
	t0 = now_s();
	for (r = 0; r < rounds; r++)
		for (i = 0; i < NFRAG; i++) {
			if (!fragmented) {
				verdict_packet(&x, whole[i], wholelen[i], NULL,
				    &p, &v);
			} else if (verdict_fragment(&x, fc, frags[i],
			    fraglen[i], i, &res, &p, &v) == FRAG_PASS) {
				fprintf(stderr, "frag: not a fragment\n");
				exit(1);
			}
			if (i + 1 == NFRAG || !fragmented)
				if (v.action != RULE_ACCEPT) {
					fprintf(stderr, "frag: dropped (%s)\n",
					    reason_name(v.reason));
					exit(1);
				}
		}
	t = now_s() - t0;
	frag_free(fc);
	ct_free(ct);
	return (t);
}

/* What every packet pays for the cache: frag_add() of a whole one. */
static void
pass_cost(const struct config *cfg, int rounds)
{
	struct frag_cache	*fc;
	struct frag_result	 res;
	double			 t0, t;
	long			 n = 0;
	int			 r;
	size_t			 i;

	if ((fc = frag_new(&cfg->frag)) == NULL) {
		perror("frag");
		exit(1);
	}
	t0 = now_s();
	for (r = 0; r < rounds * 20; r++)
		for (i = 0; i < NFRAG; i++, n++) {
			/* as worker_fragment() asks */
			if (!frag_maybe(whole[i], wholelen[i]))
				continue;
			frag_add(fc, whole[i], wholelen[i], i, 0, 1000, &res);
			if (res.status != FRAG_PASS)
				exit(1);
		}
	t = now_s() - t0;
	printf("an unfragmented packet through the cache (FRAG_PASS): %.1f ns\n",
	    t / (double)n * 1e9);
	frag_free(fc);
}

static void
flood(const struct config *cfg, long n)
{
	struct frag_cache	*fc;
	struct frag_result	 res;
	struct frag_stats	 st;
	uint64_t		 maxheld = 0, maxbytes = 0, maxdg = 0, now = 0;
	uint8_t			 b[20 + FRAGSZ];
	size_t			 off, len;
	long			 i;

	if ((fc = frag_new(&cfg->frag)) == NULL) {
		perror("frag");
		exit(1);
	}
	srandom(1);
	for (i = 0; i < n; i++) {
		off = (size_t)(random() % 8000) * 8;
		len = 8 * (1 + (size_t)(random() % (FRAGSZ / 8)));
		ip4(b, (unsigned)(random() & 0xffff), (unsigned)(off / 8) |
		    (random() % 8 ? 0x2000 : 0), len);
		b[12] = (uint8_t)(random() % 256);	/* 65,536 sources */
		b[13] = (uint8_t)(random() % 256);
		b[10] = b[11] = 0;
		put16(b + 10, csum_fold(csum_add(0, b, 20)));
		now += 1;	/* 1,000 fragments a second of clock */
		(void)frag_expire(fc, now / 1000 * 1000, NULL, NULL);
		frag_add(fc, b, 20 + len, (uint64_t)i, 0, now / 1000 * 1000,
		    &res);
		frag_get_stats(fc, &st);
		if (st.held > maxheld)
			maxheld = st.held;
		if (st.bytes > maxbytes)
			maxbytes = st.bytes;
		if (st.datagrams > maxdg)
			maxdg = st.datagrams;
	}
	frag_get_stats(fc, &st);
	printf("flood of %ld random fragments: most held %llu (cap %u), "
	    "bytes %llu (cap %u), datagrams %llu (cap %u); dropped as full "
	    "%llu, timed out %llu, overlap %llu\n", n,
	    (unsigned long long)maxheld, cfg->frag.max_held,
	    (unsigned long long)maxbytes, cfg->frag.max_bytes,
	    (unsigned long long)maxdg, cfg->frag.max_datagrams,
	    (unsigned long long)st.dropped[FRAG_DROP_FULL],
	    (unsigned long long)st.dropped[FRAG_DROP_TIMEOUT],
	    (unsigned long long)st.dropped[FRAG_DROP_OVERLAP]);
	frag_free(fc);
}

int
main(int argc, char *argv[])
{
	struct config	*cfg;
	char		 err[256], path[] = "/tmp/nfqspi-bench-frag.XXXXXX";
	const char	*ini = "[policy]\nnew = drop\n[rule u]\nproto = udp\n"
	    "dport = 5001\naction = accept\n";
	double		 tf, tw;
	long		 nflood = 2000000;
	int		 c, fd, rounds = 2000;
	unsigned	 k, csum;

	while ((c = getopt(argc, argv, "n:f:")) != -1)
		switch (c) {
		case 'n':
			rounds = atoi(optarg);
			break;
		case 'f':
			nflood = atol(optarg);
			break;
		default:
			fprintf(stderr, "usage: frag [-n rounds] "
			    "[-f fragments]\n");
			return (2);
		}
	if ((fd = mkstemp(path)) == -1 ||
	    write(fd, ini, strlen(ini)) != (ssize_t)strlen(ini)) {
		perror(path);
		return (1);
	}
	close(fd);
	cfg = config_load(path, err, sizeof(err));
	unlink(path);
	if (cfg == NULL) {
		fprintf(stderr, "frag: %s\n", err);
		return (1);
	}
	build();
	for (k = 0; k < 2; k++) {
		csum = k == 0 ? CSUM_IP | CSUM_L4 : 0;
		tw = run(cfg, 0, csum, rounds);
		tf = run(cfg, 1, csum, rounds);
		printf("%d x 64 KiB UDP, checksums %s: unfragmented (45 "
		    "packets) %.0f ns, fragmented (45 fragments) %.0f ns, "
		    "ratio %.2f (target <= 3)\n", rounds, csum ? "checked by nfqspid" :
		    "the kernel's", tw / rounds * 1e9, tf / rounds * 1e9,
		    tf / tw);
	}
	pass_cost(cfg, rounds);
	flood(cfg, nflood);
	config_free(cfg);
	return (0);
}
