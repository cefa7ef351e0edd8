/*
 * page.js - the status page's script (page.html): the connections from
 * /api/connections and the counters from /api/stats every 2 s, a table
 * that sorts by a click on a column and filters as one types
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
"use strict";

var head = document.querySelector("#conns thead tr");
/* the columns are the header's cells, in page.html */
var cols = Array.prototype.map.call(head.children, function (th) {
	return th.dataset.key;
});
var num = {sport: 1, dport: 1, mark: 1, age: 1, timeout: 1, packets: 1,
    bytes: 1};
var addr = {src: 1, dst: 1};
var rows = [], sortKey = "age", sortDir = 1, total = 0, busy = false;

function dur(s) {
	if (s < 60)
		return s + "s";
	if (s < 3600)
		return Math.floor(s / 60) + "m" + (s % 60) + "s";
	if (s < 86400)
		return Math.floor(s / 3600) + "h" + Math.floor(s % 3600 / 60) + "m";
	return Math.floor(s / 86400) + "d" + Math.floor(s % 86400 / 3600) + "h";
}

/* A connection of /api/connections as the table shows it. */
function row(e) {
	var icmp = e.type !== undefined;

	return {
		proto: e.proto, src: e.src, dst: e.dst,
		sport: icmp ? "" : e.sport, dport: icmp ? "" : e.dport,
		state: e.state || (icmp ? "type " + e.type + " code " + e.code +
		    " id " + e.id : ""),
		flags: (e.flags || []).join(" "), mark: e.mark,
		rule: e.rule || "-", age: e.age, timeout: e.timeout,
		packets: e.packets,
		/* kept with fastpath = yes only */
		bytes: e.bytes !== undefined ? e.bytes : ""
	};
}

function cell(tr, key, v) {
	var td = document.createElement("td");

	td.textContent = v;
	if (num[key])
		td.className = "n";
	else if (addr[key])
		td.className = "a";
	tr.appendChild(td);
}

function matches(r, p, f) {
	if (p && r.proto !== p)
		return false;
	if (!f)
		return true;
	return cols.some(function (c) {
		return String(r[c]).toLowerCase().indexOf(f) >= 0;
	});
}

function render() {
	var f = document.getElementById("filter").value.toLowerCase().trim();
	var p = document.getElementById("proto").value;
	var list = rows.filter(function (r) { return matches(r, p, f); });
	var tb = document.createElement("tbody");
	var old = document.querySelector("#conns tbody");

	list.sort(function (a, b) {
		var x = a[sortKey], y = b[sortKey];

		if (num[sortKey]) {
			x = +x || 0;
			y = +y || 0;
		} else {
			x = String(x);
			y = String(y);
		}
		return x < y ? -sortDir : x > y ? sortDir : 0;
	});
	Array.prototype.forEach.call(head.children, function (th) {
		th.className = th.dataset.key === sortKey ?
		    (sortDir > 0 ? "asc" : "desc") : "";
	});
	list.forEach(function (r) {
		var tr = document.createElement("tr");

		cols.forEach(function (c) {
			var v = r[c];

			if (c === "age" || c === "timeout")
				v = dur(v);
			else if (c === "mark")
				v = "0x" + Number(v).toString(16);
			cell(tr, c, v);
		});
		tb.appendChild(tr);
	});
	old.parentNode.replaceChild(tb, old);
	document.getElementById("shown").textContent = list.length +
	    " shown of " + total + " connections" + (rows.length < total ?
	    " (first " + rows.length + " loaded)" : "");
}

function counters(s) {
	var k = [
		["connections", s.connections + " / " + s.max],
		["received", s.received], ["accepted", s.accepted],
		["dropped", s.dropped], ["invalid", s.invalid],
		["related", s.related], ["early drops", s.early_drops],
		["enobufs", s.enobufs], ["verdict errors", s.verdict_errors],
		["queue depth", s.queue_depth], ["audited", s.audited],
		["suppressed", s.suppressed]
	];
	var box = document.getElementById("counters");

	box.textContent = "";
	k.forEach(function (x) {
		var d = document.createElement("div");
		var b = document.createElement("b");
		var sm = document.createElement("small");

		d.className = "c";
		b.textContent = x[1];
		sm.textContent = x[0];
		d.appendChild(b);
		d.appendChild(sm);
		box.appendChild(d);
	});
	document.getElementById("who").textContent = "version " + s.version +
	    ", " + s.mode + ", queues " + s.queues + ", up " + dur(s.uptime);
}

/* The JSON at u; an error answer throws with the server's own words
   (src/http.c's plain text: which worker did not answer), on one line
   and cut at 300 characters, for load() to show as text. */
function get(u) {
	return fetch(u, {cache: "no-store"}).then(function (r) {
		if (r.ok)
			return r.json();
		return r.text().then(function (t) {
			t = t.replace(/\s+/g, " ").trim();
			if (t.length > 300)
				t = t.slice(0, 300) + "...";
			throw new Error(u + ": " + r.status + (t ? ": " + t : ""));
		}, function () {
			throw new Error(u + ": " + r.status);
		});
	});
}

/* Every page of connections (10 at most), then the table at once. */
function load() {
	var got = [], pages = 0;

	function more(cur) {
		return get("api/connections?limit=1000&cursor=" +
		    encodeURIComponent(cur)).then(function (d) {
			total = d.total;
			d.connections.forEach(function (e) { got.push(row(e)); });
			if (d.next && ++pages < 10)
				return more(d.next);
		});
	}

	if (busy || document.getElementById("pause").checked)
		return;
	busy = true;
	get("api/stats").then(function (s) {
		counters(s);
		/* a worker stopped or stuck: the counters are without it,
		   and its table cannot be listed (the last list stays) */
		if (s.unanswered && s.unanswered.length > 0)
			throw new Error(s.unanswered.map(function (u) {
				return "worker " + u.worker + " (queue " + u.queue +
				    ") did not answer within 1 s (has not run " +
				    "for " + u.idle_s + " s): left out";
			}).join("; "));
		return more("0.0");
	}).then(function () {
		rows = got;
		document.getElementById("msg").textContent = "";
		render();
	}).catch(function (e) {
		document.getElementById("msg").textContent = String(e);
	}).then(function () { busy = false; });
}

Array.prototype.forEach.call(head.children, function (th) {
	th.addEventListener("click", function () {
		if (sortKey === th.dataset.key)
			sortDir = -sortDir;
		else {
			sortKey = th.dataset.key;
			sortDir = 1;
		}
		render();
	});
});
document.getElementById("filter").addEventListener("input", render);
document.getElementById("proto").addEventListener("change", render);
load();
setInterval(load, 2000);
