#!/bin/bash
# test_attacks.sh - what an attacker sends, on the real kernel path
# (client -> dut's FORWARD -> NFQUEUE -> nfqspid -> server):
#  1. blind injection: during a 100 MB transfer, 100,000 segments with the
#     connection's exact tuple (half from each side), RST and data in
#     turn, sequence numbers half the sequence space away: the transfer
#     completes with identical bytes, nothing injected reaches either
#     end, and the daemon's per-reason counters grow by exactly what was
#     sent (rst-out-of-window, seq-out-of-window);
#  2. scans: nmap -sX, -sN, -sF, -sA (INVALID: dropped and audited, at
#     most at the [log] rate, the rest summarised as "suppressed N") and
#     -sS (half-open entries, gone once timeout_tcp_syn_sent passed);
#  3. a malformed storm: 1,000,000 packets from a pool of scapy fuzz()
#     templates and random bytes behind valid IPv4/IPv6 headers: the daemon
#     stays up, every packet gets its verdict (received = accepted +
#     dropped, the kernel's queue back to 0 and never overflowing), RSS
#     grows by less than 5% between the warm-up and the end;
#  4. fragments and IPv6 extension headers against a rule that denies
#     tcp/22 (everything else to the server is allowed): a SYN split
#     inside its TCP header, overlapping fragments (ports rewritten,
#     flags rewritten, RFC 1858), long and zero-length extension header
#     chains, a chain that pushes the TCP header into the second
#     fragment -- nfqspid's own fragment cache, the kernel tracking
#     nothing in dut: nothing from the attacker's address reaches the
#     server.
#
# Sizes: ATTACK_SCALE divides the packet counts (default 1, or 4 when
# nfqspid is built with AddressSanitizer, which makes it a few times
# slower; the RSS check is left to the normal build then, as ASan's
# quarantine holds on to freed memory); ATTACK_PARTS="inject scan storm
# frag" picks parts (under valgrind "scan frag").  The figures are
# printed as "figure:" lines.
#
# Copyright (C) 2026 The nfqspid authors
# SPDX-License-Identifier: GPL-2.0-or-later
# shellcheck disable=SC2317  # functions run through check and wait_for
set -u

T_NET=${T_NET:-91}
T_QUEUE=${T_QUEUE:-15}
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"

HTTP_PORT=8471
C4A=10.$T_NET.1.3		# the attacker's own addresses: fragments
C6A=fd00:$T_NET:1::3
C4M=10.$T_NET.1.50		# the storm's source (not on any interface)
C6M=fd00:$T_NET:1::50
XPORT=40100			# the injected transfer's client port

lib_init attacks
lib_flood_lock
lib_need nmap cc curl
asan=0
ldd "$NFQSPID" 2>/dev/null | grep -q libasan && asan=1
if [ -z "${ATTACK_SCALE:-}" ]; then
	ATTACK_SCALE=1
	[ "$asan" -eq 1 ] && ATTACK_SCALE=4
fi
N_INJECT=$((100000 / ATTACK_SCALE))
N_STORM=$((1000000 / ATTACK_SCALE))
echo "ATTACK_SCALE=$ATTACK_SCALE: $N_INJECT injected segments, $N_STORM storm packets"
# ATTACK_PARTS: which parts to run (all by default; under valgrind,
# NFQSPID_VALGRIND, the scans and fragments: the injection and the
# storm measure a daemon that keeps up with the kernel)
[ "${#T_VG[@]}" -gt 0 ] && : "${ATTACK_PARTS:=scan frag}"
: "${ATTACK_PARTS:=inject scan storm frag}"
part() { [[ " $ATTACK_PARTS " == *" $1 "* ]]; }

lib_topology
lib_write_helpers
in_c ip addr add "$C4A/24" dev c0
in_c ip addr add "$C6A/64" dev c0 nodad preferred_lft 0

cc -O2 -o "$T_TMP/rawsend" "$(dirname "$0")/rawsend.c" ||
    { echo "cannot build rawsend" >&2; exit 1; }

lib_config <<EOF
[conntrack]
max = 100000
tcp_loose = no
; the storm's random fragments are held until they time out, in the
; kernel's queue: not for 30 s here
frag_timeout = 2
timeout_tcp_syn_sent = 5
timeout_tcp_syn_recv = 5
timeout_tcp_close = 5

$(lib_policy)

[rule ssh-deny]
proto = tcp
dport = 22
action = drop
log = yes

[rule tcp-server]
proto = tcp
dst = $S4, $S6
action = accept

[rule udp-server]
proto = udp
dst = $S4, $S6
action = accept

[rule ping]
proto = icmp
action = accept

[rule ping6]
proto = icmpv6
action = accept
EOF
sed -i -e "s/^rate = 1000\$/rate = 20/" \
    -e "s/^\\[daemon\\]\$/[daemon]\\nhttp = 127.0.0.1:$HTTP_PORT/" "$T_CONF"
check "nfqspid -n accepts the test configuration" "$NFQSPID" -n -c "$T_CONF"
lib_start "nfqspid starts" "$@"
QFILE=/proc/$T_DPID/net/netfilter/nfnetlink_queue
MAC_D0=$(in_d cat /sys/class/net/d0/address)
MAC_D1=$(in_d cat /sys/class/net/d1/address)


# reason WORD: INVALID packets of that reason so far (the status page)
reason()
{
	in_d curl -s --max-time 5 "http://127.0.0.1:$HTTP_PORT/api/stats" |
	    "$PY" -c '
import json, sys
d = json.load(sys.stdin)
def find(o):
    if isinstance(o, dict):
        if "invalid_reasons" in o:
            return o["invalid_reasons"]
        for v in o.values():
            r = find(v)
            if r is not None:
                return r
    return None
r = find(d) or {}
print(r if sys.argv[1] == "all" else r.get(sys.argv[1], 0))' "$1"
}

rss() { awk '/^VmRSS:/ { print $2 }' "/proc/$T_DPID/status"; }
ctcount() { lib_ctl conntrack count 2>/dev/null | tr -dc 0-9; }

# ---- 1. blind injection into a 100 MB transfer -----------------------------------
if part inject; then
	# The client sends 100 MB at a bounded rate and holds its last 1 MB back
	# until both injectors are done, so that every injected segment meets a
	# live connection.
	cat >"$T_TMP/bulk.py" <<'EOF'
import os, socket, sys, time
dst, port, sport, src, path, flag = sys.argv[1:7]
data = open(path, "rb").read()
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((src, int(sport)))
s.settimeout(60)
s.connect((dst, int(port)))
chunk, rate = 65536, 40 * 1024 * 1024
t0, off, hold = time.time(), 0, len(data) - 1024 * 1024
while off < len(data):
    if off >= hold:
        end = time.time() + 300
        while not os.path.exists(flag) and time.time() < end:
            time.sleep(0.1)
        hold = len(data)
    n = min(chunk, hold - off)
    s.sendall(data[off:off + n])
    off += n
    ahead = off / rate - (time.time() - t0)
    if ahead > 0:
        time.sleep(ahead)
s.shutdown(socket.SHUT_WR)
while s.recv(65536):
    pass
print("sent %d bytes in %.1f s" % (off, time.time() - t0))
EOF
	head -c $((100 * 1024 * 1024)) /dev/urandom >"$T_TMP/bulk.bin"
	counter_add "$NS_S" "$IPT" raw PREROUTING inj-s -p tcp -m ttl --ttl-eq 76
	counter_add "$NS_C" "$IPT" raw PREROUTING inj-c -p tcp -m ttl --ttl-eq 76
	in_s timeout 300 socat -u "TCP4-LISTEN:5010,bind=$S4,reuseaddr" \
	    "OPEN:$T_TMP/bulk.out,creat,trunc" 2>"$T_TMP/bulk-srv.err" &
	spid=$!
	wait_listen "$NS_S" tcp 5010 || fail "the bulk server listens"
	reason all >"$T_TMP/reasons.before"
	rst0=$(reason rst-out-of-window)
	seq0=$(reason seq-out-of-window)
	qd0=$(lib_qcol "$T_QUEUE" 6)
	# what happened to the entries, for a failure's post-mortem
	lib_ctl events >"$T_TMP/events.log" 2>&1 &
	evpid=$!
	in_c "$PY" "$T_TMP/bulk.py" "$S4" 5010 "$XPORT" "$C4" "$T_TMP/bulk.bin" \
	    "$T_TMP/inj.done" >"$T_TMP/bulk-cli.out" 2>&1 &
	cpid=$!
	half=$((N_INJECT / 2))
	in_c "$T_TMP/rawsend" inject c0 "$MAC_D0" "$C4" "$S4" "$XPORT" 5010 \
	    "$half" 77 "$QFILE" "$T_QUEUE" >"$T_TMP/inj-c.out" 2>&1 &
	ic=$!
	in_s "$T_TMP/rawsend" inject s0 "$MAC_D1" "$S4" "$C4" 5010 "$XPORT" \
	    $((N_INJECT - half)) 77 "$QFILE" "$T_QUEUE" >"$T_TMP/inj-s.out" 2>&1 &
	is=$!
	wait "$ic"; icrc=$?
	wait "$is"; isrc=$?
	touch "$T_TMP/inj.done"
	wait "$cpid"; crc=$?
	wait "$spid"
	read -r _ rc_c _ dc_c <"$T_TMP/inj-c.out"
	read -r _ rc_s _ dc_s <"$T_TMP/inj-s.out"
	sent_rst=$((rc_c + rc_s))
	sent_data=$((dc_c + dc_s))
	echo "  $(cat "$T_TMP/bulk-cli.out")"
	check "injectors done (status $icrc, $isrc): $sent_rst RSTs and $sent_data data segments" \
	    test "$icrc" -eq 0 -a "$isrc" -eq 0 -a $((sent_rst + sent_data)) -eq "$N_INJECT"
	check "the 100 MB transfer completes (client status $crc)" test "$crc" -eq 0
	check "the server received the 100 MB exactly (cmp)" \
	    cmp -s "$T_TMP/bulk.bin" "$T_TMP/bulk.out"
	check "no injected segment reached the server" \
	    test "$(counter "$NS_S" "$IPT" raw PREROUTING inj-s)" -eq 0
	check "no injected segment reached the client" \
	    test "$(counter "$NS_C" "$IPT" raw PREROUTING inj-c)" -eq 0
	# lib_qdelta: empty, so the check fails, if the queue was not bound
	qd=$(lib_qdelta "$qd0" "$(lib_qcol "$T_QUEUE" 6)")
	check "the kernel dropped none for a full queue (${qd:-queue not bound})" \
	    test "$qd" = 0
	reason all >"$T_TMP/reasons.after"
	drst=$(( $(reason rst-out-of-window) - rst0 ))
	dseq=$(( $(reason seq-out-of-window) - seq0 ))
	echo "figure: injection: $sent_rst RSTs sent, rst-out-of-window +$drst; $sent_data data segments sent, seq-out-of-window +$dseq"
	check "every injected RST is INVALID rst-out-of-window ($drst of $sent_rst)" \
	    test "$drst" -eq "$sent_rst"
	check "every injected data segment is INVALID seq-out-of-window ($dseq of $sent_data)" \
	    test "$dseq" -eq "$sent_data"
	kill "$evpid" 2>/dev/null
	wait "$evpid" 2>/dev/null
	rm -f "$T_TMP/bulk.bin" "$T_TMP/bulk.out"

	# During the handshake: the server never answers (its SYNs are
	# dropped), so the entry stays SYN_SENT; a blind RST from the
	# server's side, without an ACK or acknowledging anything but the
	# SYN, must neither pass nor end the entry (RFC 9293 3.10.7.3).
	in_s "$IPT" -A INPUT -p tcp --dport 5013 --syn -j DROP
	counter_add "$NS_C" "$IPT" raw PREROUTING syn-c -p tcp -m ttl --ttl-eq 87
	in_c timeout 8 socat -T 6 /dev/null \
	    "TCP4:$S4:5013,sourceport=40200,connect-timeout=6" 2>/dev/null &
	hpid=$!
	synsent() {
		lib_ctl conntrack 2>/dev/null |
		    grep -q "SYN_SENT src=$C4 dst=$S4 sport=40200 dport=5013 "
	}
	wait_for 30 synsent
	cat >"$T_TMP/rst.py" <<'EOF'
import sys
from scapy.all import IP, TCP, conf, send
conf.verb = 0
s4, c4 = sys.argv[1], sys.argv[2]
for flags, ack in (("R", 0), ("RA", 12345), ("RA", 0)):
    send(IP(src=s4, dst=c4, ttl=88) / TCP(sport=5013, dport=40200,
         flags=flags, seq=0x5a5a5a5a, ack=ack))
# a SYN/ACK with a wrong ack first, then a RST in the window it offered
send(IP(src=s4, dst=c4, ttl=88) / TCP(sport=5013, dport=40200, flags="SA",
     seq=0x6b6b6b6b, ack=12345, window=65535))
send(IP(src=s4, dst=c4, ttl=88) / TCP(sport=5013, dport=40200, flags="R",
     seq=0x6b6b6b6c))
EOF
	rst0=$(reason rst-out-of-window)
	ack0=$(reason ack-out-of-window)
	in_s "$PY" "$T_TMP/rst.py" "$S4" "$C4"
	sleep 0.5
	n=$(( $(reason rst-out-of-window) - rst0 ))
	check "blind RSTs in SYN_SENT are INVALID rst-out-of-window (4 sent, +$n)" \
	    test "$n" -eq 4
	n=$(( $(reason ack-out-of-window) - ack0 ))
	check "a blind SYN/ACK in SYN_SENT is INVALID ack-out-of-window (+$n)" \
	    test "$n" -eq 1
	check "blind RSTs in SYN_SENT leave the entry SYN_SENT" synsent
	check "blind RSTs in SYN_SENT do not reach the client" \
	    test "$(counter "$NS_C" "$IPT" raw PREROUTING syn-c)" -eq 0
	kill "$hpid" 2>/dev/null
	wait "$hpid" 2>/dev/null

fi
# ---- 2. scans -----------------------------------------------------------------
if part scan; then
	# The server answers ports 1-499 (RST or SYN-ACK) and silently drops
	# 500-1000, which leaves the -sS scan's entries half-open.
	in_s "$IPT" -A INPUT -p tcp --dport 500:1000 -j DROP
	bg_in "$NS_S" socat "TCP4-LISTEN:80,bind=$S4,reuseaddr,fork" EXEC:cat
	bg_in "$NS_S" socat "TCP4-LISTEN:22,bind=$S4,reuseaddr,fork" EXEC:cat
	wait_listen "$NS_S" tcp 22 || fail "the server listens on 22"
	lib_ctl conntrack flush >/dev/null
	# Stamp each line of the daemon's log with the second it was written.
	cat >"$T_TMP/stamp.py" <<'EOF'
import sys, time
f = open(sys.argv[1], "r", errors="replace")
f.seek(0, 2)
out = open(sys.argv[2], "w")
while True:
    line = f.readline()
    if not line:
        time.sleep(0.05)
        continue
    out.write("%d %s" % (int(time.time()), line))
    out.flush()
EOF
	"$PY" "$T_TMP/stamp.py" "$T_LOG" "$T_TMP/stamped.log" &
	stamper=$!
	sleep 0.5
	inv0=$(lib_stat invalid)
	aud0=$(lib_stat audited)
	sup0=$(lib_stat suppressed)
	for scan in -sX -sN -sF -sA; do
		in_c timeout 120 nmap -n -Pn "$scan" -p 1-1000 --max-retries 0 \
		    --min-rate 2000 "$S4" >"$T_TMP/nmap$scan.out" 2>&1
		check "nmap $scan ran" grep -q "Nmap done" "$T_TMP/nmap$scan.out"
	done
	check "nmap -sX, -sN, -sF: no port seen open or closed (all dropped)" \
	    not grep -Eq '^[0-9]+/tcp +(open|closed) ' \
	    "$T_TMP/nmap-sX.out" "$T_TMP/nmap-sN.out" "$T_TMP/nmap-sF.out"
	check "nmap -sA: no port seen unfiltered (all dropped)" \
	    not grep -Eq '^[0-9]+/tcp +unfiltered' "$T_TMP/nmap-sA.out"
	check "the XMAS scan is audited as INVALID bad-tcp-flags" \
	    log_has "action=drop state=INVALID rule=- reason=bad-tcp-flags proto=tcp src=$C4 "
	check "the ACK scan is audited as INVALID" \
	    log_has "action=drop state=INVALID rule=- reason=[a-z-]+ proto=tcp src=$C4 sport=[0-9]+ dst=$S4 dport=[0-9]+ .*"
	check "audit records over the rate are summarised as suppressed N" \
	    log_has "suppressed [0-9]+ audit records over the rate of 20 a second"
	sleep 1.2		# the last second's summary
	kill "$stamper" 2>/dev/null
	wait "$stamper" 2>/dev/null
	dinv=$(( $(lib_stat invalid) - inv0 ))
	daud=$(( $(lib_stat audited) - aud0 ))
	dsup=$(( $(lib_stat suppressed) - sup0 ))
	peak=$(awk '/ action=/ { n[$1]++ } END { m = 0; for (s in n) if (n[s] > m) m = n[s]; print m }' \
	    "$T_TMP/stamped.log")
	echo "figure: scans: $dinv INVALID, $daud audited, $dsup suppressed, at most $peak audit lines in one second (rate 20)"
	check "the scans were INVALID ($dinv packets, 4 scans of 1000 ports)" \
	    test "$dinv" -ge 4000
	check "every INVALID packet is audited or counted as suppressed" \
	    test $((daud + dsup)) -ge "$dinv"
	# The bucket holds one second's worth: a calendar second sees at most the
	# bucket plus that second's refill.
	check "audit records stay within the rate ($peak in the busiest second <= 40)" \
	    test "$peak" -le 40 -a "$peak" -ge 1

	in_c timeout 120 nmap -n -Pn -sS -p 1-1000 --max-retries 0 --min-rate 2000 \
	    "$S4" >"$T_TMP/nmap-sS.out" 2>&1
	check "nmap -sS ran" grep -q "Nmap done" "$T_TMP/nmap-sS.out"
	check "nmap -sS sees port 80 open" grep -Eq '^80/tcp +open ' "$T_TMP/nmap-sS.out"
	check "nmap -sS does not see port 22 (denied)" \
	    not grep -Eq '^22/tcp +(open|closed) ' "$T_TMP/nmap-sS.out"
	check "the SYN to port 22 is audited by rule ssh-deny" \
	    log_has "action=drop state=NEW rule=ssh-deny proto=tcp src=$C4 "
	c1=$(ctcount)
	check "the -sS scan left entries in the table ($c1)" test "$c1" -ge 100
	# timeout_tcp_syn_sent and timeout_tcp_close are 5 s
	sleep 7
	c2=$(ctcount)
	echo "figure: scans: table after -sS $c1, 7 s later $c2"
	check "the half-open entries are gone once the 5 s timeouts passed ($c2 left)" \
	    test "$c2" -le 2

fi
# ---- 3. malformed storm -----------------------------------------------------------
if part storm; then
	cat >"$T_TMP/pool.py" <<'EOF'
import os, random, struct, sys
from scapy.all import (ICMP, IP, IPv6, TCP, UDP, Raw, ICMPv6EchoRequest,
                       ICMPv6DestUnreach, IPv6ExtHdrDestOpt,
                       IPv6ExtHdrFragment, IPv6ExtHdrHopByHop,
                       IPv6ExtHdrRouting, fuzz, raw)
random.seed(8)
s4, d4, s6, d6, out, n = sys.argv[1:7]
n = int(n)
def v4(l4):
    return raw(IP(src=s4, dst=d4, ttl=64, flags=0, frag=0) / l4)
def v6(l4):
    return raw(IPv6(src=s6, dst=d6, hlim=64) / l4)
def rnd():
    return Raw(os.urandom(random.randint(0, 600)))
makers = [
    lambda: v4(fuzz(TCP())), lambda: v4(fuzz(TCP()) / rnd()),
    lambda: v4(fuzz(UDP()) / rnd()), lambda: v4(fuzz(ICMP()) / rnd()),
    lambda: v4(fuzz(ICMP()) / fuzz(IP()) / fuzz(TCP())),
    lambda: v4(ICMP(type=3, code=3) / fuzz(IP()) / rnd()),
    lambda: v6(fuzz(TCP()) / rnd()), lambda: v6(fuzz(UDP()) / rnd()),
    lambda: v6(fuzz(ICMPv6EchoRequest())),
    lambda: v6(fuzz(ICMPv6DestUnreach()) / fuzz(IPv6()) / fuzz(TCP())),
    lambda: v6(fuzz(IPv6ExtHdrDestOpt()) / fuzz(TCP())),
    lambda: v6(fuzz(IPv6ExtHdrFragment()) / rnd()),
    lambda: v6(fuzz(IPv6ExtHdrRouting()) / rnd()),
    lambda: v6(IPv6ExtHdrDestOpt() / IPv6ExtHdrDestOpt() / fuzz(TCP())),
]
with open(out, "wb") as f:
    for i in range(n):
        k = i % (len(makers) + 3)
        if k < len(makers):
            p = makers[k]()
        elif k == len(makers):
            # random bytes behind a valid IPv4 header, any protocol
            p = raw(IP(src=s4, dst=d4, ttl=64, proto=random.randint(0, 255))
                    / rnd())
        elif k == len(makers) + 1:
            p = raw(IP(src=s4, dst=d4, ttl=64, proto=random.choice((1, 6, 17)))
                    / rnd())
        else:
            p = raw(IPv6(src=s6, dst=d6, hlim=64,
                         nh=random.choice((0, 6, 17, 43, 44, 58, 60, 59,
                                           random.randint(0, 255)))) / rnd())
        p = p[:1400]
        if p[0] >> 4 == 4:
            # a cut IPv4 packet gets its length and checksum again
            p = bytearray(p)
            p[2:4] = struct.pack("!H", len(p))
            p[10:12] = b"\0\0"
            s = sum(struct.unpack("!10H", bytes(p[:20])))
            while s >> 16:
                s = (s & 0xffff) + (s >> 16)
            p[10:12] = struct.pack("!H", ~s & 0xffff)
            p = bytes(p)
        else:
            p = p[:4] + struct.pack("!H", len(p) - 40) + p[6:]
        f.write(struct.pack("!H", len(p)) + p)
EOF
	if ! in_c "$PY" "$T_TMP/pool.py" "$C4M" "$S4" "$C6M" "$S6" "$T_TMP/pool.bin" 4000 \
	    2>"$T_TMP/pool.err"; then
		fail "scapy builds the storm's pool"
		cat "$T_TMP/pool.err"
	fi
	# dut answers nothing about the storm's made-up source
	in_d ip neigh replace "$C4M" lladdr 02:00:00:00:00:50 dev d0 nud permanent
	in_d ip -6 neigh replace "$C6M" lladdr 02:00:00:00:00:50 dev d0 nud permanent
	warm=$((N_STORM / 10))
	r0=$(lib_stat received)
	qd0=$(lib_qcol "$T_QUEUE" 6)
	in_c "$T_TMP/rawsend" pool c0 "$MAC_D0" "$T_TMP/pool.bin" "$warm" \
	    "$QFILE" "$T_QUEUE" >/dev/null
	# shellcheck disable=SC2016  # eval expands it
	wait_eval 100 'test "$(lib_qcol "$T_QUEUE" 3)" -eq 0'
	rss_warm=$(rss)
	t0=$SECONDS
	in_c "$T_TMP/rawsend" pool c0 "$MAC_D0" "$T_TMP/pool.bin" $((N_STORM - warm)) \
	    "$QFILE" "$T_QUEUE" >"$T_TMP/storm.out" 2>&1
	src=$?
	t1=$SECONDS
	check "the storm was sent ($(cat "$T_TMP/storm.out"))" test "$src" -eq 0
	# shellcheck disable=SC2016  # eval expands it
	wait_eval 100 'test "$(lib_qcol "$T_QUEUE" 3)" -eq 0'
	rss_end=$(rss)
	rcv=$(( $(lib_stat received) - r0 ))
	acc=$(lib_stat accepted)
	drp=$(lib_stat dropped)
	tot=$(lib_stat received)
	qd=$(lib_qdelta "$qd0" "$(lib_qcol "$T_QUEUE" 6)")
	echo "figure: storm: $N_STORM sent in $((t1 - t0)) s (after $warm of warm-up), $rcv received by nfqspid, queue_dropped ${qd:--}, RSS $rss_warm kB warm, $rss_end kB after"
	check "nfqspid survived the storm" lib_daemon_alive
	check "the kernel's queue is empty again (queue_total $(lib_qcol "$T_QUEUE" 3))" \
	    test "$(lib_qcol "$T_QUEUE" 3)" -eq 0
	check "the kernel never dropped for a full queue (${qd:-queue not bound})" \
	    test "$qd" = 0
	check "nfqspid received the storm (>= 99% of $N_STORM: $rcv)" \
	    test $((rcv * 100)) -ge $((N_STORM * 99))
	check "every packet received got a verdict ($tot received, $acc accepted + $drp dropped)" \
	    test "$tot" -eq $((acc + drp))
	check "no verdict errors ($(lib_stat verdict_errors))" test "$(lib_stat verdict_errors)" -eq 0
	if [ "$asan" -eq 1 ]; then
		# ASan's quarantine keeps freed memory: its RSS says nothing
		# of nfqspid's; the normal build's run checks it.
		echo "  note: ASan build: RSS not compared ($rss_warm kB -> $rss_end kB)"
	else
		check "RSS grew less than 5% ($rss_warm kB -> $rss_end kB)" \
		    test $((rss_end * 100)) -lt $((rss_warm * 105))
	fi
	tcp_transfer after-storm "$S4" 5011

fi
# ---- 4. fragments and extension headers against tcp/22 ---------------------------
if part frag; then
	cat >"$T_TMP/frag.py" <<'EOF'
import sys
from scapy.all import (IP, IPv6, TCP, Raw, IPv6ExtHdrDestOpt,
                       IPv6ExtHdrFragment, IPv6ExtHdrHopByHop, PadN,
                       conf, raw, send)
conf.verb = 0
kind, src, dst, sport, ipid = sys.argv[1], sys.argv[2], sys.argv[3], \
    int(sys.argv[4]), int(sys.argv[5])
opts = [("MSS", 1400), ("SAckOK", b""), ("NOP", None), ("WScale", 7),
        ("Timestamp", (1, 0))]
def tcp4(dport, flags="S"):
    return raw(IP(src=src, dst=dst) / TCP(sport=sport, dport=dport,
               flags=flags, seq=1000, window=64240, options=opts))[20:]
def tcp6(dport, flags="S"):
    return raw(IPv6(src=src, dst=dst) / TCP(sport=sport, dport=dport,
               flags=flags, seq=1000, window=64240, options=opts))[40:]
def f4(off, mf, data):
    send(IP(src=src, dst=dst, id=ipid, flags="MF" if mf else 0, frag=off,
            proto=6) / Raw(data))
def f6(off, mf, data, pre=None, nh=6):
    l = IPv6(src=src, dst=dst)
    if pre is not None:
        l = l / pre
    send(l / IPv6ExtHdrFragment(nh=nh, offset=off, m=mf, id=ipid) / Raw(data))
if kind == "tiny4":
    # the first fragment holds the ports only (8 bytes), flags come later
    t = tcp4(22); f4(0, 1, t[:8]); f4(1, 0, t[8:])
elif kind == "overports4":
    # fragment 1 says port 80, a second first fragment says 22
    a, b = tcp4(80), tcp4(22)
    f4(0, 1, a[:24]); f4(0, 0, b)
elif kind == "overflags4":
    # RFC 1858: header with ACK only (harmless), then offset 1 rewrites
    # the rest of the header into a SYN
    a, b = tcp4(22, "A"), tcp4(22, "S")
    f4(0, 1, a[:16]); f4(1, 0, b[8:])
elif kind == "tiny6":
    t = tcp6(22); f6(0, 1, t[:8]); f6(1, 0, t[8:])
elif kind == "overports6":
    a, b = tcp6(80), tcp6(22)
    f6(0, 1, a[:24]); f6(0, 0, b)
elif kind == "overflags6":
    a, b = tcp6(22, "A"), tcp6(22, "S")
    f6(0, 1, a[:16]); f6(1, 0, b[8:])
elif kind == "chain6":
    # a long chain: 12 destination options headers before the SYN
    l = IPv6(src=src, dst=dst)
    for i in range(12):
        l = l / IPv6ExtHdrDestOpt(options=[PadN(optdata=b"\0" * 4)])
    send(l / TCP(sport=sport, dport=22, flags="S", seq=1000, options=opts))
elif kind == "zero6":
    # zero-length (8-byte, len 0) headers: hop-by-hop then 6 empty
    # destination options
    l = IPv6(src=src, dst=dst) / IPv6ExtHdrHopByHop(options=[])
    for i in range(6):
        l = l / IPv6ExtHdrDestOpt(options=[])
    send(l / TCP(sport=sport, dport=22, flags="S", seq=1000, options=opts))
elif kind == "bigopt6":
    # one destination options header of 2 kB, fragmented: the first
    # fragment holds no TCP header at all (RFC 7112 forbids that)
    big = IPv6ExtHdrDestOpt(options=[PadN(optdata=b"\0" * 253)] * 8)
    t = raw(IPv6(src=src, dst=dst) / big / TCP(sport=sport, dport=22,
            flags="S", seq=1000, options=opts))[40:]
    f6(0, 1, t[:1200], nh=60); f6(150, 0, t[1200:], nh=60)
elif kind == "chainfrag6":
    # 3 destination options, then the fragment header, then the TCP
    # header in the second fragment only
    pre = IPv6ExtHdrDestOpt(options=[PadN(optdata=b"\0" * 4)]) / \
        IPv6ExtHdrDestOpt(options=[PadN(optdata=b"\0" * 4)])
    t = tcp6(22)
    send(IPv6(src=src, dst=dst) / pre / IPv6ExtHdrFragment(nh=60, offset=0,
         m=1, id=ipid) / IPv6ExtHdrDestOpt(nh=6, options=[PadN(optdata=b"\0" * 4)]))
    send(IPv6(src=src, dst=dst) / pre / IPv6ExtHdrFragment(nh=60, offset=1,
         m=0, id=ipid) / Raw(t))
EOF
	counter_add "$NS_S" "$IPT" raw PREROUTING frag4 -s "$C4A"
	counter_add "$NS_S" "$IP6T" raw PREROUTING frag6 -s "$C6A"
	counter_add "$NS_S" "$IPT" filter INPUT ssh4 -p tcp --dport 22
	counter_add "$NS_S" "$IP6T" filter INPUT ssh6 -p tcp --dport 22
	bg_in "$NS_S" socat "TCP6-LISTEN:22,bind=[$S6],reuseaddr,fork" EXEC:cat
	wait_listen "$NS_S" tcp 22 || fail "the server listens on 22 (IPv6)"
	tcp_blocked "ssh-deny (IPv4, whole SYN)" "$S4" 22
	tcp_blocked "ssh-deny (IPv6, whole SYN)" "$S6" 22
	ssh4_0=$(counter "$NS_S" "$IPT" filter INPUT ssh4)
	ssh6_0=$(counter "$NS_S" "$IP6T" filter INPUT ssh6)

	frag_round()
	{
		local what=$1 k id=5000 sport=41000
		for k in tiny4 overports4 overflags4; do
			id=$((id + 1)); sport=$((sport + 1))
			in_c "$PY" "$T_TMP/frag.py" "$k" "$C4A" "$S4" "$sport" "$id"
		done
		for k in tiny6 overports6 overflags6 chain6 zero6 bigopt6 chainfrag6; do
			id=$((id + 1)); sport=$((sport + 1))
			in_c "$PY" "$T_TMP/frag.py" "$k" "$C6A" "$S6" "$sport" "$id"
		done
		sleep 1
		check "$what: nothing from the attacker's IPv4 address reached the server" \
		    test "$(counter "$NS_S" "$IPT" raw PREROUTING frag4)" -eq 0
		check "$what: nothing from the attacker's IPv6 address reached the server" \
		    test "$(counter "$NS_S" "$IP6T" raw PREROUTING frag6)" -eq 0
		check "$what: no TCP segment reached the server's port 22" \
		    test "$(counter "$NS_S" "$IPT" filter INPUT ssh4)" -eq "$ssh4_0" -a \
		    "$(counter "$NS_S" "$IP6T" filter INPUT ssh6)" -eq "$ssh6_0"
		check "$what: nfqspid is alive" lib_daemon_alive
	}

	frag_round "fragment cache"
	check "the tiny first fragments are INVALID fragment" \
	    log_has "reason=fragment proto=tcp src=$C4A "
	check "the overlapping ones are INVALID frag-overlap or fragment" \
	    log_has "reason=(frag-overlap|fragment) proto=tcp src=$C6A "
	check "the 12-header chain is INVALID ipv6-exthdr-chain" \
	    log_has "reason=ipv6-exthdr-chain proto=.* src=$C6A "

fi
# ---- health and shutdown -------------------------------------------------------
lib_finish
lib_summary
