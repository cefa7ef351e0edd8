#!/bin/bash
# test_fair.sh - one client cannot lock the connection table (issue 17):
# with [conntrack] max = 1000 and the default source_share (10 %), a
# client that opens 1,000 TCP connections and holds them gets 100; a
# second client still connects, and the refusals are audited
# (reason=source-share) and counted (share_refused).  Then the control:
# reloaded with source_share = 0, the first client fills the table and the
# second one is refused (table-full), which is what happened before.
#
# Copyright (C) 2026 The nfqspid authors
# SPDX-License-Identifier: GPL-2.0-or-later
set -u

T_NET=${T_NET:-88}
T_QUEUE=${T_QUEUE:-20}
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"

lib_init fair
lib_topology
C4B=10.$T_NET.1.3		# the second client
in_c ip addr add "$C4B/24" dev c0

OPENER=$top_srcdir/tests/integration/opener.py	# N connections at once from one client

conf()
{
	lib_config <<EOF
[conntrack]
max = 1000
$1

[rule to-server]
proto = tcp
dport = 7000
action = accept
EOF
}
conf ''

# hold.py: accept and hold every connection (epoll: over 1024 of them).
cat >"$T_TMP/hold.py" <<'EOF'
import resource, selectors, socket, sys
resource.setrlimit(resource.RLIMIT_NOFILE, (8192, 8192))
ls = socket.socket()
ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
ls.bind((sys.argv[1], 7000))
ls.listen(4096)
held = []
while True:
    c, _ = ls.accept()
    held.append(c)
EOF

lib_start "nfqspid starts"
bg_in "$NS_S" "$PY" "$T_TMP/hold.py" "$S4"
wait_listen "$NS_S" tcp 7000 || fail "the server listens"

# The client asks for the whole table and keeps what it got.
in_c "$PY" "$OPENER" "$C4" "$S4" 1000 3600 "$T_TMP/first.pid" \
    >"$T_TMP/first.out" 2>"$T_TMP/first.err" &
wait_for 300 test -s "$T_TMP/first.pid"
got=$(cat "$T_TMP/first.out")
check "one client asking for 1,000 connections gets its share of 100 (got $got)" \
    test "$got" = 100
n=$(lib_ctl conntrack count | tr -dc 0-9)
check "the table holds the client's 100 (count $n)" test "$n" = 100
second=$(in_c "$PY" "$OPENER" "$C4B" "$S4" 5 0)
check "a second client still connects (5 of 5: $second)" test "$second" = 5
r=$(lib_stat share_refused)
check "the refusals are counted (share_refused $r)" test "${r:-0}" -gt 0
check "and audited as INVALID source-share" \
    log_has "action=drop state=INVALID rule=- reason=source-share proto=tcp src=$C4 "
kill "$(cat "$T_TMP/first.pid")"
rm -f "$T_TMP/first.pid"

# The control: without a share the same client locks everybody out.
lib_ctl conntrack flush >/dev/null
conf 'source_share = 0'
check "reload with source_share = 0" quiet lib_ctl reload
in_c "$PY" "$OPENER" "$C4" "$S4" 1000 3600 "$T_TMP/first.pid" \
    >"$T_TMP/first.out" 2>"$T_TMP/first.err" &
wait_for 300 test -s "$T_TMP/first.pid"
got=$(cat "$T_TMP/first.out")
[ -s "$T_TMP/first.err" ] && cat "$T_TMP/first.err"
check "without a share the client takes the whole table (got $got)" \
    test "$got" -ge 990
second=$(in_c "$PY" "$OPENER" "$C4B" "$S4" 5 0)
check "... and a second client is refused (connected: $second)" \
    test "$second" = 0
check "... as table-full" \
    log_has "action=drop state=INVALID rule=- reason=table-full proto=tcp src=$C4B "
kill "$(cat "$T_TMP/first.pid")"

if lib_stop_daemon; then
	check "SIGTERM: nfqspid exits with status 0 (got $T_DRC)" test "$T_DRC" -eq 0
else
	fail "SIGTERM: nfqspid exits"
fi
lib_summary
