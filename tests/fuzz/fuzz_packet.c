/*
 * fuzz_packet.c - libFuzzer target: packets through the whole engine
 *
 * Copyright (C) 2026 The nfqspid authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * Fragments go through a fragment cache per worker first (small caps,
 * a 1 s timeout: reassembly, overlaps, timeouts and a full cache are all
 * reached), and every fragment held must come back exactly once.
 *
 * Each input is a short sequence of packets, each decided by
 * verdict_packet() (parse, track, limits, rules, policy) as a queue
 * worker does it.  Two "workers" each keep a connection table of at most
 * 64 entries and a limit table; both live across inputs, as does the
 * clock, so that sequences matter.  The rules (below) use every key,
 * rate, conn_limit, reject and marks among them; an input may switch to
 * another configuration, which is a reload: new table limits, every
 * connection judged again.  Every result is formatted as the audit record
 * and the replay line, a reject gets its answer built, and invariants are
 * checked: the table never holds more than its max, the table's events
 * account for every entry, verdict fields are in range, the formatted
 * lines are single lines, a flushed table leaves no connection counted
 * under conn_limit, every connection prints as JSON and
 * as an event line (ct_view.h).
 *
 * Input: one flags byte, then records of
 *   u8 op, u8 dt, u16 length (big endian), length bytes of IP packet
 * flags: bit 0 start afresh (flush everything); bits 1-2 configuration
 *   (0 enforce, 1 the same rules in monitor mode, 2 other rules and a
 *   max of 4; 3 is 0).
 * op: bits 0-1 interfaces; bit 2 worker; bits 3-5 hook (mod 6); bits
 *   6-7 and dt bit 0 what follows the packet: nothing, ct_expire() and
 *   limit_expire(), a walk formatting every entry (dt odd: removing the
 *   first; even: the packet's TCP connection first goes out and back in
 *   as a state file or the HA peer brings it, its windows to re-learn:
 *   ct_snap_stale(), or with dt bit 3 the peer's, re-learnt only while
 *   dt bit 4 makes the node master: ct_snap_peer(), ct_relearn_peer()),
 *   a flush (dt odd: verdict_rejudge()).
 * dt: the clock advances dt ms (dt < 128) or (dt - 128) * 250 ms; bit 1:
 *   the batch path (verdict_ahead(), verdict_packet() with it), bit 2 with
 *   the hint of the packet before, which the lookup must not use.
 *
 * A crash that needs the state left by earlier inputs does not reproduce
 * from its file alone: set bit 0 of the first byte and keep the packets
 * that matter in one input.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE	/* memfd_create */
#endif

#include <sys/types.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <netinet/in.h>

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "csum.h"
#include "frag.h"
#include "ct.h"
#include "ct_view.h"
#include "limit.h"
#include "pkt.h"
#include "reason.h"
#include "reject.h"
#include "verdict.h"
#include "fuzz.h"

#define MAXPKTS		64	/* packets per input at most */
#define NSRCS		16	/* recent sources, for the conn_limit check */
#define LIMIT_SLOTS	16	/* small, so that eviction happens */

#define RULES_A								\
	"[log]\ninvalid = yes\nrate = 5\n"				\
	"[policy]\nestablished = accept\nrelated = accept\n"		\
	"invalid = drop\nnew = drop\n"					\
	"[rule ssh]\nstate = new\nproto = tcp\ndport = 22\n"		\
	"action = accept\nmark = 0x10\nconn_limit = 2\n"		\
	"[rule web]\nproto = tcp\ndport = 80, 443, 8000-8080\n"		\
	"tcp_flags = S/SAFR\nsrc = 0.0.0.0/0, ::/0, !192.0.2.7\n"	\
	"action = accept\nrate = 3/s\nlog = yes\n"			\
	"[rule telnet]\nproto = tcp\ndport = 23\naction = reject\n"	\
	"[rule dns]\nproto = udp\ndport = 53\naction = accept\n"	\
	"conn_limit = 1\nrate = 2/s\nmark = 0x2\n"			\
	"[rule tftp]\nproto = udp\ndport = 69\naction = reject\n"	\
	"[rule ping]\nproto = icmp\nicmp_type = echo-request\n"	\
	"action = accept\nconn_limit = 3\n"				\
	"[rule ping6]\nproto = icmpv6\n"				\
	"icmp_type = echo-request, neighbour-solicitation\n"		\
	"action = accept\n"						\
	"[rule fwd]\nin = eth0\nout = wg+\nchain = forward\n"		\
	"action = accept\nmark = 0x30\n"				\
	"[rule out]\nchain = output, postrouting\nproto = udp\n"	\
	"dst = 10.0.0.0/8, 2001:db8::/32\naction = accept\n"		\
	"[rule errs]\nstate = related\nproto = icmp\n"			\
	"icmp_type = destination-unreachable, time-exceeded\n"		\
	"action = accept\nlog = yes\n"					\
	"[rule inv]\nstate = invalid\nproto = tcp\naction = drop\n"	\
	"log = yes\n"							\
	"[rule sctp]\nproto = 132\naction = accept\n"			\
	"[rule est]\nstate = established\nproto = udp\nsport = 53\n"	\
	"action = accept\nmark = 0x99\n"

#define CONNTRACK(max)							\
	"[conntrack]\nmax = " max "\ntcp_loose = yes\n"			\
	"frag_timeout = 1\nfrag_max_datagrams = 8\nfrag_max_held = 32\n"	\
	"frag_max_bytes = 65536\n"					\
	"timeout_tcp_syn_sent = 5\ntimeout_tcp_syn_recv = 5\n"		\
	"timeout_tcp_established = 60\ntimeout_tcp_fin_wait = 5\n"	\
	"timeout_tcp_close_wait = 5\ntimeout_tcp_last_ack = 5\n"	\
	"timeout_tcp_time_wait = 5\ntimeout_tcp_close = 2\n"		\
	"timeout_tcp_syn_sent2 = 5\ntimeout_tcp_max_retrans = 10\n"	\
	"timeout_tcp_unacknowledged = 10\ntimeout_udp = 3\n"		\
	"timeout_udp_stream = 10\ntimeout_icmp = 3\n"			\
	"timeout_icmpv6 = 3\ntimeout_generic = 10\n"

/* a reload that ends some connections; invalid packets and new ones are
   rejected; a table of 4 entries, which a few connections fill (eviction,
   table-full) */
#define RULES_B								\
	"[policy]\nestablished = accept\nrelated = accept\n"		\
	"invalid = reject\nnew = reject\n"				\
	"[rule web]\nproto = tcp\ndport = 80\naction = accept\n"	\
	"conn_limit = 1\nmark = 0x5\n"					\
	"[rule dns]\nproto = udp\ndport = 53, 5353\naction = accept\n"	\
	"rate = 1/s\n"							\
	"[rule icmp]\nproto = icmp\naction = accept\n"			\
	"[rule icmp6]\nproto = icmpv6\naction = accept\nin = eth0, lo\n"	\
	"[rule noflags]\nproto = tcp\ntcp_flags = /SAFR\naction = drop\n"	\
	"log = yes\n"

static const char *const inis[3] = {
	"[daemon]\nmode = enforce\n" CONNTRACK("64") RULES_A,
	"[daemon]\nmode = monitor\n" CONNTRACK("64") RULES_A,
	"[daemon]\nmode = enforce\n" CONNTRACK("4") RULES_B
};

static const char *const in_names[4] = { "", "eth0", "eth0", "lo" };
static const char *const out_names[4] = { "", "", "wg0", "eth1" };

struct worker {
	struct ct_table		*ct;
	struct limit_table	*lt;
	struct frag_cache	*fc;
	uint64_t		 held;	/* fragments held, by our count */
	long			 live;	/* NEW events - DESTROY events */
	size_t			 cap;	/* ct_count() may not exceed it */
};

static struct config	*cfgs[3];
static const struct config *cfg;
static struct worker	 workers[2];
static uint64_t		 now_ms = 1000;
static struct {
	uint8_t		 family;
	union pkt_addr	 addr;
} srcs[NSRCS];
static size_t		 nsrcs, srcpos;

static struct config *
load(const char *text)
{
	struct config	*c;
	char		 path[64], err[512];
	int		 fd;

	if ((fd = memfd_create("fuzz_packet.ini", 0)) == -1) {
		perror("memfd_create");
		abort();
	}
	CHECK(write(fd, text, strlen(text)) == (ssize_t)strlen(text));
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	if ((c = config_load(path, err, sizeof(err))) == NULL) {
		fprintf(stderr, "fuzz_packet: built-in configuration: %s\n",
		    err);
		abort();
	}
	close(fd);
	return (c);
}

static void
event(int ev, const struct ct_entry *e, void *arg)
{
	struct worker	*w = arg;

	CHECK(ev == CT_EVENT_NEW || ev == CT_EVENT_UPDATE ||
	    ev == CT_EVENT_DESTROY);
	if (ev == CT_EVENT_NEW)
		w->live++;
	else if (ev == CT_EVENT_DESTROY)
		w->live--;
	limit_ct_event(ev, e, w->lt);
}

static void
init(void)
{
	size_t	 i;

	for (i = 0; i < 3; i++)
		cfgs[i] = load(inis[i]);
	cfg = cfgs[0];
	for (i = 0; i < 2; i++) {
		CHECK((workers[i].ct = ct_new(&cfg->ct)) != NULL);
		CHECK((workers[i].lt = limit_new(LIMIT_SLOTS)) != NULL);
		CHECK((workers[i].fc = frag_new(&cfg->frag)) != NULL);
		ct_set_event_cb(workers[i].ct, event, &workers[i]);
		workers[i].cap = cfg->ct.max;
	}
}

static void
check_table(struct worker *w)
{
	size_t	 n = ct_count(w->ct);

	CHECK(w->live >= 0 && (size_t)w->live == n);
	CHECK(n <= w->cap);
	/* after a lower max, the table may only shrink towards it */
	w->cap = n > cfg->ct.max ? n : cfg->ct.max;
}

static void
check_line(const char *buf, int n, size_t len)
{
	CHECK(n > 0);
	CHECK(strchr(buf, '\n') == NULL);
	if ((size_t)n < len)
		CHECK(strlen(buf) == (size_t)n);
	else
		CHECK(strlen(buf) == len - 1);
}

static void
check_verdict(const struct verdict *v, const struct pkt *p, const char *in,
    const char *out, size_t len)
{
	char	 line[512], small[24];
	int	 n;

	CHECK(v->action <= RULE_REJECT && v->decided <= RULE_REJECT);
	CHECK(v->state < CT_STATE_MAX);
	CHECK(v->reason < REASON_MAX);
	CHECK(v->state == CT_INVALID || v->reason == REASON_NONE);
	CHECK(v->limit <= VERDICT_LIMIT_CONN);
	CHECK(v->limit == VERDICT_LIMIT_NONE ||
	    (v->decided == RULE_DROP && v->state == CT_NEW && v->log));
	CHECK(v->log <= 1 && v->monitor <= 1 && v->set_mark <= 1);
	CHECK(v->set_mark || v->mark == 0);
	CHECK(v->rule == NULL || (v->rule >= cfg->rules &&
	    v->rule < cfg->rules + cfg->nrules));
	if (cfg->mode == MODE_MONITOR) {
		CHECK(v->action == RULE_ACCEPT);
		CHECK(v->monitor == (v->decided != RULE_ACCEPT));
	} else
		CHECK(v->action == v->decided && !v->monitor);

	n = verdict_format(v, line, sizeof(line));
	check_line(line, n, sizeof(line));
	n = verdict_format(v, small, sizeof(small));
	check_line(small, n, sizeof(small));
	n = verdict_audit(v, p, in, out, len, line, sizeof(line));
	check_line(line, n, sizeof(line));
	CHECK(strncmp(line, "action=", 7) == 0);
	n = verdict_audit(v, p, in, out, len, small, sizeof(small));
	check_line(small, n, sizeof(small));
}

/* The answer to a reject is a packet we send: it must be a sound one. */
static void
check_reject(const struct pkt *p)
{
	uint8_t		 buf[REJECT_MAXLEN], *copy;
	struct pkt	 q;
	enum reason	 why;
	size_t		 n;

	if ((n = reject_build(p, buf, sizeof(buf))) == 0)
		return;
	CHECK(n <= REJECT_MAXLEN);
	CHECK(p->family != AF_INET || n <= REJECT_MAXLEN4);
	CHECK((copy = malloc(n)) != NULL);
	memcpy(copy, buf, n);
	if (pkt_parse(&q, copy, n, &why) == -1)
		fprintf(stderr, "reject answer (%zu bytes) is INVALID: %s\n",
		    n, reason_name(why));
	CHECK(pkt_parse(&q, copy, n, &why) == 0);
	CHECK(q.family == p->family);
	CHECK(q.frag == PKT_FRAG_NONE);
	if (q.proto == IPPROTO_TCP)
		CHECK(q.th_flags & PKT_TH_RST);
	else
		CHECK((q.proto == IPPROTO_ICMP || q.proto == IPPROTO_ICMPV6) &&
		    q.is_icmp_error);
	free(copy);
}

static int
walk_fn(struct ct_table *t, struct ct_entry *e, void *arg)
{
	struct ct_view	 v;
	char		 line[512], json[CT_VIEW_BUFLEN];
	int		*remove = arg, n;

	n = ct_format(e, now_ms, line, sizeof(line));
	check_line(line, n, sizeof(line));
	CHECK((size_t)n < sizeof(line));
	/* what nfqspictl -j, events and the page print */
	ct_view_fill(&v, e, now_ms);
	v.rule_name = "r";
	n = ct_view_json(&v, "\"worker\":0", json, sizeof(json));
	CHECK(n > 0 && (size_t)n < sizeof(json) && json[0] == '{' &&
	    json[n - 1] == '}');
	n = ct_view_text(&v, CT_VIEW_EVENT, json, sizeof(json));
	CHECK(n > 0 && (size_t)n < sizeof(json));
	if (*remove) {
		*remove = 0;
		ct_remove(t, e);
	}
	return (0);
}

static void
rejudge_audit(void *arg, const char *line)
{
	CHECK(strchr(line, '\n') == NULL);
	CHECK(strstr(line, " reason=policy-reload") != NULL);
}

/* A flushed table leaves no connection counted against conn_limit. */
static void
check_flushed(struct worker *w)
{
	size_t	 i, j;

	CHECK(ct_count(w->ct) == 0 && w->live == 0);
	for (i = 0; i < cfg->nrules; i++) {
		if (cfg->rules[i].conn_limit == 0)
			continue;
		for (j = 0; j < nsrcs; j++)
			CHECK(limit_conn_count(w->lt, (uint16_t)i,
			    srcs[j].family, &srcs[j].addr) == 0);
	}
}

static void
reload(const struct config *c)
{
	size_t	 i;

	cfg = c;
	for (i = 0; i < 2; i++) {
		ct_set_config(workers[i].ct, &cfg->ct);
		(void)verdict_rejudge(cfg, workers[i].ct, workers[i].lt,
		    now_ms, rejudge_audit, NULL);
		check_table(&workers[i]);
	}
}

/* A datagram given up on: its fragments come back once, at least one. */
static void
frag_expired(void *arg, const struct frag_expired *x)
{
	struct worker	*w = arg;
	struct pkt	 p;

	CHECK(x->n > 0 && x->n <= FRAG_MAX_FRAGS && x->n <= w->held);
	w->held -= x->n;
	(void)pkt_parse(&p, x->buf, x->len, NULL);
	CHECK(p.family == AF_INET || p.family == AF_INET6);
}

/* The cache within its caps, every held fragment accounted for. */
static void
check_frag(struct worker *w)
{
	struct frag_stats	 st;

	frag_get_stats(w->fc, &st);
	CHECK(st.held == w->held);
	CHECK(st.held <= cfg->frag.max_held);
	CHECK(st.bytes <= cfg->frag.max_bytes);
	CHECK(st.datagrams <= cfg->frag.max_datagrams);
	CHECK(st.held > 0 || st.bytes == 0);
}

static void
after(struct worker *w, int what, int odd)
{
	uint64_t	 cursor = 0;
	int		 remove = odd;

	switch (what) {
	case 1:
		ct_expire(w->ct, now_ms);
		limit_expire(w->lt, now_ms);
		(void)frag_expire(w->fc, now_ms, frag_expired, w);
		break;
	case 2:
		do
			(void)ct_walk(w->ct, &cursor, 16, walk_fn, &remove);
		while (cursor != 0);
		break;
	case 3:
		if (odd)
			(void)verdict_rejudge(cfg, w->ct, w->lt, now_ms,
			    rejudge_audit, NULL);
		else {
			ct_flush(w->ct);
			check_flushed(w);
			(void)frag_expire(w->fc, UINT64_MAX, frag_expired, w);
			CHECK(w->held == 0);
		}
		break;
	default:
		break;
	}
	check_table(w);
	check_frag(w);
}

/* p's TCP or UDP connection, if any, as a restart or the HA peer
   brings it back: exported, its windows made a snapshot's (or the
   peer's, the node master or not), imported in place; a UDP flow comes
   back exactly as it was, its wait for the stream too */
static void
restale(struct worker *w, const struct pkt *p, uint8_t dt)
{
	struct ct_tuple	 k;
	struct ct_entry	*e;
	struct ct_snap	 s, s2;

	if ((p->proto != IPPROTO_TCP && p->proto != IPPROTO_UDP) ||
	    (p->family != AF_INET && p->family != AF_INET6))
		return;
	memset(&k, 0, sizeof(k));
	k.family = p->family;
	k.proto = p->proto;
	k.src = p->src;
	k.dst = p->dst;
	k.sport = p->sport;
	k.dport = p->dport;
	/* clocked first, as the daemon's exporters are: a packet decided
	   before the tracker leaves the table's clock behind, left_ms
	   counts from that clock, and ct_import() from now_ms */
	ct_expire(w->ct, now_ms);
	if ((e = ct_lookup(w->ct, &k)) == NULL)
		return;
	ct_export(w->ct, e, &s);
	if (s.left_ms == 0)
		return;		/* its time is up: nothing to bring back */
	if (p->proto == IPPROTO_UDP) {
		CHECK(ct_snap_check(&s) == 0);
		CHECK(ct_import(w->ct, &s, now_ms, NULL) == e);
		ct_export(w->ct, e, &s2);
		CHECK(memcmp(&s, &s2, sizeof(s)) == 0);
		return;
	}
	if (dt & 8)
		ct_snap_peer(&s);
	else
		ct_snap_stale(&s);
	ct_relearn_peer(w->ct, (dt & 16) != 0);
	CHECK(ct_snap_check(&s) == 0);
	CHECK(ct_import(w->ct, &s, now_ms, NULL) == e);
}

/* the hint of the last packet, kept for the next */
static struct ct_ahead	 ahead;
static uint64_t		 nextid;

/*
 * buf through w's fragment cache first, as a worker does it: 1 if that
 * decided it (v), or held it (v untouched, *held set).
 */
static int
fragment(struct worker *w, const struct verdict_ctx *x, const uint8_t *buf,
    size_t len, struct pkt *p, struct verdict *v, int *held)
{
	struct frag_result	 res;

	*held = 0;
	switch (verdict_fragment(x, w->fc, buf, len, nextid++, &res, p, v)) {
	case FRAG_PASS:
		return (0);
	case FRAG_HELD:
		w->held++;
		*held = 1;
		return (1);
	case FRAG_WHOLE:
		CHECK(res.len >= 20 && res.len <= FRAG_MAX_DGRAM + 40);
		CHECK(v->state != CT_INVALID || v->reason != REASON_NONE);
		break;
	case FRAG_DROP:
		CHECK(v->state == CT_INVALID && v->reason == res.reason);
		break;
	}
	CHECK(res.n <= FRAG_MAX_FRAGS && res.n <= w->held);
	w->held -= res.n;
	return (1);
}


/* The compiled index names the rule a walk in file order names. */
static void
check_first_rule(const struct pkt *p, const char *in, const char *out)
{
	const struct rule *want;
	size_t		 i;
	int		 s;

	for (s = 0; s < CT_STATE_MAX; s++) {
		want = NULL;
		for (i = 0; i < cfg->nrules && want == NULL; i++)
			if (rule_match(&cfg->rules[i], p, s, in, out))
				want = &cfg->rules[i];
		CHECK(verdict_first_rule(cfg, p, s, in, out) == want);
	}
}
static void
packet(uint8_t op, uint8_t dt, const uint8_t *data, size_t len)
{
	struct worker	*w = &workers[(op >> 2) & 1];
	struct worker	*other = &workers[!((op >> 2) & 1)];
	const char	*in = in_names[op & 3], *out = out_names[op & 3];
	struct verdict	 v;
	struct verdict_ctx x;
	struct pkt	 p;
	uint8_t		*buf;
	uint32_t	 mark;
	int		 held = 0;

	now_ms += dt < 128 ? dt : (uint64_t)(dt - 128) * 250;
	/* an exact copy: ASan sees any read past the packet */
	CHECK((buf = malloc(len ? len : 1)) != NULL);
	if (len > 0)
		memcpy(buf, data, len);
	x = (struct verdict_ctx){ cfg, w->ct, w->lt, in, out,
	    ((op >> 3) & 7) % PKT_HOOK_MAX, CSUM_IP | CSUM_L4, now_ms };
	if (dt & 2) {
		/* the worker's batch path: its own hint, or (dt & 4) the
		   previous packet's, which must not be used for this one */
		if (!(dt & 4))
			verdict_ahead(w->ct, buf, len, &ahead);
		ct_ahead_entry(w->ct, &ahead);
		ct_ahead_chain(w->ct, &ahead);
		/* as the kernel has verified the checksums: the rest of
		   the engine is reached by packets whose sums are wrong */
		x.csum = 0;
		verdict_packet(&x, buf, len, &ahead, &p, &v);
	} else {
		/* fragments are held and decided whole, as in a worker */
		if (!fragment(w, &x, buf, len, &p, &v, &held))
			verdict_packet(&x, buf, len, NULL, &p, &v);
		verdict_ahead(w->ct, buf, len, &ahead);
	}
	if (held) {
		free(buf);
		check_frag(w);
		after(w, op >> 6, dt & 1);
		return;
	}
	check_verdict(&v, &p, in, out, len);
	check_first_rule(&p, in, out);
	/* an ICMP error about a connection of the other worker */
	if (verdict_needs_owner(&p, &v) &&
	    ct_find_related(other->ct, &p, &mark)) {
		verdict_related(cfg, &p, in, out, mark, &v);
		check_verdict(&v, &p, in, out, len);
		CHECK(v.state == CT_RELATED);
	}
	if (v.action == RULE_REJECT)
		check_reject(&p);
	if (p.family == AF_INET || p.family == AF_INET6) {
		srcs[srcpos].family = p.family;
		srcs[srcpos].addr = p.src;
		srcpos = (srcpos + 1) % NSRCS;
		if (nsrcs < NSRCS)
			nsrcs++;
	}
	free(buf);
	if (op >> 6 == 2 && !(dt & 1))
		restale(w, &p, dt);
	check_table(w);
	check_table(other);
	after(w, op >> 6, dt & 1);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const struct config *c;
	size_t		 len, n;
	uint8_t		 op, dt;
	int		 i;

	if (cfgs[0] == NULL)
		init();
	if (size < 1)
		return (0);
	if (data[0] & 1) {
		for (i = 0; i < 2; i++) {
			ct_flush(workers[i].ct);
			limit_flush(workers[i].lt);
			check_flushed(&workers[i]);
		}
		nsrcs = srcpos = 0;
	}
	c = cfgs[((data[0] >> 1) & 3) % 3];
	if (c != cfg)
		reload(c);
	data++;
	size--;

	for (n = 0; n < MAXPKTS && size >= 4; n++) {
		op = data[0];
		dt = data[1];
		len = (size_t)data[2] << 8 | data[3];
		data += 4;
		size -= 4;
		if (len > size)
			len = size;
		packet(op, dt, data, len);
		data += len;
		size -= len;
	}
	return (0);
}
