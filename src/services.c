/*
 * services.c - port names, as /etc/services lists them
 *
 * Copyright (C) 2026 The nfqspid authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * One pass over the text into an open-addressing hash table of names;
 * a name listed for tcp and for udp is one entry holding both ports.  As
 * with getservbyname(3), the first line that names a port for a protocol
 * wins.  Pure: no I/O, no globals.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE	/* reallocarray */
#endif

#include <netinet/in.h>

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "namehash.h"
#include "services.h"

struct service {
	const char	*name;		/* in services.text; NULL: empty */
	uint16_t	 tcp, udp;	/* 0: not listed */
};

struct services {
	char		*text;		/* a copy, cut into names */
	struct service	*slot;
	size_t		 cap;		/* a power of two */
	size_t		 n;
};

static struct service *
svc_slot(const struct services *sv, const char *name)
{
	size_t		 i;

	for (i = spi_name_hash(0, name, 0) & (sv->cap - 1); sv->slot[i].name != NULL;
	    i = (i + 1) & (sv->cap - 1))
		if (strcmp(sv->slot[i].name, name) == 0)
			break;
	return (&sv->slot[i]);
}

static int
svc_grow(struct services *sv)
{
	struct service	*old = sv->slot, *s;
	size_t		 oldcap = sv->cap, i;

	sv->cap = oldcap ? oldcap * 2 : 256;
	if ((sv->slot = calloc(sv->cap, sizeof(*sv->slot))) == NULL) {
		sv->slot = old;
		sv->cap = oldcap;
		return (-1);
	}
	for (i = 0; i < oldcap; i++) {
		if (old[i].name == NULL)
			continue;
		s = svc_slot(sv, old[i].name);
		*s = old[i];
	}
	free(old);
	return (0);
}

static int
svc_add(struct services *sv, const char *name, uint16_t port, int tcp)
{
	struct service	*s;

	if ((sv->n + 1) * 2 > sv->cap && svc_grow(sv) == -1)
		return (-1);
	s = svc_slot(sv, name);
	if (s->name == NULL) {
		s->name = name;
		sv->n++;
	}
	if (tcp && s->tcp == 0)
		s->tcp = port;
	if (!tcp && s->udp == 0)
		s->udp = port;
	return (0);
}

/* "22/tcp": the port and whether it is tcp; -1 for anything else */
static int
svc_portproto(const char *s, uint16_t *port, int *tcp)
{
	unsigned long	 n;
	char		*end;

	if (!isdigit((unsigned char)*s))
		return (-1);
	errno = 0;
	n = strtoul(s, &end, 10);
	if (errno != 0 || n == 0 || n > 65535 || *end != '/')
		return (-1);
	if (strcmp(end + 1, "tcp") == 0)
		*tcp = 1;
	else if (strcmp(end + 1, "udp") == 0)
		*tcp = 0;
	else
		return (-1);
	*port = (uint16_t)n;
	return (0);
}

/* One line, cut in place: the name and its aliases. */
static int
svc_line(struct services *sv, char *line)
{
	char		*tok[64], *p, *save = NULL;
	size_t		 n = 0, i;
	uint16_t	 port;
	int		 tcp;

	line[strcspn(line, "#")] = '\0';
	for (p = strtok_r(line, " \t\r\f\v", &save); p != NULL && n < 64;
	    p = strtok_r(NULL, " \t\r\f\v", &save))
		tok[n++] = p;
	if (n < 2 || svc_portproto(tok[1], &port, &tcp) == -1)
		return (0);
	for (i = 0; i < n; i++) {
		if (i == 1)
			continue;
		if (svc_add(sv, tok[i], port, tcp) == -1)
			return (-1);
	}
	return (0);
}

struct services *
services_parse(const char *text, size_t len)
{
	struct services	*sv;
	char		*line, *next, *end;

	if ((sv = calloc(1, sizeof(*sv))) == NULL)
		return (NULL);
	if ((sv->text = malloc(len + 1)) == NULL || svc_grow(sv) == -1)
		goto fail;
	memcpy(sv->text, text, len);
	sv->text[len] = '\0';
	end = sv->text + len;
	for (line = sv->text; line < end; line = next) {
		if ((next = memchr(line, '\n', (size_t)(end - line))) == NULL)
			next = end;
		*next++ = '\0';
		if (svc_line(sv, line) == -1)
			goto fail;
	}
	return (sv);
 fail:
	services_free(sv);
	errno = ENOMEM;
	return (NULL);
}

void
services_free(struct services *sv)
{
	if (sv == NULL)
		return;
	free(sv->slot);
	free(sv->text);
	free(sv);
}

int
services_port(const struct services *sv, const char *name, uint8_t proto,
    char *err, size_t errlen)
{
	const struct service *s;

	if (sv == NULL)
		return (0);
	s = svc_slot(sv, name);
	if (s->name == NULL)
		return (0);
	if (proto == IPPROTO_TCP)
		return (s->tcp);
	if (proto == IPPROTO_UDP)
		return (s->udp);
	if (s->tcp != 0 && s->udp != 0 && s->tcp != s->udp) {
		snprintf(err, errlen, "\"%s\" is port %u for tcp and %u for "
		    "udp: name the protocol", name, s->tcp, s->udp);
		return (-1);
	}
	return (s->tcp != 0 ? s->tcp : s->udp);
}
