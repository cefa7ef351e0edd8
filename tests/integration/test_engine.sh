#!/bin/bash
# test_engine.sh - the multi-threaded queue engine on the real kernel path,
# and its behaviour under load and faults (issue 5):
#  1. threads = 2 behind --queue-balance: TCP flows from 16 client
#     addresses spread over both workers, every one works, and each
#     flow's packets stay on one worker (tcp_loose = no: a packet on the
#     wrong worker would be INVALID); time exceeded from a router about
#     flows of either worker is RELATED and reaches the client (the error
#     hashes to one queue, the flows to both: the other worker is asked),
#     and so is a port unreachable in fragments, every fragment of it
#     (half of them about the other worker's flows, pinned there);
#     a second instance exits 1 (pidfile, or the queue in use) and leaves
#     the first alone;
#  2. SIGKILL under iperf3 load: with --queue-bypass traffic flows within
#     1 s, without it traffic stops; restarted, the running iperf3
#     connection is picked up (tcp_loose) and completes;
#  3. overload: the daemon stopped (SIGSTOP) for 2 s while UDP floods; the
#     queues drain to empty, the daemon lives, and per queue the kernel's
#     id sequence equals what the daemon read plus what the kernel could
#     not hand it (queue_user_dropped);
#  4. exactly one verdict: 100,000 packets with malformed ones mixed in;
#     queue_total back to 0 and read == verdicts;
#  5. SIGTERM under load: exit 0, and with fail_open and --queue-bypass
#     not one packet was dropped (none left in the queue at the unbind);
#  6. user =: every thread runs as that user with CapEff exactly
#     CAP_NET_ADMIN (+ CAP_NET_RAW when a rule rejects) and no_new_privs,
#     while packets keep getting verdicts; the systemd unit's hardening.
#
# Copyright (C) 2026 The nfqspid authors
# SPDX-License-Identifier: GPL-2.0-or-later
# shellcheck disable=SC2317  # functions run through check and wait_for
set -u

T_NET=${T_NET:-95}
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"

lib_init engine
lib_need iperf3
lib_topology
lib_write_helpers

Q0=$T_QUEUE
Q1=$((T_QUEUE + 1))
NCLI=16
FAR4=10.$T_NET.3
FAR6=fd00:$T_NET:3:
T_USER=

# the client's extra addresses: 10.N.1.100 ... (16 address pairs)
for i in $(seq 1 $NCLI); do
	ip -n "$NS_C" addr add "10.$T_NET.1.$((99 + i))/24" dev c0
done

# The server's namespace also routes a network behind it (a veth with
# nobody behind): a probe to it with TTL 2 dies at the server, whose time
# exceeded crosses dut as a router's error about the probe's flow.
in_s sysctl -qw net.ipv4.ip_forward=1
in_s sysctl -qw net.ipv6.conf.all.forwarding=1
in_s sysctl -qw net.ipv4.icmp_ratelimit=0
in_s sysctl -qw net.ipv6.icmp.ratelimit=0
in_s ip link add s1 type veth peer name s2
in_s ip link set s1 up
in_s ip link set s2 up
in_s ip route add "$FAR4.0/24" dev s1
in_s ip -6 route add "$FAR6:/64" dev s1
in_d ip route add "$FAR4.0/24" via "$S4"
in_d ip -6 route add "$FAR6:/64" via "$S6"

cat >"$T_TMP/echosrv.py" <<'EOF'
import socket, sys, threading
def serve(c):
    with c:
        while True:
            d = c.recv(65536)
            if not d:
                return
            c.sendall(d)
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((sys.argv[1], int(sys.argv[2])))
s.listen(128)
while True:
    c, _ = s.accept()
    threading.Thread(target=serve, args=(c,), daemon=True).start()
EOF
# flows.py DST PORT N SRC...: N connections from each SRC, 4000 bytes
# echoed each; prints the number that worked.
cat >"$T_TMP/flows.py" <<'EOF'
import os, socket, sys
dst, port, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
ok = 0
for src in sys.argv[4:]:
    for i in range(n):
        try:
            s = socket.create_connection((dst, port), timeout=5,
                                         source_address=(src, 0))
            data = os.urandom(4000)
            s.sendall(data)
            got = b""
            while len(got) < len(data):
                d = s.recv(65536)
                if not d:
                    break
                got += d
            s.close()
            ok += got == data
        except OSError:
            pass
print(ok)
EOF
# probes.py HOPLIMIT DST...: one UDP datagram to port 33434 of each DST
cat >"$T_TMP/probes.py" <<'EOF'
import socket, sys
ttl = int(sys.argv[1])
for dst in sys.argv[2:]:
    v6 = ":" in dst
    s = socket.socket(socket.AF_INET6 if v6 else socket.AF_INET,
                      socket.SOCK_DGRAM)
    if v6:
        s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_UNICAST_HOPS, ttl)
    else:
        s.setsockopt(socket.IPPROTO_IP, socket.IP_TTL, ttl)
    s.sendto(b"probe", (dst, 33434))
    s.close()
EOF
# fragerr.py flows SRC4 SRC6 DST...: from SRC, UDP port 41000 + i to port
# 33434 of DST i, hop limit 2 (the server answers time exceeded);
# fragerr.py errors FROM4 FROM6 TO4 TO6 DST...: from FROM, a port
# unreachable to TO about each of those flows, quoting 200 bytes, sent
# in fragments; prints how many fragments
cat >"$T_TMP/fragerr.py" <<'EOF'
import sys
from scapy.all import (ICMP, ICMPv6DestUnreach, IP, IPv6, IPv6ExtHdrFragment,
                       Raw, UDP, conf, fragment, fragment6, send)
conf.verb = 0
if sys.argv[1] == "flows":
    for i, dst in enumerate(sys.argv[4:]):
        v6 = ":" in dst
        ip = IPv6(src=sys.argv[3], dst=dst, hlim=2) if v6 else \
            IP(src=sys.argv[2], dst=dst, ttl=2)
        send(ip / UDP(sport=41000 + i, dport=33434) / Raw(b"probe"))
    sys.exit(0)
n = 0
for i, dst in enumerate(sys.argv[6:]):
    v6 = ":" in dst
    quote = (IPv6(src=sys.argv[5], dst=dst, hlim=1) if v6 else
             IP(src=sys.argv[4], dst=dst, ttl=1)) / \
        UDP(sport=41000 + i, dport=33434) / Raw(b"q" * 200)
    if v6:
        frags = fragment6(IPv6(src=sys.argv[3], dst=sys.argv[5]) /
                          IPv6ExtHdrFragment(id=i + 1) /
                          ICMPv6DestUnreach(code=4) / quote, 150)
    else:
        frags = fragment(IP(src=sys.argv[2], dst=sys.argv[4], id=i + 1) /
                         ICMP(type=3, code=3) / quote, fragsize=96)
    send(frags)
    n += len(frags)
print(n)
EOF
# flood.py DST PORT COUNT [PPS]: COUNT datagrams, as fast as possible or
# at about PPS a second
cat >"$T_TMP/flood.py" <<'EOF'
import socket, sys, time
dst, port, count = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
pps = float(sys.argv[4]) if len(sys.argv) > 4 else 0
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4 << 20)
start = time.monotonic()
msg = b"x" * 32
sent = 0
while sent < count:
    try:
        s.sendto(msg, (dst, port))
        sent += 1
    except (BlockingIOError, OSError):
        time.sleep(0.0005)
        continue
    if pps and sent % 100 == 0:
        ahead = sent / pps - (time.monotonic() - start)
        if ahead > 0:
            time.sleep(ahead)
EOF
# mixed.py SRC DST COUNT: COUNT packets over a raw socket, valid UDP and
# TCP mixed with malformed ones the kernel forwards but the parser
# refuses (TCP header length 8, XMAS flags, a torn option list, a UDP
# length past the packet, an ICMP error quoting garbage, a TCP fragment
# at offset 8).  The kernel fills in the IP length and checksum.
cat >"$T_TMP/mixed.py" <<'EOF'
import socket, struct, sys
src, dst, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
S, D = socket.inet_aton(src), socket.inet_aton(dst)
def ip(proto, payload, frag=0):
    return struct.pack("!BBHHHBBH4s4s", 0x45, 0, 0, 0, frag, 64, proto, 0,
                       S, D) + payload
def tcp(sport, dport, flags, doff=5, opts=b""):
    return struct.pack("!HHIIBBHHH", sport, dport, 1000, 0, doff << 4,
                       flags, 1024, 0, 0) + opts
def udp(sport, dport, ulen=None, data=b"payload!"):
    return struct.pack("!HHHH", sport, dport,
                       ulen if ulen else 8 + len(data), 0) + data
pkts = [
    ip(17, udp(40000, 9999)),                       # valid
    ip(17, udp(40001, 9999)),                       # valid
    ip(6, tcp(40002, 5001, 0x02)),                  # SYN, valid
    ip(6, tcp(40003, 5001, 0x02, doff=2)),          # tcp-hdrlen
    ip(6, tcp(40004, 5001, 0x29)),                  # XMAS
    ip(6, tcp(40005, 5001, 0x02, doff=6,
              opts=b"\x02\x01\x00\x00")),           # torn option
    ip(17, udp(40006, 9999, ulen=400)),             # udp-length
    ip(1, b"\x03\x03\x00\x00\x00\x00\x00\x00" + b"\x75" * 28),  # icmp-inner
    ip(6, tcp(40007, 5001, 0x02)[:16], frag=1),     # fragment at 8
    ip(253, b"experimental"),                       # other protocol
]
s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4 << 20)
sent = 0
while sent < count:
    try:
        s.sendto(pkts[sent % len(pkts)], (dst, 0))
        sent += 1
    except (BlockingIOError, OSError):
        pass
EOF
# iperf_ok.py FILE FROM: iperf3 -J ran without error and moved bytes in
# every interval from second FROM on
cat >"$T_TMP/iperf_ok.py" <<'EOF'
import json, sys
d = json.load(open(sys.argv[1]))
if d.get("error"):
    print(d["error"]); sys.exit(1)
iv = [i["sum"] for i in d["intervals"]]
late = [i["bytes"] for i in iv if i["start"] >= float(sys.argv[2])]
print("intervals", len(iv), "late bytes", late)
sys.exit(0 if late and min(late) > 0 else 1)
EOF

queues_empty()
{
	[ "$(lib_qcol "$Q0" 3)" -eq 0 ] && [ "$(lib_qcol "$Q1" 3)" -eq 0 ]
}

# per queue: every id the kernel gave out was read by the daemon, or
# counted by the kernel as not delivered (queue_user_dropped)
ids_match()
{
	local w q id got lost ok=0
	for w in 0 1; do
		q=$((T_QUEUE + w))
		id=$(lib_qcol "$q" 8)
		lost=$(lib_qcol "$q" 7)
		got=$(lib_stat queued "$w")
		echo "queue $q: id_sequence $id, read $got, user_dropped $lost, dropped $(lib_qcol "$q" 6)"
		[ "$id" -eq $((got + lost)) ] || ok=1
	done
	return "$ok"
}

divert()
{
	in_d "$IPT" -F FORWARD
	in_d "$IP6T" -F FORWARD
	in_d "$IPT" -A FORWARD -j NFQUEUE --queue-balance "$Q0:$Q1" "$@" &&
	    in_d "$IP6T" -A FORWARD -j NFQUEUE --queue-balance "$Q0:$Q1" "$@"
}

# engine_config LOOSE FAIL_OPEN [extra rules on stdin]
engine_config()
{
	local loose=$1 fo=$2
	lib_config <<EOF
[conntrack]
max = 65536
tcp_loose = $loose

$(lib_policy)

[rule echo]
proto = tcp
dport = 5001
action = accept
mark = 0x10

[rule iperf]
proto = tcp
dport = 5201
action = accept

[rule probe]
proto = udp
dport = 33434
action = accept
mark = 0x20

[rule flood]
proto = udp
dport = 9999
action = accept

$(lib_ping_rules)
$(cat)
EOF
	sed -i -e "s/^threads = 1/threads = 2/" \
	    -e "s/^fail_open = no/fail_open = $fo/" "$T_CONF"
}

_bound()
{
	[ "$(lib_qcol "$1" 1)" != -1 ]
}

related_ge()
{
	[ "$(lib_stat related)" -ge "$1" ]
}

# ---- 1. two workers, --queue-balance -------------------------------------------
engine_config no no </dev/null
check "nfqspid -n accepts the test configuration" "$NFQSPID" -n -c "$T_CONF"
divert || { echo "cannot divert FORWARD to NFQUEUE" >&2; exit 1; }
lib_must_start "nfqspid starts with 2 workers on queues $Q0 and $Q1"
# every queue is bound before the control socket opens
check "both queues are bound once it answers" _bound "$Q1"

bg_in "$NS_S" "$PY" "$T_TMP/echosrv.py" "$S4" 5001
wait_listen "$NS_S" tcp 5001 || fail "echo server listens"
srcs=$(for i in $(seq 1 $NCLI); do echo "10.$T_NET.1.$((99 + i))"; done)
# shellcheck disable=SC2086
n=$(in_c timeout 120 "$PY" "$T_TMP/flows.py" "$S4" 5001 2 $srcs)
check "all $((NCLI * 2)) connections from $NCLI addresses carry their data (got $n)" \
    test "$n" = $((NCLI * 2))
c0=$(lib_stat created 0); c1=$(lib_stat created 1)
check "the flows are spread over both workers (created: $c0 and $c1)" \
    test "$c0" -gt 0 -a "$c1" -gt 0
check "their sum is every connection ($((c0 + c1)))" test $((c0 + c1)) -eq $((NCLI * 2))
check "no packet was INVALID: each flow stayed on its worker (tcp_loose = no)" \
    test "$(lib_stat invalid)" -eq 0
check "every packet read got its verdict" test "$(lib_stat queued)" -eq "$(lib_stat verdicts)"

counter_add "$NS_C" "$IPT" filter INPUT texc4 -p icmp --icmp-type time-exceeded
counter_add "$NS_C" "$IP6T" filter INPUT texc6 -p icmpv6 --icmpv6-type time-exceeded
far4=$(for i in $(seq 1 16); do echo "$FAR4.$i"; done)
far6=$(for i in $(seq 1 8); do echo "$FAR6:$i"; done)
rel0=$(lib_stat related)
# shellcheck disable=SC2086
in_c "$PY" "$T_TMP/probes.py" 2 $far4 $far6
check "16 time exceeded from the router reach the client" \
    wait_for 50 counter_ge "$NS_C" "$IPT" filter INPUT texc4 16
check "8 ICMPv6 time exceeded from the router reach the client" \
    wait_for 50 counter_ge "$NS_C" "$IP6T" filter INPUT texc6 8
check "all 24 were RELATED ($(( $(lib_stat related) - rel0 )))" \
    test $(( $(lib_stat related) - rel0 )) -eq 24
d=$(lib_stat deferred)
check "errors about the other worker's flows were asked about ($d deferred)" \
    test "$d" -gt 0
check "none was icmp-untracked-error" log_lacks "reason=icmp-untracked-error"
check "every packet read got its verdict" test "$(lib_stat queued)" -eq "$(lib_stat verdicts)"
# errors in fragments: all of a datagram's reach one worker, which asks
# about it once it is whole; every fragment is RELATED.  The kernel's
# hash (addresses and protocol, seeded at random) sends every IPv4 error
# (S4 to C4) to one queue and every IPv6 one to one queue, which one we
# cannot know; so the flows are pinned while they open, half to each
# queue, and whichever it is, 8 IPv4 and 4 IPv6 errors are about the
# other worker's flows (before the pins, all 24 flows could land on
# their errors' worker, odds 2^-24, and the check missed the case).
# pin -I|-D: add or remove the pins, flow i's probe to queue Q0 + i % 2
pin()
{
	local i
	for i in $(seq 1 16); do
		in_d "$IPT" "$1" FORWARD -p udp -d "$FAR4.$i" --dport 33434 \
		    -j NFQUEUE --queue-num $((Q0 + i % 2)) || return 1
	done
	for i in $(seq 1 8); do
		in_d "$IP6T" "$1" FORWARD -p udp -d "$FAR6:$i" --dport 33434 \
		    -j NFQUEUE --queue-num $((Q0 + i % 2)) || return 1
	done
}
c0=$(lib_stat created 0); c1=$(lib_stat created 1)
check "the 24 flows are pinned to the queues" pin -I
# shellcheck disable=SC2086
in_c "$PY" "$T_TMP/fragerr.py" flows "$C4" "$C6" $far4 $far6
check "24 flows with known ports are open (their time exceeded came)" \
    wait_for 50 counter_ge "$NS_C" "$IPT" filter INPUT texc4 32
wait_for 50 counter_ge "$NS_C" "$IP6T" filter INPUT texc6 16
check "the pins are gone" pin -D
c0=$(( $(lib_stat created 0) - c0 )); c1=$(( $(lib_stat created 1) - c1 ))
check "each worker holds 12 of them ($c0 and $c1)" \
    test "$c0" -eq 12 -a "$c1" -eq 12
rel0=$(lib_stat related)
# shellcheck disable=SC2086
nf=$(in_s "$PY" "$T_TMP/fragerr.py" errors "$S4" "$S6" "$C4" "$C6" $far4 $far6)
check "24 port unreachables about them, in $nf fragments, are all RELATED" \
    wait_for 50 related_ge $((rel0 + nf))
check "... and nothing more ($(( $(lib_stat related) - rel0 )))" \
    test $(( $(lib_stat related) - rel0 )) -eq "$nf"
check "none of them was icmp-untracked-error" log_lacks "reason=icmp-untracked-error"
check "every packet read got its verdict" test "$(lib_stat queued)" -eq "$(lib_stat verdicts)"
# an error about nobody's flow is still INVALID after asking
in_s "$PY" -c "
from scapy.all import IP, ICMP, UDP, send
send(IP(src='$S4', dst='$C4')/ICMP(type=11, code=0)/IP(src='$C4', dst='$FAR4.77', ttl=1)/UDP(sport=4444, dport=33434), verbose=0)"
check "a time exceeded about no flow is icmp-untracked-error after asking" \
    log_has "reason=icmp-untracked-error proto=icmp src=$S4 dst=$C4 type=11"

# a second instance: the pidfile stops it; with a pidfile of its own, the
# bind does; either way it exits 1 and the first goes on
ports="$(lib_qcol "$Q0" 2) $(lib_qcol "$Q1" 2)"
"$NFQSPID" -f -c "$T_CONF" >"$T_TMP/second.log" 2>&1
rc=$?
check "a second instance with the same pidfile exits 1 ($rc)" test "$rc" = 1
check "... saying nfqspid is already running" \
    grep -q "nfqspid is already running (pid $T_DPID" "$T_TMP/second.log"
sed -e "s|^pidfile = .*|pidfile = $T_TMP/second.pid|" \
    -e "s|^control = .*|control = $T_TMP/second.sock|" "$T_CONF" >"$T_TMP/second.ini"
in_d "$NFQSPID" -f -c "$T_TMP/second.ini" >"$T_TMP/second.log" 2>&1
rc=$?
check "a second instance on the same queues exits 1 ($rc)" test "$rc" = 1
check "... saying queue $Q0 is in use by another process" \
    grep -q "queue $Q0 is in use by another process" "$T_TMP/second.log"
check "the first still decides: a connection works" \
    test "$(in_c timeout 30 "$PY" "$T_TMP/flows.py" "$S4" 5001 1 "$C4")" = 1
check "... and both queues are still bound to its sockets ($ports)" \
    test "$(lib_qcol "$Q0" 2) $(lib_qcol "$Q1" 2)" = "$ports"
lib_finish

# ---- 2. SIGKILL under iperf3 load --------------------------------------------------
engine_config yes no </dev/null
kill_test()
{
	local mode=$1 secs=$2 from=$3 ipid rc
	bg_in "$NS_S" iperf3 -s -1 -p 5201 -B "$S4"
	wait_listen "$NS_S" tcp 5201 || fail "$mode: iperf3 server listens"
	in_c iperf3 -c "$S4" -p 5201 -t "$secs" -i 1 -J >"$T_TMP/iperf-$mode.json" 2>&1 &
	ipid=$!
	sleep 2
	kill -KILL "$T_DPID"
	wait "$T_DPID" 2>/dev/null
	T_DPID=
	rm -f "$T_CTL"
	sleep 0.2
	if [ "$mode" = bypass ]; then
		check "$mode: traffic flows within 1 s of SIGKILL (ping)" \
		    quiet in_c ping -c 1 -W 1 "$S4"
	else
		check "$mode: traffic stops while the daemon is dead (ping)" \
		    not quiet in_c ping -c 1 -W 1 "$S4"
	fi
	sleep 1.5
	lib_must_start "$mode: nfqspid starts again under load"
	wait "$ipid"
	rc=$?
	check "$mode: iperf3 completes without error (status $rc)" test "$rc" -eq 0
	check "$mode: the running connection carried data after the restart" \
	    "$PY" "$T_TMP/iperf_ok.py" "$T_TMP/iperf-$mode.json" "$from"
	check "$mode: picked up mid-stream, no INVALID" test "$(lib_stat invalid)" -eq 0
	# GSO: the queue hands over super-packets above the veth's MTU
	avg=$(lib_ctl -j rules | "$PY" -c '
import json, sys
e = {k.lower(): v for k, v in json.load(sys.stdin)["policy_counters"].items()}["established"]
print(e["bytes"] // max(e["packets"], 1))')
	check "$mode: GSO packets larger than the MTU were decided (average $avg bytes)" \
	    test "${avg:-0}" -gt 1500
}
divert --queue-bypass
lib_must_start "bypass: nfqspid starts"
kill_test bypass 8 5
divert
# the connection waits for TCP's backed-off retransmission after the
# restart: only the last seconds must carry data
kill_test nobypass 12 10

# ---- 3. overload: SIGSTOP while UDP floods -----------------------------------------
kill -STOP "$T_DPID"
in_c timeout 20 "$PY" "$T_TMP/flood.py" "$S4" 9999 40000 40000 &
fpid=$!
sleep 2
kill -CONT "$T_DPID"
wait "$fpid"
check "overload: both queues drain to empty" wait_for 100 queues_empty
check "overload: the daemon is alive and answers" quiet lib_ctl status
check "overload: the kernel dropped what did not fit ($(( $(lib_qcol "$Q0" 6) + $(lib_qcol "$Q1" 6) + $(lib_qcol "$Q0" 7) + $(lib_qcol "$Q1" 7) )))" \
    test $(( $(lib_qcol "$Q0" 6) + $(lib_qcol "$Q1" 6) + $(lib_qcol "$Q0" 7) + $(lib_qcol "$Q1" 7) )) -gt 0
check "overload: per queue, id sequence = read + user_dropped" ids_match
check "overload: read == verdicts" test "$(lib_stat queued)" -eq "$(lib_stat verdicts)"

# ---- 4. exactly one verdict for 100,000 packets ---------------------------------------
inv0=$(lib_stat invalid)
in_c timeout 60 "$PY" "$T_TMP/mixed.py" "$C4" "$S4" 100000
check "100k: both queues drain to empty" wait_for 100 queues_empty
check "100k: read == verdicts ($(lib_stat queued) / $(lib_stat verdicts))" \
    test "$(lib_stat queued)" -eq "$(lib_stat verdicts)"
check "100k: per queue, id sequence = read + user_dropped" ids_match
check "100k: malformed ones were INVALID ($(( $(lib_stat invalid) - inv0 )))" \
    test $(( $(lib_stat invalid) - inv0 )) -gt 0
check "100k: the daemon is alive" quiet lib_ctl status
lib_stop_daemon
check "SIGTERM: exit status 0 ($T_DRC)" test "${T_DRC:-x}" = 0

# ---- 5. SIGTERM under load: nothing left behind -----------------------------------------
engine_config yes yes </dev/null
divert --queue-bypass
counter_add "$NS_D" "$IPT" mangle FORWARD fl-in -p udp -s "$C4" --dport 9999
counter_add "$NS_D" "$IPT" mangle POSTROUTING fl-out -p udp -s "$C4" --dport 9999
lib_must_start "sigterm: nfqspid starts"
in_c timeout 20 "$PY" "$T_TMP/flood.py" "$S4" 9999 60000 20000 &
fpid=$!
sleep 1
lib_stop_daemon
check "sigterm under load: exit status 0 (${T_DRC:-none})" test "${T_DRC:-x}" = 0
wait "$fpid"
a=$(counter "$NS_D" "$IPT" mangle FORWARD fl-in)
b=$(counter "$NS_D" "$IPT" mangle POSTROUTING fl-out)
check "sigterm under load: all $a flood packets left dut ($b): none was left in the queue" \
    test "$a" -eq "$b" -a "$a" -gt 0

# ---- 6. user =, capabilities, the systemd unit --------------------------------------------
# made by make from etc/nfqspid.service.in, with this build's sbindir
unit=$top_builddir/etc/nfqspid.service
check "nfqspid.service: made, every @...@ replaced" \
    sh -c "test -s '$unit' && ! grep -Eq '@[a-z_]+@' '$unit'"
check "nfqspid.service: ExecStart=${sbindir:-?}/nfqspid -f" \
    grep -qx "ExecStart=${sbindir:-?}/nfqspid -f" "$unit"
# a refused file fails systemctl reload (make check-systemd)
check "nfqspid.service: ExecReload=+${sbindir:-?}/nfqspictl reload \$MAINPID" \
    grep -qx "ExecReload=+${sbindir:-?}/nfqspictl reload \\\$MAINPID" "$unit"
# (the rest of the sandbox: tests/unit-security.sh; under a real
# systemd: make check-systemd)
for k in "Type=notify" "NotifyAccess=main" "RestartPreventExitStatus=2" \
    "Restart=on-failure" "WatchdogSec=30s" \
    "CapabilityBoundingSet=CAP_NET_ADMIN CAP_NET_RAW CAP_SETUID CAP_SETGID" \
    "NoNewPrivileges=yes" \
    "ProtectSystem=strict" "ProtectHome=yes" "PrivateTmp=yes" \
    "RestrictAddressFamilies=AF_NETLINK AF_UNIX AF_INET AF_INET6"; do
	check "nfqspid.service: $k" grep -qx "$k" "$unit"
done

T_USER=nfqspi-test-$$
useradd -r -M -s /usr/sbin/nologin "$T_USER" || fail "useradd $T_USER"
trap 'rc=$?; userdel "$T_USER" 2>/dev/null; (exit $rc); lib_cleanup' EXIT
chmod 755 "$T_TMP"

# caps_ok WANT: every thread of the daemon: Uid and Gid not 0, CapEff
# WANT, CapPrm WANT, NoNewPrivs 1
caps_ok()
{
	local want=$1 f bad=0 n=0
	for f in /proc/"$T_DPID"/task/*/status; do
		n=$((n + 1))
		awk -v want="$want" '
		    /^Uid:/ { if ($2 == 0 || $3 == 0 || $4 == 0 || $5 == 0) bad = 1 }
		    /^Gid:/ { if ($2 == 0 || $3 == 0 || $4 == 0 || $5 == 0) bad = 1 }
		    /^CapEff:/ { if ($2 != want) bad = 1 }
		    /^CapPrm:/ { if ($2 != want) bad = 1 }
		    /^NoNewPrivs:/ { if ($2 != 1) bad = 1 }
		    END { exit bad }' "$f" || { bad=1; grep -E "^(Uid|Gid|Cap|NoNew)" "$f"; }
	done
	echo "$n threads checked"
	[ "$bad" -eq 0 ] && [ "$n" -ge 4 ]
}

for variant in admin reject; do
	if [ $variant = admin ]; then
		want=0000000000001000
		engine_config yes no </dev/null
	else
		want=0000000000003000
		engine_config yes no <<EOF

[rule refuse]
proto = tcp
dport = 5999
action = reject
EOF
	fi
	sed -i "s/^\[daemon\]/[daemon]\nuser = $T_USER/" "$T_CONF"
	divert
	# (not lib_must_start: the other variant still runs)
	if ! lib_start_daemon; then
		fail "user=$T_USER ($variant): nfqspid starts"
		continue
	fi
	ok "user=$T_USER ($variant): nfqspid starts"
	check "user ($variant): every thread not root, CapEff $want, no_new_privs" \
	    caps_ok $want
	q0=$(lib_stat queued)
	check "user ($variant): packets still get verdicts (ping)" \
	    quiet in_c ping -c 2 -W 2 "$S4"
	check "user ($variant): a TCP connection works" \
	    test "$(in_c timeout 30 "$PY" "$T_TMP/flows.py" "$S4" 5001 1 "$C4")" = 1
	check "user ($variant): the daemon read them ($q0 -> $(lib_stat queued))" \
	    test "$(lib_stat queued)" -gt "$q0"
	if [ $variant = reject ]; then
		# refused at once by the daemon's reset, not after nc's
		# 4 s timeout (a drop)
		t0=$(date +%s%N)
		in_c timeout 10 nc -z -w 4 "$S4" 5999
		t1=$(date +%s%N)
		check "user (reject): the reset comes at once, CAP_NET_RAW kept ($(( (t1 - t0) / 1000000 )) ms)" \
		    test $(( (t1 - t0) / 1000000 )) -lt 2000
	fi
	lib_stop_daemon
	check "user ($variant): SIGTERM: exit status 0 ($T_DRC)" test "${T_DRC:-x}" = 0
done
userdel "$T_USER" 2>/dev/null

check "after every run above, the kernel still tracks nothing in dut" \
    lib_untracked
lib_summary
