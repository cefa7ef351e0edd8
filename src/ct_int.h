/*
 * ct_int.h - private to the connection tracker (ct.c, ct_tcp.c, ct_udp.c,
 * ct_icmp.c)
 *
 * Copyright (C) 2026 The nfqspid authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * Memory layout: entries live in an arena of fixed-size chunks and are
 * named by 32-bit indices (0 is "none").  One hash chain link, one timer
 * list link pair, no pointers: an entry is 120 bytes, the bucket array adds
 * 1.5 buckets of 4 bytes per connection, so a full table of 1,000,000
 * costs about 126 bytes per connection (make bench: 126.1; the budget is
 * 128).  The per-source share of the table costs no entry bits: a fixed
 * count-min sketch of 2 x CT_SRC_WIDTH counters per table (32 KB),
 * hashed from the entry's source address.
 *
 * Bits of the entry taken by lanes of the 2026-12 session: overload
 * (fair table, overflow grace) takes none; the fast path (fpwork) takes
 * none either: which entries are offloaded is a side bitmap in the table
 * (struct ct_table.off, ct_offload.c), 1 bit per slot, allocated 8 KB
 * per chunk once a connection of that chunk is offloaded: 0.125 bytes
 * per connection at most, nothing with [daemon] fastpath = no.  The
 * bytes of each connection, which the kernel's counters add to, are a
 * side array too (struct ct_table.bytes), with fastpath = yes only: 8
 * bytes per slot, 512 KB per chunk of 65,536 made with its first entry
 * (a full table of 1,000,000 costs 134 bytes per connection instead of
 * 126); with fastpath = no nothing is made and the entry is unchanged.
 * The kernel's UDP stream rule (udpstream) takes none: a datagram
 * flow's stream time shares the TCP windows' bytes (a union).
 */
#ifndef NFQSPI_CT_INT_H
#define NFQSPI_CT_INT_H

#include <stddef.h>
#include <stdint.h>

#include "ct.h"

#define CT_NIL		0u		/* no entry */
/*
 * A chunk of the arena: 65536 entries, 7.5 MB, on huge pages.
 * fuzz_offload's build makes it 64 entries (Makefile.am): an input of a
 * few connections then maps, faults in and unmaps no megabytes.  64 at
 * least: a chunk has whole words of offload bits.
 */
#ifndef CT_CHUNK_SHIFT
#define CT_CHUNK_SHIFT	16
#endif
#if CT_CHUNK_SHIFT < 6
#error "CT_CHUNK_SHIFT: 6 at least"
#endif
#define CT_CHUNK_SIZE	(1u << CT_CHUNK_SHIFT)
#define CT_CHUNK_MASK	(CT_CHUNK_SIZE - 1)

/* struct ct_table.fresh */
#define CT_FRESH_BYTES	0x01		/* its bytes (ct_bytes_new()) */
#define CT_FRESH_KEEP	0x02		/* its resync mark */

/* struct ct_table.keeping */
#define CT_KEEP_IN	1		/* a resync is coming in */
#define CT_KEEP_SWEEP	2		/* its end came, the sweep goes */

/* struct ct_entry.status */
#define CT_ST_USED	0x01		/* the slot holds a connection */
#define CT_ST_SEEN_REPLY 0x02		/* a packet went the other way */
#define CT_ST_ASSURED	0x04		/* never evicted for new ones */
/* the policy generation the connection was last judged in (one bit:
   struct ct_table.gen), so that a reload judges it again before its
   next packet without a walk of the table; no byte added */
#define CT_ST_GEN	0x08
/* bit 16 of the deciding rule's index: rule holds bits 0-15, so a file
   may hold 131,071 rules with no byte added */
#define CT_ST_RULE16	0x10
/* bits 5-7: the PKT_HOOK_* the first packet was queued from, for the
   chain= rules when a reload judges the connection again */
#define CT_ST_HOOK_SHIFT 5
#define CT_ST_HOOK_MASK	0xe0

/* TCP connection states, as the kernel's TCP_CONNTRACK_* */
enum ct_tcp_state {
	CT_TCP_NONE = 0,
	CT_TCP_SYN_SENT,
	CT_TCP_SYN_RECV,
	CT_TCP_ESTABLISHED,
	CT_TCP_FIN_WAIT,
	CT_TCP_CLOSE_WAIT,
	CT_TCP_LAST_ACK,
	CT_TCP_TIME_WAIT,
	CT_TCP_CLOSE,
	CT_TCP_SYN_SENT2,
	CT_TCP_NSTATES,
	CT_TCP_IV = CT_TCP_NSTATES,	/* transition: the packet is INVALID */
	CT_TCP_IG			/* transition: let it pass, ignore it */
};

/* ct_tcp.c's packet classes (struct ct_tcp.last_index) */
#define CT_TCP_NCLASSES	6

/* struct ct_tcp.flags[dir], after the kernel's IP_CT_TCP_FLAG_* */
#define CT_TD_WSCALE	0x01		/* sent the window scale option */
#define CT_TD_SACK_PERM	0x02		/* sent SACK permitted */
#define CT_TD_CLOSE_INIT 0x04		/* this side sent the first FIN */
#define CT_TD_LIBERAL	0x08		/* picked up: never INVALID by window */
#define CT_TD_UNACKED	0x10		/* sent data not acknowledged yet */
#define CT_TD_MAXACK_SET 0x20		/* td_maxack is valid */
/* its window is a snapshot's (the HA peer's, the state file's:
   ct_snap_stale()), not re-learnt from a packet since: never on the
   wire (CT_SNAP_TD_LOCAL) */
#define CT_TD_STALE	0x40
/* its window is the HA peer's, not learnt from a packet since: stale
   once the node is master (ct_relearn_peer()); never on the wire
   (CT_SNAP_TD_PEER) */
#define CT_TD_PEER	0x80
#define CT_TD_ALL	0xff

/* struct ct_entry.syn_opts */
#define CT_SYNOPT_SCALE	0x0f		/* window scale */
#define CT_SYNOPT_WSCALE 0x10		/* window scale option present */
#define CT_SYNOPT_SACK	0x20		/* SACK permitted */
#define CT_SYNOPT_ALL	0x3f

/* One direction of a TCP connection (van Rooij's notation). */
struct ct_tcp_dir {
	uint32_t	td_end;		/* max of seq + len sent */
	uint32_t	td_maxend;	/* max of ack + max(win, 1) seen */
	uint32_t	td_maxwin;	/* max window seen (scaled) */
	uint32_t	td_maxack;	/* max ack sent */
};

struct ct_tcp {
	struct ct_tcp_dir seen[2];
	uint8_t		scale[2];	/* window scale (shift) */
	uint8_t		flags[2];	/* CT_TD_* */
	uint8_t		retrans;	/* identical ACK segments in a row */
	uint8_t		last_index;	/* packet class of the last packet */
	uint8_t		last_dir;
	uint8_t		last_zerowin;	/* last packet advertised window 0 */
};

struct ct_entry {
	union pkt_addr	src;		/* original direction */
	union pkt_addr	dst;
	uint16_t	sport;		/* TCP/UDP ports; ICMP: echo id */
	uint16_t	dport;		/* ICMP: request type */
	uint8_t		family;
	uint8_t		proto;
	uint8_t		status;		/* CT_ST_* */
	uint8_t		tclass;		/* enum ct_timeout: its timer list */
	uint32_t	mark;
	uint16_t	rule;		/* bits 0-15; bit 16: CT_ST_RULE16 */
	uint8_t		state;		/* TCP: enum ct_tcp_state */
	union {
		uint8_t	icmp_code;	/* ICMP: code of the request */
		uint8_t	syn_opts;	/* TCP: options of the last ignored
					   SYN, CT_SYNOPT_* */
	};
	uint32_t	hnext;		/* hash chain */
	uint32_t	tprev;		/* timer list */
	uint32_t	tnext;
	uint32_t	last_hash;	/* TCP: (seq, ack, end, win) of the last
					   ACK, to count retransmissions; or
					   the end of the last ignored SYN */
	/* ms of the caller's clock, modulo 2^32: every live time lies
	   within CT_TIME_SPAN of now, so differences decide */
	uint32_t	deadline;	/* when it times out */
	uint32_t	qdl;		/* the deadline it had when it was
					   put at the tail of its list; the
					   list is sorted by it */
	union {
		struct ct_tcp tcp;	/* TCP only */
		/* UDP and the protocols without a tracker (ct_udp.c): a
		   packet after this time (ms, as deadline), the reply
		   seen, makes the flow a stream: 2 s after its first,
		   the kernel's stream_ts.  Read only while not ASSURED */
		uint32_t udp_stream;
	};
	uint32_t	born;		/* s, the caller's clock: the age */
	uint32_t	packets;	/* both ways, saturating; per
					   direction and bytes would pass
					   the 128 bytes a connection may
					   cost */
};

/* rule: an index below 2^17 (the loader allows no more rules) */
static inline void
ct_entry_set_rule(struct ct_entry *e, uint32_t rule)
{
	e->rule = (uint16_t)rule;
	if (rule & 0x10000u)
		e->status |= CT_ST_RULE16;
	else
		e->status &= (uint8_t)~CT_ST_RULE16;
}

struct ct_list {
	uint32_t	head;		/* soonest qdl */
	uint32_t	tail;
};

/* Times are kept modulo 2^32 ms; live ones never lie further apart. */
#define CT_TIME_SPAN	(1u << 30)

/* a - b for two times modulo 2^32 within CT_TIME_SPAN of each other */
static inline int32_t
ct_tdiff(uint32_t a, uint32_t b)
{
	return ((int32_t)(a - b));
}
/* A refresh moves an entry only once its deadline runs this far past
   its place in the list: at most 1/16 of the timeout, and a minute. */
#define CT_LAG_SHIFT	4
#define CT_LAG_MAX	60000u

/* The per-source sketch: 2 rows of this many counters (a power of 2). */
#define CT_SRC_WIDTH	4096

struct ct_table {
	struct ct_config cfg;
	struct ct_entry	**chunk;	/* arena: chunk[i] holds CT_CHUNK_SIZE */
	uint32_t	 nchunk;
	uint32_t	 chunk_cap;
	uint32_t	 top;		/* next never used index */
	uint32_t	 freelist;	/* through hnext */
	uint32_t	*bucket;
	uint32_t	 nbucket;	/* 1.5 per connection allowed */
	size_t		 count;
	/*
	 * One list per timeout: every entry of a list got the same timeout
	 * when it was put at the tail, so each list is sorted by qdl and
	 * expiry only ever looks at the heads.  A refresh moves an entry
	 * only when its deadline runs more than lag[] past its qdl: the
	 * moves (writes to two random neighbours) happen once per lag, not
	 * once per packet, and an entry waiting behind a head that is not
	 * due yet goes at most lag[] late.  Lookups judge by the deadline.
	 */
	struct ct_list	 tlist[CT_TO_MAX];
	uint32_t	 lag[CT_TO_MAX];	/* ms */
	/* adaptive timeouts: what each list's entries lose of their time
	   while the table is above adaptive_start (ms; one offset per
	   list keeps every list sorted) */
	uint32_t	 shrink[CT_TO_MAX];
	/*
	 * The share: src_cnt holds 2 rows of CT_SRC_WIDTH counters; an
	 * entry adds 1 to one counter of each row, picked by a keyed hash
	 * of its source, and a source's count is the smaller of its two
	 * (never below the truth).  share_max: most entries a source may
	 * hold, UINT32_MAX for no cap.
	 */
	uint32_t	*src_cnt;
	uint32_t	 share_max;
	/* an overflow's grace: window checks are liberal until then (ms) */
	uint64_t	 grace_until;
	/* the node is master: CT_TD_PEER sides are stale (ct_relearn_peer) */
	int		 relearn_peer;
	uint64_t	 now;		/* latest clock seen */
	uint32_t	 now32;		/* now modulo 2^32 */
	uint64_t	 key[2];	/* hash key */
	struct ct_stats	 stats;
	/* events: the callback, and what ct_find() saw of the entry the
	   packet belongs to, so ct_track() can tell an UPDATE */
	ct_event_fn	 evfn;
	void		*evarg;
	struct ct_entry	*ev_e;
	uint8_t		 ev_state;
	uint8_t		 ev_status;
	/* the entry ct_find() or ct_insert() returned last, and its index:
	   refreshing it then needs no look at its timer list neighbour */
	struct ct_entry	*last_e;
	uint32_t	 last_i;
	/* during ct_track_ahead(): the hash of the packet's own tuple, for
	   the first lookup of that tuple */
	const struct ct_ahead *hint;
	/*
	 * Policy generations (ct_generation_next()).  While sweeping, an
	 * entry is stale when its CT_ST_GEN is not gen, or whatever its bit
	 * when all_stale (a second reload before the first sweep ended:
	 * one bit cannot tell the two apart).  A lookup hands a stale entry
	 * to judge before it returns it; ct_sweep() judges the rest from
	 * sweep_cursor.
	 */
	ct_judge_fn	 judge;
	void		*judge_arg;
	uint8_t		 gen;		/* 0 or CT_ST_GEN */
	uint8_t		 all_stale;
	uint8_t		 sweeping;
	uint32_t	 sweep_cursor;	/* next index; 0: from the start */
	/*
	 * The fast path (ct_offload.c): bit i % 64 of off[c][(i % chunk)
	 * / 64], c = i >> CT_CHUNK_SHIFT, says entry i's packets are let
	 * through by the kernel.  off[c] is NULL until an entry of chunk
	 * c is offloaded; off has off_cap pointers; noff counts the set
	 * bits (0: nothing to look at, one branch per packet).
	 */
	uint64_t	**off;
	uint32_t	 off_cap;
	size_t		 noff;
	/* the same for the entries the kernel's table did not take
	   (ct_refuse()): they stay on the queue, never offered again */
	uint64_t	**ref;
	uint32_t	 ref_cap;
	size_t		 nref;
	/*
	 * Bytes per connection, kept with [daemon] fastpath = yes only
	 * (ct_keep_bytes(), ct_offload.c): bytes[c][i % chunk] of entry
	 * i, both ways, network header onwards, made per chunk with the
	 * chunk's first entry; keep_bytes 0: nothing made, one branch per
	 * packet.  8 bytes a slot (the entry has none to spare).
	 */
	uint64_t	**bytes;
	uint32_t	 bytes_cap;
	uint8_t		 keep_bytes;
	/* what a new entry resets of its slot's last one (CT_FRESH_*):
	   ct_insert() looks once for all */
	uint8_t		 fresh;
	/*
	 * [sync] (ct_dirty.c): bit i % 64 of dirty_bits[i / 64] says slot
	 * i's windows moved since the last take, and the slot is then in
	 * dirty_list[0 .. ndirty - 1]; a side array, the entry has no bit
	 * left.  dirty_list NULL: not tracked (one branch per segment).
	 */
	uint64_t	*dirty_bits;
	uint32_t	 dirty_nwords;
	uint32_t	*dirty_list;
	size_t		 ndirty;
	/* a full resync from the peer (ct_sync.c): bit i of keep_bits says
	   the sweep leaves slot i's connection (the resync brought it, or
	   it is newer than the resync's end); keep_failed: a bit could not
	   be set, so nothing is swept */
	uint64_t	*keep_bits;
	uint32_t	 keep_nwords;
	uint8_t		 keeping;	/* 0, CT_KEEP_IN, CT_KEEP_SWEEP */
	uint8_t		 keep_failed;
	/* where ct_resync_room() looks next for an unmarked entry */
	uint32_t	 room_cursor;
	/* adoption (ct_sync.c): bit i, slot i's connection came from the
	   peer and no packet of ours has reached it yet */
	uint64_t	*synced_bits;
	uint32_t	 synced_nwords;
};

/* The bucket of a 32-bit hash: its high bits scaled to nbucket, which
   need not be a power of two (Lemire's multiply-shift). */
static inline uint32_t
ct_bucket_of(const struct ct_table *t, uint32_t h)
{
	return ((uint32_t)(((uint64_t)h * t->nbucket) >> 32));
}

static inline struct ct_entry *
ct_idx(const struct ct_table *t, uint32_t i)
{
	return (&t->chunk[i >> CT_CHUNK_SHIFT][i & CT_CHUNK_MASK]);
}

/* ct_dirty.c: room in a side bitmap over the slots for slot i: 0, or -1
   (ENOMEM; it stays as it was) */
int		 ct_bits_grow(uint64_t **bits, uint32_t *nwords, uint32_t i);

/* ct.c */
void		 ct_tuple_set(struct ct_tuple *k, uint8_t family, uint8_t proto,
		    const union pkt_addr *src, const union pkt_addr *dst,
		    uint16_t sport, uint16_t dport);
int		 ct_addr_eq(uint8_t family, const union pkt_addr *a,
		    const union pkt_addr *b);
/* The table's clock moves to now_ms (never back). */
void		 ct_clock(struct ct_table *t, uint64_t now_ms);
/* The index of a live entry e (from its timer list neighbours). */
uint32_t	 ct_index_of(const struct ct_table *t, const struct ct_entry *e);
/* Finds the entry of k (as original tuple; with both, also as reply
   tuple).  Entries past their deadline are removed, not returned. */
struct ct_entry	*ct_find(struct ct_table *t, const struct ct_tuple *k,
		    int both, uint8_t *dir);
/* Starts a new entry for k; NULL when the table is full. */
struct ct_entry	*ct_insert(struct ct_table *t, const struct ct_tuple *k,
		    uint8_t tclass, struct ct_result *res);
/* New deadline now + timeout[tclass]; at the tail of that list when the
   class changes or the deadline ran past the entry's place. */
void		 ct_refresh(struct ct_table *t, struct ct_entry *e,
		    uint8_t tclass);
/* Timer lists for ct_import(): take entry i off its list; put it on the
   list of tclass at its sorted place with deadline, or near it. */
void		 ct_unplace(struct ct_table *t, uint32_t i, struct ct_entry *e);
void		 ct_place(struct ct_table *t, uint32_t i, struct ct_entry *e,
		    uint8_t tclass, uint32_t deadline);
/* Ends e at the next ct_expire(); lookups no longer find it. */
void		 ct_kill(struct ct_table *t, struct ct_entry *e);
void		 ct_result_set(struct ct_result *res, uint8_t state,
		    uint8_t reason, uint8_t dir, struct ct_entry *e);

/* ct_offload.c: slot i is free again (its bit goes); every slot is */
void		 ct_off_forget(struct ct_table *t, uint32_t i);
void		 ct_off_clear(struct ct_table *t);
/* ct_offload.c: slot i holds a new connection, its bytes start at 0
   (the chunk's counters made if need be: without them, none counted) */
void		 ct_bytes_new(struct ct_table *t, uint32_t i);
/* ct_sync.c: slot i holds a new connection: the resync has not brought
   it (yet), or its end came already and the sweep leaves it */
void		 ct_resync_fresh(struct ct_table *t, uint32_t i);
/* ct_sync.c: a full table during a resync: the first connection from a
   cursor that the resync has not marked goes (0), or none (-1) */
int		 ct_resync_room(struct ct_table *t);
/* Whether slot i's connection stays at the resync's sweep. */
static inline int
ct_resync_kept(const struct ct_table *t, uint64_t i)
{
	return (i / 64 < t->keep_nwords &&
	    (t->keep_bits[i / 64] >> (i % 64) & 1));
}
/* len bytes more for the connection in slot i (t->keep_bytes) */
static inline void
ct_bytes_add(struct ct_table *t, uint32_t i, uint64_t len)
{
	uint32_t	 c = i >> CT_CHUNK_SHIFT;

	if (c < t->bytes_cap && t->bytes[c] != NULL)
		t->bytes[c][i & CT_CHUNK_MASK] += len;
}

/* ct_tcp.c */
void		 ct_tcp_track(struct ct_table *t, const struct pkt *p,
		    struct ct_result *res);
int		 ct_tcp_confirm(struct ct_table *t, const struct pkt *p,
		    struct ct_result *res);
const char	*ct_tcp_state_name(uint8_t state);

/* ct_udp.c: UDP and every protocol without a tracker of its own */
/* ms from a flow's first packet to when it may become a stream */
#define CT_UDP_STREAM_MS 2000u
void		 ct_udp_track(struct ct_table *t, const struct pkt *p,
		    struct ct_result *res);
int		 ct_udp_confirm(struct ct_table *t, const struct pkt *p,
		    struct ct_result *res);
/* a packet of e now, in no direction the tracker learns from (the
   kernel's fast path passed it: ct_credit()) */
void		 ct_udp_seen(struct ct_table *t, struct ct_entry *e);
/* ct_export()/ct_snap_apply(): ms until e may become a stream (0: it
   may), and back */
uint32_t	 ct_udp_stream_left(const struct ct_table *t,
		    const struct ct_entry *e);
void		 ct_udp_stream_set(struct ct_table *t, struct ct_entry *e,
		    uint32_t left_ms);

/* ct_icmp.c: ICMP and ICMPv6 */
int		 ct_is_icmp(const struct pkt *p);
void		 ct_icmp_track(struct ct_table *t, const struct pkt *p,
		    struct ct_result *res);
int		 ct_icmp_confirm(struct ct_table *t, const struct pkt *p,
		    struct ct_result *res);
uint8_t		 ct_icmp_reply_type(uint8_t family, uint8_t type);

#endif /* NFQSPI_CT_INT_H */
