#!/bin/bash
# device-scale.sh - nfqspid against the NFQUEUE floor at k = 1, 2, 4, 8
# queues on a many-core machine, in one call
#
# Copyright (C) 2026 The nfqspid authors
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Two steps.  Here, from the top of the build tree (root not needed):
#
#   tests/bench/device-scale.sh pack DIR [BASE_NFQSPID]
#
# assembles DIR with ../shared/bench/devkit.sh (ip, iptables-legacy,
# iperf3, nfq-floor, nfqspid, nfqspictl and their libraries), this
# script, and perf with its libraries apart (DIR/perflib) when this
# machine has it; BASE_NFQSPID, if given, rides along as a second daemon
# (mode "base") to compare against.  DIR must lie inside the checkout the
# device tool sends, ignored by .git/info/exclude, and named in carry.
# Then, on the device machine, as root:
#
#   bash DIR/device-scale.sh            (OUT: where the results go)
#
# runs, like ../shared/bench/scale.sh, NC iperf3 clients from NC
# addresses into a namespace (64-byte UDP, then TCP), through: nothing
# and the kernel's SPI (once each), then for each k in KS, one after
# another, the floor (nfq-floor, k queues), nfqspid (threads = k) and the
# other MODES, all diverted the same way (INPUT and OUTPUT, --queue-
# balance 0:k-1, --queue-bypass).  For every run it records the figure,
# the packets each queue got (the kernel's id sequence), the consumer's
# CPU per thread (/proc) and perf stat of the consumer.  With PROF=K a
# last pass at k = K profiles every consumer (perf record: OUT/perf.txt;
# perf c2c, the cache lines one core writes and another reads, where the
# CPU can sample memory: OUT/c2c.txt); its figures stay out of the table.
#
# Env: T seconds a figure (5), NC clients (8), KS ("1 2 4 8"), ROUNDS (1),
# PROTOS ("udp tcp"), UB (iperf3 -b of each UDP client, 0: as fast as it can),
# MODES ("none kernel floor nfqspid fastpath base": base if packed with
# one, fastpath if nfqspid -n takes [daemon] fastpath = yes; its rules
# are nfqspictl iptables's), NFQSPID_INI (a config whose threads line
# is replaced by k), PROF (a k, or empty), OUT ($OUT, else
# /tmp/device-scale); outside a kit the build tree's nfqspid and BASE.
#
# Writes OUT/scale.md (the table, each path / floor per k, and the
# consumer's CPU per packet), OUT/runs.txt (a line per run and proto)
# and OUT/perf.txt.  About 2T + 6 s a run: with the defaults at most
# 18 runs, 4 to 5 minutes.
set -u

HERE=$(cd "$(dirname "$0")" && pwd)

pack()
{
	local D=$1 NFQ=$2 CTL=$3 BASE=${4:-} p
	local dk=${DEVKIT:-$HERE/../../../shared/bench/devkit.sh}
	# a worktree one level further down
	[ -f "$dk" ] || dk=${DEVKIT:-$HERE/../../../../shared/bench/devkit.sh}
	[ -f "$dk" ] || { echo "no devkit.sh (DEVKIT=...)"; exit 2; }
	bash "$dk" "$D" "$NFQ" "$CTL" || exit 2
	cp "$0" "$D"/device-scale.sh
	ln -sf xtables-legacy-multi "$D"/bin/iptables-legacy-restore
	if [ -n "$BASE" ]; then
		cp "$BASE" "$D"/bin/nfqspid.base
		# its libraries are nfqspid's
		ldd "$BASE" | awk '$3 ~ /^\// {print $3}' |
		    grep -v -E '/(libc|libm|libpthread|libdl|ld-linux[^/]*)\.so' |
		    xargs -r -I{} cp -Ln {} "$D"/lib/ 2>/dev/null
	fi
	p=$(command -v perf) && p=$(readlink -f "$p") && {
		mkdir -p "$D"/perflib
		cp "$p" "$D"/bin/perf
		ldd "$p" | awk '$3 ~ /^\// {print $3}' |
		    grep -v -E '/(libc|libm|libpthread|libdl|ld-linux[^/]*)\.so' |
		    xargs -r -I{} cp -L {} "$D"/perflib/
	}
	du -sh "$D"
	echo "then: run(command=\"bash $D/device-scale.sh\", carry=[\"$D\"])"
}

if [ "${1:-}" = pack ]; then
	[ $# -ge 2 ] || { echo "usage: $0 pack DIR [BASE_NFQSPID]"; exit 2; }
	B=${top_builddir:-.}
	pack "$2" "$B/src/nfqspid" "$B/src/nfqspictl" "${3:-}"
	exit 0
fi

# ---- on the device machine (or here, to try it: KS="1 2") ----
if [ "$(id -u)" -ne 0 ]; then
	echo "device-scale.sh: needs root"
	exit 77
fi
if [ -d "$HERE/bin" ]; then
	export LD_LIBRARY_PATH=$HERE/lib XTABLES_LIBDIR=$HERE/xtables
	PATH=$HERE/bin:$PATH
fi
T=${T:-5}; NC=${NC:-8}; KS=${KS:-"1 2 4 8"}; ROUNDS=${ROUNDS:-1}
PROTOS=${PROTOS:-"udp tcp"}; UB=${UB:-0}
PROF=${PROF:-}
MODES=${MODES:-"none kernel floor nfqspid fastpath base"}
O=${OUT:-/tmp/device-scale}
mkdir -p "$O"
RUNS=$O/runs.txt; : > "$RUNS"; rm -f "$O/perf.txt" "$O/c2c.txt"
A=dsa; B=dsb; W=$(mktemp -d /tmp/dscale.XXXXXX)
PERF=""
if command -v perf >/dev/null 2>&1; then
	PERF="perf"
	[ -d "$HERE/perflib" ] && PERF="env LD_LIBRARY_PATH=$HERE/perflib:$HERE/lib perf"
	$PERF stat -e task-clock -- true >/dev/null 2>&1 || PERF=""
fi
if [ -d "$HERE/bin" ]; then
	FLOOR=$HERE/bin/nfq-floor NFQ=$HERE/bin/nfqspid CTL=$HERE/bin/nfqspictl
	BASE=$HERE/bin/nfqspid.base
else
	# from the build tree: netbench.sh floor or devkit.sh builds it
	FLOOR=/tmp/nfq-floor NFQ=$HERE/../../src/nfqspid
	CTL=$HERE/../../src/nfqspictl BASE=${BASE:-}
fi
# python3 is the machine's: none of the kit's libraries
PY="env -u LD_LIBRARY_PATH python3"

down()
{
	local n
	for n in $A $B; do
		ip netns pids "$n" 2>/dev/null | xargs -r kill -9 2>/dev/null
		ip netns del "$n" 2>/dev/null
	done
	return 0
}
trap 'down; rm -rf "$W"' EXIT

up()
{
	local i
	down
	ip netns add $A; ip netns add $B
	ip link add da type veth peer name db
	ip link set da netns $A; ip link set db netns $B
	ip -n $B addr add 10.77.0.2/24 dev db
	for i in $(seq 1 "$NC"); do
		ip -n $A addr add 10.77.0.$((10 + i))/24 dev da
	done
	for n in $A $B; do ip -n "$n" link set lo up; done
	ip -n $A link set da up; ip -n $B link set db up
	for i in $(seq 1 "$NC"); do
		ip netns exec $B iperf3 -s -D -p $((5200 + i)) >/dev/null 2>&1
	done
	sleep 0.5
}

# the policy: scale.sh's (20 rules, stateful, a mark), threads = $1
conf()
{
	local i
	if [ -n "${NFQSPID_INI:-}" ]; then
		sed "s/^threads *=.*/threads = $1/" "$NFQSPID_INI"
	else
		cat <<INI
[daemon]
queue = 0
threads = $1
fail_open = yes
pidfile = $W/nfqspid.pid
control = $W/nfqspid.sock
[policy]
established = accept
related = accept
invalid = drop
new = drop
[rule iperf]
proto = any
src = 10.77.0.0/24
dport = 5201-5299
action = accept
mark = 0x42
INI
		for i in $(seq 1 17); do
			printf '[rule r%d]\nproto = tcp\nsrc = 192.0.%d.0/24, 198.51.100.%d\ndport = %d\naction = accept\n' \
			    "$i" "$i" "$i" $((1000 + i))
		done
	fi
	return 0
}

# conf with fastpath = yes added to [daemon]
conf_fp()
{
	conf "$1" | sed 's/^\[daemon\]$/[daemon]\nfastpath = yes/'
}

# per queue: the kernel's id sequence (packets queued so far)
qseq()
{
	ip netns exec $B cat /proc/net/netfilter/nfnetlink_queue 2>/dev/null |
	    awk '{print $1, $8, $6, $7}' | sort -n
}

# CPU ticks per thread of pid: "name ticks" lines
cpu()
{
	local t
	for t in "/proc/$1/task/"*; do
		[ -r "$t/stat" ] || continue
		awk '{sub(/^[0-9]+ \(/, ""); n=$0; sub(/\).*/, "", n);
		    sub(/^[^)]*\) /, ""); print n, $12 + $13}' "$t/stat"
	done 2>/dev/null | sort
}

# "qN:packets ..." from two qseq snapshots; drops too
qdelta()
{
	awk 'NR == FNR { s[$1] = $2; d[$1] = $3; u[$1] = $4; next }
	    { printf "q%s:%d ", $1, $2 - s[$1]; qd += $3 - d[$1];
	      ud += $4 - u[$1] }
	    END { printf "qdrop=%d udrop=%d", qd, ud }' "$1" "$2"
}

# "name:seconds ..." from two cpu snapshots (thread names repeat: summed)
cdelta()
{
	awk -v hz="$(getconf CLK_TCK)" 'NR == FNR { s[$1] += $2; next }
	    { e[$1] += $2 }
	    END { for (n in e) { t += e[n] - s[n];
	      printf "%s:%.2f ", n, (e[n] - s[n]) / hz }
	      printf "cpu_s=%.2f", t / hz }' "$1" "$2"
}

# one figure: proto (udp|tcp) through the consumer pid (or none)
measure()
{
	local proto=$1 pid=$2 prof=$3 d=$W/m i v
	rm -rf "$d"; mkdir -p "$d"
	qseq > "$d/q0"
	[ -n "$pid" ] && cpu "$pid" > "$d/c0"
	if [ -n "$pid" ] && [ -n "$PERF" ]; then
		$PERF stat -x, -o "$d/perf" -p "$pid" -e \
		    task-clock,context-switches,cpu-migrations,cycles,instructions,cache-misses \
		    -- sleep "$T" >/dev/null 2>&1 &
	fi
	if [ -n "$pid" ] && [ -n "$PERF" ] && [ -n "$prof" ]; then
		$PERF record -g -o "$W/perf.data" -p "$pid" -- \
		    sleep "$((T - 1))" >/dev/null 2>&1 &
	fi
	# lines written by one core and read by another (needs the CPU's
	# memory sampling: not in every virtual machine)
	if [ -n "$pid" ] && [ -n "$PERF" ] && [ -n "$prof" ]; then
		$PERF c2c record -o "$W/c2c.data" -p "$pid" -- \
		    sleep "$((T - 1))" >/dev/null 2>&1 &
	fi
	for i in $(seq 1 "$NC"); do
		if [ "$proto" = udp ]; then
			timeout $((T + 8)) ip netns exec $A iperf3 -c 10.77.0.2 \
			    -p $((5200 + i)) -B 10.77.0.$((10 + i)) -u -b "$UB" -l 64 \
			    -t "$T" -J > "$d/$i.json" 2>/dev/null &
		else
			timeout $((T + 8)) ip netns exec $A iperf3 -c 10.77.0.2 \
			    -p $((5200 + i)) -B 10.77.0.$((10 + i)) -t "$T" -J \
			    > "$d/$i.json" 2>/dev/null &
		fi
	done
	wait
	qseq > "$d/q1"
	[ -n "$pid" ] && cpu "$pid" > "$d/c1"
	v=$($PY - "$proto" "$d"/*.json <<'PY'
import json, sys
tot, n = 0.0, 0
for f in sys.argv[2:]:
    try:
        d = json.load(open(f))
        if sys.argv[1] == "udp":
            s = d["end"]["sum"]
            tot += (s["packets"] - s["lost_packets"]) / s["seconds"] / 1e3
        else:
            tot += d["end"]["sum_received"]["bits_per_second"] / 1e9
        n += 1
    except Exception:
        pass
print("%.1f %d" % (tot, n))
PY
)
	# shellcheck disable=SC2086  # v is "rate clients": split on purpose
	set -- $v
	printf '%s clients=%s %s' "$1" "$2" "$(qdelta "$d/q0" "$d/q1")"
	[ -n "$pid" ] && printf ' %s' "$(cdelta "$d/c0" "$d/c1")"
	if [ -f "$d/perf" ]; then
		# value,unit,event,...: "event=value" for what was counted
		awk -F, '$3 != "" && $1 ~ /^[0-9.]+$/ {
		    gsub(/:u$/, "", $3); printf " %s=%s", $3, $1 }' "$d/perf"
	fi
	echo
}

# the profiles PROF asked for, as text, all in one file (the device
# tool brings back 8 files at most)
profile()
{
	[ -f "$W/perf.data" ] && {
		echo "=== $1"
		$PERF report -i "$W/perf.data" --stdio --no-children \
		    --percent-limit 0.3 --sort dso,sym -g none 2>/dev/null |
		    grep -v -e '^$' -e '^#' | head -80
	} >> "$O/perf.txt"
	rm -f "$W/perf.data"
	[ -f "$W/c2c.data" ] || return 0
	{
		echo "=== $1"
		$PERF c2c report -i "$W/c2c.data" --stdio 2>&1 | head -120
	} >> "$O/c2c.txt"
	rm -f "$W/c2c.data"
}

# shellcheck disable=SC2086  # q is an option and its value: split on purpose
divert()
{
	local IPT="ip netns exec $B iptables-legacy" q="--queue-num 0"
	[ "$1" -gt 1 ] && q="--queue-balance 0:$(($1 - 1))"
	$IPT -A INPUT -i db -j NFQUEUE $q --queue-bypass
	$IPT -A OUTPUT -o db -j NFQUEUE $q --queue-bypass
}

# the daemon's control socket
sock()
{
	sed -n 's/^control *= *//p' "$W/sc.ini"
}

# fastpath: nfqspid's own rules, as the acceptance check loads them
divert_own()
{
	local i
	for i in $(seq 1 50); do
		[ -S "$(sock)" ] && break
		sleep 0.1
	done
	ip netns exec $B "$CTL" -s "$(sock)" iptables |
	    ip netns exec $B iptables-legacy-restore -n
}

run()
{
	local mode=$1 k=$2 prof=${3:-} DP="" IPT="ip netns exec $B iptables-legacy" p u
	up
	case $mode in
	none)	;;
	kernel)	$IPT -A INPUT -i db -m conntrack --ctstate INVALID -j DROP
		$IPT -A INPUT -i db -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT
		$IPT -A INPUT -i db -m conntrack --ctstate NEW -j ACCEPT
		$IPT -A INPUT -i db -j DROP ;;
	floor)	divert "$k"
		ip netns exec $B "$FLOOR" 0 "$k" >/dev/null 2>&1 & DP=$! ;;
	nfqspid|base)
		p=$NFQ; [ "$mode" = base ] && p=$BASE
		conf "$k" > "$W/sc.ini"
		divert "$k"
		ip netns exec $B "$p" -f -c "$W/sc.ini" > "$W/sc.log" 2>&1 &
		DP=$! ;;
	fastpath)
		conf_fp "$k" > "$W/sc.ini"
		ip netns exec $B "$NFQ" -f -c "$W/sc.ini" > "$W/sc.log" 2>&1 &
		DP=$!
		divert_own ;;
	esac
	sleep 1
	if [ -n "$DP" ] && ! kill -0 $DP 2>/dev/null; then
		echo "$mode k=$k died: $(tail -2 "$W/sc.log" 2>/dev/null)" |
		    tee -a "$RUNS"
		down; return
	fi
	for p in $PROTOS; do
		u=$(measure "$p" "$DP" "$prof")
		echo "$mode k=$k $p ${prof:+profiled }$u" | tee -a "$RUNS"
		profile "$mode-k$k-$p"
	done
	case $mode in nfqspid|base|fastpath)
		ip netns exec $B "$CTL" -s "$(sock)" -j stats 2>/dev/null |
		    tr ',' '\n' | grep -E \
		    '"(received|invalid|overflows|lost|repeated|offload(ed|_packets|_errors))"' |
		    tr -d ' "\n{}' | sed "s/^/$mode k=$k stats /; s/\$/\n/" >> "$RUNS"
	esac
	[ -n "$DP" ] && kill $DP 2>/dev/null; wait $DP 2>/dev/null
	down
}

# the modes this build can run
can()
{
	case $1 in
	fastpath)
		conf_fp 1 > "$W/fp.ini"
		"$NFQ" -n -c "$W/fp.ini" >/dev/null 2>&1 ;;
	base)	[ -n "$BASE" ] && [ -x "$BASE" ] ;;
	*)	return 0 ;;
	esac
}

{
	echo "# device-scale.sh $(date -u +%FT%TZ)"
	echo "# $(nproc) cpus, kernel $(uname -r), T=$T NC=$NC KS=\"$KS\" ROUNDS=$ROUNDS"
	echo "# nfqspid $("$NFQ" -V 2>&1 | head -1); perf: ${PERF:-none}"
} | tee -a "$RUNS"
M=""
for m in $MODES; do
	if can "$m"; then
		M="$M $m"
	else
		echo "# $m: not in this kit or not supported: skipped" |
		    tee -a "$RUNS"
	fi
done
for m in $M; do
	case $m in none|kernel) run $m 1 ;; esac
done
# shellcheck disable=SC2034  # r only counts the rounds
for r in $(seq 1 "$ROUNDS"); do
	for k in $KS; do
		for m in $M; do
			case $m in none|kernel) ;; *) run $m "$k" ;; esac
		done
	done
done
# profiled apart: perf costs the consumer time
if [ -n "$PROF" ] && [ -n "$PERF" ]; then
	for m in $M; do
		case $m in none|kernel) ;; *) run $m "$PROF" prof ;; esac
	done
fi

# the table: medians over the rounds, nfqspid (and the others) / floor
$PY - "$RUNS" "$KS" > "$O/scale.md" <<'PY'
import re, statistics, sys
runs, ks = sys.argv[1], sys.argv[2].split()
fig, cpp = {}, {}
for l in open(runs):
    m = re.match(r"(\S+) k=(\d+) (udp|tcp) ([0-9.]+) ", l)
    if m:
        fig.setdefault((m[1], m[3], m[2]), []).append(float(m[4]))
        # the consumer's CPU per packet queued (all its threads)
        q = sum(int(x) for x in re.findall(r" q\d+:(\d+)", l))
        c = re.search(r" cpu_s=([0-9.]+)", l)
        if c and q:
            cpp.setdefault((m[1], m[3], m[2]), []).append(float(c[1]) * 1e6 / q)
modes = []
for (mode, _, _) in fig:
    if mode not in modes:
        modes.append(mode)
med = lambda v: statistics.median(v) if v else None
def cell(mode, proto):
    out = []
    for k in (["1"] if mode in ("none", "kernel") else ks):
        v = med(fig.get((mode, proto, k), []))
        out.append("-" if v is None else ("%.0f" % v if proto == "udp" else "%.1f" % v))
    return " / ".join(out)
print("| path | 64-B UDP kpps, k = %s | TCP Gbit/s, k = %s |" % (" / ".join(ks), " / ".join(ks)))
print("| --- | --- | --- |")
for mode in modes:
    print("| %s | %s | %s |" % (mode, cell(mode, "udp"), cell(mode, "tcp")))
for mode in modes:
    if mode in ("none", "kernel", "floor"):
        continue
    r = []
    for proto in ("udp", "tcp"):
        c = []
        for k in ks:
            a, b = med(fig.get((mode, proto, k), [])), med(fig.get(("floor", proto, k), []))
            c.append("%.2f" % (a / b) if a and b else "-")
        r.append(" / ".join(c))
    print("| %s / floor | %s | %s |" % (mode, r[0], r[1]))
# the fast path's target is the kernel's SPI (measured once, k = 1)
for mode in ("fastpath",):
    r = []
    for proto in ("udp", "tcp"):
        b = med(fig.get(("kernel", proto, "1"), []))
        r.append(" / ".join("%.2f" % (med(fig[(mode, proto, k)]) / b)
            if b and fig.get((mode, proto, k)) else "-" for k in ks))
    if any(x.strip("-/ ") for x in r):
        print("| %s / kernel SPI | %s | %s |" % (mode, r[0], r[1]))
print()
print("consumer CPU per queued packet, us (all its threads; medians):")
print()
print("| path | UDP, k = %s | TCP, k = %s |" % (" / ".join(ks), " / ".join(ks)))
print("| --- | --- | --- |")
for mode in modes:
    if mode in ("none", "kernel"):
        continue
    r = []
    for proto in ("udp", "tcp"):
        r.append(" / ".join("%.2f" % med(cpp[(mode, proto, k)]) if cpp.get((mode, proto, k)) else "-" for k in ks))
    print("| %s | %s | %s |" % (mode, r[0], r[1]))
PY
cat "$O/scale.md"
