#!/bin/sh
# install.sh - make install into a scratch DESTDIR: the binaries, the man
# pages, the systemd unit (with this build's sbindir) and the default
# /etc configuration land, and the HA pair's keepalived hook and sample;
# a second make install keeps an edited
# configuration; make uninstall keeps it too, and removes an unedited one.
#
# Copyright (C) 2026 The nfqspid authors
# SPDX-License-Identifier: GPL-2.0-or-later

# shellcheck disable=SC2154  # sbindir, sysconfdir...: the eval of $vars sets them
: "${top_builddir:=$(cd "$(dirname "$0")/.." && pwd)}"
passed=0
failed=0
check()
{
	desc=$1
	shift
	if "$@"; then
		passed=$((passed + 1)); echo "PASS: $desc"
	else
		failed=$((failed + 1)); echo "FAIL: $desc"
	fi
}

tmp=$(mktemp -d "${TMPDIR:-/tmp}/nfqspi-install.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT
mk()
{
	env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL \
	    make -s -C "$top_builddir" DESTDIR="$tmp/root" "$@" \
	    >>"$tmp/make.log" 2>&1
}
vars=$(sed -n 's/^\(sbindir\|sysconfdir\|systemdsystemunitdir\|prefix\|exec_prefix\|libexecdir\|datarootdir\|docdir\|PACKAGE_TARNAME\) = /\1=/p' \
    "$top_builddir/Makefile")
# they name each other (${exec_prefix}, ${prefix}): three rounds resolve them
# shellcheck disable=SC2034  # i only counts the rounds
for i in 1 2 3; do eval "$vars"; done
R=$tmp/root
conf=$R$sysconfdir/nfqspi.ini

check "make install" mk install
check "nfqspid in $sbindir" test -x "$R$sbindir/nfqspid"
check "nfqspictl in $sbindir" test -x "$R$sbindir/nfqspictl"
check "the unit in $systemdsystemunitdir" test -f "$R$systemdsystemunitdir/nfqspid.service"
check "the unit runs $sbindir/nfqspid -f" \
    grep -qx "ExecStart=$sbindir/nfqspid -f" "$R$systemdsystemunitdir/nfqspid.service"
check "the default configuration in $sysconfdir" test -f "$conf"
check "the keepalived hook in $libexecdir/nfqspid" \
    test -x "$R$libexecdir/nfqspid/nfqspid-notify"
check "the sample keepalived.conf in $docdir/examples" \
    test -f "$R$docdir/examples/keepalived.conf"

echo "; edited $$" >>"$conf"
check "make install again" mk install
check "make install kept the edited configuration" grep -qx "; edited $$" "$conf"
check "make uninstall" mk uninstall
check "make uninstall kept the edited configuration" grep -qx "; edited $$" "$conf"
check "make uninstall removed nfqspid" test ! -e "$R$sbindir/nfqspid"
check "make uninstall removed the unit" test ! -e "$R$systemdsystemunitdir/nfqspid.service"
check "make uninstall removed the keepalived hook" \
    test ! -e "$R$libexecdir/nfqspid/nfqspid-notify"
rm -f "$conf"
mk install && mk uninstall
check "make uninstall removed an unedited configuration" test ! -e "$conf"

if [ "$failed" -ne 0 ]; then
	cat "$tmp/make.log"
fi
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]
