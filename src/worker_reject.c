/*
 * worker_reject.c - sending reject's answers, and knowing them again
 *
 * Copyright (C) 2026 The nfqspid authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * reject.c builds the answer; a worker sends it on its own raw sockets
 * and remembers it (struct reject_memory): when the host's OUTPUT chain
 * is diverted too, the answer comes back through our own queue, where
 * the tracker knows no connection for it and would drop it as INVALID.
 */
#include <sys/socket.h>
#include <netinet/in.h>

#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "worker_int.h"

/* The memory hashes what the queue copies of an answer. */
_Static_assert(REJECT_MEMORY_COPY == NQ_COPY_RANGE, "reject memory copy");

/*
 * Raw sockets for reject's answers (IPPROTO_RAW: we write the IP header).
 * Needs CAP_NET_RAW; the caller decides whether their absence matters.
 */
int
worker_open_raw(struct worker *w)
{
	int	 one = 1;

	if (w->raw4 == -1 && (w->raw4 = socket(AF_INET,
	    SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_RAW)) == -1)
		return (-1);
	if (w->raw6 == -1) {
		if ((w->raw6 = socket(AF_INET6,
		    SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_RAW)) ==
		    -1)
			return (-1);
		/* implied by IPPROTO_RAW on current kernels; say it */
		(void)setsockopt(w->raw6, IPPROTO_IPV6, IPV6_HDRINCL, &one,
		    sizeof(one));
	}
	return (0);
}

void
worker_close_raw(struct worker *w)
{
	if (w->raw4 != -1)
		close(w->raw4);
	if (w->raw6 != -1)
		close(w->raw6);
	w->raw4 = w->raw6 = -1;
}

/* Answer a packet a reject rule refused: TCP RST or port unreachable. */
void
worker_reject(struct worker *w, const struct pkt *p, uint32_t ifin)
{
	uint8_t			 buf[REJECT_MAXLEN];
	struct sockaddr_in	 sin;
	struct sockaddr_in6	 sin6;
	uint64_t		 now;
	size_t			 n;
	ssize_t			 r;

	if ((n = reject_build(p, buf, sizeof(buf))) == 0)
		return;		/* nothing may be sent for this one */
	if (p->family == AF_INET && w->raw4 != -1 && n >= 20) {
		memset(&sin, 0, sizeof(sin));
		sin.sin_family = AF_INET;
		memcpy(&sin.sin_addr, buf + 16, 4);
		r = sendto(w->raw4, buf, n, MSG_DONTWAIT,
		    (struct sockaddr *)&sin, sizeof(sin));
	} else if (p->family == AF_INET6 && w->raw6 != -1 && n >= 40) {
		memset(&sin6, 0, sizeof(sin6));
		sin6.sin6_family = AF_INET6;
		memcpy(&sin6.sin6_addr, buf + 24, 16);
		/* a link-local sender is reached where it came from */
		if (IN6_IS_ADDR_LINKLOCAL(&sin6.sin6_addr))
			sin6.sin6_scope_id = ifin;
		r = sendto(w->raw6, buf, n, MSG_DONTWAIT,
		    (struct sockaddr *)&sin6, sizeof(sin6));
	} else {
		errno = ENOTSOCK;
		r = -1;
	}
	if (r == (ssize_t)n) {
		reject_memory_add(&w->sent, buf, n, spi_now_ms());
		w->st.rejects++;
		return;
	}
	w->st.reject_errors++;
	now = spi_now_ms() / 1000;
	if (now != w->rawwarn) {
		w->rawwarn = now;
		log_warn("worker %u: sending a reject answer", w->id);
	}
}
