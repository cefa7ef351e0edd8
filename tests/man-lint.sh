#!/bin/sh
# man-lint.sh - the man pages must pass mandoc -Tlint without a warning.
#
# Copyright (C) 2026 The nfqspid authors
# SPDX-License-Identifier: GPL-2.0-or-later

: "${top_srcdir:=$(cd "$(dirname "$0")/.." && pwd)}"

if ! command -v mandoc >/dev/null 2>&1; then
	echo "SKIP: mandoc not installed (apt-get install -y mandoc)"
	exit 77
fi

pages=
for f in "$top_srcdir"/man/*.5 "$top_srcdir"/man/*.8; do
	[ -f "$f" ] && pages="$pages $f"
done
if [ -z "$pages" ]; then
	echo "FAIL: no man pages under $top_srcdir/man"
	exit 1
fi

# -W warning reports warnings and worse; anything printed is a failure.
# shellcheck disable=SC2086
out=$(mandoc -Tlint -W warning $pages 2>&1)
if [ -n "$out" ]; then
	echo "$out"
	echo "FAIL: mandoc -Tlint found problems in:$pages"
	exit 1
fi
# A quoting macro after another on one line nests inside it
# (.Pq Ql a , Ql b gives `a, `b''), which -Tlint lets by: no quote
# may open inside an open one in the text as printed.
nested=
for f in $pages; do
	q=$(mandoc -Tascii "$f" | col -b | tr '\n' ' ' |
	    grep -oE "\`[^\`']*\`")
	[ -z "$q" ] || nested="$nested
$f: $q"
done
if [ -n "$nested" ]; then
	echo "$nested"
	echo "FAIL: a quote opens inside another (split the macros over lines)"
	exit 1
fi
echo "PASS: mandoc -Tlint clean:$pages"
exit 0
