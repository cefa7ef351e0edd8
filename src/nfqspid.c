/*
 * nfqspid.c - the daemon: options, start-up, signals, reload, shutdown
 *
 * Copyright (C) 2026 The nfqspid authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * The main thread owns the signals, the control socket and the
 * configuration; the packets belong to the workers.  Start-up happens in
 * the child when we daemonize, and the parent only exits once the child
 * has bound its queues (or with the child's status when it could not),
 * so "nfqspid" failing to start fails where it was run.  Under systemd
 * (Type=notify, -f) the daemon is the unit's main process and says so
 * itself: READY=1 at that same point, RELOADING=1 and READY=1 around a
 * reload, STOPPING=1, and STATUS= lines (sdnotify.c).
 */
#include "autoconf.h"		/* first: _GNU_SOURCE, PACKAGE_VERSION */

#include <sys/types.h>
#include <sys/file.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <linux/capability.h>

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <pthread.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>
#include <event2/thread.h>

#include "nfqspid.h"
#include "cacheline.h"
#include "clock.h"
#include "sdnotify.h"
#include "sdping.h"
#include "strl.h"
#include "thread.h"
#include "watchdog.h"

#define ERRLEN		512
#define STOP_CHECKS	30	/* s for the workers' stop: exit 1 after;
				   with the divert removal (45 s at most)
				   within the unit's TimeoutStopSec=90s */
#define TICK_MS		1000	/* the main loop's own checks */
#define DIVERT_TICKS	5	/* the diversion checked every 5 ticks
				   (by its own thread, divert_run.c) */
#define NOTIFY_RETRY_MS	100	/* a state line systemd did not take */
#define DEAD_GRACE_MS	100	/* a worker ended: its answers go first */

struct daemon {
	struct daemon_info	 info;
	struct config		*cfg;		/* the running one */
	const char		*cfgpath;
	struct event_base	*base;
	struct worker		**workers;
	unsigned		 nworkers;
	struct control		*control;
	struct events		*events;
	struct sync		*sync;		/* [sync], or NULL */
	struct http		*http;
	int			 pidfd;
	char			 pidfile[CONFIG_PATHLEN];
	int			 statefd;	/* [daemon] state_file, or -1 */
	int			 status;	/* exit status */
	int			 errnum;	/* a dead worker's errno */
	char			 ended[ERRLEN];	/* ... and its log line, for
						   STOPPING=1; "" */
	char			 exiting[STATUS_LATE_LEN]; /* a worker ended:
						   why we exit; "" */
	struct spi_stoppable	 watchdog;
	unsigned		 stop_at;	/* the worker the stop waits
						   on; nworkers: none (atomic) */
	int			 stopping;	/* atomic */
	uint64_t		*wd_last;	/* the watchdog's, per worker */
	unsigned		*wd_stale;
	struct diverter		*divert;	/* [daemon] divert */
	struct qwatch		*qwatch;
	struct event		*tick;
	struct event		*wdog;		/* systemd's WATCHDOG=1 */
	struct event		*sdn_retry;	/* a state line kept */
	uint64_t		 sdn_kept_ms;	/* since when; 0: none */
};

/*
 * A relative -c names a file in the directory nfqspid was started from;
 * the daemon works from / (daemon_fork()), where a reload would look
 * for it: it is made absolute once the first load found it.
 */
static int
cfgpath_absolute(struct daemon *d, char *buf, size_t len)
{
	char	 cwd[CONFIG_PATHLEN];

	if (d->cfgpath[0] == '/')
		return (0);
	if (getcwd(cwd, sizeof(cwd)) == NULL)
		return (-1);
	if ((size_t)snprintf(buf, len, "%s/%s", cwd, d->cfgpath) >= len ||
	    spi_strlcpy(d->cfg->path, buf, sizeof(d->cfg->path)) >=
	    sizeof(d->cfg->path)) {
		errno = ENAMETOOLONG;
		return (-1);
	}
	d->cfgpath = buf;
	return (0);
}

static __dead void
usage(FILE *f, int status)
{
	fprintf(f, "usage: nfqspid [-dfhnV] [-c file] [--replay file.pcap]\n");
	exit(status);
}

/*
 * What systemd hears (nothing without $NOTIFY_SOCKET).  A failure is
 * logged, once per LOG_RL_SECS: the watchdog's pings come often.
 */
static void NFQSPI_PRINTF(1, 2)
daemon_notify(const char *fmt, ...)
{
	static struct log_rl	 rl;
	char			 more[LOG_RL_MORELEN];
	uint64_t		 held;
	va_list			 ap;
	int			 rc;

	va_start(ap, fmt);
	rc = sdnotify_vsendf(fmt, ap);
	va_end(ap);
	if (rc == -1 && log_rl(&rl, &held))
		log_warn("systemd's notify socket%s", log_rl_more(held, more,
		    sizeof(more)));
}

/* The first assignment of a notify line: "READY=1" */
static int
notify_key_len(const char *msg)
{
	return ((int)strcspn(msg, "\n"));
}

/*
 * What a state line says, for the log: its first assignment, or both
 * of a RELOADING=1 and READY=1 that go together (sdnotify_joins()).
 */
static const char *
notify_what(const char *msg, char *buf, size_t len)
{
	if (strncmp(msg, "RELOADING=1\n", 12) == 0 &&
	    strstr(msg, "\nREADY=1") != NULL)
		(void)spi_strlcpy(buf, "RELOADING=1 and READY=1", len);
	else
		(void)snprintf(buf, len, "%.*s", notify_key_len(msg), msg);
	return (buf);
}

/* A kept state line (what) taken, or given up, at last: said once. */
static void
daemon_notify_kept_end(struct daemon *d, const char *what, int rc)
{
	if (d->sdn_kept_ms == 0)
		return;
	if (rc == 0)
		log_info("systemd's notify socket took %s after %llu ms",
		    what, (unsigned long long)(spi_now_ms() - d->sdn_kept_ms));
	else
		log_warn("systemd's notify socket: %s is lost", what);
	d->sdn_kept_ms = 0;
}

static void
daemon_notify_retry_cb(evutil_socket_t fd, short events, void *arg)
{
	struct daemon	*d = arg;
	struct timeval	 tv = { 0, NOTIFY_RETRY_MS * 1000 };
	char		 what[32];
	const char	*kept;
	int		 rc;

	if ((kept = sdnotify_kept()) == NULL)
		return;
	(void)notify_what(kept, what, sizeof(what));
	if ((rc = sdnotify_resend()) == 1)
		(void)event_add(d->sdn_retry, &tv);
	else
		daemon_notify_kept_end(d, what, rc);
}

/*
 * Before sdnotify_state(msg): what the datagram will say, and a kept
 * line that msg replaces unsent, said so, the wait of msg counted from
 * now on.  When msg goes with the kept line (a RELOADING=1 kept, then
 * its READY=1), the wait goes on from the RELOADING=1's.
 */
static void
daemon_notify_replace(struct daemon *d, const char *msg, char *what,
    size_t len)
{
	const char	*kept = sdnotify_kept();
	char		 was[32];

	if (kept != NULL && sdnotify_joins(kept, msg)) {
		(void)spi_strlcpy(what, "RELOADING=1 and READY=1", len);
		return;
	}
	(void)notify_what(msg, what, len);
	if (kept == NULL || d->sdn_kept_ms == 0)
		return;
	log_info("systemd's notify socket never took %s, kept %llu ms: %s "
	    "replaces it", notify_what(kept, was, sizeof(was)),
	    (unsigned long long)(spi_now_ms() - d->sdn_kept_ms), what);
	d->sdn_kept_ms = 0;
}

/*
 * READY=1 and RELOADING=1: systemd waits for them, and a READY=1 lost
 * to a full queue (systemd busy) would fail the start, or leave the
 * unit reloading, at its timeout.  What the queue does not take is
 * kept and sent again every NOTIFY_RETRY_MS from the main loop, which
 * goes on meanwhile; a later state line replaces it, or goes with it
 * (sdnotify_state()).  Main thread only.
 */
static void NFQSPI_PRINTF(2, 3)
daemon_notify_state(struct daemon *d, const char *fmt, ...)
{
	struct timeval	 tv = { 0, NOTIFY_RETRY_MS * 1000 };
	char		 msg[SDNOTIFY_MAX], what[32];
	va_list		 ap;
	int		 rc;

	va_start(ap, fmt);
	(void)vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	daemon_notify_replace(d, msg, what, sizeof(what));
	if ((rc = sdnotify_state(msg)) != 1) {
		if (d->sdn_kept_ms != 0)
			daemon_notify_kept_end(d, what, rc);
		else if (rc == -1)
			log_warn("systemd's notify socket: %s", what);
		return;
	}
	if (d->sdn_kept_ms == 0) {
		d->sdn_kept_ms = spi_now_ms();
		log_warnx("systemd's notify socket is full: %s is sent again "
		    "every %d ms until systemd takes it", what,
		    NOTIFY_RETRY_MS);
	}
	if (d->sdn_retry == NULL && (d->sdn_retry = evtimer_new(d->base,
	    daemon_notify_retry_cb, d)) == NULL) {
		log_warnx("systemd's notify socket: no timer to send %s "
		    "again", what);
		return;
	}
	if (event_add(d->sdn_retry, &tv) == -1)
		log_warnx("systemd's notify socket: no timer to send %s "
		    "again", what);
}

/* Before STOPPING=1: a state line still kept is given up. */
static void
daemon_notify_stop(struct daemon *d)
{
	const char	*kept = sdnotify_kept();
	char		 what[32];

	if (kept != NULL)
		log_warnx("systemd's notify socket never took %s",
		    notify_what(kept, what, sizeof(what)));
	if (d->sdn_retry != NULL)
		event_free(d->sdn_retry);
	d->sdn_retry = NULL;
	d->sdn_kept_ms = 0;
}

/* "\nERRNO=err" for a notify line, or "" when err is 0 */
static const char *
notify_errno(char *buf, size_t len, int err)
{
	buf[0] = '\0';
	if (err > 0)
		(void)snprintf(buf, len, "\nERRNO=%d", err);
	return (buf);
}

/*
 * STOPPING=1 that systemd's full queue did not take: sent again every
 * NOTIFY_RETRY_MS while the stop goes on, from a thread of its own (the
 * main loop has ended, and the stop, a divert removal among it, may take
 * 45 s), until systemd takes it or the stop is over: till it hears
 * STOPPING=1, systemd times the WatchdogSec= pings the stop no longer
 * sends.  The pipe's write end closed says the stop is over; the
 * process's end tells systemd the rest.
 */
struct stop_notify {
	struct spi_stoppable	 st;
	int			 rc;	/* sdnotify_resend()'s last */
	uint64_t		 took_ms; /* when systemd took it */
};

static void *
stop_notify_main(void *arg)
{
	struct stop_notify	*sn = arg;
	int			 over;

	(void)pthread_setname_np(pthread_self(), "nfqspid-stop");
	do {
		over = spi_stoppable_wait(&sn->st, NOTIFY_RETRY_MS);
		sn->rc = sdnotify_resend();
	} while (sn->rc == 1 && !over);
	sn->took_ms = spi_now_ms();
	return (NULL);
}

/* STOPPING=1's datagram: its STATUS= says why after an error */
static void
notify_stopping_msg(const struct daemon *d, char *msg, size_t len)
{
	char	 err[ERRLEN], eno[32];
	int	 e;

	if (d->status == 0) {
		(void)spi_strlcpy(msg, "STOPPING=1\nSTATUS=stopping", len);
		return;
	}
	e = log_last_error(err, sizeof(err));
	/* a worker's end is why we stop, whatever was logged after it
	   (a refusal in worker_dead()'s 0.1 s) */
	if (d->ended[0] != '\0') {
		(void)spi_strlcpy(err, d->ended, sizeof(err));
		e = d->errnum;
	}
	(void)snprintf(msg, len, "STOPPING=1\nSTATUS=stopping after an error: "
	    "%s%s", err, notify_errno(eno, sizeof(eno), e));
}

/* msg, a STOPPING=1, sent; kept and sent again from sn's thread while
   systemd's queue is full.  A line still kept is replaced (its thread
   stopped first: daemon_notify_late()), its wait going on. */
static void
stop_notify_send(struct daemon *d, struct stop_notify *sn, const char *msg)
{
	int	 rc;

	if ((rc = sdnotify_state(msg)) == 0) {
		if (d->sdn_kept_ms != 0) {
			sn->rc = 0;
			sn->took_ms = spi_now_ms();
		}
		return;
	}
	if (rc == -1) {
		log_warn("systemd's notify socket: STOPPING=1");
		sn->rc = -1;
		return;
	}
	if (d->sdn_kept_ms == 0) {
		d->sdn_kept_ms = spi_now_ms();
		log_warnx("systemd's notify socket is full: STOPPING=1 is sent "
		    "again every %d ms until systemd takes it",
		    NOTIFY_RETRY_MS);
	}
	if (spi_stoppable_start(&sn->st, stop_notify_main, sn) == -1)
		log_warn("systemd's notify socket: STOPPING=1");
}

/* STOPPING=1, with why after an error; kept and sent again meanwhile
   when systemd's queue is full.  Main thread; stop_notify_end() after
   the stop. */
static void
daemon_notify_stopping(struct daemon *d, struct stop_notify *sn)
{
	char	 msg[SDNOTIFY_MAX];

	memset(sn, 0, sizeof(*sn));
	notify_stopping_msg(d, msg, sizeof(msg));
	stop_notify_send(d, sn, msg);
}

/* The stop is over: STOPPING=1 kept is tried once more, its fate said. */
static void
stop_notify_end(struct daemon *d, struct stop_notify *sn)
{
	if (d->sdn_kept_ms == 0)
		return;
	if (sn->st.running)
		spi_stoppable_stop(&sn->st);
	else if (sdnotify_kept() != NULL) {
		/* no thread, or daemon_notify_late() stopped it */
		sn->rc = sdnotify_resend();
		sn->took_ms = spi_now_ms();
	}
	if (sn->rc == 0)
		log_info("systemd's notify socket took STOPPING=1 after %llu "
		    "ms", (unsigned long long)(sn->took_ms - d->sdn_kept_ms));
	else
		log_warnx("systemd's notify socket: STOPPING=1 is lost");
	d->sdn_kept_ms = 0;
}

/*
 * The stop found a worker's end (daemon_dead_late()) after STOPPING=1
 * said "stopping" alone: STOPPING=1 again, its STATUS= after an error
 * as worker_dead()'s would have been, so that systemctl status says
 * why the exit is 1.  A STOPPING=1 still kept is replaced: the thread
 * that sends it again, which reads it, stops first.
 */
static void
daemon_notify_late(struct daemon *d, struct stop_notify *sn)
{
	char	 msg[SDNOTIFY_MAX];

	spi_stoppable_stop(&sn->st);
	if (d->sdn_kept_ms != 0 && sdnotify_kept() == NULL)
		stop_notify_end(d, sn);		/* taken meanwhile: said */
	notify_stopping_msg(d, msg, sizeof(msg));
	stop_notify_send(d, sn, msg);
}

/* A start that failed: why, in systemctl status, from the last error
   logged (every failure path of the start logs one first), and its
   errno as ERRNO= when it had one. */
static void
daemon_notify_failed(void)
{
	char	 why[512], eno[32];
	int	 err;

	err = log_last_error(why, sizeof(why));
	daemon_notify("STATUS=cannot start: %s%s", why[0] != '\0' ? why :
	    "see the log", notify_errno(eno, sizeof(eno), err));
}

/* fatal(): why, for systemctl status, before exit(1) */
static void
daemon_notify_fatal(const char *line, int err)
{
	sdnotify_status_now("exiting: ", line, err);
}

/* READY=1, or after a reload READY=1 again, with what runs */
static void
daemon_notify_ready(struct daemon *d, const char *note)
{
	char	 queues[32];

	status_queues(queues, sizeof(queues), d->info.queue,
	    d->info.threads);
	daemon_notify_state(d, "READY=1\nMAINPID=%ld\nSTATUS=running: "
	    "queue %s threads %u rules %zu mode %s%s", (long)getpid(), queues,
	    d->info.threads, d->cfg->nrules, status_mode_name(d->cfg->mode),
	    note);
}

/*
 * WATCHDOG=1 at half of $WATCHDOG_USEC, from a timer of the main loop:
 * a main thread that hangs stops the pings, and systemd (WatchdogSec=)
 * ends us.  While it waits on a worker without a deadline (a reload, a
 * flush), sdping.c pings instead, for SDPING_MAX s at most.  The
 * workers have the watchdog thread.
 */
static void
daemon_wdog_cb(evutil_socket_t fd, short events, void *arg)
{
	daemon_notify("WATCHDOG=1");
	sdping_sent();
}

static void
daemon_wdog_start(struct daemon *d)
{
	uint64_t	 usec = sdnotify_watchdog_usec() / 2;
	struct timeval	 tv;

	if (usec == 0)
		return;
	if (usec < 1000)
		usec = 1000;
	tv.tv_sec = usec / 1000000;
	tv.tv_usec = usec % 1000000;
	if ((d->wdog = event_new(d->base, -1, EV_PERSIST, daemon_wdog_cb,
	    d)) == NULL || event_add(d->wdog, &tv) == -1) {
		log_warnx("systemd's watchdog: cannot start its timer");
		return;
	}
	daemon_notify("WATCHDOG=1");
	sdping_sent();
}

/*
 * Is the file at fd one to take over: a regular file, empty or holding
 * a pid, as an earlier run leaves it?  0, or -1 with why in err.
 * Anything else is somebody else's (a path that names the config by
 * mistake): the start would truncate it and the stop unlink it.
 */
static int
pidfile_stale(int fd, char *err, size_t errlen)
{
	struct stat	 st;
	char		 buf[32];
	ssize_t		 n, i;

	if (fstat(fd, &st) == -1) {
		snprintf(err, errlen, "%s", strerror(errno));
		return (-1);
	}
	if (!S_ISREG(st.st_mode)) {
		snprintf(err, errlen, "not a regular file, left as it is");
		return (-1);
	}
	if (st.st_size == 0)
		return (0);
	n = st.st_size < (off_t)sizeof(buf) ? pread(fd, buf, sizeof(buf), 0) :
	    0;
	for (i = 0; i < n && buf[i] >= '0' && buf[i] <= '9'; i++)
		;
	if (i > 0 && (i == n || (i == n - 1 && buf[i] == '\n')))
		return (0);
	snprintf(err, errlen, "holds something else than a pid, left as it "
	    "is");
	return (-1);
}

/*
 * What is at the path is looked at before it is opened: a device or
 * FIFO is never opened, a link never followed.  The descriptor, or -1
 * with why in err and errno (ENOENT: nothing there).  nfqspid -n asks
 * too, with O_RDONLY.
 */
static int
pidfile_open_path(const char *path, int flags, char *err, size_t errlen)
{
	struct stat	 st;
	int		 fd;

	if (lstat(path, &st) == 0 && !S_ISREG(st.st_mode)) {
		snprintf(err, errlen, "not a regular file, left as it is");
		errno = EINVAL;
		return (-1);
	}
	if ((fd = open(path, flags | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC,
	    0644)) == -1) {
		snprintf(err, errlen, "%s", strerror(errno));
		return (-1);
	}
	return (fd);
}

/*
 * Refuse to start when another nfqspid holds the pidfile: the lock is
 * held for the life of the process, so a stale file from a crash is
 * simply taken over.
 */
static int
pidfile_open(struct daemon *d, const char *path)
{
	char	 buf[32], err[ERRLEN];
	ssize_t	 n;
	int	 fd;

	d->pidfd = -1;
	if (path[0] == '\0')
		return (0);
	if ((fd = pidfile_open_path(path, O_RDWR | O_CREAT, err,
	    sizeof(err))) == -1) {
		log_warnx("pidfile %s: %s", path, err);
		return (-1);
	}
	if (flock(fd, LOCK_EX | LOCK_NB) == -1) {
		if (errno == EWOULDBLOCK) {
			n = pread(fd, buf, sizeof(buf) - 1, 0);
			buf[n > 0 ? n : 0] = '\0';
			buf[strcspn(buf, "\n")] = '\0';
			log_warnx("nfqspid is already running (pid %s, "
			    "pidfile %s)", buf[0] != '\0' ? buf : "?", path);
		} else
			log_warn("pidfile %s: lock", path);
		close(fd);
		return (-1);
	}
	if (pidfile_stale(fd, err, sizeof(err)) == -1) {
		log_warnx("pidfile %s: %s", path, err);
		close(fd);
		return (-1);
	}
	snprintf(d->pidfile, sizeof(d->pidfile), "%s", path);
	d->pidfd = fd;
	return (0);
}

/* After the fork: the pid is the child's. */
static int
pidfile_write(struct daemon *d)
{
	char	 buf[32];
	int	 n;

	if (d->pidfd == -1)
		return (0);
	n = snprintf(buf, sizeof(buf), "%ld\n", (long)getpid());
	if (ftruncate(d->pidfd, 0) == -1 ||
	    pwrite(d->pidfd, buf, n, 0) != n) {
		log_warn("pidfile %s", d->pidfile);
		return (-1);
	}
	return (0);
}

static void
pidfile_remove(struct daemon *d)
{
	if (d->pidfd == -1)
		return;
	if (unlink(d->pidfile) == -1 && errno != ENOENT)
		log_debug("%s: unlink %s: %s", __func__, d->pidfile,
		    strerror(errno));
	close(d->pidfd);
	d->pidfd = -1;
}

/*
 * The parent's wait: 0 once the child says it runs on the pipe's read
 * end fd, else the child's exit status (1 if it died otherwise).
 */
static int
daemon_wait(pid_t pid, int fd)
{
	int	 status;
	char	 c;
	ssize_t	 n;

	do
		n = read(fd, &c, 1);
	while (n == -1 && errno == EINTR);
	if (n == 1)
		return (0);
	/* the child died before it was ready */
	while (waitpid(pid, &status, 0) == -1)
		if (errno != EINTR)
			return (1);
	return (WIFEXITED(status) ? WEXITSTATUS(status) : 1);
}

/*
 * Fork; the parent waits on a pipe for the child to say it runs, and
 * otherwise exits with the child's status.  Returns the pipe's write end
 * in the child.
 */
static int
daemon_fork(void)
{
	int	 p[2], status;
	pid_t	 pid;

	if (pipe2(p, O_CLOEXEC) == -1)
		fatal("pipe");
	switch (pid = fork()) {
	case -1:
		fatal("fork");
	case 0:
		close(p[0]);
		if (setsid() == -1)
			fatal("setsid");
		if (chdir("/") == -1)
			fatal("chdir /");
		return (p[1]);
	default:
		close(p[1]);
		status = daemon_wait(pid, p[0]);
		/* leave with nothing of ours open, as the daemon does */
		close(p[0]);
		sdnotify_close();
		log_close();
		_exit(status);
	}
}

static void
daemon_ready(int fd)
{
	int	 null;

	if ((null = open("/dev/null", O_RDWR)) == -1)
		fatal("/dev/null");
	dup2(null, STDIN_FILENO);
	dup2(null, STDOUT_FILENO);
	dup2(null, STDERR_FILENO);
	if (null > STDERR_FILENO)
		close(null);
	if (write(fd, "", 1) != 1) {
		/* the parent is gone: nobody to tell */
	}
	close(fd);
}

/*
 * user = NAME: become NAME, keeping CAP_NET_ADMIN (the kernel checks it
 * on every verdict) and, when the configuration rejects, CAP_NET_RAW
 * (resets and unreachables; the raw sockets are open already, so a reload
 * that brings the first reject rule does not need it).  Then no new
 * privileges: no exec or file capability can give any back.  Done before
 * the workers start: capabilities are per thread and inherited.
 */
static int
drop_privileges(const char *user, int raw, int ambient)
{
	struct __user_cap_header_struct	 hdr;
	struct __user_cap_data_struct	 data[_LINUX_CAPABILITY_U32S_3];
	struct passwd			*pw;
	uint32_t			 keep;

	if ((pw = getpwnam(user)) == NULL) {
		log_warnx("user %s: no such user", user);
		return (-1);
	}
	if (pw->pw_uid == geteuid() && pw->pw_uid != 0) {
		/* started as that user (systemd User= with ambient
		   capabilities): only shed what is not needed */
	} else if (prctl(PR_SET_KEEPCAPS, 1L, 0L, 0L, 0L) == -1 ||
	    setgroups(1, &pw->pw_gid) == -1 ||
	    setresgid(pw->pw_gid, pw->pw_gid, pw->pw_gid) == -1 ||
	    setresuid(pw->pw_uid, pw->pw_uid, pw->pw_uid) == -1) {
		log_warn("cannot become user %s", user);
		return (-1);
	}
	memset(&hdr, 0, sizeof(hdr));
	memset(data, 0, sizeof(data));
	hdr.version = _LINUX_CAPABILITY_VERSION_3;
	keep = 1u << CAP_NET_ADMIN;
	if (raw || ambient)
		keep |= 1u << CAP_NET_RAW;
	data[0].effective = data[0].permitted = keep;
	/* [daemon] divert runs iptables or nft: ambient, they keep the
	   two across exec (iptables-legacy needs a raw socket) */
	if (ambient)
		data[0].inheritable = keep;
	if (syscall(SYS_capset, &hdr, data) == -1) {
		log_warn("user %s: keeping CAP_NET_ADMIN", user);
		return (-1);
	}
	if (ambient && (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE,
	    (long)CAP_NET_ADMIN, 0L, 0L) == -1 || prctl(PR_CAP_AMBIENT,
	    PR_CAP_AMBIENT_RAISE, (long)CAP_NET_RAW, 0L, 0L) == -1)) {
		log_warn("user %s: ambient capabilities for divert", user);
		return (-1);
	}
	(void)prctl(PR_SET_KEEPCAPS, 0L, 0L, 0L, 0L);
	if (prctl(PR_SET_NO_NEW_PRIVS, 1L, 0L, 0L, 0L) == -1) {
		log_warn("user %s: no_new_privs", user);
		return (-1);
	}
	log_info("running as user %s with CAP_NET_ADMIN%s%s", user,
	    raw || ambient ? " and CAP_NET_RAW" : "",
	    ambient ? " (ambient: divert's commands)" : "");
	return (0);
}

/*
 * What was bound or opened at start stays until a restart: the new
 * configuration keeps the running values of those keys, so that the
 * next reload compares with what runs, and the log names each key
 * whose new value waits.
 */
#define KEEP_NUM(k, fmt) do {						\
	if (cfg->k != run->k)						\
		log_warnx("reload: " #k " takes effect at the next "	\
		    "start (running: " fmt ")", run->k);		\
	cfg->k = run->k;						\
} while (0)
#define KEEP_STR(k, none) do {						\
	if (strcmp(cfg->k, run->k) != 0)				\
		log_warnx("reload: " #k " takes effect at the next "	\
		    "start (running: %s)", run->k[0] != '\0' ? run->k :	\
		    none);						\
	spi_strlcpy(cfg->k, run->k, sizeof(cfg->k));			\
} while (0)

static void
reload_keep_start(struct config *cfg, const struct config *run)
{
	KEEP_NUM(queue, "%u");
	KEEP_NUM(threads, "%u");
	KEEP_STR(pidfile, "none");
	KEEP_STR(control, "none");
	KEEP_STR(user, "root");
	KEEP_STR(http, "off");
	KEEP_STR(state_file, "none");
	if (cfg->divert != run->divert)
		log_warnx("reload: divert takes effect at the next start "
		    "(running: %s)", divert_mode_name(run->divert));
	cfg->divert = run->divert;
	KEEP_NUM(idle_warn, "%u s");
	if ((cfg->fastpath != 0) != (run->fastpath != 0))
		log_warnx("reload: fastpath takes effect at the next start "
		    "(running: %s)", run->fastpath ? "yes" : "no");
	cfg->fastpath = run->fastpath;
	/* the key file is not read again: a new secret in the same file
	   is not seen here, and waits for the next start as well */
	if (!config_sync_same(&cfg->sync, &run->sync))
		log_warnx("reload: [sync] takes effect at the next start");
	cfg->sync = run->sync;
}
#undef KEEP_NUM
#undef KEEP_STR

/*
 * A reload's fail_open reaches the queues at once, and [daemon] divert's
 * rules (their bypass, and so whether the stop removes them) through the
 * check thread, which replaces them and logs how it went: the main loop
 * does not wait for iptables.
 */
static void
reload_divert_bypass(struct daemon *d, const struct config *cfg)
{
	if (d->divert != NULL && diverter_bypass(d->divert,
	    cfg->fail_open) == 1)
		log_info("reload: fail_open = %s: the %s diversion's rules "
		    "are being replaced by rules %s", cfg->fail_open ? "yes" :
		    "no", divert_mode_name(d->info.divert),
		    divert_bypass_words(d->info.divert, cfg->fail_open));
}

/* What config_load() found valid but useless: once per load. */
static void
config_log_warnings(const struct config *cfg, const char *when)
{
	size_t		 i;

	for (i = 0; i < cfg->nwarn; i++)
		log_warnx("%swarning: %s", when, cfg->warn[i]);
	if (cfg->warn_more > 0)
		log_warnx("%swarning: %zu more like these", when,
		    cfg->warn_more);
}

/* The reload itself (daemon_reload()) */
static int
daemon_reload_run(void *arg, char *err, size_t errlen)
{
	struct daemon	*d = arg;
	struct config	*cfg, *old;
	struct timespec	 ts;
	char		 e[ERRLEN], why[STATUS_LATE_LEN];
	unsigned	 i;

	/* MONOTONIC_USEC: what systemd's notify-reload (254) asks for */
	clock_gettime(CLOCK_MONOTONIC, &ts);
	daemon_notify_state(d, "RELOADING=1\nMONOTONIC_USEC=%llu\n"
	    "STATUS=reloading %s", (unsigned long long)ts.tv_sec * 1000000 +
	    (unsigned long long)ts.tv_nsec / 1000, d->cfgpath);
	if ((cfg = config_reload(d->cfgpath, e, sizeof(e))) == NULL) {
		log_warnx("reload failed, keeping the running configuration: "
		    "%s", e);
		snprintf(err, errlen, "%s", e);
		daemon_notify_ready(d, " (the last reload failed: the running "
		    "configuration stays; see the log)");
		return (-1);
	}
	reload_keep_start(cfg, d->cfg);
	reload_divert_bypass(d, cfg);
	log_setfacility(cfg->facility);
	config_log_warnings(cfg, "reload: ");
	/* which old rule each new one was: here, not in the workers */
	if (config_map_rules(cfg, d->cfg) == -1)
		log_warn("reload: rule counters");
	for (i = 0; i < d->nworkers; i++)
		if (worker_reload(d->workers[i], cfg) == -1) {
			status_dead_why(why, sizeof(why), &d->info, i);
			log_warnx("reload: %s", why);
		}
	/* the new rules may forbid or re-mark what the kernel carries: it
	   all comes back to be judged, and goes again when allowed (into
	   maps made for the new max, if it grew) */
	if (d->info.fpd != NULL && fpd_reload(d->info.fpd, cfg) == -1)
		log_warn("reload: emptying the fast path");
	old = d->cfg;
	d->cfg = cfg;
	d->info.cfg = cfg;
	config_free(old);
	log_info("reloaded %s: rules %zu mode %s", d->cfgpath, cfg->nrules,
	    status_mode_name(cfg->mode));
	daemon_notify_ready(d, ", reloaded");
	return (0);
}

/*
 * SIGHUP and the control socket's reload: a new configuration, or the
 * old one stays.  The old one is freed once every worker has switched.
 */
static int
daemon_reload(void *arg, char *err, size_t errlen)
{
	int	 rc;

	/*
	 * The main loop's timer does not run meanwhile: the parse of a
	 * large file takes as long as it takes (an address file of 64
	 * MiB, 6 s here, and one file may name several: nfqspid(8),
	 * SYSTEMD), and so do the workers' calls.
	 */
	sdping_begin(SDPING_CALL);
	rc = daemon_reload_run(arg, err, errlen);
	sdping_end();
	return (rc);
}

static void
sig_cb(evutil_socket_t sig, short events, void *arg)
{
	struct daemon	*d = arg;
	char		 err[ERRLEN];

	switch (sig) {
	case SIGHUP:
		if (d->exiting[0] != '\0') {
			/* worker_dead(): the loop runs on for the answers
			   being written, not for a reload's seconds */
			log_warnx("SIGHUP: reload refused: %s", d->exiting);
			break;
		}
		log_info("SIGHUP: reloading %s", d->cfgpath);
		(void)daemon_reload(d, err, sizeof(err));
		break;
	case SIGTERM:
	case SIGINT:
		log_info("%s: stopping", strsignal(sig));
		event_base_loopbreak(d->base);
		break;
	default:
		break;
	}
}

/* "worker N stopped: ...; exiting", logged; the first is why we stop,
   its errno and line STOPPING=1's (notify_stopping_msg()).  0 for a
   worker that ended after another. */
static int
daemon_worker_ended(struct daemon *d, unsigned id, int err)
{
	char	 line[ERRLEN];

	(void)snprintf(line, sizeof(line), "worker %u stopped: %s; exiting",
	    id, err != 0 ? strerror(err) : "unknown reason");
	log_warnx("%s", line);
	d->status = 1;
	if (d->ended[0] != '\0')
		return (0);
	(void)spi_strlcpy(d->ended, line, sizeof(d->ended));
	d->errnum = err;
	return (1);
}

static void
worker_dead(struct worker *w, void *arg)
{
	struct daemon	*d = arg;
	struct timeval	 grace = { 0, DEAD_GRACE_MS * 1000 };
	char		 why[STATUS_LATE_LEN - 32];

	if (!daemon_worker_ended(d, worker_id(w), worker_error(w)))
		return;		/* another one ended first */
	status_dead_why(why, sizeof(why), &d->info, worker_id(w));
	(void)snprintf(d->exiting, sizeof(d->exiting), "nfqspid is exiting: "
	    "%s", why);
	/* from now on, reloads and changes are refused (sig_cb(),
	   control_exiting()): questions are still answered */
	if (d->control != NULL)
		control_exiting(d->control, d->exiting);
	/* not this turn of the loop: a question that found the worker
	   gone (nfqspictl, the page) has its answer, "is not running",
	   waiting to be written, which a break would drop.  The grace
	   counts from now, not from the turn's start: the question may
	   have waited on the worker for seconds */
	(void)event_base_update_cache_time(d->base);
	event_base_loopexit(d->base, &grace);
}

/*
 * A worker that hangs must not go unnoticed: its queue fills, and with
 * fail_open every packet beyond it passes unchecked.  A thread of its
 * own, so that it works even when the main thread is stuck in a
 * worker_call() to the hung worker.  After WATCHDOG_CLOSE seconds
 * without a tick the worker's queue stops failing open: nothing passes
 * unchecked while nobody reads it.  After WATCHDOG_CHECKS it exits, so
 * that systemd restarts us (the kernel then does what --queue-bypass
 * says) -- or after WATCHDOG_CALL_CHECKS while the worker runs a call
 * (of the main thread or the sync link's): a slow reload is busy, not
 * hung, but the main thread waits on it, and without systemd for ever
 * (watchdog.h).
 */
static void
watchdog_close(struct daemon *d, unsigned i, unsigned stale)
{
	int	 rc = worker_close_queue(d->workers[i]);

	log_warnx("watchdog: worker %u (queue %u) has not run for %u s%s: "
	    "%s", i, d->info.queue + i, stale,
	    worker_in_call(d->workers[i]) ? " (in a call)" : "",
	    rc == 1 ? "its queue fails closed until it runs again" :
	    rc == 0 ? "its queue fails closed already" :
	    "its queue could not be made to fail closed");
}

/*
 * Our end, from the watchdog thread: exit() is not for a thread, and a
 * hung worker may hold any lock.  What is left is what needs none: the
 * log line, systemctl status's why, and the pidfile, whose pid would
 * soon be somebody else's (unlink() takes no lock; the path was set
 * before this thread started and the main thread removes it only after
 * this thread ended).  The lock goes with the process.
 */
static __dead void
watchdog_exit(struct daemon *d, const char *why)
{
	log_warnx("%s; exiting", why);
	sdnotify_status_now("exiting: ", why, 0);
	if (d->pidfd != -1)
		(void)unlink(d->pidfile);
	_exit(1);
}

/*
 * The stop: the workers no longer tick (a stopped one never will), so
 * the checks above are off; a worker that has not stopped within
 * STOP_CHECKS ends us instead of hanging the stop for ever (no systemd
 * to kill us, or its 90 s spent).  Its table may still be written to:
 * no state file is, the one emptied at the start stays empty.  Closing
 * the queues is the kernel's, at our exit: then --queue-bypass decides.
 */
static void
watchdog_stop_check(struct daemon *d, unsigned checks)
{
	unsigned	 i = __atomic_load_n(&d->stop_at, __ATOMIC_SEQ_CST);
	char		 why[160];

	if (checks < STOP_CHECKS || i >= d->nworkers)
		return;
	snprintf(why, sizeof(why), "stop: worker %u (queue %u) has not "
	    "stopped in %u s%s", i, d->info.queue + i, checks,
	    d->statefd != -1 ? ", state file not written" : "");
	watchdog_exit(d, why);
}

/* Worker i has not ticked for the last stale checks. */
static void
watchdog_stale(struct daemon *d, unsigned i, unsigned stale, int incall)
{
	char	 why[160];

	switch (watchdog_act(stale, incall)) {
	case WATCHDOG_FAIL_CLOSED:
		watchdog_close(d, i, stale);
		break;
	case WATCHDOG_EXIT:
		snprintf(why, sizeof(why), "watchdog: worker %u (queue %u) "
		    "has not run for %u s%s", i, d->info.queue + i, stale,
		    incall ? " in a call" : "");
		watchdog_exit(d, why);
		/* NOTREACHED */
	case WATCHDOG_RUNS:
		break;
	}
}

static void *
watchdog_main(void *arg)
{
	struct daemon	*d = arg;
	uint64_t	*last = d->wd_last;
	unsigned	*stale = d->wd_stale, i, stopped = 0;

	for (i = 0; i < d->nworkers; i++)
		last[i] = worker_heartbeat(d->workers[i]);
	for (;;) {
		/* a second between checks, or the stop's word to return */
		if (spi_stoppable_wait(&d->watchdog, 1000))
			break;
		if (__atomic_load_n(&d->stopping, __ATOMIC_SEQ_CST)) {
			watchdog_stop_check(d, ++stopped);
			continue;
		}
		for (i = 0; i < d->nworkers; i++) {
			/* in this order: a call's end bumps the beat before
			   it clears incall, so "out of a call" comes with the
			   call's beat, never the long call's stale count */
			int incall = worker_in_call(d->workers[i]);
			uint64_t beat = worker_heartbeat(d->workers[i]);

			if (beat != last[i] || worker_error(d->workers[i])) {
				last[i] = beat;
				stale[i] = 0;
				continue;
			}
			watchdog_stale(d, i, ++stale[i], incall);
		}
	}
	return (NULL);
}

/*
 * [daemon] divert: our diversion, once the queues are bound (packets wait
 * in them until the workers run) and while we are still root.
 */
static int
daemon_divert(struct daemon *d, char *err, size_t errlen)
{
	struct divert_spec	 spec;

	if (d->cfg->divert == DIVERT_NONE)
		return (0);
	memset(&spec, 0, sizeof(spec));
	spec.mode = d->cfg->divert;
	spec.bypass = d->cfg->fail_open;
	spec.queue = d->cfg->queue;
	spec.threads = d->cfg->threads;
	spec.fastpath = d->cfg->fastpath;
	if ((d->divert = diverter_open(&spec, PACKAGE_VERSION, err,
	    errlen)) == NULL)
		return (-1);
	d->info.divert = spec.mode;
	d->info.divert_st = diverter_state(d->divert);
	d->info.divert_ahead = diverter_ahead(d->divert);
	return (0);
}

/*
 * Each queue's packets against the interfaces': warn of a silent queue,
 * but on an HA backup, where the peer takes the traffic.  The role is
 * the sync module's.  Every count is read as the worker stores it, no
 * worker_call(): the tick never waits on a worker, so one stopped or
 * hung holds up neither the control socket nor a signal nor systemd's
 * WATCHDOG=1 (the watchdog thread deals with it).
 */
static void
daemon_qwatch(struct daemon *d)
{
	static char		 dev[65536];	/* main thread only */
	enum qwatch_event	 ev[64];
	uint64_t		 rx[64], pkts, now = spi_now_ms();
	const struct qwatch_queue *q;
	unsigned		 i;
	ssize_t			 n;
	int			 fd;

	if ((fd = open("/proc/net/dev", O_RDONLY | O_CLOEXEC)) == -1)
		return;
	n = read(fd, dev, sizeof(dev) - 1);
	close(fd);
	if (n <= 0)
		return;
	dev[n] = '\0';
	if (qwatch_netdev_pkts(dev, &pkts) == -1)
		return;
	for (i = 0; i < d->nworkers && i < 64; i++)
		rx[i] = worker_received(d->workers[i]);
	if (d->sync != NULL)
		qwatch_quiet(d->qwatch, sync_role(d->sync) ==
		    SYNC_ROLE_BACKUP);
	qwatch_update(d->qwatch, rx, pkts, now, ev);
	for (i = 0; i < d->nworkers && i < 64; i++) {
		q = qwatch_queue(d->qwatch, i);
		if (ev[i] == QWATCH_IDLE)
			log_warnx("queue %u: no packet for %" PRIu64 " s while "
			    "the interfaces carried %" PRIu64 " packets: is "
			    "traffic diverted to it? (nfqspid(8), DIVERTING "
			    "TRAFFIC)", d->info.queue + i,
			    (now - q->rx_ms) / 1000, q->idle_pkts);
		else if (ev[i] == QWATCH_ACTIVE)
			log_info("queue %u: packets arrive again",
			    d->info.queue + i);
	}
}

static void
daemon_tick(evutil_socket_t fd, short events, void *arg)
{
	struct daemon	*d = arg;

	daemon_qwatch(d);
}

/* Not fatal: without it there are no idle queue warnings. */
static void
daemon_tick_start(struct daemon *d)
{
	struct timeval	 tv = { TICK_MS / 1000, (TICK_MS % 1000) * 1000 };

	/* threads is at most 64 (config.c): daemon_qwatch's arrays */
	if ((d->qwatch = qwatch_new(d->nworkers,
	    (uint64_t)d->cfg->idle_warn * 1000, spi_now_ms())) == NULL ||
	    (d->tick = event_new(d->base, -1, EV_PERSIST, daemon_tick,
	    d)) == NULL || event_add(d->tick, &tv) == -1) {
		log_warnx("the main loop's timer: cannot start: no idle "
		    "queue warnings");
		return;
	}
	d->info.qwatch = d->qwatch;
}

static void
daemon_tick_stop(struct daemon *d)
{
	if (d->tick != NULL)
		event_free(d->tick);
	d->tick = NULL;
	qwatch_free(d->qwatch);
	d->qwatch = NULL;
	d->info.qwatch = NULL;
}

/*
 * The watchdog thread, with every signal blocked: they are the main
 * thread's.  The stop ends it through its pipe (struct spi_stoppable),
 * not pthread_cancel().  0, or -1 logged: unwatched, a hung worker
 * would never be ended, running or at the stop.
 */
static int
watchdog_start(struct daemon *d)
{
	if ((d->wd_last = calloc(d->nworkers, sizeof(*d->wd_last))) == NULL ||
	    (d->wd_stale = calloc(d->nworkers, sizeof(*d->wd_stale))) == NULL ||
	    spi_stoppable_start(&d->watchdog, watchdog_main, d) == -1) {
		log_warn("watchdog: cannot start");
		free(d->wd_last);
		free(d->wd_stale);
		d->wd_last = NULL;
		d->wd_stale = NULL;
		return (-1);
	}
	return (0);
}

/*
 * The stop writes the table for the next start only if that start reads
 * it: the configuration file as it is now (edited for the next start,
 * reloaded or not) must name the same state_file.  Written for a start
 * that does not read it, this run's table would wait in the file (it
 * was emptied at our start) for a later start with it, which would take
 * connections older than the run between, that may have ended.  A file
 * that cannot be read or is refused says nothing: written as always.
 */
static int
daemon_state_next(const struct daemon *d)
{
	struct config	*cfg;
	char		 e[ERRLEN];
	int		 same;

	if ((cfg = config_reload(d->cfgpath, e, sizeof(e))) == NULL) {
		log_warnx("state file %s: written, though %s cannot tell "
		    "whether the next start reads it: %s", d->cfg->state_file,
		    d->cfgpath, e);
		return (1);
	}
	if (!(same = strcmp(cfg->state_file, d->cfg->state_file) == 0))
		log_warnx("state file %s: not written: %s names %s for the "
		    "next start", d->cfg->state_file, d->cfgpath,
		    cfg->state_file[0] != '\0' ? cfg->state_file :
		    "no state_file");
	config_free(cfg);
	return (same);
}

/*
 * A worker that ended on its own while the stop waited on it or on
 * another, or in the loop's last turn (a SIGTERM's break first): its
 * worker_dead() never ran, the loop no longer dispatching.  The exit is
 * an error's all the same, and, as after worker_dead(), the state file
 * is not written: the next start begins empty.  systemd, told
 * "stopping" alone, hears of the first.
 */
static void
daemon_dead_late(struct daemon *d, struct stop_notify *sn)
{
	unsigned	 i;

	for (i = 0; i < d->nworkers; i++)
		if (worker_ended_unseen(d->workers[i]) &&
		    daemon_worker_ended(d, i, worker_error(d->workers[i])))
			daemon_notify_late(d, sn);
}

/* After the main loop: stop reading, answer every packet already
   queued, unbind, free.  sn: the STOPPING=1 sent before. */
static void
daemon_stop(struct daemon *d, struct stop_notify *sn, struct event *sigev[3],
    const int sigs[3])
{
	sigset_t	 set;
	unsigned	 i;

	/* No more packets diverted (fail-closed: no more pass) first. */
	daemon_tick_stop(d);
	if (d->wdog != NULL)
		event_free(d->wdog);
	d->wdog = NULL;
	d->info.divert_st = NULL;
	d->info.divert_ahead = NULL;
	diverter_close(d->divert);
	d->divert = NULL;
	d->info.divert = DIVERT_NONE;
	/* the kernel table goes first: what it carried comes to the
	   workers, which still answer */
	fpd_stop(d->info.fpd);
	/* the watchdog bounds the workers' stop (watchdog_stop_check()) */
	__atomic_store_n(&d->stop_at, 0, __ATOMIC_SEQ_CST);
	__atomic_store_n(&d->stopping, 1, __ATOMIC_SEQ_CST);
	for (i = 0; i < d->nworkers; i++) {
		__atomic_store_n(&d->stop_at, i, __ATOMIC_SEQ_CST);
		worker_stop(d->workers[i]);
	}
	__atomic_store_n(&d->stop_at, d->nworkers, __ATOMIC_SEQ_CST);
	daemon_dead_late(d, sn);
	spi_stoppable_stop(&d->watchdog);
	free(d->wd_last);
	free(d->wd_stale);
	/* a connection one handed to another that stopped first */
	worker_ask_drain(d->workers, d->nworkers);
	/* and one the sync thread moved home to a worker that had
	   stopped (made backup meanwhile) */
	sync_stop(d->sync);
	/* the tables as they are, before the queues are unbound; after
	   an error (a worker died, hung) the next start begins empty */
	if (d->status == 0 && d->statefd != -1 && daemon_state_next(d))
		state_save(d->statefd, d->cfg->state_file, d->workers,
		    d->nworkers);
	else if (d->statefd != -1)
		close(d->statefd);
	else if (d->status == 0 && d->cfg->state_file[0] != '\0')
		log_warnx("state file %s: not written: the start could not "
		    "open it", d->cfg->state_file);
	d->statefd = -1;
	http_close(d->http);
	if (d->control != NULL)
		control_close(d->control);
	for (i = 0; i < d->nworkers; i++)
		worker_free(d->workers[i]);
	sync_free(d->sync);
	d->sync = NULL;
	fpd_free(d->info.fpd);
	d->info.fpd = NULL;
	events_free(d->events);
	/*
	 * Freeing its events, libevent puts the default actions back: a
	 * second SIGTERM now would end us before the pidfile goes and the
	 * "stopped" line is written.  Every packet is answered by now; the
	 * rest is tidying up.
	 */
	sigemptyset(&set);
	for (i = 0; i < 3; i++)
		sigaddset(&set, sigs[i]);
	sigprocmask(SIG_BLOCK, &set, NULL);
	for (i = 0; i < 3; i++) {
		event_free(sigev[i]);
		signal(sigs[i], SIG_IGN);
	}
	sigprocmask(SIG_UNBLOCK, &set, NULL);
	free(d->workers);
	event_base_free(d->base);
}

/*
 * The workers and what they hand their changes to: the events, the sync
 * thread and the fast path's, made but not started.  -1 after a log line;
 * daemon_run()'s failure path frees what was made.
 */
static int
daemon_workers(struct daemon *d)
{
	char		 err[ERRLEN];
	unsigned	 i;

	d->nworkers = d->cfg->threads;
	if ((d->workers = calloc(d->nworkers, sizeof(*d->workers))) == NULL) {
		log_warn("workers");
		return (-1);
	}
	for (i = 0; i < d->nworkers; i++)
		if ((d->workers[i] = worker_new(i, d->cfg, err,
		    sizeof(err))) == NULL) {
			log_warnx("%s", err);
			return (-1);
		}

	if ((d->events = events_new(d->base, d->nworkers)) == NULL) {
		log_warn("events");
		return (-1);
	}
	for (i = 0; i < d->nworkers; i++)
		worker_set_events(d->workers[i], d->events);
	if (d->cfg->sync.on) {
		if ((d->sync = sync_new(&d->cfg->sync, d->workers,
		    d->nworkers, err, sizeof(err))) == NULL) {
			log_warnx("%s", err);
			return (-1);
		}
		for (i = 0; i < d->nworkers; i++)
			worker_set_sync(d->workers[i], d->sync);
	}
	/* the kernel table, emptied, before any worker runs */
	if (d->cfg->fastpath) {
		if ((d->info.fpd = fpd_open(d->cfg, d->nworkers, err,
		    sizeof(err))) == NULL) {
			log_warnx("%s", err);
			return (-1);
		}
		for (i = 0; i < d->nworkers; i++)
			worker_set_fastpath(d->workers[i], d->info.fpd);
	}
	return (0);
}

/*
 * What answers operators: the control socket and the status page.  A
 * daemon nobody can reload, ask or flush does not start (under the unit
 * it once ran so, unseen).  0, or -1 logged.
 */
static int
daemon_doors(struct daemon *d)
{
	char		 err[ERRLEN];

	d->info.version = PACKAGE_VERSION;
	d->info.pid = getpid();
	d->info.started = time(NULL);
	d->info.started_ms = spi_now_ms();
	d->info.queue = d->cfg->queue;
	d->info.threads = d->cfg->threads;
	d->info.cfg = d->cfg;
	d->info.sync = d->sync;
	if (d->cfg->control[0] != '\0' &&
	    (d->control = control_open(d->base, d->cfg->control, &d->info,
	    d->workers, d->nworkers, d->events, daemon_reload, d)) == NULL) {
		log_warn("control socket %s", d->cfg->control);
		return (-1);
	}
	if (d->cfg->http[0] != '\0' && (d->http = http_open(d->base, d->cfg,
	    &d->info, d->workers, d->nworkers, err, sizeof(err))) == NULL) {
		log_warnx("%s", err);
		return (-1);
	}
	return (0);
}

/* The fast path's thread, the workers and the sync link's: 0, or -1
   logged (daemon_run() stops what started). */
static int
daemon_threads(struct daemon *d)
{
	unsigned	 i;

	if (d->info.fpd != NULL && fpd_start(d->info.fpd) == -1) {
		log_warn("fastpath: cannot start its thread");
		return (-1);
	}
	for (i = 0; i < d->nworkers; i++)
		if (worker_start(d->workers[i], d->base, worker_dead,
		    d) == -1) {
			log_warn("worker %u: cannot start", i);
			return (-1);
		}
	worker_set_peers(d->workers, d->nworkers);
	if (d->sync != NULL) {
		if (sync_start(d->sync) == -1) {
			log_warn("sync: cannot start");
			return (-1);
		}
		log_info("sync: listening on the sync link, role %s",
		    sync_role_name(d->cfg->sync.role));
	}
	return (0);
}

/*
 * A start that failed: the error that brought us here said first,
 * before the tidying logs more; then whatever daemon_run() had made,
 * undone.  The exit status, 1.
 */
static int
daemon_start_failed(struct daemon *d, struct event **sigev)
{
	unsigned	 i;

	daemon_notify_failed();
	http_close(d->http);
	if (d->control != NULL)
		control_close(d->control);
	fpd_stop(d->info.fpd);
	if (d->workers != NULL)
		for (i = 0; i < d->nworkers; i++)
			worker_free(d->workers[i]);
	sync_free(d->sync);
	fpd_free(d->info.fpd);
	d->info.fpd = NULL;
	/* once the threads have ended: a start that failed for want of a
	   thread (the user's process limit) leaves the removal's commands
	   room to run.  The queues are closed meanwhile: the rules' bypass,
	   or its lack, says what the kernel does, as once we are gone */
	diverter_close(d->divert);
	events_free(d->events);
	free(d->workers);
	for (i = 0; i < 3; i++)
		if (sigev[i] != NULL)
			event_free(sigev[i]);
	if (d->base != NULL)
		event_base_free(d->base);
	if (d->statefd != -1)
		close(d->statefd);
	d->statefd = -1;
	pidfile_remove(d);
	return (1);
}

static int
daemon_run(struct daemon *d, int foreground, int debug)
{
	struct event	*sigev[3] = { NULL, NULL, NULL };
	static const int sigs[3] = { SIGHUP, SIGTERM, SIGINT };
	struct state_load *sl = NULL;
	struct stop_notify sn;
	char		 err[ERRLEN];
	unsigned	 i;
	int		 readyfd = -1;

	if (!foreground) {
		/* a thread does not cross fork(): the child's own */
		sdping_stop();
		readyfd = daemon_fork();
		sdping_begin(SDPING_START);
	}
	if (pidfile_open(d, d->cfg->pidfile) == -1) {
		daemon_notify_failed();
		return (1);
	}
	if (pidfile_write(d) == -1) {
		daemon_notify_failed();
		pidfile_remove(d);
		return (1);
	}
	signal(SIGPIPE, SIG_IGN);
	/* a stray signal (a script's kill -USR1 to the wrong pid) must not
	   stop the firewall: their default action is to end the process */
	signal(SIGUSR1, SIG_IGN);
	signal(SIGUSR2, SIG_IGN);
	/* before libevent allocates anything: the workers' bases and
	   events, made one after another here, share no cache line */
	event_set_mem_functions(cacheline_malloc, cacheline_realloc, free);
	if (evthread_use_pthreads() == -1) {
		log_warnx("libevent: no pthreads support");
		goto fail;
	}
	if ((d->base = event_base_new()) == NULL) {
		log_warnx("libevent: cannot make an event base");
		goto fail;
	}

	/* the last run's table, read as root before a queue is bound,
	   goes into the tables before a worker reads a packet */
	if (d->cfg->state_file[0] != '\0' &&
	    (d->statefd = state_open(d->cfg->state_file)) != -1)
		sl = state_read(d->statefd, d->cfg->state_file, d->cfg);
	if (daemon_workers(d) == -1) {
		state_forget(sl);
		goto fail;
	}
	state_restore(sl, d->workers, d->nworkers, d->sync != NULL);

	for (i = 0; i < 3; i++)
		if ((sigev[i] = evsignal_new(d->base, sigs[i], sig_cb,
		    d)) == NULL || event_add(sigev[i], NULL) == -1) {
			log_warnx("libevent: signal %d", sigs[i]);
			goto fail;
		}

	/* before the control socket: once it answers, the diversion is in */
	if (daemon_divert(d, err, sizeof(err)) == -1) {
		log_warnx("%s", err);
		goto fail;
	}
	if (daemon_doors(d) == -1)
		goto fail;

	if (d->cfg->user[0] != '\0') {
		/* capabilities are a thread's own: no thread of ours
		   crosses the drop with root's, the start's pings stop and
		   go on after it */
		sdping_stop();
		if (drop_privileges(d->cfg->user, verdict_has_reject(d->cfg),
		    d->divert != NULL) == -1)
			goto fail;
		sdping_begin(SDPING_START);
	}

	if (daemon_threads(d) == -1)
		goto fail;
	/* after drop_privileges(), whose capabilities are the calling
	   thread's alone; fatal: who asked for divert expects it watched
	   and put back, and the stop's tidying follows (fail:) */
	if (d->divert != NULL &&
	    diverter_start(d->divert, DIVERT_TICKS * TICK_MS) == -1) {
		log_warn("divert: the check thread cannot start");
		goto fail;
	}
	/* once the workers run (it reads their heartbeats), the last
	   thread: nothing after it fails, so the fail: path need not stop
	   it; before state_used(), so that a failed start keeps the file */
	if (watchdog_start(d) == -1)
		goto fail;
	/* the workers hold the file's table now: never read twice */
	state_used(d->statefd, d->cfg->state_file);

	daemon_tick_start(d);

	log_info("nfqspid %s started: queue %u threads %u rules %zu mode %s",
	    PACKAGE_VERSION, d->cfg->queue, d->cfg->threads, d->cfg->nrules,
	    status_mode_name(d->cfg->mode));
	if (readyfd != -1) {
		daemon_ready(readyfd);
		log_init(LOG_STDERR_NONE, debug, d->cfg->facility);
	}
	sdping_end();
	daemon_notify_ready(d, "");
	daemon_wdog_start(d);

	event_base_dispatch(d->base);

	daemon_notify_stop(d);
	daemon_notify_stopping(d, &sn);

	daemon_stop(d, &sn, sigev, sigs);
	stop_notify_end(d, &sn);
	pidfile_remove(d);
	log_info("nfqspid %s stopped%s", PACKAGE_VERSION,
	    d->status != 0 ? " after an error" : "");
	return (d->status);

 fail:
	return (daemon_start_failed(d, sigev));
}

/* nfqspid -n: the configuration's warnings, then "configuration OK" */
static void
check_warnings(const struct config *cfg)
{
	char		 err[ERRLEN];
	size_t		 i;
	int		 fd;

	for (i = 0; i < cfg->nwarn; i++)
		fprintf(stderr, "nfqspid: warning: %s\n", cfg->warn[i]);
	if (cfg->warn_more > 0)
		fprintf(stderr, "nfqspid: warning: %zu more like these\n",
		    cfg->warn_more);
	/* what the start would refuse: the pidfile stops it */
	if (cfg->pidfile[0] != '\0' && (fd = pidfile_open_path(cfg->pidfile,
	    O_RDONLY, err, sizeof(err))) != -1) {
		if (pidfile_stale(fd, err, sizeof(err)) == -1)
			fprintf(stderr, "nfqspid: warning: pidfile %s: %s; the "
			    "start would fail\n", cfg->pidfile, err);
		close(fd);
	} else if (cfg->pidfile[0] != '\0' && errno != ENOENT)
		fprintf(stderr, "nfqspid: warning: pidfile %s: %s; the start "
		    "would fail\n", cfg->pidfile, err);
	/* ...and start without */
	if (cfg->state_file[0] != '\0' &&
	    state_path_check(cfg->state_file, err, sizeof(err)) == -1)
		fprintf(stderr, "nfqspid: warning: state file %s: %s; "
		    "connections will not be kept across a restart\n",
		    cfg->state_file, err);
	fprintf(stderr, "configuration OK\n");
}

int
main(int argc, char *argv[])
{
	static const struct option longopts[] = {
		{ "replay",	required_argument,	NULL,	'R' },
		{ "help",	no_argument,		NULL,	'h' },
		{ NULL,		0,			NULL,	0 }
	};
	struct daemon	 d;
	const char	*replay = NULL;
	char		 err[ERRLEN], abspath[CONFIG_PATHLEN];
	int		 ch, debug = 0, foreground = 0, check = 0, status;
	int		 journal;

	memset(&d, 0, sizeof(d));
	d.pidfd = -1;
	d.statefd = -1;
	d.cfgpath = CONFIG_DEFAULT_PATH;

	while ((ch = getopt_long(argc, argv, "c:dfhnV", longopts,
	    NULL)) != -1) {
		switch (ch) {
		case 'c':
			d.cfgpath = optarg;
			break;
		case 'd':
			debug = 1;
			break;
		case 'f':
			foreground = 1;
			break;
		case 'h':
			usage(stdout, 0);
		case 'n':
			check = 1;
			break;
		case 'V':
			printf("nfqspid %s\n", PACKAGE_VERSION);
			return (0);
		case 'R':
			replay = optarg;
			break;
		default:
			usage(stderr, 2);
		}
	}
	if (optind != argc)
		usage(stderr, 2);

	if (check || replay != NULL) {
		/* offline: stderr only, nothing to syslog */
		if ((d.cfg = config_load(d.cfgpath, err, sizeof(err))) ==
		    NULL || (check &&
		    config_user_check(d.cfg, err, sizeof(err)) == -1)) {
			fprintf(stderr, "%s\n", err);
			config_free(d.cfg);
			return (2);
		}
		if (check) {
			check_warnings(d.cfg);
			config_free(d.cfg);
			return (0);
		}
		status = replay_run(d.cfg, replay, stdout);
		config_free(d.cfg);
		return (status);
	}

	/* under systemd, stderr and syslog both reach the journal */
	journal = log_stderr_journal();
	log_init(journal ? LOG_STDERR_JOURNAL : LOG_STDERR_ALL, debug,
	    LOG_DAEMON);
	if (sdnotify_open() == -1)
		log_warn("NOTIFY_SOCKET: systemd will not hear that nfqspid "
		    "is ready");
	log_on_fatal(daemon_notify_fatal);
	/* to READY=1 (daemon_run()): the parse of huge address files, the
	   state file, the diversion's commands may outlast systemd's start
	   timeout */
	sdping_begin(SDPING_START);
	if ((d.cfg = config_load(d.cfgpath, err, sizeof(err))) == NULL ||
	    config_user_check(d.cfg, err, sizeof(err)) == -1) {
		log_warnx("%s", err);
		daemon_notify_failed();
		config_free(d.cfg);
		sdping_stop();
		sdnotify_close();
		log_close();
		return (2);
	}
	log_init(journal ? LOG_STDERR_JOURNAL : foreground ? LOG_STDERR_ALL :
	    LOG_STDERR_WARN, debug, d.cfg->facility);
	config_log_warnings(d.cfg, "");
	if (cfgpath_absolute(&d, abspath, sizeof(abspath)) == -1) {
		log_warn("%s: the directory it is in", d.cfgpath);
		daemon_notify_failed();
		config_free(d.cfg);
		sdping_stop();
		sdnotify_close();
		log_close();
		return (1);
	}
	if (!foreground)
		log_debug("%s: daemonizing", __func__);
	status = daemon_run(&d, foreground, debug);
	sdping_stop();
	config_free(d.cfg);
	sdnotify_close();
	log_close();
	return (status);
}
