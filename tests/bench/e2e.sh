#!/bin/bash
# e2e.sh - nfqspid end to end against the NFQUEUE floor
#
# Copyright (C) 2026 The nfqspid authors
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Runs ../shared/bench/netbench.sh (TCP throughput, 64-byte UDP packets
# per second, short TCP connections per second through a veth pair into
# a namespace) ROUNDS times (default 3) alternating the floor
# (nfq-floor.c, the fastest accept-all NFQUEUE consumer) and nfqspid
# under tests/bench/bench.ini, threads = 1.  netbench.sh diverts only the
# receiver's INPUT; a stateful filter must see the replies too, so both
# run with the receiver's OUTPUT diverted as well.
#
# Prints every run, the medians and nfqspid / floor against the target
# (>= 0.90 each).  Root only: exit 77 otherwise, or without the tools.
# Exit 0 when the three ratios are met, 1 when not, 2 on set-up failure.
set -u

HERE=$(cd "$(dirname "$0")" && pwd)
: "${top_srcdir:=$(cd "$HERE/../.." && pwd)}"
: "${top_builddir:=$top_srcdir}"
: "${NFQSPID:=$top_builddir/src/nfqspid}"
: "${NETBENCH:=$top_srcdir/../shared/bench/netbench.sh}"
ROUNDS=${ROUNDS:-3}
FLOOR=/tmp/nfq-floor
INI=$top_srcdir/tests/bench/bench.ini

if [ "$(id -u)" -ne 0 ]; then
	echo "e2e.sh: needs root (network namespaces, NFQUEUE): skipped"
	exit 77
fi
for c in ip iptables-legacy iperf3 wrk nginx gcc python3; do
	command -v $c >/dev/null 2>&1 || { echo "e2e.sh: no $c: skipped"; exit 77; }
done
[ -f "$NETBENCH" ] || { echo "e2e.sh: no $NETBENCH: skipped"; exit 77; }
[ -x "$NFQSPID" ] || { echo "e2e.sh: $NFQSPID not built"; exit 2; }
SRC=$(dirname "$NETBENCH")/nfq-floor.c
if [ ! -x $FLOOR ] || [ "$SRC" -nt $FLOOR ]; then
	gcc -O2 -o $FLOOR "$SRC" -lnetfilter_queue -lmnl -lpthread ||
	    { echo "e2e.sh: cannot build $FLOOR"; exit 2; }
fi

O="iptables-legacy -A OUTPUT -o pbb -j NFQUEUE --queue-num 0 --queue-bypass"
TMP=$(mktemp -d /tmp/nfqe2e.XXXXXX)
trap 'rm -rf "$TMP"' EXIT

# one netbench line: "tcp udp conn", or nothing when a figure failed
run()
{
	bash "$NETBENCH" "cmd:$O; exec $1" 2>/dev/null | tail -1 |
	    sed -n 's/.*tcp_gbps=\([0-9.]*\) udp64_kpps=\([0-9.]*\) conn_per_s=\([0-9.]*\).*/\1 \2 \3/p'
}

printf '%-8s %10s %12s %10s\n' filter tcp_gbps udp64_kpps conn_per_s
# shellcheck disable=SC2034  # r only counts the rounds
for r in $(seq 1 "$ROUNDS"); do
	for f in floor nfqspid; do
		if [ $f = floor ]; then
			cmd="$FLOOR 0 1"
		else
			cmd="$NFQSPID -f -c $INI"
		fi
		line=$(run "$cmd")
		[ -n "$line" ] || { echo "e2e.sh: $f: netbench failed"; exit 2; }
		echo "$line" >> "$TMP/$f"
		# shellcheck disable=SC2086  # line is three figures: split on purpose
		set -- $line
		printf '%-8s %10s %12s %10s\n' $f "$1" "$2" "$3"
	done
done

python3 - "$TMP/floor" "$TMP/nfqspid" <<'EOF'
import statistics, sys
rows = [[list(map(float, l.split())) for l in open(f)] for f in sys.argv[1:3]]
med = [[statistics.median(c) for c in zip(*r)] for r in rows]
names = ("TCP Gbit/s", "64-byte UDP kpps", "TCP conn/s")
ok = True
print("medians, nfqspid / floor (target >= 0.90 each):")
for i, n in enumerate(names):
    ratio = med[1][i] / med[0][i] if med[0][i] else 0
    met = ratio >= 0.90
    ok &= met
    print("  %-17s floor %9.2f  nfqspid %9.2f  %.2f (%s)" %
          (n, med[0][i], med[1][i], ratio, "met" if met else "NOT met"))
sys.exit(0 if ok else 1)
EOF
