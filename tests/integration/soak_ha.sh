#!/bin/bash
# soak_ha.sh - `make soak-ha`, not part of make check: the HA pair under
# churn for SOAK_SECONDS (default 900, 15 minutes).  test_sync_mt.sh's
# pair: both daemons in dut with [sync] on its loopback and threads = 2
# behind --queue-balance, one on queues Q and Q+1, the other on Q+2 and
# Q+3; a failover is what keepalived's hooks do (the new master made
# master, FORWARD moved to its queues, the old one made backup), every
# SOAK_FAILOVER seconds (default 60), one way then back.
#  - traffic (soak.sh's churn, both families): short TCP echoes, a few
#    long TCP connections (20 to 180 s, so most live through one or more
#    failovers), UDP exchanges from ever new ports, pings;
#    tcp_loose = no, so a connection a failover loses is INVALID at the
#    new master and its transfer dies;
#  - every 10 s: both daemons alive, and the master decided packets since
#    the last look (no stall); RSS, fds and tables printed each failover;
# afterwards, with short timeouts in the configuration:
#  - both tables drain to 0 once the timeouts have passed;
#  - each daemon's RSS after the drain within 10% of its warm baseline
#    (taken after the first two failovers, when both have been master and
#    backup under the full load: a table that kept what it should have
#    freed, or a waiting room that kept its packets, grows with every
#    round and ends above it), and its open descriptors as many as then;
#  - no TCP connection died, long or short (a failover that loses one
#    shows so), and 99.5% of the UDP exchanges answered;
#  - the sync link quiet and clean on both: no change waiting in the
#    rings (queued 0), every message acknowledged (lag 0), no bulk
#    running, no change lost, no failed resend or import, nothing
#    refused, no send error;
#  - no packet waiting for an adoption (adopt_waiting 0), none judged
#    without waiting for one (adopt_missed 0), none lost moving;
#  - every packet received got a verdict, no sanitizer report, SIGTERM
#    ends both with status 0.
# INVALID packets (and the connections they belong to), ignored records
# and swept connections are printed, not checked: a failover in the
# middle of a handshake can meet the SYN-ACK before the SYN's record (one
# flush later) and drop it, and TCP sends it again; while both are
# master (from the new one's switch to the old one's, as with
# keepalived's hooks) the old one ignores the new one's records, and
# what it then holds that the new one's table lacks is swept from it at
# the end of that table.
#
# With NFQSPID_VALGRIND=1 both daemons run under valgrind (lib.sh); use a
# short SOAK_SECONDS and a light SOAK_CHURN (e.g. 120 and 1,2,1,0): the
# traffic's checks then only say what valgrind let through.
#
# Copyright (C) 2026 The nfqspid authors
# SPDX-License-Identifier: GPL-2.0-or-later
# shellcheck disable=SC2317  # functions run through check and wait_for
# shellcheck disable=SC2016  # wait_eval's expression: eval expands it
set -u

T_NET=${T_NET:-88}
T_QUEUE=${T_QUEUE:-40}
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"

SOAK_SECONDS=${SOAK_SECONDS:-900}
SOAK_FAILOVER=${SOAK_FAILOVER:-60}
SOAK_CHURN=${SOAK_CHURN:-4,6,3,0}

lib_init soakha
lib_topology

B_CTL=$T_TMP/backup.sock
B_LOG=$T_TMP/backup.log
B_PID=
trap lib_sync_cleanup EXIT

head -c 32 /dev/urandom | base64 >"$T_TMP/sync.key"
chmod 600 "$T_TMP/sync.key"

# rules ME PEER ROLE: lib.sh's short timeouts (the tables drain within
# a minute), two workers, [sync] on dut's loopback; no source_share, as
# all the traffic comes from one client address (its default 10% of a
# worker's table is about what the churn holds)
rules()
{
	cat <<EOF
[conntrack]
tcp_loose = no
max = 20000
source_share = 0
$(lib_soak_timeouts)

[sync]
listen = 127.0.0.1:$1
peer = 127.0.0.1:$2
key = $T_TMP/sync.key
role = $3
flush = 20

$(lib_policy)

$(lib_soak_rules)
EOF
}
lib_config < <(rules 3790 3791 master)
sed -e 's/^threads = 1$/threads = 2/' "$T_CONF" >"$T_TMP/a.ini"
lib_config < <(rules 3791 3790 backup)
sed -e 's/^threads = 1$/threads = 2/' \
    -e "s/^queue = .*/queue = $((T_QUEUE + 2))/" \
    -e "s|$T_TMP/nfqspid.pid|$T_TMP/backup.pid|" \
    -e "s|$T_CTL|$B_CTL|" "$T_CONF" >"$T_TMP/b.ini"
T_CONF=$T_TMP/a.ini

# divert Q: FORWARD, both families, to queues Q and Q+1, each family's
# chain in one transaction: between a flush and an append FORWARD is
# empty (policy ACCEPT) and what comes then passes unjudged, so that a
# connection whose handshake did would be INVALID (tcp-no-syn) at the
# new master, and the soak count it lost
divert()
{
	local t
	for t in "$IPT" "$IP6T"; do
		printf '%s\n' '*filter' '-F FORWARD' \
		    "-A FORWARD -j NFQUEUE --queue-balance $1:$(($1 + 1))" \
		    COMMIT | in_d "$t-restore" --noflush || return 1
	done
}

# The two nodes, a (T_CTL, first master) and b (B_CTL): control socket,
# pid and queue by name.
ctl_of() { [ "$1" = a ] && echo "$T_CTL" || echo "$B_CTL"; }
pid_of() { [ "$1" = a ] && echo "$T_DPID" || echo "$B_PID"; }
q_of() { [ "$1" = a ] && echo "$T_QUEUE" || echo $((T_QUEUE + 2)); }
other() { [ "$1" = a ] && echo b || echo a; }
# st NODE NAME: a counter of the node's `nfqspictl -j stats` total
st() { T_CTL=$(ctl_of "$1") lib_stat "$2"; }
# js NODE KEY: a key of the node's `nfqspictl -j sync status`
js() { lib_jsync "$(ctl_of "$1")" "$2"; }
ctcount() { "$NFQSPICTL" -s "$(ctl_of "$1")" conntrack count 2>/dev/null |
    tr -dc 0-9; }
rss() { awk '/^VmRSS:/ { print $2 }' "/proc/$(pid_of "$1")/status" \
    2>/dev/null; }
fds() { find "/proc/$(pid_of "$1")/fd" -mindepth 1 -maxdepth 1 \
    2>/dev/null | wc -l; }
alive() { kill -0 "$(pid_of "$1")" 2>/dev/null; }
show() { echo "soak: $1 ${2}s: RSS $(rss "$1") kB, fds $(fds "$1"), table $(ctcount "$1"), role $(js "$1" role), invalid $(st "$1" invalid), adopted $(st "$1" adopted), adopt_missed $(st "$1" adopt_missed), adopt_waiting $(st "$1" adopt_waiting), sync queued $(js "$1" queued) lag $(js "$1" lag) ignored $(js "$1" ignored) swept $(js "$1" swept)"; }

# failover TO: TO made master, FORWARD moved to its queues, the other
# made backup (keepalived's order: the addresses move, then the hooks)
failover()
{
	"$NFQSPICTL" -s "$(ctl_of "$1")" sync role master >/dev/null &&
	    divert "$(q_of "$1")" &&
	    "$NFQSPICTL" -s "$(ctl_of "$(other "$1")")" sync role backup \
		>/dev/null
}

check "nfqspid -n accepts the soak configuration" "$NFQSPID" -n -c "$T_CONF"
check "FORWARD to a's queues" divert "$T_QUEUE"
lib_must_start "nfqspid a (master, threads = 2) starts with [sync]"
ip netns exec "$NS_D" "${T_VG[@]}" "$NFQSPID" -f -c "$T_TMP/b.ini" \
    >>"$B_LOG" 2>&1 &
B_PID=$!
check "nfqspid b (backup, threads = 2) starts with [sync]" \
    wait_for $((100 * T_SLOW)) test -S "$B_CTL"
check "b is ready" wait_eval $((100 * T_SLOW)) '[ "$(js b ready)" = true ]'

bg_in "$NS_S" "$PY" "$(dirname "$0")/soak_echo.py" "$S4" "$S6"
wait_listen "$NS_S" tcp 7000 || fail "the echo server listens"

echo "soak: $SOAK_SECONDS s of traffic ($SOAK_CHURN threads), a failover every $SOAK_FAILOVER s"
in_c "$PY" "$(dirname "$0")/soak_churn.py" "$S4" "$S6" "$SOAK_SECONDS" \
    "$SOAK_CHURN" >"$T_TMP/churn.out" 2>"$T_TMP/churn.err" &
churn=$!
(
	end=$((SECONDS + SOAK_SECONDS))
	while [ "$SECONDS" -lt "$end" ]; do
		in_c ping -c 3 -i 0.2 -W 1 "$S4" >/dev/null 2>&1
		in_c ping -6 -c 3 -i 0.2 -W 1 "$S6" >/dev/null 2>&1
		sleep 1
	done
) &
pinger=$!

start=$SECONDS
master=a
nfail=0
next=$SOAK_FAILOVER
declare -A base_rss base_fds max_rss
down=''
stalls=0
fo_failed=0
last=$(st a received)
while kill -0 "$churn" 2>/dev/null; do
	sleep 10
	el=$((SECONDS - start))
	for n in a b; do
		alive "$n" || down="$down $n"
	done
	[ -z "$down" ] || break
	now=$(st "$master" received)
	if [ -z "$now" ] || [ "$now" = "${last:-}" ]; then
		stalls=$((stalls + 1))
		echo "soak: ${el}s: master $master decided no packet in 10 s (received ${now:-?})"
	fi
	last=$now
	for n in a b; do
		r=$(rss "$n")
		[ -n "$r" ] && [ "$r" -gt "${max_rss[$n]:-0}" ] && max_rss[$n]=$r
	done
	if [ "$el" -ge "$next" ] && [ "$el" -lt $((SOAK_SECONDS - 20)) ]; then
		show a "$el"
		show b "$el"
		master=$(other "$master")
		nfail=$((nfail + 1))
		echo "soak: ${el}s: failover $nfail to $master"
		failover "$master" || fo_failed=$((fo_failed + 1))
		last=$(st "$master" received)
		next=$((next + SOAK_FAILOVER))
		# the warm baseline: both have been master and backup
		if [ "$nfail" -eq 2 ]; then
			sleep 5
			for n in a b; do
				base_rss[$n]=$(rss "$n")
				base_fds[$n]=$(fds "$n")
			done
			echo "soak: warm baseline: a RSS ${base_rss[a]} kB fds ${base_fds[a]}, b RSS ${base_rss[b]} kB fds ${base_fds[b]}"
		fi
	fi
done
wait "$churn"
kill "$pinger" 2>/dev/null
wait "$pinger" 2>/dev/null
echo "soak: traffic: $(cat "$T_TMP/churn.out")"
sed -n '1,20p' "$T_TMP/churn.err"
# the TCP connections either node judged INVALID, by client port
for n in a b; do
	f=$T_LOG
	[ "$n" = b ] && f=$B_LOG
	# shellcheck disable=SC2046  # one line of ports
	echo "soak: $n: TCP connections with INVALID packets:" $(sed -nE \
	    's/.*state=INVALID .*proto=tcp src=[^ ]* sport=([0-9]+) dst=[^ ]* dport=7000 .*/\1/p; s/.*state=INVALID .*proto=tcp src=[^ ]* sport=7000 dst=[^ ]* dport=([0-9]+) .*/\1/p' \
	    "$f" | sort -u | head -n 20)
done
check "both daemons stayed up through the soak${down:+ (down:$down)}" \
    test -z "$down"
check "$nfail failovers, each one done" test "$nfail" -ge 2 -a "$fo_failed" -eq 0
check "the master decided packets in every 10 s ($stalls without)" \
    test "$stalls" -eq 0
# shellcheck disable=SC2046  # six numbers, split on purpose
set -- $(lib_churn_counts "$T_TMP/churn.out")
# A short connection that fails is one a failover lost, most likely
# (soak.sh, with one daemon, allows 0.5% for a loaded machine).
check "no short TCP connection failed (ok $1, failed $2)" \
    test "$1" -gt 0 -a "$2" -eq 0
check "UDP exchanges succeed (ok $3, failed $4)" \
    test "$3" -gt 0 -a $(($4 * 200)) -le "$3"
check "no long TCP connection died (ok $5, failed $6)" \
    test "$5" -gt 0 -a "$6" -eq 0

# Drain: every timeout above is 30 s at most; a backup's copies end
# with the master's news of them, or on their own timer.
drained=''
for _ in $(seq 1 $((150 * T_SLOW))); do
	if [ "$(ctcount a)" = 0 ] && [ "$(ctcount b)" = 0 ]; then
		drained=$((SECONDS - start - SOAK_SECONDS))
		break
	fi
	sleep 1
done
check "both tables drain to 0 after the traffic stops (in ${drained:-never} s; now a $(ctcount a), b $(ctcount b))" \
    test -n "$drained"
sleep 2		# the last ends' records reach the peer
show a end
show b end
for n in a b; do
	r=$(rss "$n")
	f=$(fds "$n")
	echo "soak: $n: RSS warm ${base_rss[$n]:-?} kB, highest ${max_rss[$n]:-?} kB, after the drain $r kB; fds warm ${base_fds[$n]:-?}, now $f"
	check "$n: RSS after the soak within 10% of the warm baseline ($r kB vs ${base_rss[$n]:-?} kB)" \
	    test -n "${base_rss[$n]:-}" -a -n "$r" -a \
	    $((r * 100)) -le $((${base_rss[$n]:-0} * 110))
	check "$n: as many open descriptors as then ($f vs ${base_fds[$n]:-?})" \
	    test -n "${base_fds[$n]:-}" -a "$f" -le "${base_fds[$n]:-0}"
	check "$n: the sync rings are empty and every message acknowledged (queued $(js "$n" queued), lag $(js "$n" lag))" \
	    test "$(js "$n" queued)" = 0 -a "$(js "$n" lag)" = 0
	check "$n: no bulk running (out $(js "$n" bulk_out.state), in $(js "$n" bulk_in.state))" \
	    test "$(js "$n" bulk_out.state)" != '"running"' -a \
	    "$(js "$n" bulk_in.state)" != '"running"'
	for k in lost resend_failed import_failed send_errors refused.forged \
	    refused.replayed refused.malformed refused.stranger; do
		check "$n: sync $k 0 (got $(js "$n" $k))" test "$(js "$n" $k)" = 0
	done
	for k in adopt_waiting adopt_missed adopt_failed; do
		check "$n: $k 0 (got $(st "$n" $k))" test "$(st "$n" $k)" = 0
	done
	rcv=$(st "$n" received)
	ver=$(( $(st "$n" accepted) + $(st "$n" dropped) ))
	echo "soak: $n: received $rcv, verdicts $ver, invalid $(st "$n" invalid), window_grace $(st "$n" window_grace), adopted $(st "$n" adopted), ignored $(js "$n" ignored), swept $(js "$n" swept), bulks out $(js "$n" bulk_out.count) in $(js "$n" bulk_in.count), resent $(js "$n" resent), gaps $(js "$n" gaps)"
	check "$n: every packet received got a verdict ($rcv received, $ver verdicts)" \
	    test "$rcv" -gt 0 -a "$rcv" = "$ver"
	check "$n: the kernel holds no packet in its queues" \
	    test "$(lib_qcol "$(q_of "$n")" 3 2)" = 0
done
check "no sanitizer report in b's log" \
    not grep -Eq 'runtime error|AddressSanitizer|LeakSanitizer' "$B_LOG"
kill -TERM "$B_PID" 2>/dev/null
wait_for $((50 * T_SLOW)) not kill -0 "$B_PID" 2>/dev/null
wait "$B_PID"
check "SIGTERM: b exits with status 0" test "$?" -eq 0
B_PID=
lib_finish
lib_summary
