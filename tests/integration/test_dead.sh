#!/bin/bash
# test_dead.sh - a worker whose thread ends while the daemon runs: its
# queue's socket fails under it (breakin.py holds worker 1 as it enters
# worker_read() for a queued packet and, while the main thread waits on
# a question to it, has it close the socket as it lets it go), so its
# read fails, it leaves its loop and its thread ends.  The question that
# waited is answered at once, naming the worker as not running (not as
# late a second later): nfqspictl status, -j stats and conntrack fail
# with "worker 1 (queue Q) is not running", the page's /api/stats and
# /api/connections answer 503 with the same words, a reload's log line
# says so.  Then the daemon exits 1, its log naming the worker and why.
# A SIGHUP and an nfqspictl reload that come after the worker's end,
# while the loop runs on for those answers, are refused ("nfqspid is
# exiting: worker 1 (queue Q) is not running"), not run, and the exit
# comes as soon.  A worker that ends so while the stop waits on it, or
# on worker 0, still makes the exit 1, and systemd, told STOPPING=1
# "stopping" at the SIGTERM, hears STOPPING=1 again with why, in the
# words of a worker's end before the stop (this test in systemd's
# place: a datagram socket named in $NOTIFY_SOCKET).  With systemd busy
# at the SIGTERM (its queue full), the "stopping" kept is replaced by
# that line before systemd takes it, or, taken meanwhile, said so in
# the log before the new one is sent (kept too, systemd busy again):
# each reaches systemd while the stop goes on, and the log says so.
# Each round is a daemon of its own: the first worker to end ends it.
#
# Copyright (C) 2026 The nfqspid authors
# SPDX-License-Identifier: GPL-2.0-or-later
# shellcheck disable=SC2317  # functions run through check and wait_for
set -u

T_NET=${T_NET:-72}
T_QUEUE=${T_QUEUE:-52}
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"

lib_init dead
lib_need_breakin
lib_need curl
# two workers; the traffic goes to worker 1's queue alone, so that the
# message names the worker that ended, not the first
lib_ping_setup 2
PORT=8472
sed -i "s|^control = .*|&\nhttp = 127.0.0.1:$PORT|" "$T_CONF"
Q1=$((T_QUEUE + 1))
in_d "$IPT" -A FORWARD -j NFQUEUE --queue-num "$Q1" ||
    { echo "cannot divert FORWARD to NFQUEUE" >&2; exit 1; }
DEAD="worker 1 (queue $Q1) is not running"
ERE_DEAD="worker 1 \(queue $Q1\) is not running"
hget() { in_d curl -sS --max-time 10 "$@"; }

# systemd's side: a listener in dut writes each datagram as a line, its
# assignments joined by " | "; every daemon is started to tell it
N=$T_TMP/notify.txt
bg_in "$NS_D" "$PY" -c '
import os, socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind("\0" + sys.argv[1])
f = open(sys.argv[2], "a", buffering=1)
open(sys.argv[3], "w").write("%d\n" % os.getpid())
f.write("listening\n")
while True:
    f.write(s.recv(4096).decode(errors="replace").replace("\n", " | ") + "\n")
' "nfqspid-dead-$$" "$N" "$N.pid"
wait_for 50 grep -sqx listening "$N" ||
    { echo "the notify listener did not start" >&2; exit 1; }
LPID=$(cat "$N.pid")
T_DWRAP=(env "NOTIFY_SOCKET=@nfqspid-dead-$$")
# what STOPPING=1 says after worker 1's end
STOP_DEAD="STOPPING=1 | STATUS=stopping after an error: worker 1 stopped: Bad file descriptor; exiting | ERRNO=9"
last_status() { grep 'STATUS=' "$N" | tail -n 1; }
said_last() { [ "$(last_status)" = "$1" ]; }

# main_waits: the daemon's main thread sleeps on a futex (a worker's
# answer), not in its loop's epoll_wait: the question has been asked
main_waits()
{
	[ "$(cut -d' ' -f1 /proc/"$pid"/task/"$pid"/syscall 2>/dev/null)" = 202 ]
}

# round WHAT CMD...: a daemon started; worker 1 held on entering
# worker_read() for a ping's packet; CMD started (its stdout in
# $T_TMP/out, stderr in out.err, status in out.rc); once the main thread
# waits on the worker, the worker let go with its queue's socket closed.
# $DURING, if set, runs then, before the worker is let go.
# The checks of the daemon's end follow; CMD's are the caller's.
round()
{
	local what=$1 cmd rc t0
	shift
	: >"$T_LOG"
	: >"$N"
	rm -f "$T_TMP/out" "$T_TMP/out.err" "$T_TMP/out.rc"
	lib_must_start "$what: nfqspid starts"
	pid=$T_DPID
	check "the page listens" wait_listen "$NS_D" tcp "$PORT"
	lib_hold "$T_TMP/brk.out" "$BREAKIN" -c "$pid" "$(worker_tid "$pid" 1)" \
	    worker_read 8
	in_c ping -q -c 1 -W 1 "$S4" >/dev/null 2>&1 &
	check "... worker 1 held entering worker_read() for a ping" \
	    wait_for $((50 * T_SLOW)) grep -q stopped "$T_TMP/brk.out"
	{ "$@" >"$T_TMP/out" 2>"$T_TMP/out.err"; echo $? >"$T_TMP/out.rc"; } &
	cmd=$!
	check "... the main thread waits on it" wait_for $((50 * T_SLOW)) main_waits
	[ -z "${DURING:-}" ] || "$DURING"
	kill -TERM "$T_HOLD"
	wait "$T_HOLD"
	t0=$(date +%s%N)
	check "... let go with its socket closed ($(grep closed "$T_TMP/brk.out"))" \
	    grep -Eq '^closed [0-9]+: 0$' "$T_TMP/brk.out"
	wait "$cmd"
	wait_for $((50 * T_SLOW)) not kill -0 "$pid" 2>/dev/null
	wait "$pid"
	rc=$?
	echo $((($(date +%s%N) - t0) / 1000000)) >"$T_TMP/exit_ms"
	T_DPID=
	check "... then nfqspid exits 1 (got $rc)" test "$rc" -eq 1
	check "... its log: worker 1 lost its queue" \
	    log_has "^worker 1: lost queue $Q1: Bad file descriptor\$"
	check "... and nfqspid ended for it" \
	    log_has "^worker 1 stopped: Bad file descriptor; exiting\$"
	check "... no sanitizer report in its log" \
	    log_lacks 'runtime error|AddressSanitizer|LeakSanitizer|UndefinedBehaviorSanitizer'
}
out() { cat "$T_TMP/out$1"; }

round "status" lib_ctl status
check "nfqspictl status fails, status 1 ($(out .rc))" test "$(out .rc)" = 1
check "... saying worker 1 is not running ($(out .err))" \
    grep -Eq "$ERE_DEAD\$" "$T_TMP/out.err"
check "... STOPPING=1 names the worker's end ($(last_status))" \
    wait_for 20 said_last "$STOP_DEAD"

round "-j stats" lib_ctl -j stats
check "nfqspictl -j stats fails, status 1 ($(out .rc))" test "$(out .rc)" = 1
check "... saying worker 1 is not running ($(out .err))" \
    grep -Eq "$ERE_DEAD\$" "$T_TMP/out.err"

round "conntrack" lib_ctl conntrack
check "nfqspictl conntrack fails, status 1 ($(out .rc))" test "$(out .rc)" = 1
check "... saying worker 1 is not running ($(out .err))" \
    grep -Eq "$ERE_DEAD\$" "$T_TMP/out.err"

round "/api/stats" hget -w '\n%{http_code}' "http://127.0.0.1:$PORT/api/stats"
check "/api/stats: 503 ($(tail -n 1 "$T_TMP/out"))" \
    test "$(tail -n 1 "$T_TMP/out")" = 503
check "... saying worker 1 is not running ($(head -n 1 "$T_TMP/out" | cut -c 1-80))" \
    test "$(head -n 1 "$T_TMP/out")" = "$DEAD"

round "/api/connections" hget -w '\n%{http_code}' \
    "http://127.0.0.1:$PORT/api/connections"
check "/api/connections: 503 ($(tail -n 1 "$T_TMP/out"))" \
    test "$(tail -n 1 "$T_TMP/out")" = 503
check "... saying worker 1 is not running ($(head -n 1 "$T_TMP/out"))" \
    test "$(head -n 1 "$T_TMP/out")" = "$DEAD"

hup() { kill -HUP "$pid"; }
round "reload" hup
check "a reload's log line says worker 1 is not running" \
    log_has "^reload: $ERE_DEAD\$"

# a SIGTERM while worker 1 is held: the stop waits on worker 1, which
# then ends on its own (its socket closed), unseen by the main loop that
# no longer runs: the stop finds it, and the exit is an error's still
term() { kill -TERM "$pid"; }
round "SIGTERM" term
check "... after the stop found it" \
    log_has "^nfqspid .* stopped after an error\$"
check "... STOPPING=1 said \"stopping\" at the SIGTERM" \
    grep -qx "STOPPING=1 | STATUS=stopping" "$N"
check "... then again with the worker's end ($(last_status))" \
    wait_for 20 said_last "$STOP_DEAD"

# the same, but the stop waits on worker 0 (held as it enters
# worker_stop_fn()) while worker 1 ends; worker 0 let go once worker 1's
# thread is gone
term_w0()
{
	lib_hold "$T_TMP/brk0.out" "$BREAKIN" "$pid" "$(worker_tid "$pid" 0)" \
	    worker_stop_fn 30
	echo "$T_HOLD" >"$T_TMP/brk0.pid"
	kill -TERM "$pid"
}
w0_held()
{
	local tid1
	check "... the stop waits on worker 0, held entering worker_stop_fn()" \
	    wait_for $((50 * T_SLOW)) grep -q stopped "$T_TMP/brk0.out"
	tid1=$(worker_tid "$pid" 1)
	( wait_for $((50 * T_SLOW)) not test -d "/proc/$pid/task/$tid1"
	  kill -TERM "$(cat "$T_TMP/brk0.pid")" ) &
	rel=$!
}
DURING=w0_held round "SIGTERM, the stop on worker 0" term_w0
DURING=
wait "$rel"
check "... worker 0 let go after worker 1's end" grep -q resumed "$T_TMP/brk0.out"
check "... after the stop found worker 1's end" \
    log_has "^nfqspid .* stopped after an error\$"
check "... STOPPING=1 said \"stopping\" at the SIGTERM" \
    grep -qx "STOPPING=1 | STATUS=stopping" "$N"
check "... then again with the worker's end ($(last_status))" \
    wait_for 20 said_last "$STOP_DEAD"

# systemd busy at the SIGTERM: the listener stopped, its queue filled
# by other senders until a fresh one cannot send ($NOTIFYFILL):
# STOPPING=1 "stopping" is kept, sent again from a thread of its own.
# The stop, finding worker 1's end, replaces it; the main
# thread is then held (entering worker_ask_drain(), after the stop found
# the end and before its last try) until systemd, reading again, has
# the new line: took, not lost.
busy()
{
	kill -STOP "$LPID" && in_d "$PY" "$NOTIFYFILL" "@nfqspid-dead-$$" >/dev/null
}
term_busy() { busy && kill -TERM "$pid"; }
kept() { grep -c "systemd's notify socket is full: STOPPING=1 is sent again" "$T_LOG"; }
kept_n() { [ "$(kept)" = "$1" ]; }
took() { grep -Ec "systemd's notify socket took STOPPING=1 after [0-9]+ ms\$" "$T_LOG"; }
# hold_main: the main thread held entering worker_ask_drain(); in the
# background, once it is, the listener let go, and the main thread when
# systemd has the worker's end ($rel)
hold_main()
{
	local h=$T_HOLD
	lib_hold "$T_TMP/brkm.out" "$BREAKIN" "$pid" "$pid" worker_ask_drain 60
	hm=$T_HOLD
	T_HOLD=$h
	rm -f "$T_TMP/had"
	( wait_for $((100 * T_SLOW)) grep -q stopped "$T_TMP/brkm.out"
	  kill -CONT "$LPID"
	  wait_for $((100 * T_SLOW)) said_last "$STOP_DEAD" &&
	      : >"$T_TMP/had"
	  kill -TERM "$hm" ) &
	rel=$!
}
# busy_kept: systemd still busy as worker 1 ends
busy_kept()
{
	check "... STOPPING=1 kept: systemd is full" \
	    wait_for $((50 * T_SLOW)) kept_n 1
	hold_main
}
# end_busy: the checks after a round ending in hold_main
end_busy()
{
	wait "$rel"
	wait "$hm"
	check "... the main thread held after the stop found the end" \
	    grep -q stopped "$T_TMP/brkm.out"
	check "... systemd had the worker's end while it was held" \
	    test -e "$T_TMP/had"
	check "... after the stop found worker 1's end" \
	    log_has "^nfqspid .* stopped after an error\$"
	check "... STOPPING=1 last said the worker's end ($(last_status))" \
	    wait_for 20 said_last "$STOP_DEAD"
	check "... the log: systemd took STOPPING=1 ($(took) times; $1)" \
	    test "$(took)" = "$1"
	check "... never lost" log_lacks "STOPPING=1 is lost"
}
DURING=busy_kept round "SIGTERM, systemd busy" term_busy
DURING=
end_busy 1
check "... \"stopping\" replaced before systemd took it" \
    not grep -q "STATUS=stopping\$" "$N"
check "... the line kept once in the log ($(kept))" test "$(kept)" = 1

# the same, but systemd takes "stopping" before worker 1 ends, and is
# busy again when the stop finds the end: each STOPPING=1 kept, then
# taken, and the log says so of each
busy_took()
{
	check "... STOPPING=1 kept: systemd is full" \
	    wait_for $((50 * T_SLOW)) kept_n 1
	kill -CONT "$LPID"
	check "... taken once systemd reads again" wait_for $((100 * T_SLOW)) \
	    grep -qx "STOPPING=1 | STATUS=stopping" "$N"
	check "... systemd busy again" busy
	hold_main
}
DURING=busy_took round "SIGTERM, systemd busy, then took it" term_busy
DURING=
end_busy 2
check "... the second line kept too, said so ($(kept) times)" \
    test "$(kept)" = 2
# kept, took, kept, took: the first take said as the stop found the end
kinds() { grep -Eo "notify socket (is full: |took )STOPPING=1" "$T_LOG" |
    awk '{ print $3 }' | paste -sd ' '; }
check "... each kept, then took, in turn ($(kinds))" \
    test "$(kinds)" = "is took is took"

# in_window: while the main thread waits on worker 1, a SIGHUP, and an
# nfqspictl status and reload (their requests sent, waiting in ppoll(2)
# for the answers): the daemon takes them after the worker's end, in the
# 0.1 s before its exit.  The question is answered, the reloads refused.
ctl_waits() { [ "$(cut -d' ' -f1 /proc/"$1"/syscall 2>/dev/null)" = 271 ]; }
both_wait() { ctl_waits "$q" && ctl_waits "$rl"; }
in_window()
{
	kill -HUP "$pid"
	"$NFQSPICTL" -s "$T_CTL" status >/dev/null 2>"$T_TMP/q.err" &
	q=$!
	"$NFQSPICTL" -s "$T_CTL" reload >"$T_TMP/rl" 2>"$T_TMP/rl.err" &
	rl=$!
	check "... nfqspictl status and reload sent, their answers awaited" \
	    wait_for $((50 * T_SLOW)) both_wait
}
DURING=in_window round "after the end" lib_ctl status
DURING=
wait "$q"
qrc=$?
wait "$rl"
rlrc=$?
ERE_EXITING="nfqspid is exiting: $ERE_DEAD"
check "nfqspictl status sent after the end fails, status 1 ($qrc)" \
    test "$qrc" = 1
check "... answered: worker 1 is not running ($(cat "$T_TMP/q.err"))" \
    grep -Eq "$ERE_DEAD\$" "$T_TMP/q.err"
check "the SIGHUP after the end is refused in the log" \
    log_has "^SIGHUP: reload refused: $ERE_EXITING\$"
check "... and runs no reload" log_lacks "^SIGHUP: reloading|^reloaded |^reload: "
check "nfqspictl reload after the end fails, status 1 ($rlrc)" test "$rlrc" = 1
check "... saying nfqspid is exiting ($(cat "$T_TMP/rl.err"))" \
    grep -Eq "$ERE_EXITING\$" "$T_TMP/rl.err"
check "... its refusal logged" \
    log_has "^control: reload refused to uid 0 pid $rl: $ERE_EXITING\$"
check "STOPPING=1 names the worker's end, not a refusal ($(last_status))" \
    wait_for 20 said_last "$STOP_DEAD"
check "... and nfqspid exits promptly ($(cat "$T_TMP/exit_ms") ms after the end)" \
    test "$(cat "$T_TMP/exit_ms")" -lt $((1000 * T_SLOW))
lib_summary
