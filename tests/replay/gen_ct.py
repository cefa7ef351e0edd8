#!/usr/bin/python3
# gen_ct.py - the connection tracking captures of the --replay tests
#
# Copyright (C) 2026 The nfqspid authors
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Run with the system python (scapy from python3-scapy):
#     /usr/bin/python3 tests/replay/gen_ct.py
# writes tests/replay/cases/ct_*.pcap, one per scenario of issue 3.  Every
# field scapy would look up or randomise is fixed and the timestamps are
# ours, so the files are the same bytes on every run.  Most captures hold
# the scenario twice: over IPv4 first, then over IPv6 with other ports,
# and the second half of ct_NAME.expected repeats the first.
#
# The expected verdicts (cases/ct_*.expected) are written by hand from
# issue 3, the contract and what the kernel's nf_conntrack does; the
# comments here say which line is which and why, and where nfqspid
# deliberately differs from the kernel.

import os
import struct
import sys

from scapy.all import (ICMP, ICMPv6DestUnreach, ICMPv6EchoReply,
                       ICMPv6EchoRequest, ICMPv6PacketTooBig,
                       ICMPv6ParamProblem, ICMPv6TimeExceeded, IP, IPv6,
                       IPv6ExtHdrDestOpt, IPv6ExtHdrHopByHop,
                       IPv6ExtHdrSegmentRouting, PadN, Raw, RouterAlert, TCP,
                       UDP, raw)

LINKTYPE_RAW = 101
CASES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "cases")
T0 = 1700000000         # seconds; every capture starts here

V4 = dict(c="10.0.0.1", s="10.0.0.2", r="10.0.0.254", x="10.0.0.9")
V6 = dict(c="2001:db8::1", s="2001:db8::2", r="2001:db8::fe",
          x="2001:db8::9")

SYN_OPTS = [("MSS", 1460), ("SAckOK", b""), ("NOP", None), ("WScale", 7)]


def ip4(src, dst, **kw):
    return IP(src=src, dst=dst, id=1, ttl=64, **kw)


def ip6(src, dst, **kw):
    return IPv6(src=src, dst=dst, hlim=64, **kw)


def ipf(fam):
    return ip4 if fam is V4 else ip6


def write_case(name, pkts):
    """pkts: (ms from T0, scapy packet or bytes)"""
    path = os.path.join(CASES, name + ".pcap")
    with open(path, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xa1b2c3d4, 2, 4, 0, 0, 65535,
                            LINKTYPE_RAW))
        for ms, p in pkts:
            data = p if isinstance(p, bytes) else raw(p)
            f.write(struct.pack("<IIII", T0 + ms // 1000,
                                (ms % 1000) * 1000, len(data), len(data)))
            f.write(data)
    print("wrote %s (%d packets)" % (path, len(pkts)))


def both(fn, gap=1000000):
    """fn(fam, base_ms, port_offset) -> packets; IPv4 then IPv6."""
    return fn(V4, 0, 0) + fn(V6, gap, 100)


class Conn:
    """One TCP connection client -> server; keeps the next sequence
    numbers of both sides so that each call makes the right segment."""

    def __init__(self, fam, sport, dport=80, cisn=1000, sisn=5000,
                 cwin=502, swin=509, copts=SYN_OPTS, sopts=SYN_OPTS):
        self.ip = ipf(fam)
        self.c, self.s = fam["c"], fam["s"]
        self.sport, self.dport = sport, dport
        self.cisn, self.sisn = cisn, sisn
        self.cnxt, self.snxt = cisn + 1, sisn + 1
        self.cwin, self.swin = cwin, swin
        self.copts, self.sopts = copts, sopts

    def cs(self, **kw):
        kw.setdefault("window", self.cwin)
        return self.ip(self.c, self.s) / TCP(sport=self.sport,
                                             dport=self.dport, **kw)

    def sc(self, **kw):
        kw.setdefault("window", self.swin)
        return self.ip(self.s, self.c) / TCP(sport=self.dport,
                                             dport=self.sport, **kw)

    def syn(self, seq=None):
        return self.cs(flags="S", seq=self.cisn if seq is None else seq,
                       window=64240, options=self.copts)

    def synack(self):
        return self.sc(flags="SA", seq=self.sisn, ack=self.cnxt,
                       window=65160, options=self.sopts)

    def ack(self):
        return self.cs(flags="A", seq=self.cnxt, ack=self.snxt)

    def sack(self):
        return self.sc(flags="A", seq=self.snxt, ack=self.cnxt)

    def cdata(self, n, fill=b"c"):
        p = self.cs(flags="PA", seq=self.cnxt, ack=self.snxt) / Raw(fill * n)
        self.cnxt += n
        return p

    def sdata(self, n, fill=b"s"):
        p = self.sc(flags="PA", seq=self.snxt, ack=self.cnxt) / Raw(fill * n)
        self.snxt += n
        return p

    def cfin(self):
        p = self.cs(flags="FA", seq=self.cnxt, ack=self.snxt)
        self.cnxt += 1
        return p

    def sfin(self):
        p = self.sc(flags="FA", seq=self.snxt, ack=self.cnxt)
        self.snxt += 1
        return p

    def open(self, t):
        """The three-way handshake at t, t+1, t+2 ms."""
        return [(t, self.syn()), (t + 1, self.synack()), (t + 2, self.ack())]


# ---- TCP ------------------------------------------------------------------

def tcp_close(fam, t, o):
    # 1-3 handshake; 4-6 data both ways; 7-10 FIN from the client, its
    # ACK, FIN from the server, the last ACK (TIME_WAIT); 11 the server's
    # FIN retransmitted in TIME_WAIT still passes (the kernel: TW -> TW).
    k = Conn(fam, 40001 + o)
    return k.open(t) + [
        (t + 10, k.cdata(100)),
        (t + 11, k.sdata(200)),
        (t + 12, k.ack()),
        (t + 20, k.cfin()),
        (t + 21, k.sack()),
        (t + 22, k.sfin()),
        (t + 23, k.ack()),
        (t + 500, k.sc(flags="FA", seq=k.snxt - 1, ack=k.cnxt)),
    ]


def tcp_simopen(fam, t, o):
    # Simultaneous open (RFC 9293 3.5): both send a SYN (SYN_SENT2), the
    # client answers the server's SYN with a SYN/ACK (SYN_RECV), the
    # server's SYN/ACK crossing it is ignored, the ACKs establish.  Every
    # packet of the server is the reply direction: ESTABLISHED.
    k = Conn(fam, 40002 + o)
    return [
        (t, k.syn()),
        (t + 1, k.sc(flags="S", seq=5000, window=65160, options=SYN_OPTS)),
        (t + 2, k.cs(flags="SA", seq=1000, ack=5001, window=64240,
                     options=SYN_OPTS)),
        (t + 3, k.synack()),
        (t + 4, k.ack()),
        (t + 5, k.sack()),
        (t + 10, k.cdata(10)),
        (t + 11, k.sdata(10)),
    ]


def tcp_synretx(fam, t, o):
    # 1-3 the SYN and its retransmissions (1 s, 3 s): NEW each time, the
    # same entry, the rule that let the first in decides; 4-5 handshake;
    # 6 a very late SYN retransmission on the established connection is
    # let pass (the kernel ignores it: sIG) and changes nothing, so 7
    # data keeps flowing.
    k = Conn(fam, 40003 + o)
    return [
        (t, k.syn()),
        (t + 1000, k.syn()),
        (t + 3000, k.syn()),
        (t + 3001, k.synack()),
        (t + 3002, k.ack()),
        (t + 3003, k.syn()),
        (t + 3010, k.cdata(10)),
    ]


def tcp_reopen(fam, t, o):
    # 1-7 a connection opened and closed (the client's last ACK puts it
    # in TIME_WAIT); 8 a new SYN on the same tuple 5 s later, with a
    # higher ISN: the old entry goes, the SYN is NEW and the rule decides
    # again; 9-15 the new connection works and closes too.  16 the server
    # sends a SYN from the same tuple: roles swapped, it is NEW and no
    # rule lets port 40004 in, so the policy drops it (nfqspid reopens on
    # a SYN from either side; the kernel takes a reply-direction SYN on
    # TIME_WAIT only if that side closed first - see nfqspid(8)).  17 the
    # client's SYN after that: NEW, accepted.
    k = Conn(fam, 40004 + o)
    pk = k.open(t) + [
        (t + 10, k.cfin()),
        (t + 11, k.sfin()),
        (t + 12, k.ack()),
        (t + 13, k.sack()),
    ]
    k2 = Conn(fam, 40004 + o, cisn=900000, sisn=700000)
    pk += k2.open(t + 5000) + [
        (t + 5010, k2.cdata(10)),
        (t + 5011, k2.sack()),
        (t + 5020, k2.cfin()),
        (t + 5021, k2.sfin()),
        (t + 5022, k2.ack()),
    ]
    k3 = Conn(fam, 40004 + o, cisn=1900000)
    pk += [
        (t + 6000, k3.sc(flags="S", seq=3000000, window=65160)),
        (t + 6001, k3.syn()),
    ]
    return pk


def tcp_window(fam, t, o):
    # 1-3 handshake; 4-5 100 bytes from the client and their ACK;
    # 6 data ten million bytes past anything the server allowed: INVALID
    #   seq-out-of-window (kernel: "SEQ is over upper bound");
    # 7 an ACK of a million bytes the server never sent: INVALID
    #   ack-out-of-window (kernel: "ACK is over upper bound");
    # 8 the connection lives on: ESTABLISHED;
    # 9 the first 100 bytes retransmitted (already acked): passes.
    k = Conn(fam, 40005 + o)
    pk = k.open(t) + [(t + 10, k.cdata(100)), (t + 11, k.sack())]
    old = k.cnxt - 100
    pk += [
        (t + 20, k.cs(flags="PA", seq=k.cnxt + 10000000, ack=k.snxt) /
         Raw(b"x" * 100)),
        (t + 21, k.cs(flags="A", seq=k.cnxt, ack=k.snxt + 1000000)),
        (t + 22, k.cdata(10)),
        (t + 23, k.cs(flags="PA", seq=old, ack=k.snxt) / Raw(b"c" * 100)),
    ]
    return pk


def tcp_window_old(fam, t, o):
    # Retransmissions: 1-3 handshake; 4-5 a 1000-byte segment and its
    # ACK; 6 it again (already acked): passes; 7-12 three more times
    # 40000 bytes each way is acked, so the first segment now lies more
    # than a receive window (the server advertised 509 << 7 = 65152)
    # behind; 13 it again: too old to learn from, but a retransmission
    # is never INVALID: passes (kernel: "SEQ is under the lower bound
    # (already ACKed data retransmitted)", NFCT_TCP_IGNORE); 14 new data.
    k = Conn(fam, 40006 + o)
    pk = k.open(t)
    first = k.cnxt
    pk += [(t + 10, k.cdata(1000)), (t + 11, k.sack()),
           (t + 12, k.cs(flags="PA", seq=first, ack=k.snxt) /
            Raw(b"c" * 1000))]
    for i in range(3):
        pk += [(t + 20 + 2 * i, k.cdata(40000)),
               (t + 21 + 2 * i, k.sack())]
    pk += [(t + 30, k.cs(flags="PA", seq=first, ack=k.snxt) /
            Raw(b"c" * 1000)),
           (t + 31, k.cdata(10))]
    return pk


def tcp_rst(fam, t, o):
    # Three connections, tcp_loose = no so that a closed connection's
    # later packets are INVALID tcp-no-syn and show it is gone.
    # A: 1-6 handshake, data both ways, the client acks the server's;
    #    7 a RST from the server far beyond the window: INVALID
    #    rst-out-of-window; 8 a RST behind what the client acknowledged
    #    (RFC 5961 3.2: outside the receive window, the endpoint drops
    #    it; the kernel: "invalid rst"): INVALID rst-out-of-window; 9 a
    #    RST in the window but not the next byte expected: passes (the
    #    endpoint answers with a challenge ACK), the state is kept;
    #    10 12 s later (past timeout_tcp_close = 10) data is still
    #    ESTABLISHED.
    # B: 11-14 handshake and data; 15 the exact RST (seq = the server's
    #    next byte) closes: CLOSE with timeout_tcp_close; 16 11 s later
    #    the client's data finds no connection: INVALID tcp-no-syn.
    # C: 17 SYN; 18 the server refuses it with RST/ACK (seq 0, ack
    #    ISN+1): ESTABLISHED and the entry is gone at once (the kernel's
    #    nf_ct_kill when the only reply is a RST); 19 a retransmitted
    #    SYN 100 ms later is NEW again, decided by the rule.
    a = Conn(fam, 40007 + o)
    b = Conn(fam, 40008 + o)
    c = Conn(fam, 40009 + o)
    pk = a.open(t) + [(t + 10, a.cdata(100)), (t + 11, a.sdata(100)),
                      (t + 12, a.ack())]
    pk += [
        (t + 20, a.sc(flags="R", seq=a.snxt + 50000000)),
        (t + 21, a.sc(flags="R", seq=a.snxt - 50)),
        (t + 22, a.sc(flags="R", seq=a.snxt + 10)),
        (t + 12022, a.cdata(10)),
    ]
    t2 = t + 20000
    pk += b.open(t2) + [(t2 + 10, b.cdata(100))]
    pk += [
        (t2 + 20, b.sc(flags="R", seq=b.snxt)),
        (t2 + 11020, b.cdata(10)),
    ]
    t3 = t + 40000
    pk += [
        (t3, c.syn()),
        (t3 + 1, c.sc(flags="RA", seq=0, ack=c.cnxt, window=0)),
        (t3 + 100, c.syn()),
    ]
    return pk


def tcp_wscale(fam, t, o):
    # A: both SYNs offer window scaling, the client's 10: its window of
    #    100 means 102400 bytes.  4 server data 90000 bytes ahead (inside
    #    the scaled window): passes; 5 data 110000 bytes ahead (past it):
    #    INVALID seq-out-of-window.
    # B: only the client offers scaling, so neither side scales (RFC
    #    7323 2.2): its window of 100 is 100 bytes.  9 the same 90000
    #    bytes ahead: INVALID seq-out-of-window; 10 inside the 100 bytes:
    #    passes.
    wopt = lambda s: [("MSS", 1460), ("NOP", None), ("WScale", s)]
    a = Conn(fam, 40010 + o, cwin=100, copts=wopt(10), sopts=wopt(7))
    b = Conn(fam, 40011 + o, cwin=100, copts=wopt(10),
             sopts=[("MSS", 1460)])
    pk = a.open(t) + [
        (t + 10, a.sc(flags="PA", seq=a.snxt + 90000, ack=a.cnxt) /
         Raw(b"s" * 10)),
        (t + 11, a.sc(flags="PA", seq=a.snxt + 110000, ack=a.cnxt) /
         Raw(b"s" * 10)),
    ]
    pk += b.open(t + 100) + [
        (t + 110, b.sc(flags="PA", seq=b.snxt + 90000, ack=b.cnxt) /
         Raw(b"s" * 10)),
        (t + 111, b.sc(flags="PA", seq=b.snxt + 50, ack=b.cnxt) /
         Raw(b"s" * 10)),
    ]
    return pk


def tcp_sack(fam, t, o):
    # A: both sides permit SACK.  4-5 the server sends 2000 bytes in two
    #    segments; 6 the client acks the first 0 bytes and SACKs the
    #    second segment: passes; 7 a SACK block ending 2000 bytes past
    #    anything sent: INVALID ack-out-of-window (the kernel's tcp_sack()
    #    moves the ack check to the highest right edge).
    # B: the server's SYN/ACK does not permit SACK: SACK blocks from the
    #    client mean nothing and are not checked (the kernel looks at
    #    them only if the receiver permitted SACK); 13 the same bogus
    #    block passes.
    a = Conn(fam, 40012 + o)
    b = Conn(fam, 40013 + o, sopts=[("MSS", 1460), ("NOP", None),
                                    ("WScale", 7)])
    pk = a.open(t)
    s0 = a.snxt
    pk += [(t + 10, a.sdata(1000)), (t + 11, a.sdata(1000))]
    pk += [
        (t + 12, a.cs(flags="A", seq=a.cnxt, ack=s0 + 1000,
                      options=[("NOP", None), ("NOP", None),
                               ("SAck", (s0 + 1000, s0 + 2000))])),
        (t + 13, a.cs(flags="A", seq=a.cnxt, ack=s0 + 1000,
                      options=[("NOP", None), ("NOP", None),
                               ("SAck", (s0 + 3000, s0 + 4000))])),
    ]
    pk += b.open(t + 100)
    s0 = b.snxt
    pk += [(t + 110, b.sdata(1000)), (t + 111, b.sdata(1000))]
    pk += [
        (t + 113, b.cs(flags="A", seq=b.cnxt, ack=s0 + 1000,
                       options=[("NOP", None), ("NOP", None),
                                ("SAck", (s0 + 3000, s0 + 4000))])),
    ]
    return pk


def tcp_liberal(fam, t, o):
    # tcp_liberal = yes (and tcp_loose = no): 4 data far beyond the
    # window, 5 an ACK of data never sent, 6 a RST far out of the
    # window: all pass, none INVALID; 7 12 s later (past timeout_tcp_close)
    # the connection is still there: the out-of-window RST did not close
    # it (nfqspid(8) says where the kernel differs); 8 an invalid
    # flag combination is still INVALID: liberal is about windows only.
    k = Conn(fam, 40014 + o)
    pk = k.open(t) + [
        (t + 10, k.cs(flags="PA", seq=k.cnxt + 10000000, ack=k.snxt) /
         Raw(b"x" * 100)),
        (t + 11, k.cs(flags="A", seq=k.cnxt, ack=k.snxt + 1000000)),
        (t + 12, k.sc(flags="R", seq=k.snxt + 50000000)),
        (t + 12012, k.cdata(10)),
        (t + 12013, k.cs(flags="FPU", seq=k.cnxt, ack=k.snxt)),
    ]
    return pk


def tcp_pickup(fam, t, o):
    # The same packets with tcp_loose = yes (ct_tcp_loose) and = no
    # (ct_tcp_strict):
    # 1 an ACK with data, client -> server port 80, of a connection never
    #   seen: loose: NEW, picked up, the rule decides; strict: INVALID
    #   tcp-no-syn;
    # 2 the server's answer: loose: ESTABLISHED; strict: tcp-no-syn;
    # 3 client data 10 MB ahead: a picked-up connection is tracked
    #   liberally (its window scale is unknowable, as in the kernel):
    #   loose: passes;
    # 4 mid-stream data from the server's side of another connection:
    #   loose: NEW, but no rule allows source port 80 -> the policy
    #   drops it; strict: tcp-no-syn;
    # 5 a FIN, 6 a RST, 7 a SYN/ACK without a connection: never picked
    #   up (the kernel: tcp_new() refuses all but SYN and ACK): INVALID
    #   tcp-no-syn either way;
    # 8 a plain SYN: NEW either way.
    k = Conn(fam, 40015 + o, cisn=77000, sisn=99000)
    k.cnxt, k.snxt = 78001, 100001
    j = Conn(fam, 40016 + o)
    pk = [
        (t, k.cdata(100)),
        (t + 1, k.sdata(100)),
        (t + 2, k.cs(flags="PA", seq=k.cnxt + 10000000, ack=k.snxt) /
         Raw(b"x" * 10)),
        (t + 3, j.sc(flags="PA", seq=31337, ack=4242) / Raw(b"s" * 10)),
        (t + 4, j.cs(flags="FA", seq=4242, ack=31337)),
        (t + 5, j.cs(flags="R", seq=4242)),
        (t + 6, j.sc(flags="SA", seq=31337, ack=4242)),
        (t + 7, j.syn()),
    ]
    return pk


def tcp_flags(fam, t, o):
    # Flag combinations no TCP sends (the kernel's tcp_valid_flags[]):
    # 1 XMAS (FIN PSH URG), 2 NULL, 3 SYN+FIN, 4 SYN+RST, 5 FIN without
    # ACK, 6 RST+FIN, 7 SYN+FIN+PSH+URG: INVALID bad-tcp-flags without a
    # connection; 8-10 a connection; 11 XMAS, 12 NULL, 13 SYN+FIN,
    # 14 FIN without ACK on it: INVALID too; 15 it still works.
    x = lambda flags, sport: ipf(fam)(fam["x"], fam["s"]) / TCP(
        sport=sport, dport=80, flags=flags, seq=123456, window=1024)
    pk = [
        (t, x("FPU", 4444)),
        (t + 1, x("", 4445)),
        (t + 2, x("SF", 4446)),
        (t + 3, x("SR", 4447)),
        (t + 4, x("F", 4448)),
        (t + 5, x("RF", 4449)),
        (t + 6, x("SFPU", 4450)),
    ]
    k = Conn(fam, 40017 + o)
    pk += k.open(t + 10)
    pk += [
        (t + 20, k.cs(flags="FPU", seq=k.cnxt, ack=k.snxt)),
        (t + 21, k.cs(flags="", seq=k.cnxt)),
        (t + 22, k.cs(flags="SF", seq=k.cnxt)),
        (t + 23, k.cs(flags="F", seq=k.cnxt)),
        (t + 24, k.cdata(10)),
    ]
    return pk


def gen_tcp():
    write_case("ct_tcp_close", both(tcp_close))
    write_case("ct_tcp_simopen", both(tcp_simopen))
    write_case("ct_tcp_synretx", both(tcp_synretx))
    write_case("ct_tcp_reopen", both(tcp_reopen))
    write_case("ct_tcp_window", both(tcp_window))
    write_case("ct_tcp_retrans", both(tcp_window_old))
    write_case("ct_tcp_rst", both(tcp_rst))
    write_case("ct_tcp_wscale", both(tcp_wscale))
    write_case("ct_tcp_sack", both(tcp_sack))
    write_case("ct_tcp_liberal", both(tcp_liberal))
    write_case("ct_tcp_loose", both(tcp_pickup))
    write_case("ct_tcp_strict", both(tcp_pickup))
    write_case("ct_tcp_flags", both(tcp_flags))


# ---- UDP ------------------------------------------------------------------

def udp(fam, t, o):
    # timeout_udp = 5, timeout_udp_stream = 20 (ct_udp.ini).
    # 1 a query: NEW, rule dns; 2 retransmitted before any answer: NEW
    # (UNREPLIED), same entry; 3 the answer: ESTABLISHED; 4 the next
    # query, exactly 2 s after the first: ESTABLISHED, but no stream
    # (the kernel's: only a packet after those 2 s, the reply seen,
    # makes one); 5 an "answer" from another server port: a flow of its
    # own, NEW, and no rule lets it in; 6 idle 15 s: answered but never
    # a stream, so past timeout_udp it expired: NEW, dropped; 7 a query
    # on a new flow, unanswered; 8 its "answer" 6 s later: the flow
    # expired (timeout_udp), NEW, dropped by policy; 9 the first flow
    # idle 30 s: its answer is NEW, dropped.
    ip = ipf(fam)
    c, s = fam["c"], fam["s"]
    q = lambda sp: ip(c, s) / UDP(sport=sp, dport=53) / Raw(b"q")
    a = lambda sp, dp: ip(s, c) / UDP(sport=sp, dport=dp) / Raw(b"a")
    return [
        (t, q(5000 + o)),
        (t + 1000, q(5000 + o)),
        (t + 1010, a(53, 5000 + o)),
        (t + 2000, q(5000 + o)),
        (t + 2010, a(5353, 5000 + o)),
        (t + 17000, a(53, 5000 + o)),
        (t + 18000, q(5001 + o)),
        (t + 24000, a(53, 5001 + o)),
        (t + 47000, a(53, 5000 + o)),
    ]


def udp_stream(fam, t, o):
    # Appended to ct_udp after both families of udp() (so the numbers
    # above stay put): 1 a query: NEW, rule dns; 2 its answer:
    # ESTABLISHED; 3 the query again 2.5 s after the first, the answer
    # seen: a stream (timeout_udp_stream, ASSURED); 4 an answer idle 15
    # s (past timeout_udp, within timeout_udp_stream): ESTABLISHED; 5 a
    # query on a new flow; 6 its first answer 3 s late: ESTABLISHED, no
    # stream (the reply is noted after the tracker ran); 7 idle 6 s
    # (past timeout_udp): NEW, dropped.
    ip = ipf(fam)
    c, s = fam["c"], fam["s"]
    q = lambda sp: ip(c, s) / UDP(sport=sp, dport=53) / Raw(b"q")
    a = lambda sp: ip(s, c) / UDP(sport=53, dport=sp) / Raw(b"a")
    return [
        (t, q(5002 + o)),
        (t + 100, a(5002 + o)),
        (t + 2500, q(5002 + o)),
        (t + 17500, a(5002 + o)),
        (t + 18000, q(5003 + o)),
        (t + 21000, a(5003 + o)),
        (t + 27000, a(5003 + o)),
    ]


def gen_udp():
    write_case("ct_udp", both(udp) + udp_stream(V4, 2000000, 0) +
               udp_stream(V6, 3000000, 100))


# ---- ICMP -----------------------------------------------------------------

def echo(fam, t, o):
    # 1 echo request: NEW, rule ping; 2 its reply: ESTABLISHED; 3 a reply
    # with another id: INVALID icmp-no-request; 4 a reply with the right
    # id from another address: INVALID icmp-no-request; 5 the next
    # request (same id): ESTABLISHED; 6 a reply nobody asked for, from
    # the server to the client: INVALID icmp-no-request; 7 40 s later
    # (past timeout_icmp(v6) = 30) the reply to 5 arrives: the entry is
    # gone, INVALID icmp-no-request.
    ip = ipf(fam)
    c, s, x = fam["c"], fam["s"], fam["x"]
    if fam is V4:
        req = lambda i, sq: ip(c, s) / ICMP(type=8, id=i, seq=sq) / \
            Raw(b"ping")
        rep = lambda src, i, sq: ip(src, c) / ICMP(type=0, id=i, seq=sq) / \
            Raw(b"ping")
    else:
        req = lambda i, sq: ip(c, s) / ICMPv6EchoRequest(id=i, seq=sq,
                                                          data=b"ping")
        rep = lambda src, i, sq: ip(src, c) / ICMPv6EchoReply(
            id=i, seq=sq, data=b"ping")
    return [
        (t, req(0x100, 1)),
        (t + 1, rep(s, 0x100, 1)),
        (t + 2, rep(s, 0x101, 1)),
        (t + 3, rep(x, 0x100, 1)),
        (t + 1000, req(0x100, 2)),
        (t + 1001, rep(s, 0x999, 7)),
        (t + 41000, rep(s, 0x100, 2)),
    ]


def gen_icmp_echo():
    write_case("ct_icmp_echo", both(echo))


def icmp_errors4():
    # 1-2 a UDP query and its answer, 3-6 a TCP connection with data,
    # tracked; then errors about them, each RELATED and carrying the
    # connection's mark, whoever sends it:
    # 7  port unreachable from the server about the UDP query;
    # 8  time exceeded from a router (not an endpoint) about the TCP SYN;
    # 9  parameter problem from the router about the TCP data;
    # 10 host unreachable from the router about the UDP query;
    # 11 port unreachable from the client about the server's UDP answer
    #    (the error travels in the original direction);
    # then INVALID:
    # 12 port unreachable about a UDP flow nobody opened:
    #    icmp-untracked-error;
    # 13 time exceeded about a TCP tuple nobody opened:
    #    icmp-untracked-error;
    # 14 an error sent to the server quoting the client's packet (it must
    #    go back to the quoted packet's sender; the kernel: "outer daddr
    #    mismatch"): bad-icmp-inner.
    c, s, r = V4["c"], V4["s"], V4["r"]
    q = ip4(c, s) / UDP(sport=5100, dport=53) / Raw(b"query")
    a = ip4(s, c) / UDP(sport=53, dport=5100) / Raw(b"answer")
    k = Conn(V4, 40020)
    syn = k.syn()
    pk = [(0, q), (1, a)] + [(10, syn), (11, k.synack()), (12, k.ack())]
    data = k.cdata(50)
    pk += [(13, data)]
    q8 = lambda p: raw(p)[:28]
    pk += [
        (20, ip4(s, c) / ICMP(type=3, code=3) / q8(q)),
        (21, ip4(r, c) / ICMP(type=11, code=0) / q8(syn)),
        (22, ip4(r, c) / ICMP(type=12, code=0, ptr=20) / raw(data)),
        (23, ip4(r, c) / ICMP(type=3, code=1) / raw(q)),
        (24, ip4(c, s) / ICMP(type=3, code=3) / q8(a)),
        (30, ip4(s, c) / ICMP(type=3, code=3) /
         q8(ip4(c, s) / UDP(sport=5999, dport=53))),
        (31, ip4(r, c) / ICMP(type=11, code=0) /
         q8(ip4(c, s) / TCP(sport=40999, dport=80, flags="S", seq=1))),
        (32, ip4(r, s) / ICMP(type=11, code=0) / q8(syn)),
    ]
    return pk


def icmp_errors6():
    # The same over ICMPv6 (lines 15-28 of the expected output: port
    # unreachable 1/4, time exceeded 3/0, parameter problem 4/0, address
    # unreachable 1/3 from the router, port unreachable from the client),
    # then 29 packet too big (2) from a router about the TCP data, its
    # quote cut at 1232 bytes as RFC 4443 2.4(c) wants: RELATED (path MTU
    # discovery must work), and 30 packet too big quoting nothing
    # tracked: INVALID icmp-untracked-error.
    t = 1000000
    c, s, r = V6["c"], V6["s"], V6["r"]
    q = ip6(c, s) / UDP(sport=5200, dport=53) / Raw(b"query")
    a = ip6(s, c) / UDP(sport=53, dport=5200) / Raw(b"answer")
    k = Conn(V6, 40120)
    syn = k.syn()
    pk = [(t, q), (t + 1, a)] + [(t + 10, syn), (t + 11, k.synack()),
                                 (t + 12, k.ack())]
    data = k.cdata(1300)
    pk += [(t + 13, data)]
    pk += [
        (t + 20, ip6(s, c) / ICMPv6DestUnreach(code=4) / raw(q)),
        (t + 21, ip6(r, c) / ICMPv6TimeExceeded(code=0) / raw(syn)),
        (t + 22, ip6(r, c) / ICMPv6ParamProblem(code=0, ptr=40) / raw(data)),
        (t + 23, ip6(r, c) / ICMPv6DestUnreach(code=3) / raw(q)),
        (t + 24, ip6(c, s) / ICMPv6DestUnreach(code=4) / raw(a)),
        (t + 30, ip6(s, c) / ICMPv6DestUnreach(code=4) /
         raw(ip6(c, s) / UDP(sport=5999, dport=53))),
        (t + 31, ip6(r, c) / ICMPv6TimeExceeded(code=0) /
         raw(ip6(c, s) / TCP(sport=40999, dport=80, flags="S", seq=1))),
        (t + 32, ip6(r, s) / ICMPv6TimeExceeded(code=0) / raw(syn)),
        (t + 40, ip6(r, c) / ICMPv6PacketTooBig(mtu=1280) /
         raw(data)[:1232]),
        (t + 41, ip6(r, c) / ICMPv6PacketTooBig(mtu=1280) /
         raw(ip6(c, s) / TCP(sport=40998, dport=80, flags="A", seq=1,
                             ack=1) / Raw(b"z" * 1300))[:1232]),
    ]
    return pk


def gen_icmp_related():
    write_case("ct_icmp_related", icmp_errors4() + icmp_errors6())


# ---- IPv6 extension headers -------------------------------------------------

def gen_ipv6_ext():
    # 1 a SYN behind hop-by-hop + destination options + routing (segment
    # routing, nothing left) + destination options: NEW, the rule sees
    # port 80; 2 the SYN/ACK without extension headers: ESTABLISHED (one
    # connection, whatever headers each packet carries); 3 the ACK
    # behind destination options: ESTABLISHED; 4 data behind hop-by-hop:
    # ESTABLISHED.  INVALID:
    # 5 twenty destination options headers (a walk without a bound would
    #   go on and on): ipv6-exthdr-chain (8 at most);
    # 6 a payload length of 0 with a hop-by-hop header announced: the
    #   header lies past the packet's claim: bad-ip-length;
    # 7 destination options whose length field claims 2 KB more than the
    #   packet holds: bad-ip-length.
    c, s = V6["c"], V6["s"]
    k = Conn(V6, 40030)
    hbh = lambda: IPv6ExtHdrHopByHop(options=[RouterAlert()])
    dst = lambda: IPv6ExtHdrDestOpt(options=[PadN(optdata=b"\0" * 4)])
    srh = IPv6ExtHdrSegmentRouting(addresses=[s], segleft=0, lastentry=0)
    syn = raw(k.syn())[40:]
    synp = ip6(c, s) / hbh() / dst() / srh / dst() / raw(syn)
    # scapy cannot chain a raw TCP header after an extension header by
    # itself: set the last next-header to TCP
    synp[IPv6ExtHdrDestOpt:2].nh = 6
    ack = raw(k.ack())[40:]
    ackp = ip6(c, s) / dst() / raw(ack)
    ackp[IPv6ExtHdrDestOpt].nh = 6
    synack = k.synack()
    d = raw(k.cdata(10))[40:]
    datap = ip6(c, s) / hbh() / raw(d)
    datap[IPv6ExtHdrHopByHop].nh = 6
    longc = ip6(c, s)
    for _ in range(20):
        longc = longc / IPv6ExtHdrDestOpt()
    longc = longc / UDP(sport=5300, dport=53) / Raw(b"q")
    zero = bytearray(raw(ip6(c, s, nh=0, plen=0)))
    zero[4:6] = b"\0\0"
    over = bytearray(raw(ip6(c, s) / IPv6ExtHdrDestOpt() /
                         UDP(sport=5301, dport=53) / Raw(b"q")))
    over[41] = 255                      # (255 + 1) * 8 bytes claimed
    write_case("ct_ipv6_ext", [
        (0, synp),
        (1, synack),
        (2, ackp),
        (10, datap),
        (20, longc),
        (21, bytes(zero)),
        (22, bytes(over)),
    ])


# ---- the table ----------------------------------------------------------------

def table_full(fam, t, o):
    # [conntrack] max = 3, tcp_loose = no.
    # 1-3 connection A (assured after the handshake); 4-6 connection B;
    # 7 a UDP query (unreplied): the table is full now;
    # 8 another UDP query: the unreplied entry 7 is evicted (early drop),
    #   the query is NEW, accepted;
    # 9 the answer to 7: its flow is gone: NEW, the policy drops it;
    # 10 the answer to 8: ESTABLISHED, but not ASSURED: no packet came
    #    2 s after its first (the kernel's stream rule);
    # 11 a new SYN (F): the answered UDP flow is evicted, as the
    #    kernel's early drop takes what is not ASSURED: NEW;
    # 12 A still works: ESTABLISHED;
    # 13-16 B closes (FIN, ACK, FIN, ACK: TIME_WAIT);
    # 17 F's SYN again: a retransmission, NEW, judged again;
    # 18 B's late ACK: B is still there (TIME_WAIT): ESTABLISHED;
    # 19 A still works;
    # 20-21 F's SYN/ACK and ACK: F ESTABLISHED and ASSURED;
    # 22 a UDP query: A and F assured, B assured but closed: B goes,
    #    the query is NEW;
    # 23 its answer: ESTABLISHED;
    # 24 the query again, 2.1 s after the first: the flow is a stream,
    #    ASSURED;
    # 25 a new SYN: every entry is ASSURED and none closing, none may
    #    go: INVALID table-full;
    # 26 B's late ACK: gone, INVALID tcp-no-syn (tcp_loose = no);
    # 27 A still works.
    ip = ipf(fam)
    c, s = fam["c"], fam["s"]
    a = Conn(fam, 40040 + o)
    b = Conn(fam, 40041 + o)
    f = Conn(fam, 40042 + o)
    g = Conn(fam, 40043 + o)
    q = lambda sp: ip(c, s) / UDP(sport=sp, dport=53) / Raw(b"q")
    r = lambda sp: ip(s, c) / UDP(sport=53, dport=sp) / Raw(b"a")
    pk = a.open(t) + b.open(t + 10) + [
        (t + 20, q(5400 + o)),
        (t + 30, q(5401 + o)),
        (t + 31, r(5400 + o)),
        (t + 32, r(5401 + o)),
        (t + 40, f.syn()),
        (t + 41, a.cdata(10)),
        (t + 50, b.cfin()),
        (t + 51, b.sack()),
        (t + 52, b.sfin()),
        (t + 53, b.ack()),
        (t + 60, f.syn()),
        (t + 61, b.ack()),
        (t + 62, a.cdata(10)),
        (t + 100, f.synack()),
        (t + 101, f.ack()),
        (t + 110, q(5402 + o)),
        (t + 111, r(5402 + o)),
        (t + 2210, q(5402 + o)),
        (t + 2220, g.syn()),
        (t + 2230, b.ack()),
        (t + 2240, a.cdata(10)),
    ]
    return pk


def gen_table_full():
    write_case("ct_table_full4", table_full(V4, 0, 0))
    write_case("ct_table_full6", table_full(V6, 0, 100))


def main():
    os.makedirs(CASES, exist_ok=True)
    for name, fn in sorted(globals().items()):
        if name.startswith("gen_") and callable(fn):
            fn()
    return 0


if __name__ == "__main__":
    sys.exit(main())
