/*
 * test_statefile.c - [daemon] state_file: the format (statefile.c) and
 * the daemon's reading and writing of a real file (state.c), with the
 * workers and the log stubbed
 *
 * Copyright (C) 2026 The nfqspid authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <openssl/crypto.h>

#include "nfqspid.h"
#include "statefile.h"
#include "synclink.h"

/* ---- stubs: the log and the workers ------------------------------------ */

static char	 logbuf[8192];		/* every line, one after the other */

static void
logv(const char *fmt, va_list ap)
{
	size_t	 n = strlen(logbuf);

	vsnprintf(logbuf + n, sizeof(logbuf) - n, fmt, ap);
	n = strlen(logbuf);
	if (n + 1 < sizeof(logbuf)) {
		logbuf[n] = '\n';
		logbuf[n + 1] = '\0';
	}
}

#define LOGFN(name) void name(const char *fmt, ...)			\
{									\
	va_list	 ap;							\
	va_start(ap, fmt);						\
	logv(fmt, ap);							\
	va_end(ap);							\
}
LOGFN(log_warn)
LOGFN(log_warnx)
LOGFN(log_info)
LOGFN(log_debug)

#define MAXREC	4096

/* A worker is its id and a table: the records in it. */
struct worker {
	unsigned	 id;
	size_t		 n;
	int		 full;		/* refuses every import */
	struct sync_rec	 rec[MAXREC];
	int		 unseen[MAXREC];
};

int
worker_state_import(struct worker *w, struct sync_rec *r, int unseen)
{
	if (w->full || w->n == MAXREC)
		return (0);
	w->unseen[w->n] = unseen;
	w->rec[w->n++] = *r;
	return (1);
}

static unsigned	 judged;		/* worker_state_judge()'s calls */

void
worker_state_judge(struct worker **all, unsigned n)
{
	(void)all;
	(void)n;
	judged++;
}

ssize_t
worker_state_save(struct worker *w, struct state_writer *sw, uint32_t id)
{
	size_t	 i;

	for (i = 0; i < w->n; i++)
		if (state_write_conn(sw, id, &w->rec[i].s,
		    w->rec[i].rule) == -1)
			return (errno == EFBIG ? (ssize_t)i : -1);
	return ((ssize_t)w->n);
}

/* ---- helpers ------------------------------------------------------------ */

/* the ready key of the files the tests write and check */
static struct sync_mac	*fmac;

/* libcrypto's allocations, counted once main() has hooked them */
static int	 hooked;
static size_t	 nalloc;

static void *
count_malloc(size_t n, const char *file, int line)
{
	(void)file;
	(void)line;
	nalloc++;
	return (malloc(n));
}

static void *
count_realloc(void *p, size_t n, const char *file, int line)
{
	(void)file;
	(void)line;
	nalloc++;
	return (realloc(p, n));
}

static void
count_free(void *p, const char *file, int line)
{
	(void)file;
	(void)line;
	free(p);
}

static uint64_t
wall_ms(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return ((uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000);
}

/* Connection i: TCP or UDP, IPv4 or IPv6, a rule name or none. */
static struct sync_rec
rec(unsigned i, uint32_t left_ms)
{
	struct sync_rec	 r;
	char		 a[64];

	memset(&r, 0, sizeof(r));
	r.op = SYNC_OP_UPSERT;
	r.s.k.family = i % 3 == 0 ? AF_INET6 : AF_INET;
	r.s.k.proto = i % 2 ? IPPROTO_UDP : IPPROTO_TCP;
	snprintf(a, sizeof(a), r.s.k.family == AF_INET ? "10.1.%u.%u" :
	    "2001:db8::%x:%x", i / 256, i % 256);
	assert_int_equal(inet_pton(r.s.k.family, a, &r.s.k.src), 1);
	assert_int_equal(inet_pton(r.s.k.family, r.s.k.family == AF_INET ?
	    "192.0.2.1" : "2001:db8:ffff::1", &r.s.k.dst), 1);
	r.s.k.sport = (uint16_t)(20000 + i);
	r.s.k.dport = 443;
	if (r.s.k.proto == IPPROTO_TCP) {
		r.s.state = 3;		/* ESTABLISHED */
		r.s.tclass = CT_TO_TCP_ESTABLISHED;
		r.s.tcp.end[0] = 1000 + i;
		r.s.tcp.maxwin[1] = 65535;
		r.s.tcp.scale[0] = 7;
	} else
		r.s.tclass = CT_TO_UDP_STREAM;
	r.s.flags = CT_SNAP_SEEN_REPLY | CT_SNAP_ASSURED;
	r.s.hook = PKT_HOOK_FORWARD;
	r.s.mark = i;
	r.s.left_ms = left_ms;
	r.s.age_s = i;
	r.s.packets = 10 + i;
	if (i % 4 == 1)
		snprintf(r.rule, sizeof(r.rule), "rule-%u", i);
	return (r);
}

struct mem {
	uint8_t		*buf;
	size_t		 len;
	size_t		 cap;
};

static int
mem_out(void *arg, const void *buf, size_t len)
{
	struct mem	*m = arg;

	if (m->len + len > m->cap) {
		m->cap = (m->len + len) * 2;
		assert_non_null(m->buf = realloc(m->buf, m->cap));
	}
	memcpy(m->buf + m->len, buf, len);
	m->len += len;
	return (0);
}

/* A file of n records over nw workers (record i in worker i % nw),
   written at written_ms with mac, into m. */
static void
make_file_mac(struct mem *m, struct sync_mac *mac, uint64_t written_ms,
    uint32_t nw, unsigned n, uint32_t left_ms)
{
	static struct state_writer sw;
	struct sync_rec	 r;
	unsigned	 i, w;

	memset(m, 0, sizeof(*m));
	assert_int_equal(state_write_begin(&sw, mac, written_ms, nw, mem_out,
	    m), 0);
	/* worker by worker, as the daemon writes */
	for (w = 0; w < nw; w++)
		for (i = w; i < n; i += nw) {
			r = rec(i, left_ms);
			assert_int_equal(state_write_conn(&sw, w, &r.s, r.rule),
			    0);
		}
	assert_int_equal(state_write_end(&sw), 0);
}

static void
make_file(struct mem *m, uint64_t written_ms, uint32_t nw, unsigned n,
    uint32_t left_ms)
{
	make_file_mac(m, fmac, written_ms, nw, n, left_ms);
}

static int
check(const struct mem *m, struct state_info *si, char *err, size_t len)
{
	return (state_check(m->buf, m->len, fmac, si, err, len));
}

/* ---- the format --------------------------------------------------------- */

static void
test_roundtrip(void **state)
{
	struct state_info si;
	struct state_iter it;
	struct sync_rec	 r, want;
	struct mem	 m;
	char		 err[256];
	uint32_t	 w;
	unsigned	 n = 0, i, seen[3] = { 0, 0, 0 };

	(void)state;
	/* 1000 records: several UPDATEs per worker */
	make_file(&m, 1234567890123ull, 3, 1000, 60000);
	assert_int_equal(check(&m, &si, err, sizeof(err)), 0);
	assert_int_equal(si.written_ms, 1234567890123ull);
	assert_int_equal(si.nworkers, 3);
	assert_int_equal(si.records, 1000);
	assert_true(si.messages > 5);
	state_iter_init(&it, m.buf, m.len, fmac);
	while (state_iter_next(&it, &r, &w)) {
		assert_true(w < 3);
		/* worker w holds w, w + 3, ... in order */
		i = w + 3 * seen[w]++;
		want = rec(i, 60000);
		assert_memory_equal(&r.s, &want.s, sizeof(r.s));
		assert_string_equal(r.rule, want.rule);
		n++;
	}
	assert_int_equal(n, 1000);
	free(m.buf);

	/* no connection at all: a header and a trailer */
	make_file(&m, 5, 1, 0, 0);
	assert_int_equal(check(&m, &si, err, sizeof(err)), 0);
	assert_int_equal(si.records, 0);
	assert_int_equal(si.messages, 2);
	free(m.buf);
}

/*
 * A file of 2 workers' 3 records written at 1796040000000 ms, as the
 * code before the ready key wrote it (HMAC() with the bare key, message
 * by message): written now, the same bytes; read now, the same records.
 */
static const uint8_t old_file[] = {
	0x4e, 0x51, 0x53, 0x59, 0x01, 0x02, 0x00, 0x44, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x01, 0xa2,
	0x2c, 0x53, 0x82, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01,
	0x94, 0x0b, 0xcd, 0x94, 0xdc, 0x4c, 0xb5, 0xb0, 0x4d, 0xb0, 0x32, 0x89,
	0x82, 0x62, 0x75, 0x3a, 0xb1, 0x2d, 0x03, 0x83, 0x6a, 0x93, 0x20, 0x6d,
	0x4f, 0xd9, 0x22, 0xf1, 0x99, 0xd5, 0xf2, 0x21, 0x4e, 0x51, 0x53, 0x59,
	0x01, 0x01, 0x01, 0x16, 0x00, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0xa2, 0x2c, 0x53, 0x82, 0x00,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02, 0x01, 0x06, 0x06, 0x03,
	0x03, 0x03, 0x02, 0x00, 0x20, 0x01, 0x0d, 0xb8, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x20, 0x01, 0x0d, 0xb8,
	0xff, 0xff, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01,
	0x4e, 0x20, 0x01, 0xbb, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xea, 0x60,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x0a, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x03, 0xe8, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xff, 0xff,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x07, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x04, 0x06, 0x03, 0x03, 0x03, 0x02,
	0x00, 0x0a, 0x01, 0x00, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x00, 0x00, 0xc0, 0x00, 0x02, 0x01, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x4e, 0x22, 0x01,
	0xbb, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0xea, 0x60, 0x00, 0x00, 0x00,
	0x02, 0x00, 0x00, 0x00, 0x0c, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x03,
	0xea, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xff, 0xff, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x07, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x54, 0x0e, 0x09, 0xe8, 0x1d, 0x4f, 0xa8, 0x40, 0x67, 0xfc,
	0xbc, 0x9d, 0x05, 0x1a, 0x4c, 0x15, 0x9b, 0x63, 0x18, 0xbd, 0xcb, 0x43,
	0x3d, 0x7f, 0x70, 0xeb, 0x12, 0x64, 0xa6, 0x27, 0x61, 0x6f, 0x4e, 0x51,
	0x53, 0x59, 0x01, 0x01, 0x00, 0xb3, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0xa2, 0x2c, 0x53,
	0x82, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x03, 0x01, 0x04,
	0x11, 0x00, 0x03, 0x03, 0x0c, 0x00, 0x0a, 0x01, 0x00, 0x01, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xc0, 0x00,
	0x02, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x4e, 0x21, 0x01, 0xbb, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00,
	0xea, 0x60, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x0b, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x06, 0x72, 0x75, 0x6c, 0x65, 0x2d,
	0x31, 0x5e, 0xae, 0x39, 0x3f, 0x92, 0x6f, 0xa7, 0x40, 0x19, 0x03, 0xee,
	0x86, 0x47, 0xfa, 0x64, 0x8d, 0xef, 0x16, 0x56, 0xf7, 0xb1, 0x27, 0xf5,
	0x60, 0xc3, 0xee, 0x34, 0xcc, 0x53, 0xb8, 0xdd, 0x90, 0x4e, 0x51, 0x53,
	0x59, 0x01, 0x03, 0x00, 0x44, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x03, 0x00, 0x00, 0x00, 0x04, 0x00, 0x00, 0x01, 0xa2, 0x2c, 0x53, 0x82,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x04, 0x24, 0x8d, 0xd0,
	0xd5, 0xa6, 0x48, 0x28, 0xd3, 0x77, 0x84, 0x28, 0xf5, 0x54, 0x75, 0x6c,
	0x0b, 0x6a, 0x14, 0x91, 0xf3, 0x8f, 0x72, 0x13, 0x52, 0x59, 0xd9, 0x0f,
	0xcd, 0x50, 0xb5, 0x4b, 0x4f,
};

static void
test_vector(void **state)
{
	struct state_info si;
	struct state_iter it;
	struct sync_key	 k;
	struct sync_hdr	 h;
	struct sync_rec	 r, want;
	struct mem	 m;
	char		 err[256] = "";
	size_t		 off, mlen;
	uint32_t	 w;
	unsigned	 n = 0, order[3] = { 0, 2, 1 };

	(void)state;
	make_file(&m, 1796040000000ull, 2, 3, 60000);
	assert_int_equal(m.len, sizeof(old_file));
	assert_memory_equal(m.buf, old_file, sizeof(old_file));
	/* each message of it checks with the bare key, as the old reader
	   checked them */
	assert_int_equal(state_key_init(&k), 0);
	for (off = 0; off < m.len; off += mlen) {
		mlen = (size_t)m.buf[off + 6] << 8 | m.buf[off + 7];
		assert_int_equal(sync_msg_parse(m.buf + off, mlen, &k, &h),
		    SYNC_OK);
	}
	free(m.buf);

	if (state_check(old_file, sizeof(old_file), fmac, &si, err,
	    sizeof(err)) == -1)
		fail_msg("%s", err);
	assert_int_equal(si.written_ms, 1796040000000ull);
	assert_int_equal(si.nworkers, 2);
	assert_int_equal(si.records, 3);
	assert_int_equal(si.messages, 4);
	state_iter_init(&it, old_file, sizeof(old_file), fmac);
	while (state_iter_next(&it, &r, &w)) {
		assert_true(n < 3);
		want = rec(order[n], 60000);
		assert_int_equal(w, order[n] % 2);
		assert_memory_equal(&r.s, &want.s, sizeof(r.s));
		assert_string_equal(r.rule, want.rule);
		n++;
	}
	assert_int_equal(n, 3);
}

/*
 * A dump and a load (check, then read) of a file take one ready key:
 * the three passes over its messages allocate in libcrypto less than
 * half of what they cost with the bare key, which sets HMAC up again
 * for each message (a fetch and a dozen contexts).  One pass with the
 * bare key is measured: sealing costs what checking does.
 */
static void
test_mac_allocs(void **state)
{
	struct state_info si;
	struct state_iter it;
	struct sync_mac	*mac;
	struct sync_key	 k;
	struct sync_hdr	 h;
	struct sync_rec	 r;
	struct mem	 m;
	char		 err[256] = "";
	size_t		 ready, bare, off, mlen;
	uint32_t	 w;
	unsigned	 n = 0;

	(void)state;
	if (!hooked)
		skip();
	nalloc = 0;
	assert_non_null(mac = state_mac_new());
	make_file_mac(&m, mac, 99, 2, 8000, 60000);
	if (state_check(m.buf, m.len, mac, &si, err, sizeof(err)) == -1)
		fail_msg("%s", err);
	state_iter_init(&it, m.buf, m.len, mac);
	while (state_iter_next(&it, &r, &w))
		n++;
	sync_mac_free(mac);
	ready = nalloc;
	assert_int_equal(n, 8000);
	assert_true(si.messages > 80);

	assert_int_equal(state_key_init(&k), 0);
	nalloc = 0;
	for (off = 0; off < m.len; off += mlen) {
		mlen = (size_t)m.buf[off + 6] << 8 | m.buf[off + 7];
		assert_int_equal(sync_msg_parse(m.buf + off, mlen, &k, &h),
		    SYNC_OK);
	}
	bare = nalloc;
	free(m.buf);
	printf("libcrypto: %zu allocations for %u messages in three passes "
	    "with the ready key, %zu in one with the bare key\n", ready,
	    si.messages, bare);
	if (ready * 2 >= 3 * bare)
		fail_msg("%zu allocations for %u messages in three passes, "
		    "%zu in one with the bare key", ready, si.messages, bare);
}

static void
test_writer_refuses(void **state)
{
	static struct state_writer sw;
	struct sync_rec	 r = rec(0, 1000);
	struct mem	 m;

	(void)state;
	memset(&m, 0, sizeof(m));
	assert_int_equal(state_write_begin(&sw, fmac, 1, 0, mem_out, &m), -1);
	assert_int_equal(errno, EINVAL);
	/* state_mac_new() failed */
	assert_int_equal(state_write_begin(&sw, NULL, 1, 2, mem_out, &m), -1);
	assert_int_equal(errno, ENOMEM);
	assert_int_equal(m.len, 0);
	assert_int_equal(state_write_begin(&sw, fmac, 1, 2, mem_out, &m), 0);
	assert_int_equal(state_write_conn(&sw, 2, &r.s, ""), -1);
	assert_int_equal(errno, EINVAL);
	r.s.tclass = CT_TO_MAX;
	assert_int_equal(state_write_conn(&sw, 0, &r.s, ""), -1);
	r = rec(0, 1000);
	assert_int_equal(state_write_conn(&sw, 0, &r.s, "bad name"), -1);
	free(m.buf);
}

/* A table larger than a file may be (STATE_FILE_MAX: more than 4
   million records; [conntrack] max allows 64 Mi a worker): the writer
   stops short of the cap, and the file is still good.  Written past
   it, the next start refused the whole file. */
static void
test_writer_full(void **state)
{
	static struct state_writer sw;
	struct state_info si;
	struct sync_rec	 r;
	struct mem	 m;
	char		 err[256] = "";
	unsigned	 i, n = 0;

	(void)state;
	memset(&m, 0, sizeof(m));
	assert_int_equal(state_write_begin(&sw, fmac, 1, 2, mem_out, &m), 0);
	assert_int_equal(sw.max, STATE_FILE_MAX);
	sw.max = 65536;			/* as STATE_FILE_MAX, smaller */
	for (i = 0; i < 2000; i++) {
		r = rec(i, 60000);
		if (state_write_conn(&sw, i % 2, &r.s, r.rule) == 0) {
			assert_int_equal(sw.full, 0);
			n++;
			continue;
		}
		assert_int_equal(errno, EFBIG);
		assert_int_equal(sw.full, 1);
	}
	assert_true(n > 100 && n < 2000);
	assert_int_equal(state_write_end(&sw), 0);
	assert_true(m.len <= 65536);
	assert_true(m.len > 65536 - 3 * SYNC_MSG_MAX);
	if (check(&m, &si, err, sizeof(err)) == -1)
		fail_msg("%s", err);
	assert_int_equal(si.records, n);
	free(m.buf);
}

static void
expect_bad(const uint8_t *buf, size_t len, const char *why)
{
	struct state_info si;
	char		 err[256] = "";

	assert_int_equal(state_check(buf, len, fmac, &si, err, sizeof(err)),
	    -1);
	if (strstr(err, why) == NULL)
		fail_msg("\"%s\" does not say \"%s\"", err, why);
}

/* Every cut of a file, at each message's end and inside it, is
   refused whole. */
static void
test_torn(void **state)
{
	struct mem	 m;
	size_t		 off, mlen, cut;

	(void)state;
	make_file(&m, 99, 2, 300, 60000);
	for (off = 0; off < m.len; off += mlen) {
		mlen = (size_t)m.buf[off + 6] << 8 | m.buf[off + 7];
		for (cut = off; cut < off + mlen; cut += mlen / 7 + 1)
			expect_bad(m.buf, cut, cut == 0 ? "empty" :
			    cut == off ? "ends before its trailer" :
			    "ends inside message");
		expect_bad(m.buf, off + mlen - 1, "ends inside message");
	}
	/* a byte changed anywhere: its MAC fails */
	m.buf[m.len / 2] ^= 0x40;
	expect_bad(m.buf, m.len, "forged");
	free(m.buf);
}

/* The messages of another file (another epoch), or out of order. */
static void
test_spliced(void **state)
{
	struct mem	 a, b, c;
	size_t		 la;

	(void)state;
	make_file(&a, 1000, 1, 200, 60000);
	make_file(&b, 2000, 1, 200, 60000);
	/* a's header with b's records and trailer */
	la = (size_t)a.buf[6] << 8 | a.buf[7];
	memset(&c, 0, sizeof(c));
	mem_out(&c, a.buf, la);
	mem_out(&c, b.buf + la, b.len - la);
	expect_bad(c.buf, c.len, "is not of this file");
	free(c.buf);
	/* data after the trailer */
	memset(&c, 0, sizeof(c));
	mem_out(&c, a.buf, a.len);
	mem_out(&c, a.buf, la);
	expect_bad(c.buf, c.len, "data after its trailer");
	free(c.buf);
	/* the trailer twice: msgno goes wrong */
	memset(&c, 0, sizeof(c));
	mem_out(&c, a.buf, a.len);
	mem_out(&c, a.buf + a.len - (SYNC_HDRLEN + SYNC_MACLEN),
	    SYNC_HDRLEN + SYNC_MACLEN);
	expect_bad(c.buf, c.len, "data after its trailer");
	free(c.buf);
	free(a.buf);
	free(b.buf);
}

/* One sealed message with the file's key. */
static size_t
seal(uint8_t *buf, uint8_t type, uint32_t seq, uint32_t ack,
    uint64_t epoch, uint64_t msgno, const struct sync_rec *r, int del)
{
	struct sync_key	 k;
	struct sync_msg	 m;
	struct sync_hdr	 h;

	assert_int_equal(state_key_init(&k), 0);
	assert_int_equal(sync_msg_init(&m, buf, SYNC_MSG_MAX, type), 0);
	if (r != NULL && del)
		assert_int_equal(sync_msg_add_delete(&m, &r->s.k), 0);
	else if (r != NULL)
		assert_int_equal(sync_msg_add_conn(&m, &r->s, r->rule), 0);
	memset(&h, 0, sizeof(h));
	h.seq = seq;
	h.ack = ack;
	h.epoch = epoch;
	h.msgno = msgno;
	return (sync_msg_seal(&m, &h, &k));
}

static void
test_header(void **state)
{
	static uint8_t	 f[4 * SYNC_MSG_MAX];
	struct sync_rec	 r = rec(1, 5000);
	struct sync_key	 other;
	struct sync_msg	 m;
	struct sync_hdr	 h;
	size_t		 n;

	(void)state;
	expect_bad((const uint8_t *)"", 0, "empty");
	expect_bad(f, (size_t)STATE_FILE_MAX + 1, "larger than");
	memset(f, 'x', 200);
	expect_bad(f, 200, "ends inside message 1");
	f[6] = 0;
	f[7] = 100;
	expect_bad(f, 200, "not a state file");
	/* another version of the file */
	n = seal(f, SYNC_T_BULK_START, STATE_VERSION + 1, 1, 7, 1, NULL, 0);
	n += seal(f + n, SYNC_T_BULK_END, 0, 2, 7, 2, NULL, 0);
	expect_bad(f, n, "version 2, not 1");
	/* no header */
	n = seal(f, SYNC_T_BULK_END, 0, 1, 7, 1, NULL, 0);
	expect_bad(f, n, "does not begin with its header");
	/* no workers */
	n = seal(f, SYNC_T_BULK_START, STATE_VERSION, 0, 7, 1, NULL, 0);
	n += seal(f + n, SYNC_T_BULK_END, 0, 2, 7, 2, NULL, 0);
	expect_bad(f, n, "a bad header");
	/* a record of a worker the writer did not have */
	n = seal(f, SYNC_T_BULK_START, STATE_VERSION, 2, 7, 1, NULL, 0);
	n += seal(f + n, SYNC_T_UPDATE, 2, 0, 7, 2, &r, 0);
	n += seal(f + n, SYNC_T_BULK_END, 1, 3, 7, 3, NULL, 0);
	expect_bad(f, n, "message 2: a bad record");
	/* a DELETE */
	n = seal(f, SYNC_T_BULK_START, STATE_VERSION, 2, 7, 1, NULL, 0);
	n += seal(f + n, SYNC_T_UPDATE, 1, 0, 7, 2, &r, 1);
	n += seal(f + n, SYNC_T_BULK_END, 1, 3, 7, 3, NULL, 0);
	expect_bad(f, n, "message 2: a bad record");
	/* a trailer that miscounts */
	n = seal(f, SYNC_T_BULK_START, STATE_VERSION, 2, 7, 1, NULL, 0);
	n += seal(f + n, SYNC_T_UPDATE, 1, 0, 7, 2, &r, 0);
	n += seal(f + n, SYNC_T_BULK_END, 2, 3, 7, 3, NULL, 0);
	expect_bad(f, n, "its trailer counts 2 records in 3 messages, the "
	    "file has 1 in 3");
	/* a control message inside */
	n = seal(f, SYNC_T_BULK_START, STATE_VERSION, 2, 7, 1, NULL, 0);
	n += seal(f + n, SYNC_T_ALIVE, 1, 0, 7, 2, NULL, 0);
	expect_bad(f, n, "message 2: of type alive");
	/* sealed with the sync link's key, not the file's */
	assert_int_equal(sync_key_init(&other, "a shared secret, long enough",
	    28), 0);
	assert_int_equal(sync_msg_init(&m, f, SYNC_MSG_MAX, SYNC_T_BULK_START),
	    0);
	memset(&h, 0, sizeof(h));
	h.seq = STATE_VERSION;
	h.ack = 1;
	h.msgno = 1;
	n = sync_msg_seal(&m, &h, &other);
	expect_bad(f, n, "message 1: forged");
}

static void
test_rec_age(void **state)
{
	struct sync_rec	 r = rec(0, 5000);

	(void)state;
	assert_int_equal(state_rec_age(&r, 1500), 1);
	assert_int_equal(r.s.left_ms, 3500);
	assert_int_equal(r.s.age_s, 1);
	assert_int_equal(state_rec_age(&r, 3500), 0);
	assert_int_equal(r.s.left_ms, 3500);	/* as it was */
	r.s.age_s = UINT32_MAX - 1;
	assert_int_equal(state_rec_age(&r, 3000), 1);
	assert_int_equal(r.s.age_s, UINT32_MAX);

	/* a UDP flow in its first 2 s: its wait for the stream goes by
	   with the file's age; TCP's last_hash is the tracker's own */
	r = rec(1, 5000);
	r.s.flags = CT_SNAP_SEEN_REPLY;
	r.s.tclass = CT_TO_UDP;
	r.s.last_hash = 1501;
	assert_int_equal(state_rec_age(&r, 1000), 1);
	assert_int_equal(r.s.last_hash, 501);
	assert_int_equal(state_rec_age(&r, 1000), 1);
	assert_int_equal(r.s.last_hash, 0);
	r = rec(0, 5000);
	r.s.last_hash = 1501;
	assert_int_equal(state_rec_age(&r, 1000), 1);
	assert_int_equal(r.s.last_hash, 1501);
}

/* ---- the daemon's file (state.c) ----------------------------------------- */

static char		 dir[64];
static char		 path[128];
static struct config	 cfg;
static struct worker	*wk[3];

static int
setup(void **state)
{
	unsigned	 i;

	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/test_statefile.XXXXXX");
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/state", dir);
	memset(&cfg, 0, sizeof(cfg));
	ct_config_defaults(&cfg.ct);
	for (i = 0; i < 3; i++) {
		assert_non_null(wk[i] = calloc(1, sizeof(*wk[i])));
		wk[i]->id = i;
	}
	logbuf[0] = '\0';
	return (0);
}

static int
teardown(void **state)
{
	unsigned	 i;
	char		 p[160];

	(void)state;
	for (i = 0; i < 3; i++)
		free(wk[i]);
	(void)unlink(path);
	snprintf(p, sizeof(p), "%s/link", dir);
	(void)unlink(p);
	snprintf(p, sizeof(p), "%s/fifo", dir);
	(void)unlink(p);
	(void)rmdir(dir);
	return (0);
}

static void
put_file(const struct mem *m)
{
	int	 fd;

	assert_true((fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600)) >= 0);
	assert_int_equal(write(fd, m->buf, m->len), (ssize_t)m->len);
	close(fd);
}

static off_t
file_size(void)
{
	struct stat	 st;

	assert_int_equal(stat(path, &st), 0);
	return (st.st_size);
}

static void
has_line(const char *s)
{
	if (strstr(logbuf, s) == NULL)
		fail_msg("the log lacks \"%s\":\n%s", s, logbuf);
}

/* Open, read and restore path into n workers. */
static void
start(unsigned n, int sync)
{
	struct state_load *sl;
	int		 fd;

	assert_true((fd = state_open(path)) >= 0);
	sl = state_read(fd, path, &cfg);
	state_restore(sl, wk, n, sync);
	state_used(fd, path);
	close(fd);
}

static void
test_save_restore(void **state)
{
	struct state_load *sl;
	struct stat	 st;
	char		 line[256];
	unsigned	 i;
	int		 fd;

	(void)state;
	/* the first start makes the file, empty, 0600 */
	assert_true((fd = state_open(path)) >= 0);
	assert_int_equal(fstat(fd, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
	assert_null(sl = state_read(fd, path, &cfg));
	has_line("empty, no connection to restore");
	state_restore(sl, wk, 3, 0);
	for (i = 0; i < 30; i++)
		wk[i % 3]->rec[wk[i % 3]->n++] = rec(i, 600000);
	state_save(fd, path, wk, 3);		/* closes fd */
	snprintf(line, sizeof(line), "saved 30 connections to %s", path);
	has_line(line);
	assert_true(file_size() > 0);

	for (i = 0; i < 3; i++)
		wk[i]->n = 0;
	start(3, 0);
	snprintf(line, sizeof(line), "restored 30 of 30 connections from %s "
	    "(written 0 s ago)\n", path);
	has_line(line);
	/* each in the worker that held it, a moment older */
	for (i = 0; i < 30; i++) {
		assert_int_equal(wk[i % 3]->rec[i / 3].s.k.sport, 20000 + i);
		assert_int_equal(wk[i % 3]->unseen[i / 3], 0);
		assert_true(wk[i % 3]->rec[i / 3].s.left_ms <= 600000);
		assert_true(wk[i % 3]->rec[i / 3].s.left_ms > 590000);
	}
	/* never read twice */
	assert_int_equal(file_size(), 0);
}

/* A start that fails once the table is restored (the status page, the
   privilege drop, a worker's thread) leaves the file to the next. */
static void
test_failed_start(void **state)
{
	struct state_load *sl;
	struct mem	 m;
	char		 line[256];
	int		 fd;

	(void)state;
	make_file(&m, wall_ms(), 1, 5, 600000);
	put_file(&m);
	free(m.buf);
	assert_true((fd = state_open(path)) >= 0);
	assert_non_null(sl = state_read(fd, path, &cfg));
	judged = 0;
	state_restore(sl, wk, 1, 0);
	close(fd);
	assert_int_equal(wk[0]->n, 5);
	/* judged by this start's rules once restored */
	assert_int_equal(judged, 1);
	assert_true(file_size() > 0);
	wk[0]->n = 0;
	logbuf[0] = '\0';
	start(1, 0);
	snprintf(line, sizeof(line), "restored 5 of 5 connections from %s",
	    path);
	has_line(line);
	assert_int_equal(wk[0]->n, 5);
	assert_int_equal(file_size(), 0);
}

/* Other workers than the file's, or [sync]: each goes home. */
static void
test_home(void **state)
{
	struct mem	 m;
	struct sync_rec	 r;
	unsigned	 i, j, home;

	(void)state;
	make_file(&m, wall_ms(), 2, 40, 600000);
	for (j = 0; j < 2; j++) {
		put_file(&m);
		for (i = 0; i < 3; i++)
			wk[i]->n = 0;
		start(3, j);
		assert_int_equal(wk[0]->n + wk[1]->n + wk[2]->n, 40);
		for (i = 0; i < 3; i++)
			while (wk[i]->n > 0) {
				r = wk[i]->rec[--wk[i]->n];
				home = synclink_home(&r.s.k, 3);
				assert_int_equal(home, i);
				/* marked for adoption with [sync] alone */
				assert_int_equal(wk[i]->unseen[wk[i]->n], j);
			}
	}
	has_line("written by 2 workers, now 3");
	/* [sync], as many workers: home too */
	put_file(&m);
	start(2, 1);
	for (i = 0; i < 2; i++)
		for (j = 0; j < wk[i]->n; j++)
			assert_int_equal(synclink_home(&wk[i]->rec[j].s.k, 2),
			    i);
	free(m.buf);
}

static void
test_expired_full(void **state)
{
	static struct state_writer sw;
	struct mem	 m;
	struct sync_rec	 r;
	unsigned	 i;

	(void)state;
	/* written 10 s ago: those with 5 s left timed out since */
	memset(&m, 0, sizeof(m));
	assert_int_equal(state_write_begin(&sw, fmac, wall_ms() - 10000, 1,
	    mem_out, &m), 0);
	for (i = 0; i < 6; i++) {
		r = rec(i, i % 2 ? 5000 : 70000);
		assert_int_equal(state_write_conn(&sw, 0, &r.s, r.rule), 0);
	}
	assert_int_equal(state_write_end(&sw), 0);
	put_file(&m);
	start(1, 0);
	has_line("restored 3 of 6 connections");
	has_line("(written 10 s ago); 3 timed out since, 0 refused (table "
	    "full)");
	assert_int_equal(wk[0]->n, 3);
	for (i = 0; i < 3; i++) {
		assert_int_equal(wk[0]->rec[i].s.k.sport, 20000 + 2 * i);
		assert_true(wk[0]->rec[i].s.left_ms <= 60000);
		assert_int_equal(wk[0]->rec[i].s.age_s, 2 * i + 10);
	}
	/* a full table refuses them: counted, not a failure */
	put_file(&m);
	wk[0]->full = 1;
	logbuf[0] = '\0';
	start(1, 0);
	has_line("restored 0 of 6 connections");
	has_line("3 timed out since, 3 refused (table full)");
	free(m.buf);
}

static void
test_refused(void **state)
{
	struct mem	 m;
	uint64_t	 now = wall_ms(), max = 0;
	char		 p[160], line[256];
	unsigned	 i;
	pid_t		 pid;
	int		 fd, status;

	(void)state;
	for (i = 0; i < CT_TO_MAX; i++)
		if (cfg.ct.timeout[i] > max)
			max = cfg.ct.timeout[i];
	/* older than the longest timeout */
	make_file(&m, now - max * 1000 - 60000, 1, 5, 600000);
	put_file(&m);
	start(1, 0);
	has_line("s ago, more than the longest timeout");
	assert_int_equal(wk[0]->n, 0);
	assert_int_equal(file_size(), 0);
	free(m.buf);
	/* from the future */
	make_file(&m, now + 3600000, 1, 5, 600000);
	put_file(&m);
	start(1, 0);
	has_line("s in the future (the clock went back?): not restored");
	assert_int_equal(wk[0]->n, 0);
	free(m.buf);
	/* torn: one line, an empty table, the file emptied */
	make_file(&m, now, 1, 50, 600000);
	m.len -= 10;
	put_file(&m);
	logbuf[0] = '\0';
	start(1, 0);
	has_line("ends inside message");
	has_line(": not restored");
	assert_null(strstr(logbuf, "restored 0"));
	assert_int_equal(wk[0]->n, 0);
	assert_int_equal(file_size(), 0);
	free(m.buf);
	/* too large: not even mapped */
	assert_true((fd = open(path, O_WRONLY)) >= 0);
	assert_int_equal(write(fd, "NQSY", 4), 4);
	assert_int_equal(ftruncate(fd, (off_t)STATE_FILE_MAX + 1), 0);
	close(fd);
	start(1, 0);
	has_line("larger than 536870912 bytes: not restored");
	assert_int_equal(file_size(), 0);
	/* a link or a FIFO is not opened */
	snprintf(p, sizeof(p), "%s/link", dir);
	assert_int_equal(symlink(path, p), 0);
	assert_int_equal(state_open(p), -1);
	snprintf(p, sizeof(p), "%s/fifo", dir);
	assert_int_equal(mkfifo(p, 0600), 0);
	assert_int_equal(state_open(p), -1);
	has_line("not a regular file");
	/* ... nor even opened (a device may act on it: /dev/watchdog):
	   a writer waiting for a reader of the FIFO still waits */
	if ((pid = fork()) == 0) {
		alarm(5);
		(void)open(p, O_WRONLY);
		_exit(0);
	}
	assert_true(pid > 0);
	usleep(100000);
	assert_int_equal(state_open(p), -1);
	assert_int_equal(state_path_check(p, line, sizeof(line)), -1);
	assert_non_null(strstr(line, "not a regular file"));
	usleep(200000);
	assert_int_equal(waitpid(pid, &status, WNOHANG), 0);
	kill(pid, SIGKILL);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_int_equal(state_open("/dev/null"), -1);
}

/* path's content is text: what put_text() put there */
static void
put_text(const char *text)
{
	int	 fd;

	assert_true((fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600)) >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
}

static void
same_text(const char *text)
{
	char	 b[256];
	ssize_t	 n;
	int	 fd;

	assert_true((fd = open(path, O_RDONLY)) >= 0);
	n = read(fd, b, sizeof(b) - 1);
	close(fd);
	assert_true(n >= 0);
	b[n] = '\0';
	assert_string_equal(b, text);
}

/* A file another could have written or replaced is not used: its
   MACs are checksums, and its connections would pass unjudged. */
static void
test_unsafe(void **state)
{
	static const char text[] = "# not a state file\nkey = value\n";
	struct mem	 m;
	struct stat	 st;
	char		 p[160], q[160], err[256];
	int		 fd;

	(void)state;
	/* a wrong path (the configuration, say): neither emptied nor
	   written over at the stop */
	put_text(text);
	assert_int_equal(state_open(path), -1);
	has_line("not a state file, left as it is");
	same_text(text);
	assert_int_equal(truncate(path, 0), 0);
	assert_true((fd = open(path, O_WRONLY)) >= 0);
	assert_int_equal(ftruncate(fd, (off_t)STATE_FILE_MAX + 1), 0);
	close(fd);
	assert_int_equal(state_open(path), -1);
	assert_int_equal(file_size(), (off_t)STATE_FILE_MAX + 1);

	/* another's file, with a table that would restore */
	make_file(&m, wall_ms(), 1, 5, 600000);
	put_file(&m);
	free(m.buf);
	assert_int_equal(chown(path, 65534, 65534), 0);
	logbuf[0] = '\0';
	assert_int_equal(state_open(path), -1);
	has_line("belongs to uid 65534, not root; connections will not be "
	    "kept");
	assert_true(file_size() > 0);
	assert_int_equal(chown(path, 0, 0), 0);
	/* writable by a group */
	assert_int_equal(chmod(path, 0620), 0);
	assert_int_equal(state_open(path), -1);
	has_line("writable by others than root");
	/* readable by others: made 0600, used */
	assert_int_equal(chmod(path, 0644), 0);
	assert_true((fd = state_open(path)) >= 0);
	close(fd);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
	/* a hard link: the stop would write the other name's file */
	snprintf(p, sizeof(p), "%s/link", dir);
	assert_int_equal(link(path, p), 0);
	logbuf[0] = '\0';
	assert_int_equal(state_open(path), -1);
	has_line("has 2 links, not 1");
	assert_true(file_size() > 0);
	assert_int_equal(unlink(p), 0);

	/* in a directory others write: not even made */
	snprintf(p, sizeof(p), "%s/sub", dir);
	snprintf(q, sizeof(q), "%s/sub/state", dir);
	assert_int_equal(mkdir(p, 0755), 0);
	assert_int_equal(chmod(p, 01777), 0);
	logbuf[0] = '\0';
	assert_int_equal(state_open(q), -1);
	has_line("is writable by others than root");
	assert_int_equal(access(q, F_OK), -1);
	/* nfqspid -n says so beforehand */
	assert_int_equal(state_path_check(q, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "is writable by others than root"));
	assert_int_equal(access(q, F_OK), -1);
	/* in one another owns */
	assert_int_equal(chmod(p, 0755), 0);
	assert_int_equal(chown(p, 65534, 0), 0);
	assert_int_equal(state_open(q), -1);
	has_line("belongs to uid 65534, not root");
	assert_int_equal(access(q, F_OK), -1);
	/* below a sticky one (/tmp): root's own directory will do */
	assert_int_equal(chown(p, 0, 0), 0);
	assert_int_equal(chmod(dir, 01777), 0);
	assert_int_equal(state_path_check(q, err, sizeof(err)), 0);
	assert_int_equal(access(q, F_OK), -1);	/* -n makes nothing */
	assert_true((fd = state_open(q)) >= 0);
	close(fd);
	assert_int_equal(state_path_check(q, err, sizeof(err)), 0);
	/* but not below one that is not sticky */
	assert_int_equal(chmod(dir, 0777), 0);
	assert_int_equal(state_open(q), -1);
	assert_int_equal(chmod(dir, 0700), 0);
	assert_int_equal(unlink(q), 0);
	assert_int_equal(rmdir(p), 0);
	/* -n: a directory that does not exist is not made (the start
	   cannot use the file, the stop writes nothing): said */
	snprintf(q, sizeof(q), "%s/none/state", dir);
	assert_int_equal(state_path_check(q, err, sizeof(err)), -1);
	snprintf(p, sizeof(p), "directory %s/none does not exist (nfqspid "
	    "makes none)", dir);
	assert_string_equal(err, p);
	logbuf[0] = '\0';
	assert_int_equal(state_open(q), -1);
	has_line(p);
	/* ...but a unit's state directory under /var/lib, which systemd
	   makes before the start (the shipped unit's, a second
	   instance's): nothing to say while it is missing */
	if (access("/var/lib/nfqspid", F_OK) == -1 && errno == ENOENT) {
		assert_int_equal(state_path_check("/var/lib/nfqspid/state",
		    err, sizeof(err)), 0);
		assert_int_equal(state_path_check("/var/lib/nfqspid/a/state",
		    err, sizeof(err)), 0);
	}
	if (access("/var/lib/nfqspidx", F_OK) == -1 && errno == ENOENT)
		assert_int_equal(state_path_check("/var/lib/nfqspidx/state",
		    err, sizeof(err)), 0);
	/* a path that leaves /var/lib is no unit's */
	snprintf(q, sizeof(q), "/var/lib/../../%s/none/state", dir);
	assert_int_equal(state_path_check(q, err, sizeof(err)), -1);
	assert_int_equal(state_path_check("/var/libx/none/state", err,
	    sizeof(err)), -1);
	/* -n on a wrong path: the file is not one */
	assert_int_equal(state_path_check(dir, err, sizeof(err)), -1);
	put_text(text);
	assert_int_equal(state_path_check(path, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "not a state file"));
	same_text(text);
	assert_int_equal(truncate(path, 0), 0);
	/* a second nfqspid on the same file leaves it to the first */
	assert_true((fd = state_open(path)) >= 0);
	logbuf[0] = '\0';
	assert_int_equal(state_open(path), -1);
	has_line("in use by another nfqspid");
	close(fd);
	assert_true((fd = state_open(path)) >= 0);
	close(fd);
	/* the format's own test */
	assert_int_equal(state_is_ours("NQSY", 4), 1);
	assert_int_equal(state_is_ours("NQS", 3), 0);
	assert_int_equal(state_is_ours("nqsy", 4), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_roundtrip),
		cmocka_unit_test(test_vector),
		cmocka_unit_test(test_mac_allocs),
		cmocka_unit_test(test_writer_refuses),
		cmocka_unit_test(test_writer_full),
		cmocka_unit_test(test_torn),
		cmocka_unit_test(test_spliced),
		cmocka_unit_test(test_header),
		cmocka_unit_test(test_rec_age),
		cmocka_unit_test_setup_teardown(test_save_restore, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_failed_start, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_home, setup, teardown),
		cmocka_unit_test_setup_teardown(test_expired_full, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unsafe, setup, teardown),
	};

	int		 rc;

	/* before libcrypto allocates anything */
	hooked = CRYPTO_set_mem_functions(count_malloc, count_realloc,
	    count_free);
	if ((fmac = state_mac_new()) == NULL)
		return (1);
	rc = cmocka_run_group_tests(tests, NULL, NULL);
	sync_mac_free(fmac);
	return (rc);
}
