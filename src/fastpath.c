/*
 * fastpath.c - the kernel fast path's table: made and removed with
 * libnftables, its elements added, deleted and counted in netlink
 * batches of our own (fpmsg.c)
 *
 * Copyright (C) 2026 The nfqspid authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * The table is text once, at open: libnftables turns it into the
 * objects.  Elements change often and in numbers, so they go as a few
 * NFT_MSG_NEWSETELEM/DESTROYSETELEM messages in one nfnetlink batch, a
 * transaction the kernel applies whole or not at all.  Kernels before
 * 6.3 have no DESTROYSETELEM; there a delete of an element that timed
 * out fails the batch, and is done again element by element.
 */
#include "autoconf.h"		/* first: _GNU_SOURCE */

#include <sys/socket.h>
#include <sys/time.h>
#include <linux/netlink.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nf_tables.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libmnl/libmnl.h>
#include <nftables/libnftables.h>

#include "fastpath.h"
#include "fpmsg.h"

#define FP_BATCH	(128 * 1024)	/* bytes of one batch */
#define FP_BATCH_CONNS	128		/* connections in one: each takes
					   at most 2 x 2 elements */
#define FP_RECV		(64 * 1024)
#define FP_RULESET	8192
#define FP_TIMEOUT_S	5		/* the kernel answers at once */
#define FP_GET_CONNS	32		/* connections one send of gets asks
					   for: their 64 answers wait in
					   the socket's buffer (about 1 KiB
					   each) until it is read */

#define FP_MARKS	4096		/* marks with a chain at most */
#define FP_MARKS_SLOTS	(2 * FP_MARKS)	/* their open hash */
#define FP_BATCH_MARKS	32		/* new chains in one batch: each
					   costs 3 acks, and a few hundred
					   acks overrun the socket's buffer */

/* elements, the new marks' chains, and the messages' own bytes (2
   messages a class at most) */
_Static_assert(FP_BATCH_CONNS * 4 * FPMSG_ELEMMAX + FP_BATCH_MARKS *
    FPMSG_CHAINMSGMAX + 8192 <= FP_BATCH,
    "a batch of FP_BATCH_CONNS connections fits FP_BATCH");
_Static_assert(FP_BATCH_CONNS * 2 * FPMSG_ELEMMAX < 0xffff,
    "one message's element list fits its 16-bit length");

struct fastpath {
	struct mnl_socket	*nl;
	uint32_t		 seq;
	int			 destroy;	/* DESTROYSETELEM works */
	unsigned		 nmarks;
	uint32_t		 marks[FP_MARKS_SLOTS];	/* with a chain; 0:
						   a free slot */
	struct fp_params	 p;
	char			 table[FP_TABLE_NAMELEN];
	uint8_t			 buf[FP_BATCH];
	uint8_t			 rbuf[FP_RECV];
};

/* Run nft text; 0, or -1 with errno (EPERM when the kernel said so). */
static int
nft_text(const char *text)
{
	struct nft_ctx	*ctx;
	const char	*err;
	int		 rc;

	if ((ctx = nft_ctx_new(NFT_CTX_DEFAULT)) == NULL) {
		errno = ENOMEM;
		return (-1);
	}
	/* its messages go to buffers, never to our stdout/stderr */
	if (nft_ctx_buffer_output(ctx) != 0 ||
	    nft_ctx_buffer_error(ctx) != 0) {
		nft_ctx_free(ctx);
		errno = ENOMEM;
		return (-1);
	}
	rc = nft_run_cmd_from_buffer(ctx, text);
	if (rc != 0) {
		err = nft_ctx_get_error_buffer(ctx);
		if (err != NULL && strstr(err, "Operation not permitted"))
			errno = EPERM;
		else if (err != NULL && strstr(err, "No such file"))
			errno = ENOENT;
		else if (err != NULL && strstr(err, "not supported"))
			errno = EPROTONOSUPPORT;
		else
			errno = EINVAL;
	}
	nft_ctx_free(ctx);
	return (rc == 0 ? 0 : -1);
}

/* A socket that reads nothing but answers to us, and not forever. */
static struct mnl_socket *
nl_open(void)
{
	struct mnl_socket	*nl;
	struct timeval		 tv = { FP_TIMEOUT_S, 0 };
	int			 save;

	if ((nl = mnl_socket_open(NETLINK_NETFILTER)) == NULL)
		return (NULL);
	if (mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) < 0 ||
	    setsockopt(mnl_socket_get_fd(nl), SOL_SOCKET, SO_RCVTIMEO, &tv,
	    sizeof(tv)) == -1) {
		save = errno;
		mnl_socket_close(nl);
		errno = save;
		return (NULL);
	}
	return (nl);
}

/*
 * An exchange broke off (a timeout, a malformed answer): what the
 * kernel still sends would answer the wrong request, so start a new
 * socket.  If that fails the old one stays and the next call tries.
 */
static void
nl_reset(struct fastpath *fp)
{
	struct mnl_socket	*nl;
	int			 save = errno;

	if ((nl = nl_open()) != NULL) {
		mnl_socket_close(fp->nl);
		fp->nl = nl;
	}
	errno = save;
}

/*
 * Send b and read an answer for each of its acked messages: acks, or
 * with cb, the elements of get answers, each through cb.
 */
static int
talk(struct fastpath *fp, const struct fpmsg_buf *b, fpmsg_elem_cb cb,
    void *arg)
{
	ssize_t		 r;
	unsigned	 got = 0;
	int		 n, err = 0;

	fp->seq = b->seq;
	if (b->nacks == 0)
		return (0);
	if (mnl_socket_sendto(fp->nl, b->buf, b->len) < 0)
		return (-1);
	while (got < b->nacks) {
		if ((r = mnl_socket_recvfrom(fp->nl, fp->rbuf,
		    sizeof(fp->rbuf))) <= 0 ||
		    (n = cb == NULL ? fpmsg_acks(fp->rbuf, (size_t)r, b->first,
		    b->nacks, &err) : fpmsg_get_parse(fp->rbuf, (size_t)r,
		    b->first, b->nacks, cb, arg, &err)) == -1) {
			if (r == 0)
				errno = EPROTO;
			nl_reset(fp);
			return (-1);
		}
		got += (unsigned)n;
	}
	if (err != 0) {
		errno = err;
		return (-1);
	}
	return (0);
}

/* Send batch b and read an ack for each of its acked messages. */
static int
batch_talk(struct fastpath *fp, const struct fpmsg_buf *b)
{
	return (talk(fp, b, NULL, NULL));
}

/* b, empty but for its BEGIN: a new transaction in fp's buffer */
static int
batch_open(struct fastpath *fp, struct fpmsg_buf *b)
{
	fpmsg_init(b, fp->buf, sizeof(fp->buf), fp->seq);
	return (fpmsg_begin(b));
}

/* mark's slot in the open hash: its own, or the free one it would take */
static uint32_t *
mark_slot(struct fastpath *fp, uint32_t mark)
{
	size_t	 i = (mark * 2654435761u) % FP_MARKS_SLOTS;

	while (fp->marks[i] != 0 && fp->marks[i] != mark)
		i = (i + 1) % FP_MARKS_SLOTS;
	return (&fp->marks[i]);
}

/*
 * The connections of one transaction, from c[0 .. n - 1]: into sel[]
 * (their places in c into at[], their number into *nsel), at most
 * FP_BATCH_CONNS of them and FP_BATCH_MARKS new marks.  The new marks'
 * chains go into b, each once, and the marks into fresh[] (*nfresh):
 * they are ours once the batch is applied.  A connection whose mark
 * would need a chain past FP_MARKS is passed over: it stays out, and
 * the rest goes on.  How many of c it looked at, or -1.
 */
static ssize_t
pick_conns(struct fastpath *fp, struct fpmsg_buf *b, const struct fp_conn *c,
    size_t n, struct fp_conn *sel, size_t *at, size_t *nsel, uint32_t *fresh,
    size_t *nfresh)
{
	size_t	 i, j;

	*nsel = *nfresh = 0;
	for (i = 0; i < n && *nsel < FP_BATCH_CONNS; i++) {
		if (c[i].mark != 0 && *mark_slot(fp, c[i].mark) == 0) {
			for (j = 0; j < *nfresh && fresh[j] != c[i].mark; j++)
				;
			if (j == *nfresh) {
				if (*nfresh == FP_BATCH_MARKS)
					break;
				if (fp->nmarks + *nfresh >= FP_MARKS)
					continue;
				if (fpmsg_mark_chain(b, fp->table,
				    c[i].mark) == -1)
					return (-1);
				fresh[(*nfresh)++] = c[i].mark;
			}
		}
		at[*nsel] = i;
		sel[(*nsel)++] = c[i];
	}
	return ((ssize_t)i);
}

/* One message of type into class cls's map with the keys of conns
   c[0 .. n-1] of that class, with their verdicts if goto. */
static int
put_map(struct fastpath *fp, struct fpmsg_buf *b, uint16_t type, int cls,
    const struct fp_conn *c, size_t n, int with_goto)
{
	uint8_t		 key[FPMSG_KEYMAX];
	char		 chain[FPMSG_CHAINMAX];
	size_t		 i, len, any = 0;
	int		 dir;

	for (i = 0; i < n; i++)
		if (fpmsg_class(c[i].family, c[i].proto) == cls)
			any = 1;
	if (!any)
		return (0);
	if (fpmsg_open(b, type, fp->table, fpmsg_map_name(cls)) == -1)
		return (-1);
	for (i = 0; i < n; i++) {
		if (fpmsg_class(c[i].family, c[i].proto) != cls)
			continue;
		if (fpmsg_chain_name(c[i].mark, chain, sizeof(chain)) == -1)
			return (-1);
		for (dir = FPMSG_ORIG; dir <= FPMSG_REPLY; dir++) {
			len = fpmsg_key(&c[i], dir, key);
			if (fpmsg_put(b, key, len, with_goto ? chain : NULL,
			    dir, 0) == -1)
				return (-1);
		}
	}
	return (fpmsg_close(b));
}

/*
 * The elements of c[0 .. n - 1] into b, after what it holds: out (del)
 * or in (!del), with their chains' gotos.  Then b goes as one
 * transaction, all or none.
 */
static int
batch_send(struct fastpath *fp, struct fpmsg_buf *b, const struct fp_conn *c,
    size_t n, int del)
{
	uint16_t	 gone = fp->destroy ? FPMSG_DESTROYSETELEM :
			     NFT_MSG_DELSETELEM;
	int		 cls, rc = 0;

	/*
	 * 2 element operations a connection out, 4 in: without DESTROY
	 * an addition cannot take out what is there: it adds, and keeps
	 * an element already in.
	 */
	for (cls = 0; cls < FPMSG_NCLASS && rc == 0; cls++) {
		if (del || fp->destroy)
			rc = put_map(fp, b, gone, cls, c, n, 0);
		if (!del && rc == 0)
			rc = put_map(fp, b, NFT_MSG_NEWSETELEM, cls, c, n, 1);
	}
	if (rc == -1 || fpmsg_end(b) == -1)
		return (-1);
	return (batch_talk(fp, b));
}

static int
conns_valid(const struct fp_conn *c, size_t n)
{
	size_t	 i;

	for (i = 0; i < n; i++)
		if (fpmsg_class(c[i].family, c[i].proto) == -1 ||
		    (c[i].mark & FP_BYPASS_MARK) != 0) {
			errno = EINVAL;
			return (-1);
		}
	return (0);
}

int
fastpath_add(struct fastpath *fp, const struct fp_conn *c, size_t n,
    uint8_t *in)
{
	struct fp_conn	 sel[FP_BATCH_CONNS];
	struct fpmsg_buf b;
	uint32_t	 fresh[FP_BATCH_MARKS];
	size_t		 at[FP_BATCH_CONNS], nsel, nfresh, i, j;
	ssize_t		 k;

	memset(in, 0, n);
	if (conns_valid(c, n) == -1)
		return (-1);
	for (i = 0; i < n; i += (size_t)k) {
		/*
		 * Building cannot fail (the sizes are asserted above).  Were
		 * it to, the rest stays FP_ADD_OUT, a try each: as unsent it
		 * would be built again every round and never refused.
		 */
		if (batch_open(fp, &b) == -1 || (k = pick_conns(fp, &b, c + i,
		    n - i, sel, at, &nsel, fresh, &nfresh)) == -1)
			return (-1);
		if (nsel > 0 && batch_send(fp, &b, sel, nsel, 0) == -1) {
			/* what it passed over, and what comes after it,
			   was never asked */
			memset(in + i, FP_ADD_UNSENT, n - i);
			for (j = 0; j < nsel; j++)
				in[i + at[j]] = FP_ADD_OUT;
			return (-1);
		}
		/* applied whole: the chains are there */
		for (j = 0; j < nfresh; j++) {
			*mark_slot(fp, fresh[j]) = fresh[j];
			fp->nmarks++;
		}
		/* looked at and passed over: no room for their marks, with
		   the batch's own chains made (had it failed, there might
		   have been) */
		memset(in + i, FP_ADD_NOROOM, (size_t)k);
		for (j = 0; j < nsel; j++)
			in[i + at[j]] = FP_ADD_IN;
	}
	return (0);
}

/* Before 6.3: a delete of what timed out fails; one element at a time,
   each on its own, and ENOENT is no error. */
static int
del_each(struct fastpath *fp, const struct fp_conn *c)
{
	struct fpmsg_buf b;
	uint8_t		 key[FPMSG_KEYMAX];
	size_t		 len;
	int		 cls = fpmsg_class(c->family, c->proto), dir;

	for (dir = FPMSG_ORIG; dir <= FPMSG_REPLY; dir++) {
		len = fpmsg_key(c, dir, key);
		if (batch_open(fp, &b) == -1 ||
		    fpmsg_open(&b, NFT_MSG_DELSETELEM, fp->table,
		    fpmsg_map_name(cls)) == -1 ||
		    fpmsg_put(&b, key, len, NULL, dir, 0) == -1 ||
		    fpmsg_close(&b) == -1 || fpmsg_end(&b) == -1)
			return (-1);
		if (batch_talk(fp, &b) == -1 && errno != ENOENT)
			return (-1);
	}
	return (0);
}

/* Take c[0 .. n - 1] out, one transaction. */
static int
del_batch(struct fastpath *fp, const struct fp_conn *c, size_t n)
{
	struct fpmsg_buf b;

	if (batch_open(fp, &b) == -1)
		return (-1);
	return (batch_send(fp, &b, c, n, 1));
}

int
fastpath_del(struct fastpath *fp, const struct fp_conn *c, size_t n)
{
	size_t	 i, j, k;

	if (conns_valid(c, n) == -1)
		return (-1);
	for (i = 0; i < n; i += k) {
		k = n - i < FP_BATCH_CONNS ? n - i : FP_BATCH_CONNS;
		if (del_batch(fp, c + i, k) == 0)
			continue;
		if (fp->destroy || errno != ENOENT)
			return (-1);
		for (j = i; j < i + k; j++)
			if (del_each(fp, &c[j]) == -1)
				return (-1);
	}
	return (0);
}

/*
 * The marks' chains go with the elements that went to them, so that
 * reloads that change marks do not fill FP_MARKS.  Forgotten whatever
 * the kernel says: a chain made again changes nothing (fpmsg.h), and
 * one left behind only waits for its mark.
 */
static void
drop_chains(struct fastpath *fp)
{
	struct fpmsg_buf b;
	size_t		 i = 0, k;

	while (fp->nmarks > 0 && i < FP_MARKS_SLOTS) {
		if (batch_open(fp, &b) == -1)
			break;
		/* as many as a batch of new ones: as many acks */
		for (k = 0; i < FP_MARKS_SLOTS && k < FP_BATCH_MARKS; i++)
			if (fp->marks[i] != 0 && fpmsg_del_chain(&b,
			    fp->table, fp->marks[i]) == 0)
				k++;
		if (k == 0 || fpmsg_end(&b) == -1 || batch_talk(fp, &b) == -1)
			break;
	}
	memset(fp->marks, 0, sizeof(fp->marks));
	fp->nmarks = 0;
}

int
fastpath_flush(struct fastpath *fp)
{
	struct fpmsg_buf b;
	int		 cls;

	if (batch_open(fp, &b) == -1)
		return (-1);
	/* a DELSETELEM without elements flushes the set */
	for (cls = 0; cls < FPMSG_NCLASS; cls++)
		if (fpmsg_open(&b, NFT_MSG_DELSETELEM, fp->table,
		    fpmsg_map_name(cls)) == -1 || fpmsg_close(&b) == -1)
			return (-1);
	if (fpmsg_end(&b) == -1 || batch_talk(fp, &b) == -1)
		return (-1);
	drop_chains(fp);
	return (0);
}

/* Our table as p makes it, in place of one of its name, in one
   transaction (fpmsg_ruleset()); 0, or -1 and errno. */
static int
fastpath_make(const struct fp_params *p)
{
	char		*text;
	int		 rc, save;

	if ((text = malloc(FP_RULESET)) == NULL)
		return (-1);
	if (fpmsg_ruleset(p, text, FP_RULESET) == -1) {
		free(text);
		errno = EINVAL;
		return (-1);
	}
	rc = nft_text(text);
	save = errno;
	free(text);
	errno = save;
	return (rc);
}

int
fastpath_grow(struct fastpath *fp, uint32_t max)
{
	struct fp_params p = fp->p;

	if (max <= fp->p.max || max > FP_MAX_CONNS) {
		errno = EINVAL;
		return (-1);
	}
	p.max = max;
	if (fastpath_make(&p) == -1)
		return (-1);
	/* the old table's chains went with it */
	memset(fp->marks, 0, sizeof(fp->marks));
	fp->nmarks = 0;
	fp->p.max = max;
	return (0);
}

/*
 * Does this kernel know DESTROYSETELEM?  Destroy a key never added.  An
 * older one refuses the type; an answer lost or garbled on the way
 * (EPROTO, EAGAIN) says nothing, and the question is asked once more.
 */
static int
probe_destroy(struct fastpath *fp)
{
	struct fpmsg_buf b;
	uint8_t		 key[FPMSG_KEY4];
	int		 try;

	memset(key, 0, sizeof(key));
	fp->destroy = 0;
	for (try = 0; try < 2; try++) {
		if (batch_open(fp, &b) == -1 ||
		    fpmsg_open(&b, FPMSG_DESTROYSETELEM, fp->table,
		    fpmsg_map_name(0)) == -1 ||
		    fpmsg_put(&b, key, sizeof(key), NULL, FPMSG_ORIG, 0) == -1 ||
		    fpmsg_close(&b) == -1 || fpmsg_end(&b) == -1)
			return (-1);
		if (batch_talk(fp, &b) == 0) {
			fp->destroy = 1;
			break;
		}
		if (errno != EPROTO && errno != EAGAIN)
			break;
	}
	return (0);
}

struct fastpath *
fastpath_open(const struct fp_params *p)
{
	struct fastpath	*fp;
	int		 save;

	if (p->tcp_timeout_s < 1 || p->tcp_timeout_s > 1000000 ||
	    p->udp_timeout_s < 1 || p->udp_timeout_s > 1000000 ||
	    p->max < 1 || p->max > FP_MAX_CONNS) {
		errno = EINVAL;
		return (NULL);
	}
	if ((fp = calloc(1, sizeof(*fp))) == NULL)
		return (NULL);
	fp->p = *p;
	if (fastpath_table_name(p->queue, fp->table, sizeof(fp->table)) == -1)
		goto fail_einval;
	if ((fp->nl = nl_open()) == NULL)
		goto fail;
	fp->seq = (uint32_t)time(NULL);
	if (fastpath_make(p) == -1)
		goto fail;
	if (probe_destroy(fp) == -1) {
		save = errno;
		fastpath_close(fp);
		errno = save;
		return (NULL);
	}
	return (fp);
fail_einval:
	errno = EINVAL;
fail:
	save = errno;
	if (fp->nl != NULL)
		mnl_socket_close(fp->nl);
	free(fp);
	errno = save;
	return (NULL);
}

int
fastpath_destroys(const struct fastpath *fp)
{
	return (fp->destroy);
}

void
fastpath_close(struct fastpath *fp)
{
	char	 cmd[sizeof(fp->table) + 32];
	int	 save = errno;

	if (fp == NULL)
		return;
	snprintf(cmd, sizeof(cmd), "delete table inet %s\n", fp->table);
	(void)nft_text(cmd);
	mnl_socket_close(fp->nl);
	free(fp);
	errno = save;
}

/* ---- counters and time ------------------------------------------------ */

/*
 * The packet path only looks elements up, so their time runs out unless
 * we give it back: each dump renews every element past half its time
 * (an element a connection, per timeout / 2: cheap), whether it carried
 * packets or not.  The daemon's table decides when a connection ends,
 * and removes it; the kernel's timeout only bounds what a killed daemon
 * leaves behind.  One with less than FP_RENEW_MIN_MS left is let go: a
 * renewal adds what is gone, and it may be gone by the time it lands.
 * Kernels before 6.10 ignore a renewal: there an element times out
 * after its timeout, the connection's next packet comes to the queue,
 * and the thread puts it in again (fpq_book_sweep()).
 */
#define FP_RENEW_MIN_MS	1000
#define FP_RENEW_BATCH	384		/* elements a batch */
_Static_assert(FP_RENEW_BATCH * FPMSG_ELEMMAX < 0xffff,
    "a batch of renewals fits one message's 16-bit element list");
_Static_assert(FP_RENEW_BATCH * FPMSG_ELEMMAX + 8192 <= FP_BATCH,
    "a batch of renewals fits FP_BATCH");

/* One connection of a class: its original key and what was counted. */
struct fp_rec {
	uint8_t		 key[FPMSG_KEYMAX];
	uint64_t	 pkts;
	uint64_t	 bytes;
	uint64_t	 expires_ms;
};

/* One element to renew, its key as the kernel has it. */
struct fp_renew {
	uint8_t		 key[FPMSG_KEYMAX];
	char		 chain[FPMSG_CHAINMAX];	/* its verdict, as it was */
	uint8_t		 dir;
};

struct fp_dump {
	struct fp_rec	*r;
	size_t		 n;
	size_t		 cap;
	struct fp_renew	*rn;
	size_t		 nrn;
	size_t		 caprn;
	struct fp_conn	*st;		/* strays: cb does not know them */
	size_t		 nst;
	size_t		 capst;
	size_t		 keylen;
	size_t		 limit;		/* most records we take */
	uint64_t	 timeout_ms;	/* the class's */
	int		 cls;
	int		 err;		/* the first element we could not
					   take: the dump goes on to its
					   end, so that the socket stays in
					   step, then fails with it */
};

static int
rec_cmp(const void *a, const void *b)
{
	return (memcmp(((const struct fp_rec *)a)->key,
	    ((const struct fp_rec *)b)->key, FPMSG_KEYMAX));
}

/* room for one more of size sz in *arr (n used of *cap, at most limit);
   0, or the errno */
static int
grow(void **arr, size_t *cap, size_t n, size_t sz, size_t limit)
{
	void	*p;
	size_t	 c;

	if (n < *cap)
		return (0);
	if (n >= limit)
		return (E2BIG);
	c = *cap ? *cap * 2 : 1024;
	if ((p = reallocarray(*arr, c, sz)) == NULL)
		return (ENOMEM);
	*arr = p;
	*cap = c;
	return (0);
}

/* e's key in the original direction; -1 if it is no key of ours */
static int
orig_key(const struct fp_dump *d, const struct fpmsg_elem *e, uint8_t *key)
{
	struct fp_conn	 c;

	memset(key, 0, FPMSG_KEYMAX);
	if (e->keylen != d->keylen ||
	    fpmsg_key_conn(d->cls, e->key, e->keylen, e->dir, &c) == -1)
		return (-1);
	fpmsg_key(&c, FPMSG_ORIG, key);
	return (0);
}

/* an element past half its time: to be renewed after the dump */
static void
renew_elem(struct fp_dump *d, const struct fpmsg_elem *e)
{
	struct fp_renew	*rn;

	/* an update must carry the data the element has */
	if (!e->has_expires || !e->has_data ||
	    e->expires_ms >= d->timeout_ms / 2 ||
	    e->expires_ms < FP_RENEW_MIN_MS)
		return;
	if ((d->err = grow((void **)&d->rn, &d->caprn, d->nrn, sizeof(*rn),
	    d->limit)) != 0)
		return;
	rn = &d->rn[d->nrn++];
	memset(rn->key, 0, sizeof(rn->key));
	memcpy(rn->key, e->key, e->keylen);
	memcpy(rn->chain, e->chain, sizeof(rn->chain));
	rn->dir = e->dir;
}

/* an element of a map: one direction of a connection */
static int
counted_elem(const struct fpmsg_elem *e, void *arg)
{
	struct fp_dump	*d = arg;
	struct fp_rec	*r;

	if (d->err != 0)
		return (0);
	if (!e->has_counter) {
		d->err = EPROTO;
		return (0);
	}
	if ((d->err = grow((void **)&d->r, &d->cap, d->n, sizeof(*r),
	    d->limit)) != 0)
		return (0);
	r = &d->r[d->n];
	if (orig_key(d, e, r->key) == -1) {
		d->err = EPROTO;
		return (0);
	}
	r->pkts = e->pkts;
	r->bytes = e->bytes;
	r->expires_ms = e->has_expires ? e->expires_ms : 0;
	d->n++;
	renew_elem(d, e);
	return (0);
}

/* Dump class cls's map through cb. */
static int
dump_map(struct fastpath *fp, int cls, fpmsg_elem_cb cb, struct fp_dump *d)
{
	uint32_t	 seq = fp->seq++;
	ssize_t		 r;
	int		 len, rc;

	if ((len = fpmsg_dump_req(fp->buf, sizeof(fp->buf), seq, fp->table,
	    fpmsg_map_name(cls))) == -1)
		return (-1);
	if (mnl_socket_sendto(fp->nl, fp->buf, (size_t)len) < 0)
		return (-1);
	do {
		if ((r = mnl_socket_recvfrom(fp->nl, fp->rbuf,
		    sizeof(fp->rbuf))) <= 0) {
			if (r == 0)
				errno = EPROTO;
			nl_reset(fp);
			return (-1);
		}
		rc = fpmsg_dump_parse(fp->rbuf, (size_t)r, seq, cb, d);
	} while (rc == 0);
	if (rc == -1) {
		nl_reset(fp);
		return (-1);
	}
	if (d->err != 0) {
		errno = d->err;
		return (-1);
	}
	return (0);
}

/* Give the elements d->rn[from .. to - 1] their time again. */
static int
renew_batch(struct fastpath *fp, const struct fp_dump *d, size_t from,
    size_t to)
{
	struct fpmsg_buf b;
	size_t		 i;

	if (batch_open(fp, &b) == -1 ||
	    fpmsg_open(&b, NFT_MSG_NEWSETELEM, fp->table,
	    fpmsg_map_name(d->cls)) == -1)
		return (-1);
	for (i = from; i < to; i++)
		if (fpmsg_put(&b, d->rn[i].key, d->keylen, d->rn[i].chain,
		    d->rn[i].dir, d->timeout_ms) == -1)
			return (-1);
	if (fpmsg_close(&b) == -1 || fpmsg_end(&b) == -1)
		return (-1);
	return (batch_talk(fp, &b));
}

static int
renew_class(struct fastpath *fp, const struct fp_dump *d)
{
	size_t	 i, k;

	for (i = 0; i < d->nrn; i += k) {
		k = d->nrn - i < FP_RENEW_BATCH ? d->nrn - i : FP_RENEW_BATCH;
		if (renew_batch(fp, d, i, i + k) == -1)
			return (-1);
	}
	return (0);
}

static int
counters_class(struct fastpath *fp, struct fp_dump *d, fp_counts_cb cb,
    void *arg)
{
	struct fp_conn	 c;
	struct fp_counts cn;
	size_t		 i, j;

	d->n = 0;
	d->nrn = 0;
	d->nst = 0;
	d->err = 0;
	d->keylen = fpmsg_keylen(d->cls);
	d->timeout_ms = 1000 * (uint64_t)(d->cls & 1 ? fp->p.udp_timeout_s :
	    fp->p.tcp_timeout_s);
	if (dump_map(fp, d->cls, counted_elem, d) == -1)
		return (-1);
	/* the two directions of a connection next to each other: one */
	if (d->n > 1)
		qsort(d->r, d->n, sizeof(*d->r), rec_cmp);
	for (i = 0, j = 0; i < d->n; i++) {
		if (j > 0 && memcmp(d->r[j - 1].key, d->r[i].key,
		    FPMSG_KEYMAX) == 0) {
			d->r[j - 1].pkts += d->r[i].pkts;
			d->r[j - 1].bytes += d->r[i].bytes;
			if (d->r[i].expires_ms > d->r[j - 1].expires_ms)
				d->r[j - 1].expires_ms = d->r[i].expires_ms;
			continue;
		}
		d->r[j++] = d->r[i];
	}
	d->n = j;
	for (i = 0; i < d->n; i++) {
		if (fpmsg_key_conn(d->cls, d->r[i].key, d->keylen, FPMSG_ORIG,
		    &c) == -1)
			continue;
		cn.pkts = d->r[i].pkts;
		cn.bytes = d->r[i].bytes;
		cn.expires_ms = d->r[i].expires_ms > UINT32_MAX ? UINT32_MAX :
		    (uint32_t)d->r[i].expires_ms;
		if (cb(&c, &cn, arg) == 0)
			continue;
		if ((errno = grow((void **)&d->st, &d->capst, d->nst,
		    sizeof(*d->st), d->limit)) != 0)
			return (-1);
		d->st[d->nst++] = c;
	}
	if (renew_class(fp, d) == -1)
		return (-1);
	/* renewed with the rest: a stray is rare, and goes at once */
	return (d->nst > 0 ? fastpath_del(fp, d->st, d->nst) : 0);
}

int
fastpath_counters(struct fastpath *fp, fp_counts_cb cb, void *arg)
{
	struct fp_dump	 d;
	int		 rc = 0, save;

	memset(&d, 0, sizeof(d));
	/* a map holds 2 x max elements at most */
	d.limit = 2 * (size_t)fp->p.max;
	for (d.cls = 0; d.cls < FPMSG_NCLASS && rc == 0; d.cls++)
		rc = counters_class(fp, &d, cb, arg);
	save = errno;
	free(d.r);
	free(d.rn);
	free(d.st);
	errno = save;
	return (rc);
}

/* ---- one connection's counts ------------------------------------------ */

struct fp_get {
	const struct fp_conn	*c;
	struct fp_counts	*k;
	uint32_t		 req[2 * FP_GET_CONNS];	/* get i asked for
						   direction req[i] & 1
						   of c[req[i] >> 1] */
	unsigned		 n;
};

/* the answer to one get: the element we asked for, with its counter */
static int
got_elem(const struct fpmsg_elem *e, void *arg)
{
	struct fp_get	*g = arg;
	uint8_t		 key[FPMSG_KEYMAX];
	size_t		 i, len;

	if (e->req >= g->n) {
		errno = EPROTO;
		return (-1);
	}
	i = g->req[e->req] >> 1;
	len = fpmsg_key(&g->c[i], (int)(g->req[e->req] & 1), key);
	if (!e->has_counter || e->keylen != len ||
	    memcmp(e->key, key, len) != 0) {
		errno = EPROTO;
		return (-1);
	}
	g->k[i].pkts += e->pkts;
	g->k[i].bytes += e->bytes;
	return (0);
}

/* c[0 .. n-1], n <= FP_GET_CONNS: one send, the answers read */
static int
get_some(struct fastpath *fp, const struct fp_conn *c, size_t n,
    struct fp_counts *k)
{
	struct fpmsg_buf b;
	struct fp_get	 g;
	uint8_t		 key[FPMSG_KEYMAX];
	size_t		 i, len;
	int		 cls, dir;

	g.c = c;
	g.k = k;
	fpmsg_init(&b, fp->buf, sizeof(fp->buf), fp->seq);
	for (i = 0; i < n; i++) {
		cls = fpmsg_class(c[i].family, c[i].proto);
		for (dir = FPMSG_ORIG; dir <= FPMSG_REPLY; dir++) {
			len = fpmsg_key(&c[i], dir, key);
			g.req[b.nacks] = (uint32_t)(2 * i + (size_t)dir);
			if (fpmsg_get(&b, fp->table, fpmsg_map_name(cls),
			    key, len) == -1)
				return (-1);
		}
	}
	g.n = b.nacks;
	return (talk(fp, &b, got_elem, &g));
}

int
fastpath_get(struct fastpath *fp, const struct fp_conn *c, size_t n,
    struct fp_counts *k)
{
	size_t	 i, m;

	if (conns_valid(c, n) == -1)
		return (-1);
	memset(k, 0, n * sizeof(*k));
	for (i = 0; i < n; i += m) {
		m = n - i < FP_GET_CONNS ? n - i : FP_GET_CONNS;
		if (get_some(fp, c + i, m, k + i) == -1)
			return (-1);
	}
	return (0);
}
