/*
 * gen_statefile_seeds.c - write the seed corpus of fuzz_statefile
 *
 * Copyright (C) 2026 The nfqspid authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * The seeds are files the real writer makes.  Each starts with the mode
 * byte fuzz_statefile.c reads: 0, the file as it is; 1, its messages as
 * length-prefixed chunks without their MACs.
 *
 *   make && cc -Isrc tests/fuzz/gen_statefile_seeds.c src/libspi.a \
 *       -lcrypto -o gen
 *   ./gen tests/fuzz/corpus/fuzz_statefile
 */
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <err.h>
#include <stdio.h>
#include <string.h>

#include "statefile.h"

static unsigned char	 file[64 * 1024];
static size_t		 flen;

static int
out(void *arg, const void *buf, size_t len)
{
	(void)arg;	/* built by hand (see above), -Wextra whole */
	if (len > sizeof(file) - flen)
		errx(1, "too big");
	memcpy(file + flen, buf, len);
	flen += len;
	return (0);
}

static void
put(const char *dir, const char *name)
{
	char	 path[512];
	FILE	*f;
	size_t	 off, n;
	unsigned char hdr[3];

	snprintf(path, sizeof(path), "%s/%s-0", dir, name);
	if ((f = fopen(path, "wb")) == NULL)
		err(1, "%s", path);
	fputc(0, f);
	fwrite(file, 1, flen, f);
	fclose(f);
	snprintf(path, sizeof(path), "%s/%s-1", dir, name);
	if ((f = fopen(path, "wb")) == NULL)
		err(1, "%s", path);
	fputc(1, f);
	for (off = 0; off < flen; off += n) {
		n = (size_t)file[off + 6] << 8 | file[off + 7];
		hdr[0] = (unsigned char)((n - SYNC_MACLEN) >> 8);
		hdr[1] = (unsigned char)(n - SYNC_MACLEN);
		fwrite(hdr, 1, 2, f);
		fwrite(file + off, 1, n - SYNC_MACLEN, f);
	}
	fclose(f);
}

static void
conn(struct state_writer *sw, uint32_t w, int i)
{
	struct ct_snap	 s;

	memset(&s, 0, sizeof(s));
	s.k.family = i % 2 ? AF_INET6 : AF_INET;
	s.k.proto = i % 3 == 2 ? IPPROTO_UDP : IPPROTO_TCP;
	inet_pton(s.k.family, i % 2 ? "2001:db8::1" : "10.0.0.1", &s.k.src);
	inet_pton(s.k.family, i % 2 ? "2001:db8::2" : "10.0.0.2", &s.k.dst);
	s.k.sport = (uint16_t)(40000 + i);
	s.k.dport = 22;
	if (s.k.proto == IPPROTO_TCP) {
		s.state = 3;
		s.tclass = CT_TO_TCP_ESTABLISHED;
		s.tcp.end[0] = 1000;
		s.tcp.maxwin[1] = 64240;
		s.tcp.scale[0] = s.tcp.scale[1] = 7;
	} else
		s.tclass = CT_TO_UDP_STREAM;
	s.flags = CT_SNAP_SEEN_REPLY | CT_SNAP_ASSURED;
	s.hook = PKT_HOOK_FORWARD;
	s.mark = (uint32_t)i;
	s.left_ms = 300000;
	s.age_s = 60;
	s.packets = 12;
	if (state_write_conn(sw, w, &s, i % 2 ? "ssh" : "") == -1)
		err(1, "state_write_conn");
}

int
main(int argc, char *argv[])
{
	static struct state_writer sw;
	struct sync_mac	*mac;
	int		 i;

	if (argc != 2)
		errx(1, "usage: gen DIR");
	if ((mac = state_mac_new()) == NULL)
		err(1, "state_mac_new");
	flen = 0;
	if (state_write_begin(&sw, mac, 1796040000000ull, 1, out, NULL) ==
	    -1 || state_write_end(&sw) == -1)
		err(1, "empty");
	put(argv[1], "empty");
	flen = 0;
	if (state_write_begin(&sw, mac, 1796040000000ull, 2, out, NULL) == -1)
		err(1, "begin");
	for (i = 0; i < 6; i++)
		conn(&sw, (uint32_t)(i / 3), i);
	if (state_write_end(&sw) == -1)
		err(1, "end");
	put(argv[1], "two-workers");
	sync_mac_free(mac);
	return (0);
}
