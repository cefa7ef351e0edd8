#!/usr/bin/python3
# gen_frag.py - the fragment and checksum captures of the --replay tests
#
# Copyright (C) 2026 The nfqspid authors
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Run with the system python (scapy from python3-scapy):
#     /usr/bin/python3 tests/replay/gen_frag.py
# writes tests/replay/cases/frag4.pcap, frag6.pcap and csum.pcap (issue
# 12), with gen_ct.py's fixed addresses, connections and timestamps.
# Fragments are cut here by hand from the whole packet's bytes, so that
# offsets, order and overlaps are exactly those written below.
#
# A held fragment has no line until its datagram is decided; then the
# held ones come first, by offset, and the packet that decided it last.
# The expected lines (cases/frag*.expected, csum.expected) are written
# from issue 12; the comments say which packet is which.

import os
import sys

from scapy.all import (ICMP, ICMPv6EchoRequest, IP, IPv6,
                       IPv6ExtHdrFragment, Raw, TCP, UDP, raw)

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from gen_ct import V4, V6, Conn, ipf, write_case  # noqa: E402


def l4_of(pkt):
    """The transport segment of a whole scapy packet, checksums filled."""
    b = raw(pkt)
    return b[20:] if b[0] >> 4 == 4 else b[40:]


def frag(fam, l4, proto, ident, off, end, more, src=None, dst=None):
    """The fragment [off, end) of the transport segment l4."""
    src = src or fam["c"]
    dst = dst or fam["s"]
    data = Raw(l4[off:end])
    if fam is V4:
        return IP(src=src, dst=dst, id=ident, ttl=64, proto=proto,
                  flags="MF" if more else 0, frag=off // 8) / data
    return IPv6(src=src, dst=dst, hlim=64) / IPv6ExtHdrFragment(
        nh=proto, offset=off // 8, m=1 if more else 0, id=ident) / data


def udp(fam, n, sport=5353, dport=53, fill=b"d", src=None, dst=None):
    ip = ipf(fam)(src or fam["c"], dst or fam["s"])
    return ip / UDP(sport=sport, dport=dport) / Raw(fill * n)


def frags(fam, t):
    ip6 = fam is V6
    pk = []
    # 1-3: a DNS answer-sized UDP request in 3 fragments, in order: 1 and
    # 2 held, 3 makes it whole: "1", "2", "3" accept NEW rule=dns.
    q = l4_of(udp(fam, 1200))
    pk += [(t, frag(fam, q, 17, 101, 0, 512, 1)),
           (t + 1, frag(fam, q, 17, 101, 512, 1024, 1)),
           (t + 2, frag(fam, q, 17, 101, 1024, len(q), 0))]
    # 4-5: the reply in 2 fragments, the last first: ESTABLISHED, marked
    # as its connection.
    r = l4_of(udp(fam, 900, sport=53, dport=5353, fill=b"r",
                  src=fam["s"], dst=fam["c"]))
    pk += [(t + 10, frag(fam, r, 17, 102, 512, len(r), 0, fam["s"],
                         fam["c"])),
           (t + 11, frag(fam, r, 17, 102, 0, 512, 1, fam["s"], fam["c"]))]
    # 6-8: a TCP connection to port 80 (rule web), 9-12 a data segment
    # of 1,600 bytes in 4 fragments, shuffled: 3rd, 1st, 4th, 2nd.
    c = Conn(fam, 40000 + (100 if ip6 else 0))
    pk += c.open(t + 20)
    seg = l4_of(c.cdata(1600))
    cut = [0, 400, 800, 1200, len(seg)]
    for i, k in enumerate([2, 0, 3, 1]):
        pk.append((t + 30 + i, frag(fam, seg, 6, 103, cut[k], cut[k + 1],
                                    k < 3)))
    # 13-14: an exact duplicate of a held fragment is dropped
    # (frag-duplicate), the datagram goes on; 15 makes it whole.
    d = l4_of(udp(fam, 600, sport=5354))
    pk += [(t + 40, frag(fam, d, 17, 104, 0, 304, 1)),
           (t + 41, frag(fam, d, 17, 104, 0, 304, 1)),
           (t + 42, frag(fam, d, 17, 104, 304, len(d), 0))]
    # 16-18: an overlap: 17 covers [296, 400) over 16's [0, 304): both
    # dropped (frag-overlap), and 18, the rest, at once as well.
    o = l4_of(udp(fam, 600, sport=5355))
    pk += [(t + 50, frag(fam, o, 17, 105, 0, 304, 1)),
           (t + 51, frag(fam, o, 17, 105, 296, 400, 1)),
           (t + 52, frag(fam, o, 17, 105, 400, len(o), 0))]
    # 19-20: a tiny first fragment (16 of TCP's 20 header bytes) after
    # the rest: both dropped as "fragment" (RFC 1858).
    w = l4_of(Conn(fam, 41000).cdata(100))
    pk += [(t + 60, frag(fam, w, 6, 106, 16, len(w), 0)),
           (t + 61, frag(fam, w, 6, 106, 0, 16, 1))]
    # 21: a TCP fragment at offset 8, over the flags: "fragment".
    pk.append((t + 62, frag(fam, w, 6, 107, 8, 48, 1)))
    # 22-23: an incomplete datagram: 22 and 23 held; 24, 31 s later,
    # is a new request: 22 and 23 time out first (frag-timeout), then 24
    # is accepted NEW.
    i = l4_of(udp(fam, 1200, sport=5356))
    pk += [(t + 70, frag(fam, i, 17, 108, 0, 512, 1)),
           (t + 71, frag(fam, i, 17, 108, 1024, len(i), 0)),
           (t + 31100, udp(fam, 20, sport=5357))]
    # 25-26: the checksum of a whole datagram is checked: one byte of the
    # payload changed in the second fragment: bad-checksum for both.
    b = bytearray(l4_of(udp(fam, 700, sport=5358)))
    b[600] ^= 0xff
    b = bytes(b)
    pk += [(t + 31200, frag(fam, b, 17, 109, 0, 512, 1)),
           (t + 31201, frag(fam, b, 17, 109, 512, len(b), 0))]
    # 27: held at the end of the capture: it times out there.
    pk.append((t + 31300, frag(fam, i, 17, 110, 0, 512, 1)))
    if ip6:
        # 28: an atomic fragment (offset 0, M = 0, RFC 6946): a whole
        # packet, accepted NEW.
        a = udp(fam, 20, sport=5359)
        pk.append((t + 31400, IPv6(src=fam["c"], dst=fam["s"], hlim=64) /
                   IPv6ExtHdrFragment(nh=17, offset=0, m=0, id=111) /
                   a[UDP]))
    return pk


def gen_frag():
    write_case("frag4", frags(V4, 0))
    # the same capture, replayed with checksum = no (frag_nocsum.ini)
    write_case("frag_nocsum", frags(V4, 0))
    write_case("frag6", frags(V6, 0))


def csums(fam, t, o):
    ip6 = fam is V6
    ip = ipf(fam)
    pk = []
    # 1: a UDP request with a bad checksum: bad-checksum.  2: the same
    # request right: NEW.
    good = udp(fam, 20, sport=6000 + o)
    bad = bytearray(raw(good))
    bad[-1] ^= 0x55
    pk += [(t, bytes(bad)), (t + 1, good)]
    # 3: UDP with checksum 0: none sent (IPv4, NEW); bad over IPv6.
    z = udp(fam, 20, sport=6001 + o)
    z[UDP].chksum = 0
    pk.append((t + 2, z))
    # 4: a TCP SYN to port 80 with a bad checksum: bad-checksum.
    # 5: the SYN right: NEW.
    c = Conn(fam, 42000 + o)
    syn = bytearray(raw(c.syn()))
    syn[-1] ^= 1
    pk += [(t + 3, bytes(syn)), (t + 4, c.syn())]
    # 6: a ping with a bad checksum: bad-checksum; 7: right: NEW.
    if ip6:
        e = ip(fam["c"], fam["s"]) / ICMPv6EchoRequest(id=7, seq=1)
    else:
        e = ip(fam["c"], fam["s"]) / ICMP(id=7, seq=1)
    eb = bytearray(raw(e))
    eb[-1] ^= 1
    pk += [(t + 5, bytes(eb)), (t + 6, e)]
    if not ip6:
        # 8: an IPv4 header with a bad checksum: bad-ip-checksum.
        h = bytearray(raw(udp(fam, 20, sport=6002 + o)))
        h[10] ^= 0xff
        pk.append((t + 7, bytes(h)))
    return pk


def gen_csum():
    write_case("csum", csums(V4, 0, 0) + csums(V6, 1000, 100))


def main():
    os.makedirs(os.path.join(os.path.dirname(os.path.abspath(__file__)),
                             "cases"), exist_ok=True)
    gen_frag()
    gen_csum()
    return 0


if __name__ == "__main__":
    sys.exit(main())
