#!/bin/bash
# test_sdnotify.sh - nfqspid -f under a Type=notify unit, with this test
# in systemd's place: a unix datagram socket named in $NOTIFY_SOCKET
# (sdnotify.py writes down each message, with the sender's pid from its
# credentials).  READY=1 comes once the queue is bound and nfqspictl
# answers, from the daemon's own pid, named in MAINPID; a reload (SIGHUP,
# nfqspictl reload, a bad file) is RELOADING=1 then READY=1; the unit's
# nfqspictl reload PID fails on a bad file, and without the daemon's
# socket at its path sends SIGHUP; SIGTERM is STOPPING=1 and exit 0.  A bad file is exit 2 with its error in STATUS=
# and on the journal's stream, a second daemon exit 1 with its reason,
# neither READY=1; one that fails on an errno (no directory for its
# control socket) gives it in ERRNO= too.  An abstract socket ('@')
# works; WATCHDOG=1 comes at half of $WATCHDOG_USEC while the main loop
# turns, before, during and after a reload of a file that takes seconds
# to load, and a conntrack flush and a rules -Z that a stopped worker
# holds seconds, none while the process is stopped, and none when
# $WATCHDOG_PID is another's; a start that takes seconds says
# EXTEND_TIMEOUT_USEC= every second, and nothing else, until READY=1.
# With
# systemd busy (the listener stopped, its queue full) at the start and
# at a reload, READY=1 is kept and comes once it reads again, with the
# reload's RELOADING=1 before it in one datagram; busy at a stop that
# takes seconds, STOPPING=1 is kept and comes once it reads again,
# before the stop is over.  The
# watchdog thread's exit (a worker stopped alone) says why in STATUS=.
# A worker stopped at SIGTERM: the stop ends after 30 s, exit 1, saying
# which worker, the state file not written.
#
# Copyright (C) 2026 The nfqspid authors
# SPDX-License-Identifier: GPL-2.0-or-later
# shellcheck disable=SC2317  # functions run through check and wait_for
set -u

T_NET=${T_NET:-77}
T_QUEUE=${T_QUEUE:-12}
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"

lib_init sdnotify
lib_ping_setup 1
lib_divert || { echo "cannot divert FORWARD to NFQUEUE" >&2; exit 1; }

# ---- systemd's side ------------------------------------------------------------------
# "pid P" (the listener's, to stop it as a busy systemd), then one line
# a message: "PID KEY=V | KEY=V ..."; a READY=1 line ends with
# what the listener found at that moment: "|| bound=B ctl=C", the queue
# bound in dut (/proc) and nfqspictl status answering (1 each).
cat >"$T_TMP/sdnotify.py" <<'EOF'
import os, socket, struct, subprocess, sys
addr, out, queue, ctl, ctlbin = sys.argv[1:6]
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind("\0" + addr[1:] if addr.startswith("@") else addr)
s.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
with open(out, "a", buffering=1) as f:
    f.write("pid %d\nlistening\n" % os.getpid())
    while True:
        msg, anc, _, _ = s.recvmsg(4096, socket.CMSG_SPACE(12))
        pid = "?"
        for lvl, typ, data in anc:
            if lvl == socket.SOL_SOCKET and typ == socket.SCM_CREDENTIALS:
                pid = struct.unpack("iII", data[:12])[0]
        kv = msg.decode(errors="replace").split("\n")
        line = "%s %s" % (pid, " | ".join(kv))
        if "READY=1" in kv:
            bound = any(l.split()[0] == queue for l in
                        open("/proc/net/netfilter/nfnetlink_queue"))
            ctl_ok = subprocess.run([ctlbin, "-s", ctl, "status"],
                                    stdout=subprocess.DEVNULL,
                                    stderr=subprocess.DEVNULL,
                                    timeout=5).returncode == 0
            line += " || bound=%d ctl=%d" % (bound, ctl_ok)
        f.write(line + "\n")
EOF

# listen ADDR FILE: the listener, in dut (an abstract name is the
# namespace's), writing to FILE
listen()
{
	: >"$2"
	bg_in "$NS_D" "$PY" "$T_TMP/sdnotify.py" "$1" "$2" "$T_QUEUE" \
	    "$T_CTL" "$NFQSPICTL"
	wait_for 50 grep -qx listening "$2" ||
	    { echo "the notify listener did not start" >&2; exit 1; }
}

# valgrind's command line for start(): T_VG_ABRUPT for the daemon the
# watchdog thread ends with _exit(1)
S_VG=("${T_VG[@]}")
# start ENV...: nfqspid -f in dut with the environment ENV (NOTIFY_SOCKET
# and the rest), as the unit starts it; its pid in T_DPID
start()
{
	# ip netns exec and env exec: $! is the daemon (in_d, a function,
	# would put a subshell between)
	ip netns exec "$NS_D" env "$@" "${S_VG[@]}" "$NFQSPID" -f \
	    -c "$T_CONF" >>"$T_LOG" 2>&1 &
	T_DPID=$!
}

# said FILE PID: PID's messages in FILE, one a line, without the pid
said() { sed -n "s/^$2 //p" "$1"; }
# kinds FILE PID: the first key of each, READY RELOADING ..., but the
# EXTEND_TIMEOUT_USEC= of a start longer than a second (under valgrind)
kinds()
{
	said "$1" "$2" | sed 's/=.*//' | grep -v '^EXTEND_TIMEOUT_USEC$' |
	    tr '\n' ' '
}
count() { said "$1" "$2" | grep -c "$3"; }
# ready_n FILE PID N: N datagrams with READY=1, alone or after RELOADING=1
ready_n() { test "$(said "$1" "$2" | grep -Ec '(^|[|] )READY=1( |$)')" -ge "$3"; }

# ---- a start, reloads, a stop ------------------------------------------------------
N=$T_TMP/notify.txt
listen "$T_TMP/notify.sock" "$N"
start NOTIFY_SOCKET="$T_TMP/notify.sock"
pid=$T_DPID
check "READY=1 comes" wait_for $((100 * T_SLOW)) ready_n "$N" "$pid" 1
r=$(said "$N" "$pid" | grep '^READY=1' | head -n 1)
check "READY=1 only once the queue is bound and nfqspictl answers ($r)" \
    grep -q ' || bound=1 ctl=1$' <<<"$r"
check "READY=1 names the daemon's pid in MAINPID ($pid)" \
    grep -q "| MAINPID=$pid |" <<<"$r"
check "READY=1 with a STATUS= line of what runs" \
    grep -q '| STATUS=running: queue '"$T_QUEUE"' threads 1 rules 2 mode enforce ||' <<<"$r"
check "nothing before READY=1 ($(kinds "$N" "$pid"))" \
    test "$(kinds "$N" "$pid")" = "READY "
check "the daemon answers (lib_wait_daemon)" lib_wait_daemon
check "ping crosses" quiet in_c ping -q -c 2 -i 0.2 -W 1 "$S4"

kill -HUP "$pid"
check "SIGHUP: READY=1 again" wait_for $((100 * T_SLOW)) ready_n "$N" "$pid" 2
check "SIGHUP: RELOADING=1, then READY=1 ($(kinds "$N" "$pid"))" \
    test "$(kinds "$N" "$pid")" = "READY RELOADING READY "
check "RELOADING=1 with MONOTONIC_USEC" \
    grep -Eq '^RELOADING=1 \| MONOTONIC_USEC=[0-9]+ \| STATUS=reloading ' \
    <(said "$N" "$pid")
check "the READY=1 of a reload says so" \
    grep -q '^READY=1 .*rules 2 mode enforce, reloaded ||' <(said "$N" "$pid")
quiet lib_ctl reload
kinds_are() { test "$(kinds "$N" "$pid")" = "$1"; }
check "nfqspictl reload: RELOADING=1, then READY=1 ($(kinds "$N" "$pid"))" \
    wait_for $((100 * T_SLOW)) kinds_are \
    "READY RELOADING READY RELOADING READY "
cp "$T_CONF" "$T_TMP/good.ini"
printf '\n[rule broken]\nproto = tcp\ndport = 22-\naction = accept\n' >>"$T_CONF"
kill -HUP "$pid"
check "a bad file: RELOADING=1, then READY=1 all the same" \
    wait_for $((100 * T_SLOW)) ready_n "$N" "$pid" 4
check "... whose STATUS= says the reload failed" \
    grep -q '^READY=1 .*the last reload failed' <(said "$N" "$pid")
# the unit's ExecReload, nfqspictl reload $MAINPID: the answer of the
# socket the daemon holds, so a refused file fails systemctl reload
out=$(lib_ctl reload "$pid" 2>&1)
rc=$?
check "nfqspictl reload PID: a bad file fails it (rc $rc)" test "$rc" -eq 1
check "... with the reason ($out)" grep -q 'rule broken.*dport' <<<"$out"
cp "$T_TMP/good.ini" "$T_CONF"
out=$(lib_ctl reload "$pid" 2>&1)
rc=$?
check "nfqspictl reload PID: a good file, rc 0 ($out)" test "$rc" -eq 0
# no control socket there (control = empty, another path): SIGHUP
ready_pid() { ready_n "$N" "$pid" "$1"; }
r0=$(count "$N" "$pid" '^READY=1')
out=$("$NFQSPICTL" -s "$T_TMP/none.sock" reload "$pid" 2>&1)
rc=$?
check "nfqspictl -s elsewhere reload PID: SIGHUP, rc 0 ($out)" \
    test "$rc" -eq 0
check "... which reloads ($r0 READY=1 before)" \
    wait_for $((100 * T_SLOW)) ready_pid $((r0 + 1))
check "... and says SIGHUP was sent" grep -q 'sent it SIGHUP' <<<"$out"

# a second daemon: exit 1 (not a configuration's 2), why in STATUS=
ip netns exec "$NS_D" env NOTIFY_SOCKET="$T_TMP/notify.sock" \
    "$NFQSPID" -f -c "$T_CONF" \
    >"$T_TMP/second.err" 2>&1 &
p2=$!
wait "$p2"
rc=$?
check "a second daemon exits 1 (got $rc)" test "$rc" -eq 1
check "... STATUS= says why ($(said "$N" "$p2"))" \
    grep -q '^STATUS=cannot start: nfqspid is already running' <(said "$N" "$p2")
check "... and no READY=1" not grep -q 'READY=1' <(said "$N" "$p2")
check "no WATCHDOG=1 without \$WATCHDOG_USEC" not grep -q WATCHDOG <(said "$N" "$pid")

lib_finish
check "SIGTERM: STOPPING=1 ($(kinds "$N" "$pid"))" \
    grep -q '^STOPPING=1' <(said "$N" "$pid")

# ---- a bad file, as the unit starts it --------------------------------------------
# stderr is the journal's stream ($JOURNAL_STREAM): the error once there
cp "$T_CONF" "$T_TMP/bad.ini"
printf '\n[rule broken]\nproto = tcp\ndport = 22-\naction = accept\n' \
    >>"$T_TMP/bad.ini"
J=$T_TMP/journal.txt
: >"$J"
js=$(stat -c %d:%i "$J")
ip netns exec "$NS_D" env NOTIFY_SOCKET="$T_TMP/notify.sock" \
    JOURNAL_STREAM="$js" \
    "${T_VG[@]}" "$NFQSPID" -f -c "$T_TMP/bad.ini" >>"$J" 2>&1 &
p3=$!
wait "$p3"
rc=$?
check "a bad file: exit 2 (got $rc)" test "$rc" -eq 2
wait_for 20 grep -q "^$p3 " "$N"
check "... STATUS= with the reason ($(said "$N" "$p3"))" \
    grep -q '^STATUS=cannot start: .*\[rule broken\] dport: "22-" is not a port' \
    <(said "$N" "$p3")
check "... no READY=1" not grep -q 'READY=1' <(said "$N" "$p3")
check "... the reason once on the journal's stream ($(head -c 300 "$J"))" \
    test "$(grep -c '\[rule broken\] dport' "$J")" -eq 1

# ---- a start that fails on an errno: ERRNO= with the STATUS= ----------------------
# the control socket in a directory that does not exist: bind(2) says
# ENOENT, which systemctl status shows as "Error: 2 (No such file...)"
sed "s|^control = .*|control = $T_TMP/nodir/ctl.sock|" "$T_CONF" \
    >"$T_TMP/noctl.ini"
ip netns exec "$NS_D" env NOTIFY_SOCKET="$T_TMP/notify.sock" \
    "${T_VG[@]}" "$NFQSPID" -f -c "$T_TMP/noctl.ini" >>"$T_LOG" 2>&1 &
p4=$!
wait "$p4"
rc=$?
check "no control socket: exit 1 (got $rc)" test "$rc" -eq 1
wait_for 20 grep -q "^$p4 STATUS=" "$N"
check "... STATUS= says why, ERRNO= its errno ($(said "$N" "$p4"))" \
    grep -qx "STATUS=cannot start: control socket $T_TMP/nodir/ctl.sock: No such file or directory | ERRNO=2" \
    <(said "$N" "$p4")
check "... and no READY=1" not grep -q 'READY=1' <(said "$N" "$p4")

# ---- an abstract socket, and the watchdog ------------------------------------------
A=$T_TMP/abstract.txt
listen "@nfqspid-test-$$" "$A"
start NOTIFY_SOCKET="@nfqspid-test-$$" WATCHDOG_USEC=400000
pid=$T_DPID
check "@abstract: READY=1 comes" wait_for $((100 * T_SLOW)) ready_n "$A" "$pid" 1
check "@abstract: once the queue is bound and nfqspictl answers" \
    grep -q '^READY=1 .* || bound=1 ctl=1$' <(said "$A" "$pid")
pings() { count "$A" "$pid" '^WATCHDOG=1'; }
more_pings() { test "$(pings)" -ge "$1"; }
w0=$(pings)
check "WATCHDOG_USEC=400000: WATCHDOG=1 every 0.2 s" \
    wait_for $((15 * T_SLOW)) more_pings $((w0 + 3))
kill -STOP "$pid"
sleep 0.3
w1=$(pings)
sleep 1
w2=$(pings)
kill -CONT "$pid"
check "a stopped daemon does not ping ($w1, then $w2)" test "$w2" -eq "$w1"
check "... and pings again when it runs" \
    wait_for $((20 * T_SLOW)) more_pings $((w2 + 2))
check "@abstract: SIGTERM ends it with 0" lib_stop_daemon
check "... status 0 (got $T_DRC)" test "${T_DRC:-x}" = 0
check "@abstract: STOPPING=1" grep -q '^STOPPING=1' <(said "$A" "$pid")

# ---- a long reload: WATCHDOG=1 before, during and after it ------------------------
# The reload runs on the main thread, whose timer pings: a file that takes
# seconds to load (a rule with an address file of 1.5 million CIDRs) must not
# stop the pings for longer than $WATCHDOG_USEC, or systemd's WatchdogSec=
# would end the daemon in the middle of it.  sdtime.py writes "SECONDS PID
# KEY=V | ..." per datagram, SECONDS from CLOCK_MONOTONIC.
cat >"$T_TMP/sdtime.py" <<'EOF'
import socket, struct, sys, time
addr, out = sys.argv[1:3]
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(addr)
s.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
with open(out, "a", buffering=1) as f:
    f.write("listening\n")
    while True:
        msg, anc, _, _ = s.recvmsg(4096, socket.CMSG_SPACE(12))
        pid = "?"
        for lvl, typ, data in anc:
            if lvl == socket.SOL_SOCKET and typ == socket.SCM_CREDENTIALS:
                pid = struct.unpack("iII", data[:12])[0]
        f.write("%.3f %s %s\n" % (time.monotonic(), pid,
                " | ".join(msg.decode(errors="replace").split("\n"))))
EOF
W=$T_TMP/wdog.txt
: >"$W"
bg_in "$NS_D" "$PY" "$T_TMP/sdtime.py" "$T_TMP/wdog.sock" "$W"
wait_for 50 grep -qx listening "$W" ||
    { echo "the timed notify listener did not start" >&2; exit 1; }
# under valgrind far fewer: the parse is some 30 times slower there
naddr=${WD_ADDRS:-1500000}
[ ${#T_VG[@]} -gt 0 ] && naddr=${WD_ADDRS:-100000}
"$PY" - "$T_TMP/addrs.txt" "$naddr" <<'EOF'
import random, sys
random.seed(7)
with open(sys.argv[1], "w") as f:
    for _ in range(int(sys.argv[2])):
        a = random.getrandbits(32)
        f.write("%d.%d.%d.%d/32\n" % (a >> 24, a >> 16 & 255, a >> 8 & 255,
                                       a & 255))
EOF
start NOTIFY_SOCKET="$T_TMP/wdog.sock" WATCHDOG_USEC=1000000
pid=$T_DPID
wready() { test "$(grep -c "^[0-9.]* $pid READY=1" "$W")" -ge "$1"; }
check "long reload: READY=1 comes" wait_for $((100 * T_SLOW)) wready 1
# systemd times the pings from READY=1: one before would time the start
first=$(awk -v p="$pid" '$2 == p && $3 !~ /^EXTEND_TIMEOUT_USEC=/ {
	print $3; exit }' "$W")
check "... and no WATCHDOG=1 before it (first: $first)" test "$first" = READY=1
cp "$T_CONF" "$T_TMP/small.ini"
printf '\n[rule big]\nproto = tcp\nsrc = @%s\ndport = 9\naction = drop\n' \
    "$T_TMP/addrs.txt" >>"$T_CONF"
sleep 1.2
kill -HUP "$pid"
check "long reload: READY=1 again" wait_for $((600 * T_SLOW)) wready 2
sleep 1.6
cp "$T_TMP/small.ini" "$T_CONF"
check "... the file taken, its big rule too" \
    grep -q "^[0-9.]* $pid READY=1 .*rules 3 mode enforce, reloaded" "$W"
# t0, t1: RELOADING=1 and the READY=1 after it; then the pings' times
t0=$(awk -v p="$pid" '$2 == p && $3 == "RELOADING=1" { print $1; exit }' "$W")
t1=$(awk -v p="$pid" '$2 == p && $3 == "READY=1" { t = $1 } END { print t }' "$W")
t0=${t0:-0} t1=${t1:-0}
awk -v p="$pid" '$2 == p && $3 == "WATCHDOG=1" { print $1 }' "$W" \
    >"$T_TMP/pings.txt"
took=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", b - a }')
check "... which takes longer than \$WATCHDOG_USEC, 1 s (took $took s)" \
    awk -v t="$took" 'BEGIN { exit !(t > 1.0) }'
during=$(awk -v a="$t0" -v b="$t1" '$1 > a && $1 < b' "$T_TMP/pings.txt" |
    wc -l)
# every 0.25 s (a quarter of $WATCHDOG_USEC: sdping.c); half of them
# at least, as a loaded box under valgrind may lose some to the
# scheduler: the gap below is what systemd times
# every_q N T: N pings in T s, a quarter of $WATCHDOG_USEC (1 s) apart
every_q()
{
	awk -v n="$1" -v t="$2" 'BEGIN { exit !(n >= 1 && n >= int(t / 0.5) - 1) }'
}
check "WATCHDOG=1 during the reload, every 0.25 s ($during in $took s)" \
    every_q "$during" "$took"
# from 1 s before RELOADING=1 to 1.5 s after READY=1: no gap of 1 s
gap=$(awk -v a="$t0" -v b="$t1" '
	$1 >= a - 1 && $1 <= b + 1.5 {
		if (n++ > 0 && $1 - l > g)
			g = $1 - l
		l = $1
	}
	END { printf "%.3f", (n > 1 ? g : 99) }' "$T_TMP/pings.txt")
check "... and around it, no gap of \$WATCHDOG_USEC (longest $gap s)" \
    awk -v g="$gap" 'BEGIN { exit !(g < 1.0) }'
# shellcheck disable=SC2016  # awk's $1
check "... the main loop's timer pings after it" \
    awk -v b="$t1" '$1 > b + 0.6 { f = 1 } END { exit !f }' "$T_TMP/pings.txt"

# ---- a flush and rules -Z held by a stopped worker: WATCHDOG=1 all along ----
# They change the tables, so they wait on the worker without a deadline,
# on the main thread, whose timer pings: a worker stopped HOLD s holds
# them that long, and sdping.c pings meanwhile.  Before, nothing did:
# under WatchdogSec=30s systemd ended a daemon whose worker hung in a
# flush before the watchdog thread's own bound (120 s) and its log line.
HOLD=4
mono() { "$PY" -c 'import time; print("%.3f" % time.monotonic())'; }
# gap_in A B: the longest gap between two pings (pings.txt) from A to B
gap_in()
{
	awk -v a="$1" -v b="$2" '
	$1 >= a && $1 <= b {
		if (n++ > 0 && $1 - l > g)
			g = $1 - l
		l = $1
	}
	END { printf "%.3f", (n > 1 ? g : 99) }' "$T_TMP/pings.txt"
}
# held WHAT ARGS...: nfqspictl ARGS while worker 0 is stopped HOLD s
held()
{
	local what=$1 ta tb took during gap
	shift
	lib_hold "$T_TMP/stall-call.out" "$STALL" "$(worker_tid "$pid")" "$HOLD"
	check "$what: worker 0 stopped $HOLD s" \
	    grep -q stopped "$T_TMP/stall-call.out"
	ta=$(mono)
	check "$what: done once it runs again" quiet lib_ctl "$@"
	tb=$(mono)
	wait "$T_HOLD" 2>/dev/null
	sleep 1.2	# the main loop's pings after it
	awk -v p="$pid" '$2 == p && $3 == "WATCHDOG=1" { print $1 }' "$W" \
	    >"$T_TMP/pings.txt"
	took=$(awk -v a="$ta" -v b="$tb" 'BEGIN { printf "%.3f", b - a }')
	check "... which the stopped worker held (took $took s)" \
	    awk -v t="$took" 'BEGIN { exit !(t > 2.0) }'
	during=$(awk -v a="$ta" -v b="$tb" '$1 > a && $1 < b' \
	    "$T_TMP/pings.txt" | wc -l)
	check "WATCHDOG=1 during the $what, every 0.25 s ($during in $took s)" \
	    every_q "$during" "$took"
	gap=$(gap_in "$(awk -v a="$ta" 'BEGIN { print a - 1 }')" \
	    "$(awk -v b="$tb" 'BEGIN { print b + 1 }')")
	check "... and around it, no gap of \$WATCHDOG_USEC (longest $gap s)" \
	    awk -v g="$gap" 'BEGIN { exit !(g < 1.0) }'
}
held "conntrack flush" conntrack flush
held "rules -Z" rules -Z
check "... the daemon runs on: its worker only stopped ($HOLD s)" \
    not grep -q "; exiting$" "$T_LOG"

check "long reload: SIGTERM ends it with 0" lib_stop_daemon
check "... status 0 (got $T_DRC)" test "${T_DRC:-x}" = 0

# ---- a long start: EXTEND_TIMEOUT_USEC= ---------------------------------------------
# Before READY=1 systemd times the start (TimeoutStartSec=, 90 s by
# default), not the watchdog: a start that parses huge address files
# says EXTEND_TIMEOUT_USEC= every second but the first (sdping.h), from
# a thread of its own.  The file above, its main thread stopped 3 s as
# well in the middle of the parse: a start of more than 3 s, on any box.
cp "$T_CONF" "$T_TMP/small.ini"
printf '\n[rule big]\nproto = tcp\nsrc = @%s\ndport = 9\naction = drop\n' \
    "$T_TMP/addrs.txt" >>"$T_CONF"
start NOTIFY_SOCKET="$T_TMP/wdog.sock"
pid=$T_DPID
pinger() { grep -qx nfqspid-sdping /proc/"$pid"/task/*/comm 2>/dev/null; }
check "long start: its pings' thread runs" wait_for $((50 * T_SLOW)) pinger
lib_hold "$T_TMP/stall-start.out" "$STALL" "$pid" 3
check "... its main thread stopped 3 s" \
    grep -q stopped "$T_TMP/stall-start.out"
check "long start: READY=1 comes" wait_for $((600 * T_SLOW)) wready 1
wait "$T_HOLD" 2>/dev/null
cp "$T_TMP/small.ini" "$T_CONF"
t1=$(awk -v p="$pid" '$2 == p && $3 == "READY=1" { print $1; exit }' "$W")
awk -v p="$pid" -v b="${t1:-0}" '$2 == p && $1 < b && $3 != "READY=1"' \
    "$W" >"$T_TMP/start.txt"
check "... EXTEND_TIMEOUT_USEC=20000000 before it, and nothing else ($(cut -d' ' -f3- "$T_TMP/start.txt" | sort | uniq -c | tr -s ' \n' ' '))" \
    test "$(grep -c ' EXTEND_TIMEOUT_USEC=20000000$' "$T_TMP/start.txt")" -ge 2 -a \
    "$(grep -vc ' EXTEND_TIMEOUT_USEC=20000000$' "$T_TMP/start.txt")" -eq 0
awk '{ print $1 }' "$T_TMP/start.txt" >"$T_TMP/pings.txt"
echo "${t1:-0}" >>"$T_TMP/pings.txt"
gap=$(gap_in 0 "${t1:-0}")
# 1 s apart, 1.7 s seen under valgrind on a loaded box; systemd would
# take 20 s
check "... every second, to READY=1 (longest gap $gap s)" \
    awk -v g="$gap" 'BEGIN { exit !(g < 3.0) }'
check "... the thread gone with the start: no watchdog to ping" not pinger
check "long start: SIGTERM ends it with 0" lib_stop_daemon
check "... status 0 (got $T_DRC)" test "${T_DRC:-x}" = 0

# $WATCHDOG_PID another process's: that watchdog is not ours
start NOTIFY_SOCKET="@nfqspid-test-$$" WATCHDOG_USEC=200000 WATCHDOG_PID=1
pid=$T_DPID
check "WATCHDOG_PID=1: READY=1 comes" \
    wait_for $((100 * T_SLOW)) ready_n "$A" "$pid" 1
sleep 0.5
check "WATCHDOG_PID=1: no WATCHDOG=1" not grep -q WATCHDOG <(said "$A" "$pid")
check "SIGTERM ends it" lib_stop_daemon

# ---- systemd busy: its queue full when READY=1 is due ----------------------------
# The listener stopped, its queue filled by others ($NOTIFYFILL): READY=1,
# and RELOADING=1 / READY=1 of a reload, are kept and sent again until
# systemd takes them; lost, systemd would wait out its timeout and fail
# the unit (or stay "reloading").
B=$T_TMP/busy.txt
listen "$T_TMP/busy.sock" "$B"
lpid=$(sed -n 's/^pid //p' "$B")
busy() { kill -STOP "$lpid" && "$PY" "$NOTIFYFILL" "$T_TMP/busy.sock"; }
check "systemd busy: its queue full (listener ${lpid:-none} stopped)" \
    quiet busy
start NOTIFY_SOCKET="$T_TMP/busy.sock"
pid=$T_DPID
check "a full queue at READY=1: the daemon starts all the same" \
    lib_wait_daemon
check "... and says READY=1 waits for systemd" \
    log_has "systemd's notify socket is full: READY=1 is sent again"
sleep 0.5
kill -CONT "$lpid"
check "READY=1 reaches systemd once it reads again" \
    wait_for $((100 * T_SLOW)) ready_n "$B" "$pid" 1
check "... with its MAINPID and STATUS=" \
    grep -q "^READY=1 | MAINPID=$pid | STATUS=running: " <(said "$B" "$pid")
check "... and the log says when" \
    log_has "systemd's notify socket took READY=1 after [0-9]+ ms"
check "systemd busy again" quiet busy
r0=$(grep -c "reloaded $T_CONF" "$T_LOG")
kill -HUP "$pid"
# shellcheck disable=SC2016  # wait_eval expands it, each time it tries
check "a full queue at a reload: it reloads" wait_eval $((100 * T_SLOW)) \
    'test "$(grep -c "reloaded $T_CONF" "$T_LOG")" -gt "$r0"'
sleep 0.5
kill -CONT "$lpid"
check "the reload's READY=1 reaches systemd" \
    wait_for $((100 * T_SLOW)) ready_n "$B" "$pid" 2
# systemd never saw the RELOADING=1: it comes with the READY=1, first,
# as a notify-reload unit's systemd needs it
check "... with its RELOADING=1, first, in one datagram ($(kinds "$B" "$pid"))" \
    grep -Eq '^RELOADING=1 \| MONOTONIC_USEC=[0-9]+ \| READY=1 \| MAINPID='"$pid"' \| STATUS=running: .*, reloaded \|\|' \
    <(said "$B" "$pid" | tail -n 1)
check "... and the log says so" \
    log_has "systemd's notify socket took RELOADING=1 and READY=1 after [0-9]+ ms"
# systemd busy at the stop, which takes seconds (its worker stopped a
# while, as a slow divert removal would): STOPPING=1 is kept and comes
# once systemd reads again, before the stop is over; lost, systemd would
# go on timing WatchdogSec= against a daemon that no longer pings
# The main loop takes the SIGTERM at once, the worker still stopped: its
# tick reads each worker's count as stored, never waits on one (it did
# once: the SIGTERM waited out the stall, the stop was short, and the
# kept STOPPING=1 was given up before systemd read again).
check "systemd busy at the stop" quiet busy
lib_hold "$T_TMP/stall-stop.out" "$STALL" "$(worker_tid "$pid")" \
    $((4 + T_SLOW))
check "... its stop slowed (a worker stopped)" \
    grep -q stopped "$T_TMP/stall-stop.out"
sleep 1.5	# a tick of the main loop first
kill -TERM "$pid"
check "... STOPPING=1 is kept: systemd is full" \
    wait_for $((10 * T_SLOW + 20)) grep -q \
    "systemd's notify socket is full: STOPPING=1 is sent again every 100 ms" \
    "$T_LOG"
check "... while the worker is still stopped" \
    not grep -q resumed "$T_TMP/stall-stop.out"
kill -CONT "$lpid"
stopping() { grep -q '^STOPPING=1 | STATUS=stopping$' <(said "$B" "$pid"); }
check "a kept STOPPING=1 reaches systemd once it reads again" \
    wait_for $((20 * T_SLOW)) stopping
wait "$pid"
rc=$?
check "... then it ends with 0 (got $rc)" test "$rc" -eq 0
check "... and the log says when systemd took it" \
    log_has "systemd's notify socket took STOPPING=1 after [0-9]+ ms"
wait "$T_HOLD" 2>/dev/null

# ---- the watchdog thread ends a daemon whose worker hangs: why in STATUS= ----
# stall.py TID SECONDS: stop one thread (ptrace, the others run on)
S_VG=("${T_VG_ABRUPT[@]}")
start NOTIFY_SOCKET="$T_TMP/notify.sock"
pid=$T_DPID
check "a daemon to hang: READY=1 comes" \
    wait_for $((100 * T_SLOW)) ready_n "$N" "$pid" 1
check "... its pidfile names it" grep -qx "$pid" "$T_TMP/nfqspid.pid"
tid=$(worker_tid "$pid")
lib_hold "$T_TMP/stall.out" "$STALL" "$tid" 20
check "its worker thread alone is stopped (tid $tid)" \
    grep -q stopped "$T_TMP/stall.out"
# 10 checks a second apart, then _exit(1)
gone() { ! kill -0 "$pid" 2>/dev/null; }
check "the watchdog thread ends it" wait_for $((200 * T_SLOW)) gone
wait "$pid"
rc=$?
check "... exit 1 (got $rc)" test "$rc" -eq 1
# its pid would soon be another process's (debian's prerm reads it)
check "... its pidfile went with it" test ! -e "$T_TMP/nfqspid.pid"
wait "$T_HOLD" 2>/dev/null
wait_for 20 grep -q "^$pid STATUS=" "$N"
check "... STATUS= says why ($(said "$N" "$pid" | tail -n 1))" \
    grep -q '^STATUS=exiting: watchdog: worker 0 (queue '"$T_QUEUE"') has not run for 10 s$' \
    <(said "$N" "$pid")

# ---- a worker that hangs at the stop: the stop is bounded --------------------
# Its thread stopped just before SIGTERM: the stop waits 30 checks of
# the watchdog thread for it, then logs which worker and exit 1,
# writing no state file (its table is the hung thread's); before, it
# hung until the thread ran again.  W s allowed, the thread held longer.
# stall.py sends the SIGTERM itself, the moment the thread is stopped:
# the watchdog's 10 s would end the daemon before a late one.
W=$((40 + 5 * T_SLOW))
sed -i "s|^control = .*|&\nstate_file = $T_TMP/stop.state|" "$T_CONF"
start NOTIFY_SOCKET="$T_TMP/notify.sock"
pid=$T_DPID
check "a daemon to hang at its stop: READY=1 comes" \
    wait_for $((100 * T_SLOW)) ready_n "$N" "$pid" 1
check "... its pidfile names it" grep -qx "$pid" "$T_TMP/nfqspid.pid"
check "... ping crosses" quiet in_c ping -q -c 2 -i 0.2 -W 1 "$S4"
sum0=$(cksum <"$T_TMP/stop.state")
tid=$(worker_tid "$pid")
t0=$(date +%s)
lib_hold "$T_TMP/stall.out" "$STALL" "$tid" $((W + 20)) "$pid"
check "its worker thread is stopped, then SIGTERM (tid $tid)" \
    grep -q stopped "$T_TMP/stall.out"
# exited: its threads ended; one ptrace holds stays a zombie until
# stall.py lets it go (a real hung thread does not)
exited() { gone || grep -q '^State:.*zombie' /proc/"$pid"/status 2>/dev/null; }
check "the stop ends within $W s, the worker still stopped" \
    wait_for $((W * 10)) exited
dt=$(($(date +%s) - t0))
check "... after the stop's 30 s, not the watchdog's 10 (${dt} s)" \
    test "$dt" -ge 29
kill "$T_HOLD" 2>/dev/null
wait "$T_HOLD" 2>/dev/null
wait "$pid"
rc=$?
check "... exit 1 (got $rc)" test "$rc" -eq 1
check "... the log says which worker, and that no state file was written" \
    log_has "^stop: worker 0 \(queue $T_QUEUE\) has not stopped in 30 s, state file not written; exiting\$"
check "... the state file is as the start left it" \
    test "$(cksum <"$T_TMP/stop.state")" = "$sum0"
check "... its pidfile went with it" test ! -e "$T_TMP/nfqspid.pid"
wait_for 20 grep -q "^$pid STATUS=" "$N"
check "... STATUS= says why ($(said "$N" "$pid" | tail -n 1))" \
    grep -q '^STATUS=exiting: stop: worker 0 (queue '"$T_QUEUE"') has not stopped in 30 s, state file not written$' \
    <(said "$N" "$pid")
lib_summary
