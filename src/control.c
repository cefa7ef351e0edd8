/*
 * control.c - the control socket nfqspictl talks to, in the main thread
 *
 * Copyright (C) 2026 The nfqspid authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * One request per frame (ctlproto.h), answered with DATA frames and one
 * END or ERROR.  The tables belong to the workers: we reach them only
 * through worker_call(), and a listing or a delete goes in slices of
 * CONTROL_SLICE entries, one slice per turn of the main loop and only
 * while the client keeps up, so neither a huge table nor a slow client
 * holds a worker for long or makes us buffer the whole table.
 *
 * A client is bounded in every way: at most CONTROL_MAXCLIENTS at once,
 * CONTROL_MAXMSG of input, CONTROL_READ_TIMEOUT to send a request and
 * CONTROL_WRITE_TIMEOUT to take what we send.  Anything else is
 * answered with an error and the connection closed.
 *
 * Who may talk: the socket is 0660, owner root, group the daemon's, so
 * the file system keeps everyone else out.  Behind that, the peer's
 * credentials (SO_PEERCRED, SO_PEERGROUPS) are checked at accept: only
 * root or a member of the daemon's group may change state (conntrack
 * flush and delete, reload); anyone who got in otherwise (a socket made
 * 0666 by hand, a file descriptor passed on) may only read.
 */
#include "autoconf.h"		/* first: _GNU_SOURCE */

#include <sys/types.h>
#include <sys/queue.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <netinet/in.h>

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <inttypes.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>

#include "nfqspid.h"
#include "ctlproto.h"

#define CONTROL_MAXCLIENTS	16
#define CONTROL_BACKLOG		16
#define CONTROL_READ_TIMEOUT	10	/* seconds to send a request */
#define CONTROL_WRITE_TIMEOUT	30	/* seconds without taking output */
#define CONTROL_ACCEPT_PAUSE	1	/* seconds, after EMFILE */
#define CONTROL_SLICE		1024	/* entries per worker_call() */
#define CONTROL_LOWAT		(64 * 1024)	/* produce more below this */
#define CONTROL_EVENTS_MAX	(1024 * 1024)	/* output buffered for an
						   events client, at most */

enum job {
	JOB_NONE = 0,
	JOB_CT_LIST,
	JOB_CT_DELETE,		/* flush too: a delete that matches all */
	JOB_EVENTS		/* until the client goes */
};

struct control;

struct client {
	TAILQ_ENTRY(client)	 entry;
	struct control		*ctl;
	struct bufferevent	*bev;
	struct event		*ev_step;
	int			 closing;	/* free once output is sent */
	uint32_t		 flags;		/* the request's CTL_F_* */
	int			 listening;	/* events: subscribed */
	int			 privileged;	/* may change state */
	uid_t			 uid;		/* the peer's, SO_PEERCRED */
	pid_t			 pid;
	uint64_t		 lost;		/* events not sent yet */

	/* a command that takes more than one slice */
	enum job		 job;
	unsigned		 wi;		/* worker we are at */
	uint64_t		 cursor;	/* its ct_walk() cursor */
	int			 first;		/* no JSON element yet */
	uint64_t		 count;		/* listed or removed */
	int			 all;		/* delete: no filter */
	struct ctl_filter	 filter;

	struct ctl_request	 req;
};

TAILQ_HEAD(clientlist, client);

struct control {
	struct event_base	*base;
	char			 path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	int			 fd;
	struct event		*ev_accept;
	struct event		*ev_pause;
	const struct daemon_info *info;
	struct worker		**workers;
	unsigned		 nworkers;
	struct events		*events;	/* NULL: none */
	int			(*reload)(void *, char *, size_t);
	void			*reload_arg;
	struct clientlist	 clients;
	unsigned		 nclients;
	gid_t			 gid;		/* the daemon's group */
};

static void	 control_accept(evutil_socket_t, short, void *);
static void	 control_resume(evutil_socket_t, short, void *);
static void	 client_free(struct client *);
static void	 client_read(struct bufferevent *, void *);
static void	 client_write(struct bufferevent *, void *);
static void	 client_event(struct bufferevent *, short, void *);
static void	 client_step(evutil_socket_t, short, void *);
static void	 client_request(struct client *);
static void	 client_error(struct client *, const char *, ...)
		    NFQSPI_PRINTF(2, 3);
static void	 control_events(void *, int, const struct ct_view *,
		    uint64_t);

/* ---- the socket --------------------------------------------------- */

static int
sun_fill(struct sockaddr_un *sun, const char *path)
{
	size_t	 len = strlen(path);

	memset(sun, 0, sizeof(*sun));
	sun->sun_family = AF_UNIX;
	if (len >= sizeof(sun->sun_path)) {
		errno = ENAMETOOLONG;
		return (-1);
	}
	memcpy(sun->sun_path, path, len + 1);
	return (0);
}

/*
 * Remove a socket left behind by a daemon that died, but never one a
 * live daemon still answers on, nor anything that is not a socket.
 */
static int
control_clear(const char *path)
{
	struct sockaddr_un	 sun;
	struct stat		 st;
	int			 fd, rv, saved;

	if (lstat(path, &st) == -1)
		return (errno == ENOENT ? 0 : -1);
	if (!S_ISSOCK(st.st_mode)) {
		log_warnx("control socket %s exists and is not a socket", path);
		errno = EEXIST;
		return (-1);
	}
	if (sun_fill(&sun, path) == -1)
		return (-1);
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
	    0)) == -1)
		return (-1);
	rv = connect(fd, (struct sockaddr *)&sun, sizeof(sun));
	saved = errno;
	close(fd);
	/* EAGAIN: a listener whose backlog is full is alive too. */
	if (rv == 0 || saved == EAGAIN || saved == EINPROGRESS) {
		log_warnx("control socket %s: another nfqspid answers on it",
		    path);
		errno = EADDRINUSE;
		return (-1);
	}
	if (saved != ECONNREFUSED) {
		errno = saved;
		return (-1);
	}
	log_debug("%s: removing stale %s", __func__, path);
	if (unlink(path) == -1 && errno != ENOENT)
		return (-1);
	return (0);
}

/*
 * Owner root, group the daemon's: with [daemon] user, that user's group
 * may talk to the daemon, as it does after dropping privileges.
 */
static int
control_chown(const char *path, const struct daemon_info *info, gid_t *gid)
{
	struct passwd	*pw;

	*gid = getegid();
	if (info->cfg == NULL || info->cfg->user[0] == '\0')
		return (0);
	errno = 0;
	if ((pw = getpwnam(info->cfg->user)) == NULL) {
		log_warnx("control socket %s: no user %s", path,
		    info->cfg->user);
		if (errno == 0)
			errno = ENOENT;
		return (-1);
	}
	if (chown(path, 0, pw->pw_gid) == -1) {
		log_warn("control socket %s: chown", path);
		return (-1);
	}
	*gid = pw->pw_gid;
	return (0);
}

/*
 * May this peer change state?  Root, or a member of the daemon's group
 * (primary or supplementary).  Anything we cannot find out is a no.
 */
static int
control_peer_privileged(int fd, gid_t gid, uid_t *uid, pid_t *pid)
{
	struct ucred	 cred;
	socklen_t	 len = sizeof(cred);
	gid_t		 few[64], *groups = few;
	size_t		 i, n;
	int		 yes = 0;

	*uid = (uid_t)-1;
	*pid = 0;
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) == -1 ||
	    len != sizeof(cred))
		return (0);
	*uid = cred.uid;
	*pid = cred.pid;
	if (cred.uid == 0 || cred.gid == gid)
		return (1);
	len = sizeof(few);
	if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, groups, &len) == -1) {
		/* ERANGE: len says how much it takes */
		if (errno != ERANGE || (groups = malloc(len)) == NULL)
			return (0);
		if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, groups,
		    &len) == -1) {
			free(groups);
			return (0);
		}
	}
	n = len / sizeof(groups[0]);
	for (i = 0; i < n && !yes; i++)
		yes = groups[i] == gid;
	if (groups != few)
		free(groups);
	return (yes);
}

struct control *
control_open(struct event_base *base, const char *path,
    const struct daemon_info *info, struct worker **workers,
    unsigned nworkers, struct events *events,
    int (*reload)(void *, char *, size_t), void *reload_arg)
{
	struct control		*ctl;
	struct sockaddr_un	 sun;
	mode_t			 omask;
	int			 saved;

	if (base == NULL || path == NULL || *path == '\0' || info == NULL) {
		errno = EINVAL;
		return (NULL);
	}
	if (sun_fill(&sun, path) == -1)
		return (NULL);
	if (control_clear(path) == -1)
		return (NULL);
	if ((ctl = calloc(1, sizeof(*ctl))) == NULL)
		return (NULL);
	ctl->base = base;
	snprintf(ctl->path, sizeof(ctl->path), "%s", path);
	ctl->info = info;
	ctl->workers = workers;
	ctl->nworkers = nworkers;
	ctl->events = events;
	ctl->reload = reload;
	ctl->reload_arg = reload_arg;
	TAILQ_INIT(&ctl->clients);

	if ((ctl->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, 0)) == -1)
		goto fail;
	/* Created 0660 right away, not chmod()ed after a window. */
	omask = umask(0117);
	if (bind(ctl->fd, (struct sockaddr *)&sun, sizeof(sun)) == -1) {
		saved = errno;
		umask(omask);
		errno = saved;
		goto fail;
	}
	umask(omask);
	if (chmod(path, 0660) == -1 ||
	    control_chown(path, info, &ctl->gid) == -1 ||
	    listen(ctl->fd, CONTROL_BACKLOG) == -1)
		goto fail_unlink;
	if ((ctl->ev_accept = event_new(base, ctl->fd, EV_READ | EV_PERSIST,
	    control_accept, ctl)) == NULL ||
	    (ctl->ev_pause = evtimer_new(base, control_resume, ctl)) ==
	    NULL || event_add(ctl->ev_accept, NULL) == -1) {
		errno = ENOMEM;
		goto fail_unlink;
	}
	if (events != NULL)
		events_set_sink(events, control_events, ctl);
	log_debug("%s: listening on %s", __func__, path);
	return (ctl);

 fail_unlink:
	saved = errno;
	unlink(path);
	errno = saved;
 fail:
	saved = errno;
	if (ctl->ev_accept != NULL)
		event_free(ctl->ev_accept);
	if (ctl->ev_pause != NULL)
		event_free(ctl->ev_pause);
	if (ctl->fd != -1)
		close(ctl->fd);
	free(ctl);
	errno = saved;
	return (NULL);
}

void
control_close(struct control *ctl)
{
	struct client	*c;

	if (ctl == NULL)
		return;
	while ((c = TAILQ_FIRST(&ctl->clients)) != NULL)
		client_free(c);
	if (ctl->events != NULL)
		events_set_sink(ctl->events, NULL, NULL);
	event_free(ctl->ev_accept);
	event_free(ctl->ev_pause);
	close(ctl->fd);
	unlink(ctl->path);
	free(ctl);
}

static void
control_resume(evutil_socket_t fd, short ev, void *arg)
{
	struct control	*ctl = arg;

	event_add(ctl->ev_accept, NULL);
}

/* A frame written straight to a socket we are about to close. */
static void
reject_fd(int fd, const char *msg)
{
	uint8_t	 buf[CTL_HDRLEN + 128];
	ssize_t	 n;

	n = ctl_encode(buf, sizeof(buf), CTL_T_ERROR, 0, msg, strlen(msg));
	/* best effort: a fresh socket's buffer takes this at once */
	if (n > 0 && write(fd, buf, (size_t)n) == -1)
		log_debug("%s: %s", __func__, strerror(errno));
}

static void
control_accept(evutil_socket_t lfd, short ev, void *arg)
{
	struct control	*ctl = arg;
	struct client	*c;
	struct timeval	 rtv = { CONTROL_READ_TIMEOUT, 0 };
	struct timeval	 wtv = { CONTROL_WRITE_TIMEOUT, 0 };
	struct timeval	 pause = { CONTROL_ACCEPT_PAUSE, 0 };
	int		 fd;

	if ((fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) ==
	    -1) {
		switch (errno) {
		case EINTR:
		case EAGAIN:
		case ECONNABORTED:
			return;
		case EMFILE:
		case ENFILE:
		case ENOBUFS:
		case ENOMEM:
			/* Out of descriptors: stop accepting for a while
			   rather than spin on a readable listener. */
			log_warn("control: accept");
			event_del(ctl->ev_accept);
			evtimer_add(ctl->ev_pause, &pause);
			return;
		default:
			log_warn("control: accept");
			return;
		}
	}
	if (ctl->nclients >= CONTROL_MAXCLIENTS) {
		log_warnx("control: too many clients, refusing one");
		reject_fd(fd, "too many clients");
		close(fd);
		return;
	}
	if ((c = calloc(1, sizeof(*c))) == NULL) {
		log_warn("control: client");
		close(fd);
		return;
	}
	c->ctl = ctl;
	c->privileged = control_peer_privileged(fd, ctl->gid, &c->uid,
	    &c->pid);
	if ((c->bev = bufferevent_socket_new(ctl->base, fd,
	    BEV_OPT_CLOSE_ON_FREE)) == NULL) {
		log_warnx("control: bufferevent_socket_new failed");
		close(fd);
		free(c);
		return;
	}
	if ((c->ev_step = event_new(ctl->base, -1, 0, client_step, c)) ==
	    NULL) {
		log_warnx("control: event_new failed");
		bufferevent_free(c->bev);
		free(c);
		return;
	}
	bufferevent_setcb(c->bev, client_read, client_write, client_event, c);
	/* Never more input than one whole frame. */
	bufferevent_setwatermark(c->bev, EV_READ, 0, CTL_MAXMSG);
	bufferevent_setwatermark(c->bev, EV_WRITE, CONTROL_LOWAT, 0);
	bufferevent_set_timeouts(c->bev, &rtv, &wtv);
	bufferevent_enable(c->bev, EV_READ | EV_WRITE);
	TAILQ_INSERT_TAIL(&ctl->clients, c, entry);
	ctl->nclients++;
	log_debug("%s: client %d (%u now)", __func__, fd, ctl->nclients);
}

/* ---- clients ------------------------------------------------------ */

static void
client_free(struct client *c)
{
	struct control	*ctl = c->ctl;

	TAILQ_REMOVE(&ctl->clients, c, entry);
	ctl->nclients--;
	if (c->listening)
		events_subscribe(ctl->events, -1);
	event_free(c->ev_step);
	bufferevent_free(c->bev);
	free(c);
}

/* Close once everything queued has been written. */
static void
client_close(struct client *c)
{
	c->closing = 1;
	c->job = JOB_NONE;
	bufferevent_disable(c->bev, EV_READ);
	bufferevent_setwatermark(c->bev, EV_WRITE, 0, 0);
	if (evbuffer_get_length(bufferevent_get_output(c->bev)) == 0)
		client_free(c);
}

static void
client_frame(struct client *c, uint16_t type, const void *p, size_t len)
{
	struct evbuffer	*out = bufferevent_get_output(c->bev);
	uint8_t		 hdr[CTL_HDRLEN];

	if (len > CTL_MAXPAYLOAD)
		len = CTL_MAXPAYLOAD;
	if (ctl_hdr_encode(hdr, type, c->flags, len) == -1)
		return;
	evbuffer_add(out, hdr, sizeof(hdr));
	if (len > 0)
		evbuffer_add(out, p, len);
}

/*
 * Move buf to the client as DATA frames, each cut after a newline when
 * one is in reach, so a reader may treat every frame as whole lines.
 */
static void
client_data(struct client *c, struct evbuffer *buf)
{
	struct evbuffer	*out = bufferevent_get_output(c->bev);
	uint8_t		 hdr[CTL_HDRLEN];
	unsigned char	*p, *nl;
	size_t		 len, n;

	while ((len = evbuffer_get_length(buf)) > 0) {
		n = len;
		if (n > CTL_MAXPAYLOAD) {
			n = CTL_MAXPAYLOAD;
			if ((p = evbuffer_pullup(buf, (ev_ssize_t)n)) != NULL &&
			    (nl = memrchr(p, '\n', n)) != NULL)
				n = (size_t)(nl - p) + 1;
		}
		if (ctl_hdr_encode(hdr, CTL_T_DATA, c->flags, n) == -1)
			return;
		evbuffer_add(out, hdr, sizeof(hdr));
		evbuffer_remove_buffer(buf, out, n);
	}
}

/* The answer is complete; note, if any, is for the operator's stderr. */
static void
client_end(struct client *c, const char *note)
{
	client_frame(c, CTL_T_END, note, note ? strlen(note) : 0);
}

static void
client_error(struct client *c, const char *fmt, ...)
{
	char	 msg[512];
	va_list	 ap;
	int	 n;

	va_start(ap, fmt);
	n = vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (n < 0)
		n = 0;
	if ((size_t)n >= sizeof(msg))
		n = sizeof(msg) - 1;
	c->job = JOB_NONE;
	client_frame(c, CTL_T_ERROR, msg, (size_t)n);
}

/* The answer is complete: take the next request, if any. */
static void
client_done(struct client *c)
{
	if (c->closing)
		return;
	c->job = JOB_NONE;
	bufferevent_enable(c->bev, EV_READ);
	/* A request that arrived meanwhile gets no new read event. */
	if (evbuffer_get_length(bufferevent_get_input(c->bev)) > 0)
		client_read(c->bev, c);
}

static void
client_read(struct bufferevent *bev, void *arg)
{
	struct client	*c = arg;
	struct evbuffer	*in = bufferevent_get_input(bev);
	struct ctl_msg	 m;
	uint8_t		 hdr[CTL_HDRLEN];
	uint8_t		*p;
	size_t		 avail, n;
	ssize_t		 flen;
	int		 inreq = 0;	/* the header was fine */

	/* An events client has nothing more to say; we read to see it go. */
	if (c->job == JOB_EVENTS) {
		evbuffer_drain(in, evbuffer_get_length(in));
		return;
	}
	/* Every whole request already here, unless one starts a job. */
	while (!c->closing && c->job == JOB_NONE) {
		avail = evbuffer_get_length(in);
		n = avail < CTL_HDRLEN ? avail : CTL_HDRLEN;
		if (n == 0)
			return;
		evbuffer_copyout(in, hdr, n);
		memset(&m, 0, sizeof(m));
		if (n < CTL_HDRLEN) {
			if (ctl_frame_len(hdr, n) == -1)
				goto bad;
			return;
		}
		if ((flen = ctl_hdr_decode(hdr, CTL_HDRLEN, &m)) == -1)
			goto bad;
		if ((size_t)flen > avail)
			return;		/* the rest is on its way */
		if ((p = evbuffer_pullup(in, flen)) == NULL) {
			client_error(c, "out of memory");
			client_close(c);
			return;
		}
		inreq = 1;
		if (ctl_decode(p, (size_t)flen, &m) == -1 ||
		    ctl_decode_request(&m, &c->req) == -1) {
			evbuffer_drain(in, (size_t)flen);
			goto bad;
		}
		evbuffer_drain(in, (size_t)flen);
		c->flags = c->req.flags;
		client_request(c);
	}
	return;

 bad:
	c->flags = 0;
	if (errno == EPROTONOSUPPORT)
		client_error(c, "protocol version %u is not supported "
		    "(nfqspid speaks %u)", m.version, CTL_VERSION);
	else if (errno == EMSGSIZE)
		client_error(c, "message too large");
	else if (errno == EINVAL && inreq)
		client_error(c, "too many or too long arguments");
	else if (errno == EINVAL)
		client_error(c, "unknown flags 0x%x", m.flags);
	else
		client_error(c, "malformed request");
	log_debug("%s: bad frame: %s", __func__, strerror(errno));
	client_close(c);
}

static void
client_write(struct bufferevent *bev, void *arg)
{
	struct client	*c = arg;

	if (c->closing) {
		if (evbuffer_get_length(bufferevent_get_output(bev)) == 0)
			client_free(c);
		return;
	}
	/* The client took what we had: the next slice. */
	if (c->job != JOB_NONE && c->job != JOB_EVENTS)
		event_active(c->ev_step, EV_TIMEOUT, 0);
}

static void
client_event(struct bufferevent *bev, short what, void *arg)
{
	struct client	*c = arg;

	if (what & BEV_EVENT_TIMEOUT)
		log_debug("%s: client timed out", __func__);
	else if (what & BEV_EVENT_ERROR)
		log_debug("%s: client: %s", __func__, strerror(errno));
	client_free(c);
}

/* ---- talking to the workers --------------------------------------- */

struct slice {
	struct ct_table	*t;
	const struct config *cfg;
	uint64_t	 now;
	uint64_t	 cursor;
	int		 json;
	int		 first;
	int		 remove;
	int		 all;
	const struct ctl_filter *filter;
	struct evbuffer	*out;
	uint64_t	 matched;
	int		 nomem;
};

static void
slice_line(struct slice *s, struct ct_entry *e)
{
	struct ct_view	 v;
	char		 line[CT_VIEW_BUFLEN];
	int		 n;

	ct_view_fill(&v, e, s->now);
	if (v.rule < s->cfg->nrules)
		v.rule_name = s->cfg->rules[v.rule].name;
	if (s->json) {
		n = ct_view_json(&v, NULL, line, sizeof(line));
		evbuffer_add(s->out, s->first ? "\n" : ",\n", s->first ? 1 : 2);
		s->first = 0;
	} else
		n = ct_view_text(&v, CT_VIEW_PROC, line, sizeof(line));
	if (n < 0 || (size_t)n >= sizeof(line)) {
		s->nomem = 1;		/* cannot happen: CT_VIEW_BUFLEN */
		return;
	}
	evbuffer_add(s->out, line, (size_t)n);
	if (!s->json)
		evbuffer_add(s->out, "\n", 1);
}

static int
slice_visit(struct ct_table *t, struct ct_entry *e, void *arg)
{
	struct slice	*s = arg;
	union pkt_addr	 src, dst;
	uint16_t	 sport, dport;
	uint8_t		 family, proto;

	if (s->remove && !s->all) {
		ct_entry_tuple(e, &family, &proto, &src, &dst, &sport, &dport);
		if (!ctl_filter_match(s->filter, family, proto, &src, &dst,
		    sport, dport))
			return (0);
	}
	s->matched++;
	/* A delete lists what it removes, as conntrack -D does; a flush
	   stays quiet, as conntrack -F does. */
	if (!s->remove || (!s->all && !s->json))
		slice_line(s, e);
	if (s->remove)
		ct_remove(t, e);
	return (0);
}

static void
w_slice(struct worker *w, void *arg)
{
	struct slice	*s = arg;

	s->t = worker_ct(w);
	s->cfg = worker_config(w);
	s->now = worker_now_ms();
	ct_walk(s->t, &s->cursor, CONTROL_SLICE, slice_visit, s);
}

/*
 * One slice of a listing or a delete.  Runs from ev_step, so every slice
 * is a separate turn of the main loop: other clients and signals get in
 * between, and a worker is held for CONTROL_SLICE entries at most.
 */
static void
client_step(evutil_socket_t fd, short ev, void *arg)
{
	struct client	*c = arg;
	struct control	*ctl = c->ctl;
	struct evbuffer	*out = bufferevent_get_output(c->bev);
	struct evbuffer	*buf;
	struct slice	 s;
	int		 json = (c->flags & CTL_F_JSON) != 0;

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
		s.cursor = c->cursor;
		s.json = json;
		s.first = c->first;
		s.remove = c->job == JOB_CT_DELETE;
		s.all = c->all;
		s.filter = &c->filter;
		s.out = buf;
		if (worker_call(ctl->workers[c->wi], w_slice, &s) == -1) {
			evbuffer_free(buf);
			client_error(c, "worker %u is not running", c->wi);
			client_done(c);
			return;
		}
		c->first = s.first;
		c->count += s.matched;
		/* ct_walk() sets the cursor to 0 once the table is done */
		if ((c->cursor = s.cursor) == 0)
			c->wi++;
		if (s.nomem)
			log_warnx("control: out of memory formatting a "
			    "connection");
	}
	if (c->wi >= ctl->nworkers) {
		if (c->job == JOB_CT_LIST && json)
			evbuffer_add_printf(buf, "%s]\n", c->first ? "" : "\n");
		else if (c->job == JOB_CT_DELETE && json)
			evbuffer_add_printf(buf, "{\"%s\":%" PRIu64 "}\n",
			    c->all ? "flushed" : "deleted", c->count);
		client_data(c, buf);
		evbuffer_free(buf);
		if (c->job == JOB_CT_DELETE) {
			char	 note[128];

			snprintf(note, sizeof(note), "%" PRIu64 " connection%s "
			    "%s", c->count, c->count == 1 ? "" : "s",
			    c->all ? "flushed" : "deleted");
			log_info("control: conntrack %s: %s",
			    c->all ? "flush" : "delete", note);
			client_end(c, note);
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

/* ---- events ------------------------------------------------------- */

/*
 * `events`: the client stays until it goes; no read timeout (it sends
 * nothing more), the write timeout stays (a client that takes nothing
 * for CONTROL_WRITE_TIMEOUT is dropped).
 */
static void
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
		evbuffer_add_printf(b, "%9s ", tag);
		n = ct_view_text(v, CT_VIEW_EVENT, line, sizeof(line));
	}
	if (n < 0 || (size_t)n >= sizeof(line))
		return;		/* cannot happen: CT_VIEW_BUFLEN */
	evbuffer_add(b, line, (size_t)n);
	evbuffer_add(b, "\n", 1);
}

/* The sink of events.c: every listener gets the line, or counts it lost. */
static void
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

/* ---- commands ----------------------------------------------------- */

/* nfqspictl status and stats: a snapshot, printed by status.c */
static int
status_or_stats(struct client *c, struct evbuffer *b, int stats)
{
	struct control	*ctl = c->ctl;
	struct status	 st;

	if (status_collect(&st, ctl->info, ctl->workers, ctl->nworkers) ==
	    -1) {
		if (errno == ESRCH)
			client_error(c, "worker %u is not running", st.dead);
		else
			client_error(c, "out of memory");
		return (-1);
	}
	if (stats)
		status_print_stats(b, ctl->info, &st, c->flags & CTL_F_JSON);
	else
		status_print(b, ctl->info, &st, c->flags & CTL_F_JSON);
	status_free(&st);
	return (0);
}

static int
cmd_status(struct client *c, struct evbuffer *b)
{
	return (status_or_stats(c, b, 0));
}

static int
cmd_stats(struct client *c, struct evbuffer *b)
{
	return (status_or_stats(c, b, 1));
}

static void
w_count(struct worker *w, void *arg)
{
	*(size_t *)arg = ct_count(worker_ct(w));
}

static int
cmd_conntrack(struct client *c, struct evbuffer *b)
{
	struct control	*ctl = c->ctl;
	struct ctl_request *r = &c->req;
	char		 err[256];
	size_t		 n, total = 0;
	unsigned	 i;
	int		 json = (c->flags & CTL_F_JSON) != 0;

	if (r->argc == 1) {
		job_start(c, JOB_CT_LIST);
		return (1);
	}
	if (strcmp(r->argv[1], "count") == 0) {
		if (r->argc != 2) {
			client_error(c, "usage: conntrack count");
			return (-1);
		}
		for (i = 0; i < ctl->nworkers; i++) {
			if (worker_call(ctl->workers[i], w_count, &n) == -1) {
				client_error(c, "worker %u is not running", i);
				return (-1);
			}
			total += n;
		}
		if (json)
			evbuffer_add_printf(b, "{\"count\":%zu}\n", total);
		else
			evbuffer_add_printf(b, "%zu\n", total);
		return (0);
	}
	if (strcmp(r->argv[1], "flush") == 0) {
		if (r->argc != 2) {
			client_error(c, "usage: conntrack flush");
			return (-1);
		}
		c->all = 1;
		job_start(c, JOB_CT_DELETE);
		return (1);
	}
	if (strcmp(r->argv[1], "delete") == 0) {
		if (ctl_filter_parse(&c->filter, r->argc - 2, r->argv + 2, err,
		    sizeof(err)) == -1) {
			client_error(c, "conntrack delete: %s", err);
			return (-1);
		}
		c->all = 0;
		job_start(c, JOB_CT_DELETE);
		return (1);
	}
	client_error(c, "conntrack: unknown argument \"%s\" (expected count, "
	    "flush or delete)", r->argv[1]);
	return (-1);
}

/* The ranges of a port set, found by asking it about every port. */
static void
print_ports(struct evbuffer *b, const char *key,
    const struct rule_portset *set, int json)
{
	uint32_t	 p, lo;
	int		 n = 0;

	if (set == NULL)
		return;
	evbuffer_add_printf(b, json ? ",\"%s\":\"" : " %s=", key);
	for (p = 0; p <= 65535; p++) {
		if (!rule_portset_match(set, (uint16_t)p))
			continue;
		lo = p;
		while (p < 65535 && rule_portset_match(set, (uint16_t)(p + 1)))
			p++;
		if (lo == p)
			evbuffer_add_printf(b, "%s%u", n++ ? "," : "", lo);
		else
			evbuffer_add_printf(b, "%s%u-%u", n++ ? "," : "", lo,
			    p);
	}
	if (json)
		evbuffer_add_printf(b, "\"");
}

static void
print_states(char *buf, size_t len, uint8_t mask)
{
	int	 s;
	size_t	 off = 0;

	buf[0] = '\0';
	for (s = 0; s < CT_STATE_MAX; s++) {
		if (!(mask & CT_STATE_BIT(s)))
			continue;
		off += (size_t)snprintf(buf + off, len - off, "%s%s",
		    off ? "," : "", rule_state_name(s));
		if (off >= len)
			break;
	}
}

static void
print_tcp_flags(char *buf, size_t len, uint8_t flags, uint8_t mask)
{
	static const char names[] = "FSRPAUEW";	/* pf's letters by bit */
	size_t	 off = 0;
	int	 i;

	for (i = 0; i < 8 && off + 1 < len; i++)
		if (flags & (1 << i))
			buf[off++] = names[i];
	if (off + 1 < len)
		buf[off++] = '/';
	for (i = 0; i < 8 && off + 1 < len; i++)
		if (mask & (1 << i))
			buf[off++] = names[i];
	buf[off] = '\0';
}

static void
print_ifaces(struct evbuffer *b, const char *key,
    const char ifs[][RULE_IFNAMSIZ], uint8_t n, int json)
{
	char	 q[RULE_IFNAMSIZ * 7];
	uint8_t	 i;

	if (n == 0)
		return;
	evbuffer_add_printf(b, json ? ",\"%s\":[" : " %s=", key);
	for (i = 0; i < n; i++) {
		if (json) {
			ctl_json_str(q, sizeof(q), ifs[i]);
			evbuffer_add_printf(b, "%s%s", i ? "," : "", q);
		} else
			evbuffer_add_printf(b, "%s%s", i ? "," : "", ifs[i]);
	}
	if (json)
		evbuffer_add_printf(b, "]");
}

static void
print_icmp_types(struct evbuffer *b, const uint32_t map[8], int json)
{
	unsigned	 t;
	int		 n = 0;

	evbuffer_add_printf(b, json ? ",\"icmp_type\":[" : " icmp_type=");
	for (t = 0; t < 256; t++)
		if (map[t / 32] & (1u << (t % 32)))
			evbuffer_add_printf(b, "%s%u", n++ ? "," : "", t);
	if (json)
		evbuffer_add_printf(b, "]");
}

static const char *
proto_name(const struct rule *r, char *buf, size_t len)
{
	if (!r->has_proto)
		return ("any");
	return (pkt_proto_name(r->proto, buf, len));
}

struct rcount_arg {
	uint64_t	*sum;		/* pairs: packets, bytes */
	size_t		 n;
	int		 mismatch;
};

static void
w_rcount(struct worker *w, void *arg)
{
	struct rcount_arg	*a = arg;
	const uint64_t		*k;
	size_t			 n, i;

	if ((k = worker_rule_counters(w, &n)) == NULL || n != a->n) {
		a->mismatch = 1;
		return;
	}
	for (i = 0; i < 2 * n; i++)
		a->sum[i] += k[i];
}

/* An address list as a JSON string; "any" for none. */
static void
print_addrs(struct evbuffer *b, const char *key,
    const struct rule_addrset *set, int json)
{
	const char	*t = rule_addrset_format(set);
	char		*q;
	size_t		 len = strlen(t) * 6 + 3;

	if (!json) {
		evbuffer_add_printf(b, "%-18s ", t);
		return;
	}
	if ((q = malloc(len)) == NULL)
		return;
	ctl_json_str(q, len, t);
	evbuffer_add_printf(b, ",\"%s\":%s", key, q);
	free(q);
}

/*
 * Like iptables -L -n -v -x: packets and bytes each rule decided, then
 * what the [policy] of each state decided.  A packet counts where it was
 * decided: on the rule that matched it (a NEW packet, a retransmit of the
 * first packet of a connection, or a packet of a state the rule names),
 * otherwise on its state's [policy] line; so the established packets of
 * a connection a rule let in count on "[policy] ESTABLISHED", as on an
 * iptables "-m conntrack --ctstate ESTABLISHED" rule.  Across a reload
 * a rule keeps its counters if it keeps its name; a new one starts at 0.
 */
static int
cmd_rules(struct client *c, struct evbuffer *b)
{
	struct control		*ctl = c->ctl;
	const struct config	*cfg = ctl->info->cfg;
	const struct rule	*r;
	struct rcount_arg	 a;
	char			 states[64], flags[24], pbuf[8], chain[48],
				 q[RULE_NAMELEN * 7];
	size_t			 i;
	unsigned		 w;
	int			 s, json = (c->flags & CTL_F_JSON) != 0;

	memset(&a, 0, sizeof(a));
	a.n = cfg->nrules + CT_STATE_MAX;
	if ((a.sum = calloc(a.n, 2 * sizeof(uint64_t))) == NULL) {
		client_error(c, "out of memory");
		return (-1);
	}
	for (w = 0; w < ctl->nworkers; w++)
		if (worker_call(ctl->workers[w], w_rcount, &a) == -1) {
			free(a.sum);
			client_error(c, "worker %u is not running", w);
			return (-1);
		}
	if (a.mismatch)
		log_warnx("control: rules: a worker has no counters for the "
		    "running rules");

	if (json) {
		evbuffer_add_printf(b, "{\"policy\":{");
		for (s = 0; s < CT_STATE_MAX; s++)
			evbuffer_add_printf(b, "%s\"%s\":\"%s\"", s ? "," : "",
			    rule_state_name(s),
			    rule_action_name(cfg->policy[s]));
		evbuffer_add_printf(b, "},\"policy_counters\":{");
		for (s = 0; s < CT_STATE_MAX; s++) {
			i = cfg->nrules + (size_t)s;
			evbuffer_add_printf(b, "%s\"%s\":{\"packets\":%" PRIu64
			    ",\"bytes\":%" PRIu64 "}", s ? "," : "",
			    rule_state_name(s), a.sum[2 * i],
			    a.sum[2 * i + 1]);
		}
		evbuffer_add_printf(b, "},\"rules\":[");
	} else {
		evbuffer_add_printf(b, "Policy:");
		for (s = 0; s < CT_STATE_MAX; s++)
			evbuffer_add_printf(b, "%s %s %s", s ? "," : "",
			    rule_state_name(s),
			    rule_action_name(cfg->policy[s]));
		evbuffer_add_printf(b, "\n\n%10s %12s %-4s %-20s %-7s %-6s "
		    "%-24s %-18s %-18s %s\n", "pkts", "bytes", "num", "name",
		    "action", "proto", "state", "source", "destination",
		    "match");
	}
	for (i = 0; i < cfg->nrules; i++) {
		r = &cfg->rules[i];
		print_states(states, sizeof(states), r->states);
		if (json) {
			ctl_json_str(q, sizeof(q), r->name);
			evbuffer_add_printf(b, "%s{\"num\":%zu,\"name\":%s,"
			    "\"packets\":%" PRIu64 ",\"bytes\":%" PRIu64 ","
			    "\"action\":\"%s\",\"proto\":\"%s\",\"state\":\"%s\"",
			    i ? "," : "", i + 1, q, a.sum[2 * i],
			    a.sum[2 * i + 1], rule_action_name(r->action),
			    proto_name(r, pbuf, sizeof(pbuf)), states);
			if (r->src != NULL)
				print_addrs(b, "src", r->src, 1);
			if (r->dst != NULL)
				print_addrs(b, "dst", r->dst, 1);
		} else {
			evbuffer_add_printf(b, "%10" PRIu64 " %12" PRIu64
			    " %-4zu %-20s %-7s %-6s %-24s ", a.sum[2 * i],
			    a.sum[2 * i + 1], i + 1, r->name,
			    rule_action_name(r->action),
			    proto_name(r, pbuf, sizeof(pbuf)), states);
			print_addrs(b, "src", r->src, 0);
			print_addrs(b, "dst", r->dst, 0);
		}
		print_ports(b, "sport", r->sport, json);
		print_ports(b, "dport", r->dport, json);
		print_ifaces(b, "in", r->in, r->nin, json);
		print_ifaces(b, "out", r->out, r->nout, json);
		if (r->hooks)
			evbuffer_add_printf(b, json ? ",\"chain\":\"%s\"" :
			    " chain=%s", rule_hooks_format(r->hooks, chain,
			    sizeof(chain)));
		if (r->has_icmp_type)
			print_icmp_types(b, r->icmp_types, json);
		if (r->has_tcp_flags) {
			print_tcp_flags(flags, sizeof(flags), r->tcp_flags,
			    r->tcp_mask);
			evbuffer_add_printf(b, json ? ",\"tcp_flags\":\"%s\"" :
			    " tcp_flags=%s", flags);
		}
		if (r->has_mark)
			evbuffer_add_printf(b, json ? ",\"mark\":%" PRIu32 :
			    " mark=0x%" PRIx32, r->mark);
		if (r->rate)
			evbuffer_add_printf(b, json ? ",\"rate\":%" PRIu32 :
			    " rate=%" PRIu32 "/s", r->rate);
		if (r->conn_limit)
			evbuffer_add_printf(b, json ? ",\"conn_limit\":%" PRIu32 :
			    " conn_limit=%" PRIu32, r->conn_limit);
		if (json)
			evbuffer_add_printf(b, ",\"log\":%s}",
			    r->log ? "true" : "false");
		else
			evbuffer_add_printf(b, "%s\n", r->log ? " log" : "");
	}
	if (json)
		evbuffer_add_printf(b, "]}\n");
	else
		for (s = 0; s < CT_STATE_MAX; s++) {
			i = cfg->nrules + (size_t)s;
			evbuffer_add_printf(b, "%10" PRIu64 " %12" PRIu64
			    " %-4s %-20s %-7s %-6s %-24s %-18s %s\n",
			    a.sum[2 * i], a.sum[2 * i + 1], "-", "[policy]",
			    rule_action_name(cfg->policy[s]), "any",
			    rule_state_name(s), "any", "any");
		}
	free(a.sum);
	return (0);
}

static int
cmd_iptables(struct client *c, struct evbuffer *b)
{
	const struct daemon_info *info = c->ctl->info;
	char			 target[96], line[160], queues[32],
				 q[sizeof(line) * 2 + 8];
	/* the tracker must see both directions: a host's own replies
	   leave by OUTPUT, a router's both ways cross FORWARD */
	static const char *const chains[][2] = {
		{ "INPUT", "! -i lo " },
		{ "OUTPUT", "! -o lo " },
		{ "FORWARD", "" },
	};
	size_t			 i;
	int			 json = (c->flags & CTL_F_JSON) != 0;

	if (info->threads > 1)
		snprintf(target, sizeof(target), "--queue-balance %u:%u",
		    info->queue, info->queue + info->threads - 1);
	else
		snprintf(target, sizeof(target), "--queue-num %u",
		    info->queue);
	status_queues(queues, sizeof(queues), info->queue, info->threads);
	if (json)
		evbuffer_add_printf(b, "{\"table\":\"filter\",\"rules\":[");
	else
		evbuffer_add_printf(b, "# nfqspid %s: divert to NFQUEUE %s, "
		    "loopback excepted\n"
		    "# apply with iptables-restore -n and ip6tables-restore -n"
		    "\n# --queue-bypass: the kernel accepts the packets while "
		    "nfqspid is not running\n"
		    "# INPUT and OUTPUT: this host's own traffic; FORWARD: "
		    "what it routes\n*filter\n", info->version, queues);
	for (i = 0; i < sizeof(chains) / sizeof(chains[0]); i++) {
		snprintf(line, sizeof(line), "-A %s %s-j NFQUEUE %s "
		    "--queue-bypass", chains[i][0], chains[i][1], target);
		if (json) {
			ctl_json_str(q, sizeof(q), line);
			evbuffer_add_printf(b, "%s%s", i ? "," : "", q);
		} else
			evbuffer_add_printf(b, "%s\n", line);
	}
	evbuffer_add_printf(b, json ? "]}\n" : "COMMIT\n");
	return (0);
}

static int
cmd_reload(struct client *c, struct evbuffer *b)
{
	struct control	*ctl = c->ctl;
	char		 err[512];
	int		 json = (c->flags & CTL_F_JSON) != 0;

	if (ctl->reload == NULL) {
		client_error(c, "reload is not available");
		return (-1);
	}
	err[0] = '\0';
	if (ctl->reload(ctl->reload_arg, err, sizeof(err)) == -1) {
		client_error(c, "%s", err[0] ? err : "reload failed");
		return (-1);
	}
	if (json)
		evbuffer_add_printf(b, "{\"reloaded\":true}\n");
	else
		evbuffer_add_printf(b, "configuration reloaded\n");
	return (0);
}

static const struct {
	const char	*name;
	int		 args;		/* takes arguments */
	int		(*fn)(struct client *, struct evbuffer *);
} commands[] = {
	{ "status",	0, cmd_status },
	{ "conntrack",	1, cmd_conntrack },
	{ "rules",	0, cmd_rules },
	{ "stats",	0, cmd_stats },
	{ "reload",	0, cmd_reload },
	{ "iptables",	0, cmd_iptables },
};

static void
client_request(struct client *c)
{
	struct ctl_request	*r = &c->req;
	struct evbuffer		*b;
	const char		*cmd = r->argv[0];
	size_t			 i;

	log_debug("%s: %s (%d arguments)", __func__, cmd, r->argc - 1);
	if (strcmp(cmd, "events") == 0) {
		cmd_events(c);
		return;
	}
	for (i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (strcmp(commands[i].name, cmd) == 0)
			break;
	if (i == sizeof(commands) / sizeof(commands[0])) {
		client_error(c, "unknown command \"%s\"", cmd);
		return;
	}
	if (!commands[i].args && r->argc > 1) {
		client_error(c, "%s takes no arguments", cmd);
		return;
	}
	if (!c->privileged && (strcmp(cmd, "reload") == 0 ||
	    (strcmp(cmd, "conntrack") == 0 && r->argc > 1 &&
	    (strcmp(r->argv[1], "flush") == 0 ||
	    strcmp(r->argv[1], "delete") == 0)))) {
		log_warnx("control: %s%s%s refused to uid %ld pid %ld: not "
		    "root, not in group %ld", cmd, r->argc > 1 ? " " : "",
		    r->argc > 1 ? r->argv[1] : "", (long)c->uid,
		    (long)c->pid, (long)c->ctl->gid);
		client_error(c, "permission denied");
		return;
	}
	if ((b = evbuffer_new()) == NULL) {
		client_error(c, "out of memory");
		return;
	}
	/* 0: the answer is in b; -1: an error went out; 1: a job runs */
	if (commands[i].fn(c, b) == 0) {
		client_data(c, b);
		client_end(c, NULL);
	}
	evbuffer_free(b);
}
