/*
 * reason.h - the fixed words that say why a packet is INVALID
 *
 * Copyright (C) 2026 The nfqspid authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * Every INVALID verdict carries exactly one of these.  The words are part
 * of the user-facing contract (audit records, --replay output, metrics):
 * never rename one, only add.
 */
#ifndef NFQSPI_REASON_H
#define NFQSPI_REASON_H

enum reason {
	REASON_NONE = 0,

	/* packet parser (pkt.c) */
	REASON_IP_TRUNCATED,		/* "ip-truncated" */
	REASON_IP_VERSION,		/* "bad-ip-version" */
	REASON_IP_HDRLEN,		/* "bad-ip-hdrlen" */
	REASON_IP_LENGTH,		/* "bad-ip-length" */
	REASON_IP6_EXTHDR,		/* "bad-ipv6-exthdr" */
	REASON_IP6_EXTCHAIN,		/* "ipv6-exthdr-chain" */
	REASON_FRAGMENT,		/* "fragment" */
	REASON_L4_TRUNCATED,		/* "l4-truncated" */
	REASON_TCP_HDRLEN,		/* "bad-tcp-hdrlen" */
	REASON_TCP_OPTIONS,		/* "bad-tcp-options" */
	REASON_TCP_FLAGS,		/* "bad-tcp-flags" */
	REASON_UDP_LENGTH,		/* "bad-udp-length" */
	REASON_ICMP_INNER,		/* "bad-icmp-inner" */

	/* connection tracking (ct*.c) */
	REASON_TCP_NO_SYN,		/* "tcp-no-syn" */
	REASON_TCP_STATE,		/* "tcp-bad-state" */
	REASON_TCP_SEQ,			/* "seq-out-of-window" */
	REASON_TCP_ACK,			/* "ack-out-of-window" */
	REASON_TCP_RST,			/* "rst-out-of-window" */
	REASON_TCP_SYN_WINDOW,		/* "syn-out-of-window" */
	REASON_ICMP_NO_REQUEST,		/* "icmp-no-request" */
	REASON_ICMP_UNTRACKED,		/* "icmp-untracked-error" */
	REASON_ICMP_TYPE,		/* "icmp-bad-type" */
	REASON_TABLE_FULL,		/* "table-full" */

	/* checksums (csum.c) */
	REASON_IP_CHECKSUM,		/* "bad-ip-checksum" */
	REASON_L4_CHECKSUM,		/* "bad-checksum" */

	/* the fragment cache (frag.c) */
	REASON_FRAG_OVERLAP,		/* "frag-overlap" */
	REASON_FRAG_DUPLICATE,		/* "frag-duplicate" */
	REASON_FRAG_TOO_MANY,		/* "frag-too-many" */
	REASON_FRAG_FULL,		/* "frag-cache-full" */
	REASON_FRAG_TIMEOUT,		/* "frag-timeout" */

	/* not a packet's fault: a reload's new rules ended the connection
	   (audit records only; the state is not INVALID) */
	REASON_POLICY_RELOAD,		/* "policy-reload" */

	/* connection tracking again (ct.c) */
	REASON_SOURCE_SHARE,		/* "source-share": INVALID, the
					   source holds its share of the
					   table */
	/* not INVALID: an out-of-window segment let pass in the grace
	   after a queue overflow (audit records only) */
	REASON_WINDOW_GRACE,		/* "overflow-grace" */

	REASON_MAX
};

const char	*reason_name(enum reason);
/* 1 if r is a reason a packet is INVALID for (not policy-reload or
   overflow-grace, which only audit records carry) */
int		 reason_is_invalid(enum reason r);

#endif /* NFQSPI_REASON_H */
