/*
 * rule_print.c - a rule's values as text, from what the rule holds
 *
 * Copyright (C) 2026 The nfqspid authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * Pure: no I/O, no globals.  nfqspictl rules prints what these write; the
 * lists come from their compiled form (sorted ranges, bitmaps), so a
 * port list is its ranges, not a question put to every port.  Each
 * function works as snprintf(): it returns the length of the whole text,
 * writes what fits in buf (len bytes, NUL-terminated when len > 0), and
 * a caller whose buffer was short can ask again with a larger one.
 */
#include <stdio.h>
#include <string.h>

#include "rule.h"
#include "strl.h"

/* "22,80-90": the sorted ranges as they were compiled, neighbours
   joined ("80, 81" matches as "80-81" does) */
size_t
rule_ports_format(const struct rule_portset *set, char *buf, size_t len)
{
	struct spi_buf	 b;
	uint16_t	 lo, hi, nlo, nhi;
	size_t		 i, n = set != NULL ? rule_portset_count(set) : 0;
	int		 first = 1;

	spi_buf_init(&b, buf, len);
	for (i = 0; i < n; i++) {
		rule_portset_range(set, i, &lo, &hi);
		for (; i + 1 < n; i++) {
			rule_portset_range(set, i + 1, &nlo, &nhi);
			if (hi == 65535 || nlo != hi + 1)
				break;
			hi = nhi;
		}
		if (lo == hi)
			spi_bprintf(&b, "%s%u", first ? "" : ",", lo);
		else
			spi_bprintf(&b, "%s%u-%u", first ? "" : ",", lo, hi);
		first = 0;
	}
	return (b.off);
}

/* "NEW,ESTABLISHED" */
size_t
rule_states_format(uint8_t mask, char *buf, size_t len)
{
	struct spi_buf	 b;
	int		 s, n = 0;

	spi_buf_init(&b, buf, len);
	for (s = 0; s < CT_STATE_MAX; s++)
		if (mask & CT_STATE_BIT(s))
			spi_bprintf(&b, "%s%s", n++ ? "," : "",
			    rule_state_name(s));
	return (b.off);
}

/* "S/SA": the set, then the mask, in pf's letters */
size_t
rule_tcp_flags_format(uint8_t flags, uint8_t mask, char *buf, size_t len)
{
	static const char names[] = "FSRPAUEW";	/* by bit */
	struct spi_buf	 b;
	int		 i;

	spi_buf_init(&b, buf, len);
	for (i = 0; i < 8; i++)
		if (flags & (1 << i))
			spi_bprintf(&b, "%c", names[i]);
	spi_bprintf(&b, "/");
	for (i = 0; i < 8; i++)
		if (mask & (1 << i))
			spi_bprintf(&b, "%c", names[i]);
	return (b.off);
}

/* "0,3,8": the types of the bitmap */
size_t
rule_icmp_types_format(const uint32_t map[8], char *buf, size_t len)
{
	struct spi_buf	 b;
	unsigned	 t;
	int		 n = 0;

	spi_buf_init(&b, buf, len);
	for (t = 0; t < 256; t++)
		if (map[t / 32] & (1u << (t % 32)))
			spi_bprintf(&b, "%s%u", n++ ? "," : "", t);
	return (b.off);
}

/* "!wan0": the i-th name of an interface list, with its negation */
size_t
rule_iface_format(const char ifs[][RULE_IFNAMSIZ], uint8_t neg, uint8_t i,
    char *buf, size_t len)
{
	struct spi_buf	 b;

	spi_buf_init(&b, buf, len);
	spi_bprintf(&b, "%s%s", neg & (1u << i) ? "!" : "", ifs[i]);
	return (b.off);
}
