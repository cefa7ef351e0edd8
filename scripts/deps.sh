#!/bin/bash
# deps.sh - install every Debian package that the build, the tests and the
# demo need, on a fresh Debian 12.  Idempotent: when everything is present
# already it neither runs apt-get update nor installs anything.
#
# Copyright (C) 2026 The nfqspid authors
# SPDX-License-Identifier: GPL-2.0-or-later
set -euo pipefail

PKGS=(
	# build
	build-essential autoconf automake libtool pkg-config make
	libnetfilter-queue-dev libnfnetlink-dev libmnl-dev libevent-dev
	libpcap-dev libssl-dev libcrypt-dev
	# the fast path's nf_tables table ([daemon] fastpath)
	libnftables-dev
	# unit tests, sanitizer and valgrind runs, man page lint
	libcmocka-dev valgrind mandoc
	# integration tests and the demo: namespaces, NFQUEUE diversion,
	# traffic generators and process handling
	iptables iproute2 kmod procps psmisc iputils-ping
	netcat-openbsd socat python3 python3-scapy
	# the attack tests: SYN flood, throughput, scans
	hping3 iperf3 nmap
	# the status page's tests: curl, and headless Chromium; its lint
	curl chromium nodejs tidy
	# the page's basic authentication test: a crypt(3) hash; a control
	# client slowed down on purpose (test_frontdoor.sh); nfqspictl(8)'s
	# jq examples, run as printed (test_ctl.sh)
	openssl strace jq
	# the engine's tests (iperf3 load) and netbench.sh (wrk, nginx)
	iperf3 wrk nginx-light passwd
	# the Debian package and its test (tests/deb/test_deb.sh), the unit's
	# hardening score (systemd-analyze), [daemon] divert = nft
	debhelper dpkg-dev fakeroot lintian systemd nftables
	# make check-systemd: a Debian root booted with systemd as PID 1
	debootstrap systemd-container
	# the HA pair's failover (connection-state sync, issue 14)
	keepalived
	# make fuzz: clang with libFuzzer
	clang libclang-rt-14-dev
)

missing=()
for p in "${PKGS[@]}"; do
	# "install ok installed" is the only status that means usable.
	st=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
	[ "$st" = "install ok installed" ] || missing+=("$p")
done

if [ ${#missing[@]} -eq 0 ]; then
	echo "deps.sh: all ${#PKGS[@]} packages are installed"
	exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
	echo "deps.sh: missing packages: ${missing[*]}" >&2
	echo "deps.sh: run as root (sudo $0) to install them" >&2
	exit 1
fi

echo "deps.sh: installing: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update
apt-get install -y --no-install-recommends "${missing[@]}"
