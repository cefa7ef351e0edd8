#!/usr/bin/env python3
# pagehold.py CHROMIUM URL DIR PATTERN CMD... - open URL in headless
# Chromium, hold the page's first request whose URL matches PATTERN (a
# DevTools Fetch pattern, e.g. *api/connections*) in the browser, tick
# the page's "pause" box (no further load), run CMD until it prints
# "stopped" (stall.py), let the request go on to the server and print
# the page's message (#msg) once it has one; then wait for CMD.  So the
# page's own code meets what the server answers while CMD holds it
# (a stopped worker: 503).  Exit 2 when no request or no message came.
# DevTools over --remote-debugging-pipe, as pagewidth.py.
#
# Copyright (C) 2026 The nfqspid authors
# SPDX-License-Identifier: GPL-2.0-or-later
import json
import os
import subprocess
import sys
import time

chrome, url, tmp, pattern = sys.argv[1:5]
cmd = sys.argv[5:]
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
		      "--disable-dev-shm-usage", "--user-data-dir=" + tmp,
		      "--remote-debugging-pipe", "about:blank"],
		     preexec_fn=child, close_fds=False,
		     stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
		     stderr=subprocess.DEVNULL)
os.close(r_in)
os.close(w_out)
rbuf = b""
seq = 0
events = []


def read():
	global rbuf
	while b"\0" not in rbuf:
		chunk = os.read(r_out, 65536)
		if not chunk:
			sys.exit("chromium went away")
		rbuf += chunk
	msg, rbuf = rbuf.split(b"\0", 1)
	return json.loads(msg)


def call(method, params=None, session=None):
	global seq
	seq += 1
	m = {"id": seq, "method": method, "params": params or {}}
	if session:
		m["sessionId"] = session
	os.write(w_in, json.dumps(m).encode() + b"\0")
	while True:
		d = read()
		if d.get("id") == seq:
			if "error" in d:
				sys.exit("%s: %s" % (method, d["error"]))
			return d["result"]
		if "method" in d:
			events.append(d)


def js(session, expr):
	r = call("Runtime.evaluate", {"expression": expr,
				       "returnByValue": True}, session)
	return r["result"].get("value")


def paused(deadline):
	while time.time() < deadline:
		for e in events:
			if e["method"] == "Fetch.requestPaused":
				return e["params"]["requestId"]
		events.append(read())
	return None


rc = 2
stall = None
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
	call("Fetch.enable", {"patterns": [{"urlPattern": pattern,
					    "requestStage": "Request"}]}, sid)
	call("Page.navigate", {"url": url}, sid)
	rid = paused(deadline)
	if rid is None:
		sys.exit("no request matched %s" % pattern)
	js(sid, "document.getElementById('pause').checked = true")
	stall = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
	line = stall.stdout.readline()
	if line.strip() != "stopped":
		sys.exit("%s: %s" % (cmd[0], line.strip()))
	call("Fetch.continueRequest", {"requestId": rid}, sid)
	while time.time() < deadline:
		m = js(sid, "document.getElementById('msg').textContent")
		if m:
			print(m)
			rc = 0
			break
		time.sleep(0.2)
	else:
		sys.exit("the page showed no message")
	call("Browser.close")
finally:
	if stall is not None:
		stall.wait()
	try:
		p.wait(timeout=10)
	except subprocess.TimeoutExpired:
		p.kill()
sys.exit(rc)
