/*
 * gen_syncproto_seeds.c - write the seed corpus of fuzz_syncproto
 *
 * Copyright (C) 2026 The nfqspid authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * The seeds are made with the real encoder and sealed with the fuzzer's
 * key, so they are what a peer sends.  Each file starts with the mode
 * byte fuzz_syncproto.c reads.
 *
 *   make && cc -Isrc tests/fuzz/gen_syncproto_seeds.c src/libspi.a \
  *       -lcrypto -o gen
 *   ./gen tests/fuzz/corpus/fuzz_syncproto
 */
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <err.h>
#include <stdio.h>
#include <string.h>

#include "syncproto.h"

static const char fuzz_secret[] = "the fuzzer's shared secret";

static void
put(const char *dir, const char *name, int mode, const void *buf, size_t len)
{
	char	 path[512];
	FILE	*f;

	snprintf(path, sizeof(path), "%s/%s-%d", dir, name, mode);
	if ((f = fopen(path, "wb")) == NULL)
		err(1, "%s", path);
	if (fputc(mode, f) == EOF || fwrite(buf, 1, len, f) != len ||
	    fclose(f) == EOF)
		err(1, "%s", path);
}

static struct ct_snap
snap(int family, int proto, const char *src, const char *dst)
{
	struct ct_snap	 s;

	memset(&s, 0, sizeof(s));
	s.k.family = (uint8_t)family;
	s.k.proto = (uint8_t)proto;
	if (inet_pton(family, src, &s.k.src) != 1 ||
	    inet_pton(family, dst, &s.k.dst) != 1)
		errx(1, "address");
	s.k.sport = 40000;
	s.k.dport = 443;
	s.tclass = proto == IPPROTO_TCP ? CT_TO_TCP_ESTABLISHED : CT_TO_UDP;
	s.left_ms = 60000;
	s.mark = 0x10;
	s.age_s = 3;
	s.packets = 9;
	if (proto == IPPROTO_TCP) {
		s.state = 3;
		s.flags = CT_SNAP_SEEN_REPLY | CT_SNAP_ASSURED;
		s.tcp.end[0] = 1000;
		s.tcp.maxend[0] = 70000;
		s.tcp.maxwin[0] = 65535;
		s.tcp.scale[1] = 7;
		s.tcp.dflags[1] = 0x03;
	}
	return (s);
}

int
main(int argc, char *argv[])
{
	static uint8_t	 buf[SYNC_MSG_MAX];
	struct sync_hdr	 h = { .seq = 1, .ack = 1, .epoch = 1764800000,
	    .msgno = 1 };
	struct sync_key	 k;
	struct sync_msg	 m;
	struct ct_snap	 a, b;
	static const uint8_t replay[] = { 1, 0, 1, 1, 0, 2, 1, 0, 1, 2, 0, 1,
	    1, 0, 200, 1, 0, 100, 0, 0, 9 };
	size_t		 len;
	int		 t, mode;

	if (argc != 2)
		errx(2, "usage: %s dir", argv[0]);
	if (sync_key_init(&k, fuzz_secret, sizeof(fuzz_secret) - 1) == -1)
		err(1, "sync_key_init");
	a = snap(AF_INET, IPPROTO_TCP, "10.0.0.1", "10.0.0.2");
	b = snap(AF_INET6, IPPROTO_UDP, "2001:db8::1", "2001:db8::2");
	if (sync_msg_init(&m, buf, sizeof(buf), SYNC_T_UPDATE) == -1 ||
	    sync_msg_add_conn(&m, &a, "ssh-in") == -1 ||
	    sync_msg_add_conn(&m, &b, NULL) == -1 ||
	    sync_msg_add_delete(&m, &a.k) == -1)
		err(1, "update");
	len = sync_msg_seal(&m, &h, &k);
	for (mode = 0; mode < 2; mode++)
		put(argv[1], "update", mode, buf, len);
	if (sync_msg_init(&m, buf, sizeof(buf), SYNC_T_NACK) == -1 ||
	    sync_msg_add_range(&m, 3, 9) == -1 ||
	    sync_msg_add_range(&m, 0xfffffffeu, 2) == -1)
		err(1, "nack");
	len = sync_msg_seal(&m, &h, &k);
	for (mode = 0; mode < 2; mode++)
		put(argv[1], "nack", mode, buf, len);
	for (t = SYNC_T_BULK_START; t < SYNC_T_MAX; t++) {
		if (t == SYNC_T_NACK)
			continue;
		if (sync_msg_init(&m, buf, sizeof(buf), (uint8_t)t) == -1)
			err(1, "init");
		len = sync_msg_seal(&m, &h, &k);
		put(argv[1], sync_type_name(t), 1, buf, len);
	}
	put(argv[1], "replay", 2, replay, sizeof(replay));
	return (0);
}
