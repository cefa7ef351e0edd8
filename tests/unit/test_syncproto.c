/*
 * test_syncproto.c - the sync messages: build, seal, parse, replay
 *
 * Copyright (C) 2026 The nfqspid authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "syncproto.h"

static const char secret[] = "a shared secret of the pair, 32+";

static struct sync_key
key(const char *s)
{
	struct sync_key	 k;

	assert_int_equal(sync_key_init(&k, s, strlen(s)), 0);
	return (k);
}

static struct ct_snap
tcp_snap(int v6)
{
	struct ct_snap	 s;
	int		 d;

	memset(&s, 0, sizeof(s));
	s.k.family = v6 ? AF_INET6 : AF_INET;
	s.k.proto = IPPROTO_TCP;
	assert_int_equal(inet_pton(s.k.family, v6 ? "2001:db8::1" :
	    "10.0.0.1", &s.k.src), 1);
	assert_int_equal(inet_pton(s.k.family, v6 ? "2001:db8::2" :
	    "10.0.0.2", &s.k.dst), 1);
	s.k.sport = 41000;
	s.k.dport = 22;
	s.state = 3;			/* ESTABLISHED */
	s.flags = CT_SNAP_SEEN_REPLY | CT_SNAP_ASSURED;
	s.hook = PKT_HOOK_FORWARD;
	s.tclass = CT_TO_TCP_ESTABLISHED;
	s.aux = 0x17;
	s.mark = 0xdeadbeef;
	s.left_ms = 431999123;
	s.age_s = 77;
	s.packets = 123456;
	s.last_hash = 0xa5a5a5a5;
	for (d = 0; d < 2; d++) {
		s.tcp.end[d] = 0xfffff000u + (uint32_t)d;
		s.tcp.maxend[d] = 0x10000u + (uint32_t)d;
		s.tcp.maxwin[d] = 8388608u + (uint32_t)d;
		s.tcp.maxack[d] = 0x80000000u + (uint32_t)d;
		s.tcp.scale[d] = (uint8_t)(7 + 7 * d);
		s.tcp.dflags[d] = (uint8_t)(0x21 + d);
	}
	s.tcp.retrans = 2;
	s.tcp.last_index = 3;
	s.tcp.last_dir = 1;
	s.tcp.last_zerowin = 1;
	return (s);
}

static struct ct_snap
udp_snap(void)
{
	struct ct_snap	 s;

	memset(&s, 0, sizeof(s));
	s.k.family = AF_INET6;
	s.k.proto = IPPROTO_UDP;
	assert_int_equal(inet_pton(AF_INET6, "fe80::1", &s.k.src), 1);
	assert_int_equal(inet_pton(AF_INET6, "ff02::fb", &s.k.dst), 1);
	s.k.sport = 5353;
	s.k.dport = 5353;
	s.tclass = CT_TO_UDP;
	s.left_ms = 29000;
	return (s);
}

static const struct sync_hdr hdr0 = {
	.seq = 0xfffffffe, .ack = 17, .epoch = 0x0123456789abcdefULL,
	.msgno = 42
};

/* An UPDATE of three records, sealed into buf: its length. */
static size_t
update3(uint8_t *buf, size_t cap, const struct sync_key *k)
{
	struct sync_msg	 m;
	struct ct_snap	 a = tcp_snap(0), b = tcp_snap(1), c = udp_snap();

	assert_int_equal(sync_msg_init(&m, buf, cap, SYNC_T_UPDATE), 0);
	assert_int_equal(sync_msg_add_conn(&m, &a, "ssh-in"), 0);
	assert_int_equal(sync_msg_add_conn(&m, &c, NULL), 0);
	assert_int_equal(sync_msg_add_delete(&m, &b.k), 0);
	return (sync_msg_seal(&m, &hdr0, k));
}

static void
test_roundtrip(void **state)
{
	struct sync_key	 k = key(secret);
	struct sync_hdr	 h;
	struct sync_iter it;
	struct sync_rec	 r;
	struct ct_snap	 a = tcp_snap(0), c = udp_snap(), b = tcp_snap(1);
	uint8_t		 buf[SYNC_MSG_MAX];
	size_t		 len = update3(buf, sizeof(buf), &k);

	assert_int_equal(len, SYNC_HDRLEN + SYNC_REC_FIXED + 6 +
	    SYNC_REC_FIXED + SYNC_REC_DEL + SYNC_MACLEN);
	assert_int_equal(sync_msg_parse(buf, len, &k, &h), SYNC_OK);
	assert_int_equal(h.type, SYNC_T_UPDATE);
	assert_int_equal(h.count, 3);
	assert_int_equal(h.seq, hdr0.seq);
	assert_int_equal(h.ack, hdr0.ack);
	assert_true(h.epoch == hdr0.epoch);
	assert_true(h.msgno == hdr0.msgno);
	assert_int_equal(h.length, len);

	sync_iter_init(&it, buf, &h);
	assert_int_equal(sync_iter_rec(&it, &r), 1);
	assert_int_equal(r.op, SYNC_OP_UPSERT);
	assert_memory_equal(&r.s, &a, sizeof(a));
	assert_string_equal(r.rule, "ssh-in");
	assert_int_equal(sync_iter_rec(&it, &r), 1);
	assert_memory_equal(&r.s, &c, sizeof(c));
	assert_string_equal(r.rule, "");
	assert_int_equal(sync_iter_rec(&it, &r), 1);
	assert_int_equal(r.op, SYNC_OP_DELETE);
	assert_memory_equal(&r.s.k, &b.k, sizeof(b.k));
	assert_int_equal(sync_iter_rec(&it, &r), 0);

	/* a resend: new msgno and ack, the same body */
	h.msgno = 43;
	h.ack = 18;
	sync_reseal(buf, len, &h, &k);
	assert_int_equal(sync_msg_parse(buf, len, &k, &h), SYNC_OK);
	assert_true(h.msgno == 43);
	assert_int_equal(h.ack, 18);
	assert_int_equal(h.count, 3);
}

/* Whether a side's window was re-learnt since the record came, or is
   the peer's, is the node's own business (ct_snap_stale(),
   ct_snap_peer()): never on the wire. */
static void
test_local_flags(void **state)
{
	static const struct {
		void	(*mark)(struct ct_snap *);
		uint8_t	 flag;
	} marks[] = {
		{ ct_snap_stale, CT_SNAP_TD_LOCAL },
		{ ct_snap_peer, CT_SNAP_TD_PEER },
	};
	struct sync_key	 k = key(secret);
	struct sync_hdr	 h;
	struct sync_iter it;
	struct sync_rec	 r;
	struct sync_msg	 m;
	struct ct_snap	 a = tcp_snap(0), b;
	uint8_t		 buf[SYNC_MSG_MAX];
	size_t		 len, i;

	for (i = 0; i < sizeof(marks) / sizeof(marks[0]); i++) {
		b = tcp_snap(0);
		marks[i].mark(&b);
		assert_int_equal(b.tcp.dflags[0], a.tcp.dflags[0] |
		    marks[i].flag);
		assert_int_equal(b.tcp.dflags[1], a.tcp.dflags[1] |
		    marks[i].flag);
		assert_int_equal(sync_msg_init(&m, buf, sizeof(buf),
		    SYNC_T_UPDATE), 0);
		assert_int_equal(sync_msg_add_conn(&m, &b, "ssh-in"), 0);
		len = sync_msg_seal(&m, &hdr0, &k);
		assert_int_equal(sync_msg_parse(buf, len, &k, &h), SYNC_OK);
		sync_iter_init(&it, buf, &h);
		assert_int_equal(sync_iter_rec(&it, &r), 1);
		assert_memory_equal(&r.s, &a, sizeof(a));
	}
	/* a side never seen stays unknown; UDP has no window */
	b = tcp_snap(1);
	b.tcp.maxwin[1] = 0;
	ct_snap_stale(&b);
	assert_int_equal(b.tcp.dflags[0], 0x21 | CT_SNAP_TD_LOCAL);
	assert_int_equal(b.tcp.dflags[1], 0x22);
	b = udp_snap();
	a = b;
	ct_snap_stale(&b);
	assert_memory_equal(&a, &b, sizeof(a));
}

static void
test_control(void **state)
{
	struct sync_key	 k = key(secret);
	struct sync_hdr	 h;
	struct sync_iter it;
	struct sync_msg	 m;
	uint8_t		 buf[SYNC_MSG_MIN + 3 * SYNC_RANGE_LEN];
	uint32_t	 f, l;
	size_t		 len;
	int		 t;

	assert_int_equal(sync_msg_init(&m, buf, sizeof(buf), SYNC_T_NACK), 0);
	assert_int_equal(sync_msg_add_range(&m, 5, 9), 0);
	assert_int_equal(sync_msg_add_range(&m, 0xfffffff0u, 3), 0);
	assert_int_equal(sync_msg_add_range(&m, 7, 7), 0);
	/* full: the caller seals and starts another */
	errno = 0;
	assert_int_equal(sync_msg_add_range(&m, 8, 8), -1);
	assert_int_equal(errno, ENOSPC);
	len = sync_msg_seal(&m, &hdr0, &k);
	assert_int_equal(len, sizeof(buf));
	assert_int_equal(sync_msg_parse(buf, len, &k, &h), SYNC_OK);
	sync_iter_init(&it, buf, &h);
	assert_int_equal(sync_iter_range(&it, &f, &l), 1);
	assert_true(f == 5 && l == 9);
	assert_int_equal(sync_iter_range(&it, &f, &l), 1);
	assert_true(f == 0xfffffff0u && l == 3);
	assert_int_equal(sync_iter_range(&it, &f, &l), 1);
	assert_int_equal(sync_iter_range(&it, &f, &l), 0);
	/* backwards, or more than 2^31 apart */
	assert_int_equal(sync_msg_init(&m, buf, sizeof(buf), SYNC_T_NACK), 0);
	errno = 0;
	assert_int_equal(sync_msg_add_range(&m, 9, 5), -1);
	assert_int_equal(errno, EINVAL);

	/* the messages without a body */
	for (t = SYNC_T_BULK_START; t < SYNC_T_MAX; t++) {
		if (t == SYNC_T_NACK)
			continue;
		assert_int_equal(sync_msg_init(&m, buf, sizeof(buf),
		    (uint8_t)t), 0);
		len = sync_msg_seal(&m, &hdr0, &k);
		assert_int_equal(len, SYNC_MSG_MIN);
		assert_int_equal(sync_msg_parse(buf, len, &k, &h), SYNC_OK);
		assert_int_equal(h.type, t);
		assert_int_equal(sync_type_is_data(t), t != SYNC_T_ALIVE &&
		    t != SYNC_T_BULK_REQ);
	}
	/* records only in an UPDATE, ranges only in a NACK */
	assert_int_equal(sync_msg_init(&m, buf, sizeof(buf), SYNC_T_ALIVE), 0);
	errno = 0;
	assert_int_equal(sync_msg_add_range(&m, 1, 1), -1);
	assert_int_equal(errno, EINVAL);
	assert_int_equal(sync_msg_init(&m, buf, sizeof(buf), 0), -1);
	assert_int_equal(sync_msg_init(&m, buf, sizeof(buf), SYNC_T_MAX), -1);
	assert_int_equal(sync_msg_init(&m, buf, SYNC_MSG_MIN - 1,
	    SYNC_T_ALIVE), -1);
	assert_string_equal(sync_type_name(SYNC_T_BULK_REQ), "bulk-request");
	assert_string_equal(sync_type_name(99), "unknown");
}

/* A 1400-byte datagram fills up and never grows past its cap. */
static void
test_fill(void **state)
{
	struct sync_key	 k = key(secret);
	struct sync_hdr	 h;
	struct sync_iter it;
	struct sync_rec	 r;
	struct sync_msg	 m;
	struct ct_snap	 a = tcp_snap(1);
	uint8_t		 buf[1400];
	char		 name[RULE_NAMELEN];
	size_t		 len, n = 0;

	memset(name, 'x', sizeof(name));
	name[RULE_NAMELEN - 1] = '\0';
	assert_int_equal(sync_msg_init(&m, buf, sizeof(buf), SYNC_T_UPDATE),
	    0);
	while (sync_msg_add_conn(&m, &a, name) == 0) {
		a.k.sport++;
		n++;
	}
	assert_int_equal(errno, ENOSPC);
	assert_int_equal(n, (1400 - SYNC_MSG_MIN) / SYNC_REC_MAX);
	assert_true(sync_msg_room(&m) < SYNC_REC_MAX);
	len = sync_msg_seal(&m, &hdr0, &k);
	assert_true(len <= sizeof(buf));
	assert_int_equal(sync_msg_parse(buf, len, &k, &h), SYNC_OK);
	assert_int_equal(h.count, n);
	sync_iter_init(&it, buf, &h);
	for (len = 0; sync_iter_rec(&it, &r); len++)
		assert_string_equal(r.rule, name);
	assert_int_equal(len, n);

	/* names too long or with other bytes, states no version holds */
	assert_int_equal(sync_msg_init(&m, buf, sizeof(buf), SYNC_T_UPDATE),
	    0);
	{
		char	 big[RULE_NAMELEN + 1];

		memset(big, 'y', RULE_NAMELEN);
		big[RULE_NAMELEN] = '\0';
		errno = 0;
		assert_int_equal(sync_msg_add_conn(&m, &a, big), -1);
		assert_int_equal(errno, EINVAL);
	}
	errno = 0;
	assert_int_equal(sync_msg_add_conn(&m, &a, "ssh in"), -1);
	assert_int_equal(errno, EINVAL);
	a.tcp.scale[0] = 15;
	errno = 0;
	assert_int_equal(sync_msg_add_conn(&m, &a, "x"), -1);
	assert_int_equal(errno, EINVAL);
	assert_int_equal(m.count, 0);
}

static void
test_truncated_huge(void **state)
{
	struct sync_key	 k = key(secret);
	struct sync_hdr	 h;
	uint8_t		 buf[SYNC_MSG_MAX + 1];
	size_t		 len = update3(buf, SYNC_MSG_MAX, &k), n;
	int		 e;

	for (n = 0; n < len; n++) {
		e = sync_msg_parse(buf, n, &k, &h);
		assert_int_equal(e, n < SYNC_MSG_MIN ? SYNC_ESHORT :
		    SYNC_ELENGTH);
	}
	/* cut and sealed again by someone with the key: still refused */
	for (n = SYNC_MSG_MIN; n < len; n++) {
		(void)update3(buf, SYNC_MSG_MAX, &k);
		buf[6] = (uint8_t)(n >> 8);
		buf[7] = (uint8_t)n;
		sync_reseal(buf, n, &hdr0, &k);
		e = sync_msg_parse(buf, n, &k, &h);
		assert_true(e == SYNC_ERECORD || e == SYNC_EBODY);
	}
	len = update3(buf, SYNC_MSG_MAX, &k);
	assert_int_equal(sync_msg_parse(buf, len, &k, &h), SYNC_OK);
	/* longer than the datagram says, or than any message may be */
	assert_int_equal(sync_msg_parse(buf, len + 1, &k, &h), SYNC_ELENGTH);
	memset(buf, 0, sizeof(buf));
	assert_int_equal(sync_msg_parse(buf, SYNC_MSG_MAX + 1, &k, &h),
	    SYNC_EHUGE);
	assert_int_equal(sync_msg_parse(buf, 65536, &k, &h), SYNC_EHUGE);
	assert_int_equal(sync_msg_parse(buf, SYNC_MSG_MAX, &k, &h),
	    SYNC_EMAGIC);
}

static void
test_version_forged(void **state)
{
	struct sync_key	 k = key(secret), other = key("another secret, 16+");
	struct sync_hdr	 h;
	uint8_t		 buf[SYNC_MSG_MAX];
	size_t		 len = update3(buf, sizeof(buf), &k), i;
	int		 e;

	/* another version, even sealed right */
	buf[4] = SYNC_VERSION + 1;
	sync_reseal(buf, len, &hdr0, &k);
	assert_int_equal(sync_msg_parse(buf, len, &k, &h), SYNC_EVERSION);
	buf[4] = SYNC_VERSION;
	sync_reseal(buf, len, &hdr0, &k);
	assert_int_equal(sync_msg_parse(buf, len, &k, &h), SYNC_OK);

	/* another key */
	assert_int_equal(sync_msg_parse(buf, len, &other, &h), SYNC_EAUTH);
	/* any one bit changed anywhere: refused, nothing read */
	for (i = 0; i < len * 8; i++) {
		buf[i / 8] ^= (uint8_t)(1 << (i % 8));
		e = sync_msg_parse(buf, len, &k, &h);
		if (i / 8 < 4)
			assert_int_equal(e, SYNC_EMAGIC);
		else if (i / 8 == 4)
			assert_int_equal(e, SYNC_EVERSION);
		else if (i / 8 == 6 || i / 8 == 7)
			assert_int_equal(e, SYNC_ELENGTH);
		else
			assert_int_equal(e, SYNC_EAUTH);
		assert_int_equal(h.type, 0);
		buf[i / 8] ^= (uint8_t)(1 << (i % 8));
	}
	/* a secret too short to be one */
	errno = 0;
	assert_int_equal(sync_key_init(&other, "short", 5), -1);
	assert_int_equal(errno, EINVAL);
	assert_string_equal(sync_err_name(SYNC_EAUTH), "forged");
	assert_string_equal(sync_err_name(-1), "unknown");
}

/*
 * A ready key (sync_mac_new()) seals to the same bytes as the key, of
 * every length up to the largest, takes what the key sealed and refuses
 * what it refuses; a refusal or a resend leaves nothing behind in it
 * for the next message.
 */
static void
test_ready_key(void **state)
{
	struct sync_key	 k = key(secret), other = key("another secret, 16+");
	struct sync_mac	*mac, *omac;
	struct sync_hdr	 h, hm, hdr = hdr0;
	struct sync_msg	 m;
	struct ct_snap	 c = udp_snap();
	uint8_t		 a[SYNC_MSG_MAX], b[SYNC_MSG_MAX];
	size_t		 la, lb, n, j;

	mac = sync_mac_new(&k);
	omac = sync_mac_new(&other);
	assert_non_null(mac);
	assert_non_null(omac);
	for (n = 0; ; n++) {
		assert_int_equal(sync_msg_init(&m, a, sizeof(a),
		    SYNC_T_UPDATE), 0);
		for (j = 0; j < n; j++)
			if (sync_msg_add_conn(&m, &c, "r") == -1)
				break;
		hdr.msgno = hdr0.msgno + n;
		memcpy(b, a, m.len);
		la = sync_msg_seal(&m, &hdr, &k);
		m.buf = b;
		lb = sync_msg_seal_mac(&m, &hdr, mac);
		assert_true(la >= SYNC_MSG_MIN);
		assert_int_equal(lb, la);
		assert_memory_equal(a, b, la);
		/* each takes the other's, and the same header comes out */
		assert_int_equal(sync_msg_parse_mac(a, la, mac, &hm), SYNC_OK);
		assert_int_equal(sync_msg_parse(b, lb, &k, &h), SYNC_OK);
		assert_memory_equal(&h, &hm, sizeof(h));
		/* another key, a changed bit: refused, and then the next
		   check is right again */
		assert_int_equal(sync_msg_parse_mac(a, la, omac, &hm),
		    SYNC_EAUTH);
		b[la / 2] ^= 0x10;
		assert_int_equal(sync_msg_parse_mac(b, lb, mac, &hm),
		    SYNC_EAUTH);
		b[la / 2] ^= 0x10;
		assert_int_equal(sync_msg_parse_mac(b, lb, mac, &hm), SYNC_OK);
		/* a resend */
		hdr.seq++;
		assert_int_equal(sync_reseal(a, la, &hdr, &k), 0);
		assert_int_equal(sync_reseal_mac(b, lb, &hdr, mac), 0);
		assert_memory_equal(a, b, la);
		assert_int_equal(sync_msg_parse(b, lb, &k, &h), SYNC_OK);
		assert_int_equal(h.seq, hdr.seq);
		if (j < n)
			break;
	}
	/* it filled up: the largest message was among them */
	assert_true(la > sizeof(a) - SYNC_REC_MAX);
	sync_mac_free(mac);
	sync_mac_free(omac);
	sync_mac_free(NULL);
}

/* Bodies that only someone with the key could send, but wrong. */
static void
test_bad_bodies(void **state)
{
	static const struct {
		size_t	 off;		/* into the first record */
		uint8_t	 val;
		int	 err;
	} bad[] = {
		{ 0, 0, SYNC_ERECORD },		/* op */
		{ 0, 3, SYNC_ERECORD },
		{ 1, 5, SYNC_ERECORD },		/* family */
		{ 3, 11, SYNC_ERECORD },	/* TCP state */
		{ 4, 4, SYNC_ERECORD },		/* flags */
		{ 5, PKT_HOOK_MAX, SYNC_ERECORD },
		{ 6, CT_TO_MAX, SYNC_ERECORD },	/* timeout class */
		{ 7, 0x4f, SYNC_ERECORD },	/* SYN options */
		{ 12, 1, SYNC_ERECORD },	/* v4 padding */
		{ 48, 0xff, SYNC_ERECORD },	/* time left */
		{ 96, 15, SYNC_ERECORD },	/* scale */
		{ 98, 0x61, SYNC_ERECORD },	/* a flag of our own */
		{ 99, 0xa2, SYNC_ERECORD },	/* the other one */
		{ 101, 6, SYNC_ERECORD },	/* packet class */
		{ 104, 200, SYNC_ERECORD },	/* name past the end */
		{ 105, ' ', SYNC_ERECORD },	/* a blank in the name */
		{ 104, 7, SYNC_ERECORD },	/* the next record shifts */
	};
	struct sync_key	 k = key(secret);
	struct sync_hdr	 h;
	struct sync_msg	 m;
	uint8_t		 buf[SYNC_MSG_MAX], tmp[SYNC_MSG_MAX];
	size_t		 len = update3(buf, sizeof(buf), &k), i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		memcpy(tmp, buf, len);
		tmp[SYNC_HDRLEN + bad[i].off] = bad[i].val;
		sync_reseal(tmp, len, &hdr0, &k);
		if (sync_msg_parse(tmp, len, &k, &h) != bad[i].err)
			fail_msg("case %zu: %s", i,
			    sync_err_name(sync_msg_parse(tmp, len, &k, &h)));
	}
	/* count says more or fewer records than there are */
	memcpy(tmp, buf, len);
	tmp[9] = 4;
	sync_reseal(tmp, len, &hdr0, &k);
	assert_int_equal(sync_msg_parse(tmp, len, &k, &h), SYNC_ERECORD);
	tmp[9] = 2;
	sync_reseal(tmp, len, &hdr0, &k);
	assert_int_equal(sync_msg_parse(tmp, len, &k, &h), SYNC_EBODY);
	/* the reserved field, an unknown type */
	memcpy(tmp, buf, len);
	tmp[11] = 1;
	sync_reseal(tmp, len, &hdr0, &k);
	assert_int_equal(sync_msg_parse(tmp, len, &k, &h), SYNC_EBODY);
	tmp[11] = 0;
	tmp[5] = SYNC_T_MAX;
	sync_reseal(tmp, len, &hdr0, &k);
	assert_int_equal(sync_msg_parse(tmp, len, &k, &h), SYNC_ETYPE);
	/* a DELETE with state bytes; an ALIVE with a count */
	assert_int_equal(sync_msg_init(&m, tmp, sizeof(tmp), SYNC_T_UPDATE),
	    0);
	{
		struct ct_snap	 a = tcp_snap(0);

		assert_int_equal(sync_msg_add_delete(&m, &a.k), 0);
	}
	len = sync_msg_seal(&m, &hdr0, &k);
	tmp[SYNC_HDRLEN + 3] = 1;
	sync_reseal(tmp, len, &hdr0, &k);
	assert_int_equal(sync_msg_parse(tmp, len, &k, &h), SYNC_ERECORD);
	assert_int_equal(sync_msg_init(&m, tmp, sizeof(tmp), SYNC_T_ALIVE), 0);
	len = sync_msg_seal(&m, &hdr0, &k);
	tmp[9] = 1;
	sync_reseal(tmp, len, &hdr0, &k);
	assert_int_equal(sync_msg_parse(tmp, len, &k, &h), SYNC_EBODY);
	/* a NACK range backwards */
	assert_int_equal(sync_msg_init(&m, tmp, sizeof(tmp), SYNC_T_NACK), 0);
	assert_int_equal(sync_msg_add_range(&m, 1, 2), 0);
	len = sync_msg_seal(&m, &hdr0, &k);
	tmp[SYNC_HDRLEN + 3] = 3;
	sync_reseal(tmp, len, &hdr0, &k);
	assert_int_equal(sync_msg_parse(tmp, len, &k, &h), SYNC_EBODY);
}

static void
test_replay(void **state)
{
	struct sync_replay	 r;
	uint64_t		 i;

	memset(&r, 0, sizeof(r));
	assert_int_equal(sync_replay_check(&r, 100, 1), 1);	/* first */
	assert_int_equal(sync_replay_check(&r, 100, 1), -1);	/* again */
	assert_int_equal(sync_replay_check(&r, 100, 2), 0);
	assert_int_equal(sync_replay_check(&r, 100, 5), 0);
	/* late but not seen: taken once */
	assert_int_equal(sync_replay_check(&r, 100, 4), 0);
	assert_int_equal(sync_replay_check(&r, 100, 4), -1);
	assert_int_equal(sync_replay_check(&r, 100, 3), 0);
	assert_int_equal(sync_replay_check(&r, 100, 0), -1);
	/* more than 64 behind the newest: refused */
	assert_int_equal(sync_replay_check(&r, 100, 200), 0);
	assert_int_equal(sync_replay_check(&r, 100, 136), -1);
	assert_int_equal(sync_replay_check(&r, 100, 137), 0);
	for (i = 138; i < 200; i++)
		assert_int_equal(sync_replay_check(&r, 100, i), 0);
	for (i = 137; i <= 200; i++)
		assert_int_equal(sync_replay_check(&r, 100, i), -1);
	/* a jump of more than the window forgets the window */
	assert_int_equal(sync_replay_check(&r, 100, 1000), 0);
	assert_int_equal(sync_replay_check(&r, 100, 999), 0);
	/* an older epoch: a recording of the peer's last run */
	assert_int_equal(sync_replay_check(&r, 99, 5000), -1);
	/* a newer one: the peer restarted, its numbers start again */
	assert_int_equal(sync_replay_check(&r, 101, 1), 1);
	assert_int_equal(sync_replay_check(&r, 101, 1), -1);
	assert_int_equal(sync_replay_check(&r, 100, 1001), -1);
	assert_int_equal(sync_replay_check(&r, 101, 2), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_roundtrip),
		cmocka_unit_test(test_local_flags),
		cmocka_unit_test(test_control),
		cmocka_unit_test(test_fill),
		cmocka_unit_test(test_truncated_huge),
		cmocka_unit_test(test_version_forged),
		cmocka_unit_test(test_ready_key),
		cmocka_unit_test(test_bad_bodies),
		cmocka_unit_test(test_replay),
	};

	return (cmocka_run_group_tests(tests, NULL, NULL));
}
