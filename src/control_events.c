/*
 * control_events.c - nfqspictl events: the clients that follow the
 * tables' NEW, UPDATE and DESTROY
 *
 * Copyright (C) 2026 The nfqspid authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * events.c hands us each connection's view in the main thread; every
 * listening client gets it printed in its form (conntrack -E's line or
 * JSON), or counts it lost once it has CONTROL_EVENTS_MAX of output
 * waiting: a slow client costs memory up to that cap, never a packet.
 * A client may ask, as conntrack -E does, for some events only (-e NEW,
 * DESTROY), for some connections only (conntrack's filters, matched on
 * the view) and for a timestamp on each (-o timestamp: the time the main
 * thread hands the event over, as conntrack -E stamps what it reads).
 */
#include "autoconf.h"		/* first: _GNU_SOURCE */

#include <sys/types.h>
#include <netinet/in.h>

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "control.h"

/*
 * The events streams open now; *other, the oldest of them not root's
 * (NULL: none).
 */
static unsigned
events_streams(const struct control *ctl, struct client **other)
{
	struct client	*o;
	unsigned	 n = 0;

	*other = NULL;
	TAILQ_FOREACH(o, &ctl->clients, entry)
		if (!o->closing && o->job == JOB_EVENTS) {
			n++;
			if (o->uid != 0 && *other == NULL)
				*other = o;
		}
	return (n);
}

/*
 * Room for one more stream of c's: root's takes the place of the oldest
 * stream not root's, as root takes any slot but root's (control.c), so
 * that others' streams cannot keep root from events.  0, or -1 once c
 * was told.
 */
static int
events_room(struct client *c)
{
	struct client	*other;
	char		 more[LOG_RL_MORELEN];
	uint64_t	 held;

	if (events_streams(c->ctl, &other) < CONTROL_MAXSTREAMS)
		return (0);
	if (c->uid == 0 && other != NULL) {
		if (log_rl(&c->ctl->rl_streams, &held))
			log_warnx("control: %d events streams, ending uid %ld "
			    "pid %ld's for root's%s", CONTROL_MAXSTREAMS,
			    (long)other->uid, (long)other->pid,
			    log_rl_more(held, more, sizeof(more)));
		client_error(other, "this events stream's place went to "
		    "root's (%d streams at most)", CONTROL_MAXSTREAMS);
		client_close(other);
		return (0);
	}
	if (log_rl(&c->ctl->rl_streams, &held))
		log_warnx("control: %d events streams, refusing one of uid %ld "
		    "pid %ld%s", CONTROL_MAXSTREAMS, (long)c->uid,
		    (long)c->pid, log_rl_more(held, more, sizeof(more)));
	client_error(c, "too many events streams (%d at most): the other %d "
	    "clients are kept for other commands", CONTROL_MAXSTREAMS,
	    CONTROL_MAXCLIENTS - CONTROL_MAXSTREAMS);
	return (-1);
}

/*
 * `events`: the client stays until it goes; no read timeout (it sends
 * nothing more), the write timeout stays (a client that takes nothing
 * for CONTROL_WRITE_TIMEOUT is dropped).  At most CONTROL_MAXSTREAMS of
 * them: streams never give their slot back, and must not take the
 * last ones from status or reload (events_room()).
 */
void
cmd_events(struct client *c)
{
	struct timeval	 wtv = { CONTROL_WRITE_TIMEOUT, 0 };
	char		 err[256];

	if (ctf_parse(&c->filter, c->req.argc - 1, c->req.argv + 1,
	    CTF_F_KEYVAL | CTF_F_EVENTS, err, sizeof(err)) == -1) {
		client_error(c, "events: %s", err);
		return;
	}
	if (c->ctl->events == NULL) {
		client_error(c, "events are not available");
		return;
	}
	/* last: root's ends another's stream, for a request that streams */
	if (events_room(c) == -1)
		return;
	c->job = JOB_EVENTS;
	c->listening = 1;
	c->lost = 0;
	bufferevent_set_timeouts(c->bev, NULL, &wtv);
	events_subscribe(c->ctl->events, 1);
	log_debug("%s: a client listens to events", __func__);
}

/*
 * "    [NEW] tcp      6 120 SYN_SENT src=...", as conntrack -E prints
 * it, after "[1733343321.123456]\t" with -o timestamp; -j: the
 * connection's JSON with "event" (and "timestamp") first.
 */
static void
event_print(struct evbuffer *b, int json, const struct timespec *ts,
    int event, const struct ct_view *v)
{
	char	 line[CT_VIEW_BUFLEN], tag[96];
	int	 n;

	if (json) {
		if (ts != NULL)
			snprintf(tag, sizeof(tag), "\"event\":\"%s\","
			    "\"timestamp\":%lld.%06ld", events_name(event),
			    (long long)ts->tv_sec, ts->tv_nsec / 1000);
		else
			snprintf(tag, sizeof(tag), "\"event\":\"%s\"",
			    events_name(event));
		n = ct_view_json(v, tag, line, sizeof(line));
	} else {
		if (ts != NULL)
			evbuffer_add_printf(b, "[%lld.%06ld]\t",
			    (long long)ts->tv_sec, ts->tv_nsec / 1000);
		snprintf(tag, sizeof(tag), "[%s]", events_name(event));
		n = ct_view_text(v, CT_VIEW_EVENT, line, sizeof(line));
	}
	if (n < 0 || (size_t)n >= sizeof(line))
		return;		/* cannot happen: test_ct_view's test_buflen */
	if (!json)
		evbuffer_add_printf(b, "%9s ", tag);
	evbuffer_add(b, line, (size_t)n);
	evbuffer_add(b, "\n", 1);
}

/* Does this client want this event, and has it room for it? */
static int
event_wanted(struct client *c, int event, const struct ct_view *v)
{
	if (!ctf_event(&c->filter, event) || !ctf_match(&c->filter, v))
		return (0);
	if (evbuffer_get_length(bufferevent_get_output(c->bev)) >
	    CONTROL_EVENTS_MAX) {
		c->lost++;
		return (0);
	}
	return (1);
}

/*
 * The sink of events.c: every listener that wants the event gets it, or
 * counts it lost.  Each of the four forms (text or JSON, with or without
 * a timestamp) is printed once, for all who want it.
 */
void
control_events(void *arg, int event, const struct ct_view *v, uint64_t lost)
{
	struct control	*ctl = arg;
	struct client	*c;
	struct evbuffer	*b, *form[4] = { NULL, NULL, NULL, NULL };
	struct timespec	 now;
	int		 i, json, stamp;

	clock_gettime(CLOCK_REALTIME, &now);
	TAILQ_FOREACH(c, &ctl->clients, entry) {
		if (!c->listening || c->closing)
			continue;
		if (v == NULL || events_name(event) == NULL) {
			c->lost += lost;
			continue;
		}
		if (!event_wanted(c, event, v) || (b = evbuffer_new()) ==
		    NULL)
			continue;
		if (c->lost > 0) {
			if (c->flags & CTL_F_JSON)
				evbuffer_add_printf(b, "{\"lost\":%" PRIu64
				    "}\n", c->lost);
			else
				evbuffer_add_printf(b, "lost %" PRIu64
				    " events\n", c->lost);
			c->lost = 0;
		}
		json = (c->flags & CTL_F_JSON) != 0;
		stamp = c->filter.timestamp != 0;
		i = json * 2 + stamp;
		if (form[i] == NULL && (form[i] = evbuffer_new()) != NULL)
			event_print(form[i], json, stamp ? &now : NULL, event,
			    v);
		if (form[i] != NULL)
			evbuffer_add(b, evbuffer_pullup(form[i], -1),
			    evbuffer_get_length(form[i]));
		client_data(c, b);
		evbuffer_free(b);
	}
	for (i = 0; i < 4; i++)
		if (form[i] != NULL)
			evbuffer_free(form[i]);
}
