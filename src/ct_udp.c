/*
 * ct_udp.c - UDP, and every protocol without a tracker of its own
 *
 * Copyright (C) 2026 The nfqspid authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * A datagram flow is UNREPLIED (timeout_udp) until a packet comes back
 * from the exact reverse tuple; from then on it is ASSURED and gets
 * timeout_udp_stream.  A reply from another port is another flow, NEW.
 * Other protocols are tracked by address pair and protocol number with
 * timeout_generic, the same way.
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
ct_udp_tclass(const struct pkt *p, int replied)
{
	if (p->proto != IPPROTO_UDP)
		return (CT_TO_GENERIC);
	return (replied ? CT_TO_UDP_STREAM : CT_TO_UDP);
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
	if (dir == CT_DIR_REPLY) {
		/* Both ways now: a stream, kept for good. */
		e->status |= CT_ST_SEEN_REPLY | CT_ST_ASSURED;
		ct_refresh(t, e, ct_udp_tclass(p, 1));
		ct_result_set(res, CT_ESTABLISHED, REASON_NONE, dir, e);
		return;
	}
	ct_refresh(t, e, ct_udp_tclass(p, replied));
	ct_result_set(res, replied ? CT_ESTABLISHED : CT_NEW, REASON_NONE, dir,
	    e);
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
	if (ct_insert(t, &k, ct_udp_tclass(p, 0), res) == NULL)
		return (-1);
	return (1);
}
