/*
 * ctlproto.c - the control socket's wire format
 *
 * Copyright (C) 2026 The nfqspid authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * Pure: everything here works on caller-supplied buffers and checks each
 * length before it reads or writes, so both ends may feed it whatever
 * arrived on the socket.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctlproto.h"
#include "strl.h"
#include "bytes.h"

const char *const ctl_commands[] = {
	"status",
	"conntrack",
	"events",
	"rules",
	"stats",
	"reload",
	"iptables",
	"nft",
	"sync",
	NULL
};

const char *
ctl_type_name(int type)
{
	switch (type) {
	case CTL_T_REQUEST:
		return ("request");
	case CTL_T_DATA:
		return ("data");
	case CTL_T_END:
		return ("end");
	case CTL_T_ERROR:
		return ("error");
	default:
		return (NULL);
	}
}

ssize_t
ctl_hdr_decode(const void *buf, size_t len, struct ctl_msg *m)
{
	const uint8_t	*p = buf;
	uint32_t	 magic, flags, plen;
	uint16_t	 version, type;

	if (buf == NULL || len < CTL_HDRLEN) {
		errno = EBADMSG;
		return (-1);
	}
	magic = get32(p);
	version = get16(p + 4);
	type = get16(p + 6);
	flags = get32(p + 8);
	plen = get32(p + 12);
	if (m != NULL) {
		memset(m, 0, sizeof(*m));
		m->version = version;
		m->type = type;
		m->flags = flags;
		m->len = plen;
	}
	if (magic != CTL_MAGIC) {
		errno = EBADMSG;
		return (-1);
	}
	/* The version before the rest: a newer peer may add types. */
	if (version != CTL_VERSION) {
		errno = EPROTONOSUPPORT;
		return (-1);
	}
	if (ctl_type_name(type) == NULL) {
		errno = EBADMSG;
		return (-1);
	}
	if (flags & ~CTL_F_ALL) {
		errno = EINVAL;
		return (-1);
	}
	if (plen > CTL_MAXPAYLOAD) {
		errno = EMSGSIZE;
		return (-1);
	}
	return ((ssize_t)(CTL_HDRLEN + plen));
}

ssize_t
ctl_frame_len(const void *buf, size_t len)
{
	const uint8_t	*p = buf;
	ssize_t		 n;
	size_t		 i;

	if (len < CTL_HDRLEN) {
		/* Reject a wrong magic as early as its first byte. */
		for (i = 0; i < len && i < 4; i++)
			if (p[i] != ((CTL_MAGIC >> (24 - 8 * i)) & 0xff)) {
				errno = EBADMSG;
				return (-1);
			}
		return (0);
	}
	if ((n = ctl_hdr_decode(buf, len, NULL)) == -1)
		return (-1);
	if ((size_t)n > len)
		return (0);
	return (n);
}

int
ctl_decode(const void *buf, size_t len, struct ctl_msg *m)
{
	ssize_t	 n;

	if ((n = ctl_hdr_decode(buf, len, m)) == -1)
		return (-1);
	if ((size_t)n != len) {
		/* truncated, or something after the frame */
		errno = EBADMSG;
		return (-1);
	}
	m->payload = (const uint8_t *)buf + CTL_HDRLEN;
	return (0);
}

int
ctl_hdr_encode(uint8_t hdr[CTL_HDRLEN], uint16_t type, uint32_t flags,
    size_t plen)
{
	if (ctl_type_name(type) == NULL || (flags & ~CTL_F_ALL)) {
		errno = EINVAL;
		return (-1);
	}
	if (plen > CTL_MAXPAYLOAD) {
		errno = EMSGSIZE;
		return (-1);
	}
	put32(hdr, CTL_MAGIC);
	put16(hdr + 4, CTL_VERSION);
	put16(hdr + 6, type);
	put32(hdr + 8, flags);
	put32(hdr + 12, (uint32_t)plen);
	return (0);
}

ssize_t
ctl_encode(void *buf, size_t len, uint16_t type, uint32_t flags,
    const void *payload, size_t plen)
{
	uint8_t	*p = buf;

	if (plen > 0 && payload == NULL) {
		errno = EINVAL;
		return (-1);
	}
	if (plen > CTL_MAXPAYLOAD) {
		errno = EMSGSIZE;
		return (-1);
	}
	if (buf == NULL || len < CTL_HDRLEN + plen) {
		errno = ENOSPC;
		return (-1);
	}
	if (ctl_hdr_encode(p, type, flags, plen) == -1)
		return (-1);
	if (plen > 0)
		memcpy(p + CTL_HDRLEN, payload, plen);
	return ((ssize_t)(CTL_HDRLEN + plen));
}

ssize_t
ctl_encode_request(void *buf, size_t len, uint32_t flags, int argc,
    char *const argv[])
{
	uint8_t	*p = buf;
	size_t	 plen, off, alen;
	int	 i;

	if (argc < 1 || argc > CTL_MAXARGS || argv == NULL) {
		errno = EINVAL;
		return (-1);
	}
	plen = 2;
	for (i = 0; i < argc; i++) {
		if (argv[i] == NULL ||
		    (alen = strlen(argv[i])) > CTL_MAXARGLEN) {
			errno = EINVAL;
			return (-1);
		}
		plen += 2 + alen;
	}
	/* 32 arguments of 255 bytes always fit in CTL_MAXPAYLOAD. */
	if (buf == NULL || len < CTL_HDRLEN + plen) {
		errno = ENOSPC;
		return (-1);
	}
	if (ctl_hdr_encode(p, CTL_T_REQUEST, flags, plen) == -1)
		return (-1);
	off = CTL_HDRLEN;
	put16(p + off, (uint16_t)argc);
	off += 2;
	for (i = 0; i < argc; i++) {
		alen = strlen(argv[i]);
		put16(p + off, (uint16_t)alen);
		off += 2;
		memcpy(p + off, argv[i], alen);
		off += alen;
	}
	return ((ssize_t)off);
}

int
ctl_decode_request(const struct ctl_msg *m, struct ctl_request *r)
{
	const uint8_t	*p;
	size_t		 off, soff, alen;
	unsigned	 argc, i;

	if (m == NULL || r == NULL || m->type != CTL_T_REQUEST ||
	    (m->len > 0 && m->payload == NULL) || m->len < 2) {
		errno = EBADMSG;
		return (-1);
	}
	p = m->payload;
	argc = get16(p);
	if (argc < 1 || argc > CTL_MAXARGS) {
		errno = argc < 1 ? EBADMSG : EINVAL;
		return (-1);
	}
	memset(r, 0, sizeof(*r));
	r->flags = m->flags;
	off = 2;
	soff = 0;
	for (i = 0; i < argc; i++) {
		if (m->len - off < 2) {
			errno = EBADMSG;
			return (-1);
		}
		alen = get16(p + off);
		off += 2;
		if (alen > m->len - off) {
			errno = EBADMSG;
			return (-1);
		}
		if (alen > CTL_MAXARGLEN) {
			errno = EINVAL;
			return (-1);
		}
		if (memchr(p + off, '\0', alen) != NULL) {
			errno = EBADMSG;
			return (-1);
		}
		/* argc <= CTL_MAXARGS and alen <= CTL_MAXARGLEN: fits */
		memcpy(r->str + soff, p + off, alen);
		r->str[soff + alen] = '\0';
		r->argv[i] = r->str + soff;
		soff += alen + 1;
		off += alen;
	}
	if (off != m->len) {
		errno = EBADMSG;
		return (-1);
	}
	r->argc = (int)argc;
	r->argv[argc] = NULL;
	return (0);
}

int
ctl_command_known(const char *cmd)
{
	size_t	 i;

	if (cmd == NULL)
		return (0);
	for (i = 0; ctl_commands[i] != NULL; i++)
		if (strcmp(ctl_commands[i], cmd) == 0)
			return (1);
	return (0);
}

/* ---- JSON ------------------------------------------------------------ */

/* An output buffer that counts what it could not hold, like snprintf. */
struct out {
	char	*buf;
	size_t	 len;
	size_t	 off;
};

static void
out_char(struct out *o, char c)
{
	if (o->len > 0 && o->off < o->len - 1)
		o->buf[o->off] = c;
	o->off++;
}

static void
out_str(struct out *o, const char *s, size_t n)
{
	size_t	 i;

	for (i = 0; i < n; i++)
		out_char(o, s[i]);
}

static void
out_cstr(struct out *o, const char *s)
{
	out_str(o, s, strlen(s));
}

static void
out_json(struct out *o, const char *s, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	unsigned char	 c;
	size_t		 i;

	out_char(o, '"');
	for (i = 0; i < n; i++) {
		c = (unsigned char)s[i];
		switch (c) {
		case '"':
			out_cstr(o, "\\\"");
			break;
		case '\\':
			out_cstr(o, "\\\\");
			break;
		case '\n':
			out_cstr(o, "\\n");
			break;
		case '\t':
			out_cstr(o, "\\t");
			break;
		case '\r':
			out_cstr(o, "\\r");
			break;
		default:
			if (c < 0x20 || c == 0x7f) {
				out_cstr(o, "\\u00");
				out_char(o, hex[c >> 4]);
				out_char(o, hex[c & 0xf]);
			} else
				out_char(o, (char)c);
		}
	}
	out_char(o, '"');
}

static int
out_end(struct out *o)
{
	if (o->len > 0)
		o->buf[o->off < o->len ? o->off : o->len - 1] = '\0';
	return (o->off > 0x7fffffff ? 0x7fffffff : (int)o->off);
}

int
ctl_json_str(char *buf, size_t len, const char *s)
{
	struct out	 o = { buf, len, 0 };

	out_json(&o, s, strlen(s));
	return (out_end(&o));
}
