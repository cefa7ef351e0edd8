#!/bin/bash
# fp_rounds.sh - the fast path against the kernel's SPI, round after round
#
# Copyright (C) 2026 The nfqspid authors
# SPDX-License-Identifier: GPL-2.0-or-later
#
# From the top of the build tree, as root:
#
#   tests/bench/fp_rounds.sh ROUNDS [DIR...]
#
# Each round runs ../shared/bench/netbench.sh kernel and floor, then nfqspid with
# tests/bench/bench.ini and [daemon] fastpath = yes, set up as the
# acceptance check does (nfqspictl iptables | iptables-legacy-restore -n),
# from the build tree and then from each DIR (holding an nfqspid and an
# nfqspictl, e.g. an older build), one after another, so that each
# round's ratios come from the same minute of a noisy machine.  Prints
# netbench's lines, then per figure the median of the per-round ratios
# to the kernel, and of new connections per second to the floor (the
# issue's yardsticks).  Env: T (3 s a figure), INI (bench.ini), UDP_ONLY=1 (the
# 64-byte UDP figure alone: netbench without its TCP and HTTP parts,
# three times faster), NETBENCH (../shared/bench/netbench.sh).
set -u
R=${1:?rounds}; shift
TOP=$(pwd)
NB=${NETBENCH:-$TOP/../shared/bench/netbench.sh}
# a worktree one level further down
[ -f "$NB" ] || NB=${NETBENCH:-$TOP/../../shared/bench/netbench.sh}
[ -f "$NB" ] || { echo "no $NB (NETBENCH=...)"; exit 2; }
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
sed '/^\[daemon\]/a fastpath = yes' "${INI:-$TOP/tests/bench/bench.ini}" >"$TMP/fp.ini"
if [ "${UDP_ONLY:-0}" = 1 ]; then
	# shellcheck disable=SC2016  # the $( are netbench's text, not ours
	sed -e 's/^tcp=\$(.*$/tcp=skip/' -e 's/^conn=\$(.*$/conn=skip/' "$NB" >"$TMP/nb.sh"
	NB=$TMP/nb.sh
fi
run() { T=${T:-3} bash "$NB" "$@" 2>&1 | grep 'nq='; }
fp()
{
	run "own:$1/nfqspid -f -c $TMP/fp.ini & sleep 1; \
$1/nfqspictl -s /tmp/nfqspid-bench.sock iptables | iptables-legacy-restore -n; wait" |
	    sed 's/^own:.* nq=/fastpath nq=/'
}
for r in $(seq 1 "$R"); do
	echo "round $r"
	run kernel
	[ "${UDP_ONLY:-0}" = 1 ] || run floor
	for d in "$TOP/src" "$@"; do
		echo -n "$d: "
		fp "$d"
	done
done | tee "$TMP/out"
# the median over rounds of each binary's figure / the kernel's
awk '
/^round/ { n++ }
/^kernel/ { for (i = 2; i <= NF; i++) { split($i, kv, "="); k[kv[1]] = kv[2] } }
/^floor/ { for (i = 2; i <= NF; i++) { split($i, kv, "="); fl[kv[1]] = kv[2] } }
/fastpath nq=/ {
	d = $1
	for (i = 3; i <= NF; i++) {
		split($i, kv, "=")
		if (kv[2] + 0 > 0 && k[kv[1]] + 0 > 0)
			ratio[d, kv[1], n] = kv[2] / k[kv[1]]
		if (kv[1] == "conn_per_s" && kv[2] + 0 > 0 && fl[kv[1]] + 0 > 0)
			ratio[d, "conn_per_s_floor", n] = kv[2] / fl[kv[1]]
	}
	dirs[d] = 1
}
END {
	split("tcp_gbps udp64_kpps conn_per_s conn_per_s_floor", fig, " ")
	for (d in dirs)
		for (f = 1; f <= 4; f++) {
			m = 0
			for (i = 1; i <= n; i++)
				if ((d, fig[f], i) in ratio)
					v[++m] = ratio[d, fig[f], i]
			if (m == 0)
				continue
			# insertion sort: a handful of rounds
			for (i = 2; i <= m; i++)
				for (j = i; j > 1 && v[j - 1] > v[j]; j--) {
					t = v[j]; v[j] = v[j - 1]; v[j - 1] = t
				}
			med = m % 2 ? v[(m + 1) / 2] : (v[m / 2] + v[m / 2 + 1]) / 2
			name = fig[f] " / kernel"
			if (fig[f] == "conn_per_s_floor")
				name = "conn_per_s / floor"
			printf "%s %s: median %.3f of %d rounds\n", d, name, med, m
		}
}' "$TMP/out"
