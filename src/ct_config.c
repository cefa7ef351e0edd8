/*
 * ct_config.c - defaults of the connection tracking settings
 *
 * Copyright (C) 2026 The nfqspid authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * The timeouts are the kernel's defaults (nf_conntrack_proto_*.c), so a
 * host moved from iptables' conntrack to nfqspid keeps its behaviour.
 */
#include "ct.h"

#define CT_DEFAULT_MAX	262144
/* percent of max one source may hold: ten clients to lock the table */
#define CT_DEFAULT_SHARE 10

const struct ct_timeout_def ct_timeout_defs[CT_TO_MAX] = {
	[CT_TO_TCP_SYN_SENT] =		{ "timeout_tcp_syn_sent",	120 },
	[CT_TO_TCP_SYN_RECV] =		{ "timeout_tcp_syn_recv",	60 },
	[CT_TO_TCP_ESTABLISHED] =	{ "timeout_tcp_established",	432000 },
	[CT_TO_TCP_FIN_WAIT] =		{ "timeout_tcp_fin_wait",	120 },
	[CT_TO_TCP_CLOSE_WAIT] =	{ "timeout_tcp_close_wait",	60 },
	[CT_TO_TCP_LAST_ACK] =		{ "timeout_tcp_last_ack",	30 },
	[CT_TO_TCP_TIME_WAIT] =		{ "timeout_tcp_time_wait",	120 },
	[CT_TO_TCP_CLOSE] =		{ "timeout_tcp_close",		10 },
	[CT_TO_TCP_SYN_SENT2] =		{ "timeout_tcp_syn_sent2",	120 },
	[CT_TO_TCP_MAX_RETRANS] =	{ "timeout_tcp_max_retrans",	300 },
	[CT_TO_TCP_UNACK] =		{ "timeout_tcp_unacknowledged",	300 },
	[CT_TO_UDP] =			{ "timeout_udp",		30 },
	[CT_TO_UDP_STREAM] =		{ "timeout_udp_stream",		120 },
	[CT_TO_ICMP] =			{ "timeout_icmp",		30 },
	[CT_TO_ICMPV6] =		{ "timeout_icmpv6",		30 },
	[CT_TO_GENERIC] =		{ "timeout_generic",		600 },
};

void
ct_config_defaults(struct ct_config *c)
{
	int	 i;

	c->max = CT_DEFAULT_MAX;
	c->tcp_loose = 1;
	c->tcp_liberal = 0;
	c->source_share = CT_DEFAULT_SHARE;
	c->adaptive_start = c->adaptive_end = 0;
	for (i = 0; i < CT_TO_MAX; i++)
		c->timeout[i] = ct_timeout_defs[i].def;
}
