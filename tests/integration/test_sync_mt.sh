#!/bin/bash
# test_sync_mt.sh - [sync] with two workers on each node: the backup
# keeps each synced connection in its home worker, and after a failover
# the worker the kernel's queue hash sends its packets to adopts it from
# there.  8 TCP connections (tcp_loose = no: a mid-stream segment without
# its connection is INVALID) and 8 UDP flows go through the master; then
# the diversion moves to the backup's queues and the backup is made
# master, as keepalived would, and every connection must carry data both
# ways through it, with no INVALID packet, each held once, and at least
# the 8 UDP flows adopted.  Then back: the old master, made backup, has
# moved its connections home (the peer's table sweeps none), and made
# master again it carries them all once more.
#
# A failover's burst rides along: M more TCP connections, idle until
# each failover, then all sent to at once, every one through the worker
# that is not its home, while the new master's loops are held (SIGSTOP,
# as a loop busy at the switch would be): each worker then reads
# hundreds of them before any answer, more than the 64 an ICMP error's
# waiting slots hold, and none may be judged without its connection
# (INVALID, adopt_missed).
#
# The first burst also meets the new master's whole table going out to
# the old one, just made backup, which asked for it while the new master
# was held: the burst's connections move between the new master's
# workers while the bulk walks them, and the old master's sweep at the
# bulk's end must find every one of them (swept 0).  The second burst
# waits for the bulk, so that its checks are the adoptions' alone.
#
# TCP goes by --queue-balance, whose hash the kernel seeds at random; each
# UDP flow and each burst connection goes to the worker that is not its
# home (synchome prints it), so that adoption is certain, not left to
# that hash.
#
# Both daemons run in dut, the master on queues Q and Q+1, the backup on
# Q+2 and Q+3, their sync link on dut's loopback: the failover is the
# FORWARD rules' queues moving, the rest is the real path.
#
# Copyright (C) 2026 The nfqspid authors
# SPDX-License-Identifier: GPL-2.0-or-later
# shellcheck disable=SC2317  # functions run through check and wait_for
# shellcheck disable=SC2016  # eventually's expressions: eval expands them
set -u

T_NET=${T_NET:-85}
T_QUEUE=${T_QUEUE:-30}
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"

lib_init syncmt
lib_topology

N=8
M=${SYNC_BURST:-600}
SYNCHOME=${SYNCHOME:-$top_builddir/tests/integration/synchome}
B_CTL=$T_TMP/backup.sock
B_LOG=$T_TMP/backup.log
B_PID=
Q0=$T_QUEUE
Q1=$((T_QUEUE + 1))
Q2=$((T_QUEUE + 2))
Q3=$((T_QUEUE + 3))

trap lib_sync_cleanup EXIT

head -c 32 /dev/urandom | base64 >"$T_TMP/sync.key"
chmod 600 "$T_TMP/sync.key"

# rules ME PEER ROLE: two workers, [sync] on dut's loopback
rules()
{
	cat <<EOF
[conntrack]
tcp_loose = no

[sync]
listen = 127.0.0.1:$1
peer = 127.0.0.1:$2
key = $T_TMP/sync.key
role = $3
flush = 20

$(lib_policy)

$(lib_web_rule)

[rule dns]
proto = udp
dport = 5053
action = accept

[rule burst]
proto = tcp
dport = 5021
action = accept
EOF
}
lib_config < <(rules 3780 3781 master)
sed -e 's/^threads = 1$/threads = 2/' "$T_CONF" >"$T_TMP/master.ini"
lib_config < <(rules 3781 3780 backup)
sed -e 's/^threads = 1$/threads = 2/' -e "s/^queue = .*/queue = $Q2/" \
    -e "s|$T_TMP/nfqspid.pid|$T_TMP/backup.pid|" \
    -e "s|$T_CTL|$B_CTL|" "$T_CONF" >"$T_TMP/backup.ini"
T_CONF=$T_TMP/master.ini

bctl() { "$NFQSPICTL" -s "$B_CTL" "$@"; }

# bstat NAME: a counter of the backup's `nfqspictl -j stats` total
bstat() { T_CTL=$B_CTL lib_stat "$1"; }

eventually() { wait_for "$1" eval "$2"; }

# held CTL PROTO PORT [STATE]: connections to PORT in that daemon's
# tables (in STATE)
held()
{
	"$NFQSPICTL" -s "$1" conntrack -p "$2" --dport "$3" \
	    ${4:+--state "$4"} 2>/dev/null | grep -c src=
}

# rounds before|after|again: every flow of the client made its round trip
rounds()
{
	[ "$(cat "$T_TMP/$1" 2>/dev/null)" = "tcp=$N udp=$N burst=$M" ]
}

# The UDP flows' client ports by home worker: U_HOME0 and U_HOME1 (a
# comma list each, for multiport).
U_HOME0=
U_HOME1=
# shellcheck disable=SC2046
while read -r port home; do
	if [ "$home" = 0 ]; then
		U_HOME0=${U_HOME0:+$U_HOME0,}$port
	else
		U_HOME1=${U_HOME1:+$U_HOME1,}$port
	fi
done < <("$SYNCHOME" 2 udp "$C4" "$S4" 5053 $(seq 43001 $((43000 + N))))

# The burst's client ports by home worker, in $T_TMP/burst0 and burst1,
# 15 a line (multiport's most).
# shellcheck disable=SC2046
"$SYNCHOME" 2 tcp "$C4" "$S4" 5021 $(seq 44001 $((44000 + M))) |
    awk -v t="$T_TMP" '{ p[$2] = p[$2] (n[$2]++ % 15 ? "," : "\n") $1 }
	END { print substr(p[0], 2) > (t "/burst0")
	      print substr(p[1], 2) > (t "/burst1") }'

# divert Q: FORWARD to the daemon on queues Q and Q+1: each UDP flow and
# burst connection to the worker that is not its home, the rest by
# --queue-balance.  One transaction: between a flush and the appends
# FORWARD would pass what comes unjudged (policy ACCEPT).
divert()
{
	local ports

	{
		echo '*filter'
		echo '-F FORWARD'
		while read -r ports; do
			echo "-A FORWARD -p tcp -m multiport --ports $ports" \
			    "-j NFQUEUE --queue-num $(($1 + 1))"
		done <"$T_TMP/burst0"
		while read -r ports; do
			echo "-A FORWARD -p tcp -m multiport --ports $ports" \
			    "-j NFQUEUE --queue-num $1"
		done <"$T_TMP/burst1"
		[ -z "$U_HOME0" ] || echo "-A FORWARD -p udp -m multiport" \
		    "--ports $U_HOME0 -j NFQUEUE --queue-num $(($1 + 1))"
		[ -z "$U_HOME1" ] || echo "-A FORWARD -p udp -m multiport" \
		    "--ports $U_HOME1 -j NFQUEUE --queue-num $1"
		echo "-A FORWARD -j NFQUEUE --queue-balance $1:$(($1 + 1))"
		echo COMMIT
	} | in_d "$IPT-restore" --noflush
}

# moved LOG: the connections the node logged it moved home on the switch
# to backup (0 if none)
moved()
{
	local re='.*sync: backup: ([0-9]+) connections back in their home'

	sed -nE "s/$re workers.*/\\1/p" "$1" | tail -n 1 | grep . || echo 0
}

# ---- both up, the master's table on the backup ----------------------------
check "the UDP flows have homes ($U_HOME0 at 0, $U_HOME1 at 1)" \
    test "$(echo "$U_HOME0,$U_HOME1" | tr , '\n' | grep -c .)" -eq "$N"
# ports: the burst's client ports in file $1
ports() { tr , '\n' <"$1" | grep -c .; }
check "the $M burst connections have homes, hundreds on each worker" \
    test "$(ports "$T_TMP/burst0")" -gt $((M / 3)) -a \
    "$(ports "$T_TMP/burst1")" -gt $((M / 3)) -a \
    $(($(ports "$T_TMP/burst0") + $(ports "$T_TMP/burst1"))) -eq "$M"
check "FORWARD to the master's queues $Q0:$Q1" divert "$Q0"
lib_must_start "nfqspid (master, threads = 2) starts with [sync]"
ip netns exec "$NS_D" "${T_VG[@]}" "$NFQSPID" -f -c "$T_TMP/backup.ini" \
    >>"$B_LOG" 2>&1 &
B_PID=$!
check "nfqspid (backup, threads = 2) starts with [sync]" \
    wait_for $((100 * T_SLOW)) test -S "$B_CTL"
check "the backup is ready" \
    eventually 100 '[ "$(lib_jsync "$B_CTL" ready)" = true ]'

bg_in "$NS_S" socat "TCP4-LISTEN:5020,bind=$S4,reuseaddr,fork" EXEC:cat
bg_in "$NS_S" socat "UDP4-RECVFROM:5053,bind=$S4,reuseaddr,fork" EXEC:cat
# the burst's echo: one process for all its connections
cat >"$T_TMP/echo.py" <<'EOF'
import selectors, socket, sys
sel = selectors.DefaultSelector()
ls = socket.socket()
ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
ls.bind((sys.argv[1], 5021))
ls.listen(1024)
sel.register(ls, selectors.EVENT_READ)
while True:
    for k, _ in sel.select():
        if k.fileobj is ls:
            c, _ = ls.accept()
            sel.register(c, selectors.EVENT_READ)
            continue
        try:
            b = k.fileobj.recv(4096)
        except OSError:
            b = b""
        if b:
            k.fileobj.sendall(b)
        else:
            sel.unregister(k.fileobj)
            k.fileobj.close()
EOF
bg_in "$NS_S" "$PY" "$T_TMP/echo.py" "$S4"
wait_listen "$NS_S" tcp 5020
wait_listen "$NS_S" tcp 5021

# The client: N TCP connections and N UDP flows, each carries a round
# trip, and M burst connections, each sent to at once, then read; then,
# once $T_TMP/go exists, another on each, and once go2 exists, a third:
# how many came back, tcp=X udp=Y burst=Z, in before, after and again.
cat >"$T_TMP/flows.py" <<'EOF'
import os, socket, sys, time
srv, n, m, tmp = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]

def recv_all(s, n):
    b = b""
    try:
        while len(b) < n:
            c = s.recv(n - len(b))
            if not c:
                break
            b += c
    except OSError:
        pass
    return b

def burst(socks, msg, sent=None):
    ok = []
    for s in socks:
        try:
            s.sendall(msg)
            ok.append(s)
        except OSError:
            pass
    if sent:
        open(os.path.join(tmp, sent), "w").close()
    return sum(recv_all(s, len(msg)) == msg for s in ok)

def rtt(s, msg, udp):
    try:
        if udp:
            s.sendto(msg, (srv, 5053))
        else:
            s.sendall(msg)
        return s.recv(64) == msg
    except OSError:
        return False

tcp, udp = [], []
for i in range(n):
    t = socket.socket()
    t.settimeout(5)
    t.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    t.bind(("", 42001 + i))
    t.connect((srv, 5020))
    tcp.append(t)
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    u.settimeout(5)
    u.bind(("", 43001 + i))
    udp.append(u)
many = []
for i in range(m):
    t = socket.socket()
    t.settimeout(10)
    t.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    t.bind(("", 44001 + i))
    t.connect((srv, 5021))
    many.append(t)
before = (sum(rtt(t, b"one\n", 0) for t in tcp),
          sum(rtt(u, b"one\n", 1) for u in udp), burst(many, b"one\n"))
open(os.path.join(tmp, "before"), "w").write("tcp=%d udp=%d burst=%d\n" %
    before)
while not os.path.exists(os.path.join(tmp, "go")):
    time.sleep(0.05)
nb = burst(many, b"two\n", "sent")
after = (sum(rtt(t, b"two\n", 0) for t in tcp),
         sum(rtt(u, b"two\n", 1) for u in udp), nb)
open(os.path.join(tmp, "after"), "w").write("tcp=%d udp=%d burst=%d\n" %
    after)
while not os.path.exists(os.path.join(tmp, "go2")):
    time.sleep(0.05)
nb = burst(many, b"three\n", "sent2")
again = (sum(rtt(t, b"three\n", 0) for t in tcp),
         sum(rtt(u, b"three\n", 1) for u in udp), nb)
open(os.path.join(tmp, "again"), "w").write("tcp=%d udp=%d burst=%d\n" %
    again)
time.sleep(30)
EOF
( ip netns exec "$NS_C" "$PY" "$T_TMP/flows.py" "$S4" "$N" "$M" \
    "$T_TMP" >"$T_TMP/flows.log" 2>&1 & )
check "$N TCP connections, $N UDP flows and $M more through the master" \
    wait_for $((300 * T_SLOW)) rounds before
check "... all on the backup: TCP ESTABLISHED" \
    eventually 50 '[ "$(held "$B_CTL" tcp 5020 ESTABLISHED)" -eq "$N" ]'
check "... UDP" eventually 50 '[ "$(held "$B_CTL" udp 5053)" -eq "$N" ]'
check "... the burst's" \
    eventually 50 '[ "$(held "$B_CTL" tcp 5021 ESTABLISHED)" -eq "$M" ]'
check "the master took no INVALID packet" test "$(lib_stat invalid)" -eq 0
sleep 0.2	# the windows of the last round trip, one flush later

# ---- failover --------------------------------------------------------------
check "sync role master on the backup" bctl sync role master
check "FORWARD moves to the backup's queues $Q2:$Q3" divert "$Q2"
# burst PID SENT GO [CMD...]: the burst sent (the client's file SENT)
# while PID is held, and CMD run then
burst()
{
	local pid=$1 sent=$2 go=$3 rc

	shift 3
	kill -STOP "$pid" || return 1
	rc=0
	if [ $# -gt 0 ]; then
		"$@" || rc=$?
	fi
	touch "$T_TMP/$go"
	wait_for 100 test -e "$T_TMP/$sent" || rc=$?
	sleep 0.05	# its last segments reach the queues
	kill -CONT "$pid"
	return "$rc"
}
# bulked CTL N: that node has had the peer's table N times, the last whole
bulked()
{
	[ "$(lib_jsync "$1" bulk_in.count)" -ge "$2" ] &&
	    [ "$(lib_jsync "$1" bulk_in.state)" = '"done"' ]
}
# The old master asks for the table while the new master is held: the
# new master reads the request and the burst at once.
check "the burst is sent while the new master is held, and the old master made backup" \
    burst "$B_PID" sent go lib_ctl sync role backup
check "every connection carries data both ways through the new master" \
    wait_for $((300 * T_SLOW)) rounds after
check "the old master, made backup, has the new master's table" \
    eventually 100 'bulked "$T_CTL" 1'
# records the bulk carried: the table's, and the changes that came
# while it went
check "... which went out while the burst's connections moved (its changes came with it)" \
    test "$(lib_jsync "$T_CTL" bulk_in.records)" -ge $((2 * N + M + M / 4))
check "the new master took no INVALID packet" test "$(bstat invalid)" -eq 0
check "it dropped none" test "$(bstat dropped)" -eq 0
check "each UDP flow and burst connection, sent off its home worker, was adopted" \
    test "$(bstat adopted)" -ge $((N + M))
check "no packet was judged without waiting for its adoption" \
    test "$(bstat adopt_missed)" -eq 0
check "each connection is held once: TCP" \
    test "$(held "$B_CTL" tcp 5020)" -eq "$N"
check "... UDP" test "$(held "$B_CTL" udp 5053)" -eq "$N"
check "... the burst's" test "$(held "$B_CTL" tcp 5021)" -eq "$M"
echo "adopted $(bstat adopted) of $((2 * N + M)) connections; the old" \
    "master's bulk in: $(lib_jsync "$T_CTL" bulk_in.records) records," \
    "swept $(lib_jsync "$T_CTL" swept)"

# ---- back: the old master's copies went home ------------------------------
check "the old master, made backup, moved its UDP flows (and some TCP) home" \
    eventually 50 '[ "$(moved "$T_LOG")" -ge "$N" ]'
check "... which found no copy of ours left behind to sweep, nor swept any of the burst" \
    test "$(lib_jsync "$T_CTL" swept)" -eq 0
check "... each connection held once there: TCP" \
    test "$(held "$T_CTL" tcp 5020)" -eq "$N"
check "... UDP" test "$(held "$T_CTL" udp 5053)" -eq "$N"
check "... the burst's" test "$(held "$T_CTL" tcp 5021)" -eq "$M"
sleep 0.2	# the windows of the last round trip, one flush later
check "sync role master on the old master" lib_ctl sync role master
check "FORWARD moves back to its queues $Q0:$Q1" divert "$Q0"
check "sync role backup on the other" bctl sync role backup
check "... which has the old master's table" \
    eventually 100 'bulked "$B_CTL" 2'
check "the burst is sent while the old master is held" \
    burst "$T_DPID" sent2 go2
check "every connection carries data both ways through the old master" \
    wait_for $((300 * T_SLOW)) rounds again
check "it took no INVALID packet" test "$(lib_stat invalid)" -eq 0
check "it dropped none" test "$(lib_stat dropped)" -eq 0
check "each UDP flow and burst connection was adopted from home again" \
    test "$(lib_stat adopted)" -ge $((N + M))
check "no packet was judged without waiting for its adoption" \
    test "$(lib_stat adopt_missed)" -eq 0
check "each connection is held once: TCP" \
    test "$(held "$T_CTL" tcp 5020)" -eq "$N"
check "... UDP" test "$(held "$T_CTL" udp 5053)" -eq "$N"
check "... the burst's" test "$(held "$T_CTL" tcp 5021)" -eq "$M"
check "the other, made backup, moved its adopted flows home" \
    eventually 50 '[ "$(moved "$B_LOG")" -ge "$N" ]'
check "... and its sweep found none left behind" \
    test "$(lib_jsync "$B_CTL" swept)" -eq 0
check "no sanitizer report in the backup's log" \
    not grep -Eq 'runtime error|AddressSanitizer|LeakSanitizer' "$B_LOG"
kill -TERM "$B_PID" 2>/dev/null
wait "$B_PID"
check "SIGTERM: the other exits with status 0" test "$?" -eq 0
B_PID=

lib_finish
lib_summary
