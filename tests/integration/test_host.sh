#!/bin/bash
# test_host.sh - a host that protects itself: its INPUT and OUTPUT chains
# (loopback left alone) diverted to NFQUEUE, nfqspid on the shipped
# etc/nfqspi.ini.  SSH to the host works both ways, other ports do not
# answer, the host's own connections out work and their replies come
# back, ping works, SSH sessions open before nfqspid started carry on
# (whichever side speaks first), loopback is untouched.
#
#   client  c0 10.N.1.2/24 fd00:N:1::2/64
#     |
#   host    d0 10.N.1.1/24 fd00:N:1::1/64   (INPUT, OUTPUT -> NFQUEUE 0)
#
# Copyright (C) 2026 The nfqspid authors
# SPDX-License-Identifier: GPL-2.0-or-later
set -u

# the shipped file's queue
T_QUEUE=0
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"

lib_init host
# Two namespaces are enough: the client, and the host (lib's "dut").
ip netns del "$NS_S" 2>/dev/null
NS_S=''
NS_H=$NS_D
in_h() { ip netns exec "$NS_H" "$@"; }
H4=$D4C
H6=$D6C

set -e
ip -n "$NS_C" link add c0 type veth peer name d0 netns "$NS_H"
ip -n "$NS_C" link set lo up
ip -n "$NS_H" link set lo up
ip -n "$NS_C" addr add "$C4/24" dev c0
ip -n "$NS_C" addr add "$C6/64" dev c0 nodad
ip -n "$NS_H" addr add "$H4/24" dev d0
ip -n "$NS_H" addr add "$H6/64" dev d0 nodad
ip -n "$NS_C" link set c0 up
ip -n "$NS_H" link set d0 up
set +e
lib_write_helpers

# The shipped configuration, but for where the pid file and the control
# socket go.
T_CONF=$T_TMP/nfqspi.ini
sed -e "s|^pidfile = .*|pidfile = $T_TMP/nfqspid.pid|" \
    -e "s|^control = [^;]*|control = $T_CTL	|" \
    "$top_srcdir/etc/nfqspi.ini" >"$T_CONF"
check "the copy differs from the shipped file in pidfile and control only" \
    test "$(diff "$top_srcdir/etc/nfqspi.ini" "$T_CONF" | grep -c '^>')" -eq 2
check "nfqspid -n accepts the shipped configuration" \
    "$NFQSPID" -n -c "$T_CONF"

# A line server, something like sshd: greets with "hello", answers every
# line with "echo:" + the line.  After a "wait" line it sends "pushed"
# by itself as soon as the file ARGV[2] exists.
cat >"$T_TMP/linesrv.py" <<'EOF'
import os, select, socket, sys, threading

def serve(c, trig):
    buf, waiting = b"", False
    c.sendall(b"hello\n")
    while True:
        r = select.select([c], [], [], 0.1)[0]
        if waiting and os.path.exists(trig):
            c.sendall(b"pushed\n")
            waiting = False
        if not r:
            continue
        d = c.recv(65536)
        if not d:
            break
        buf += d
        while b"\n" in buf:
            line, buf = buf.split(b"\n", 1)
            if line == b"wait":
                waiting = True
            c.sendall(b"echo:" + line + b"\n")
    c.close()

port, trig = int(sys.argv[1]), sys.argv[2]
s = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("::", port))
s.listen(16)
while True:
    c, _ = s.accept()
    threading.Thread(target=serve, args=(c, trig), daemon=True).start()
EOF

# Its client.  once: a 256 KiB line there and back.  session: a line,
# then "ready" in DIR, wait for "go" in DIR; then (host-first) the server
# must push first, or (client-first) the client speaks first; then a line
# and 64 KiB there and back.  Prints "ok" or what went wrong.
cat >"$T_TMP/linecli.py" <<'EOF'
import os, socket, sys, time
addr, port, mode = sys.argv[1], int(sys.argv[2]), sys.argv[3]
d = sys.argv[4] if len(sys.argv) > 4 else None

def die(msg):
    print(msg)
    sys.exit(1)

def expect(f, want, what):
    try:
        got = f.readline()
    except OSError as e:
        die("%s: %s" % (what, e))
    if got != want:
        die("%s: got %r" % (what, got[:60]))

def roundtrip(s, f, line, what):
    s.sendall(line + b"\n")
    expect(f, b"echo:" + line + b"\n", what)

try:
    s = socket.create_connection((addr, port), timeout=5)
except OSError as e:
    die("connect: %s" % e)
s.settimeout(10)
f = s.makefile("rb")
expect(f, b"hello\n", "greeting")
if mode == "once":
    roundtrip(s, f, b"x" * 262144, "256 KiB echo")
else:
    roundtrip(s, f, b"wait" if mode == "host-first" else b"one", "first line")
    open(os.path.join(d, "ready"), "w").close()
    for _ in range(600):
        if os.path.exists(os.path.join(d, "go")):
            break
        time.sleep(0.1)
    else:
        die("no go")
    if mode == "host-first":
        expect(f, b"pushed\n", "the server's push after the start")
    roundtrip(s, f, b"two", "a line after the start")
    roundtrip(s, f, b"y" * 65536, "64 KiB echo after the start")
s.close()
print("ok")
EOF

in_h sh -c "exec $PY $T_TMP/linesrv.py 22 $T_TMP/push" \
    </dev/null >"$T_TMP/srv22.log" 2>&1 &
in_h sh -c "exec $PY $T_TMP/linesrv.py 2222 $T_TMP/push" \
    </dev/null >"$T_TMP/srv2222.log" 2>&1 &
in_c sh -c "exec $PY $T_TMP/linesrv.py 8080 $T_TMP/push" \
    </dev/null >"$T_TMP/srv8080.log" 2>&1 &
bg_in "$NS_C" "$PY" "$T_TMP/udpsrv.py" "$C4:5353"
bg_in "$NS_H" "$PY" "$T_TMP/udpsrv.py" "$H4:5353"
# shellcheck disable=SC2016  # eval expands it
check "listeners: host 22 and 2222, client 8080" \
    eval 'wait_listen "$NS_H" tcp 22 && wait_listen "$NS_H" tcp 2222 &&
	wait_listen "$NS_C" tcp 8080'
wait_listen "$NS_C" udp 5353
wait_listen "$NS_H" udp 5353

# ---- before nfqspid: two SSH-like sessions, nothing diverted yet ------------
for m in host-first client-first; do
	mkdir -p "$T_TMP/$m"
	in_c timeout 120 "$PY" "$T_TMP/linecli.py" "$H4" 22 "$m" "$T_TMP/$m" \
	    >"$T_TMP/$m.out" 2>&1 &
	eval "pid_${m%%-*}=\$!"
done
# shellcheck disable=SC2016  # eval expands it
check "sessions open before nfqspid runs" \
    wait_for 100 eval 'test -e "$T_TMP/host-first/ready" &&
	test -e "$T_TMP/client-first/ready"'

# ---- divert INPUT and OUTPUT, loopback excepted; no --queue-bypass ----------
for ipt in "$IPT" "$IP6T"; do
	# shellcheck disable=SC2015  # the || is the whole chain's error path
	in_h "$ipt" -A INPUT ! -i lo -j NFQUEUE --queue-num "$T_QUEUE" &&
	    in_h "$ipt" -A OUTPUT ! -o lo -j NFQUEUE --queue-num "$T_QUEUE" ||
	    { echo "cannot divert INPUT and OUTPUT" >&2; exit 1; }
done
lib_must_start "nfqspid starts on the shipped configuration and binds queue $T_QUEUE" "$@"

# ---- the sessions opened before carry on, both ways --------------------------
: >"$T_TMP/push"
: >"$T_TMP/host-first/go"
: >"$T_TMP/client-first/go"
# shellcheck disable=SC2154  # set by the eval above
wait "$pid_host"
check "an SSH session open before start, host speaking first after it: $(cat "$T_TMP/host-first.out")" \
    grep -qx ok "$T_TMP/host-first.out"
# shellcheck disable=SC2154
wait "$pid_client"
check "an SSH session open before start, client speaking first after it: $(cat "$T_TMP/client-first.out")" \
    grep -qx ok "$T_TMP/client-first.out"

# ---- new connections to the host ---------------------------------------------
out=$(in_c timeout 30 "$PY" "$T_TMP/linecli.py" "$H4" 22 once)
check "client -> host port 22 (ssh-in): connects, 256 KiB both ways ($out)" \
    test "$out" = ok
out=$(in_c timeout 30 "$PY" "$T_TMP/linecli.py" "$H6" 22 once)
check "client -> host port 22 over IPv6: connects, 256 KiB both ways ($out)" \
    test "$out" = ok
check "client -> host port 2222 (no rule, a listener there): no connection" \
    not in_c timeout 10 nc -z -w 3 "$H4" 2222
check "client -> host port 2222 over IPv6: no connection" \
    not in_c timeout 10 nc -z -w 3 "$H6" 2222
check "client -> host UDP 5353 (no rule): no answer" \
    not in_c "$PY" "$T_TMP/udpcli.py" "$H4" 5353 probe 2
check "ping client -> host" quiet in_c ping -c 2 -W 2 -q "$H4"
check "ping6 client -> host (neighbour discovery through the queue)" \
    quiet in_c ping -6 -c 2 -W 2 -q "$H6"

# ---- what the host opens itself (host-out) -----------------------------------
out=$(in_h timeout 30 "$PY" "$T_TMP/linecli.py" "$C4" 8080 once)
check "host -> client port 8080 (host-out): connects, replies come back ($out)" \
    test "$out" = ok
out=$(in_h timeout 30 "$PY" "$T_TMP/linecli.py" "$C6" 8080 once)
check "host -> client port 8080 over IPv6 ($out)" test "$out" = ok
out=$(in_h "$PY" "$T_TMP/udpcli.py" "$C4" 5353 query 3)
check "host -> client UDP 5353 (a DNS-like query): answered ($out)" \
    test "$out" = "pong:query"

# ---- loopback is not diverted --------------------------------------------------
out=$(in_h timeout 30 "$PY" "$T_TMP/linecli.py" 127.0.0.1 2222 once)
check "host -> 127.0.0.1 port 2222, which no rule allows: untouched ($out)" \
    test "$out" = ok
out=$(in_h timeout 30 "$PY" "$T_TMP/linecli.py" ::1 2222 once)
check "host -> ::1 port 2222: untouched ($out)" test "$out" = ok

# ---- what nfqspid saw ------------------------------------------------------------
ct=$(lib_ctl conntrack)
lib_show conntrack <<<"$ct"
check "conntrack: the host's own connection to the client, original direction from the host" \
    grep -Eq "^ipv4 +2 tcp +6 [0-9]+ [A-Z_]+ src=$H4 dst=$C4 sport=[0-9]+ dport=8080 " <<<"$ct"
check "conntrack: a connection to port 22" \
    grep -Eq " dst=$H4 sport=[0-9]+ dport=22 " <<<"$ct"
check "conntrack: nothing on loopback" \
    not grep -Eq "src=(127\.0\.0\.1|::1) " <<<"$ct"
rules=$(lib_ctl rules)
check "nfqspictl rules: host-out shows chain=output and decided packets" \
    grep -Eq "^ +[1-9][0-9]* +[1-9][0-9]* +1 +host-out +accept +any +NEW +any +any +chain=output$" <<<"$rules"
check "no packet was INVALID (the host's replies were seen)" \
    log_lacks "state=INVALID"

# ---- stopped: no --queue-bypass, so the host is closed --------------------------
lib_finish
check "without nfqspid nothing reaches the host (fail-closed diversion)" \
    not quiet in_c ping -c 1 -W 1 -q "$H4"

lib_summary
