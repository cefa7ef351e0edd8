/*
 * worker_ask.c - ICMP errors about another worker's connection
 *
 * Copyright (C) 2026 The nfqspid authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * With --queue-balance the kernel hashes an ICMP error's own addresses
 * (router -> client), so the error often reaches another worker than the
 * connection it quotes; the hash is seeded at random, so the owner cannot
 * be computed.  A worker that does not know the quoted connection asks
 * every other one: the question (the parsed error) goes into their inbox
 * under a mutex and wakes them with event_active(); each looks it up in
 * its own table (ct_find_related()) and sends the question back as the
 * answer.  Errors are rare: only this path takes a lock.  The error's
 * verdict waits (nq's deferred verdicts) while the other packets go on;
 * an error that came in fragments waits with its held fragments, which
 * then take its verdict.
 *
 * With [sync] a worker asks in the same way for a connection the peer
 * synced, which this node keeps in its home worker (synclink_home())
 * while the kernel may send its packets elsewhere after a failover: the
 * first packet that finds no entry asks home once (worker_adopt()), and
 * home hands the connection over (worker_sync_give()).  That packet and
 * those of the same connection that come meanwhile wait (in a room of
 * their own, which a failover's burst fills: see below), and are then
 * judged in order against the table the answer filled.  A backup
 * borrows instead (worker_adopt_borrow()).  A packet that made the
 * connection's entry without home's answer (a SYN, no room or no time
 * to wait) tells home, which ends its older copy (worker_adopt_fresh()).
 *
 * A new master's packet can also beat the old master's record of its
 * connection (sent within one flush): then no worker knows it yet.  In
 * the grace one that would die for it waits for the record in the same
 * room, home remembering the question (worker_hold()).
 */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "worker_int.h"
#include "sync_int.h"

/* What the other workers write (the inbox) fills one line alone. */
_Static_assert(offsetof(struct worker, defer) -
    offsetof(struct worker, askmtx) == CACHELINE, "the inbox's line");

struct worker_ask {
	struct worker_ask	*next;
	struct worker		*from;
	uint32_t		 seq;		/* the asker's worker_defer */
	uint8_t			 answer;	/* 0 question, 1 answer */
	uint8_t			 found;
	uint8_t			 adopt;		/* a connection, not an error */
	uint8_t			 back;		/* adopt: found, but the asker
						   is backup now: home takes
						   it again */
	uint8_t			 peek;		/* adopt, from a backup: a copy,
						   home keeps it */
	uint8_t			 fresh;		/* answer: home's copy of k
						   went (worker_adopt_fresh()) */
	uint8_t			 hold;		/* adopt: none yet? home waits
						   for the peer's record
						   (worker_want()) */
	uint8_t			 superseded;	/* from home: the peer's word
						   of k came, ours goes
						   (worker_adopt_superseded()) */
	uint32_t		 mark;
	uint64_t		 since;		/* hold: home got it */
	TAILQ_ENTRY(worker_ask)	 wage;		/* hold: want_age */
	uint64_t		 gen;		/* adopt: home's hand-overs
						   (worker_sync_ended()) */
	struct pkt		 p;		/* data NULL */
	struct ct_tuple		 k;		/* adopt: asked */
	struct sync_rec		 rec;		/* adopt: the connection
						   answered (s.k: asked) */
};

/* Put a into w's inbox and wake w. */
static void
worker_post(struct worker *w, struct worker_ask *a)
{
	pthread_mutex_lock(&w->askmtx);
	a->next = w->inbox;
	w->inbox = a;
	pthread_mutex_unlock(&w->askmtx);
	/* thread-safe: the base was made with evthread_use_pthreads() */
	event_active(w->askev, EV_READ, 0);
}

/*
 * The timer runs while anything waits, errors or adoptions, set for the
 * first wait to end (due, ms), no later: a fixed step of WORKER_ASK_MS
 * stretched every wait but the first by up to a step.  A wait that ends
 * later leaves it as it is; one that ends sooner moves it.  One timer
 * for them all: the next is found when it runs (worker_ask_due()).
 */
static void
worker_ask_arm(struct worker *w, uint64_t due, uint64_t now)
{
	struct timeval	 tv;
	uint64_t	 ms;

	if (evtimer_pending(w->asktimer, NULL) && w->ask_due <= due)
		return;
	/* passed already: at the loop's next turn */
	ms = due > now ? due - now : 0;
	tv.tv_sec = (time_t)(ms / 1000);
	tv.tv_usec = (suseconds_t)(ms % 1000) * 1000;
	w->ask_due = due;
	(void)evtimer_add(w->asktimer, &tv);
}

/* A wait that ends at due began: most end after the timer (the clock
   unread). */
static void
worker_ask_timer(struct worker *w, uint64_t due)
{
	if (evtimer_pending(w->asktimer, NULL) && w->ask_due <= due)
		return;
	worker_ask_arm(w, due, spi_now_ms());
}

/*
 * No packet more may wait here?  A waiting packet has no verdict yet, so
 * it keeps its place in the kernel's queue (queue_maxlen, read as it
 * runs: a reload changes it): the byte cap alone lets 12,000 ACKs wait,
 * three times the default queue, and a burst of them (a failover's, or
 * a flood in a new master's grace) would fill it, when the kernel drops
 * (fail_open: passes unseen) every other packet of the queue until the
 * waits end, 200 ms.  A quarter leaves the rest to the packets judged
 * at once, and waiting packets alone never look like an overflow
 * (seven eighths: worker_overflow_check()); home answers within a turn
 * of its loop, so a burst seldom fills even that, and a packet that
 * finds it full costs its sender a resend at worst.
 */
static int
worker_wait_full(const struct worker *w)
{
	return (w->nadopt + w->ndefer >=
	    w->cfg->queue_maxlen / WORKER_WAIT_SHARE);
}

/* A free slot for a packet of len bytes; NULL if there is none. */
static struct worker_defer *
worker_defer_slot(struct worker *w, size_t len)
{
	unsigned	 i;

	if (w->ndefer == WORKER_DEFER || len > sizeof(w->defer[0].buf) ||
	    worker_wait_full(w))
		return (NULL);
	for (i = 0; i < WORKER_DEFER; i++)
		if (w->defer[i].seq == 0)
			return (&w->defer[i]);
	return (NULL);
}

/* Slot d, its seq set, holds np (len bytes of it from data) from now on,
   until its answer or WORKER_ASK_MS after np came. */
static void
worker_defer_hold(struct worker *w, struct worker_defer *d,
    const struct nq_packet *np, const uint8_t *data, size_t len,
    const char *in, const char *out)
{
	d->id = np->id;
	d->since = np->ts_ms;
	d->np = *np;
	d->np.data = d->buf;
	d->np.len = len;
	memcpy(d->buf, data, len);
	snprintf(d->in, sizeof(d->in), "%s", in);
	snprintf(d->out, sizeof(d->out), "%s", out);
	w->ndefer++;
	worker_ask_timer(w, d->since + WORKER_ASK_MS);
}

/*
 * Ask the other workers about the ICMP error p; 0 if its verdict now
 * waits for their answers, -1 if it is decided as it is (one worker,
 * stopping, too many waiting already, too many fragments, no memory).
 * A reassembled error (fr) keeps the datagram's first bytes, as the
 * queue would have copied them: only its headers are read after.
 */
int
worker_ask(struct worker *w, const struct nq_packet *np, const struct pkt *p,
    const struct verdict *v, const char *in, const char *out,
    const struct frag_result *fr)
{
	struct worker_defer	*d;
	struct worker_ask	*a;
	const uint8_t		*data = np->data;
	size_t			 len = np->len;
	unsigned		 i, n;

	if (fr != NULL) {
		if (fr->n > WORKER_DEFER_FRAGS)
			return (-1);
		data = fr->buf;
		len = fr->len < sizeof(d->buf) ? fr->len : sizeof(d->buf);
	}
	n = __atomic_load_n(&w->npeers, __ATOMIC_ACQUIRE);
	if (n < 2 || __atomic_load_n(&w->stopping, __ATOMIC_SEQ_CST) ||
	    (d = worker_defer_slot(w, len)) == NULL)
		return (-1);
	if (++w->askseq == 0)
		w->askseq = 1;
	d->seq = w->askseq;
	d->waiting = 0;
	for (i = 0; i < n; i++) {
		if (w->peers[i] == w)
			continue;
		if ((a = calloc(1, sizeof(*a))) == NULL)
			break;
		a->from = w;
		a->seq = d->seq;
		a->p = *p;
		a->p.data = NULL;
		a->p.len = 0;
		worker_post(w->peers[i], a);
		d->waiting++;
	}
	if (d->waiting == 0) {
		d->seq = 0;
		return (-1);
	}
	d->p = *p;
	d->p.data = d->buf;
	d->p.len = len;
	d->v = *v;
	d->nids = fr != NULL ? fr->n : 0;
	if (d->nids > 0)
		memcpy(d->ids, fr->ids, d->nids * sizeof(d->ids[0]));
	worker_defer_hold(w, d, np, data, len, in, out);
	return (0);
}

/* The waiting error d is decided: RELATED if found, else as it was;
   its held fragments first, as worker_fragment() orders them. */
static void
worker_answered(struct worker *w, struct worker_defer *d, int found,
    uint32_t mark)
{
	struct nq_verdict	 nv;

	memset(&nv, 0, sizeof(nv));
	if (found)
		verdict_related(w->cfg, &d->p, d->in, d->out, mark, &d->v);
	worker_frag_release(w, d->ids, d->nids, &d->v);
	d->nids = 0;
	worker_decided(w, &d->np, &d->p, &d->v, d->in, d->out,
	    spi_now_ms(), &nv);
	(void)nq_verdict(w->nq, d->id, &nv);
	d->seq = 0;
	w->ndefer--;
}

/* ---- adoption ([sync], several workers) -------------------------------- */

/*
 * At a failover every idle connection the kernel's hash moved asks at
 * once: thousands of questions, where the errors' 64 slots held 64 and
 * the rest were judged without their connection (INVALID).  So an
 * adoption does not take an error's slot: it is one question per
 * connection, found by its tuple, and the packets of the connection
 * that come meanwhile queue behind it in order, each allocated to its
 * length as the question is.  The errors' fixed slots stay as they
 * were, small and cheap.  A byte cap (adopt_max, WORKER_ADOPT_BYTES)
 * bounds a burst's memory, which the answers give back, and a count
 * its share of the kernel's queue (worker_wait_full()); what finds
 * either reached,
 * or waits past WORKER_ADOPT_MS, is judged without its connection and
 * counted (adopt_missed).  Asking home for several keys
 * in one message would save a lock a connection, little beside a
 * packet's judgement, and hold the first answers back for the last
 * questions.
 */

/* A packet waiting for its connection's adoption. */
struct worker_held {
	struct worker_held	*next;		/* its question's, in order */
	struct nq_packet	 np;		/* data: buf */
	char			 in[IF_NAMESIZE], out[IF_NAMESIZE];
	uint8_t			 buf[];		/* np.len bytes */
};

/* One question out to a home worker, and the packets that wait on it. */
struct worker_adoptq {
	struct worker_adoptq	*hnext;		/* its bucket's */
	TAILQ_ENTRY(worker_adoptq) age;
	struct ct_tuple		 k;
	uint32_t		 seq;
	uint8_t			 hold;		/* its packets wait for the
						   peer's record
						   (worker_hold()) */
	uint8_t			 self;		/* ... here: on hold_age, not
						   asked */
	uint8_t			 late;		/* no answer in time: its
						   packets are not held again
						   (worker_adopt_late()) */
	uint64_t		 since;
	struct worker_held	*first, **last;
};

/* What a question costs until its answer: its own and the message. */
#define WORKER_ADOPTQ_BYTES	(sizeof(struct worker_adoptq) + \
				    sizeof(struct worker_ask))

static int
worker_tuple_eq(const struct ct_tuple *a, const struct ct_tuple *b)
{
	return (a->family == b->family && a->proto == b->proto &&
	    ((a->sport == b->sport && a->dport == b->dport &&
	    memcmp(&a->src, &b->src, sizeof(a->src)) == 0 &&
	    memcmp(&a->dst, &b->dst, sizeof(a->dst)) == 0) ||
	    (a->sport == b->dport && a->dport == b->sport &&
	    memcmp(&a->src, &b->dst, sizeof(a->src)) == 0 &&
	    memcmp(&a->dst, &b->src, sizeof(a->dst)) == 0)));
}

/* synclink_home()'s hash, the same both ways round, by bits apart from
   those that chose home: the questions of one worker spread too. */
static struct worker_adoptq **
worker_adopt_bucket(struct worker *w, const struct ct_tuple *k)
{
	return (&w->adoptq[synclink_home(k, 1u << 16) &
	    (WORKER_ADOPT_BUCKETS - 1)]);
}

/* The question out for k's connection (seq 0: whichever), or NULL. */
static struct worker_adoptq *
worker_adopt_find(struct worker *w, const struct ct_tuple *k, uint32_t seq)
{
	struct worker_adoptq	*q;

	if (w->adoptq == NULL)
		return (NULL);
	for (q = *worker_adopt_bucket(w, k); q != NULL; q = q->hnext)
		if ((seq == 0 || q->seq == seq) && worker_tuple_eq(&q->k, k))
			return (q);
	return (NULL);
}

/* A packet that starts its connection anyway: a TCP SYN.  (An ICMP
   error has no key of its own: worker_ask() asks for what it quotes.) */
static int
worker_adopt_skip(const struct nq_packet *np, const struct ct_tuple *k)
{
	size_t		 hl;

	if (k->proto != IPPROTO_TCP)
		return (0);
	hl = k->family == AF_INET ? (size_t)(np->data[0] & 0x0f) * 4 : 40;
	return (np->len >= hl + 14 &&
	    (np->data[hl + 13] & (PKT_TH_SYN | PKT_TH_ACK | PKT_TH_RST)) ==
	    PKT_TH_SYN);
}

/* np waits behind q's packets; -1 if the cap, the room's count
   (worker_wait_full()) or memory says no. */
static int
worker_adopt_hold(struct worker *w, struct worker_adoptq *q,
    const struct nq_packet *np, const char *in, const char *out)
{
	struct worker_held	*h;
	size_t			 sz = sizeof(*h) + np->len;

	if (w->adopt_bytes + sz > w->adopt_max || worker_wait_full(w) ||
	    (h = malloc(sz)) == NULL)
		return (-1);
	h->next = NULL;
	h->np = *np;
	h->np.data = h->buf;
	memcpy(h->buf, np->data, np->len);
	snprintf(h->in, sizeof(h->in), "%s", in);
	snprintf(h->out, sizeof(h->out), "%s", out);
	*q->last = h;
	q->last = &h->next;
	w->adopt_bytes += sz;
	w->nadopt++;
	/* its question's wait; one held for a record here, a shorter
	   one, set the timer when it moved to hold_age (worker_hold()) */
	worker_ask_timer(w, q->since + WORKER_ADOPT_MS);
	return (0);
}

/* A new question about k, not yet asked, and its message in *a; NULL if
   the cap (or memory) says no. */
static struct worker_adoptq *
worker_adopt_new(struct worker *w, const struct ct_tuple *k, uint64_t now,
    struct worker_ask **a)
{
	struct worker_adoptq	*q, **b;

	if (w->adopt_bytes + WORKER_ADOPTQ_BYTES > w->adopt_max)
		return (NULL);
	if (w->adoptq == NULL && (w->adoptq = calloc(WORKER_ADOPT_BUCKETS,
	    sizeof(*w->adoptq))) == NULL)
		return (NULL);
	if ((q = calloc(1, sizeof(*q))) == NULL)
		return (NULL);
	if ((*a = calloc(1, sizeof(**a))) == NULL) {
		free(q);
		return (NULL);
	}
	if (++w->askseq == 0)
		w->askseq = 1;
	q->seq = w->askseq;
	q->k = *k;
	q->since = now;
	q->last = &q->first;
	b = worker_adopt_bucket(w, k);
	q->hnext = *b;
	*b = q;
	TAILQ_INSERT_TAIL(&w->adopt_age, q, age);
	w->adopt_bytes += WORKER_ADOPTQ_BYTES;
	return (q);
}

/* q is answered, or no longer waited on: gone. */
static void
worker_adopt_unlink(struct worker *w, struct worker_adoptq *q)
{
	struct worker_adoptq	**b;

	for (b = worker_adopt_bucket(w, &q->k); *b != q; b = &(*b)->hnext)
		;
	*b = q->hnext;
	if (q->self)
		TAILQ_REMOVE(&w->hold_age, q, age);
	else
		TAILQ_REMOVE(&w->adopt_age, q, age);
	w->adopt_bytes -= WORKER_ADOPTQ_BYTES;
}

/* q's packets, judged in the order they came against the table the
   answer (if any) filled; q is freed.  none: home holds nothing of
   their connection, so the entries they make need no word to it
   (worker_adopt_fresh()).  One that home knew nothing of may wait
   again, for the peer's record (worker_hold()): the rest then wait
   behind it; not one whose answer never came (late).  Those that
   waited for a record are counted by what they got: saved, accepted
   against the connection it brought (learnt), but a SYN, which starts
   its connection without it; unsaved, refused all the same. */
static void
worker_adopted(struct worker *w, struct worker_adoptq *q, int none)
{
	struct worker_adoptq	*to;
	struct worker_held	*h;
	struct nq_verdict	 nv;
	int			 learnt;

	worker_adopt_unlink(w, q);
	w->home_none = none;
	w->rejudging = q->hold || q->late;
	/* before a SYN among them makes the entry: then no record saved
	   them (a delete came, or none) */
	learnt = q->hold && ct_lookup(w->ct, &q->k) != NULL;
	while ((h = q->first) != NULL) {
		q->first = h->next;
		if (!q->hold && (to = worker_adopt_find(w, &q->k, 0)) !=
		    NULL) {
			h->next = NULL;
			*to->last = h;
			to->last = &h->next;
			continue;
		}
		h->np.ts_ms = spi_now_ms();
		memset(&nv, 0, sizeof(nv));
		worker_judge(w, &h->np, NULL, h->in, h->out, &nv);
		if (!nv.defer)
			(void)nq_verdict(w->nq, h->np.id, &nv);
		if (learnt && nv.accept && !worker_adopt_skip(&h->np, &q->k))
			w->st.grace_saved++;
		else if (q->hold && !nv.accept && !nv.defer)
			w->st.grace_unsaved++;
		w->adopt_bytes -= sizeof(*h) + h->np.len;
		w->nadopt--;
		free(h);
	}
	w->home_none = 0;
	w->rejudging = 0;
	free(q);
}

/* The connection np belongs to: the batch's hint has TCP's and UDP's,
   ICMP queries' need more.  0, or -1 if it has none. */
static int
worker_adopt_key(const struct nq_packet *np, const struct ct_ahead *ah,
    struct ct_tuple *k)
{
	if (ah != NULL && ah->ok) {
		*k = ah->k;
		return (0);
	}
	return (verdict_tuple(np->data, np->len, k));
}

/* np waits, first of k's, for home's answer: its room and the question
   *ap to post, or NULL (counted missed) if there is no room. */
static struct worker_adoptq *
worker_adopt_start(struct worker *w, const struct ct_tuple *k,
    const struct nq_packet *np, const char *in, const char *out,
    struct worker_ask **ap)
{
	struct worker_adoptq	*q;

	if ((q = worker_adopt_new(w, k, np->ts_ms, ap)) == NULL) {
		w->st.adopt_missed++;
		return (NULL);
	}
	if (worker_adopt_hold(w, q, np, in, out) == -1) {
		free(*ap);
		worker_adopt_unlink(w, q);
		free(q);
		w->st.adopt_missed++;
		return (NULL);
	}
	(*ap)->from = w;
	(*ap)->seq = q->seq;
	(*ap)->adopt = 1;
	(*ap)->k = *k;
	(*ap)->rec.s.k = *k;
	return (q);
}

int
worker_adopt(struct worker *w, const struct nq_packet *np,
    const struct ct_ahead *ah, const char *in, const char *out)
{
	struct ct_tuple		 k;
	struct worker_adoptq	*q;
	struct worker_ask	*a;
	struct worker		*home;
	unsigned		 n;

	if (!worker_adopt_wanted(w) || worker_adopt_key(np, ah, &k) == -1)
		return (-1);
	/* behind the packets of its connection that wait already (one
	   worker too: for the peer's record, worker_hold()), even when
	   stopping: the stop judges them next, in order */
	if (w->nadopt > 0 && (q = worker_adopt_find(w, &k, 0)) != NULL) {
		if (worker_adopt_hold(w, q, np, in, out) == 0)
			return (0);
		w->st.adopt_missed++;
		return (-1);
	}
	n = __atomic_load_n(&w->npeers, __ATOMIC_ACQUIRE);
	if (n < 2 || __atomic_load_n(&w->stopping, __ATOMIC_SEQ_CST))
		return (-1);
	home = w->peers[synclink_home(&k, n)];
	/* most of the time home holds nothing unseen: one load */
	if (home == w || __atomic_load_n(&home->synced,
	    __ATOMIC_ACQUIRE) == 0 || worker_adopt_skip(np, &k) ||
	    ct_lookup(w->ct, &k) != NULL)
		return (-1);
	if (worker_adopt_start(w, &k, np, in, out, &a) == NULL)
		return (-1);
	/* a backup's table follows the peer's, home by home: a copy
	   taken away would miss its updates */
	a->peek = !sync_sending(w->sync);
	worker_post(home, a);
	return (0);
}

/* ---- a new master's grace: the old master's last records ---------------- */

/*
 * The old master sends its changes every flush, so a packet that passed
 * it just before the switch (a SYN) can bring its connection's next one
 * (the SYN-ACK, the third ACK, a UDP reply) here before the record of
 * it: no worker knows the connection yet, and the packet would die.  In
 * the grace (the old master's records still count: synclink_granted())
 * such a packet waits for the record, up to WORKER_HOLD_FLUSHES of
 * [sync] flush (the record leaves within one, then crosses the link;
 * at most WORKER_HOLD_MAX_MS).  It waits in the adoptions' room, under
 * their cap, as one of them: the packets of its connection that come
 * meanwhile wait behind it, those of the others never do.  The record
 * lands in the connection's home worker (synclink_home()): if that is
 * this one the question stays here (hold_age, worker_hold_records());
 * else home is asked as for an adoption, and keeps the question it
 * cannot answer yet until the record comes or the wait ends
 * (worker_want()), when it answers as it would have at once.  A
 * DELETE of the tuple does not end the wait (worker_hold_records()).
 * A crash of the old master costs such a packet the wait and no more:
 * it is then judged as it would have been.
 */

/*
 * Would p live with an entry, but dies without one?  What the table
 * says when it lacks the connection: a TCP segment without a clean SYN
 * (tcp-no-syn: the SYN-ACK, an ACK, a FIN or RST), an ICMP echo reply
 * or another query's (icmp-no-request), and, where the rules refuse
 * it as the start of one, a UDP datagram or (tcp_loose) a TCP ACK,
 * which may be the reply of a connection the rules let in the other
 * way.  Not a SYN, which starts its connection anyway; not a NEW ICMP
 * query, a request, which the rules judge alike with an entry or
 * without; not what a limit refused (its tokens are spent); nor
 * another INVALID, which an entry would not save.  Monitor mode lets
 * all of them through: nothing to save.
 */
static int
worker_hold_wanted(const struct pkt *p, const struct verdict *v)
{
	if (v->decided == RULE_ACCEPT || v->limit != VERDICT_LIMIT_NONE)
		return (0);
	if (v->state == CT_INVALID)
		return (v->reason == REASON_TCP_NO_SYN ||
		    v->reason == REASON_ICMP_NO_REQUEST);
	if (v->state != CT_NEW)
		return (0);
	if (p->proto == IPPROTO_UDP)
		return (1);
	return (p->proto == IPPROTO_TCP && (p->th_flags &
	    (PKT_TH_SYN | PKT_TH_ACK | PKT_TH_RST)) != PKT_TH_SYN);
}

int
worker_hold(struct worker *w, const struct nq_packet *np,
    const struct ct_ahead *ah, const struct pkt *p, const struct verdict *v,
    const char *in, const char *out)
{
	struct ct_tuple		 k;
	struct worker_adoptq	*q;
	struct worker_ask	*a;
	struct worker		*home;
	unsigned		 n;

	if (np->ts_ms >= w->hold_until) {
		w->hold_until = 0;	/* the grace is over */
		return (-1);
	}
	/* not a backup, whose records are the peer's own: no race */
	if (w->rejudging || !worker_hold_wanted(p, v) ||
	    !sync_sending(w->sync) ||
	    __atomic_load_n(&w->stopping, __ATOMIC_SEQ_CST))
		return (-1);
	if (worker_adopt_key(np, ah, &k) == -1)
		return (-1);
	/* the cap said no to it behind its connection's (worker_adopt()) */
	if (w->nadopt > 0 && worker_adopt_find(w, &k, 0) != NULL)
		return (-1);
	if ((q = worker_adopt_start(w, &k, np, in, out, &a)) == NULL)
		return (-1);
	q->hold = 1;
	n = __atomic_load_n(&w->npeers, __ATOMIC_ACQUIRE);
	home = n < 2 ? w : w->peers[synclink_home(&k, n)];
	if (home == w) {
		/* the record comes here: nobody to ask */
		free(a);
		TAILQ_REMOVE(&w->adopt_age, q, age);
		TAILQ_INSERT_TAIL(&w->hold_age, q, age);
		q->self = 1;
		worker_ask_timer(w, q->since + worker_hold_ms(w));
		return (0);
	}
	a->hold = 1;
	worker_post(home, a);
	return (0);
}

/* Home hands a's connection over if it holds it, says which hand-over
   of its own it is (worker_sync_ended()), and remembers where it went
   (worker_sync_there()). */
static void
worker_adopt_give(struct worker *w, struct worker_ask *a)
{
	a->found = (uint8_t)worker_sync_give(w, &a->rec.s.k, &a->rec);
	a->gen = w->gave;
	if (a->found)
		worker_sync_there(w, &a->rec.s.k, a->from, 1);
}

static struct worker_ask **
worker_want_bucket(struct worker *w, const struct ct_tuple *k)
{
	return (&w->wantq[synclink_home(k, 1u << 16) &
	    (WORKER_ADOPT_BUCKETS - 1)]);
}

/* Home, asked in the grace for a connection it does not hold yet: the
   question waits for the peer's record, up to worker_hold_ms().  -1 if
   there is no memory for it: answered now. */
static int
worker_want(struct worker *w, struct worker_ask *a)
{
	struct worker_ask	**b;

	if (w->wantq == NULL && (w->wantq = calloc(WORKER_ADOPT_BUCKETS,
	    sizeof(*w->wantq))) == NULL)
		return (-1);
	b = worker_want_bucket(w, &a->k);
	a->next = *b;
	*b = a;
	a->since = spi_now_ms();
	TAILQ_INSERT_TAIL(&w->want_age, a, wage);
	w->nwant++;
	worker_ask_timer(w, a->since + worker_hold_ms(w));
	return (0);
}

/* The waiting question a answered: the connection if we hold it now. */
static void
worker_want_answer(struct worker *w, struct worker_ask *a)
{
	struct worker_ask	**b;

	for (b = worker_want_bucket(w, &a->k); *b != a; b = &(*b)->next)
		;
	*b = a->next;
	TAILQ_REMOVE(&w->want_age, a, wage);
	w->nwant--;
	worker_adopt_give(w, a);
	a->answer = 1;
	worker_post(a->from, a);
}

/* Has what began at since waited age ms by now (0: all)?  One that
   began after now (a packet judged since the clock was read, waiting
   again) has not. */
static int
worker_waited(uint64_t now, uint64_t since, uint64_t age)
{
	return (age == 0 || (now >= since && now - since >= age));
}

/* Those waited on for age ms (0: all) are answered as they stand. */
static void
worker_want_late(struct worker *w, uint64_t now, uint64_t age)
{
	struct worker_ask	*a;

	while ((a = TAILQ_FIRST(&w->want_age)) != NULL &&
	    worker_waited(now, a->since, age))
		worker_want_answer(w, a);
}

void
worker_hold_records(struct worker *w, const struct sync_rec *rec, size_t n)
{
	struct worker_adoptq	*q;
	struct worker_ask	*a, *next;
	size_t			 i;

	/*
	 * A DELETE ends no wait: it ended an earlier connection of the
	 * tuple, whose record came before it (the stream keeps the old
	 * master's order): the packets found its entry, or it ended their
	 * wait.  Theirs, if the old master passed their connection's first
	 * packet, comes after the DELETE, maybe in the next datagram (a
	 * SYN on a connection in TIME_WAIT there ends it and starts
	 * another: two records).  Ended at the DELETE, the wait dropped a
	 * packet that record would have saved.
	 */
	for (i = 0; i < n; i++) {
		if (rec[i].op == SYNC_OP_DELETE)
			continue;
		/* the first gets it, any other finds it gone */
		for (a = w->nwant > 0 ? *worker_want_bucket(w,
		    &rec[i].s.k) : NULL; a != NULL; a = next) {
			next = a->next;
			if (worker_tuple_eq(&a->k, &rec[i].s.k))
				worker_want_answer(w, a);
		}
		if (!TAILQ_EMPTY(&w->hold_age) && (q = worker_adopt_find(w,
		    &rec[i].s.k, 0)) != NULL && q->self)
			worker_adopted(w, q, 0);
	}
}

/* Home, asked by a backup's worker: a copy of k's entry, which stays. */
static int
worker_adopt_lend(struct worker *w, struct worker_ask *a)
{
	const struct ct_entry	*e;

	if ((e = ct_lookup(w->ct, &a->k)) == NULL)
		return (0);
	sync_rec_fill(&a->rec, SYNC_OP_UPSERT, w->ct, e, w->cfg);
	return (1);
}

/*
 * A backup's answer.  Forwarded packets still reach a node made backup
 * until the clients and routers learn of the new master (its gratuitous
 * ARPs), and reach the new master before keepalived's notify makes it
 * master; with one worker its table judges them, and so it does here:
 * the packets are judged against a copy of home's entry, which is
 * dropped after them without a word to the peer or the events.  Home
 * keeps the connection and the peer's changes.
 */
static void
worker_adopt_borrow(struct worker *w, struct worker_adoptq *q,
    struct sync_rec *r)
{
	struct ct_tuple		 k = q->k;
	struct ct_entry		*e;

	e = r != NULL ? worker_sync_borrow(w, r) : NULL;
	worker_adopted(w, q, r == NULL);
	/* the copy goes, unless a packet ended it (and maybe made
	   another, which stays: worker_sync_unborrow()) */
	if (e != NULL)
		worker_sync_unborrow(w, &k);
}

/*
 * Home's answer: the connection, taken even if its packets stopped
 * waiting (home no longer holds it), unless this node was made backup
 * since: the peer's changes go to home, so the connection goes back
 * there (synclink.c moves the others home in the same way), and its
 * packets are judged against a copy of it, as a backup's are
 * (worker_adopt_borrow()).  Unless a
 * packet made its entry here meanwhile (the wait ran out, a SYN): live
 * traffic is newer than home's copy, a synced one no packet reached,
 * which goes.  The peer heard of ours, but home queued its copy as it
 * gave it if a bulk was going (worker_sync_hand_off()): ours goes again,
 * after it (the moves order the two).  A copy lent to our question as
 * a backup that comes once we are master is not borrowed (it would
 * leave the connection with home, and no packet here after them):
 * home is asked again, for the connection.
 */
static void
worker_adopt_answer(struct worker *w, struct worker_ask *a)
{
	unsigned		 n = __atomic_load_n(&w->npeers,
				    __ATOMIC_ACQUIRE);
	struct worker_adoptq	*q = worker_adopt_find(w, &a->k, a->seq);
	const struct ct_entry	*e;
	int			 none = !a->found;

	if (a->peek && a->found && q != NULL && sync_sending(w->sync)) {
		/* asked as a backup, answered once master: a copy is a
		   backup's, and home kept the connection, so home is asked
		   for it again as a master asks, its packets still
		   waiting */
		a->answer = a->found = a->peek = 0;
		memset(&a->rec, 0, sizeof(a->rec));
		a->rec.s.k = a->k;
		worker_post(w->peers[synclink_home(&a->k, n)], a);
		return;
	}
	if (a->peek) {
		if (q != NULL)
			worker_adopt_borrow(w, q, a->found ? &a->rec : NULL);
		free(a);
		return;
	}
	if (a->found && (e = ct_lookup(w->ct, &a->rec.s.k)) != NULL) {
		worker_sync_again(w, e);
		a->found = 0;
	}
	if (a->found && !sync_sending(w->sync)) {
		/* its packets borrow it first, as a backup's would */
		if (q != NULL)
			worker_adopt_borrow(w, q, &a->rec);
		q = NULL;
		a->back = 1;
		worker_post(w->peers[synclink_home(&a->rec.s.k, n)], a);
		a = NULL;
	} else if (a->found)
		worker_sync_adopt(w, &a->rec);
	if (q != NULL)
		worker_adopted(w, q, none);
	free(a);
}

/*
 * A packet made e here, a connection home may hold a synced copy of
 * that no packet reached (it was a SYN, found no room or no time to
 * wait for home's answer, or came while we were backup).  Live traffic
 * is newer: home ends its copy, which a bulk would send beside ours and
 * which keeps every worker asking home about the flows it does not
 * know.  After a failover every new connection off its home does this
 * while home holds any copy, so nothing is allocated: the key goes into
 * home's fixed list under the inbox's lock, and only the first since
 * home last read the list wakes it.  A full list (home's loop behind)
 * is counted (adopt_untold) and the two stay side by side: the copy,
 * which no packet reaches, ends by its own timeout without a word to
 * the peer (worker_sync_event()), and ours is the one the peer hears
 * of.  A backup's worker tells home of every entry a packet makes,
 * which home remembers, whether it holds a copy or not: the peer's
 * word of the connection ends it (worker_sync_there()).  So does a new
 * master's in the grace: home then keeps the old master's record out,
 * which it would send back to the peer behind ours (worker_sync_apply(),
 * keep).  That is one lock a new connection off its home for the
 * grace's seconds, as while home holds any copy.
 */
void
worker_adopt_fresh(struct worker *w, const struct ct_entry *e)
{
	unsigned		 n = __atomic_load_n(&w->npeers,
				    __ATOMIC_ACQUIRE);
	struct worker		*home;
	struct worker_fresh	*f;
	struct ct_tuple		 k;

	if (n < 2)
		return;
	ct_entry_key(e, &k);
	home = w->peers[synclink_home(&k, n)];
	/* a backup's home remembers it, holding a copy or not, and a new
	   master's in the grace, for the old master's record */
	if (home == w || (__atomic_load_n(&home->synced,
	    __ATOMIC_ACQUIRE) == 0 && sync_sending(w->sync) &&
	    !worker_sync_granted(w)))
		return;
	pthread_mutex_lock(&home->askmtx);
	if ((n = home->nfresh) < WORKER_FRESH) {
		f = &home->fresh[home->freshin][home->nfresh++];
		f->k = k;
		f->from = w;
	}
	pthread_mutex_unlock(&home->askmtx);
	if (n == WORKER_FRESH)
		w->st.adopt_untold++;
	else if (n == 0)
		event_active(home->askev, EV_READ, 0);
}

/* Home remembers where f's connection lives (worker_sync_there()),
   ends its copy of f's key, and tells the asker, whose entry goes
   to the peer again: a bulk may have walked home since the peer heard
   of it, or home sent its copy after it.  (Without memory for the
   word, the asker's next change or refresh sends it.) */
static void
worker_adopt_stale(struct worker *w, const struct worker_fresh *f)
{
	struct worker_ask	*a;

	worker_sync_there(w, &f->k, f->from, 0);
	if (!worker_sync_stale(w, &f->k) || (a = calloc(1, sizeof(*a))) ==
	    NULL)
		return;
	/* what we queued of the copy (in the grace, the old master's
	   record sent back: worker_sync_apply()) goes before the asker's
	   word, whichever ring the link drains first */
	if (w->sync != NULL)
		sync_moved(w->sync);
	a->from = w;
	a->answer = 1;
	a->fresh = 1;
	a->k = f->k;
	worker_post(f->from, a);
}

void
worker_adopt_superseded(struct worker *w, struct worker *to,
    const struct ct_tuple *k)
{
	struct worker_ask	*a;

	if ((a = calloc(1, sizeof(*a))) == NULL)
		return;		/* it stays, till its timeout */
	a->from = w;
	a->answer = 1;
	a->superseded = 1;
	a->k = *k;
	worker_post(to, a);
}

/*
 * The asker, told home's copy ended.  Its connection may have ended
 * since, its DELETE gone out from our ring before what home sent of
 * the copy: the DELETE goes again, after it (home's move), or the peer
 * keeps that copy until its timeout.  In the grace home may have sent
 * back the old master's record (keep); in or out of it, a whole table
 * may have walked home since our DELETE (the link takes a bulk's
 * slices after the rings it drained), so this is not gated on the
 * grace: out of it, with no bulk, the DELETE is one redundant record.
 * The tuple's packets come here only, so no other worker holds a newer
 * connection of it, and a newer one here goes to the peer behind this
 * DELETE, from the same ring.
 */
static void
worker_adopt_staled(struct worker *w, struct worker_ask *a)
{
	const struct ct_entry	*e;

	if ((e = ct_lookup(w->ct, &a->k)) != NULL)
		worker_sync_again(w, e);
	else if (w->sync != NULL)
		sync_forget(w->sync, w->id, &a->k);
	free(a);
}

/* Home takes back what it gave: a batch of one, behind what the peer
   sent since, unless the peer ended it since. */
static void
worker_adopt_back(struct worker *w, struct worker_ask *a)
{
	struct sync_batch	 b;

	if (worker_sync_ended(w, &a->rec.s.k, a->gen)) {
		free(a);
		return;
	}
	memset(&b, 0, sizeof(b));
	b.rec = &a->rec;
	b.n = 1;
	b.keep = 1;
	worker_sync_home(w, &b);
	free(a);
}

void
worker_adopt_late(struct worker *w, uint64_t now, uint64_t age)
{
	struct worker_adoptq	*q;
	struct worker_held	*h;
	uint64_t		 hold = age == 0 ? 0 : worker_hold_ms(w);

	while ((q = TAILQ_FIRST(&w->adopt_age)) != NULL &&
	    worker_waited(now, q->since, age)) {
		log_debug("%s: worker %u: no answer from home for packet %u",
		    __func__, w->id, q->first->np.id);
		/* a record's wait counts by what its packets get; missed,
		   the others wait no more (home is behind, and a record's
		   wait now would end past TCP's minimum RTO) */
		for (h = q->first; !q->hold && h != NULL; h = h->next)
			w->st.adopt_missed++;
		q->late = 1;
		worker_adopted(w, q, 0);
	}
	/* no record came in time (a crash): judged as they would have
	   been; home answers the others' questions as they stand */
	while ((q = TAILQ_FIRST(&w->hold_age)) != NULL &&
	    worker_waited(now, q->since, hold))
		worker_adopted(w, q, 0);
	worker_want_late(w, now, hold);
}

void
worker_answer_late(struct worker *w, uint64_t now, uint64_t age)
{
	unsigned	 i;

	/* a clock read before an error came has not seen it wait */
	for (i = 0; i < WORKER_DEFER && w->ndefer > 0; i++)
		if (w->defer[i].seq != 0 &&
		    worker_waited(now, w->defer[i].since, age)) {
			log_debug("%s: worker %u: no answer for packet %u",
			    __func__, w->id, w->defer[i].id);
			worker_answered(w, &w->defer[i], 0, 0);
		}
}

uint64_t
worker_ask_due(const struct worker *w)
{
	const struct worker_adoptq	*q;
	const struct worker_ask		*a;
	uint64_t			 due = UINT64_MAX, t;
	unsigned			 i;

	/* each list is in the order its waits end */
	for (i = 0; i < WORKER_DEFER && w->ndefer > 0; i++)
		if (w->defer[i].seq != 0 &&
		    (t = w->defer[i].since + WORKER_ASK_MS) < due)
			due = t;
	if ((q = TAILQ_FIRST(&w->adopt_age)) != NULL &&
	    (t = q->since + WORKER_ADOPT_MS) < due)
		due = t;
	if ((q = TAILQ_FIRST(&w->hold_age)) != NULL &&
	    (t = q->since + worker_hold_ms(w)) < due)
		due = t;
	if ((a = TAILQ_FIRST(&w->want_age)) != NULL &&
	    (t = a->since + worker_hold_ms(w)) < due)
		due = t;
	return (due == UINT64_MAX ? 0 : due);
}

void
worker_ask_expire(struct worker *w, uint64_t now)
{
	uint64_t	 due;

	worker_answer_late(w, now, WORKER_ASK_MS);
	worker_adopt_late(w, now, WORKER_ADOPT_MS);
	/* set anew, as a packet judged now may have set it */
	(void)evtimer_del(w->asktimer);
	if ((due = worker_ask_due(w)) != 0)
		worker_ask_arm(w, due, now);
}

/*
 * Errors nobody answered in time stay as they were; adoptions are
 * judged without their connection.  What reached the inbox meanwhile
 * comes first: a busy loop may run this timer before the inbox's
 * event, and an answer that came is not late.
 */
void
worker_ask_timeout(evutil_socket_t fd, short events, void *arg)
{
	struct worker	*w = arg;

	worker_ask_cb(fd, events, arg);
	worker_ask_expire(w, spi_now_ms());
}

/* The inbox: questions from other workers, answers to ours. */
void
worker_ask_cb(evutil_socket_t fd, short events, void *arg)
{
	struct worker		*w = arg;
	struct worker_ask	*a, *next, *l = NULL;
	struct worker_defer	*d;
	unsigned		 i, fi, nf;

	pthread_mutex_lock(&w->askmtx);
	a = w->inbox;
	w->inbox = NULL;
	fi = w->freshin;
	nf = w->nfresh;
	w->freshin = !fi;
	w->nfresh = 0;
	pthread_mutex_unlock(&w->askmtx);
	/* the oldest first: a burst's first questions are nearest their
	   time */
	for (; a != NULL; a = next) {
		next = a->next;
		a->next = l;
		l = a;
	}
	for (a = l; a != NULL; a = next) {
		next = a->next;
		if (a->back) {
			worker_adopt_back(w, a);
			continue;
		}
		if (a->fresh) {
			worker_adopt_staled(w, a);
			continue;
		}
		if (a->superseded) {
			worker_sync_superseded(w, &a->k);
			free(a);
			continue;
		}
		if (!a->answer) {
			if (a->adopt && a->peek)
				a->found = (uint8_t)worker_adopt_lend(w, a);
			else if (a->adopt) {
				worker_adopt_give(w, a);
				/* in the grace, the record may be on its
				   way: the answer waits for it */
				if (!a->found && a->hold &&
				    worker_want(w, a) == 0)
					continue;
			} else
				a->found = (uint8_t)ct_find_related(w->ct,
				    &a->p, &a->mark);
			a->answer = 1;
			worker_post(a->from, a);
			continue;
		}
		if (a->adopt) {
			worker_adopt_answer(w, a);
			continue;
		}
		for (i = 0, d = NULL; i < WORKER_DEFER; i++)
			if (w->defer[i].seq == a->seq) {
				d = &w->defer[i];
				break;
			}
		/* none: decided already (found elsewhere, or too late) */
		if (d != NULL) {
			if (a->found)
				worker_answered(w, d, 1, a->mark);
			else if (--d->waiting == 0)
				worker_answered(w, d, 0, 0);
		}
		free(a);
	}
	/* then the fresh entries: one follows its worker's question about
	   the same connection, if it asked */
	for (i = 0; i < nf; i++)
		worker_adopt_stale(w, &w->fresh[fi][i]);
}

void
worker_set_peers(struct worker **all, unsigned n)
{
	unsigned	 i;

	for (i = 0; i < n; i++) {
		all[i]->peers = all;
		__atomic_store_n(&all[i]->npeers, n, __ATOMIC_RELEASE);
	}
}

/*
 * A stop, in the worker's thread once its queue is read dry: the
 * answers already in the inbox come first (a connection handed over
 * lands here, its packets judged against it), then what still waits is
 * judged without one, and home answers the questions that wait on it.
 * What reaches the inbox later, from a worker still running, is the
 * main thread's once every worker stopped (worker_ask_drain()).
 */
void
worker_ask_stop(struct worker *w)
{
	worker_ask_cb(-1, EV_READ, w);
	worker_answer_late(w, 0, 0);
	worker_adopt_late(w, 0, 0);
}

/*
 * Every worker stopped: the main thread reads what their inboxes still
 * hold, as their loops would, so that a connection handed over (or
 * given back) ends up in one table, which the state file then finds.
 * No packet waits any more: none is judged.  A message begets at most
 * two more (a question its answer, an answer a connection given back),
 * so the rounds end.
 */
void
worker_ask_drain(struct worker **all, unsigned n)
{
	unsigned	 i;
	int		 more, busy;

	do {
		more = 0;
		for (i = 0; i < n; i++) {
			pthread_mutex_lock(&all[i]->askmtx);
			busy = all[i]->inbox != NULL || all[i]->nfresh > 0;
			pthread_mutex_unlock(&all[i]->askmtx);
			if (!busy)
				continue;
			worker_ask_cb(-1, EV_READ, all[i]);
			more = 1;
		}
	} while (more);
}

/* Questions and answers still in the inbox of a stopped worker, and
   adoptions nobody will answer (their packets' verdicts with the
   queue). */
void
worker_ask_free(struct worker *w)
{
	struct worker_ask	*a;
	struct worker_adoptq	*q;
	struct worker_held	*h;

	while ((a = w->inbox) != NULL) {
		w->inbox = a->next;
		free(a);
	}
	w->nfresh = 0;
	while ((q = TAILQ_FIRST(&w->adopt_age)) != NULL ||
	    (q = TAILQ_FIRST(&w->hold_age)) != NULL) {
		worker_adopt_unlink(w, q);
		while ((h = q->first) != NULL) {
			q->first = h->next;
			free(h);
		}
		free(q);
	}
	free(w->adoptq);
	w->adoptq = NULL;
	while ((a = TAILQ_FIRST(&w->want_age)) != NULL) {
		TAILQ_REMOVE(&w->want_age, a, wage);
		free(a);
	}
	free(w->wantq);
	w->wantq = NULL;
	w->nwant = 0;
	w->nadopt = 0;
	w->adopt_bytes = 0;
}
