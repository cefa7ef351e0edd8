/*
 * fpmsg.c - the fast path's nf_tables messages: set element batches,
 * their acks, element dumps, and the ruleset of our table
 *
 * Copyright (C) 2026 The nfqspid authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * Pure, like nqmsg.c: the messages are laid out by hand, so that a
 * datagram from the kernel is read only after each attribute's length
 * was checked against its parent.  A set element attribute list nests
 * in a 16-bit length: a message holds at most 64 KiB of elements.
 */
#include <sys/socket.h>
#include <arpa/inet.h>
#include <linux/netlink.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nf_tables.h>

#include <endian.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "bytes.h"
#include "fpmsg.h"
#include "strl.h"

#define MSG_ATTRS	(NLMSG_HDRLEN + NLA_ALIGN(sizeof(struct nfgenmsg)))
#define NEST_MAX	0xffff		/* nla_len is 16 bits */
#define COMMENT_TYPE	0		/* NFTNL_UDATA_SET_ELEM_COMMENT */

static const char *const map_names[FPMSG_NCLASS] = {
	"conn_tcp4", "conn_udp4", "conn_tcp6", "conn_udp6",
};
/* the comments that say which direction an element is */
static const char *const dir_names[2] = { "orig", "reply" };

int
fpmsg_class(uint8_t family, uint8_t proto)
{
	int	 c;

	if (proto == IPPROTO_TCP)
		c = 0;
	else if (proto == IPPROTO_UDP)
		c = 1;
	else
		return (-1);
	if (family == AF_INET6)
		return (c + 2);
	return (family == AF_INET ? c : -1);
}

const char *
fpmsg_map_name(int cls)
{
	if (cls < 0 || cls >= FPMSG_NCLASS)
		return ("?");
	return (map_names[cls]);
}

int
fpmsg_chain_name(uint32_t mark, char *buf, size_t len)
{
	int	 n;

	if (mark == 0)
		n = snprintf(buf, len, "%s", FPMSG_NOMARK);
	else
		n = snprintf(buf, len, "mark_0x%08x", mark);
	return (n < 0 || (size_t)n >= len ? -1 : 0);
}

size_t
fpmsg_keylen(int cls)
{
	return (cls >= 2 ? FPMSG_KEY6 : FPMSG_KEY4);
}

size_t
fpmsg_key(const struct fp_conn *c, int dir, uint8_t *key)
{
	size_t			 alen = c->family == AF_INET6 ? 16 : 4;
	const union pkt_addr	*a = dir == FPMSG_REPLY ? &c->dst : &c->src;
	const union pkt_addr	*b = dir == FPMSG_REPLY ? &c->src : &c->dst;
	uint16_t		 ap = dir == FPMSG_REPLY ? c->dport : c->sport;
	uint16_t		 bp = dir == FPMSG_REPLY ? c->sport : c->dport;

	/* each field starts a 4-byte register; ports in network order */
	memset(key, 0, 2 * alen + 8);
	memcpy(key, a->a8, alen);
	put16(key + alen, ap);
	memcpy(key + alen + 4, b->a8, alen);
	put16(key + 2 * alen + 4, bp);
	return (2 * alen + 8);
}

int
fpmsg_key_conn(int cls, const uint8_t *key, size_t len, int dir,
    struct fp_conn *c)
{
	size_t	 alen = cls >= 2 ? 16 : 4;

	if (cls < 0 || cls >= FPMSG_NCLASS || len != 2 * alen + 8 ||
	    get16(key + alen + 2) != 0 || get16(key + 2 * alen + 6) != 0)
		return (-1);
	memset(c, 0, sizeof(*c));
	c->family = cls >= 2 ? AF_INET6 : AF_INET;
	c->proto = cls & 1 ? IPPROTO_UDP : IPPROTO_TCP;
	memcpy(dir == FPMSG_REPLY ? c->dst.a8 : c->src.a8, key, alen);
	memcpy(dir == FPMSG_REPLY ? c->src.a8 : c->dst.a8, key + alen + 4,
	    alen);
	if (dir == FPMSG_REPLY) {
		c->dport = get16(key + alen);
		c->sport = get16(key + 2 * alen + 4);
	} else {
		c->sport = get16(key + alen);
		c->dport = get16(key + 2 * alen + 4);
	}
	return (0);
}

/* ---- the ruleset ------------------------------------------------------ */

int
fastpath_table_name(uint16_t queue, char *buf, size_t len)
{
	int	 n;

	n = snprintf(buf, len, FP_TABLE_PREFIX "%u", queue);
	return (n < 0 || (size_t)n >= len ? -1 : 0);
}

/*
 * How each class reads a packet's tuple, and what makes it eligible.
 * The protocol comes first: a packet of the other one leaves the rule
 * at its first compare.
 */
static const struct cls_text {
	const char	*addr;		/* nft type */
	const char	*tuple;		/* the key expression */
	const char	*when;		/* not a fragment; TCP: no SYN/FIN/RST */
} cls_text[FPMSG_NCLASS] = {
	{ "ipv4_addr", "ip saddr . tcp sport . ip daddr . tcp dport",
	  "meta l4proto tcp meta nfproto ipv4 ip frag-off & 0x3fff == 0 "
	  "tcp flags & (fin | syn | rst) == 0" },
	{ "ipv4_addr", "ip saddr . udp sport . ip daddr . udp dport",
	  "meta l4proto udp meta nfproto ipv4 ip frag-off & 0x3fff == 0" },
	{ "ipv6_addr", "ip6 saddr . tcp sport . ip6 daddr . tcp dport",
	  "meta l4proto tcp meta nfproto ipv6 exthdr frag missing "
	  "tcp flags & (fin | syn | rst) == 0" },
	{ "ipv6_addr", "ip6 saddr . udp sport . ip6 daddr . udp dport",
	  "meta l4proto udp meta nfproto ipv6 exthdr frag missing" },
};

static const char *const hooks[] = { "input", "forward", "output" };

static int
ruleset_maps(const struct fp_params *p, char *buf, size_t len, size_t *off)
{
	uint64_t	 size = 2 * (uint64_t)p->max;
	unsigned	 to;
	int		 c;

	for (c = 0; c < FPMSG_NCLASS; c++) {
		to = c & 1 ? p->udp_timeout_s : p->tcp_timeout_s;
		if (spi_text_add(buf, len, off,
		    "\tmap %s {\n\t\ttype %s . inet_service . %s . "
		    "inet_service : verdict\n\t\tflags timeout\n"
		    "\t\ttimeout %us\n\t\tsize %llu\n\t\tcounter\n\t}\n",
		    map_names[c], cls_text[c].addr, cls_text[c].addr, to,
		    (unsigned long long)size) == -1)
			return (-1);
	}
	/* the marks' chains come with their first connection
	   (fpmsg_mark_chain()) */
	return (spi_text_add(buf, len, off, "\tchain %s {\n"
	    "\t\tmeta mark set meta mark | 0x%08x\n\t}\n", FPMSG_NOMARK,
	    FP_BYPASS_MARK));
}

/*
 * One lookup a packet: the map of its class counts it (once) and sends
 * it to the chain that marks it.  A packet that finds nothing leaves
 * with the bit cleared: whoever set it before us did not judge it.  The
 * packet path refreshes nothing: fastpath.c gives an element its time
 * again from the dump it reads each second.
 */
static int
ruleset_chain(const char *hook, char *buf, size_t len, size_t *off)
{
	const struct cls_text	*t;
	int			 c;

	if (spi_text_add(buf, len, off, "\tchain %s {\n"
	    "\t\ttype filter hook %s priority filter - 5; policy accept;\n",
	    hook, hook) == -1)
		return (-1);
	for (c = 0; c < FPMSG_NCLASS; c++) {
		t = &cls_text[c];
		if (spi_text_add(buf, len, off, "\t\t%s %s vmap @%s\n",
		    t->when, t->tuple, map_names[c]) == -1)
			return (-1);
	}
	return (spi_text_add(buf, len, off,
	    "\t\tmeta mark & 0x%08x != 0 meta mark set meta mark & 0x%08x\n"
	    "\t}\n\tchain %s_after {\n"
	    "\t\ttype filter hook %s priority filter + 5; policy accept;\n"
	    "\t\tmeta mark & 0x%08x != 0 meta mark set meta mark & "
	    "0x%08x\n\t}\n", FP_BYPASS_MARK, ~FP_BYPASS_MARK, hook, hook,
	    FP_BYPASS_MARK, ~FP_BYPASS_MARK));
}

int
fpmsg_ruleset(const struct fp_params *p, char *buf, size_t len)
{
	char		 table[FP_TABLE_NAMELEN];
	size_t		 off = 0, h;

	if (fastpath_table_name(p->queue, table, sizeof(table)) == -1 ||
	    spi_text_add(buf, len, &off, "table inet %s\ndelete table inet %s\n"
	    "table inet %s {\n", table, table, table) == -1 ||
	    ruleset_maps(p, buf, len, &off) == -1)
		return (-1);
	for (h = 0; h < sizeof(hooks) / sizeof(hooks[0]); h++)
		if (ruleset_chain(hooks[h], buf, len, &off) == -1)
			return (-1);
	if (spi_text_add(buf, len, &off, "}\n") == -1)
		return (-1);
	return ((int)off);
}

/* ---- building --------------------------------------------------------- */

void
fpmsg_init(struct fpmsg_buf *b, uint8_t *buf, size_t size, uint32_t seq)
{
	memset(b, 0, sizeof(*b));
	b->buf = buf;
	b->size = size;
	b->seq = seq;
	b->first = seq;
}

/* room for n more bytes (aligned), zeroed; NULL (ENOSPC) if none */
static uint8_t *
room(struct fpmsg_buf *b, size_t n)
{
	uint8_t	*p;

	n = NLMSG_ALIGN(n);
	if (n > b->size - b->len) {
		errno = ENOSPC;
		return (NULL);
	}
	p = b->buf + b->len;
	memset(p, 0, n);
	b->len += n;
	return (p);
}

/* a netlink header and nfgenmsg; the length is fixed up later */
static struct nlmsghdr *
msg_start(struct fpmsg_buf *b, uint16_t type, uint16_t flags,
    uint8_t family, uint16_t resid)
{
	struct nlmsghdr	*nlh;
	struct nfgenmsg	*nfg;
	uint8_t		*p;

	if ((p = room(b, MSG_ATTRS)) == NULL)
		return (NULL);
	nlh = (struct nlmsghdr *)p;
	nlh->nlmsg_len = MSG_ATTRS;
	nlh->nlmsg_type = type;
	nlh->nlmsg_flags = NLM_F_REQUEST | flags;
	nlh->nlmsg_seq = b->seq++;
	nfg = (struct nfgenmsg *)(p + NLMSG_HDRLEN);
	nfg->nfgen_family = family;
	nfg->version = NFNETLINK_V0;
	nfg->res_id = htons(resid);
	return (nlh);
}

int
fpmsg_begin(struct fpmsg_buf *b)
{
	b->first = b->seq + 1;
	return (msg_start(b, NFNL_MSG_BATCH_BEGIN, 0, AF_UNSPEC,
	    NFNL_SUBSYS_NFTABLES) == NULL ? -1 : 0);
}

int
fpmsg_end(struct fpmsg_buf *b)
{
	if (b->open) {
		errno = EINVAL;
		return (-1);
	}
	return (msg_start(b, NFNL_MSG_BATCH_END, 0, AF_UNSPEC,
	    NFNL_SUBSYS_NFTABLES) == NULL ? -1 : 0);
}

/* an attribute of len bytes of data at the end; NULL (ENOSPC) */
static struct nlattr *
attr_put(struct fpmsg_buf *b, uint16_t type, const void *data, size_t len)
{
	struct nlattr	*a;
	uint8_t		*p;

	if (len > NEST_MAX - NLA_HDRLEN ||
	    (p = room(b, NLA_HDRLEN + len)) == NULL) {
		errno = ENOSPC;
		return (NULL);
	}
	a = (struct nlattr *)p;
	a->nla_len = (uint16_t)(NLA_HDRLEN + len);
	a->nla_type = type;
	if (len > 0)
		memcpy(p + NLA_HDRLEN, data, len);
	return (a);
}

/* a string attribute, its NUL included, as the kernel wants names */
static struct nlattr *
attr_str(struct fpmsg_buf *b, uint16_t type, const char *s)
{
	return (attr_put(b, type, s, strlen(s) + 1));
}

/* a set element message of type with flags; its elements follow */
static int
msg_open(struct fpmsg_buf *b, uint16_t type, uint16_t flags,
    const char *table, const char *set)
{
	size_t		 start = b->len;
	uint32_t	 seq = b->seq;

	if (b->open) {
		errno = EINVAL;
		return (-1);
	}
	if (msg_start(b, (NFNL_SUBSYS_NFTABLES << 8) | type, flags,
	    NFPROTO_INET, 0) == NULL ||
	    attr_str(b, NFTA_SET_ELEM_LIST_TABLE, table) == NULL ||
	    attr_str(b, NFTA_SET_ELEM_LIST_SET, set) == NULL) {
		b->len = start;
		b->seq = seq;
		return (-1);
	}
	b->msg = start;
	b->nest = 0;
	b->open = 1;
	return (0);
}

int
fpmsg_open(struct fpmsg_buf *b, uint16_t type, const char *table,
    const char *set)
{
	return (msg_open(b, type, type == NFT_MSG_NEWSETELEM ?
	    NLM_F_ACK | NLM_F_CREATE : NLM_F_ACK, table, set));
}

/* close the nest that starts at off */
static void
nest_end(struct fpmsg_buf *b, size_t off)
{
	struct nlattr	*a = (struct nlattr *)(b->buf + off);

	a->nla_len = (uint16_t)(b->len - off);
}

/* data: goto chain, a verdict nested twice */
static int
put_goto(struct fpmsg_buf *b, const char *chain)
{
	uint32_t	 code = htonl((uint32_t)NFT_GOTO);
	size_t		 data = b->len, verdict;

	if (attr_put(b, NFTA_SET_ELEM_DATA | NLA_F_NESTED, NULL, 0) == NULL)
		return (-1);
	verdict = b->len;
	if (attr_put(b, NFTA_DATA_VERDICT | NLA_F_NESTED, NULL, 0) == NULL ||
	    attr_put(b, NFTA_VERDICT_CODE, &code, sizeof(code)) == NULL ||
	    attr_str(b, NFTA_VERDICT_CHAIN, chain) == NULL)
		return (-1);
	nest_end(b, verdict);
	nest_end(b, data);
	return (0);
}

int
fpmsg_put(struct fpmsg_buf *b, const uint8_t *key, size_t keylen,
    const char *chain, int dir, uint64_t timeout_ms)
{
	size_t		 start = b->len, elem, sub;
	const char	*comment = dir_names[dir == FPMSG_REPLY];
	uint8_t		 ud[8];
	size_t		 udlen = strlen(comment) + 1;
	uint64_t	 be;

	if (!b->open || keylen > FPMSG_KEYMAX || (chain != NULL &&
	    strnlen(chain, FPMSG_CHAINMAX) == FPMSG_CHAINMAX)) {
		errno = EINVAL;
		return (-1);
	}
	if (b->nest == 0) {
		b->nest = b->len;
		if (attr_put(b, NFTA_SET_ELEM_LIST_ELEMENTS | NLA_F_NESTED,
		    NULL, 0) == NULL)
			goto full;
	}
	elem = b->len;
	if (attr_put(b, NFTA_LIST_ELEM | NLA_F_NESTED, NULL, 0) == NULL)
		goto full;
	sub = b->len;
	if (attr_put(b, NFTA_SET_ELEM_KEY | NLA_F_NESTED, NULL, 0) == NULL ||
	    attr_put(b, NFTA_DATA_VALUE, key, keylen) == NULL)
		goto full;
	nest_end(b, sub);
	if (chain != NULL && put_goto(b, chain) == -1)
		goto full;
	if (timeout_ms != 0) {
		be = htobe64(timeout_ms);
		if (attr_put(b, NFTA_SET_ELEM_TIMEOUT, &be, sizeof(be)) == NULL ||
		    attr_put(b, NFTA_SET_ELEM_EXPIRATION, &be,
		    sizeof(be)) == NULL)
			goto full;
	}
	/* nft's comment TLV: type, length, the string and its NUL */
	ud[0] = COMMENT_TYPE;
	ud[1] = (uint8_t)udlen;
	memcpy(ud + 2, comment, udlen);
	if (attr_put(b, NFTA_SET_ELEM_USERDATA, ud, udlen + 2) == NULL)
		goto full;
	nest_end(b, elem);
	if (b->len - b->nest > NEST_MAX)
		goto full;
	return (0);
full:
	/* the element list of a message ends at 64 KiB */
	b->len = start;
	if (b->nest == start)
		b->nest = 0;
	errno = ENOSPC;
	return (-1);
}

int
fpmsg_close(struct fpmsg_buf *b)
{
	struct nlmsghdr	*nlh;

	if (!b->open) {
		errno = EINVAL;
		return (-1);
	}
	if (b->nest != 0)
		nest_end(b, b->nest);
	nlh = (struct nlmsghdr *)(b->buf + b->msg);
	nlh->nlmsg_len = (uint32_t)(b->len - b->msg);
	b->open = 0;
	b->nacks++;
	return (0);
}

int
fpmsg_get(struct fpmsg_buf *b, const char *table, const char *set,
    const uint8_t *key, size_t keylen)
{
	size_t		 start = b->len;
	uint32_t	 seq = b->seq;

	/* no NLM_F_ACK: the element, or the error, is the one answer */
	if (msg_open(b, NFT_MSG_GETSETELEM, 0, table, set) == -1)
		return (-1);
	if (fpmsg_put(b, key, keylen, NULL, FPMSG_ORIG, 0) == -1) {
		b->len = start;
		b->seq = seq;
		b->open = 0;
		return (-1);
	}
	return (fpmsg_close(b));
}

/* a whole message of type: its attributes follow, then msg_done() */
static struct nlmsghdr *
obj_open(struct fpmsg_buf *b, uint16_t type, uint16_t flags)
{
	if (b->open) {
		errno = EINVAL;
		return (NULL);
	}
	return (msg_start(b, (NFNL_SUBSYS_NFTABLES << 8) | type,
	    NLM_F_ACK | flags, NFPROTO_INET, 0));
}

static void
msg_done(struct fpmsg_buf *b, struct nlmsghdr *nlh)
{
	nlh->nlmsg_len = (uint32_t)((uint8_t *)b->buf + b->len -
	    (uint8_t *)nlh);
	b->nacks++;
}

/* one expression of a rule: name, and its data nest opened */
static int
expr_open(struct fpmsg_buf *b, const char *name, size_t *elem,
    size_t *data)
{
	*elem = b->len;
	if (attr_put(b, NFTA_LIST_ELEM | NLA_F_NESTED, NULL, 0) == NULL ||
	    attr_str(b, NFTA_EXPR_NAME, name) == NULL)
		return (-1);
	*data = b->len;
	return (attr_put(b, NFTA_EXPR_DATA | NLA_F_NESTED, NULL, 0) == NULL ?
	    -1 : 0);
}

/* immediate: register 1 = mark; meta: skb->mark = register 1 */
static int
rule_set_mark(struct fpmsg_buf *b, uint32_t mark)
{
	uint32_t	 reg = htonl(NFT_REG_1), key = htonl(NFT_META_MARK);
	size_t		 list = b->len, elem, data, value;

	if (attr_put(b, NFTA_RULE_EXPRESSIONS | NLA_F_NESTED, NULL, 0) == NULL ||
	    expr_open(b, "immediate", &elem, &data) == -1 ||
	    attr_put(b, NFTA_IMMEDIATE_DREG, &reg, sizeof(reg)) == NULL)
		return (-1);
	value = b->len;
	/* a mark is a host-order word in the register */
	if (attr_put(b, NFTA_IMMEDIATE_DATA | NLA_F_NESTED, NULL, 0) == NULL ||
	    attr_put(b, NFTA_DATA_VALUE, &mark, sizeof(mark)) == NULL)
		return (-1);
	nest_end(b, value);
	nest_end(b, data);
	nest_end(b, elem);
	if (expr_open(b, "meta", &elem, &data) == -1 ||
	    attr_put(b, NFTA_META_KEY, &key, sizeof(key)) == NULL ||
	    attr_put(b, NFTA_META_SREG, &reg, sizeof(reg)) == NULL)
		return (-1);
	nest_end(b, data);
	nest_end(b, elem);
	nest_end(b, list);
	return (0);
}

/*
 * A message of type about table's chain name, its first two attributes
 * put: the table, then the chain (NFTA_CHAIN_NAME in a chain's message,
 * NFTA_RULE_CHAIN in a rule's).  NULL (ENOSPC, or EINVAL if an element
 * message is open).
 */
_Static_assert((int)NFTA_CHAIN_TABLE == (int)NFTA_RULE_TABLE,
    "the table comes first");

static struct nlmsghdr *
chain_msg(struct fpmsg_buf *b, uint16_t type, uint16_t flags,
    const char *table, uint16_t attr, const char *name)
{
	struct nlmsghdr	*nlh;

	if ((nlh = obj_open(b, type, flags)) == NULL ||
	    attr_str(b, NFTA_CHAIN_TABLE, table) == NULL ||
	    attr_str(b, attr, name) == NULL)
		return (NULL);
	return (nlh);
}

int
fpmsg_mark_chain(struct fpmsg_buf *b, const char *table, uint32_t mark)
{
	struct fpmsg_buf	 was = *b;
	struct nlmsghdr		*nlh;
	char			 name[FPMSG_CHAINMAX];

	if (mark == 0 || (mark & FP_BYPASS_MARK) != 0 ||
	    fpmsg_chain_name(mark, name, sizeof(name)) == -1) {
		errno = EINVAL;
		return (-1);
	}
	if ((nlh = chain_msg(b, NFT_MSG_NEWCHAIN, NLM_F_CREATE, table,
	    NFTA_CHAIN_NAME, name)) == NULL)
		goto full;
	msg_done(b, nlh);
	/* emptied first: made again, it still holds one rule */
	if ((nlh = chain_msg(b, NFT_MSG_DELRULE, 0, table, NFTA_RULE_CHAIN,
	    name)) == NULL)
		goto full;
	msg_done(b, nlh);
	if ((nlh = chain_msg(b, NFT_MSG_NEWRULE, NLM_F_CREATE | NLM_F_APPEND,
	    table, NFTA_RULE_CHAIN, name)) == NULL ||
	    rule_set_mark(b, mark | FP_BYPASS_MARK) == -1)
		goto full;
	msg_done(b, nlh);
	return (0);
full:
	if (!was.open)
		*b = was;	/* nothing half written */
	return (-1);
}

int
fpmsg_del_chain(struct fpmsg_buf *b, const char *table, uint32_t mark)
{
	struct fpmsg_buf	 was = *b;
	struct nlmsghdr		*nlh;
	char			 name[FPMSG_CHAINMAX];

	if (mark == 0 || fpmsg_chain_name(mark, name, sizeof(name)) == -1) {
		errno = EINVAL;
		return (-1);
	}
	if ((nlh = chain_msg(b, NFT_MSG_DELCHAIN, 0, table, NFTA_CHAIN_NAME,
	    name)) == NULL) {
		if (!was.open)
			*b = was;
		return (-1);
	}
	msg_done(b, nlh);
	return (0);
}

/* ---- reading ---------------------------------------------------------- */

/* Walk the messages of a datagram; each one's length checked. */
static const struct nlmsghdr *
msg_next(const uint8_t *buf, size_t len, size_t *off)
{
	const struct nlmsghdr	*nlh;

	if (*off + NLMSG_HDRLEN > len)
		return (NULL);
	nlh = (const struct nlmsghdr *)(buf + *off);
	if (nlh->nlmsg_len < NLMSG_HDRLEN || nlh->nlmsg_len > len - *off)
		return (NULL);
	*off += NLMSG_ALIGN(nlh->nlmsg_len);
	return (nlh);
}

/* NLMSG_ERROR's code as a positive errno (0: an ack); -1 if short */
static int
msg_error(const struct nlmsghdr *nlh)
{
	const struct nlmsgerr	*e;

	if (nlh->nlmsg_len < NLMSG_HDRLEN + sizeof(*e))
		return (-1);
	e = (const struct nlmsgerr *)((const uint8_t *)nlh + NLMSG_HDRLEN);
	if (e->error > 0 || e->error < -4095)
		return (-1);
	return (-e->error);
}

int
fpmsg_acks(const uint8_t *buf, size_t len, uint32_t first, unsigned n,
    int *err)
{
	const struct nlmsghdr	*nlh;
	size_t			 off = 0;
	int			 acks = 0, e;

	while ((nlh = msg_next(buf, len, &off)) != NULL) {
		if (nlh->nlmsg_type != NLMSG_ERROR ||
		    (e = msg_error(nlh)) == -1) {
			errno = EPROTO;
			return (-1);
		}
		/* refused whole at its BEGIN (no CAP_NET_ADMIN): the one
		   answer, no message of it is */
		if (nlh->nlmsg_seq == first - 1 && e != 0 && acks == 0 &&
		    off == len) {
			if (*err == 0)
				*err = e;
			return ((int)n);
		}
		if (nlh->nlmsg_seq - first >= n) {
			errno = EPROTO;
			return (-1);
		}
		if (e != 0 && *err == 0)
			*err = e;
		acks++;
	}
	if (off != len && NLMSG_ALIGN(len) != off) {
		errno = EPROTO;		/* a truncated message */
		return (-1);
	}
	return (acks);
}

int
fpmsg_dump_req(uint8_t *buf, size_t size, uint32_t seq, const char *table,
    const char *set)
{
	struct fpmsg_buf	 b;
	struct nlmsghdr		*nlh;

	fpmsg_init(&b, buf, size, seq);
	if ((nlh = msg_start(&b, (NFNL_SUBSYS_NFTABLES << 8) |
	    NFT_MSG_GETSETELEM, NLM_F_DUMP, NFPROTO_INET,
	    0)) == NULL ||
	    attr_str(&b, NFTA_SET_ELEM_LIST_TABLE, table) == NULL ||
	    attr_str(&b, NFTA_SET_ELEM_LIST_SET, set) == NULL)
		return (-1);
	nlh->nlmsg_len = (uint32_t)b.len;
	return ((int)b.len);
}

/*
 * The attributes of [p, p + len) into tb[0 .. max], each one's length
 * checked against its parent; -1 if one overruns.  Unknown types (newer
 * kernels) are skipped.
 */
static int
attr_parse(const uint8_t *p, size_t len, const struct nlattr **tb,
    uint16_t max)
{
	const struct nlattr	*a;
	size_t			 off = 0;
	uint16_t		 type;

	memset(tb, 0, sizeof(*tb) * (max + 1u));
	while (off + NLA_HDRLEN <= len) {
		a = (const struct nlattr *)(p + off);
		if (a->nla_len < NLA_HDRLEN || a->nla_len > len - off)
			return (-1);
		type = a->nla_type & NLA_TYPE_MASK;
		if (type <= max)
			tb[type] = a;
		off += NLA_ALIGN(a->nla_len);
	}
	return (off >= len ? 0 : -1);
}

static inline const uint8_t *
attr_data(const struct nlattr *a)
{
	return ((const uint8_t *)a + NLA_HDRLEN);
}

static inline size_t
attr_len(const struct nlattr *a)
{
	return (a->nla_len - NLA_HDRLEN);
}

/* a string attribute's text, if it ends in its NUL; else NULL */
static const char *
attr_cstr(const struct nlattr *a)
{
	const char	*p = (const char *)attr_data(a);
	size_t		 len = attr_len(a);

	return (len > 0 && p[len - 1] == '\0' ? p : NULL);
}

static uint64_t
get64(const uint8_t *p)
{
	return ((uint64_t)get32(p) << 32 | get32(p + 4));
}

/* the value inside a NFTA_DATA nest, exactly len bytes (0: any up to max) */
static int
data_value(const struct nlattr *nest, uint8_t *out, size_t max, size_t *len)
{
	const struct nlattr	*tb[NFTA_DATA_MAX + 1];

	if (attr_parse(attr_data(nest), attr_len(nest), tb,
	    NFTA_DATA_MAX) == -1 || tb[NFTA_DATA_VALUE] == NULL ||
	    attr_len(tb[NFTA_DATA_VALUE]) > max)
		return (-1);
	*len = attr_len(tb[NFTA_DATA_VALUE]);
	memcpy(out, attr_data(tb[NFTA_DATA_VALUE]), *len);
	return (0);
}

/* one expression (name, data): a counter fills e, others are skipped */
static int
expr_parse(const struct nlattr *nest, struct fpmsg_elem *e)
{
	const struct nlattr	*tb[NFTA_EXPR_MAX + 1];
	const struct nlattr	*cb[NFTA_COUNTER_MAX + 1];
	const char		*name;

	if (attr_parse(attr_data(nest), attr_len(nest), tb,
	    NFTA_EXPR_MAX) == -1 || tb[NFTA_EXPR_NAME] == NULL ||
	    (name = attr_cstr(tb[NFTA_EXPR_NAME])) == NULL)
		return (-1);
	if (strcmp(name, "counter") != 0)
		return (0);
	if (tb[NFTA_EXPR_DATA] == NULL ||
	    attr_parse(attr_data(tb[NFTA_EXPR_DATA]),
	    attr_len(tb[NFTA_EXPR_DATA]), cb, NFTA_COUNTER_MAX) == -1 ||
	    cb[NFTA_COUNTER_PACKETS] == NULL || cb[NFTA_COUNTER_BYTES] == NULL ||
	    attr_len(cb[NFTA_COUNTER_PACKETS]) != 8 ||
	    attr_len(cb[NFTA_COUNTER_BYTES]) != 8)
		return (-1);
	e->pkts = get64(attr_data(cb[NFTA_COUNTER_PACKETS]));
	e->bytes = get64(attr_data(cb[NFTA_COUNTER_BYTES]));
	e->has_counter = 1;
	return (0);
}

/* NFTA_SET_ELEM_EXPRESSIONS: a list of expressions */
static int
exprs_parse(const struct nlattr *list, struct fpmsg_elem *e)
{
	const struct nlattr	*a;
	size_t			 off = 0, len = attr_len(list);
	const uint8_t		*p = attr_data(list);

	while (off + NLA_HDRLEN <= len) {
		a = (const struct nlattr *)(p + off);
		if (a->nla_len < NLA_HDRLEN || a->nla_len > len - off ||
		    ((a->nla_type & NLA_TYPE_MASK) == NFTA_LIST_ELEM &&
		    expr_parse(a, e) == -1))
			return (-1);
		off += NLA_ALIGN(a->nla_len);
	}
	return (off >= len ? 0 : -1);
}

/* the comment TLV we wrote: "reply" or anything else */
static uint8_t
udata_dir(const struct nlattr *a)
{
	const uint8_t	*p = attr_data(a);
	size_t		 len = attr_len(a), off = 0;

	while (off + 2 <= len && off + 2 + p[off + 1] <= len) {
		if (p[off] == COMMENT_TYPE && p[off + 1] == 6 &&
		    memcmp(p + off + 2, "reply", 6) == 0)
			return (FPMSG_REPLY);
		off += 2 + (size_t)p[off + 1];
	}
	return (FPMSG_ORIG);
}

/*
 * NFTA_SET_ELEM_DATA: goto a chain whose name fits e->chain.  Another
 * verdict (accept, jump) is none we put, but one root can: the element
 * parses without data, so that the dump goes on; a stray is taken out,
 * and one of ours is not renewed and goes in again once it expired.
 */
static int
verdict_parse(const struct nlattr *nest, struct fpmsg_elem *e)
{
	const struct nlattr	*tb[NFTA_DATA_MAX + 1];
	const struct nlattr	*vb[NFTA_VERDICT_MAX + 1];
	const char		*name;
	size_t			 len;

	if (attr_parse(attr_data(nest), attr_len(nest), tb,
	    NFTA_DATA_MAX) == -1 || tb[NFTA_DATA_VERDICT] == NULL ||
	    attr_parse(attr_data(tb[NFTA_DATA_VERDICT]),
	    attr_len(tb[NFTA_DATA_VERDICT]), vb, NFTA_VERDICT_MAX) == -1 ||
	    vb[NFTA_VERDICT_CODE] == NULL ||
	    attr_len(vb[NFTA_VERDICT_CODE]) != 4)
		return (-1);
	if (get32(attr_data(vb[NFTA_VERDICT_CODE])) != (uint32_t)NFT_GOTO)
		return (0);
	if (vb[NFTA_VERDICT_CHAIN] == NULL)
		return (-1);
	/* no NUL inside it either: the name we would send back */
	len = attr_len(vb[NFTA_VERDICT_CHAIN]);
	if ((name = attr_cstr(vb[NFTA_VERDICT_CHAIN])) == NULL || len < 2 ||
	    len > sizeof(e->chain) || strlen(name) != len - 1)
		return (-1);
	memcpy(e->chain, name, len);
	e->has_data = 1;
	return (0);
}

static int
elem_parse(const struct nlattr *nest, struct fpmsg_elem *e)
{
	const struct nlattr	*tb[NFTA_SET_ELEM_MAX + 1];

	memset(e, 0, sizeof(*e));
	if (attr_parse(attr_data(nest), attr_len(nest), tb,
	    NFTA_SET_ELEM_MAX) == -1 || tb[NFTA_SET_ELEM_KEY] == NULL ||
	    data_value(tb[NFTA_SET_ELEM_KEY], e->key, sizeof(e->key),
	    &e->keylen) == -1)
		return (-1);
	if (tb[NFTA_SET_ELEM_DATA] != NULL &&
	    verdict_parse(tb[NFTA_SET_ELEM_DATA], e) == -1)
		return (-1);
	if (tb[NFTA_SET_ELEM_EXPIRATION] != NULL) {
		if (attr_len(tb[NFTA_SET_ELEM_EXPIRATION]) != 8)
			return (-1);
		e->expires_ms = get64(attr_data(tb[NFTA_SET_ELEM_EXPIRATION]));
		e->has_expires = 1;
	}
	if (tb[NFTA_SET_ELEM_EXPR] != NULL &&
	    expr_parse(tb[NFTA_SET_ELEM_EXPR], e) == -1)
		return (-1);
	if (tb[NFTA_SET_ELEM_EXPRESSIONS] != NULL &&
	    exprs_parse(tb[NFTA_SET_ELEM_EXPRESSIONS], e) == -1)
		return (-1);
	if (tb[NFTA_SET_ELEM_USERDATA] != NULL)
		e->dir = udata_dir(tb[NFTA_SET_ELEM_USERDATA]);
	return (0);
}

/* one NFT_MSG_NEWSETELEM of a dump, or the answer to get req */
static int
elems_msg(const struct nlmsghdr *nlh, uint32_t req, fpmsg_elem_cb cb,
    void *arg)
{
	const struct nlattr	*tb[NFTA_SET_ELEM_LIST_MAX + 1];
	const struct nlattr	*a, *list;
	struct fpmsg_elem	 e;
	size_t			 off = 0, len;
	const uint8_t		*p;

	if (nlh->nlmsg_len < MSG_ATTRS ||
	    attr_parse((const uint8_t *)nlh + MSG_ATTRS,
	    nlh->nlmsg_len - MSG_ATTRS, tb, NFTA_SET_ELEM_LIST_MAX) == -1) {
		errno = EPROTO;
		return (-1);
	}
	if ((list = tb[NFTA_SET_ELEM_LIST_ELEMENTS]) == NULL)
		return (0);
	p = attr_data(list);
	len = attr_len(list);
	while (off + NLA_HDRLEN <= len) {
		a = (const struct nlattr *)(p + off);
		if (a->nla_len < NLA_HDRLEN || a->nla_len > len - off) {
			errno = EPROTO;
			return (-1);
		}
		if ((a->nla_type & NLA_TYPE_MASK) == NFTA_LIST_ELEM) {
			if (elem_parse(a, &e) == -1) {
				errno = EPROTO;
				return (-1);
			}
			e.req = req;
			if (cb(&e, arg) == -1)
				return (-1);
		}
		off += NLA_ALIGN(a->nla_len);
	}
	return (0);
}

int
fpmsg_dump_parse(const uint8_t *buf, size_t len, uint32_t seq,
    fpmsg_elem_cb cb, void *arg)
{
	const struct nlmsghdr	*nlh;
	size_t			 off = 0;
	int			 e;

	while ((nlh = msg_next(buf, len, &off)) != NULL) {
		if (nlh->nlmsg_seq != seq) {
			errno = EPROTO;
			return (-1);
		}
		if (nlh->nlmsg_type == NLMSG_DONE)
			return (1);
		if (nlh->nlmsg_type == NLMSG_ERROR) {
			if ((e = msg_error(nlh)) == -1) {
				errno = EPROTO;
				return (-1);
			}
			if (e == 0)
				return (1);	/* the ack after DONE */
			errno = e;
			return (-1);
		}
		if (nlh->nlmsg_type != ((NFNL_SUBSYS_NFTABLES << 8) |
		    NFT_MSG_NEWSETELEM)) {
			errno = EPROTO;
			return (-1);
		}
		if (elems_msg(nlh, 0, cb, arg) == -1)
			return (-1);
	}
	if (off < len) {
		errno = EPROTO;
		return (-1);
	}
	return (0);
}

int
fpmsg_get_parse(const uint8_t *buf, size_t len, uint32_t first,
    unsigned n, fpmsg_elem_cb cb, void *arg, int *err)
{
	const struct nlmsghdr	*nlh;
	size_t			 off = 0;
	uint32_t		 req;
	int			 got = 0, e;

	while ((nlh = msg_next(buf, len, &off)) != NULL) {
		if ((req = nlh->nlmsg_seq - first) >= n) {
			errno = EPROTO;
			return (-1);
		}
		if (nlh->nlmsg_type == NLMSG_ERROR) {
			if ((e = msg_error(nlh)) == -1) {
				errno = EPROTO;
				return (-1);
			}
			/* ENOENT: not there, nothing counted */
			if (e != 0 && e != ENOENT && *err == 0)
				*err = e;
		} else if (nlh->nlmsg_type != ((NFNL_SUBSYS_NFTABLES << 8) |
		    NFT_MSG_NEWSETELEM)) {
			errno = EPROTO;
			return (-1);
		} else if (elems_msg(nlh, req, cb, arg) == -1)
			return (-1);
		got++;
	}
	if (off < len) {
		errno = EPROTO;
		return (-1);
	}
	return (got);
}
