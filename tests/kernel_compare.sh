#!/bin/bash
# kernel_compare.sh - the same crafted packets through the kernel's SPI
# and through nfqspid, and what reaches the far side (issue 12)
#
#   sudo tests/kernel_compare.sh            both, then a table
#   sudo tests/kernel_compare.sh kernel     one side: "case family count"
#   sudo tests/kernel_compare.sh nfqspid
#
# kernel: dut's FORWARD chain is the classic conntrack firewall
# (-m conntrack --ctstate INVALID -j DROP, ESTABLISHED,RELATED -j
# ACCEPT, the NEW rules below, policy DROP), so the kernel reassembles
# (nf_defrag) and checks checksums (nf_conntrack_checksum = 1).
# nfqspid: FORWARD goes to the queue, nfqspid decides with the same
# rules, and the kernel tracks nothing in dut.
# Each case is sent by tests/integration/frag_craft.py from an address
# the client does not own and counted in the server's raw table: a
# fragment by its identification, a whole packet by its length.
# The UDP stream cases (UDPT) use real sockets and the trackers' clocks:
# timeout_udp is 3 s on both sides (the kernel's nf_conntrack_udp_timeout
# in dut); a question and its answer (udp-answered) keep it, so the
# server's datagram 4 s later is NEW and dropped; a question more than
# 2 s after the first, the answer seen (udp-stream), makes the flow a
# stream, and the server's datagram 4 s after it comes through.  Not
# part of make check (root, and it prints rather than asserts).
#
# Copyright (C) 2026 The nfqspid authors
# SPDX-License-Identifier: GPL-2.0-or-later
set -u

here=$(cd "$(dirname "$0")" && pwd)
CASES="udp udp-reverse overlap incomplete tiny offset8 tcp tcp-shuffled"
CSUMS="bad-udp good-udp zero-udp bad-tcp good-tcp bad-icmp good-icmp"
UDPT="udp-answered udp-stream"

if [ $# -eq 0 ]; then
	[ "$(id -u)" -eq 0 ] || { echo "needs root" >&2; exit 77; }
	T_NET=95 T_QUEUE=11 "$0" kernel >/tmp/kcmp.kernel.$$ || exit 1
	T_NET=94 T_QUEUE=12 "$0" nfqspid >/tmp/kcmp.nfqspid.$$ || exit 1
	printf '%-14s %-4s %9s %9s  %s\n' case fam kernel nfqspid fate
	join -j1 <(grep '^R ' /tmp/kcmp.kernel.$$ | awk '{ print $2 "/" $3, $4 }' | sort) \
	    <(grep '^R ' /tmp/kcmp.nfqspid.$$ | awk '{ print $2 "/" $3, $4 }' | sort) |
	    awk 'function got(x) { gsub(/[fw]/, "", x); split(x, n, "+"); return n[1] + n[2] > 0 }
		{ split($1, a, "/"); printf "%-14s %-4s %9s %9s  %s\n", a[1], a[2], $2, $3,
		  (got($2) == got($3) ? "same" : "DIFFERS") }'
	rm -f /tmp/kcmp.kernel.$$ /tmp/kcmp.nfqspid.$$
	exit 0
fi
mode=$1
T_NET=${T_NET:-95}
T_QUEUE=${T_QUEUE:-11}
# shellcheck source=tests/integration/lib.sh
. "$here/integration/lib.sh"

lib_init "kc$mode"
lib_topology >&2 || exit 1
lib_foreign_src || exit 1

if [ "$mode" = kernel ]; then
	in_d sysctl -qw net.netfilter.nf_conntrack_checksum=1 2>/dev/null
	in_d sysctl -qw net.netfilter.nf_conntrack_udp_timeout=3
	for t in "$IPT" "$IP6T"; do
		in_d "$t" -P FORWARD DROP
		in_d "$t" -A FORWARD -m conntrack --ctstate INVALID -j DROP
		in_d "$t" -A FORWARD -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT
		in_d "$t" -A FORWARD -m conntrack --ctstate NEW -p udp --dport 5001 -j ACCEPT
		in_d "$t" -A FORWARD -m conntrack --ctstate NEW -p udp --dport 5002 -j ACCEPT
		in_d "$t" -A FORWARD -m conntrack --ctstate NEW -p tcp --dport 5100 -j ACCEPT
	done
	in_d "$IPT" -A FORWARD -m conntrack --ctstate NEW -p icmp --icmp-type echo-request -j ACCEPT
	in_d "$IP6T" -A FORWARD -m conntrack --ctstate NEW -p icmpv6 --icmpv6-type echo-request -j ACCEPT
else
	lib_config <<EOF
[conntrack]
checksum = yes
timeout_udp = 3

$(lib_policy)

$(lib_craft_rules)

[rule udp-late]
proto = udp
dport = 5002
action = accept

$(lib_ping_rules)
EOF
	lib_divert || exit 1
	lib_start_daemon >&2 || exit 1
fi
bg_in "$NS_S" socat -u "UDP4-RECV:5001" /dev/null
bg_in "$NS_S" socat -u "UDP6-RECV:5001" /dev/null
bg_in "$NS_S" socat "TCP4-LISTEN:5100,reuseaddr,fork" /dev/null
bg_in "$NS_S" socat "TCP6-LISTEN:5100,reuseaddr,fork" /dev/null
wait_listen "$NS_S" tcp 5100 >&2
# the UDP stream cases: the server answers each question "ok", and a
# "late" one again 4 s later; the client prints 1 if that came
cat >"$T_TMP/udplate.py" <<'EOF'
import select, socket, sys, threading
socks = []
for arg in sys.argv[1:]:
    addr, port = arg.rsplit(":", 1)
    s = socket.socket(socket.AF_INET6 if ":" in addr else socket.AF_INET,
                      socket.SOCK_DGRAM)
    s.bind((addr, int(port)))
    socks.append(s)
while True:
    for s in select.select(socks, [], [])[0]:
        data, peer = s.recvfrom(100)
        s.sendto(b"ok", peer)
        if data == b"late":
            threading.Timer(4, s.sendto, (b"late", peer)).start()
EOF
cat >"$T_TMP/udpcase.py" <<'EOF'
import socket, sys, time
dst, sport, case = sys.argv[1], int(sys.argv[2]), sys.argv[3]
s = socket.socket(socket.AF_INET6 if ":" in dst else socket.AF_INET,
                  socket.SOCK_DGRAM)
s.bind(("", sport))
s.settimeout(2)
t0 = time.time()
try:
    if case == "udp-stream":
        s.sendto(b"q", (dst, 5002))
        assert s.recvfrom(100)[0] == b"ok"
        time.sleep(max(0, t0 + 2.5 - time.time()))
    s.sendto(b"late", (dst, 5002))
    assert s.recvfrom(100)[0] == b"ok"
    s.settimeout(7)
    print(1 if s.recvfrom(100)[0] == b"late" else 0)
except (socket.timeout, AssertionError):
    print(0)
EOF
bg_in "$NS_S" "$PY" "$T_TMP/udplate.py" "$S4:5002" "$S6:5002"
wait_listen "$NS_S" udp 5002 >&2
n=0
upids=
for c in $UDPT; do
	n=$((n + 1))
	in_c "$PY" "$T_TMP/udpcase.py" "$S4" $((46000 + n)) "$c" \
	    >"$T_TMP/$c.ipv4" &
	upids+=" $!"
	in_c "$PY" "$T_TMP/udpcase.py" "$S6" $((46100 + n)) "$c" \
	    >"$T_TMP/$c.ipv6" &
	upids+=" $!"
done

craft() { in_c "$PY" "$here/integration/frag_craft.py" "$@" >/dev/null 2>&1; }
# whole NAME CMD SRC IDENT CASE: the datagram of IDENT arriving whole (the
# kernel may forward what it reassembled without refragmenting it), by
# its source port (frag_craft.py) and a length no handshake has
whole()
{
	local p=udp sp=$((40000 + $4 % 1000))
	case $5 in
	tcp*) p=tcp; sp=$((42000 + $4 % 1000)) ;;
	tiny|offset8) p=tcp; sp=$((41000 + $4 % 1000)) ;;
	esac
	counter_add "$NS_S" "$2" raw PREROUTING "$1" -s "$3" -m frag ! --fragmore \
	    -p "$p" --sport "$sp" -m length --length 60:65535 2>/dev/null ||
	    counter_add "$NS_S" "$2" raw PREROUTING "$1" -s "$3" -p "$p" \
	    --sport "$sp" -m length --length 60:65535
}
n=0
for c in $CASES; do
	n=$((n + 1))
	counter_add "$NS_S" "$IPT" raw PREROUTING "f4-$c" -s "$C4X" -m u32 --u32 "4>>16=$((1000 + n))"
	counter_add "$NS_S" "$IP6T" raw PREROUTING "f6-$c" -s "$C6X" -m frag --fragid "$((2000 + n))"
	counter_add "$NS_S" "$IPT" raw PREROUTING "w4-$c" -s "$C4X" \
	    -m u32 --u32 "4&0x3fff=0" -m u32 --u32 "4>>16=$((1000 + n))"
	whole "w6-$c" "$IP6T" "$C6X" $((2000 + n)) "$c"
	craft "$c" "$C4X" "$S4" $((1000 + n))
	craft "$c" "$C6X" "$S6" $((2000 + n))
done
n=0
for c in $CSUMS; do
	n=$((n + 1))
	counter_add "$NS_S" "$IPT" raw PREROUTING "f4-$c" -s "$C4X" -m length --length $((300 + n))
	counter_add "$NS_S" "$IP6T" raw PREROUTING "f6-$c" -s "$C6X" -m length --length $((400 + n))
	craft "$c" "$C4X" "$S4" $((300 + n))
	craft "$c" "$C6X" "$S6" $((400 + n))
done
sleep 1
# "fragments+whole" for the fragment cases, packets for the others
for c in $CASES; do
	echo "R $c ipv4 $(counter "$NS_S" "$IPT" raw PREROUTING "f4-$c")f+$(counter "$NS_S" "$IPT" raw PREROUTING "w4-$c")w"
	echo "R $c ipv6 $(counter "$NS_S" "$IP6T" raw PREROUTING "f6-$c")f+$(counter "$NS_S" "$IP6T" raw PREROUTING "w6-$c")w"
done
for c in $CSUMS; do
	echo "R $c ipv4 $(counter "$NS_S" "$IPT" raw PREROUTING "f4-$c")"
	echo "R $c ipv6 $(counter "$NS_S" "$IP6T" raw PREROUTING "f6-$c")"
done
# shellcheck disable=SC2086
wait $upids
for c in $UDPT; do
	echo "R $c ipv4 $(cat "$T_TMP/$c.ipv4")"
	echo "R $c ipv6 $(cat "$T_TMP/$c.ipv6")"
done
if [ "$mode" = kernel ]; then
	echo "kernel: $(in_d sh -c 'wc -l </proc/net/nf_conntrack') connections tracked by the kernel" >&2
else
	echo "nfqspid: kernel tracking in dut: $(in_d sh -c 'cat /proc/net/nf_conntrack 2>/dev/null | wc -l') entries" >&2
fi
ok "compared"
lib_summary >/dev/null
