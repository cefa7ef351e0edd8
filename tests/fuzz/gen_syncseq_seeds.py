#!/usr/bin/env python3
# gen_syncseq_seeds.py - the seed corpus of fuzz_syncseq: a byte for the
# resend ring's size (8 + b % 9 slots), then scripts of (op, arg) byte
# pairs, one story of the HA pair's stream each (op numbers as
# fuzz_syncseq.c's step() reads them; arg bit 0 picks the node or the
# way: 0 to A, 1 to B).
# Usage: gen_syncseq_seeds.py DIR
# SPDX-License-Identifier: GPL-2.0-or-later
import os
import sys

CHANGE, CHANGE2, PUMP, ALIVE, DELIVER, DELIVER2, DELIVER3, DROP, DUP, \
    SWAP, FLIP, CUT, CLOCK, RESTART, REPLAY_FORGE, RESYNC = range(16)
A, B = 0, 1
END = 0xc0          # a CHANGE arg from here on ends the connection
ROLE = 0x80         # a RESYNC arg 0x80-0xbf: node (bit 0) made backup
MASTER = 2          # ... or master (bit 1)
LATE = 4            # ... the command read at the node's next turn


def script(slots, *steps):
    return bytes([slots]) + bytes(b for s in steps for b in s)


def changes(*conns):
    return [(CHANGE, c) for c in conns]


def both(n=7):
    # everything on the link delivered, both ways
    return [(DELIVER, B | n << 1), (DELIVER, A | n << 1)]


def tick(ms=120):
    return [(CLOCK, ms), (ALIVE, A), (ALIVE, B)]


SEEDS = {
    # B takes the table, then changes flow in order
    'flow': script(0, *both(), *both(), *changes(1, 2, 3), (PUMP, A),
                   *both(), *changes(4, 5, 1, END | 2), (PUMP, A),
                   *both(), *tick(), *both()),
    # a change lost: the next one shows the gap, NACK, resend
    'loss': script(8, *both(), *both(), *changes(1), (PUMP, A),
                   (DROP, B), *changes(2), (PUMP, A), *both(), *both(),
                   *changes(3), (PUMP, A), (DROP, B), *tick(), *both(),
                   *tick(), *both()),
    # more lost than the ring holds: the resend fails, a whole table
    'overflow': script(0, *both(), *both(),
                       *[s for c in range(12)
                         for s in ((CHANGE, c), (PUMP, A), (DROP, B))],
                       *changes(12), (PUMP, A), *both(), *both(),
                       *tick(), *both(), *both()),
    # the worker's queue overflows: a bulk follows
    'queue-full': script(3, *both(), *both(), *changes(*range(12)),
                         (PUMP, A), *both(), *both(), *tick(), *both()),
    # duplicated, reordered, flipped, cut
    'hostile': script(5, *both(), *both(), *changes(1, 2), (PUMP, A),
                      *changes(3), (PUMP, A), (DUP, B), (SWAP, B | 2),
                      (FLIP, B | 0x40), (DELIVER, B | 2), (CUT, B | 0x20),
                      *both(), *changes(4), (PUMP, A), (DUP, B),
                      *both(), *tick(), *both()),
    # replays and forgeries both ways
    'replay': script(1, *both(), *both(), *changes(1, 2), (PUMP, A),
                     *both(), (REPLAY_FORGE, B | 2), (REPLAY_FORGE, B | 6),
                     (REPLAY_FORGE, A | 2), (REPLAY_FORGE, B),
                     (REPLAY_FORGE, A), *both()),
    # A restarts with an empty table; B restarts and asks again
    'restart': script(2, *both(), *both(), *changes(1, 2, 3), (PUMP, A),
                      *both(), (RESTART, A), *changes(4), (PUMP, A),
                      *both(), *both(), (RESTART, B), *both(), *both(),
                      *changes(5), (PUMP, A), *tick(), *both()),
    # B alone for long, then the peer is heard
    'alone': script(4, (DROP, B), (DROP, A), *[(CLOCK, 255)] * 6,
                    (ALIVE, B), *changes(1, 2), (PUMP, A), *both(),
                    *both(), *tick(), *both()),
    # a bulk cut by loss, asked again by nfqspictl sync resync
    'resync': script(0, *both(), *changes(*range(10)), (PUMP, A),
                     *both(), (RESYNC, 0), (DELIVER, A | 2),
                     (DROP, B), (DROP, B), *both(), *tick(200),
                     *both(), *both()),
    # roles swapped (keepalived) mid-bulk, both masters for a while,
    # changes on A while backup, then swapped back
    'roles': script(0, *both(), *changes(*range(8)), (PUMP, A),
                    (DELIVER, B | 4), (RESYNC, ROLE | MASTER | B),
                    *both(), (RESYNC, ROLE | A), *changes(9, END | 1),
                    (PUMP, A), *both(), *both(), *tick(), *both(),
                    (RESYNC, ROLE | MASTER | A), *changes(10), (PUMP, A),
                    *both(), (RESYNC, ROLE | B), *both(), *both(),
                    *tick(), *both()),
    # B made master while a table comes in, the command read only
    # after the datagrams that end the table; then roles back
    'role-late': script(0, *both(), *changes(*range(10)), (PUMP, A),
                        *both(), (RESYNC, 0), (DELIVER, A | 2),
                        (DELIVER, B | 2), (RESYNC, ROLE | MASTER | LATE | B),
                        (DELIVER, B | 14), *both(), *both(),
                        (RESYNC, ROLE | B), *both(), *both(), *tick(),
                        *both()),
}

os.makedirs(sys.argv[1], exist_ok=True)
for name, data in SEEDS.items():
    with open(os.path.join(sys.argv[1], name), 'wb') as f:
        f.write(data)
