/*
 * worker_int.h - what the worker's files share: struct worker
 *
 * Copyright (C) 2026 The nfqspid authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * A worker is split by role: worker.c (thread life and the packet loop),
 * worker_ask.c (ICMP errors about other workers' connections),
 * worker_reject.c (reject's answers and the memory of them),
 * worker_frag.c (fragments held until their datagram is decided),
 * worker_stats.c (counters, the once-a-second summary),
 * worker_overflow.c (overflows while failing open, the watchdog's
 * closing) and worker_copy.c (how much of each packet the queue copies).
 * Everything here
 * belongs to one worker and is touched by its own thread only, except
 * where a comment says otherwise.
 */
#ifndef NFQSPI_WORKER_INT_H
#define NFQSPI_WORKER_INT_H

#include <sys/queue.h>
#include <net/if.h>
#include <pthread.h>
#include <time.h>

#include <event2/event.h>

#include "nfqspid.h"
#include "cacheline.h"
#include "clock.h"
#include "ifcache.h"
#include "reject.h"

#define WORKER_BUDGET		256	/* messages per read callback, so
					   the timers get their turn */
#define WORKER_TICK_MS		200	/* ct_expire() and the audit summary */
#define WORKER_SWEEP_US		250	/* a reload's sweep holds the loop at
					   most this long at a time (the clock
					   read by work done: verdict.h) */
#define WORKER_SUMMARY_MS	1000
#define WORKER_AUDITLEN		512
#define WORKER_DEFER		64	/* ICMP errors waiting for the other
					   workers' answer */
#define WORKER_ASK_MS		50	/* ... at most this long */
#define WORKER_ADOPT_BYTES	(8u << 20)	/* packets waiting for
					   their connection's adoption, with
					   their questions: the first packets
					   of about 12,000 connections at a
					   failover as the queue copies them
					   (an ACK: 52 bytes), 7,000 of 512 */
#define WORKER_WAIT_SHARE	4	/* packets waiting here at once
					   (adoptions, holds, errors): at
					   most the queue's queue_maxlen over
					   this (worker_wait_full()) */
#define WORKER_ADOPT_MS		200	/* ... at most this long: home
					   answers once its loop turns, a
					   burst's read callback late at a
					   failback, and a packet judged
					   without its connection costs its
					   sender a resend anyway, 200 ms at
					   the least (TCP's minimum RTO) */
#define WORKER_ADOPT_BUCKETS	1024	/* the questions out, by tuple */
#define WORKER_HOLD_FLUSHES	2	/* a new master holds a packet its
					   connection's record has not
					   reached yet this many of [sync]
					   flush (worker_hold()), */
#define WORKER_HOLD_MAX_MS	150	/* ... at most this long: within
					   TCP's minimum RTO, with room for
					   the asker's turn after home's */
#define WORKER_FRESH		1024	/* fresh entries a home worker is
					   told of between two turns of its
					   loop (worker_adopt_fresh()) */
#define WORKER_GONE		1024	/* the peer's last DELETEs a home
					   worker remembers once it gave a
					   connection away, for one that comes
					   back after (worker_sync_ended()) */
#define WORKER_THERE		1024	/* connections a home worker knows
					   live in another worker (adopted, or
					   made there by a packet) and
					   remembers (worker_sync_there()), */
#define WORKER_THERE_MAX	8192	/* ... doubled up to this many while
					   the peer's records may still come
					   (a new master's grace, and before;
					   a backup): 8192 made off one home
					   in one grace (56 bytes each,
					   450 KB) */
#define WORKER_DEFER_FRAGS	16	/* held fragments of one waiting
					   error: a 576-byte IPv4 error over
					   the smallest MTU (68) takes 12 */
#define WORKER_STALL_MS		1000	/* the loop did not run this long */
#define WORKER_PROBE_MS		10	/* the kernel's backlog read at most
					   this often while we are behind */
#define WORKER_FP_PACKETS	16	/* a connection goes to the fast path
					   once it carried this many: one
					   that ends soon after its handshake
					   (one HTTP request, one DNS answer)
					   never costs the kernel an add and
					   a delete, which halved the
					   connections set up per second */
#define WORKER_WHOLE_MS		10000	/* whole packets copied this long
					   after the last that needed it */

struct worker_ask;
struct worker_adoptq;
struct worker_names;
struct sync_slice;
struct sync_rec;

/* A fresh entry another worker made (from) of a connection its home
   may hold an unseen copy of (worker_adopt_fresh()). */
struct worker_fresh {
	struct ct_tuple		 k;
	struct worker		*from;
};

/* A DELETE of the peer's that reached home after its gen-th hand-over
   (worker_sync_ended()). */
struct worker_gone {
	struct ct_tuple		 k;
	uint64_t		 gen;
};

/* A connection whose home we are that lives in another worker (from).
   Links are index + 1, 0 ends them: each slot in use is in its
   bucket's list and its kind's age list, a free one in the free list.
   Adopted: given away by home (worker_adopt_give()), else made there
   by a packet. */
struct worker_there {
	struct ct_tuple		 k;
	struct worker		*from;		/* NULL: free */
	uint16_t		 next;		/* bucket's, or free list's */
	uint16_t		 older;		/* age list's */
	uint16_t		 newer;
	uint8_t			 adopted;	/* which age list */
};
_Static_assert(sizeof(struct worker_there) == 56,
    "worker_there: the links fit in the padding");
_Static_assert(WORKER_THERE_MAX <= UINT16_MAX,
    "worker_there: slot + 1 fits its links");

struct worker_there_list {
	struct worker_there	*e;		/* cap of them, */
	uint16_t		*head;		/* cap / 4 buckets, after */
	unsigned		 cap;
	unsigned		 n;		/* in use */
	uint16_t		 oldest[2];	/* the age lists' ends, */
	uint16_t		 newest[2];	/* by adopted */
	uint16_t		 freel;		/* free slots */
};

/* An ICMP error, whole or reassembled, waiting for the other workers'
   answers (worker_ask.c). */
struct worker_defer {
	uint32_t		 seq;		/* 0: free */
	uint32_t		 id;		/* the packet's, for nq */
	unsigned		 waiting;	/* answers still to come */
	uint64_t		 since;
	struct nq_packet	 np;		/* ifin, origlen */
	struct pkt		 p;
	struct verdict		 v;		/* INVALID, if nobody knows it */
	char			 in[IF_NAMESIZE], out[IF_NAMESIZE];
	/* a reassembled error's held fragments (worker_frag.c's handles),
	   which take its verdict with it */
	size_t			 nids;
	uint64_t		 ids[WORKER_DEFER_FRAGS];
	uint8_t			 buf[NQ_COPY_RANGE];	/* p.data */
};

struct worker {
	unsigned		 id;
	const struct config	*cfg;
	struct events		*events;	/* NULL: none */
	struct nq		*nq;
	struct ct_table		*ct;
	struct limit_table	*lt;
	struct frag_cache	*fc;		/* worker_frag.c */

	struct event_base	*base;
	struct event		*rev;		/* the queue's socket */
	struct event		*tick;
	struct event		*callev;	/* worker_call() */
	struct event		*deadev;	/* in the main base */
	struct event		*sweepev;	/* a reload's sweep, a slice */
	struct verdict_reload	 rl;		/*   at a time */
	void			(*dead)(struct worker *, void *);
	void			*deadarg;

	pthread_t		 thread;
	int			 started;
	int			 ran;		/* started once */
	int			 running;	/* under mtx */
	int			 stopping;	/* atomic */
	int			 error;		/* atomic */
	int			 stopped;	/* worker_stop_fn() ended the
						   loop; read after the join */
	int			 told;		/* dead() ran: main thread */

	/* worker_call(): the main thread writes these lines */
	pthread_mutex_t		 callers __attribute__((aligned(CACHELINE)));
					/* one caller at a time */
	pthread_mutex_t		 mtx;
	pthread_cond_t		 cond;
	void			(*callfn)(struct worker *, void *);
	void			*callarg;
	int			 calldone;
	int			 calltaken;	/* the worker runs callfn: no
						   deadline withdraws it now */

	/* worker_stats.c */
	struct worker_stats	 st __attribute__((aligned(CACHELINE)));
	uint64_t		 beat;		/* atomic: ticks run */
	int			 incall;	/* atomic: in a worker_call() */
	uint64_t		*rcount;	/* worker_rule_counters() */
	size_t			 nrcount;
	uint64_t		 summary_ms;
	/* what the last summary saw: a table full, errors */
	uint64_t		 seen_full, seen_early, seen_verr;

	/* audit records: at most cfg->log_rate a second */
	struct limit_bucket	 auditrate;
	uint64_t		 suppressed;	/* since the last summary */

	struct ifcache		 ifc;

	/* worker_reject.c */
	int			 raw4;		/* reject's answers, -1 if none */
	int			 raw6;
	uint64_t		 rawwarn;	/* rate limit of send errors (s) */
	struct reject_memory	 sent;

	/* worker_ask.c: ICMP errors about other workers' connections */
	struct worker		**peers;	/* every worker, this one too */
	unsigned		 npeers;	/* atomic: 0 until all started */
	/* the inbox: the other workers write this line */
	pthread_mutex_t		 askmtx __attribute__((aligned(CACHELINE)));
	struct worker_ask	*inbox;
	struct event		*askev;
	struct event		*asktimer;	/* the first wait's end */
	struct worker_defer	 defer[WORKER_DEFER]
				    __attribute__((aligned(CACHELINE)));
	unsigned		 ndefer;
	uint32_t		 askseq;
	uint64_t		 ask_due;	/* asktimer is set for (ms) */
	/* adoption ([sync]): the questions out to home workers, each with
	   the packets of its connection that wait for it */
	struct worker_adoptq	**adoptq;	/* by tuple: NULL until the
						   first question */
	TAILQ_HEAD(, worker_adoptq) adopt_age;	/* the oldest first */
	unsigned		 nadopt;	/* packets waiting */
	size_t			 adopt_bytes;	/* theirs and their questions' */
	size_t			 adopt_max;	/* WORKER_ADOPT_BYTES; a test
						   lowers it */
	/* a new master's grace (worker_hold()): questions whose home is
	   this worker, which wait for the peer's record here, the oldest
	   first; and, as home, the other workers' questions that wait
	   for one (the oldest first, and by tuple) */
	TAILQ_HEAD(, worker_adoptq) hold_age;
	TAILQ_HEAD(, worker_ask) want_age;
	struct worker_ask	**wantq;	/* NULL until the first */
	unsigned		 nwant;
	int			 rejudging;	/* judging packets that waited
						   for a record, or for an
						   answer too long: not again */

	/* worker_adopt_fresh(): keys of fresh entries the other workers
	   made, under askmtx; they fill one list while home reads the
	   other */
	unsigned		 nfresh __attribute__((aligned(CACHELINE)));
	unsigned		 freshin;	/* the list they fill */
	struct worker_fresh	 fresh[2][WORKER_FRESH];

	/* worker_overflow.c */
	int			 closed __attribute__((aligned(CACHELINE)));
					/* atomic: the watchdog made the
					   queue fail closed */
	uint32_t		 qmaxlen;	/* atomic: the queue's parameters, */
	uint8_t			 qopen;		/* for the watchdog's thread */
	uint64_t		 ran_ms;	/* the loop last ran (atomic:
						   worker_idle_ms()) */
	uint64_t		 probe_ms;	/* the backlog last read */
	uint64_t		 lost_seen;	/* nq_lost() at the last look */
	uint64_t		 grace_ms;	/* the last overflow's grace ends */
	uint8_t			 behind;	/* the last read hit its budget */

	/* worker_sync.c: [sync] */
	struct sync		*sync;		/* NULL: off */
	int			 importing;	/* the peer's: not queued back */
	int			 moving;	/* adoption: not an end or a start
					   for the events */
	int			 by_hand;	/* a command's walk: its ends go to
					   the peer, unseen or not */
	struct ct_entry		*borrowed;	/* a backup's copy of home's
						   entry, judging its packets:
						   the events hear nothing */
	int			 home_none;	/* adoption: judging packets whose
					   home said it holds nothing of
					   them (worker_adopt_fresh()) */
	uint64_t		 hold_until;	/* a new master's grace ends
					   (ms; 0: none): a packet that
					   would die without an entry
					   waits for the old master's
					   record (worker_hold()) */
	uint64_t		 synced;	/* atomic, the other workers read
					   it: connections the peer brought
					   that no packet reached yet */
	uint64_t		*unseen;	/* sync_unseen(): all workers' */
	uint64_t		 gave;		/* connections handed over */
	struct worker_gone	*gone;		/* a ring: the peer's DELETEs
						   since the first hand-over */
	uint64_t		 ngone;		/* DELETEs put in it */
	uint64_t		 gone_lost;	/* the gen of the last one it
						   no longer holds */
	struct worker_there_list *there;	/* from the first on */
	uint64_t		 sync_cursor;	/* the refresh's ct_walk() */
	struct worker_names	*sync_names;	/* rule names to indexes */
	struct sync_slice	*sync_slice;	/* the bulk's, being filled */
	struct event		*syncev;	/* every flush: moved windows */

	/* worker_fp.c: the fast path; fpd NULL when off */
	struct fpd		*fpd;
	struct fpq_port		*fpp;		/* our rings to its thread */
	uint32_t		 fp_epoch;	/* the last flush we saw */
	uint8_t			 fp_ok;		/* cfg lets established
						   packets pass unasked */

	/* worker_copy.c */
	uint64_t		 whole_ms;	/* a packet last needed every
						   byte copied */
};

/* worker.c: a worker_call() run in the loop (callev's callback) */
void	 worker_call_cb(evutil_socket_t, short, void *);
/* worker.c: np judged in ct (a: its hints, or NULL) and decided, or
   deferred (nv->defer) */
void	 worker_judge(struct worker *, const struct nq_packet *,
	    const struct ct_ahead *, const char *, const char *,
	    struct nq_verdict *);
/* worker.c: a packet decided: count it, answer it, audit it; nv for nq */
void	 worker_decided(struct worker *, const struct nq_packet *,
	    const struct pkt *, const struct verdict *, const char *,
	    const char *, uint64_t, struct nq_verdict *);
/* an audit record, under [log] rate */
void	 worker_audit(struct worker *, const struct verdict *,
	    const struct pkt *, const char *, const char *, size_t, uint64_t);

/* worker_frag.c */
/* The CSUM_* checksums of np that are ours to verify (NFQA_SKB_INFO). */
unsigned worker_csum(const struct nq_packet *np);
/*
 * np through the fragment cache, in x: 0 if it is no fragment (decide it
 * as usual), 1 if it is dealt with (held: nv->defer is set; or decided,
 * with the fragments held with it).
 */
int	 worker_fragment(struct worker *, const struct nq_packet *np,
	    const struct verdict_ctx *x, struct nq_verdict *nv);
/* Datagrams whose time is up by now (UINT64_MAX: all) are dropped. */
void	 worker_frag_expire(struct worker *, uint64_t now);
/* The held fragments ids[] (worker_fragment()'s handles) take v. */
void	 worker_frag_release(struct worker *, const uint64_t *ids, size_t n,
	    const struct verdict *v);

/* worker_ask.c */
/* 0: p's verdict waits for the other workers; -1: decide it now.  fr:
   p is this reassembled datagram, its held fragments wait with it. */
int	 worker_ask(struct worker *, const struct nq_packet *,
	    const struct pkt *, const struct verdict *, const char *,
	    const char *, const struct frag_result *fr);
/* Errors waited on for age ms (0: all) stay as they were; one that came
   after now has not waited. */
void	 worker_answer_late(struct worker *, uint64_t now, uint64_t age);
/* Adoptions waited on for age ms (0: all) are judged without an answer;
   so are the packets a new master held for a record (worker_hold()),
   after their own wait (0: all), and home answers what waits on it. */
void	 worker_adopt_late(struct worker *, uint64_t now, uint64_t age);
void	 worker_ask_cb(evutil_socket_t, short, void *);
/* A stop: the inbox's answers taken, what waits judged without. */
void	 worker_ask_stop(struct worker *);
void	 worker_ask_timeout(evutil_socket_t, short, void *);
/* When the first of what waits here ends (ms; 0: nothing waits). */
uint64_t worker_ask_due(const struct worker *);
/* The timer's work at now: what waited its time is decided, and the
   timer is set for the next to end. */
void	 worker_ask_expire(struct worker *, uint64_t now);
void	 worker_ask_free(struct worker *);
/* Might a packet's connection live in another worker?  Not while no
   worker holds a synced one no packet reached and none of ours waits:
   two loads, most of the time, for every packet with [sync]. */
static inline int
worker_adopt_wanted(const struct worker *w)
{
	return (w->nadopt > 0 || (w->unseen != NULL &&
	    __atomic_load_n(w->unseen, __ATOMIC_RELAXED) != 0));
}
/* 0: np's connection may live in another worker (its home, with
   [sync]), which is asked for it, and np waits; -1: judge it now. */
int	 worker_adopt(struct worker *, const struct nq_packet *,
	    const struct ct_ahead *, const char *, const char *);
/* A packet made e here: its home ends the copy no packet reached, and
   remembers e (worker_sync_there()). */
void	 worker_adopt_fresh(struct worker *, const struct ct_entry *e);
/* In a new master's grace: 0 if np, judged p and v without an entry
   (a: its hints, or NULL), waits for the old master's record of its
   connection; -1: decide it now. */
int	 worker_hold(struct worker *, const struct nq_packet *np,
	    const struct ct_ahead *a, const struct pkt *p,
	    const struct verdict *v, const char *, const char *);
/* The peer's records rec[n] are in our table: the packets and the
   questions that waited for them go on (worker_sync_apply()); not for
   a DELETE. */
void	 worker_hold_records(struct worker *, const struct sync_rec *rec,
	    size_t n);
/* Home tells to that the peer's word of k came: its entry of k goes. */
void	 worker_adopt_superseded(struct worker *, struct worker *to,
	    const struct ct_tuple *k);

/* worker_overflow.c */
/* Did the queue overflow while failing open?  Then the grace starts. */
void	 worker_overflow_check(struct worker *, uint64_t now, int tick);
/* The queue's parameters, for the watchdog's thread to read. */
void	 worker_set_params(struct worker *, const struct config *);
/* The watchdog closed the queue while we were stalled: open it again. */
void	 worker_reopen(struct worker *, uint64_t now);

/* worker_fp.c */
/* Does cfg let the fast path carry our connections? */
void	 worker_fp_config(struct worker *, const struct config *);
/* After a packet's verdict: its connection goes to the kernel or leaves. */
void	 worker_fp_packet(struct worker *, const struct pkt *,
	    const struct verdict *);
/* e leaves the kernel (a DESTROY, a state change). */
void	 worker_fp_remove(struct worker *, const struct ct_entry *);
/* The table's event (worker_ct_event()): a DESTROY takes e out. */
void	 worker_fp_event(struct worker *, int event, const struct ct_entry *);
/* A new epoch (the kernel table was emptied): unmark everything. */
void	 worker_fp_epoch(struct worker *);
/* The kernel's counts, from the thread (and the epoch). */
void	 worker_fp_credits(struct worker *, uint64_t now);

/* worker_copy.c */
/* 1 if np must come again whole (nv->repeat is set), 0: decide it. */
int	 worker_copy_packet(struct worker *, const struct nq_packet *np,
	    struct nq_verdict *nv);
/* Back to copying the headers once no packet needed more for a while. */
void	 worker_copy_tick(struct worker *, uint64_t now);

/* worker_reject.c */
int	 worker_open_raw(struct worker *);
void	 worker_close_raw(struct worker *);
void	 worker_reject(struct worker *, const struct pkt *, uint32_t ifin);
/* Is this locally sent packet an answer of ours?  Then it is let out. */
static inline int
worker_own_answer(struct worker *w, const struct nq_packet *np)
{
	/* most of the time none was sent lately: no hash, no search */
	if (!reject_memory_recent(&w->sent, np->ts_ms) || np->ifin != 0 ||
	    np->malformed)
		return (0);
	return (reject_memory_match(&w->sent, np->data, np->len,
	    np->origlen, np->ts_ms));
}

/* worker_sync.c */
/* a change of the table, for the peer (an end also unmarks e) */
void	 worker_sync_event(struct worker *, int event, const struct ct_entry *);
/* a slice of the long-lived connections again, every tick */
void	 worker_sync_refresh(struct worker *, uint64_t now);
/* its timer, at worker_start(); what it runs every [sync] flush ms */
int	 worker_sync_start(struct worker *);
void	 worker_sync_flush(struct worker *);
void	 worker_sync_free(struct worker *);
/* adoption: another worker asks for k's connection; 1 if it was ours,
   now in *r and gone from our table without a word to the peer */
int	 worker_sync_give(struct worker *, const struct ct_tuple *k,
	    struct sync_rec *r);
/* ... and, given back (the asker was made backup), did the peer end it
   after home's gen-th hand-over (worker_sync.c: w->gave)?  1 also when
   home cannot tell */
int	 worker_sync_ended(struct worker *, const struct ct_tuple *k,
	    uint64_t gen);
/* ... and the asker takes it into its own */
void	 worker_sync_adopt(struct worker *, struct sync_rec *r);
/* ... or keeps the entry a packet made meanwhile, which goes to the
   peer again (home's copy may have gone out after it) */
void	 worker_sync_again(struct worker *, const struct ct_entry *);
/* a backup's asker takes a copy for a moment: the entry, or NULL */
struct ct_entry *worker_sync_borrow(struct worker *, struct sync_rec *r);
/* ... and drops it after, silently (an entry a packet made once the
   copy ended stays) */
void	 worker_sync_unborrow(struct worker *, const struct ct_tuple *k);
/* e leaves, moved: a word to neither the peer nor the events */
void	 worker_sync_drop(struct worker *, struct ct_entry *);
/* home, told that a packet made k's entry in another worker: its copy
   goes if no packet reached it; 1 if it did */
int	 worker_sync_stale(struct worker *, const struct ct_tuple *k);
/* home: k's connection lives in from now (it adopted it, or a packet
   made it there), as far as the peer's records go */
void	 worker_sync_there(struct worker *, const struct ct_tuple *k,
	    struct worker *from, int adopted);
/* from, told by home that the peer's word of k came while we are
   backup: the entry a packet made goes (worker_adopt_superseded()) */
void	 worker_sync_superseded(struct worker *, const struct ct_tuple *k);
/* a packet reached e, or e ends: no longer waiting for its packets;
   1 if it was (unseen till now) */
int	 worker_sync_seen(struct worker *, const struct ct_entry *e);
/* a new master's grace, the old master's records still taken (keep):
   1 while it lasts, on the table's clock */
int	 worker_sync_granted(const struct worker *);
/* how long a new master's packet waits for its record (ms) */
uint64_t worker_hold_ms(const struct worker *);

/* worker_stats.c */
/* a decided packet of len bytes, by verdict, state and rule */
void	 worker_count(struct worker *, const struct verdict *, size_t len);
void	 worker_rule_counters_new(struct worker *, const struct config *old,
	    const struct config *);
void	 worker_summary(struct worker *, uint64_t now);

#endif /* NFQSPI_WORKER_INT_H */
