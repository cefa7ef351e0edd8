#!/bin/bash
# test_ct.sh - connection tracking on the real path: packets crafted with
# scapy cross dut's FORWARD chain, NFQUEUE and nfqspid:
#  - RSTs with the right 4-tuple but far-off sequence numbers, injected
#    during a transfer of a few MB, are dropped as rst-out-of-window and
#    the transfer completes intact (IPv4 and IPv6);
#  - the server's ICMP port unreachable answering a UDP datagram is
#    RELATED to that flow: the client's socket sees ECONNREFUSED; one
#    quoting a flow nobody opened is dropped (IPv4 and IPv6);
#  - ICMP time exceeded about a tracked TCP connection, sent by the
#    firewall host itself (through OUTPUT) or by a router behind it
#    (through FORWARD), is RELATED and reaches the client; about an
#    untracked tuple it is dropped (IPv4 and IPv6);
#  - an echo reply without a request is dropped (IPv4 and IPv6);
#  - a TCP SYN split into fragments inside its TCP header never gets past
#    a rule that denies its port; split after its header, nfqspid holds
#    the fragments and the rule decides the whole SYN; fragmented UDP to
#    an allowed port is answered.  The kernel tracks nothing in dut.
#
# Copyright (C) 2026 The nfqspid authors
# SPDX-License-Identifier: GPL-2.0-or-later
# shellcheck disable=SC2317  # functions run through check and wait_for
set -u

# other subnets and queue than test_basic.sh (namespaces keep them apart
# anyway; this keeps logs and captures unambiguous)
T_NET=${T_NET:-98}
T_QUEUE=${T_QUEUE:-8}
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"

C4F=10.$T_NET.1.3		# the client's second addresses: fragments only
C6F=fd00:$T_NET:1::3

lib_init ct
lib_topology
lib_write_helpers
in_c ip addr add "$C4F/24" dev c0
# deprecated at once, so that the client never picks it as a source itself
in_c ip addr add "$C6F/64" dev c0 nodad preferred_lft 0

lib_config <<EOF
[conntrack]
max = 4096

$(lib_policy)

[rule xfer]
proto = tcp
dport = 5010
action = accept

[rule hold]
proto = tcp
dport = 5020
action = accept

[rule far]
proto = tcp
dport = 5040
action = accept

[rule udp-closed]
proto = udp
dport = 5399
action = accept

[rule frag-deny]
proto = tcp
dport = 5030
action = drop
log = yes

[rule frag-udp]
proto = udp
dport = 5031
action = accept

$(lib_ping_rules)
EOF

# ---- helpers (scapy and sockets) ----------------------------------------------

# xfer.py serve ADDR PORT FILE GATE: send FILE to the first client; until
# the file GATE exists it trickles (1 KiB every 20 ms, at most 30 s), so the
# transfer is certainly still going on, with segments to learn the sequence
# numbers from, while RSTs are injected; then it sends the rest at once.
# xfer.py fetch ADDR PORT SPORT OUT: connect from SPORT, save all to OUT.
cat >"$T_TMP/xfer.py" <<'EOF'
import os, socket, sys, time
mode, addr, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
fam = socket.AF_INET6 if ":" in addr else socket.AF_INET
if mode == "serve":
    ls = socket.socket(fam, socket.SOCK_STREAM)
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind((addr, port))
    ls.listen(1)
    ls.settimeout(30)
    s, _ = ls.accept()
    gate = sys.argv[5]
    start = time.monotonic()
    with open(sys.argv[4], "rb") as f:
        while not os.path.exists(gate) and time.monotonic() - start < 30:
            b = f.read(1024)
            if not b:
                break
            s.sendall(b)
            time.sleep(0.02)
        while True:
            b = f.read(65536)
            if not b:
                break
            s.sendall(b)
    s.close()
else:
    s = socket.socket(fam, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("::" if fam == socket.AF_INET6 else "0.0.0.0", int(sys.argv[4])))
    s.settimeout(20)
    s.connect((addr, port))
    with open(sys.argv[5], "wb") as f:
        while True:
            b = s.recv(65536)
            if not b:
                break
            f.write(b)
EOF

# rstinj.py IFACE SRC DST SPORT DPORT N: learn the sender's sequence number
# from one of its segments, then send N RSTs (bare and RST/ACK) with that
# 4-tuple a quarter of the sequence space away, ahead and behind: far out
# of any window.
cat >"$T_TMP/rstinj.py" <<'EOF'
import sys
from scapy.all import IP, IPv6, TCP, conf, send, sniff
conf.verb = 0
iface, src, dst, sport, dport, n = sys.argv[1:7]
sport, dport, n = int(sport), int(dport), int(n)
got = sniff(iface=iface, count=1, timeout=10,
            filter="tcp and src port %d and dst port %d" % (sport, dport))
if not got:
    print("no segment of the connection seen")
    sys.exit(1)
seq, ack = got[0][TCP].seq, got[0][TCP].ack
l3 = (lambda: IPv6(src=src, dst=dst)) if ":" in dst else \
     (lambda: IP(src=src, dst=dst))
for i in range(n):
    far = (seq + (1 << 30) * (1 if i % 2 == 0 else 3)) & 0xffffffff
    flags = "R" if i % 4 < 2 else "RA"
    send(l3() / TCP(sport=sport, dport=dport, flags=flags, seq=far,
                    ack=ack if "A" in flags else 0, window=0))
print("seq %d: sent %d RSTs" % (seq, n))
EOF

# udpref.py ADDR PORT: a connected UDP socket sends one datagram; prints
# "refused" when the ICMP port unreachable came back, "timeout" if
# nothing did, "reply" if someone answered.
cat >"$T_TMP/udpref.py" <<'EOF'
import socket, sys
addr, port = sys.argv[1], int(sys.argv[2])
fam = socket.AF_INET6 if ":" in addr else socket.AF_INET
s = socket.socket(fam, socket.SOCK_DGRAM)
s.settimeout(3)
s.connect((addr, port))
s.send(b"anyone?")
try:
    s.recv(100)
    print("reply")
except ConnectionRefusedError:
    print("refused")
except socket.timeout:
    print("timeout")
EOF

# craft.py KIND ARGS...: one crafted packet (see the cases below).
cat >"$T_TMP/craft.py" <<'EOF'
import sys
from scapy.all import (ICMP, ICMPv6DestUnreach, ICMPv6EchoReply,
                       ICMPv6TimeExceeded, IP, IPv6, IPv6ExtHdrFragment,
                       TCP, UDP, Raw, conf, raw, send)
conf.verb = 0
kind, a = sys.argv[1], sys.argv[2:]
v6 = ":" in a[1]
L3 = IPv6 if v6 else IP
if kind in ("ttl1", "ttl"):
    # a segment of the tuple SRC DST SPORT DPORT FLAGS with TTL (hop
    # limit) TTL; ttl1: 1, which runs out at the first router, dut
    src, dst, sport, dport, flags = a[0], a[1], int(a[2]), int(a[3]), a[4]
    ttl = int(a[5]) if kind == "ttl" else 1
    l3 = IPv6(src=src, dst=dst, hlim=ttl) if v6 else \
        IP(src=src, dst=dst, ttl=ttl)
    ack = 1 if "A" in flags else 0
    send(l3 / TCP(sport=sport, dport=dport, flags=flags, seq=1, ack=ack,
                  window=1024))
elif kind == "texc":
    # time exceeded from SRC to DST about DST:SPORT -> QDST:DPORT TCP
    src, dst, qdst, sport, dport = a[0], a[1], a[2], int(a[3]), int(a[4])
    quote = raw(L3(src=dst, dst=qdst) / TCP(sport=sport, dport=dport,
                                             flags="S", seq=1))
    if v6:
        send(IPv6(src=src, dst=dst) / ICMPv6TimeExceeded(code=0) / quote)
    else:
        send(IP(src=src, dst=dst) / ICMP(type=11, code=0) / quote)
elif kind == "echoreply":
    src, dst = a[0], a[1]
    if v6:
        send(IPv6(src=src, dst=dst) / ICMPv6EchoReply(id=0x4242, seq=1))
    else:
        send(IP(src=src, dst=dst) / ICMP(type=0, id=0x4242, seq=1))
elif kind == "unreach":
    # port unreachable from SRC to DST about DST:SPORT -> SRC:DPORT UDP
    src, dst, sport, dport = a[0], a[1], int(a[2]), int(a[3])
    quote = raw(L3(src=dst, dst=src) / UDP(sport=sport, dport=dport) /
                Raw(b"x"))
    if v6:
        send(IPv6(src=src, dst=dst) / ICMPv6DestUnreach(code=4) / quote)
    else:
        send(IP(src=src, dst=dst) / ICMP(type=3, code=3) / quote)
elif kind == "fragsyn":
    # a SYN with options (40-byte TCP header) split after 16 bytes
    # (or CUT): the first fragment holds the ports but not the flags
    src, dst, sport, dport, ipid = a[0], a[1], int(a[2]), int(a[3]), int(a[4])
    cut = int(a[5]) if len(a) > 5 else 16
    tcp = raw(IP(src=src, dst=dst) /
              TCP(sport=sport, dport=dport, flags="S", seq=1000,
                  window=64240, options=[("MSS", 1460), ("SAckOK", b""),
                                         ("NOP", None), ("WScale", 7),
                                         ("Timestamp", (1, 0))]))[20:]
    send(IP(src=src, dst=dst, id=ipid, flags="MF", frag=0, proto=6) /
         Raw(tcp[:cut]))
    send(IP(src=src, dst=dst, id=ipid, flags=0, frag=cut // 8, proto=6) /
         Raw(tcp[cut:]))
elif kind == "fragsyn6":
    src, dst, sport, dport, ipid = a[0], a[1], int(a[2]), int(a[3]), int(a[4])
    cut = int(a[5]) if len(a) > 5 else 16
    tcp = raw(IPv6(src=src, dst=dst) /
              TCP(sport=sport, dport=dport, flags="S", seq=1000,
                  window=64240, options=[("MSS", 1440), ("SAckOK", b""),
                                         ("NOP", None), ("WScale", 7),
                                         ("Timestamp", (1, 0))]))[40:]
    send(IPv6(src=src, dst=dst) /
         IPv6ExtHdrFragment(nh=6, offset=0, m=1, id=ipid) / Raw(tcp[:cut]))
    send(IPv6(src=src, dst=dst) /
         IPv6ExtHdrFragment(nh=6, offset=cut // 8, m=0, id=ipid) /
         Raw(tcp[cut:]))
EOF

check "nfqspid -n accepts the test configuration" \
    "$NFQSPID" -n -c "$T_CONF"
# The time exceeded dut itself sends goes out through OUTPUT, never
# FORWARD: divert exactly those to the queue as well (see part 3).
# shellcheck disable=SC2015  # the || is the whole chain's error path
in_d "$IPT" -A OUTPUT -p icmp --icmp-type time-exceeded \
    -j NFQUEUE --queue-num "$T_QUEUE" &&
    in_d "$IP6T" -A OUTPUT -p icmpv6 --icmpv6-type time-exceeded \
    -j NFQUEUE --queue-num "$T_QUEUE" ||
    { echo "cannot divert OUTPUT time exceeded to NFQUEUE" >&2; exit 1; }
lib_start "nfqspid starts, binds queue $T_QUEUE and opens its control socket" "$@"

established()
{
	in_c ss -Htn state established "( sport = :$1 )" 2>/dev/null | grep -q .
}


# ---- 1. out-of-window RSTs during a transfer -----------------------------------
counter_add "$NS_S" "$IPT" filter INPUT rst4 -p tcp --dport 5010 \
    --tcp-flags RST RST
counter_add "$NS_S" "$IP6T" filter INPUT rst6 -p tcp --dport 5010 \
    --tcp-flags RST RST

# xfer_rst NAME SADDR CADDR SPORT SIZE_MB
xfer_rst()
{
	local name=$1 saddr=$2 caddr=$3 sport=$4 mb=$5 d=$T_TMP/$1 spid crc inj
	mkdir -p "$d"
	head -c $((mb * 1048576)) /dev/urandom >"$d/src.bin"
	in_s timeout 60 "$PY" "$T_TMP/xfer.py" serve "$saddr" 5010 \
	    "$d/src.bin" "$d/gate" 2>"$d/srv.err" &
	spid=$!
	wait_listen "$NS_S" tcp 5010 || fail "$name: server listens"
	in_c timeout 60 "$PY" "$T_TMP/xfer.py" fetch "$saddr" 5010 "$sport" \
	    "$d/got.bin" 2>"$d/cli.err" &
	crc=$!
	wait_for 50 established "$sport" || fail "$name: connection established"
	# twenty RSTs from the client's side while the data flows
	inj=$(in_c timeout 20 "$PY" "$T_TMP/rstinj.py" c0 "$caddr" "$saddr" \
	    "$sport" 5010 20 2>&1)
	echo "  $name: rstinj: $inj"
	check "$name: the transfer was still going on after the RSTs" \
	    kill -0 "$crc"
	touch "$d/gate"
	wait "$crc"
	crc=$?
	wait "$spid"
	check "$name: the transfer completes (client status $crc)" \
	    test "$crc" -eq 0
	check "$name: the client received the ${mb} MB intact" \
	    cmp -s "$d/src.bin" "$d/got.bin"
	check "$name: the RSTs were injected during the transfer" \
	    grep -q "sent 20 RSTs" <<<"$inj"
	check "$name: audit: the RSTs were dropped as rst-out-of-window" \
	    log_has "action=drop state=INVALID rule=- reason=rst-out-of-window proto=tcp src=$caddr sport=$sport dst=$saddr dport=5010 in=d0 out=d1 "
}
xfer_rst rst4 "$S4" "$C4" 40510 4
check "no RST reached the IPv4 server" \
    test "$(counter "$NS_S" "$IPT" filter INPUT rst4)" -eq 0
xfer_rst rst6 "$S6" "$C6" 40610 4
check "no RST reached the IPv6 server" \
    test "$(counter "$NS_S" "$IP6T" filter INPUT rst6)" -eq 0

# ---- 2. port unreachable RELATED to a UDP flow --------------------------------
counter_add "$NS_C" "$IPT" filter INPUT unreach4 -p icmp \
    --icmp-type port-unreachable
counter_add "$NS_C" "$IP6T" filter INPUT unreach6 -p icmpv6 \
    --icmpv6-type port-unreachable
rel0=$(lib_stat related)
# nothing listens on the server's port 5399: its kernel answers
got=$(in_c "$PY" "$T_TMP/udpref.py" "$S4" 5399)
check "UDP to a closed port: the client's socket gets ECONNREFUSED ($got)" \
    test "$got" = refused
got=$(in_c "$PY" "$T_TMP/udpref.py" "$S6" 5399)
check "IPv6 UDP to a closed port: ECONNREFUSED ($got)" test "$got" = refused
rel1=$(lib_stat related)
check "nfqspictl stats counts the RELATED errors ($rel0 -> $rel1)" \
    test "$rel1" -ge $((rel0 + 2))
n4=$(counter "$NS_C" "$IPT" filter INPUT unreach4)
n6=$(counter "$NS_C" "$IP6T" filter INPUT unreach6)
# the same error about a flow nobody opened
in_s "$PY" "$T_TMP/craft.py" unreach "$S4" "$C4" 5399 5398
in_s "$PY" "$T_TMP/craft.py" unreach "$S6" "$C6" 5399 5398
check "audit: a port unreachable about nothing is INVALID icmp-untracked-error" \
    log_has "action=drop state=INVALID rule=- reason=icmp-untracked-error proto=icmp src=$S4 dst=$C4 type=3 code=3 "
check "audit: the IPv6 one too" \
    log_has "action=drop state=INVALID rule=- reason=icmp-untracked-error proto=icmpv6 src=$S6 dst=$C6 type=1 code=4 "
check "and it does not reach the client" \
    test "$(counter "$NS_C" "$IPT" filter INPUT unreach4)" -eq "$n4"
check "nor the IPv6 client" \
    test "$(counter "$NS_C" "$IP6T" filter INPUT unreach6)" -eq "$n6"

# ---- 3. time exceeded from the firewall itself ---------------------------------
# dut's own kernel sends the time exceeded when a forwarded packet's TTL
# runs out; it leaves through dut's OUTPUT chain (not FORWARD), which is
# why OUTPUT's time exceeded messages are diverted too.  Its source is
# dut's address, not an endpoint of the connection it quotes.  Part 3b
# does the same with a router behind dut, whose error crosses FORWARD.
counter_add "$NS_C" "$IPT" filter INPUT texc4 -p icmp --icmp-type time-exceeded
counter_add "$NS_C" "$IP6T" filter INPUT texc6 -p icmpv6 \
    --icmpv6-type time-exceeded
bg_in "$NS_S" socat "TCP4-LISTEN:5020,bind=$S4,reuseaddr,fork" EXEC:cat
bg_in "$NS_S" socat "TCP6-LISTEN:5020,bind=[$S6],reuseaddr,fork" EXEC:cat
wait_listen "$NS_S" tcp 5020 || fail "server listens on 5020"
bg_in "$NS_C" sh -c "sleep 180 | socat - TCP4:$S4:5020,sourceport=40520,reuseaddr"
bg_in "$NS_C" sh -c "sleep 180 | socat - TCP6:[$S6]:5020,sourceport=40620,reuseaddr"
check "a TCP connection from port 40520 is established" \
    wait_for 50 established 40520
check "an IPv6 TCP connection from port 40620 is established" \
    wait_for 50 established 40620

in_c "$PY" "$T_TMP/craft.py" ttl1 "$C4" "$S4" 40520 5020 A
check "time exceeded from dut about the tracked connection reaches the client" \
    wait_for 30 counter_ge "$NS_C" "$IPT" filter INPUT texc4 1
in_c "$PY" "$T_TMP/craft.py" ttl1 "$C6" "$S6" 40620 5020 A
check "ICMPv6 time exceeded from dut about the tracked connection reaches the client" \
    wait_for 30 counter_ge "$NS_C" "$IP6T" filter INPUT texc6 1
n4=$(counter "$NS_C" "$IPT" filter INPUT texc4)
n6=$(counter "$NS_C" "$IP6T" filter INPUT texc6)
sleep 1		# dut's ICMP rate limit: one per second and peer, burst 6
in_c "$PY" "$T_TMP/craft.py" ttl1 "$C4" "$S4" 40521 5021 S
in_c "$PY" "$T_TMP/craft.py" ttl1 "$C6" "$S6" 40621 5021 S
check "audit: time exceeded about an untracked tuple is icmp-untracked-error" \
    log_has "action=drop state=INVALID rule=- reason=icmp-untracked-error proto=icmp src=$D4C dst=$C4 type=11 code=0 in= out=d0 "
check "audit: the IPv6 one too" \
    log_has "action=drop state=INVALID rule=- reason=icmp-untracked-error proto=icmpv6 src=$D6C dst=$C6 type=3 code=0 in= out=d0 "
check "and it does not reach the client" \
    test "$(counter "$NS_C" "$IPT" filter INPUT texc4)" -eq "$n4"
check "nor the IPv6 client" \
    test "$(counter "$NS_C" "$IP6T" filter INPUT texc6)" -eq "$n6"

# ---- 3b. time exceeded from a router in the path --------------------------------
# The server's namespace also routes to a network behind it (a veth pair
# with no host behind it, where packets die): for a connection from the client to FAR, the
# server is a router in the path, not an endpoint.  A SYN to FAR is let in
# (rule far) and tracked; its retransmission sent with TTL 2 expires at
# the server, whose time exceeded crosses dut's FORWARD from an
# address that is neither end of the connection: RELATED.
FAR4=10.$T_NET.3.9
FAR6=fd00:$T_NET:3::9
in_s sysctl -qw net.ipv4.ip_forward=1
in_s sysctl -qw net.ipv6.conf.all.forwarding=1
# shellcheck disable=SC2015  # the || is the whole chain's error path
in_s ip link add s1 type veth peer name s2 && in_s ip link set s1 up &&
    in_s ip link set s2 up &&
    in_s ip route add "10.$T_NET.3.0/24" dev s1 &&
    in_s ip -6 route add "fd00:$T_NET:3::/64" dev s1 &&
    in_d ip route add "10.$T_NET.3.0/24" via "$S4" &&
    in_d ip -6 route add "fd00:$T_NET:3::/64" via "$S6" ||
    fail "routes to the network behind the server"
n4=$(counter "$NS_C" "$IPT" filter INPUT texc4)
n6=$(counter "$NS_C" "$IP6T" filter INPUT texc6)
sleep 1		# the server's ICMP rate limit (it sent errors in part 2)
in_c "$PY" "$T_TMP/craft.py" ttl "$C4" "$FAR4" 40540 5040 S 64
in_c "$PY" "$T_TMP/craft.py" ttl "$C4" "$FAR4" 40540 5040 S 2
check "time exceeded from the router about the tracked connection reaches the client" \
    wait_for 30 counter_ge "$NS_C" "$IPT" filter INPUT texc4 $((n4 + 1))
in_c "$PY" "$T_TMP/craft.py" ttl "$C6" "$FAR6" 40640 5040 S 64
in_c "$PY" "$T_TMP/craft.py" ttl "$C6" "$FAR6" 40640 5040 S 2
check "ICMPv6 time exceeded from the router about the tracked connection reaches the client" \
    wait_for 30 counter_ge "$NS_C" "$IP6T" filter INPUT texc6 $((n6 + 1))
n4=$(counter "$NS_C" "$IPT" filter INPUT texc4)
n6=$(counter "$NS_C" "$IP6T" filter INPUT texc6)
# The router's error about a tuple nobody opened (nothing untracked gets
# through dut to make the router send one: the router is the server's
# namespace, so craft it there)
in_s "$PY" "$T_TMP/craft.py" texc "$S4" "$C4" "$FAR4" 40541 5041
in_s "$PY" "$T_TMP/craft.py" texc "$S6" "$C6" "$FAR6" 40641 5041
check "audit: the router's time exceeded about an untracked tuple is icmp-untracked-error" \
    log_has "action=drop state=INVALID rule=- reason=icmp-untracked-error proto=icmp src=$S4 dst=$C4 type=11 code=0 in=d1 out=d0 "
check "audit: the IPv6 one too" \
    log_has "action=drop state=INVALID rule=- reason=icmp-untracked-error proto=icmpv6 src=$S6 dst=$C6 type=3 code=0 in=d1 out=d0 "
check "and it does not reach the client" \
    test "$(counter "$NS_C" "$IPT" filter INPUT texc4)" -eq "$n4"
check "nor the IPv6 client" \
    test "$(counter "$NS_C" "$IP6T" filter INPUT texc6)" -eq "$n6"

# ---- 4. echo reply without a request --------------------------------------------
counter_add "$NS_C" "$IPT" filter INPUT echorep4 -p icmp --icmp-type echo-reply
counter_add "$NS_C" "$IP6T" filter INPUT echorep6 -p icmpv6 \
    --icmpv6-type echo-reply
in_s "$PY" "$T_TMP/craft.py" echoreply "$S4" "$C4"
in_s "$PY" "$T_TMP/craft.py" echoreply "$S6" "$C6"
check "audit: the unsolicited echo reply is dropped as icmp-no-request" \
    log_has "action=drop state=INVALID rule=- reason=icmp-no-request proto=icmp src=$S4 dst=$C4 type=0 code=0 "
check "audit: the IPv6 one too" \
    log_has "action=drop state=INVALID rule=- reason=icmp-no-request proto=icmpv6 src=$S6 dst=$C6 type=129 code=0 "
check "the unsolicited echo reply does not reach the client" \
    test "$(counter "$NS_C" "$IPT" filter INPUT echorep4)" -eq 0
check "nor the IPv6 one" \
    test "$(counter "$NS_C" "$IP6T" filter INPUT echorep6)" -eq 0
# the counters do count echo replies that answer a request
check "a ping from the client gets its replies" \
    quiet in_c ping -q -c 2 -W 1 -i 0.2 "$S4"
check "and the client's counter saw them" \
    counter_ge "$NS_C" "$IPT" filter INPUT echorep4 2
check "an IPv6 ping from the client gets its replies" \
    quiet in_c ping -6 -q -c 2 -W 1 -i 0.2 "$S6"
check "and the client's counter saw them" \
    counter_ge "$NS_C" "$IP6T" filter INPUT echorep6 2

# ---- 5. fragments --------------------------------------------------------------
# A SYN to port 5030 (denied by rule frag-deny, and the server listens
# there).  Nothing reassembles in front of the queue (the kernel tracks
# nothing in dut): nfqspid holds the fragments itself.
#  - split inside its TCP header (the first fragment holds the ports but
#    not the flags, RFC 1858): both fragments are INVALID fragment;
#  - split after its 40-byte header: nfqspid decides the whole SYN, and
#    rule frag-deny drops both fragments;
#  - a 3000-byte UDP request to an allowed port, fragmented by the
#    client's kernel, is answered (the answer is fragmented too).
# Either way the server must see nothing of the SYNs.
counter_add "$NS_S" "$IPT" raw PREROUTING fragsrc -s "$C4F"
counter_add "$NS_S" "$IP6T" raw PREROUTING fragsrc6 -s "$C6F"
bg_in "$NS_S" socat "TCP4-LISTEN:5030,bind=$S4,reuseaddr,fork" EXEC:cat
bg_in "$NS_S" socat "TCP6-LISTEN:5030,bind=[$S6],reuseaddr,fork" EXEC:cat
bg_in "$NS_S" "$PY" "$T_TMP/udpsrv.py" "$S4:5031" "$S6:5031"
wait_listen "$NS_S" tcp 5030 || fail "server listens on 5030"
wait_listen "$NS_S" udp 5031 || fail "server listens on UDP 5031"
big=$(head -c 3000 /dev/zero | tr '\0' f)

in_c "$PY" "$T_TMP/craft.py" fragsyn "$C4F" "$S4" 40530 5030 4001
check "a SYN split inside its TCP header is dropped as INVALID fragment" \
    log_has "action=drop state=INVALID rule=- reason=fragment proto=tcp src=$C4F "
in_c "$PY" "$T_TMP/craft.py" fragsyn6 "$C6F" "$S6" 40630 5030 4003
check "the same over IPv6" \
    log_has "action=drop state=INVALID rule=- reason=fragment proto=tcp src=$C6F "
in_c "$PY" "$T_TMP/craft.py" fragsyn "$C4F" "$S4" 40531 5030 4002 40
check "a SYN split after its header is decided whole: rule frag-deny drops it" \
    log_has "action=drop state=NEW rule=frag-deny proto=tcp src=$C4F sport=40531 dst=$S4 dport=5030 "
in_c "$PY" "$T_TMP/craft.py" fragsyn6 "$C6F" "$S6" 40631 5030 4004 40
check "the same over IPv6" \
    log_has "action=drop state=NEW rule=frag-deny proto=tcp src=$C6F sport=40631 dst=$S6 dport=5030 "
check "nothing of the fragmented SYNs reaches the server" \
    test "$(counter "$NS_S" "$IPT" raw PREROUTING fragsrc)" -eq 0
check "nothing of the fragmented IPv6 SYNs reaches the server" \
    test "$(counter "$NS_S" "$IP6T" raw PREROUTING fragsrc6)" -eq 0
got=$(in_c "$PY" "$T_TMP/udpcli.py" "$S4" 5031 "$big" 3 | head -c 5)
check "a 3000-byte UDP request to an allowed port is answered" \
    test "$got" = "pong:"
got=$(in_c "$PY" "$T_TMP/udpcli.py" "$S6" 5031 "$big" 3 | head -c 5)
check "a 3000-byte IPv6 UDP request to an allowed port is answered" \
    test "$got" = "pong:"

# ---- health and shutdown -------------------------------------------------------
ctout=$(lib_ctl conntrack 2>&1)
check "nfqspictl conntrack shows the held connection ESTABLISHED and ASSURED" \
    grep -Eq "^ipv4 +2 tcp +6 [0-9]+ ESTABLISHED src=$C4 dst=$S4 sport=40520 dport=5020 .*\[ASSURED\]" <<<"$ctout"
lib_finish

lib_summary
