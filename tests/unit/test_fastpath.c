/*
 * test_fastpath.c - cmocka tests for fastpath.c: the fast path's kernel
 * table against a small fake nf_tables kernel
 *
 * Copyright (C) 2026 The nfqspid authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * libmnl's socket calls, setsockopt() and libnftables are wrapped
 * (-Wl,--wrap): libnftables is not linked, libmnl only for the fake's
 * builders and readers (nlbuild.c).  The fake kernel reads each
 * send as nfnetlink does: in a batch one NLMSG_ERROR for each message
 * that asks for an ack, the batch applied whole or, if one message
 * fails, not at all; a get answered by the element or an error; a dump
 * by element messages and NLMSG_DONE.  It keeps the four verdict maps'
 * elements and the marks' chains, and can play a kernel before 6.3 (no
 * DESTROYSETELEM), fail a message, or garble or swallow an answer.
 */
#include "autoconf.h"

#include <sys/socket.h>
#include <sys/time.h>
#include <arpa/inet.h>
#include <linux/netlink.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nf_tables.h>
#include <netinet/in.h>

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <libmnl/libmnl.h>
#include <nftables/libnftables.h>

#include "fastpath.h"
#include "fpmsg.h"
#include "nlbuild.h"

#define TABLE		"nfqspid-fp-7"
#define KELEMS		4096		/* elements a map of the fake holds */
#define KCHAINS		(4096 + 8)	/* chains: FP_MARKS and nomark */
#define KBATCHES	512		/* batches the fake remembers */
#define KTYPES		64		/* nf_tables message types */
#define NSOCK		4
#define DUMP_ELEMS	16		/* elements of one dump message */
#define FD_BASE		100

static const char *const maps[FPMSG_NCLASS] = {
	"conn_tcp4", "conn_udp4", "conn_tcp6", "conn_udp6",
};

static struct fp_params P = {
	.queue = 7, .tcp_timeout_s = 3600, .udp_timeout_s = 120, .max = 8192,
};

/* ---- the fake kernel ----------------------------------------------------- */

struct kelem {
	uint8_t		 key[FPMSG_KEYMAX];
	size_t		 keylen;
	char		 chain[FPMSG_CHAINMAX];	/* its verdict: goto; "":
						   accept, as root can put */
	uint64_t	 pkts;
	uint64_t	 bytes;
	uint64_t	 expires_ms;	/* time left */
	uint8_t		 dir;		/* its comment: FPMSG_ORIG, REPLY */
};

struct kchain {
	char		 name[FPMSG_CHAINMAX];
	unsigned	 rules;
	uint32_t	 value;		/* its last rule's immediate */
};

struct kstate {
	int		 table;		/* made by the nft text */
	size_t		 n[FPMSG_NCLASS];
	struct kelem	 e[FPMSG_NCLASS][KELEMS];
	size_t		 nch;
	struct kchain	 ch[KCHAINS];
};

/* one batch as the fake saw it */
struct kbatch {
	unsigned	 msgs[KTYPES];	/* messages of each type */
	unsigned	 elems[KTYPES];	/* elements in those of each type */
	int		 err;		/* the first error: not applied */
};

/* a socket: the answers not read yet, each a uint32_t length first */
struct fsock {
	int		 open;
	int		 bound;
	int		 timeo;		/* SO_RCVTIMEO set */
	uint8_t		*q;
	size_t		 qlen;
	size_t		 qoff;
	size_t		 qcap;
};

struct mnl_socket {
	int		 fd;
};

struct nft_ctx {
	int		 out;		/* output buffered */
	int		 err;
	const char	*errbuf;
};

/* what the fake does to the answers of the next send */
enum {
	G_NONE,
	G_SHORT,		/* the first cut 2 bytes short */
	G_EMPTY,		/* the first empty */
	G_SEQ,			/* the first's sequence number off */
	G_SILENT		/* none: the socket's timeout runs out */
};

static struct {
	struct kstate	 s;		/* what the kernel holds */
	struct kstate	 saved;		/* before the batch being applied */
	uint64_t	 timeout_ms[FPMSG_NCLASS];
	int		 old;		/* before 6.3: no DESTROYSETELEM */
	uint16_t	 fail_type;	/* fail the next message of this */
	int		 fail_err;
	int		 garble;	/* the next send's answers: G_* */
	int		 garbling;	/* the send being answered */
	int		 no_counter;	/* dumps without the counter */
	int		 fail_open;	/* mnl_socket_open() fails */
	const char	*nft_err;	/* the next nft text fails so */
	unsigned	 nft_runs;
	struct kbatch	 b[KBATCHES];
	unsigned	 nb;
	unsigned	 gets;		/* get messages */
	unsigned	 sends;		/* mnl_socket_sendto() calls */
	unsigned	 dumps;
	unsigned	 renewals;	/* elements given a new timeout */
	unsigned	 opens;
	unsigned	 closes;
	int		 cur;		/* the socket last opened */
	struct fsock	 sock[NSOCK];
} K;

static void
kstate_copy(struct kstate *to, const struct kstate *from)
{
	int	 c;

	to->table = from->table;
	for (c = 0; c < FPMSG_NCLASS; c++) {
		to->n[c] = from->n[c];
		memcpy(to->e[c], from->e[c], from->n[c] * sizeof(struct kelem));
	}
	to->nch = from->nch;
	memcpy(to->ch, from->ch, from->nch * sizeof(struct kchain));
}

static struct kelem *
kfind_key(int cls, const uint8_t *key, size_t keylen)
{
	size_t	 i;

	for (i = 0; i < K.s.n[cls]; i++)
		if (K.s.e[cls][i].keylen == keylen &&
		    memcmp(K.s.e[cls][i].key, key, keylen) == 0)
			return (&K.s.e[cls][i]);
	return (NULL);
}

static void
kremove(int cls, struct kelem *k)
{
	*k = K.s.e[cls][--K.s.n[cls]];
}

static struct kchain *
kchain(const char *name)
{
	size_t	 i;

	for (i = 0; i < K.s.nch; i++)
		if (strcmp(K.s.ch[i].name, name) == 0)
			return (&K.s.ch[i]);
	return (NULL);
}

/* ---- the fake's answers -------------------------------------------------- */

static struct nlb	 D;		/* the answer being built */

/* D, the answer built, queued on s */
static void
q_push(struct fsock *s)
{
	uint8_t		*p = D.b;
	size_t		 len = D.len;
	uint32_t	 l;

	if (K.garbling == G_SHORT)
		len -= 2;
	else if (K.garbling == G_EMPTY)
		len = 0;
	else if (K.garbling == G_SEQ)
		((struct nlmsghdr *)p)->nlmsg_seq += 1000;
	if (K.garbling != G_SILENT)
		K.garbling = G_NONE;	/* the first answer only */
	l = (uint32_t)len;
	if (s->qlen + 4 + NLMSG_ALIGN(len) > s->qcap) {
		s->qcap = 2 * (s->qcap + 4 + NLMSG_ALIGN(len));
		assert_non_null(s->q = realloc(s->q, s->qcap));
	}
	memcpy(s->q + s->qlen, &l, 4);
	memcpy(s->q + s->qlen + 4, p, len);
	s->qlen += 4 + NLMSG_ALIGN(len);
}

/* an element as the kernel dumps it */
static void
put_elem(const struct kelem *k)
{
	const struct nlb_elem e = {
		.key = k->key, .keylen = k->keylen,
		.chain = k->chain[0] != '\0' ? k->chain : NULL,
		.expires_ms = k->expires_ms,
		.counter = K.no_counter ? NLB_NOCOUNTER : NLB_EXPR,
		.pkts = k->pkts, .bytes = k->bytes,
		.comment = k->dir == FPMSG_REPLY ? "reply" : "orig",
	};

	nlb_elem(&D, &e);
}

/* one element message of class cls's map, k[0 .. n-1], as a datagram */
static void
answer_elems(struct fsock *s, uint32_t seq, uint16_t flags, int cls,
    const struct kelem *k, size_t n)
{
	size_t	 i;

	nlb_reset(&D);
	nlb_elems(&D, seq, flags, NFPROTO_INET, TABLE, maps[cls]);
	for (i = 0; i < n; i++)
		put_elem(&k[i]);
	nlb_unnest(&D);
	q_push(s);
}

/* NLMSG_ERROR for req: an ack (err 0) or its error */
static void
answer_err(struct fsock *s, const struct nlmsghdr *req, int err)
{
	nlb_reset(&D);
	nlb_err(&D, req->nlmsg_seq, -err, req);
	q_push(s);
}

/* ---- the fake reads what it is sent --------------------------------------- */

/* the message names our table (else the kernel says ENOENT) */
static int
our_table(const struct nlmsghdr *nlh, uint16_t type)
{
	return (K.s.table && strcmp(nlb_attr_str(nlb_msg_attr(nlh, type)),
	    TABLE) == 0);
}

/* a set element message's map, -1 if none of ours */
static int
msg_class(const struct nlmsghdr *nlh)
{
	const char	*set;
	int		 c;

	if (!our_table(nlh, NFTA_SET_ELEM_LIST_TABLE))
		return (-1);
	set = nlb_attr_str(nlb_msg_attr(nlh, NFTA_SET_ELEM_LIST_SET));
	for (c = 0; c < FPMSG_NCLASS; c++)
		if (strcmp(set, maps[c]) == 0)
			return (c);
	return (-1);
}

/* What one element operation found and did. */
struct kop {
	uint16_t	 type;
	int		 cls;
	unsigned	 n;
	int		 err;
	struct kelem	*found;		/* a get's */
};

static int
kelem_op(const struct fpmsg_elem *e, void *arg)
{
	struct kop	*op = arg;
	struct kelem	*k;

	op->n++;
	if (op->err != 0)
		return (0);
	if (e->keylen != (op->cls >= 2 ? FPMSG_KEY6 : FPMSG_KEY4)) {
		op->err = EINVAL;
		return (0);
	}
	k = kfind_key(op->cls, e->key, e->keylen);
	switch (op->type) {
	case NFT_MSG_GETSETELEM:
		op->found = k;
		break;
	case NFT_MSG_DELSETELEM:
	case FPMSG_DESTROYSETELEM:
		if (k != NULL)
			kremove(op->cls, k);
		else if (op->type == NFT_MSG_DELSETELEM)
			op->err = ENOENT;
		break;
	case NFT_MSG_NEWSETELEM:
		if (!e->has_data)
			op->err = EINVAL;
		else if (kchain(e->chain) == NULL)
			op->err = ENOENT;	/* goto a chain not there */
		else if (k != NULL && strcmp(k->chain, e->chain) != 0)
			op->err = EEXIST;	/* no update of the data */
		else if (k != NULL && e->has_expires) {
			k->expires_ms = e->expires_ms;
			K.renewals++;
		} else if (k == NULL) {
			assert_true(K.s.n[op->cls] < KELEMS);
			k = &K.s.e[op->cls][K.s.n[op->cls]++];
			memset(k, 0, sizeof(*k));
			memcpy(k->key, e->key, e->keylen);
			k->keylen = e->keylen;
			memcpy(k->chain, e->chain, sizeof(k->chain));
			k->expires_ms = e->has_expires ? e->expires_ms :
			    K.timeout_ms[op->cls];
			k->dir = e->dir;
		}
		break;
	default:
		fail();
	}
	return (0);
}

/* the elements of a set element message through kelem_op: fpmsg.c
   reads a request's element list as it reads a dump's */
static void
each_elem(const struct nlmsghdr *nlh, struct kop *op)
{
	static uint8_t	 copy[1 << 17] __attribute__((aligned(4)));
	struct nlmsghdr	*h = (struct nlmsghdr *)copy;

	assert_true(nlh->nlmsg_len <= sizeof(copy));
	memcpy(copy, nlh, nlh->nlmsg_len);
	h->nlmsg_type = NLB_NFT(NFT_MSG_NEWSETELEM);
	assert_int_equal(fpmsg_dump_parse(copy, nlh->nlmsg_len, h->nlmsg_seq,
	    kelem_op, op), 0);
}

static int
k_setelem(const struct nlmsghdr *nlh, uint16_t type, struct kbatch *bt)
{
	struct kop	 op;

	memset(&op, 0, sizeof(op));
	op.type = type;
	if (type == FPMSG_DESTROYSETELEM && K.old)
		return (EINVAL);	/* nfnetlink: no such type */
	if ((op.cls = msg_class(nlh)) == -1)
		return (ENOENT);
	if (nlb_msg_attr(nlh, NFTA_SET_ELEM_LIST_ELEMENTS) == NULL) {
		if (type != NFT_MSG_DELSETELEM)
			return (EINVAL);
		K.s.n[op.cls] = 0;	/* no elements: a flush */
		return (0);
	}
	each_elem(nlh, &op);
	bt->elems[type] += op.n;
	return (op.err);
}

/* the value the rule's immediate puts in, checking it is stored in
   the mark */
static uint32_t
rule_value(const struct nlmsghdr *nlh)
{
	const struct nlattr	*exprs;
	const struct nlattr	*imm, *meta, *v;
	uint32_t		 value;

	exprs = nlb_msg_attr(nlh, NFTA_RULE_EXPRESSIONS);
	imm = nlb_nest_attr(exprs, NFTA_LIST_ELEM);
	assert_string_equal(nlb_attr_str(nlb_nest_attr(imm, NFTA_EXPR_NAME)),
	    "immediate");
	v = nlb_nest_attr(nlb_nest_attr(nlb_nest_attr(imm, NFTA_EXPR_DATA),
	    NFTA_IMMEDIATE_DATA), NFTA_DATA_VALUE);
	assert_non_null(v);
	assert_int_equal(mnl_attr_get_payload_len(v), 4);
	value = mnl_attr_get_u32(v);
	/* the second expression: meta mark set */
	meta = mnl_attr_next(imm);
	assert_true(mnl_attr_ok(meta, (int)((const uint8_t *)exprs +
	    exprs->nla_len - (const uint8_t *)meta)));
	assert_string_equal(nlb_attr_str(nlb_nest_attr(meta, NFTA_EXPR_NAME)),
	    "meta");
	v = nlb_nest_attr(nlb_nest_attr(meta, NFTA_EXPR_DATA), NFTA_META_KEY);
	assert_non_null(v);
	assert_int_equal(ntohl(mnl_attr_get_u32(v)), NFT_META_MARK);
	return (value);
}

/* an element goes to chain name */
static int
kchain_used(const char *name)
{
	size_t	 i;
	int	 c;

	for (c = 0; c < FPMSG_NCLASS; c++)
		for (i = 0; i < K.s.n[c]; i++)
			if (strcmp(K.s.e[c][i].chain, name) == 0)
				return (1);
	return (0);
}

static int
k_chain(const struct nlmsghdr *nlh, uint16_t type)
{
	struct kchain	*ch;
	const char	*name;
	int		 chainmsg = type == NFT_MSG_NEWCHAIN ||
			    type == NFT_MSG_DELCHAIN;

	if (!our_table(nlh, chainmsg ? NFTA_CHAIN_TABLE : NFTA_RULE_TABLE))
		return (ENOENT);
	name = nlb_attr_str(nlb_msg_attr(nlh, chainmsg ? NFTA_CHAIN_NAME :
	    NFTA_RULE_CHAIN));
	ch = kchain(name);
	if (type == NFT_MSG_DELCHAIN) {
		if (ch == NULL)
			return (ENOENT);
		if (kchain_used(name))
			return (EBUSY);	/* an element still goes to it */
		*ch = K.s.ch[--K.s.nch];	/* its rules with it */
		return (0);
	}
	if (type == NFT_MSG_NEWCHAIN) {
		if (ch == NULL) {	/* NLM_F_CREATE, no EXCL: once */
			assert_true(K.s.nch < KCHAINS);
			ch = &K.s.ch[K.s.nch++];
			memset(ch, 0, sizeof(*ch));
			assert_true(strlen(name) < sizeof(ch->name));
			memcpy(ch->name, name, strlen(name) + 1);
		}
		return (0);
	}
	if (ch == NULL)
		return (ENOENT);
	if (type == NFT_MSG_DELRULE)
		ch->rules = 0;		/* no handle: all of them */
	else {
		ch->rules++;
		ch->value = rule_value(nlh);
	}
	return (0);
}

/* one message of a batch: 0 or the error the kernel answers */
static int
k_msg(const struct nlmsghdr *nlh, struct kbatch *bt)
{
	uint16_t	 type = nlh->nlmsg_type & 0xff;

	assert_int_equal(nlh->nlmsg_type >> 8, NFNL_SUBSYS_NFTABLES);
	assert_true(type < KTYPES);
	bt->msgs[type]++;
	if (K.fail_type != 0 && K.fail_type == type) {
		K.fail_type = 0;
		return (K.fail_err);
	}
	switch (type) {
	case NFT_MSG_NEWSETELEM:
	case NFT_MSG_DELSETELEM:
	case FPMSG_DESTROYSETELEM:
		return (k_setelem(nlh, type, bt));
	case NFT_MSG_NEWCHAIN:
	case NFT_MSG_DELCHAIN:
	case NFT_MSG_DELRULE:
	case NFT_MSG_NEWRULE:
		return (k_chain(nlh, type));
	}
	fail_msg("a message of type %u in a batch", type);
	return (EINVAL);
}

/* the next request of a send, NULL at its end */
static const struct nlmsghdr *
next_req(const void *buf, size_t len, size_t *off)
{
	const struct nlmsghdr	*nlh = nlb_next(buf, len, off);

	assert_true(nlh == NULL || (nlh->nlmsg_flags & NLM_F_REQUEST));
	return (nlh);
}

/* a batch: every message's error or ack, applied whole or not at all */
static void
k_batch(struct fsock *s, const uint8_t *buf, size_t len)
{
	const struct nlmsghdr	*nlh;
	const struct nfgenmsg	*nfg;
	struct kbatch		*bt;
	size_t			 off = 0;
	int			 err, end = 0;

	assert_true(K.nb < KBATCHES);
	bt = &K.b[K.nb++];
	memset(bt, 0, sizeof(*bt));
	kstate_copy(&K.saved, &K.s);
	nlh = next_req(buf, len, &off);
	nfg = mnl_nlmsg_get_payload(nlh);
	assert_int_equal(ntohs(nfg->res_id), NFNL_SUBSYS_NFTABLES);
	while ((nlh = next_req(buf, len, &off)) != NULL) {
		assert_false(end);
		if (nlh->nlmsg_type == NFNL_MSG_BATCH_END) {
			end = 1;
			continue;
		}
		err = k_msg(nlh, bt);
		if (err != 0 && bt->err == 0)
			bt->err = err;
		if ((nlh->nlmsg_flags & NLM_F_ACK) || err != 0)
			answer_err(s, nlh, err);
	}
	assert_true(end);
	if (bt->err != 0)
		kstate_copy(&K.s, &K.saved);
}

/* a dump of a map: its elements, DUMP_ELEMS a message, then DONE */
static void
k_dump(struct fsock *s, const struct nlmsghdr *nlh)
{
	int	 cls = msg_class(nlh);
	size_t	 i, n;

	K.dumps++;
	assert_true(cls >= 0);
	for (i = 0; i < K.s.n[cls]; i += n) {
		n = K.s.n[cls] - i < DUMP_ELEMS ? K.s.n[cls] - i : DUMP_ELEMS;
		answer_elems(s, nlh->nlmsg_seq, NLM_F_MULTI, cls,
		    &K.s.e[cls][i], n);
	}
	nlb_reset(&D);
	nlb_done(&D, nlh->nlmsg_seq, NLM_F_MULTI);
	q_push(s);
}

/* a get: the element, or an error */
static void
k_get(struct fsock *s, const struct nlmsghdr *nlh)
{
	struct kop	 op;

	assert_int_equal(nlh->nlmsg_type, NLB_NFT(NFT_MSG_GETSETELEM));
	if (nlh->nlmsg_flags & NLM_F_DUMP) {
		k_dump(s, nlh);
		return;
	}
	K.gets++;
	memset(&op, 0, sizeof(op));
	op.type = NFT_MSG_GETSETELEM;
	if ((op.cls = msg_class(nlh)) == -1) {
		answer_err(s, nlh, ENOENT);
		return;
	}
	each_elem(nlh, &op);
	assert_int_equal(op.n, 1);
	if (K.fail_type == NFT_MSG_GETSETELEM) {
		K.fail_type = 0;
		answer_err(s, nlh, K.fail_err);
	} else if (op.err != 0 || op.found == NULL)
		answer_err(s, nlh, op.err != 0 ? op.err : ENOENT);
	else
		answer_elems(s, nlh->nlmsg_seq, 0, op.cls, op.found, 1);
}

/* ---- the wrapped calls ----------------------------------------------------- */

struct mnl_socket	*__wrap_mnl_socket_open(int);
int			 __wrap_mnl_socket_bind(struct mnl_socket *,
			    unsigned int, pid_t);
int			 __wrap_mnl_socket_get_fd(const struct mnl_socket *);
int			 __wrap_mnl_socket_close(struct mnl_socket *);
ssize_t			 __wrap_mnl_socket_sendto(const struct mnl_socket *,
			    const void *, size_t);
ssize_t			 __wrap_mnl_socket_recvfrom(const struct mnl_socket *,
			    void *, size_t);
int			 __wrap_setsockopt(int, int, int, const void *,
			    socklen_t);
struct nft_ctx		*__wrap_nft_ctx_new(uint32_t);
void			 __wrap_nft_ctx_free(struct nft_ctx *);
int			 __wrap_nft_ctx_buffer_output(struct nft_ctx *);
int			 __wrap_nft_ctx_buffer_error(struct nft_ctx *);
const char		*__wrap_nft_ctx_get_error_buffer(struct nft_ctx *);
int			 __wrap_nft_run_cmd_from_buffer(struct nft_ctx *,
			    const char *);

static struct fsock *
fsock(int fd)
{
	assert_true(fd >= FD_BASE && fd < FD_BASE + NSOCK);
	assert_true(K.sock[fd - FD_BASE].open);
	return (&K.sock[fd - FD_BASE]);
}

struct mnl_socket *
__wrap_mnl_socket_open(int bus)
{
	struct mnl_socket	*nl;
	int			 i;

	assert_int_equal(bus, NETLINK_NETFILTER);
	if (K.fail_open) {
		errno = ENOBUFS;
		return (NULL);
	}
	for (i = 0; i < NSOCK && K.sock[i].open; i++)
		;
	assert_true(i < NSOCK);
	assert_non_null(nl = malloc(sizeof(*nl)));
	nl->fd = FD_BASE + i;
	memset(&K.sock[i], 0, sizeof(K.sock[i]));
	K.sock[i].open = 1;
	K.cur = i;
	K.opens++;
	return (nl);
}

int
__wrap_mnl_socket_bind(struct mnl_socket *nl, unsigned int groups,
    pid_t pid)
{
	assert_int_equal(groups, 0);
	assert_int_equal(pid, MNL_SOCKET_AUTOPID);
	fsock(nl->fd)->bound = 1;
	return (0);
}

int
__wrap_mnl_socket_get_fd(const struct mnl_socket *nl)
{
	return (nl->fd);
}

int
__wrap_setsockopt(int fd, int level, int name, const void *val,
    socklen_t len)
{
	const struct timeval	*tv = val;

	/* a kernel that never answers must not hang the thread */
	assert_int_equal(level, SOL_SOCKET);
	assert_int_equal(name, SO_RCVTIMEO);
	assert_int_equal(len, sizeof(*tv));
	assert_true(tv->tv_sec > 0 && tv->tv_sec <= 30);
	fsock(fd)->timeo = 1;
	return (0);
}

int
__wrap_mnl_socket_close(struct mnl_socket *nl)
{
	struct fsock	*s = fsock(nl->fd);

	free(s->q);
	memset(s, 0, sizeof(*s));
	free(nl);
	K.closes++;
	return (0);
}

ssize_t
__wrap_mnl_socket_sendto(const struct mnl_socket *nl, const void *buf,
    size_t len)
{
	struct fsock		*s = fsock(nl->fd);
	const struct nlmsghdr	*nlh = buf;
	size_t			 off = 0, before = s->qlen;

	assert_true(s->bound && s->timeo);
	K.sends++;
	K.garbling = K.garble;
	K.garble = G_NONE;
	assert_true(len >= NLMSG_HDRLEN);
	if (nlh->nlmsg_type == NFNL_MSG_BATCH_BEGIN)
		k_batch(s, buf, len);
	else
		while ((nlh = next_req(buf, len, &off)) != NULL)
			k_get(s, nlh);
	if (K.garbling == G_SILENT)
		s->qlen = before;
	K.garbling = G_NONE;
	return ((ssize_t)len);
}

ssize_t
__wrap_mnl_socket_recvfrom(const struct mnl_socket *nl, void *buf,
    size_t len)
{
	struct fsock	*s = fsock(nl->fd);
	uint32_t	 l;

	if (s->qoff == s->qlen) {
		errno = EAGAIN;		/* SO_RCVTIMEO ran out */
		return (-1);
	}
	memcpy(&l, s->q + s->qoff, 4);
	assert_true(l <= len);
	memcpy(buf, s->q + s->qoff + 4, l);
	s->qoff += 4 + NLMSG_ALIGN(l);
	if (s->qoff == s->qlen)
		s->qoff = s->qlen = 0;
	return ((ssize_t)l);
}

struct nft_ctx *
__wrap_nft_ctx_new(uint32_t flags)
{
	struct nft_ctx	*ctx;

	assert_int_equal(flags, NFT_CTX_DEFAULT);
	assert_non_null(ctx = calloc(1, sizeof(*ctx)));
	return (ctx);
}

void
__wrap_nft_ctx_free(struct nft_ctx *ctx)
{
	free(ctx);
}

int
__wrap_nft_ctx_buffer_output(struct nft_ctx *ctx)
{
	ctx->out = 1;
	return (0);
}

int
__wrap_nft_ctx_buffer_error(struct nft_ctx *ctx)
{
	ctx->err = 1;
	return (0);
}

const char *
__wrap_nft_ctx_get_error_buffer(struct nft_ctx *ctx)
{
	return (ctx->errbuf);
}

/* the table made (the whole ruleset, the old copy replaced) or deleted */
int
__wrap_nft_run_cmd_from_buffer(struct nft_ctx *ctx, const char *text)
{
	static const char make[] = "table inet " TABLE "\ndelete table inet "
	    TABLE "\ntable inet " TABLE " {\n";

	/* nothing printed on the daemon's stdout or stderr */
	assert_true(ctx->out && ctx->err);
	K.nft_runs++;
	if (K.nft_err != NULL) {
		ctx->errbuf = K.nft_err;
		K.nft_err = NULL;
		return (-1);
	}
	if (strncmp(text, make, strlen(make)) == 0) {
		memset(K.s.n, 0, sizeof(K.s.n));
		K.s.table = 1;
		K.s.nch = 1;
		memset(&K.s.ch[0], 0, sizeof(K.s.ch[0]));
		snprintf(K.s.ch[0].name, sizeof(K.s.ch[0].name), "nomark");
		K.s.ch[0].rules = 1;
		return (0);
	}
	assert_string_equal(text, "delete table inet " TABLE "\n");
	assert_true(K.s.table);
	K.s.table = 0;
	memset(K.s.n, 0, sizeof(K.s.n));
	K.s.nch = 0;
	return (0);
}

/* ---- the tests' helpers -------------------------------------------------- */

static int
setup(void **state)
{
	(void)state;
	memset(&K, 0, sizeof(K));
	return (0);
}

static struct fastpath *
open_fp(const struct fp_params *p)
{
	struct fastpath	*fp;

	K.timeout_ms[0] = K.timeout_ms[2] = 1000 * (uint64_t)p->tcp_timeout_s;
	K.timeout_ms[1] = K.timeout_ms[3] = 1000 * (uint64_t)p->udp_timeout_s;
	assert_non_null(fp = fastpath_open(p));
	return (fp);
}

/* fastpath_add(), its answers in IN[] */
static uint8_t	 IN[1024];

static int
add(struct fastpath *fp, const struct fp_conn *c, size_t n)
{
	assert_true(n <= sizeof(IN));
	return (fastpath_add(fp, c, n, IN));
}

/* every answer read: the socket is in step for the next call */
static void
assert_drained(void)
{
	assert_true(K.sock[K.cur].open);
	assert_int_equal(K.sock[K.cur].qlen, 0);
}

/* connection n (< 60000) of a class, its ports telling it apart */
static struct fp_conn
conn(int family, uint8_t proto, unsigned n, uint32_t mark)
{
	struct fp_conn	 c;

	memset(&c, 0, sizeof(c));
	c.family = (uint8_t)family;
	c.proto = proto;
	if (family == AF_INET) {
		inet_pton(AF_INET, "10.0.0.1", c.src.a8);
		inet_pton(AF_INET, "10.0.0.2", c.dst.a8);
	} else {
		inet_pton(AF_INET6, "fd00::1", c.src.a8);
		inet_pton(AF_INET6, "fd00::2:1", c.dst.a8);
	}
	c.sport = (uint16_t)(1024 + n);
	c.dport = 80;
	c.mark = mark;
	return (c);
}

static int
class_of(const struct fp_conn *c)
{
	return ((c->family == AF_INET6 ? 2 : 0) +
	    (c->proto == IPPROTO_UDP ? 1 : 0));
}

/* the key of c's packets in one direction, as nft lays out saddr .
   sport . daddr . dport: each field from a 4-byte register */
static size_t
key_of(const struct fp_conn *c, int reply, uint8_t *k)
{
	size_t		 alen = c->family == AF_INET6 ? 16 : 4;
	const uint8_t	*a = reply ? c->dst.a8 : c->src.a8;
	const uint8_t	*b = reply ? c->src.a8 : c->dst.a8;
	uint16_t	 ap = reply ? c->dport : c->sport;
	uint16_t	 bp = reply ? c->sport : c->dport;

	memset(k, 0, FPMSG_KEYMAX);
	memcpy(k, a, alen);
	k[alen] = (uint8_t)(ap >> 8);
	k[alen + 1] = (uint8_t)ap;
	memcpy(k + alen + 4, b, alen);
	k[2 * alen + 4] = (uint8_t)(bp >> 8);
	k[2 * alen + 5] = (uint8_t)bp;
	return (2 * alen + 8);
}

/* c's element in one direction in the fake, or NULL */
static struct kelem *
kfind(const struct fp_conn *c, int reply)
{
	uint8_t	 k[FPMSG_KEYMAX];
	size_t	 len = key_of(c, reply, k);

	return (kfind_key(class_of(c), k, len));
}

static const char *
chain_of(uint32_t mark, char *buf)
{
	if (mark == 0)
		return ("nomark");
	snprintf(buf, FPMSG_CHAINMAX, "mark_0x%08x", mark);
	return (buf);
}

/* both directions in their map, with the goto of c's mark */
static void
assert_in(const struct fp_conn *c)
{
	struct kelem	*k;
	char		 buf[FPMSG_CHAINMAX];
	int		 dir;

	for (dir = FPMSG_ORIG; dir <= FPMSG_REPLY; dir++) {
		k = kfind(c, dir);
		assert_non_null(k);
		assert_string_equal(k->chain, chain_of(c->mark, buf));
		assert_int_equal(k->dir, dir);
	}
}

static void
assert_out(const struct fp_conn *c)
{
	assert_null(kfind(c, FPMSG_ORIG));
	assert_null(kfind(c, FPMSG_REPLY));
}

static size_t
kelems(void)
{
	return (K.s.n[0] + K.s.n[1] + K.s.n[2] + K.s.n[3]);
}

/* the mark's chain: made, one rule, that sets the mark and the bit */
static void
assert_chain(uint32_t mark)
{
	struct kchain	*ch;
	char		 buf[FPMSG_CHAINMAX];

	assert_non_null(ch = kchain(chain_of(mark, buf)));
	assert_int_equal(ch->rules, 1);
	assert_int_equal(ch->value, mark | FP_BYPASS_MARK);
}

/* ---- 1. open, add, del, flush, close ----------------------------------- */

static void
test_open_add_del(void **state)
{
	struct fastpath	*fp;
	struct fp_conn	 c[4], e, bad;
	struct kbatch	*bt;
	uint8_t		 k[FPMSG_KEYMAX];
	static const uint8_t want[FPMSG_KEY4] = {	/* c[0], reply */
		10, 0, 0, 2, 0, 80, 0, 0, 10, 0, 0, 1, 0x04, 0x00, 0, 0
	};
	unsigned	 nb;

	(void)state;
	fp = open_fp(&P);
	assert_true(K.s.table);
	assert_int_equal(K.nft_runs, 1);
	/* the probe: DESTROYSETELEM of a key never added, no error */
	assert_int_equal(K.nb, 1);
	assert_int_equal(K.b[0].msgs[FPMSG_DESTROYSETELEM], 1);
	assert_int_equal(K.b[0].err, 0);
	assert_int_equal(fastpath_destroys(fp), 1);
	c[0] = conn(AF_INET, IPPROTO_TCP, 0, 0);
	c[1] = conn(AF_INET, IPPROTO_UDP, 1, 0x10);
	c[2] = conn(AF_INET6, IPPROTO_TCP, 2, 0x10);
	c[3] = conn(AF_INET6, IPPROTO_UDP, 3, 0x20);
	assert_int_equal(add(fp, c, 4), 0);
	assert_drained();
	/* one transaction: two marks' chains first, then each class's
	   elements destroyed and added */
	assert_int_equal(K.nb, 2);
	bt = &K.b[1];
	assert_int_equal(bt->err, 0);
	assert_int_equal(bt->msgs[NFT_MSG_NEWCHAIN], 2);
	assert_int_equal(bt->msgs[NFT_MSG_DELRULE], 2);
	assert_int_equal(bt->msgs[NFT_MSG_NEWRULE], 2);
	assert_int_equal(bt->msgs[NFT_MSG_NEWSETELEM], 4);
	assert_int_equal(bt->elems[NFT_MSG_NEWSETELEM], 8);
	assert_int_equal(bt->elems[FPMSG_DESTROYSETELEM], 8);
	assert_int_equal(kelems(), 8);
	assert_int_equal(K.s.n[0], 2);
	assert_int_equal(K.s.n[3], 2);
	for (nb = 0; nb < 4; nb++)
		assert_in(&c[nb]);
	assert_int_equal(key_of(&c[0], FPMSG_REPLY, k), FPMSG_KEY4);
	assert_memory_equal(kfind(&c[0], FPMSG_REPLY)->key, want,
	    sizeof(want));
	assert_int_equal(K.s.nch, 3);
	assert_chain(0x10);
	assert_chain(0x20);

	/* a mark's next connection finds its chain made */
	e = conn(AF_INET, IPPROTO_TCP, 5, 0x10);
	assert_int_equal(add(fp, &e, 1), 0);
	assert_int_equal(K.b[K.nb - 1].msgs[NFT_MSG_NEWCHAIN], 0);
	assert_in(&e);
	assert_int_equal(K.s.nch, 3);

	/* added again: a new element, its counter from 0 */
	kfind(&c[0], FPMSG_ORIG)->pkts = 9;
	assert_int_equal(add(fp, &c[0], 1), 0);
	assert_int_equal(kfind(&c[0], FPMSG_ORIG)->pkts, 0);
	assert_int_equal(kelems(), 10);

	/* refused before anything is sent */
	nb = K.nb;
	bad = c[1];
	bad.mark = FP_BYPASS_MARK | 1;
	assert_int_equal(add(fp, &bad, 1), -1);
	assert_int_equal(errno, EINVAL);
	bad = c[1];
	bad.proto = IPPROTO_ICMP;
	assert_int_equal(add(fp, &bad, 1), -1);
	assert_int_equal(errno, EINVAL);
	assert_int_equal(fastpath_del(fp, &bad, 1), -1);
	assert_int_equal(errno, EINVAL);
	assert_int_equal(K.nb, nb);

	/* out, both directions; out again is no error */
	assert_int_equal(fastpath_del(fp, &c[1], 1), 0);
	assert_out(&c[1]);
	assert_in(&c[2]);
	assert_int_equal(kelems(), 8);
	assert_int_equal(K.b[K.nb - 1].msgs[NFT_MSG_DELSETELEM], 0);
	assert_int_equal(fastpath_del(fp, &c[1], 1), 0);
	assert_int_equal(K.b[K.nb - 1].elems[FPMSG_DESTROYSETELEM], 2);
	assert_drained();

	/* a flush empties every map, then the marks' chains go */
	nb = K.nb;
	assert_int_equal(fastpath_flush(fp), 0);
	assert_drained();
	assert_int_equal(K.nb - nb, 2);
	assert_int_equal(K.b[nb].msgs[NFT_MSG_DELSETELEM], 4);
	assert_int_equal(K.b[nb].elems[NFT_MSG_DELSETELEM], 0);
	assert_int_equal(K.b[nb + 1].msgs[NFT_MSG_DELCHAIN], 2);
	assert_int_equal(K.b[nb + 1].err, 0);
	assert_int_equal(kelems(), 0);
	assert_int_equal(K.s.nch, 1);
	assert_non_null(kchain("nomark"));
	/* and come back with their mark's next connection */
	assert_int_equal(add(fp, &c[2], 1), 0);
	assert_int_equal(K.b[K.nb - 1].msgs[NFT_MSG_NEWCHAIN], 1);
	assert_in(&c[2]);
	assert_chain(0x10);
	assert_drained();

	fastpath_close(fp);
	assert_false(K.s.table);
	assert_int_equal(K.nft_runs, 2);
	assert_int_equal(K.opens, 1);
	assert_int_equal(K.closes, 1);
}

/* open fails whole: bad parameters, a kernel that says no */
static void
test_open_fails(void **state)
{
	struct fp_params p = P;

	(void)state;
	p.tcp_timeout_s = 0;
	assert_null(fastpath_open(&p));
	assert_int_equal(errno, EINVAL);
	assert_int_equal(K.opens, 0);
	K.nft_err = "Error: Could not process rule: Operation not permitted\n";
	assert_null(fastpath_open(&P));
	assert_int_equal(errno, EPERM);
	K.nft_err = "Error: syntax error, unexpected junk\n";
	assert_null(fastpath_open(&P));
	assert_int_equal(errno, EINVAL);
	assert_int_equal(K.opens, K.closes);
	fastpath_close(NULL);
}

/* maps for FP_MAX_CONNS connections at most, at open and at a grow:
   what fpq_maps_max() gives at most (test_fpq test_maps_max) */
static void
test_open_max(void **state)
{
	struct fp_params p = P;
	struct fastpath	*fp;

	(void)state;
	p.max = FP_MAX_CONNS + 1;
	assert_null(fastpath_open(&p));
	assert_int_equal(errno, EINVAL);
	p.max = 0;
	assert_null(fastpath_open(&p));
	assert_int_equal(errno, EINVAL);
	assert_int_equal(K.nft_runs, 0);
	p.max = FP_MAX_CONNS;
	assert_non_null(fp = fastpath_open(&p));
	/* no more than now, or past the cap: nothing is made */
	assert_int_equal(fastpath_grow(fp, FP_MAX_CONNS + 1), -1);
	assert_int_equal(errno, EINVAL);
	assert_int_equal(fastpath_grow(fp, FP_MAX_CONNS), -1);
	assert_int_equal(errno, EINVAL);
	assert_int_equal(K.nft_runs, 1);
	fastpath_close(fp);

	p.max = 8;
	assert_non_null(fp = fastpath_open(&p));
	assert_int_equal(fastpath_grow(fp, FP_MAX_CONNS + 1), -1);
	assert_int_equal(errno, EINVAL);
	assert_int_equal(fastpath_grow(fp, 8), -1);
	assert_int_equal(errno, EINVAL);
	assert_int_equal(K.nft_runs, 3);
	/* up to the cap: made anew */
	assert_int_equal(fastpath_grow(fp, FP_MAX_CONNS), 0);
	assert_int_equal(K.nft_runs, 4);
	assert_true(K.s.table);
	fastpath_close(fp);
	assert_int_equal(K.opens, K.closes);
}

/* ---- 2. new marks: 32 chains a transaction ------------------------------- */

static void
test_marks_split(void **state)
{
	struct fastpath	*fp;
	struct fp_conn	 c[300];
	unsigned	 i, nb, chains = 0, elems = 0;

	(void)state;
	fp = open_fp(&P);
	/* 70 new marks, then 10 connections of marks seen before in the
	   call, 10 without */
	for (i = 0; i < 90; i++)
		c[i] = conn(i & 1 ? AF_INET6 : AF_INET, IPPROTO_TCP, i,
		    i < 70 ? 0x100 + i : i < 80 ? 0x100 + (i - 70) : 0);
	nb = K.nb;
	assert_int_equal(add(fp, c, 90), 0);
	assert_drained();
	assert_int_equal(K.nb - nb, 3);
	for (i = nb; i < K.nb; i++) {
		assert_int_equal(K.b[i].err, 0);
		assert_true(K.b[i].msgs[NFT_MSG_NEWCHAIN] <= 32);
		assert_int_equal(K.b[i].msgs[NFT_MSG_DELRULE],
		    K.b[i].msgs[NFT_MSG_NEWCHAIN]);
		assert_int_equal(K.b[i].msgs[NFT_MSG_NEWRULE],
		    K.b[i].msgs[NFT_MSG_NEWCHAIN]);
		chains += K.b[i].msgs[NFT_MSG_NEWCHAIN];
		elems += K.b[i].elems[NFT_MSG_NEWSETELEM];
	}
	assert_int_equal(K.b[nb].msgs[NFT_MSG_NEWCHAIN], 32);
	assert_int_equal(K.b[nb + 1].msgs[NFT_MSG_NEWCHAIN], 32);
	assert_int_equal(chains, 70);
	assert_int_equal(elems, 2 * 90);	/* each in one transaction */
	assert_int_equal(K.s.nch, 71);
	for (i = 0; i < 90; i++) {
		assert_in(&c[i]);
		if (i < 70)
			assert_chain(c[i].mark);
	}

	/* without marks: 128 connections a transaction */
	for (i = 0; i < 300; i++)
		c[i] = conn(AF_INET, IPPROTO_UDP, i, 0);
	nb = K.nb;
	assert_int_equal(add(fp, c, 300), 0);
	assert_int_equal(K.nb - nb, 3);
	assert_int_equal(K.b[nb].elems[NFT_MSG_NEWSETELEM], 2 * 128);
	assert_int_equal(K.b[nb + 1].elems[NFT_MSG_NEWSETELEM], 2 * 128);
	assert_int_equal(K.b[nb + 2].elems[NFT_MSG_NEWSETELEM], 2 * 44);
	assert_int_equal(K.s.n[1], 600);
	assert_drained();
	fastpath_close(fp);
}

/* ---- 3. FP_MARKS: 4096 chains at most ---------------------------------- */

static struct fp_conn
conn_any(unsigned n, uint32_t mark)
{
	return (conn(n & 2 ? AF_INET6 : AF_INET, n & 1 ? IPPROTO_UDP :
	    IPPROTO_TCP, n, mark));
}

static void
test_marks_cap(void **state)
{
	struct fastpath	*fp;
	struct fp_conn	 c[512], x[200];
	unsigned	 i, j, nb;

	(void)state;
	fp = open_fp(&P);
	/* 4096 connections, each with a mark of its own */
	for (j = 0; j < 8; j++) {
		for (i = 0; i < 512; i++)
			c[i] = conn_any(512 * j + i, 1 + 512 * j + i);
		assert_int_equal(add(fp, c, 512), 0);
	}
	assert_int_equal(K.s.nch, 1 + 4096);
	assert_int_equal(kelems(), 2 * 4096);
	for (i = 0; i < K.nb; i++)
		assert_int_equal(K.b[i].err, 0);

	/* the connection with a new mark stays out, before anything is
	   sent; the others go, 128 a transaction */
	for (i = 0; i < 200; i++)
		x[i] = conn(AF_INET6, IPPROTO_UDP, 5000 + i, i == 150 ? 5000 :
		    i % 3 == 0 ? 1 + i : 0);
	nb = K.nb;
	assert_int_equal(add(fp, x, 200), 0);
	assert_int_equal(K.nb, nb + 2);
	for (i = 0; i < 200; i++) {
		assert_int_equal(IN[i], i != 150 ? FP_ADD_IN : FP_ADD_NOROOM);
		if (i != 150)
			assert_in(&x[i]);
		else
			assert_out(&x[i]);
	}
	assert_int_equal(K.s.nch, 1 + 4096);
	assert_null(kchain("mark_0x00001388"));

	/* marks with a chain still go */
	x[150].mark = 4096;
	assert_int_equal(add(fp, x + 128, 72), 0);
	assert_int_equal(IN[150 - 128], FP_ADD_IN);
	assert_in(&x[150]);
	assert_int_equal(K.b[K.nb - 1].msgs[NFT_MSG_NEWCHAIN], 0);
	assert_drained();

	/* a transaction the kernel fails: its connections are out, to be
	   tried again; those after it, and the one it passed over for want
	   of room for its mark (that is only sure of a transaction
	   applied), were never sent; tried again, that one is told so, and
	   the rest go in */
	for (i = 0; i < 200; i++)
		x[i] = conn(AF_INET, IPPROTO_TCP, 7000 + i, i == 10 ? 6000 : 0);
	K.fail_type = NFT_MSG_NEWSETELEM;
	K.fail_err = ENOBUFS;
	nb = K.nb;
	assert_int_equal(add(fp, x, 200), -1);
	assert_int_equal(errno, ENOBUFS);
	assert_int_equal(K.nb, nb + 1);
	for (i = 0; i < 200; i++) {
		/* the first 128 but 10, and 128 itself */
		assert_int_equal(IN[i], i != 10 && i <= 128 ? FP_ADD_OUT :
		    FP_ADD_UNSENT);
		assert_out(&x[i]);
	}
	assert_drained();
	assert_int_equal(add(fp, x, 200), 0);
	for (i = 0; i < 200; i++) {
		assert_int_equal(IN[i], i != 10 ? FP_ADD_IN : FP_ADD_NOROOM);
		if (i != 10)
			assert_in(&x[i]);
		else
			assert_out(&x[i]);
	}
	assert_null(kchain("mark_0x00001770"));
	assert_drained();

	/* a flush takes the 4096 chains out, 32 a transaction, and
	   makes room */
	nb = K.nb;
	assert_int_equal(fastpath_flush(fp), 0);
	assert_drained();
	assert_int_equal(K.nb - nb, 1 + 4096 / 32);
	for (i = nb + 1; i < K.nb; i++) {
		assert_int_equal(K.b[i].msgs[NFT_MSG_DELCHAIN], 32);
		assert_int_equal(K.b[i].err, 0);
	}
	assert_int_equal(K.s.nch, 1);
	x[150].mark = 5000;
	assert_int_equal(add(fp, &x[150], 1), 0);
	assert_in(&x[150]);
	assert_chain(5000);
	fastpath_close(fp);
}

/* ---- 4. before Linux 6.3: no DESTROYSETELEM ---------------------------- */

static void
test_old_kernel(void **state)
{
	struct fastpath	*fp;
	struct fp_conn	 c[3];
	unsigned	 i, nb;

	(void)state;
	K.old = 1;
	fp = open_fp(&P);
	assert_int_equal(K.b[0].err, EINVAL);	/* the probe */
	assert_int_equal(fastpath_destroys(fp), 0);
	c[0] = conn(AF_INET, IPPROTO_TCP, 0, 0);
	c[1] = conn(AF_INET6, IPPROTO_UDP, 1, 0x10);
	c[2] = conn(AF_INET, IPPROTO_TCP, 2, 0x10);
	assert_int_equal(add(fp, c, 3), 0);
	assert_int_equal(K.b[K.nb - 1].msgs[FPMSG_DESTROYSETELEM], 0);
	for (i = 0; i < 3; i++)
		assert_in(&c[i]);
	/* added again: kept as it is, no error */
	kfind(&c[0], FPMSG_ORIG)->pkts = 9;
	assert_int_equal(add(fp, c, 1), 0);
	assert_int_equal(kfind(&c[0], FPMSG_ORIG)->pkts, 9);

	/* c[1]'s reply element timed out: the batch fails, then each
	   element goes on its own, and ENOENT is no error */
	kremove(3, kfind(&c[1], FPMSG_REPLY));
	nb = K.nb;
	assert_int_equal(fastpath_del(fp, c, 3), 0);
	assert_drained();
	assert_int_equal(kelems(), 0);
	assert_int_equal(K.nb - nb, 1 + 6);
	assert_int_equal(K.b[nb].err, ENOENT);
	assert_int_equal(K.b[nb].msgs[FPMSG_DESTROYSETELEM], 0);
	for (i = nb + 1; i < K.nb; i++) {
		assert_int_equal(K.b[i].msgs[NFT_MSG_DELSETELEM], 1);
		assert_int_equal(K.b[i].elems[NFT_MSG_DELSETELEM], 1);
		assert_int_equal(K.b[i].err, i == nb + 4 ? ENOENT : 0);
	}
	/* all gone already */
	assert_int_equal(fastpath_del(fp, c, 3), 0);
	assert_drained();

	/* another error is one */
	assert_int_equal(add(fp, c, 1), 0);
	K.fail_type = NFT_MSG_DELSETELEM;
	K.fail_err = EIO;
	assert_int_equal(fastpath_del(fp, c, 1), -1);
	assert_int_equal(errno, EIO);
	assert_in(&c[0]);
	assert_drained();
	fastpath_close(fp);
}

/* ---- 5. counters, renewals, strays ---------------------------------------- */

struct seen {
	const struct fp_conn	*c;		/* the connections we know */
	size_t			 n;
	struct fp_counts	 k[600];
	unsigned		 calls[600];
	size_t			 stray;		/* its index: cb says -1 */
	unsigned		 other;		/* calls for no known one */
};

static int
same_tuple(const struct fp_conn *a, const struct fp_conn *b)
{
	return (a->family == b->family && a->proto == b->proto &&
	    a->sport == b->sport && a->dport == b->dport &&
	    memcmp(&a->src, &b->src, sizeof(a->src)) == 0 &&
	    memcmp(&a->dst, &b->dst, sizeof(a->dst)) == 0);
}

static int
seen_cb(const struct fp_conn *c, const struct fp_counts *n, void *arg)
{
	struct seen	*s = arg;
	size_t		 i;

	assert_int_equal(c->mark, 0);
	for (i = 0; i < s->n; i++)
		if (same_tuple(c, &s->c[i])) {
			s->k[i] = *n;
			s->calls[i]++;
			return (i == s->stray ? -1 : 0);
		}
	s->other++;
	return (-1);
}

static void
set_elem(const struct fp_conn *c, int reply, uint64_t pkts, uint64_t bytes,
    uint64_t expires_ms)
{
	struct kelem	*k = kfind(c, reply);

	assert_non_null(k);
	k->pkts = pkts;
	k->bytes = bytes;
	k->expires_ms = expires_ms;
}

static void
test_counters(void **state)
{
	struct fastpath	*fp;
	struct fp_conn	 c[5], hand, hand2;
	struct seen	 s;
	struct kelem	*k;
	char		 buf[FPMSG_CHAINMAX];
	size_t		 i;

	(void)state;
	fp = open_fp(&P);		/* tcp 3600 s, udp 120 s */
	c[0] = conn(AF_INET, IPPROTO_TCP, 0, 0);
	c[1] = conn(AF_INET, IPPROTO_UDP, 1, 0x10);
	c[2] = conn(AF_INET6, IPPROTO_TCP, 2, 0x20);
	c[3] = conn(AF_INET6, IPPROTO_UDP, 3, 0);
	c[4] = conn(AF_INET, IPPROTO_UDP, 4, 0);	/* the stray */
	assert_int_equal(add(fp, c, 5), 0);
	/* over half its time left: kept; under: renewed; under a second:
	   let go */
	set_elem(&c[0], 0, 10, 1000, 3000000);
	set_elem(&c[0], 1, 5, 500, 1000000);		/* renewed */
	set_elem(&c[1], 0, 11, 2000, 50000);		/* renewed */
	set_elem(&c[1], 1, 5, 500, 500);
	set_elem(&c[2], 0, 12, 3000, 2000000);
	set_elem(&c[2], 1, 5, 500, 2500000);
	set_elem(&c[3], 0, 13, 4000, 30000);		/* renewed */
	set_elem(&c[3], 1, 5, 500, 30000);		/* renewed */
	set_elem(&c[4], 0, 1, 100, 100000);
	set_elem(&c[4], 1, 1, 100, 100000);
	/* one the book never had, put in by hand */
	hand = conn(AF_INET6, IPPROTO_TCP, 9, 0);
	k = &K.s.e[2][K.s.n[2]++];
	memset(k, 0, sizeof(*k));
	k->keylen = key_of(&hand, FPMSG_ORIG, k->key);
	snprintf(k->chain, sizeof(k->chain), "nomark");
	k->expires_ms = 3000000;
	/* and one with a verdict we never put (": accept"): the dump goes
	   on, and it is a stray like the other */
	hand2 = conn(AF_INET6, IPPROTO_TCP, 10, 0);
	k = &K.s.e[2][K.s.n[2]++];
	memset(k, 0, sizeof(*k));
	k->keylen = key_of(&hand2, FPMSG_ORIG, k->key);
	k->expires_ms = 3000000;

	memset(&s, 0, sizeof(s));
	s.c = c;
	s.n = 5;
	s.stray = 4;
	assert_int_equal(fastpath_counters(fp, seen_cb, &s), 0);
	assert_drained();
	assert_int_equal(K.dumps, 4);
	for (i = 0; i < 5; i++) {
		assert_int_equal(s.calls[i], 1);
		assert_int_equal(s.k[i].pkts, i == 4 ? 2 : 15 + i);
		assert_int_equal(s.k[i].bytes, i == 4 ? 200 :
		    1000 * (i + 1) + 500);
	}
	assert_int_equal(s.other, 2);
	/* the later direction's time */
	assert_int_equal(s.k[0].expires_ms, 3000000);
	assert_int_equal(s.k[1].expires_ms, 50000);
	assert_int_equal(s.k[2].expires_ms, 2500000);

	/* renewed to the map's timeout, with the verdict they had */
	assert_int_equal(K.renewals, 4);
	assert_int_equal(kfind(&c[0], 0)->expires_ms, 3000000);
	assert_int_equal(kfind(&c[0], 1)->expires_ms, 3600000);
	assert_int_equal(kfind(&c[1], 0)->expires_ms, 120000);
	assert_int_equal(kfind(&c[1], 1)->expires_ms, 500);
	assert_int_equal(kfind(&c[3], 0)->expires_ms, 120000);
	assert_int_equal(kfind(&c[3], 1)->expires_ms, 120000);
	for (i = 0; i < 4; i++)
		assert_in(&c[i]);
	assert_string_equal(kfind(&c[1], 0)->chain, chain_of(0x10, buf));
	/* counted, not reset */
	assert_int_equal(kfind(&c[1], 0)->pkts, 11);

	/* the strays are out, the rest in */
	assert_out(&c[4]);
	assert_out(&hand);
	assert_out(&hand2);
	assert_int_equal(kelems(), 8);

	/* an element without its counter is no answer: -1, the socket
	   still in step */
	K.no_counter = 1;
	assert_int_equal(fastpath_counters(fp, seen_cb, &s), -1);
	assert_int_equal(errno, EPROTO);
	assert_int_equal(K.opens, 1);
	assert_drained();
	K.no_counter = 0;
	assert_int_equal(fastpath_counters(fp, seen_cb, &s), 0);
	fastpath_close(fp);
}

/* more renewals than one batch takes, IPv6 with marks: the longest */
static void
test_counters_many(void **state)
{
	struct fastpath	*fp;
	struct fp_params p = P;
	struct fp_conn	 c[600];
	struct seen	 s;
	size_t		 i;
	unsigned	 nb;

	(void)state;
	p.max = 600;
	fp = open_fp(&p);
	for (i = 0; i < 600; i++)
		c[i] = conn(AF_INET6, IPPROTO_UDP, (unsigned)i,
		    0x7ffffff0u + (i & 7));
	assert_int_equal(add(fp, c, 600), 0);
	for (i = 0; i < K.s.n[3]; i++)
		K.s.e[3][i].expires_ms = 10000;
	memset(&s, 0, sizeof(s));
	s.c = c;
	s.n = 600;
	s.stray = SIZE_MAX;
	nb = K.nb;
	assert_int_equal(fastpath_counters(fp, seen_cb, &s), 0);
	assert_drained();
	assert_int_equal(s.other, 0);
	assert_int_equal(K.renewals, 1200);
	assert_true(K.nb - nb >= 3);
	for (i = nb; i < K.nb; i++)
		assert_int_equal(K.b[i].err, 0);
	for (i = 0; i < 600; i++) {
		assert_in(&c[i]);
		assert_int_equal(kfind(&c[i], 1)->expires_ms, 120000);
	}
	fastpath_close(fp);
}

/* ---- 6. one connection's counts ----------------------------------------- */

static void
test_get(void **state)
{
	struct fastpath	*fp;
	struct fp_conn	 c[40];
	struct fp_counts k[40];
	unsigned	 i, gets, sends;

	(void)state;
	fp = open_fp(&P);
	c[0] = conn(AF_INET, IPPROTO_TCP, 0, 0);
	c[1] = conn(AF_INET6, IPPROTO_UDP, 1, 0x10);	/* never in */
	c[2] = conn(AF_INET6, IPPROTO_TCP, 2, 0x10);
	assert_int_equal(add(fp, c, 1), 0);
	assert_int_equal(add(fp, &c[2], 1), 0);
	set_elem(&c[0], 0, 3, 300, 1000);
	set_elem(&c[0], 1, 4, 400, 1000);
	set_elem(&c[2], 0, 7, 700, 1000);
	kremove(2, kfind(&c[2], FPMSG_REPLY));		/* timed out */
	memset(k, 0xff, sizeof(k));
	gets = K.gets;
	sends = K.sends;
	assert_int_equal(fastpath_get(fp, c, 3, k), 0);
	assert_drained();
	assert_int_equal(K.gets - gets, 6);		/* both directions */
	assert_int_equal(K.sends - sends, 1);
	assert_int_equal(k[0].pkts, 7);
	assert_int_equal(k[0].bytes, 700);
	assert_int_equal(k[0].expires_ms, 0);
	assert_int_equal(k[1].pkts, 0);			/* ENOENT: 0 */
	assert_int_equal(k[1].bytes, 0);
	assert_int_equal(k[2].pkts, 7);
	assert_int_equal(k[2].bytes, 700);

	/* 40: more gets than one send asks */
	for (i = 0; i < 40; i++)
		c[i] = conn(AF_INET, IPPROTO_UDP, 100 + i, 0);
	assert_int_equal(add(fp, c, 40), 0);
	for (i = 0; i < 40; i++)
		set_elem(&c[i], (int)(i & 1), i, 10 * i, 1000);
	sends = K.sends;
	assert_int_equal(fastpath_get(fp, c, 40, k), 0);
	assert_drained();
	assert_true(K.sends - sends >= 2);
	for (i = 0; i < 40; i++) {
		assert_int_equal(k[i].pkts, i);
		assert_int_equal(k[i].bytes, 10 * i);
	}

	/* an error other than ENOENT is one; the rest is still read */
	K.fail_type = NFT_MSG_GETSETELEM;
	K.fail_err = EIO;
	assert_int_equal(fastpath_get(fp, c, 3, k), -1);
	assert_int_equal(errno, EIO);
	assert_drained();
	assert_int_equal(K.opens, 1);
	fastpath_close(fp);
}

/* ---- 7. malformed, short or missing answers ------------------------------- */

enum { OP_ADD, OP_DEL, OP_FLUSH, OP_COUNTERS, OP_GET };

static int
count_cb(const struct fp_conn *c, const struct fp_counts *n, void *arg)
{
	(void)c;
	(void)n;
	(*(unsigned *)arg)++;
	return (0);
}

static int
run_op(struct fastpath *fp, int op, const struct fp_conn *c, size_t n)
{
	struct fp_counts k[4];
	unsigned	 seen = 0;
	int		 rc = -1;

	switch (op) {
	case OP_ADD:
		rc = add(fp, c, n);
		break;
	case OP_DEL:
		rc = fastpath_del(fp, c, n);
		break;
	case OP_FLUSH:
		rc = fastpath_flush(fp);
		break;
	case OP_COUNTERS:
		rc = fastpath_counters(fp, count_cb, &seen);
		break;
	case OP_GET:
		rc = fastpath_get(fp, c, n, k);
		break;
	}
	return (rc);
}

static void
test_garbled(void **state)
{
	static const struct {
		int	 garble;
		int	 op;
		int	 err;
	} t[] = {
		{ G_SHORT, OP_ADD, EPROTO },
		{ G_EMPTY, OP_ADD, EPROTO },
		{ G_SEQ, OP_DEL, EPROTO },
		{ G_SILENT, OP_FLUSH, EAGAIN },
		{ G_SHORT, OP_COUNTERS, EPROTO },
		{ G_SEQ, OP_COUNTERS, EPROTO },
		{ G_EMPTY, OP_COUNTERS, EPROTO },
		{ G_SILENT, OP_COUNTERS, EAGAIN },
		{ G_SHORT, OP_GET, EPROTO },
		{ G_SEQ, OP_GET, EPROTO },
		{ G_SILENT, OP_GET, EAGAIN },
	};
	struct fastpath	*fp;
	struct fp_conn	 c[4];
	size_t		 i;
	unsigned	 opens;

	(void)state;
	fp = open_fp(&P);
	c[0] = conn(AF_INET, IPPROTO_TCP, 0, 0x10);
	c[1] = conn(AF_INET, IPPROTO_UDP, 1, 0);
	c[2] = conn(AF_INET6, IPPROTO_TCP, 2, 0x20);
	c[3] = conn(AF_INET6, IPPROTO_UDP, 3, 0);
	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		assert_int_equal(add(fp, c, 4), 0);
		opens = K.opens;
		K.garble = t[i].garble;
		errno = 0;
		assert_int_equal(run_op(fp, t[i].op, c, 4), -1);
		assert_int_equal(errno, t[i].err);
		/* what the kernel still says goes with the old socket */
		assert_int_equal(K.opens, opens + 1);
		assert_int_equal(K.opens, K.closes + 1);
		assert_drained();
		assert_int_equal(run_op(fp, t[i].op, c, 4), 0);
		assert_drained();
	}

	fastpath_close(fp);

	/* the DESTROYSETELEM probe's answer garbled: asked again, and
	   this kernel's DESTROY used, not the pre-6.3 way */
	K.garble = G_SHORT;
	fp = open_fp(&P);
	assert_int_equal(add(fp, c, 1), 0);
	assert_int_equal(fastpath_del(fp, c, 1), 0);
	assert_true(K.b[K.nb - 1].msgs[FPMSG_DESTROYSETELEM] > 0);
	assert_int_equal(K.b[K.nb - 1].msgs[NFT_MSG_DELSETELEM], 0);

	/* no new socket to be had: the old one stays, the next call
	   fails on what it still holds and starts one, the next works */
	K.fail_open = 1;
	K.garble = G_SHORT;
	assert_int_equal(run_op(fp, OP_ADD, c, 4), -1);
	assert_int_equal(errno, EPROTO);
	opens = K.opens;
	K.fail_open = 0;
	assert_int_equal(run_op(fp, OP_ADD, c, 4), -1);
	assert_int_equal(errno, EPROTO);
	assert_int_equal(K.opens, opens + 1);
	assert_int_equal(run_op(fp, OP_ADD, c, 4), 0);
	assert_drained();
	for (i = 0; i < 4; i++)
		assert_in(&c[i]);
	fastpath_close(fp);
	assert_int_equal(K.opens, K.closes);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_open_add_del, setup),
		cmocka_unit_test_setup(test_open_fails, setup),
		cmocka_unit_test_setup(test_open_max, setup),
		cmocka_unit_test_setup(test_marks_split, setup),
		cmocka_unit_test_setup(test_marks_cap, setup),
		cmocka_unit_test_setup(test_old_kernel, setup),
		cmocka_unit_test_setup(test_counters, setup),
		cmocka_unit_test_setup(test_counters_many, setup),
		cmocka_unit_test_setup(test_get, setup),
		cmocka_unit_test_setup(test_garbled, setup),
	};

	return (cmocka_run_group_tests(tests, NULL, NULL));
}
