#!/usr/bin/env python3
# pagehold.py CHROMIUM URL DIR PATTERN CMD... - open URL in headless
# Chromium, hold the page's first request whose URL matches PATTERN (a
# DevTools Fetch pattern, e.g. *api/connections*) in the browser, tick
# the page's "pause" box (no further load), run CMD until it prints
# "stopped" (stall.py), let the request go on to the server and print
# the page's message (#msg) once it has one; then wait for CMD.  So the
# page's own code meets what the server answers while CMD holds it
# (a stopped worker: 503).  Exit 2 when no request or no message came.
# DevTools over --remote-debugging-pipe (cdp.py).
#
# Copyright (C) 2026 The nfqspid authors
# SPDX-License-Identifier: GPL-2.0-or-later
import os
import subprocess
import sys
import time

sys.dont_write_bytecode = True	# nothing written beside the sources
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cdp import Chrome  # noqa: E402

chrome, url, tmp, pattern = sys.argv[1:5]
cmd = sys.argv[5:]
c = Chrome(chrome, tmp, [], "about:blank")


def paused(deadline):
	while time.time() < deadline:
		for e in c.events:
			if e["method"] == "Fetch.requestPaused":
				return e["params"]["requestId"]
		c.events.append(c.read())
	return None


rc = 2
stall = None
try:
	deadline = time.time() + 30
	sid = c.page(deadline)
	c.call("Fetch.enable", {"patterns": [{"urlPattern": pattern,
					    "requestStage": "Request"}]}, sid)
	c.call("Page.navigate", {"url": url}, sid)
	rid = paused(deadline)
	if rid is None:
		sys.exit("no request matched %s" % pattern)
	c.js(sid, "document.getElementById('pause').checked = true")
	stall = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
	line = stall.stdout.readline()
	if line.strip() != "stopped":
		sys.exit("%s: %s" % (cmd[0], line.strip()))
	c.call("Fetch.continueRequest", {"requestId": rid}, sid)
	while time.time() < deadline:
		m = c.js(sid, "document.getElementById('msg').textContent")
		if m:
			print(m)
			rc = 0
			break
		time.sleep(0.2)
	else:
		sys.exit("the page showed no message")
	c.call("Browser.close")
finally:
	if stall is not None:
		stall.wait()
	c.close()
sys.exit(rc)
