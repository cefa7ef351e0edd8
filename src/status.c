/*
 * status.c - the daemon's counters, declared once, and every printed
 * form of them: nfqspictl status and stats (text and JSON), the page's
 * /api/stats and Prometheus' /metrics
 *
 * Copyright (C) 2026 The nfqspid authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * counters[] is the one list: a counter's name (the text and JSON key),
 * its Prometheus name with labels, help and type, and where it lies in
 * struct worker_stats.  Adding one is one line there (a row a line,
 * however long: the list reads as a table).  Consecutive
 * entries with the same Prometheus name before the '{' are one family
 * (one HELP and TYPE).  The rest of a status (version, uptime, queues)
 * is not a counter and is written out here by hand, once per form.
 */
#include <sys/types.h>
#include <netinet/in.h>

#include <errno.h>
#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/buffer.h>

#include "nfqspid.h"
#include "clock.h"
#include "ctlproto.h"

enum { COUNTER, GAUGE };

struct status_counter {
	const char	*name;		/* text and JSON */
	const char	*metric;	/* NULL: not in /metrics */
	const char	*help;
	int		 type;
	size_t		 off;		/* in struct worker_stats */
	size_t		 size;		/* 4 or 8 */
};

/* where field f lies, and its size (4 or 8 bytes, or no build) */
#define WS_SIZE(f)	sizeof(((struct worker_stats *)0)->f)
#define WS(f)	offsetof(struct worker_stats, f), WS_SIZE(f) + 0 * \
		sizeof(char[WS_SIZE(f) == 4 || WS_SIZE(f) == 8 ? 1 : -1])

static const struct status_counter counters[] = {
	{ "received", "received_total", "Packets decided (a deferred one once it is decided).", COUNTER, WS(received) },
	{ "accepted", "packets_total{verdict=\"accept\"}", "Packets by verdict (monitor mode: what they got).", COUNTER, WS(accepted) },
	{ "dropped", "packets_total{verdict=\"drop\"}", NULL, COUNTER, WS(dropped) },
	{ "invalid", "packets_state_total{state=\"INVALID\"}", "Packets that were RELATED or INVALID.", COUNTER, WS(invalid) },
	{ "related", "packets_state_total{state=\"RELATED\"}", NULL, COUNTER, WS(related) },
	{ "early_drops", "early_drops_total", "Connections evicted to make room for new ones.", COUNTER, WS(ct.early_drop) },
	{ "enobufs", "enobufs_total", "Reads of the queue's socket that failed with ENOBUFS: none while NETLINK_NO_ENOBUFS is set, as nfqspid sets it; what a full socket cost is in nfqspid_lost_total.", COUNTER, WS(nq.enobufs) },
	{ "verdict_errors", "verdict_errors_total", "Verdicts the kernel refused.", COUNTER, WS(nq.verdict_errors) },
	/* by protocol and state in /metrics, from the tables */
	{ "connections", NULL, NULL, GAUGE, WS(conns) },
	{ "created", "connections_created_total", "Connections tracked.", COUNTER, WS(ct.created) },
	{ "destroyed", "connections_destroyed_total", "Connections removed for any reason.", COUNTER, WS(ct.destroyed) },
	{ "expired", "connections_expired_total", "Connections whose timeout ran out.", COUNTER, WS(ct.expired) },
	{ "insert_failed", "insert_failed_total", "New connections refused: the table was full (table-full).", COUNTER, WS(ct.insert_failed) },
	{ "share_refused", "share_refused_total", "New connections refused: their source held its source_share of the table (source-share).", COUNTER, WS(ct.share_refused) },
	{ "window_grace", "window_grace_total", "TCP segments out of window let pass in the grace after a queue overflow (overflow-grace).", COUNTER, WS(ct.window_grace) },
	{ "window_relearn", "window_relearn_total", "TCP segments out of a restored or synced connection's window, let pass as the first of their side: the window is re-learnt from them.", COUNTER, WS(ct.window_relearn) },
	{ "restored", "connections_restored_total", "Connections restored at start from the last run's [daemon] state_file.", COUNTER, WS(restored) },
	{ "overflows", "overflows_total", "Times a queue was found overflowing while failing open (each starts a grace).", COUNTER, WS(overflows) },
	{ "adopted", "sync_adopted_total", "Synced connections a worker took from their home worker after a failover ([sync], several workers).", COUNTER, WS(adopted) },
	{ "adopt_failed", "sync_adopt_failed_total", "Synced connections lost moving between workers (adopted, or back home when the node became backup): the receiving worker's table refused them (full).", COUNTER, WS(adopt_failed) },
	{ "adopt_missed", "sync_adopt_missed_total", "Packets that may have been a synced connection's, judged without it: the packets waiting for home workers' answers were at their byte cap or the room was full, or no answer came in time.", COUNTER, WS(adopt_missed) },
	{ "adopt_untold", "sync_adopt_untold_total", "Entries a packet made off their home worker that this worker could not tell home of (its list was full): home's older synced copy, if any, stays until its timeout.", COUNTER, WS(adopt_untold) },
	{ "forgot_deletes", "sync_home_forgot_total{list=\"deletes\"}", "Past a home worker's lists of 1024, by list: connections given back home (the node became backup) after more of the peer's deletes than home remembers, ended as if the peer had ended them (its refresh brings a live one back); connections living in another worker that home no longer remembers, where a copy of the peer's may stay beside them until its timeout.", COUNTER, WS(forgot_deletes) },
	{ "forgot_moved", "sync_home_forgot_total{list=\"moved\"}", NULL, COUNTER, WS(forgot_moved) },
	{ "adopt_waiting", "sync_adopt_waiting", "Packets waiting now for home workers' answers about their synced connections.", GAUGE, WS(adopt_waiting) },
	{ "adopt_bytes", "sync_adopt_waiting_bytes", "Bytes of the packets waiting for home workers' answers, with their questions' (the cap is 8 MiB a worker).", GAUGE, WS(adopt_bytes) },
	{ "grace_saved", "sync_grace_held_total{result=\"saved\"}", "Packets a new master held in its grace for the old master's record of their connection, by what they got: accepted against the connection the record brought (saved; not a SYN, which needs none), or refused as before (unsaved: no record in time, or refused with it).", COUNTER, WS(grace_saved) },
	{ "grace_unsaved", "sync_grace_held_total{result=\"unsaved\"}", NULL, COUNTER, WS(grace_unsaved) },
	{ "lost", "lost_total", "Packet ids that never reached us: the socket was full (accepted with fail_open, else dropped).", COUNTER, WS(nq.lost) },
	{ "repeated", "repeated_total", "Packets queued again to be copied whole: their checksum was not verified and the queue copied headers only.", COUNTER, WS(nq.repeated) },
	{ "audited", "audit_records_total", "Audit records written.", COUNTER, WS(audited) },
	{ "suppressed", "audit_suppressed_total", "Audit records over [log] rate, not written.", COUNTER, WS(suppressed) },
	{ "bad_messages", "bad_messages_total", "Queue messages without a packet id (cannot be answered).", COUNTER, WS(nq.bad_messages) },
	{ "malformed", "malformed_total", "Queue messages with an id but a bad attribute (answered as INVALID).", COUNTER, WS(nq.malformed) },
	{ "queued", "queued_total", "Packets read from the queues.", COUNTER, WS(nq.received) },
	{ "verdicts", "verdicts_total", "Verdicts sent.", COUNTER, WS(nq.verdicts) },
	{ "deferred", "deferred_total", "Verdicts given later (held fragments, ICMP errors about another worker's connection).", COUNTER, WS(nq.deferred) },
	{ "rejects", "rejects_total", "Answers sent for reject rules.", COUNTER, WS(rejects) },
	{ "reject_errors", "reject_errors_total", "Answers for reject rules that could not be sent.", COUNTER, WS(reject_errors) },
	{ "frag_held", "fragments_held", "Fragments held until their datagram is whole (each takes a slot of the kernel's queue).", GAUGE, WS(frag.held) },
	{ "frag_bytes", "fragments_held_bytes", "Bytes of the fragments held.", GAUGE, WS(frag.bytes) },
	{ "frag_datagrams", "fragment_datagrams", "Datagrams incomplete, or ended and remembered until their timeout.", GAUGE, WS(frag.datagrams) },
	{ "frag_seen", "fragments_total", "Fragments read.", COUNTER, WS(frag.fragments) },
	{ "frag_completed", "fragment_datagrams_completed_total", "Fragmented datagrams made whole and decided once.", COUNTER, WS(frag.completed) },
	{ "frag_overlap", "fragments_dropped_total{reason=\"frag-overlap\"}", "Fragments dropped by the fragment cache, by why.", COUNTER, WS(frag.dropped[FRAG_DROP_OVERLAP]) },
	{ "frag_duplicate", "fragments_dropped_total{reason=\"frag-duplicate\"}", NULL, COUNTER, WS(frag.dropped[FRAG_DROP_DUPLICATE]) },
	{ "frag_invalid", "fragments_dropped_total{reason=\"fragment\"}", NULL, COUNTER, WS(frag.dropped[FRAG_DROP_INVALID]) },
	{ "frag_too_many", "fragments_dropped_total{reason=\"frag-too-many\"}", NULL, COUNTER, WS(frag.dropped[FRAG_DROP_TOO_MANY]) },
	{ "frag_cache_full", "fragments_dropped_total{reason=\"frag-cache-full\"}", NULL, COUNTER, WS(frag.dropped[FRAG_DROP_FULL]) },
	{ "frag_timeout", "fragments_dropped_total{reason=\"frag-timeout\"}", NULL, COUNTER, WS(frag.dropped[FRAG_DROP_TIMEOUT]) },
	/* [sync]: the sync thread's, in the totals only */
	{ "sync_sent", "sync_messages_sent_total", "Sync data messages sent to the HA peer (resends apart).", COUNTER, WS(sync.sent) },
	{ "sync_resent", "sync_messages_resent_total", "Sync data messages sent again after the peer's NACK.", COUNTER, WS(sync.resent) },
	{ "sync_received", "sync_messages_received_total", "Sync messages taken from the HA peer.", COUNTER, WS(sync.received) },
	{ "sync_changes", "sync_changes_total", "Connection changes the workers queued for the HA peer.", COUNTER, WS(sync.changes) },
	{ "sync_lost", "sync_changes_lost_total", "Changes that found their ring full (each leads to a full resync).", COUNTER, WS(sync.lost) },
	{ "sync_applied", "sync_applied_total", "Connection records of the HA peer applied to the table.", COUNTER, WS(sync.applied) },
	{ "sync_failed", "sync_import_failed_total", "Connection records of the HA peer the table refused (full).", COUNTER, WS(sync.import_failed) },
	{ "sync_bulks_sent", "sync_bulks_total{dir=\"out\"}", "Whole tables sent to and received from the HA peer.", COUNTER, WS(sync.bulks_sent) },
	{ "sync_bulks_recv", "sync_bulks_total{dir=\"in\"}", NULL, COUNTER, WS(sync.bulks_received) },
	{ "sync_forged", "sync_refused_total{reason=\"forged\"}", "Sync messages dropped, by why.", COUNTER, WS(sync.forged) },
	{ "sync_replayed", "sync_refused_total{reason=\"replayed\"}", NULL, COUNTER, WS(sync.replayed) },
	{ "sync_malformed", "sync_refused_total{reason=\"malformed\"}", NULL, COUNTER, WS(sync.malformed) },
	{ "sync_version", "sync_refused_total{reason=\"version\"}", NULL, COUNTER, WS(sync.version) },
	{ "sync_stranger", "sync_refused_total{reason=\"stranger\"}", NULL, COUNTER, WS(sync.strangers) },
	{ "offloaded", "fastpath_offloaded_total", "Connections handed to the kernel's fast path ([daemon] fastpath).", COUNTER, WS(fp.offloaded) },
	{ "offload_active", "fastpath_connections", "Connections the fast path carries now.", GAUGE, WS(fp.active) },
	{ "offload_removed", "fastpath_removed_total", "Connections taken out of the fast path (their end, expiry, flush, delete, a reload).", COUNTER, WS(fp.removed) },
	{ "offload_full", "fastpath_ring_full_total", "Offloads not made: the worker's ring to the fast path's thread was full.", COUNTER, WS(fp.ring_full) },
	{ "offload_packets", "fastpath_packets_total", "Packets the kernel let through on the fast path, counted into their connections.", COUNTER, WS(fp.packets) },
	{ "offload_bytes", "fastpath_bytes_total", "Bytes of the packets the kernel let through on the fast path.", COUNTER, WS(fp.bytes) },
	{ "offload_errors", "fastpath_errors_total", "Changes to the kernel's fast-path table that failed.", COUNTER, WS(fp.errors) },
	{ "offload_flushes", "fastpath_flushes_total", "Times the kernel's fast-path table was emptied (reloads, a removal that did not fit its ring).", COUNTER, WS(fp.flushes) },
	{ "offload_stale", "fastpath_stale_total", "Offloads a flush of the kernel's table passed by (made again by the next packet).", COUNTER, WS(fp.stale) },
	{ "offload_renewed", "fastpath_renewed_total", "Offloaded connections put in the kernel's table again after their elements timed out.", COUNTER, WS(fp.renewed) },
	{ "offload_strays", "fastpath_strays_total", "Connections found in the kernel's table that nfqspid did not hold (a change that failed half way), taken out.", COUNTER, WS(fp.strays) },
	{ "offload_refused", "fastpath_refused_total", "Offloads the kernel's table did not take (a mark past its 4096 chains, or a change that failed 7 times): those connections stay on the queue.", COUNTER, WS(fp.refused) },
	{ "offload_retried", "fastpath_retried_total", "Offloads sent to the kernel's table again after a change that failed (each try).", COUNTER, WS(fp.retried) },
};

#define NCOUNTERS	(sizeof(counters) / sizeof(counters[0]))

static uint64_t
counter_get(const struct status_counter *k, const struct worker_stats *s)
{
	const char	*p = (const char *)s + k->off;
	uint64_t	 v64;
	uint32_t	 v32;

	if (k->size == sizeof(v32)) {
		memcpy(&v32, p, sizeof(v32));
		return (v32);
	}
	memcpy(&v64, p, sizeof(v64));
	return (v64);
}

const char *
status_mode_name(int mode)
{
	return (mode == MODE_MONITOR ? "monitor" : "enforce");
}

/* ---- a snapshot ----------------------------------------------------- */

int
status_collect(struct status *st, const struct daemon_info *info,
    struct worker **workers, unsigned n)
{
	uint32_t	 max[WORKERS_MAX];
	int		 err[WORKERS_MAX];
	unsigned	 i;

	memset(st, 0, sizeof(*st));
	st->n = n;
	if (n > WORKERS_MAX) {
		errno = EINVAL;
		return (-1);
	}
	if ((st->per = calloc(n ? n : 1, sizeof(*st->per))) == NULL ||
	    (st->q = calloc(n ? n : 1, sizeof(*st->q))) == NULL ||
	    (st->ans = calloc(n ? n : 1, sizeof(*st->ans))) == NULL) {
		status_free(st);
		return (-1);
	}
	/* questions, to all at once: the workers stopped or stuck cost
	   the main loop WORKER_QUERY_MS in all, not the watchdog's 10 s,
	   nor a second each */
	(void)worker_snapshot_all(workers, n, st->per, max, WORKER_QUERY_MS,
	    err);
	for (i = 0; i < n; i++) {
		if (err[i] == ETIMEDOUT) {
			status_set_late(st, i, workers[i]);
			continue;
		}
		if (err[i] != 0) {
			st->dead = i;
			status_free(st);
			errno = ESRCH;
			return (-1);
		}
		worker_stats_add(&st->tot, &st->per[i]);
		st->max += max[i];
	}
	if (info->sync != NULL) {
		struct sync_status	 ss;

		sync_status(info->sync, &ss);
		st->tot.sync = ss.st;
	}
	if (info->fpd != NULL)
		fpd_stats(info->fpd, &st->tot.fp);
	nq_proc_read(info->queue, n, st->q);
	for (i = 0; i < n; i++)
		if (st->q[i].waiting > 0)
			st->depth += (uint64_t)st->q[i].waiting;
	st->uptime = (spi_now_ms() - info->started_ms) / 1000;
	return (0);
}

void
status_free(struct status *st)
{
	free(st->per);
	free(st->q);
	free(st->ans);
	st->per = NULL;
	st->q = NULL;
	st->ans = NULL;
}

void
status_set_late(struct status *st, unsigned i, struct worker *w)
{
	if (i >= st->n || st->ans[i].late)
		return;
	st->ans[i].late = 1;
	st->ans[i].idle_s = worker_idle_ms(w, spi_now_ms()) / 1000;
	st->nlate++;
}

/* A connection, for /metrics' count by protocol and state. */
void
status_conns_add(struct status_conns *c, const struct ct_view *v)
{
	unsigned	 p;

	if (v->proto == IPPROTO_TCP) {
		c->tcp[v->state < CT_VIEW_TCP_NSTATES ? v->state : 0]++;
		return;
	}
	p = v->proto == IPPROTO_UDP ? 0 : v->proto == IPPROTO_ICMP ||
	    v->proto == IPPROTO_ICMPV6 ? 1 : 2;
	if (v->flags & CT_VIEW_ASSURED)
		c->other[p][2]++;
	else if (v->flags & CT_VIEW_UNREPLIED)
		c->other[p][0]++;
	else
		c->other[p][1]++;
}

/* ---- the counters, in each form ---------------------------------------- */

static void
counters_text(struct evbuffer *b, const struct worker_stats *s,
    const char *indent)
{
	size_t	 i;

	for (i = 0; i < NCOUNTERS; i++)
		evbuffer_add_printf(b, "%s%-16s%" PRIu64 "\n", indent,
		    counters[i].name, counter_get(&counters[i], s));
}

/* "name":value,... without braces */
static void
counters_json(struct evbuffer *b, const struct worker_stats *s)
{
	size_t	 i;

	for (i = 0; i < NCOUNTERS; i++)
		evbuffer_add_printf(b, "%s\"%s\":%" PRIu64, i ? "," : "",
		    counters[i].name, counter_get(&counters[i], s));
}

static size_t
family_len(const char *metric)
{
	return (strcspn(metric, "{"));
}

static void
metric_head(struct evbuffer *b, const char *name, size_t len,
    const char *type, const char *help)
{
	evbuffer_add_printf(b, "# HELP nfqspid_%.*s %s\n# TYPE nfqspid_%.*s "
	    "%s\n", (int)len, name, help, (int)len, name, type);
}

static void
counters_metrics(struct evbuffer *b, const struct worker_stats *s)
{
	const char	*prev = NULL;
	size_t		 i, len;

	for (i = 0; i < NCOUNTERS; i++) {
		if (counters[i].metric == NULL)
			continue;
		len = family_len(counters[i].metric);
		if (prev == NULL || family_len(prev) != len ||
		    strncmp(prev, counters[i].metric, len) != 0)
			metric_head(b, counters[i].metric, len,
			    counters[i].type == GAUGE ? "gauge" : "counter",
			    counters[i].help != NULL ? counters[i].help : "");
		prev = counters[i].metric;
		evbuffer_add_printf(b, "nfqspid_%s %" PRIu64 "\n",
		    counters[i].metric, counter_get(&counters[i], s));
	}
}

/* ---- nfqspictl status and stats ---------------------------------------- */

void
status_queues(char *buf, size_t len, unsigned q, unsigned threads)
{
	if (threads > 1)
		snprintf(buf, len, "%u-%u", q, q + threads - 1);
	else
		snprintf(buf, len, "%u", q);
}

void
status_late_why(char *buf, size_t len, const struct daemon_info *info,
    unsigned i, uint64_t idle_s, int named)
{
	char	 who[48] = "";

	if (named)
		snprintf(who, sizeof(who), "worker %u (queue %u) ", i,
		    info->queue + i);
	snprintf(buf, len, "%sdid not answer within %u s (has not run for %"
	    PRIu64 " s)", who, WORKER_QUERY_MS / 1000, idle_s);
}

void
status_dead_why(char *buf, size_t len, const struct daemon_info *info,
    unsigned i)
{
	snprintf(buf, len, "worker %u (queue %u) is not running", i,
	    info->queue + i);
}

/* The workers that did not answer (nfqspid.h): one line each. */
static void
late_text(struct evbuffer *b, const struct daemon_info *info,
    const struct status *st)
{
	char		 why[STATUS_LATE_LEN];
	unsigned	 i;

	for (i = 0; i < st->n; i++)
		if (st->ans[i].late) {
			status_late_why(why, sizeof(why), info, i,
			    st->ans[i].idle_s, 1);
			evbuffer_add_printf(b, "WARNING: %s: its figures are "
			    "left out\n", why);
		}
}

/* "unanswered":[...] (empty while all answer), without a comma */
static void
late_json(struct evbuffer *b, const struct daemon_info *info,
    const struct status *st)
{
	unsigned	 i, k = 0;

	evbuffer_add_printf(b, "\"unanswered\":[");
	for (i = 0; i < st->n; i++)
		if (st->ans[i].late)
			evbuffer_add_printf(b, "%s{\"worker\":%u,\"queue\":%u,"
			    "\"idle_s\":%" PRIu64 "}", k++ ? "," : "", i,
			    info->queue + i, st->ans[i].idle_s);
	evbuffer_add_printf(b, "]");
}

/* a worker's object in "workers": its counters, or why there are none */
static void
worker_json(struct evbuffer *b, const struct status *st, unsigned i)
{
	if (st->ans[i].late) {
		evbuffer_add_printf(b, "\"answered\":false,\"idle_s\":%"
		    PRIu64, st->ans[i].idle_s);
		return;
	}
	evbuffer_add_printf(b, "\"answered\":true,");
	counters_json(b, &st->per[i]);
}

/*
 * The rules ahead of our jumps (divert = iptables, iptables-nft): in
 * JSON "ahead", each family's built-in chains and their counts, null
 * where nothing is checked so; in text a "divert ahead" line, only when
 * there is one, in the log's words.
 */
static void
status_ahead(struct evbuffer *b, const struct daemon_info *info, int json)
{
	uint64_t	 w;
	unsigned	 slot, n, k = 0;
	int		 hook;

	if (info->divert_ahead == NULL || (info->divert != DIVERT_IPTABLES &&
	    info->divert != DIVERT_IPTABLES_NFT)) {
		if (json)
			evbuffer_add_printf(b, "\"ahead\":null");
		return;
	}
	w = __atomic_load_n(info->divert_ahead, __ATOMIC_ACQUIRE);
	if (json)
		evbuffer_add_printf(b, "\"ahead\":{");
	for (slot = 1; slot <= 2 * DIVERT_NHOOKS; slot++) {
		hook = (int)((slot - 1) % DIVERT_NHOOKS);
		n = divert_ahead(w, slot);
		if (json) {
			evbuffer_add_printf(b, "%s\"%s\":%u",
			    hook == 0 ? (slot == 1 ? "\"ipv4\":{" : "},"
			    "\"ipv6\":{") : ",", divert_builtin(hook), n);
			continue;
		}
		if (n == 0)
			continue;
		if (k++ == 0)
			evbuffer_add_printf(b, "%-16sWARNING: ", "divert ahead");
		else
			evbuffer_add_printf(b, "; ");
		evbuffer_add_printf(b, "%s (IPv%d): %u%s rule%s ahead of our "
		    "jump", divert_builtin(hook), slot > DIVERT_NHOOKS ? 6 : 4,
		    n, n == DIVERT_AHEAD_MAX ? " or more" : "",
		    n == 1 ? "" : "s");
	}
	if (json)
		evbuffer_add_printf(b, "}}");
	else if (k > 0)
		evbuffer_add_printf(b, "\n");
}

/*
 * [daemon] divert and each queue against the interfaces (qwatch.h): is
 * the traffic reaching us?
 */
static void
status_divert(struct evbuffer *b, const struct daemon_info *info, int json)
{
	const struct qwatch_queue *q;
	uint64_t		 now = spi_now_ms(), age, st, restored;
	uint8_t			 mode = info->divert;
	unsigned		 i;
	int			 intact, bypass;

	/* one load: the check thread's answer and count of one moment,
	   as it is now (not as a tick copied it) */
	st = info->divert_st != NULL ?
	    __atomic_load_n(info->divert_st, __ATOMIC_ACQUIRE) : 0;
	intact = divert_st_intact(st);
	bypass = divert_st_bypass(st);
	restored = divert_st_restored(st);

	/* with divert = none there is nothing to keep: neither true nor
	 * false, which a monitor would take for an alarm */
	if (json) {
		evbuffer_add_printf(b, ",\"divert\":{\"mode\":\"%s\","
		    "\"intact\":%s,\"restored\":%" PRIu64 ",\"bypass\":%s,",
		    divert_mode_name(mode),
		    mode == DIVERT_NONE ? "null" : intact ? "true" : "false",
		    restored, mode == DIVERT_NONE ? "null" : bypass ? "true" :
		    "false");
		status_ahead(b, info, 1);
		evbuffer_add_printf(b, "},\"queues\":[");
	} else if (mode != DIVERT_NONE) {
		/* the rules' bypass, which a reload's fail_open changes
		   only once the check thread has replaced them */
		evbuffer_add_printf(b, "%-16s%s, %s, restored %" PRIu64
		    " time%s, %s\n", "divert", divert_mode_name(mode),
		    intact ? "intact" : "BROKEN (cannot restore it)", restored,
		    restored == 1 ? "" : "s", divert_bypass_words(mode, bypass));
		status_ahead(b, info, 0);
	} else
		evbuffer_add_printf(b, "%-16s%s\n", "divert", "none");
	for (i = 0; info->qwatch != NULL && i < info->threads; i++) {
		if ((q = qwatch_queue(info->qwatch, i)) == NULL)
			break;
		age = (now - q->rx_ms) / 1000;
		if (json)
			evbuffer_add_printf(b, "%s{\"queue\":%u,\"packets\":%"
			    PRIu64 ",\"idle_s\":%" PRIu64 ",\"warning\":%s}",
			    i ? "," : "", info->queue + i, q->rx, age,
			    q->idle ? "true" : "false");
		else if (q->idle)
			evbuffer_add_printf(b, "queue %-10uWARNING: no packet for "
			    "%" PRIu64 " s while the interfaces carried %" PRIu64
			    " packets\n", info->queue + i, age, q->idle_pkts);
		else if (q->rx == 0)	/* rx_ms is the start */
			evbuffer_add_printf(b, "queue %-10uno packet yet, "
			    "started %" PRIu64 " s ago\n", info->queue + i, age);
		else
			evbuffer_add_printf(b, "queue %-10u%" PRIu64 " packets, "
			    "the last %" PRIu64 " s ago\n", info->queue + i, q->rx,
			    age);
	}
	if (json)
		evbuffer_add_printf(b, "]");
}

void
status_print(struct evbuffer *b, const struct daemon_info *info,
    const struct status *st, int json)
{
	const struct config	*cfg = info->cfg;
	char			 started[64], queues[32];
	char			 js[2 * CONFIG_PATHLEN + 8];
	struct tm		 tm;
	uint64_t		 up = st->uptime;

	if (gmtime_r(&info->started, &tm) == NULL ||
	    strftime(started, sizeof(started), "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		snprintf(started, sizeof(started), "?");
	status_queues(queues, sizeof(queues), info->queue, info->threads);
	if (json) {
		ctl_json_str(js, sizeof(js), info->version);
		evbuffer_add_printf(b, "{\"version\":%s,\"pid\":%ld,"
		    "\"started\":\"%s\",\"uptime\":%" PRIu64 ",\"config\":",
		    js, (long)info->pid, started, up);
		ctl_json_str(js, sizeof(js), cfg->path);
		/* "connections", the table's use, comes with the counters */
		evbuffer_add_printf(b, "%s,\"mode\":\"%s\",\"queue\":%u,"
		    "\"threads\":%u,\"fail_open\":%s,\"rules\":%zu,"
		    "\"max\":%" PRIu64 ",", js, status_mode_name(cfg->mode),
		    info->queue, info->threads,
		    cfg->fail_open ? "true" : "false", cfg->nrules, st->max);
		late_json(b, info, st);
		evbuffer_add_printf(b, ",");
		counters_json(b, &st->tot);
		status_divert(b, info, 1);
		evbuffer_add_printf(b, "}\n");
		return;
	}
	evbuffer_add_printf(b, "%-16s%s\n", "version", info->version);
	evbuffer_add_printf(b, "%-16s%ld\n", "pid", (long)info->pid);
	evbuffer_add_printf(b, "%-16s%s\n", "started", started);
	evbuffer_add_printf(b, "%-16s%" PRIu64 "d %02" PRIu64 ":%02" PRIu64
	    ":%02" PRIu64 "\n", "uptime", up / 86400, up / 3600 % 24,
	    up / 60 % 60, up % 60);
	evbuffer_add_printf(b, "%-16s%s\n", "config", cfg->path);
	evbuffer_add_printf(b, "%-16s%s\n", "mode",
	    status_mode_name(cfg->mode));
	evbuffer_add_printf(b, "%-16s%s\n", "queues", queues);
	evbuffer_add_printf(b, "%-16s%u\n", "threads", info->threads);
	evbuffer_add_printf(b, "%-16s%s\n", "fail_open",
	    cfg->fail_open ? "yes" : "no");
	evbuffer_add_printf(b, "%-16s%zu\n", "rules", cfg->nrules);
	/* before the figures it leaves a worker out of */
	late_text(b, info, st);
	evbuffer_add_printf(b, "%-16s%" PRIu64 "/%" PRIu64 "\n", "table",
	    st->tot.conns, st->max);
	status_divert(b, info, 0);
	counters_text(b, &st->tot, "");
}

void
status_print_stats(struct evbuffer *b, const struct daemon_info *info,
    const struct status *st, int json)
{
	char		 why[STATUS_LATE_LEN];
	unsigned	 i;

	if (json) {
		evbuffer_add_printf(b, "{");
		late_json(b, info, st);
		evbuffer_add_printf(b, ",\"workers\":[");
	}
	for (i = 0; i < st->n; i++) {
		if (json) {
			evbuffer_add_printf(b, "%s{\"worker\":%u,\"queue\":%u,",
			    i ? "," : "", i, info->queue + i);
			worker_json(b, st, i);
			evbuffer_add_printf(b, "}");
		} else {
			evbuffer_add_printf(b, "worker %u queue %u\n", i,
			    info->queue + i);
			if (st->ans[i].late) {
				status_late_why(why, sizeof(why), info, i,
				    st->ans[i].idle_s, 0);
				evbuffer_add_printf(b, "\tWARNING: %s\n", why);
			} else
				counters_text(b, &st->per[i], "\t");
		}
	}
	if (json) {
		evbuffer_add_printf(b, "],\"total\":{");
		counters_json(b, &st->tot);
		evbuffer_add_printf(b, "}}\n");
	} else if (st->n > 1 || info->sync != NULL || info->fpd != NULL) {
		/* the threads' counters are in the total alone */
		evbuffer_add_printf(b, "total\n");
		counters_text(b, &st->tot, "\t");
	}
}

/* ---- the page's /api/stats and /metrics -------------------------------- */

void
status_api(struct evbuffer *b, const struct daemon_info *info,
    const struct status *st)
{
	char		 js[2 * CONFIG_PATHLEN + 8], queues[32];
	unsigned	 i;
	int		 r, first;

	ctl_json_str(js, sizeof(js), info->version);
	status_queues(queues, sizeof(queues), info->queue, info->threads);
	evbuffer_add_printf(b, "{\"version\":%s,\"pid\":%ld,\"uptime\":%"
	    PRIu64 ",\"mode\":\"%s\",\"queue\":%u,\"threads\":%u,"
	    "\"queues\":\"%s\",\"rules\":%zu,\"max\":%" PRIu64 ","
	    "\"queue_depth\":%" PRIu64 ",", js, (long)info->pid, st->uptime,
	    status_mode_name(info->cfg->mode), info->queue, info->threads,
	    queues, info->cfg->nrules, st->max, st->depth);
	late_json(b, info, st);
	evbuffer_add_printf(b, ",");
	counters_json(b, &st->tot);
	evbuffer_add_printf(b, ",\"invalid_reasons\":{");
	for (r = 1, first = 1; r < REASON_MAX; r++) {
		if (!reason_is_invalid(r))
			continue;
		evbuffer_add_printf(b, "%s\"%s\":%" PRIu64, first ? "" : ",",
		    reason_name(r), st->tot.reasons[r]);
		first = 0;
	}
	evbuffer_add_printf(b, "},\"workers\":[");
	for (i = 0; i < st->n; i++) {
		evbuffer_add_printf(b, "%s{\"worker\":%u,\"queue\":%u,"
		    "\"queue_depth\":%" PRId64 ",", i ? "," : "", i,
		    info->queue + i, st->q[i].waiting);
		worker_json(b, st, i);
		evbuffer_add_printf(b, "}");
	}
	evbuffer_add_printf(b, "]}\n");
}

static const char *const other_protos[] = { "udp", "icmp", "other" };
static const char *const other_states[] = { "UNREPLIED", "REPLIED",
	"ASSURED" };

static void
metrics_conns(struct evbuffer *b, const struct status_conns *c)
{
	unsigned	 i, j;

	metric_head(b, "connections", strlen("connections"), "gauge",
	    "Tracked connections by protocol and state.");
	for (j = 0; j < CT_VIEW_TCP_NSTATES; j++)
		if (c->tcp[j] > 0 || j == CT_VIEW_TCP_ESTABLISHED)
			evbuffer_add_printf(b, "nfqspid_connections{proto=\"tcp\","
			    "state=\"%s\"} %" PRIu64 "\n",
			    ct_view_tcp_state(j), c->tcp[j]);
	for (i = 0; i < 3; i++)
		for (j = 0; j < 3; j++)
			if (c->other[i][j] > 0)
				evbuffer_add_printf(b, "nfqspid_connections{"
				    "proto=\"%s\",state=\"%s\"} %" PRIu64 "\n",
				    other_protos[i], other_states[j],
				    c->other[i][j]);
}

void
status_metrics(struct evbuffer *b, const struct daemon_info *info,
    const struct status *st, const struct status_conns *c)
{
	unsigned	 i;
	int		 r;

	metric_head(b, "info", strlen("info"), "gauge", "The running daemon.");
	evbuffer_add_printf(b, "nfqspid_info{version=\"%s\",mode=\"%s\"} 1\n",
	    info->version, status_mode_name(info->cfg->mode));
	metric_head(b, "uptime_seconds", strlen("uptime_seconds"), "gauge",
	    "Seconds since the start.");
	evbuffer_add_printf(b, "nfqspid_uptime_seconds %" PRIu64 "\n",
	    st->uptime);
	metric_head(b, "rules", strlen("rules"), "gauge",
	    "Rules in the running configuration.");
	evbuffer_add_printf(b, "nfqspid_rules %zu\n", info->cfg->nrules);
	metric_head(b, "worker_answered", strlen("worker_answered"), "gauge",
	    "1 if the queue's worker answered this scrape; 0: stopped or "
	    "stuck, and the counters summed over the workers are left out "
	    "(a sum without it would read as a counter reset).");
	for (i = 0; i < st->n; i++)
		evbuffer_add_printf(b, "nfqspid_worker_answered{queue=\"%u\"} "
		    "%d\n", info->queue + i, !st->ans[i].late);
	if (st->nlate == 0) {
		metrics_conns(b, c);
		metric_head(b, "connections_max", strlen("connections_max"),
		    "gauge", "Connections the tables may hold ([conntrack] "
		    "max per worker).");
		evbuffer_add_printf(b, "nfqspid_connections_max %" PRIu64 "\n",
		    st->max);
		counters_metrics(b, &st->tot);
		metric_head(b, "invalid_packets_total",
		    strlen("invalid_packets_total"), "counter",
		    "INVALID packets by reason.");
		for (r = 1; r < REASON_MAX; r++)
			if (reason_is_invalid(r))
				evbuffer_add_printf(b, "nfqspid_invalid_packets_"
				    "total{reason=\"%s\"} %" PRIu64 "\n",
				    reason_name(r), st->tot.reasons[r]);
	}
	metric_head(b, "queue_depth", strlen("queue_depth"), "gauge",
	    "Packets waiting in the kernel's queue for a verdict.");
	for (i = 0; i < st->n; i++)
		if (st->q[i].waiting >= 0)
			evbuffer_add_printf(b, "nfqspid_queue_depth{queue=\"%u\"} "
			    "%" PRId64 "\n", info->queue + i, st->q[i].waiting);
	metric_head(b, "queue_dropped_total", strlen("queue_dropped_total"),
	    "counter", "Packets the kernel dropped or bypassed: the queue was "
	    "full.");
	for (i = 0; i < st->n; i++)
		if (st->q[i].dropped >= 0)
			evbuffer_add_printf(b, "nfqspid_queue_dropped_total{"
			    "queue=\"%u\"} %" PRId64 "\n", info->queue + i,
			    st->q[i].dropped);
	/* received_total by queue: --queue-balance spreads by addresses,
	   and the busiest queue's worker sets the pace */
	metric_head(b, "queue_received_total", strlen("queue_received_total"),
	    "counter", "Packets each queue's worker decided.");
	for (i = 0; i < st->n; i++)
		if (!st->ans[i].late)
			evbuffer_add_printf(b, "nfqspid_queue_received_total{"
			    "queue=\"%u\"} %" PRIu64 "\n", info->queue + i,
			    st->per[i].received);
}
