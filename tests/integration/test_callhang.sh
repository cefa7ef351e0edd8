#!/bin/bash
# test_callhang.sh - a worker that hangs inside a call of the main
# thread: stopped (breakin.py, a ptrace breakpoint) on entering its
# reload's call at SIGHUP, while the main thread waits on it.  Busy, not
# hung, at the watchdog's 10 s: still running, its queue failed closed
# with "(in a call)".  At WATCHDOG_CALL_CHECKS (120 s, src/watchdog.h)
# the watchdog thread ends it: exit 1, the log saying it was in a call,
# the pidfile gone.  Before, the main thread waited for ever.  First, a
# call that ends after 14 s and its worker stopped again (breakin.py's
# second breakpoint) before its loop's next tick: the call's end counts
# as a tick, so it is not ended for the call's stale seconds.  Not part
# of make check (3 minutes): make check-callhang.
#
# Copyright (C) 2026 The nfqspid authors
# SPDX-License-Identifier: GPL-2.0-or-later
# shellcheck disable=SC2317  # functions run through check and wait_for
set -u

T_NET=${T_NET:-73}
T_QUEUE=${T_QUEUE:-14}
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"

lib_init callhang
lib_need_breakin
lib_ping_setup 1
BOUND=120	# WATCHDOG_CALL_CHECKS

lib_start "nfqspid starts"
pid=$T_DPID
check "its pidfile names it" grep -qx "$pid" "$T_TMP/nfqspid.pid"
tid=$(worker_tid "$pid")
# the process ended; a thread ptrace holds keeps it a zombie until
# breakin.py lets it go (a real hung thread does not)
exited()
{
	! kill -0 "$pid" 2>/dev/null ||
	    grep -q '^State:.*zombie' /proc/"$pid"/status 2>/dev/null
}

# ---- a long call ends: its end is a tick ------------------------------------
lib_hold "$T_TMP/brk.out" "$BREAKIN" "$pid" "$tid" worker_reload_fn 14 \
    worker_tick 4
kill -HUP "$pid"
check "a reload's call held 14 s, then its loop's tick held" \
    wait_for $((300 * T_SLOW)) grep -q stopped2 "$T_TMP/brk.out"
sleep 3
check "... 3 s after the call's end the daemon runs on" not exited
check "... not ended for the call's stale seconds" \
    not grep -q "; exiting$" "$T_LOG"
wait "$T_HOLD"
check "... the reload ends" \
    wait_for $((100 * T_SLOW)) log_has "^reloaded "

# ---- a call that does not end --------------------------------------------------
lib_hold "$T_TMP/brk.out" "$BREAKIN" "$pid" "$tid" worker_reload_fn \
    $((BOUND + 60))
check "a breakpoint in worker 0's reload call (tid $tid)" \
    grep -q armed "$T_TMP/brk.out"
kill -HUP "$pid"
wait_for 100 grep -q stopped "$T_TMP/brk.out"
check "SIGHUP: the worker stops inside the call" \
    grep -q stopped "$T_TMP/brk.out"
t0=$(date +%s)

# ---- busy, not hung: past the watchdog's 10 s --------------------------------
sleep 12
check "12 s later the daemon runs on: a worker in a call is busy" \
    kill -0 "$pid"
check "... its queue failed closed at 2 s, the log saying it is in a call" \
    log_has "^watchdog: worker 0 \(queue $T_QUEUE\) has not run for 2 s \(in a call\): its queue fails closed"
check "... and nothing more" not grep -q "; exiting$" "$T_LOG"

# ---- hung: the call's own bound ends it ----------------------------------------
W=$((BOUND + 15 * T_SLOW))
check "the watchdog thread ends it within $W s" wait_for $((W * 10)) exited
dt=$(($(date +%s) - t0))
check "... after its $BOUND s in the call (${dt} s)" \
    test "$dt" -ge $((BOUND - 10))
kill "$T_HOLD" 2>/dev/null
wait "$T_HOLD" 2>/dev/null
# not ended (the old code): let go, it ends its reload and takes this
exited || kill -TERM "$pid"
wait "$pid"
rc=$?
T_DPID=
check "... exit 1 (got $rc)" test "$rc" -eq 1
check "... the log says which worker, and that it was in a call" \
    log_has "^watchdog: worker 0 \(queue $T_QUEUE\) has not run for $BOUND s in a call; exiting\$"
check "... its pidfile went with it" test ! -e "$T_TMP/nfqspid.pid"
lib_summary
