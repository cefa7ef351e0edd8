#!/bin/bash
# test_ha_mt.sh - test_ha.sh's pair with two workers a node behind
# --queue-balance: after each failover the new master adopts the synced
# connections the kernel's queue hash sends to a worker that is not
# their home (all of them come from one client address: one worker
# gets them all, and about half live in the other), and a node made
# backup moves what it adopted back home.  One round (keepalived
# stopped, HA_MODES) keeps the run short; the other knobs are
# test_ha.sh's.
#
# Copyright (C) 2026 The nfqspid authors
# SPDX-License-Identifier: GPL-2.0-or-later
export T_NET=${T_NET:-81}
export T_QUEUE=${T_QUEUE:-33}
export HA_THREADS=${HA_THREADS:-2}
export HA_MODES=${HA_MODES:-keepalived}
export HA_NAME=${HA_NAME:-hamt}
exec bash "$(dirname "$0")/test_ha.sh"
