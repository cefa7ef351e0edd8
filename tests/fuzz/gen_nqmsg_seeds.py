#!/usr/bin/env python3
# gen_nqmsg_seeds.py - the seed corpus of fuzz_nqmsg: NFQUEUE datagrams
# as the kernel writes them (netlink headers in host order: little endian
# on the machines the corpus is made on), some broken on purpose.
# Usage: gen_nqmsg_seeds.py DIR
# SPDX-License-Identifier: GPL-2.0-or-later
import os
import struct
import sys

PACKET = (3 << 8) | 0          # NFNL_SUBSYS_QUEUE << 8 | NFQNL_MSG_PACKET
NLMSG_NOOP, NLMSG_ERROR = 1, 2
HDR, MARK, IFIN, IFOUT, PAYLOAD, CAPLEN = 1, 3, 5, 6, 10, 13
IP = bytes([0x45, 0, 0, 28, 0, 0, 0, 0, 64, 17, 0, 0,
            192, 0, 2, 1, 198, 51, 100, 2]) + bytes(8)


def attr(t, data):
    a = struct.pack('<HH', 4 + len(data), t) + data
    return a + bytes((4 - len(a) % 4) % 4)


def msg(t, body, queue=0):
    b = struct.pack('<BBH', 2, 0, queue) + body
    return struct.pack('<IHHII', 16 + len(b), t, 0, 0, 0) + b


def packet(pid, queue=0, extra=b'', hdr=True, payload=True):
    b = b''
    if hdr:
        b += attr(HDR, struct.pack('>IHB', pid, 0x0800, 1))
    b += attr(MARK, struct.pack('>I', 16)) + attr(IFIN, struct.pack('>I', 2))
    b += attr(IFOUT, struct.pack('>I', 3))
    b += attr(CAPLEN, struct.pack('>I', 1500)) + extra
    if payload:
        b += attr(PAYLOAD, IP)
    return msg(PACKET, b, queue)


def seed(queue, flags, dgram):
    return struct.pack('>HB', queue, flags) + dgram


seeds = {
    'one': seed(0, 0, packet(1)),
    'batch': seed(0, 0, b''.join(packet(i) for i in range(1, 9))),
    'noop-error': seed(0, 0, packet(1) + msg(NLMSG_NOOP, b'') +
                       msg(NLMSG_ERROR, bytes(20)) + packet(2)),
    'no-id': seed(0, 0, packet(1, hdr=False) + packet(2)),
    'no-payload': seed(0, 0, packet(1, payload=False)),
    'other-queue': seed(5, 0, packet(1)),
    'bad-mark': seed(0, 0, packet(1, extra=attr(MARK, b'\0\0'))),
    'two-ids': seed(0, 0, packet(1, extra=attr(HDR, struct.pack('>IHB', 9, 8, 1)))),
    'torn': seed(0, 0, packet(1) + packet(2)[:30]),
    'cut': seed(0, 1, packet(7)[:40]),
    'cut-no-id': seed(0, 1, packet(7)[:24]),
}
os.makedirs(sys.argv[1], exist_ok=True)
for name, data in seeds.items():
    with open(os.path.join(sys.argv[1], name), 'wb') as f:
        f.write(data)
