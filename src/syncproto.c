/*
 * syncproto.c - the sync messages: build, seal, check, read
 *
 * Copyright (C) 2026 The nfqspid authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * Everything that comes off the sync link is checked before it is used:
 * the MAC first (OpenSSL libcrypto's HMAC-SHA256, which uses the CPU's
 * SHA instructions where there are some, compared in constant time),
 * then every field against what this version can hold.  A message is
 * taken whole or not at all.
 */
#include <sys/socket.h>
#include <netinet/in.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "syncproto.h"
#include "bytes.h"

_Static_assert(SYNC_MACLEN == 32 && SYNC_KEYLEN == 32, "HMAC-SHA256");
_Static_assert(SYNC_MSG_MAX <= UINT16_MAX, "length is a u16");

#define SYNC_OFF_LENGTH	6
#define SYNC_OFF_COUNT	8
#define SYNC_OFF_SEQ	12

static const char *const sync_err_names[SYNC_ERR_MAX] = {
	[SYNC_OK] = "ok",
	[SYNC_ESHORT] = "short",
	[SYNC_EHUGE] = "huge",
	[SYNC_EMAGIC] = "bad-magic",
	[SYNC_EVERSION] = "bad-version",
	[SYNC_ELENGTH] = "bad-length",
	[SYNC_EAUTH] = "forged",
	[SYNC_ETYPE] = "bad-type",
	[SYNC_EBODY] = "bad-body",
	[SYNC_ERECORD] = "bad-record",
	[SYNC_EREPLAY] = "replayed",
};

static const char *const sync_type_names[SYNC_T_MAX] = {
	[SYNC_T_UPDATE] = "update",
	[SYNC_T_BULK_START] = "bulk-start",
	[SYNC_T_BULK_END] = "bulk-end",
	[SYNC_T_NACK] = "nack",
	[SYNC_T_ALIVE] = "alive",
	[SYNC_T_BULK_REQ] = "bulk-request",
};

const char *
sync_err_name(int err)
{
	if (err < 0 || err >= SYNC_ERR_MAX)
		return ("unknown");
	return (sync_err_names[err]);
}

const char *
sync_type_name(int type)
{
	if (type <= 0 || type >= SYNC_T_MAX)
		return ("unknown");
	return (sync_type_names[type]);
}

int
sync_type_is_data(int type)
{
	return (type == SYNC_T_UPDATE || type == SYNC_T_BULK_START ||
	    type == SYNC_T_BULK_END);
}

/* HMAC-SHA256 of len bytes at p with key (any length): 0, or -1 (only
   when the library cannot allocate). */
static int
sync_hmac(const void *key, size_t keylen, const void *p, size_t len,
    uint8_t out[SYNC_MACLEN])
{
	unsigned int	 n = SYNC_MACLEN;

	if (keylen > INT32_MAX || HMAC(EVP_sha256(), key, (int)keylen, p,
	    len, out, &n) == NULL || n != SYNC_MACLEN)
		return (-1);
	return (0);
}

/* HMAC() fetches the algorithm and makes and frees its contexts on each
   call (13 allocations a message with OpenSSL 3.0): a sync_mac keeps one
   context keyed, and a message only starts it again. */
struct sync_mac {
	EVP_MAC_CTX	*ctx;
};

struct sync_mac *
sync_mac_new(const struct sync_key *key)
{
	static char	 digest[] = "SHA256";
	struct sync_mac	*m;
	EVP_MAC		*hmac;
	OSSL_PARAM	 p[2];
	int		 ok;

	if ((m = calloc(1, sizeof(*m))) == NULL)
		return (NULL);
	p[0] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST,
	    digest, 0);
	p[1] = OSSL_PARAM_construct_end();
	/* the context holds its own reference to the algorithm */
	hmac = EVP_MAC_fetch(NULL, "HMAC", NULL);
	ok = hmac != NULL && (m->ctx = EVP_MAC_CTX_new(hmac)) != NULL &&
	    EVP_MAC_init(m->ctx, key->k, SYNC_KEYLEN, p) == 1;
	EVP_MAC_free(hmac);
	if (!ok) {
		sync_mac_free(m);
		errno = ENOMEM;
		return (NULL);
	}
	return (m);
}

void
sync_mac_free(struct sync_mac *m)
{
	if (m == NULL)
		return;
	EVP_MAC_CTX_free(m->ctx);	/* cleanses the key's state */
	free(m);
}

/* The MAC with mac if there is one, else with key: 0, or -1 as
   sync_hmac(). */
static int
sync_mac_of(const struct sync_key *key, struct sync_mac *mac,
    const void *p, size_t len, uint8_t out[SYNC_MACLEN])
{
	size_t		 n;

	if (mac == NULL)
		return (sync_hmac(key->k, SYNC_KEYLEN, p, len, out));
	/* no key: the same one again, from its prepared state */
	if (EVP_MAC_init(mac->ctx, NULL, 0, NULL) != 1 ||
	    EVP_MAC_update(mac->ctx, p, len) != 1 ||
	    EVP_MAC_final(mac->ctx, out, &n, SYNC_MACLEN) != 1 ||
	    n != SYNC_MACLEN)
		return (-1);
	return (0);
}

int
sync_key_init(struct sync_key *key, const void *secret, size_t len)
{
	static const char label[] = "nfqspid sync v1";

	if (len < SYNC_SECRET_MIN) {
		errno = EINVAL;
		return (-1);
	}
	/* The secret (any length) keys an HMAC of a fixed label: a key of
	   exactly SYNC_KEYLEN bytes, and another one for another version. */
	if (sync_hmac(secret, len, label, sizeof(label) - 1, key->k) == -1) {
		OPENSSL_cleanse(key->k, sizeof(key->k));
		errno = EIO;
		return (-1);
	}
	return (0);
}

/* ---- byte order ------------------------------------------------------ */

static void
put64(uint8_t *p, uint64_t v)
{
	put32(p, (uint32_t)(v >> 32));
	put32(p + 4, (uint32_t)v);
}

static uint64_t
get64(const uint8_t *p)
{
	return ((uint64_t)get32(p) << 32 | get32(p + 4));
}

/* ---- building -------------------------------------------------------- */

int
sync_msg_init(struct sync_msg *m, void *buf, size_t cap, uint8_t type)
{
	if (type == 0 || type >= SYNC_T_MAX || cap < SYNC_MSG_MIN) {
		errno = EINVAL;
		return (-1);
	}
	m->buf = buf;
	m->cap = cap < SYNC_MSG_MAX ? cap : SYNC_MSG_MAX;
	m->len = SYNC_HDRLEN;
	m->count = 0;
	m->type = type;
	return (0);
}

size_t
sync_msg_room(const struct sync_msg *m)
{
	return (m->cap - SYNC_MACLEN - m->len);
}

/* Room for n more bytes and one more record? */
static int
sync_msg_fits(struct sync_msg *m, uint8_t type, size_t n)
{
	if (m->type != type) {
		errno = EINVAL;
		return (0);
	}
	if (sync_msg_room(m) < n || m->count == UINT16_MAX) {
		errno = ENOSPC;
		return (0);
	}
	return (1);
}

static int
sync_rule_ok(const char *s, size_t len)
{
	size_t	 i;

	if (len >= RULE_NAMELEN)
		return (0);
	for (i = 0; i < len; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') ||
		    (s[i] >= 'A' && s[i] <= 'Z') ||
		    (s[i] >= '0' && s[i] <= '9') ||
		    s[i] == '-' || s[i] == '_' || s[i] == '.'))
			return (0);
	return (1);
}

/* The 44 bytes every record starts with. */
static void
sync_put_tuple(uint8_t *p, uint8_t op, const struct ct_tuple *k)
{
	memset(p, 0, SYNC_REC_DEL);
	p[0] = op;
	p[1] = k->family == AF_INET ? 4 : 6;
	p[2] = k->proto;
	if (k->family == AF_INET) {
		memcpy(p + 8, &k->src, 4);
		memcpy(p + 24, &k->dst, 4);
	} else {
		memcpy(p + 8, &k->src, 16);
		memcpy(p + 24, &k->dst, 16);
	}
	put16(p + 40, k->sport);
	put16(p + 42, k->dport);
}

int
sync_msg_add_conn(struct sync_msg *m, const struct ct_snap *s,
    const char *rule)
{
	const struct ct_snap_tcp *c = &s->tcp;
	size_t			 nlen = rule != NULL ? strlen(rule) : 0;
	uint8_t			*p;
	int			 d;

	if (!sync_rule_ok(rule, nlen) || ct_snap_check(s) == -1) {
		errno = EINVAL;
		return (-1);
	}
	if (!sync_msg_fits(m, SYNC_T_UPDATE, SYNC_REC_FIXED + nlen))
		return (-1);
	p = m->buf + m->len;
	sync_put_tuple(p, SYNC_OP_UPSERT, &s->k);
	p[3] = s->state;
	p[4] = s->flags;
	p[5] = s->hook;
	p[6] = s->tclass;
	p[7] = s->aux;
	put32(p + 44, s->mark);
	put32(p + 48, s->left_ms);
	put32(p + 52, s->age_s);
	put32(p + 56, s->packets);
	put32(p + 60, s->last_hash);
	for (d = 0; d < 2; d++) {
		put32(p + 64 + 4 * d, c->end[d]);
		put32(p + 72 + 4 * d, c->maxend[d]);
		put32(p + 80 + 4 * d, c->maxwin[d]);
		put32(p + 88 + 4 * d, c->maxack[d]);
		p[96 + d] = c->scale[d];
		/* whether we re-learnt a window is ours alone */
		p[98 + d] = c->dflags[d] & (uint8_t)~CT_SNAP_TD_OURS;
	}
	p[100] = c->retrans;
	p[101] = c->last_index;
	p[102] = c->last_dir;
	p[103] = c->last_zerowin;
	p[104] = (uint8_t)nlen;
	if (nlen > 0)		/* rule may be NULL */
		memcpy(p + SYNC_REC_FIXED, rule, nlen);
	m->len += SYNC_REC_FIXED + nlen;
	m->count++;
	return (0);
}

int
sync_msg_add_delete(struct sync_msg *m, const struct ct_tuple *k)
{
	if (k->family != AF_INET && k->family != AF_INET6) {
		errno = EINVAL;
		return (-1);
	}
	if (!sync_msg_fits(m, SYNC_T_UPDATE, SYNC_REC_DEL))
		return (-1);
	sync_put_tuple(m->buf + m->len, SYNC_OP_DELETE, k);
	m->len += SYNC_REC_DEL;
	m->count++;
	return (0);
}

/* first..last: last not before first, less than 2^31 after it */
static int
sync_range_ok(uint32_t first, uint32_t last)
{
	return (last - first < 0x80000000u);
}

int
sync_msg_add_range(struct sync_msg *m, uint32_t first, uint32_t last)
{
	if (!sync_range_ok(first, last)) {
		errno = EINVAL;
		return (-1);
	}
	if (!sync_msg_fits(m, SYNC_T_NACK, SYNC_RANGE_LEN))
		return (-1);
	put32(m->buf + m->len, first);
	put32(m->buf + m->len + 4, last);
	m->len += SYNC_RANGE_LEN;
	m->count++;
	return (0);
}

static int
reseal(void *buf, size_t len, const struct sync_hdr *h,
    const struct sync_key *key, struct sync_mac *mac)
{
	uint8_t		*p = buf;

	put32(p + SYNC_OFF_SEQ, h->seq);
	put32(p + 16, h->ack);
	put64(p + 20, h->epoch);
	put64(p + 28, h->msgno);
	if (sync_mac_of(key, mac, p, len - SYNC_MACLEN,
	    p + len - SYNC_MACLEN) == -1) {
		/* never a message with a MAC that is not one */
		memset(p + len - SYNC_MACLEN, 0, SYNC_MACLEN);
		errno = ENOMEM;
		return (-1);
	}
	return (0);
}

int
sync_reseal(void *buf, size_t len, const struct sync_hdr *h,
    const struct sync_key *key)
{
	return (reseal(buf, len, h, key, NULL));
}

int
sync_reseal_mac(void *buf, size_t len, const struct sync_hdr *h,
    struct sync_mac *mac)
{
	return (reseal(buf, len, h, NULL, mac));
}

static size_t
seal(struct sync_msg *m, const struct sync_hdr *h,
    const struct sync_key *key, struct sync_mac *mac)
{
	uint8_t		*p = m->buf;
	size_t		 len = m->len + SYNC_MACLEN;

	put32(p, SYNC_MAGIC);
	p[4] = SYNC_VERSION;
	p[5] = m->type;
	put16(p + SYNC_OFF_LENGTH, (uint16_t)len);
	put16(p + SYNC_OFF_COUNT, m->count);
	put16(p + 10, 0);
	if (reseal(p, len, h, key, mac) == -1)
		return (0);
	return (len);
}

size_t
sync_msg_seal(struct sync_msg *m, const struct sync_hdr *h,
    const struct sync_key *key)
{
	return (seal(m, h, key, NULL));
}

size_t
sync_msg_seal_mac(struct sync_msg *m, const struct sync_hdr *h,
    struct sync_mac *mac)
{
	return (seal(m, h, NULL, mac));
}

/* ---- parsing --------------------------------------------------------- */

static int
sync_family(uint8_t wire)
{
	return (wire == 4 ? AF_INET : wire == 6 ? AF_INET6 : -1);
}

/*
 * One record at p, at most avail bytes: its length, or 0 if it is not
 * one this version could have sent (r is then partly filled in).
 */
static size_t
sync_rec_decode(const uint8_t *p, size_t avail, struct sync_rec *r)
{
	struct ct_snap_tcp	*c = &r->s.tcp;
	int			 fam, d;
	size_t			 nlen;

	memset(r, 0, sizeof(*r));
	if (avail < SYNC_REC_DEL || (fam = sync_family(p[1])) < 0)
		return (0);
	r->op = p[0];
	r->s.k.family = (uint8_t)fam;
	r->s.k.proto = p[2];
	memcpy(&r->s.k.src, p + 8, fam == AF_INET ? 4 : 16);
	memcpy(&r->s.k.dst, p + 24, fam == AF_INET ? 4 : 16);
	r->s.k.sport = get16(p + 40);
	r->s.k.dport = get16(p + 42);
	if (r->op == SYNC_OP_DELETE) {
		/* the state bytes and a v4 address's padding: zero */
		if (p[3] | p[4] | p[5] | p[6] | p[7])
			return (0);
		return (SYNC_REC_DEL);
	}
	if (r->op != SYNC_OP_UPSERT || avail < SYNC_REC_FIXED)
		return (0);
	nlen = p[104];
	if (avail - SYNC_REC_FIXED < nlen ||
	    !sync_rule_ok((const char *)p + SYNC_REC_FIXED, nlen))
		return (0);
	r->s.state = p[3];
	r->s.flags = p[4];
	r->s.hook = p[5];
	r->s.tclass = p[6];
	r->s.aux = p[7];
	r->s.mark = get32(p + 44);
	r->s.left_ms = get32(p + 48);
	r->s.age_s = get32(p + 52);
	r->s.packets = get32(p + 56);
	r->s.last_hash = get32(p + 60);
	for (d = 0; d < 2; d++) {
		c->end[d] = get32(p + 64 + 4 * d);
		c->maxend[d] = get32(p + 72 + 4 * d);
		c->maxwin[d] = get32(p + 80 + 4 * d);
		c->maxack[d] = get32(p + 88 + 4 * d);
		c->scale[d] = p[96 + d];
		c->dflags[d] = p[98 + d];
		if (c->dflags[d] & CT_SNAP_TD_OURS)
			return (0);	/* never sent */
	}
	c->retrans = p[100];
	c->last_index = p[101];
	c->last_dir = p[102];
	c->last_zerowin = p[103];
	memcpy(r->rule, p + SYNC_REC_FIXED, nlen);
	if (ct_snap_check(&r->s) == -1)
		return (0);
	return (SYNC_REC_FIXED + nlen);
}

/* v4 addresses are 4 bytes on the wire in 16: the rest must be zero. */
static int
sync_padding_ok(const uint8_t *p)
{
	static const uint8_t	 zero[12];

	return (p[1] != 4 || (memcmp(p + 12, zero, 12) == 0 &&
	    memcmp(p + 28, zero, 12) == 0));
}

/* The body of a message whose header and MAC are good. */
static int
sync_body_check(const uint8_t *p, const uint8_t *end, uint8_t type,
    uint16_t count)
{
	struct sync_rec	 r;
	size_t		 n;
	uint16_t	 i;

	switch (type) {
	case SYNC_T_UPDATE:
		for (i = 0; i < count; i++) {
			n = sync_rec_decode(p, (size_t)(end - p), &r);
			if (n == 0 || !sync_padding_ok(p))
				return (SYNC_ERECORD);
			p += n;
		}
		break;
	case SYNC_T_NACK:
		for (i = 0; i < count; i++, p += SYNC_RANGE_LEN)
			if (end - p < SYNC_RANGE_LEN ||
			    !sync_range_ok(get32(p), get32(p + 4)))
				return (SYNC_EBODY);
		break;
	default:
		if (count != 0)
			return (SYNC_EBODY);
		break;
	}
	return (p == end ? SYNC_OK : SYNC_EBODY);
}

static int
parse(const void *buf, size_t len, const struct sync_key *key,
    struct sync_mac *mac, struct sync_hdr *h)
{
	const uint8_t	*p = buf;
	uint8_t		 want[SYNC_MACLEN];

	memset(h, 0, sizeof(*h));
	if (len < SYNC_MSG_MIN)
		return (SYNC_ESHORT);
	if (len > SYNC_MSG_MAX)
		return (SYNC_EHUGE);
	if (get32(p) != SYNC_MAGIC)
		return (SYNC_EMAGIC);
	if (p[4] != SYNC_VERSION)
		return (SYNC_EVERSION);
	if (get16(p + SYNC_OFF_LENGTH) != len)
		return (SYNC_ELENGTH);
	if (sync_mac_of(key, mac, p, len - SYNC_MACLEN, want) == -1 ||
	    CRYPTO_memcmp(want, p + len - SYNC_MACLEN, SYNC_MACLEN) != 0)
		return (SYNC_EAUTH);
	h->type = p[5];
	h->length = (uint16_t)len;
	h->count = get16(p + SYNC_OFF_COUNT);
	h->seq = get32(p + SYNC_OFF_SEQ);
	h->ack = get32(p + 16);
	h->epoch = get64(p + 20);
	h->msgno = get64(p + 28);
	if (h->type == 0 || h->type >= SYNC_T_MAX)
		return (SYNC_ETYPE);
	if (get16(p + 10) != 0)
		return (SYNC_EBODY);
	return (sync_body_check(p + SYNC_HDRLEN, p + len - SYNC_MACLEN,
	    h->type, h->count));
}

int
sync_msg_parse(const void *buf, size_t len, const struct sync_key *key,
    struct sync_hdr *h)
{
	return (parse(buf, len, key, NULL, h));
}

int
sync_msg_parse_mac(const void *buf, size_t len, struct sync_mac *mac,
    struct sync_hdr *h)
{
	return (parse(buf, len, NULL, mac, h));
}

void
sync_iter_init(struct sync_iter *it, const void *buf,
    const struct sync_hdr *h)
{
	it->p = (const uint8_t *)buf + SYNC_HDRLEN;
	it->end = (const uint8_t *)buf + h->length - SYNC_MACLEN;
	it->left = h->count;
}

int
sync_iter_rec(struct sync_iter *it, struct sync_rec *r)
{
	size_t	 n;

	if (it->left == 0 ||
	    (n = sync_rec_decode(it->p, (size_t)(it->end - it->p), r)) == 0)
		return (0);
	it->p += n;
	it->left--;
	return (1);
}

int
sync_iter_range(struct sync_iter *it, uint32_t *first, uint32_t *last)
{
	if (it->left == 0 || it->end - it->p < SYNC_RANGE_LEN)
		return (0);
	*first = get32(it->p);
	*last = get32(it->p + 4);
	it->p += SYNC_RANGE_LEN;
	it->left--;
	return (1);
}

/* ---- replay protection ----------------------------------------------- */

int
sync_replay_check(struct sync_replay *r, uint64_t epoch, uint64_t msgno)
{
	uint64_t	 back;

	if (msgno == 0 || epoch < r->epoch)
		return (-1);
	if (epoch > r->epoch) {
		r->epoch = epoch;
		r->top = msgno;
		r->seen = 1;
		return (1);
	}
	if (msgno > r->top) {
		back = msgno - r->top;
		r->seen = back >= 64 ? 1 : r->seen << back | 1;
		r->top = msgno;
		return (0);
	}
	back = r->top - msgno;
	if (back >= 64 || (r->seen & (uint64_t)1 << back))
		return (-1);
	r->seen |= (uint64_t)1 << back;
	return (0);
}
