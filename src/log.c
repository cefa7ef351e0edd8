/*
 * log.c - OpenBSD-style logging to syslog, and stderr in the foreground
 *
 * Copyright (C) 2026 The nfqspid authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * Every worker thread logs, so everything here is thread-safe: the
 * settings are written once at start-up (and on reload, between
 * worker_call()s), glibc's syslog() takes its own lock, and a line to
 * stderr is a single write.  openlog() with LOG_NDELAY connects the
 * datagram socket to /dev/log at once: a full log socket makes syslog()
 * drop the record (it never blocks on a datagram it cannot send), so a
 * slow syslogd cannot stall the packet path.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include "nfqspid.h"

#define LOG_LINEMAX	1024

static int	log_foreground = 1;	/* before log_init(): stderr only */
static int	log_debugging;
static int	log_syslog;

void
log_init(int foreground, int debug, int facility)
{
	log_foreground = foreground;
	log_debugging = debug;
	if (log_syslog)
		closelog();
	openlog("nfqspid", LOG_PID | LOG_NDELAY, facility);
	log_syslog = 1;
	tzset();
}

void
log_setfacility(int facility)
{
	/* openlog() again: the facility is the default for every record. */
	if (log_syslog)
		closelog();
	openlog("nfqspid", LOG_PID | LOG_NDELAY, facility);
	log_syslog = 1;
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

	if (log_syslog)
		syslog(pri, "%s", line);
	if (log_foreground) {
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
}

void
log_warn(const char *fmt, ...)
{
	va_list	 ap;
	int	 err = errno;

	va_start(ap, fmt);
	log_vwrite(LOG_ERR, fmt, ap, 1, err);
	va_end(ap);
	errno = err;
}

void
log_warnx(const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	log_vwrite(LOG_ERR, fmt, ap, 0, 0);
	va_end(ap);
}

void
log_info(const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	log_vwrite(LOG_INFO, fmt, ap, 0, 0);
	va_end(ap);
}

void
log_debug(const char *fmt, ...)
{
	va_list	 ap;

	if (!log_debugging)
		return;
	va_start(ap, fmt);
	log_vwrite(LOG_DEBUG, fmt, ap, 0, 0);
	va_end(ap);
}

void
log_audit(const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	log_vwrite(LOG_NOTICE, fmt, ap, 0, 0);
	va_end(ap);
}

void
fatal(const char *fmt, ...)
{
	va_list	 ap;
	int	 err = errno;

	va_start(ap, fmt);
	log_vwrite(LOG_CRIT, fmt, ap, 1, err);
	va_end(ap);
	exit(1);
}

void
fatalx(const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	log_vwrite(LOG_CRIT, fmt, ap, 0, 0);
	va_end(ap);
	exit(1);
}
