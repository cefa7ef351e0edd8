/*
 * control.c - the control socket nfqspictl talks to, in the main thread:
 * the socket, its clients and the dispatch of their requests
 *
 * Copyright (C) 2026 The nfqspid authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * One request per frame (ctlproto.h), answered with DATA frames and one
 * END or ERROR.  The commands live in files of their own (control.h);
 * status and stats are printed by status.c.
 *
 * A client is bounded in every way: at most CONTROL_MAXCLIENTS at once,
 * CONTROL_MAXMSG of input, CONTROL_DEADLINE for each whole request (a
 * deadline per request, not per read: a client sending a byte a second
 * cannot keep its slot) and CONTROL_WRITE_TIMEOUT to take what we send.
 * Anything else is answered with an error and the connection closed.
 * When every slot is taken, a new client takes the slot of the oldest
 * one that has not sent a whole request; root takes any but root's, so
 * clients that trickle can never lock root out of reload (one whose
 * stream or answer runs is told why it ends; one whose answer is done
 * but not all sent is busy, and sends it outside the 16).  events
 * streams keep theirs: CONTROL_MAXSTREAMS at most (control_events.c),
 * the rest stay for short commands; root's takes the place of another
 * user's.  Refusals are logged once per LOG_RL_SECS, and accept() out
 * of descriptors sheds and pauses (accept.c), so neither the log nor
 * the main thread can be flooded from here.
 *
 * Who may talk: the socket is 0660, owner root, group the daemon's, so
 * the file system keeps everyone else out.  Behind that, the peer's
 * credentials (SO_PEERCRED, SO_PEERGROUPS) are checked at accept: only
 * root or a member of the daemon's group may change state (conntrack
 * flush and delete, rules -Z, reload, sync role and resync:
 * request_changes_state()); anyone who got in otherwise (a socket made
 * 0666 by hand, a file descriptor passed on) may only read.
 */
#include "autoconf.h"		/* first: _GNU_SOURCE */

#include <sys/types.h>
#include <sys/fsuid.h>
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

#include "control.h"
#include "clock.h"
#include "strl.h"

static void	 control_accept(evutil_socket_t, short, void *);
static void	 control_resume(evutil_socket_t, short, void *);
static void	 client_free(struct client *);
static void	 client_read(struct bufferevent *, void *);
static void	 client_write(struct bufferevent *, void *);
static void	 client_event(struct bufferevent *, short, void *);
static void	 client_request(struct client *);
static void	 client_deadline(evutil_socket_t, short, void *);

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
 * control_group() finds that group, or our own without a user.
 */
static int
control_group(const char *path, const struct daemon_info *info, gid_t *gid)
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
	*gid = pw->pw_gid;
	return (0);
}

/*
 * The unit's bounding set has no CAP_CHOWN, which chown() to a group we
 * are not in takes: bind() under the group as fsgid (CAP_SETGID, this
 * thread only) makes the socket in it.
 */
static int
control_bind(int fd, const struct sockaddr_un *sun, gid_t gid)
{
	mode_t		 omask;
	int		 fsgid, saved, rc;

	fsgid = setfsgid(gid);
	/* Created 0660 right away, not chmod()ed after a window. */
	omask = umask(0117);
	rc = bind(fd, (const struct sockaddr *)sun, sizeof(*sun));
	saved = errno;
	umask(omask);
	setfsgid((gid_t)fsgid);
	errno = saved;
	return (rc);
}

/* Where setfsgid() could not (no CAP_SETGID), chown() (CAP_CHOWN). */
static int
control_chown(const char *path, gid_t gid)
{
	struct stat	 st;

	if (lstat(path, &st) == -1)
		return (-1);
	if (st.st_gid != gid && chown(path, 0, gid) == -1) {
		log_warn("control socket %s: chown", path);
		return (-1);
	}
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
	if (accept_guard_init(&ctl->guard, "control") == -1) {
		free(ctl);
		return (NULL);
	}

	if ((ctl->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, 0)) == -1)
		goto fail;
	if (control_group(path, info, &ctl->gid) == -1)
		goto fail;
	if (control_bind(ctl->fd, &sun, ctl->gid) == -1)
		goto fail;
	if (control_chown(path, ctl->gid) == -1 || chmod(path, 0660) == -1 ||
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
	accept_guard_free(&ctl->guard);
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
	accept_guard_free(&ctl->guard);
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

/*
 * Has c its whole answer queued, and only that left to send?  An answer
 * done (job JOB_NONE) or a client closing, output still in the buffer:
 * a reader slow to take the end of a long listing, or one that stopped
 * (a paused pager).  Freed, it would lose that end without a word.
 */
static int
client_draining(struct client *c)
{
	if (c->closing)
		return (1);
	return (c->job == JOB_NONE &&
	    evbuffer_get_length(bufferevent_get_output(c->bev)) > 0);
}

/*
 * The client whose slot a new one takes when all are in use: the oldest
 * that has not sent a whole request (idle, or trickling one in), not
 * root's if there is another; for root, else the oldest client of
 * anyone but root whose answer is all queued (it goes on sending it:
 * control_room()), else the oldest of anyone but root, whatever it is
 * doing.  NULL: refuse the new one.
 *
 * One still sending its answer is busy, never idle, to others than
 * root: it holds its slot until the answer is out, or until it takes
 * nothing for CONTROL_WRITE_TIMEOUT.  Not for ever: what is left is
 * bounded (CONTROL_LOWAT and a slice, or one short answer), so a reader
 * taking a little at a time keeps it no longer than that lasts, as one
 * whose listing runs keeps it; and root's new client still gets in.
 */
static struct client *
control_victim(struct control *ctl, uid_t newuid)
{
	struct client	*c, *idle = NULL, *idle_root = NULL, *any = NULL;
	struct client	*done = NULL, *done_root = NULL;

	TAILQ_FOREACH(c, &ctl->clients, entry) {
		if (c->evicted)
			continue;
		if (client_draining(c)) {
			if (c->uid != 0 && done == NULL)
				done = c;
			if (c->uid == 0 && done_root == NULL)
				done_root = c;
			continue;
		}
		if (c->job == JOB_NONE && c->uid != 0 && idle == NULL)
			idle = c;
		if (c->job == JOB_NONE && c->uid == 0 && idle_root == NULL)
			idle_root = c;
		if (c->uid != 0 && any == NULL)
			any = c;
	}
	if (idle != NULL)
		return (idle);
	if (newuid != 0)
		return (idle_root);
	if (done != NULL)
		return (done);
	if (any != NULL)
		return (any);
	return (idle_root != NULL ? idle_root : done_root);
}

/* Room for one more client, or -1: all slots are in use. */
static int
control_room(struct control *ctl, uid_t newuid)
{
	struct client	*victim;
	uint64_t	 held;
	const char	*what;
	char		 more[LOG_RL_MORELEN];
	int		 draining;

	if (ctl->nclients < CONTROL_MAXCLIENTS)
		return (0);
	if ((victim = control_victim(ctl, newuid)) == NULL) {
		if (log_rl(&ctl->rl_full, &held))
			log_warnx("control: %d clients, refusing one%s",
			    CONTROL_MAXCLIENTS,
			    log_rl_more(held, more, sizeof(more)));
		return (-1);
	}
	draining = client_draining(victim);
	if (draining)
		what = " send the rest of its answer outside them,";
	else if (victim->job == JOB_NONE)
		what = ", which had sent no whole request,";
	else if (victim->job == JOB_EVENTS)
		what = ", ending its events stream,";
	else
		what = ", cutting its answer short,";
	if (log_rl(&ctl->rl_full, &held))
		log_warnx("control: %d clients, %s uid %ld pid %ld%s for a new "
		    "one%s", CONTROL_MAXCLIENTS, draining ? "letting" :
		    "dropping", (long)victim->uid, (long)victim->pid, what,
		    log_rl_more(held, more, sizeof(more)));
	if (draining) {
		/*
		 * Its answer is whole in its buffer, its end frame too: it
		 * loses nothing, and leaves the 16 at once to send it
		 * (CONTROL_WRITE_TIMEOUT without taking any at most).
		 */
		victim->evicted = 1;
		ctl->nclients--;
		if (!victim->closing)
			client_close(victim);
		return (0);
	}
	if (victim->job == JOB_NONE) {
		/* no request of its runs: nfqspictl may send it again */
		client_free(victim);
		return (0);
	}
	/*
	 * Root's took the place of a stream or an answer under way: say
	 * why it ends, as events_room() does, or nfqspictl would blame a
	 * daemon that stopped.  Its slot is the new one's at once; it
	 * stays only to send what it has, CONTROL_WRITE_TIMEOUT at most.
	 */
	client_error(victim, "%s place went to a client of root's (%d "
	    "clients at most)", victim->job == JOB_EVENTS ? "this events "
	    "stream's" : "this answer was cut short: its",
	    CONTROL_MAXCLIENTS);
	victim->evicted = 1;
	ctl->nclients--;
	client_close(victim);
	return (0);
}

static void
control_accept(evutil_socket_t lfd, short ev, void *arg)
{
	struct control	*ctl = arg;
	struct client	*c;
	struct timeval	 rtv = { CONTROL_READ_TIMEOUT, 0 };
	struct timeval	 wtv = { CONTROL_WRITE_TIMEOUT, 0 };
	struct timeval	 dtv = { CONTROL_DEADLINE, 0 };
	struct timeval	 pause;
	uid_t		 uid;
	pid_t		 pid;
	unsigned	 ms;
	int		 fd, privileged;

	if ((fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) ==
	    -1) {
		/* Out of descriptors: shed one and pause, never spin. */
		if ((ms = accept_guard_fail(&ctl->guard, lfd, errno)) > 0) {
			pause.tv_sec = ms / 1000;
			pause.tv_usec = (ms % 1000) * 1000;
			event_del(ctl->ev_accept);
			evtimer_add(ctl->ev_pause, &pause);
		}
		return;
	}
	accept_guard_ok(&ctl->guard);
	privileged = control_peer_privileged(fd, ctl->gid, &uid, &pid);
	if (control_room(ctl, uid) == -1) {
		reject_fd(fd, "too many clients");
		close(fd);
		return;
	}
	if ((c = calloc(1, sizeof(*c))) == NULL) {
		close(fd);
		return;
	}
	c->ctl = ctl;
	c->privileged = privileged;
	c->uid = uid;
	c->pid = pid;
	if ((c->bev = bufferevent_socket_new(ctl->base, fd,
	    BEV_OPT_CLOSE_ON_FREE)) == NULL) {
		close(fd);
		free(c);
		return;
	}
	if ((c->ev_step = event_new(ctl->base, -1, 0, control_table_step, c)) ==
	    NULL || (c->ev_deadline = evtimer_new(ctl->base, client_deadline,
	    c)) == NULL) {
		if (c->ev_step != NULL)
			event_free(c->ev_step);
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
	evtimer_add(c->ev_deadline, &dtv);
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
	if (!c->evicted)
		ctl->nclients--;
	if (c->listening)
		events_subscribe(ctl->events, -1);
	event_free(c->ev_step);
	event_free(c->ev_deadline);
	bufferevent_free(c->bev);
	free(c);
}

/* Close once everything queued has been written. */
void
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
void
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
void
client_end(struct client *c, const char *note)
{
	client_frame(c, CTL_T_END, note, note ? strlen(note) : 0);
}

void
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

void
client_worker_error(struct client *c, unsigned i)
{
	char	 why[STATUS_LATE_LEN];

	if (errno == ETIMEDOUT)
		status_late_why(why, sizeof(why), c->ctl->info, i,
		    worker_idle_ms(c->ctl->workers[i], spi_now_ms()) / 1000,
		    1);
	else
		status_dead_why(why, sizeof(why), c->ctl->info, i);
	client_error(c, "%s", why);
}

/* The answer is complete: take the next request, if any. */
void
client_done(struct client *c)
{
	struct timeval	 dtv = { CONTROL_DEADLINE, 0 };

	if (c->closing)
		return;
	c->job = JOB_NONE;
	bufferevent_enable(c->bev, EV_READ);
	/* the next request has as long, counted from now */
	evtimer_add(c->ev_deadline, &dtv);
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
	struct timeval	 dtv = { CONTROL_DEADLINE, 0 };
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
		evtimer_del(c->ev_deadline);	/* it came whole in time */
		c->requests++;
		client_request(c);
		/* answered at once: the next request has as long */
		if (!c->closing && c->job == JOB_NONE)
			evtimer_add(c->ev_deadline, &dtv);
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

/*
 * No whole request within CONTROL_DEADLINE: the slot goes back.  A
 * client that was answered and sent nothing more is just closed.
 */
static void
client_deadline(evutil_socket_t fd, short ev, void *arg)
{
	struct client	*c = arg;

	if (c->closing || c->job != JOB_NONE)
		return;
	if (c->requests == 0 ||
	    evbuffer_get_length(bufferevent_get_input(c->bev)) > 0) {
		log_debug("%s: uid %ld pid %ld sent no whole request in %d s",
		    __func__, (long)c->uid, (long)c->pid, CONTROL_DEADLINE);
		client_error(c, "no whole request within %d seconds",
		    CONTROL_DEADLINE);
	}
	client_close(c);
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

/* ---- commands ----------------------------------------------------- */

/* nfqspictl status and stats: a snapshot, printed by status.c */
static int
status_or_stats(struct client *c, struct evbuffer *b, int stats)
{
	struct control	*ctl = c->ctl;
	struct status	 st;
	char		 why[STATUS_LATE_LEN];

	if (status_collect(&st, ctl->info, ctl->workers, ctl->nworkers) ==
	    -1) {
		if (errno == ESRCH) {
			status_dead_why(why, sizeof(why), ctl->info, st.dead);
			client_error(c, "%s", why);
		} else
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

void
control_exiting(struct control *ctl, const char *why)
{
	(void)spi_strlcpy(ctl->exiting, why, sizeof(ctl->exiting));
}

static const struct {
	const char	*name;
	int		 args;		/* takes arguments */
	int		(*fn)(struct client *, struct evbuffer *);
} commands[] = {
	{ "status",	0, cmd_status },
	{ "conntrack",	1, cmd_conntrack },
	{ "rules",	1, cmd_rules },
	{ "stats",	0, cmd_stats },
	{ "reload",	0, cmd_reload },
	{ "iptables",	0, cmd_iptables },
	{ "nft",	0, cmd_nft },
	{ "sync",	1, cmd_sync },
};

/* Does r change state (what only root and the daemon's group may do)?
   Any argument to a command that only reads is an error anyway. */
static int
request_changes_state(const struct ctl_request *r)
{
	const char	*cmd = r->argv[0];
	const char	*sub = r->argc > 1 ? r->argv[1] : "";

	if (strcmp(cmd, "reload") == 0)
		return (1);
	if (strcmp(cmd, "rules") == 0)
		return (r->argc > 1);		/* -Z */
	if (strcmp(cmd, "conntrack") == 0)
		return (strcmp(sub, "flush") == 0 ||
		    strcmp(sub, "delete") == 0);
	if (strcmp(cmd, "sync") == 0)
		return (strcmp(sub, "role") == 0 ||
		    strcmp(sub, "resync") == 0);
	return (0);
}

static void
client_request(struct client *c)
{
	struct ctl_request	*r = &c->req;
	struct evbuffer		*b;
	const char		*cmd = r->argv[0];
	uint64_t		 held;
	char			 more[LOG_RL_MORELEN];
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
	if (!c->privileged && request_changes_state(r)) {
		if (log_rl(&c->ctl->rl_denied, &held))
			log_warnx("control: %s%s%s refused to uid %ld pid %ld: "
			    "not root, not in group %ld%s", cmd,
			    r->argc > 1 ? " " : "",
			    r->argc > 1 ? r->argv[1] : "", (long)c->uid,
			    (long)c->pid, (long)c->ctl->gid,
			    log_rl_more(held, more, sizeof(more)));
		client_error(c, "permission denied");
		return;
	}
	/* the loop runs on only for the answers being written: a reload
	   would hold up the exit, and systemd's restart, for nothing */
	if (c->ctl->exiting[0] != '\0' && request_changes_state(r)) {
		if (log_rl(&c->ctl->rl_exiting, &held))
			log_warnx("control: %s%s%s refused to uid %ld pid %ld: "
			    "%s%s", cmd, r->argc > 1 ? " " : "",
			    r->argc > 1 ? r->argv[1] : "", (long)c->uid,
			    (long)c->pid, c->ctl->exiting,
			    log_rl_more(held, more, sizeof(more)));
		client_error(c, "%s", c->ctl->exiting);
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
