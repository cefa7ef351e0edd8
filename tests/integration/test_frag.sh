#!/bin/bash
# test_frag.sh - fragments and checksums decided by nfqspid itself, in a
# firewall namespace where the kernel tracks nothing (no conntrack rule,
# so no reassembly in front of the queue; checked at the end):
#  - UDP datagrams of 3,000 bytes both ways between real sockets: the
#    senders' kernels fragment them, nfqspid holds the fragments until
#    each datagram is whole, decides it once, and all of them arrive;
#  - crafted with scapy from an address the client does not own:
#    fragmented UDP in order and last first; a TCP connection whose data
#    segments come in fragments, in order and shuffled, which the server
#    reads whole; an overlap, a tiny first TCP fragment, an offset-8 TCP
#    fragment and an incomplete datagram, of which no fragment reaches
#    the server, with their audit records (frag-overlap, fragment,
#    frag-timeout after frag_timeout);
#  - TCP, UDP and ICMP with bad checksums over IPv4 and IPv6 never reach
#    the server (bad-checksum), their good twins do; first of all a long
#    one, which the queue, copying headers only, cuts: it is asked for
#    again whole (worker_copy.c) and checked as the others; a reload
#    that turns checksum off lets the next bad one through, and one that
#    turns it on again drops the next;
#  - the counters (nfqspictl stats) and nothing held at the end.
# Every check counts at the far side, in the server's raw table, what
# crossed dut: a fragment by its identification, a packet by its length.
#
# Copyright (C) 2026 The nfqspid authors
# SPDX-License-Identifier: GPL-2.0-or-later
# shellcheck disable=SC2016  # wait_eval's expressions: eval expands them
set -u

T_NET=${T_NET:-97}
T_QUEUE=${T_QUEUE:-9}
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"

lib_init frag
lib_topology
lib_foreign_src || { echo "cannot set up scapy's sources" >&2; exit 1; }

lib_config <<EOF
[conntrack]
frag_timeout = 2
checksum = yes

$(lib_policy)

$(lib_craft_rules)

$(lib_ping_rules)
EOF

# udp.py serve ADDR...: echo every datagram on ADDR:5001 back whole.
# udp.py ask ADDR N: send N bytes from a socket, print the reply's length.
cat >"$T_TMP/udp.py" <<'EOF'
import select, socket, sys
fam = lambda a: socket.AF_INET6 if ":" in a else socket.AF_INET
if sys.argv[1] == "serve":
    socks = []
    for a in sys.argv[2:]:
        s = socket.socket(fam(a), socket.SOCK_DGRAM)
        s.bind((a, 5001))
        socks.append(s)
    while True:
        for s in select.select(socks, [], [])[0]:
            data, peer = s.recvfrom(65535)
            s.sendto(data, peer)
else:
    a, n = sys.argv[2], int(sys.argv[3])
    s = socket.socket(fam(a), socket.SOCK_DGRAM)
    s.settimeout(3)
    s.sendto(b"e" * n, (a, 5001))
    try:
        print(len(s.recv(65535)))
    except socket.timeout:
        print(0)
EOF

# tcp.py serve ADDR OUT: write what each connection to ADDR:5100 brought,
# one line of its length per connection, to OUT.
cat >"$T_TMP/tcp.py" <<'EOF'
import socket, sys
a, out = sys.argv[2], sys.argv[3]
ls = socket.socket(socket.AF_INET6 if ":" in a else socket.AF_INET)
ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
ls.bind((a, 5100))
ls.listen(8)
while True:
    c, _ = ls.accept()
    c.settimeout(5)
    got = b""
    try:
        while True:
            b = c.recv(65536)
            if not b:
                break
            got += b
    except socket.timeout:
        pass
    with open(out, "a") as f:
        f.write("%d\n" % len(got))
    c.close()
EOF


# count NAME IDENT: count, in the server's raw table, what arrives of the
# crafted datagram IDENT (IPv4: by identification; IPv6: by fragment id).
count4() { counter_add "$NS_S" "$IPT" raw PREROUTING "$1" -s "$C4X" -m u32 --u32 "4>>16=$2"; }
count6() { counter_add "$NS_S" "$IP6T" raw PREROUTING "$1" -s "$C6X" -m frag --fragid "$2"; }
# ... a whole packet by its length
len4() { counter_add "$NS_S" "$IPT" raw PREROUTING "$1" -s "$C4X" -m length --length "$2"; }
len6() { counter_add "$NS_S" "$IP6T" raw PREROUTING "$1" -s "$C6X" -m length --length "$2"; }
got4() { counter "$NS_S" "$IPT" raw PREROUTING "$1"; }
got6() { counter "$NS_S" "$IP6T" raw PREROUTING "$1"; }

# the crafted cases: frag_craft.py CASE SRC DST IDENT
CRAFT=$top_srcdir/tests/integration/frag_craft.py
craft4() { in_c "$PY" "$CRAFT" "$1" "$C4X" "$S4" "$2"; }
craft6() { in_c "$PY" "$CRAFT" "$1" "$C6X" "$S6" "$2"; }

lib_start "nfqspid starts"
bg_in "$NS_S" "$PY" "$T_TMP/udp.py" serve "$S4" "$S6"
bg_in "$NS_S" "$PY" "$T_TMP/tcp.py" serve "$S4" "$T_TMP/tcp4.out"
bg_in "$NS_S" "$PY" "$T_TMP/tcp.py" serve "$S6" "$T_TMP/tcp6.out"
# shellcheck disable=SC2015  # the || is the whole chain's error path
wait_listen "$NS_S" udp 5001 && wait_listen "$NS_S" tcp 5100 ||
    { echo "servers did not start" >&2; exit 1; }

# ---- 0. the first long packet the kernel has not verified: a bad one -------
len4 bigbad4 1201; len4 biggood4 1202; len6 bigbad6 1203; len6 biggood6 1204
craft4 bad-udp 1201; craft4 good-udp 1202
craft6 bad-udp 1203; craft6 good-udp 1204
# the good twin is sent after the bad one: once it arrived, the bad one
# would have too
check "IPv4: 1202 bytes of UDP with a good checksum do" \
    wait_eval 50 'test "$(got4 biggood4)" -eq 1'
check "IPv4: 1201 bytes of UDP with a bad checksum, cut at first, do not pass" \
    test "$(got4 bigbad4)" -eq 0
check "IPv6: 1204 bytes of UDP with a good checksum do" \
    wait_eval 50 'test "$(got6 biggood6)" -eq 1'
check "IPv6: 1203 bytes of UDP with a bad checksum do not pass" \
    test "$(got6 bigbad6)" -eq 0
check "stats: the cut one was queued again, whole" \
    is_positive "$(lib_stat repeated)"

# ---- 1. real sockets: 3,000-byte datagrams, fragmented by the senders ------
check "UDP 3000 bytes over IPv4, fragmented both ways, comes back whole" \
    test "$(in_c "$PY" "$T_TMP/udp.py" ask "$S4" 3000)" = 3000
check "UDP 3000 bytes over IPv6, fragmented both ways, comes back whole" \
    test "$(in_c "$PY" "$T_TMP/udp.py" ask "$S6" 3000)" = 3000
check "UDP 20000 bytes over IPv4 (14 fragments each way)" \
    test "$(in_c "$PY" "$T_TMP/udp.py" ask "$S4" 20000)" = 20000

# ---- 2. crafted: what must pass, and what must not ---------------------------
n=0
for c in udp udp-reverse overlap incomplete tiny offset8 tcp tcp-shuffled; do
	n=$((n + 1))
	count4 "f4-$c" $((1000 + n))
	count6 "f6-$c" $((2000 + n))
	craft4 "$c" $((1000 + n)) || fail "craft $c over IPv4"
	craft6 "$c" $((2000 + n)) || fail "craft $c over IPv6"
done
for fam in 4 6; do
	check "IPv$fam: fragmented UDP in order: 3 fragments reach the server" \
	    test "$(got$fam "f$fam-udp")" -eq 3
	check "IPv$fam: fragmented UDP last first: 3 fragments reach the server" \
	    test "$(got$fam "f$fam-udp-reverse")" -eq 3
	check "IPv$fam: TCP data in 3 fragments, in order, reaches the server" \
	    test "$(got$fam "f$fam-tcp")" -eq 3
	check "IPv$fam: TCP data in 3 fragments, shuffled, reaches the server" \
	    test "$(got$fam "f$fam-tcp-shuffled")" -eq 3
	check "IPv$fam: the server read both segments of 1500 bytes" \
	    wait_eval 50 'test "$(grep -cx 1500 "$T_TMP/tcp$fam.out" 2>/dev/null)" -eq 2'
	for c in overlap incomplete tiny offset8; do
		check "IPv$fam: $c: no fragment of it reaches the server" \
		    test "$(got$fam "f$fam-$c")" -eq 0
	done
done
check "overlaps audited as frag-overlap" \
    log_has "action=drop state=INVALID rule=- reason=frag-overlap proto=udp src=$C4X "
check "overlaps audited as frag-overlap (IPv6)" \
    log_has "action=drop state=INVALID rule=- reason=frag-overlap proto=udp src=$C6X "
check "tiny first fragment audited as fragment" \
    log_has "action=drop state=INVALID rule=- reason=fragment proto=tcp src=$C4X "
check "tiny first fragment audited as fragment (IPv6)" \
    log_has "action=drop state=INVALID rule=- reason=fragment proto=tcp src=$C6X "
# frag_timeout = 2: the incomplete ones go within a tick after
check "incomplete datagram times out (frag-timeout), audited once" \
    wait_eval 50 'test "$(grep -c "reason=frag-timeout proto=udp src=$C4X " "$T_LOG")" -eq 1'
check "incomplete datagram times out (IPv6)" \
    wait_eval 50 'test "$(grep -c "reason=frag-timeout proto=udp src=$C6X " "$T_LOG")" -eq 1'

# ---- 3. checksums ------------------------------------------------------------
n=0
for c in udp tcp icmp; do
	n=$((n + 1))
	len4 "bad4-$c" $((300 + n)); len4 "good4-$c" $((310 + n))
	len6 "bad6-$c" $((400 + n)); len6 "good6-$c" $((410 + n))
	craft4 "bad-$c" $((300 + n)); craft4 "good-$c" $((310 + n))
	craft6 "bad-$c" $((400 + n)); craft6 "good-$c" $((410 + n))
	for fam in 4 6; do
		check "IPv$fam: $c with a good checksum reaches the server" \
		    wait_eval 50 'test "$(got$fam "good$fam-$c")" -eq 1'
		check "IPv$fam: $c with a bad checksum does not" \
		    test "$(got$fam "bad$fam-$c")" -eq 0
	done
done
check "bad checksums audited as bad-checksum" \
    log_has "action=drop state=INVALID rule=- reason=bad-checksum proto=icmp src=$C4X "
check "bad checksums audited as bad-checksum (IPv6)" \
    log_has "action=drop state=INVALID rule=- reason=bad-checksum proto=tcp src=$C6X "

# a reload applies checksum = no, then yes, from the next packet
sed -i 's/^checksum = yes$/checksum = no/' "$T_CONF"
check "reload: checksum = no" quiet lib_ctl reload
len4 off4 321; len6 off6 421
craft4 bad-udp 321; craft6 bad-udp 421
check "checksum = no: UDP with a bad checksum reaches the server (IPv4)" \
    wait_eval 50 'test "$(got4 off4)" -eq 1'
check "checksum = no: ... and IPv6" wait_eval 50 'test "$(got6 off6)" -eq 1'
sed -i 's/^checksum = no$/checksum = yes/' "$T_CONF"
check "reload: checksum = yes again" quiet lib_ctl reload
len4 on4-bad 322; len4 on4-good 332; len6 on6-bad 422; len6 on6-good 432
craft4 bad-udp 322; craft4 good-udp 332
craft6 bad-udp 422; craft6 good-udp 432
for fam in 4 6; do
	check "checksum = yes again: a good one reaches the server (IPv$fam)" \
	    wait_eval 50 'test "$(got$fam "on$fam-good")" -eq 1'
	check "checksum = yes again: the bad one sent before it does not (IPv$fam)" \
	    test "$(got$fam "on$fam-bad")" -eq 0
done

# ---- 4. counters, and nothing held or tracked by the kernel -----------------
check "stats: datagrams completed" is_positive "$(lib_stat frag_completed)"
check "stats: overlaps counted" is_positive "$(lib_stat frag_overlap)"
check "stats: timeouts counted" is_positive "$(lib_stat frag_timeout)"
check "stats: nothing held at the end" \
    wait_eval 50 'test "$(lib_stat frag_held)" = 0'
lib_finish
lib_summary
