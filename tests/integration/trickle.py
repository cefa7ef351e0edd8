# trickle.py - clients that send a request one byte at a time and never
# finish it, as an attacker holding a server's slots would.
#
# Copyright (C) 2026 The nfqspid authors
# SPDX-License-Identifier: GPL-2.0-or-later
#
#   trickle.py tcp HOST PORT N SECONDS   N connections to HOST:PORT
#   trickle.py unix PATH N SECONDS       N connections to a unix socket
#
# Each connection sends one byte a second (an HTTP request line for tcp,
# a control frame's header for unix) for SECONDS, reconnecting when the
# server closes it.  Prints "opened=A closed=B" at the end: how many
# connections were made and how many the server closed.
import errno, select, socket, sys, time

HTTP = b"GET / HTTP/1.1\r\nHost: x\r\nX-Slow: " + b"a" * 4000
CTL = b"NQCT" + b"\x00\x01\x00\x01" + b"\x00" * 4 + b"\x00\x00\x00\x10"

def connect(kind, addr):
    if kind == "tcp":
        fam = socket.AF_INET6 if ":" in addr[0] else socket.AF_INET
        s = socket.socket(fam, socket.SOCK_STREAM)
    else:
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.setblocking(False)
    try:
        s.connect(addr)
    except OSError as e:
        if e.errno not in (errno.EINPROGRESS, errno.EAGAIN):
            s.close()
            return None
    return s

def main():
    kind = sys.argv[1]
    if kind == "tcp":
        addr = (sys.argv[2], int(sys.argv[3]))
        n, secs = int(sys.argv[4]), float(sys.argv[5])
        payload = HTTP
    else:
        addr = sys.argv[2]
        n, secs = int(sys.argv[3]), float(sys.argv[4])
        payload = CTL
    conns = {}          # socket -> bytes sent
    opened = closed = 0
    end = time.time() + secs
    while time.time() < end:
        while len(conns) < n:
            s = connect(kind, addr)
            if s is None:
                break
            conns[s] = 0
            opened += 1
        tick = time.time() + 1
        while time.time() < tick:
            p = select.poll()
            byfd = {}
            for s in conns:
                p.register(s, select.POLLIN)
                byfd[s.fileno()] = s
            wait = max(0, tick - time.time())
            for fd, ev in p.poll(int(wait * 1000) + 1):
                s = byfd[fd]
                try:
                    gone = s.recv(4096) == b""
                except BlockingIOError:
                    gone = False
                except OSError:
                    gone = True
                if gone:
                    closed += 1
                    del conns[s]
                    s.close()
        for s in list(conns):
            i = conns[s] % len(payload)
            try:
                s.send(payload[i:i + 1])
                conns[s] += 1
            except (BlockingIOError, InterruptedError):
                pass
            except OSError as e:
                if e.errno == errno.ENOTCONN:
                    continue        # still connecting: the queue is full
                closed += 1
                del conns[s]
                s.close()
    print("opened=%d closed=%d" % (opened, closed))

main()
