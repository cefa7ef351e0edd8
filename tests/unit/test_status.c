/*
 * test_status.c - the one list of counters and its printed forms
 *
 * Copyright (C) 2026 The nfqspid authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * Links the real src/status.c; the workers, the queue's /proc file and
 * the clock are stubs here.  Every 64-bit word of a worker's counters
 * gets its own value, so that a counter read from the wrong place, a
 * name listed twice, or a form that leaves one out shows up.  A counter
 * added to status.c's list is checked by this test as it is.
 */
#include <sys/types.h>

#include <errno.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <event2/buffer.h>

#include "nfqspid.h"
#include "clock.h"

#define NW	2

/* ---- stubs ------------------------------------------------------------- */

static int	 dead = -1;		/* the worker not running */
static int	 late = -1;		/* the worker that does not answer */

/* worker i: word k of its stats is 1000 * (i + 1) + k; every worker
   is asked in the one call */
int
worker_snapshot_all(struct worker **w, unsigned n, struct worker_stats *s,
    uint32_t *ctmax, unsigned ms, int *err)
{
	uint64_t	 word;
	size_t		 k;
	unsigned	 i, j, nerr = 0;

	assert_int_equal(ms, WORKER_QUERY_MS);
	assert_true(n <= NW);
	for (j = 0; j < n; j++) {
		i = (unsigned)(uintptr_t)w[j];
		memset(&s[j], 0, sizeof(s[j]));
		ctmax[j] = 0;
		err[j] = (int)i == dead ? ESRCH : (int)i == late ?
		    ETIMEDOUT : 0;
		if (err[j] != 0) {
			nerr++;
			continue;
		}
		for (k = 0; k < sizeof(*s) / sizeof(word); k++) {
			word = 1000 * (i + 1) + k;
			memcpy((char *)&s[j] + k * sizeof(word), &word,
			    sizeof(word));
		}
		ctmax[j] = 4096;
	}
	return ((int)nerr);
}

/* worker i's loop last ran 7 s (and i ms) ago */
uint64_t
worker_idle_ms(const struct worker *w, uint64_t now)
{
	assert_int_equal(now, spi_now_ms());
	return (7000 + (uintptr_t)w);
}

void
worker_stats_add(struct worker_stats *t, const struct worker_stats *s)
{
	uint64_t	 a, b;
	size_t		 k;

	for (k = 0; k < sizeof(*t) / sizeof(a); k++) {
		memcpy(&a, (char *)t + k * sizeof(a), sizeof(a));
		memcpy(&b, (const char *)s + k * sizeof(b), sizeof(b));
		a += b;
		memcpy((char *)t + k * sizeof(a), &a, sizeof(a));
	}
}

int
nq_proc_read(unsigned first, unsigned n, struct nq_proc *q)
{
	unsigned	 i;

	for (i = 0; i < n; i++) {
		q[i].waiting = 7 + i;
		q[i].dropped = 3;
		q[i].user_dropped = 0;
	}
	return ((int)n);
}

/* [sync]: on where a test sets info.sync (not a real one) */
void
sync_status(struct sync *s, struct sync_status *st)
{
	memset(st, 0, sizeof(*st));
	st->st.sent = 777;
}

/* the fast path's thread: none here (info.fpd is NULL) */
void
fpd_stats(struct fpd *d, struct fp_stats *s)
{
	fail();
}

uint64_t
spi_now_ms(void)
{
	return (90061000);	/* 1 d 01:01:01 after the start */
}

/* ---- helpers ------------------------------------------------------------ */

static struct config		 cfg;
static struct daemon_info	 info;
static struct worker		*workers[NW];

static void
setup_info(void)
{
	unsigned	 i;

	memset(&cfg, 0, sizeof(cfg));
	snprintf(cfg.path, sizeof(cfg.path), "/etc/nfqspi.ini");
	info.version = "1.2.3";
	info.pid = 42;
	info.started = 0;
	info.started_ms = 0;
	info.queue = 10;
	info.threads = NW;
	info.cfg = &cfg;
	for (i = 0; i < NW; i++)
		workers[i] = (struct worker *)(uintptr_t)i;
	dead = -1;
	late = -1;
}

static char *
text_of(struct evbuffer *b)
{
	size_t	 n = evbuffer_get_length(b);
	char	*s = malloc(n + 1);

	assert_non_null(s);
	evbuffer_remove(b, s, n);
	s[n] = '\0';
	return (s);
}

/* b's text, taken out, holds want */
static void
has_text(struct evbuffer *b, const char *want)
{
	char	*s = text_of(b);

	assert_non_null(strstr(s, want));
	free(s);
}

struct kv {
	char		 name[64];
	uint64_t	 v;
};

/* The "\tname  value" lines after "total" in nfqspictl stats. */
static size_t
parse_text(const char *s, struct kv *kv, size_t max)
{
	const char	*p = strstr(s, "total\n");
	size_t		 n = 0;
	unsigned long long v;
	char		 name[64];

	assert_non_null(p);
	for (p += 6; *p == '\t' && n < max; p = strchr(p, '\n') + 1) {
		assert_int_equal(sscanf(p, "\t%63s %llu", name, &v), 2);
		snprintf(kv[n].name, sizeof(kv[n].name), "%s", name);
		kv[n++].v = v;
	}
	return (n);
}

/* The "total":{"name":value,...} object of nfqspictl -j stats. */
static size_t
parse_json(const char *s, struct kv *kv, size_t max)
{
	const char	*p = strstr(s, "\"total\":{");
	size_t		 n = 0;
	unsigned long long v;
	int		 len;

	assert_non_null(p);
	for (p += 9; *p == '"' && n < max; p += len) {
		assert_int_equal(sscanf(p, "\"%63[a-z_]\":%llu%n", kv[n].name,
		    &v, &len), 2);
		kv[n++].v = v;
		if (p[len] == ',')
			len++;
	}
	assert_string_equal(p, "}}\n");
	return (n);
}

/* ---- tests ---------------------------------------------------------------- */

/* Text and JSON: the same counters, in the same order, the same values,
   each name once, each value its own word of struct worker_stats. */
static void
test_stats_forms(void **state)
{
	struct status	 st;
	struct evbuffer	*b = evbuffer_new();
	struct kv	 t[128], j[128];
	size_t		 nt, nj, i, k;
	char		*s;

	setup_info();
	assert_int_equal(status_collect(&st, &info, workers, NW), 0);
	assert_int_equal(st.max, 2 * 4096);
	assert_int_equal(st.depth, 7 + 8);
	assert_int_equal(st.uptime, 90061);

	status_print_stats(b, &info, &st, 0);
	s = text_of(b);
	assert_non_null(strstr(s, "worker 0 queue 10\n"));
	assert_non_null(strstr(s, "worker 1 queue 11\n"));
	nt = parse_text(s, t, 128);
	free(s);
	status_print_stats(b, &info, &st, 1);
	s = text_of(b);
	assert_true(strncmp(s, "{\"unanswered\":[],\"workers\":[{\"worker\":0,"
	    "\"queue\":10,\"answered\":true,", 66) == 0);
	nj = parse_json(s, j, 128);
	free(s);

	assert_true(nt >= 20);
	assert_int_equal(nt, nj);
	for (i = 0; i < nt; i++) {
		assert_string_equal(t[i].name, j[i].name);
		assert_int_equal(t[i].v, j[i].v);
		/* the total of word k is 1000 + k + 2000 + k */
		assert_true(t[i].v >= 3000 && (t[i].v - 3000) % 2 == 0);
		for (k = 0; k < i; k++) {
			assert_string_not_equal(t[i].name, t[k].name);
			assert_int_not_equal(t[i].v, t[k].v);
		}
	}
	evbuffer_free(b);
	status_free(&st);
}

/* One worker: no total block, unless a thread has counters of its own
   (they are in the total alone). */
static void
test_stats_one_worker(void **state)
{
	struct status	 st;
	struct evbuffer	*b = evbuffer_new();
	char		*s;

	setup_info();
	info.threads = 1;
	assert_int_equal(status_collect(&st, &info, workers, 1), 0);
	status_print_stats(b, &info, &st, 0);
	s = text_of(b);
	assert_non_null(strstr(s, "worker 0 queue 10\n"));
	assert_null(strstr(s, "total\n"));
	free(s);
	status_free(&st);

	info.sync = (struct sync *)&info;	/* only compared with NULL */
	assert_int_equal(status_collect(&st, &info, workers, 1), 0);
	status_print_stats(b, &info, &st, 0);
	s = text_of(b);
	assert_non_null(strstr(s, "\ntotal\n"));
	assert_non_null(strstr(strstr(s, "\ntotal\n"), "\tsync_sent"
	    "       777\n"));
	free(s);
	status_free(&st);
	info.sync = NULL;
	evbuffer_free(b);
}

/* A few counters where they must be: the list did not drift. */
static void
test_stats_fields(void **state)
{
	struct status	 st;
	struct evbuffer	*b = evbuffer_new();
	struct kv	 t[128];
	size_t		 n, i;
	char		*s;
	static const struct {
		const char	*name;
		size_t		 off;
	} known[] = {
		{ "received", offsetof(struct worker_stats, received) },
		{ "early_drops", offsetof(struct worker_stats, ct.early_drop) },
		{ "enobufs", offsetof(struct worker_stats, nq.enobufs) },
		{ "connections", offsetof(struct worker_stats, conns) },
		{ "queued", offsetof(struct worker_stats, nq.received) },
		{ "rejects", offsetof(struct worker_stats, rejects) },
		{ "reject_errors", offsetof(struct worker_stats,
		    reject_errors) },
	};
	size_t		 k;

	setup_info();
	assert_int_equal(status_collect(&st, &info, workers, NW), 0);
	status_print_stats(b, &info, &st, 0);
	s = text_of(b);
	n = parse_text(s, t, 128);
	free(s);
	for (k = 0; k < sizeof(known) / sizeof(known[0]); k++) {
		for (i = 0; i < n; i++)
			if (strcmp(t[i].name, known[k].name) == 0)
				break;
		assert_true(i < n);
		assert_int_equal(t[i].v, 3000 + 2 * (known[k].off / 8));
	}
	evbuffer_free(b);
	status_free(&st);
}

/* worker_snapshot_all() above: the word of received */
#define RECEIVED_WORD	(offsetof(struct worker_stats, received) / 8)

/* The Prometheus text: HELP and TYPE once per family, before its
   samples; every sample NAME{LABELS} VALUE, each once. */
static void
test_metrics(void **state)
{
	struct status		 st;
	struct status_conns	 c;
	struct evbuffer		*b = evbuffer_new();
	char			*s, *line, *save, *fam[128], *seen[256];
	char			 name[128], help[128];
	size_t			 nfam = 0, nseen = 0, i;
	unsigned long long	 v;
	int			 want_type = 0;

	setup_info();
	memset(&c, 0, sizeof(c));
	c.tcp[CT_VIEW_TCP_ESTABLISHED] = 5;
	c.other[0][0] = 2;
	assert_int_equal(status_collect(&st, &info, workers, NW), 0);
	status_metrics(b, &info, &st, &c);
	s = text_of(b);
	assert_non_null(strstr(s, "\nnfqspid_connections{proto=\"tcp\","
	    "state=\"ESTABLISHED\"} 5\n"));
	assert_non_null(strstr(s, "\nnfqspid_connections{proto=\"udp\","
	    "state=\"UNREPLIED\"} 2\n"));
	assert_non_null(strstr(s, "\nnfqspid_queue_depth{queue=\"11\"} 8\n"));
	/* each worker's own received, by its queue */
	snprintf(name, sizeof(name), "\nnfqspid_queue_received_total{"
	    "queue=\"10\"} %zu\n", 1000 + RECEIVED_WORD);
	assert_non_null(strstr(s, name));
	snprintf(name, sizeof(name), "\nnfqspid_queue_received_total{"
	    "queue=\"11\"} %zu\n", 2000 + RECEIVED_WORD);
	assert_non_null(strstr(s, name));
	assert_non_null(strstr(s, "\nnfqspid_reject_errors_total "));
	assert_non_null(strstr(s, "\nnfqspid_packets_total{verdict=\"drop\"} "));
	assert_non_null(strstr(s, "\nnfqspid_uptime_seconds 90061\n"));
	/* by INVALID reason: the audit-only reasons are no INVALID's */
	assert_non_null(strstr(s, "\nnfqspid_invalid_packets_total{"
	    "reason=\"tcp-no-syn\"} "));
	assert_null(strstr(s, "reason=\"policy-reload\""));
	assert_null(strstr(s, "reason=\"overflow-grace\""));
	assert_null(strstr(s, "reason=\"-\""));
	for (line = strtok_r(s, "\n", &save); line != NULL;
	    line = strtok_r(NULL, "\n", &save)) {
		if (strncmp(line, "# HELP nfqspid_", 15) == 0) {
			assert_false(want_type);
			assert_int_equal(sscanf(line, "# HELP %127s %127c", name,
			    help), 2);
			for (i = 0; i < nfam; i++)
				assert_string_not_equal(fam[i], name);
			assert_true(nfam < 128);
			fam[nfam++] = line + 7;
			want_type = 1;
			continue;
		}
		if (strncmp(line, "# TYPE ", 7) == 0) {
			assert_true(want_type);
			assert_true(strncmp(line + 7, fam[nfam - 1],
			    strcspn(fam[nfam - 1], " ")) == 0);
			assert_true(strstr(line, " counter") != NULL ||
			    strstr(line, " gauge") != NULL);
			want_type = 0;
			continue;
		}
		assert_false(want_type);
		assert_int_equal(sscanf(line, "%127s %llu", name, &v), 2);
		/* a sample of the family declared last */
		assert_true(nfam > 0 && strncmp(name, fam[nfam - 1],
		    strcspn(fam[nfam - 1], " ")) == 0);
		assert_true(name[strcspn(fam[nfam - 1], " ")] == '\0' ||
		    name[strcspn(fam[nfam - 1], " ")] == '{');
		line[strcspn(line, " ")] = '\0';	/* the sample's name */
		for (i = 0; i < nseen; i++)
			assert_string_not_equal(seen[i], line);
		assert_true(nseen < 256);
		seen[nseen++] = line;
	}
	assert_true(nfam >= 20);
	free(s);
	evbuffer_free(b);
	status_free(&st);
}

/* nfqspictl status: [daemon] divert and the queues' idle warning. */
static void
test_status_divert(void **state)
{
	struct status		 st;
	struct evbuffer		*b = evbuffer_new();
	struct qwatch		*w;
	enum qwatch_event	 ev[NW];
	uint64_t		 rx[NW] = { 5, 0 };
	uint64_t		 dst, ahead = 0;
	char			*s;

	setup_info();
	assert_int_equal(status_collect(&st, &info, workers, NW), 0);
	status_print(b, &info, &st, 0);
	s = text_of(b);
	assert_non_null(strstr(s, "\ndivert          none\n"));
	assert_null(strstr(s, "queue 10"));
	free(s);
	status_print(b, &info, &st, 1);
	has_text(b, ",\"divert\":{\"mode\":\"none\","
	    "\"intact\":null,\"restored\":0,\"bypass\":null,"
	    "\"ahead\":null}");

	/* queue 10 had packets, queue 11 none while 500 crossed */
	assert_non_null(w = qwatch_new(NW, 60000, 90000000));
	qwatch_update(w, rx, 100, 90000000, ev);
	rx[0] = 9;
	qwatch_update(w, rx, 600, 90061000, ev);
	assert_int_equal(ev[0], QWATCH_NONE);
	assert_int_equal(ev[1], QWATCH_IDLE);
	info.qwatch = w;
	info.divert = DIVERT_IPTABLES_NFT;
	/* the check thread's word, read as it is at each print */
	dst = divert_st(1, 0, 2);
	info.divert_st = &dst;
	info.divert_ahead = &ahead;
	status_print(b, &info, &st, 0);
	s = text_of(b);
	assert_non_null(strstr(s, "\ndivert          iptables-nft, intact, "
	    "restored 2 times, without --queue-bypass, kept at the stop\n"
	    "queue 10 "));
	assert_null(strstr(s, "ahead"));
	free(s);
	/* rules ahead of our jumps: a line, after the divert line */
	ahead = divert_ahead_set(0, DIVERT_SLOT(4, 2), 1);
	ahead = divert_ahead_set(ahead, DIVERT_SLOT(6, 0), 300);
	status_print(b, &info, &st, 0);
	s = text_of(b);
	assert_non_null(strstr(s, "kept at the stop\ndivert ahead    WARNING: "
	    "FORWARD (IPv4): 1 rule ahead of our jump; INPUT (IPv6): 255 or "
	    "more rules ahead of our jump\nqueue 10 "));
	assert_non_null(strstr(s, "\nqueue 10        9 packets, the last 0 s "
	    "ago\n"));
	assert_non_null(strstr(s, "\nqueue 11        WARNING: no packet for "
	    "61 s while the interfaces carried 500 packets\n"));
	free(s);
	dst = divert_st(0, 1, 2);
	status_print(b, &info, &st, 1);
	has_text(b, ",\"divert\":{\"mode\":\"iptables-nft\","
	    "\"intact\":false,\"restored\":2,\"bypass\":true,"
	    "\"ahead\":{\"ipv4\":{\"INPUT\":0,\"OUTPUT\":0,\"FORWARD\":1},"
	    "\"ipv6\":{\"INPUT\":255,\"OUTPUT\":0,\"FORWARD\":0}}},"
	    "\"queues\":[{\"queue\":10,"
	    "\"packets\":9,\"idle_s\":0,\"warning\":false},{\"queue\":11,"
	    "\"packets\":0,\"idle_s\":61,\"warning\":true}]}\n");
	qwatch_free(w);

	/* no packet yet, 61 s after the start, the warning not due */
	assert_non_null(w = qwatch_new(NW, 600000, 90000000));
	rx[0] = rx[1] = 0;
	qwatch_update(w, rx, 100, 90061000, ev);
	info.qwatch = w;
	status_print(b, &info, &st, 0);
	s = text_of(b);
	assert_non_null(strstr(s, "\nqueue 10        no packet yet, started "
	    "61 s ago\n"));
	assert_null(strstr(s, "the last"));
	free(s);
	info.qwatch = NULL;
	/* nft: not checked so */
	info.divert = DIVERT_NFT;
	status_print(b, &info, &st, 1);
	has_text(b, "\"bypass\":true,\"ahead\":null},");
	status_print(b, &info, &st, 0);
	s = text_of(b);
	assert_null(strstr(s, "ahead"));
	free(s);
	info.divert = DIVERT_NONE;
	info.divert_st = NULL;
	info.divert_ahead = NULL;
	qwatch_free(w);
	evbuffer_free(b);
	status_free(&st);
}

/* nfqspictl status: the head, then every counter; -j: one object. */
static void
test_status(void **state)
{
	struct status	 st;
	struct evbuffer	*b = evbuffer_new();
	char		*s;

	setup_info();
	cfg.mode = MODE_MONITOR;
	assert_int_equal(status_collect(&st, &info, workers, NW), 0);
	status_print(b, &info, &st, 0);
	s = text_of(b);
	assert_non_null(strstr(s, "version         1.2.3\n"));
	assert_non_null(strstr(s, "uptime          1d 01:01:01\n"));
	assert_non_null(strstr(s, "mode            monitor\n"));
	assert_non_null(strstr(s, "queues          10-11\n"));
	assert_non_null(strstr(s, "table           "));
	assert_non_null(strstr(s, "/8192\n"));
	assert_non_null(strstr(s, "\nreject_errors   "));
	free(s);
	status_print(b, &info, &st, 1);
	s = text_of(b);
	assert_true(strncmp(s, "{\"version\":\"1.2.3\",\"pid\":42,", 28) == 0);
	assert_non_null(strstr(s, "\"mode\":\"monitor\""));
	assert_non_null(strstr(s, "\"max\":8192,\"unanswered\":[],"
	    "\"received\":"));
	assert_string_equal(s + strlen(s) - 2, "}\n");
	free(s);
	status_api(b, &info, &st);
	s = text_of(b);
	assert_non_null(strstr(s, "\"queues\":\"10-11\""));
	assert_non_null(strstr(s, "\"queue_depth\":15,"));
	assert_non_null(strstr(s, "{\"worker\":1,\"queue\":11,"
	    "\"queue_depth\":8,\"answered\":true,\"received\":"));
	assert_non_null(strstr(s, ",\"unanswered\":[],"));
	assert_non_null(strstr(s, "\"invalid_reasons\":{\"ip-truncated\":"));
	assert_non_null(strstr(s, "\"source-share\":"));
	assert_null(strstr(s, "\"policy-reload\":"));
	assert_null(strstr(s, "\"overflow-grace\":"));
	free(s);
	evbuffer_free(b);
	status_free(&st);
	assert_string_equal(status_mode_name(MODE_ENFORCE), "enforce");
}

/* A worker that does not answer: -1, ESRCH, and which one. */
static void
test_dead_worker(void **state)
{
	struct status	 st;
	char		 why[STATUS_LATE_LEN];

	setup_info();
	dead = 1;
	errno = 0;
	assert_int_equal(status_collect(&st, &info, workers, NW), -1);
	assert_int_equal(errno, ESRCH);
	assert_int_equal(st.dead, 1);
	assert_null(st.per);
	/* nfqspictl's error and the page's 503 name it and its queue */
	status_dead_why(why, sizeof(why), &info, st.dead);
	assert_string_equal(why, "worker 1 (queue 11) is not running");
	status_dead_why(why, sizeof(why), &info, UINT_MAX - 11);
	assert_true(strlen(why) < sizeof(why) - 1);
}

/*
 * A worker that does not answer in time (stopped, stuck): the status
 * comes all the same, without its figures, and every form says which
 * worker, on which queue, idle how long; /metrics prints no sum (one
 * without it would read as a counter reset) but each queue's own.
 */
static void
test_late_worker(void **state)
{
	struct status		 st;
	struct status_conns	 c;
	struct evbuffer		*b = evbuffer_new();
	const char		*w = "WARNING: worker 1 (queue 11) did not answer "
				    "within 1 s (has not run for 7 s): its "
				    "figures are left out\n";
	char			*s, *p, why[STATUS_LATE_LEN];

	setup_info();
	/* the words of every form, the 503 and nfqspictl's errors too */
	status_late_why(why, sizeof(why), &info, 1, 7, 1);
	assert_string_equal(why, "worker 1 (queue 11) did not answer within "
	    "1 s (has not run for 7 s)");
	status_late_why(why, sizeof(why), &info, 1, 7, 0);
	assert_string_equal(why, "did not answer within 1 s (has not run for "
	    "7 s)");
	status_late_why(why, sizeof(why), &info, UINT_MAX - 11, UINT64_MAX, 1);
	assert_true(strlen(why) < sizeof(why) - 1);
	late = 1;
	assert_int_equal(status_collect(&st, &info, workers, NW), 0);
	assert_int_equal(st.nlate, 1);
	assert_false(st.ans[0].late);
	assert_true(st.ans[1].late);
	assert_int_equal(st.ans[1].idle_s, 7);
	/* worker 0's alone */
	assert_int_equal(st.max, 4096);
	assert_int_equal(st.tot.received, 1000 + RECEIVED_WORD);

	status_print(b, &info, &st, 0);
	s = text_of(b);
	assert_non_null(p = strstr(s, w));
	/* the line before the figures it leaves a worker out of */
	assert_string_equal(strchr(p, '\n') + 1, strstr(s, "table "));
	assert_non_null(strstr(s, "/4096\n"));
	free(s);
	status_print(b, &info, &st, 1);
	has_text(b, ",\"unanswered\":[{\"worker\":1,"
	    "\"queue\":11,\"idle_s\":7}],\"received\":");

	status_print_stats(b, &info, &st, 0);
	has_text(b, "worker 1 queue 11\n\tWARNING: did not "
	    "answer within 1 s (has not run for 7 s)\ntotal\n");
	status_print_stats(b, &info, &st, 1);
	s = text_of(b);
	assert_true(strncmp(s, "{\"unanswered\":[{\"worker\":1,\"queue\":11,"
	    "\"idle_s\":7}],\"workers\":[{\"worker\":0,\"queue\":10,"
	    "\"answered\":true,\"received\":", 112) == 0);
	assert_non_null(strstr(s, "},{\"worker\":1,\"queue\":11,"
	    "\"answered\":false,\"idle_s\":7}],\"total\":{"));
	free(s);
	status_api(b, &info, &st);
	s = text_of(b);
	assert_non_null(strstr(s, "{\"worker\":1,\"queue\":11,"
	    "\"queue_depth\":8,\"answered\":false,\"idle_s\":7}]}\n"));
	assert_non_null(strstr(s, ",\"unanswered\":[{\"worker\":1,"));
	free(s);

	memset(&c, 0, sizeof(c));
	status_metrics(b, &info, &st, &c);
	s = text_of(b);
	assert_non_null(strstr(s, "\nnfqspid_worker_answered{queue=\"10\"} "
	    "1\nnfqspid_worker_answered{queue=\"11\"} 0\n"));
	assert_null(strstr(s, "nfqspid_received_total"));
	assert_null(strstr(s, "nfqspid_connections"));
	assert_null(strstr(s, "nfqspid_invalid_packets_total{"));
	/* the kernel's figures of both queues, the worker's of one */
	assert_non_null(strstr(s, "nfqspid_queue_depth{queue=\"11\"} 8\n"));
	assert_non_null(strstr(s, "nfqspid_queue_received_total{queue=\"10\"}"));
	assert_null(strstr(s, "nfqspid_queue_received_total{queue=\"11\"}"));
	free(s);
	status_free(&st);

	/* late at a later question (a slice of /metrics): the same */
	late = -1;
	assert_int_equal(status_collect(&st, &info, workers, NW), 0);
	assert_int_equal(st.nlate, 0);
	status_set_late(&st, 0, workers[0]);
	status_set_late(&st, 0, workers[0]);
	assert_int_equal(st.nlate, 1);
	status_metrics(b, &info, &st, &c);
	s = text_of(b);
	assert_non_null(strstr(s, "nfqspid_worker_answered{queue=\"10\"} 0\n"));
	assert_null(strstr(s, "nfqspid_received_total"));
	free(s);
	status_free(&st);
	evbuffer_free(b);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_stats_forms),
		cmocka_unit_test(test_stats_one_worker),
		cmocka_unit_test(test_stats_fields),
		cmocka_unit_test(test_metrics),
		cmocka_unit_test(test_status),
		cmocka_unit_test(test_status_divert),
		cmocka_unit_test(test_dead_worker),
		cmocka_unit_test(test_late_worker),
	};

	return (cmocka_run_group_tests(tests, NULL, NULL));
}
