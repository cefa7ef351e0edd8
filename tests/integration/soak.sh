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

# lib.sh's short timeouts: the table drains within a minute after the
# traffic stops.
lib_config <<EOF
[conntrack]
max = 20000
$(lib_soak_timeouts)

$(lib_policy)

$(lib_soak_rules)

[rule denied]
proto = tcp
dport = 7002
action = drop
log = yes
EOF

check "nfqspid -n accepts the soak configuration" "$NFQSPID" -n -c "$T_CONF"
lib_start "nfqspid starts" "$@"

bg_in "$NS_S" "$PY" "$(dirname "$0")/soak_echo.py" "$S4" "$S6"
wait_listen "$NS_S" tcp 7000 || fail "the echo server listens"

rss() { awk '/^VmRSS:/ { print $2 }' "/proc/$T_DPID/status" 2>/dev/null; }
ctcount() { lib_ctl conntrack count 2>/dev/null | tr -dc 0-9; }


echo "soak: $SOAK_SECONDS s of traffic, warm baseline after $SOAK_WARM s"
in_c "$PY" "$(dirname "$0")/soak_churn.py" "$S4" "$S6" "$SOAK_SECONDS" \
    >"$T_TMP/churn.out" 2>"$T_TMP/churn.err" &
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
set -- $(lib_churn_counts "$T_TMP/churn.out")
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
