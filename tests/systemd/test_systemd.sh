#!/bin/bash
# test_systemd.sh - the Debian package under a real systemd as PID 1
# (make check-systemd; root; not part of make check: it needs the Debian
# mirror once and takes minutes):
#  - a minimal Debian 12 root (debootstrap, with systemd, iptables,
#    iproute2 and the package's libraries) is made once and kept in
#    $NFQSPI_SYSTEMD_CACHE (default /var/tmp/nfqspid-systemd);
#  - the package is built from this tree as test_deb.sh builds it and
#    installed into a copy of that root;
#  - the copy boots with systemd-nspawn --boot in a network namespace
#    of its own (a veth to a second namespace, the peer), and in it:
#    the enabled unit started at the boot; systemctl start is active
#    only once nfqspid -f said READY=1 (its STATUS= line, MainPID the
#    daemon, running as user nfqspid, its control socket answering and
#    in the user's group), the
#    peer's ping through nfqspictl iptables' rules is accepted and a
#    connection to a port no rule opens is dropped, a warning of the
#    file is in journalctl -u nfqspid once, systemctl reload comes back
#    to active, fails on a file the daemon refuses (which keeps its
#    rules) and takes a good one, systemctl stop leaves no socket and no pidfile in /run
#    and writes the state file, which the next start restores, a bad /etc/nfqspi.ini fails the start with its error in systemctl
#    status and is not restarted (RestartPreventExitStatus=2);
#  - [daemon] divert = iptables: the daemon's own diversion is in after
#    systemctl start and judges the peer's traffic, a flushed chain is
#    put back by the daemon (user nfqspid by then), and at the stop it
#    goes with fail_open = yes and stays with no (nothing passes) until
#    nfqspid(8)'s commands remove it; the status page (http =) answers
#    /, /metrics and /api/stats;
#  - [sync] role master in the container, this build's nfqspid its
#    backup in the peer's namespace: they hear each other and the
#    peer's ping through the master is on the backup;
#  - systemd-analyze security gives the score the unit's comment says.
# The container, the copy and both namespaces are removed on every exit;
# the host's interfaces and firewall are not touched.
#
# Copyright (C) 2026 The nfqspid authors
# SPDX-License-Identifier: GPL-2.0-or-later
# shellcheck disable=SC2317  # functions run through check and wait_for
set -u

: "${top_srcdir:=$(cd "$(dirname "$0")/../.." && pwd)}"
: "${top_builddir:=$top_srcdir}"
: "${NFQSPI_SYSTEMD_CACHE:=/var/tmp/nfqspid-systemd}"
: "${NFQSPI_MIRROR:=http://deb.debian.org/debian}"
PKG=nfqspid
SUITE=bookworm
# systemd and the tools the checks run inside; the package's own
# Depends are read from the built .deb and added (apt-get install
# ./x.deb in the root would need the mirror on every run).
BASE_PKGS=systemd,systemd-sysv,dbus,iptables,iproute2,procps,adduser

# ok, fail, check, skip, not, quiet, lib_summary, lib_build_deb
# shellcheck source=tests/integration/lib.sh
. "$top_srcdir/tests/integration/lib.sh"
# wait_for_s SECONDS CMD...: until CMD succeeds, a tenth of a second apart
wait_for_s()
{
	local n=$(($1 * 10))
	shift
	while [ "$n" -gt 0 ]; do
		"$@" && return 0
		n=$((n - 1))
		sleep 0.1
	done
	return 1
}

[ "$(id -u)" -eq 0 ] || skip "needs root (debootstrap, systemd-nspawn)"
for t in debootstrap systemd-nspawn dpkg-buildpackage dh nsenter ip flock \
    curl nc python3 pkill; do
	command -v "$t" >/dev/null ||
	    skip "$t not installed (scripts/deps.sh installs it)"
done
[ -f "$top_builddir/Makefile" ] || { echo "configure first" >&2; exit 1; }
VERSION=${VERSION:-$(sed -n 's/^VERSION = //p' "$top_builddir/Makefile")}

mkdir -p "$NFQSPI_SYSTEMD_CACHE" || exit 1
exec 9>"$NFQSPI_SYSTEMD_CACHE/lock"
flock -w 900 9 || { echo "$NFQSPI_SYSTEMD_CACHE/lock: held too long" >&2; exit 1; }

T0=$(date +%s)
tmp=$(mktemp -d "$NFQSPI_SYSTEMD_CACHE/run.XXXXXX") || exit 1
id=$$
NS_C=nfqspi-sd-c$id		# the container's network
NS_P=nfqspi-sd-p$id		# its peer
nspawn=
leader=
peer=			# the [sync] backup in the peer's namespace
cleanup()
{
	local rc=$?
	[ -n "$peer" ] && kill "$peer" 2>/dev/null && wait "$peer" 2>/dev/null
	if [ -n "$leader" ] && [ -d "/proc/$leader" ]; then
		# SIGRTMIN+4: systemd powers off
		kill -s RTMIN+4 "$leader" 2>/dev/null
		for _ in $(seq 100); do
			[ -d "/proc/$leader" ] || break
			sleep 0.1
		done
	fi
	if [ -n "$nspawn" ] && [ -d "/proc/$nspawn" ]; then
		kill "$nspawn" 2>/dev/null
		sleep 1
		kill -9 "$nspawn" 2>/dev/null
	fi
	[ -n "$nspawn" ] && wait "$nspawn" 2>/dev/null
	ip netns del "$NS_C" 2>/dev/null
	ip netns del "$NS_P" 2>/dev/null
	# the copy's /proc and /sys are nspawn's mounts, gone with it; a
	# chroot's mounts are undone before rm
	umount -R "$tmp/root/proc" 2>/dev/null
	rm -rf --one-file-system "$tmp"
	echo "took $(($(date +%s) - T0)) s"
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

# ---- the package, as test_deb.sh builds it ----------------------------------------

# NFQSPI_SYSTEMD_DEB: a package built already (to rerun the checks)
if [ -n "${NFQSPI_SYSTEMD_DEB:-}" ]; then
	deb=$NFQSPI_SYSTEMD_DEB
else
	echo "building the package"
	lib_build_deb "$tmp"
	deb=$LIB_DEB
fi
[ -f "$deb" ] || { echo "FAIL: no $deb"; exit 1; }

# ---- the Debian 12 root, made once -------------------------------------------

# the package's Depends (its libraries, adduser), first choices
deps=$(dpkg-deb -f "$deb" Depends | tr ',' '\n' | sed 's/[(|].*//; s/ //g' | grep .)

ROOTFS=$NFQSPI_SYSTEMD_CACHE/rootfs
if [ ! -x "$ROOTFS/lib/systemd/systemd" ]; then
	echo "debootstrap $SUITE into $ROOTFS (once; log: $NFQSPI_SYSTEMD_CACHE/debootstrap.log)"
	rm -rf --one-file-system "$ROOTFS.tmp"
	# shellcheck disable=SC2086  # echo $deps joins deps' lines with blanks
	if ! debootstrap --variant=minbase --include="$BASE_PKGS,$(echo $deps | tr ' ' ,)" \
	    "$SUITE" "$ROOTFS.tmp" "$NFQSPI_MIRROR" \
	    >"$NFQSPI_SYSTEMD_CACHE/debootstrap.log" 2>&1; then
		tail -n 20 "$NFQSPI_SYSTEMD_CACHE/debootstrap.log"
		echo "FAIL: debootstrap"
		exit 1
	fi
	mv "$ROOTFS.tmp" "$ROOTFS"
fi
echo "root: $ROOTFS ($(du -sm "$ROOTFS" | cut -f1) MB), made $(date -r "$ROOTFS" '+%F %T')"

# ---- a copy of the root, with the package in it -------------------------------

R=$tmp/root
cp -a --reflink=auto "$ROOTFS" "$R" || exit 1
# The package's Depends that a root made for an older build lacks come
# from the mirror once; they are added to the cached root.
missing=()
for p in $deps; do
	# shellcheck disable=SC2016  # dpkg-query's format, not ours
	chroot "$R" dpkg-query -W -f='${Status}' "$p" 2>/dev/null |
	    grep -q ' installed$' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
	echo "adding to the cached root: ${missing[*]}"
	cp /etc/resolv.conf "$ROOTFS/etc/resolv.conf" 2>/dev/null
	if ! { chroot "$ROOTFS" apt-get update &&
	    chroot "$ROOTFS" env DEBIAN_FRONTEND=noninteractive \
	    apt-get install -y --no-install-recommends "${missing[@]}" &&
	    chroot "$ROOTFS" apt-get clean; } >"$tmp/apt.log" 2>&1; then
		tail -n 20 "$tmp/apt.log"
		echo "FAIL: apt-get install ${missing[*]} in $ROOTFS"
		exit 1
	fi
	rm -rf --one-file-system "$R"
	cp -a --reflink=auto "$ROOTFS" "$R" || exit 1
fi
cp "$deb" "$R/tmp/"
if ! chroot "$R" dpkg -i "/tmp/$(basename "$deb")" >"$tmp/install.log" 2>&1; then
	cat "$tmp/install.log"
	echo "FAIL: dpkg -i in the root"
	exit 1
fi
ok "dpkg -i $(basename "$deb") in a Debian $SUITE root"
# nothing else to start at boot than what the checks need
echo nfqspi-sd >"$R/etc/hostname"
: >"$R/etc/machine-id"
# A warning of the file (an IPv4 source on an ICMPv6 rule), which must
# reach the journal once.
cat >>"$R/etc/nfqspi.ini" <<'EOF'

[rule never6]
proto = icmpv6
src = 10.99.1.0/24
action = accept
EOF
cp "$R/etc/nfqspi.ini" "$tmp/good.ini"

# ---- boot --------------------------------------------------------------------

ip netns add "$NS_C" && ip netns add "$NS_P" || exit 1
# names within IFNAMSIZ for any pid
vc=sdc$id
vp=sdp$id
ip link add "$vc" type veth peer name "$vp" || exit 1
ip link set "$vc" netns "$NS_C" name eth0 && ip link set "$vp" netns "$NS_P" name eth0 || exit 1
ip -n "$NS_C" addr add 10.99.0.1/24 dev eth0
ip -n "$NS_P" addr add 10.99.0.2/24 dev eth0
for n in "$NS_C" "$NS_P"; do
	ip -n "$n" link set lo up
	ip -n "$n" link set eth0 up
done

echo "booting the root with systemd-nspawn --boot (log: $tmp/nspawn.log)"
# Without systemd on the host: no machined (--register=no), no scope
# (--keep-unit).  nspawn keeps CAP_NET_ADMIN only for --private-network;
# the daemon needs it to bind its queue.
systemd-nspawn --quiet --boot --register=no --keep-unit -D "$R" -M nfqspi-sd$id \
    --capability=CAP_NET_ADMIN \
    --network-namespace-path="/run/netns/$NS_C" \
    >"$tmp/nspawn.log" 2>&1 </dev/null &
nspawn=$!
# the container's PID 1: nspawn's child
find_leader() { pgrep -P "$nspawn" -x systemd; }
for _ in $(seq 100); do
	leader=$(find_leader) && break
	[ -d "/proc/$nspawn" ] || break
	sleep 0.1
done
if [ -z "$leader" ]; then
	cat "$tmp/nspawn.log"
	echo "FAIL: systemd-nspawn --boot did not start a container"
	exit 1
fi
in_c() { nsenter -t "$leader" -m -u -i -n -p -C -r -w -- "$@"; }
# PATH of the container's own tools
in_c_sh() { in_c /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin "$@"; }
# systemctl talks to /run/systemd/private, made early in the boot
for _ in $(seq 300); do
	in_c test -S /run/systemd/private && break
	sleep 0.1
done
state=$(in_c_sh timeout 120 systemctl is-system-running --wait 2>&1)
echo "systemd in the container: $state"
booted() { [ "$state" = running ] || [ "$state" = degraded ]; }
if ! booted; then
	sed 's/^/nspawn: /' "$tmp/nspawn.log" | tail -n 40
	echo "FAIL: systemd in the container did not finish booting ($state)"
	exit 1
fi
ok "systemd is PID 1 in the container and booted ($state)"
[ "$state" = degraded ] && in_c_sh systemctl --failed --no-legend | sed 's/^/failed unit: /'

sysctl_c() { in_c_sh systemctl "$@"; }
mainpid=
prop() { sysctl_c show -P "$2" "$1"; }
# the unit's journal, of the daemon started below (_PID=) when set
journal() { in_c_sh journalctl -q -o cat -u nfqspid --no-pager ${mainpid:+_PID=$mainpid}; }

# ---- start: active only when ready --------------------------------------------------

# enabled by the package: multi-user.target started it
check "started at the boot ($(prop nfqspid ActiveState)/$(prop nfqspid SubState): $(prop nfqspid StatusText))" \
    test "$(prop nfqspid ActiveState)" = active
sysctl_c stop nfqspid
sysctl_c start nfqspid
rc=$?
# taken at once: systemctl start returned, READY=1 came
st_now=$(in_c_sh /usr/sbin/nfqspictl status 2>&1)
check "systemctl start nfqspid succeeds (rc $rc)" test "$rc" -eq 0
check "ActiveState=active ($(prop nfqspid ActiveState))" \
    test "$(prop nfqspid ActiveState)" = active
status_text=$(prop nfqspid StatusText)
check "StatusText is the daemon's STATUS= line ($status_text)" \
    grep -q '^running: queue 0 threads 1 rules [0-9]* mode enforce' <<<"$status_text"
mainpid=$(prop nfqspid MainPID)
comm=$(in_c cat "/proc/$mainpid/comm" 2>/dev/null)
check "MainPID $mainpid is nfqspid ($comm)" test "$comm" = nfqspid
# shellcheck disable=SC2016  # awk's $2
uid=$(in_c awk '/^Uid:/ { print $2 }' "/proc/$mainpid/status" 2>/dev/null)
nfq_uid=$(in_c_sh id -u nfqspid)
check "the daemon runs as user nfqspid (uid $uid, nfqspid $nfq_uid)" \
    test -n "$uid" -a "$uid" = "$nfq_uid"
ctl_pid=$(awk '$1 == "pid" { print $2 }' <<<"$st_now")
check "nfqspictl status answers as soon as systemctl start returns (pid ${ctl_pid:-none}: $(head -n 1 <<<"$st_now"))" \
    test "$ctl_pid" = "$mainpid"
# Made as root, which the bounding set gives no CAP_CHOWN: its group
# comes from the fsgid at bind() (this failed with EPERM until
# 2026-12-06, and the daemon ran with no control socket)
sock=$(in_c stat -c '%a %U %G' /run/nfqspid.sock 2>&1)
check "the control socket is 660 root nfqspid ($sock)" test "$sock" = "660 root nfqspid"
check "nothing about the control socket in the journal ($(journal | grep 'control socket' | head -c 200))" \
    not quiet grep -q 'control socket' <(journal)
check "the pidfile /run/nfqspid.pid holds MainPID" \
    test "$(in_c cat /run/nfqspid.pid 2>/dev/null)" = "$mainpid"
ctl_pid=$(prop nfqspid ControlPID)
check "Type=notify: nfqspid -f did not fork (ControlPID $ctl_pid, NRestarts $(prop nfqspid NRestarts))" \
    test "$ctl_pid" = 0 -a "$(prop nfqspid NRestarts)" = 0

# ---- traffic through the queue --------------------------------------------------------

# packets decided, all workers together
queue_pkts() { in_c_sh /usr/sbin/nfqspictl status | awk '$1 == "received" { print $2; exit }'; }
in_c_sh sh -c '/usr/sbin/nfqspictl iptables | iptables-restore -n'
check "nfqspictl iptables | iptables-restore -n loads in the container" \
    quiet in_c_sh sh -c 'iptables -S INPUT | grep -q NFQUEUE'
q0=$(queue_pkts)
check "the peer's ping is accepted through the queue (rule ping)" \
    quiet ip netns exec "$NS_P" ping -c 3 -i 0.2 -W 2 10.99.0.1
q1=$(queue_pkts)
check "the packets decided rose (${q0:-?} -> ${q1:-?})" \
    test -n "$q0" -a -n "$q1" -a "${q1:-0}" -gt "${q0:-0}"
# a listener in the container's network, on a port no rule opens:
# policy new = drop
ip netns exec "$NS_C" timeout 10 nc -l 10.99.0.1 5001 >/dev/null 2>&1 &
lpid=$!
sleep 0.5
check "a connection to port 5001 (no rule opens it) is dropped" \
    not ip netns exec "$NS_P" nc -z -w 2 10.99.0.1 5001
kill "$lpid" 2>/dev/null
wait "$lpid" 2>/dev/null
drops=$(in_c_sh /usr/sbin/nfqspictl stats 2>/dev/null | awk '$1 == "dropped" { s += $2 } END { print s + 0 }')
check "nfqspictl stats counts drops ($drops)" test "${drops:-0}" -gt 0

# ---- the journal --------------------------------------------------------------------

n6=$(journal | grep -c '\[rule never6\]')
check "the file's warning is in journalctl -u nfqspid once ($n6 times)" test "$n6" -eq 1
check "the journal has the daemon's start line (syslog, tied to the unit)" \
    quiet grep -q 'started' <(journal)

# ---- reload -------------------------------------------------------------------------

sysctl_c reload nfqspid
rc=$?
check "systemctl reload nfqspid succeeds (rc $rc)" test "$rc" -eq 0
check "after the reload: active again ($(prop nfqspid ActiveState)/$(prop nfqspid SubState))" \
    test "$(prop nfqspid ActiveState)/$(prop nfqspid SubState)" = active/running
check "after the reload: the same MainPID ($(prop nfqspid MainPID))" \
    test "$(prop nfqspid MainPID)" = "$mainpid"
check "after the reload: StatusText running again ($(prop nfqspid StatusText))" \
    grep -q '^running: ' <<<"$(prop nfqspid StatusText)"
check "the reload is in the journal" quiet grep -qi 'reload' <(journal)
n6=$(journal | grep -c '\[rule never6\]')
check "the reload's warning is in the journal too, once (2 in all: $n6)" test "$n6" -eq 2

# A file that stops the peer's ping, first taken, then with a broken
# rule: systemctl reload fails on that one (ExecReload is nfqspictl
# reload: until 2026-12-06 kill -HUP, which succeeded whatever became
# of the file), and the daemon keeps the rules it ran.
ping_ok() { quiet ip netns exec "$NS_P" ping -c 2 -i 0.2 -W 1 10.99.0.1; }
# the whole unit's journal: ExecReload's nfqspictl is not MainPID
unit_journal() { in_c_sh journalctl -q -o cat -u nfqspid --no-pager; }
sed '/^\[rule host-out\]/i [rule noping]\nproto = icmp\naction = drop\n' \
    "$tmp/good.ini" >"$tmp/noping.ini"
cp "$tmp/noping.ini" "$tmp/bad.ini"
printf '\n[rule broken]\nproto = tcp\ndport = 22-\naction = accept\n' >>"$tmp/bad.ini"
in_c_sh cp /dev/stdin /etc/nfqspi.ini <"$tmp/bad.ini"
sysctl_c reload nfqspid 2>"$tmp/reload-bad.err"
rc=$?
check "systemctl reload fails on a refused file (rc $rc: $(head -c 200 "$tmp/reload-bad.err"))" \
    test "$rc" -ne 0
check "... the unit stays active/running ($(prop nfqspid ActiveState)/$(prop nfqspid SubState)), MainPID the same" \
    test "$(prop nfqspid ActiveState)/$(prop nfqspid SubState)/$(prop nfqspid MainPID)" = "active/running/$mainpid"
check "... StatusText says so ($(prop nfqspid StatusText))" \
    grep -q 'the last reload failed' <<<"$(prop nfqspid StatusText)"
check "... the reason is in the unit's journal" \
    quiet grep -q 'rule broken.*dport' <(unit_journal)
check "... and the daemon runs the old rules: the peer's ping is accepted" ping_ok
check "... no rule noping among its rules" \
    not quiet grep -q noping <(in_c_sh /usr/sbin/nfqspictl rules)
in_c_sh cp /dev/stdin /etc/nfqspi.ini <"$tmp/noping.ini"
sysctl_c reload nfqspid
rc=$?
check "systemctl reload of a good file succeeds (rc $rc)" test "$rc" -eq 0
check "... and it is taken: the peer's ping is dropped" not ping_ok
in_c_sh cp /dev/stdin /etc/nfqspi.ini <"$tmp/good.ini"
sysctl_c reload nfqspid
rc=$?
check "systemctl reload back to the first file (rc $rc): the ping is accepted" \
    test "$rc" -eq 0 -a "$(ping_ok && echo y)" = y

# ---- stop ---------------------------------------------------------------------------

sysctl_c stop nfqspid
rc=$?
check "systemctl stop nfqspid succeeds (rc $rc)" test "$rc" -eq 0
check "inactive after the stop ($(prop nfqspid ActiveState), status $(prop nfqspid ExecMainStatus))" \
    test "$(prop nfqspid ActiveState)" = inactive -a "$(prop nfqspid ExecMainStatus)" = 0
check "the stop removed /run/nfqspid.sock" not in_c test -e /run/nfqspid.sock
check "the stop removed /run/nfqspid.pid" not in_c test -e /run/nfqspid.pid
check "no nfqspid process is left" not quiet in_c_sh pgrep -x nfqspid
# the package's state_file, in the unit's StateDirectory=
sf=$(sed -n 's/^state_file[[:space:]]*=[[:space:]]*\([^[:space:];]*\).*/\1/p' "$tmp/good.ini")
if [ -n "$sf" ]; then
	check "the stop wrote state_file $sf ($(in_c stat -c '%s bytes, %a %U' "$sf" 2>&1))" \
	    in_c test -s "$sf"
	# the next start takes the ping's connection back (an upgrade's
	# restart), then stops again for the part below
	sysctl_c start nfqspid
	mainpid=$(prop nfqspid MainPID)
	rl=$(journal | grep 'restored [0-9]* of [0-9]* connections' | tail -n 1)
	check "the next start restored them (${rl:-no restored line})" \
	    grep -Eq "restored [1-9][0-9]* of [0-9]+ connections from $sf" <<<"$rl"
	check "... and emptied the file it read ($(in_c stat -c '%s bytes' "$sf" 2>&1))" \
	    not in_c test -s "$sf"
	sysctl_c stop nfqspid
	mainpid=
fi

# ---- a bad configuration: failed, and not restarted -----------------------------------

# the queue rules stay: nothing passes while the daemon is down
in_c_sh iptables -F INPUT
in_c_sh iptables -F OUTPUT
in_c_sh iptables -F FORWARD
in_c_sh sh -c 'printf "[daemon]\nqueue = banana\n" >/etc/nfqspi.ini'
sysctl_c reset-failed nfqspid 2>/dev/null
sysctl_c start nfqspid 2>"$tmp/start-bad.err"
rc=$?
check "systemctl start fails on a bad /etc/nfqspi.ini (rc $rc)" test "$rc" -ne 0
sleep 4
check "the unit failed ($(prop nfqspid ActiveState)/$(prop nfqspid Result), exit $(prop nfqspid ExecMainStatus))" \
    test "$(prop nfqspid ActiveState)" = failed -a "$(prop nfqspid ExecMainStatus)" = 2
check "RestartPreventExitStatus=2: not restarted (NRestarts $(prop nfqspid NRestarts) after 4 s)" \
    test "$(prop nfqspid NRestarts)" = 0
sysctl_c status --no-pager -n 20 nfqspid >"$tmp/status-bad.txt" 2>&1
sed 's/^/status: /' "$tmp/status-bad.txt"
check "systemctl status shows the parse error (queue = banana)" \
    grep -q 'nfqspi.ini.*queue\|queue.*banana' "$tmp/status-bad.txt"
check "systemctl status shows the STATUS= line 'cannot start: ...'" \
    grep -q 'cannot start: ' "$tmp/status-bad.txt"
mainpid=$(prop nfqspid ExecMainPID)
nerr=$(journal | grep -c 'banana')
check "the error is in the journal once ($nerr)" test "$nerr" -eq 1
in_c_sh cp /dev/stdin /etc/nfqspi.ini <"$tmp/good.ini"

# ---- [daemon] divert = iptables and the status page, under the sandbox -----------------

# The daemon's own diversion (nfqspid(8), DIVERTING TRAFFIC): installed
# at start as root, repaired as user nfqspid with ambient capabilities
# (iptables-legacy without /run/xtables.lock), removed at stop with
# fail_open = yes and kept with no.  http = on loopback (not diverted).
ipt_l() { in_c_sh iptables-legacy "$@"; }
divert_in() {
	ipt_l -S INPUT 2>/dev/null | sed -n 2p | grep -qx -- '-A INPUT -j nfqspid-input' &&
	    ipt_l -S nfqspid-input 2>/dev/null | grep -q -- '-j NFQUEUE'
}
divert_any() { ipt_l -S 2>/dev/null | grep -q nfqspid; }
sed -e 's/^divert = none/divert = iptables/' -e 's/^fail_open = no/fail_open = yes/' \
    -e 's/^http =.*/http = 127.0.0.1:8470/' "$tmp/good.ini" >"$tmp/divert.ini"
in_c_sh cp /dev/stdin /etc/nfqspi.ini <"$tmp/divert.ini"
sysctl_c reset-failed nfqspid 2>/dev/null
sysctl_c start nfqspid
rc=$?
mainpid=$(prop nfqspid MainPID)
check "divert = iptables, http =: systemctl start succeeds (rc $rc: $(prop nfqspid StatusText))" \
    test "$rc" -eq 0 -a "$(prop nfqspid ActiveState)" = active
check "the daemon's diversion is in: INPUT jumps first to nfqspid-input, an NFQUEUE rule ($(ipt_l -S nfqspid-input 2>&1 | tail -n 1))" \
    divert_in
check "... with --queue-bypass (fail_open = yes)" \
    quiet grep -q -- '--queue-bypass' <(ipt_l -S nfqspid-input)
check "... IPv6 too (ip6tables-legacy nfqspid-output)" \
    quiet grep -q -- '-j NFQUEUE' <(in_c_sh ip6tables-legacy -S nfqspid-output)
q0=$(queue_pkts)
check "the peer's ping is accepted through the daemon's diversion" ping_ok
q1=$(queue_pkts)
check "... judged: the packets decided rose (${q0:-?} -> ${q1:-?})" \
    test -n "$q0" -a -n "$q1" -a "${q1:-0}" -gt "${q0:-0}"
ip netns exec "$NS_C" timeout 10 nc -l 10.99.0.1 5001 >/dev/null 2>&1 &
lpid=$!
sleep 0.5
check "a connection to port 5001 is dropped through it" \
    not ip netns exec "$NS_P" nc -z -w 2 10.99.0.1 5001
kill "$lpid" 2>/dev/null
wait "$lpid" 2>/dev/null
# flushed: the daemon, user nfqspid by now, puts it back within 5 s
ipt_l -F nfqspid-input
check "flushed, the diversion is put back by the daemon as user nfqspid" \
    wait_for_s 12 divert_in
check "... and the journal says so ($(journal | grep 'divert: restored' | tail -n 1))" \
    quiet grep -q 'divert: restored (1 time)' <(journal)
check "... with no error ($(journal | grep -E 'divert: (cannot|removing)' | head -c 300))" \
    not quiet grep -Eq 'divert: (cannot|removing)' <(journal)
page=$(ip netns exec "$NS_C" curl -s -m 5 -o /dev/null -w '%{http_code} %{content_type}' http://127.0.0.1:8470/ 2>&1)
check "the status page answers on 127.0.0.1:8470 ($page)" grep -q '^200 text/html' <<<"$page"
met=$(ip netns exec "$NS_C" curl -s -m 5 http://127.0.0.1:8470/metrics 2>&1)
check "/metrics counts the packets ($(grep -m 1 '^nfqspid_received_total' <<<"$met"))" \
    grep -Eq '^nfqspid_received_total(\{[^}]*\})? [1-9]' <<<"$met"
st=$(ip netns exec "$NS_C" curl -s -m 5 http://127.0.0.1:8470/api/stats 2>&1)
check "/api/stats is JSON ($(head -c 80 <<<"$st"))" \
    python3 -c 'import json, sys; json.loads(sys.argv[1])' "$st"
sysctl_c stop nfqspid
rc=$?
check "systemctl stop (rc $rc): fail_open = yes, the diversion is gone ($(ipt_l -S 2>&1 | grep nfqspid | tr '\n' ' '))" \
    test "$rc" -eq 0 -a "$(divert_any && echo left)" = ""
# what the daemon said of its diversion, should one of these fail
journal | grep 'divert' | sed 's/^/journal: /'
check "... and the peer's ping passes with no daemon (nothing diverts)" ping_ok

# fail_open = no: the diversion stays at stop, nothing passes
sed -i 's/^fail_open = yes/fail_open = no/' "$tmp/divert.ini"
in_c_sh cp /dev/stdin /etc/nfqspi.ini <"$tmp/divert.ini"
sysctl_c start nfqspid
mainpid=$(prop nfqspid MainPID)
check "fail_open = no: started, its diversion without --queue-bypass" \
    test "$(divert_in && echo y)" = y -a \
    "$(ipt_l -S nfqspid-input | grep -c -- --queue-bypass)" = 0
check "... the ping passes while it runs" ping_ok
sysctl_c stop nfqspid
check "... after systemctl stop the diversion stays" divert_in
check "... and the peer's ping does not pass" not ping_ok
# nfqspid(8)'s commands to open a stopped fail-closed firewall
for ipt in iptables-legacy ip6tables-legacy; do
	for h in input output forward; do
		H=$(tr '[:lower:]' '[:upper:]' <<<"$h")
		in_c_sh "$ipt" -D "$H" -j "nfqspid-$h"
		in_c_sh "$ipt" -F "nfqspid-$h"
		in_c_sh "$ipt" -X "nfqspid-$h"
	done
done
check "nfqspid(8)'s commands remove it: the ping passes" \
    test "$(divert_any && echo left)" = "" -a "$(ping_ok && echo y)" = y
mainpid=

# ---- [sync]: the container's daemon a master, a backup in the peer ------------------

# The backup is this build's nfqspid in the peer's namespace, on the
# same rules; the master's diversion is its own (fail_open = yes) and a
# rule lets the backup's messages in.
jsync() {
	"$@" -j sync status 2>/dev/null | python3 -c '
import json, sys
d = json.load(sys.stdin)
for k in sys.argv[1].split("."):
    d = d[k]
print(json.dumps(d))' "$JK" 2>/dev/null
}
m_sync() { JK=$1 jsync in_c_sh /usr/sbin/nfqspictl; }
b_sync() { JK=$1 jsync "$top_builddir/src/nfqspictl" -s "$tmp/peer.sock"; }
reachable_both() { [ "$(m_sync reachable)" = true ] && [ "$(b_sync reachable)" = true ]; }
b_has_ping() { "$top_builddir/src/nfqspictl" -s "$tmp/peer.sock" conntrack -p icmp 2>/dev/null | grep -q 'src=10.99.0.2 dst=10.99.0.1'; }
head -c 32 /dev/urandom | base64 >"$tmp/sync.key"
chmod 600 "$tmp/sync.key"
in_c_sh sh -c 'umask 077; cat >/etc/nfqspi.key' <"$tmp/sync.key"
sed -e 's/^fail_open = no/fail_open = yes/' \
    -e '/^\[rule host-out\]/i [rule sync]\nproto = udp\nsrc = 10.99.0.2\ndport = 3780\naction = accept\n' \
    "$tmp/divert.ini" >"$tmp/master.ini"
cp "$tmp/master.ini" "$tmp/peer.ini"
printf '\n[sync]\nlisten = 10.99.0.1:3780\npeer = 10.99.0.2:3780\nkey = /etc/nfqspi.key\nrole = master\n' >>"$tmp/master.ini"
sed -i -e 's/^divert = .*/divert = none/' -e 's/^user = .*/user =/' \
    -e 's/^state_file = .*/state_file =/' -e 's/^http = .*/http =/' \
    -e "s|^pidfile = .*|pidfile = $tmp/peer.pid|" \
    -e "s|^control = .*|control = $tmp/peer.sock|" "$tmp/peer.ini"
printf '\n[sync]\nlisten = 10.99.0.2:3780\npeer = 10.99.0.1:3780\nkey = %s\nrole = backup\n' \
    "$tmp/sync.key" >>"$tmp/peer.ini"
ip netns exec "$NS_P" "$top_builddir/src/nfqspid" -f -c "$tmp/peer.ini" \
    >"$tmp/peer.log" 2>&1 &
peer=$!
in_c_sh cp /dev/stdin /etc/nfqspi.ini <"$tmp/master.ini"
sysctl_c start nfqspid
rc=$?
mainpid=$(prop nfqspid MainPID)
check "[sync] role master: systemctl start succeeds (rc $rc: $(prop nfqspid StatusText))" \
    test "$rc" -eq 0 -a "$(prop nfqspid ActiveState)" = active
check "... nfqspictl sync status: master ($(m_sync role))" \
    test "$(m_sync role)" = '"master"'
check "the master and the backup hear each other ($(m_sync reachable), $(b_sync reachable))" \
    wait_for_s 15 reachable_both
check "the peer's ping through the master" ping_ok
check "... is on the backup, synced" wait_for_s 10 b_has_ping
check "... nothing refused either side (forged $(m_sync refused.forged)/$(b_sync refused.forged), send errors $(m_sync send_errors)/$(b_sync send_errors))" \
    test "$(m_sync refused.forged)$(b_sync refused.forged)$(m_sync send_errors)$(b_sync send_errors)" = 0000
sysctl_c stop nfqspid
rc=$?
check "[sync]: systemctl stop (rc $rc, status $(prop nfqspid ExecMainStatus))" \
    test "$rc" -eq 0 -a "$(prop nfqspid ExecMainStatus)" = 0
mainpid=
kill "$peer" 2>/dev/null
wait "$peer" 2>/dev/null
peer=
in_c_sh cp /dev/stdin /etc/nfqspi.ini <"$tmp/good.ini"

# ---- hardening score -------------------------------------------------------------------

claimed=$(sed -n 's/^# Scores \([0-9.]*\) in .systemd-analyze security.*/\1/p' \
    "$R/lib/systemd/system/nfqspid.service")
sec=$(in_c_sh systemd-analyze security --no-pager nfqspid 2>&1)
score=$(sed -n 's/.*Overall exposure level for nfqspid.service: \([0-9.]*\).*/\1/p' <<<"$sec")
printf '%s\n' "$sec" | grep -v '✓' | sed 's/^/security: /' 
check "systemd-analyze security nfqspid: ${score:-?}, as the unit says (${claimed:-?})" \
    test -n "$score" -a "$score" = "$claimed"

lib_summary
