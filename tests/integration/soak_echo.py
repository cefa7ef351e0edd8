#!/usr/bin/python3
# soak_echo.py S4 S6 - the soaks' TCP and UDP echo servers (ports 7000 and
# 7001), both families, in one process (threads)
#
# Copyright (C) 2026 The nfqspid authors
# SPDX-License-Identifier: GPL-2.0-or-later
import socket, socketserver, sys, threading
class T(socketserver.BaseRequestHandler):
    def handle(self):
        try:
            while True:
                d = self.request.recv(65536)
                if not d:
                    return
                self.request.sendall(d)
        except OSError:
            return
class U(socketserver.BaseRequestHandler):
    def handle(self):
        data, s = self.request
        s.sendto(data, self.client_address)
class T4(socketserver.ThreadingTCPServer):
    allow_reuse_address = True
    daemon_threads = True
    request_queue_size = 256
class T6(T4):
    address_family = socket.AF_INET6
class U4(socketserver.UDPServer):
    allow_reuse_address = True
class U6(U4):
    address_family = socket.AF_INET6
a4, a6 = sys.argv[1], sys.argv[2]
srv = [T4((a4, 7000), T), T6((a6, 7000), T), U4((a4, 7001), U),
       U6((a6, 7001), U)]
for s in srv[1:]:
    threading.Thread(target=s.serve_forever, daemon=True).start()
srv[0].serve_forever()
