/*
 * sdnotify.c - the sd_notify(3) protocol, without libsystemd
 *
 * Copyright (C) 2026 The nfqspid authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * The whole protocol is one datagram to the socket $NOTIFY_SOCKET names
 * (systemd.service(5), Type=notify; sd_notify(3)); systemd learns the
 * sender's pid from the credentials the kernel attaches, so nothing but
 * the text is sent.  The socket is made once, before the daemon drops
 * its privileges, and the address is given at each send: a connected
 * socket would stay tied to the one a re-executed systemd replaced.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sdnotify.h"

static int			 sdn_fd = -1;
static struct sockaddr_un	 sdn_sun;
static socklen_t		 sdn_len;
static uint64_t			 sdn_wdog_usec;
static char			 sdn_kept[SDNOTIFY_MAX];	/* "": none */

int
sdnotify_addr(const char *name, struct sockaddr_un *sun, socklen_t *len)
{
	size_t	 n = strlen(name);

	memset(sun, 0, sizeof(*sun));
	sun->sun_family = AF_UNIX;
	if (name[0] == '@') {
		/* abstract: a NUL, then the name, its length counted
		   exactly (no NUL at its end) */
		if (n < 2) {
			errno = EINVAL;
			return (-1);
		}
		if (n > sizeof(sun->sun_path)) {
			errno = ENAMETOOLONG;
			return (-1);
		}
		memcpy(sun->sun_path + 1, name + 1, n - 1);
		*len = offsetof(struct sockaddr_un, sun_path) + n;
		return (0);
	}
	if (name[0] != '/') {
		/* relative, empty, or a kind we do not speak (vsock:) */
		errno = EINVAL;
		return (-1);
	}
	if (n >= sizeof(sun->sun_path)) {
		errno = ENAMETOOLONG;
		return (-1);
	}
	memcpy(sun->sun_path, name, n);
	*len = offsetof(struct sockaddr_un, sun_path) + n + 1;
	return (0);
}

/* $WATCHDOG_USEC, if it is meant for this process */
static uint64_t
sdnotify_wdog_env(void)
{
	const char		*usec = getenv("WATCHDOG_USEC");
	const char		*pid = getenv("WATCHDOG_PID");
	unsigned long long	 v;
	char			*end;

	if (usec == NULL)
		return (0);
	if (pid != NULL) {
		errno = 0;
		v = strtoull(pid, &end, 10);
		if (end == pid || *end != '\0' || errno != 0 ||
		    v != (unsigned long long)getpid())
			return (0);
	}
	errno = 0;
	v = strtoull(usec, &end, 10);
	if (end == usec || *end != '\0' || errno != 0)
		return (0);
	return (v);
}

int
sdnotify_open(void)
{
	const char	*name = getenv("NOTIFY_SOCKET");
	int		 rc = 0, save;

	sdnotify_close();
	sdn_wdog_usec = 0;
	if (name != NULL) {
		/*
		 * Non-blocking: the sends come from the main loop, which
		 * also serves the workers' calls and the watchdog's pings.
		 * When systemd's queue is full (it is busy, or stopped),
		 * a status line is dropped and logged rather than that
		 * loop stalled; a state line is kept and sent again
		 * (sdnotify_state()).
		 */
		if (sdnotify_addr(name, &sdn_sun, &sdn_len) == 0 &&
		    (sdn_fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC |
		    SOCK_NONBLOCK, 0)) != -1) {
			sdn_wdog_usec = sdnotify_wdog_env();
			rc = 1;
		} else
			rc = -1;
	}
	save = errno;
	(void)unsetenv("NOTIFY_SOCKET");
	(void)unsetenv("WATCHDOG_USEC");
	(void)unsetenv("WATCHDOG_PID");
	errno = save;
	return (rc);
}

int
sdnotify_active(void)
{
	return (sdn_fd != -1);
}

uint64_t
sdnotify_watchdog_usec(void)
{
	return (sdn_fd != -1 ? sdn_wdog_usec : 0);
}

int
sdnotify_send(const char *msg)
{
	size_t	 n = strlen(msg);
	ssize_t	 r;

	if (sdn_fd == -1)
		return (0);
	if (n >= SDNOTIFY_MAX) {
		errno = EMSGSIZE;
		return (-1);
	}
	do
		r = sendto(sdn_fd, msg, n, MSG_DONTWAIT | MSG_NOSIGNAL,
		    (struct sockaddr *)&sdn_sun, sdn_len);
	while (r == -1 && errno == EINTR);
	if (r == -1)
		return (-1);
	if ((size_t)r != n) {
		errno = EMSGSIZE;
		return (-1);
	}
	return (0);
}

int
sdnotify_vsendf(const char *fmt, va_list ap)
{
	char	 buf[SDNOTIFY_MAX];

	if (sdn_fd == -1)
		return (0);
	if (vsnprintf(buf, sizeof(buf), fmt, ap) < 0)
		return (-1);
	return (sdnotify_send(buf));
}

int
sdnotify_sendf(const char *fmt, ...)
{
	va_list	 ap;
	int	 rc;

	va_start(ap, fmt);
	rc = sdnotify_vsendf(fmt, ap);
	va_end(ap);
	return (rc);
}

/* Worth another try: systemd's queue full, or memory short a moment. */
static int
sdnotify_transient(int e)
{
	return (e == EAGAIN || e == EWOULDBLOCK || e == ENOBUFS ||
	    e == ENOMEM);
}

/* 1 when one of msg's newline-separated assignments is a, whole */
static int
sdnotify_has(const char *msg, const char *a)
{
	size_t	 n = strlen(a), len;

	for (; *msg != '\0'; msg += len + (msg[len] == '\n')) {
		len = strcspn(msg, "\n");
		if (len == n && memcmp(msg, a, n) == 0)
			return (1);
	}
	return (0);
}

int
sdnotify_joins(const char *kept, const char *msg)
{
	return (kept != NULL && sdnotify_has(kept, "RELOADING=1") &&
	    sdnotify_has(msg, "READY=1") && !sdnotify_has(msg, "RELOADING=1"));
}

/*
 * buf = kept's RELOADING=1 and MONOTONIC_USEC= (by which systemd knows
 * the reload for the one it asked for), then msg, cut at SDNOTIFY_MAX
 * - 1.  Kept's STATUS= is left out: systemd shows the first of two.
 */
static void
sdnotify_join(char *buf, const char *kept, const char *msg)
{
	size_t	 n = 0, len, m;

	for (; *kept != '\0'; kept += len + (kept[len] == '\n')) {
		len = strcspn(kept, "\n");
		if (((len == 11 && memcmp(kept, "RELOADING=1", 11) == 0) ||
		    strncmp(kept, "MONOTONIC_USEC=", 15) == 0) &&
		    n + len + 1 < SDNOTIFY_MAX) {
			memcpy(buf + n, kept, len);
			n += len;
			buf[n++] = '\n';
		}
	}
	m = strlen(msg);
	if (m > SDNOTIFY_MAX - 1 - n)
		m = SDNOTIFY_MAX - 1 - n;
	memcpy(buf + n, msg, m);
	buf[n + m] = '\0';
}

int
sdnotify_state(const char *msg)
{
	char	 buf[SDNOTIFY_MAX];
	size_t	 n;

	/*
	 * The latest state alone matters, and an older one kept goes;
	 * but a RELOADING=1 systemd never saw goes with the READY=1 that
	 * ends its reload, first: systemd, having asked for the reload
	 * (Type=notify-reload), waits for it and ignores a READY=1 alone.
	 */
	if (sdnotify_joins(sdnotify_kept(), msg)) {
		sdnotify_join(buf, sdn_kept, msg);
		msg = buf;
	}
	n = strlen(msg);
	sdn_kept[0] = '\0';
	if (sdnotify_send(msg) == 0)
		return (0);
	if (!sdnotify_transient(errno))
		return (-1);
	/* shorter than SDNOTIFY_MAX, or sdnotify_send() said EMSGSIZE */
	memcpy(sdn_kept, msg, n + 1);
	return (1);
}

const char *
sdnotify_kept(void)
{
	return (sdn_kept[0] != '\0' ? sdn_kept : NULL);
}

int
sdnotify_resend(void)
{
	if (sdn_kept[0] == '\0')
		return (0);
	if (sdnotify_send(sdn_kept) == 0) {
		sdn_kept[0] = '\0';
		return (0);
	}
	if (sdnotify_transient(errno))
		return (1);
	sdn_kept[0] = '\0';
	return (-1);
}

/* buf[n...] += s, within max, a newline as a space: one assignment,
   never a second */
static size_t
sdnotify_cat(char *buf, size_t n, const char *s, size_t max)
{
	for (; *s != '\0' && n < max; s++)
		buf[n++] = *s == '\n' ? ' ' : *s;
	return (n);
}

/* "\nERRNO=err" in buf (32 bytes), err > 0, without stdio: its length */
static size_t
sdnotify_errno(char *buf, int err)
{
	char	 digits[16];
	size_t	 n, i = 0;

	do
		digits[i++] = '0' + err % 10;
	while ((err /= 10) > 0);
	memcpy(buf, "\nERRNO=", 7);
	for (n = 7; i > 0; n++)
		buf[n] = digits[--i];
	return (n);
}

void
sdnotify_status_now(const char *prefix, const char *why, int err)
{
	char	 buf[SDNOTIFY_MAX], eno[32];
	size_t	 n, max = SDNOTIFY_MAX - 1, elen = 0;
	int	 fd = sdn_fd, save = errno;

	if (fd == -1)
		return;
	if (err > 0)
		max -= (elen = sdnotify_errno(eno, err));
	n = sdnotify_cat(buf, 0, "STATUS=", max);
	n = sdnotify_cat(buf, n, prefix, max);
	n = sdnotify_cat(buf, n, why, max);
	memcpy(buf + n, eno, elen);
	n += elen;
	/* one try: the process is on its way out */
	(void)sendto(fd, buf, n, MSG_DONTWAIT | MSG_NOSIGNAL,
	    (struct sockaddr *)&sdn_sun, sdn_len);
	errno = save;
}

int
sdnotify_send_now(const char *msg)
{
	int	 fd = sdn_fd, save = errno, rc = 0;

	if (fd != -1 && sendto(fd, msg, strlen(msg), MSG_DONTWAIT |
	    MSG_NOSIGNAL, (struct sockaddr *)&sdn_sun, sdn_len) == -1)
		rc = -1;
	errno = save;
	return (rc);
}

void
sdnotify_close(void)
{
	if (sdn_fd != -1)
		close(sdn_fd);
	sdn_fd = -1;
	sdn_kept[0] = '\0';
}
