#!/bin/bash
# test_fastpath.sh - the kernel fast path's table (src/fastpath.c), driven
# by tests/integration/fptool in dut, with nfqspid reading the queue:
# the packets of a connection in the table skip NFQUEUE (the queue's
# sequence number stays still while the element counters and the
# iptables bypass rule count them), SYN/FIN/RST still go to the queue,
# del, flush, a batch of thousands, grow (maps made anew with more
# room), close removes the table, and what a killed process leaves
# behind times out.  Then nfqspid itself with
# fastpath = yes in dut emptied of rules: `nfqspictl iptables |
# iptables-restore -n` is the whole set-up, an established transfer's
# packets skip the queue, and SIGTERM removes the table; with divert =
# iptables the bypass rule is the first of nfqspid's chains.
#
# Copyright (C) 2026 The nfqspid authors
# SPDX-License-Identifier: GPL-2.0-or-later
# shellcheck disable=SC2317  # functions run through check and wait_for

T_NET=${T_NET:-83}
T_QUEUE=${T_QUEUE:-23}
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"

FPTOOL=${FPTOOL:-$top_builddir/tests/integration/fptool}
BIT=0x80000000

lib_init fastpath
[ -x "$FPTOOL" ] || { echo "ERROR: $FPTOOL not built (make check builds it)" >&2; exit 1; }
lib_need nft
lib_topology
lib_write_helpers

# The diversion the fast path needs: the bypass rule first.
for t in "$IPT" "$IP6T"; do
	in_d "$t" -A FORWARD -m mark --mark $BIT/$BIT -m comment \
	    --comment fp-accept -j ACCEPT
	in_d "$t" -A FORWARD -j NFQUEUE --queue-num "$T_QUEUE"
	# the bit never leaves the hook: the +5 chain takes it off
	counter_add "$NS_D" "$t" mangle POSTROUTING bit-after \
	    -m mark --mark $BIT/$BIT
done
# a connection's mark is put on its packets along with the bit
counter_add "$NS_D" "$IPT" filter FORWARD marked -m mark --mark 0x80000010

# tcp_liberal: nfqspid does not see the segments in between (putting
# the windows right is the daemon side's business, not this test's)
lib_config <<EOF
[conntrack]
tcp_liberal = yes
[policy]
new = accept
EOF
lib_must_start "nfqspid starts"

# ---- helpers ---------------------------------------------------------------

# fp_start TCP_TIMEOUT UDP_TIMEOUT: fptool in dut, commands through fd 3.
fp_start()
{
	rm -f "$T_TMP/fp.in"
	mkfifo "$T_TMP/fp.in"
	: >"$T_TMP/fp.out"
	in_d "$FPTOOL" "$T_QUEUE" "$1" "$2" 20000 <"$T_TMP/fp.in" \
	    >>"$T_TMP/fp.out" 2>&1 &
	FP_PID=$!
	exec 3>"$T_TMP/fp.in"
	wait_for 50 grep -q '^ok open' "$T_TMP/fp.out"
}

_answers() { grep -c -e '^ok' -e '^error' "$T_TMP/fp.out"; }
_answered() { [ "$(_answers)" -gt "$1" ]; }

# fp CMD...: one command; its answer line ("ok ..." / "error: ...") in FP_ANS
fp()
{
	local n
	n=$(_answers)
	echo "$*" >&3
	wait_for 200 _answered "$n"
	FP_ANS=$(grep -e '^ok' -e '^error' "$T_TMP/fp.out" | tail -n 1)
	case $FP_ANS in ok*) return 0;; *) echo "fptool: $* -> $FP_ANS" >&2; return 1;; esac
}

# fp_counters: the connection lines of a counters command, in FP_LINES
fp_counters()
{
	local before
	before=$(wc -l <"$T_TMP/fp.out")
	fp counters || return 1
	FP_LINES=$(tail -n +"$((before + 1))" "$T_TMP/fp.out" | grep -v -e '^ok' -e '^error')
}

# field NAME LINE: the value of NAME=... in LINE
field() { sed -n "s/.* $1=\([0-9a-fx]*\).*/\1/p" <<<"$2"; }

table_exists() { in_d nft list tables 2>/dev/null | grep -q "nfqspid-fp-$T_QUEUE\$"; }

# goes_to SRC SPORT DST DPORT CHAIN: the element of that key jumps there
goes_to()
{
	in_d nft list table inet "nfqspid-fp-$T_QUEUE" 2>/dev/null |
	    grep -F "$1 . $2 . $3 . $4 " | grep -q ": goto $5\b"
}

# UDP: N datagrams from SPORT, each answered; prints how many answers came.
cat >"$T_TMP/udpburst.py" <<'PY'
import socket, sys
addr, port, sport, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
fam = socket.AF_INET6 if ":" in addr else socket.AF_INET
s = socket.socket(fam, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("::" if fam == socket.AF_INET6 else "0.0.0.0", sport))
s.settimeout(2)
got = 0
for i in range(n):
    s.sendto(b"x" * 32, (addr, port))
    try:
        s.recvfrom(4096)
        got += 1
    except socket.timeout:
        pass
print(got)
PY
# TCP: connect from SPORT, say hello, wait for $dir/go, send BYTES, close.
cat >"$T_TMP/tcpbulk.py" <<'PY'
import os, socket, sys, time
addr, port, sport, nbytes, d = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
fam = socket.AF_INET6 if ":" in addr else socket.AF_INET
s = socket.socket(fam, socket.SOCK_STREAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("::" if fam == socket.AF_INET6 else "0.0.0.0", sport))
s.settimeout(20)
s.connect((addr, port))
# a greeting a byte at a time: with its ACKs, the 16 packets nfqspid
# wants to see before it offloads a connection
s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
for b in b"hello, fast path":
    s.sendall(bytes([b]))
    time.sleep(0.005)
open(os.path.join(d, "ready"), "w").close()
for i in range(200):
    if os.path.exists(os.path.join(d, "go")):
        break
    time.sleep(0.05)
buf = b"y" * 65536
left = nbytes
while left > 0:
    k = min(left, len(buf))
    s.sendall(buf[:k])
    left -= k
s.shutdown(socket.SHUT_WR)
while s.recv(65536):
    pass
s.close()
PY
cat >"$T_TMP/tcpsink.py" <<'PY'
import socket, sys
addr, port, out = sys.argv[1], int(sys.argv[2]), sys.argv[3]
fam = socket.AF_INET6 if ":" in addr else socket.AF_INET
l = socket.socket(fam, socket.SOCK_STREAM)
l.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
l.bind((addr, port))
l.listen(8)
while True:
    c, peer = l.accept()
    n = 0
    while True:
        b = c.recv(65536)
        if not b:
            break
        n += len(b)
    c.close()
    with open(out, "a") as f:
        f.write("%d %d\n" % (peer[1], n))
PY

bg_in "$NS_S" "$PY" "$T_TMP/udpsrv.py" "$S4:5353" "$S6:5353"
bg_in "$NS_S" "$PY" "$T_TMP/tcpsink.py" "$S4" 5001 "$T_TMP/sink4"
bg_in "$NS_S" "$PY" "$T_TMP/tcpsink.py" "$S6" 5001 "$T_TMP/sink6"
if ! wait_listen "$NS_S" udp 5353 || ! wait_listen "$NS_S" tcp 5001; then
	fail "the servers listen"
	lib_summary
fi

fp_start 300 30
check "fptool opens the fast path: table nfqspid-fp-$T_QUEUE exists" table_exists

# ---- UDP, IPv4 and IPv6 ----------------------------------------------------

udp_case()
{
	local name=$1 cli=$2 srv=$3 sport=$4 got s0 s1 line
	got=$(in_c "$PY" "$T_TMP/udpburst.py" "$srv" 5353 "$sport" 3)
	# (the first may wait for neighbour discovery)
	check "$name: datagrams answered through the queue ($got of 3)" test "$got" -ge 2
	check "$name: add the connection" fp add udp "$cli" "$sport" "$srv" 5353 0
	s0=$(lib_qseq)
	got=$(in_c "$PY" "$T_TMP/udpburst.py" "$srv" 5353 "$sport" 200)
	s1=$(lib_qseq)
	check "$name: 200 datagrams answered with the element in ($got)" test "$got" = 200
	check "$name: none of the 400 packets crossed the queue ($s0 -> $s1)" \
	    test "$(lib_qdelta "$s0" "$s1")" = 0
	fp_counters
	line=$(grep "^udp $cli $sport $srv 5353 " <<<"$FP_LINES")
	check "$name: the connection is listed ($line)" test -n "$line"
	# each packet once: one lookup, in the set that counts
	check "$name: its element counters say 400 packets" test "$(field pkts "$line")" = 400
	check "$name: and goes to chain nomark (its mark left alone)" \
	    goes_to "$cli" "$sport" "$srv" 5353 nomark
	check "$name: its kernel timer runs (expires_ms > 0)" \
	    test "$(field expires_ms "$line")" -gt 0
	check "$name: delete it" fp del udp "$cli" "$sport" "$srv" 5353 0
	s0=$(lib_qseq)
	got=$(in_c "$PY" "$T_TMP/udpburst.py" "$srv" 5353 "$sport" 5)
	s1=$(lib_qseq)
	check "$name: after del, its packets cross the queue again ($s0 -> $s1)" \
	    test "$(lib_qdelta "$s0" "$s1")" -ge 10
	check "$name: after del, 5 answered ($got)" test "$got" = 5
	check "$name: delete it again: no error" fp del udp "$cli" "$sport" "$srv" 5353 0
}
udp_case "udp4" "$C4" "$S4" 41000
udp_case "udp6" "$C6" "$S6" 41001
check "the bypass rule accepted the packets (IPv4)" \
    test "$(in_d "$IPT" -L FORWARD -n -v -x | awk '/fp-accept/ { print $1 }')" -ge 400
check "the bypass rule accepted the packets (IPv6)" \
    test "$(in_d "$IP6T" -L FORWARD -n -v -x | awk '/fp-accept/ { print $1 }')" -ge 400
check "no packet leaves the hook with the bit (IPv4)" \
    test "$(counter "$NS_D" "$IPT" mangle POSTROUTING bit-after)" = 0
check "no packet leaves the hook with the bit (IPv6)" \
    test "$(counter "$NS_D" "$IP6T" mangle POSTROUTING bit-after)" = 0

# ---- TCP: a bulk transfer skips the queue, SYN/FIN/RST do not -------------

# bulk NAME DST SPORT SINK CMD...: tcpbulk.py's connection from SPORT to
# DST port 5001; once it is open, CMD (a check) puts it in the kernel
# table, then 4 MB go.  Checks that they came whole and that at most 8
# packets crossed the queue (the FINs and the ACKs that follow them, no
# data segment); BULK_Q is how many did.  1 if it did not open.
bulk()
{
	local name=$1 dst=$2 sport=$3 sink=$4 d=$T_TMP/$1 s0 s1 rc cpid
	shift 4
	mkdir -p "$d"
	in_c "$PY" "$T_TMP/tcpbulk.py" "$dst" 5001 "$sport" 4000000 "$d" &
	cpid=$!
	if ! wait_for 100 test -e "$d/ready"; then
		fail "$name: the connection opens"
		return 1
	fi
	"$@"
	s0=$(lib_qseq)
	touch "$d/go"
	wait "$cpid"
	rc=$?
	wait_for 50 grep -q "^$sport " "$sink"
	s1=$(lib_qseq)
	BULK_Q=$(lib_qdelta "$s0" "$s1")
	check "$name: the transfer completes (status $rc)" test "$rc" = 0
	check "$name: the server got 4000016 bytes" grep -q "^$sport 4000016\$" "$sink"
	check "$name: at most 8 of its packets crossed the queue ($s0 -> $s1)" \
	    test "$BULK_Q" -le 8
}

tcp_case()
{
	local line rc s0 s1
	bulk tcp "$S4" 42000 "$T_TMP/sink4" check "tcp: add the connection with mark 0x10" \
	    fp add tcp "$C4" 42000 "$S4" 5001 0x10 || return
	check "tcp: the FINs did ($BULK_Q packets)" test "$BULK_Q" -ge 2
	fp_counters
	line=$(grep "^tcp $C4 42000 $S4 5001 " <<<"$FP_LINES")
	check "tcp: the connection is listed ($line)" test -n "$line"
	check "tcp: its elements go to the chain of mark 0x10" \
	    goes_to "$C4" 42000 "$S4" 5001 mark_0x00000010
	# (the last data segment may carry the FIN, and so the queue's way)
	check "tcp: its counters hold most of the 4 MB ($(field bytes "$line") bytes)" \
	    test "$(field bytes "$line")" -ge 3500000
	check "tcp: its packets carried mark 0x10 in the filter table" \
	    counter_ge "$NS_D" "$IPT" filter FORWARD marked 10
	# a SYN never takes the fast path, even with its tuple in the table
	check "tcp: add a tuple before its connection exists" fp add tcp "$C4" 42001 "$S4" 5001 0
	s0=$(lib_qseq)
	in_c timeout 10 nc -z -p 42001 "$S4" 5001
	rc=$?
	s1=$(lib_qseq)
	check "tcp: that connection opens (status $rc)" test "$rc" = 0
	check "tcp: its SYN and SYN/ACK crossed the queue ($s0 -> $s1)" \
	    test "$(lib_qdelta "$s0" "$s1")" -ge 2
}
tcp_case

# ---- many connections in one call, flush -----------------------------------

check "add 5000 connections in one call" fp add udp "$C4" 10000 "$S4" 53 0 5000
check "add 3000 IPv6 ones with a mark" fp add tcp "$C6" 20000 "$S6" 80 0x7 3000
fp_counters
check "all 8000 are listed ($(grep -c . <<<"$FP_LINES") lines)" \
    test "$(grep -c -e " $S4 53 " -e " $S6 80 " <<<"$FP_LINES")" = 8000
elems() { in_d nft list map inet "nfqspid-fp-$T_QUEUE" "$1" | grep -o "$2" | wc -l; }
check "the kernel holds both directions of each (16000 elements)" \
    test "$(elems conn_udp4 'goto nomark')" = 10000 -a \
    "$(elems conn_tcp6 'goto mark_0x00000007')" = 6000
mark_chain() { in_d nft list chain inet "nfqspid-fp-$T_QUEUE" "$1" 2>/dev/null | grep -q "meta mark set $2\$"; }
check "the mark's chain puts the mark and the bypass bit in one store" \
    mark_chain mark_0x00000007 0x80000007
check "delete 2500 of them in one call" fp del udp "$C4" 10000 "$S4" 53 0 2500
check "and 1000 of the marked ones" fp del tcp "$C6" 20000 "$S6" 80 0x7 1000
fp_counters
check "4500 remain" test "$(grep -c -e " $S4 53 " -e " $S6 80 " <<<"$FP_LINES")" = 4500
check "the marked ones gone from the kernel, both directions" \
    test "$(elems conn_tcp6 comment)" = 4000
check "flush" fp flush
fp_counters
check "none remains after flush" test -z "$FP_LINES"
# a mark's chain stays; 4096 at most: a connection whose mark would need
# one more stays out, the others of its batch go in
check "4000 connections with 4000 marks of their own" \
    fp add udp "$C4" 30000 "$S4" 53 0x1000+ 4000
mark_chains() { in_d nft list table inet "nfqspid-fp-$T_QUEUE" | grep -c 'chain mark_0x'; }
check "each mark has its chain (the flush took the earlier ones)" \
    test "$(mark_chains)" = 4000
check "100 more marks: the 96 up to 4096 go in" \
    fp add udp "$C4" 40000 "$S4" 53 0x2000+ 100
check "fptool says 96 went in" test "$FP_ANS" = "ok 96"
check "the last that fits has its chain" \
    goes_to "$C4" 40095 "$S4" 53 mark_0x0000205f
check "the first past 4096 is not in the kernel" \
    not goes_to "$C4" 40096 "$S4" 53 mark_0x00002060
check "4096 chains, no more" test "$(mark_chains)" = 4096
check "a mark that has its chain still goes in" fp add udp "$C4" 41000 "$S4" 53 0x1000
check "to that chain" goes_to "$C4" 41000 "$S4" 53 mark_0x00001000
check "flush again" fp flush
check "the marks' chains went with their elements" test "$(mark_chains)" = 0
check "a mark's chain is made again with its next connection" \
    fp add udp "$C4" 41000 "$S4" 53 0x7
check "and the element goes to it" goes_to "$C4" 41000 "$S4" 53 mark_0x00000007
# grow (a reload that raises max): a new table, maps with more room, empty
map_size() { in_d nft list map inet "nfqspid-fp-$T_QUEUE" conn_udp4 | grep -q "size $1\$"; }
check "the maps have room for 20000 connections (size 40000)" map_size 40000
check "grow to no more than that: refused" not fp grow 20000
check "so the element stays" goes_to "$C4" 41000 "$S4" 53 mark_0x00000007
check "grow to 30000" fp grow 30000
check "the maps have room for 30000 (size 60000)" map_size 60000
check "the new table holds nothing" not goes_to "$C4" 41000 "$S4" 53 mark_0x00000007
check "no mark's chain either" test "$(mark_chains)" = 0
check "a mark's chain is made again with its next connection" \
    fp add udp "$C4" 41000 "$S4" 53 0x7
check "and the element goes to it" goes_to "$C4" 41000 "$S4" 53 mark_0x00000007
check "flush the last" fp flush
check "close" fp close
wait "$FP_PID"
exec 3>&-
check "close removes the table" not table_exists

# ---- the time of an element: renewed by the reader, not by packets ---------

# UDP timeout 6 s: a read of the counters past half of it (3.5 s after the
# addition, 2.5 s left) gives the element its 6 s again; no packet flows
fp_start 300 6
fp add udp "$C4" 44000 "$S4" 5353 0
sleep 3.5
fp_counters
sleep 3.5
fp_counters
line=$(grep "^udp $C4 44000 $S4 5353 " <<<"$FP_LINES")
check "renewal: an idle element outlives its timeout ($line)" test -n "$line"
check "renewal: with its time given back (expires_ms > 1000)" \
    test "$(field expires_ms "$line")" -gt 1000
s0=$(lib_qseq)
got=$(in_c "$PY" "$T_TMP/udpburst.py" "$S4" 5353 44000 5)
s1=$(lib_qseq)
check "renewal: it still lets its packets by ($got answered; queue $s0 -> $s1)" \
    test "$(lib_qdelta "$s0" "$s1")" = 0 -a "$got" = 5
fp close
wait "$FP_PID"
exec 3>&-

# ---- what a killed process leaves behind -----------------------------------

fp_start 300 3
fp add udp "$C4" 43000 "$S4" 5353 0
kill -KILL "$FP_PID"
wait "$FP_PID" 2>/dev/null
exec 3>&-
check "a killed process leaves its table" table_exists
s0=$(lib_qseq)
got=$(in_c "$PY" "$T_TMP/udpburst.py" "$S4" 5353 43000 5)
s1=$(lib_qseq)
check "its element still lets its packets by ($got answered; queue $s0 -> $s1)" \
    test "$(lib_qdelta "$s0" "$s1")" = 0 -a "$got" = 5
sleep 4
s0=$(lib_qseq)
got=$(in_c "$PY" "$T_TMP/udpburst.py" "$S4" 5353 43000 5)
s1=$(lib_qseq)
check "after its 3 s timeout the packets cross the queue again ($s0 -> $s1)" \
    test "$(lib_qdelta "$s0" "$s1")" -ge 10
fp_start 300 30
fp_counters
check "the next open starts from an empty table" test -z "$FP_LINES"
fp close
wait "$FP_PID"
exec 3>&-
check "and its close removes it" not table_exists

check "nfqspid ran throughout" lib_daemon_alive

# ---- 2. the daemon, fastpath = yes: nfqspictl iptables is the set-up ------

lib_stop_daemon
for t in "$IPT" "$IP6T"; do
	in_d "$t" -F
	in_d "$t" -t mangle -F
done
check "dut has no rule left" test -z "$(in_d "$IPT"-save | grep '^-A')"
# the daemon's own window handling from here on, as shipped
sed -i -e '/^\[daemon\]/a fastpath = yes' -e '/^tcp_liberal/d' "$T_CONF"
lib_must_start "nfqspid starts with fastpath = yes"
ipt=$(lib_ctl iptables)
rules=$(grep '^-A' <<<"$ipt")
check "iptables: the fast path's rules come first" test "$(head -n 3 <<<"$rules")" = \
"-A INPUT -m mark --mark $BIT/$BIT -j ACCEPT
-A OUTPUT -m mark --mark $BIT/$BIT -j ACCEPT
-A FORWARD -m mark --mark $BIT/$BIT -j ACCEPT"
check "iptables: then the queue" test "$(tail -n 3 <<<"$rules" | grep -c NFQUEUE)" = 3
check "iptables: names the table" grep -q "^# fastpath = yes: .* inet nfqspid-fp-$T_QUEUE " <<<"$ipt"
check "nft: accepts what the fast path marked before the queue" \
    grep -Pzq "meta mark & 0x80000000 == 0x80000000 accept\n\t\tqueue num $T_QUEUE" \
    <<<"$(lib_ctl nft)"
check "iptables-restore -n takes it" in_d "$IPT"-restore -n <<<"$ipt"
check "ip6tables-restore -n takes it" in_d "$IP6T"-restore -n <<<"$ipt"
check "nfqspid made its table" table_exists
# in_kernel ADDR SPORT: nfqspid has put the connection from ADDR:SPORT in
in_kernel() { in_d nft list table inet "nfqspid-fp-$T_QUEUE" | grep -q " $1 \. $2 \. "; }

# fp_transfer NAME SRC DST SPORT SINK IPT [CHAIN]: 4 MB once nfqspid has
# offloaded it, the rest taken by the bypass rule in IPT's CHAIN (FORWARD)
fp_transfer()
{
	local name=$1 n
	bulk "$name" "$3" "$4" "$5" \
	    check "$name: nfqspid puts the established connection in the kernel table" \
	    wait_for 100 in_kernel "$2" "$4" || return
	n=$(in_d "$6" -L "${7:-FORWARD}" -n -v -x | awk '/mark match 0x80000000\/0x80000000/ { print $1 }')
	check "$name: the bypass rule took the rest (${n:-0} packets)" test "${n:-0}" -ge 50
}
fp_transfer fp4 "$C4" "$S4" 42100 "$T_TMP/sink4" "$IPT"
fp_transfer fp6 "$C6" "$S6" 42101 "$T_TMP/sink6" "$IP6T"
check "SIGTERM: nfqspid stops" lib_stop_daemon
check "and its table goes with it" not table_exists

# ---- 3. divert = iptables puts the bypass rule first in its chains --------

for t in "$IPT" "$IP6T"; do
	in_d "$t" -F
done
sed -i '/^\[daemon\]/a divert = iptables' "$T_CONF"
lib_must_start "nfqspid starts with divert = iptables"
for t in "$IPT" "$IP6T"; do
	check "divert = iptables ($t): the bypass rule first in nfqspid-forward" \
	    test "$(in_d "$t" -S nfqspid-forward | sed -n 2p)" = \
	    "-A nfqspid-forward -m mark --mark $BIT/$BIT -j ACCEPT"
done
fp_transfer fp4d "$C4" "$S4" 42102 "$T_TMP/sink4" "$IPT" nfqspid-forward
# the diversion is checked every 5 s: whole, with the bypass rule
sleep 6
check "divert = iptables: the check finds the diversion whole" log_lacks restoring
check "SIGTERM: nfqspid stops" lib_stop_daemon
lib_summary
