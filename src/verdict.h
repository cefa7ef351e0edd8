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
#include "limit.h"
#include "frag.h"
#include "csum.h"

/* why a NEW packet a rule accepted was dropped after all */
/* The rule index of a connection [policy] let in: past CONFIG_MAXRULES,
   fits the entry (ct_int.h). */
#define RULE_IDX_NONE	0x1ffff

enum verdict_limit {
	VERDICT_LIMIT_NONE = 0,
	VERDICT_LIMIT_RATE,		/* "rate": over the rule's rate */
	VERDICT_LIMIT_CONN		/* "conn_limit": the source has as
					   many connections as allowed */
};

struct verdict {
	uint8_t		 action;	/* enum rule_action: what the packet
					   gets (monitor mode: accept) */
	uint8_t		 decided;	/* enum rule_action the policy chose */
	uint8_t		 state;		/* enum ct_state */
	uint8_t		 reason;	/* enum reason; REASON_NONE unless
					   CT_INVALID */
	uint8_t		 log;		/* write an audit record */
	uint8_t		 monitor;	/* monitor mode overrode a drop */
	uint8_t		 limit;		/* enum verdict_limit */
	uint8_t		 set_mark;	/* put mark on the packet */
	uint32_t	 mark;
	const struct rule *rule;	/* NULL: the [policy] default */
	/* an ESTABLISHED packet's connection (NULL otherwise), for the
	   fast path; valid until the table changes again */
	struct ct_entry	*entry;
};

/*
 * What a packet is decided against and where it came from: the one
 * context of verdict_packet().
 *
 * lt holds the per-source state of the rules' rate and conn_limit (NULL:
 * those keys are not enforced).  For conn_limit to count right, the
 * table's DESTROY events must reach limit_ct_event(lt).  in and out are
 * interface names ("" when none); hook is the PKT_HOOK_* the packet was
 * queued from (PKT_HOOK_UNKNOWN: no rule with chain matches it).  csum:
 * the CSUM_* checksums that are ours to verify when [conntrack] checksum
 * = yes, those the kernel has not (NFQA_SKB_INFO); CSUM_IP | CSUM_L4
 * where nobody has (--replay).  A bad one is INVALID (bad-ip-checksum,
 * bad-checksum), decided by the policy alone.
 */
struct verdict_ctx {
	const struct config	*cfg;
	struct ct_table		*ct;
	struct limit_table	*lt;
	const char		*in;
	const char		*out;
	int			 hook;
	unsigned		 csum;
	uint64_t		 now_ms;
};

/*
 * Decide the packet in buf (len bytes) in x.  a is verdict_ahead()'s
 * hint for it (NULL: none; the lookup uses it only when it is buf's
 * tuple).  p receives the parsed packet (for the audit record), with
 * p->hook = x->hook.  A NEW packet a rule accepts but a limit refuses
 * gets decided = drop, limit set and log = 1.
 */
void	 verdict_packet(const struct verdict_ctx *x, const uint8_t *buf,
	    size_t len, const struct ct_ahead *a, struct pkt *p,
	    struct verdict *v);
/*
 * A batch, hashing each packet once: verdict_ahead() reads buf's tuple
 * from its IP and TCP/UDP headers alone into *a (ct_ahead(): the hash,
 * and the bucket on its way; a->ok = 0 for anything but the common
 * case) and changes nothing; verdict_packet() with that a decides buf
 * with a's hash.  verdict_batch() below puts them together.
 */
void	 verdict_ahead(const struct ct_table *ct, const uint8_t *buf,
	    size_t len, struct ct_ahead *a);
/*
 * The key of buf's connection as the table holds it, from its headers
 * alone (no fragment, no IPv6 extension header): TCP and UDP by their
 * ports, an ICMP or ICMPv6 query or reply by ct_icmp_tuple().  0, or -1
 * for anything else (an ICMP error belongs to the connection it quotes).
 */
int	 verdict_tuple(const uint8_t *buf, size_t len, struct ct_tuple *k);

/* How far apart the stages of verdict_batch() are, in packets. */
#define VERDICT_AHEAD	3

/*
 * The loop a batch of n packets is decided in (worker.c; the engine
 * benchmark measures the same): ahead(arg, k, &a[k]) gives packet k its
 * hint (verdict_ahead(), or a->ok = 0) 3 VERDICT_AHEAD packets before
 * decide(arg, k, &a[k]) runs, ct_ahead_entry() loads its entry 2
 * VERDICT_AHEAD before and ct_ahead_chain() the next of its chain
 * VERDICT_AHEAD before, so that the cache misses of a large table
 * overlap instead of coming one after the other.  a holds n hints.
 * Inline, so that the callbacks are too.
 */
static inline void
verdict_batch(const struct ct_table *ct, size_t n, struct ct_ahead *a,
    void (*ahead)(void *, size_t, struct ct_ahead *),
    void (*decide)(void *, size_t, const struct ct_ahead *), void *arg)
{
	size_t	 k;

	for (k = 0; k < n && k < 3 * VERDICT_AHEAD; k++)
		ahead(arg, k, &a[k]);
	for (k = 0; k < n && k < 2 * VERDICT_AHEAD; k++)
		ct_ahead_entry(ct, &a[k]);
	for (k = 0; k < n && k < VERDICT_AHEAD; k++)
		ct_ahead_chain(ct, &a[k]);
	for (k = 0; k < n; k++) {
		if (k + 3 * VERDICT_AHEAD < n)
			ahead(arg, k + 3 * VERDICT_AHEAD,
			    &a[k + 3 * VERDICT_AHEAD]);
		if (k + 2 * VERDICT_AHEAD < n)
			ct_ahead_entry(ct, &a[k + 2 * VERDICT_AHEAD]);
		if (k + VERDICT_AHEAD < n)
			ct_ahead_chain(ct, &a[k + VERDICT_AHEAD]);
		decide(arg, k, &a[k]);
	}
}
/*
 * verdict_fragment(): buf through the fragment cache fc first (id: the
 * caller's handle of the packet), in x.  FRAG_PASS: not a fragment,
 * decide it with verdict_packet(); FRAG_HELD: no verdict yet;
 * FRAG_WHOLE: p and v are the datagram's, decided once as one packet;
 * FRAG_DROP: v is INVALID with res->reason, by the policy alone.  Both:
 * v is for this packet and for every id of res->ids[].
 *
 * verdict_invalid(): buf decided as INVALID for why (a datagram that
 * frag_expire() gave up on), by x's policy alone.
 */
enum frag_status verdict_fragment(const struct verdict_ctx *x,
	    struct frag_cache *fc, const uint8_t *buf, size_t len, uint64_t id,
	    struct frag_result *res, struct pkt *p, struct verdict *v);
void	 verdict_invalid(const struct verdict_ctx *x, const uint8_t *buf,
	    size_t len, enum reason why, struct pkt *p, struct verdict *v);

/*
 * With several workers an ICMP error can reach one that does not own the
 * connection it quotes (--queue-balance hashes the error's own
 * addresses).  verdict_needs_owner(): v (from verdict_packet()) is
 * INVALID only because this table does not know the quoted connection;
 * ask the others (ct_find_related()).  verdict_related(): one of them
 * does, its mark is mark: decide p as RELATED, as verdict_packet()
 * would have in the owner's table.  Otherwise v stands.
 */
int	 verdict_needs_owner(const struct pkt *p, const struct verdict *v);
void	 verdict_related(const struct config *cfg, const struct pkt *p,
	    const char *in, const char *out, uint32_t mark, struct verdict *v);

/*
 * After a reload: judge every live connection again, as its first packet
 * (the original direction's tuple; TCP as a SYN, ICMP as its request),
 * against cfg's state-new rules and [policy] new.  One cfg no longer
 * accepts is removed from ct and audit(arg, line) gets its record, with
 * reason=policy-reload (monitor mode: kept, and the record says
 * monitor=yes); one still accepted takes the new rule's index and mark.
 * The table does not know a connection's interfaces nor its chain: a
 * rule with in, out or chain is taken to match if it accepts and skipped
 * if it drops or rejects, so a connection is only ended when the new
 * rules refuse it whatever its interfaces and chain.  lt (may be NULL)
 * is emptied and the live connections are counted again under their new
 * rules' conn_limit; rates start afresh.  Returns the number of
 * connections ended (monitor mode: that would have been).
 *
 * verdict_rejudge() does it all at once, for --replay and the tests.  A
 * worker does it without a stall: verdict_reload() makes every entry
 * stale (ct_generation_next()), so that each connection is judged before
 * its next packet is decided, and the worker's loop calls
 * verdict_reload_slice() for the idle ones, a slice at a time, until it
 * returns 1.  rl must stay in place until then (or the next reload);
 * rl->ended counts the connections ended so far.
 */
struct verdict_reload {
	const struct config	*cfg;
	struct limit_table	*lt;
	void			(*audit)(void *, const char *);
	void			*arg;
	size_t			 ended;
};
void	 verdict_reload(struct verdict_reload *rl, const struct config *cfg,
	    struct ct_table *ct, struct limit_table *lt, uint64_t now_ms,
	    void (*audit)(void *arg, const char *line), void *arg);
/* Judges the stale entries of the next slots slots; 1 when none is left. */
int	 verdict_reload_step(struct ct_table *ct, size_t slots);
/*
 * A slice of the sweep: judges stale entries until none is left (1) or
 * another step like the last would pass budget_us by now_us() (0).  The
 * clock is read after every VERDICT_SWEEP_JUDGED entries judged or
 * VERDICT_SWEEP_SLOTS slots looked at, whichever comes first, so however
 * costly a judgment is, a slice passes its budget only when a step costs
 * more than the one before it, and then by that step.
 */
#define VERDICT_SWEEP_SLOTS	64
#define VERDICT_SWEEP_JUDGED	4
int	 verdict_reload_slice(struct ct_table *ct, uint64_t (*now_us)(void),
	    uint64_t budget_us);
size_t	 verdict_rejudge(const struct config *cfg, struct ct_table *ct,
	    struct limit_table *lt, uint64_t now_ms,
	    void (*audit)(void *arg, const char *line), void *arg);

/* Does a rule or the [policy] of cfg reject (so a raw socket is needed)? */
int	 verdict_has_reject(const struct config *cfg);

/* The first rule that matches p in state (what a linear walk over the
   rules in file order finds), or NULL. */
const struct rule *verdict_first_rule(const struct config *cfg,
	    const struct pkt *p, int state, const char *in, const char *out);

/* The rule a reload's judging takes for a connection whose first
   packet is p (its chain p->hook, its flags and fragment as such a
   packet's are rebuilt: a SYN), or NULL: what nfqspid -n's shadow
   warnings predict, for the tests. */
const struct rule *verdict_rejudge_rule(const struct config *cfg,
	    const struct pkt *p);

/* "rate", "conn_limit", or NULL for VERDICT_LIMIT_NONE */
const char *verdict_limit_name(int limit);

/* "accept state=NEW rule=ssh-in mark=0x10" (with reason= if INVALID or
   after a reload, limit= when a limit dropped it) */
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
