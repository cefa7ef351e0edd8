#!/usr/bin/python3
# notifyfill.py ADDR: fill a stopped listener's datagram queue, as a
# busy systemd's: fresh sockets send to ADDR (a path, or @NAME for an
# abstract name) until one cannot send at all; prints how many went.
# The tests of systemd's notify name it $NOTIFYFILL (lib.sh):
# test_sdnotify.sh and test_dead.sh.
#
# Copyright (C) 2026 The nfqspid authors
# SPDX-License-Identifier: GPL-2.0-or-later
import socket
import sys

addr = sys.argv[1]
if addr.startswith("@"):
    addr = "\0" + addr[1:]
n = 0
while True:
    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    i = 0
    try:
        while True:
            s.sendto(b"FILL=1", socket.MSG_DONTWAIT, addr)
            i += 1
    except BlockingIOError:
        pass
    s.close()
    n += i
    if i == 0:
        break
print(n)
