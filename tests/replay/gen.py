#!/usr/bin/python3
# gen.py - write the captures of the --replay regression tests
#
# Copyright (C) 2026 The nfqspid authors
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Run with the system python (scapy from python3-scapy):
#     /usr/bin/python3 tests/replay/gen.py
# Every field that scapy would otherwise look up or randomise (addresses,
# MACs, IP ids, sequence numbers) is set here, and the pcap files are
# written by hand with fixed timestamps, so the output is the same bytes
# on every run.  The expected verdicts live in cases/NAME.expected and are
# written by hand, not by this script.

import os
import struct
import sys

from scapy.all import (ARP, Dot1AD, Dot1Q, Ether, ICMP, ICMPv6EchoReply,
                       ICMPv6EchoRequest, ICMPv6PacketTooBig, IP, IPv6,
                       IPv6ExtHdrDestOpt, IPv6ExtHdrFragment,
                       IPv6ExtHdrHopByHop, IPv6ExtHdrRouting, Padding, PadN,
                       Raw, RouterAlert, TCP, UDP, raw)
from scapy.layers.l2 import CookedLinux

LINKTYPE_NULL = 0
LINKTYPE_ETHERNET = 1
LINKTYPE_RAW = 101
LINKTYPE_LINUX_SLL = 113
LINKTYPE_IPV4 = 228
LINKTYPE_LINUX_SLL2 = 276

CASES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "cases")

T0 = 1700000000         # 2023-11-14 22:13:20 UTC, seconds

C4, S4, X4, R4 = "10.0.0.1", "10.0.0.2", "10.0.0.9", "10.0.0.254"
C6, S6, R6 = "2001:db8::1", "2001:db8::2", "2001:db8::fe"
CMAC, SMAC = "02:00:00:00:00:01", "02:00:00:00:00:02"

SYN_OPTS = [("MSS", 1460), ("SAckOK", b""), ("Timestamp", (100, 0)),
            ("NOP", None), ("WScale", 7)]
SYNACK_OPTS = [("MSS", 1460), ("SAckOK", b""), ("Timestamp", (900, 100)),
               ("NOP", None), ("WScale", 7)]


def ip4(src, dst, **kw):
    return IP(src=src, dst=dst, id=kw.pop("id", 1), ttl=64, **kw)


def ip6(src, dst, **kw):
    return IPv6(src=src, dst=dst, hlim=64, **kw)


def write_pcap(name, linktype, records):
    """records: (time in ms from T0, bytes, original length or None)"""
    path = os.path.join(CASES, name + ".pcap")
    with open(path, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xa1b2c3d4, 2, 4, 0, 0, 65535,
                            linktype))
        for ms, data, orig in records:
            data = bytes(data)
            f.write(struct.pack("<IIII", T0 + ms // 1000,
                                (ms % 1000) * 1000, len(data),
                                orig if orig is not None else len(data)))
            f.write(data)
    print("wrote %s (%d packets)" % (path, len(records)))


def raw_case(name, pkts):
    """pkts: (ms, scapy packet or bytes[, original length])"""
    recs = []
    for p in pkts:
        data = p[1] if isinstance(p[1], bytes) else raw(p[1])
        recs.append((p[0], data, p[2] if len(p) > 2 else None))
    write_pcap(name, LINKTYPE_RAW, recs)


def handshake(ipf, c, s, sport):
    """A whole TCP connection to port 22: handshake, data, FIN both ways."""
    cs = lambda **kw: ipf(c, s) / TCP(sport=sport, dport=22, window=502,
                                      **kw)
    sc = lambda **kw: ipf(s, c) / TCP(sport=22, dport=sport, window=509,
                                      **kw)
    return [
        (0, ipf(c, s) / TCP(sport=sport, dport=22, flags="S", seq=1000,
                            window=64240, options=SYN_OPTS)),
        (1, ipf(s, c) / TCP(sport=22, dport=sport, flags="SA", seq=5000,
                            ack=1001, window=65160, options=SYNACK_OPTS)),
        (2, cs(flags="A", seq=1001, ack=5001)),
        (10, cs(flags="PA", seq=1001, ack=5001) / Raw(b"SSH-2.0-client\r\n")),
        (11, sc(flags="PA", seq=5001, ack=1017) / Raw(b"SSH-2.0-server\r\n")),
        (12, cs(flags="A", seq=1017, ack=5017)),
        (20, cs(flags="FA", seq=1017, ack=5017)),
        (21, sc(flags="FA", seq=5017, ack=1018)),
        (22, cs(flags="A", seq=1018, ack=5018)),
    ]


def gen_tcp4_handshake():
    raw_case("tcp4_handshake", handshake(ip4, C4, S4, 41000))


def gen_tcp6_handshake():
    raw_case("tcp6_handshake", handshake(ip6, C6, S6, 41000))


def window(ipf, c, s, sport):
    """Sequence and window checks on one connection (see .expected)."""
    cs = lambda **kw: ipf(c, s) / TCP(sport=sport, dport=22, window=502,
                                      **kw)
    sc = lambda **kw: ipf(s, c) / TCP(sport=22, dport=sport, window=509,
                                      **kw)
    syn = ipf(c, s) / TCP(sport=sport, dport=22, flags="S", seq=1000,
                          window=64240, options=SYN_OPTS)
    d = lambda n: Raw(b"d" * n)
    return [
        (0, syn),
        (1000, syn),                    # SYN retransmitted: still NEW
        (1001, ipf(s, c) / TCP(sport=22, dport=sport, flags="SA", seq=5000,
                               ack=1001, window=65160,
                               options=SYNACK_OPTS)),
        (1002, cs(flags="A", seq=1001, ack=5001)),
        (1010, cs(flags="PA", seq=1001, ack=5001) / d(100)),
        (1011, sc(flags="A", seq=5001, ack=1101)),
        (1020, cs(flags="PA", seq=1001, ack=5001) / d(100)),  # retransmit
        # ten million bytes past anything the server allowed
        (1030, cs(flags="PA", seq=10001001, ack=5001) / d(100)),
        # acknowledges a million bytes the server never sent
        (1031, cs(flags="A", seq=1101, ack=1005001)),
        # a blind RST, far out of the window
        (1032, sc(flags="R", seq=10005001)),
        (1040, cs(flags="PA", seq=1101, ack=5001) / d(50)),
        # in the window but not the next byte: RFC 5961 keeps the state
        (1041, sc(flags="R", seq=5101)),
        (1050, cs(flags="PA", seq=1151, ack=5001) / d(10)),
        # the exact RST ends the connection
        (1060, sc(flags="R", seq=5001)),
        # 20 s later the closed entry (timeout_tcp_close 10 s) is gone;
        # tcp_loose picks the stream up again as NEW
        (21060, cs(flags="PA", seq=1161, ack=5001) / d(10)),
    ]


def gen_tcp4_window():
    raw_case("tcp4_window", window(ip4, C4, S4, 41010))


def gen_tcp6_window():
    raw_case("tcp6_window", window(ip6, C6, S6, 41010))


def gen_tcp_strict():
    raw_case("tcp_strict", [
        # mid-stream, and tcp_loose = no
        (0, ip4(C4, S4) / TCP(sport=41020, dport=22, flags="A", seq=1,
                              ack=1, window=502)),
        (1, ip4(C4, S4) / TCP(sport=41021, dport=22, flags="S", seq=1000,
                              window=64240, options=SYN_OPTS)),
        (2, ip4(S4, C4) / TCP(sport=22, dport=41021, flags="SA", seq=5000,
                              ack=1001, window=65160, options=SYNACK_OPTS)),
        (3, ip6(S6, C6) / TCP(sport=22, dport=41022, flags="PA", seq=9,
                              ack=9, window=502) / Raw(b"x")),
    ])


def gen_tcp_liberal():
    hs = handshake(ip4, C4, S4, 41030)[:3]
    cs = lambda **kw: ip4(C4, S4) / TCP(sport=41030, dport=22, window=502,
                                        **kw)
    raw_case("tcp_liberal", hs + [
        (30, cs(flags="PA", seq=10001001, ack=5001) / Raw(b"d" * 100)),
        (31, cs(flags="A", seq=1001, ack=1005001)),
        (32, cs(flags="PA", seq=1001, ack=5001) / Raw(b"d" * 10)),
    ])


def gen_udp_ports():
    q = lambda sport: ip4(C4, S4) / UDP(sport=sport, dport=53) / Raw(b"q")
    r = lambda sport, dport: (ip4(S4, C4) / UDP(sport=sport, dport=dport) /
                              Raw(b"a"))
    raw_case("udp_ports", [
        (0, q(5353)),
        (10, r(5300, 5353)),            # the answer from another port
        (29000, r(53, 5353)),           # within timeout_udp
        (40000, q(6000)),
        (71000, r(53, 6000)),           # unreplied for 31 s: forgotten
    ])


def gen_monitor():
    syn = lambda sport, dport: ip4(C4, S4) / TCP(
        sport=sport, dport=dport, flags="S", seq=7000, window=64240)
    raw_case("monitor", [
        (0, syn(41100, 80)),            # [policy] new = drop would drop it
        (1, syn(41101, 23)),            # and so would the telnet rule
        (2, ip4(X4, S4) / TCP(sport=4444, dport=22, flags="FPU",
                              seq=1, window=1024)),
        (3, syn(41102, 22)),            # accepted anyway: nothing to say
    ])


def gen_reject():
    raw_case("reject", [
        (0, ip4(C4, S4) / TCP(sport=41200, dport=23, flags="S", seq=1,
                              window=64240)),
        (1, ip4(C4, S4) / UDP(sport=41201, dport=69) / Raw(b"tftp")),
        (2, ip6(C6, S6) / UDP(sport=41202, dport=69) / Raw(b"tftp")),
        (3, ip4(C4, S4) / TCP(sport=41203, dport=22, flags="S", seq=1,
                              window=64240)),
    ])


def mark_drop():
    """Rules with a mark that drop or reject; an ESTABLISHED packet a
    rule drops, of a connection with a mark (see .expected)."""
    cs = lambda **kw: ip4(C4, S4) / TCP(sport=41300, dport=22, window=502,
                                        **kw)
    return [
        (0, ip4(C4, S4) / TCP(sport=41301, dport=23, flags="S", seq=1,
                              window=64240)),
        (1, ip4(C4, S4) / UDP(sport=41302, dport=69) / Raw(b"tftp")),
    ] + [(10 + ms, p) for ms, p in handshake(ip4, C4, S4, 41300)[:3]] + [
        (20, cs(flags="PAU", seq=1001, ack=5001, urgptr=1) / Raw(b"u")),
        (21, cs(flags="PA", seq=1001, ack=5001) / Raw(b"d")),
    ]


def gen_mark_drop():
    raw_case("mark_drop", mark_drop())


def gen_mark_drop_monitor():
    raw_case("mark_drop_monitor", mark_drop())


def gen_syn_blocked():
    syn = lambda sport, dport: ip4(C4, S4) / TCP(
        sport=sport, dport=dport, flags="S", seq=7000, window=64240,
        options=SYN_OPTS)
    raw_case("syn_blocked", [
        (0, syn(41001, 23)),            # a rule drops it
        (100, syn(41002, 80)),          # no rule: [policy] new = drop
        (1100, syn(41002, 80)),         # the retransmit: still NEW
        (1200, ip6(C6, S6) / TCP(sport=41003, dport=80, flags="S",
                                 seq=1, window=64240)),
        (1300, syn(41004, 22)),         # the allowed port
    ])


def gen_scan():
    to22 = lambda flags, dport=22: ip4(X4, S4) / TCP(
        sport=4444, dport=dport, flags=flags, seq=123456, window=1024)
    raw_case("scan", [
        (0, to22("FPU")),               # XMAS
        (1, to22("")),                  # NULL
        (2, to22("SF")),                # SYN+FIN
        (3, to22("F")),                 # FIN scan
        (4, to22("FPU", 23)),           # XMAS at a port the rules drop
        (5, ip6(C6, S6) / TCP(sport=4444, dport=22, flags="FPU",
                              seq=1, window=1024)),
        (6, ip6(C6, S6) / TCP(sport=4444, dport=22, flags="",
                              seq=1, window=1024)),
        (7, to22("S")),                 # a plain SYN is still let in
        (8, to22("SR")),                # SYN+RST
    ])


def gen_udp():
    q4 = ip4(C4, S4) / UDP(sport=5353, dport=53) / Raw(b"\x12\x34query")
    r4 = ip4(S4, C4) / UDP(sport=53, dport=5353) / Raw(b"\x12\x34answer")
    raw_case("udp", [
        (0, r4),                        # a reply nobody asked for
        (1000, q4),
        (1010, r4),
        (2000, q4),
        (2001, ip4(C4, S4) / UDP(sport=5354, dport=54) / Raw(b"x")),
        (3000, ip6(C6, S6) / UDP(sport=5353, dport=53) / Raw(b"q6")),
        (3010, ip6(S6, C6) / UDP(sport=53, dport=5353) / Raw(b"a6")),
        # 200 s later: past timeout_udp and timeout_udp_stream
        (203000, r4),
    ])


def gen_icmp_echo():
    raw_case("icmp_echo", [
        (0, ip4(C4, S4) / ICMP(type=8, id=0x100, seq=1) / Raw(b"ping")),
        (5, ip4(S4, C4) / ICMP(type=0, id=0x100, seq=1) / Raw(b"ping")),
        (10, ip4(S4, C4) / ICMP(type=0, id=0x999, seq=1) / Raw(b"pong")),
        (20, ip6(C6, S6) / ICMPv6EchoRequest(id=0x200, seq=1, data=b"p6")),
        (25, ip6(S6, C6) / ICMPv6EchoReply(id=0x200, seq=1, data=b"p6")),
        (30, ip6(S6, C6) / ICMPv6EchoReply(id=0x777, seq=9, data=b"p6")),
        (40, ip4(S4, C4) / ICMP(type=8, id=0x300, seq=1)),
        # a router says the first request's TTL ran out
        (50, ip4(R4, C4) / ICMP(type=11, code=0) /
             raw(ip4(C4, S4) / ICMP(type=8, id=0x100, seq=1) /
                 Raw(b"ping"))[:28]),
    ])


def gen_icmp_related():
    probe = ip4(C4, S4) / UDP(sport=40000, dport=33434) / Raw(b"trace")
    other = ip4(C4, S4) / UDP(sport=40001, dport=33435) / Raw(b"trace")
    syn6 = ip6(C6, S6) / TCP(sport=41000, dport=22, flags="S", seq=1000,
                             window=64240, options=SYN_OPTS)
    syn4 = ip4(C4, S4) / TCP(sport=41005, dport=22, flags="S", seq=1000,
                             window=64240, options=SYN_OPTS)
    raw_case("icmp_related", [
        (0, probe),
        (5, ip4(S4, C4) / ICMP(type=3, code=3) / raw(probe)[:28]),
        (10, ip4(S4, C4) / ICMP(type=3, code=3) / raw(other)[:28]),
        (20, syn6),
        (25, ip6(R6, C6) / ICMPv6PacketTooBig(mtu=1280) / raw(syn6)),
        # an unreachable quoting only 4 bytes of the UDP header
        (30, ip4(S4, C4) / ICMP(type=3, code=3) / raw(probe)[:24]),
        (40, syn4),
        # a router cannot reach the server: about the SYN, so RELATED
        (45, ip4(R4, C4) / ICMP(type=3, code=1) / raw(syn4)[:28]),
    ])


def gen_ipv6_ext():
    dst = lambda: IPv6ExtHdrDestOpt(options=[PadN(optdata=b"\0" * 4)])
    q = lambda sport: UDP(sport=sport, dport=53) / Raw(b"q6")
    chain = ip6(C6, S6)
    for _ in range(9):
        chain = chain / IPv6ExtHdrDestOpt()
    raw_case("ipv6_ext", [
        # hop-by-hop (router alert) before the SYN
        (0, ip6(C6, S6) / IPv6ExtHdrHopByHop(options=[RouterAlert()]) /
            TCP(sport=41000, dport=22, flags="S", seq=1000, window=64240)),
        # destination options before the SYN-ACK
        (1, ip6(S6, C6) / dst() /
            TCP(sport=22, dport=41000, flags="SA", seq=5000, ack=1001,
                window=65160)),
        # routing header type 0 with segments left (RFC 5095)
        (2, ip6(C6, S6) / IPv6ExtHdrRouting(type=0, segleft=1,
                                            addresses=[R6]) / q(5000)),
        (3, chain / q(5001)),           # nine headers: too many
        (4, ip6(C6, S6) / dst() / dst() / dst() / q(5002)),
        (5, ip6(C6, S6) / IPv6ExtHdrFragment(offset=0, m=0, id=7) /
            q(5003)),                   # an atomic fragment (RFC 6946)
        # hop-by-hop anywhere but first (RFC 8200 4.1)
        (6, ip6(C6, S6) / dst() / IPv6ExtHdrHopByHop() / q(5004)),
    ])


def gen_truncated():
    syn4 = raw(ip4(C4, S4) / TCP(sport=41000, dport=22, flags="S",
                                 seq=1000, window=64240, options=SYN_OPTS))
    syn4_plain = raw(ip4(C4, S4) / TCP(sport=41001, dport=22, flags="S",
                                       seq=1000, window=64240))
    syn6 = raw(ip6(C6, S6) / TCP(sport=41000, dport=22, flags="S",
                                 seq=1000, window=64240))
    dns = raw(ip4(C4, S4) / UDP(sport=5353, dport=53) / Raw(b"q" * 60))
    # caplen < original length, as a snaplen or NFQUEUE's copy range cuts
    raw_case("truncated", [
        (0, syn4[:12], len(syn4)),      # not even the IPv4 header
        (1, syn4_plain[:30], len(syn4_plain)),  # half a TCP header
        (2, syn4[:48], len(syn4)),      # TCP options cut
        (3, syn6[:30], len(syn6)),      # not even the IPv6 header
        (4, syn6[:50], len(syn6)),      # half a TCP header
        (5, dns[:40], len(dns)),        # headers whole, payload cut: fine
        (6, b"", 60),                   # nothing captured at all
    ])


def gen_malformed():
    base = lambda: ip4(C4, S4) / TCP(sport=41000, dport=22, flags="S",
                                     seq=1000, window=64240)
    short_len = bytearray(raw(base()))
    short_len[2:4] = struct.pack(">H", 30)         # total length 30 < 40
    doff15 = raw(ip4(C4, S4) / TCP(sport=41000, dport=22, flags="S",
                                   seq=1000, window=64240, dataofs=15))
    udp_long = raw(ip4(C4, S4) / UDP(sport=5353, dport=53, len=100) /
                   Raw(b"q" * 8))
    ver5 = bytearray(raw(base()))
    ver5[0] = 0x55
    bad_mss = raw(ip4(C4, S4) / TCP(sport=41000, dport=22, flags="S",
                                    seq=1000, window=64240,
                                    options=[(2, b"\x05")]))
    # 16 of the 20 TCP header bytes in a first fragment (RFC 1858)
    whole = raw(TCP(sport=41000, dport=22, flags="S", seq=1000,
                    window=64240))
    tiny = ip4(C4, S4, flags="MF", proto=6) / Raw(whole[:16])
    later = ip4(C4, S4, flags="MF", frag=2, proto=6) / Raw(b"z" * 16)
    raw_case("malformed", [
        (0, bytes(short_len)),
        (1, doff15),
        (2, udp_long),
        (3, bytes(ver5)),
        (4, bad_mss),
        (5, tiny),
        (6, later),
    ])


def gen_eth_vlan():
    eth = lambda: Ether(src=CMAC, dst=SMAC)
    pad = lambda p: p / Padding(b"\0" * max(0, 60 - len(raw(p))))
    frames = [
        (0, eth() / ARP(op=1, hwsrc=CMAC, psrc=C4, pdst=S4)),
        (1, eth() / ip4(C4, S4) / TCP(sport=41000, dport=22, flags="S",
                                      seq=1000, window=64240,
                                      options=SYN_OPTS)),
        (2, Ether(src=SMAC, dst=CMAC) / Dot1Q(vlan=10) / ip4(S4, C4) /
            TCP(sport=22, dport=41000, flags="SA", seq=5000, ack=1001,
                window=65160, options=SYNACK_OPTS)),
        (3, pad(eth() / ip4(C4, S4) / TCP(sport=41000, dport=22, flags="A",
                                          seq=1001, ack=5001,
                                          window=502))),
        (4, eth() / Dot1AD(vlan=100) / Dot1Q(vlan=10) / ip6(C6, S6) /
            UDP(sport=5353, dport=53) / Raw(b"q6")),
        (5, Ether(src=CMAC, dst="01:80:c2:00:00:0e", type=0x88cc) /
            Raw(b"\0" * 46)),
        (6, b"\x02\x00\x00\x00"),       # a frame too short for Ethernet
    ]
    write_pcap("eth_vlan", LINKTYPE_ETHERNET,
               [(ms, p if isinstance(p, bytes) else raw(p), None)
                for ms, p in frames])


def gen_sll():
    frames = [
        (0, CookedLinux(pkttype=0, lladdrtype=1, lladdrlen=6,
                        src=b"\x02\0\0\0\0\x01\0\0", proto=0x0800) /
            ip4(C4, S4) / TCP(sport=41000, dport=22, flags="S", seq=1000,
                              window=64240, options=SYN_OPTS)),
        (1, CookedLinux(pkttype=0, lladdrtype=1, lladdrlen=6,
                        src=b"\x02\0\0\0\0\x01\0\0", proto=0x86dd) /
            ip6(C6, S6) / ICMPv6EchoRequest(id=1, seq=1)),
        (2, CookedLinux(pkttype=0, lladdrtype=1, lladdrlen=6,
                        src=b"\x02\0\0\0\0\x01\0\0", proto=0x0806) /
            ARP(op=1, hwsrc=CMAC, psrc=C4, pdst=S4)),
    ]
    write_pcap("sll", LINKTYPE_LINUX_SLL,
               [(ms, raw(p), None) for ms, p in frames])


def gen_sll2():
    # tcpdump -i any since libpcap 1.10: Linux cooked v2, 20 bytes
    hdr = lambda proto: struct.pack(">HHIHBB8s", proto, 0, 2, 1, 0, 6,
                                    b"\x02\0\0\0\0\x01")
    frames = [
        (0, hdr(0x0800) + raw(ip4(C4, S4) / TCP(sport=41000, dport=22,
                                                flags="S", seq=1000,
                                                window=64240))),
        (1, hdr(0x86dd) + raw(ip6(C6, S6) / UDP(sport=5353, dport=53) /
                              Raw(b"q6"))),
        (2, hdr(0x0806) + raw(ARP(op=1, hwsrc=CMAC, psrc=C4, pdst=S4))),
        (3, hdr(0x0800)[:12]),          # cut inside the cooked header
    ]
    write_pcap("sll2", LINKTYPE_LINUX_SLL2,
               [(ms, p, None) for ms, p in frames])


def gen_ipv4_link():
    # LINKTYPE_IPV4: raw IPv4 only
    raw_case_linktype = [
        (0, raw(ip4(C4, S4) / UDP(sport=5353, dport=53) / Raw(b"q")), None),
        (1, raw(ip4(S4, C4) / UDP(sport=53, dport=5353) / Raw(b"a")), None),
    ]
    write_pcap("ipv4_link", LINKTYPE_IPV4, raw_case_linktype)


def gen_null():
    # BSD loopback: the family in the capturing host's byte order
    af = lambda n: struct.pack("<I", n)
    frames = [
        (0, af(2) + raw(ip4(C4, S4) / TCP(sport=41000, dport=22, flags="S",
                                          seq=1000, window=64240))),
        (1, af(30) + raw(ip6(C6, S6) / UDP(sport=5353, dport=53) /
                         Raw(b"q6"))),
        (2, af(7) + b"\0" * 20),        # not IP
    ]
    write_pcap("null", LINKTYPE_NULL, [(ms, p, None) for ms, p in frames])


def main():
    os.makedirs(CASES, exist_ok=True)
    for name, fn in sorted(globals().items()):
        if name.startswith("gen_") and callable(fn):
            fn()
    return 0


if __name__ == "__main__":
    sys.exit(main())
