/*
 * replay.c - nfqspid --replay: the whole engine over a capture file
 *
 * Copyright (C) 2026 The nfqspid authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * Offline and unprivileged: every packet of the capture goes through
 * verdict_packet(), the very function the queue workers call, with the
 * capture's timestamps as the clock.  One line per packet, so a capture
 * and its expected output make a regression test.  Fragments go through
 * the fragment cache as in a worker: a held fragment's line comes when
 * its datagram is decided (whole, ended, or timed out; at the end of the
 * capture whatever is still held times out), numbered as it came.
 */
#include <sys/types.h>
#include <sys/socket.h>

#include <errno.h>
#include <pcap/pcap.h>
#include <stdio.h>
#include <string.h>

#include "csum.h"
#include "nfqspid.h"
#include "bytes.h"

#define ETHERTYPE_IPV4		0x0800
#define ETHERTYPE_IPV6		0x86dd
#define ETHERTYPE_VLAN		0x8100
#define ETHERTYPE_QINQ		0x88a8
#define ETHERTYPE_QINQ_OLD	0x9100
#define ETHER_HDRLEN		14
#define VLAN_TAGLEN		4
#define MAX_VLAN_TAGS		4	/* more is not a frame we care for */
#define SLL_HDRLEN		16
#define SLL2_HDRLEN		20
#define NULL_HDRLEN		4

#ifndef DLT_LINUX_SLL2
#define DLT_LINUX_SLL2		276
#endif
#ifndef DLT_IPV4
#define DLT_IPV4		228
#endif
#ifndef DLT_IPV6
#define DLT_IPV6		229
#endif

static int
link_supported(int dlt)
{
	switch (dlt) {
	case DLT_RAW:
	case DLT_IPV4:
	case DLT_IPV6:
	case DLT_EN10MB:
	case DLT_LINUX_SLL:
	case DLT_LINUX_SLL2:
	case DLT_NULL:
	case DLT_LOOP:
		return (1);
	default:
		return (0);
	}
}

static int
ethertype_ip(uint16_t type)
{
	return (type == ETHERTYPE_IPV4 || type == ETHERTYPE_IPV6);
}

/*
 * BSD loopback: the address family in the capturing host's byte order
 * (DLT_NULL) or in network order (DLT_LOOP).  AF_INET6 differs between
 * systems: 10 (Linux), 24 (NetBSD, OpenBSD), 28 (FreeBSD), 30 (macOS).
 */
static int
loop_family_ip(const uint8_t *b, int dlt)
{
	uint32_t	 be, le, af;

	be = (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 |
	    (uint32_t)b[2] << 8 | b[3];
	le = (uint32_t)b[3] << 24 | (uint32_t)b[2] << 16 |
	    (uint32_t)b[1] << 8 | b[0];
	af = (dlt == DLT_LOOP || be < 256) ? be : le;
	switch (af) {
	case 2: case 10: case 24: case 28: case 30:
		return (1);
	default:
		return (0);
	}
}

/*
 * Find the IP header in a frame.  Returns its offset, or -1 when the
 * frame carries no IPv4 or IPv6 packet (the kernel would never queue it).
 */
static long
link_ip_offset(int dlt, const uint8_t *b, size_t len)
{
	size_t		 off;
	uint16_t	 type;
	int		 tags;

	switch (dlt) {
	case DLT_RAW:
	case DLT_IPV4:
	case DLT_IPV6:
		return (0);
	case DLT_EN10MB:
		if (len < ETHER_HDRLEN)
			return (-1);
		off = 12;
		type = get16(b + off);
		for (tags = 0; type == ETHERTYPE_VLAN ||
		    type == ETHERTYPE_QINQ || type == ETHERTYPE_QINQ_OLD;
		    tags++) {
			if (tags == MAX_VLAN_TAGS)
				return (-1);
			off += VLAN_TAGLEN;
			if (len < off + 2)
				return (-1);
			type = get16(b + off);
		}
		if (!ethertype_ip(type))
			return (-1);
		return ((long)off + 2);
	case DLT_LINUX_SLL:
		if (len < SLL_HDRLEN || !ethertype_ip(get16(b + 14)))
			return (-1);
		return (SLL_HDRLEN);
	case DLT_LINUX_SLL2:
		if (len < SLL2_HDRLEN || !ethertype_ip(get16(b)))
			return (-1);
		return (SLL2_HDRLEN);
	case DLT_NULL:
	case DLT_LOOP:
		if (len < NULL_HDRLEN || !loop_family_ip(b, dlt))
			return (-1);
		return (NULL_HDRLEN);
	default:
		return (-1);
	}
}

/* One packet's line */
static void
replay_line(FILE *out, uint64_t n, const struct verdict *v)
{
	char	 line[512];

	if (verdict_format(v, line, sizeof(line)) < 0)
		(void)snprintf(line, sizeof(line), "?");
	fprintf(out, "%llu %s\n", (unsigned long long)n, line);
}

struct replay_expired {
	const struct verdict_ctx *x;
	FILE			*out;
};

/* A datagram the cache gave up on: its held fragments' lines. */
static void
replay_expired(void *arg, const struct frag_expired *x)
{
	struct replay_expired	*r = arg;
	struct pkt		 p;
	struct verdict		 v;
	size_t			 i;

	verdict_invalid(r->x, x->buf, x->len, REASON_FRAG_TIMEOUT, &p, &v);
	for (i = 0; i < x->n; i++)
		replay_line(r->out, x->ids[i], &v);
}

/* Packet n, decided in x: its line, and those of the fragments held
   with it when it decides their datagram. */
static void
replay_packet(const struct verdict_ctx *x, struct frag_cache *fc,
    const uint8_t *buf, size_t len, unsigned long n, FILE *out)
{
	struct frag_result	 res;
	struct pkt		 p;
	struct verdict		 v;
	size_t			 i;

	switch (verdict_fragment(x, fc, buf, len, n, &res, &p, &v)) {
	case FRAG_HELD:
		return;
	case FRAG_PASS:
		verdict_packet(x, buf, len, NULL, &p, &v);
		break;
	default:
		/* the held ones first, as a worker answers them */
		for (i = 0; i < res.n; i++)
			replay_line(out, res.ids[i], &v);
		break;
	}
	replay_line(out, n, &v);
}

int
replay_run(const struct config *cfg, const char *pcap, FILE *out)
{
	char			 errbuf[PCAP_ERRBUF_SIZE];
	struct pcap_pkthdr	*hdr;
	const u_char		*frame;
	struct ct_table		*ct;
	struct limit_table	*lt;
	struct frag_cache	*fc;
	struct verdict_ctx	 x;
	struct replay_expired	 rx = { &x, out };
	pcap_t			*pc;
	unsigned long		 n = 0;
	uint64_t		 now_ms = 0, ts;
	long			 off;
	int			 dlt, rc, status = 0;

	errbuf[0] = '\0';
	if ((pc = pcap_open_offline(pcap, errbuf)) == NULL) {
		/* libpcap names the file in some of its messages only */
		if (strstr(errbuf, pcap) != NULL)
			fprintf(stderr, "nfqspid: %s\n", errbuf);
		else
			fprintf(stderr, "nfqspid: %s: %s\n", pcap, errbuf);
		return (1);
	}
	dlt = pcap_datalink(pc);
	if (!link_supported(dlt)) {
		fprintf(stderr, "nfqspid: %s: link type %s (%d) is not "
		    "supported: want raw IP, Ethernet, Linux cooked or "
		    "loopback\n", pcap,
		    pcap_datalink_val_to_name(dlt) ?
		    pcap_datalink_val_to_name(dlt) : "unknown", dlt);
		pcap_close(pc);
		return (1);
	}
	if ((ct = ct_new(&cfg->ct)) == NULL) {
		fprintf(stderr, "nfqspid: %s: connection table: %s\n", pcap,
		    strerror(errno));
		pcap_close(pc);
		return (1);
	}
	/* the rules' rate and conn_limit, as a worker keeps them */
	if ((lt = limit_new(LIMIT_SOURCES_DEFAULT)) == NULL) {
		fprintf(stderr, "nfqspid: %s: limit table: %s\n", pcap,
		    strerror(errno));
		ct_free(ct);
		pcap_close(pc);
		return (1);
	}
	ct_set_event_cb(ct, limit_ct_event, lt);
	if ((fc = frag_new(&cfg->frag)) == NULL) {
		fprintf(stderr, "nfqspid: %s: fragment cache: %s\n", pcap,
		    strerror(errno));
		limit_free(lt);
		ct_free(ct);
		pcap_close(pc);
		return (1);
	}
	/* a capture says neither interfaces nor chain; every checksum is
	   ours to verify */
	x = (struct verdict_ctx){ cfg, ct, lt, "", "", PKT_HOOK_UNKNOWN,
	    CSUM_IP | CSUM_L4, 0 };

	while ((rc = pcap_next_ex(pc, &hdr, &frame)) == 1) {
		n++;
		off = link_ip_offset(dlt, frame, hdr->caplen);
		if (off < 0) {
			fprintf(out, "%lu skip not-ip\n", n);
			continue;
		}
		/* the table wants a clock that never goes back */
		ts = (uint64_t)hdr->ts.tv_sec * 1000 +
		    (uint64_t)hdr->ts.tv_usec / 1000;
		if (ts > now_ms)
			now_ms = ts;
		ct_expire(ct, now_ms);
		limit_expire(lt, now_ms);
		x.now_ms = now_ms;
		(void)frag_expire(fc, now_ms, replay_expired, &rx);
		replay_packet(&x, fc, frame + off, hdr->caplen - (size_t)off, n,
		    out);
	}
	(void)frag_expire(fc, UINT64_MAX, replay_expired, &rx);
	if (rc == -1) {
		fprintf(stderr, "nfqspid: %s: packet %lu: %s\n", pcap, n + 1,
		    pcap_geterr(pc));
		status = 1;
	}
	if (fflush(out) == EOF || ferror(out)) {
		fprintf(stderr, "nfqspid: %s: writing the output: %s\n", pcap,
		    strerror(errno));
		status = 1;
	}
	frag_free(fc);
	ct_free(ct);
	limit_free(lt);
	pcap_close(pc);
	return (status);
}
