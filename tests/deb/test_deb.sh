#!/bin/bash
# test_deb.sh - the Debian package, built from this tree and used the way
# an operator does (make check-deb; root):
#  - dpkg-buildpackage -us -uc -b builds it (tests off: make check runs
#    them) with no compiler or autotools warning under Debian's flags,
#    lintian finds no error and no warning in it;
#  - dpkg -i: binaries in /usr/sbin, the unit in /lib/systemd/system,
#    enabled and NOT started, /etc/nfqspi.ini a conffile, the system user
#    nfqspid, the man pages and docs; `nfqspid -n` accepts the packaged
#    configuration;
#  - the maintainer scripts, as on a system booted with systemd (in a
#    mount namespace): install enables and starts nothing, an upgrade
#    restarts a running daemon, remove stops it;
#  - systemd-analyze verify finds nothing in the installed unit;
#  - an upgrade (the same package, a later version) keeps a local edit of
#    /etc/nfqspi.ini; one that ships a changed file too, unattended
#    (--force-confold), keeps it and puts the new one in .dpkg-dist;
#  - dpkg --purge removes the files, the conffile, the user, the group and
#    the unit's enablement.
# Installing on this machine never starts the daemon (the unit is not
# started on installation) and the package is purged on every exit.
# Runs one at a time (flock), since dpkg has one database.
#
# Copyright (C) 2026 The nfqspid authors
# SPDX-License-Identifier: GPL-2.0-or-later
# shellcheck disable=SC2317  # functions run through check and wait_for
set -u

: "${top_srcdir:=$(cd "$(dirname "$0")/../.." && pwd)}"
: "${top_builddir:=$top_srcdir}"
PKG=nfqspid
LOCK=/tmp/nfqspi-deb.lock

# ok, fail, check, skip, not, quiet, lib_summary, lib_build_deb
# shellcheck source=tests/integration/lib.sh
. "$top_srcdir/tests/integration/lib.sh"

[ "$(id -u)" -eq 0 ] || skip "needs root (dpkg -i, dpkg --purge)"
for t in dpkg-buildpackage dh lintian dpkg-deb flock make; do
	command -v "$t" >/dev/null ||
	    skip "$t not installed (scripts/deps.sh installs it)"
done
[ -f "$top_builddir/Makefile" ] || { echo "configure first" >&2; exit 1; }
VERSION=${VERSION:-$(sed -n 's/^VERSION = //p' "$top_builddir/Makefile")}

exec 9>"$LOCK"
flock -w 900 9 || { echo "$LOCK: held too long" >&2; exit 1; }

installed() { dpkg-query -W -f='${Status}' "$PKG" 2>/dev/null | grep -q ' installed$'; }
known() { dpkg-query -W "$PKG" >/dev/null 2>&1; }
not_known() { ! known; }

tmp=$(mktemp -d "${TMPDIR:-/tmp}/nfqspi-deb.XXXXXX") || exit 1
cleanup()
{
	local rc=$?
	if known; then
		dpkg --purge "$PKG" >/dev/null 2>&1 ||
		    echo "cleanup: dpkg --purge $PKG failed" >&2
	fi
	rm -rf "$tmp"
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

if known; then
	echo "note: $PKG was left installed (an interrupted run?): purging it"
	dpkg --purge "$PKG" >/dev/null || { echo "cannot purge $PKG" >&2; exit 1; }
fi

# ---- build and lint ---------------------------------------------------------

# Every library configure insists on is a build dependency: a clean
# builder (sbuild, a buildd) installs only those.
need=$(sed -n 's/^NFQSPI_NEED_PKG(\[[A-Z_]*\], \[[^]]*\], \[\([a-z0-9.+-]*\)\])$/\1/p' \
    "$top_srcdir/configure.ac")
[ -n "$need" ] || fail "no NFQSPI_NEED_PKG in configure.ac: this check needs updating"
for p in $need; do
	check "debian/control Build-Depends names $p (configure needs it)" \
	    grep -Eq "^(Build-Depends:)? +$p,?( |$)" "$top_srcdir/debian/control"
done

echo "building the package (log: $tmp/build.log while it runs)"
lib_build_deb "$tmp"
deb=$LIB_DEB
arch=$(dpkg --print-architecture)
check "dpkg-buildpackage made $(basename "$deb")" test -f "$deb"
[ -f "$deb" ] || exit 1
# Debian's flags (hardening=+all: -O2, _FORTIFY_SOURCE) find what a
# plain build does not (an unchecked read() or write()); a tarball
# without m4/ made aclocal warn.
grep -E 'warning:' "$tmp/build.log" | sed 's/^/build: /'
check "the package builds without a warning" not grep -q 'warning:' "$tmp/build.log"

lintian --fail-on error,warning --suppress-tags-from-file /dev/null \
    "$deb" >"$tmp/lintian.log" 2>&1
lrc=$?
sed 's/^/lintian: /' "$tmp/lintian.log"
lint_clean() { [ "$lrc" -eq 0 ] && ! grep -q '^[EW]:' "$tmp/lintian.log"; }
check "lintian: no error, no warning" lint_clean

contents=$(dpkg-deb -c "$deb" | awk '{ print $6 }' | sed 's|^\./|/|')
has() { printf '%s\n' "$contents" | grep -qx "$1"; }
for f in /usr/sbin/nfqspid /usr/sbin/nfqspictl \
    /lib/systemd/system/nfqspid.service /etc/nfqspi.ini \
    /usr/share/man/man8/nfqspid.8.gz /usr/share/man/man8/nfqspictl.8.gz \
    /usr/share/man/man5/nfqspi.ini.5.gz /usr/share/doc/nfqspid/copyright \
    /usr/share/doc/nfqspid/README.gz \
    /usr/libexec/nfqspid/nfqspid-notify \
    /usr/share/doc/nfqspid/examples/keepalived.conf; do
	check "the package holds $f" has "$f"
done
check "the packaged unit runs /usr/sbin/nfqspid -f" \
    grep -q '^ExecStart=/usr/sbin/nfqspid -f$' \
    <(dpkg-deb --fsys-tarfile "$deb" | tar -xOf - ./lib/systemd/system/nfqspid.service)

# ---- install ----------------------------------------------------------------

# The daemon must not start: remember which nfqspid run from /usr/sbin
# now (none, unless someone runs one by hand) and compare afterwards.
sbin_daemons()
{
	local p
	for p in /proc/[0-9]*; do
		[ "$(readlink "$p/exe" 2>/dev/null)" = /usr/sbin/nfqspid ] &&
		    echo "${p#/proc/}"
	done
}
before=$(sbin_daemons)

if ! dpkg -i "$deb" >"$tmp/install.log" 2>&1; then
	cat "$tmp/install.log"
	echo "FAIL: dpkg -i"
	exit 1
fi
ok "dpkg -i $(basename "$deb")"
check "installed" installed
for f in /usr/sbin/nfqspid /usr/sbin/nfqspictl; do
	check "$f is executable" test -x "$f"
done
check "the unit is in /lib/systemd/system" test -f /lib/systemd/system/nfqspid.service
check "the unit is enabled (multi-user.target.wants)" \
    test -L /etc/systemd/system/multi-user.target.wants/nfqspid.service
check "the daemon was not started" [ "$(sbin_daemons)" = "$before" ]
check "/etc/nfqspi.ini is a conffile" \
    grep -q '^ /etc/nfqspi.ini ' <(dpkg-query -W -f='${Conffiles}\n' "$PKG")
check "the system user nfqspid exists" quiet getent passwd nfqspid
uid=$(id -u nfqspid 2>/dev/null || echo 0)
system_uid() { [ "$uid" -gt 0 ] && [ "$uid" -lt 1000 ]; }
check "nfqspid is a system user (uid $uid, 1-999)" system_uid
check "the packaged configuration says user = nfqspid" \
    grep -q '^user = nfqspid' /etc/nfqspi.ini
check "the packaged configuration keeps the table in /var/lib/nfqspid" \
    grep -q '^state_file = /var/lib/nfqspid/state' /etc/nfqspi.ini
check "nfqspid -n accepts /etc/nfqspi.ini" /usr/sbin/nfqspid -n
check "nfqspid -V says $VERSION" \
    grep -qx "nfqspid $VERSION" <(/usr/sbin/nfqspid -V)
check "man nfqspid finds the page" test -f /usr/share/man/man8/nfqspid.8.gz
if command -v systemd-analyze >/dev/null; then
	# its commands, man pages and keys, as installed
	vout=$(systemd-analyze verify /lib/systemd/system/nfqspid.service 2>&1)
	check "systemd-analyze verify: the installed unit is clean ($vout)" \
	    test -z "$vout"
fi

# ---- the maintainer scripts under systemd ------------------------------------

# This machine may not run systemd, where the scripts skip the service.
# maint SCRIPT ARGS...: the package's SCRIPT as dpkg runs it on a system
# booted with systemd, in a mount namespace of its own (/run a tmpfs with
# /run/systemd/system in it), deb-systemd-invoke, deb-systemd-helper and
# systemctl replaced by stand-ins that log their arguments to
# $tmp/maint.log.  Nothing outside the namespace changes.
mkdir -p "$tmp/fake" "$tmp/ctl"
dpkg-deb -e "$deb" "$tmp/ctl"
for t in deb-systemd-invoke deb-systemd-helper systemctl; do
	printf '#!/bin/sh\necho "%s $*" >>"%s"\n' "$t" "$tmp/maint.log" >"$tmp/fake/$t"
	chmod +x "$tmp/fake/$t"
done
maint()
{
	local script=$1
	shift
	: >"$tmp/maint.log"
	# shellcheck disable=SC2016  # the inner sh expands them
	unshare -m --propagation private sh -c \
	    'mount -t tmpfs tmpfs /run && mkdir -p /run/systemd/system &&
	    PATH=$0:$PATH exec sh "$@"' "$tmp/fake" "$tmp/ctl/$script" "$@" \
	    >/dev/null 2>&1
}
invoked() { grep -qx "deb-systemd-invoke $*" "$tmp/maint.log"; }
if command -v unshare >/dev/null && unshare -m true 2>/dev/null; then
	maint postinst configure
	check "under systemd, a first install starts nothing" \
	    not grep -q '^deb-systemd-invoke' "$tmp/maint.log"
	check "... and enables the unit" \
	    grep -qx "deb-systemd-helper enable nfqspid.service" "$tmp/maint.log"
	maint prerm upgrade "$VERSION+test1"
	check "under systemd, an upgrade's prerm leaves the daemon running" \
	    not grep -q '^deb-systemd-invoke' "$tmp/maint.log"
	maint postinst configure "$VERSION"
	check "under systemd, an upgrade's postinst restarts a running daemon (try-restart)" \
	    invoked try-restart nfqspid.service
	check "... after daemon-reload" \
	    grep -qx "systemctl --system daemon-reload" "$tmp/maint.log"
	maint prerm remove
	check "under systemd, remove stops the daemon" invoked stop nfqspid.service
else
	echo "SKIP: unshare -m: the maintainer scripts under systemd"
fi

# With divert and fail_open = no a stopped daemon leaves its diversion,
# which no daemon would read once the package is gone: remove takes it.
# open_at_remove DIVERT SETUP LEFT [PIDFILE]: prerm remove in a network
# and mount namespace of their own, /etc/nfqspi.ini (bound over) saying
# divert = DIVERT, after SETUP made what such a daemon leaves
# (src/divert.c's commands); LEFT, which finds it, must fail afterwards.
open_at_remove()
{
	printf '%s\ndivert = %s\t; x\nfail_open = no\npidfile = %s\n' \
	    "${OAR_HEAD:-[daemon]}" "$1" "${4:-$tmp/none.pid}" >"$tmp/divert.ini"
	# shellcheck disable=SC2016  # the inner sh expands them
	unshare -m -n --propagation private sh -c '
	    mount -t tmpfs tmpfs /run && mkdir -p /run/systemd/system &&
	    mount --bind "$1" /etc/nfqspi.ini && eval "$2" && eval "$3" ||
	        { echo "set-up failed"; exit 1; }
	    PATH=$0:$PATH sh "$4" remove || exit 1
	    ! eval "$3"' "$tmp/fake" "$tmp/divert.ini" "$2" "$3" \
	    "$tmp/ctl/prerm" >"$tmp/open.log" 2>&1
}
# kept_said WARNING LINE: prerm's remove went well ($rc), WARNING its one
# warning, LINE the line that names the chains removed
kept_said()
{
	[ "$rc" -eq 0 ] && grep -qxF "$1" "$tmp/open.log" &&
	    [ "$(grep -c warning "$tmp/open.log")" -eq 1 ] &&
	    grep -qxF "$2" "$tmp/open.log"
}
# refusing_remove DIVERT TOOL CASES: open_at_remove with an ipt_setup
# that leaves nfqspid-output ($x_left), TOOL first in PATH a fake that
# refuses its -X (busy) and CASES (more case items of sh), else runs
# the real one; its status in $rc
refusing_remove()
{
	printf '#!/bin/sh\ncase "$*" in\n*" -X nfqspid-output")\n\techo "%s: Device or resource busy." >&2\n\texit 1 ;;\n%s\nesac\nexec %s "$@"\n' \
	    "$2" "$3" "$(command -v "$2")" >"$tmp/fake/$2"
	chmod +x "$tmp/fake/$2"
	open_at_remove "$1" "T=$2; $ipt_setup" "T=$2; $x_left"
	rc=$?
	rm -f "$tmp/fake/$2"
}
# x_refused HOW SAID D...: refusing_remove for each DIVERT:TOOL D whose
# tool is here, the fake's -S as HOW says (listed: the real one's;
# refused: fails; once: fails the first time only); the check's name
# ends in SAID; the warning and the line of the chains removed say the
# chain stays (its -X's error) or, its -S failed too, may stay
x_refused()
{
	local how=$1 said=$2 d t cases stays line
	shift 2
	for d; do
		t=${d#*:}
		command -v "$t" >/dev/null || continue
		case $how in
		listed)	cases='' ;;
		refused)
			cases=$(printf '*" -S")\n\techo "%s: cannot list." >&2\n\texit 1 ;;' "$t") ;;
		once)	rm -f "$tmp/s-refused"
			cases=$(printf '*" -S")\n\t[ -e "%s" ] && exec %s "$@"\n\t: >"%s"\n\techo "%s: cannot list." >&2\n\texit 1 ;;' \
			    "$tmp/s-refused" "$(command -v "$t")" "$tmp/s-refused" "$t") ;;
		esac
		refusing_remove "${d%%:*}" "$t" "$cases"
		if [ "$how" = listed ]; then
			stays="the chain stays: $t: Device or resource busy."
			line="nfqspid-output stays: its -X failed"
		else
			stays="the chain may stay: $t: Device or resource busy.; $t -S failed too: $t: cannot list."
			line="nfqspid-output may stay: $t -S failed"
		fi
		check "remove, divert = ${d%%:*}: a -X of $t that fails$said ($(tr '\n' ' ' <"$tmp/open.log"))" \
		    kept_said "nfqspid: warning: $t -X nfqspid-output failed, $stays" \
		    "nfqspid: removed its $t chains nfqspid-input nfqspid-forward; $line"
	done
}
# shellcheck disable=SC2016  # for open_at_remove's sh
ipt_setup='for h in input output forward; do
	H=$(echo $h | tr a-z A-Z)
	$T -N nfqspid-$h && $T -A nfqspid-$h -j NFQUEUE --queue-num 0 &&
	    $T -I $H 1 -j nfqspid-$h || exit 1
done'
# shellcheck disable=SC2016
ipt_left='$T -S | grep -q nfqspid'
# a second jump in each built-in chain (src/divert.c counts and repairs
# it; a stop removes both): one -D each would leave the chains
# shellcheck disable=SC2016
ipt_dup_setup="$ipt_setup"'
for H in INPUT OUTPUT FORWARD; do
	$T -A $H -j nfqspid-$(echo $H | tr A-Z a-z) || exit 1
done'
# (its queue rule too, where the kernel has the nftables queue expression)
nft_setup='nft add table inet nfqspid &&
    nft add chain inet nfqspid input "{ type filter hook input priority 0; }" &&
    { nft add rule inet nfqspid input queue num 0 2>/dev/null || :; }'
nft_left='nft list table inet nfqspid >/dev/null 2>&1'
if command -v unshare >/dev/null && unshare -m -n true 2>/dev/null; then
	for d in iptables:iptables-legacy iptables:ip6tables-legacy \
	    iptables-nft:iptables-nft iptables-nft:ip6tables-nft nft:nft; do
		t=${d#*:}
		command -v "$t" >/dev/null || continue
		if [ "$t" = nft ]; then
			open_at_remove nft "$nft_setup" "$nft_left"
		else
			open_at_remove "${d%%:*}" "T=$t; $ipt_setup" "T=$t; $ipt_left"
		fi
		rc=$?
		check "remove, divert = ${d%%:*}: what a stopped daemon left in $t goes ($(tr '\n' ' ' <"$tmp/open.log"))" \
		    test "$rc" -eq 0
	done
	for d in iptables:iptables-legacy iptables-nft:ip6tables-nft; do
		t=${d#*:}
		command -v "$t" >/dev/null || continue
		open_at_remove "${d%%:*}" "T=$t; $ipt_dup_setup" "T=$t; $ipt_left"
		rc=$?
		check "remove, divert = ${d%%:*}: a second jump in each chain goes too, and the chains ($(tr '\n' ' ' <"$tmp/open.log"))" \
		    test "$rc" -eq 0
	done
	# an operator's jump to our chain, with a match of its own, stays
	# (never ours to delete) and keeps -X from deleting that chain:
	# a warning names it, the chain stays, emptied, and all else goes;
	# the line that names the chains removed says which stays and why
	# shellcheck disable=SC2016  # for open_at_remove's sh
	op_left='[ "$($T -S)" != "$(printf "%s\n" "-P INPUT ACCEPT" \
	    "-P FORWARD ACCEPT" "-P OUTPUT ACCEPT" "-N nfqspid-forward" \
	    "-A FORWARD -i eth0 -j nfqspid-forward")" ]'
	for d in iptables:iptables-legacy iptables:ip6tables-legacy \
	    iptables-nft:iptables-nft iptables-nft:ip6tables-nft; do
		t=${d#*:}
		command -v "$t" >/dev/null || continue
		# shellcheck disable=SC2016  # for open_at_remove's sh
		open_at_remove "${d%%:*}" \
		    "T=$t; $ipt_setup"'
$T -A FORWARD -i eth0 -j nfqspid-forward' "T=$t; $op_left"
		rc=$?
		check "remove, divert = ${d%%:*}: an operator's jump to nfqspid-forward in $t stays, named in a warning and in the line of the chains removed, the chain with it, the rest goes ($(tr '\n' ' ' <"$tmp/open.log"))" \
		    kept_said "nfqspid: warning: $t -X nfqspid-forward failed, the chain stays: \"-A FORWARD -i eth0 -j nfqspid-forward\" still jumps to it" \
		    "nfqspid: removed its $t chains nfqspid-input nfqspid-output; nfqspid-forward stays: a rule still jumps to it"
	done
	# the jump's words in an operator's comment, in a rule listed
	# before the jump: a rule is judged by its last words, as nfqspid
	# judges it, and the warning names the jump, not the comment
	# shellcheck disable=SC2016  # for open_at_remove's sh
	cm_left='[ "$($T -S)" != "$(printf "%s\n" "-P INPUT ACCEPT" \
	    "-P FORWARD ACCEPT" "-P OUTPUT ACCEPT" "-N nfqspid-forward" \
	    "-A FORWARD -m comment --comment \"-j nfqspid-forward x\" -j ACCEPT" \
	    "-A FORWARD -i eth0 -j nfqspid-forward")" ]'
	for d in iptables:iptables-legacy iptables-nft:ip6tables-nft; do
		t=${d#*:}
		command -v "$t" >/dev/null || continue
		# shellcheck disable=SC2016  # for open_at_remove's sh
		open_at_remove "${d%%:*}" \
		    "T=$t; $ipt_setup"'
$T -A FORWARD -m comment --comment "-j nfqspid-forward x" -j ACCEPT &&
    $T -A FORWARD -i eth0 -j nfqspid-forward' "T=$t; $cm_left"
		rc=$?
		check "remove, divert = ${d%%:*}: a comment in $t that holds the words of a jump to nfqspid-forward is no jump: the warning names the operator's jump after it ($(tr '\n' ' ' <"$tmp/open.log"))" \
		    kept_said "nfqspid: warning: $t -X nfqspid-forward failed, the chain stays: \"-A FORWARD -i eth0 -j nfqspid-forward\" still jumps to it" \
		    "nfqspid: removed its $t chains nfqspid-input nfqspid-output; nfqspid-forward stays: a rule still jumps to it"
	done
	# a -X that fails with no rule jumping to the chain (an $t that
	# refuses it, first in PATH): the warning gives its error, the
	# line of the chains removed says that chain's -X failed
	# shellcheck disable=SC2016  # for open_at_remove's sh
	x_left='[ "$($T -S)" != "$(printf "%s\n" "-P INPUT ACCEPT" \
	    "-P FORWARD ACCEPT" "-P OUTPUT ACCEPT" "-N nfqspid-output")" ]'
	x_refused listed ", no rule jumping to the chain: its error in a warning, the chain named in the line of the chains removed" \
	    iptables:iptables-legacy iptables:ip6tables-legacy \
	    iptables-nft:iptables-nft iptables-nft:ip6tables-nft
	# a -X that fails and an $t that cannot list its table either (it
	# refuses both, first in PATH): prerm cannot tell whether the chain
	# stays; the warning gives both errors, the line says it may stay
	x_refused refused " and an -S that fails too: both errors in a warning, the chain named as one that may stay" \
	    iptables:iptables-legacy iptables-nft:iptables-nft
	# ... an -S that fails once, as lists go on a busy machine: its
	# error is the one given, read from that -S (a second that read it
	# would list the table and give none)
	x_refused once " and an -S that fails once: that -S's error in the warning" \
	    iptables:iptables-legacy iptables-nft:ip6tables-nft
	rm -f "$tmp/s-refused"
	# the section's name, the key and the value in any case, the
	# value quoted, as nfqspid takes them
	t=iptables-legacy
	OAR_HEAD='[ Daemon ]' open_at_remove "'IPTables'" "T=$t; $ipt_setup" \
	    "T=$t; $ipt_left"
	rc=$?
	check "remove, [ Daemon ] divert = 'IPTables': what a stopped daemon left goes ($(tr '\n' ' ' <"$tmp/open.log"))" \
	    test "$rc" -eq 0
	# a daemon started by hand, which the unit cannot stop, keeps it
	echo "$$" >"$tmp/live.pid"
	t=iptables-legacy
	open_at_remove iptables "T=$t; $ipt_setup" "T=$t; $ipt_left" "$tmp/live.pid"
	rc=$?
	kept() { [ "$rc" -ne 0 ] && grep -q "still running (pid $$)" "$tmp/open.log"; }
	check "remove while a daemon still runs: its diversion stays ($(tr '\n' ' ' <"$tmp/open.log"))" \
	    kept
	# another program holds the xtables lock (fd 8, closed for
	# prerm): remove waits 10 s for it, not for ever as a plain -w
	# does, once for both tools (one lock), fails nothing, and says
	# what it left and how to remove that by hand
	printf '[daemon]\ndivert = iptables\nfail_open = no\npidfile = %s\n' \
	    "$tmp/none.pid" >"$tmp/divert.ini"
	t=iptables-legacy
	start=$(date +%s)
	# shellcheck disable=SC2016  # the inner sh expands them
	timeout 60 unshare -m -n --propagation private sh -c '
	    mount -t tmpfs tmpfs /run && mkdir -p /run/systemd/system &&
	    mount --bind "$1" /etc/nfqspi.ini && eval "$2" &&
	    exec 8>/run/xtables.lock && flock -n 8 ||
	        { echo "set-up failed"; exit 1; }
	    PATH=$0:$PATH sh "$3" remove 8>&- || exit 1
	    exec 8>&-
	    eval "$4"' "$tmp/fake" "$tmp/divert.ini" "T=$t; $ipt_setup" \
	    "$tmp/ctl/prerm" "T=$t; $ipt_left" >"$tmp/open.log" 2>&1
	rc=$? took=$(($(date +%s) - start))
	# shellcheck disable=SC2016  # the printed command's own
	lock_warned()
	{
		[ "$rc" -eq 0 ] && [ "$took" -lt 20 ] &&
		    grep -q '^nfqspid: warning: another program held the xtables lock for more than 10s' "$tmp/open.log" &&
		    grep -q "diversion left in iptables-legacy ip6tables-legacy stays" "$tmp/open.log" &&
		    grep -qxF '  for i in $(seq 16); do iptables-legacy -w -D INPUT -j nfqspid-input 2>/dev/null || break; done; iptables-legacy -w -F nfqspid-input; iptables-legacy -w -X nfqspid-input' "$tmp/open.log"
	}
	check "remove while the xtables lock is held: done in ${took}s (< 20), the chains stay, named with the commands to remove them ($(tr '\n' ' ' <"$tmp/open.log"))" \
	    lock_warned
	# those commands, pasted by hand, end where -D never fails (an
	# iptables that always says it deleted one): 16 -D at most, as
	# the daemon's removal and prerm's own
	mkdir -p "$tmp/dnever"
	printf '#!/bin/sh\necho "$*" >>"%s"\n' "$tmp/dnever.log" \
	    >"$tmp/dnever/iptables-legacy"
	chmod +x "$tmp/dnever/iptables-legacy"
	: >"$tmp/dnever.log"
	pasted=$(grep -m 1 '^  for i in .* -D INPUT ' "$tmp/open.log")
	timeout 20 env PATH="$tmp/dnever:$PATH" sh -c "$pasted"
	rc=$?
	check "... pasted where -D never fails, they end (rc $rc) after 16 -D ($(grep -c -- ' -D ' "$tmp/dnever.log"))" \
	    test "$rc" -eq 0 -a "$(grep -c -- ' -D ' "$tmp/dnever.log")" -eq 16
	# divert = none: the operator's queue rules stay, and those
	# without --queue-bypass, which drop everything once the package
	# is gone, are named: iptables-legacy's, iptables-nft's (which
	# nft lists as queue statements too: named once), and nft's own.
	# This kernel may lack nft's queue expression (nft_queue): the
	# nft first in PATH adds a table of them to what nft lists.
	printf '[daemon]\ndivert = none\npidfile = %s\n' "$tmp/none.pid" \
	    >"$tmp/divert.ini"
	mkdir -p "$tmp/nftq"
	cat >"$tmp/nftq/nft" <<'NFT'
#!/bin/sh
[ "$*" = "list ruleset" ] || exec /usr/sbin/nft "$@"
/usr/sbin/nft list ruleset || exit
cat <<'RULES'
table inet opfw {
	chain fwd {
		type filter hook forward priority filter; policy accept;
		ip daddr 10.0.0.1 counter packets 0 bytes 0 queue num 6
		counter packets 0 bytes 0 queue num 7 bypass
		queue flags bypass,fanout to 8-9
	}
}
table inet nfqspid {
	chain input {
		type filter hook input priority filter; policy accept;
		queue num 0
	}
}
RULES
NFT
	chmod +x "$tmp/nftq/nft"
	nftq=
	command -v nft >/dev/null && nftq=$tmp/nftq
	# shellcheck disable=SC2016  # the inner sh expands them
	unshare -m -n --propagation private sh -c '
	    mount -t tmpfs tmpfs /run && mkdir -p /run/systemd/system &&
	    mount --bind "$1" /etc/nfqspi.ini &&
	    iptables-legacy -A FORWARD -j NFQUEUE --queue-num 3 &&
	    iptables-legacy -A INPUT -j NFQUEUE --queue-num 4 --queue-bypass &&
	    { ! command -v iptables-nft >/dev/null ||
	    iptables-nft -A FORWARD -j NFQUEUE --queue-num 5; } ||
	        { echo "set-up failed"; exit 1; }
	    PATH=$3${3:+:}$0:$PATH sh "$2" remove || exit 1
	    iptables-legacy -S' "$tmp/fake" "$tmp/divert.ini" \
	    "$tmp/ctl/prerm" "$nftq" >"$tmp/open.log" 2>&1
	rc=$?
	named()
	{
		[ "$rc" -eq 0 ] &&
		    grep -q '^nfqspid: warning: .* nothing reads the queues' "$tmp/open.log" &&
		    grep -qx '  iptables-legacy-save: -A FORWARD -j NFQUEUE --queue-num 3' "$tmp/open.log" &&
		    ! grep -q 'save: .*--queue-num 4' "$tmp/open.log"
	}
	check "remove, divert = none: a queue rule without --queue-bypass is named ($(tr '\n' ' ' <"$tmp/open.log"))" \
	    named
	check "... and left as it is" \
	    grep -qx -e '-A FORWARD -j NFQUEUE --queue-num 3' "$tmp/open.log"
	if command -v iptables-nft >/dev/null; then
		check "... iptables-nft's too" \
		    grep -qx '  iptables-nft-save: -A FORWARD -j NFQUEUE --queue-num 5' "$tmp/open.log"
		check "... once: not again as nft's" \
		    not grep -q 'nft: table ip filter' "$tmp/open.log"
	fi
	if [ -n "$nftq" ]; then
		check "... nft's own queue statement without bypass" \
		    grep -qx '  nft: table inet opfw chain fwd: ip daddr 10.0.0.1 counter packets 0 bytes 0 queue num 6' "$tmp/open.log"
		check "... not those with bypass, nor nfqspid's own table" \
		    not grep -q -e 'queue num 7' -e 'to 8-9' -e 'nft: table inet nfqspid' "$tmp/open.log"
	fi
else
	echo "SKIP: unshare -m -n: remove and the diversion"
fi

# ---- upgrade with a local edit ----------------------------------------------

echo "; local edit $$" >>/etc/nfqspi.ini
v2=$VERSION+test1
rm -rf "$tmp/v2"
# shellcheck disable=SC2015  # the || is for a failure of any step
dpkg-deb -R "$deb" "$tmp/v2" &&
    sed -i "s/^Version: .*/Version: $v2/" "$tmp/v2/DEBIAN/control" &&
    dpkg-deb -b "$tmp/v2" "$tmp/${PKG}_${v2}_$arch.deb" >/dev/null ||
    { echo "FAIL: cannot make version $v2"; exit 1; }
if dpkg -i "$tmp/${PKG}_${v2}_$arch.deb" </dev/null >"$tmp/upgrade.log" 2>&1; then
	ok "upgrade to $v2"
else
	cat "$tmp/upgrade.log"
	fail "upgrade to $v2"
fi
check "the upgrade installed $v2" \
    [ "$(dpkg-query -W -f='${Version}' "$PKG")" = "$v2" ]
check "the local edit of /etc/nfqspi.ini survived the upgrade" \
    grep -qx "; local edit $$" /etc/nfqspi.ini
check "nfqspid -n still accepts it" /usr/sbin/nfqspid -n

# A later version that ships a changed file: dpkg would ask; unattended
# (apt -o Dpkg::Options::=--force-confold, as unattended-upgrades does)
# it keeps the operator's and puts the new one beside it.
v3=$VERSION+test2
rm -rf "$tmp/v3"
# shellcheck disable=SC2015  # the || is for a failure of any step
dpkg-deb -R "$deb" "$tmp/v3" &&
    sed -i "s/^Version: .*/Version: $v3/" "$tmp/v3/DEBIAN/control" &&
    echo "; shipped with $v3" >>"$tmp/v3/etc/nfqspi.ini" &&
    dpkg-deb -b "$tmp/v3" "$tmp/${PKG}_${v3}_$arch.deb" >/dev/null ||
    { echo "FAIL: cannot make version $v3"; exit 1; }
if dpkg -i --force-confold "$tmp/${PKG}_${v3}_$arch.deb" </dev/null \
    >"$tmp/upgrade3.log" 2>&1; then
	ok "upgrade to $v3, which changes /etc/nfqspi.ini (--force-confold)"
else
	cat "$tmp/upgrade3.log"
	fail "upgrade to $v3, which changes /etc/nfqspi.ini (--force-confold)"
fi
check "... the local edit stays" grep -qx "; local edit $$" /etc/nfqspi.ini
check "... the new file is /etc/nfqspi.ini.dpkg-dist" \
    grep -qx "; shipped with $v3" /etc/nfqspi.ini.dpkg-dist
check "the daemon was not started by the upgrade" [ "$(sbin_daemons)" = "$before" ]

# ---- purge ------------------------------------------------------------------

if dpkg --purge "$PKG" >"$tmp/purge.log" 2>&1; then
	ok "dpkg --purge"
else
	cat "$tmp/purge.log"
	fail "dpkg --purge"
fi
check "purged: dpkg knows no $PKG" not_known
for f in /usr/sbin/nfqspid /usr/sbin/nfqspictl /lib/systemd/system/nfqspid.service \
    /etc/nfqspi.ini /etc/nfqspi.ini.dpkg-old /etc/nfqspi.ini.dpkg-dist \
    /etc/systemd/system/multi-user.target.wants/nfqspid.service \
    /var/lib/systemd/deb-systemd-helper-enabled/nfqspid.service.dsh-also \
    /usr/share/doc/nfqspid /usr/share/man/man8/nfqspid.8.gz \
    /var/lib/nfqspid; do
	check "purge removed $f" test ! -e "$f"
done
check "purge removed the user nfqspid" not quiet getent passwd nfqspid
check "purge removed the group nfqspid" not quiet getent group nfqspid

lib_summary
