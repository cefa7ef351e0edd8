#!/bin/bash
# latency.sh - the round trip nfqspid adds over the NFQUEUE floor
#
# Copyright (C) 2026 The nfqspid authors
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Two namespaces joined by a veth pair (as ../shared/bench/netbench.sh,
# under names of our own).  The receiver's INPUT and OUTPUT chains go to
# NFQUEUE 0 (--queue-bypass), so that the filter sees both directions of
# the ping, and PROBES pings (default 1000, 2 ms apart) measure the round
# trip with nothing on the queue path, with nfq-floor.c (the fastest
# accept-all consumer; built to /tmp/nfq-floor from FLOOR_SRC) and with
# nfqspid (tests/bench/bench.ini, threads = 1).  ROUNDS > 1 alternates
# floor and nfqspid and takes the median of each one's medians and p99s.
#
# Prints median and p99 per filter, and nfqspid - floor against the
# targets (median +10 us, p99 +50 us).  Root only: exit 77 otherwise.
# Exit 0 when both targets are met, 1 when not, 2 on set-up failure.
set -u

HERE=$(cd "$(dirname "$0")" && pwd)
: "${top_srcdir:=$(cd "$HERE/../.." && pwd)}"
: "${top_builddir:=$top_srcdir}"
: "${NFQSPID:=$top_builddir/src/nfqspid}"
: "${FLOOR_SRC:=$top_srcdir/../shared/bench/nfq-floor.c}"
PROBES=${PROBES:-1000}
ROUNDS=${ROUNDS:-1}
IPT=iptables-legacy

if [ "$(id -u)" -ne 0 ]; then
	echo "latency.sh: needs root (network namespaces, NFQUEUE): skipped"
	exit 77
fi
for c in ip $IPT ping gcc python3; do
	command -v "$c" >/dev/null 2>&1 || { echo "latency.sh: no $c: skipped"; exit 77; }
done
[ -x "$NFQSPID" ] || { echo "latency.sh: $NFQSPID not built"; exit 2; }

# our own names: other benchmarks (netbench's pb-a/pb-b) may be running
A=nfqlat-a-$$; B=nfqlat-b-$$; VA=nla$$; VB=nlb$$
ADDR_A=10.78.0.1; ADDR_B=10.78.0.2
TMP=$(mktemp -d /tmp/nfqlat.XXXXXX)
DP=

stop_filter()
{
	if [ -n "$DP" ]; then
		kill "$DP" 2>/dev/null
		wait "$DP" 2>/dev/null
		DP=
	fi
}

cleanup()
{
	stop_filter
	ip netns pids $B 2>/dev/null | xargs -r kill 2>/dev/null
	ip netns pids $A 2>/dev/null | xargs -r kill 2>/dev/null
	ip netns del $A 2>/dev/null
	ip netns del $B 2>/dev/null
	rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 2' INT TERM

FLOOR=/tmp/nfq-floor
if ! [ "$FLOOR" -nt "$FLOOR_SRC" ]; then
	[ -r "$FLOOR_SRC" ] || { echo "latency.sh: no $FLOOR_SRC"; exit 2; }
	gcc -O2 -o $FLOOR "$FLOOR_SRC" -lnetfilter_queue -lmnl -lpthread || exit 2
fi

ip netns add $A && ip netns add $B || exit 2
ip link add $VA type veth peer name $VB || exit 2
ip link set $VA netns $A; ip link set $VB netns $B
ip -n $A addr add $ADDR_A/24 dev $VA; ip -n $B addr add $ADDR_B/24 dev $VB
for n in $A $B; do ip -n "$n" link set lo up; done
ip -n $A link set $VA up; ip -n $B link set $VB up

# nfqspid's configuration: the benchmark policy (as for netbench.sh),
# with a pidfile and control socket of our own
sed -e "s|^pidfile *=.*|pidfile = $TMP/nfqspid.pid|" \
    -e "s|^control *=.*|control = $TMP/nfqspid.sock|" \
    "$top_srcdir/tests/bench/bench.ini" > "$TMP/nfqspi.ini"

divert()
{
	ip netns exec $B $IPT -F
	if [ "$1" = on ]; then
		ip netns exec $B $IPT -A INPUT -i $VB -j NFQUEUE --queue-num 0 --queue-bypass
		ip netns exec $B $IPT -A OUTPUT -o $VB -j NFQUEUE --queue-num 0 --queue-bypass
	fi
}

# ping; prints "median p99" of the round trips in microseconds
probe()
{
	ip netns exec $A ping -c 20 -i 0.01 -q $ADDR_B >/dev/null 2>&1
	ip netns exec $A ping -n -c "$PROBES" -i 0.002 -W 1 $ADDR_B 2>/dev/null |
	    python3 -c '
import re, sys
t = sorted(float(m.group(1)) * 1000 for m in
    (re.search(r"time=([0-9.]+) ms", l) for l in sys.stdin) if m)
if len(t) < '"$PROBES"' * 0.99:
    print("fail fail"); sys.exit(0)
def q(p): return t[min(len(t) - 1, int(p * len(t)))]
print("%.1f %.1f" % (t[len(t) // 2], q(0.99)))'
}

run()
{
	case $1 in
	none)	divert off ;;
	floor)	divert on
		ip netns exec $B $FLOOR 0 1 & DP=$!
		sleep 0.5 ;;
	nfqspid)
		divert on
		ip netns exec $B "$NFQSPID" -f -c "$TMP/nfqspi.ini" \
		    >"$TMP/nfqspid.log" 2>&1 & DP=$!
		for _ in $(seq 50); do
			[ -S "$TMP/nfqspid.sock" ] && break
			sleep 0.1
		done
		sleep 0.3
		if ! kill -0 $DP 2>/dev/null; then
			echo "latency.sh: nfqspid did not start:" >&2
			cat "$TMP/nfqspid.log" >&2
			exit 2
		fi ;;
	esac
	r=$(probe)
	stop_filter
	divert off
	echo "$r"
}

median()
{
	tr ' ' '\n' | sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'
}

echo "latency: $PROBES pings, 2 ms apart, through $B's INPUT and OUTPUT (NFQUEUE 0)"
printf "%-9s %10s %10s\n" filter "median us" "p99 us"
read -r nm np <<<"$(run none)"
printf "%-9s %10s %10s\n" none "$nm" "$np"
fm=""; fp=""; dm=""; dp=""
for r in $(seq "$ROUNDS"); do
	read -r a b <<<"$(run floor)"
	printf "%-9s %10s %10s\n" floor "$a" "$b"
	fm="$fm $a"; fp="$fp $b"
	read -r a b <<<"$(run nfqspid)"
	printf "%-9s %10s %10s\n" nfqspid "$a" "$b"
	dm="$dm $a"; dp="$dp $b"
done
case "$fm$fp$dm$dp" in
*fail*)	echo "latency.sh: probes were lost"; exit 2 ;;
esac
# shellcheck disable=SC2086  # unquoted: echo drops the leading blank median would sort
{
	fm=$(echo $fm | median); fp=$(echo $fp | median)
	dm=$(echo $dm | median); dp=$(echo $dp | median)
}
python3 - "$fm" "$fp" "$dm" "$dp" <<'EOF'
import sys
fm, fp, dm, dp = map(float, sys.argv[1:])
mm = dm - fm <= 10
pm = dp - fp <= 50
print("nfqspid - floor: median %+.1f us (target <= +10: %s), "
      "p99 %+.1f us (target <= +50: %s)" %
      (dm - fm, "met" if mm else "NOT met", dp - fp,
       "met" if pm else "NOT met"))
sys.exit(0 if mm and pm else 1)
EOF
