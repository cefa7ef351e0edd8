/*
 * config_sync.c - the [sync] section: the HA peer, the shared key and
 * the bounds of the sync thread
 *
 * Copyright (C) 2026 The nfqspid authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * config.c hands every key of [sync] here and asks at the section's end
 * whether they fit together.  The key file is read at a start (and by
 * nfqspid -n), so that a key too short or a file others may read is
 * refused before anything runs; only the HMAC key made from it is kept.
 * A reload leaves [sync] for the next start and does not read it.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE	/* explicit_bzero */
#endif

#include <sys/types.h>
#include <sys/stat.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "config.h"
#include "strl.h"

#define SYNC_SECRET_MAX	4096		/* bytes of a key file at most */

void
config_sync_defaults(struct sync_config *sc)
{
	memset(sc, 0, sizeof(*sc));
	sc->role = SYNC_ROLE_BACKUP;
	sc->mtu = 1472;			/* an Ethernet frame's UDP payload */
	sc->flush_ms = 50;
	sc->resend = 1024;
	sc->queue = 8192;
	sc->refresh = 10;
	sc->grace = 10;
	sc->alone = 10;
}

static int
sync_uint(const char *v, uint32_t min, uint32_t max, uint32_t *out)
{
	char		*end;
	unsigned long	 n;

	if (!isdigit((unsigned char)v[0]) || (v[0] == '0' && v[1] != '\0'))
		return (-1);
	errno = 0;
	n = strtoul(v, &end, 10);
	if (errno != 0 || *end != '\0' || n < min || n > max)
		return (-1);
	*out = (uint32_t)n;
	return (0);
}

/* ADDR:PORT or [ADDR]:PORT, port 1-65535, into ADDR's text and the port */
int
config_split_addrport(const char *v, char *addr, size_t len, uint16_t *port)
{
	const char	*a, *colon;
	uint32_t	 p;
	size_t		 alen;
	int		 af;

	if (v[0] == '[') {
		if ((colon = strstr(v, "]:")) == NULL)
			return (-1);
		a = v + 1;
		alen = (size_t)(colon - a);
		colon++;
		af = AF_INET6;
	} else {
		if ((colon = strrchr(v, ':')) == NULL)
			return (-1);
		a = v;
		alen = (size_t)(colon - a);
		af = AF_INET;
	}
	if (alen == 0 || alen >= len ||
	    sync_uint(colon + 1, 1, 65535, &p) == -1)
		return (-1);
	memcpy(addr, a, alen);
	addr[alen] = '\0';
	*port = (uint16_t)p;
	return (af);
}

/* ADDR:PORT, ADDR an IPv4 address or [IPv6]; port 1-65535 */
int
config_addrport(const char *v, struct sockaddr_storage *ss, socklen_t *len)
{
	struct sockaddr_in	*s4 = (struct sockaddr_in *)ss;
	struct sockaddr_in6	*s6 = (struct sockaddr_in6 *)ss;
	char			 addr[INET6_ADDRSTRLEN + 1];
	uint16_t		 port;
	int			 af;

	if ((af = config_split_addrport(v, addr, sizeof(addr), &port)) == -1)
		return (-1);
	memset(ss, 0, sizeof(*ss));
	if (af == AF_INET) {
		s4->sin_family = AF_INET;
		s4->sin_port = htons(port);
		if (inet_pton(AF_INET, addr, &s4->sin_addr) != 1)
			return (-1);
		*len = sizeof(*s4);
	} else {
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons(port);
		if (inet_pton(AF_INET6, addr, &s6->sin6_addr) != 1)
			return (-1);
		*len = sizeof(*s6);
	}
	return (0);
}

void
config_sync_addr(const struct sockaddr_storage *ss, char *buf, size_t len)
{
	const struct sockaddr_in	*s4 = (const struct sockaddr_in *)ss;
	const struct sockaddr_in6	*s6 = (const struct sockaddr_in6 *)ss;
	char				 a[INET6_ADDRSTRLEN];

	if (ss->ss_family == AF_INET6 &&
	    inet_ntop(AF_INET6, &s6->sin6_addr, a, sizeof(a)) != NULL)
		snprintf(buf, len, "[%s]:%u", a, ntohs(s6->sin6_port));
	else if (ss->ss_family == AF_INET &&
	    inet_ntop(AF_INET, &s4->sin_addr, a, sizeof(a)) != NULL)
		snprintf(buf, len, "%s:%u", a, ntohs(s4->sin_port));
	else
		snprintf(buf, len, "-");
}

/* The numeric keys: name, bounds, where. */
static const struct {
	const char	*name;
	uint32_t	 min, max;
	size_t		 off;
	size_t		 size;
} sync_nums[] = {
	{ "mtu", 512, SYNC_MSG_MAX, offsetof(struct sync_config, mtu), 2 },
	{ "flush", 10, 1000, offsetof(struct sync_config, flush_ms), 2 },
	{ "resend", 8, 65536, offsetof(struct sync_config, resend), 4 },
	{ "queue", 256, 1048576, offsetof(struct sync_config, queue), 4 },
	{ "refresh", 0, 3600, offsetof(struct sync_config, refresh), 4 },
	{ "grace", 0, 3600, offsetof(struct sync_config, grace), 4 },
	{ "alone", 0, 86400, offsetof(struct sync_config, alone), 4 },
};

int
config_sync_key(struct sync_config *sc, const char *key, const char *v,
    char *err, size_t errlen)
{
	uint32_t	 n;
	uint16_t	 n16;
	size_t		 i;

	sc->on = 1;
	if (strcmp(key, "listen") == 0 || strcmp(key, "peer") == 0) {
		socklen_t	 len;

		if (config_addrport(v, strcmp(key, "peer") == 0 ? &sc->peer :
		    &sc->listen, &len) == -1) {
			snprintf(err, errlen, "%s: \"%s\" is not ADDRESS:PORT "
			    "(an IPv4 address or [IPv6 address], port "
			    "1-65535)", key, v);
			return (-1);
		}
		sc->addrlen = len;
		return (0);
	}
	if (strcmp(key, "key") == 0) {
		if (v[0] != '/' ||
		    spi_strlcpy(sc->keyfile, v, sizeof(sc->keyfile)) >=
		    sizeof(sc->keyfile)) {
			snprintf(err, errlen, "key: \"%s\" is not an absolute "
			    "path of at most %zu characters", v,
			    sizeof(sc->keyfile) - 1);
			return (-1);
		}
		return (0);
	}
	if (strcmp(key, "role") == 0) {
		if (strcasecmp(v, "backup") == 0)
			sc->role = SYNC_ROLE_BACKUP;
		else if (strcasecmp(v, "master") == 0)
			sc->role = SYNC_ROLE_MASTER;
		else {
			snprintf(err, errlen, "role: \"%s\" is not master or "
			    "backup", v);
			return (-1);
		}
		return (0);
	}
	for (i = 0; i < sizeof(sync_nums) / sizeof(sync_nums[0]); i++) {
		if (strcmp(key, sync_nums[i].name) != 0)
			continue;
		if (sync_uint(v, sync_nums[i].min, sync_nums[i].max,
		    &n) == -1) {
			snprintf(err, errlen, "%s: \"%s\" is not a number from "
			    "%u to %u", key, v, sync_nums[i].min,
			    sync_nums[i].max);
			return (-1);
		}
		if (sync_nums[i].size == 2) {
			n16 = (uint16_t)n;
			memcpy((char *)sc + sync_nums[i].off, &n16, 2);
		} else
			memcpy((char *)sc + sync_nums[i].off, &n, 4);
		return (0);
	}
	return (1);
}

/* The shared secret: the file's bytes less trailing blanks. */
int
config_sync_keyfile(struct sync_config *sc, char *err, size_t errlen)
{
	uint8_t		 buf[SYNC_SECRET_MAX + 1];
	struct stat	 st;
	ssize_t		 n;
	size_t		 len = 0;
	int		 fd, rc = -1;

	if ((fd = open(sc->keyfile, O_RDONLY | O_CLOEXEC)) == -1) {
		snprintf(err, errlen, "key: %s: %s", sc->keyfile,
		    strerror(errno));
		return (-1);
	}
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode)) {
		snprintf(err, errlen, "key: %s: not a regular file",
		    sc->keyfile);
		goto out;
	}
	if (st.st_mode & (S_IROTH | S_IWOTH)) {
		snprintf(err, errlen, "key: %s: others may read or write it "
		    "(mode %03o): make it mode 600, root's",
		    sc->keyfile, (unsigned)(st.st_mode & 0777));
		goto out;
	}
	while (len < sizeof(buf) &&
	    (n = read(fd, buf + len, sizeof(buf) - len)) > 0)
		len += (size_t)n;
	if (len > SYNC_SECRET_MAX) {
		snprintf(err, errlen, "key: %s: longer than %d bytes",
		    sc->keyfile, SYNC_SECRET_MAX);
		goto out;
	}
	while (len > 0 && isspace(buf[len - 1]))
		len--;
	if (len < SYNC_SECRET_MIN) {
		snprintf(err, errlen, "key: %s: %zu bytes of secret, at least "
		    "%d are needed (head -c 32 /dev/urandom | base64)",
		    sc->keyfile, len, SYNC_SECRET_MIN);
		goto out;
	}
	if (sync_key_init(&sc->key, buf, len) == -1) {
		snprintf(err, errlen, "key: %s: %s", sc->keyfile,
		    strerror(errno));
		goto out;
	}
	rc = 0;
 out:
	explicit_bzero(buf, sizeof(buf));
	close(fd);
	return (rc);
}

int
config_sync_done(struct sync_config *sc, char *err, size_t errlen)
{
	const char	*missing = NULL;

	if (sc->listen.ss_family == 0)
		missing = "listen";
	else if (sc->peer.ss_family == 0)
		missing = "peer";
	else if (sc->keyfile[0] == '\0')
		missing = "key";
	if (missing != NULL) {
		snprintf(err, errlen, "%s: missing (listen, peer and key are "
		    "needed)", missing);
		return (-1);
	}
	return (0);
}

/*
 * Can a datagram come from this address?  synclink takes messages from
 * the peer's address and port only, so a peer that no datagram's source
 * can be (unspecified, multicast, broadcast) would never be heard.
 */
static int
sync_unicast(const struct sockaddr_storage *ss)
{
	const struct sockaddr_in	*s4 = (const struct sockaddr_in *)ss;
	const struct sockaddr_in6	*s6 = (const struct sockaddr_in6 *)ss;
	uint32_t			 a;

	if (ss->ss_family == AF_INET) {
		a = ntohl(s4->sin_addr.s_addr);
		return (a != INADDR_ANY && a != INADDR_BROADCAST &&
		    !IN_MULTICAST(a));
	}
	return (!IN6_IS_ADDR_UNSPECIFIED(&s6->sin6_addr) &&
	    !IN6_IS_ADDR_MULTICAST(&s6->sin6_addr));
}

int
config_sync_peer(const struct sync_config *sc, char *err, size_t errlen)
{
	char	 a[INET6_ADDRSTRLEN + 8];

	if (sc->listen.ss_family != sc->peer.ss_family) {
		snprintf(err, errlen, "peer: not of listen's address family");
		return (-1);
	}
	config_sync_addr(&sc->peer, a, sizeof(a));
	if (!sync_unicast(&sc->peer)) {
		snprintf(err, errlen, "peer: %s is no host's address "
		    "(unspecified, multicast or broadcast): name the other "
		    "firewall", a);
		return (-1);
	}
	/* the node would take its own messages for the peer's */
	if (memcmp(&sc->listen, &sc->peer, sc->addrlen) == 0) {
		snprintf(err, errlen, "peer: %s is listen's own address and "
		    "port: name the other firewall", a);
		return (-1);
	}
	return (0);
}

int
config_sync_same(const struct sync_config *a, const struct sync_config *b)
{
	size_t		 off = offsetof(struct sync_config, key);
	size_t		 end = off + sizeof(a->key);

	/* padding is zeros in both: config_sync_defaults() clears it all */
	return (memcmp(a, b, off) == 0 && memcmp((const char *)a + end,
	    (const char *)b + end, sizeof(*a) - end) == 0);
}
