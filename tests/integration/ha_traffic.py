#!/usr/bin/python3
# ha_traffic.py - the traffic of tests/integration/test_ha.sh: many idle
# TCP connections, a long transfer, UDP flows and a UDP probe that
# measures the longest gap in service, all from one asyncio process on
# each side so that a thousand connections open in a second.
#
# Copyright (C) 2026 The nfqspid authors
# SPDX-License-Identifier: GPL-2.0-or-later
#
#   ha_traffic.py server ADDR
#	TCP 7000 echoes, TCP 7001 counts and hashes what it reads until
#	EOF and answers "COUNT SHA256\n", UDP 7002 echoes (and UDP 7003,
#	the probe's port).
#   ha_traffic.py client SERVER CONTROL_SOCKET
#	keeps its connections and flows for the test's whole run and
#	answers one command a line on the UNIX socket CONTROL_SOCKET:
#	  open N          N TCP connections to SERVER:7000, held idle
#	  check SECS      a token both ways on every held connection
#	  udp N SECS      a datagram both ways on each of N UDP flows (the
#	                  same source ports each time)
#	  xfer BYTES RATE a transfer of BYTES to SERVER:7001 at RATE bytes/s,
#	                  in the background
#	  xferstate       ok if the transfer is still running
#	  xferwait SECS   the transfer's end: did the server get it all?
#	  probe           the probe's longest gap since the last probe
#	  quit
#	Every answer is one line: "ok ..." or "fail ...".  A held connection
#	that fails a check once is never used again and counts as failed
#	in every later check: each must carry data across every failover.

import asyncio
import hashlib
import os
import resource
import socket
import sys
import time

ECHO, SINK, UDP, PROBE = 7000, 7001, 7002, 7003
PROBE_EVERY = 0.02		# seconds between the probe's datagrams


def nofile():
    resource.setrlimit(resource.RLIMIT_NOFILE, (16384, 16384))


# ---- server -------------------------------------------------------------

async def echo(reader, writer):
    try:
        while True:
            data = await reader.read(4096)
            if not data:
                break
            writer.write(data)
            await writer.drain()
    except OSError:
        pass
    writer.close()


async def sink(reader, writer):
    h, n = hashlib.sha256(), 0
    try:
        while True:
            data = await reader.read(262144)
            if not data:
                break
            h.update(data)
            n += len(data)
        writer.write(b"%d %s\n" % (n, h.hexdigest().encode()))
        await writer.drain()
    except OSError:
        pass
    writer.close()


class UdpEcho(asyncio.DatagramProtocol):
    def connection_made(self, transport):
        self.t = transport

    def datagram_received(self, data, addr):
        self.t.sendto(data, addr)


async def server(addr):
    loop = asyncio.get_running_loop()
    await asyncio.start_server(echo, addr, ECHO, backlog=4096)
    await asyncio.start_server(sink, addr, SINK, backlog=16)
    for port in (UDP, PROBE):
        await loop.create_datagram_endpoint(UdpEcho, local_addr=(addr, port))
    await asyncio.Event().wait()


# ---- client -------------------------------------------------------------

class Probe(asyncio.DatagramProtocol):
    """A datagram every PROBE_EVERY s; the longest time without an answer."""

    def __init__(self):
        self.last = time.monotonic()
        self.gap = 0.0
        self.sent = self.got = 0

    def connection_made(self, transport):
        self.t = transport

    def datagram_received(self, data, addr):
        now = time.monotonic()
        self.gap = max(self.gap, now - self.last)
        self.last = now
        self.got += 1

    def error_received(self, exc):
        pass

    async def run(self):
        while True:
            self.sent += 1
            self.t.sendto(b"%d" % self.sent)
            await asyncio.sleep(PROBE_EVERY)

    def report(self):
        now = time.monotonic()
        gap = max(self.gap, now - self.last)
        line = "ok gap_ms=%d silent_ms=%d sent=%d answered=%d" % (
            gap * 1000, (now - self.last) * 1000, self.sent, self.got)
        self.gap = 0.0
        return line


class UdpFlow(asyncio.DatagramProtocol):
    def __init__(self):
        self.waiter = None

    def connection_made(self, transport):
        self.t = transport

    def datagram_received(self, data, addr):
        if self.waiter and not self.waiter.done() and data == self.token:
            self.waiter.set_result(True)

    def error_received(self, exc):
        pass

    async def ping(self, token, secs):
        self.token = token
        self.waiter = asyncio.get_running_loop().create_future()
        end = time.monotonic() + secs
        # UDP may lose one: ask again every second until the deadline.
        while True:
            self.t.sendto(token)
            try:
                await asyncio.wait_for(asyncio.shield(self.waiter),
                                       min(1.0, max(end - time.monotonic(),
                                                    0.01)))
                return True
            except asyncio.TimeoutError:
                if time.monotonic() >= end:
                    return False


class Client:
    def __init__(self, server):
        self.server = server
        self.conns = []		# [reader, writer, alive]
        self.flows = []
        self.round = 0
        self.xfer = None
        self.probe = Probe()

    async def start(self):
        loop = asyncio.get_running_loop()
        await loop.create_datagram_endpoint(
            lambda: self.probe, remote_addr=(self.server, PROBE))
        loop.create_task(self.probe.run())

    async def open(self, n):
        async def one():
            try:
                r, w = await asyncio.wait_for(
                    asyncio.open_connection(self.server, ECHO), 30)
                return [r, w, True]
            except (OSError, asyncio.TimeoutError):
                return None
        got = [c for c in await asyncio.gather(*[one() for _ in range(n)])
               if c]
        self.conns += got
        return "%s opened=%d of %d" % ("ok" if len(got) == n else "fail",
                                       len(got), n)

    async def check(self, secs):
        self.round += 1

        async def one(i, c):
            if not c[2]:
                return False
            token = b"%06d:%06d\n" % (i, self.round)
            try:
                c[1].write(token)
                got = await asyncio.wait_for(c[0].readexactly(len(token)),
                                             secs)
                if got == token:
                    return True
            except (OSError, asyncio.TimeoutError,
                    asyncio.IncompleteReadError):
                pass
            c[2] = False
            return False
        t0 = time.monotonic()
        res = await asyncio.gather(*[one(i, c)
                                     for i, c in enumerate(self.conns)])
        good = sum(res)
        return "%s both_ways=%d of %d ms=%d" % (
            "ok" if self.conns and good == len(self.conns) else "fail",
            good, len(self.conns), (time.monotonic() - t0) * 1000)

    async def udp(self, n, secs):
        loop = asyncio.get_running_loop()
        while len(self.flows) < n:
            _, p = await loop.create_datagram_endpoint(
                UdpFlow, remote_addr=(self.server, UDP))
            self.flows.append(p)
        self.round += 1
        res = await asyncio.gather(*[
            f.ping(b"udp %d %d" % (i, self.round), secs)
            for i, f in enumerate(self.flows[:n])])
        return "%s both_ways=%d of %d" % ("ok" if all(res) else "fail",
                                          sum(res), n)

    async def transfer(self, total, rate):
        """Send total bytes at rate; the server's count and hash back."""
        h, sent = hashlib.sha256(), 0
        block = os.urandom(65536)
        try:
            r, w = await asyncio.wait_for(
                asyncio.open_connection(self.server, SINK), 10)
            t0 = time.monotonic()
            while sent < total:
                chunk = block[:min(len(block), total - sent)]
                w.write(chunk)
                h.update(chunk)
                sent += len(chunk)
                await w.drain()
                ahead = sent / rate - (time.monotonic() - t0)
                if ahead > 0:
                    await asyncio.sleep(ahead)
            w.write_eof()
            line = (await r.readline()).decode().split()
            w.close()
        except (OSError, asyncio.TimeoutError) as e:
            return "fail sent=%d error=%s" % (sent, e)
        if line == [str(total), h.hexdigest()]:
            return "ok bytes=%d sha256 matches" % total
        return "fail sent=%d server_said=%s" % (sent, " ".join(line))

    async def command(self, words):
        cmd, args = words[0], [int(a) for a in words[1:]]
        if cmd == "open":
            return await self.open(args[0])
        if cmd == "check":
            return await self.check(args[0])
        if cmd == "udp":
            return await self.udp(args[0], args[1])
        if cmd == "xfer":
            self.xfer = asyncio.get_running_loop().create_task(
                self.transfer(args[0], args[1]))
            return "ok started"
        if cmd == "xferstate":
            if self.xfer and not self.xfer.done():
                return "ok running"
            return "fail no transfer running"
        if cmd == "xferwait":
            if not self.xfer:
                return "fail no transfer"
            try:
                return await asyncio.wait_for(asyncio.shield(self.xfer),
                                              args[0])
            except asyncio.TimeoutError:
                return "fail transfer not done after %d s" % args[0]
        if cmd == "probe":
            return self.probe.report()
        if cmd == "quit":
            os._exit(0)
        return "fail unknown command"

    async def serve(self, reader, writer):
        line = (await reader.readline()).decode().split()
        try:
            answer = await self.command(line) if line else "fail empty"
        except (ValueError, IndexError) as e:
            answer = "fail %s" % e
        writer.write(answer.encode() + b"\n")
        await writer.drain()
        writer.close()


async def client(server_addr, ctl):
    c = Client(server_addr)
    await c.start()
    await asyncio.start_unix_server(c.serve, ctl)
    await asyncio.Event().wait()


def main():
    nofile()
    if len(sys.argv) == 3 and sys.argv[1] == "server":
        asyncio.run(server(sys.argv[2]))
    elif len(sys.argv) == 4 and sys.argv[1] == "client":
        asyncio.run(client(sys.argv[2], sys.argv[3]))
    else:
        sys.exit("usage: ha_traffic.py server ADDR | client SERVER SOCKET")


if __name__ == "__main__":
    main()
