/*
 * test_nqmsg.c - cmocka tests for nqmsg.c: NFQUEUE's messages read from
 * datagrams built here, byte by byte, as the kernel writes them
 *
 * Copyright (C) 2026 The nfqspid authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include <arpa/inet.h>
#include <linux/netlink.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_queue.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "pkt.h"
#include "nqmsg.h"

#define QUEUE	7

/* ---- building datagrams ------------------------------------------------ */

struct dgram {
	uint8_t		 b[4096] __attribute__((aligned(4)));
	size_t		 len;
	size_t		 msg;		/* start of the open message */
};

static void
msg_begin(struct dgram *d, uint16_t type, uint16_t res_id)
{
	struct nlmsghdr	*nlh;
	struct nfgenmsg	*nfg;

	d->msg = d->len;
	nlh = (struct nlmsghdr *)(d->b + d->len);
	memset(nlh, 0, NLMSG_HDRLEN + sizeof(*nfg));
	nlh->nlmsg_type = type;
	nfg = (struct nfgenmsg *)(d->b + d->len + NLMSG_HDRLEN);
	nfg->nfgen_family = AF_INET;
	nfg->version = NFNETLINK_V0;
	nfg->res_id = htons(res_id);
	d->len += NLMSG_HDRLEN + NLA_ALIGN(sizeof(*nfg));
}

static void
attr(struct dgram *d, uint16_t type, const void *data, size_t n)
{
	struct nlattr	*a = (struct nlattr *)(d->b + d->len);

	a->nla_type = type;
	a->nla_len = (uint16_t)(NLA_HDRLEN + n);
	memcpy(d->b + d->len + NLA_HDRLEN, data, n);
	memset(d->b + d->len + NLA_HDRLEN + n, 0, NLA_ALIGN(n) - n);
	d->len += NLA_ALIGN(NLA_HDRLEN + n);
}

static void
attr_u32(struct dgram *d, uint16_t type, uint32_t v)
{
	v = htonl(v);
	attr(d, type, &v, sizeof(v));
}

static void
attr_hdr(struct dgram *d, uint32_t id, uint8_t hook)
{
	struct nfqnl_msg_packet_hdr	 ph;

	memset(&ph, 0, sizeof(ph));
	ph.packet_id = htonl(id);
	ph.hw_protocol = htons(0x0800);
	ph.hook = hook;
	attr(d, NFQA_PACKET_HDR, &ph, sizeof(ph));
}

static void
msg_end(struct dgram *d)
{
	struct nlmsghdr	*nlh = (struct nlmsghdr *)(d->b + d->msg);

	nlh->nlmsg_len = (uint32_t)(d->len - d->msg);
}

static const uint8_t	 payload[28] = { 0x45, 0, 0, 28 };

/* A packet message as the kernel sends it. */
static void
packet(struct dgram *d, uint32_t id)
{
	msg_begin(d, (NFNL_SUBSYS_QUEUE << 8) | NFQNL_MSG_PACKET, QUEUE);
	attr_hdr(d, id, NF_INET_FORWARD);
	attr_u32(d, NFQA_MARK, 0x10);
	attr_u32(d, NFQA_IFINDEX_INDEV, 3);
	attr_u32(d, NFQA_IFINDEX_OUTDEV, 4);
	attr_u32(d, NFQA_CAP_LEN, 1500);
	attr(d, NFQA_PAYLOAD, payload, sizeof(payload));
	msg_end(d);
}

static enum nqmsg
next(struct nqmsg_walk *w, struct nq_packet *p)
{
	const struct nlmsghdr	*nlh = NULL;

	return (nqmsg_next(w, p, &nlh));
}

/* ---- the tests ----------------------------------------------------------- */

/* Every field of a well-formed packet comes through. */
static void
test_packet(void **state)
{
	struct dgram		 d = { .len = 0 };
	struct nqmsg_walk	 w;
	struct nq_packet	 p;

	(void)state;
	packet(&d, 42);
	nqmsg_walk_init(&w, d.b, d.len, QUEUE);
	assert_int_equal(next(&w, &p), NQMSG_PACKET);
	assert_int_equal(p.id, 42);
	assert_false(p.malformed);
	assert_int_equal(p.len, sizeof(payload));
	assert_memory_equal(p.data, payload, sizeof(payload));
	assert_int_equal(p.origlen, 1500);
	assert_int_equal(p.ifin, 3);
	assert_int_equal(p.ifout, 4);
	assert_int_equal(p.mark, 0x10);
	assert_int_equal(p.hwproto, 0x0800);
	assert_int_equal(p.hook, PKT_HOOK_FORWARD);
	assert_int_equal(next(&w, &p), NQMSG_END);
	assert_int_equal(next(&w, &p), NQMSG_END);
}

/* A batch: several messages in a datagram, each once, in order. */
static void
test_batch(void **state)
{
	struct dgram		 d = { .len = 0 };
	struct nqmsg_walk	 w;
	struct nq_packet	 p;
	const struct nlmsghdr	*nlh;
	uint32_t		 i;

	(void)state;
	for (i = 1; i <= 20; i++)
		packet(&d, i);
	/* an NLMSG_NOOP in between is skipped, an error is handed back */
	msg_begin(&d, NLMSG_NOOP, 0);
	msg_end(&d);
	msg_begin(&d, NLMSG_ERROR, 0);
	msg_end(&d);
	packet(&d, 21);
	nqmsg_walk_init(&w, d.b, d.len, QUEUE);
	for (i = 1; i <= 20; i++) {
		assert_int_equal(next(&w, &p), NQMSG_PACKET);
		assert_int_equal(p.id, i);
		assert_false(p.malformed);
	}
	assert_int_equal(nqmsg_next(&w, &p, &nlh), NQMSG_ERROR);
	assert_ptr_not_equal(nlh, NULL);
	assert_int_equal(nlh->nlmsg_type, NLMSG_ERROR);
	assert_int_equal(next(&w, &p), NQMSG_PACKET);
	assert_int_equal(p.id, 21);
	assert_int_equal(next(&w, &p), NQMSG_END);
}

/* A bad attribute makes the packet malformed, never unanswered. */
static void
test_bad_attributes(void **state)
{
	struct dgram		 d;
	struct nqmsg_walk	 w;
	struct nq_packet	 p;
	uint16_t		 two = 0;
	int			 k;

	(void)state;
	for (k = 0; k < 5; k++) {
		memset(&d, 0, sizeof(d));
		msg_begin(&d, (NFNL_SUBSYS_QUEUE << 8) | NFQNL_MSG_PACKET,
		    k == 4 ? QUEUE + 1 : QUEUE);
		attr_hdr(&d, 100 + k, NF_INET_LOCAL_IN);
		if (k == 0)		/* a mark of two bytes */
			attr(&d, NFQA_MARK, &two, sizeof(two));
		if (k == 1)		/* an interface given twice */
			for (int j = 0; j < 2; j++)
				attr_u32(&d, NFQA_IFINDEX_INDEV, 3);
		if (k == 2)		/* the id given twice */
			attr_hdr(&d, 100 + k, NF_INET_LOCAL_IN);
		if (k != 3)		/* k 3: no payload */
			attr(&d, NFQA_PAYLOAD, payload, sizeof(payload));
		msg_end(&d);		/* k 4: another queue's */
		nqmsg_walk_init(&w, d.b, d.len, QUEUE);
		assert_int_equal(next(&w, &p), NQMSG_PACKET);
		assert_int_equal(p.id, 100 + k);
		assert_true(p.malformed);
		assert_int_equal(p.len, 0);
		assert_non_null(p.data);
		assert_int_equal(next(&w, &p), NQMSG_END);
	}

	/* an attribute newer than us is skipped */
	memset(&d, 0, sizeof(d));
	msg_begin(&d, (NFNL_SUBSYS_QUEUE << 8) | NFQNL_MSG_PACKET, QUEUE);
	attr_hdr(&d, 7, NF_INET_LOCAL_IN);
	attr_u32(&d, NFQA_MAX + 1, 1);
	attr(&d, NFQA_PAYLOAD, payload, sizeof(payload));
	msg_end(&d);
	nqmsg_walk_init(&w, d.b, d.len, QUEUE);
	assert_int_equal(next(&w, &p), NQMSG_PACKET);
	assert_false(p.malformed);
	assert_int_equal(p.origlen, sizeof(payload));	/* no CAP_LEN */
}

/* No readable id: nothing to answer, and the walk goes on. */
static void
test_missing_id(void **state)
{
	struct dgram		 d = { .len = 0 };
	struct nqmsg_walk	 w;
	struct nq_packet	 p;
	uint16_t		 two = 0x1234;

	(void)state;
	msg_begin(&d, (NFNL_SUBSYS_QUEUE << 8) | NFQNL_MSG_PACKET, QUEUE);
	attr(&d, NFQA_PAYLOAD, payload, sizeof(payload));
	msg_end(&d);
	msg_begin(&d, (NFNL_SUBSYS_QUEUE << 8) | NFQNL_MSG_PACKET, QUEUE);
	attr(&d, NFQA_PACKET_HDR, &two, sizeof(two));	/* id cut */
	msg_end(&d);
	packet(&d, 9);
	nqmsg_walk_init(&w, d.b, d.len, QUEUE);
	assert_int_equal(next(&w, &p), NQMSG_NOID);
	assert_int_equal(next(&w, &p), NQMSG_NOID);
	assert_int_equal(next(&w, &p), NQMSG_PACKET);
	assert_int_equal(p.id, 9);
	assert_int_equal(next(&w, &p), NQMSG_END);
}

/* Torn messages, a message of a type not ours, a short nfgenmsg. */
static void
test_truncated_messages(void **state)
{
	struct dgram		 d = { .len = 0 };
	struct nqmsg_walk	 w;
	struct nq_packet	 p;
	struct nlmsghdr		*nlh;
	size_t			 full, cut;

	(void)state;
	packet(&d, 1);
	full = d.len;
	packet(&d, 2);
	/* the second cut anywhere: the first still comes, then one BAD */
	for (cut = full + 1; cut < d.len; cut++) {
		nqmsg_walk_init(&w, d.b, cut, QUEUE);
		assert_int_equal(next(&w, &p), NQMSG_PACKET);
		assert_int_equal(p.id, 1);
		assert_int_equal(next(&w, &p), NQMSG_BAD);
		assert_int_equal(next(&w, &p), NQMSG_END);
	}
	/* a length that runs past the datagram */
	nlh = (struct nlmsghdr *)(d.b + full);
	nlh->nlmsg_len += 4;
	nqmsg_walk_init(&w, d.b, d.len, QUEUE);
	assert_int_equal(next(&w, &p), NQMSG_PACKET);
	assert_int_equal(next(&w, &p), NQMSG_BAD);
	assert_int_equal(next(&w, &p), NQMSG_END);
	/* a length shorter than a header */
	nlh->nlmsg_len = 8;
	nqmsg_walk_init(&w, d.b, d.len, QUEUE);
	assert_int_equal(next(&w, &p), NQMSG_PACKET);
	assert_int_equal(next(&w, &p), NQMSG_BAD);
	assert_int_equal(next(&w, &p), NQMSG_END);

	/* not a packet message; a packet message with no room for nfgenmsg */
	memset(&d, 0, sizeof(d));
	msg_begin(&d, (NFNL_SUBSYS_QUEUE << 8) | NFQNL_MSG_CONFIG, QUEUE);
	msg_end(&d);
	msg_begin(&d, (NFNL_SUBSYS_QUEUE << 8) | NFQNL_MSG_PACKET, QUEUE);
	msg_end(&d);
	((struct nlmsghdr *)(d.b + d.msg))->nlmsg_len = NLMSG_HDRLEN;
	nqmsg_walk_init(&w, d.b, d.len, QUEUE);
	assert_int_equal(next(&w, &p), NQMSG_BAD);
	assert_int_equal(next(&w, &p), NQMSG_BAD);
	/* the 4 bytes of nfgenmsg the short one left are a torn message */
	assert_int_equal(next(&w, &p), NQMSG_BAD);
	assert_int_equal(next(&w, &p), NQMSG_END);

	/* an attribute that runs past its message ends the attributes */
	memset(&d, 0, sizeof(d));
	msg_begin(&d, (NFNL_SUBSYS_QUEUE << 8) | NFQNL_MSG_PACKET, QUEUE);
	attr_hdr(&d, 5, NF_INET_LOCAL_IN);
	attr(&d, NFQA_PAYLOAD, payload, sizeof(payload));
	msg_end(&d);
	((struct nlattr *)(d.b + NLMSG_HDRLEN + 4 + 12))->nla_len = 200;
	nqmsg_walk_init(&w, d.b, d.len, QUEUE);
	assert_int_equal(next(&w, &p), NQMSG_PACKET);
	assert_int_equal(p.id, 5);
	assert_true(p.malformed);	/* no payload seen */
}

/* A datagram longer than its slot: answered if its id came. */
static void
test_cut_datagram(void **state)
{
	struct dgram		 d = { .len = 0 };
	struct nq_packet	 p;
	size_t			 cut, idend;

	(void)state;
	packet(&d, 77);
	/* the id ends 4 bytes into the header attribute's payload */
	idend = NLMSG_HDRLEN + 4 + NLA_HDRLEN + 4;
	for (cut = 0; cut < d.len; cut++) {
		memset(&p, 0xff, sizeof(p));
		if (cut < NLMSG_HDRLEN + 4 + NLA_HDRLEN +
		    sizeof(struct nfqnl_msg_packet_hdr)) {
			/* the attribute itself must have come whole */
			assert_int_equal(nqmsg_truncated(d.b, cut, &p), 0);
			continue;
		}
		assert_true(cut >= idend);
		assert_int_equal(nqmsg_truncated(d.b, cut, &p), 1);
		assert_int_equal(p.id, 77);
		assert_true(p.malformed);
		assert_int_equal(p.len, 0);
	}
	/* not a packet message */
	((struct nlmsghdr *)d.b)->nlmsg_type = NLMSG_ERROR;
	assert_int_equal(nqmsg_truncated(d.b, d.len, &p), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_packet),
		cmocka_unit_test(test_batch),
		cmocka_unit_test(test_bad_attributes),
		cmocka_unit_test(test_missing_id),
		cmocka_unit_test(test_truncated_messages),
		cmocka_unit_test(test_cut_datagram),
	};

	return (cmocka_run_group_tests(tests, NULL, NULL));
}
