#!/bin/bash
# test_sync_hold.sh - a new master holds a packet that beats the old
# master's record of its connection ([sync] grace): a UDP query passes
# the master, which is then stopped (SIGSTOP) before it sends the record
# of it; the backup is made master and the server's answer reaches it
# first.  Without the record the answer is NEW from port 5053, which no
# rule lets in.  With the old master resumed a moment after the answer
# left the server, the record comes within the wait and the answer
# reaches the client (grace_saved); left stopped, no record comes and the
# answer is dropped once the wait is over (grace_unsaved), nothing left
# waiting.  Two workers a node: one flow goes to the worker that is its
# connection's home, where the record lands, the other to the worker
# that is not, which asks home (synchome says which is home).
#
# Both daemons run in dut, the master on queues Q and Q+1, the backup on
# Q+2 and Q+3, their sync link on dut's loopback, as in test_sync_mt.sh:
# the failover is the FORWARD rules' queues moving.  The master flushes
# once a second, and the server stops it as soon as the queries came,
# before it sends; an attempt where it sent already (it also sends when
# it reads the backup's ALIVE: the backup holds the flow) is made again
# with other flows.
#
# Copyright (C) 2026 The nfqspid authors
# SPDX-License-Identifier: GPL-2.0-or-later
# shellcheck disable=SC2317  # functions run through check and wait_for
# shellcheck disable=SC2016  # eventually's expressions: eval expands them
set -u

T_NET=${T_NET:-81}
T_QUEUE=${T_QUEUE:-36}
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"

lib_init synchold
lib_topology

SYNCHOME=${SYNCHOME:-$top_builddir/tests/integration/synchome}
B_CTL=$T_TMP/backup.sock
B_LOG=$T_TMP/backup.log
B_PID=
Q0=$T_QUEUE
Q2=$((T_QUEUE + 2))

cleanup()
{
	local rc=$?

	[ -n "${T_DPID:-}" ] && kill -CONT "$T_DPID" 2>/dev/null
	(exit "$rc")
	lib_sync_cleanup
}
trap cleanup EXIT

head -c 32 /dev/urandom | base64 >"$T_TMP/sync.key"
chmod 600 "$T_TMP/sync.key"

# rules ME PEER ROLE FLUSH: two workers, [sync] on dut's loopback
rules()
{
	cat <<EOF
[sync]
listen = 127.0.0.1:$1
peer = 127.0.0.1:$2
key = $T_TMP/sync.key
role = $3
flush = $4
grace = 60

$(lib_policy)

[rule dns]
proto = udp
dport = 5053
action = accept
EOF
}
lib_config < <(rules 3790 3791 master 1000)
sed -e 's/^threads = 1$/threads = 2/' "$T_CONF" >"$T_TMP/master.ini"
lib_config < <(rules 3791 3790 backup 75)
sed -e 's/^threads = 1$/threads = 2/' -e "s/^queue = .*/queue = $Q2/" \
    -e "s|$T_TMP/nfqspid.pid|$T_TMP/backup.pid|" \
    -e "s|$T_CTL|$B_CTL|" "$T_CONF" >"$T_TMP/backup.ini"
T_CONF=$T_TMP/master.ini

bctl() { "$NFQSPICTL" -s "$B_CTL" "$@"; }
bstat() { T_CTL=$B_CTL lib_stat "$1"; }
eventually() { wait_for "$1" eval "$2"; }

# Client ports by home worker (two workers): HOME0 and HOME1, the
# first 12 of 46001-46024 each.
HOME0=()
HOME1=()
# shellcheck disable=SC2046
while read -r port home; do
	if [ "$home" = 0 ]; then HOME0+=("$port"); else HOME1+=("$port"); fi
done < <("$SYNCHOME" 2 udp "$C4" "$S4" 5053 $(seq 46001 46060))

# divert Q A B: FORWARD to the daemon on queues Q and Q+1, the flows of
# client ports A (home 0) and B (home 1) to worker 0 (queue Q), the rest
# by --queue-balance.
divert()
{
	{
		echo '*filter'
		echo '-F FORWARD'
		echo "-A FORWARD -p udp -m multiport --ports $2,$3" \
		    "-j NFQUEUE --queue-num $1"
		echo "-A FORWARD -j NFQUEUE --queue-balance $1:$(($1 + 1))"
		echo COMMIT
	} | in_d "$IPT-restore" --noflush
}

# The server: stops the pid in stop-PORT as soon as a query from PORT
# comes (got-PORT then says it came), answers each query once its file
# go-PORT exists, then, after 60 ms, resumes the pid in cont-PORT if
# there is one.
cat >"$T_TMP/server.py" <<'EOF'
import os, signal, socket, sys, threading, time
tmp = sys.argv[2]
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind((sys.argv[1], 5053))
def signal_pid(name, sig):
    try:
        os.kill(int(open(os.path.join(tmp, name)).read()), sig)
    except (OSError, ValueError):
        pass
def answer(b, a):
    port = a[1]
    go = os.path.join(tmp, "go-%d" % port)
    while not os.path.exists(go):
        time.sleep(0.002)
    s.sendto(b, a)
    time.sleep(0.06)
    signal_pid("cont-%d" % port, signal.SIGCONT)
while True:
    b, a = s.recvfrom(512)
    signal_pid("stop-%d" % a[1], signal.SIGSTOP)
    open(os.path.join(tmp, "got-%d" % a[1]), "w").close()
    threading.Thread(target=answer, args=(b, a), daemon=True).start()
EOF
# The client: a query from each PORT, one after the other, their
# answers awaited 5 s; ok-PORT or none-PORT says which came.
cat >"$T_TMP/client.py" <<'EOF'
import os, socket, sys
srv, tmp, ports = sys.argv[1], sys.argv[2], map(int, sys.argv[3:])
us = []
for port in ports:
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    u.settimeout(5)
    u.bind(("", port))
    u.sendto(b"query", (srv, 5053))
    us.append((port, u))
for port, u in us:
    try:
        ok = u.recv(64) == b"query"
    except OSError:
        ok = False
    open(os.path.join(tmp, ("ok-%d" if ok else "none-%d") % port),
         "w").close()
EOF

# query A B: the queries from A then B through the master, which passes
# them; the server stops the master on B's, before its next flush (or
# the read of the backup's next message) sends their records
query()
{
	echo "$T_DPID" >"$T_TMP/stop-$2"
	( in_c "$PY" "$T_TMP/client.py" "$S4" "$T_TMP" "$1" "$2" & )
	wait_for $((50 * T_SLOW)) test -e "$T_TMP/got-$1" -a \
	    -e "$T_TMP/got-$2"
}

# on_backup PORT: the backup's table holds the flow from PORT
on_backup()
{
	bctl conntrack -p udp --sport "$1" 2>/dev/null | grep -q src=
}

# attempt CONT A B: queries from A and B (worker 0 each) through
# the master, stopped then; FORWARD moves to the backup, made
# master; the answers leave the server, and the master is resumed 60 ms
# after (CONT 1) or not.  1 if the master had sent its records already
# (try again), 2 if a step failed.
attempt()
{
	local p

	divert "$Q0" "$2" "$3" || return 2
	query "$2" "$3" || return 2
	if on_backup "$2" || on_backup "$3"; then
		kill -CONT "$T_DPID"
		return 1
	fi
	divert "$Q2" "$2" "$3" || return 2
	bctl sync role master >/dev/null || return 2
	sleep 0.3	# its grace begins: the link's command has run
	for p in "$2" "$3"; do
		[ "$1" = 1 ] && echo "$T_DPID" >"$T_TMP/cont-$p"
		touch "$T_TMP/go-$p"
	done
	for p in "$2" "$3"; do
		wait_for $((100 * T_SLOW)) eval \
		    'test -e "$T_TMP/ok-$p" -o -e "$T_TMP/none-$p"' || return 2
	done
	[ "$1" = 1 ] || kill -CONT "$T_DPID"
	return 0
}

# try CONT: attempt with the next pair of ports, up to three times; the
# ports used in A and B
try()
{
	local i rc

	for i in 0 1 2; do
		A=${HOME0[$((NEXT + i))]}
		B=${HOME1[$((NEXT + i))]}
		attempt "$1" "$A" "$B"
		rc=$?
		[ "$rc" = 1 ] || break
		echo "# the master sent its records before it stopped: again"
	done
	NEXT=$((NEXT + 3))
	return "$rc"
}
NEXT=0

# ---- both up ---------------------------------------------------------------
check "flows of both homes (${#HOME0[@]} at 0, ${#HOME1[@]} at 1)" \
    test "${#HOME0[@]}" -ge 6 -a "${#HOME1[@]}" -ge 6
check "FORWARD to the master's queues" divert "$Q0" 1 2
lib_must_start "nfqspid (master, threads = 2, flush = 1000) starts"
ip netns exec "$NS_D" "${T_VG[@]}" "$NFQSPID" -f -c "$T_TMP/backup.ini" \
    >>"$B_LOG" 2>&1 &
B_PID=$!
check "nfqspid (backup, threads = 2, flush = 75) starts" \
    wait_for $((100 * T_SLOW)) test -S "$B_CTL"
check "the backup is ready" \
    eventually 100 '[ "$(lib_jsync "$B_CTL" ready)" = true ]'
bg_in "$NS_S" "$PY" "$T_TMP/server.py" "$S4" "$T_TMP"
wait_listen "$NS_S" udp 5053

# ---- the record comes within the wait --------------------------------------
try 1
check "the old master stopped before its records went (ports $A, $B)" \
    test "$?" = 0
check "... the answer to the flow at its home worker came through" \
    test -e "$T_TMP/ok-$A"
check "... and the one at the other worker" test -e "$T_TMP/ok-$B"
check "... both waited and were saved" \
    eventually 20 '[ "$(bstat grace_saved)" = 2 ]'
check "... none refused" test "$(bstat grace_unsaved)" = 0
check "... none INVALID, none dropped" \
    test "$(bstat invalid)" = 0 -a "$(bstat dropped)" = 0
check "... nothing waits" test "$(bstat adopt_waiting)" = 0

# ---- no record: the old master crashed -------------------------------------
# the node is master already: its grace (60 s) goes on
try 0
check "the old master stopped before its records went (ports $A, $B)" \
    test "$?" = 0
check "... no answer reached the client" \
    test -e "$T_TMP/none-$A" -a -e "$T_TMP/none-$B"
check "... both waited and were dropped after the wait" \
    eventually 20 '[ "$(bstat grace_unsaved)" = 2 ]'
check "... dropped, not lost: every packet decided" \
    test "$(bstat dropped)" = 2 -a "$(bstat adopt_waiting)" = 0
check "... the saved stay 2" test "$(bstat grace_saved)" = 2
check "the old master answers again" lib_ctl stats

lib_summary
