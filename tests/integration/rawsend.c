/*
 * rawsend.c - the attack tests' fast packet sender (scapy manages a few
 * thousand packets a second; these tests need a million).  Built by the
 * tests themselves with cc; not installed.
 *
 * Copyright (C) 2026 The nfqspid authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 *   rawsend pool IFACE DSTMAC FILE COUNT [QUEUEFILE QUEUE]
 *	Send COUNT packets taken in turn from FILE (records: 2-byte
 *	big-endian length, then an IPv4 or IPv6 packet) out of IFACE to
 *	DSTMAC (AF_PACKET: the bytes go out exactly as in the file).
 *
 *   rawsend inject IFACE DSTMAC SRC DST SPORT DPORT COUNT TTL [QUEUEFILE QUEUE]
 *	Blind injection into a live IPv4 TCP connection: watch IFACE for
 *	the segments SRC:SPORT sends to DST:DPORT, and send COUNT segments
 *	of that very tuple, RST and data (ACK|PSH, 64 bytes) in turn, whose
 *	sequence numbers lie a quarter of the sequence space ahead of what
 *	SRC sends, so beyond any window (not half: 2^31 away is as much
 *	behind as ahead, where a segment looks like an old retransmission,
 *	which a firewall passes as the kernel does and the receiver drops
 *	as a duplicate); the ACK field is SRC's real one, so
 *	only the sequence number is wrong.  Starts at the first segment
 *	after the handshake.  IP TTL is TTL, which lets the
 *	receiving side count whatever would get through.  Prints
 *	"rst N data N".
 *
 * With QUEUEFILE (a /proc/PID/net/netfilter/nfnetlink_queue, PID in the
 * firewall's namespace) and QUEUE, the sender holds back while that
 * queue has more than RAWSEND_QMAX packets waiting, so that the kernel
 * never drops for a full queue: every packet reaches the daemon and the
 * counts can be compared exactly.
 */
#include <sys/socket.h>
#include <sys/types.h>
#include <arpa/inet.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <netinet/in.h>

#include <errno.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define RAWSEND_QMAX	512	/* packets waiting in the queue, at most */
#define RAWSEND_POOLMAX	(64 * 1024 * 1024)

static const char	*qfile;
static unsigned		 qnum;

static void
die(const char *what)
{
	perror(what);
	exit(1);
}

/* queue_total of queue qnum, or 0 if the file says nothing of it */
static unsigned long
queue_total(void)
{
	char		 line[256];
	FILE		*f;
	unsigned	 q;
	unsigned long	 portid, total;

	if ((f = fopen(qfile, "r")) == NULL)
		die(qfile);
	total = 0;
	while (fgets(line, sizeof(line), f) != NULL)
		if (sscanf(line, "%u %lu %lu", &q, &portid, &total) == 3 &&
		    q == qnum)
			break;
		else
			total = 0;
	fclose(f);
	return (total);
}

static void
throttle(void)
{
	struct timespec	 ts = { 0, 200000 };

	if (qfile == NULL)
		return;
	while (queue_total() > RAWSEND_QMAX)
		nanosleep(&ts, NULL);
}

static int
open_packet(const char *ifname, const char *mac, struct sockaddr_ll *sll)
{
	unsigned	 m[6];
	int		 fd, i;

	memset(sll, 0, sizeof(*sll));
	sll->sll_family = AF_PACKET;
	if ((sll->sll_ifindex = (int)if_nametoindex(ifname)) == 0)
		die(ifname);
	if (sscanf(mac, "%x:%x:%x:%x:%x:%x", &m[0], &m[1], &m[2], &m[3],
	    &m[4], &m[5]) != 6) {
		fprintf(stderr, "rawsend: bad MAC %s\n", mac);
		exit(2);
	}
	for (i = 0; i < 6; i++)
		sll->sll_addr[i] = (uint8_t)m[i];
	sll->sll_halen = 6;
	if ((fd = socket(AF_PACKET, SOCK_DGRAM, htons(ETH_P_ALL))) == -1)
		die("socket");
	return (fd);
}

static void
send_ip(int fd, struct sockaddr_ll *sll, const uint8_t *p, size_t len)
{
	sll->sll_protocol = htons((p[0] >> 4) == 6 ? ETH_P_IPV6 : ETH_P_IP);
	while (sendto(fd, p, len, 0, (struct sockaddr *)sll,
	    sizeof(*sll)) == -1) {
		if (errno != ENOBUFS && errno != EAGAIN && errno != EINTR)
			die("sendto");
		usleep(100);
	}
}

static int
pool(int argc, char **argv)
{
	struct sockaddr_ll	 sll;
	uint8_t			*buf;
	size_t			*off, n = 0, len = 0, i, cap = 1024;
	unsigned long		 count, sent;
	FILE			*f;
	int			 fd, c1, c2;

	if (argc != 6 && argc != 8)
		return (2);
	count = strtoul(argv[5], NULL, 10);
	if (argc == 8) {
		qfile = argv[6];
		qnum = (unsigned)strtoul(argv[7], NULL, 10);
	}
	fd = open_packet(argv[2], argv[3], &sll);
	if ((f = fopen(argv[4], "rb")) == NULL)
		die(argv[4]);
	if ((buf = malloc(RAWSEND_POOLMAX)) == NULL ||
	    (off = malloc(cap * sizeof(*off))) == NULL)
		die("malloc");
	while ((c1 = getc(f)) != EOF && (c2 = getc(f)) != EOF) {
		size_t	 l = ((size_t)c1 << 8) | (size_t)c2;

		if (l == 0 || len + 2 + l > RAWSEND_POOLMAX) {
			fprintf(stderr, "rawsend: bad pool file\n");
			return (1);
		}
		if (n + 1 >= cap && (off = realloc(off,
		    (cap *= 2) * sizeof(*off))) == NULL)
			die("realloc");
		off[n++] = len;
		buf[len] = (uint8_t)(l >> 8);
		buf[len + 1] = (uint8_t)l;
		if (fread(buf + len + 2, 1, l, f) != l) {
			fprintf(stderr, "rawsend: short pool file\n");
			return (1);
		}
		len += 2 + l;
	}
	fclose(f);
	if (n == 0) {
		fprintf(stderr, "rawsend: empty pool\n");
		return (1);
	}
	for (sent = 0, i = 0; sent < count; sent++, i = (i + 1) % n) {
		const uint8_t	*p = buf + off[i];

		if ((sent & 63) == 0)
			throttle();
		send_ip(fd, &sll, p + 2, ((size_t)p[0] << 8) | p[1]);
	}
	printf("sent %lu\n", sent);
	free(off);
	free(buf);
	close(fd);
	return (0);
}

static uint16_t
cksum(uint32_t sum, const void *data, size_t len)
{
	const uint8_t	*p = data;

	while (len > 1) {
		sum += (uint32_t)(p[0] << 8 | p[1]);
		p += 2;
		len -= 2;
	}
	if (len)
		sum += (uint32_t)p[0] << 8;
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return ((uint16_t)~sum);
}

/* An IPv4 TCP segment of 20 + 20 + plen bytes into b. */
static size_t
build(uint8_t *b, struct in_addr src, struct in_addr dst, uint16_t sport,
    uint16_t dport, uint32_t seq, uint32_t ack, uint8_t flags, size_t plen,
    uint8_t ttl, uint16_t id)
{
	uint8_t		 ph[12];
	size_t		 tl = 20 + 20 + plen;
	uint32_t	 sum = 0;
	uint16_t	 c;
	size_t		 i;

	memset(b, 0, tl);
	b[0] = 0x45;
	b[2] = (uint8_t)(tl >> 8);
	b[3] = (uint8_t)tl;
	b[4] = (uint8_t)(id >> 8);
	b[5] = (uint8_t)id;
	b[6] = 0x40;			/* DF */
	b[8] = ttl;
	b[9] = IPPROTO_TCP;
	memcpy(b + 12, &src, 4);
	memcpy(b + 16, &dst, 4);
	c = cksum(0, b, 20);
	b[10] = (uint8_t)(c >> 8);
	b[11] = (uint8_t)c;

	b[20] = (uint8_t)(sport >> 8);
	b[21] = (uint8_t)sport;
	b[22] = (uint8_t)(dport >> 8);
	b[23] = (uint8_t)dport;
	b[24] = (uint8_t)(seq >> 24);
	b[25] = (uint8_t)(seq >> 16);
	b[26] = (uint8_t)(seq >> 8);
	b[27] = (uint8_t)seq;
	b[28] = (uint8_t)(ack >> 24);
	b[29] = (uint8_t)(ack >> 16);
	b[30] = (uint8_t)(ack >> 8);
	b[31] = (uint8_t)ack;
	b[32] = 5 << 4;
	b[33] = flags;
	b[34] = 0x01;			/* window 256 */
	for (i = 0; i < plen; i++)
		b[40 + i] = (uint8_t)('A' + i % 26);
	memcpy(ph, &src, 4);
	memcpy(ph + 4, &dst, 4);
	ph[8] = 0;
	ph[9] = IPPROTO_TCP;
	ph[10] = (uint8_t)((20 + plen) >> 8);
	ph[11] = (uint8_t)(20 + plen);
	for (i = 0; i < 12; i += 2)
		sum += (uint32_t)(ph[i] << 8 | ph[i + 1]);
	c = cksum(sum, b + 20, 20 + plen);
	b[36] = (uint8_t)(c >> 8);
	b[37] = (uint8_t)c;
	return (tl);
}

static uint32_t
get32(const uint8_t *p)
{
	return ((uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	    (uint32_t)p[2] << 8 | p[3]);
}

static int
inject(int argc, char **argv)
{
	struct sockaddr_ll	 sll;
	struct in_addr		 src, dst;
	struct pollfd		 pfd;
	uint8_t			 rb[70000], sb[128];
	uint16_t		 sport, dport;
	uint32_t		 snd = 0, ack = 0;
	unsigned long		 count, rst = 0, data = 0;
	uint8_t			 ttl;
	int			 fd, seen = 0;
	ssize_t			 r;
	size_t			 l;

	if (argc != 10 && argc != 12)
		return (2);
	if (inet_pton(AF_INET, argv[4], &src) != 1 ||
	    inet_pton(AF_INET, argv[5], &dst) != 1)
		return (2);
	sport = (uint16_t)strtoul(argv[6], NULL, 10);
	dport = (uint16_t)strtoul(argv[7], NULL, 10);
	count = strtoul(argv[8], NULL, 10);
	ttl = (uint8_t)strtoul(argv[9], NULL, 10);
	if (argc == 12) {
		qfile = argv[10];
		qnum = (unsigned)strtoul(argv[11], NULL, 10);
	}
	fd = open_packet(argv[2], argv[3], &sll);
	/* The same socket sees what goes out of IFACE (PACKET_OUTGOING)
	   and what comes in: we want SRC's own segments, either way. */
	if (bind(fd, (struct sockaddr *)&sll, sizeof(sll)) == -1)
		die("bind");
	pfd.fd = fd;
	pfd.events = POLLIN;
	while (rst + data < count) {
		/* Take in every segment waiting: the latest seq and ack. */
		while (poll(&pfd, 1, seen ? 0 : 1000) > 0) {
			if ((r = recv(fd, rb, sizeof(rb), MSG_DONTWAIT)) < 40)
				break;
			if ((rb[0] >> 4) != 4 || rb[9] != IPPROTO_TCP)
				continue;
			l = (size_t)(rb[0] & 0xf) * 4;
			if ((size_t)r < l + 20 || memcmp(rb + 12, &src, 4) ||
			    memcmp(rb + 16, &dst, 4) ||
			    (rb[l] << 8 | rb[l + 1]) != sport ||
			    (rb[l + 2] << 8 | rb[l + 3]) != dport ||
			    rb[8] == ttl)
				continue;
			/* not before the handshake is over: "during a
			   transfer" (a SYN's sequence space is not yet
			   the connection's) */
			if (rb[l + 13] & 0x02)
				continue;
			snd = get32(rb + l + 4);
			ack = get32(rb + l + 8);
			seen = 1;
		}
		if (!seen)
			continue;
		if ((rst + data) % 64 == 0)
			throttle();
		if ((rst + data) % 2 == 0) {
			l = build(sb, src, dst, sport, dport,
			    snd + 0x40000000u + (uint32_t)(rst % 1024) * 64,
			    0, 0x04 /* RST */, 0, ttl, (uint16_t)(rst + data));
			rst++;
		} else {
			l = build(sb, src, dst, sport, dport,
			    snd + 0x40000000u + (uint32_t)(data % 1024) * 64,
			    ack, 0x18 /* PSH|ACK */, 64, ttl,
			    (uint16_t)(rst + data));
			data++;
		}
		send_ip(fd, &sll, sb, l);
	}
	printf("rst %lu data %lu\n", rst, data);
	close(fd);
	return (0);
}

int
main(int argc, char **argv)
{
	int	 rc = 2;

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc > 1 && strcmp(argv[1], "pool") == 0)
		rc = pool(argc, argv);
	else if (argc > 1 && strcmp(argv[1], "inject") == 0)
		rc = inject(argc, argv);
	if (rc == 2)
		fprintf(stderr, "usage: rawsend pool IFACE DSTMAC FILE COUNT "
		    "[QUEUEFILE QUEUE]\n"
		    "       rawsend inject IFACE DSTMAC SRC DST SPORT DPORT "
		    "COUNT TTL [QUEUEFILE QUEUE]\n");
	return (rc);
}
