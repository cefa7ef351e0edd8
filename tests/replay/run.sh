#!/bin/sh
# run.sh - the --replay regression tests
#
# Copyright (C) 2026 The nfqspid authors
# SPDX-License-Identifier: GPL-2.0-or-later
#
# For every cases/NAME.pcap: nfqspid -c NAME.ini --replay NAME.pcap must
# exit 0 and print exactly NAME.expected.  The captures come from gen.py;
# the expected lines are written by hand from the contract.
#
#   tests/replay/run.sh [NAME...]
#
# NFQSPID names the daemon (default: src/nfqspid of this tree); make check
# sets it, and top_srcdir, for builds outside the source tree.

here=$(cd "$(dirname "$0")" && pwd)
if [ -n "${top_srcdir:-}" ] && [ -d "$top_srcdir/tests/replay/cases" ]; then
	cases="$top_srcdir/tests/replay/cases"
else
	cases="$here/cases"
fi
NFQSPID=${NFQSPID:-$here/../../src/nfqspid}

if [ ! -x "$NFQSPID" ]; then
	echo "run.sh: $NFQSPID: not built (make first, or set NFQSPID)" >&2
	exit 99
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/nfqspi-replay.XXXXXX") || exit 99
trap 'rm -rf "$tmp"' EXIT
trap 'exit 1' INT TERM

pass=0
fail=0

ok() {
	pass=$((pass + 1))
	echo "PASS: $1"
}

notok() {
	fail=$((fail + 1))
	echo "FAIL: $1"
}

if [ $# -gt 0 ]; then
	names="$*"
else
	# shellcheck disable=SC2012  # the cases' names are plain words
	names=$(cd "$cases" && ls -- *.pcap | sed 's/\.pcap$//')
fi

for name in $names; do
	pcap="$cases/$name.pcap"
	ini="$cases/$name.ini"
	exp="$cases/$name.expected"
	if [ ! -f "$pcap" ] || [ ! -f "$ini" ] || [ ! -f "$exp" ]; then
		notok "$name: needs $name.pcap, $name.ini and $name.expected"
		continue
	fi
	"$NFQSPID" -c "$ini" --replay "$pcap" >"$tmp/out" 2>"$tmp/err"
	rc=$?
	if [ $rc -ne 0 ]; then
		notok "$name: exit status $rc"
		sed 's/^/	/' "$tmp/err"
		continue
	fi
	if ! diff -u "$exp" "$tmp/out" >"$tmp/diff"; then
		notok "$name: output differs (- expected, + got)"
		sed 's/^/	/' "$tmp/diff"
		continue
	fi
	ok "$name"
done

# A capture that cannot be read: exit 1, and the error names the file.
if [ $# -eq 0 ]; then
	missing="$tmp/no-such-capture.pcap"
	"$NFQSPID" -c "$cases/udp.ini" --replay "$missing" >"$tmp/out" \
	    2>"$tmp/err"
	rc=$?
	if [ $rc -eq 1 ] && grep -q "no-such-capture.pcap" "$tmp/err" &&
	    [ ! -s "$tmp/out" ]; then
		ok "unreadable capture"
	else
		notok "unreadable capture: exit status $rc, stderr:"
		sed 's/^/	/' "$tmp/err"
	fi

	printf 'not a capture\n' >"$tmp/junk.pcap"
	"$NFQSPID" -c "$cases/udp.ini" --replay "$tmp/junk.pcap" \
	    >"$tmp/out" 2>"$tmp/err"
	rc=$?
	if [ $rc -eq 1 ] && grep -q "junk.pcap" "$tmp/err"; then
		ok "not a capture"
	else
		notok "not a capture: exit status $rc, stderr:"
		sed 's/^/	/' "$tmp/err"
	fi
fi

echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
