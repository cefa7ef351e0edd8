#!/bin/bash
# test_sync.sh - two nfqspid keep one set of connections ([sync]): the
# master (dut) judges the traffic, the backup (its own namespace, joined
# to dut by a sync veth) receives every connection with its state, mark
# and rule; a forged and a replayed message, and a flood of 2,000, are
# counted and dropped (the audit once per 10 s) and sync goes on;
# a restarted backup is not ready until the whole table came again,
# and what its state_file restored gives way to that table (one ended
# while it was away goes).
# Small on purpose: the keepalived failover test is test_ha.sh's.
#
# Copyright (C) 2026 The nfqspid authors
# SPDX-License-Identifier: GPL-2.0-or-later
# shellcheck disable=SC2317  # functions run through check and wait_for
# shellcheck disable=SC2016  # eventually's expressions: eval expands them
set -u

T_NET=${T_NET:-82}
T_QUEUE=${T_QUEUE:-23}
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"

lib_init sync
lib_topology

B_CTL=$T_TMP/backup.sock
B_LOG=$T_TMP/backup.log
B_PID=

trap lib_sync_cleanup EXIT

lib_sync_link NS_B || { echo "cannot build the sync link" >&2; exit 1; }
lib_divert || { echo "cannot divert" >&2; exit 1; }

rules()
{
	cat <<EOF
$(lib_sync_section "$1")
flush = 20

$(lib_policy)

$(lib_web_rule)

[rule dns]
proto = udp
dport = 5053
action = accept
EOF
}
lib_config < <(rules master)
cp "$T_CONF" "$T_TMP/master.ini"
lib_config < <(rules backup)
# the backup keeps its table across a restart, which the master's bulk
# then sets right
sed -e "s|$T_TMP/nfqspid.pid|$T_TMP/backup.pid|" \
    -e "s|$T_CTL|$B_CTL|" \
    -e "s|^\\[daemon\\]\$|[daemon]\\nstate_file = $T_TMP/backup.state|" \
    "$T_CONF" >"$T_TMP/backup.ini"
T_CONF=$T_TMP/master.ini

bctl() { "$NFQSPICTL" -s "$B_CTL" "$@"; }

start_backup()
{
	# shellcheck disable=SC2153  # lib_sync_link sets NS_B
	ip netns exec "$NS_B" "${T_VG[@]}" "$NFQSPID" -f -c "$T_TMP/backup.ini" \
	    >>"$B_LOG" 2>&1 &
	B_PID=$!
	wait_for $((100 * T_SLOW)) test -S "$B_CTL"
}

stop_backup()
{
	kill -TERM "$B_PID" 2>/dev/null
	wait "$B_PID"
	local rc=$?
	B_PID=
	return "$rc"
}

backup_ready() { [ "$(lib_jsync "$B_CTL" ready)" = true ]; }

# backup_has PORT STATE MARK RULE: the backup's table holds the
# connection to PORT with that state, mark and rule
backup_has()
{
	bctl -j conntrack 2>/dev/null | "$PY" -c '
import json, sys
port, state, mark, rule = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
for c in json.load(sys.stdin):
    o = c.get("orig", c)
    if str(o.get("dport")) == port and (c.get("state") or "-") == state \
       and c.get("mark") == mark and (c.get("rule") or "-") == rule:
        sys.exit(0)
sys.exit(1)' "$@"
}

backup_count() { bctl conntrack count 2>/dev/null; }

# eventually TENTHS 'shell test': poll until it holds (the expansions
# happen anew each time)
eventually() { wait_for "$1" eval "$2"; }

# ---- start: the backup asks for the table, the master sends it ---------------
lib_must_start "nfqspid (master) starts with [sync]"
check "nfqspid (backup) starts with [sync]" start_backup
check "the backup gets the master's (empty) table: ready" \
    wait_for 100 backup_ready
check "the master says it is master" test "$(lib_jsync "$T_CTL" role)" = '"master"'
check "the backup hears the master" \
    eventually 50 '[ "$(lib_jsync "$B_CTL" reachable)" = true ]'

# ---- connections through the master appear on the backup ---------------------
bg_in "$NS_S" socat "TCP4-LISTEN:5020,bind=$S4,reuseaddr,fork" EXEC:cat
bg_in "$NS_S" socat "UDP4-RECVFROM:5053,bind=$S4,reuseaddr,fork" EXEC:cat
wait_listen "$NS_S" tcp 5020
for p in 41001 41002 41003; do
	bg_in "$NS_C" sh -c "sleep 60 | socat - TCP4:$S4:5020,sourceport=$p,reuseaddr"
done
in_c sh -c "echo ping | timeout 3 socat - UDP4:$S4:5053,sourceport=41053" \
    >/dev/null 2>&1
check "three TCP connections through the master are on the backup: ESTABLISHED, mark 42, rule web" \
    eventually 50 '[ "$(bctl conntrack -p tcp --dport 5020 --state ESTABLISHED -m 42 2>/dev/null | grep -c src=)" -eq 3 ]'
check "... with their rule's name" wait_for 20 backup_has 5020 ESTABLISHED 42 web
check "the UDP flow is on the backup, rule dns" wait_for 50 backup_has 5053 - 0 dns
check "the backup applied the master's records" \
    test "$(lib_jsync "$B_CTL" applied)" -ge 4
check "the master ignores nothing and the backup refuses nothing" \
    test "$(lib_jsync "$B_CTL" refused.forged)" -eq 0

# ---- a forged and a replayed message: counted and dropped ---------------------
# One of the master's datagrams, captured in dut, sent again as it was
# (replayed) and with a byte changed (forged), from the master's address.
cat >"$T_TMP/inject.py" <<'EOF'
import sys
from scapy.all import IP, UDP, Raw, sniff, send, conf
conf.verb = 0
src, dst = sys.argv[1], sys.argv[2]
p = sniff(iface="y0", filter="udp and src host %s and src port 3780" % src,
          count=1, timeout=5)
if not p:
    sys.exit(1)
raw = bytes(p[0][UDP].payload)
send(IP(src=src, dst=dst) / UDP(sport=3780, dport=3780) / Raw(raw))
bad = bytearray(raw)
bad[40] ^= 0xff
send(IP(src=src, dst=dst) / UDP(sport=3780, dport=3780) / Raw(bytes(bad)))
EOF
check "a datagram of the master captured and sent again, changed and not" \
    in_d "$PY" "$T_TMP/inject.py" "$SYNC_D4" "$SYNC_B4"
check "the replayed one is counted" \
    eventually 30 '[ "$(lib_jsync "$B_CTL" refused.replayed)" -ge 1 ]'
check "the forged one is counted" \
    eventually 30 '[ "$(lib_jsync "$B_CTL" refused.forged)" -ge 1 ]'
check "... and audited (one line per 10 s)" wait_for 30 grep -Eq 'action=drop sync=(forged|replayed)' "$B_LOG"
check "the backup's table is whole" test "$(backup_count)" -ge 4

# ---- a flood of forged messages: counted, audited once, sync goes on ---------
cat >"$T_TMP/flood.py" <<'EOF'
import os, sys
from scapy.all import IP, UDP, Raw, send, conf
conf.verb = 0
src, dst, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
# a sync header's magic and version, then random bytes for the rest
pkts = [IP(src=src, dst=dst) / UDP(sport=3780, dport=3780) /
        Raw(b"NQSY\x01\x01" + os.urandom(200)) for _ in range(n)]
send(pkts)
EOF
refused()
{
	"$NFQSPICTL" -s "$B_CTL" -j sync status 2>/dev/null | "$PY" -c '
import json, sys
r = json.load(sys.stdin)["refused"]
print(sum(r.values()))' 2>/dev/null
}
# shellcheck disable=SC2034  # read in eventually's eval
refused0=$(refused)
audits0=$(grep -c 'action=drop sync=' "$B_LOG")
check "2,000 forged datagrams from the master's address" \
    in_d "$PY" "$T_TMP/flood.py" "$SYNC_D4" "$SYNC_B4" 2000
check "... every one counted (malformed, forged)" \
    eventually 50 '[ "$(( $(refused) - refused0 ))" -ge 2000 ]'
check "... audited at most once per 10 s" \
    test "$(( $(grep -c 'action=drop sync=' "$B_LOG") - audits0 ))" -le 2
bg_in "$NS_C" sh -c "sleep 60 | socat - TCP4:$S4:5020,sourceport=41005,reuseaddr"
check "a connection after the flood still reaches the backup" \
    eventually 50 '[ "$(bctl conntrack -p tcp 2>/dev/null | grep -c "sport=41005 dport=5020 ")" -eq 1 ]'

# ---- the backup restarts: not ready until the whole table came ---------------
check "SIGTERM: the backup stops with status 0" stop_backup
check "... and writes its table to its state_file" \
    grep -Eq "saved [4-9] connections to $T_TMP/backup.state" "$B_LOG"
check "a connection ended by hand on the master while the backup is away" \
    quiet "$NFQSPICTL" -s "$T_CTL" conntrack delete proto=tcp sport=41001
check "a new connection while the backup is away" \
    bg_in "$NS_C" sh -c "sleep 60 | socat - TCP4:$S4:5020,sourceport=41004,reuseaddr"
sleep 0.5
check "the backup starts again" start_backup
check "... and restores its table from its state_file" \
    grep -Eq "restored [4-9] of [4-9] connections from $T_TMP/backup.state" "$B_LOG"
check "the restarted backup is ready (bulk in)" wait_for 100 backup_ready
check "... with every connection, the one made while it was away too" \
    eventually 30 '[ "$(bctl conntrack -p tcp --dport 5020 --state ESTABLISHED -m 42 2>/dev/null | grep -c src=)" -eq 4 ]'
check "... but the one ended while it was away: the bulk swept the copy the file brought" \
    eventually 30 '[ "$(bctl conntrack -p tcp 2>/dev/null | grep -c "sport=41001 dport=5020 ")" -eq 0 ]'
check "the master sent a bulk" test "$(lib_jsync "$T_CTL" bulk_out.count)" -ge 2

# ---- roles ------------------------------------------------------------------
check "sync role master on the backup" bctl sync role master
check "... says so" eventually 20 '[ "$(lib_jsync "$B_CTL" role)" = "\"master\"" ]'
check "sync role with a bad role: usage error" not bctl sync role primary
check "sync resync" "$NFQSPICTL" -s "$T_CTL" sync resync
check "no sanitizer report in the backup's log" \
    not grep -Eq 'runtime error|AddressSanitizer|LeakSanitizer' "$B_LOG"
check "SIGTERM: the backup stops with status 0 again" stop_backup

lib_finish
lib_summary
