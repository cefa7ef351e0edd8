/*
 * control_rules.c - nfqspictl rules, iptables and nft: the running
 * configuration printed, with each rule's counters
 *
 * Copyright (C) 2026 The nfqspid authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include "autoconf.h"		/* first: _GNU_SOURCE */

#include <sys/types.h>
#include <netinet/in.h>

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "control.h"
#include "fastpath.h"
#include "sdping.h"

/* A port list: its ranges, as the rule holds them. */
static void
print_ports(struct evbuffer *b, const char *key,
    const struct rule_portset *set, int json)
{
	char	 buf[256], *p = buf;
	size_t	 n;

	if (set == NULL)
		return;
	/* up to 1024 ranges: a long list gets a buffer of its own */
	if ((n = rule_ports_format(set, buf, sizeof(buf))) >= sizeof(buf)) {
		if ((p = malloc(n + 1)) == NULL)
			return;
		rule_ports_format(set, p, n + 1);
	}
	evbuffer_add_printf(b, json ? ",\"%s\":\"%s\"" : " %s=%s", key, p);
	if (p != buf)
		free(p);
}

static void
print_ifaces(struct evbuffer *b, const char *key,
    const char ifs[][RULE_IFNAMSIZ], uint8_t n, uint8_t neg, int json)
{
	char	 q[RULE_IFNAMSIZ * 7], name[RULE_IFNAMSIZ + 1];
	uint8_t	 i;

	if (n == 0)
		return;
	evbuffer_add_printf(b, json ? ",\"%s\":[" : " %s=", key);
	for (i = 0; i < n; i++) {
		rule_iface_format(ifs, neg, i, name, sizeof(name));
		if (json) {
			ctl_json_str(q, sizeof(q), name);
			evbuffer_add_printf(b, "%s%s", i ? "," : "", q);
		} else
			evbuffer_add_printf(b, "%s%s", i ? "," : "", name);
	}
	if (json)
		evbuffer_add_printf(b, "]");
}

static void
print_icmp_types(struct evbuffer *b, const uint32_t map[8], int json)
{
	char	 buf[1024];		/* 256 types of up to 3 digits */

	rule_icmp_types_format(map, buf, sizeof(buf));
	evbuffer_add_printf(b, json ? ",\"icmp_type\":[%s]" :
	    " icmp_type=%s", buf);
}

static const char *
proto_name(const struct rule *r, char *buf, size_t len)
{
	if (!r->has_proto)
		return ("any");
	return (pkt_proto_name(r->proto, buf, len));
}

struct rcount_arg {
	uint64_t	*sum;		/* pairs: packets, bytes */
	size_t		 n;
	int		 mismatch;
	int		 zero;		/* rules -Z */
};

static void
w_rcount(struct worker *w, void *arg)
{
	struct rcount_arg	*a = arg;
	const uint64_t		*k;
	size_t			 n, i;

	if ((k = worker_rule_counters(w, &n)) == NULL || n != a->n) {
		a->mismatch = 1;
		return;
	}
	for (i = 0; i < 2 * n; i++)
		a->sum[i] += k[i];
	/* In the worker's thread, between two of its packets: what was
	   read is what is zeroed, no packet is counted or lost between. */
	if (a->zero)
		worker_rule_counters_zero(w);
}

/*
 * Every worker's counters summed in t->sum (t->n pairs), each worker's
 * read in its thread into a buffer of its own.  Read alone, a question:
 * every worker is asked at once, and those that do not answer cost a
 * second in all; -Z zeroes: each is waited for in turn.  -1 once the
 * client is told which worker failed (the first).
 */
static int
rcount_all(struct client *c, struct rcount_arg *t)
{
	struct control		*ctl = c->ctl;
	struct rcount_arg	 a[WORKERS_MAX];
	int			 err[WORKERS_MAX];
	uint64_t		*per;
	unsigned		 w, n = ctl->nworkers;
	size_t			 i;

	if (n > WORKERS_MAX || (per = calloc((size_t)n * t->n,
	    2 * sizeof(*per))) == NULL) {
		client_error(c, "out of memory");
		return (-1);
	}
	for (w = 0; w < n; w++) {
		a[w] = *t;
		a[w].sum = per + (size_t)w * 2 * t->n;
		err[w] = 0;
	}
	if (!t->zero)
		(void)worker_call_all_within(ctl->workers, n, w_rcount, a,
		    sizeof(a[0]), WORKER_QUERY_MS, err);
	else {
		/* no deadline: systemd's pings meanwhile (sdping.h) */
		sdping_begin(SDPING_CALL);
		for (w = 0; w < n; w++)
			if (worker_call(ctl->workers[w], w_rcount,
			    &a[w]) == -1) {
				err[w] = errno;
				break;
			}
		sdping_end();
	}
	for (w = 0; w < n; w++) {
		if (err[w] != 0) {
			free(per);
			errno = err[w];
			client_worker_error(c, w);
			return (-1);
		}
		t->mismatch |= a[w].mismatch;
		for (i = 0; i < 2 * t->n; i++)
			t->sum[i] += a[w].sum[i];
	}
	free(per);
	return (0);
}

/* An address list as a JSON string; "any" for none. */
static void
print_addrs(struct evbuffer *b, const char *key,
    const struct rule_addrset *set, int json)
{
	const char	*t = rule_addrset_format(set);
	char		*q;
	size_t		 len = strlen(t) * 6 + 3;

	if (!json) {
		evbuffer_add_printf(b, "%-18s ", t);
		return;
	}
	if ((q = malloc(len)) == NULL)
		return;
	ctl_json_str(q, len, t);
	evbuffer_add_printf(b, ",\"%s\":%s", key, q);
	free(q);
}

/*
 * Like iptables -L -n -v -x: packets and bytes each rule decided, then
 * what the [policy] of each state decided.  A packet counts where it was
 * decided: on the rule that matched it (a NEW packet, a retransmit of the
 * first packet of a connection, or a packet of a state the rule names),
 * otherwise on its state's [policy] line; so the established packets of
 * a connection a rule let in count on "[policy] ESTABLISHED", as on an
 * iptables "-m conntrack --ctstate ESTABLISHED" rule.  Across a reload
 * a rule keeps its counters if it keeps its name; a new one starts at 0.
 * rules -Z prints them and zeroes them, as iptables -L -Z does: each
 * worker's counters are read and zeroed in one call in its thread.
 */
int
cmd_rules(struct client *c, struct evbuffer *b)
{
	struct control		*ctl = c->ctl;
	const struct config	*cfg = ctl->info->cfg;
	const struct rule	*r;
	struct rcount_arg	 a;
	char			 states[64], flags[24], pbuf[8], chain[48],
				 q[RULE_NAMELEN * 7];
	size_t			 i;
	int			 s, json = (c->flags & CTL_F_JSON) != 0;

	memset(&a, 0, sizeof(a));
	if (c->req.argc > 2 || (c->req.argc == 2 &&
	    strcmp(c->req.argv[1], "-Z") != 0 &&
	    strcmp(c->req.argv[1], "--zero") != 0)) {
		client_error(c, "usage: rules [-Z]");
		return (-1);
	}
	a.zero = c->req.argc == 2;
	a.n = cfg->nrules + CT_STATE_MAX;
	if ((a.sum = calloc(a.n, 2 * sizeof(uint64_t))) == NULL) {
		client_error(c, "out of memory");
		return (-1);
	}
	if (rcount_all(c, &a) == -1) {
		free(a.sum);
		return (-1);
	}
	if (a.mismatch)
		log_warnx("control: rules: a worker has no counters for the "
		    "running rules");

	if (json) {
		evbuffer_add_printf(b, "{\"policy\":{");
		for (s = 0; s < CT_STATE_MAX; s++)
			evbuffer_add_printf(b, "%s\"%s\":\"%s\"", s ? "," : "",
			    rule_state_name(s),
			    rule_action_name(cfg->policy[s]));
		evbuffer_add_printf(b, "},\"policy_counters\":{");
		for (s = 0; s < CT_STATE_MAX; s++) {
			i = cfg->nrules + (size_t)s;
			evbuffer_add_printf(b, "%s\"%s\":{\"packets\":%" PRIu64
			    ",\"bytes\":%" PRIu64 "}", s ? "," : "",
			    rule_state_name(s), a.sum[2 * i],
			    a.sum[2 * i + 1]);
		}
		evbuffer_add_printf(b, "},\"rules\":[");
	} else {
		evbuffer_add_printf(b, "Policy:");
		for (s = 0; s < CT_STATE_MAX; s++)
			evbuffer_add_printf(b, "%s %s %s", s ? "," : "",
			    rule_state_name(s),
			    rule_action_name(cfg->policy[s]));
		evbuffer_add_printf(b, "\n\n%10s %12s %-4s %-20s %-7s %-6s "
		    "%-24s %-18s %-18s %s\n", "pkts", "bytes", "num", "name",
		    "action", "proto", "state", "source", "destination",
		    "match");
	}
	for (i = 0; i < cfg->nrules; i++) {
		r = &cfg->rules[i];
		rule_states_format(r->states, states, sizeof(states));
		if (json) {
			ctl_json_str(q, sizeof(q), r->name);
			evbuffer_add_printf(b, "%s{\"num\":%zu,\"name\":%s,"
			    "\"packets\":%" PRIu64 ",\"bytes\":%" PRIu64 ","
			    "\"action\":\"%s\",\"proto\":\"%s\",\"state\":\"%s\"",
			    i ? "," : "", i + 1, q, a.sum[2 * i],
			    a.sum[2 * i + 1], rule_action_name(r->action),
			    proto_name(r, pbuf, sizeof(pbuf)), states);
			if (r->src != NULL)
				print_addrs(b, "src", r->src, 1);
			if (r->dst != NULL)
				print_addrs(b, "dst", r->dst, 1);
		} else {
			evbuffer_add_printf(b, "%10" PRIu64 " %12" PRIu64
			    " %-4zu %-20s %-7s %-6s %-24s ", a.sum[2 * i],
			    a.sum[2 * i + 1], i + 1, r->name,
			    rule_action_name(r->action),
			    proto_name(r, pbuf, sizeof(pbuf)), states);
			print_addrs(b, "src", r->src, 0);
			print_addrs(b, "dst", r->dst, 0);
		}
		print_ports(b, "sport", r->sport, json);
		print_ports(b, "dport", r->dport, json);
		print_ifaces(b, "in", r->in, r->nin, r->in_neg, json);
		print_ifaces(b, "out", r->out, r->nout, r->out_neg, json);
		if (r->hooks)
			evbuffer_add_printf(b, json ? ",\"chain\":\"%s\"" :
			    " chain=%s", rule_hooks_format(r->hooks, chain,
			    sizeof(chain)));
		if (r->has_icmp_type)
			print_icmp_types(b, r->icmp_types, json);
		if (r->has_tcp_flags) {
			rule_tcp_flags_format(r->tcp_flags, r->tcp_mask, flags,
			    sizeof(flags));
			evbuffer_add_printf(b, json ? ",\"tcp_flags\":\"%s\"" :
			    " tcp_flags=%s", flags);
		}
		if (r->has_mark)
			evbuffer_add_printf(b, json ? ",\"mark\":%" PRIu32 :
			    " mark=0x%" PRIx32, r->mark);
		if (r->rate)
			evbuffer_add_printf(b, json ? ",\"rate\":%" PRIu32 :
			    " rate=%" PRIu32 "/s", r->rate);
		if (r->conn_limit)
			evbuffer_add_printf(b, json ? ",\"conn_limit\":%" PRIu32 :
			    " conn_limit=%" PRIu32, r->conn_limit);
		if (json)
			evbuffer_add_printf(b, ",\"log\":%s}",
			    r->log ? "true" : "false");
		else
			evbuffer_add_printf(b, "%s\n", r->log ? " log" : "");
	}
	if (json)
		evbuffer_add_printf(b, "]}\n");
	else
		for (s = 0; s < CT_STATE_MAX; s++) {
			i = cfg->nrules + (size_t)s;
			evbuffer_add_printf(b, "%10" PRIu64 " %12" PRIu64
			    " %-4s %-20s %-7s %-6s %-24s %-18s %s\n",
			    a.sum[2 * i], a.sum[2 * i + 1], "-", "[policy]",
			    rule_action_name(cfg->policy[s]), "any",
			    rule_state_name(s), "any", "any");
		}
	free(a.sum);
	return (0);
}

/* One rule of cmd_iptables(): a line, or the n-th JSON string. */
static void
ipt_line(struct evbuffer *b, int json, size_t n, const char *line)
{
	char	 q[2 * 160 + 8];

	if (json) {
		ctl_json_str(q, sizeof(q), line);
		evbuffer_add_printf(b, "%s%s", n ? "," : "", q);
	} else
		evbuffer_add_printf(b, "%s\n", line);
}

int
cmd_iptables(struct client *c, struct evbuffer *b)
{
	const struct daemon_info *info = c->ctl->info;
	char			 target[96], line[160], queues[32],
				 table[FP_TABLE_NAMELEN];
	/* the tracker must see both directions: a host's own replies
	   leave by OUTPUT, a router's both ways cross FORWARD */
	static const char *const chains[][2] = {
		{ "INPUT", "! -i lo " },
		{ "OUTPUT", "! -o lo " },
		{ "FORWARD", "" },
	};
	size_t			 i, n = 0;
	int			 json = (c->flags & CTL_F_JSON) != 0;
	/* fail the same way while not running as while overloaded */
	int			 bypass = info->cfg->fail_open;
	/* the running fast path: a reload's fastpath waits for a start */
	int			 fp = info->fpd != NULL;

	if (info->threads > 1)
		snprintf(target, sizeof(target), "--queue-balance %u:%u",
		    info->queue, info->queue + info->threads - 1);
	else
		snprintf(target, sizeof(target), "--queue-num %u",
		    info->queue);
	status_queues(queues, sizeof(queues), info->queue, info->threads);
	if (json)
		evbuffer_add_printf(b, "{\"table\":\"filter\",\"rules\":[");
	else
		evbuffer_add_printf(b, "# nfqspid %s: divert to NFQUEUE %s, "
		    "loopback excepted\n"
		    "# apply with iptables-restore -n and ip6tables-restore -n"
		    "\n# %s\n"
		    "# INPUT and OUTPUT: this host's own traffic; FORWARD: "
		    "what it routes\n", info->version, queues,
		    bypass ? "--queue-bypass (fail_open = yes): the kernel "
		    "accepts the packets while nfqspid is not running" :
		    "no --queue-bypass (fail_open = no): nothing passes "
		    "while nfqspid is not running");
	if (!json && fp &&
	    fastpath_table_name(info->queue, table, sizeof(table)) == 0)
		evbuffer_add_printf(b, "# fastpath = yes: the packets nfqspid's "
		    "table inet %s marks skip the queue\n", table);
	if (!json)
		evbuffer_add_printf(b, "*filter\n");
	/* the fast path's rules first: what its table marked skips
	   the queue */
	for (i = 0; fp &&
	    i < sizeof(chains) / sizeof(chains[0]); i++) {
		snprintf(line, sizeof(line), "-A %s -m mark --mark "
		    "0x%08x/0x%08x -j ACCEPT", chains[i][0], FP_BYPASS_MARK,
		    FP_BYPASS_MARK);
		ipt_line(b, json, n++, line);
	}
	for (i = 0; i < sizeof(chains) / sizeof(chains[0]); i++) {
		snprintf(line, sizeof(line), "-A %s %s-j NFQUEUE %s%s",
		    chains[i][0], chains[i][1], target,
		    bypass ? " --queue-bypass" : "");
		ipt_line(b, json, n++, line);
	}
	evbuffer_add_printf(b, json ? "]}\n" : "COMMIT\n");
	return (0);
}

/* The nft form of cmd_iptables(): table inet nfqspid (divert.c). */
int
cmd_nft(struct client *c, struct evbuffer *b)
{
	const struct daemon_info *info = c->ctl->info;
	struct divert_spec	 spec;
	char			 text[4096], q[2 * sizeof(text) + 8];

	memset(&spec, 0, sizeof(spec));
	spec.mode = DIVERT_NFT;
	/* as cmd_iptables(): fail the way the queue does */
	spec.bypass = info->cfg->fail_open;
	spec.queue = info->queue;
	spec.threads = info->threads;
	spec.fastpath = info->fpd != NULL;	/* as cmd_iptables() */
	if (divert_nft_text(&spec, info->version, text, sizeof(text)) == -1) {
		client_error(c, "nft: the ruleset is too long");
		return (-1);
	}
	if (c->flags & CTL_F_JSON) {
		ctl_json_str(q, sizeof(q), text);
		evbuffer_add_printf(b, "{\"table\":\"inet %s\",\"ruleset\":%s}\n",
		    DIVERT_NFT_TABLE, q);
	} else
		evbuffer_add(b, text, strlen(text));
	return (0);
}
