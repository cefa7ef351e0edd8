#!/bin/bash
# sync_cpu.sh - what [sync] costs the daemon: CPU time per new TCP
# connection, sync off against sync on (a backup listening on a sync
# veth), same binary, alternating rounds
#
# Copyright (C) 2026 The nfqspid authors
# SPDX-License-Identifier: GPL-2.0-or-later
#
# The client - dut - server namespaces of tests/integration/lib.sh; a
# client opens and closes CONNS connections (default 3000) to the server
# through nfqspid in dut, one after the other.  nfqspid's CPU time (user
# and system, all its threads, the sync thread too) over the connections
# it created is the figure; the backup's is not counted.  The target of
# issue 14 is sync on <= 1.10 x sync off.  Optionally BASE=path/nfqspid
# runs an older binary (sync off) beside them.
#
#   sudo tests/bench/sync_cpu.sh        (ROUNDS=3 CONNS=3000)
set -u

T_NET=${T_NET:-81}
T_QUEUE=${T_QUEUE:-24}
ROUNDS=${ROUNDS:-3}
CONNS=${CONNS:-3000}
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/../integration/lib.sh"

lib_init scpu
lib_topology
lib_divert || exit 2
lib_sync_link NS_B || { echo "cannot build the sync link" >&2; exit 2; }

policy()
{
	lib_policy
	echo
	lib_web_rule
}
lib_config < <(policy)
cp "$T_CONF" "$T_TMP/off.ini"
lib_config < <(lib_sync_section master; echo; policy)
cp "$T_CONF" "$T_TMP/on.ini"
lib_config < <(lib_sync_section backup; echo; policy)
sed -e "s|$T_CTL|$T_TMP/b.sock|" -e "s|nfqspid.pid|b.pid|" "$T_CONF" \
    >"$T_TMP/b.ini"
# shellcheck disable=SC2153  # lib_sync_link sets NS_B
ip netns exec "$NS_B" "$NFQSPID" -f -c "$T_TMP/b.ini" >"$T_TMP/b.log" 2>&1 &

cat >"$T_TMP/srv.py" <<'EOF'
import socket, sys
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((sys.argv[1], 5020))
s.listen(512)
while True:
    c, _ = s.accept()
    c.close()
EOF
cat >"$T_TMP/cli.py" <<'EOF'
import socket, sys
for i in range(int(sys.argv[2])):
    c = socket.create_connection((sys.argv[1], 5020), timeout=5)
    c.recv(1)
    c.close()
EOF
bg_in "$NS_S" "$PY" "$T_TMP/srv.py" "$S4"
wait_listen "$NS_S" tcp 5020

# cpu PID: the process's user + system ticks, all threads
cpu() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }

# one round: CPU ms per 1000 connections of binary $1 with config $2
round()
{
	local bin=$1 ini=$2 c0 c1 n0 n1 hz
	hz=$(getconf CLK_TCK)
	T_CONF=$ini
	NFQSPID=$bin lib_start_daemon || return 1
	sleep 0.5
	n0=$(lib_stat created)
	c0=$(cpu "$T_DPID")
	in_c "$PY" "$T_TMP/cli.py" "$S4" "$CONNS" || return 1
	sleep 0.3
	n1=$(lib_stat created)
	c1=$(cpu "$T_DPID")
	lib_stop_daemon
	echo "$c0 $c1 $n0 $n1 $hz" | awk '{ printf "%.3f\n",
	    ($2 - $1) * 1000 / $5 * 1000 / ($4 - $3) }'
}

printf '%-10s %s\n' run 'CPU ms per 1000 new connections'
off=() on=() base=()
for r in $(seq 1 "$ROUNDS"); do
	v=$(round "$NFQSPID" "$T_TMP/off.ini") && off+=("$v") &&
	    printf '%-10s %s\n' "off $r" "$v"
	v=$(round "$NFQSPID" "$T_TMP/on.ini") && on+=("$v") &&
	    printf '%-10s %s\n' "on $r" "$v"
	if [ -n "${BASE:-}" ]; then
		v=$(round "$BASE" "$T_TMP/off.ini") && base+=("$v") &&
		    printf '%-10s %s\n' "base $r" "$v"
	fi
done
med() { printf '%s\n' "$@" | sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }
mo=$(med "${off[@]}")
mn=$(med "${on[@]}")
echo "median: sync off $mo ms, sync on $mn ms per 1000 connections"
[ -n "${BASE:-}" ] && echo "median: base (sync off) $(med "${base[@]}") ms"
echo "$mo $mn" | awk '{ r = $2 / $1; printf "sync on / off = %.3f (target <= 1.10): %s\n", r, r <= 1.10 ? "met" : "NOT met" }'
echo "backup: $("$NFQSPICTL" -s "$T_TMP/b.sock" sync status 2>/dev/null | grep -E '^(changes|bulk in)')"
