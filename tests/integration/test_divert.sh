#!/bin/bash
# test_divert.sh - [daemon] divert: the diversion nfqspid owns, in dut:
#  - divert = iptables (iptables-legacy, IPv4 and IPv6): started, nfqspid
#    has made its chains and the jumps to them; traffic is filtered (an
#    allowed port connects, a denied one does not, nfqspictl sees it);
#    `iptables -F` and `iptables -F; iptables -X` (ours gone) are noticed
#    and undone within seconds, logged, and filtering goes on, as is an
#    IPv6 queue rule whose bypass alone changed (ip6tables -R), and a
#    rule beside ours in a chain of ours (the other bypass, another
#    queue; IPv4 and IPv6), after which the chain holds ours alone, and
#    a second (or third) jump to a chain of ours in a built-in chain,
#    whose count the log gives, after which one is left; SIGTERM
#    with fail_open = yes removes every rule and chain of ours, even
#    when its commands get SIGTERM too (as from systemd's stop), and
#    every copy of a jump; status shows a restore as soon as the log
#    does (no tick between); rules put ahead of our jump (IPv4 and IPv6)
#    are logged once and shown in status (text and -j) while they last,
#    and left there, nothing restored; an operator's jump to a chain of
#    ours with matches of its own is none of them (nor one of 314
#    characters), is left at the stop, whose log names it as what keeps
#    the chain (a long line by its start and its end), and the next
#    start fills that chain again;
#  - fail_open = no: no --queue-bypass, the rules stay after SIGTERM (so
#    nothing is forwarded), and the next start does not add a second jump,
#    nor keep one someone added meanwhile;
#    a reload to fail_open = yes gives them --queue-bypass (never a
#    listing without the queue rule meanwhile) and the stop removes them;
#    a reload from yes to no takes the bypass away and the stop keeps
#    them; status shows the rules' bypass;
#  - divert = iptables-nft: the same rules through the nft backend;
#  - divert = nft: loads the ruleset where the kernel can queue from nft,
#    and puts it back when a rule is added to its table, or its queue
#    rules are given another queue or lose their bypass, its loopback
#    accept is edited, or a chain is given another priority or policy
#    (the log names the first such rule or type line), and otherwise
#    fails at start (exit 1) saying
#    why, and those checks run through an nft (a wrapper in the
#    daemon's mount namespace) that loads each queue rule as a counter
#    and lists it back in nft 1.0's words;
#  - as [daemon] user (a system user made here): the diversion is put back
#    after a flush by a daemon that is no longer root; a start whose
#    check thread cannot be made (the user's process limit) fails with
#    exit 1 and removes the diversion, as a stop with fail_open = yes;
#    so does one whose watchdog thread cannot be made;
#  - the xtables lock (a file of the test's, bound over /run/xtables.lock
#    in the daemon's mount namespace, so that holding it blocks no other
#    iptables): a start waits while it is held and then installs; the
#    user daemon's check only tries it, so nfqspictl status answers at
#    once while it is held; held 10 s, it says the check is skipped,
#    restores nothing until it is free, then restores and says the
#    check runs again; the removal at SIGTERM waits for it too;
#  - an iptables that hangs (a wrapper the daemon's mount namespace runs
#    in its place): the check runs in a thread of its own, so nfqspictl
#    status answers at once while it waits; no answer is not taken for
#    a removal; the checks resume once it answers; SIGTERM during a hung
#    check ends the daemon within the bound (the command in flight, one
#    removal command); a reload's fail_open whose replacement fails keeps
#    the rules, status and the stop as installed;
#  - divert = none, idle_warn = 2, nothing diverted: traffic through dut
#    makes nfqspid warn that queue N gets no packet, nfqspictl status says
#    so, and once traffic is diverted the log says packets arrive again;
#  - the same on an HA backup ([sync] role backup): no warning, as its
#    peer takes the traffic, until nfqspictl sync role master.
#
# Copyright (C) 2026 The nfqspid authors
# SPDX-License-Identifier: GPL-2.0-or-later
# shellcheck disable=SC2317  # functions run through check and wait_for
set -u

T_NET=${T_NET:-88}
T_QUEUE=${T_QUEUE:-17}
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"

lib_init divert
command -v iptables-nft >/dev/null || skip "iptables-nft not installed"
lib_topology

# divert_config KEY=VALUE...: the test's [daemon] with these keys
divert_config()
{
	local kv
	lib_config <<EOF
[policy]
new = drop

[rule allow-5001]
proto = tcp
dport = 5001
action = accept

; dut's own INPUT and OUTPUT are diverted too: IPv6 needs this
[rule ipv6-nd]
proto = icmpv6
icmp_type = neighbour-solicitation, neighbour-advertisement
action = accept
EOF
	for kv in "$@"; do
		sed -i "/^\[daemon\]/a ${kv%%=*} = ${kv#*=}" "$T_CONF"
	done
	# lib_config says fail_open = no; the last line wins nothing in
	# ini files, so drop it when the test sets its own
	case " $* " in
	*" fail_open="*) sed -i '0,/^fail_open = no$/{/^fail_open = no$/d}' "$T_CONF" ;;
	esac
}

# the link-local addresses' DAD first: dut's own neighbour solicitations
# from :: would hold the first IPv6 connection back for seconds
no_tentative()
{
	local ns
	for ns in "$NS_C" "$NS_D" "$NS_S"; do
		[ -z "$(ip -n "$ns" -6 addr show tentative)" ] || return 1
	done
}
wait_for 50 no_tentative

bg_in "$NS_S" socat TCP6-LISTEN:5001,fork,reuseaddr SYSTEM:'echo ok'
bg_in "$NS_S" socat TCP6-LISTEN:5002,fork,reuseaddr SYSTEM:'echo ok'
wait_listen "$NS_S" tcp 5001
wait_listen "$NS_S" tcp 5002

conn() # conn ADDR PORT: the server answers "ok"
{
	[ "$(in_c timeout 3 socat -T 2 - "TCP:$1:$2,connect-timeout=2" </dev/null 2>/dev/null)" = ok ]
}
conn4() { conn "$S4" "$1"; }
conn6() { conn "[$S6]" "$1"; }

# has CMD CHAIN RULE...: iptables -C in dut
has() { local cmd=$1; shift; quiet in_d "$cmd" -w 5 -t filter -C "$@"; }
chain_exists() { quiet in_d "$1" -w 5 -t filter -S "$2"; }
jumps() { in_d "$1" -w 5 -t filter -S "$2" | grep -c -- "-j $3\$"; }

# installed CMD BYPASS: our three chains, their queue rules, the jumps
installed()
{
	local cmd=$1 b=$2
	has "$cmd" INPUT -j nfqspid-input &&
	    has "$cmd" OUTPUT -j nfqspid-output &&
	    has "$cmd" FORWARD -j nfqspid-forward &&
	    has "$cmd" nfqspid-input ! -i lo -j NFQUEUE --queue-num "$T_QUEUE" ${b:+"$b"} &&
	    has "$cmd" nfqspid-output ! -o lo -j NFQUEUE --queue-num "$T_QUEUE" ${b:+"$b"} &&
	    has "$cmd" nfqspid-forward -j NFQUEUE --queue-num "$T_QUEUE" ${b:+"$b"}
}
# bypass_is CMD yes|no: each of our chains has one queue rule, with
# (yes) or without (no) --queue-bypass, as -S lists it (ip6tables-legacy
# -C takes a rule with it and one without for the same)
bypass_is()
{
	local cmd=$1 h out
	for h in input output forward; do
		out=$(in_d "$cmd" -w 5 -t filter -S "nfqspid-$h" | grep -- "-j NFQUEUE") ||
		    return 1
		[ "$(wc -l <<<"$out")" = 1 ] || return 1
		if [ "$2" = yes ]; then
			grep -q -- "--queue-bypass" <<<"$out" || return 1
		else
			not grep -q -- "--queue-bypass" <<<"$out" || return 1
		fi
	done
}
# only_ours CMD BYPASS: each of our chains lists its queue rule alone
only_ours()
{
	local cmd=$1 b=${2:+ $2}
	[ "$(in_d "$cmd" -w 5 -t filter -S nfqspid-input 2>&1)" = "-N nfqspid-input
-A nfqspid-input ! -i lo -j NFQUEUE --queue-num $T_QUEUE$b" ] &&
	    [ "$(in_d "$cmd" -w 5 -t filter -S nfqspid-output 2>&1)" = "-N nfqspid-output
-A nfqspid-output ! -o lo -j NFQUEUE --queue-num $T_QUEUE$b" ] &&
	    [ "$(in_d "$cmd" -w 5 -t filter -S nfqspid-forward 2>&1)" = "-N nfqspid-forward
-A nfqspid-forward -j NFQUEUE --queue-num $T_QUEUE$b" ]
}
removed()
{
	local cmd=$1
	! has "$cmd" FORWARD -j nfqspid-forward &&
	    ! has "$cmd" INPUT -j nfqspid-input &&
	    ! has "$cmd" OUTPUT -j nfqspid-output &&
	    ! chain_exists "$cmd" nfqspid-forward &&
	    ! chain_exists "$cmd" nfqspid-input &&
	    ! chain_exists "$cmd" nfqspid-output
}

# restored_more N: the log has more than N "restored" lines
restored_more() { [ "$(grep -c "divert: restored" "$T_LOG")" -gt "$1" ]; }

# ctl_slowest N: the slowest of N nfqspictl status, 0.1 s apart, in ms
# (each given 2 s, 3 with the connect: a main loop that waits shows as
# 2000 and more)
ctl_slowest()
{
	local i t0 t max=0
	for ((i = 0; i < $1; i++)); do
		t0=$(date +%s%N)
		timeout 3 "$NFQSPICTL" -s "$T_CTL" -t 2 status >/dev/null 2>&1
		t=$((($(date +%s%N) - t0) / 1000000))
		[ "$t" -le "$max" ] || max=$t
		sleep 0.1
	done
	echo "$max"
}

# ---- 1. divert = iptables, bypass --------------------------------------------
divert_config divert=iptables fail_open=yes
lib_must_start "nfqspid starts with divert = iptables"
check "iptables: chains, queue rules (--queue-bypass) and jumps installed (IPv4)" \
    installed iptables-legacy --queue-bypass
check "iptables: ... and IPv6" installed ip6tables-legacy --queue-bypass
check "iptables: the log says so" log_has "divert: iptables diversion to queue $T_QUEUE installed"
check "filtered: the allowed port connects (IPv4)" conn4 5001
check "filtered: the allowed port connects (IPv6)" conn6 5001
check "filtered: the denied port does not (IPv4)" not conn4 5002
check "filtered: the denied port does not (IPv6)" not conn6 5002
check "filtered: nfqspictl sees the connection" \
    grep -q "dport=5001" <(lib_ctl conntrack)

in_d iptables-legacy -w 5 -F
check "iptables -F: our rules are gone for a moment" not installed iptables-legacy --queue-bypass
check "iptables -F: restored within 8 s" wait_for 80 installed iptables-legacy --queue-bypass
check "iptables -F: logged" log_has "divert: the iptables diversion was removed or changed"
check "iptables -F: the restore logged" log_has "divert: restored \(1 time\)"
# the restore's line follows the word status reads: no tick between
check "iptables -F: status says so at once" \
    grep -Eq "^divert +iptables, intact, restored 1 time" <(lib_ctl status)
check "after the restore: the denied port still does not connect" not conn4 5002
check "after the restore: the allowed port does" conn4 5001

in_d ip6tables-legacy -w 5 -F && in_d ip6tables-legacy -w 5 -X
check "ip6tables -F; -X: our IPv6 chains restored within 8 s" \
    wait_for 80 installed ip6tables-legacy --queue-bypass
check "ip6tables -F; -X: the restore logged" log_has "divert: restored \(2 times\)"
check "ip6tables -F; -X: status says so at once" \
    grep -Eq "^divert +iptables, intact, restored 2 times" <(lib_ctl status)
check "ip6tables -F; -X: a single jump each" [ "$(jumps ip6tables-legacy FORWARD nfqspid-forward)" = 1 ]
check "ip6tables -F; -X: filtering goes on" not conn6 5002
check "status: the diversion is intact" \
    grep -Eq "^divert +iptables, intact, restored 2 times" <(lib_ctl status)
check "status -j: divert and the queue" \
    "$PY" -c '
import json, sys
d = json.load(sys.stdin)
assert d["divert"] == {"mode": "iptables", "intact": True, "restored": 2, "bypass": True,
    "ahead": {"ipv4": {"INPUT": 0, "OUTPUT": 0, "FORWARD": 0}, "ipv6": {"INPUT": 0, "OUTPUT": 0, "FORWARD": 0}}}, d
assert d["queues"][0]["queue"] == int(sys.argv[1]) and d["queues"][0]["packets"] > 0, d
assert d["queues"][0]["warning"] is False, d' "$T_QUEUE" < <(lib_ctl -j status)

# only the bypass changed, IPv6: ip6tables-legacy -C takes the rule for
# ours, so the check lists the chain (-S) and sees it, and restores it
in_d ip6tables-legacy -w 5 -R nfqspid-forward 1 -j NFQUEUE \
    --queue-num "$T_QUEUE"
check "ip6tables -R without --queue-bypass: restored within 8 s" \
    wait_for 80 restored_more 2
check "... with --queue-bypass again" bypass_is ip6tables-legacy yes
check "... the log says which rule it missed" \
    log_has "changed \(ip6tables-legacy -w 5 -t filter -S nfqspid-forward: no rule \"-A nfqspid-forward -j NFQUEUE --queue-num $T_QUEUE --queue-bypass\"\): restoring it"
check "... status says so" \
    grep -Eq "^divert +iptables, intact, restored 3 times" <(lib_ctl status)

# a rule beside ours in a chain of ours, IPv6 and IPv4: the chain must
# hold our rules alone (-S, whole), so each is noticed, the log names
# it, and the restore leaves our rules alone there again
q2=$((T_QUEUE + 1))
# extra_noticed N CMD CHAIN LINE: restored more than N times, the log
# names LINE in CMD's listing of CHAIN, our chains are ours alone again
extra_noticed()
{
	wait_for 80 restored_more "$1" &&
	    log_has "changed \($2 -w 5 -t filter -S $3: unexpected rule \"$4\"\): restoring it" &&
	    only_ours "$2" --queue-bypass
}
n0=$(grep -c "divert: restored" "$T_LOG")
in_d ip6tables-legacy -w 5 -A nfqspid-forward -j NFQUEUE --queue-num "$T_QUEUE"
check "ip6tables -A: our rule and one without --queue-bypass: noticed, restored" \
    extra_noticed "$n0" ip6tables-legacy nfqspid-forward \
    "-A nfqspid-forward -j NFQUEUE --queue-num $T_QUEUE"
n0=$(grep -c "divert: restored" "$T_LOG")
in_d ip6tables-legacy -w 5 -I nfqspid-input 1 ! -i lo -j NFQUEUE \
    --queue-num "$q2" --queue-bypass
check "ip6tables -I: another queue ahead of ours: noticed, restored" \
    extra_noticed "$n0" ip6tables-legacy nfqspid-input \
    "-A nfqspid-input ! -i lo -j NFQUEUE --queue-num $q2 --queue-bypass"
n0=$(grep -c "divert: restored" "$T_LOG")
in_d iptables-legacy -w 5 -A nfqspid-output ! -o lo -j NFQUEUE \
    --queue-num "$T_QUEUE"
check "iptables -A: our rule and one without --queue-bypass: noticed, restored" \
    extra_noticed "$n0" iptables-legacy nfqspid-output \
    "-A nfqspid-output ! -o lo -j NFQUEUE --queue-num $T_QUEUE"
n0=$(grep -c "divert: restored" "$T_LOG")
in_d iptables-legacy -w 5 -A nfqspid-forward -j NFQUEUE --queue-num "$q2" \
    --queue-bypass
check "iptables -A: another queue after ours: noticed, restored" \
    extra_noticed "$n0" iptables-legacy nfqspid-forward \
    "-A nfqspid-forward -j NFQUEUE --queue-num $q2 --queue-bypass"
check "... IPv6's too still ours alone" only_ours ip6tables-legacy --queue-bypass
check "... the jumps to them stay single (IPv4)" \
    [ "$(jumps iptables-legacy FORWARD nfqspid-forward)" = 1 ]
check "... status says so" \
    grep -Eq "^divert +iptables, intact, restored 7 times" <(lib_ctl status)
check "... filtering goes on" not conn6 5002
check "... and the allowed port connects" conn4 5001

# a chain of ours stuffed with rules ahead of ours, past what the check
# keeps of its listing (2047 bytes): the log names the first, not ours
# as missing (they are there, past the cut)
n0=$(grep -c "divert: restored" "$T_LOG")
{
	echo '*filter'
	for i in $(seq 60); do
		echo "-I nfqspid-input $i -s 10.9.0.$i/32 -j ACCEPT"
	done
	echo COMMIT
} | in_d iptables-legacy-restore -w 5 --noflush
check "iptables: 60 rules ahead of ours in nfqspid-input: noticed, restored" \
    wait_for 80 restored_more "$n0"
check "... the log names the first, and the listing's length" \
    log_has "changed \(iptables-legacy -w 5 -t filter -S nfqspid-input: unexpected rule \"-A nfqspid-input -s 10.9.0.1/32 -j ACCEPT\" in a listing longer than 2047 bytes\): restoring it"
check "... our chains ours alone" only_ours iptables-legacy --queue-bypass

# a second jump to a chain of ours, IPv4 and IPv6: each packet would be
# diverted twice, and -X could not delete the chain; -C finds one, so
# the check lists the built-in chain and counts ours, the log says how
# many, and the restore leaves one
n0=$(grep -c "divert: restored" "$T_LOG")
in_d iptables-legacy -w 5 -A FORWARD -j nfqspid-forward
check "iptables -A FORWARD: a second jump to ours: noticed, restored" \
    wait_for 80 restored_more "$n0"
check "... the log says how many" \
    log_has "changed \(iptables-legacy -w 5 -t filter -S FORWARD: 2 jumps to nfqspid-forward\): restoring it"
check "... one jump left" [ "$(jumps iptables-legacy FORWARD nfqspid-forward)" = 1 ]
check "... our chain ours alone" only_ours iptables-legacy --queue-bypass
n0=$(grep -c "divert: restored" "$T_LOG")
# both at once: a check between two commands would see two
printf '*filter\n-I INPUT 1 -j nfqspid-input\n-I INPUT 1 -j nfqspid-input\nCOMMIT\n' |
    in_d ip6tables-legacy-restore -w 5 --noflush
check "ip6tables: three jumps to ours: noticed, restored" \
    wait_for 80 restored_more "$n0"
check "... the log says how many" \
    log_has "changed \(ip6tables-legacy -w 5 -t filter -S INPUT: 3 jumps to nfqspid-input\): restoring it"
check "... one jump left" [ "$(jumps ip6tables-legacy INPUT nfqspid-input)" = 1 ]
check "... installed whole" installed ip6tables-legacy --queue-bypass
check "... status says so" \
    grep -Eq "^divert +iptables, intact, restored 10 times" <(lib_ctl status)
check "... filtering goes on" not conn6 5002

# rules ahead of our jump (another's, as Docker's at the top): they
# decide first, so the log says so once a change and status while it
# lasts; no damage: nothing restored, our jump stays behind them
n0=$(grep -c "divert: restored" "$T_LOG")
# ahead_said LINE: the log has "divert: LINE" (an ERE; no wait of its
# own, as log_has's, inside wait_for)
ahead_said() { grep -Eq -- "divert: $1" "$T_LOG"; }
ahead_count() { grep -Ec "divert: $1" "$T_LOG"; }
a4="FORWARD \(IPv4\): 1 rule ahead of our jump"
a6="OUTPUT \(IPv6\): 2 rules ahead of our jump"
in_d iptables-legacy -w 5 -I FORWARD 1 -s 192.0.2.1/32 -j ACCEPT
check "iptables -I FORWARD 1: a rule ahead of our jump: logged" \
    wait_for 80 ahead_said "$a4: what it decides skips nfqspid; left so"
check "... status says so" grep -Eq "^divert ahead +WARNING: $a4\$" <(lib_ctl status)
check "... status -j too" "$PY" -c '
import json, sys
d = json.load(sys.stdin)["divert"]["ahead"]
assert d == {"ipv4": {"INPUT": 0, "OUTPUT": 0, "FORWARD": 1},
    "ipv6": {"INPUT": 0, "OUTPUT": 0, "FORWARD": 0}}, d' < <(lib_ctl -j status)
check "... left where it is: our jump second" \
    [ "$(in_d iptables-legacy -w 5 -S FORWARD | grep -- '^-A' | sed -n 2p)" = "-A FORWARD -j nfqspid-forward" ]
printf '*filter\n-I OUTPUT 1 -d 2001:db8::1/128 -j ACCEPT\n-I OUTPUT 1 -d 2001:db8::2/128 -j ACCEPT\nCOMMIT\n' |
    in_d ip6tables-legacy-restore -w 5 --noflush
check "ip6tables: two rules ahead of our jump: logged" \
    wait_for 80 ahead_said "$a6: what they decide skips nfqspid; left so"
check "... the IPv4 one said once, not at each check" [ "$(ahead_count "$a4")" = 1 ]
check "... status has both" \
    grep -Eq "^divert ahead +WARNING: $a4; $a6\$" <(lib_ctl status)
in_d iptables-legacy -w 5 -D FORWARD -s 192.0.2.1/32 -j ACCEPT
check "iptables -D: none ahead any more: logged" \
    wait_for 80 ahead_said "FORWARD \(IPv4\): no rule ahead of our jump any more"
check "... status has IPv6's alone" \
    grep -Eq "^divert ahead +WARNING: $a6\$" <(lib_ctl status)
in_d ip6tables-legacy -w 5 -D OUTPUT -d 2001:db8::1/128 -j ACCEPT
in_d ip6tables-legacy -w 5 -D OUTPUT -d 2001:db8::2/128 -j ACCEPT
check "ip6tables -D: none ahead any more: logged" \
    wait_for 80 ahead_said "OUTPUT \(IPv6\): no rule ahead of our jump any more"
check "... status has no warning" not grep -q "^divert ahead" <(lib_ctl status)
check "... nothing was restored meanwhile" \
    test "$(grep -c "divert: restored" "$T_LOG")" -eq "$n0"
check "... status says so" \
    grep -Eq "^divert +iptables, intact, restored 10 times" <(lib_ctl status)

# nfqspictl nft: the ruleset for this queue; it loads where the kernel
# can queue from nft, and its syntax holds anyway (queue as counter)
nftrs=$(lib_ctl nft)
check "nft: table inet nfqspid with the three hooks" \
    test "$(grep -c "type filter hook \(input\|output\|forward\) priority filter; policy accept;" <<<"$nftrs")" = 3
check "nft: queue $T_QUEUE with bypass in each" \
    test "$(grep -c "^[[:space:]]*queue num $T_QUEUE bypass\$" <<<"$nftrs")" = 3
check "nft: loopback excepted" grep -q 'iifname "lo" accept' <<<"$nftrs"
check "nft -j: the same text" \
    "$PY" -c 'import json, sys; d = json.load(sys.stdin); assert d["table"] == "inet nfqspid"; assert d["ruleset"] == sys.argv[1] + "\n", d' \
    "$nftrs" < <(lib_ctl -j nft)
if command -v nft >/dev/null; then
	# shellcheck disable=SC2001  # per line: ${//} would take the rest
	sed 's/queue num .*/counter/' <<<"$nftrs" >"$T_TMP/syntax.nft"
	check "nft: the ruleset's syntax loads (queue as counter)" \
	    quiet in_d nft -f "$T_TMP/syntax.nft"
	check "nft: loaded twice, one table" quiet in_d nft -f "$T_TMP/syntax.nft"
	check "nft: ... one table" \
	    test "$(in_d nft list tables | grep -c 'inet nfqspid')" = 1
	in_d nft delete table inet nfqspid 2>/dev/null
fi

# the stop with a second jump to a chain of ours: it deletes every
# copy, or -X fails (a check just before may find them and restore one)
in_d iptables-legacy -w 5 -A OUTPUT -j nfqspid-output
in_d ip6tables-legacy -w 5 -A FORWARD -j nfqspid-forward
lib_stop_daemon
check "SIGTERM: exit 0" [ "${T_DRC:-1}" = 0 ]
check "SIGTERM with fail_open = yes and two jumps: every rule and chain of ours removed (IPv4)" removed iptables-legacy
check "... and IPv6" removed ip6tables-legacy
check "... no jump left" \
    [ "$(jumps iptables-legacy OUTPUT nfqspid-output)$(jumps ip6tables-legacy FORWARD nfqspid-forward)" = 00 ]
check "... no removal failed" log_lacks "divert: removing the"
check "SIGTERM: the log says so" log_has "divert: the iptables diversion is removed"
check "without nfqspid, nothing filters: the denied port connects" conn4 5002

# A stop as systemd's does it: SIGTERM to the daemon and to every
# process of its unit, the commands it starts for the removal among
# them (they block it: killed, one left a chain jumped to).
lib_must_start "nfqspid starts again (fail_open = yes)"
check "... its diversion installed" installed iptables-legacy --queue-bypass
dpid=$T_DPID
kill -TERM "$dpid"
for _ in $(seq 400); do
	pkill -TERM -P "$dpid" 2>/dev/null
	kill -0 "$dpid" 2>/dev/null || break
done
lib_stop_daemon
check "SIGTERM to it and its commands: every rule and chain removed (IPv4)" \
    removed iptables-legacy
check "... and IPv6" removed ip6tables-legacy
check "... no removal failed" log_lacks "divert: removing the"

# A stop just after someone took the diversion away (or after a restore
# the stop cut short): what is gone already is not a failure.
lib_must_start "nfqspid starts again, to be stopped with its rules gone"
check "... its diversion installed" installed iptables-legacy --queue-bypass
n0=$(grep -c "divert: the iptables diversion is removed" "$T_LOG")
for ipt in iptables-legacy ip6tables-legacy; do
	for h in input output forward; do
		H=${h^^}
		in_d "$ipt" -w 5 -D "$H" -j "nfqspid-$h"
		[ "$h" = output ] || in_d "$ipt" -w 5 -F "nfqspid-$h"
		[ "$h" = output ] || in_d "$ipt" -w 5 -X "nfqspid-$h"
	done
done
lib_stop_daemon
check "stopped with its rules taken away by hand: nothing left (IPv4)" \
    removed iptables-legacy
check "... and IPv6" removed ip6tables-legacy
check "... no removal failed" log_lacks "divert: removing the"
check "... the log says it is removed" \
    test "$(grep -c "divert: the iptables diversion is removed" "$T_LOG")" -gt "$n0"

# An operator's own jumps to a chain of ours, with matches of their
# own, ahead of ours: no rule ahead (what they match still reaches the
# queue), however long their line (a comment of 256 characters), and
# left where they are.  They keep -X from deleting our chain: the stop
# says so, naming the first (a long line by its start and its end);
# the next start fills the chain again.
lib_must_start "nfqspid starts again, for an operator's jump to its chain"
ahead1="FORWARD \(IPv4\): 1 rule ahead of our jump"
n1=$(ahead_count "$ahead1")
cmt=$(printf 'x%.0s' {1..256})
printf '*filter\n-I FORWARD 1 -i eth0 -j nfqspid-forward\n-I FORWARD 1 -i eth1 -m comment --comment "%s" -j nfqspid-forward\n-I FORWARD 1 -s 192.0.2.7/32 -j ACCEPT\nCOMMIT\n' "$cmt" |
    in_d iptables-legacy-restore -w 5 --noflush
ahead_more() { [ "$(ahead_count "$ahead1")" -gt "$n1" ]; }
check "an operator's jumps to our chain (one of 314 characters) and a rule ahead of ours: 1 rule ahead, not 3" \
    wait_for 80 ahead_more
check "... said of no other count" \
    not grep -Eq "divert: FORWARD \(IPv4\): [02-9][0-9]* rules? ahead" "$T_LOG"
check "... status -j: 1 ahead" "$PY" -c '
import json, sys
d = json.load(sys.stdin)["divert"]["ahead"]["ipv4"]
assert d["FORWARD"] == 1, d' < <(lib_ctl -j status)
in_d iptables-legacy -w 5 -D FORWARD -s 192.0.2.7/32 -j ACCEPT
lib_stop_daemon
check "... the stop cannot delete the chain, and says why, naming the first jump by its start and its end" \
    log_has "divert: removing the iptables diversion: iptables-legacy -w 5 -t filter -X nfqspid-forward: failed: .*; nfqspid-forward is still referenced by \"-A FORWARD -i eth1 -m comment --comment x{60}\.\.\.x{78} -j nfqspid-forward\" and more\$"
check "... the operator's jumps are left" has iptables-legacy FORWARD -i eth0 -j nfqspid-forward
check "... the long one too" \
    has iptables-legacy FORWARD -i eth1 -m comment --comment "$cmt" -j nfqspid-forward
check "... our own is gone" not has iptables-legacy FORWARD -j nfqspid-forward
lib_must_start "nfqspid starts with the chain still there, an operator's jump to it"
check "... its diversion installed" installed iptables-legacy --queue-bypass
check "... our chain ours alone" only_ours iptables-legacy --queue-bypass
check "... the operator's jump still there" \
    has iptables-legacy FORWARD -i eth0 -j nfqspid-forward
lib_stop_daemon
in_d iptables-legacy -w 5 -D FORWARD -i eth0 -j nfqspid-forward
in_d iptables-legacy -w 5 -D FORWARD -i eth1 -m comment --comment "$cmt" -j nfqspid-forward
in_d iptables-legacy -w 5 -X nfqspid-forward
check "... and with it gone, nothing of ours left" removed iptables-legacy

# ---- 2. fail-closed ----------------------------------------------------------
divert_config divert=iptables fail_open=no
lib_must_start "nfqspid starts fail-closed"
check "fail_open = no: no --queue-bypass" installed iptables-legacy ""
check "fail_open = no: really none" not has iptables-legacy nfqspid-forward -j NFQUEUE --queue-num "$T_QUEUE" --queue-bypass
lib_stop_daemon
check "fail_open = no: the diversion stays after SIGTERM" installed iptables-legacy ""
check "fail_open = no: the log says why" log_has "diversion stays \(fail_open = no\)"
check "fail_open = no: nothing is forwarded while nfqspid is down" not conn4 5001
# and a second jump to it meanwhile: the start deletes both first
in_d iptables-legacy -w 5 -A FORWARD -j nfqspid-forward
in_d ip6tables-legacy -w 5 -A INPUT -j nfqspid-input
lib_must_start "nfqspid starts again"
check "the next start: one jump, not two or three" [ "$(jumps iptables-legacy FORWARD nfqspid-forward)" = 1 ]
check "... IPv6 too" [ "$(jumps ip6tables-legacy INPUT nfqspid-input)" = 1 ]
check "the next start: filtering again" conn4 5001
# a reload's fail_open reaches the diversion too: the check thread
# replaces its rules with no moment in which packets are not diverted
# (watched: every listing of a chain has its queue rule), and the stop
# does what the new fail_open says
divert_config divert=iptables fail_open=yes
# watch_chain SECONDS: list nfqspid-forward again and again; the
# listings without a queue rule in $T_TMP/gaps, the others in .../seen.
# With a lock of its own: one that waits for the daemon's would list
# only between its batches of commands.
watch_chain()
{
	local end=$((SECONDS + $1)) out
	: >"$T_TMP/gaps"
	: >"$T_TMP/seen"
	while [ "$SECONDS" -lt "$end" ]; do
		out=$(XTABLES_LOCKFILE=$T_TMP/watch.lock \
		    in_d iptables-legacy -S nfqspid-forward 2>&1)
		if grep -q -- "-j NFQUEUE" <<<"$out"; then
			echo >>"$T_TMP/seen"
		else
			echo "$out" >>"$T_TMP/gaps"
		fi
	done
}
watch_chain 4 &
watcher=$!
sleep 0.5
check "reload to fail_open = yes: accepted" quiet lib_ctl reload
check "... the log says the rules are being replaced" \
    log_has "reload: fail_open = yes: the iptables diversion's rules are being replaced by rules with --queue-bypass, removed at the stop"
check "... the rules have --queue-bypass now, the old ones gone (IPv4)" \
    wait_for 50 bypass_is iptables-legacy yes
check "... and IPv6" wait_for 30 bypass_is ip6tables-legacy yes
check "... the jumps to them stay (IPv4)" installed iptables-legacy --queue-bypass
check "... and IPv6" installed ip6tables-legacy --queue-bypass
check "... the log says it is done" \
    log_has "divert: fail_open = yes: the iptables diversion's rules are now with --queue-bypass, removed at the stop"
wait "$watcher"
check "... never a moment without the queue rule ($(wc -l <"$T_TMP/seen") listings)" \
    test ! -s "$T_TMP/gaps" -a -s "$T_TMP/seen"
check "... status shows the rules' bypass" \
    grep -Eq "^divert +iptables, intact, restored 0 times, with --queue-bypass, removed at the stop" <(lib_ctl status)
check "... status -j too" "$PY" -c '
import json, sys
d = json.load(sys.stdin)["divert"]
assert d == {"mode": "iptables", "intact": True, "restored": 0, "bypass": True,
    "ahead": {"ipv4": {"INPUT": 0, "OUTPUT": 0, "FORWARD": 0}, "ipv6": {"INPUT": 0, "OUTPUT": 0, "FORWARD": 0}}}, d' \
    < <(lib_ctl -j status)
check "... filtering goes on" not conn4 5002
lib_stop_daemon
check "... the stop removes them, as fail_open = yes does (IPv4)" removed iptables-legacy
check "... and IPv6" removed ip6tables-legacy

# and back: fail_open = yes to no, the closed diversion kept at the stop
lib_must_start "nfqspid starts with fail_open = yes"
check "... its rules have --queue-bypass" installed iptables-legacy --queue-bypass
divert_config divert=iptables fail_open=no
check "reload to fail_open = no: accepted" quiet lib_ctl reload
check "... the rules lose --queue-bypass, none left with it (IPv4)" \
    wait_for 50 bypass_is iptables-legacy no
check "... and IPv6" wait_for 30 bypass_is ip6tables-legacy no
check "... the jumps to them stay" installed iptables-legacy ""
check "... the log says so" \
    log_has "divert: fail_open = no: the iptables diversion's rules are now without --queue-bypass, kept at the stop"
check "... status too" \
    grep -Eq "^divert +iptables, intact, restored 0 times, without --queue-bypass, kept at the stop" <(lib_ctl status)
# the other way: an IPv6 rule given --queue-bypass (fail-open) is put back
n0=$(grep -c "divert: restored" "$T_LOG")
in_d ip6tables-legacy -w 5 -R nfqspid-input 1 ! -i lo -j NFQUEUE \
    --queue-num "$T_QUEUE" --queue-bypass
check "ip6tables -R with --queue-bypass: restored within 8 s" \
    wait_for 80 restored_more "$n0"
check "... without --queue-bypass again (IPv6)" bypass_is ip6tables-legacy no
n0=$(grep -c "diversion stays (fail_open = no)" "$T_LOG")
lib_stop_daemon
check "... the stop keeps the closed diversion, as fail_open = no does" \
    installed iptables-legacy ""
check "... without --queue-bypass (IPv4)" bypass_is iptables-legacy no
check "... and IPv6" bypass_is ip6tables-legacy no
check "... the log says why" \
    test "$(grep -c "diversion stays (fail_open = no)" "$T_LOG")" -gt "$n0"
check "... nothing is forwarded while nfqspid is down" not conn4 5001
# what an operator does to open a stopped fail-closed firewall: the
# lines of nfqspid(8) for divert = iptables, as printed
sed -n '/^To open a stopped/,/^\.Ed/p' "$top_srcdir/man/nfqspid.8" |
    sed -n '/^\.Bd/,/^done /p' | sed '1d' >"$T_TMP/open.sh"
check "nfqspid(8) has the lines that open it ($(wc -l <"$T_TMP/open.sh"))" \
    grep -q iptables-legacy "$T_TMP/open.sh"
# (with a lock of our own, so that a test beside this one holding the
# system's cannot hold them back)
XTABLES_LOCKFILE=$T_TMP/xtables.lock in_d bash "$T_TMP/open.sh" 2>/dev/null
check "fail_open = no: removed by hand as nfqspid(8) says" removed iptables-legacy
check "... and IPv6" removed ip6tables-legacy

# ---- 3. divert = iptables-nft --------------------------------------------------
divert_config divert=iptables-nft fail_open=yes
if lib_start_daemon; then
	check "iptables-nft: installed through the nft backend (IPv4)" \
	    installed iptables-nft --queue-bypass
	check "iptables-nft: ... and IPv6" installed ip6tables-nft --queue-bypass
	check "iptables-nft: filtered" not conn4 5002
	check "iptables-nft: allowed" conn4 5001
	n0=$(grep -c "divert: restored" "$T_LOG")
	in_d iptables-nft -F
	check "iptables-nft -F: restored within 8 s" wait_for 80 installed iptables-nft --queue-bypass
	# IPv4 is back before IPv6 is: the whole restore before the stop,
	# which would cut it short, and this stop's removal whole
	check "iptables-nft -F: the restore logged" wait_for 50 restored_more "$n0"
	rm0=$(grep -c "divert: removing the" "$T_LOG")
	lib_stop_daemon
	check "iptables-nft: no removal failed" \
	    test "$(grep -c "divert: removing the" "$T_LOG")" -eq "$rm0"
	check "iptables-nft: removed at SIGTERM" removed iptables-nft
	check "iptables-nft: ... and IPv6" removed ip6tables-nft
else
	fail "nfqspid did not start with divert = iptables-nft"
fi

# ---- 4. divert = nft -----------------------------------------------------------
# nft_noticed N WHAT SAID WHY AGAIN GONE: WHAT, done to our table since
# the log had N restores, noticed and restored, the log naming it as
# changed (WHY, an ERE), GONE (an ERE) out of its listing again ($list,
# nft_edited's); three checks, "nft: WHAT: noticed, restored", "... the
# log SAID", "... AGAIN again"
nft_noticed()
{
	check "nft: $2: noticed, restored" wait_for 80 restored_more "$1"
	check "... the log $3" log_has "changed \($4\): restoring it"
	check "... $5 again" not grep -Eq "$6" <($list)
}
# nft_edited LOAD LIST: our table edited by someone (LOAD: nft -f - in
# dut, LIST: nft list table inet nfqspid there, as the daemon's nft
# does them), as an edit or a table another configuration left would:
# a rule added (counted), our queue rules given another queue, then
# their bypass taken away (each rule's words compared), the loopback's
# accept edited, a chain's priority, then its policy changed (each
# chain's type line compared), rules put ahead of ours past what the
# check reads (judged line by line), a set added, the table made
# dormant (lines of the table's own); each noticed, named in the log as
# iptables names an unexpected rule, and restored
nft_edited()
{
	local load=$1 list=$2 nftq n0 q2=$((T_QUEUE + 1))
	# a rule of someone's in our table: its rules are counted
	n0=$(grep -c "divert: restored" "$T_LOG")
	in_d nft add rule inet nfqspid forward counter
	nft_noticed "$n0" "a rule added to our table" "says so" \
	    "table inet nfqspid has 6 rules of 5" "our rules alone" \
	    "^[[:space:]]*counter packets [0-9]+ bytes [0-9]+\$"
	nftq=$(lib_ctl nft)
	n0=$(grep -c "divert: restored" "$T_LOG")
	printf '%s\n' "${nftq//"queue num $T_QUEUE bypass"/"queue num $q2 bypass"}" |
	    $load
	check "nft: our table with queue $q2 in each queue rule: noticed, restored" \
	    wait_for 80 restored_more "$n0"
	check "... the log names the first rule" \
	    log_has "changed \(table inet nfqspid chain input: unexpected rule \"queue (flags bypass to|num) $q2( bypass)?\"\): restoring it"
	check "... queue $T_QUEUE with bypass again" \
	    test "$(grep -Ec "queue (flags bypass to|num) $T_QUEUE( bypass)?\$" <($list))" = 3
	check "... status says so" \
	    grep -Eq "^divert +nft, intact, restored 2 times, with bypass, removed at the stop" <(lib_ctl status)
	n0=$(grep -c "divert: restored" "$T_LOG")
	printf '%s\n' "${nftq//"queue num $T_QUEUE bypass"/"queue num $T_QUEUE"}" |
	    $load
	check "nft: our table without bypass: noticed, restored" \
	    wait_for 80 restored_more "$n0"
	check "... the log names the first rule" \
	    log_has "changed \(table inet nfqspid chain input: unexpected rule \"queue (to|num) $T_QUEUE\"\): restoring it"
	check "... with bypass again" \
	    test "$(grep -Ec "queue (flags bypass to|num) $T_QUEUE( bypass)?\$" <($list))" = 3
	check "... status -j says so" "$PY" -c '
import json, sys
d = json.load(sys.stdin)["divert"]
assert d["mode"] == "nft" and d["intact"] is True and d["restored"] == 3 and d["bypass"] is True, d' \
	    < <(lib_ctl -j status)
	# our other rules' words and each chain's type line are compared
	# too: the loopback's accept edited, a chain's priority, a policy
	n0=$(grep -c "divert: restored" "$T_LOG")
	printf '%s\n' "${nftq//'iifname "lo" accept'/'iifname "lo0" accept'}" |
	    $load
	check "nft: our table with input's loopback accept for lo0: noticed, restored" \
	    wait_for 80 restored_more "$n0"
	check "... the log names the rule" \
	    log_has "changed \(table inet nfqspid chain input: unexpected rule \"iifname \"lo0\" accept\"\): restoring it"
	check "... lo's accept again" \
	    grep -Eq '^[[:space:]]*iifname "lo" accept$' <($list)
	n0=$(grep -c "divert: restored" "$T_LOG")
	printf '%s\n' "${nftq//"hook output priority filter;"/"hook output priority filter + 10;"}" |
	    $load
	check "nft: our output chain at another priority: noticed, restored" \
	    wait_for 80 restored_more "$n0"
	check "... the log names its type line" \
	    log_has "changed \(table inet nfqspid chain output: unexpected type \"type filter hook output priority filter \+ 10; policy accept;\"\): restoring it"
	n0=$(grep -c "divert: restored" "$T_LOG")
	printf '%s\n' "${nftq//"hook forward priority filter; policy accept;"/"hook forward priority filter; policy drop;"}" |
	    $load
	check "nft: our forward chain with policy drop: noticed, restored" \
	    wait_for 80 restored_more "$n0"
	check "... the log names its type line" \
	    log_has "changed \(table inet nfqspid chain forward: unexpected type \"type filter hook forward priority filter; policy drop;\"\): restoring it"
	check "... each chain's type line ours again" \
	    test "$(grep -Ec "^[[:space:]]*type filter hook (input|output|forward) priority filter; policy accept;\$" <($list))" = 3
	check "... status says so" \
	    grep -Eq "^divert +nft, intact, restored 6 times, with bypass, removed at the stop" <(lib_ctl status)
	# our input chain stuffed with rules ahead of ours, past what the
	# check reads of its listing (2047 bytes): the log names the first,
	# not our queue rules as missing (they are there, past the cut)
	n0=$(grep -c "divert: restored" "$T_LOG")
	for i in $(seq 80 -1 1); do
		echo "insert rule inet nfqspid input ip saddr 10.9.0.$i accept"
	done | in_d nft -f -
	nft_noticed "$n0" \
	    "80 rules ahead of ours in input, a listing past 2047 bytes" \
	    "names the first, and the listing's length" \
	    "table inet nfqspid chain input: unexpected rule \"ip saddr 10\.9\.0\.1 accept\" in a listing longer than 2047 bytes" \
	    "our rules alone" "10\.9\.0\."
	# a set added to our table, then the table made dormant (ours do
	# nothing then): lines of the table's own, no rules, named
	n0=$(grep -c "divert: restored" "$T_LOG")
	in_d nft add set inet nfqspid s '{ type ipv4_addr; }'
	nft_noticed "$n0" "a set added to our table" "names it" \
	    "table inet nfqspid: unexpected line \"set s \{\"" "no set" "set s"
	n0=$(grep -c "divert: restored" "$T_LOG")
	in_d nft add table inet nfqspid '{ flags dormant; }'
	nft_noticed "$n0" "our table made dormant" "names its flags" \
	    "table inet nfqspid: unexpected line \"flags dormant\"" \
	    "not dormant" "dormant"
}
nft_real_load() { in_d nft -f -; }
nft_real_list() { in_d nft list table inet nfqspid; }
if command -v nft >/dev/null; then
	nft_queue=no
	printf 'table inet nfqspi_probe { chain c { type filter hook forward priority 0; queue num %s bypass; } }\n' \
	    "$T_QUEUE" | quiet in_d nft -f - && nft_queue=yes
	quiet in_d nft delete table inet nfqspi_probe
	divert_config divert=nft fail_open=yes
	if [ "$nft_queue" = yes ]; then
		lib_must_start "nfqspid starts with divert = nft"
		check "nft: table inet nfqspid loaded" quiet in_d nft list table inet nfqspid
		check "nft: filtered" not conn4 5002
		check "nft: allowed" conn4 5001
		nft_edited nft_real_load nft_real_list
		lib_stop_daemon
		check "nft: the table removed at SIGTERM" not quiet in_d nft list table inet nfqspid
	else
		echo "note: this kernel cannot queue from nft (no nft_queue)"
		# The check and restore all the same: nft in the daemon's
		# mount namespace (a wrapper bound over it) loads each
		# queue statement as a counter whose comment names it, and
		# lists it back in nft 1.0's words.  Nothing is queued:
		# nothing filtered either.
		nft_bin=$(command -v nft)
		NFT_IN='s/queue num ([0-9-]+)( bypass)?$/counter comment "nfqspi-queue \1\2"/'
		NFT_OUT='s/counter packets [0-9]+ bytes [0-9]+ comment "nfqspi-queue ([0-9-]+) bypass"/queue flags bypass to \1/;s/counter packets [0-9]+ bytes [0-9]+ comment "nfqspi-queue ([0-9-]+)"/queue to \1/'
		if cp "$nft_bin" "$T_TMP/nft-real"; then
			cat >"$T_TMP/nft-wrap" <<EOF
#!/bin/bash
set -o pipefail
case "\$*" in
"-f -")	sed -E '$NFT_IN' | "$T_TMP/nft-real" -f - ;;
"list table inet nfqspid")
	"$T_TMP/nft-real" "\$@" | sed -E '$NFT_OUT' ;;
*)	exec "$T_TMP/nft-real" "\$@" ;;
esac
EOF
			chmod 0755 "$T_TMP/nft-wrap"
			nft_emul_load() { sed -E "$NFT_IN" | in_d nft -f -; }
			nft_emul_list() { in_d "$T_TMP/nft-wrap" list table inet nfqspid; }
			# shellcheck disable=SC2016  # sh -c expands it
			T_DWRAP=(unshare -m --propagation private sh -c '
			    mount --bind "$1" "$2" && shift 2 && exec "$@"' sh \
			    "$T_TMP/nft-wrap" "$nft_bin")
			lib_must_start "nfqspid starts with divert = nft (queue as counter)"
			check "nft (queue as counter): table inet nfqspid loaded" \
			    test "$(nft_emul_list | grep -c "queue flags bypass to $T_QUEUE\$")" = 3
			nft_edited nft_emul_load nft_emul_list
			lib_stop_daemon
			check "nft (queue as counter): the table removed at SIGTERM" \
			    not quiet in_d nft list table inet nfqspid
			T_DWRAP=()
		fi
		in_d "$NFQSPID" -f -c "$T_CONF" >"$T_TMP/nft.out" 2>&1
		rc=$?
		check "nft without nft_queue: start fails with exit 1 (got $rc)" [ "$rc" = 1 ]
		check "nft without nft_queue: the error says why and what to use" \
		    grep -q "nftables queue expression (nft_queue).*use divert = iptables-nft" "$T_TMP/nft.out"
		check "nft without nft_queue: nothing left behind" not quiet in_d nft list table inet nfqspid
	fi
else
	echo "note: nft not installed: divert = nft not tried"
fi

# ---- 5. as [daemon] user ---------------------------------------------------------
U=nfqspi-dv-$$
if useradd --system --user-group --no-create-home --home-dir / \
    --shell /usr/sbin/nologin "$U" 2>/dev/null; then
	trap 'rc=$?; userdel "$U" 2>/dev/null; groupdel "$U" 2>/dev/null; (exit $rc); lib_cleanup' EXIT
	chmod 0711 "$T_TMP"
	divert_config divert=iptables fail_open=yes "user=$U"
	# the daemon's /run/xtables.lock is the test's $XLOCK: held by the
	# test, it holds back no iptables but the daemon's
	XLOCK=$T_TMP/xtables.lock
	: >"$XLOCK"
	xlock=no
	if [ -f /run/xtables.lock ]; then
		# shellcheck disable=SC2016  # sh -c expands it
		T_DWRAP=(unshare -m --propagation private sh -c '
		    mount --bind "$1" /run/xtables.lock && shift &&
		    exec "$@"' sh "$XLOCK")
		xlock=yes
		# hold_lock: hold $XLOCK until release_lock (30 s at most);
		# release_after S: release it in S seconds
		hold_lock()
		{
			rm -f "$T_TMP/held" "$T_TMP/release"
			# shellcheck disable=SC2016
			flock "$XLOCK" sh -c 'touch "$1/held"; n=0
			    while [ ! -e "$1/release" ] && [ "$n" -lt 300 ]; do
				sleep 0.1; n=$((n + 1)); done' sh "$T_TMP" &
			HOLDER=$!
			wait_for 50 test -e "$T_TMP/held"
		}
		release_lock() { touch "$T_TMP/release"; wait "$HOLDER"; }
		release_after() { (sleep "$1"; touch "$T_TMP/release") & }
		waited() { grep -c "divert: waited [0-9.]* s for the xtables lock (/run/xtables.lock)" "$T_LOG"; }
		# lockopen: the daemon has the lock open (it waits on it)
		lockopen()
		{
			find "/proc/$T_DPID/fd" -lname /run/xtables.lock 2>/dev/null |
			    grep -q .
		}
		w0=$(waited)
		hold_lock
		# shellcheck disable=SC2086  # as lib_start_daemon
		ip netns exec "$NS_D" "${T_DWRAP[@]}" "${T_VG[@]}" "$NFQSPID" \
		    -f -c "$T_CONF" >>"$T_LOG" 2>&1 &
		T_DPID=$!
		check "xtables lock held: the start opens it and waits" \
		    wait_for $((100 * T_SLOW)) lockopen
		sleep 1.5
		check "... installing nothing meanwhile" \
		    not chain_exists iptables-legacy nfqspid-input
		release_lock
		started() { lib_wait_daemon; }
	else
		echo "note: no /run/xtables.lock: the lock not tried"
		started() { lib_start_daemon; }
	fi
	if started; then
		check "user: installed" installed iptables-legacy --queue-bypass
		[ "$xlock" = no ] ||
		    check "xtables lock: the start waited for it, and says so" \
		    test "$(waited)" -gt "$w0"
		check "user: the daemon runs as $U" \
		    grep -q "^Uid:.*[[:space:]]$(id -u "$U")[[:space:]]" "/proc/$T_DPID/status"
		# its threads, the check thread and the watchdog the last
		uthreads=$(find "/proc/$T_DPID/task" -mindepth 1 -maxdepth 1 | wc -l)
		n0=$(grep -c "divert: restored" "$T_LOG")
		in_d iptables-legacy -w 5 -F
		check "user: restored after iptables -F by the unprivileged daemon" \
		    wait_for 80 installed iptables-legacy --queue-bypass
		check "user: ... and it says so" wait_for 30 restored_more "$n0"
		check "user: filtered" not conn4 5002
		if [ "$xlock" = yes ]; then
			# iptables -F takes the system's lock, not $XLOCK
			hold_lock
			n0=$(grep -c "divert: restored" "$T_LOG")
			in_d iptables-legacy -w 5 -F
			# a check only tries it: the main loop (the
			# control socket) goes on; 7 s cover a check
			slow=$(ctl_slowest 70)
			check "xtables lock held: nfqspictl status answers within $((600 * T_SLOW)) ms (slowest: $slow ms)" \
			    test "$slow" -lt $((600 * T_SLOW))
			check "xtables lock held: after 10 s the log says the check is skipped" \
			    wait_for $((150 * T_SLOW)) grep -Eq "divert: another program has held the xtables lock \(/run/xtables.lock\) for at least [0-9]+ s: the iptables diversion goes unchecked until it is free" "$T_LOG"
			check "xtables lock held: said once" test "$(grep -c "has held the xtables lock" "$T_LOG")" -eq 1
			check "xtables lock held: nothing restored meanwhile" \
			    not installed iptables-legacy --queue-bypass
			release_lock
			check "xtables lock free: restored" \
			    wait_for 80 installed iptables-legacy --queue-bypass
			check "... the log says so" wait_for 30 restored_more "$n0"
			check "... and that the check runs again" \
			    log_has "divert: the xtables lock is free again after at least [0-9]+ s: checking the iptables diversion again"
			w0=$(waited)
			hold_lock
			release_after 2
		fi
		# this stop's own: an earlier section may have said it
		rm0=$(grep -c "divert: removing the" "$T_LOG")
		lib_stop_daemon
		check "user: removed at SIGTERM" removed iptables-legacy
		if [ "$xlock" = yes ]; then
			wait "$HOLDER"
			check "xtables lock: the removal waited for it" \
			    test "$(waited)" -gt "$w0"
			check "... and none failed" \
			    test "$(grep -c "divert: removing the" "$T_LOG")" -eq "$rm0"
		fi
		T_DWRAP=()
	else
		fail "nfqspid did not start as $U with divert = iptables"
		T_DWRAP=()
	fi
	# The check thread cannot start: $U's process limit at the threads
	# the daemon had before it (all but the check thread and the
	# watchdog), which it reaches only once it is $U.  The start fails
	# (exit 1) saying why, after doing what a stop does with the
	# diversion (fail_open = yes: removed).  A lock of its own.
	if [ -n "${uthreads:-}" ]; then
		lim=$((uthreads - 2))
		XTABLES_LOCKFILE=$T_TMP/xtables-nproc.lock in_d timeout 20 \
		    prlimit --nproc="$lim:$lim" "$NFQSPID" -f -c "$T_CONF" \
		    >"$T_TMP/nproc.out" 2>&1
		rc=$?
		check "no check thread ($U's nproc $lim of $uthreads threads): the start fails with exit 1 (got $rc)" \
		    [ "$rc" = 1 ]
		check "... saying why" grep -q \
		    "divert: the check thread cannot start: Resource temporarily unavailable" \
		    "$T_TMP/nproc.out"
		check "... its diversion removed, as a stop with fail_open = yes does (IPv4)" \
		    removed iptables-legacy
		check "... and IPv6" removed ip6tables-legacy
		check "... and says so" grep -q "divert: the iptables diversion is removed" \
		    "$T_TMP/nproc.out"
		# The watchdog cannot start (the check thread can): a start
		# left to run on with no watchdog would end no hung worker;
		# it fails the same way (the old daemon ran on: timeout)
		# (in systemd's place, an abstract socket: the daemon is $U;
		# with it the start has one thread more, sdping.c's, which
		# the count above, made without it, lacks)
		lim=$uthreads
		WN=$T_TMP/wd-notify.txt
		: >"$WN"
		bg_in "$NS_D" "$PY" -c '
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind("\0" + sys.argv[1])
s.settimeout(30)
f = open(sys.argv[2], "a", buffering=1)
f.write("listening\n")
while True:
    f.write(s.recv(4096).decode(errors="replace").replace("\n", " | ") + "\n")
' "nfqspid-dv-wd-$$" "$WN"
		wait_for 50 grep -qx listening "$WN" ||
		    fail "the notify listener did not start"
		XTABLES_LOCKFILE=$T_TMP/xtables-nproc.lock in_d \
		    env NOTIFY_SOCKET="@nfqspid-dv-wd-$$" timeout 20 \
		    prlimit --nproc="$lim:$lim" "$NFQSPID" -f -c "$T_CONF" \
		    >"$T_TMP/nproc-wd.out" 2>&1
		rc=$?
		check "no watchdog ($U's nproc $lim of $uthreads threads): the start fails with exit 1 (got $rc)" \
		    [ "$rc" = 1 ]
		check "... saying why" grep -q \
		    "watchdog: cannot start: Resource temporarily unavailable" \
		    "$T_TMP/nproc-wd.out"
		check "... and to systemd, in STATUS= ($(tail -n 1 "$WN"))" \
		    wait_for 30 grep -qx "STATUS=cannot start: watchdog: cannot start: Resource temporarily unavailable | ERRNO=11" "$WN"
		check "... the check thread had started" not grep -q \
		    "check thread cannot start" "$T_TMP/nproc-wd.out"
		check "... its diversion removed (IPv4)" removed iptables-legacy
		check "... and IPv6" removed ip6tables-legacy
		check "... and says so" grep -q "divert: the iptables diversion is removed" \
		    "$T_TMP/nproc-wd.out"
		check "... and never said it started" not grep -q \
		    "nfqspid .* started:" "$T_TMP/nproc-wd.out"
	fi
else
	echo "note: cannot make a user: the [daemon] user case not tried"
fi

# ---- 5b. a hung iptables ------------------------------------------------------
# In the daemon's mount namespace the iptables-legacy it runs (the
# xtables-legacy-multi its name links to) is the test's wrapper, which
# hangs while $T_TMP/hang exists, as iptables does on a stuck netlink:
# the check thread waits for it (10 s, then kills it), not the main loop.
real=$(readlink -f "$(command -v iptables-legacy)")
if [ -x "$real" ] && cp "$real" "$T_TMP/xtables-real"; then
	cat >"$T_TMP/ipt-wrap" <<EOF
#!/bin/bash
if [ -e "$T_TMP/hang" ]; then touch "$T_TMP/hanging"; exec sleep 60; fi
if [ -e "$T_TMP/fail6" ] && [ "\${0##*/}" = ip6tables-legacy-restore ]; then
	echo "ip6tables-restore: made to fail" >&2; exit 1
fi
exec -a "\${0##*/}" "$T_TMP/xtables-real" "\$@"
EOF
	chmod 0755 "$T_TMP/ipt-wrap"
	# The daemon holds the xtables lock while a command hangs (10 s,
	# twice): a lock of the test's own, or every iptables-legacy -w 5
	# of a test run beside this one (make -j check) would give up.
	XLOCK5B=$T_TMP/xtables-5b.lock
	# shellcheck disable=SC2016  # sh -c expands it
	T_DWRAP=(env "XTABLES_LOCKFILE=$XLOCK5B" unshare -m \
	    --propagation private sh -c '
	    mount --bind "$1" "$2" && shift 2 && exec "$@"' sh \
	    "$T_TMP/ipt-wrap" "$real")
	divert_config divert=iptables fail_open=yes
	rm -f "$T_TMP/hang" "$T_TMP/hanging"
	lib_must_start "nfqspid starts with an iptables-legacy that can hang"
	check "hung iptables: installed through the wrapper" \
	    installed iptables-legacy --queue-bypass
	n0=$(grep -c "was removed or changed" "$T_LOG")
	touch "$T_TMP/hang"
	check "hung iptables: a check runs it" \
	    wait_for $((70 * T_SLOW)) test -e "$T_TMP/hanging"
	check "hung iptables: the host's xtables lock stays free meanwhile" \
	    flock -w 5 /run/xtables.lock true
	# the check waits 10 s; the rest of it in nfqspictl status
	slow=$(ctl_slowest 60)
	check "hung iptables: nfqspictl status answers within $((600 * T_SLOW)) ms meanwhile (slowest: $slow ms)" \
	    test "$slow" -lt $((600 * T_SLOW))
	check "hung iptables: the log says the check got no answer" \
	    wait_for $((150 * T_SLOW)) log_has "divert: cannot check the iptables diversion: iptables-legacy -w 5 -t filter -S INPUT: did not run: no answer in 10 s; trying again at each check"
	check "hung iptables: not taken for a removal, nothing restored" \
	    test "$(grep -c "was removed or changed" "$T_LOG")" -eq "$n0"
	check "hung iptables: status still says intact" \
	    grep -Eq "^divert +iptables, intact" <(lib_ctl status)
	rm -f "$T_TMP/hang"
	check "iptables answers again: the check resumes, and says so" \
	    wait_for $((200 * T_SLOW)) log_has "divert: the iptables diversion can be checked again"
	n0=$(grep -c "divert: restored" "$T_LOG")
	XTABLES_LOCKFILE=$XLOCK5B in_d iptables-legacy -w 5 -F
	check "... and restores after iptables -F" \
	    wait_for 80 installed iptables-legacy --queue-bypass
	check "... saying so" wait_for 30 restored_more "$n0"
	# a stop while a check hangs: the thread ends after the command in
	# flight (10 s at most), the removal gives up after one command
	# with no answer (10 s): 20 s, and what the rest of the stop takes
	rm -f "$T_TMP/hanging"
	touch "$T_TMP/hang"
	check "hung iptables: a check hangs again" \
	    wait_for $((70 * T_SLOW)) test -e "$T_TMP/hanging"
	t0=$(date +%s)
	kill -TERM "$T_DPID"
	wait_for $((400 + 100 * T_SLOW)) not kill -0 "$T_DPID" 2>/dev/null
	took=$(($(date +%s) - t0))
	check "hung iptables: SIGTERM ends nfqspid within $((25 + 10 * T_SLOW)) s (took $took s)" \
	    test "$took" -le $((25 + 10 * T_SLOW))
	wait "$T_DPID"
	T_DRC=$?
	T_DPID=
	check "... with exit 0 (got $T_DRC)" [ "$T_DRC" = 0 ]
	check "... the removal gave up after one command with no answer" \
	    log_has "divert: removing the iptables diversion: iptables-legacy -w 5 -t filter -D INPUT -j nfqspid-input: did not run: no answer in 10 s"
	rm -f "$T_TMP/hang"
	# a reload's fail_open whose replacement fails (IPv6's, after
	# IPv4's, which is undone): the rules, status and the stop keep
	# the bypass that is installed
	touch "$T_TMP/fail6"
	divert_config divert=iptables fail_open=yes
	lib_must_start "nfqspid starts with an ip6tables-legacy-restore that fails"
	divert_config divert=iptables fail_open=no
	check "failing replacement: the reload is accepted" quiet lib_ctl reload
	check "... the log says it cannot apply it, and what stays" \
	    log_has "divert: cannot apply fail_open = no to the iptables diversion: ip6tables-legacy-restore -w 5 --noflush \(IPv6\): failed: ip6tables-restore: made to fail; its rules stay with --queue-bypass, removed at the stop"
	check "... IPv4's replacement undone: --queue-bypass still, alone" \
	    bypass_is iptables-legacy yes
	check "... IPv6's --queue-bypass still" bypass_is ip6tables-legacy yes
	check "... status says what is installed" \
	    grep -Eq "^divert +iptables, intact, restored 0 times, with --queue-bypass, removed at the stop" <(lib_ctl status)
	lib_stop_daemon
	check "... the stop removes them, as their fail_open = yes says (IPv4)" \
	    removed iptables-legacy
	check "... and IPv6" removed ip6tables-legacy
	rm -f "$T_TMP/fail6"
	divert_config divert=iptables fail_open=yes
	T_DWRAP=()
	# what the hung stop left: a start removes it first, a stop again
	lib_must_start "nfqspid starts with the real iptables-legacy"
	lib_stop_daemon
	check "... which leaves no rule of ours after it" removed iptables-legacy
else
	echo "note: no iptables-legacy binary to wrap: a hung iptables not tried"
fi

# ---- 6. no packet on the queue while traffic flows ---------------------------
divert_config divert=none idle_warn=2 fail_open=yes
lib_must_start "nfqspid starts with divert = none"
in_c ping -q -c 60 -i 0.05 "$S4" >/dev/null 2>&1
check "idle: the warning names the queue" \
    log_has "queue $T_QUEUE: no packet for [0-9]+ s while the interfaces carried [0-9]+ packets"
check "idle: nfqspictl status says so" \
    grep -q "no packet for" <(lib_ctl status)
lib_divert
in_c ping -q -c 5 -i 0.1 "$S4" >/dev/null 2>&1
conn4 5001 >/dev/null
check "idle: packets again once diverted" log_has "queue $T_QUEUE: packets arrive again"
lib_stop_daemon

# ---- 7. an HA backup: its peer takes the traffic -----------------------------
# The same silent queue on a node in [sync] role backup is no missing
# diversion: no warning, until nfqspictl makes it master.  The peer is
# an address nobody has: only the role matters here.
in_d "$IPT" -D FORWARD -j NFQUEUE --queue-num "$T_QUEUE"
in_d "$IP6T" -D FORWARD -j NFQUEUE --queue-num "$T_QUEUE"
head -c 32 /dev/urandom | base64 >"$T_TMP/sync.key"
chmod 600 "$T_TMP/sync.key"
divert_config divert=none idle_warn=2 fail_open=yes
cat >>"$T_CONF" <<EOF

[sync]
listen = $D4S:3780
peer = 10.$T_NET.2.99:3780
key = $T_TMP/sync.key
role = backup
EOF
# idle_lines: the idle warnings in the log so far; idle_more N: more
idle_lines() { grep -c "queue $T_QUEUE: no packet for" "$T_LOG"; }
idle_more() { [ "$(idle_lines)" -gt "$1" ]; }
n0=$(idle_lines)
lib_must_start "nfqspid starts as an HA backup with divert = none"
# 5 s of traffic: two idle windows and more
in_c ping -q -c 100 -i 0.05 "$S4" >/dev/null 2>&1
sleep 1
check "backup: no idle warning ($(($(idle_lines) - n0)) said)" \
    test "$(idle_lines)" -eq "$n0"
check "backup: nfqspictl status has none" \
    not grep -q "no packet for" <(lib_ctl status)
check "made master" quiet lib_ctl sync role master
in_c ping -q -c 80 -i 0.05 "$S4" >/dev/null 2>&1
check "master: the idle warning" \
    wait_for $((30 * T_SLOW)) idle_more "$n0"
check "master: nfqspictl status says so" \
    grep -q "no packet for" <(lib_ctl status)
lib_stop_daemon

lib_summary
