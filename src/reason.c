/*
 * reason.c - names of the INVALID reasons
 *
 * Copyright (C) 2026 The nfqspid authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include "reason.h"

static const char *const reason_names[REASON_MAX] = {
	[REASON_NONE] =			"-",
	[REASON_IP_TRUNCATED] =		"ip-truncated",
	[REASON_IP_VERSION] =		"bad-ip-version",
	[REASON_IP_HDRLEN] =		"bad-ip-hdrlen",
	[REASON_IP_LENGTH] =		"bad-ip-length",
	[REASON_IP6_EXTHDR] =		"bad-ipv6-exthdr",
	[REASON_IP6_EXTCHAIN] =		"ipv6-exthdr-chain",
	[REASON_FRAGMENT] =		"fragment",
	[REASON_L4_TRUNCATED] =		"l4-truncated",
	[REASON_TCP_HDRLEN] =		"bad-tcp-hdrlen",
	[REASON_TCP_OPTIONS] =		"bad-tcp-options",
	[REASON_TCP_FLAGS] =		"bad-tcp-flags",
	[REASON_UDP_LENGTH] =		"bad-udp-length",
	[REASON_ICMP_INNER] =		"bad-icmp-inner",
	[REASON_TCP_NO_SYN] =		"tcp-no-syn",
	[REASON_TCP_STATE] =		"tcp-bad-state",
	[REASON_TCP_SEQ] =		"seq-out-of-window",
	[REASON_TCP_ACK] =		"ack-out-of-window",
	[REASON_TCP_RST] =		"rst-out-of-window",
	[REASON_TCP_SYN_WINDOW] =	"syn-out-of-window",
	[REASON_ICMP_NO_REQUEST] =	"icmp-no-request",
	[REASON_ICMP_UNTRACKED] =	"icmp-untracked-error",
	[REASON_ICMP_TYPE] =		"icmp-bad-type",
	[REASON_TABLE_FULL] =		"table-full",
	[REASON_IP_CHECKSUM] =		"bad-ip-checksum",
	[REASON_L4_CHECKSUM] =		"bad-checksum",
	[REASON_FRAG_OVERLAP] =		"frag-overlap",
	[REASON_FRAG_DUPLICATE] =	"frag-duplicate",
	[REASON_FRAG_TOO_MANY] =	"frag-too-many",
	[REASON_FRAG_FULL] =		"frag-cache-full",
	[REASON_FRAG_TIMEOUT] =		"frag-timeout",
	[REASON_POLICY_RELOAD] =	"policy-reload",
	[REASON_SOURCE_SHARE] =		"source-share",
	[REASON_WINDOW_GRACE] =		"overflow-grace",
};

const char *
reason_name(enum reason r)
{
	if ((unsigned)r >= REASON_MAX || reason_names[r] == 0)
		return ("unknown");
	return (reason_names[r]);
}

int
reason_is_invalid(enum reason r)
{
	return (r > REASON_NONE && r < REASON_MAX &&
	    r != REASON_POLICY_RELOAD && r != REASON_WINDOW_GRACE);
}
