/*
 * sync.c - the sync thread: the HA link (synclink.c) on its own UDP
 * socket, timers and thread
 *
 * Copyright (C) 2026 The nfqspid authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * What the link does with the workers' changes, the peer's datagrams,
 * its timers and the commands is synclink.c's, pure.  This is its
 * shell: the socket it reads and sends on, the libevent loop of its
 * thread (a read, a flush every flush ms or when a worker's ring is
 * half full, an ALIVE every second, the commands of the main thread),
 * worker_call() for what it asks of a worker, the log lines, and the
 * status published to the main thread under a lock.
 *
 * With several workers the kernel's --queue-balance hash, seeded at
 * random on each node, decides which one a flow's packets reach: a
 * backup keeps each synced connection in its home worker
 * (synclink_home()), and after a failover the worker its packets reach
 * adopts it from there (worker_ask.c).
 */
#include "autoconf.h"		/* first: _GNU_SOURCE (pthread_setname_np) */

#include <sys/types.h>
#include <sys/socket.h>
#include <netinet/in.h>

#include <errno.h>
#include <pthread.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "sync_int.h"
#include "clock.h"
#include "thread.h"

/* ---- the link's outside ------------------------------------------------ */

static int
sync_send(void *arg, const void *buf, size_t len)
{
	struct sync	*s = arg;

	return (sendto(s->fd, buf, len, 0,
	    (const struct sockaddr *)&s->lk.cfg.peer, s->lk.cfg.addrlen) ==
	    -1 ? -1 : 0);
}

/* What the link runs in a worker, by enum synclink_call. */
static void (*const sync_calls[SYNCLINK_NCALLS])(struct worker *, void *) = {
	[SYNCLINK_SLICE] = worker_sync_slice,
	[SYNCLINK_APPLY] = worker_sync_apply,
	[SYNCLINK_RESYNC] = worker_sync_resync,
	[SYNCLINK_RESYNC_END] = worker_sync_resync_end,
	[SYNCLINK_SWEEP] = worker_sync_sweep,
	[SYNCLINK_GRACE] = worker_sync_grace,
	[SYNCLINK_AWAY] = worker_sync_away,
	[SYNCLINK_HOME] = worker_sync_home,
	[SYNCLINK_FENCE] = worker_sync_fence
};

/*
 * Made backup at a stop, a worker still running may give up connections
 * (SYNCLINK_AWAY) for a home that has stopped, which takes nothing more:
 * they were in no table, and missing from the state file.  They wait
 * here for sync_stop(), when no worker runs.  Without memory they are
 * lost, as before.
 */
static void
sync_keep_home(struct sync *s, unsigned wi, const struct sync_batch *b)
{
	struct sync_later	*l, **p;

	if (b->n == 0 || (l = malloc(sizeof(*l) + b->n *
	    sizeof(l->rec[0]))) == NULL)
		return;
	l->next = NULL;
	l->wi = wi;
	l->keep = b->keep;
	l->n = b->n;
	memcpy(l->rec, b->rec, b->n * sizeof(l->rec[0]));
	/* in order: a key given up twice lands as the last said */
	for (p = &s->later; *p != NULL; p = &(*p)->next)
		;
	*p = l;
}

/*
 * No deadline, unlike the main thread's questions: the link reads a
 * call that fails as a worker stopping for good, so a call withdrawn
 * would lose what it carries -- a bulk would be given up, no end sent
 * and none after it (synclink_bulk_drop()), an APPLY's records would
 * only be counted (import_failed), a HOME's connections would stay out
 * of every table until the stop, and a GRACE or FENCE missed would
 * drop or leave out connections.  A worker whose loop
 * does not run is ended by the watchdog thread (WATCHDOG_CHECKS,
 * WATCHDOG_CALL_CHECKS in a call): the wait is bounded all the same.
 */
static int
sync_call(void *arg, unsigned wi, int what, void *data)
{
	struct sync	*s = arg;

	if (worker_call(s->workers[wi], sync_calls[what], data) == 0)
		return (0);
	if (what == SYNCLINK_HOME)
		sync_keep_home(s, wi, data);
	return (-1);
}

/* Audited at most once per LOG_RL_SECS. */
static void
sync_refused(void *arg, const struct sockaddr_storage *from, size_t len,
    const char *why)
{
	struct sync	*s = arg;
	char		 a[64];
	uint64_t	 held;

	if (!log_rl(&s->rl, &held))
		return;
	config_sync_addr(from, a, sizeof(a));
	log_audit("action=drop sync=%s src=%s len=%zu held=%llu", why,
	    a, len, (unsigned long long)held);
}

static void
sync_note(void *arg, int what, uint64_t n)
{
	struct sync	*s = arg;

	switch (what) {
	case SYNCLINK_READY:
		log_info("sync: the peer's table is in (%llu connections): "
		    "ready", (unsigned long long)n);
		break;
	case SYNCLINK_ALONE:
		log_info("sync: no word from the peer for %llu s: ready "
		    "alone", (unsigned long long)n);
		break;
	case SYNCLINK_NEWPEER:
		log_info("sync: a new run of the peer: asking for its table");
		break;
	case SYNCLINK_HOMED:
		log_info("sync: backup: %llu connections back in their home "
		    "workers", (unsigned long long)n);
		break;
	case SYNCLINK_UNSENT:
		/* info: the worker's end is the error, logged; a warning
		   here would be STOPPING=1's STATUS=.  Once: each later
		   request or loss until the stop finds it so again */
		if (s->unsent_said) {
			log_debug("sync: the whole table is not sent: worker "
			    "%llu has stopped", (unsigned long long)n);
			break;
		}
		s->unsent_said = 1;
		log_info("sync: the whole table is not sent: worker %llu has "
		    "stopped", (unsigned long long)n);
		break;
	default:
		log_debug("sync: sending the whole table");
		break;
	}
}

static const struct synclink_ops sync_ops = {
	.send = sync_send,
	.call = sync_call,
	.refused = sync_refused,
	.note = sync_note
};

/* ---- the workers' side ------------------------------------------------- */

int
sync_sending(const struct sync *s)
{
	return (synclink_sending(&s->lk));
}

uint64_t
sync_room(struct sync *s, unsigned wid)
{
	return (synclink_room(&s->lk, wid));
}

void
sync_moved(struct sync *s)
{
	synclink_moved(&s->lk);
}

int
sync_bulking(const struct sync *s)
{
	return (synclink_bulking(&s->lk));
}

void
sync_rebulk(struct sync *s)
{
	synclink_rebulk(&s->lk);
}

int
sync_unsettled(const struct sync *s)
{
	return (synclink_unsettled(&s->lk));
}

uint64_t *
sync_unseen(struct sync *s)
{
	return (s->unseen);
}

/*
 * In a worker's thread: wake the sync thread unless it is woken already.
 * Every worker whose ring is past half full looks at the flag on each
 * change; an exchange takes its line even when it finds the flag set,
 * so each would take it from all the others.  A load leaves it shared,
 * and only the worker that sets the flag writes it.  A flag seen set
 * just after sync_pump() cleared it loses no change: the next one looks
 * again, and the flush drains the ring anyway.
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
	struct sync_rec	*rec;

	if ((rec = synclink_slot(&s->lk, wid)) == NULL)
		return;
	sync_rec_fill(rec, event == CT_EVENT_DESTROY ? SYNC_OP_DELETE :
	    SYNC_OP_UPSERT, t, e, cfg);
	if (synclink_commit(&s->lk, wid) && s->wakeev != NULL)
		sync_wake(s);
}

void
sync_forget(struct sync *s, unsigned wid, const struct ct_tuple *k)
{
	struct sync_rec	*rec;

	if ((rec = synclink_slot(&s->lk, wid)) == NULL)
		return;
	/* zeroed as ct_export()'s, for synclink_coalesce() */
	memset(rec, 0, sizeof(*rec));
	memcpy(&rec->s.k, k, sizeof(rec->s.k));
	rec->op = SYNC_OP_DELETE;
	if (synclink_commit(&s->lk, wid) && s->wakeev != NULL)
		sync_wake(s);
}

/* ---- the thread's steps ------------------------------------------------ */

void
sync_datagram(struct sync *s, const void *buf, size_t len,
    const struct sockaddr_storage *from, uint64_t now)
{
	synclink_input(&s->lk, buf, len, from, now);
}

void
sync_pump(struct sync *s, uint64_t now)
{
	/* cleared only if set: the workers read its line (sync_wake()) */
	if (__atomic_load_n(&s->wake_pending, __ATOMIC_SEQ_CST))
		__atomic_store_n(&s->wake_pending, 0, __ATOMIC_SEQ_CST);
	synclink_pump(&s->lk, now);
}

void
sync_alive(struct sync *s, uint64_t now)
{
	synclink_alive(&s->lk, now);
}

void
sync_command(struct sync *s, uint64_t now)
{
	int		 role, resync;

	if ((role = __atomic_exchange_n(&s->cmd_role, -1,
	    __ATOMIC_SEQ_CST)) != -1)
		log_info("sync: role %s", sync_role_name(role));
	resync = __atomic_exchange_n(&s->cmd_resync, 0, __ATOMIC_SEQ_CST);
	synclink_command(&s->lk, role, resync, now);
}

void
sync_publish(struct sync *s, uint64_t now)
{
	struct sync_status st;

	synclink_status(&s->lk, now, &st);
	pthread_mutex_lock(&s->mtx);
	s->pub = st;
	pthread_mutex_unlock(&s->mtx);
}

/* The end of each of the thread's events: what is due goes out, and the
   main thread sees the status. */
static void
sync_settle(struct sync *s, uint64_t now)
{
	sync_pump(s, now);
	sync_publish(s, now);
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
	sync_settle(s, now);
}

static void
sync_flush_cb(evutil_socket_t fd, short what, void *arg)
{
	sync_settle(arg, spi_now_ms());
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
	sync_settle(s, now);
}

const char *
sync_role_name(int role)
{
	return (role == SYNC_ROLE_MASTER ? "master" : "backup");
}

int
sync_set_role(struct sync *s, int role)
{
	if (synclink_role(&s->lk, role) == -1)
		return (-1);
	__atomic_store_n(&s->cmd_role, role, __ATOMIC_SEQ_CST);
	if (s->cmdev != NULL)
		event_active(s->cmdev, EV_READ, 0);
	return (0);
}

int
sync_role(const struct sync *s)
{
	return (__atomic_load_n(&s->lk.role, __ATOMIC_RELAXED));
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
	config_sync_addr(&s->lk.cfg.listen, st->listen, sizeof(st->listen));
	config_sync_addr(&s->lk.cfg.peer, st->peer, sizeof(st->peer));
}

/* ---- life -------------------------------------------------------------- */

static int
sync_socket(struct sync *s, char *err, size_t errlen)
{
	char		 a[64];
	int		 buf = 4 * 1024 * 1024;

	config_sync_addr(&s->lk.cfg.listen, a, sizeof(a));
	if ((s->fd = socket(s->lk.cfg.listen.ss_family, SOCK_DGRAM |
	    SOCK_NONBLOCK | SOCK_CLOEXEC, 0)) == -1) {
		snprintf(err, errlen, "[sync] socket: %s", strerror(errno));
		return (-1);
	}
	/* a bulk comes in bursts: room for a window of it */
	(void)setsockopt(s->fd, SOL_SOCKET, SO_RCVBUF, &buf, sizeof(buf));
	(void)setsockopt(s->fd, SOL_SOCKET, SO_SNDBUF, &buf, sizeof(buf));
	if (bind(s->fd, (const struct sockaddr *)&s->lk.cfg.listen,
	    s->lk.cfg.addrlen) == -1) {
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

	if ((s = calloc(1, sizeof(*s))) == NULL) {
		snprintf(err, errlen, "[sync]: %s", strerror(errno));
		return (NULL);
	}
	pthread_mutex_init(&s->mtx, NULL);
	s->fd = -1;
	s->workers = w;
	s->cmd_role = -1;
	/* read for every packet of every worker, written seldom */
	if ((s->unseen = cacheline_calloc(1, sizeof(*s->unseen))) == NULL) {
		snprintf(err, errlen, "[sync]: %s", strerror(errno));
		sync_free(s);
		return (NULL);
	}
	/* the epoch: our start on the wall clock, a later run's larger */
	if (synclink_init(&s->lk, sc, n, spi_wall_us(), spi_now_ms(),
	    &sync_ops, s) == -1) {
		snprintf(err, errlen, "[sync]: %s", strerror(errno));
		sync_free(s);
		return (NULL);
	}
	if (sync_socket(s, err, errlen) == -1) {
		sync_free(s);
		return (NULL);
	}
	sync_publish(s, spi_now_ms());
	return (s);
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
	struct timeval	 flush = { 0, s->lk.cfg.flush_ms * 1000 };
	struct timeval	 alive = { SYNC_ALIVE_MS / 1000, 0 };

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
	if (spi_thread_start(&s->thread, sync_main, s) == -1)
		return (-1);
	s->started = 1;
	return (0);
}

static void
sync_join(struct sync *s)
{
	if (!s->started)
		return;
	/* the workers queue nothing more */
	__atomic_store_n(&s->lk.sending, 0, __ATOMIC_SEQ_CST);
	event_base_loopbreak(s->base);
	pthread_join(s->thread, NULL);
	s->started = 0;
}

/* Every worker stopped, the thread too: what a stopped home could not
   take goes into its table now, before the state file is written. */
void
sync_stop(struct sync *s)
{
	struct sync_later	*l;
	struct sync_batch	 b;

	if (s == NULL)
		return;
	sync_join(s);
	while ((l = s->later) != NULL) {
		s->later = l->next;
		memset(&b, 0, sizeof(b));
		b.rec = l->rec;
		b.n = l->n;
		b.keep = l->keep;
		worker_sync_home(s->workers[l->wi], &b);
		free(l);
	}
}

void
sync_free(struct sync *s)
{
	struct sync_later	*l;

	if (s == NULL)
		return;
	/* the workers may be gone: what waited for sync_stop() too */
	sync_join(s);
	while ((l = s->later) != NULL) {
		s->later = l->next;
		free(l);
	}
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
	synclink_clear(&s->lk);
	pthread_mutex_destroy(&s->mtx);
	free(s->unseen);
	free(s);
}
