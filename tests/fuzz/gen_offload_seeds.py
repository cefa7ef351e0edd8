#!/usr/bin/env python3
# gen_offload_seeds.py - the seed corpus of fuzz_offload: scripts of
# (op, arg) byte pairs, one story of a worker, its table and the fast
# path's book each (op numbers as fuzz_offload.c's step() reads them).
# Usage: gen_offload_seeds.py DIR
# SPDX-License-Identifier: GPL-2.0-or-later
import os
import sys

PKT, ROUND, POLL, CREDITS, TIME, CTFLUSH, RELOAD, FAIL, OUT, MISC = \
    0, 3, 4, 5, 6, 7, 8, 9, 10, 11
SYN, SYNACK, ACK, DATA, FIN, RST = 0, 1, 2, 4, 6, 7
REPLY = 8


def pkt(i, flags, reply=0):
    return (PKT, i | (REPLY if reply else 0) | flags << 4)


def tcp_open(i, n=20):
    steps = [pkt(i, SYN), pkt(i, SYNACK, 1), pkt(i, ACK)]
    for k in range(n):
        steps.append(pkt(i, DATA if k % 2 == 0 else ACK, k % 2))
    return steps


def udp_flow(i, n=20):
    return [pkt(i, 0, k % 2) for k in range(n)]


def script(*steps):
    return bytes(b for s in steps for b in s)


def old_kernel(data):
    # odd length: a kernel before 6.3, without DESTROYSETELEM
    return data + b'\0'


SEEDS = {
    'tcp-life': script(*tcp_open(0), (ROUND, 0), (CREDITS, 0),
                       pkt(0, DATA), pkt(0, ACK, 1), (POLL, 0),
                       (CREDITS, 0), pkt(0, FIN), pkt(0, FIN, 1),
                       (ROUND, 0), pkt(0, ACK)),
    'udp-expiry': script(*udp_flow(4), (ROUND, 0), *udp_flow(4, 4),
                         (POLL, 0), (CREDITS, 0), (TIME, 0x85),
                         (ROUND, 0)),
    'flush-delete': script(*tcp_open(1), *udp_flow(5), (ROUND, 0),
                           (CTFLUSH, 0), (ROUND, 0), *udp_flow(6),
                           (ROUND, 0), (CTFLUSH, 2 * 6), (ROUND, 0)),
    'mark-refused': script((OUT, 0x01), *tcp_open(1), *tcp_open(2),
                           (ROUND, 0), (CREDITS, 0), (ROUND, 0),
                           (OUT, 0), pkt(1, DATA), (ROUND, 0)),
    'reload': script(*udp_flow(7), (ROUND, 0), (RELOAD, 1), (CREDITS, 0),
                     *udp_flow(7, 4), (ROUND, 0), (RELOAD, 0),
                     (CREDITS, 0), *udp_flow(7, 2), (ROUND, 0)),
    'kernel-fails': script(*tcp_open(3), (FAIL, 0x07), (ROUND, 0),
                           (RELOAD, 0), (ROUND, 0), (CREDITS, 0),
                           (MISC, 0), (CREDITS, 0), pkt(3, DATA),
                           (MISC, 1), pkt(3, RST), (MISC, 0)),
    # elements time out, are shown with 0 ms left, are collected (FAIL
    # with 8) and put in again
    'old-kernel': old_kernel(script(*tcp_open(0), *udp_flow(4),
                                    (ROUND, 0), pkt(0, DATA),
                                    pkt(4, 0, 1), (POLL, 0), (TIME, 50),
                                    (POLL, 0), (POLL, 0), (FAIL, 8),
                                    (POLL, 0), (POLL, 0), pkt(0, DATA),
                                    pkt(4, 0), (POLL, 0), (CREDITS, 0),
                                    pkt(0, FIN), (ROUND, 0))),
}

os.makedirs(sys.argv[1], exist_ok=True)
for name, data in SEEDS.items():
    with open(os.path.join(sys.argv[1], name), 'wb') as f:
        f.write(data)
