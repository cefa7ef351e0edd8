#!/bin/bash
# test_overload.sh - overload that is safe (issue 17, 2):
#  1. fail_open = yes, a TCP transfer through the firewall, the daemon
#     stopped (SIGSTOP) for 1.5 s while a UDP flood fills its queue
#     (queue_maxlen = 64): the kernel lets the rest of the transfer pass
#     unseen.  After SIGCONT
#     the transfer goes on to its end: nfqspid saw the overflow and let the
#     connection's out-of-window segments pass for fail_open_grace
#     seconds, counted (window_grace) and audited (overflow-grace).
#     The control, first: with fail_open_grace = 0 the same stall kills
#     the transfer (every later segment is out of window), as before.
#     OVERLOAD_ROUNDS=N repeats the stalled transfer N times (make soak).
#     The transfer is paced (100 MB/s): what passes unseen in the stall
#     stays far below 2 GiB, half the sequence space, beyond which the
#     tracker cannot tell a jump ahead from an old retransmission.
#  2. fail_open = no (the shipped setting), the daemon stopped while SYNs
#     to a port no rule opens arrive: none reaches the server.
#  3. fail_open = yes, only the worker thread stalled (ptrace): the
#     watchdog makes its queue fail closed within 2 s, so SYNs to that
#     port sent while it stays stalled never reach the server; the worker
#     runs again, fail_open comes back, the daemon never exited.
#
# Copyright (C) 2026 The nfqspid authors
# SPDX-License-Identifier: GPL-2.0-or-later
set -u

T_NET=${T_NET:-87}
T_QUEUE=${T_QUEUE:-21}
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"

lib_init overload
lib_flood_lock
lib_need hping3
lib_topology

# conf FAIL_OPEN GRACE
conf()
{
	lib_config <<EOF
[policy]
established = accept
related = accept
invalid = drop
new = drop

[rule bulk]
proto = tcp
dport = 5001
action = accept
EOF
	sed -i -e "s/^fail_open = no$/fail_open = $1\nfail_open_grace = $2\nqueue_maxlen = 64/" \
	    "$T_CONF"
}

# sink.py ADDR: counts what each connection sends, prints the total at
# its end.
cat >"$T_TMP/sink.py" <<'EOF'
import socket, sys, threading
ls = socket.socket()
ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
ls.bind((sys.argv[1], 5001))
ls.listen(16)
def serve(c):
    n = 0
    while True:
        d = c.recv(1 << 16)
        if not d:
            break
        n += len(d)
    c.sendall(b"%d\n" % n)
    c.close()
while True:
    c, _ = ls.accept()
    threading.Thread(target=serve, args=(c,), daemon=True).start()
EOF
# bulk.py ADDR SECONDS: sends at up to 100 MB/s for SECONDS, then asks
# the sink what it got.  Prints "ok SENT" when the sink got every byte,
# else "dead ..." (no progress for 8 s: the connection died).
cat >"$T_TMP/bulk.py" <<'EOF'
import socket, sys, time
addr, secs = sys.argv[1], float(sys.argv[2])
rate = 100e6
buf = b"x" * 65536
sent = 0
s = socket.create_connection((addr, 5001), timeout=8)
try:
    start = time.time()
    end = start + secs
    while time.time() < end:
        s.sendall(buf)
        sent += len(buf)
        ahead = sent / rate - (time.time() - start)
        if ahead > 0:
            time.sleep(ahead)
    s.shutdown(socket.SHUT_WR)
    got = int(s.recv(100).decode().strip() or -1)
except (OSError, ValueError) as e:
    print("dead after %d bytes: %s" % (sent, e))
    sys.exit(1)
print("ok %d" % sent if got == sent else "dead: sent %d, got %d" % (sent, got))
EOF

# SYNs to the closed port that reached the server, counted in its INPUT.
counter_add "$NS_S" "$IPT" filter INPUT fsyn -p tcp --dport 7002 --syn
syns() { in_c hping3 -q -S -p 7002 -i u2000 -c "$1" "$S4" >/dev/null 2>&1; }

conf yes 0
lib_start "nfqspid starts"
bg_in "$NS_S" "$PY" "$T_TMP/sink.py" "$S4"
wait_listen "$NS_S" tcp 5001 || fail "the sink listens"

# ---- 1. a transfer survives an overflow that failed open ----------------
stalled_transfer()
{
	in_c "$PY" "$T_TMP/bulk.py" "$S4" 6 >"$T_TMP/bulk.out" 2>&1 &
	local b=$!
	sleep 2
	kill -STOP "$T_DPID"
	# a TCP transfer alone only stalls (it waits for its ACKs, queued
	# too); a flood fills the queue, and then the kernel lets the
	# transfer's segments and ACKs pass unseen
	in_c timeout 1.5 hping3 -q -2 -p 9 --flood "$S4" >/dev/null 2>&1
	kill -CONT "$T_DPID"
	wait "$b"
	cat "$T_TMP/bulk.out"
}
# The control first: without the grace the stall kills the transfer, as
# it did before.
r=$(stalled_transfer)
check "fail_open_grace = 0: the stall kills the transfer, as before ($r)" \
    test "${r%% *}" = dead
conf yes 10
check "reload with fail_open_grace = 10" quiet lib_ctl reload
r=$(stalled_transfer)
check "fail_open = yes: a transfer survives a 1.5 s stall of the daemon ($r)" \
    test "${r%% *}" = ok
g=$(lib_stat window_grace)
check "its out-of-window segments were let pass by the grace ($g)" \
    test "${g:-0}" -gt 0
o=$(lib_stat overflows)
check "the overflow was seen (overflows $o)" test "${o:-0}" -gt 0
check "and logged" log_has "queue $T_QUEUE overflowed \((stalled|full|socket buffer full)\) while failing open"
check "and each such segment audited" \
    log_has "action=accept state=ESTABLISHED rule=- reason=overflow-grace proto=tcp"
# OVERLOAD_ROUNDS=N (make soak: 20): N stalled transfers in all, each must
# live
n=${OVERLOAD_ROUNDS:-1}
for i in $(seq 2 "$n"); do
	r=$(stalled_transfer)
	check "round $i of $n: a transfer survives the stall ($r)" \
	    test "${r%% *}" = ok
done

# ---- 2. fail-closed: nothing passes while the daemon is stopped ---------
conf no 10
check "reload with fail_open = no" quiet lib_ctl reload
kill -STOP "$T_DPID"
syns 500
kill -CONT "$T_DPID"
sleep 0.5
n=$(counter "$NS_S" "$IPT" filter INPUT fsyn)
check "fail_open = no: 500 SYNs to a closed port while stopped: none delivered ($n)" \
    test "$n" = 0

# ---- 3. the watchdog closes a stalled worker's queue ---------------------
conf yes 10
check "reload with fail_open = yes" quiet lib_ctl reload
tid=$(worker_tid "$T_DPID")
check "the worker thread is named nfqspid-w0 (tid $tid)" test "$tid" != 0
lib_hold "$T_TMP/stall.out" "$STALL" "$tid" 6
check "the worker thread alone is stopped" grep -q stopped "$T_TMP/stall.out"
check "the watchdog makes its queue fail closed" \
    log_has "watchdog: worker 0 \(queue $T_QUEUE\) has not run for 2 s: its queue fails closed until it runs again"
syns 500
n=$(counter "$NS_S" "$IPT" filter INPUT fsyn)
check "500 SYNs to a closed port while the worker is stalled: none delivered ($n)" \
    test "$n" = 0
wait "$T_HOLD"
check "the worker runs again and its queue fails open again" \
    log_has "worker 0 runs again: queue $T_QUEUE fails open again"
check "nfqspid did not exit" lib_daemon_alive
r=$(in_c "$PY" "$T_TMP/bulk.py" "$S4" 1)
check "traffic flows again ($r)" test "${r%% *}" = ok
n=$(counter "$NS_S" "$IPT" filter INPUT fsyn)
check "and still no SYN to the closed port was delivered ($n)" test "$n" = 0

if lib_stop_daemon; then
	check "SIGTERM: nfqspid exits with status 0 (got $T_DRC)" test "$T_DRC" -eq 0
else
	fail "SIGTERM: nfqspid exits"
fi
lib_summary
