/*
 * services.h - port names, as /etc/services lists them
 *
 * Copyright (C) 2026 The nfqspid authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * Pure: the table is built from the file's text (config.c reads the file)
 * so that a rule may say "dport = ssh, http-alt, 60000-61000".
 */
#ifndef NFQSPI_SERVICES_H
#define NFQSPI_SERVICES_H

#include <stddef.h>
#include <stdint.h>

struct services;

/*
 * The table of text (len bytes, services(5) format: "name port/proto
 * aliases... # comment"); lines that are not understood are skipped, as
 * getservbyname(3) skips them.  NULL and errno on error.
 */
struct services	*services_parse(const char *text, size_t len);
void		 services_free(struct services *sv);

/*
 * The port of name (a name or an alias) for proto: IPPROTO_TCP,
 * IPPROTO_UDP, or 0 for either.  Returns 1 to 65535; 0 if the name is
 * not listed for that protocol; -1 with a message in err when proto is 0
 * and the name stands for two different ports.
 */
int		 services_port(const struct services *sv, const char *name,
		    uint8_t proto, char *err, size_t errlen);

#endif /* NFQSPI_SERVICES_H */
