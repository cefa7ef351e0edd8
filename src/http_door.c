/*
 * http_door.c - who may hold a connection to the status page, and for
 * how long
 *
 * Copyright (C) 2026 The nfqspid authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * evhttp accepts, reads and answers; this file bounds what a client can
 * take from the main thread before it has sent a whole request:
 *
 *  - at most HTTP_MAXCONNS connections, and never more than a quarter of
 *    the descriptors RLIMIT_NOFILE allows (the control socket and the
 *    queues need theirs): at that many the listener stops accepting (the
 *    rest wait in the kernel's queue), so descriptors and memory stay
 *    bounded however many clients come;
 *  - the allow-list at accept: a peer outside [daemon] http_allow is
 *    shut out in the same turn of the loop, before it sends a byte;
 *  - a deadline per request, not per read: HTTP_DEADLINE seconds from
 *    the accept, or from the previous request, for the next request to
 *    arrive whole (evhttp's own timeout restarts with every byte, so a
 *    client sending one byte at a time could hold a slot for ever);
 *  - accept() out of descriptors sheds and pauses (accept.c) instead of
 *    spinning.
 *
 * evhttp 2.1 has no callback for a connection it accepts, only one for
 * the bufferevent it is about to give it (evhttp_set_bevcb()), before it
 * has a descriptor.  So we make that bufferevent, and later in the same
 * turn of the loop, once evhttp has set the descriptor and its own
 * callbacks, we look at the peer and ask evhttp to tell us when the
 * connection closes (evhttp_connection_set_closecb(); the connection is
 * the argument of the callbacks evhttp set on the bufferevent, which is
 * how libevent 2.1 reaches it).  A refused connection is shut down
 * (shutdown(2)); evhttp sees the end of the stream and frees it.
 */
#include "autoconf.h"		/* first: _GNU_SOURCE */

#include <sys/types.h>
#include <sys/queue.h>
#include <sys/resource.h>
#include <sys/socket.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/listener.h>

#include "nfqspid.h"

struct hconn {
	TAILQ_ENTRY(hconn)	 entry;
	struct http_door	*d;
	struct bufferevent	*bev;
	struct evhttp_connection *evcon;	/* once checked */
	struct event		*ev;		/* the check, then the deadline */
	int			 checked;
};

TAILQ_HEAD(hconnlist, hconn);

struct http_door {
	struct event_base	*base;
	struct evconnlistener	*lev;
	struct event		*ev_pause;
	int			(*allowed)(void *, const struct sockaddr *);
	void			*arg;
	struct hconnlist	 conns;
	unsigned		 n;
	unsigned		 max;		/* HTTP_MAXCONNS or fewer */
	int			 paused;	/* by accept_guard_fail() */
	int			 closing;
	struct accept_guard	 guard;
	struct log_rl		 rl_refused;
	struct http_door_stats	 st;
};

/*
 * evconnlistener_set_error_cb() leaves the listener's argument evhttp's,
 * so the error callback finds its door here: one page per daemon.
 */
static struct http_door	*door_listening;

static void
door_listen(struct http_door *d)
{
	if (d->closing)
		return;		/* evhttp_free() freed the listener */
	if (d->paused || d->n >= d->max)
		evconnlistener_disable(d->lev);
	else
		evconnlistener_enable(d->lev);
}

static void
hconn_shut(struct hconn *c)
{
	int	 fd = bufferevent_getfd(c->bev);

	/* evhttp reads the end of the stream and frees the connection */
	if (fd != -1)
		shutdown(fd, SHUT_RDWR);
	evtimer_del(c->ev);
}

static void	 hconn_gone(struct evhttp_connection *, void *);

/* The peer, once evhttp has given the socket its descriptor. */
static void
hconn_check(struct hconn *c)
{
	struct http_door	*d = c->d;
	struct sockaddr_storage	 ss;
	socklen_t		 len = sizeof(ss);
	struct timeval		 tv = { HTTP_DEADLINE, 0 };
	bufferevent_data_cb	 rcb, wcb;
	bufferevent_event_cb	 ecb;
	void			*evcon;
	uint64_t		 held;
	char			 more[LOG_RL_MORELEN];
	int			 fd = bufferevent_getfd(c->bev);

	c->checked = 1;
	bufferevent_getcb(c->bev, &rcb, &wcb, &ecb, &evcon);
	if (evcon == NULL || evhttp_connection_get_bufferevent(evcon) !=
	    c->bev) {
		log_warnx("http: cannot follow a connection");
		hconn_shut(c);
		return;
	}
	c->evcon = evcon;
	evhttp_connection_set_closecb(c->evcon, hconn_gone, c);
	if (fd == -1 || getpeername(fd, (struct sockaddr *)&ss, &len) == -1 ||
	    !d->allowed(d->arg, (struct sockaddr *)&ss)) {
		d->st.refused++;
		if (log_rl(&d->rl_refused, &held))
			log_warnx("http: refused a peer outside http_allow%s",
			    log_rl_more(held, more, sizeof(more)));
		hconn_shut(c);
		return;
	}
	evtimer_add(c->ev, &tv);
}

static void
hconn_event(evutil_socket_t fd, short ev, void *arg)
{
	struct hconn	*c = arg;

	if (!c->checked) {
		hconn_check(c);
		return;
	}
	c->d->st.deadline++;
	log_debug("http: a request took over %d s, closing its connection",
	    HTTP_DEADLINE);
	hconn_shut(c);
}

static void
hconn_free(struct hconn *c)
{
	struct http_door *d = c->d;

	TAILQ_REMOVE(&d->conns, c, entry);
	event_free(c->ev);
	free(c);
	if (d->n-- == d->max)
		door_listen(d);
}

/* evhttp closes the connection: forget it before it is freed. */
static void
hconn_gone(struct evhttp_connection *evcon, void *arg)
{
	hconn_free(arg);
}

/* evhttp accepted a connection and wants its bufferevent. */
static struct bufferevent *
door_bev(struct event_base *base, void *arg)
{
	struct http_door *d = arg;
	struct hconn	*c;

	accept_guard_ok(&d->guard);
	if ((c = calloc(1, sizeof(*c))) == NULL)
		return (NULL);		/* evhttp makes one, unbounded */
	c->d = d;
	if ((c->ev = event_new(base, -1, 0, hconn_event, c)) == NULL ||
	    (c->bev = bufferevent_socket_new(base, -1,
	    BEV_OPT_CLOSE_ON_FREE)) == NULL) {
		if (c->ev != NULL)
			event_free(c->ev);
		free(c);
		return (NULL);
	}
	TAILQ_INSERT_TAIL(&d->conns, c, entry);
	/* The check runs once evhttp has set the descriptor, later in this
	   turn of the loop. */
	event_active(c->ev, EV_TIMEOUT, 0);
	d->st.accepted++;
	if (++d->n == d->max) {
		d->st.full++;
		door_listen(d);
	}
	return (c->bev);
}

static void
door_accept_error(struct evconnlistener *lev, void *arg)
{
	struct http_door *d = door_listening;
	struct timeval	 tv;
	unsigned	 ms;

	if (d == NULL || d->lev != lev)
		return;
	ms = accept_guard_fail(&d->guard, evconnlistener_get_fd(lev), errno);
	if (ms == 0)
		return;
	d->paused = 1;
	door_listen(d);
	tv.tv_sec = ms / 1000;
	tv.tv_usec = (ms % 1000) * 1000;
	evtimer_add(d->ev_pause, &tv);
}

static void
door_resume(evutil_socket_t fd, short ev, void *arg)
{
	struct http_door *d = arg;

	d->paused = 0;
	door_listen(d);
}

struct http_door *
http_door_new(struct event_base *base, struct evhttp *eh,
    struct evhttp_bound_socket *bound,
    int (*allowed)(void *, const struct sockaddr *), void *arg)
{
	struct http_door *d;
	struct rlimit	 rl;

	if ((d = calloc(1, sizeof(*d))) == NULL)
		return (NULL);
	d->base = base;
	d->max = HTTP_MAXCONNS;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY &&
	    rl.rlim_cur / 4 < d->max)
		d->max = rl.rlim_cur / 4 > 4 ? (unsigned)(rl.rlim_cur / 4) : 4;
	d->allowed = allowed;
	d->arg = arg;
	TAILQ_INIT(&d->conns);
	if (accept_guard_init(&d->guard, "http") == -1) {
		free(d);
		return (NULL);
	}
	if ((d->lev = evhttp_bound_socket_get_listener(bound)) == NULL ||
	    (d->ev_pause = evtimer_new(base, door_resume, d)) == NULL) {
		accept_guard_free(&d->guard);
		free(d);
		errno = ENOMEM;
		return (NULL);
	}
	door_listening = d;
	evconnlistener_set_error_cb(d->lev, door_accept_error);
	evhttp_set_bevcb(eh, door_bev, d);
	return (d);
}

void
http_door_request(struct http_door *d, struct evhttp_request *req)
{
	struct evhttp_connection *evcon = evhttp_request_get_connection(req);
	struct hconn		*c;
	struct timeval		 tv = { HTTP_DEADLINE, 0 };

	TAILQ_FOREACH(c, &d->conns, entry)
		if (c->evcon != NULL && c->evcon == evcon) {
			/* the next request has as long, counted from now */
			evtimer_add(c->ev, &tv);
			return;
		}
}

void
http_door_stats(const struct http_door *d, struct http_door_stats *st)
{
	*st = d->st;
	st->open = d->n;
	st->max = d->max;
}

/* Before evhttp_free(), which frees the connections and calls us back;
   http_door_free() after it. */
void
http_door_closing(struct http_door *d)
{
	d->closing = 1;
	if (door_listening == d)
		door_listening = NULL;
}

void
http_door_free(struct http_door *d)
{
	struct hconn	*c;

	if (d == NULL)
		return;
	/* those evhttp_free() did not close: not checked yet */
	while ((c = TAILQ_FIRST(&d->conns)) != NULL)
		hconn_free(c);
	event_free(d->ev_pause);
	accept_guard_free(&d->guard);
	free(d);
}
