/*
 * ct_tcp.c - TCP: state machine and sequence/window tracking
 *
 * Copyright (C) 2026 The nfqspid authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * The states and transitions are those of the kernel's
 * nf_conntrack_proto_tcp.c; the window checks follow Guido van Rooij,
 * "Real Stateful TCP Packet Filtering in IP Filter" (2001), as the kernel
 * does.  Per direction we keep
 *   td_end     the highest seq + len sent,
 *   td_maxend  the highest ack + window the other side granted,
 *   td_maxwin  the largest window it advertised (scaled),
 * and a segment (seq, end, ack) of the sender is acceptable when
 *   I   seq  <= sender.td_maxend             (fits the receiver's window)
 *   II  end  >= sender.td_end - receiver.td_maxwin   (not ancient)
 *   III ack  <= receiver.td_end               (acks nothing unsent)
 *   IV  ack  >= receiver.td_end - max(sender.td_maxwin, 66000)
 * I and III failing make the packet INVALID; II and IV failing mean a
 * retransmission of data already acknowledged or a very late ACK: passed,
 * but nothing is learnt from it (the kernel does the same since 6.x).
 */
#include <sys/socket.h>
#include <netinet/in.h>

#include <errno.h>
#include <string.h>

#include "ct_int.h"

/* The packet classes: the rows of the transition table. */
enum ct_tcp_index {
	CT_TCP_SYN_SET = 0,
	CT_TCP_SYNACK_SET,
	CT_TCP_FIN_SET,
	CT_TCP_ACK_SET,
	CT_TCP_RST_SET,
	CT_TCP_NONE_SET,
	CT_TCP_NSETS
};

_Static_assert(CT_TCP_NSETS == CT_TCP_NCLASSES, "ct_int.h: CT_TCP_NCLASSES");

#define sNO	CT_TCP_NONE
#define sSS	CT_TCP_SYN_SENT
#define sSR	CT_TCP_SYN_RECV
#define sES	CT_TCP_ESTABLISHED
#define sFW	CT_TCP_FIN_WAIT
#define sCW	CT_TCP_CLOSE_WAIT
#define sLA	CT_TCP_LAST_ACK
#define sTW	CT_TCP_TIME_WAIT
#define sCL	CT_TCP_CLOSE
#define sS2	CT_TCP_SYN_SENT2
#define sIV	CT_TCP_IV
#define sIG	CT_TCP_IG

/*
 * [direction][packet class][current state] -> next state.  sIV: the packet
 * is INVALID (tcp-bad-state); sIG: it passes without changing anything (we
 * may be out of sync; the endpoint will sort it out).
 */
static const uint8_t ct_tcp_trans[2][CT_TCP_NSETS][CT_TCP_NSTATES] = {
[CT_DIR_ORIG] = {
	[CT_TCP_SYN_SET] = {
		[sNO] = sSS,	/* the client opens a connection */
		[sSS] = sSS,	/* the SYN is retransmitted */
		[sSR] = sIG,	/* a SYN after the server's SYN/ACK: a late
				   retransmission; the server decides */
		[sES] = sIG,	/* a SYN on a live connection: the server
				   answers with a challenge ACK; or our
				   state is stale and the client restarted */
		[sFW] = sIG,	/* likewise while closing */
		[sCW] = sIG,	/* likewise */
		[sLA] = sIG,	/* likewise */
		[sTW] = sSS,	/* reopens a closed connection (RFC 1122
				   4.2.2.13): a new, NEW connection */
		[sCL] = sSS,	/* reopens an aborted connection: NEW */
		[sS2] = sS2,	/* SYN retransmitted in simultaneous open */
	},
	[CT_TCP_SYNACK_SET] = {
		[sNO] = sIV,	/* a SYN/ACK cannot start a connection */
		[sSS] = sIV,	/* the client cannot answer its own SYN */
		[sSR] = sSR,	/* simultaneous open: the client's SYN/ACK
				   is retransmitted */
		[sES] = sIV,	/* clients send no SYN/ACK once established */
		[sFW] = sIV,	/* nor while closing */
		[sCW] = sIV,	/* nor */
		[sLA] = sIV,	/* nor */
		[sTW] = sIV,	/* nor after closing */
		[sCL] = sIV,	/* nor after a reset */
		[sS2] = sSR,	/* simultaneous open: the client answers the
				   server's SYN */
	},
	[CT_TCP_FIN_SET] = {
		[sNO] = sIV,	/* a FIN cannot start a connection */
		[sSS] = sIV,	/* no FIN before the SYN/ACK came back */
		[sSR] = sFW,	/* the client closes before the handshake
				   completed */
		[sES] = sFW,	/* the client starts closing */
		[sFW] = sLA,	/* FIN both ways (or a retransmitted FIN):
				   waiting for the last ACK */
		[sCW] = sLA,	/* the server had closed, now the client */
		[sLA] = sLA,	/* the FIN is retransmitted */
		[sTW] = sTW,	/* a late FIN retransmission */
		[sCL] = sCL,	/* a FIN after a reset: stays closed */
		[sS2] = sIV,	/* no FIN during simultaneous open */
	},
	[CT_TCP_ACK_SET] = {
		[sNO] = sES,	/* picked up mid-stream (tcp_loose) */
		[sSS] = sIV,	/* an ACK before any SYN/ACK acks nothing */
		[sSR] = sES,	/* the third packet of the handshake */
		[sES] = sES,	/* data and ACKs */
		[sFW] = sCW,	/* the other side acked our FIN */
		[sCW] = sCW,	/* more ACKs while half closed */
		[sLA] = sTW,	/* the last ACK: closed */
		[sTW] = sTW,	/* the last ACK retransmitted */
		[sCL] = sCL,	/* ACKs after a reset change nothing */
		[sS2] = sIV,	/* an ACK during simultaneous open before
				   any SYN/ACK acks nothing */
	},
	[CT_TCP_RST_SET] = {
		[sNO] = sIV,	/* a RST cannot start a connection */
		[sSS] = sCL,	/* the client aborts its attempt */
		[sSR] = sCL,	/* the client refuses the SYN/ACK */
		[sES] = sCL,	/* abort (if it passes the sequence check) */
		[sFW] = sCL,	/* abort while closing */
		[sCW] = sCL,	/* likewise */
		[sLA] = sCL,	/* likewise */
		[sTW] = sCL,	/* a RST in TIME_WAIT ends it early */
		[sCL] = sCL,	/* a repeated RST */
		[sS2] = sCL,	/* abort during simultaneous open */
	},
	[CT_TCP_NONE_SET] = {
		[sNO] = sIV,	/* no SYN, ACK, FIN or RST: never valid */
		[sSS] = sIV,	/* never valid */
		[sSR] = sIV,	/* never valid */
		[sES] = sIV,	/* never valid */
		[sFW] = sIV,	/* never valid */
		[sCW] = sIV,	/* never valid */
		[sLA] = sIV,	/* never valid */
		[sTW] = sIV,	/* never valid */
		[sCL] = sIV,	/* never valid */
		[sS2] = sIV,	/* never valid */
	},
},
[CT_DIR_REPLY] = {
	[CT_TCP_SYN_SET] = {
		[sNO] = sIV,	/* cannot happen: no entry in NONE */
		[sSS] = sS2,	/* simultaneous open: both sent a SYN */
		[sSR] = sIV,	/* a server that answered sends no SYN */
		[sES] = sIV,	/* nor once established */
		[sFW] = sIV,	/* nor while closing */
		[sCW] = sIV,	/* nor */
		[sLA] = sIV,	/* nor */
		[sTW] = sSS,	/* reopens with the roles swapped: NEW */
		[sCL] = sSS,	/* reopens an aborted one, roles swapped */
		[sS2] = sS2,	/* its simultaneous SYN is retransmitted */
	},
	[CT_TCP_SYNACK_SET] = {
		[sNO] = sIV,	/* cannot happen */
		[sSS] = sSR,	/* the server answers: the second packet */
		[sSR] = sIG,	/* the SYN/ACK is retransmitted */
		[sES] = sIG,	/* a late SYN/ACK retransmission, or the
				   answer to a SYN we ignored */
		[sFW] = sIG,	/* likewise */
		[sCW] = sIG,	/* likewise */
		[sLA] = sIG,	/* likewise */
		[sTW] = sIG,	/* likewise */
		[sCL] = sIG,	/* likewise */
		[sS2] = sSR,	/* simultaneous open: the server answers */
	},
	[CT_TCP_FIN_SET] = {
		[sNO] = sIV,	/* cannot happen */
		[sSS] = sIV,	/* the server sends no FIN before SYN/ACK */
		[sSR] = sFW,	/* the server closes early */
		[sES] = sFW,	/* the server starts closing */
		[sFW] = sLA,	/* FIN both ways: waiting for the last ACK */
		[sCW] = sLA,	/* the client had closed, now the server */
		[sLA] = sLA,	/* the FIN is retransmitted */
		[sTW] = sTW,	/* a late FIN retransmission */
		[sCL] = sCL,	/* after a reset: stays closed */
		[sS2] = sIV,	/* no FIN during simultaneous open */
	},
	[CT_TCP_ACK_SET] = {
		[sNO] = sIV,	/* cannot happen */
		[sSS] = sIG,	/* an ACK instead of a SYN/ACK: a half-open
				   connection on the server; it may RST */
		[sSR] = sSR,	/* the server acks a late retransmitted SYN */
		[sES] = sES,	/* data and ACKs */
		[sFW] = sCW,	/* the client's FIN is acked */
		[sCW] = sCW,	/* more ACKs while half closed */
		[sLA] = sTW,	/* the last ACK: closed */
		[sTW] = sTW,	/* the last ACK retransmitted */
		[sCL] = sCL,	/* ACKs after a reset change nothing */
		[sS2] = sIG,	/* an ACK during simultaneous open */
	},
	[CT_TCP_RST_SET] = {
		[sNO] = sIV,	/* cannot happen */
		[sSS] = sCL,	/* the server refuses the connection */
		[sSR] = sCL,	/* the server aborts the handshake */
		[sES] = sCL,	/* abort (if it passes the sequence check) */
		[sFW] = sCL,	/* abort while closing */
		[sCW] = sCL,	/* likewise */
		[sLA] = sCL,	/* likewise */
		[sTW] = sCL,	/* ends TIME_WAIT early */
		[sCL] = sCL,	/* a repeated RST */
		[sS2] = sCL,	/* abort during simultaneous open */
	},
	[CT_TCP_NONE_SET] = {
		[sNO] = sIV,	/* never valid */
		[sSS] = sIV,	/* never valid */
		[sSR] = sIV,	/* never valid */
		[sES] = sIV,	/* never valid */
		[sFW] = sIV,	/* never valid */
		[sCW] = sIV,	/* never valid */
		[sLA] = sIV,	/* never valid */
		[sTW] = sIV,	/* never valid */
		[sCL] = sIV,	/* never valid */
		[sS2] = sIV,	/* never valid */
	},
},
};

static const char *const ct_tcp_names[CT_TCP_NSTATES] = {
	[sNO] = "NONE",
	[sSS] = "SYN_SENT",
	[sSR] = "SYN_RECV",
	[sES] = "ESTABLISHED",
	[sFW] = "FIN_WAIT",
	[sCW] = "CLOSE_WAIT",
	[sLA] = "LAST_ACK",
	[sTW] = "TIME_WAIT",
	[sCL] = "CLOSE",
	[sS2] = "SYN_SENT2",
};

/* the timeout of each state */
static const uint8_t ct_tcp_tstate[CT_TCP_NSTATES] = {
	[sNO] = CT_TO_TCP_SYN_SENT,
	[sSS] = CT_TO_TCP_SYN_SENT,
	[sSR] = CT_TO_TCP_SYN_RECV,
	[sES] = CT_TO_TCP_ESTABLISHED,
	[sFW] = CT_TO_TCP_FIN_WAIT,
	[sCW] = CT_TO_TCP_CLOSE_WAIT,
	[sLA] = CT_TO_TCP_LAST_ACK,
	[sTW] = CT_TO_TCP_TIME_WAIT,
	[sCL] = CT_TO_TCP_CLOSE,
	[sS2] = CT_TO_TCP_SYN_SENT2,
};

/* identical ACKs in a row before the entry gets timeout_tcp_max_retrans */
#define CT_TCP_MAX_RETRANS	3
/* the smallest window assumed for check IV (the kernel's MAXACKWINDOW) */
#define CT_TCP_MIN_ACKWIN	66000
#define CT_TCP_MAX_WSCALE	14

/* window check results */
enum {
	CT_WIN_ACCEPT = 0,	/* in window: learn from it */
	CT_WIN_IGNORE,		/* passes, teaches nothing */
	CT_WIN_INVALID,		/* reason says which check failed */
	CT_WIN_RST_SOFT		/* RST in window but not exact: pass, keep */
};

/* ct_tcp_check()'s answers, before liberal and grace are considered */
enum {
	CT_CHK_IN = 0,		/* in the window */
	CT_CHK_BAD,		/* beyond it (I, III, a RST behind) */
	CT_CHK_OLD		/* an old segment (II, IV) */
};

/* serial number arithmetic (RFC 1982) */
static inline int
seq_before(uint32_t a, uint32_t b)
{
	return ((int32_t)(a - b) < 0);
}

static inline int
seq_after(uint32_t a, uint32_t b)
{
	return (seq_before(b, a));
}

const char *
ct_tcp_state_name(uint8_t state)
{
	if (state >= CT_TCP_NSTATES)
		return ("NONE");
	return (ct_tcp_names[state]);
}

/*
 * The flag combinations a TCP sends (PSH, ECE and CWR aside); anything
 * else (NULL, XMAS, SYN+FIN, SYN+RST, FIN without ACK, ...) is a scan or
 * an attack.
 */
static int
ct_tcp_flags_ok(uint8_t f)
{
	f &= PKT_TH_FIN | PKT_TH_SYN | PKT_TH_RST | PKT_TH_ACK | PKT_TH_URG;
	switch (f) {
	case PKT_TH_SYN:
	case PKT_TH_SYN | PKT_TH_URG:
	case PKT_TH_SYN | PKT_TH_ACK:
	case PKT_TH_RST:
	case PKT_TH_RST | PKT_TH_ACK:
	case PKT_TH_FIN | PKT_TH_ACK:
	case PKT_TH_FIN | PKT_TH_ACK | PKT_TH_URG:
	case PKT_TH_ACK:
	case PKT_TH_ACK | PKT_TH_URG:
		return (1);
	default:
		return (0);
	}
}

static int
ct_tcp_index(uint8_t f)
{
	if (f & PKT_TH_RST)
		return (CT_TCP_RST_SET);
	if (f & PKT_TH_SYN)
		return (f & PKT_TH_ACK ? CT_TCP_SYNACK_SET : CT_TCP_SYN_SET);
	if (f & PKT_TH_FIN)
		return (CT_TCP_FIN_SET);
	if (f & PKT_TH_ACK)
		return (CT_TCP_ACK_SET);
	return (CT_TCP_NONE_SET);
}

/* seq + length, counting SYN and FIN */
static uint32_t
ct_tcp_end(const struct pkt *p)
{
	return (p->seq + p->paylen + (p->th_flags & PKT_TH_SYN ? 1 : 0) +
	    (p->th_flags & PKT_TH_FIN ? 1 : 0));
}

/* A side's first SYN or SYN/ACK: where it starts, and its options. */
static void
ct_tcp_init_dir(struct ct_tcp *tc, int dir, const struct pkt *p)
{
	struct ct_tcp_dir	*s = &tc->seen[dir];

	s->td_end = s->td_maxend = ct_tcp_end(p);
	s->td_maxwin = p->win ? p->win : 1;
	s->td_maxack = 0;
	tc->flags[dir] &= ~(CT_TD_WSCALE | CT_TD_SACK_PERM | CT_TD_MAXACK_SET |
	    CT_TD_STALE | CT_TD_PEER);
	tc->scale[dir] = 0;
	if (p->wscale != PKT_WSCALE_NONE) {
		tc->flags[dir] |= CT_TD_WSCALE;
		tc->scale[dir] = p->wscale > CT_TCP_MAX_WSCALE ?
		    CT_TCP_MAX_WSCALE : p->wscale;
	}
	if (p->sack_perm)
		tc->flags[dir] |= CT_TD_SACK_PERM;
}

static uint32_t
ct_tcp_seghash(uint32_t seq, uint32_t ack, uint32_t end, uint16_t win)
{
	uint64_t	 h;

	h = ((uint64_t)seq << 32 | ack) * 0x9E3779B97F4A7C15ULL;
	h ^= ((uint64_t)end << 16 | win) * 0xC2B2AE3D27D4EB4FULL;
	return ((uint32_t)(h ^ h >> 32));
}

/*
 * A RST below the highest ack the receiver sent lies outside the
 * receiver's window (RFC 5961 3.2: RCV.NXT <= SEG.SEQ), though it may be
 * within what our check II accepts as a retransmission: the receiver
 * drops it, and so do we (the kernel's "invalid rst").  Not while
 * closing, where the tuple may be in use by a new connection already,
 * not after a SYN we let pass (td_maxack may be stale), and not for the
 * seq 0 RST answering a SYN before the connection is established.
 */
static int
ct_tcp_rst_behind(const struct ct_entry *e, int dir, uint32_t seq)
{
	const struct ct_tcp	*tc = &e->tcp;

	switch (e->state) {
	case sFW:
	case sCW:
	case sLA:
	case sTW:
	case sCL:
		return (0);
	default:
		break;
	}
	if (!(tc->flags[!dir] & CT_TD_MAXACK_SET) ||
	    tc->last_index == CT_TCP_SYN_SET)
		return (0);
	if (seq == 0 && e->state != sES)
		return (0);
	return (seq_before(seq, tc->seen[!dir].td_maxack));
}

/*
 * The first packet seen from dir's side: a SYN initialises it, a RST in
 * SYN_SENT that does not acknowledge the SYN is INVALID, anything else is
 * picked up mid-stream.  Returns a CT_WIN_* to answer at once, or -1 to
 * go on with the window checks.
 */
static int
ct_tcp_first(struct ct_entry *e, int dir, const struct pkt *p, uint32_t end,
    uint32_t sack, uint8_t *reason)
{
	struct ct_tcp		*tc = &e->tcp;
	struct ct_tcp_dir	*snd = &tc->seen[dir], *rcv = &tc->seen[!dir];
	uint32_t		 swin, win = p->win, ack = p->ack;
	int			 syn = (p->th_flags & PKT_TH_SYN) != 0;
	int			 hasack = (p->th_flags & PKT_TH_ACK) != 0;
	int			 rst = (p->th_flags & PKT_TH_RST) != 0;

	if (syn) {
		/* The SYN/ACK answering the SYN, or the other SYN
		   of a simultaneous open. */
		ct_tcp_init_dir(tc, dir, p);
		/* RFC 7323 2.2: scaling only if both sides offer */
		if (!((tc->flags[dir] & CT_TD_WSCALE) &&
		    (tc->flags[!dir] & CT_TD_WSCALE)))
			tc->scale[dir] = tc->scale[!dir] = 0;
		if (!hasack)
			return (CT_WIN_ACCEPT);
	} else if (rst && e->state == sSS && (!hasack ||
	    ack != rcv->td_end)) {
		/*
		 * RFC 9293 3.10.7.3: in SYN-SENT only a RST that
		 * acknowledges the SYN resets.  Any other would be
		 * "learnt" here and so fit the window it set itself:
		 * a blind RST would end the handshake in our table.
		 */
		*reason = REASON_TCP_RST;
		return (CT_WIN_INVALID);
	} else {
		/* Picked up: learn this side from the packet. */
		snd->td_end = end;
		swin = win << tc->scale[dir];
		snd->td_maxwin = swin ? swin : 1;
		snd->td_maxend = end + snd->td_maxwin;
		if (tc->flags[!dir] & CT_TD_STALE) {
			/* the other side's is a snapshot's: unknown, as
			   the kernel's of a connection it picks up (its
			   first packet re-learns it; a RST is checked
			   against what this one teaches) */
			rcv->td_maxwin = 0;
			tc->flags[!dir] &= (uint8_t)~CT_TD_MAXACK_SET;
		}
		if (rcv->td_maxwin == 0)
			/* nothing seen the other way either */
			rcv->td_end = rcv->td_maxend = sack;
		else if (sack == rcv->td_end + 1)
			/* the answer to a keepalive probe */
			rcv->td_end++;
	}
	return (-1);
}

/* An acceptable packet: what it teaches about both directions. */
static void
ct_tcp_learn(struct ct_entry *e, int dir, int index, const struct pkt *p,
    uint32_t seq, uint32_t ack, uint32_t sack, uint32_t end)
{
	struct ct_tcp		*tc = &e->tcp;
	struct ct_tcp_dir	*snd = &tc->seen[dir], *rcv = &tc->seen[!dir];
	uint32_t		 win = p->win, swin;
	int			 syn = (p->th_flags & PKT_TH_SYN) != 0;
	int			 hasack = (p->th_flags & PKT_TH_ACK) != 0;

	if (!syn)
		win <<= tc->scale[dir];
	swin = win + (sack - ack);
	if (snd->td_maxwin < swin)
		snd->td_maxwin = swin;
	/* a packet here taught it: the peer's no longer */
	tc->flags[dir] &= (uint8_t)~CT_TD_PEER;
	if (seq_after(end, snd->td_end)) {
		snd->td_end = end;
		tc->flags[dir] |= CT_TD_UNACKED;
	}
	if (hasack) {
		if (!(tc->flags[dir] & CT_TD_MAXACK_SET)) {
			snd->td_maxack = ack;
			tc->flags[dir] |= CT_TD_MAXACK_SET;
		} else if (seq_after(ack, snd->td_maxack))
			snd->td_maxack = ack;
	}
	if (rcv->td_maxwin != 0 && seq_after(end, snd->td_maxend))
		rcv->td_maxwin += end - snd->td_maxend;
	if (seq_after(sack + win, rcv->td_maxend - 1)) {
		rcv->td_maxend = sack + win;
		if (win == 0)
			rcv->td_maxend++;
	}
	if (ack == rcv->td_end)
		tc->flags[!dir] &= ~CT_TD_UNACKED;

	if (index == CT_TCP_ACK_SET) {
		uint32_t h = ct_tcp_seghash(seq, ack, end, p->win);

		if (tc->last_dir == dir && e->last_hash == h) {
			if (tc->retrans < UINT8_MAX)
				tc->retrans++;
		} else {
			e->last_hash = h;
			tc->retrans = 0;
		}
		tc->last_zerowin = p->win == 0;
	}
}

/*
 * In an overflow's grace (ct_grace()), an assured connection that is
 * established or closing is not held to its window: the segments the
 * kernel let pass while our queue was full moved it on without us.
 */
static int
ct_tcp_graced(const struct ct_table *t, const struct ct_entry *e)
{
	if (t->grace_until <= t->now || !(e->status & CT_ST_ASSURED))
		return (0);
	return (e->state == sES || e->state == sFW || e->state == sCW ||
	    e->state == sLA);
}

/*
 * A segment the grace lets pass says where the connection is now: the
 * kernel let its sender's data (check I) or the other side's (check III,
 * an ACK of data we never saw) pass unseen.  Taken as it is, not as a
 * liberal segment grows the window: a jump of gigabytes added to the
 * receiver's window wraps it, and every later segment of the sender
 * looks like an old retransmission that teaches nothing.  The sender
 * may go on a whole window of the receiver's beyond it, as though all
 * of it were acknowledged: the receiver's next ACK sets that right.
 */
static void
ct_tcp_regain(struct ct_tcp *tc, int dir, uint32_t end, uint32_t sack,
    int hasack)
{
	struct ct_tcp_dir	*snd = &tc->seen[dir], *rcv = &tc->seen[!dir];

	if (seq_after(end, snd->td_maxend))
		snd->td_maxend = end + rcv->td_maxwin;
	if (hasack && seq_after(sack, rcv->td_end))
		rcv->td_end = sack;
}

/*
 * The kernel's four checks of a segment against what each side has
 * sent and allowed (seq, sack and end as ct_tcp_in_window() adjusted
 * them), and ours of a RST behind the receiver's ack.  Sets reason
 * unless the segment is in the window.
 */
static int
ct_tcp_check(const struct ct_entry *e, int dir, const struct pkt *p,
    uint32_t seq, uint32_t sack, uint32_t end, uint8_t *reason)
{
	const struct ct_tcp_dir	*snd = &e->tcp.seen[dir];
	const struct ct_tcp_dir	*rcv = &e->tcp.seen[!dir];
	uint32_t		 ackwin;
	int			 syn = (p->th_flags & PKT_TH_SYN) != 0;
	int			 rst = (p->th_flags & PKT_TH_RST) != 0;

	ackwin = snd->td_maxwin > CT_TCP_MIN_ACKWIN ? snd->td_maxwin :
	    CT_TCP_MIN_ACKWIN;

	if (!seq_before(seq, snd->td_maxend + 1)) {
		/* I: beyond what the receiver allowed */
		*reason = rst ? REASON_TCP_RST : syn ? REASON_TCP_SYN_WINDOW :
		    REASON_TCP_SEQ;
		return (CT_CHK_BAD);
	}
	if (!seq_before(sack, rcv->td_end + 1)) {
		/* III: acknowledges data never sent */
		*reason = rst ? REASON_TCP_RST : REASON_TCP_ACK;
		return (CT_CHK_BAD);
	}
	if (rcv->td_maxwin != 0 &&
	    !seq_after(end, snd->td_end - rcv->td_maxwin - 1)) {
		/* II: already acknowledged long ago: a retransmission */
		*reason = rst ? REASON_TCP_RST : REASON_TCP_SEQ;
		return (CT_CHK_OLD);
	}
	if (!seq_after(sack, rcv->td_end - ackwin - 1)) {
		/* IV: a very late ACK */
		*reason = rst ? REASON_TCP_RST : REASON_TCP_ACK;
		return (CT_CHK_OLD);
	}
	if (rst && ct_tcp_rst_behind(e, dir, seq)) {
		/* below what the receiver acknowledged: outside its window */
		*reason = REASON_TCP_RST;
		return (CT_CHK_BAD);
	}
	return (CT_CHK_IN);
}

/*
 * RFC 5961 3.2: only a RST carrying exactly the next expected sequence
 * number resets; one merely in the window makes the receiver send a
 * challenge ACK and keep the connection.  So do we once data flows
 * (1: a soft RST); during the handshake and in TIME_WAIT any in-window
 * RST ends it.
 */
static int
ct_tcp_rst_soft(const struct ct_entry *e, int dir, uint32_t seq)
{
	const struct ct_tcp	*tc = &e->tcp;

	if (e->state != sES && e->state != sFW && e->state != sCW &&
	    e->state != sLA)
		return (0);
	return (seq != tc->seen[dir].td_end &&
	    !((tc->flags[!dir] & CT_TD_MAXACK_SET) &&
	    seq == tc->seen[!dir].td_maxack));
}

/*
 * The first packet other than a RST from a side whose window came from
 * a snapshot (CT_TD_STALE, ct_snap_stale()): the connection may have
 * moved on unseen while we were down or the peer's changes were lost,
 * so the side is taken up from this packet as the kernel takes up a
 * side it has not seen (td_maxwin 0: ct_tcp_first()), and from then on
 * checked as usual.  A RST teaches nothing: it is checked against what
 * is known (the other side's re-learnt ack and window, or else the
 * snapshot's), so a blind one cannot end the connection.  1 if the
 * window held so far would have refused the packet (checks I or III):
 * counted once it is accepted.
 */
static int
ct_tcp_relearn(struct ct_entry *e, int dir, const struct pkt *p,
    uint32_t sack, uint32_t end)
{
	struct ct_tcp	*tc = &e->tcp;
	uint8_t		 reason;
	int		 bad;

	if (!(p->th_flags & PKT_TH_ACK))
		sack = tc->seen[!dir].td_end;
	bad = ct_tcp_check(e, dir, p, p->seq, sack, end, &reason) ==
	    CT_CHK_BAD;
	tc->flags[dir] &= (uint8_t)~(CT_TD_STALE | CT_TD_MAXACK_SET);
	tc->seen[dir].td_maxwin = 0;
	return (bad);
}

/*
 * The sequence and window checks.  Updates the tracking data of both
 * directions when the packet is acceptable.
 */
static int
ct_tcp_in_window(struct ct_table *t, struct ct_entry *e, int dir, int index,
    const struct pkt *p, uint8_t *reason)
{
	struct ct_tcp		*tc = &e->tcp;
	struct ct_tcp_dir	*snd = &tc->seen[dir], *rcv = &tc->seen[!dir];
	uint32_t		 seq = p->seq, ack = p->ack, sack, end;
	int			 syn = (p->th_flags & PKT_TH_SYN) != 0;
	int			 hasack = (p->th_flags & PKT_TH_ACK) != 0;
	int			 rst = (p->th_flags & PKT_TH_RST) != 0;
	int			 liberal, bad, ignore, check, i, rc;
	int			 graced = 0, relearnt = 0;
	struct ct_tcp		 saved;
	int			 learning;

	/* a master's: the peer's windows lack what passed it after its
	   last flush (ct_snap_peer()) */
	if (__builtin_expect((tc->flags[0] | tc->flags[1]) & CT_TD_PEER, 0) &&
	    t->relearn_peer)
		for (i = 0; i < 2; i++)
			if (tc->flags[i] & CT_TD_PEER)
				tc->flags[i] = (uint8_t)((tc->flags[i] &
				    ~CT_TD_PEER) | CT_TD_STALE);
	/* What a side's first packet or a new SYN teaches is undone if the
	   packet turns out INVALID (below): a blind SYN/ACK with a wrong ack
	   must not set the window a later blind RST is then checked by. */
	if ((learning = snd->td_maxwin == 0 || syn ||
	    (tc->flags[dir] & CT_TD_STALE)))
		saved = *tc;
	end = ct_tcp_end(p);
	sack = ack;
	if (hasack && (tc->flags[!dir] & CT_TD_SACK_PERM))
		/* SACK blocks acknowledge beyond ack: check III on those */
		for (i = 0; i < p->nsack && i < PKT_MAX_SACK; i++)
			if (seq_after(p->sack[i][1], sack))
				sack = p->sack[i][1];

	if (__builtin_expect(tc->flags[dir] & CT_TD_STALE, 0) && !rst)
		/* a snapshot's window: taken up afresh from this packet */
		relearnt = ct_tcp_relearn(e, dir, p, sack, end);

	if (snd->td_maxwin == 0 && !(tc->flags[dir] & CT_TD_STALE)) {
		/* The first packet we see from this side. */
		if ((rc = ct_tcp_first(e, dir, p, end, sack, reason)) != -1)
			return (rc);
	} else if (syn && seq_after(end, snd->td_end) &&
	    (e->state == sSS || e->state == sSR)) {
		/* A new SYN with a higher ISN restarts this side (RFC 793
		   "it must only be sure to use sequence numbers larger"). */
		ct_tcp_init_dir(tc, dir, p);
	}

	if (syn && hasack && e->state == sSS && ack != rcv->td_end) {
		/*
		 * RFC 9293 3.10.7.3: the SYN/ACK must acknowledge the SYN
		 * exactly.  One acking far below it would only fail check
		 * IV (ignored, as a late ACK) and pass, teaching the reply
		 * side a window a blind RST could then fit.
		 */
		*reason = REASON_TCP_ACK;
		goto invalid;
	}

	if (!hasack)
		/* nothing acknowledged: check III and IV trivially hold */
		ack = sack = rcv->td_end;
	else if (rst && ack == 0)
		/* stacks that send RST|ACK with a zero ack */
		ack = sack = rcv->td_end;

	if (rst && seq == 0 && e->state == sSS)
		/* the RST refusing a SYN carries seq 0 */
		seq = end = snd->td_end;

	check = ct_tcp_check(e, dir, p, seq, sack, end, reason);
	bad = check == CT_CHK_BAD;
	ignore = check == CT_CHK_OLD;

	liberal = t->cfg.tcp_liberal || (tc->flags[dir] & CT_TD_LIBERAL);
	if (bad && !liberal && !rst && !syn && ct_tcp_graced(t, e)) {
		/* the queue overflowed and we missed its packets: take
		   the connection up from this one rather than end it */
		ct_tcp_regain(tc, dir, end, sack, hasack);
		liberal = graced = 1;
	}
	if (bad || ignore) {
		if (rst) {
			/* An old or far RST: the receiver drops it, and it
			   must never tear down our state, liberal or not. */
			if (liberal)
				goto ignored;
			goto invalid;
		}
		if (!liberal && bad)
			goto invalid;
		if (!liberal || ignore)
			goto ignored;
		/* liberal and beyond the window: learn from it anyway */
	}
	*reason = REASON_NONE;

	if (rst && !liberal && ct_tcp_rst_soft(e, dir, seq))
		return (CT_WIN_RST_SOFT);

	ct_tcp_learn(e, dir, index, p, seq, ack, sack, end);
	if (relearnt)
		t->stats.window_relearn++;
	if (graced) {
		t->stats.window_grace++;
		*reason = REASON_WINDOW_GRACE;
	}
	return (CT_WIN_ACCEPT);

 ignored:
	/* passed on, but it teaches nothing either */
	if (learning)
		*tc = saved;
	return (CT_WIN_IGNORE);

 invalid:
	if (learning)
		*tc = saved;
	return (CT_WIN_INVALID);
}

/*
 * Back to SYN_SENT from the SYN noted in the IG transition (sent in the
 * other direction than dir), so that the SYN/ACK now in dir initialises
 * its side.  The SYN's window was not kept: assume the largest unscaled
 * one; the next ACK from that side teaches the real one.
 */
static void
ct_tcp_resync(struct ct_entry *e, int dir)
{
	struct ct_tcp	*tc = &e->tcp;
	int		 sd = !dir;

	memset(tc->seen, 0, sizeof(tc->seen));
	tc->seen[sd].td_end = tc->seen[sd].td_maxend = e->last_hash;
	tc->seen[sd].td_maxwin = 65535;
	tc->flags[0] = tc->flags[1] = 0;
	tc->scale[0] = tc->scale[1] = 0;
	if (e->syn_opts & CT_SYNOPT_WSCALE) {
		tc->flags[sd] |= CT_TD_WSCALE;
		tc->scale[sd] = e->syn_opts & CT_SYNOPT_SCALE;
	}
	if (e->syn_opts & CT_SYNOPT_SACK)
		tc->flags[sd] |= CT_TD_SACK_PERM;
	tc->retrans = 0;
	tc->last_zerowin = 0;
	e->state = sSS;
}

/* The timeout an entry gets after a packet, as the kernel picks it. */
static uint8_t
ct_tcp_tclass(const struct ct_table *t, const struct ct_entry *e, int index)
{
	const uint32_t	*to = t->cfg.timeout;
	uint8_t		 c = ct_tcp_tstate[e->state];

	if (e->tcp.retrans >= CT_TCP_MAX_RETRANS &&
	    to[c] > to[CT_TO_TCP_MAX_RETRANS])
		c = CT_TO_TCP_MAX_RETRANS;
	else if (index == CT_TCP_RST_SET)
		c = CT_TO_TCP_CLOSE;
	else if (((e->tcp.flags[0] | e->tcp.flags[1]) & CT_TD_UNACKED) &&
	    to[c] > to[CT_TO_TCP_UNACK])
		c = CT_TO_TCP_UNACK;
	else if (e->tcp.last_zerowin && to[c] > to[CT_TO_TCP_MAX_RETRANS])
		/* a zero window that never opens: give up sooner */
		c = CT_TO_TCP_MAX_RETRANS;
	/* Never heard back: a picked up connection is not established. */
	if (!(e->status & CT_ST_SEEN_REPLY) && e->state == sES &&
	    to[c] > to[CT_TO_TCP_UNACK])
		c = CT_TO_TCP_UNACK;
	return (c);
}

static void
ct_tcp_packet(struct ct_table *t, struct ct_entry *e, uint8_t dir,
    const struct pkt *p, struct ct_result *res)
{
	struct ct_tcp	*tc = &e->tcp;
	uint8_t		 old = e->state, new, reason = REASON_NONE;
	uint8_t		 ok_state, replied;
	int		 index, r;

	index = ct_tcp_index(p->th_flags);
	replied = (e->status & CT_ST_SEEN_REPLY) != 0;
	/* iptables' view: original packets are NEW until a reply came */
	ok_state = dir == CT_DIR_ORIG && !replied ? CT_NEW : CT_ESTABLISHED;
	new = ct_tcp_trans[dir][index][old];

	switch (new) {
	case sSS:
		if (old != sTW && old != sCL)
			break;
		/*
		 * A SYN on a closed connection starts a new one: forget the
		 * old entry; the SYN is NEW and goes through the rules again.
		 */
		ct_remove(t, e);
		ct_result_set(res, CT_NEW, REASON_NONE, CT_DIR_ORIG, NULL);
		return;
	case sIG:
		if (index == CT_TCP_SYNACK_SET &&
		    tc->last_index == CT_TCP_SYN_SET && tc->last_dir != dir &&
		    p->ack == e->last_hash) {
			/*
			 * This SYN/ACK answers the SYN we ignored: the ends
			 * restarted the connection while we held stale state.
			 * Start over from that SYN and this SYN/ACK.
			 */
			ct_tcp_resync(e, dir);
			old = sSS;
			new = sSR;
			break;
		}
		if (old == sSR && dir == CT_DIR_REPLY &&
		    index == CT_TCP_SYNACK_SET &&
		    p->ack == tc->seen[CT_DIR_ORIG].td_end &&
		    ct_tcp_end(p) != tc->seen[CT_DIR_REPLY].td_end) {
			/*
			 * The server answers the same SYN again with another
			 * ISN (it restarted, or SYN cookies): take the new
			 * one, or the client's ACK would look out of window.
			 */
			ct_tcp_init_dir(tc, dir, p);
			if (!((tc->flags[dir] & CT_TD_WSCALE) &&
			    (tc->flags[!dir] & CT_TD_WSCALE)))
				tc->scale[dir] = tc->scale[!dir] = 0;
		}
		tc->last_index = (uint8_t)index;
		tc->last_dir = dir;
		if (index == CT_TCP_SYN_SET) {
			/* Note it: a SYN/ACK may prove it right. */
			e->last_hash = ct_tcp_end(p);
			e->syn_opts = 0;
			if (p->wscale != PKT_WSCALE_NONE)
				e->syn_opts = CT_SYNOPT_WSCALE |
				    (p->wscale > CT_TCP_MAX_WSCALE ?
				    CT_TCP_MAX_WSCALE : p->wscale);
			if (p->sack_perm)
				e->syn_opts |= CT_SYNOPT_SACK;
		}
		if (dir == CT_DIR_REPLY)
			e->status |= CT_ST_SEEN_REPLY;
		ct_result_set(res, ok_state, REASON_NONE, dir, e);
		return;
	case sIV:
		ct_result_set(res, CT_INVALID, REASON_TCP_STATE, dir, e);
		return;
	default:
		break;
	}

	if (old == sLA && index == CT_TCP_ACK_SET &&
	    tc->last_index == CT_TCP_SYN_SET && tc->last_dir != dir) {
		/*
		 * The challenge ACK (RFC 5961 4) answering the SYN we let pass
		 * in LAST_ACK, not the last ACK of the close: keep the state.
		 */
		tc->last_index = (uint8_t)index;
		tc->last_dir = dir;
		ct_result_set(res, ok_state, REASON_NONE, dir, e);
		return;
	}

	r = ct_tcp_in_window(t, e, dir, index, p, &reason);
	switch (r) {
	case CT_WIN_INVALID:
		ct_result_set(res, CT_INVALID, reason, dir, e);
		return;
	case CT_WIN_RST_SOFT:
		t->stats.rst_ignored++;
		/* FALLTHROUGH */
	case CT_WIN_IGNORE:
		if (dir == CT_DIR_REPLY)
			e->status |= CT_ST_SEEN_REPLY;
		ct_result_set(res, ok_state, REASON_NONE, dir, e);
		return;
	default:
		break;
	}

	e->state = new;
	if (old != new && new == sFW)
		tc->flags[dir] |= CT_TD_CLOSE_INIT;
	tc->last_index = (uint8_t)index;
	tc->last_dir = dir;
	if (dir == CT_DIR_REPLY)
		e->status |= CT_ST_SEEN_REPLY;

	if (!replied) {
		if (index == CT_TCP_RST_SET) {
			/* Refused or aborted before any answer: there was
			   never a connection.  Gone at once, as the kernel. */
			ct_kill(t, e);
			ct_result_set(res, ok_state, REASON_NONE, dir, e);
			return;
		}
	} else if (!(e->status & CT_ST_ASSURED) &&
	    (old == sSR || old == sES) && new == sES)
		/* the handshake completed, or a picked up connection
		   answered: worth keeping */
		e->status |= CT_ST_ASSURED;

	ct_refresh(t, e, ct_tcp_tclass(t, e, index));
	/* REASON_WINDOW_GRACE when only the grace let it pass */
	ct_result_set(res, ok_state, reason, dir, e);
}

/*
 * A packet of a connection the kernel's fast path carries: the segments
 * that moved its windows on never reached us.  Both sides are learnt
 * afresh from this packet (ct_tcp_first(): the sender from its sequence
 * and window, the receiver from its ack), as the kernel's
 * flow_offload_fixup_tcp() does; the connection is liberal already
 * (ct_set_offloaded()).
 */
static void
ct_tcp_unstale(struct ct_entry *e)
{
	struct ct_tcp	*tc = &e->tcp;

	tc->seen[0].td_maxwin = tc->seen[1].td_maxwin = 0;
	tc->flags[0] &= (uint8_t)~CT_TD_MAXACK_SET;
	tc->flags[1] &= (uint8_t)~CT_TD_MAXACK_SET;
}

void
ct_tcp_track(struct ct_table *t, const struct pkt *p, struct ct_result *res)
{
	struct ct_tuple	 k;
	struct ct_entry	*e;
	uint8_t		 dir = CT_DIR_ORIG;
	int		 index;

	if (!ct_tcp_flags_ok(p->th_flags)) {
		ct_result_set(res, CT_INVALID, REASON_TCP_FLAGS, CT_DIR_ORIG,
		    NULL);
		return;
	}
	ct_tuple_set(&k, p->family, p->proto, &p->src, &p->dst, p->sport,
	    p->dport);
	if ((e = ct_find(t, &k, 1, &dir)) != NULL) {
		if (__builtin_expect(t->noff != 0, 0) && ct_offloaded(t, e))
			ct_tcp_unstale(e);
		ct_tcp_packet(t, e, dir, p, res);
		/* its windows moved: the HA peer must follow ([sync]) */
		if (__builtin_expect(t->dirty_list != NULL, 0) &&
		    res->state != CT_INVALID && res->entry != NULL)
			ct_dirty_mark(t, res->entry);
		return;
	}
	index = ct_tcp_index(p->th_flags);
	if (index == CT_TCP_SYN_SET ||
	    (index == CT_TCP_ACK_SET && t->cfg.tcp_loose))
		ct_result_set(res, CT_NEW, REASON_NONE, CT_DIR_ORIG, NULL);
	else
		ct_result_set(res, CT_INVALID, REASON_TCP_NO_SYN, CT_DIR_ORIG,
		    NULL);
}

int
ct_tcp_confirm(struct ct_table *t, const struct pkt *p, struct ct_result *res)
{
	struct ct_tuple	 k;
	struct ct_entry	*e;
	struct ct_tcp	*tc;
	uint8_t		 dir = CT_DIR_ORIG;
	int		 index;

	if (!ct_tcp_flags_ok(p->th_flags)) {
		ct_result_set(res, CT_INVALID, REASON_TCP_FLAGS, CT_DIR_ORIG,
		    NULL);
		errno = EINVAL;
		return (-1);
	}
	ct_tuple_set(&k, p->family, p->proto, &p->src, &p->dst, p->sport,
	    p->dport);
	if ((e = ct_find(t, &k, 1, &dir)) != NULL) {
		ct_result_set(res, dir == CT_DIR_ORIG &&
		    !(e->status & CT_ST_SEEN_REPLY) ? CT_NEW : CT_ESTABLISHED,
		    REASON_NONE, dir, e);
		return (0);
	}
	index = ct_tcp_index(p->th_flags);
	if (index != CT_TCP_SYN_SET &&
	    !(index == CT_TCP_ACK_SET && t->cfg.tcp_loose)) {
		ct_result_set(res, CT_INVALID, REASON_TCP_NO_SYN, CT_DIR_ORIG,
		    NULL);
		errno = EINVAL;
		return (-1);
	}
	if ((e = ct_insert(t, &k, CT_TO_TCP_SYN_SENT, res)) == NULL)
		return (-1);
	tc = &e->tcp;
	if (index == CT_TCP_SYN_SET) {
		e->state = sSS;
		ct_tcp_init_dir(tc, CT_DIR_ORIG, p);
	} else {
		/*
		 * Mid-stream: its history (and window scale) is lost to us.
		 * Learn the sender from this packet and the other side from
		 * its ack, and never call it out of window (as the kernel).
		 */
		e->state = sES;
		tc->seen[0].td_end = ct_tcp_end(p);
		tc->seen[0].td_maxwin = p->win ? p->win : 1;
		tc->seen[0].td_maxend = tc->seen[0].td_end +
		    tc->seen[0].td_maxwin;
		tc->seen[0].td_maxack = p->ack;
		tc->seen[1].td_end = tc->seen[1].td_maxend = p->ack;
		tc->flags[0] = CT_TD_SACK_PERM | CT_TD_LIBERAL |
		    CT_TD_MAXACK_SET;
		tc->flags[1] = CT_TD_SACK_PERM | CT_TD_LIBERAL;
		ct_refresh(t, e, ct_tcp_tclass(t, e, index));
	}
	tc->last_index = (uint8_t)index;
	tc->last_dir = CT_DIR_ORIG;
	ct_result_set(res, CT_NEW, REASON_NONE, CT_DIR_ORIG, e);
	return (1);
}
