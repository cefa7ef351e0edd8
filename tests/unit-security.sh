#!/bin/sh
# unit-security.sh - the systemd unit this tree installs scores at most
# 2.5 ("OK") in `systemd-analyze security --offline=yes`; the unit of
# 0.1.0 scored 6.0 MEDIUM.  Skips without systemd-analyze.
#
# Copyright (C) 2026 The nfqspid authors
# SPDX-License-Identifier: GPL-2.0-or-later

: "${top_builddir:=$(cd "$(dirname "$0")/.." && pwd)}"
unit=$top_builddir/etc/nfqspid.service
MAX=2.5

if ! command -v systemd-analyze >/dev/null 2>&1; then
	echo "SKIP: systemd-analyze not installed"
	exit 77
fi
if [ ! -f "$unit" ]; then
	echo "FAIL: $unit not made (run make)"
	exit 1
fi
# systemd-analyze wants a unit's own name: a copy named nfqspid.service
tmp=$(mktemp -d "${TMPDIR:-/tmp}/nfqspi-unit.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT
cp "$unit" "$tmp/nfqspid.service"
out=$(cd "$tmp" && systemd-analyze security --offline=yes ./nfqspid.service 2>&1)
score=$(printf '%s\n' "$out" |
    sed -n 's/^.*Overall exposure level for nfqspid.service: \([0-9.]*\) .*$/\1/p')
if [ -z "$score" ]; then
	printf '%s\n' "$out"
	echo "FAIL: no overall exposure level in systemd-analyze's output"
	exit 1
fi
if awk -v s="$score" -v m="$MAX" 'BEGIN { exit !(s <= m) }'; then
	echo "PASS: nfqspid.service exposure $score (at most $MAX)"
	exit 0
fi
printf '%s\n' "$out" | grep '✗'
echo "FAIL: nfqspid.service exposure $score, more than $MAX"
exit 1
