/*
 * ct.h - the connection table and its protocol trackers
 *
 * Copyright (C) 2026 The nfqspid authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * Pure: no I/O, no globals, no locks.  A table belongs to one worker; the
 * caller passes the clock (milliseconds, monotonic or the capture's).
 *
 * A packet goes through two steps:
 *   ct_track()    finds its connection (either direction) and runs the
 *                 protocol tracker, or tells whether it may start one;
 *   ct_confirm()  once the rules accepted a NEW packet, creates the entry.
 * A NEW packet the rules drop therefore never takes a slot in the table.
 */
#ifndef NFQSPI_CT_H
#define NFQSPI_CT_H

#include <stddef.h>
#include <stdint.h>

#include "pkt.h"

/* The state of a packet, as iptables' -m conntrack --ctstate sees it. */
enum ct_state {
	CT_NEW = 0,
	CT_ESTABLISHED,
	CT_RELATED,
	CT_INVALID,
	CT_STATE_MAX
};
#define CT_STATE_BIT(s)	(1u << (s))

enum ct_dir {
	CT_DIR_ORIG = 0,
	CT_DIR_REPLY
};

/* Timeouts, named after the kernel's nf_conntrack_*_timeout_* sysctls. */
enum ct_timeout {
	CT_TO_TCP_SYN_SENT = 0,
	CT_TO_TCP_SYN_RECV,
	CT_TO_TCP_ESTABLISHED,
	CT_TO_TCP_FIN_WAIT,
	CT_TO_TCP_CLOSE_WAIT,
	CT_TO_TCP_LAST_ACK,
	CT_TO_TCP_TIME_WAIT,
	CT_TO_TCP_CLOSE,
	CT_TO_TCP_SYN_SENT2,
	CT_TO_TCP_MAX_RETRANS,
	CT_TO_TCP_UNACK,
	CT_TO_UDP,
	CT_TO_UDP_STREAM,
	CT_TO_ICMP,
	CT_TO_ICMPV6,
	CT_TO_GENERIC,
	CT_TO_MAX
};

struct ct_timeout_def {
	const char	*key;		/* "timeout_tcp_syn_sent", ... */
	uint32_t	 def;		/* seconds */
};
extern const struct ct_timeout_def ct_timeout_defs[CT_TO_MAX];

struct ct_config {
	uint32_t	max;		/* entries at most */
	uint8_t		tcp_loose;	/* pick up mid-stream TCP */
	uint8_t		tcp_liberal;	/* never INVALID for the window */
	/* percent of max one source (an IPv4 address, an IPv6 /64) may
	   hold; 100: no cap */
	uint8_t		source_share;
	/* pf's adaptive timeouts, in percent of max: above start every
	   timeout shrinks linearly, to 0 at end.  0 and 0: off */
	uint16_t	adaptive_start;
	uint16_t	adaptive_end;
	uint32_t	timeout[CT_TO_MAX];	/* seconds */
};

/* The longest timeout, in seconds (11.5 days): the table keeps times in
   milliseconds modulo 2^32 and needs every live one within 2^30 of now.
   ct_new() and ct_set_config() cap longer ones. */
#define CT_TIMEOUT_MAX	1000000u

/* Fill c with the defaults of the contract. */
void	 ct_config_defaults(struct ct_config *c);

struct ct_table;
struct ct_entry;

struct ct_result {
	uint8_t		 state;		/* enum ct_state of this packet */
	uint8_t		 reason;	/* enum reason, if CT_INVALID */
	uint8_t		 dir;		/* enum ct_dir */
	struct ct_entry	*entry;		/* the connection (for RELATED: the
					   one the ICMP error is about);
					   NULL when none exists yet */
};

struct ct_stats {
	uint64_t	found;		/* packets that matched an entry */
	uint64_t	created;
	uint64_t	destroyed;	/* removed for any reason */
	uint64_t	expired;
	uint64_t	early_drop;	/* evicted to make room */
	uint64_t	insert_failed;	/* table full, nothing evictable */
	uint64_t	invalid;
	uint64_t	rst_ignored;	/* in-window RSTs that were not exact:
					   passed, state kept (RFC 5961) */
	uint64_t	share_refused;	/* new connections of a source that
					   held its share of the table */
	uint64_t	window_grace;	/* out-of-window TCP segments let
					   pass during an overflow's grace */
	uint64_t	window_relearn; /* TCP segments out of a restored or
					   synced window that re-learnt it
					   (ct_snap_stale()) */
	uint64_t	dirty_lost;	/* window moves not marked for the
					   HA peer (too many at once) */
};

/* Returns NULL and sets errno on failure. */
struct ct_table	*ct_new(const struct ct_config *c);
void		 ct_free(struct ct_table *t);
/* New timeouts and limits after a reload.  A longer timeout applies to an
   entry from its next packet on; a shorter one also caps the existing
   entries at now + the new timeout.  A lower max is reached by evicting
   one extra entry per new connection. */
void		 ct_set_config(struct ct_table *t, const struct ct_config *c);
/*
 * The queue overflowed while the kernel let the overflow pass (fail
 * open): the tracker missed packets, and the connections that carried
 * them now look out of window.  Until until_ms, a segment of an assured
 * TCP connection that fails only the window check passes, teaches the
 * window as under tcp_liberal, is counted (stats.window_grace) and says
 * so in res->reason (REASON_WINDOW_GRACE, state ESTABLISHED).  Everything
 * else is judged as always: no new connection, no RST out of window.
 */
void		 ct_grace(struct ct_table *t, uint64_t until_ms);
/*
 * Whether the node is master ([sync]): then a side whose window is the
 * peer's (ct_snap_peer()) re-learns it at its next packet; a backup's
 * are checked as they stand.  Looked at per packet, so a switch walks
 * no table.
 */
void		 ct_relearn_peer(struct ct_table *t, int master);
/* Connections the source of p's family and address holds (an upper
   bound: a sketch, exact unless two heavy sources collide twice). */
uint32_t	 ct_source_count(const struct ct_table *t, uint8_t family,
		    const union pkt_addr *src);

void		 ct_track(struct ct_table *t, const struct pkt *p,
		    uint64_t now_ms, struct ct_result *res);
/* Returns 0, or -1 when the table is full and nothing may be evicted
   (res->state = CT_INVALID, res->reason = REASON_TABLE_FULL), or the
   packet's source holds its share of the table (REASON_SOURCE_SHARE). */
int		 ct_confirm(struct ct_table *t, const struct pkt *p,
		    uint64_t now_ms, uint32_t mark, uint32_t rule,
		    struct ct_result *res);
/*
 * Is the ICMP/ICMPv6 error p about a connection of t?  Then 1, and *mark
 * is that connection's mark.  Changes nothing but what a lookup does
 * anyway (an entry found past its deadline goes) and counts nothing:
 * with several workers, the one that got the error asks the others.
 */
int		 ct_find_related(struct ct_table *t, const struct pkt *p,
		    uint32_t *mark);
/* A lookup key: the original direction's tuple. */
struct ct_tuple {
	union pkt_addr	src;
	union pkt_addr	dst;
	uint16_t	sport;
	uint16_t	dport;
	uint8_t		family;
	uint8_t		proto;
};

/*
 * Hints for the packets of a batch, to overlap the cache misses of a
 * large table, each packet hashed once: ct_ahead() hashes the tuple into
 * *a and starts loading its bucket; ct_ahead_entry(), a few packets
 * later, the entry the bucket names (every cache line of it);
 * ct_ahead_chain(), later still, the next entry of the chain when the
 * first is another connection's; ct_track_ahead() then looks the packet
 * up with a's hash, if a is the packet's own tuple (anything else is
 * looked up as ct_track() would, as it does for a hint of another
 * table).  The hints change nothing.  a->ok is 0 when ct_ahead() was
 * given nothing to hash.
 */
struct ct_ahead {
	const struct ct_table *t;	/* the table whose key hashed it */
	struct ct_tuple	 k;
	uint32_t	 hash;
	uint8_t		 ok;
};
void		 ct_ahead(const struct ct_table *t, uint8_t family,
		    uint8_t proto, const union pkt_addr *src,
		    const union pkt_addr *dst, uint16_t sport, uint16_t dport,
		    struct ct_ahead *a);
void		 ct_ahead_entry(const struct ct_table *t,
		    const struct ct_ahead *a);
void		 ct_ahead_chain(const struct ct_table *t,
		    const struct ct_ahead *a);
void		 ct_track_ahead(struct ct_table *t, const struct pkt *p,
		    const struct ct_ahead *a, uint64_t now_ms,
		    struct ct_result *res);
/* Expire what is due.  Cheap when nothing is due: call it often. */
void		 ct_expire(struct ct_table *t, uint64_t now_ms);
void		 ct_remove(struct ct_table *t, struct ct_entry *e);
void		 ct_flush(struct ct_table *t);

size_t		 ct_count(const struct ct_table *t);
void		 ct_get_stats(const struct ct_table *t, struct ct_stats *s);

uint32_t	 ct_entry_mark(const struct ct_entry *e);
/* the PKT_HOOK_* the connection's first packet was queued from */
uint8_t		 ct_entry_hook(const struct ct_entry *e);
uint32_t	 ct_entry_rule(const struct ct_entry *e);
/* seconds since the connection was confirmed */
uint64_t	 ct_entry_age(const struct ct_entry *e, uint64_t now_ms);
/* packets of the connection, both directions (saturates) */
uint32_t	 ct_entry_packets(const struct ct_entry *e);
/* the original direction's tuple (ports 0 but for TCP and UDP) */
void		 ct_entry_tuple(const struct ct_entry *e, uint8_t *family,
		    uint8_t *proto, union pkt_addr *src, union pkt_addr *dst,
		    uint16_t *sport, uint16_t *dport);
/* ... whole, as ct_lookup() and ct_export() have it: ICMP's id and
   type too */
void		 ct_entry_key(const struct ct_entry *e, struct ct_tuple *k);

/* A TCP connection in TIME_WAIT or CLOSE: over, only waiting to go
   (conn_limit no longer counts it, as the kernel's nf_conncount) */
int		 ct_entry_closed(const struct ct_entry *e);
/* A reload gives a live connection the decision of the new rules. */
void		 ct_entry_set_decision(struct ct_entry *e, uint32_t mark,
		    uint32_t rule);
/* ICMP/ICMPv6 queries: the request's type, code and id (0 otherwise) */
void		 ct_entry_icmp(const struct ct_entry *e, uint8_t *type,
		    uint8_t *code, uint16_t *id);

/*
 * The fast path ([daemon] fastpath): a worker hands an established
 * connection to the kernel, which then lets its packets through without
 * the queue.  The table remembers which entries are offloaded, in a side
 * bitmap (no byte of the entry; 1 bit per slot, allocated only once used):
 *
 * ct_offloadable(): e may go: TCP in ESTABLISHED (the handshake is
 * complete), UDP with a reply seen; nothing else.
 * ct_offloaded(): e is marked.  The bit goes when e leaves the table,
 * after its DESTROY event (which can still see it).
 * ct_set_offloaded(): mark (on) or unmark e; 0, or -1 ENOMEM.  Marking a
 * TCP connection makes its window checks liberal for good, as the
 * kernel's own flow offload does: its segments no longer pass us, so
 * every one of its packets that comes back to the queue while it is
 * marked (a SYN, FIN or RST, or one that raced the kernel's table)
 * first forgets both directions' windows and re-learns them from itself.
 * ct_offload_clear(): unmark every entry (the kernel's table was
 * emptied), refused ones too; ct_offload_count(): how many are marked.
 * ct_refuse(): the kernel's table did not take k's connection (a mark
 * past its chains, a failed transaction): it is unmarked and marked
 * refused instead, ct_offload_refused(), so that it is not offered again
 * until it leaves the table or the kernel's table is emptied.  0, or -1
 * and ENOENT (gone, or not marked offloaded: nothing to undo) or ENOMEM.
 * ct_credit(): the kernel passed packets (and bytes) more of k's
 * connection (either direction): they are counted into it and its idle
 * timer starts again, as a packet of ours would; a UDP flow past its
 * first 2 s becomes a stream (ASSURED, timeout_udp_stream) as at a
 * packet now, with its UPDATE event.  0, or -1 and ENOENT (gone
 * meanwhile).
 * ct_keep_bytes(): from now on count each connection's bytes (IP header
 * onwards, both ways), for [daemon] fastpath = yes: 8 bytes per slot
 * beside the entries, nothing otherwise.  Call it before the first
 * connection.  ct_entry_bytes(): e's bytes into *bytes; -1 (ENOENT)
 * when t keeps none (or is NULL).
 */
int		 ct_offloadable(const struct ct_entry *e);
int		 ct_offloaded(const struct ct_table *t, const struct ct_entry *e);
int		 ct_set_offloaded(struct ct_table *t, struct ct_entry *e,
		    int on);
void		 ct_offload_clear(struct ct_table *t);
size_t		 ct_offload_count(const struct ct_table *t);
int		 ct_refuse(struct ct_table *t, const struct ct_tuple *k,
		    uint64_t now_ms);
int		 ct_offload_refused(const struct ct_table *t,
		    const struct ct_entry *e);
void		 ct_keep_bytes(struct ct_table *t);
int		 ct_entry_bytes(const struct ct_table *t,
		    const struct ct_entry *e, uint64_t *bytes);
int		 ct_credit(struct ct_table *t, const struct ct_tuple *k,
		    uint32_t packets, uint64_t bytes, uint64_t now_ms);

/*
 * A connection's whole state, for the HA peer (syncproto.h): what a backup
 * needs to continue the connection exactly, with full window tracking.
 * Only the original tuple: nfqspid does no NAT, the reply tuple is its
 * inverse.  rule is this node's rule index: the sync layer sends names.
 */
#define CT_SNAP_SEEN_REPLY	0x01
#define CT_SNAP_ASSURED		0x02
#define CT_SNAP_FLAGS		0x03
/* the most of last_hash for a datagram flow: its first 2 s, plus 1 */
#define CT_SNAP_STREAM_MAX	2001u

struct ct_snap_tcp {
	uint32_t	end[2];		/* per direction (enum ct_dir): */
	uint32_t	maxend[2];	/*   van Rooij's td_end, td_maxend, */
	uint32_t	maxwin[2];	/*   td_maxwin (scaled), td_maxack */
	uint32_t	maxack[2];
	uint8_t		scale[2];	/* window scale, 0 to 14 */
	uint8_t		dflags[2];	/* what each side sent (SACK, ...) */
	uint8_t		retrans;	/* identical ACKs in a row */
	uint8_t		last_index;	/* class of the last packet */
	uint8_t		last_dir;
	uint8_t		last_zerowin;
};

struct ct_snap {
	struct ct_tuple	 k;		/* the original direction */
	uint8_t		 state;		/* TCP: the kernel's TCP_CONNTRACK_* */
	uint8_t		 flags;		/* CT_SNAP_* */
	uint8_t		 hook;		/* PKT_HOOK_* of the first packet */
	uint8_t		 tclass;	/* enum ct_timeout it runs on */
	uint8_t		 aux;		/* ICMP: the request's code; TCP: the
					   options of the last ignored SYN */
	uint32_t	 rule;
	uint32_t	 mark;
	uint32_t	 left_ms;	/* time left before it times out */
	uint32_t	 age_s;		/* seconds since it was confirmed */
	uint32_t	 packets;
	uint32_t	 last_hash;	/* TCP: the tracker's last ACK or SYN;
					   UDP and the other protocols
					   without a tracker: ms from now
					   until a packet makes the flow a
					   stream, the reply seen (0: one
					   now does; the stream's first
					   2 s); ICMP: 0 */
	struct ct_snap_tcp tcp;		/* TCP only; zero otherwise */
};

/*
 * Bits of struct ct_snap_tcp.dflags that are this node's own, never on
 * the wire nor in a state file: a side whose window came from a
 * snapshot and was not re-learnt since (ct_snap_stale()).  ct_export()
 * keeps them, so a connection moving between workers stays as it was.
 */
#define CT_SNAP_TD_LOCAL	0x40
/*
 * The other: a side whose window is the HA peer's (ct_snap_peer()), not
 * learnt from a packet here since.  It goes stale (CT_SNAP_TD_LOCAL) at
 * its next packet once the node is master (ct_relearn_peer()).
 */
#define CT_SNAP_TD_PEER		0x80
#define CT_SNAP_TD_OURS		(CT_SNAP_TD_LOCAL | CT_SNAP_TD_PEER)

/* The state of e, as of the table's clock. */
void		 ct_export(const struct ct_table *t, const struct ct_entry *e,
		    struct ct_snap *s);
/*
 * Is s a state this version could hold?  0, or -1 with errno EINVAL:
 * an unknown family, state, class, hook or flag, a scale over 14, a time
 * left over the longest timeout.  ct_import() checks it too.
 */
int		 ct_snap_check(const struct ct_snap *s);
/*
 * s comes from elsewhere (the HA peer, the last run's state file): its
 * TCP windows may lag the connection, which may have moved on unseen
 * (--queue-bypass or fail_open while we were down, the peer's last
 * changes lost in a failover).  Once imported, each side's first
 * packet other than a RST re-learns that side's window, as the kernel
 * takes up a connection mid-stream (td_maxwin 0); from then on it is
 * checked as usual.  State, flags and RSTs are judged as always (a RST
 * against what is known: the other side's re-learnt ack and window,
 * or the snapshot's).  No effect on other protocols.
 */
void		 ct_snap_stale(struct ct_snap *s);
/* s waited ms more (in a state file): a datagram flow's wait for its
   stream goes by */
void		 ct_snap_elapse(struct ct_snap *s, uint64_t ms);
/*
 * s comes from the HA peer to a backup: its windows lag the peer's by a
 * flush at most, and a backup that sees the connection's packets keeps
 * them current itself (the backup's grace covers the lag), so nothing
 * is re-learnt yet.  Once the node is master (ct_relearn_peer()), each
 * side no packet here reached since goes stale as ct_snap_stale()
 * says: what passed the old master after its last flush is lost.
 */
void		 ct_snap_peer(struct ct_snap *s);
/*
 * Insert or update the connection s describes (found from either
 * direction: one the other way round is replaced), as of now_ms, with
 * its rule index and mark as given.  Events fire as for a packet: NEW
 * once created, UPDATE when its state or flags changed.  *was (if not
 * NULL) is the entry's rule index before, CT_IMPORT_NEW if it was made
 * (so the caller can move conn_limit counts).  Not held to
 * source_share: the connection was taken where its packets came.
 * Returns the entry, or NULL with errno EINVAL (ct_snap_check()),
 * ENOSPC (the table is full, nothing may be evicted) or ENOMEM.
 */
#define CT_IMPORT_NEW	UINT32_MAX
struct ct_entry	*ct_import(struct ct_table *t, const struct ct_snap *s,
		    uint64_t now_ms, uint32_t *was);
/*
 * For the HA peer: with ct_dirty_track(t, 1) (0, or -1 ENOMEM) every TCP
 * segment that passes marks its connection, once until it is taken;
 * ct_dirty_take() hands up to max marked connections still in the table
 * to fn and unmarks them (the rest wait for the next take): how many.
 * ct_dirty_mark() marks e as a segment would.  Off again with 0.
 */
int		 ct_dirty_track(struct ct_table *t, int on);
void		 ct_dirty_mark(struct ct_table *t, const struct ct_entry *e);
size_t		 ct_dirty_take(struct ct_table *t, size_t max,
		    void (*fn)(struct ct_table *, const struct ct_entry *,
		    void *), void *arg);
size_t		 ct_dirty_count(const struct ct_table *t);
/*
 * A full resync from the peer: after ct_resync_begin(), the table
 * remembers (a side bitmap) every connection ct_import() brings;
 * ct_resync_sweep() then removes, up to max at a time from *cursor (0
 * to start; 0 again once done), every connection the resync did not
 * bring (one made in the slot of one it brought that ended since, too)
 * but those made since its first call (max 0: that call only says the
 * resync's end came), and returns how many it removed.  Done, or
 * ct_resync_end(), it forgets.  If a mark could not be kept (no
 * memory), nothing is swept.  Meanwhile a full table evicts one the
 * resync has not marked first, the least recently refreshed of the
 * best tier near the heads of the timer lists, for ct_import() and a
 * packet alike.
 */
void		 ct_resync_begin(struct ct_table *t);
size_t		 ct_resync_sweep(struct ct_table *t, uint64_t *cursor,
		    size_t max, uint64_t now_ms);
void		 ct_resync_end(struct ct_table *t);
/* ct_resync_brought(): 1 if the resync brought e so far.
   ct_resync_forget(): e was imported from elsewhere than the resync, it
   is swept unless the resync brings it after all. */
int		 ct_resync_brought(const struct ct_table *t,
		    const struct ct_entry *e);
void		 ct_resync_forget(struct ct_table *t, const struct ct_entry *e);
/* Remove the connection of k (either direction): 0, or -1 ENOENT. */
int		 ct_forget(struct ct_table *t, const struct ct_tuple *k,
		    uint64_t now_ms);
/* The connection of k (either direction), or NULL. */
struct ct_entry	*ct_lookup(struct ct_table *t, const struct ct_tuple *k);
/* The key of an ICMP or ICMPv6 query of type id or of its reply (the
   requester's address first, id and the request's type as the ports):
   the packet's direction, or -1 if type is neither. */
int		 ct_icmp_tuple(uint8_t family, uint8_t proto, uint8_t type,
		    const union pkt_addr *src, const union pkt_addr *dst,
		    uint16_t id, struct ct_tuple *k);
/*
 * With several workers a synced connection may reach another worker
 * than the one that holds it (worker_sync.c's adoption).  A side bitmap
 * marks the connections the peer brought that no packet of ours reached
 * yet: ct_synced_mark() is 1 if it marked e now, 0 if it was (or -1,
 * ENOMEM); ct_synced_take() is 1 if e was marked, and unmarks it;
 * ct_synced_is() is 1 if e is marked.
 */
int		 ct_synced_mark(struct ct_table *t, const struct ct_entry *e);
int		 ct_synced_take(struct ct_table *t, const struct ct_entry *e);
int		 ct_synced_is(const struct ct_table *t,
		    const struct ct_entry *e);

/*
 * Events, for per-source limits and `nfqspictl events`: NEW once a
 * connection is confirmed (its mark and rule set), UPDATE when a packet
 * changed its state or status (SEEN_REPLY, ASSURED), DESTROY just before
 * it leaves the table for any reason (expiry, eviction, ct_remove(),
 * ct_flush()).  The callback runs inside the table's functions: it must
 * not change the table.  NULL: no events (one branch per site).
 */
enum ct_event {
	CT_EVENT_NEW = 1,
	CT_EVENT_UPDATE,
	CT_EVENT_DESTROY
};
typedef void	(*ct_event_fn)(int event, const struct ct_entry *e,
		    void *arg);
void		 ct_set_event_cb(struct ct_table *t, ct_event_fn fn,
		    void *arg);

/*
 * One line in the format of /proc/net/nf_conntrack, without the newline:
 * ct_view_fill() and ct_view_text(CT_VIEW_PROC) (ct_view.c), for the
 * tests and fuzzers.  Returns the length snprintf would have written.
 */
int		 ct_format(const struct ct_entry *e, uint64_t now_ms,
		    char *buf, size_t len);
/*
 * Visit up to max entries, resuming at *cursor (0 to start).  fn returning
 * non-zero stops the walk; fn may ct_remove() the entry it is given.
 * Returns the number of entries visited; *cursor is 0 once the walk has
 * covered the whole table, in the call that visits its last entry.
 */
size_t		 ct_walk(struct ct_table *t, uint64_t *cursor, size_t max,
		    int (*fn)(struct ct_table *, struct ct_entry *, void *),
		    void *arg);

/*
 * Policy generations: a reload judges every connection again without
 * stopping for a walk of the table.  ct_generation_next() makes every
 * entry stale at once (one bit per entry, flipped by a counter in the
 * table); from then on a lookup that finds a stale entry first hands it
 * to judge, which may ct_remove() it (the lookup then finds nothing), and
 * ct_sweep() judges the stale entries of the next slots slots.  New
 * entries are of the new generation.  judge may be asked about an entry
 * more than once when two reloads come before the sweep of the first has
 * ended.
 */
typedef void	(*ct_judge_fn)(struct ct_table *t, struct ct_entry *e,
		    void *arg);
void		 ct_generation_next(struct ct_table *t, ct_judge_fn judge,
		    void *arg);
/* Judges the stale entries of the next slots slots, stopping after the
   judged-th; 1 once every entry is of the current generation (nothing to
   sweep), else 0. */
int		 ct_sweep(struct ct_table *t, size_t slots, size_t judged);
/* 1 while entries may be stale */
int		 ct_sweeping(const struct ct_table *t);
/* the latest clock the table was given (ms) */
uint64_t	 ct_now(const struct ct_table *t);

#endif /* NFQSPI_CT_H */
