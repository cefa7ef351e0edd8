/*
 * nfqspictl.c - talk to nfqspid over its control socket
 *
 * Copyright (C) 2026 The nfqspid authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * One request, then the answer streamed to stdout frame by frame, so a
 * table of any size goes through a fixed buffer.  Every wait has a
 * timeout (but `events`, which runs until interrupted): a stuck daemon
 * makes us fail, never hang.
 */
#include "autoconf.h"		/* first: _GNU_SOURCE, PACKAGE_VERSION */

#include <sys/types.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ctfilter.h"
#include "ctlproto.h"

#define CTL_READ_TIMEOUT	30	/* seconds without a byte: -t's default */
#define CTL_TIMEOUT_MAX		3600	/* -t's most */
#define CTL_TRIES		3	/* sends the daemon cut short */

#define EXIT_USAGE		2

static const char *progname = "nfqspictl";
/* -t: seconds to wait for the daemon, then from the last byte it sent */
static int	 ctl_timeout = CTL_READ_TIMEOUT;
/* -t from the start: to connect, send, and have the first byte back */
static struct timespec	 ctl_deadline;
static int		 answered;	/* a byte came: -t from the last */
static int		 sends;		/* requests sent, CTL_TRIES at most */

/*
 * `events` runs until interrupted: SIGINT (Ctrl-C) and SIGTERM end it
 * as they end conntrack -E, with exit status 0 and every line printed
 * whole.  They are blocked but while ppoll() waits, for the daemon or
 * for room in stdout, so that none cuts a frame's write short.
 */
static volatile sig_atomic_t	 stop_sig;
static sigset_t			 stop_waitmask;	/* ppoll()'s */
static int			 stoppable;

static void
usage(FILE *fp)
{
	fprintf(fp,
	    "usage: %s [-j] [-s socket] [-t seconds] command "
	    "[arguments]\n"
	    "commands:\n"
	    "  status                     the daemon, its queues and counters\n"
	    "  conntrack [FILTER...]      the connection table\n"
	    "  conntrack count [FILTER...]\n"
	    "                             the number of connections\n"
	    "  conntrack flush            remove all connections\n"
	    "  conntrack delete FILTER... remove the matching ones "
	    "(exit 1 if none)\n"
	    "  events [-e NEW,UPDATE,DESTROY] [-o timestamp] [FILTER...]\n"
	    "                             event lines until interrupted\n"
	    "  rules [-Z]                 the rules and what they decided; "
	    "-Z zeroes\n"
	    "  stats                      counters per worker\n"
	    "  reload [PID]               reload the configuration (PID: "
	    "SIGHUP to it\n"
	    "                             if the socket is not its own)\n"
	    "  iptables                   iptables-restore rules that divert "
	    "to the queues\n"
	    "  nft                        the same as an nft -f ruleset\n"
	    "  sync [status]              the HA peer: reachable, role, "
	    "ready, lag, bulks\n"
	    "  sync role master|backup    what keepalived's notify hooks "
	    "call\n"
	    "  sync resync                ask the peer for its whole table\n"
	    "FILTER, as conntrack(8): -p PROTO, -s ADDR[/LEN], -d ADDR[/LEN], "
	    "--sport N,\n"
	    "  --dport N, -f ipv4|ipv6, --state STATE[,...], -m MARK[/MASK],\n"
	    "  -u [!]STATUS[,...] (ASSURED, SEEN_REPLY, UNREPLIED, OFFLOAD);\n"
	    "  or KEY=VALUE: src= dst= sport= dport= proto=\n"
	    "  -j  JSON output   -s  socket (default %s)\n"
	    "  -t  seconds to wait for the daemon: to take the request "
	    "and answer,\n"
	    "      then from its last byte (default %d)\n"
	    "See nfqspictl(8).\n", progname, CTL_DEFAULT_SOCKET,
	    CTL_READ_TIMEOUT);
}

/* A mistake on the command line: say which, and where to look. */
static void
bad_usage(const char *msg, const char *arg)
{
	if (msg == NULL) {
		usage(stderr);
		exit(EXIT_USAGE);
	}
	fprintf(stderr, "%s: %s%s%s%s\n", progname, msg,
	    arg ? " \"" : "", arg ? arg : "", arg ? "\"" : "");
	fprintf(stderr, "usage: %s [-j] [-s socket] [-t seconds] command "
	    "[arguments]; %s -h or nfqspictl(8) for more\n", progname,
	    progname);
	exit(EXIT_USAGE);
}

/* The filters of conntrack, count, delete or events (ctfilter.h). */
static void
check_filters(const char *what, int argc, char *argv[], unsigned flags)
{
	struct ctf	 f;
	char		 err[256];

	if (ctf_parse(&f, argc, argv, flags, err, sizeof(err)) == -1) {
		fprintf(stderr, "%s: %s: %s\n", progname, what, err);
		fprintf(stderr, "usage: see %s -h or nfqspictl(8)\n",
		    progname);
		exit(EXIT_USAGE);
	}
}

/* -t's seconds, 1 to CTL_TIMEOUT_MAX, or -1 */
static int
timeout_arg(const char *s)
{
	char	*end;
	long	 v;

	if (!isdigit((unsigned char)*s))	/* no sign, no space */
		return (-1);
	errno = 0;
	v = strtol(s, &end, 10);
	if (*end != '\0' || errno != 0 || v < 1 || v > CTL_TIMEOUT_MAX)
		return (-1);
	return ((int)v);
}

/* -t 1: "1 second" */
static const char *
seconds(int n)
{
	return (n == 1 ? "second" : "seconds");
}

/* reload's PID: a process other than init and us, or -1 */
static pid_t
reload_pid(const char *s)
{
	char	*end;
	long	 v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (end == s || *end != '\0' || errno != 0 || v <= 1 ||
	    v > 0x3fffffff || v == (long)getpid())
		return (-1);
	return ((pid_t)v);
}

/* Check the command line before bothering the daemon. */
static void
check_args(int argc, char *argv[])
{
	int	 i;

	if (!ctl_command_known(argv[0]))
		bad_usage("unknown command", argv[0]);
	if (argc > CTL_MAXARGS)
		bad_usage("too many arguments", NULL);
	for (i = 0; i < argc; i++)
		if (strlen(argv[i]) > CTL_MAXARGLEN)
			bad_usage("argument too long", NULL);
	if (strcmp(argv[0], "events") == 0) {
		check_filters("events", argc - 1, argv + 1, CTF_F_KEYVAL |
		    CTF_F_EVENTS);
		return;
	}
	if (strcmp(argv[0], "rules") == 0) {
		if (argc == 2 && (strcmp(argv[1], "-Z") == 0 ||
		    strcmp(argv[1], "--zero") == 0))
			return;
		if (argc > 1)
			bad_usage("rules: expected nothing or -Z, not",
			    argv[1]);
		return;
	}
	if (strcmp(argv[0], "reload") == 0) {
		if (argc > 2)
			bad_usage("reload: expected at most a pid, not",
			    argv[2]);
		if (argc == 2 && reload_pid(argv[1]) == -1)
			bad_usage("reload: not a pid", argv[1]);
		return;
	}
	if (strcmp(argv[0], "sync") == 0) {
		if (argc == 1 || (argc == 2 && (strcmp(argv[1], "status") ==
		    0 || strcmp(argv[1], "resync") == 0)) || (argc == 3 &&
		    strcmp(argv[1], "role") == 0 &&
		    (strcmp(argv[2], "master") == 0 ||
		    strcmp(argv[2], "backup") == 0)))
			return;
		bad_usage("sync: expected status, role master|backup or "
		    "resync, not", argv[argc > 1 ? argc - 1 : 0]);
	}
	if (strcmp(argv[0], "conntrack") != 0) {
		if (argc > 1)
			bad_usage("no arguments expected after", argv[0]);
		return;
	}
	if (argc == 1)
		return;
	if (strcmp(argv[1], "flush") == 0) {
		if (argc > 2)
			bad_usage("no arguments expected after", argv[1]);
	} else if (strcmp(argv[1], "count") == 0)
		check_filters("conntrack count", argc - 2, argv + 2,
		    CTF_F_KEYVAL);
	else if (strcmp(argv[1], "delete") == 0)
		check_filters("conntrack delete", argc - 2, argv + 2,
		    CTF_F_KEYVAL | CTF_F_NEEDONE);
	else
		check_filters("conntrack", argc - 1, argv + 1, CTF_F_KEYVAL);
}

static int
ms_left(const struct timespec *deadline)
{
	struct timespec	 now;
	long long	 ms;

	clock_gettime(CLOCK_MONOTONIC, &now);
	ms = (long long)(deadline->tv_sec - now.tv_sec) * 1000 +
	    (deadline->tv_nsec - now.tv_nsec) / 1000000;
	return (ms < 0 ? 0 : ms > 1000000000 ? 1000000000 : (int)ms);
}

static void
deadline_in(struct timespec *d, int sec)
{
	clock_gettime(CLOCK_MONOTONIC, d);
	d->tv_sec += sec;
}

static void
stop_cb(int sig)
{
	stop_sig = sig;
}

/* events: SIGINT and SIGTERM caught, and held until ppoll() waits.  One
   ignored (SIGINT in a script's background job) stays ignored. */
static void
stop_on_signals(void)
{
	static const int	 sigs[] = { SIGINT, SIGTERM };
	struct sigaction	 sa, old;
	sigset_t		 block;
	size_t			 i;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = stop_cb;
	sigemptyset(&sa.sa_mask);
	sigemptyset(&block);
	for (i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++) {
		if (sigaction(sigs[i], NULL, &old) == -1 ||
		    old.sa_handler == SIG_IGN)
			continue;
		sigaddset(&block, sigs[i]);
		(void)sigaction(sigs[i], &sa, NULL);
	}
	/* one that came before the block set stop_sig: wait_fd() sees it */
	if (sigprocmask(SIG_BLOCK, &block, &stop_waitmask) == 0)
		stoppable = 1;
}

/*
 * Between frames: a stream that never pauses never waits in ppoll(),
 * where alone a stop signal is let in, and the signal would stay
 * pending for ever.  Unblocked a moment, it is delivered before
 * sigprocmask() returns (POSIX, one thread).
 */
static int
stop_asked(void)
{
	sigset_t	 held;

	if (stoppable && stop_sig == 0 &&
	    sigprocmask(SIG_SETMASK, &stop_waitmask, &held) == 0)
		(void)sigprocmask(SIG_SETMASK, &held, NULL);
	return (stop_sig != 0);
}

/* poll() for events until the deadline (NULL: forever).  0 or -1;
   errno EINTR once `events` is told to stop. */
static int
wait_fd(int fd, short events, const struct timespec *deadline)
{
	struct pollfd	 pfd;
	struct timespec	 ts;
	int		 n, ms = 0;

	for (;;) {
		if (stop_sig != 0) {
			errno = EINTR;
			return (-1);
		}
		pfd.fd = fd;
		pfd.events = events;
		pfd.revents = 0;
		if (deadline != NULL) {
			ms = ms_left(deadline);
			ts.tv_sec = ms / 1000;
			ts.tv_nsec = (long)(ms % 1000) * 1000000;
		}
		n = ppoll(&pfd, 1, deadline != NULL ? &ts : NULL,
		    stoppable ? &stop_waitmask : NULL);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1)
			return (-1);
		if (n == 0) {
			errno = ETIMEDOUT;
			return (-1);
		}
		return (0);
	}
}

/*
 * events: a frame to stdout, whole, in writes that fit in a pipe's free
 * page once ppoll() finds room, so a reader that stopped reading (a
 * paused pager) cannot hold a stop signal out.  0, 1 when told to stop
 * (stdout then ends with a whole line), or -1.  A stop once part of the
 * frame is out waits a second more for the rest, then leaves the line
 * cut: its reader was not reading.
 */
static int
out_frame(const uint8_t *p, size_t len)
{
	struct pollfd	 pfd = { STDOUT_FILENO, POLLOUT, 0 };
	struct timespec	 end;
	size_t		 off = 0;
	ssize_t		 n;
	int		 stopping = 0;

	while (off < len) {
		if (!stopping && wait_fd(STDOUT_FILENO, POLLOUT, NULL) == -1) {
			if (errno != EINTR)
				return (-1);
			if (off == 0)
				return (1);
			stopping = 1;
			deadline_in(&end, 1);
		}
		/* the signals are held here: poll() is not cut short */
		if (stopping && poll(&pfd, 1, ms_left(&end)) < 1)
			return (1);
		n = write(STDOUT_FILENO, p + off, len - off < PIPE_BUF ?
		    len - off : PIPE_BUF);
		if (n == -1 && errno != EINTR && errno != EAGAIN)
			return (-1);
		if (n > 0)
			off += (size_t)n;
	}
	return (stopping);
}

/*
 * Connect within ctl_deadline.  A daemon whose main loop is stuck
 * accepts nothing: once its backlog is full, a non-blocking AF_UNIX
 * connect() fails with EAGAIN at once (never EINPROGRESS), so we try
 * again, more slowly, until the deadline; then ETIMEDOUT.
 */
static int
ctl_connect(const char *path)
{
	struct sockaddr_un	 sun;
	socklen_t		 len;
	int			 fd, err, ms, nap = 10;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sun.sun_path)) {
		errno = ENAMETOOLONG;
		return (-1);
	}
	memcpy(sun.sun_path, path, strlen(path) + 1);
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
	    0)) == -1)
		return (-1);
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == 0)
		return (fd);
	if (errno != EINPROGRESS && errno != EAGAIN)
		goto fail;
	while (errno == EAGAIN) {
		if ((ms = ms_left(&ctl_deadline)) == 0) {
			errno = ETIMEDOUT;
			goto fail;
		}
		poll(NULL, 0, nap < ms ? nap : ms);
		nap = nap < 100 ? nap * 2 : 100;
		if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == 0)
			return (fd);
	}
	if (errno != EINPROGRESS)
		goto fail;
	if (wait_fd(fd, POLLOUT, &ctl_deadline) == -1)
		goto fail;
	len = sizeof(err);
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) == -1)
		goto fail;
	if (err != 0) {
		errno = err;
		goto fail;
	}
	return (fd);
 fail:
	err = errno;
	close(fd);
	errno = err;
	return (-1);
}

/* The request, within ctl_deadline. */
static int
send_all(int fd, const uint8_t *p, size_t len)
{
	ssize_t		 n;

	while (len > 0) {
		n = send(fd, p, len, MSG_NOSIGNAL);
		if (n == -1) {
			if (errno == EINTR)
				continue;
			if (errno != EAGAIN)
				return (-1);
			if (wait_fd(fd, POLLOUT, &ctl_deadline) == -1)
				return (-1);
			continue;
		}
		p += n;
		len -= (size_t)n;
	}
	return (0);
}

/*
 * Before a try again: a pause, so that the daemon, which acted on the
 * last try, gets on; then -t again from now (nfqspictl(8): each try
 * has -t anew).
 */
static void
retry_pause(void)
{
	poll(NULL, 0, 100);
	deadline_in(&ctl_deadline, ctl_timeout);
}

/*
 * Connect and send the request; the descriptor, or -1 once said why.
 * All 16 slots busy, the daemon gives the oldest client that has not
 * sent a whole request to a newer one (nfqspictl(8)): if that was us,
 * our send fails before the daemon had the request, which therefore
 * did not run, and goes again on a new connection (ctl_resend() where
 * the request was sent but not read).
 */
static int
ctl_send_request(const char *path, const uint8_t *buf, size_t n)
{
	int	 fd, err;

	for (;;) {
		sends++;
		if ((fd = ctl_connect(path)) == -1 && errno == ETIMEDOUT) {
			fprintf(stderr, "%s: %s: the daemon accepted no "
			    "connection within %d %s\n", progname, path,
			    ctl_timeout, seconds(ctl_timeout));
			return (-1);
		}
		if (fd == -1) {
			fprintf(stderr, "%s: cannot connect to %s: %s%s\n",
			    progname, path, strerror(errno), errno == ENOENT ||
			    errno == ECONNREFUSED ? " (is nfqspid running?)" :
			    errno == EACCES ? " (root and the socket's group "
			    "may use it)" : "");
			return (-1);
		}
		if (send_all(fd, buf, n) == 0)
			return (fd);
		err = errno;
		close(fd);
		if (err == ETIMEDOUT) {
			fprintf(stderr, "%s: %s: the daemon took no request "
			    "within %d %s\n", progname, path, ctl_timeout,
			    seconds(ctl_timeout));
			return (-1);
		}
		if ((err != EPIPE && err != ECONNRESET) || sends >= CTL_TRIES) {
			fprintf(stderr, "%s: sending to %s: %s\n", progname,
			    path, strerror(err));
			return (-1);
		}
		retry_pause();
	}
}

/*
 * No byte of the answer yet, and the connection reset: the daemon closed
 * it with our request unread (a connection closed with input waiting
 * resets its peer; one whose request was read ends with an end of file),
 * so its place went to another client before the request was read, and
 * it did not run: again on a new connection, as ctl_send_request().
 * The new descriptor; -1 with errno kept where this was not that, or no
 * try is left; -2 once ctl_send_request() said why it failed.
 */
static int
ctl_resend(int fd, const char *path, const uint8_t *buf, size_t n)
{
	if (stop_sig != 0 || answered || errno != ECONNRESET ||
	    sends >= CTL_TRIES)
		return (-1);
	close(fd);
	retry_pause();
	return ((fd = ctl_send_request(path, buf, n)) == -1 ? -2 : fd);
}

/* Exactly len bytes; 0, or -1 (errno 0 for the end of the stream). */
static int
recv_all(int fd, uint8_t *p, size_t len, int forever)
{
	struct timespec	 deadline;
	ssize_t		 n;

	while (len > 0) {
		n = recv(fd, p, len, 0);
		if (n == 0) {
			errno = 0;
			return (-1);
		}
		if (n == -1) {
			if (errno == EINTR)
				continue;
			if (errno != EAGAIN)
				return (-1);
			/* -t counts from the command's start until the
			   first byte, then from the last one (from when we
			   came back to wait: stdout may have held us) */
			if (answered)
				deadline_in(&deadline, ctl_timeout);
			if (wait_fd(fd, POLLIN, forever ? NULL : answered ?
			    &deadline : &ctl_deadline) == -1)
				return (-1);
			continue;
		}
		answered = 1;
		p += n;
		len -= (size_t)n;
	}
	return (0);
}

/* The daemon's words on our stderr, without its control characters. */
static void
print_msg(const char *prefix, const uint8_t *p, size_t len)
{
	size_t	 i;

	fprintf(stderr, "%s", prefix);
	for (i = 0; i < len; i++)
		fputc(p[i] >= 0x20 && p[i] != 0x7f ? p[i] : '?', stderr);
	fputc('\n', stderr);
}

/*
 * reload PID, the unit's ExecReload (PID: systemd's $MAINPID).  When
 * PID listens on the socket (its credentials say so), -1: the reload
 * goes through it, and a refused file fails the command.  A daemon with
 * no socket there (control = empty, or another path) gets SIGHUP, as
 * before the socket existed: its log and STATUS= alone tell whether it
 * took the file.  Else the exit status.
 */
static int
reload_signal(const char *path, pid_t pid, uint32_t flags)
{
	struct ucred	 cr;
	socklen_t	 len = sizeof(cr);
	int		 fd, own;

	if ((fd = ctl_connect(path)) != -1) {
		own = getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &len) ==
		    0 && cr.pid == pid;
		close(fd);
		if (own)
			return (-1);
	} else if (errno != ENOENT && errno != ECONNREFUSED)
		return (-1);	/* the request says why */
	if (kill(pid, SIGHUP) == -1) {
		fprintf(stderr, "%s: pid %ld: %s\n", progname, (long)pid,
		    strerror(errno));
		return (1);
	}
	fprintf(stderr, "%s: %s is not pid %ld's control socket: sent it "
	    "SIGHUP (whether it took the file, its log and STATUS= say)\n",
	    progname, path, (long)pid);
	if (flags & CTL_F_JSON)
		printf("{\"signalled\":%ld}\n", (long)pid);
	return (0);
}

/* The options; from optind on, the request's words. */
static void
parse_opts(int argc, char *argv[], const char **path, uint32_t *flags)
{
	char	 opt[3] = "-?", msg[64];
	int	 ch;

	opterr = 0;		/* our own messages, in our words */
	while ((ch = getopt(argc, argv, "+hjs:t:")) != -1) {
		switch (ch) {
		case 'h':
			usage(stdout);
			exit(0);
		case 'j':
			*flags |= CTL_F_JSON;
			break;
		case 's':
			*path = optarg;
			break;
		case 't':
			if ((ctl_timeout = timeout_arg(optarg)) == -1) {
				(void)snprintf(msg, sizeof(msg), "-t: expected "
				    "seconds from 1 to %d, not",
				    CTL_TIMEOUT_MAX);
				bad_usage(msg, optarg);
			}
			break;
		default:
			opt[1] = (char)optopt;
			bad_usage(optopt == 's' ? "a socket path must follow" :
			    optopt == 't' ? "a number of seconds must follow" :
			    "unknown option", opt);
		}
	}
}

/* Why the answer did not come whole, errno as the read left it. */
static void
read_failed(const char *cmd, const char *path, int forever)
{
	if (errno == 0 && forever)	/* events: it answered */
		fprintf(stderr, "%s: the daemon closed the connection (it "
		    "stopped or restarted)\n", progname);
	else if (errno == 0 && answered)
		/* what came is out: say it is not all, never "before" */
		fprintf(stderr, "%s: the daemon closed the connection before "
		    "the end of its answer: what came is incomplete\n",
		    progname);
	else if (errno == 0)
		fprintf(stderr, "%s: the daemon closed the connection before "
		    "answering\n", progname);
	else if (errno == ETIMEDOUT && answered)
		fprintf(stderr, "%s: nothing more from the daemon within %d "
		    "%s: its answer is incomplete\n", progname, ctl_timeout,
		    seconds(ctl_timeout));
	else if (errno == ETIMEDOUT)
		/* a reload is not undone by our leaving: it may be
		   checking a large file still */
		fprintf(stderr, "%s: no answer from the daemon within %d "
		    "%s%s\n", progname, ctl_timeout, seconds(ctl_timeout),
		    strcmp(cmd, "reload") == 0 ? ": the reload may still "
		    "be running and take effect; the daemon's log says "
		    "whether it did" : "");
	else
		fprintf(stderr, "%s: reading from %s: %s\n", progname, path,
		    strerror(errno));
}

int
main(int argc, char *argv[])
{
	static uint8_t	 buf[CTL_MAXMSG];
	const char	*path = CTL_DEFAULT_SOCKET;
	struct ctl_msg	 m;
	uint32_t	 flags = 0;
	ssize_t		 n;
	size_t		 req;
	int		 ch, fd, forever, r, nfd;

	parse_opts(argc, argv, &path, &flags);
	argc -= optind;
	argv += optind;
	if (argc == 0)
		bad_usage(NULL, NULL);
	check_args(argc, argv);
	forever = strcmp(argv[0], "events") == 0;
	/* connecting and sending have -t in all, events' too */
	deadline_in(&ctl_deadline, ctl_timeout);
	if (strcmp(argv[0], "reload") == 0 && argc == 2) {
		/* the pid is ours to use, not the daemon's to read */
		if ((ch = reload_signal(path, reload_pid(argv[1]), flags)) !=
		    -1)
			return (ch);
		argc = 1;
	}

	if ((n = ctl_encode_request(buf, sizeof(buf), flags, argc,
	    argv)) == -1) {
		fprintf(stderr, "%s: %s\n", progname, strerror(errno));
		return (EXIT_USAGE);
	}
	req = (size_t)n;
	if ((fd = ctl_send_request(path, buf, req)) == -1)
		return (1);
	if (forever)
		stop_on_signals();

	for (;;) {
		/* a stream that never pauses still stops between frames */
		if (stop_asked() || recv_all(fd, buf, CTL_HDRLEN,
		    forever) == -1) {
			/* buf: the request still, while nothing came */
			if ((nfd = ctl_resend(fd, path, buf, req)) == -2)
				return (1);
			if (nfd == -1)
				goto readerr;
			fd = nfd;
			continue;
		}
		if ((n = ctl_hdr_decode(buf, CTL_HDRLEN, &m)) == -1) {
			if (errno == EPROTONOSUPPORT)
				fprintf(stderr, "%s: the daemon speaks protocol "
				    "version %u, we speak %u\n", progname,
				    m.version, CTL_VERSION);
			else
				fprintf(stderr, "%s: malformed answer from the "
				    "daemon: %s\n", progname, strerror(errno));
			return (1);
		}
		if (recv_all(fd, buf + CTL_HDRLEN, (size_t)n - CTL_HDRLEN,
		    forever) == -1)
			goto readerr;
		if (ctl_decode(buf, (size_t)n, &m) == -1) {
			fprintf(stderr, "%s: malformed answer from the daemon: "
			    "%s\n", progname, strerror(errno));
			return (1);
		}
		switch (m.type) {
		case CTL_T_DATA:
			if (forever) {
				/* events: each line as it comes */
				if (m.len > 0 && (r = out_frame(m.payload,
				    m.len)) != 0) {
					if (r == -1)
						goto outerr;
					errno = EINTR;
					goto readerr;
				}
				break;
			}
			if (m.len > 0 && fwrite(m.payload, 1, m.len, stdout) !=
			    m.len)
				goto outerr;
			break;
		case CTL_T_END:
			if (fflush(stdout) == EOF || ferror(stdout))
				goto outerr;
			if (m.len > 0)
				print_msg("", m.payload, m.len);
			close(fd);
			return (0);
		case CTL_T_ERROR:
			fflush(stdout);
			print_msg("nfqspictl: ", m.payload, m.len);
			close(fd);
			return (1);
		default:
			fprintf(stderr, "%s: unexpected %s message from the "
			    "daemon\n", progname,
			    ctl_type_name(m.type) ? ctl_type_name(m.type) :
			    "unknown");
			return (1);
		}
	}

 readerr:
	if (stop_sig != 0) {
		/* events, interrupted: what came whole is out */
		close(fd);
		if (fflush(stdout) == EOF || ferror(stdout))
			goto outerr;
		return (0);
	}
	fflush(stdout);
	read_failed(argv[0], path, forever);
	return (1);
 outerr:
	fprintf(stderr, "%s: stdout: %s\n", progname, strerror(errno));
	return (1);
}
