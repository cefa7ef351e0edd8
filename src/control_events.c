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
 */
#include "autoconf.h"		/* first: _GNU_SOURCE */

#include <sys/types.h>
#include <netinet/in.h>

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "control.h"

/*
 * `events`: the client stays until it goes; no read timeout (it sends
 * nothing more), the write timeout stays (a client that takes nothing
 * for CONTROL_WRITE_TIMEOUT is dropped).
 */
void
cmd_events(struct client *c)
{
	struct timeval	 wtv = { CONTROL_WRITE_TIMEOUT, 0 };

	if (c->req.argc > 1) {
		client_error(c, "events takes no arguments");
		return;
	}
	if (c->ctl->events == NULL) {
		client_error(c, "events are not available");
		return;
	}
	c->job = JOB_EVENTS;
	c->listening = 1;
	c->lost = 0;
	bufferevent_set_timeouts(c->bev, NULL, &wtv);
	events_subscribe(c->ctl->events, 1);
	log_debug("%s: a client listens to events", __func__);
}

/*
 * "    [NEW] tcp      6 120 SYN_SENT src=...", as conntrack -E prints
 * it; -j: the connection's JSON with "event" first.
 */
static void
event_print(struct evbuffer *b, int json, int event, const struct ct_view *v)
{
	char	 line[CT_VIEW_BUFLEN], tag[32];
	int	 n;

	if (json) {
		snprintf(tag, sizeof(tag), "\"event\":\"%s\"",
		    events_name(event));
		n = ct_view_json(v, tag, line, sizeof(line));
	} else {
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

/* The sink of events.c: every listener gets the line, or counts it lost. */
void
control_events(void *arg, int event, const struct ct_view *v, uint64_t lost)
{
	struct control	*ctl = arg;
	struct client	*c;
	struct evbuffer	*b, *text = NULL, *json = NULL;

	TAILQ_FOREACH(c, &ctl->clients, entry) {
		if (!c->listening || c->closing)
			continue;
		if (v == NULL || events_name(event) == NULL) {
			c->lost += lost;
			continue;
		}
		if (evbuffer_get_length(bufferevent_get_output(c->bev)) >
		    CONTROL_EVENTS_MAX) {
			c->lost++;
			continue;
		}
		b = evbuffer_new();
		if (b == NULL) {
			c->lost++;
			continue;
		}
		if (c->lost > 0) {
			if (c->flags & CTL_F_JSON)
				evbuffer_add_printf(b, "{\"lost\":%" PRIu64
				    "}\n", c->lost);
			else
				evbuffer_add_printf(b, "lost %" PRIu64
				    " events\n", c->lost);
			c->lost = 0;
		}
		if (c->flags & CTL_F_JSON) {
			if (json == NULL && (json = evbuffer_new()) != NULL)
				event_print(json, 1, event, v);
			if (json != NULL)
				evbuffer_add(b, evbuffer_pullup(json, -1),
				    evbuffer_get_length(json));
		} else {
			if (text == NULL && (text = evbuffer_new()) != NULL)
				event_print(text, 0, event, v);
			if (text != NULL)
				evbuffer_add(b, evbuffer_pullup(text, -1),
				    evbuffer_get_length(text));
		}
		client_data(c, b);
		evbuffer_free(b);
	}
	if (text != NULL)
		evbuffer_free(text);
	if (json != NULL)
		evbuffer_free(json);
}

