/*
 * fuzz_statefile.c - libFuzzer target: the state file's reader
 *
 * Copyright (C) 2026 The nfqspid authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * nfqspid reads [daemon] state_file at start, whatever a crash, a full
 * disk or a person left there: state_check() must survive any bytes and
 * take a file only if every record in it is one the table can hold.
 * The first input byte picks how the rest is fed to it:
 *   0  as it is
 *   1  as messages, each a big-endian u16 length and that many bytes of
 *      header and body, given the right magic, version, length and MAC
 *      (the file's key is no secret), so that the order, the counts and
 *      the records get fuzzed too
 * Messages are sealed here with the bare key and checked by
 * state_check() with the ready one (state_mac_new()).  A file that is
 * taken is read back record by record, written again with
 * state_write_*() and read again: the same records, and every message
 * of it checks with the bare key too.  Broken invariants abort().
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "statefile.h"
#include "fuzz.h"

#define FILE_MAX	(64 * 1024)

struct mem {
	uint8_t		 buf[FILE_MAX + SYNC_MSG_MAX];
	size_t		 len;
};

static int
mem_out(void *arg, const void *buf, size_t len)
{
	struct mem	*m = arg;

	if (len > sizeof(m->buf) - m->len)
		return (-1);
	memcpy(m->buf + m->len, buf, len);
	m->len += len;
	return (0);
}

static uint64_t
be(const uint8_t *p, int n)
{
	uint64_t	 v = 0;

	while (n-- > 0)
		v = v << 8 | *p++;
	return (v);
}

/* Mode 1: the chunks as sealed messages into f. */
static void
build(const uint8_t *data, size_t size, const struct sync_key *k,
    struct mem *f)
{
	struct sync_hdr	 h;
	uint8_t		*p;
	size_t		 n, len;

	f->len = 0;
	while (size >= 2) {
		n = (size_t)be(data, 2);
		data += 2;
		size -= 2;
		if (n > size)
			n = size;
		len = n + SYNC_MACLEN;
		if (n < SYNC_HDRLEN || len > SYNC_MSG_MAX ||
		    len > FILE_MAX - f->len) {
			data += n;
			size -= n;
			continue;
		}
		p = f->buf + f->len;
		memcpy(p, data, n);
		p[0] = 0x4e; p[1] = 0x51; p[2] = 0x53; p[3] = 0x59;
		p[4] = SYNC_VERSION;
		p[6] = (uint8_t)(len >> 8);
		p[7] = (uint8_t)len;
		memset(&h, 0, sizeof(h));
		h.seq = (uint32_t)be(p + 12, 4);
		h.ack = (uint32_t)be(p + 16, 4);
		h.epoch = be(p + 20, 8);
		h.msgno = be(p + 28, 8);
		(void)sync_reseal(p, len, &h, k);
		f->len += len;
		data += n;
		size -= n;
	}
}

/* Every message of f checks with the bare key k, as sync_msg_parse()
   did for the file before the ready key. */
static void
check_bare(const struct mem *f, const struct sync_key *k)
{
	struct sync_hdr	 h;
	size_t		 off, len;

	for (off = 0; off < f->len; off += len) {
		CHECK(f->len - off >= SYNC_HDRLEN);
		len = (size_t)be(f->buf + off + 6, 2);
		CHECK(len >= SYNC_MSG_MIN && len <= f->len - off);
		CHECK(sync_msg_parse(f->buf + off, len, k, &h) == SYNC_OK);
	}
}

/* A file state_check() took: read, written again, read again. */
static void
check_again(const struct mem *f, const struct state_info *si,
    struct sync_mac *mac, const struct sync_key *k)
{
	static struct state_writer sw;
	static struct mem	 out;
	struct state_info	 si2;
	struct state_iter	 it, it2;
	struct sync_rec		 r, r2;
	uint32_t		 w, w2, n = 0;
	char			 err[256];

	CHECK(si->nworkers > 0 && si->messages >= 2);
	state_iter_init(&it, f->buf, f->len, mac);
	out.len = 0;
	CHECK(state_write_begin(&sw, mac, si->written_ms, si->nworkers,
	    mem_out, &out) == 0);
	while (state_iter_next(&it, &r, &w)) {
		CHECK(w < si->nworkers);
		CHECK(r.op == SYNC_OP_UPSERT);
		CHECK(ct_snap_check(&r.s) == 0);
		CHECK(memchr(r.rule, '\0', sizeof(r.rule)) != NULL);
		CHECK(state_write_conn(&sw, w, &r.s, r.rule) == 0);
		n++;
	}
	CHECK(n == si->records);
	CHECK(state_write_end(&sw) == 0);
	CHECK(state_check(out.buf, out.len, mac, &si2, err, sizeof(err)) ==
	    0);
	CHECK(si2.records == n && si2.nworkers == si->nworkers &&
	    si2.written_ms == si->written_ms);
	check_bare(&out, k);
	state_iter_init(&it, f->buf, f->len, mac);
	state_iter_init(&it2, out.buf, out.len, mac);
	while (state_iter_next(&it, &r, &w)) {
		CHECK(state_iter_next(&it2, &r2, &w2));
		CHECK(w == w2 && strcmp(r.rule, r2.rule) == 0);
		CHECK(memcmp(&r.s, &r2.s, sizeof(r.s)) == 0);
	}
	CHECK(!state_iter_next(&it2, &r2, &w2));
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct mem	 f;
	static struct sync_key	 k;
	static struct sync_mac	*mac;
	struct state_info	 si;
	char			 err[256];

	if (mac == NULL) {
		CHECK(state_key_init(&k) == 0);
		CHECK((mac = state_mac_new()) != NULL);
	}
	if (size < 1)
		return (0);
	if (data[0] == 1)
		build(data + 1, size - 1, &k, &f);
	else {
		f.len = size - 1 < FILE_MAX ? size - 1 : FILE_MAX;
		memcpy(f.buf, data + 1, f.len);
	}
	err[0] = '\0';
	if (state_check(f.buf, f.len, mac, &si, err, sizeof(err)) == 0)
		check_again(&f, &si, mac, &k);
	else
		CHECK(err[0] != '\0');
	return (0);
}
