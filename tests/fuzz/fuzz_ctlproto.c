/*
 * fuzz_ctlproto.c - libFuzzer target: the control socket's decoders
 *
 * Copyright (C) 2026 The nfqspid authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * The daemon runs these on whatever a local peer writes to the control
 * socket, so they must survive any bytes.  The first input byte picks
 * what the rest is fed to:
 *   0  a byte stream: frames cut with ctl_frame_len(), each decoded, a
 *      request's arguments decoded and encoded again (must give the same
 *      bytes), "conntrack delete" arguments through ctf_parse()
 *   1  a request payload without a header, for ctl_decode_request()
 *   2  a string for ctl_json_str()
 *   3  NUL-separated arguments for ctf_parse() and a connection for
 *      ctf_match()
 * Besides sanitizer findings, broken invariants abort().
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <netinet/in.h>

#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctlproto.h"
#include "ctfilter.h"
#include "fuzz.h"

static void
check_filter(int argc, char *const argv[], const uint8_t *tuple, size_t tlen)
{
	struct ctf		 f;
	struct ct_view		 v;
	char			 err[256];
	uint8_t			 t[42];
	int			 rc;

	memset(err, 'x', sizeof(err));
	rc = ctf_parse(&f, argc, argv, CTF_F_KEYVAL | CTF_F_EVENTS, err,
	    sizeof(err));
	CHECK(rc == 0 || rc == -1);
	if (rc == -1) {
		/* the message goes back to the peer that sent the
		   arguments, quoted as they came: only its length matters */
		CHECK(memchr(err, '\0', sizeof(err)) != NULL);
		CHECK(err[0] != '\0');
		return;
	}
	CHECK(!(f.has & CTF_H_SRC) || f.src_plen <= (f.family == AF_INET ?
	    32 : 128));
	CHECK(!(f.has & CTF_H_DST) || f.dst_plen <= (f.family == AF_INET ?
	    32 : 128));
	CHECK(!(f.has & CTF_H_MARK) || (f.mark & ~f.mark_mask) == 0);
	CHECK((f.status & ~f.status_mask) == 0);
	memset(t, 0, sizeof(t));
	if (tlen > 0)
		memcpy(t, tuple, tlen < sizeof(t) ? tlen : sizeof(t));
	memset(&v, 0, sizeof(v));
	memcpy(v.orig.src.a8, t, 16);
	memcpy(v.orig.dst.a8, t + 16, 16);
	v.family = t[32] & 1 ? AF_INET6 : AF_INET;
	v.proto = t[33];
	v.orig.sport = (uint16_t)(t[34] << 8 | t[35]);
	v.orig.dport = (uint16_t)(t[36] << 8 | t[37]);
	v.state = t[38];
	v.mark = (uint32_t)t[39] << 8 | t[40];
	v.flags = t[41] >> 3;
	rc = ctf_match(&f, &v);
	CHECK(rc == 0 || rc == 1);
	CHECK(ctf_event(&f, t[41] & 7) == 0 || ctf_event(&f, t[41] & 7) == 1);
	/* a filter always matches the connection it names exactly */
	if (f.has & CTF_H_STATE)
		return;		/* a set of states: no one to name */
	v.family = f.family != 0 ? f.family : AF_INET;
	v.proto = (f.has & CTF_H_PROTO) ? f.proto : IPPROTO_TCP;
	v.orig.src = f.src;
	v.orig.dst = f.dst;
	v.orig.sport = f.sport;
	v.orig.dport = f.dport;
	v.mark = f.mark;
	v.flags = (f.status & CTF_ST_SEEN_REPLY ? 0 : CT_VIEW_UNREPLIED) |
	    (f.status & CTF_ST_ASSURED ? CT_VIEW_ASSURED : 0) |
	    (f.status & CTF_ST_OFFLOAD ? CT_VIEW_OFFLOAD : 0);
	if (!(f.has & (CTF_H_SPORT | CTF_H_DPORT)) || v.proto == IPPROTO_TCP ||
	    v.proto == IPPROTO_UDP)
		CHECK(ctf_match(&f, &v) == 1);
}

static void
check_request(const struct ctl_msg *m, const uint8_t *frame, size_t flen)
{
	static uint8_t		 again[CTL_MAXMSG];
	static struct ctl_request r;
	ssize_t			 n;
	int			 i, rc;

	rc = ctl_decode_request(m, &r);
	if (rc == -1) {
		CHECK(errno == EBADMSG || errno == EINVAL);
		return;
	}
	CHECK(rc == 0);
	CHECK(r.argc >= 1 && r.argc <= CTL_MAXARGS);
	CHECK(r.argv[r.argc] == NULL);
	for (i = 0; i < r.argc; i++) {
		CHECK(r.argv[i] != NULL);
		CHECK(strlen(r.argv[i]) <= CTL_MAXARGLEN);
	}
	(void)ctl_command_known(r.argv[0]);
	if (frame != NULL) {
		/* decoding loses nothing: the encoder gives the same frame */
		n = ctl_encode_request(again, sizeof(again), r.flags, r.argc,
		    r.argv);
		CHECK(n > 0 && (size_t)n == flen);
		CHECK(memcmp(again, frame, flen) == 0);
	}
	if (r.argc >= 2 && strcmp(r.argv[0], "conntrack") == 0 &&
	    strcmp(r.argv[1], "delete") == 0)
		check_filter(r.argc - 2, r.argv + 2, NULL, 0);
}

static void
stream(const uint8_t *data, size_t size)
{
	struct ctl_msg	 m, h;
	ssize_t		 n;
	uint8_t		*frame;

	while (size > 0) {
		n = ctl_frame_len(data, size);
		if (n <= 0) {
			CHECK(n == 0 || n == -1);
			/* a complete header that is bad says so at once */
			if (n == 0)
				CHECK(size < CTL_HDRLEN ||
				    ctl_hdr_decode(data, size, &h) > (ssize_t)size);
			return;
		}
		CHECK(n >= CTL_HDRLEN && (size_t)n <= size &&
		    n <= CTL_MAXMSG);
		/* an exact copy, so that ASan sees a read past the frame */
		frame = malloc((size_t)n);
		CHECK(frame != NULL);
		memcpy(frame, data, (size_t)n);
		CHECK(ctl_decode(frame, (size_t)n, &m) == 0);
		CHECK(m.len == (size_t)n - CTL_HDRLEN);
		CHECK(ctl_type_name(m.type) != NULL);
		/* a truncated frame is refused */
		CHECK(ctl_decode(frame, (size_t)n - 1, &h) == -1);
		if (m.type == CTL_T_REQUEST)
			check_request(&m, frame, (size_t)n);
		free(frame);
		data += n;
		size -= (size_t)n;
	}
}

static void
jsonstr(const uint8_t *data, size_t size)
{
	static char	 big[65536];
	char		 small[32];
	char		*line;
	int		 n, m;

	line = malloc(size + 1);
	CHECK(line != NULL);
	memcpy(line, data, size);
	line[size] = '\0';
	n = ctl_json_str(big, sizeof(big), line);
	CHECK(n >= 2);
	if ((size_t)n < sizeof(big)) {
		CHECK((size_t)n == strlen(big) && big[0] == '"' &&
		    big[n - 1] == '"');
		/* cut output is a prefix of the whole one, and terminated */
		m = ctl_json_str(small, sizeof(small), line);
		CHECK(m == n);
		CHECK(strncmp(small, big, strlen(small)) == 0);
	}
	free(line);
}

static void
filter_args(const uint8_t *data, size_t size)
{
	char		*copy, *argv[CTL_MAXARGS + 1], *p, *end;
	size_t		 tlen = 0;
	int		 argc = 0;

	/* the last 42 bytes, if there are that many, are the connection */
	if (size > 42) {
		tlen = 42;
		size -= 42;
	}
	copy = malloc(size + 1);
	CHECK(copy != NULL);
	memcpy(copy, data, size);
	copy[size] = '\0';
	end = copy + size;
	for (p = copy; p < end && argc < CTL_MAXARGS; p += strlen(p) + 1)
		argv[argc++] = p;
	argv[argc] = NULL;
	check_filter(argc, argv, data + size, tlen);
	free(copy);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ctl_msg	 m;
	uint8_t		*payload;

	if (size < 1)
		return (0);
	switch (data[0] & 3) {
	case 0:
		stream(data + 1, size - 1);
		break;
	case 1:
		payload = malloc(size - 1 ? size - 1 : 1);
		CHECK(payload != NULL);
		memcpy(payload, data + 1, size - 1);
		memset(&m, 0, sizeof(m));
		m.type = CTL_T_REQUEST;
		m.flags = data[0] >> 7;
		m.payload = payload;
		m.len = size - 1;
		check_request(&m, NULL, 0);
		free(payload);
		break;
	case 2:
		jsonstr(data + 1, size - 1);
		break;
	default:
		filter_args(data + 1, size - 1);
		break;
	}
	return (0);
}
