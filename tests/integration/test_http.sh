#!/bin/bash
# test_http.sh - the status page, /api/connections, /api/stats and
# /metrics of a running nfqspid: a live TCP connection through the
# firewall shows up in the page as headless Chromium renders it (inside
# dut, where the page listens), the JSON and the Prometheus text are
# parsed, other methods get 405 and a peer outside http_allow is closed
# at accept; with the worker stopped (ptrace) the page names it, from
# /api/stats or from /api/connections' 503.  The screenshot is left in
# tests/integration/artifacts/http.png.
#
# Copyright (C) 2026 The nfqspid authors
# SPDX-License-Identifier: GPL-2.0-or-later
# shellcheck disable=SC2317  # functions run through check and wait_for
set -u

T_NET=${T_NET:-95}
T_QUEUE=${T_QUEUE:-10}
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"

lib_init http
lib_need curl
CHROMIUM=$(command -v chromium || true)
if [ -z "$CHROMIUM" ]; then
	echo "installing Debian's chromium for the browser test"
	DEBIAN_FRONTEND=noninteractive apt-get install -y chromium >"$T_TMP/apt.log" 2>&1 ||
	    { tail -5 "$T_TMP/apt.log"; echo "ERROR: cannot install chromium" >&2; exit 1; }
	CHROMIUM=$(command -v chromium)
fi
lib_topology
lib_write_helpers
ART=$top_builddir/tests/integration/artifacts
mkdir -p "$ART"

PORT=8470
lib_config <<EOF
[conntrack]
max = 4096

[rule tcp-5001]
proto = tcp
dport = 5001
action = accept
mark = 0x10
EOF
# The page on every address of dut; the client is outside http_allow.
lib_start_page "$PORT" "$@"
check "the start is logged with the page's address" \
    log_has "http: status page on http://0.0.0.0:$PORT/"

# A TCP connection held open through the firewall.
bg_in "$NS_S" socat "TCP4-LISTEN:5001,bind=$S4,reuseaddr,fork" EXEC:cat
wait_listen "$NS_S" tcp 5001 || fail "server listens on 5001"
bg_in "$NS_C" "$PY" "$T_TMP/tcphold.py" "$S4" 5001 41000 120
held() { lib_ctl conntrack 2>&1 | grep -q "ESTABLISHED src=$C4 dst=$S4 sport=41000 dport=5001 "; }
check "the held connection is tracked" wait_for 50 held
# ... and one over IPv6 between addresses with no zero run to shorten
# (the longest RFC 5952 form): the /proc listing writes them in full,
# JSON and the page short.
C6L=fd00:$T_NET:1:0:1111:2222:3333:4444
S6L=fd00:$T_NET:2:0:5555:6666:7777:8888
ip -n "$NS_C" addr add "$C6L/64" dev c0 nodad
ip -n "$NS_S" addr add "$S6L/64" dev s0 nodad
bg_in "$NS_S" socat "TCP6-LISTEN:5001,bind=[$S6L],reuseaddr,fork" EXEC:cat
wait_for 50 in_s sh -c "ss -Hltn | grep -q '\[$S6L\]:5001'" || fail "server listens on [$S6L]:5001"
bg_in "$NS_C" "$PY" "$T_TMP/tcphold.py" "$S6L" 5001 41006 120 "$C6L"
full6() { "$PY" -c 'import ipaddress, sys; print(ipaddress.ip_address(sys.argv[1]).exploded)' "$1"; }
held6() { lib_ctl conntrack 2>&1 | grep -q "ESTABLISHED src=$(full6 "$C6L") dst=$(full6 "$S6L") sport=41006 dport=5001 "; }
check "the IPv6 connection is listed with the kernel's full addresses" wait_for 50 held6
# ... and UDP the policy drops
for p in 1 2 3; do
	in_c "$PY" "$T_TMP/udpcli.py" "$S4" $((6000 + p)) x 0.2 >/dev/null 2>&1
done

url=http://127.0.0.1:$PORT
hget() { in_d curl -sS --max-time 10 "$@"; }

# ---- JSON ------------------------------------------------------------------------
cat >"$T_TMP/check.py" <<'EOF'
import json, sys, urllib.request
what, base, c4, s4 = sys.argv[1:5]
def get(path):
    with urllib.request.urlopen(base + path, timeout=10) as r:
        assert r.headers["Content-Type"].startswith("application/json"), r.headers
        assert r.headers["Cache-Control"] == "no-store", r.headers
        return json.load(r)
if what == "stats":
    d = get("/api/stats")
    assert d["mode"] == "enforce" and d["threads"] == 1 and d["rules"] == 1, d
    assert d["received"] > 0 and d["accepted"] > 0 and d["connections"] >= 1, d
    assert d["max"] == 4096 and d["queues"] == sys.argv[5], d
    assert isinstance(d["queue_depth"], int) and "enobufs" in d and "early_drops" in d, d
    assert "rst-out-of-window" in d["invalid_reasons"], d
    assert d["workers"][0]["queue"] == int(sys.argv[5]), d
elif what == "connections":
    # page through one entry at a time: every connection exactly once
    seen, cur, pages = [], "0.0", 0
    while cur is not None:
        d = get("/api/connections?limit=1&cursor=" + cur)
        assert d["count"] == len(d["connections"]) <= 1, d
        seen += d["connections"]
        cur = d["next"]
        pages += 1
        assert pages < 100, d
    whole = get("/api/connections")
    assert len(whole["connections"]) == whole["total"] == len(seen), (whole, seen)
    t = [e for e in seen if e["proto"] == "tcp" and e["sport"] == 41000]
    assert len(t) == 1, seen
    e = t[0]
    assert e["src"] == c4 and e["dst"] == s4 and e["dport"] == 5001, e
    assert e["state"] == "ESTABLISHED" and e["mark"] == 16 and "ASSURED" in e["flags"], e
    assert e["rule"] == "tcp-5001" and e["packets"] >= 9 and e["age"] >= 0, e
    assert e["reply"] == {"src": s4, "dst": c4, "sport": 5001, "dport": 41000}, e
    c6, s6 = sys.argv[5:7]
    t6 = [e for e in seen if e["proto"] == "tcp" and e["sport"] == 41006]
    assert len(t6) == 1, seen
    assert t6[0]["family"] == "ipv6" and t6[0]["src"] == c6 and t6[0]["dst"] == s6, t6
    assert t6[0]["reply"]["src"] == s6 and t6[0]["state"] == "ESTABLISHED", t6
print("ok")
EOF
check "/api/stats: the counters, parsed" \
    in_d "$PY" "$T_TMP/check.py" stats "$url" "$C4" "$S4" "$T_QUEUE"
check "/api/connections: pages of one, with cursors, the held connection right" \
    in_d "$PY" "$T_TMP/check.py" connections "$url" "$C4" "$S4" "$C6L" "$S6L"
# One list of counters (src/status.c): the page has every counter nfqspictl has.
lib_ctl -j stats >"$T_TMP/ctlstats.json"
hget "$url/api/stats" >"$T_TMP/apistats.json"
check "/api/stats has every counter of nfqspictl -j stats" "$PY" -c '
import json, sys
ctl = json.load(open(sys.argv[1]))["total"]
api = json.load(open(sys.argv[2]))
missing = [k for k in ctl if k not in api]
assert not missing and "reject_errors" in ctl, missing
' "$T_TMP/ctlstats.json" "$T_TMP/apistats.json"
code=$(hget -o /dev/null -w '%{http_code}' "$url/api/connections?limit=0")
check "/api/connections?limit=0: 400 (got $code)" test "$code" = 400
code=$(hget -o /dev/null -w '%{http_code}' "$url/api/connections?limit=1001")
check "/api/connections?limit=1001: 400 (got $code)" test "$code" = 400
code=$(hget -o /dev/null -w '%{http_code}' "$url/api/connections?cursor=x")
check "/api/connections?cursor=x: 400 (got $code)" test "$code" = 400
code=$(hget -o /dev/null -w '%{http_code}' "$url/api/connections?cursor=99.5")
check "/api/connections with a cursor past the workers: 200 (got $code)" test "$code" = 200

# ---- /metrics ----------------------------------------------------------------------
hget "$url/metrics" >"$T_TMP/metrics.txt"
check "/metrics: every line a comment or NAME{LABELS} VALUE" "$PY" -c '
import re, sys
n = 0
for l in open(sys.argv[1]):
    l = l.rstrip("\n")
    if l.startswith("# HELP ") or l.startswith("# TYPE "):
        continue
    assert re.fullmatch(r"nfqspid_[a-z_]+(\{[a-z_]+=\"[^\"]*\"(,[a-z_]+=\"[^\"]*\")*\})? [0-9]+", l), l
    n += 1
assert n > 20, n
' "$T_TMP/metrics.txt"
check "/metrics: connections by state" \
    grep -Eq '^nfqspid_connections\{proto="tcp",state="ESTABLISHED"\} [1-9]' "$T_TMP/metrics.txt"
check "/metrics: packets by verdict" \
    grep -Eq '^nfqspid_packets_total\{verdict="accept"\} [1-9]' "$T_TMP/metrics.txt"
check "/metrics: INVALID packets by reason" \
    grep -Eq '^nfqspid_invalid_packets_total\{reason="tcp-no-syn"\} [0-9]+$' "$T_TMP/metrics.txt"
check "/metrics: early drops, enobufs" \
    grep -Eq '^nfqspid_early_drops_total 0$' "$T_TMP/metrics.txt"
check "/metrics: enobufs" grep -Eq '^nfqspid_enobufs_total [0-9]+$' "$T_TMP/metrics.txt"
check "/metrics: the kernel's queue depth" \
    grep -Eq "^nfqspid_queue_depth\{queue=\"$T_QUEUE\"\} [0-9]+$" "$T_TMP/metrics.txt"
# one queue, one worker: its packets are all the daemon's
qrecv=$(sed -n "s/^nfqspid_queue_received_total{queue=\"$T_QUEUE\"} //p" "$T_TMP/metrics.txt")
check "/metrics: the packets of the queue's worker ($qrecv)" \
    test "${qrecv:-0}" -gt 0 -a "$qrecv" = "$(sed -n 's/^nfqspid_received_total //p' "$T_TMP/metrics.txt")"
check "/metrics: the counters of nfqspictl stats, e.g. reject errors" \
    grep -Eq '^nfqspid_reject_errors_total [0-9]+$' "$T_TMP/metrics.txt"
check "/metrics: a TYPE for every family" \
    test "$(grep -c '^# TYPE' "$T_TMP/metrics.txt")" -ge 15

# ---- methods, paths, peers -----------------------------------------------------------
code=$(hget -o /dev/null -w '%{http_code}' -X POST -d x=1 "$url/api/stats")
check "POST: 405 (got $code)" test "$code" = 405
hget -D - -o /dev/null -X DELETE "$url/" >"$T_TMP/del.hdr"
check "DELETE: 405 with Allow: GET, HEAD" grep -qi '^Allow: GET, HEAD' "$T_TMP/del.hdr"
code=$(hget -o /dev/null -w '%{http_code}' -X PATCH "$url/")
check "PATCH: 405 (got $code)" test "$code" = 405
hget -I "$url/" >"$T_TMP/head.hdr"
check "HEAD /: 200, HTML" grep -Eqi '^Content-Type: text/html' "$T_TMP/head.hdr"
code=$(hget -o /dev/null -w '%{http_code}' "$url/nothing-here")
check "an unknown path: 404 (got $code)" test "$code" = 404
# "//metrics" parses as a host and an empty path: it is no page, not /
code=$(hget -o "$T_TMP/slash2.body" -w '%{http_code}' "$url//metrics")
check "//metrics: 404, not the page at / (got $code)" test "$code" = 404
code=$(in_c curl -s --max-time 10 -o "$T_TMP/403.body" -w '%{http_code}' "http://$D4C:$PORT/api/stats")
check "a peer outside http_allow (the client, $C4) is closed at accept (got HTTP $code)" test "$code" = 000
check "... and told nothing" not test -s "$T_TMP/403.body"
hget "$url/" >"$T_TMP/page.html"
check "the page is self-contained: no external scripts, styles or images" \
    not grep -Eqi '(src|href)="(https?:)?//' "$T_TMP/page.html"
check "the page is src/page.html as it is in the source" \
    cmp -s "$T_TMP/page.html" "$top_srcdir/src/page.html"
hget -D "$T_TMP/js.hdr" -o "$T_TMP/page.js" "$url/page.js"
# shellcheck disable=SC2016  # eval expands it
check "/page.js: src/page.js, as JavaScript" eval 'cmp -s "$T_TMP/page.js" "$top_srcdir/src/page.js" &&
    grep -qi "^Content-Type: text/javascript" "$T_TMP/js.hdr"'
hget -D "$T_TMP/css.hdr" -o "$T_TMP/page.css" "$url/page.css"
# shellcheck disable=SC2016  # eval expands it
check "/page.css: src/page.css, as CSS" eval 'cmp -s "$T_TMP/page.css" "$top_srcdir/src/page.css" &&
    grep -qi "^Content-Type: text/css" "$T_TMP/css.hdr"'
check "no inline script or style is allowed (Content-Security-Policy)" \
    eval "grep -i '^Content-Security-Policy:' '$T_TMP/js.hdr' | grep -q \"script-src 'self'; style-src 'self'\" &&
    ! grep -qi unsafe-inline '$T_TMP/js.hdr'"

# ---- the browser -------------------------------------------------------------------
chrome()
{
	# HOME: chromium writes there; inside dut, 127.0.0.1 is dut's own.
	HOME=$T_TMP in_d timeout 60 "$CHROMIUM" --headless --no-sandbox \
	    --disable-gpu --disable-quic --no-first-run \
	    --disable-background-networking --disable-component-update \
	    --disable-sync --disable-dev-shm-usage \
	    --user-data-dir="$(mktemp -d "$T_TMP/chrome.XXXXXX")" \
	    --virtual-time-budget=5000 --window-size=1280,900 "$@" \
	    2>>"$T_TMP/chromium.log"
}
chrome --dump-dom "$url/" >"$T_TMP/dom.html"
echo "  dom: $(wc -c <"$T_TMP/dom.html") bytes"
check "chromium renders the page" grep -q '<table id="conns">' "$T_TMP/dom.html"
check "the rendered table has the live connection: $C4:41000 -> $S4:5001" "$PY" -c '
import re, sys
dom, c4, s4 = open(sys.argv[1]).read(), sys.argv[2], sys.argv[3]
rows = re.findall(r"<tr>(.*?)</tr>", dom, re.S)
cells = [re.findall(r"<td[^>]*>(.*?)</td>", r) for r in rows]
hit = [c for c in cells if c[:6] == ["tcp", c4, "41000", s4, "5001", "ESTABLISHED"]]
assert len(hit) == 1, cells
assert hit[0][7] == "0x10" and hit[0][8] == "tcp-5001", hit
hit6 = [c for c in cells if c[:6] == ["tcp", sys.argv[4], "41006", sys.argv[5], "5001", "ESTABLISHED"]]
assert len(hit6) == 1, cells
' "$T_TMP/dom.html" "$C4" "$S4" "$C6L" "$S6L"
check "the rendered page shows the counters" \
    grep -Eq '<b>[0-9]+</b><small>received</small>' "$T_TMP/dom.html"
# The width as laid out: pagewidth.py asks Chromium over its DevTools pipe.
w=$(HOME=$T_TMP in_d timeout 60 "$PY" "$top_srcdir/tests/integration/pagewidth.py" \
    "$CHROMIUM" "$url/" "$(mktemp -d "$T_TMP/chrome.XXXXXX")" 1280 2 2>&1)
rc=$?
check "the page fits 1280 px with its IPv6 row (widths: $w)" test "$rc" -eq 0
rm -f "$ART/http.png"
chrome --screenshot="$ART/http.png" "$url/" >/dev/null
check "a screenshot at 1280 px is saved ($ART/http.png)" test -s "$ART/http.png"

# The worker stopped (ptrace), as a stuck one: /api/stats leaves it out
# after 1 s, and the page says so in nfqspictl's words (page.js writes
# them itself) and keeps the last table.  8 s: short of the watchdog's 10.
# The message itself shows the worker was stopped when the page asked; a
# slow Chromium may render it after the 8 s, so the hold's end is not
# checked before the wait.
tid=$(worker_tid "$T_DPID")
lib_hold "$T_TMP/stall.out" "$STALL" "$tid" 8
check "the worker's thread is stopped (tid $tid)" grep -q stopped "$T_TMP/stall.out"
chrome --dump-dom "$url/" >"$T_TMP/late.html"
late=$(sed -n 's/.*<span id="msg">\([^<]*\)<.*/\1/p' "$T_TMP/late.html")
check "the page says which worker did not answer ($late)" \
    grep -Eqx "Error: worker 0 \(queue $T_QUEUE\) did not answer within 1 s \(has not run for [0-9]+ s\): left out" \
    <<<"$late"
wait "$T_HOLD"
check "the worker runs again" \
    wait_eval $((30 * T_SLOW)) '! lib_ctl status | grep -q WARNING'
chrome --dump-dom "$url/" >"$T_TMP/again.html"
check "... and the page lists the table again, without a message" \
    eval "grep -q '<span id=\"msg\"></span>' '$T_TMP/again.html' &&
    grep -Eq '<td[^>]*>41000</td>' '$T_TMP/again.html'"

# The worker stopped between the page's two questions: /api/stats has
# answered, /api/connections gets 503 after 1 s, and the page shows the
# server's words, as text (pagehold.py holds that request in the
# browser while stall.py stops the worker).  The old page said "503".
tid=$(worker_tid "$T_DPID")
held=$(HOME=$T_TMP in_d timeout 60 "$PY" "$top_srcdir/tests/integration/pagehold.py" \
    "$CHROMIUM" "$url/" "$(mktemp -d "$T_TMP/chrome.XXXXXX")" '*api/connections*' \
    "$PY" "$STALL" "$tid" 4 2>&1)
rc=$?
# shellcheck disable=SC2016  # eval expands them
check "a 503 from /api/connections: the page shows the server's words ($held)" \
    eval '[ "$rc" -eq 0 ] && grep -Eqx "Error: api/connections\?limit=1000&cursor=0\.0: 503: worker 0 \(queue $T_QUEUE\) did not answer within 1 s \(has not run for [0-9]+ s\)" <<<"$held"'
check "... and the worker runs again" \
    wait_eval $((30 * T_SLOW)) '! lib_ctl status | grep -q WARNING'

# ---- health ------------------------------------------------------------------------
check "nfqspictl still answers" quiet lib_ctl status
lib_finish
lib_summary
