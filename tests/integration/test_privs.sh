#!/bin/bash
# test_privs.sh - least privilege, on the real path:
#  - with [daemon] user = nfqspi-test-PID (a system user made here and
#    removed at the end), every thread of nfqspid (/proc/PID/task/*/status)
#    has no uid or gid 0, exactly CAP_NET_ADMIN permitted and effective
#    (no inheritable, ambient or other capability), NoNewPrivs 1 -- and
#    packets keep getting verdicts (an allowed connection completes, a
#    denied one does not);
#  - with a reject rule in the configuration: exactly CAP_NET_ADMIN and
#    CAP_NET_RAW, and the reject's RST reaches the client;
#  - the control socket: 0660, owner root, group the daemon's (also
#    under the unit's capability bounding set, without CAP_CHOWN); a user
#    outside that group (nobody) cannot even connect; with the socket made
#    0666 by hand, nobody may still read (status, conntrack count) but
#    conntrack flush, conntrack delete, reload, rules -Z, sync role and
#    sync resync say "permission denied"
#    (exit 1) and change nothing; a member of the group (primary or
#    supplementary) and root may;
#  - with [sync] and a key file only root may read (mode 600): the start
#    (root) reads it, nfqspid -n as the daemon's user is refused with
#    the reason, and a reload by the daemon, no longer root, succeeds (it
#    leaves [sync] for the next start), saying so only when [sync]
#    changed.
#
# Copyright (C) 2026 The nfqspid authors
# SPDX-License-Identifier: GPL-2.0-or-later
# shellcheck disable=SC2317  # functions run through check and wait_for
set -u

T_NET=${T_NET:-93}
T_QUEUE=${T_QUEUE:-13}
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"

U=nfqspi-test-$$
U2=nfqspi-tst2-$$		# a second user, in U's group as a supplementary one

lib_init privs
for t in useradd userdel groupdel runuser; do
	command -v "$t" >/dev/null || skip "$t not installed"
done
getent passwd nobody >/dev/null || skip "no user nobody"

users_del()
{
	local rc=$?
	userdel "$U2" 2>/dev/null
	userdel "$U" 2>/dev/null
	groupdel "$U" 2>/dev/null
	(exit "$rc")
	lib_cleanup
}
trap users_del EXIT
useradd --system --user-group --no-create-home --home-dir / \
    --shell /usr/sbin/nologin "$U" || { echo "cannot create user $U" >&2; exit 1; }
useradd --system --no-create-home --home-dir / --shell /usr/sbin/nologin \
    -G "$U" "$U2" || { echo "cannot create user $U2" >&2; exit 1; }

lib_topology
lib_write_helpers
# The daemon re-reads its configuration as $U on reload, and the other
# users must reach the socket's directory.
chmod 0711 "$T_TMP"

privs_config()
{
	lib_config <<EOF
$(lib_policy)

[rule xfer]
proto = tcp
dport = 5100
action = accept

$1
EOF
	sed -i "s/^\\[daemon\\]\$/[daemon]\\nuser = $U/" "$T_CONF"
	chmod 0644 "$T_CONF"
}

# threads_ok WANTCAP: every thread's status as required; prints what is wrong
threads_ok()
{
	local want=$1 pid=$T_DPID st n=0 bad=0 f
	for st in /proc/"$pid"/task/*/status; do
		n=$((n + 1))
		f=$(awk -v want="$want" '
			/^Uid:/ { for (i = 2; i <= 5; i++) if ($i == 0) e = e " uid0" }
			/^Gid:/ { for (i = 2; i <= 5; i++) if ($i == 0) e = e " gid0" }
			/^Groups:/ { for (i = 2; i <= NF; i++) if ($i == 0) e = e " group0" }
			/^CapEff:/ { if ($2 != want) e = e " CapEff=" $2 }
			/^CapPrm:/ { if ($2 != want) e = e " CapPrm=" $2 }
			/^CapInh:/ { if ($2 != "0000000000000000") e = e " CapInh=" $2 }
			/^CapAmb:/ { if ($2 != "0000000000000000") e = e " CapAmb=" $2 }
			/^NoNewPrivs:/ { nnp = $2 }
			END { if (nnp != 1) e = e " NoNewPrivs=" nnp; print e }' "$st")
		if [ -n "$f" ]; then
			echo "  $(awk '/^Name:/ { print $2 }' "$st") ($st):$f"
			bad=1
		fi
	done
	echo "  $n threads looked at"
	[ "$n" -ge 2 ] && [ "$bad" -eq 0 ]
}

CAP_ADMIN=0000000000001000		# 1 << CAP_NET_ADMIN (12)
CAP_ADMIN_RAW=0000000000003000		# and CAP_NET_RAW (13)

lib_divert || { echo "cannot divert FORWARD to NFQUEUE" >&2; exit 1; }
bg_in "$NS_S" socat "TCP4-LISTEN:5101,bind=$S4,reuseaddr,fork" EXEC:cat
bg_in "$NS_S" socat "TCP4-LISTEN:5102,bind=$S4,reuseaddr,fork" EXEC:cat
wait_listen "$NS_S" tcp 5102 || fail "the servers listen"

# ---- 1. user =, no reject rule ---------------------------------------------------
privs_config ''
check "nfqspid -n accepts the configuration with user = $U" \
    "$NFQSPID" -n -c "$T_CONF"
# a user this system lacks: -n says so (the start failed only at the
# switch, after binding its queues, where -n had said OK)
sed "s/^user = $U\$/user = $U-none/" "$T_CONF" >"$T_TMP/nouser.ini"
out=$("$NFQSPID" -n -c "$T_TMP/nouser.ini" 2>&1)
rc=$?
check "nfqspid -n with a user that does not exist: status 2 (got $rc: $out)" \
    test "$rc" -eq 2
check "... naming the key and its line" \
    grep -Eq "\[daemon\] user: \"$U-none\" is not a user of this system \(line [0-9]+\)$" <<<"$out"
lib_must_start "nfqspid starts with user = $U" "$@"
# the workers and the watchdog exist once the socket is open; give the
# start-up a moment to finish anyway
sleep 0.5
check "every thread: no uid/gid 0, exactly CAP_NET_ADMIN, NoNewPrivs 1" \
    threads_ok "$CAP_ADMIN"
check "the daemon runs as $U" \
    test "$(awk '/^Uid:/ { print $2 }' /proc/"$T_DPID"/status)" = "$(id -u "$U")"
check "the log says which capabilities it kept" \
    log_has "running as user $U with CAP_NET_ADMIN\$"
tcp_transfer as-user "$S4" 5100
tcp_blocked "as $U, denied port 5101" "$S4" 5101
check "as $U: the daemon counted the verdicts" \
    test "$(lib_ctl conntrack count)" -ge 1

# ---- 2. the control socket ---------------------------------------------------------
st=$(stat -c '%a %U %G' "$T_CTL")
check "control socket: mode 660, owner root, group $U (got $st)" \
    test "$st" = "660 root $U"

as() { local u=$1; shift; runuser -u "$u" -- "$NFQSPICTL" -s "$T_CTL" "$@"; }

out=$(as nobody status 2>&1)
rc=$?
check "nobody (not in group $U) cannot connect: exit 1 (got $rc: $out)" \
    test "$rc" -eq 1
check "... and is told who may" \
    grep -q "Permission denied (root and the socket's group may use it)" <<<"$out"
check "root may read: status" quiet lib_ctl status

# An operator's mistake: the socket made world-writable.  The peer
# credentials are the second line of defence.
chmod 0666 "$T_CTL"
n0=$(lib_ctl conntrack count)
check "socket 0666: nobody may read: status" quiet as nobody status
check "socket 0666: nobody may read: conntrack count" quiet as nobody conntrack count
check "socket 0666: nobody may read: stats" quiet as nobody stats
for cmd in "conntrack flush" "conntrack delete proto=tcp" reload "rules -Z" \
    "sync role master" "sync resync"; do
	# shellcheck disable=SC2086
	out=$(as nobody $cmd 2>&1)
	rc=$?
	check "socket 0666: nobody: $cmd refused with exit 1 (got $rc)" \
	    test "$rc" -eq 1
	check "socket 0666: nobody: $cmd says permission denied ($out)" \
	    grep -q "permission denied" <<<"$out"
done
check "socket 0666: the refusals changed nothing ($n0 connections)" \
    test "$(lib_ctl conntrack count)" -eq "$n0" -a "$n0" -ge 1
check "the refusals are logged with the peer's uid" \
    log_has "control: conntrack flush refused to uid $(id -u nobody) "
check "$U (the daemon's user, primary group) may reload" \
    quiet as "$U" reload
# (a delete that matches nothing exits 1, as conntrack -D: only the
# refusal matters here)
out=$(as "$U2" conntrack delete proto=udp 2>&1)
rc=$?
check "$U2 (group $U as a supplementary group) may delete ($out)" \
    test "$rc" -eq 0 -o "$out" = "nfqspictl: 0 connections deleted"
check "$U2 may flush" quiet as "$U2" conntrack flush
check "root may reload" quiet lib_ctl reload
check "after the flush the table is empty" \
    test "$(lib_ctl conntrack count)" -eq 0
chmod 0660 "$T_CTL"
# 12 events streams of $U's, as many as the daemon keeps: one more of
# $U's is refused, but root's takes the place of the oldest, which ends
# saying why (root takes any slot but root's: others' streams cannot
# keep root from events).  setpriv execs, so timeout's signal is
# nfqspictl's.
asx() { setpriv --reuid "$1" --regid "$1" --init-groups -- "$NFQSPICTL" -s "$T_CTL" "${@:2}"; }
upids=()
for i in $(seq 12); do
	asx "$U" events >/dev/null 2>"$T_TMP/ustream-$i.err" &
	upids+=($!)
done
# (one probe, once they had time to start: a probe that came first
# would take a place and stream)
sleep "$T_SLOW"
out=$(timeout --foreground $((2 * T_SLOW)) setpriv --reuid "$U" --regid "$U" \
    --init-groups -- "$NFQSPICTL" -s "$T_CTL" events 2>&1 >/dev/null)
rc=$?
check "12 events streams of $U's: a 13th of $U's is refused (got $rc: $out)" \
    test "$rc" -eq 1 -a -n "$(grep "too many events streams (12 at most)" <<<"$out")"
# root's with a filter the daemon refuses (sent raw: nfqspictl checks
# it first) ends nobody's stream
out=$("$PY" -c '
import socket, struct, sys
s = socket.socket(socket.AF_UNIX)
s.connect(sys.argv[1])
a = [b"events", b"-p", b"bogus"]
p = struct.pack(">H", len(a)) + b"".join(struct.pack(">H", len(x)) + x for x in a)
s.sendall(struct.pack(">IHHII", 0x4e514354, 1, 1, 0, len(p)) + p)
s.settimeout(5)
d = b""
while b"bogus" not in d[16:]:
    c = s.recv(4096)
    if not c:
        break
    d += c
print(d[16:].decode(errors="replace"))' "$T_CTL" 2>&1)
check "... root's with a bad filter is refused ($out)" grep -q "^events: -p" <<<"$out"
sleep 0.5
check "... and ends none of $U's streams" alive_n 12 "${upids[@]}"
out=$(timeout --foreground 2 "$NFQSPICTL" -s "$T_CTL" events 2>&1 >/dev/null)
rc=$?
check "... root's streams (ended by timeout: 124, got $rc: $out)" \
    test "$rc" -eq 124
ended() { grep -lx "nfqspictl: this events stream's place went to root's (12 streams at most)" "$T_TMP"/ustream-*.err | grep -q .; }
check "... in the place of one of $U's, which says why" wait_for 50 ended
check "... the other 11 stream on" wait_for 50 alive_n 11 "${upids[@]}"
kill -TERM "${upids[@]}" 2>/dev/null
wait "${upids[@]}" 2>/dev/null
tcp_transfer after-reloads "$S4" 5100
check "still every thread without privileges after the reloads" \
    threads_ok "$CAP_ADMIN"

if lib_stop_daemon; then
	check "SIGTERM: nfqspid exits with status 0 (got $T_DRC)" test "$T_DRC" -eq 0
else
	fail "SIGTERM: nfqspid exits"
fi

# ---- 3. user = with a reject rule: CAP_NET_RAW too --------------------------------
privs_config '[rule refuse]
proto = tcp
dport = 5102
action = reject'
# under the unit's capability bounding set (etc/nfqspid.service.in):
# without CAP_CHOWN the socket still gets the group (it failed with
# EPERM, and the daemon ran without a control socket, until 2026-12-06)
# shellcheck disable=SC2054  # setpriv's own list, one word
T_DWRAP=(setpriv --bounding-set=-all,+net_admin,+net_raw,+setuid,+setgid --)
lib_must_start "nfqspid starts with user = $U, a reject rule and the unit's bounding set" "$@"
T_DWRAP=()
sleep 0.5
st=$(stat -c '%a %U %G' "$T_CTL")
check "the unit's bounding set: control socket 660 root $U (got $st)" \
    test "$st" = "660 root $U"
check "the unit's bounding set: $U may ask the daemon" quiet as "$U" status
check "the unit's bounding set: nothing failed at the socket" \
    log_lacks "control socket"
check "reject configured: every thread has exactly CAP_NET_ADMIN and CAP_NET_RAW" \
    threads_ok "$CAP_ADMIN_RAW"
check "the log says CAP_NET_RAW is kept" \
    log_has "running as user $U with CAP_NET_ADMIN and CAP_NET_RAW"
out=$(in_c timeout 10 socat -T 2 - "TCP4:$S4:5102,connect-timeout=5" </dev/null 2>&1)
check "the reject rule's RST reaches the client at once ($out)" \
    grep -q "Connection refused" <<<"$out"
tcp_transfer with-reject "$S4" 5100
lib_finish

# ---- 4. user = with [sync]: a reload does not read the key file -------------------
head -c 32 /dev/urandom >"$T_TMP/sync.key"
chmod 0600 "$T_TMP/sync.key"
# $1: more keys of [sync]; the peer is nobody's sync port: unanswered
sync_config()
{
	privs_config "[sync]
listen = $D4C:3780
peer = $C4:3780
key = $T_TMP/sync.key
$1"
}
sync_config ''
check "nfqspid -n reads the [sync] key file, root's and mode 600" \
    quiet "$NFQSPID" -n -c "$T_CONF"
out=$(runuser -u "$U" -- "$NFQSPID" -n -c "$T_CONF" 2>&1)
rc=$?
check "nfqspid -n as $U cannot read it: status 2 (got $rc: $out)" \
    test "$rc" -eq 2
kl=$(grep -n '^key = ' "$T_CONF" | cut -d: -f1)
check "... and says why, at the line of key = ($kl)" \
    grep -qF "[sync] key: $T_TMP/sync.key: Permission denied (line $kl)" \
    <<<"$out"
n0=$(grep -c "reloaded $T_CONF" "$T_LOG")
lib_must_start "nfqspid starts with user = $U and [sync]" "$@"
check "[sync]: the daemon runs as $U" \
    test "$(awk '/^Uid:/ { print $2 }' /proc/"$T_DPID"/status)" = "$(id -u "$U")"
out=$(lib_ctl reload 2>&1)
rc=$?
check "[sync]: a reload as $U succeeds though it cannot read the key (status $rc: $out)" \
    test "$rc" -eq 0
check "[sync]: an unchanged [sync] is not said to wait for the next start" \
    log_lacks "reload: \\[sync\\] takes effect"
sync_config 'flush = 100'
check "[sync]: a reload with [sync] flush changed succeeds" quiet lib_ctl reload
check "[sync]: ... and says that [sync] waits for the next start" \
    log_has "reload: \\[sync\\] takes effect at the next start"
check "[sync]: both reloads were applied" \
    test "$(grep -c "reloaded $T_CONF" "$T_LOG")" -eq $((n0 + 2))
lib_finish
lib_summary
