#!/usr/bin/env python3
# gen_fpmsg_seeds.py - the seed corpus of fuzz_fpmsg: nf_tables set
# element dumps, answers to gets and batch acks as the kernel writes them
# (netlink headers in host order: little endian on the machines the
# corpus is made on; the counters and timers big endian, as nf_tables
# sends them).
# Usage: gen_fpmsg_seeds.py DIR
# SPDX-License-Identifier: GPL-2.0-or-later
import os
import struct
import sys

NEWSETELEM = (10 << 8) | 12    # NFNL_SUBSYS_NFTABLES << 8 | NFT_MSG_NEWSETELEM
NLMSG_ERROR, NLMSG_DONE = 2, 3
NESTED = 0x8000
LIST_TABLE, LIST_SET, LIST_ELEMENTS = 1, 2, 3
LIST_ELEM = 1
ELEM_KEY, ELEM_DATA, ELEM_TIMEOUT, ELEM_EXPIRATION = 1, 2, 4, 5
ELEM_USERDATA, ELEM_EXPR, ELEM_EXPRESSIONS = 6, 7, 11
DATA_VALUE, DATA_VERDICT = 1, 2
VERDICT_CODE, VERDICT_CHAIN = 1, 2
NFT_GOTO = -4
EXPR_NAME, EXPR_DATA = 1, 2
COUNTER_BYTES, COUNTER_PACKETS = 1, 2


def attr(t, data):
    a = struct.pack('<HH', 4 + len(data), t) + data
    return a + bytes((4 - len(a) % 4) % 4)


def nest(t, *parts):
    return attr(t | NESTED, b''.join(parts))


def msg(t, body, seq):
    b = struct.pack('<BBH', 1, 0, 0) + body
    return struct.pack('<IHHII', 16 + len(b), t, 2, seq, 0) + b


def counter(pkts):
    return (attr(EXPR_NAME, b'counter\0') +
            nest(EXPR_DATA, attr(COUNTER_BYTES, struct.pack('>Q', pkts * 90)),
                 attr(COUNTER_PACKETS, struct.pack('>Q', pkts))))


def elem(key, chain=None, pkts=None, listed=False, comment=b'orig'):
    p = [nest(ELEM_KEY, attr(DATA_VALUE, key))]
    if chain is not None:
        p.append(nest(ELEM_DATA, nest(DATA_VERDICT,
                 attr(VERDICT_CODE, struct.pack('>i', NFT_GOTO)),
                 attr(VERDICT_CHAIN, chain + b'\0'))))
    p.append(attr(ELEM_TIMEOUT, struct.pack('>Q', 30000)))
    p.append(attr(ELEM_EXPIRATION, struct.pack('>Q', 29000)))
    if pkts is not None:
        if listed:
            p.append(nest(ELEM_EXPRESSIONS, nest(LIST_ELEM, counter(pkts))))
        else:
            p.append(nest(ELEM_EXPR, counter(pkts)))
    p.append(attr(ELEM_USERDATA, bytes([0, len(comment) + 1]) + comment + b'\0'))
    return nest(LIST_ELEM, *p)


def key4(a, ap, b, bp):
    return (bytes(a) + struct.pack('>H', ap) + bytes(2) +
            bytes(b) + struct.pack('>H', bp) + bytes(2))


def key6(a, ap, b, bp):
    return (bytes(a) + struct.pack('>H', ap) + bytes(2) +
            bytes(b) + struct.pack('>H', bp) + bytes(2))


def elems(seq, setname, *es):
    return msg(NEWSETELEM, attr(LIST_TABLE, b'nfqspid-fp-0\0') +
               attr(LIST_SET, setname + b'\0') + nest(LIST_ELEMENTS, *es), seq)


def err(seq, code):
    return struct.pack('<IHHII', 36, NLMSG_ERROR, 0, seq, 0) + \
        struct.pack('<i', code) + struct.pack('<IHHII', 16, 0, 0, seq, 0)


def main():
    d = sys.argv[1]
    os.makedirs(d, exist_ok=True)
    k = key4([10, 0, 0, 1], 40000, [10, 0, 0, 2], 53)
    kr = key4([10, 0, 0, 2], 53, [10, 0, 0, 1], 40000)
    a6 = [0xfd] + [0] * 14 + [1]
    b6 = [0xfd] + [0] * 14 + [2]
    M = b'mark_0x00000010'
    seeds = {
        'mark4': (0, 42, elems(42, b'conn_tcp4', elem(k, M, 5),
                               elem(kr, M, 6, comment=b'reply')) +
                  msg(NLMSG_DONE, b'', 42)),
        'nomark6': (0, 7, elems(7, b'conn_udp6',
                                elem(key6(a6, 5000, b6, 443), b'nomark', 9,
                                     True))),
        'bare4': (0, 9, elems(9, b'conn_udp4', elem(k)) +
                  msg(NLMSG_DONE, b'', 9)),
        'error': (0, 3, err(3, -2)),
        'acks': (1, 10, err(10, 0) + err(11, -17) + err(12, 0)),
        'acks-other': (1, 10, err(99, 0)),
        # answers to gets: one message each, an absent element's ENOENT
        'gets': (2, 60, elems(61, b'conn_tcp4', elem(kr, M, 6)) +
                 err(62, -2) + elems(60, b'conn_tcp4', elem(k, M, 5))),
    }
    for name, (mode, seq, dgram) in seeds.items():
        with open(os.path.join(d, name), 'wb') as f:
            f.write(bytes([mode]) + struct.pack('<I', seq) + dgram)


main()
