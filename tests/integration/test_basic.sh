#!/bin/bash
# test_basic.sh - nfqspid deciding real forwarded packets end to end:
# allowed TCP carries data both ways, forbidden TCP does not connect,
# XMAS and NULL scans are dropped as INVALID and audited, UDP
# request/reply and ICMP echo work, marks reach the kernel, SIGHUP loads a
# good file and keeps the running rules on a bad one, SIGTERM exits 0.
# Without -f, the parent exits 0 once the daemon runs, with the child's
# status when it fails, and closes what it holds before it leaves.
#
# Copyright (C) 2026 The nfqspid authors
# SPDX-License-Identifier: GPL-2.0-or-later
# shellcheck disable=SC2317  # functions run through check and wait_for
set -u

# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"

lib_init basic
lib_topology
lib_write_helpers

lib_config <<EOF
[conntrack]
max = 4096

$(lib_policy)

[rule tcp-5001]
state = new
proto = tcp
src = 10.$T_NET.1.0/24, fd00:$T_NET:1::/64
dport = 5001
action = accept
mark = 0x10
log = yes

[rule tcp-5002-deny]
proto = tcp
dport = 5002
action = drop
log = yes

[rule udp-5353]
proto = udp
dport = 5353
action = accept

[rule ping]
proto = icmp
src = 10.$T_NET.1.0/24
icmp_type = echo-request
action = accept

[rule ping6]
proto = icmpv6
icmp_type = echo-request
action = accept
EOF

nout=$("$NFQSPID" -n -c "$T_CONF" 2>&1)
check "nfqspid -n accepts the test configuration, without a warning" \
    test "$nout" = "configuration OK"
# nfqspid_n_warns FILE WANT MSG: nfqspid -n over FILE exits 0 with the
# warnings WANT, then "configuration OK"
nfqspid_n_warns()
{
	local out rc

	out=$("$NFQSPID" -n -c "$1" 2>&1)
	rc=$?
	echo "  nfqspid -n: $out (status $rc)"
	check "$3" test "$rc:$out" = "0:$2
configuration OK"
}
# A valid rule no packet can match (an IPv6 dst with proto = icmp): a
# warning naming it and its line, and still OK.
{
	cat "$T_CONF"
	printf '\n[rule never]\nproto = icmp\ndst = fd00:%s:2::/64\n' "$T_NET"
	echo "action = accept"
} >"$T_TMP/never.ini"
nline=$(($(wc -l <"$T_CONF") + 4))
nwant="nfqspid: warning: $T_TMP/never.ini: [rule never] dst: only IPv6"
nwant+=" addresses, but proto = icmp is IPv4's: the rule never matches"
nwant+=" (line $nline)"
nfqspid_n_warns "$T_TMP/never.ini" "$nwant" \
    "nfqspid -n warns of a rule that never matches, and exits 0"
# A rule an earlier one shadows (tcp-5002-deny drops all of port 5002):
# a warning naming both, each with its section's line.
{
	cat "$T_CONF"
	printf '\n[rule deny-lan]\nproto = tcp\nsrc = 10.%s.1.0/24\n' "$T_NET"
	printf 'dport = 5002\naction = reject\n'
} >"$T_TMP/shadow.ini"
sline=$(($(wc -l <"$T_CONF") + 2))
aline=$(grep -n '^\[rule tcp-5002-deny\]$' "$T_CONF" | cut -d: -f1)
nwant="nfqspid: warning: $T_TMP/shadow.ini: [rule deny-lan]: every packet"
nwant+=" it matches is decided first by [rule tcp-5002-deny] at line"
nwant+=" $aline: the rule never decides one (line $sline)"
nfqspid_n_warns "$T_TMP/shadow.ini" "$nwant" \
    "nfqspid -n warns of a shadowed rule, naming both, and exits 0"
# A rule shadowed by one that is shadowed itself (web by web-lo and
# web-hi together): its warning names the rules that decide, not the
# one between.
{
	cat "$T_CONF"
	printf '\n[rule web-lo]\nproto = tcp\ndport = 6001-6050\n'
	printf 'action = drop\n[rule web-hi]\nproto = tcp\n'
	printf 'dport = 6051-6100\naction = drop\n[rule web]\nproto = tcp\n'
	printf 'dport = 6020-6080\naction = accept\n[rule web-lan]\n'
	printf 'proto = tcp\nsrc = 10.%s.1.0/24\ndport = 6040-6060\n' "$T_NET"
	printf 'action = accept\n'
} >"$T_TMP/deep.ini"
wline=$(($(wc -l <"$T_CONF") + 2))
nby="[rule web-lo] at line $wline or [rule web-hi] at line $((wline + 4))"
nwant="nfqspid: warning: $T_TMP/deep.ini: [rule web]: every packet it"
nwant+=" matches is decided first by $nby: the rule never decides one"
nwant+=" (line $((wline + 8)))
nfqspid: warning: $T_TMP/deep.ini: [rule web-lan]: every packet it"
nwant+=" matches is decided first by $nby: the rule never decides one"
nwant+=" (line $((wline + 12)))"
nfqspid_n_warns "$T_TMP/deep.ini" "$nwant" \
    "nfqspid -n names the rules that decide, not a shadowed one"
# A mark on a rule that drops: no packet it decides passes to carry
# it (but in monitor mode): a warning at the mark's line, and still OK.
{
	cat "$T_CONF"
	printf '\n[rule drop-marked]\nproto = tcp\ndport = 5003\n'
	printf 'action = drop\nmark = 0x20\n'
} >"$T_TMP/markdrop.ini"
mline=$(($(wc -l <"$T_CONF") + 6))
nwant="nfqspid: warning: $T_TMP/markdrop.ini: [rule drop-marked] mark:"
nwant+=" action = drop lets no packet through: the mark never acts (it"
nwant+=" would in mode = monitor) (line $mline)"
nfqspid_n_warns "$T_TMP/markdrop.ini" "$nwant" \
    "nfqspid -n warns of a mark on a rule that drops, and exits 0"
lib_start "nfqspid starts, binds queue $T_QUEUE and opens its control socket" "$@"

# Counters: what dut lets out marked, what the server sees arrive.
lib_mark_counters 5001 0x10
counter_add "$NS_S" "$IPT" filter INPUT syn-5002 -p tcp --dport 5002 --syn
counter_add "$NS_S" "$IPT" filter INPUT syn-5003 -p tcp --dport 5003 --syn
counter_add "$NS_S" "$IPT" filter INPUT xmas \
    -p tcp --dport 5001 --tcp-flags ALL FIN,PSH,URG
counter_add "$NS_S" "$IPT" filter INPUT null \
    -p tcp --dport 5001 --tcp-flags ALL NONE
counter_add "$NS_S" "$IPT" filter INPUT syn-control \
    -p tcp --sport 40003 --dport 5001 --tcp-flags ALL SYN
counter_add "$NS_S" "$IP6T" filter INPUT xmas6 \
    -p tcp --dport 5001 --tcp-flags ALL FIN,PSH,URG
counter_add "$NS_S" "$IP6T" filter INPUT null6 \
    -p tcp --dport 5001 --tcp-flags ALL NONE
counter_add "$NS_S" "$IP6T" filter INPUT syn-control6 \
    -p tcp --sport 40013 --dport 5001 --tcp-flags ALL SYN

# ---- allowed TCP, both directions --------------------------------------------
tcp_transfer tcp4 "$S4" 5001
check "audit: the accepted connection is logged with its rule and mark" \
    log_has "action=accept state=NEW rule=tcp-5001 (reason=- )?proto=tcp src=$C4 sport=[0-9]+ dst=$S4 dport=5001 in=d0 out=d1 len=[0-9]+ mark=0x10"
lib_marks_check "mark 0x10"

ctout=$(lib_ctl conntrack 2>&1)
lib_show conntrack <<<"$ctout"
check "nfqspictl conntrack lists the connection in the kernel's format" \
    grep -Eq "^ipv4 +2 tcp +6 [0-9]+ [A-Z_]+ src=$C4 dst=$S4 sport=[0-9]+ dport=5001 src=$S4 dst=$C4 sport=5001 dport=[0-9]+ .*mark=16 " <<<"$ctout"

tcp_transfer tcp6 "$S6" 5001

# ---- forbidden TCP -----------------------------------------------------------
# Listeners on both ports: a failure can only be the firewall's doing.
for p in 5002 5003; do
	bg_in "$NS_S" socat "TCP4-LISTEN:$p,bind=$S4,reuseaddr,fork" EXEC:cat
	wait_listen "$NS_S" tcp "$p" || fail "server listens on $p"
done
tcp_blocked "deny rule" "$S4" 5002
check "no SYN to port 5002 reached the server" \
    test "$(counter "$NS_S" "$IPT" filter INPUT syn-5002)" -eq 0
check "audit: the denied connection is logged as action=drop by its rule" \
    log_has "action=drop state=NEW rule=tcp-5002-deny .*proto=tcp src=$C4 sport=[0-9]+ dst=$S4 dport=5002 "
tcp_blocked "policy new=drop" "$S4" 5003
check "no SYN to port 5003 reached the server" \
    test "$(counter "$NS_S" "$IPT" filter INPUT syn-5003)" -eq 0

# ---- XMAS and NULL scans -----------------------------------------------------
# FIN|PSH|URG = 0x29; the SYN after them is the control: it is allowed, so
# once it has arrived the scans, queued before it, would have too.
in_c "$PY" "$T_TMP/tcpraw.py" "$S4" 40001:5001:0x29 40002:5001:0 40003:5001:0x02
check "control SYN sent by scapy reaches the server" \
    wait_for 50 counter_ge "$NS_S" "$IPT" filter INPUT syn-control 1
check "XMAS scan packet does not reach the server" \
    test "$(counter "$NS_S" "$IPT" filter INPUT xmas)" -eq 0
check "NULL scan packet does not reach the server" \
    test "$(counter "$NS_S" "$IPT" filter INPUT null)" -eq 0
check "audit: XMAS dropped as INVALID bad-tcp-flags" \
    log_has "action=drop state=INVALID rule=- reason=bad-tcp-flags proto=tcp src=$C4 sport=40001 dst=$S4 dport=5001 in=d0 out=d1 len=40 mark=0x0"
check "audit: NULL dropped as INVALID bad-tcp-flags" \
    log_has "action=drop state=INVALID rule=- reason=bad-tcp-flags proto=tcp src=$C4 sport=40002 dst=$S4 dport=5001 in=d0 out=d1 len=40 mark=0x0"

in_c "$PY" "$T_TMP/tcpraw.py" "$S6" 40011:5001:0x29 40012:5001:0 40013:5001:0x02
check "IPv6 control SYN sent by scapy reaches the server" \
    wait_for 50 counter_ge "$NS_S" "$IP6T" filter INPUT syn-control6 1
check "IPv6 XMAS scan packet does not reach the server" \
    test "$(counter "$NS_S" "$IP6T" filter INPUT xmas6)" -eq 0
check "IPv6 NULL scan packet does not reach the server" \
    test "$(counter "$NS_S" "$IP6T" filter INPUT null6)" -eq 0
check "audit: IPv6 XMAS dropped as INVALID bad-tcp-flags" \
    log_has "action=drop state=INVALID rule=- reason=bad-tcp-flags proto=tcp src=$C6 sport=40011 dst=$S6 dport=5001 "

# ---- UDP request/reply -------------------------------------------------------
bg_in "$NS_S" "$PY" "$T_TMP/udpsrv.py" "$S4:5353" "$S4:5354" "$S6:5353"
wait_listen "$NS_S" udp 5354 || fail "UDP responder listens"
tok=udp-$$-$RANDOM
reply=$(in_c "$PY" "$T_TMP/udpcli.py" "$S4" 5353 "$tok" 3)
check "UDP request to port 5353 gets its reply" test "$reply" = "pong:$tok"
reply=$(in_c "$PY" "$T_TMP/udpcli.py" "$S6" 5353 "$tok" 3)
check "IPv6 UDP request to port 5353 gets its reply" test "$reply" = "pong:$tok"
check "UDP request to port 5354 (policy new=drop) gets no reply" \
    not quiet in_c "$PY" "$T_TMP/udpcli.py" "$S4" 5354 "$tok" 2

# ---- ICMP echo ---------------------------------------------------------------
check "ping client -> server" quiet in_c ping -q -c 3 -W 1 -i 0.2 "$S4"
check "ping -6 client -> server" quiet in_c ping -6 -q -c 3 -W 1 -i 0.2 "$S6"
check "ping server -> client (no rule for it: policy new=drop)" \
    not quiet in_s ping -q -c 2 -W 1 -i 0.2 "$C4"

ctcount=$(lib_ctl conntrack count 2>&1)
check "nfqspictl conntrack count is a number > 0 ($ctcount)" \
    is_positive "$ctcount"

# ---- reload ------------------------------------------------------------------
cp "$T_CONF" "$T_TMP/first.ini"
cat >>"$T_CONF" <<EOF

[rule tcp-5003]
proto = tcp
dport = 5003
action = accept

[rule never6]
proto = icmpv6
src = 10.$T_NET.1.0/24
action = accept
EOF
cp "$T_CONF" "$T_TMP/second.ini"
kill -HUP "$T_DPID"
check "SIGHUP: nfqspid loads the new file (7 rules)" \
    log_has "reloaded .*rules 7"
check "SIGHUP: a rule that never matches is logged as a warning" \
    log_has "reload: warning: .*\\[rule never6\\] src: only IPv4 addresses, but proto = icmpv6"
check "after the reload, the new rule lets port 5003 connect" \
    quiet in_c timeout 10 nc -z -w 3 "$S4" 5003
check "the reload kept the connection table" \
    grep -Eq "dport=5001 src=$S4 dst=$C4 sport=5001 " <<<"$(lib_ctl conntrack 2>&1)"

# A bad file is rejected, with the place named, and the running rules stay.
printf '\n[rule broken]\nproto = tcp\ndport = 22-\naction = accept\n' >>"$T_CONF"
rlout=$(lib_ctl reload 2>&1)
rlrc=$?
echo "  nfqspictl reload: $rlout (status $rlrc)"
check "nfqspictl reload of a bad file fails (status 1)" test "$rlrc" -eq 1
check "the error names the section and the key" \
    grep -q '\[rule broken\] dport' <<<"$rlout"
kill -HUP "$T_DPID"
check "SIGHUP with a bad file: the error is logged" \
    log_has "reload failed.*\[rule broken\] dport"
check "the running rules stay: port 5003 still connects" \
    quiet in_c timeout 10 nc -z -w 3 "$S4" 5003
check "the running rules stay: port 5002 is still denied" \
    not quiet in_c timeout 10 nc -z -w 2 "$S4" 5002
cp "$T_TMP/second.ini" "$T_CONF"

# ---- health and shutdown ----------------------------------------------------
lib_finish
# Without --queue-bypass nothing passes once the daemon is gone: proof
# that the traffic above went through it.
check "with nfqspid stopped, forwarded traffic is dropped (fail closed)" \
    not quiet in_c ping -q -c 1 -W 1 "$S4"

# ---- daemonised (no -f) ------------------------------------------------------
# The parent exits 0 only once the daemon runs, so the queue is bound and
# the control socket answers the moment it returns, and with the child's
# status when the child fails.  valgrind --track-fds (when installed and
# the build has no ASan) reports what the parent left open at exit: it
# must close the readiness pipe and the log socket.  Under
# NFQSPID_VALGRIND, "${T_VG[@]}" does that check, and more.
pvg=("${T_VG[@]}")
if [ "${#pvg[@]}" -eq 0 ] && command -v valgrind >/dev/null &&
    ! ldd "$NFQSPID" 2>/dev/null | grep -q libasan; then
	pvg=(valgrind --tool=none --track-fds=yes --child-silent-after-fork=yes
	    --log-file="$T_TMP/vg.%p.log")
fi
# -c names the file from its own directory, as an operator in /etc
# would: the daemon, which works from /, must still find it to reload.
(cd "$T_TMP" && in_d "${pvg[@]}" "$NFQSPID" -c "${T_CONF##*/}") \
    >"$T_TMP/detach.out" 2>"$T_TMP/detach.err"
rc=$?
cat "$T_TMP/detach.out" "$T_TMP/detach.err" >>"$T_LOG"
check "without -f: the parent exits 0 (got $rc)" test "$rc" -eq 0
# A daemon is quiet on the terminal when it starts, but for what its
# starter must see (the file's rule never6); the rest goes to syslog.
check "without -f: the start's warnings on stderr" \
    grep -q "warning: .*\\[rule never6\\]" "$T_TMP/detach.err"
check "without -f: its other lines not ($(grep -v warning "$T_TMP/detach.err" | head -1))" \
    not grep -qv "warning: " "$T_TMP/detach.err"
check "without -f: nothing on stdout" test ! -s "$T_TMP/detach.out"
check "without -f: the queue is bound as the parent exits" lib_queue_bound
check "without -f: the control socket answers as the parent exits" \
    quiet timeout 5 "$NFQSPICTL" -s "$T_CTL" status
check "without -f, -c relative: nfqspictl reload finds the file" \
    quiet lib_ctl reload
check "without -f, -c relative: status names the file whole" \
    grep -Eq "^config +$T_CONF\$" <<<"$(lib_ctl status)"
dpid=$(cat "$T_TMP/nfqspid.pid" 2>/dev/null)
check "without -f: the pidfile names the running daemon" \
    kill -0 "${dpid:-0}"
in_d "${pvg[@]}" "$NFQSPID" -c "$T_CONF" >>"$T_LOG" 2>&1
rc=$?
check "without -f, a second start fails with the child's status 1 (got $rc)" \
    test "$rc" -eq 1
check "the second start says why" log_has "nfqspid is already running"
if [ -n "$dpid" ] && kill -TERM "$dpid" 2>/dev/null; then
	check "SIGTERM: the daemonised nfqspid exits" \
	    wait_for $((50 * T_SLOW)) not quiet kill -0 "$dpid"
else
	fail "SIGTERM: the daemonised nfqspid exits"
fi
# A control socket it cannot make stops the start, as the page does: the
# packaged unit once ran so, unseen (no CAP_CHOWN), and nobody could
# reload it or ask it anything.
sed "s|^control = .*|control = $T_TMP/no-such-dir/ctl.sock|" "$T_CONF" \
    >"$T_TMP/noctl.ini"
in_d "$NFQSPID" -f -c "$T_TMP/noctl.ini" >"$T_TMP/noctl.err" 2>&1 &
npid=$!
check "a control socket it cannot make: the start ends" \
    wait_for $((50 * T_SLOW)) not quiet kill -0 "$npid"
kill -TERM "$npid" 2>/dev/null	# one that runs on: 0, and fails below
wait "$npid"
rc=$?
cat "$T_TMP/noctl.err" >>"$T_LOG"
check "... with status 1 (got $rc)" test "$rc" -eq 1
check "... saying why ($(head -c 200 "$T_TMP/noctl.err"))" \
    grep -q "control socket $T_TMP/no-such-dir/ctl.sock" "$T_TMP/noctl.err"
# A pidfile path that names somebody else's file (a typo naming the
# config) stops the start and leaves the file whole: it was truncated
# to the pid, then unlinked at the stop.  A FIFO there is not opened.
printf 'precious\n' >"$T_TMP/notpid"
mkfifo "$T_TMP/fifo"
for what in notpid fifo; do
	sed "s|^pidfile = .*|pidfile = $T_TMP/$what|" "$T_CONF" \
	    >"$T_TMP/pid-$what.ini"
	in_d timeout 10 "$NFQSPID" -f -c "$T_TMP/pid-$what.ini" \
	    >"$T_TMP/pid-$what.err" 2>&1
	rc=$?
	cat "$T_TMP/pid-$what.err" >>"$T_LOG"
	check "pidfile = a $what: the start fails with status 1 (got $rc)" \
	    test "$rc" -eq 1
done
check "pidfile = a file that holds no pid: left whole" \
    grep -qx precious "$T_TMP/notpid"
check "... saying so" \
    grep -q "pidfile $T_TMP/notpid: holds something else than a pid, left as it is" \
    "$T_TMP/pid-notpid.err"
check "... and nfqspid -n warns of it" \
    grep -q "warning: pidfile $T_TMP/notpid: holds something else than a pid, left as it is; the start would fail" \
    <<<"$("$NFQSPID" -n -c "$T_TMP/pid-notpid.ini" 2>&1)"
check "pidfile = a FIFO: left where it is" test -p "$T_TMP/fifo"
check "... and says so" \
    grep -q "pidfile $T_TMP/fifo: not a regular file, left as it is" \
    "$T_TMP/pid-fifo.err"
check "... and nfqspid -n warns of it, without opening it" \
    grep -q "warning: pidfile $T_TMP/fifo: not a regular file, left as it is; the start would fail" \
    <<<"$(timeout 10 "$NFQSPID" -n -c "$T_TMP/pid-fifo.ini" 2>&1)"
# parent_fds: the parents' valgrind logs report no descriptor of theirs
parent_fds()
{
	local f n=0
	for f in "$T_TMP"/vg.*.log; do
		[ -e "$f" ] || continue
		n=$((n + 1))
		_vg_log_clean "$f" || { cat "$f"; return 1; }
	done
	[ "$n" -eq 2 ]
}
if [ "${#T_VG[@]}" -eq 0 ] && [ "${#pvg[@]}" -gt 0 ]; then
	check "without -f: the parent leaves nothing of its own open" \
	    parent_fds
fi

lib_summary
