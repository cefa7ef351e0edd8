# shellcheck shell=bash
# lib.sh - helpers for the integration tests: a throwaway client - dut -
# server set of network namespaces, dut's FORWARD chain diverted to
# NFQUEUE, nfqspid running inside dut, and simple assertions.
#
# Copyright (C) 2026 The nfqspid authors
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Sourced by tests/integration/test_*.sh, which run under `make check`
# (TESTS_ENVIRONMENT sets NFQSPID, NFQSPICTL, top_srcdir, top_builddir)
# or by hand as root.  Exit status: 0 pass, 1 fail, 77 skip (not root or
# no namespace/NFQUEUE support).
#
#   client  c0 10.N.1.2/24 fd00:N:1::2/64
#     |
#   dut     d0 10.N.1.1/24 fd00:N:1::1/64   (forwarding; FORWARD -> NFQUEUE)
#           d1 10.N.2.1/24 fd00:N:2::1/64   (nfqspid runs here)
#     |
#   server  s0 10.N.2.2/24 fd00:N:2::2/64
#
# The diversion has no --queue-bypass: when the daemon is not running the
# kernel drops, so a dead daemon fails the test instead of passing it.

_lib_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
: "${top_srcdir:=$(cd "$_lib_dir/../.." && pwd)}"
: "${top_builddir:=$top_srcdir}"
: "${NFQSPID:=$top_builddir/src/nfqspid}"
: "${NFQSPICTL:=$top_builddir/src/nfqspictl}"

PY=/usr/bin/python3		# Debian's, which has scapy
IPT=iptables-legacy
IP6T=ip6tables-legacy

T_NET=${T_NET:-99}		# second octet of the test subnets
T_QUEUE=${T_QUEUE:-7}		# NFQUEUE number (queues are per namespace)
C4=10.$T_NET.1.2; D4C=10.$T_NET.1.1; D4S=10.$T_NET.2.1; S4=10.$T_NET.2.2
C6=fd00:$T_NET:1::2; D6C=fd00:$T_NET:1::1; D6S=fd00:$T_NET:2::1; S6=fd00:$T_NET:2::2

T_PASSED=0
T_FAILED=0
T_NAME=
T_TMP=
T_DPID=
T_LOG=
T_CTL=
NS_C=''
NS_D=''
NS_S=''
T_EXTRA_NS=''			# more namespaces a test made (lib_ns_add)
T_CONF=''
T_DRC=''
T_DWRAP=()			# what starts the daemon in dut and execs it
T_VG=()				# valgrind's command line (NFQSPID_VALGRIND)
T_VG_ABRUPT=()			# ... for a daemon ended by _exit() on purpose
T_SLOW=1			# how much longer the daemon is given to act

# ---- results ---------------------------------------------------------------

ok()
{
	T_PASSED=$((T_PASSED + 1))
	echo "PASS: $*"
}

fail()
{
	T_FAILED=$((T_FAILED + 1))
	echo "FAIL: $*"
}

# check "description" command...: pass if the command succeeds
check()
{
	local desc=$1
	shift
	if "$@"; then ok "$desc"; else fail "$desc"; fi
}

# not command...: succeeds when the command fails
not()
{
	! "$@"
}

# quiet command...: the command without its output
quiet()
{
	"$@" >/dev/null 2>&1
}

skip()
{
	echo "SKIP: $*"
	exit 77
}

# The last line the harness and people read; exit status for the harness.
lib_summary()
{
	echo "$T_PASSED passed, $T_FAILED failed"
	if [ "$T_FAILED" -eq 0 ] && [ "$T_PASSED" -gt 0 ]; then
		exit 0
	fi
	exit 1
}

# alive_n N PID...: exactly N of the PIDs still run; T_ALIVE, how many
# (with wait_for: a client that printed its last word may not have
# exited yet).
alive_n()
{
	local _want=$1 _p
	shift
	T_ALIVE=0
	for _p in "$@"; do
		kill -0 "$_p" 2>/dev/null && T_ALIVE=$((T_ALIVE + 1))
	done
	[ "$T_ALIVE" -eq "$_want" ]
}

# wait_for TENTHS command...: poll until the command succeeds.  Its
# arguments are expanded once, before the first try: for a value that
# must be read anew each time, use wait_eval.
wait_for()
{
	local _tries=$1
	shift
	while [ "$_tries" -gt 0 ]; do
		"$@" && return 0
		sleep 0.1
		_tries=$((_tries - 1))
	done
	"$@"
}

# wait_eval TENTHS 'EXPR': poll until the shell expression, evaluated
# anew each try, succeeds; single-quote it, as in
# wait_eval 50 'test "$(lib_stat frag_held)" = 0'.
wait_eval()
{
	wait_for "$1" eval "$2"
}

in_c() { ip netns exec "$NS_C" "$@"; }
in_d() { ip netns exec "$NS_D" "$@"; }
in_s() { ip netns exec "$NS_S" "$@"; }

# bg_in NS command...: a server left running until the clean-up kills
# everything in the namespace; not our child, so no job notices.
bg_in()
{
	local ns=$1
	shift
	( ip netns exec "$ns" "$@" </dev/null >/dev/null 2>&1 & )
}

# ---- set-up and tear-down ----------------------------------------------------

# lib_need TOOL...: each on the PATH, or the test cannot run (an error,
# not a skip: scripts/deps.sh installs them).
lib_need()
{
	local t

	for t in "$@"; do
		command -v "$t" >/dev/null && continue
		echo "ERROR: $t not found: run scripts/deps.sh" >&2
		exit 1
	done
}

# lib_init NAME: check we can run, make the tmp dir, install the clean-up.
lib_init()
{
	T_NAME=$1
	local t

	[ "$(id -u)" -eq 0 ] || skip "$T_NAME needs root (network namespaces, NFQUEUE)"
	command -v ip >/dev/null || skip "ip (iproute2) not installed"
	lib_need "$IPT" "$IP6T" socat nc ping ss timeout "$PY"
	if ! "$PY" -c 'import scapy.all' 2>/dev/null; then
		echo "ERROR: $PY has no scapy: run scripts/deps.sh" >&2
		exit 1
	fi
	for t in "$NFQSPID" "$NFQSPICTL"; do
		if [ ! -x "$t" ]; then
			echo "ERROR: $t not built" >&2
			exit 1
		fi
	done

	NS_C=nqc-$T_NAME-$$
	NS_D=nqd-$T_NAME-$$
	NS_S=nqs-$T_NAME-$$
	T_TMP=$(mktemp -d "/tmp/nfqspi-it-$T_NAME.XXXXXX")
	T_LOG=$T_TMP/nfqspid.log
	T_CTL=$T_TMP/control.sock
	lib_vg_init
	trap lib_cleanup EXIT
	trap 'exit 130' INT
	trap 'exit 143' TERM

	ip netns add "$NS_C" 2>/dev/null || skip "no network namespace support (ip netns add failed)"
	ip netns add "$NS_D" || exit 1
	ip netns add "$NS_S" || exit 1
	# Most kernels load these on demand; make sure where we can.
	modprobe -q nfnetlink_queue 2>/dev/null || true
	modprobe -q xt_NFQUEUE 2>/dev/null || true
	if ! in_d "$IPT" -A FORWARD -j NFQUEUE --queue-num "$T_QUEUE" 2>/dev/null ||
	    ! in_d "$IPT" -F FORWARD; then
		skip "the kernel has no NFQUEUE target for iptables-legacy"
	fi
	[ -e /proc/net/netfilter/nfnetlink_queue ] ||
	    skip "the kernel has no nfnetlink_queue"
}

lib_cleanup()
{
	local rc=$? ns pids

	trap - EXIT INT TERM
	if [ -n "$T_DPID" ] && kill -0 "$T_DPID" 2>/dev/null; then
		kill -TERM "$T_DPID" 2>/dev/null
		wait_for $((20 * T_SLOW)) not kill -0 "$T_DPID" 2>/dev/null
		kill -KILL "$T_DPID" 2>/dev/null
	fi
	# shellcheck disable=SC2086
	for ns in "$NS_C" "$NS_D" "$NS_S" $T_EXTRA_NS; do
		[ -n "$ns" ] || continue
		pids=$(ip netns pids "$ns" 2>/dev/null)
		# shellcheck disable=SC2086
		[ -n "$pids" ] && kill -KILL $pids 2>/dev/null
	done
	# shellcheck disable=SC2086
	for ns in "$NS_C" "$NS_D" "$NS_S" $T_EXTRA_NS; do
		[ -n "$ns" ] || continue
		ip netns del "$ns" 2>/dev/null
	done
	if [ "$rc" -ne 77 ] && ! lib_vg_clean; then
		echo "FAIL: valgrind found errors in nfqspid"
		[ "$rc" -ne 0 ] || rc=1
	fi
	if { [ "$rc" -ne 0 ] && [ "$rc" -ne 77 ]; } || [ "$T_FAILED" -gt 0 ]; then
		if [ -s "$T_LOG" ]; then
			echo "---- last lines of nfqspid's log ($T_LOG) ----"
			tail -n 60 "$T_LOG"
			echo "----"
		fi
	fi
	if [ -n "$T_TMP" ] && [ -z "${KEEP_TMP:-}" ]; then
		rm -rf "$T_TMP"
	elif [ -n "$T_TMP" ]; then
		echo "kept $T_TMP"
	fi
	exit "$rc"
}

# ---- valgrind (opt-in) -----------------------------------------------------
#
# NFQSPID_VALGRIND=1 (make check-daemon-valgrind) runs every nfqspid that
# lib_start_daemon starts, and those a test starts itself with
# "${T_VG[@]}" before "$NFQSPID", under valgrind memcheck: uninitialised
# bytes reaching a syscall (netlink, the sync socket) or a branch, invalid
# accesses, definite leaks, and descriptors open at exit that the daemon
# opened.  One log per process, $T_TMP/vg.PID.log; valgrind execs the
# tool, so the pid the test holds is the daemon's and its signals reach
# it.  The clean-up fails the test and prints the log on any finding.
# T_SLOW (NFQSPID_VALGRIND_SLOW, default 10) stretches lib.sh's waits on
# the daemon; normal runs keep T_SLOW = 1.

lib_vg_init()
{
	[ -n "${NFQSPID_VALGRIND:-}" ] || return 0
	if ! command -v valgrind >/dev/null; then
		echo "ERROR: NFQSPID_VALGRIND is set and valgrind is not installed" >&2
		exit 1
	fi
	T_SLOW=${NFQSPID_VALGRIND_SLOW:-10}
	# --child-silent-after-fork: the daemon's posix_spawn() of
	# iptables forks under valgrind until the exec; a child of a
	# daemon that dropped privileges cannot make its own log file
	T_VG=(valgrind --tool=memcheck --error-exitcode=99
	    --child-silent-after-fork=yes
	    --track-origins=yes --track-fds=yes --leak-check=full
	    --show-leak-kinds=definite --errors-for-leak-kinds=definite
	    --suppressions="$_lib_dir/valgrind.supp"
	    --log-file="$T_TMP/vg.%p.log")
	# A daemon the test ends through its watchdog thread's _exit(1) (a
	# hung worker, test_sdnotify.sh): that exit leaves every descriptor
	# to the kernel on purpose, closing none under threads that still
	# run.  --track-fds is off for it alone; its errors and leaks count
	# as any other's.
	# shellcheck disable=SC2034  # for the tests
	T_VG_ABRUPT=("${T_VG[@]}" --track-fds=no)
}

# lib_vg_clean: no valgrind log of this test reports an error, a
# definite leak or a descriptor the daemon left open at exit; prints the
# logs that do.  A daemon killed by SIGKILL wrote no summary: its log is
# read for the errors it reported until then.
lib_vg_clean()
{
	local f n=0 bad=0
	[ "${#T_VG[@]}" -gt 0 ] || return 0
	for f in "$T_TMP"/vg.*.log; do
		[ -e "$f" ] || continue
		n=$((n + 1))
		if ! _vg_log_clean "$f"; then
			echo "---- valgrind: $f ----"
			cat "$f"
			echo "----"
			bad=1
		fi
	done
	[ "$bad" -eq 1 ] || echo "valgrind: $n log(s), no finding"
	return "$bad"
}

_vg_log_clean()
{
	awk '
	# valgrind prefixes each line with ==PID==
	{ sub(/^==[0-9]+== ?/, "") }
	/^ERROR SUMMARY: [1-9]/ { bad = 1 }
	/^(Invalid (read|write|free)|Conditional jump|Use of uninitialised|Syscall param|Mismatched free|Source and destination overlap|Argument .* of function)/ { bad = 1 }
	/are definitely lost in loss record/ { bad = 1 }
	# a descriptor block: "Open ... N: ...", then where it was opened,
	# or "<inherited from parent>" (stdio, the test harness)
	fd != "" { if ($0 !~ /<inherited from parent>/) bad = 1; fd = "" }
	/^Open (file descriptor|AF_[A-Z0-9]+ socket|socket) [0-9]+/ { fd = $0 }
	END { exit bad }' "$1"
}

# lib_flood_lock: make -j check runs tests side by side; the floods
# (test_attacks.sh, test_synflood.sh, test_overload.sh, test_reload.sh)
# take turns on /tmp/nfqspid-floods.lock (fd 9, held until the test
# ends), so that none measures another's load.
lib_flood_lock()
{
	command -v flock >/dev/null || return 0
	exec 9>/tmp/nfqspid-floods.lock
	flock 9
}

# lib_ns_add VAR ROLE: one more namespace, named after the test and
# ROLE, its name in VAR; removed (its processes killed) with the others.
lib_ns_add()
{
	local ns=nq$2-$T_NAME-$$
	ip netns add "$ns" || return 1
	T_EXTRA_NS="$T_EXTRA_NS $ns"
	printf -v "$1" '%s' "$ns"
}

# lib_spoofed: for floods from made-up sources.  dut forwards them
# whatever their reverse path (rp_filter off) and drops what the server
# answers them (a blackhole default route, IPv4), and the server answers
# with SYN cookies rather than drop its own half-open connections.
lib_spoofed()
{
	local k

	in_d ip route add blackhole default
	for k in all default d0 d1; do
		in_d sysctl -qw "net.ipv4.conf.$k.rp_filter=0"
	done
	in_s sysctl -qw net.ipv4.tcp_syncookies=1 2>/dev/null
}

# lib_sync_link VAR: a backup's namespace (lib_ns_add, role b; its name
# in VAR) joined to dut by a sync veth, dut's y0 $SYNC_D4 and the
# backup's y1 $SYNC_B4 (10.N.9.1 and .2, /24), and $T_TMP/sync.key, the
# key both ends read.  After lib_topology.
lib_sync_link()
{
	local b
	SYNC_D4=10.$T_NET.9.1
	SYNC_B4=10.$T_NET.9.2
	lib_ns_add "$1" b || return 1
	b=${!1}
	ip -n "$NS_D" link add y0 type veth peer name y1 netns "$b" &&
	    ip -n "$b" link set lo up &&
	    ip -n "$NS_D" addr add "$SYNC_D4/24" dev y0 &&
	    ip -n "$b" addr add "$SYNC_B4/24" dev y1 &&
	    ip -n "$NS_D" link set y0 up &&
	    ip -n "$b" link set y1 up || return 1
	head -c 32 /dev/urandom | base64 >"$T_TMP/sync.key" &&
	    chmod 600 "$T_TMP/sync.key"
}

# lib_sync_section master|backup: the [sync] of dut (master) or of the
# backup, the two ends of lib_sync_link's veth.
lib_sync_section()
{
	local me=$SYNC_D4 peer=$SYNC_B4
	if [ "$1" = backup ]; then
		me=$SYNC_B4
		peer=$SYNC_D4
	fi
	cat <<EOF
[sync]
listen = $me:3780
peer = $peer:3780
key = $T_TMP/sync.key
role = $1
EOF
}

# lib_sync_cleanup: lib_cleanup, after killing a second daemon (the
# backup: its pid in B_PID) and, when a check failed, showing the end
# of its log (B_LOG).  For trap ... EXIT: the test's status is passed
# on, not that of the commands here.
lib_sync_cleanup()
{
	local rc=$?

	if [ -n "${B_PID:-}" ]; then
		kill -KILL "$B_PID" 2>/dev/null
	fi
	if [ "$T_FAILED" -gt 0 ] && [ -s "${B_LOG:-}" ]; then
		echo "---- last lines of the backup's log ----"
		tail -n 40 "$B_LOG"
	fi
	(exit "$rc")
	lib_cleanup
}

# lib_jsync CTL KEY: a key of `nfqspictl -j sync status` of the daemon
# on control socket CTL, as JSON (KEY may name a member: refused.forged)
lib_jsync()
{
	"$NFQSPICTL" -s "$1" -j sync status 2>/dev/null | "$PY" -c '
import json, sys
d = json.load(sys.stdin)
for k in sys.argv[1].split("."):
    d = d[k]
print(json.dumps(d))' "$2" 2>/dev/null
}

# lib_topology: the three namespaces, joined by two veth pairs; a step
# that fails ends the test (call it as a plain command: behind || or
# if, bash would ignore set -e and go on past the failure).
lib_topology()
{
	trap 'echo "cannot build the namespaces" >&2' ERR
	set -e
	# Create each pair inside the namespaces: nothing ever appears in
	# the host's namespace.
	ip -n "$NS_C" link add c0 type veth peer name d0 netns "$NS_D"
	ip -n "$NS_S" link add s0 type veth peer name d1 netns "$NS_D"
	for ns in "$NS_C" "$NS_D" "$NS_S"; do
		ip -n "$ns" link set lo up
	done
	in_d sysctl -qw net.ipv4.ip_forward=1
	in_d sysctl -qw net.ipv6.conf.all.forwarding=1

	ip -n "$NS_C" addr add "$C4/24" dev c0
	ip -n "$NS_C" addr add "$C6/64" dev c0 nodad
	ip -n "$NS_D" addr add "$D4C/24" dev d0
	ip -n "$NS_D" addr add "$D6C/64" dev d0 nodad
	ip -n "$NS_D" addr add "$D4S/24" dev d1
	ip -n "$NS_D" addr add "$D6S/64" dev d1 nodad
	ip -n "$NS_S" addr add "$S4/24" dev s0
	ip -n "$NS_S" addr add "$S6/64" dev s0 nodad
	ip -n "$NS_C" link set c0 up
	ip -n "$NS_D" link set d0 up
	ip -n "$NS_D" link set d1 up
	ip -n "$NS_S" link set s0 up
	ip -n "$NS_C" route add default via "$D4C"
	ip -n "$NS_C" -6 route add default via "$D6C"
	ip -n "$NS_S" route add default via "$D4S"
	ip -n "$NS_S" -6 route add default via "$D6S"
	set +e
	trap - ERR
}

# lib_divert: everything dut forwards goes to the queue; no bypass.
lib_divert()
{
	in_d "$IPT" -A FORWARD -j NFQUEUE --queue-num "$T_QUEUE" &&
	    in_d "$IP6T" -A FORWARD -j NFQUEUE --queue-num "$T_QUEUE"
}

# lib_config: the test's configuration; [daemon] and [log] come from
# here, the rest ([policy], [rule ...]) from stdin.
lib_config()
{
	T_CONF=$T_TMP/nfqspi.ini
	{
		cat <<EOF
; generated by tests/integration/lib.sh for $T_NAME
[daemon]
queue = $T_QUEUE
threads = 1
fail_open = no
pidfile = $T_TMP/nfqspid.pid
control = $T_CTL

[log]
rate = 1000
invalid = yes

EOF
		cat
	} >"$T_CONF"
}

# lib_policy: the [policy] of a stateful firewall, the one most tests
# use (a connection's own packets pass, a new one needs a rule); in a
# lib_config heredoc as $(lib_policy).
lib_policy()
{
	cat <<'EOF'
[policy]
established = accept
related = accept
invalid = drop
new = drop
EOF
}

# lib_web_rule: new TCP connections to port 5020 pass, with mark 42 (the
# connections the sync tests hand to the backup).
lib_web_rule()
{
	cat <<'EOF'
[rule web]
proto = tcp
dport = 5020
action = accept
mark = 42
EOF
}

# lib_ping_rules: echo requests allowed from anywhere, IPv4 and IPv6.
lib_ping_rules()
{
	cat <<'EOF'
[rule ping]
proto = icmp
icmp_type = echo-request
action = accept

[rule ping6]
proto = icmpv6
icmp_type = echo-request
action = accept
EOF
}

# lib_ping_setup THREADS: lib_topology, then a configuration of THREADS
# workers under lib_policy that lets pings through (lib_ping_rules): the
# set-up of the tests that stop a worker (test_callhang, test_dead,
# test_sdnotify, test_stall).  A plain command, as lib_topology.
lib_ping_setup()
{
	lib_topology
	lib_config <<EOF
$(lib_policy)

$(lib_ping_rules)
EOF
	sed -i "s/^threads = 1\$/threads = $1/" "$T_CONF"
}

# lib_qcol QUEUE COLUMN [N]: a column of /proc/net/netfilter/nfnetlink_queue
# in dut (2 the port id of the socket bound, 3 queue_total, 6
# queue_dropped, 7 queue_user_dropped, 8 the id sequence) for queue
# QUEUE, summed over QUEUE .. QUEUE + N - 1 (N = 1); -1 when none of them
# is bound.
lib_qcol()
{
	lib_qcol_in "$NS_D" "$@"
}

# lib_qcol_in NS QUEUE COLUMN [N]: lib_qcol in namespace NS.  /proc/net
# follows the reader's namespace; %.0f, not print: mawk prints numbers
# past 2^31 as 4.29497e+09.
lib_qcol_in()
{
	ip netns exec "$1" cat /proc/net/netfilter/nfnetlink_queue 2>/dev/null |
	    awk -v q="$2" -v c="$3" -v n="${4:-1}" \
		'$1 >= q && $1 < q + n { s += $c; f = 1 }
		END { printf "%.0f\n", f ? s : -1 }'
}

# lib_qseq [N]: the packets queues $T_QUEUE .. $T_QUEUE + N - 1 (N = 1)
# have been handed so far in dut, the kernel's id sequence; -1 when none
# of them is bound.  Two readings of an unbound queue are equal: compare
# them with lib_qdelta, not by hand.
# shellcheck disable=SC2120  # N is optional
lib_qseq()
{
	lib_qcol "$T_QUEUE" 8 "${1:-1}"
}

# lib_qdelta S0 S1: how many packets crossed the queues between two
# lib_qseq readings; nothing (so that a comparison fails) when either
# found no queue bound.
lib_qdelta()
{
	[ "$1" != -1 ] && [ "$2" != -1 ] && echo $(($2 - $1))
}

# Is queue $T_QUEUE bound in dut?
lib_queue_bound()
{
	[ "$(lib_qcol "$T_QUEUE" 1)" != -1 ]
}

# lib_start_page PORT [options]: dut diverted and nfqspid started with
# the status page on every address of dut, port PORT, and listening;
# http_allow stays the default (loopback), so the client, on d0's
# network, is outside it.  A daemon that does not start ends the test.
lib_start_page()
{
	local port=$1
	shift
	sed -i "s|^control = .*|&\nhttp = 0.0.0.0:$port|" "$T_CONF"
	lib_start "nfqspid starts with the status page on 0.0.0.0:$port" "$@"
	check "the page listens" wait_listen "$NS_D" tcp "$port"
}

# lib_start WHAT [options]: dut diverted, then lib_must_start.
lib_start()
{
	lib_divert || { echo "cannot divert FORWARD to NFQUEUE" >&2; exit 1; }
	lib_must_start "$@"
}

# lib_must_start WHAT [options]: nfqspid started with the options passes
# WHAT; a daemon that does not start fails it and ends the test.
lib_must_start()
{
	local what=$1
	shift
	if ! lib_start_daemon "$@"; then
		fail "$what"
		lib_summary
	fi
	ok "$what"
}

# lib_start_daemon [options]: nfqspid -f in dut, through T_DWRAP if the
# test set it (a command that execs its arguments, as test_log's mount
# namespace); wait until it has bound the queue and answers on its control
# socket.
lib_start_daemon()
{
	local dbg=''
	[ -n "${NFQSPI_TEST_DEBUG:-}" ] && dbg=-d
	# ip netns exec execs the daemon: $! is the daemon itself.
	# shellcheck disable=SC2086
	ip netns exec "$NS_D" "${T_DWRAP[@]}" "${T_VG[@]}" "$NFQSPID" -f $dbg \
	    -c "$T_CONF" "$@" >>"$T_LOG" 2>&1 &
	T_DPID=$!
	lib_wait_daemon
}

# lib_wait_daemon: the nfqspid started as $T_DPID (a test that starts it
# its own way sets that) has bound the queue and answers on its control
# socket, so it is all up (privileges dropped, workers running), within
# 10 s (times T_SLOW); 1 if it exited or did not.
lib_wait_daemon()
{
	local n=$((100 * T_SLOW))
	while [ "$n" -gt 0 ]; do
		if ! kill -0 "$T_DPID" 2>/dev/null; then
			wait "$T_DPID"
			echo "nfqspid exited with status $? at start" >&2
			T_DPID=
			return 1
		fi
		lib_queue_bound && [ -S "$T_CTL" ] &&
		    quiet timeout 5 "$NFQSPICTL" -s "$T_CTL" status &&
		    return 0
		sleep 0.1
		n=$((n - 1))
	done
	echo "nfqspid did not bind queue $T_QUEUE and answer on $T_CTL within $((10 * T_SLOW)) s" >&2
	return 1
}

lib_daemon_alive()
{
	[ -n "$T_DPID" ] && kill -0 "$T_DPID" 2>/dev/null
}

# lib_stop_daemon: SIGTERM, then wait up to 5 s (times T_SLOW); the exit
# status goes to T_DRC.  Returns 1 if the daemon was not running or did not exit.
lib_stop_daemon()
{
	T_DRC=
	[ -n "$T_DPID" ] || return 1
	kill -TERM "$T_DPID" 2>/dev/null || return 1
	if ! wait_for $((50 * T_SLOW)) not kill -0 "$T_DPID" 2>/dev/null; then
		echo "nfqspid still running $((5 * T_SLOW)) s after SIGTERM" >&2
		return 1
	fi
	wait "$T_DPID"
	# shellcheck disable=SC2034  # read by the tests
	T_DRC=$?
	T_DPID=
	return 0
}

# lib_untracked: /proc/net/nf_conntrack (per namespace) is absent or
# empty in dut: no rule there made the kernel track or reassemble.  Read,
# not test -s: a /proc file's size is always 0.
lib_untracked()
{
	! in_d grep -q . /proc/net/nf_conntrack 2>/dev/null
}

# lib_finish: the health-and-shutdown checks every test ends with: the
# kernel tracks nothing in dut, no sanitizer report in the daemon's log,
# the daemon still running, and SIGTERM ending it with status 0.  The
# test goes on (its own checks of the stopped daemon, lib_summary).
lib_finish()
{
	check "the kernel tracks nothing in dut (nfqspid needs no conntrack)" \
	    lib_untracked
	check "no sanitizer report in the daemon's log" \
	    log_lacks 'runtime error|AddressSanitizer|LeakSanitizer|UndefinedBehaviorSanitizer'
	check "nfqspid is still running" lib_daemon_alive
	if lib_stop_daemon; then
		check "SIGTERM: nfqspid exits with status 0 (got $T_DRC)" \
		    test "$T_DRC" -eq 0
	else
		fail "SIGTERM: nfqspid exits"
	fi
}

lib_ctl()
{
	"$NFQSPICTL" -s "$T_CTL" "$@"
}

# lib_stat NAME [WORKER]: a counter of `nfqspictl -j stats`, the total over
# the workers or worker WORKER's; prints nothing (so a comparison fails) when
# the daemon does not answer or has no such counter.
lib_stat()
{
	lib_ctl -j stats 2>/dev/null | "$PY" -c '
import json, sys
d = json.load(sys.stdin)
c = d["total"] if len(sys.argv) < 3 else d["workers"][int(sys.argv[2])]
print(c[sys.argv[1]])' "$@" 2>/dev/null
}

# log_has ERE: the daemon's log has a matching line (waits up to 3 s,
# times T_SLOW, as the verdict may come a moment after the traffic).
log_has()
{
	wait_for $((30 * T_SLOW)) grep -Eq -- "$1" "$T_LOG"
}

log_lacks()
{
	! grep -Eq -- "$1" "$T_LOG"
}

# lib_foreign_src: C4X and C6X, addresses in the client's subnet that the
# client does not own, as sources for packets crafted with scapy
# (frag_craft.py).  dut sends their replies to c0, where the client's
# kernel ignores them, so a crafted TCP handshake gets no RST from it.
lib_foreign_src()
{
	local mac
	C4X=10.$T_NET.1.9
	C6X=fd00:$T_NET:1::9
	mac=$(ip -n "$NS_C" -o link show c0 |
	    sed -n 's/.*link\/ether \([0-9a-f:]*\).*/\1/p')
	in_d ip neigh replace "$C4X" lladdr "$mac" dev d0 nud permanent &&
	    in_d ip -6 neigh replace "$C6X" lladdr "$mac" dev d0 nud permanent
}

# lib_craft_rules: the ports frag_craft.py's cases go to, UDP 5001 and
# TCP 5100, open to new connections.
lib_craft_rules()
{
	cat <<'EOF'
[rule udp-in]
proto = udp
dport = 5001
action = accept

[rule tcp-in]
proto = tcp
dport = 5100
action = accept
EOF
}

# ---- the Debian package (tests/deb, tests/systemd) -------------------------

# lib_build_deb DIR: the package $PKG $VERSION built from this tree (its
# distdir in DIR; dpkg-buildpackage -b, its tests off: make check runs
# them), the logs in DIR; LIB_DEB is where the .deb is.  A step that
# fails ends the test, with its log.
lib_build_deb()
{
	local dir=$1 src=$1/$PKG-$VERSION

	if ! env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL make -s \
	    -C "$top_builddir" distdir distdir="$src" >"$dir/distdir.log" 2>&1
	then
		cat "$dir/distdir.log"
		echo "FAIL: make distdir"
		exit 1
	fi
	if ! (cd "$src" && env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL \
	    DEB_BUILD_OPTIONS="nocheck parallel=2" \
	    dpkg-buildpackage -us -uc -b) >"$dir/build.log" 2>&1; then
		tail -n 40 "$dir/build.log"
		echo "FAIL: dpkg-buildpackage -us -uc -b"
		exit 1
	fi
	# shellcheck disable=SC2034  # test_deb.sh and test_systemd.sh read it
	LIB_DEB=$dir/${PKG}_${VERSION}_$(dpkg --print-architecture).deb
}

# ---- soaks (soak.sh, soak_ha.sh) ----------------------------------------------

# lib_soak_timeouts: [conntrack] timeouts short enough that the tables
# drain within a minute after the traffic stops; established long
# enough that the churn's long connections (idle at most 5 s) stay.
lib_soak_timeouts()
{
	cat <<EOF
timeout_tcp_syn_sent = 5
timeout_tcp_syn_recv = 5
timeout_tcp_established = 30
timeout_tcp_fin_wait = 5
timeout_tcp_close_wait = 5
timeout_tcp_last_ack = 5
timeout_tcp_time_wait = 5
timeout_tcp_close = 5
timeout_tcp_syn_sent2 = 5
timeout_tcp_max_retrans = 10
timeout_tcp_unacknowledged = 10
timeout_udp = 5
timeout_udp_stream = 10
timeout_icmp = 5
timeout_icmpv6 = 5
timeout_generic = 10
EOF
}

# lib_soak_rules: what the churn (soak_churn.py to soak_echo.py) and the
# pings need
lib_soak_rules()
{
	cat <<EOF
[rule echo]
proto = tcp
dport = 7000
action = accept

[rule udp-echo]
proto = udp
dport = 7001
action = accept

[rule ping]
proto = icmp
action = accept

[rule ping6]
proto = icmpv6
action = accept
EOF
}

# lib_churn_counts FILE: soak_churn.py's tallies in FILE as six numbers,
# "tcp tcp_err udp udp_err long long_err" (0 for one it did not print)
lib_churn_counts()
{
	tr ' ' '\n' <"$1" | awk -F= '
	$1 == "tcp" { t = $2 } $1 == "tcp_err" { te = $2 }
	$1 == "udp" { u = $2 } $1 == "udp_err" { ue = $2 }
	$1 == "long" { l = $2 } $1 == "long_err" { le = $2 }
	END { print t + 0, te + 0, u + 0, ue + 0, l + 0, le + 0 }'
}

# ---- a stopped thread (stall.py, breakin.py) ---------------------------------

# $STALL TID SECONDS [PID]: stop one thread by ptrace, the others run on
# (stall.py says how)
# shellcheck disable=SC2034  # the tests that name it use it
STALL=$top_srcdir/tests/integration/stall.py
# $BREAKIN [-c] PID TID FUNCTION SECONDS ...: stop a thread as it enters
# FUNCTION (a breakpoint; breakin.py says how)
# shellcheck disable=SC2034  # the tests that name it use it
BREAKIN=$top_srcdir/tests/integration/breakin.py
# $NOTIFYFILL ADDR: fill a stopped notify listener's queue, as a busy
# systemd's (notifyfill.py says how)
# shellcheck disable=SC2034  # the tests that name it use it
NOTIFYFILL=$top_srcdir/tests/integration/notifyfill.py

# lib_need_breakin: a test that holds a thread with $BREAKIN is skipped
# under valgrind and off x86-64, before its set-up.
lib_need_breakin()
{
	[ -z "${NFQSPID_VALGRIND:-}" ] ||
	    skip "a breakpoint is not for valgrind's JIT"
	[ "$(uname -m)" = x86_64 ] || skip "breakin.py: x86-64 only"
}

# lib_hold OUT $STALL|$BREAKIN ARGS...: the script in the background, its
# words in OUT (emptied first: an earlier hold's are not read as its
# own), its pid in T_HOLD; back once it said "stopped" (stall.py) or
# "armed" (breakin.py), or 10 s later.
lib_hold()
{
	local out=$1
	shift
	: >"$out"
	"$PY" "$@" >"$out" 2>&1 &
	# shellcheck disable=SC2034  # read by the tests
	T_HOLD=$!
	wait_for 100 grep -Eq 'stopped|armed' "$out"
}

# worker_tid PID [N]: the tid of PID's worker thread N (0, the first),
# 0 if none
worker_tid()
{
	local t
	for t in /proc/"$1"/task/*; do
		[ "$(cat "$t/comm" 2>/dev/null)" = "nfqspid-w${2:-0}" ] &&
		    { echo "${t##*/}"; return 0; }
	done
	echo 0
}

# ---- traffic -----------------------------------------------------------------

# wait_listen NS tcp|udp PORT: a socket listens on PORT in NS.
wait_listen()
{
	local flag=t
	[ "$2" = udp ] && flag=u
	wait_for 50 _listening "$1" "$flag" "$3"
}

_listening()
{
	ip netns exec "$1" ss -Hln"$2" 2>/dev/null |
	    awk -v p=":$3" '{ if (substr($4, length($4) - length(p) + 1) == p) f = 1 }
		END { exit !f }'
}

# counter_add NS CMD TABLE CHAIN TAG match...: a rule without a target that
# only counts the packets it sees.
counter_add()
{
	local ns=$1 cmd=$2 table=$3 chain=$4 tag=$5
	shift 5
	ip netns exec "$ns" "$cmd" -t "$table" -I "$chain" "$@" \
	    -m comment --comment "$tag"
}

# counter NS CMD TABLE CHAIN TAG: prints the packet count of that rule.
counter()
{
	ip netns exec "$1" "$2" -t "$3" -L "$4" -n -v -x 2>/dev/null |
	    awk -v tag="/* $5 */" 'index($0, tag) { print $1; f = 1; exit }
		END { if (!f) print -1 }'
}

counter_ge()
{
	[ "$(counter "$1" "$2" "$3" "$4" "$5")" -ge "$6" ]
}

# lib_mark_counters PORT MARK: count, behind dut's queue (mangle
# POSTROUTING), the TCP packets between C4 and S4's PORT each way, all
# of them and those that carry MARK.
lib_mark_counters()
{
	counter_add "$NS_D" "$IPT" mangle POSTROUTING orig-all \
	    -p tcp -s "$C4" -d "$S4" --dport "$1"
	counter_add "$NS_D" "$IPT" mangle POSTROUTING orig-marked \
	    -p tcp -s "$C4" -d "$S4" --dport "$1" -m mark --mark "$2"
	counter_add "$NS_D" "$IPT" mangle POSTROUTING reply-all \
	    -p tcp -s "$S4" -d "$C4" --sport "$1"
	counter_add "$NS_D" "$IPT" mangle POSTROUTING reply-marked \
	    -p tcp -s "$S4" -d "$C4" --sport "$1" -m mark --mark "$2"
}

# lib_marks_check WHAT: every packet lib_mark_counters counted each way
# carried its mark, and there were some; WHAT names the mark in the
# checks' descriptions.
lib_marks_check()
{
	local dir from to all mk

	for dir in orig reply; do
		all=$(counter "$NS_D" "$IPT" mangle POSTROUTING "$dir-all")
		mk=$(counter "$NS_D" "$IPT" mangle POSTROUTING "$dir-marked")
		from=client to=server
		[ "$dir" = reply ] && from=server to=client
		check "$1 on every $from->$to packet ($mk of $all)" \
		    test "$all" -gt 0 -a "$mk" -eq "$all"
	done
}

# lib_show NAME: prints its input, each line indented and led by NAME.
lib_show()
{
	local l

	while IFS= read -r l; do echo "  $1: $l"; done
}

# The servers and clients the tests use, written once into $T_TMP.
lib_write_helpers()
{
	# UDP responder: answers "pong:" + the datagram, on every ADDR:PORT.
	cat >"$T_TMP/udpsrv.py" <<'EOF'
import select, socket, sys
socks = []
for arg in sys.argv[1:]:
    addr, port = arg.rsplit(":", 1)
    fam = socket.AF_INET6 if ":" in addr else socket.AF_INET
    s = socket.socket(fam, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((addr, int(port)))
    socks.append(s)
while True:
    for s in select.select(socks, [], [])[0]:
        data, peer = s.recvfrom(4096)
        s.sendto(b"pong:" + data, peer)
EOF
	# UDP client: sends ARGV[3], prints the reply; exit 1 on timeout.
	cat >"$T_TMP/udpcli.py" <<'EOF'
import socket, sys
addr, port, msg, wait = sys.argv[1], int(sys.argv[2]), sys.argv[3], float(sys.argv[4])
fam = socket.AF_INET6 if ":" in addr else socket.AF_INET
s = socket.socket(fam, socket.SOCK_DGRAM)
s.settimeout(wait)
s.sendto(msg.encode(), (addr, port))
try:
    data, peer = s.recvfrom(4096)
except socket.timeout:
    sys.exit(1)
sys.stdout.write(data.decode(errors="replace"))
EOF
	# TCP client: DST DPORT SPORT SECONDS [SRC]: three echoes, then the
	# connection held open SECONDS.
	cat >"$T_TMP/tcphold.py" <<'EOF'
import socket, sys, time
v6 = ":" in sys.argv[1]
s = socket.socket(socket.AF_INET6 if v6 else socket.AF_INET)
s.bind((sys.argv[5] if len(sys.argv) > 5 else "::" if v6 else "0.0.0.0", int(sys.argv[3])))
s.connect((sys.argv[1], int(sys.argv[2])))
for i in range(3):
    s.sendall(b"hello\n")
    s.recv(100)
time.sleep(float(sys.argv[4]))
EOF
	# Raw TCP segments with scapy: DST then SPORT:DPORT:FLAGS...
	cat >"$T_TMP/tcpraw.py" <<'EOF'
import sys
from scapy.all import IP, IPv6, TCP, conf, send
conf.verb = 0
dst = sys.argv[1]
for spec in sys.argv[2:]:
    sport, dport, flags = spec.split(":")
    l3 = IPv6(dst=dst) if ":" in dst else IP(dst=dst)
    send(l3 / TCP(sport=int(sport), dport=int(dport), flags=int(flags, 0),
                  seq=1000, window=1024), verbose=0)
EOF
	# TCP server side of a transfer: everything read goes to $1/srv.in,
	# then $1/s2c.bin is sent back and the connection closed.
	cat >"$T_TMP/tcpsrv.sh" <<'EOF'
#!/bin/sh
cat >"$1/srv.in"
cat "$1/s2c.bin"
EOF
}

# tcp_transfer NAME ADDR PORT: one TCP connection from client to server
# ADDR:PORT; the client sends 256 KiB and half-closes, the server then
# answers 128 KiB and closes.  Three checks: it completed, and each side
# got exactly the other's bytes.
tcp_transfer()
{
	local name=$1 addr=$2 port=$3 d=$T_TMP/$1 listen conn spid crc
	mkdir -p "$d"
	head -c 262144 /dev/urandom >"$d/c2s.bin"
	head -c 131072 /dev/urandom >"$d/s2c.bin"
	case $addr in
	*:*)	listen="TCP6-LISTEN:$port,bind=[$addr],reuseaddr"
		conn="TCP6:[$addr]:$port" ;;
	*)	listen="TCP4-LISTEN:$port,bind=$addr,reuseaddr"
		conn="TCP4:$addr:$port" ;;
	esac
	in_s timeout 40 socat -T 20 "$listen" \
	    EXEC:"/bin/sh $T_TMP/tcpsrv.sh $d" 2>"$d/srv.err" &
	spid=$!
	if ! wait_listen "$NS_S" tcp "$port"; then
		fail "$name: server listens on $port"
		kill "$spid" 2>/dev/null
		return 1
	fi
	in_c timeout 30 socat -t 10 -T 20 - "$conn,connect-timeout=5" \
	    <"$d/c2s.bin" >"$d/cli.out" 2>"$d/cli.err"
	crc=$?
	wait "$spid"
	check "$name: connection to $addr port $port completes (client status $crc)" \
	    test "$crc" -eq 0
	check "$name: server received the client's 262144 bytes exactly" \
	    cmp -s "$d/c2s.bin" "$d/srv.in"
	check "$name: client received the server's 131072 bytes exactly" \
	    cmp -s "$d/s2c.bin" "$d/cli.out"
}

# tcp_blocked NAME ADDR PORT: a connection attempt that must not complete.
tcp_blocked()
{
	local name=$1 addr=$2 port=$3
	if in_c timeout 10 nc -z -w 2 "$addr" "$port" 2>/dev/null; then
		fail "$name: connection to $addr port $port must not complete"
		return 1
	fi
	ok "$name: connection to $addr port $port does not complete"
}

is_positive()
{
	[[ "$1" =~ ^[0-9]+$ ]] && [ "$1" -gt 0 ]
}
