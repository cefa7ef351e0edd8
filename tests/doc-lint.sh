#!/bin/sh
# doc-lint.sh - the operator's documentation names what the code has.
#
# Copyright (C) 2026 The nfqspid authors
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Read from the sources, compared both ways with the pages that list
# them: the configuration keys of each section (nfqspi.ini(5), and the
# shipped etc/nfqspi.ini), the INVALID reasons, the counters of
# nfqspictl stats (nfqspictl(8)) and their /metrics families
# (nfqspid(8)), nfqspictl's commands, nfqspid's options, and the
# README's layout of the source.  What a key or counter means is for a
# reader; that it exists, and only it, is checked here.

: "${top_srcdir:=$(cd "$(dirname "$0")/.." && pwd)}"
S=$top_srcdir/src
M=$top_srcdir/man
fail=0
tmp=$(mktemp -d) || exit 1
trap 'rm -rf "$tmp"' EXIT

bad() {
	echo "FAIL: $*"
	fail=1
}

# the "quoted" words of the lines between two patterns of a file
quoted() {
	awk -v a="$2" -v b="$3" '$0 ~ a {on = 1} on {print} on && $0 ~ b {exit}' \
	    "$1" | grep -oE '"[a-z0-9_-]+"' | tr -d '"'
}

# the names X of strcmp(..., "X") in function $2 of file $1
strcmps() {
	awk -v f="^$2\\\\(" '$0 ~ f {on = 1} on {print} on && /^}/ {exit}' "$1" |
	    grep -oE 'strcmp\([][a-z0-9>_-]+, "[A-Za-z0-9_-]+"\)' |
	    sed -E 's/.*"([A-Za-z0-9_-]+)".*/\1/'
}

# same: both lists sorted and unique, named for the message
same() {
	sort -u "$2" > "$tmp/a"
	sort -u "$3" > "$tmp/b"
	comm -23 "$tmp/a" "$tmp/b" | while read -r w; do
		echo "FAIL: $1: $w is in the code, not in the page"
	done
	comm -13 "$tmp/a" "$tmp/b" | while read -r w; do
		echo "FAIL: $1: $w is in the page, not in the code"
	done
	[ -z "$(comm -3 "$tmp/a" "$tmp/b")" ] || fail=1
}

# ---- configuration keys -----------------------------------------------

quoted "$S/config.c" 'daemon_keys\[\] = \{' '\};' > "$tmp/c.daemon"
quoted "$S/config.c" 'rule_keys\[\] = \{' '\};' > "$tmp/c.rule"
{
	strcmps "$S/config.c" sec_conntrack
	strcmps "$S/config.c" frag_key
	grep -oE '\{ "timeout_[a-z0-9_]+"' "$S/ct_config.c" | tr -d '{" '
} > "$tmp/c.conntrack"
strcmps "$S/config.c" sec_log > "$tmp/c.log"
# [policy]'s keys are the state names, in any case
awk '/state_names\[CT_STATE_MAX\] = \{/ {on = 1} on {print}
    on && /\};/ {exit}' "$S/rule.c" | grep -oE '"[A-Z]+"' | tr -d '"' |
    tr '[:upper:]' '[:lower:]' > "$tmp/c.policy"
{
	strcmps "$S/config_sync.c" config_sync_key
	awk '/sync_nums\[\] = \{/ {on = 1} on {print} on && /\};/ {exit}' \
	    "$S/config_sync.c" | grep -oE '^	\{ "[a-z_]+"' | tr -d '{" 	'
} > "$tmp/c.sync"

# .It Cm KEY No = ... (or a row of the timeout table) under each .Sh
awk '
/^\.Sh THE DAEMON SECTION/	{ s = "daemon"; next }
/^\.Sh THE CONNTRACK SECTION/	{ s = "conntrack"; next }
/^\.Sh THE POLICY SECTION/	{ s = "policy"; next }
/^\.Sh THE LOG SECTION/		{ s = "log"; next }
/^\.Sh THE SYNC SECTION/	{ s = "sync"; next }
/^\.Sh RULE SECTIONS/		{ s = "rule"; next }
/^\.Sh/				{ s = ""; next }
s != "" && /^\.It Cm [a-z0-9_]+( No =| Ta|$)/ { print s, $3 }
' "$M/nfqspi.ini.5" > "$tmp/man.keys"

for sec in daemon conntrack policy log sync rule; do
	[ -s "$tmp/c.$sec" ] || bad "no [$sec] keys found in the sources"
	awk -v s="$sec" '$1 == s {print $2}' "$tmp/man.keys" > "$tmp/m.$sec"
	same "nfqspi.ini.5 [$sec]" "$tmp/c.$sec" "$tmp/m.$sec"
done

# the shipped file shows every key but [sync]'s, set or commented out
for sec in daemon conntrack policy log rule; do
	while read -r k; do
		grep -qE "(^|[;[:space:]])${k}[[:space:]]*=" \
		    "$top_srcdir/etc/nfqspi.ini" ||
		    bad "etc/nfqspi.ini: [$sec] $k is not shown"
	done < "$tmp/c.$sec"
done
cat "$tmp"/c.* | sort -u > "$tmp/c.all"
grep -oE '^;?[a-z0-9_]+[[:space:]]*=' "$top_srcdir/etc/nfqspi.ini" |
    tr -d ';= 	' | sort -u | comm -23 - "$tmp/c.all" | while read -r k; do
	echo "FAIL: etc/nfqspi.ini: $k is no key"
	echo x > "$tmp/etcfail"
done
[ -f "$tmp/etcfail" ] && fail=1

# ---- INVALID reasons --------------------------------------------------

grep -oE '"[a-z0-9-]+",?$' "$S/reason.c" | tr -d '",' |
    grep -vx -e - -e policy-reload -e overflow-grace > "$tmp/c.reasons"
awk '/^\.It INVALID/ {on = 1} /^\.Sh/ {on = 0} on && /^\.It Cm / {
	sub(/^\.It Cm /, ""); gsub(/ , /, "\n"); print }' \
    "$M/nfqspi.ini.5" > "$tmp/m.reasons"
same "nfqspi.ini.5 INVALID reasons" "$tmp/c.reasons" "$tmp/m.reasons"
for r in policy-reload overflow-grace; do
	grep -q "reason=$r" "$M/nfqspi.ini.5" "$M/nfqspid.8" ||
	    bad "reason=$r is in no page"
done

# ---- counters and metrics ---------------------------------------------

awk '/counters\[\] = \{/ {on = 1} on {print} on && /^\};/ {exit}' \
    "$S/status.c" | grep -E '^	\{ "' > "$tmp/counters"
sed -E 's/^	\{ "([a-z_]+)".*/\1/' "$tmp/counters" > "$tmp/c.counters"
awk '/^\.It Cm stats/ {on = 1; next} on && /^\.It Cm reload/ {exit}
    on && /^\.It Cm / { sub(/^\.It Cm /, ""); gsub(/ , /, "\n"); print }' \
    "$M/nfqspictl.8" > "$tmp/m.counters"
same "nfqspictl.8 stats" "$tmp/c.counters" "$tmp/m.counters"

{
	sed -nE 's/^	\{ "[a-z_]+", "([a-z_]+).*/\1/p' "$tmp/counters"
	grep -oE 'metric_head\(b, "[a-z_]+"' "$S/status.c" |
	    sed -E 's/.*"([a-z_]+)"/\1/'
} | sort -u > "$tmp/c.metrics"
while read -r f; do
	base=${f%_total}
	if grep -qE "nfqspid_$f( |$)" "$M/nfqspid.8"; then
		continue
	fi
	if grep -E '^\.Pq Va ' "$M/nfqspid.8" |
	    grep -qE "[ (]$base( ,|$)"; then
		continue
	fi
	bad "nfqspid.8: the metric nfqspid_$f is not listed"
done < "$tmp/c.metrics"
grep -oE 'nfqspid_[a-z_]*[a-z]\b' "$M/nfqspid.8" | sed 's/^nfqspid_//' |
    sort -u | comm -23 - "$tmp/c.metrics" | while read -r f; do
	echo "FAIL: nfqspid.8: nfqspid_$f is no metric"
	echo x > "$tmp/metfail"
done
[ -f "$tmp/metfail" ] && fail=1

# ---- commands and options ---------------------------------------------

quoted "$S/ctlproto.c" 'ctl_commands\[\] = \{' '\};' > "$tmp/c.cmds"
awk '/commands are as follows/ {on = 1; next} !on {next}
    /^\.Bl/ {d++} /^\.El/ {if (--d == 0) exit}
    d == 1 && /^\.It Cm / {print $3}' "$M/nfqspictl.8" |
    sort -u > "$tmp/m.cmds"
same "nfqspictl.8 commands" "$tmp/c.cmds" "$tmp/m.cmds"
while read -r c; do
	grep -qE "\"  $c( |\\\\n)" "$S/nfqspictl.c" ||
	    bad "nfqspictl -h does not list $c"
done < "$tmp/c.cmds"
strcmps "$S/nfqspictl.c" check_args | grep -vxF -f "$tmp/c.cmds" |
    while read -r w; do
	case $w in
	-*)	pat="Fl ${w#-}( |$)" ;;
	*)	pat="^\.It Cm .*[ |]$w( |$)" ;;
	esac
	grep -qE -e "$pat" "$M/nfqspictl.8" && continue
	echo "FAIL: nfqspictl.8: $w is not documented"
	echo x > "$tmp/subfail"
done
[ -f "$tmp/subfail" ] && fail=1
for o in $(grep -oE 'getopt\(argc, argv, "[^"]*"' "$S/nfqspictl.c" |
    sed -E 's/.*"\+?([^"]*)"/\1/' | tr -d ':' | sed 's/./& /g'); do
	grep -q "^\.It Fl $o\b" "$M/nfqspictl.8" ||
	    bad "nfqspictl.8: -$o is not documented"
done

opts=$(grep -oE 'getopt_long\(argc, argv, "[^"]*"' "$S/nfqspid.c" |
    sed -E 's/.*"([^"]*)"/\1/')
[ -n "$opts" ] || bad "no nfqspid options found in src/nfqspid.c"
for o in $(echo "$opts" | tr -d ':' | sed 's/./& /g'); do
	grep -q "^\.It Fl $o\b" "$M/nfqspid.8" ||
	    bad "nfqspid.8: -$o is not documented"
done
for l in $(awk '/longopts\[\] = \{/ {on = 1} on {print} on && /\};/ {exit}' \
    "$S/nfqspid.c" | grep -oE '\{ "[a-z-]+"' | tr -d '{" '); do
	grep -q "^\.It Fl.* Fl -$l\b\|^\.It Fl -$l\b" "$M/nfqspid.8" ||
	    bad "nfqspid.8: --$l is not documented"
done
synopsis=$(awk '/^\.Sh SYNOPSIS/ {on = 1} /^\.Sh DESCRIPTION/ {on = 0}
    on' "$M/nfqspid.8" | tr '\n' ' ')
usage=$(grep -oE '"usage: nfqspid [^"\\]*' "$S/nfqspid.c" | sed 's/^"//')
for o in $(echo "$opts" | tr -d ':' | sed 's/./& /g'); do
	case $usage in *"$o"*) ;; *) bad "nfqspid -h does not show -$o" ;; esac
	case $synopsis in *"$o"*) ;; *) bad "nfqspid.8 SYNOPSIS lacks -$o" ;; esac
done

# ---- the README's layout of the source --------------------------------

awk '/^Layout of the source/ {on = 1} /^Deployment/ {on = 0} on' \
    "$top_srcdir/README" > "$tmp/layout"
for f in "$S"/*.c "$S"/*.h "$S"/page.html "$S"/page.css "$S"/page.js; do
	[ -f "$f" ] || continue
	n=${f##*/}
	b=${n%.*}
	[ "$n" = page_data.c ] && continue	# made by make
	grep -qE "(^|[ (])(src/)?$n([ :;,)]|$)|src/$b\.\[ch\]|src/$b\.\{" \
	    "$tmp/layout" || bad "README: src/$n is not in the layout"
done
grep -oE 'src/[a-z_]+(\.\[ch\]|\.[ch])' "$tmp/layout" | sort -u |
    while read -r p; do
	case $p in
	*.\[ch\])	set -- "${p%.\[ch\]}.c" "${p%.\[ch\]}.h" ;;
	*)		set -- "$p" ;;
	esac
	for q in "$@"; do
		[ -f "$top_srcdir/$q" ] ||
		    { echo "FAIL: README: $q is gone"; echo x > "$tmp/gone"; }
	done
done
[ -f "$tmp/gone" ] && fail=1

if [ "$fail" -ne 0 ]; then
	echo "FAIL: the documentation and the code disagree (above)"
	exit 1
fi
echo "PASS: keys, reasons, counters, metrics, commands, options and" \
    "the source layout are documented, and nothing more"
exit 0
