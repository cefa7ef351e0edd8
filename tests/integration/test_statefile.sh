#!/bin/bash
# test_statefile.sh - [daemon] state_file keeps the connection table
# across a restart, on the real path.  The policy lets NEW connections
# come from the client's side only.  A TCP connection is opened and left
# idle; nfqspid (user nobody: the file is written through the descriptor
# it opened as root) gets SIGTERM and starts again, then the SERVER
# sends first:
#  - with the state file the segment passes, nfqspictl conntrack lists
#    the connection ESTABLISHED, the log says what was saved and
#    restored, the file is empty once read;
#  - after a restart with the file corrupted (one byte changed) the
#    daemon starts with an empty table, says why in one line, and the
#    server's segment of the connection is dropped;
#  - a reload that changes state_file says it waits for the next start;
#  - a start that fails after the restore (a status page it cannot
#    bind) leaves the file, and the next start restores it;
#  - after a restart without state_file, likewise for another
#    connection;
#  - with threads = 2 (--queue-balance) a restored connection is back
#    in the worker that held it, where its packets come;
#  - with fastpath = yes nothing is written to the kernel's table at
#    start, and the restored connection's packets offload it again;
#  - a restart whose rules no longer accept a restored connection ends
#    it at start, before any of its packets passes;
#  - with --queue-bypass a connection moves on while the daemon is down
#    (megabytes, far past the window the file holds): restored, its
#    next segments re-learn the window and pass (window_relearn);
#  - a stop whose configuration file no longer names the state file
#    (edited for the next start) does not write it: a later start with
#    it again finds no table older than the run without it;
#  - a state_file in a directory that does not exist: nfqspid -n warns,
#    the start says so, and the stop says it writes nothing; but not of
#    a directory under /var/lib, which a unit's StateDirectory= makes (a
#    second instance's own, nfqspid-b or nfqspid/b).
#
# Copyright (C) 2026 The nfqspid authors
# SPDX-License-Identifier: GPL-2.0-or-later
# shellcheck disable=SC2317  # functions run through check and wait_for
# shellcheck disable=SC2016  # wait_eval expands its string, each try
set -u

T_NET=${T_NET:-74}
T_QUEUE=${T_QUEUE:-44}
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"

lib_init statefile
getent passwd nobody >/dev/null || skip "no user nobody"
lib_need nft
lib_topology

STATE=$T_TMP/state
SYNCHOME=${SYNCHOME:-$top_builddir/tests/integration/synchome}
[ -x "$SYNCHOME" ] || { echo "ERROR: $SYNCHOME not built" >&2; exit 1; }

# client_rule X PORT: NEW TCP connections from the client's subnet to
# PORT, rule from-client-X
client_rule()
{
	cat <<EOF
[rule from-client-$1]
state = new
proto = tcp
src = 10.$T_NET.1.0/24
dport = $2
action = accept

EOF
}

config()
{
	lib_config <<EOF
[conntrack]
max = 4096

$(lib_policy)

$(for r in a:5060 b:5061 c:5062 d:5063 e:5064 f:5065 g:5066; do
	client_rule "${r%:*}" "${r#*:}"
done)
EOF
	sed -i "s|^\\[daemon\\]\$|[daemon]\\nuser = nobody\\n$1|" "$T_CONF"
	# nobody reads it at a reload, and may not write in the directory
	chmod 711 "$T_TMP"
	chmod 644 "$T_CONF"
}

# push.py serve ADDR PORT DIR: accept one client, then for each file
# DIR/go.N (N = 1, 2, ...) as it appears send "msgN", after as many
# bytes of filler lines as the file says (none if empty); held 120 s.
# push.py fetch ADDR PORT OUT [SPORT]: connect (from SPORT), append each
# line to OUT as it comes, until the connection ends or 120 s.  The
# client never sends.
cat >"$T_TMP/push.py" <<'EOF'
import os, socket, sys, time
mode, addr, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
end = time.monotonic() + 120
if mode == "serve":
    d = sys.argv[4]
    ls = socket.socket()
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind((addr, port))
    ls.listen(1)
    s, _ = ls.accept()
    open(os.path.join(d, "accepted"), "w").close()
    n = 1
    while time.monotonic() < end:
        go = os.path.join(d, "go.%d" % n)
        if os.path.exists(go):
            fill = int(open(go).read().strip() or 0)
            line = b"." * 1023 + b"\n"
            for i in range(fill // len(line)):
                s.sendall(line)
            s.sendall(b"msg%d\n" % n)
            n += 1
        time.sleep(0.05)
else:
    src = ("", int(sys.argv[5])) if len(sys.argv) > 5 else None
    s = socket.create_connection((addr, port), timeout=10,
                                 source_address=src)
    s.settimeout(None)
    with open(sys.argv[4], "a") as f:
        buf = b""
        while time.monotonic() < end:
            b = s.recv(4096)
            if not b:
                break
            buf += b
            while b"\n" in buf:
                line, buf = buf.split(b"\n", 1)
                if line.startswith(b"."):
                    continue
                f.write(line.decode() + "\n")
                f.flush()
EOF

# open_conn NAME PORT [SPORT]: a connection from the client (from SPORT)
# to the server's PORT, its files under $T_TMP/NAME.
open_conn()
{
	mkdir -p "$T_TMP/$1"
	bg_in "$NS_S" "$PY" "$T_TMP/push.py" serve "$S4" "$2" "$T_TMP/$1"
	wait_listen "$NS_S" tcp "$2" || fail "$1: the server listens on $2"
	bg_in "$NS_C" "$PY" "$T_TMP/push.py" fetch "$S4" "$2" \
	    "$T_TMP/$1/out" ${3:+"$3"}
	wait_for 50 test -e "$T_TMP/$1/accepted"
}

# push NAME N [BYTES]: the server sends msgN on NAME's connection (after
# BYTES of filler)
push() { echo "${3:-}" >"$T_TMP/$1/go.$2.tmp" && mv "$T_TMP/$1/go.$2.tmp" "$T_TMP/$1/go.$2"; }
got() { grep -qx "msg$2" "$T_TMP/$1/out" 2>/dev/null; }

has_est()
{
	grep -Eq "^ipv4 +2 tcp +6 [0-9]+ ESTABLISHED src=$C4 dst=$S4 sport=[0-9]+ dport=$1 " \
	    <<<"$(lib_ctl conntrack 2>&1)"
}

restart()
{
	local what=$1
	shift
	lib_stop_daemon
	check "$what: SIGTERM, exit status 0 (got ${T_DRC:-none})" \
	    test "${T_DRC:-1}" = 0
	"$@"
	lib_must_start "$what: nfqspid starts again"
}

config "state_file = $STATE"
nout=$("$NFQSPID" -n -c "$T_CONF" 2>&1)
check "nfqspid -n accepts state_file" test "$nout" = "configuration OK"
sed "s|^state_file = .*|state_file = state|" "$T_CONF" >"$T_TMP/rel.ini"
check "nfqspid -n refuses a relative state_file" \
    not quiet "$NFQSPID" -n -c "$T_TMP/rel.ini"
# a directory others may write: anyone could plant a table there
mkdir -m 1777 "$T_TMP/open"
sed "s|^state_file = .*|state_file = $T_TMP/open/state|" "$T_CONF" \
    >"$T_TMP/open.ini"
nout=$("$NFQSPID" -n -c "$T_TMP/open.ini" 2>&1)
check "nfqspid -n warns of a state_file in a directory others write" \
    grep -q "warning: state file $T_TMP/open/state: directory $T_TMP/open is writable by others than root; connections will not be kept" <<<"$nout"
check "nfqspid -n makes no state file" test ! -e "$T_TMP/open/state"
# a directory that does not exist: nobody makes it, the file is never
# written (only the unit's StateDirectory= is made, by systemd)
sed "s|^state_file = .*|state_file = $T_TMP/nodir/state|" "$T_CONF" \
    >"$T_TMP/nodir.ini"
nout=$("$NFQSPID" -n -c "$T_TMP/nodir.ini" 2>&1)
rc=$?
check "nfqspid -n warns of a state_file in a directory that does not exist ($nout)" \
    grep -q "^nfqspid: warning: state file $T_TMP/nodir/state: directory $T_TMP/nodir does not exist (nfqspid makes none); connections will not be kept across a restart$" <<<"$nout"
check "... a warning: the file is accepted (rc $rc)" test "$rc" -eq 0
# state.c's STATE_UNIT_ROOT, of which -n says nothing while a directory
# there is missing: a unit's StateDirectory=, made by systemd before
# each start, the shipped one's or a second instance's
check "the unit's StateDirectory= is under /var/lib, as state.c knows" \
    grep -qx 'StateDirectory=nfqspid' "$top_srcdir/etc/nfqspid.service.in"
for sd in nfqspid nfqspid-b-$$ nfqspid-b-$$/inst; do
	[ -e "/var/lib/${sd%%/*}" ] && continue
	sed "s|^state_file = .*|state_file = /var/lib/$sd/state|" "$T_CONF" \
	    >"$T_TMP/unitdir.ini"
	nout=$("$NFQSPID" -n -c "$T_TMP/unitdir.ini" 2>&1)
	check "nfqspid -n: StateDirectory=$sd still to be made, no warning ($nout)" \
	    test "$nout" = "configuration OK"
	check "... and nothing made" test ! -e "/var/lib/${sd%%/*}"
done
# ...but a path that leaves /var/lib is not one
sed "s|^state_file = .*|state_file = /var/lib/../$$-nodir/state|" \
    "$T_CONF" >"$T_TMP/unitdir.ini"
check "nfqspid -n: /var/lib/../DIR missing is warned of" \
    grep -q "warning: state file /var/lib/../$$-nodir/state: directory .* does not exist" \
    <("$NFQSPID" -n -c "$T_TMP/unitdir.ini" 2>&1)
lib_start "nfqspid starts with state_file"
check "the file is made at start, 0600, owned by root" \
    test "$(stat -c %a:%U "$STATE" 2>/dev/null)" = 600:root
check "start: an empty file, nothing to restore" \
    log_has "state file $STATE: empty, no connection to restore"

# ---- with the file: the connection survives -------------------------------
open_conn a 5060
push a 1
check "a: the server's data reaches the client before the restart" \
    wait_for 50 got a 1
check "a: listed ESTABLISHED" wait_for 30 has_est 5060

restart "restart with state_file" true
check "stop: the table was saved" log_has "saved 1 connections to $STATE"
check "start: the connection was restored" \
    log_has "restored 1 of 1 connections from $STATE \\(written [0-9]+ s ago\\)"
check "start: the file is emptied once read" test ! -s "$STATE"
check "a: listed ESTABLISHED after the restart" has_est 5060
check "restored counter is 1" test "$(lib_stat restored)" = 1
push a 2
check "a: the server speaks first after the restart, and gets through" \
    wait_for 50 got a 2

# a reload cannot move the file: it says so, and the stop keeps to it
sed -i "s|^state_file = .*|state_file = $T_TMP/other|" "$T_CONF"
kill -HUP "$T_DPID"
check "reload: state_file is read at start only, and the log says so" \
    log_has "reload: state_file takes effect at the next start \\(running: $STATE\\)"
sed -i "s|^state_file = .*|state_file = $STATE|" "$T_CONF"
kill -HUP "$T_DPID"
check "reload: back to the running file" \
    wait_eval 50 'test "$(grep -c "reloaded $T_CONF" "$T_LOG")" -ge 2'

# ---- a start that fails after the restore leaves the file to the next ----
lib_stop_daemon
check "stop before a failing start: exit status 0 (got ${T_DRC:-none})" \
    test "${T_DRC:-1}" = 0
# a status page on an address dut does not have: http_open() fails,
# after the restore, before a worker runs
sed -i "/^\[daemon\]\$/a http = 192.0.2.1:9" "$T_CONF"
check "a start that fails after the restore exits" not lib_start_daemon
check "failed start: it had restored the connection" \
    wait_eval 30 'test "$(grep -c "restored 1 of 1 connections from $STATE" "$T_LOG")" -ge 2'
check "failed start: the file is left to the next start" test -s "$STATE"
sed -i "/^http = 192.0.2.1:9\$/d" "$T_CONF"
lib_must_start "nfqspid starts again after the failed start"
check "the next start restores the file" \
    test "$(grep -c "restored 1 of 1 connections from $STATE" "$T_LOG")" -ge 3
check "and empties it" test ! -s "$STATE"
check "a: listed ESTABLISHED after the failed start" has_est 5060
push a 3
check "a: the server speaks first after the failed start, and gets through" \
    wait_for 50 got a 3

# ---- the file corrupted: an empty table, the server's segment dropped ------
restart "restart with the file corrupted" \
    "$PY" -c 'import sys
p = sys.argv[1]
b = bytearray(open(p, "rb").read())
b[len(b) // 2] ^= 0xff
open(p, "wb").write(b)' "$STATE"
check "corrupted: one line says why, nothing restored" \
    log_has "state file $STATE: message [0-9]+: forged \\(a torn write, or not ours\\): not restored"
check "corrupted: the file is emptied" test ! -s "$STATE"
push a 4
check "corrupted: the server's segment is dropped" \
    not wait_for 30 got a 4
check "corrupted: the connection is not listed" not has_est 5060

# ---- without state_file: the other connection is lost ---------------------
open_conn b 5061
push b 1
check "b: the server's data reaches the client before the restart" \
    wait_for 50 got b 1
restart "restart without state_file" config ""
check "without state_file: the file the stop wrote is not read" \
    not has_est 5061
push b 2
check "without state_file: the server's segment is dropped" \
    not wait_for 30 got b 2

# ---- threads = 2: a connection goes back to the worker that held it ---------
# --queue-balance: the kernel's hash, seeded once a boot, sends a
# connection to the same queue after the restart
balance()
{
	config "state_file = $STATE"
	sed -i "s|^threads = 1\$|threads = 2|" "$T_CONF"
	# what the stop before the run without state_file wrote (b) would
	# come back: c alone here
	: >"$STATE"
	for t in "$IPT" "$IP6T"; do
		in_d "$t" -F FORWARD
		in_d "$t" -A FORWARD -j NFQUEUE \
		    --queue-balance "$T_QUEUE:$((T_QUEUE + 1))"
	done
}
restart "threads = 2" balance
open_conn c 5062
push c 1
check "threads = 2: the server's data reaches the client" wait_for 50 got c 1
held=
for w in 0 1; do
	[ "$(lib_stat connections $w)" = 1 ] && held=$w
done
check "threads = 2: one worker holds the connection (${held:-none})" \
    test -n "$held"
# The hash takes the addresses alone: every connection of the client to
# the server goes to that worker.  d's home (synclink_home(), where the
# peer's records go) is the other one, so that the restore must not
# send it home.
sport=
for p in $(seq 45000 45100); do
	"$SYNCHOME" 2 tcp "$C4" "$S4" 5063 "$p" | grep -q " $((1 - ${held:-0}))\$" &&
	    { sport=$p; break; }
done
check "threads = 2: a port whose home is not worker $held ($sport)" \
    test -n "$sport"
open_conn d 5063 "$sport"
push d 1
check "threads = 2: d's data reaches the client" wait_for 50 got d 1
check "threads = 2: worker $held holds both" \
    test "$(lib_stat connections "$held")" = 2
restart "threads = 2, restart with state_file" true
check "threads = 2: both restored into worker $held, which held them" \
    test "$(lib_stat restored "$held"):$(lib_stat connections "$held")" = 2:2
push c 2
push d 2
check "threads = 2: the server speaks first after the restart, and gets through" \
    wait_for 50 got c 2
check "threads = 2: on d too, whose home is the other worker" \
    wait_for 50 got d 2

# ---- fastpath = yes: a restored connection goes back to the kernel --------
BIT=0x80000000
fastpath()
{
	config "state_file = $STATE"
	sed -i "/^\\[daemon\\]/a fastpath = yes" "$T_CONF"
	: >"$STATE"
	for t in "$IPT" "$IP6T"; do
		in_d "$t" -F FORWARD
		in_d "$t" -A FORWARD -m mark --mark "$BIT/$BIT" -j ACCEPT
		in_d "$t" -A FORWARD -j NFQUEUE --queue-num "$T_QUEUE"
	done
}
# in_kernel ADDR SPORT: the fast path's table holds the connection
in_kernel()
{
	in_d nft list table inet "nfqspid-fp-$T_QUEUE" 2>/dev/null |
	    grep -q " $1 \\. $2 \\. "
}
restart "fastpath = yes" fastpath
open_conn e 5064 46000
# a segment each, and its ACK: past the packets a connection needs
for i in $(seq 1 12); do push e "$i"; done
check "fastpath: the server's data reaches the client" wait_for 50 got e 12
check "fastpath: nfqspid puts the connection in the kernel table" \
    wait_for 100 in_kernel "$C4" 46000
restart "fastpath = yes, restart with state_file" true
check "fastpath: restored, not written to the kernel table at start" \
    test "$(lib_stat restored)" = 1 -a "$(lib_stat offloaded)" = 0
check "fastpath: the kernel table starts empty" not in_kernel "$C4" 46000
push e 13
check "fastpath: the server speaks first after the restart, and gets through" \
    wait_for 50 got e 13
check "fastpath: its packets put the restored connection in the kernel table again" \
    wait_for 100 in_kernel "$C4" 46000

# ---- a restart with other rules: they judge what the file brings ----------
open_conn f 5065
push f 1
check "f: the server's data reaches the client" wait_for 50 got f 1
push e 14
check "e: still through before the restart" wait_for 50 got e 14
restart "restart with f's rule made drop" \
    sed -i "/^\\[rule from-client-f\\]/,/^action/s/^action = accept/action = drop/" "$T_CONF"
check "other rules: both restored" \
    log_has "restored 2 of 2 connections from $STATE"
check "other rules: the one they refuse ends at start, one line says so" \
    log_has "worker 0: 1 connection the new rules refuse ended"
check "other rules: f is not listed" not has_est 5065
push f 2
check "other rules: f's server segment is dropped" not wait_for 30 got f 2
push e 15
check "other rules: e, which they accept, still gets through" \
    wait_for 50 got e 15

# ---- a connection that moved on while the daemon was down ----------------
# --queue-bypass: while no nfqspid is bound the kernel lets the packets
# pass; the sequence numbers move on past the window the file holds
bypass()
{
	config "state_file = $STATE"
	: >"$STATE"
	for t in "$IPT" "$IP6T"; do
		in_d "$t" -F FORWARD
		in_d "$t" -A FORWARD -j NFQUEUE --queue-num "$T_QUEUE" \
		    --queue-bypass
	done
}
restart "--queue-bypass" bypass
open_conn g 5066
push g 1
check "bypass: the server's data reaches the client" wait_for 50 got g 1
lib_stop_daemon
check "bypass: SIGTERM, exit status 0 (got ${T_DRC:-none})" \
    test "${T_DRC:-1}" = 0
check "bypass: the table was saved" log_has "saved 1 connections to $STATE"
# 32 MiB: far past any window the client may have offered
push g 2 33554432
check "bypass: with nfqspid down the server sends 32 MiB, unseen" \
    wait_for 200 got g 2
lib_must_start "bypass: nfqspid starts again"
check "bypass: the connection was restored" \
    test "$(lib_stat restored)" = 1
push g 3
check "bypass: the server's next segment, far past the window the file held, gets through" \
    wait_for 50 got g 3
check "bypass: it re-learnt the window (window_relearn $(lib_stat window_relearn))" \
    test "$(lib_stat window_relearn)" -ge 1
check "bypass: listed ESTABLISHED" has_est 5066
push g 4 1048576
check "bypass: and goes on, a MiB more" wait_for 100 got g 4

# ---- a stop for a start without the file does not write it ---------------
config ""
lib_stop_daemon
check "no state_file next: SIGTERM, exit status 0 (got ${T_DRC:-none})" \
    test "${T_DRC:-1}" = 0
check "no state_file next: the stop says it does not write the file" \
    log_has "state file $STATE: not written: $T_CONF names no state_file for the next start"
check "no state_file next: the file stays empty" test ! -s "$STATE"
lib_must_start "no state_file next: nfqspid starts without it"
# shellcheck disable=SC2034  # read by wait_eval below
empty0=$(grep -c "state file $STATE: empty, no connection to restore" "$T_LOG")
restart "state_file again" config "state_file = $STATE"
check "state_file again: nothing from before the run without it" \
    wait_eval 30 'test "$(grep -c "state file $STATE: empty, no connection to restore" "$T_LOG")" = $((empty0 + 1))'
check "state_file again: restored counter is 0" \
    test "$(lib_stat restored)" = 0
check "state_file again: g is not listed" not has_est 5066

# ---- a stop that cannot read the file writes the table, and says so ------
printf '[daemon\n' >>"$T_CONF"
lib_finish
check "unreadable config at the stop: the log says why the table is written" \
    log_has "state file $STATE: written, though $T_CONF cannot tell whether the next start reads it: "
check "unreadable config at the stop: the file is written" test -s "$STATE"

# ---- a state_file in a directory that does not exist ---------------------
cp "$T_TMP/nodir.ini" "$T_CONF"
lib_must_start "state_file in a missing directory: nfqspid starts"
check "start: the log says the directory does not exist" \
    log_has "state file $T_TMP/nodir/state: directory $T_TMP/nodir does not exist \(nfqspid makes none\); connections will not be kept across a restart"
lib_stop_daemon
check "stop: SIGTERM, exit status 0 (got ${T_DRC:-none})" \
    test "${T_DRC:-1}" = 0
check "stop: the log says the file is not written" \
    log_has "state file $T_TMP/nodir/state: not written: the start could not open it"
check "no directory was made" test ! -e "$T_TMP/nodir"
lib_summary
