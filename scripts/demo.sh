#!/bin/bash
# demo.sh - nfqspid on the shipped etc/nfqspi.ini, deciding real traffic
# between three throwaway network namespaces:
#
#   client 10.201.1.2 --- 10.201.1.1 firewall 10.201.2.1 --- 10.201.2.2 server
#                                    FORWARD -> NFQUEUE 0 -> nfqspid
#
# Installs what it needs, builds, drives an allowed TCP connection (SSH
# port), a blocked one and an XMAS scan packet through the firewall, then
# shows nfqspid's connection table and audit lines.  Everything it creates
# is removed on exit.  Run as root from the top of the source tree:
#   ./scripts/demo.sh
#
# Copyright (C) 2026 The nfqspid authors
# SPDX-License-Identifier: GPL-2.0-or-later
set -euo pipefail
cd "$(dirname "$0")/.."
top=$(pwd)

if [ "$(id -u)" -ne 0 ]; then
	echo "demo.sh: needs root (network namespaces, iptables, NFQUEUE): sudo $0" >&2
	exit 1
fi

# Headings in bold on a terminal.
if [ -t 1 ]; then B=$(printf '\033[1m'); N=$(printf '\033[0m'); else B=; N=; fi
say()
{
	printf '\n%s%s%s\n' "$B" "$*" "$N"
}

note()
{
	printf '    %s\n' "$*"
}

# ---- dependencies and build --------------------------------------------------
say "[1/8] Installing build and demo dependencies (scripts/deps.sh)"
scripts/deps.sh

say "[2/8] Building nfqspid"
if [ ! -f Makefile ]; then
	autoreconf -fi
	./configure
fi
make -j"$(nproc 2>/dev/null || echo 2)"
NFQSPID=$top/src/nfqspid
NFQSPICTL=$top/src/nfqspictl

# ---- the namespaces ----------------------------------------------------------
CLI=nfqspi-demo-client-$$
FW=nfqspi-demo-fw-$$
SRV=nfqspi-demo-server-$$
TMP=$(mktemp -d /tmp/nfqspi-demo.XXXXXX)
LOG=$TMP/nfqspid.log
CONF=$TMP/nfqspi.ini
CTL=$TMP/nfqspid.sock
DPID=
C=10.201.1.2
S=10.201.2.2
unexpected=0

cleanup()
{
	local rc=$? ns pids
	trap - EXIT INT TERM
	set +e
	if [ -n "$DPID" ] && kill -0 "$DPID" 2>/dev/null; then
		kill -TERM "$DPID"
		sleep 0.5
		kill -KILL "$DPID" 2>/dev/null
	fi
	for ns in "$CLI" "$FW" "$SRV"; do
		pids=$(ip netns pids "$ns" 2>/dev/null)
		# shellcheck disable=SC2086
		[ -n "$pids" ] && kill -KILL $pids 2>/dev/null
		ip netns del "$ns" 2>/dev/null
	done
	rm -rf "$TMP"
	echo
	echo "demo.sh: removed the namespaces $CLI, $FW, $SRV and $TMP"
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

in_cli() { ip netns exec "$CLI" "$@"; }
in_fw() { ip netns exec "$FW" "$@"; }
in_srv() { ip netns exec "$SRV" "$@"; }

expect()
{
	if [ "$1" = yes ]; then
		note "=> $2"
	else
		note "=> UNEXPECTED: $3"
		unexpected=$((unexpected + 1))
	fi
}

say "[3/8] Creating namespaces: client $CLI, firewall $FW, server $SRV"
ip netns add "$CLI"
ip netns add "$FW"
ip netns add "$SRV"
ip -n "$CLI" link add eth0 type veth peer name cli0 netns "$FW"
ip -n "$SRV" link add eth0 type veth peer name srv0 netns "$FW"
for ns in "$CLI" "$FW" "$SRV"; do
	ip -n "$ns" link set lo up
done
ip -n "$CLI" addr add "$C/24" dev eth0
ip -n "$FW" addr add 10.201.1.1/24 dev cli0
ip -n "$FW" addr add 10.201.2.1/24 dev srv0
ip -n "$SRV" addr add "$S/24" dev eth0
ip -n "$CLI" link set eth0 up
ip -n "$FW" link set cli0 up
ip -n "$FW" link set srv0 up
ip -n "$SRV" link set eth0 up
ip -n "$CLI" route add default via 10.201.1.1
ip -n "$SRV" route add default via 10.201.2.1
in_fw sysctl -qw net.ipv4.ip_forward=1
note "client $C  <->  firewall (cli0 10.201.1.1, srv0 10.201.2.1)  <->  server $S"

# ---- nfqspid on the shipped configuration ------------------------------------
say "[4/8] Starting nfqspid in the firewall namespace on the shipped etc/nfqspi.ini"
# Only the paths differ from the shipped file, so the demo does not touch
# the host's /run; the policy and rules are exactly as shipped.
sed -e "s|^pidfile[[:space:]]*=.*|pidfile = $TMP/nfqspid.pid|" \
    -e "s|^control[[:space:]]*=.*|control = $CTL|" \
    etc/nfqspi.ini >"$CONF"
note "copied etc/nfqspi.ini to $CONF, changing only:"
diff etc/nfqspi.ini "$CONF" | sed -n 's/^> /      /p' || true
QUEUE=$(sed -n 's/^queue[[:space:]]*=[[:space:]]*\([0-9]*\).*/\1/p' "$CONF")
note "shipped rules: $(sed -n 's/^\[rule \(.*\)\]/\1/p' "$CONF" | tr '\n' ' ')"
note "shipped policy: $(sed -n '/^\[policy\]/,/^\[/{s/^\([a-z]*\) *= *\([a-z]*\).*/\1=\2/p}' "$CONF" | tr '\n' ' ')"

# Divert everything the firewall forwards to nfqspid's queue.  With
# --queue-bypass the kernel would accept if nfqspid were not running.
in_fw iptables-legacy -A FORWARD -j NFQUEUE --queue-num "$QUEUE" --queue-bypass
note "firewall# iptables-legacy -A FORWARD -j NFQUEUE --queue-num $QUEUE --queue-bypass"

ip netns exec "$FW" "$NFQSPID" -f -c "$CONF" >"$LOG" 2>&1 &
DPID=$!
for _ in $(seq 100); do
	kill -0 "$DPID" 2>/dev/null || { cat "$LOG"; echo "demo.sh: nfqspid exited" >&2; exit 1; }
	# shellcheck disable=SC2016  # awk's $1
	[ -S "$CTL" ] && in_fw awk -v q="$QUEUE" '$1 == q { f = 1 } END { exit !f }' \
	    /proc/net/netfilter/nfnetlink_queue && break
	sleep 0.1
done
note "nfqspid -f -c $CONF running as pid $DPID (log: stderr, captured)"

# ---- traffic -----------------------------------------------------------------
# The server: "SSH" on 22 and something else on 8080, both real listeners,
# so that a failed connection can only be the firewall's doing.
cat >"$TMP/greet.sh" <<'EOF'
#!/bin/sh
read -r line
echo "server got: $line"
cat >/dev/null
EOF
( in_srv socat TCP4-LISTEN:22,reuseaddr,fork EXEC:"/bin/sh $TMP/greet.sh" </dev/null >/dev/null 2>&1 & )
( in_srv socat TCP4-LISTEN:8080,reuseaddr,fork EXEC:"/bin/sh $TMP/greet.sh" </dev/null >/dev/null 2>&1 & )
# Counts XMAS packets (FIN, PSH, URG) that reach the server.
in_srv iptables-legacy -A INPUT -p tcp --tcp-flags ALL FIN,PSH,URG
for _ in $(seq 50); do
	in_srv ss -Hltn | grep -q ':8080 ' && break
	sleep 0.1
done

say "[5/8] Allowed: client -> server TCP port 22 (rule ssh-in accepts NEW)"
note "client\$ echo 'hello over port 22' | socat - TCP:$S:22"
reply=$(echo "hello over port 22" | in_cli timeout 10 socat -t 3 - "TCP:$S:22,connect-timeout=3" 2>&1 || true)
note "client received: $reply"
[ "$reply" = "server got: hello over port 22" ] && r=yes || r=no
expect "$r" "the connection was set up and carried data both ways" \
    "no answer from the server"
# Hold one session open so the table shows it ESTABLISHED.
# (all of it inside the client namespace, so the clean-up kills it)
( in_cli sh -c "sleep 60 | socat - TCP:$S:22" </dev/null >/dev/null 2>&1 & )
note "and one more session to port 22 left open in the background"

say "[6/8] Blocked: client -> server TCP port 8080 (no rule; [policy] new = drop)"
note "client\$ nc -z -w 2 $S 8080"
if in_cli timeout 10 nc -z -w 2 "$S" 8080 2>/dev/null; then r=no; else r=yes; fi
expect "$r" "no connection: the SYN was dropped, the client timed out" \
    "the connection to 8080 was let through"

note "client\$ ping -c 2 $S        (rule ping accepts echo-request)"
if in_cli ping -q -c 2 -W 1 -i 0.3 "$S" >/dev/null; then r=yes; else r=no; fi
expect "$r" "ping answered" "ping not answered"

say "[7/8] Scan: one XMAS packet (FIN+PSH+URG, no connection) client -> server port 22"
note "client\$ python3 -c 'send(IP(dst=\"$S\")/TCP(dport=22, sport=40001, flags=\"FPU\"))'"
in_cli /usr/bin/python3 -c "
from scapy.all import IP, TCP, send
send(IP(dst='$S')/TCP(sport=40001, dport=22, flags='FPU', seq=1000), verbose=0)"
sleep 1
xmas=$(in_srv iptables-legacy -L INPUT -n -v -x | awk '/tcp flags:0x3F\/0x29/ { print $1 }')
note "XMAS packets that reached the server: ${xmas:-?}"
[ "${xmas:-1}" = 0 ] && r=yes || r=no
expect "$r" "dropped by nfqspid as INVALID (a packet no TCP stack sends)" \
    "the XMAS packet reached the server"

# ---- what nfqspid saw --------------------------------------------------------
say "[8/8] What nfqspid saw"
note "firewall# nfqspictl -s $CTL conntrack"
"$NFQSPICTL" -s "$CTL" conntrack | sed 's/^/      /' || note "(nfqspictl failed)"
echo
note "firewall# nfqspictl -s $CTL rules"
"$NFQSPICTL" -s "$CTL" rules | sed 's/^/      /' || note "(nfqspictl failed)"
echo
note "audit records (nfqspid -f writes its syslog lines to stderr too):"
grep 'action=' "$LOG" | sed 's/^/      /' || note "(none)"
grep -q 'action=drop state=INVALID .*reason=bad-tcp-flags .*sport=40001 ' "$LOG" && r=yes || r=no
expect "$r" "the XMAS packet was audited: action=drop state=INVALID reason=bad-tcp-flags" \
    "no audit record for the XMAS packet"
note "(the shipped rules do not set log = yes, so accepted connections and"
note " policy drops are not audited; INVALID drops are, by [log] invalid = yes)"

kill -TERM "$DPID"
if wait "$DPID"; then
	note "SIGTERM: nfqspid exited cleanly"
else
	note "SIGTERM: nfqspid exited with status $?"
	unexpected=$((unexpected + 1))
fi
DPID=

echo
if [ "$unexpected" -eq 0 ]; then
	say "Demo complete: every step went as expected."
else
	say "Demo complete with $unexpected unexpected result(s); nfqspid's log:"
	cat "$LOG"
	exit 1
fi
