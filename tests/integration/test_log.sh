#!/bin/bash
# test_log.sh - audit records and lifecycle records in syslog, and a
# syslog that stops reading: nfqspid runs with a private /dev (a mount
# namespace) whose /dev/log is a datagram socket this test holds.  While
# the reader runs, its lines are checked (facility, the key=value record,
# the rate's "suppressed N" summary, start, reload ok and rejected, table
# full, stop); then it is stopped (SIGSTOP) under a flood of audited
# connections, and packets must keep flowing and nfqspictl keep answering.
# Then a start without -f: its lines in syslog, none on the terminal.
# Last, a start as the unit makes it (-f, stderr the journal,
# $JOURNAL_STREAM): each warning of the file once in the journal, on the
# stream; an error that stops a start is on the stream too; nfqspid -n
# prints every warning there as anywhere.
#
# Copyright (C) 2026 The nfqspid authors
# SPDX-License-Identifier: GPL-2.0-or-later
# shellcheck disable=SC2317  # functions run through check and wait_for
set -u

T_NET=${T_NET:-94}
T_QUEUE=${T_QUEUE:-11}
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"

lib_init log
command -v unshare >/dev/null || skip "unshare (util-linux) not installed"
lib_topology
lib_write_helpers

# ---- the syslog reader ---------------------------------------------------------------
DEV=$T_TMP/dev
SYSLOG=$T_TMP/syslog.txt
mkdir -p "$DEV"
: >"$DEV/null"
: >"$SYSLOG"
cat >"$T_TMP/devlog.py" <<'EOF'
import os, socket, sys
path, out = sys.argv[1], sys.argv[2]
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(path)
os.chmod(path, 0o666)
with open(out, "ab", buffering=0) as f:
    while True:
        f.write(s.recv(4096) + b"\n")
EOF
# in dut, so that the clean-up ends it; ip netns exec execs: $! is python
ip netns exec "$NS_D" "$PY" "$T_TMP/devlog.py" "$DEV/log" "$SYSLOG" &
READER=$!
wait_for 30 test -S "$DEV/log" || { echo "the syslog reader did not start" >&2; exit 1; }

# nfqspid in a mount namespace of its own where /dev is $DEV (with the
# real /dev/null): every exec keeps the pid, so $! is nfqspid.
# shellcheck disable=SC2016  # sh -c expands it
T_DWRAP=(unshare -m --propagation private sh -c '
	mount --bind /dev/null "$1/null" &&
	mount --rbind "$1" /dev && shift && exec "$@"' sh "$DEV")

# syslog_has ERE: the reader got a matching line (waits up to 3 s)
syslog_has() { wait_for 30 grep -Eq -- "$1" "$SYSLOG"; }

conf()
{
	local rate=$1 max=$2
	lib_config <<EOF
[conntrack]
max = $max
source_share = 0

[log]
facility = local3
rate = $rate

[rule udp-log]
proto = udp
dport = 5353
action = accept
log = yes

[rule ping]
proto = icmp
icmp_type = echo-request
action = accept

[rule udp-marked]
proto = udp
dport = 5354
action = accept
mark = 0x40
rate = 1/s
EOF
	# lib_config's [log] comes first: ours replaces it
	"$PY" - "$T_CONF" <<'EOF'
import sys
p = sys.argv[1]
t = open(p).read().replace("[log]\nrate = 1000\ninvalid = yes\n", "", 1)
open(p, "w").write(t)
EOF
}

# flood N: N UDP flows (new source ports) to the responder; prints how
# many were answered.
cat >"$T_TMP/flood.py" <<'EOF'
import select, socket, sys, time
host, port, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
got = 0
for base in range(0, n, 200):
    socks = []
    for i in range(base, min(n, base + 200)):
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.setblocking(False)
        s.sendto(b"flood", (host, port))
        socks.append(s)
    left, end = set(socks), time.time() + 3
    while left and time.time() < end:
        r, _, _ = select.select(list(left), [], [], 0.2)
        for s in r:
            try:
                s.recv(100)
                got += 1
            except OSError:
                pass
            left.discard(s)
    for s in socks:
        s.close()
print(got)
EOF

conf 5 64
lib_start "nfqspid starts with a private /dev/log"
pid=$T_DPID
bg_in "$NS_S" "$PY" "$T_TMP/udpsrv.py" "$S4:5353"
wait_listen "$NS_S" udp 5353 || fail "UDP responder listens"

# ---- what syslog gets -----------------------------------------------------------------
# local3 (19) * 8: notice 5 -> 157, info 6 -> 158, warning 4 -> 156,
# err 3 -> 155
check "start: version, queues, threads, rules count, at local3.info" \
    syslog_has "^<158>[A-Z][a-z]{2} [ 0-9]{2} [0-9:]{8} nfqspid\[$pid\]: nfqspid [0-9.]+ started: queue $T_QUEUE threads 1 rules 3 mode enforce$"
reply=$(in_c "$PY" "$T_TMP/udpcli.py" "$S4" 5353 hello 3)
check "an audited UDP exchange" test "$reply" = "pong:hello"
check "the audit record: local3.notice, key=value, as the contract" \
    syslog_has "^<157>.* nfqspid\[$pid\]: action=accept state=NEW rule=udp-log proto=udp src=$C4 sport=[0-9]+ dst=$S4 dport=5353 in=d0 out=d1 len=[0-9]+ mark=0x0$"
# three flows at once over a rate of 1: what it refuses has no mark
in_c "$PY" -c 'import socket, sys
for i in range(3):
    socket.socket(socket.AF_INET, socket.SOCK_DGRAM).sendto(b"m", (sys.argv[1], 5354))' "$S4"
check "a packet the rule's rate drops is audited without the rule's mark" \
    syslog_has "^<157>.* nfqspid\[$pid\]: action=drop state=NEW rule=udp-marked limit=rate proto=udp src=$C4 sport=[0-9]+ dst=$S4 dport=5354 in=d0 out=d1 len=[0-9]+ mark=0x0$"
check "no audit record gives a dropped packet a mark" \
    not grep -Eq "action=drop .* mark=0x40" "$SYSLOG"
n=$(in_c "$PY" "$T_TMP/flood.py" "$S4" 5353 300)
check "300 flows over a rate of 5 a second: as many answered as the table of 64 holds ($n)" \
    test "$n" -ge 60
check "the rest of the records summarised as suppressed N" \
    syslog_has "^<157>.* suppressed [0-9]+ audit records over the rate of 5 a second \(worker 0\)$"
audits=$(grep -c 'rule=udp-log' "$SYSLOG")
check "at most burst + rate x time records got through ($audits)" test "$audits" -le 40
check "table full (max 64): said, with the count" \
    syslog_has "^<155>.* worker 0: connection table full \([0-9]+ of 64\): [0-9]+ (connections evicted for new ones|new connections refused)"
printf '\n[rule broken]\nproto = tcp\ndport = 22-\naction = accept\n' >>"$T_CONF"
lib_ctl reload >/dev/null 2>&1
check "reload rejected: why, and that the running rules stay" \
    syslog_has "^<155>.* reload failed, keeping the running configuration: .*\[rule broken\] dport: \"22-\" is not a port or port range \(line [0-9]*\)$"
conf 0 65536
lib_ctl reload >/dev/null 2>&1
check "reload ok: rules count and mode" \
    syslog_has "^<158>.* reloaded $T_CONF: rules 3 mode enforce$"

# ---- a syslog that stops reading ------------------------------------------------------
kill -STOP "$READER"
sleep 0.3
before=$(wc -l <"$SYSLOG")
in_c "$PY" "$T_TMP/flood.py" "$S4" 5353 3000 >"$T_TMP/flood.out" &
flood=$!
sleep 1
t0=$(date +%s%N)
quiet lib_ctl status
rc=$?
t1=$(date +%s%N)
check "syslog stopped, a flood audited without limit: nfqspictl answers ($(( (t1 - t0) / 1000000 )) ms)" \
    test "$rc" -eq 0 -a $(( (t1 - t0) / 1000000 )) -lt 2000
check "syslog stopped: ping crosses" quiet in_c ping -q -c 3 -i 0.2 -W 1 "$S4"
wait "$flood"
n=$(cat "$T_TMP/flood.out")
check "syslog stopped: 3000 audited flows answered ($n)" test "$n" -ge 2900
audited=$(lib_ctl -j stats | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["total"]["audited"])')
# (a source port the client reuses within 30 s is the same flow: not NEW)
check "they were audited ($audited records written or dropped)" test "$audited" -ge 2500
check "syslog stopped: the reader got nothing meanwhile" \
    test "$(wc -l <"$SYSLOG")" -eq "$before"
kill -CONT "$READER"
# The count goes out with the first record the socket takes again.  A
# reader slow to drain its backlog (a loaded machine) can refuse the
# first reload's record and the count with it; each reload logs again.
dropped_noted()
{
	grep -Eq "^<156>.* log: [0-9]+ records dropped, syslog was busy$" \
	    "$SYSLOG"
}
for _ in 1 2 3 4 5 6 7 8 9 10; do
	lib_ctl reload >/dev/null 2>&1
	wait_for 20 dropped_noted && break
done
check "syslog back: the records dropped meanwhile are counted" dropped_noted
check "syslog back: records flow again" syslog_has "reloaded $T_CONF"

# ---- health ------------------------------------------------------------------------
lib_finish
check "stop: said in syslog" syslog_has "^<158>.* nfqspid [0-9.]+ stopped$"

# ---- a detached start --------------------------------------------------------------
# Without -f, the starter's terminal gets only warnings and errors (this
# file has none); the start's lines go to syslog all the same.
started() { grep -Ec "^<158>.* nfqspid [0-9.]+ started: " "$SYSLOG"; }
# (a function: wait_for must count again at each try)
started_since() { test "$(started)" -gt "$1"; }
n0=$(started)
in_d "${T_DWRAP[@]}" "$NFQSPID" -c "$T_CONF" >"$T_TMP/detach.out" 2>"$T_TMP/detach.err"
rc=$?
check "without -f: the parent exits 0 (got $rc)" test "$rc" -eq 0
check "without -f: the start is said in syslog" wait_for 30 started_since "$n0"
check "without -f: not on the terminal ($(head -c 200 "$T_TMP/detach.err"))" \
    test ! -s "$T_TMP/detach.err" -a ! -s "$T_TMP/detach.out"
dpid=$(cat "$T_TMP/nfqspid.pid" 2>/dev/null)
if [ -n "$dpid" ] && kill -TERM "$dpid" 2>/dev/null; then
	check "without -f: SIGTERM ends it" \
	    wait_for $((50 * T_SLOW)) not quiet kill -0 "$dpid"
else
	fail "without -f: SIGTERM ends it"
fi

# ---- as the unit starts it: stderr is the journal ------------------------------------
# nfqspid -f (Type=notify), stderr on the journal's stream
# ($JOURNAL_STREAM names it), where syslog's lines land too: each
# warning of the file once in all, and that one on the stream, which
# ties it to the unit even for a process that ends at once.  nfqspid -n,
# no longer in the unit, prints every warning wherever its stderr is.
cat >>"$T_CONF" <<EOF

[rule never6]
proto = icmpv6
src = 10.$T_NET.1.0/24
action = accept
EOF
JOURNAL=$T_TMP/journal.txt
: >"$JOURNAL"
js=$(stat -c %d:%i "$JOURNAL")
never6() { cat "$JOURNAL" "$SYSLOG" | grep -c "\\[rule never6\\]"; }
JOURNAL_STREAM=$js in_d "$NFQSPID" -n -c "$T_CONF" >"$T_TMP/check.out" 2>&1
rc=$?
check "under the journal: nfqspid -n passes (got $rc)" test "$rc" -eq 0
check "under the journal: nfqspid -n prints the warning itself" \
    grep -q "^nfqspid: warning: .*\\[rule never6\\]" "$T_TMP/check.out"
n0=$(never6)
n1=$(started)
# ip netns exec, unshare and sh exec: $! is nfqspid
JOURNAL_STREAM=$js ip netns exec "$NS_D" "${T_DWRAP[@]}" "$NFQSPID" -f \
    -c "$T_CONF" >>"$JOURNAL" 2>&1 &
dpid=$!
check "unit: the start is said in syslog" \
    wait_for $((50 * T_SLOW)) started_since "$n1"
check "unit: the warning on the journal's stream" \
    grep -q "^warning: .*\\[rule never6\\]" "$JOURNAL"
check "unit: each warning once in the journal ($(($(never6) - n0)) times)" \
    test "$(($(never6) - n0))" -eq 1
check "unit: nothing else on the journal's stream ($(grep -v "^warning: .*\\[rule never6\\]" "$JOURNAL" | head -c 200))" \
    not grep -qv "^warning: .*\\[rule never6\\]" "$JOURNAL"
if kill -TERM "$dpid" 2>/dev/null; then
	wait "$dpid"
	rc=$?
	check "unit: SIGTERM ends it with 0 (got $rc)" test "$rc" -eq 0
else
	fail "unit: SIGTERM ends it"
fi
check "unit: its stop is not on the stream" not grep -q "stopped" "$JOURNAL"
# an error that stops a start: on the stream once, not in syslog too
cp "$T_CONF" "$T_TMP/bad.ini"
printf '\n[rule broken]\nproto = tcp\ndport = 22-\naction = accept\n' \
    >>"$T_TMP/bad.ini"
: >"$JOURNAL"
js=$(stat -c %d:%i "$JOURNAL")
broken() { grep -c "\\[rule broken\\] dport" "$1"; }
b0=$(broken "$SYSLOG")
JOURNAL_STREAM=$js in_d "${T_DWRAP[@]}" "$NFQSPID" -f -c "$T_TMP/bad.ini" >>"$JOURNAL" 2>&1
rc=$?
check "unit: a bad file stops the start with exit 2 (got $rc)" test "$rc" -eq 2
check "unit: its error on the journal's stream, once ($(head -c 200 "$JOURNAL"))" \
    test "$(broken "$JOURNAL")" -eq 1
# a datagram of it would be in by the time the reader has a later start's
n2=$(started)
ip netns exec "$NS_D" "${T_DWRAP[@]}" "$NFQSPID" -f -c "$T_CONF" \
    >/dev/null 2>&1 &
check "unit: (a start after it is said in syslog)" \
    wait_for $((50 * T_SLOW)) started_since "$n2"
kill -TERM $! 2>/dev/null
wait $! 2>/dev/null
check "unit: ... and the error not in syslog as well" \
    test "$(broken "$SYSLOG")" -eq "$b0"
kill "$READER" 2>/dev/null
wait "$READER" 2>/dev/null
lib_summary
