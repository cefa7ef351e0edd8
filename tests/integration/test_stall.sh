#!/bin/bash
# test_stall.sh - one worker thread stopped (ptrace; the other threads
# run on), as a worker stuck in a syscall would be: the main thread's
# questions to it give up after 1 s instead of holding the main loop
# until the watchdog thread ends the daemon (10 s).  nfqspictl status
# and -j status, two clients at once, both answer within 2 s, saying
# which worker did not answer and leaving its figures out; /metrics
# answers with nfqspid_worker_answered 0 for its queue and no sums,
# /api/stats names it; /api/connections answers 503 and conntrack fails,
# both naming it in the same words.  Once it runs again, all is as before.
# Three of the four workers stopped at once: a question waits its 1 s
# once, not once per worker (3 s), and the fourth, asked after them,
# answers: status, -j status and /metrics within 2 s name the three
# alone; conntrack count and rules fail within 2 s naming worker 0.
# Stopped again, SIGTERM is taken at once (the stop then waits for it,
# and ends with 0 when it runs again).
#
# Copyright (C) 2026 The nfqspid authors
# SPDX-License-Identifier: GPL-2.0-or-later
# shellcheck disable=SC2317  # functions run through check and wait_for
set -u

T_NET=${T_NET:-76}
T_QUEUE=${T_QUEUE:-46}
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"

lib_init stall
lib_need curl
lib_ping_setup 4
PORT=8476
url=http://127.0.0.1:$PORT
Q0=$T_QUEUE
Q1=$((T_QUEUE + 1))
Q2=$((T_QUEUE + 2))
Q3=$((T_QUEUE + 3))
hget() { in_d curl -sS --max-time 10 "$@"; }

ms() { echo $(($(date +%s%N) / 1000000)); }
# timed OUT CMD...: CMD's stdout in OUT, its stderr in OUT.err, its
# status in OUT.rc, its time in ms in OUT.ms
timed()
{
	local out=$1 t0
	shift
	t0=$(ms)
	"$@" >"$out" 2>"$out.err"
	echo $? >"$out.rc"
	echo $(($(ms) - t0)) >"$out.ms"
}
val() { cat "$T_TMP/$1"; }
# 1 s for the stopped worker, the rest to send and read (the second of
# two clients at once waits for the first's second too: 3 s)
LIMIT=$((2000 * T_SLOW))
# a JSON status's "unanswered" as "worker:queue ..." ("" when all
# answered)
unanswered()
{
	"$PY" -c '
import json, sys
d = json.load(open(sys.argv[1]))
print(" ".join("%d:%d" % (u["worker"], u["queue"]) for u in d["unanswered"]))
' "$1" || echo "(no such list)"
}

lib_start_page "$PORT"
pid=$T_DPID
check "ping crosses (worker 0's queue)" \
    quiet in_c ping -q -c 2 -i 0.2 -W 1 "$S4"
lib_ctl status >"$T_TMP/before.txt"
check "status, all running: no worker left out" \
    not grep -q WARNING "$T_TMP/before.txt"
lib_ctl -j status >"$T_TMP/before.json"
check "... -j status: \"unanswered\" is empty" \
    test "$(unanswered "$T_TMP/before.json")" = ""

# ---- worker 0 stopped: the questions end in time ------------------------------
# 8 s: the questions' 1 s each, short of the watchdog thread's 10 s
tid=$(worker_tid "$pid")
lib_hold "$T_TMP/stall.out" "$STALL" "$tid" 8
check "worker 0's thread alone is stopped (tid $tid)" \
    grep -q stopped "$T_TMP/stall.out"
timed "$T_TMP/st.txt" lib_ctl status &
a=$!
timed "$T_TMP/st.json" lib_ctl -j status &
b=$!
wait "$a" "$b"
check "status answers, status 0 ($(val st.txt.rc): $(val st.txt.err))" \
    test "$(val st.txt.rc)" = 0
check "... saying which worker did not answer ($(grep WARNING "$T_TMP/st.txt"))" \
    grep -Eq "^WARNING: worker 0 \(queue $Q0\) did not answer within 1 s \(has not run for [0-9]+ s\): its figures are left out\$" \
    "$T_TMP/st.txt"
check "... and no other" test "$(grep -c WARNING "$T_TMP/st.txt")" = 1
check "-j status, at the same time: status 0 ($(val st.json.rc))" \
    test "$(val st.json.rc)" = 0
check "... \"unanswered\" names worker 0, queue $Q0 ($(unanswered "$T_TMP/st.json"))" \
    test "$(unanswered "$T_TMP/st.json")" = "0:$Q0"
# the one answered first within LIMIT, the other within a second more
first=$(val st.txt.ms)
second=$(val st.json.ms)
[ "$first" -gt "$second" ] && { first=$(val st.json.ms); second=$(val st.txt.ms); }
check "... the first answer within $LIMIT ms ($first ms)" \
    test "$first" -lt "$LIMIT"
check "... the second within $((LIMIT + 1000)) ms ($second ms)" \
    test "$second" -lt $((LIMIT + 1000))
timed "$T_TMP/metrics.txt" hget "$url/metrics"
check "/metrics answers within $LIMIT ms ($(val metrics.txt.rc), $(val metrics.txt.ms) ms)" \
    test "$(val metrics.txt.rc)" = 0 -a "$(val metrics.txt.ms)" -lt "$LIMIT"
# answered ANSWERED...: /metrics' nfqspid_worker_answered lines, one
# 0 or 1 by queue, from $Q0 on
answered()
{
	local q=$Q0 a
	for a in "$@"; do
		printf 'nfqspid_worker_answered{queue="%u"} %u ' "$q" "$a"
		q=$((q + 1))
	done
}
check "... nfqspid_worker_answered: 0 for queue $Q0, 1 for the others" \
    test "$(grep '^nfqspid_worker_answered' "$T_TMP/metrics.txt" | tr '\n' ' ')" \
    = "$(answered 0 1 1 1)"
check "... and no sum over the workers" \
    not grep -q '^nfqspid_received_total' "$T_TMP/metrics.txt"
timed "$T_TMP/api.json" hget "$url/api/stats"
check "/api/stats answers within $LIMIT ms ($(val api.json.rc), $(val api.json.ms) ms)" \
    test "$(val api.json.rc)" = 0 -a "$(val api.json.ms)" -lt "$LIMIT"
check "... \"unanswered\" names worker 0 ($(unanswered "$T_TMP/api.json"))" \
    test "$(unanswered "$T_TMP/api.json")" = "0:$Q0"
check "the worker was stopped all along" kill -0 "$T_HOLD"
wait "$T_HOLD"

# ---- stopped again: the listings fail naming it ----------------------------------
# apart from the above: together they would come near the watchdog's 10 s
lib_hold "$T_TMP/stall.out" "$STALL" "$tid" 6
check "worker 0 stopped again" grep -q stopped "$T_TMP/stall.out"
timed "$T_TMP/conns.code" hget -o "$T_TMP/conns.txt" -w '%{http_code}' \
    "$url/api/connections"
check "/api/connections: 503 within $LIMIT ms ($(val conns.code), $(val conns.code.ms) ms)" \
    test "$(val conns.code)" = 503 -a "$(val conns.code.ms)" -lt "$LIMIT"
check "... naming the worker as nfqspictl does ($(val conns.txt))" \
    grep -Eqx "worker 0 \(queue $Q0\) did not answer within 1 s \(has not run for [0-9]+ s\)" \
    "$T_TMP/conns.txt"
timed "$T_TMP/ct.txt" lib_ctl conntrack
check "conntrack fails, status 1 ($(val ct.txt.rc)), within $LIMIT ms ($(val ct.txt.ms) ms)" \
    test "$(val ct.txt.rc)" = 1 -a "$(val ct.txt.ms)" -lt "$LIMIT"
check "... naming the worker ($(val ct.txt.err))" \
    grep -Eq "worker 0 \(queue $Q0\) did not answer within 1 s \(has not run for [0-9]+ s\)" \
    "$T_TMP/ct.txt.err"
check "the worker was stopped all along" kill -0 "$T_HOLD"
wait "$T_HOLD"
check "it runs again: status as before" \
    wait_eval $((30 * T_SLOW)) '! lib_ctl status | grep -q WARNING'
lib_ctl -j status >"$T_TMP/after.json"
check "... -j status: \"unanswered\" empty again" \
    test "$(unanswered "$T_TMP/after.json")" = ""
check "... /metrics: every worker answered" \
    test "$(hget "$url/metrics" | grep -c '^nfqspid_worker_answered{.*} 1$')" = 4
check "ping crosses again" quiet in_c ping -q -c 2 -i 0.2 -W 1 "$S4"
check "nfqspid did not exit" lib_daemon_alive
check "no sanitizer report in the daemon's log" \
    log_lacks 'runtime error|AddressSanitizer|LeakSanitizer|UndefinedBehaviorSanitizer'

# ---- workers 0, 1 and 2 stopped: one second in all ----------------------------
# 8 s: the five questions' 1 s each, short of the watchdog thread's 10 s
sts=()
for n in 0 1 2; do
	t=$(worker_tid "$pid" "$n")
	: >"$T_TMP/stall$n.out"
	"$PY" "$STALL" "$t" 8 >"$T_TMP/stall$n.out" 2>&1 &
	sts+=("$!")
done
for n in 0 1 2; do
	wait_for 30 grep -q stopped "$T_TMP/stall$n.out"
	check "worker $n's thread is stopped" \
	    grep -q stopped "$T_TMP/stall$n.out"
done
# worker by worker, the question took a second for each: 3 s
timed "$T_TMP/st3.txt" lib_ctl status
check "status answers, status 0 ($(val st3.txt.rc): $(val st3.txt.err))" \
    test "$(val st3.txt.rc)" = 0
check "... within $LIMIT ms, not a second for each of the three ($(val st3.txt.ms) ms)" \
    test "$(val st3.txt.ms)" -lt "$LIMIT"
for n in 0 1 2; do
	check "... saying worker $n did not answer" \
	    grep -Eq "^WARNING: worker $n \(queue $((Q0 + n))\) did not answer within 1 s \(has not run for [0-9]+ s\): its figures are left out\$" \
	    "$T_TMP/st3.txt"
done
check "... worker 3, asked after them, answered" \
    test "$(grep -c WARNING "$T_TMP/st3.txt")" = 3
timed "$T_TMP/st3.json" lib_ctl -j status
check "-j status within $LIMIT ms ($(val st3.json.rc), $(val st3.json.ms) ms)" \
    test "$(val st3.json.rc)" = 0 -a "$(val st3.json.ms)" -lt "$LIMIT"
check "... \"unanswered\" names workers 0, 1 and 2 ($(unanswered "$T_TMP/st3.json"))" \
    test "$(unanswered "$T_TMP/st3.json")" = "0:$Q0 1:$Q1 2:$Q2"
timed "$T_TMP/metrics3.txt" hget "$url/metrics"
check "/metrics within $LIMIT ms ($(val metrics3.txt.rc), $(val metrics3.txt.ms) ms)" \
    test "$(val metrics3.txt.rc)" = 0 -a "$(val metrics3.txt.ms)" -lt "$LIMIT"
check "... nfqspid_worker_answered: 0, 0, 0 and 1 for queue $Q3" \
    test "$(grep '^nfqspid_worker_answered' "$T_TMP/metrics3.txt" | tr '\n' ' ')" \
    = "$(answered 0 0 0 1)"
for q in "conntrack count" rules; do
	read -ra words <<<"$q"
	timed "$T_TMP/q3.txt" lib_ctl "${words[@]}"
	check "$q fails, status 1 ($(val q3.txt.rc)), within $LIMIT ms ($(val q3.txt.ms) ms)" \
	    test "$(val q3.txt.rc)" = 1 -a "$(val q3.txt.ms)" -lt "$LIMIT"
	check "... naming worker 0 ($(val q3.txt.err))" \
	    grep -Eq "worker 0 \(queue $Q0\) did not answer within 1 s \(has not run for [0-9]+ s\)" \
	    "$T_TMP/q3.txt.err"
done
check "the three were stopped all along" kill -0 "${sts[@]}"
wait "${sts[@]}"
check "they run again: status as before" \
    wait_eval $((30 * T_SLOW)) '! lib_ctl status | grep -q WARNING'
check "nfqspid did not exit" lib_daemon_alive

# ---- stopped again: SIGTERM is taken at once -----------------------------------
# 2 s stopped first: the main loop's ticks come meanwhile
lib_hold "$T_TMP/stall.out" "$STALL" "$tid" 6
check "worker 0 stopped a third time" grep -q stopped "$T_TMP/stall.out"
sleep 2
kill -TERM "$pid"
check "SIGTERM is taken within 1 s, the worker stopped" \
    wait_for $((10 * T_SLOW)) grep -q 'Terminated: stopping' "$T_LOG"
check "... before it runs again" kill -0 "$T_HOLD"
wait "$T_HOLD"
wait "$pid"
rc=$?
check "once it runs again the stop ends with 0 (got $rc)" test "$rc" -eq 0
T_DPID=
lib_summary
