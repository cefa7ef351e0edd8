#!/usr/bin/env python3
# pagewidth.py CHROMIUM URL DIR WIDTH ROWS - open URL in headless
# Chromium with a WIDTH px wide window, wait until the page's table has
# ROWS rows or more, and print the document's scroll width and the
# viewport's width as JSON; exit 1 if the page is wider than the window
# (a horizontal scroll bar), 2 if the rows never came.  It speaks the
# DevTools protocol over --remote-debugging-pipe (fds 3 and 4), so it
# needs nothing but Python and Chromium.
#
# Copyright (C) 2026 The nfqspid authors
# SPDX-License-Identifier: GPL-2.0-or-later
import json
import os
import subprocess
import sys
import time

chrome, url, tmp, width, want = sys.argv[1:6]
r_in, w_in = os.pipe()		# ours -> Chromium's fd 3
r_out, w_out = os.pipe()	# Chromium's fd 4 -> ours


def child():
	a, b = os.dup(r_in), os.dup(w_out)
	os.dup2(a, 3)
	os.dup2(b, 4)


p = subprocess.Popen([chrome, "--headless", "--no-sandbox", "--disable-gpu",
		      "--disable-quic", "--no-first-run",
		      "--disable-background-networking",
		      "--disable-component-update", "--disable-sync",
		      "--disable-dev-shm-usage", "--hide-scrollbars",
		      "--user-data-dir=" + tmp, "--remote-debugging-pipe",
		      "--window-size=%s,900" % width, url],
		     preexec_fn=child, close_fds=False,
		     stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
		     stderr=subprocess.DEVNULL)
os.close(r_in)
os.close(w_out)
rbuf = b""
seq = 0


def call(method, params=None, session=None):
	global rbuf, seq
	seq += 1
	m = {"id": seq, "method": method, "params": params or {}}
	if session:
		m["sessionId"] = session
	os.write(w_in, json.dumps(m).encode() + b"\0")
	while True:
		while b"\0" not in rbuf:
			chunk = os.read(r_out, 65536)
			if not chunk:
				sys.exit("chromium went away")
			rbuf += chunk
		msg, rbuf = rbuf.split(b"\0", 1)
		d = json.loads(msg)
		if d.get("id") == seq:
			if "error" in d:
				sys.exit("%s: %s" % (method, d["error"]))
			return d["result"]


def js(session, expr):
	r = call("Runtime.evaluate", {"expression": expr,
				       "returnByValue": True}, session)
	return r["result"].get("value")


rc = 2
try:
	deadline = time.time() + 30
	tid = None
	while tid is None and time.time() < deadline:
		for t in call("Target.getTargets")["targetInfos"]:
			if t["type"] == "page":
				tid = t["targetId"]
		time.sleep(0.2)
	sid = call("Target.attachToTarget", {"targetId": tid,
					     "flatten": True})["sessionId"]
	while time.time() < deadline:
		n = js(sid, "document.querySelectorAll('#conns tbody tr').length")
		if n is not None and n >= int(want):
			break
		time.sleep(0.5)
	else:
		sys.exit("the table never had %s rows" % want)
	w = js(sid, "JSON.stringify({scroll: document.documentElement"
	       ".scrollWidth, view: window.innerWidth, table: Math.ceil("
	       "document.getElementById('conns').getBoundingClientRect()"
	       ".right)})")
	print(w)
	d = json.loads(w)
	rc = 0 if d["scroll"] <= d["view"] and d["table"] <= d["view"] else 1
	call("Browser.close")
finally:
	try:
		p.wait(timeout=10)
	except subprocess.TimeoutExpired:
		p.kill()
sys.exit(rc)
