#!/usr/bin/python3
# stall.py TID SECONDS [PID]: stop one thread of a process with ptrace
# (the others run on), print "stopped", and let it go after SECONDS.
# With PID, SIGTERM goes to PID the moment the thread is stopped.  It
# prints "resumed" once the thread runs again.  The tests name it
# $STALL (lib.sh) and most run it through lib_hold: those of the
# watchdog and systemd's notify (test_overload.sh, test_sdnotify.sh),
# of the questions to a stopped worker (test_stall.sh), of a reload
# that outlasts nfqspictl -t (test_ctl.sh), and of the web page while a
# worker is stopped (test_http.sh, once through pagehold.py).
#
# Copyright (C) 2026 The nfqspid authors
# SPDX-License-Identifier: GPL-2.0-or-later
import ctypes, os, signal, sys, time
libc = ctypes.CDLL(None, use_errno=True)
libc.ptrace.argtypes = [ctypes.c_long, ctypes.c_long, ctypes.c_void_p,
                        ctypes.c_void_p]
SEIZE, INTERRUPT, DETACH, WALL = 0x4206, 0x4207, 17, 0x40000000
tid, secs = int(sys.argv[1]), float(sys.argv[2])
if libc.ptrace(SEIZE, tid, None, None) != 0 or \
        libc.ptrace(INTERRUPT, tid, None, None) != 0:
    print("ptrace: %s" % os.strerror(ctypes.get_errno()))
    sys.exit(1)
os.waitpid(tid, WALL)
if len(sys.argv) > 3:
    os.kill(int(sys.argv[3]), signal.SIGTERM)
print("stopped", flush=True)
time.sleep(secs)
libc.ptrace(DETACH, tid, None, None)
print("resumed", flush=True)
