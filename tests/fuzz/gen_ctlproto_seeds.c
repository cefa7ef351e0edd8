/*
 * gen_ctlproto_seeds.c - write the seed corpus of fuzz_ctlproto
 *
 * Copyright (C) 2026 The nfqspid authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * The seeds are made with the real encoder, so they are what nfqspictl
 * sends.  Each file starts with the mode byte fuzz_ctlproto.c reads.
 *
 *   cc -Isrc tests/fuzz/gen_ctlproto_seeds.c src/ctlproto.c -o gen
 *   ./gen tests/fuzz/corpus/fuzz_ctlproto
 */
#include <sys/types.h>

#include <err.h>
#include <stdio.h>
#include <string.h>

#include "ctlproto.h"

static void
put(const char *dir, const char *name, int mode, const void *buf, size_t len)
{
	char	 path[512];
	FILE	*f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	if ((f = fopen(path, "wb")) == NULL)
		err(1, "%s", path);
	if (fputc(mode, f) == EOF || fwrite(buf, 1, len, f) != len ||
	    fclose(f) == EOF)
		err(1, "%s", path);
}

/* mode 0: one request frame, as nfqspictl sends it; mode 1: its payload */
static void
req(const char *dir, const char *name, uint32_t flags, int argc,
    char *const argv[])
{
	static uint8_t	 buf[CTL_MAXMSG];
	char		 n1[128];
	ssize_t		 n;

	if ((n = ctl_encode_request(buf, sizeof(buf), flags, argc,
	    argv)) == -1)
		err(1, "ctl_encode_request %s", name);
	put(dir, name, 0, buf, (size_t)n);
	snprintf(n1, sizeof(n1), "%s-payload", name);
	put(dir, n1, 1, buf + CTL_HDRLEN, (size_t)n - CTL_HDRLEN);
}

int
main(int argc, char *argv[])
{
	static uint8_t	 buf[CTL_MAXMSG];
	const char	*dir;
	ssize_t		 n, m;
	char		*status[] = { "status" };
	char		*count[] = { "conntrack", "count" };
	char		*list[] = { "conntrack" };
	char		*del[] = { "conntrack", "delete", "src=10.0.0.0/8",
			    "dport=22", "proto=tcp" };
	char		*del6[] = { "conntrack", "delete", "dst=2001:db8::/32",
			    "sport=53", "proto=udp" };
	char		*flush[] = { "conntrack", "flush" };
	char		*rules[] = { "rules" };
	char		*reload[] = { "reload" };
	char		*events[] = { "events" };
	const char	 filt[] = "src=192.0.2.1/24\0dst=::1\0sport=1\0"
			    "dport=65535\0proto=icmpv6";
	/* conntrack(8)'s options (ctfilter.c), with a connection after */
	const char	 opts[] = "-p\0tcp\0-s\0" "10.0.0.0/8\0--dport=22\0"
			    "--state\0ESTABLISHED,time_wait\0-m\0" "0x10/0xff\0"
			    "-e\0NEW,DESTROY\0-o\0timestamp\0-f\0ipv4\0"
			    "-u\0ASSURED,!OFFLOAD\0"
			    "\x0a\x01\x02\x03\0\0\0\0\0\0\0\0\0\0\0\0"
			    "\x0a\0\0\x01\0\0\0\0\0\0\0\0\0\0\0\0"
			    "\0\x06\xa0\x28\0\x16\x03\0\x10\x01";
	const char	 line[] = "ipv4     2 tcp      6 431999 ESTABLISHED "
			    "src=10.0.0.1 dst=10.0.0.2 sport=41000 dport=22 "
			    "src=10.0.0.2 dst=10.0.0.1 sport=22 dport=41000 "
			    "[ASSURED] mark=16 use=1";
	const char	 line6[] = "ipv6     10 icmpv6   58 29 src=2001:db8::1 "
			    "dst=2001:db8::2 type=128 code=0 id=7 "
			    "src=2001:db8::2 dst=2001:db8::1 type=129 code=0 "
			    "id=7 [UNREPLIED] mark=0 use=1";

	if (argc != 2)
		errx(1, "usage: %s DIR", argv[0]);
	dir = argv[1];
	req(dir, "req-status", 0, 1, status);
	req(dir, "req-status-json", CTL_F_JSON, 1, status);
	req(dir, "req-ct-count", 0, 2, count);
	req(dir, "req-ct-list-json", CTL_F_JSON, 1, list);
	req(dir, "req-ct-delete", 0, 5, del);
	req(dir, "req-ct-delete6", 0, 5, del6);
	req(dir, "req-ct-flush", 0, 2, flush);
	req(dir, "req-rules", CTL_F_JSON, 1, rules);
	req(dir, "req-reload", 0, 1, reload);
	req(dir, "req-events", 0, 1, events);

	/* the daemon's side of a conversation: data, then end */
	n = ctl_encode(buf, sizeof(buf), CTL_T_DATA, 0, line, strlen(line));
	m = ctl_encode(buf + n, sizeof(buf) - (size_t)n, CTL_T_END, 0, NULL,
	    0);
	if (n == -1 || m == -1)
		err(1, "ctl_encode");
	put(dir, "stream-data-end", 0, buf, (size_t)(n + m));
	n = ctl_encode(buf, sizeof(buf), CTL_T_ERROR, 0, "no such thing",
	    13);
	if (n == -1)
		err(1, "ctl_encode");
	put(dir, "stream-error", 0, buf, (size_t)n);

	put(dir, "ctline-tcp", 2, line, strlen(line));
	put(dir, "ctline-icmpv6", 2, line6, strlen(line6));
	put(dir, "filter-all-keys", 3, filt, sizeof(filt) - 1);
	put(dir, "filter-conntrack-options", 3, opts, sizeof(opts) - 1);
	return (0);
}
