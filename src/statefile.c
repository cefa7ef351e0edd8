/*
 * statefile.c - the connection table as a file: written at a clean
 * stop, checked whole and read back at the next start
 *
 * Copyright (C) 2026 The nfqspid authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * The records and their checks are the sync link's (syncproto.c): a
 * file is read as a peer's bulk is, and refused whole at the first
 * fault, before anything of it is used.  A file is sealed and checked
 * with one ready key (sync_mac) throughout: HMAC() with the bare key
 * set libcrypto up again for every message.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <openssl/crypto.h>

#include "statefile.h"
#include "bytes.h"

/* nfqspid has at most 64 workers; a file of more is not one of ours */
#define STATE_WORKERS_MAX	1024

int
state_key_init(struct sync_key *key)
{
	static const char secret[] = "nfqspid state file";

	/* not a secret: the MACs are the file's checksums */
	return (sync_key_init(key, secret, sizeof(secret) - 1));
}

struct sync_mac *
state_mac_new(void)
{
	struct sync_key	 key;
	struct sync_mac	*mac;

	if (state_key_init(&key) == -1) {
		errno = ENOMEM;
		return (NULL);
	}
	mac = sync_mac_new(&key);
	OPENSSL_cleanse(&key, sizeof(key));
	return (mac);
}

/* ---- writing --------------------------------------------------------- */

/* Seal the message being built and write it out. */
static int
state_put(struct state_writer *sw, uint32_t seq, uint32_t ack)
{
	struct sync_hdr	 h;
	size_t		 len;

	memset(&h, 0, sizeof(h));
	h.seq = seq;
	h.ack = ack;
	h.epoch = sw->epoch;
	h.msgno = ++sw->msgno;
	if ((len = sync_msg_seal_mac(&sw->m, &h, sw->mac)) == 0) {
		errno = ENOMEM;
		return (-1);
	}
	if (sw->out(sw->arg, sw->buf, len) == -1)
		return (-1);
	sw->bytes += len;
	return (0);
}

int
state_write_begin(struct state_writer *sw, struct sync_mac *mac,
    uint64_t written_ms, uint32_t nworkers, state_out_fn out, void *arg)
{
	memset(sw, 0, sizeof(*sw));
	if (nworkers == 0 || nworkers > STATE_WORKERS_MAX) {
		errno = EINVAL;
		return (-1);
	}
	/* state_mac_new() could not make it */
	if (mac == NULL) {
		errno = ENOMEM;
		return (-1);
	}
	sw->mac = mac;
	sw->out = out;
	sw->arg = arg;
	sw->epoch = written_ms;
	sw->nworkers = nworkers;
	sw->max = STATE_FILE_MAX;
	if (sync_msg_init(&sw->m, sw->buf, sizeof(sw->buf),
	    SYNC_T_BULK_START) == -1)
		return (-1);
	return (state_put(sw, STATE_VERSION, nworkers));
}

static int
state_flush(struct state_writer *sw)
{
	if (!sw->open)
		return (0);
	sw->open = 0;
	return (state_put(sw, sw->worker, 0));
}

int
state_write_conn(struct state_writer *sw, uint32_t worker,
    const struct ct_snap *s, const char *rule)
{
	int	 tries;

	if (worker >= sw->nworkers || sw->records == UINT32_MAX) {
		errno = EINVAL;
		return (-1);
	}
	/* at most: the UPDATE being filled, out full, a new one with this
	   record, and the trailer; a file the reader would refuse whole
	   must not be written */
	if (sw->full || sw->bytes + 2 * SYNC_MSG_MAX + SYNC_MSG_MIN >
	    sw->max) {
		sw->full = 1;
		errno = EFBIG;
		return (-1);
	}
	if (sw->open && sw->worker != worker && state_flush(sw) == -1)
		return (-1);
	for (tries = 0; tries < 2; tries++) {
		if (!sw->open) {
			if (sync_msg_init(&sw->m, sw->buf, sizeof(sw->buf),
			    SYNC_T_UPDATE) == -1)
				return (-1);
			sw->open = 1;
			sw->worker = worker;
		}
		if (sync_msg_add_conn(&sw->m, s, rule) == 0) {
			sw->records++;
			return (0);
		}
		/* full: out with it, and the record goes in the next */
		if (errno != ENOSPC || state_flush(sw) == -1)
			return (-1);
	}
	errno = EINVAL;
	return (-1);
}

int
state_write_end(struct state_writer *sw)
{
	if (state_flush(sw) == -1)
		return (-1);
	if (sync_msg_init(&sw->m, sw->buf, sizeof(sw->buf),
	    SYNC_T_BULK_END) == -1)
		return (-1);
	/* msgno + 1: this one is counted too */
	return (state_put(sw, sw->records, (uint32_t)(sw->msgno + 1)));
}

/* ---- reading --------------------------------------------------------- */

int
state_is_ours(const void *buf, size_t len)
{
	return (len >= 4 && get32(buf) == SYNC_MAGIC);
}

/* The message at p (at most avail bytes): its length, or 0 if the
   file ends inside it. */
static size_t
state_msg_len(const uint8_t *p, size_t avail)
{
	size_t	 len;

	if (avail < SYNC_HDRLEN)
		return (0);
	len = get16(p + 6);
	return (len <= avail ? len : 0);
}

/* Every record of an UPDATE the parser took must be a connection: a
   file holds no DELETE. */
static int
state_upserts(const uint8_t *p, const struct sync_hdr *h)
{
	struct sync_iter it;
	struct sync_rec	 r;
	uint32_t	 n = 0;

	sync_iter_init(&it, p, h);
	for (; sync_iter_rec(&it, &r); n++)
		if (r.op != SYNC_OP_UPSERT)
			return (-1);
	return (n == h->count ? 0 : -1);
}

/* Message n (from 1) of the file, parsed as h: its place checked. */
static int
state_check_msg(const uint8_t *p, const struct sync_hdr *h, uint32_t n,
    struct state_info *si, char *err, size_t errlen)
{
	if (n == 1) {
		if (h->type != SYNC_T_BULK_START) {
			snprintf(err, errlen, "does not begin with its header");
			return (-1);
		}
		if (h->seq != STATE_VERSION) {
			snprintf(err, errlen, "version %u, not %u", h->seq,
			    STATE_VERSION);
			return (-1);
		}
		if (h->ack == 0 || h->ack > STATE_WORKERS_MAX || h->msgno != 1) {
			snprintf(err, errlen, "a bad header");
			return (-1);
		}
		si->written_ms = h->epoch;
		si->nworkers = h->ack;
		return (0);
	}
	if (h->epoch != si->written_ms || h->msgno != n) {
		snprintf(err, errlen, "message %u is not of this file (a torn "
		    "or spliced write)", n);
		return (-1);
	}
	switch (h->type) {
	case SYNC_T_UPDATE:
		if (h->seq >= si->nworkers || state_upserts(p, h) == -1) {
			snprintf(err, errlen, "message %u: a bad record", n);
			return (-1);
		}
		if (si->records > UINT32_MAX - h->count) {
			snprintf(err, errlen, "too many records");
			return (-1);
		}
		si->records += h->count;
		return (0);
	case SYNC_T_BULK_END:
		if (h->seq != si->records || h->ack != n) {
			snprintf(err, errlen, "its trailer counts %u records "
			    "in %u messages, the file has %u in %u", h->seq,
			    h->ack, si->records, n);
			return (-1);
		}
		si->messages = n;
		return (1);
	default:
		snprintf(err, errlen, "message %u: of type %s", n,
		    sync_type_name(h->type));
		return (-1);
	}
}

int
state_check(const void *buf, size_t len, struct sync_mac *mac,
    struct state_info *si, char *err, size_t errlen)
{
	const uint8_t	*p = buf, *end = p + len;
	struct sync_hdr	 h;
	uint32_t	 n = 0;
	size_t		 mlen;
	int		 rc, ended = 0;

	memset(si, 0, sizeof(*si));
	if (len == 0) {
		snprintf(err, errlen, "empty");
		return (-1);
	}
	if (len > STATE_FILE_MAX) {
		snprintf(err, errlen, "larger than %u bytes", STATE_FILE_MAX);
		return (-1);
	}
	if (mac == NULL) {
		snprintf(err, errlen, "libcrypto: cannot make the key");
		return (-1);
	}
	for (; p < end; p += mlen) {
		if (ended) {
			snprintf(err, errlen, "data after its trailer");
			return (-1);
		}
		if ((mlen = state_msg_len(p, (size_t)(end - p))) == 0) {
			snprintf(err, errlen, "ends inside message %u (a torn "
			    "write?)", n + 1);
			return (-1);
		}
		if ((rc = sync_msg_parse_mac(p, mlen, mac, &h)) != SYNC_OK) {
			if (n == 0 && rc == SYNC_EMAGIC)
				snprintf(err, errlen, "not a state file");
			else
				snprintf(err, errlen, "message %u: %s (a torn "
				    "write, or not ours)", n + 1,
				    sync_err_name(rc));
			return (-1);
		}
		if ((rc = state_check_msg(p, &h, ++n, si, err, errlen)) == -1)
			return (-1);
		ended = rc == 1;
	}
	if (!ended) {
		snprintf(err, errlen, "ends before its trailer (a torn "
		    "write?)");
		return (-1);
	}
	return (0);
}

void
state_iter_init(struct state_iter *si, const void *buf, size_t len,
    struct sync_mac *mac)
{
	memset(si, 0, sizeof(*si));
	si->mac = mac;
	si->p = buf;
	si->end = si->p + len;
}

int
state_iter_next(struct state_iter *si, struct sync_rec *r,
    uint32_t *worker)
{
	struct sync_hdr	 h;
	size_t		 mlen;

	for (;;) {
		if (sync_iter_rec(&si->it, r)) {
			*worker = si->worker;
			return (1);
		}
		if ((mlen = state_msg_len(si->p,
		    (size_t)(si->end - si->p))) == 0)
			return (0);
		/* checked already: parsed again for its header */
		if (sync_msg_parse_mac(si->p, mlen, si->mac, &h) != SYNC_OK)
			return (0);
		if (h.type == SYNC_T_UPDATE) {
			sync_iter_init(&si->it, si->p, &h);
			si->worker = h.seq;
		}
		si->p += mlen;
	}
}

int
state_rec_age(struct sync_rec *r, uint64_t elapsed_ms)
{
	uint64_t	 age;

	if (r->s.left_ms <= elapsed_ms)
		return (0);
	r->s.left_ms -= (uint32_t)elapsed_ms;
	age = (uint64_t)r->s.age_s + elapsed_ms / 1000;
	r->s.age_s = age > UINT32_MAX ? UINT32_MAX : (uint32_t)age;
	ct_snap_elapse(&r->s, elapsed_ms);
	return (1);
}
