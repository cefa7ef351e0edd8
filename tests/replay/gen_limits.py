#!/usr/bin/python3
# gen_limits.py - the captures of the --replay tests of the rules' rate
# and conn_limit
#
# Copyright (C) 2026 The nfqspid authors
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Run with the system python (scapy from python3-scapy):
#     /usr/bin/python3 tests/replay/gen_limits.py
# writes tests/replay/cases/limits_*.pcap.  Fixed fields and timestamps:
# the same bytes on every run.  The expected verdicts
# (cases/limits_*.expected) are written by hand from issue 4 and
# nfqspi.ini(5); the comments here say which line is which.

import os
import struct

from scapy.all import IP, IPv6, TCP, UDP, Raw, raw

LINKTYPE_RAW = 101
CASES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "cases")
T0 = 1700000000

C4, S4, X4 = "10.0.0.1", "10.0.0.2", "10.0.0.9"
C6, S6 = "2001:db8::1", "2001:db8::2"


def write_case(name, pkts):
    """pkts: (ms from T0, scapy packet)"""
    path = os.path.join(CASES, name + ".pcap")
    with open(path, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xa1b2c3d4, 2, 4, 0, 0, 65535,
                            LINKTYPE_RAW))
        for ms, p in pkts:
            data = raw(p)
            f.write(struct.pack("<IIII", T0 + ms // 1000,
                                (ms % 1000) * 1000, len(data), len(data)))
            f.write(data)
    print("wrote %s (%d packets)" % (path, len(pkts)))


def udp(src, dst, sport, dport):
    ip = IPv6(src=src, dst=dst, hlim=64) if ":" in src else \
        IP(src=src, dst=dst, id=1, ttl=64)
    return ip / UDP(sport=sport, dport=dport) / Raw(b"q")


def tcp(src, dst, sport, dport, flags, seq, ack=0):
    return IP(src=src, dst=dst, id=1, ttl=64) / \
        TCP(sport=sport, dport=dport, flags=flags, seq=seq, ack=ack,
            window=8192)


def gen_rate():
    # rule dns: udp 53, rate = 2/s (a bucket of 2, one token per 500 ms)
    #  1, 2  two flows from C4: accept (the burst)
    #  3     a third at once: drop limit=rate
    #  4     another source has its own bucket: accept
    #  5     flow 1 again (no reply yet): NEW, the connection's decision,
    #        no token taken: accept
    #  6     500 ms later one token: accept
    #  7     and none left: drop limit=rate
    #  8     the server answers flow 1: ESTABLISHED, never limited
    #  9, 10 3 s later the bucket is full again: accept, accept
    # 11     drop limit=rate
    # 12-14  the same over IPv6: accept, accept, drop limit=rate
    write_case("limits_rate", [
        (0, udp(C4, S4, 1001, 53)),
        (10, udp(C4, S4, 1002, 53)),
        (20, udp(C4, S4, 1003, 53)),
        (30, udp(X4, S4, 1001, 53)),
        (40, udp(C4, S4, 1001, 53)),
        (520, udp(C4, S4, 1004, 53)),
        (530, udp(C4, S4, 1005, 53)),
        (540, udp(S4, C4, 53, 1001)),
        (3000, udp(C4, S4, 1006, 53)),
        (3001, udp(C4, S4, 1007, 53)),
        (3002, udp(C4, S4, 1008, 53)),
        (4000, udp(C6, S6, 1001, 53)),
        (4001, udp(C6, S6, 1002, 53)),
        (4002, udp(C6, S6, 1003, 53)),
    ])


def gen_conn():
    # rule dns: udp 53, conn_limit = 2; timeout_udp = 5 s
    #  1, 2  two flows from C4: accept
    #  3     a third: drop limit=conn_limit (no entry made)
    #  4     another source: accept
    #  5     6 s later the first two have expired: accept
    #  6     accept
    #  7     drop limit=conn_limit
    # rule web: tcp 80, conn_limit = 1
    #  8-10  SYN, SYN/ACK, ACK: NEW accept, ESTABLISHED, ESTABLISHED
    # 11     a second SYN from C4: drop limit=conn_limit
    # 12-14  FIN/ACK, FIN/ACK, ACK: the first is in TIME_WAIT (ESTABLISHED
    #        packets), and no longer counts
    # 15     the second SYN again: accept
    # 16     a third: drop limit=conn_limit
    write_case("limits_conn", [
        (0, udp(C4, S4, 2001, 53)),
        (10, udp(C4, S4, 2002, 53)),
        (20, udp(C4, S4, 2003, 53)),
        (30, udp(X4, S4, 2003, 53)),
        (6000, udp(C4, S4, 2003, 53)),
        (6010, udp(C4, S4, 2004, 53)),
        (6020, udp(C4, S4, 2005, 53)),
        (7000, tcp(C4, S4, 3001, 80, "S", 1000)),
        (7001, tcp(S4, C4, 80, 3001, "SA", 5000, 1001)),
        (7002, tcp(C4, S4, 3001, 80, "A", 1001, 5001)),
        (7003, tcp(C4, S4, 3002, 80, "S", 2000)),
        (7004, tcp(C4, S4, 3001, 80, "FA", 1001, 5001)),
        (7005, tcp(S4, C4, 80, 3001, "FA", 5001, 1002)),
        (7006, tcp(C4, S4, 3001, 80, "A", 1002, 5002)),
        (7007, tcp(C4, S4, 3002, 80, "S", 2000)),
        (7008, tcp(C4, S4, 3003, 80, "S", 3000)),
    ])


if __name__ == "__main__":
    gen_rate()
    gen_conn()
