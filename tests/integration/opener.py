# opener.py - one client that opens many TCP connections at once and
# holds them, as a client filling a connection table would.
#
# Copyright (C) 2026 The nfqspid authors
# SPDX-License-Identifier: GPL-2.0-or-later
#
#   opener.py SRC DST N HOLD [PIDFILE]
#
# N connections from SRC to DST port 7000, all started at once.  Prints
# how many completed within 15 s, then holds them for HOLD seconds (0:
# exits at once).  With PIDFILE, writes its pid there after printing, so
# a caller holding them long can tell when the count is in and kill it.
import os, resource, selectors, socket, sys, time

src, dst, n, hold = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
# one descriptor a connection, more than the usual soft limit of 1024
need = n + 64
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
if soft != resource.RLIM_INFINITY and soft < need:
    if hard != resource.RLIM_INFINITY and hard < need:
        hard = need
    resource.setrlimit(resource.RLIMIT_NOFILE, (need, hard))
sel, socks = selectors.DefaultSelector(), []	# held: a dropped one closes
for i in range(n):
    s = socket.socket()
    socks.append(s)
    s.bind((src, 0))
    s.setblocking(False)
    s.connect_ex((dst, 7000))
    sel.register(s, selectors.EVENT_WRITE)
ok, end = 0, time.time() + 15
while time.time() < end and sel.get_map():
    for k, _ in sel.select(0.2):
        if k.fileobj.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR) == 0:
            ok += 1
        sel.unregister(k.fileobj)
print(ok, flush=True)
if len(sys.argv) > 5:
    with open(sys.argv[5], "w") as f:
        f.write("%d\n" % os.getpid())
time.sleep(hold)
