/*
 * sdnotify.h - the sd_notify(3) protocol, without libsystemd
 *
 * Copyright (C) 2026 The nfqspid authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * Under a Type=notify unit systemd names a unix datagram socket in
 * $NOTIFY_SOCKET, and the daemon says READY=1, RELOADING=1, STOPPING=1
 * and STATUS=... there, one datagram of newline-separated assignments
 * each.  Main thread only: one socket, no lock; but
 * sdnotify_status_now(), which any thread may call on its way out, and
 * sdnotify_send_now().
 * No send waits: a full queue drops a STATUS= or WATCHDOG=1 line, and
 * keeps a state line (sdnotify_state()) for the main loop to send again.
 */
#ifndef SDNOTIFY_H
#define SDNOTIFY_H

#include <sys/types.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <stdarg.h>
#include <stdint.h>

/*
 * The address that $NOTIFY_SOCKET's value name stands for: an absolute
 * path, or an abstract name after '@'.  Fills *sun and *len: 0, or -1
 * and errno EINVAL (empty, relative), ENAMETOOLONG (longer than
 * sun_path holds).
 */
int	 sdnotify_addr(const char *name, struct sockaddr_un *sun,
	    socklen_t *len);

/*
 * Reads $NOTIFY_SOCKET (and $WATCHDOG_USEC, when $WATCHDOG_PID is unset
 * or ours) and takes the three out of the environment, so that no child
 * (iptables, nft) speaks for us.  1 with a socket to send on, 0 when
 * systemd asked for nothing, -1 and errno when the address is unusable
 * (nothing is sent then).
 */
int	 sdnotify_open(void);
/* 1 between a successful sdnotify_open() and sdnotify_close() */
int	 sdnotify_active(void);
/* $WATCHDOG_USEC as read by sdnotify_open(): 0 when none */
uint64_t sdnotify_watchdog_usec(void);
/*
 * One datagram, "READY=1\nSTATUS=..." for instance: 0 when sent or when
 * there is nobody to tell, -1 and errno (EMSGSIZE: longer than
 * SDNOTIFY_MAX; EAGAIN: systemd's queue is full, and the message is
 * dropped: a send never waits, a lost status line is better than a
 * stalled main loop).
 */
#define SDNOTIFY_MAX	2048
int	 sdnotify_send(const char *msg);
/* printf-like; a message longer than SDNOTIFY_MAX - 1 is cut there (a
   STATUS= line at its end loses its tail) */
int	 sdnotify_sendf(const char *fmt, ...)
	    __attribute__((__format__(printf, 1, 2)));
int	 sdnotify_vsendf(const char *fmt, va_list ap)
	    __attribute__((__format__(printf, 1, 0)));
/*
 * READY=1, and RELOADING=1 before it: a line systemd waits for, until
 * its start or reload timeout; never dropped for a full queue.  Sent at
 * once when the queue takes it; otherwise kept, and sdnotify_resend()
 * sends it again.  A new state line replaces one kept (systemd needs
 * the latest alone: a lost READY=1 is what harms), but for a READY=1
 * after a RELOADING=1 kept (sdnotify_joins()): the two go in one
 * datagram, the RELOADING=1 and its MONOTONIC_USEC= first, its STATUS=
 * left out, msg cut at SDNOTIFY_MAX - 1 to fit.  0 sent (or nobody to
 * tell), 1 kept, -1 and errno as sdnotify_send() when it cannot ever be
 * sent (nobody listens, too long).
 */
int	 sdnotify_state(const char *msg);
/*
 * 1 when sdnotify_state(msg) would send msg with kept, the line kept
 * (NULL: none): kept holds a RELOADING=1 systemd never saw, and msg a
 * READY=1 without one.  Under Type=notify-reload systemd ends the
 * reload it asked for (SIGHUP) on a READY=1 only after that
 * RELOADING=1, or in the same datagram; a READY=1 alone would leave it
 * waiting until its reload timeout.
 */
int	 sdnotify_joins(const char *kept, const char *msg);
/* The kept line, or NULL. */
const char *sdnotify_kept(void);
/* The kept line again: 0 sent (or none kept), 1 still kept (the queue
   is still full), -1 and errno: it cannot be sent, and is dropped. */
int	 sdnotify_resend(void);
/*
 * "STATUS=" prefix why, and "ERRNO=" err when err > 0, for a process
 * about to end (fatal(), the watchdog thread's _exit()), so that
 * systemctl status says why it died: from any thread, even a signal
 * handler (no lock, no allocation, no stdio; errno kept).  One try
 * that never waits (MSG_DONTWAIT); STATUS= cut to leave ERRNO= room
 * within SDNOTIFY_MAX - 1, a newline in why sent as a space.
 */
void	 sdnotify_status_now(const char *prefix, const char *why, int err);
/*
 * msg as one datagram from any thread, while the main thread may send
 * too (a reload's pings: nfqspid.c): no lock, no allocation, errno
 * kept; one try that never waits, a full queue drops it.  0 sent (or
 * nobody to tell), -1 not.
 */
int	 sdnotify_send_now(const char *msg);
/* The socket closed, a kept line forgotten. */
void	 sdnotify_close(void);

#endif /* SDNOTIFY_H */
