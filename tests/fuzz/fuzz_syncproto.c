/*
 * fuzz_syncproto.c - libFuzzer target: the sync message parser
 *
 * Copyright (C) 2026 The nfqspid authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * nfqspid runs sync_msg_parse() on whatever arrives on the sync link,
 * so it must survive any bytes.  The first input byte picks how the rest
 * is fed to it:
 *   0  as it is: what anyone on the link can send without the key
 *   1  with the length field and the MAC made right with the test key,
 *      so that the body checks and the records get fuzzed too: what a
 *      peer with the key (a buggy or newer one) could send
 *   2  pairs of (epoch, msgno) for sync_replay_check()
 * A message that parses is read back record by record and encoded again:
 * it must give the same bytes.  Broken invariants abort().
 */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "syncproto.h"
#include "fuzz.h"

static const char fuzz_secret[] = "the fuzzer's shared secret";

/* Read a parsed message back and build it again: the same bytes. */
static void
check_again(const uint8_t *buf, const struct sync_hdr *h,
    const struct sync_key *k)
{
	static uint8_t	 out[SYNC_MSG_MAX];
	struct sync_iter it;
	struct sync_rec	 r;
	struct sync_msg	 m;
	uint32_t	 f, l;
	size_t		 n = 0;

	CHECK(h->type > 0 && h->type < SYNC_T_MAX);
	CHECK(sync_msg_init(&m, out, sizeof(out), h->type) == 0);
	sync_iter_init(&it, buf, h);
	if (h->type == SYNC_T_UPDATE)
		for (; sync_iter_rec(&it, &r); n++) {
			CHECK(r.op == SYNC_OP_UPSERT || r.op == SYNC_OP_DELETE);
			CHECK(memchr(r.rule, '\0', sizeof(r.rule)) != NULL);
			if (r.op == SYNC_OP_UPSERT) {
				CHECK(ct_snap_check(&r.s) == 0);
				CHECK(sync_msg_add_conn(&m, &r.s, r.rule) == 0);
			} else
				CHECK(sync_msg_add_delete(&m, &r.s.k) == 0);
		}
	else if (h->type == SYNC_T_NACK)
		for (; sync_iter_range(&it, &f, &l); n++) {
			CHECK(l - f < 0x80000000u);
			CHECK(sync_msg_add_range(&m, f, l) == 0);
		}
	CHECK(n == h->count);
	CHECK(sync_msg_seal(&m, h, k) == h->length);
	CHECK(memcmp(out, buf, h->length) == 0);
}

static uint64_t
be(const uint8_t *p, int n)
{
	uint64_t	 v = 0;

	while (n-- > 0)
		v = v << 8 | *p++;
	return (v);
}

static void
fuzz_replay(const uint8_t *data, size_t len)
{
	struct sync_replay	 r;
	uint64_t		 e, n;
	int			 rc;

	memset(&r, 0, sizeof(r));
	for (; len >= 3; data += 3, len -= 3) {
		e = data[0] & 3;
		n = (uint64_t)data[1] << 8 | data[2];
		rc = sync_replay_check(&r, e, n);
		CHECK(rc >= -1 && rc <= 1);
		/* once taken, never again */
		if (rc >= 0)
			CHECK(sync_replay_check(&r, e, n) == -1);
		CHECK(r.top == 0 || (r.seen & 1));
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t	 buf[SYNC_MSG_MAX + 64];
	static struct sync_key k;
	static int	 keyed;
	struct sync_hdr	 h;
	size_t		 len;
	int		 rc;

	memset(&h, 0, sizeof(h));
	if (!keyed) {
		CHECK(sync_key_init(&k, fuzz_secret,
		    sizeof(fuzz_secret) - 1) == 0);
		keyed = 1;
	}
	if (size < 1)
		return (0);
	len = size - 1 < sizeof(buf) ? size - 1 : sizeof(buf);
	memcpy(buf, data + 1, len);
	switch (data[0]) {
	case 0:
		break;
	case 1:
		if (len < SYNC_MSG_MIN || len > SYNC_MSG_MAX)
			break;
		buf[6] = (uint8_t)(len >> 8);
		buf[7] = (uint8_t)len;
		/* sealed with the header's own numbers */
		h.seq = be(buf + 12, 4);
		h.ack = be(buf + 16, 4);
		h.epoch = be(buf + 20, 8);
		h.msgno = be(buf + 28, 8);
		sync_reseal(buf, len, &h, &k);
		break;
	default:
		fuzz_replay(data + 1, size - 1);
		return (0);
	}
	rc = sync_msg_parse(buf, len, &k, &h);
	CHECK(rc >= SYNC_OK && rc < SYNC_ERR_MAX);
	if (rc == SYNC_OK) {
		CHECK(h.length == len);
		check_again(buf, &h, &k);
	} else
		CHECK(rc != SYNC_EAUTH || data[0] == 0);
	return (0);
}
