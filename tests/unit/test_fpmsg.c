/*
 * test_fpmsg.c - cmocka tests for fpmsg.c: the fast path's keys, the
 * ruleset text, the element batches it builds (read back as the kernel
 * reads them) and the kernel's answers, built here (nlbuild.c)
 *
 * Copyright (C) 2026 The nfqspid authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include "autoconf.h"		/* first */

#include <sys/socket.h>
#include <arpa/inet.h>
#include <linux/netlink.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nf_tables.h>
#include <netinet/in.h>

#include <endian.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "fpmsg.h"
#include "nlbuild.h"

#define ELEMTYPE	NLB_NFT(NFT_MSG_NEWSETELEM)
#define MSG_ATTRS	(NLMSG_HDRLEN + NLA_ALIGN(sizeof(struct nfgenmsg)))

/* The attributes of a message, or of a nest, are want[0 .. n - 1] in
   this order: none missing, none extra. */
#define LAYOUT_MAX	16

static void
msg_is(const struct nlmsghdr *nlh, const uint16_t *want, size_t n)
{
	uint16_t	 got[LAYOUT_MAX];

	assert_int_equal(nlb_msg_types(nlh, got, LAYOUT_MAX), n);
	assert_memory_equal(got, want, n * sizeof(*want));
}

static void
nest_is(const struct nlattr *a, const uint16_t *want, size_t n)
{
	uint16_t	 got[LAYOUT_MAX];

	assert_int_equal(nlb_nest_types(a, got, LAYOUT_MAX), n);
	assert_memory_equal(got, want, n * sizeof(*want));
}

/* a message's (or a nest's) string attribute of type */
static const char *
msg_str(const struct nlmsghdr *nlh, uint16_t type)
{
	return (nlb_attr_str(nlb_msg_attr(nlh, type)));
}

static const char *
nest_str(const struct nlattr *a, uint16_t type)
{
	return (nlb_attr_str(nlb_nest_attr(a, type)));
}

/* a big-endian 32 or 64-bit attribute of nest a, in host order */
static uint32_t
nest_be32(const struct nlattr *a, uint16_t type)
{
	return (ntohl(nlb_attr_u32(nlb_nest_attr(a, type))));
}

static uint64_t
nest_be64(const struct nlattr *a, uint16_t type)
{
	uint64_t	 v;

	memcpy(&v, nlb_attr_data(nlb_nest_attr(a, type), sizeof(v)),
	    sizeof(v));
	return (be64toh(v));
}

/* An element message's table and set, and its element list (NULL: none) */
static const struct nlattr *
elem_msg_of(const struct nlmsghdr *nlh, const char *table, const char *set)
{
	assert_string_equal(msg_str(nlh, NFTA_SET_ELEM_LIST_TABLE), table);
	assert_string_equal(msg_str(nlh, NFTA_SET_ELEM_LIST_SET), set);
	return (nlb_msg_attr(nlh, NFTA_SET_ELEM_LIST_ELEMENTS));
}

/* Element i of list: its key is key[0 .. len - 1]. */
static const struct nlattr *
elem_of(const struct nlattr *list, unsigned i, const uint8_t *key,
    size_t len)
{
	const struct nlattr	*e = nlb_nest_nth(list, NFTA_LIST_ELEM, i);
	const struct nlattr	*k;

	assert_non_null(e);
	k = nlb_nest_attr(e, NFTA_SET_ELEM_KEY);
	nest_is(k, (const uint16_t []){ NFTA_DATA_VALUE }, 1);
	assert_memory_equal(nlb_attr_data(nlb_nest_attr(k, NFTA_DATA_VALUE),
	    len), key, len);
	return (e);
}

/* a connection of family from src to dst */
static struct fp_conn
conn(int family, const char *src, const char *dst, uint8_t proto,
    uint16_t sport, uint16_t dport, uint32_t mark)
{
	struct fp_conn	 c;

	memset(&c, 0, sizeof(c));
	c.family = (uint8_t)family;
	c.proto = proto;
	assert_int_equal(inet_pton(family, src, c.src.a8), 1);
	assert_int_equal(inet_pton(family, dst, c.dst.a8), 1);
	c.sport = sport;
	c.dport = dport;
	c.mark = mark;
	return (c);
}

static struct fp_conn
conn4(uint8_t proto, uint16_t sport, uint32_t mark)
{
	return (conn(AF_INET, "10.0.0.1", "10.0.0.2", proto, sport, 53, mark));
}

static struct fp_conn
conn6(uint8_t proto, uint16_t sport, uint32_t mark)
{
	return (conn(AF_INET6, "fd00::1", "fd00::2:1", proto, sport, 443,
	    mark));
}

/* ---- keys and names ------------------------------------------------------ */

static void
test_classes(void **state)
{
	(void)state;
	assert_int_equal(fpmsg_class(AF_INET, IPPROTO_TCP), 0);
	assert_int_equal(fpmsg_class(AF_INET, IPPROTO_UDP), 1);
	assert_int_equal(fpmsg_class(AF_INET6, IPPROTO_TCP), 2);
	assert_int_equal(fpmsg_class(AF_INET6, IPPROTO_UDP), 3);
	assert_int_equal(fpmsg_class(AF_INET, IPPROTO_ICMP), -1);
	assert_int_equal(fpmsg_class(AF_UNSPEC, IPPROTO_TCP), -1);
	assert_string_equal(fpmsg_map_name(3), "conn_udp6");
	assert_string_equal(fpmsg_map_name(0), "conn_tcp4");
	assert_string_equal(fpmsg_map_name(4), "?");
	assert_string_equal(fpmsg_map_name(-1), "?");
	assert_int_equal(fpmsg_keylen(1), FPMSG_KEY4);
	assert_int_equal(fpmsg_keylen(2), FPMSG_KEY6);
}

static void
test_keys(void **state)
{
	struct fp_conn	 c = conn4(IPPROTO_TCP, 40000, 0), back;
	struct fp_conn	 c6 = conn6(IPPROTO_UDP, 5000, 0);
	uint8_t		 key[FPMSG_KEYMAX];
	static const uint8_t want[FPMSG_KEY4] = {
		10, 0, 0, 1, 0x9c, 0x40, 0, 0, 10, 0, 0, 2, 0, 53, 0, 0
	};
	static const uint8_t want_reply[FPMSG_KEY4] = {
		10, 0, 0, 2, 0, 53, 0, 0, 10, 0, 0, 1, 0x9c, 0x40, 0, 0
	};

	(void)state;
	/* the layout nft gives saddr . sport . daddr . dport */
	assert_int_equal(fpmsg_key(&c, FPMSG_ORIG, key), FPMSG_KEY4);
	assert_memory_equal(key, want, sizeof(want));
	assert_int_equal(fpmsg_key(&c, FPMSG_REPLY, key), FPMSG_KEY4);
	assert_memory_equal(key, want_reply, sizeof(want_reply));
	/* the reply key read back as a reply is the connection again */
	assert_int_equal(fpmsg_key_conn(0, key, FPMSG_KEY4, FPMSG_REPLY,
	    &back), 0);
	assert_memory_equal(&back, &c, sizeof(c));
	assert_int_equal(fpmsg_key(&c6, FPMSG_REPLY, key), FPMSG_KEY6);
	assert_int_equal(fpmsg_key_conn(3, key, FPMSG_KEY6, FPMSG_REPLY,
	    &back), 0);
	assert_memory_equal(&back, &c6, sizeof(c6));
	/* wrong length, wrong class, bytes in the padding */
	assert_int_equal(fpmsg_key_conn(3, key, FPMSG_KEY4, FPMSG_ORIG,
	    &back), -1);
	assert_int_equal(fpmsg_key_conn(5, key, FPMSG_KEY6, FPMSG_ORIG,
	    &back), -1);
	key[18] = 1;
	assert_int_equal(fpmsg_key_conn(3, key, FPMSG_KEY6, FPMSG_ORIG,
	    &back), -1);
}

static void
test_chain_name(void **state)
{
	char	 b[FPMSG_CHAINMAX];

	(void)state;
	assert_int_equal(fpmsg_chain_name(0, b, sizeof(b)), 0);
	assert_string_equal(b, FPMSG_NOMARK);
	assert_int_equal(fpmsg_chain_name(0x10, b, sizeof(b)), 0);
	assert_string_equal(b, "mark_0x00000010");
	assert_int_equal(fpmsg_chain_name(0x7fffffff, b, sizeof(b)), 0);
	assert_string_equal(b, "mark_0x7fffffff");
	assert_int_equal(fpmsg_chain_name(0x10, b, 15), -1);
}

static void
test_table_name(void **state)
{
	char	 b[FP_TABLE_NAMELEN];

	(void)state;
	assert_int_equal(fastpath_table_name(65535, b, sizeof(b)), 0);
	assert_string_equal(b, "nfqspid-fp-65535");
	assert_int_equal(fastpath_table_name(7, b, 11), -1);
}

static void
test_ruleset(void **state)
{
	struct fp_params p = { .queue = 9, .tcp_timeout_s = 432000,
			       .udp_timeout_s = 120, .max = 1000 };
	static char	 b[16384];
	int		 n;

	(void)state;
	n = fpmsg_ruleset(&p, b, sizeof(b));
	assert_true(n > 0 && (size_t)n == strlen(b));
	/* replaced atomically: declared, deleted, made again */
	assert_non_null(strstr(b, "table inet nfqspid-fp-9\n"
	    "delete table inet nfqspid-fp-9\ntable inet nfqspid-fp-9 {\n"));
	/* each map times out, and counts: the one lookup a packet */
	assert_non_null(strstr(b, "map conn_tcp6 {\n\t\ttype ipv6_addr . "
	    "inet_service . ipv6_addr . inet_service : verdict\n\t\tflags "
	    "timeout\n\t\ttimeout 432000s\n\t\tsize 2000\n\t\tcounter\n"));
	assert_non_null(strstr(b, "map conn_udp4 {\n\t\ttype ipv4_addr . "
	    "inet_service . ipv4_addr . inet_service : verdict\n\t\tflags "
	    "timeout\n\t\ttimeout 120s\n\t\tsize 2000\n\t\tcounter\n"));
	assert_null(strstr(b, "\tset "));
	/* the packet path refreshes nothing */
	assert_null(strstr(b, "update"));
	assert_null(strstr(b, "dynamic"));
	/* the connections without a mark keep the packet's */
	assert_non_null(strstr(b, "\tchain nomark {\n\t\tmeta mark set "
	    "meta mark | 0x80000000\n\t}\n"));
	/* family and protocol first; no SYN, FIN, RST, no fragment */
	assert_non_null(strstr(b, "\t\tmeta l4proto tcp meta nfproto ipv4 "
	    "ip frag-off & 0x3fff == 0 tcp flags & (fin | syn | rst) == 0 "
	    "ip saddr . tcp sport . ip daddr . tcp dport vmap @conn_tcp4\n"));
	/* -5: the four lookups, then the bit off what found nothing */
	assert_non_null(strstr(b, "type filter hook forward priority filter "
	    "- 5; policy accept;\n\t\tmeta l4proto tcp"));
	assert_non_null(strstr(b, "meta l4proto udp meta nfproto ipv6 "
	    "exthdr frag missing ip6 saddr . udp sport . ip6 daddr . udp "
	    "dport vmap @conn_udp6\n\t\tmeta mark & 0x80000000 != 0 meta "
	    "mark set meta mark & 0x7fffffff\n\t}\n"));
	/* +5 */
	assert_non_null(strstr(b, "chain output_after {\n\t\ttype filter "
	    "hook output priority filter + 5; policy accept;\n\t\tmeta mark "
	    "& 0x80000000 != 0 meta mark set meta mark & 0x7fffffff\n"));
	assert_int_equal(fpmsg_ruleset(&p, b, (size_t)n), -1);
	assert_int_equal(fpmsg_ruleset(&p, b, 100), -1);
}

/* ---- batches, read back ---------------------------------------------------- */

struct seen {
	struct fpmsg_elem	 e[300];
	size_t			 n;
};

static int
collect(const struct fpmsg_elem *e, void *arg)
{
	struct seen	*s = arg;

	assert_true(s->n < 300);
	s->e[s->n++] = *e;
	return (0);
}

static void
test_batch(void **state)
{
	static uint8_t		 buf[8192] __attribute__((aligned(4)));
	struct fpmsg_buf	 b;
	struct fp_conn		 c = conn4(IPPROTO_UDP, 1000, 0x10);
	const struct nlmsghdr	*nlh;
	const struct nfgenmsg	*nfg;
	const struct nlattr	*list, *elem, *a;
	uint8_t			 key[FPMSG_KEYMAX];
	char			 chain[FPMSG_CHAINMAX];
	struct seen		 s;
	size_t			 off = 0, len;
	int			 dir;

	(void)state;
	fpmsg_init(&b, buf, sizeof(buf), 100);
	assert_int_equal(fpmsg_begin(&b), 0);
	assert_int_equal(fpmsg_open(&b, NFT_MSG_NEWSETELEM, "nfqspid-fp-1",
	    "conn_udp4"), 0);
	assert_int_equal(fpmsg_chain_name(c.mark, chain, sizeof(chain)), 0);
	for (dir = FPMSG_ORIG; dir <= FPMSG_REPLY; dir++) {
		len = fpmsg_key(&c, dir, key);
		assert_int_equal(fpmsg_put(&b, key, len, chain, dir,
		    dir == FPMSG_REPLY ? 120000 : 0), 0);
	}
	assert_int_equal(fpmsg_close(&b), 0);
	assert_int_equal(fpmsg_open(&b, FPMSG_DESTROYSETELEM, "nfqspid-fp-1",
	    "conn_udp4"), 0);
	assert_int_equal(fpmsg_put(&b, key, len, NULL, FPMSG_REPLY, 0), 0);
	assert_int_equal(fpmsg_close(&b), 0);
	/* a message without elements: the flush of a set */
	assert_int_equal(fpmsg_open(&b, NFT_MSG_DELSETELEM, "nfqspid-fp-1",
	    "conn_udp4"), 0);
	assert_int_equal(fpmsg_close(&b), 0);
	assert_int_equal(fpmsg_end(&b), 0);
	assert_int_equal(b.nacks, 3);
	assert_int_equal(b.first, 101);

	nlh = nlb_next(buf, b.len, &off);
	assert_int_equal(nlh->nlmsg_type, NFNL_MSG_BATCH_BEGIN);
	nfg = (const struct nfgenmsg *)((const uint8_t *)nlh + NLMSG_HDRLEN);
	assert_int_equal(ntohs(nfg->res_id), NFNL_SUBSYS_NFTABLES);
	nlh = nlb_next(buf, b.len, &off);
	assert_int_equal(nlh->nlmsg_type, ELEMTYPE);
	assert_int_equal(nlh->nlmsg_seq, 101);
	assert_int_equal(nlh->nlmsg_flags, NLM_F_REQUEST | NLM_F_ACK |
	    NLM_F_CREATE);
	nfg = (const struct nfgenmsg *)((const uint8_t *)nlh + NLMSG_HDRLEN);
	assert_int_equal(nfg->nfgen_family, NFPROTO_INET);
	/* attribute by attribute: the set, then its two elements, each a
	   key and goto the mark's chain; the reply's renewed timers */
	msg_is(nlh, (const uint16_t []){ NFTA_SET_ELEM_LIST_TABLE,
	    NFTA_SET_ELEM_LIST_SET, NFTA_SET_ELEM_LIST_ELEMENTS }, 3);
	list = elem_msg_of(nlh, "nfqspid-fp-1", "conn_udp4");
	nest_is(list, (const uint16_t []){ NFTA_LIST_ELEM, NFTA_LIST_ELEM },
	    2);
	for (dir = FPMSG_ORIG; dir <= FPMSG_REPLY; dir++) {
		len = fpmsg_key(&c, dir, key);
		elem = elem_of(list, (unsigned)dir, key, len);
		if (dir == FPMSG_ORIG)
			nest_is(elem, (const uint16_t []){ NFTA_SET_ELEM_KEY,
			    NFTA_SET_ELEM_DATA, NFTA_SET_ELEM_USERDATA }, 3);
		else {
			nest_is(elem, (const uint16_t []){ NFTA_SET_ELEM_KEY,
			    NFTA_SET_ELEM_DATA, NFTA_SET_ELEM_TIMEOUT,
			    NFTA_SET_ELEM_EXPIRATION, NFTA_SET_ELEM_USERDATA },
			    5);
			assert_int_equal(nest_be64(elem, NFTA_SET_ELEM_TIMEOUT),
			    120000);
			assert_int_equal(nest_be64(elem,
			    NFTA_SET_ELEM_EXPIRATION), 120000);
		}
		a = nlb_nest_attr(elem, NFTA_SET_ELEM_DATA);
		nest_is(a, (const uint16_t []){ NFTA_DATA_VERDICT }, 1);
		a = nlb_nest_attr(a, NFTA_DATA_VERDICT);
		nest_is(a, (const uint16_t []){ NFTA_VERDICT_CODE,
		    NFTA_VERDICT_CHAIN }, 2);
		assert_int_equal((int32_t)nest_be32(a, NFTA_VERDICT_CODE),
		    NFT_GOTO);
		assert_string_equal(nest_str(a, NFTA_VERDICT_CHAIN),
		    "mark_0x00000010");
		/* nft's comment: type 0, its length, the direction */
		assert_memory_equal(nlb_attr_data(nlb_nest_attr(elem,
		    NFTA_SET_ELEM_USERDATA), dir == FPMSG_ORIG ? 7 : 8),
		    dir == FPMSG_ORIG ? "\0\5orig" : "\0\6reply",
		    dir == FPMSG_ORIG ? 7 : 8);
	}
	/* what was built reads back as the kernel would read it */
	memset(&s, 0, sizeof(s));
	assert_int_equal(fpmsg_dump_parse((const uint8_t *)nlh, nlh->nlmsg_len,
	    101, collect, &s), 0);
	assert_int_equal(s.n, 2);
	assert_int_equal(s.e[0].dir, FPMSG_ORIG);
	assert_int_equal(s.e[1].dir, FPMSG_REPLY);
	/* a renewal: its time starts again */
	assert_false(s.e[0].has_expires);
	assert_true(s.e[1].has_expires);
	assert_int_equal(s.e[1].expires_ms, 120000);
	/* the verdict: goto the mark's chain, read back as written */
	assert_true(s.e[0].has_data && s.e[1].has_data);
	assert_string_equal(s.e[1].chain, "mark_0x00000010");
	assert_int_equal(s.e[1].keylen, FPMSG_KEY4);
	assert_memory_equal(s.e[1].key, key, FPMSG_KEY4);
	nlh = nlb_next(buf, b.len, &off);
	assert_int_equal(nlh->nlmsg_type, NLB_NFT(FPMSG_DESTROYSETELEM));
	assert_int_equal(nlh->nlmsg_flags, NLM_F_REQUEST | NLM_F_ACK);
	/* the reply's key alone: no verdict, no timers */
	list = elem_msg_of(nlh, "nfqspid-fp-1", "conn_udp4");
	nest_is(list, (const uint16_t []){ NFTA_LIST_ELEM }, 1);
	elem = elem_of(list, 0, key, len);
	nest_is(elem, (const uint16_t []){ NFTA_SET_ELEM_KEY,
	    NFTA_SET_ELEM_USERDATA }, 2);
	nlh = nlb_next(buf, b.len, &off);
	assert_int_equal(nlh->nlmsg_type, NLB_NFT(NFT_MSG_DELSETELEM));
	msg_is(nlh, (const uint16_t []){ NFTA_SET_ELEM_LIST_TABLE,
	    NFTA_SET_ELEM_LIST_SET }, 2);
	assert_null(elem_msg_of(nlh, "nfqspid-fp-1", "conn_udp4"));
	assert_int_equal(nlh->nlmsg_len, MSG_ATTRS + NLA_ALIGN(NLA_HDRLEN +
	    sizeof("nfqspid-fp-1")) + NLA_ALIGN(NLA_HDRLEN +
	    sizeof("conn_udp4")));
	nlh = nlb_next(buf, b.len, &off);
	assert_int_equal(nlh->nlmsg_type, NFNL_MSG_BATCH_END);
	assert_int_equal(off, b.len);
	/* misuse */
	assert_int_equal(fpmsg_close(&b), -1);
	assert_int_equal(fpmsg_put(&b, key, len, NULL, 0, 0), -1);
	/* a chain name too long for FPMSG_CHAINMAX */
	fpmsg_init(&b, buf, sizeof(buf), 1);
	assert_int_equal(fpmsg_open(&b, NFT_MSG_NEWSETELEM, "t", "s"), 0);
	assert_int_equal(fpmsg_put(&b, key, len, "a_chain_name_of_24_bytes",
	    0, 0), -1);
	assert_int_equal(errno, EINVAL);
}

/* A mark's chain: NEWCHAIN, DELRULE (emptied), then NEWRULE of
   immediate and meta set. */
static void
test_mark_chain(void **state)
{
	static uint8_t		 buf[1024] __attribute__((aligned(4)));
	struct fpmsg_buf	 b;
	const struct nlmsghdr	*nlh;
	const struct nlattr	*list, *expr, *data;
	size_t			 off = 0, before;

	(void)state;
	fpmsg_init(&b, buf, sizeof(buf), 10);
	assert_int_equal(fpmsg_begin(&b), 0);
	before = b.len;
	assert_int_equal(fpmsg_mark_chain(&b, "nfqspid-fp-1", 0x10), 0);
	assert_true(b.len - before <= FPMSG_CHAINMSGMAX);
	assert_int_equal(fpmsg_end(&b), 0);
	assert_int_equal(b.nacks, 3);
	assert_int_equal(b.first, 11);
	(void)nlb_next(buf, b.len, &off);
	nlh = nlb_next(buf, b.len, &off);
	assert_int_equal(nlh->nlmsg_type, NLB_NFT(NFT_MSG_NEWCHAIN));
	assert_int_equal(nlh->nlmsg_flags, NLM_F_REQUEST | NLM_F_ACK |
	    NLM_F_CREATE);
	assert_int_equal(nlh->nlmsg_seq, 11);
	msg_is(nlh, (const uint16_t []){ NFTA_CHAIN_TABLE, NFTA_CHAIN_NAME },
	    2);
	assert_string_equal(msg_str(nlh, NFTA_CHAIN_TABLE), "nfqspid-fp-1");
	assert_string_equal(msg_str(nlh, NFTA_CHAIN_NAME), "mark_0x00000010");
	/* without a handle: every rule of the chain */
	nlh = nlb_next(buf, b.len, &off);
	assert_int_equal(nlh->nlmsg_type, NLB_NFT(NFT_MSG_DELRULE));
	assert_int_equal(nlh->nlmsg_flags, NLM_F_REQUEST | NLM_F_ACK);
	assert_int_equal(nlh->nlmsg_len, MSG_ATTRS + NLA_ALIGN(NLA_HDRLEN +
	    sizeof("nfqspid-fp-1")) + NLA_ALIGN(NLA_HDRLEN +
	    sizeof("mark_0x00000010")));
	msg_is(nlh, (const uint16_t []){ NFTA_RULE_TABLE, NFTA_RULE_CHAIN },
	    2);
	assert_string_equal(msg_str(nlh, NFTA_RULE_TABLE), "nfqspid-fp-1");
	assert_string_equal(msg_str(nlh, NFTA_RULE_CHAIN), "mark_0x00000010");
	nlh = nlb_next(buf, b.len, &off);
	assert_int_equal(nlh->nlmsg_type, NLB_NFT(NFT_MSG_NEWRULE));
	assert_int_equal(nlh->nlmsg_flags, NLM_F_REQUEST | NLM_F_ACK |
	    NLM_F_CREATE | NLM_F_APPEND);
	msg_is(nlh, (const uint16_t []){ NFTA_RULE_TABLE, NFTA_RULE_CHAIN,
	    NFTA_RULE_EXPRESSIONS }, 3);
	assert_string_equal(msg_str(nlh, NFTA_RULE_TABLE), "nfqspid-fp-1");
	assert_string_equal(msg_str(nlh, NFTA_RULE_CHAIN), "mark_0x00000010");
	/* two expressions, in this order */
	list = nlb_msg_attr(nlh, NFTA_RULE_EXPRESSIONS);
	nest_is(list, (const uint16_t []){ NFTA_LIST_ELEM, NFTA_LIST_ELEM },
	    2);
	/* immediate: register 1 = the mark with the bit, a host-order
	   word (the value the packet gets) */
	expr = nlb_nest_nth(list, NFTA_LIST_ELEM, 0);
	nest_is(expr, (const uint16_t []){ NFTA_EXPR_NAME, NFTA_EXPR_DATA }, 2);
	assert_string_equal(nest_str(expr, NFTA_EXPR_NAME), "immediate");
	data = nlb_nest_attr(expr, NFTA_EXPR_DATA);
	nest_is(data, (const uint16_t []){ NFTA_IMMEDIATE_DREG,
	    NFTA_IMMEDIATE_DATA }, 2);
	assert_int_equal(nest_be32(data, NFTA_IMMEDIATE_DREG), NFT_REG_1);
	data = nlb_nest_attr(data, NFTA_IMMEDIATE_DATA);
	nest_is(data, (const uint16_t []){ NFTA_DATA_VALUE }, 1);
	assert_int_equal(nlb_attr_u32(nlb_nest_attr(data, NFTA_DATA_VALUE)),
	    0x80000010);
	/* meta: the packet's mark = register 1 */
	expr = nlb_nest_nth(list, NFTA_LIST_ELEM, 1);
	nest_is(expr, (const uint16_t []){ NFTA_EXPR_NAME, NFTA_EXPR_DATA }, 2);
	assert_string_equal(nest_str(expr, NFTA_EXPR_NAME), "meta");
	data = nlb_nest_attr(expr, NFTA_EXPR_DATA);
	nest_is(data, (const uint16_t []){ NFTA_META_KEY, NFTA_META_SREG }, 2);
	assert_int_equal(nest_be32(data, NFTA_META_KEY), NFT_META_MARK);
	assert_int_equal(nest_be32(data, NFTA_META_SREG), NFT_REG_1);
	nlh = nlb_next(buf, b.len, &off);
	assert_int_equal(nlh->nlmsg_type, NFNL_MSG_BATCH_END);
	/* no chain for "no mark", nor for the bit */
	assert_int_equal(fpmsg_mark_chain(&b, "t", 0), -1);
	assert_int_equal(errno, EINVAL);
	assert_int_equal(fpmsg_mark_chain(&b, "t", 0x80000001), -1);
	/* no room: nothing half written */
	fpmsg_init(&b, buf, 200, 3);
	assert_int_equal(fpmsg_mark_chain(&b, "nfqspid-fp-1", 0x10), -1);
	assert_int_equal(errno, ENOSPC);
	assert_int_equal(b.len, 0);
	assert_int_equal(b.seq, 3);
	assert_int_equal(b.nacks, 0);
	/* the chain's removal: one acked DELCHAIN */
	fpmsg_init(&b, buf, sizeof(buf), 3);
	assert_int_equal(fpmsg_del_chain(&b, "nfqspid-fp-1", 0x10), 0);
	assert_int_equal(b.nacks, 1);
	off = 0;
	nlh = nlb_next(buf, b.len, &off);
	assert_int_equal(nlh->nlmsg_type, NLB_NFT(NFT_MSG_DELCHAIN));
	assert_int_equal(nlh->nlmsg_flags, NLM_F_REQUEST | NLM_F_ACK);
	msg_is(nlh, (const uint16_t []){ NFTA_CHAIN_TABLE, NFTA_CHAIN_NAME },
	    2);
	assert_string_equal(msg_str(nlh, NFTA_CHAIN_TABLE), "nfqspid-fp-1");
	assert_string_equal(msg_str(nlh, NFTA_CHAIN_NAME), "mark_0x00000010");
	assert_int_equal(fpmsg_del_chain(&b, "t", 0), -1);
	assert_int_equal(errno, EINVAL);
	/* not inside an open element message */
	fpmsg_init(&b, buf, sizeof(buf), 3);
	assert_int_equal(fpmsg_open(&b, NFT_MSG_NEWSETELEM, "t", "s"), 0);
	assert_int_equal(fpmsg_mark_chain(&b, "t", 0x10), -1);
	assert_int_equal(errno, EINVAL);
}

static int
count_elem(const struct fpmsg_elem *e, void *arg)
{
	(void)e;
	(*(int *)arg)++;
	return (0);
}

/* The elements of one message stop at 64 KiB; the buffer's end too. */
static void
test_limits(void **state)
{
	static uint8_t		 buf[256 * 1024] __attribute__((aligned(4)));
	static uint8_t		 small[120] __attribute__((aligned(4)));
	struct fpmsg_buf	 b;
	struct fp_conn		 c = conn6(IPPROTO_TCP, 1, 0x7fffffff);
	uint8_t			 key[FPMSG_KEYMAX];
	char			 chain[FPMSG_CHAINMAX];
	const struct nlmsghdr	*nlh;
	size_t			 n = 0, len, before;
	int			 count = 0;

	(void)state;
	fpmsg_init(&b, buf, sizeof(buf), 1);
	assert_int_equal(fpmsg_open(&b, NFT_MSG_NEWSETELEM, "t", "s"), 0);
	len = fpmsg_key(&c, FPMSG_ORIG, key);
	/* the longest element: IPv6, the longest chain name, a timeout */
	assert_int_equal(fpmsg_chain_name(c.mark, chain, sizeof(chain)), 0);
	for (;;) {
		before = b.len;
		if (fpmsg_put(&b, key, len, chain, FPMSG_REPLY, 1000) == -1)
			break;
		assert_true(b.len - before <= FPMSG_ELEMMAX);
		n++;
	}
	assert_int_equal(errno, ENOSPC);
	assert_int_equal(b.len, before);
	assert_true(n > 400);
	assert_int_equal(fpmsg_close(&b), 0);
	nlh = (const struct nlmsghdr *)buf;
	assert_int_equal(nlh->nlmsg_len, b.len);
	/* every element reads back */
	assert_int_equal(fpmsg_dump_parse(buf, b.len, 1, count_elem, &count),
	    0);
	assert_int_equal((size_t)count, n);

	/* a buffer too small for the second element: the first stays */
	fpmsg_init(&b, small, sizeof(small), 1);
	assert_int_equal(fpmsg_open(&b, NFT_MSG_NEWSETELEM, "t", "s"), 0);
	assert_int_equal(fpmsg_put(&b, key, len, NULL, 0, 0), 0);
	before = b.len;
	assert_int_equal(fpmsg_put(&b, key, len, NULL, 0, 0), -1);
	assert_int_equal(b.len, before);
	assert_int_equal(fpmsg_close(&b), 0);
	assert_int_equal(fpmsg_end(&b), -1);
	assert_int_equal(errno, ENOSPC);
	/* an open that does not fit leaves nothing behind */
	fpmsg_init(&b, small, 20, 5);
	assert_int_equal(fpmsg_open(&b, NFT_MSG_NEWSETELEM, "t", "s"), -1);
	assert_int_equal(b.len, 0);
	assert_int_equal(b.seq, 5);
}

/* ---- the kernel's answers ---------------------------------------------------- */

/* two elements of conn_tcp4 (pkts 5, then 6) as the kernel dumps them,
   their counter in NFTA_SET_ELEM_EXPRESSIONS or, before, _EXPR */
static void
elem_msg(struct nlb *d, uint32_t seq, int list_exprs)
{
	struct fp_conn	 c = conn4(IPPROTO_TCP, 7, 0);
	uint8_t		 key[FPMSG_KEYMAX];
	struct nlb_elem	 e = {
		.key = key, .chain = "mark_0x00000010", .timeout_ms = 30000,
		.expires_ms = 29000, .pkts = 5, .bytes = 500,
		.comment = "reply", .newer = 1,
	};

	e.keylen = fpmsg_key(&c, FPMSG_REPLY, key);
	e.counter = list_exprs ? NLB_EXPRESSIONS : NLB_EXPR;
	nlb_elems(d, seq, 0, AF_UNSPEC, "nfqspid-fp-1", "conn_tcp4");
	nlb_elem(d, &e);
	e.pkts = 6;
	e.bytes = 600;
	nlb_elem(d, &e);
	nlb_unnest(d);
}

static void
test_dump(void **state)
{
	struct nlb	*d = calloc(1, sizeof(*d));
	struct seen	*s = calloc(1, sizeof(*s));
	int		 lists;

	(void)state;
	assert_non_null(d);
	assert_non_null(s);
	for (lists = 0; lists <= 1; lists++) {
		nlb_reset(d);
		memset(s, 0, sizeof(*s));
		elem_msg(d, 42, lists);
		assert_int_equal(fpmsg_dump_parse(d->b, d->len, 42, collect, s),
		    0);
		assert_int_equal(s->n, 2);
		assert_true(s->e[0].has_counter && s->e[0].has_data &&
		    s->e[0].has_expires);
		assert_int_equal(s->e[0].pkts, 5);
		assert_int_equal(s->e[1].bytes, 600);
		assert_int_equal(s->e[0].expires_ms, 29000);
		assert_string_equal(s->e[0].chain, "mark_0x00000010");
		assert_int_equal(s->e[0].dir, FPMSG_REPLY);
		nlb_done(d, 42, 0);
		s->n = 0;
		assert_int_equal(fpmsg_dump_parse(d->b, d->len, 42, collect, s),
		    1);
		assert_int_equal(s->n, 2);
	}
	/* the kernel's error; another request's answer */
	nlb_reset(d);
	nlb_err(d, 42, -ENOENT, NULL);
	assert_int_equal(fpmsg_dump_parse(d->b, d->len, 42, collect, s), -1);
	assert_int_equal(errno, ENOENT);
	assert_int_equal(fpmsg_dump_parse(d->b, d->len, 43, collect, s), -1);
	assert_int_equal(errno, EPROTO);
	free(d);
	free(s);
}

/* Every length is checked: cut anywhere, the datagram is refused. */
static void
test_dump_malformed(void **state)
{
	struct nlb	*d = calloc(1, sizeof(*d));
	struct nlb	*m = calloc(1, sizeof(*m));
	struct seen	*s = calloc(1, sizeof(*s));
	struct nlmsghdr	*nlh;
	const struct nlattr *elem, *a, *cdata;
	size_t		 cut, i, counter, code, chain;
	uint16_t	 t;
	int		 rc;

	(void)state;
	assert_non_null(d);
	assert_non_null(m);
	assert_non_null(s);
	elem_msg(d, 1, 1);
	/* the message claims less than it holds: attributes overrun it */
	for (cut = MSG_ATTRS + 1; cut < d->len; cut++) {
		*m = *d;
		nlh = (struct nlmsghdr *)m->b;
		nlh->nlmsg_len = (uint32_t)cut;
		s->n = 0;
		rc = fpmsg_dump_parse(m->b, cut, 1, collect, s);
		assert_true(rc == -1 || rc == 0);
		if (rc == -1)
			assert_int_equal(errno, EPROTO);
		assert_true(s->n <= 2);
	}
	/* any attribute length byte changed: no crash, no garbage */
	for (i = MSG_ATTRS; i + 1 < d->len; i += 4) {
		*m = *d;
		m->b[i] ^= 0x3c;
		s->n = 0;
		(void)fpmsg_dump_parse(m->b, m->len, 1, collect, s);
		assert_true(s->n <= 2);
	}
	/* where the first element's counter and verdict lie */
	elem = nlb_nest_nth(nlb_msg_attr((const struct nlmsghdr *)d->b,
	    NFTA_SET_ELEM_LIST_ELEMENTS), NFTA_LIST_ELEM, 0);
	a = nlb_nest_nth(nlb_nest_attr(elem, NFTA_SET_ELEM_EXPRESSIONS),
	    NFTA_LIST_ELEM, 0);
	assert_string_equal(nest_str(a, NFTA_EXPR_NAME), "counter");
	cdata = nlb_nest_attr(a, NFTA_EXPR_DATA);
	a = nlb_nest_attr(nlb_nest_attr(elem, NFTA_SET_ELEM_DATA),
	    NFTA_DATA_VERDICT);
	code = (size_t)((const uint8_t *)nlb_attr_data(nlb_nest_attr(a,
	    NFTA_VERDICT_CODE), 4) - d->b);
	chain = (size_t)((const uint8_t *)nlb_attr_data(nlb_nest_attr(a,
	    NFTA_VERDICT_CHAIN), 16) - d->b);
	/* a counter of the wrong size: its bytes or packets, 8 -> 4, the 4
	   left an empty attribute of no type, so that the nest parses */
	for (t = NFTA_COUNTER_BYTES; t <= NFTA_COUNTER_PACKETS; t++) {
		assert_non_null(a = nlb_nest_attr(cdata, t));
		counter = (size_t)((const uint8_t *)a - d->b);
		*m = *d;
		((struct nlattr *)(m->b + counter))->nla_len = NLA_HDRLEN + 4;
		((struct nlattr *)(m->b + counter + NLA_HDRLEN + 4))->nla_len =
		    NLA_HDRLEN;
		((struct nlattr *)(m->b + counter + NLA_HDRLEN +
		    4))->nla_type = NFTA_COUNTER_UNSPEC;
		assert_int_equal(fpmsg_dump_parse(m->b, m->len, 1, collect, s),
		    -1);
		assert_int_equal(errno, EPROTO);
	}
	/* a verdict other than goto (NFT_JUMP), which root can put: the
	   element without data, the dump whole */
	*m = *d;
	m->b[code + 3] = 0xfd;
	s->n = 0;
	assert_int_equal(fpmsg_dump_parse(m->b, m->len, 1, collect, s), 0);
	assert_int_equal(s->n, 2);
	assert_false(s->e[0].has_data);
	assert_string_equal(s->e[0].chain, "");
	assert_true(s->e[0].has_counter);
	assert_true(s->e[1].has_data);
	/* a chain name without its NUL */
	*m = *d;
	m->b[chain + 15] = 'x';
	assert_int_equal(fpmsg_dump_parse(m->b, m->len, 1, collect, s), -1);
	assert_int_equal(errno, EPROTO);
	/* ... or with a NUL inside: not the name we would send back */
	*m = *d;
	m->b[chain + 4] = '\0';
	assert_int_equal(fpmsg_dump_parse(m->b, m->len, 1, collect, s), -1);
	assert_int_equal(errno, EPROTO);
	/* a message of another type */
	*m = *d;
	((struct nlmsghdr *)m->b)->nlmsg_type = NLB_NFT(NFT_MSG_NEWSET);
	assert_int_equal(fpmsg_dump_parse(m->b, m->len, 1, collect, s), -1);
	assert_int_equal(errno, EPROTO);
	free(d);
	free(m);
	free(s);
}

static void
test_acks(void **state)
{
	struct nlb	*d = calloc(1, sizeof(*d));
	int		 err = 0;

	(void)state;
	assert_non_null(d);
	nlb_err(d, 10, 0, NULL);
	nlb_err(d, 11, -EEXIST, NULL);
	nlb_err(d, 12, -ENOENT, NULL);
	assert_int_equal(fpmsg_acks(d->b, d->len, 10, 3, &err), 3);
	assert_int_equal(err, EEXIST);		/* the first one */
	err = 0;
	/* an answer to a sequence number we did not send */
	assert_int_equal(fpmsg_acks(d->b, d->len, 10, 2, &err), -1);
	assert_int_equal(errno, EPROTO);
	assert_int_equal(fpmsg_acks(d->b, d->len, 11, 3, &err), -1);
	/* cut short */
	assert_int_equal(fpmsg_acks(d->b, d->len - 4, 10, 3, &err), -1);
	assert_int_equal(errno, EPROTO);
	/* the batch refused at its BEGIN (seq first - 1): all answered */
	nlb_reset(d);
	err = 0;
	nlb_err(d, 9, -EPERM, NULL);
	assert_int_equal(fpmsg_acks(d->b, d->len, 10, 3, &err), 3);
	assert_int_equal(err, EPERM);
	/* ... but an ack of it, or one before other answers, is not so */
	nlb_reset(d);
	nlb_err(d, 9, 0, NULL);
	assert_int_equal(fpmsg_acks(d->b, d->len, 10, 3, &err), -1);
	assert_int_equal(errno, EPROTO);
	nlb_reset(d);
	nlb_err(d, 9, -EPERM, NULL);
	nlb_err(d, 10, 0, NULL);
	assert_int_equal(fpmsg_acks(d->b, d->len, 10, 3, &err), -1);
	assert_int_equal(errno, EPROTO);
	nlb_reset(d);
	nlb_err(d, 10, -EEXIST, NULL);
	nlb_err(d, 9, -EPERM, NULL);
	assert_int_equal(fpmsg_acks(d->b, d->len, 10, 3, &err), -1);
	assert_int_equal(errno, EPROTO);
	/* not an ack */
	nlb_reset(d);
	nlb_done(d, 10, 0);
	assert_int_equal(fpmsg_acks(d->b, d->len, 10, 1, &err), -1);
	free(d);
}

static void
test_dump_req(void **state)
{
	uint8_t			 b[256] __attribute__((aligned(4)));
	const struct nlmsghdr	*nlh = (const struct nlmsghdr *)b;
	int			 n;

	(void)state;
	n = fpmsg_dump_req(b, sizeof(b), 77, "nfqspid-fp-3", "conn_udp6");
	assert_true(n > 0);
	assert_int_equal(nlh->nlmsg_len, n);
	assert_int_equal(nlh->nlmsg_type, NLB_NFT(NFT_MSG_GETSETELEM));
	assert_int_equal(nlh->nlmsg_flags, NLM_F_REQUEST | NLM_F_DUMP);
	assert_int_equal(nlh->nlmsg_seq, 77);
	msg_is(nlh, (const uint16_t []){ NFTA_SET_ELEM_LIST_TABLE,
	    NFTA_SET_ELEM_LIST_SET }, 2);
	assert_null(elem_msg_of(nlh, "nfqspid-fp-3", "conn_udp6"));
	assert_int_equal(fpmsg_dump_req(b, 40, 77, "nfqspid-fp-3",
	    "conn_udp6"), -1);
}

/* Gets: one message each, no batch, no ack asked; the key goes as put. */
static void
test_get(void **state)
{
	static uint8_t		 buf[4096] __attribute__((aligned(4)));
	struct fpmsg_buf	 b;
	struct fp_conn		 c = conn6(IPPROTO_TCP, 900, 0);
	const struct nlmsghdr	*nlh;
	const struct nlattr	*list, *elem;
	uint8_t			 key[FPMSG_KEYMAX];
	struct seen		*s = calloc(1, sizeof(*s));
	size_t			 off = 0, len;
	int			 dir;

	(void)state;
	assert_non_null(s);
	fpmsg_init(&b, buf, sizeof(buf), 500);
	for (dir = FPMSG_ORIG; dir <= FPMSG_REPLY; dir++) {
		len = fpmsg_key(&c, dir, key);
		assert_int_equal(fpmsg_get(&b, "nfqspid-fp-2", "conn_tcp6",
		    key, len), 0);
	}
	assert_int_equal(b.first, 500);
	assert_int_equal(b.nacks, 2);
	for (dir = FPMSG_ORIG; dir <= FPMSG_REPLY; dir++) {
		nlh = nlb_next(buf, b.len, &off);
		assert_int_equal(nlh->nlmsg_type, NLB_NFT(NFT_MSG_GETSETELEM));
		assert_int_equal(nlh->nlmsg_flags, NLM_F_REQUEST);
		assert_int_equal(nlh->nlmsg_seq, 500 + (uint32_t)dir);
		msg_is(nlh, (const uint16_t []){ NFTA_SET_ELEM_LIST_TABLE,
		    NFTA_SET_ELEM_LIST_SET, NFTA_SET_ELEM_LIST_ELEMENTS }, 3);
		list = elem_msg_of(nlh, "nfqspid-fp-2", "conn_tcp6");
		/* its element reads back as the kernel reads it */
		s->n = 0;
		assert_int_equal(fpmsg_dump_parse((const uint8_t *)nlh,
		    nlh->nlmsg_len, nlh->nlmsg_seq, collect, s), -1);
		assert_int_equal(errno, EPROTO);	/* not a NEWSETELEM */
		/* one element: the key, as put; no verdict, no timers */
		nest_is(list, (const uint16_t []){ NFTA_LIST_ELEM }, 1);
		len = fpmsg_key(&c, dir, key);
		elem = elem_of(list, 0, key, len);
		assert_null(nlb_nest_attr(elem, NFTA_SET_ELEM_DATA));
		assert_null(nlb_nest_attr(elem, NFTA_SET_ELEM_TIMEOUT));
	}
	assert_int_equal(off, b.len);
	/* no room: nothing half written, the sequence number unused */
	fpmsg_init(&b, buf, 100, 7);
	assert_int_equal(fpmsg_get(&b, "nfqspid-fp-2", "conn_tcp6", key,
	    FPMSG_KEY6), -1);
	assert_int_equal(errno, ENOSPC);
	assert_int_equal(b.len, 0);
	assert_int_equal(b.seq, 7);
	assert_int_equal(b.nacks, 0);
	assert_false(b.open);
	free(s);
}

/* The answers to gets: elements with their get's index, errors counted. */
static void
test_get_parse(void **state)
{
	struct nlb	*d = calloc(1, sizeof(*d));
	struct seen	*s = calloc(1, sizeof(*s));
	int		 err = 0;

	(void)state;
	assert_non_null(d);
	assert_non_null(s);
	elem_msg(d, 21, 0);		/* two elements, to get 1 */
	nlb_err(d, 22, -ENOENT, NULL);	/* get 2: not there */
	elem_msg(d, 20, 1);		/* get 0, answered later */
	assert_int_equal(fpmsg_get_parse(d->b, d->len, 20, 3, collect, s,
	    &err), 3);
	assert_int_equal(err, 0);	/* ENOENT is no error */
	assert_int_equal(s->n, 4);
	assert_int_equal(s->e[0].req, 1);
	assert_int_equal(s->e[1].req, 1);
	assert_int_equal(s->e[2].req, 0);
	assert_int_equal(s->e[2].pkts, 5);
	assert_int_equal(s->e[3].bytes, 600);
	assert_true(s->e[3].has_counter);
	/* another error is told, the answers still counted */
	nlb_reset(d);
	nlb_err(d, 20, -EPERM, NULL);
	nlb_err(d, 21, -ENOBUFS, NULL);
	assert_int_equal(fpmsg_get_parse(d->b, d->len, 20, 2, collect, s,
	    &err), 2);
	assert_int_equal(err, EPERM);
	/* a sequence number we did not send, a dump's end, a cut message */
	err = 0;
	assert_int_equal(fpmsg_get_parse(d->b, d->len, 21, 2, collect, s,
	    &err), -1);
	assert_int_equal(errno, EPROTO);
	nlb_reset(d);
	nlb_done(d, 20, 0);
	assert_int_equal(fpmsg_get_parse(d->b, d->len, 20, 1, collect, s,
	    &err), -1);
	assert_int_equal(errno, EPROTO);
	nlb_reset(d);
	elem_msg(d, 20, 0);
	assert_int_equal(fpmsg_get_parse(d->b, d->len - 4, 20, 1, collect, s,
	    &err), -1);
	assert_int_equal(errno, EPROTO);
	((struct nlmsghdr *)d->b)->nlmsg_len -= 8;	/* overrun inside */
	assert_int_equal(fpmsg_get_parse(d->b, d->len - 8, 20, 1, collect, s,
	    &err), -1);
	assert_int_equal(errno, EPROTO);
	free(d);
	free(s);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_classes),
		cmocka_unit_test(test_keys),
		cmocka_unit_test(test_chain_name),
		cmocka_unit_test(test_table_name),
		cmocka_unit_test(test_ruleset),
		cmocka_unit_test(test_batch),
		cmocka_unit_test(test_mark_chain),
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_dump),
		cmocka_unit_test(test_dump_malformed),
		cmocka_unit_test(test_acks),
		cmocka_unit_test(test_dump_req),
		cmocka_unit_test(test_get),
		cmocka_unit_test(test_get_parse),
	};

	return (cmocka_run_group_tests(tests, NULL, NULL));
}
