# cdp.py - headless Chromium driven over the DevTools protocol on
# --remote-debugging-pipe (fds 3 and 4), for pagewidth.py and
# pagehold.py: nothing but Python and Chromium.
#
# Copyright (C) 2026 The nfqspid authors
# SPDX-License-Identifier: GPL-2.0-or-later
import json
import os
import subprocess
import sys
import time

FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
	 "--no-first-run", "--disable-background-networking",
	 "--disable-component-update", "--disable-sync",
	 "--disable-dev-shm-usage"]


class Chrome:
	"""Chromium with its profile in tmp, started on url with the extra
	flags; events that come between answers are kept in events."""

	def __init__(self, chrome, tmp, extra, url):
		r_in, self.w_in = os.pipe()	# ours -> Chromium's fd 3
		self.r_out, w_out = os.pipe()	# Chromium's fd 4 -> ours

		def child():
			a, b = os.dup(r_in), os.dup(w_out)
			os.dup2(a, 3)
			os.dup2(b, 4)

		self.p = subprocess.Popen(
		    [chrome] + FLAGS + extra + ["--user-data-dir=" + tmp,
		    "--remote-debugging-pipe", url],
		    preexec_fn=child, close_fds=False,
		    stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
		    stderr=subprocess.DEVNULL)
		os.close(r_in)
		os.close(w_out)
		self.rbuf = b""
		self.seq = 0
		self.events = []

	def read(self):
		while b"\0" not in self.rbuf:
			chunk = os.read(self.r_out, 65536)
			if not chunk:
				sys.exit("chromium went away")
			self.rbuf += chunk
		msg, self.rbuf = self.rbuf.split(b"\0", 1)
		return json.loads(msg)

	def call(self, method, params=None, session=None):
		self.seq += 1
		m = {"id": self.seq, "method": method, "params": params or {}}
		if session:
			m["sessionId"] = session
		os.write(self.w_in, json.dumps(m).encode() + b"\0")
		while True:
			d = self.read()
			if d.get("id") == self.seq:
				if "error" in d:
					sys.exit("%s: %s" % (method, d["error"]))
				return d["result"]
			if "method" in d:
				self.events.append(d)

	def js(self, session, expr):
		r = self.call("Runtime.evaluate", {"expression": expr,
						   "returnByValue": True}, session)
		return r["result"].get("value")

	def page(self, deadline):
		"""The session of the first page target, attached."""
		tid = None
		while tid is None and time.time() < deadline:
			for t in self.call("Target.getTargets")["targetInfos"]:
				if t["type"] == "page":
					tid = t["targetId"]
			time.sleep(0.2)
		return self.call("Target.attachToTarget", {"targetId": tid,
				 "flatten": True})["sessionId"]

	def close(self):
		"""Browser.close asked already, or not: waited for, or killed."""
		try:
			self.p.wait(timeout=10)
		except subprocess.TimeoutExpired:
			self.p.kill()
