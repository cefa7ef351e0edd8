/*
 * verdict.c - one packet through parser, tracker, rules and policy
 *
 * Copyright (C) 2026 The nfqspid authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * The order of the questions is the one iptables users know from
 *   -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT
 *   -m conntrack --ctstate INVALID -j DROP
 *   ... rules for NEW ...
 * except that rules may also name established, related or invalid
 * packets, and are asked first when they do.
 */
#include <sys/socket.h>
#include <netinet/in.h>

#include <stdio.h>
#include <string.h>

#include "csum.h"
#include "verdict.h"


static const struct rule *
rule_by_index(const struct config *cfg, uint32_t idx)
{
	if (idx == RULE_IDX_NONE || idx >= cfg->nrules)
		return (NULL);
	return (&cfg->rules[idx]);
}

struct match_arg {
	const struct pkt *p;
	int		 state;
	const char	*in, *out;
};

static int
match_packet(const struct rule *r, void *arg)
{
	const struct match_arg *m = arg;

	return (rule_match(r, m->p, m->state, m->in, m->out));
}

/*
 * The first rule that matches the packet in this state, or NULL: by the
 * compiled index, or (a configuration built by hand, as tests do) a walk.
 */
const struct rule *
verdict_first_rule(const struct config *cfg, const struct pkt *p,
    int state, const char *in, const char *out)
{
	struct match_arg m = { p, state, in, out };
	size_t		 i;

	if (cfg->ruleset != NULL)
		return (ruleset_first(cfg->ruleset, p, state, match_packet,
		    &m));
	for (i = 0; i < cfg->nrules; i++)
		if (rule_match(&cfg->rules[i], p, state, in, out))
			return (&cfg->rules[i]);
	return (NULL);
}

/*
 * Ask the rules that name this state, else the [policy] default.  The
 * connection's mark (if any) stays on its packets unless a rule sets
 * another.
 */
static void
decide(const struct config *cfg, const struct pkt *p, int state,
    const char *in, const char *out, struct verdict *v)
{
	const struct rule	*r;

	v->state = state;
	/* the common case: no rule names established packets */
	if (cfg->norule_states & CT_STATE_BIT(state))
		r = NULL;
	else
		r = verdict_first_rule(cfg, p, state, in, out);
	v->rule = r;
	if (r != NULL) {
		v->decided = r->action;
		v->log = r->log;
		if (r->has_mark) {
			v->set_mark = 1;
			v->mark = r->mark;
		}
	} else
		v->decided = cfg->policy[state];
}

/* INVALID packets are audited when [log] invalid says so and they die. */
static void
decide_invalid(const struct config *cfg, const struct pkt *p, int parsed,
    enum reason why, const char *in, const char *out, struct verdict *v)
{
	v->reason = why;
	if (parsed)
		decide(cfg, p, CT_INVALID, in, out, v);
	else {
		/* Fields of a packet we could not parse are not trusted
		   to match a rule: only the policy decides it. */
		v->state = CT_INVALID;
		v->decided = cfg->policy[CT_INVALID];
	}
	if (v->decided != RULE_ACCEPT && cfg->log_invalid)
		v->log = 1;
}

/*
 * What the packet gets: monitor mode lets through what it would drop.
 * A packet not let through carries no mark (the kernel would set it on
 * a packet it frees), so neither the verdict nor its line has one.
 */
static void
finish(const struct config *cfg, struct verdict *v)
{
	v->action = v->decided;
	if (v->decided != RULE_ACCEPT && cfg->mode == MODE_MONITOR) {
		v->action = RULE_ACCEPT;
		v->monitor = 1;
		v->log = 1;
	}
	if (v->action != RULE_ACCEPT) {
		v->set_mark = 0;
		v->mark = 0;
	}
}

/* An existing connection's packets carry the mark it was given. */
static void
inherit(const struct config *cfg, const struct ct_entry *e,
    struct verdict *v)
{
	uint32_t	 mark;

	if (e == NULL || v->set_mark)
		return;
	mark = ct_entry_mark(e);
	if (mark != 0) {
		v->set_mark = 1;
		v->mark = mark;
	}
}

int
verdict_has_reject(const struct config *cfg)
{
	size_t	 i;

	for (i = 0; i < CT_STATE_MAX; i++)
		if (cfg->policy[i] == RULE_REJECT)
			return (1);
	for (i = 0; i < cfg->nrules; i++)
		if (cfg->rules[i].action == RULE_REJECT)
			return (1);
	return (0);
}

const char *
verdict_limit_name(int limit)
{
	switch (limit) {
	case VERDICT_LIMIT_RATE:
		return ("rate");
	case VERDICT_LIMIT_CONN:
		return ("conn_limit");
	default:
		return (NULL);
	}
}

/*
 * The rule r accepted a NEW packet: do its per-source limits let the
 * connection start?  conn_limit first, so that a refused connection costs
 * no rate token.  *counted says the connection was counted under
 * conn_limit (to be undone if it is not tracked after all).
 */
static int
check_limits(struct limit_table *lt, const struct rule *r,
    const struct pkt *p, uint64_t now_ms, int *counted)
{
	*counted = 0;
	if (r->conn_limit != 0) {
		if (!limit_conn_try(lt, r->index, p->family, &p->src,
		    r->conn_limit, now_ms))
			return (VERDICT_LIMIT_CONN);
		*counted = 1;
	}
	if (r->rate != 0 && !limit_rate_allow(lt, r->index, p->family,
	    &p->src, r->rate, now_ms)) {
		if (*counted)
			limit_conn_release(lt, r->index, p->family, &p->src);
		*counted = 0;
		return (VERDICT_LIMIT_RATE);
	}
	return (VERDICT_LIMIT_NONE);
}

/*
 * A connection that is over (TCP TIME_WAIT, CLOSE) no longer counts
 * against its rule's conn_limit, as with the kernel's connlimit: release
 * it now, and forget the rule so that its DESTROY releases nothing.
 */
static void
release_closed(const struct config *cfg, struct limit_table *lt,
    struct ct_entry *e)
{
	const struct rule	*r;
	union pkt_addr		 src, dst;
	uint32_t		 idx;
	uint16_t		 sport, dport;
	uint8_t			 family, proto;

	if ((idx = ct_entry_rule(e)) == RULE_IDX_NONE || !ct_entry_closed(e))
		return;
	if ((r = rule_by_index(cfg, idx)) == NULL || r->conn_limit == 0)
		return;
	ct_entry_tuple(e, &family, &proto, &src, &dst, &sport, &dport);
	limit_conn_release(lt, idx, family, &src);
	ct_entry_set_decision(e, ct_entry_mark(e), RULE_IDX_NONE);
}

/* The addresses and protocol of an unfragmented datagram with the
   first 4 bytes of its transport header at least (IPv6: no extension
   header): its header's length, or 0. */
static size_t
verdict_l3(const uint8_t *buf, size_t len, uint8_t *family, uint8_t *proto,
    union pkt_addr *src, union pkt_addr *dst)
{
	size_t		 hl;

	if (len < 20)
		return (0);
	memset(src, 0, sizeof(*src));
	memset(dst, 0, sizeof(*dst));
	switch (buf[0] >> 4) {
	case 4:
		hl = (size_t)(buf[0] & 0x0f) * 4;
		if (hl < 20 || len < hl + 4 || (buf[6] & 0x1f) || buf[7])
			return (0);
		*family = AF_INET;
		*proto = buf[9];
		memcpy(src->a8, buf + 12, 4);
		memcpy(dst->a8, buf + 16, 4);
		return (hl);
	case 6:
		hl = 40;
		if (len < hl + 4)
			return (0);
		*family = AF_INET6;
		*proto = buf[6];
		memcpy(src->a8, buf + 8, 16);
		memcpy(dst->a8, buf + 24, 16);
		return (hl);
	default:
		return (0);
	}
}

/*
 * Only the common case is read: no options beyond the IPv4 header's own,
 * no IPv6 extension headers, TCP or UDP, not a later fragment.  Whatever
 * else is left to the lookup itself.
 */
void
verdict_ahead(const struct ct_table *ct, const uint8_t *buf, size_t len,
    struct ct_ahead *a)
{
	union pkt_addr	 src, dst;
	const uint8_t	*l4;
	size_t		 hl;
	uint8_t		 family, proto;

	a->ok = 0;
	if ((hl = verdict_l3(buf, len, &family, &proto, &src, &dst)) == 0 ||
	    (proto != IPPROTO_TCP && proto != IPPROTO_UDP))
		return;
	l4 = buf + hl;
	ct_ahead(ct, family, proto, &src, &dst,
	    (uint16_t)(l4[0] << 8 | l4[1]), (uint16_t)(l4[2] << 8 | l4[3]), a);
}

int
verdict_tuple(const uint8_t *buf, size_t len, struct ct_tuple *k)
{
	union pkt_addr	 src, dst;
	const uint8_t	*l4;
	size_t		 hl;
	uint8_t		 family, proto;

	if ((hl = verdict_l3(buf, len, &family, &proto, &src, &dst)) == 0)
		return (-1);
	l4 = buf + hl;
	if (proto == IPPROTO_TCP || proto == IPPROTO_UDP) {
		memset(k, 0, sizeof(*k));
		k->family = family;
		k->proto = proto;
		k->src = src;
		k->dst = dst;
		k->sport = (uint16_t)(l4[0] << 8 | l4[1]);
		k->dport = (uint16_t)(l4[2] << 8 | l4[3]);
		return (0);
	}
	if ((proto != IPPROTO_ICMP || family != AF_INET) &&
	    (proto != IPPROTO_ICMPV6 || family != AF_INET6))
		return (-1);
	if (len < hl + 8)
		return (-1);
	return (ct_icmp_tuple(family, proto, l4[0], &src, &dst,
	    (uint16_t)(l4[4] << 8 | l4[5]), k) == -1 ? -1 : 0);
}

void
verdict_packet(const struct verdict_ctx *x, const uint8_t *buf, size_t len,
    const struct ct_ahead *a, struct pkt *p, struct verdict *v)
{
	const struct config	*cfg = x->cfg;
	struct ct_table		*ct = x->ct;
	struct limit_table	*lt = x->lt;
	const char		*in = x->in, *out = x->out;
	uint64_t		 now_ms = x->now_ms;
	int			 hook = x->hook;
	unsigned		 csum = x->csum;
	struct ct_result	 res;
	enum reason		 why = REASON_NONE;
	const struct rule	*r;
	int			 counted = 0, rc;

	memset(v, 0, sizeof(*v));
	rc = pkt_parse(p, buf, len, &why);
	p->hook = hook > PKT_HOOK_UNKNOWN && hook < PKT_HOOK_MAX ?
	    (uint8_t)hook : PKT_HOOK_UNKNOWN;
	if (rc == -1) {
		decide_invalid(cfg, p, 0, why, in, out, v);
		goto done;
	}
	/* what nf_conntrack_checksum checks, where the kernel did not */
	if (cfg->checksum && csum != 0 && csum_verify(p, csum, &why) == -1) {
		decide_invalid(cfg, p, 0, why, in, out, v);
		goto done;
	}
	if (p->frag == PKT_FRAG_LATER) {
		/*
		 * No transport header: nothing to track and no port for a
		 * rule to see.  The kernel reassembles before the queue when
		 * conntrack's defragmentation is on; a fragment that reaches
		 * us anyway must not slip past a port rule.
		 */
		decide_invalid(cfg, p, 0, REASON_FRAGMENT, in, out, v);
		goto done;
	}

	ct_track_ahead(ct, p, a, now_ms, &res);
	if (lt != NULL && res.entry != NULL && res.state != CT_RELATED)
		release_closed(cfg, lt, res.entry);
	switch (res.state) {
	case CT_INVALID:
		decide_invalid(cfg, p, 1, res.reason, in, out, v);
		break;
	case CT_NEW:
		if (res.entry != NULL) {
			/*
			 * The original direction again before any reply
			 * (a SYN or UDP retransmit): the rule that let the
			 * first packet in already decided the connection.
			 */
			v->state = CT_NEW;
			v->decided = RULE_ACCEPT;
			v->rule = rule_by_index(cfg, ct_entry_rule(res.entry));
			inherit(cfg, res.entry, v);
			break;
		}
		decide(cfg, p, CT_NEW, in, out, v);
		r = v->rule;
		if (v->decided == RULE_ACCEPT && r != NULL && lt != NULL &&
		    (r->rate != 0 || r->conn_limit != 0) &&
		    (v->limit = check_limits(lt, r, p, now_ms, &counted)) !=
		    VERDICT_LIMIT_NONE) {
			v->decided = RULE_DROP;
			v->log = 1;
			/* monitor mode tracks it: count it, so that its
			   DESTROY has something to release */
			if (r->conn_limit != 0 && cfg->mode == MODE_MONITOR)
				counted = limit_conn_try(lt, r->index,
				    p->family, &p->src, 0, now_ms);
		}
		/* In monitor mode the connection is tracked as if let in,
		   so that its replies are seen as what they are. */
		if (v->decided != RULE_ACCEPT && cfg->mode != MODE_MONITOR)
			break;
		rc = ct_confirm(ct, p, now_ms, v->set_mark ? v->mark : 0,
		    r != NULL ? r->index : RULE_IDX_NONE, &res);
		/* Not tracked: no DESTROY will come to release it. */
		if (counted && (rc == -1 || res.entry == NULL))
			limit_conn_release(lt, r->index, p->family, &p->src);
		if (rc == -1) {
			/* Table full and nothing may be evicted. */
			v->limit = VERDICT_LIMIT_NONE;
			v->rule = NULL;
			v->set_mark = 0;
			v->mark = 0;
			v->state = CT_INVALID;
			v->reason = res.reason;
			v->decided = RULE_DROP;
			v->log = cfg->log_invalid;
		}
		break;
	case CT_ESTABLISHED:
	case CT_RELATED:
		decide(cfg, p, res.state, in, out, v);
		inherit(cfg, res.entry, v);
		if (res.state == CT_ESTABLISHED)
			v->entry = res.entry;
		if (res.reason == REASON_WINDOW_GRACE) {
			/* out of window, passed by an overflow's grace:
			   every one is audited */
			v->reason = REASON_WINDOW_GRACE;
			v->log = 1;
		}
		break;
	default:
		/* a tracker bug must not let a packet through */
		v->state = CT_INVALID;
		v->decided = RULE_DROP;
		v->log = 1;
		break;
	}

 done:
	finish(cfg, v);
}

void
verdict_invalid(const struct verdict_ctx *x, const uint8_t *buf, size_t len,
    enum reason why, struct pkt *p, struct verdict *v)
{
	memset(v, 0, sizeof(*v));
	(void)pkt_parse(p, buf, len, NULL);
	p->hook = x->hook > PKT_HOOK_UNKNOWN && x->hook < PKT_HOOK_MAX ?
	    (uint8_t)x->hook : PKT_HOOK_UNKNOWN;
	decide_invalid(x->cfg, p, 0, why, x->in, x->out, v);
	finish(x->cfg, v);
}

enum frag_status
verdict_fragment(const struct verdict_ctx *x, struct frag_cache *fc,
    const uint8_t *buf, size_t len, uint64_t id, struct frag_result *res,
    struct pkt *p, struct verdict *v)
{
	struct verdict_ctx	 whole;
	unsigned		 fl = 0;

	if (!x->cfg->checksum || !(x->csum & CSUM_L4))
		fl |= FRAG_F_NOCSUM;
	if (x->cfg->checksum && (x->csum & CSUM_IP))
		fl |= FRAG_F_CSUM_IP;
	frag_add(fc, buf, len, id, fl, x->now_ms, res);
	switch (res->status) {
	case FRAG_WHOLE:
		/* decided once, as one packet: the header is ours, the
		   transport checksum is checked if every byte is real */
		whole = *x;
		whole.csum = res->csum ? CSUM_L4 : 0;
		verdict_packet(&whole, res->buf, res->len, NULL, p, v);
		break;
	case FRAG_DROP:
		verdict_invalid(x, buf, len, res->reason, p, v);
		break;
	default:
		break;
	}
	return (res->status);
}

int
verdict_needs_owner(const struct pkt *p, const struct verdict *v)
{
	return (v->state == CT_INVALID && v->reason == REASON_ICMP_UNTRACKED &&
	    p->is_icmp_error);
}

void
verdict_related(const struct config *cfg, const struct pkt *p,
    const char *in, const char *out, uint32_t mark, struct verdict *v)
{
	memset(v, 0, sizeof(*v));
	decide(cfg, p, CT_RELATED, in, out, v);
	if (!v->set_mark && mark != 0) {
		v->set_mark = 1;
		v->mark = mark;
	}
	finish(cfg, v);
}

/* "accept state=NEW rule=ssh-in" and " reason=..." when INVALID */
static int
format_head(const struct verdict *v, char *buf, size_t len)
{
	char		 reason[48] = "", limit[32] = "";
	const char	*lname;

	if (v->state == CT_INVALID || v->reason != REASON_NONE)
		snprintf(reason, sizeof(reason), " reason=%s",
		    reason_name(v->reason));
	if ((lname = verdict_limit_name(v->limit)) != NULL)
		snprintf(limit, sizeof(limit), " limit=%s", lname);
	/* monitor mode prints what enforce mode would have done */
	return (snprintf(buf, len, "%s state=%s rule=%s%s%s",
	    rule_action_name(v->decided), rule_state_name(v->state),
	    v->rule != NULL ? v->rule->name : "-", reason, limit));
}

int
verdict_format(const struct verdict *v, char *buf, size_t len)
{
	char	 head[160];

	format_head(v, head, sizeof(head));
	return (snprintf(buf, len, "%s mark=0x%x%s", head,
	    v->set_mark ? v->mark : 0, v->monitor ? " monitor=yes" : ""));
}

int
verdict_audit(const struct verdict *v, const struct pkt *p, const char *in,
    const char *out, size_t pktlen, char *buf, size_t len)
{
	char		 head[160], srcbuf[48], dstbuf[48], protobuf[16], l4[48];
	const char	*src, *dst, *proto;

	format_head(v, head, sizeof(head));
	if (p->family != AF_INET && p->family != AF_INET6) {
		/* not even the IP header could be read */
		return (snprintf(buf, len, "action=%s proto=- src=- dst=- "
		    "in=%s out=%s len=%zu mark=0x%x%s", head, in, out, pktlen,
		    v->set_mark ? v->mark : 0,
		    v->monitor ? " monitor=yes" : ""));
	}
	src = pkt_addr_str(p->family, &p->src, srcbuf, sizeof(srcbuf));
	dst = pkt_addr_str(p->family, &p->dst, dstbuf, sizeof(dstbuf));
	proto = pkt_proto_name(p->proto, protobuf, sizeof(protobuf));
	l4[0] = '\0';
	switch (p->proto) {
	case IPPROTO_TCP:
	case IPPROTO_UDP:
		/* the contract's order: src sport dst dport */
		return (snprintf(buf, len, "action=%s proto=%s src=%s "
		    "sport=%u dst=%s dport=%u in=%s out=%s len=%zu "
		    "mark=0x%x%s", head, proto, src, p->sport, dst, p->dport,
		    in, out, pktlen, v->set_mark ? v->mark : 0,
		    v->monitor ? " monitor=yes" : ""));
	case IPPROTO_ICMP:
	case IPPROTO_ICMPV6:
		snprintf(l4, sizeof(l4), " type=%u code=%u", p->icmp_type,
		    p->icmp_code);
		break;
	default:
		break;
	}
	return (snprintf(buf, len, "action=%s proto=%s src=%s dst=%s%s "
	    "in=%s out=%s len=%zu mark=0x%x%s", head, proto, src, dst, l4,
	    in, out, pktlen, v->set_mark ? v->mark : 0,
	    v->monitor ? " monitor=yes" : ""));
}

/* ---- reload ------------------------------------------------------------ */


/* The lowest chain of a rule's mask, or PKT_HOOK_UNKNOWN for none. */
static uint8_t
first_hook(uint8_t hooks)
{
	uint8_t		 h;

	for (h = PKT_HOOK_PREROUTING; h < PKT_HOOK_MAX; h++)
		if (hooks & RULE_HOOK_BIT(h))
			return (h);
	return (PKT_HOOK_UNKNOWN);
}

/* A name the list matches, for a guess: a plain one, else none. */
static const char *
guess_iface(const char ifs[][RULE_IFNAMSIZ], uint8_t n, uint8_t neg)
{
	uint8_t		 i;

	for (i = 0; i < n; i++)
		if ((neg & (1u << i)) == 0)
			return (ifs[i]);
	return ("");
}

struct rejudge_arg {
	struct pkt	*p;
	uint8_t		 hook;
};

static int
match_rejudge(const struct rule *r, void *arg)
{
	struct rejudge_arg *a = arg;
	int		 guess;

	guess = r->nin > 0 || r->nout > 0 ||
	    (r->hooks != 0 && a->hook == PKT_HOOK_UNKNOWN);
	if (guess && r->action != RULE_ACCEPT)
		return (0);
	a->p->hook = a->hook != PKT_HOOK_UNKNOWN ? a->hook :
	    first_hook(r->hooks);
	return (rule_match(r, a->p, CT_NEW, guess_iface(r->in, r->nin,
	    r->in_neg), guess_iface(r->out, r->nout, r->out_neg)));
}

/*
 * The first state-new rule that matches p, the connection's first packet
 * rebuilt.  The table records the chain that packet came from (hook), but
 * not its interfaces: a rule that names interfaces -- or a chain, when
 * the hook is unknown, as under --replay -- is taken to match (given
 * names it matches and its own first chain) when it accepts, and is
 * skipped when it drops or rejects, so that no connection is ended on a
 * guess.
 */
static const struct rule *
rejudge_match(const struct config *cfg, struct pkt *p, uint8_t hook)
{
	struct rejudge_arg a = { p, hook };
	const struct rule *r = NULL;
	size_t		 i;

	if (cfg->ruleset != NULL)
		r = ruleset_first(cfg->ruleset, p, CT_NEW, match_rejudge, &a);
	else
		for (i = 0; i < cfg->nrules && r == NULL; i++)
			if (match_rejudge(&cfg->rules[i], &a))
				r = &cfg->rules[i];
	/* a match leaves the chain it was judged in (the audit shows it) */
	if (r == NULL)
		p->hook = hook;
	return (r);
}

const struct rule *
verdict_rejudge_rule(const struct config *cfg, const struct pkt *p)
{
	struct pkt	 q = *p;

	q.frag = 0;
	q.th_flags = q.proto == IPPROTO_TCP ? PKT_TH_SYN : 0;
	return (rejudge_match(cfg, &q, p->hook));
}

/* ct_judge_fn: e judged by the reload's rules, as its first packet */
static void
rejudge_one(struct ct_table *ct, struct ct_entry *e, void *arg)
{
	struct verdict_reload	*rj = arg;
	const struct config	*cfg = rj->cfg;
	const struct rule	*r;
	struct verdict		 v;
	struct pkt		 p;
	char			 line[512];
	uint8_t			 decided;
	uint32_t		 oldmark, mark = 0;
	int			 counted;

	memset(&p, 0, sizeof(p));
	ct_entry_tuple(e, &p.family, &p.proto, &p.src, &p.dst, &p.sport,
	    &p.dport);
	if (p.proto == IPPROTO_TCP)
		p.th_flags = PKT_TH_SYN;
	ct_entry_icmp(e, &p.icmp_type, &p.icmp_code, &p.icmp_id);
	oldmark = ct_entry_mark(e);

	r = rejudge_match(cfg, &p, ct_entry_hook(e));
	decided = r != NULL ? r->action : cfg->policy[CT_NEW];
	if (decided == RULE_ACCEPT || cfg->mode == MODE_MONITOR) {
		/* a closed connection is not counted (release_closed()) */
		counted = r != NULL && r->conn_limit != 0 &&
		    !ct_entry_closed(e);
		ct_entry_set_decision(e, r != NULL && r->has_mark ? r->mark : 0,
		    r != NULL && (r->conn_limit == 0 || counted) ? r->index :
		    RULE_IDX_NONE);
		if (counted && rj->lt != NULL)
			(void)limit_conn_try(rj->lt, r->index, p.family,
			    &p.src, 0, ct_now(ct));
		/* no event says so: the HA peer learns it ([sync]) */
		if ((mark = ct_entry_mark(e)) != oldmark)
			ct_dirty_mark(ct, e);
	} else {
		/* its DESTROY must release nothing: the counts are new */
		ct_entry_set_decision(e, oldmark, RULE_IDX_NONE);
		ct_remove(ct, e);
	}
	if (decided == RULE_ACCEPT)
		return;

	rj->ended++;
	if (rj->audit == NULL)
		return;
	memset(&v, 0, sizeof(v));
	v.decided = decided;
	v.action = cfg->mode == MODE_MONITOR ? RULE_ACCEPT : decided;
	v.monitor = cfg->mode == MODE_MONITOR;
	v.state = CT_NEW;
	v.reason = REASON_POLICY_RELOAD;
	v.rule = r;
	v.log = 1;
	/* the mark its packets go on with, as a packet's record says: none
	   for one ended (no packet, nothing marked), as for a drop; monitor
	   mode's, which it keeps, its new one */
	v.set_mark = mark != 0;
	v.mark = mark;
	verdict_audit(&v, &p, "", "", 0, line, sizeof(line));
	rj->audit(rj->arg, line);
}

void
verdict_reload(struct verdict_reload *rl, const struct config *cfg,
    struct ct_table *ct, struct limit_table *lt, uint64_t now_ms,
    void (*audit)(void *arg, const char *line), void *arg)
{
	memset(rl, 0, sizeof(*rl));
	rl->cfg = cfg;
	rl->lt = lt;
	rl->audit = audit;
	rl->arg = arg;
	/* rule indices may name other rules now: count afresh */
	if (lt != NULL)
		limit_flush(lt);
	ct_expire(ct, now_ms);
	ct_generation_next(ct, rejudge_one, rl);
}

int
verdict_reload_step(struct ct_table *ct, size_t slots)
{
	return (ct_sweep(ct, slots, SIZE_MAX));
}

int
verdict_reload_slice(struct ct_table *ct, uint64_t (*now_us)(void),
    uint64_t budget_us)
{
	uint64_t	 t0 = now_us(), t = t0, last;

	/* by work done, not by slots: one judgment may cost microseconds
	   (a large rule set, an audit line), a slot without one nothing */
	while (!ct_sweep(ct, VERDICT_SWEEP_SLOTS, VERDICT_SWEEP_JUDGED)) {
		last = t;
		t = now_us();
		/* stop before a step like the last would pass the budget */
		if (t - t0 + (t - last) >= budget_us)
			return (0);
	}
	return (1);
}

size_t
verdict_rejudge(const struct config *cfg, struct ct_table *ct,
    struct limit_table *lt, uint64_t now_ms,
    void (*audit)(void *arg, const char *line), void *arg)
{
	struct verdict_reload rl;

	verdict_reload(&rl, cfg, ct, lt, now_ms, audit, arg);
	while (!verdict_reload_step(ct, SIZE_MAX))
		;
	return (rl.ended);
}
