/*
 * ct_udp.c - UDP, and every protocol without a tracker of its own
 *
 * Copyright (C) 2026 The nfqspid authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * A datagram flow is UNREPLIED (timeout_udp) until a packet comes back
 * from the exact reverse tuple; a reply from another port is another
 * flow, NEW.  As the kernel's nf_conntrack_udp_packet() (Linux 5.16
 * on), a reply alone makes no stream: a packet either way more than 2 s
 * after the flow's first, the reply seen before it, makes the flow
 * ASSURED and gives it timeout_udp_stream; until then every packet
 * renews timeout_udp.  A query and its answer stay short and evictable,
 * so a flood of them cannot fill the table with what early drop spares.
 * Other protocols are tracked by address pair and protocol number with
 * timeout_generic, and become ASSURED the same way (the kernel's generic
 * tracker never does it; tunnels, ESP or GRE, are kept from a flood).
 */
#include <sys/socket.h>
#include <netinet/in.h>

#include "ct_int.h"

static void
ct_udp_tuple(const struct pkt *p, struct ct_tuple *k)
{
	if (p->proto == IPPROTO_UDP)
		ct_tuple_set(k, p->family, p->proto, &p->src, &p->dst,
		    p->sport, p->dport);
	else
		ct_tuple_set(k, p->family, p->proto, &p->src, &p->dst, 0, 0);
}

static uint8_t
ct_udp_tclass(uint8_t proto, int stream)
{
	if (proto != IPPROTO_UDP)
		return (CT_TO_GENERIC);
	return (stream ? CT_TO_UDP_STREAM : CT_TO_UDP);
}

/*
 * A packet of e now, before its direction is noted (the kernel sets
 * SEEN_REPLY after the tracker ran: the first reply makes no stream).
 * A flow that never saw its reply keeps its stream time in reach of the
 * modular clock: once past, it stays just past (a packet renews the
 * entry within CT_TIMEOUT_MAX, far less than CT_TIME_SPAN).
 */
static void
ct_udp_packet(struct ct_table *t, struct ct_entry *e)
{
	int	 stream = (e->status & CT_ST_ASSURED) != 0;

	if (!stream && ct_tdiff(t->now32, e->udp_stream) > 0) {
		if (e->status & CT_ST_SEEN_REPLY) {
			e->status |= CT_ST_ASSURED;
			stream = 1;
		} else
			e->udp_stream = t->now32 - 1;
	}
	ct_refresh(t, e, ct_udp_tclass(e->proto, stream));
}

void
ct_udp_track(struct ct_table *t, const struct pkt *p, struct ct_result *res)
{
	struct ct_tuple	 k;
	struct ct_entry	*e;
	uint8_t		 dir = CT_DIR_ORIG;
	int		 replied;

	ct_udp_tuple(p, &k);
	if ((e = ct_find(t, &k, 1, &dir)) == NULL) {
		/* Any datagram may start a flow, if the rules say so. */
		ct_result_set(res, CT_NEW, REASON_NONE, CT_DIR_ORIG, NULL);
		return;
	}
	replied = (e->status & CT_ST_SEEN_REPLY) != 0;
	ct_udp_packet(t, e);
	if (dir == CT_DIR_REPLY)
		e->status |= CT_ST_SEEN_REPLY;
	ct_result_set(res, replied || dir == CT_DIR_REPLY ? CT_ESTABLISHED :
	    CT_NEW, REASON_NONE, dir, e);
}

int
ct_udp_confirm(struct ct_table *t, const struct pkt *p, struct ct_result *res)
{
	struct ct_tuple	 k;
	struct ct_entry	*e;
	uint8_t		 dir = CT_DIR_ORIG;

	ct_udp_tuple(p, &k);
	if ((e = ct_find(t, &k, 1, &dir)) != NULL) {
		ct_result_set(res, dir == CT_DIR_ORIG &&
		    !(e->status & CT_ST_SEEN_REPLY) ? CT_NEW : CT_ESTABLISHED,
		    REASON_NONE, dir, e);
		return (0);
	}
	if ((e = ct_insert(t, &k, ct_udp_tclass(p->proto, 0), res)) == NULL)
		return (-1);
	/* the kernel's stream_ts, set while the entry is unconfirmed */
	e->udp_stream = t->now32 + CT_UDP_STREAM_MS;
	return (1);
}

void
ct_udp_seen(struct ct_table *t, struct ct_entry *e)
{
	ct_udp_packet(t, e);
}

/*
 * For a snapshot: a packet left_ms or more from now makes the flow a
 * stream (the reply seen); 0: a packet now does.  One more than the
 * wait, so that a time exactly now and one already past stay apart.
 */
uint32_t
ct_udp_stream_left(const struct ct_table *t, const struct ct_entry *e)
{
	int32_t	 d;

	if (e->status & CT_ST_ASSURED)
		return (0);
	d = ct_tdiff(e->udp_stream, t->now32);
	return (d >= 0 ? (uint32_t)d + 1 : 0);
}

void
ct_udp_stream_set(struct ct_table *t, struct ct_entry *e, uint32_t left_ms)
{
	e->udp_stream = t->now32 + left_ms - 1;
}
