#!/usr/bin/env python3
# gen_fpq_seeds.py - the seed corpus of fuzz_fpq: scripts of (op, arg)
# byte pairs, one story of the fast path's book each (op numbers as
# fuzz_fpq.c's step() reads them).
# Usage: gen_fpq_seeds.py DIR
# SPDX-License-Identifier: GPL-2.0-or-later
import os
import sys

OFFER, FIN, END, ROUND, FLUSH, CATCHUP, PASS, POLL, DROP, FAIL, OUT, \
    CATCHUP_ALL = range(12)


def script(*steps):
    return bytes(b for s in steps for b in s)


def offer_all(n):
    return [(OFFER, i) for i in range(n)]


SEEDS = {
    # in, counted, out again
    'life': script(*offer_all(4), (ROUND, 0), (PASS, 0x31), (POLL, 0),
                   (FIN, 1), (END, 2), (ROUND, 0), (POLL, 0)),
    # a flush the kernel refuses, made next round
    'flush-fails': script(*offer_all(6), (ROUND, 0), (FAIL, 0x10),
                          (FLUSH, 0), (POLL, 0), (OFFER, 7), (ROUND, 0),
                          (CATCHUP, 0), (CATCHUP, 1), (OFFER, 8),
                          (CATCHUP_ALL, 0), (CATCHUP, 0), (CATCHUP, 1),
                          (OFFER, 0), (ROUND, 0)),
    # a mark with no chain: refused, told, the tuple reused
    'refused': script((OUT, 3), *offer_all(5), (ROUND, 0), (OUT, 0x80),
                      (END, 3), (OFFER, 3), (ROUND, 0), (CATCHUP, 1),
                      (ROUND, 0), (OFFER, 3), (ROUND, 0)),
    # a change half applied, a removal refused
    'half': script((FAIL, 0x03), *offer_all(6), (ROUND, 0), (FAIL, 0x08),
                   (FIN, 4), (ROUND, 0), (FAIL, 0), (CATCHUP, 0),
                   (CATCHUP, 1), *offer_all(6), (ROUND, 0)),
    # a change the kernel fails: tried again after its back-off
    'retry': script((FAIL, 0x01), *offer_all(3), (ROUND, 0), (FAIL, 0),
                    (POLL, 0), (POLL, 0), (ROUND, 0), (PASS, 0x21),
                    (POLL, 0), (FIN, 1), (ROUND, 0)),
    # applied though its answer was lost: the next poll finds it in
    'retry-lost': script((FAIL, 0x83), *offer_all(4), (ROUND, 0),
                         (FAIL, 0), (POLL, 0), (END, 2), (ROUND, 0),
                         (POLL, 0xa8), (ROUND, 0)),
    # failed seven times: refused, told, not offered again
    'retry-out': script((FAIL, 0x01), (OFFER, 2), (ROUND, 0),
                        *[(POLL, 0xbf), (ROUND, 0)] * 7, (CATCHUP, 0),
                        (OFFER, 2), (ROUND, 0)),
    # its seventh try applied though its answer was lost: refused, and
    # taken out of the kernel at once, not at the next poll
    'retry-out-lost': script((FAIL, 0x01), (OFFER, 2), (ROUND, 0),
                             *[(POLL, 0xbf), (ROUND, 0)] * 5,
                             (FAIL, 0x81), (POLL, 0xbf), (ROUND, 0),
                             (FAIL, 0), (CATCHUP, 0), (ROUND, 0),
                             (POLL, 0)),
    # due between two polls: tried at the round that finds it due, not
    # at the poll after
    'retry-due': script((POLL, 0), (FAIL, 0x01), (OFFER, 0), (OFFER, 1),
                        (ROUND, 20), (FAIL, 0), *[(ROUND, 250)] * 3,
                        (ROUND, 230), (ROUND, 20), (ROUND, 20),
                        (PASS, 0x20), (POLL, 0), (FIN, 0), (ROUND, 0)),
    # a poison fails its batch once: the others go in at their first
    # retry, each alone, and it is refused at its seventh failure
    'poison': script((OUT, 0x42), *offer_all(6), (ROUND, 0),
                     *[(POLL, 0xbf), (ROUND, 0)] * 7, (CATCHUP, 0),
                     (OFFER, 2), (ROUND, 0), (OUT, 0x60), (END, 2),
                     (OFFER, 2), (ROUND, 0)),
    # a call stops at its failed transaction: what it never sent goes
    # at the next round, untried however often, never refused for it
    'unsent': script((FAIL, 0x03), *offer_all(10), *[(ROUND, 20)] * 10,
                     (FAIL, 0), (POLL, 0), (ROUND, 20), (POLL, 0),
                     (ROUND, 20)),
    # never sent, then removed, or flushed, before the next round
    'unsent-gone': script((FAIL, 0x05), *offer_all(8), (ROUND, 0),
                          (FIN, 6), (ROUND, 20), (FLUSH, 0), (FAIL, 0),
                          (CATCHUP_ALL, 0), *offer_all(8), (ROUND, 20),
                          (POLL, 0)),
    # elements time out and are put in again
    'renew': script(*offer_all(3), (ROUND, 0), (PASS, 0x20), (POLL, 0),
                    (DROP, 1), (POLL, 0), (ROUND, 0), (PASS, 0x41),
                    (POLL, 0), (FIN, 1), (ROUND, 0)),
}

os.makedirs(sys.argv[1], exist_ok=True)
for name, data in SEEDS.items():
    with open(os.path.join(sys.argv[1], name), 'wb') as f:
        f.write(data)
