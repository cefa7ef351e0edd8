#!/bin/bash
# soak.sh - `make soak`, not part of make check: nfqspid under mixed
# traffic with churn for SOAK_SECONDS (default 1800, 30 minutes):
#  - short TCP connections opened and closed all the time (echo, random
#    sizes), a few long ones that live for minutes, UDP request/answer
#    from ever new source ports, pings, SYNs to a denied port and
#    malformed segments (XMAS) that end INVALID;
#  - every minute: the daemon is alive, the table within max, RSS and
#    the table's size printed;
# afterwards, with short timeouts in the configuration:
#  - the table drains to 0 once the timeouts have passed;
#  - RSS is within 10% of the warm baseline (taken after the first
#    SOAK_WARM seconds, default 120 or a tenth of the run if shorter);
#  - every packet received got a verdict, no sanitizer report.
#
# Copyright (C) 2026 The nfqspid authors
# SPDX-License-Identifier: GPL-2.0-or-later
set -u

T_NET=${T_NET:-89}
T_QUEUE=${T_QUEUE:-19}
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"

SOAK_SECONDS=${SOAK_SECONDS:-1800}
if [ -z "${SOAK_WARM:-}" ]; then
	SOAK_WARM=120
	[ "$SOAK_SECONDS" -lt 1200 ] && SOAK_WARM=$((SOAK_SECONDS / 10))
fi
[ "$SOAK_WARM" -ge 5 ] || SOAK_WARM=5

lib_init soak
lib_topology
lib_write_helpers

# Timeouts short enough that the table drains within a minute after the
# traffic stops; established long enough that the long connections
# (idle at most 5 s) stay.
lib_config <<EOF
[conntrack]
max = 20000
timeout_tcp_syn_sent = 5
timeout_tcp_syn_recv = 5
timeout_tcp_established = 30
timeout_tcp_fin_wait = 5
timeout_tcp_close_wait = 5
timeout_tcp_last_ack = 5
timeout_tcp_time_wait = 5
timeout_tcp_close = 5
timeout_tcp_syn_sent2 = 5
timeout_tcp_max_retrans = 10
timeout_tcp_unacknowledged = 10
timeout_udp = 5
timeout_udp_stream = 10
timeout_icmp = 5
timeout_icmpv6 = 5
timeout_generic = 10

$(lib_policy)

[rule echo]
proto = tcp
dport = 7000
action = accept

[rule udp-echo]
proto = udp
dport = 7001
action = accept

[rule ping]
proto = icmp
action = accept

[rule ping6]
proto = icmpv6
action = accept

[rule denied]
proto = tcp
dport = 7002
action = drop
log = yes
EOF

# TCP and UDP echo servers in one process (threads), both families.
cat >"$T_TMP/echosrv.py" <<'EOF'
import socket, socketserver, sys, threading
class T(socketserver.BaseRequestHandler):
    def handle(self):
        try:
            while True:
                d = self.request.recv(65536)
                if not d:
                    return
                self.request.sendall(d)
        except OSError:
            return
class U(socketserver.BaseRequestHandler):
    def handle(self):
        data, s = self.request
        s.sendto(data, self.client_address)
class T4(socketserver.ThreadingTCPServer):
    allow_reuse_address = True
    daemon_threads = True
    request_queue_size = 256
class T6(T4):
    address_family = socket.AF_INET6
class U4(socketserver.UDPServer):
    allow_reuse_address = True
class U6(U4):
    address_family = socket.AF_INET6
a4, a6 = sys.argv[1], sys.argv[2]
srv = [T4((a4, 7000), T), T6((a6, 7000), T), U4((a4, 7001), U),
       U6((a6, 7001), U)]
for s in srv[1:]:
    threading.Thread(target=s.serve_forever, daemon=True).start()
srv[0].serve_forever()
EOF

# The churn: N threads for SECONDS; prints the counts at the end.
cat >"$T_TMP/churn.py" <<'EOF'
import os, random, socket, sys, threading, time
s4, s6, secs = sys.argv[1], sys.argv[2], float(sys.argv[3])
end = time.time() + secs
lock = threading.Lock()
n = {"tcp": 0, "tcp_err": 0, "udp": 0, "udp_err": 0, "long": 0,
     "long_err": 0, "denied": 0}
def count(k):
    with lock:
        n[k] += 1
def addr():
    return (s6, socket.AF_INET6) if random.random() < 0.3 else \
        (s4, socket.AF_INET)
def short_tcp():
    while time.time() < end:
        a, fam = addr()
        try:
            with socket.socket(fam, socket.SOCK_STREAM) as s:
                s.settimeout(5)
                s.connect((a, 7000))
                msg = os.urandom(random.choice((1, 100, 1400, 20000)))
                s.sendall(msg)
                got = b""
                while len(got) < len(msg):
                    d = s.recv(65536)
                    if not d:
                        break
                    got += d
                count("tcp" if got == msg else "tcp_err")
        except OSError:
            count("tcp_err")
        time.sleep(random.random() * 0.05)
def long_tcp():
    while time.time() < end:
        a, fam = addr()
        life = time.time() + random.uniform(20, 180)
        try:
            with socket.socket(fam, socket.SOCK_STREAM) as s:
                s.settimeout(10)
                s.connect((a, 7000))
                while time.time() < min(life, end):
                    msg = os.urandom(random.randint(1, 8000))
                    s.sendall(msg)
                    got = b""
                    while len(got) < len(msg):
                        d = s.recv(65536)
                        if not d:
                            raise OSError("closed")
                        got += d
                    if got != msg:
                        raise OSError("corrupt")
                    time.sleep(random.uniform(0.1, 5))
            count("long")
        except OSError:
            count("long_err")
def udp():
    while time.time() < end:
        a, fam = addr()
        try:
            with socket.socket(fam, socket.SOCK_DGRAM) as s:
                s.settimeout(2)
                msg = os.urandom(random.randint(1, 1200))
                s.sendto(msg, (a, 7001))
                d, _ = s.recvfrom(65536)
                count("udp" if d == msg else "udp_err")
        except OSError:
            count("udp_err")
        time.sleep(random.random() * 0.02)
def denied():
    while time.time() < end:
        a, fam = addr()
        with socket.socket(fam, socket.SOCK_STREAM) as s:
            s.setblocking(False)
            try:
                s.connect((a, 7002))
            except OSError:
                pass
            count("denied")
            time.sleep(0.2)
th = [threading.Thread(target=f) for f in
      [short_tcp] * 4 + [long_tcp] * 8 + [udp] * 3 + [denied]]
for t in th:
    t.start()
for t in th:
    t.join()
print(" ".join("%s=%d" % kv for kv in sorted(n.items())))
EOF

check "nfqspid -n accepts the soak configuration" "$NFQSPID" -n -c "$T_CONF"
lib_start "nfqspid starts" "$@"

bg_in "$NS_S" "$PY" "$T_TMP/echosrv.py" "$S4" "$S6"
wait_listen "$NS_S" tcp 7000 || fail "the echo server listens"

rss() { awk '/^VmRSS:/ { print $2 }' "/proc/$T_DPID/status" 2>/dev/null; }
ctcount() { lib_ctl conntrack count 2>/dev/null | tr -dc 0-9; }


echo "soak: $SOAK_SECONDS s of traffic, warm baseline after $SOAK_WARM s"
in_c "$PY" "$T_TMP/churn.py" "$S4" "$S6" "$SOAK_SECONDS" \
    >"$T_TMP/churn.out" 2>&1 &
churn=$!
# A ping and an XMAS now and then, from the shell.
(
	end=$((SECONDS + SOAK_SECONDS))
	while [ "$SECONDS" -lt "$end" ]; do
		in_c ping -c 3 -i 0.2 -W 1 "$S4" >/dev/null 2>&1
		in_c ping -6 -c 3 -i 0.2 -W 1 "$S6" >/dev/null 2>&1
		in_c "$PY" "$T_TMP/tcpraw.py" "$S4" "$((RANDOM + 1024)):7000:0x29" \
		    >/dev/null 2>&1
		sleep 2
	done
) &
pinger=$!

start=$SECONDS
base=''
maxct=0
maxrss=0
alive=1
while kill -0 "$churn" 2>/dev/null; do
	sleep 10
	el=$((SECONDS - start))
	if ! lib_daemon_alive; then
		alive=0
		break
	fi
	r=$(rss)
	c=$(ctcount)
	[ -n "$c" ] && [ "$c" -gt "$maxct" ] && maxct=$c
	if [ -z "$base" ] && [ "$el" -ge "$SOAK_WARM" ]; then
		base=$r
		echo "soak: warm baseline RSS $base kB at ${el}s (table $c)"
	fi
	[ -n "$base" ] && [ -n "$r" ] && [ "$r" -gt "$maxrss" ] && maxrss=$r
	if [ $((el % 60)) -lt 10 ]; then
		echo "soak: ${el}s RSS ${r:-?} kB table ${c:-?} received $(lib_stat received)"
	fi
done
wait "$churn"
kill "$pinger" 2>/dev/null
wait "$pinger" 2>/dev/null
echo "soak: traffic: $(cat "$T_TMP/churn.out")"
check "nfqspid stayed up through the soak" test "$alive" -eq 1
check "the table never exceeded its max of 20000 (largest seen: $maxct)" \
    test "$maxct" -le 20000
# shellcheck disable=SC2046  # six numbers, split on purpose
set -- $(tr ' ' '\n' <"$T_TMP/churn.out" | awk -F= '
	$1 == "tcp" { t = $2 } $1 == "tcp_err" { te = $2 }
	$1 == "udp" { u = $2 } $1 == "udp_err" { ue = $2 }
	$1 == "long" { l = $2 } $1 == "long_err" { le = $2 }
	END { print t + 0, te + 0, u + 0, ue + 0, l + 0, le + 0 }')
# A connection may fail for reasons of the machine (a 2-core box under
# load); the firewall must not be one of many.  Allow 0.5%.
check "short TCP connections succeed (ok $1, failed $2)" \
    test "$1" -gt 0 -a $(($2 * 200)) -le "$1"
check "UDP exchanges succeed (ok $3, failed $4)" \
    test "$3" -gt 0 -a $(($4 * 200)) -le "$3"
check "long TCP connections live to their end (ok $5, failed $6)" \
    test "$5" -gt 0 -a "$6" -le $(($5 / 50 + 1))

# Drain: every timeout above is 30 s at most.
drained=''
for _ in $(seq 1 120); do
	c=$(ctcount)
	if [ "$c" = 0 ]; then
		drained=$((SECONDS - start - SOAK_SECONDS))
		break
	fi
	sleep 1
done
check "the table drains to 0 after the traffic stops (in ${drained:-never} s; now $(ctcount))" \
    test -n "$drained"
r=$(rss)
echo "soak: RSS warm $base kB, highest during the run $maxrss kB, after the drain $r kB"
check "RSS after the soak within 10% of the warm baseline ($r kB vs $base kB)" \
    test -n "$base" -a -n "$r" -a $((r * 100)) -le $((base * 110))
rcv=$(lib_stat received)
ver=$(( $(lib_stat accepted) + $(lib_stat dropped) ))
echo "soak: received $rcv, verdicts $ver, invalid $(lib_stat invalid), early drops $(lib_stat early_drops)"
check "every packet received got a verdict ($rcv received, $ver verdicts)" \
    test "$rcv" -gt 0 -a "$rcv" = "$ver"
check "the denied port's SYNs were audited" \
    log_has "action=drop state=NEW rule=denied "
lib_finish
lib_summary
