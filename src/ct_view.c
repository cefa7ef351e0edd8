/*
 * ct_view.c - a tracked connection filled into struct ct_view, and its
 * printed forms: the /proc/net/nf_conntrack line, conntrack -E's line and
 * JSON
 *
 * Copyright (C) 2026 The nfqspid authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * The only code that prints a connection.  The text follows the kernel's
 * ct_seq_show() (net/netfilter/nf_conntrack_standalone.c) field for
 * field; the listing keeps its %pI6 addresses (eight 4-digit groups), so
 * that scripts written for /proc read it, while events and JSON write
 * IPv6 short (RFC 5952, inet_ntop()), as conntrack(8) and jq users
 * expect.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <stdio.h>
#include <string.h>

#include "ct_int.h"
#include "ct_view.h"
#include "strl.h"

void
ct_view_fill(struct ct_view *v, const struct ct_entry *e, uint64_t now_ms)
{
	int32_t	 left;

	memset(v, 0, sizeof(*v));
	v->family = e->family;
	v->proto = e->proto;
	v->state = e->proto == IPPROTO_TCP && e->state < CT_TCP_NSTATES ?
	    e->state : 0;
	if (!(e->status & CT_ST_SEEN_REPLY))
		v->flags |= CT_VIEW_UNREPLIED;
	if (e->status & CT_ST_ASSURED)
		v->flags |= CT_VIEW_ASSURED;
	v->orig.src = v->reply.dst = e->src;
	v->orig.dst = v->reply.src = e->dst;
	switch (e->proto) {
	case IPPROTO_TCP:
	case IPPROTO_UDP:
		v->orig.sport = v->reply.dport = e->sport;
		v->orig.dport = v->reply.sport = e->dport;
		break;
	case IPPROTO_ICMP:
	case IPPROTO_ICMPV6:
		/* the entry keeps the request's type in dport, its id in
		   sport; the reply tuple has the answer's type */
		v->orig.type = (uint8_t)e->dport;
		v->reply.type = ct_icmp_reply_type(e->family, v->orig.type);
		v->orig.code = v->reply.code = e->icmp_code;
		v->orig.id = v->reply.id = e->sport;
		break;
	default:
		break;
	}
	left = ct_tdiff(e->deadline, (uint32_t)now_ms);
	v->timeout = left > 0 ? (uint32_t)left / 1000 : 0;
	v->packets = e->packets;
	v->age = ct_entry_age(e, now_ms);
	v->mark = e->mark;
	v->rule = ct_entry_rule(e);
}

const char *
ct_view_proto_name(uint8_t proto)
{
	switch (proto) {
	case IPPROTO_TCP:
		return ("tcp");
	case IPPROTO_UDP:
		return ("udp");
	case IPPROTO_ICMP:
		return ("icmp");
	case IPPROTO_ICMPV6:
		return ("icmpv6");
	case IPPROTO_UDPLITE:
		return ("udplite");
	case IPPROTO_SCTP:
		return ("sctp");
	case IPPROTO_GRE:
		return ("gre");
	case IPPROTO_DCCP:
		return ("dccp");
	default:
		return ("unknown");
	}
}

const char *
ct_view_tcp_state(unsigned state)
{
	return (ct_tcp_state_name(state < CT_TCP_NSTATES ? (uint8_t)state :
	    CT_TCP_NSTATES));
}

/* A text's length may pass INT_MAX only in theory; say so, not wrap. */
static int
text_len(const struct spi_buf *b)
{
	return (b->off > 0x7fffffff ? 0x7fffffff : (int)b->off);
}

/* The kernel's %pI6 for /proc: eight groups of 4 digits; else short. */
static void
print_addr(struct spi_buf *b, const char *pre, const char *post,
    uint8_t family, const union pkt_addr *a, int full)
{
	const uint8_t	*p = a->a8;
	char		 s[INET6_ADDRSTRLEN];

	if (family == AF_INET6 && full) {
		snprintf(s, sizeof(s), "%02x%02x:%02x%02x:%02x%02x:%02x%02x:"
		    "%02x%02x:%02x%02x:%02x%02x:%02x%02x",
		    p[0], p[1], p[2], p[3], p[4], p[5], p[6], p[7],
		    p[8], p[9], p[10], p[11], p[12], p[13], p[14], p[15]);
	} else if (inet_ntop(family == AF_INET6 ? AF_INET6 : AF_INET, p, s,
	    sizeof(s)) == NULL)
		snprintf(s, sizeof(s), "?");
	spi_bprintf(b, "%s%s%s", pre, s, post);
}

/* ---- text ---------------------------------------------------------------- */

static void
text_tuple(struct spi_buf *b, const struct ct_view *v,
    const struct ct_view_tuple *t, int full)
{
	print_addr(b, "src=", " ", v->family, &t->src, full);
	print_addr(b, "dst=", " ", v->family, &t->dst, full);
	switch (v->proto) {
	case IPPROTO_TCP:
	case IPPROTO_UDP:
		spi_bprintf(b, "sport=%u dport=%u ", t->sport, t->dport);
		break;
	case IPPROTO_ICMP:
	case IPPROTO_ICMPV6:
		spi_bprintf(b, "type=%u code=%u id=%u ", t->type, t->code,
		    t->id);
		break;
	default:
		break;
	}
}

void
ct_view_table(struct ct_view *v, const struct ct_table *t,
    const struct ct_entry *e)
{
	if (t == NULL)
		return;
	if (ct_entry_bytes(t, e, &v->bytes) == 0)
		v->flags |= CT_VIEW_BYTES;
	if (ct_offloaded(t, e))
		v->flags |= CT_VIEW_OFFLOAD;
}

int
ct_view_text(const struct ct_view *v, int style, char *buf, size_t len)
{
	struct spi_buf	 b;
	int		 proc = style == CT_VIEW_PROC;

	spi_buf_init(&b, buf, len);
	if (proc)
		spi_bprintf(&b, "%-8s %u ", v->family == AF_INET ? "ipv4" :
		    "ipv6", v->family == AF_INET ? 2u : 10u);
	spi_bprintf(&b, "%-8s %u %u ", ct_view_proto_name(v->proto), v->proto,
	    v->timeout);
	if (v->proto == IPPROTO_TCP)
		spi_bprintf(&b, "%s ", ct_view_tcp_state(v->state));
	text_tuple(&b, v, &v->orig, proc);
	/* the kernel's accounting (nf_conntrack_acct), both ways in one */
	if (v->flags & CT_VIEW_BYTES)
		spi_bprintf(&b, "packets=%u bytes=%llu ", v->packets,
		    (unsigned long long)v->bytes);
	if (v->flags & CT_VIEW_UNREPLIED)
		spi_bprintf(&b, "[UNREPLIED] ");
	text_tuple(&b, v, &v->reply, proc);
	/* one of them, as ct_seq_show(): an offloaded one is assured too */
	if (v->flags & CT_VIEW_OFFLOAD)
		spi_bprintf(&b, "[OFFLOAD] ");
	else if (v->flags & CT_VIEW_ASSURED)
		spi_bprintf(&b, "[ASSURED] ");
	spi_bprintf(&b, proc ? "mark=%u use=1" : "mark=%u", v->mark);
	return (text_len(&b));
}

int
ct_format(const struct ct_entry *e, uint64_t now_ms, char *buf, size_t len)
{
	struct ct_view	 v;

	ct_view_fill(&v, e, now_ms);
	return (ct_view_text(&v, CT_VIEW_PROC, buf, len));
}

/* ---- JSON ---------------------------------------------------------------- */

static void
json_tuple(struct spi_buf *b, const struct ct_view *v,
    const struct ct_view_tuple *t)
{
	print_addr(b, "\"src\":\"", "\",", v->family, &t->src, 0);
	print_addr(b, "\"dst\":\"", "\"", v->family, &t->dst, 0);
	switch (v->proto) {
	case IPPROTO_TCP:
	case IPPROTO_UDP:
		spi_bprintf(b, ",\"sport\":%u,\"dport\":%u", t->sport,
		    t->dport);
		break;
	case IPPROTO_ICMP:
	case IPPROTO_ICMPV6:
		spi_bprintf(b, ",\"type\":%u,\"code\":%u,\"id\":%u", t->type,
		    t->code, t->id);
		break;
	default:
		break;
	}
}

/* A JSON string; rule names are [A-Za-z0-9_.-] (config.c), but a view
   is printed whatever it holds. */
static void
json_str(struct spi_buf *b, const char *s)
{
	const unsigned char	*p;

	spi_bprintf(b, "\"");
	for (p = (const unsigned char *)s; *p != '\0'; p++) {
		if (*p == '"' || *p == '\\')
			spi_bprintf(b, "\\%c", *p);
		else if (*p < 0x20 || *p == 0x7f)
			spi_bprintf(b, "\\u%04x", *p);
		else
			spi_bprintf(b, "%c", *p);
	}
	spi_bprintf(b, "\"");
}

/* Every flag set, unlike the text: a list needs no precedence. */
static void
json_flags(struct spi_buf *b, uint8_t flags)
{
	static const struct {
		uint8_t		 bit;
		const char	*name;
	} f[] = {
		{ CT_VIEW_UNREPLIED, "UNREPLIED" },
		{ CT_VIEW_ASSURED, "ASSURED" },
		{ CT_VIEW_OFFLOAD, "OFFLOAD" },
	};
	size_t	 i;
	int	 first = 1;

	for (i = 0; i < sizeof(f) / sizeof(f[0]); i++) {
		if (!(flags & f[i].bit))
			continue;
		spi_bprintf(b, "%s\"%s\"", first ? "" : ",", f[i].name);
		first = 0;
	}
}

int
ct_view_json(const struct ct_view *v, const char *extra, char *buf,
    size_t len)
{
	struct spi_buf	 b;

	spi_buf_init(&b, buf, len);
	spi_bprintf(&b, "{");
	if (extra != NULL && *extra != '\0')
		spi_bprintf(&b, "%s,", extra);
	spi_bprintf(&b, "\"family\":\"%s\",\"proto\":\"%s\",\"protonum\":%u,"
	    "\"timeout\":%u,", v->family == AF_INET ? "ipv4" : "ipv6",
	    ct_view_proto_name(v->proto), v->proto, v->timeout);
	if (v->proto == IPPROTO_TCP)
		spi_bprintf(&b, "\"state\":\"%s\",",
		    ct_view_tcp_state(v->state));
	json_tuple(&b, v, &v->orig);
	spi_bprintf(&b, ",\"reply\":{");
	json_tuple(&b, v, &v->reply);
	spi_bprintf(&b, "},\"mark\":%u,\"use\":1,\"flags\":[", v->mark);
	json_flags(&b, v->flags);
	spi_bprintf(&b, "],\"age\":%llu,\"packets\":%u,",
	    (unsigned long long)v->age, v->packets);
	if (v->flags & CT_VIEW_BYTES)
		spi_bprintf(&b, "\"bytes\":%llu,\"rule\":",
		    (unsigned long long)v->bytes);
	else
		spi_bprintf(&b, "\"rule\":");
	if (v->rule_name != NULL)
		json_str(&b, v->rule_name);
	else
		spi_bprintf(&b, "null");
	spi_bprintf(&b, "}");
	return (text_len(&b));
}
