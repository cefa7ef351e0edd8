/*
 * fuzz_fpmsg.c - libFuzzer target: the kernel's answers to the fast
 * path's requests through fpmsg.c
 *
 * Copyright (C) 2026 The nfqspid authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * A datagram of a set element dump and a datagram of batch acks: every
 * element handed on has a key no longer than FPMSG_KEYMAX, and one of
 * exactly a class's length reads back as a connection whose keys are
 * that key again; an answer never counts more acks than it holds
 * messages, but for one error that refuses the whole batch at its
 * BEGIN; no error comes back as 0.  ASan checks that nothing is read
 * outside the datagram.
 *
 * The answers to gets: every element carries the index of a get that
 * was sent, and no more gets are answered than the datagram holds
 * messages.
 *
 * Input: u8 mode (bit 0: acks; else bit 1: gets' answers; else a
 * dump), u32 sequence number (host order, as netlink's), then the
 * datagram.
 */
#include <sys/socket.h>
#include <linux/netlink.h>

#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "fpmsg.h"
#include "fuzz.h"

static int
elem_cb(const struct fpmsg_elem *e, void *arg)
{
	struct fp_conn	 c;
	uint8_t		 key[FPMSG_KEYMAX];
	int		 cls;

	CHECK(e->keylen <= FPMSG_KEYMAX);
	CHECK(e->dir == FPMSG_ORIG || e->dir == FPMSG_REPLY);
	for (cls = 0; cls < FPMSG_NCLASS; cls++) {
		if (fpmsg_key_conn(cls, e->key, e->keylen, e->dir, &c) == -1)
			continue;
		CHECK(e->keylen == fpmsg_keylen(cls));
		CHECK(fpmsg_key(&c, e->dir, key) == e->keylen);
		CHECK(memcmp(key, e->key, e->keylen) == 0);
	}
	(*(size_t *)arg)++;
	return (0);
}

static int
get_cb(const struct fpmsg_elem *e, void *arg)
{
	CHECK(e->req < 64);
	return (elem_cb(e, arg));
}

/* the messages in a datagram, each at least a header long */
static size_t
nmsgs(const uint8_t *b, size_t len)
{
	size_t		 off = 0, n = 0;
	uint32_t	 mlen;

	while (off + NLMSG_HDRLEN <= len) {
		memcpy(&mlen, b + off, sizeof(mlen));
		if (mlen < NLMSG_HDRLEN || mlen > len - off)
			break;
		n++;
		off += NLMSG_ALIGN(mlen);
	}
	return (n);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t	 buf[65536] __attribute__((aligned(4)));
	uint32_t	 seq;
	size_t		 len, n = 0;
	int		 rc, err = 0;

	if (size < 5)
		return (0);
	memcpy(&seq, data + 1, sizeof(seq));
	len = size - 5 < sizeof(buf) ? size - 5 : sizeof(buf);
	/* aligned, as a datagram read into the daemon's buffer is */
	memcpy(buf, data + 5, len);
	if (data[0] & 1) {
		rc = fpmsg_acks(buf, len, seq, 64, &err);
		/* all 64 answered by one error: the batch refused whole at
		   its BEGIN (seq - 1) */
		CHECK(rc == -1 || (size_t)rc <= nmsgs(buf, len) ||
		    (rc == 64 && nmsgs(buf, len) == 1 && err != 0));
		CHECK(err >= 0 && err <= 4095);
		if (rc == -1)
			CHECK(errno == EPROTO);
	} else if (data[0] & 2) {
		errno = 0;
		rc = fpmsg_get_parse(buf, len, seq, 64, get_cb, &n, &err);
		CHECK(rc == -1 || (size_t)rc <= nmsgs(buf, len));
		CHECK(err >= 0 && err <= 4095 && err != ENOENT);
		if (rc == -1)
			CHECK(errno != 0);
	} else {
		errno = 0;
		rc = fpmsg_dump_parse(buf, len, seq, elem_cb, &n);
		CHECK(rc >= -1 && rc <= 1);
		if (rc == -1)
			CHECK(errno != 0);
	}
	return (0);
}
