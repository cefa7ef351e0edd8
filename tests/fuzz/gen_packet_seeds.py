#!/usr/bin/env python3
# gen_packet_seeds.py - the seed corpus of fuzz_packet from the --replay
# captures: each capture's IP packets, in order, in fuzz_packet's input
# format (see fuzz_packet.c), 64 packets and about 8 KB a seed at most
# (larger packets are left out: the fuzzer runs with -max_len=8192).
#
#   tests/fuzz/gen_packet_seeds.py tests/replay/cases/*.pcap \
#       tests/fuzz/corpus/fuzz_packet
#
# Copyright (C) 2026 The nfqspid authors
# SPDX-License-Identifier: GPL-2.0-or-later
import os
import struct
import sys

MAXPKTS = 64
MAXSEED = 8192
MAXPKT = 4096
ETH_IP = (0x0800, 0x86dd)
VLAN = (0x8100, 0x88a8, 0x9100)


def frames(path):
    """(seconds, microseconds, link type, bytes) of each record."""
    with open(path, 'rb') as f:
        data = f.read()
    magic = data[:4]
    if magic in (b'\xd4\xc3\xb2\xa1', b'\x4d\x3c\xb2\xa1'):
        e = '<'
    elif magic in (b'\xa1\xb2\xc3\xd4', b'\xa1\xb2\x3c\x4d'):
        e = '>'
    else:
        return
    nano = magic in (b'\x4d\x3c\xb2\xa1', b'\xa1\xb2\x3c\x4d')
    dlt = struct.unpack(e + 'I', data[20:24])[0] & 0x0fffffff
    off = 24
    while off + 16 <= len(data):
        sec, frac, incl, _ = struct.unpack(e + 'IIII', data[off:off + 16])
        off += 16
        yield sec, frac // 1000 if nano else frac, dlt, \
            data[off:off + incl]
        off += incl


def ip_of(dlt, b):
    """The IP packet in a frame, or None."""
    if dlt in (101, 228, 229, 12, 14):         # raw IP
        return b
    if dlt == 1:                               # Ethernet
        off = 12
        for _ in range(5):
            if len(b) < off + 2:
                return None
            t = struct.unpack('>H', b[off:off + 2])[0]
            if t not in VLAN:
                break
            off += 4
        return b[off + 2:] if t in ETH_IP else None
    if dlt == 113:                             # Linux cooked
        return b[16:] if len(b) >= 16 and \
            struct.unpack('>H', b[14:16])[0] in ETH_IP else None
    if dlt == 276:                             # Linux cooked v2
        return b[20:] if len(b) >= 20 and \
            struct.unpack('>H', b[0:2])[0] in ETH_IP else None
    if dlt in (0, 108):                        # BSD loopback
        return b[4:] if len(b) >= 4 else None
    return None


def main():
    if len(sys.argv) < 3:
        sys.exit('usage: gen_packet_seeds.py PCAP... DIR')
    outdir = sys.argv[-1]
    os.makedirs(outdir, exist_ok=True)
    for path in sys.argv[1:-1]:
        name = os.path.splitext(os.path.basename(path))[0]
        pkts = []
        last = None
        for sec, usec, dlt, b in frames(path):
            ip = ip_of(dlt, b)
            if ip is None or len(ip) > MAXPKT:
                continue
            ms = sec * 1000 + usec // 1000
            d = 0 if last is None else max(0, ms - last)
            last = ms
            # dt < 128: milliseconds; else (dt - 128) quarter seconds
            dt = d if d < 128 else min(255, 128 + d // 250)
            # op 0x40: expiry after each packet (tables and fragments),
            # as --replay does before each
            pkts.append(struct.pack('>BBH', 0x40, dt, len(ip)) + ip)
        parts = [[]]
        for p in pkts:
            if parts[-1] and (len(parts[-1]) == MAXPKTS or
                              sum(map(len, parts[-1])) + len(p) > MAXSEED):
                parts.append([])
            parts[-1].append(p)
        for i, part in enumerate(parts):
            if not part:
                continue
            suffix = '' if len(parts) == 1 else '-%d' % i
            # flags 1: start afresh, enforce configuration
            with open(os.path.join(outdir, name + suffix), 'wb') as f:
                f.write(b'\x01' + b''.join(part))


if __name__ == '__main__':
    main()
