#!/bin/bash
# test_ha_mt.sh - test_ha.sh's pair with two workers a node behind
# --queue-balance: after each failover the new master adopts the synced
# connections the kernel's queue hash sends to a worker that is not
# their home (all of them come from one client address: one worker
# gets them all, and about half live in the other), and a node made
# backup moves what it adopted back home.  The same three failures as
# test_ha.sh (keepalived stopped, the link down, nfqspid killed): about
# 85 to 115 s on a busy 2-core machine, 50 s for the first alone
# (HA_MODES=keepalived).  The other knobs are test_ha.sh's.
#
# Copyright (C) 2026 The nfqspid authors
# SPDX-License-Identifier: GPL-2.0-or-later
export T_NET=${T_NET:-81}
export T_QUEUE=${T_QUEUE:-33}
export HA_THREADS=${HA_THREADS:-2}
export HA_NAME=${HA_NAME:-hamt}
exec bash "$(dirname "$0")/test_ha.sh"
