#!/bin/bash
# test_reload.sh - a reload under a SYN flood, on the real path:
# 2,000 rules and one that lets the server's ports 5300 and 5301 in; a
# flood of SYNs from random sources to 5300 fills the table; a reload to
# the same rules without 5300 must stop every SYN to 5300 at once: not
# one reaches the server after the reload has returned (counted by the
# server's own INPUT rule), while 5301 still connects and the worker
# goes on answering.  The round trips of a ping through the firewall
# during the reload are printed as a figure (not asserted).
# Then a reload never wakes the watchdog: 50,000 rules over a table that
# a flood to 5301 fills (50,000 connections and more), three reloads,
# each ending or taking up again every flood connection (a sweep of the
# whole table, an audit line for each ended one): the watchdog, which
# closes a worker's queue after 2 s without a tick and ends the daemon
# after 10, never says a word.
#
# Copyright (C) 2026 The nfqspid authors
# SPDX-License-Identifier: GPL-2.0-or-later
# shellcheck disable=SC2317  # functions run through check and wait_for
set -u

T_NET=${T_NET:-84}
T_QUEUE=${T_QUEUE:-24}
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"

lib_init reload
lib_flood_lock
lib_need hping3
: "${RELOAD_FLOOD_COUNT:=400000}"

lib_topology
lib_spoofed
# what reaches the server: SYNs to 5300, counted by its own INPUT
in_s iptables -A INPUT -p tcp --dport 5300 --syn -j ACCEPT
syns() {
	in_s iptables -nvxL INPUT | awk '/dpt:5300/ { print $1; exit }'
}

# $1: the ports of [rule to-server]; $2: a rule to put first (so that
# every rule moves one place: the counters follow the names); $3: the
# filler rules (2,000)
policy()
{
	local i
	lib_config <<EOF
[conntrack]
max = 200000
tcp_loose = no

[policy]
new = drop

${2:+[rule $2]
proto = udp
dport = 9
action = drop
}

$(for i in $(seq 1 "${3:-2000}"); do
	printf '[rule filler-%d]\nproto = udp\nsrc = 10.200.%d.0/24\ndport = %d\naction = accept\n\n' \
	    "$i" $((i % 256)) $((1000 + i))
done)

[rule ping]
proto = icmp
action = accept

[rule to-server]
proto = tcp
dst = $S4
dport = $1
action = accept
EOF
}

policy "5300, 5301"
check "nfqspid -n accepts the test configuration" "$NFQSPID" -n -c "$T_CONF"
lib_start "nfqspid starts" "$@"
bg_in "$NS_S" socat "TCP4-LISTEN:5301,bind=$S4,reuseaddr,fork" EXEC:cat
wait_listen "$NS_S" tcp 5301 || fail "the probe server listens"

in_c hping3 -q -S -p 5300 --rand-source -i u20 -c "$RELOAD_FLOOD_COUNT" \
    "$S4" >"$T_TMP/hping.out" 2>&1 &
hpid=$!
sleep 2
before=$(syns)
table=$(lib_ctl conntrack count 2>/dev/null | tr -dc 0-9)
check "the flood reaches the server before the reload (${before:-?} SYNs, ${table:-?} connections)" \
    test "${before:-0}" -gt 0 -a "${table:-0}" -gt 1000

# the same flood without a reload, for comparison
in_c ping -n -i 0.002 -c 750 -W 1 "$S4" >"$T_TMP/ping0.out" 2>&1
in_c ping -n -i 0.002 -c 1500 -W 1 "$S4" >"$T_TMP/ping.out" 2>&1 &
ppid=$!
sleep 1
policy "5301" first
t0=$(date +%s%N)
lib_ctl reload >"$T_TMP/reload.out" 2>&1
rrc=$?
t1=$(date +%s%N)
# what was accepted before the reload returned is on the wire at most
# this long
sleep 0.3
after=$(syns)
sleep 2
later=$(syns)
check "reload under the flood succeeds (status $rrc, $(( (t1 - t0) / 1000000 )) ms)" \
    test "$rrc" -eq 0
check "the flood still runs after the reload" kill -0 "$hpid"
check "no SYN to 5300 reaches the server after the reload (${after:-?} then ${later:-?})" \
    test -n "$after" -a "$after" = "$later"
check "5301 still connects" in_c timeout 5 socat -T 2 /dev/null \
    "TCP4:$S4:5301,connect-timeout=3"
wait "$ppid"
pings=$(lib_ctl -j rules 2>/dev/null | "$PY" -c '
import json, sys
print([r["packets"] for r in json.load(sys.stdin)["rules"] if r["name"] == "ping"][0])')
check "rule ping kept its counters, one place further on (${pings:-?} packets)" \
    test "${pings:-0}" -ge 2
kill "$hpid" 2>/dev/null
wait "$hpid" 2>/dev/null
rtt() {
	# "rtt min/avg/max/mdev = 0.034/0.056/0.117/0.020 ms[, pipe 3]"
	awk '/^rtt|^round-trip/ { split($0, a, "= "); split(a[2], v, "/");
	    print v[3] " ms max, " v[2] " ms avg" }' "$1"
	grep -Eo '[0-9]+% packet loss' "$1"
}
echo "figure: reload: 2,002 rules over ${table:-?} connections under a SYN flood: reload answered in $(( (t1 - t0) / 1000000 )) ms; ping every 2 ms through it: $(rtt "$T_TMP/ping.out" | paste -sd' '); the flood alone, before: $(rtt "$T_TMP/ping0.out" | paste -sd' ')"
check "the ended connections are said in the log" \
    log_has "worker 0: [0-9]+ connections? the new rules refuse ended"

# ---- a reload never wakes the watchdog ----------------------------------
policy "5301" '' 50000
check "reload to 50,000 rules" quiet lib_ctl reload
in_c hping3 -q -S -p 5301 --rand-source -i u50 -c 100000000 "$S4" \
    >"$T_TMP/hping2.out" 2>&1 &
hpid=$!
table_ge() { [ "$(lib_ctl conntrack count 2>/dev/null | tr -dc 0-9)" -ge "$1" ]; }
wait_for 300 table_ge 50000
full=$(lib_ctl conntrack count 2>/dev/null | tr -dc 0-9)
check "the flood to 5301 fills the table (${full:-?} connections)" \
    test "${full:-0}" -ge 50000
ended=$(grep -Ec "connections? the new rules refuse ended" "$T_LOG")
for p in 5302 5301 5302; do
	policy "$p" '' 50000
	check "reload to 50,000 rules, to-server $p, under the flood" \
	    quiet lib_ctl reload
	# the watchdog looks once a second; 2 s without a tick wake it
	sleep 3
done
e=$(grep -Ec "connections? the new rules refuse ended" "$T_LOG")
check "the sweeps ended the flood's connections ($((e - ended)) times)" \
    test "$e" -ge $((ended + 2))
check "the watchdog never acted: no queue closed, no exit" \
    log_lacks "watchdog"
kill "$hpid" 2>/dev/null
wait "$hpid" 2>/dev/null
policy "5301" '' 50000
check "reload back to 5301" quiet lib_ctl reload
check "5301 still connects after the reloads" in_c timeout 5 socat -T 2 \
    /dev/null "TCP4:$S4:5301,connect-timeout=3"
# a stray SIGUSR1 or SIGUSR2 (default action: exit) must not stop it
kill -USR1 "$T_DPID"
kill -USR2 "$T_DPID"
sleep 0.5
check "SIGUSR1 and SIGUSR2 leave nfqspid running" lib_daemon_alive
check "5301 still connects after SIGUSR1 and SIGUSR2" in_c timeout 5 \
    socat -T 2 /dev/null "TCP4:$S4:5301,connect-timeout=3"
check "no sanitizer report in the daemon's log" \
    log_lacks 'runtime error|AddressSanitizer|LeakSanitizer'
check "nfqspid is still running" lib_daemon_alive
if lib_stop_daemon; then
	check "SIGTERM: nfqspid exits with status 0 (got $T_DRC)" test "$T_DRC" -eq 0
else
	fail "SIGTERM: nfqspid exits"
fi
lib_summary
