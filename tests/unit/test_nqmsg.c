/*
 * test_nqmsg.c - cmocka tests for nqmsg.c: NFQUEUE's messages read from
 * datagrams built here (nlbuild.c) as the kernel writes them
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
#include "nlbuild.h"

#define QUEUE	7
#define PKTMSG	((NFNL_SUBSYS_QUEUE << 8) | NFQNL_MSG_PACKET)

/* ---- building datagrams ------------------------------------------------ */

/* a message to queue res_id, as the kernel opens it */
static void
msg_begin(struct nlb *d, uint16_t type, uint16_t res_id)
{
	(void)nlb_nfmsg(d, type, 0, 0, AF_INET, res_id);
}

static void
attr_hdr(struct nlb *d, uint32_t id, uint8_t hook)
{
	struct nfqnl_msg_packet_hdr	 ph;

	memset(&ph, 0, sizeof(ph));
	ph.packet_id = htonl(id);
	ph.hw_protocol = htons(0x0800);
	ph.hook = hook;
	nlb_attr(d, NFQA_PACKET_HDR, &ph, sizeof(ph));
}

static const uint8_t	 payload[28] = { 0x45, 0, 0, 28 };

/* A packet message as the kernel sends it. */
static void
packet(struct nlb *d, uint32_t id)
{
	msg_begin(d, PKTMSG, QUEUE);
	attr_hdr(d, id, NF_INET_FORWARD);
	nlb_u32(d, NFQA_MARK, 0x10);
	nlb_u32(d, NFQA_IFINDEX_INDEV, 3);
	nlb_u32(d, NFQA_IFINDEX_OUTDEV, 4);
	nlb_u32(d, NFQA_CAP_LEN, 1500);
	nlb_attr(d, NFQA_PAYLOAD, payload, sizeof(payload));
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
	struct nlb		 d = { .len = 0 };
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
	struct nlb		 d = { .len = 0 };
	struct nqmsg_walk	 w;
	struct nq_packet	 p;
	const struct nlmsghdr	*nlh;
	uint32_t		 i;

	(void)state;
	for (i = 1; i <= 20; i++)
		packet(&d, i);
	/* an NLMSG_NOOP in between is skipped, an error is handed back */
	msg_begin(&d, NLMSG_NOOP, 0);
	msg_begin(&d, NLMSG_ERROR, 0);
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
	struct nlb		 d;
	struct nqmsg_walk	 w;
	struct nq_packet	 p;
	uint16_t		 two = 0;
	int			 k;

	(void)state;
	for (k = 0; k < 5; k++) {
		nlb_reset(&d);
		/* k 4: another queue's */
		msg_begin(&d, PKTMSG, k == 4 ? QUEUE + 1 : QUEUE);
		attr_hdr(&d, 100 + k, NF_INET_LOCAL_IN);
		if (k == 0)		/* a mark of two bytes */
			nlb_attr(&d, NFQA_MARK, &two, sizeof(two));
		if (k == 1)		/* an interface given twice */
			for (int j = 0; j < 2; j++)
				nlb_u32(&d, NFQA_IFINDEX_INDEV, 3);
		if (k == 2)		/* the id given twice */
			attr_hdr(&d, 100 + k, NF_INET_LOCAL_IN);
		if (k != 3)		/* k 3: no payload */
			nlb_attr(&d, NFQA_PAYLOAD, payload, sizeof(payload));
		nqmsg_walk_init(&w, d.b, d.len, QUEUE);
		assert_int_equal(next(&w, &p), NQMSG_PACKET);
		assert_int_equal(p.id, 100 + k);
		assert_true(p.malformed);
		assert_int_equal(p.len, 0);
		assert_non_null(p.data);
		assert_int_equal(next(&w, &p), NQMSG_END);
	}

	/* an attribute newer than us is skipped */
	nlb_reset(&d);
	msg_begin(&d, PKTMSG, QUEUE);
	attr_hdr(&d, 7, NF_INET_LOCAL_IN);
	nlb_u32(&d, NFQA_MAX + 1, 1);
	nlb_attr(&d, NFQA_PAYLOAD, payload, sizeof(payload));
	nqmsg_walk_init(&w, d.b, d.len, QUEUE);
	assert_int_equal(next(&w, &p), NQMSG_PACKET);
	assert_false(p.malformed);
	assert_int_equal(p.origlen, sizeof(payload));	/* no CAP_LEN */
}

/* No readable id: nothing to answer, and the walk goes on. */
static void
test_missing_id(void **state)
{
	struct nlb		 d = { .len = 0 };
	struct nqmsg_walk	 w;
	struct nq_packet	 p;
	uint16_t		 two = 0x1234;

	(void)state;
	msg_begin(&d, PKTMSG, QUEUE);
	nlb_attr(&d, NFQA_PAYLOAD, payload, sizeof(payload));
	msg_begin(&d, PKTMSG, QUEUE);
	nlb_attr(&d, NFQA_PACKET_HDR, &two, sizeof(two));	/* id cut */
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
	struct nlb		 d = { .len = 0 };
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
	nlb_reset(&d);
	msg_begin(&d, (NFNL_SUBSYS_QUEUE << 8) | NFQNL_MSG_CONFIG, QUEUE);
	msg_begin(&d, PKTMSG, QUEUE);
	((struct nlmsghdr *)(d.b + d.msg))->nlmsg_len = NLMSG_HDRLEN;
	nqmsg_walk_init(&w, d.b, d.len, QUEUE);
	assert_int_equal(next(&w, &p), NQMSG_BAD);
	assert_int_equal(next(&w, &p), NQMSG_BAD);
	/* the 4 bytes of nfgenmsg the short one left are a torn message */
	assert_int_equal(next(&w, &p), NQMSG_BAD);
	assert_int_equal(next(&w, &p), NQMSG_END);

	/* an attribute that runs past its message ends the attributes */
	nlb_reset(&d);
	msg_begin(&d, PKTMSG, QUEUE);
	attr_hdr(&d, 5, NF_INET_LOCAL_IN);
	nlb_attr(&d, NFQA_PAYLOAD, payload, sizeof(payload));
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
	struct nlb		 d = { .len = 0 };
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
