/*
 * control_table.c - nfqspictl conntrack: the table listed, counted,
 * deleted from or flushed, a slice at a time
 *
 * Copyright (C) 2026 The nfqspid authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * Which connections: conntrack(8)'s filters (ctfilter.c), matched on
 * each connection's view in the worker's thread.  A delete that matches
 * nothing fails, as conntrack -D does.
 *
 * The tables belong to the workers: we reach them only through
 * worker_slice(), and a listing or a delete goes in slices of
 * CONTROL_SLICE entries, one slice per turn of the main loop and only
 * while the client keeps up, so neither a huge table nor a slow client
 * holds a worker for long or makes us buffer the whole table.  Each
 * connection is printed from its view (ct_view.h) in the worker's
 * thread.
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
#include "sdping.h"

struct slice {
	int		 json;
	int		 first;
	int		 remove;
	int		 print;
	int		 all;
	const struct ctf *filter;
	struct evbuffer	*out;
	uint64_t	 matched;
};

static void
slice_line(struct slice *s, const struct ct_view *v)
{
	char		 line[CT_VIEW_BUFLEN];
	int		 n;

	if (s->json)
		n = ct_view_json(v, NULL, line, sizeof(line));
	else
		n = ct_view_text(v, CT_VIEW_PROC, line, sizeof(line));
	if (n < 0 || (size_t)n >= sizeof(line))
		return;		/* cannot happen: test_ct_view's test_buflen */
	if (s->json) {
		evbuffer_add(s->out, s->first ? "\n" : ",\n", s->first ? 1 : 2);
		s->first = 0;
	}
	evbuffer_add(s->out, line, (size_t)n);
	if (!s->json)
		evbuffer_add(s->out, "\n", 1);
}

/* v is NULL for a flush (s->all), which never prints */
static void
slice_visit(struct ct_table *t, struct ct_entry *e, struct ct_view *v,
    void *arg)
{
	struct slice	*s = arg;

	/* The filters look at the connection's fields, never its line. */
	if (!s->all && !ctf_match(s->filter, v))
		return;
	s->matched++;
	if (s->print)
		slice_line(s, v);
	if (s->remove)
		ct_remove(t, e);
}

/*
 * One slice of a listing or a delete.  Runs from ev_step, so every slice
 * is a separate turn of the main loop: other clients and signals get in
 * between, and a worker is held for CONTROL_SLICE entries at most.
 */
void
control_table_step(evutil_socket_t fd, short ev, void *arg)
{
	struct client	*c = arg;
	struct control	*ctl = c->ctl;
	struct evbuffer	*out = bufferevent_get_output(c->bev);
	struct evbuffer	*buf;
	struct slice	 s;
	struct ct_slice	 cs;
	int		 json = (c->flags & CTL_F_JSON) != 0, rc;

	if (c->closing || c->job == JOB_NONE || c->job == JOB_EVENTS)
		return;
	if (evbuffer_get_length(out) > CONTROL_LOWAT)
		return;		/* client_write() calls us again */
	if ((buf = evbuffer_new()) == NULL) {
		client_error(c, "out of memory");
		client_done(c);
		return;
	}
	if (c->wi < ctl->nworkers) {
		memset(&s, 0, sizeof(s));
		s.json = json;
		s.first = c->first;
		s.remove = c->job == JOB_CT_DELETE;
		s.all = c->all;
		/* A delete lists what it removes, as conntrack -D does; a
		   flush stays quiet, as conntrack -F does. */
		s.print = c->job == JOB_CT_LIST ||
		    (c->job == JOB_CT_DELETE && !c->all && !json);
		s.filter = &c->filter;
		s.out = buf;
		memset(&cs, 0, sizeof(cs));
		cs.wi = c->wi;
		cs.cursor = c->cursor;
		cs.noview = c->all;
		cs.fn = slice_visit;
		cs.arg = &s;
		/* a listing is a question, bounded; a delete changes the
		   tables: it waits (worker_call_within()) */
		cs.wait_ms = s.remove ? 0 : WORKER_QUERY_MS;
		/* ... with systemd's pings meanwhile (sdping.h) */
		if (s.remove)
			sdping_begin(SDPING_CALL);
		rc = worker_slice(ctl->workers, ctl->nworkers, &cs,
		    CONTROL_SLICE);
		if (s.remove)
			sdping_end();
		if (rc == -1) {
			evbuffer_free(buf);
			client_worker_error(c, c->wi);
			client_done(c);
			return;
		}
		c->first = s.first;
		c->count += s.matched;
		c->wi = cs.wi;
		c->cursor = cs.cursor;
	}
	if (c->wi >= ctl->nworkers) {
		if (c->job == JOB_CT_LIST && json)
			evbuffer_add_printf(buf, "%s]\n", c->first ? "" : "\n");
		else if (c->job == JOB_CT_DELETE && json)
			evbuffer_add_printf(buf, "{\"%s\":%" PRIu64 "}\n",
			    c->all ? "flushed" : "deleted", c->count);
		else if (c->job == JOB_CT_COUNT)
			evbuffer_add_printf(buf, json ? "{\"count\":%" PRIu64
			    "}\n" : "%" PRIu64 "\n", c->count);
		client_data(c, buf);
		evbuffer_free(buf);
		if (c->job == JOB_CT_DELETE && !c->all && c->count == 0) {
			/* as conntrack -D: nothing matched is a failure */
			client_error(c, "0 connections deleted");
		} else if (c->job == JOB_CT_DELETE) {
			char	 note[128];

			/* what went has left the kernel's fast path too
			   before we answer */
			if (ctl->info->fpd != NULL &&
			    fpd_sync(ctl->info->fpd) == -1)
				log_warn("control: conntrack %s: fast path",
				    c->all ? "flush" : "delete");

			snprintf(note, sizeof(note), "%" PRIu64 " connection%s "
			    "%s", c->count, c->count == 1 ? "" : "s",
			    c->all ? "flushed" : "deleted");
			log_info("control: conntrack %s: %s",
			    c->all ? "flush" : "delete", note);
			/* with -j the JSON says it: stderr is for errors */
			client_end(c, json ? NULL : note);
		} else
			client_end(c, NULL);
		client_done(c);
		return;
	}
	client_data(c, buf);
	evbuffer_free(buf);
	if (evbuffer_get_length(out) <= CONTROL_LOWAT)
		event_active(c->ev_step, EV_TIMEOUT, 0);
}

static void
job_start(struct client *c, enum job job)
{
	c->job = job;
	c->wi = 0;
	c->cursor = 0;
	c->first = 1;
	c->count = 0;
	/* One request at a time: the next waits in the socket. */
	bufferevent_disable(c->bev, EV_READ);
	if (job == JOB_CT_LIST && (c->flags & CTL_F_JSON)) {
		struct evbuffer	*out = bufferevent_get_output(c->bev);
		uint8_t		 hdr[CTL_HDRLEN];

		if (ctl_hdr_encode(hdr, CTL_T_DATA, c->flags, 1) == 0) {
			evbuffer_add(out, hdr, sizeof(hdr));
			evbuffer_add(out, "[", 1);
		}
	}
	event_active(c->ev_step, EV_TIMEOUT, 0);
}

/* conntrack count without filters: each table knows its size */
static int
count_all(struct client *c, struct evbuffer *b)
{
	struct control	*ctl = c->ctl;
	size_t		 total;
	unsigned	 i;

	if (worker_ct_count_all(ctl->workers, ctl->nworkers, &total,
	    &i) == -1) {
		client_worker_error(c, i);
		return (-1);
	}
	if (c->flags & CTL_F_JSON)
		evbuffer_add_printf(b, "{\"count\":%zu}\n", total);
	else
		evbuffer_add_printf(b, "%zu\n", total);
	return (0);
}

/*
 * conntrack [FILTER...], conntrack count [FILTER...], conntrack flush,
 * conntrack delete FILTER...: the filters are conntrack(8)'s
 * (ctfilter.h), delete's KEY=VALUE form too.
 */
int
cmd_conntrack(struct client *c, struct evbuffer *b)
{
	struct ctl_request *r = &c->req;
	const char	*sub = r->argc > 1 ? r->argv[1] : "";
	char		 err[256];
	int		 first = 2;
	unsigned	 flags = CTF_F_KEYVAL;
	enum job	 job;

	c->all = 0;
	if (strcmp(sub, "flush") == 0) {
		if (r->argc != 2) {
			client_error(c, "usage: conntrack flush");
			return (-1);
		}
		c->all = 1;
		job_start(c, JOB_CT_DELETE);
		return (1);
	}
	if (strcmp(sub, "count") == 0)
		job = JOB_CT_COUNT;
	else if (strcmp(sub, "delete") == 0) {
		job = JOB_CT_DELETE;
		flags |= CTF_F_NEEDONE;
	} else {
		job = JOB_CT_LIST;
		first = 1;
	}
	if (ctf_parse(&c->filter, r->argc - first, r->argv + first, flags,
	    err, sizeof(err)) == -1) {
		client_error(c, "conntrack%s%s: %s", first == 2 ? " " : "",
		    first == 2 ? sub : "", err);
		return (-1);
	}
	if (job == JOB_CT_COUNT && !(c->filter.has & CTF_H_CONN))
		return (count_all(c, b));
	job_start(c, job);
	return (1);
}
