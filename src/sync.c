/*
 * sync.c - the sync thread: connection-state sync with the HA peer over
 * its own UDP socket (after conntrackd's FTFW and OpenBSD's pfsync)
 *
 * Copyright (C) 2026 The nfqspid authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * The master's workers queue their tables' changes in rings of their
 * own (sync_ct(), never waiting); this thread drains them every flush
 * ms, or as soon as a ring holds a datagram's worth, into UPDATE
 * messages of the reliable stream (syncseq.h: sequence numbers, NACKs,
 * resends from a bounded ring).  When the stream cannot serve the peer
 * (a ring full, a resend the ring no longer holds, the peer asking) it
 * sends the whole table instead: BULK_START, the tables slice by slice
 * (worker_call()), BULK_END, no faster than the peer acknowledges.
 *
 * The backup applies what comes (worker_sync_apply() in the worker's
 * thread: ct_import(), rule names to local indexes, conn_limit counts)
 * and, from its start on or after `sync role backup`, asks for the whole
 * table until it has it: only then is it ready.  A master leaves what
 * the peer sends alone.  Anything forged, replayed, malformed, of
 * another version or not from the peer is dropped, counted and audited
 * (at most one line per LOG_RL_SECS).
 *
 * With [sync] the daemon runs one worker (config.c): the kernel's
 * --queue-balance hash is seeded at random on each node, so a backup
 * cannot know which of its workers a synced flow's packets will reach.
 */
#include "autoconf.h"		/* first: _GNU_SOURCE (pthread_setname_np) */

#include <sys/types.h>
#include <sys/socket.h>
#include <netinet/in.h>

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "sync_int.h"
#include "clock.h"

/* ---- the workers' side ------------------------------------------------- */

int
sync_sending(const struct sync *s)
{
	return (__atomic_load_n(&s->sending, __ATOMIC_RELAXED));
}

uint64_t
sync_room(struct sync *s, unsigned wid)
{
	struct sync_ring *r = &s->rings[wid];

	return (s->ringsz - (__atomic_load_n(&r->head, __ATOMIC_RELAXED) -
	    __atomic_load_n(&r->tail, __ATOMIC_ACQUIRE)));
}

/*
 * In a worker's thread: wake the sync thread unless it is woken already.
 * The flag shares a line with sending, which every worker reads on
 * every change; an exchange takes that line even when it finds the flag
 * set, so a ring past half full would take it from all the others on
 * each change.  A load leaves it shared, and only the worker that sets
 * the flag writes it.  A flag seen set just after sync_pump() cleared
 * it loses no change: the next one looks again, and the flush drains
 * the ring anyway.
 */
static void
sync_wake(struct sync *s)
{
	if (__atomic_load_n(&s->wake_pending, __ATOMIC_SEQ_CST) ||
	    __atomic_exchange_n(&s->wake_pending, 1, __ATOMIC_SEQ_CST))
		return;
	event_active(s->wakeev, EV_READ, 0);
}

void
sync_ct(struct sync *s, unsigned wid, int event, const struct ct_table *t,
    const struct ct_entry *e, const struct config *cfg)
{
	struct sync_ring *r;
	struct sync_rec	*rec;
	uint64_t	 head, tail;
	uint32_t	 ri;

	if (!sync_sending(s) || wid >= s->nworkers)
		return;
	r = &s->rings[wid];
	head = __atomic_load_n(&r->head, __ATOMIC_RELAXED);
	tail = __atomic_load_n(&r->tail, __ATOMIC_ACQUIRE);
	if (head - tail >= s->ringsz) {
		__atomic_add_fetch(&r->lost, 1, __ATOMIC_RELAXED);
		return;
	}
	rec = &s->rings[wid].rec[head & (s->ringsz - 1)];
	ct_export(t, e, &rec->s);
	rec->op = event == CT_EVENT_DESTROY ? SYNC_OP_DELETE : SYNC_OP_UPSERT;
	rec->rule[0] = '\0';
	if ((ri = ct_entry_rule(e)) < cfg->nrules)
		snprintf(rec->rule, sizeof(rec->rule), "%s",
		    cfg->rules[ri].name);
	__atomic_store_n(&r->head, head + 1, __ATOMIC_RELEASE);
	__atomic_add_fetch(&r->queued, 1, __ATOMIC_RELAXED);
	/* half full: drain before the flush, so nothing is lost */
	if (head + 1 - tail >= s->wake_at && s->wakeev != NULL)
		sync_wake(s);
}

_Static_assert(sizeof(struct sync_ring) == 2 * CACHELINE &&
    offsetof(struct sync_ring, tail) == CACHELINE,
    "a worker's ring: its end and the sync thread's, a line each");

/* ---- sending ----------------------------------------------------------- */

static void
sync_send(const void *buf, size_t len, void *arg)
{
	struct sync	*s = arg;

	if (sendto(s->fd, buf, len, 0, (const struct sockaddr *)&s->cfg.peer,
	    s->cfg.addrlen) == -1)
		s->st.send_errors++;
}

static void
sync_control(struct sync *s, uint8_t type)
{
	size_t		 len;

	if ((len = sync_seq_control(s->seq, type, s->ctlbuf,
	    sizeof(s->ctlbuf))) > 0)
		sync_send(s->ctlbuf, len, s);
}

/* The UPDATE being filled goes out. */
static void
sync_seal(struct sync *s)
{
	size_t		 len;

	if (!s->open)
		return;
	s->open = 0;
	if (s->msg.count == 0)
		return;
	if ((len = sync_seq_seal(s->seq, &s->msg)) > 0) {
		sync_send(s->msg.buf, len, s);
		s->st.sent++;
	}
}

/* A data message without records (BULK_START, BULK_END). */
static void
sync_mark(struct sync *s, uint8_t type)
{
	struct sync_msg	 m;
	uint8_t		*buf;
	size_t		 cap, len;

	sync_seal(s);
	buf = sync_seq_buf(s->seq, &cap);
	if (sync_msg_init(&m, buf, cap, type) == -1)
		return;
	if ((len = sync_seq_seal(s->seq, &m)) > 0) {
		sync_send(buf, len, s);
		s->st.sent++;
	}
}

static void
sync_add(struct sync *s, const struct sync_rec *r)
{
	uint8_t		*buf;
	size_t		 cap;
	int		 tries, rc;

	for (tries = 0; tries < 2; tries++) {
		if (!s->open) {
			buf = sync_seq_buf(s->seq, &cap);
			if (sync_msg_init(&s->msg, buf, cap,
			    SYNC_T_UPDATE) == -1)
				return;
			s->open = 1;
		}
		rc = r->op == SYNC_OP_DELETE ?
		    sync_msg_add_delete(&s->msg, &r->s.k) :
		    sync_msg_add_conn(&s->msg, &r->s, r->rule);
		if (rc == 0 || errno != ENOSPC)
			return;		/* EINVAL: our own table is sane */
		sync_seal(s);
	}
}

static void
sync_bulk_begin(struct sync *s)
{
	sync_mark(s, SYNC_T_BULK_START);
	s->tx.active = 1;
	s->tx.wi = 0;
	s->tx.cursor = 0;
	s->tx.records = 0;
	s->tx.total = 0;
	s->st.bulks_sent++;
	log_debug("%s: sending the whole table", __func__);
}

/*
 * The next slices of the bulk, as far as the peer's window lets them: a
 * slice never makes more messages than the window has room for (less
 * two: the UPDATE being filled, BULK_END), or what the peer loses of it
 * could not be resent, and a small resend ring would never see a bulk
 * through.
 */
static void
sync_bulk_step(struct sync *s)
{
	struct sync_slice sl;
	size_t		 i, win, max;
	/* records a message holds at least (the longest rule names) */
	size_t		 per = (s->cfg.mtu - SYNC_MSG_MIN) / SYNC_REC_MAX;

	while (s->tx.active && (win = sync_seq_window(s->seq)) > 2) {
		max = (win - 2) * (per > 0 ? per : 1);
		if (s->tx.wi >= s->nworkers) {
			sync_mark(s, SYNC_T_BULK_END);
			s->tx.active = 0;
			return;
		}
		memset(&sl, 0, sizeof(sl));
		sl.rec = s->slice;
		sl.max = max < SYNC_SLICE ? max : SYNC_SLICE;
		sl.cursor = s->tx.cursor;
		if (worker_call(s->workers[s->tx.wi], worker_sync_slice,
		    &sl) == -1)
			sl.cursor = 0;	/* stopping: nothing more from it */
		if (s->tx.cursor == 0)
			s->tx.total += sl.count;
		for (i = 0; i < sl.n; i++)
			sync_add(s, &s->slice[i]);
		s->tx.records += sl.n;
		s->tx.cursor = sl.cursor;
		if (sl.cursor == 0)
			s->tx.wi++;
	}
}

static uint32_t
sync_tuple_hash(const struct ct_tuple *k)
{
	const uint8_t	*p = (const uint8_t *)k;
	uint32_t	 h = 2166136261u;
	size_t		 i;

	for (i = 0; i < sizeof(*k); i++) {
		h ^= p[i];
		h *= 16777619u;
	}
	return (h ^ h >> 15);
}

/*
 * A ring's changes into UPDATEs.  A connection changed twice in one
 * drain goes once, as it is now: a short connection's NEW, its states
 * and its end within a flush are one record (ct_export()ed tuples are
 * zeroed, so they compare whole).
 */
static void
sync_drain(struct sync *s, struct sync_ring *r)
{
	uint64_t	 cap = 2 * s->ringsz, mask = s->ringsz - 1;
	uint64_t	 head, tail, i, j, h;
	struct sync_rec	*a;

	head = __atomic_load_n(&r->head, __ATOMIC_ACQUIRE);
	tail = __atomic_load_n(&r->tail, __ATOMIC_RELAXED);
	for (i = tail; i != head; i++) {
		a = &r->rec[i & mask];
		s->gone[(i & mask) / 8] &= (uint8_t)~(1u << (i & 7));
		for (h = sync_tuple_hash(&a->s.k) & (cap - 1);
		    (j = s->coal[h]) != 0; h = (h + 1) & (cap - 1))
			if (memcmp(&r->rec[(j - 1) & mask].s.k, &a->s.k,
			    sizeof(a->s.k)) == 0) {
				s->gone[((j - 1) & mask) / 8] |=
				    (uint8_t)(1u << ((j - 1) & 7));
				s->st.coalesced++;
				break;
			}
		s->coal[h] = i + 1;
	}
	for (i = tail; i != head; i++)
		if (!(s->gone[(i & mask) / 8] & (1u << (i & 7))))
			sync_add(s, &r->rec[i & mask]);
	/* the slots used, cleared for the next drain */
	for (i = tail; i != head; i++)
		for (h = sync_tuple_hash(&r->rec[i & mask].s.k) & (cap - 1);
		    s->coal[h] != 0; h = (h + 1) & (cap - 1))
			s->coal[h] = 0;
	__atomic_store_n(&r->tail, head, __ATOMIC_RELEASE);
}

/*
 * The workers' changes into UPDATEs, a bulk on, and whatever waits
 * sealed: nothing stays longer than one flush.
 */
void
sync_pump(struct sync *s, uint64_t now)
{
	struct sync_ring *r;
	uint64_t	 lost = 0, n;
	unsigned	 i;

	/* cleared only if set: the workers read its line (sync_wake()) */
	if (__atomic_load_n(&s->wake_pending, __ATOMIC_SEQ_CST))
		__atomic_store_n(&s->wake_pending, 0, __ATOMIC_SEQ_CST);
	for (i = 0; i < s->nworkers; i++) {
		r = &s->rings[i];
		sync_drain(s, r);
		/* the worker's count only grows: we never write its line */
		n = __atomic_load_n(&r->lost, __ATOMIC_RELAXED);
		lost += n - r->lost_seen;
		r->lost_seen = n;
	}
	if (lost > 0) {
		/* the peer missed changes: it gets everything */
		s->st.lost += lost;
		sync_bulk_begin(s);
	}
	sync_bulk_step(s);
	sync_seal(s);
	(void)now;
}

/* ---- receiving --------------------------------------------------------- */

/* Until the table is in: sync_alive() asks again. */
static void
sync_ask_table(struct sync *s, uint64_t now)
{
	s->rx.asked = 1;
	s->rx.asked_ms = now;
	sync_control(s, SYNC_T_BULK_REQ);
}

/* A bulk half in that will not end (we are master now, or the peer
   restarted): no sweep will end the workers' resync either. */
static void
sync_rx_drop(struct sync *s)
{
	unsigned	 i;

	if (!s->rx.active)
		return;
	s->rx.active = 0;
	for (i = 0; i < s->nworkers; i++)
		(void)worker_call(s->workers[i], worker_sync_resync_end, NULL);
}

/* The peer's whole table is in: ours that it did not bring end (their
   DELETE was lost, or came while we were master). */
static void
sync_sweep(struct sync *s)
{
	struct sync_sweep sw;

	memset(&sw, 0, sizeof(sw));
	do
		if (worker_call(s->workers[0], worker_sync_sweep, &sw) == -1)
			break;
	while (sw.cursor != 0);
	s->st.swept += sw.gone;
}

static void
sync_apply(struct sync *s, const void *buf, const struct sync_hdr *h,
    uint64_t now)
{
	struct sync_batch b;
	struct sync_iter it;

	int		 backup = __atomic_load_n(&s->role, __ATOMIC_RELAXED) ==
			    SYNC_ROLE_BACKUP;

	switch (h->type) {
	case SYNC_T_BULK_START:
		s->rx.active = 1;
		s->rx.records = 0;
		s->rx.start_ms = now;
		/* what the table does not bring goes at its end */
		if (backup)
			(void)worker_call(s->workers[0], worker_sync_resync,
			    NULL);
		return;
	case SYNC_T_BULK_END:
		if (s->rx.active) {
			if (backup)
				sync_sweep(s);
			s->rx.active = 0;
			s->rx.end_ms = now;
			s->st.bulks_received++;
			if (!s->ready)
				log_info("sync: the peer's table is in (%llu "
				    "connections): ready", (unsigned long long)
				    s->rx.records);
			s->ready = 1;
			s->alone = 0;
			s->rx.asked = 0;
		}
		return;
	default:
		break;
	}
	memset(&b, 0, sizeof(b));
	b.rec = s->batch;
	sync_iter_init(&it, buf, h);
	while (b.n < s->nbatch && sync_iter_rec(&it, &b.rec[b.n]))
		b.n++;
	if (s->rx.active)
		s->rx.records += b.n;
	if (!backup) {
		s->st.ignored += b.n;
		return;
	}
	/* one worker with [sync] (config.c) */
	if (b.n > 0 && worker_call(s->workers[0], worker_sync_apply,
	    &b) == -1) {
		s->st.import_failed += b.n;
		return;
	}
	s->st.applied += b.applied;
	s->st.import_failed += b.failed;
	s->st.norule += b.norule;
}

static int
sync_from_peer(const struct sync *s, const struct sockaddr_storage *from)
{
	const struct sockaddr_in	*a4, *p4;
	const struct sockaddr_in6	*a6, *p6;

	if (from->ss_family != s->cfg.peer.ss_family)
		return (0);
	if (from->ss_family == AF_INET) {
		a4 = (const struct sockaddr_in *)from;
		p4 = (const struct sockaddr_in *)&s->cfg.peer;
		return (a4->sin_port == p4->sin_port &&
		    a4->sin_addr.s_addr == p4->sin_addr.s_addr);
	}
	a6 = (const struct sockaddr_in6 *)from;
	p6 = (const struct sockaddr_in6 *)&s->cfg.peer;
	return (a6->sin6_port == p6->sin6_port &&
	    memcmp(&a6->sin6_addr, &p6->sin6_addr, 16) == 0);
}

static void
sync_refused(struct sync *s, const struct sockaddr_storage *from,
    size_t len, const char *why)
{
	char		 a[64];
	uint64_t	 held;

	if (!log_rl(&s->rl, &held))
		return;
	config_sync_addr(from, a, sizeof(a));
	log_audit("action=drop sync=%s src=%s len=%zu held=%llu", why,
	    a, len, (unsigned long long)held);
}

void
sync_datagram(struct sync *s, const void *buf, size_t len,
    const struct sockaddr_storage *from, uint64_t now)
{
	struct sync_hdr	 h;
	size_t		 n;
	int		 flags, err = SYNC_OK;

	if (!sync_from_peer(s, from)) {
		s->st.strangers++;
		sync_refused(s, from, len, "stranger");
		return;
	}
	if ((flags = sync_seq_input(s->seq, buf, len, now, &h, &err)) ==
	    -1) {
		if (err == SYNC_EAUTH)
			s->st.forged++;
		else if (err == SYNC_EREPLAY)
			s->st.replayed++;
		else if (err == SYNC_EVERSION)
			s->st.version++;
		else
			s->st.malformed++;
		sync_refused(s, from, len, sync_err_name(err));
		return;
	}
	s->st.received++;
	if (h.type == SYNC_T_NACK)
		s->st.nacks_received++;
	if ((flags & SYNC_IN_NEWPEER) && __atomic_load_n(&s->role,
	    __ATOMIC_RELAXED) == SYNC_ROLE_BACKUP &&
	    h.type != SYNC_T_BULK_START) {
		/* the bulk of its last run, if one was coming, never ends */
		sync_rx_drop(s);
		log_info("sync: a new run of the peer: asking for its table");
		sync_ask_table(s, now);
	}
	if (flags & SYNC_IN_APPLY)
		sync_apply(s, buf, &h, now);
	if ((flags & SYNC_IN_NACK) && (n = sync_seq_nack(s->seq, now,
	    s->ctlbuf, sizeof(s->ctlbuf))) > 0) {
		sync_send(s->ctlbuf, n, s);
		s->st.nacks_sent++;
	}
	if (flags & SYNC_IN_RESEND) {
		sync_seal(s);
		if (sync_seq_resend(s->seq, sync_send, s) == -1)
			sync_bulk_begin(s);
	}
	if (flags & SYNC_IN_BULKREQ)
		sync_bulk_begin(s);
	if (flags & SYNC_IN_ACK)
		sync_control(s, SYNC_T_ALIVE);
}

/* ---- timers, commands, status ------------------------------------------ */

/* How long the peer has been silent: since our start, or since it was
   last heard. */
static uint64_t
sync_quiet_ms(struct sync *s, uint64_t now)
{
	struct sync_seq_status	 st;
	uint64_t		 since;

	sync_seq_status(s->seq, &st);
	since = st.peer_epoch != 0 && st.last_rx_ms > s->start_ms ?
	    st.last_rx_ms : s->start_ms;
	return (now > since ? now - since : 0);
}

void
sync_alive(struct sync *s, uint64_t now)
{
	size_t		 n;

	sync_control(s, SYNC_T_ALIVE);
	if ((n = sync_seq_nack(s->seq, now, s->ctlbuf,
	    sizeof(s->ctlbuf))) > 0) {
		sync_send(s->ctlbuf, n, s);
		s->st.nacks_sent++;
	}
	/* a backup asks for the table until it comes (a bulk that
	   stalls is asked for again) */
	if (!s->ready && s->cfg.alone > 0 && sync_quiet_ms(s, now) >=
	    (uint64_t)s->cfg.alone * 1000) {
		log_info("sync: no word from the peer for %u s: ready alone",
		    s->cfg.alone);
		s->ready = s->alone = 1;
	}
	if (__atomic_load_n(&s->role, __ATOMIC_RELAXED) == SYNC_ROLE_BACKUP &&
	    (!s->ready || s->rx.asked) &&
	    now - s->rx.asked_ms >= SYNC_BULKREQ_MS &&
	    (!s->rx.active || now - s->rx.start_ms >= 10 * SYNC_BULKREQ_MS))
		sync_ask_table(s, now);
}

void
sync_command(struct sync *s, uint64_t now)
{
	uint64_t	 until;
	int		 role;
	unsigned	 i;

	if ((role = __atomic_exchange_n(&s->cmd_role, -1,
	    __ATOMIC_SEQ_CST)) != -1) {
		log_info("sync: role %s", sync_role_name(role));
		if (role == SYNC_ROLE_MASTER && s->cfg.grace > 0) {
			/* the windows we learnt lack the old master's
			   last flush, or more: let them catch up */
			until = now + (uint64_t)s->cfg.grace * 1000;
			for (i = 0; i < s->nworkers; i++)
				(void)worker_call(s->workers[i],
				    worker_sync_grace, &until);
		}
		/* a bulk half in ends here, whichever the new role */
		sync_rx_drop(s);
		if (role == SYNC_ROLE_BACKUP)
			sync_ask_table(s, now);
	}
	if (__atomic_exchange_n(&s->cmd_resync, 0, __ATOMIC_SEQ_CST)) {
		sync_rx_drop(s);
		sync_ask_table(s, now);
	}
}

void
sync_publish(struct sync *s, uint64_t now)
{
	struct sync_status *p = &s->pub;
	uint64_t	 queued = 0;
	unsigned	 i;

	for (i = 0; i < s->nworkers; i++)
		queued += __atomic_load_n(&s->rings[i].head,
		    __ATOMIC_RELAXED) - __atomic_load_n(&s->rings[i].tail,
		    __ATOMIC_RELAXED);
	pthread_mutex_lock(&s->mtx);
	p->role = __atomic_load_n(&s->role, __ATOMIC_RELAXED);
	p->ready = s->ready;
	p->alone = s->alone;
	sync_seq_status(s->seq, &p->seq);
	p->heard_ms = p->seq.peer_epoch == 0 ? UINT64_MAX :
	    now - p->seq.last_rx_ms;
	p->reachable = p->heard_ms < SYNC_DEAD_MS;
	p->tx_active = s->tx.active;
	p->tx_records = s->tx.records;
	p->tx_total = s->tx.total;
	p->rx_active = s->rx.active;
	p->rx_records = s->rx.records;
	p->rx_ms = s->rx.end_ms > s->rx.start_ms ? s->rx.end_ms -
	    s->rx.start_ms : 0;
	p->queued = queued;
	p->st = s->st;
	p->st.resent = p->seq.resent;
	for (i = 0; i < s->nworkers; i++)
		p->st.changes += __atomic_load_n(&s->rings[i].queued,
		    __ATOMIC_RELAXED);
	pthread_mutex_unlock(&s->mtx);
}

static void
sync_read_cb(evutil_socket_t fd, short what, void *arg)
{
	struct sync		*s = arg;
	struct sockaddr_storage	 from;
	socklen_t		 flen;
	ssize_t			 n;
	uint64_t		 now = spi_now_ms();
	int			 i;

	for (i = 0; i < SYNC_READ_MAX; i++) {
		flen = sizeof(from);
		n = recvfrom(fd, s->rxbuf, sizeof(s->rxbuf), 0,
		    (struct sockaddr *)&from, &flen);
		if (n == -1)
			break;		/* EAGAIN, or an ICMP error */
		sync_datagram(s, s->rxbuf, (size_t)n, &from, now);
	}
	sync_pump(s, now);
	sync_publish(s, now);
}

static void
sync_flush_cb(evutil_socket_t fd, short what, void *arg)
{
	struct sync	*s = arg;
	uint64_t	 now = spi_now_ms();

	sync_pump(s, now);
	sync_publish(s, now);
}

static void
sync_alive_cb(evutil_socket_t fd, short what, void *arg)
{
	struct sync	*s = arg;
	uint64_t	 now = spi_now_ms();

	sync_alive(s, now);
	sync_publish(s, now);
}

static void
sync_cmd_cb(evutil_socket_t fd, short what, void *arg)
{
	struct sync	*s = arg;
	uint64_t	 now = spi_now_ms();

	sync_command(s, now);
	sync_pump(s, now);
	sync_publish(s, now);
}

const char *
sync_role_name(int role)
{
	return (role == SYNC_ROLE_MASTER ? "master" : "backup");
}

int
sync_set_role(struct sync *s, int role)
{
	if (role != SYNC_ROLE_MASTER && role != SYNC_ROLE_BACKUP) {
		errno = EINVAL;
		return (-1);
	}
	/* from now on the workers queue their changes, or stop */
	__atomic_store_n(&s->role, role, __ATOMIC_SEQ_CST);
	__atomic_store_n(&s->sending, role == SYNC_ROLE_MASTER,
	    __ATOMIC_SEQ_CST);
	__atomic_store_n(&s->cmd_role, role, __ATOMIC_SEQ_CST);
	if (s->cmdev != NULL)
		event_active(s->cmdev, EV_READ, 0);
	return (0);
}

void
sync_resync(struct sync *s)
{
	__atomic_store_n(&s->cmd_resync, 1, __ATOMIC_SEQ_CST);
	if (s->cmdev != NULL)
		event_active(s->cmdev, EV_READ, 0);
}

void
sync_status(struct sync *s, struct sync_status *st)
{
	pthread_mutex_lock(&s->mtx);
	*st = s->pub;
	pthread_mutex_unlock(&s->mtx);
	config_sync_addr(&s->cfg.listen, st->listen, sizeof(st->listen));
	config_sync_addr(&s->cfg.peer, st->peer, sizeof(st->peer));
}

/* ---- life -------------------------------------------------------------- */

static uint64_t
sync_epoch(void)
{
	struct timespec	 ts;

	/* our start, in microseconds: a later run has a larger one */
	clock_gettime(CLOCK_REALTIME, &ts);
	return ((uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000);
}

static int
sync_socket(struct sync *s, char *err, size_t errlen)
{
	char		 a[64];
	int		 buf = 4 * 1024 * 1024;

	config_sync_addr(&s->cfg.listen, a, sizeof(a));
	if ((s->fd = socket(s->cfg.listen.ss_family, SOCK_DGRAM |
	    SOCK_NONBLOCK | SOCK_CLOEXEC, 0)) == -1) {
		snprintf(err, errlen, "[sync] socket: %s", strerror(errno));
		return (-1);
	}
	/* a bulk comes in bursts: room for a window of it */
	(void)setsockopt(s->fd, SOL_SOCKET, SO_RCVBUF, &buf, sizeof(buf));
	(void)setsockopt(s->fd, SOL_SOCKET, SO_SNDBUF, &buf, sizeof(buf));
	if (bind(s->fd, (const struct sockaddr *)&s->cfg.listen,
	    s->cfg.addrlen) == -1) {
		snprintf(err, errlen, "[sync] listen %s: %s", a,
		    strerror(errno));
		return (-1);
	}
	return (0);
}

struct sync *
sync_new(const struct sync_config *sc, struct worker **w, unsigned n,
    char *err, size_t errlen)
{
	struct sync	*s;
	unsigned	 i;

	if ((s = calloc(1, sizeof(*s))) == NULL) {
		snprintf(err, errlen, "[sync]: %s", strerror(errno));
		return (NULL);
	}
	pthread_mutex_init(&s->mtx, NULL);
	s->fd = -1;
	s->cfg = *sc;
	s->workers = w;
	s->nworkers = n;
	s->cmd_role = -1;
	s->role = sc->role;
	s->sending = sc->role == SYNC_ROLE_MASTER;
	for (s->ringsz = 256; s->ringsz < sc->queue; s->ringsz *= 2)
		;
	s->wake_at = s->ringsz / 2;
	s->nbatch = SYNC_MSG_MAX / SYNC_REC_DEL + 1;
	s->epoch = sync_epoch();
	s->start_ms = spi_now_ms();
	if ((s->rings = cacheline_calloc(n ? n : 1,
	    sizeof(*s->rings))) == NULL ||
	    (s->batch = calloc(s->nbatch, sizeof(*s->batch))) == NULL ||
	    (s->slice = calloc(SYNC_SLICE, sizeof(*s->slice))) == NULL ||
	    (s->coal = calloc(2 * s->ringsz, sizeof(*s->coal))) == NULL ||
	    (s->gone = calloc(s->ringsz / 8, 1)) == NULL)
		goto nomem;
	for (i = 0; i < n; i++)
		if ((s->rings[i].rec = calloc(s->ringsz,
		    sizeof(*s->rings[i].rec))) == NULL)
			goto nomem;
	if ((s->seq = sync_seq_new(&sc->key, s->epoch, sc->resend,
	    sc->mtu)) == NULL) {
		snprintf(err, errlen, "[sync] resend ring: %s",
		    strerror(errno));
		sync_free(s);
		return (NULL);
	}
	if (sync_socket(s, err, errlen) == -1) {
		sync_free(s);
		return (NULL);
	}
	sync_publish(s, spi_now_ms());
	return (s);
 nomem:
	snprintf(err, errlen, "[sync]: %s", strerror(errno));
	sync_free(s);
	return (NULL);
}

static void *
sync_main(void *arg)
{
	struct sync	*s = arg;

	(void)pthread_setname_np(pthread_self(), "nfqspid-sync");
	/* we may have restarted: whoever is backup wants the table */
	sync_alive(s, spi_now_ms());
	event_base_dispatch(s->base);
	return (NULL);
}

int
sync_start(struct sync *s)
{
	struct timeval	 flush = { 0, s->cfg.flush_ms * 1000 };
	struct timeval	 alive = { SYNC_ALIVE_MS / 1000, 0 };
	sigset_t	 all, old;
	int		 rc;

	if ((s->base = event_base_new()) == NULL ||
	    (s->rev = event_new(s->base, s->fd, EV_READ | EV_PERSIST,
	    sync_read_cb, s)) == NULL ||
	    (s->flushev = event_new(s->base, -1, EV_PERSIST, sync_flush_cb,
	    s)) == NULL ||
	    (s->aliveev = event_new(s->base, -1, EV_PERSIST, sync_alive_cb,
	    s)) == NULL ||
	    (s->cmdev = event_new(s->base, -1, 0, sync_cmd_cb, s)) == NULL ||
	    (s->wakeev = event_new(s->base, -1, 0, sync_flush_cb, s)) ==
	    NULL) {
		errno = ENOMEM;
		return (-1);
	}
	if (event_add(s->rev, NULL) == -1 ||
	    event_add(s->flushev, &flush) == -1 ||
	    event_add(s->aliveev, &alive) == -1)
		return (-1);
	/* the main thread owns the signals */
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	rc = pthread_create(&s->thread, NULL, sync_main, s);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc != 0) {
		errno = rc;
		return (-1);
	}
	s->started = 1;
	return (0);
}

void
sync_stop(struct sync *s)
{
	if (s == NULL || !s->started)
		return;
	__atomic_store_n(&s->sending, 0, __ATOMIC_SEQ_CST);
	event_base_loopbreak(s->base);
	pthread_join(s->thread, NULL);
	s->started = 0;
}

void
sync_free(struct sync *s)
{
	unsigned	 i;

	if (s == NULL)
		return;
	sync_stop(s);
	if (s->rev != NULL)
		event_free(s->rev);
	if (s->flushev != NULL)
		event_free(s->flushev);
	if (s->aliveev != NULL)
		event_free(s->aliveev);
	if (s->cmdev != NULL)
		event_free(s->cmdev);
	if (s->wakeev != NULL)
		event_free(s->wakeev);
	if (s->base != NULL)
		event_base_free(s->base);
	if (s->fd != -1)
		close(s->fd);
	for (i = 0; s->rings != NULL && i < s->nworkers; i++)
		free(s->rings[i].rec);
	free(s->rings);
	free(s->batch);
	free(s->slice);
	free(s->coal);
	free(s->gone);
	sync_seq_free(s->seq);
	explicit_bzero(&s->cfg.key, sizeof(s->cfg.key));
	pthread_mutex_destroy(&s->mtx);
	free(s);
}
