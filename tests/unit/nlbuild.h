/*
 * nlbuild.h - netlink datagrams for the unit drivers: built with
 * libmnl's builders as the kernel writes them, read back with every
 * length asserted
 *
 * Copyright (C) 2026 The nfqspid authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * test_nqmsg, test_fpmsg and test_fastpath (its fake nf_tables kernel)
 * build their datagrams here.  A failed check is the test's failure
 * (cmocka), never an error to handle.
 */
#ifndef NFQSPI_NLBUILD_H
#define NFQSPI_NLBUILD_H

#include <stddef.h>
#include <stdint.h>

struct nlmsghdr;
struct nlattr;

/* an nf_tables message's type (nfnetlink.h, nf_tables.h) */
#define NLB_NFT(t)	((NFNL_SUBSYS_NFTABLES << 8) | (t))

#define NLB_MAX		65536
#define NLB_DEPTH	8

/* A datagram: messages one after another, the last one open for
   attributes.  Offsets, not pointers: a copy is the same datagram. */
struct nlb {
	uint8_t		 b[NLB_MAX] __attribute__((aligned(4)));
	size_t		 len;		/* bytes, the open message's too */
	size_t		 msg;		/* where the open message starts */
	size_t		 nest[NLB_DEPTH];
	int		 depth;
};

/* ---- building ------------------------------------------------------------ */

void	 nlb_reset(struct nlb *d);
/* Opens a message of a header alone. */
struct nlmsghdr *
	 nlb_msg(struct nlb *d, uint16_t type, uint16_t flags, uint32_t seq);
/* Opens an nfnetlink message: the header and its nfgenmsg (version 0,
   res_id given in host order). */
struct nlmsghdr *
	 nlb_nfmsg(struct nlb *d, uint16_t type, uint16_t flags, uint32_t seq,
	    uint8_t family, uint16_t res_id);
/* Attributes of the open message, inside the innermost open nest. */
void	 nlb_attr(struct nlb *d, uint16_t type, const void *data, size_t n);
void	 nlb_u32(struct nlb *d, uint16_t type, uint32_t v);	/* big endian */
void	 nlb_be64(struct nlb *d, uint16_t type, uint64_t v);
void	 nlb_str(struct nlb *d, uint16_t type, const char *s);	/* its NUL too */
void	 nlb_nest(struct nlb *d, uint16_t type);
void	 nlb_unnest(struct nlb *d);
/*
 * NLMSG_ERROR for seq: an ack (error 0) or -errno.  req: the request it
 * answers, its header echoed and the payload capped (NLM_F_CAPPED), as
 * the kernel writes it; NULL: no flags, a zeroed header.
 */
void	 nlb_err(struct nlb *d, uint32_t seq, int error,
	    const struct nlmsghdr *req);
/* NLMSG_DONE, ending a dump: its int, 0. */
void	 nlb_done(struct nlb *d, uint32_t seq, uint16_t flags);

/* ---- nf_tables set elements ------------------------------------------------ */

enum { NLB_NOCOUNTER, NLB_EXPR, NLB_EXPRESSIONS };

/* One element as the kernel dumps it. */
struct nlb_elem {
	const uint8_t	*key;
	size_t		 keylen;
	const char	*chain;		/* the verdict: goto it; NULL:
					   accept (no element of ours) */
	uint64_t	 timeout_ms;	/* 0: no NFTA_SET_ELEM_TIMEOUT */
	uint64_t	 expires_ms;
	int		 counter;	/* NLB_*: how the counter comes */
	uint64_t	 pkts;
	uint64_t	 bytes;
	const char	*comment;	/* the userdata's; NULL: none */
	int		 newer;		/* and an attribute of a newer kernel */
};

/* Opens an NFT_MSG_NEWSETELEM message of table's set and its element
   list: nlb_elem() each element, then nlb_unnest(). */
void	 nlb_elems(struct nlb *d, uint32_t seq, uint16_t flags, uint8_t family,
	    const char *table, const char *set);
void	 nlb_elem(struct nlb *d, const struct nlb_elem *e);

/* ---- reading ------------------------------------------------------------- */

/* The message at *off, moving *off past it; NULL at len.  Asserts that
   a whole header is there and its length fits. */
const struct nlmsghdr *
	 nlb_next(const void *buf, size_t len, size_t *off);
/* The first attribute of type (flags masked) in [p, p + len), or NULL,
   every length on the way asserted. */
const struct nlattr *
	 nlb_find(const void *p, size_t len, uint16_t type);
/* ... among an nfnetlink message's attributes, or a nest's */
const struct nlattr *
	 nlb_msg_attr(const struct nlmsghdr *nlh, uint16_t type);
const struct nlattr *
	 nlb_nest_attr(const struct nlattr *a, uint16_t type);
/* a string attribute's string: asserts a NUL ends it */
const char *
	 nlb_attr_str(const struct nlattr *a);
/* a 32-bit attribute's word as it lies there (ntohl() a big-endian
   one): asserts its length */
uint32_t nlb_attr_u32(const struct nlattr *a);
/* an attribute's payload: asserts it is n bytes */
const void *
	 nlb_attr_data(const struct nlattr *a, size_t n);
/* The i-th (0: the first) attribute of type in nest a (NLA_F_NESTED
   asserted), or NULL. */
const struct nlattr *
	 nlb_nest_nth(const struct nlattr *a, uint16_t type, unsigned i);
/*
 * The types (flags masked) of the attributes in [p, p + len) in order,
 * into types[0 .. max - 1]: how many there are.  Every length asserted,
 * and that they fill len exactly; so a test states a message's or a
 * nest's whole layout, nothing missing, nothing extra.
 */
size_t	 nlb_types(const void *p, size_t len, uint16_t *types, size_t max);
size_t	 nlb_msg_types(const struct nlmsghdr *nlh, uint16_t *types,
	    size_t max);
size_t	 nlb_nest_types(const struct nlattr *a, uint16_t *types, size_t max);

#endif
