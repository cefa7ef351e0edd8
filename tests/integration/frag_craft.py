#!/usr/bin/python3
# frag_craft.py - the crafted packets of test_frag.sh and
# tests/kernel_compare.sh (scapy):
#     frag_craft.py CASE SRC DST IDENT
# sends one case from SRC (an address the sender does not own) to DST.
# Fragments carry identification IDENT, so that the far side can count
# them; a whole packet (bad-*, good-*, zero-udp) is IDENT bytes long.
#
# Copyright (C) 2026 The nfqspid authors
# SPDX-License-Identifier: GPL-2.0-or-later
import random, sys
from scapy.all import (ICMP, ICMPv6EchoRequest, IP, IPv6, IPv6ExtHdrFragment,
                       Raw, TCP, UDP, conf, raw, send, sr1)
conf.verb = 0
case, src, dst, ident = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
v6 = ":" in dst

def ip(**kw):
    return IPv6(src=src, dst=dst, **kw) if v6 else IP(src=src, dst=dst, **kw)

def l4(pkt):
    b = raw(ip() / pkt)
    return b[40:] if v6 else b[20:]

def frag(seg, proto, off, end, more):
    data = Raw(seg[off:end])
    if v6:
        return IPv6(src=src, dst=dst, nh=44) / IPv6ExtHdrFragment(
            nh=proto, offset=off // 8, m=int(more), id=ident) / data
    return IP(src=src, dst=dst, id=ident, proto=proto,
              flags="MF" if more else 0, frag=off // 8) / data

def pieces(seg, proto, cuts, order):
    return [frag(seg, proto, cuts[k], cuts[k + 1], k + 2 < len(cuts))
            for k in order]

udp = lambda n: l4(UDP(sport=40000 + ident % 1000, dport=5001) /
                   Raw(b"u" * n))
if case in ("udp", "udp-reverse", "overlap", "incomplete"):
    seg = udp(1400)
    cuts = [0, 512, 1024, len(seg)]
    order = {"udp": [0, 1, 2], "udp-reverse": [2, 1, 0],
             "incomplete": [0, 2]}.get(case)
    if case == "overlap":
        pk = [frag(seg, 17, 0, 512, 1), frag(seg, 17, 504, 1024, 1),
              frag(seg, 17, 1024, len(seg), 0)]
    else:
        pk = pieces(seg, 17, cuts, order)
    send(pk)
elif case in ("tiny", "offset8"):
    seg = l4(TCP(sport=41000 + ident % 1000, dport=5100, flags="S", seq=1) /
             Raw(b"t" * 64))
    if case == "tiny":
        send(pieces(seg, 6, [0, 16, len(seg)], [0, 1]))
    else:
        send([frag(seg, 6, 0, 24, 1), frag(seg, 6, 8, 48, 1)])
elif case in ("tcp", "tcp-shuffled"):
    sport = 42000 + ident % 1000
    t = lambda **kw: TCP(sport=sport, dport=5100, window=64000, **kw)
    sa = sr1(ip() / t(flags="S", seq=1000), timeout=3)
    if sa is None or TCP not in sa:
        sys.exit("no SYN/ACK")
    ack = sa[TCP].seq + 1
    send(ip() / t(flags="A", seq=1001, ack=ack))
    seg = l4(t(flags="PA", seq=1001, ack=ack) / Raw(b"d" * 1500))
    cuts = [0, 512, 1024, len(seg)]
    order = [0, 1, 2] if case == "tcp" else [2, 0, 1]
    send(pieces(seg, 6, cuts, order))
    send(ip() / t(flags="FA", seq=2501, ack=ack))
elif case.startswith("bad-") or case.startswith("good-") or \
        case == "zero-udp":
    # a whole packet, its length ident (so that the server counts it)
    kind = case.split("-", 1)[1]
    if kind == "udp":
        p = UDP(sport=43000, dport=5001)
    elif kind == "tcp":
        p = TCP(sport=43001, dport=5100, flags="S", seq=7)
    else:
        p = ICMPv6EchoRequest(id=9, seq=1) if v6 else ICMP(id=9, seq=1)
    hl = (40 if v6 else 20) + (20 if kind == "tcp" else 8)
    b = bytearray(raw(ip() / p / Raw(b"c" * (ident - hl))))
    if case.startswith("bad-"):
        b[-1] ^= 0x5a
    elif case == "zero-udp":
        # no checksum: none sent (IPv4), bad (IPv6, RFC 8200 8.1)
        b[hl - 2:hl] = b"\0\0"
    send(IPv6(bytes(b)) if v6 else IP(bytes(b)))
else:
    sys.exit("unknown case " + case)
