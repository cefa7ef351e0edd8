/*
 * fuzz_nqmsg.c - libFuzzer target: NFQUEUE datagrams through nqmsg.c
 *
 * Copyright (C) 2026 The nfqspid authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * The daemon's first rule: every packet id read gets exactly one
 * verdict.  nq.c gives one to each packet nqmsg_next() yields, so this
 * target checks that it yields exactly one for every message with a
 * readable id and none for any other, in order, against a model written
 * here the slow way (the last NFQA_PACKET_HDR of a message is its id, as
 * the kernel never sends two and a second one makes the packet
 * malformed).  A packet's bytes lie inside its message; a malformed one
 * has none.  ASan checks that nothing is read outside the datagram.
 *
 * Input: u16 queue (big endian), u8 flags, then the datagram.  flags bit
 * 0: the datagram was cut (MSG_TRUNC), read by nqmsg_truncated().
 */
#include <arpa/inet.h>
#include <linux/netlink.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_queue.h>

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nqmsg.h"
#include "fuzz.h"

#define PACKET_TYPE	((NFNL_SUBSYS_QUEUE << 8) | NFQNL_MSG_PACKET)
#define ATTRS		20	/* nlmsghdr + nfgenmsg */

/* netlink's headers are in host order */
static uint32_t
rd32(const uint8_t *b)
{
	uint32_t	 v;

	memcpy(&v, b, sizeof(v));
	return (v);
}

static uint16_t
rd16(const uint8_t *b)
{
	uint16_t	 v;

	memcpy(&v, b, sizeof(v));
	return (v);
}

/*
 * The model's id of the packet message at b (mlen bytes): the last
 * NFQA_PACKET_HDR's first 4 bytes, if it has them.  first: stop at the
 * first one instead (a cut datagram).  1 and *id, or 0.
 */
static int
model_id(const uint8_t *b, size_t mlen, int first, uint32_t *id)
{
	size_t	 off, alen;
	int	 found = 0, ok = 0;

	for (off = ATTRS; off + 4 <= mlen; off += (alen + 3) & ~(size_t)3) {
		alen = rd16(b + off);
		if (alen < 4 || alen > mlen - off)
			break;
		if ((rd16(b + off + 2) & NLA_TYPE_MASK) != NFQA_PACKET_HDR)
			continue;
		found = 1;
		ok = alen >= 8;
		if (ok)
			*id = ntohl(rd32(b + off + 4));
		if (first)
			break;
	}
	return (found && ok);
}

static void
check_packet(const struct nq_packet *p, const uint8_t *msg, size_t mlen)
{
	if (p->malformed) {
		CHECK(p->len == 0);
		CHECK(p->data != NULL);
		return;
	}
	CHECK(p->data >= msg + ATTRS);
	CHECK(p->len <= mlen);
	CHECK(p->data + p->len <= msg + mlen);
}

static void
walk(const uint8_t *buf, size_t len, uint16_t queue)
{
	struct nqmsg_walk	 w;
	struct nq_packet	 p;
	const struct nlmsghdr	*nlh;
	enum nqmsg		 m;
	size_t			 off, mlen;
	uint16_t		 type;
	uint32_t		 id = 0;

	nqmsg_walk_init(&w, buf, len, queue);
	for (off = 0; off + 16 <= len; off += (mlen + 3) & ~(size_t)3) {
		mlen = rd32(buf + off);
		if (mlen < 16 || mlen > len - off)
			break;
		type = rd16(buf + off + 4);
		if (type == NLMSG_NOOP || type == NLMSG_DONE)
			continue;
		m = nqmsg_next(&w, &p, &nlh);
		if (type == NLMSG_ERROR) {
			CHECK(m == NQMSG_ERROR);
			CHECK((const uint8_t *)nlh == buf + off);
		} else if (type != PACKET_TYPE || mlen < ATTRS) {
			CHECK(m == NQMSG_BAD);
		} else if (model_id(buf + off, mlen, 0, &id)) {
			/* one packet, this id: one verdict */
			CHECK(m == NQMSG_PACKET);
			CHECK(p.id == id);
			check_packet(&p, buf + off, mlen);
		} else
			CHECK(m == NQMSG_NOID);
	}
	if (off < len)
		CHECK(nqmsg_next(&w, &p, &nlh) == NQMSG_BAD);
	CHECK(nqmsg_next(&w, &p, &nlh) == NQMSG_END);
	CHECK(nqmsg_next(&w, &p, &nlh) == NQMSG_END);
}

static void
cut(const uint8_t *buf, size_t len)
{
	struct nq_packet	 p;
	uint32_t		 id = 0;
	size_t			 lim = len;
	int			 want = 0;

	if (len >= ATTRS && rd16(buf + 4) == PACKET_TYPE) {
		if (rd32(buf) < lim)
			lim = rd32(buf);
		want = model_id(buf, lim, 1, &id);
	}
	CHECK(nqmsg_truncated(buf, len, &p) == want);
	if (want) {
		CHECK(p.id == id);
		CHECK(p.malformed && p.len == 0);
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t		*buf;
	size_t		 len;
	uint16_t	 queue;

	if (size < 3)
		return (0);
	queue = (uint16_t)(data[0] << 8 | data[1]);
	len = size - 3;
	/* netlink hands over aligned datagrams; so does malloc() */
	if ((buf = malloc(len > 0 ? len : 1)) == NULL)
		return (0);
	memcpy(buf, data + 3, len);
	if (data[2] & 1)
		cut(buf, len);
	else
		walk(buf, len, queue);
	free(buf);
	return (0);
}
