/*
 * verdict.h - one packet through parser, tracker, rules and policy
 *
 * Copyright (C) 2026 The nfqspid authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * Pure: the queue workers, --replay and the fuzzers all decide packets
 * through verdict_packet(), so what is tested offline is what runs.
 */
#ifndef NFQSPI_VERDICT_H
#define NFQSPI_VERDICT_H

#include <stddef.h>
#include <stdint.h>

#include "pkt.h"
#include "ct.h"
#include "rule.h"
#include "config.h"

struct verdict {
	uint8_t		 action;	/* enum rule_action: what the packet
					   gets (monitor mode: accept) */
	uint8_t		 decided;	/* enum rule_action the policy chose */
	uint8_t		 state;		/* enum ct_state */
	uint8_t		 reason;	/* enum reason; REASON_NONE unless
					   CT_INVALID */
	uint8_t		 log;		/* write an audit record */
	uint8_t		 monitor;	/* monitor mode overrode a drop */
	uint8_t		 set_mark;	/* put mark on the packet */
	uint32_t	 mark;
	const struct rule *rule;	/* NULL: the [policy] default */
};

/*
 * Decide the packet in buf.  in and out are interface names ("" when
 * none).  p receives the parsed packet (for the audit record).
 */
void	 verdict_packet(const struct config *cfg, struct ct_table *ct,
	    const uint8_t *buf, size_t len, const char *in, const char *out,
	    uint64_t now_ms, struct pkt *p, struct verdict *v);

/* "accept state=NEW rule=ssh-in mark=0x10" (with reason= if INVALID) */
int	 verdict_format(const struct verdict *v, char *buf, size_t len);

/*
 * The audit record of the contract, without the syslog prefix:
 * action=drop state=INVALID rule=- reason=... proto=tcp src=... sport=...
 * dst=... dport=... in=... out=... len=40 mark=0x0
 */
int	 verdict_audit(const struct verdict *v, const struct pkt *p,
	    const char *in, const char *out, size_t pktlen, char *buf,
	    size_t len);

#endif /* NFQSPI_VERDICT_H */
