#!/usr/bin/env python3
# pagewidth.py CHROMIUM URL DIR WIDTH ROWS - open URL in headless
# Chromium with a WIDTH px wide window, wait until the page's table has
# ROWS rows or more, and print the document's scroll width and the
# viewport's width as JSON; exit 1 if the page is wider than the window
# (a horizontal scroll bar), 2 if the rows never came.  It speaks the
# DevTools protocol over --remote-debugging-pipe (cdp.py), so it needs
# nothing but Python and Chromium.
#
# Copyright (C) 2026 The nfqspid authors
# SPDX-License-Identifier: GPL-2.0-or-later
import json
import os
import sys
import time

sys.dont_write_bytecode = True	# nothing written beside the sources
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cdp import Chrome  # noqa: E402

chrome, url, tmp, width, want = sys.argv[1:6]
c = Chrome(chrome, tmp, ["--hide-scrollbars", "--window-size=%s,900" % width],
	   url)

rc = 2
try:
	deadline = time.time() + 30
	sid = c.page(deadline)
	while time.time() < deadline:
		n = c.js(sid, "document.querySelectorAll('#conns tbody tr').length")
		if n is not None and n >= int(want):
			break
		time.sleep(0.5)
	else:
		sys.exit("the table never had %s rows" % want)
	w = c.js(sid, "JSON.stringify({scroll: document.documentElement"
	       ".scrollWidth, view: window.innerWidth, table: Math.ceil("
	       "document.getElementById('conns').getBoundingClientRect()"
	       ".right)})")
	print(w)
	d = json.loads(w)
	rc = 0 if d["scroll"] <= d["view"] and d["table"] <= d["view"] else 1
	c.call("Browser.close")
finally:
	c.close()
sys.exit(rc)
