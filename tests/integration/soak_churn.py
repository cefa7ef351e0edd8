#!/usr/bin/python3
# soak_churn.py S4 S6 SECONDS [SHORT,LONG,UDP,DENIED] - the soaks' churn:
# threads of short TCP echoes, long TCP connections (20 to 180 s, a
# round trip every 0.1 to 5 s), UDP exchanges from ever new ports and
# SYNs to the denied port 7002 (default 4,8,3,1 threads); prints the
# counts at the end, and each failed TCP connection (its client port)
# on stderr
#
# Copyright (C) 2026 The nfqspid authors
# SPDX-License-Identifier: GPL-2.0-or-later
import os, random, socket, sys, threading, time
s4, s6, secs = sys.argv[1], sys.argv[2], float(sys.argv[3])
nth = [int(x) for x in (sys.argv[4] if len(sys.argv) > 4 else
                        "4,8,3,1").split(",")]
end = time.time() + secs
lock = threading.Lock()
n = {"tcp": 0, "tcp_err": 0, "udp": 0, "udp_err": 0, "long": 0,
     "long_err": 0, "denied": 0}
def count(k):
    with lock:
        n[k] += 1
def addr():
    return (s6, socket.AF_INET6) if random.random() < 0.3 else \
        (s4, socket.AF_INET)
def short_tcp():
    while time.time() < end:
        a, fam = addr()
        port = 0
        try:
            with socket.socket(fam, socket.SOCK_STREAM) as s:
                s.settimeout(5)
                s.connect((a, 7000))
                port = s.getsockname()[1]
                msg = os.urandom(random.choice((1, 100, 1400, 20000)))
                s.sendall(msg)
                got = b""
                while len(got) < len(msg):
                    d = s.recv(65536)
                    if not d:
                        break
                    got += d
                if got != msg:
                    raise OSError("short echo")
                count("tcp")
        except OSError as e:
            sys.stderr.write("%.3f short %s port %d: %s\n" %
                             (time.time(), a, port, e))
            count("tcp_err")
        time.sleep(random.random() * 0.05)
def long_tcp():
    while time.time() < end:
        a, fam = addr()
        life = time.time() + random.uniform(20, 180)
        port = 0
        try:
            with socket.socket(fam, socket.SOCK_STREAM) as s:
                s.settimeout(10)
                s.connect((a, 7000))
                port = s.getsockname()[1]
                while time.time() < min(life, end):
                    msg = os.urandom(random.randint(1, 8000))
                    s.sendall(msg)
                    got = b""
                    while len(got) < len(msg):
                        d = s.recv(65536)
                        if not d:
                            raise OSError("closed")
                        got += d
                    if got != msg:
                        raise OSError("corrupt")
                    time.sleep(random.uniform(0.1, 5))
            count("long")
        except OSError as e:
            # when and why, for the failovers' log lines
            sys.stderr.write("%.3f long %s port %d: %s\n" %
                             (time.time(), a, port, e))
            count("long_err")
def udp():
    while time.time() < end:
        a, fam = addr()
        try:
            with socket.socket(fam, socket.SOCK_DGRAM) as s:
                s.settimeout(2)
                msg = os.urandom(random.randint(1, 1200))
                s.sendto(msg, (a, 7001))
                d, _ = s.recvfrom(65536)
                count("udp" if d == msg else "udp_err")
        except OSError:
            count("udp_err")
        time.sleep(random.random() * 0.02)
def denied():
    while time.time() < end:
        a, fam = addr()
        with socket.socket(fam, socket.SOCK_STREAM) as s:
            s.setblocking(False)
            try:
                s.connect((a, 7002))
            except OSError:
                pass
            count("denied")
            time.sleep(0.2)
th = [threading.Thread(target=f) for f in
      [short_tcp] * nth[0] + [long_tcp] * nth[1] + [udp] * nth[2] +
      [denied] * nth[3]]
for t in th:
    t.start()
for t in th:
    t.join()
print(" ".join("%s=%d" % kv for kv in sorted(n.items())))
