/*
 * test_ctlproto.c - the control socket's framing, requests, filters, JSON
 *
 * Copyright (C) 2026 The nfqspid authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "ctlproto.h"

#ifndef TEST_SRCDIR
#define TEST_SRCDIR "."
#endif

/* Copy n bytes to a heap block of exactly n bytes, so ASan sees any
   read past the end. */
static uint8_t *
exact(const void *p, size_t n)
{
	uint8_t	*q = malloc(n ? n : 1);

	assert_non_null(q);
	if (n)
		memcpy(q, p, n);
	return (q);
}

static void
test_roundtrip_types(void **state)
{
	static uint8_t	 buf[CTL_MAXMSG];
	static uint8_t	 payload[CTL_MAXPAYLOAD];
	struct ctl_msg	 m;
	ssize_t		 n;
	uint8_t		*e;
	int		 type;
	size_t		 plens[] = { 0, 1, 17, 4096, CTL_MAXPAYLOAD };
	size_t		 i, j;

	for (i = 0; i < sizeof(payload); i++)
		payload[i] = (uint8_t)(i * 7 + 3);
	for (type = CTL_T_REQUEST; type <= CTL_T_ERROR; type++) {
		for (i = 0; i < sizeof(plens) / sizeof(plens[0]); i++) {
			n = ctl_encode(buf, sizeof(buf), (uint16_t)type,
			    CTL_F_JSON, payload, plens[i]);
			assert_int_equal(n, CTL_HDRLEN + plens[i]);
			e = exact(buf, (size_t)n);
			assert_int_equal(ctl_decode(e, (size_t)n, &m), 0);
			assert_int_equal(m.type, type);
			assert_int_equal(m.version, CTL_VERSION);
			assert_int_equal(m.flags, CTL_F_JSON);
			assert_int_equal(m.len, plens[i]);
			assert_ptr_equal(m.payload, e + CTL_HDRLEN);
			for (j = 0; j < plens[i]; j++)
				assert_int_equal(m.payload[j], payload[j]);
			assert_int_equal(ctl_frame_len(e, (size_t)n), n);
			free(e);
		}
	}
	assert_string_equal(ctl_type_name(CTL_T_DATA), "data");
	assert_null(ctl_type_name(0));
	assert_null(ctl_type_name(5));
}

static void
test_wire_layout(void **state)
{
	uint8_t	 buf[64];
	ssize_t	 n;
	static const uint8_t want[] = {
		'N', 'Q', 'C', 'T', 0, 1, 0, 4, 0, 0, 0, 1, 0, 0, 0, 3,
		'b', 'a', 'd'
	};

	n = ctl_encode(buf, sizeof(buf), CTL_T_ERROR, CTL_F_JSON, "bad", 3);
	assert_int_equal(n, sizeof(want));
	assert_memory_equal(buf, want, sizeof(want));
}

static void
test_encode_errors(void **state)
{
	uint8_t	 buf[CTL_MAXMSG + 16];
	uint8_t	 hdr[CTL_HDRLEN];

	errno = 0;
	assert_int_equal(ctl_encode(buf, sizeof(buf), 0, 0, NULL, 0), -1);
	assert_int_equal(errno, EINVAL);
	assert_int_equal(ctl_encode(buf, sizeof(buf), 5, 0, NULL, 0), -1);
	assert_int_equal(errno, EINVAL);
	assert_int_equal(ctl_encode(buf, sizeof(buf), CTL_T_DATA, 0x2,
	    NULL, 0), -1);
	assert_int_equal(errno, EINVAL);
	assert_int_equal(ctl_encode(buf, sizeof(buf), CTL_T_DATA, 0,
	    buf, CTL_MAXPAYLOAD + 1), -1);
	assert_int_equal(errno, EMSGSIZE);
	assert_int_equal(ctl_encode(buf, CTL_HDRLEN + 2, CTL_T_DATA, 0,
	    "abc", 3), -1);
	assert_int_equal(errno, ENOSPC);
	assert_int_equal(ctl_encode(buf, CTL_HDRLEN - 1, CTL_T_END, 0,
	    NULL, 0), -1);
	assert_int_equal(errno, ENOSPC);
	assert_int_equal(ctl_encode(buf, sizeof(buf), CTL_T_DATA, 0,
	    NULL, 3), -1);
	assert_int_equal(errno, EINVAL);
	assert_int_equal(ctl_hdr_encode(hdr, CTL_T_DATA, 0,
	    CTL_MAXPAYLOAD + 1), -1);
	assert_int_equal(errno, EMSGSIZE);
	assert_int_equal(ctl_hdr_encode(hdr, CTL_T_DATA, 0, CTL_MAXPAYLOAD),
	    0);
	assert_int_equal(ctl_encode(buf, CTL_HDRLEN, CTL_T_END, 0, NULL, 0),
	    CTL_HDRLEN);
}

/* A valid frame with one header field replaced. */
static size_t
frame_with(uint8_t *buf, size_t off, const uint8_t *val, size_t vlen)
{
	ssize_t	 n;

	n = ctl_encode(buf, 64, CTL_T_DATA, 0, "hello", 5);
	assert_int_equal(n, CTL_HDRLEN + 5);
	memcpy(buf + off, val, vlen);
	return ((size_t)n);
}

static void
test_decode_malformed_header(void **state)
{
	uint8_t		 buf[64];
	struct ctl_msg	 m;
	uint8_t		*e;
	size_t		 n, i;
	static const uint8_t v0[] = { 0, 0 }, v2[] = { 0, 2 },
	    vff[] = { 0xff, 0xff }, t0[] = { 0, 0 }, t5[] = { 0, 5 },
	    tff[] = { 0xff, 0xff }, f2[] = { 0, 0, 0, 2 },
	    f80[] = { 0x80, 0, 0, 0 },
	    big[] = { 0, 0, 0xff, 0xf1 },	/* CTL_MAXPAYLOAD + 1 */
	    huge[] = { 0xff, 0xff, 0xff, 0xff };

	/* every single-byte change of the magic */
	for (i = 0; i < 4; i++) {
		uint8_t	 b;

		n = frame_with(buf, 0, (const uint8_t *)"NQCT", 4);
		b = buf[i] ^ 0x20;
		buf[i] = b;
		e = exact(buf, n);
		errno = 0;
		assert_int_equal(ctl_decode(e, n, &m), -1);
		assert_int_equal(errno, EBADMSG);
		assert_int_equal(ctl_hdr_decode(e, n, NULL), -1);
		assert_int_equal(ctl_frame_len(e, n), -1);
		/* a prefix that already has the bad byte */
		assert_int_equal(ctl_frame_len(e, i + 1), -1);
		free(e);
	}

#define BAD(off, val, err) do {						\
	n = frame_with(buf, off, val, sizeof(val));			\
	e = exact(buf, n);						\
	errno = 0;							\
	assert_int_equal(ctl_decode(e, n, &m), -1);			\
	assert_int_equal(errno, err);					\
	errno = 0;							\
	assert_int_equal(ctl_frame_len(e, n), -1);			\
	assert_int_equal(errno, err);					\
	free(e);							\
} while (0)
	BAD(4, v0, EPROTONOSUPPORT);
	BAD(4, v2, EPROTONOSUPPORT);
	BAD(4, vff, EPROTONOSUPPORT);
	BAD(6, t0, EBADMSG);
	BAD(6, t5, EBADMSG);
	BAD(6, tff, EBADMSG);
	BAD(8, f2, EINVAL);
	BAD(8, f80, EINVAL);
	BAD(12, big, EMSGSIZE);
	BAD(12, huge, EMSGSIZE);
#undef BAD

	/* the version is reported so the daemon can name it */
	n = frame_with(buf, 4, v2, 2);
	assert_int_equal(ctl_hdr_decode(buf, n, &m), -1);
	assert_int_equal(m.version, 2);

	/* NULL and empty */
	assert_int_equal(ctl_hdr_decode(NULL, 0, &m), -1);
	assert_int_equal(errno, EBADMSG);
	assert_int_equal(ctl_frame_len(buf, 0), 0);
}

static void
test_decode_truncated(void **state)
{
	uint8_t		 buf[128];
	struct ctl_msg	 m;
	uint8_t		*e;
	ssize_t		 n;
	size_t		 i;

	n = ctl_encode(buf, sizeof(buf), CTL_T_DATA, 0,
	    "0123456789abcdefghij", 20);
	assert_true(n > 0);
	for (i = 0; i < (size_t)n; i++) {
		e = exact(buf, i);
		errno = 0;
		assert_int_equal(ctl_decode(e, i, &m), -1);
		assert_int_equal(errno, EBADMSG);
		/* a streaming reader waits for more */
		assert_int_equal(ctl_frame_len(e, i), 0);
		free(e);
	}
	/* trailing bytes after the frame */
	buf[n] = 'x';
	e = exact(buf, (size_t)n + 1);
	assert_int_equal(ctl_decode(e, (size_t)n + 1, &m), -1);
	assert_int_equal(errno, EBADMSG);
	/* but a stream reader takes the first frame and leaves the rest */
	assert_int_equal(ctl_frame_len(e, (size_t)n + 1), n);
	free(e);
}

static void
test_frame_len_bytewise(void **state)
{
	uint8_t	 buf[256];
	ssize_t	 n, n2;
	size_t	 i, got;

	/* two frames back to back, fed one byte at a time */
	n = ctl_encode(buf, sizeof(buf), CTL_T_DATA, 0, "line\n", 5);
	n2 = ctl_encode(buf + n, sizeof(buf) - (size_t)n, CTL_T_END, 0,
	    NULL, 0);
	assert_true(n > 0 && n2 > 0);
	got = 0;
	for (i = 1; i <= (size_t)(n + n2); i++) {
		ssize_t	 r = ctl_frame_len(buf + got, i - got);

		if (r > 0) {
			got += (size_t)r;
			continue;
		}
		assert_int_equal(r, 0);
	}
	assert_int_equal(got, n + n2);
}

static void
test_request_roundtrip(void **state)
{
	static uint8_t		 buf[CTL_MAXMSG];
	static struct ctl_request r;
	struct ctl_msg		 m;
	char			*argv[CTL_MAXARGS + 1];
	static char		 longargs[CTL_MAXARGS][CTL_MAXARGLEN + 1];
	char			*a1[] = { "conntrack", "delete", "src=10.0.0.1",
				    "", "proto=tcp", NULL };
	ssize_t			 n;
	uint8_t			*e;
	int			 i;

	n = ctl_encode_request(buf, sizeof(buf), CTL_F_JSON, 5, a1);
	assert_true(n > CTL_HDRLEN);
	e = exact(buf, (size_t)n);
	assert_int_equal(ctl_decode(e, (size_t)n, &m), 0);
	assert_int_equal(m.type, CTL_T_REQUEST);
	assert_int_equal(ctl_decode_request(&m, &r), 0);
	assert_int_equal(r.argc, 5);
	assert_int_equal(r.flags, CTL_F_JSON);
	for (i = 0; i < 5; i++)
		assert_string_equal(r.argv[i], a1[i]);
	assert_null(r.argv[5]);
	free(e);

	/* the largest request: every argument at its longest */
	for (i = 0; i < CTL_MAXARGS; i++) {
		memset(longargs[i], 'a' + i % 26, CTL_MAXARGLEN);
		longargs[i][CTL_MAXARGLEN] = '\0';
		argv[i] = longargs[i];
	}
	argv[CTL_MAXARGS] = NULL;
	n = ctl_encode_request(buf, sizeof(buf), 0, CTL_MAXARGS, argv);
	assert_int_equal(n, CTL_HDRLEN + 2 + CTL_MAXARGS *
	    (2 + CTL_MAXARGLEN));
	e = exact(buf, (size_t)n);
	assert_int_equal(ctl_decode(e, (size_t)n, &m), 0);
	assert_int_equal(ctl_decode_request(&m, &r), 0);
	assert_int_equal(r.argc, CTL_MAXARGS);
	for (i = 0; i < CTL_MAXARGS; i++)
		assert_string_equal(r.argv[i], longargs[i]);
	free(e);
}

static void
test_request_encode_errors(void **state)
{
	uint8_t	 buf[CTL_MAXMSG];
	char	 toolong[CTL_MAXARGLEN + 2];
	char	*argv[CTL_MAXARGS + 2];
	char	*a[] = { "status", NULL };
	char	*b[] = { "conntrack", toolong, NULL };
	int	 i;

	memset(toolong, 'x', CTL_MAXARGLEN + 1);
	toolong[CTL_MAXARGLEN + 1] = '\0';
	for (i = 0; i < CTL_MAXARGS + 1; i++)
		argv[i] = "x";
	argv[CTL_MAXARGS + 1] = NULL;

	assert_int_equal(ctl_encode_request(buf, sizeof(buf), 0, 0, a), -1);
	assert_int_equal(errno, EINVAL);
	assert_int_equal(ctl_encode_request(buf, sizeof(buf), 0,
	    CTL_MAXARGS + 1, argv), -1);
	assert_int_equal(errno, EINVAL);
	assert_int_equal(ctl_encode_request(buf, sizeof(buf), 0, 2, b), -1);
	assert_int_equal(errno, EINVAL);
	assert_int_equal(ctl_encode_request(buf, sizeof(buf), 0x4, 1, a), -1);
	assert_int_equal(errno, EINVAL);
	assert_int_equal(ctl_encode_request(buf, CTL_HDRLEN + 8, 0, 1, a), -1);
	assert_int_equal(errno, ENOSPC);
	assert_int_equal(ctl_encode_request(buf, CTL_HDRLEN + 2 + 2 + 6, 0,
	    1, a), CTL_HDRLEN + 10);
}

/* Decode a request whose payload is given byte for byte. */
static int
decode_payload(const uint8_t *pl, size_t plen, int *err)
{
	uint8_t			 buf[1024];
	static struct ctl_request r;
	struct ctl_msg		 m;
	uint8_t			*e;
	ssize_t			 n;
	int			 rv;

	n = ctl_encode(buf, sizeof(buf), CTL_T_REQUEST, 0, pl, plen);
	assert_true(n > 0);
	e = exact(buf, (size_t)n);
	assert_int_equal(ctl_decode(e, (size_t)n, &m), 0);
	errno = 0;
	rv = ctl_decode_request(&m, &r);
	*err = errno;
	free(e);
	return (rv);
}

static void
test_request_malformed(void **state)
{
	static struct ctl_request r;
	struct ctl_msg	 m;
	uint8_t		 buf[64];
	int		 err;
	static const uint8_t ok[] = { 0, 1, 0, 2, 'h', 'i' };
	static const uint8_t argc0[] = { 0, 0 };
	static const uint8_t argc33[] = { 0, 33 };
	static const uint8_t one[] = { 0 };
	static const uint8_t arglong[] = { 0, 1, 0, 3, 'h', 'i' };
	static const uint8_t missing[] = { 0, 2, 0, 2, 'h', 'i' };
	static const uint8_t halflen[] = { 0, 2, 0, 2, 'h', 'i', 0 };
	static const uint8_t trailing[] = { 0, 1, 0, 2, 'h', 'i', 'x' };
	static const uint8_t nul[] = { 0, 1, 0, 2, 'h', 0 };
	uint8_t		 big[2 + 2 + 256];

	assert_int_equal(decode_payload(ok, sizeof(ok), &err), 0);
	assert_int_equal(decode_payload(NULL, 0, &err), -1);
	assert_int_equal(err, EBADMSG);
	assert_int_equal(decode_payload(one, sizeof(one), &err), -1);
	assert_int_equal(err, EBADMSG);
	assert_int_equal(decode_payload(argc0, sizeof(argc0), &err), -1);
	assert_int_equal(err, EBADMSG);
	assert_int_equal(decode_payload(argc33, sizeof(argc33), &err), -1);
	assert_int_equal(err, EINVAL);
	assert_int_equal(decode_payload(arglong, sizeof(arglong), &err), -1);
	assert_int_equal(err, EBADMSG);
	assert_int_equal(decode_payload(missing, sizeof(missing), &err), -1);
	assert_int_equal(err, EBADMSG);
	assert_int_equal(decode_payload(halflen, sizeof(halflen), &err), -1);
	assert_int_equal(err, EBADMSG);
	assert_int_equal(decode_payload(trailing, sizeof(trailing), &err),
	    -1);
	assert_int_equal(err, EBADMSG);
	assert_int_equal(decode_payload(nul, sizeof(nul), &err), -1);
	assert_int_equal(err, EBADMSG);

	/* one argument of 256 bytes */
	big[0] = 0;
	big[1] = 1;
	big[2] = 1;
	big[3] = 0;
	memset(big + 4, 'y', 256);
	assert_int_equal(decode_payload(big, sizeof(big), &err), -1);
	assert_int_equal(err, EINVAL);

	/* not a request */
	assert_true(ctl_encode(buf, sizeof(buf), CTL_T_DATA, 0, ok,
	    sizeof(ok)) > 0);
	assert_int_equal(ctl_decode(buf, CTL_HDRLEN + sizeof(ok), &m), 0);
	assert_int_equal(ctl_decode_request(&m, &r), -1);
	assert_int_equal(errno, EBADMSG);
}

/* Every truncation of a request, and random damage: never a crash. */
static void
test_fuzz(void **state)
{
	static uint8_t		 buf[CTL_MAXMSG];
	static struct ctl_request r;
	struct ctl_msg		 m;
	char			*a[] = { "conntrack", "delete", "src=10.0.0.1",
				    "dport=22", NULL };
	uint8_t			*e;
	ssize_t			 n, fl;
	size_t			 i, len;
	unsigned		 seed = 12345, iter, k;
	int			 rv;

	n = ctl_encode_request(buf, sizeof(buf), 0, 4, a);
	assert_true(n > 0);
	for (i = 0; i < (size_t)n; i++) {
		e = exact(buf, i);
		assert_int_equal(ctl_decode(e, i, &m), -1);
		assert_int_equal(ctl_frame_len(e, i), 0);
		free(e);
	}
	/* a header that claims less payload than the arguments need */
	for (i = 2; i < (size_t)n - CTL_HDRLEN; i++) {
		uint8_t	 tmp[256];

		memcpy(tmp, buf, (size_t)n);
		tmp[12] = 0;
		tmp[13] = 0;
		tmp[14] = (uint8_t)(i >> 8);
		tmp[15] = (uint8_t)i;
		e = exact(tmp, CTL_HDRLEN + i);
		assert_int_equal(ctl_decode(e, CTL_HDRLEN + i, &m), 0);
		assert_int_equal(ctl_decode_request(&m, &r), -1);
		assert_int_equal(errno, EBADMSG);
		free(e);
	}

	for (iter = 0; iter < 20000; iter++) {
		seed = seed * 1103515245u + 12345u;
		len = (seed >> 8) % 200;
		e = malloc(len ? len : 1);
		assert_non_null(e);
		for (i = 0; i < len; i++) {
			seed = seed * 1103515245u + 12345u;
			e[i] = (uint8_t)(seed >> 16);
		}
		/* half the time, a valid header in front of the noise */
		if ((iter & 1) && len >= CTL_HDRLEN) {
			uint8_t	 hdr[CTL_HDRLEN];

			k = (seed >> 4) % 3;
			assert_int_equal(ctl_hdr_encode(hdr, CTL_T_REQUEST, 0,
			    len - CTL_HDRLEN - (k == 1 && len > CTL_HDRLEN)),
			    0);
			memcpy(e, hdr, CTL_HDRLEN);
		}
		fl = ctl_frame_len(e, len);
		assert_true(fl >= -1 && fl <= (ssize_t)len);
		rv = ctl_decode(e, len, &m);
		if (rv == 0) {
			assert_int_equal(fl, (ssize_t)len);
			assert_true(m.len == len - CTL_HDRLEN);
			if (ctl_decode_request(&m, &r) == 0) {
				assert_true(r.argc >= 1 &&
				    r.argc <= CTL_MAXARGS);
				for (k = 0; k < (unsigned)r.argc; k++)
					assert_true(strlen(r.argv[k]) <=
					    CTL_MAXARGLEN);
			}
		}
		(void)ctl_hdr_decode(e, len, &m);
		free(e);
	}
}

static void
test_commands(void **state)
{
	assert_true(ctl_command_known("status"));
	assert_true(ctl_command_known("conntrack"));
	assert_true(ctl_command_known("events"));
	assert_true(ctl_command_known("rules"));
	assert_true(ctl_command_known("stats"));
	assert_true(ctl_command_known("reload"));
	assert_true(ctl_command_known("iptables"));
	assert_false(ctl_command_known("statu"));
	assert_false(ctl_command_known(""));
	assert_false(ctl_command_known(NULL));
}


static void
test_json_str(void **state)
{
	char	 buf[64];

	assert_int_equal(ctl_json_str(buf, sizeof(buf), "a\"b\\c\n\x01"),
	    strlen("\"a\\\"b\\\\c\\n\\u0001\""));
	assert_string_equal(buf, "\"a\\\"b\\\\c\\n\\u0001\"");
	assert_int_equal(ctl_json_str(buf, 4, "hello"), 7);
	assert_string_equal(buf, "\"he");
	assert_int_equal(ctl_json_str(NULL, 0, "hello"), 7);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_roundtrip_types),
		cmocka_unit_test(test_wire_layout),
		cmocka_unit_test(test_encode_errors),
		cmocka_unit_test(test_decode_malformed_header),
		cmocka_unit_test(test_decode_truncated),
		cmocka_unit_test(test_frame_len_bytewise),
		cmocka_unit_test(test_request_roundtrip),
		cmocka_unit_test(test_request_encode_errors),
		cmocka_unit_test(test_request_malformed),
		cmocka_unit_test(test_fuzz),
		cmocka_unit_test(test_commands),
		cmocka_unit_test(test_json_str),
	};

	return (cmocka_run_group_tests(tests, NULL, NULL));
}
