/*
 * log.c - OpenBSD-style logging to syslog, and stderr in the foreground
 *
 * Copyright (C) 2026 The nfqspid authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * Every worker thread logs, so everything here is thread-safe, and
 * nothing may block a worker: glibc's syslog() sends on a blocking
 * socket and waits when the syslog daemon falls behind.  We speak the
 * local syslog protocol ourselves instead, on a non-blocking datagram
 * socket connected to /dev/log: a record the daemon has no room for is
 * counted and dropped, and the count is reported with the next record
 * that gets through.  Sends on one datagram socket are atomic, so the
 * threads share it; only reconnecting (syslogd restarted) takes a lock.
 * A line to stderr is a single write(), so lines do not interleave.
 */
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <errno.h>
#include <fcntl.h>
#include <paths.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "nfqspid.h"
#include "clock.h"
#include "strl.h"

#define LOG_LINEMAX	1024

/* The body of log_warn() and the other varargs entry points: fmt and
   its arguments, written. */
#define LOG_VA(pri, with_errno, err) do {				\
	va_list	 ap;							\
									\
	va_start(ap, fmt);						\
	log_vwrite((pri), fmt, ap, (with_errno), (err));		\
	va_end(ap);							\
} while (0)

static int	log_stderr = LOG_STDERR_ALL; /* before log_init(): stderr only */
static int	log_debugging;
static int	log_facility = LOG_DAEMON;
static int	log_fd = -1;		/* connected to /dev/log */
static uint64_t	log_dropped;		/* atomic */
static pthread_mutex_t log_mtx = PTHREAD_MUTEX_INITIALIZER;
/* the last error (LOG_ERR or worse), for systemd's STATUS= line */
static void	(*log_fatal_fn)(const char *, int); /* log_on_fatal() */
static char	log_lasterr[LOG_LINEMAX];
static int	log_lasterrno;		/* its errno; 0: none */
static pthread_mutex_t log_errmtx = PTHREAD_MUTEX_INITIALIZER;

/*
 * Under log_mtx.  The socket is made once, closed only by log_close()
 * when every thread is gone, and otherwise only connected again, so a
 * thread sending on it never meets a closed or reused descriptor.
 */
static void
log_connect(void)
{
	struct sockaddr_un	 sun;

	if (log_fd == -1 && (log_fd = socket(AF_UNIX,
	    SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0)) == -1)
		return;
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", _PATH_LOG);
	(void)connect(log_fd, (struct sockaddr *)&sun, sizeof(sun));
}

/*
 * tostderr: which lines go to the standard error too (LOG_STDERR_*).  A
 * daemon starting detached shows its warnings and errors there, so that
 * whoever started it sees why it failed, and is otherwise quiet; once
 * detached it logs to syslog only.
 */
void
log_init(int tostderr, int debug, int facility)
{
	log_stderr = tostderr;
	log_debugging = debug;
	log_facility = facility;
	tzset();
	pthread_mutex_lock(&log_mtx);
	log_connect();
	pthread_mutex_unlock(&log_mtx);
}

/*
 * 1 when stderr is the systemd journal's stream: $JOURNAL_STREAM names
 * its device and inode (systemd.exec(5)).  What goes to syslog reaches
 * the journal there too, so a line goes to one of them, not both.
 */
int
log_stderr_journal(void)
{
	const char		*env = getenv("JOURNAL_STREAM");
	struct stat		 st;
	unsigned long long	 dev, ino;
	char			*end;

	if (env == NULL)
		return (0);
	errno = 0;
	dev = strtoull(env, &end, 10);
	if (end == env || *end != ':' || errno != 0)
		return (0);
	env = end + 1;
	ino = strtoull(env, &end, 10);
	if (end == env || *end != '\0' || errno != 0)
		return (0);
	if (fstat(STDERR_FILENO, &st) == -1)
		return (0);
	return ((unsigned long long)st.st_dev == dev &&
	    (unsigned long long)st.st_ino == ino);
}

/*
 * The last thing main() does, every other thread joined: nobody sends on
 * the socket any more, and the daemon ends with no descriptor of its own
 * open (valgrind's --track-fds finds a leaked one that way).
 */
void
log_close(void)
{
	pthread_mutex_lock(&log_mtx);
	if (log_fd != -1) {
		close(log_fd);
		log_fd = -1;
	}
	pthread_mutex_unlock(&log_mtx);
}

void
log_setfacility(int facility)
{
	log_facility = facility;
}

/* "<pri>Nov 28 20:23:40 nfqspid[412]: msg", as syslog(3) sends it */
static void
log_syslog(int pri, const char *msg)
{
	char		 buf[LOG_LINEMAX + 128], stamp[32];
	struct tm	 tm;
	time_t		 now;
	uint64_t	 lost;
	int		 n, fd, tries;

	now = time(NULL);
	localtime_r(&now, &tm);
	strftime(stamp, sizeof(stamp), "%h %e %T", &tm);
	n = snprintf(buf, sizeof(buf), "<%d>%s nfqspid[%ld]: %s",
	    log_facility | pri, stamp, (long)getpid(), msg);
	if (n < 0)
		return;
	if ((size_t)n >= sizeof(buf))
		n = sizeof(buf) - 1;

	if ((fd = log_fd) == -1)
		return;
	for (tries = 0; tries < 2; tries++) {
		if (send(fd, buf, n, MSG_DONTWAIT | MSG_NOSIGNAL) == n)
			break;
		if (tries == 1 || errno == EAGAIN || errno == EWOULDBLOCK ||
		    errno == ENOBUFS || errno == EINTR) {
			/* syslogd is behind (or gone): never wait for it */
			__atomic_add_fetch(&log_dropped, 1, __ATOMIC_SEQ_CST);
			return;
		}
		/* not connected, or syslogd restarted: once more */
		pthread_mutex_lock(&log_mtx);
		log_connect();
		pthread_mutex_unlock(&log_mtx);
	}
	if ((lost = __atomic_exchange_n(&log_dropped, 0,
	    __ATOMIC_SEQ_CST)) != 0) {
		char	 note[96];

		snprintf(note, sizeof(note), "log: %llu records dropped, "
		    "syslog was busy", (unsigned long long)lost);
		n = snprintf(buf, sizeof(buf), "<%d>%s nfqspid[%ld]: %s",
		    log_facility | LOG_WARNING, stamp, (long)getpid(), note);
		if (send(fd, buf, n, MSG_DONTWAIT | MSG_NOSIGNAL) != n)
			__atomic_add_fetch(&log_dropped, lost,
			    __ATOMIC_SEQ_CST);
	}
}

/*
 * The last error logged (log_warn(), log_warnx(), fatal()), "" if none:
 * why a start failed, for systemd's STATUS= line.  Its errno, 0 when
 * none (log_warnx()), for ERRNO=.
 */
int
log_last_error(char *buf, size_t len)
{
	int	 err;

	pthread_mutex_lock(&log_errmtx);
	spi_strlcpy(buf, log_lasterr, len);
	err = log_lasterrno;
	pthread_mutex_unlock(&log_errmtx);
	return (err);
}

int
log_getdebug(void)
{
	return (log_debugging);
}

static void
log_vwrite(int pri, const char *fmt, va_list ap, int with_errno, int err)
{
	char	 line[LOG_LINEMAX];
	int	 n;

	n = vsnprintf(line, sizeof(line), fmt, ap);
	if (n < 0)
		return;
	if ((size_t)n >= sizeof(line))
		n = sizeof(line) - 1;
	if (with_errno)
		snprintf(line + n, sizeof(line) - n, ": %s", strerror(err));
	/* a worker never waits here: another thread's copy wins */
	if (pri <= LOG_ERR && pthread_mutex_trylock(&log_errmtx) == 0) {
		spi_strlcpy(log_lasterr, line, sizeof(log_lasterr));
		log_lasterrno = with_errno ? err : 0;
		pthread_mutex_unlock(&log_errmtx);
	}

	/*
	 * Under the journal a warning or error goes to stderr alone: the
	 * journal gets it once, under the unit's name even when the process
	 * ends at once (a syslog datagram of a process gone is not tied to
	 * its unit), and it is not lost to a busy syslog socket.
	 */
	if (log_stderr != LOG_STDERR_JOURNAL || pri > LOG_WARNING)
		log_syslog(pri, line);
	if (log_stderr == LOG_STDERR_ALL || (pri <= LOG_WARNING &&
	    (log_stderr == LOG_STDERR_WARN ||
	    log_stderr == LOG_STDERR_JOURNAL))) {
		char	 out[LOG_LINEMAX + 2];
		int	 m;

		/* one write per line, so threads do not interleave */
		m = snprintf(out, sizeof(out), "%s\n", line);
		if (m > 0) {
			if ((size_t)m >= sizeof(out))
				m = sizeof(out) - 1;
			if (write(STDERR_FILENO, out, m) < 0) {
				/* nowhere left to report it */
			}
		}
	}
	if (pri == LOG_CRIT && log_fatal_fn != NULL)
		log_fatal_fn(line, with_errno ? err : 0);
}

/* fn(the line, its errno or 0) after fatal() logged it, before exit(1) */
void
log_on_fatal(void (*fn)(const char *, int))
{
	log_fatal_fn = fn;
}

void
log_warn(const char *fmt, ...)
{
	int	 err = errno;

	LOG_VA(LOG_ERR, 1, err);
	errno = err;
}

void
log_warnx(const char *fmt, ...)
{
	LOG_VA(LOG_ERR, 0, 0);
}

void
log_info(const char *fmt, ...)
{
	LOG_VA(LOG_INFO, 0, 0);
}

void
log_debug(const char *fmt, ...)
{
	if (log_debugging)
		LOG_VA(LOG_DEBUG, 0, 0);
}

void
log_audit(const char *fmt, ...)
{
	LOG_VA(LOG_NOTICE, 0, 0);
}

void
fatal(const char *fmt, ...)
{
	int	 err = errno;

	LOG_VA(LOG_CRIT, 1, err);
	exit(1);
}

void
fatalx(const char *fmt, ...)
{
	LOG_VA(LOG_CRIT, 0, 0);
	exit(1);
}

/*
 * At most one line per LOG_RL_SECS for rl: a client that makes us refuse
 * it in a loop must not fill the log (nor keep the main thread writing).
 */
int
log_rl(struct log_rl *rl, uint64_t *held)
{
	uint64_t	 now = spi_now_ms() / 1000;

	if (rl->last != 0 && now - rl->last < LOG_RL_SECS) {
		rl->held++;
		return (0);
	}
	rl->last = now > 0 ? now : 1;
	*held = rl->held;
	rl->held = 0;
	return (1);
}

/*
 * The end of a line that log_rl() let through: how many like it were held
 * back since the last one, or nothing when none were.
 */
const char *
log_rl_more(uint64_t held, char *buf, size_t len)
{
	if (held == 0)
		return ("");
	snprintf(buf, len, " (%llu more since the last such line, not "
	    "logged)", (unsigned long long)held);
	return (buf);
}
