/*
 * nq.c - one NFQUEUE, spoken to over libmnl
 *
 * Copyright (C) 2026 The nfqspid authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * The rule of this file: every packet message that carries a packet id
 * gets exactly one verdict, whatever else is wrong with it.
 * nq_recv_batch() presets each verdict before it asks the caller,
 * collects them while it drains the socket and sends them all before it
 * returns, so nothing is ever left pending between two calls.
 *
 * The socket is read NQ_BATCH datagrams at a time with recvmmsg(): one
 * system call (and one clock reading) for a batch instead of one per
 * packet.  The packets of a batch are parsed first and decided together,
 * so the caller may look ahead in the batch (the worker prefetches the
 * connections of the packets it decides next).
 *
 * Verdicts go out as a stream of netlink messages in one sendto(): a run
 * of packets with the same verdict and mark becomes a single
 * NFQNL_MSG_VERDICT_BATCH (the kernel applies it to every queued packet
 * up to that id, and every one of those is a packet we read and decided
 * identically), anything else an NFQNL_MSG_VERDICT of its own.  The
 * kernel answers a message it refuses with an NLMSG_ERROR on the same
 * socket; those are counted when they are read.
 */
#include "autoconf.h"		/* first: _GNU_SOURCE (recvmmsg) */

#include <sys/socket.h>
#include <arpa/inet.h>
#include <linux/netlink.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_queue.h>

#include <sys/uio.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <libmnl/libmnl.h>
#include <libnetfilter_queue/libnetfilter_queue.h>

#include "nfqspid.h"
#include "cacheline.h"
#include "clock.h"

#ifndef NETLINK_EXT_ACK
#define NETLINK_EXT_ACK		11
#endif

/* A message holds NQ_COPY_RANGE bytes of packet plus its attributes; the
   buffer is as large as the biggest datagram netlink could hand us.  (A
   constant: MNL_SOCKET_BUFFER_SIZE calls sysconf() each time.) */
#define NQ_RECVBUF	(0xffff + 8192 / 2)
/* NQ_BATCH datagrams per recvmmsg().  A slot holds one packet message,
   at most the copy range of packet and some 300 bytes of attributes;
   a longer datagram is cut (MSG_TRUNC) and still answered if its id
   came.  The slots are not a power of two apart, so that their first
   lines do not all fall into the same cache set. */
#define NQ_SLOT(copy)	((((copy) + 512 + 1023) & ~(size_t)1023) + 64)
#define NQ_SENDBUF	(64 * 1024)
#define NQ_PENDMAX	1024		/* verdicts collected before a send */
#define NQ_FLUSH	64		/* ... or this many, between two
					   reads (as nq-floor does) */
#define NQ_RCVBUF_SIZE	(8 * 1024 * 1024)
#define NQ_ACK_TIMEOUT	5000		/* ms to wait for the bind's answer */
#define NQ_VERDICT_MSG	256		/* room for one verdict message */

/* Packet messages that arrived while nq_open() waited for its ack. */
struct nq_stash {
	struct nq_stash	*next;
	size_t		 len;
	uint8_t		 buf[];
};

struct nq {
	struct mnl_socket *nl;
	int		 fd;
	uint16_t	 queue;
	uint32_t	 portid;
	uint8_t		*rbuf;		/* nq_wait_ack() */
	uint8_t		*slots;		/* NQ_BATCH * slot */
	size_t		 slot;		/* for maxcopy */
	uint32_t	 copy;		/* atomic: bytes of each packet copied
					   (nq_set_params() in the watchdog's
					   thread reads it) */
	struct mmsghdr	*mm;
	struct iovec	*iov;
	uint8_t		*sbuf;
	/* the verdicts not sent yet, in the order the packets came; the
	   last npk of them belong to pk[], still to be decided */
	uint32_t	*pend_id;
	struct nq_verdict *pend_v;
	size_t		 npend;
	struct nq_packet pk[NQ_BATCH];
	size_t		 npk;
	uint64_t	 now_ms;	/* when the datagrams were read */
	long		 ndeferred;	/* callbacks that set defer, not yet
					   answered by nq_verdict() */
	struct nq_stash	*stash, *stash_tail;
	struct nq_stats	 st;
	uint64_t	 lastwarn;	/* rate limit of the error lines (s) */
	nq_batch_cb	 cb;		/* during nq_recv_batch() */
	void		*cbarg;
	int		 npkts;
	uint32_t	 last_id;	/* of the last packet read; 0: none */
};

/* At most one error line a second per queue: errors can come per packet. */
static int
nq_warn_ok(struct nq *q)
{
	uint64_t	 now = spi_now_ms() / 1000;

	if (now == q->lastwarn)
		return (0);
	q->lastwarn = now;
	return (1);
}

const char *
nq_strerror(int err)
{
	switch (err) {
	case EBUSY:
		return ("in use by another process");
	case EPERM:
		return ("permission denied (CAP_NET_ADMIN is needed)");
	case EPROTONOSUPPORT:
	case ENOENT:
		return ("NFQUEUE is not available (is nfnetlink_queue loaded?)");
	case ETIMEDOUT:
		return ("the kernel did not answer the bind");
	default:
		return (strerror(err));
	}
}

int
nq_proc_read(unsigned first, unsigned n, struct nq_proc *q)
{
	FILE		*f;
	char		 line[256];
	unsigned long	 num, portid, total, mode, range, drop, udrop;
	unsigned	 i;
	int		 listed = 0;

	for (i = 0; i < n; i++)
		q[i].waiting = q[i].dropped = q[i].user_dropped = -1;
	if ((f = fopen("/proc/net/netfilter/nfnetlink_queue", "re")) == NULL)
		return (-1);
	/* queue, portid, waiting, copy mode, copy range, queue full drops,
	   netlink drops, id sequence, 1 */
	while (fgets(line, sizeof(line), f) != NULL) {
		if (sscanf(line, "%lu %lu %lu %lu %lu %lu %lu", &num, &portid,
		    &total, &mode, &range, &drop, &udrop) != 7)
			continue;
		if (num < first || num - first >= n)
			continue;
		i = (unsigned)(num - first);
		q[i].waiting = (int64_t)total;
		q[i].dropped = (int64_t)drop;
		q[i].user_dropped = (int64_t)udrop;
		listed++;
	}
	fclose(f);
	return (listed);
}

/*
 * Is the queue bound by someone in this network namespace?  The kernel
 * answers EPERM both to a bind of a queue another socket holds and to a
 * process without CAP_NET_ADMIN; its list of instances tells them apart.
 */
static int
nq_queue_listed(uint16_t queue)
{
	struct nq_proc	 p;

	return (nq_proc_read(queue, 1, &p) > 0);
}

static struct nlmsghdr *
nq_config_msg(struct nq *q, char *buf, uint32_t seq)
{
	struct nlmsghdr	*nlh;

	/* libmnl before 1.0.5 leaves an attribute's padding unset (the
	   params attribute has 3 bytes of it): send no stack garbage */
	memset(buf, 0, MNL_SOCKET_BUFFER_SIZE);
	nlh = nfq_nlmsg_put(buf, NFQNL_MSG_CONFIG, q->queue);
	nlh->nlmsg_seq = seq;
	return (nlh);
}

static void
nq_put_params(struct nlmsghdr *nlh, uint32_t maxlen, int fail_open,
    uint32_t copy)
{
	uint32_t	 flags = NFQA_CFG_F_GSO;

	if (fail_open)
		flags |= NFQA_CFG_F_FAIL_OPEN;
	nfq_nlmsg_cfg_put_params(nlh, NFQNL_COPY_PACKET, (int)copy);
	nfq_nlmsg_cfg_put_qmaxlen(nlh, maxlen);
	mnl_attr_put_u32(nlh, NFQA_CFG_FLAGS, htonl(flags));
	mnl_attr_put_u32(nlh, NFQA_CFG_MASK,
	    htonl(NFQA_CFG_F_GSO | NFQA_CFG_F_FAIL_OPEN));
}

static int
nq_stash_add(struct nq *q, const uint8_t *buf, size_t len)
{
	struct nq_stash	*s;

	if ((s = malloc(sizeof(*s) + len)) == NULL)
		return (-1);
	s->next = NULL;
	s->len = len;
	memcpy(s->buf, buf, len);
	if (q->stash_tail != NULL)
		q->stash_tail->next = s;
	else
		q->stash = s;
	q->stash_tail = s;
	return (0);
}

/*
 * Wait for the kernel's answer to message seq.  Packets may already be
 * queued to us before it comes: keep them for the first
 * nq_recv_batch().
 */
static int
nq_wait_ack(struct nq *q, uint32_t seq)
{
	struct pollfd		 pfd;
	struct nlmsghdr		*nlh;
	struct nlmsgerr		*e;
	ssize_t			 r;
	int			 len, stashed;
	uint64_t		 deadline = spi_now_ms() + NQ_ACK_TIMEOUT, now;

	for (;;) {
		now = spi_now_ms();
		if (now >= deadline) {
			errno = ETIMEDOUT;
			return (-1);
		}
		pfd.fd = q->fd;
		pfd.events = POLLIN;
		if (poll(&pfd, 1, (int)(deadline - now)) == -1) {
			if (errno == EINTR)
				continue;
			return (-1);
		}
		r = recv(q->fd, q->rbuf, NQ_RECVBUF, MSG_DONTWAIT);
		if (r == -1) {
			if (errno == EINTR || errno == EAGAIN ||
			    errno == ENOBUFS)
				continue;
			return (-1);
		}
		len = (int)r;
		stashed = 0;
		for (nlh = (struct nlmsghdr *)q->rbuf; mnl_nlmsg_ok(nlh, len);
		    nlh = mnl_nlmsg_next(nlh, &len)) {
			if (nlh->nlmsg_type != NLMSG_ERROR ||
			    nlh->nlmsg_seq != seq) {
				/* a packet (or a stray error): keep the
				   whole datagram for nq_recv_batch() */
				if (!stashed && nq_stash_add(q, q->rbuf,
				    (size_t)r) == -1)
					return (-1);
				stashed = 1;
				continue;
			}
			if (mnl_nlmsg_get_payload_len(nlh) < sizeof(*e)) {
				errno = EPROTO;
				return (-1);
			}
			e = mnl_nlmsg_get_payload(nlh);
			if (e->error != 0) {
				errno = -e->error;
				return (-1);
			}
			return (0);
		}
	}
}

struct nq *
nq_open(uint16_t queue, uint32_t maxlen, int fail_open, uint32_t copy,
    uint32_t maxcopy)
{
	struct nq	*q;
	char		 buf[MNL_SOCKET_BUFFER_SIZE];
	struct nlmsghdr	*nlh;
	uint32_t	 seq;
	size_t		 i;
	int		 one = 1, sz = NQ_RCVBUF_SIZE, err;

	/* all of it written for every batch: on lines of its own */
	if ((q = cacheline_calloc(1, sizeof(*q))) == NULL)
		return (NULL);
	q->queue = queue;
	q->fd = -1;
	q->copy = copy;
	q->slot = NQ_SLOT(maxcopy > copy ? maxcopy : copy);
	if ((q->rbuf = cacheline_calloc(1, NQ_RECVBUF)) == NULL ||
	    (q->slots = cacheline_calloc(NQ_BATCH, q->slot)) == NULL ||
	    (q->mm = cacheline_calloc(NQ_BATCH, sizeof(*q->mm))) == NULL ||
	    (q->iov = cacheline_calloc(NQ_BATCH, sizeof(*q->iov))) == NULL ||
	    (q->sbuf = cacheline_calloc(1, NQ_SENDBUF)) == NULL ||
	    (q->pend_id = cacheline_calloc(NQ_PENDMAX,
	    sizeof(*q->pend_id))) == NULL ||
	    (q->pend_v = cacheline_calloc(NQ_PENDMAX,
	    sizeof(*q->pend_v))) == NULL)
		goto fail;
	for (i = 0; i < NQ_BATCH; i++) {
		q->iov[i].iov_base = q->slots + i * q->slot;
		q->iov[i].iov_len = q->slot;
		q->mm[i].msg_hdr.msg_iov = &q->iov[i];
		q->mm[i].msg_hdr.msg_iovlen = 1;
	}
	if ((q->nl = mnl_socket_open2(NETLINK_NETFILTER, SOCK_CLOEXEC)) ==
	    NULL)
		goto fail;
	if (mnl_socket_bind(q->nl, 0, MNL_SOCKET_AUTOPID) == -1)
		goto fail;
	q->fd = mnl_socket_get_fd(q->nl);
	q->portid = mnl_socket_get_portid(q->nl);

	/* A full socket must cost packets (counted by the kernel), never
	   the socket: without this a recv would fail with ENOBUFS. */
	if (setsockopt(q->fd, SOL_NETLINK, NETLINK_NO_ENOBUFS, &one,
	    sizeof(one)) == -1)
		goto fail;
	if (setsockopt(q->fd, SOL_SOCKET, SO_RCVBUFFORCE, &sz,
	    sizeof(sz)) == -1 &&
	    setsockopt(q->fd, SOL_SOCKET, SO_RCVBUF, &sz, sizeof(sz)) == -1)
		log_warn("%s: queue %u: SO_RCVBUF", __func__, queue);
	/* Only for better kernel error messages; old kernels lack it. */
	(void)setsockopt(q->fd, SOL_NETLINK, NETLINK_EXT_ACK, &one,
	    sizeof(one));

	/* Bind and configure in one message: the kernel binds first, then
	   applies the parameters, and acks the whole. */
	seq = (uint32_t)time(NULL);
	nlh = nq_config_msg(q, buf, seq);
	nlh->nlmsg_flags |= NLM_F_ACK;
	nfq_nlmsg_cfg_put_cmd(nlh, AF_INET, NFQNL_CFG_CMD_BIND);
	nq_put_params(nlh, maxlen, fail_open, copy);
	if (mnl_socket_sendto(q->nl, nlh, nlh->nlmsg_len) == -1)
		goto fail;
	if (nq_wait_ack(q, seq) == -1) {
		if (errno == EPERM && nq_queue_listed(queue))
			errno = EBUSY;
		goto fail;
	}
	if (fcntl(q->fd, F_SETFL, fcntl(q->fd, F_GETFL) | O_NONBLOCK) == -1)
		goto fail;
	log_debug("%s: queue %u bound, portid %u, copy %d, maxlen %u%s",
	    __func__, queue, q->portid, (int)copy, maxlen,
	    fail_open ? ", fail-open" : "");
	return (q);

 fail:
	err = errno;
	nq_close(q);
	errno = err;
	return (NULL);
}

void
nq_close(struct nq *q)
{
	char		 buf[MNL_SOCKET_BUFFER_SIZE];
	struct nlmsghdr	*nlh;
	struct nq_stash	*s, *next;

	if (q == NULL)
		return;
	if (q->nl != NULL) {
		if (q->portid != 0) {
			/* Closing the socket unbinds too; say it first. */
			nlh = nq_config_msg(q, buf, 0);
			nfq_nlmsg_cfg_put_cmd(nlh, AF_INET,
			    NFQNL_CFG_CMD_UNBIND);
			(void)mnl_socket_sendto(q->nl, nlh, nlh->nlmsg_len);
		}
		mnl_socket_close(q->nl);
	}
	for (s = q->stash; s != NULL; s = next) {
		next = s->next;
		free(s);
	}
	free(q->pend_v);
	free(q->pend_id);
	free(q->sbuf);
	free(q->iov);
	free(q->mm);
	free(q->slots);
	free(q->rbuf);
	free(q);
}

int
nq_fd(const struct nq *q)
{
	return (q->fd);
}

uint16_t
nq_queue(const struct nq *q)
{
	return (q->queue);
}

void
nq_get_stats(const struct nq *q, struct nq_stats *s)
{
	*s = q->st;
}

uint64_t
nq_lost(const struct nq *q)
{
	return (q->st.lost);
}

int64_t
nq_backlog(const struct nq *q)
{
	struct nq_proc	 p;

	if (nq_proc_read(q->queue, 1, &p) < 1)
		return (-1);
	return (p.waiting);
}

/* Send a configuration message; the kernel applies it before sendto()
   returns, and reports a refusal on the socket (counted by
   nq_recv_batch()). */
int
nq_set_params(struct nq *q, uint32_t maxlen, int fail_open)
{
	char		 buf[MNL_SOCKET_BUFFER_SIZE];
	struct nlmsghdr	*nlh;

	nlh = nq_config_msg(q, buf, 0);
	nq_put_params(nlh, maxlen, fail_open,
	    __atomic_load_n(&q->copy, __ATOMIC_RELAXED));
	if (mnl_socket_sendto(q->nl, nlh, nlh->nlmsg_len) == -1)
		return (-1);
	return (0);
}

int
nq_set_copy(struct nq *q, uint32_t copy, uint32_t maxlen, int fail_open)
{
	uint32_t	 old;

	if (NQ_SLOT(copy) > q->slot) {
		errno = EINVAL;
		return (-1);
	}
	old = __atomic_exchange_n(&q->copy, copy, __ATOMIC_RELAXED);
	if (nq_set_params(q, maxlen, fail_open) == -1) {
		__atomic_store_n(&q->copy, old, __ATOMIC_RELAXED);
		return (-1);
	}
	return (0);
}

uint32_t
nq_copy(const struct nq *q)
{
	return (__atomic_load_n(&q->copy, __ATOMIC_RELAXED));
}

int
nq_quiesce(struct nq *q)
{
	char		 buf[MNL_SOCKET_BUFFER_SIZE];
	struct nlmsghdr	*nlh;

	/* queue_maxlen 0: the kernel queues nothing more; a new packet
	   gets what fail_open says, as when the queue is full. */
	nlh = nq_config_msg(q, buf, 0);
	nfq_nlmsg_cfg_put_qmaxlen(nlh, 0);
	if (mnl_socket_sendto(q->nl, nlh, nlh->nlmsg_len) == -1)
		return (-1);
	return (0);
}

static int
nq_send(struct nq *q, size_t len, unsigned nmsgs)
{
	int	 tries;

	if (len == 0)
		return (0);
	/* A message the kernel never got leaves its packets waiting in
	   the queue until we unbind: try a few times when it was short of
	   memory, but never forever. */
	for (tries = 0; tries < 3; tries++) {
		if (mnl_socket_sendto(q->nl, q->sbuf, len) != -1)
			return (0);
		if (errno != EINTR && errno != ENOBUFS && errno != EAGAIN &&
		    errno != ENOMEM)
			break;
	}
	q->st.verdict_errors += nmsgs;
	if (nq_warn_ok(q))
		log_warn("queue %u: sending %u verdicts", q->queue, nmsgs);
	return (-1);
}

/* One verdict message for id (batch: every queued packet up to id). */
static size_t
nq_put_verdict(struct nq *q, size_t off, int batch, uint32_t id,
    const struct nq_verdict *v)
{
	struct nlmsghdr	*nlh;

	nlh = nfq_nlmsg_put((char *)q->sbuf + off,
	    batch ? NFQNL_MSG_VERDICT_BATCH : NFQNL_MSG_VERDICT, q->queue);
	/* NF_REPEAT: the kernel runs the hook again, which queues the
	   packet anew (a new id), copied as the queue now says */
	nfq_nlmsg_verdict_put(nlh, (int)id, v->repeat ? NF_REPEAT :
	    v->accept ? NF_ACCEPT : NF_DROP);
	if (v->set_mark)
		nfq_nlmsg_verdict_put_mark(nlh, v->mark);
	return (off + NLMSG_ALIGN(nlh->nlmsg_len));
}

static int
nq_same(const struct nq_verdict *a, const struct nq_verdict *b)
{
	return (a->accept == b->accept && a->repeat == b->repeat &&
	    a->set_mark == b->set_mark && (!a->set_mark || a->mark == b->mark));
}

/* Send every collected verdict, in the order the packets came. */
static int
nq_flush(struct nq *q)
{
	size_t		 i, j, off = 0;
	unsigned	 nmsgs = 0;
	int		 ret = 0;

	for (i = 0; i < q->npend; i = j) {
		/* the run of packets decided like this one; none while a
		   deferred packet waits, as a batch would cover it too */
		for (j = i + 1; q->ndeferred == 0 && j < q->npend &&
		    nq_same(&q->pend_v[i], &q->pend_v[j]); j++)
			;
		if (off + NQ_VERDICT_MSG > NQ_SENDBUF) {
			if (nq_send(q, off, nmsgs) == -1)
				ret = -1;
			off = 0;
			nmsgs = 0;
		}
		off = nq_put_verdict(q, off, j - i > 1, q->pend_id[j - 1],
		    &q->pend_v[i]);
		nmsgs++;
		if (j - i > 1)
			q->st.batches++;
		if (q->pend_v[i].repeat)
			q->st.repeated += j - i;
		q->st.verdicts += j - i;
	}
	if (nq_send(q, off, nmsgs) == -1)
		ret = -1;
	q->npend = 0;
	return (ret);
}

/* Ask the caller about the packets collected; their verdicts wait. */
static void
nq_decide(struct nq *q)
{
	struct nq_verdict	*v;
	size_t			 base, i, j, n = q->npk;

	if (n == 0)
		return;
	base = q->npend - n;
	v = &q->pend_v[base];
	q->cb(q->cbarg, q->pk, v, n);
	q->npk = 0;
	/* the caller answers a deferred one with nq_verdict() */
	for (i = j = base; i < base + n; i++) {
		if (q->pend_v[i].defer) {
			q->ndeferred++;
			q->st.deferred++;
			continue;
		}
		if (j != i) {
			q->pend_id[j] = q->pend_id[i];
			q->pend_v[j] = q->pend_v[i];
		}
		j++;
	}
	q->npend = j;
}

/* One more packet to decide. */
static void
nq_add(struct nq *q, const struct nq_packet *p)
{
	if (q->npk == NQ_BATCH || q->npend == NQ_PENDMAX)
		nq_decide(q);
	if (q->npend == NQ_PENDMAX)
		(void)nq_flush(q);
	/*
	 * The kernel numbers a packet before it hands it to the socket;
	 * one it could not (the socket's buffer full) leaves a gap: with
	 * fail_open it passed unseen, without it was dropped.
	 */
	if (q->last_id != 0 && (int32_t)(p->id - q->last_id) > 1)
		q->st.lost += p->id - q->last_id - 1;
	q->last_id = p->id;
	q->pk[q->npk++] = *p;
	q->pend_id[q->npend] = p->id;
	/* the preset: whatever the callback does not decide is dropped */
	memset(&q->pend_v[q->npend], 0, sizeof(q->pend_v[q->npend]));
	q->npend++;
	q->st.received++;
	q->npkts++;
}

int
nq_verdict(struct nq *q, uint32_t id, const struct nq_verdict *v)
{
	/* may go below 0 for a moment: a packet deferred in a batch can be
	   answered from a callback of the same batch, before nq_decide()
	   has counted it */
	q->ndeferred--;
	q->st.verdicts++;
	/* alone, never a batch: other packets may wait below id */
	return (nq_send(q, nq_put_verdict(q, 0, 0, id, v), 1));
}

/* The kernel refused one of our messages. */
static void
nq_error(struct nq *q, const struct nlmsghdr *nlh)
{
	const struct nlmsgerr	*e;
	int			 type;

	if (mnl_nlmsg_get_payload_len(nlh) < sizeof(*e)) {
		q->st.bad_messages++;
		return;
	}
	e = mnl_nlmsg_get_payload(nlh);
	if (e->error == 0)
		return;		/* an ack */
	type = NFNL_MSG_TYPE(e->msg.nlmsg_type);
	if (type == NFQNL_MSG_VERDICT || type == NFQNL_MSG_VERDICT_BATCH) {
		q->st.verdict_errors++;
		if (nq_warn_ok(q))
			log_warnx("queue %u: the kernel refused a verdict: %s",
			    q->queue, strerror(-e->error));
	} else if (nq_warn_ok(q))
		log_warnx("queue %u: the kernel refused message type %d: %s",
		    q->queue, type, strerror(-e->error));
}

/*
 * Every message of one datagram: a packet with an id gets its preset
 * verdict in nq_add(), whatever else is wrong with it (nqmsg.c).
 */
static void
nq_datagram(struct nq *q, const uint8_t *buf, size_t len)
{
	struct nqmsg_walk	 w;
	struct nq_packet	 p;
	const struct nlmsghdr	*nlh;
	enum nqmsg		 m;

	nqmsg_walk_init(&w, buf, len, q->queue);
	while ((m = nqmsg_next(&w, &p, &nlh)) != NQMSG_END) {
		switch (m) {
		case NQMSG_PACKET:
			p.ts_ms = q->now_ms;
			if (p.malformed)
				q->st.malformed++;
			nq_add(q, &p);
			break;
		case NQMSG_ERROR:
			nq_error(q, nlh);
			break;
		case NQMSG_NOID:
			q->st.bad_messages++;
			if (nq_warn_ok(q))
				log_warnx("queue %u: a packet message without "
				    "an id", q->queue);
			break;
		default:
			q->st.bad_messages++;
			break;
		}
	}
}

/*
 * A datagram longer than its slot: only its first len bytes came.  Its
 * packet (if it is one and its id came) is answered as malformed.
 */
static void
nq_truncated(struct nq *q, const uint8_t *buf, size_t len)
{
	struct nq_packet	 p;

	if (!nqmsg_truncated(buf, len, &p)) {
		q->st.bad_messages++;
		return;
	}
	if (nq_warn_ok(q))
		log_warnx("queue %u: packet %u: a message longer than %zu "
		    "bytes", q->queue, p.id, q->slot);
	p.ts_ms = q->now_ms;
	q->st.malformed++;
	nq_add(q, &p);
}

static int
nq_read(struct nq *q, size_t budget)
{
	struct nq_stash	*s;
	size_t		 nmsg = 0, want, i;
	int		 r, err;

	q->npkts = 0;
	q->npk = 0;
	if (q->stash != NULL)
		q->now_ms = spi_now_ms();
	while ((s = q->stash) != NULL) {
		q->stash = s->next;
		if (q->stash == NULL)
			q->stash_tail = NULL;
		nq_datagram(q, s->buf, s->len);
		free(s);
	}
	nq_decide(q);

	while (budget == 0 || nmsg < budget) {
		want = NQ_BATCH;
		if (budget != 0 && budget - nmsg < want)
			want = budget - nmsg;
		r = recvmmsg(q->fd, q->mm, (unsigned)want, MSG_DONTWAIT, NULL);
		if (r == -1) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				break;
			if (errno == ENOBUFS) {
				/* the kernel dropped messages for us; the
				   socket itself is fine */
				q->st.enobufs++;
				continue;
			}
			err = errno;
			(void)nq_flush(q);
			errno = err;
			return (-1);
		}
		if (r == 0)
			break;
		q->now_ms = spi_now_ms();
		for (i = 0; i < (size_t)r; i++) {
			if (q->mm[i].msg_len == 0)
				continue;
			if (q->mm[i].msg_hdr.msg_flags & MSG_TRUNC)
				nq_truncated(q, q->iov[i].iov_base,
				    q->mm[i].msg_len);
			else
				nq_datagram(q, q->iov[i].iov_base,
				    q->mm[i].msg_len);
		}
		nmsg += (size_t)r;
		/* decided before the next read overwrites the slots */
		nq_decide(q);
		if (q->npend >= NQ_FLUSH)
			(void)nq_flush(q);
		/* a short read does not end the loop: what came while we
		   decided is read now, not after another epoll_wait() */
	}
	(void)nq_flush(q);
	return (q->npkts);
}

int
nq_recv_batch(struct nq *q, size_t budget, nq_batch_cb cb, void *arg)
{
	q->cb = cb;
	q->cbarg = arg;
	return (nq_read(q, budget));
}
