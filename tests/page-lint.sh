#!/bin/sh
# page-lint.sh - the status page's files must be clean: page.html under
# tidy (errors and warnings), page.js under node --check (syntax).
#
# Copyright (C) 2026 The nfqspid authors
# SPDX-License-Identifier: GPL-2.0-or-later

: "${top_srcdir:=$(cd "$(dirname "$0")/.." && pwd)}"

node=$(command -v node || command -v nodejs || true)
if [ -z "$node" ] || ! command -v tidy >/dev/null 2>&1; then
	echo "SKIP: node or tidy not installed (apt-get install -y nodejs tidy)"
	exit 77
fi

rc=0
# The table's body starts empty and is filled by page.js: keep it.
if ! out=$(tidy -q -e --drop-empty-elements no \
    "$top_srcdir/src/page.html" 2>&1) || [ -n "$out" ]; then
	echo "$out"
	echo "FAIL: tidy found problems in src/page.html"
	rc=1
fi
if ! "$node" --check "$top_srcdir/src/page.js"; then
	echo "FAIL: node --check: src/page.js"
	rc=1
fi
# every file page.html links is one nfqspid serves (Makefile.am)
# shellcheck disable=SC2013  # words: the names are page.[a-z]*
for f in $(sed -n 's/.*\(href\|src\)="\(page\.[a-z]*\)".*/\2/p' \
    "$top_srcdir/src/page.html"); do
	if [ ! -f "$top_srcdir/src/$f" ]; then
		echo "FAIL: src/page.html links $f, which is not in src/"
		rc=1
	fi
done
[ $rc -eq 0 ] && echo "PASS: src/page.html (tidy) and src/page.js (node --check) clean"
exit $rc
