#!/bin/bash
# soak_attacks.sh - `make soak`, not part of make check: the five attacks
# of issue 17, one after the other, SOAK_ATTACK_SECONDS each (default
# 120), against the shipped defaults (fail_open = no, source_share = 10)
# with 2,000 rules and the status page on:
#  1. reloads every 3 s while random sources flood SYNs to an open port
#     (the table grows to [conntrack] max);
#  2. overload: a UDP flood faster than the worker, with the daemon
#     stopped (SIGSTOP) for 5 s in the middle;
#  3. 2,000 trickling connections to the status page;
#  4. one client opening 6,000 connections (max = 50000: its share is
#     5,000), and a second client;
#  5. 64 trickling clients on the control socket.
# All along: SYNs to a port no rule opens (100 a second), four live TCP
# transfers, and a UDP probe every 5 ms.  Prints:
#  - packets to forbidden ports delivered (must be 0),
#  - live transfers that died (must be 0),
#  - the worst and the 99th percentile probe delay, per attack and at
#    rest (the reloads' stall shows in attack 1),
#  - nfqspictl's answer time under the page and the control floods,
#  - how a second client fares while one client floods the table.
#
# Copyright (C) 2026 The nfqspid authors
# SPDX-License-Identifier: GPL-2.0-or-later
set -u

T_NET=${T_NET:-86}
T_QUEUE=${T_QUEUE:-22}
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"

SOAK_ATTACK_SECONDS=${SOAK_ATTACK_SECONDS:-120}
SOAK_RULES=${SOAK_RULES:-2000}
HTTP_PORT=8472
T=$SOAK_ATTACK_SECONDS

lib_init soakatk
lib_need hping3
lib_topology
C4B=10.$T_NET.1.3		# the second client
OPENER=$top_srcdir/tests/integration/opener.py	# N connections at once
in_c ip addr add "$C4B/24" dev c0
lib_spoofed

# The shipped defaults but for the page and the rules.
{
	lib_config <<EOF
[conntrack]
max = 50000

[rule bulk]
proto = tcp
dport = 5001
action = accept

[rule probe]
proto = udp
dport = 5353
action = accept

[rule open]
proto = tcp
dport = 7000
action = accept
EOF
	sed -i -e "/^fail_open = no$/d" -e \
	    "s|^control = .*|&\nhttp = $D4C:$HTTP_PORT\nhttp_allow = $C4/32|" \
	    "$T_CONF"
	i=0
	while [ "$i" -lt "$SOAK_RULES" ]; do
		printf '\n[rule filler-%d]\nproto = tcp\nsrc = 198.51.100.%d/32\ndport = %d\naction = accept\n' \
		    "$i" $((i % 250 + 1)) $((20000 + i))
		i=$((i + 1))
	done >>"$T_CONF"
}

cat >"$T_TMP/hold.py" <<'EOF'
import resource, socket, sys, threading
h = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
resource.setrlimit(resource.RLIMIT_NOFILE, (h, h))
def serve(port, bulk):
    ls = socket.socket()
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind((sys.argv[1], port))
    ls.listen(8192)
    held = []
    while True:
        c, _ = ls.accept()
        if bulk:
            threading.Thread(target=sink, args=(c,), daemon=True).start()
        else:
            held.append(c)
def sink(c):
    while c.recv(1 << 16):
        pass
threading.Thread(target=serve, args=(5001, True), daemon=True).start()
serve(7000, False)
EOF
# transfers.py ADDR N SECONDS: N paced TCP transfers for SECONDS; prints
# how many died: an error (a reset), or no progress over the last 20 s
# (after the attacks: a flood that drops packets may starve a transfer
# for a while, a dead connection never moves again).
cat >"$T_TMP/transfers.py" <<'EOF'
import socket, sys, threading, time
addr, n, secs = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
dead = []
def run(i):
    try:
        s = socket.create_connection((addr, 5001), timeout=10)
        s.settimeout(1)
        end, buf, last = time.time() + secs, b"x" * 16384, time.time()
        while time.time() < end:
            try:
                if s.send(buf) > 0:
                    last = time.time()
            except socket.timeout:
                pass
            time.sleep(0.005)		# about 25 Mbit/s each at most
        if time.time() - last > 20:
            dead.append("%d: no progress for %.0f s" % (i, time.time() - last))
        s.close()
    except OSError as e:
        dead.append("%d: %s" % (i, e))
th = [threading.Thread(target=run, args=(i,)) for i in range(n)]
for t in th:
    t.start()
for t in th:
    t.join()
print(len(dead), "; ".join(dead))
EOF
# probe.py ADDR SECONDS OUT: a UDP datagram every 5 ms; writes "sent_time
# rtt_ms" per probe (rtt -1: no answer within 2 s).
cat >"$T_TMP/probe.py" <<'EOF'
import select, socket, struct, sys, time
addr, secs, out = sys.argv[1], float(sys.argv[2]), sys.argv[3]
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.connect((addr, 5353))
sent, got = {}, {}
end, seq, nxt = time.time() + secs, 0, time.time()
while time.time() < end + 2:
    now = time.time()
    if now >= nxt and now < end:
        s.send(struct.pack("!Id", seq, now))
        sent[seq] = now
        seq += 1
        nxt += 0.005
    r, _, _ = select.select([s], [], [], max(0.0, min(nxt - time.time(), 0.005)))
    if r:
        d = s.recv(100)
        if d.startswith(b"pong:"):
            q, t0 = struct.unpack("!Id", d[5:17])
            got[q] = time.time() - t0
with open(out, "w") as f:
    for q, t0 in sent.items():
        f.write("%.3f %.3f\n" % (t0, got.get(q, -0.001) * 1000))
EOF
# trickle.py unix:PATH|tcp:ADDR:PORT N SECONDS: N connections that send a
# byte every 2 s and never finish a request.
cat >"$T_TMP/trickle.py" <<'EOF'
import resource, socket, sys, time
h = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
resource.setrlimit(resource.RLIMIT_NOFILE, (h, h))
dst, n, secs = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
socks = []
end = time.time() + secs
while time.time() < end:
    while len(socks) < n:
        try:
            if dst.startswith("unix:"):
                s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                s.settimeout(1)
                s.connect(dst[5:])
            else:
                _, a, p = dst.split(":")
                s = socket.create_connection((a, int(p)), timeout=1)
            s.setblocking(False)
            socks.append(s)
        except OSError:
            break
    for s in list(socks):
        try:
            s.send(b"G")
        except OSError:
            socks.remove(s)
            s.close()
    time.sleep(2)
EOF
lib_write_helpers

counter_add "$NS_S" "$IPT" filter INPUT fsyn -p tcp --dport 7002 --syn
counter_add "$NS_S" "$IPT" filter INPUT fudp -p udp --dport 9

check "nfqspid -n accepts the soak configuration ($SOAK_RULES rules)" \
    quiet "$NFQSPID" -n -c "$T_CONF"
lib_start "nfqspid starts"
bg_in "$NS_S" "$PY" "$T_TMP/hold.py" "$S4"
bg_in "$NS_S" "$PY" "$T_TMP/udpsrv.py" "$S4:5353"
wait_listen "$NS_S" tcp 7000 || fail "the server listens"
wait_listen "$NS_S" udp 5353 || fail "the UDP echo listens"

# answer_ms: how long `nfqspictl status` takes, in ms (10000: no answer)
answer_ms()
{
	local t0 t1
	t0=$(date +%s%N)
	timeout 10 "$NFQSPICTL" -s "$T_CTL" status >/dev/null 2>&1 ||
	    { echo 10000; return; }
	t1=$(date +%s%N)
	echo $(((t1 - t0) / 1000000))
}
# worst_answer SECONDS: the worst answer_ms over SECONDS, every 0.5 s
worst_answer()
{
	local end=$((SECONDS + $1)) w=0 a
	while [ "$SECONDS" -lt "$end" ]; do
		a=$(answer_ms)
		[ "$a" -gt "$w" ] && w=$a
		sleep 0.5
	done
	echo "$w"
}
phase() { echo "$1 $(date +%s.%N)" >>"$T_TMP/phases"; echo "soak: $(date +%T) $1"; }

total=$((10 + 5 * T + 30))
echo "soak: $SOAK_ATTACK_SECONDS s per attack, about $total s in all"
in_c hping3 -q -S -p 7002 -i u10000 -c $((total * 100)) "$S4" \
    >/dev/null 2>&1 &
prober=$!
in_c "$PY" "$T_TMP/transfers.py" "$S4" 4 "$total" >"$T_TMP/transfers.out" \
    2>&1 &
transfers=$!
in_c "$PY" "$T_TMP/probe.py" "$S4" "$total" "$T_TMP/probe.out" &
probe=$!

phase rest
sleep 10

# ---- 1. reloads during a SYN flood from random sources ----------------------
phase reload
in_c timeout "$T" hping3 -q -S -p 7000 --rand-source -i u50 "$S4" \
    >/dev/null 2>&1 &
flood=$!
worst_reload=0
reloads=0
end=$((SECONDS + T))
while [ "$SECONDS" -lt "$end" ]; do
	sleep 3
	t0=$(date +%s%N)
	lib_ctl reload >/dev/null 2>&1 && reloads=$((reloads + 1))
	t1=$(date +%s%N)
	r=$(((t1 - t0) / 1000000))
	[ "$r" -gt "$worst_reload" ] && worst_reload=$r
done
wait "$flood" 2>/dev/null
table=$(lib_ctl conntrack count 2>/dev/null | tr -dc 0-9)

# ---- 2. overload: a UDP flood, and the daemon stopped for 5 s ----------------
phase overload
in_c timeout "$T" hping3 -q -2 -p 9 --flood "$S4" >/dev/null 2>&1 &
flood=$!
sleep $((T / 2))
kill -STOP "$T_DPID"
sleep 5
kill -CONT "$T_DPID"
wait "$flood" 2>/dev/null
lost=$(lib_stat lost)

# ---- 3. the status page flooded by trickling connections ---------------------
phase page
in_c "$PY" "$T_TMP/trickle.py" "tcp:$D4C:$HTTP_PORT" 2000 "$T" &
tr=$!
sleep 3
worst_page=$(worst_answer $((T - 5)))
wait "$tr" 2>/dev/null

# ---- 4. one client opens connections without end ------------------------------
phase table
in_c "$PY" "$OPENER" "$C4" "$S4" 6000 "$T" >"$T_TMP/opener.out" &
op=$!
wait_for 200 test -s "$T_TMP/opener.out"
first=$(cat "$T_TMP/opener.out")
second=$(in_c "$PY" "$OPENER" "$C4B" "$S4" 5 0)
wait "$op" 2>/dev/null

# ---- 5. the control socket flooded by trickling clients -----------------------
phase control
in_d "$PY" "$T_TMP/trickle.py" "unix:$T_CTL" 64 "$T" &
tr=$!
sleep 3
worst_ctl=$(worst_answer $((T - 8)))
lib_ctl reload >/dev/null 2>&1 && reload_ctl=ok || reload_ctl=refused
wait "$tr" 2>/dev/null
phase end

wait "$probe" "$transfers" 2>/dev/null
kill "$prober" 2>/dev/null
wait "$prober" 2>/dev/null

# ---- figures ---------------------------------------------------------------------
fsyn=$(counter "$NS_S" "$IPT" filter INPUT fsyn)
fudp=$(counter "$NS_S" "$IPT" filter INPUT fudp)
read -r died why <"$T_TMP/transfers.out"
echo "soak: probe delay by phase (ms): worst, 99th percentile, lost"
"$PY" - "$T_TMP/phases" "$T_TMP/probe.out" <<'EOF' | tee "$T_TMP/delays"
import sys
ph = [l.split() for l in open(sys.argv[1])]
pr = [tuple(map(float, l.split())) for l in open(sys.argv[2])]
for i in range(len(ph) - 1):
    a, b = float(ph[i][1]), float(ph[i + 1][1])
    d = sorted(r for t, r in pr if a <= t < b and r >= 0)
    lost = sum(1 for t, r in pr if a <= t < b and r < 0)
    if d:
        print("soak:   %-8s worst %7.1f  p99 %7.1f  lost %d of %d" % (
            ph[i][0], d[-1], d[int(len(d) * 0.99)], lost, len(d) + lost))
EOF
echo "soak: forbidden packets delivered: $fsyn SYNs to tcp/7002, $fudp datagrams to udp/9"
echo "soak: live transfers that died: $died of 4 ${why:-}"
echo "soak: reloads during the SYN flood: $reloads, the slowest took $worst_reload ms; table at its end: ${table:-?}"
echo "soak: packet ids lost (the socket was full) during the overload: ${lost:-?}"
echo "soak: nfqspictl status, worst answer: page flood $worst_page ms, control flood $worst_ctl ms (reload during it: $reload_ctl)"
echo "soak: one client asking for 6000 connections got $first (its share: 5000); a second client then connected $second of 5"
check "no packet to a forbidden port was delivered ($fsyn + $fudp)" \
    test "$fsyn" = 0 -a "$fudp" = 0
check "no live transfer died ($died)" test "$died" = 0
check "nfqspid stayed up" lib_daemon_alive
if lib_stop_daemon; then
	check "SIGTERM: nfqspid exits with status 0 (got $T_DRC)" test "$T_DRC" -eq 0
else
	fail "SIGTERM: nfqspid exits"
fi
lib_summary
