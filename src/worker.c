/*
 * worker.c - a thread with its own queue, libevent base and table
 *
 * Copyright (C) 2026 The nfqspid authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * Worker i owns NFQUEUE (queue + i), the connection table of the flows
 * the kernel's --queue-balance hash sends there, and the configuration
 * pointer it decides them with.  Nothing on the packet path takes a lock:
 * the main thread reaches a worker only through worker_call(), which runs
 * a function in the worker's own thread between two drains of the queue.
 *
 * Besides the connection table a worker owns the per-source state of the
 * rules' rate and conn_limit (its table's DESTROY events release the
 * counts), and two raw sockets to answer what reject rules refuse.
 */
#include <sys/socket.h>
#include <net/if.h>
#include <netinet/in.h>

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>
#include <event2/thread.h>

#include "nfqspid.h"
#include "reject.h"

#define WORKER_BUDGET		256	/* messages per read callback, so
					   the timers get their turn */
#define WORKER_TICK_MS		200	/* ct_expire() and the audit summary */
#define WORKER_SUMMARY_MS	1000
#define WORKER_IFCACHE		64
#define WORKER_IFTTL_MS		5000	/* a renamed interface is seen after */
#define WORKER_AUDITLEN		512
#define WORKER_OWN		64	/* reject answers remembered */
#define WORKER_OWN_MS		2000	/* ... for this long */
#define WORKER_DEFER		64	/* ICMP errors waiting for the other
					   workers' answer */
#define WORKER_ASK_MS		50	/* ... at most this long */

/*
 * With --queue-balance the kernel hashes an ICMP error's own addresses
 * (router -> client), so the error often reaches another worker than the
 * connection it quotes; the hash is seeded at random, so the owner cannot
 * be computed.  A worker that does not know the quoted connection asks
 * every other one: the question (the parsed error) goes into their inbox
 * under a mutex and wakes them with event_active(); each looks it up in
 * its own table (ct_find_related()) and sends the question back as the
 * answer.  Errors are rare: only this path takes a lock.  The error's
 * verdict waits (nq's deferred verdicts) while the other packets go on.
 */
struct worker_ask {
	struct worker_ask	*next;
	struct worker		*from;
	uint32_t		 seq;		/* the asker's worker_defer */
	uint8_t			 answer;	/* 0 question, 1 answer */
	uint8_t			 found;
	uint32_t		 mark;
	struct pkt		 p;		/* data NULL */
};

/* An ICMP error waiting for the answers. */
struct worker_defer {
	uint32_t		 seq;		/* 0: free */
	uint32_t		 id;		/* the packet's, for nq */
	unsigned		 waiting;	/* answers still to come */
	uint64_t		 since;
	struct nq_packet	 np;		/* ifin, origlen */
	struct pkt		 p;
	struct verdict		 v;		/* INVALID, if nobody knows it */
	char			 in[IF_NAMESIZE], out[IF_NAMESIZE];
	uint8_t			 buf[NQ_COPY_RANGE];	/* p.data */
};

/*
 * A reject answer we sent.  When the host's OUTPUT chain is diverted too,
 * the answer comes back through our own queue; the tracker knows no
 * connection for it (the refused packet never made one) and would drop
 * it as INVALID.  So we remember what we sent and let it pass.
 */
struct worker_own {
	uint64_t	 when;		/* 0: empty */
	uint32_t	 hash;
	uint32_t	 len;
};

struct worker_ifname {
	uint32_t	 index;		/* 0: empty */
	uint64_t	 when;
	char		 name[IF_NAMESIZE];
};

struct worker {
	unsigned		 id;
	const struct config	*cfg;
	struct events		*events;	/* NULL: none */
	struct nq		*nq;
	struct ct_table		*ct;
	struct limit_table	*lt;
	int			 raw4;		/* reject's answers, -1 if none */
	int			 raw6;
	time_t			 rawwarn;	/* rate limit of send errors */

	struct event_base	*base;
	struct event		*rev;		/* the queue's socket */
	struct event		*tick;
	struct event		*callev;	/* worker_call() */
	struct event		*deadev;	/* in the main base */
	void			(*dead)(struct worker *, void *);
	void			*deadarg;

	pthread_t		 thread;
	int			 started;
	int			 running;	/* under mtx */
	int			 stopping;	/* atomic */
	int			 error;		/* atomic */

	/* worker_call() */
	pthread_mutex_t		 callers;	/* one caller at a time */
	pthread_mutex_t		 mtx;
	pthread_cond_t		 cond;
	void			(*callfn)(struct worker *, void *);
	void			*callarg;
	int			 calldone;

	struct worker_stats	 st;
	uint64_t		 beat;		/* atomic: ticks run */
	uint64_t		*rcount;	/* worker_rule_counters() */
	size_t			 nrcount;

	/* audit rate: a token bucket of cfg->log_rate a second */
	uint64_t		 tokens;	/* thousandths of a record */
	uint64_t		 refill_ms;
	uint64_t		 suppressed;	/* since the last summary */
	uint64_t		 summary_ms;
	/* what the last summary saw: a table full, errors */
	uint64_t		 seen_full, seen_early, seen_verr;

	struct worker_ifname	 ifc[WORKER_IFCACHE];
	struct worker_own	 own[WORKER_OWN];
	unsigned		 ownnext;
	uint64_t		 ownlast;	/* when the last was sent */

	/* ICMP errors about other workers' connections */
	struct worker		**peers;	/* every worker, this one too */
	unsigned		 npeers;	/* atomic: 0 until all started */
	pthread_mutex_t		 askmtx;	/* inbox */
	struct worker_ask	*inbox;
	struct event		*askev;
	struct event		*asktimer;	/* WORKER_ASK_MS after a question */
	struct worker_defer	 defer[WORKER_DEFER];
	unsigned		 ndefer;
	uint32_t		 askseq;
};

uint64_t
worker_now_ms(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ((uint64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000);
}

/*
 * The name of interface index, "" if none.  Cached, and looked up again
 * after a while so a renamed or recreated interface is seen; a miss asks
 * the kernel, so an interface created after start works at once.
 */
static const char *
worker_ifname(struct worker *w, uint32_t index, uint64_t now)
{
	struct worker_ifname	*e;

	if (index == 0)
		return ("");
	e = &w->ifc[index % WORKER_IFCACHE];
	if (e->index == index && now - e->when < WORKER_IFTTL_MS)
		return (e->name);
	if (if_indextoname(index, e->name) == NULL) {
		/* gone already: no rule can name it; do not cache */
		log_debug("%s: ifindex %u: %s", __func__, index,
		    strerror(errno));
		e->index = 0;
		e->name[0] = '\0';
		return (e->name);
	}
	e->index = index;
	e->when = now;
	return (e->name);
}

/* May this worker write one more audit record now? */
static int
worker_audit_ok(struct worker *w, uint64_t now)
{
	uint64_t	 cap = (uint64_t)w->cfg->log_rate * 1000;

	if (w->cfg->log_rate == 0)
		return (1);	/* rate = 0: no limit */
	if (now > w->refill_ms) {
		w->tokens += (now - w->refill_ms) * w->cfg->log_rate;
		if (w->tokens > cap)
			w->tokens = cap;
	}
	w->refill_ms = now;
	if (w->tokens < 1000)
		return (0);
	w->tokens -= 1000;
	return (1);
}

static void
worker_audit(struct worker *w, const struct verdict *v, const struct pkt *p,
    const char *in, const char *out, size_t len, uint64_t now)
{
	char	 buf[WORKER_AUDITLEN];

	if (!worker_audit_ok(w, now)) {
		w->suppressed++;
		w->st.suppressed++;
		return;
	}
	verdict_audit(v, p, in, out, len, buf, sizeof(buf));
	log_audit("%s", buf);
	w->st.audited++;
}

/* A record made elsewhere (a reload's re-judging), under the same rate. */
static void
worker_audit_line(void *arg, const char *line)
{
	struct worker	*w = arg;

	if (!worker_audit_ok(w, worker_now_ms())) {
		w->suppressed++;
		w->st.suppressed++;
		return;
	}
	log_audit("%s", line);
	w->st.audited++;
}

/*
 * Raw sockets for reject's answers (IPPROTO_RAW: we write the IP header).
 * Needs CAP_NET_RAW; the caller decides whether their absence matters.
 */
static int
worker_open_raw(struct worker *w)
{
	int	 one = 1;

	if (w->raw4 == -1 && (w->raw4 = socket(AF_INET,
	    SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_RAW)) == -1)
		return (-1);
	if (w->raw6 == -1) {
		if ((w->raw6 = socket(AF_INET6,
		    SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_RAW)) ==
		    -1)
			return (-1);
		/* implied by IPPROTO_RAW on current kernels; say it */
		(void)setsockopt(w->raw6, IPPROTO_IPV6, IPV6_HDRINCL, &one,
		    sizeof(one));
	}
	return (0);
}

/*
 * FNV-1a over the bytes the queue would copy of an answer, without what
 * the kernel fills in on the way out of an IPv4 raw socket (the id and
 * the header checksum).
 */
static uint32_t
worker_own_hash(const uint8_t *b, size_t n)
{
	uint32_t	 h = 2166136261u;
	size_t		 i;

	if (n > NQ_COPY_RANGE)
		n = NQ_COPY_RANGE;
	for (i = 0; i < n; i++) {
		if ((b[0] >> 4) == 4 && (i == 4 || i == 5 || i == 10 ||
		    i == 11))
			continue;
		h = (h ^ b[i]) * 16777619u;
	}
	return (h);
}

/* Is this locally sent packet an answer of ours?  Then it is let out. */
static int
worker_own_answer(struct worker *w, const struct nq_packet *np)
{
	struct worker_own	*o;
	uint32_t		 h = 0;
	unsigned		 i;
	int			 hashed = 0;

	/* most of the time none was sent lately: no hash, no search */
	if (w->ownlast == 0 || np->ts_ms > w->ownlast + WORKER_OWN_MS ||
	    np->ifin != 0 || np->len < 20 || np->malformed)
		return (0);
	for (i = 0; i < WORKER_OWN; i++) {
		o = &w->own[i];
		if (o->when == 0 || np->ts_ms > o->when + WORKER_OWN_MS ||
		    o->len != np->origlen)
			continue;
		if (!hashed) {
			h = worker_own_hash(np->data, np->len);
			hashed = 1;
		}
		if (o->hash == h) {
			o->when = 0;
			return (1);
		}
	}
	return (0);
}

/* Answer a packet a reject rule refused: TCP RST or port unreachable. */
static void
worker_reject(struct worker *w, const struct pkt *p, uint32_t ifin)
{
	uint8_t			 buf[REJECT_MAXLEN];
	struct sockaddr_in	 sin;
	struct sockaddr_in6	 sin6;
	struct timespec		 ts;
	size_t			 n;
	ssize_t			 r;

	if ((n = reject_build(p, buf, sizeof(buf))) == 0)
		return;		/* nothing may be sent for this one */
	if (p->family == AF_INET && w->raw4 != -1 && n >= 20) {
		memset(&sin, 0, sizeof(sin));
		sin.sin_family = AF_INET;
		memcpy(&sin.sin_addr, buf + 16, 4);
		r = sendto(w->raw4, buf, n, MSG_DONTWAIT,
		    (struct sockaddr *)&sin, sizeof(sin));
	} else if (p->family == AF_INET6 && w->raw6 != -1 && n >= 40) {
		memset(&sin6, 0, sizeof(sin6));
		sin6.sin6_family = AF_INET6;
		memcpy(&sin6.sin6_addr, buf + 24, 16);
		/* a link-local sender is reached where it came from */
		if (IN6_IS_ADDR_LINKLOCAL(&sin6.sin6_addr))
			sin6.sin6_scope_id = ifin;
		r = sendto(w->raw6, buf, n, MSG_DONTWAIT,
		    (struct sockaddr *)&sin6, sizeof(sin6));
	} else {
		errno = ENOTSOCK;
		r = -1;
	}
	if (r == (ssize_t)n) {
		struct worker_own	*o = &w->own[w->ownnext++ % WORKER_OWN];

		o->when = w->ownlast = worker_now_ms();
		o->hash = worker_own_hash(buf, n);
		o->len = (uint32_t)n;
		w->st.rejects++;
		return;
	}
	w->st.reject_errors++;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	if (ts.tv_sec != w->rawwarn) {
		w->rawwarn = ts.tv_sec;
		log_warn("worker %u: sending a reject answer", w->id);
	}
}

/*
 * The table's events: a DESTROY releases the connection's count under
 * its rule's conn_limit.  (Runs inside ct_*(): must not change it.)
 */
static void
worker_ct_event(int event, const struct ct_entry *e, void *arg)
{
	struct worker	*w = arg;


	limit_ct_event(event, e, w->lt);
	events_ct(w->events, w->id, event, e, w->cfg);
}

/*
 * Counters for cfg's rules and policy; none if memory is short.  After a
 * reload a rule keeps its counts if it keeps its name (looked for at the
 * same place, or anywhere while both files are of a modest size).
 */
static void
worker_rule_counters_new(struct worker *w, const struct config *old,
    const struct config *cfg)
{
	uint64_t	*k;
	size_t		 n = cfg->nrules + CT_STATE_MAX, i, j, from;

	if ((k = calloc(n, 2 * sizeof(uint64_t))) == NULL)
		log_warn("worker %u: rule counters", w->id);
	if (k != NULL && old != NULL && w->rcount != NULL &&
	    w->nrcount == old->nrules + CT_STATE_MAX) {
		for (i = 0; i < cfg->nrules; i++) {
			from = SIZE_MAX;
			if (i < old->nrules && strcmp(old->rules[i].name,
			    cfg->rules[i].name) == 0)
				from = i;
			else if (old->nrules * cfg->nrules <= 1024 * 1024)
				for (j = 0; j < old->nrules; j++)
					if (strcmp(old->rules[j].name,
					    cfg->rules[i].name) == 0) {
						from = j;
						break;
					}
			if (from != SIZE_MAX)
				memcpy(&k[2 * i], &w->rcount[2 * from],
				    2 * sizeof(uint64_t));
		}
		memcpy(&k[2 * cfg->nrules], &w->rcount[2 * old->nrules],
		    2 * CT_STATE_MAX * sizeof(uint64_t));
	}
	free(w->rcount);
	w->rcount = k;
	w->nrcount = k != NULL ? n : 0;
}

const uint64_t *
worker_rule_counters(struct worker *w, size_t *n)
{
	*n = w->nrcount;
	return (w->rcount);
}

/*
 * Once a summary interval at most: the table was full (connections
 * refused, or others evicted to make room) or the kernel refused
 * verdicts.  The counts tell how many since the last record.
 */
static void
worker_trouble(struct worker *w)
{
	struct ct_stats	 cs;
	struct nq_stats	 ns;

	ct_get_stats(w->ct, &cs);
	nq_get_stats(w->nq, &ns);
	if (cs.insert_failed != w->seen_full)
		log_warnx("worker %u: connection table full (%zu of %u): %llu "
		    "new connections refused (table-full)", w->id,
		    ct_count(w->ct), w->cfg->ct.max,
		    (unsigned long long)(cs.insert_failed - w->seen_full));
	if (cs.early_drop != w->seen_early)
		log_warnx("worker %u: connection table full (%zu of %u): %llu "
		    "connections evicted for new ones", w->id,
		    ct_count(w->ct), w->cfg->ct.max,
		    (unsigned long long)(cs.early_drop - w->seen_early));
	if (ns.verdict_errors != w->seen_verr)
		log_warnx("worker %u: queue %u: the kernel refused %llu "
		    "verdicts", w->id, nq_queue(w->nq),
		    (unsigned long long)(ns.verdict_errors - w->seen_verr));
	w->seen_full = cs.insert_failed;
	w->seen_early = cs.early_drop;
	w->seen_verr = ns.verdict_errors;
}

static void
worker_summary(struct worker *w, uint64_t now)
{
	if (now - w->summary_ms < WORKER_SUMMARY_MS)
		return;
	w->summary_ms = now;
	worker_trouble(w);
	if (w->suppressed == 0)
		return;
	log_audit("suppressed %llu audit records over the rate of %u a "
	    "second (worker %u)", (unsigned long long)w->suppressed,
	    w->cfg->log_rate, w->id);
	w->suppressed = 0;
}

static int	 worker_ask(struct worker *, const struct nq_packet *,
		    const struct pkt *, const struct verdict *, const char *,
		    const char *);
static void	 worker_ask_timer(struct worker *);
static void	 worker_decided(struct worker *, const struct nq_packet *,
		    const struct pkt *, const struct verdict *, const char *,
		    const char *, uint64_t, struct nq_verdict *);

/* One packet: the verdict is what nq sends back for it. */
static void
worker_packet(struct worker *w, const struct nq_packet *np,
    const struct ct_ahead *a, struct nq_verdict *nv)
{
	struct pkt	 p;
	struct verdict	 v;
	const char	*in, *out;
	uint64_t	 now = np->ts_ms;

	if (worker_own_answer(w, np)) {
		/* neither tracked nor counted as a decision */
		nv->accept = 1;
		return;
	}
	in = worker_ifname(w, np->ifin, now);
	out = worker_ifname(w, np->ifout, now);
	verdict_packet_ahead(w->cfg, w->ct, w->lt, np->data, np->len, in, out,
	    np->hook, 0, now, a, &p, &v);
	if (verdict_needs_owner(&p, &v) && worker_ask(w, np, &p, &v, in,
	    out) == 0) {
		nv->defer = 1;	/* worker_answered() gives the verdict */
		return;
	}
	worker_decided(w, np, &p, &v, in, out, now, nv);
}

/* A batch being decided, for verdict_batch()'s callbacks. */
struct worker_bctx {
	struct worker		*w;
	const struct nq_packet	*np;
	struct nq_verdict	*nv;
};

/* The first look at packet k of a batch: its hash, its bucket on the way
   (none for a malformed one: nq.c hands it over with no bytes). */
static void
worker_ahead(void *arg, size_t k, struct ct_ahead *a)
{
	struct worker_bctx	*b = arg;

	verdict_ahead(b->w->ct, b->np[k].data, b->np[k].len, a);
}

static void
worker_decide(void *arg, size_t k, const struct ct_ahead *a)
{
	struct worker_bctx	*b = arg;

	worker_packet(b->w, &b->np[k], a, &b->nv[k]);
}

/*
 * A batch read together, decided in verdict_batch()'s pipeline (which
 * tests/bench/engine.c measures): each packet is hashed once, and the
 * cache misses of a large table overlap.
 */
static void
worker_batch(void *arg, const struct nq_packet *np, struct nq_verdict *nv,
    size_t n)
{
	struct worker_bctx	 b = { arg, np, nv };
	struct ct_ahead		 a[NQ_BATCH];
	size_t			 k;

	if (n > NQ_BATCH) {
		/* not from nq.c: one at a time */
		for (k = 0; k < n; k++)
			worker_packet(b.w, &np[k], NULL, &nv[k]);
		return;
	}
	verdict_batch(b.w->ct, n, a, worker_ahead, worker_decide, &b);
}

/* A packet decided: count it, answer it (reject), audit it; nv for nq. */
static void
worker_decided(struct worker *w, const struct nq_packet *np,
    const struct pkt *p, const struct verdict *v, const char *in,
    const char *out, uint64_t now, struct nq_verdict *nv)
{
	w->st.received++;
	if (v->action == RULE_ACCEPT)
		w->st.accepted++;
	else
		w->st.dropped++;
	if (v->state == CT_INVALID) {
		w->st.invalid++;
		if (v->reason < REASON_MAX)
			w->st.reasons[v->reason]++;
	} else if (v->state == CT_RELATED)
		w->st.related++;

	/* RULE_REJECT drops; the reset or unreachable is sent apart
	   (monitor mode: action is accept, nothing is sent). */
	nv->accept = v->action == RULE_ACCEPT;
	nv->set_mark = v->set_mark;
	nv->mark = v->mark;
	if (v->action == RULE_REJECT)
		worker_reject(w, p, np->ifin);

	if (v->log)
		worker_audit(w, v, p, in, out, np->origlen, now);

	/* where the packet was decided: its rule, or [policy] state */
	if (w->rcount != NULL) {
		size_t	 i = v->rule != NULL ? v->rule->index :
		    w->cfg->nrules + v->state;

		if (i < w->nrcount) {
			w->rcount[2 * i]++;
			w->rcount[2 * i + 1] += np->origlen;
		}
	}
}

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
 * Ask the other workers about the ICMP error p; 0 if its verdict now
 * waits for their answers, -1 if it is decided as it is (one worker,
 * stopping, too many waiting already, no memory).
 */
static int
worker_ask(struct worker *w, const struct nq_packet *np, const struct pkt *p,
    const struct verdict *v, const char *in, const char *out)
{
	struct worker_defer	*d = NULL;
	struct worker_ask	*a;
	unsigned		 i, n;

	n = __atomic_load_n(&w->npeers, __ATOMIC_ACQUIRE);
	if (n < 2 || w->ndefer == WORKER_DEFER || np->len > sizeof(d->buf) ||
	    __atomic_load_n(&w->stopping, __ATOMIC_SEQ_CST))
		return (-1);
	for (i = 0; i < WORKER_DEFER; i++)
		if (w->defer[i].seq == 0) {
			d = &w->defer[i];
			break;
		}
	if (d == NULL)
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
	d->id = np->id;
	d->since = np->ts_ms;
	d->np = *np;
	d->np.data = d->buf;
	memcpy(d->buf, np->data, np->len);
	d->p = *p;
	d->p.data = d->buf;
	d->v = *v;
	snprintf(d->in, sizeof(d->in), "%s", in);
	snprintf(d->out, sizeof(d->out), "%s", out);
	if (w->ndefer++ == 0)
		worker_ask_timer(w);
	return (0);
}

/* The waiting error d is decided: RELATED if found, else as it was. */
static void
worker_answered(struct worker *w, struct worker_defer *d, int found,
    uint32_t mark)
{
	struct nq_verdict	 nv;

	memset(&nv, 0, sizeof(nv));
	if (found)
		verdict_related(w->cfg, &d->p, d->in, d->out, mark, &d->v);
	worker_decided(w, &d->np, &d->p, &d->v, d->in, d->out,
	    worker_now_ms(), &nv);
	(void)nq_verdict(w->nq, d->id, &nv);
	d->seq = 0;
	w->ndefer--;
}

/* Errors waited on for longer than age ms (0: all) stay as they were. */
static void
worker_answer_late(struct worker *w, uint64_t now, uint64_t age)
{
	unsigned	 i;

	for (i = 0; i < WORKER_DEFER && w->ndefer > 0; i++)
		if (w->defer[i].seq != 0 && (age == 0 ||
		    now - w->defer[i].since >= age)) {
			log_debug("%s: worker %u: no answer for packet %u",
			    __func__, w->id, w->defer[i].id);
			worker_answered(w, &w->defer[i], 0, 0);
		}
}

static void
worker_ask_timer(struct worker *w)
{
	struct timeval	 tv = { 0, (WORKER_ASK_MS + 1) * 1000 };

	(void)evtimer_add(w->asktimer, &tv);
}

/* Errors nobody answered in time stay as they were. */
static void
worker_ask_timeout(evutil_socket_t fd, short events, void *arg)
{
	struct worker	*w = arg;

	worker_answer_late(w, worker_now_ms(), WORKER_ASK_MS);
	if (w->ndefer > 0)
		worker_ask_timer(w);
}

/* The inbox: questions from other workers, answers to ours. */
static void
worker_ask_cb(evutil_socket_t fd, short events, void *arg)
{
	struct worker		*w = arg;
	struct worker_ask	*a, *next;
	struct worker_defer	*d;
	unsigned		 i;

	pthread_mutex_lock(&w->askmtx);
	a = w->inbox;
	w->inbox = NULL;
	pthread_mutex_unlock(&w->askmtx);
	for (; a != NULL; a = next) {
		next = a->next;
		if (!a->answer) {
			a->found = (uint8_t)ct_find_related(w->ct, &a->p,
			    &a->mark);
			a->answer = 1;
			worker_post(a->from, a);
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

void
worker_set_events(struct worker *w, struct events *ev)
{
	w->events = ev;
}

static void
worker_read(evutil_socket_t fd, short events, void *arg)
{
	struct worker	*w = arg;

	if (nq_recv_batch(w->nq, WORKER_BUDGET, worker_batch, w) == -1) {
		__atomic_store_n(&w->error, errno, __ATOMIC_SEQ_CST);
		log_warn("worker %u: lost queue %u", w->id, nq_queue(w->nq));
		event_base_loopbreak(w->base);
	}
}

static void
worker_tick(evutil_socket_t fd, short events, void *arg)
{
	struct worker	*w = arg;
	uint64_t	 now = worker_now_ms();

	ct_expire(w->ct, now);
	limit_expire(w->lt, now);
	worker_answer_late(w, now, WORKER_ASK_MS);
	worker_summary(w, now);
	__atomic_add_fetch(&w->beat, 1, __ATOMIC_RELAXED);
}

static void
worker_call_cb(evutil_socket_t fd, short events, void *arg)
{
	struct worker	*w = arg;
	void		(*fn)(struct worker *, void *);
	void		*fnarg;

	pthread_mutex_lock(&w->mtx);
	fn = w->callfn;
	fnarg = w->callarg;
	pthread_mutex_unlock(&w->mtx);
	if (fn != NULL)
		fn(w, fnarg);
	pthread_mutex_lock(&w->mtx);
	w->callfn = NULL;
	w->calldone = 1;
	pthread_cond_broadcast(&w->cond);
	pthread_mutex_unlock(&w->mtx);
}

int
worker_call(struct worker *w, void (*fn)(struct worker *, void *), void *arg)
{
	int	 ret;

	if (!w->started)
		return (-1);
	if (pthread_equal(pthread_self(), w->thread)) {
		fn(w, arg);
		return (0);
	}
	pthread_mutex_lock(&w->callers);
	pthread_mutex_lock(&w->mtx);
	if (!w->running) {
		pthread_mutex_unlock(&w->mtx);
		pthread_mutex_unlock(&w->callers);
		return (-1);
	}
	w->callfn = fn;
	w->callarg = arg;
	w->calldone = 0;
	/* thread-safe: the base was made with evthread_use_pthreads() */
	event_active(w->callev, EV_READ, 0);
	while (!w->calldone && w->running)
		pthread_cond_wait(&w->cond, &w->mtx);
	ret = w->calldone ? 0 : -1;
	w->callfn = NULL;
	pthread_mutex_unlock(&w->mtx);
	pthread_mutex_unlock(&w->callers);
	return (ret);
}

struct ct_table *
worker_ct(struct worker *w)
{
	return (w->ct);
}

const struct config *
worker_config(struct worker *w)
{
	return (w->cfg);
}

unsigned
worker_id(const struct worker *w)
{
	return (w->id);
}

uint64_t
worker_heartbeat(const struct worker *w)
{
	return (__atomic_load_n(&w->beat, __ATOMIC_RELAXED));
}

int
worker_error(const struct worker *w)
{
	return (__atomic_load_n(&w->error, __ATOMIC_SEQ_CST));
}

void
worker_get_stats(struct worker *w, struct worker_stats *s)
{
	*s = w->st;
	nq_get_stats(w->nq, &s->nq);
	ct_get_stats(w->ct, &s->ct);
	s->conns = ct_count(w->ct);
	limit_get_stats(w->lt, &s->limit);
	s->sources = limit_count(w->lt);
}

/* The counter structs are uint64_t only, so they add up word by word. */
_Static_assert(sizeof(struct nq_stats) % sizeof(uint64_t) == 0, "nq_stats");
_Static_assert(sizeof(struct ct_stats) % sizeof(uint64_t) == 0, "ct_stats");
_Static_assert(sizeof(struct limit_stats) % sizeof(uint64_t) == 0,
    "limit_stats");

static void
add_words(void *to, const void *from, size_t size)
{
	uint64_t	*t = to;
	const uint64_t	*f = from;
	size_t		 i;

	for (i = 0; i < size / sizeof(uint64_t); i++)
		t[i] += f[i];
}

void
worker_stats_add(struct worker_stats *t, const struct worker_stats *s)
{
	size_t	 i;

	t->received += s->received;
	t->accepted += s->accepted;
	t->dropped += s->dropped;
	t->invalid += s->invalid;
	t->related += s->related;
	t->audited += s->audited;
	t->suppressed += s->suppressed;
	add_words(&t->nq, &s->nq, sizeof(t->nq));
	add_words(&t->ct, &s->ct, sizeof(t->ct));
	t->conns += s->conns;
	t->rejects += s->rejects;
	t->reject_errors += s->reject_errors;
	add_words(&t->limit, &s->limit, sizeof(t->limit));
	t->sources += s->sources;
	for (i = 0; i < REASON_MAX; i++)
		t->reasons[i] += s->reasons[i];
}

struct snapshot {
	struct worker_stats	*s;
	uint32_t		*ctmax;
};

static void
worker_snapshot_fn(struct worker *w, void *arg)
{
	struct snapshot	*a = arg;

	worker_get_stats(w, a->s);
	if (a->ctmax != NULL)
		*a->ctmax = w->cfg->ct.max;
}

int
worker_snapshot(struct worker *w, struct worker_stats *s, uint32_t *ctmax)
{
	struct snapshot	 a = { s, ctmax };

	memset(s, 0, sizeof(*s));
	return (worker_call(w, worker_snapshot_fn, &a));
}

struct worker *
worker_new(unsigned id, const struct config *cfg, char *err, size_t errlen)
{
	struct worker	*w;
	unsigned	 queue = cfg->queue + id;

	if (queue > UINT16_MAX) {
		snprintf(err, errlen, "queue %u: NFQUEUE numbers end at %u",
		    queue, UINT16_MAX);
		return (NULL);
	}
	if ((w = calloc(1, sizeof(*w))) == NULL) {
		snprintf(err, errlen, "worker %u: %s", id, strerror(errno));
		return (NULL);
	}
	w->id = id;
	w->cfg = cfg;
	w->raw4 = w->raw6 = -1;
	pthread_mutex_init(&w->callers, NULL);
	pthread_mutex_init(&w->askmtx, NULL);
	pthread_mutex_init(&w->mtx, NULL);
	pthread_cond_init(&w->cond, NULL);
	if ((w->ct = ct_new(&cfg->ct)) == NULL) {
		snprintf(err, errlen, "worker %u: connection table: %s", id,
		    strerror(errno));
		worker_free(w);
		return (NULL);
	}
	if ((w->lt = limit_new(LIMIT_SOURCES_DEFAULT)) == NULL) {
		snprintf(err, errlen, "worker %u: limit table: %s", id,
		    strerror(errno));
		worker_free(w);
		return (NULL);
	}
	ct_set_event_cb(w->ct, worker_ct_event, w);
	worker_rule_counters_new(w, NULL, cfg);
	/* Opened whatever the rules say, so that a reload may add reject
	   rules after the privileges are gone (CAP_NET_RAW is kept). */
	if (worker_open_raw(w) == -1 && verdict_has_reject(cfg)) {
		snprintf(err, errlen, "worker %u: raw socket for reject rules "
		    "(CAP_NET_RAW is needed): %s", id, strerror(errno));
		worker_free(w);
		return (NULL);
	}
	if ((w->nq = nq_open(queue, cfg->queue_maxlen, cfg->fail_open)) ==
	    NULL) {
		if (errno == EBUSY)
			snprintf(err, errlen, "queue %u is in use by another "
			    "process", queue);
		else
			snprintf(err, errlen, "queue %u: cannot bind: %s",
			    queue, nq_strerror(errno));
		worker_free(w);
		return (NULL);
	}
	return (w);
}

static void *
worker_main(void *arg)
{
	struct worker	*w = arg;

	log_debug("%s: worker %u reading queue %u", __func__, w->id,
	    nq_queue(w->nq));
	/* packets that came with the bind's answer wait in nq */
	event_active(w->rev, EV_READ, 0);
	event_base_dispatch(w->base);

	pthread_mutex_lock(&w->mtx);
	w->running = 0;
	pthread_cond_broadcast(&w->cond);
	pthread_mutex_unlock(&w->mtx);
	if (!__atomic_load_n(&w->stopping, __ATOMIC_SEQ_CST))
		event_active(w->deadev, EV_READ, 0);
	return (NULL);
}

static void
worker_dead_cb(evutil_socket_t fd, short events, void *arg)
{
	struct worker	*w = arg;

	if (w->dead != NULL)
		w->dead(w, w->deadarg);
}

int
worker_start(struct worker *w, struct event_base *mainbase,
    void (*dead)(struct worker *, void *), void *arg)
{
	struct timeval	 tv = { 0, WORKER_TICK_MS * 1000 };
	sigset_t	 all, old;
	int		 rc;

	w->dead = dead;
	w->deadarg = arg;
	if ((w->base = event_base_new()) == NULL ||
	    (w->rev = event_new(w->base, nq_fd(w->nq), EV_READ | EV_PERSIST,
	    worker_read, w)) == NULL ||
	    (w->tick = event_new(w->base, -1, EV_PERSIST, worker_tick,
	    w)) == NULL ||
	    (w->callev = event_new(w->base, -1, 0, worker_call_cb,
	    w)) == NULL ||
	    (w->askev = event_new(w->base, -1, 0, worker_ask_cb,
	    w)) == NULL ||
	    (w->asktimer = evtimer_new(w->base, worker_ask_timeout,
	    w)) == NULL ||
	    (w->deadev = event_new(mainbase, -1, 0, worker_dead_cb,
	    w)) == NULL)
		return (-1);
	if (event_add(w->rev, NULL) == -1 || event_add(w->tick, &tv) == -1)
		return (-1);
	w->refill_ms = w->summary_ms = worker_now_ms();
	w->tokens = (uint64_t)w->cfg->log_rate * 1000;

	/* the main thread owns the signals */
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	w->running = 1;
	rc = pthread_create(&w->thread, NULL, worker_main, w);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc != 0) {
		w->running = 0;
		errno = rc;
		return (-1);
	}
	w->started = 1;
	return (0);
}

/* In the worker: answer what is queued, then leave the loop. */
static void
worker_stop_fn(struct worker *w, void *arg)
{
	int	 n;

	if (nq_quiesce(w->nq) == -1)
		log_warn("worker %u: queue %u: stop queueing", w->id,
		    nq_queue(w->nq));
	n = nq_recv_batch(w->nq, 0, worker_batch, w);
	/* errors still waiting for an answer get none now */
	worker_answer_late(w, 0, 0);
	if (n == -1)
		log_warn("worker %u: queue %u: last read", w->id,
		    nq_queue(w->nq));
	else
		log_debug("%s: worker %u: %d packets answered at stop",
		    __func__, w->id, n);
	event_base_loopbreak(w->base);
}

void
worker_stop(struct worker *w)
{
	if (!w->started)
		return;
	__atomic_store_n(&w->stopping, 1, __ATOMIC_SEQ_CST);
	if (worker_call(w, worker_stop_fn, NULL) == -1)
		log_debug("%s: worker %u had stopped already", __func__,
		    w->id);
	pthread_join(w->thread, NULL);
	w->started = 0;
}

void
worker_free(struct worker *w)
{
	if (w == NULL)
		return;
	if (w->started)
		worker_stop(w);
	if (w->deadev != NULL)
		event_free(w->deadev);
	if (w->callev != NULL)
		event_free(w->callev);
	if (w->askev != NULL)
		event_free(w->askev);
	if (w->asktimer != NULL)
		event_free(w->asktimer);
	while (w->inbox != NULL) {
		struct worker_ask	*a = w->inbox;

		w->inbox = a->next;
		free(a);
	}
	if (w->tick != NULL)
		event_free(w->tick);
	if (w->rev != NULL)
		event_free(w->rev);
	if (w->base != NULL)
		event_base_free(w->base);
	nq_close(w->nq);
	if (w->ct != NULL)
		ct_free(w->ct);
	if (w->lt != NULL)
		limit_free(w->lt);
	if (w->raw4 != -1)
		close(w->raw4);
	if (w->raw6 != -1)
		close(w->raw6);
	free(w->rcount);
	pthread_cond_destroy(&w->cond);
	pthread_mutex_destroy(&w->mtx);
	pthread_mutex_destroy(&w->callers);
	pthread_mutex_destroy(&w->askmtx);
	free(w);
}

static void
worker_reload_fn(struct worker *w, void *arg)
{
	const struct config	*cfg = arg;
	size_t			 ended;

	/* a waiting verdict points at the old rules: decide it now */
	worker_answer_late(w, 0, 0);
	worker_rule_counters_new(w, w->cfg, cfg);
	w->cfg = cfg;
	ct_set_config(w->ct, &cfg->ct);
	/* What the new rules no longer accept ends now, not at expiry. */
	ended = verdict_rejudge(cfg, w->ct, w->lt, worker_now_ms(),
	    worker_audit_line, w);
	if (ended > 0)
		log_info("worker %u: %zu connections the new rules refuse %s",
		    w->id, ended, cfg->mode == MODE_MONITOR ?
		    "would have ended" : "ended");
	if (verdict_has_reject(cfg) && worker_open_raw(w) == -1)
		log_warn("worker %u: reject rules will drop without an "
		    "answer: raw socket", w->id);
	if (nq_set_params(w->nq, cfg->queue_maxlen, cfg->fail_open) == -1)
		log_warn("worker %u: queue %u: new parameters", w->id,
		    nq_queue(w->nq));
	if (w->tokens > (uint64_t)cfg->log_rate * 1000)
		w->tokens = (uint64_t)cfg->log_rate * 1000;
}

int
worker_reload(struct worker *w, const struct config *cfg)
{
	if (!w->started) {
		/* not running: no other thread touches it */
		worker_reload_fn(w, (void *)cfg);
		return (0);
	}
	if (worker_call(w, worker_reload_fn, (void *)cfg) == -1) {
		/* the thread has left its loop and reads nothing more,
		   but the old pointer is about to be freed */
		w->cfg = cfg;
		return (-1);
	}
	return (0);
}
