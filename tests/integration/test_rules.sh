#!/bin/bash
# test_rules.sh - the rule language on the real path: reject (TCP RST and
# ICMP/ICMPv6 port unreachable sent by the daemon), marks behind the
# queue, per-source rate and conn_limit, a reload with a bad file (the
# old policy stays), a reload that ends a now-forbidden live connection
# (reason=policy-reload; by SIGHUP over IPv4, by nfqspictl reload over
# IPv6), and monitor mode.
#
# Copyright (C) 2026 The nfqspid authors
# SPDX-License-Identifier: GPL-2.0-or-later
# shellcheck disable=SC2317  # functions run through check and wait_for
set -u

T_NET=${T_NET:-96}
T_QUEUE=${T_QUEUE:-9}
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"

lib_init rules
lib_topology
lib_write_helpers

# ---- helpers of this test ------------------------------------------------------

# connect.py tcp|udp ADDR PORT WAIT: one attempt; prints "ok", "refused"
# or "timeout" and the seconds it took.
cat >"$T_TMP/connect.py" <<'EOF'
import socket, sys, time
kind, addr, port, wait = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
fam = socket.AF_INET6 if ":" in addr else socket.AF_INET
s = socket.socket(fam, socket.SOCK_STREAM if kind == "tcp" else socket.SOCK_DGRAM)
s.settimeout(wait)
t0 = time.monotonic()
try:
    s.connect((addr, port))
    if kind == "udp":
        # a connected UDP socket is told about the port unreachable
        s.send(b"hello")
        s.recv(4096)
    res = "ok"
except ConnectionRefusedError:
    res = "refused"
except (socket.timeout, TimeoutError):
    res = "timeout"
except OSError as e:
    res = "error:%s" % e.errno
print("%s %.2f" % (res, time.monotonic() - t0))
EOF

# burst.py ADDR PORT N WAIT: N connection attempts at once; prints how
# many were established within WAIT seconds.
cat >"$T_TMP/burst.py" <<'EOF'
import errno, select, socket, sys, time
addr, port, n, wait = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
fam = socket.AF_INET6 if ":" in addr else socket.AF_INET
pending, done = [], 0
for i in range(n):
    s = socket.socket(fam, socket.SOCK_STREAM)
    s.setblocking(False)
    s.connect_ex((addr, port))
    pending.append(s)
end = time.monotonic() + wait
while pending and time.monotonic() < end:
    _, w, _ = select.select([], pending, [], max(0, end - time.monotonic()))
    for s in w:
        pending.remove(s)
        if s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR) == 0:
            done += 1
print(done)
EOF

# limit.py ADDR PORT: two connections held open, a third attempt, then the
# first closed and another attempt; prints the four results.
cat >"$T_TMP/limit.py" <<'EOF'
import socket, sys, time
addr, port = sys.argv[1], int(sys.argv[2])
fam = socket.AF_INET6 if ":" in addr else socket.AF_INET
def attempt():
    s = socket.socket(fam, socket.SOCK_STREAM)
    s.settimeout(2.5)
    try:
        s.connect((addr, port))
        return s
    except OSError:
        return None
a = attempt(); b = attempt(); c = attempt()
out = ["ok" if x else "fail" for x in (a, b, c)]
if a:
    a.close()           # FIN both ways: TIME_WAIT, no longer counted
time.sleep(1)
d = attempt()
out.append("ok" if d else "fail")
print(" ".join(out))
EOF

# longconn.py ADDR PORT DIR: connects, sends "first", then waits for
# DIR/go and sends "second"; writes DIR/connected and DIR/sent.
cat >"$T_TMP/longconn.py" <<'EOF'
import os, socket, sys, time
addr, port, d = sys.argv[1], int(sys.argv[2]), sys.argv[3]
fam = socket.AF_INET6 if ":" in addr else socket.AF_INET
s = socket.create_connection((addr, port), timeout=5)
s.sendall(b"first\n")
open(os.path.join(d, "connected"), "w").close()
while not os.path.exists(os.path.join(d, "go")):
    time.sleep(0.05)
s.sendall(b"second\n")
open(os.path.join(d, "sent"), "w").close()
time.sleep(8)
EOF

lib_config <<EOF
[conntrack]
max = 4096

$(lib_policy)

[rule mark-5001]
proto = tcp
dport = 5001
action = accept
mark = 0x10

[rule reject-tcp]
proto = tcp
dport = 6001
action = reject
log = yes

[rule reject-udp]
proto = udp
dport = 6002
action = reject
log = yes

[rule rate-6003]
proto = tcp
dport = 6003
action = accept
rate = 2/s

[rule conn-6004]
proto = tcp
dport = 6004
action = accept
conn_limit = 2

[rule long-5005]
proto = tcp
dport = 5005
action = accept
mark = 0x20
EOF
cp "$T_CONF" "$T_TMP/base.ini"

check "nfqspid -n accepts the test configuration" \
    quiet "$NFQSPID" -n -c "$T_CONF"
lib_start "nfqspid starts, binds queue $T_QUEUE and opens its control socket" "$@"

# Neighbour discovery first (dut's own addresses: not diverted), so that
# the first forwarded IPv6 packet of a test is not lost to it and the
# timings below measure the firewall alone.
quiet in_c ping -6 -c 1 -W 2 "$D6C"
quiet in_s ping -6 -c 1 -W 2 "$D6S"
quiet in_c ping -c 1 -W 2 "$D4C"
quiet in_s ping -c 1 -W 2 "$D4S"

# Listeners on every port: whatever fails, the server would have answered.
for p in 5001 6001 6003 6004 5005 5006; do
	bg_in "$NS_S" socat "TCP4-LISTEN:$p,bind=$S4,reuseaddr,fork" EXEC:cat
	bg_in "$NS_S" socat "TCP6-LISTEN:$p,bind=[$S6],reuseaddr,fork" EXEC:cat
done
bg_in "$NS_S" "$PY" "$T_TMP/udpsrv.py" "$S4:6002" "$S6:6002"
for p in 5001 6001 6003 6004 5005 5006; do
	wait_listen "$NS_S" tcp "$p" || fail "server listens on tcp $p"
done
wait_listen "$NS_S" udp 6002 || fail "server listens on udp 6002"
counter_add "$NS_S" "$IPT" filter INPUT syn-6001 -p tcp --dport 6001 --syn
counter_add "$NS_S" "$IP6T" filter INPUT syn6-6001 -p tcp --dport 6001 --syn
counter_add "$NS_S" "$IPT" filter INPUT udp-6002 -p udp --dport 6002
counter_add "$NS_S" "$IP6T" filter INPUT udp6-6002 -p udp --dport 6002

# ---- reject ---------------------------------------------------------------------
# "refused" within a second: a RST or unreachable came back at once
# (a dropped SYN would time out after the 3 seconds).
refused_fast()
{
	local out=$1
	[[ "$out" =~ ^refused\ 0\.[0-9]+$ ]]
}

out=$(in_c "$PY" "$T_TMP/connect.py" tcp "$S4" 6001 3)
check "reject TCP: the client sees connection refused at once ($out)" \
    refused_fast "$out"
check "reject TCP: the SYN never reached the server" \
    test "$(counter "$NS_S" "$IPT" filter INPUT syn-6001)" -eq 0
check "audit: the rejected connection is logged as action=reject" \
    log_has "action=reject state=NEW rule=reject-tcp .*proto=tcp src=$C4 sport=[0-9]+ dst=$S4 dport=6001 "
out=$(in_c "$PY" "$T_TMP/connect.py" tcp "$S6" 6001 3)
check "reject TCP over IPv6: connection refused at once ($out)" \
    refused_fast "$out"
check "reject TCP over IPv6: the SYN never reached the server" \
    test "$(counter "$NS_S" "$IP6T" filter INPUT syn6-6001)" -eq 0

out=$(in_c "$PY" "$T_TMP/connect.py" udp "$S4" 6002 3)
check "reject UDP: ICMP port unreachable reaches the client ($out)" \
    refused_fast "$out"
check "reject UDP: the datagram never reached the server" \
    test "$(counter "$NS_S" "$IPT" filter INPUT udp-6002)" -eq 0
out=$(in_c "$PY" "$T_TMP/connect.py" udp "$S6" 6002 3)
check "reject UDP over IPv6: ICMPv6 port unreachable reaches the client ($out)" \
    refused_fast "$out"
check "reject UDP over IPv6: the datagram never reached the server" \
    test "$(counter "$NS_S" "$IP6T" filter INPUT udp6-6002)" -eq 0
check "audit: the rejected datagram is logged as action=reject" \
    log_has "action=reject state=NEW rule=reject-udp .*proto=udp src=$C4 sport=[0-9]+ dst=$S4 dport=6002 "
# the control: a port the policy drops times out instead
out=$(in_c "$PY" "$T_TMP/connect.py" tcp "$S4" 5006 2)
check "control: a dropped SYN times out, it is not refused ($out)" \
    grep -q '^timeout' <<<"$out"

# ---- marks ------------------------------------------------------------------------
lib_mark_counters 5001 0x10
check "marked connection carries data" \
    quiet in_c sh -c "echo hello | timeout 10 nc -N -w 3 $S4 5001"
lib_marks_check "mark 0x10 behind the queue"

# ---- rate -----------------------------------------------------------------------------
# 10 attempts at once, each given 0.8 s (before the first SYN
# retransmission): the burst of 2, and at most one token more.
n=$(in_c "$PY" "$T_TMP/burst.py" "$S4" 6003 10 0.8)
check "rate = 2/s: of 10 attempts at once, 2 or 3 connect (got $n)" \
    test "${n:-0}" -ge 2 -a "${n:-0}" -le 3
check "audit: the attempts over the rate are logged with limit=rate" \
    log_has "action=drop state=NEW rule=rate-6003 limit=rate proto=tcp src=$C4 sport=[0-9]+ dst=$S4 dport=6003 "
sleep 1.5
n=$(in_c "$PY" "$T_TMP/burst.py" "$S4" 6003 1 2)
check "rate: after a pause, a new connection works again (got $n)" \
    test "${n:-0}" -eq 1

# ---- conn_limit -------------------------------------------------------------------------
out=$(in_c "$PY" "$T_TMP/limit.py" "$S4" 6004)
check "conn_limit = 2: two connections, the third fails while they are open, one more after one closed ($out)" \
    test "$out" = "ok ok fail ok"
check "audit: the third is logged with limit=conn_limit" \
    log_has "action=drop state=NEW rule=conn-6004 limit=conn_limit proto=tcp src=$C4 sport=[0-9]+ dst=$S4 dport=6004 "
out=$(in_c "$PY" "$T_TMP/limit.py" "$S6" 6004)
check "conn_limit over IPv6 ($out)" test "$out" = "ok ok fail ok"

# ---- reload with a bad file ---------------------------------------------------------------
printf '\n[rule broken]\nproto = tcp\ndport = 22-\naction = accept\n' >>"$T_CONF"
kill -HUP "$T_DPID"
check "SIGHUP with a bad file: the error names file, section and key" \
    log_has "reload failed.*nfqspi\.ini: \[rule broken\] dport: "
check "the old policy stays: an allowed connection still works" \
    quiet in_c sh -c "echo again | timeout 10 nc -N -w 3 $S4 5001"
check "the old policy stays: a forbidden one still fails" \
    not quiet in_c timeout 10 nc -z -w 2 "$S4" 5006
out=$(in_c "$PY" "$T_TMP/connect.py" tcp "$S4" 6001 3)
check "the old policy stays: reject still answers ($out)" refused_fast "$out"
cp "$T_TMP/base.ini" "$T_CONF"

# ---- reload that ends a now-forbidden live connection ---------------------------------------
# reload sighup|ctl: the way an operator reloads
reload()
{
	if [ "$1" = sighup ]; then
		kill -HUP "$T_DPID"
	else
		lib_ctl reload >/dev/null
	fi
}

# long_conn ADDR PORT sighup|ctl: a long-lived connection to PORT is
# allowed by a reload, then forbidden by another while it is open.
long_conn()
{
	local addr=$1 port=$2 how=$3 src=$C4 listen d spid cpid
	d=$T_TMP/long-$port
	mkdir -p "$d"
	case $addr in
	*:*)	listen="TCP6-LISTEN:$port,bind=[$addr],reuseaddr"; src=$C6 ;;
	*)	listen="TCP4-LISTEN:$port,bind=$addr,reuseaddr" ;;
	esac
	in_s timeout 30 socat -u "$listen" "OPEN:$d/srv.in,creat,append" \
	    2>/dev/null &
	spid=$!
	sed -i "s/^dport = 5005\$/dport = 5005, $port/" "$T_CONF"
	check "$how: the reload that allows port $port succeeds" reload "$how"
	wait_listen "$NS_S" tcp "$port" || fail "server listens on tcp $port"
	in_c timeout 30 "$PY" "$T_TMP/longconn.py" "$addr" "$port" "$d" &
	cpid=$!
	check "$how: a long-lived connection to $addr port $port is open" \
	    wait_for 50 test -e "$d/connected"
	check "$how: its first line reached the server" \
	    wait_for 30 grep -q '^first$' "$d/srv.in"
	# forbid it
	sed -i "s/^dport = 5005, $port\$/dport = 5005/" "$T_CONF"
	check "$how: the reload that forbids it succeeds" reload "$how"
	# mark=0x0: its rule's 0x20 is on no packet, as for a drop
	check "$how: the connection is ended and audited with reason=policy-reload" \
	    log_has "action=drop state=NEW rule=- reason=policy-reload proto=tcp src=$src sport=[0-9]+ dst=$addr dport=$port in= out= len=0 mark=0x0\$"
	touch "$d/go"
	check "$how: the client wrote its next line" wait_for 50 test -e "$d/sent"
	sleep 3
	check "$how: its next packets are dropped: the line never reaches the server" \
	    not grep -q '^second$' "$d/srv.in"
	kill "$cpid" "$spid" 2>/dev/null
	wait "$cpid" "$spid" 2>/dev/null
}

long_conn "$S4" 5007 sighup
long_conn "$S6" 5008 ctl
check "a connection the new rules still allow keeps working" \
    quiet in_c sh -c "echo after | timeout 10 nc -N -w 3 $S4 5005"

# ---- monitor mode ----------------------------------------------------------------------------
sed -i 's/^\[daemon\]$/[daemon]\nmode = monitor/' "$T_CONF"
kill -HUP "$T_DPID"
check "SIGHUP: monitor mode is loaded" log_has "reloaded .*mode monitor"
check "monitor: a connection the policy forbids works" \
    quiet in_c sh -c "echo monitored | timeout 10 nc -N -w 3 $S4 5006"
check "monitor: the audit says what enforce mode would have done, monitor=yes last" \
    log_has "action=drop state=NEW rule=- proto=tcp src=$C4 sport=[0-9]+ dst=$S4 dport=5006 .* mark=0x[0-9a-f]+ monitor=yes\$"
out=$(in_c "$PY" "$T_TMP/connect.py" tcp "$S4" 6001 3)
check "monitor: a reject rule lets the connection through ($out)" \
    grep -q '^ok' <<<"$out"
check "monitor: audited as action=reject monitor=yes" \
    log_has "action=reject state=NEW rule=reject-tcp .*dport=6001 .* monitor=yes\$"

# ---- health and shutdown -----------------------------------------------------------------------
lib_finish

lib_summary
