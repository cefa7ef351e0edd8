/*
 * nqmsg.c - reading NFQUEUE's netlink messages (see nqmsg.h)
 *
 * Copyright (C) 2026 The nfqspid authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * The walks are libmnl's mnl_nlmsg_ok()/mnl_nlmsg_next() and
 * mnl_attr_for_each() written out, with the same checks (a header, a
 * length that covers it and fits in what is left), without a library
 * call per step and attribute: this runs for every packet.
 */
#include <arpa/inet.h>
#include <linux/netlink.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_queue.h>

#include <string.h>

#include "pkt.h"
#include "nqmsg.h"

_Static_assert(NFQA_MAX < 32, "nqmsg_packet() keeps a bit per attribute");

#define NQMSG_PACKET_TYPE	((NFNL_SUBSYS_QUEUE << 8) | NFQNL_MSG_PACKET)
/* where a packet message's attributes start */
#define NQMSG_ATTRS		(NLMSG_HDRLEN + NLA_ALIGN(sizeof(struct nfgenmsg)))

/* the payload of an attribute whose length was checked */
static inline const void *
attr_data(const struct nlattr *a)
{
	return ((const uint8_t *)a + NLA_HDRLEN);
}

static inline size_t
attr_len(const struct nlattr *a)
{
	return (a->nla_len - NLA_HDRLEN);
}

/* a big-endian u32 whose length was checked */
static inline uint32_t
attr_u32(const struct nlattr *a)
{
	uint32_t	 v;

	memcpy(&v, attr_data(a), sizeof(v));
	return (ntohl(v));
}

void
nqmsg_walk_init(struct nqmsg_walk *w, const uint8_t *buf, size_t len,
    uint16_t queue)
{
	w->buf = buf;
	w->len = len;
	w->off = 0;
	w->queue = queue;
}

/* Answered as malformed: dropped as INVALID, whatever else came. */
static void
packet_malformed(struct nq_packet *p, uint32_t id)
{
	static const uint8_t	 empty[1];

	memset(p, 0, sizeof(*p));
	p->id = id;
	p->malformed = 1;
	p->data = empty;
}

/*
 * One NFQNL_MSG_PACKET.  Each attribute is checked before use; an
 * attribute we cannot trust makes the packet malformed (decided as
 * INVALID), and only a message without a readable id goes unanswered.
 */
static enum nqmsg
packet_msg(const struct nlmsghdr *nlh, uint16_t queue, struct nq_packet *p)
{
	const struct nlattr		*attr;
	const struct nlattr		*tb[NFQA_MAX + 1];
	uint32_t			 seen = 0;	/* tb[t] set */
	const struct nfgenmsg		*nfg;
	const struct nfqnl_msg_packet_hdr *ph;
	uint16_t			 type;
	size_t				 plen, off, end;
	int				 bad = 0;

	if (nlh->nlmsg_len < NLMSG_HDRLEN + sizeof(*nfg))
		return (NQMSG_BAD);
	nfg = (const struct nfgenmsg *)((const uint8_t *)nlh + NLMSG_HDRLEN);
	end = nlh->nlmsg_len;
	for (off = NQMSG_ATTRS; off + sizeof(*attr) <= end;
	    off += NLA_ALIGN(attr->nla_len)) {
		attr = (const struct nlattr *)((const uint8_t *)nlh + off);
		if (attr->nla_len < sizeof(*attr) || attr->nla_len > end - off)
			break;
		type = attr->nla_type & NLA_TYPE_MASK;
		if (type > NFQA_MAX)
			continue;	/* newer than us: not needed */
		plen = attr->nla_len - NLA_HDRLEN;
		switch (type) {
		case NFQA_PACKET_HDR:
			if (plen < sizeof(*ph))
				bad = 1;
			break;
		case NFQA_MARK:
		case NFQA_IFINDEX_INDEV:
		case NFQA_IFINDEX_OUTDEV:
		case NFQA_IFINDEX_PHYSINDEV:
		case NFQA_IFINDEX_PHYSOUTDEV:
		case NFQA_CAP_LEN:
		case NFQA_SKB_INFO:
			if (plen != sizeof(uint32_t)) {
				bad = 1;
				continue;
			}
			break;
		default:
			break;
		}
		if (seen & (1u << type))
			bad = 1;	/* twice: which one is true? */
		seen |= 1u << type;
		tb[type] = attr;
	}
	/* tb[] is not cleared: only the types in seen may be read */
#define TB(t)	((seen & (1u << (t))) ? tb[t] : NULL)

	/* The id alone is enough to answer the packet. */
	if (TB(NFQA_PACKET_HDR) == NULL ||
	    attr_len(TB(NFQA_PACKET_HDR)) < sizeof(uint32_t))
		return (NQMSG_NOID);
	ph = attr_data(TB(NFQA_PACKET_HDR));
	if (bad || ntohs(nfg->res_id) != queue || TB(NFQA_PAYLOAD) == NULL) {
		packet_malformed(p, ntohl(ph->packet_id));
		return (NQMSG_PACKET);
	}
	memset(p, 0, sizeof(*p));
	p->id = ntohl(ph->packet_id);
	p->hwproto = ntohs(ph->hw_protocol);
	/* the whole header was checked above; NF_INET_* to PKT_HOOK_* */
	p->hook = ph->hook < PKT_HOOK_MAX - 1 ? (uint8_t)(ph->hook + 1) :
	    PKT_HOOK_UNKNOWN;
	p->data = attr_data(TB(NFQA_PAYLOAD));
	p->len = attr_len(TB(NFQA_PAYLOAD));
	p->origlen = p->len;
	if (TB(NFQA_CAP_LEN) != NULL)
		p->origlen = attr_u32(TB(NFQA_CAP_LEN));
	if (TB(NFQA_IFINDEX_INDEV) != NULL)
		p->ifin = attr_u32(TB(NFQA_IFINDEX_INDEV));
	if (TB(NFQA_IFINDEX_OUTDEV) != NULL)
		p->ifout = attr_u32(TB(NFQA_IFINDEX_OUTDEV));
	if (TB(NFQA_MARK) != NULL)
		p->mark = attr_u32(TB(NFQA_MARK));
	if (TB(NFQA_SKB_INFO) != NULL)
		p->skbinfo = attr_u32(TB(NFQA_SKB_INFO));
	return (NQMSG_PACKET);
#undef TB
}

enum nqmsg
nqmsg_next(struct nqmsg_walk *w, struct nq_packet *p,
    const struct nlmsghdr **nlh)
{
	const struct nlmsghdr	*h;
	size_t			 mlen;

	while (w->off + sizeof(*h) <= w->len) {
		h = (const struct nlmsghdr *)(w->buf + w->off);
		mlen = h->nlmsg_len;
		if (mlen < sizeof(*h) || mlen > w->len - w->off)
			break;
		w->off += NLMSG_ALIGN(mlen);
		switch (h->nlmsg_type) {
		case NLMSG_ERROR:
			*nlh = h;
			return (NQMSG_ERROR);
		case NLMSG_NOOP:
		case NLMSG_DONE:
			continue;
		case NQMSG_PACKET_TYPE:
			return (packet_msg(h, w->queue, p));
		default:
			return (NQMSG_BAD);
		}
	}
	if (w->off < w->len) {
		/* a torn message at the end */
		w->off = w->len;
		return (NQMSG_BAD);
	}
	return (NQMSG_END);
}

int
nqmsg_truncated(const uint8_t *buf, size_t len, struct nq_packet *p)
{
	const struct nlmsghdr		*nlh = (const struct nlmsghdr *)buf;
	const struct nlattr		*attr;
	const struct nfqnl_msg_packet_hdr *ph;
	size_t				 off;

	if (len < NQMSG_ATTRS || nlh->nlmsg_type != NQMSG_PACKET_TYPE)
		return (0);
	if (len > nlh->nlmsg_len)
		len = nlh->nlmsg_len;
	/* within what we have, not what the header says */
	for (off = NQMSG_ATTRS; off + sizeof(*attr) <= len;
	    off += NLA_ALIGN(attr->nla_len)) {
		attr = (const struct nlattr *)(buf + off);
		if (attr->nla_len < sizeof(*attr) || attr->nla_len > len - off)
			return (0);
		if ((attr->nla_type & NLA_TYPE_MASK) != NFQA_PACKET_HDR)
			continue;
		if (attr_len(attr) < sizeof(uint32_t))
			return (0);
		ph = attr_data(attr);
		packet_malformed(p, ntohl(ph->packet_id));
		return (1);
	}
	return (0);
}
