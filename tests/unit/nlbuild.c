/*
 * nlbuild.c - netlink datagrams for the unit drivers (see nlbuild.h)
 *
 * Copyright (C) 2026 The nfqspid authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include <arpa/inet.h>
#include <linux/netlink.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nf_tables.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include <libmnl/libmnl.h>

#include "nlbuild.h"

#define COMMENT_TYPE	0	/* NFTNL_UDATA_SET_ELEM_COMMENT */
#define NEWER_TYPE	99	/* past NFTA_SET_ELEM_MAX of any kernel */

/* ---- building ------------------------------------------------------------ */

static struct nlmsghdr *
cur(struct nlb *d)
{
	return ((struct nlmsghdr *)(d->b + d->msg));
}

/* what the open message may grow to */
static size_t
room(const struct nlb *d)
{
	return (sizeof(d->b) - d->msg);
}

/* the datagram's length follows the open message's */
static void
grown(struct nlb *d)
{
	d->len = d->msg + cur(d)->nlmsg_len;
}

static void *
extra(struct nlb *d, size_t n)
{
	void	*p;

	assert_true(cur(d)->nlmsg_len + MNL_ALIGN(n) <= room(d));
	p = mnl_nlmsg_put_extra_header(cur(d), n);
	grown(d);
	return (p);
}

void
nlb_reset(struct nlb *d)
{
	d->len = 0;
	d->msg = 0;
	d->depth = 0;
}

struct nlmsghdr *
nlb_msg(struct nlb *d, uint16_t type, uint16_t flags, uint32_t seq)
{
	struct nlmsghdr	*nlh;

	assert_int_equal(d->depth, 0);
	assert_true(d->len + MNL_NLMSG_HDRLEN <= sizeof(d->b));
	d->msg = d->len;
	nlh = mnl_nlmsg_put_header(d->b + d->msg);
	nlh->nlmsg_type = type;
	nlh->nlmsg_flags = flags;
	nlh->nlmsg_seq = seq;
	grown(d);
	return (nlh);
}

struct nlmsghdr *
nlb_nfmsg(struct nlb *d, uint16_t type, uint16_t flags, uint32_t seq,
    uint8_t family, uint16_t res_id)
{
	struct nlmsghdr	*nlh = nlb_msg(d, type, flags, seq);
	struct nfgenmsg	*nfg = extra(d, sizeof(*nfg));

	nfg->nfgen_family = family;
	nfg->version = NFNETLINK_V0;
	nfg->res_id = htons(res_id);
	return (nlh);
}

/* libmnl 1.0.4 leaves the padding as it was: the kernel zeroes it */
void
nlb_attr(struct nlb *d, uint16_t type, const void *data, size_t n)
{
	struct nlattr	*a = mnl_nlmsg_get_payload_tail(cur(d));

	assert_true(mnl_attr_put_check(cur(d), room(d), type, n, data));
	memset((uint8_t *)mnl_attr_get_payload(a) + n, 0, MNL_ALIGN(n) - n);
	grown(d);
}

void
nlb_u32(struct nlb *d, uint16_t type, uint32_t v)
{
	v = htonl(v);
	nlb_attr(d, type, &v, sizeof(v));
}

void
nlb_be64(struct nlb *d, uint16_t type, uint64_t v)
{
	uint8_t	 b[8];
	int	 i;

	for (i = 7; i >= 0; i--, v >>= 8)
		b[i] = (uint8_t)v;
	nlb_attr(d, type, b, sizeof(b));
}

void
nlb_str(struct nlb *d, uint16_t type, const char *s)
{
	nlb_attr(d, type, s, strlen(s) + 1);
}

void
nlb_nest(struct nlb *d, uint16_t type)
{
	struct nlattr	*a;

	assert_true(d->depth < NLB_DEPTH);
	assert_non_null(a = mnl_attr_nest_start_check(cur(d), room(d), type));
	d->nest[d->depth++] = (size_t)((uint8_t *)a - d->b);
	grown(d);
}

void
nlb_unnest(struct nlb *d)
{
	assert_true(d->depth > 0);
	mnl_attr_nest_end(cur(d), (struct nlattr *)(d->b +
	    d->nest[--d->depth]));
}

void
nlb_err(struct nlb *d, uint32_t seq, int error, const struct nlmsghdr *req)
{
	struct nlmsgerr	*e;

	(void)nlb_msg(d, NLMSG_ERROR, req != NULL ? NLM_F_CAPPED : 0, seq);
	e = extra(d, sizeof(*e));
	e->error = error;
	if (req != NULL)
		e->msg = *req;
}

void
nlb_done(struct nlb *d, uint32_t seq, uint16_t flags)
{
	(void)nlb_msg(d, NLMSG_DONE, flags, seq);
	(void)extra(d, sizeof(int));
}

/* ---- nf_tables set elements ------------------------------------------------ */

void
nlb_elems(struct nlb *d, uint32_t seq, uint16_t flags, uint8_t family,
    const char *table, const char *set)
{
	(void)nlb_nfmsg(d, NLB_NFT(NFT_MSG_NEWSETELEM), flags, seq, family, 0);
	nlb_str(d, NFTA_SET_ELEM_LIST_TABLE, table);
	nlb_str(d, NFTA_SET_ELEM_LIST_SET, set);
	nlb_nest(d, NFTA_SET_ELEM_LIST_ELEMENTS);
}

static void
counter(struct nlb *d, const struct nlb_elem *e)
{
	nlb_str(d, NFTA_EXPR_NAME, "counter");
	nlb_nest(d, NFTA_EXPR_DATA);
	nlb_be64(d, NFTA_COUNTER_BYTES, e->bytes);
	nlb_be64(d, NFTA_COUNTER_PACKETS, e->pkts);
	nlb_unnest(d);
}

/* key, verdict, timers, counter, comment: the order nf_tables dumps */
void
nlb_elem(struct nlb *d, const struct nlb_elem *e)
{
	uint8_t	 ud[2 + UINT8_MAX];

	nlb_nest(d, NFTA_LIST_ELEM);
	nlb_nest(d, NFTA_SET_ELEM_KEY);
	nlb_attr(d, NFTA_DATA_VALUE, e->key, e->keylen);
	nlb_unnest(d);
	nlb_nest(d, NFTA_SET_ELEM_DATA);
	nlb_nest(d, NFTA_DATA_VERDICT);
	if (e->chain != NULL) {
		nlb_u32(d, NFTA_VERDICT_CODE, (uint32_t)NFT_GOTO);
		nlb_str(d, NFTA_VERDICT_CHAIN, e->chain);
	} else
		nlb_u32(d, NFTA_VERDICT_CODE, NF_ACCEPT);
	nlb_unnest(d);
	nlb_unnest(d);
	if (e->timeout_ms != 0)
		nlb_be64(d, NFTA_SET_ELEM_TIMEOUT, e->timeout_ms);
	nlb_be64(d, NFTA_SET_ELEM_EXPIRATION, e->expires_ms);
	if (e->counter == NLB_EXPRESSIONS) {
		nlb_nest(d, NFTA_SET_ELEM_EXPRESSIONS);
		nlb_nest(d, NFTA_LIST_ELEM);
		counter(d, e);
		nlb_unnest(d);
		nlb_unnest(d);
	} else if (e->counter == NLB_EXPR) {
		nlb_nest(d, NFTA_SET_ELEM_EXPR);
		counter(d, e);
		nlb_unnest(d);
	}
	if (e->comment != NULL) {
		assert_true(strlen(e->comment) < UINT8_MAX);
		ud[0] = COMMENT_TYPE;
		ud[1] = (uint8_t)(strlen(e->comment) + 1);
		memcpy(ud + 2, e->comment, ud[1]);
		nlb_attr(d, NFTA_SET_ELEM_USERDATA, ud, 2u + ud[1]);
	}
	if (e->newer)
		nlb_attr(d, NEWER_TYPE, "new", 3);
	nlb_unnest(d);
}

/* ---- reading ------------------------------------------------------------- */

const struct nlmsghdr *
nlb_next(const void *buf, size_t len, size_t *off)
{
	const struct nlmsghdr	*nlh;

	if (*off >= len)
		return (NULL);
	nlh = (const struct nlmsghdr *)((const uint8_t *)buf + *off);
	assert_true(mnl_nlmsg_ok(nlh, (int)(len - *off)));
	*off += MNL_ALIGN(nlh->nlmsg_len);
	return (nlh);
}

const struct nlattr *
nlb_find(const void *p, size_t len, uint16_t type)
{
	const struct nlattr	*a = p;
	int			 left = (int)len;

	while (left >= (int)MNL_ATTR_HDRLEN) {
		assert_true(mnl_attr_ok(a, left));
		if (mnl_attr_get_type(a) == type)
			return (a);
		left -= MNL_ALIGN(a->nla_len);
		a = mnl_attr_next(a);
	}
	return (NULL);
}

const struct nlattr *
nlb_msg_attr(const struct nlmsghdr *nlh, uint16_t type)
{
	size_t	 attrs = MNL_NLMSG_HDRLEN + MNL_ALIGN(sizeof(struct nfgenmsg));

	assert_true(nlh->nlmsg_len >= attrs);
	return (nlb_find((const uint8_t *)nlh + attrs, nlh->nlmsg_len - attrs,
	    type));
}

const struct nlattr *
nlb_nest_attr(const struct nlattr *a, uint16_t type)
{
	assert_non_null(a);
	return (nlb_find(mnl_attr_get_payload(a), mnl_attr_get_payload_len(a),
	    type));
}

const char *
nlb_attr_str(const struct nlattr *a)
{
	assert_non_null(a);
	assert_int_equal(mnl_attr_validate(a, MNL_TYPE_NUL_STRING), 0);
	return (mnl_attr_get_str(a));
}

size_t
nlb_types(const void *p, size_t len, uint16_t *types, size_t max)
{
	const struct nlattr	*a = p;
	int			 left = (int)len;
	size_t			 n = 0;

	while (left >= (int)MNL_ATTR_HDRLEN) {
		assert_true(mnl_attr_ok(a, left));
		assert_true(n < max);
		types[n++] = mnl_attr_get_type(a);
		left -= MNL_ALIGN(a->nla_len);
		a = mnl_attr_next(a);
	}
	assert_int_equal(left, 0);	/* nothing after the last one */
	return (n);
}

size_t
nlb_msg_types(const struct nlmsghdr *nlh, uint16_t *types, size_t max)
{
	size_t	 attrs = MNL_NLMSG_HDRLEN + MNL_ALIGN(sizeof(struct nfgenmsg));

	assert_true(nlh->nlmsg_len >= attrs);
	return (nlb_types((const uint8_t *)nlh + attrs, nlh->nlmsg_len - attrs,
	    types, max));
}

size_t
nlb_nest_types(const struct nlattr *a, uint16_t *types, size_t max)
{
	assert_non_null(a);
	assert_true(a->nla_type & NLA_F_NESTED);
	return (nlb_types(mnl_attr_get_payload(a), mnl_attr_get_payload_len(a),
	    types, max));
}

const struct nlattr *
nlb_nest_nth(const struct nlattr *a, uint16_t type, unsigned i)
{
	const struct nlattr	*b;
	size_t			 off;

	assert_non_null(a);
	assert_true(a->nla_type & NLA_F_NESTED);
	for (b = nlb_nest_attr(a, type); b != NULL && i > 0; i--) {
		off = (size_t)((const uint8_t *)mnl_attr_next(b) -
		    (const uint8_t *)mnl_attr_get_payload(a));
		if (off >= mnl_attr_get_payload_len(a))
			return (NULL);
		b = nlb_find(mnl_attr_next(b), mnl_attr_get_payload_len(a) -
		    off, type);
	}
	return (b);
}

uint32_t
nlb_attr_u32(const struct nlattr *a)
{
	assert_non_null(a);
	assert_int_equal(mnl_attr_validate(a, MNL_TYPE_U32), 0);
	return (mnl_attr_get_u32(a));
}

const void *
nlb_attr_data(const struct nlattr *a, size_t n)
{
	assert_non_null(a);
	assert_int_equal(mnl_attr_get_payload_len(a), n);
	return (mnl_attr_get_payload(a));
}
