#!/bin/bash
# test_offload_full.sh - [daemon] fastpath = yes when the kernel fails
# an offload: its map is full.  Each map holds [conntrack] max
# connections (two elements each), made anew when a reload raises max.
#
# 1. The map filled by hand with made-up tuples: the kernel refuses the
#    next addition (ENFILE).  A UDP flow's offload fails; the read of
#    the counters that follows takes the made-up tuples out as strays;
#    the flow goes in at its first retry, a second later, no datagram
#    lost meanwhile.
# 2. A reload raises max from 4 to 8: the map is made anew for 8, empty
#    (the flow of 1 left it), and six flows of the daemon's own go in,
#    each at its first try.
# 3. fptool makes the table anew as a daemon of max 6 would (the
#    daemon's own fastpath_open()): the map has room for the six flows
#    alone.  The daemon finds them gone, as if timed out, and puts them
#    in again: the map is full of its own connections, no stray to take
#    out, and stays full while they live.  A seventh flow is tried
#    seven times over about a minute, every datagram of it answered
#    through the queue, counted in offload_active meanwhile, then
#    refused: out of offload_active, never in the kernel, not offered
#    again.
# 4. One of the six deleted: a new flow goes in at its first try.
#
# Copyright (C) 2026 The nfqspid authors
# SPDX-License-Identifier: GPL-2.0-or-later
# shellcheck disable=SC2317  # functions run through check and wait_for
set -u

T_NET=${T_NET:-78}
T_QUEUE=${T_QUEUE:-34}
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"

lib_init offload_full
lib_need nft
lib_topology
lib_write_helpers
FPTOOL=${FPTOOL:-$top_builddir/tests/integration/fptool}
TABLE=nfqspid-fp-$T_QUEUE
BIT=0x80000000
# the UDP flows' timeout: long, so that no connection ends and no
# element is renewed (past half of it) while the test runs; both of
# them: a flow of a few quick datagrams never becomes a stream (no
# packet 2 s after its first), so it keeps timeout_udp
UDP_TO=600
MAP=conn_udp4

# $1: [conntrack] max (connections a worker tracks; the maps are made
# for as many at start)
policy()
{
	lib_config <<EOF
[conntrack]
max = $1
timeout_udp = $UDP_TO
timeout_udp_stream = $UDP_TO
; one source, the client, holds them all
source_share = 0

[policy]
new = drop

[rule udp]
proto = udp
dst = $S4
dport = 5002
action = accept
EOF
	sed -i -e 's/^\[daemon\]$/[daemon]\nfastpath = yes/' "$T_CONF"
}

policy 4
lib_must_start "nfqspid starts with fastpath = yes and max = 4"
lib_ctl iptables >"$T_TMP/ipt.rules"
check "iptables-restore -n takes nfqspictl iptables" \
    in_d "$IPT-restore" -n "$T_TMP/ipt.rules"
size_is() { in_d nft list map inet "$TABLE" "$MAP" | grep -q "size $1\$"; }
check "the map is made for max connections: 2 x 4 elements (size 8)" \
    size_is 8

bg_in "$NS_S" "$PY" "$T_TMP/udpsrv.py" "$S4:5002"
wait_listen "$NS_S" udp 5002 || fail "server listens on udp 5002"

# a UDP stream: datagrams from SPORT every INTERVAL s, each answered
# (1 s at most), N of them or until the file STOP exists; prints how
# many went and how many were answered
cat >"$T_TMP/stream.py" <<'EOF'
import os, socket, sys, time
dst, dport, sport = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
gap, n, stop = float(sys.argv[4]), int(sys.argv[5]), sys.argv[6]
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("", sport))
s.settimeout(1)
sent = got = 0
while sent < n and not os.path.exists(stop):
    s.sendto(b"d%d" % sent, (dst, dport))
    sent += 1
    try:
        s.recvfrom(4096)
        got += 1
    except socket.timeout:
        pass
    time.sleep(gap)
print(sent, got)
EOF

# ---- helpers ---------------------------------------------------------------

# flow_count SPORT [bypassed]: the packets of the flow from SPORT, both
# ways, dut forwarded (mangle, before the fast path's chain), or that
# the bypass rule took (filter, the mark set)
count_flow()
{
	counter_add "$NS_D" "$IPT" mangle FORWARD "all-$1" -p udp --sport "$1"
	counter_add "$NS_D" "$IPT" mangle FORWARD "all-$1" -p udp --dport "$1"
	counter_add "$NS_D" "$IPT" filter FORWARD "byp-$1" -p udp --sport "$1" \
	    -m mark --mark "$BIT/$BIT"
	counter_add "$NS_D" "$IPT" filter FORWARD "byp-$1" -p udp --dport "$1" \
	    -m mark --mark "$BIT/$BIT"
}
flow_count()
{
	local tbl=mangle tag=all
	[ -n "${2:-}" ] && tbl=filter tag=byp
	in_d "$IPT" -t "$tbl" -L FORWARD -n -v -x |
	    awk -v t="/* $tag-$1 */" 'index($0, t) { n += $1 } END { print n + 0 }'
}
# in_kernel SPORT: the map holds the flow from C4:SPORT
in_kernel() { in_d nft list map inet "$TABLE" "$MAP" | grep -qF "$C4 . $1 . $S4 . 5002 "; }
elements() { in_d nft list map inet "$TABLE" "$MAP" | grep -o 'goto [a-z0-9_]*' | wc -l; }
made_up() { in_d nft list map inet "$TABLE" "$MAP" | grep -c '192\.0\.2\.'; }
active() { [ "$(lib_stat offload_active)" = "$1" ]; }
ct_has() { lib_ctl conntrack 2>/dev/null | grep -q "sport=$1 dport=5002 "; }
# add_made_up N: N made-up connections, both directions, into the map
add_made_up()
{
	local i e=
	for ((i = 1; i <= $1; i++)); do
		e+="${e:+, }192.0.2.$i . 1000 . 198.51.100.1 . 53 comment \"orig\" : goto nomark"
		e+=", 198.51.100.1 . 53 . 192.0.2.$i . 1000 comment \"reply\" : goto nomark"
	done
	in_d nft add element inet "$TABLE" "$MAP" "{ $e }" 2>"$T_TMP/nft.err"
}
# full: the kernel refuses one more element, as a full set (ENFILE)
full()
{
	! in_d nft add element inet "$TABLE" "$MAP" \
	    "{ 192.0.2.200 . 1 . 198.51.100.1 . 53 : goto nomark }" \
	    2>"$T_TMP/nft.err" &&
	    grep -q "Too many open files in system" "$T_TMP/nft.err"
}

# ---- 1. made-up tuples: the first try fails, the retry lands ----------------

# the fast path's thread sleeps while it holds nothing: no read of the
# counters comes between these and the flow's offload
check "4 made-up connections fill the map" add_made_up 4
check "the map holds 8 elements" test "$(elements)" = 8
check "the kernel refuses a ninth: ENFILE" full
echo "nft says: $(head -n 1 "$T_TMP/nft.err")"
e0=$(lib_stat offload_errors)
s0=$(lib_stat offload_strays)
r0=$(lib_stat offload_retried)
f0=$(lib_stat offload_refused)
count_flow 40100
out=$(in_c "$PY" "$T_TMP/stream.py" "$S4" 5002 40100 0.05 60 "$T_TMP/none")
echo "made-up: the flow from 40100: $out (sent, answered); $(flow_count 40100) packets, $(flow_count 40100 b) bypassed"
check "made-up: every datagram was answered ($out)" test "$out" = "60 60"
check "made-up: its first try failed (offload_errors +1)" \
    test "$(lib_stat offload_errors)" = $((e0 + 1))
check "made-up: the 4 made-up connections were taken out as strays" \
    test "$(lib_stat offload_strays)" = $((s0 + 4))
check "made-up: none is left in the map" test "$(made_up)" = 0
check "made-up: it was sent again once (offload_retried +1)" \
    test "$(lib_stat offload_retried)" = $((r0 + 1))
check "made-up: and not refused" test "$(lib_stat offload_refused)" = "$f0"
check "made-up: the flow is in the kernel's map" in_kernel 40100
check "made-up: its later packets took the bypass ($(flow_count 40100 b))" \
    test "$(flow_count 40100 b)" -ge 10
check "made-up: its first ones crossed the queue" \
    test $(($(flow_count 40100) - $(flow_count 40100 b))) -ge 16

# ---- 2. a reload raises max: the map is made anew, with room ---------------

e0=$(lib_stat offload_errors)
policy 8
check "reload with max = 8" quiet lib_ctl reload
check "the map is made for the new max: 2 x 8 elements (size 16)" \
    size_is 16
check "the daemon says so" \
    grep -q "fastpath: the maps have room for 8 connections (were 4)" "$T_LOG"
check "emptied as a reload leaves it: the flow of 1 is out" \
    not in_kernel 40100
check "with nothing in it" test "$(elements)" = 0
SIX="40201 40202 40203 40204 40205 40206"
for p in $SIX; do
	count_flow "$p"
	in_c "$PY" "$T_TMP/stream.py" "$S4" 5002 "$p" 0 12 "$T_TMP/none" >/dev/null
done
check "six flows offloaded" wait_for 50 active 6
six_in() { local p; for p in $SIX; do in_kernel "$p" || return 1; done; }
check "the six are in the kernel: more than the 4 of the old size" six_in
check "the map holds 12 elements" test "$(elements)" = 12
check "each at its first try (no offload_errors since the reload)" \
    test "$(lib_stat offload_errors)" = "$e0"

# ---- 3. full of the daemon's own: a seventh flow is refused ----------------

# The maps the daemon makes hold as many connections as its tables: its
# own flows never fill one, and it takes out what it does not hold
# (part 1).  So fptool makes the table anew, empty, as a daemon of max 6
# would (the daemon's fastpath_open(), the daemon's timeouts: TCP's at
# most 300 s).  Nothing else changes under the daemon, which at its next
# read of the counters (a second) finds its six gone, as if they timed
# out, and puts them in again: then the map is full, of connections the
# daemon holds, and stays so, whatever the daemon's timing, while they
# live.  Every refusal below is the kernel's, of the daemon's own add.
n0=$(lib_stat offload_renewed)
# (it leaves without closing, so that the table stays: in CI's ASan
# build LeakSanitizer would fail that exit)
check "full: fptool makes the table anew for 6 connections" \
    quiet in_d env ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0" \
    "$FPTOOL" "$T_QUEUE" 300 "$UDP_TO" 6 </dev/null
check "full: its map's size is 12" size_is 12
renewed() { [ "$(lib_stat offload_renewed)" -ge $((n0 + 6)) ]; }
check "full: the daemon puts its six in again" wait_for 150 renewed
check "full: six renewed (offload_renewed +6)" \
    test "$(lib_stat offload_renewed)" = $((n0 + 6))
check "full: the six are in the kernel" six_in
check "full: the map holds 12 elements, all the daemon's" \
    test "$(elements)" = 12
check "full: the kernel refuses one more" full
e0=$(lib_stat offload_errors)
r0=$(lib_stat offload_retried)
f0=$(lib_stat offload_refused)
o0=$(lib_stat offloaded)
count_flow 40207
in_c "$PY" "$T_TMP/stream.py" "$S4" 5002 40207 0.1 2000 "$T_TMP/stop" \
    >"$T_TMP/stream.out" &
spid=$!
# 16 packets (1.6 s), then the first try; the second 1 s later
offered() { [ "$(lib_stat offloaded)" -gt "$o0" ]; }
check "full: a seventh flow is handed over" wait_for 200 offered
check "full: once (offloaded +1)" test "$(lib_stat offloaded)" = $((o0 + 1))
check "full: and counted in offload_active while it waits" active 7
tried2() { [ "$(lib_stat offload_errors)" -ge $((e0 + 2)) ]; }
check "full: its first try failed, its second too" wait_for 200 tried2
check "full: it is not in the kernel" not in_kernel 40207
echo "full: waiting for the seventh try (about a minute)"
refused() { [ "$(lib_stat offload_refused)" -gt "$f0" ]; }
check "full: refused after its seventh try" wait_for 900 refused
check "full: refused once" test "$(lib_stat offload_refused)" = $((f0 + 1))
check "full: sent again 6 times (offload_retried +6)" \
    test "$(lib_stat offload_retried)" = $((r0 + 6))
check "full: 7 failed changes (offload_errors +7)" \
    test "$(lib_stat offload_errors)" = $((e0 + 7))
check "full: out of offload_active" wait_for 30 active 6
# the page: not offered again while it lives
sleep 2
check "full: not offered again" test "$(lib_stat offloaded)" = $((o0 + 1))
touch "$T_TMP/stop"
wait "$spid"
out=$(cat "$T_TMP/stream.out")
q=$(($(flow_count 40207) - $(flow_count 40207 b)))
echo "full: the flow from 40207: $out (sent, answered); $q packets crossed the queue, $(flow_count 40207 b) bypassed"
read -r sent got <<<"$out"
check "full: every datagram was answered ($out)" \
    test -n "$sent" -a "$sent" = "${got:-}" -a "${sent:-0}" -ge 300
check "full: all of its packets crossed the queue" \
    test "$(flow_count 40207 b)" = 0 -a "$q" -ge $((2 * sent))
check "full: nfqspictl conntrack lists it" ct_has 40207
check "full: never in the kernel's map" not in_kernel 40207
check "full: the six stay in" six_in
check "full: the map still holds their 12 elements" test "$(elements)" = 12

# ---- 4. room again: a new flow goes in at its first try ---------------------

check "room: nfqspictl conntrack delete of one of the six" \
    quiet lib_ctl conntrack delete proto=udp sport=40201
check "room: it left the kernel" wait_for 30 not in_kernel 40201
check "room: 10 elements left" test "$(elements)" = 10
r0=$(lib_stat offload_retried)
e0=$(lib_stat offload_errors)
count_flow 40208
out=$(in_c "$PY" "$T_TMP/stream.py" "$S4" 5002 40208 0 12 "$T_TMP/none")
check "room: a new flow's datagrams answered ($out)" test "$out" = "12 12"
check "room: it is in the kernel" wait_for 30 in_kernel 40208
check "room: at its first try (no retry, no error)" \
    test "$(lib_stat offload_retried)" = "$r0" -a \
    "$(lib_stat offload_errors)" = "$e0"
check "room: offload_active 6" active 6

lib_finish
check "SIGTERM: the table $TABLE is gone" \
    not quiet in_d nft list table inet "$TABLE"
lib_summary
