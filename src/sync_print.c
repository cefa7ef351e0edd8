/*
 * sync_print.c - nfqspictl sync status, in text and JSON
 *
 * Copyright (C) 2026 The nfqspid authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * The text is one "key value" a line, as status prints; the JSON has the
 * same keys, for the notify hooks that wait on "ready".
 */
#include <inttypes.h>
#include <stdio.h>

#include <event2/buffer.h>

#include "nfqspid.h"

/* data messages sent that the peer has not acknowledged */
static uint32_t
sync_lag(const struct sync_status *st)
{
	return (st->seq.next_seq - st->seq.peer_ack);
}

static const char *
sync_bulk_state(int active, uint64_t done)
{
	return (active ? "running" : done > 0 ? "done" : "none");
}

static void
sync_print_json(struct evbuffer *b, const struct sync_status *st)
{
	const struct sync_stats	*c = &st->st;

	evbuffer_add_printf(b, "{\"role\":\"%s\",\"ready\":%s,"
	    "\"alone\":%s,\"reachable\":%s,\"listen\":\"%s\",\"peer\":\"%s\",",
	    sync_role_name(st->role), st->ready ? "true" : "false",
	    st->alone ? "true" : "false",
	    st->reachable ? "true" : "false", st->listen, st->peer);
	if (st->heard_ms == UINT64_MAX)
		evbuffer_add_printf(b, "\"heard_ms\":null,");
	else
		evbuffer_add_printf(b, "\"heard_ms\":%" PRIu64 ",",
		    st->heard_ms);
	evbuffer_add_printf(b, "\"epoch\":%" PRIu64 ",\"peer_epoch\":%"
	    PRIu64 ",\"next_seq\":%" PRIu32 ",\"peer_ack\":%" PRIu32
	    ",\"lag\":%" PRIu32 ",\"rx_next\":%" PRIu32 ",\"queued\":%"
	    PRIu64 ",", st->seq.epoch, st->seq.peer_epoch, st->seq.next_seq,
	    st->seq.peer_ack, sync_lag(st), st->seq.rx_next, st->queued);
	evbuffer_add_printf(b, "\"bulk_out\":{\"state\":\"%s\",\"records\":%"
	    PRIu64 ",\"total\":%" PRIu64 ",\"count\":%" PRIu64 "},"
	    "\"bulk_in\":{\"state\":\"%s\",\"records\":%" PRIu64
	    ",\"ms\":%" PRIu64 ",\"count\":%" PRIu64 "},",
	    sync_bulk_state(st->tx_active, c->bulks_sent), st->tx_records,
	    st->tx_total, c->bulks_sent,
	    sync_bulk_state(st->rx_active, c->bulks_received), st->rx_records,
	    st->rx_ms, c->bulks_received);
	evbuffer_add_printf(b, "\"sent\":%" PRIu64 ",\"resent\":%" PRIu64
	    ",\"received\":%" PRIu64 ",\"changes\":%" PRIu64
	    ",\"coalesced\":%" PRIu64 ",\"lost\":%" PRIu64 ",\"applied\":%"
	    PRIu64 ",\"ignored\":%" PRIu64 ",\"import_failed\":%" PRIu64
	    ",\"norule\":%" PRIu64 ",\"swept\":%" PRIu64, c->sent,
	    st->seq.resent, c->received, c->changes, c->coalesced, c->lost,
	    c->applied, c->ignored, c->import_failed, c->norule, c->swept);
	evbuffer_add_printf(b, ",\"nacks_sent\":%" PRIu64
	    ",\"nacks_received\":%" PRIu64 ",\"resend_failed\":%" PRIu64 ",\"gaps\":%" PRIu64
	    ",\"dups\":%" PRIu64 ",", c->nacks_sent, c->nacks_received,
	    st->seq.resend_failed, st->seq.gaps, st->seq.dups);
	evbuffer_add_printf(b, "\"refused\":{\"forged\":%" PRIu64
	    ",\"replayed\":%" PRIu64 ",\"malformed\":%" PRIu64 ",\"version\":%"
	    PRIu64 ",\"stranger\":%" PRIu64 "},\"send_errors\":%" PRIu64 "}\n",
	    c->forged, c->replayed, c->malformed, c->version, c->strangers,
	    c->send_errors);
}

void
sync_print(struct evbuffer *b, const struct sync_status *st, int json)
{
	const struct sync_stats	*c = &st->st;

	if (json) {
		sync_print_json(b, st);
		return;
	}
	evbuffer_add_printf(b, "%-16s%s\n", "role", sync_role_name(st->role));
	evbuffer_add_printf(b, "%-16s%s\n", "ready", !st->ready ?
	    "no (the peer's whole table has not come yet)" : st->alone ?
	    "yes (alone: no word from the peer)" : "yes");
	evbuffer_add_printf(b, "%-16s%s\n", "listen", st->listen);
	if (st->heard_ms == UINT64_MAX)
		evbuffer_add_printf(b, "%-16s%s unreachable (never heard)\n",
		    "peer", st->peer);
	else
		evbuffer_add_printf(b, "%-16s%s %s (heard %" PRIu64 " ms "
		    "ago)\n", "peer", st->peer, st->reachable ? "reachable" :
		    "unreachable", st->heard_ms);
	evbuffer_add_printf(b, "%-16snext %" PRIu32 ", acknowledged %" PRIu32
	    ", lag %" PRIu32 ", changes waiting %" PRIu64 "\n", "sending",
	    st->seq.next_seq, st->seq.peer_ack, sync_lag(st), st->queued);
	evbuffer_add_printf(b, "%-16snext %" PRIu32 ", gaps %" PRIu64
	    ", duplicates %" PRIu64 "\n", "receiving", st->seq.rx_next,
	    st->seq.gaps, st->seq.dups);
	evbuffer_add_printf(b, "%-16s%" PRIu64 " (failed %" PRIu64 "), "
	    "nacks sent %" PRIu64 ", received %" PRIu64 "\n", "resends",
	    st->seq.resent, st->seq.resend_failed, c->nacks_sent,
	    c->nacks_received);
	evbuffer_add_printf(b, "%-16s%s, %" PRIu64 " of %" PRIu64
	    " connections (%" PRIu64 " bulks)\n", "bulk out",
	    sync_bulk_state(st->tx_active, c->bulks_sent), st->tx_records,
	    st->tx_total, c->bulks_sent);
	evbuffer_add_printf(b, "%-16s%s, %" PRIu64 " connections in %"
	    PRIu64 " ms (%" PRIu64 " bulks; %" PRIu64 " of ours they did not "
	    "bring ended)\n", "bulk in",
	    sync_bulk_state(st->rx_active, c->bulks_received), st->rx_records,
	    st->rx_ms, c->bulks_received, c->swept);
	evbuffer_add_printf(b, "%-16s%" PRIu64 " queued (%" PRIu64 " sent "
	    "as one with a later one), %" PRIu64 " lost, %" PRIu64 " applied, %"
	    PRIu64 " ignored, %" PRIu64 " failed, %" PRIu64 " unknown rules\n",
	    "changes", c->changes, c->coalesced, c->lost,
	    c->applied, c->ignored, c->import_failed, c->norule);
	evbuffer_add_printf(b, "%-16sforged %" PRIu64 ", replayed %" PRIu64
	    ", malformed %" PRIu64 ", version %" PRIu64 ", stranger %" PRIu64
	    "\n", "refused", c->forged, c->replayed, c->malformed, c->version,
	    c->strangers);
}
