/*
 * ct_icmp.c - ICMP and ICMPv6: queries by id, errors RELATED
 *
 * Copyright (C) 2026 The nfqspid authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * A query (echo, and for IPv4 timestamp, information and address mask;
 * for IPv6 node information) starts an entry keyed by (requester,
 * responder, id, request type); the matching reply type from the responder
 * is its reply direction.  A reply nobody asked for is INVALID.
 *
 * An error (unreachable, time exceeded, packet too big, parameter problem,
 * ...) is RELATED to the connection its quoted header belongs to, in
 * either direction and whoever sent the error (a router in the path, the
 * firewall itself): only its destination must be the sender of the quoted
 * packet.  An error quoting nothing we track is INVALID.
 */
#include <sys/socket.h>
#include <netinet/in.h>

#include "ct_int.h"

int
ct_is_icmp(const struct pkt *p)
{
	return ((p->family == AF_INET && p->proto == IPPROTO_ICMP) ||
	    (p->family == AF_INET6 && p->proto == IPPROTO_ICMPV6));
}

/* The reply type of a query type; 0 if type is no query we track. */
static uint8_t
ct_icmp_query(uint8_t family, uint8_t type)
{
	if (family == AF_INET) {
		switch (type) {
		case 8:		/* echo */
			return (0 + 1);
		case 13:	/* timestamp */
			return (14 + 1);
		case 15:	/* information */
			return (16 + 1);
		case 17:	/* address mask */
			return (18 + 1);
		default:
			return (0);
		}
	}
	switch (type) {
	case 128:		/* echo */
		return (129 + 1);
	case 139:		/* node information */
		return (140 + 1);
	default:
		return (0);
	}
}

uint8_t
ct_icmp_reply_type(uint8_t family, uint8_t type)
{
	uint8_t	 r = ct_icmp_query(family, type);

	return (r ? r - 1 : type);
}

/* The request type a reply answers; 0 if type is no tracked reply. */
static uint8_t
ct_icmp_request_of(uint8_t family, uint8_t type)
{
	if (family == AF_INET) {
		switch (type) {
		case 0:
			return (8);
		case 14:
			return (13);
		case 16:
			return (15);
		case 18:
			return (17);
		default:
			return (0);
		}
	}
	switch (type) {
	case 129:
		return (128);
	case 140:
		return (139);
	default:
		return (0);
	}
}

static int
ct_icmp_is_error_type(uint8_t family, uint8_t type)
{
	if (family == AF_INET)
		return (type == 3 || type == 4 || type == 5 || type == 11 ||
		    type == 12);
	return (type >= 1 && type <= 4);
}

/*
 * Neighbour discovery and multicast listener messages: link-local
 * plumbing without a reply to match, never tracked (the kernel leaves them
 * untracked too).  They are NEW each time and the rules decide.
 */
static int
ct_icmp6_untracked(uint8_t type)
{
	return ((type >= 130 && type <= 137) || type == 143);
}

/* The key of a query or reply: (requester, responder, id, request
   type), ct.h. */
int
ct_icmp_tuple(uint8_t family, uint8_t proto, uint8_t type,
    const union pkt_addr *src, const union pkt_addr *dst, uint16_t id,
    struct ct_tuple *k)
{
	uint8_t	 req;

	if (ct_icmp_query(family, type)) {
		ct_tuple_set(k, family, proto, src, dst, id, type);
		return (CT_DIR_ORIG);
	}
	if ((req = ct_icmp_request_of(family, type)) != 0) {
		ct_tuple_set(k, family, proto, dst, src, id, req);
		return (CT_DIR_REPLY);
	}
	return (-1);
}

static void
ct_icmp_related(struct ct_table *t, const struct pkt *p,
    struct ct_result *res)
{
	const struct pkt_inner	*in = &p->inner;
	struct ct_tuple		 k;
	struct ct_entry		*e = NULL;
	uint8_t			 dir = CT_DIR_ORIG;
	int			 qdir;

	/* The error goes back to whoever sent the quoted packet. */
	if (in->family != p->family ||
	    !ct_addr_eq(p->family, &p->dst, &in->src)) {
		ct_result_set(res, CT_INVALID, REASON_ICMP_INNER, CT_DIR_ORIG,
		    NULL);
		return;
	}
	switch (in->proto) {
	case IPPROTO_TCP:
	case IPPROTO_UDP:
		ct_tuple_set(&k, in->family, in->proto, &in->src, &in->dst,
		    in->sport, in->dport);
		e = ct_find(t, &k, 1, &dir);
		break;
	case IPPROTO_ICMP:
	case IPPROTO_ICMPV6:
		if ((in->family == AF_INET) != (in->proto == IPPROTO_ICMP))
			goto generic;
		qdir = ct_icmp_tuple(in->family, in->proto, in->icmp_type,
		    &in->src, &in->dst, in->icmp_id, &k);
		if (qdir < 0)
			break;	/* an error about an error: nothing */
		e = ct_find(t, &k, 0, &dir);
		dir = (uint8_t)qdir;
		break;
	default:
generic:
		ct_tuple_set(&k, in->family, in->proto, &in->src, &in->dst,
		    0, 0);
		e = ct_find(t, &k, 1, &dir);
		break;
	}
	if (e == NULL) {
		ct_result_set(res, CT_INVALID, REASON_ICMP_UNTRACKED,
		    CT_DIR_ORIG, NULL);
		return;
	}
	/* The error travels against the quoted packet. */
	ct_result_set(res, CT_RELATED, REASON_NONE,
	    dir == CT_DIR_ORIG ? CT_DIR_REPLY : CT_DIR_ORIG, e);
}

int
ct_find_related(struct ct_table *t, const struct pkt *p, uint32_t *mark)
{
	struct ct_result	 res;

	if (!p->is_icmp_error || !ct_is_icmp(p))
		return (0);
	ct_icmp_related(t, p, &res);
	if (res.state != CT_RELATED || res.entry == NULL)
		return (0);
	*mark = res.entry->mark;
	return (1);
}

void
ct_icmp_track(struct ct_table *t, const struct pkt *p, struct ct_result *res)
{
	struct ct_tuple	 k;
	struct ct_entry	*e;
	uint8_t		 dir;
	int		 pdir;

	if (p->is_icmp_error) {
		ct_icmp_related(t, p, res);
		return;
	}
	if (ct_icmp_is_error_type(p->family, p->icmp_type)) {
		/* The parser did not find the quoted header. */
		ct_result_set(res, CT_INVALID, REASON_ICMP_INNER, CT_DIR_ORIG,
		    NULL);
		return;
	}
	if (p->family == AF_INET6 && ct_icmp6_untracked(p->icmp_type)) {
		ct_result_set(res, CT_NEW, REASON_NONE, CT_DIR_ORIG, NULL);
		return;
	}
	pdir = ct_icmp_tuple(p->family, p->proto, p->icmp_type, &p->src,
	    &p->dst, p->icmp_id, &k);
	if (pdir < 0) {
		ct_result_set(res, CT_INVALID, REASON_ICMP_TYPE, CT_DIR_ORIG,
		    NULL);
		return;
	}
	e = ct_find(t, &k, 0, &dir);
	if (e == NULL) {
		if (pdir == CT_DIR_ORIG)
			ct_result_set(res, CT_NEW, REASON_NONE, CT_DIR_ORIG,
			    NULL);
		else
			ct_result_set(res, CT_INVALID, REASON_ICMP_NO_REQUEST,
			    CT_DIR_REPLY, NULL);
		return;
	}
	if (pdir == CT_DIR_REPLY) {
		e->status |= CT_ST_SEEN_REPLY;
		ct_refresh(t, e, e->tclass);
		ct_result_set(res, CT_ESTABLISHED, REASON_NONE, CT_DIR_REPLY, e);
		return;
	}
	ct_refresh(t, e, e->tclass);
	ct_result_set(res, e->status & CT_ST_SEEN_REPLY ? CT_ESTABLISHED :
	    CT_NEW, REASON_NONE, CT_DIR_ORIG, e);
}

int
ct_icmp_confirm(struct ct_table *t, const struct pkt *p, struct ct_result *res)
{
	struct ct_tuple	 k;
	struct ct_entry	*e;
	uint8_t		 dir;
	int		 pdir;

	if (p->family == AF_INET6 && !p->is_icmp_error &&
	    ct_icmp6_untracked(p->icmp_type)) {
		ct_result_set(res, CT_NEW, REASON_NONE, CT_DIR_ORIG, NULL);
		return (0);
	}
	pdir = p->is_icmp_error ? -1 : ct_icmp_tuple(p->family, p->proto,
	    p->icmp_type, &p->src, &p->dst, p->icmp_id, &k);
	if (pdir != CT_DIR_ORIG) {
		/* Errors and replies never start anything. */
		ct_icmp_track(t, p, res);
		if (res->state != CT_INVALID)
			return (0);
		return (-1);
	}
	if ((e = ct_find(t, &k, 0, &dir)) != NULL) {
		ct_result_set(res, e->status & CT_ST_SEEN_REPLY ?
		    CT_ESTABLISHED : CT_NEW, REASON_NONE, CT_DIR_ORIG, e);
		return (0);
	}
	if ((e = ct_insert(t, &k, p->family == AF_INET ? CT_TO_ICMP :
	    CT_TO_ICMPV6, res)) == NULL)
		return (-1);
	e->icmp_code = p->icmp_code;
	return (1);
}
